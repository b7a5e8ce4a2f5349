/**
 * The NVM subsystem around a controller: shutdown notification, NVM
 * subsystem reset, power off/on (pynvme `Subsystem`).
 *
 * @module
 */
import { SUBSYSTEM } from "./api_table.ts";
import type { Controller } from "./controller.ts";
import type { PowerMethod } from "./dut.ts";
import { NvmeError } from "./errors.ts";
import { cstr, lib, unwrap } from "./lib.ts";
import { sleepSync } from "./sleep.ts";
import { checkConstructor, checkInt, guardClass } from "./validate.ts";

/** CC, CSTS and NSSR offsets (NVMe base spec, "Controller Registers"). */
const CC = 0x14, CSTS = 0x1c, NSSR = 0x20;
/** "NVMe": the value that starts an NVM subsystem reset. */
const NSSR_MAGIC = 0x4e564d65;

/**
 * Power switching for devices the driver cannot power itself (real hardware).
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * const power: PowerCallbacks = {
 *   poweroff: () => new Deno.Command("quarch", { args: ["off"] }).outputSync(),
 *   poweron: () => new Deno.Command("quarch", { args: ["on"] }).outputSync(),
 * };
 * const subsystem = new Subsystem(nvme0, power);
 * subsystem.powerCycle();
 * nvme0.reset();
 * ```
 */
export interface PowerCallbacks {
  /** Called by `powerOff()` to cut the device's power (pynvme `poweroff_cb`). */
  poweroff?: () => void;
  /** Called by `powerOn()` to restore it (pynvme `poweron_cb`); the function is enabled afterwards. */
  poweron?: () => void;
}

/**
 * Options of a `Subsystem`: power callbacks, or the power method of a real
 * device (overrides the device's `power=` option).
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * const subsystem = new Subsystem(nvme0, { power: "s3" });
 * subsystem.powerCycle(5); // suspend to RAM, the RTC wakes the host 5 s later
 * nvme0.reset();
 * ```
 */
export interface SubsystemOptions extends PowerCallbacks {
  /** Real device: `"slot"`, `"s3"`, `"cmd"` or `"auto"` (see the `power=` device option). */
  power?: PowerMethod;
}

/**
 * The NVM subsystem of a controller (pynvme `Subsystem`).
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * using nvme0 = new Controller("qemu");
 * const subsystem = new Subsystem(nvme0);
 * subsystem.powerCycle(); // kill and restart the embedded device on its images
 * nvme0.reset();          // bring the controller up again
 * ```
 *
 * After `powerOff()` every register access and command fails at once with
 * DeviceGoneError ("powered off") and commands in flight complete as lost;
 * after `powerOn()` (or an FLR, hot reset) call `nvme0.reset()`: queue pairs
 * of before are closed, new ones work.
 */
export class Subsystem {
  /** The controller. */
  readonly nvme: Controller;
  #cb: PowerCallbacks;

  /**
   * The subsystem of `nvme`.
   * @param nvme the controller
   * @param callbacks power switching callbacks, or (real device) the power
   *   method; without them the embedded device is powered by killing and
   *   restarting QEMU and a real device by the method of its `power=` option
   *   (default: the first the host supports)
   */
  constructor(nvme: Controller, callbacks: SubsystemOptions = {}) {
    checkConstructor("Subsystem", SUBSYSTEM, [nvme, callbacks]);
    this.nvme = nvme;
    this.#cb = callbacks;
    if (callbacks.power !== undefined) {
      if (nvme.pcie.dut.kind !== "pci") {
        throw new NvmeError(
          `power=${callbacks.power}: power methods are for real devices; ${nvme.pcie.dut.name} is powered by restarting QEMU`,
        );
      }
      this.#control(`power-method=${callbacks.power}`);
    }
  }

  #control(req: string): string {
    const out = new Uint8Array(1024);
    unwrap(
      lib.nvme_pcie_control(this.nvme.pcie.handle, cstr(req), out, out.length),
      req,
    );
    return new TextDecoder().decode(out.subarray(0, out.indexOf(0)));
  }

  /**
   * How the power is switched: `"qemu"` (the embedded device: QEMU killed
   * and restarted), `"callbacks"` (the constructor's), or a real device's
   * method `"slot"`, `"s3"`, `"cmd"` — `"none"` when the host supports none
   * (`powerDetail` says why).
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * console.log(new Subsystem(nvme0).powerMethod); // e.g. "slot"
   * ```
   */
  get powerMethod(): string {
    if (this.#cb.poweroff || this.#cb.poweron) return "callbacks";
    if (this.nvme.pcie.dut.kind !== "pci") return "qemu";
    const r = this.#control("power-method");
    return r.slice(0, r.indexOf(":"));
  }

  /**
   * What `powerMethod` uses ("slot 0", "S3 with RTC wake-up",
   * "DENVME_POWER_CMD=...") or, for "none", why no method works here.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * const s = new Subsystem(nvme0);
   * console.log(`${s.powerMethod}: ${s.powerDetail}`);
   * ```
   */
  get powerDetail(): string {
    if (this.#cb.poweroff || this.#cb.poweron) return "power callbacks";
    if (this.nvme.pcie.dut.kind !== "pci") {
      return "the embedded device: QEMU is killed and started again";
    }
    const r = this.#control("power-method");
    return r.slice(r.indexOf(":") + 2);
  }

  /**
   * Shutdown notification: set CC.SHN to 01b (normal) or 10b (`abrupt`) and
   * wait until CSTS.SHST reads 10b (shutdown complete), within RTD3E
   * (Identify Controller) or 10 s when the controller reports none.
   * @returns the milliseconds it took
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * const ms = new Subsystem(nvme0).shutdownNotify();
   * nvme0.reset(); // commands again
   * ```
   */
  shutdownNotify(abrupt = false): number {
    const nvme = this.nvme;
    const limit = this.#rtd3eMs();
    const cc = nvme.reg32(CC);
    nvme.setReg32(CC, ((cc & ~0xc000) | (abrupt ? 0x8000 : 0x4000)) >>> 0);
    const t0 = performance.now();
    for (;;) {
      const csts = nvme.reg32(CSTS);
      if (((csts >> 2) & 3) === 2) return performance.now() - t0;
      if (performance.now() - t0 > limit) {
        throw new NvmeError(
          `${
            abrupt ? "abrupt" : "normal"
          } shutdown: CSTS.SHST did not become 10b (complete) within ${limit} ms (${
            limit === 10_000 ? "RTD3E not reported" : "RTD3E"
          }): CSTS=0x${csts.toString(16)}`,
        );
      }
      sleepSync(1);
    }
  }

  #rtd3eMs(): number {
    let us = 0;
    try {
      const id = this.nvme.identifyData;
      us = new DataView(id.buffer, id.byteOffset + 88, 4).getUint32(0, true);
    } catch {
      us = 0; // no Identify data (no admin queue): the default applies
    }
    return us ? Math.ceil(us / 1000) : 10_000;
  }

  /**
   * NVM subsystem reset (write "NVMe" to NSSR), then enable the function
   * again; call `nvme0.reset()` afterwards. Throws without touching the
   * device when CAP.NSSRS = 0 (the embedded device's case).
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * declare const subsystem: Subsystem;
   * if ((nvme0.cap >> 36n) & 1n) {
   *   subsystem.reset();
   *   nvme0.reset();
   * }
   * ```
   */
  reset(): void {
    const nvme = this.nvme;
    if (!((nvme.cap >> 36n) & 1n)) {
      throw new NvmeError(
        `NVM subsystem reset is not supported by ${nvme.pcie.dut.name} (CAP.NSSRS=0)`,
      );
    }
    nvme.setReg32(NSSR, NSSR_MAGIC);
    // the link goes down and trains again on real hardware
    sleepSync(nvme.pcie.dut.kind === "qemu" ? 0 : 1000);
    nvme.pcie.enable();
  }

  /**
   * Cut the power: on the embedded device QEMU is killed (SIGKILL, a dirty
   * power loss: writes completed before are on the image, nothing else is
   * flushed); with a `poweroff` callback that is called instead. A real
   * device is released by the driver (VFIO device closed, IO in flight
   * lost) and its slot switched off (`slot`) or `DENVME_POWER_CMD off` run
   * (`cmd`); `s3` has no separate off: use `powerCycle()`.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * declare const subsystem: Subsystem;
   * subsystem.powerOff(); // a dirty power loss, IO in flight or not
   * subsystem.powerOn();
   * nvme0.reset();
   * console.log(nvme0.smartLog().unsafeShutdowns);
   * ```
   */
  powerOff(): void {
    const pcie = this.nvme.pcie;
    if (this.#cb.poweroff) {
      this.#cb.poweroff();
      return;
    }
    unwrap(lib.nvme_pcie_power(pcie.handle, 0), "power off");
  }

  /**
   * Restore the power: the embedded device starts again with the same
   * arguments on the same images and DMA memory, its function enabled; with a
   * `poweron` callback that is called, then the function is enabled. A real
   * device: slot on (or `DENVME_POWER_CMD on`), wait up to 30 s for the
   * function on the bus, bind it to vfio-pci, open it again (same DMA memory,
   * interrupts routed as before). Call `nvme0.reset()` afterwards.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * declare const subsystem: Subsystem;
   * subsystem.powerOff();
   * await new Promise((r) => setTimeout(r, 2000)); // off for 2 s
   * subsystem.powerOn();
   * nvme0.reset();
   * ```
   */
  powerOn(): void {
    const pcie = this.nvme.pcie;
    if (this.#cb.poweron) {
      this.#cb.poweron();
      pcie.enable();
      return;
    }
    unwrap(lib.nvme_pcie_power(pcie.handle, 1), "power on");
  }

  /**
   * `powerOff()`, wait `seconds` (default 0), `powerOn()` (pynvme
   * `power_cycle`). With `s3`: suspend to RAM and let the RTC wake the host
   * `seconds` later (at least 1).
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * declare const subsystem: Subsystem;
   * subsystem.powerCycle(1);
   * nvme0.reset();
   * ```
   */
  powerCycle(seconds = 0): void {
    checkInt("seconds", seconds, 0, 3600);
    if (
      this.nvme.pcie.dut.kind === "pci" && !this.#cb.poweroff &&
      !this.#cb.poweron
    ) {
      // one request: S3 switches off and on in one suspend/resume
      this.#control(`power-cycle=${seconds}`);
      return;
    }
    this.powerOff();
    if (seconds) sleepSync(seconds * 1000);
    this.powerOn();
  }

  /**
   * True while powered off by `powerOff()`.
   *
   * ```ts
   * declare const subsystem: Subsystem;
   * if (subsystem.poweredOff) subsystem.powerOn();
   * ```
   */
  get poweredOff(): boolean {
    return this.nvme.pcie.poweredOff;
  }
}

guardClass(Subsystem, SUBSYSTEM);

/**
 * The PCIe function of the device under test: opening it (starting the
 * embedded device), config space, interrupt vectors, transport control.
 *
 * @module
 */
import { PCIE } from "./api_table.ts";
import {
  ClosedError,
  NvmeEnumerateError,
  NvmeError,
  ParameterError,
} from "./errors.ts";
import {
  cstr,
  detachMemory,
  lastError,
  lib,
  mapMemory,
  unwrap,
} from "./lib.ts";
import { NVME_PCIE_INFO as INFO, NVME_PCIE_STATE as STATE } from "./abi.gen.ts";
import { CStruct } from "./cstruct.ts";
import { defaultDut, type Dut, parseDut, qemuCommandLine } from "./dut.ts";
import {
  checkConstructor,
  checkInt,
  checkOneOf,
  guardClass,
} from "./validate.ts";
import { sleepSync } from "./sleep.ts";
import { granted } from "./permissions.ts";
import { openTcp, type TcpTarget } from "./tcp.ts";
import { bootNvmet, type NvmetGuest } from "./nvmet.ts";

const open = new Set<Pcie>();
/** A loopback handle being wrapped by openLoopbackPcie() (never by a device name). */
let loopbackHandle = 0;

/**
 * A PCIe NVMe function (pynvme `Pcie`). `new Pcie("qemu")` starts an embedded
 * device; QEMU is stopped on `close()` and, whatever happens, when the process
 * ends (it is started so that it cannot outlive the driver).
 *
 * ```ts
 * using pcie = new Pcie("qemu:size=1G");
 * console.log(pcie.cfg(0, 4).toString(16)); // 00101b36: vendor/device id
 * ```
 */
export class Pcie {
  /** The parsed device name. */
  readonly dut: Dut;
  #h: number;
  #irq?: Uint32Array;
  #guest?: NvmetGuest;
  #tcp?: TcpTarget & { nqn: string };
  /** @ignore @internal set while a Controller is open on it */
  controller?: { close(): void };

  /** Open the device named `name` (default: `--dut`, `NVME_DUT`, "qemu"). */
  constructor(name: string = defaultDut()) {
    checkConstructor("Pcie", PCIE, [name]);
    if (loopbackHandle) {
      this.dut = { kind: "loopback", name: "loopback" };
      this.#h = loopbackHandle;
      loopbackHandle = 0;
      open.add(this);
      return;
    }
    this.dut = parseDut(name);
    if (this.dut.kind === "tcp" || this.dut.kind === "nvmet") {
      let target: TcpTarget;
      if (this.dut.kind === "nvmet") {
        this.#guest = bootNvmet();
        target = {
          host: "127.0.0.1",
          port: this.#guest.port,
          nqn: this.#guest.nqn,
          hdgst: this.dut.hdgst,
          ddgst: this.dut.ddgst,
        };
      } else target = this.dut.target;
      try {
        const { handle, nqn } = openTcp(target, name);
        this.#h = handle;
        this.#tcp = { ...target, nqn };
      } catch (e) {
        this.#guest?.stop();
        throw e;
      }
      open.add(this);
      return;
    }
    if (this.dut.kind === "pci") {
      // a real device through VFIO (bound to vfio-pci by `deno task setup <bdf>`)
      const h = new Uint32Array(1);
      enumerate(
        lib.nvme_pcie_open_vfio(
          cstr(
            this.dut.bdf +
              (this.dut.options.power
                ? `,power=${this.dut.options.power}`
                : ""),
          ),
          h,
        ),
        name,
      );
      this.#h = h[0];
      open.add(this);
      return;
    }
    if (this.dut.kind !== "qemu") {
      throw new ParameterError(`bad device name "${name}"`); // parseDut gives no other kind
    }
    const { args, images } = qemuCommandLine(this.dut.options);
    for (const img of images) checkImage(img);
    const h = new Uint32Array(1);
    enumerate(
      lib.nvme_pcie_open_qemu(
        cstr(args.join("\n")),
        cstr(images.join("\n")),
        h,
      ),
      name,
    );
    this.#h = h[0];
    open.add(this);
  }

  /** @ignore @internal C handle. */
  get handle(): number {
    if (!this.#h) throw new ClosedError(`device "${this.dut.name}"`);
    return this.#h;
  }
  /** True after close(). */
  get closed(): boolean {
    return this.#h === 0;
  }
  /**
   * The NVMe/TCP target connected to (undefined for PCIe devices), with the
   * subsystem NQN chosen.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * console.log(nvme0.pcie.tcp?.nqn);
   * ```
   */
  get tcp(): (TcpTarget & { nqn: string }) | undefined {
    return this.#tcp ? { ...this.#tcp } : undefined;
  }
  /**
   * Process id of the QEMU running the `nvmet` target guest (0 otherwise).
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * Deno.kill(nvme0.pcie.guestPid, "SIGKILL"); // the target is gone
   * ```
   */
  get guestPid(): number {
    return this.#guest?.pid ?? 0;
  }
  /**
   * Why the device is gone (NVMe/TCP: the connection error or termination
   * request that ended the association), "" when it is not known.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * if (!nvme0.pcie.alive) console.log(nvme0.pcie.goneReason);
   * ```
   */
  get goneReason(): string {
    if (!this.#tcp || !this.#h) return "";
    const out = new Uint8Array(512);
    if (lib.nvme_pcie_control(this.#h, cstr("why"), out, out.length) < 0) {
      return "";
    }
    return new TextDecoder().decode(out.subarray(0, out.indexOf(0)));
  }

  #info(): CStruct {
    const o = new CStruct(INFO);
    unwrap(lib.nvme_pcie_info(this.handle, o.bytes, o.size));
    return o;
  }
  /**
   * Process id of the embedded device's QEMU (0 for real hardware).
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * console.log(`QEMU runs as pid ${nvme0.pcie.qemuPid}`);
   * ```
   */
  get qemuPid(): number {
    return this.#info().u64(INFO.qemu_pid);
  }
  /**
   * MSI-X vectors the function offers.
   *
   * ```ts
   * import { Controller, Qpair } from "../mod.ts";
   * declare const nvme0: Controller;
   * const lastIv = nvme0.pcie.msixVectors - 1;
   * using q = new Qpair(nvme0, 16, 0, true, lastIv);
   * ```
   */
  get msixVectors(): number {
    return this.#info().u64(INFO.msix_size);
  }
  /**
   * False once the device is gone (QEMU exited).
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * if (!nvme0.pcie.alive) console.log("the device is gone");
   * ```
   */
  get alive(): boolean {
    return this.#info().u64(INFO.alive) === 1;
  }

  /**
   * Read `size` (1, 2 or 4) bytes of config space at `offset` (0..0xfff,
   * naturally aligned; offsets from 0x100 are the extended config space).
   *
   * ```ts
   * declare const pcie: Pcie;
   * const ids = pcie.cfg(0, 4); // device id << 16 | vendor id
   * const classCode = pcie.cfg(0x0b); // 0x01: mass storage
   * ```
   */
  cfg(offset: number, size: 1 | 2 | 4 = 1): number {
    checkCfg(offset, size);
    const v = new Uint32Array(1);
    unwrap(lib.nvme_pcie_cfg_read(this.handle, offset, size, v));
    return v[0];
  }
  /**
   * Write `size` (1, 2 or 4) bytes of config space at `offset` (0..0xfff, aligned).
   *
   * ```ts
   * declare const pcie: Pcie;
   * const cmd = pcie.cfg(0x04, 2);
   * pcie.setCfg(0x04, cmd | 0x400, 2); // Interrupt Disable (INTx off)
   * ```
   */
  setCfg(offset: number, value: number, size: 1 | 2 | 4 = 1): void {
    checkCfg(offset, size);
    checkInt(
      "value",
      value,
      0,
      size === 4 ? 0xffffffff : (1 << (size * 8)) - 1,
    );
    unwrap(lib.nvme_pcie_cfg_write(this.handle, offset, size, value));
  }
  /**
   * Little-endian value of `byteCount` (1..4) config bytes at `offset` (pynvme `register`).
   *
   * ```ts
   * declare const pcie: Pcie;
   * const vendorId = pcie.register(0, 2);
   * ```
   */
  register(offset: number, byteCount = 4): number {
    checkInt("byteCount", byteCount, 1, 4);
    checkInt("offset", offset, 0, 0x1000 - byteCount);
    let v = 0;
    for (let i = byteCount - 1; i >= 0; i--) {
      v = v * 256 + this.cfg(offset + i, 1);
    }
    return v;
  }
  /**
   * Offset of standard capability `id` in config space, or undefined.
   *
   * ```ts
   * declare const pcie: Pcie;
   * const pm = pcie.capOffset(0x01); // Power Management
   * const pcieCap = pcie.capOffset(0x10); // PCI Express
   * ```
   */
  capOffset(id: number): number | undefined {
    checkInt("capability id", id, 0, 0xff);
    if (!(this.cfg(0x06, 2) & 0x10)) return undefined;
    let pos = this.cfg(0x34, 1);
    for (let n = 0; n < 48 && pos >= 0x40; n++) {
      const hdr = this.cfg(pos & 0xfc, 2);
      if ((hdr & 0xff) === id) return pos & 0xfc;
      pos = hdr >> 8;
    }
    return undefined;
  }

  // --- device control (PCIe features; see README "Resets and power") -------

  /**
   * Offset of PCI Express extended capability `id` (e.g. 0x0001 AER, 0x000E
   * ARI, 0x0010 SR-IOV) in the extended config space (from 0x100), or
   * undefined when the function has none. QEMU's NVMe model has extended
   * capabilities only with SR-IOV.
   *
   * ```ts
   * declare const pcie: Pcie;
   * const aer = pcie.extCapOffset(0x0001);
   * if (aer !== undefined) console.log(`uncorrectable status 0x${pcie.cfg(aer + 4, 4).toString(16)}`);
   * ```
   */
  extCapOffset(id: number): number | undefined {
    checkInt("extended capability id", id, 0, 0xffff);
    return findExtCap((off) => this.cfg(off, 4), id);
  }

  #cap(id: number, what: string): number {
    const off = this.capOffset(id);
    if (off === undefined) {
      throw new NvmeError(
        `${this.dut.name}: no ${what} capability (id 0x${
          id.toString(16).padStart(2, "0")
        }) in config space`,
      );
    }
    return off;
  }

  /**
   * Function Level Reset: sets Initiate FLR (PCIe DevCtl bit 15). The function
   * loses its BARs, command register, MSI-X and every queue; with `enable`
   * (default) it is enabled again afterwards (BAR0, command register, the
   * MSI-X vectors routed before). Then call `nvme0.reset()`: queues created
   * before the FLR are closed, commands in flight complete as lost.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * nvme0.pcie.flr();
   * nvme0.reset();
   * ```
   */
  flr(enable = true): void {
    const exp = this.#cap(0x10, "PCI Express");
    if (!(this.cfg(exp + 4, 4) & (1 << 28))) {
      throw new NvmeError(
        `${this.dut.name} does not support FLR (DevCap.FLR = 0)`,
      );
    }
    const devctl = this.cfg(exp + 8, 2);
    this.setCfg(exp + 8, (devctl | 0x8000) & 0xffff, 2);
    // the spec gives a function 100 ms to complete an FLR; the model is synchronous
    if (this.dut.kind !== "qemu") sleepSync(100);
    if (enable) this.enable();
  }

  /**
   * Power state from the PM capability's PMCSR bits 1:0 (pynvme
   * `power_state`): 0 = D0, 3 = D3hot (1, 2 = D1, D2). Setting writes those
   * bits and keeps the rest of PMCSR.
   *
   * ```ts
   * declare const pcie: Pcie;
   * pcie.powerState = 3; // D3hot
   * pcie.powerState = 0; // back to D0
   * ```
   */
  get powerState(): number {
    return this.cfg(this.#cap(0x01, "power management") + 4, 2) & 3;
  }
  set powerState(state: number) {
    checkInt("power state", state, 0, 3);
    const pmcsr = this.#cap(0x01, "power management") + 4;
    // PME Status (bit 15) is write-1-to-clear: do not clear it by accident
    const v = this.cfg(pmcsr, 2) & ~0x8003;
    this.setCfg(pmcsr, v | state, 2);
    if (this.dut.kind !== "qemu") sleepSync(10); // D3hot -> D0 recovery time
  }

  /**
   * ASPM Control of the PCIe Link Control register (PCIe cap + 0x10, bits
   * 1:0; pynvme `aspm`): 0 disabled, 1 L0s, 2 L1, 3 L0s and L1. The bits are
   * read-only zero where the function does not implement ASPM control (as on
   * the embedded device).
   *
   * ```ts
   * declare const pcie: Pcie;
   * pcie.aspm = 2; // L1 only
   * ```
   */
  get aspm(): number {
    return this.cfg(this.#cap(0x10, "PCI Express") + 0x10, 2) & 3;
  }
  set aspm(control: number) {
    checkInt("aspm", control, 0, 3);
    const lnkctl = this.#cap(0x10, "PCI Express") + 0x10;
    this.setCfg(lnkctl, (this.cfg(lnkctl, 2) & ~3) | control, 2);
  }

  /**
   * Reset the function as a PCIe hot reset does, then enable it again (pynvme
   * `Pcie.reset`). On the embedded device this is QEMU's system reset (guest
   * RAM, the DMA memory, is kept). `rstFn` replaces the built-in reset (e.g. a
   * secondary bus reset through the upstream bridge). Then call `nvme0.reset()`.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * nvme0.pcie.reset();
   * nvme0.reset();
   * ```
   */
  reset(rstFn?: () => void): void {
    if (rstFn) {
      this.handle;
      rstFn();
      this.enable();
      return;
    }
    unwrap(lib.nvme_pcie_hot_reset(this.handle), "hot reset");
  }

  /**
   * True while the function's legacy interrupt (INTx) is asserted: after a
   * completion on a CQ with interrupts enabled, while MSI-X is off (clear the
   * Enable bit of the MSI-X capability), INTMS bit 0 clear, until the CQ head
   * doorbell empties the CQ. The embedded device reports the IOAPIC line.
   *
   * ```ts
   * import { Buffer, Namespace, Qpair } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const intxQpair: Qpair;
   * declare const buf: Buffer;
   * declare const pcie: Pcie;
   * nvme0n1.read(intxQpair, buf, 0, 1); // a queue created with iv 0 while MSI-X is off
   * const end = Date.now() + 1000;
   * while (!pcie.intxAsserted() && Date.now() < end) await new Promise((r) => setTimeout(r, 1));
   * intxQpair.waitdone();
   * ```
   */
  intxAsserted(): boolean {
    const v = new Uint32Array(1);
    unwrap(lib.nvme_pcie_intx(this.handle, v), "INTx");
    return v[0] === 1;
  }

  #state(): CStruct {
    const o = new CStruct(STATE);
    unwrap(lib.nvme_pcie_state(this.handle, o.bytes, o.size));
    return o;
  }
  /**
   * True while MSI-X is enabled with the driver's vectors routed (false: INTx mode or after a reset before `enable()`).
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * nvme0.pcie.flr(false); // no re-enable
   * nvme0.pcie.msixEnabled; // false
   * nvme0.pcie.enable();
   * ```
   */
  get msixEnabled(): boolean {
    return this.#state().u32(STATE.nvec) > 0;
  }
  /**
   * True between `Subsystem.powerOff()` and `powerOn()` (embedded device).
   *
   * ```ts
   * import { Controller, Subsystem } from "../mod.ts";
   * declare const nvme0: Controller;
   * new Subsystem(nvme0).powerOff();
   * nvme0.pcie.poweredOff; // true: every access fails with DeviceGoneError
   * ```
   */
  get poweredOff(): boolean {
    return this.#state().u32(STATE.powered_off) === 1;
  }
  /**
   * Resets of the function so far (FLR, hot reset, power cycle).
   *
   * ```ts
   * declare const pcie: Pcie;
   * const before = pcie.resetCount;
   * pcie.flr();
   * pcie.resetCount - before; // 1
   * ```
   */
  get resetCount(): number {
    return this.#state().u32(STATE.epoch);
  }

  /** @ignore @internal Words in DMA memory set by MSI-X vectors (vector i -> word i). */
  get irqWords(): Uint32Array {
    if (!this.#irq) {
      const addr = this.#info().big(INFO.irq_words);
      if (!addr && this.#tcp) {
        throw new NvmeError(
          `${this.dut.name}: MSI-X interrupts are not supported on NVMe/TCP (completions are polled)`,
          -95,
        );
      }
      if (!addr) {
        throw new NvmeError("interrupts are not set up on this device");
      }
      this.#irq = new Uint32Array(mapMemory(addr, 4096, this));
    }
    this.handle;
    return this.#irq;
  }
  /** @ignore @internal Mask or unmask one MSI-X vector. */
  maskVector(vector: number, mask: boolean): void {
    unwrap(lib.nvme_pcie_irq_mask(this.handle, vector, mask ? 1 : 0));
  }

  /**
   * Send a QMP command to the embedded device's QEMU, e.g.
   * `qmp("qom-set", {path: "/machine/peripheral/nvme0", property: "smart_critical_warning", value: 1})`.
   * Returns the "return" member; throws on an "error" reply.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * nvme0.pcie.qmp("qom-set", {
   *   path: "/machine/peripheral/nvme0",
   *   property: "smart_critical_warning",
   *   value: 1,
   * }); // a SMART critical warning and its AER
   * ```
   */
  qmp(command: string, args?: Record<string, unknown>): unknown {
    if (this.dut.kind !== "qemu") {
      throw new ParameterError("qmp() needs the embedded device");
    }
    const out = new Uint8Array(65536);
    const req = JSON.stringify(
      args ? { execute: command, arguments: args } : {
        execute: command,
      },
    );
    unwrap(
      lib.nvme_pcie_control(this.handle, cstr(req), out, out.length),
      `qmp ${command}`,
    );
    const text = new TextDecoder().decode(out.subarray(0, out.indexOf(0)));
    const reply = JSON.parse(text);
    if (reply.error) {
      throw new NvmeError(`qmp ${command}: ${reply.error.desc ?? text}`);
    }
    return reply.return;
  }

  /**
   * Reprogram BAR0 and the command register (after an FLR).
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * declare const pcie: Pcie;
   * pcie.flr(false); // inspect the function as the FLR left it ...
   * pcie.enable(); // ... then make it usable again
   * nvme0.reset();
   * ```
   */
  enable(): void {
    unwrap(lib.nvme_pcie_enable(this.handle));
  }

  /**
   * Stop the device (closes the controller on it first).
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * const pcie = new Pcie("qemu");
   * using nvme0 = new Controller(pcie);
   * pcie.close(); // nvme0 is closed too
   * ```
   */
  close(): void {
    if (!this.#h) return;
    this.controller?.close();
    // a controller that opened this device closes it too (re-entering here)
    if (!this.#h) return;
    const h = this.#h;
    this.#h = 0;
    detachMemory(this.#irq?.buffer);
    this.#irq = undefined;
    open.delete(this);
    try {
      unwrap(lib.nvme_pcie_close(h));
    } finally {
      this.#guest?.stop();
    }
  }
  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
  /**
   * Every device open in this process.
   *
   * ```ts
   * console.log(Pcie.open.map((p) => p.dut.name));
   * ```
   */
  static get open(): readonly Pcie[] {
    return [...open];
  }
}

/**
 * Walk the PCI Express extended capability list (from 0x100) with `read`
 * (a dword config read) and return the offset of capability `id`.
 */
export function findExtCap(
  read: (offset: number) => number,
  id: number,
): number | undefined {
  let pos = 0x100;
  // at most (4096 - 256) / 4 capabilities; stop on loops and bad pointers
  for (let n = 0; n < 960 && pos >= 0x100 && pos <= 0xffc; n++) {
    const hdr = read(pos & 0xffc);
    if (hdr === 0 || hdr === 0xffffffff) return undefined;
    if ((hdr & 0xffff) === id) return pos & 0xffc;
    pos = hdr >>> 20;
  }
  return undefined;
}

function checkCfg(offset: number, size: number): void {
  checkInt("config offset", offset, 0, 0xfff);
  checkOneOf("size", size, [1, 2, 4]);
  if (offset % size) {
    throw new ParameterError(
      `config offset 0x${
        offset.toString(16)
      } is not aligned to the ${size}-byte access size`,
    );
  }
}

function checkImage(spec: string): void {
  const bar = spec.lastIndexOf("|");
  const path = spec.slice(0, bar);
  const size = Number(spec.slice(bar + 1));
  // without read access the check is left to QEMU (it reports a bad image)
  if (!path || !granted({ name: "read", path })) return;
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return; // created at start
    throw e;
  }
  if (!st.isFile) {
    throw new ParameterError(`image ${path} is not a regular file`);
  }
  if (st.size !== size) {
    throw new ParameterError(
      `image ${path} holds ${st.size} bytes but size=${size} was asked: give the same size or another image`,
    );
  }
}

/** A device that cannot be opened: pynvme's NvmeEnumerateError. */
function enumerate(rc: number, name: string): void {
  if (rc >= 0) return;
  throw new NvmeEnumerateError(
    `device "${name}": ${lastError() || `error ${rc}`}`,
    rc,
  );
}

/**
 * @ignore @internal The benchmark's in-process device (libnvmeshim's loopback
 * transport: every command completes at the doorbell write, no data moves),
 * so that a benchmark times the driver's own work. Benchmarks only
 * (tasks/bench_driver.ts): never a device under test, and no device name
 * opens it.
 */
export function openLoopbackPcie(
  o: { lbas: number; lbaSize: 512 | 4096; queues?: number },
): Pcie {
  checkInt("loopback LBAs", o.lbas, 8, 2 ** 48);
  checkOneOf("loopback LBA size", o.lbaSize, [512, 4096]);
  const h = new Uint32Array(1);
  unwrap(
    lib.nvme_pcie_open_loopback(BigInt(o.lbas), o.lbaSize, o.queues ?? 16, h),
    "loopback device",
  );
  loopbackHandle = h[0];
  try {
    return new Pcie("loopback");
  } finally {
    loopbackHandle = 0;
  }
}

guardClass(Pcie, PCIE);

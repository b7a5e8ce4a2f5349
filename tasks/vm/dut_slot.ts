/**
 * The host's side of the guest test's power and removal steps: the device
 * under test sits in a hotplug-capable PCIe root port, and this keeper plays
 * what a real slot does with a real card, through QMP.
 *
 * - QEMU 7.2 deletes a device whose slot the guest powers off (power
 *   controller and power indicator off). A real card stays in its slot, so
 *   the keeper puts the same device (same disk image, same serial) back at
 *   once: the guest's pciehp sees a card present and powers the slot on.
 * - `VMTEST-HOST power off` / `power on` lines from the guest (the test's
 *   DENVME_POWER_CMD, tasks/vm/power_cmd.sh) model a lab power switch:
 *   off = `device_del` (the guest's pciehp removes the function after its
 *   5 s attention-button delay), on = `device_add` of the same device.
 * - `VMTEST-HOST unplug` = a surprise removal: `device_del` while the driver
 *   runs; the device comes back afterwards as above.
 * - S3: the guest suspends to RAM (QMP SUSPEND) and its RTC alarm, armed for
 *   1 s by the driver, wakes it (QMP WAKEUP). Should the alarm not fire within
 *   {@link WAKE_AFTER_MS}, the keeper wakes it with `system_wakeup` so that the
 *   run does not hang, and records an error: the RTC wake-up did not work.
 *
 * @module
 */
import type { Qmp, QmpEvent } from "./qmp.ts";

/** The requests a guest can make on its console (`VMTEST-HOST <request>`). */
export const HOST_REQUESTS = ["power off", "power on", "unplug"] as const;

/** How long a suspended guest may sleep before the keeper wakes it (ms). */
export const WAKE_AFTER_MS = 4000;

/** One of HOST_REQUESTS. */
export type HostRequest = typeof HOST_REQUESTS[number];

/**
 * Keeps the device under test in its slot.
 *
 * ```ts
 * const slot = new DutSlot({ driver: "nvme", id: "dut", bus: "rp1", drive: "dutdisk" }, console.log);
 * const qmp = await Qmp.connect(sock, (e) => slot.onEvent(e));
 * slot.attach(qmp);
 * await slot.request("unplug");
 * ```
 */
export class DutSlot {
  #qmp?: Qmp;
  #device: Record<string, unknown>;
  #log: (msg: string) => void;
  #held = false; // switched off by the guest's power command: stays out until "power on"
  #present = true;
  /** Host actions done (device_del, device_add). */
  readonly actions: string[] = [];
  /** Host actions that failed. */
  readonly errors: string[] = [];

  /**
   * @param device the device_add arguments of the device under test (with `id`)
   * @param log where to report each action
   */
  constructor(device: Record<string, unknown>, log: (msg: string) => void) {
    this.#device = device;
    this.#log = log;
  }

  /** Use this QMP connection. */
  attach(qmp: Qmp): void {
    this.#qmp = qmp;
  }

  #wakeTimer?: ReturnType<typeof setTimeout>;

  /** A QMP event: the device under test deleted (the guest let it go), or S3 and its wake-up. */
  onEvent(e: QmpEvent): void {
    if (e.event === "SUSPEND") {
      this.#log(
        `host: the guest suspended to RAM; system_wakeup unless it wakes within ${WAKE_AFTER_MS} ms`,
      );
      clearTimeout(this.#wakeTimer);
      this.#wakeTimer = setTimeout(() => {
        this.#wakeTimer = undefined;
        this.#log("host: the guest still sleeps: system_wakeup");
        this.errors.push(
          `the guest's RTC alarm did not wake it from S3 within ${WAKE_AFTER_MS} ms`,
        );
        this.#qmp?.command("system_wakeup", {}).then(
          () => this.actions.push("system_wakeup"),
          (err) => this.errors.push(`system_wakeup: ${(err as Error).message}`),
        );
      }, WAKE_AFTER_MS);
      return;
    }
    if (e.event === "WAKEUP") {
      if (this.#wakeTimer !== undefined) {
        this.#log("host: the guest woke by itself (its RTC alarm)");
        clearTimeout(this.#wakeTimer);
        this.#wakeTimer = undefined;
      }
      return;
    }
    if (e.event !== "DEVICE_DELETED" || e.data?.device !== this.#device.id) {
      return;
    }
    this.#present = false;
    if (this.#held) {
      this.#log("host: the DUT is out of its slot (power switched off)");
      return;
    }
    void this.#add("host: the DUT left its slot: putting the same card back");
  }

  async #add(why: string): Promise<void> {
    if (this.#present) return;
    this.#log(why);
    this.#present = true;
    try {
      await this.#qmp!.command("device_add", this.#device);
      this.actions.push("device_add");
    } catch (e) {
      this.#present = false;
      this.errors.push(`device_add: ${(e as Error).message}`);
      this.#log(`host: device_add failed: ${(e as Error).message}`);
    }
  }

  async #del(why: string): Promise<void> {
    this.#log(why);
    try {
      await this.#qmp!.command("device_del", { id: this.#device.id });
      this.actions.push("device_del");
    } catch (e) {
      this.errors.push(`device_del: ${(e as Error).message}`);
      this.#log(`host: device_del failed: ${(e as Error).message}`);
    }
  }

  /** A request from the guest's console. */
  async request(req: string): Promise<void> {
    if (!this.#qmp) {
      this.errors.push(`${req}: no QMP connection`);
      return;
    }
    switch (req) {
      case "power off":
        this.#held = true;
        await this.#del(
          "host: power off requested: device_del (the guest's pciehp removes it)",
        );
        break;
      case "power on":
        this.#held = false;
        if (!this.#present) {
          await this.#add("host: power on requested: device_add");
        } else {this.#log(
            "host: power on requested: the DUT goes back once the guest let it go",
          );}
        break;
      case "unplug":
        this.#held = false;
        await this.#del(
          "host: surprise removal: device_del while the driver runs",
        );
        break;
      default:
        this.errors.push(`unknown request from the guest: ${req}`);
        this.#log(
          `host: unknown request "${req}" (allowed: ${
            HOST_REQUESTS.join(", ")
          })`,
        );
    }
  }
}

/**
 * Which power methods work for a PCI device on this host (for `deno task
 * setup`'s listing): the same checks the driver makes when it opens a device
 * (libnvmeshim/vfio_power.c), read from sysfs.
 *
 * @module
 */

/** One method and whether it works here. */
export interface PowerMethodCheck {
  /** "slot", "s3" or "cmd". */
  method: "slot" | "s3" | "cmd";
  /** True when the method can switch this device's power here. */
  ok: boolean;
  /** How (slot name, ...) or why not. */
  detail: string;
}

function read(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return undefined;
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function writable(path: string): boolean {
  try {
    Deno.openSync(path, { write: true }).close();
    return true;
  } catch {
    return false;
  }
}

/** Slot Capabilities PCP of the port above `bdf`: true, false, or undefined (unreadable). */
function portHasPowerController(bdf: string): boolean | undefined {
  let port: string;
  try {
    const real = Deno.realPathSync(`/sys/bus/pci/devices/${bdf}`);
    port = real.slice(0, real.lastIndexOf("/"));
  } catch {
    return undefined;
  }
  let cfg: Uint8Array;
  try {
    cfg = Deno.readFileSync(`${port}/config`);
  } catch {
    return undefined;
  }
  if (cfg.length < 256) return undefined; // only root reads past 64 bytes
  for (let p = cfg[0x34] & 0xfc, n = 0; p >= 0x40 && n < 48; n++) {
    if (cfg[p] === 0x10) return ((cfg[p + 0x14] >> 1) & 1) === 1;
    p = cfg[p + 1] & 0xfc;
  }
  return false;
}

/**
 * The three methods for `bdf`, in the order the driver's default tries them.
 *
 * ```ts
 * for (const m of powerMethods("0000:01:00.0")) console.log(m.method, m.ok, m.detail);
 * ```
 */
export function powerMethods(bdf: string): PowerMethodCheck[] {
  const out: PowerMethodCheck[] = [];
  const cmd = Deno.env.get("DENVME_POWER_CMD");
  out.push(
    cmd ? { method: "cmd", ok: true, detail: `DENVME_POWER_CMD=${cmd}` } : {
      method: "cmd",
      ok: false,
      detail: "DENVME_POWER_CMD is not set (a command called with off/on)",
    },
  );
  let slot: string | undefined;
  try {
    for (const e of Deno.readDirSync("/sys/bus/pci/slots")) {
      if (read(`/sys/bus/pci/slots/${e.name}/address`) === bdf.slice(0, 10)) {
        slot = e.name;
      }
    }
  } catch { /* no slots */ }
  const power = `/sys/bus/pci/slots/${slot}/power`;
  const pcp = portHasPowerController(bdf);
  out.push(
    !slot
      ? { method: "slot", ok: false, detail: "no hotplug slot holds it" }
      : !exists(power)
      ? {
        method: "slot",
        ok: false,
        detail:
          `slot ${slot} has no power file (no hotplug driver such as pciehp)`,
      }
      : pcp === false
      ? {
        method: "slot",
        ok: false,
        detail:
          `slot ${slot} has no power controller (Slot Capabilities PCP=0)`,
      }
      : pcp === undefined || !writable(power)
      ? { method: "slot", ok: false, detail: `slot ${slot}: run as root` }
      : { method: "slot", ok: true, detail: `slot ${slot}` },
  );
  const state = read("/sys/power/state") ?? "";
  const sleep = read("/sys/power/mem_sleep");
  out.push(
    !state.split(" ").includes("mem")
      ? { method: "s3", ok: false, detail: "no suspend to RAM" }
      : sleep !== undefined && !sleep.includes("deep")
      ? { method: "s3", ok: false, detail: `no S3 (mem_sleep: ${sleep})` }
      : !exists("/sys/class/rtc/rtc0/wakealarm")
      ? { method: "s3", ok: false, detail: "no RTC wake alarm" }
      : !writable("/sys/power/state")
      ? { method: "s3", ok: false, detail: "run as root" }
      : { method: "s3", ok: true, detail: "S3 with RTC wake-up" },
  );
  return out;
}

/**
 * One line for the listing: "power: slot (slot 0), s3; not cmd (...)".
 *
 * ```ts
 * console.log(powerLine("0000:01:00.0"));
 * ```
 */
export function powerLine(bdf: string): string {
  const m = powerMethods(bdf);
  const ok = m.filter((x) => x.ok);
  const no = m.filter((x) => !x.ok);
  return `power methods: ${
    ok.length
      ? ok.map((x) => `${x.method} (${x.detail})`).join(", ") +
        ` — default ${ok[0].method}`
      : "none"
  }${
    no.length
      ? `; not ${no.map((x) => `${x.method} (${x.detail})`).join(", ")}`
      : ""
  }`;
}

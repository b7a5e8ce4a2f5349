/**
 * Device names. One string names the device under test:
 *
 * - `"qemu"` — the embedded device: QEMU's NVMe controller model, started for
 *   the script. Options follow a colon, comma separated:
 *   `"qemu:size=16G,lba=4096,ns=2,backend=null,image=/var/tmp/disk.img"`.
 * - a PCI address (`"0000:01:00.0"` or `"01:00.0"`) — a real SSD through VFIO.
 * - an NVMe/TCP target: `"10.24.48.17"` (port 4420), `"127.0.0.1:4420"`,
 *   `"[::1]:4420"` or `"tcp://host:port/<subsystem NQN>?hostnqn=...&hdgst=1&ddgst=1"`
 *   (without an NQN: the first NVM subsystem of the discovery log).
 * - `"nvmet"` — the Linux kernel's NVMe/TCP target in a guest VM booted for
 *   the script (`"nvmet:hdgst=1,ddgst=1"` asks for digests).
 *   Options follow a comma: `"0000:01:00.0,power=slot"` chooses how
 *   `Subsystem` switches its power (`slot`, `s3`, `cmd` or `auto`).
 *
 * Scripts and tests take it from `--dut <name>` or `NVME_DUT`, default "qemu".
 *
 * @module
 */
import { FUNCTIONS } from "./api_table.ts";
import { checkArgs } from "./validate.ts";
import { parseArgs } from "node:util";
import { ParameterError } from "./errors.ts";
import { envVar } from "./permissions.ts";
import { parseTcpName, type TcpTarget } from "./tcp.ts";

/**
 * Options of the embedded device (the `qemu:<options>` device name).
 *
 * ```ts
 * const dut = parseDut("qemu:size=16T,lba=4096,ns=2");
 * if (dut.kind === "qemu") console.log(dut.options.ns); // 2
 * ```
 */
export interface QemuOptions {
  /** Namespace size in bytes (each namespace). Default 4 GiB (sparse). */
  size: number;
  /** LBA data size: 512 or 4096 (of namespace 1). Default 512. */
  lba: 512 | 4096;
  /** LBA data size per namespace (`lba=512/4096`: namespace 1, 2, ...; the last repeats). */
  lbas: (512 | 4096)[];
  /** Metadata bytes per LBA per namespace (`ms=0/8`, separate buffer): 0, 8, 16 or 64. */
  ms: number[];
  /** Protection information type (1, 2 or 3) of namespaces with metadata (`pi=1`), first 8 metadata bytes with `pil=1`. */
  pi?: number;
  /** Zoned namespaces with this zone size in bytes (`zoned=4M`); the controller then enables all I/O command sets. */
  zoned?: number;
  /** Metadata interleaved with the data (extended LBA, `mset=1`) instead of a separate buffer. */
  mset?: boolean;
  /** Zoned namespaces: at most this many open zones (`zopen=4`; default no limit). */
  zopen?: number;
  /** Zoned namespaces: at most this many active zones (`zactive=8`; default no limit). */
  zactive?: number;
  /** Number of namespaces, 1..32. Default 1. */
  ns: number;
  /** "file": a sparse image (default); "null": reads return zeros, writes vanish (throughput). */
  backend: "file" | "null";
  /** Image path to keep data across runs; namespace n > 1 uses `<image>.ns<n>`. Default: a temporary image. */
  image?: string;
  /** MDTS (max data transfer = 4 KiB << mdts), 1..9. Default 7 (512 KiB). */
  mdts: number;
  /** I/O queue pairs the controller offers, 1..256. Default 64. */
  queues: number;
  /** Serial number (1..20 ASCII characters). Default "DENVME0001". */
  serial: string;
  /** Throttle the namespace to this many IOs per second (a slow device). Default off. */
  throttle?: number;
}

/**
 * How the power of a real device is switched (`power=` device option):
 * `"slot"` — the PCIe slot's power controller (Linux pciehp,
 * /sys/bus/pci/slots/N/power); `"s3"` — suspend the whole host to RAM and
 * wake it by the RTC alarm; `"cmd"` — the command in `DENVME_POWER_CMD`,
 * called with `off` and `on` (a lab power switch); `"auto"` — the first the
 * host supports (cmd when DENVME_POWER_CMD is set, then slot, then s3).
 *
 * ```ts
 * const dut = parseDut("0000:01:00.0,power=s3");
 * if (dut.kind === "pci") console.log(dut.options.power); // "s3"
 * ```
 */
export type PowerMethod = "slot" | "s3" | "cmd" | "auto";

/** The power methods, in the order `auto` tries them. */
export const POWER_METHODS: readonly PowerMethod[] = [
  "slot",
  "s3",
  "cmd",
  "auto",
];

/**
 * Options of a real device (`<bdf>,<options>`).
 *
 * ```ts
 * const o: PciOptions = { power: "slot" };
 * ```
 */
export interface PciOptions {
  /** How `Subsystem` switches the power; default: the first the host supports. */
  power?: PowerMethod;
}

/**
 * A parsed device name.
 *
 * ```ts
 * const dut: Dut = parseDut("01:00.0");
 * console.log(dut.kind); // "pci"
 * ```
 */
export type Dut =
  | { kind: "qemu"; name: string; options: QemuOptions }
  | { kind: "pci"; name: string; bdf: string; options: PciOptions }
  | { kind: "tcp"; name: string; target: TcpTarget }
  | { kind: "nvmet"; name: string; hdgst: boolean; ddgst: boolean }
  /** The benchmark's in-process device (ffi/loopback.ts); no device name gives it. */
  | { kind: "loopback"; name: string };

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  K: 2 ** 10,
  M: 2 ** 20,
  G: 2 ** 30,
  T: 2 ** 40,
};

const HELP =
  'use "qemu", "qemu:<options>" (size=4G,lba=512|4096[/...],ms=0|8|16|64[/...],pi=1..3,mset=0|1,zoned=SIZE,zopen=N,zactive=N,ns=1..32,backend=file|null,image=PATH,mdts=1..9,queues=1..256,serial=S,throttle=IOPS), a PCI address such as "0000:01:00.0" (options: ",power=slot|s3|cmd|auto"), an NVMe/TCP target ("10.24.48.17", "127.0.0.1:4420", "[::1]:4420", "tcp://host:port/<NQN>?hostnqn=...&hdgst=1&ddgst=1") or "nvmet" (the kernel\'s NVMe/TCP target in a guest VM)';

/** Default options of the embedded device. */
export function defaultQemuOptions(): QemuOptions {
  return {
    size: 4 * 2 ** 30,
    lba: 512,
    lbas: [512],
    ms: [0],
    ns: 1,
    backend: "file",
    mdts: 7,
    queues: 64,
    serial: "DENVME0001",
  };
}

function parseSize(key: string, v: string): number {
  const m = /^(\d+)([KMGT]?)(i?B)?$/i.exec(v);
  if (!m) {
    throw new ParameterError(
      `device option ${key}=${v}: expected a size like 512M, 4G or 16T`,
    );
  }
  return Number(m[1]) * SIZE_UNITS[m[2].toUpperCase()];
}

function parseIntOpt(key: string, v: string, min: number, max: number): number {
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new ParameterError(
      `device option ${key}=${v}: allowed ${min}..${max}`,
    );
  }
  return Number(v);
}

/**
 * Parse a device name; throws a ParameterError naming what is wrong and what
 * is allowed.
 *
 * ```ts
 * parseDut("qemu:size=512M,lba=4096"); // { kind: "qemu", options: { size: 536870912, lba: 4096, ... } }
 * parseDut("0000:01:00.0"); // { kind: "pci", bdf: "0000:01:00.0", ... }
 * ```
 */
export function parseDut(name: string): Dut {
  checkArgs("parseDut", FUNCTIONS.parseDut, [name]);
  if (typeof name !== "string" || !name.trim()) {
    throw new ParameterError(`empty device name: ${HELP}`);
  }
  const s = name.trim();
  const bdf =
    /^(?:([0-9a-f]{4}):)?([0-9a-f]{2}):([0-1][0-9a-f])\.([0-7])(?:,(.*))?$/i
      .exec(s);
  if (bdf) {
    const options: PciOptions = {};
    for (const part of bdf[5] === undefined ? [] : bdf[5].split(",")) {
      const eq = part.indexOf("=");
      const key = eq > 0 ? part.slice(0, eq) : part;
      const v = part.slice(eq + 1);
      if (key !== "power" || eq <= 0) {
        throw new ParameterError(
          `unknown device option "${part}" in "${s}": a PCI device takes power=slot|s3|cmd|auto`,
        );
      }
      if (!POWER_METHODS.includes(v as PowerMethod)) {
        throw new ParameterError(
          `device option power=${v}: allowed slot, s3, cmd or auto`,
        );
      }
      options.power = v as PowerMethod;
    }
    return {
      kind: "pci",
      name: s,
      bdf: `${bdf[1] ?? "0000"}:${bdf[2]}:${bdf[3]}.${bdf[4]}`.toLowerCase(),
      options,
    };
  }
  const tcp = parseTcpName(s);
  if (tcp) return { kind: "tcp", name: s, target: tcp };
  const nv = /^nvmet(?::(.*))?$/.exec(s);
  if (nv) {
    const d = { kind: "nvmet" as const, name: s, hdgst: false, ddgst: false };
    for (const part of (nv[1] ?? "").split(",").filter((p) => p.length)) {
      const [k, v] = part.split("=");
      if ((k !== "hdgst" && k !== "ddgst") || (v !== "0" && v !== "1")) {
        throw new ParameterError(
          `device option "${part}" in "${s}": nvmet takes hdgst=0|1 and ddgst=0|1`,
        );
      }
      d[k] = v === "1";
    }
    return d;
  }
  const m = /^qemu(?::(.*))?$/.exec(s);
  if (!m) throw new ParameterError(`bad device name "${s}": ${HELP}`);
  const o = defaultQemuOptions();
  const seen = new Map<string, string>();
  for (const part of (m[1] ?? "").split(",").filter((p) => p.length)) {
    const eq = part.indexOf("=");
    if (eq <= 0) {
      throw new ParameterError(
        `device option "${part}" in "${s}" must be key=value: ${HELP}`,
      );
    }
    const key = part.slice(0, eq);
    const v = part.slice(eq + 1);
    if (seen.has(key)) {
      throw new ParameterError(
        `device option ${key} given twice in "${s}" (${key}=${
          seen.get(key)
        } and ${key}=${v}): give it once`,
      );
    }
    seen.set(key, v);
    switch (key) {
      case "size":
        o.size = parseSize(key, v);
        if (o.size < 2 ** 20 || o.size > 2 ** 50) {
          throw new ParameterError(
            `device option size=${v}: allowed 1M..1024T`,
          );
        }
        break;
      case "lba": {
        const list = v.split("/");
        if (!list.every((x) => x === "512" || x === "4096")) {
          throw new ParameterError(
            `device option lba=${v}: allowed 512 or 4096`,
          );
        }
        o.lbas = list.map((x) => Number(x) as 512 | 4096);
        o.lba = o.lbas[0];
        break;
      }
      case "ms": {
        const list = v.split("/");
        if (!list.every((x) => ["0", "8", "16", "64"].includes(x))) {
          throw new ParameterError(
            `device option ms=${v}: allowed 0, 8, 16 or 64 per namespace, e.g. ms=0/8`,
          );
        }
        o.ms = list.map(Number);
        break;
      }
      case "pi":
        o.pi = parseIntOpt(key, v, 1, 3);
        break;
      case "zoned":
        o.zoned = parseSize(key, v);
        if (o.zoned < 2 ** 20 || (o.zoned & (o.zoned - 1))) {
          throw new ParameterError(
            `device option zoned=${v}: a power-of-two zone size of at least 1M`,
          );
        }
        break;
      case "mset":
        o.mset = parseIntOpt(key, v, 0, 1) === 1;
        break;
      case "zopen":
        o.zopen = parseIntOpt(key, v, 1, 65535);
        break;
      case "zactive":
        o.zactive = parseIntOpt(key, v, 1, 65535);
        break;
      case "ns":
        o.ns = parseIntOpt(key, v, 1, 32);
        break;
      case "backend":
        if (v !== "file" && v !== "null") {
          throw new ParameterError(
            `device option backend=${v}: allowed file or null`,
          );
        }
        o.backend = v;
        break;
      case "image":
        if (!v.startsWith("/") || /[,\n]/.test(v)) {
          throw new ParameterError(
            `device option image=${v}: give an absolute path without commas`,
          );
        }
        o.image = v;
        break;
      case "mdts":
        o.mdts = parseIntOpt(key, v, 1, 9);
        break;
      case "queues":
        o.queues = parseIntOpt(key, v, 1, 256);
        break;
      case "serial":
        if (!/^[\x21-\x7e]{1,20}$/.test(v) || v.includes(",")) {
          throw new ParameterError(
            `device option serial=${v}: 1..20 printable ASCII characters`,
          );
        }
        o.serial = v;
        break;
      case "throttle":
        o.throttle = parseIntOpt(key, v, 1, 10_000_000);
        break;
      default:
        throw new ParameterError(
          `unknown device option "${key}" in "${s}": ${HELP}`,
        );
    }
  }
  if ((o.zopen || o.zactive) && !o.zoned) {
    throw new ParameterError(
      `device options zopen= and zactive= need zoned=SIZE (zoned namespaces)`,
    );
  }
  if (o.zopen && o.zactive && o.zopen > o.zactive) {
    throw new ParameterError(
      `device option zopen=${o.zopen} exceeds zactive=${o.zactive}: open zones are active zones`,
    );
  }
  if (o.zoned && o.size % o.zoned) {
    throw new ParameterError(
      `device option size=${o.size} is not a multiple of the zone size ${o.zoned}`,
    );
  }
  if (o.size % Math.max(...o.lbas)) {
    throw new ParameterError(
      `device option size=${o.size} is not a multiple of lba=${
        Math.max(...o.lbas)
      }`,
    );
  }
  if (o.pi && !o.ms.some((m) => m >= 8)) {
    throw new ParameterError(
      `device option pi=${o.pi} needs metadata of at least 8 bytes per LBA for the protection information: add ms=8 (or 16, 64)`,
    );
  }
  if (o.backend === "null" && o.image) {
    throw new ParameterError(
      "device options backend=null and image=... exclude each other (null keeps no data)",
    );
  }
  return { kind: "qemu", name: s, options: o };
}

/**
 * The device under test for this run: `--dut <name>` (or `--dut=<name>`) from
 * the command line, else `NVME_DUT` (when env access is granted), else
 * `fallback` ("qemu").
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * defaultDut(["--dut", "01:00.0"]); // "01:00.0"
 * using nvme0 = new Controller(defaultDut()); // what `new Controller()` does
 * using nvme1 = new Controller(defaultDut(Deno.args, "qemu:ns=2")); // another default
 * ```
 */
export function defaultDut(
  args: string[] = Deno.args,
  fallback = "qemu",
): string {
  checkArgs("defaultDut", FUNCTIONS.defaultDut, [args, fallback]);
  const { values } = parseArgs({
    args,
    options: { dut: { type: "string" } },
    strict: false,
    allowPositionals: true,
  });
  const fromArgs = values.dut;
  if (typeof fromArgs === "string" && fromArgs) return fromArgs;
  return envVar("NVME_DUT") || fallback; // without env access: the default
}

/** QEMU arguments and images for an embedded device (one line per argument). */
export function qemuCommandLine(
  o: QemuOptions,
): { args: string[]; images: string[] } {
  const args: string[] = [];
  const images: string[] = [];
  for (let n = 1; n <= o.ns; n++) {
    let drive: string;
    if (o.backend === "null") {
      drive = `driver=null-co,read-zeroes=on,size=${o.size},if=none,id=ns${n}`;
    } else {
      const path = o.image ? (n === 1 ? o.image : `${o.image}.ns${n}`) : "";
      images.push(`${path}|${o.size}`);
      drive = `file=@IMG${
        images.length - 1
      }@,if=none,id=ns${n},format=raw,discard=unmap,cache=writeback`;
    }
    if (o.throttle) {
      drive +=
        `,throttling.iops-total=${o.throttle},throttling.iops-total-max=${o.throttle}`;
    }
    args.push("-drive", drive);
  }
  args.push(
    "-device",
    `nvme,id=nvme0,serial=${o.serial},addr=04.0,mdts=${o.mdts},max_ioqpairs=${o.queues},msix_qsize=${
      o.queues + 1
    }`,
  );
  for (let n = 1; n <= o.ns; n++) {
    const lba = o.lbas[Math.min(n, o.lbas.length) - 1];
    const ms = o.ms[Math.min(n, o.ms.length) - 1];
    args.push(
      "-device",
      `nvme-ns,drive=ns${n},bus=nvme0,nsid=${n},logical_block_size=${lba},physical_block_size=${lba}${
        ms
          ? `,ms=${ms}${o.mset ? ",mset=1" : ""}${o.pi ? `,pi=${o.pi}` : ""}`
          : ""
      }${o.zoned ? `,zoned=on,zoned.zone_size=${o.zoned}` : ""}${
        o.zopen ? `,zoned.max_open=${o.zopen}` : ""
      }${o.zactive ? `,zoned.max_active=${o.zactive}` : ""}`,
    );
  }
  return { args, images };
}

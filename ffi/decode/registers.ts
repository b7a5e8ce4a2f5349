/**
 * The controller registers (NVMe Base Specification 2.0, 3.1.3 "Controller
 * Properties"), every bit field named and explained the way
 * `nvme show-regs -H` prints them.
 *
 * ```ts
 * import { Controller } from "../../mod.ts";
 * declare const nvme0: Controller;
 * import { describeRegisters, readRegisters } from "../../mod.ts";
 * const regs = readRegisters(nvme0);
 * console.log(regs.cap.fields.mqes + 1, "entries per queue at most");
 * console.log(describeRegisters(regs).join("\n"));
 * ```
 *
 * @module
 */
import { FUNCTIONS } from "../api_table.ts";
import { checkArgs } from "../validate.ts";
import { type BitField, decodeBits, describeBits } from "./fields.ts";

/**
 * A register's layout: offset, width and bit fields.
 *
 * ```ts
 * const cc: RegisterSpec | undefined = REGISTERS.find((r) => r.name === "cc");
 * ```
 */
export interface RegisterSpec {
  /** Short name (lower case), the key in {@linkcode Registers}. */
  name: string;
  /** Offset in BAR0. */
  offset: number;
  /** Width in bytes (4 or 8). */
  size: 4 | 8;
  /** The specification's name. */
  desc: string;
  /** Its bit fields. */
  fields: readonly BitField[];
}

const pow2k = (v: number) => `${2 ** (12 + v)} bytes`;
const yes = (v: number) => (v ? "supported" : "not supported");
const szu: Readonly<Record<number, string>> = {
  0: "4 KiB",
  1: "64 KiB",
  2: "1 MiB",
  3: "16 MiB",
  4: "256 MiB",
  5: "4 GiB",
  6: "64 GiB",
};

/**
 * Every controller register with its fields, in offset order.
 *
 * ```ts
 * for (const r of REGISTERS) console.log(r.offset.toString(16), r.desc);
 * ```
 */
export const REGISTERS: readonly RegisterSpec[] = [
  {
    name: "cap",
    offset: 0x00,
    size: 8,
    desc: "Controller Capabilities",
    fields: [
      {
        name: "mqes",
        lo: 0,
        hi: 15,
        desc: "Maximum Queue Entries Supported (0's based)",
        format: (v) => `${v + 1} entries`,
      },
      { name: "cqr", lo: 16, hi: 16, desc: "Contiguous Queues Required" },
      {
        name: "ams",
        lo: 17,
        hi: 18,
        desc: "Arbitration Mechanism Supported",
        values: {
          0: "round robin only",
          1: "weighted round robin with urgent priority class",
          2: "vendor specific",
          3: "weighted round robin with urgent, and vendor specific",
        },
      },
      {
        name: "to",
        lo: 24,
        hi: 31,
        desc: "Timeout",
        format: (v) => `${v * 500} ms`,
      },
      {
        name: "dstrd",
        lo: 32,
        hi: 35,
        desc: "Doorbell Stride",
        format: (v) => `${4 << v} bytes`,
      },
      { name: "nssrs", lo: 36, hi: 36, desc: "NVM Subsystem Reset Supported" },
      {
        name: "css",
        lo: 37,
        hi: 44,
        desc: "Command Sets Supported",
        format: (v) =>
          [
            v & 1 ? "NVM command set" : "",
            v & 0x40 ? "I/O command sets" : "",
            v & 0x80 ? "no I/O command set" : "",
          ].filter(Boolean).join(", ") || "none",
      },
      { name: "bps", lo: 45, hi: 45, desc: "Boot Partition Support" },
      {
        name: "cps",
        lo: 46,
        hi: 47,
        desc: "Controller Power Scope",
        values: {
          0: "not reported",
          1: "controller scope",
          2: "domain scope",
          3: "NVM subsystem scope",
        },
      },
      {
        name: "mpsmin",
        lo: 48,
        hi: 51,
        desc: "Memory Page Size Minimum",
        format: pow2k,
      },
      {
        name: "mpsmax",
        lo: 52,
        hi: 55,
        desc: "Memory Page Size Maximum",
        format: pow2k,
      },
      {
        name: "pmrs",
        lo: 56,
        hi: 56,
        desc: "Persistent Memory Region Supported",
      },
      {
        name: "cmbs",
        lo: 57,
        hi: 57,
        desc: "Controller Memory Buffer Supported",
      },
      {
        name: "nsss",
        lo: 58,
        hi: 58,
        desc: "NVM Subsystem Shutdown Supported",
      },
      {
        name: "crwms",
        lo: 59,
        hi: 59,
        desc: "Controller Ready With Media Support",
      },
      {
        name: "crims",
        lo: 60,
        hi: 60,
        desc: "Controller Ready Independent of Media Support",
      },
    ],
  },
  {
    name: "vs",
    offset: 0x08,
    size: 4,
    desc: "Version",
    fields: [
      { name: "ter", lo: 0, hi: 7, desc: "Tertiary Version Number" },
      { name: "mnr", lo: 8, hi: 15, desc: "Minor Version Number" },
      { name: "mjr", lo: 16, hi: 31, desc: "Major Version Number" },
    ],
  },
  {
    name: "intms",
    offset: 0x0c,
    size: 4,
    desc: "Interrupt Mask Set",
    fields: [{
      name: "ivms",
      lo: 0,
      hi: 31,
      desc: "Interrupt Vector Mask Set",
      format: (v) => `0x${v.toString(16)}`,
    }],
  },
  {
    name: "intmc",
    offset: 0x10,
    size: 4,
    desc: "Interrupt Mask Clear",
    fields: [{
      name: "ivmc",
      lo: 0,
      hi: 31,
      desc: "Interrupt Vector Mask Clear",
      format: (v) => `0x${v.toString(16)}`,
    }],
  },
  {
    name: "cc",
    offset: 0x14,
    size: 4,
    desc: "Controller Configuration",
    fields: [
      { name: "en", lo: 0, hi: 0, desc: "Enable" },
      {
        name: "css",
        lo: 4,
        hi: 6,
        desc: "I/O Command Set Selected",
        values: {
          0: "NVM command set",
          6: "all supported I/O command sets",
          7: "admin command set only",
        },
      },
      {
        name: "mps",
        lo: 7,
        hi: 10,
        desc: "Memory Page Size",
        format: pow2k,
      },
      {
        name: "ams",
        lo: 11,
        hi: 13,
        desc: "Arbitration Mechanism Selected",
        values: {
          0: "round robin",
          1: "weighted round robin with urgent priority class",
          7: "vendor specific",
        },
      },
      {
        name: "shn",
        lo: 14,
        hi: 15,
        desc: "Shutdown Notification",
        values: {
          0: "no notification",
          1: "normal shutdown",
          2: "abrupt shutdown",
          3: "reserved",
        },
      },
      {
        name: "iosqes",
        lo: 16,
        hi: 19,
        desc: "I/O Submission Queue Entry Size",
        format: (v) => `${2 ** v} bytes`,
      },
      {
        name: "iocqes",
        lo: 20,
        hi: 23,
        desc: "I/O Completion Queue Entry Size",
        format: (v) => `${2 ** v} bytes`,
      },
      {
        name: "crime",
        lo: 24,
        hi: 24,
        desc: "Controller Ready Independent of Media Enable",
      },
    ],
  },
  {
    name: "csts",
    offset: 0x1c,
    size: 4,
    desc: "Controller Status",
    fields: [
      { name: "rdy", lo: 0, hi: 0, desc: "Ready" },
      { name: "cfs", lo: 1, hi: 1, desc: "Controller Fatal Status" },
      {
        name: "shst",
        lo: 2,
        hi: 3,
        desc: "Shutdown Status",
        values: {
          0: "normal operation",
          1: "shutdown processing occurring",
          2: "shutdown processing complete",
          3: "reserved",
        },
      },
      { name: "nssro", lo: 4, hi: 4, desc: "NVM Subsystem Reset Occurred" },
      { name: "pp", lo: 5, hi: 5, desc: "Processing Paused" },
      { name: "st", lo: 6, hi: 6, desc: "Shutdown Type (NVM subsystem)" },
    ],
  },
  {
    name: "nssr",
    offset: 0x20,
    size: 4,
    desc: "NVM Subsystem Reset",
    fields: [{
      name: "nssrc",
      lo: 0,
      hi: 31,
      desc: "NVM Subsystem Reset Control",
      format: (v) => `0x${v.toString(16)}`,
    }],
  },
  {
    name: "aqa",
    offset: 0x24,
    size: 4,
    desc: "Admin Queue Attributes",
    fields: [
      {
        name: "asqs",
        lo: 0,
        hi: 11,
        desc: "Admin Submission Queue Size (0's based)",
        format: (v) => `${v + 1} entries`,
      },
      {
        name: "acqs",
        lo: 16,
        hi: 27,
        desc: "Admin Completion Queue Size (0's based)",
        format: (v) => `${v + 1} entries`,
      },
    ],
  },
  {
    name: "asq",
    offset: 0x28,
    size: 8,
    desc: "Admin Submission Queue Base Address",
    fields: [{
      name: "asqb",
      lo: 12,
      hi: 63,
      desc: "Admin Submission Queue Base (4 KiB pages)",
      format: (v) => `address 0x${(v * 4096).toString(16)}`,
    }],
  },
  {
    name: "acq",
    offset: 0x30,
    size: 8,
    desc: "Admin Completion Queue Base Address",
    fields: [{
      name: "acqb",
      lo: 12,
      hi: 63,
      desc: "Admin Completion Queue Base (4 KiB pages)",
      format: (v) => `address 0x${(v * 4096).toString(16)}`,
    }],
  },
  {
    name: "cmbloc",
    offset: 0x38,
    size: 4,
    desc: "Controller Memory Buffer Location",
    fields: [
      { name: "bir", lo: 0, hi: 2, desc: "Base Indicator Register" },
      { name: "cqmms", lo: 3, hi: 3, desc: "CMB Queue Mixed Memory Support" },
      {
        name: "cqpds",
        lo: 4,
        hi: 4,
        desc: "CMB Queue Physically Discontiguous Support",
      },
      {
        name: "cdpmls",
        lo: 5,
        hi: 5,
        desc: "CMB Data Pointer Mixed Locations Support",
      },
      {
        name: "cdpcils",
        lo: 6,
        hi: 6,
        desc: "CMB Data Pointer and Command Independent Locations Support",
      },
      {
        name: "cdmmms",
        lo: 7,
        hi: 7,
        desc: "CMB Data Metadata Mixed Memory Support",
      },
      { name: "cqda", lo: 8, hi: 8, desc: "CMB Queue Dword Alignment" },
      {
        name: "ofst",
        lo: 12,
        hi: 31,
        desc: "Offset (in CMBSZ.SZU units)",
      },
    ],
  },
  {
    name: "cmbsz",
    offset: 0x3c,
    size: 4,
    desc: "Controller Memory Buffer Size",
    fields: [
      {
        name: "sqs",
        lo: 0,
        hi: 0,
        desc: "Submission Queue Support",
        format: yes,
      },
      {
        name: "cqs",
        lo: 1,
        hi: 1,
        desc: "Completion Queue Support",
        format: yes,
      },
      {
        name: "lists",
        lo: 2,
        hi: 2,
        desc: "PRP SGL List Support",
        format: yes,
      },
      { name: "rds", lo: 3, hi: 3, desc: "Read Data Support", format: yes },
      { name: "wds", lo: 4, hi: 4, desc: "Write Data Support", format: yes },
      { name: "szu", lo: 8, hi: 11, desc: "Size Units", values: szu },
      { name: "sz", lo: 12, hi: 31, desc: "Size (in SZU units)" },
    ],
  },
  {
    name: "bpinfo",
    offset: 0x40,
    size: 4,
    desc: "Boot Partition Information",
    fields: [
      {
        name: "bpsz",
        lo: 0,
        hi: 14,
        desc: "Boot Partition Size",
        format: (v) => `${v * 128} KiB`,
      },
      {
        name: "brs",
        lo: 24,
        hi: 25,
        desc: "Boot Read Status",
        values: {
          0: "no read operation requested",
          1: "read in progress",
          2: "read completed successfully",
          3: "error completing read",
        },
      },
      { name: "abpid", lo: 31, hi: 31, desc: "Active Boot Partition ID" },
    ],
  },
  {
    name: "bprsel",
    offset: 0x44,
    size: 4,
    desc: "Boot Partition Read Select",
    fields: [
      {
        name: "bprsz",
        lo: 0,
        hi: 9,
        desc: "Boot Partition Read Size",
        format: (v) => `${v * 4} KiB`,
      },
      {
        name: "bprof",
        lo: 10,
        hi: 29,
        desc: "Boot Partition Read Offset",
        format: (v) => `${v * 4} KiB`,
      },
      { name: "bpid", lo: 31, hi: 31, desc: "Boot Partition Identifier" },
    ],
  },
  {
    name: "bpmbl",
    offset: 0x48,
    size: 8,
    desc: "Boot Partition Memory Buffer Location",
    fields: [{
      name: "bmbba",
      lo: 12,
      hi: 63,
      desc: "Boot Partition Memory Buffer Base Address (4 KiB pages)",
    }],
  },
  {
    name: "cmbmsc",
    offset: 0x50,
    size: 8,
    desc: "Controller Memory Buffer Memory Space Control",
    fields: [
      { name: "cre", lo: 0, hi: 0, desc: "Capabilities Registers Enabled" },
      { name: "cmse", lo: 1, hi: 1, desc: "Controller Memory Space Enable" },
      {
        name: "cba",
        lo: 12,
        hi: 63,
        desc: "Controller Base Address (4 KiB pages)",
      },
    ],
  },
  {
    name: "cmbsts",
    offset: 0x58,
    size: 4,
    desc: "Controller Memory Buffer Status",
    fields: [{
      name: "cbai",
      lo: 0,
      hi: 0,
      desc: "Controller Base Address Invalid",
    }],
  },
  {
    name: "cmbebs",
    offset: 0x5c,
    size: 4,
    desc: "Controller Memory Buffer Elasticity Buffer Size",
    fields: [
      {
        name: "cmbszu",
        lo: 0,
        hi: 3,
        desc: "CMB Elasticity Buffer Size Units",
        values: { 0: "bytes", 1: "1 KiB", 2: "1 MiB", 3: "1 GiB" },
      },
      { name: "rbb", lo: 4, hi: 4, desc: "Read Bypass Behavior" },
      {
        name: "cmbwbz",
        lo: 8,
        hi: 31,
        desc: "CMB Elasticity Buffer Size Base",
      },
    ],
  },
  {
    name: "cmbswtp",
    offset: 0x60,
    size: 4,
    desc: "Controller Memory Buffer Sustained Write Throughput",
    fields: [
      {
        name: "cmbswtu",
        lo: 0,
        hi: 3,
        desc: "CMB Sustained Write Throughput Units",
        values: { 0: "bytes/s", 1: "1 KiB/s", 2: "1 MiB/s", 3: "1 GiB/s" },
      },
      {
        name: "cmbswtv",
        lo: 8,
        hi: 31,
        desc: "CMB Sustained Write Throughput",
      },
    ],
  },
  {
    name: "nssd",
    offset: 0x64,
    size: 4,
    desc: "NVM Subsystem Shutdown",
    fields: [{
      name: "nssc",
      lo: 0,
      hi: 31,
      desc: "NVM Subsystem Shutdown Control",
      format: (v) => `0x${v.toString(16)}`,
    }],
  },
  {
    name: "crto",
    offset: 0x68,
    size: 4,
    desc: "Controller Ready Timeouts",
    fields: [
      {
        name: "crwmt",
        lo: 0,
        hi: 15,
        desc: "Controller Ready With Media Timeout",
        format: (v) => `${v * 500} ms`,
      },
      {
        name: "crimt",
        lo: 16,
        hi: 31,
        desc: "Controller Ready Independent of Media Timeout",
        format: (v) => `${v * 500} ms`,
      },
    ],
  },
  {
    name: "pmrcap",
    offset: 0xe00,
    size: 4,
    desc: "Persistent Memory Region Capabilities",
    fields: [
      { name: "rds", lo: 3, hi: 3, desc: "Read Data Support", format: yes },
      { name: "wds", lo: 4, hi: 4, desc: "Write Data Support", format: yes },
      { name: "bir", lo: 5, hi: 7, desc: "Base Indicator Register" },
      {
        name: "pmrtu",
        lo: 8,
        hi: 9,
        desc: "PMR Time Units",
        values: { 0: "500 ms", 1: "minutes" },
      },
      {
        name: "pmrwbm",
        lo: 10,
        hi: 13,
        desc: "PMR Write Barrier Mechanisms",
        format: (v) => `0x${v.toString(16)}`,
      },
      { name: "pmrto", lo: 16, hi: 23, desc: "PMR Timeout (in PMRTU units)" },
      {
        name: "cmss",
        lo: 24,
        hi: 24,
        desc: "Controller Memory Space Supported",
      },
    ],
  },
  {
    name: "pmrctl",
    offset: 0xe04,
    size: 4,
    desc: "Persistent Memory Region Control",
    fields: [{ name: "en", lo: 0, hi: 0, desc: "Enable" }],
  },
  {
    name: "pmrsts",
    offset: 0xe08,
    size: 4,
    desc: "Persistent Memory Region Status",
    fields: [
      { name: "err", lo: 0, hi: 7, desc: "Error" },
      { name: "nrdy", lo: 8, hi: 8, desc: "Not Ready" },
      {
        name: "hsts",
        lo: 9,
        hi: 11,
        desc: "Health Status",
        values: {
          0: "normal operation",
          1: "restore error",
          2: "read only",
          3: "unreliable",
        },
      },
      { name: "cbai", lo: 12, hi: 12, desc: "Controller Base Address Invalid" },
    ],
  },
  {
    name: "pmrebs",
    offset: 0xe0c,
    size: 4,
    desc: "Persistent Memory Region Elasticity Buffer Size",
    fields: [
      {
        name: "pmrszu",
        lo: 0,
        hi: 3,
        desc: "PMR Elasticity Buffer Size Units",
        values: { 0: "bytes", 1: "1 KiB", 2: "1 MiB", 3: "1 GiB" },
      },
      { name: "rbb", lo: 4, hi: 4, desc: "Read Bypass Behavior" },
      {
        name: "pmrwbz",
        lo: 8,
        hi: 31,
        desc: "PMR Elasticity Buffer Size Base",
      },
    ],
  },
  {
    name: "pmrswtp",
    offset: 0xe10,
    size: 4,
    desc: "Persistent Memory Region Sustained Write Throughput",
    fields: [
      {
        name: "pmrswtu",
        lo: 0,
        hi: 3,
        desc: "PMR Sustained Write Throughput Units",
        values: { 0: "bytes/s", 1: "1 KiB/s", 2: "1 MiB/s", 3: "1 GiB/s" },
      },
      {
        name: "pmrswtv",
        lo: 8,
        hi: 31,
        desc: "PMR Sustained Write Throughput",
      },
    ],
  },
  {
    name: "pmrmscl",
    offset: 0xe14,
    size: 4,
    desc: "Persistent Memory Region Memory Space Control Lower",
    fields: [
      { name: "cmse", lo: 1, hi: 1, desc: "Controller Memory Space Enable" },
      {
        name: "cba",
        lo: 12,
        hi: 31,
        desc: "Controller Base Address (bits 31:12)",
      },
    ],
  },
  {
    name: "pmrmscu",
    offset: 0xe18,
    size: 4,
    desc: "Persistent Memory Region Memory Space Control Upper",
    fields: [{
      name: "cba",
      lo: 0,
      hi: 31,
      desc: "Controller Base Address (bits 63:32)",
      format: (v) => `0x${v.toString(16)}`,
    }],
  },
];

/**
 * One register's value and its decoded fields.
 *
 * ```ts
 * import { Controller } from "../../mod.ts";
 * declare const nvme0: Controller;
 * const cc: RegisterValue = readRegisters(nvme0).cc;
 * console.log(cc.value, cc.fields.en);
 * ```
 */
export interface RegisterValue {
  /** The raw value (BigInt for 64-bit registers). */
  value: number | bigint;
  /** Its fields by name. */
  fields: Record<string, number>;
}

/**
 * Every register, decoded, by name.
 *
 * ```ts
 * import { Controller } from "../../mod.ts";
 * declare const nvme0: Controller;
 * const r: Registers = readRegisters(nvme0);
 * console.log(`NVMe ${r.vs.fields.mjr}.${r.vs.fields.mnr}`);
 * ```
 */
export type Registers = Record<string, RegisterValue>;

/**
 * Decode register values (read by `read(offset, size)`).
 *
 * ```ts
 * import { Controller } from "../../mod.ts";
 * declare const nvme0: Controller;
 * const regs = decodeRegisters((off, size) => size === 8 ? nvme0.reg64(off) : nvme0.reg32(off));
 * ```
 */
export function decodeRegisters(
  read: (offset: number, size: 4 | 8) => number | bigint,
): Registers {
  checkArgs("decodeRegisters", FUNCTIONS.decodeRegisters, [read]);
  const out: Registers = {};
  for (const r of REGISTERS) {
    const value = read(r.offset, r.size);
    out[r.name] = { value, fields: decodeBits(value, r.fields) };
  }
  return out;
}

/**
 * Read and decode every register of a controller.
 *
 * ```ts
 * import { Controller } from "../../mod.ts";
 * declare const nvme0: Controller;
 * const regs = readRegisters(nvme0);
 * if (regs.csts.fields.cfs) console.log("controller fatal status");
 * ```
 */
export function readRegisters(
  ctrl: { reg32(offset: number): number; reg64(offset: number): bigint },
): Registers {
  checkArgs("readRegisters", FUNCTIONS.readRegisters, [ctrl]);
  return decodeRegisters((off, size) =>
    size === 8 ? ctrl.reg64(off) : ctrl.reg32(off)
  );
}

/**
 * The registers as text, `nvme show-regs -H` style: a line per register with
 * its value, then a line per field.
 *
 * ```ts
 * import { Controller } from "../../mod.ts";
 * declare const nvme0: Controller;
 * console.log(describeRegisters(readRegisters(nvme0)).join("\n"));
 * ```
 */
export function describeRegisters(regs: Registers): string[] {
  checkArgs("describeRegisters", FUNCTIONS.describeRegisters, [regs]);
  const lines: string[] = [];
  for (const r of REGISTERS) {
    const v = regs[r.name];
    if (!v) continue;
    lines.push(
      `${r.name} (0x${r.offset.toString(16).padStart(2, "0")}): 0x${
        v.value.toString(16).padStart(r.size * 2, "0")
      }  ${r.desc}`,
    );
    for (const l of describeBits(v.value, r.fields)) lines.push(`  ${l}`);
  }
  return lines;
}

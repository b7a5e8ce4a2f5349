/**
 * Get Features results decoded (NVMe Base Specification 2.0, 5.27.1): the
 * Dword 0 of every feature into its named fields, and the data buffers of the
 * features that return one (Autonomous Power State Transition, Host Memory
 * Buffer, Timestamp, Host Behavior Support, LBA Range Type, Host Identifier).
 *
 * ```ts
 * import { Controller } from "../../mod.ts";
 * declare const nvme0: Controller;
 * import { decodeFeature } from "../../mod.ts";
 * const f = decodeFeature(0x07, nvme0.getfeatures(0x07).waitdone());
 * console.log(f.fields.nsqa + 1, "I/O submission queues");
 * ```
 *
 * @module
 */
import { FUNCTIONS } from "../api_table.ts";
import { checkArgs } from "../validate.ts";
import { type BitField, decodeBits, describeBits, viewOf } from "./fields.ts";

const on = (v: number) => (v ? "enabled" : "disabled");
const kelvin = (v: number) => `${v} K (${v - 273} C)`;
const plus1 = (v: number) => `${v + 1}`;

/**
 * The Dword 0 fields of each feature, by feature identifier.
 *
 * ```ts
 * FEATURE_FIELDS[0x06]; // [{ name: "wce", ... }]
 * ```
 */
export const FEATURE_FIELDS: Readonly<Record<number, readonly BitField[]>> = {
  0x01: [
    {
      name: "ab",
      lo: 0,
      hi: 2,
      desc: "Arbitration Burst",
      format: (v) => (v === 7 ? "no limit" : `${2 ** v} commands`),
    },
    { name: "lpw", lo: 8, hi: 15, desc: "Low Priority Weight", format: plus1 },
    {
      name: "mpw",
      lo: 16,
      hi: 23,
      desc: "Medium Priority Weight",
      format: plus1,
    },
    {
      name: "hpw",
      lo: 24,
      hi: 31,
      desc: "High Priority Weight",
      format: plus1,
    },
  ],
  0x02: [
    { name: "ps", lo: 0, hi: 4, desc: "Power State", format: (v) => `PS${v}` },
    { name: "wh", lo: 5, hi: 7, desc: "Workload Hint" },
  ],
  0x03: [{
    name: "num",
    lo: 0,
    hi: 5,
    desc: "Number of LBA Ranges (0's based)",
    format: plus1,
  }],
  0x04: [
    {
      name: "tmpth",
      lo: 0,
      hi: 15,
      desc: "Temperature Threshold",
      format: kelvin,
    },
    {
      name: "tmpsel",
      lo: 16,
      hi: 19,
      desc: "Threshold Temperature Select",
      format: (v) =>
        v === 0
          ? "composite temperature"
          : v === 15
          ? "all sensors"
          : `temperature sensor ${v}`,
    },
    {
      name: "thsel",
      lo: 20,
      hi: 21,
      desc: "Threshold Type Select",
      values: {
        0: "over temperature threshold",
        1: "under temperature threshold",
      },
    },
  ],
  0x05: [
    {
      name: "tler",
      lo: 0,
      hi: 15,
      desc: "Time Limited Error Recovery",
      format: (v) => (v ? `${v * 100} ms` : "no timeout"),
    },
    {
      name: "dulbe",
      lo: 16,
      hi: 16,
      desc: "Deallocated or Unwritten Logical Block Error Enable",
      format: on,
    },
  ],
  0x06: [{
    name: "wce",
    lo: 0,
    hi: 0,
    desc: "Volatile Write Cache Enable",
    format: on,
  }],
  0x07: [
    {
      name: "nsqa",
      lo: 0,
      hi: 15,
      desc: "Number of I/O Submission Queues Allocated (0's based)",
      format: plus1,
    },
    {
      name: "ncqa",
      lo: 16,
      hi: 31,
      desc: "Number of I/O Completion Queues Allocated (0's based)",
      format: plus1,
    },
  ],
  0x08: [
    {
      name: "thr",
      lo: 0,
      hi: 7,
      desc: "Aggregation Threshold (0's based)",
      format: plus1,
    },
    {
      name: "time",
      lo: 8,
      hi: 15,
      desc: "Aggregation Time",
      format: (v) => `${v * 100} us`,
    },
  ],
  0x09: [
    { name: "iv", lo: 0, hi: 15, desc: "Interrupt Vector" },
    { name: "cd", lo: 16, hi: 16, desc: "Coalescing Disable" },
  ],
  0x0a: [{ name: "dn", lo: 0, hi: 0, desc: "Disable Normal" }],
  0x0b: [
    {
      name: "smart",
      lo: 0,
      hi: 7,
      desc: "SMART / Health Critical Warnings",
      format: (v) => `0x${v.toString(16)}`,
    },
    { name: "nan", lo: 8, hi: 8, desc: "Namespace Attribute Notices" },
    { name: "fan", lo: 9, hi: 9, desc: "Firmware Activation Notices" },
    { name: "tln", lo: 10, hi: 10, desc: "Telemetry Log Notices" },
    { name: "anacn", lo: 11, hi: 11, desc: "ANA Change Notices" },
    {
      name: "plealcn",
      lo: 12,
      hi: 12,
      desc: "Predictable Latency Event Aggregate Log Change Notices",
    },
    {
      name: "lsian",
      lo: 13,
      hi: 13,
      desc: "LBA Status Information Alert Notices",
    },
    {
      name: "egealcn",
      lo: 14,
      hi: 14,
      desc: "Endurance Group Event Aggregate Log Change Notices",
    },
    {
      name: "nnsshdn",
      lo: 15,
      hi: 15,
      desc: "Normal NVM Subsystem Shutdown Notices",
    },
    { name: "zdcn", lo: 27, hi: 27, desc: "Zone Descriptor Changed Notices" },
    {
      name: "dlpcn",
      lo: 31,
      hi: 31,
      desc: "Discovery Log Page Change Notification",
    },
  ],
  0x0c: [{
    name: "apste",
    lo: 0,
    hi: 0,
    desc: "Autonomous Power State Transition Enable",
    format: on,
  }],
  0x0d: [
    { name: "ehm", lo: 0, hi: 0, desc: "Enable Host Memory", format: on },
    { name: "mr", lo: 1, hi: 1, desc: "Memory Return" },
  ],
  0x0f: [{
    name: "kato",
    lo: 0,
    hi: 31,
    desc: "Keep Alive Timeout",
    format: (v) => `${v} ms`,
  }],
  0x10: [
    {
      name: "tmt2",
      lo: 0,
      hi: 15,
      desc: "Thermal Management Temperature 2",
      format: (v) => (v ? kelvin(v) : "disabled"),
    },
    {
      name: "tmt1",
      lo: 16,
      hi: 31,
      desc: "Thermal Management Temperature 1",
      format: (v) => (v ? kelvin(v) : "disabled"),
    },
  ],
  0x11: [{
    name: "noppme",
    lo: 0,
    hi: 0,
    desc: "Non-Operational Power State Permissive Mode Enable",
    format: on,
  }],
  0x12: [{ name: "rrl", lo: 0, hi: 3, desc: "Read Recovery Level" }],
  0x13: [],
  0x14: [
    {
      name: "ws",
      lo: 0,
      hi: 2,
      desc: "Window Select",
      values: { 1: "deterministic window", 2: "non-deterministic window" },
    },
  ],
  0x17: [{ name: "nodrm", lo: 0, hi: 0, desc: "No-Deallocate Response Mode" }],
  0x18: [{
    name: "egwarn",
    lo: 0,
    hi: 7,
    desc: "Endurance Group Critical Warnings",
    format: (v) => `0x${v.toString(16)}`,
  }],
  0x19: [{
    name: "iocsci",
    lo: 0,
    hi: 8,
    desc: "I/O Command Set Combination Index",
  }],
  0x1a: [{
    name: "supe",
    lo: 0,
    hi: 0,
    desc: "Spinup Control Enable",
    format: on,
  }],
  0x80: [{ name: "pbslc", lo: 0, hi: 7, desc: "Pre-boot Software Load Count" }],
  0x81: [{
    name: "exhid",
    lo: 0,
    hi: 0,
    desc: "Enable Extended Host Identifier",
  }],
  0x82: [
    {
      name: "regpre",
      lo: 1,
      hi: 1,
      desc: "Mask Registration Preempted Notification",
    },
    {
      name: "resrel",
      lo: 2,
      hi: 2,
      desc: "Mask Reservation Released Notification",
    },
    {
      name: "respre",
      lo: 3,
      hi: 3,
      desc: "Mask Reservation Preempted Notification",
    },
  ],
  0x83: [{ name: "ptpl", lo: 0, hi: 0, desc: "Persist Through Power Loss" }],
  0x84: [
    {
      name: "wps",
      lo: 0,
      hi: 2,
      desc: "Write Protection State",
      values: {
        0: "no write protect",
        1: "write protect",
        2: "write protect until power cycle",
        3: "permanent write protect",
      },
    },
  ],
};

/**
 * Bytes of the data buffer Get Features returns, for the features that
 * return one.
 *
 * ```ts
 * FEATURE_DATA_SIZE[0x0e]; // 8 (Timestamp)
 * ```
 */
export const FEATURE_DATA_SIZE: Readonly<Record<number, number>> = {
  0x03: 4096,
  0x0c: 256,
  0x0d: 4096,
  0x0e: 8,
  0x13: 512,
  0x16: 512,
  0x81: 16,
};

/**
 * Features whose value belongs to a namespace (Get Features takes its NSID).
 *
 * ```ts
 * declare const fid: number;
 * const nsid = NAMESPACE_FEATURES.includes(fid) ? 1 : 0;
 * ```
 */
export const NAMESPACE_FEATURES: readonly number[] = [
  0x03,
  0x05,
  0x82,
  0x83,
  0x84,
];

/**
 * An APST table entry (feature 0Ch data).
 *
 * ```ts
 * declare const data: Uint8Array;
 * const e: ApstEntry = decodeApst(data)[0];
 * console.log(`after ${e.itpt} ms idle go to PS${e.itps}`);
 * ```
 */
export interface ApstEntry {
  /** Idle Transition Power State. */
  itps: number;
  /** Idle Time Prior to Transition (ms). */
  itpt: number;
}

/**
 * Decode the Autonomous Power State Transition data (32 entries of 8 bytes).
 *
 * ```ts
 * import { Buffer } from "../../mod.ts";
 * declare const buf: Buffer;
 * const table = decodeApst(buf.bytes.subarray(0, 256));
 * ```
 */
export function decodeApst(d: Uint8Array): ApstEntry[] {
  checkArgs("decodeApst", FUNCTIONS.decodeApst, [d]);
  const dv = viewOf(d);
  const out: ApstEntry[] = [];
  for (let at = 0; at + 8 <= d.length && out.length < 32; at += 8) {
    const v = dv.getUint32(at, true);
    out.push({ itps: (v >>> 3) & 0x1f, itpt: v >>> 8 });
  }
  return out;
}

/**
 * Host Memory Buffer attributes (feature 0Dh data).
 *
 * ```ts
 * declare const data: Uint8Array;
 * const hmb: HostMemoryBuffer = decodeHostMemoryBuffer(data);
 * console.log(`${hmb.hsize} pages in ${hmb.hmdlec} descriptors`);
 * ```
 */
export interface HostMemoryBuffer {
  /** Host Memory Buffer Size (memory page size units). */
  hsize: number;
  /** Host Memory Descriptor List Address. */
  hmdla: bigint;
  /** Host Memory Descriptor List Entry Count. */
  hmdlec: number;
}

/**
 * Decode the Host Memory Buffer attributes data structure.
 *
 * ```ts
 * decodeHostMemoryBuffer(new Uint8Array(16)).hsize; // 0
 * ```
 */
export function decodeHostMemoryBuffer(d: Uint8Array): HostMemoryBuffer {
  checkArgs("decodeHostMemoryBuffer", FUNCTIONS.decodeHostMemoryBuffer, [d]);
  const dv = viewOf(d);
  return {
    hsize: dv.getUint32(0, true),
    hmdla: BigInt(dv.getUint32(4, true)) |
      BigInt(dv.getUint32(8, true)) << 32n,
    hmdlec: dv.getUint32(12, true),
  };
}

/**
 * The Timestamp feature (0Eh data, 8 bytes).
 *
 * ```ts
 * declare const data: Uint8Array;
 * const t: Timestamp = decodeTimestamp(data);
 * console.log(new Date(t.timestamp).toISOString(), t.originName);
 * ```
 */
export interface Timestamp {
  /** Milliseconds since the Unix epoch (48 bits). */
  timestamp: number;
  /** Synch: the controller may have stopped counting (e.g. in a power state). */
  synch: number;
  /** Timestamp Origin. */
  origin: number;
  /** Its meaning. */
  originName: string;
}

/**
 * Decode the Timestamp feature's data.
 *
 * ```ts
 * decodeTimestamp(new Uint8Array([1, 0, 0, 0, 0, 0, 2, 0])).origin; // 1
 * ```
 */
export function decodeTimestamp(d: Uint8Array): Timestamp {
  checkArgs("decodeTimestamp", FUNCTIONS.decodeTimestamp, [d]);
  const dv = viewOf(d);
  const timestamp = dv.getUint32(0, true) + dv.getUint16(4, true) * 2 ** 32;
  const origin = (d[6] >> 1) & 7;
  return {
    timestamp,
    synch: d[6] & 1,
    origin,
    originName: origin === 0
      ? "reset (counting since the last controller reset)"
      : origin === 1
      ? "set by the host (Set Features)"
      : "reserved",
  };
}

/**
 * Host Behavior Support (feature 16h data, 512 bytes).
 *
 * ```ts
 * declare const data: Uint8Array;
 * const hb: HostBehavior = decodeHostBehavior(data);
 * console.log(hb.acre ? "advanced command retry enabled" : "no command retry delay");
 * ```
 */
export interface HostBehavior {
  /** Advanced Command Retry Enable (byte 0, bit 0). */
  acre: number;
  /** Extended Telemetry Data Area 4 Supported by the host (byte 1, bit 0). */
  etdas: number;
  /** LBA Format Extension Enable (byte 2, bit 0). */
  lbafee: number;
}

/**
 * Decode the Host Behavior Support data structure.
 *
 * ```ts
 * decodeHostBehavior(new Uint8Array([1, 0, 1])).lbafee; // 1
 * ```
 */
export function decodeHostBehavior(d: Uint8Array): HostBehavior {
  checkArgs("decodeHostBehavior", FUNCTIONS.decodeHostBehavior, [d]);
  return { acre: d[0] & 1, etdas: d[1] & 1, lbafee: d[2] & 1 };
}

/**
 * An LBA Range Type entry (feature 03h data, 64 bytes each).
 *
 * ```ts
 * declare const data: Uint8Array;
 * const r: LbaRange = decodeLbaRanges(data, 1)[0];
 * ```
 */
export interface LbaRange {
  /** Type (0 general purpose, 1 filesystem, 2 RAID, 3 cache, 4 swap). */
  type: number;
  /** Attributes (bit 0 may be overwritten, bit 1 hidden). */
  attributes: number;
  /** Starting LBA. */
  slba: bigint;
  /** Number of Logical Blocks (0's based). */
  nlb: bigint;
  /** Unique Identifier (hex). */
  guid: string;
}

/**
 * Decode `count` LBA Range Type entries.
 *
 * ```ts
 * decodeLbaRanges(new Uint8Array(64), 1)[0].type; // 0
 * ```
 */
export function decodeLbaRanges(d: Uint8Array, count: number): LbaRange[] {
  checkArgs("decodeLbaRanges", FUNCTIONS.decodeLbaRanges, [d, count]);
  const dv = viewOf(d);
  const out: LbaRange[] = [];
  for (let i = 0; i < count && i * 64 + 64 <= d.length; i++) {
    const at = i * 64;
    out.push({
      type: d[at],
      attributes: d[at + 1],
      slba: dv.getBigUint64(at + 16, true),
      nlb: dv.getBigUint64(at + 24, true),
      guid: [...d.subarray(at + 32, at + 48)].map((x) =>
        x.toString(16).padStart(2, "0")
      ).join(""),
    });
  }
  return out;
}

/**
 * A Get Features result, decoded.
 *
 * ```ts
 * const f: DecodedFeature = decodeFeature(0x06, 1);
 * console.log(f.text.join("\n")); // [0:0] 0x1 Volatile Write Cache Enable: enabled
 * ```
 */
export interface DecodedFeature {
  /** Feature Identifier. */
  fid: number;
  /** Dword 0 of the completion. */
  cdw0: number;
  /** Dword 0's fields by name (empty for features without a layout here). */
  fields: Record<string, number>;
  /** The decoded data buffer, for features that return one. */
  data?:
    | ApstEntry[]
    | HostMemoryBuffer
    | Timestamp
    | HostBehavior
    | LbaRange[]
    | string;
  /** `nvme get-feature -H` style lines. */
  text: string[];
}

/**
 * Decode a Get Features result: CDW0 and, when given, the data buffer.
 *
 * ```ts
 * import { Buffer, Controller } from "../../mod.ts";
 * declare const nvme0: Controller;
 * using buf = new Buffer(4096);
 * const cdw0 = nvme0.getfeatures(0x0e, { buf }).waitdone();
 * const ts = decodeFeature(0x0e, cdw0, buf.bytes).data as Timestamp;
 * ```
 */
export function decodeFeature(
  fid: number,
  cdw0: number,
  data?: Uint8Array,
): DecodedFeature {
  checkArgs("decodeFeature", FUNCTIONS.decodeFeature, [fid, cdw0, data]);
  const spec = FEATURE_FIELDS[fid] ?? [];
  const fields = decodeBits(cdw0, spec);
  const text = describeBits(cdw0, spec);
  let decoded: DecodedFeature["data"];
  if (data) {
    switch (fid) {
      case 0x03: {
        const ranges = decodeLbaRanges(data, (cdw0 & 0x3f) + 1);
        decoded = ranges;
        ranges.forEach((r, i) =>
          text.push(
            `range ${i}: type ${r.type} attributes 0x${
              r.attributes.toString(16)
            } slba ${r.slba} nlb ${r.nlb + 1n} guid ${r.guid}`,
          )
        );
        break;
      }
      case 0x0c: {
        const table = decodeApst(data);
        decoded = table;
        table.forEach((e, i) => {
          if (e.itpt || e.itps) {
            text.push(
              `entry ${i} (PS${i}): after ${e.itpt} ms idle go to PS${e.itps}`,
            );
          }
        });
        break;
      }
      case 0x0d: {
        const h = decodeHostMemoryBuffer(data);
        decoded = h;
        text.push(
          `Host Memory Buffer Size: ${h.hsize} pages`,
          `Host Memory Descriptor List Address: 0x${h.hmdla.toString(16)}`,
          `Host Memory Descriptor List Entry Count: ${h.hmdlec}`,
        );
        break;
      }
      case 0x0e: {
        const t = decodeTimestamp(data);
        decoded = t;
        text.push(
          `Timestamp: ${t.timestamp} ms${
            t.origin === 1 ? ` (${new Date(t.timestamp).toISOString()})` : ""
          }`,
          `Synch: ${t.synch}`,
          `Timestamp Origin: ${t.origin} (${t.originName})`,
        );
        break;
      }
      case 0x16: {
        const h = decodeHostBehavior(data);
        decoded = h;
        text.push(
          `Advanced Command Retry Enable (ACRE): ${on(h.acre)}`,
          `Extended Telemetry Data Area 4 Supported (ETDAS): ${
            h.etdas ? "yes" : "no"
          }`,
          `LBA Format Extension Enable (LBAFEE): ${on(h.lbafee)}`,
        );
        break;
      }
      case 0x81: {
        const hex = [...data.subarray(0, cdw0 & 1 ? 16 : 8)].map((x) =>
          x.toString(16).padStart(2, "0")
        ).join("");
        decoded = hex;
        text.push(`Host Identifier: ${hex}`);
        break;
      }
    }
  }
  return { fid, cdw0, fields, data: decoded, text };
}

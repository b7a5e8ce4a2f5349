/**
 * Identify Namespace (CNS 00h) beyond the basics: every field nvme-cli 2.3
 * decodes (NVMe NVM Command Set Specification 1.0 / Base 2.0), and the bit
 * fields explained (`nvme id-ns -H`).
 *
 * ```ts
 * import { Namespace } from "../../mod.ts";
 * declare const nvme0n1: Namespace;
 * import { describeIdentifyNamespace } from "../../mod.ts";
 * console.log(describeIdentifyNamespace(nvme0n1.identifyData).join("\n"));
 * ```
 *
 * @module
 */
import { FUNCTIONS } from "../api_table.ts";
import { checkArgs } from "../validate.ts";
import { type BitField, describeBits, viewOf } from "./fields.ts";

/**
 * The Identify Namespace fields beyond the basic ones of
 * {@linkcode IdentifyNamespace} (which includes all of these).
 *
 * ```ts
 * declare const data: Uint8Array;
 * const { npwg, anagrpid }: IdentifyNamespaceDetail = decodeIdentifyNamespaceDetail(data);
 * ```
 */
export interface IdentifyNamespaceDetail {
  /** Reservation Capabilities. */
  rescap: number;
  /** Format Progress Indicator. */
  fpi: number;
  /** Namespace Atomic Write Unit Normal (0's based). */
  nawun: number;
  /** Namespace Atomic Write Unit Power Fail (0's based). */
  nawupf: number;
  /** Namespace Atomic Compare & Write Unit (0's based). */
  nacwu: number;
  /** Namespace Atomic Boundary Size Normal (0's based). */
  nabsn: number;
  /** Namespace Atomic Boundary Offset. */
  nabo: number;
  /** Namespace Atomic Boundary Size Power Fail (0's based). */
  nabspf: number;
  /** Namespace Optimal I/O Boundary (logical blocks). */
  noiob: number;
  /** Namespace Preferred Write Granularity (0's based). */
  npwg: number;
  /** Namespace Preferred Write Alignment (0's based). */
  npwa: number;
  /** Namespace Preferred Deallocate Granularity (0's based). */
  npdg: number;
  /** Namespace Preferred Deallocate Alignment (0's based). */
  npda: number;
  /** Namespace Optimal Write Size (0's based). */
  nows: number;
  /** Maximum Single Source Range Length (Copy). */
  mssrl: number;
  /** Maximum Copy Length. */
  mcl: number;
  /** Maximum Source Range Count (0's based). */
  msrc: number;
  /** Number of Unique Capability LBA Formats. */
  nulbaf: number;
  /** ANA Group Identifier. */
  anagrpid: number;
  /** Namespace Attributes. */
  nsattr: number;
  /** NVM Set Identifier. */
  nvmsetid: number;
  /** Endurance Group Identifier. */
  endgid: number;
}

/**
 * Decode the detail fields of Identify Namespace data (4096 bytes).
 *
 * ```ts
 * decodeIdentifyNamespaceDetail(new Uint8Array(4096)).nows; // 0
 * ```
 */
export function decodeIdentifyNamespaceDetail(
  d: Uint8Array,
): IdentifyNamespaceDetail {
  checkArgs(
    "decodeIdentifyNamespaceDetail",
    FUNCTIONS.decodeIdentifyNamespaceDetail,
    [d],
  );
  const dv = viewOf(d);
  return {
    rescap: d[31],
    fpi: d[32],
    nawun: dv.getUint16(34, true),
    nawupf: dv.getUint16(36, true),
    nacwu: dv.getUint16(38, true),
    nabsn: dv.getUint16(40, true),
    nabo: dv.getUint16(42, true),
    nabspf: dv.getUint16(44, true),
    noiob: dv.getUint16(46, true),
    npwg: dv.getUint16(64, true),
    npwa: dv.getUint16(66, true),
    npdg: dv.getUint16(68, true),
    npda: dv.getUint16(70, true),
    nows: dv.getUint16(72, true),
    mssrl: dv.getUint16(74, true),
    mcl: dv.getUint32(76, true),
    msrc: d[80],
    nulbaf: d[82],
    anagrpid: dv.getUint32(92, true),
    nsattr: d[99],
    nvmsetid: dv.getUint16(100, true),
    endgid: dv.getUint16(102, true),
  };
}

const flag = (name: string, bit: number, desc: string): BitField => ({
  name,
  lo: bit,
  hi: bit,
  desc,
});

/**
 * The one-byte bit fields of Identify Namespace: offset and layout.
 *
 * ```ts
 * const dps = ID_NS_BITS.find((f) => f.name === "dps");
 * ```
 */
export const ID_NS_BITS: readonly {
  name: string;
  offset: number;
  fields: readonly BitField[];
}[] = [
  {
    name: "nsfeat",
    offset: 24,
    fields: [
      flag("thinp", 0, "Thin Provisioning"),
      flag("nsabp", 1, "NAWUN, NAWUPF and NACWU defined"),
      flag("dae", 2, "Deallocated or Unwritten Logical Block error"),
      flag("uidreuse", 3, "NGUID and EUI64 never reused"),
      flag("optperf", 4, "NPWG, NPWA, NPDG, NPDA and NOWS defined"),
    ],
  },
  {
    name: "flbas",
    offset: 26,
    fields: [
      { name: "lbafl", lo: 0, hi: 3, desc: "LBA Format (low bits)" },
      flag("mset", 4, "Metadata at the end of the data LBA (extended LBA)"),
      { name: "lbafu", lo: 5, hi: 6, desc: "LBA Format (high bits)" },
    ],
  },
  {
    name: "mc",
    offset: 27,
    fields: [
      flag("extdlba", 0, "Metadata as part of an extended data LBA"),
      flag("ptrsep", 1, "Metadata in a separate buffer"),
    ],
  },
  {
    name: "dpc",
    offset: 28,
    fields: [
      flag("pit1s", 0, "Protection Information Type 1"),
      flag("pit2s", 1, "Protection Information Type 2"),
      flag("pit3s", 2, "Protection Information Type 3"),
      flag("piifb", 3, "Protection Information in the first bytes of metadata"),
      flag("piilb", 4, "Protection Information in the last bytes of metadata"),
    ],
  },
  {
    name: "dps",
    offset: 29,
    fields: [
      {
        name: "pit",
        lo: 0,
        hi: 2,
        desc: "Protection Information Type",
        values: { 0: "disabled", 1: "type 1", 2: "type 2", 3: "type 3" },
      },
      flag("pip", 3, "Protection Information in the first bytes of metadata"),
    ],
  },
  {
    name: "nmic",
    offset: 30,
    fields: [
      flag(
        "smns",
        0,
        "Shared namespace (may be attached to two or more controllers)",
      ),
    ],
  },
  {
    name: "rescap",
    offset: 31,
    fields: [
      flag("ptpls", 0, "Persist Through Power Loss"),
      flag("wes", 1, "Write Exclusive"),
      flag("eas", 2, "Exclusive Access"),
      flag("weros", 3, "Write Exclusive - Registrants Only"),
      flag("earos", 4, "Exclusive Access - Registrants Only"),
      flag("weaars", 5, "Write Exclusive - All Registrants"),
      flag("eaars", 6, "Exclusive Access - All Registrants"),
      flag("iekey", 7, "Ignore Existing Key"),
    ],
  },
  {
    name: "fpi",
    offset: 32,
    fields: [
      {
        name: "fpi",
        lo: 0,
        hi: 6,
        desc: "Percentage of the namespace remaining to be formatted",
        format: (v) => `${v}%`,
      },
      flag("fpis", 7, "Format Progress Indicator supported"),
    ],
  },
  {
    name: "dlfeat",
    offset: 33,
    fields: [
      {
        name: "drb",
        lo: 0,
        hi: 2,
        desc: "Deallocated logical blocks read as",
        values: { 0: "not reported", 1: "all bytes 00h", 2: "all bytes FFh" },
      },
      flag("wzds", 3, "Write Zeroes may deallocate"),
      flag(
        "gcrc",
        4,
        "Guard field of deallocated blocks is the CRC of the data",
      ),
    ],
  },
  {
    name: "nsattr",
    offset: 99,
    fields: [flag("wp", 0, "Namespace is write protected")],
  },
];

/**
 * Identify Namespace as text, `nvme id-ns -H` style: every bit field
 * explained, the detail fields, the LBA formats.
 *
 * ```ts
 * import { Namespace } from "../../mod.ts";
 * declare const nvme0n1: Namespace;
 * console.log(describeIdentifyNamespace(nvme0n1.identifyData).join("\n"));
 * ```
 */
export function describeIdentifyNamespace(d: Uint8Array): string[] {
  checkArgs("describeIdentifyNamespace", FUNCTIONS.describeIdentifyNamespace, [
    d,
  ]);
  const dv = viewOf(d);
  const lines = [
    `nsze      : ${dv.getBigUint64(0, true)}`,
    `ncap      : ${dv.getBigUint64(8, true)}`,
    `nuse      : ${dv.getBigUint64(16, true)}`,
    `nlbaf     : ${d[25]}`,
  ];
  for (const f of ID_NS_BITS) {
    lines.push(`${f.name.padEnd(10)}: 0x${d[f.offset].toString(16)}`);
    for (const l of describeBits(d[f.offset], f.fields)) lines.push(`  ${l}`);
  }
  for (const [k, v] of Object.entries(decodeIdentifyNamespaceDetail(d))) {
    lines.push(`${k.padEnd(10)}: ${v}`);
  }
  const inUse = (d[26] & 0xf) | ((d[26] >> 5) & 3) << 4;
  const rp = ["Best", "Better", "Good", "Degraded"];
  for (let i = 0; i <= d[25] && i < 64; i++) {
    const v = dv.getUint32(128 + i * 4, true);
    lines.push(
      `lbaf ${i.toString().padStart(2)} : ms:${v & 0xffff} lbads:${
        (v >>> 16) & 0xff
      } rp:${(v >>> 24) & 3} (${rp[(v >>> 24) & 3]})${
        i === inUse ? " (in use)" : ""
      }`,
    );
  }
  return lines;
}

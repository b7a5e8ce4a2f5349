/**
 * Identify Controller (CNS 01h) beyond the basics: every field nvme-cli 2.3
 * decodes (NVMe Base Specification 2.0, Figure 275), the power state
 * descriptors in full, and the bit fields explained (`nvme id-ctrl -H`).
 *
 * ```ts
 * import { Controller } from "../../mod.ts";
 * declare const nvme0: Controller;
 * import { describeIdentifyController } from "../../mod.ts";
 * console.log(describeIdentifyController(nvme0.identifyData).join("\n"));
 * ```
 *
 * @module
 */
import { FUNCTIONS } from "../api_table.ts";
import { checkArgs } from "../validate.ts";
import {
  asciiField,
  type BitField,
  describeBits,
  hexBytes,
  u128,
  viewOf,
} from "./fields.ts";

/**
 * A power state descriptor (32 bytes at 2048 + 32 × n).
 *
 * ```ts
 * import { Controller } from "../../mod.ts";
 * declare const nvme0: Controller;
 * const ps: PowerStateDescriptor = decodePowerState(nvme0.identifyData, 0);
 * console.log(`PS0 max ${ps.mp * (ps.mxps ? 0.0001 : 0.01)} W`);
 * ```
 */
export interface PowerStateDescriptor {
  /** Maximum Power (in MXPS units). */
  mp: number;
  /** Max Power Scale: 0 = 0.01 W units, 1 = 0.0001 W units. */
  mxps: number;
  /** Non-Operational State. */
  nops: boolean;
  /** Entry Latency (µs). */
  enlat: number;
  /** Exit Latency (µs). */
  exlat: number;
  /** Relative Read Throughput. */
  rrt: number;
  /** Relative Read Latency. */
  rrl: number;
  /** Relative Write Throughput. */
  rwt: number;
  /** Relative Write Latency. */
  rwl: number;
  /** Idle Power (in IPS units). */
  idlp: number;
  /** Idle Power Scale (0 not reported, 1 = 0.0001 W, 2 = 0.01 W). */
  ips: number;
  /** Active Power (in APS units). */
  actp: number;
  /** Active Power Workload. */
  apw: number;
  /** Active Power Scale (0 not reported, 1 = 0.0001 W, 2 = 0.01 W). */
  aps: number;
}

/**
 * Decode power state descriptor `n` of Identify Controller data.
 *
 * ```ts
 * decodePowerState(new Uint8Array(4096), 0).mp; // 0
 * ```
 */
export function decodePowerState(
  d: Uint8Array,
  n: number,
): PowerStateDescriptor {
  checkArgs("decodePowerState", FUNCTIONS.decodePowerState, [d, n]);
  const dv = viewOf(d);
  const at = 2048 + n * 32;
  return {
    mp: dv.getUint16(at, true),
    mxps: d[at + 3] & 1,
    nops: (d[at + 3] & 2) !== 0,
    enlat: dv.getUint32(at + 4, true),
    exlat: dv.getUint32(at + 8, true),
    rrt: d[at + 12] & 0x1f,
    rrl: d[at + 13] & 0x1f,
    rwt: d[at + 14] & 0x1f,
    rwl: d[at + 15] & 0x1f,
    idlp: dv.getUint16(at + 16, true),
    ips: d[at + 18] >> 6,
    actp: dv.getUint16(at + 20, true),
    apw: d[at + 22] & 7,
    aps: d[at + 22] >> 6,
  };
}

/**
 * The Identify Controller fields beyond the basic ones of
 * {@linkcode IdentifyController} (which includes all of these).
 *
 * ```ts
 * import { Controller } from "../../mod.ts";
 * declare const nvme0: Controller;
 * const { tnvmcap, hmpre }: IdentifyControllerDetail = nvme0.idCtrl;
 * ```
 */
export interface IdentifyControllerDetail {
  /** Read Recovery Levels Supported (bit n: level n). */
  rrls: number;
  /** FRU Globally Unique Identifier (hex). */
  fguid: string;
  /** Command Retry Delay Time 1 (100 ms units). */
  crdt1: number;
  /** Command Retry Delay Time 2 (100 ms units). */
  crdt2: number;
  /** Command Retry Delay Time 3 (100 ms units). */
  crdt3: number;
  /** NVM Subsystem Report. */
  nvmsr: number;
  /** VPD Write Cycle Information. */
  vwci: number;
  /** Management Endpoint Capabilities. */
  mec: number;
  /** Admin Vendor Specific Command Configuration. */
  avscc: number;
  /** Autonomous Power State Transition Attributes. */
  apsta: number;
  /** Maximum Time for Firmware Activation (100 ms units). */
  mtfa: number;
  /** Host Memory Buffer Preferred Size (4 KiB units). */
  hmpre: number;
  /** Host Memory Buffer Minimum Size (4 KiB units). */
  hmmin: number;
  /** Total NVM Capacity (bytes). */
  tnvmcap: bigint;
  /** Unallocated NVM Capacity (bytes). */
  unvmcap: bigint;
  /** Replay Protected Memory Block Support. */
  rpmbs: number;
  /** Extended Device Self-test Time (minutes). */
  edstt: number;
  /** Device Self-test Options. */
  dsto: number;
  /** Host Controlled Thermal Management Attributes. */
  hctma: number;
  /** Minimum Thermal Management Temperature (K). */
  mntmt: number;
  /** Maximum Thermal Management Temperature (K). */
  mxtmt: number;
  /** Host Memory Buffer Minimum Descriptor Entry Size (4 KiB units). */
  hmminds: number;
  /** Host Memory Maximum Descriptors Entries. */
  hmmaxd: number;
  /** NVM Set Identifier Maximum. */
  nsetidmax: number;
  /** Endurance Group Identifier Maximum. */
  endgidmax: number;
  /** ANA Transition Time (s). */
  anatt: number;
  /** Asymmetric Namespace Access Capabilities. */
  anacap: number;
  /** ANA Group Identifier Maximum. */
  anagrpmax: number;
  /** Number of ANA Group Identifiers. */
  nanagrpid: number;
  /** Persistent Event Log Size (64 KiB units). */
  pels: number;
  /** Domain Identifier. */
  domainid: number;
  /** Max Endurance Group Capacity (bytes). */
  megcap: bigint;
  /** I/O Command Set Vendor Specific Command Configuration. */
  icsvscc: number;
  /** Namespace Write Protection Capabilities. */
  nwpc: number;
  /** Atomic Compare & Write Unit (0's based, logical blocks). */
  acwu: number;
  /** Optional Copy Formats Supported. */
  ocfs: number;
  /** Maximum Number of Allowed Namespaces. */
  mnan: number;
  /** Maximum Domain Namespace Attachments. */
  maxdna: bigint;
  /** Maximum I/O Controller Namespace Attachments. */
  maxcna: number;
  /** I/O Queue Command Capsule Supported Size (16-byte units; fabrics). */
  ioccsz: number;
  /** I/O Queue Response Capsule Supported Size (16-byte units; fabrics). */
  iorcsz: number;
  /** In Capsule Data Offset (16-byte units; fabrics). */
  icdoff: number;
  /** Fabrics Controller Attributes. */
  fcatt: number;
  /** Maximum SGL Data Block Descriptors. */
  msdbd: number;
  /** Optional Fabric Commands Support. */
  ofcs: number;
}

/**
 * Decode the detail fields of Identify Controller data (4096 bytes).
 *
 * ```ts
 * import { Controller } from "../../mod.ts";
 * declare const nvme0: Controller;
 * declare const bytes: Uint8Array;
 * const detail = decodeIdentifyControllerDetail(nvme0.identifyData);
 * console.log(`${detail.tnvmcap} bytes of NVM`);
 * ```
 */
export function decodeIdentifyControllerDetail(
  d: Uint8Array,
): IdentifyControllerDetail {
  checkArgs(
    "decodeIdentifyControllerDetail",
    FUNCTIONS.decodeIdentifyControllerDetail,
    [d],
  );
  const dv = viewOf(d);
  return {
    rrls: dv.getUint16(100, true),
    fguid: hexBytes(d, 112, 128),
    crdt1: dv.getUint16(128, true),
    crdt2: dv.getUint16(130, true),
    crdt3: dv.getUint16(132, true),
    nvmsr: d[253],
    vwci: d[254],
    mec: d[255],
    avscc: d[264],
    apsta: d[265],
    mtfa: dv.getUint16(270, true),
    hmpre: dv.getUint32(272, true),
    hmmin: dv.getUint32(276, true),
    tnvmcap: u128(dv, 280),
    unvmcap: u128(dv, 296),
    rpmbs: dv.getUint32(312, true),
    edstt: dv.getUint16(316, true),
    dsto: d[318],
    hctma: dv.getUint16(322, true),
    mntmt: dv.getUint16(324, true),
    mxtmt: dv.getUint16(326, true),
    hmminds: dv.getUint32(332, true),
    hmmaxd: dv.getUint16(336, true),
    nsetidmax: dv.getUint16(338, true),
    endgidmax: dv.getUint16(340, true),
    anatt: d[342],
    anacap: d[343],
    anagrpmax: dv.getUint32(344, true),
    nanagrpid: dv.getUint32(348, true),
    pels: dv.getUint32(352, true),
    domainid: dv.getUint16(356, true),
    megcap: u128(dv, 368),
    icsvscc: d[530],
    nwpc: d[531],
    acwu: dv.getUint16(532, true),
    ocfs: dv.getUint16(534, true),
    mnan: dv.getUint32(540, true),
    maxdna: u128(dv, 544),
    maxcna: dv.getUint32(560, true),
    ioccsz: dv.getUint32(1792, true),
    iorcsz: dv.getUint32(1796, true),
    icdoff: dv.getUint16(1800, true),
    fcatt: d[1802],
    msdbd: d[1803],
    ofcs: dv.getUint16(1804, true),
  };
}

const flag = (name: string, bit: number, desc: string): BitField => ({
  name,
  lo: bit,
  hi: bit,
  desc,
});

/**
 * The bit fields of Identify Controller, by field: offset, width and layout.
 *
 * ```ts
 * const oacs = ID_CTRL_BITS.find((f) => f.name === "oacs");
 * ```
 */
export const ID_CTRL_BITS: readonly {
  name: string;
  offset: number;
  size: 1 | 2 | 4;
  fields: readonly BitField[];
}[] = [
  {
    name: "cmic",
    offset: 76,
    size: 1,
    fields: [
      flag("mports", 0, "NVM subsystem has more than one port"),
      flag("mctrs", 1, "NVM subsystem has more than one controller"),
      flag("ft", 2, "SR-IOV virtual function"),
      flag("anars", 3, "Asymmetric Namespace Access Reporting"),
    ],
  },
  {
    name: "oaes",
    offset: 92,
    size: 4,
    fields: [
      flag("nan", 8, "Namespace Attribute Notices"),
      flag("fan", 9, "Firmware Activation Notices"),
      flag("ancn", 11, "Asymmetric Namespace Access Change Notices"),
      flag(
        "plealcn",
        12,
        "Predictable Latency Event Aggregate Log Change Notices",
      ),
      flag("lsian", 13, "LBA Status Information Alert Notices"),
      flag(
        "egealcn",
        14,
        "Endurance Group Event Aggregate Log Page Change Notices",
      ),
      flag("nnsshdn", 15, "Normal NVM Subsystem Shutdown Notices"),
      flag("zdcn", 27, "Zone Descriptor Changed Notices"),
      flag("dlpcn", 31, "Discovery Log Page Change Notices"),
    ],
  },
  {
    name: "ctratt",
    offset: 96,
    size: 4,
    fields: [
      flag("hids", 0, "128-bit Host Identifier"),
      flag("nopspm", 1, "Non-Operational Power State Permissive Mode"),
      flag("nsets", 2, "NVM Sets"),
      flag("rrlvls", 3, "Read Recovery Levels"),
      flag("egs", 4, "Endurance Groups"),
      flag("plm", 5, "Predictable Latency Mode"),
      flag("tbkas", 6, "Traffic Based Keep Alive"),
      flag("ng", 7, "Namespace Granularity"),
      flag("sqa", 8, "SQ Associations"),
      flag("uuidl", 9, "UUID List"),
      flag("mds", 10, "Multi-Domain Subsystem"),
      flag("fcm", 11, "Fixed Capacity Management"),
      flag("vcm", 12, "Variable Capacity Management"),
      flag("deg", 13, "Delete Endurance Group"),
      flag("dnvms", 14, "Delete NVM Set"),
      flag("elbas", 15, "Extended LBA Formats Supported"),
    ],
  },
  {
    name: "oacs",
    offset: 256,
    size: 2,
    fields: [
      flag("ssrs", 0, "Security Send and Receive"),
      flag("fnvms", 1, "Format NVM"),
      flag("fwds", 2, "Firmware Commit and Image Download"),
      flag("nms", 3, "Namespace Management"),
      flag("dsts", 4, "Device Self-test"),
      flag("dirs", 5, "Directives"),
      flag("nsrs", 6, "NVMe-MI Send and Receive"),
      flag("vms", 7, "Virtualization Management"),
      flag("dbcs", 8, "Doorbell Buffer Config"),
      flag("glss", 9, "Get LBA Status"),
      flag("cfls", 10, "Command and Feature Lockdown"),
    ],
  },
  {
    name: "frmw",
    offset: 260,
    size: 1,
    fields: [
      flag("ffsro", 0, "First Firmware Slot Read Only"),
      { name: "nofs", lo: 1, hi: 3, desc: "Number of Firmware Slots" },
      flag("fawr", 4, "Firmware Activation Without Reset"),
      flag("smud", 5, "Multiple Update Detection"),
    ],
  },
  {
    name: "lpa",
    offset: 261,
    size: 1,
    fields: [
      flag("smarts", 0, "SMART / Health log per namespace"),
      flag("cses", 1, "Commands Supported and Effects log"),
      flag("lpeds", 2, "Extended data for Get Log Page"),
      flag("ts", 3, "Telemetry log pages"),
      flag("pes", 4, "Persistent Event log"),
      flag("mlps", 5, "Supported Log Pages log page"),
      flag("da4s", 6, "Telemetry Data Area 4"),
    ],
  },
  {
    name: "avscc",
    offset: 264,
    size: 1,
    fields: [
      flag(
        "avscc",
        0,
        "Admin vendor specific commands use the standard format",
      ),
    ],
  },
  {
    name: "apsta",
    offset: 265,
    size: 1,
    fields: [flag("apsts", 0, "Autonomous Power State Transitions")],
  },
  {
    name: "hctma",
    offset: 322,
    size: 2,
    fields: [flag("hctms", 0, "Host Controlled Thermal Management")],
  },
  {
    name: "sanicap",
    offset: 328,
    size: 4,
    fields: [
      flag("ces", 0, "Crypto Erase"),
      flag("bes", 1, "Block Erase"),
      flag("ows", 2, "Overwrite"),
      flag("ndi", 29, "No-Deallocate Inhibited"),
      {
        name: "nodmmas",
        lo: 30,
        hi: 31,
        desc: "No-Deallocate Modifies Media After Sanitize",
        values: { 0: "not reported", 1: "not modified", 2: "modified" },
      },
    ],
  },
  {
    name: "sqes",
    offset: 512,
    size: 1,
    fields: [
      {
        name: "min",
        lo: 0,
        hi: 3,
        desc: "Minimum SQ entry size",
        format: (v) => `${2 ** v} bytes`,
      },
      {
        name: "max",
        lo: 4,
        hi: 7,
        desc: "Maximum SQ entry size",
        format: (v) => `${2 ** v} bytes`,
      },
    ],
  },
  {
    name: "cqes",
    offset: 513,
    size: 1,
    fields: [
      {
        name: "min",
        lo: 0,
        hi: 3,
        desc: "Minimum CQ entry size",
        format: (v) => `${2 ** v} bytes`,
      },
      {
        name: "max",
        lo: 4,
        hi: 7,
        desc: "Maximum CQ entry size",
        format: (v) => `${2 ** v} bytes`,
      },
    ],
  },
  {
    name: "oncs",
    offset: 520,
    size: 2,
    fields: [
      flag("nvmcmps", 0, "Compare"),
      flag("nvmwusv", 1, "Write Uncorrectable"),
      flag("nvmdsmsv", 2, "Dataset Management"),
      flag("nvmwzsv", 3, "Write Zeroes"),
      flag("nvmsfsv", 4, "Save field in Set/Get Features"),
      flag("nvmresv", 5, "Reservations"),
      flag("nvmts", 6, "Timestamp"),
      flag("nvmvfys", 7, "Verify"),
      flag("nvmcpys", 8, "Copy"),
    ],
  },
  {
    name: "fuses",
    offset: 522,
    size: 2,
    fields: [flag("fcws", 0, "Fused Compare and Write")],
  },
  {
    name: "fna",
    offset: 524,
    size: 1,
    fields: [
      flag("fns", 0, "Format applies to all namespaces"),
      flag("sens", 1, "Secure erase applies to all namespaces"),
      flag("cryes", 2, "Cryptographic erase supported"),
      flag("fnvmbs", 3, "Format NVM broadcast NSID supported"),
    ],
  },
  {
    name: "vwc",
    offset: 525,
    size: 1,
    fields: [
      flag("present", 0, "Volatile Write Cache present"),
      {
        name: "flushbehavior",
        lo: 1,
        hi: 2,
        desc: "Flush with broadcast NSID",
        values: {
          0: "not reported",
          2: "not supported",
          3: "supported",
        },
      },
    ],
  },
  {
    name: "sgls",
    offset: 536,
    size: 4,
    fields: [
      {
        name: "sglsp",
        lo: 0,
        hi: 1,
        desc: "SGL Support",
        values: {
          0: "not supported",
          1: "supported, no alignment requirement",
          2: "supported, dword alignment",
        },
      },
      flag("kdbs", 2, "Keyed SGL Data Block descriptor"),
      flag("bbs", 16, "SGL Bit Bucket descriptor"),
      flag("bamds", 17, "Byte aligned contiguous buffer for metadata"),
      flag("lbs", 18, "SGL length larger than the data"),
      flag("mpsgl", 19, "MPTR with one SGL descriptor"),
      flag("aos", 20, "Address as offset"),
      flag("tpds", 21, "Transport SGL Data Block descriptor"),
    ],
  },
];

/**
 * Identify Controller as text, `nvme id-ctrl -H` style: strings as the device
 * sent them, every bit field explained, every power state descriptor.
 *
 * ```ts
 * import { Controller } from "../../mod.ts";
 * declare const nvme0: Controller;
 * console.log(describeIdentifyController(nvme0.identifyData).join("\n"));
 * ```
 */
export function describeIdentifyController(d: Uint8Array): string[] {
  checkArgs(
    "describeIdentifyController",
    FUNCTIONS.describeIdentifyController,
    [d],
  );
  const dv = viewOf(d);
  const lines = [
    `vid       : 0x${dv.getUint16(0, true).toString(16)}`,
    `ssvid     : 0x${dv.getUint16(2, true).toString(16)}`,
    `sn        : ${asciiField(d, 4, 23)}`,
    `mn        : ${asciiField(d, 24, 63)}`,
    `fr        : ${asciiField(d, 64, 71)}`,
  ];
  const detail = decodeIdentifyControllerDetail(d);
  for (const f of ID_CTRL_BITS) {
    const v = f.size === 1
      ? d[f.offset]
      : f.size === 2
      ? dv.getUint16(f.offset, true)
      : dv.getUint32(f.offset, true);
    lines.push(`${f.name.padEnd(10)}: 0x${v.toString(16)}`);
    for (const l of describeBits(v, f.fields)) lines.push(`  ${l}`);
  }
  for (const [k, v] of Object.entries(detail)) {
    lines.push(`${k.padEnd(10)}: ${v}`);
  }
  const scale = (v: number, s: number) =>
    s === 1
      ? `${(v / 10000).toFixed(4)}W`
      : s === 2
      ? `${(v / 100).toFixed(2)}W`
      : "-";
  const psds: PowerStateDescriptor[] = [];
  for (let i = 0; i <= d[263] && i < 32; i++) psds.push(decodePowerState(d, i));
  psds.forEach((p, i) => {
    lines.push(
      `ps ${i.toString().padStart(4)} : mp:${scale(p.mp, p.mxps ? 1 : 2)} ${
        p.nops ? "non-" : ""
      }operational enlat:${p.enlat} exlat:${p.exlat} rrt:${p.rrt} rrl:${p.rrl} rwt:${p.rwt} rwl:${p.rwl} idle_power:${
        scale(p.idlp, p.ips)
      } active_power:${scale(p.actp, p.aps)} active_power_workload:${p.apw}`,
    );
  });
  return lines;
}

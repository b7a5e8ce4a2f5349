/**
 * Decoders for the data structures of the NVMe Base Specification: Identify
 * Controller and Namespace, the SMART / Health, Error Information, Firmware
 * Slot and Commands Supported and Effects log pages, and AER completions.
 * Byte offsets follow the specification's figures; fields are named as there.
 *
 * @module
 */
import { FUNCTIONS } from "./api_table.ts";
import { checkArgs } from "./validate.ts";

import { asciiField as str, u128, viewOf as view } from "./decode/fields.ts";
import {
  decodeIdentifyControllerDetail,
  decodePowerState,
  type IdentifyControllerDetail,
  type PowerStateDescriptor,
} from "./decode/identify_ctrl.ts";
import {
  decodeIdentifyNamespaceDetail,
  type IdentifyNamespaceDetail,
} from "./decode/identify_ns.ts";
import {
  decodeErrorEntryDetail,
  decodeSmartDetail,
  type ErrorEntryDetail,
  type SmartLogDetail,
} from "./decode/logs.ts";

/**
 * A power state descriptor of Identify Controller (every field; `mp` is in
 * centiwatts when `mxps` is 0, in 0.0001 W units when it is 1).
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * nvme0.idCtrl.psd.forEach((p: PowerState, i) => console.log(`PS${i}: ${p.mp / 100} W`));
 * ```
 */
export type PowerState = PowerStateDescriptor;

/**
 * Identify Controller data structure (CNS 01h), named fields.
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * const id: IdentifyController = nvme0.idCtrl;
 * console.log(`${id.mn} ${id.sn} ${id.fr}, ${id.nn} namespaces`);
 * ```
 */
export interface IdentifyController extends IdentifyControllerDetail {
  /** PCI Vendor ID. */
  vid: number;
  /** PCI Subsystem Vendor ID. */
  ssvid: number;
  /** Serial Number. */
  sn: string;
  /** Model Number. */
  mn: string;
  /** Firmware Revision. */
  fr: string;
  /** Recommended Arbitration Burst. */
  rab: number;
  /** IEEE OUI Identifier. */
  ieee: number;
  /** Controller Multi-Path I/O and Namespace Sharing Capabilities. */
  cmic: number;
  /** Maximum Data Transfer Size (power of two of CAP.MPSMIN pages, 0: no limit). */
  mdts: number;
  /** Controller ID. */
  cntlid: number;
  /** Version. */
  ver: number;
  /** RTD3 Resume Latency (µs). */
  rtd3r: number;
  /** RTD3 Entry Latency (µs). */
  rtd3e: number;
  /** Optional Asynchronous Events Supported. */
  oaes: number;
  /** Controller Attributes. */
  ctratt: number;
  /** Controller Type. */
  cntrltype: number;
  /** Optional Admin Command Support. */
  oacs: number;
  /** Abort Command Limit (0's based). */
  acl: number;
  /** Asynchronous Event Request Limit (0's based). */
  aerl: number;
  /** Firmware Updates. */
  frmw: number;
  /** Log Page Attributes. */
  lpa: number;
  /** Error Log Page Entries (0's based). */
  elpe: number;
  /** Number of Power States Support (0's based). */
  npss: number;
  /** Warning Composite Temperature Threshold (K). */
  wctemp: number;
  /** Critical Composite Temperature Threshold (K). */
  cctemp: number;
  /** Firmware Update Granularity (4 KiB units; 0: none given, 0xFF: no restriction). */
  fwug: number;
  /** Keep Alive Support. */
  kas: number;
  /** Sanitize Capabilities. */
  sanicap: number;
  /** Submission Queue Entry Size. */
  sqes: number;
  /** Completion Queue Entry Size. */
  cqes: number;
  /** Maximum Outstanding Commands. */
  maxcmd: number;
  /** Number of Namespaces. */
  nn: number;
  /** Optional NVM Command Support. */
  oncs: number;
  /** Fused Operation Support. */
  fuses: number;
  /** Format NVM Attributes. */
  fna: number;
  /** Volatile Write Cache. */
  vwc: number;
  /** Atomic Write Unit Normal. */
  awun: number;
  /** Atomic Write Unit Power Fail. */
  awupf: number;
  /** SGL Support. */
  sgls: number;
  /** NVM Subsystem NVMe Qualified Name. */
  subnqn: string;
  /** Power state descriptors 0..npss. */
  psd: PowerState[];
}

/**
 * Decode Identify Controller data (4096 bytes).
 *
 * ```ts
 * import { Buffer, Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * using buf = new Buffer(4096);
 * nvme0.identify(buf, 0, 1).waitdone();
 * console.log(decodeIdentifyController(buf.bytes).mn);
 * ```
 */
export function decodeIdentifyController(d: Uint8Array): IdentifyController {
  checkArgs("decodeIdentifyController", FUNCTIONS.decodeIdentifyController, [
    d,
  ]);
  const dv = view(d);
  const npss = d[263];
  const psd: PowerState[] = [];
  for (let i = 0; i <= npss && i < 32; i++) psd.push(decodePowerState(d, i));
  return {
    vid: dv.getUint16(0, true),
    ssvid: dv.getUint16(2, true),
    sn: str(d, 4, 23),
    mn: str(d, 24, 63),
    fr: str(d, 64, 71),
    rab: d[72],
    ieee: d[73] | d[74] << 8 | d[75] << 16,
    cmic: d[76],
    mdts: d[77],
    cntlid: dv.getUint16(78, true),
    ver: dv.getUint32(80, true),
    rtd3r: dv.getUint32(84, true),
    rtd3e: dv.getUint32(88, true),
    oaes: dv.getUint32(92, true),
    ctratt: dv.getUint32(96, true),
    cntrltype: d[111],
    oacs: dv.getUint16(256, true),
    acl: d[258],
    aerl: d[259],
    frmw: d[260],
    lpa: d[261],
    elpe: d[262],
    npss,
    wctemp: dv.getUint16(266, true),
    cctemp: dv.getUint16(268, true),
    fwug: d[319],
    kas: dv.getUint16(320, true),
    sanicap: dv.getUint32(328, true),
    sqes: d[512],
    cqes: d[513],
    maxcmd: dv.getUint16(514, true),
    nn: dv.getUint32(516, true),
    oncs: dv.getUint16(520, true),
    fuses: dv.getUint16(522, true),
    fna: d[524],
    vwc: d[525],
    awun: dv.getUint16(526, true),
    awupf: dv.getUint16(528, true),
    sgls: dv.getUint32(536, true),
    subnqn: str(d, 768, 1023),
    psd,
    ...decodeIdentifyControllerDetail(d),
  };
}

/**
 * An LBA format of Identify Namespace.
 *
 * ```ts
 * import { Namespace } from "../mod.ts";
 * declare const nvme0n1: Namespace;
 * const formats: LbaFormat[] = decodeIdentifyNamespace(nvme0n1.identifyData).lbaf;
 * formats.forEach((f, i) => console.log(`lbaf ${i}: ${f.dataSize}+${f.ms}`));
 * ```
 */
export interface LbaFormat {
  /** Metadata size (bytes). */
  ms: number;
  /** LBA data size (bytes, 2^LBADS). */
  dataSize: number;
  /** Relative performance. */
  rp: number;
}

/**
 * Identify Namespace data structure (CNS 00h), named fields.
 *
 * ```ts
 * import { Namespace } from "../mod.ts";
 * declare const nvme0n1: Namespace;
 * const ns: IdentifyNamespace = decodeIdentifyNamespace(nvme0n1.identifyData);
 * console.log(`${ns.nsze} LBAs, format ${ns.lbaFormat}`);
 * ```
 */
export interface IdentifyNamespace extends IdentifyNamespaceDetail {
  /** Namespace Size (LBAs). */
  nsze: bigint;
  /** Namespace Capacity (LBAs). */
  ncap: bigint;
  /** Namespace Utilization (LBAs). */
  nuse: bigint;
  /** Namespace Features. */
  nsfeat: number;
  /** Number of LBA Formats (0's based). */
  nlbaf: number;
  /** Formatted LBA Size. */
  flbas: number;
  /** The LBA format in use (index). */
  lbaFormat: number;
  /** Metadata Capabilities. */
  mc: number;
  /** End-to-end Data Protection Capabilities. */
  dpc: number;
  /** End-to-end Data Protection Type Settings. */
  dps: number;
  /** Namespace Multi-path I/O and Namespace Sharing Capabilities. */
  nmic: number;
  /** Deallocate Logical Block Features. */
  dlfeat: number;
  /** NVM capacity (bytes). */
  nvmcap: bigint;
  /** Namespace Globally Unique Identifier (hex). */
  nguid: string;
  /** IEEE Extended Unique Identifier (hex). */
  eui64: string;
  /** LBA formats 0..nlbaf. */
  lbaf: LbaFormat[];
}

/**
 * Decode Identify Namespace data (4096 bytes).
 *
 * ```ts
 * import { Buffer, Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * using buf = new Buffer(4096);
 * nvme0.identify(buf, 1, 0).waitdone();
 * const ns = decodeIdentifyNamespace(buf.bytes);
 * console.log(ns.nsze, ns.lbaf[ns.lbaFormat].dataSize);
 * ```
 */
export function decodeIdentifyNamespace(d: Uint8Array): IdentifyNamespace {
  checkArgs("decodeIdentifyNamespace", FUNCTIONS.decodeIdentifyNamespace, [d]);
  const dv = view(d);
  const nlbaf = d[25];
  const lbaf: LbaFormat[] = [];
  for (let i = 0; i <= nlbaf && i < 64; i++) {
    const v = dv.getUint32(128 + i * 4, true);
    lbaf.push({
      ms: v & 0xffff,
      dataSize: 2 ** ((v >>> 16) & 0xff),
      rp: (v >>> 24) & 3,
    });
  }
  const flbas = d[26];
  const hexOf = (a: number, b: number) =>
    [...d.subarray(a, b)].map((x) => x.toString(16).padStart(2, "0")).join("");
  return {
    nsze: dv.getBigUint64(0, true),
    ncap: dv.getBigUint64(8, true),
    nuse: dv.getBigUint64(16, true),
    nsfeat: d[24],
    nlbaf,
    flbas,
    lbaFormat: (flbas & 0xf) | ((flbas >> 5) & 3) << 4,
    mc: d[27],
    dpc: d[28],
    dps: d[29],
    nmic: d[30],
    dlfeat: d[33],
    nvmcap: u128(dv, 48),
    nguid: hexOf(104, 120),
    eui64: hexOf(120, 128),
    lbaf,
    ...decodeIdentifyNamespaceDetail(d),
  };
}

/**
 * SMART / Health Information log page (02h).
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * const s: SmartLog = nvme0.smartLog();
 * console.log(`${s.temperature - 273} C, ${s.percentageUsed}% used, ${s.mediaErrors} media errors`);
 * ```
 */
export interface SmartLog extends SmartLogDetail {
  /** Critical Warning bits. */
  criticalWarning: number;
  /** Composite Temperature (K). */
  temperature: number;
  /** Available Spare (%). */
  availableSpare: number;
  /** Available Spare Threshold (%). */
  availableSpareThreshold: number;
  /** Percentage Used. */
  percentageUsed: number;
  /** Data Units Read (1000 × 512 bytes). */
  dataUnitsRead: bigint;
  /** Data Units Written (1000 × 512 bytes). */
  dataUnitsWritten: bigint;
  /** Host Read Commands. */
  hostReadCommands: bigint;
  /** Host Write Commands. */
  hostWriteCommands: bigint;
  /** Controller Busy Time (minutes). */
  controllerBusyTime: bigint;
  /** Power Cycles. */
  powerCycles: bigint;
  /** Power On Hours. */
  powerOnHours: bigint;
  /** Unsafe Shutdowns. */
  unsafeShutdowns: bigint;
  /** Media and Data Integrity Errors. */
  mediaErrors: bigint;
  /** Number of Error Information Log Entries. */
  errorLogEntries: bigint;
  /** Warning Composite Temperature Time (minutes). */
  warningTempTime: number;
  /** Critical Composite Temperature Time (minutes). */
  criticalTempTime: number;
  /** Temperature Sensors 1..8 (K, 0: not reported). */
  sensors: number[];
}

/**
 * Decode the SMART / Health Information log page (512 bytes).
 *
 * ```ts
 * import { Buffer, Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * using buf = new Buffer(512);
 * await nvme0.getlogpage(0x02, buf, { size: 512 }).waitdoneAsync();
 * console.log(decodeSmartLog(buf.bytes).dataUnitsWritten);
 * ```
 */
export function decodeSmartLog(d: Uint8Array): SmartLog {
  checkArgs("decodeSmartLog", FUNCTIONS.decodeSmartLog, [d]);
  const dv = view(d);
  const sensors: number[] = [];
  for (let i = 0; i < 8; i++) sensors.push(dv.getUint16(200 + i * 2, true));
  return {
    criticalWarning: d[0],
    temperature: dv.getUint16(1, true),
    availableSpare: d[3],
    availableSpareThreshold: d[4],
    percentageUsed: d[5],
    dataUnitsRead: u128(dv, 32),
    dataUnitsWritten: u128(dv, 48),
    hostReadCommands: u128(dv, 64),
    hostWriteCommands: u128(dv, 80),
    controllerBusyTime: u128(dv, 96),
    powerCycles: u128(dv, 112),
    powerOnHours: u128(dv, 128),
    unsafeShutdowns: u128(dv, 144),
    mediaErrors: u128(dv, 160),
    errorLogEntries: u128(dv, 176),
    warningTempTime: dv.getUint32(192, true),
    criticalTempTime: dv.getUint32(196, true),
    sensors,
    ...decodeSmartDetail(d),
  };
}

/**
 * One Error Information log entry (64 bytes).
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * const errors: ErrorLogEntry[] = nvme0.errorLog().filter((e) => e.errorCount);
 * for (const e of errors) console.log(`sqid ${e.sqid} cid ${e.cid} status 0x${e.status.toString(16)}`);
 * ```
 */
export interface ErrorLogEntry extends ErrorEntryDetail {
  /** Error Count (0: the entry is empty). */
  errorCount: bigint;
  /** Submission Queue ID. */
  sqid: number;
  /** Command ID. */
  cid: number;
  /** Status Field (without the phase tag). */
  status: number;
  /** Parameter Error Location. */
  parameterErrorLocation: number;
  /** LBA. */
  lba: bigint;
  /** Namespace. */
  nsid: number;
  /** Vendor Specific Information Available (log page). */
  vsia: number;
  /** Command Specific Information. */
  commandSpecific: bigint;
}

/**
 * Decode the Error Information log page (a multiple of 64 bytes).
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * const entries = decodeErrorLog(nvme0.logPage(0x01, 64 * (nvme0.idCtrl.elpe + 1)));
 * ```
 */
export function decodeErrorLog(d: Uint8Array): ErrorLogEntry[] {
  checkArgs("decodeErrorLog", FUNCTIONS.decodeErrorLog, [d]);
  const dv = view(d);
  const out: ErrorLogEntry[] = [];
  for (let at = 0; at + 64 <= d.byteLength; at += 64) {
    out.push({
      errorCount: dv.getBigUint64(at, true),
      sqid: dv.getUint16(at + 8, true),
      cid: dv.getUint16(at + 10, true),
      status: dv.getUint16(at + 12, true) >> 1,
      parameterErrorLocation: dv.getUint16(at + 14, true),
      lba: dv.getBigUint64(at + 16, true),
      nsid: dv.getUint32(at + 24, true),
      vsia: d[at + 28],
      commandSpecific: dv.getBigUint64(at + 32, true),
      ...decodeErrorEntryDetail(d, at / 64),
    });
  }
  return out;
}

/**
 * Firmware Slot Information log page (03h).
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * const fw: FirmwareSlotLog = nvme0.firmwareSlotLog();
 * console.log(`slot ${fw.activeSlot} active: ${fw.frs[fw.activeSlot - 1]}`);
 * ```
 */
export interface FirmwareSlotLog {
  /** Active Firmware Info. */
  afi: number;
  /** Slot running now (AFI bits 2:0). */
  activeSlot: number;
  /** Slot activated at the next reset (AFI bits 6:4, 0: none). */
  nextSlot: number;
  /** Firmware revisions of slots 1..7 ("" when empty). */
  frs: string[];
}

/**
 * Decode the Firmware Slot Information log page (512 bytes).
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * const fw = decodeFirmwareSlotLog(nvme0.logPage(0x03, 512));
 * ```
 */
export function decodeFirmwareSlotLog(d: Uint8Array): FirmwareSlotLog {
  checkArgs("decodeFirmwareSlotLog", FUNCTIONS.decodeFirmwareSlotLog, [d]);
  const frs: string[] = [];
  for (let i = 0; i < 7; i++) frs.push(str(d, 8 + i * 8, 15 + i * 8));
  return { afi: d[0], activeSlot: d[0] & 7, nextSlot: (d[0] >> 4) & 7, frs };
}

/**
 * Effects of one command (Commands Supported and Effects log, 05h).
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * const write: CommandEffects = nvme0.effectsLog().io[0x01];
 * console.log(`write supported ${write.csupp}, changes LBA content ${write.lbcc}`);
 * ```
 */
export interface CommandEffects {
  /** Command Supported. */
  csupp: boolean;
  /** Logical Block Content Change. */
  lbcc: boolean;
  /** Namespace Capability Change. */
  ncc: boolean;
  /** Namespace Inventory Change. */
  nic: boolean;
  /** Controller Capability Change. */
  ccc: boolean;
  /** Command Submission and Execution (bits 18:16). */
  cse: number;
  /** UUID Selection Supported (bit 19). */
  uss: boolean;
  /** The raw dword. */
  raw: number;
}

/**
 * Commands Supported and Effects log page, decoded per opcode.
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * const log: EffectsLog = nvme0.effectsLog();
 * const adminOpcodes = log.admin.flatMap((e, opc) => e.csupp ? [opc] : []);
 * ```
 */
export interface EffectsLog {
  /** Admin commands by opcode (0..255). */
  admin: CommandEffects[];
  /** I/O commands by opcode (0..255). */
  io: CommandEffects[];
}

/**
 * Decode the Commands Supported and Effects log page (4096 bytes).
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * const effects = decodeEffectsLog(nvme0.logPage(0x05, 4096));
 * if (!effects.io[0x09].csupp) console.log("no Dataset Management");
 * ```
 */
export function decodeEffectsLog(d: Uint8Array): EffectsLog {
  checkArgs("decodeEffectsLog", FUNCTIONS.decodeEffectsLog, [d]);
  const dv = view(d);
  const one = (raw: number): CommandEffects => ({
    csupp: (raw & 1) !== 0,
    lbcc: (raw & 2) !== 0,
    ncc: (raw & 4) !== 0,
    nic: (raw & 8) !== 0,
    ccc: (raw & 16) !== 0,
    cse: (raw >>> 16) & 7,
    uss: (raw & 0x80000) !== 0,
    raw,
  });
  const admin: CommandEffects[] = [];
  const io: CommandEffects[] = [];
  for (let i = 0; i < 256; i++) {
    admin.push(one(dv.getUint32(i * 4, true)));
    io.push(one(dv.getUint32(1024 + i * 4, true)));
  }
  return { admin, io };
}

/**
 * A decoded Asynchronous Event Request completion (CDW0).
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * nvme0.aer((cpl) => {
 *   const e: AsyncEvent = decodeAsyncEvent(cpl.cdw0);
 *   console.log(`${e.typeName}: ${e.infoName}, read log page ${e.logPage}`);
 * });
 * ```
 */
export interface AsyncEvent {
  /** The raw CDW0. */
  cdw0: number;
  /** Asynchronous Event Type (bits 2:0). */
  type: number;
  /** Its name. */
  typeName: string;
  /** Asynchronous Event Information (bits 15:8). */
  info: number;
  /** Its name. */
  infoName: string;
  /** Log Page Identifier to read (bits 23:16). */
  logPage: number;
}

const AER_TYPES = [
  "Error status",
  "SMART / Health status",
  "Notice",
  "Immediate",
  "One-Shot",
];
const AER_INFO: Record<number, Record<number, string>> = {
  0: {
    0: "Write to Invalid Doorbell Register",
    1: "Invalid Doorbell Write Value",
    2: "Diagnostic Failure",
    3: "Persistent Internal Error",
    4: "Transient Internal Error",
    5: "Firmware Image Load Error",
  },
  1: {
    0: "NVM subsystem Reliability",
    1: "Temperature Threshold",
    2: "Spare Below Threshold",
  },
  2: {
    0: "Namespace Attribute Changed",
    1: "Firmware Activation Starting",
    2: "Telemetry Log Changed",
    3: "Asymmetric Namespace Access Change",
    4: "Predictable Latency Event Aggregate Log Change",
    5: "LBA Status Information Alert",
    6: "Endurance Group Event Aggregate Log Page Change",
    7: "Normal NVM Subsystem Shutdown",
  },
  6: {
    0: "Reservation Log Page Available",
    1: "Sanitize Operation Completed",
    2: "Sanitize Operation Completed With Unexpected Deallocation",
  },
};

/**
 * Decode the CDW0 of an AER completion.
 *
 * ```ts
 * decodeAsyncEvent(0x00020101).typeName; // "SMART / Health status"
 * ```
 */
export function decodeAsyncEvent(cdw0: number): AsyncEvent {
  checkArgs("decodeAsyncEvent", FUNCTIONS.decodeAsyncEvent, [cdw0]);
  const type = cdw0 & 7;
  const info = (cdw0 >>> 8) & 0xff;
  return {
    cdw0,
    type,
    typeName: type === 6
      ? "I/O Command specific status"
      : type === 7
      ? "Vendor specific"
      : AER_TYPES[type] ?? "Reserved",
    info,
    infoName: AER_INFO[type]?.[info] ??
      (info >= 0xc0 ? "Vendor specific" : "Reserved"),
    logPage: (cdw0 >>> 16) & 0xff,
  };
}

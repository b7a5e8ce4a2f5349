/**
 * Log page fields beyond the basics (NVMe Base Specification 2.0, 5.16.1):
 * SMART / Health endurance group summary and thermal management counters,
 * the Error Information entry's phase tag and transport fields, the effects
 * log's UUID selection bit, and the critical warning bits explained.
 *
 * ```ts
 * import { Controller } from "../../mod.ts";
 * declare const nvme0: Controller;
 * import { decodeSmartDetail } from "../../mod.ts";
 * const s = nvme0.smartLog();
 * console.log(`${s.tmt1tc} transitions to TMT1, ${s.tmt1tt} s there`);
 * ```
 *
 * @module
 */
import { FUNCTIONS } from "../api_table.ts";
import { checkArgs } from "../validate.ts";
import { type BitField, describeBits, viewOf } from "./fields.ts";

/**
 * SMART / Health fields beyond the basic ones (all in {@linkcode SmartLog}).
 *
 * ```ts
 * import { Controller } from "../../mod.ts";
 * declare const nvme0: Controller;
 * const { egcws }: SmartLogDetail = nvme0.smartLog();
 * ```
 */
export interface SmartLogDetail {
  /** Endurance Group Critical Warning Summary (byte 6). */
  egcws: number;
  /** Thermal Management Temperature 1 Transition Count. */
  tmt1tc: number;
  /** Thermal Management Temperature 2 Transition Count. */
  tmt2tc: number;
  /** Total Time For Thermal Management Temperature 1 (s). */
  tmt1tt: number;
  /** Total Time For Thermal Management Temperature 2 (s). */
  tmt2tt: number;
}

/**
 * Decode the detail fields of the SMART / Health log page (512 bytes).
 *
 * ```ts
 * decodeSmartDetail(new Uint8Array(512)).tmt1tc; // 0
 * ```
 */
export function decodeSmartDetail(d: Uint8Array): SmartLogDetail {
  checkArgs("decodeSmartDetail", FUNCTIONS.decodeSmartDetail, [d]);
  const dv = viewOf(d);
  return {
    egcws: d[6],
    tmt1tc: dv.getUint32(216, true),
    tmt2tc: dv.getUint32(220, true),
    tmt1tt: dv.getUint32(224, true),
    tmt2tt: dv.getUint32(228, true),
  };
}

/**
 * Critical Warning bits of the SMART / Health log (byte 0).
 *
 * ```ts
 * import { Controller, describeBits } from "../../mod.ts";
 * declare const nvme0: Controller;
 * describeBits(nvme0.smartLog().criticalWarning, CRITICAL_WARNING);
 * ```
 */
export const CRITICAL_WARNING: readonly BitField[] = [
  { name: "spare", lo: 0, hi: 0, desc: "Available spare below threshold" },
  { name: "temperature", lo: 1, hi: 1, desc: "Temperature threshold crossed" },
  {
    name: "reliability",
    lo: 2,
    hi: 2,
    desc: "NVM subsystem reliability degraded",
  },
  { name: "readOnly", lo: 3, hi: 3, desc: "Media placed in read only mode" },
  {
    name: "volatileBackup",
    lo: 4,
    hi: 4,
    desc: "Volatile memory backup device failed",
  },
  {
    name: "pmr",
    lo: 5,
    hi: 5,
    desc: "Persistent Memory Region read only or unreliable",
  },
];

/**
 * Endurance Group Critical Warning Summary bits (byte 6).
 *
 * ```ts
 * import { Controller, describeBits } from "../../mod.ts";
 * declare const nvme0: Controller;
 * describeBits(nvme0.smartLog().egcws, ENDURANCE_GROUP_WARNING);
 * ```
 */
export const ENDURANCE_GROUP_WARNING: readonly BitField[] = [
  {
    name: "spare",
    lo: 0,
    hi: 0,
    desc: "Available spare of an endurance group below threshold",
  },
  {
    name: "reliability",
    lo: 2,
    hi: 2,
    desc: "Reliability of an endurance group degraded",
  },
  {
    name: "readOnly",
    lo: 3,
    hi: 3,
    desc: "An endurance group in read only mode",
  },
];

/**
 * The critical warnings of a SMART log as text lines.
 *
 * ```ts
 * import { Controller } from "../../mod.ts";
 * declare const nvme0: Controller;
 * console.log(describeSmartWarnings(nvme0.smartLog()).join("\n"));
 * ```
 */
export function describeSmartWarnings(
  s: { criticalWarning: number; egcws: number },
): string[] {
  checkArgs("describeSmartWarnings", FUNCTIONS.describeSmartWarnings, [s]);
  return [
    `critical_warning: 0x${s.criticalWarning.toString(16)}`,
    ...describeBits(s.criticalWarning, CRITICAL_WARNING).map((l) => `  ${l}`),
    `endurance_grp_critical_warning_summary: 0x${s.egcws.toString(16)}`,
    ...describeBits(s.egcws, ENDURANCE_GROUP_WARNING).map((l) => `  ${l}`),
  ];
}

/**
 * Error Information entry fields beyond the basic ones (all in
 * {@linkcode ErrorLogEntry}).
 *
 * ```ts
 * import { Controller } from "../../mod.ts";
 * declare const nvme0: Controller;
 * const { phaseTag, trtype }: ErrorEntryDetail = nvme0.errorLog()[0];
 * ```
 */
export interface ErrorEntryDetail {
  /** Phase Tag of the completion (bit 0 of the status field). */
  phaseTag: number;
  /** Transport Type (0: PCIe; as in the Discovery log). */
  trtype: number;
  /** Transport Type Specific Information. */
  trtypeSpecific: number;
}

/**
 * Decode the detail fields of Error Information entry `index`.
 *
 * ```ts
 * decodeErrorEntryDetail(new Uint8Array(64), 0).trtype; // 0
 * ```
 */
export function decodeErrorEntryDetail(
  d: Uint8Array,
  index: number,
): ErrorEntryDetail {
  checkArgs("decodeErrorEntryDetail", FUNCTIONS.decodeErrorEntryDetail, [
    d,
    index,
  ]);
  const dv = viewOf(d);
  const at = index * 64;
  return {
    phaseTag: d[at + 12] & 1,
    trtype: d[at + 29],
    trtypeSpecific: dv.getUint16(at + 40, true),
  };
}

/**
 * Transport type names (Error Information entry TRTYPE, Discovery log).
 *
 * ```ts
 * TRANSPORT_TYPES[3]; // "TCP"
 * ```
 */
export const TRANSPORT_TYPES: Readonly<Record<number, string>> = {
  0: "PCIe (or not reported)",
  1: "RDMA",
  2: "Fibre Channel",
  3: "TCP",
  254: "intra-host (loopback)",
};

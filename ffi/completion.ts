/**
 * A decoded completion queue entry, as passed to command callbacks.
 *
 * @module
 */
import { registerClass } from "./validate.ts";
import { statusName, statusText } from "./status.ts";
import type { VerifyFailure } from "./verify.ts";
import {
  NVME_CPL_GONE,
  NVME_CPL_LATE,
  NVME_CPL_TIMEOUT,
  NVME_CPL_UNKNOWN,
  NVME_CPL_VERIFY_CRC,
  NVME_CPL_VERIFY_LBA,
  NVME_CPL_VERIFY_UNC,
} from "./abi.gen.ts";

/** Flags the driver attaches to a completion it reports. */
export const CPL_TIMEOUT = NVME_CPL_TIMEOUT;
/** The device answered a command the driver had already timed out. */
export const CPL_LATE = NVME_CPL_LATE;
/** A CQE that matched no outstanding command. */
export const CPL_UNKNOWN = NVME_CPL_UNKNOWN;
/** Synthesized because the device is gone or the queue was torn down. */
export const CPL_GONE = NVME_CPL_GONE;
/** Data verification: a block held another LBA's data (status rewritten to 07/81). */
export const CPL_VERIFY_LBA = NVME_CPL_VERIFY_LBA;
/** Data verification: a block's CRC differed (status rewritten to 07/81). */
export const CPL_VERIFY_CRC = NVME_CPL_VERIFY_CRC;
/** Data verification: a block written uncorrectable read successfully (07/81). */
export const CPL_VERIFY_UNC = NVME_CPL_VERIFY_UNC;
/** Any data verification failure. */
export const CPL_VERIFY = CPL_VERIFY_LBA | CPL_VERIFY_CRC | CPL_VERIFY_UNC;

/**
 * One completion: the raw CQE dwords and their fields.
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * nvme0.getfeatures(7, {
 *   cb: (cpl) => console.log(cpl.cdw0.toString(16), cpl.statusText, cpl.sqhd),
 * }).waitdone();
 * ```
 */
export class Completion {
  /** The four CQE dwords as written by the device (pynvme's `cpl` tuple). */
  readonly dwords: readonly [number, number, number, number];
  /** Latency from submission to reaping, in microseconds. */
  readonly latencyUs: number;
  /** Driver flags (CPL_TIMEOUT, CPL_GONE, ...). */
  readonly flags: number;
  /** Opcode of the command this completes. */
  readonly opcode: number;
  /** What a read that failed data verification found (status 07/81). */
  readonly verify?: VerifyFailure;

  /** Build from the four dwords, latency and driver flags. */
  constructor(
    dwords: [number, number, number, number],
    latencyUs: number,
    flags: number,
    opcode: number,
    verify?: VerifyFailure,
  ) {
    this.dwords = dwords;
    this.latencyUs = latencyUs;
    this.flags = flags;
    this.opcode = opcode;
    if (verify) this.verify = verify;
  }
  /** DW0, as pynvme's `cpl[0]` (callbacks get the CQE as a 4-tuple there). */
  get 0(): number {
    return this.dwords[0];
  }
  /** DW1, as pynvme's `cpl[1]`. */
  get 1(): number {
    return this.dwords[1];
  }
  /** DW2 (SQID << 16 | SQHD), as pynvme's `cpl[2]`. */
  get 2(): number {
    return this.dwords[2];
  }
  /** DW3 (status and phase << 16 | CID), as pynvme's `cpl[3]`. */
  get 3(): number {
    return this.dwords[3];
  }
  /** Command specific result (DW0). */
  get cdw0(): number {
    return this.dwords[0];
  }
  /** DW1 (command specific). */
  get dw1(): number {
    return this.dwords[1];
  }
  /** Submission queue head pointer. */
  get sqhd(): number {
    return this.dwords[2] & 0xffff;
  }
  /** Submission queue identifier. */
  get sqid(): number {
    return this.dwords[2] >>> 16;
  }
  /** Command identifier. */
  get cid(): number {
    return this.dwords[3] & 0xffff;
  }
  /** Phase tag. */
  get phase(): number {
    return (this.dwords[3] >>> 16) & 1;
  }
  /** The 15-bit status field (SC | SCT << 8 | CRD << 11 | M << 13 | DNR << 14). */
  get status(): number {
    return (this.dwords[3] >>> 17) & 0x7fff;
  }
  /** Status Code. */
  get sc(): number {
    return this.status & 0xff;
  }
  /** Status Code Type. */
  get sct(): number {
    return (this.status >> 8) & 7;
  }
  /** Command Retry Delay. */
  get crd(): number {
    return (this.status >> 11) & 3;
  }
  /** More (information in the error log). */
  get more(): boolean {
    return ((this.status >> 13) & 1) === 1;
  }
  /** Do Not Retry. */
  get dnr(): boolean {
    return ((this.status >> 14) & 1) === 1;
  }
  /** True when SCT and SC are zero. */
  get ok(): boolean {
    return (this.status & 0x7ff) === 0;
  }
  /** True when the driver synthesized this completion after the timeout. */
  get timedOut(): boolean {
    return (this.flags & CPL_TIMEOUT) !== 0;
  }
  /** "00/80" */
  get statusText(): string {
    return statusText(this.sct, this.sc);
  }
  /** "LBA Out of Range" */
  get statusName(): string {
    return statusName(this.sct, this.sc);
  }
}

registerClass(Completion);

/**
 * Data verification (pynvme's per-LBA CRC check), the TypeScript side of
 * `libnvmeshim/verify.c`: failure reports, table statistics, and the calls
 * behind {@link Namespace.verifyEnable}.
 *
 * With verification on for a namespace, every write to it (scripted or from an
 * ioworker) is stamped (LBA number in the first 8 bytes of each block, a
 * unique write token in the last 8), the CRC-32C of each written block is kept
 * in a sparse per-LBA table, and every successful read is checked against it.
 * A read that does not match fails with status 07/81 and `waitdone` throws a
 * {@link VerifyError} naming the LBA, the expected and the found values.
 *
 * @module
 */
import { FUNCTIONS } from "./api_table.ts";
import { checkArgs } from "./validate.ts";
import { lib, unwrap } from "./lib.ts";
import {
  NVME_CRC,
  NVME_VERIFY_CRC,
  NVME_VERIFY_F_FNA_ALL,
  NVME_VERIFY_F_FNA_SES,
  NVME_VERIFY_F_NO_CHECK,
  NVME_VERIFY_FAILURE as F,
  NVME_VERIFY_LBA,
  NVME_VERIFY_STATS as S,
  NVME_VERIFY_TOKEN_INFO,
  NVME_VERIFY_UNC,
} from "./abi.gen.ts";
import { CStruct } from "./cstruct.ts";

/**
 * What kind of mismatch a verified read found:
 * - `"lba mismatch"`: the block holds another LBA's data (a mapping error),
 * - `"crc mismatch"`: the block's CRC differs (corrupt or stale data),
 * - `"uncorrectable"`: the block was written uncorrectable, yet read back.
 *
 * ```ts
 * import type { VerifyKind } from "./verify.ts";
 * const k: VerifyKind = "crc mismatch";
 * ```
 */
export type VerifyKind = "lba mismatch" | "crc mismatch" | "uncorrectable";

const KINDS: Record<number, VerifyKind> = {
  [NVME_VERIFY_LBA]: "lba mismatch",
  [NVME_VERIFY_CRC]: "crc mismatch",
  [NVME_VERIFY_UNC]: "uncorrectable",
};

/**
 * The details of a read that failed verification, attached to its
 * {@link Completion} (`cpl.verify`) and to the {@link VerifyError}.
 *
 * ```ts
 * import type { VerifyFailure } from "./verify.ts";
 * function show(f: VerifyFailure): string {
 *   return `${f.kind} at LBA ${f.lba} (${f.badBlocks} bad)`;
 * }
 * ```
 */
export interface VerifyFailure {
  /** Kind of the first bad block. */
  kind: VerifyKind;
  /** Every kind seen among the command's bad blocks. */
  kinds: VerifyKind[];
  /** The first bad LBA. */
  lba: number;
  /** The last bad LBA. */
  lastLba: number;
  /** Blocks of the command that failed. */
  badBlocks: number;
  /** Table entry of the first bad block: its CRC-32C as written (0xFFFFFFFF: written uncorrectable). */
  expected: number;
  /** CRC-32C of the first bad block as read. */
  found: number;
  /** The LBA number stamped in the first 8 bytes of the first bad block. */
  foundLba: number;
  /** The write token stamped in the last 8 bytes of the first bad block. */
  foundToken: bigint;
  /** Namespace id. */
  nsid: number;
  /** First LBA of the read. */
  slba: number;
  /** LBAs of the read. */
  nlb: number;
}

function hex8(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, "0")}`;
}

/**
 * A failure in words, e.g. `CRC mismatch at LBA 103: expected CRC 0x1c2d...,
 * found 0x...` or `LBA mismatch at LBA 9: expected data of LBA 9, found data
 * of LBA 2`.
 *
 * ```ts
 * import { describeVerifyFailure } from "./verify.ts";
 * // console.log(describeVerifyFailure(err.failure));
 * ```
 */
export function describeVerifyFailure(f: VerifyFailure): string {
  checkArgs("describeVerifyFailure", FUNCTIONS.describeVerifyFailure, [f]);
  let s: string;
  if (f.kind === "lba mismatch") {
    s =
      `LBA mismatch at LBA ${f.lba}: expected data of LBA ${f.lba}, found data of LBA ${f.foundLba}`;
  } else if (f.kind === "uncorrectable") {
    s = `LBA ${f.lba} was written uncorrectable, yet read successfully`;
  } else {
    s = `CRC mismatch at LBA ${f.lba}: expected CRC ${
      hex8(f.expected)
    }, found ${hex8(f.found)}`;
  }
  if (f.badBlocks > 1) {
    s +=
      ` (${f.badBlocks} of ${f.nlb} blocks bad, the last at LBA ${f.lastLba}`;
    if (f.kinds.length > 1) s += `; kinds: ${f.kinds.join(", ")}`;
    s += ")";
  }
  return s;
}

const rep = new CStruct(F);

/**
 * @ignore @internal The report of the completion with `tag` on the SQ `sqHandle`
 * (flags CPL_VERIFY_*), or undefined when it is no longer kept.
 */
export function readVerifyFailure(
  sqHandle: number,
  tag: number,
): VerifyFailure | undefined {
  if (lib.nvme_sq_verify_report(sqHandle, tag, rep.bytes, rep.size) < 0) {
    return undefined;
  }
  const n = (off: number) => rep.u64(off);
  const kinds: VerifyKind[] = [];
  for (const k of [NVME_VERIFY_LBA, NVME_VERIFY_CRC, NVME_VERIFY_UNC]) {
    if (n(F.kinds) & (1 << k)) kinds.push(KINDS[k]);
  }
  return {
    kind: KINDS[n(F.kind)] ?? "crc mismatch",
    kinds,
    lba: n(F.lba),
    lastLba: n(F.last_lba),
    expected: n(F.expected),
    found: n(F.found),
    foundLba: n(F.found_lba),
    foundToken: rep.big(F.found_token),
    badBlocks: n(F.nbad),
    nsid: n(F.nsid),
    slba: n(F.slba),
    nlb: n(F.nlb),
  };
}

/**
 * The state of a namespace's verification table ({@link Namespace.verifyStats}).
 *
 * ```ts
 * import type { VerifyStats } from "./verify.ts";
 * const mib = (s: VerifyStats) => s.tableBytes / 2 ** 20;
 * ```
 */
export interface VerifyStats {
  /** Verification is on: writes stamped and recorded, reads checked. */
  enabled: boolean;
  /**
   * Writes are stamped and recorded (the table is on), whether reads are
   * checked ({@link Namespace.verifyEnable}) or not ({@link Namespace.stampEnable}).
   */
  stamping: boolean;
  /** Bytes per LBA the table was set up for. */
  lbaSize: number;
  /** LBAs covered, from LBA 0. */
  limit: number;
  /** Leaves of 256 entries allocated. */
  leaves: number;
  /** Bytes of node memory the table has mapped (2 MiB slabs): it follows the LBAs written. */
  tableBytes: number;
  /** Bytes of the directory mapping (virtual; resident only where written). */
  directoryBytes: number;
  /** Bytes of the LBA lock map (virtual; resident only where used). */
  lockBytes: number;
  /** Blocks stamped by writes. */
  stamped: number;
  /** Blocks whose CRC was checked on read. */
  checked: number;
  /** Blocks read that were never written (not checked). */
  skipped: number;
  /** Blocks that failed verification. */
  badBlocks: number;
  /** Reads that failed verification. */
  failedReads: number;
  /**
   * Submissions refused because a conflicting command was in flight (each
   * retry counts: a measure of how much the locks held IO back).
   */
  conflicts: number;
  /** Table leaves that could not be allocated (those LBAs stay unchecked). */
  allocFailures: number;
}

const st = new CStruct(S);

/** @ignore @internal Statistics of `nsid`'s table on the controller `ctrl`. */
export function verifyStats(ctrl: number, nsid: number): VerifyStats {
  unwrap(
    lib.nvme_ns_verify_stats(ctrl, nsid, st.bytes, st.size),
    `namespace ${nsid}`,
  );
  const n = (off: number) => st.u64(off);
  return {
    enabled: n(S.on) === 1 && !(n(S.flags) & VERIFY_F_NO_CHECK),
    stamping: n(S.on) === 1,
    lbaSize: n(S.lba_size),
    limit: n(S.limit),
    leaves: n(S.leaves),
    tableBytes: n(S.slab_bytes),
    directoryBytes: n(S.dir_bytes),
    lockBytes: n(S.lock_bytes),
    stamped: n(S.stamped),
    checked: n(S.checked),
    skipped: n(S.skipped),
    badBlocks: n(S.bad_blocks),
    failedReads: n(S.bad_cmds),
    conflicts: n(S.conflicts),
    allocFailures: n(S.alloc_failures),
  };
}

/** Flags of nvme_ns_verify_enable(): a format formats every namespace (FNA bit 0). */
export const VERIFY_F_FNA_ALL = NVME_VERIFY_F_FNA_ALL;
/** A secure erase by a format erases every namespace (FNA bit 1). */
export const VERIFY_F_FNA_SES = NVME_VERIFY_F_FNA_SES;
/** Stamp and record writes, do not check reads (pynvme with verification off). */
export const VERIFY_F_NO_CHECK = NVME_VERIFY_F_NO_CHECK;

const ENOMEM = -12;

/**
 * @ignore @internal Turn `nsid`'s table on; false when the process cannot map its
 * directory (too large), other failures throw.
 */
export function verifyOn(
  ctrl: number,
  nsid: number,
  lbaSize: number,
  nlba: number,
  limit: number,
  flags: number,
): boolean {
  const rc = lib.nvme_ns_verify_enable(
    ctrl,
    nsid,
    lbaSize,
    BigInt(nlba),
    BigInt(limit),
    flags,
  );
  if (rc === ENOMEM) return false;
  unwrap(rc, `namespace ${nsid}: verification`);
  return true;
}

/** @ignore @internal Turn `nsid`'s table off (throws while commands on it are in flight). */
export function verifyOff(ctrl: number, nsid: number): void {
  unwrap(
    lib.nvme_ns_verify_disable(ctrl, nsid),
    `namespace ${nsid}: verification`,
  );
}

/** @ignore @internal Raw table entries of `count` LBAs from `lba`. */
export function verifyEntries(
  ctrl: number,
  nsid: number,
  lba: number | bigint,
  count: number,
): number[] {
  const out = new Uint32Array(count);
  unwrap(
    lib.nvme_ns_verify_get(ctrl, nsid, BigInt(lba), count, out),
    `namespace ${nsid}`,
  );
  return [...out];
}

/**
 * The CRC-32C (Castagnoli) of `data`, as the verification table computes it
 * for a block (hardware accelerated where the CPU has SSE4.2).
 *
 * ```ts
 * import { crc32c } from "./verify.ts";
 * crc32c(new TextEncoder().encode("123456789")); // 0xe3069283
 * ```
 */
export function crc32c(data: Uint8Array): number {
  checkArgs("crc32c", FUNCTIONS.crc32c, [data]);
  const out = new CStruct(NVME_CRC);
  unwrap(
    lib.nvme_crc32c(
      data as Uint8Array<ArrayBuffer>,
      data.length,
      out.bytes,
      out.size,
    ),
  );
  return out.u32(NVME_CRC.crc);
}

/**
 * The write token the next stamped block will carry: every written block gets
 * its own (the token advances by one per block, process-wide).
 *
 * ```ts
 * import { writeToken } from "./verify.ts";
 * const before = writeToken();
 * // ... 100 writes of 8 LBAs later: writeToken() - before === 800n
 * ```
 */
export function writeToken(): bigint {
  checkArgs("writeToken", FUNCTIONS.writeToken, []);
  const out = new CStruct(NVME_VERIFY_TOKEN_INFO);
  unwrap(lib.nvme_verify_token(out.bytes, out.size));
  return out.big(NVME_VERIFY_TOKEN_INFO.next);
}

/**
 * The ioworker's shared memory (libnvmeshim/include/nvmeshim_ioworker.h, its
 * offsets generated into abi.gen.ts): the argument block the C loop reads, the
 * words of the shared progress/result block, and the latency histogram's
 * bucket bounds.
 *
 * @module
 */
import { NvmeError } from "./errors.ts";
import { lib, unwrap } from "./lib.ts";
import type { Plan } from "./ioworker_plan.ts";
import { CStruct } from "./cstruct.ts";
import {
  IOW_ARGS,
  IOW_ARGS_MAGIC,
  IOW_F_DISTRIBUTION,
  IOW_F_SEQUENCE,
  IOW_F_STEP,
  IOW_MAX_BUF_BYTES,
  IOW_MAX_OPS,
  IOW_MAX_PCT,
  IOW_MAX_QDEPTH,
  IOW_MAX_SIZES,
  IOW_MAX_WEIGHT,
  IOW_OP,
  IOW_REC,
  IOW_SEQ,
  IOW_SHM,
  IOW_SHM_MAGIC,
  IOW_SIZE,
  IOW_ST_RUNNING,
  IOW_STOP_DRAIN,
  IOW_STOP_NOW,
  NVME_IOW_LAYOUT,
} from "./abi.gen.ts";

// --- shared layouts: libnvmeshim/include/nvmeshim_ioworker.h, via abi.gen.ts ---------

const A = IOW_ARGS;
export const ARGS_MAGIC = IOW_ARGS_MAGIC;
export const SHM_MAGIC = IOW_SHM_MAGIC;
export const MAX_SIZES = IOW_MAX_SIZES;
export const MAX_OPS = IOW_MAX_OPS;
export const MAX_PCT = IOW_MAX_PCT;
export const MAX_WEIGHT = IOW_MAX_WEIGHT;
export const MAX_QDEPTH = IOW_MAX_QDEPTH;
export const MAX_BUF_BYTES = IOW_MAX_BUF_BYTES;
export const ARGS_SIZE = A.sizeof;
export const SEQ_RECORD = IOW_SEQ.sizeof;
export const REC_SIZE = IOW_REC.sizeof;
/** Byte offsets in a struct iow_seq record. */
export const SEQ = IOW_SEQ;
/** Byte offsets in a struct iow_rec record. */
export const REC = IOW_REC;

const S = IOW_SHM;
// iow_shm: Int32 words
export const W_MAGIC = S.magic / 4, W_STOP = S.stop / 4, W_STATE = S.state / 4;
export const W_DONE = S.done / 4, W_HOST_ERROR = S.host_error / 4;
export const W_ERROR = S.error / 4, W_ERROR_OPC = S.error_opcode / 4;
export const W_ERROR_NLB = S.error_nlb / 4;
// iow_shm: BigUint64 words
export const Q_ERROR_LBA = S.error_lba / 8, Q_ELAPSED_US = S.elapsed_us / 8;
export const Q_SUBMITTED = S.submitted / 8, Q_COMPLETED = S.completed / 8;
export const Q_READS = S.reads / 8, Q_WRITES = S.writes / 8;
export const Q_NONREADS = S.nonreads / 8, Q_IN_FLIGHT = S.in_flight / 8;
export const Q_LAT_SUM = S.lat_sum_ns / 8, Q_LAT_MAX = S.lat_max_ns / 8;
export const Q_CPU = S.cpu_ns / 8, Q_IPS_USED = S.ips_used / 8;
export const Q_CMDLOG_COUNT = S.cmdlog_count / 8, Q_PCT = S.pct_us / 8;
export const Q_OP_COUNTS = S.op_counts / 8;
export const OFF_MESSAGE = S.message;

export const STOP_DRAIN = IOW_STOP_DRAIN, STOP_NOW = IOW_STOP_NOW;
export const ST_RUNNING = IOW_ST_RUNNING;

/** The argument block (struct iow_args) of a validated workload. */
export function encodeArgs(
  p: Plan,
  nsid: number,
  lbaSize: number,
): Uint8Array<ArrayBuffer> {
  const buf = new Uint8Array(ARGS_SIZE);
  const dv = new DataView(buf.buffer);
  dv.setUint32(A.magic, ARGS_MAGIC, true);
  dv.setUint32(A.size, ARGS_SIZE, true);
  dv.setUint32(A.nsid, nsid, true);
  dv.setUint32(A.lba_size, lbaSize, true);
  dv.setBigUint64(A.region_start, p.regionStart, true);
  dv.setBigUint64(A.region_end, p.regionEnd, true);
  dv.setBigUint64(A.lba_start, p.lbaStart, true);
  dv.setBigUint64(A.io_count, p.ioCount, true);
  dv.setBigUint64(A.time_ms, BigInt(p.timeMs), true);
  dv.setBigUint64(A.seed, p.seed, true);
  dv.setUint32(A.iops, p.iops, true);
  dv.setUint32(A.qdepth, p.qdepth, true);
  dv.setUint32(A.lba_random, p.lbaRandom, true);
  dv.setInt32(A.lba_step, p.lbaStep ?? 0, true);
  dv.setUint32(
    A.flags,
    (p.lbaStep !== undefined ? IOW_F_STEP : 0) |
      (p.distribution ? IOW_F_DISTRIBUTION : 0) |
      (p.sequence ? IOW_F_SEQUENCE : 0),
    true,
  );
  dv.setUint32(A.ptype, p.ptype, true);
  dv.setUint32(A.pvalue, p.pvalue >>> 0, true);
  dv.setUint32(A.max_lbas, p.maxLbas, true);
  dv.setUint32(A.nsizes, p.sizes.length, true);
  dv.setUint32(A.nops, p.ops.length, true);
  dv.setUint32(A.npct, p.percentiles.length, true);
  dv.setUint32(A.nseq, p.nseq, true);
  dv.setUint32(A.cmdlog_n, p.cmdlogN, true);
  dv.setUint32(A.ips_n, p.ipsN, true);
  p.sizes.forEach((s, i) => {
    const at = A.sizes + i * IOW_SIZE.sizeof;
    dv.setUint32(at + IOW_SIZE.lbas, s.lbas, true);
    dv.setUint32(at + IOW_SIZE.weight, s.weight, true);
    dv.setUint32(at + IOW_SIZE.align, s.align, true);
  });
  p.ops.forEach(([opc, pct], i) => {
    const at = A.ops + i * IOW_OP.sizeof;
    dv.setUint32(at + IOW_OP.opcode, opc, true);
    dv.setUint32(at + IOW_OP.percent, pct, true);
  });
  p.distribution?.forEach((d, i) =>
    dv.setUint32(A.distribution + i * 4, d, true)
  );
  p.percentiles.forEach((x, i) => dv.setFloat64(A.pct + i * 8, x, true));
  return buf;
}

/** Byte offsets of the variable parts of an ioworker's shared memory. */
export interface Layout {
  header: number;
  ips: number;
  cmdlog: number;
  hist: number;
  total: number;
  buckets: number;
}

/** The shared memory layout for `ipsN` per-second slots and a `cmdlogN`-IO ring. */
export function layout(ipsN: number, cmdlogN: number): Layout {
  const L = NVME_IOW_LAYOUT;
  const o = new CStruct(L);
  unwrap(lib.nvme_ioworker_layout(ipsN, cmdlogN, o.bytes, o.size), "ioworker");
  if (o.u32(L.args_size) !== ARGS_SIZE || o.u32(L.rec_size) !== REC_SIZE) {
    throw new NvmeError(
      `libnvmeshim's ioworker layout (${
        o.u32(L.args_size)
      }-byte arguments) does not match this module (${ARGS_SIZE}): run \`deno task build\``,
    );
  }
  return {
    header: o.u32(L.header),
    ips: o.u32(L.ips_off),
    cmdlog: o.u32(L.cmdlog_off),
    hist: o.u32(L.hist_off),
    total: o.u32(L.total),
    buckets: o.u32(L.buckets),
  };
}

/** Highest latency (µs) counted in histogram bucket `i` (the C side's bound). */
export function bucketHigh(i: number): number {
  return Number(lib.nvme_ioworker_bucket_high(i));
}

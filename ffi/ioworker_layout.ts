/**
 * The ioworker's shared memory layouts (libnvmeshim/ioworker.h): the argument
 * block the C loop reads, the words of the shared progress/result block, and
 * the latency histogram's bucket bounds.
 *
 * @module
 */
import { NvmeError } from "./errors.ts";
import { lib, unwrap } from "./lib.ts";
import type { Plan } from "./ioworker_plan.ts";

// --- shared layouts (libnvmeshim/ioworker.h) ----------------------------------------

export const ARGS_MAGIC = 0x31574f49;
export const SHM_MAGIC = 0x314d4853;
export const MAX_SIZES = 1024;
export const MAX_OPS = 256;
export const MAX_PCT = 64;
export const MAX_WEIGHT = 10000;
export const MAX_QDEPTH = 1024;
export const MAX_BUF_BYTES = 256 * 2 ** 20;
export const ARGS_SIZE = 19472;
export const OFF_SIZES = 128;
export const OFF_OPS = OFF_SIZES + 16 * MAX_SIZES;
export const OFF_DIST = OFF_OPS + 8 * MAX_OPS;
export const OFF_PCT = OFF_DIST + 4 * 100;
export const F_STEP = 1;
export const F_DISTRIBUTION = 2;
export const F_SEQUENCE = 4;
export const SEQ_RECORD = 24;
export const REC_SIZE = 32;
export const HIST_SUB = 512;

// iow_shm: Int32 words
export const W_MAGIC = 0, W_STOP = 1, W_STATE = 2, W_DONE = 3, W_HOST_ERROR = 4;
export const W_ERROR = 5, W_ERROR_OPC = 6, W_ERROR_NLB = 7;
// iow_shm: BigUint64 words
export const Q_ERROR_LBA = 4,
  Q_ELAPSED_US = 5,
  Q_SUBMITTED = 6,
  Q_COMPLETED = 7;
export const Q_READS = 8, Q_WRITES = 9, Q_NONREADS = 10, Q_IN_FLIGHT = 11;
export const Q_LAT_SUM = 12, Q_LAT_MAX = 13, Q_CPU = 14, Q_IPS_USED = 15;
export const Q_CMDLOG_COUNT = 16, Q_PCT = 17, Q_OP_COUNTS = 17 + MAX_PCT;
export const OFF_MESSAGE = (Q_OP_COUNTS + 256) * 8;

export const STOP_DRAIN = 1, STOP_NOW = 2;
export const ST_RUNNING = 1;

export function encodeArgs(
  p: Plan,
  nsid: number,
  lbaSize: number,
): Uint8Array<ArrayBuffer> {
  const buf = new Uint8Array(ARGS_SIZE);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, ARGS_MAGIC, true);
  dv.setUint32(4, ARGS_SIZE, true);
  dv.setUint32(8, nsid, true);
  dv.setUint32(12, lbaSize, true);
  dv.setBigUint64(16, p.regionStart, true);
  dv.setBigUint64(24, p.regionEnd, true);
  dv.setBigUint64(32, p.lbaStart, true);
  dv.setBigUint64(40, p.ioCount, true);
  dv.setBigUint64(48, BigInt(p.timeMs), true);
  dv.setBigUint64(56, p.seed, true);
  dv.setUint32(64, p.iops, true);
  dv.setUint32(68, p.qdepth, true);
  dv.setUint32(72, p.lbaRandom, true);
  dv.setInt32(76, p.lbaStep ?? 0, true);
  dv.setUint32(
    80,
    (p.lbaStep !== undefined ? F_STEP : 0) |
      (p.distribution ? F_DISTRIBUTION : 0) | (p.sequence ? F_SEQUENCE : 0),
    true,
  );
  dv.setUint32(84, p.ptype, true);
  dv.setUint32(88, p.pvalue >>> 0, true);
  dv.setUint32(92, p.maxLbas, true);
  dv.setUint32(96, p.sizes.length, true);
  dv.setUint32(100, p.ops.length, true);
  dv.setUint32(104, p.percentiles.length, true);
  dv.setUint32(108, p.nseq, true);
  dv.setUint32(112, p.cmdlogN, true);
  dv.setUint32(116, p.ipsN, true);
  p.sizes.forEach((s, i) => {
    dv.setUint32(OFF_SIZES + i * 16, s.lbas, true);
    dv.setUint32(OFF_SIZES + i * 16 + 4, s.weight, true);
    dv.setUint32(OFF_SIZES + i * 16 + 8, s.align, true);
  });
  p.ops.forEach(([opc, pct], i) => {
    dv.setUint32(OFF_OPS + i * 8, opc, true);
    dv.setUint32(OFF_OPS + i * 8 + 4, pct, true);
  });
  p.distribution?.forEach((d, i) => dv.setUint32(OFF_DIST + i * 4, d, true));
  p.percentiles.forEach((x, i) => dv.setFloat64(OFF_PCT + i * 8, x, true));
  return buf;
}

export interface Layout {
  header: number;
  ips: number;
  cmdlog: number;
  hist: number;
  total: number;
  buckets: number;
}

export function layout(ipsN: number, cmdlogN: number): Layout {
  const o = new Uint32Array(8);
  unwrap(lib.nvme_ioworker_layout(ipsN, cmdlogN, o, 8), "ioworker");
  if (o[6] !== ARGS_SIZE || o[7] !== REC_SIZE) {
    throw new NvmeError(
      `libnvmeshim's ioworker layout (${
        o[6]
      }-byte arguments) does not match this module (${ARGS_SIZE}): run \`deno task build\``,
    );
  }
  return {
    header: o[0],
    ips: o[1],
    cmdlog: o[2],
    hist: o[3],
    total: o[4],
    buckets: o[5],
  };
}

/** Highest latency (µs) counted in histogram bucket `i` (see ioworker.h). */
export function bucketHigh(i: number): number {
  if (i < 2 * HIST_SUB) return i;
  const e = Math.floor(i / HIST_SUB) - 1;
  return ((i % HIST_SUB) + HIST_SUB) * 2 ** e + 2 ** e - 1;
}

/**
 * IO workers (pynvme's `ioworker`): fio-class workloads that run in parallel
 * with the script.
 *
 * Each ioworker gets its own IO queue pair (created on the main thread with
 * Create I/O CQ/SQ) and its own Deno Worker, which calls the blocking C loop
 * `nvme_ioworker_run()` (libnvmeshim/ioworker.c): LBA, size and opcode
 * generation, throttling, the latency histogram, per-second counts and the
 * last-N IO ring are all in C, with no FFI call per IO. The stop flag, live
 * progress and the results live in one SharedArrayBuffer, so the script's event
 * loop keeps running (send admin commands with `waitdoneAsync`, read SMART,
 * start more workers) while the IO flows.
 *
 * Data buffers: each of the `qdepth - 1` IOs in flight has its own write slot
 * (the largest IO size, filled with the ptype/pvalue pattern per LBA); reads
 * share one sink buffer, unless data verification is on for the namespace
 * ({@link Namespace.verifyEnable}) when the worker starts: then writes are
 * stamped and recorded and each read gets its own slot and is checked, through
 * the same hooks as scripted IO; a mismatch ends the worker with error 07/81
 * and the details in its `errorMessage`.
 *
 * @module
 */
import { Completion } from "./completion.ts";
import type { Controller } from "./controller.ts";
import { ClosedError, NvmeError, ParameterError } from "./errors.ts";
import { matchExpected } from "./expect.ts";
import { lib, unwrap } from "./lib.ts";
import type { Namespace } from "./namespace.ts";
import { Qpair } from "./qpair.ts";
import { commandName, statusName } from "./status.ts";

// --- shared layouts (libnvmeshim/ioworker.h) ----------------------------------------

const ARGS_MAGIC = 0x31574f49;
const SHM_MAGIC = 0x314d4853;
const MAX_SIZES = 1024;
const MAX_OPS = 256;
const MAX_PCT = 64;
const MAX_WEIGHT = 10000;
const MAX_QDEPTH = 1024;
const MAX_BUF_BYTES = 256 * 2 ** 20;
const ARGS_SIZE = 19472;
const OFF_SIZES = 128;
const OFF_OPS = OFF_SIZES + 16 * MAX_SIZES;
const OFF_DIST = OFF_OPS + 8 * MAX_OPS;
const OFF_PCT = OFF_DIST + 4 * 100;
const F_STEP = 1;
const F_DISTRIBUTION = 2;
const F_SEQUENCE = 4;
const SEQ_RECORD = 24;
const REC_SIZE = 32;
const HIST_SUB = 512;

// iow_shm: Int32 words
const W_MAGIC = 0, W_STOP = 1, W_STATE = 2, W_DONE = 3, W_HOST_ERROR = 4;
const W_ERROR = 5, W_ERROR_OPC = 6, W_ERROR_NLB = 7;
// iow_shm: BigUint64 words
const Q_ERROR_LBA = 4, Q_ELAPSED_US = 5, Q_SUBMITTED = 6, Q_COMPLETED = 7;
const Q_READS = 8, Q_WRITES = 9, Q_NONREADS = 10, Q_IN_FLIGHT = 11;
const Q_LAT_SUM = 12, Q_LAT_MAX = 13, Q_CPU = 14, Q_IPS_USED = 15;
const Q_CMDLOG_COUNT = 16, Q_PCT = 17, Q_OP_COUNTS = 17 + MAX_PCT;
const OFF_MESSAGE = (Q_OP_COUNTS + 256) * 8;

const STOP_DRAIN = 1, STOP_NOW = 2;
const ST_RUNNING = 1;

/**
 * pynvme's host error codes, plus two of denvme's (see {@link IoWorkerResult.hostError}).
 *
 * ```ts
 * const r = nvme0n1.ioworker({ time: 5 }).start().close();
 * if (r.hostError === IoWorkerHostError.TERMINATED) console.log("stopped by a reset");
 * ```
 */
export const IoWorkerHostError = {
  /** No host-side error. */
  OK: 0,
  /** Bad arguments or queues: the loop did not start. */
  INIT: -1,
  /** An IO larger than the transfer limit. */
  MDTS: -2,
  /** An IO did not complete within the controller's command timeout. */
  IO_TIMEOUT: -3,
  /** Still running 30 s after its `time`. */
  GUARD_TIMEOUT: -4,
  /** No DMA memory for the data buffers. */
  NO_MEMORY: -5,
  /** A submission failed. */
  SUBMIT: -6,
  /**
   * Stopped by a controller reset, disable or close, or its queue was dropped
   * by a reset of the function (FLR, hot reset, power cycle).
   */
  TERMINATED: -7,
  /** The device is gone (QEMU exited, device removed, powered off). */
  DEVICE_GONE: -8,
  /** The controller stopped being ready (reset, FLR, fatal status) under IO. */
  NOT_READY: -9,
} as const;

// --- parameters ---------------------------------------------------------------------

/**
 * One IO of a replayed trace: [time µs from the start, opcode, start LBA, LBA count].
 *
 * ```ts
 * const trace: IoSequenceEntry[] = [[0, 0x01, 0, 8], [100, 0x02, 0, 8], [250, 0x09, 0, 8]];
 * nvme0n1.ioworker({ ioSequence: trace }).start().close();
 * ```
 */
export type IoSequenceEntry = readonly [
  timeUs: number,
  opcode: number,
  lba: number | bigint,
  count: number,
];

/**
 * Parameters of {@link Namespace.ioworker} (pynvme's names in camelCase).
 *
 * ```ts
 * const jedec: IoWorkerOptions = {
 *   ioSize: { 1: 4, 2: 1, 8: 67, 16: 10, 32: 7, 64: 3, 128: 8 },
 *   lbaRandom: true,
 *   readPercentage: 40,
 *   qdepth: 32,
 *   time: 60,
 *   outputIoPerSecond: true,
 *   outputPercentileLatency: [50, 99, 99.9],
 * };
 * const r = nvme0n1.ioworker(jedec).start().close();
 * ```
 */
export interface IoWorkerOptions {
  /**
   * LBAs per IO: a number, a list (equally likely) or `{size: weight}`
   * (weights sum to at most 10 000). Default 8.
   */
  ioSize?: number | readonly number[] | Readonly<Record<number, number>>;
  /** Sequential IO: next LBA = previous + lbaStep (-0x7fff..0x7fff). Default: contiguous. */
  lbaStep?: number;
  /** Start LBA alignment: a number, or one per ioSize entry. Default 1. */
  lbaAlign?: number | readonly number[];
  /** Percentage of IOs at random LBAs, 0..100 (`true` = 100). Default 100. */
  lbaRandom?: number | boolean;
  /** Read percentage 0..100, the rest writes. Default 100. */
  readPercentage?: number;
  /**
   * `{opcode: percent}` summing to 100, e.g. `{2: 70, 1: 20, 9: 5, 0: 5}`:
   * read, write, trim (DSM deallocate, one range), flush; write zeroes (8),
   * write uncorrectable (4), compare (5), verify (0x0C) and vendor opcodes too
   * (data direction from opcode bits 1:0).
   */
  opPercentage?: Readonly<Record<number, number>>;
  /** Run time in seconds (ms resolution, up to 1000 h). 0: no limit. */
  time?: number;
  /** IOs to complete. 0: no limit. */
  ioCount?: number;
  /** Queue entries, 2..1024 and at most CAP.MQES+1; qdepth - 1 IOs in flight. Default 64. */
  qdepth?: number;
  /** First LBA of the region (inclusive). Default 0. */
  regionStart?: number | bigint;
  /** End of the region (exclusive), clamped to the namespace size. Default: the namespace end. */
  regionEnd?: number | bigint;
  /** First LBA of sequential IO (raised to regionStart). Default 0. */
  lbaStart?: number | bigint;
  /** Throttle: IOs per second, exact to ±1 per second. 0: unlimited. */
  iops?: number;
  /** SQ priority for weighted round robin, 0..3. Default 0. */
  qprio?: number;
  /** 100 numbers summing to 10 000: IOs per 10 000 in each 1 % slice of the region (random IO only). */
  distribution?: readonly number[];
  /** Write data pattern: 0 (zeros/ones), 32 (dword pvalue), 0xBEEF (random, pvalue % per LBA). Default 0xBEEF. */
  ptype?: number;
  /** Pattern value (see ptype). Default 100. */
  pvalue?: number;
  /** Replay a trace of `[timeUs, opcode, lba, count]`, in time order; other workload parameters are ignored. */
  ioSequence?: readonly IoSequenceEntry[];
  /** Random seed, for a reproducible workload. Default: random (reported in the result). */
  seed?: number | bigint;
  /** Report IOs completed per second (`true`, or an array that close() fills). */
  outputIoPerSecond?: boolean | number[];
  /**
   * Report latency percentiles in µs: a list such as `[50, 99, 99.9]`, or an
   * object whose keys are percentiles (close() fills its values, like pynvme).
   */
  outputPercentileLatency?: readonly number[] | Record<string, number | null>;
  /** Report the last N IOs (a count, or an array of N that close() fills), oldest first. */
  outputCmdlogList?: number | unknown[];
}

/**
 * One IO from the last-N list.
 *
 * ```ts
 * const r = nvme0n1.ioworker({ time: 1, outputCmdlogList: 100 }).start().close();
 * const slow: IoRecord[] = r.cmdlog!.filter((io) => io.latencyUs > 1000);
 * ```
 */
export interface IoRecord {
  /** Start LBA (0 for flush). */
  lba: number;
  /** LBA count (0 for flush). */
  count: number;
  /** Opcode. */
  opcode: number;
  /** (SCT << 8) | SC of its completion. */
  status: number;
  /** Latency in µs. */
  latencyUs: number;
  /** Completion time in µs since the worker started. */
  timeUs: number;
  /** Command identifier. */
  cid: number;
}

/**
 * What {@link IoWorker.close} returns (pynvme's result, camelCase).
 *
 * ```ts
 * const r: IoWorkerResult = nvme0n1.ioworker({ time: 2, outputIoPerSecond: true }).start().close();
 * const iops = (r.ioCountRead + r.ioCountNonread) * 1000 / r.mseconds;
 * if (!r.ok) throw new Error(r.errorMessage);
 * ```
 */
export interface IoWorkerResult {
  /** Reads (02h) completed. */
  ioCountRead: number;
  /** Every other IO completed (writes included). */
  ioCountNonread: number;
  /** Writes (01h) completed. */
  ioCountWrite: number;
  /** Duration in milliseconds, from the first submission to the last completion. */
  mseconds: number;
  /** Largest latency, µs. */
  latencyMaxUs: number;
  /** Average latency, µs. */
  latencyAverageUs: number;
  /** CPU time of the worker thread / duration (1 = one core busy). */
  cpuUsage: number;
  /** (SCT << 8) | SC of the first failing IO (07FFh: timeout), 0 when all succeeded. */
  error: number;
  /** 0, or one of {@link IoWorkerHostError} (timeout, reset, device gone, ...). */
  hostError: number;
  /** What went wrong, in words (undefined when nothing did). */
  errorMessage?: string;
  /** True when `error` and `hostError` are both 0. */
  ok: boolean;
  /** True when stop() ended it early. */
  stopped: boolean;
  /** IOs completed per opcode (only opcodes used). */
  opCounts: Record<number, number>;
  /** IOs completed in each second (with `outputIoPerSecond`). */
  ioPerSecond?: number[];
  /** Latency in µs by percentile (with `outputPercentileLatency`). */
  latencyPercentiles?: Record<string, number>;
  /** Non-empty histogram buckets as [highest µs in the bucket, IOs] (with `outputPercentileLatency`). */
  latencyDistribution?: [number, number][];
  /** The last IOs, oldest first (with `outputCmdlogList`). */
  cmdlog?: IoRecord[];
  /** The seed of the random generator. */
  seed: bigint;
}

/**
 * Live counters of a running worker ({@link IoWorker.progress}).
 *
 * ```ts
 * const w = nvme0n1.ioworker({ time: 10 }).start();
 * while (w.running) {
 *   const p: IoWorkerProgress = w.progress;
 *   console.log(`${p.seconds.toFixed(1)} s: ${p.ioCount} IOs, ${p.inFlight} in flight`);
 *   await new Promise((r) => setTimeout(r, 1000));
 * }
 * w.close();
 * ```
 */
export interface IoWorkerProgress {
  /** Seconds since the first submission. */
  seconds: number;
  /** IOs completed. */
  ioCount: number;
  /** Reads completed. */
  ioCountRead: number;
  /** Writes completed. */
  ioCountWrite: number;
  /** IOs submitted. */
  submitted: number;
  /** IOs in flight. */
  inFlight: number;
}

const KNOWN = new Set([
  "ioSize",
  "lbaStep",
  "lbaAlign",
  "lbaRandom",
  "readPercentage",
  "opPercentage",
  "time",
  "ioCount",
  "qdepth",
  "regionStart",
  "regionEnd",
  "lbaStart",
  "iops",
  "qprio",
  "distribution",
  "ptype",
  "pvalue",
  "ioSequence",
  "seed",
  "outputIoPerSecond",
  "outputPercentileLatency",
  "outputCmdlogList",
]);

function bad(msg: string): never {
  throw new ParameterError(`ioworker: ${msg}`);
}

function show(v: unknown): string {
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) {
    return `[${v.slice(0, 4).map(show).join(", ")}${
      v.length > 4 ? ", ..." : ""
    }]`;
  }
  if (v && typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function int(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v)) {
    bad(`${name} must be an integer in ${min}..${max}, got ${show(v)}`);
  }
  if (v < min || v > max) {
    bad(`${name} = ${v} is out of range: allowed ${min}..${max}`);
  }
  return v;
}

function lbaParam(name: string, v: unknown, max: bigint): bigint {
  let b: bigint;
  if (typeof v === "bigint") b = v;
  else if (typeof v === "number" && Number.isSafeInteger(v)) b = BigInt(v);
  else {
    bad(`${name} must be an LBA (integer number or bigint), got ${show(v)}`);
  }
  if (b < 0n || b > max) {
    bad(`${name} = ${b} is out of range: allowed 0..${max}`);
  }
  return b;
}

function snake(name: string): string | undefined {
  const camel = name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return KNOWN.has(camel) ? camel : undefined;
}

/** The validated workload, ready to encode. */
interface Plan {
  sizes: { lbas: number; weight: number; align: number }[];
  ops: [number, number][];
  lbaRandom: number;
  lbaStep?: number;
  timeMs: number;
  ioCount: bigint;
  qdepth: number;
  regionStart: bigint;
  regionEnd: bigint;
  lbaStart: bigint;
  iops: number;
  qprio: number;
  distribution?: number[];
  ptype: number;
  pvalue: number;
  sequence?: Uint8Array<ArrayBuffer>;
  nseq: number;
  maxLbas: number;
  seed: bigint;
  ipsN: number;
  cmdlogN: number;
  percentiles: number[];
}

function parseSizes(
  o: IoWorkerOptions,
  maxLbas: number,
): { lbas: number; weight: number }[] {
  const v = o.ioSize ?? 8;
  const range = `1..${maxLbas}`;
  const one = (x: unknown) => int("ioSize", x, 1, maxLbas);
  if (typeof v === "number") return [{ lbas: one(v), weight: 1 }];
  if (Array.isArray(v)) {
    if (!v.length || v.length > MAX_SIZES) {
      bad(
        `ioSize list has ${v.length} entries: allowed 1..${MAX_SIZES}, each ${range}`,
      );
    }
    return v.map((x) => ({ lbas: one(x), weight: 1 }));
  }
  if (v && typeof v === "object") {
    const entries = Object.entries(v);
    if (!entries.length || entries.length > MAX_SIZES) {
      bad(
        `ioSize {size: weight} has ${entries.length} entries: allowed 1..${MAX_SIZES}`,
      );
    }
    let total = 0;
    const out = entries.map(([k, w]) => {
      const lbas = one(Number(k));
      const weight = int(`ioSize weight of size ${k}`, w, 1, MAX_WEIGHT);
      total += weight;
      return { lbas, weight };
    });
    if (total > MAX_WEIGHT) {
      bad(`ioSize weights sum to ${total}: allowed at most ${MAX_WEIGHT}`);
    }
    return out;
  }
  bad(
    `ioSize must be a number of LBAs (${range}), a list of them, or {size: weight}, got ${
      show(v)
    }`,
  );
}

function parseOps(o: IoWorkerOptions): [number, number][] {
  if (o.readPercentage !== undefined && o.opPercentage !== undefined) {
    bad("give readPercentage or opPercentage, not both");
  }
  if (o.opPercentage !== undefined) {
    const v = o.opPercentage;
    if (!v || typeof v !== "object" || Array.isArray(v)) {
      bad(
        `opPercentage must be {opcode: percent}, e.g. {2: 70, 1: 30}, got ${
          show(v)
        }`,
      );
    }
    let sum = 0;
    const ops: [number, number][] = [];
    for (const [k, p] of Object.entries(v)) {
      const opc = Number(k);
      if (!Number.isInteger(opc) || opc < 0 || opc > 255) {
        bad(`opPercentage opcode ${show(k)}: allowed 0..255`);
      }
      const pct = int(`opPercentage[${opc}]`, p, 0, 100);
      sum += pct;
      if (pct) ops.push([opc, pct]);
    }
    if (sum !== 100) {
      bad(`opPercentage values sum to ${sum}: they must sum to 100`);
    }
    return ops;
  }
  const rp = int("readPercentage", o.readPercentage ?? 100, 0, 100);
  return ([[2, rp], [1, 100 - rp]] as [number, number][]).filter(([, p]) => p);
}

function parsePercentiles(o: IoWorkerOptions): number[] {
  const v = o.outputPercentileLatency;
  if (v === undefined) return [];
  let keys: unknown[];
  if (Array.isArray(v)) keys = v;
  else if (v && typeof v === "object") keys = Object.keys(v).map(Number);
  else {
    bad(
      `outputPercentileLatency must be a list of percentiles such as [50, 99, 99.9] (or an object keyed by them), got ${
        show(v)
      }`,
    );
  }
  if (keys.length > MAX_PCT) {
    bad(
      `outputPercentileLatency has ${keys.length} percentiles: allowed at most ${MAX_PCT}`,
    );
  }
  return keys.map((p) => {
    if (typeof p !== "number" || !(p > 0 && p <= 100)) {
      bad(
        `outputPercentileLatency: percentile ${
          show(p)
        } must be a number in (0, 100]`,
      );
    }
    return p;
  });
}

/** Validate every parameter against the namespace and controller; throws ParameterError. */
function plan(ns: Namespace, o: IoWorkerOptions): Plan {
  if (!o || typeof o !== "object" || Array.isArray(o)) {
    bad(
      `parameters must be an object such as {ioSize: 8, time: 10}, got ${
        show(o)
      }`,
    );
  }
  for (const k of Object.keys(o)) {
    if (!KNOWN.has(k)) {
      const s = snake(k);
      bad(
        `unknown parameter "${k}"${s ? ` (did you mean ${s}?)` : ""}: allowed ${
          [...KNOWN].join(", ")
        }`,
      );
    }
  }
  const ctrl = ns.ctrl;
  const lbaSize = ns.lbaSize;
  const cap = BigInt(ns.capacity);
  // the largest IO: MDTS, the driver's one-PRP-list limit (2 MiB) and 65536 LBAs
  const maxBytes = Math.min(ctrl.mdts, 2 * 2 ** 20);
  const maxLbas = Math.max(1, Math.min(65536, Math.floor(maxBytes / lbaSize)));
  const mqes = Math.min(MAX_QDEPTH, ctrl.mqes);
  const qdepth = int(
    `qdepth${mqes < MAX_QDEPTH ? ` (at most CAP.MQES+1 = ${mqes})` : ""}`,
    o.qdepth ?? 64,
    2,
    mqes,
  );
  const qprio = int("qprio", o.qprio ?? 0, 0, 3);

  // stop conditions
  let timeMs = 0;
  if (o.time !== undefined) {
    if (
      typeof o.time !== "number" || !Number.isFinite(o.time) || o.time < 0 ||
      o.time > 3_600_000
    ) {
      bad(
        `time must be a number of seconds in 0..3600000 (1000 h), got ${
          show(o.time)
        }`,
      );
    }
    timeMs = Math.round(o.time * 1000);
    if (o.time > 0 && timeMs === 0) {
      bad(`time = ${o.time} s is below the 1 ms resolution`);
    }
  }
  let ioCount = BigInt(
    int("ioCount", o.ioCount ?? 0, 0, Number.MAX_SAFE_INTEGER),
  );
  const iops = int("iops", o.iops ?? 0, 0, 10_000_000);

  // region
  const regionStart = lbaParam("regionStart", o.regionStart ?? 0, cap - 1n);
  let regionEnd = cap;
  if (o.regionEnd !== undefined) {
    regionEnd = lbaParam("regionEnd", o.regionEnd, 0xffff_ffff_ffff_ffffn);
    if (regionEnd > cap) regionEnd = cap; // pynvme clamps to the namespace
  }
  if (regionEnd <= regionStart) {
    bad(
      `regionEnd ${regionEnd} must be above regionStart ${regionStart} (the namespace has ${cap} LBAs)`,
    );
  }
  const lbaStart = lbaParam("lbaStart", o.lbaStart ?? 0, cap - 1n);

  // data pattern
  const ptype = o.ptype ?? 0xbeef;
  if (ptype !== 0 && ptype !== 32 && ptype !== 0xbeef) {
    bad(
      `ptype = ${
        show(ptype)
      } is not supported: use 0 (zeros/ones), 32 (dword) or 0xBEEF (random)`,
    );
  }
  const pvalue = ptype === 0xbeef
    ? int("pvalue (random %)", o.pvalue ?? 100, 0, 100)
    : int("pvalue", o.pvalue ?? 0, 0, 0xffffffff);

  let seed: bigint;
  if (o.seed === undefined) {
    const r = new BigUint64Array(1);
    crypto.getRandomValues(r);
    seed = r[0];
  } else {
    seed = lbaParam("seed", o.seed, 0xffff_ffff_ffff_ffffn);
  }

  // outputs
  let cmdlogN = 0;
  const cl = o.outputCmdlogList;
  if (typeof cl === "number") cmdlogN = int("outputCmdlogList", cl, 0, 1 << 20);
  else if (Array.isArray(cl)) {
    cmdlogN = int("outputCmdlogList (array length)", cl.length, 0, 1 << 20);
  } else if (cl !== undefined) {
    bad(
      `outputCmdlogList must be a count of IOs or an array of that length, got ${
        show(cl)
      }`,
    );
  }
  const oips = o.outputIoPerSecond;
  if (oips !== undefined && typeof oips !== "boolean" && !Array.isArray(oips)) {
    bad(
      `outputIoPerSecond must be true or an array to fill, got ${show(oips)}`,
    );
  }
  const percentiles = parsePercentiles(o);

  // trace replay
  if (o.ioSequence !== undefined) {
    const seq = o.ioSequence;
    if (!Array.isArray(seq) || !seq.length || seq.length > 50_000_000) {
      bad(
        `ioSequence must be a non-empty list of [timeUs, opcode, lba, count], got ${
          show(seq)
        }`,
      );
    }
    if (iops) {
      bad(
        `iops must be 0 with ioSequence (the trace has its own times), got ${iops}`,
      );
    }
    const buf = new Uint8Array(seq.length * SEQ_RECORD);
    const dv = new DataView(buf.buffer);
    let prev = 0;
    let maxN = 1;
    seq.forEach((e, i) => {
      if (!Array.isArray(e) || e.length !== 4) {
        bad(
          `ioSequence[${i}] must be [timeUs, opcode, lba, count], got ${
            show(e)
          }`,
        );
      }
      const t = int(
        `ioSequence[${i}] timeUs`,
        e[0],
        prev,
        Number.MAX_SAFE_INTEGER,
      );
      prev = t;
      const opc = int(`ioSequence[${i}] opcode`, e[1], 0, 255);
      const lba = lbaParam(`ioSequence[${i}] lba`, e[2], cap - 1n);
      const n = opc === 0 ? 0 : int(`ioSequence[${i}] count`, e[3], 1, maxLbas);
      if (lba + BigInt(n) > cap) {
        bad(
          `ioSequence[${i}]: lba ${lba} + count ${n} is past the end of the namespace (${cap} LBAs)`,
        );
      }
      maxN = Math.max(maxN, n);
      dv.setBigUint64(i * SEQ_RECORD, BigInt(t), true);
      dv.setBigUint64(i * SEQ_RECORD + 8, lba, true);
      dv.setUint32(i * SEQ_RECORD + 16, n, true);
      dv.setUint32(i * SEQ_RECORD + 20, opc, true);
    });
    checkBuffers(qdepth, maxN, lbaSize);
    return {
      sizes: [{ lbas: maxN, weight: 1, align: 1 }],
      ops: [[2, 100]],
      lbaRandom: 0,
      timeMs,
      ioCount,
      qdepth,
      regionStart,
      regionEnd,
      lbaStart,
      iops: 0,
      qprio,
      ptype,
      pvalue,
      sequence: buf,
      nseq: seq.length,
      maxLbas: maxN,
      seed,
      ipsN: ipsSlots(timeMs),
      cmdlogN,
      percentiles,
    };
  }

  // the generator
  const sizes0 = parseSizes(o, maxLbas);
  let aligns: number[];
  if (o.lbaAlign === undefined) aligns = sizes0.map(() => 1);
  else if (typeof o.lbaAlign === "number") {
    const a = int("lbaAlign", o.lbaAlign, 1, 0xffffffff);
    aligns = sizes0.map(() => a);
  } else if (Array.isArray(o.lbaAlign)) {
    if (o.lbaAlign.length !== sizes0.length) {
      bad(
        `lbaAlign list has ${o.lbaAlign.length} entries: give one per ioSize entry (${sizes0.length})`,
      );
    }
    aligns = o.lbaAlign.map((a, i) => int(`lbaAlign[${i}]`, a, 1, 0xffffffff));
  } else {
    bad(
      `lbaAlign must be a number or one per ioSize entry, got ${
        show(o.lbaAlign)
      }`,
    );
  }
  const sizes = sizes0.map((s, i) => ({ ...s, align: aligns[i] }));
  const ops = parseOps(o);
  let lbaRandom: number;
  if (typeof o.lbaRandom === "boolean") lbaRandom = o.lbaRandom ? 100 : 0;
  else {lbaRandom = int(
      "lbaRandom (%, or a boolean)",
      o.lbaRandom ?? 100,
      0,
      100,
    );}
  let lbaStep: number | undefined;
  if (o.lbaStep !== undefined) {
    lbaStep = int("lbaStep", o.lbaStep, -0x7fff, 0x7fff);
    if (lbaRandom === 100) {
      bad(
        "lbaStep applies to sequential IO: give lbaRandom below 100 (e.g. false)",
      );
    }
  }
  let distribution: number[] | undefined;
  if (o.distribution !== undefined) {
    const d = o.distribution;
    if (!Array.isArray(d) || d.length !== 100) {
      bad(
        `distribution must be a list of 100 IO counts (per 10 000) for each 1% slice of the region, got ${
          show(d)
        }`,
      );
    }
    distribution = d.map((x, i) => int(`distribution[${i}]`, x, 0, 10000));
    const sum = distribution.reduce((a, b) => a + b, 0);
    if (sum !== 10000) bad(`distribution sums to ${sum}: it must sum to 10000`);
    if (lbaRandom !== 100) {
      bad(
        `distribution needs all-random IO: lbaRandom must be 100 (or true), got ${lbaRandom}`,
      );
    }
  }
  const maxIo = Math.max(...sizes.map((s) => s.lbas));
  checkBuffers(qdepth, maxIo, lbaSize);
  // pynvme: sequential IO of one size over a given region fills it once
  const explicitEnd = o.regionEnd !== undefined;
  if (
    !timeMs && !ioCount && lbaRandom === 0 && typeof o.ioSize !== "object" &&
    explicitEnd
  ) {
    const len = regionEnd - (lbaStart > regionStart ? lbaStart : regionStart);
    ioCount = (len + BigInt(maxIo) - 1n) / BigInt(maxIo);
  }
  if (!timeMs && !ioCount) {
    bad("when should it stop? give time (seconds), ioCount or ioSequence");
  }
  return {
    sizes,
    ops,
    lbaRandom,
    lbaStep,
    timeMs,
    ioCount,
    qdepth,
    regionStart,
    regionEnd,
    lbaStart,
    iops,
    qprio,
    distribution,
    ptype,
    pvalue,
    nseq: 0,
    maxLbas: maxIo,
    seed,
    ipsN: ipsSlots(timeMs),
    cmdlogN,
    percentiles,
  };
}

function ipsSlots(timeMs: number): number {
  // a time-limited run fills ceil(time) slots; otherwise up to a day of seconds
  return timeMs ? Math.ceil(timeMs / 1000) + 1 : 86400;
}

function checkBuffers(qdepth: number, maxLbas: number, lbaSize: number): void {
  const slot = Math.ceil((maxLbas * lbaSize) / 4096) * 4096;
  const bytes = slot * (qdepth - 1);
  if (bytes > MAX_BUF_BYTES) {
    bad(
      `qdepth ${qdepth} with IOs of up to ${maxLbas} LBAs needs ${
        (bytes / 2 ** 20).toFixed(0)
      } MiB of data buffers: at most ${
        MAX_BUF_BYTES / 2 ** 20
      } MiB (lower qdepth or ioSize)`,
    );
  }
}

function encodeArgs(
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

interface Layout {
  header: number;
  ips: number;
  cmdlog: number;
  hist: number;
  total: number;
  buckets: number;
}

function layout(ipsN: number, cmdlogN: number): Layout {
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
function bucketHigh(i: number): number {
  if (i < 2 * HIST_SUB) return i;
  const e = Math.floor(i / HIST_SUB) - 1;
  return ((i % HIST_SUB) + HIST_SUB) * 2 ** e + 2 ** e - 1;
}

/** Running workers per controller (stopped before a reset, disable or close). */
const running = new WeakMap<Controller, Set<IoWorker>>();

/**
 * Stop every running ioworker of `nvme` now, as before a reset, and wait for
 * them (bounded): their results report {@link IoWorkerHostError.TERMINATED}
 * with `why`. Controller reset/disable/close call this; call it yourself
 * before resetting the device another way (FLR, power cycle by hand).
 *
 * ```ts
 * stopIoworkers(nvme0, "FLR");
 * nvme0.pcie.setCfg(0x78, 0x8000, 2); // ... then nvme0.reset()
 * ```
 */
export function stopIoworkers(nvme: Controller, why = "stopped"): void {
  const set = running.get(nvme);
  if (!set) return;
  for (const w of [...set]) w.terminate(why);
}

let serial = 0;

/**
 * An IO worker (pynvme `ioworker`): a workload on its own IO queue pair, run by
 * a Deno Worker in C while the script goes on. Create it with
 * {@link Namespace.ioworker}, then `start()`, and `close()` for the result;
 * `using` closes it.
 *
 * ```ts
 * using w = nvme0n1.ioworker({ ioSize: 8, readPercentage: 70, time: 5, qdepth: 32 }).start();
 * while (w.running) {
 *   await nvme0.getlogpage(2, smart, { size: 512 }).waitdoneAsync();
 *   await new Promise((r) => setTimeout(r, 1000));
 * }
 * const r = w.close(); // { ioCountRead, ioCountWrite, mseconds, latencyAverageUs, error, ... }
 * ```
 */
export class IoWorker {
  /** The namespace. */
  readonly ns: Namespace;
  /** The parameters as given. */
  readonly options: Readonly<IoWorkerOptions>;
  /** Name in messages: "ioworker 3 (nsid 1)". */
  readonly label: string;
  #plan: Plan;
  #qpair?: Qpair;
  #worker?: Worker;
  #sab?: SharedArrayBuffer;
  #i32?: Int32Array;
  #u64?: BigUint64Array;
  #layout?: Layout;
  #started = false;
  #finished = false;
  #result?: IoWorkerResult;
  #terminated?: string;
  #stopped = false;
  #doneWaiters: (() => void)[] = [];

  /** @internal Use {@link Namespace.ioworker}. Validates every parameter. */
  constructor(ns: Namespace, options: IoWorkerOptions = {}) {
    this.ns = ns;
    this.options = options;
    this.#plan = plan(ns, options);
    this.label = `ioworker ${++serial} (nsid ${ns.nsid})`;
  }

  /**
   * The queue pair the worker drives (after start; deleted by close).
   *
   * ```ts
   * const w = nvme0n1.ioworker({ time: 1 }).start();
   * console.log(`on I/O queue ${w.qpair?.sqid}`);
   * ```
   */
  get qpair(): Qpair | undefined {
    return this.#qpair;
  }
  /**
   * The seed of the workload's random generator.
   *
   * ```ts
   * const w = nvme0n1.ioworker({ time: 1 });
   * const again = nvme0n1.ioworker({ time: 1, seed: w.seed }); // the same LBAs and sizes
   * ```
   */
  get seed(): bigint {
    return this.#plan.seed;
  }

  /**
   * Create the queue pair and start the workload; returns once its loop runs
   * (like pynvme, which waits for the child's "STARTED").
   *
   * ```ts
   * const w = nvme0n1.ioworker({ ioSize: 8, time: 5 }).start();
   * // ... the script goes on while the IO flows ...
   * const r = w.close();
   * ```
   */
  start(): this {
    if (this.#started) throw new NvmeError(`${this.label} was already started`);
    const ctrl = this.ns.ctrl;
    if (ctrl.closed) throw new ClosedError("Controller");
    const p = this.#plan;
    // interrupts off: the loop polls (on VFIO each one would wake a thread)
    const qpair = new Qpair(ctrl, p.qdepth, p.qprio, false);
    let handles: { sq: number; cq: number };
    let lay: Layout;
    try {
      handles = qpair.claim(this.label);
      lay = layout(p.ipsN, p.cmdlogN);
    } catch (e) {
      qpair.unclaim();
      qpair.delete();
      throw e; // not started: start() may be tried again
    }
    this.#started = true;
    this.#qpair = qpair;
    this.#layout = lay;
    const sab = this.#sab = new SharedArrayBuffer(lay.total);
    this.#i32 = new Int32Array(sab, 0, 8);
    this.#u64 = new BigUint64Array(sab, 0, lay.header >> 3);
    this.#i32[W_MAGIC] = SHM_MAGIC;
    const args = encodeArgs(p, this.ns.nsid, this.ns.lbaSize);
    const seq = p.sequence ?? new Uint8Array(8);
    const worker = this.#worker = new Worker(
      new URL("./ioworker_thread.ts", import.meta.url).href,
      { type: "module", name: this.label },
    );
    worker.onmessage = () => this.#onDone();
    worker.onerror = (e) => {
      e.preventDefault();
      this.#setMessage(`the worker thread failed: ${e.message}`);
      Atomics.store(this.#i32!, W_HOST_ERROR, IoWorkerHostError.INIT);
      Atomics.store(this.#i32!, W_DONE, 1);
      this.#onDone();
    };
    let set = running.get(ctrl);
    if (!set) running.set(ctrl, set = new Set());
    set.add(this);
    worker.postMessage({
      ...handles,
      args: args.buffer,
      seq: seq.buffer,
      shm: sab,
    }, [
      args.buffer,
      seq.buffer,
    ]);
    // wait until the loop runs, or the start failed
    const end = Date.now() + 15_000;
    while (
      Atomics.load(this.#i32, W_STATE) < ST_RUNNING &&
      !Atomics.load(this.#i32, W_DONE)
    ) {
      if (Date.now() > end) {
        // (should C start after all, it sees the stop flag at once)
        Atomics.store(this.#i32, W_STOP, STOP_NOW);
        this.#setMessage("its thread did not start within 15 s");
        Atomics.store(this.#i32, W_HOST_ERROR, IoWorkerHostError.INIT);
        break;
      }
      Atomics.wait(this.#i32, W_DONE, 0, 5);
    }
    const host = Atomics.load(this.#i32, W_HOST_ERROR);
    if (
      host === IoWorkerHostError.INIT || host === IoWorkerHostError.NO_MEMORY
    ) {
      this.#waitDone(5000);
      const msg = this.#message();
      this.#finish();
      throw new NvmeError(`${this.label} could not start: ${msg}`);
    }
    return this;
  }

  /**
   * True from start() until the workload ended.
   *
   * ```ts
   * while (w.running) await new Promise((r) => setTimeout(r, 100));
   * ```
   */
  get running(): boolean {
    return this.#started && !this.#finished &&
      !Atomics.load(this.#i32!, W_DONE);
  }

  /**
   * Live counters (zeros before start).
   *
   * ```ts
   * const { seconds, ioCount } = w.progress;
   * console.log(`${(ioCount / seconds).toFixed(0)} IOPS so far`);
   * ```
   */
  get progress(): IoWorkerProgress {
    const u = this.#u64;
    if (!u) {
      return {
        seconds: 0,
        ioCount: 0,
        ioCountRead: 0,
        ioCountWrite: 0,
        submitted: 0,
        inFlight: 0,
      };
    }
    const n = (i: number) => Number(Atomics.load(u, i));
    return {
      seconds: n(Q_ELAPSED_US) / 1e6,
      ioCount: n(Q_COMPLETED),
      ioCountRead: n(Q_READS),
      ioCountWrite: n(Q_WRITES),
      submitted: n(Q_SUBMITTED),
      inFlight: n(Q_IN_FLIGHT),
    };
  }

  /**
   * Ask the worker to stop early: no new IOs, the ones in flight complete. Does
   * not wait (close() does); the result then has `stopped: true`.
   *
   * ```ts
   * const w = nvme0n1.ioworker({ time: 3600 }).start();
   * setTimeout(() => w.stop(), 5000);
   * const r = await w.closeAsync(); // r.stopped === true
   * ```
   */
  stop(): void {
    if (!this.running) return;
    this.#stopped = true;
    Atomics.store(this.#i32!, W_STOP, STOP_DRAIN);
  }

  /**
   * @internal Stop at once (IOs in flight are left to the queue, which the
   * caller is about to reset) and wait for the thread to let go, bounded.
   */
  terminate(why: string): void {
    if (!this.#started || this.#finished) return;
    if (!Atomics.load(this.#i32!, W_DONE)) {
      this.#terminated = why;
      Atomics.store(this.#i32!, W_STOP, STOP_NOW);
      if (!this.#waitDone(5000)) {
        console.warn(
          `${this.label}: its thread did not stop within 5 s (${why}); the queue waits for it`,
        );
      }
    }
    // the reset frees the queue pair itself
    this.#qpair?.unclaim();
    this.#finish();
  }

  #waitDone(ms: number): boolean {
    const end = Date.now() + ms;
    while (!Atomics.load(this.#i32!, W_DONE)) {
      const left = end - Date.now();
      if (left <= 0) return false;
      Atomics.wait(this.#i32!, W_DONE, 0, Math.min(left, 50));
    }
    return true;
  }

  #onDone(): void {
    for (const w of this.#doneWaiters.splice(0)) w();
  }

  /**
   * Wait (sync) for the end, then delete the queue pair and decode the result.
   *
   * ```ts
   * const r = nvme0n1.ioworker({ ioSize: 8, ioCount: 10_000 }).start().close();
   * console.log(r.ioCountRead, r.mseconds, r.latencyAverageUs);
   * ```
   */
  close(): IoWorkerResult {
    if (this.#result) return this.#result;
    if (!this.#started) {
      throw new NvmeError(`${this.label} was not started: call start() first`);
    }
    if (!this.#finished) {
      this.#waitDone(Number.MAX_SAFE_INTEGER);
      this.#finish();
    }
    return this.#result!;
  }

  /**
   * {@link IoWorker.close} that lets the event loop run while the workload ends.
   *
   * ```ts
   * const [a, b] = await Promise.all([wa.closeAsync(), wb.closeAsync()]);
   * ```
   */
  async closeAsync(): Promise<IoWorkerResult> {
    if (this.#started && !this.#finished && !Atomics.load(this.#i32!, W_DONE)) {
      await new Promise<void>((resolve) => {
        this.#doneWaiters.push(resolve);
        if (Atomics.load(this.#i32!, W_DONE)) resolve();
      });
    }
    return this.close();
  }

  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    if (this.#started) this.close();
  }
  /** Same as closeAsync(), for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#started) await this.closeAsync();
  }

  /**
   * pynvme's `iops_consistency`: the IOPS of the second at `slowestPercentage`
   * (from the slowest) divided by the average (needs outputIoPerSecond).
   *
   * ```ts
   * const w = nvme0n1.ioworker({ time: 60, outputIoPerSecond: true }).start();
   * w.close();
   * if (w.iopsConsistency(99.9) < 0.9) console.log("IOPS not consistent");
   * ```
   */
  iopsConsistency(slowestPercentage = 99.9): number {
    const ips = this.#result?.ioPerSecond;
    if (!ips?.length) {
      throw new NvmeError(
        "iopsConsistency() needs a closed ioworker run with outputIoPerSecond",
      );
    }
    if (!(slowestPercentage > 0 && slowestPercentage <= 100)) {
      throw new ParameterError(
        `slowestPercentage = ${slowestPercentage}: allowed (0, 100]`,
      );
    }
    const sorted = [...ips].sort((a, b) => b - a);
    const avg = ips.reduce((a, b) => a + b, 0) / ips.length;
    const i = Math.min(
      sorted.length - 1,
      Math.floor(sorted.length * slowestPercentage / 100),
    );
    return avg ? sorted[i] / avg : 0;
  }

  #message(): string {
    const bytes = new Uint8Array(this.#sab!, OFF_MESSAGE, 256);
    const end = bytes.indexOf(0);
    return new TextDecoder().decode(bytes.slice(0, end < 0 ? 256 : end));
  }

  #setMessage(m: string): void {
    const bytes = new Uint8Array(this.#sab!, OFF_MESSAGE, 256);
    const enc = new TextEncoder().encode(m).subarray(0, 255);
    bytes.fill(0);
    bytes.set(enc);
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#worker?.terminate();
    this.#worker = undefined;
    running.get(this.ns.ctrl)?.delete(this);
    const q = this.#qpair;
    // (freeing the queue is safe even if the C loop still ran: nvme_sq_free()
    // asks it to let go and waits for it)
    if (q && !q.closed) {
      q.unclaim();
      const host = Atomics.load(this.#i32!, W_HOST_ERROR);
      if (
        host === IoWorkerHostError.NOT_READY ||
        host === IoWorkerHostError.DEVICE_GONE ||
        (host === IoWorkerHostError.TERMINATED && !this.#terminated)
      ) {
        // the device has no queues any more (disabled, FLR, power cycle) or
        // is gone: free ours only
        q.controllerReset();
      } else {
        try {
          q.delete();
        } catch (e) {
          // e.g. the device went away meanwhile: the result tells
          if (!(e instanceof NvmeError)) throw e;
        }
      }
    }
    this.#result = this.#decode();
    this.#fillOutputs(this.#result);
    this.#warn(this.#result);
  }

  #decode(): IoWorkerResult {
    const i32 = this.#i32!, u = this.#u64!, lay = this.#layout!;
    const n = (i: number) => Number(u[i]);
    const completed = n(Q_COMPLETED);
    const elapsedUs = n(Q_ELAPSED_US);
    const hostError = i32[W_HOST_ERROR];
    const error = i32[W_ERROR] >>> 0;
    const opCounts: Record<number, number> = {};
    for (let op = 0; op < 256; op++) {
      if (u[Q_OP_COUNTS + op]) opCounts[op] = n(Q_OP_COUNTS + op);
    }
    const r: IoWorkerResult = {
      ioCountRead: n(Q_READS),
      ioCountNonread: n(Q_NONREADS),
      ioCountWrite: n(Q_WRITES),
      mseconds: Math.max(1, Math.round(elapsedUs / 1000)),
      latencyMaxUs: Math.round(n(Q_LAT_MAX) / 1000),
      latencyAverageUs: completed
        ? Math.round(n(Q_LAT_SUM) / completed / 1000)
        : 0,
      cpuUsage: elapsedUs ? +(n(Q_CPU) / 1000 / elapsedUs).toFixed(3) : 0,
      error,
      hostError,
      ok: error === 0 && hostError === 0,
      stopped: this.#stopped,
      opCounts,
      seed: this.#plan.seed,
    };
    const parts: string[] = [];
    if (error && error !== 0x7ff) {
      const opc = i32[W_ERROR_OPC];
      const sct = error >> 8, sc = error & 0xff;
      // 07/81 with a description: a read failed data verification (verify.c)
      const verify = error === 0x781 && !hostError ? this.#message() : "";
      parts.push(
        `ERROR status: ${hex2(sct)}/${hex2(sc)} ${
          verify ? `Data Verification Failed: ${verify}` : statusName(sct, sc)
        } (${commandName(opc, false)} lba ${u[Q_ERROR_LBA]} count ${
          i32[W_ERROR_NLB]
        }, sqid ${this.#qpair?.sqid})`,
      );
    }
    if (hostError) {
      let m = this.#message();
      if (hostError === IoWorkerHostError.TERMINATED && this.#terminated) {
        m = m.replace(/^terminated/, `terminated by ${this.#terminated}`);
      }
      parts.push(`host error ${hostError}: ${m}`);
    }
    if (parts.length) r.errorMessage = parts.join("; ");
    const sab = this.#sab!;
    if (this.options.outputIoPerSecond) {
      const used = Math.min(n(Q_IPS_USED), this.#plan.ipsN);
      r.ioPerSecond = [...new Uint32Array(sab, lay.ips, used)];
    }
    if (this.options.outputPercentileLatency !== undefined) {
      r.latencyPercentiles = {};
      this.#plan.percentiles.forEach((p, i) => {
        r.latencyPercentiles![String(p)] = n(Q_PCT + i);
      });
      const hist = new BigUint64Array(sab, lay.hist, lay.buckets);
      const dist: [number, number][] = [];
      for (let i = 0; i < hist.length; i++) {
        if (hist[i]) dist.push([bucketHigh(i), Number(hist[i])]);
      }
      r.latencyDistribution = dist;
    }
    if (this.#plan.cmdlogN) {
      const N = this.#plan.cmdlogN;
      const count = n(Q_CMDLOG_COUNT);
      const have = Math.min(N, count);
      const dv = new DataView(sab, lay.cmdlog, N * REC_SIZE);
      const out: IoRecord[] = [];
      for (let k = count - have; k < count; k++) {
        const at = (k % N) * REC_SIZE;
        out.push({
          lba: Number(dv.getBigUint64(at, true)),
          timeUs: Number(dv.getBigUint64(at + 8, true)),
          count: dv.getUint32(at + 16, true),
          latencyUs: dv.getUint32(at + 20, true),
          status: dv.getUint16(at + 24, true),
          opcode: dv.getUint8(at + 26),
          cid: dv.getUint16(at + 28, true),
        });
      }
      r.cmdlog = out;
    }
    return r;
  }

  #fillOutputs(r: IoWorkerResult): void {
    const o = this.options;
    if (Array.isArray(o.outputIoPerSecond) && r.ioPerSecond) {
      o.outputIoPerSecond.splice(
        0,
        o.outputIoPerSecond.length,
        ...r.ioPerSecond,
      );
    }
    const pl = o.outputPercentileLatency;
    if (pl && !Array.isArray(pl) && r.latencyPercentiles) {
      for (const k of Object.keys(pl)) {
        (pl as Record<string, number | null>)[k] =
          r.latencyPercentiles[String(Number(k))] ?? null;
      }
    }
    if (Array.isArray(o.outputCmdlogList) && r.cmdlog) {
      const N = o.outputCmdlogList.length;
      const recs = r.cmdlog.map((x) => [x.lba, x.count, x.opcode]);
      o.outputCmdlogList.splice(
        0,
        N,
        ...Array(N - recs.length).fill(null),
        ...recs,
      );
    }
  }

  #warn(r: IoWorkerResult): void {
    if (!r.errorMessage) return;
    // resets, power events and a gone device: the script caused them or sees them
    if (
      r.hostError === IoWorkerHostError.TERMINATED ||
      r.hostError === IoWorkerHostError.DEVICE_GONE ||
      // start() threw these
      r.hostError === IoWorkerHostError.INIT ||
      r.hostError === IoWorkerHostError.NO_MEMORY
    ) {
      return;
    }
    if (!r.hostError && r.error) {
      const cpl = new Completion(
        [0, 0, 0, (r.error << 17) >>> 0],
        0,
        0,
        this.#i32![W_ERROR_OPC],
      );
      if (matchExpected(cpl)) return;
    }
    console.warn(`${this.label}: ${r.errorMessage}`);
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

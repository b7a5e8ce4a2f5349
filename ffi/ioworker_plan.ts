/**
 * The ioworker's parameters: their types, and their validation into a
 * {@link Plan} (every bad value rejected with a ParameterError naming it,
 * before anything reaches C).
 *
 * @module
 */
import { ParameterError } from "./errors.ts";
import { seedFromSrand } from "./random.ts";
import type { Namespace } from "./namespace.ts";
import {
  MAX_BUF_BYTES,
  MAX_PCT,
  MAX_QDEPTH,
  MAX_SIZES,
  MAX_WEIGHT,
  SEQ,
  SEQ_RECORD,
} from "./ioworker_layout.ts";

/**
 * One IO of a replayed trace: [time µs from the start, opcode, start LBA, LBA count].
 *
 * ```ts
 * import { Namespace } from "../mod.ts";
 * declare const nvme0n1: Namespace;
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
 * import { Namespace } from "../mod.ts";
 * declare const nvme0n1: Namespace;
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
  /**
   * Random seed, for a reproducible workload. Default: drawn from the source
   * seeded by `srand()` when it was called, else random (reported in the
   * result either way).
   */
  seed?: number | bigint;
  /**
   * Firmware debugging (pynvme `fw_debug`): at the first error the process
   * ends at once (exit code 1, from close()) after printing the error and the
   * worker's latest commands, leaving its queue pair and IOs on the device as
   * they are, without the usual cleanup. Default false.
   */
  fwDebug?: boolean;
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
  "fwDebug",
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
export interface Plan {
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
export function plan(ns: Namespace, o: IoWorkerOptions): Plan {
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
    seed = seedFromSrand() ?? r[0];
  } else {
    seed = lbaParam("seed", o.seed, 0xffff_ffff_ffff_ffffn);
  }
  if (o.fwDebug !== undefined && typeof o.fwDebug !== "boolean") {
    bad(`fwDebug must be true or false, got ${show(o.fwDebug)}`);
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
      dv.setBigUint64(i * SEQ_RECORD + SEQ.time_us, BigInt(t), true);
      dv.setBigUint64(i * SEQ_RECORD + SEQ.slba, lba, true);
      dv.setUint32(i * SEQ_RECORD + SEQ.nlb, n, true);
      dv.setUint32(i * SEQ_RECORD + SEQ.opcode, opc, true);
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
  if (typeof o.ioSize === "object") {
    // pynvme refuses a list of sizes larger than the region (a single size is clipped)
    const largest = Math.max(...sizes0.map((x) => x.lbas));
    const region = regionEnd - regionStart;
    if (BigInt(largest) > region) {
      bad(
        `ioSize ${largest} (the largest of the list) is larger than the region of ${region} LBAs (regionStart ${regionStart} .. regionEnd ${regionEnd}): give sizes up to ${region} or a larger region`,
      );
    }
  }
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

export function ipsSlots(timeMs: number): number {
  // a time-limited run fills ceil(time) slots; otherwise up to a day of seconds
  return timeMs ? Math.ceil(timeMs / 1000) + 1 : 86400;
}

export function checkBuffers(
  qdepth: number,
  maxLbas: number,
  lbaSize: number,
): void {
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

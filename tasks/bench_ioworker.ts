/**
 * IO worker benchmarks, one JSON line per result (called by tasks/bench.ts, or
 * alone):
 *
 * - `ioworker-4k-randread-qd128`: 4 KiB random reads at QD128 on one queue pair
 *   of the embedded device with a null backend, for 10 s, by an ioworker and
 *   by a minimal C loop (`nvme_bench_loop()`: one SQ/CQ pair, doorbell per
 *   batch, polling) on the same device in the same run, and their ratio (in
 *   alternating 2 s rounds: other load on the machine hits both alike);
 * - `c-qd1-write-read` and `script-qd1-write-read`: the QD1 write+read loop of
 *   a script and the same loop in C, in alternating rounds, and the script's
 *   time per command over C's (tasks/bench.ts prints these first);
 * - `script-4k-randread-qd127-batches`: a script keeping 127 reads in flight
 *   against an ioworker, alternating, and its IOPS over the ioworker's;
 * - `ioworker-scaling`: aggregate IOPS of 1, 2 and 4 ioworkers at once.
 *
 *   deno run --allow-ffi --allow-env --allow-read --allow-run tasks/bench_ioworker.ts \
 *     [--dut qemu] [--ioworker-seconds 10] [--scaling-seconds 5] [--seconds 3]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Buffer, Controller, Namespace, Qpair } from "../mod.ts";
import { lib, unwrap } from "../ffi/lib.ts";
import { NVME_BENCH_RESULT } from "../ffi/abi.gen.ts";
import { CStruct } from "../ffi/cstruct.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    dut: { type: "string" },
    seconds: { type: "string", default: "3" },
    "ioworker-seconds": { type: "string", default: "10" },
    "scaling-seconds": { type: "string", default: "5" },
  },
  strict: false,
});

function emit(result: Record<string, unknown>): void {
  console.log(JSON.stringify(result));
}

/** The embedded device with a null backend (reads return zeros at once). */
function nullDut(base: string): string {
  return base === "qemu" ? "qemu:backend=null,size=16G" : base;
}

/** Run the reference C loop (`nvme_bench_loop()`) on a fresh queue pair of `depth` entries. */
export function cLoop(
  nvme0: Controller,
  ns: Namespace,
  depth: number,
  mode: 0 | 1,
  ms: number,
): { commands: number; seconds: number; errors: number } {
  const q = new Qpair(nvme0, depth);
  try {
    const { sq, cq } = q.claim("the benchmark's C loop");
    const out = new CStruct(NVME_BENCH_RESULT);
    const lbas = 4096 / ns.lbaSize;
    try {
      unwrap(
        lib.nvme_bench_loop(
          sq,
          cq,
          mode,
          ns.nsid,
          lbas,
          ns.lbaSize,
          BigInt(ns.capacity),
          depth - 1,
          ms,
          out.bytes,
          out.size,
        ),
        "bench loop",
      );
    } finally {
      q.unclaim();
    }
    return {
      commands: out.u64(NVME_BENCH_RESULT.completed),
      seconds: out.u64(NVME_BENCH_RESULT.elapsed_ns) / 1e9,
      errors: out.u64(NVME_BENCH_RESULT.errors),
    };
  } finally {
    q.delete();
  }
}

/** The script's QD1 loop (as tasks/bench.ts runs it): µs per command. */
function scriptQd1(
  nvme0: Controller,
  ns: Namespace,
  ms: number,
): { us: number; commands: number } {
  using q = new Qpair(nvme0, 16);
  using buf = new Buffer(4096);
  const lbas = 4096 / ns.lbaSize;
  let n = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  while (performance.now() < end) {
    ns.write(q, buf, (n % 1024) * lbas, lbas).waitdone();
    ns.read(q, buf, (n % 1024) * lbas, lbas).waitdone();
    n += 2;
  }
  return { us: (performance.now() - t0) * 1000 / n, commands: n };
}

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/**
 * The script's QD1 write+read loop and the same loop in C on the same device,
 * in short rounds alternating between the two (and which goes first): the
 * load of this shared machine hits both alike. Prints `script-qd1-write-read`
 * and `c-qd1-write-read`, each with both times per command and the script's
 * over C's: `ratio` from the totals, `ratio_median` the median of the rounds'
 * ratios (what a load burst during one round does not move).
 */
export function benchQd1InC(dut: string, seconds: number): void {
  using nvme0 = new Controller(dut);
  const ns = new Namespace(nvme0, 1);
  const rounds = Math.max(4, Math.round(seconds * 4));
  const ms = Math.max(100, Math.round(seconds * 1000 / rounds));
  scriptQd1(nvme0, ns, 200); // warm-up (JIT), not counted
  let cNs = 0, cCmds = 0, sUs = 0, sCmds = 0, errors = 0;
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    let s = { us: 0, commands: 0 };
    let c = { commands: 0, seconds: 0, errors: 0 };
    if (i % 2) {
      c = cLoop(nvme0, ns, 16, 1, ms);
      s = scriptQd1(nvme0, ns, ms);
    } else {
      s = scriptQd1(nvme0, ns, ms);
      c = cLoop(nvme0, ns, 16, 1, ms);
    }
    sUs += s.us * s.commands;
    sCmds += s.commands;
    cNs += c.seconds * 1e9;
    cCmds += c.commands;
    errors += c.errors;
    ratios.push(s.us / (c.seconds * 1e6 / c.commands));
  }
  const cUs = cNs / 1000 / cCmds, scriptUs = sUs / sCmds;
  const common = {
    dut,
    rounds,
    round_ms: ms,
    ratio: +(scriptUs / cUs).toFixed(3),
    ratio_median: +median(ratios).toFixed(3),
    ratio_rounds: ratios.map((r) => +r.toFixed(2)),
  };
  emit({
    name: "script-qd1-write-read",
    us_per_cmd: +scriptUs.toFixed(1),
    commands: sCmds,
    c_us_per_cmd: +cUs.toFixed(1),
    ...common,
  });
  emit({
    name: "c-qd1-write-read",
    us_per_cmd: +cUs.toFixed(1),
    commands: cCmds,
    errors,
    script_us_per_cmd: +scriptUs.toFixed(1),
    script_ratio: common.ratio,
    ...common,
  });
}

/** A script keeping 127 reads in flight in batches: submit 127, waitdone(127). */
function scriptBatches(
  nvme0: Controller,
  ns: Namespace,
  ms: number,
): { ios: number; seconds: number } {
  using q = new Qpair(nvme0, 128);
  using buf = new Buffer(4096);
  const lbas = 4096 / ns.lbaSize;
  const span = Math.floor(ns.capacity / lbas);
  let n = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 127; i++) {
      ns.read(q, buf, Math.floor(Math.random() * span) * lbas, lbas);
    }
    q.waitdone(127);
    n += 127;
  }
  return { ios: n, seconds: (performance.now() - t0) / 1000 };
}

/**
 * `script-4k-randread-qd127-batches`: the script above against an ioworker
 * (4 KiB random reads, QD128) on the same device with a null backend, in
 * alternating rounds; the script's IOPS over the ioworker's (`ratio` from the
 * totals, `ratio_median` over the rounds).
 */
export function benchScriptBatches(base: string, seconds: number): void {
  const dut = nullDut(base);
  using nvme0 = new Controller(dut);
  const ns = new Namespace(nvme0, 1);
  const ioSize = 4096 / ns.lbaSize;
  const rounds = Math.max(4, Math.round(seconds * 2));
  const ms = Math.max(250, Math.round(seconds * 1000 / rounds));
  scriptBatches(nvme0, ns, 200); // warm-up (JIT), not counted
  let sIos = 0, sSec = 0, wIos = 0, wSec = 0;
  const ratios: number[] = [];
  const worker = () => {
    const r = ns.ioworker({
      ioSize,
      lbaRandom: true,
      readPercentage: 100,
      qdepth: 128,
      time: ms / 1000,
    }).start().close();
    if (!r.ok) throw new Error(`ioworker: ${r.errorMessage}`);
    return { ios: r.ioCountRead, seconds: r.mseconds / 1000 };
  };
  for (let i = 0; i < rounds; i++) {
    let s, w;
    if (i % 2) {
      w = worker();
      s = scriptBatches(nvme0, ns, ms);
    } else {
      s = scriptBatches(nvme0, ns, ms);
      w = worker();
    }
    sIos += s.ios;
    sSec += s.seconds;
    wIos += w.ios;
    wSec += w.seconds;
    ratios.push((s.ios / s.seconds) / (w.ios / w.seconds));
  }
  const iops = sIos / sSec, wIops = wIos / wSec;
  emit({
    name: "script-4k-randread-qd127-batches",
    dut,
    iops: Math.round(iops),
    ioworker_iops: Math.round(wIops),
    ratio: +(iops / wIops).toFixed(3),
    ratio_median: +median(ratios).toFixed(3),
    ratio_rounds: ratios.map((r) => +r.toFixed(2)),
    rounds,
    round_ms: ms,
  });
}

/**
 * The ioworker against the C loop (in 2 s rounds, alternately, `seconds` each
 * in all), then 1, 2 and 4 ioworkers at once.
 */
export function benchIoworkers(
  base: string,
  seconds = 10,
  scalingSeconds = 5,
): void {
  const dut = nullDut(base);
  using nvme0 = new Controller(dut);
  const ns = new Namespace(nvme0, 1);
  const ioSize = 4096 / ns.lbaSize;
  const rounds = Math.max(1, Math.round(seconds / 2));
  let ios = 0, ms = 0, cCmds = 0, cSec = 0, latSum = 0;
  let p99 = 0, maxUs = 0, cpu = 0;
  for (let i = 0; i < rounds; i++) {
    const r = ns.ioworker({
      ioSize,
      lbaRandom: true,
      readPercentage: 100,
      qdepth: 128,
      time: seconds / rounds,
      outputPercentileLatency: [99],
    }).start().close();
    if (!r.ok) throw new Error(`ioworker: ${r.errorMessage}`);
    ios += r.ioCountRead;
    ms += r.mseconds;
    latSum += r.latencyAverageUs * r.ioCountRead;
    p99 = Math.max(p99, r.latencyPercentiles!["99"]);
    maxUs = Math.max(maxUs, r.latencyMaxUs);
    cpu += r.cpuUsage * r.mseconds;
    const c = cLoop(nvme0, ns, 128, 0, Math.round(seconds / rounds * 1000));
    cCmds += c.commands;
    cSec += c.seconds;
  }
  const iops = ios / (ms / 1000), cIops = cCmds / cSec;
  emit({
    name: "ioworker-4k-randread-qd128",
    dut,
    seconds,
    iops: Math.round(iops),
    c_loop_iops: Math.round(cIops),
    ratio: +(iops / cIops).toFixed(3),
    latency_average_us: Math.round(latSum / ios),
    latency_p99_us_worst_round: p99,
    latency_max_us: maxUs,
    cpu_usage: +(cpu / ms).toFixed(3),
  });
  for (const n of [1, 2, 4]) {
    const ws = Array.from({ length: n }, () =>
      ns.ioworker({
        ioSize,
        lbaRandom: true,
        readPercentage: 100,
        qdepth: 128,
        time: scalingSeconds,
      }).start());
    const rs = ws.map((w) => w.close());
    const bad = rs.find((x) => !x.ok);
    if (bad) throw new Error(`ioworker: ${bad.errorMessage}`);
    const total = rs.reduce(
      (a, x) => a + x.ioCountRead / (x.mseconds / 1000),
      0,
    );
    emit({
      name: "ioworker-scaling",
      dut,
      workers: n,
      qdepth: 128,
      iops: Math.round(total),
      per_worker: rs.map((x) =>
        Math.round(x.ioCountRead / (x.mseconds / 1000))
      ),
    });
  }
}

/**
 * Everything above, with the run times from the command line
 * (`--ioworker-seconds`, `--scaling-seconds`); tasks/bench.ts calls this.
 */
export function benchIoworkerAll(base: string): void {
  benchIoworkers(
    base,
    Number(values["ioworker-seconds"]) || 10,
    Number(values["scaling-seconds"]) || 5,
  );
}

if (import.meta.main) {
  const base = typeof values.dut === "string" ? values.dut : "qemu";
  benchQd1InC(base, Number(values.seconds) || 3);
  benchScriptBatches(base, Number(values.seconds) || 3);
  benchIoworkerAll(base);
}

/**
 * The driver's own cost per IO, the device excluded: one JSON line
 * `driver-ns-per-io` per workload (called by tasks/bench.ts, or alone).
 *
 * The device is libnvmeshim's loopback transport (openLoopbackPcie(), for
 * benchmarks only): a controller in this process that completes every command
 * at the SQ doorbell write without moving data, so what is timed is the
 * driver's work — building and posting SQEs, doorbells, reaping CQEs by phase
 * tag, trackers, latency accounting, data verification — plus the loopback's
 * own few instructions per command.
 *
 * Workloads (4 KiB, QD128 unless said), in alternating rounds so that the
 * load of this shared machine hits each alike:
 * - ioworker random reads, random writes with verification off, random writes
 *   with verification on over a 16 TiB namespace (the table grows as in
 *   `verify-ioworker-4k-randwrite-16t-qd128`), random reads with it on;
 * - the TS script path: 127 reads in flight (submit 127, waitdone(127)), and
 *   QD1 write + read;
 * - the same two in the benchmark's minimal C loop (`nvme_bench_loop()`: no
 *   trackers, SQEs written straight into the ring), the floor to compare with.
 *
 * `cpu_ns_per_io` is the thread's CPU time per IO (CLOCK_THREAD_CPUTIME_ID for
 * the ioworker, the process's user+system time for scripts): the figure a
 * busy machine does not inflate; `wall_ns_per_io` is elapsed time per IO;
 * `iops_per_core` = 1e9 / cpu_ns_per_io.
 *
 *   deno run --allow-all tasks/bench_driver.ts [--rounds 3] [--round-seconds 1] \
 *     [--workload <part of a workload name>]
 *
 * @module
 */
import { parseArgs } from "node:util";
import process from "node:process";
import {
  Buffer,
  Controller,
  type IoWorkerOptions,
  Namespace,
  Qpair,
} from "../mod.ts";
import { openLoopbackPcie } from "../ffi/pcie.ts";
import { lib, unwrap } from "../ffi/lib.ts";
import { cLoop } from "./bench_ioworker.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    "round-seconds": { type: "string", default: "1" },
    workload: { type: "string" },
  },
  strict: false,
});

function emit(result: Record<string, unknown>): void {
  console.log(JSON.stringify(result));
}

interface Sample {
  ios: number;
  cpuNs: number;
  wallNs: number;
}

function ioworker(ns: Namespace, o: IoWorkerOptions): Sample {
  const r = ns.ioworker(o).start().close();
  if (!r.ok) throw new Error(`ioworker: ${r.errorMessage}`);
  const ios = r.ioCountRead + r.ioCountNonread;
  return {
    ios,
    cpuNs: r.cpuUsage * r.mseconds * 1e6,
    wallNs: r.mseconds * 1e6,
  };
}

/** Process CPU time in ns (user + system). */
function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

function scriptBatches(ns: Namespace, q: Qpair, buf: Buffer, ms: number) {
  const lbas = 4096 / ns.lbaSize;
  const span = Math.floor(ns.capacity / lbas);
  let n = 0, seed = 1;
  const c0 = cpuNow(), t0 = performance.now(), end = t0 + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 127; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      ns.read(q, buf, (seed % span) * lbas, lbas);
    }
    q.waitdone(127);
    n += 127;
  }
  return {
    ios: n,
    cpuNs: cpuNow() - c0,
    wallNs: (performance.now() - t0) * 1e6,
  };
}

function scriptQd1(ns: Namespace, q: Qpair, buf: Buffer, ms: number): Sample {
  const lbas = 4096 / ns.lbaSize;
  let n = 0;
  const c0 = cpuNow(), t0 = performance.now(), end = t0 + ms;
  while (performance.now() < end) {
    ns.write(q, buf, (n % 1024) * lbas, lbas).waitdone();
    ns.read(q, buf, (n % 1024) * lbas, lbas).waitdone();
    n += 2;
  }
  return {
    ios: n,
    cpuNs: cpuNow() - c0,
    wallNs: (performance.now() - t0) * 1e6,
  };
}

/** The benchmark's minimal C loop (nvme_bench_loop()) on a fresh queue pair. */
function cLoopSample(
  nvme0: Controller,
  ns: Namespace,
  depth: number,
  mode: 0 | 1,
  ms: number,
): Sample {
  const c0 = cpuNow();
  const r = cLoop(nvme0, ns, depth, mode, ms);
  if (r.errors) throw new Error(`C loop: ${r.errors} command(s) failed`);
  return { ios: r.commands, cpuNs: cpuNow() - c0, wallNs: r.seconds * 1e9 };
}

/**
 * The cost of one timestamp (CLOCK_MONOTONIC, as the driver reads it) in ns:
 * CPU time, and elapsed time (which this machine's load inflates).
 */
function clockNs(): { cpu: number; wall: number } {
  const out = new BigUint64Array(2);
  unwrap(lib.nvme_bench_clock(1_000_000, out), "bench clock");
  return { wall: Number(out[0]) / 1e6, cpu: Number(out[1]) / 1e6 };
}

/** Every driver-cost benchmark. */
export function benchDriverAll(
  o: { rounds?: number; roundSeconds?: number; workload?: string } = {},
): void {
  const rounds = o.rounds ?? 3, ms = (o.roundSeconds ?? 1) * 1000;
  using nvme0 = new Controller(
    openLoopbackPcie({ lbas: 2 ** 35, lbaSize: 512 }),
  );
  const ns = new Namespace(nvme0, 1);
  const io = (readPercentage: number): IoWorkerOptions => ({
    ioSize: 8,
    lbaAlign: 8,
    lbaRandom: true,
    readPercentage,
    qdepth: 128,
    time: ms / 1000,
    seed: 1,
  });
  using q128 = new Qpair(nvme0, 128);
  using q16 = new Qpair(nvme0, 16);
  using buf = new Buffer(4096);
  const cases: [string, () => Sample][] = [
    ["ioworker-4k-randread-qd128", () => ioworker(ns, io(100))],
    ["ioworker-4k-randwrite-qd128", () => ioworker(ns, io(0))],
    ["ioworker-4k-randwrite-16t-qd128-verify", () => {
      ns.verifyEnable(true);
      try {
        return ioworker(ns, io(0));
      } finally {
        ns.verifyEnable(false);
      }
    }],
    [
      "script-4k-randread-qd127-batches",
      () => scriptBatches(ns, q128, buf, ms),
    ],
    ["script-qd1-write-read", () => scriptQd1(ns, q16, buf, ms)],
    ["c-loop-4k-randread-qd127", () => cLoopSample(nvme0, ns, 128, 0, ms)],
    ["c-loop-qd1-write-read", () => cLoopSample(nvme0, ns, 16, 1, ms)],
  ];
  if (o.workload) {
    const only = cases.filter(([name]) => name.includes(o.workload!));
    cases.splice(0, cases.length, ...only);
  }
  const sums = cases.map(() => ({ ios: 0, cpuNs: 0, wallNs: 0 }));
  for (let r = 0; r < rounds; r++) {
    // alternate the order: what runs first in a round changes every round
    const order = cases.map((_, i) => i);
    if (r % 2) order.reverse();
    for (const i of order) {
      const s = cases[i][1]();
      sums[i].ios += s.ios;
      sums[i].cpuNs += s.cpuNs;
      sums[i].wallNs += s.wallNs;
    }
  }
  const clock = clockNs();
  const [loadavg] = Deno.loadavg();
  cases.forEach(([workload], i) => {
    const s = sums[i];
    const cpu = s.cpuNs / s.ios;
    emit({
      name: "driver-ns-per-io",
      workload,
      dut: "loopback",
      ios: s.ios,
      cpu_ns_per_io: Math.round(cpu),
      wall_ns_per_io: Math.round(s.wallNs / s.ios),
      iops_per_core: Math.round(1e9 / cpu),
      clock_cpu_ns: +clock.cpu.toFixed(1),
      clock_wall_ns: +clock.wall.toFixed(1),
      loadavg: +loadavg.toFixed(2),
    });
  });
}

if (import.meta.main) {
  benchDriverAll({
    rounds: Number(values.rounds) || 3,
    roundSeconds: Number(values["round-seconds"]) || 1,
    workload: typeof values.workload === "string" ? values.workload : undefined,
  });
}

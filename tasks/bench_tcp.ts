/**
 * NVMe/TCP benchmark, one JSON line (called by tasks/bench.ts, or alone):
 *
 * - `tcp-ioworker-4k-randread-qd32`: 4 KiB random reads at QD32 against the
 *   kernel's nvmet-tcp target in its guest (`--dut nvmet`, namespace 3:
 *   null_blk without memory), by an ioworker and by the minimal C loop
 *   (`nvme_bench_loop()`: its own queue pair, i.e. its own connection, reaped
 *   through the same transport poll) in alternating rounds, and their ratio.
 *   The target runs under TCG on one emulated CPU: it, not the host side,
 *   bounds these numbers.
 *
 *   deno run --allow-all tasks/bench_tcp.ts [--dut nvmet|tcp://...] [--seconds 10]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Controller, Namespace } from "../mod.ts";
import { cLoop } from "./bench_ioworker.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    dut: { type: "string" },
    "tcp-seconds": { type: "string", default: "10" },
  },
  strict: false,
});

function emit(result: Record<string, unknown>): void {
  console.log(JSON.stringify(result));
}

/** The ioworker against the C loop over NVMe/TCP, `seconds` each in 2 s rounds. */
export function benchTcp(dut = "nvmet", seconds = 10): void {
  const name = "tcp-ioworker-4k-randread-qd32";
  let nvme0: Controller;
  try {
    nvme0 = new Controller(dut);
  } catch (e) {
    emit({ name, dut, skipped: (e as Error).message });
    return;
  }
  try {
    // namespace 3 of the nvmet guest is null_blk without memory (throughput)
    const nsid = dut.startsWith("nvmet") ? 3 : 1;
    const ns = new Namespace(nvme0, nsid);
    const ioSize = 4096 / ns.lbaSize;
    const rounds = Math.max(1, Math.round(seconds / 2));
    let ios = 0, ms = 0, cCmds = 0, cSec = 0, latSum = 0, cpu = 0;
    for (let i = 0; i < rounds; i++) {
      const r = ns.ioworker({
        ioSize,
        lbaAlign: ioSize,
        lbaRandom: true,
        readPercentage: 100,
        qdepth: 32,
        time: seconds / rounds,
      }).start().close();
      if (!r.ok) throw new Error(`ioworker: ${r.errorMessage}`);
      ios += r.ioCountRead;
      ms += r.mseconds;
      latSum += r.latencyAverageUs * r.ioCountRead;
      cpu += r.cpuUsage * r.mseconds;
      const c = cLoop(nvme0, ns, 33, 0, seconds / rounds * 1000);
      if (c.errors) throw new Error(`C loop: ${c.errors} error completions`);
      cCmds += c.commands;
      cSec += c.seconds;
    }
    const iops = ios / (ms / 1000), cIops = cCmds / cSec;
    emit({
      name,
      dut,
      nsid,
      seconds,
      iops: Math.round(iops),
      c_loop_iops: Math.round(cIops),
      ratio: +(iops / cIops).toFixed(3),
      latency_average_us: Math.round(latSum / ios),
      cpu_usage: +(cpu / ms).toFixed(3),
      target: "Linux nvmet-tcp in a TCG guest, 1 vCPU",
    });
  } finally {
    nvme0.close();
  }
}

if (import.meta.main) {
  benchTcp(
    typeof values.dut === "string" ? values.dut : "nvmet",
    Number(values["tcp-seconds"]) || 10,
  );
}

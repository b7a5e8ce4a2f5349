/**
 * `console-overhead`: what the live console costs an ioworker. The
 * `ioworker-4k-randread-qd128` workload (embedded device, null backend) runs
 * in alternating rounds with the console open and refreshed like an open page
 * (the event stream's state once a second plus the ioworker queue's cmdlog,
 * 200 entries, once a second) and with no console; which kind goes first
 * alternates. Prints the IOPS of each, `ratio`: the median of the rounds'
 * console/no-console ratios (other load on the shared machine moves between
 * rounds; the median of paired rounds resists it), and the ratio of the
 * totals (goal for both: >= 0.98).
 *
 *   deno run --allow-ffi --allow-env --allow-read --allow-net=127.0.0.1 tasks/bench_console.ts \
 *     [--dut qemu] [--console-rounds 6] [--round-seconds 2]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Controller, Namespace } from "../mod.ts";
import { startConsole, stopConsole } from "../console/registry.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    dut: { type: "string" },
    "console-rounds": { type: "string", default: "6" },
    "round-seconds": { type: "string", default: "2" },
  },
  strict: false,
});

/** Poll the console as an open page does, until `stop.done`. */
async function refresher(
  url: string,
  stop: { done: boolean },
): Promise<number> {
  const u = new URL(url);
  const token = u.searchParams.get("token")!;
  let polls = 0;
  while (!stop.done) {
    const s = await (await fetch(`${u.origin}/api/state?token=${token}`))
      .json() as { queues: { sq: number; ioworker: boolean }[] };
    const q = s.queues.find((x) => x.ioworker);
    if (q) {
      await (await fetch(
        `${u.origin}/api/cmdlog?token=${token}&sq=${q.sq}&n=200`,
      )).arrayBuffer();
    }
    polls++;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return polls;
}

/**
 * Run the rounds and print the `console-overhead` line.
 *
 * ```ts
 * await benchConsole("qemu", 6, 2);
 * ```
 */
export async function benchConsole(
  base: string,
  rounds = 6,
  roundSeconds = 2,
): Promise<void> {
  const dut = base === "qemu" ? "qemu:backend=null,size=16G" : base;
  using nvme0 = new Controller(dut);
  const ns = new Namespace(nvme0, 1);
  const ioSize = 4096 / ns.lbaSize;
  const one = async () => {
    const r = await ns.ioworker({
      ioSize,
      lbaRandom: true,
      readPercentage: 100,
      qdepth: 128,
      time: roundSeconds,
    }).start().closeAsync();
    if (!r.ok) throw new Error(`ioworker: ${r.errorMessage}`);
    return { ios: r.ioCountRead, ms: r.mseconds };
  };
  let onIos = 0, onMs = 0, offIos = 0, offMs = 0, polls = 0;
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 ? ["off", "on"] : ["on", "off"];
    const got: Record<string, number> = {};
    for (const kind of order) {
      if (kind === "on") {
        const url = await startConsole({ print: false });
        const stop = { done: false };
        const poller = refresher(url, stop);
        await new Promise((r) => setTimeout(r, 1000)); // the page is open (and things settle)
        const r = await one();
        stop.done = true;
        polls += await poller;
        await stopConsole();
        // the console thread's teardown must not land in the next round
        await new Promise((r) => setTimeout(r, 1000));
        onIos += r.ios;
        onMs += r.ms;
        got.on = r.ios / r.ms;
      } else {
        await new Promise((r) => setTimeout(r, 1000)); // the same pause
        const r = await one();
        offIos += r.ios;
        offMs += r.ms;
        got.off = r.ios / r.ms;
      }
    }
    ratios.push(got.on / got.off);
  }
  ratios.sort((a, b) => a - b);
  const on = onIos / onMs * 1000, off = offIos / offMs * 1000;
  console.log(JSON.stringify({
    name: "console-overhead",
    dut,
    rounds,
    round_seconds: roundSeconds,
    iops_console: Math.round(on),
    iops_no_console: Math.round(off),
    ratio: +ratios[Math.floor(ratios.length / 2)].toFixed(3),
    ratio_of_totals: +(on / off).toFixed(3),
    ratio_per_round: ratios.map((r) => +r.toFixed(3)),
    page_refreshes: polls,
  }));
}

if (import.meta.main) {
  await benchConsole(
    typeof values.dut === "string" ? values.dut : "qemu",
    Number(values["console-rounds"]) || 6,
    Number(values["round-seconds"]) || 2,
  );
}

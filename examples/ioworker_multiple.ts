/**
 * Multiple ioworkers at once (pynvme's tutorial opens several
 * `nvme0n1.ioworker(...)` in one `with`): random 4 KiB writes, random 4 KiB
 * reads and sequential 128 KiB reads run together, each on its own IO queue
 * pair in its own region of the namespace, while the script waits; then each
 * worker's IOPS and latency, and the total.
 * `--report FILE.html` writes the ioworker report of the three runs (one line
 * per worker in the IOPS chart, plus the total).
 *
 *   deno run --allow-ffi [--allow-write] examples/ioworker_multiple.ts \
 *     [--dut qemu] [--seconds 10] [--report multiple.html]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Controller, type IoWorkerOptions, Namespace } from "../mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    dut: { type: "string" },
    seconds: { type: "string", default: "10" },
    report: { type: "string" },
  },
});
const seconds = Number(values.seconds);

using nvme0 = new Controller();
using nvme0n1 = new Namespace(nvme0, 1);
const k4 = Math.max(1, 4096 / nvme0n1.lbaSize);
const k128 = 32 * k4;
// three disjoint regions, so the writes never touch what the others read
const third = Math.floor(nvme0n1.capacity / 3 / k128) * k128;
const common = {
  time: seconds,
  qdepth: 16,
  outputIoPerSecond: true,
  outputPercentileLatency: [50, 99, 99.9],
} satisfies IoWorkerOptions;
const plans: { label: string; options: IoWorkerOptions }[] = [
  {
    label: "random 4 KiB write",
    options: {
      ...common,
      ioSize: k4,
      lbaAlign: k4,
      lbaRandom: true,
      readPercentage: 0,
      regionStart: 0,
      regionEnd: third,
    },
  },
  {
    label: "random 4 KiB read",
    options: {
      ...common,
      ioSize: k4,
      lbaAlign: k4,
      lbaRandom: true,
      readPercentage: 100,
      regionStart: third,
      regionEnd: 2 * third,
    },
  },
  {
    label: "sequential 128 KiB read",
    options: {
      ...common,
      ioSize: k128,
      lbaAlign: k128,
      lbaRandom: false,
      readPercentage: 100,
      regionStart: 2 * third,
      regionEnd: 3 * third,
    },
  },
];

// start all, then collect: they run in parallel, each on its own queue
const workers = plans.map((p) => nvme0n1.ioworker(p.options).start());
console.log(
  `${workers.length} ioworkers running on I/O queues ${
    workers.map((w) => w.qpair?.sqid).join(", ")
  } for ${seconds} s`,
);
let failed = false, total = 0;
const runs = [];
for (const [i, w] of workers.entries()) {
  const r = await w.closeAsync();
  const ios = r.ioCountRead + r.ioCountNonread;
  total += ios / (r.mseconds / 1000);
  console.log(
    `${plans[i].label.padEnd(24)} ${
      (ios / r.mseconds).toFixed(1).padStart(7)
    }k IOPS, latency average ${r.latencyAverageUs} us, p99 ${
      r.latencyPercentiles?.["99"]
    } us${r.ok ? "" : `, ERROR ${r.errorMessage}`}`,
  );
  if (!r.ok || ios === 0) failed = true;
  runs.push({ label: plans[i].label, result: r, options: plans[i].options });
}
console.log(
  `${"total".padEnd(24)} ${(total / 1000).toFixed(1).padStart(7)}k IOPS`,
);

if (values.report) {
  // the report module loads only when asked for (it brings the chart library)
  const { ioworkerReport } = await import("../report/mod.ts");
  const rep = ioworkerReport(runs, {
    title: "multiple ioworkers",
    device: `${nvme0.idCtrl.mn}, nsid 1`,
    lbaSize: nvme0n1.lbaSize,
  });
  Deno.writeTextFileSync(values.report, rep.html);
  console.log(`report: ${values.report}`);
}
console.log(`multiple ioworkers: ${failed ? "FAILED" : "PASSED"}`);
if (failed) Deno.exit(1);

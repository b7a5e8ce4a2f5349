/**
 * IOPS with 1, 2, 4, ... IO queues (pynvme's `test_ioworker_iops_multiple_queue`,
 * parametrized by the queue count): one ioworker per queue, sequential 4 KiB
 * reads in the first GiB at QD16, all at once; the aggregate IOPS per count.
 *
 *   deno run --allow-ffi examples/ioworker_multiple_queues.ts \
 *     [--dut qemu] [--queues 1,2,4] [--seconds 10]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Controller, Namespace } from "../mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    dut: { type: "string" },
    queues: { type: "string", default: "1,2,4,8,16" },
    seconds: { type: "string", default: "10" },
  },
});
const seconds = Number(values.seconds);
const counts = values.queues!.split(",").map(Number);

using nvme0 = new Controller();
using nvme0n1 = new Namespace(nvme0, 1);
const lbas4k = 4096 / nvme0n1.lbaSize;
const regionEnd = Math.min(nvme0n1.capacity, (2 ** 30) / nvme0n1.lbaSize); // 1 GiB
let failed = false;

for (const qcount of counts) {
  const workers = [];
  for (let i = 0; i < qcount; i++) {
    workers.push(
      nvme0n1.ioworker({
        ioSize: lbas4k,
        lbaAlign: lbas4k,
        regionStart: 0,
        regionEnd,
        lbaRandom: false,
        qdepth: 16,
        readPercentage: 100,
        time: seconds,
      }).start(),
    );
  }
  let total = 0;
  for (const w of workers) {
    const r = w.close();
    if (!r.ok) {
      console.error(`queue ${w.qpair?.sqid}: ${r.errorMessage}`);
      failed = true;
    }
    total += r.ioCountRead + r.ioCountNonread;
  }
  console.log(
    `Q ${String(qcount).padStart(2)} IOPS: ${
      (total / seconds / 1000).toFixed(3)
    }K`,
  );
}
console.log(`ioworker multiple queues: ${failed ? "FAILED" : "PASSED"}`);
if (failed) Deno.exit(1);

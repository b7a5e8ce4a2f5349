/**
 * IOPS control (pynvme's `iops` parameter and `output_io_per_second`): an
 * ioworker throttled to each rate in turn, 4 KiB random reads, printing the
 * IOs completed in every second; the throttle is exact to ±1 IO per second
 * (pynvme's check: iops=1234 for 7 s gives 7 samples, the last within
 * 1233..1235), as long as the device keeps up.
 *
 *   deno run --allow-ffi examples/ioworker_iops_control.ts \
 *     [--dut qemu] [--iops 1234,100,5000] [--seconds 7]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Controller, Namespace } from "../mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    dut: { type: "string" },
    iops: { type: "string", default: "1234,100,5000" },
    seconds: { type: "string", default: "7" },
  },
});
const seconds = Number(values.seconds);

using nvme0 = new Controller();
using nvme0n1 = new Namespace(nvme0, 1);
let failed = false;

for (const iops of values.iops!.split(",").map(Number)) {
  const perSecond: number[] = [];
  const r = nvme0n1.ioworker({
    ioSize: 4096 / nvme0n1.lbaSize,
    lbaRandom: true,
    readPercentage: 100,
    qdepth: 16,
    time: seconds,
    iops,
    outputIoPerSecond: perSecond,
  }).start().close();
  const ok = r.ok && perSecond.length === Math.ceil(seconds) &&
    Math.abs(perSecond.at(-1)! - iops) <= 1;
  console.log(
    `iops=${iops}: ${
      perSecond.join(" ")
    } (average latency ${r.latencyAverageUs} us, CPU ${
      (r.cpuUsage * 100).toFixed(1)
    }%) ${ok ? "ok" : "OFF TARGET"}`,
  );
  if (!ok) failed = true;
}
console.log(`ioworker iops control: ${failed ? "FAILED" : "PASSED"}`);
if (failed) Deno.exit(1);

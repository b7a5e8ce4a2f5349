/**
 * Temperature while writing (pynvme's `test_ioworker_with_temperature`): a
 * sequential 128 KiB write ioworker runs while the script reads the SMART /
 * Health log (page 02h) every second and prints the composite temperature
 * (bytes 1..2, Kelvin) and the data units written so far.
 *
 *   deno run --allow-ffi examples/ioworker_temperature.ts \
 *     [--dut qemu] [--seconds 30]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Buffer, Controller, decodeSmartLog, Namespace } from "../mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    dut: { type: "string" },
    seconds: { type: "string", default: "30" },
  },
});
const seconds = Number(values.seconds);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

using nvme0 = new Controller();
using nvme0n1 = new Namespace(nvme0, 1);
using buf = new Buffer(512, "smart");
const ioSize = (128 * 1024) / nvme0n1.lbaSize;

await using w = nvme0n1.ioworker({
  ioSize,
  lbaAlign: ioSize,
  lbaRandom: false,
  regionEnd: nvme0n1.capacity,
  qdepth: 16,
  readPercentage: 0,
  time: seconds,
}).start();

let samples = 0;
while (w.running) {
  // the admin queue is the script's: the event loop keeps running meanwhile
  await nvme0.getlogpage(0x02, buf, { size: 512 }).waitdoneAsync();
  const kelvin = buf.data(2, 1) as number;
  const smart = decodeSmartLog(buf.bytes);
  console.log(
    `temperature: ${
      (kelvin - 273.15).toFixed(2)
    } degreeC, data units written: ${smart.dataUnitsWritten}, ioworker: ${w.progress.ioCountWrite} writes`,
  );
  samples++;
  await sleep(1000);
}
const r = await w.closeAsync();
console.log(
  `${r.ioCountWrite} writes in ${r.mseconds} ms, ${samples} temperature samples`,
);
console.log(`ioworker temperature: ${r.ok ? "PASSED" : "FAILED"}`);
if (!r.ok) {
  console.error(r.errorMessage);
  Deno.exit(1);
}

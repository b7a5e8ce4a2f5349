/**
 * AER callback: enable SMART temperature events, lower the temperature
 * threshold below the current temperature and handle the event in a callback.
 *
 *   deno run --allow-ffi examples/aer.ts [--dut qemu]
 *
 * @module
 */
import { Controller, decodeAsyncEvent } from "../mod.ts";

using nvme0 = new Controller();
let fired = false;
nvme0.aer((cpl) => {
  const e = decodeAsyncEvent(cpl.cdw0);
  console.log(
    `AER: ${e.typeName} / ${e.infoName} (cdw0 0x${
      cpl.cdw0.toString(16)
    }), read log page 0x${e.logPage.toString(16)}`,
  );
  fired = true;
});

const kelvin = nvme0.smartLog().temperature;
console.log(`composite temperature ${kelvin} K (${kelvin - 273} C)`);
nvme0.setfeatures(0x0b, { cdw11: 0x2 }).waitdone(); // async event config: temperature
nvme0.setfeatures(4, { cdw11: kelvin - 10 }).waitdone(); // over-temperature threshold below it

const end = Date.now() + 5000;
while (!fired && Date.now() < end) await nvme0.getfeatures(7).waitdoneAsync();
const smart = nvme0.smartLog(); // reading the log page clears the event for the host
console.log(`critical warning 0x${smart.criticalWarning.toString(16)}`);
nvme0.setfeatures(4, { cdw11: kelvin + 50 }).waitdone(); // restore a sane threshold
console.log(fired ? "aer: PASSED" : "aer: no event within 5 s");
if (!fired) Deno.exit(1);

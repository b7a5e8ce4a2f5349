/**
 * Sanitize with progress: start a block erase and follow the Sanitize Status
 * log page (81h) with a progress bar until it completes. Devices without
 * sanitize (QEMU's model returns Invalid Opcode) are reported as such.
 *
 *   deno run --allow-ffi examples/sanitize.ts [--dut qemu]
 *
 * @module
 */
import { Buffer, Controller, StatusError } from "../mod.ts";

using nvme0 = new Controller();
const sanicap = nvme0.idCtrl.sanicap;
console.log(
  `SANICAP 0x${sanicap.toString(16)}: crypto erase ${
    sanicap & 1 ? "yes" : "no"
  }, block erase ${sanicap & 2 ? "yes" : "no"}, overwrite ${
    sanicap & 4 ? "yes" : "no"
  }`,
);
try {
  nvme0.sanitize(2).waitdone(); // block erase
} catch (e) {
  if (!(e instanceof StatusError)) throw e;
  console.log(`sanitize not available on this device: ${e.message}`);
  Deno.exit(0);
}

using log = new Buffer(512, "sanitize status");
const start = Date.now();
for (;;) {
  nvme0.getlogpage(0x81, log, { size: 20 }).waitdone();
  const sprog = log.data(1, 0) as number; // progress, in 1/65536
  const sstat = (log.data(3, 2) as number) & 0x7;
  const pct = sstat === 2 ? 100 : Math.floor(sprog * 100 / 65536);
  const bar = "#".repeat(pct / 2).padEnd(50, ".");
  await Deno.stdout.write(new TextEncoder().encode(`\r[${bar}] ${pct}%`));
  if (sstat !== 1 /* in progress */) {
    console.log(
      `\nsanitize status ${sstat} after ${(Date.now() - start) / 1000} s`,
    );
    break;
  }
  await new Promise((r) => setTimeout(r, 1000));
}

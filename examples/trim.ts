/**
 * Trim basic: write data, deallocate it with Dataset Management, read it back
 * (QEMU's model reads deallocated blocks as zeros: DLFEAT = 1).
 *
 *   deno run --allow-ffi examples/trim.ts [--dut qemu]
 *
 * @module
 */
import { Buffer, Controller, Namespace, PTYPE_DWORD, Qpair } from "../mod.ts";

using nvme0 = new Controller();
using nvme0n1 = new Namespace(nvme0, 1);
using qpair = new Qpair(nvme0, 16);
using data = new Buffer(64 * 1024, "data", 0xdeadbeef, PTYPE_DWORD);
using ranges = new Buffer(4096, "dsm ranges");
const lbas = data.size / nvme0n1.lbaSize;

nvme0n1.write(qpair, data, 0, lbas).waitdone();
ranges.setDsmRange(0, 0, lbas);
nvme0n1.dsm(qpair, ranges, 1).waitdone(); // attribute 0x4: deallocate
data.fill(0, 1);
nvme0n1.read(qpair, data, 0, lbas).waitdone();

const dlfeat = nvme0n1.identifyData[33] & 7;
const zeros = data.bytes.every((b) => b === 0);
console.log(
  `trimmed ${lbas} LBAs; DLFEAT read behaviour ${dlfeat}; reads back zeros: ${zeros}`,
);
if (dlfeat === 1 && !zeros) {
  console.error("trim: FAILED (DLFEAT promises zeros)");
  Deno.exit(1);
}
console.log("trim: PASSED");

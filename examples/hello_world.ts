/**
 * Hello world (pynvme's first script): write "hello world" to LBA 0 and, in
 * the write's callback, read it back into another buffer; wait for both.
 *
 *   deno run --allow-ffi examples/hello_world.ts [--dut qemu]
 *
 * @module
 */
import { Buffer, Controller, Namespace, Qpair } from "../mod.ts";

using nvme0 = new Controller(); // --dut / NVME_DUT / "qemu"
using nvme0n1 = new Namespace(nvme0, 1);
using qpair = new Qpair(nvme0, 16);
using writeBuf = new Buffer(512, "write");
using readBuf = new Buffer(512, "read");

console.log(`model number:      ${nvme0.idData(63, 24, "str")}`);
console.log(`firmware revision: ${nvme0.idData(71, 64, "str")}`);
console.log(
  `namespace size:    ${nvme0n1.capacity} LBAs of ${nvme0n1.lbaSize} bytes (${
    (nvme0n1.capacity * nvme0n1.lbaSize / 2 ** 30).toFixed(1)
  } GiB)`,
);

writeBuf.write("hello world");
nvme0n1.write(qpair, writeBuf, 0, 1, () => {
  // the write completed: read the LBA back into the other buffer
  nvme0n1.read(qpair, readBuf, 0, 1);
});
qpair.waitdone(2);

const text = readBuf.data(10, 0, "str");
console.log(`read back:         "${text}"`);
if (text !== "hello world") {
  console.error("hello world: FAILED");
  Deno.exit(1);
}
console.log("hello world: PASSED");

/**
 * pynvme's hello world (its driver_test.py `test_hello_world`), ported line by
 * line: data verification on, a write whose pynvme-style callback
 * `(cdw0, status1)` reads the LBA back, then a Compare. Callbacks with two
 * parameters get CQE DW0 and the 16-bit status word (phase tag in bit 0), as
 * in pynvme; callbacks with one parameter get the whole {@link Completion}.
 *
 *   deno run --allow-ffi examples/hello_world_pynvme.ts [--dut qemu]
 *
 * @module
 */
import { Buffer, Controller, Namespace, Qpair } from "../mod.ts";

using nvme0 = new Controller();
using nvme0n1 = new Namespace(nvme0, 1);
if (!nvme0n1.verifyEnable()) throw new Error("verification is not available");

// prepare data buffer and IO queue
using readBuf = new Buffer(512);
using writeBuf = new Buffer(512);
writeBuf.write("hello world", 10); // write_buf[10:21] = b'hello world'
using qpair = new Qpair(nvme0, 10);

// send write and read command
let seen = "";
function writeCb(cdw0: number, status1: number): void { // command callback function
  seen = `cdw0 0x${cdw0.toString(16)}, status1 0x${status1.toString(16)}`;
  nvme0n1.read(qpair, readBuf, 0, 1);
}
nvme0n1.write(qpair, writeBuf, 0, 1, writeCb);

// wait commands complete and verify data
if (readBuf.data(20, 10, "str") === "hello world") throw new Error("too early");
qpair.waitdone(2);
const text = readBuf.data(20, 10, "str");
console.log(`write callback:  ${seen}`);
console.log(`read back:       "${text}"`);
if (text !== "hello world") {
  console.error("hello world (pynvme style): FAILED");
  Deno.exit(1);
}
nvme0n1.compare(qpair, readBuf, 0).waitdone();
console.log("hello world (pynvme style): PASSED");

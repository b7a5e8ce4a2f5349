/**
 * Write-read verify (pynvme's `verify` fixture and its data-verification
 * tests): with {@link Namespace.verifyEnable} every write is stamped (LBA in
 * the first 8 bytes, a write token in the last 8) and its CRC-32C kept per
 * LBA; every read is checked against it, in scripts and ioworkers alike.
 *
 * 1. an ioworker writes random 4 KiB blocks, then a mixed ioworker reads
 *    (verified) and writes the same region at once;
 * 2. the script writes and reads a block back, verified;
 * 3. a block is changed behind the driver's back (a raw queue, as a firmware
 *    bug or another host would) and the next read of it fails with status
 *    07/81 and a {@link VerifyError} naming the LBA; rewriting it heals it.
 *
 *   deno run --allow-ffi examples/write_read_verify.ts \
 *     [--dut qemu] [--seconds 3]
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  Buffer,
  Controller,
  IoCQ,
  IoSQ,
  Namespace,
  Qpair,
  sqe,
  VerifyError,
} from "../mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    dut: { type: "string" },
    seconds: { type: "string", default: "3" },
  },
});
const seconds = Number(values.seconds);

using nvme0 = new Controller();
using nvme0n1 = new Namespace(nvme0, 1);
if (!nvme0n1.verifyEnable()) {
  console.log("data verification is not available for this namespace format");
  Deno.exit(0);
}
const k4 = Math.max(1, 4096 / nvme0n1.lbaSize);
const region = Math.min(nvme0n1.capacity, 64 * 2 ** 20 / nvme0n1.lbaSize); // 64 MiB

// 1. ioworkers: fill, then read (checked) and write at once
const fill = nvme0n1.ioworker({
  ioSize: k4,
  lbaAlign: k4,
  lbaRandom: false,
  readPercentage: 0,
  regionEnd: region,
  ioCount: region / k4,
  qdepth: 32,
}).start().close();
const mixed = nvme0n1.ioworker({
  ioSize: k4,
  lbaAlign: k4,
  lbaRandom: true,
  readPercentage: 50,
  regionEnd: region,
  qdepth: 32,
  time: seconds,
}).start().close();
console.log(
  `ioworkers: ${fill.ioCountWrite} writes filled ${
    region * nvme0n1.lbaSize / 2 ** 20
  } MiB, then ${mixed.ioCountRead} verified reads and ${mixed.ioCountWrite} writes${
    fill.ok && mixed.ok
      ? ""
      : ` — ERROR ${fill.errorMessage ?? mixed.errorMessage}`
  }`,
);
let failed = !fill.ok || !mixed.ok;

// 2. scripted write and read back, checked by the driver
using qpair = new Qpair(nvme0, 16);
using wbuf = new Buffer(4096, "write");
using rbuf = new Buffer(4096, "read");
wbuf.write("verified by denvme", 100);
const lba = 4096;
nvme0n1.write(qpair, wbuf, lba, k4).waitdone();
nvme0n1.read(qpair, rbuf, lba, k4).waitdone();
console.log(
  `LBA ${lba}: read back "${rbuf.data(117, 100, "str")}", stamp LBA ${
    new DataView(rbuf.bytes.buffer, rbuf.bytes.byteOffset).getBigUint64(0, true)
  }`,
);

// 3. a write the driver does not see (raw queues are not verified) ...
const qid = qpair.sqid + 1;
using junk = new Buffer(nvme0n1.lbaSize, "junk", 0x0badf00d, 32);
const cq = new IoCQ(nvme0, qid, 2);
const sq = new IoSQ(nvme0, qid, 2, cq);
sq.set(
  0,
  sqe({ opc: 0x01, cid: 7, nsid: 1, prp1: junk.iova, cdw: { 10: lba } }),
);
sq.tail = 1;
const cpl = cq.waitEntry(0, 1);
cq.head = 1;
sq.delete();
cq.delete();
if (!cpl || cpl.status) {
  throw new Error(`raw write failed: ${JSON.stringify(cpl)}`);
}
// ... is found by the next read of that LBA
try {
  nvme0n1.read(qpair, rbuf, lba, k4).waitdone();
  console.error("the changed block was not detected");
  failed = true;
} catch (e) {
  if (!(e instanceof VerifyError)) throw e;
  console.log(`detected: ${e.message}`);
  console.log(
    `  kind ${e.kind}, LBA ${e.lba}, expected CRC 0x${
      e.expected.toString(16)
    }, found 0x${e.found.toString(16)}`,
  );
  if (e.lba !== lba) failed = true;
}
// rewriting the block makes it good again
nvme0n1.write(qpair, wbuf, lba, k4).waitdone();
nvme0n1.read(qpair, rbuf, lba, k4).waitdone();
const s = nvme0n1.verifyStats();
console.log(
  `verification: ${s.stamped} blocks stamped, ${s.checked} checked, ${s.failedReads} failed read(s), table ${
    (s.tableBytes / 2 ** 20).toFixed(1)
  } MiB`,
);
if (s.failedReads !== 1) failed = true;
console.log(`write read verify: ${failed ? "FAILED" : "PASSED"}`);
if (failed) Deno.exit(1);

/**
 * I/O command surface on the embedded device: SGL, copy, verify, compare,
 * write uncorrectable, FUA/LR flags, DSM ranges, raw commands.
 */
import assert from "node:assert/strict";
import {
  Buffer,
  Controller,
  expectStatus,
  Namespace,
  PTYPE_DWORD,
  Qpair,
  StatusError,
} from "../mod.ts";

function setup(dut = "qemu:size=64M") {
  const nvme0 = new Controller(dut);
  const ns = new Namespace(nvme0, 1);
  const q = new Qpair(nvme0, 16);
  return {
    nvme0,
    ns,
    q,
    [Symbol.dispose]() {
      q.delete();
      nvme0.close();
    },
  };
}

Deno.test("SGL data block: round trip, PSDT and descriptor in the command", () => {
  using d = setup();
  const { ns, q } = d;
  using w = new Buffer(64 * 1024, "w", 0x5a5aa5a5, PTYPE_DWORD);
  using r = new Buffer(64 * 1024, "r");
  w.offset = 512; // SGLs take any byte offset within the buffer
  r.offset = 1024;
  ns.write(q, w, 7, 100, { sgl: true }).waitdone();
  ns.read(q, r, 7, 100, { sgl: true }).waitdone();
  assert.deepEqual(r.slice(1024, 1024 + 51200), w.slice(512, 512 + 51200));
  const e = q.cmdlog(1)[0];
  assert.equal(e.sqe[1] >> 6, 1, "PSDT = 01b");
  const dv = new DataView(e.sqe.buffer);
  assert.equal(dv.getBigUint64(24, true), r.iova, "SGL address");
  assert.equal(dv.getUint32(32, true), 51200, "SGL length");
  assert.equal(e.sqe[39], 0, "Data Block descriptor");
});

Deno.test("copy, verify, compare miscompare, write zeroes, DSM ranges", () => {
  using d = setup();
  const { ns, q } = d;
  using a = new Buffer(4096, "a", 0x11111111, PTYPE_DWORD);
  using b = new Buffer(4096, "b", 0x22222222, PTYPE_DWORD);
  using r = new Buffer(8192, "r");
  ns.write(q, a, 0, 8).waitdone();
  ns.write(q, b, 100, 8).waitdone();
  ns.copy(q, 1000, [{ lba: 0, count: 8 }, { lba: 100, count: 8 }]).waitdone();
  ns.read(q, r, 1000, 16).waitdone();
  assert.equal(r.u32(0), 0x11111111);
  assert.equal(r.u32(4096), 0x22222222);
  const c = q.cmdlog(2)[1];
  assert.equal(c.opcode, 0x19);
  assert.equal(c.cdw[10], 1000);
  assert.equal(c.cdw[12] & 0xff, 1, "NR: 2 ranges, 0's based");
  ns.verify(q, 0, 8).waitdone();
  ns.compare(q, a, 0, 8).waitdone();
  assert.throws(
    () => ns.compare(q, b, 0, 8).waitdone(),
    /02\/85 Compare Failure/,
  );
  ns.writeZeroes(q, 1000, 8).waitdone();
  ns.read(q, r, 1000, 16).waitdone();
  assert.ok(r.slice(0, 4096).every((x) => x === 0));
  assert.equal(r.u32(4096), 0x22222222);
  using ranges = new Buffer(4096);
  ranges.setDsmRange(0, 1008, 4);
  ranges.setDsmRange(1, 100, 2);
  ns.dsm(q, ranges, 2).waitdone();
  ns.read(q, r, 1008, 1).waitdone();
  assert.ok(r.slice(0, 512).every((x) => x === 0));
  ns.read(q, r, 100, 3).waitdone();
  assert.ok(r.slice(0, 1024).every((x) => x === 0), "deallocated");
  assert.equal(r.u32(1024), 0x22222222, "LBA 102 kept");
  const dsm = q.cmdlog(3)[2];
  assert.deepEqual([dsm.opcode, dsm.cdw[10], dsm.cdw[11]], [0x09, 1, 4]);
});

Deno.test("FUA/LR flags and CDW13-15 reach the command; QEMU's rejections", () => {
  using d = setup();
  const { ns, q } = d;
  using b = new Buffer(512);
  ns.write(q, b, 1, 1, {
    ioFlags: 1 << 14 | 1 << 15,
    cdw13: 0x7,
    cdw14: 0xabc,
    cdw15: 0x1234,
  })
    .waitdone();
  const e = q.cmdlog(1)[0];
  assert.equal(e.cdw[12] >>> 16, 0xc000);
  assert.deepEqual([e.cdw[13], e.cdw[14], e.cdw[15]], [7, 0xabc, 0x1234]);
  // Write Uncorrectable is not implemented by QEMU's model
  assert.throws(
    () => ns.writeUncorrectable(q, 0, 4).waitdone(),
    /00\/01 Invalid Command Opcode/,
  );
  const wu = q.cmdlog(1)[0];
  assert.deepEqual([wu.opcode, wu.cdw[10], wu.cdw[12]], [0x04, 0, 3]);
  // a vendor-specific opcode and an invalid namespace via raw commands
  expectStatus("00/01", () => ns.sendCmd(0xc1, q, { cdw10: 1 }).waitdone());
  assert.throws(
    () =>
      ns.sendCmd(0x02, q, { nsid: 0xfffffff0, buf: b, cdw12: 0 }).waitdone(),
    (err: Error) =>
      err instanceof StatusError && /00\/0b|00\/02/.test(err.message),
  );
  // explicit PRP1 (raw data pointer) still transfers
  b.write("raw prp");
  ns.sendCmd(0x01, q, { prp1: b.iova, cdw10: 3, cdw12: 0 }).waitdone();
  using r = new Buffer(512);
  ns.read(q, r, 3).waitdone();
  assert.equal(r.data(6, 0, "str"), "raw prp");
  // fused compare + write: QEMU has no fused operations (FUSES = 0)
  assert.equal(d.nvme0.idCtrl.fuses, 0);
  assert.throws(
    () => ns.sendCmd(0x05 | 1 << 8, q, { buf: r, cdw10: 3 }).waitdone(),
    StatusError,
  );
});

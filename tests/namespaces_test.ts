/**
 * Namespaces with different LBA formats on one embedded device, and zoned
 * namespaces (Zone Management Send/Receive, Zone Append).
 */
import assert from "node:assert/strict";
import {
  Buffer,
  Controller,
  Namespace,
  PTYPE_DWORD,
  Qpair,
  Reg,
} from "../mod.ts";

Deno.test("namespaces with different LBA formats on one device", () => {
  using nvme0 = new Controller("qemu:ns=3,size=64M,lba=512/4096/4096,ms=0/0/8");
  const [a, b, c] = [1, 2, 3].map((n) => new Namespace(nvme0, n));
  assert.deepEqual([a.lbaSize, b.lbaSize, c.lbaSize], [512, 4096, 4096]);
  assert.deepEqual([a.metadataSize, b.metadataSize, c.metadataSize], [0, 0, 8]);
  assert.equal(a.capacity, 64 * 2 ** 20 / 512);
  assert.equal(b.capacity, 64 * 2 ** 20 / 4096);
  assert.equal(
    c.capacity,
    Math.floor(64 * 2 ** 20 / (4096 + 8)),
    "QEMU: size / (lba + ms)",
  );
  using q = new Qpair(nvme0, 8);
  using w = new Buffer(4096, "w", 0xa5a5a5a5, PTYPE_DWORD);
  using r = new Buffer(4096);
  // the same LBA number holds different data in each namespace
  a.write(q, w, 5, 8).waitdone();
  b.write(q, w.fill(PTYPE_DWORD, 0xb), 5, 1).waitdone();
  a.read(q, r, 5, 8).waitdone();
  assert.equal(r.u32(0), 0xa5a5a5a5);
  b.read(q, r, 5, 1).waitdone();
  assert.equal(r.u32(4092), 0xb);
  // a transfer sized for 512-byte LBAs is too small for a 4096-byte one
  using small = new Buffer(512);
  assert.throws(
    () => b.read(q, small, 0, 1),
    /too small: 1 LBA\(s\) of 4096 bytes need 4096 bytes/,
  );
});

Deno.test("zoned namespace: report, append, invalid write, reset", () => {
  using nvme0 = new Controller("qemu:size=64M,zoned=4M");
  assert.equal(
    nvme0.reg32(Reg.CC),
    0x00460061,
    "CC.CSS = all I/O command sets",
  );
  const ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 8);
  using b = new Buffer(4096, "data", 0x20a, PTYPE_DWORD);
  using rep = new Buffer(4096, "zone report");
  const zlbas = 4 * 2 ** 20 / 512;
  ns.zoneMgmtRecv(q, rep, 0).waitdone();
  assert.equal(rep.u64(0), 16n, "16 zones of 4 MiB");
  assert.equal(rep.get(64) & 0xf, 2, "sequential write required");
  assert.equal(rep.get(65) >> 4, 1, "empty");
  assert.equal(rep.u64(64 + 16), 0n, "ZSLBA");
  assert.equal(rep.u64(64 + 24), 0n, "write pointer at the start");
  ns.write(q, b, 0, 8).waitdone();
  let lba = -1;
  ns.zoneAppend(q, b, 0, 8, (c) => lba = c.cdw0).waitdone();
  assert.equal(lba, 8, "appended right after the first write");
  ns.zoneMgmtRecv(q, rep, 0, { partial: true, size: 128 }).waitdone();
  assert.equal(rep.u64(64 + 24), 16n, "write pointer advanced");
  assert.equal(rep.get(65) >> 4, 2, "implicitly opened");
  assert.throws(
    () => ns.write(q, b, 100, 1).waitdone(),
    /01\/bc Zone Invalid Write/,
  );
  ns.zoneMgmtSend(q, zlbas, 3).waitdone(); // explicitly open zone 1
  ns.zoneMgmtRecv(q, rep, zlbas).waitdone();
  assert.equal(rep.get(65) >> 4, 3, "explicitly opened");
  ns.zoneMgmtSend(q, 0, 4, true).waitdone(); // reset all zones
  ns.zoneMgmtRecv(q, rep, 0).waitdone();
  assert.equal(rep.u64(64 + 24), 0n);
  assert.equal(rep.get(65) >> 4, 1, "empty again");
  const e = q.cmdlog(2)[1];
  assert.deepEqual(
    [e.opcode, e.cdw[13]],
    [0x79, 4 | 1 << 8],
    "Select All + Reset",
  );
});

Deno.test("separate metadata (MPTR) and protection information fields", () => {
  using nvme0 = new Controller("qemu:size=64M,ms=8,pi=1");
  const ns = new Namespace(nvme0, 1);
  assert.equal(ns.metadataSize, 8);
  using q = new Qpair(nvme0, 8);
  using data = new Buffer(4096, "data", 0x600d, PTYPE_DWORD);
  using meta = new Buffer(64, "meta");
  // PRACT: the controller generates the PI (guard, app tag, reference tag = LBA)
  ns.write(q, data, 10, 8, { meta, prinfo: 0x8 | 0x7, reftag: 10 }).waitdone();
  const w = q.cmdlog(1)[0];
  assert.equal(
    new DataView(w.sqe.buffer).getBigUint64(16, true),
    meta.iova,
    "MPTR",
  );
  assert.equal(w.cdw[12] >>> 26, 0xf, "PRINFO");
  assert.equal(w.cdw[14], 10, "reference tag");
  using back = new Buffer(64, "meta back");
  ns.read(q, data, 10, 8, { meta: back }).waitdone();
  const dv = new DataView(back.bytes.buffer, back.bytes.byteOffset, 64);
  for (let i = 0; i < 8; i++) {
    assert.equal(
      dv.getUint32(i * 8 + 4, false),
      10 + i,
      `reference tag of LBA ${10 + i}`,
    );
  }
  // checks: the right reference tag passes, a wrong one is reported
  ns.read(q, data, 10, 1, { meta: back, prinfo: 0x1, reftag: 10 }).waitdone();
  assert.throws(
    () =>
      ns.read(q, data, 10, 1, { meta: back, prinfo: 0x1, reftag: 11 })
        .waitdone(),
    /01\/81 Invalid Protection Information/,
  );
  // metadata buffer too small, or metadata on a namespace without it
  using tiny = new Buffer(8);
  assert.throws(
    () => ns.read(q, data, 0, 2, { meta: tiny }),
    /metadata buffer "buffer" too small/,
  );
  using plain = new Controller("qemu:size=64M");
  const pns = new Namespace(plain, 1);
  using pq = new Qpair(plain, 4);
  assert.throws(
    () => pns.read(pq, data, 0, 1, { meta: tiny }),
    /has no metadata/,
  );
});

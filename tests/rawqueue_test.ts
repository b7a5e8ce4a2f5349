/**
 * Raw queues (pynvme psd): SQs sharing a CQ, CID echo, SQHD, phase tags,
 * queue creation/deletion errors, invalid doorbell writes.
 */
import assert from "node:assert/strict";
import {
  Buffer,
  Controller,
  decodeAsyncEvent,
  IoCQ,
  IoSQ,
  libStats,
  sqe,
} from "../mod.ts";

const READ = 0x02;

Deno.test("two SQs on one CQ: CID echo, SQID, SQHD, phase wrap", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using buf = new Buffer(4096);
  const cq = new IoCQ(nvme0, 10, 4);
  const sqA = new IoSQ(nvme0, 10, 8, cq);
  const sqB = new IoSQ(nvme0, 11, 8, cq);
  try {
    const read = (cid: number) =>
      sqe({ opc: READ, cid, nsid: 1, prp1: buf.iova });
    sqA.set(0, read(0x1234));
    sqA.tail = 1;
    let e = cq.waitEntry(0, 1)!;
    assert.deepEqual([e.sqid, e.cid, e.sqhd, e.status], [10, 0x1234, 1, 0]);
    sqB.set(0, read(0xffff));
    sqB.tail = 1;
    e = cq.waitEntry(1, 1)!;
    assert.deepEqual([e.sqid, e.cid, e.sqhd], [11, 0xffff, 1]);
    cq.head = 2;
    // fill the rest of the CQ and wrap: the phase tag inverts on the second pass
    for (let i = 1; i <= 3; i++) sqA.set(i, read(i));
    sqA.tail = 4;
    // completions may come in any order; entries 2 and 3 have phase 1, the
    // third lands in entry 0 again, now with phase 0
    const e2 = cq.waitEntry(2, 1), e3 = cq.waitEntry(3, 1);
    cq.head = 0; // consumed 2 and 3: the head wraps
    const w = cq.waitEntry(0, 0);
    assert.ok(e2 && e3 && w, "three more completions, the last after the wrap");
    assert.deepEqual([e2.cid, e3.cid, w.cid].sort(), [1, 2, 3]);
    assert.deepEqual([e2.sqid, e3.sqid, w.sqid], [10, 10, 10]);
    assert.ok([e2, e3, w].every((e) => e.sqhd >= 2 && e.sqhd <= 4));
    cq.head = 1;
    // a CQ with submission queues cannot be deleted first
    assert.throws(() => cq.delete(), /01\/0c Invalid Queue Deletion/);
  } finally {
    sqA.delete();
    sqB.delete();
  }
  cq.delete();
  const cq2 = new IoCQ(nvme0, 10, 4); // the id is free again after deletion
  cq2.delete();
});

Deno.test("queue creation errors: ids, sizes, vectors, contiguity", () => {
  using nvme0 = new Controller("qemu:queues=8");
  assert.throws(
    () => new IoCQ(nvme0, 9, 16),
    /01\/01 Invalid Queue Identifier/,
  );
  assert.throws(
    () => new IoCQ(nvme0, 1, nvme0.mqes + 1),
    /01\/02 Invalid Queue Size/,
  );
  assert.throws(
    () => new IoCQ(nvme0, 1, 16, { iv: 100, ien: true }),
    /01\/08 Invalid Interrupt Vector/,
  );
  assert.throws(
    () => new IoCQ(nvme0, 1, 16, { pc: false }),
    /00\/02 Invalid Field/,
  );
  using cq = new IoCQ(nvme0, 1, 16);
  assert.throws(
    () => new IoCQ(nvme0, 1, 16),
    /01\/01 Invalid Queue Identifier/,
    "duplicate",
  );
  assert.throws(
    () => new IoSQ(nvme0, 1, 16, 2),
    /01\/00 Completion Queue Invalid/,
  );
  using sq = new IoSQ(nvme0, 1, 16, cq);
  assert.equal(sq.cqid, 1);
});

Deno.test("illegal queue ids and sizes on request: the device's own status (pynvme IOCQ parity)", () => {
  using nvme0 = new Controller("qemu:queues=8");
  // refused in TS by default, naming the parameter and its range
  assert.throws(
    () => new IoCQ(nvme0, 0, 16),
    /qid = 0 is out of range: allowed 1\.\./,
  );
  assert.throws(
    () => new IoCQ(nvme0, 1, 1),
    /qsize = 1 is out of range: allowed 2\.\.0x10000/,
  );
  assert.throws(() => new IoSQ(nvme0, 0, 16, 1), /qid = 0 is out of range/);
  const before = libStats();
  // { illegal: true } sends them: the device answers
  assert.throws(
    () => new IoCQ(nvme0, 0, 16, { illegal: true }),
    /01\/01 Invalid Queue Identifier/,
  );
  assert.throws(
    () => new IoCQ(nvme0, 1, 1, { illegal: true }),
    /01\/02 Invalid Queue Size/,
  );
  using cq = new IoCQ(nvme0, 1, 16);
  assert.throws(
    () => new IoSQ(nvme0, 0, 16, cq, { illegal: true }),
    /01\/01 Invalid Queue Identifier/,
  );
  assert.throws(
    () => new IoSQ(nvme0, 2, 1, cq, { illegal: true }),
    /01\/02 Invalid Queue Size/,
  );
  // a refused queue gives back its ring and its id
  assert.equal(
    libStats().buffers,
    before.buffers + 1,
    "only cq's ring is left",
  );
  using sq = new IoSQ(nvme0, 2, 16, cq);
  assert.equal(sq.qid, 2);
});

Deno.test("invalid SQ doorbell value: AER 'Invalid Doorbell Write Value'", () => {
  using nvme0 = new Controller("qemu");
  using cq = new IoCQ(nvme0, 1, 4);
  using sq = new IoSQ(nvme0, 1, 4, cq);
  sq.tail = 7; // beyond the queue
  const t0 = Date.now();
  let events = nvme0.takeAerEvents();
  while (!events.length && Date.now() - t0 < 3000) {
    nvme0.getfeatures(7).waitdone();
    events = nvme0.takeAerEvents();
  }
  assert.equal(events.length, 1);
  const ev = decodeAsyncEvent(events[0].cdw0);
  assert.deepEqual([ev.type, ev.info, ev.logPage], [0, 1, 1]);
  assert.equal(ev.infoName, "Invalid Doorbell Write Value");
});

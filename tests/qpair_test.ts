/**
 * I/O queue pairs: several at once, wrap-around, a full queue, deletion.
 */
import assert from "node:assert/strict";
import { Buffer, Controller, Namespace, PTYPE_DWORD, Qpair } from "../mod.ts";

Deno.test("several qpairs at once, interleaved", () => {
  using nvme0 = new Controller("qemu:size=64M");
  const ns = new Namespace(nvme0, 1);
  const qpairs = [2, 4, 16, 64, 1024].map((d) => new Qpair(nvme0, d));
  try {
    assert.deepEqual(qpairs.map((q) => q.sqid), [1, 2, 3, 4, 5]);
    const bufs = qpairs.map((q, i) =>
      new Buffer(512, `q${q.sqid}`, 0xa0000000 + i, PTYPE_DWORD)
    );
    // one write per qpair, all in flight together, then reaped per qpair
    qpairs.forEach((q, i) => ns.write(q, bufs[i], i, 1));
    for (const q of qpairs.toReversed()) q.waitdone();
    using r = new Buffer(512);
    qpairs.forEach((q, i) => {
      ns.read(q, r, i).waitdone();
      assert.equal(r.u32(0), 0xa0000000 + i);
    });
    bufs.forEach((b) => b.close());
  } finally {
    qpairs.forEach((q) => q.delete());
  }
  // the queue ids are free again
  using again = new Qpair(nvme0, 2);
  assert.equal(again.sqid, 1);
});

Deno.test("queue wrap-around: many times more commands than entries", () => {
  using nvme0 = new Controller("qemu:size=64M");
  const ns = new Namespace(nvme0, 1);
  for (const depth of [2, 3, 16]) {
    using q = new Qpair(nvme0, depth);
    using b = new Buffer(512);
    // one at a time: the tail and the CQ phase wrap many times
    for (let i = 0; i < depth * 10 + 1; i++) {
      b.fill(PTYPE_DWORD, i);
      ns.write(q, b, i % 50).waitdone();
    }
    // as many as fit, then wait for all: depth-1 in flight per batch
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < depth - 1; i++) ns.read(q, b, i);
      assert.equal(q.outstanding, depth - 1);
      q.waitdone(depth - 1);
    }
    assert.equal(q.outstanding, 0);
  }
});

Deno.test("a full queue reaps completions to make room", () => {
  using nvme0 = new Controller("qemu:size=64M");
  const ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 4); // 3 commands in flight at most
  using b = new Buffer(512);
  let calls = 0;
  for (let i = 0; i < 40; i++) ns.read(q, b, i, 1, () => calls++);
  // submissions beyond the queue depth reaped earlier completions (callbacks ran)
  assert.ok(calls >= 40 - 3, `callbacks ran while submitting: ${calls}`);
  q.waitdone(40); // every completion counts once, whenever it was reaped
  assert.equal(calls, 40);
  assert.throws(() => q.waitdone(1), /only 0 command\(s\)|waitdone\(1\)/);
});

Deno.test("callbacks that submit while their batch is handled: every completion counts once", () => {
  using nvme0 = new Controller("qemu:size=64M");
  const ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 16);
  using b = new Buffer(4096);
  // the CID a callback's command gets is often one whose completion was reaped
  // in the same batch and not handled yet: that one must still be found
  const seen: number[] = [];
  let more = 40;
  const cb = (cpl: { ok: boolean }) => {
    assert.ok(cpl.ok);
    seen.push(seen.length);
    if (more > 0) {
      more--;
      ns.read(q, b, more % 64, 1, cb);
    }
  };
  for (let i = 0; i < 12; i++) ns.read(q, b, i, 1, cb);
  q.waitdone(52);
  assert.equal(seen.length, 52);
  assert.equal(q.outstanding, 0);
  // callbacks that submit two each fill the queue: a submission waits for room
  // inside the reap, whose records are still being handled
  more = 64;
  const cb2 = (cpl: { ok: boolean }) => {
    assert.ok(cpl.ok);
    seen.push(seen.length);
    for (let k = 0; k < 2 && more > 0; k++) {
      more--;
      ns.read(q, b, more % 64, 1, cb2);
    }
  };
  for (let i = 0; i < 15; i++) ns.read(q, b, i, 1, cb2);
  q.waitdone(79);
  assert.equal(seen.length, 52 + 79);
  assert.equal(q.outstanding, 0);
  ns.read(q, b, 0, 8).waitdone(); // the queue still works
});

Deno.test("qpair depth limits and deletion", () => {
  using nvme0 = new Controller("qemu");
  assert.throws(
    () => new Qpair(nvme0, 1),
    /Qpair depth = 1 is out of range: allowed 2\.\.2048/,
  );
  assert.throws(
    () => new Qpair(nvme0, nvme0.mqes + 1),
    /Qpair depth = 2049 is out of range: allowed 2\.\.2048/,
  );
  using big = new Qpair(nvme0, nvme0.mqes); // MQES+1 entries is legal
  assert.equal(big.depth, 2048);
  const q = new Qpair(nvme0, 8);
  q.delete();
  q.delete(); // idempotent
  assert.ok(q.closed);
  assert.throws(() => q.waitdone(), /Qpair 2 \(deleted\) is closed/);
});

Deno.test("all granted queues can be created, one more cannot", () => {
  using nvme0 = new Controller("qemu:queues=4");
  const qs = [1, 2, 3, 4].map(() => new Qpair(nvme0, 2));
  assert.throws(
    () => new Qpair(nvme0, 2),
    /no free I\/O queue: the controller granted 4/,
  );
  qs.forEach((q) => q.delete());
});

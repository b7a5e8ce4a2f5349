/**
 * MSI-X on the embedded device: vectors are routed to words in DMA memory, so
 * a test sees exactly when the device interrupts.
 */
import assert from "node:assert/strict";
import {
  Buffer,
  CommandTimeoutError,
  Controller,
  Namespace,
  Qpair,
} from "../mod.ts";

Deno.test("an interrupt appears after a completion and not before", () => {
  // a slow device (4 IOs per second): once its burst allowance is used up,
  // each read takes ~250 ms, long enough to look while it is in flight
  using nvme0 = new Controller("qemu:size=64M,throttle=4");
  const ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 8);
  using b = new Buffer(512);
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    ns.read(q, b, i).waitdone();
    if (performance.now() - t0 > 100) break;
  }
  // On a loaded machine a read can be slow before the throttle is reached, so
  // the warm-up may stop early: an attempt counts only when its read really
  // stayed in flight (took over 150 ms); the flag is looked at right after
  // the submission, long before that.
  let seenInFlight: boolean | undefined;
  for (let attempt = 0; attempt < 10 && seenInFlight === undefined; attempt++) {
    q.msixClear();
    assert.equal(q.msixIsSet(), false, "no interrupt before any command");
    const t0 = performance.now();
    ns.read(q, b, 0);
    const early = q.msixIsSet();
    q.waitdone();
    if (performance.now() - t0 > 150) seenInFlight = early;
    assert.equal(q.msixIsSet(), true, "interrupt after the completion");
  }
  assert.notEqual(
    seenInFlight,
    undefined,
    "the throttled read never stayed in flight",
  );
  assert.equal(seenInFlight, false, "no interrupt while the read is in flight");
  q.msixClear();
  assert.equal(q.msixIsSet(), false);
});

Deno.test("a masked vector fires nothing; unmasking delivers it", () => {
  using nvme0 = new Controller("qemu");
  const ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 8);
  using other = new Qpair(nvme0, 8);
  using b = new Buffer(512);
  assert.notEqual(q.iv, other.iv, "each qpair has its own vector");
  q.msixClear();
  other.msixClear();
  q.msixMask();
  ns.read(q, b, 0).waitdone(); // I/O reaping polls: the completion arrives anyway
  assert.equal(q.msixIsSet(), false, "masked: no message");
  q.msixUnmask();
  assert.equal(
    q.msixIsSet(),
    true,
    "the pending interrupt is delivered on unmask",
  );
  assert.equal(other.msixIsSet(), false, "other vectors untouched");
  ns.read(other, b, 0).waitdone();
  assert.equal(other.msixIsSet(), true);
});

Deno.test("interrupts disabled on a qpair: no message, completions still reaped", () => {
  using nvme0 = new Controller("qemu");
  const ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 8, 0, false, 5);
  using b = new Buffer(512);
  nvme0.pcie.irqWords[5] = 0;
  ns.read(q, b, 0).waitdone();
  assert.equal(q.msixIsSet(), false);
  const cq = nvme0.cmdlog().find((e) => e.opcode === 0x05)!;
  assert.equal(cq.cdw[11], 5 << 16 | 1, "IV 5, IEN 0, PC 1 in Create I/O CQ");
});

Deno.test("admin completions are reaped only after the admin vector fired", () => {
  using nvme0 = new Controller("qemu");
  nvme0.timeout = 500;
  nvme0.pcie.maskVector(0, true);
  const t0 = Date.now();
  assert.throws(() => nvme0.getfeatures(7).waitdone(), CommandTimeoutError);
  assert.ok(
    Date.now() - t0 >= 450,
    "waited for the interrupt until the timeout",
  );
  // the completion was in the CQ all along: the log shows the timeout
  assert.deepEqual(nvme0.cmdlog(1)[0].notes, ["timeout"]);
  nvme0.pcie.maskVector(0, false); // pending interrupt delivered
  nvme0.timeout = 10_000;
  assert.equal(nvme0.getfeatures(7).waitdone(), (63 << 16) | 63);
  // the late answer was matched to the timed-out command, not to the new one
  const log = nvme0.cmdlog(2);
  assert.equal(log[0].status, "00/00");
  assert.ok(
    log[1].notes.some((n) => n.startsWith("late")),
    log[1].notes.join(),
  );
});

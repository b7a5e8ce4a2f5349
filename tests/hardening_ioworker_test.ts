/**
 * Hardening (issue 12): the ioworker's run time is a bound, whatever the
 * requested rate, and it is run in full. Against the embedded device.
 */
import assert from "node:assert/strict";
import { Controller, Namespace } from "../mod.ts";

Deno.test("defect 3: time bounds an ioworker whose iops the device cannot reach", () => {
  // the device does 200 IOs/s; 100000 were asked for: the run still ends at
  // its time (before: it went on until the 30 s guard ended it with -4)
  using nvme0 = new Controller("qemu:size=64M,throttle=200");
  const ns = new Namespace(nvme0, 1);
  const t0 = performance.now();
  const r = ns.ioworker({ ioSize: 1, qdepth: 4, time: 1, iops: 100_000 })
    .start().close();
  const wall = performance.now() - t0;
  console.log(
    `time 1 s, iops 100000 on a 200 IOPS device: ${r.mseconds} ms, ${r.ioCountRead} reads, wall ${
      wall.toFixed(0)
    } ms`,
  );
  assert.equal(r.hostError, 0, `host error ${r.hostError}: ${r.errorMessage}`);
  assert.equal(r.error, 0);
  assert.ok(r.ioCountRead > 0);
  // a hang guard, not a performance figure: the overrun lasted 30 s
  assert.ok(wall < 15_000, `ran ${wall.toFixed(0)} ms for time: 1`);
  ns.close();
});

Deno.test("defect 3: time bounds an ioworker with iops far above any device (1e7)", () => {
  using nvme0 = new Controller("qemu:size=64M,backend=null");
  const ns = new Namespace(nvme0, 1);
  const t0 = performance.now();
  const r = ns.ioworker({ ioSize: 8, qdepth: 32, time: 0.3, iops: 1e7 })
    .start().close();
  const wall = performance.now() - t0;
  console.log(
    `time 0.3 s, iops 1e7: ${r.mseconds} ms, ${r.ioCountRead} reads, wall ${
      wall.toFixed(0)
    } ms`,
  );
  assert.equal(r.hostError, 0, `host error ${r.hostError}: ${r.errorMessage}`);
  assert.ok(wall < 15_000, `ran ${wall.toFixed(0)} ms for time: 0.3`);
  ns.close();
});

Deno.test("issue 20: an ioworker with iops 2 and time 5 runs the full 5 s", () => {
  using nvme0 = new Controller("qemu:size=64M");
  const ns = new Namespace(nvme0, 1);
  const t0 = performance.now();
  const r = ns.ioworker({ ioSize: 1, qdepth: 2, time: 5, iops: 2 })
    .start().close();
  const wall = performance.now() - t0;
  console.log(`iops 2, time 5: ${r.mseconds} ms, ${r.ioCountRead} reads`);
  assert.equal(r.hostError, 0, r.errorMessage);
  // IOs due at 0, 0.5, ..., 4.5 s: 10, and none due at or after the deadline
  assert.equal(r.ioCountRead, 10);
  // it ran TO its time (before: it ended with the last IO, at 4.5 s)
  assert.ok(r.mseconds >= 5000, `mseconds ${r.mseconds}`);
  assert.ok(wall >= 5000, `returned after ${wall.toFixed(0)} ms`);
  ns.close();
});

/**
 * The NVM subsystem against the embedded device: shutdown notification, NVM
 * subsystem reset (not supported by QEMU's model), power cycles with the data
 * kept, and a dirty power loss in the middle of writes after which every write
 * the script saw complete reads back exactly.
 */
import assert from "node:assert/strict";
import {
  Buffer,
  ClosedError,
  type Completion,
  Controller,
  DeviceGoneError,
  libStats,
  Namespace,
  NvmeError,
  Pcie,
  PTYPE_DWORD,
  Qpair,
  Reg,
  Subsystem,
} from "../mod.ts";
import { throwsWith } from "./_util.ts";

/** True while `pid` exists and is not a zombie. */
function processRuns(pid: number): boolean {
  const out = new Deno.Command("cat", {
    args: [`/proc/${pid}/stat`],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  if (!out.success) return false;
  const stat = new TextDecoder().decode(out.stdout);
  return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

const LBA = 512;
const PER_WRITE = 8; // LBAs per write

/** Fill `buf` with content unique to each LBA of [lba, lba + count) and to `gen`. */
function stamp(buf: Buffer, lba: number, count: number, gen: number): void {
  const dv = new DataView(buf.bytes.buffer, buf.bytes.byteOffset);
  for (let i = 0; i < count; i++) {
    for (let d = 0; d < LBA / 4; d++) {
      dv.setUint32(
        i * LBA + d * 4,
        ((lba + i) * 0x9e3779b1 + d * 0x85ebca6b + gen * 0xc2b2ae35) >>> 0,
        true,
      );
    }
  }
}

Deno.test("shutdown notification: CSTS.SHST reaches 10b, then reset works", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using ns = new Namespace(nvme0, 1);
  using buf = new Buffer(4096, "w", 0x77777777, PTYPE_DWORD);
  using r = new Buffer(4096, "r");
  const sub = new Subsystem(nvme0);
  for (const abrupt of [false, true]) {
    const q = new Qpair(nvme0, 16);
    ns.write(q, buf, 0, 8).waitdone();
    assert.equal((nvme0.reg32(Reg.CSTS) >> 2) & 3, 0, "SHST 00b: normal");
    const ms = sub.shutdownNotify(abrupt);
    assert.ok(ms < 1000, `shutdown took ${ms} ms`);
    assert.equal((nvme0.reg32(Reg.CSTS) >> 2) & 3, 2, "SHST 10b: complete");
    assert.equal(
      (nvme0.reg32(Reg.CC) >> 14) & 3,
      abrupt ? 2 : 1,
      "CC.SHN as written",
    );
    nvme0.reset();
    assert.ok(q.closed);
    throwsWith(
      () => q.waitdone(),
      ClosedError,
      /deleted by a controller reset/,
    );
    assert.equal(nvme0.reg32(Reg.CSTS), 1, "ready, SHST cleared");
    using q2 = new Qpair(nvme0, 16);
    ns.read(q2, r, 0, 8).waitdone();
    assert.deepEqual(r.slice(), buf.slice(), "data flushed and kept");
  }
});

Deno.test("NVM subsystem reset: a clear error when CAP.NSSRS=0, the device untouched", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 16);
  using buf = new Buffer(4096);
  const sub = new Subsystem(nvme0);
  assert.equal((nvme0.cap >> 36n) & 1n, 0n, "CAP.NSSRS");
  const cc = nvme0.reg32(Reg.CC);
  throwsWith(
    () => sub.reset(),
    NvmeError,
    /NVM subsystem reset is not supported by qemu.* \(CAP\.NSSRS=0\)/,
  );
  assert.equal(nvme0.reg32(Reg.CC), cc);
  assert.equal(nvme0.reg32(Reg.CSTS), 1, "no NSSRO, still ready");
  assert.equal(nvme0.pcie.resetCount, 0);
  ns.read(q, buf, 0).waitdone(); // the qpair still works
});

Deno.test("power cycle: QEMU restarts on the same image, data kept, nvme0.reset() brings the controller back", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using ns = new Namespace(nvme0, 1);
  using w = new Buffer(64 * 1024, "w");
  using r = new Buffer(64 * 1024, "r");
  const sub = new Subsystem(nvme0);
  const q = new Qpair(nvme0, 32);
  stamp(w, 1000, 128, 1);
  ns.write(q, w, 1000, 128).waitdone(); // no flush: completed is enough
  const pid = nvme0.pcie.qemuPid;
  const irq = nvme0.pcie.irqWords;

  const t0 = performance.now();
  sub.powerCycle();
  const ms = performance.now() - t0;
  assert.ok(!processRuns(pid), "the old QEMU is gone");
  assert.notEqual(nvme0.pcie.qemuPid, pid);
  assert.ok(processRuns(nvme0.pcie.qemuPid));
  assert.equal(nvme0.pcie.poweredOff, false);
  assert.equal(nvme0.pcie.alive, true);
  assert.equal(nvme0.pcie.resetCount, 1);
  assert.equal(nvme0.pcie.msixEnabled, true, "vectors routed again");
  assert.equal(nvme0.pcie.irqWords, irq, "same interrupt words");
  // a fresh controller: disabled until reset
  assert.equal(nvme0.reg32(Reg.CC), 0);
  assert.equal(nvme0.reg32(Reg.CSTS), 0);
  throwsWith(
    () => ns.read(q, r, 0),
    NvmeError,
    /queue 1 was lost in the power cycle of embedded device/,
  );

  nvme0.reset();
  assert.ok(q.closed);
  throwsWith(
    () => ns.read(q, r, 0),
    ClosedError,
    /^Qpair 1 \(deleted by a controller reset\) is closed$/,
  );
  using q2 = new Qpair(nvme0, 32);
  ns.read(q2, r, 1000, 128).waitdone();
  assert.deepEqual(r.slice(), w.slice(), "written before the power cycle");
  assert.equal(nvme0.modelNumber, "QEMU NVMe Ctrl");
  // and again, with I/O in between
  stamp(w, 2000, 128, 2);
  ns.write(q2, w, 2000, 128).waitdone();
  sub.powerCycle();
  nvme0.reset();
  using q3 = new Qpair(nvme0, 32);
  r.fill();
  ns.read(q3, r, 2000, 128).waitdone();
  assert.deepEqual(r.slice(), w.slice());
  console.log(`power cycle: ${ms.toFixed(0)} ms`);
});

Deno.test("powered off: every access fails at once with DeviceGoneError, in-flight commands end as lost", () => {
  using nvme0 = new Controller("qemu:size=64M,throttle=10");
  using ns = new Namespace(nvme0, 1);
  using buf = new Buffer(4096);
  const sub = new Subsystem(nvme0);
  const q = new Qpair(nvme0, 64);
  for (let i = 0; i < 12; i++) ns.read(q, buf, i); // use up the throttle's burst
  q.waitdone(12);
  const lost: Completion[] = [];
  for (let i = 0; i < 20; i++) ns.read(q, buf, i, 1, (c) => lost.push(c));
  nvme0.reg32(Reg.CSTS);

  sub.powerOff();
  assert.equal(sub.poweredOff, true);
  assert.equal(nvme0.pcie.alive, false);
  assert.equal(nvme0.pcie.qemuPid, 0);
  let t0 = performance.now();
  throwsWith(() => q.waitdone(20), DeviceGoneError, /lost/);
  assert.ok(performance.now() - t0 < 1000, "no wait for the timeout");
  assert.equal(lost.length, 20);
  assert.ok(lost.every((c) => c.statusText === "07/ff" && !c.ok));
  assert.equal(q.outstanding, 0);

  t0 = performance.now();
  throwsWith(() => nvme0.reg32(Reg.CSTS), DeviceGoneError, /powered off/);
  throwsWith(() => nvme0.setReg32(Reg.CC, 0), DeviceGoneError, /powered off/);
  throwsWith(() => ns.read(q, buf, 0), DeviceGoneError, /powered off/);
  throwsWith(() => nvme0.getfeatures(7), DeviceGoneError, /powered off/);
  throwsWith(() => nvme0.pcie.cfg(0, 4), DeviceGoneError, /powered off/);
  throwsWith(() => nvme0.pcie.intxAsserted(), DeviceGoneError, /powered off/);
  throwsWith(() => nvme0.pcie.reset(), DeviceGoneError, /powered off/);
  throwsWith(
    () => nvme0.pcie.qmp("query-status"),
    DeviceGoneError,
    /powered off/,
  );
  throwsWith(() => nvme0.reset(), DeviceGoneError, /powered off/);
  throwsWith(() => new Qpair(nvme0, 16), DeviceGoneError, /powered off/);
  assert.ok(performance.now() - t0 < 500, "fast failures");
  sub.powerOff(); // already off: nothing to do

  sub.powerOn();
  throwsWith(() => sub.powerOn(), NvmeError, /already powered on/);
  nvme0.reset();
  using q2 = new Qpair(nvme0, 16);
  ns.read(q2, buf, 0).waitdone();
});

Deno.test("power callbacks replace the embedded device's power switch", () => {
  using nvme0 = new Controller("qemu:size=64M");
  const calls: string[] = [];
  const sub = new Subsystem(nvme0, {
    poweroff: () => calls.push("off"),
    poweron: () => calls.push("on"),
  });
  const pid = nvme0.pcie.qemuPid;
  nvme0.pcie.setCfg(0x04, 0, 2); // the callbacks' "power loss": memory space off
  sub.powerCycle();
  assert.deepEqual(calls, ["off", "on"]);
  assert.equal(nvme0.pcie.qemuPid, pid, "QEMU itself was not touched");
  assert.equal(nvme0.pcie.cfg(0x04, 2) & 0x6, 0x6, "enabled after poweron");
  nvme0.reset();
});

Deno.test("dirty power loss during writes: every write seen complete reads back", async (t) => {
  const N = 200;
  /**
   * 200 writes of 8 LBAs with LBA-unique content on a device that serves
   * 100 IOs at once and then 100 IOPS; `powerOff` is called when `when` says.
   */
  const run = async (
    how: "callback" | "main",
  ): Promise<{ seen: number; lost: number }> => {
    using nvme0 = new Controller("qemu:size=64M,throttle=100");
    using ns = new Namespace(nvme0, 1);
    const sub = new Subsystem(nvme0);
    const bufs: Buffer[] = [];
    try {
      const q = new Qpair(nvme0, 256);
      const seen = new Set<number>();
      const lost = new Set<number>();
      for (let i = 0; i < N; i++) {
        const b = new Buffer(PER_WRITE * LBA, `w${i}`);
        bufs.push(b);
        stamp(b, i * PER_WRITE, PER_WRITE, 7);
        ns.write(q, b, i * PER_WRITE, PER_WRITE, (c) => {
          if (c.ok) seen.add(i);
          else lost.add(i);
          if (how === "callback" && seen.size === 120 && !sub.poweredOff) {
            sub.powerOff(); // from inside the completion callback
          }
        });
      }
      if (how === "callback") {
        throwsWith(() => q.waitdone(N), DeviceGoneError, /lost/);
      } else {
        // let some complete while the script's event loop runs, then pull the plug
        while (seen.size < 130) await q.waitdoneAsync(1).catch(() => 0);
        sub.powerOff();
        throwsWith(
          () => q.waitdone(N - seen.size - lost.size),
          DeviceGoneError,
          /lost/,
        );
      }
      assert.equal(seen.size + lost.size, N, "every write completed once");
      assert.ok(lost.size > 0, "the power loss hit writes in flight");

      sub.powerOn();
      nvme0.reset();
      using q2 = new Qpair(nvme0, 64);
      using r = new Buffer(PER_WRITE * LBA, "r");
      let torn = 0;
      for (let i = 0; i < N; i++) {
        ns.read(q2, r, i * PER_WRITE, PER_WRITE).waitdone();
        const got = r.slice();
        const want = bufs[i].slice();
        if (seen.has(i)) {
          assert.deepEqual(got, want, `write ${i} was seen complete`);
          continue;
        }
        // a write not seen may have landed or not, LBA by LBA, but never garbage
        for (let l = 0; l < PER_WRITE; l++) {
          const g = got.subarray(l * LBA, (l + 1) * LBA);
          const ok = g.every((x) => x === 0) ||
            g.every((x, k) => x === want[l * LBA + k]);
          if (!ok) torn++;
        }
      }
      assert.equal(torn, 0, "LBAs with neither old nor new content");
      return { seen: seen.size, lost: lost.size };
    } finally {
      for (const b of bufs) b.close();
    }
  };
  await t.step("powerOff from a completion callback", async () => {
    const r = await run("callback");
    assert.ok(r.seen >= 120);
    console.log(`  ${r.seen} writes seen complete, ${r.lost} lost`);
  });
  await t.step("powerOff from the script while writes run", async () => {
    const r = await run("main");
    assert.ok(r.seen >= 130);
    console.log(`  ${r.seen} writes seen complete, ${r.lost} lost`);
  });
});

Deno.test("a Pcie opened alone can be power cycled through its controller's subsystem", () => {
  using pcie = new Pcie("qemu:size=64M");
  {
    using nvme0 = new Controller(pcie);
    new Subsystem(nvme0).powerCycle();
    nvme0.reset();
    assert.equal(nvme0.reg32(Reg.CSTS) & 1, 1);
  }
  // the Pcie outlives its controller and still works, on the new QEMU
  assert.equal(pcie.cfg(0, 4), 0x00101b36);
  assert.equal(pcie.alive, true);
});

Deno.test("closing a device while it is powered off leaves nothing behind", () => {
  const before = libStats();
  {
    using nvme0 = new Controller("qemu:size=64M");
    using q = new Qpair(nvme0, 16);
    using buf = new Buffer(4096);
    new Namespace(nvme0, 1).read(q, buf, 0); // in flight
    new Subsystem(nvme0).powerOff();
  }
  const after = libStats();
  assert.equal(after.pcie, before.pcie);
  assert.equal(after.controllers, before.controllers);
  assert.equal(after.sqs, before.sqs);
  assert.equal(after.children, before.children);
  assert.equal(after.buffers, before.buffers);
});

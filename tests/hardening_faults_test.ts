/**
 * Hardening (issue 12): faults and resources. The device dying during every
 * kind of wait, DMA views that never alias, the run directory and image
 * files of the embedded device, device options that reach QEMU, the DMA
 * arena giving memory back. Each test is named after the defect it covers.
 * Everything runs against the embedded device.
 */
import assert from "node:assert/strict";
import {
  Buffer,
  Controller,
  DeviceGoneError,
  IoCQ,
  IoSQ,
  IoWorkerHostError,
  Namespace,
  Pcie,
  Qpair,
  sqe,
} from "../mod.ts";
import { drainThrottle, throwsWith } from "./_util.ts";

/** A throttled device (2 IOs/s) with reads in flight; its QEMU killed from outside. */
function slowDevice(): {
  pcie: Pcie;
  nvme0: Controller;
  ns: Namespace;
  q: Qpair;
  bufs: Buffer[];
  kill: () => void;
  close: () => void;
} {
  const pcie = new Pcie("qemu:size=64M,throttle=2");
  const nvme0 = new Controller(pcie);
  nvme0.timeout = 0; // no command timeout: only noticing the death can end a wait
  const ns = new Namespace(nvme0, 1);
  const q = new Qpair(nvme0, 16);
  const bufs = [0, 1, 2, 3].map(() => new Buffer(4096));
  drainThrottle(ns, q, bufs[0]);
  const pid = pcie.qemuPid; // the QEMU this test started, nobody else's
  return {
    pcie,
    nvme0,
    ns,
    q,
    bufs,
    kill: () => Deno.kill(pid, "SIGKILL"),
    close: () => {
      for (const b of bufs) b.close();
      q.delete();
      nvme0.close();
      pcie.close();
    },
  };
}

/** Run `wait` (which must throw) and return the error and the elapsed ms. */
async function timed(
  wait: () => unknown,
): Promise<{ err: unknown; ms: number }> {
  const t0 = performance.now();
  try {
    await wait();
  } catch (e) {
    return { err: e, ms: performance.now() - t0 };
  }
  return { err: undefined, ms: performance.now() - t0 };
}

function assertGone(what: string, r: { err: unknown; ms: number }): void {
  assert.ok(
    r.err instanceof DeviceGoneError,
    `${what}: expected DeviceGoneError, got ${(r.err as Error)?.name}: ${
      (r.err as Error)?.message
    }`,
  );
  console.log(`${what}: DeviceGoneError after ${r.ms.toFixed(0)} ms`);
}

Deno.test("defect 2: device death during waitdone (sync) ends with DeviceGoneError", async () => {
  const d = slowDevice();
  try {
    // four reads in flight, their doorbell rung; then nothing touches the
    // device's registers: only asking whether it is alive can notice the death
    for (let i = 0; i < 4; i++) d.ns.read(d.q, d.bufs[i], i);
    d.nvme0.reg32(0x1c);
    d.kill();
    assertGone("waitdone(4)", await timed(() => d.q.waitdone(4)));
    assert.equal(d.pcie.alive, false);
  } finally {
    d.close();
  }
});

Deno.test("defect 2: device death during waitdoneAsync ends with DeviceGoneError", async () => {
  const d = slowDevice();
  try {
    for (let i = 0; i < 4; i++) d.ns.read(d.q, d.bufs[i], i);
    const wait = d.q.waitdoneAsync(4);
    setTimeout(d.kill, 100);
    assertGone("waitdoneAsync(4)", await timed(() => wait));
  } finally {
    d.close();
  }
});

Deno.test("defect 2: device death during an admin waitdone ends with DeviceGoneError", async () => {
  const d = slowDevice();
  try {
    // an admin command in flight while the device dies: the admin queue waits
    // on its interrupt vector, which never fires
    for (let i = 0; i < 4; i++) d.ns.read(d.q, d.bufs[i], i);
    d.kill();
    // the kill is not yet noticed (nothing touched the device): submit anyway
    let r: { err: unknown; ms: number };
    try {
      const cmd = d.nvme0.getfeatures(7);
      r = await timed(() => cmd.waitdone());
    } catch (e) {
      r = { err: e, ms: 0 }; // noticed at submission: as good
    }
    assertGone("admin waitdone", r);
  } finally {
    d.close();
  }
});

Deno.test("defect 2: device death during an ioworker ends it with DEVICE_GONE", async () => {
  const d = slowDevice();
  try {
    const w = d.ns.ioworker({ ioSize: 1, qdepth: 8, time: 60 }).start();
    await new Promise((r) => setTimeout(r, 300));
    d.kill();
    const t0 = performance.now();
    const r = await w.closeAsync();
    const ms = performance.now() - t0;
    assert.equal(
      r.hostError,
      IoWorkerHostError.DEVICE_GONE,
      `hostError ${r.hostError}: ${r.errorMessage}`,
    );
    console.log(`ioworker: DEVICE_GONE after ${ms.toFixed(0)} ms`);
    throwsWith(() => d.nvme0.getfeatures(7).waitdone(), DeviceGoneError);
  } finally {
    d.close();
  }
});

Deno.test("defect 2: device death during a raw CQ wait ends with DeviceGoneError", async () => {
  const d = slowDevice();
  const cq = new IoCQ(d.nvme0, 9, 16);
  const sq = new IoSQ(d.nvme0, 9, 16, cq);
  try {
    // a read the throttle holds back, then the device dies
    for (let i = 0; i < 3; i++) {
      sq.set(i, sqe({ opc: 0x02, cid: i, nsid: 1, prp1: d.bufs[i].iova }));
    }
    sq.tail = 3;
    cq.waitEntry(0, 1, 5000);
    d.kill();
    assertGone(
      "IoCQ.waitEntry",
      await timed(() => cq.waitEntry(2, 1, 60_000)),
    );
  } finally {
    sq.delete = () => {};
    cq.delete = () => {};
    d.close();
  }
});

Deno.test("defect 1: a Buffer view never aliases another buffer after close", () => {
  const a = new Buffer(4096);
  const view = a.bytes;
  const sub = view.subarray(100, 200);
  a.close();
  using b = new Buffer(4096); // may reuse a's memory
  assert.equal(view.length, 0, "the view is empty after close");
  assert.equal(sub.length, 0, "a subarray too");
  view[0] = 1;
  sub[0] = 2;
  assert.equal(b.get(0), 0);
  assert.equal(b.get(100), 0);
});

/** Objects reachable from `from` through own properties (symbols included). */
function reachable(from: object, target: object): boolean {
  const seen = new Set<object>();
  const todo: object[] = [from];
  while (todo.length) {
    const o = todo.pop()!;
    if (o === target) return true;
    if (seen.has(o)) continue;
    seen.add(o);
    for (const k of Reflect.ownKeys(o)) {
      const d = Object.getOwnPropertyDescriptor(o, k);
      const v = d && "value" in d ? d.value : undefined;
      if (v && (typeof v === "object" || typeof v === "function")) todo.push(v);
    }
  }
  return false;
}

Deno.test("defect 1: a Buffer view keeps its Buffer (and its memory) alive", () => {
  // the GC frees a Buffer's memory once the Buffer is unreachable: a view
  // (or a subarray of it) must reach the Buffer, through the ArrayBuffer
  // every view shares
  using buf = new Buffer(4096);
  const view = buf.bytes.subarray(16, 32);
  assert.ok(
    reachable(view.buffer, buf),
    "the view's memory does not hold its Buffer: the GC may free it under the view",
  );
});

Deno.test("defect 5: closing the Pcie of a Controller that opened it", () => {
  const nvme0 = new Controller("qemu:size=64M");
  nvme0.pcie.close();
  assert.ok(nvme0.pcie.closed);
  nvme0.close(); // and again: nothing left to do
});

Deno.test("defect 7: serial=@IMG0@ stays a serial number", () => {
  using nvme0 = new Controller("qemu:size=64M,serial=@IMG0@");
  assert.equal(nvme0.idCtrl.sn, "@IMG0@");
});

/** A pid that is certainly dead: a child that exited (and was reaped). */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

Deno.test("defect 8: the stale run-directory sweep follows no symlink", async () => {
  const base = Deno.env.get("XDG_RUNTIME_DIR") || "/tmp";
  const target = Deno.makeTempDirSync({ prefix: "harden-target-" });
  const pid = await deadPid();
  const link = `${base}/denvme-${pid}-abcdef`;
  const plain = `${base}/denvme-${pid}-ghijkl`;
  const files = ["qtest.sock", "qmp.sock"];
  try {
    for (const f of files) Deno.writeTextFileSync(`${target}/${f}`, "keep");
    Deno.symlinkSync(target, link);
    Deno.mkdirSync(plain, { mode: 0o777 });
    Deno.chmodSync(plain, 0o777);
    Deno.writeTextFileSync(`${plain}/qtest.sock`, "not a socket");
    using _nvme0 = new Controller("qemu:size=64M"); // start-up sweeps
    for (const f of files) {
      assert.equal(
        Deno.readTextFileSync(`${target}/${f}`),
        "keep",
        `${f} behind the symlink was touched`,
      );
    }
    assert.ok(Deno.lstatSync(link).isSymlink, "the symlink itself stays");
    assert.equal(
      Deno.readTextFileSync(`${plain}/qtest.sock`),
      "not a socket",
      "a directory of another mode is not ours: left alone",
    );
  } finally {
    try {
      Deno.removeSync(link);
    } catch { /* gone */ }
    Deno.removeSync(plain, { recursive: true });
    Deno.removeSync(target, { recursive: true });
  }
});

Deno.test("defect 8: a stale run directory of our own is still swept", async () => {
  const base = Deno.env.get("XDG_RUNTIME_DIR") || "/tmp";
  const pid = await deadPid();
  const dir = `${base}/denvme-${pid}-mnopqr`;
  Deno.mkdirSync(dir);
  Deno.chmodSync(dir, 0o700);
  try {
    using _nvme0 = new Controller("qemu:size=64M");
    assert.throws(() => Deno.lstatSync(dir), Deno.errors.NotFound);
  } finally {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* swept */ }
  }
});

Deno.test("defect 17: image= files are created 0600", () => {
  const dir = Deno.makeTempDirSync({ prefix: "harden-img-" });
  try {
    const path = `${dir}/disk.img`;
    using _nvme0 = new Controller(`qemu:size=64M,image=${path}`);
    assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("defect 17: qmp() on a dead device throws DeviceGoneError", () => {
  const pcie = new Pcie("qemu:size=64M");
  try {
    Deno.kill(pcie.qemuPid, "SIGKILL");
    let err: unknown;
    for (let i = 0; i < 100 && !err; i++) {
      try {
        pcie.qmp("query-status");
      } catch (e) {
        err = e;
      }
    }
    assert.ok(
      err instanceof DeviceGoneError,
      `got ${(err as Error)?.name}: ${(err as Error)?.message}`,
    );
  } finally {
    pcie.close();
  }
});

function rssShmemKiB(): number {
  const m = /RssShmem:\s+(\d+)/.exec(
    Deno.readTextFileSync("/proc/self/status"),
  );
  return m ? Number(m[1]) : 0;
}

Deno.test("defect 17: the DMA arena gives large freed ranges back to the OS", () => {
  const size = 128 << 20;
  const b = new Buffer(size);
  b.fill(0, 1); // every page touched (all ones)
  const full = rssShmemKiB();
  b.close();
  const after = rssShmemKiB();
  console.log(
    `RssShmem ${full} KiB with 128 MiB filled, ${after} KiB after close`,
  );
  assert.ok(
    full - after >= (size >> 10) * 0.9,
    `only ${full - after} KiB released of ${size >> 10}`,
  );
  // reused memory reads zero
  using c = new Buffer(size);
  assert.equal(c.get(0), 0);
  assert.equal(c.get(size - 1), 0);
});

Deno.test("defect 17: a kill during start-up leaves no run directory behind", async () => {
  const base = Deno.env.get("XDG_RUNTIME_DIR") || "/tmp";
  const dir = await Deno.makeTempDir({ prefix: "harden-startup-" });
  try {
    // a QEMU that takes its time to start: the driver is killed meanwhile
    const argsFile = `${dir}/args`;
    const wrapper = `${dir}/qemu`;
    await Deno.writeTextFile(
      wrapper,
      `#!/bin/sh\necho "$@" > ${argsFile}\nsleep 2\nexec qemu-system-x86_64 "$@"\n`,
    );
    await Deno.chmod(wrapper, 0o755);
    const script = `${dir}/start.ts`;
    await Deno.writeTextFile(
      script,
      `import { Controller } from ${
        JSON.stringify(new URL("../mod.ts", import.meta.url).href)
      };\nnew Controller("qemu:size=16M");\n`,
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", script],
      env: { DENVME_QEMU: wrapper },
      stdout: "null",
      stderr: "null",
    }).spawn();
    let args = "";
    for (let i = 0; i < 1000 && !args; i++) {
      await new Promise((r) => setTimeout(r, 20));
      args = await Deno.readTextFile(argsFile).catch(() => "");
    }
    assert.ok(args, "QEMU was never started");
    child.kill("SIGKILL");
    await child.status;
    const left = [...Deno.readDirSync(base)].map((e) => e.name)
      .filter((n) => n.startsWith(`denvme-${child.pid}-`));
    assert.deepEqual(left, [], "run directories left behind");
    // QEMU's sockets are socketpairs handed over as descriptors: no paths
    assert.doesNotMatch(args, /\.sock|unix:/);
    assert.match(args, /-qtest chardev:qtest/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

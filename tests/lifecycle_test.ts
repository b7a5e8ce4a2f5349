/**
 * Life cycle: no QEMU left behind and no runtime files, whether a script
 * closes its device, is interrupted, killed, crashes or exits early; no
 * leaked driver objects; controller reset; waitdoneAsync and the event loop.
 */
import assert from "node:assert/strict";
import {
  Buffer,
  ClosedError,
  Controller,
  libStats,
  Namespace,
  Pcie,
  PTYPE_DWORD,
  Qpair,
} from "../mod.ts";

const MOD_URL = new URL("../mod.ts", import.meta.url).href;

/**
 * `/proc/<pid>/stat` split after the command name: [state, ppid, ...], or
 * undefined when the process does not exist. (Deno grants /proc reads only
 * with --allow-all, so `cat` reads it.)
 */
function procStat(pid: number): string[] | undefined {
  const out = new Deno.Command("cat", {
    args: [`/proc/${pid}/stat`],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  if (!out.success) return undefined;
  const stat = new TextDecoder().decode(out.stdout);
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** State letter of a process (R, S, Z, ...), or undefined when it does not exist. */
function procState(pid: number): string | undefined {
  return procStat(pid)?.[0];
}

/** Parent pid of a live process. */
function procParent(pid: number): number {
  const stat = procStat(pid);
  assert.ok(stat, `process ${pid} does not exist`);
  return Number(stat[1]);
}

/** Command name of a process. */
function procComm(pid: number): string {
  const out = new Deno.Command("cat", {
    args: [`/proc/${pid}/comm`],
    stdout: "piped",
    stderr: "null",
  })
    .outputSync();
  return new TextDecoder().decode(out.stdout).trim();
}

/** True while `pid` is a running (not dead) QEMU. */
function qemuRunning(pid: number): boolean {
  const state = procState(pid);
  if (state === undefined || state === "Z") return false;
  return procComm(pid).startsWith("qemu-system");
}

/**
 * Wait up to `ms` for `pid` to be dead. A process whose parent died is
 * reparented to init, which reaps it in its own time: until then it is a
 * zombie (state Z) — dead, holding no memory, files or sockets — and counts
 * as gone.
 */
async function waitGone(pid: number, ms: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const state = procState(pid);
    if (state === undefined || state === "Z") return performance.now() - t0;
    if (performance.now() - t0 > ms) {
      assert.fail(
        `QEMU pid ${pid} still running (state ${state}) after ${ms} ms`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Directories where the C side puts run directories (denvme-<pid>-XXXXXX). */
function runtimeBases(): string[] {
  const bases = ["/tmp"];
  const xdg = Deno.env.get("XDG_RUNTIME_DIR");
  if (xdg) bases.push(xdg);
  return bases;
}

/** Run directories of process `pid` that exist now. */
function runDirs(pid: number): string[] {
  const found: string[] = [];
  for (const base of runtimeBases()) {
    try {
      for (const e of Deno.readDirSync(base)) {
        if (e.name.startsWith(`denvme-${pid}-`)) {
          found.push(`${base}/${e.name}`);
        }
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  return found;
}

/**
 * A child deno process running `code` (a module that imports mod.ts from __MOD__).
 * Its stdout and stderr are collected while it runs.
 */
class ChildScript implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  stdout = "";
  stderr = "";
  #file: string;
  #pumps: Promise<void>[];
  #status?: Deno.CommandStatus;

  private constructor(file: string, child: Deno.ChildProcess) {
    this.#file = file;
    this.child = child;
    const pump = async (
      s: ReadableStream<Uint8Array>,
      key: "stdout" | "stderr",
    ) => {
      const dec = new TextDecoder();
      for await (const chunk of s) {
        this[key] += dec.decode(chunk, { stream: true });
      }
    };
    this.#pumps = [pump(child.stdout, "stdout"), pump(child.stderr, "stderr")];
  }

  static async start(code: string, args: string[] = []): Promise<ChildScript> {
    const file = await Deno.makeTempFile({
      prefix: "lifecycle-child-",
      suffix: ".ts",
    });
    await Deno.writeTextFile(
      file,
      code.replaceAll("__MOD__", JSON.stringify(MOD_URL)),
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-ffi",
        "--allow-env",
        "--allow-read",
        file,
        ...args,
      ],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return new ChildScript(file, child);
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Wait for a stdout line matching `re` (the child must print it within `ms`). */
  async waitFor(re: RegExp, ms = 20_000): Promise<RegExpMatchArray> {
    const t0 = performance.now();
    for (;;) {
      const m = this.stdout.match(re);
      if (m) return m;
      if (this.#status || performance.now() - t0 > ms) {
        assert.fail(
          `child never printed ${re}; stdout: ${this.stdout}; stderr: ${this.stderr}`,
        );
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Wait for the child to exit (it is killed with SIGKILL after `ms`). */
  async status(ms = 20_000): Promise<Deno.CommandStatus> {
    if (this.#status) return this.#status;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.child.kill("SIGKILL");
    }, ms);
    this.#status = await this.child.status;
    clearTimeout(timer);
    await Promise.all(this.#pumps);
    assert.ok(
      !timedOut,
      `child did not exit within ${ms} ms; stderr: ${this.stderr}`,
    );
    return this.#status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#status) {
      try {
        this.child.kill("SIGKILL");
      } catch {
        // already gone
      }
      this.#status = await this.child.status;
      await Promise.all(this.#pumps);
    }
    await Deno.remove(this.#file);
  }
}

/**
 * The child: opens a device (with a qpair and a buffer), prints its QEMU pid,
 * then does what `Deno.args[0]` says, never closing anything.
 */
const CHILD = `
import { Buffer, Controller, Namespace, Qpair } from __MOD__;
const mode = Deno.args[0];
const nvme0 = new Controller(mode === "sync" ? "qemu:size=64M,throttle=1" : "qemu:size=64M");
const ns = new Namespace(nvme0, 1);
const q = new Qpair(nvme0, 64);
const buf = new Buffer(4096);
ns.write(q, buf, 0).waitdone();
console.log("QEMU " + nvme0.pcie.qemuPid);
if (mode === "async") {
  // I/O in flight all the time, awaited without blocking the event loop
  for (;;) {
    ns.read(q, buf, 0);
    await q.waitdoneAsync();
  }
} else if (mode === "sync") {
  // blocked in a synchronous waitdone for a minute: 60 reads at 1 IOPS
  nvme0.timeout = 0;
  for (let i = 0; i < 60; i++) ns.read(q, buf, i);
  console.log("WAITING");
  q.waitdone(60);
} else if (mode === "throw") {
  throw new Error("boom after opening the device");
} else if (mode === "exit") {
  Deno.exit(0);
}
`;

/** A child that must end (by itself or by `signal`) and leave nothing behind. */
async function childLeavesNothing(
  mode: string,
  signal: Deno.Signal | undefined,
  expect: (s: Deno.CommandStatus, c: ChildScript) => void,
): Promise<void> {
  await using c = await ChildScript.start(CHILD, [mode]);
  const qemuPid = Number((await c.waitFor(/^QEMU (\d+)$/m))[1]);
  assert.ok(qemuPid > 0);
  if (signal) {
    if (mode === "sync") await c.waitFor(/^WAITING$/m);
    // the QEMU is the child's, and running
    assert.ok(qemuRunning(qemuPid), `QEMU ${qemuPid} runs`);
    assert.equal(procParent(qemuPid), c.pid);
    // no runtime files even while it runs: the sockets were removed once connected
    assert.deepEqual(runDirs(c.pid), []);
    c.child.kill(signal);
  }
  const status = await c.status();
  expect(status, c);
  const ms = await waitGone(qemuPid, 2000);
  assert.ok(ms <= 2000);
  assert.deepEqual(runDirs(c.pid), [], "no run directory left behind");
}

Deno.test("closing a controller opened by name stops its QEMU", async (t) => {
  await t.step("Controller with a device name", () => {
    let pid: number;
    {
      using nvme0 = new Controller("qemu:size=64M");
      pid = nvme0.pcie.qemuPid;
      assert.ok(qemuRunning(pid));
      assert.equal(procParent(pid), Deno.pid);
    }
    // close() waited for QEMU and reaped it: the pid is gone at once
    assert.equal(procState(pid), undefined, `/proc/${pid} still exists`);
    assert.deepEqual(runDirs(Deno.pid), []);
  });

  await t.step("Controller on a Pcie: QEMU lives until the Pcie closes", () => {
    const pcie = new Pcie("qemu:size=64M");
    const pid = pcie.qemuPid;
    try {
      const nvme0 = new Controller(pcie);
      nvme0.close();
      assert.ok(qemuRunning(pid), "the Pcie still owns a running QEMU");
      assert.ok(pcie.alive);
    } finally {
      pcie.close();
    }
    assert.equal(procState(pid), undefined, `/proc/${pid} still exists`);
  });
});

Deno.test("a script that is interrupted, killed or crashes leaves no QEMU and no files", async (t) => {
  await t.step(
    "SIGINT (Ctrl-C) while awaiting waitdoneAsync",
    () =>
      childLeavesNothing("async", "SIGINT", (s) => {
        assert.equal(s.success, false);
        assert.equal(s.signal, "SIGINT");
      }),
  );
  await t.step(
    "SIGINT while blocked in a synchronous waitdone",
    () =>
      childLeavesNothing("sync", "SIGINT", (s) => {
        assert.equal(s.success, false);
        assert.equal(s.signal, "SIGINT");
      }),
  );
  await t.step("SIGTERM", () =>
    childLeavesNothing("async", "SIGTERM", (s) => {
      assert.equal(s.signal, "SIGTERM");
    }));
  await t.step(
    "SIGKILL (QEMU dies through PDEATHSIG)",
    () =>
      childLeavesNothing("async", "SIGKILL", (s) => {
        assert.equal(s.signal, "SIGKILL");
      }),
  );
  await t.step(
    "uncaught exception after opening the device",
    () =>
      childLeavesNothing("throw", undefined, (s, c) => {
        assert.equal(s.success, false);
        assert.equal(s.code, 1);
        assert.match(c.stderr, /Uncaught.*boom after opening the device/);
      }),
  );
  await t.step(
    "Deno.exit(0) without closing",
    () =>
      childLeavesNothing("exit", undefined, (s, c) => {
        assert.equal(s.success, true);
        assert.equal(s.code, 0);
        assert.equal(c.stderr, "");
      }),
  );
});

Deno.test("libStats: nothing left after everything is closed", async (t) => {
  await t.step("in this process", () => {
    const base = libStats();
    {
      using pcie = new Pcie("qemu:size=64M");
      using nvme0 = new Controller(pcie);
      using ns = new Namespace(nvme0, 1);
      using q1 = new Qpair(nvme0, 16);
      using q2 = new Qpair(nvme0, 64);
      using a = new Buffer(4096, "a", 0x12345678, PTYPE_DWORD);
      using b = new Buffer(4096, "b");
      ns.write(q1, a, 0, 8).waitdone();
      ns.read(q2, b, 0, 8).waitdone();
      assert.deepEqual(b.slice(0, 4096), a.slice(0, 4096));
      const open = libStats();
      assert.equal(open.pcie, base.pcie + 1);
      assert.equal(open.controllers, base.controllers + 1);
      assert.equal(open.sqs, base.sqs + 3, "admin + 2 I/O SQs");
      assert.equal(open.cqs, base.cqs + 3, "admin + 2 I/O CQs");
      assert.equal(open.buffers, base.buffers + 2);
      assert.equal(open.children, base.children + 1);
      assert.ok(open.dmaUsed > base.dmaUsed);
    }
    const after = libStats();
    // no test leaves a device, controller or queue open
    assert.equal(after.pcie, 0);
    assert.equal(after.controllers, 0);
    assert.equal(after.sqs, 0);
    assert.equal(after.cqs, 0);
    assert.equal(after.children, 0);
    // buffers: back to what this process had before (other test files share it)
    assert.equal(after.buffers, base.buffers);
    assert.equal(after.dmaUsed, base.dmaUsed);
  });

  await t.step(
    "in a fresh process: all zero, including buffers and DMA memory",
    async () => {
      await using c = await ChildScript.start(`
import { Buffer, Controller, libStats, Namespace, Qpair } from __MOD__;
{
  using nvme0 = new Controller("qemu:size=64M");
  using ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 16);
  using buf = new Buffer(8192);
  ns.write(q, buf, 0, 16).waitdone();
  const q2 = new Qpair(nvme0, 8);
  ns.read(q2, buf, 0, 16); // left in flight: closing the controller frees it
  const extra = new Buffer(512);
  extra.close();
  console.log("OPEN " + JSON.stringify(libStats()));
}
console.log("CLOSED " + JSON.stringify(libStats()));
`);
      const status = await c.status();
      assert.equal(status.code, 0, c.stderr);
      const open = JSON.parse(c.stdout.match(/^OPEN (.*)$/m)![1]);
      assert.equal(open.controllers, 1);
      assert.equal(open.sqs, 3);
      assert.equal(open.buffers, 1);
      assert.equal(open.children, 1);
      const closed = JSON.parse(c.stdout.match(/^CLOSED (.*)$/m)![1]);
      assert.deepEqual(
        { ...closed, arenaSize: 0 },
        {
          pcie: 0,
          controllers: 0,
          sqs: 0,
          cqs: 0,
          buffers: 0,
          dmaUsed: 0,
          children: 0,
          arenaSize: 0,
        },
      );
    },
  );
});

Deno.test("controller reset: qpairs are closed, new ones work, data survives", () => {
  using nvme0 = new Controller("qemu:size=64M,throttle=5");
  using ns = new Namespace(nvme0, 1);
  using w = new Buffer(4096, "w", 0xa5a5a5a5, PTYPE_DWORD);
  using r = new Buffer(4096, "r");
  const q1 = new Qpair(nvme0, 16);
  const q2 = new Qpair(nvme0, 16);
  ns.write(q1, w, 100, 8).waitdone();
  const base = libStats();

  // reads in flight (none reaped yet) on a 5 IOPS device: the reset ends
  // each of them once, as lost (07/FF, not a timeout)
  const lost: string[] = [];
  for (let i = 0; i < 12; i++) {
    ns.read(
      q2,
      r,
      0,
      1,
      (c) => lost.push(`${c.statusText}${c.timedOut ? " timeout" : ""}`),
    );
  }
  assert.equal(q2.outstanding, 12);
  nvme0.reset();
  assert.deepEqual(lost, Array(12).fill("07/ff"));

  for (const q of [q1, q2]) {
    assert.ok(q.closed);
    assert.throws(() => ns.read(q, r, 0), (e: Error) => {
      assert.ok(e instanceof ClosedError);
      assert.match(
        e.message,
        new RegExp(
          `^Qpair ${q.sqid} \\(deleted by a controller reset\\) is closed$`,
        ),
      );
      return true;
    });
    assert.throws(() => q.waitdone(), ClosedError);
    q.delete(); // deleting it afterwards is harmless
  }
  // the driver freed both I/O queue pairs
  const after = libStats();
  assert.equal(after.sqs, base.sqs - 2);
  assert.equal(after.cqs, base.cqs - 2);

  // the controller came back ready and new qpairs work, starting at qid 1 again
  assert.equal(nvme0.reg32(0x1c) & 1, 1, "CSTS.RDY");
  using q3 = new Qpair(nvme0, 16);
  assert.equal(q3.sqid, 1);
  nvme0.timeout = 10_000;
  ns.read(q3, r, 100, 8).waitdone();
  assert.deepEqual(
    r.slice(),
    w.slice(),
    "data written before the reset is there",
  );
  w.fill(PTYPE_DWORD, 0x3c3c3c3c);
  ns.write(q3, w, 200, 8).waitdone();
  r.fill();
  ns.read(q3, r, 200, 8).waitdone();
  assert.deepEqual(
    r.slice(),
    w.slice(),
    "write/read round trip after the reset",
  );
  // admin commands too
  assert.equal(nvme0.getfeatures(7).waitdone(), (63 << 16) | 63);
});

Deno.test("waitdoneAsync lets the event loop run while the device works", async () => {
  using nvme0 = new Controller("qemu:size=64M,throttle=5"); // 5 IOPS
  using ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 16);
  using buf = new Buffer(4096);
  // use up the throttle's burst allowance so that each read below takes ~200 ms
  for (let i = 0; i < 8; i++) ns.read(q, buf, i);
  q.waitdone(8);

  let ticks = 0;
  const id = setInterval(() => ticks++, 5);
  try {
    // synchronous waitdone: the event loop is blocked, the interval cannot fire
    let t0 = performance.now();
    for (let i = 0; i < 3; i++) ns.read(q, buf, i);
    q.waitdone(3);
    const syncMs = performance.now() - t0;
    assert.ok(syncMs >= 300, `the device was slow: ${syncMs} ms`);
    assert.equal(ticks, 0, "no tick during a synchronous waitdone");

    // waitdoneAsync: the interval keeps ticking while the reads are served
    t0 = performance.now();
    for (let i = 0; i < 3; i++) ns.read(q, buf, i);
    const cdw0 = await q.waitdoneAsync(3);
    const asyncMs = performance.now() - t0;
    assert.equal(cdw0, 0);
    assert.ok(asyncMs >= 300, `the device was slow: ${asyncMs} ms`);
    assert.ok(ticks >= 5, `${ticks} ticks in ${asyncMs.toFixed(0)} ms`);
    assert.equal(q.outstanding, 0);
  } finally {
    clearInterval(id);
  }
});

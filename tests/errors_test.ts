/**
 * Bad input gets a clear error, nothing crashes or hangs: device names, a
 * missing QEMU, out-of-range LBAs and transfers, bad parameters, closed
 * objects, command timeouts, a device that dies, invalid opcodes, bad
 * register offsets. Everything runs against the embedded device.
 */
import assert from "node:assert/strict";
import {
  Buffer,
  ClosedError,
  CommandTimeoutError,
  Controller,
  DeviceGoneError,
  expectStatus,
  libStats,
  Namespace,
  NvmeError,
  ParameterError,
  Pcie,
  Qpair,
  Reg,
  StatusError,
} from "../mod.ts";
import { throwsWith } from "./_util.ts";

const MOD_URL = new URL("../mod.ts", import.meta.url).href;

/** Run a TypeScript snippet in a child deno; kill it if it takes longer than `limitMs`. */
async function runScript(
  code: string,
  env: Record<string, string>,
  limitMs = 30_000,
): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const file = await Deno.makeTempFile({
    prefix: "errors-child-",
    suffix: ".ts",
  });
  try {
    await Deno.writeTextFile(file, code);
    const t0 = performance.now();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-ffi", "--allow-env", "--allow-read", file],
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill("SIGKILL");
    }, limitMs);
    const out = await child.output();
    clearTimeout(timer);
    assert.ok(!killed, `child script hung for ${limitMs} ms`);
    const dec = new TextDecoder();
    return {
      code: out.code,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
      ms: performance.now() - t0,
    };
  } finally {
    await Deno.remove(file);
  }
}

/** The parent environment without DENVME_QEMU, colors off, with overrides. */
function childEnv(overrides: Record<string, string>): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.DENVME_QEMU;
  return { ...env, NO_COLOR: "1", ...overrides };
}

Deno.test("bad device names: ParameterError naming the problem and what is allowed", () => {
  const before = libStats();
  const cases: [string, RegExp[]][] = [
    ["", [/empty device name/, /use "qemu"/, /PCI address/]],
    ["qemux", [/bad device name "qemux"/, /use "qemu", "qemu:<options>"/]],
    ["qemu:size=abc", [/size=abc/, /expected a size like 512M, 4G or 16T/]],
    ["qemu:lba=1000", [/lba=1000/, /allowed 512 or 4096/]],
    ["qemu:ns=99", [/ns=99/, /allowed 1\.\.32/]],
    [
      "qemu:bogus=1",
      [/unknown device option "bogus"/, /size=.*lba=512\|4096.*ns=1\.\.32/],
    ],
    ["12:34", [
      /bad device name "12:34"/,
      /PCI address such as "0000:01:00\.0"/,
    ]],
  ];
  for (const [name, patterns] of cases) {
    throwsWith(() => new Pcie(name), ParameterError, ...patterns);
    // the same through the Controller, which opens the Pcie itself
    throwsWith(() => new Controller(name), ParameterError, ...patterns);
  }
  // a PCI address that names no device on this host: a clear NvmeError naming
  // it and where to find the devices there are
  // (sysfs needs --allow-all in Deno: ask test(1) instead)
  const here = new Deno.Command("test", {
    args: ["-e", "/sys/bus/pci/devices/0000:01:00.0"],
  }).outputSync().success;
  const [full, names] = here
    ? ["ffff:ff:1f.7", ["ffff:ff:1f.7"]]
    : ["0000:01:00.0", ["0000:01:00.0", "01:00.0"]];
  for (const bdf of names) {
    const e = throwsWith(
      () => new Pcie(bdf),
      NvmeError,
      new RegExp(`device "${bdf}": no PCI device ${full.replace(".", "\\.")}`),
      /on this host/,
      /`deno task setup` lists the NVMe devices/,
    );
    assert.ok(!(e instanceof ParameterError));
  }
  // nothing was started or allocated by any of them
  const after = libStats();
  assert.equal(after.children, before.children);
  assert.equal(after.pcie, before.pcie);
  assert.equal(after.controllers, before.controllers);
});

Deno.test("missing QEMU: a clear message that says how to install it", async (t) => {
  const script = `import { Pcie } from ${JSON.stringify(MOD_URL)};
new Pcie("qemu");
console.log("opened");`;

  await t.step("not on PATH, DENVME_QEMU unset", async () => {
    const r = await runScript(script, childEnv({ PATH: "/nonexistent" }));
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stdout, /opened/);
    assert.match(r.stderr, /NvmeEnumerateError/); // an NvmeError (pynvme: NvmeEnumerateError)
    assert.match(r.stderr, /QEMU not found/);
    assert.match(r.stderr, /qemu-system-x86_64 is not on PATH/);
    assert.match(r.stderr, /deno task setup/);
    assert.match(r.stderr, /qemu-system-x86\b/);
    assert.match(r.stderr, /DENVME_QEMU/);
  });

  await t.step("DENVME_QEMU names a missing binary", async () => {
    const r = await runScript(
      script,
      childEnv({ DENVME_QEMU: "/nonexistent/qemu" }),
    );
    assert.notEqual(r.code, 0);
    assert.doesNotMatch(r.stdout, /opened/);
    assert.match(r.stderr, /NvmeEnumerateError/); // an NvmeError (pynvme: NvmeEnumerateError)
    assert.match(
      r.stderr,
      /DENVME_QEMU=\/nonexistent\/qemu is not an executable/,
    );
  });
});

Deno.test("an LBA past the end: 00/80 from waitdone, in the callback, and expectStatus", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 16);
  using buf = new Buffer(4096, "data");
  const cap = ns.capacity;
  assert.equal(cap, 64 * 2 ** 20 / 512);

  // waitdone throws the status; the callback sees it too
  const seen: [number, number][] = [];
  const e = throwsWith(
    () => ns.read(q, buf, cap, 1, (c) => seen.push([c.sct, c.sc])).waitdone(),
    StatusError,
    /^ERROR status: 00\/80 LBA Out of Range/,
    /Read lba 131072 count 1/,
    /past the end: namespace 1 has 131072 LBAs/,
    /sqid 1/,
  ) as StatusError;
  assert.equal(e.sct, 0);
  assert.equal(e.sc, 0x80);
  assert.deepEqual(seen, [[0, 0x80]]);
  assert.equal(q.outstanding, 0);

  // a range that starts inside and ends outside fails the same way
  throwsWith(
    () => ns.read(q, buf, cap - 1, 2).waitdone(),
    StatusError,
    /00\/80/,
  );

  // the last LBA itself is fine
  ns.read(q, buf, cap - 1, 1).waitdone();

  // expected: swallowed, the callback still sees it
  seen.length = 0;
  expectStatus("00/80", () => {
    ns.read(q, buf, cap, 1, (c) => seen.push([c.sct, c.sc])).waitdone();
  });
  assert.deepEqual(seen, [[0, 0x80]]);
  expectStatus([0, 0x80], () => ns.write(q, buf, cap + 100, 1).waitdone());

  // expected but it did not occur: throws
  throwsWith(
    () => expectStatus("00/80", () => ns.read(q, buf, 0, 1).waitdone()),
    NvmeError,
    /expected status 00\/80 did not occur/,
  );
  // expected another status than the one that occurred: the real one is reported
  throwsWith(
    () => expectStatus("00/02", () => ns.read(q, buf, cap, 1).waitdone()),
    StatusError,
    /00\/80 LBA Out of Range/,
  );
  // a malformed status string
  throwsWith(
    () => expectStatus("0x80", () => 0),
    ParameterError,
    /status "0x80" must look like "00\/80"/,
  );
  // the queue is still fine
  ns.read(q, buf, 0, 1).waitdone();
  assert.equal(q.outstanding, 0);
});

Deno.test("transfer size: above MDTS the device says 00/02, above 2 MiB the driver refuses", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 16);
  using buf = new Buffer(4 * 2 ** 20, "big");
  assert.equal(nvme0.mdts, 512 * 1024, "QEMU mdts=7 with 4 KiB pages");
  const mdtsLbas = nvme0.mdts / ns.lbaSize;

  // exactly MDTS works
  ns.read(q, buf, 0, mdtsLbas).waitdone();
  // one LBA more reaches the device, which answers Invalid Field in Command
  for (const n of [mdtsLbas + 1, 2 ** 21 / ns.lbaSize]) {
    const e = throwsWith(
      () => ns.read(q, buf, 0, n).waitdone(),
      StatusError,
      /^ERROR status: 00\/02 Invalid Field in Command/,
      new RegExp(`Read lba 0 count ${n}\\b`),
    ) as StatusError;
    assert.equal(e.sct, 0);
    assert.equal(e.sc, 0x02);
  }
  // more than 2 MiB never reaches the device
  const over = 2 ** 21 / ns.lbaSize + 1;
  throwsWith(
    () => ns.read(q, buf, 0, over),
    ParameterError,
    new RegExp(`lbaCount = ${over} \\(${over * 512} bytes\\)`),
    /driver's per-command limit of 2097152 bytes/,
    /MDTS is 524288 bytes/,
  );
  throwsWith(
    () => ns.write(q, buf, 0, over),
    ParameterError,
    /per-command limit/,
  );
  assert.equal(q.outstanding, 0, "nothing was submitted");
  ns.read(q, buf, 0, 8).waitdone();
});

Deno.test("bad I/O parameters: ParameterError naming the parameter", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 16);
  using small = new Buffer(512, "small");

  throwsWith(
    () => ns.read(q, small, 0, 2),
    ParameterError,
    /buffer "small" too small/,
    /2 LBA\(s\) of 512 bytes need 1024 bytes/,
    /the buffer has 512/,
  );
  throwsWith(
    () => ns.write(q, small, 0, 8),
    ParameterError,
    /"small"/,
    /4096 bytes/,
  );
  throwsWith(
    () => ns.compare(q, small, 0, 3),
    ParameterError,
    /"small"/,
    /1536/,
  );

  throwsWith(
    () => ns.read(q, small, -1),
    ParameterError,
    /read: lba = -1 is out of range/,
  );
  throwsWith(
    () => ns.read(q, small, -1n),
    ParameterError,
    /read: lba = -1 is out of range/,
  );
  throwsWith(
    () => ns.read(q, small, 1.5),
    ParameterError,
    /read: lba must be an integer/,
    /1\.5/,
  );
  throwsWith(
    () => ns.read(q, small, "7" as unknown as number),
    ParameterError,
    /read: lba must be an integer/,
    /"7"/,
  );
  throwsWith(
    () => ns.read(q, small, 0, 0),
    ParameterError,
    /read: lbaCount = 0 is out of range: allowed 1\.\./,
  );
  throwsWith(
    () => ns.read(q, small, 0, 65537),
    ParameterError,
    /lbaCount = (65537|0x10001) is out of range: allowed 1\.\.(65536|0x10000)/,
  );
  throwsWith(
    () => ns.writeZeroes(q, 0, 65537),
    ParameterError,
    /lbaCount = (65537|0x10001)/,
  );
  throwsWith(
    () => ns.read(q, small, 0, 1.5),
    ParameterError,
    /read: lbaCount must be an integer/,
  );
  throwsWith(
    () => ns.read(q, small, 0, NaN),
    ParameterError,
    /read: lbaCount must be an integer/,
  );
  throwsWith(
    () => ns.read(q, undefined as unknown as Buffer, 0),
    ParameterError,
    /read: buf is required \(an open Buffer\)/,
  );
  assert.equal(q.outstanding, 0, "nothing was submitted");
  ns.read(q, small, 0).waitdone();
});

Deno.test("qpair depth outside 2..MQES+1: ParameterError with the range", () => {
  using nvme0 = new Controller("qemu:size=64M");
  const before = libStats();
  assert.equal(nvme0.mqes, 2048);
  // (values from 0x10000 up are shown in hex)
  for (
    const [depth, shown] of [
      [nvme0.mqes + 1, "2049"],
      [65536, "0x10000"],
      [1, "1"],
      [0, "0"],
      [-3, "-3"],
    ] as const
  ) {
    throwsWith(
      () => new Qpair(nvme0, depth),
      ParameterError,
      new RegExp(
        `^Qpair depth = ${shown} is out of range: allowed 2\\.\\.2048$`,
      ),
    );
  }
  throwsWith(
    () => new Qpair(nvme0, 2.5),
    ParameterError,
    /new Qpair: depth must be an integer in 2\.\.MQES\+1, got 2\.5/,
  );
  // nothing was created on the driver side
  const after = libStats();
  assert.equal(after.sqs, before.sqs);
  assert.equal(after.cqs, before.cqs);
  // the limits themselves work, and the first one gets qid 1
  using q = new Qpair(nvme0, nvme0.mqes);
  assert.equal(q.sqid, 1);
  using q2 = new Qpair(nvme0, 2);
  assert.equal(q2.sqid, 2);
});

Deno.test("closed objects: ClosedError naming the object, never a crash", async (t) => {
  await t.step("Qpair after delete()", async () => {
    using nvme0 = new Controller("qemu:size=64M");
    using ns = new Namespace(nvme0, 1);
    using buf = new Buffer(512, "data");
    const q = new Qpair(nvme0, 8);
    q.delete();
    assert.ok(q.closed);
    q.delete(); // twice is fine
    q.close();
    throwsWith(
      () => ns.read(q, buf, 0),
      ClosedError,
      /^Qpair 1 \(deleted\) is closed$/,
    );
    throwsWith(() => q.waitdone(), ClosedError, /Qpair 1/);
    throwsWith(() => q.outstanding, ClosedError, /Qpair 1/);
    throwsWith(() => q.msixClear(), ClosedError, /Qpair 1/);
    // the async form rejects its promise (it does not throw at the call)
    const p = q.waitdoneAsync();
    assert.ok(p instanceof Promise);
    await assert.rejects(p, (e: Error) => {
      assert.ok(e instanceof ClosedError);
      assert.match(e.message, /Qpair 1/);
      return true;
    });
    // the controller is unharmed
    using q2 = new Qpair(nvme0, 8);
    ns.read(q2, buf, 0).waitdone();
  });

  await t.step("Buffer after close()", () => {
    using nvme0 = new Controller("qemu:size=64M");
    using ns = new Namespace(nvme0, 1);
    using q = new Qpair(nvme0, 8);
    const buf = new Buffer(512, "mybuf");
    buf.close();
    assert.ok(buf.closed);
    buf.close(); // twice is fine
    throwsWith(
      () => ns.read(q, buf, 0),
      ClosedError,
      /^Buffer "mybuf" is closed$/,
    );
    throwsWith(() => ns.write(q, buf, 0), ClosedError, /Buffer "mybuf"/);
    throwsWith(() => buf.data(3, 0), ClosedError, /Buffer "mybuf"/);
    throwsWith(() => buf.bytes, ClosedError, /Buffer "mybuf"/);
    throwsWith(() => buf.write("x"), ClosedError, /Buffer "mybuf"/);
    throwsWith(() => buf.fill(), ClosedError, /Buffer "mybuf"/);
    throwsWith(() => buf.iova, ClosedError, /Buffer "mybuf"/);
    assert.equal(q.outstanding, 0);

    // closed while the device still uses it: the command completes normally
    using w = new Buffer(512, "pattern", 0x5a5a5a5a, 32);
    ns.write(q, w, 3).waitdone();
    const inflight = new Buffer(512, "inflight");
    ns.read(q, inflight, 3);
    inflight.close();
    q.waitdone();
    using check = new Buffer(512, "check");
    ns.read(q, check, 3).waitdone();
    assert.equal(check.u32(0), 0x5a5a5a5a);
  });

  await t.step("Controller after close()", async () => {
    using pcie = new Pcie("qemu:size=64M");
    const nvme0 = new Controller(pcie);
    const ns = new Namespace(nvme0, 1);
    const q = new Qpair(nvme0, 8);
    using buf = new Buffer(512);
    nvme0.close();
    assert.ok(nvme0.closed);
    nvme0.close(); // twice is fine
    throwsWith(
      () => nvme0.reg32(Reg.CSTS),
      ClosedError,
      /^Controller is closed$/,
    );
    throwsWith(() => nvme0.setReg32(Reg.INTMS, 1), ClosedError, /Controller/);
    throwsWith(() => nvme0.reg64(Reg.CAP), ClosedError, /Controller/);
    throwsWith(() => nvme0.waitdone(), ClosedError, /Controller/);
    await assert.rejects(nvme0.waitdoneAsync(), (e: Error) => {
      assert.ok(e instanceof ClosedError);
      assert.match(e.message, /^Controller is closed$/);
      return true;
    });
    throwsWith(() => nvme0.getfeatures(7), ClosedError, /Controller/);
    throwsWith(
      () => {
        nvme0.timeout = 5;
      },
      ClosedError,
      /Controller/,
    );
    throwsWith(() => new Qpair(nvme0, 8), ClosedError, /Controller/);
    // its qpairs went with it
    assert.ok(q.closed);
    throwsWith(() => ns.read(q, buf, 0), ClosedError, /Qpair 1/);
    q.delete();
    // the PCIe function is still open: a new controller works on it
    assert.ok(pcie.alive);
    using again = new Controller(pcie);
    using ns2 = new Namespace(again, 1);
    using q2 = new Qpair(again, 8);
    ns2.read(q2, buf, 0).waitdone();
  });

  await t.step("Pcie after close()", () => {
    const pcie = new Pcie("qemu:size=64M");
    const nvme0 = new Controller(pcie);
    // closing the Pcie closes the controller open on it first
    pcie.close();
    assert.ok(pcie.closed);
    assert.ok(nvme0.closed);
    pcie.close(); // twice is fine
    nvme0.close();
    throwsWith(
      () => pcie.cfg(0, 4),
      ClosedError,
      /^device "qemu:size=64M" is closed$/,
    );
    throwsWith(() => pcie.qemuPid, ClosedError, /device "qemu:size=64M"/);
    throwsWith(() => pcie.alive, ClosedError, /device "qemu:size=64M"/);
    throwsWith(
      () => pcie.setCfg(4, 0, 2),
      ClosedError,
      /device "qemu:size=64M"/,
    );
    throwsWith(
      () => pcie.qmp("query-status"),
      ClosedError,
      /device "qemu:size=64M"/,
    );
    throwsWith(
      () => new Controller(pcie),
      ClosedError,
      /device "qemu:size=64M"/,
    );
    throwsWith(() => nvme0.reg32(0), ClosedError, /Controller/);
  });
});

Deno.test("command timeout: CommandTimeoutError in time, late completions dropped", async () => {
  using nvme0 = new Controller("qemu:size=64M,throttle=2"); // 2 IOPS
  using ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 16);
  using buf = new Buffer(4096);
  nvme0.timeout = 300;
  assert.equal(nvme0.timeout, 300);
  const calls = [0, 0, 0, 0];
  let timedOut = 0;
  const t0 = performance.now();
  for (let i = 0; i < 4; i++) {
    ns.read(q, buf, i, 1, (c) => {
      calls[i]++;
      if (c.timedOut) {
        timedOut++;
        assert.equal(c.statusText, "07/ff");
      }
    });
  }
  const e = throwsWith(
    () => q.waitdone(4),
    CommandTimeoutError,
    /^ERROR status: 07\/ff command timeout/,
    /Read lba \d count 1/,
    /did not complete within 300 ms/,
  ) as CommandTimeoutError;
  const elapsed = performance.now() - t0;
  assert.ok(elapsed >= 290, `the timeout fired early: ${elapsed} ms`);
  assert.ok(elapsed < 5000, `the timeout took ${elapsed} ms`);
  assert.equal(e.sct, 7);
  assert.equal(e.sc, 0xff);
  assert.ok(e.completion.timedOut);
  assert.ok(timedOut >= 1, "at least one command timed out");
  assert.deepEqual(calls, [1, 1, 1, 1], "each callback ran once");
  assert.equal(q.outstanding, 0);

  // the device still answers the timed-out reads later; those answers are dropped
  await new Promise((r) => setTimeout(r, 2500));
  nvme0.timeout = 10_000;
  let last = 0;
  ns.read(q, buf, 0, 1, () => last++).waitdone();
  assert.equal(last, 1);
  assert.deepEqual(
    calls,
    [1, 1, 1, 1],
    "late completions ran no callback again",
  );
  assert.equal(q.outstanding, 0);
  // and they do not count for a later waitdone: nothing is left to wait for
  throwsWith(
    () => q.waitdone(1),
    NvmeError,
    /only 0 command\(s\) can complete/,
  );
});

Deno.test("device gone: a killed QEMU ends waitdone with an error quickly", () => {
  const pcie = new Pcie("qemu:size=64M");
  const nvme0 = new Controller(pcie);
  const ns = new Namespace(nvme0, 1);
  const q = new Qpair(nvme0, 16);
  const buf = new Buffer(4096);
  try {
    ns.read(q, buf, 0).waitdone();
    assert.ok(pcie.alive);
    Deno.kill(pcie.qemuPid, "SIGKILL");
    const t0 = performance.now();
    let err: unknown;
    try {
      ns.read(q, buf, 0).waitdone();
    } catch (e) {
      err = e;
    }
    const elapsed = performance.now() - t0;
    assert.ok(err instanceof NvmeError, `expected an NvmeError, got ${err}`);
    assert.ok(
      err instanceof DeviceGoneError || /gone/.test(err.message),
      `expected "gone": ${err.message}`,
    );
    assert.match(err.message, /gone/);
    assert.ok(elapsed < 3000, `took ${elapsed} ms`);
    assert.equal(pcie.alive, false);
    // later accesses fail at once, too
    const t1 = performance.now();
    throwsWith(() => nvme0.reg32(Reg.CSTS), DeviceGoneError, /gone/);
    throwsWith(() => ns.read(q, buf, 0), DeviceGoneError, /gone/);
    throwsWith(() => nvme0.getfeatures(7).waitdone(), DeviceGoneError, /gone/);
    assert.ok(performance.now() - t1 < 3000);
  } finally {
    // closing everything afterwards works
    q.delete();
    buf.close();
    nvme0.close();
    pcie.close();
  }
  assert.ok(pcie.closed);
});

Deno.test("invalid opcode: 00/01 Invalid Command Opcode", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 16);
  const seen: [number, number][] = [];
  const e = throwsWith(
    () =>
      ns.sendCmd(0xff, q, { cb: (c) => seen.push([c.sct, c.sc]) }).waitdone(),
    StatusError,
    /^ERROR status: 00\/01 Invalid Command Opcode/,
    /sqid 1/,
  ) as StatusError;
  assert.equal(e.sct, 0);
  assert.equal(e.sc, 0x01);
  assert.deepEqual(seen, [[0, 0x01]]);
  // on the admin queue too
  throwsWith(
    () => nvme0.sendCmd(0xff).waitdone(),
    StatusError,
    /^ERROR status: 00\/01 Invalid Command Opcode/,
    /sqid 0/,
  );
  // and both queues still work
  expectStatus("00/01", () => ns.sendCmd(0xff, q).waitdone());
  using buf = new Buffer(512);
  ns.read(q, buf, 0).waitdone();
  assert.equal(nvme0.getfeatures(7).waitdone(), (63 << 16) | 63);
});

Deno.test("register access with bad offsets: an error naming the offset", () => {
  using nvme0 = new Controller("qemu:size=64M");
  const bad = (fn: () => unknown, ...patterns: RegExp[]) => {
    let caught: unknown;
    try {
      fn();
    } catch (e) {
      caught = e;
    }
    assert.ok(
      caught instanceof ParameterError || caught instanceof NvmeError,
      `expected ParameterError or NvmeError, got ${caught}`,
    );
    for (const p of patterns) assert.match(caught.message, p);
  };
  bad(() => nvme0.reg32(-4), /register offset/, /-4/);
  bad(() => nvme0.reg32(2), /register offset/, /0x2\b/, /aligned/);
  bad(() => nvme0.reg32(0x10000), /register offset/, /0x10000/);
  bad(() => nvme0.reg32(1.5), /register offset/, /1\.5/);
  // inside the driver's range but past BAR0 (16 KiB)
  bad(() => nvme0.reg32(0xfffc), /0xfffc/, /below 0x4000/);
  bad(() => nvme0.setReg32(-4, 0), /register offset/, /-4/);
  bad(() => nvme0.setReg32(6, 0), /0x6\b/, /aligned/);
  bad(() => nvme0.setReg32(0x10000, 0), /register offset/, /0x10000/);
  bad(() => nvme0.reg64(4), /0x4\b/, /8-byte aligned/);
  bad(() => nvme0.reg64(0x10000), /register offset/, /0x10000/);
  bad(() => nvme0.setReg64(-8, 0n), /register offset/, /-8/);
  bad(() => nvme0.pcie.cfg(0x1000, 4), /offset/, /4096/, /0\.\.4095/);
  bad(() => nvme0.pcie.cfg(-1), /offset/, /-1/);
  bad(() => nvme0.pcie.cfg(2, 4), /0x2\b/, /aligned/);
  // the controller is untouched
  assert.equal(nvme0.reg32(Reg.CSTS) & 1, 1);
  assert.equal(nvme0.reg32(Reg.CC), 0x00460001);
});

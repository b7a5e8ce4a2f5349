/**
 * Power cycles and surprise removal of a real device through VFIO. Run by the
 * guest-VM test (`deno task test:vfio`) against an NVMe controller behind a
 * hotplug-capable PCIe root port, one test per step:
 *
 *   deno test --allow-all tests/vfio_power_test.ts -- --dut 0000:01:00.0
 *
 * The three power methods (`power=slot|s3|cmd`), a power cycle with the driver
 * running, dirty power cycles under ioworkers with data verification (every
 * write whose completion was seen reads back), 20 power cycles in a row under
 * IO, S3 with an RTC wake-up, the external command (the guest test's command
 * asks the host for QMP device_del / device_add on the console), and a
 * surprise removal (the host's QMP device_del) under IO. On the embedded
 * device these tests are ignored and say so (tests/power_test.ts covers it).
 *
 * They overwrite namespace 1's first 64 MiB; the removal test needs the host
 * side of the guest test (it asks it for the removal).
 */
import assert from "node:assert/strict";
import {
  Buffer,
  Controller,
  defaultDut,
  DeviceGoneError,
  IoWorkerHostError,
  type IoWorkerResult,
  Namespace,
  NvmeError,
  ParameterError,
  parseDut,
  Qpair,
  Reg,
  Subsystem,
} from "../mod.ts";
import type { PowerMethod } from "../ffi/dut.ts";
import { throwsWith } from "./_util.ts";

const DUT = defaultDut();
const PARSED = parseDut(DUT);
const REAL = PARSED.kind === "pci";
const BDF = PARSED.kind === "pci" ? PARSED.bdf : "";
const REAL_ONLY =
  "[real device only: ignored on the embedded device, run with --dut <bdf>]";
/** The guest test's power switch: asks the host on the console (tasks/vm/power_cmd.sh). */
const POWER_CMD = `sh ${
  new URL("../tasks/vm/power_cmd.sh", import.meta.url).pathname
}`;
/** LBAs the IO steps use (64 MiB of 512-byte LBAs). */
const REGION = 131072;
/**
 * Where the data kept across a power cycle lives: past REGION, so that the
 * ioworkers running during the cycle never overwrite it.
 */
const KEPT = REGION + 4096;

/** Byte-wise equality that names the first difference (cheap on 64 KiB). */
function sameBytes(found: Uint8Array, expected: Uint8Array, what: string) {
  assert.equal(found.length, expected.length, `${what}: length`);
  for (let i = 0; i < found.length; i++) {
    if (found[i] !== expected[i]) {
      assert.fail(
        `${what}: byte ${i} is 0x${found[i].toString(16)}, expected 0x${
          expected[i].toString(16)
        }`,
      );
    }
  }
}

/**
 * A test of a real device. Under the guest-VM test (VMTEST_STEPS=1) each one
 * is also a step the host lists: VMTEST-STEP lines on the console.
 */
function realTest(
  id: string,
  name: string,
  fn: () => void | Promise<void>,
): void {
  const steps = REAL && Deno.env.get("VMTEST_STEPS") === "1";
  const mark = (line: string) => {
    if (steps) Deno.writeTextFileSync("/dev/console", `\n${line}\n`);
  };
  Deno.test({
    name: `${name} ${REAL_ONLY}`,
    ignore: !REAL,
    fn: async () => {
      mark(`VMTEST-STEP-BEGIN ${id}`);
      try {
        await fn();
      } catch (e) {
        const why = (e as Error).message.split("\n")[0].slice(0, 200);
        mark(`VMTEST-STEP-END ${id} fail (${why})`);
        throw e;
      }
      mark(`VMTEST-STEP-END ${id} pass`);
    },
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A progress line on the console (the guest test shows it as it happens). */
function note(msg: string): void {
  if (REAL && Deno.env.get("VMTEST_STEPS") === "1") {
    Deno.writeTextFileSync(
      "/dev/console",
      `\nVMTEST-NOTE ${msg} (rss ${
        (Deno.memoryUsage().rss / 2 ** 20).toFixed(0)
      } MiB)\n`,
    );
  }
}

/** The device name with a power method. */
function dutWith(power: PowerMethod): string {
  return `${BDF},power=${power}`;
}

/** Ask the host of the guest test for something (read on the serial console). */
function askHost(request: string): void {
  Deno.writeTextFileSync("/dev/console", `\nVMTEST-HOST ${request}\n`);
}

/** Fill a buffer with content unique to (lba, gen). */
function stamp(buf: Buffer, lba: number, count: number, gen: number): void {
  const dv = new DataView(buf.bytes.buffer, buf.bytes.byteOffset);
  for (let i = 0; i < count * 128; i++) {
    dv.setUint32(i * 4, (lba * 0x9e3779b1 + i * 0x85ebca6b + gen) >>> 0, true);
  }
}

/** Write 64 KiB at `lba` through a fresh queue and read it back after `act`. */
async function keptAcross(
  nvme0: Controller,
  ns: Namespace,
  lba: number,
  gen: number,
  act: () => void | Promise<void>,
): Promise<void> {
  using w = new Buffer(65536, "w");
  using r = new Buffer(65536, "r");
  stamp(w, lba, 128, gen);
  {
    using q = new Qpair(nvme0, 16);
    ns.write(q, w, lba, 128).waitdone();
  }
  await act();
  nvme0.reset();
  using q = new Qpair(nvme0, 16);
  ns.read(q, r, lba, 128).waitdone();
  sameBytes(r.bytes, w.bytes, `LBAs ${lba}.. written before`);
}

/** Wait for the worker to end (bounded), close it, return its result. */
async function ended(
  w: ReturnType<Namespace["ioworker"]>,
  ms: number,
): Promise<IoWorkerResult & { endedMs: number }> {
  const t0 = performance.now();
  while (w.running && performance.now() - t0 < ms) await sleep(5);
  const endedMs = performance.now() - t0;
  assert.ok(!w.running, `the worker still runs ${ms} ms later`);
  return { ...w.close(), endedMs };
}

/** A verifying read of the whole region: every LBA with a recorded write is checked. */
function verifyRegion(ns: Namespace): { checked: number; bad: number } {
  const before = ns.verifyStats();
  const r = ns.ioworker({
    ioSize: 64,
    lbaRandom: false,
    readPercentage: 100,
    regionEnd: REGION,
    ioCount: REGION / 64,
    qdepth: 16,
  }).start().close();
  assert.equal(r.errorMessage ?? "", "", "verifying read");
  assert.ok(r.ok, `verifying read: error 0x${r.error.toString(16)}`);
  const after = ns.verifyStats();
  return {
    checked: after.checked - before.checked,
    bad: after.badBlocks - before.badBlocks,
  };
}

/** A dirty power cycle: `cycle` while an ioworker with verification writes and reads. */
async function underIo(
  ns: Namespace,
  cycle: () => void,
  runMs: number,
): Promise<IoWorkerResult & { endedMs: number }> {
  const w = ns.ioworker({
    ioSize: 8,
    readPercentage: 30,
    regionEnd: REGION,
    time: 60,
    qdepth: 32,
  }).start();
  await sleep(runMs);
  assert.ok(w.running, "the worker runs when the power goes");
  cycle();
  const r = await ended(w, 20_000);
  assert.ok(
    r.hostError === IoWorkerHostError.DEVICE_GONE ||
      r.hostError === IoWorkerHostError.TERMINATED,
    `host error ${r.hostError}: ${r.errorMessage}`,
  );
  assert.match(
    r.errorMessage!,
    /the device is powered off|terminated: the power cycle of/,
  );
  assert.ok(r.ioCountNonread > 0, "writes ran before the power went");
  return r;
}

realTest(
  "power-methods-slot-s3-cmd",
  "power: the methods slot, s3 and cmd, chosen by device option or Subsystem option",
  () => {
    Deno.env.delete("DENVME_POWER_CMD");
    {
      using nvme0 = new Controller(dutWith("slot"));
      const sub = new Subsystem(nvme0);
      assert.equal(sub.powerMethod, "slot");
      assert.match(sub.powerDetail, /^slot \S+$/);
      assert.equal(new Subsystem(nvme0, { power: "s3" }).powerMethod, "s3");
      assert.match(new Subsystem(nvme0).powerDetail, /^S3 with RTC wake-up$/);
      throwsWith(
        () => new Subsystem(nvme0, { power: "cmd" }),
        NvmeError,
        /power=cmd: DENVME_POWER_CMD is not set/,
      );
      throwsWith(
        () => new Subsystem(nvme0, { power: "relay" as PowerMethod }),
        ParameterError,
        /power/,
      );
      Deno.env.set("DENVME_POWER_CMD", POWER_CMD);
      const cmd = new Subsystem(nvme0, { power: "cmd" });
      assert.equal(cmd.powerMethod, "cmd");
      assert.equal(cmd.powerDetail, `DENVME_POWER_CMD=${POWER_CMD}`);
      // s3 has no separate off and on
      new Subsystem(nvme0, { power: "s3" });
      throwsWith(() => sub.powerOff(), NvmeError, /power=s3 .* use powerCycle/);
    }
    // the default: the command when one is configured, else the slot
    {
      using nvme0 = new Controller(DUT);
      assert.equal(new Subsystem(nvme0).powerMethod, "cmd");
    }
    Deno.env.delete("DENVME_POWER_CMD");
    {
      using nvme0 = new Controller(DUT);
      assert.equal(new Subsystem(nvme0).powerMethod, "slot");
    }
  },
);

realTest(
  "power-slot-cycle-driver-running",
  "power: a slot power cycle with the driver running: data kept, the controller fresh, interrupts routed again",
  async () => {
    using nvme0 = new Controller(dutWith("slot"));
    using ns = new Namespace(nvme0, 1);
    const sub = new Subsystem(nvme0);
    const resets = nvme0.pcie.resetCount;
    using r = new Buffer(4096);
    const q = new Qpair(nvme0, 16);
    await keptAcross(nvme0, ns, KEPT, 1, () => {
      const t0 = performance.now();
      sub.powerOff();
      assert.equal(sub.poweredOff, true);
      assert.equal(nvme0.pcie.alive, false);
      throwsWith(() => nvme0.reg32(Reg.CSTS), DeviceGoneError, /powered off/);
      throwsWith(() => nvme0.pcie.cfg(0, 4), DeviceGoneError, /powered off/);
      throwsWith(() => ns.read(q, r, 0), DeviceGoneError, /powered off/);
      sub.powerOn();
      console.log(`  off and on: ${(performance.now() - t0).toFixed(0)} ms`);
      assert.equal(sub.poweredOff, false);
      assert.equal(nvme0.pcie.alive, true);
      assert.equal(nvme0.pcie.resetCount, resets + 1);
      assert.equal(nvme0.reg32(Reg.CC), 0, "a fresh controller: CC.EN=0");
      assert.equal(nvme0.pcie.cfg(0, 4), 0x00101b36, "the same function");
      throwsWith(() => ns.read(q, r, 0), NvmeError, /lost in the power cycle/);
    });
    assert.ok(q.closed);
    using q2 = new Qpair(nvme0, 16);
    q2.msixClear();
    ns.read(q2, r, 0).waitdone();
    assert.equal(q2.msixIsSet(), true, "MSI-X delivered after the power cycle");
  },
);

realTest(
  "power-dirty-cycle-ioworker-verify",
  "power: a dirty slot power cycle during an ioworker with verification: every write seen complete reads back",
  async () => {
    using nvme0 = new Controller(dutWith("slot"));
    using ns = new Namespace(nvme0, 1, REGION);
    const sub = new Subsystem(nvme0);
    assert.equal(ns.verifyEnable(), true);
    const r = await underIo(ns, () => sub.powerOff(), 1500);
    console.log(
      `  the worker ended ${r.endedMs.toFixed(0)} ms after the power went`,
    );
    sub.powerOn();
    nvme0.reset();
    const v = verifyRegion(ns);
    console.log(
      `  ${r.ioCountNonread} writes before the power loss; ${v.checked} blocks checked after it, ${v.bad} bad`,
    );
    assert.ok(
      v.checked > 0,
      "blocks written before the power loss were checked",
    );
    assert.equal(v.bad, 0);
  },
);

realTest(
  "power-20-cycles-under-io",
  "power: 20 slot power cycles in a row under IO, no hang, every write seen complete reads back",
  async () => {
    using nvme0 = new Controller(dutWith("slot"));
    using ns = new Namespace(nvme0, 1, REGION);
    const sub = new Subsystem(nvme0);
    ns.verifyEnable();
    const resets = nvme0.pcie.resetCount;
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      await underIo(ns, () => sub.powerCycle(), 300);
      nvme0.reset();
      times.push(performance.now() - t0);
      note(`power cycle ${i + 1}: ${times[i].toFixed(0)} ms`);
    }
    assert.equal(nvme0.pcie.resetCount, resets + 20);
    const v = verifyRegion(ns);
    console.log(
      `  20 cycles: ${
        (times.reduce((a, b) => a + b) / 1000).toFixed(1)
      } s, slowest ${
        Math.max(...times).toFixed(0)
      } ms; ${v.checked} blocks checked, ${v.bad} bad`,
    );
    assert.ok(v.checked > 0);
    assert.equal(v.bad, 0);
  },
);

realTest(
  "power-s3-rtc-wakeup",
  "power: S3 suspend to RAM with an RTC wake-up power-cycles the device under IO",
  async () => {
    using nvme0 = new Controller(dutWith("s3"));
    using ns = new Namespace(nvme0, 1, REGION);
    const sub = new Subsystem(nvme0);
    assert.equal(sub.powerMethod, "s3");
    ns.verifyEnable();
    const resets = nvme0.pcie.resetCount;
    await keptAcross(nvme0, ns, KEPT + 256, 3, async () => {
      await underIo(ns, () => {
        const t0 = performance.now();
        note("s3: suspending");
        sub.powerCycle(1);
        note("s3: resumed");
        console.log(
          `  suspend, RTC wake-up 1 s later, resume: ${
            (performance.now() - t0).toFixed(0)
          } ms`,
        );
        assert.equal(nvme0.pcie.resetCount, resets + 1);
        assert.equal(nvme0.reg32(Reg.CC) & 1, 0, "the controller was reset");
        note("s3: the controller was reset");
      }, 1000);
      note("s3: the worker ended");
    });
    note("s3: the data written before is back");
    const v = verifyRegion(ns);
    assert.ok(v.checked > 0);
    assert.equal(v.bad, 0);
  },
);

realTest(
  "power-external-command",
  "power: DENVME_POWER_CMD switches a lab power switch (here: the host's QMP device_del / device_add)",
  async () => {
    Deno.env.set("DENVME_POWER_CMD", POWER_CMD);
    try {
      using nvme0 = new Controller(dutWith("cmd"));
      using ns = new Namespace(nvme0, 1, REGION);
      const sub = new Subsystem(nvme0);
      assert.equal(sub.powerMethod, "cmd");
      const resets = nvme0.pcie.resetCount;
      ns.verifyEnable();
      await keptAcross(nvme0, ns, KEPT + 512, 4, async () => {
        await underIo(ns, () => {
          sub.powerOff();
          // the function left the bus: the switch really cut it
          assert.equal(exists(`/sys/bus/pci/devices/${BDF}`), false);
          sub.powerOn();
        }, 500);
        assert.equal(nvme0.pcie.resetCount, resets + 1);
      });
      const v = verifyRegion(ns);
      assert.equal(v.bad, 0);
    } finally {
      Deno.env.delete("DENVME_POWER_CMD");
    }
  },
);

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

realTest(
  "surprise-removal-qmp-device-del",
  "removal: the host's QMP device_del under an ioworker ends everything with DeviceGoneError naming the cause; the device opens again when back",
  async () => {
    using w = new Buffer(65536, "w");
    stamp(w, KEPT + 768, 128, 5);
    {
      using nvme0 = new Controller(DUT);
      using ns = new Namespace(nvme0, 1);
      {
        using q = new Qpair(nvme0, 16);
        ns.write(q, w, KEPT + 768, 128).waitdone();
      }
      const worker = ns.ioworker({
        ioSize: 8,
        readPercentage: 50,
        regionEnd: REGION,
        time: 60,
        qdepth: 16,
      }).start();
      await sleep(500);
      const t0 = performance.now();
      askHost("unplug");
      const r = await ended(worker, 30_000);
      console.log(
        `  the worker ended ${
          (performance.now() - t0).toFixed(0)
        } ms after the request (the guest's pciehp waits 5 s)`,
      );
      assert.equal(r.hostError, IoWorkerHostError.DEVICE_GONE, r.errorMessage);
      assert.match(r.errorMessage!, /hot-unplugged/);
      assert.equal(nvme0.pcie.alive, false);
      throwsWith(() => nvme0.reg32(Reg.CSTS), DeviceGoneError, /hot-unplugged/);
      throwsWith(() => nvme0.pcie.cfg(0, 4), DeviceGoneError, /hot-unplugged/);
      throwsWith(() => nvme0.getfeatures(7), DeviceGoneError, /gone/);
    }
    // the host puts it back; the kernel's nvme driver takes it; setup hands it to vfio-pci again
    const t0 = performance.now();
    while (!exists(`/sys/bus/pci/devices/${BDF}/driver`)) {
      assert.ok(
        performance.now() - t0 < 30_000,
        "the device did not come back",
      );
      await sleep(50);
    }
    note("removal: back, deno task setup");
    const setup = await new Deno.Command(Deno.execPath(), {
      args: ["task", "setup", BDF],
      cwd: new URL("..", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(
      setup.success,
      new TextDecoder().decode(setup.stdout) +
        new TextDecoder().decode(setup.stderr),
    );
    using nvme0 = new Controller(DUT);
    using ns = new Namespace(nvme0, 1);
    using q = new Qpair(nvme0, 16);
    using r = new Buffer(65536, "r");
    ns.read(q, r, KEPT + 768, 128).waitdone();
    sameBytes(r.bytes, w.bytes, "written before the removal");
  },
);

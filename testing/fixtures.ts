/**
 * Fixtures for `deno test`, the way pynvme's pytest fixtures work: a test
 * names what it needs and gets it set up before and torn down after — also
 * when it fails — on the device chosen by `--dut` / `NVME_DUT` (default
 * "qemu").
 *
 * ```ts
 * import { nvmeTest } from "../testing.ts";
 *
 * nvmeTest("read LBA 0", { needs: ["nvme0n1", "qpair", "buf"] }, ({ nvme0n1, qpair, buf }) => {
 *   nvme0n1.read(qpair, buf, 0).waitdone();
 * });
 * ```
 *
 * Fixtures: `pcie` (the PCIe function), `nvme0` (a Controller with the default
 * init, or `init`), `nvme0n1` (namespace 1), `qpair` (a Qpair of
 * min(1024, MQES+1) entries), `buf` (a 4 KiB Buffer), `verify` (data
 * verification on nvme0n1: true when enabled), `subsystem` (the Subsystem of
 * nvme0). Every test also gets `rng` (a PRNG seeded per test; the seed is
 * logged, `DENVME_SEED` replays it, and it seeds `srand()` too, as pynvme's
 * conftest does: ioworkers without a seed and random buffers replay with it),
 * `log`, `skip(reason)`, `defer(fn)` and the Deno test context `t`.
 *
 * Device sharing: the tests of a file share one device (for the embedded
 * device, one QEMU) and each test gets a fresh Controller on it, so queues,
 * outstanding commands and interrupt state never leak from one test to the
 * next; the device is checked after every test (power, bus master, MSI-X,
 * masks) and replaced (embedded device) when a test failed or left it reset
 * or powered off. `own: true` (or `qemu: "<options>"`) gives a test its own
 * device, for destructive tests (power cycles, FLR); on a real SSD that is the
 * same device, recovered afterwards.
 *
 * @module
 */
import { Buffer } from "../ffi/buffer.ts";
import { Controller, type InitFunction } from "../ffi/controller.ts";
import { defaultDut, parseDut } from "../ffi/dut.ts";
import { StatusError } from "../ffi/errors.ts";
import { Namespace } from "../ffi/namespace.ts";
import { Pcie } from "../ffi/pcie.ts";
import { Qpair } from "../ffi/qpair.ts";
import { srand } from "../ffi/random.ts";
import { Subsystem } from "../ffi/subsystem.ts";
import {
  type DeviationList,
  type DeviceIdentity,
  findDeviation,
  registeredDeviations,
} from "./deviations.ts";
import {
  deviceLogger,
  dumpCmdlogs,
  ensureLogging,
  failureLogger,
  logCommands,
  QueueWatch,
  type TestLog,
  testLogger,
  testLogPath,
} from "./log.ts";
import { type Outcome, writeResult } from "./results.ts";
import { formatSeed, nextSeed, Rng } from "./rng.ts";
import { SpecViolation, SpecViolations } from "./spec.ts";

/**
 * Every fixture a test can ask for, by name.
 *
 * ```ts
 * nvmeTest("smart", { needs: ["nvme0"] }, ({ nvme0 }: Pick<Fixtures, "nvme0">) => {
 *   nvme0.smartLog();
 * });
 * ```
 */
export interface Fixtures {
  /** The PCIe function of the device under test. */
  pcie: Pcie;
  /** A controller, freshly initialized for this test. */
  nvme0: Controller;
  /** Namespace 1 of nvme0. */
  nvme0n1: Namespace;
  /** An I/O queue pair of min(1024, MQES+1) entries (or `qpairDepth`). */
  qpair: Qpair;
  /** A 4 KiB DMA buffer. */
  buf: Buffer;
  /** Data verification enabled on nvme0n1 (true when it could be). */
  verify: boolean;
  /** The NVM subsystem of nvme0 (power, shutdown, NVM subsystem reset). */
  subsystem: Subsystem;
}

/**
 * A fixture name.
 *
 * ```ts
 * const needs: FixtureName[] = ["nvme0n1", "qpair", "buf"];
 * ```
 */
export type FixtureName = keyof Fixtures;

/**
 * What every test gets besides its fixtures.
 *
 * ```ts
 * nvmeTest("seeded", {}, ({ rng, seed, log, skip, defer }: TestEnv) => {
 *   log.info("seed {seed}", { seed });
 *   if (rng.int(0, 1)) skip("not this time");
 *   defer(() => log.info("teardown"));
 * });
 * ```
 */
export interface TestEnv {
  /** The Deno test context (steps). */
  t: Deno.TestContext;
  /** This test's PRNG, seeded with `seed`. */
  rng: Rng;
  /** This test's seed (logged; replay with DENVME_SEED). */
  seed: number;
  /** A logger for the test's own messages (category denvme.test). */
  log: TestLog;
  /** The device name. */
  dut: string;
  /** End the test as skipped, with the reason printed in the summary. */
  skip(reason: string): never;
  /** Run `fn` at teardown (last registered first), before fixtures are torn down. */
  defer(fn: () => void | Promise<void>): void;
}

/**
 * The fixtures `N` bring along (qpair brings nvme0 and pcie, ...).
 *
 * ```ts
 * type QpairNeeds = WithDependencies<"qpair">; // "qpair" | "nvme0" | "pcie"
 * ```
 */
export type WithDependencies<N extends FixtureName> =
  | N
  | (N extends "nvme0n1" | "qpair" | "verify" | "subsystem" | "nvme0" ? "pcie"
    : never)
  | (N extends "nvme0n1" | "qpair" | "verify" | "subsystem" ? "nvme0" : never)
  | (N extends "verify" ? "nvme0n1" : never);

/**
 * The argument of a test function: the fixtures asked for (and their dependencies), and the environment.
 *
 * ```ts
 * import { Buffer, Namespace, Qpair } from "../mod.ts";
 * declare const nvme0n1: Namespace;
 * declare const qpair: Qpair;
 * declare const buf: Buffer;
 * function fillAndWrite({ nvme0n1, qpair, buf, rng }: TestContext<"nvme0n1" | "qpair" | "buf">) {
 *   rng.fill(buf.bytes);
 *   nvme0n1.write(qpair, buf, 0, 8).waitdone();
 * }
 * nvmeTest("write random data", { needs: ["nvme0n1", "qpair", "buf"] }, fillAndWrite);
 * ```
 */
export type TestContext<N extends FixtureName = never> =
  & TestEnv
  & Pick<Fixtures, WithDependencies<N>>;

/**
 * Options of {@link nvmeTest}.
 *
 * ```ts
 * const opts: NvmeTestOptions<"nvme0n1"> = { needs: ["nvme0n1"], qemu: "ns=2,lba=4096", area: "namespaces" };
 * nvmeTest("two namespaces of 4 KiB LBAs", opts, ({ nvme0n1 }) => {
 *   if (nvme0n1.lbaSize !== 4096) throw new Error(`${nvme0n1.lbaSize}`);
 * });
 * ```
 */
export interface NvmeTestOptions<N extends FixtureName = never> {
  /** Fixtures the test needs (dependencies come along: qpair brings nvme0, ...). */
  needs?: readonly N[];
  /** The test gets its own device (destructive tests). */
  own?: boolean;
  /**
   * Embedded device options this test needs ("ns=2,mdts=5"), merged onto the
   * run's device name; implies `own` unless `shareDevice`. Ignored on a real device.
   */
  qemu?: string;
  /**
   * With `qemu`: the tests of this file that ask for the same options share
   * one device (started once, replaced after a failure), as the tests
   * without options share the run's device.
   */
  shareDevice?: boolean;
  /** Controller init for nvme0: a function (pynvme user init) or false (none). */
  init?: InitFunction | false;
  /** Entries of the qpair fixture. */
  qpairDepth?: number;
  /** Area for summaries (default: the directory or file the test is in). */
  area?: string;
  /** Known deviation lists (default: those registered with registerDeviations). */
  deviations?: readonly DeviationList[];
  /** Do not run the test (Deno.test ignore). */
  ignore?: boolean;
  /** Run only this test (Deno.test only). */
  only?: boolean;
}

/**
 * Thrown by `skip(reason)`: the test ends as skipped.
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * function requireSanitize(nvme0: Controller) {
 *   if (!nvme0.idCtrl.sanicap) throw new SkipTest("no sanitize (SANICAP = 0)");
 * }
 * ```
 */
export class SkipTest extends Error {
  /** Why the test was skipped. */
  readonly reason: string;
  /** Skip with `reason`. */
  constructor(reason: string) {
    super(`skipped: ${reason}`);
    this.name = "SkipTest";
    this.reason = reason;
  }
}

const DEPS: Record<FixtureName, readonly FixtureName[]> = {
  pcie: [],
  nvme0: ["pcie"],
  nvme0n1: ["nvme0"],
  qpair: ["nvme0"],
  buf: [],
  verify: ["nvme0n1"],
  subsystem: ["nvme0"],
};
const ORDER: readonly FixtureName[] = [
  "pcie",
  "nvme0",
  "nvme0n1",
  "qpair",
  "buf",
  "verify",
  "subsystem",
];

// --- the device shared by the tests of this module ----------------------------

interface Slot {
  pcie: Pcie;
  epoch: number;
}
/** Shared devices by device name: the run's device, and devices with options tests share. */
const sharedSlots = new Map<string, Slot>();
const identities = new WeakMap<Pcie, DeviceIdentity>();
let unloadHooked = false;

function closeQuietly(x: { close(): void } | undefined): void {
  try {
    x?.close();
  } catch { /* the device may be gone */ }
}

/** A device reached over a fabric (NVMe/TCP): no PCI function to read or restore. */
function fabric(p: Pcie): boolean {
  const k = p.dut.kind as string;
  return k === "tcp" || k === "nvmet";
}

function openDevice(name: string): Pcie {
  const pcie = new Pcie(name);
  // over a fabric there is no config space: the vendor id comes from Identify
  const id: DeviceIdentity = {
    dut: name,
    vid: fabric(pcie) ? 0 : pcie.cfg(0, 2),
    did: fabric(pcie) ? 0 : pcie.cfg(2, 2),
  };
  identities.set(pcie, id);
  deviceLogger.info(
    "device {dut}: PCI {vid}:{did} opened",
    {
      dut: name,
      vid: id.vid.toString(16).padStart(4, "0"),
      did: id.did.toString(16).padStart(4, "0"),
    },
  );
  return pcie;
}

function sharedDevice(name = defaultDut()): Pcie {
  let slot = sharedSlots.get(name);
  if (slot && (slot.pcie.closed || !safe(() => slot!.pcie.alive))) {
    closeQuietly(slot.pcie);
    sharedSlots.delete(name);
    slot = undefined;
  }
  if (!slot) {
    // two QEMUs cannot open the same image: a shared one on it steps aside
    if (/(^|[:,])image=/.test(name)) dropAllShared();
    const pcie = openDevice(name);
    slot = { pcie, epoch: pcie.resetCount };
    sharedSlots.set(name, slot);
    if (!unloadHooked) {
      unloadHooked = true;
      globalThis.addEventListener("unload", dropAllShared);
    }
  }
  return slot.pcie;
}

function slotOf(pcie: Pcie): Slot | undefined {
  for (const s of sharedSlots.values()) if (s.pcie === pcie) return s;
  return undefined;
}

function dropShared(slot?: Slot): void {
  if (!slot) return;
  closeQuietly(slot.pcie);
  for (const [k, s] of sharedSlots) if (s === slot) sharedSlots.delete(k);
}

function dropAllShared(): void {
  for (const s of [...sharedSlots.values()]) dropShared(s);
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/** The identity of the device a test ran on (for known deviations). */
function identityOf(pcie: Pcie | undefined): DeviceIdentity | undefined {
  return pcie ? identities.get(pcie) : undefined;
}

function recordController(pcie: Pcie, nvme0: Controller): void {
  const id = identities.get(pcie);
  if (!id || id.mn !== undefined) return;
  id.mn = nvme0.modelNumber;
  id.fr = nvme0.firmwareRevision;
  if (fabric(pcie)) id.vid = nvme0.idCtrl.vid;
  const cap = nvme0.cap;
  const vs = nvme0.reg32(0x08);
  deviceLogger.info(
    "device {dut}: model {mn}, serial {sn}, firmware {fr}, NVMe {vs}, CAP {cap}, MDTS {mdts} bytes, {nn} namespaces",
    {
      dut: id.dut,
      mn: id.mn,
      sn: nvme0.serialNumber,
      fr: id.fr,
      vs: `${vs >>> 16}.${(vs >> 8) & 0xff}.${vs & 0xff}`,
      cap: `0x${cap.toString(16).padStart(16, "0")}`,
      mdts: nvme0.mdts,
      nn: nvme0.idCtrl.nn,
    },
  );
}

/**
 * After a test on the shared device: bring the function back to the state a
 * fresh test expects, or give up on the device (the next test opens a new
 * one). Returns what was done, for the log.
 */
function recover(slot: Slot, failed: boolean, destructive: boolean): string {
  const p = slot.pcie;
  const qemu = p.dut.kind === "qemu";
  if (p.closed) return dropShared(slot), "device closed by the test";
  if (!safe(() => p.alive)) return dropShared(slot), "device gone: replaced";
  // a controller the test opened and left open would block the next one
  closeQuietly(p.controller);
  if (qemu && (failed || destructive)) {
    dropShared(slot);
    return failed ? "test failed: device replaced" : "own device closed";
  }
  if (safe(() => p.poweredOff)) {
    if (qemu) return dropShared(slot), "left powered off: device replaced";
  }
  const notes: string[] = [];
  if (p.resetCount !== slot.epoch) {
    if (qemu) {
      return dropShared(slot), "reset during the test: device replaced";
    }
    notes.push("function reset during the test");
    slot.epoch = p.resetCount;
  }
  if (fabric(p)) return notes.join("; ") || "ok"; // no PCI function to restore
  const pm = p.capOffset(0x01);
  if (pm !== undefined && p.powerState !== 0) {
    p.powerState = 0;
    notes.push("power state back to D0");
  }
  let enable = (p.cfg(0x04, 2) & 0x6) !== 0x6;
  const msix = p.capOffset(0x11);
  if (msix !== undefined) {
    const ctl = p.cfg(msix + 2, 2);
    if (!(ctl & 0x8000) || ctl & 0x4000) enable = true;
  }
  if (enable) {
    p.enable();
    notes.push("function enabled again (BAR, bus master, MSI-X)");
  }
  slot.epoch = p.resetCount;
  const vectors = safe(() => p.msixVectors) ?? 0;
  for (let v = 0; v < vectors; v++) safe(() => p.maskVector(v, false));
  return notes.join("; ") || "ok";
}

// --- one test -------------------------------------------------------------------

class Run {
  readonly made: Partial<Fixtures> = {};
  readonly defers: (() => void | Promise<void>)[] = [];
  pcie?: Pcie;
  ownDevice = false;
  verifyOn = false;

  constructor(
    readonly name: string,
    readonly opts: NvmeTestOptions<FixtureName>,
  ) {}

  dutName(): string {
    const base = defaultDut();
    if (!this.opts.qemu) return base;
    const d = parseDut(base);
    if (d.kind !== "qemu") return base;
    return `${base}${base.includes(":") ? "," : ":"}${this.opts.qemu}`;
  }

  device(): Pcie {
    if (this.pcie) return this.pcie;
    const name = this.dutName();
    const qemu = parseDut(name).kind === "qemu";
    const wantOwn = this.opts.own ||
      (!!this.opts.qemu && !this.opts.shareDevice);
    if (wantOwn && qemu) {
      // two QEMUs cannot open the same image: the shared one steps aside
      if (/(^|[:,])image=/.test(name)) dropAllShared();
      this.pcie = openDevice(name);
      this.ownDevice = true;
    } else {
      this.pcie = sharedDevice(qemu ? name : defaultDut());
    }
    return this.pcie;
  }

  /** Set up `names` and their dependencies in order. */
  setup(names: readonly FixtureName[]): void {
    const want = new Set<FixtureName>();
    const add = (n: FixtureName) => {
      if (!(n in DEPS)) {
        throw new TypeError(
          `unknown fixture "${n}": use ${ORDER.join(", ")}`,
        );
      }
      if (want.has(n)) return;
      DEPS[n].forEach(add);
      want.add(n);
    };
    names.forEach(add);
    for (const n of ORDER) if (want.has(n)) this.#make(n);
  }

  #make(n: FixtureName): void {
    const m = this.made;
    switch (n) {
      case "pcie":
        m.pcie = this.device();
        break;
      case "nvme0": {
        const pcie = this.device();
        let nvme0: Controller;
        try {
          nvme0 = new Controller(pcie, this.opts.init);
        } catch (e) {
          if (this.ownDevice || pcie.dut.kind !== "qemu") throw e;
          // the shared device is unusable: one retry on a new one
          testLogger.warn(
            "{test}: controller bring-up failed ({err}): retrying on a new device",
            { test: this.name, err: (e as Error).message },
          );
          dropShared(slotOf(pcie));
          this.pcie = undefined;
          m.pcie = this.device();
          nvme0 = new Controller(m.pcie, this.opts.init);
        }
        m.nvme0 = nvme0;
        if (this.opts.init !== false) {
          safe(() => recordController(this.pcie!, nvme0));
        }
        break;
      }
      case "nvme0n1":
        m.nvme0n1 = new Namespace(m.nvme0!, 1);
        break;
      case "qpair":
        m.qpair = new Qpair(
          m.nvme0!,
          this.opts.qpairDepth ?? Math.min(1024, m.nvme0!.mqes),
        );
        break;
      case "buf":
        m.buf = new Buffer(4096, "pynvme buffer");
        break;
      case "verify": {
        const ns = m.nvme0n1 as unknown as {
          verifyEnable?: (on?: boolean) => boolean;
        };
        if (typeof ns.verifyEnable !== "function") {
          throw new SkipTest(
            "the verify fixture needs Namespace.verifyEnable (data verification), which this driver build does not have",
          );
        }
        m.verify = ns.verifyEnable(true);
        this.verifyOn = m.verify;
        break;
      }
      case "subsystem":
        m.subsystem = new Subsystem(m.nvme0!);
        break;
    }
  }

  /** Tear everything down, last made first; returns the errors met. */
  async teardown(failed: boolean): Promise<Error[]> {
    const errors: Error[] = [];
    const step = async (what: string, fn: () => unknown) => {
      try {
        await fn();
      } catch (e) {
        errors.push(
          Object.assign(e as Error, {
            message: `teardown (${what}): ${(e as Error).message}`,
          }),
        );
      }
    };
    for (const fn of this.defers.reverse()) await step("defer", fn);
    const m = this.made;
    if (this.verifyOn) {
      await step(
        "verify",
        () =>
          (m.nvme0n1 as unknown as { verifyEnable(on: boolean): boolean })
            .verifyEnable(false),
      );
    }
    if (m.qpair) {
      await step("qpair", () => {
        try {
          m.qpair!.delete();
        } catch (e) {
          // a dead or reset device: the qpair is gone with it
          if (m.nvme0!.closed || !safe(() => m.nvme0!.pcie.alive)) return;
          throw e;
        }
      });
    }
    m.nvme0n1?.close();
    m.buf?.close();
    if (m.nvme0) closeQuietly(m.nvme0);
    if (this.pcie) {
      if (this.ownDevice) {
        closeQuietly(this.pcie);
      } else if (slotOf(this.pcie)) {
        const what = recover(
          slotOf(this.pcie)!,
          failed,
          !!this.opts.own,
        );
        if (what !== "ok") {
          testLogger.debug("{test}: device after the test: {what}", {
            test: this.name,
            what,
          });
        }
      }
    }
    return errors;
  }
}

/**
 * The test file that called nvmeTest (relative to the working directory) and
 * the line of the call: Deno's own report names the harness's Deno.test call
 * instead, so the failure line names this one.
 */
function callerLocation(): { file: string; line: number } {
  const stack = new Error().stack ?? "";
  for (const line of stack.split("\n").slice(1)) {
    const m = /(file:\/\/[^\s)]+?):(\d+):\d+/.exec(line);
    if (!m) continue;
    if (m[1].includes("/testing/") || m[1].endsWith("/testing.ts")) continue;
    let path = m[1];
    try {
      path = new URL(m[1]).pathname;
      const cwd = Deno.cwd() + "/";
      if (path.startsWith(cwd)) path = path.slice(cwd.length);
    } catch { /* keep the URL */ }
    return { file: path, line: Number(m[2]) };
  }
  return { file: "unknown", line: 0 };
}

function areaOf(file: string): string {
  const m = /(?:^|\/)conformance\/([^/]+)\//.exec(file);
  if (m) return m[1];
  return file.replace(/^.*\//, "").replace(/(_test)?\.[jt]s$/, "");
}

function firstLine(s: string): string {
  const i = s.indexOf("\n");
  return i < 0 ? s : s.slice(0, i);
}

/**
 * Register a test with fixtures (a wrapper around `Deno.test`).
 *
 * ```ts
 * nvmeTest("write and read back", { needs: ["nvme0n1", "qpair", "buf"] }, ({ nvme0n1, qpair, buf, rng }) => {
 *   rng.fill(buf.bytes);
 *   nvme0n1.write(qpair, buf, 0, 8).waitdone();
 * });
 * ```
 */
export function nvmeTest<const N extends FixtureName = never>(
  name: string,
  opts: NvmeTestOptions<N>,
  fn: (ctx: TestContext<N>) => void | Promise<void>,
): void;
/**
 * Register a test that needs no fixtures.
 *
 * ```ts
 * import { Rng } from "../testing.ts";
 * nvmeTest("the seed replays", ({ rng, seed }) => {
 *   if (new Rng(seed).u32() !== rng.u32()) throw new Error("not deterministic");
 * });
 * ```
 */
export function nvmeTest(
  name: string,
  fn: (ctx: TestContext) => void | Promise<void>,
): void;
export function nvmeTest<const N extends FixtureName = never>(
  name: string,
  a: NvmeTestOptions<N> | ((ctx: TestContext<N>) => void | Promise<void>),
  b?: (ctx: TestContext<N>) => void | Promise<void>,
): void {
  const opts = (typeof a === "function" ? {} : a) as NvmeTestOptions<
    FixtureName
  >;
  const fn = (typeof a === "function" ? a : b!) as (
    ctx: TestContext<FixtureName>,
  ) => void | Promise<void>;
  const { file, line } = callerLocation();
  const area = opts.area ?? areaOf(file);
  Deno.test({
    name,
    ignore: opts.ignore,
    only: opts.only,
    fn: (t) => runTest(t, name, file, area, opts, fn, line),
  });
}

async function runTest(
  t: Deno.TestContext,
  name: string,
  file: string,
  area: string,
  opts: NvmeTestOptions<FixtureName>,
  fn: (ctx: TestContext<FixtureName>) => void | Promise<void>,
  line = 0,
): Promise<void> {
  ensureLogging();
  const seed = nextSeed();
  const seedText = formatSeed(seed);
  srand(seed >>> 0); // pynvme's conftest: d.srand(seed) before every test
  const dut = defaultDut();
  const t0 = performance.now();
  writeResult({ event: "start", name, area, file, seed: seedText, dut });
  testLogger.info("{test}: start ({file}), seed {seed}", {
    event: "start",
    test: name,
    file,
    seed: seedText,
  });
  const run = new Run(name, opts);
  const watch = new QueueWatch();
  let error: unknown;
  let setupMs = 0;
  try {
    run.setup(opts.needs ?? []);
    setupMs = performance.now() - t0;
    const ctx = {
      ...run.made,
      t,
      rng: new Rng(seed),
      seed,
      log: testLogger.with({ test: name }),
      dut,
      skip(reason: string): never {
        throw new SkipTest(reason);
      },
      defer(f: () => void | Promise<void>) {
        run.defers.push(f);
      },
    } as TestContext<FixtureName>;
    await fn(ctx);
  } catch (e) {
    error = e;
  }
  const failedSoFar = error !== undefined && !(error instanceof SkipTest);
  const tdErrors = await run.teardown(failedSoFar);
  if (error === undefined && tdErrors.length) error = tdErrors[0];
  for (const e of tdErrors) {
    if (e !== error) {
      testLogger.error("{test}: {err}", { test: name, err: e.message });
    }
  }
  const queues = watch.stop();
  logCommands(name, queues);
  const ms = Math.round(performance.now() - t0);
  const end = (
    outcome: Outcome,
    extra: Partial<Parameters<typeof writeResult>[0]> = {},
  ) =>
    writeResult({
      event: "end",
      name,
      area,
      file,
      seed: seedText,
      dut,
      outcome,
      ms,
      ...extra,
    });

  if (error instanceof SkipTest) {
    testLogger.info("{test}: skipped: {reason} ({ms} ms)", {
      event: "skip",
      test: name,
      reason: error.reason,
      ms,
    });
    end("skip", { message: error.reason });
    await t.step({ name: `SKIPPED: ${error.reason}`, ignore: true, fn() {} });
    return;
  }

  const id = identityOf(run.pcie);
  const lists = opts.deviations ?? registeredDeviations();
  if (error === undefined) {
    const listed = findDeviation(lists, id, name);
    if (listed) {
      testLogger.warn(
        "{test}: passed, but it is listed as a known deviation of {model}: remove it from the list",
        { test: name, model: listed.model },
      );
    }
    testLogger.info("{test}: passed ({ms} ms, set-up {setup} ms)", {
      event: "pass",
      test: name,
      ms,
      setup: Math.round(setupMs),
    });
    end("pass");
    return;
  }

  const err = error instanceof Error ? error : new Error(String(error));
  const known = findDeviation(
    lists,
    id,
    name,
    err instanceof SpecViolations
      ? err.violations.map((v) => v.message)
      : err.message,
  );
  if (known) {
    testLogger.info(
      "{test}: known deviation of {model}: {spec}; observed: {observed} ({ms} ms)",
      { event: "deviation", test: name, ...known, ms },
    );
    end("deviation", {
      message: known.observed,
      spec: known.spec,
      model: known.model,
    });
    await t.step({
      name:
        `KNOWN DEVIATION (${known.model}): ${known.spec} — ${known.observed}`,
      ignore: true,
      fn() {},
    });
    return;
  }

  const failingSqid = err instanceof StatusError
    ? err.completion.sqid
    : undefined;
  failureLogger.error("{test}: FAILED after {ms} ms, seed {seed}: {err}", {
    event: "fail",
    test: name,
    ms,
    seed: seedText,
    err: err.stack ?? err.message,
  });
  dumpCmdlogs(name, queues, failingSqid);
  const logPath = testLogPath();
  const tail = queues
    .filter((q) => failingSqid === undefined || q.qid === failingSqid)
    .slice(-2)
    .map((q) => q.log.text(3).split("\n").map((l) => `    ${l}`).join("\n"))
    .join("\n");
  testLogger.warn(
    `{test}: failed with seed {seed} at ${file}${
      line ? `:${line}` : ""
    } (replay: DENVME_SEED={seed} deno test -A --filter "{test}" ${file})${
      logPath ? "; cmdlogs of every queue in {logPath}" : ""
    }${tail ? "\n  last commands:\n{tail}" : ""}`,
    { event: "hint", test: name, seed: seedText, logPath, tail },
  );
  end("fail", {
    message: firstLine(err.message),
    spec: err instanceof SpecViolation ? err.rule : undefined,
  });
  throw err;
}

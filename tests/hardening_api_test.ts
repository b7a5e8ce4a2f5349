/**
 * Hardening (issue 12): the public API's one validation layer.
 *
 * - Every public method, setter and constructor of the exported classes, and
 *   every exported function, has a signature (ffi/api_table.ts): a new member
 *   without one fails here, so none goes unchecked.
 * - A generated bad-input test: seeded (the seed is printed; DENVME_FUZZ_SEED
 *   replays it, DENVME_FUZZ_CALLS sets the number of calls), at least 2,000
 *   calls over every public member with values from a hostile set mixed with
 *   valid ones. Each call must end normally, in a denvme error class
 *   (ParameterError, ClosedError, NvmeError) or a device status
 *   (StatusError): never a TypeError or any other raw error, a crash or a
 *   hang; the device is healthy afterwards and nothing leaked.
 */
import assert from "node:assert/strict";
import * as denvme from "../mod.ts";
import {
  Buffer,
  ClosedError,
  Controller,
  DeviceGoneError,
  IoCQ,
  IoSQ,
  IoWorker,
  libStats,
  Namespace,
  NvmeError,
  ParameterError,
  Pcie,
  Qpair,
  StatusError,
  Subsystem,
} from "../mod.ts";
import { FUNCTIONS } from "../ffi/api_table.ts";
import {
  type ClassTable,
  guarded,
  InstanceSample,
  show,
  type Signature,
} from "../ffi/validate.ts";

// deno-lint-ignore no-explicit-any
type AnyClass = abstract new (...a: any[]) => unknown;

/** The classes of mod.ts whose members the tables must cover. */
const CLASSES: Record<string, AnyClass> = {
  Buffer,
  Controller,
  Namespace,
  Qpair,
  Pcie,
  Subsystem,
  IoCQ,
  IoSQ,
  IoWorker,
};

/** Methods and setters of a class, inherited ones included (Object's excluded). */
function members(cls: AnyClass): { methods: string[]; setters: string[] } {
  const methods = new Set<string>(), setters = new Set<string>();
  for (
    let p = cls.prototype;
    p && p !== Object.prototype;
    p = Object.getPrototypeOf(p)
  ) {
    for (const k of Object.getOwnPropertyNames(p)) {
      if (k === "constructor") continue;
      const d = Object.getOwnPropertyDescriptor(p, k)!;
      if (typeof d.value === "function") methods.add(k);
      if (d.set) setters.add(k);
    }
  }
  return { methods: [...methods], setters: [...setters] };
}

Deno.test("validation layer: every public member of mod.ts has a signature", () => {
  const missing: string[] = [];
  for (const [name, cls] of Object.entries(CLASSES)) {
    const table = guarded.get(cls);
    assert.ok(
      table,
      `${name} is not guarded (guardClass at the end of its module)`,
    );
    const { methods, setters } = members(cls);
    for (const m of methods) {
      if (!Object.hasOwn(table, m)) missing.push(`${name}.${m}`);
    }
    for (const s of setters) {
      if (!Object.hasOwn(table, `set ${s}`)) missing.push(`${name}.${s} =`);
    }
    if (!Object.hasOwn(table, "new")) missing.push(`new ${name}`);
  }
  for (const [name, v] of Object.entries(denvme)) {
    const isClass = typeof v === "function" && /^class\b/.test(String(v));
    if (
      typeof v === "function" && !isClass && !Object.hasOwn(FUNCTIONS, name)
    ) {
      missing.push(`${name}()`);
    }
  }
  assert.deepEqual(
    missing,
    [],
    `members without a signature: ${missing.join(", ")}`,
  );
});

// --- the generated bad-input test -------------------------------------------

/** xorshift128+ (deterministic, seeded). */
function rng(seed: bigint): () => number {
  let s0 = seed ^ 0x9e3779b97f4a7c15n, s1 = seed * 0xbf58476d1ce4e5b9n + 1n;
  const M = (1n << 64n) - 1n;
  s0 &= M;
  s1 &= M;
  return () => {
    let x = s0;
    const y = s1;
    s0 = y;
    x = (x ^ (x << 23n)) & M;
    s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    return Number(((s1 + y) & M) >> 11n) / 2 ** 53;
  };
}

function shuffle<T>(a: T[], rand: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
}

interface World {
  pcie: Pcie;
  nvme0: Controller;
  ns: Namespace;
  qp: Qpair;
  buf: Buffer;
  sub: Subsystem;
  cq: IoCQ;
  sq: IoSQ;
  worker: IoWorker;
  closed: {
    buf: Buffer;
    qp: Qpair;
    ns: Namespace;
    nvme: Controller;
    pcie: Pcie;
  };
}

let closedFixtures: World["closed"] | undefined;

/** Closed objects of every kind, made once (closed stays closed). */
function makeClosed(): World["closed"] {
  if (closedFixtures) return closedFixtures;
  const cnvme = new Controller("qemu:size=16M");
  const cpcie = cnvme.pcie;
  const cb = new Buffer(512, "closed");
  cb.close();
  const cqp = new Qpair(cnvme, 4);
  cqp.delete();
  const cns = new Namespace(cnvme, 1);
  cns.close();
  cnvme.close();
  cpcie.close();
  return closedFixtures = {
    buf: cb,
    qp: cqp,
    ns: cns,
    nvme: cnvme,
    pcie: cpcie,
  };
}

/** Replace the fixture of `cls` after a call that may have changed it. */
function repair(w: World, cls: string): World {
  const quiet = (f: () => unknown) => {
    try {
      f();
    } catch { /* already gone */ }
  };
  switch (cls) {
    case "Buffer":
      quiet(() => w.buf.close());
      w.buf = new Buffer(4096, "fuzz");
      return w;
    case "Qpair":
      quiet(() => w.qp.delete());
      w.qp = new Qpair(w.nvme0, 16);
      return w;
    case "IoWorker":
      quiet(() => w.worker.close());
      w.worker = new IoWorker(w.ns, { ioCount: 10 });
      return w;
    default:
      closeWorld(w);
      return makeWorld();
  }
}

function makeWorld(): World {
  const pcie = new Pcie("qemu:size=64M");
  const nvme0 = new Controller(pcie);
  nvme0.timeout = 2000;
  const ns = new Namespace(nvme0, 1);
  const qp = new Qpair(nvme0, 16);
  const buf = new Buffer(4096, "fuzz");
  const sub = new Subsystem(nvme0);
  const cq = new IoCQ(nvme0, 40, 16);
  const sq = new IoSQ(nvme0, 40, 16, cq);
  const worker = new IoWorker(ns, { ioCount: 10 });
  return {
    pcie,
    nvme0,
    ns,
    qp,
    buf,
    sub,
    cq,
    sq,
    worker,
    closed: makeClosed(),
  };
}

function closeWorld(w: World): void {
  const quiet = (f: () => unknown) => {
    try {
      f();
    } catch { /* already gone */ }
  };
  quiet(() => w.sq.delete());
  quiet(() => w.cq.delete());
  quiet(() => w.qp.delete());
  quiet(() => w.buf.close());
  quiet(() => w.ns.close());
  quiet(() => w.nvme0.close());
  quiet(() => w.pcie.close());
}

/** Members that change the device or the fixtures when they run. */
const DESTRUCTIVE = new Set([
  "Controller.disable",
  "Controller.reset",
  "Controller.close",
  "Controller.initAdminq",
  "Controller.setReg32",
  "Controller.setReg64",
  "Controller.format",
  "Controller.sanitize",
  "Controller.initQueues",
  "Controller.nsAttach",
  "Controller.set timeout",
  "Pcie.setCfg",
  "Pcie.flr",
  "Pcie.reset",
  "Pcie.close",
  "Pcie.set powerState",
  "Pcie.set aspm",
  "Pcie.enable",
  "Pcie.qmp",
  "Namespace.close",
  "Namespace.format",
  "Namespace.verifyEnable",
  "Qpair.delete",
  "Qpair.close",
  "Qpair.msixMask",
  "Subsystem.reset",
  "Subsystem.powerOff",
  "Subsystem.powerOn",
  "Subsystem.powerCycle",
  "Subsystem.shutdownNotify",
  "IoCQ.delete",
  "IoCQ.set head",
  "IoSQ.delete",
  "IoSQ.set tail",
  "IoSQ.set",
  "Buffer.close",
  "Buffer.set size",
  "Buffer.set offset",
  "IoWorker.start",
  "IoWorker.close",
  "IoWorker.closeAsync",
  "IoWorker.stop",
]);

type Target =
  | { kind: "member"; cls: string; key: string; sig: Signature }
  | { kind: "function"; name: string; sig: Signature };

function targets(): Target[] {
  const out: Target[] = [];
  for (const [cls, c] of Object.entries(CLASSES)) {
    const table: ClassTable = guarded.get(c)!;
    for (const [key, sig] of Object.entries(table)) {
      if (sig === "internal") continue;
      out.push({ kind: "member", cls, key, sig });
    }
  }
  for (const [name, sig] of Object.entries(FUNCTIONS)) {
    // startConsole serves a web console when its options are valid ({} is):
    // not something to start at random (its signature is checked like the rest)
    if (name === "startConsole") continue;
    out.push({ kind: "function", name, sig });
  }
  return out;
}

/** The hostile values: index → value (fresh objects each time). */
function hostile(w: World, i: number): unknown {
  const list: (() => unknown)[] = [
    () => NaN,
    () => Infinity,
    () => -Infinity,
    () => -1,
    () => 2 ** 32 + 5,
    () => 1.5,
    () => "1",
    () => "",
    () => ({}),
    () => [],
    () => null,
    () => 2n ** 64n,
    () => -1n,
    () => 1e12,
    () => 2 ** 53,
    () => Symbol("hostile"),
    () => w.closed.buf,
    () => w.closed.qp,
    () => w.closed.ns,
    () => w.closed.nvme,
    () => w.closed.pcie,
    () => new Uint16Array([0x1234]),
    () => w.ns, // a wrong class where another is expected
    () => ({ handle: 1, size: 4096, offset: 0, name: "fake", closed: false }),
    () => () => 1,
    () => Object.create(null),
    () => "x".repeat(100_000),
    () => new Uint8Array(0),
    () => new Array(5000).fill(7),
    () => ({ cb: 5, buf: {}, size: -1 }),
  ];
  return list[i % list.length]();
}
const HOSTILE_KINDS = 30;

function resolve(w: World, v: unknown): unknown {
  if (!(v instanceof InstanceSample)) return v;
  switch (v.cls) {
    case "Buffer":
      return w.buf;
    case "Qpair":
      return w.qp;
    case "Controller":
      return w.nvme0;
    case "Namespace":
      return w.ns;
    case "Pcie":
      return w.pcie;
    case "IoCQ":
      return w.cq;
    default:
      return undefined;
  }
}

function receiver(w: World, cls: string, closed: boolean): unknown {
  if (closed) {
    const c = w.closed as Record<string, unknown>;
    const k = {
      Buffer: "buf",
      Qpair: "qp",
      Namespace: "ns",
      Controller: "nvme",
      Pcie: "pcie",
    }[cls];
    if (k) return c[k];
  }
  return {
    Buffer: w.buf,
    Controller: w.nvme0,
    Namespace: w.ns,
    Qpair: w.qp,
    Pcie: w.pcie,
    Subsystem: w.sub,
    IoCQ: w.cq,
    IoSQ: w.sq,
    IoWorker: w.worker,
  }[cls];
}

/** Dispose of whatever a successful constructor call created. */
function dispose(o: unknown): void {
  try {
    if (o instanceof Qpair || o instanceof IoCQ || o instanceof IoSQ) {
      o.delete();
    } else if (o instanceof Controller) {
      const p = o.pcie;
      o.close();
      p.close();
    } else if (
      o instanceof Buffer || o instanceof Namespace || o instanceof Pcie
    ) o.close();
  } catch { /* best effort */ }
}

function classify(e: unknown): string {
  if (e instanceof ParameterError) return "ParameterError";
  if (e instanceof ClosedError) return "ClosedError";
  if (e instanceof DeviceGoneError) return "DeviceGoneError";
  if (e instanceof StatusError) return "StatusError (device status)";
  if (e instanceof NvmeError) return "NvmeError (other)";
  return `BAD ${(e as Error)?.name ?? typeof e}`;
}

Deno.test("validation layer: generated bad input ends in denvme errors, never a raw error, crash or hang", async () => {
  const seedText = Deno.env.get("DENVME_FUZZ_SEED");
  const seed = seedText
    ? BigInt(seedText)
    : BigInt(Math.floor(Math.random() * 2 ** 52));
  const calls = Number(Deno.env.get("DENVME_FUZZ_CALLS") ?? 2500);
  console.log(
    `seed 0x${seed.toString(16)} (replay: DENVME_FUZZ_SEED=0x${
      seed.toString(16)
    }), ${calls} calls`,
  );
  const rand = rng(seed);
  const trace = Deno.env.get("DENVME_FUZZ_TRACE") === "1"; // each call, before it runs
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)];
  const before = libStats();
  const all = targets();
  let w = makeWorld();
  const counts = new Map<string, number>();
  const bad: string[] = [];
  const vagueMessages: string[] = [];
  let slowest = { ms: 0, call: "" };
  let rebuilds = 0;
  for (let n = 0; n < calls; n++) {
    // every member in turn (in a seeded order), the values at random
    if (n % all.length === 0) shuffle(all, rand);
    const t = all[n % all.length];
    // arguments: valid samples and hostile values, at least one hostile
    const args: unknown[] = t.sig.map((p) =>
      resolve(
        w,
        p.check.edges && rand() < 0.3 ? pick(p.check.edges) : p.check.sample,
      )
    );
    // == length: one argument too many (a function sees only its own
    // parameters, so for functions the hostile value is always one of them)
    const hostileAt = t.sig.length
      ? Math.floor(rand() * (t.sig.length + (t.kind === "member" ? 1 : 0)))
      : 0;
    const mark = (i: number) => {
      const required = i < t.sig.length && !t.sig[i].optional;
      let v: unknown;
      do {
        v = required && rand() < 0.05
          ? undefined
          : hostile(w, Math.floor(rand() * HOSTILE_KINDS));
      } while (v === undefined && !required);
      args[i] = v;
    };
    mark(hostileAt);
    for (let i = 0; i < t.sig.length; i++) {
      if (i !== hostileAt && rand() < 0.25) mark(i);
    }
    const closedReceiver = t.kind === "member" && t.key !== "new" &&
      rand() < 0.1;
    const label = t.kind === "function"
      ? `${t.name}()`
      : t.key === "new"
      ? `new ${t.cls}`
      : `${t.cls}.${t.key}`;
    if (trace) console.log(`#${n} ${label}(${args.map(show).join(", ")})`);
    const t0 = performance.now();
    let outcome: string;
    try {
      let r: unknown;
      if (t.kind === "function") {
        r = (denvme as unknown as Record<string, (...a: unknown[]) => unknown>)[
          t.name
        ](...args);
      } else if (t.key === "new") {
        const C = CLASSES[t.cls] as unknown as new (...a: unknown[]) => unknown;
        r = new C(...args);
        dispose(r);
      } else {
        const o = receiver(w, t.cls, closedReceiver) as Record<
          string,
          unknown
        >;
        if (t.key.startsWith("set ")) o[t.key.slice(4)] = args[0];
        else r = (o[t.key] as (...a: unknown[]) => unknown)(...args);
      }
      if (r instanceof Promise) await r;
      // reap what the call submitted: its device status counts as its outcome
      if (!w.qp.closed && w.qp.outstanding) w.qp.waitdone(w.qp.outstanding);
      const aq = w.nvme0.closed ? undefined : w.nvme0.adminQueue;
      if (aq && aq.outstanding) w.nvme0.waitdone(aq.outstanding);
      outcome = "ok";
    } catch (e) {
      outcome = classify(e);
      if (outcome.startsWith("BAD")) {
        bad.push(
          `${label}(${args.map(show).join(", ")}): ${
            show((e as Error)?.message)
          }`,
        );
      }
      if (
        e instanceof ParameterError &&
        /undefined\.\.|\.\.undefined|NaN\.\.|\.\.NaN/.test(e.message)
      ) vagueMessages.push(e.message);
    }
    const ms = performance.now() - t0;
    if (ms > slowest.ms) slowest = { ms, call: label };
    counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
    const key = t.kind === "member" ? `${t.cls}.${t.key}` : "";
    const ran = outcome !== "ParameterError" && outcome !== "ClosedError";
    if (ran && (DESTRUCTIVE.has(key) || outcome.startsWith("BAD"))) {
      w = repair(
        w,
        outcome.startsWith("BAD") ? "" : (t as { cls: string }).cls,
      );
      rebuilds++;
    }
  }
  // the device is healthy afterwards: identify, a write and a read back
  w.buf.fill(32, 0x5a5a5a5a);
  w.ns.write(w.qp, w.buf, 0, 8).waitdone();
  using rbuf = new Buffer(4096);
  w.ns.read(w.qp, rbuf, 0, 8).waitdone();
  assert.equal(rbuf.u32(0), 0x5a5a5a5a);
  assert.equal(w.nvme0.getfeatures(7).waitdone() >>> 0 !== 0, true);
  closeWorld(w);
  rbuf.close();
  const after = libStats();
  const table = [...counts].sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `  ${k}: ${v}`).join("\n");
  console.log(
    `${calls} calls by outcome:\n${table}\n  (fixtures rebuilt ${rebuilds} times; slowest call ${
      slowest.ms.toFixed(0)
    } ms: ${slowest.call})`,
  );
  assert.deepEqual(bad, [], `raw errors:\n${bad.slice(0, 20).join("\n")}`);
  assert.deepEqual(vagueMessages, [], "messages without a range");
  assert.ok(calls >= 2000 || seedText || Deno.env.get("DENVME_FUZZ_CALLS"));
  // nothing leaked: queues and buffers back to where they were (the closed
  // fixtures of the last world are closed; the GC may still hold finalizable ones)
  assert.equal(after.sqs, before.sqs, "submission queues leaked");
  assert.equal(after.cqs, before.cqs, "completion queues leaked");
  assert.equal(after.pcie, before.pcie, "devices leaked");
});

// --- the numbered defects -----------------------------------------------------

/** Assert `fn` throws a `cls` whose message matches every pattern. */
function rejects(
  fn: () => unknown,
  cls: abstract new (...a: never[]) => Error,
  ...patterns: RegExp[]
): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(
    caught instanceof cls,
    `expected ${cls.name}, got ${(caught as Error)?.name}: ${
      (caught as Error)?.message ?? caught
    }`,
  );
  for (const p of patterns) assert.match((caught as Error).message, p);
}

Deno.test("defect 4: IoCQ.waitEntry with a NaN or string time is refused at once", () => {
  using nvme0 = new Controller("qemu:size=64M");
  const cq = new IoCQ(nvme0, 5, 16);
  try {
    rejects(
      () => cq.waitEntry(0, 1, NaN),
      ParameterError,
      /waitEntry: ms must be an integer in 0\.\.0x36ee80, got NaN/,
    );
    rejects(
      () => cq.waitEntry(0, 1, "x" as unknown as number),
      ParameterError,
      /ms must be an integer/,
      /"x"/,
    );
    rejects(() => cq.waitEntry(0, NaN), ParameterError, /phase/);
    assert.equal(cq.waitEntry(0, 1, 0), undefined); // 0 ms: a look, no wait
  } finally {
    cq.delete();
  }
});

Deno.test("defect 6: a raw queue the device refuses gives back its QID and ring", () => {
  using nvme0 = new Controller("qemu:size=64M");
  const before = libStats();
  for (let i = 0; i < 64; i++) {
    // 65536 entries is above MQES+1: the device refuses (01/02)
    rejects(() => new IoCQ(nvme0, 1 + (i % 8), 65536), StatusError, /01\/02/);
  }
  const after = libStats();
  assert.equal(
    after.buffers,
    before.buffers,
    "refused queues kept their rings",
  );
  assert.equal(after.dmaUsed, before.dmaUsed);
  using q = new Qpair(nvme0, 16); // a QID is free
  assert.equal(q.sqid, 1);
});

Deno.test("defect 9: nsid is checked in getfeatures, setfeatures and getlogpage", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using buf = new Buffer(512);
  for (const nsid of [-1, 2 ** 32 + 5, 1.5, "1", {}]) {
    const n = nsid as unknown as number;
    rejects(
      () => nvme0.getfeatures(7, { nsid: n }),
      ParameterError,
      /getfeatures: nsid/,
    );
    rejects(
      () => nvme0.setfeatures(7, { nsid: n }),
      ParameterError,
      /setfeatures: nsid/,
    );
    rejects(
      () => nvme0.getlogpage(2, buf, { nsid: n }),
      ParameterError,
      /getlogpage: nsid/,
    );
  }
  assert.equal(nvme0.adminQueue.outstanding, 0, "nothing was sent");
});

Deno.test("defect 10: a data transfer without a buffer is refused (PRP1 is never 0 by accident)", () => {
  using nvme0 = new Controller("qemu:size=64M");
  const ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 16);
  rejects(
    () => nvme0.identify(undefined as unknown as Buffer),
    ParameterError,
    /identify: buf is required/,
  );
  rejects(
    () => nvme0.sendCmd(6, { cdw10: 1, len: 4096 }),
    ParameterError,
    /sendCmd: len = 4096 but no buf/,
  );
  rejects(
    () => nvme0.sendCmd(6, { cdw10: 1 }),
    ParameterError,
    /opcode 0x06 \(Identify\) transfers data but no buf/,
  );
  rejects(
    () => ns.sendCmd(2, q, { cdw12: 0 }),
    ParameterError,
    /opcode 0x02 \(Read\) transfers data/,
  );
  assert.equal(nvme0.adminQueue.outstanding, 0);
  assert.equal(q.outstanding, 0);
  // on purpose: an explicit raw data pointer is allowed
  using buf = new Buffer(4096);
  nvme0.sendCmd(6, { cdw10: 1, prp1: buf.iova, prp2: 0n }).waitdone();
  assert.equal(buf.data(1, 0), 0x1b36); // vendor id: it landed in buf
  nvme0.sendCmd(0x0a, { cdw10: 7 }).waitdone(); // Get Features: no data
  ns.close();
});

Deno.test("defect 11: logPage sizes that are not whole dwords are refused", () => {
  using nvme0 = new Controller("qemu:size=64M");
  rejects(
    () => nvme0.logPage(2, 6),
    ParameterError,
    /size = 6 must be a multiple of 4/,
  );
  assert.equal(nvme0.logPage(2, 8).length, 8);
});

Deno.test("defect 12: initAdminq on an enabled controller is refused, the admin queue keeps working", () => {
  using nvme0 = new Controller("qemu:size=64M");
  rejects(
    () => nvme0.initAdminq(16),
    NvmeError,
    /enabled/,
    /disable\(\) first/,
  );
  nvme0.getfeatures(7).waitdone();
});

Deno.test("defect 13: non-Buffers and non-bytes are refused", () => {
  using nvme0 = new Controller("qemu:size=64M");
  const before = libStats();
  rejects(
    () => new IoCQ(nvme0, 3, 16, { ring: {} as unknown as Buffer }),
    ParameterError,
    /ring must be a Buffer, got \{\}/,
  );
  using buf = new Buffer(64);
  rejects(
    () => buf.write(new Uint16Array([0x1234]) as unknown as Uint8Array),
    ParameterError,
    /write: data must be a Uint8Array or a string/,
    /Uint16Array/,
  );
  rejects(() => buf.write(5 as unknown as string), ParameterError, /got 5/);
  rejects(() => buf.write({} as unknown as string), ParameterError, /got \{\}/);
  assert.equal(buf.get(0), 0);
  assert.equal(libStats().sqs, before.sqs);
});

Deno.test("defect 14: the calls that reached FFI or crashed in JS now throw denvme errors", () => {
  using nvme0 = new Controller("qemu:size=64M");
  const ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 16);
  using buf = new Buffer(4096);
  const P = ParameterError;
  rejects(
    () => nvme0.identify({} as unknown as Buffer),
    P,
    /identify: buf must be a Buffer, got \{\}/,
  );
  rejects(
    () => nvme0.sendCmd(6, { buf, len: -1 }),
    P,
    /sendCmd: len = -1 is out of range/,
  );
  rejects(() => nvme0.pcie.maskVector(-1, true), P, /maskVector: vector = -1/);
  rejects(
    () => ns.dsm(q, undefined as unknown as Buffer, 1),
    P,
    /dsm: buf is required/,
  );
  rejects(
    () => new Controller(123 as unknown as string),
    P,
    /new Controller: pcie must be an open Pcie or a string/,
  );
  rejects(
    () => new Namespace(undefined as unknown as Controller),
    P,
    /new Namespace: nvme is required/,
  );
  rejects(
    () => new Qpair({} as unknown as Controller, 16),
    P,
    /new Qpair: nvme must be a Controller/,
  );
  rejects(
    () => denvme.crc32c("abc" as unknown as Uint8Array),
    P,
    /crc32c: data must be a Uint8Array, got "abc"/,
  );
  rejects(
    () => nvme0.getlogpage(2, {} as unknown as Buffer),
    P,
    /getlogpage: buf must be a Buffer, got \{\}/,
  );
  // a callback that is not a function fails at submission, before the command runs
  rejects(
    () => ns.read(q, buf, 0, 1, { cb: 5 as unknown as () => void }),
    P,
    /read: opts must be a function or an options object/,
  );
  rejects(
    () => nvme0.getfeatures(7, { cb: "x" as unknown as () => void }),
    P,
    /cb must be a function/,
  );
  assert.equal(q.outstanding, 0);
  ns.close();
});

Deno.test("defect 15: a closed Namespace refuses everything with ClosedError", () => {
  using nvme0 = new Controller("qemu:size=64M");
  const ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 16);
  using buf = new Buffer(4096);
  ns.close();
  rejects(
    () => ns.read(q, buf, 0),
    ClosedError,
    /^Namespace 1 is closed$/,
  );
  rejects(() => ns.refresh(), ClosedError);
  rejects(() => ns.idData(3, 0), ClosedError);
  rejects(() => ns.verifyStats(), ClosedError);
  rejects(() => ns.ioworker({ ioCount: 1 }), ClosedError);
  ns.close(); // closing again is fine
});

Deno.test("defect 16: silent acceptances are refused", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using buf = new Buffer(64);
  const P = ParameterError;
  rejects(
    () => nvme0.getfeatures(7, 5 as unknown as object),
    P,
    /o must be an options object/,
  );
  rejects(
    () => nvme0.getfeatures(7, { sell: 1 } as unknown as object),
    P,
    /unknown option "sell" \(allowed: sel,/,
  );
  rejects(
    () => new Qpair(nvme0, 16, 0, "no" as unknown as boolean),
    P,
    /ien must be true or false, got "no"/,
  );
  rejects(
    () => buf.data(3, 0, "float" as unknown as "int"),
    P,
    /type must be one of "int", "bigint", "str", got "float"/,
  );
  rejects(
    () => denvme.sqe({ opc: NaN }),
    P,
    /opc must be an integer in 0\.\.255, got NaN/,
  );
  rejects(
    () => denvme.sqe({ opc: 1, nsid: "1" as unknown as number }),
    P,
    /nsid/,
  );
  const cq = new IoCQ(nvme0, 6, 16);
  const sq = new IoSQ(nvme0, 6, 16, cq);
  try {
    rejects(() => sq.set(0, new Array(16).fill(NaN)), P, /cmd/);
  } finally {
    sq.delete();
    cq.delete();
  }
  rejects(() => denvme.commandName(NaN, true), P, /opcode must be an integer/);
  rejects(() => denvme.statusName(NaN, 0), P, /sct must be an integer/);
  rejects(() => nvme0.cmdname(NaN), P, /cmdname: opcode/);
  rejects(() => denvme.parseDut("qemu:size=1G,size=2G"), P, /size given twice/);
  rejects(() => denvme.parseDut("qemu:pi=1"), P, /pi=1 needs metadata/);
  denvme.parseDut("qemu:pi=1,ms=8"); // with metadata it is fine
});

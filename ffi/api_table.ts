/**
 * The signatures of the public API: every public method, setter and
 * constructor of the exported classes, checked by `ffi/validate.ts` before
 * the body runs. A member missing here fails `tests/hardening_api_test.ts`,
 * so a new method cannot be added unchecked. Ranges here are the absolute
 * ones (the field widths); limits that depend on the device or a buffer are
 * checked by the methods.
 *
 * @module
 */
import { type ClassTable, opt, req, type Signature, V } from "./validate.ts";

const u8 = V.int(0, 0xff);
const u16 = V.int(0, 0xffff);
const u32 = V.int(0, 0xffff_ffff);
const u64 = V.u64();
const bool = V.bool;
const fn = V.fn;
const buffer = V.instance("Buffer");
const qpair = V.instance("Qpair");
const controller = V.instance("Controller");
const count = V.int(0, 0xffff_ffff); // cmdlog entries, 0: all
const expected = V.int(0, 0xffff_ffff); // waitdone(0): reap what is there
const fieldType = V.oneOf(["int", "bigint", "str"]);
const callback = opt("cb", fn);
const dwords = {
  cdw2: u32,
  cdw3: u32,
  cdw10: u32,
  cdw11: u32,
  cdw12: u32,
  cdw13: u32,
  cdw14: u32,
  cdw15: u32,
};
const ioOptions = {
  ioFlags: u16,
  cdw13: u32,
  cdw14: u32,
  cdw15: u32,
  cb: fn,
  sgl: bool,
  meta: buffer,
  prinfo: V.int(0, 0xf),
  reftag: u32,
  apptag: u16,
  appmask: u16,
};
/** A callback or IO options. */
const ioOpts = opt("opts", V.anyOf(fn, V.options(ioOptions)));
const none: Signature = [];

/** Completion: made by the driver only. */
export const COMPLETION: ClassTable = { new: "internal" };

/** Buffer. */
export const BUFFER: ClassTable = {
  new: [
    opt("Buffer size", V.int(1, 1 << 30)),
    opt("name", V.str(256)),
    opt("pvalue", V.int(0, 0xffff_ffff)),
    opt("ptype", V.oneOf([0, 32, 0xbeef])),
  ],
  "set size": [req("size", V.int(0, 1 << 30))],
  "set offset": [req("offset", V.int(0, 1 << 30))],
  get: [req("index", V.int(0, 1 << 30))],
  set: [req("index", V.int(0, 1 << 30)), req("value", u8)],
  slice: [opt("begin", V.int(0, 1 << 30)), opt("end", V.int(0, 1 << 30))],
  write: [
    req("data", V.anyOf(V.bytes, V.str(1 << 30))),
    opt("at", V.int(0, 1 << 30)),
  ],
  u32: [req("at", V.int(0, 1 << 30))],
  u64: [req("at", V.int(0, 1 << 30))],
  data: [
    req("byte_end", V.int(0, 1 << 30)),
    opt("byte_begin", V.int(0, 1 << 30)),
    opt("type", fieldType),
  ],
  fill: [
    opt("ptype", V.oneOf([0, 32, 0xbeef])),
    opt("pvalue", V.int(0, 0xffff_ffff)),
  ],
  setDsmRange: [
    req("index", V.int(0, 255)),
    req("lba", u64),
    req("lbaCount", u32),
    opt("attr", u32),
  ],
  dump: [opt("size", V.int(0, 1 << 30))],
  close: none,
  toString: none,
};

/** Pcie. */
export const PCIE: ClassTable = {
  new: [opt("name", V.str(4096))],
  cfg: [req("config offset", V.int(0, 0xfff)), opt("size", V.oneOf([1, 2, 4]))],
  setCfg: [
    req("config offset", V.int(0, 0xfff)),
    req("value", u32),
    opt("size", V.oneOf([1, 2, 4])),
  ],
  register: [
    req("offset", V.int(0, 0xfff)),
    opt("byteCount", V.int(1, 4)),
  ],
  capOffset: [req("capability id", u8)],
  extCapOffset: [req("extended capability id", u16)],
  flr: [opt("enable", bool)],
  "set powerState": [req("power state", V.int(0, 3))],
  "set aspm": [req("aspm", V.int(0, 3))],
  reset: [opt("rstFn", fn)],
  intxAsserted: none,
  maskVector: [req("vector", V.int(0, 2047)), req("mask", bool)],
  qmp: [
    req("command", V.str(256)),
    opt("args", V.record),
  ],
  enable: none,
  close: none,
};

/** Controller (its admin commands and logs included). */
export const CONTROLLER: ClassTable = {
  new: [
    opt("pcie", V.anyOf(V.instance("Pcie"), V.str(4096))),
    opt("init", V.anyOf(fn, V.oneOf([false]))),
  ],
  "set timeout": [req("timeout (ms)", V.int(0, 3_600_000))],
  scheduleFlush: "internal",
  reg32: [req("register offset", V.int(0, 0xfffc))],
  setReg32: [req("register offset", V.int(0, 0xfffc)), req("value", u32)],
  reg64: [req("register offset", V.int(0, 0xfff8))],
  setReg64: [req("register offset", V.int(0, 0xfff8)), req("value", u64)],
  disable: none,
  waitReady: [req("ready", bool)],
  initAdminq: [opt("depth", V.int(2, 4096))],
  identifyController: none,
  initNs: none,
  initQueues: [req("cdw0", u32)],
  idData: [
    req("byte_end", V.int(0, 4095)),
    opt("byte_begin", V.int(0, 4095)),
    opt("type", fieldType),
    opt(
      "opts",
      V.options({ nsid: u32, cns: u8, cntid: u16, csi: u8 }),
    ),
  ],
  cmdlog: [opt("count", count)],
  cmdlogText: [opt("count", count)],
  waitdone: [opt("expected", expected)],
  waitdoneAsync: [opt("expected", expected)],
  exec: "internal",
  submitAdmin: "internal",
  identify: [
    req("buf", buffer),
    opt("nsid", u32),
    opt("cns", u8),
    opt("opts", V.options({ cntid: u16, csi: u8, cb: fn })),
  ],
  getfeatures: [
    req("fid", u8),
    opt(
      "o",
      V.options({
        sel: V.int(0, 7),
        buf: buffer,
        nsid: u32,
        cdw11: u32,
        cdw12: u32,
        cdw13: u32,
        cdw14: u32,
        cdw15: u32,
        cb: fn,
      }),
    ),
  ],
  setfeatures: [
    req("fid", u8),
    opt(
      "o",
      V.options({
        sv: bool,
        buf: buffer,
        nsid: u32,
        cdw11: u32,
        cdw12: u32,
        cdw13: u32,
        cdw14: u32,
        cdw15: u32,
        cb: fn,
      }),
    ),
  ],
  getlogpage: [
    req("lid", u8),
    req("buf", buffer),
    opt(
      "o",
      V.options({
        size: V.int(4, 1 << 30),
        offset: u64,
        nsid: u32,
        lsp: V.int(0, 0x7f),
        rae: bool,
        cb: fn,
      }),
    ),
  ],
  aer: [callback],
  onAer: "internal",
  takeAerEvents: none,
  abort: [req("cid", u16), opt("sqid", u16), callback],
  format: [
    opt("lbaf", V.int(0, 63)),
    opt("ses", V.int(0, 7)),
    opt("nsid", u32),
    opt(
      "o",
      V.options({
        mset: V.int(0, 1),
        pi: V.int(0, 7),
        pil: V.int(0, 1),
        cb: fn,
      }),
    ),
  ],
  sanitize: [
    opt("sanact", V.int(0, 7)),
    opt("pattern", u32),
    opt(
      "o",
      V.options({
        ause: bool,
        owpass: V.int(0, 15),
        oipbp: bool,
        nodas: bool,
        cb: fn,
      }),
    ),
  ],
  dst: [opt("stc", V.int(0, 0xf)), opt("nsid", u32), callback],
  fwDownload: [
    req("buf", buffer),
    req("offset", V.int(0, 0xffff_ffff * 4)),
    opt("size", V.int(4, 1 << 30)),
    callback,
  ],
  fwCommit: [req("slot", V.int(0, 7)), req("action", V.int(0, 7)), callback],
  downfw: [
    req("path", V.str(4096)),
    opt("slot", V.int(0, 7)),
    opt("action", V.int(0, 7)),
  ],
  securitySend: [
    req("buf", buffer),
    req("spsp", u16),
    opt("secp", u8),
    opt("nssf", u8),
    opt("size", V.int(0, 1 << 30)),
    callback,
  ],
  securityReceive: [
    req("buf", buffer),
    req("spsp", u16),
    opt("secp", u8),
    opt("nssf", u8),
    opt("size", V.int(0, 1 << 30)),
    callback,
  ],
  miSend: [
    req("opcode", u8),
    opt("dword0", u32),
    opt("dword1", u32),
    opt("buf", buffer),
    opt("mtype", V.int(0, 0xf)),
    callback,
  ],
  miReceive: [
    req("opcode", u8),
    opt("dword0", u32),
    opt("dword1", u32),
    opt("buf", buffer),
    opt("mtype", V.int(0, 0xf)),
    callback,
  ],
  nsAttach: [
    req("nsid", u32),
    req("controllers", V.array(u16, 0, 2047)),
    opt("detach", bool),
    callback,
  ],
  logPage: [
    req("lid", u8),
    req("size", V.int(4, 1 << 20)),
    opt("nsid", u32),
    opt("offset", u32),
  ],
  smartLog: [opt("nsid", u32)],
  errorLog: none,
  firmwareSlotLog: none,
  effectsLog: none,
  supports: [req("opcode", u8), opt("io", bool)],
  sendCmd: [
    req("opcode", u16),
    opt(
      "f",
      V.options({
        ...dwords,
        buf: buffer,
        len: V.int(0, 1 << 30),
        nsid: u32,
        prp1: V.bigint(),
        prp2: V.bigint(),
        cb: fn,
      }),
    ),
  ],
  cmdname: [req("opcode", u8)],
  goneReason: none,
  adopt: "internal",
  release: "internal",
  reset: none,
  close: none,
};

/** Namespace. */
export const NAMESPACE: ClassTable = {
  new: [
    req("nvme", controller),
    opt("nsid", V.int(1, 0xffff_fffe)),
    opt("nlbaVerify", V.int(0, Number.MAX_SAFE_INTEGER)),
  ],
  refresh: none,
  idData: [
    req("byte_end", V.int(0, 4095)),
    opt("byte_begin", V.int(0, 4095)),
    opt("type", fieldType),
  ],
  cmdname: [req("opcode", u8)],
  read: [
    req("qpair", qpair),
    req("buf", buffer),
    req("lba", u64),
    opt("lbaCount", V.int(1, 65536)),
    ioOpts,
  ],
  write: [
    req("qpair", qpair),
    req("buf", buffer),
    req("lba", u64),
    opt("lbaCount", V.int(1, 65536)),
    ioOpts,
  ],
  compare: [
    req("qpair", qpair),
    req("buf", buffer),
    req("lba", u64),
    opt("lbaCount", V.int(1, 65536)),
    ioOpts,
  ],
  writeZeroes: [
    req("qpair", qpair),
    req("lba", u64),
    opt("lbaCount", V.int(1, 65536)),
    ioOpts,
  ],
  writeUncorrectable: [
    req("qpair", qpair),
    req("lba", u64),
    opt("lbaCount", V.int(1, 65536)),
    ioOpts,
  ],
  verify: [
    req("qpair", qpair),
    req("lba", u64),
    opt("lbaCount", V.int(1, 65536)),
    ioOpts,
  ],
  flush: [req("qpair", qpair), callback],
  dsm: [
    req("qpair", qpair),
    req("buf", buffer),
    req("rangeCount", V.int(1, 256)),
    opt("attribute", u32),
    callback,
  ],
  copy: [
    req("qpair", qpair),
    req("dest", u64),
    req(
      "ranges",
      V.array(V.options({ lba: u64, count: V.int(1, 65536) }), 1, 256),
    ),
    ioOpts,
  ],
  zoneMgmtSend: [
    req("qpair", qpair),
    req("slba", u64),
    req("action", u8),
    opt("all", bool),
    callback,
  ],
  zoneMgmtRecv: [
    req("qpair", qpair),
    req("buf", buffer),
    opt("slba", u64),
    opt(
      "o",
      V.options({
        zra: u8,
        zrasf: u8,
        partial: bool,
        size: V.int(4, 1 << 30),
        cb: fn,
      }),
    ),
  ],
  zoneAppend: [
    req("qpair", qpair),
    req("buf", buffer),
    req("zslba", u64),
    opt("lbaCount", V.int(1, 65536)),
    ioOpts,
  ],
  sendCmd: [
    req("opcode", u16),
    req("qpair", qpair),
    opt(
      "f",
      V.options({
        ...ioOptions,
        ...dwords,
        buf: buffer,
        len: V.int(0, 1 << 30),
        nsid: u32,
        prp1: V.bigint(),
        prp2: V.bigint(),
        stamp: bool,
      }),
    ),
  ],
  ioworker: [req("options", V.any)], // checked in full by ioworker_plan.ts
  verifyEnable: [opt("on", bool)],
  stampEnable: [opt("on", bool)],
  supports: [req("opcode", u8)],
  getLbaFormat: [
    opt("dataSize", V.int(1, 1 << 30)),
    opt("metaSize", V.int(0, 0xffff)),
  ],
  verifyStats: none,
  verifyEntries: [req("lba", u64), opt("count", V.int(1, 1 << 20))],
  format: [
    opt(
      "lbaf",
      V.anyOf(
        V.integer("0..63"),
        V.options({
          dataSize: V.int(1, 1 << 30),
          metaSize: V.int(0, 0xffff),
          ses: V.int(0, 7),
        }),
      ),
    ),
    opt("ses", V.int(0, 7)),
  ],
  close: none,
};

/** Qpair. */
export const QPAIR: ClassTable = {
  new: [
    req("nvme", controller),
    req("depth", V.integer("2..MQES+1")),
    opt("prio", V.int(0, 3)),
    opt("ien", bool),
    opt("iv", u16),
  ],
  claim: "internal",
  unclaim: "internal",
  waitdone: [opt("expected", expected)],
  waitdoneAsync: [opt("expected", expected)],
  cmdlog: [opt("count", count)],
  cmdlogText: [opt("count", count)],
  msixClear: none,
  msixIsSet: none,
  msixMask: none,
  msixUnmask: none,
  controllerReset: "internal",
  delete: none,
  close: none,
};

/** Subsystem. */
export const SUBSYSTEM: ClassTable = {
  new: [
    req("nvme", controller),
    opt(
      "callbacks",
      V.options({
        poweroff: fn,
        poweron: fn,
        power: V.oneOf(["slot", "s3", "cmd", "auto"]),
      }),
    ),
  ],
  shutdownNotify: [opt("abrupt", bool)],
  reset: none,
  powerOff: none,
  powerOn: none,
  powerCycle: [opt("seconds", V.num(0, 3600))],
};

/** IoWorker (its options are checked in full by ioworker_plan.ts). */
export const IOWORKER: ClassTable = {
  new: [req("ns", V.instance("Namespace")), opt("options", V.any)],
  start: none,
  stop: none,
  terminate: "internal",
  close: none,
  closeAsync: none,
  iopsConsistency: [opt("slowestPercentage", V.num(0, 100))],
};

const ring = V.instance("Buffer");

/** IoCQ. */
export const IOCQ: ClassTable = {
  new: [
    req("nvme", controller),
    req("qid", V.integer("1..65535 (0 with illegal)")),
    req("qsize", V.integer("2..65536 (1 with illegal)")),
    opt(
      "o",
      V.options({
        iv: u16,
        ien: bool,
        pc: bool,
        ring,
        prp1: V.bigint(),
        illegal: bool,
      }),
    ),
  ],
  get: [req("index", V.int(0, 65535))],
  "set head": [req("head", u32)],
  waitEntry: [
    req("index", V.int(0, 65535)),
    req("phase", V.int(0, 1)),
    opt("ms", V.int(0, 3_600_000)),
  ],
  delete: none,
  create: "internal",
  check: "internal",
  doorbell: "internal",
  remove: "internal",
};

/** IoSQ. */
export const IOSQ: ClassTable = {
  new: [
    req("nvme", controller),
    req("qid", V.integer("1..65535 (0 with illegal)")),
    req("qsize", V.integer("2..65536 (1 with illegal)")),
    req("cq", V.anyOf(V.instance("IoCQ"), u16)),
    opt(
      "o",
      V.options({
        prio: V.int(0, 3),
        pc: bool,
        ring,
        prp1: V.bigint(),
        illegal: bool,
      }),
    ),
  ],
  set: [
    req("index", V.int(0, 65535)),
    req(
      "cmd",
      V.anyOf(
        V.custom(
          "a Uint32Array of 16 dwords",
          (v) => v instanceof Uint32Array && v.length === 16,
        ),
        V.array(u32, 16, 16),
      ),
    ),
  ],
  "set tail": [req("tail", u32)],
  delete: none,
  create: "internal",
  check: "internal",
  doorbell: "internal",
  remove: "internal",
};

/** Bytes of at least `n` (a structure to decode). */
function bytesOf(n: number): ReturnType<typeof V.custom> {
  return V.custom(
    `a Uint8Array of at least ${n} bytes`,
    (v) => v instanceof Uint8Array && v.length >= n,
  );
}

const cmdlogEntry = V.custom(
  "a cmdlog entry (from cmdlog())",
  (v) =>
    v !== null && typeof v === "object" &&
    (v as { sqe?: unknown }).sqe instanceof Uint8Array &&
    (v as { sqe: Uint8Array }).sqe.length === 64 &&
    (v as { cdw?: unknown }).cdw instanceof Uint32Array &&
    typeof (v as { submitted?: unknown }).submitted === "number" &&
    Array.isArray((v as { notes?: unknown }).notes),
);

const verifyFailure = V.custom(
  "a verification failure (VerifyError.failure)",
  (v) =>
    v !== null && typeof v === "object" &&
    typeof (v as { kind?: unknown }).kind === "string" &&
    typeof (v as { lba?: unknown }).lba === "number",
);

const bitField = V.custom(
  "a bit field {name, lo, hi, desc}",
  (v) =>
    v !== null && typeof v === "object" &&
    typeof (v as { name?: unknown }).name === "string" &&
    Number.isInteger((v as { lo?: unknown }).lo) &&
    Number.isInteger((v as { hi?: unknown }).hi) &&
    (v as { lo: number }).lo >= 0 &&
    (v as { lo: number }).lo <= (v as { hi: number }).hi &&
    (v as { hi: number }).hi < 64,
);

const registerReader = V.custom(
  "a controller (an object with reg32 and reg64)",
  (v) =>
    v !== null && typeof v === "object" &&
    typeof (v as { reg32?: unknown }).reg32 === "function" &&
    typeof (v as { reg64?: unknown }).reg64 === "function",
);

const tcpTarget = V.options({
  host: V.str(255),
  port: V.int(1, 65535),
  nqn: V.str(223),
  hostnqn: V.str(223),
  hdgst: bool,
  ddgst: bool,
  kato: V.int(0, 0xffff_ffff),
  timeout: V.int(0, 3_600_000),
}, ["host", "port", "hdgst", "ddgst"]);

/** The exported functions (each checks itself with checkArgs). */
export const FUNCTIONS: Record<string, Signature> = {
  crc32c: [req("data", V.bytes)],
  writeToken: none,
  libStats: none,
  sqe: [
    req(
      "f",
      V.options({
        opc: u8,
        fuse: V.int(0, 3),
        psdt: V.int(0, 3),
        cid: u16,
        nsid: u32,
        mptr: u64,
        prp1: u64,
        prp2: u64,
        cdw: V.options({
          2: u32,
          3: u32,
          10: u32,
          11: u32,
          12: u32,
          13: u32,
          14: u32,
          15: u32,
        }),
      }),
    ),
  ],
  commandName: [req("opcode", u8), req("admin", bool)],
  statusName: [req("sct", V.int(0, 7)), req("sc", u8)],
  decodeIdentifyController: [req("d", bytesOf(4096))],
  decodeIdentifyNamespace: [req("d", bytesOf(4096))],
  decodeSmartLog: [req("d", bytesOf(512))],
  decodeErrorLog: [req("d", V.bytes)],
  decodeFirmwareSlotLog: [req("d", bytesOf(64))],
  decodeEffectsLog: [req("d", bytesOf(2048))],
  decodeAsyncEvent: [req("cdw0", u32)],
  parseDut: [req("name", V.str(4096))],
  defaultDut: [
    opt("args", V.array(V.str(4096), 0, 4096)),
    opt("fallback", V.str(4096)),
  ],
  expectStatus: [
    req("status", V.anyOf(V.str(16), V.array(u8, 2, 2))),
    req("fn", fn),
  ],
  formatEntry: [req("e", cmdlogEntry), req("admin", bool)],
  describeVerifyFailure: [req("f", verifyFailure)],
  stopIoworkers: [req("nvme", controller), opt("why", V.str(256))],
  // pynvme's random numbers
  srand: [req("seed", V.int(0, 0xffff_ffff))],
  randomSeed: none,
  random: none,
  randint: [
    req("a", V.int(-(2 ** 53) + 1, 2 ** 53 - 1)),
    req("b", V.int(-(2 ** 53) + 1, 2 ** 53 - 1)),
  ],
  // decoders (nvme-cli's view of the structures)
  asciiField: [
    req("d", V.bytes),
    req("begin", V.int(0, 1 << 30)),
    req("end", V.int(0, 1 << 30)),
  ],
  decodeBits: [req("v", u64), req("spec", V.array(bitField, 0, 4096))],
  describeBits: [req("v", u64), req("spec", V.array(bitField, 0, 4096))],
  decodePowerState: [req("d", bytesOf(4096)), req("n", V.int(0, 31))],
  decodeIdentifyControllerDetail: [req("d", bytesOf(4096))],
  describeIdentifyController: [req("d", bytesOf(4096))],
  decodeIdentifyNamespaceDetail: [req("d", bytesOf(4096))],
  describeIdentifyNamespace: [req("d", bytesOf(4096))],
  decodeSmartDetail: [req("d", bytesOf(512))],
  describeSmartWarnings: [
    req(
      "s",
      V.custom(
        "a SMART log (smartLog()) with criticalWarning and egcws",
        (v) =>
          v !== null && typeof v === "object" &&
          Number.isInteger(
            (v as { criticalWarning?: unknown }).criticalWarning,
          ) &&
          Number.isInteger((v as { egcws?: unknown }).egcws),
      ),
    ),
  ],
  decodeErrorEntryDetail: [
    req("d", bytesOf(64)),
    req("index", V.int(0, 1 << 20)),
  ],
  decodeApst: [req("d", V.bytes)],
  decodeHostMemoryBuffer: [req("d", bytesOf(16))],
  decodeTimestamp: [req("d", bytesOf(8))],
  decodeHostBehavior: [req("d", bytesOf(3))],
  decodeLbaRanges: [req("d", V.bytes), req("count", V.int(0, 64))],
  decodeFeature: [req("fid", u8), req("cdw0", u32), opt("data", V.bytes)],
  decodeRegisters: [req("read", fn)],
  readRegisters: [req("ctrl", registerReader)],
  describeRegisters: [req("regs", V.record)],
  // the live console
  consoleMode: [opt("args", V.array(V.str(4096), 0, 4096))],
  startConsole: [
    opt(
      "o",
      V.options({
        mode: V.oneOf(["ro", "rw"]),
        port: V.int(0, 65535),
        print: bool,
      }),
    ),
  ],
  stopConsole: none,
  // NVMe/TCP
  parseTcpName: [req("name", V.str(4096))],
  decodeDiscoveryLog: [req("b", bytesOf(1024))],
  discover: [req("t", tcpTarget)],
};

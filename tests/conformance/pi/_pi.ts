/**
 * Helpers of the end-to-end protection tests (NVM Command Set 1.0, 5.2
 * End-to-end Data Protection; 5.3 Metadata): what namespace 1 claims
 * (FLBAS, MC, DPC, DPS), the 16-bit guard (CRC-16 T10-DIF), protection
 * information tuples, and reads/writes with metadata whose completion is
 * returned whatever the status.
 *
 * @module
 */
import type { Buffer, Completion, Namespace, Qpair } from "../../../mod.ts";
import { completionOf, ioCmd, lbaFields } from "../_suite.ts";
import type { TestContext } from "../../../testing.ts";

/** Embedded device options of the protection tests (namespace 1). */
export const DEV = {
  /** PI type 1, 8 bytes of metadata in a separate buffer. */
  pi1: "size=16M,ms=8,pi=1",
  /** PI type 1, 8 bytes of metadata at the end of each LBA (extended LBA). */
  pi1x: "size=16M,ms=8,pi=1,mset=1",
  /** PI type 2, separate metadata. */
  pi2: "size=16M,ms=8,pi=2",
  /** PI type 3, separate metadata. */
  pi3: "size=16M,ms=8,pi=3",
  /** PI type 1 in the last 8 of 16 metadata bytes, separate. */
  pi1m16: "size=16M,ms=16,pi=1",
  /** 8 bytes of metadata without protection information. */
  md8: "size=16M,ms=8",
} as const;

/** PRINFO bits (CDW12 bits 29:26 as the driver's `prinfo`). */
export const PR = {
  PRACT: 8,
  GUARD: 4,
  APP: 2,
  REF: 1,
  ALL: 7,
} as const;

/** What namespace 1 claims about metadata and protection. */
export interface PiInfo {
  /** Metadata bytes per LBA of the format in use. */
  ms: number;
  /** Metadata at the end of each LBA (FLBAS bit 4) instead of a separate buffer. */
  ext: boolean;
  /** Protection type in use (DPS bits 2:0): 0 none, 1..3. */
  type: number;
  /** Protection information in the first 8 metadata bytes (DPS bit 3), else the last. */
  first: boolean;
  /** DPC: the types and positions the namespace supports. */
  dpc: number;
  /** MC: metadata capabilities (bit 0 extended, bit 1 separate). */
  mc: number;
  /** Bytes per LBA of data. */
  lba: number;
}

/** Decode what namespace `ns` claims. */
export function piInfo(ns: Namespace): PiInfo {
  const id = ns.identifyData;
  return {
    ms: ns.metadataSize,
    ext: !!(id[26] & 0x10),
    type: id[29] & 7,
    first: !!(id[29] & 8),
    dpc: id[28],
    mc: id[27],
    lba: ns.lbaSize,
  };
}

/**
 * The namespace's protection setting, or a skip with the reason when it is
 * not what the test needs.
 */
export function needPi(
  ns: Namespace,
  skip: TestContext["skip"],
  want: { type?: number | number[]; ext?: boolean; ms?: number; pi?: boolean },
): PiInfo {
  const p = piInfo(ns);
  const what = `namespace ${ns.nsid}: ${p.ms} metadata bytes${
    p.ms ? (p.ext ? " (extended LBA)" : " (separate buffer)") : ""
  }, protection type ${p.type || "none"}`;
  if (want.pi !== false && !p.type) {
    skip(`${what}: no end-to-end protection to test`);
  }
  if (want.pi === false && p.type) skip(`${what}: the test needs no PI`);
  if (want.pi === false && !p.ms) skip(`${what}: the test needs metadata`);
  const types = want.type === undefined
    ? undefined
    : Array.isArray(want.type)
    ? want.type
    : [want.type];
  if (types && !types.includes(p.type)) {
    skip(`${what}: the test needs protection type ${types.join(" or ")}`);
  }
  if (want.ext !== undefined && want.ext !== p.ext) {
    skip(
      `${what}: the test needs ${
        want.ext ? "extended LBAs" : "a separate metadata buffer"
      }`,
    );
  }
  if (want.ms !== undefined && want.ms !== p.ms) {
    skip(`${what}: the test needs ${want.ms} metadata bytes`);
  }
  return p;
}

const CRC_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let k = 0; k < 8; k++) {
      c = c & 0x8000 ? ((c << 1) ^ 0x8bb7) & 0xffff : (c << 1) & 0xffff;
    }
    t[i] = c;
  }
  return t;
})();

/** The 16-bit guard: CRC-16 with polynomial 8BB7h, initial value 0 (T10-DIF); `crc` continues one. */
export function crc16(data: Uint8Array, crc = 0): number {
  for (const b of data) crc = ((crc << 8) ^ CRC_TABLE[(crc >> 8) ^ b]) & 0xffff;
  return crc;
}

/** A protection information tuple (16-bit guard format). */
export interface Tuple {
  /** Guard (CRC-16 of the block's data). */
  guard: number;
  /** Application tag. */
  app: number;
  /** Reference tag. */
  ref: number;
}

/** Write a tuple (big-endian fields) at `at` of `b`. */
export function putTuple(b: Uint8Array, at: number, t: Tuple): void {
  const dv = new DataView(b.buffer, b.byteOffset + at, 8);
  dv.setUint16(0, t.guard);
  dv.setUint16(2, t.app);
  dv.setUint32(4, t.ref >>> 0);
}

/** Read a tuple at `at` of `b`. */
export function getTuple(b: Uint8Array, at: number): Tuple {
  const dv = new DataView(b.buffer, b.byteOffset + at, 8);
  return { guard: dv.getUint16(0), app: dv.getUint16(2), ref: dv.getUint32(4) };
}

/** Offset of the PI tuple inside one LBA's metadata. */
export function piOffset(p: PiInfo): number {
  return p.first ? 0 : p.ms - 8;
}

/** Options of a protected read or write. */
export interface PiIo {
  /** PRINFO (PR bits). */
  prinfo?: number;
  /** Initial reference tag (CDW14). */
  reftag?: number;
  /** Application tag. */
  apptag?: number;
  /** Application tag mask. */
  appmask?: number;
}

/**
 * Read or write `n` LBAs with separate metadata; returns the completion
 * whatever the status.
 */
export function sepIo(
  ns: Namespace,
  q: Qpair,
  op: "read" | "write",
  data: Buffer,
  meta: Buffer | undefined,
  lba: number,
  n: number,
  o: PiIo = {},
): Completion {
  return completionOf((cb) =>
    ns[op](q, data, lba, n, {
      meta,
      prinfo: o.prinfo ?? 0,
      reftag: o.reftag,
      apptag: o.apptag,
      appmask: o.appmask,
      cb,
    }).waitdone()
  );
}

/**
 * Read (02h) or write (01h) `n` LBAs of an extended-LBA namespace: `buf`
 * holds data and metadata interleaved (`len` bytes, by default n × (LBA +
 * MS)); returns the completion whatever the status.
 */
export function extIo(
  ns: Namespace,
  q: Qpair,
  opc: 0x01 | 0x02,
  buf: Buffer,
  lba: number,
  n: number,
  o: PiIo & { len?: number } = {},
): Completion {
  const f = lbaFields(lba, n, { buf, flags: (o.prinfo ?? 0) << 10 });
  return ioCmd(ns, q, opc, {
    ...f,
    len: o.len ?? n * (ns.lbaSize + ns.metadataSize),
    cdw14: o.reftag,
    cdw15: ((o.appmask ?? 0) << 16 | (o.apptag ?? 0)) >>> 0,
  });
}

/**
 * Fill `data` (n LBAs) with random bytes and `meta` with correct tuples
 * (type 1: reference tag = LBA; types 2/3: `ref0` + i, or `ref0` alone for
 * type 3); returns the tuples.
 */
export function fillProtected(
  p: PiInfo,
  rng: TestContext["rng"],
  data: Uint8Array,
  meta: Uint8Array,
  lba: number,
  n: number,
  app = 0x1234,
  ref0 = lba,
): Tuple[] {
  rng.fill(data.subarray(0, n * p.lba));
  rng.fill(meta.subarray(0, n * p.ms));
  const out: Tuple[] = [];
  const off = piOffset(p);
  for (let i = 0; i < n; i++) {
    // the guard covers the data and the metadata bytes before the tuple
    const t = {
      guard: crc16(
        meta.subarray(i * p.ms, i * p.ms + off),
        crc16(data.subarray(i * p.lba, (i + 1) * p.lba)),
      ),
      app,
      ref: (p.type === 3 ? ref0 : ref0 + i) >>> 0,
    };
    putTuple(meta, i * p.ms + off, t);
    out.push(t);
  }
  return out;
}

/**
 * The same for an extended-LBA buffer (data and metadata interleaved).
 */
export function fillExtended(
  p: PiInfo,
  rng: TestContext["rng"],
  buf: Uint8Array,
  lba: number,
  n: number,
  app = 0x1234,
): void {
  const stride = p.lba + p.ms;
  rng.fill(buf.subarray(0, n * stride));
  for (let i = 0; i < n; i++) {
    const blk = buf.subarray(i * stride, i * stride + p.lba + piOffset(p));
    putTuple(buf, i * stride + p.lba + piOffset(p), {
      guard: crc16(blk),
      app,
      ref: (p.type === 3 ? lba : lba + i) >>> 0,
    });
  }
}

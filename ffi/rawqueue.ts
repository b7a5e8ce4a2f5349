/**
 * Raw I/O queues for conformance tests (pynvme's `psd.py` IOSQ/IOCQ): the
 * script owns the rings, writes entries and doorbells itself and reads the
 * completion entries as the device wrote them — shared CQs, invalid doorbell
 * values, phase tags, SQHD, CID echo, PRP offsets are all scriptable. The
 * driver does not reap these queues.
 *
 * @module
 */
import { FUNCTIONS } from "./api_table.ts";
import { checkArgs } from "./validate.ts";
import { IOCQ, IOSQ } from "./api_table.ts";
import { Buffer } from "./buffer.ts";
import type { Controller } from "./controller.ts";
import { ClosedError, ParameterError } from "./errors.ts";
import { releaseQid, reserveQid } from "./qpair.ts";
import {
  checkConstructor,
  checkInt,
  checkU64,
  guardClass,
} from "./validate.ts";

/**
 * Fields of a 64-byte command for {@link sqe}.
 *
 * ```ts
 * import { Buffer } from "../mod.ts";
 * declare const buf: Buffer;
 * declare const sq: IoSQ;
 * const read: SqeFields = { opc: 0x02, cid: 1, nsid: 1, prp1: buf.iova, cdw: { 10: 0, 12: 7 } };
 * sq.set(0, sqe(read));
 * ```
 */
export interface SqeFields {
  /** Opcode. */
  opc: number;
  /** Fused operation (0 normal, 1 first, 2 second). */
  fuse?: number;
  /** PRP or SGL for data transfer (0 PRP). */
  psdt?: number;
  /** Command identifier. */
  cid?: number;
  /** Namespace identifier. */
  nsid?: number;
  /** Metadata pointer. */
  mptr?: bigint;
  /** Data pointer: PRP entry 1. */
  prp1?: bigint;
  /** Data pointer: PRP entry 2. */
  prp2?: bigint;
  /** Command dwords 2, 3 and 10..15 by index. */
  cdw?: Partial<Record<2 | 3 | 10 | 11 | 12 | 13 | 14 | 15, number>>;
}

/**
 * Build a 64-byte command as 16 dwords.
 *
 * ```ts
 * import { Buffer } from "../mod.ts";
 * declare const buf: Buffer;
 * declare const sq: IoSQ;
 * const cmd = sqe({ opc: 0x01, cid: 0x1234, nsid: 1, prp1: buf.iova, cdw: { 10: 100 } });
 * sq.set(0, cmd); // write LBA 100
 * sq.tail = 1;
 * ```
 */
export function sqe(f: SqeFields): Uint32Array {
  checkArgs("sqe", FUNCTIONS.sqe, [f]);
  const dw = new Uint32Array(16);
  const dv = new DataView(dw.buffer);
  dw[0] = (checkInt("opc", f.opc, 0, 0xff) |
    checkInt("fuse", f.fuse ?? 0, 0, 3) << 8 |
    checkInt("psdt", f.psdt ?? 0, 0, 3) << 14 |
    checkInt("cid", f.cid ?? 0, 0, 0xffff) << 16) >>> 0;
  dw[1] = checkInt("nsid", f.nsid ?? 0, 0, 0xffffffff);
  dv.setBigUint64(16, checkU64("mptr", f.mptr ?? 0n), true);
  dv.setBigUint64(24, checkU64("prp1", f.prp1 ?? 0n), true);
  dv.setBigUint64(32, checkU64("prp2", f.prp2 ?? 0n), true);
  for (const [k, v] of Object.entries(f.cdw ?? {})) {
    const i = Number(k);
    if (![2, 3, 10, 11, 12, 13, 14, 15].includes(i)) {
      throw new ParameterError(`cdw index ${k}: allowed 2, 3, 10..15`);
    }
    dw[i] = checkInt(`cdw${i}`, v, 0, 0xffffffff);
  }
  return dw;
}

/**
 * A decoded completion queue entry of a raw CQ.
 *
 * ```ts
 * declare const cq: IoCQ;
 * const e: RawCqe | undefined = cq.waitEntry(0, 1); // phase tag 1: the first pass
 * if (e) console.log(e.sqid, e.cid, e.sqhd, e.status);
 * ```
 */
export interface RawCqe {
  /** DW0. */
  cdw0: number;
  /** SQ head pointer. */
  sqhd: number;
  /** SQ identifier. */
  sqid: number;
  /** Command identifier. */
  cid: number;
  /** Phase tag. */
  p: number;
  /** Status field without the phase tag (SC | SCT << 8 | CRD << 11 | M << 13 | DNR << 14). */
  status: number;
  /** Status Code. */
  sc: number;
  /** Status Code Type. */
  sct: number;
  /** Do Not Retry. */
  dnr: number;
}

/**
 * What raw submission and completion queues share: id, size, ring, doorbells.
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * const queues: RawQueue[] = [new IoCQ(nvme0, 5, 16)];
 * queues.push(new IoSQ(nvme0, 5, 16, queues[0] as IoCQ));
 * console.log(queues.map((q) => `qid ${q.qid}, ${q.qsize} entries`));
 * ```
 */
export abstract class RawQueue {
  /** The controller. */
  readonly ctrl: Controller;
  /** Queue identifier. */
  readonly qid: number;
  /** Entries. */
  readonly qsize: number;
  /** The ring memory (page aligned unless the caller chose an offset). */
  readonly ring: Buffer;
  #ownsRing: boolean;
  #reserved: boolean;
  #deleted = false;

  /**
   * Reserve `qid` and take (or allocate) the ring of `qsize` entries of
   * `entry` bytes. With `illegal`, QID 0 and 1-entry queues are let through
   * (sent to the device as given, for its own status to be tested).
   */
  constructor(
    nvme: Controller,
    qid: number,
    qsize: number,
    entry: number,
    ring?: Buffer,
    illegal = false,
  ) {
    this.ctrl = nvme;
    this.qid = checkInt("qid", qid, illegal ? 0 : 1, 0xffff);
    this.qsize = checkInt("qsize", qsize, illegal ? 1 : 2, 65536);
    this.#ownsRing = !ring;
    this.ring = ring ?? new Buffer(qsize * entry, `q${qid} ring`);
    if (this.ring.size < qsize * entry) {
      throw new ParameterError(
        `ring buffer "${this.ring.name}" too small: ${qsize} entries need ${
          qsize * entry
        } bytes`,
      );
    }
    // (QID 0 is the admin queue's: never reserved for a raw queue)
    this.#reserved = qid !== 0 && reserveQid(nvme, qid);
  }

  /** Send the create command; when the device refuses it, give back the id and the ring. */
  protected create(opc: number, o: Parameters<Controller["exec"]>[1]): void {
    try {
      this.ctrl.exec(opc, o);
    } catch (e) {
      this.#deleted = true;
      if (this.#reserved) releaseQid(this.ctrl, this.qid);
      if (this.#ownsRing) this.ring.close();
      throw e;
    }
  }

  /** Throws ClosedError after delete(). */
  protected check(): void {
    if (this.#deleted) throw new ClosedError(`raw queue ${this.qid}`);
  }

  /** Offset of this queue's SQ tail (or CQ head) doorbell. */
  protected doorbell(cq: boolean): number {
    const stride = 4 << Number((this.ctrl.cap >> 32n) & 0xfn);
    return 0x1000 + (2 * this.qid + (cq ? 1 : 0)) * stride;
  }

  /** Send the delete command (`opc`) and free the ring. */
  protected remove(opc: number): void {
    if (this.#deleted) return;
    this.ctrl.exec(opc, { cdw10: this.qid }); // a refusal leaves the queue as it is
    this.#deleted = true;
    if (this.#reserved) releaseQid(this.ctrl, this.qid);
    if (this.#ownsRing) this.ring.close();
  }
}

/**
 * A raw I/O completion queue (pynvme psd `IOCQ`).
 *
 * ```ts
 * import { Buffer, Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * declare const buf: Buffer;
 * const cq = new IoCQ(nvme0, 3, 16); // qid 3, 16 entries, vector 0, interrupts off (polled)
 * const sq = new IoSQ(nvme0, 3, 16, cq);
 * sq.set(0, sqe({ opc: 0x02, cid: 1, nsid: 1, prp1: buf.iova }));
 * sq.tail = 1;
 * const e = cq.waitEntry(0, 1);
 * cq.head = 1;
 * sq.delete();
 * cq.delete();
 * ```
 */
export class IoCQ extends RawQueue {
  /** Interrupt vector. */
  readonly iv: number;

  /**
   * Create I/O Completion Queue `qid` of `qsize` entries on the device.
   * @param o.pc physically contiguous (default true)
   * @param o.ring ring memory (default: a new buffer); its `offset` is used as PRP1
   * @param o.prp1 explicit PRP1 instead of the ring's address
   * @param o.illegal send QID 0 or a 1-entry queue as asked (pynvme's IOCQ
   *   sends any value): the device's status is what the test checks
   */
  constructor(
    nvme: Controller,
    qid: number,
    qsize: number,
    o: {
      iv?: number;
      ien?: boolean;
      pc?: boolean;
      ring?: Buffer;
      prp1?: bigint;
      illegal?: boolean;
    } = {},
  ) {
    checkConstructor("IoCQ", IOCQ, [nvme, qid, qsize, o]);
    super(nvme, qid, qsize, 16, o.ring, o.illegal);
    this.iv = checkInt("iv", o.iv ?? 0, 0, 0xffff);
    this.create(0x05, {
      prp1: o.prp1 ?? this.ring.iova,
      prp2: 0n,
      cdw10: ((qsize - 1) << 16 | qid) >>> 0,
      cdw11: (this.iv << 16 | (o.ien ? 2 : 0) | (o.pc ?? true ? 1 : 0)) >>> 0,
    });
  }

  /**
   * Entry `i` as the device wrote it.
   *
   * ```ts
   * declare const cq: IoCQ;
   * const e = cq.get(0);
   * console.log(e.p, e.cid, e.sqhd); // phase tag, CID, SQ head
   * ```
   */
  get(i: number): RawCqe {
    this.check();
    checkInt("index", i, 0, this.qsize - 1);
    const b = this.ring;
    const at = b.offset + i * 16;
    const dw3 = b.u32(at + 12);
    const status = dw3 >>> 17;
    return {
      cdw0: b.u32(at),
      sqhd: b.u32(at + 8) & 0xffff,
      sqid: b.u32(at + 8) >>> 16,
      cid: dw3 & 0xffff,
      p: (dw3 >>> 16) & 1,
      status,
      sc: status & 0xff,
      sct: (status >> 8) & 7,
      dnr: (status >> 14) & 1,
    };
  }

  /**
   * Write the CQ head doorbell (any value: invalid ones included).
   *
   * ```ts
   * declare const cq: IoCQ;
   * cq.head = 1; // entry 0 consumed
   * cq.head = cq.qsize; // an invalid value: the device reports an AER
   * ```
   */
  set head(v: number) {
    this.check();
    this.ctrl.setReg32(this.doorbell(true), checkInt("head", v, 0, 0xffffffff));
  }

  /**
   * Wait until entry `i` has phase tag `phase` (a new completion) or `ms`
   * passes; returns the entry or undefined.
   *
   * ```ts
   * declare const sq: IoSQ;
   * declare const cq: IoCQ;
   * sq.tail = 1;
   * const e = cq.waitEntry(0, 1, 1000);
   * if (!e) throw new Error("no completion within 1 s");
   * ```
   */
  waitEntry(i: number, phase: number, ms = 2000): RawCqe | undefined {
    const end = Date.now() + ms;
    for (;;) {
      const e = this.get(i);
      if (e.p === phase) return e;
      if (Date.now() > end) return undefined;
      this.ctrl.reg32(0x1c); // flushes pending doorbells; lets time pass
    }
  }

  /**
   * Delete I/O Completion Queue (04h); throws on a non-zero status.
   *
   * ```ts
   * declare const sq: IoSQ;
   * declare const cq: IoCQ;
   * sq.delete(); // its SQs first
   * cq.delete();
   * ```
   */
  delete(): void {
    this.remove(0x04);
  }
  /** Same as delete(), for `using`. */
  [Symbol.dispose](): void {
    try {
      this.delete();
    } catch { /* the device may be gone */ }
  }
}

/**
 * A raw I/O submission queue (pynvme psd `IOSQ`).
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * const cq = new IoCQ(nvme0, 4, 8);
 * const sqA = new IoSQ(nvme0, 4, 8, cq), sqB = new IoSQ(nvme0, 5, 8, cq); // two SQs, one CQ
 * sqA.set(0, sqe({ opc: 0x00, cid: 7, nsid: 1 })); // flush
 * sqA.tail = 1;
 * ```
 */
export class IoSQ extends RawQueue {
  /** The completion queue id it posts to. */
  readonly cqid: number;

  /**
   * Create I/O Submission Queue `qid` of `qsize` entries posting to `cq`.
   * @param o.prio queue priority (weighted round robin)
   * @param o.pc physically contiguous (default true)
   * @param o.illegal send QID 0 or a 1-entry queue as asked: the device's
   *   status is what the test checks
   */
  constructor(
    nvme: Controller,
    qid: number,
    qsize: number,
    cq: IoCQ | number,
    o: {
      prio?: number;
      pc?: boolean;
      ring?: Buffer;
      prp1?: bigint;
      illegal?: boolean;
    } = {},
  ) {
    checkConstructor("IoSQ", IOSQ, [nvme, qid, qsize, cq, o]);
    super(nvme, qid, qsize, 64, o.ring, o.illegal);
    this.cqid = typeof cq === "number"
      ? checkInt("cqid", cq, 0, 0xffff)
      : cq.qid;
    const prio = checkInt("prio", o.prio ?? 0, 0, 3);
    this.create(0x01, {
      prp1: o.prp1 ?? this.ring.iova,
      prp2: 0n,
      cdw10: ((qsize - 1) << 16 | qid) >>> 0,
      cdw11: (this.cqid << 16 | prio << 1 | (o.pc ?? true ? 1 : 0)) >>> 0,
    });
  }

  /**
   * Write entry `i` (16 dwords, see {@link sqe}).
   *
   * ```ts
   * import { Buffer } from "../mod.ts";
   * declare const buf: Buffer;
   * declare const sq: IoSQ;
   * sq.set(0, sqe({ opc: 0x00, cid: 1, nsid: 1 })); // flush
   * sq.set(1, sqe({ opc: 0x02, cid: 2, nsid: 1, prp1: buf.iova }));
   * sq.tail = 2;
   * ```
   */
  set(i: number, cmd: Uint32Array | number[]): void {
    this.check();
    checkInt("index", i, 0, this.qsize - 1);
    if (cmd.length !== 16) throw new ParameterError("a command is 16 dwords");
    const dv = new DataView(this.ring.bytes.buffer, this.ring.bytes.byteOffset);
    const at = this.ring.offset + i * 64;
    for (let k = 0; k < 16; k++) dv.setUint32(at + k * 4, cmd[k] >>> 0, true);
  }

  /**
   * Write the SQ tail doorbell (any value: invalid ones included).
   *
   * ```ts
   * declare const sq: IoSQ;
   * sq.tail = 1; // submit entry 0
   * ```
   */
  set tail(v: number) {
    this.check();
    this.ctrl.setReg32(
      this.doorbell(false),
      checkInt("tail", v, 0, 0xffffffff),
    );
  }

  /**
   * Delete I/O Submission Queue (00h); throws on a non-zero status.
   *
   * ```ts
   * declare const sq: IoSQ;
   * declare const cq: IoCQ;
   * sq.delete();
   * cq.delete();
   * ```
   */
  delete(): void {
    this.remove(0x00);
  }
  /** Same as delete(), for `using`. */
  [Symbol.dispose](): void {
    try {
      this.delete();
    } catch { /* the device may be gone */ }
  }
}

guardClass(IoCQ, IOCQ);
guardClass(IoSQ, IOSQ);

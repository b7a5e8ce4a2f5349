/**
 * The submission/completion engine shared by the admin queue and every Qpair:
 * command submission with callbacks, reaping, `waitdone` (sync and async),
 * status errors and timeouts.
 *
 * @module
 */
import type { Buffer } from "./buffer.ts";
import {
  Completion,
  CPL_GONE,
  CPL_LATE,
  CPL_TIMEOUT,
  CPL_UNKNOWN,
  CPL_VERIFY,
} from "./completion.ts";
import {
  ClosedError,
  CommandTimeoutError,
  DeviceGoneError,
  NvmeError,
  ParameterError,
  StatusError,
  VerifyError,
  WaitdoneTimeoutError,
} from "./errors.ts";
import { lastError, lib, unwrap } from "./lib.ts";
import { describeVerifyFailure, readVerifyFailure } from "./verify.ts";
import { commandName } from "./status.ts";
import { matchExpected } from "./expect.ts";
import { Cmdlog } from "./cmdlog.ts";
import { consoleNote } from "../console/registry.ts";
import { checkInt } from "./validate.ts";
import {
  NVME_CPL,
  NVME_SUBMIT_NO_STAMP,
  NVME_SUBMIT_NO_TIMEOUT,
  NVME_SUBMIT_RAW_PRP,
  NVME_SUBMIT_SGL,
} from "./abi.gen.ts";

/** struct nvme_cpl as 32-bit words: the CQE, then the driver's fields. */
/** Command scratch slots of CommandQueue.command(), used round robin. */
const SQE_SCRATCH = 16;
const scratchBytes = new ArrayBuffer(64 * SQE_SCRATCH);
const scratch = Array.from({ length: SQE_SCRATCH }, (_, i) => ({
  sqe: new Uint8Array(scratchBytes, i * 64, 64),
  dv: new DataView(scratchBytes, i * 64, 64),
}));
let scratchNext = 0;

const CPL_WORDS = NVME_CPL.sizeof / 4;
const W_TAG = NVME_CPL.tag / 4;
const W_LATENCY = NVME_CPL.latency_us / 4;
const W_FLAGS = NVME_CPL.flags / 4;
const W_SQH = NVME_CPL.sq_handle / 4;

import {
  callCallback,
  checkCallback,
  type CommandCallback,
} from "./callback.ts";
export type { CommandCallback };

/** C submit flag: keep PRP1/PRP2 as given (NVME_SUBMIT_RAW_PRP). */
export const SUBMIT_RAW_PRP = NVME_SUBMIT_RAW_PRP;
/** Never time out (AER). */
export const SUBMIT_NO_TIMEOUT = NVME_SUBMIT_NO_TIMEOUT;
/** Describe the data with an SGL Data Block descriptor instead of PRPs. */
export const SUBMIT_SGL = NVME_SUBMIT_SGL;
/** Verification on: write the data as it is, without the LBA/token stamp. */
export const SUBMIT_NO_STAMP = NVME_SUBMIT_NO_STAMP;

/** Options of one submission. */
export interface SubmitOptions {
  /** Data buffer. */
  buf?: Buffer;
  /** Transfer length in bytes (default: none). */
  len?: number;
  /** Callback with the completion. */
  cb?: CommandCallback;
  /** SUBMIT_* flags. */
  flags?: number;
  /**
   * Extra text for messages, e.g. "lba 0x10 count 8"; a function is called
   * only when a message needs it (nothing formatted per command).
   */
  detail?: string | (() => string);
  /** Asynchronous Event Request: not counted by waitdone, handled by the owner. */
  aer?: boolean;
  /** Separate metadata buffer: MPTR points at its `offset`, `metaLen` bytes. */
  meta?: Buffer;
  /** Metadata bytes the command transfers. */
  metaLen?: number;
}

/** A free command record. */
function freePending(): Pending {
  return {
    tag: 0,
    opcode: 0,
    cb: undefined,
    detail: undefined,
    aer: false,
    internal: undefined,
    buf: undefined,
    meta: undefined,
    describe: undefined,
    lba: 0,
    count: 0,
  };
}

/**
 * @ignore @internal Describes an LBA command for messages ("lba 8 count 8"), called
 * only when a message needs it: one function per namespace, not a closure per
 * command.
 */
export type DescribeLbas = (lba: number | bigint, count: number) => string;

/**
 * One command in flight (every field always set: one object shape). Kept per
 * CID and reused by the next command on that CID; `tag` 0 marks it free.
 */
interface Pending {
  tag: number;
  opcode: number;
  cb: CommandCallback | undefined;
  detail: string | (() => string) | undefined;
  aer: boolean;
  internal: ((cpl: Completion, p: Pending) => void) | undefined;
  buf: Buffer | undefined; // kept reachable while the device may DMA into it
  meta: Buffer | undefined;
  describe: DescribeLbas | undefined;
  lba: number | bigint;
  count: number;
}

/**
 * What the queue needs from its controller ({@link Controller} implements it).
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * const owner: QueueOwner = nvme0;
 * console.log(`command timeout ${owner.timeout} ms`);
 * ```
 */
export interface QueueOwner {
  /** Controller handle. */
  readonly ctrlHandle: number;
  /** Command timeout in ms (0: none). */
  readonly timeout: number;
  /** Write pending doorbells at the end of the current synchronous burst. */
  scheduleFlush(): void;
  /** AER completion handler (admin queue only). */
  onAer?(cpl: Completion, pending: { cb?: CommandCallback }): void;
  /** Why the device is gone, when the transport knows (NVMe/TCP), else "". */
  goneReason?(): string;
}

const EAGAIN = -11;
const BATCH = 256;
/** Longest wait in C per reap of a synchronous wait, in µs. */
const WAIT_US = 1000;

/**
 * @ignore @internal Observer of queue creation: the test harness (testing/) sets it to
 * log every queue's cmdlog; called once per queue, never per command.
 */
export const queueObserver: { created?: (q: CommandQueue) => void } = {};

/** A submission queue with its completion queue, as seen by scripts. */
export class CommandQueue {
  /** Queue identifier (0: admin). */
  readonly qid: number;
  /** Entries in the submission queue. */
  readonly depth: number;
  /** "admin queue" or "Qpair 3", for messages. */
  readonly label: string;
  /** True for the admin queue (decides command names). */
  readonly admin: boolean;
  #owner: QueueOwner;
  #sq: number;
  #cq: number;
  /** Commands in flight by CID (records reused: nothing allocated per command). */
  #slots: (Pending | undefined)[] = [];
  /**
   * Commands whose CID was given out again before their completion record was
   * handled (a callback earlier in the same reap submitted a command), by tag.
   */
  #orphans = new Map<number, Pending>();
  #inflight = 0;
  #aers = 0;
  #tag = 0;
  #done = 0;
  #lastCdw0 = 0;
  #errors: Error[] = [];
  #out = new Uint8Array(NVME_CPL.sizeof * BATCH);
  #out32 = new Uint32Array(this.#out.buffer);
  #closed = false;
  #inCallback = false;
  /** Completion records of #out are being handled (callbacks may reap again). */
  #reaping = false;
  #latest?: Completion;
  /** dwords 0..3, latency, flags, opcode of the latest completion not made an object yet */
  #latestRaw = new Uint32Array(7);
  #latestPending = false;
  /** The latest completion reaped (any command); made only when asked for. */
  get latest(): Completion | undefined {
    if (this.#latestPending) {
      const r = this.#latestRaw;
      this.#latest = new Completion([r[0], r[1], r[2], r[3]], r[4], r[5], r[6]);
      this.#latestPending = false;
    }
    return this.#latest;
  }
  /** The command log of this queue (kept, as a copy, after the queue is deleted). */
  readonly log: Cmdlog;

  /** @ignore @internal Wrap C queues already created. */
  constructor(
    owner: QueueOwner,
    qid: number,
    depth: number,
    sq: number,
    cq: number,
    label: string,
  ) {
    this.#owner = owner;
    this.qid = qid;
    this.depth = depth;
    this.#sq = sq;
    this.#cq = cq;
    this.label = label;
    this.admin = qid === 0;
    this.log = new Cmdlog(sq, qid, this.admin);
    queueObserver.created?.(this);
    consoleNote({
      kind: "queue",
      ctrl: owner.ctrlHandle,
      qid,
      sq,
      cq,
      depth,
      label,
    });
  }

  /** Commands submitted and not yet completed (AERs excluded). */
  get outstanding(): number {
    return this.#inflight - this.#aers;
  }
  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }
  /** @ignore @internal C handles. */
  get handles(): { sq: number; cq: number } {
    this.#check();
    return { sq: this.#sq, cq: this.#cq };
  }

  #check(): void {
    if (this.#closed) throw new ClosedError(this.label);
  }

  /**
   * Submit a 64-byte command. The CID and data pointer are filled in by the
   * driver. When the queue is full, completions are reaped (their callbacks
   * run, and they count for the next waitdone) until a slot frees up.
   * @returns the CID
   */
  submit(sqe: Uint8Array, o: SubmitOptions = {}): number {
    this.#check();
    if (o.cb !== undefined && o.cb !== null) checkCallback(o.cb);
    const len = o.len ?? 0;
    if (o.buf) {
      o.buf.handle; // a closed buffer: its own ClosedError first
      if (len > o.buf.size) {
        throw new ParameterError(
          `buffer "${o.buf.name}" too small: the command transfers ${len} bytes, the buffer has ${o.buf.size} (size ${o.buf.size} at offset ${o.buf.offset})`,
        );
      }
    } else if (len && !((o.flags ?? 0) & SUBMIT_RAW_PRP)) {
      throw new ParameterError(`a ${len}-byte transfer needs a buffer`);
    }
    return this.#post(
      sqe,
      o.buf,
      len,
      o.meta,
      o.metaLen ?? 0,
      o.cb ?? undefined,
      o.flags ?? 0,
      o.detail,
      o.aer === true,
      undefined,
      0,
      0,
    );
  }

  /**
   * @ignore @internal The I/O commands' submission: {@link CommandQueue.submit}
   * without an options object, for a command whose transfer was checked by the
   * caller (`len` within `buf`); `describe(lba, count)` names it in messages.
   */
  submitIo(
    sqe: Uint8Array,
    buf: Buffer | undefined,
    len: number,
    meta: Buffer | undefined,
    metaLen: number,
    cb: CommandCallback | undefined,
    flags: number,
    describe: DescribeLbas,
    lba: number | bigint,
    count: number,
  ): number {
    this.#check();
    if (cb !== undefined) checkCallback(cb);
    return this.#post(
      sqe,
      buf,
      len,
      meta,
      metaLen,
      cb,
      flags,
      undefined,
      false,
      describe,
      lba,
      count,
    );
  }

  /** Post one command (one C call unless the queue is full) and track it. */
  #post(
    sqe: Uint8Array,
    buf: Buffer | undefined,
    len: number,
    meta: Buffer | undefined,
    metaLen: number,
    cb: CommandCallback | undefined,
    flags: number,
    detail: string | (() => string) | undefined,
    aer: boolean,
    describe: DescribeLbas | undefined,
    lba: number | bigint,
    count: number,
  ): number {
    const tag = this.#tag = (this.#tag + 1) >>> 0 || 1;
    const bufHandle = buf ? buf.handle : 0;
    const off = buf ? buf.offset : 0;
    const opcode = sqe[0];
    let cid = meta
      ? lib.nvme_sq_submit_meta(
        this.#sq,
        sqe,
        64,
        bufHandle,
        off,
        len,
        meta.handle,
        meta.offset,
        metaLen,
        tag,
        flags,
      )
      : lib.nvme_sq_submit_cmd(
        this.#sq,
        sqe,
        64,
        bufHandle,
        off,
        len,
        tag,
        flags,
      );
    if (cid < 0) {
      cid = this.#postWaiting(
        cid,
        sqe,
        bufHandle,
        off,
        len,
        meta,
        metaLen,
        tag,
        flags,
      );
    }
    let p = this.#slots[cid];
    if (p === undefined) p = this.#slots[cid] = freePending();
    else if (p.tag !== 0) {
      // its completion was reaped in this batch and not handled yet: keep it by tag
      this.#orphans.set(p.tag, p);
      p = this.#slots[cid] = freePending();
    }
    p.tag = tag;
    p.opcode = opcode;
    p.cb = cb;
    p.detail = detail;
    p.aer = aer;
    p.internal = undefined;
    p.buf = buf;
    p.meta = meta;
    p.describe = describe;
    p.lba = lba;
    p.count = count;
    this.#inflight++;
    if (aer) this.#aers++;
    this.#owner.scheduleFlush();
    return cid;
  }

  /**
   * The submission found no room (queue full, or LBAs locked by a command in
   * flight under data verification): reap until it goes in. Other errors throw.
   */
  #postWaiting(
    rc: number,
    sqe: Uint8Array,
    bufHandle: number,
    off: number,
    len: number,
    meta: Buffer | undefined,
    metaLen: number,
    tag: number,
    flags: number,
  ): number {
    let cid = -1;
    let locked = "";
    const failed = (rc: number): boolean => {
      if (rc >= 0) {
        cid = rc;
        return false;
      }
      if (rc !== EAGAIN) {
        unwrap(rc, `${this.label}: ${this.#name(sqe[0])}`);
      }
      // queue full, or LBAs locked by a command in flight (data verification): make room
      locked = this.#inflight < this.depth - 1 ? lastError() : "";
      return true;
    };
    if (!failed(rc)) return cid;
    // callbacks run while waiting may build commands: keep this one's bytes
    const cmd = sqe.slice();
    this.#wait(
      () =>
        !failed(
          meta
            ? lib.nvme_sq_submit_meta(
              this.#sq,
              cmd,
              64,
              bufHandle,
              off,
              len,
              meta.handle,
              meta.offset,
              metaLen,
              tag,
              flags,
            )
            : lib.nvme_sq_submit_cmd(
              this.#sq,
              cmd,
              64,
              bufHandle,
              off,
              len,
              tag,
              flags,
            ),
        ),
      () =>
        locked
          ? `${this.label}: ${locked}; nothing completed within ${this.#guardMs()} ms`
          : `${this.label} is full (${this.depth} entries) and nothing completed within ${this.#guardMs()} ms`,
    );
    return cid;
  }

  /**
   * The one wait loop of the queue: reap completions until `done()`; each
   * time nothing completed, give up with `giveUp()` past the guard deadline,
   * else yield so that the caller blocks on the completion queue (synchronously
   * or not). `each` runs before every reap.
   */
  *#polls(
    done: () => boolean,
    giveUp: () => string,
    each?: () => void,
  ): Generator<void> {
    const deadline = Date.now() + this.#guardMs();
    while (!done()) {
      each?.();
      if (this.process() === 0 && !done()) {
        if (Date.now() > deadline) throw new WaitdoneTimeoutError(giveUp());
        yield;
      }
    }
  }

  /**
   * {@link CommandQueue.#polls}, blocking in C: each reap that finds nothing
   * waits there (up to 1 ms) and reaps again, in the same call.
   */
  #wait(done: () => boolean, giveUp: () => string, each?: () => void): void {
    const deadline = Date.now() + this.#guardMs();
    while (!done()) {
      each?.();
      if (
        this.#reapWait(WAIT_US) === 0 && !done() && Date.now() > deadline
      ) throw new WaitdoneTimeoutError(giveUp());
    }
  }

  /**
   * @ignore @internal Submit and wait for this one command (other completions are
   * processed and counted as usual). Throws StatusError on a non-zero status
   * unless `allowError`.
   */
  execSync(
    sqe: Uint8Array,
    o: SubmitOptions = {},
    allowError = false,
  ): Completion {
    let got: Completion | undefined;
    let failure: Error | undefined;
    const cid = this.submit(sqe, o);
    this.#slots[cid]!.internal = (c, p) => {
      got = c;
      if (!allowError && !c.ok) failure = this.#statusError(c, p);
    };
    this.#wait(
      () => got !== undefined,
      () => `${this.label}: cid ${cid} never completed`,
    );
    if (failure) throw failure;
    return got!;
  }

  /**
   * Reap available completions: run callbacks, count them for waitdone.
   * @returns completions reaped that count for waitdone
   */
  process(): number {
    this.#check();
    const out = this.#reaping ? new Uint8Array(this.#out.length) : this.#out;
    return this.#handle(
      unwrap(lib.nvme_cq_reap(this.#cq, out, BATCH), this.label),
      out === this.#out ? this.#out32 : new Uint32Array(out.buffer),
    );
  }

  /**
   * {@link CommandQueue.process} that, when nothing is there, waits in C up
   * to `us` microseconds and reaps again: one call.
   */
  #reapWait(us: number): number {
    this.#check();
    if (this.#reaping) {
      // a callback waits for room in a full queue: #out is still being read
      const out = new Uint8Array(this.#out.length);
      return this.#handle(
        unwrap(lib.nvme_cq_reap_wait(this.#cq, out, BATCH, us), this.label),
        new Uint32Array(out.buffer),
      );
    }
    return this.#handle(
      unwrap(
        lib.nvme_cq_reap_wait(this.#cq, this.#out, BATCH, us),
        this.label,
      ),
      this.#out32,
    );
  }

  /** Handle `n` completion records reaped into `o`. */
  #handle(n: number, o: Uint32Array): number {
    const was = this.#reaping;
    this.#reaping = true;
    try {
      return this.#records(n, o);
    } finally {
      this.#reaping = was;
    }
  }

  #records(n: number, o: Uint32Array): number {
    let counted = 0;
    for (let i = 0; i < n; i++) {
      const b = i * CPL_WORDS;
      const flags = o[b + W_FLAGS];
      const tag = o[b + W_TAG];
      if (flags & (CPL_LATE | CPL_UNKNOWN)) {
        // a late answer to a timed-out command, or a stray CQE: nobody waits for it
        continue;
      }
      const slot = this.#find(o[b + 3] & 0xffff, tag);
      if (slot === undefined) continue;
      const failed = ((o[b + 3] >>> 17) & 0x7ff) !== 0 ||
        (flags & CPL_VERIFY) !== 0;
      if (!failed && !slot.aer && slot.internal === undefined) {
        // a successful IO: no object unless a callback takes it (nothing allocated per command)
        const cb = slot.cb;
        const r = this.#latestRaw;
        r[0] = o[b], r[1] = o[b + 1], r[2] = o[b + 2], r[3] = o[b + 3];
        r[4] = o[b + W_LATENCY], r[5] = flags, r[6] = slot.opcode;
        this.#free(slot);
        this.#latestPending = true;
        counted++;
        this.#done++;
        this.#lastCdw0 = o[b];
        if (cb) this.#callback(cb, this.latest!);
        continue;
      }
      // the slot is reused by the next command on this CID: handle a copy
      const p = { ...slot };
      this.#free(slot);
      const cpl = new Completion(
        [o[b], o[b + 1], o[b + 2], o[b + 3]],
        o[b + W_LATENCY],
        flags,
        p.opcode,
        flags & CPL_VERIFY ? readVerifyFailure(o[b + W_SQH], tag) : undefined,
      );
      this.#latest = cpl;
      this.#latestPending = false;
      if (p.aer) {
        this.#aers--;
        // an AER that fails (e.g. 01/05 limit exceeded) is reported at the next
        // waitdone; 00/08 (aborted by queue deletion) and lost AERs are silent
        const aborted = cpl.sct === 0 && cpl.sc === 0x08;
        if (!cpl.ok && !aborted && !(flags & CPL_GONE) && !matchExpected(cpl)) {
          this.#errors.push(this.#statusError(cpl, p));
        }
        try {
          this.#owner.onAer?.(cpl, p);
        } catch (e) {
          this.#errors.push(e as Error); // a failing AER callback fails the next waitdone
        }
        continue;
      }
      if (p.internal) {
        p.internal(cpl, p);
        continue;
      }
      counted++;
      this.#done++;
      this.#lastCdw0 = cpl.cdw0;
      if (!cpl.ok) {
        const err = this.#statusError(cpl, p);
        if (!matchExpected(cpl)) this.#errors.push(err);
      }
      if (p.cb) this.#callback(p.cb, cpl);
    }
    return counted;
  }

  /** The command in flight with this CID and tag, if any. */
  #find(cid: number, tag: number): Pending | undefined {
    const p = this.#slots[cid];
    if (p !== undefined && p.tag === tag) return p;
    if (this.#orphans.size === 0) return undefined;
    const o = this.#orphans.get(tag);
    if (o) this.#orphans.delete(tag);
    return o;
  }

  /** A command is over: its slot is free for the next one on its CID. */
  #free(p: Pending): void {
    p.tag = 0;
    p.cb = undefined;
    p.detail = undefined;
    p.internal = undefined;
    p.buf = undefined;
    p.meta = undefined;
    p.describe = undefined;
    p.lba = 0;
    this.#inflight--;
  }

  #callback(cb: CommandCallback, cpl: Completion): void {
    const was = this.#inCallback;
    this.#inCallback = true;
    try {
      callCallback(cb, cpl);
    } catch (e) {
      this.#errors.push(e as Error);
    } finally {
      this.#inCallback = was;
    }
  }

  #name(opcode: number): string {
    return commandName(opcode, this.admin);
  }

  #statusError(cpl: Completion, p: Pending): Error {
    const detail = p.describe
      ? p.describe(p.lba, p.count)
      : typeof p.detail === "function"
      ? p.detail()
      : p.detail;
    const what = `${this.#name(p.opcode)}${detail ? ` ${detail}` : ""}`;
    const where = `cid ${cpl.cid}, sqid ${this.qid}`;
    if (cpl.flags & CPL_TIMEOUT) {
      return new CommandTimeoutError(
        `ERROR status: 07/ff command timeout: ${what} (${where}) did not complete within ${this.#owner.timeout} ms`,
        cpl,
      );
    }
    if (cpl.flags & CPL_GONE) {
      const why = this.#owner.goneReason?.() ?? "";
      const e = new DeviceGoneError(
        `ERROR status: 07/ff ${what} (${where}) lost: the device is gone or the queue was reset${
          why ? ` (${why})` : ""
        }`,
      );
      return Object.assign(e, { completion: cpl });
    }
    if (cpl.flags & CPL_VERIFY) {
      const text = `ERROR status: ${cpl.statusText} Data Verification Failed: ${
        cpl.verify
          ? describeVerifyFailure(cpl.verify)
          : "(the report is no longer kept)"
      } (${what}, ${where})`;
      return cpl.verify
        ? new VerifyError(text, cpl, cpl.verify)
        : new StatusError(text, cpl);
    }
    return new StatusError(
      `ERROR status: ${cpl.statusText} ${cpl.statusName} (${what}, ${where}${
        cpl.dnr ? ", DNR" : ""
      })`,
      cpl,
    );
  }

  #guardMs(): number {
    // the C side times every command out; this only guards against a stuck loop
    return (this.#owner.timeout || 60_000) + 5_000;
  }

  #take(expected: number): number {
    this.#done -= expected;
    const errs = this.#errors;
    if (errs.length) {
      this.#errors = [];
      const first = errs[0];
      if (errs.length > 1) {
        first.message += ` (and ${errs.length - 1} more errors)`;
      }
      throw first;
    }
    return this.#lastCdw0;
  }

  #checkWait(expected: number): void {
    this.#check();
    checkInt("expected", expected, 0, 0xffff_ffff);
    if (this.#inCallback) {
      throw new NvmeError(
        "waitdone() cannot be called from a command callback",
      );
    }
  }

  #stuck(expected: number): void {
    // callbacks may submit more, so only an empty queue proves a hang
    if (this.outstanding === 0 && this.#done < expected) {
      const had = this.#done;
      throw new NvmeError(
        `${this.label}: waitdone(${expected}) but only ${
          had + this.outstanding
        } command(s) can complete (${had} done, ${this.outstanding} outstanding)`,
      );
    }
  }

  /**
   * Wait until `expected` more commands completed (callbacks run as they do)
   * and return CDW0 of the latest completion. A non-zero status of any of them
   * throws StatusError after all were reaped. `waitdone(0)` reaps nothing and
   * returns at once (pynvme); a wait beyond the timeout throws
   * WaitdoneTimeoutError.
   */
  waitdone(expected = 1): number {
    this.#checkWait(expected);
    if (expected === 0) return this.#lastCdw0; // pynvme: reap nothing
    if (this.#done < expected) {
      // #wait without a closure per call (every script's hot path); the clock
      // is read only once a reap came back empty
      let deadline = 0;
      do {
        this.#stuck(expected);
        if (this.#reapWait(WAIT_US) === 0 && this.#done < expected) {
          const now = Date.now();
          if (!deadline) deadline = now + this.#guardMs();
          else if (now > deadline) {
            throw new WaitdoneTimeoutError(this.#gaveUp(expected));
          }
        }
      } while (this.#done < expected);
    }
    return this.#take(expected);
  }

  /** {@link CommandQueue.waitdone} that lets the event loop run while waiting. */
  async waitdoneAsync(expected = 1): Promise<number> {
    this.#checkWait(expected);
    if (expected === 0) return this.#lastCdw0;
    for (
      const _ of this.#polls(
        () => this.#done >= expected,
        () => this.#gaveUp(expected),
        () => this.#stuck(expected),
      )
    ) {
      const { cq } = this.handles;
      unwrap(await lib.nvme_cq_poll_wait_nb(cq, 2000), this.label);
      this.#check();
    }
    return this.#take(expected);
  }

  #gaveUp(expected: number): string {
    return `${this.label}: waitdone(${expected}) gave up after ${this.#guardMs()} ms`;
  }

  /**
   * @ignore @internal Fail every command in flight as "gone" (after a controller
   * reset); their callbacks run with status 07/FF.
   */
  abandon(): number {
    if (this.#closed) return 0;
    let total = 0;
    for (;;) {
      const n = unwrap(lib.nvme_sq_abandon(this.#sq, this.#out, BATCH));
      for (let i = 0; i < n; i++) {
        const b = i * CPL_WORDS;
        const slot = this.#find(
          this.#out32[b + 3] & 0xffff,
          this.#out32[b + W_TAG],
        );
        if (slot === undefined) continue;
        const p = { ...slot };
        this.#free(slot);
        if (p.aer) {
          this.#aers--;
          continue;
        }
        const cpl = new Completion(
          [
            this.#out32[b],
            this.#out32[b + 1],
            this.#out32[b + 2],
            this.#out32[b + 3],
          ],
          this.#out32[b + W_LATENCY],
          CPL_GONE,
          p.opcode,
        );
        if (p.internal) p.internal(cpl, p);
        else if (p.cb) this.#callback(p.cb, cpl);
      }
      total += n;
      if (n < BATCH) break;
    }
    for (const p of this.#slots) if (p && p.tag !== 0) this.#free(p);
    this.#orphans.clear();
    this.#inflight = 0;
    this.#aers = 0;
    return total;
  }

  /** @ignore @internal Free the C queues (the device-side delete is the owner's job). */
  close(): void {
    if (this.#closed) return;
    this.abandon();
    this.#closed = true;
    this.log.freeze();
    consoleNote({ kind: "queue-gone", sq: this.#sq });
    lib.nvme_sq_delete(this.#sq);
    lib.nvme_cq_delete(this.#cq);
  }

  /**
   * @ignore @internal A zeroed 64-byte command with opcode and NSID set: one
   * of SQE_SCRATCH slots used in turn (allocating an ArrayBuffer per command
   * costs more than the rest of a submission). It is valid until that many
   * more commands are built: build it and submit it (submit() copies it when
   * it has to wait).
   */
  static command(opcode: number, nsid = 0): { sqe: Uint8Array; dv: DataView } {
    const c = scratch[scratchNext];
    scratchNext = (scratchNext + 1) % SQE_SCRATCH;
    c.sqe.fill(0);
    c.sqe[0] = opcode;
    c.dv.setUint32(4, nsid >>> 0, true);
    return c;
  }
}

/**
 * I/O queue pairs.
 *
 * @module
 */
import { QPAIR } from "./api_table.ts";
import { CommandQueue, SUBMIT_RAW_PRP } from "./cmdqueue.ts";
import type { Cmdlog, CmdlogEntry } from "./cmdlog.ts";
import type { Controller } from "./controller.ts";
import {
  ClosedError,
  DeviceGoneError,
  NvmeError,
  QpairCreationError,
  StatusError,
} from "./errors.ts";
import { lib, unwrap } from "./lib.ts";
import { checkConstructor, checkInt, guardClass } from "./validate.ts";

/** Queue ids in use per controller. */
const used = new WeakMap<Controller, Set<number>>();

/**
 * @ignore @internal Mark queue id `qid` of `nvme` as taken (by a raw queue) so Qpairs
 * skip it; false when it already is taken.
 */
export function reserveQid(nvme: Controller, qid: number): boolean {
  const ids = used.get(nvme) ?? new Set<number>();
  used.set(nvme, ids);
  if (ids.has(qid)) return false;
  ids.add(qid);
  return true;
}

/** @ignore @internal Give back a queue id taken with reserveQid. */
export function releaseQid(nvme: Controller, qid: number): void {
  used.get(nvme)?.delete(qid);
}

/**
 * An I/O submission queue with its own completion queue (pynvme `Qpair`),
 * created on the device with Create I/O CQ/SQ and deleted by `delete()`/`close()`.
 *
 * ```ts
 * import { Buffer, Controller, Namespace } from "../mod.ts";
 * declare const nvme0: Controller;
 * declare const nvme0n1: Namespace;
 * declare const buf: Buffer;
 * using qpair = new Qpair(nvme0, 64);
 * nvme0n1.read(qpair, buf, 0, 8).waitdone();
 * ```
 */
export class Qpair {
  /** The controller. */
  readonly ctrl: Controller;
  /** Queue id (SQID = CQID). */
  readonly sqid: number;
  /** Entries per queue. */
  readonly depth: number;
  /** Interrupt vector of the completion queue. */
  readonly iv: number;
  /** Interrupts enabled on the completion queue. */
  readonly ien: boolean;
  #q?: CommandQueue;
  #lastLog?: Cmdlog;
  #why = "closed";
  #owner?: string; // an ioworker driving the queue from its own thread

  /**
   * Create an I/O queue pair.
   * @param nvme the controller
   * @param depth entries (2..CAP.MQES+1)
   * @param prio SQ priority for weighted round robin (0 urgent .. 3 low);
   *   like pynvme, a priority other than 0 needs the controller in weighted
   *   round robin arbitration (CC.AMS = 001b), else QpairCreationError (the raw
   *   queue classes IoSQ/IoCQ send any QPRIO on purpose)
   * @param ien interrupts enabled
   * @param iv interrupt vector (default: sqid modulo the vectors)
   */
  constructor(
    nvme: Controller,
    depth: number,
    prio = 0,
    ien = true,
    iv?: number,
  ) {
    checkConstructor("Qpair", QPAIR, [nvme, depth, prio, ien, iv]);
    this.ctrl = nvme;
    checkInt("Qpair depth", depth, 2, Math.min(nvme.mqes, 65536));
    checkInt("prio", prio, 0, 3);
    if (prio) {
      const ams = (nvme.reg32(0x14) >>> 11) & 7;
      if (ams !== 1) {
        throw new QpairCreationError(
          `Qpair prio = ${prio} needs weighted round robin arbitration (CC.AMS = 001b), the controller runs ${
            ams
              ? `CC.AMS = ${ams.toString(2).padStart(3, "0")}b`
              : "round robin (CC.AMS = 000b)"
          }: use prio 0, or enable WRR in an init function (CC = 0x00460801 where CAP.AMS allows it)`,
        );
      }
    }
    this.depth = depth;
    const ids = used.get(nvme) ?? new Set<number>();
    used.set(nvme, ids);
    const max = nvme.queueCounts.nsqa || 0xffff;
    let qid = 1;
    while (ids.has(qid)) qid++;
    if (qid > max) {
      throw new QpairCreationError(
        `no free I/O queue: the controller granted ${max} queue pairs and all are in use`,
      );
    }
    const vectors = nvme.pcie.msixVectors || 1;
    this.iv = iv === undefined
      ? (ien ? qid % vectors : 0)
      : checkInt("iv", iv, 0, 2047);
    this.ien = ien;
    this.sqid = qid;

    const ctrlh = nvme.ctrlHandle;
    const admin = nvme.adminQueue;
    const cq = new Uint32Array(1), sq = new Uint32Array(1);
    const cqIova = new BigUint64Array(1), sqIova = new BigUint64Array(1);
    unwrap(
      lib.nvme_cq_create(ctrlh, qid, depth, this.iv, ien ? 1 : 0, cq, cqIova),
      `Qpair(depth=${depth})`,
    );
    try {
      const c = CommandQueue.command(0x05);
      c.dv.setBigUint64(24, cqIova[0], true);
      c.dv.setUint32(40, ((depth - 1) << 16 | qid) >>> 0, true);
      c.dv.setUint32(44, (this.iv << 16 | (ien ? 2 : 0) | 1) >>> 0, true);
      admin.execSync(c.sqe, { flags: SUBMIT_RAW_PRP, detail: `qid ${qid}` });
    } catch (e) {
      lib.nvme_cq_delete(cq[0]);
      throw refused(e, "Create I/O Completion Queue", qid);
    }
    const rc = lib.nvme_sq_create(ctrlh, qid, depth, cq[0], sq, sqIova);
    try {
      unwrap(rc, `Qpair(depth=${depth})`);
      const c = CommandQueue.command(0x01);
      c.dv.setBigUint64(24, sqIova[0], true);
      c.dv.setUint32(40, ((depth - 1) << 16 | qid) >>> 0, true);
      c.dv.setUint32(44, (qid << 16 | prio << 1 | 1) >>> 0, true);
      admin.execSync(c.sqe, { flags: SUBMIT_RAW_PRP, detail: `qid ${qid}` });
    } catch (e) {
      if (rc >= 0) lib.nvme_sq_delete(sq[0]);
      try {
        const d = CommandQueue.command(0x04);
        d.dv.setUint32(40, qid, true);
        admin.execSync(d.sqe);
      } finally {
        lib.nvme_cq_delete(cq[0]);
      }
      throw refused(e, "Create I/O Submission Queue", qid);
    }
    this.#q = new CommandQueue(nvme, qid, depth, sq[0], cq[0], `Qpair ${qid}`);
    this.#lastLog = this.#q.log;
    ids.add(qid);
    nvme.adopt(this);
  }

  /** @ignore @internal */
  get queue(): CommandQueue {
    if (!this.#q) throw new ClosedError(`Qpair ${this.sqid} (${this.#why})`);
    if (this.#owner) {
      throw new NvmeError(
        `Qpair ${this.sqid} is driven by ${this.#owner}: script commands on it wait until the ioworker is closed`,
      );
    }
    return this.#q;
  }
  /**
   * @ignore @internal An ioworker takes the queue for its own thread: script commands
   * on it are refused until unclaim(). Returns the C handles.
   */
  claim(owner: string): { sq: number; cq: number } {
    const q = this.queue;
    if (q.outstanding) {
      throw new NvmeError(
        `Qpair ${this.sqid} has ${q.outstanding} command(s) in flight: an ioworker needs an idle queue pair`,
      );
    }
    this.#owner = owner;
    return q.handles;
  }
  /** @ignore @internal The ioworker let go of the queue. */
  unclaim(): void {
    this.#owner = undefined;
  }
  /**
   * True after delete()/close() or a controller reset.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * declare const qpair: Qpair;
   * nvme0.reset();
   * qpair.closed; // true: create a new Qpair
   * ```
   */
  get closed(): boolean {
    return !this.#q;
  }
  /**
   * Commands in flight.
   *
   * ```ts
   * import { Buffer, Namespace } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * declare const buf: Buffer;
   * nvme0n1.read(qpair, buf, 0, 8);
   * qpair.outstanding; // 1
   * qpair.waitdone();
   * ```
   */
  get outstanding(): number {
    return this.queue.outstanding;
  }
  /**
   * CID of the latest completion.
   *
   * ```ts
   * import { Buffer, Namespace } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * declare const buf: Buffer;
   * nvme0n1.read(qpair, buf, 0, 1).waitdone();
   * console.log(`cid ${qpair.latestCid}, ${qpair.latestLatency} µs`);
   * ```
   */
  get latestCid(): number {
    return this.queue.latest?.cid ?? 0;
  }
  /**
   * CID of the latest command submitted (pynvme's `qpair.latest_cid`, which
   * names the latest submission; {@link Qpair.latestCid} is the latest
   * completion).
   *
   * ```ts
   * import { Buffer, Controller, Namespace } from "../mod.ts";
   * declare const nvme0: Controller;
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * declare const buf: Buffer;
   * nvme0n1.read(qpair, buf, 0, 8);
   * nvme0.abort(qpair.latestSubmittedCid, qpair.sqid).waitdone();
   * qpair.waitdone();
   * ```
   */
  get latestSubmittedCid(): number {
    this.queue;
    return this.#log().entries(1)[0]?.cid ?? 0;
  }
  /**
   * Latency of the latest completion in µs.
   *
   * ```ts
   * import { Namespace } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * nvme0n1.flush(qpair).waitdone();
   * if (qpair.latestLatency > 10_000) console.log("slow flush");
   * ```
   */
  get latestLatency(): number {
    return this.queue.latest?.latencyUs ?? 0;
  }

  /**
   * Wait for `expected` completions; returns CDW0 of the latest.
   *
   * Counting rule: every completion reaped since the last waitdone counts,
   * including those reaped while a submission waited for room in a full
   * queue (their callbacks ran then). So after filling a queue of depth D
   * with N > D - 1 commands, `waitdone(N)` still waits for exactly N.
   *
   * ```ts
   * import { Buffer, Namespace } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * declare const buf: Buffer;
   * for (let i = 0; i < 8; i++) nvme0n1.read(qpair, buf, i * 8, 8);
   * qpair.waitdone(8); // all eight; callbacks run here
   * ```
   */
  waitdone(expected = 1): number {
    return this.queue.waitdone(expected);
  }
  /**
   * {@link Qpair.waitdone} without blocking the event loop.
   *
   * ```ts
   * import { Buffer, Namespace } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * declare const buf: Buffer;
   * await nvme0n1.write(qpair, buf, 0, 8).waitdoneAsync();
   * ```
   */
  async waitdoneAsync(expected = 1): Promise<number> {
    // async: a closed qpair rejects the promise instead of throwing at the call
    return await this.queue.waitdoneAsync(expected);
  }

  /**
   * The last `count` commands of this queue (0: all kept, up to 2048), newest
   * first, decoded (pynvme `cmdlog`). Still readable after delete().
   *
   * ```ts
   * declare const qpair: Qpair;
   * const failed = qpair.cmdlog().filter((e) => e.status && e.status !== "00/00");
   * ```
   */
  cmdlog(count = 0): CmdlogEntry[] {
    return this.#log().entries(checkInt("count", count, 0, 1 << 20));
  }
  /**
   * {@link Qpair.cmdlog} as text, one command per line, newest first.
   *
   * ```ts
   * declare const qpair: Qpair;
   * console.log(qpair.cmdlogText(5));
   * ```
   */
  cmdlogText(count = 0): string {
    return this.#log().text(checkInt("count", count, 0, 1 << 20));
  }
  #log(): Cmdlog {
    if (!this.#lastLog) throw new ClosedError(`Qpair ${this.sqid}`);
    return this.#lastLog;
  }

  /**
   * Clear this queue's interrupt indication.
   *
   * ```ts
   * import { Buffer, Namespace } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * declare const buf: Buffer;
   * qpair.msixClear();
   * nvme0n1.read(qpair, buf, 0, 1).waitdone();
   * qpair.msixIsSet(); // true: the completion interrupted
   * ```
   */
  msixClear(): void {
    this.queue;
    this.ctrl.pcie.irqWords[this.iv] = 0;
  }
  /**
   * True once the queue's interrupt vector fired since msixClear().
   *
   * ```ts
   * import { Buffer, Namespace } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * declare const buf: Buffer;
   * qpair.msixClear();
   * nvme0n1.write(qpair, buf, 0, 1).waitdone();
   * if (!qpair.msixIsSet()) throw new Error("no interrupt");
   * ```
   */
  msixIsSet(): boolean {
    this.queue;
    lib.nvme_ctrl_flush_doorbells(this.ctrl.ctrlHandle);
    return this.ctrl.pcie.irqWords[this.iv] !== 0;
  }
  /**
   * Mask the queue's MSI-X vector (the device holds the interrupt pending).
   *
   * ```ts
   * import { Buffer, Namespace } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * declare const buf: Buffer;
   * qpair.msixClear();
   * qpair.msixMask();
   * nvme0n1.read(qpair, buf, 0, 1).waitdone(); // IO queues are polled: it completes
   * qpair.msixIsSet(); // false while masked
   * qpair.msixUnmask(); // the pending interrupt is delivered now
   * ```
   */
  msixMask(): void {
    this.queue;
    this.ctrl.pcie.maskVector(this.iv, true);
  }
  /**
   * Unmask the queue's MSI-X vector (a pending interrupt is delivered).
   *
   * ```ts
   * declare const qpair: Qpair;
   * qpair.msixUnmask();
   * qpair.msixIsSet(); // true if a completion came while masked
   * ```
   */
  msixUnmask(): void {
    this.queue;
    this.ctrl.pcie.maskVector(this.iv, false);
  }

  /** @ignore @internal the controller was reset or closed: the device has no queues now */
  controllerReset(): void {
    this.#free("deleted by a controller reset");
  }

  #free(why: string): void {
    if (!this.#q) return;
    this.#q.close();
    this.#q = undefined;
    this.#why = why;
    used.get(this.ctrl)?.delete(this.sqid);
    this.ctrl.release(this);
  }

  /**
   * Delete the queues on the device (Delete I/O SQ, then CQ) and free them.
   * Commands still in flight complete as "lost". Idempotent.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * const qpair = new Qpair(nvme0, 64);
   * // ...
   * qpair.delete(); // or `using qpair = ...`
   * ```
   */
  delete(): void {
    if (!this.#q) return;
    this.queue; // refused while an ioworker drives it
    try {
      const admin = this.ctrl.adminQueue;
      for (const opc of [0x00, 0x04]) {
        const c = CommandQueue.command(opc);
        c.dv.setUint32(40, this.sqid, true);
        admin.execSync(c.sqe, { detail: `qid ${this.sqid}` });
      }
    } catch (e) {
      if (!(e instanceof DeviceGoneError) && !(e instanceof ClosedError)) {
        this.#free("deleted");
        throw e;
      }
    }
    this.#free("deleted");
  }
  /** Same as delete(). */
  close(): void {
    this.delete();
  }
  /** Same as delete(), for `using`. */
  [Symbol.dispose](): void {
    this.delete();
  }
}

/** A device refusal (a status) of a queue creation, as pynvme reports it. */
function refused(e: unknown, what: string, qid: number): unknown {
  if (!(e instanceof StatusError)) return e;
  return new QpairCreationError(
    `Qpair ${qid}: the device refused ${what}: ${e.message}`,
    { cause: e },
  );
}

const rawWaitdone = Qpair.prototype.waitdone;
guardClass(Qpair, QPAIR);
{
  // waitdone's fast path: an integer count in 0..2^32-1 (or none) on an open
  // Qpair is what the guard accepts; anything else goes through the guard
  const guarded = Qpair.prototype.waitdone;
  Object.defineProperty(Qpair.prototype, "waitdone", {
    ...Object.getOwnPropertyDescriptor(Qpair.prototype, "waitdone"),
    value: function waitdone(this: Qpair, expected?: number): number {
      if (
        arguments.length <= 1 &&
        (expected === undefined ||
          (typeof expected === "number" && expected >>> 0 === expected)) &&
        !this.closed
      ) return rawWaitdone.call(this, expected);
      return guarded.apply(this, arguments as unknown as [number?]);
    },
  });
}

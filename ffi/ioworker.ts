/**
 * IO workers (pynvme's `ioworker`): fio-class workloads that run in parallel
 * with the script.
 *
 * Each ioworker gets its own IO queue pair (created on the main thread with
 * Create I/O CQ/SQ) and its own Deno Worker, which calls the blocking C loop
 * `nvme_ioworker_run()` (libnvmeshim/ioworker.c): LBA, size and opcode
 * generation, throttling, the latency histogram, per-second counts and the
 * last-N IO ring are all in C, with no FFI call per IO. The stop flag, live
 * progress and the results live in one SharedArrayBuffer, so the script's event
 * loop keeps running (send admin commands with `waitdoneAsync`, read SMART,
 * start more workers) while the IO flows.
 *
 * Data buffers: each of the `qdepth - 1` IOs in flight has its own write slot
 * (the largest IO size, filled with the ptype/pvalue pattern per LBA); reads
 * share one sink buffer, unless data verification is on for the namespace
 * ({@link Namespace.verifyEnable}) when the worker starts: then writes are
 * stamped and recorded and each read gets its own slot and is checked, through
 * the same hooks as scripted IO; a mismatch ends the worker with error 07/81
 * and the details in its `errorMessage`.
 *
 * @module
 */
import { FUNCTIONS } from "./api_table.ts";
import { checkArgs } from "./validate.ts";
import { IOWORKER } from "./api_table.ts";
import { checkConstructor, guardClass } from "./validate.ts";
import { Completion } from "./completion.ts";
import type { Controller } from "./controller.ts";
import { ClosedError, NvmeError, ParameterError } from "./errors.ts";
import { matchExpected } from "./expect.ts";
import { spawnIoworkerThread } from "./ioworker_thread.ts";
import type { Namespace } from "./namespace.ts";
import { Qpair } from "./qpair.ts";
import { consoleNote } from "../console/registry.ts";
import { commandName, statusName } from "./status.ts";
import {
  IOW_E_GONE,
  IOW_E_GUARD,
  IOW_E_INIT,
  IOW_E_IO_TIMEOUT,
  IOW_E_MDTS,
  IOW_E_NOMEM,
  IOW_E_NOT_READY,
  IOW_E_SUBMIT,
  IOW_E_TERMINATED,
  IOW_OK,
} from "./abi.gen.ts";
import { type IoWorkerOptions, type Plan, plan } from "./ioworker_plan.ts";
import {
  bucketHigh,
  encodeArgs,
  type Layout,
  layout,
  OFF_MESSAGE,
  Q_CMDLOG_COUNT,
  Q_COMPLETED,
  Q_CPU,
  Q_ELAPSED_US,
  Q_ERROR_LBA,
  Q_IN_FLIGHT,
  Q_IPS_USED,
  Q_LAT_MAX,
  Q_LAT_SUM,
  Q_NONREADS,
  Q_OP_COUNTS,
  Q_PCT,
  Q_READS,
  Q_SUBMITTED,
  Q_WRITES,
  REC,
  REC_SIZE,
  SHM_MAGIC,
  ST_RUNNING,
  STOP_DRAIN,
  STOP_NOW,
  W_DONE,
  W_ERROR,
  W_ERROR_NLB,
  W_ERROR_OPC,
  W_HOST_ERROR,
  W_MAGIC,
  W_STATE,
  W_STOP,
} from "./ioworker_layout.ts";

export type { IoSequenceEntry, IoWorkerOptions } from "./ioworker_plan.ts";

/**
 * pynvme's host error codes, plus two of denvme's (see {@link IoWorkerResult.hostError}).
 *
 * ```ts
 * import { Namespace } from "../mod.ts";
 * declare const nvme0n1: Namespace;
 * const r = nvme0n1.ioworker({ time: 5 }).start().close();
 * if (r.hostError === IoWorkerHostError.TERMINATED) console.log("stopped by a reset");
 * ```
 */
export const IoWorkerHostError = {
  /** No host-side error. */
  OK: IOW_OK,
  /** Bad arguments or queues: the loop did not start. */
  INIT: IOW_E_INIT,
  /** An IO larger than the transfer limit. */
  MDTS: IOW_E_MDTS,
  /** An IO did not complete within the controller's command timeout. */
  IO_TIMEOUT: IOW_E_IO_TIMEOUT,
  /** Still running 30 s after its `time`. */
  GUARD_TIMEOUT: IOW_E_GUARD,
  /** No DMA memory for the data buffers. */
  NO_MEMORY: IOW_E_NOMEM,
  /** A submission failed. */
  SUBMIT: IOW_E_SUBMIT,
  /**
   * Stopped by a controller reset, disable or close, or its queue was dropped
   * by a reset of the function (FLR, hot reset, power cycle).
   */
  TERMINATED: IOW_E_TERMINATED,
  /** The device is gone (QEMU exited, device removed, powered off). */
  DEVICE_GONE: IOW_E_GONE,
  /** The controller stopped being ready (reset, FLR, fatal status) under IO. */
  NOT_READY: IOW_E_NOT_READY,
} as const;

/**
 * One IO from the last-N list.
 *
 * ```ts
 * import { Namespace } from "../mod.ts";
 * declare const nvme0n1: Namespace;
 * const r = nvme0n1.ioworker({ time: 1, outputCmdlogList: 100 }).start().close();
 * const slow: IoRecord[] = r.cmdlog!.filter((io) => io.latencyUs > 1000);
 * ```
 */
export interface IoRecord {
  /** Start LBA (0 for flush). */
  lba: number;
  /** LBA count (0 for flush). */
  count: number;
  /** Opcode. */
  opcode: number;
  /** (SCT << 8) | SC of its completion. */
  status: number;
  /** Latency in µs. */
  latencyUs: number;
  /** Completion time in µs since the worker started. */
  timeUs: number;
  /** Command identifier. */
  cid: number;
}

/**
 * What {@link IoWorker.close} returns (pynvme's result, camelCase).
 *
 * ```ts
 * import { Namespace } from "../mod.ts";
 * declare const nvme0n1: Namespace;
 * const r: IoWorkerResult = nvme0n1.ioworker({ time: 2, outputIoPerSecond: true }).start().close();
 * const iops = (r.ioCountRead + r.ioCountNonread) * 1000 / r.mseconds;
 * if (!r.ok) throw new Error(r.errorMessage);
 * ```
 */
export interface IoWorkerResult {
  /** Reads (02h) completed. */
  ioCountRead: number;
  /** Every other IO completed (writes included). */
  ioCountNonread: number;
  /** Writes (01h) completed. */
  ioCountWrite: number;
  /** Duration in milliseconds, from the first submission to the last completion. */
  mseconds: number;
  /** Largest latency, µs. */
  latencyMaxUs: number;
  /** Average latency, µs. */
  latencyAverageUs: number;
  /** CPU time of the worker thread / duration (1 = one core busy). */
  cpuUsage: number;
  /** (SCT << 8) | SC of the first failing IO (07FFh: timeout), 0 when all succeeded. */
  error: number;
  /** 0, or one of {@link IoWorkerHostError} (timeout, reset, device gone, ...). */
  hostError: number;
  /** What went wrong, in words (undefined when nothing did). */
  errorMessage?: string;
  /** True when `error` and `hostError` are both 0. */
  ok: boolean;
  /** True when stop() ended it early. */
  stopped: boolean;
  /** IOs completed per opcode (only opcodes used). */
  opCounts: Record<number, number>;
  /** IOs completed in each second (with `outputIoPerSecond`). */
  ioPerSecond?: number[];
  /** Latency in µs by percentile (with `outputPercentileLatency`). */
  latencyPercentiles?: Record<string, number>;
  /** Non-empty histogram buckets as [highest µs in the bucket, IOs] (with `outputPercentileLatency`). */
  latencyDistribution?: [number, number][];
  /** The last IOs, oldest first (with `outputCmdlogList`). */
  cmdlog?: IoRecord[];
  /** The seed of the random generator. */
  seed: bigint;
}

/**
 * Live counters of a running worker ({@link IoWorker.progress}).
 *
 * ```ts
 * import { Namespace } from "../mod.ts";
 * declare const nvme0n1: Namespace;
 * const w = nvme0n1.ioworker({ time: 10 }).start();
 * while (w.running) {
 *   const p: IoWorkerProgress = w.progress;
 *   console.log(`${p.seconds.toFixed(1)} s: ${p.ioCount} IOs, ${p.inFlight} in flight`);
 *   await new Promise((r) => setTimeout(r, 1000));
 * }
 * w.close();
 * ```
 */
export interface IoWorkerProgress {
  /** Seconds since the first submission. */
  seconds: number;
  /** IOs completed. */
  ioCount: number;
  /** Reads completed. */
  ioCountRead: number;
  /** Writes completed. */
  ioCountWrite: number;
  /** IOs submitted. */
  submitted: number;
  /** IOs in flight. */
  inFlight: number;
}

/** Running workers per controller (stopped before a reset, disable or close). */
const running = new WeakMap<Controller, Set<IoWorker>>();

/**
 * Stop every running ioworker of `nvme` now, as before a reset, and wait for
 * them (bounded): their results report {@link IoWorkerHostError.TERMINATED}
 * with `why`. Controller reset/disable/close call this; call it yourself
 * before resetting the device another way (FLR, power cycle by hand).
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * stopIoworkers(nvme0, "FLR");
 * nvme0.pcie.setCfg(0x78, 0x8000, 2); // ... then nvme0.reset()
 * ```
 */
export function stopIoworkers(nvme: Controller, why = "stopped"): void {
  checkArgs("stopIoworkers", FUNCTIONS.stopIoworkers, [nvme, why]);
  const set = running.get(nvme);
  if (!set) return;
  for (const w of [...set]) w.terminate(why);
}

let serial = 0;

/**
 * An IO worker (pynvme `ioworker`): a workload on its own IO queue pair, run by
 * a Deno Worker in C while the script goes on. Create it with
 * {@link Namespace.ioworker}, then `start()`, and `close()` for the result;
 * `using` closes it.
 *
 * ```ts
 * import { Buffer, Controller, Namespace } from "../mod.ts";
 * declare const nvme0: Controller;
 * declare const nvme0n1: Namespace;
 * using smart = new Buffer(512);
 * using w = nvme0n1.ioworker({ ioSize: 8, readPercentage: 70, time: 5, qdepth: 32 }).start();
 * while (w.running) {
 *   await nvme0.getlogpage(2, smart, { size: 512 }).waitdoneAsync();
 *   await new Promise((r) => setTimeout(r, 1000));
 * }
 * const r = w.close(); // { ioCountRead, ioCountWrite, mseconds, latencyAverageUs, error, ... }
 * ```
 */
export class IoWorker {
  /** The namespace. */
  readonly ns: Namespace;
  /** The parameters as given. */
  readonly options: Readonly<IoWorkerOptions>;
  /** Name in messages: "ioworker 3 (nsid 1)". */
  readonly label: string;
  #plan: Plan;
  #qpair?: Qpair;
  #worker?: Worker;
  #sab?: SharedArrayBuffer;
  #i32?: Int32Array;
  #u64?: BigUint64Array;
  #layout?: Layout;
  #started = false;
  #finished = false;
  #result?: IoWorkerResult;
  #terminated?: string;
  #stopped = false;
  #doneWaiters: (() => void)[] = [];

  /** @ignore @internal Use {@link Namespace.ioworker}. Validates every parameter. */
  constructor(ns: Namespace, options: IoWorkerOptions = {}) {
    checkConstructor("IoWorker", IOWORKER, [ns, options]);
    this.ns = ns;
    this.options = options;
    this.#plan = plan(ns, options);
    this.label = `ioworker ${++serial} (nsid ${ns.nsid})`;
  }

  /**
   * The queue pair the worker drives (after start; deleted by close).
   *
   * ```ts
   * import { Namespace } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * const w = nvme0n1.ioworker({ time: 1 }).start();
   * console.log(`on I/O queue ${w.qpair?.sqid}`);
   * ```
   */
  get qpair(): Qpair | undefined {
    return this.#qpair;
  }
  /**
   * The seed of the workload's random generator.
   *
   * ```ts
   * import { Namespace } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * const w = nvme0n1.ioworker({ time: 1 });
   * const again = nvme0n1.ioworker({ time: 1, seed: w.seed }); // the same LBAs and sizes
   * ```
   */
  get seed(): bigint {
    return this.#plan.seed;
  }

  /**
   * Create the queue pair and start the workload; returns once its loop runs
   * (like pynvme, which waits for the child's "STARTED").
   *
   * ```ts
   * import { Namespace } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * const w = nvme0n1.ioworker({ ioSize: 8, time: 5 }).start();
   * // ... the script goes on while the IO flows ...
   * const r = w.close();
   * ```
   */
  start(): this {
    if (this.#started) throw new NvmeError(`${this.label} was already started`);
    const ctrl = this.ns.ctrl;
    if (ctrl.closed) throw new ClosedError("Controller");
    const p = this.#plan;
    // interrupts off: the loop polls (on VFIO each one would wake a thread)
    const qpair = new Qpair(ctrl, p.qdepth, p.qprio, false);
    let handles: { sq: number; cq: number };
    let lay: Layout;
    try {
      handles = qpair.claim(this.label);
      lay = layout(p.ipsN, p.cmdlogN);
    } catch (e) {
      qpair.unclaim();
      qpair.delete();
      throw e; // not started: start() may be tried again
    }
    this.#started = true;
    this.#qpair = qpair;
    this.#layout = lay;
    const sab = this.#sab = new SharedArrayBuffer(lay.total);
    this.#i32 = new Int32Array(sab, 0, 8);
    this.#u64 = new BigUint64Array(sab, 0, lay.header >> 3);
    this.#i32[W_MAGIC] = SHM_MAGIC;
    const args = encodeArgs(p, this.ns.nsid, this.ns.lbaSize);
    const seq = p.sequence ?? new Uint8Array(8);
    const worker = this.#worker = spawnIoworkerThread(
      this.label,
      { ...handles, args: args.buffer, seq: seq.buffer, shm: sab },
      [args.buffer, seq.buffer],
    );
    worker.onmessage = () => this.#onDone();
    worker.onerror = (e) => {
      e.preventDefault();
      this.#setMessage(`the worker thread failed: ${e.message}`);
      Atomics.store(this.#i32!, W_HOST_ERROR, IoWorkerHostError.INIT);
      Atomics.store(this.#i32!, W_DONE, 1);
      this.#onDone();
    };
    let set = running.get(ctrl);
    if (!set) running.set(ctrl, set = new Set());
    set.add(this);
    consoleNote({
      kind: "ioworker",
      label: this.label,
      ctrl: ctrl.ctrlHandle,
      nsid: this.ns.nsid,
      sq: handles.sq,
      qid: qpair.sqid,
      qdepth: p.qdepth,
      shm: sab,
      header: lay.header,
    });
    // wait until the loop runs, or the start failed
    const end = Date.now() + 15_000;
    while (
      Atomics.load(this.#i32, W_STATE) < ST_RUNNING &&
      !Atomics.load(this.#i32, W_DONE)
    ) {
      if (Date.now() > end) {
        // (should C start after all, it sees the stop flag at once)
        Atomics.store(this.#i32, W_STOP, STOP_NOW);
        this.#setMessage("its thread did not start within 15 s");
        Atomics.store(this.#i32, W_HOST_ERROR, IoWorkerHostError.INIT);
        break;
      }
      Atomics.wait(this.#i32, W_DONE, 0, 5);
    }
    const host = Atomics.load(this.#i32, W_HOST_ERROR);
    if (
      host === IoWorkerHostError.INIT || host === IoWorkerHostError.NO_MEMORY
    ) {
      this.#waitDone(5000);
      const msg = this.#message();
      this.#finish();
      throw new NvmeError(`${this.label} could not start: ${msg}`);
    }
    return this;
  }

  /**
   * True from start() until the workload ended.
   *
   * ```ts
   * declare const w: IoWorker;
   * while (w.running) await new Promise((r) => setTimeout(r, 100));
   * ```
   */
  get running(): boolean {
    return this.#started && !this.#finished &&
      !Atomics.load(this.#i32!, W_DONE);
  }

  /**
   * Live counters (zeros before start).
   *
   * ```ts
   * declare const w: IoWorker;
   * const { seconds, ioCount } = w.progress;
   * console.log(`${(ioCount / seconds).toFixed(0)} IOPS so far`);
   * ```
   */
  get progress(): IoWorkerProgress {
    const u = this.#u64;
    if (!u) {
      return {
        seconds: 0,
        ioCount: 0,
        ioCountRead: 0,
        ioCountWrite: 0,
        submitted: 0,
        inFlight: 0,
      };
    }
    const n = (i: number) => Number(Atomics.load(u, i));
    return {
      seconds: n(Q_ELAPSED_US) / 1e6,
      ioCount: n(Q_COMPLETED),
      ioCountRead: n(Q_READS),
      ioCountWrite: n(Q_WRITES),
      submitted: n(Q_SUBMITTED),
      inFlight: n(Q_IN_FLIGHT),
    };
  }

  /**
   * Ask the worker to stop early: no new IOs, the ones in flight complete. Does
   * not wait (close() does); the result then has `stopped: true`.
   *
   * ```ts
   * import { Namespace } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * const w = nvme0n1.ioworker({ time: 3600 }).start();
   * setTimeout(() => w.stop(), 5000);
   * const r = await w.closeAsync(); // r.stopped === true
   * ```
   */
  stop(): void {
    if (!this.running) return;
    this.#stopped = true;
    Atomics.store(this.#i32!, W_STOP, STOP_DRAIN);
  }

  /**
   * @ignore @internal Stop at once (IOs in flight are left to the queue, which the
   * caller is about to reset) and wait for the thread to let go, bounded.
   */
  terminate(why: string): void {
    if (!this.#started || this.#finished) return;
    if (!Atomics.load(this.#i32!, W_DONE)) {
      this.#terminated = why;
      Atomics.store(this.#i32!, W_STOP, STOP_NOW);
      if (!this.#waitDone(5000)) {
        console.warn(
          `${this.label}: its thread did not stop within 5 s (${why}); the queue waits for it`,
        );
      }
    }
    // the reset frees the queue pair itself
    this.#qpair?.unclaim();
    this.#finish();
  }

  #waitDone(ms: number): boolean {
    const end = Date.now() + ms;
    while (!Atomics.load(this.#i32!, W_DONE)) {
      const left = end - Date.now();
      if (left <= 0) return false;
      Atomics.wait(this.#i32!, W_DONE, 0, Math.min(left, 50));
    }
    return true;
  }

  #onDone(): void {
    for (const w of this.#doneWaiters.splice(0)) w();
  }

  /**
   * Wait (sync) for the end, then delete the queue pair and decode the result.
   *
   * ```ts
   * import { Namespace } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * const r = nvme0n1.ioworker({ ioSize: 8, ioCount: 10_000 }).start().close();
   * console.log(r.ioCountRead, r.mseconds, r.latencyAverageUs);
   * ```
   */
  close(): IoWorkerResult {
    if (this.#result) return this.#result;
    if (!this.#started) {
      throw new NvmeError(`${this.label} was not started: call start() first`);
    }
    if (!this.#finished) {
      this.#waitDone(Number.MAX_SAFE_INTEGER);
      this.#finish();
    }
    return this.#result!;
  }

  /**
   * {@link IoWorker.close} that lets the event loop run while the workload ends.
   *
   * ```ts
   * import { Namespace } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * const wa = nvme0n1.ioworker({ time: 2 }).start();
   * const wb = nvme0n1.ioworker({ time: 2, readPercentage: 0 }).start();
   * const [a, b] = await Promise.all([wa.closeAsync(), wb.closeAsync()]);
   * ```
   */
  async closeAsync(): Promise<IoWorkerResult> {
    if (this.#started && !this.#finished && !Atomics.load(this.#i32!, W_DONE)) {
      await new Promise<void>((resolve) => {
        this.#doneWaiters.push(resolve);
        if (Atomics.load(this.#i32!, W_DONE)) resolve();
      });
    }
    return this.close();
  }

  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    if (this.#started) this.close();
  }
  /** Same as closeAsync(), for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#started) await this.closeAsync();
  }

  /**
   * pynvme's `iops_consistency`: the IOPS of the second at `slowestPercentage`
   * (from the slowest) divided by the average (needs outputIoPerSecond).
   *
   * ```ts
   * import { Namespace } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * const w = nvme0n1.ioworker({ time: 60, outputIoPerSecond: true }).start();
   * w.close();
   * if (w.iopsConsistency(99.9) < 0.9) console.log("IOPS not consistent");
   * ```
   */
  iopsConsistency(slowestPercentage = 99.9): number {
    const ips = this.#result?.ioPerSecond;
    if (!ips?.length) {
      throw new NvmeError(
        "iopsConsistency() needs a closed ioworker run with outputIoPerSecond",
      );
    }
    if (!(slowestPercentage > 0 && slowestPercentage <= 100)) {
      throw new ParameterError(
        `slowestPercentage = ${slowestPercentage}: allowed (0, 100]`,
      );
    }
    const sorted = [...ips].sort((a, b) => b - a);
    const avg = ips.reduce((a, b) => a + b, 0) / ips.length;
    const i = Math.min(
      sorted.length - 1,
      Math.floor(sorted.length * slowestPercentage / 100),
    );
    return avg ? sorted[i] / avg : 0;
  }

  #message(): string {
    const bytes = new Uint8Array(this.#sab!, OFF_MESSAGE, 256);
    const end = bytes.indexOf(0);
    return new TextDecoder().decode(bytes.slice(0, end < 0 ? 256 : end));
  }

  #setMessage(m: string): void {
    const bytes = new Uint8Array(this.#sab!, OFF_MESSAGE, 256);
    const enc = new TextEncoder().encode(m).subarray(0, 255);
    bytes.fill(0);
    bytes.set(enc);
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    consoleNote({ kind: "ioworker-done", label: this.label });
    this.#worker?.terminate();
    this.#worker = undefined;
    running.get(this.ns.ctrl)?.delete(this);
    const q = this.#qpair;
    if (this.options.fwDebug) this.#fwDebugStop();
    // (freeing the queue is safe even if the C loop still ran: nvme_sq_free()
    // asks it to let go and waits for it)
    if (q && !q.closed) {
      q.unclaim();
      const host = Atomics.load(this.#i32!, W_HOST_ERROR);
      if (
        host === IoWorkerHostError.NOT_READY ||
        host === IoWorkerHostError.DEVICE_GONE ||
        (host === IoWorkerHostError.TERMINATED && !this.#terminated)
      ) {
        // the device has no queues any more (disabled, FLR, power cycle) or
        // is gone: free ours only
        q.controllerReset();
      } else {
        try {
          q.delete();
        } catch (e) {
          // e.g. the device went away meanwhile: the result tells
          if (!(e instanceof NvmeError)) throw e;
        }
      }
    }
    this.#result = this.#decode();
    this.#fillOutputs(this.#result);
    this.#warn(this.#result);
  }

  /** fwDebug: on an error, report and end the process with the device as it is. */
  #fwDebugStop(): void {
    const i32 = this.#i32!;
    const host = Atomics.load(i32, W_HOST_ERROR);
    const failed = Atomics.load(i32, W_ERROR) !== 0 ||
      (host !== 0 &&
        !(host === IoWorkerHostError.TERMINATED && this.#terminated));
    if (!failed) return;
    const r = this.#decode();
    let log = "";
    try {
      log = this.#qpair?.cmdlogText(16) ?? "";
    } catch { /* no log */ }
    console.error(
      `${this.label}: fwDebug: ${r.errorMessage}\n` +
        `the queue pair ${this.#qpair?.sqid} and its IOs are left on the device as they are; ending the process (exit code 1)\n` +
        (log
          ? `latest commands of the queue pair, newest first:\n${log}\n`
          : ""),
    );
    Deno.exit(1);
  }

  #decode(): IoWorkerResult {
    const i32 = this.#i32!, u = this.#u64!, lay = this.#layout!;
    const n = (i: number) => Number(u[i]);
    const completed = n(Q_COMPLETED);
    const elapsedUs = n(Q_ELAPSED_US);
    const hostError = i32[W_HOST_ERROR];
    const error = i32[W_ERROR] >>> 0;
    const opCounts: Record<number, number> = {};
    for (let op = 0; op < 256; op++) {
      if (u[Q_OP_COUNTS + op]) opCounts[op] = n(Q_OP_COUNTS + op);
    }
    const r: IoWorkerResult = {
      ioCountRead: n(Q_READS),
      ioCountNonread: n(Q_NONREADS),
      ioCountWrite: n(Q_WRITES),
      mseconds: Math.max(1, Math.round(elapsedUs / 1000)),
      latencyMaxUs: Math.round(n(Q_LAT_MAX) / 1000),
      latencyAverageUs: completed
        ? Math.round(n(Q_LAT_SUM) / completed / 1000)
        : 0,
      cpuUsage: elapsedUs ? +(n(Q_CPU) / 1000 / elapsedUs).toFixed(3) : 0,
      error,
      hostError,
      ok: error === 0 && hostError === 0,
      stopped: this.#stopped,
      opCounts,
      seed: this.#plan.seed,
    };
    const parts: string[] = [];
    if (error && error !== 0x7ff) {
      const opc = i32[W_ERROR_OPC];
      const sct = error >> 8, sc = error & 0xff;
      // 07/81 with a description: a read failed data verification (verify.c)
      const verify = error === 0x781 && !hostError ? this.#message() : "";
      parts.push(
        `ERROR status: ${hex2(sct)}/${hex2(sc)} ${
          verify ? `Data Verification Failed: ${verify}` : statusName(sct, sc)
        } (${commandName(opc, false)} lba ${u[Q_ERROR_LBA]} count ${
          i32[W_ERROR_NLB]
        }, sqid ${this.#qpair?.sqid})`,
      );
    }
    if (hostError) {
      let m = this.#message();
      if (hostError === IoWorkerHostError.TERMINATED && this.#terminated) {
        m = m.replace(/^terminated/, `terminated by ${this.#terminated}`);
      }
      parts.push(`host error ${hostError}: ${m}`);
    }
    if (parts.length) r.errorMessage = parts.join("; ");
    const sab = this.#sab!;
    if (this.options.outputIoPerSecond) {
      const used = Math.min(n(Q_IPS_USED), this.#plan.ipsN);
      r.ioPerSecond = [...new Uint32Array(sab, lay.ips, used)];
    }
    if (this.options.outputPercentileLatency !== undefined) {
      r.latencyPercentiles = {};
      this.#plan.percentiles.forEach((p, i) => {
        r.latencyPercentiles![String(p)] = n(Q_PCT + i);
      });
      const hist = new BigUint64Array(sab, lay.hist, lay.buckets);
      const dist: [number, number][] = [];
      for (let i = 0; i < hist.length; i++) {
        if (hist[i]) dist.push([bucketHigh(i), Number(hist[i])]);
      }
      r.latencyDistribution = dist;
    }
    if (this.#plan.cmdlogN) {
      const N = this.#plan.cmdlogN;
      const count = n(Q_CMDLOG_COUNT);
      const have = Math.min(N, count);
      const dv = new DataView(sab, lay.cmdlog, N * REC_SIZE);
      const out: IoRecord[] = [];
      for (let k = count - have; k < count; k++) {
        const at = (k % N) * REC_SIZE;
        out.push({
          lba: Number(dv.getBigUint64(at + REC.slba, true)),
          timeUs: Number(dv.getBigUint64(at + REC.time_us, true)),
          count: dv.getUint32(at + REC.nlb, true),
          latencyUs: dv.getUint32(at + REC.latency_us, true),
          status: dv.getUint16(at + REC.status, true),
          opcode: dv.getUint8(at + REC.opcode),
          cid: dv.getUint16(at + REC.cid, true),
        });
      }
      r.cmdlog = out;
    }
    return r;
  }

  #fillOutputs(r: IoWorkerResult): void {
    const o = this.options;
    if (Array.isArray(o.outputIoPerSecond) && r.ioPerSecond) {
      o.outputIoPerSecond.splice(
        0,
        o.outputIoPerSecond.length,
        ...r.ioPerSecond,
      );
    }
    const pl = o.outputPercentileLatency;
    if (pl && !Array.isArray(pl) && r.latencyPercentiles) {
      for (const k of Object.keys(pl)) {
        (pl as Record<string, number | null>)[k] =
          r.latencyPercentiles[String(Number(k))] ?? null;
      }
    }
    if (Array.isArray(o.outputCmdlogList) && r.cmdlog) {
      const N = o.outputCmdlogList.length;
      const recs = r.cmdlog.map((x) => [x.lba, x.count, x.opcode]);
      o.outputCmdlogList.splice(
        0,
        N,
        ...Array(N - recs.length).fill(null),
        ...recs,
      );
    }
  }

  #warn(r: IoWorkerResult): void {
    if (!r.errorMessage) return;
    // resets, power events and a gone device: the script caused them or sees them
    if (
      r.hostError === IoWorkerHostError.TERMINATED ||
      r.hostError === IoWorkerHostError.DEVICE_GONE ||
      // start() threw these
      r.hostError === IoWorkerHostError.INIT ||
      r.hostError === IoWorkerHostError.NO_MEMORY
    ) {
      return;
    }
    if (!r.hostError && r.error) {
      const cpl = new Completion(
        [0, 0, 0, (r.error << 17) >>> 0],
        0,
        0,
        this.#i32![W_ERROR_OPC],
      );
      if (matchExpected(cpl)) return;
    }
    console.warn(`${this.label}: ${r.errorMessage}`);
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

guardClass(IoWorker, IOWORKER);

/**
 * The console thread's view of the script: the live objects it was told about
 * (console/registry.ts), and snapshots read from C memory through this
 * thread's own libnvmeshim handle — queue state and cmdlogs (copied under the
 * library's snapshot lock, safe while the script deletes them), registers
 * (one device access each, at the refresh rate only) and ioworker progress
 * (the workers' shared memory, sampled once a second).
 *
 * @module
 */
import { lastError, lib } from "../ffi/lib.ts";
import {
  type CmdlogEntry,
  decodeCmdlogEntry,
  formatEntry,
} from "../ffi/cmdlog.ts";
import {
  NVME_CMDLOG_ENTRY,
  NVME_CTRL_REGS as REGS,
  NVME_PCIE_INFO,
  NVME_SQ_SNAPSHOT as SNAP,
} from "../ffi/abi.gen.ts";
import { CStruct } from "../ffi/cstruct.ts";
import { decodeAsyncEvent } from "../ffi/structs.ts";
import { decodeRegisterSnapshot, type Register } from "./regs.ts";
import {
  Q_COMPLETED,
  Q_ELAPSED_US,
  Q_IN_FLIGHT,
  Q_LAT_MAX,
  Q_LAT_SUM,
  Q_READS,
  Q_SUBMITTED,
  Q_WRITES,
  W_DONE,
  W_ERROR,
  W_HOST_ERROR,
} from "../ffi/ioworker_layout.ts";

const ENTRY = NVME_CMDLOG_ENTRY.sizeof;

/** A controller as announced. */
export interface CtrlInfo {
  /** Handle. */
  ctrl: number;
  /** PCIe function handle. */
  pcie: number;
  /** Device name (--dut). */
  dut: string;
  /** Transport description. */
  transport: string;
  /** Model number. */
  model: string;
  /** Serial number. */
  serial: string;
  /** Firmware revision. */
  firmware: string;
  /** Closed by the script. */
  closed?: boolean;
}

/** A queue pair as announced. */
export interface QueueInfo {
  /** Controller handle. */
  ctrl: number;
  /** Queue id. */
  qid: number;
  /** SQ handle (the key). */
  sq: number;
  /** CQ handle. */
  cq: number;
  /** Depth. */
  depth: number;
  /** Label. */
  label: string;
}

/** An ioworker as announced plus its samples. */
export interface IoworkerInfo {
  /** Label ("ioworker 3 (nsid 1)"). */
  label: string;
  /** Controller handle. */
  ctrl: number;
  /** Namespace. */
  nsid: number;
  /** Its SQ handle. */
  sq: number;
  /** Its queue id. */
  qid: number;
  /** Queue depth. */
  qdepth: number;
  /** Progress memory. */
  shm: SharedArrayBuffer;
  /** Header size in bytes. */
  header: number;
  /** Done. */
  done?: boolean;
  /** One sample per refresh: [time ms, IOPS, average latency µs]. */
  samples: [number, number, number][];
  /** Last raw counters. */
  last?: { t: number; completed: number; latSum: number };
}

/** What the console knows; one instance per console thread. */
export class ConsoleState {
  /** Controllers by handle. */
  readonly controllers: Map<number, CtrlInfo> = new Map();
  /** Queues by SQ handle. */
  readonly queues: Map<number, QueueInfo> = new Map();
  /** Ioworkers by label. */
  readonly ioworkers: Map<string, IoworkerInfo> = new Map();
  /** AER events, newest last. */
  readonly aer: { t: number; ctrl: number; cdw0: number; text: string }[] = [];
  /** Test harness records, newest last. */
  readonly tests: Record<string, unknown>[] = [];
  /** SMART temperature samples: [time ms, ctrl, °C]. */
  readonly temperature: [number, number, number][] = [];
  #lastIostat = new Map<number, number>();

  /** Take one note from the script's thread. */
  note(n: { kind: string; [k: string]: unknown }): void {
    switch (n.kind) {
      case "controller":
        this.controllers.set(n.ctrl as number, n as unknown as CtrlInfo);
        break;
      case "controller-gone": {
        const c = this.controllers.get(n.ctrl as number);
        if (c) c.closed = true;
        for (const [sq, q] of this.queues) {
          if (q.ctrl === n.ctrl) this.queues.delete(sq);
        }
        break;
      }
      case "queue":
        this.queues.set(n.sq as number, n as unknown as QueueInfo);
        break;
      case "queue-gone":
        this.queues.delete(n.sq as number);
        break;
      case "ioworker":
        this.ioworkers.set(n.label as string, {
          ...(n as unknown as IoworkerInfo),
          samples: [],
        });
        if (this.ioworkers.size > 64) {
          const old = [...this.ioworkers.values()].find((w) => w.done);
          if (old) this.ioworkers.delete(old.label);
        }
        break;
      case "ioworker-done": {
        const w = this.ioworkers.get(n.label as string);
        if (w) {
          this.sampleOne(w);
          w.done = true;
        }
        break;
      }
      case "aer": {
        const cdw0 = n.cdw0 as number;
        const e = decodeAsyncEvent(cdw0);
        this.aer.push({
          t: Date.now(),
          ctrl: n.ctrl as number,
          cdw0,
          text: `${e.typeName}: ${e.infoName}, log page 0x${
            e.logPage.toString(16)
          }`,
        });
        if (this.aer.length > 500) this.aer.shift();
        break;
      }
      case "test":
        this.tests.push(n);
        if (this.tests.length > 2000) this.tests.shift();
        break;
    }
  }

  /** Sample every running ioworker's progress (once per refresh; reads shared memory only). */
  sample(): void {
    for (const w of this.ioworkers.values()) if (!w.done) this.sampleOne(w);
  }

  sampleOne(w: IoworkerInfo): void {
    const u = new BigUint64Array(w.shm, 0, w.header >> 3);
    const t = performance.now();
    const completed = Number(Atomics.load(u, Q_COMPLETED));
    const latSum = Number(Atomics.load(u, Q_LAT_SUM));
    if (w.last && t > w.last.t) {
      const n = completed - w.last.completed;
      const iops = Math.round(n * 1000 / (t - w.last.t));
      const lat = n > 0 ? (latSum - w.last.latSum) / n / 1000 : 0; // ns -> µs
      w.samples.push([Date.now(), iops, Math.round(lat * 10) / 10]);
      if (w.samples.length > 600) w.samples.shift();
    }
    w.last = { t, completed, latSum };
  }

  /** An ioworker's progress as JSON. */
  ioworkerJson(w: IoworkerInfo): Record<string, unknown> {
    const u = new BigUint64Array(w.shm, 0, w.header >> 3);
    const i32 = new Int32Array(w.shm, 0, 8);
    const n = (i: number) => Number(Atomics.load(u, i));
    const completed = n(Q_COMPLETED);
    const last = w.samples.at(-1);
    return {
      label: w.label,
      ctrl: w.ctrl,
      nsid: w.nsid,
      qid: w.qid,
      qdepth: w.qdepth,
      running: !w.done && !Atomics.load(i32, W_DONE),
      seconds: n(Q_ELAPSED_US) / 1e6,
      submitted: n(Q_SUBMITTED),
      completed,
      reads: n(Q_READS),
      writes: n(Q_WRITES),
      inFlight: n(Q_IN_FLIGHT),
      latencyAverageUs: completed ? n(Q_LAT_SUM) / completed / 1000 : 0,
      latencyMaxUs: Math.round(n(Q_LAT_MAX) / 1000),
      iops: last ? last[1] : 0,
      latencyUs: last ? last[2] : 0,
      error: Atomics.load(i32, W_ERROR) >>> 0,
      hostError: Atomics.load(i32, W_HOST_ERROR),
      samples: w.samples,
    };
  }

  /** Decoded registers of a controller (through the device: call at the refresh rate only). */
  registers(ctrl: number): Register[] {
    const out = new CStruct(REGS);
    const r = lib.nvme_ctrl_regs_snapshot(ctrl, out.bytes, out.size);
    if (r < 0) throw new Error(lastError() || `error ${r}`);
    return decodeRegisterSnapshot(
      [
        REGS.cap,
        REGS.vs,
        REGS.intms,
        REGS.cc,
        REGS.csts,
        REGS.aqa,
        REGS.asq,
        REGS.acq,
      ].map((off) => out.big(off)),
    );
  }

  /** Interrupt words of a controller's function (qemu transport: MSI-X writes land there). */
  #irqWords(pcie: number): Uint32Array | undefined {
    const o = new CStruct(NVME_PCIE_INFO);
    if (lib.nvme_pcie_info(pcie, o.bytes, o.size) < 0) return undefined;
    const addr = o.big(NVME_PCIE_INFO.irq_words);
    if (!addr) return undefined;
    const p = Deno.UnsafePointer.create(addr);
    if (!p) return undefined;
    return new Uint32Array(Deno.UnsafePointerView.getArrayBuffer(p, 4096));
  }

  /** Queue state (and up to `logN` newest cmdlog entries) of one SQ. */
  snapshot(sq: number, logN = 0): {
    stats: Record<string, number | boolean>;
    log: CmdlogEntry[];
  } | undefined {
    const q = this.queues.get(sq);
    if (!q) return undefined;
    const out = new CStruct(SNAP);
    const buf = new Uint8Array(Math.max(1, logN) * ENTRY);
    const n = lib.nvme_sq_snapshot(sq, out.bytes, out.size, buf, logN);
    if (n < 0) return undefined;
    const w = (off: number) => out.u64(off);
    const c = this.controllers.get(q.ctrl);
    const vector = w(SNAP.cq_vector), ien = w(SNAP.cq_ien) === 1;
    let irqSet: boolean | undefined;
    if (c && ien) {
      const words = this.#irqWords(c.pcie);
      if (words && vector < words.length) irqSet = words[vector] !== 0;
    }
    const stats = {
      ctrl: q.ctrl,
      sq,
      qid: w(SNAP.qid),
      depth: w(SNAP.size),
      sqTail: w(SNAP.tail),
      sqHead: w(SNAP.head),
      outstanding: w(SNAP.outstanding),
      timedOut: w(SNAP.timedout),
      cqid: w(SNAP.cq_qid),
      submitted: w(SNAP.submitted),
      completed: w(SNAP.completed),
      logged: w(SNAP.logged),
      cqHead: w(SNAP.cq_head),
      vector,
      ien,
      irqSet: irqSet ?? false,
      cqDepth: w(SNAP.cq_size),
      ioworker: w(SNAP.ioworker) !== 0,
    };
    const offsetMs = w(SNAP.real_ns) / 1e6 - w(SNAP.mono_ns) / 1e6;
    const log: CmdlogEntry[] = [];
    const admin = q.qid === 0;
    for (let i = 0; i < n; i++) {
      const dv = new DataView(buf.buffer, i * ENTRY, ENTRY);
      const seq = Number(dv.getBigUint64(NVME_CMDLOG_ENTRY.seq, true));
      if (seq !== w(SNAP.logged) - i) continue; // overwritten while copied
      log.push(decodeCmdlogEntry(dv, seq, q.qid, admin, offsetMs));
    }
    return { stats, log };
  }

  /** IOs completed on IO queues since the last call (pynvme's get_iostat). */
  iostat(): { ios: number; seconds: number } {
    let ios = 0;
    for (const [sq, q] of this.queues) {
      if (q.qid === 0) continue;
      const s = this.snapshot(sq, 0);
      if (!s) continue;
      const now = s.stats.completed as number;
      ios += now - (this.#lastIostat.get(sq) ?? 0);
      this.#lastIostat.set(sq, now);
    }
    const t = performance.now();
    const seconds = (t - (this.#iostatAt ?? t)) / 1000;
    this.#iostatAt = t;
    return { ios, seconds };
  }
  #iostatAt?: number;

  /** A harness summary: current test and counts so far. */
  testSummary(): Record<string, unknown> {
    const ends = new Map<string, Record<string, unknown>>();
    let current: Record<string, unknown> | undefined;
    for (const r of this.tests) {
      const key = `${r.file}\0${r.name}`;
      if (r.event === "start") {
        current = r;
        ends.delete(key);
      } else {
        ends.set(key, r);
        if (current && current.name === r.name && current.file === r.file) {
          current = undefined;
        }
      }
    }
    const count = (o: string) =>
      [...ends.values()].filter((r) => r.outcome === o).length;
    return {
      harness: this.tests.length > 0,
      current: current
        ? { name: current.name, file: current.file, seed: current.seed }
        : undefined,
      passed: count("pass"),
      failed: count("fail"),
      skipped: count("skip"),
      deviations: count("deviation"),
      recent: [...ends.values()].slice(-50).reverse(),
    };
  }
}

/** A cmdlog entry as JSON for the pages (with the `nvme cmdlog` line). */
export function entryJson(
  e: CmdlogEntry,
  admin: boolean,
): Record<string, unknown> {
  return {
    seq: e.seq,
    sqid: e.sqid,
    opcode: e.opcode,
    name: e.name,
    cid: e.cid,
    nsid: e.nsid,
    submitted: e.submitted,
    cdw: [...e.cdw],
    cqe: e.cqe,
    status: e.status,
    statusName: e.statusName,
    latencyUs: e.latencyUs,
    notes: e.notes,
    line: formatEntry(e, admin),
  };
}

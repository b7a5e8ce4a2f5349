/**
 * The command log: per queue, the last 2048 commands as submitted and their
 * completions, read in place from C memory and decoded.
 *
 * @module
 */
import { FUNCTIONS } from "./api_table.ts";
import { checkArgs } from "./validate.ts";
import { CPL_GONE, CPL_LATE, CPL_TIMEOUT, CPL_UNKNOWN } from "./completion.ts";
import { lib, mapMemory, unwrap } from "./lib.ts";
import { CStruct } from "./cstruct.ts";
import {
  NVME_CMDLOG_ENTRY,
  NVME_CMDLOG_INFO,
  NVME_LOG_DONE as LOG_DONE,
} from "./abi.gen.ts";
import { commandName, statusName, statusText } from "./status.ts";

const E = NVME_CMDLOG_ENTRY;
const ENTRY = E.sizeof;
const I = NVME_CMDLOG_INFO;

/**
 * One command of the log, decoded.
 *
 * ```ts
 * import { Qpair } from "../mod.ts";
 * declare const qpair: Qpair;
 * const [last] = qpair.cmdlog(1); // newest first
 * console.log(last.name, last.status, last.statusName, last.latencyUs);
 * ```
 */
export interface CmdlogEntry {
  /** Sequence number on its queue (1 = first command ever submitted). */
  seq: number;
  /** Queue id. */
  sqid: number;
  /** The 64-byte command as submitted (CID and data pointers filled in). */
  sqe: Uint8Array;
  /** The 16 command dwords. */
  cdw: Uint32Array;
  /** Opcode. */
  opcode: number;
  /** Command name. */
  name: string;
  /** Command identifier. */
  cid: number;
  /** Namespace identifier. */
  nsid: number;
  /** Submission time (wall clock, ms since the epoch, µs precision). */
  submitted: number;
  /** The completion's 4 dwords, or undefined while outstanding. */
  cqe?: [number, number, number, number];
  /** Status "SCT/SC" of the completion. */
  status?: string;
  /** Status name. */
  statusName?: string;
  /** Latency in µs (when completed). */
  latencyUs?: number;
  /** Driver notes: "timeout", "late", "unknown CQE", "lost". */
  notes: string[];
}

/**
 * A queue's log: maps the C ring once and decodes entries on demand; a
 * snapshot (a copy) survives the queue's deletion.
 */
export class Cmdlog {
  readonly #admin: boolean;
  readonly #sqid: number;
  #sq: number;
  #u8?: Uint8Array;
  #depth = 2048;
  #offsetMs = 0; // wall clock ms = monotonic ns / 1e6 + offset
  #written = 0;

  /** Wrap the log of C submission queue `sq`. */
  constructor(sq: number, sqid: number, admin: boolean) {
    this.#sq = sq;
    this.#sqid = sqid;
    this.#admin = admin;
  }

  #refresh(): void {
    if (!this.#sq) return; // a snapshot: frozen
    const o = new CStruct(I);
    unwrap(lib.nvme_sq_cmdlog(this.#sq, o.bytes, o.size));
    if (!this.#u8) {
      this.#depth = o.u64(I.depth);
      this.#u8 = new Uint8Array(
        mapMemory(o.big(I.entries), this.#depth * ENTRY),
      );
    }
    this.#written = o.u64(I.written);
    this.#offsetMs = o.u64(I.real_ns) / 1e6 - o.u64(I.mono_ns) / 1e6;
  }

  /** Copy the ring into JS memory: called before the C queue is freed. */
  freeze(): void {
    if (!this.#sq) return;
    try {
      this.#refresh();
      if (this.#u8) this.#u8 = this.#u8.slice();
    } catch {
      this.#u8 = undefined;
    }
    this.#sq = 0;
  }

  /** Commands logged so far (including those overwritten). */
  get written(): number {
    this.#refresh();
    return this.#written;
  }

  /** The last `count` entries (0: all kept), newest first. */
  entries(count = 0): CmdlogEntry[] {
    this.#refresh();
    const u8 = this.#u8;
    if (!u8) return [];
    const kept = Math.min(this.#written, this.#depth);
    const n = count > 0 ? Math.min(count, kept) : kept;
    const out: CmdlogEntry[] = [];
    for (let i = 0; i < n; i++) {
      const seq = this.#written - i;
      const at = (seq % this.#depth) * ENTRY;
      const dv = new DataView(u8.buffer, u8.byteOffset + at, ENTRY);
      if (Number(dv.getBigUint64(E.seq, true)) !== seq) continue;
      out.push(this.#decode(dv, seq));
    }
    return out;
  }

  #decode(dv: DataView, seq: number): CmdlogEntry {
    return decodeCmdlogEntry(dv, seq, this.#sqid, this.#admin, this.#offsetMs);
  }

  /** The last `count` entries as text, newest first, one command per line. */
  text(count = 0): string {
    const lines = this.entries(count).map((e) => formatEntry(e, this.#admin));
    return lines.length
      ? lines.join("\n")
      : `(cmdlog of queue ${this.#sqid} is empty)`;
  }
}

/**
 * @ignore @internal One struct nvme_cmdlog_entry (at `dv`), decoded: `offsetMs` turns
 * its CLOCK_MONOTONIC times into wall-clock ms.
 */
export function decodeCmdlogEntry(
  dv: DataView,
  seq: number,
  sqid: number,
  admin: boolean,
  offsetMs: number,
): CmdlogEntry {
  const sqe = new Uint8Array(
    dv.buffer.slice(dv.byteOffset + E.sqe, dv.byteOffset + E.sqe + 64),
  );
  const cdw = new Uint32Array(sqe.buffer);
  const flags = dv.getUint32(E.flags, true);
  const opcode = sqe[0];
  const e: CmdlogEntry = {
    seq,
    sqid: sqid,
    sqe,
    cdw,
    opcode,
    name: commandName(opcode, admin),
    cid: cdw[0] >>> 16,
    nsid: cdw[1],
    submitted: Number(dv.getBigUint64(E.submit_ns, true)) / 1e6 +
      offsetMs,
    notes: [],
  };
  if (flags & LOG_DONE) {
    const q: [number, number, number, number] = [
      dv.getUint32(E.cqe, true),
      dv.getUint32(E.cqe + 4, true),
      dv.getUint32(E.cqe + 8, true),
      dv.getUint32(E.cqe + 12, true),
    ];
    const st = (q[3] >>> 17) & 0x7fff;
    e.cqe = q;
    e.status = statusText((st >> 8) & 7, st & 0xff);
    e.statusName = statusName((st >> 8) & 7, st & 0xff);
    e.latencyUs = dv.getUint32(E.latency_us, true);
  }
  if (flags & CPL_TIMEOUT) e.notes.push("timeout");
  if (flags & CPL_LATE) e.notes.push("late completion after timeout");
  if (flags & CPL_UNKNOWN) {
    e.notes.push("CQE matching no outstanding command");
    e.name = "(unexpected completion)";
  }
  if (flags & CPL_GONE && admin && opcode === 0x0c) {
    // an AER still waiting when the controller closed or reset: it never
    // completed, and that is normal — show it as outstanding, not as 07/FF
    delete e.cqe;
    delete e.status;
    delete e.statusName;
    delete e.latencyUs;
    e.notes.push("outstanding when the controller closed or reset");
  } else if (flags & CPL_GONE) {
    e.notes.push("lost: device gone or queue reset");
  }
  return e;
}

const hex = (v: number | bigint, w = 8) =>
  `0x${v.toString(16).padStart(w, "0")}`;

/**
 * One line for a log entry.
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * for (const e of nvme0.cmdlog(5)) console.log(formatEntry(e, true));
 * // 2026-11-21T06:46:20.305247 q0 #2 Set Features (0x09) cid 0 ... -> 00/00 Successful Completion ...
 * ```
 */
export function formatEntry(e: CmdlogEntry, admin: boolean): string {
  checkArgs("formatEntry", FUNCTIONS.formatEntry, [e, admin]);
  const t = new Date(e.submitted).toISOString().replace("Z", "");
  const usec = String(Math.floor((e.submitted * 1000) % 1000)).padStart(3, "0");
  const dv = new DataView(e.sqe.buffer);
  let fields: string;
  if (!admin && [0x01, 0x02, 0x04, 0x05, 0x08, 0x0c].includes(e.opcode)) {
    const slba = dv.getBigUint64(40, true);
    fields = `slba ${slba} nlb ${(e.cdw[12] & 0xffff) + 1}${
      e.cdw[12] >>> 16 ? ` flags ${hex(e.cdw[12] >>> 16, 4)}` : ""
    }`;
  } else {
    fields = [10, 11, 12, 13, 14, 15].map((i) => `cdw${i} ${hex(e.cdw[i])}`)
      .join(" ");
  }
  const fuse = e.sqe[1] & 3 ? ` fuse ${e.sqe[1] & 3}` : "";
  const cpl = e.cqe
    ? `-> ${e.status} ${e.statusName} cdw0 ${hex(e.cqe[0])} sqhd ${
      e.cqe[2] & 0xffff
    } ${e.latencyUs} us`
    : "-> (outstanding)";
  const notes = e.notes.length ? ` [${e.notes.join(", ")}]` : "";
  return `${t}${usec} q${e.sqid} #${e.seq} ${e.name} (${
    hex(e.opcode, 2)
  }) cid ${e.cid} nsid ${hex(e.nsid)}${fuse} ${fields} prp1 ${
    hex(dv.getBigUint64(24, true), 12)
  } prp2 ${hex(dv.getBigUint64(32, true), 12)} ${cpl}${notes}`;
}

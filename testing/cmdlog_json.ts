/**
 * The machine-readable form of a queue's cmdlog in `test.log`: one line of
 * JSON per queue of a failed test, next to the text dump, holding every entry
 * losslessly (the 64-byte command and 16-byte completion in hex, the submit
 * time, the latency and the driver's notes). `deno task report` and
 * `deno task nvme cmdlog <test.log>` read it back into {@link CmdlogEntry}
 * records, decoded like the live cmdlog.
 *
 * Line format (after LogTape's timestamp, level and category):
 * `<test>: cmdlog of <queue> as JSON: {"test":...,"entries":[...]}`.
 *
 * @module
 */
import type { CmdlogEntry } from "../ffi/cmdlog.ts";
import { commandName, statusName, statusText } from "../ffi/status.ts";

/** The marker before the JSON in a log message. */
export const CMDLOG_JSON_MARK = " as JSON: ";

/**
 * A queue's cmdlog as written to and read from the test log.
 *
 * ```ts
 * declare const line: string;
 * const dump: CmdlogDump = decodeCmdlogDump(line);
 * console.log(`${dump.queue}: ${dump.entries.length} commands`);
 * ```
 */
export interface CmdlogDump {
  /** The test's name. */
  test: string;
  /** "admin queue" or "I/O queue N". */
  queue: string;
  /** Queue id (0: admin). */
  qid: number;
  /** True for the admin queue. */
  admin: boolean;
  /** True when the failing command was on this queue. */
  failing: boolean;
  /** Commands logged on the queue so far (older ones may be overwritten). */
  written: number;
  /** The entries, newest first. */
  entries: CmdlogEntry[];
}

interface EntryJson {
  seq: number;
  t: number;
  sqe: string;
  cqe?: string;
  lat?: number;
  notes?: string[];
  name?: string;
}

const toHex = (b: Uint8Array) =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

function fromHex(s: string, len: number): Uint8Array<ArrayBuffer> {
  if (!/^[0-9a-f]*$/i.test(s) || s.length !== 2 * len) {
    throw new Error(`cmdlog JSON: ${len}-byte hex expected, got "${s}"`);
  }
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  }
  return out;
}

/**
 * One line of JSON for a queue's cmdlog (the harness writes it for each
 * queue of a failed test).
 *
 * ```ts
 * import { Qpair } from "../mod.ts";
 * declare const qpair: Qpair;
 * const line = encodeCmdlogDump({
 *   test: "reads past the end", queue: "I/O queue 1", qid: 1, admin: false,
 *   failing: true, written: 2, entries: qpair.cmdlog(0),
 * });
 * ```
 */
export function encodeCmdlogDump(d: CmdlogDump): string {
  return JSON.stringify({
    test: d.test,
    queue: d.queue,
    qid: d.qid,
    admin: d.admin,
    failing: d.failing,
    written: d.written,
    entries: d.entries.map((e) => {
      const j: EntryJson = {
        seq: e.seq,
        t: e.submitted,
        sqe: toHex(e.sqe),
      };
      if (e.cqe) {
        const c = new Uint8Array(16);
        const dv = new DataView(c.buffer);
        e.cqe.forEach((v, i) => dv.setUint32(4 * i, v >>> 0, true));
        j.cqe = toHex(c);
        j.lat = e.latencyUs;
      }
      if (e.notes.length) j.notes = e.notes;
      if (e.name !== commandName(e.opcode, d.admin)) j.name = e.name;
      return j;
    }),
  });
}

/**
 * Rebuild a {@link CmdlogEntry} from its raw parts: the 64-byte command, the
 * completion's 4 dwords (undefined while outstanding), submit time, latency.
 *
 * ```ts
 * const sqe = new Uint8Array(64); // opcode 0: Delete I/O Submission Queue
 * const e = cmdlogEntry({ seq: 1, sqid: 0, admin: true, sqe, submitted: Date.now() });
 * ```
 */
export function cmdlogEntry(p: {
  seq: number;
  sqid: number;
  admin: boolean;
  sqe: Uint8Array<ArrayBuffer>;
  cqe?: [number, number, number, number];
  submitted: number;
  latencyUs?: number;
  notes?: string[];
  name?: string;
}): CmdlogEntry {
  const cdw = new Uint32Array(p.sqe.buffer, p.sqe.byteOffset, 16);
  const opcode = p.sqe[0];
  const e: CmdlogEntry = {
    seq: p.seq,
    sqid: p.sqid,
    sqe: p.sqe,
    cdw,
    opcode,
    name: p.name ?? commandName(opcode, p.admin),
    cid: cdw[0] >>> 16,
    nsid: cdw[1],
    submitted: p.submitted,
    notes: p.notes ?? [],
  };
  if (p.cqe) {
    const st = (p.cqe[3] >>> 17) & 0x7fff;
    e.cqe = p.cqe;
    e.status = statusText((st >> 8) & 7, st & 0xff);
    e.statusName = statusName((st >> 8) & 7, st & 0xff);
    e.latencyUs = p.latencyUs;
  }
  return e;
}

/**
 * Parse a line written by {@link encodeCmdlogDump} (or the log message that
 * contains it, after {@link CMDLOG_JSON_MARK}).
 *
 * ```ts
 * declare const line: string;
 * import { formatEntry } from "../mod.ts";
 * const dump = decodeCmdlogDump(line);
 * for (const e of dump.entries) console.log(formatEntry(e, dump.admin));
 * ```
 */
export function decodeCmdlogDump(text: string): CmdlogDump {
  const at = text.indexOf(CMDLOG_JSON_MARK);
  const json = at >= 0 && !text.trimStart().startsWith("{")
    ? text.slice(at + CMDLOG_JSON_MARK.length)
    : text;
  const o = JSON.parse(json) as Omit<CmdlogDump, "entries"> & {
    entries: EntryJson[];
  };
  return {
    test: o.test,
    queue: o.queue,
    qid: o.qid,
    admin: o.admin,
    failing: o.failing,
    written: o.written,
    entries: o.entries.map((j) => {
      let cqe: [number, number, number, number] | undefined;
      if (j.cqe) {
        const dv = new DataView(fromHex(j.cqe, 16).buffer);
        cqe = [0, 1, 2, 3].map((i) => dv.getUint32(4 * i, true)) as [
          number,
          number,
          number,
          number,
        ];
      }
      return cmdlogEntry({
        seq: j.seq,
        sqid: o.qid,
        admin: o.admin,
        sqe: fromHex(j.sqe, 64),
        cqe,
        submitted: j.t,
        latencyUs: j.lat,
        notes: j.notes,
        name: j.name,
      });
    }),
  };
}

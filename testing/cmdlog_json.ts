/**
 * The machine-readable form of a queue's cmdlog in the structured test record
 * (`test.record.jsonl`, property `cmdlog` of the dump records of a failed test):
 * every entry losslessly (the 64-byte command and 16-byte completion in hex,
 * the submit time, the latency and the driver's notes). `deno task report`
 * and `deno task nvme cmdlog` read it back into {@link CmdlogEntry} records,
 * decoded like the live cmdlog.
 *
 * @module
 */
import type { CmdlogEntry } from "../ffi/cmdlog.ts";
import { commandName, statusName, statusText } from "../ffi/status.ts";

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

/**
 * One cmdlog entry as JSON.
 *
 * ```ts
 * const j: EntryJson = { seq: 1, t: Date.now(), sqe: "06".padEnd(128, "0") };
 * ```
 */
export interface EntryJson {
  /** Sequence number on its queue. */
  seq: number;
  /** Submit time (ms since the epoch). */
  t: number;
  /** The 64-byte command in hex. */
  sqe: string;
  /** The 16-byte completion in hex (absent while outstanding). */
  cqe?: string;
  /** Latency in µs. */
  lat?: number;
  /** The driver's notes (timeout, lost, ...). */
  notes?: string[];
  /** The name, when it is not the opcode's. */
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
 * A queue's cmdlog as a JSON value (the harness records it for each queue of
 * a failed test).
 *
 * ```ts
 * import { Qpair } from "../mod.ts";
 * declare const qpair: Qpair;
 * const json = cmdlogDumpJson({
 *   test: "reads past the end", queue: "I/O queue 1", qid: 1, admin: false,
 *   failing: true, written: 2, entries: qpair.cmdlog(0),
 * });
 * ```
 */
export function cmdlogDumpJson(d: CmdlogDump): CmdlogDumpJson {
  return {
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
  };
}

/**
 * {@link CmdlogDump} as JSON: the entries in their lossless form.
 *
 * ```ts
 * declare const dump: CmdlogDump;
 * const j: CmdlogDumpJson = cmdlogDumpJson(dump);
 * console.log(j.entries[0].sqe); // 128 hex digits
 * ```
 */
export type CmdlogDumpJson = Omit<CmdlogDump, "entries"> & {
  /** The entries, newest first. */
  entries: EntryJson[];
};

/**
 * One line of JSON for a queue's cmdlog ({@link cmdlogDumpJson} as text).
 *
 * ```ts
 * declare const dump: CmdlogDump;
 * const line = encodeCmdlogDump(dump);
 * ```
 */
export function encodeCmdlogDump(d: CmdlogDump): string {
  return JSON.stringify(cmdlogDumpJson(d));
}

/**
 * Rebuild a {@link CmdlogEntry} from its raw parts: the 64-byte command, the
 * completion's 4 dwords (undefined while outstanding), submit time, latency.
 *
 * ```ts
 * const sqe = new Uint8Array(64);
 * sqe[0] = 0x06; // Identify
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
 * Parse a line written by {@link encodeCmdlogDump}, or the JSON value of
 * {@link cmdlogDumpJson}.
 *
 * ```ts
 * declare const line: string;
 * import { formatEntry } from "../mod.ts";
 * const dump = decodeCmdlogDump(line);
 * for (const e of dump.entries) console.log(formatEntry(e, dump.admin));
 * ```
 */
export function decodeCmdlogDump(json: string | CmdlogDumpJson): CmdlogDump {
  const o = typeof json === "string"
    ? JSON.parse(json) as CmdlogDumpJson
    : json;
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

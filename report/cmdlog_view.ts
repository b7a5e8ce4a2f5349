/**
 * The cmdlog viewer: each command of a queue's cmdlog decoded — its name, its
 * fields by name (Get Log Page's log id and length, Set Features' feature and
 * value, a read's LBA range and flags, a queue's size and vector, ...), the
 * status by name, the latency — as a text table for terminals and as an HTML
 * table for reports.
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * import { cmdlogText } from "./cmdlog_view.ts";
 *
 * using nvme0 = new Controller("qemu");
 * console.log(cmdlogText(nvme0.cmdlog(20), { admin: true }));
 * ```
 *
 * @module
 */
import type { CmdlogEntry } from "../mod.ts";
import { escapeHtml, htmlTable } from "./html.ts";
import { FEATURES, LOG_PAGES } from "../ffi/names.ts";

export { FEATURES, LOG_PAGES };

const hex = (v: number | bigint, w = 2) =>
  `0x${v.toString(16).padStart(w, "0")}`;
const hexh = (v: number, w = 2) => `${v.toString(16).padStart(w, "0")}h`;

const CNS: Record<number, string> = {
  0x00: "namespace",
  0x01: "controller",
  0x02: "active namespace list",
  0x03: "namespace id descriptors",
  0x04: "NVM set list",
  0x05: "I/O command set namespace",
  0x06: "I/O command set controller",
  0x07: "active namespaces of a command set",
  0x08: "command set independent namespace",
  0x10: "allocated namespace list",
  0x11: "allocated namespace",
  0x12: "controllers attached to the namespace",
  0x13: "controller list",
  0x14: "primary controller capabilities",
  0x15: "secondary controller list",
  0x16: "namespace granularity list",
  0x17: "UUID list",
  0x1c: "I/O command set combinations",
};

const SANACT: Record<number, string> = {
  1: "exit failure mode",
  2: "block erase",
  3: "overwrite",
  4: "crypto erase",
};

const ZSA: Record<number, string> = {
  1: "close",
  2: "finish",
  3: "open",
  4: "reset",
  5: "offline",
  0x10: "set zone descriptor extension",
};

const SEL = ["current", "default", "saved", "supported capabilities"];

function lbaFields(e: CmdlogEntry, dv: DataView): string[] {
  const f = [
    `slba ${dv.getBigUint64(40, true)}`,
    `nlb ${(e.cdw[12] & 0xffff) + 1}`,
  ];
  const c12 = e.cdw[12];
  if (c12 >>> 31) f.push("LR");
  if ((c12 >>> 30) & 1) f.push("FUA");
  if ((c12 >>> 26) & 0xf) f.push(`prinfo ${hex((c12 >>> 26) & 0xf, 1)}`);
  if (e.opcode === 0x08 && (c12 >>> 25) & 1) f.push("DEAC");
  if (e.opcode === 0x01 && (c12 >>> 20) & 0xf) {
    f.push(`dtype ${(c12 >>> 20) & 0xf}`);
  }
  if (e.cdw[13] & 0xff) f.push(`dsm ${hex(e.cdw[13] & 0xff)}`);
  return f;
}

/**
 * The fields of a command by name, as text ("LID 02h SMART / Health
 * Information, 512 bytes"); `admin` tells admin from I/O opcodes.
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * commandFields(nvme0.cmdlog(1)[0], true); // e.g. "FID 07h Number of Queues, value 0x003f003f"
 * ```
 */
export function commandFields(e: CmdlogEntry, admin: boolean): string {
  const dv = new DataView(e.sqe.buffer, e.sqe.byteOffset, 64);
  const c = e.cdw;
  const f: string[] = [];
  if (admin) {
    switch (e.opcode) {
      case 0x00:
      case 0x04:
        f.push(`qid ${c[10] & 0xffff}`);
        break;
      case 0x01:
        f.push(
          `qid ${c[10] & 0xffff}`,
          `qsize ${(c[10] >>> 16) + 1}`,
          `cqid ${c[11] >>> 16}`,
          `qprio ${(c[11] >>> 1) & 3}`,
        );
        if (!(c[11] & 1)) f.push("not contiguous");
        break;
      case 0x05:
        f.push(
          `qid ${c[10] & 0xffff}`,
          `qsize ${(c[10] >>> 16) + 1}`,
          `iv ${c[11] >>> 16}`,
          (c[11] >>> 1) & 1 ? "interrupts on" : "interrupts off",
        );
        if (!(c[11] & 1)) f.push("not contiguous");
        break;
      case 0x02: {
        const lid = c[10] & 0xff;
        const numd = (((c[11] & 0xffff) << 16) | (c[10] >>> 16)) >>> 0;
        const lpo = BigInt(c[12]) | (BigInt(c[13]) << 32n);
        f.push(
          `LID ${hexh(lid)} ${LOG_PAGES[lid] ?? "(vendor or reserved)"}`,
          `${(numd + 1) * 4} bytes`,
        );
        if (lpo) f.push(`offset ${lpo}`);
        if ((c[10] >>> 8) & 0x7f) f.push(`lsp ${(c[10] >>> 8) & 0x7f}`);
        if ((c[10] >>> 15) & 1) f.push("RAE");
        break;
      }
      case 0x06: {
        const cns = c[10] & 0xff;
        f.push(`CNS ${hexh(cns)} ${CNS[cns] ?? "(reserved)"}`);
        if (c[10] >>> 16) f.push(`cntid ${c[10] >>> 16}`);
        if (c[11] >>> 24) f.push(`csi ${c[11] >>> 24}`);
        break;
      }
      case 0x08:
        f.push(`sqid ${c[10] & 0xffff}`, `cid ${c[10] >>> 16}`);
        break;
      case 0x09:
      case 0x0a: {
        const fid = c[10] & 0xff;
        f.push(`FID ${hexh(fid)} ${FEATURES[fid] ?? "(vendor or reserved)"}`);
        if (e.opcode === 0x09) {
          f.push(`value ${hex(c[11], 8)}`);
          if (c[10] >>> 31) f.push("save");
        } else {
          f.push(SEL[(c[10] >>> 8) & 7] ?? `sel ${(c[10] >>> 8) & 7}`);
          if (c[11]) f.push(`cdw11 ${hex(c[11], 8)}`);
        }
        break;
      }
      case 0x0d:
        f.push(
          (c[10] & 0xf) === 0
            ? "create"
            : (c[10] & 0xf) === 1
            ? "delete"
            : `sel ${c[10] & 0xf}`,
        );
        break;
      case 0x10:
        f.push(`slot ${c[10] & 7}`, `action ${(c[10] >>> 3) & 7}`);
        if (c[10] >>> 31) f.push("boot partition");
        break;
      case 0x11:
        f.push(`${(c[10] + 1) * 4} bytes`, `offset ${c[11] * 4}`);
        break;
      case 0x14: {
        const stc = c[10] & 0xf;
        f.push(
          ({ 1: "short", 2: "extended", 0xe: "vendor", 0xf: "abort" } as Record<
            number,
            string
          >)[stc] ?? `stc ${stc}`,
        );
        break;
      }
      case 0x15:
        f.push(
          (c[10] & 0xf) === 0
            ? "attach"
            : (c[10] & 0xf) === 1
            ? "detach"
            : `sel ${c[10] & 0xf}`,
        );
        break;
      case 0x80: {
        const lbaf = (c[10] & 0xf) | (((c[10] >>> 12) & 3) << 4);
        f.push(`lbaf ${lbaf}`, `ses ${(c[10] >>> 9) & 7}`);
        if ((c[10] >>> 5) & 7) {
          f.push(`pi ${(c[10] >>> 5) & 7}`, `pil ${(c[10] >>> 8) & 1}`);
        }
        if ((c[10] >>> 4) & 1) f.push("mset");
        break;
      }
      case 0x81:
      case 0x82:
        f.push(
          `secp ${hex(c[10] >>> 24)}`,
          `spsp ${hex((c[10] >>> 8) & 0xffff, 4)}`,
          `${c[11]} bytes`,
        );
        break;
      case 0x84: {
        const act = c[10] & 7;
        f.push(SANACT[act] ?? `sanact ${act}`);
        if ((c[10] >>> 3) & 1) f.push("AUSE");
        if (act === 3) {
          f.push(
            `passes ${((c[10] >>> 4) & 0xf) || 16}`,
            `pattern ${hex(c[11], 8)}`,
          );
        }
        if ((c[10] >>> 9) & 1) f.push("NODAS");
        break;
      }
      case 0x0c:
      case 0x18:
        break;
      default:
        for (const i of [10, 11, 12, 13, 14, 15]) {
          if (c[i]) f.push(`cdw${i} ${hex(c[i], 8)}`);
        }
    }
  } else {
    switch (e.opcode) {
      case 0x00:
        break;
      case 0x01:
      case 0x02:
      case 0x04:
      case 0x05:
      case 0x08:
      case 0x0c:
        f.push(...lbaFields(e, dv));
        break;
      case 0x09: {
        const attr = c[11];
        f.push(
          `${(c[10] & 0xff) + 1} range${c[10] & 0xff ? "s" : ""}`,
          ...(attr & 4 ? ["deallocate"] : []),
          ...(attr & 2 ? ["IDW"] : []),
          ...(attr & 1 ? ["IDR"] : []),
        );
        break;
      }
      case 0x19:
        f.push(
          `sdlba ${dv.getBigUint64(40, true)}`,
          `${(c[12] & 0xff) + 1} range${c[12] & 0xff ? "s" : ""}`,
        );
        if ((c[12] >>> 8) & 0xf) f.push(`format ${(c[12] >>> 8) & 0xf}`);
        break;
      case 0x79: {
        const zsa = c[13] & 0xff;
        f.push(`slba ${dv.getBigUint64(40, true)}`, ZSA[zsa] ?? `zsa ${zsa}`);
        if ((c[13] >>> 8) & 1) f.push("all zones");
        break;
      }
      case 0x7a:
        f.push(
          `slba ${dv.getBigUint64(40, true)}`,
          `${(c[12] + 1) * 4} bytes`,
          `zra ${c[13] & 0xff}`,
        );
        if ((c[13] >>> 16) & 1) f.push("partial");
        break;
      case 0x7d:
        f.push(
          `zslba ${dv.getBigUint64(40, true)}`,
          `nlb ${(c[12] & 0xffff) + 1}`,
        );
        break;
      default:
        for (const i of [10, 11, 12, 13, 14, 15]) {
          if (c[i]) f.push(`cdw${i} ${hex(c[i], 8)}`);
        }
    }
  }
  const fuse = e.sqe[1] & 3;
  if (fuse) f.push(fuse === 1 ? "fused first" : "fused second");
  if ((e.sqe[1] >>> 6) & 3) f.push("SGL");
  return f.join(", ");
}

/**
 * One decoded row of a cmdlog view.
 *
 * ```ts
 * import { Qpair } from "../mod.ts";
 * declare const qpair: Qpair;
 * const failed: CmdlogRow[] = cmdlogRows(qpair.cmdlog(), false).filter((r) => r.error);
 * ```
 */
export interface CmdlogRow {
  /** Sequence number on its queue. */
  seq: number;
  /** Submission time, ms since the epoch. */
  submitted: number;
  /** Milliseconds since the oldest entry shown. */
  relMs: number;
  /** Queue id. */
  qid: number;
  /** Command identifier. */
  cid: number;
  /** Opcode. */
  opcode: number;
  /** Command name. */
  name: string;
  /** Namespace identifier. */
  nsid: number;
  /** The fields, decoded ({@link commandFields}). */
  fields: string;
  /** "SCT/SC", or "" while outstanding. */
  status: string;
  /** Status name, or "outstanding". */
  statusName: string;
  /** Completion dword 0. */
  cdw0?: number;
  /** Latency in µs. */
  latencyUs?: number;
  /** Driver notes (timeout, late, lost). */
  notes: string[];
  /** True when the status is not Successful Completion (or a note says why). */
  error: boolean;
}

/**
 * Decode entries (as `cmdlog()` returns them, newest first) into rows.
 *
 * ```ts
 * import { Qpair } from "../mod.ts";
 * declare const qpair: Qpair;
 * const rows = cmdlogRows(qpair.cmdlog(50), false);
 * const failed = rows.filter((r) => r.error);
 * ```
 */
export function cmdlogRows(
  entries: readonly CmdlogEntry[],
  admin: boolean,
): CmdlogRow[] {
  const t0 = entries.length ? Math.min(...entries.map((e) => e.submitted)) : 0;
  return entries.map((e) => ({
    seq: e.seq,
    submitted: e.submitted,
    relMs: e.submitted - t0,
    qid: e.sqid,
    cid: e.cid,
    opcode: e.opcode,
    name: e.name,
    nsid: e.nsid,
    fields: commandFields(e, admin),
    status: e.status ?? "",
    statusName: e.statusName ?? "outstanding",
    cdw0: e.cqe?.[0],
    latencyUs: e.latencyUs,
    notes: e.notes,
    error: (e.status !== undefined && e.status !== "00/00") ||
      e.notes.length > 0,
  }));
}

/**
 * Options of {@link cmdlogText} and {@link cmdlogHtml}.
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * const opts: CmdlogViewOptions = { admin: true, color: true, oldestFirst: true };
 * console.log(cmdlogText(nvme0.cmdlog(20), opts));
 * ```
 */
export interface CmdlogViewOptions {
  /** Admin queue entries (decodes admin opcodes). Default: sqid 0. */
  admin?: boolean;
  /** Colour the failed commands (ANSI; text only). Default false. */
  color?: boolean;
  /** Oldest first instead of newest first. Default false. */
  oldestFirst?: boolean;
}

function timeOf(ms: number): string {
  const d = new Date(ms);
  const us = Math.floor((ms * 1000) % 1000);
  return `${d.toISOString().slice(11, 23)}${String(us).padStart(3, "0")}`;
}

/**
 * A cmdlog as a text table, one command per line: sequence number, time,
 * queue, CID, command, NSID, fields, status with its name, CDW0, latency.
 *
 * ```ts
 * import { Qpair } from "../mod.ts";
 * declare const qpair: Qpair;
 * console.log(cmdlogText(qpair.cmdlog(20)));
 * ```
 */
export function cmdlogText(
  entries: readonly CmdlogEntry[],
  opts: CmdlogViewOptions = {},
): string {
  if (!entries.length) return "(no commands)";
  const admin = opts.admin ?? entries[0].sqid === 0;
  let rows = cmdlogRows(entries, admin);
  if (opts.oldestFirst) rows = rows.reverse();
  const cols = rows.map((r) => [
    `#${r.seq}`,
    timeOf(r.submitted),
    `q${r.qid}`,
    `cid ${r.cid}`,
    `${r.name} (${hex(r.opcode)})`,
    r.nsid ? `nsid ${r.nsid === 0xffffffff ? "all" : r.nsid}` : "",
    r.fields,
    r.status ? `${r.status} ${r.statusName}` : "(outstanding)",
    r.cdw0 ? `cdw0 ${hex(r.cdw0, 8)}` : "",
    r.latencyUs !== undefined ? `${r.latencyUs} us` : "",
    r.notes.length ? `[${r.notes.join(", ")}]` : "",
  ]);
  const widths = cols[0].map((_, i) =>
    i === 6 ? 0 : Math.max(...cols.map((c) => c[i].length))
  );
  const fieldW = Math.min(60, Math.max(...cols.map((c) => c[6].length)));
  return cols.map((c, k) => {
    const line = c.map((v, i) =>
      i === c.length - 1 ? v : v.padEnd(i === 6 ? fieldW : widths[i])
    ).join("  ").trimEnd();
    return opts.color && rows[k].error ? `\x1b[31m${line}\x1b[0m` : line;
  }).join("\n");
}

/**
 * A cmdlog as an HTML table (failed commands highlighted), newest first.
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * const table = cmdlogHtml(nvme0.cmdlog(100), { admin: true });
 * ```
 */
export function cmdlogHtml(
  entries: readonly CmdlogEntry[],
  opts: CmdlogViewOptions = {},
): string {
  if (!entries.length) return `<p class="muted">(no commands)</p>`;
  const admin = opts.admin ?? entries[0].sqid === 0;
  let rows = cmdlogRows(entries, admin);
  if (opts.oldestFirst) rows = rows.reverse();
  const num = (v: string) => ({ html: escapeHtml(v), class: "num" });
  return htmlTable(
    [
      "#",
      "time",
      "cid",
      "command",
      "nsid",
      "fields",
      "status",
      "cdw0",
      "latency",
    ],
    rows.map((r) => [
      num(String(r.seq)),
      timeOf(r.submitted),
      num(String(r.cid)),
      `${r.name} (${hex(r.opcode)})`,
      r.nsid ? (r.nsid === 0xffffffff ? "all" : String(r.nsid)) : "",
      r.fields,
      {
        html: `${
          r.status
            ? `<span class="${r.error ? "fail" : ""}">${
              escapeHtml(`${r.status} ${r.statusName}`)
            }</span>`
            : "(outstanding)"
        }${
          r.notes.length
            ? ` <span class="deviation">[${
              escapeHtml(r.notes.join(", "))
            }]</span>`
            : ""
        }`,
      },
      r.cdw0 !== undefined ? hex(r.cdw0, 8) : "",
      num(r.latencyUs !== undefined ? `${r.latencyUs} µs` : ""),
    ]),
    { class: "cmdlog", rowClass: (i) => rows[i].error ? "err" : undefined },
  );
}

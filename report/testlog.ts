/**
 * Reading test runs back: the harness's `test.log` (LogTape text records:
 * each test's start, seed, outcome, the error of a failed test with its
 * stack, and the cmdlog of every queue of a failed test — machine-readable
 * JSON when the harness wrote it, else the text dump, parsed), and Deno's
 * JUnit XML (`deno test --junit-path`), which also lists the plain
 * `Deno.test`s.
 *
 * ```ts
 * import { parseJUnit, parseTestLog, mergeJUnit } from "./testlog.ts";
 *
 * const log = parseTestLog(Deno.readTextFileSync("test-results/test.log"));
 * mergeJUnit(log, parseJUnit(Deno.readTextFileSync("test-results/tests.xml")));
 * for (const t of log.tests.filter((t) => t.outcome === "fail")) {
 *   console.log(t.name, t.seed, t.cmdlogs.length);
 * }
 * ```
 *
 * @module
 */
import type { CmdlogEntry } from "../mod.ts";
import {
  CMDLOG_JSON_MARK,
  type CmdlogDump,
  cmdlogEntry,
  decodeCmdlogDump,
} from "../testing/cmdlog_json.ts";

/**
 * How a test ended ("unfinished": started, never ended — a crash or hang).
 *
 * ```ts
 * const failed = (o: TestOutcome) => o === "fail" || o === "unfinished";
 * ```
 */
export type TestOutcome = "pass" | "fail" | "skip" | "deviation" | "unfinished";

/**
 * One test of a run.
 *
 * ```ts
 * declare const text: string;
 * const run = parseTestLog(text);
 * const t: TestRecord | undefined = run.tests.find((t) => t.outcome === "fail");
 * console.log(t?.seed, t?.cmdlogs.map((d) => d.queue));
 * ```
 */
export interface TestRecord {
  /** Test name. */
  name: string;
  /** Test file. */
  file?: string;
  /** The test's seed ("0x..."), replayed with DENVME_SEED. */
  seed?: string;
  /** Outcome. */
  outcome: TestOutcome;
  /** Duration in ms. */
  ms?: number;
  /** Skip reason, deviation observation, or the first line of the error. */
  message?: string;
  /** The whole error of a failed test, with its stack. */
  error?: string;
  /** Rule of a known deviation. */
  spec?: string;
  /** Device model of a known deviation. */
  model?: string;
  /** The cmdlog of each queue of a failed test (the failing queue marked). */
  cmdlogs: CmdlogDump[];
  /** Commands the test sent (logged per command at debug level). */
  commands: number;
  /** Other warnings and errors logged for the test. */
  notes: string[];
}

/**
 * A parsed test run.
 *
 * ```ts
 * const run: TestRun = parseTestLog(Deno.readTextFileSync("test-results/test.log"));
 * console.log(run.devices, run.tests.length);
 * ```
 */
export interface TestRun {
  /** Run identity from the log header ("pid 1234" or DENVME_RUN_ID). */
  run?: string;
  /** When the log was started (ISO time). */
  started?: string;
  /** Device lines ("device qemu: model ..."). */
  devices: string[];
  /** The tests, in the order they started. */
  tests: TestRecord[];
}

/**
 * One LogTape text record.
 *
 * ```ts
 * declare const text: string;
 * const errors = logRecords(text).filter((r: LogLine) => r.level === "ERR");
 * ```
 */
export interface LogLine {
  /** "2026-11-21 06:46:20.228 +00:00". */
  time: string;
  /** "DBG", "INF", "WRN", "ERR", "FTL", "TRC". */
  level: string;
  /** Category joined with "·", e.g. "denvme·test". */
  category: string;
  /** The message, continuation lines included. */
  message: string;
}

const RECORD =
  /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [+-]\d\d:\d\d) \[([A-Z]{3})\] ([^\s:]+): ?(.*)$/;

/**
 * Split LogTape text output into records (a record's continuation lines are
 * the lines up to the next timestamped line).
 *
 * ```ts
 * declare const text: string;
 * for (const r of logRecords(text)) if (r.level === "ERR") console.log(r.message);
 * ```
 */
export function logRecords(text: string): LogLine[] {
  const out: LogLine[] = [];
  let cur: LogLine | undefined;
  for (const line of text.split("\n")) {
    const m = RECORD.exec(line);
    if (m) {
      cur = { time: m[1], level: m[2], category: m[3], message: m[4] };
      out.push(cur);
    } else if (cur) {
      cur.message += `\n${line}`;
    }
  }
  for (const r of out) r.message = r.message.replace(/\n+$/, "");
  return out;
}

const ENTRY =
  /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}) q(\d+) #(\d+) (.+?) \(0x([0-9a-f]{2})\) cid (\d+) nsid 0x([0-9a-f]{8})(?: fuse (\d))? (.*?) prp1 0x([0-9a-f]+) prp2 0x([0-9a-f]+) -> (?:\(outstanding\)|([0-9a-f]{2})\/([0-9a-f]{2}) .*? cdw0 0x([0-9a-f]{8}) sqhd (\d+) (\d+) us)(?: \[(.*)\])?$/;

/**
 * Parse one line of the text cmdlog (`formatEntry`) back into an entry. The
 * command is rebuilt from the fields the line shows (for reads and writes the
 * LBA range and flags, for other commands CDW10..15); undefined when the line
 * is not a cmdlog line.
 *
 * ```ts
 * const e = parseEntryLine("2026-11-21T06:46:20.304867 q0 #1 Identify (0x06) cid 0 ...");
 * ```
 */
export function parseEntryLine(line: string): CmdlogEntry | undefined {
  const m = ENTRY.exec(line.trim());
  if (!m) return undefined;
  const sqid = Number(m[2]);
  const sqe = new Uint8Array(64);
  const dv = new DataView(sqe.buffer);
  const opcode = parseInt(m[5], 16);
  const cid = Number(m[6]);
  dv.setUint32(
    0,
    (opcode | (Number(m[8] ?? 0) << 8) | (cid << 16)) >>> 0,
    true,
  );
  dv.setUint32(4, parseInt(m[7], 16), true);
  dv.setBigUint64(24, BigInt(`0x${m[10]}`), true);
  dv.setBigUint64(32, BigInt(`0x${m[11]}`), true);
  const fields = m[9];
  const rw = /^slba (\d+) nlb (\d+)(?: flags 0x([0-9a-f]{4}))?$/.exec(fields);
  if (rw) {
    dv.setBigUint64(40, BigInt(rw[1]), true);
    dv.setUint32(
      48,
      ((Number(rw[2]) - 1) | (parseInt(rw[3] ?? "0", 16) << 16)) >>> 0,
      true,
    );
  } else {
    for (const f of fields.matchAll(/cdw(\d+) 0x([0-9a-f]{8})/g)) {
      dv.setUint32(Number(f[1]) * 4, parseInt(f[2], 16), true);
    }
  }
  let cqe: [number, number, number, number] | undefined;
  if (m[12] !== undefined) {
    const status = parseInt(m[13], 16) | (parseInt(m[12], 16) << 8);
    cqe = [
      parseInt(m[14], 16),
      0,
      (Number(m[15]) | (sqid << 16)) >>> 0,
      (cid | (status << 17)) >>> 0,
    ];
  }
  const t = m[1];
  // a quarter µs inside the µs shown, so that formatting it again shows the same
  const submitted = Date.parse(`${t.slice(0, 23)}Z`) +
    (Number(t.slice(23, 26)) + 0.25) / 1000;
  return cmdlogEntry({
    seq: Number(m[3]),
    sqid,
    admin: sqid === 0,
    sqe,
    cqe,
    submitted,
    latencyUs: m[16] !== undefined ? Number(m[16]) : undefined,
    notes: m[17] ? m[17].split(", ") : [],
    name: m[4],
  });
}

/** The test a message is about: the longest known name it starts with ("name: ..."). */
function testOf(message: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const n of names) {
    if (
      message.startsWith(`${n}: `) && (!best || n.length > best.length)
    ) best = n;
  }
  return best;
}

/**
 * Parse a harness `test.log` into tests with their outcomes, errors and the
 * cmdlogs of failed tests.
 *
 * ```ts
 * const run = parseTestLog(Deno.readTextFileSync("test-results/test.log"));
 * console.log(run.tests.filter((t) => t.outcome === "fail").map((t) => t.name));
 * ```
 */
export function parseTestLog(text: string): TestRun {
  const run: TestRun = { devices: [], tests: [] };
  // a log appended to (written without read access) holds several runs: the
  // last one counts, from the first header of its run identity
  const heads = [
    ...text.matchAll(/^# denvme test log, run (.*), started (\S+)/gm),
  ];
  if (heads.length) {
    let i = heads.length - 1;
    while (i > 0 && heads[i - 1][1] === heads[i][1]) i--;
    run.run = heads[i][1];
    run.started = heads[i][2];
    text = text.slice(heads[i].index);
  }
  const byName = new Map<string, TestRecord>();
  const names: string[] = [];
  let current: TestRecord | undefined;
  const textDumps = new Map<TestRecord, CmdlogDump[]>();
  for (const r of logRecords(text)) {
    const cat = r.category;
    if (cat === "denvme·test") {
      const start = /^(.*): start \((.*)\), seed (0x[0-9a-f]+)$/.exec(
        r.message,
      );
      if (start) {
        const t: TestRecord = {
          name: start[1],
          file: start[2],
          seed: start[3],
          outcome: "unfinished",
          cmdlogs: [],
          commands: 0,
          notes: [],
        };
        // a test of the same name in another file is another test
        const key = `${t.file}\0${t.name}`;
        byName.set(key, t);
        names.push(t.name);
        run.tests.push(t);
        current = t;
        continue;
      }
      const name = testOf(r.message, names);
      const t = name
        ? (current?.name === name ? current : [...run.tests].reverse().find((
          x,
        ) => x.name === name))
        : undefined;
      if (!t) continue;
      const rest = r.message.slice(name!.length + 2);
      let m: RegExpExecArray | null;
      if ((m = /^passed \((\d+) ms/.exec(rest))) {
        t.outcome = "pass";
        t.ms = Number(m[1]);
      } else if ((m = /^skipped: ([\s\S]*) \((\d+) ms\)$/.exec(rest))) {
        t.outcome = "skip";
        t.message = m[1];
        t.ms = Number(m[2]);
      } else if (
        (m =
          /^known deviation of (.*?): ([\s\S]*); observed: ([\s\S]*) \((\d+) ms\)$/
            .exec(rest))
      ) {
        t.outcome = "deviation";
        t.model = m[1];
        t.spec = m[2];
        t.message = m[3];
        t.ms = Number(m[4]);
      } else if (/^failed with seed /.test(rest)) {
        t.outcome = "fail";
      } else if (r.level === "WRN" || r.level === "ERR") {
        t.notes.push(rest);
      }
    } else if (cat === "denvme·failure") {
      const name = testOf(r.message, names);
      const t = name ? current?.name === name ? current : undefined : undefined;
      const m = t &&
        /^FAILED after (\d+) ms, seed (0x[0-9a-f]+): ([\s\S]*)$/.exec(
          r.message.slice(name!.length + 2),
        );
      if (t && m) {
        t.outcome = "fail";
        t.ms = Number(m[1]);
        t.error = m[3];
        t.message = m[3].split("\n")[0];
      }
    } else if (cat === "denvme·cmdlog") {
      const name = testOf(r.message, names);
      const t = name ? current?.name === name ? current : undefined : undefined;
      if (!t) continue;
      const rest = r.message.slice(name!.length + 2);
      if (rest.includes(CMDLOG_JSON_MARK) && r.level === "DBG") {
        try {
          t.cmdlogs.push(decodeCmdlogDump(rest));
        } catch { /* a torn line */ }
        continue;
      }
      const m =
        /^cmdlog of (admin queue|I\/O queue (\d+))( \(the failing command's queue\))?, newest first:\n([\s\S]*)$/
          .exec(rest);
      if (m) {
        const entries = m[4].split("\n").map(parseEntryLine).filter((
          e,
        ): e is CmdlogEntry => !!e);
        const list = textDumps.get(t) ?? [];
        list.push({
          test: t.name,
          queue: m[1],
          qid: m[2] ? Number(m[2]) : 0,
          admin: !m[2],
          failing: !!m[3],
          written: entries[0]?.seq ?? 0,
          entries,
        });
        textDumps.set(t, list);
      }
    } else if (cat === "denvme·cmd") {
      if (current) current.commands++;
    } else if (cat === "denvme·device") {
      if (!run.devices.includes(r.message)) run.devices.push(r.message);
    }
  }
  // the JSON form is complete; the text form only when there is no JSON
  for (const [t, dumps] of textDumps) {
    for (const d of dumps) {
      if (!t.cmdlogs.some((c) => c.queue === d.queue)) t.cmdlogs.push(d);
    }
  }
  return run;
}

/**
 * One `<testcase>` of JUnit XML.
 *
 * ```ts
 * declare const xml: string;
 * const failed = parseJUnit(xml).filter((c: JUnitCase) => c.failure);
 * ```
 */
export interface JUnitCase {
  /** The test suite (Deno: the test file). */
  suite: string;
  /** Test name. */
  name: string;
  /** Class name (Deno: the test file). */
  classname?: string;
  /** Seconds. */
  time?: number;
  /** Failure message and text, when it failed. */
  failure?: { message: string; text: string };
  /** True when skipped or ignored. */
  skipped?: boolean;
}

function unescapeXml(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-f]+);/gi, (_, e) => {
    switch (e) {
      case "lt":
        return "<";
      case "gt":
        return ">";
      case "amp":
        return "&";
      case "quot":
        return '"';
      case "apos":
        return "'";
    }
    return String.fromCodePoint(
      e[1] === "x" || e[1] === "X"
        ? parseInt(e.slice(2), 16)
        : Number(e.slice(1)),
    );
  });
}

function attrs(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w:-]+)="([^"]*)"/g)) {
    out[m[1]] = unescapeXml(m[2]);
  }
  return out;
}

/**
 * Parse JUnit XML (Deno's `--junit-path`, the conformance task's, pytest's):
 * the test cases with their suite, time, failure and skip.
 *
 * ```ts
 * const cases = parseJUnit(Deno.readTextFileSync("test-results/tests.xml"));
 * ```
 */
export function parseJUnit(xml: string): JUnitCase[] {
  const out: JUnitCase[] = [];
  const suiteRe = /<testsuite\b([^>]*)>([\s\S]*?)<\/testsuite>/g;
  for (const s of xml.matchAll(suiteRe)) {
    const suite = attrs(s[1]).name ?? "";
    const caseRe = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
    for (const c of s[2].matchAll(caseRe)) {
      const a = attrs(c[1]);
      const body = c[3] ?? "";
      const tc: JUnitCase = {
        suite,
        name: a.name ?? "",
        classname: a.classname,
        time: a.time !== undefined ? Number(a.time) : undefined,
      };
      const f = /<(failure|error)\b([^>]*?)(?:\/>|>([\s\S]*?)<\/\1>)/.exec(
        body,
      );
      if (f) {
        tc.failure = {
          message: attrs(f[2]).message ?? "",
          text: unescapeXml(f[3] ?? "").trim(),
        };
      }
      if (/<skipped\b/.test(body)) tc.skipped = true;
      out.push(tc);
    }
  }
  return out;
}

/**
 * Add JUnit test cases to a run: tests the log does not have (plain
 * `Deno.test`s) are added with their JUnit outcome; a logged test gets its
 * JUnit failure text when the log has no error for it.
 *
 * ```ts
 * declare const run: import("../report/mod.ts").TestRun;
 * declare const xml: string;
 * mergeJUnit(run, parseJUnit(xml));
 * ```
 */
export function mergeJUnit(run: TestRun, cases: readonly JUnitCase[]): TestRun {
  const norm = (f?: string) => (f ?? "").replace(/^\.\//, "");
  const logged = new Set(run.tests.map((t) => t.name));
  for (const c of cases) {
    // a step ("test > step") of a known test: the harness's skip/deviation markers
    const gt = c.name.indexOf(" > ");
    if (gt > 0 && logged.has(c.name.slice(0, gt))) continue;
    const file = norm(c.classname ?? c.suite);
    const same = run.tests.filter((x) => x.name === c.name);
    // nvmeTest registers its tests from testing/fixtures.ts: JUnit names that
    // file, so a name logged once matches whatever file JUnit gives
    const t = same.length === 1
      ? same[0]
      : same.find((x) => !x.file || !file || norm(x.file) === file);
    if (t) {
      if (t.ms === undefined && c.time !== undefined) t.ms = c.time * 1000;
      if (c.failure && !t.error) {
        t.error = c.failure.text || c.failure.message;
        t.message ??= (c.failure.message || c.failure.text).split("\n")[0];
        if (t.outcome === "unfinished" || t.outcome === "pass") {
          t.outcome = "fail";
        }
      }
      continue;
    }
    run.tests.push({
      name: c.name,
      file,
      outcome: c.failure ? "fail" : c.skipped ? "skip" : "pass",
      ms: c.time !== undefined ? Math.round(c.time * 1000) : undefined,
      message: c.failure
        ? (c.failure.message || c.failure.text).split("\n")[0]
        : undefined,
      error: c.failure ? c.failure.text || c.failure.message : undefined,
      cmdlogs: [],
      commands: 0,
      notes: [],
    });
  }
  return run;
}

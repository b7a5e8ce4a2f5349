/**
 * Reading test runs back: the harness's structured record (`test.record.jsonl`,
 * LogTape JSON lines: each test's start with its seed, its outcome, the error
 * of a failed test with its stack, and the cmdlog of every queue of a failed
 * test, lossless), and Deno's JUnit XML (`deno test --junit-path`), which
 * also lists the plain `Deno.test`s. Nothing is read back from the text log
 * (`test.log` is for people).
 *
 * ```ts
 * import { mergeJUnit, parseTestRecord } from "./testlog.ts";
 * import { readJUnit } from "./junit.ts";
 *
 * const run = parseTestRecord(Deno.readTextFileSync("test-results/test.record.jsonl"));
 * mergeJUnit(run, readJUnit(Deno.readTextFileSync("test-results/tests.xml")));
 * for (const t of run.tests.filter((t) => t.outcome === "fail")) {
 *   console.log(t.name, t.seed, t.cmdlogs.length);
 * }
 * ```
 *
 * @module
 */
import {
  type CmdlogDump,
  type CmdlogDumpJson,
  decodeCmdlogDump,
} from "../testing/cmdlog_json.ts";
import type { JUnitCase } from "./junit.ts";

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
 * const run = parseTestRecord(text);
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
 * const run: TestRun = parseTestRecord(Deno.readTextFileSync("test-results/test.record.jsonl"));
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
 * One record of the structured test record (a LogTape JSON line).
 *
 * ```ts
 * declare const text: string;
 * const errors = recordLines(text).filter((r: RecordLine) => r.level === "ERROR");
 * ```
 */
export interface RecordLine {
  /** ISO time. */
  "@timestamp": string;
  /** "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "TRACE". */
  level: string;
  /** The message template ("{test}: passed ({ms} ms)"): values in `properties`. */
  message: string;
  /** Category joined with ".", e.g. "denvme.test". */
  logger: string;
  /** The record's properties (`event`, `test`, `seed`, `cmdlog`, ...). */
  properties?: Record<string, unknown>;
}

/**
 * The records of a structured test record, in order (lines that are not JSON,
 * a torn last line of a crashed run, are passed over).
 *
 * ```ts
 * declare const text: string;
 * for (const r of recordLines(text)) if (r.level === "ERROR") console.log(r.message);
 * ```
 */
export function recordLines(text: string): RecordLine[] {
  const out: RecordLine[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line);
      if (r && typeof r === "object" && typeof r.logger === "string") {
        out.push(r as RecordLine);
      }
    } catch { /* a torn line */ }
  }
  return out;
}

/**
 * A record's message with its values filled in (strings as they are, other
 * values as JSON).
 *
 * ```ts
 * renderRecord({ "@timestamp": "", level: "INFO", logger: "denvme.test", message: "{test}: start", properties: { test: "t" } }); // "t: start"
 * ```
 */
export function renderRecord(r: RecordLine): string {
  const p = r.properties ?? {};
  return r.message.replace(/\{(\w+)\}/g, (all, k: string) => {
    if (!(k in p)) return all;
    const v = p[k];
    return typeof v === "string" ? v : JSON.stringify(v);
  });
}

const str = (v: unknown) =>
  v === undefined || v === null ? undefined : String(v);
const num = (v: unknown) => typeof v === "number" ? v : undefined;

/**
 * Read a harness's structured test record (`test.record.jsonl`) into tests with
 * their outcomes, errors and the cmdlogs of failed tests. A record appended to
 * by several runs counts from the last run's first header.
 *
 * ```ts
 * const run = parseTestRecord(Deno.readTextFileSync("test-results/test.record.jsonl"));
 * console.log(run.tests.filter((t) => t.outcome === "fail").map((t) => t.name));
 * ```
 */
export function parseTestRecord(text: string): TestRun {
  let records = recordLines(text);
  const run: TestRun = { devices: [], tests: [] };
  const heads = records.map((r, i) => ({ r, i })).filter(({ r }) =>
    r.logger === "denvme.run" && r.properties?.event === "run"
  );
  if (heads.length) {
    let k = heads.length - 1;
    while (
      k > 0 && heads[k - 1].r.properties?.run === heads[k].r.properties?.run
    ) k--;
    run.run = str(heads[k].r.properties?.run);
    run.started = str(heads[k].r.properties?.started);
    records = records.slice(heads[k].i);
  }
  // the latest start of a test name is the one later records speak of
  const latest = new Map<string, TestRecord>();
  for (const r of records) {
    const p = r.properties ?? {};
    const name = str(p.test);
    if (r.logger === "denvme.device") {
      const d = renderRecord(r);
      if (!run.devices.includes(d)) run.devices.push(d);
      continue;
    }
    if (p.event === "start" && name !== undefined) {
      const t: TestRecord = {
        name,
        file: str(p.file),
        seed: str(p.seed),
        outcome: "unfinished",
        cmdlogs: [],
        commands: 0,
        notes: [],
      };
      latest.set(name, t);
      run.tests.push(t);
      continue;
    }
    const t = name !== undefined ? latest.get(name) : undefined;
    if (!t) continue;
    switch (r.logger === "denvme.cmdlog" ? "cmdlog" : p.event) {
      case "pass":
        t.outcome = "pass";
        t.ms = num(p.ms);
        break;
      case "skip":
        t.outcome = "skip";
        t.message = str(p.reason);
        t.ms = num(p.ms);
        break;
      case "deviation":
        t.outcome = "deviation";
        t.model = str(p.model);
        t.spec = str(p.spec);
        t.message = str(p.observed);
        t.ms = num(p.ms);
        break;
      case "fail": {
        const err = str(p.err) ?? "";
        t.outcome = "fail";
        t.ms = num(p.ms);
        t.error = err;
        t.message = err.split("\n")[0];
        break;
      }
      case "cmdlog":
        if (p.cmdlog) {
          t.cmdlogs.push(decodeCmdlogDump(p.cmdlog as CmdlogDumpJson));
        }
        break;
      case "hint": // the console's pointer to the replay and the logs
        break;
      default:
        if (r.logger === "denvme.cmd") t.commands++;
        else if (
          r.logger === "denvme.test" &&
          (r.level === "WARN" || r.level === "ERROR")
        ) {
          t.notes.push(
            renderRecord({
              ...r,
              message: r.message.replace(/^\{test\}: /, ""),
            }),
          );
        }
    }
  }
  return run;
}

/**
 * Add JUnit test cases to a run: tests the log does not have (plain
 * `Deno.test`s) are added with their JUnit outcome; a logged test gets its
 * JUnit failure text when the log has no error for it.
 *
 * ```ts
 * declare const run: TestRun;
 * declare const xml: string;
 * import { readJUnit } from "./junit.ts";
 * mergeJUnit(run, readJUnit(xml));
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

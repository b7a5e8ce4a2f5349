/**
 * Logging for test runs, with LogTape: a concise console, a `test.log` file
 * for people with everything — the device, each test's seed and timings,
 * every command with its status (read from the per-queue cmdlogs when a test
 * ends, so nothing runs per command), and the cmdlog of every queue when a
 * test fails — and the same records once more, machine-readable, in
 * `test.record.jsonl` (LogTape's JSON-lines formatter: one JSON object per record,
 * its message template in `message` and its values under `properties`; test
 * events carry `event`, a failed test's cmdlogs `cmdlog`). Reports and `nvme cmdlog` read `test.record.jsonl`
 * (report/testlog.ts), never the text.
 *
 * Categories: `denvme.test` (test life cycle; console and file),
 * `denvme.device` (the device under test), `denvme.cmd` (one record per
 * command, debug level, file only), `denvme.cmdlog` (queue dumps of failing
 * tests, file only), `denvme.failure` (errors with their stacks, file only).
 *
 * Environment: `DENVME_TEST_LOG` (file path, default `test-results/test.log`;
 * `off` for none; the record is the same path with `.jsonl`), `DENVME_LOG_CONSOLE` (console level, default `warning`;
 * `info` adds one line per test), `DENVME_RUN_ID` (run identity; the file is
 * started afresh when it belongs to another run).
 *
 * If the script configured LogTape itself, that configuration is used as it is.
 *
 * @module
 */
import {
  configureSync,
  getConfig,
  getConsoleSink,
  getJsonLinesFormatter,
  getLogger,
  getTextFormatter,
  type Logger,
  type LogLevel,
  type LogRecord,
  parseLogLevel,
  type Sink,
  withFilter,
  // deno-lint-ignore no-import-prefix -- importable from a user's project without an import map
} from "npm:@logtape/logtape@2.4.2";
import { type CommandQueue, queueObserver } from "../ffi/cmdqueue.ts";
import { formatEntry } from "../ffi/cmdlog.ts";
import { cmdlogDumpJson } from "./cmdlog_json.ts";
import { envVar, granted } from "../ffi/permissions.ts";

/**
 * The logging methods of the harness's loggers (LogTape loggers; a message
 * template with `{name}` placeholders filled from `properties`).
 *
 * ```ts
 * import { nvmeTest } from "../testing.ts";
 * nvmeTest("logs", {}, ({ log }: { log: TestLog }) => {
 *   log.info("temperature {kelvin} K", { kelvin: 323 });
 * });
 * ```
 */
export interface TestLog {
  /** Debug detail (the file only, by default). */
  debug(message: string, properties?: Record<string, unknown>): void;
  /** Information (the file; the console with DENVME_LOG_CONSOLE=info). */
  info(message: string, properties?: Record<string, unknown>): void;
  /** A warning (file and console). */
  warn(message: string, properties?: Record<string, unknown>): void;
  /** An error (file and console). */
  error(message: string, properties?: Record<string, unknown>): void;
  /** True when records of `level` reach a sink. */
  isEnabledFor(level: "debug" | "info" | "warning" | "error"): boolean;
  /** A logger adding `properties` to every record. */
  with(properties: Record<string, unknown>): TestLog;
}

/**
 * The logger of test life-cycle messages.
 *
 * ```ts
 * testLogger.info("{test}: formatted in {ms} ms", { test: "format", ms: 12 });
 * ```
 */
export const testLogger: TestLog = getLogger(["denvme", "test"]);
/**
 * The logger of device information.
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * deviceLogger.info("firmware {fr}", { fr: nvme0.idCtrl.fr });
 * ```
 */
export const deviceLogger: TestLog = getLogger(["denvme", "device"]);
/**
 * The logger of commands (one record per command, debug).
 *
 * ```ts
 * declare const line: string;
 * if (cmdLogger.isEnabledFor("debug")) cmdLogger.debug("{line}", { line: "..." });
 * ```
 */
export const cmdLogger: TestLog = getLogger(["denvme", "cmd"]);
/** The logger of queue dumps (cmdlogs of failing tests). */
export const cmdlogLogger: Logger = getLogger(["denvme", "cmdlog"]);
/** The logger of failure details (stacks; file only). */
export const failureLogger: Logger = getLogger(["denvme", "failure"]);

const DEFAULT_LOG = "test-results/test.log";
let configured = false;
let logPath: string | undefined;
let recordPath: string | undefined;

const env = envVar;

/** The run identity written in the log header: DENVME_RUN_ID or the process id. */
export function runId(): string {
  return env("DENVME_RUN_ID") || `pid ${Deno.pid}`;
}

/**
 * Path of the test log file of this run, or undefined when logging to a file is off.
 *
 * ```ts
 * console.log(`full log: ${testLogPath() ?? "(off)"}`); // test-results/test.log
 * ```
 */
export function testLogPath(): string | undefined {
  ensureLogging();
  return logPath;
}

/**
 * The structured record that goes with a text log: `test.log` ->
 * `test.record.jsonl` (any other name gets `.record.jsonl` appended; a
 * different name from the conformance task's results files).
 *
 * ```ts
 * recordFileOf("test-results/test.log"); // "test-results/test.record.jsonl"
 * ```
 */
export function recordFileOf(logFile: string): string {
  if (logFile.endsWith(".jsonl")) return logFile;
  return logFile.endsWith(".log")
    ? logFile.replace(/\.log$/, ".record.jsonl")
    : `${logFile}.record.jsonl`;
}

/**
 * Path of the structured test record (JSON lines) of this run, or undefined
 * when logging to a file is off.
 *
 * ```ts
 * const record = testRecordPath(); // "test-results/test.record.jsonl"
 * ```
 */
export function testRecordPath(): string | undefined {
  ensureLogging();
  return recordPath;
}

/** The first line of a structured record: the run it belongs to. */
function recordHeader(started: string): string {
  return JSON.stringify({
    "@timestamp": started,
    level: "INFO",
    message: `denvme test record, run ${runId()}`,
    logger: "denvme.run",
    properties: { event: "run", run: runId(), started },
  });
}

/**
 * A file sink: `fresh` tells whether the file belongs to another run (then it
 * is started afresh with `header`), `format` turns a record into its text.
 */
function fileSink(
  path: string,
  isOurs: (firstLine: string) => boolean,
  header: (started: string) => string,
  format: (r: LogRecord) => string,
): Sink {
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
  if (dir) Deno.mkdirSync(dir, { recursive: true });
  // a file of this run (another test module of the same `deno test`) is
  // appended to, another run's is started afresh; without read access the
  // file cannot be looked at, so it is appended to with a header per module
  // (the report reads the last run)
  let fresh = true;
  let append = false;
  if (granted({ name: "read", path })) {
    try {
      const head = Deno.readTextFileSync(path).slice(0, 400).split("\n")[0];
      fresh = !isOurs(head);
    } catch {
      fresh = true;
    }
    append = !fresh;
  } else {
    append = true;
  }
  const file = Deno.openSync(path, {
    write: true,
    create: true,
    append,
    truncate: !append,
  });
  const enc = new TextEncoder();
  const write = (text: string) => {
    const bytes = enc.encode(text);
    for (let off = 0; off < bytes.length;) {
      off += file.writeSync(bytes.subarray(off));
    }
  };
  if (fresh) write(`${header(new Date().toISOString())}\n`);
  globalThis.addEventListener("unload", () => {
    try {
      file.close();
    } catch { /* already closed */ }
  });
  return (record: LogRecord) => write(format(record));
}

/**
 * Configure LogTape for a test run unless the script already did: console at
 * `DENVME_LOG_CONSOLE` (default warning), the file at debug. Idempotent.
 *
 * ```ts
 * ensureLogging(); // nvmeTest does this; a script using testLogger directly calls it first
 * testLogger.warn("{what} is slow", { what: "format" });
 * ```
 */
export function ensureLogging(): void {
  if (configured) return;
  configured = true;
  if (getConfig() !== null) return; // the script's own configuration wins
  const path = env("DENVME_TEST_LOG") ?? DEFAULT_LOG;
  let consoleLevel: LogLevel = "warning";
  const lv = env("DENVME_LOG_CONSOLE");
  if (lv) {
    try {
      consoleLevel = parseLogLevel(lv);
    } catch {
      console.warn(
        `DENVME_LOG_CONSOLE=${lv} is not a log level: using warning`,
      );
    }
  }
  const sinks: Record<string, Sink> = {
    console: withFilter(
      getConsoleSink({
        formatter: (r: LogRecord) => {
          const msg = r.message.map((m) =>
            typeof m === "string" ? m : Deno.inspect(m, { colors: false })
          ).join("");
          return [`[denvme] ${msg}`];
        },
      }),
      consoleLevel,
    ),
  };
  if (path && path !== "off" && !granted({ name: "write", path })) {
    // the tests still run and report on the console; one line says how to
    // get the files
    console.log(
      `[denvme] no test log: add --allow-write to write ${path} (and --junit-path=test-results/tests.xml for JUnit)`,
    );
  } else if (path && path !== "off") {
    const textHeader = `# denvme test log, run ${runId()}`;
    try {
      sinks.file = fileSink(
        path,
        (head) => head.startsWith(`${textHeader}, started `),
        (started) => `${textHeader}, started ${started}`,
        getTextFormatter({
          timestamp: "date-time-timezone",
          value: (v) =>
            typeof v === "string" ? v : Deno.inspect(v, { colors: false }),
        }),
      );
      logPath = path;
      const record = recordFileOf(path);
      sinks.record = fileSink(
        record,
        (head) => {
          try {
            return JSON.parse(head).properties?.run === runId();
          } catch {
            return false;
          }
        },
        recordHeader,
        getJsonLinesFormatter({
          message: "template",
          properties: "nest:properties",
        }),
      );
      recordPath = record;
    } catch (e) {
      console.warn(
        `cannot write the test log ${path}: ${(e as Error).message}`,
      );
    }
  }
  const file = ["file", "record"].filter((s) => sinks[s]);
  configureSync({
    sinks,
    loggers: [
      { category: ["denvme"], sinks: file, lowestLevel: "debug" },
      {
        category: ["denvme", "test"],
        sinks: ["console"],
        lowestLevel: "debug",
      },
      {
        category: ["logtape", "meta"],
        sinks: ["console"],
        lowestLevel: "warning",
      },
    ],
  });
}

/** Watches the queues created while a test runs (admin queues included). */
export class QueueWatch {
  readonly #queues: CommandQueue[] = [];
  readonly #prev: typeof queueObserver.created;

  /** Start watching (nests: an outer watch keeps seeing queues). */
  constructor() {
    this.#prev = queueObserver.created;
    queueObserver.created = (q) => {
      this.#queues.push(q);
      this.#prev?.(q);
    };
  }
  /** Stop watching; returns the queues seen, in creation order. */
  stop(): CommandQueue[] {
    queueObserver.created = this.#prev;
    return [...this.#queues];
  }
}

/** A queue's name for logs. */
export function queueName(q: CommandQueue): string {
  return q.admin ? "admin queue" : `I/O queue ${q.qid}`;
}

/**
 * Log every command of `queues` at debug level (category denvme.cmd), oldest
 * first. Does nothing unless that level reaches a sink.
 */
export function logCommands(test: string, queues: CommandQueue[]): void {
  if (!cmdLogger.isEnabledFor("debug")) return;
  for (const q of queues) {
    const written = q.log.written;
    const entries = q.log.entries(0).reverse();
    const lost = written - entries.length;
    if (lost > 0) {
      cmdLogger.debug(
        "{test}: {queue}: {lost} older commands were overwritten in the 2048-entry cmdlog",
        { test, queue: queueName(q), lost },
      );
    }
    for (const e of entries) {
      cmdLogger.debug("{line}", {
        test,
        queue: queueName(q),
        line: formatEntry(e, q.admin),
        status: e.status ?? "outstanding",
      });
    }
  }
}

/**
 * Dump the cmdlog of every queue (newest first) after a failure, at error
 * level (category denvme.cmdlog), marking the queue the failing command was on.
 */
export function dumpCmdlogs(
  test: string,
  queues: CommandQueue[],
  failingSqid?: number,
): void {
  for (const q of queues) {
    const mark = q.qid === failingSqid ? " (the failing command's queue)" : "";
    const text = q.log.text(0);
    // `text` for people (test.log); `cmdlog`, lossless, for the record
    // (test.record.jsonl: deno task report, nvme cmdlog)
    cmdlogLogger.error(
      "{test}: cmdlog of {queue}{mark}, newest first:\n{text}",
      {
        test,
        queue: queueName(q),
        mark,
        text,
        event: "cmdlog",
        cmdlog: cmdlogDumpJson({
          test,
          queue: queueName(q),
          qid: q.qid,
          admin: q.admin,
          failing: q.qid === failingSqid,
          written: q.log.written,
          entries: q.log.entries(0),
        }),
      },
    );
  }
}

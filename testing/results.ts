/**
 * Machine-readable test results: with `DENVME_RESULTS=<path>`, every
 * nvmeTest appends one JSON line when it starts and one when it ends. The
 * conformance task reads them to print its summary and write JUnit XML; a
 * start without an end marks a test that crashed or hung the run.
 *
 * @module
 */
import { consoleNote } from "../console/registry.ts";
import { envVar, requirePermission } from "../ffi/permissions.ts";

/**
 * How a test ended.
 *
 * ```ts
 * const failed = readResults("results.jsonl").filter((r) => r.outcome === ("fail" satisfies Outcome));
 * ```
 */
export type Outcome = "pass" | "fail" | "skip" | "deviation";

/**
 * A result line.
 *
 * ```ts
 * const r: ResultRecord = { event: "end", name: "t", area: "admin", file: "t_test.ts", seed: "0x1", outcome: "pass", ms: 12 };
 * writeResult(r);
 * ```
 */
export interface ResultRecord {
  /** "start" or "end". */
  event: "start" | "end";
  /** Test name. */
  name: string;
  /** Area for summaries (e.g. "admin"). */
  area: string;
  /** Test file (relative to the working directory). */
  file: string;
  /** The test's seed (0x-hex). */
  seed: string;
  /** Outcome (end only). */
  outcome?: Outcome;
  /** Skip reason, failure message or deviation text (end only). */
  message?: string;
  /** The rule broken, for deviations and spec failures. */
  spec?: string;
  /** The device model of a known deviation. */
  model?: string;
  /** Duration in ms (end only). */
  ms?: number;
  /** Device name. */
  dut?: string;
}

function path(): string | undefined {
  return envVar("DENVME_RESULTS") || undefined;
}

/**
 * Append a result line (when DENVME_RESULTS is set).
 *
 * ```ts
 * writeResult({ event: "start", name: "t", area: "admin", file: "t_test.ts", seed: "0x1" });
 * ```
 */
export function writeResult(r: ResultRecord): void {
  consoleNote({ kind: "test", ...r });
  const p = path();
  if (!p) return;
  requirePermission({ name: "write", path: p }, `DENVME_RESULTS=${p}`);
  Deno.writeTextFileSync(p, JSON.stringify(r) + "\n", { append: true });
}

/**
 * Read a results file: the last record of each test (start only = did not finish).
 *
 * ```ts
 * const crashed = readResults("test-results/conformance.jsonl").filter((r) => r.event === "start");
 * ```
 */
export function readResults(file: string): ResultRecord[] {
  let text = "";
  try {
    text = Deno.readTextFileSync(file);
  } catch {
    return [];
  }
  const byKey = new Map<string, ResultRecord>();
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as ResultRecord;
      byKey.set(`${r.file}\0${r.name}`, r);
    } catch { /* a torn line of a crashed run */ }
  }
  return [...byKey.values()];
}

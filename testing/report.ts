/**
 * Reports from result records: a summary by area (passed, failed, skipped
 * with reasons, known deviations) and JUnit XML for CI. Known deviations are
 * written as JUnit `<skipped type="known-deviation">`, as pytest writes its
 * expected failures.
 *
 * @module
 */
import {
  type JUnitCase,
  type JUnitSuite,
  writeJUnit,
} from "../report/junit.ts";
import type { ResultRecord } from "./results.ts";

/** Counts of one area. */
export interface AreaCounts {
  /** Tests that passed. */
  passed: number;
  /** Tests that failed. */
  failed: number;
  /** Tests skipped (the device lacks what they test). */
  skipped: number;
  /** Known deviations of the device model. */
  deviations: number;
  /** Tests that started and never ended (crash or hang). */
  unfinished: number;
}

/** Counts by area and in total. */
export function countByArea(
  results: readonly ResultRecord[],
): { areas: Map<string, AreaCounts>; total: AreaCounts } {
  const areas = new Map<string, AreaCounts>();
  const zero = (): AreaCounts => ({
    passed: 0,
    failed: 0,
    skipped: 0,
    deviations: 0,
    unfinished: 0,
  });
  const total = zero();
  for (const r of results) {
    const a = areas.get(r.area) ?? zero();
    areas.set(r.area, a);
    const key: keyof AreaCounts = r.event === "start"
      ? "unfinished"
      : r.outcome === "pass"
      ? "passed"
      : r.outcome === "fail"
      ? "failed"
      : r.outcome === "skip"
      ? "skipped"
      : "deviations";
    a[key]++;
    total[key]++;
  }
  return {
    areas: new Map([...areas].sort(([x], [y]) => x.localeCompare(y))),
    total,
  };
}

/**
 * The summary as text: a table by area, then the skipped tests with their
 * reasons, the known deviations with the rule and the observation, and the
 * failures. The last line reads `conformance: N passed, N failed, N skipped`.
 */
export function summaryText(
  results: readonly ResultRecord[],
  title = "conformance",
): string {
  const { areas, total } = countByArea(results);
  const out: string[] = [];
  const row = (name: string, c: AreaCounts) =>
    `${name.padEnd(14)}${String(c.passed).padStart(7)}${
      String(c.failed).padStart(7)
    }${String(c.skipped).padStart(8)}${String(c.deviations).padStart(11)}${
      c.unfinished ? `   (${c.unfinished} did not finish)` : ""
    }`;
  const duts = [...new Set(results.map((r) => r.dut).filter((d) => d))];
  out.push(
    `${title} summary${
      duts.length > 1
        ? ` (devices ${duts.join(", ")})`
        : duts.length
        ? ` (device ${duts[0]})`
        : ""
    }`,
  );
  out.push(
    `${"area".padEnd(14)}${"passed".padStart(7)}${"failed".padStart(7)}${
      "skipped".padStart(8)
    }${"deviation".padStart(11)}`,
  );
  for (const [name, c] of areas) out.push(row(name, c));
  out.push(row("total", total));
  const sorted = [...results].sort((a, b) =>
    a.area.localeCompare(b.area) || a.name.localeCompare(b.name)
  );
  const section = (
    head: string,
    pick: (r: ResultRecord) => string | undefined,
  ) => {
    const lines = sorted.map(pick).filter((x): x is string => !!x);
    if (lines.length) out.push("", head, ...lines);
  };
  section(
    "skipped (the device does not have what they test):",
    (r) =>
      r.event === "end" && r.outcome === "skip"
        ? `  ${r.area}: ${r.name} — ${r.message}`
        : undefined,
  );
  section(
    "deviation (known) — the device breaks the rule, as listed for its model:",
    (r) =>
      r.event === "end" && r.outcome === "deviation"
        ? `  ${r.area}: ${r.name}\n      rule: ${r.spec}\n      ${r.model}: ${r.message}`
        : undefined,
  );
  section(
    "FAILED:",
    (r) =>
      r.event === "end" && r.outcome === "fail"
        ? `  ${r.area}: ${r.name} — ${r.message} (seed ${r.seed}, ${r.file})`
        : r.event === "start"
        ? `  ${r.area}: ${r.name} — did not finish (crash or hang; seed ${r.seed}, ${r.file})`
        : undefined,
  );
  out.push("");
  out.push(
    `${title}: ${total.deviations} known deviations${
      total.unfinished ? `, ${total.unfinished} did not finish` : ""
    }`,
  );
  out.push(
    `${title}: ${total.passed} passed, ${
      total.failed + total.unfinished
    } failed, ${total.skipped} skipped`,
  );
  return out.join("\n");
}

/** JUnit XML: one `<testsuite>` per area, one `<testcase>` per test. */
export function junitXml(
  results: readonly ResultRecord[],
  name = "conformance",
): string {
  const { areas } = countByArea(results);
  const suites: JUnitSuite[] = [...areas.keys()].map((area) => ({
    name: area,
    cases: results.filter((r) => r.area === area).map((r): JUnitCase => {
      const c: JUnitCase = {
        suite: area,
        classname: r.file.replace(/\.[jt]s$/, "").replace(/\//g, "."),
        name: r.name,
        time: (r.ms ?? 0) / 1000,
        systemOut: `seed ${r.seed}${r.dut ? `, device ${r.dut}` : ""}`,
      };
      if (r.event === "start") {
        c.failure = {
          message: "did not finish (crash or hang)",
          type: "unfinished",
          text: "",
        };
      } else if (r.outcome === "skip") {
        c.skip = { message: r.message ?? "" };
      } else if (r.outcome === "deviation") {
        c.skip = {
          type: "known-deviation",
          message:
            `known deviation of ${r.model}: ${r.spec}; observed ${r.message}`,
        };
      } else if (r.outcome !== "pass") {
        c.failure = {
          message: r.message ?? "",
          type: r.spec ? "spec-violation" : "failure",
          text: r.spec ? `rule: ${r.spec}` : r.message ?? "",
        };
      }
      return c;
    }),
  }));
  return writeJUnit(name, suites);
}

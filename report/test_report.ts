/**
 * The test-run report: from a parsed test record (and JUnit XML), a
 * self-contained HTML page — outcome counts, charts (outcomes, slowest
 * tests), every failure with its error, seed, replay command and the decoded
 * cmdlog of each of its queues (the failing command's queue first) — and a
 * text summary for terminals.
 *
 * ```ts
 * import { parseTestRecord } from "./testlog.ts";
 * import { testRunReport } from "./test_report.ts";
 *
 * const run = parseTestRecord(Deno.readTextFileSync("test-results/test.record.jsonl"));
 * const { html, text } = testRunReport(run);
 * Deno.writeTextFileSync("test-report.html", html);
 * console.log(text);
 * ```
 *
 * @module
 */
import { axisStyle, compose, gridAt, PALETTE, type Panel } from "./charts.ts";
import { cmdlogHtml, cmdlogRows, cmdlogText } from "./cmdlog_view.ts";
import { cards, type Cell, escapeHtml, htmlTable, page } from "./html.ts";
import type { TestOutcome, TestRecord, TestRun } from "./testlog.ts";

/**
 * Options of {@link testRunReport}.
 *
 * ```ts
 * declare const run: import("../report/mod.ts").TestRun;
 * const opts: TestReportOptions = { title: "nightly", textCommands: 20 };
 * console.log(testRunReport(run, opts).text);
 * ```
 */
export interface TestReportOptions {
  /** Page title. Default "denvme test run". */
  title?: string;
  /** Commands of each queue shown in the text summary (newest). Default 12. */
  textCommands?: number;
  /** Commands of each queue in the HTML page (0: all kept). Default 0. */
  htmlCommands?: number;
}

/**
 * What {@link testRunReport} returns.
 *
 * ```ts
 * declare const run: import("../report/mod.ts").TestRun;
 * const { html, counts }: TestReport = testRunReport(run);
 * if (counts.fail) Deno.writeTextFileSync("failures.html", html);
 * ```
 */
export interface TestReport {
  /** The self-contained HTML page. */
  html: string;
  /** A text summary with the failures and their last commands. */
  text: string;
  /** Tests per outcome. */
  counts: Record<TestOutcome, number>;
}

const COLORS: Record<TestOutcome, string> = {
  pass: PALETTE.green,
  fail: PALETTE.red,
  skip: PALETTE.gray,
  deviation: PALETTE.orange,
  unfinished: PALETTE.purple,
};

const WORDS: Record<TestOutcome, string> = {
  pass: "passed",
  fail: "failed",
  skip: "skipped",
  deviation: "known deviation",
  unfinished: "did not finish",
};

/**
 * Count tests by outcome.
 *
 * ```ts
 * declare const run: import("../report/mod.ts").TestRun;
 * countOutcomes(run.tests); // { pass: 170, fail: 1, skip: 4, deviation: 20, unfinished: 0 }
 * ```
 */
export function countOutcomes(
  tests: readonly TestRecord[],
): Record<TestOutcome, number> {
  const c: Record<TestOutcome, number> = {
    pass: 0,
    fail: 0,
    skip: 0,
    deviation: 0,
    unfinished: 0,
  };
  for (const t of tests) c[t.outcome]++;
  return c;
}

function outcomePanel(counts: Record<TestOutcome, number>): Panel {
  const keys = (Object.keys(counts) as TestOutcome[]).filter((k) => counts[k]);
  const total = keys.reduce((s, k) => s + counts[k], 0);
  return {
    title: "Outcomes",
    subtitle: `${total} tests`,
    build(plot) {
      return {
        series: [{
          type: "pie",
          radius: [
            Math.min(plot.w, plot.h) * 0.28,
            Math.min(plot.w, plot.h) * 0.46,
          ],
          center: [plot.x + plot.w / 2, plot.y + plot.h / 2],
          label: {
            formatter: (p: { name: string; value: number }) =>
              `${p.name}\n${p.value}`,
            fontSize: 11,
          },
          itemStyle: { borderColor: "#fff", borderWidth: 2 },
          data: keys.map((k) => ({
            name: WORDS[k],
            value: counts[k],
            itemStyle: { color: COLORS[k] },
          })),
        }],
      };
    },
  };
}

function slowestPanel(tests: readonly TestRecord[], n = 12): Panel {
  const slow = tests.filter((t) => t.ms !== undefined).sort((a, b) =>
    b.ms! - a.ms!
  ).slice(0, n).reverse();
  const short = (s: string) => s.length > 42 ? `${s.slice(0, 40)}…` : s;
  return {
    title: "Slowest tests",
    subtitle: "seconds, coloured by outcome",
    build(plot) {
      const left = 250;
      return {
        grid: [
          gridAt({ ...plot, x: plot.x + left - 70, w: plot.w - left + 70 }),
        ],
        xAxis: [axisStyle({ type: "value", name: "s", min: 0 })],
        yAxis: [axisStyle({
          type: "category",
          data: slow.map((t) => short(t.name)),
          axisLabel: { fontSize: 10, color: "#3b4352" },
        })],
        series: [{
          type: "bar",
          barMaxWidth: 16,
          data: slow.map((t) => ({
            value: +(t.ms! / 1000).toFixed(3),
            itemStyle: { color: COLORS[t.outcome] },
          })),
          label: {
            show: true,
            position: "right",
            fontSize: 10,
            formatter: (p: { value: number }) => p.value.toFixed(2),
          },
        }],
      };
    },
  };
}

function replay(t: TestRecord): string | undefined {
  if (!t.seed || !t.file) return undefined;
  return `DENVME_SEED=${t.seed} deno test --allow-all --filter ${
    JSON.stringify(t.name)
  } ${t.file}`;
}

function sortedDumps(t: TestRecord) {
  return [...t.cmdlogs].sort((a, b) =>
    Number(b.failing) - Number(a.failing) || b.qid - a.qid
  );
}

/**
 * Build the report of a test run.
 *
 * ```ts
 * declare const recordText: string;
 * declare const junitXml: string;
 * import { mergeJUnit, parseTestRecord, readJUnit } from "./mod.ts";
 * const run = mergeJUnit(parseTestRecord(recordText), readJUnit(junitXml));
 * const { html, text, counts } = testRunReport(run, { title: "nightly" });
 * ```
 */
export function testRunReport(
  run: TestRun,
  opts: TestReportOptions = {},
): TestReport {
  const title = opts.title ?? "denvme test run";
  const counts = countOutcomes(run.tests);
  const failed = run.tests.filter((t) =>
    t.outcome === "fail" || t.outcome === "unfinished"
  );
  const totalMs = run.tests.reduce((s, t) => s + (t.ms ?? 0), 0);
  const sub = [
    run.started ? `started ${run.started.replace("T", " ").slice(0, 19)}` : "",
    run.run ? `run ${run.run}` : "",
    run.devices.find((d) => / model /.test(d)) ?? run.devices[0] ?? "",
  ].filter(Boolean).join(" · ");

  const body: string[] = [];
  body.push(cards([
    ["tests", String(run.tests.length)],
    ["passed", String(counts.pass)],
    ["failed", String(counts.fail + counts.unfinished)],
    ["skipped", String(counts.skip)],
    ["known deviations", String(counts.deviation)],
    ["test time", `${(totalMs / 1000).toFixed(1)} s`],
  ]));
  if (run.tests.length) {
    const w = 650, h = 380;
    body.push(
      `<div class="charts"><div class="chart">${
        compose([outcomePanel(counts)], [{ x: 0, y: 0, w, h }], w, h)
      }</div><div class="chart">${
        compose([slowestPanel(run.tests)], [{ x: 0, y: 0, w, h }], w, h)
      }</div></div>`,
    );
  }
  if (failed.length) {
    body.push(`<h2 class="fail">Failures (${failed.length})</h2>`);
    for (const t of failed) {
      const parts = [
        `<div class="failure"><h3>${escapeHtml(t.name)}</h3>`,
        `<div class="muted">${escapeHtml(t.file ?? "")}${
          t.seed ? ` · seed ${escapeHtml(t.seed)}` : ""
        }${t.ms !== undefined ? ` · ${t.ms} ms` : ""}${
          t.outcome === "unfinished" ? " · did not finish (crash or hang)" : ""
        }</div>`,
      ];
      if (t.error) parts.push(`<pre>${escapeHtml(t.error)}</pre>`);
      const cmd = replay(t);
      if (cmd) {
        parts.push(
          `<div class="muted">replay: <code>${escapeHtml(cmd)}</code></div>`,
        );
      }
      for (const n of t.notes) {
        parts.push(`<p class="deviation">${escapeHtml(n)}</p>`);
      }
      const dumps = sortedDumps(t);
      if (!dumps.length) {
        parts.push(`<p class="muted">no cmdlog in the log for this test</p>`);
      }
      dumps.forEach((d, i) => {
        const limit = opts.htmlCommands ?? 0;
        const entries = limit > 0 ? d.entries.slice(0, limit) : d.entries;
        const errs = cmdlogRows(entries, d.admin).filter((r) => r.error).length;
        const head = `cmdlog of ${d.queue}${
          d.failing ? " — the failing command's queue" : ""
        }: ${entries.length} commands${
          d.written > entries.length ? ` (of ${d.written} logged)` : ""
        }${errs ? `, ${errs} with an error status` : ""}, newest first`;
        const table = cmdlogHtml(entries, { admin: d.admin });
        parts.push(
          i === 0 || d.failing
            ? `<h3>${escapeHtml(head)}</h3>${table}`
            : `<details><summary>${
              escapeHtml(head)
            }</summary>${table}</details>`,
        );
      });
      parts.push("</div>");
      body.push(parts.join("\n"));
    }
  }
  const cls: Record<TestOutcome, string> = {
    pass: "pass",
    fail: "fail",
    skip: "skip",
    deviation: "deviation",
    unfinished: "fail",
  };
  body.push(
    "<h2>All tests</h2>",
    htmlTable(
      ["test", "file", "outcome", "ms", "commands", "seed", "note"],
      run.tests.map((t): Cell[] => [
        t.name,
        t.file ?? "",
        { html: `<span class="${cls[t.outcome]}">${WORDS[t.outcome]}</span>` },
        {
          html: t.ms !== undefined ? String(Math.round(t.ms)) : "",
          class: "num",
        },
        { html: t.commands ? String(t.commands) : "", class: "num" },
        t.seed ?? "",
        t.outcome === "deviation"
          ? `${t.model}: ${t.spec} — observed ${t.message}`
          : t.message ?? "",
      ]),
    ),
  );
  if (run.devices.length) {
    body.push(
      "<h2>Devices</h2>",
      `<pre>${escapeHtml(run.devices.join("\n"))}</pre>`,
    );
  }
  return {
    html: page(title, sub, body.join("\n")),
    text: textSummary(run, counts, failed, opts.textCommands ?? 12),
    counts,
  };
}

function textSummary(
  run: TestRun,
  counts: Record<TestOutcome, number>,
  failed: readonly TestRecord[],
  n: number,
): string {
  const out: string[] = [];
  for (const t of failed) {
    out.push(
      `FAILED ${t.name} (${t.file ?? "?"}${t.seed ? `, seed ${t.seed}` : ""})`,
    );
    if (t.message) out.push(`  ${t.message}`);
    const cmd = replay(t);
    if (cmd) out.push(`  replay: ${cmd}`);
    for (const d of sortedDumps(t).slice(0, 2)) {
      out.push(
        `  last ${Math.min(n, d.entries.length)} commands of ${d.queue}${
          d.failing ? " (the failing command's queue)" : ""
        }:`,
      );
      out.push(
        cmdlogText(d.entries.slice(0, n), { admin: d.admin }).split("\n").map((
          l,
        ) => `    ${l}`).join("\n"),
      );
    }
    out.push("");
  }
  out.push(
    `${run.tests.length} tests: ${counts.pass} passed, ${
      counts.fail + counts.unfinished
    } failed${
      counts.unfinished ? ` (${counts.unfinished} did not finish)` : ""
    }, ${counts.skip} skipped, ${counts.deviation} known deviations`,
  );
  return out.join("\n");
}

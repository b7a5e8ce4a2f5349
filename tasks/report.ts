/**
 * `deno task report [FILE] [--html OUT] [--png OUT] [--junit XML] [--json]`
 *
 * - FILE a harness test record (default `test-results/test.record.jsonl`; a
 *   `test.log` names the `test.record.jsonl` beside it): prints the outcome counts
 *   and each failure with its seed, replay command and last commands;
 *   `--html` writes the test-run report with the decoded cmdlog of every
 *   queue of each failed test. JUnit XML (`--junit`, default `tests.xml` next
 *   to the record when there) adds the plain `Deno.test`s.
 * - FILE the JSON of `deno task nvme ioworker --json`: `--html` writes the
 *   ioworker report (charts), `--svg` its picture.
 *
 * `--png OUT` screenshots the HTML page in headless Chromium.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  ioworkerReport,
  mergeJUnit,
  parseTestRecord,
  readJUnit,
  screenshot,
  testRunReport,
} from "../report/mod.ts";
import type { IoWorkerResult } from "../mod.ts";
import { recordFileOf } from "../testing/log.ts";

const USAGE =
  `usage: deno task report [FILE] [--html OUT.html] [--png OUT.png] [--svg OUT.svg] [--junit XML] [--title T] [--json]
  FILE  test-results/test.record.jsonl (default; or the test.log beside it): the test-run report,
        failures with their cmdlogs
        or the output of \`deno task nvme ioworker --json\`: the ioworker report`;

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    html: { type: "string" },
    png: { type: "string" },
    svg: { type: "string" },
    junit: { type: "string" },
    title: { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

function exists(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

async function writeHtml(html: string): Promise<void> {
  if (values.html) {
    Deno.writeTextFileSync(values.html, html);
    console.error(`wrote ${values.html}`);
  }
  if (values.png) {
    let file = values.html;
    let tmp: string | undefined;
    if (!file) {
      tmp = Deno.makeTempFileSync({ suffix: ".html" });
      Deno.writeTextFileSync(tmp, html);
      file = tmp;
    }
    try {
      await screenshot(file, values.png, { width: 1400, height: 1400 });
      console.error(`wrote ${values.png}`);
    } finally {
      if (tmp) Deno.removeSync(tmp);
    }
  }
}

async function main(): Promise<number> {
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  let file = positionals[0] ?? "test-results/test.record.jsonl";
  if (file.endsWith(".log")) file = recordFileOf(file); // the record beside the text log
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (e) {
    console.error(`error: cannot read ${file}: ${(e as Error).message}`);
    return 1;
  }
  if (!file.endsWith(".jsonl") && text.trimStart().startsWith("{")) {
    // an ioworker result (deno task nvme ioworker --json)
    const j = JSON.parse(text);
    if (!j.result) {
      console.error(`error: ${file} is JSON but holds no ioworker "result"`);
      return 1;
    }
    const result = {
      ...j.result,
      seed: BigInt(j.result.seed ?? 0),
    } as IoWorkerResult;
    const rep = ioworkerReport(
      { result, options: j.options, lbaSize: j.lbaSize, label: j.label },
      { title: values.title ?? j.title, device: j.device },
    );
    if (values.svg) Deno.writeTextFileSync(values.svg, rep.svg);
    await writeHtml(rep.html);
    if (values.json) console.log(JSON.stringify(rep.summary, null, 2));
    else {
      for (const s of rep.summary) {
        console.log(
          `${s.label}: ${s.ios} IOs in ${s.seconds} s, ${
            s.iops.toFixed(0)
          } IOPS, average latency ${s.latencyAverageUs} us${
            s.error ? `, ERROR ${s.error}` : ""
          }`,
        );
      }
    }
    return 0;
  }
  const run = parseTestRecord(text);
  if (!run.tests.length && !run.run) {
    console.error(
      `warning: ${file} is not a denvme test record (no run header, no tests): the harness writes test-results/test.record.jsonl beside test.log`,
    );
  } else if (!run.tests.length) {
    console.error(`warning: ${file} holds no tests`);
  }
  const junit = values.junit ??
    [file.replace(/[^/]*$/, "tests.xml")].find(exists);
  if (junit) mergeJUnit(run, readJUnit(Deno.readTextFileSync(junit)));
  const rep = testRunReport(run, { title: values.title });
  await writeHtml(rep.html);
  if (values.json) {
    console.log(JSON.stringify(
      {
        counts: rep.counts,
        tests: run.tests.map((t) => ({
          ...t,
          cmdlogs: t.cmdlogs.map((d) => ({
            queue: d.queue,
            qid: d.qid,
            failing: d.failing,
            written: d.written,
            commands: d.entries.length,
          })),
        })),
      },
      null,
      2,
    ));
  } else {
    console.log(rep.text);
  }
  return 0;
}

Deno.exit(await main());

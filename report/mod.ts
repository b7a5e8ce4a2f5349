/**
 * denvme reports (the package's `./report` entry): charts of ioworker runs,
 * test-run reports from `test.log` with the cmdlogs of failed tests, the
 * cmdlog viewer, and PNG pictures through headless Chromium. Charts are
 * Apache ECharts rendered server-side to static SVG; the HTML pages are
 * self-contained (no scripts, nothing fetched when viewed).
 *
 * ```ts
 * import { Controller, Namespace } from "../mod.ts";
 * import { ioworkerReport, svgToPng } from "./mod.ts";
 *
 * using nvme0 = new Controller("qemu");
 * using nvme0n1 = new Namespace(nvme0, 1);
 * const options = { ioSize: 8, time: 5, outputIoPerSecond: true, outputPercentileLatency: [50, 99, 99.9] };
 * const result = nvme0n1.ioworker(options).start().close();
 * const { html, svg } = ioworkerReport({ result, options, lbaSize: nvme0n1.lbaSize });
 * Deno.writeTextFileSync("ioworker.html", html);
 * await svgToPng(svg, "ioworker.png"); // needs chromium
 * ```
 *
 * @module
 */
export {
  type IoWorkerReport,
  ioworkerReport,
  type IoWorkerReportOptions,
  type IoWorkerRun,
  type IoWorkerSummary,
  summarize,
} from "./ioworker_report.ts";
export {
  cmdlogHtml,
  type CmdlogRow,
  cmdlogRows,
  cmdlogText,
  type CmdlogViewOptions,
} from "./cmdlog_view.ts";
export {
  mergeJUnit,
  parseTestRecord,
  type TestOutcome,
  type TestRecord,
  type TestRun,
} from "./testlog.ts";
export {
  type JUnitCase,
  type JUnitSuite,
  readJUnit,
  writeJUnit,
} from "./junit.ts";
export {
  countOutcomes,
  type TestReport,
  type TestReportOptions,
  testRunReport,
} from "./test_report.ts";
export {
  findChromium,
  screenshot,
  type ScreenshotOptions,
  svgToPng,
} from "./chromium.ts";
export {
  type CmdlogDump,
  type CmdlogDumpJson,
  decodeCmdlogDump,
  type EntryJson,
} from "../testing/cmdlog_json.ts";
// the driver's types the report API takes (type-only: loads no native library)
export type {
  CmdlogEntry,
  IoRecord,
  IoSequenceEntry,
  IoWorkerOptions,
  IoWorkerResult,
} from "../mod.ts";

/**
 * The ioworker report: from one or more {@link IoWorkerResult}s, a
 * self-contained HTML page (inline SVG charts and CSS, no scripts, nothing
 * fetched at view time) and one SVG picture for embedding, with
 *
 * - IOPS over time (`outputIoPerSecond`), with the average,
 * - latency percentiles (`outputPercentileLatency`),
 * - the latency histogram, log-binned, with the cumulative share,
 * - IOs per opcode,
 * - the latency of the last IOs over time (`outputCmdlogList`), when present.
 *
 * ```ts
 * import { Controller, Namespace } from "../mod.ts";
 * import { ioworkerReport } from "./ioworker_report.ts";
 *
 * using nvme0 = new Controller("qemu");
 * using nvme0n1 = new Namespace(nvme0, 1);
 * const options = {
 *   ioSize: 8, readPercentage: 70, time: 5, qdepth: 32,
 *   outputIoPerSecond: true, outputPercentileLatency: [50, 90, 99, 99.9],
 * };
 * const result = nvme0n1.ioworker(options).start().close();
 * const { html, svg } = ioworkerReport({ result, options, lbaSize: nvme0n1.lbaSize });
 * Deno.writeTextFileSync("ioworker.html", html);
 * Deno.writeTextFileSync("ioworker.svg", svg);
 * ```
 *
 * @module
 */
import type { IoWorkerOptions, IoWorkerResult } from "../mod.ts";
// not from mod.ts: that loads the C library, and reports need none
import { commandName } from "../ffi/status.ts";
import {
  axisStyle,
  type ChartOption,
  compose,
  gridAt,
  legendAbove,
  PALETTE,
  type Panel,
  type Rect,
  SERIES_COLORS,
} from "./charts.ts";
import {
  cards,
  type Cell,
  escapeHtml,
  formatCount,
  formatUs,
  htmlTable,
  page,
} from "./html.ts";

/**
 * One ioworker run to report.
 *
 * ```ts
 * declare const result: import("../mod.ts").IoWorkerResult;
 * declare const options: import("../mod.ts").IoWorkerOptions;
 * const run: IoWorkerRun = { label: "4 KiB random read", result, options, lbaSize: 512 };
 * const { html } = ioworkerReport(run);
 * ```
 */
export interface IoWorkerRun {
  /** Name in legends and tables (default "ioworker", or "ioworker N" for several). */
  label?: string;
  /** What `close()` returned. */
  result: IoWorkerResult;
  /** The parameters it ran with (shown in the report; `ioSize` gives MB/s). */
  options?: IoWorkerOptions;
  /** LBA size in bytes (for MB/s; default {@link IoWorkerReportOptions.lbaSize}). */
  lbaSize?: number;
}

/**
 * Options of {@link ioworkerReport}.
 *
 * ```ts
 * declare const result: import("../mod.ts").IoWorkerResult;
 * const opts: IoWorkerReportOptions = { title: "nightly", device: "nvme0n1", width: 1600 };
 * ioworkerReport(result, opts);
 * ```
 */
export interface IoWorkerReportOptions {
  /** Page and picture title. Default "ioworker report". */
  title?: string;
  /** A line about the device, e.g. "QEMU NVMe Ctrl, serial DENVME0001, nsid 1". */
  device?: string;
  /** LBA size for runs that do not give one. Default 512. */
  lbaSize?: number;
  /** Width of the SVG picture in pixels. Default 1200. */
  width?: number;
  /** Rows of the last-IOs table in the HTML page (0: none). Default 100. */
  ioRows?: number;
}

/**
 * What {@link ioworkerReport} returns.
 *
 * ```ts
 * declare const result: import("../mod.ts").IoWorkerResult;
 * const report: IoWorkerReport = ioworkerReport(result);
 * Deno.writeTextFileSync("iops.svg", report.charts.iops);
 * ```
 */
export interface IoWorkerReport {
  /** The self-contained HTML page. */
  html: string;
  /** All charts in one SVG picture (for embedding in other documents). */
  svg: string;
  /** Each chart as its own SVG, by name. */
  charts: {
    iops: string;
    percentiles: string;
    histogram: string;
    opcodes: string;
    ioLatency?: string;
  };
  /** The figures shown in the summary, per run. */
  summary: IoWorkerSummary[];
}

/**
 * Key figures of one run.
 *
 * ```ts
 * declare const result: import("../mod.ts").IoWorkerResult;
 * const [s]: IoWorkerSummary[] = ioworkerReport(result).summary;
 * console.log(`${s.iops.toFixed(0)} IOPS, ${s.mbps?.toFixed(1)} MB/s`);
 * ```
 */
export interface IoWorkerSummary {
  /** The run's label. */
  label: string;
  /** IOs completed. */
  ios: number;
  /** Seconds from the first submission to the last completion. */
  seconds: number;
  /** Average IOs per second. */
  iops: number;
  /** Average MB/s (10^6 bytes) of reads and writes, when the IO size is known. */
  mbps?: number;
  /** Average latency, µs. */
  latencyAverageUs: number;
  /** Largest latency, µs. */
  latencyMaxUs: number;
  /** Latency percentiles, µs (when requested). */
  percentiles: Record<string, number>;
  /** Error text, when the run failed. */
  error?: string;
}

/**
 * Colour of an I/O opcode, the same in every chart.
 *
 * ```ts
 * opcodeColor(0x02); // "#2f6fdf" (reads are blue)
 * ```
 */
export function opcodeColor(opcode: number): string {
  switch (opcode) {
    case 0x02:
      return PALETTE.blue;
    case 0x01:
      return PALETTE.orange;
    case 0x09:
      return PALETTE.green;
    case 0x00:
      return PALETTE.purple;
    case 0x08:
      return PALETTE.teal;
    case 0x05:
      return PALETTE.brown;
    case 0x0c:
      return PALETTE.pink;
    case 0x04:
      return PALETTE.red;
    default:
      return PALETTE.olive;
  }
}

/**
 * Mean LBAs per IO of an `ioSize` parameter (undefined: unknown).
 *
 * ```ts
 * meanIoSize({ 8: 3, 64: 1 }); // 22 LBAs
 * ```
 */
export function meanIoSize(
  ioSize: IoWorkerOptions["ioSize"] | undefined,
): number {
  if (ioSize === undefined) return 8;
  if (typeof ioSize === "number") return ioSize;
  if (Array.isArray(ioSize)) {
    return ioSize.reduce((a, b) => a + b, 0) / ioSize.length;
  }
  let sum = 0, w = 0;
  for (const [k, v] of Object.entries(ioSize)) {
    sum += Number(k) * v;
    w += v;
  }
  return w ? sum / w : 8;
}

/**
 * One bin of {@link latencyBins}.
 *
 * ```ts
 * declare const result: import("../mod.ts").IoWorkerResult;
 * const bins: LatencyBin[] = latencyBins(result.latencyDistribution!);
 * const slowest = bins.at(-1);
 * ```
 */
export interface LatencyBin {
  /** Lowest latency of the bin, µs (inclusive). */
  low: number;
  /** Highest latency of the bin, µs (exclusive). */
  high: number;
  /** IOs in it. */
  count: number;
}

const STEPS: Record<number, number[]> = {
  10: [1, 1.25, 1.6, 2, 2.5, 3.2, 4, 5, 6.3, 8],
  5: [1, 1.6, 2.5, 4, 6.3],
  3: [1, 2, 5],
};

/**
 * Rebin an ioworker latency distribution (`[highest µs, IOs]` of fine
 * buckets) into log-spaced bins: 10 per decade for narrow ranges, 5 or 3
 * (1-2-5) for wide ones, from the first non-empty bin to the last.
 *
 * ```ts
 * latencyBins([[99, 10], [180, 5], [1500, 1]]);
 * // [{ low: 80, high: 100, count: 10 }, { low: 160, high: 200, count: 5 }, ...]
 * ```
 */
export function latencyBins(
  dist: readonly (readonly [number, number])[],
  perDecade?: 3 | 5 | 10,
): LatencyBin[] {
  const data = dist.filter(([, n]) => n > 0);
  if (!data.length) return [];
  const lo = Math.max(1, Math.min(...data.map(([us]) => us)));
  const hi = Math.max(1, Math.max(...data.map(([us]) => us)));
  const decades = Math.log10(hi / lo);
  const per = perDecade ?? (decades <= 2 ? 10 : decades <= 3.5 ? 5 : 3);
  const edges: number[] = [0];
  for (let d = 0; d <= Math.ceil(Math.log10(hi)) + 1; d++) {
    for (const s of STEPS[per]) edges.push(Math.round(s * 10 ** d * 100) / 100);
  }
  const bins: LatencyBin[] = edges.slice(0, -1).map((low, i) => ({
    low,
    high: edges[i + 1],
    count: 0,
  }));
  for (const [us, n] of data) {
    // bucket "us" holds latencies up to us: it belongs where us falls
    let k = bins.findIndex((b) => us < b.high);
    if (k < 0) k = bins.length - 1;
    bins[k].count += n;
  }
  const first = bins.findIndex((b) => b.count > 0);
  let last = bins.length - 1;
  while (last > first && bins[last].count === 0) last--;
  return bins.slice(first, last + 1);
}

function label(run: IoWorkerRun, i: number, n: number): string {
  return run.label ?? (n > 1 ? `ioworker ${i + 1}` : "ioworker");
}

/**
 * The figures of one run (also used by the CLI).
 *
 * ```ts
 * declare const result: import("../mod.ts").IoWorkerResult;
 * declare const options: import("../mod.ts").IoWorkerOptions;
 * const s = summarize({ result, options: { ioSize: 8 }, lbaSize: 512 });
 * console.log(s.iops, s.mbps);
 * ```
 */
export function summarize(
  run: IoWorkerRun,
  opts: IoWorkerReportOptions = {},
  name = run.label ?? "ioworker",
): IoWorkerSummary {
  const r = run.result;
  const ios = r.ioCountRead + r.ioCountNonread;
  const seconds = r.mseconds / 1000;
  const lbaSize = run.lbaSize ?? opts.lbaSize ?? 512;
  const s: IoWorkerSummary = {
    label: name,
    ios,
    seconds,
    iops: seconds > 0 ? ios / seconds : 0,
    latencyAverageUs: r.latencyAverageUs,
    latencyMaxUs: r.latencyMaxUs,
    percentiles: r.latencyPercentiles ?? {},
  };
  if (!run.options?.ioSequence && seconds > 0) {
    const bytes = meanIoSize(run.options?.ioSize) * lbaSize;
    s.mbps = (r.ioCountRead + r.ioCountWrite) * bytes / seconds / 1e6;
  }
  if (!r.ok) s.error = r.errorMessage ?? `error 0x${r.error.toString(16)}`;
  return s;
}

function placeholder(plot: Rect, text: string): ChartOption {
  return {
    type: "text",
    left: plot.x + plot.w / 2 - 150,
    top: plot.y + plot.h / 2 - 10,
    style: { text, fill: "#8a8f98", fontSize: 13, width: 300, align: "left" },
  };
}

/** A y axis name written along the axis, left of its labels. */
const yName = { nameLocation: "middle", nameGap: 58, nameRotate: 90 };

const valueAxis = (extra: ChartOption = {}) =>
  axisStyle({
    type: "value",
    axisLabel: {
      color: "#3b4352",
      fontSize: 11,
      formatter: (v: number) => formatCount(v),
    },
    ...extra,
  });

function iopsPanel(runs: readonly IoWorkerRun[]): Panel {
  const n = runs.length;
  const with_ = runs.filter((r) => r.result.ioPerSecond?.length);
  const avg = with_.length
    ? with_.reduce(
      (s, r) =>
        s + r.result.ioPerSecond!.reduce((a, b) => a + b, 0) /
          r.result.ioPerSecond!.length,
      0,
    )
    : 0;
  return {
    title: "IOPS over time",
    subtitle: with_.length
      ? `IOs completed in each second${
        n > 1 ? " (per worker and total)" : ""
      }; average ${formatCount(avg)}`
      : undefined,
    build(plot, outer) {
      if (!with_.length) {
        return {
          series: [],
          graphic: [
            placeholder(plot, "no per-second data: run with outputIoPerSecond"),
          ],
        };
      }
      const len = Math.max(...with_.map((r) => r.result.ioPerSecond!.length));
      const names: string[] = [];
      const series: ChartOption[] = with_.map((run, i) => {
        const name = label(run, runs.indexOf(run), n);
        names.push(name);
        return {
          type: "line",
          name,
          data: run.result.ioPerSecond!,
          symbol: len <= 60 ? "circle" : "none",
          symbolSize: 5,
          lineStyle: { width: 2 },
          color: SERIES_COLORS[i % SERIES_COLORS.length],
          areaStyle: with_.length === 1 ? { opacity: 0.12 } : undefined,
          markLine: with_.length === 1
            ? {
              silent: true,
              symbol: "none",
              label: {
                formatter: (p: { value: number }) =>
                  `avg ${formatCount(p.value)}`,
                position: "insideEndTop",
                fontSize: 11,
              },
              lineStyle: { type: "dashed", color: PALETTE.red },
              data: [{ type: "average" }],
            }
            : undefined,
        };
      });
      if (with_.length > 1) {
        const total = Array.from(
          { length: len },
          (_, s) =>
            with_.reduce((a, r) => a + (r.result.ioPerSecond![s] ?? 0), 0),
        );
        names.push("total");
        series.push({
          type: "line",
          name: "total",
          data: total,
          symbol: "none",
          lineStyle: { width: 2.5, type: "dashed" },
          color: "#1d2330",
        });
      }
      return {
        grid: [gridAt(plot)],
        xAxis: [axisStyle({
          type: "category",
          name: "second",
          nameLocation: "middle",
          nameGap: 26,
          data: Array.from({ length: len }, (_, i) => String(i + 1)),
          boundaryGap: false,
        })],
        yAxis: [valueAxis({ name: "IOPS", min: 0, ...yName })],
        series,
        legend: [legendAbove(plot, outer, names)],
      };
    },
  };
}

function percentilesPanel(runs: readonly IoWorkerRun[]): Panel {
  const n = runs.length;
  const with_ = runs.filter((r) =>
    Object.keys(r.result.latencyPercentiles ?? {}).length
  );
  const keys = [
    ...new Set(with_.flatMap((r) => Object.keys(r.result.latencyPercentiles!))),
  ].sort((a, b) => Number(a) - Number(b));
  const values = with_.flatMap((r) =>
    Object.values(r.result.latencyPercentiles!)
  ).filter((v) => v > 0);
  const logScale = values.length > 1 &&
    Math.max(...values) / Math.min(...values) > 30;
  return {
    title: "Latency percentiles",
    subtitle: with_.length
      ? `µs at each percentile${logScale ? " (log scale)" : ""}`
      : undefined,
    build(plot, outer) {
      if (!with_.length) {
        return {
          series: [],
          graphic: [
            placeholder(
              plot,
              "no percentiles: run with outputPercentileLatency",
            ),
          ],
        };
      }
      const names = with_.map((r) => label(r, runs.indexOf(r), n));
      return {
        grid: [gridAt(plot)],
        xAxis: [axisStyle({
          type: "category",
          data: keys.map((k) => `p${k}`),
          name: "percentile",
          nameLocation: "middle",
          nameGap: 26,
        })],
        yAxis: [axisStyle({
          type: logScale ? "log" : "value",
          name: "latency",
          ...yName,
          min: logScale ? undefined : 0,
          axisLabel: {
            color: "#3b4352",
            fontSize: 11,
            formatter: (v: number) => formatUs(v),
          },
        })],
        series: with_.map((run, i) => ({
          type: "bar",
          name: names[i],
          data: keys.map((k) => run.result.latencyPercentiles![k] ?? 0),
          barMaxWidth: 46,
          color: n > 1
            ? SERIES_COLORS[i % SERIES_COLORS.length]
            : PALETTE.purple,
          itemStyle: { borderRadius: [3, 3, 0, 0] },
          label: {
            show: n === 1, // side by side, the values would overlap
            position: "top",
            fontSize: 11,
            color: "#1d2330",
            formatter: (p: { value: number }) => formatUs(p.value),
          },
        })),
        legend: n > 1 ? [legendAbove(plot, outer, names)] : undefined,
      };
    },
  };
}

function histogramPanel(runs: readonly IoWorkerRun[]): Panel {
  const n = runs.length;
  const with_ = runs.filter((r) => r.result.latencyDistribution?.length);
  // common bins over every run
  const all = with_.flatMap((r) => r.result.latencyDistribution!);
  const grid = latencyBins(all);
  return {
    title: "Latency histogram",
    subtitle: with_.length
      ? n > 1
        ? "IOs per latency bin (log scale), per worker"
        : "IOs per latency bin (log scale), and the cumulative share"
      : undefined,
    build(plot, outer) {
      if (!with_.length) {
        return {
          series: [],
          graphic: [
            placeholder(
              plot,
              "no histogram: run with outputPercentileLatency",
            ),
          ],
        };
      }
      const names: string[] = [];
      const series: ChartOption[] = [];
      with_.forEach((run, i) => {
        const counts = grid.map(() => 0);
        for (const [us, c] of run.result.latencyDistribution!) {
          let k = grid.findIndex((b) => us < b.high);
          if (k < 0) k = grid.length - 1;
          counts[k] += c;
        }
        const name = n > 1 ? label(run, runs.indexOf(run), n) : "IOs";
        names.push(name);
        series.push({
          type: "bar",
          name,
          data: counts.map((c) => c || null),
          barCategoryGap: "12%",
          color: n > 1 ? SERIES_COLORS[i % SERIES_COLORS.length] : PALETTE.teal,
        });
        if (n > 1) return; // one cumulative line per run would crowd the chart
        const total = counts.reduce((a, b) => a + b, 0);
        let acc = 0;
        series.push({
          type: "line",
          name: "cumulative %",
          yAxisIndex: 1,
          data: counts.map((c) => +(100 * (acc += c) / total).toFixed(3)),
          symbol: "none",
          smooth: false,
          lineStyle: { width: 2 },
          color: n > 1 ? SERIES_COLORS[i % SERIES_COLORS.length] : PALETTE.red,
        });
        names.push("cumulative %");
      });
      return {
        grid: [gridAt(plot)],
        xAxis: [axisStyle({
          type: "category",
          data: grid.map((b) => formatUs(b.low)),
          name: "latency (bin start)",
          nameLocation: "middle",
          nameGap: 26,
          axisLabel: { color: "#3b4352", fontSize: 10, hideOverlap: true },
        })],
        yAxis: [
          valueAxis({ type: "log", name: "IOs", min: 1, ...yName }),
          ...(n > 1 ? [] : [axisStyle({
            type: "value",
            name: "cumulative %",
            ...yName,
            nameGap: 36,
            nameRotate: -90,
            min: 0,
            max: 100,
            position: "right",
            splitLine: { show: false },
          })]),
        ],
        series,
        legend: [legendAbove(plot, outer, names)],
      };
    },
  };
}

function opcodesPanel(runs: readonly IoWorkerRun[]): Panel {
  const n = runs.length;
  const ops = [
    ...new Set(runs.flatMap((r) => Object.keys(r.result.opCounts).map(Number))),
  ].sort((a, b) => a - b);
  const opName = (op: number) =>
    `${commandName(op, false)} (${op.toString(16).padStart(2, "0")}h)`;
  return {
    title: "IOs per opcode",
    subtitle: ops.length
      ? `${
        formatCount(runs.reduce((s, r) =>
          s + Object.values(r.result.opCounts).reduce((a, b) =>
            a + b, 0), 0))
      } IOs completed`
      : undefined,
    build(plot, outer) {
      if (!ops.length) {
        return { series: [], graphic: [placeholder(plot, "no IOs completed")] };
      }
      if (n === 1) {
        const counts = runs[0].result.opCounts;
        const total = Object.values(counts).reduce((a, b) => a + b, 0);
        return {
          series: [{
            type: "pie",
            radius: [
              Math.min(plot.w, plot.h) * 0.3,
              Math.min(plot.w, plot.h) * 0.48,
            ],
            center: [plot.x + plot.w * 0.5, plot.y + plot.h * 0.5],
            avoidLabelOverlap: true,
            label: {
              formatter: (p: { name: string; value: number }) =>
                `${p.name}\n${formatCount(p.value)} (${
                  (100 * p.value / total).toFixed(1)
                }%)`,
              fontSize: 11,
              color: "#1d2330",
            },
            itemStyle: { borderColor: "#fff", borderWidth: 2 },
            data: ops.map((op) => ({
              name: opName(op),
              value: counts[op] ?? 0,
              itemStyle: { color: opcodeColor(op) },
            })),
          }],
          legend: [legendAbove(plot, outer, ops.map(opName))],
        };
      }
      const names = runs.map((r, i) => label(r, i, n));
      return {
        grid: [gridAt(plot)],
        xAxis: [axisStyle({
          type: "category",
          data: names,
          axisLabel: {
            color: "#3b4352",
            fontSize: 11,
            interval: 0,
            width: plot.w / n - 8,
            overflow: "break",
          },
        })],
        yAxis: [valueAxis({ name: "IOs", min: 0, ...yName })],
        series: ops.map((op) => ({
          type: "bar",
          name: opName(op),
          stack: "ops",
          data: runs.map((r) => r.result.opCounts[op] ?? 0),
          color: opcodeColor(op),
          barMaxWidth: 60,
        })),
        legend: [legendAbove(plot, outer, ops.map(opName))],
      };
    },
  };
}

function ioLatencyPanel(runs: readonly IoWorkerRun[]): Panel | undefined {
  const with_ = runs.filter((r) => r.result.cmdlog?.length);
  if (!with_.length) return undefined;
  const ops = [
    ...new Set(with_.flatMap((r) => r.result.cmdlog!.map((x) => x.opcode))),
  ].sort((a, b) => a - b);
  const lats = with_.flatMap((r) => r.result.cmdlog!.map((x) => x.latencyUs))
    .filter((v) => v > 0);
  const logScale = lats.length > 1 &&
    Math.max(...lats) / Math.min(...lats) > 30;
  const count = with_.reduce((s, r) => s + r.result.cmdlog!.length, 0);
  return {
    title: "Latency of the last IOs",
    subtitle: `${count} IOs (outputCmdlogList) by completion time${
      logScale ? "; log scale" : ""
    }`,
    build(plot, outer) {
      const names = ops.map((op) => commandName(op, false));
      return {
        grid: [gridAt(plot)],
        xAxis: [valueAxis({
          name: "completion time (ms since start)",
          nameLocation: "middle",
          nameGap: 26,
          scale: true,
          axisLabel: {
            color: "#3b4352",
            fontSize: 11,
            formatter: (v: number) => String(v),
          },
        })],
        yAxis: [axisStyle({
          type: logScale ? "log" : "value",
          name: "latency",
          ...yName,
          axisLabel: {
            color: "#3b4352",
            fontSize: 11,
            formatter: (v: number) => formatUs(v),
          },
        })],
        series: ops.map((op, i) => ({
          type: "scatter",
          name: names[i],
          symbolSize: 4,
          color: opcodeColor(op),
          data: with_.flatMap((r) =>
            r.result.cmdlog!.filter((x) => x.opcode === op).map((x) => [
              +(x.timeUs / 1000).toFixed(3),
              Math.max(x.latencyUs, logScale ? 1 : 0),
            ])
          ),
        })),
        legend: [legendAbove(plot, outer, names)],
      };
    },
  };
}

function normalize(
  input: IoWorkerResult | IoWorkerRun | readonly IoWorkerRun[],
): IoWorkerRun[] {
  if (Array.isArray(input)) return [...input];
  const one = input as IoWorkerResult | IoWorkerRun;
  return "result" in one ? [one] : [{ result: one }];
}

/**
 * Build the report of one or more ioworker runs: `{ html, svg, charts,
 * summary }`. Give the options a run was started with for the parameters
 * table and MB/s; request `outputIoPerSecond`, `outputPercentileLatency` (and
 * optionally `outputCmdlogList`) so the charts have data — a chart without
 * its data says which option it needs.
 *
 * ```ts
 * import { Namespace } from "../mod.ts";
 * declare const nvme0n1: Namespace;
 * const result = nvme0n1.ioworker({
 *   ioSize: 8, time: 10, outputIoPerSecond: true,
 *   outputPercentileLatency: [50, 90, 99, 99.9, 99.99],
 * }).start().close();
 * const report = ioworkerReport(result, { title: "4 KiB random read", device: "nvme0n1" });
 * Deno.writeTextFileSync("report.html", report.html);
 * ```
 */
export function ioworkerReport(
  input: IoWorkerResult | IoWorkerRun | readonly IoWorkerRun[],
  opts: IoWorkerReportOptions = {},
): IoWorkerReport {
  const runs = normalize(input);
  if (!runs.length) throw new TypeError("ioworkerReport: no runs given");
  const n = runs.length;
  const title = opts.title ?? "ioworker report";
  const summary = runs.map((r, i) => summarize(r, opts, label(r, i, n)));
  const W = opts.width ?? 1200;
  const panels: Panel[] = [
    iopsPanel(runs),
    percentilesPanel(runs),
    histogramPanel(runs),
    opcodesPanel(runs),
  ];
  const ioPanel = ioLatencyPanel(runs);
  if (ioPanel) panels.push(ioPanel);

  // the picture: a 2 × 2 dashboard (+ a full-width row for the last IOs)
  const head = 66, rowH = 340, half = W / 2;
  const cells: Rect[] = [
    { x: 0, y: head, w: half, h: rowH },
    { x: half, y: head, w: half, h: rowH },
    { x: 0, y: head + rowH, w: half, h: rowH },
    { x: half, y: head + rowH, w: half, h: rowH },
  ];
  if (ioPanel) cells.push({ x: 0, y: head + 2 * rowH, w: W, h: 300 });
  const H = head + 2 * rowH + (ioPanel ? 300 : 0) + 8;
  const totals = summary.reduce(
    (a, s) => ({ ios: a.ios + s.ios, iops: a.iops + s.iops }),
    { ios: 0, iops: 0 },
  );
  const sub = [
    opts.device,
    `${formatCount(totals.ios)} IOs, ${formatCount(totals.iops)} IOPS`,
    summary.some((s) => s.error) ? "ERRORS: see the report" : undefined,
  ].filter(Boolean).join(" · ");
  const svg = compose(panels, cells, W, H, { title, subtitle: sub });

  // the page: each chart on its own
  const one = (p: Panel, w = 650, h = 360) =>
    compose([p], [{ x: 0, y: 0, w, h }], w, h);
  const charts: IoWorkerReport["charts"] = {
    iops: one(panels[0]),
    percentiles: one(panels[1]),
    histogram: one(panels[2]),
    opcodes: one(panels[3]),
  };
  if (ioPanel) charts.ioLatency = one(ioPanel, 1314, 340);
  return {
    html: html(title, runs, summary, charts, opts),
    svg,
    charts,
    summary,
  };
}

function html(
  title: string,
  runs: readonly IoWorkerRun[],
  summary: readonly IoWorkerSummary[],
  charts: IoWorkerReport["charts"],
  opts: IoWorkerReportOptions,
): string {
  const parts: string[] = [];
  const total = summary.reduce(
    (a, s) => ({
      ios: a.ios + s.ios,
      iops: a.iops + s.iops,
      mbps: s.mbps === undefined || a.mbps === undefined
        ? undefined
        : a.mbps + s.mbps,
      seconds: Math.max(a.seconds, s.seconds),
      max: Math.max(a.max, s.latencyMaxUs),
    }),
    { ios: 0, iops: 0, mbps: 0 as number | undefined, seconds: 0, max: 0 },
  );
  const latAvg = summary.reduce((a, s) => a + s.latencyAverageUs * s.ios, 0) /
    Math.max(1, total.ios);
  const items: [string, string][] = [
    ["IOPS", formatCount(total.iops)],
  ];
  if (total.mbps !== undefined) {
    items.push(["MB/s", total.mbps.toFixed(total.mbps < 100 ? 1 : 0)]);
  }
  items.push(
    ["IOs completed", formatCount(total.ios)],
    ["duration", `${total.seconds.toFixed(1)} s`],
    ["average latency", formatUs(latAvg)],
  );
  if (n1(summary)) {
    const p = summary[0].percentiles;
    for (const k of ["99", "99.9"]) {
      if (p[k] !== undefined) items.push([`p${k} latency`, formatUs(p[k])]);
    }
  }
  items.push(["max latency", formatUs(total.max)]);
  const errors = summary.filter((s) => s.error);
  items.push(["errors", errors.length ? `${errors.length} run(s)` : "none"]);
  parts.push(cards(items));
  for (const s of errors) {
    parts.push(
      `<p class="fail">${escapeHtml(s.label)}: ${escapeHtml(s.error!)}</p>`,
    );
  }
  parts.push(
    `<h2>Charts</h2><div class="charts">${
      [
        charts.iops,
        charts.percentiles,
        charts.histogram,
        charts.opcodes,
        charts.ioLatency,
      ].filter((c): c is string => !!c).map((c) =>
        `<div class="chart">${c}</div>`
      ).join("\n")
    }</div>`,
  );

  // per run: figures, percentiles, parameters
  const pctKeys = [
    ...new Set(summary.flatMap((s) => Object.keys(s.percentiles))),
  ].sort((a, b) => Number(a) - Number(b));
  const num = (v: string) => ({ html: escapeHtml(v), class: "num" });
  parts.push(
    "<h2>Runs</h2>",
    htmlTable(
      [
        "run",
        "IOs",
        "reads",
        "writes",
        "other",
        "seconds",
        "IOPS",
        "MB/s",
        "avg latency",
        ...pctKeys.map((k) => `p${k}`),
        "max latency",
        "CPU",
        "seed",
        "result",
      ],
      runs.map((run, i): Cell[] => {
        const r = run.result, s = summary[i];
        return [
          s.label,
          num(String(s.ios)),
          num(String(r.ioCountRead)),
          num(String(r.ioCountWrite)),
          num(String(r.ioCountNonread - r.ioCountWrite)),
          num(s.seconds.toFixed(3)),
          num(s.iops.toFixed(0)),
          num(s.mbps === undefined ? "—" : s.mbps.toFixed(1)),
          num(formatUs(s.latencyAverageUs)),
          ...pctKeys.map((k) =>
            num(
              s.percentiles[k] === undefined ? "—" : formatUs(s.percentiles[k]),
            )
          ),
          num(formatUs(s.latencyMaxUs)),
          num(`${(r.cpuUsage * 100).toFixed(1)}%`),
          `0x${r.seed.toString(16)}`,
          s.error
            ? { html: `<span class="fail">${escapeHtml(s.error)}</span>` }
            : {
              html: `<span class="pass">${r.stopped ? "stopped" : "ok"}</span>`,
            },
        ];
      }),
    ),
  );
  const withOpts = runs.filter((r) => r.options);
  if (withOpts.length) {
    parts.push("<h2>Parameters</h2>");
    for (const run of withOpts) {
      const o = { ...run.options } as Record<string, unknown>;
      if (Array.isArray(o.ioSequence)) {
        o.ioSequence = `${o.ioSequence.length} IOs (trace replay)`;
      }
      for (const k of ["outputIoPerSecond", "outputCmdlogList"]) {
        if (Array.isArray(o[k])) o[k] = true;
      }
      const rows = Object.entries(o).filter(([, v]) => v !== undefined).map((
        [k, v],
      ): Cell[] => [
        k,
        JSON.stringify(v, (_, x) => typeof x === "bigint" ? `${x}` : x),
      ]);
      if (run.lbaSize ?? opts.lbaSize) {
        rows.push(["(LBA size)", `${run.lbaSize ?? opts.lbaSize} bytes`]);
      }
      parts.push(
        n1(summary)
          ? ""
          : `<h3>${escapeHtml(summary[runs.indexOf(run)].label)}</h3>`,
        htmlTable(["parameter", "value"], rows),
      );
    }
  }
  const ioRows = opts.ioRows ?? 100;
  const withLog = runs.filter((r) => r.result.cmdlog?.length);
  if (ioRows > 0 && withLog.length) {
    parts.push("<h2>Last IOs</h2>");
    for (const run of withLog) {
      const recs = run.result.cmdlog!.slice(-ioRows).reverse();
      parts.push(
        n1(summary)
          ? ""
          : `<h3>${escapeHtml(summary[runs.indexOf(run)].label)}</h3>`,
        `<p class="muted">the last ${recs.length} of the worker's IOs, newest first</p>`,
        htmlTable(
          ["time", "opcode", "LBA", "count", "cid", "status", "latency"],
          recs.map((x): Cell[] => [
            num(`${(x.timeUs / 1000).toFixed(3)} ms`),
            commandName(x.opcode, false),
            num(String(x.lba)),
            num(String(x.count)),
            num(String(x.cid)),
            `${(x.status >> 8).toString(16).padStart(2, "0")}/${
              (x.status & 0xff).toString(16).padStart(2, "0")
            }`,
            num(formatUs(x.latencyUs)),
          ]),
          {
            class: "cmdlog",
            rowClass: (i) => recs[i].status ? "err" : undefined,
          },
        ),
      );
    }
  }
  return page(title, opts.device ?? "", parts.join("\n"));
}

function n1(summary: readonly IoWorkerSummary[]): boolean {
  return summary.length === 1;
}

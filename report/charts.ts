/**
 * Static charts with Apache ECharts' server-side rendering: an ECharts option
 * in, an SVG string out — no DOM, no canvas, no browser. Several charts
 * ("panels") can be laid out in one SVG (one ECharts instance with a grid per
 * panel), which is what a report embeds as its single picture.
 *
 * @module
 */
import "./node_env.ts"; // first: the chart library reads NODE_ENV
// deno-lint-ignore no-import-prefix -- importable from a user's project without an import map
import * as echarts from "npm:echarts@6.1.0";

// Text widths for layout (legends, labels). Without a canvas, ECharts
// estimates them with Helvetica-like metrics; the reports name DejaVu Sans
// first (what Debian's Chromium has), which is about 10 % wider: measure with
// its advance widths (em fractions) so legend items never overlap.
const NARROW = new Set([..."iljI!|'.,:;"]);
const SEMI = new Set([..."ftr()[]{}/-\\ "]);
function emWidth(c: string): number {
  // wide (CJK) characters: a full em; zrender also takes a line's height
  // from the width of "国"
  if (c.charCodeAt(0) >= 0x2e80) return 1;
  if (NARROW.has(c)) return 0.3;
  if (SEMI.has(c)) return 0.37;
  if (c >= "0" && c <= "9") return 0.636;
  if (c === "m" || c === "w" || c === "%") return 0.95;
  if (c === "M" || c === "W") return 0.86;
  if (c >= "A" && c <= "Z") return 0.7;
  if (c >= "a" && c <= "z") return 0.61;
  return 0.64;
}
function measureText(text: string, font?: string): { width: number } {
  const size = Number(/(\d+(?:\.\d+)?)px/.exec(font ?? "")?.[1] ?? 12);
  const bold = /bold|[6-9]00/.test(font ?? "") ? 1.07 : 1;
  let em = 0;
  for (const c of text ?? "") em += emWidth(c);
  return { width: em * size * bold };
}
// (its declared return type is the DOM's TextMetrics; ECharts reads `width` only)
echarts.setPlatformAPI(
  { measureText } as Parameters<typeof echarts.setPlatformAPI>[0],
);

/**
 * Colours of the reports (distinct, colour-blind friendly where it matters).
 *
 * ```ts
 * import { countColor, decodePng } from "./png.ts";
 * declare const png: Uint8Array;
 * countColor(decodePng(png), PALETTE.blue); // pixels of the read series
 * ```
 */
export const PALETTE = {
  blue: "#2f6fdf",
  orange: "#f28e2b",
  green: "#3a9e4f",
  red: "#d64545",
  purple: "#7b5ea7",
  teal: "#2a9d9d",
  brown: "#9c6b4e",
  pink: "#d36fa8",
  gray: "#7f8794",
  olive: "#a3a33a",
} as const;

/** Series colours in order. */
export const SERIES_COLORS: readonly string[] = [
  PALETTE.blue,
  PALETTE.orange,
  PALETTE.green,
  PALETTE.purple,
  PALETTE.red,
  PALETTE.teal,
  PALETTE.brown,
  PALETTE.pink,
  PALETTE.olive,
  PALETTE.gray,
];

/**
 * An ECharts option object (`setOption`'s argument).
 *
 * ```ts
 * declare const data: Uint8Array;
 * const bar: ChartOption = { xAxis: { type: "category", data: ["a"] }, yAxis: {}, series: [{ type: "bar", data: [1] }] };
 * const svg = renderSvg(bar, 400, 300);
 * ```
 */
export type ChartOption = Record<string, unknown>;

const TEXT = {
  fontFamily: "DejaVu Sans, Helvetica, Arial, sans-serif",
  color: "#1d2330",
};

/**
 * Render one ECharts option to an SVG string (server-side rendering, no
 * animation).
 *
 * ```ts
 * declare const data: Uint8Array;
 * const svg = renderSvg({
 *   xAxis: { type: "category", data: ["a", "b"] },
 *   yAxis: {},
 *   series: [{ type: "bar", data: [1, 2] }],
 * }, 400, 300);
 * ```
 */
export function renderSvg(
  option: ChartOption,
  width: number,
  height: number,
): string {
  const chart = echarts.init(null, null, {
    renderer: "svg",
    ssr: true,
    width,
    height,
  });
  try {
    chart.setOption({
      animation: false,
      color: SERIES_COLORS,
      backgroundColor: "#ffffff",
      textStyle: TEXT,
      ...option,
    } as echarts.EChartsOption);
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

/**
 * A rectangle in pixels.
 *
 * ```ts
 * import { IoWorker } from "../mod.ts";
 * declare const w: IoWorker;
 * const cells: Rect[] = [{ x: 0, y: 0, w: 600, h: 340 }, { x: 600, y: 0, w: 600, h: 340 }];
 * ```
 */
export interface Rect {
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width. */
  w: number;
  /** Height. */
  h: number;
}

/**
 * A chart in a rectangle: what it contributes to a composed option. Axis and
 * grid indices are local (0 = this panel's first); {@link compose} shifts them.
 *
 * ```ts
 * import { IoWorker } from "../mod.ts";
 * declare const w: IoWorker;
 * declare const data: Uint8Array;
 * const panel: Panel = {
 *   title: "queue depth",
 *   build: (plot) => ({
 *     grid: [gridAt(plot)],
 *     xAxis: [{ type: "category", data: ["1", "2"] }],
 *     yAxis: [{ type: "value" }],
 *     series: [{ type: "line", data: [3, 5] }],
 *   }),
 * };
 * const svg = compose([panel], [{ x: 0, y: 0, w: 600, h: 340 }], 600, 340);
 * ```
 */
export interface Panel {
  /** Title shown above the panel. */
  title: string;
  /** Subtitle (small, after the title). */
  subtitle?: string;
  /** The panel's parts for the plot area `plot` (the rectangle minus title and margins). */
  build(plot: Rect, outer: Rect): PanelParts;
}

/**
 * What a panel adds to the composed option.
 *
 * ```ts
 * declare const data: Uint8Array;
 * const parts: PanelParts = { series: [{ type: "pie", data: [{ name: "read", value: 7 }] }] };
 * ```
 */
export interface PanelParts {
  /** Cartesian grids (plot areas); usually one, covering `plot`. */
  grid?: ChartOption[];
  /** x axes, with local `gridIndex`. */
  xAxis?: ChartOption[];
  /** y axes, with local `gridIndex`. */
  yAxis?: ChartOption[];
  /** Series, with local `xAxisIndex` / `yAxisIndex`. */
  series: ChartOption[];
  /** Legends (positioned in pixels). */
  legend?: ChartOption[];
  /** Extra titles or text (graphic elements). */
  graphic?: ChartOption[];
}

/** Margins inside a panel's rectangle around its plot area (room for axes and legend). */
export const PLOT_MARGIN = { top: 88, right: 62, bottom: 44, left: 78 };

/**
 * Lay `panels` out in `cells` (one rectangle each) of a `width` × `height`
 * picture and render it to one SVG.
 *
 * ```ts
 * declare const iopsPanel: import("../report/charts.ts").Panel;
 * declare const latencyPanel: import("../report/charts.ts").Panel;
 * import { IoWorker } from "../mod.ts";
 * declare const w: IoWorker;
 * const svg = compose([iopsPanel, latencyPanel], [
 *   { x: 0, y: 0, w: 600, h: 320 },
 *   { x: 600, y: 0, w: 600, h: 320 },
 * ], 1200, 320);
 * ```
 */
export function compose(
  panels: readonly Panel[],
  cells: readonly Rect[],
  width: number,
  height: number,
  heading?: { title: string; subtitle?: string },
): string {
  const opt = {
    title: [] as ChartOption[],
    grid: [] as ChartOption[],
    xAxis: [] as ChartOption[],
    yAxis: [] as ChartOption[],
    series: [] as ChartOption[],
    legend: [] as ChartOption[],
    graphic: [] as ChartOption[],
  };
  if (heading) {
    opt.title.push({
      text: heading.title,
      subtext: heading.subtitle,
      left: 16,
      top: 8,
      textStyle: { fontSize: 18, fontWeight: "bold" },
      subtextStyle: { fontSize: 12, color: "#5b6475" },
    });
  }
  panels.forEach((p, i) => {
    const c = cells[i];
    opt.graphic.push({
      type: "rect",
      shape: {
        x: c.x + 6,
        y: c.y + 6,
        width: c.w - 12,
        height: c.h - 12,
        r: 6,
      },
      style: { fill: "#ffffff", stroke: "#dde2ea", lineWidth: 1 },
      silent: true,
      z: -10,
    });
    opt.title.push({
      text: p.title,
      subtext: p.subtitle,
      left: c.x + 18,
      top: c.y + 14,
      itemGap: 3,
      textStyle: { fontSize: 14, fontWeight: "bold" },
      subtextStyle: { fontSize: 11, color: "#5b6475" },
    });
    const plot: Rect = {
      x: c.x + PLOT_MARGIN.left,
      y: c.y + PLOT_MARGIN.top,
      w: c.w - PLOT_MARGIN.left - PLOT_MARGIN.right,
      h: c.h - PLOT_MARGIN.top - PLOT_MARGIN.bottom,
    };
    const parts = p.build(plot, c);
    const g0 = opt.grid.length, x0 = opt.xAxis.length, y0 = opt.yAxis.length;
    for (const g of parts.grid ?? []) opt.grid.push(g);
    for (const a of parts.xAxis ?? []) {
      opt.xAxis.push({ ...a, gridIndex: g0 + ((a.gridIndex as number) ?? 0) });
    }
    for (const a of parts.yAxis ?? []) {
      opt.yAxis.push({ ...a, gridIndex: g0 + ((a.gridIndex as number) ?? 0) });
    }
    for (const s of parts.series) {
      const shifted: ChartOption = { ...s };
      if (parts.xAxis?.length) {
        shifted.xAxisIndex = x0 + ((s.xAxisIndex as number) ?? 0);
        shifted.yAxisIndex = y0 + ((s.yAxisIndex as number) ?? 0);
      }
      opt.series.push(shifted);
    }
    for (const l of parts.legend ?? []) opt.legend.push(l);
    for (const g of parts.graphic ?? []) opt.graphic.push(g);
  });
  const option: ChartOption = { ...opt };
  for (const k of Object.keys(option)) {
    if ((option[k] as unknown[]).length === 0) delete option[k];
  }
  return renderSvg(option, width, height);
}

/** A grid covering `plot` exactly. */
export function gridAt(plot: Rect): ChartOption {
  return {
    left: plot.x,
    top: plot.y,
    width: plot.w,
    height: plot.h,
    containLabel: false,
  };
}

/** A legend in one line above the plot area, right-aligned in the panel. */
export function legendAbove(
  plot: Rect,
  outer: Rect,
  names: readonly string[],
): ChartOption {
  return {
    data: [...names],
    right: undefined,
    left: outer.x + 18,
    top: outer.y + 54,
    width: plot.w,
    itemWidth: 14,
    itemHeight: 9,
    textStyle: { fontSize: 11 },
  };
}

/** Axis styling shared by the reports. */
export function axisStyle(extra: ChartOption = {}): ChartOption {
  return {
    axisLine: { lineStyle: { color: "#9aa3b2" } },
    axisLabel: { color: "#3b4352", fontSize: 11 },
    splitLine: { lineStyle: { color: "#eceff4" } },
    nameTextStyle: { color: "#5b6475", fontSize: 11 },
    ...extra,
  };
}

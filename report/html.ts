/**
 * HTML building blocks of the reports: escaping, number and time formatting,
 * tables, and the self-contained page (inline CSS, no scripts, no network).
 *
 * @module
 */

/**
 * Escape text for HTML element content and attribute values.
 *
 * ```ts
 * escapeHtml('<a href="x">'); // "&lt;a href=&quot;x&quot;&gt;"
 * ```
 */
export function escapeHtml(s: string): string {
  return s.replace(
    /[<>&"']/g,
    (c) =>
      ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&#39;" })[
        c
      ]!,
  );
}

/**
 * A latency in µs as text with a fitting unit: `850 µs`, `1.25 ms`, `2.0 s`.
 *
 * ```ts
 * formatUs(1250); // "1.25 ms"
 * ```
 */
export function formatUs(us: number): string {
  if (!Number.isFinite(us)) return String(us);
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1e6) {
    const ms = us / 1000;
    return `${
      ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0)
    } ms`;
  }
  return `${(us / 1e6).toFixed(us < 1e7 ? 2 : 1)} s`;
}

/**
 * A count with a k/M suffix: `950`, `12.3k`, `1.20M`.
 *
 * ```ts
 * formatCount(12345); // "12.3k"
 * ```
 */
export function formatCount(n: number): string {
  const a = Math.abs(n);
  if (a < 1000) return String(Math.round(n * 100) / 100);
  if (a < 1e6) return `${(n / 1000).toFixed(a < 1e4 ? 2 : 1)}k`;
  return `${(n / 1e6).toFixed(a < 1e7 ? 2 : 1)}M`;
}

/** A cell of {@link htmlTable}: text (escaped) or `{ html }` (inserted as is). */
export type Cell = string | number | { html: string; class?: string };

/**
 * An HTML table; cells are escaped unless given as `{ html }`.
 *
 * ```ts
 * htmlTable(["name", "value"], [["IOPS", 1234]]);
 * ```
 */
export function htmlTable(
  head: readonly string[],
  rows: readonly (readonly Cell[])[],
  opts: { class?: string; rowClass?: (i: number) => string | undefined } = {},
): string {
  const cell = (c: Cell, tag: string) =>
    typeof c === "object"
      ? `<${tag}${c.class ? ` class="${c.class}"` : ""}>${c.html}</${tag}>`
      : `<${tag}>${escapeHtml(String(c))}</${tag}>`;
  const body = rows.map((r, i) => {
    const cls = opts.rowClass?.(i);
    return `<tr${cls ? ` class="${cls}"` : ""}>${
      r.map((c) => cell(c, "td")).join("")
    }</tr>`;
  }).join("\n");
  return `<table${opts.class ? ` class="${opts.class}"` : ""}><thead><tr>${
    head.map((h) => cell(h, "th")).join("")
  }</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const CSS = `
:root { --fg: #1d2330; --muted: #5b6475; --line: #dde2ea; --bg: #ffffff; --panel: #f6f8fb;
  --pass: #2e8540; --fail: #c62828; --skip: #8a8f98; --dev: #b26a00; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif;
  color: var(--fg); background: var(--bg); }
header { padding: 18px 28px 12px; border-bottom: 1px solid var(--line); background: var(--panel); }
header h1 { margin: 0 0 4px; font-size: 22px; }
header .sub { color: var(--muted); }
main { padding: 8px 28px 28px; max-width: 1400px; }
h2 { font-size: 17px; margin: 22px 0 8px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 14px 0 4px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 130px; }
.card .v { font-size: 20px; font-weight: bold; }
.card .k { color: var(--muted); font-size: 12px; }
.charts { display: flex; flex-wrap: wrap; gap: 14px; }
.chart { background: #fff; }
.chart svg { display: block; }
table { border-collapse: collapse; margin: 6px 0 10px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.cmdlog { font: 12px/1.35 "DejaVu Sans Mono", Menlo, Consolas, monospace; }
table.cmdlog td { white-space: nowrap; }
tr.err td { background: #fdecea; }
tr.note td { background: #fff6e0; }
.pass { color: var(--pass); font-weight: 600; }
.fail { color: var(--fail); font-weight: 600; }
.skip { color: var(--skip); font-weight: 600; }
.deviation { color: var(--dev); font-weight: 600; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 4px; padding: 8px 10px;
  overflow-x: auto; font: 12px/1.4 "DejaVu Sans Mono", Menlo, Consolas, monospace; margin: 6px 0; }
details { margin: 6px 0; }
summary { cursor: pointer; color: var(--muted); }
.failure { border-left: 4px solid var(--fail); padding: 2px 0 2px 14px; margin: 14px 0 22px; }
.muted { color: var(--muted); }
footer { color: var(--muted); font-size: 12px; padding: 0 28px 20px; }
`;

/**
 * A complete, self-contained HTML page: inline CSS, no scripts, nothing
 * fetched when it is viewed.
 *
 * ```ts
 * const html = page("ioworker report", "QEMU NVMe Ctrl", "<p>hello</p>");
 * ```
 */
export function page(title: string, subtitle: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="denvme">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>${escapeHtml(title)}</h1><div class="sub">${
    escapeHtml(subtitle)
  }</div></header>
<main>
${body}
</main>
<footer>generated by denvme on ${
    escapeHtml(new Date().toISOString().replace("T", " ").slice(0, 19))
  } UTC · self-contained: charts are inline SVG</footer>
</body>
</html>
`;
}

/**
 * Summary cards (key figures) above the charts.
 *
 * ```ts
 * cards([["IOPS", "12.3k"], ["p99", "1.2 ms"]]);
 * ```
 */
export function cards(items: readonly (readonly [string, string])[]): string {
  return `<div class="cards">${
    items.map(([k, v]) =>
      `<div class="card"><div class="v">${escapeHtml(v)}</div><div class="k">${
        escapeHtml(k)
      }</div></div>`
    ).join("")
  }</div>`;
}

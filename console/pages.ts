/**
 * The console's pages: one HTML page (tabs in the page's own script, no build
 * step) and its static files, served by console/server.ts. ECharts comes
 * from the local npm cache (the project's `echarts` import); nothing is
 * fetched from the internet.
 *
 * @module
 */
import { createRequire } from "node:module";

const STATIC: Record<string, string> = {
  "console.js": "text/javascript; charset=utf-8",
  "console.css": "text/css; charset=utf-8",
};

let echartsPath: string | undefined;

async function echartsFile(): Promise<Uint8Array | undefined> {
  const require = createRequire(import.meta.url);
  for (let attempt = 0; attempt < 2 && !echartsPath; attempt++) {
    try {
      echartsPath = require.resolve("echarts/dist/echarts.min.js");
    } catch {
      // not in the npm cache yet: loading the package puts it there
      await import("echarts").catch(() => {});
    }
  }
  return echartsPath ? await Deno.readFile(echartsPath) : undefined;
}

/**
 * A static file of the console by name, or undefined.
 *
 * ```ts
 * const f = await staticFile("console.js"); // { body, type }
 * ```
 */
export async function staticFile(
  name: string,
): Promise<{ body: Uint8Array<ArrayBuffer>; type: string } | undefined> {
  if (name === "echarts.min.js") {
    const body = await echartsFile();
    return body
      ? {
        body: new Uint8Array(body),
        type: "text/javascript; charset=utf-8",
      }
      : undefined;
  }
  const type = STATIC[name];
  if (!type) return undefined;
  const body = await Deno.readFile(
    new URL(`./static/${name}`, import.meta.url),
  );
  return { body, type };
}

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The console page with the token (for its requests) in a meta tag.
 *
 * ```ts
 * const html = consolePage("ab12...", "ro");
 * ```
 */
export function consolePage(token: string, mode: "ro" | "rw"): string {
  const t = esc(token);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="denvme-token" content="${t}">
<meta name="denvme-mode" content="${mode}">
<title>denvme console</title>
<link rel="stylesheet" href="/static/console.css?token=${t}">
<script src="/static/echarts.min.js?token=${t}" defer></script>
<script src="/static/console.js?token=${t}" defer></script>
</head><body>
<header><h1>denvme console</h1>
<span id="mode" class="mode-${mode}">${
    mode === "rw" ? "read-write" : "read-only"
  }</span>
<span id="status">connecting…</span></header>
<nav id="tabs">
<a href="#controllers">Controllers</a><a href="#registers">Registers</a>
<a href="#namespaces">Namespaces</a><a href="#qpairs">Qpairs</a>
<a href="#ioworkers">IOWorkers</a><a href="#events">AER events</a>
<a href="#smart">SMART</a><a href="#tests">Tests</a><a href="#utilities">Utilities</a>
</nav>
<main>
<section id="controllers"></section>
<section id="registers"></section>
<section id="namespaces"><button id="ns-refresh">Read namespaces</button><div id="ns-list"></div></section>
<section id="qpairs"><div id="qpair-list"></div>
<div id="cmdlog-box"><h2 id="cmdlog-title">Cmdlog: click a qpair</h2>
<label>opcode <input id="f-opcode" size="8" placeholder="0x02 or read"></label>
<label>status <select id="f-status"><option value="">any</option><option value="error">errors</option>
<option value="outstanding">outstanding</option><option value="00/00">00/00</option></select></label>
<pre id="cmdlog"></pre></div></section>
<section id="ioworkers"><div id="iow-list"></div><div id="iow-chart" class="chart"></div></section>
<section id="events"><table id="aer"></table></section>
<section id="smart"><div id="temp-chart" class="chart"></div><button id="smart-read">Read SMART log</button><pre id="smart-out"></pre></section>
<section id="tests"></section>
<section id="utilities"></section>
</main></body></html>
`;
}

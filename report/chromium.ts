/**
 * PNG pictures of reports through headless Chromium (Debian's `chromium`
 * package): no network, a fresh profile per run, nothing left behind.
 *
 * @module
 */
import { envVar, granted, PermissionError } from "../ffi/permissions.ts";

const CANDIDATES = [
  "chromium",
  "chromium-browser",
  "google-chrome",
  "google-chrome-stable",
];

const env = (name: string) => envVar(name) || undefined;

/** Throw unless running Chromium is allowed (run, read and write access). */
function needChromiumPermissions(): void {
  const missing = (["run", "read", "write"] as const)
    .filter((name) => !granted({ name }))
    .map((name) => `--allow-${name}`);
  if (missing.length) {
    throw new PermissionError(
      "a PNG through headless Chromium",
      missing.join(" "),
    );
  }
}

/**
 * The Chromium binary: `DENVME_CHROMIUM`, else the first of chromium,
 * chromium-browser, google-chrome on PATH; undefined when there is none.
 *
 * ```ts
 * const chromium = findChromium() ?? "not installed (apt-get install chromium)";
 * ```
 */
export function findChromium(): string | undefined {
  if (!granted({ name: "read" })) return env("DENVME_CHROMIUM");
  const forced = env("DENVME_CHROMIUM");
  if (forced) return forced;
  for (const dir of (env("PATH") ?? "/usr/bin:/bin").split(":")) {
    for (const name of CANDIDATES) {
      try {
        const path = `${dir}/${name}`;
        const st = Deno.statSync(path);
        if (st.isFile && ((st.mode ?? 0o111) & 0o111)) return path;
      } catch { /* not there */ }
    }
  }
  return undefined;
}

/**
 * Options of {@link screenshot}.
 *
 * ```ts
 * const opts: ScreenshotOptions = { width: 1280, height: 2000, timeoutMs: 30_000 };
 * await screenshot("report.html", "report.png", opts);
 * ```
 */
export interface ScreenshotOptions {
  /** Viewport width in pixels (the PNG's width). Default 1400. */
  width?: number;
  /** Viewport height in pixels (the PNG's height). Default 1000. */
  height?: number;
  /** Give up after this many ms. Default 60 000. */
  timeoutMs?: number;
  /** The Chromium binary. Default {@link findChromium}. */
  chromium?: string;
}

/**
 * Render `file` (a local HTML or SVG file) in headless Chromium and write a
 * `width` × `height` PNG screenshot to `png`. Chromium runs with no sandbox
 * (it may run as root in CI), no GPU, no network features, and a temporary
 * profile directory removed afterwards. Throws, with Chromium's last words,
 * when it fails or writes no picture.
 *
 * ```ts
 * await screenshot("report.html", "report.png", { width: 1400, height: 1200 });
 * ```
 */
export async function screenshot(
  file: string,
  png: string,
  opts: ScreenshotOptions = {},
): Promise<void> {
  needChromiumPermissions();
  const bin = opts.chromium ?? findChromium();
  if (!bin) {
    throw new Error(
      "chromium is not installed: `apt-get install chromium` (bash tasks/setup.sh test does), or set DENVME_CHROMIUM",
    );
  }
  const abs = (p: string) => p.startsWith("/") ? p : `${Deno.cwd()}/${p}`;
  const profile = await Deno.makeTempDir({ prefix: "denvme-chromium-" });
  try {
    await Deno.remove(png).catch(() => {});
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), opts.timeoutMs ?? 60_000);
    let out: Deno.CommandOutput;
    try {
      out = await new Deno.Command(bin, {
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--disable-dev-shm-usage",
          "--hide-scrollbars",
          "--force-device-scale-factor=1",
          `--user-data-dir=${profile}`,
          `--screenshot=${abs(png)}`,
          `--window-size=${opts.width ?? 1400},${opts.height ?? 1000}`,
          `file://${encodeURI(abs(file))}`,
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: ac.signal,
      }).output();
    } finally {
      clearTimeout(timer);
    }
    let ok = false;
    try {
      ok = Deno.statSync(png).size > 0;
    } catch { /* not written */ }
    if (!ok) {
      const err = new TextDecoder().decode(out.stderr).trim().split("\n")
        .filter((l) => !/dbus|Fontconfig|unexpected operator/.test(l))
        .slice(-5).join("\n");
      throw new Error(
        `chromium wrote no screenshot (${
          ac.signal.aborted ? "timed out" : `exit code ${out.code}`
        })${err ? `:\n${err}` : ""}`,
      );
    }
  } finally {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

/**
 * A PNG of an SVG picture (e.g. the report's `svg`), at its own size (the
 * `width`/`height` attributes of the root element).
 *
 * ```ts
 * declare const result: import("../mod.ts").IoWorkerResult;
 * import { ioworkerReport } from "./mod.ts";
 * const { svg } = ioworkerReport(result);
 * await svgToPng(svg, "ioworker.png");
 * ```
 */
export async function svgToPng(
  svg: string,
  png: string,
  opts: Omit<ScreenshotOptions, "width" | "height"> = {},
): Promise<{ width: number; height: number }> {
  needChromiumPermissions();
  const m = /<svg[^>]*\swidth="(\d+)"[^>]*\sheight="(\d+)"/.exec(svg);
  const width = m ? Number(m[1]) : 1200, height = m ? Number(m[2]) : 800;
  const dir = await Deno.makeTempDir({ prefix: "denvme-svg-" });
  try {
    const file = `${dir}/picture.html`;
    await Deno.writeTextFile(
      file,
      `<!DOCTYPE html><html><head><meta charset="utf-8"><style>html,body{margin:0;background:#fff}svg{display:block}</style></head><body>${svg}</body></html>`,
    );
    await screenshot(file, png, { ...opts, width, height });
    return { width, height };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

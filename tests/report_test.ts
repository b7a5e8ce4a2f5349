/**
 * Reports (report/): the ioworker report and the test-run report, rendered in
 * headless Chromium and checked on the screenshot's pixels; the PNG decoder;
 * the cmdlog viewer and the test-log reader (JSON and text cmdlog dumps).
 *
 * Chromium is required (bash tasks/setup.sh test installs Debian's
 * `chromium`). `DENVME_REPORT_SCREENSHOT=docs/report-screenshot.png` keeps
 * the ioworker report's screenshot there.
 */
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import {
  Controller,
  type IoWorkerOptions,
  type IoWorkerResult,
  Namespace,
} from "../mod.ts";
import {
  cmdlogText,
  findChromium,
  ioworkerReport,
  mergeJUnit,
  parseTestRecord,
  readJUnit,
  screenshot,
  svgToPng,
  testRunReport,
  writeJUnit,
} from "../report/mod.ts";
// report internals the tests look at (not part of the public report API)
import {
  colorHistogram,
  countColor,
  decodePng,
  pngSize,
} from "../report/png.ts";
import { PALETTE } from "../report/charts.ts";
import { commandFields } from "../report/cmdlog_view.ts";
import { latencyBins, meanIoSize } from "../report/ioworker_report.ts";

const root = new URL("..", import.meta.url);
const testing = new URL("testing.ts", root).href;

/** A result as a 3-second run would give, without a device. */
function syntheticResult(): IoWorkerResult {
  const dist: [number, number][] = [];
  for (let us = 40; us < 3000; us = Math.ceil(us * 1.05)) {
    dist.push([us, Math.round(5000 * Math.exp(-((Math.log(us / 300)) ** 2)))]);
  }
  return {
    ioCountRead: 70000,
    ioCountNonread: 30000,
    ioCountWrite: 29000,
    mseconds: 3000,
    latencyMaxUs: 2900,
    latencyAverageUs: 310,
    cpuUsage: 0.2,
    error: 0,
    hostError: 0,
    ok: true,
    stopped: false,
    opCounts: { 2: 70000, 1: 29000, 9: 1000 },
    ioPerSecond: [33000, 34000, 33000],
    latencyPercentiles: { "50": 290, "99": 1200, "99.9": 2500 },
    latencyDistribution: dist,
    cmdlog: Array.from({ length: 50 }, (_, i) => ({
      lba: i * 8,
      count: 8,
      opcode: i % 3 ? 2 : 1,
      status: 0,
      latencyUs: 200 + i * 10,
      timeUs: 2_990_000 + i * 100,
      cid: i,
    })),
    seed: 0x1234n,
  };
}

function noNetwork(html: string): void {
  assert.doesNotMatch(html, /<script/i, "no scripts");
  assert.doesNotMatch(html, /(src|href)\s*=\s*["']?(https?:)?\/\//i);
  assert.doesNotMatch(html, /url\(\s*["']?(https?:)?\/\//i);
  assert.doesNotMatch(html, /@import/i);
}

Deno.test("latency bins: log-spaced, every IO counted once, empty ends trimmed", () => {
  const dist: [number, number][] = [[99, 10], [180, 5], [1500, 1], [7, 0]];
  const bins = latencyBins(dist);
  assert.equal(bins.reduce((s, b) => s + b.count, 0), 16);
  assert.deepEqual(bins[0], { low: 80, high: 100, count: 10 });
  assert.equal(bins.at(-1)!.count, 1);
  assert.ok(bins.at(-1)!.low <= 1500 && 1500 < bins.at(-1)!.high);
  for (let i = 1; i < bins.length; i++) {
    assert.equal(bins[i].low, bins[i - 1].high, "contiguous");
  }
  // wide ranges get fewer bins per decade
  const wide = latencyBins([[10, 1], [1_000_000, 1]]);
  assert.ok(wide.length <= 3 * 6 + 1, `${wide.length} bins`);
  assert.deepEqual(latencyBins([]), []);
  assert.equal(meanIoSize(8), 8);
  assert.equal(meanIoSize([8, 16]), 12);
  assert.equal(meanIoSize({ 8: 3, 64: 1 }), 22);
});

Deno.test("ioworker report: self-contained page, one SVG picture, charts with their data", () => {
  const result = syntheticResult();
  const options: IoWorkerOptions = { ioSize: 8, readPercentage: 70, time: 3 };
  const rep = ioworkerReport({ result, options, lbaSize: 512 }, {
    title: "synthetic",
    device: "no device",
  });
  noNetwork(rep.html);
  assert.match(rep.html, /^<!DOCTYPE html>/);
  assert.match(rep.html, /<title>synthetic<\/title>/);
  // five charts inline, the picture is one SVG
  assert.equal(rep.html.match(/<svg\b/g)?.length, 5);
  assert.match(rep.svg, /^<svg [^>]*width="1200" height="\d+"/);
  assert.equal(rep.svg.match(/<svg\b/g)?.length, 1);
  for (const c of Object.values(rep.charts)) assert.match(c, /^<svg /);
  for (
    const text of [
      "IOPS over time",
      "Latency percentiles",
      "Latency histogram",
      "IOs per opcode",
      "Latency of the last IOs",
    ]
  ) {
    assert.ok(rep.svg.includes(text), text);
  }
  // data: opcode names, percentiles, IOPS average, figures
  assert.ok(rep.charts.opcodes.includes("Dataset Management (09h)"));
  assert.ok(rep.charts.percentiles.includes("1.20 ms"));
  assert.ok(rep.charts.iops.includes("avg 33.3k"));
  assert.equal(rep.summary[0].ios, 100000);
  assert.equal(Math.round(rep.summary[0].iops), 33333);
  // 99 000 reads and writes of 4 KiB in 3 s
  assert.equal(
    rep.summary[0].mbps!.toFixed(1),
    (99000 * 4096 / 3 / 1e6).toFixed(1),
  );
  assert.match(rep.html, /readPercentage<\/td><td>70</);
  assert.match(rep.html, /Last IOs/);
  // colours of the charts are in the picture
  for (
    const c of [PALETTE.blue, PALETTE.orange, PALETTE.teal, PALETTE.purple]
  ) {
    assert.ok(rep.svg.toLowerCase().includes(c), c);
  }
  // several runs: one series per worker and a total
  const two = ioworkerReport([
    { label: "reads", result },
    { label: "writes", result: { ...result, opCounts: { 1: 100000 } } },
  ]);
  assert.ok(two.charts.iops.includes("total"));
  assert.ok(two.charts.iops.includes("writes"));
  assert.equal(two.summary.length, 2);
});

Deno.test("ioworker report without the optional outputs says which option each chart needs", () => {
  const r = syntheticResult();
  delete r.ioPerSecond;
  delete r.latencyPercentiles;
  delete r.latencyDistribution;
  delete r.cmdlog;
  const rep = ioworkerReport(r);
  assert.ok(rep.charts.iops.includes("outputIoPerSecond"));
  assert.ok(rep.charts.percentiles.includes("outputPercentileLatency"));
  assert.ok(rep.charts.histogram.includes("outputPercentileLatency"));
  assert.equal(rep.charts.ioLatency, undefined);
  const failed = ioworkerReport({
    ...r,
    ok: false,
    error: 0x281,
    errorMessage:
      "ERROR status: 02/81 Unrecovered Read Error (Read lba 5 count 1, sqid 1)",
  });
  assert.match(failed.html, /class="fail">ioworker: ERROR status: 02\/81/);
  assert.throws(() => ioworkerReport([]), /no runs/);
});

/** Encode RGB rows as a PNG, row y with filter type y % 5 (what decoders must undo). */
function encodePng(
  w: number,
  h: number,
  px: (x: number, y: number) => number[],
): Uint8Array {
  const raw: number[] = [];
  const rows: number[][] = [];
  for (let y = 0; y < h; y++) {
    const row: number[] = [];
    for (let x = 0; x < w; x++) row.push(...px(x, y));
    rows.push(row);
  }
  for (let y = 0; y < h; y++) {
    const f = y % 5, row = rows[y], up = rows[y - 1];
    raw.push(f);
    for (let i = 0; i < row.length; i++) {
      const a = i >= 3 ? row[i - 3] : 0, b = up ? up[i] : 0;
      const c = up && i >= 3 ? up[i - 3] : 0;
      const p = a + b - c;
      const pred = [
        0,
        a,
        b,
        (a + b) >> 1,
        Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c)
          ? a
          : Math.abs(p - b) <= Math.abs(p - c)
          ? b
          : c,
      ][f];
      raw.push((row[i] - pred) & 0xff);
    }
  }
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, data.length);
    out.set(new TextEncoder().encode(type), 4);
    out.set(data, 8);
    return out; // CRC left 0: the decoder does not check it
  };
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, w);
  new DataView(ihdr.buffer).setUint32(4, h);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", new Uint8Array(deflateSync(new Uint8Array(raw)))),
    chunk("IEND", new Uint8Array(0)),
  ];
  const png = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    png.set(p, off);
    off += p.length;
  }
  return png;
}

Deno.test("PNG decoder: every filter type, size, colour counts", () => {
  const px = (
    x: number,
    y: number,
  ) => [(x * 37 + y) & 0xff, (y * 11) & 0xff, x < 5 ? 0x2f : 0xf2];
  const png = encodePng(13, 11, px);
  assert.deepEqual(pngSize(png), { width: 13, height: 11 });
  const img = decodePng(png);
  for (let y = 0; y < 11; y++) {
    for (let x = 0; x < 13; x++) {
      const at = (y * 13 + x) * 4;
      assert.deepEqual(
        [...img.rgba.subarray(at, at + 4)],
        [...px(x, y), 255],
        `pixel ${x},${y}`,
      );
    }
  }
  assert.equal(colorHistogram(img, 256).reduce((s, [, n]) => s + n, 0), 143);
  assert.throws(() => decodePng(new Uint8Array(30)), /not a PNG/);
});

/** Screenshot `html` in Chromium; returns the decoded picture. */
async function shoot(html: string, width: number, height: number) {
  assert.ok(
    findChromium(),
    "chromium is not installed: bash tasks/setup.sh test installs it (apt-get install chromium)",
  );
  const dir = await Deno.makeTempDir({ prefix: "denvme-report-" });
  try {
    await Deno.writeTextFile(`${dir}/report.html`, html);
    await screenshot(`${dir}/report.html`, `${dir}/shot.png`, {
      width,
      height,
    });
    const png = await Deno.readFile(`${dir}/shot.png`);
    return { png, img: decodePng(png) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("ioworker report of a real run, rendered by headless Chromium: charts with data on the screenshot", async () => {
  using nvme0 = new Controller("qemu:size=1G");
  using nvme0n1 = new Namespace(nvme0, 1);
  const options: IoWorkerOptions = {
    ioSize: { 8: 70, 64: 25, 256: 5 },
    readPercentage: 70,
    qdepth: 32,
    time: 4,
    outputIoPerSecond: true,
    outputPercentileLatency: [50, 90, 99, 99.9, 99.99],
    outputCmdlogList: 1000,
  };
  const result = await nvme0n1.ioworker(options).start().closeAsync();
  assert.ok(result.ok, result.errorMessage);
  assert.equal(result.ioPerSecond?.length, 4);
  const id = nvme0.idCtrl;
  const rep = ioworkerReport({ result, options, lbaSize: nvme0n1.lbaSize }, {
    title: "ioworker: 4–128 KiB random, 70% read, QD32",
    device:
      `${id.mn} (serial ${id.sn}, firmware ${id.fr}), nsid 1, embedded device`,
  });
  noNetwork(rep.html);

  const { png, img } = await shoot(rep.html, 1400, 1300);
  assert.deepEqual([img.width, img.height], [1400, 1300]);
  // not blank: many colours, and the charts' colours cover real areas
  const colours = colorHistogram(img);
  assert.ok(colours.length > 40, `${colours.length} distinct colours`);
  assert.ok(colours[0][1] < img.width * img.height * 0.9, "not all background");
  const seen = Object.fromEntries(
    (["blue", "orange", "teal", "purple", "red"] as const).map((
      c,
    ) => [c, countColor(img, PALETTE[c], 10)]),
  );
  assert.ok(seen.blue > 2000, `reads / IOPS line: ${JSON.stringify(seen)}`);
  assert.ok(seen.orange > 1000, `writes: ${JSON.stringify(seen)}`);
  assert.ok(seen.teal > 2000, `histogram bars: ${JSON.stringify(seen)}`);
  assert.ok(seen.purple > 2000, `percentile bars: ${JSON.stringify(seen)}`);
  assert.ok(
    seen.red > 100,
    `average and cumulative lines: ${JSON.stringify(seen)}`,
  );
  const keep = Deno.env.get("DENVME_REPORT_SCREENSHOT");
  if (keep) await Deno.writeFile(keep, png);

  // the SVG picture as a PNG, at its own size
  const dir = await Deno.makeTempDir({ prefix: "denvme-report-" });
  try {
    const size = await svgToPng(rep.svg, `${dir}/picture.png`);
    const pic = decodePng(await Deno.readFile(`${dir}/picture.png`));
    assert.deepEqual([pic.width, pic.height], [size.width, size.height]);
    assert.equal(size.width, 1200);
    assert.ok(countColor(pic, PALETTE.purple, 10) > 2000);
    assert.ok(countColor(pic, PALETTE.blue, 10) > 2000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A child `deno test` run with a failing test: its test.log, its structured
 * record test.record.jsonl and its JUnit XML.
 */
async function failingRun(): Promise<
  { log: string; record: string; junit: string }
> {
  const dir = await Deno.makeTempDir({ prefix: "denvme-report-" });
  try {
    await Deno.writeTextFile(
      `${dir}/child_test.ts`,
      `
import { nvmeTest } from "${testing}";
nvmeTest("reads past the end", { needs: ["nvme0", "nvme0n1", "qpair", "buf"] }, ({ nvme0, nvme0n1, qpair, buf }) => {
  nvme0.getfeatures(7).waitdone();
  nvme0n1.write(qpair, buf, 0, 8).waitdone();
  nvme0n1.read(qpair, buf, 5, 1).waitdone();
  nvme0n1.read(qpair, buf, nvme0n1.capacity, 1).waitdone(); // 00/80
});
nvmeTest("passes", { needs: ["nvme0n1", "qpair", "buf"] }, ({ nvme0n1, qpair, buf }) => {
  nvme0n1.read(qpair, buf, 0, 1).waitdone();
});
nvmeTest("skips", {}, ({ skip }) => skip("nothing to test"));
Deno.test("a plain Deno.test fails", () => { throw new Error("plain failure"); });
`,
    );
    await new Deno.Command(Deno.execPath(), {
      args: [
        "test",
        "--no-check",
        "--config",
        new URL("deno.json", root).pathname,
        "--allow-all",
        `--junit-path=${dir}/tests.xml`,
        "child_test.ts",
      ],
      cwd: dir,
      env: {
        NO_COLOR: "1",
        DENVME_TEST_LOG: `${dir}/test.log`,
        DENVME_RUN_ID: "",
        DENVME_RESULTS: "",
      },
      stdout: "null",
      stderr: "null",
    }).output();
    return {
      log: await Deno.readTextFile(`${dir}/test.log`),
      record: await Deno.readTextFile(`${dir}/test.record.jsonl`),
      junit: await Deno.readTextFile(`${dir}/tests.xml`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("test-run report: outcomes, the failure with its seed and decoded cmdlogs, from the structured record", async () => {
  const { log, record, junit } = await failingRun();
  // the text log is for people: the cmdlog as text, no JSON in it
  assert.match(
    log,
    /cmdlog of I\/O queue 1 \(the failing command's queue\), newest first:\n/,
  );
  assert.doesNotMatch(log, /"entries":/);
  // the record: one JSON object per line
  for (const line of record.trim().split("\n")) JSON.parse(line);
  const run = mergeJUnit(parseTestRecord(record), readJUnit(junit));
  const by = Object.fromEntries(run.tests.map((t) => [t.name, t]));
  assert.equal(by["reads past the end"].outcome, "fail");
  assert.equal(by["passes"].outcome, "pass");
  assert.equal(by["skips"].outcome, "skip");
  assert.equal(by["skips"].message, "nothing to test");
  assert.equal(by["a plain Deno.test fails"].outcome, "fail", "from JUnit");
  assert.match(by["a plain Deno.test fails"].error!, /plain failure/);
  assert.equal(run.tests.length, 4, run.tests.map((t) => t.name).join(", "));
  const failed = by["reads past the end"];
  assert.match(failed.seed!, /^0x[0-9a-f]{8}$/);
  assert.match(failed.error!, /00\/80 LBA Out of Range[\s\S]*at /);
  assert.ok(failed.commands > 5, `${failed.commands} commands`);
  const io = failed.cmdlogs.find((d) => d.qid === 1)!;
  assert.ok(io.failing);
  assert.equal(io.entries.length, 3);
  assert.equal(io.entries[0].status, "00/80");
  assert.equal(io.entries[0].statusName, "LBA Out of Range");
  assert.equal(commandFields(io.entries[0], false), "slba 8388608, nlb 1");
  const admin = failed.cmdlogs.find((d) => d.qid === 0)!;
  assert.ok(
    admin.entries.some((e) =>
      commandFields(e, true) === "FID 07h Number of Queues, current"
    ),
  );

  // JUnit written and read back by the same module keeps every case
  const again = readJUnit(writeJUnit("again", [{
    name: "child",
    cases: readJUnit(junit),
  }]));
  assert.deepEqual(
    again.map((c) => [c.name, !!c.failure, !!c.skipped]),
    readJUnit(junit).map((c) => [c.name, !!c.failure, !!c.skipped]),
  );

  const rep = testRunReport(run);
  noNetwork(rep.html);
  assert.deepEqual(rep.counts, {
    pass: 1,
    fail: 2,
    skip: 1,
    deviation: 0,
    unfinished: 0,
  });
  assert.match(
    rep.html,
    /cmdlog of I\/O queue 1 — the failing command&#39;s queue/,
  );
  assert.match(
    rep.html,
    /<tr class="err">.*Read \(0x02\).*slba 8388608, nlb 1.*00\/80 LBA Out of Range/,
  );
  assert.match(rep.html, /DENVME_SEED=0x[0-9a-f]{8} deno test/);
  assert.match(rep.text, /FAILED reads past the end/);
  assert.match(
    rep.text,
    /#\d+ +\S+ +q1 +cid \d+ +Read \(0x02\) +nsid 1 +slba 8388608, nlb 1 +00\/80 LBA Out of Range/,
  );
  assert.match(rep.text, /4 tests: 1 passed, 2 failed, 1 skipped/);
  assert.match(cmdlogText(io.entries), /^#3 /);

  const { img } = await shoot(rep.html, 1400, 1100);
  assert.ok(countColor(img, PALETTE.red, 10) > 2000, "failed slice and bar");
  assert.ok(countColor(img, PALETTE.green, 10) > 1000, "passed slice");
  assert.ok(countColor(img, "#fdecea", 2) > 500, "the failing command's row");
});

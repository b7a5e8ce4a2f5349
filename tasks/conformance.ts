/**
 * `deno task conformance` — run the NVMe conformance suite (tests/conformance)
 * against the device under test and print a summary by area: passed, failed,
 * skipped with reasons, and known deviations of the device model.
 *
 * ```sh
 * deno task conformance                        # the embedded device
 * deno task conformance --dut 0000:01:00.0     # a real SSD (VFIO)
 * deno task conformance --area admin --area nvm
 * deno task conformance --filter "Identify"    # test names containing ...
 * deno task conformance --file tests/conformance/nvm/read_write_test.ts
 * deno task conformance --dut qemu --dut 0000:01:00.0   # several devices at once
 * deno task conformance -- --fail-fast         # more deno test options
 * ```
 *
 * Writes `test-results/conformance.xml` (JUnit), `test-results/conformance.log`
 * (every command of every test, the seeds, the cmdlogs of failures) and
 * `test-results/conformance.jsonl` (one record per test). Exits non-zero when
 * a test failed or did not finish.
 *
 * With several `--dut`, the test files are split across the devices (by the
 * durations of the last run, else by test counts) and one `deno test` runs
 * per device, all in parallel; each device gets its own
 * `conformance-<n>-<device>.{xml,log,jsonl}` and the summary, the merged
 * `conformance.xml` and `conformance.jsonl` cover them all. Every failure is
 * listed with the command that replays it (seed, device, file, name).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { readResults, type ResultRecord } from "../testing/results.ts";
import { junitXml, summaryText } from "../testing/report.ts";
import {
  fileCosts,
  mergeJunit,
  partition,
  replayCommand,
  runShards,
  testFiles,
} from "../testing/shard.ts";

const root = new URL("..", import.meta.url).pathname;
const { values, positionals } = parseArgs({
  args: Deno.args,
  options: {
    dut: { type: "string", multiple: true },
    area: { type: "string", multiple: true },
    file: { type: "string", multiple: true },
    filter: { type: "string" },
    out: { type: "string", default: "test-results" },
    quiet: { type: "boolean", default: false },
    parallel: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
  allowPositionals: true,
});

if (values.help) {
  console.log(
    "usage: deno task conformance [--dut NAME]... [--area admin|nvm|features|registers|controller|zns|pi|sgl|queues|fabrics]... [--file PATH]... [--filter TEXT] [--out DIR] [--quiet] [--parallel] [-- deno test options]\n" +
      "  several --dut: the test files are split across the devices, one process per device, run in parallel",
  );
  Deno.exit(0);
}

const suite = "tests/conformance";
const areas = values.area?.length ? values.area : [];
for (const a of areas) {
  try {
    if (!Deno.statSync(`${root}${suite}/${a}`).isDirectory) throw new Error();
  } catch {
    console.error(`no area "${a}" in tests/conformance`);
    Deno.exit(2);
  }
}
const files = (values.file ?? []).map((f) => {
  const abs = f.startsWith("/") ? f : `${Deno.cwd()}/${f}`;
  const r = abs.startsWith(root) ? abs.slice(root.length) : abs;
  try {
    Deno.statSync(root + r);
  } catch {
    console.error(`no test file "${f}"`);
    Deno.exit(2);
  }
  return r;
});
const roots = files.length
  ? files
  : areas.length
  ? areas.map((a) => `${suite}/${a}`)
  : [suite];
const duts = values.dut?.length
  ? values.dut
  : [Deno.env.get("NVME_DUT") || "qemu"];
const many = duts.length > 1;

const out = values.out!.startsWith("/")
  ? values.out!
  : `${Deno.cwd()}/${values.out}`;
Deno.mkdirSync(out, { recursive: true });

// the last run's durations balance the shards; read them before they go
const previous = [...Deno.readDirSync(out)]
  .filter((e) => /^conformance.*\.jsonl$/.test(e.name))
  .map((e) => `${out}/${e.name}`);
const all = testFiles(roots, root);
const shards = partition(
  all,
  many ? fileCosts(all, root, previous) : new Map(),
  duts,
);
const names = (slug?: string) => {
  const b = `${out}/conformance${slug ? `-${slug}` : ""}`;
  return { results: `${b}.jsonl`, log: `${b}.log`, junit: `${b}.xml` };
};
for (const e of [...Deno.readDirSync(out)]) {
  if (/^conformance.*\.(jsonl|log|xml)$/.test(e.name)) {
    try {
      Deno.removeSync(`${out}/${e.name}`);
    } catch { /* not there */ }
  }
}

const runId = `conformance ${Deno.pid} ${Date.now()}`;
const t0 = performance.now();
if (many) {
  console.log(
    `conformance on ${duts.length} devices at once: ${
      shards.map((s) => `${s.slug} ${s.files.length} files`).join(", ")
    }`,
  );
}
const ends = await runShards(
  shards,
  (s) => {
    const n = names(many ? s.slug : undefined);
    return {
      args: [
        "test",
        "--allow-ffi",
        "--allow-env",
        "--allow-read",
        "--allow-write",
        "--allow-run",
        "--allow-sys",
        "--allow-net=127.0.0.1",
        ...(values.quiet ? ["--reporter=dot"] : []),
        ...(values.parallel ? ["--parallel"] : []),
        ...(values.filter ? ["--filter", values.filter] : []),
        ...positionals,
        ...s.files,
      ],
      env: {
        DENVME_RESULTS: n.results,
        DENVME_TEST_LOG: n.log,
        DENVME_RUN_ID: `${runId} ${s.slug}`,
      },
    };
  },
  root,
  many,
);
const secs = ((performance.now() - t0) / 1000).toFixed(1);

const recs: ResultRecord[] = [];
const parts: { label: string; xml: string }[] = [];
for (const s of shards) {
  const n = names(many ? s.slug : undefined);
  const r = readResults(n.results);
  recs.push(...r);
  const xml = junitXml(r);
  if (many) {
    Deno.writeTextFileSync(n.junit, xml);
    parts.push({ label: s.slug, xml });
  } else Deno.writeTextFileSync(n.junit, xml);
}
const merged = names();
if (many) {
  Deno.writeTextFileSync(merged.junit, mergeJunit(parts, "conformance"));
  Deno.writeTextFileSync(
    merged.results,
    recs.map((r) => JSON.stringify(r)).join("\n") + (recs.length ? "\n" : ""),
  );
}
console.log("");
if (many) {
  console.log(`conformance run: ${secs} s on ${duts.length} devices at once`);
  for (const e of ends) {
    const n = names(e.shard.slug);
    const mine = recs.filter((r) =>
      r.dut === e.shard.dut && e.shard.files.includes(r.file)
    );
    const c = (o: string) =>
      mine.filter((r) => r.event === "end" && r.outcome === o).length;
    console.log(
      `  device ${e.shard.slug} (${e.shard.dut}): ${e.shard.files.length} files, ${mine.length} tests in ${
        e.seconds.toFixed(1)
      } s: ${c("pass")} passed, ${
        c("fail") + mine.filter((r) => r.event === "start").length
      } failed, ${c("skip")} skipped, ${
        c("deviation")
      } known deviations; JUnit ${rel(n.junit)}, log ${rel(n.log)}`,
    );
  }
  console.log(
    `  merged: JUnit ${rel(merged.junit)}, results ${rel(merged.results)}`,
  );
} else {
  console.log(
    `conformance run: ${secs} s; JUnit ${rel(merged.junit)}, log ${
      rel(merged.log)
    }, results ${rel(merged.results)}`,
  );
}
console.log(summaryText(recs));
const bad = recs.filter((r) => r.event === "start" || r.outcome === "fail");
if (bad.length) {
  console.log("");
  console.log("replay a failure (same seed, same device, that test only):");
  for (const r of bad) console.log(`  ${replayCommand({ ...r, dut: r.dut })}`);
}
if (!recs.length) {
  console.error(
    "conformance: no test reported a result (see the output above)",
  );
}
const code = ends.some((e) => e.code !== 0);
Deno.exit(bad.length || code || !recs.length ? 1 : 0);

function rel(p: string): string {
  const cwd = Deno.cwd() + "/";
  return p.startsWith(cwd) ? p.slice(cwd.length) : p;
}

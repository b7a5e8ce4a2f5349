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
 * deno task conformance -- --fail-fast         # more deno test options
 * ```
 *
 * Writes `test-results/conformance.xml` (JUnit), `test-results/conformance.log`
 * (every command of every test, the seeds, the cmdlogs of failures) and
 * `test-results/conformance.jsonl` (one record per test). Exits non-zero when
 * a test failed or did not finish.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { readResults } from "../testing/results.ts";
import { junitXml, summaryText } from "../testing/report.ts";

const root = new URL("..", import.meta.url).pathname;
const { values, positionals } = parseArgs({
  args: Deno.args,
  options: {
    dut: { type: "string" },
    area: { type: "string", multiple: true },
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
    "usage: deno task conformance [--dut NAME] [--area admin|nvm|features|registers|controller]... [--filter TEXT] [--out DIR] [--quiet] [--parallel] [-- deno test options]",
  );
  Deno.exit(0);
}

const suite = `${root}tests/conformance`;
const areas = values.area?.length ? values.area : [];
for (const a of areas) {
  try {
    if (!Deno.statSync(`${suite}/${a}`).isDirectory) throw new Error();
  } catch {
    console.error(`no area "${a}" in tests/conformance`);
    Deno.exit(2);
  }
}
const out = values.out!.startsWith("/")
  ? values.out!
  : `${Deno.cwd()}/${values.out}`;
Deno.mkdirSync(out, { recursive: true });
const results = `${out}/conformance.jsonl`;
const log = `${out}/conformance.log`;
const junit = `${out}/conformance.xml`;
for (const f of [results, log]) {
  try {
    Deno.removeSync(f);
  } catch { /* not there */ }
}

const args = [
  "test",
  "--allow-ffi",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-run",
  "--allow-sys",
  ...(values.quiet ? ["--reporter=dot"] : []),
  ...(values.parallel ? ["--parallel"] : []),
  ...(values.filter ? ["--filter", values.filter] : []),
  ...positionals,
  ...(areas.length ? areas.map((a) => `${suite}/${a}`) : [suite]),
];
const env: Record<string, string> = {
  DENVME_RESULTS: results,
  DENVME_TEST_LOG: log,
  DENVME_RUN_ID: `conformance ${Deno.pid} ${Date.now()}`,
};
if (values.dut) env.NVME_DUT = values.dut;

const t0 = performance.now();
const child = new Deno.Command(Deno.execPath(), {
  args,
  env,
  cwd: root,
  stdin: "null",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
const { code } = await child.status;
const secs = ((performance.now() - t0) / 1000).toFixed(1);

const recs = readResults(results);
Deno.writeTextFileSync(junit, junitXml(recs));
console.log("");
console.log(
  `conformance run: ${secs} s; JUnit ${rel(junit)}, log ${rel(log)}, results ${
    rel(results)
  }`,
);
console.log(summaryText(recs));
const failed = recs.some((r) => r.event === "start" || r.outcome === "fail");
if (!recs.length) {
  console.error(
    "conformance: no test reported a result (see the output above)",
  );
}
Deno.exit(failed || code !== 0 || !recs.length ? 1 : 0);

function rel(p: string): string {
  const cwd = Deno.cwd() + "/";
  return p.startsWith(cwd) ? p.slice(cwd.length) : p;
}

/**
 * `deno task test` — the driver tests in `tests/` (the conformance suite has
 * its own task), on one device or on several at once.
 *
 * ```sh
 * deno task test                                # the embedded device (or NVME_DUT)
 * deno task test tests/io_test.ts               # deno test arguments pass through
 * deno task test --dut qemu --dut qemu          # files split across two devices, run in parallel
 * ```
 *
 * One device: `deno test` over `tests/` with JUnit in
 * `test-results/tests.xml`, as before. Several `--dut`: the test files are
 * split across the devices (by test counts), one `deno test` per device runs
 * in parallel with its output lines prefixed by the device; each device gets
 * `test-results/tests-<n>-<device>.xml` and its own test.log
 * (`test-results/test-<n>-<device>.log`), and `test-results/tests.xml` merges
 * them.
 *
 * @module
 */
import {
  mergeJunit,
  partition,
  runShards,
  testFiles,
} from "../testing/shard.ts";
import { fileCosts } from "../testing/shard.ts";

const root = new URL("..", import.meta.url).pathname;
// --allow-all: some driver tests inspect the machine the way `deno task setup`
// does (/proc/self/status, /sys/class/block/*/dev: Deno 2 gives these special
// files only with --allow-all). What a user's script needs is --allow-ffi alone,
// which tests/permissions_test.ts checks in a subprocess with exactly that flag.
const FLAGS = ["--allow-all", "--ignore=tests/conformance"];

// --dut NAME / --dut=NAME are ours; everything else goes to deno test
const duts: string[] = [];
const rest: string[] = [];
for (let i = 0; i < Deno.args.length; i++) {
  const a = Deno.args[i];
  if (a === "--") {
    rest.push(...Deno.args.slice(i));
    break;
  }
  if (a === "--dut" && i + 1 < Deno.args.length) duts.push(Deno.args[++i]);
  else if (a.startsWith("--dut=")) duts.push(a.slice(6));
  else rest.push(a);
}

Deno.mkdirSync(`${root}test-results`, { recursive: true });

if (duts.length <= 1) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "test",
      ...FLAGS,
      "--junit-path=test-results/tests.xml",
      "tests/",
      ...rest,
    ],
    env: duts.length ? { NVME_DUT: duts[0] } : {},
    cwd: root,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  Deno.exit((await child.status).code);
}

// several devices: the files given (or all of tests/) split across them
const paths = rest.filter((a) =>
  !a.startsWith("-") && /_test\.[jt]s$|\/$/.test(a)
);
const opts = rest.filter((a) => !paths.includes(a));
const files = testFiles(paths.length ? paths : ["tests"], root)
  .filter((f) => !f.startsWith("tests/conformance/"));
const shards = partition(files, fileCosts(files, root), duts);
console.log(
  `driver tests on ${duts.length} devices at once: ${
    shards.map((s) => `${s.slug} ${s.files.length} files`).join(", ")
  }`,
);
const t0 = performance.now();
const ends = await runShards(shards, (s) => ({
  args: [
    "test",
    ...FLAGS,
    `--junit-path=test-results/tests-${s.slug}.xml`,
    ...opts.filter((o) => o !== "--"),
    ...s.files,
  ],
  env: { DENVME_TEST_LOG: `${root}test-results/test-${s.slug}.log` },
}), root);
const parts = ends.filter((e) => e.shard.files.length).map((e) => {
  let xml = "";
  try {
    xml = Deno.readTextFileSync(
      `${root}test-results/tests-${e.shard.slug}.xml`,
    );
  } catch { /* the run died before writing it */ }
  return { label: e.shard.slug, xml };
});
Deno.writeTextFileSync(
  `${root}test-results/tests.xml`,
  mergeJunit(parts, "denvme tests"),
);
console.log(
  `\ndriver tests: ${
    ((performance.now() - t0) / 1000).toFixed(1)
  } s on ${duts.length} devices`,
);
for (const e of ends) {
  console.log(
    `  ${e.shard.slug} (${e.shard.dut}): ${e.shard.files.length} files, ${
      e.code === 0 ? "ok" : `FAILED (exit ${e.code})`
    } in ${
      e.seconds.toFixed(1)
    } s; JUnit test-results/tests-${e.shard.slug}.xml, log test-results/test-${e.shard.slug}.log`,
  );
}
console.log("  merged JUnit: test-results/tests.xml");
Deno.exit(ends.some((e) => e.code !== 0) ? 1 : 0);

/**
 * `--allow-ffi` is all a user needs: from a fresh directory outside the
 * repository, `deno test --allow-ffi` on a test file using the fixtures (a
 * write and read back, an ioworker on its Worker thread, a power cycle, a
 * failing test's cmdlog dump) and `deno run --allow-ffi` on hello world pass on
 * the embedded device — QEMU is started by the C library, so no `--allow-run`
 * — and `--allow-write` adds test-results/test.log.
 */
import assert from "node:assert/strict";
import { runDeno } from "./_util.ts";

const ROOT = new URL("..", import.meta.url);

const TEST_FILE = `
import { nvmeTest } from "${new URL("testing.ts", ROOT).href}";

nvmeTest("hello world", { needs: ["nvme0n1", "qpair", "buf"] }, ({ nvme0n1, qpair, buf }) => {
  buf.write("hello world");
  nvme0n1.write(qpair, buf, 0).waitdone();
  buf.fill(0);
  nvme0n1.read(qpair, buf, 0).waitdone();
  if (buf.data(10, 0, "str") !== "hello world") throw new Error("read back differs");
});

nvmeTest("ioworker", { needs: ["nvme0n1", "verify"] }, ({ nvme0n1 }) => {
  const r = nvme0n1.ioworker({ ioSize: 8, ioCount: 200, readPercentage: 50 }).start().close();
  if (r.ioCountRead + r.ioCountWrite !== 200 || r.error) throw new Error(JSON.stringify(r));
});

nvmeTest("power cycle", { needs: ["nvme0", "subsystem"], own: true }, ({ nvme0, subsystem }) => {
  subsystem.powerCycle();
  nvme0.reset();
  nvme0.getfeatures(7).waitdone();
});
`;

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("deno test --allow-ffi: the fixtures, from a directory outside the repository", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denvme-ffi-only-" });
  try {
    assert.ok(!dir.startsWith(new URL(".", ROOT).pathname));
    Deno.writeTextFileSync(`${dir}/hello_test.ts`, TEST_FILE);
    const r = await runDeno(dir, "test", "--allow-ffi", "hello_test.ts");
    assert.equal(r.code, 0, r.text);
    assert.match(r.text, /ok \| 3 passed \| 0 failed/);
    // no test.log without --allow-write, and one line says how to get it
    assert.ok(!exists(`${dir}/test-results`), "test-results/ was written");
    assert.match(
      r.text,
      /\[denvme\] no test log: add --allow-write to write test-results\/test\.log/,
    );
    assert.doesNotMatch(r.text, /NotCapable|Requires \w+ access/);

    const w = await runDeno(
      dir,
      "test",
      "--allow-ffi",
      "--allow-write",
      "hello_test.ts",
    );
    assert.equal(w.code, 0, w.text);
    assert.doesNotMatch(w.text, /no test log/);
    const log = Deno.readTextFileSync(`${dir}/test-results/test.log`);
    assert.match(log, /^# denvme test log, run pid \d+, started /);
    assert.match(log, /hello world: start \(hello_test\.ts\)/);
    assert.match(log, /power cycle: passed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno run --allow-ffi: hello world, from a directory outside the repository", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denvme-ffi-only-" });
  try {
    const r = await runDeno(
      dir,
      "run",
      "--allow-ffi",
      new URL("examples/hello_world.ts", ROOT).pathname,
    );
    assert.equal(r.code, 0, r.text);
    assert.match(r.text, /hello world: PASSED/);
    assert.deepEqual([...Deno.readDirSync(dir)], [], "the script wrote files");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("--allow-ffi: a failing test is reported, with its cmdlog on the console", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denvme-ffi-only-" });
  try {
    Deno.writeTextFileSync(
      `${dir}/fail_test.ts`,
      `import { nvmeTest } from "${new URL("testing.ts", ROOT).href}";
nvmeTest("past the end", { needs: ["nvme0n1", "qpair", "buf"] }, ({ nvme0n1, qpair, buf }) => {
  nvme0n1.read(qpair, buf, nvme0n1.capacity, 1).waitdone();
});
`,
    );
    const r = await runDeno(dir, "test", "--allow-ffi", "fail_test.ts");
    assert.equal(r.code, 1, r.text);
    assert.match(r.text, /0 passed \| 1 failed/);
    assert.match(r.text, /00\/80 LBA Out of Range/);
    assert.match(r.text, /last commands:/);
    // the failure names the user's test file and line (Deno's own header names the harness)
    assert.match(
      r.text,
      /past the end: failed with seed 0x[0-9a-f]+ at fail_test\.ts:2 /,
    );
    assert.doesNotMatch(r.text, /NotCapable|Requires \w+ access/);
    // with --allow-write the log has every queue's cmdlog; the AER still
    // waiting when the controller closed is outstanding, not a 07/ff failure
    const w = await runDeno(
      dir,
      "test",
      "--allow-ffi",
      "--allow-write",
      "fail_test.ts",
    );
    assert.equal(w.code, 1, w.text);
    const log = Deno.readTextFileSync(`${dir}/test-results/test.log`);
    assert.match(
      log,
      /Asynchronous Event Request \(0x0c\).* -> \(outstanding\) \[outstanding when the controller closed or reset\]/,
    );
    assert.doesNotMatch(log, /Asynchronous Event Request \(0x0c\).*07\/ff/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

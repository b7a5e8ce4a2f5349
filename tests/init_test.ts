/**
 * `deno task init <dir>`: a project of the user's own, outside the
 * repository, whose `deno task test` runs the example test on the embedded
 * device (importing denvme and its harness through the project's imports).
 */
import assert from "node:assert/strict";
import { runDeno } from "./_util.ts";

const ROOT = new URL("..", import.meta.url).pathname;

Deno.test("deno task init <dir> && cd <dir> && deno task test passes on the embedded device", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "denvme-init-" });
  try {
    const dir = `${tmp}/my-ssd-tests`;
    const init = await runDeno(ROOT, "task", "init", dir);
    assert.equal(init.code, 0, init.text);
    assert.match(init.text, /next: cd .*my-ssd-tests && deno task test/);
    for (const f of ["deno.json", "tests/example_test.ts", "README.md"]) {
      assert.ok(Deno.statSync(`${dir}/${f}`).isFile, f);
    }
    const json = JSON.parse(Deno.readTextFileSync(`${dir}/deno.json`));
    assert.deepEqual(Object.keys(json.tasks), ["test", "report", "console"]);
    assert.equal(
      json.imports["denvme/testing"],
      new URL("testing.ts", `file://${ROOT}`).href,
    );

    const test = await runDeno(dir, "task", "test");
    assert.equal(test.code, 0, test.text);
    assert.match(test.text, /ok \| 2 passed \| 0 failed/);
    const log = Deno.readTextFileSync(`${dir}/test-results/test.log`);
    assert.match(log, /hello world: write, read back: passed/);
    assert.ok(Deno.statSync(`${dir}/test-results/tests.xml`).size > 0);

    const report = await runDeno(dir, "task", "report");
    assert.equal(report.code, 0, report.text);
    assert.match(report.text, /2 passed/);

    // a directory that is not empty is refused
    const again = await runDeno(ROOT, "task", "init", dir);
    assert.equal(again.code, 1);
    assert.match(again.text, /is not empty: give a new or empty directory/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

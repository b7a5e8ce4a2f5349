/**
 * Many devices at once (testing/shard.ts): files split across devices by
 * cost, JUnit merged, replay commands; and the conformance task run on two
 * embedded devices at once, one area, merged outputs per device.
 */
import assert from "node:assert/strict";
import {
  dutSlug,
  fileCosts,
  mergeJunit,
  partition,
  replayCommand,
  testFiles,
} from "../testing/shard.ts";

const root = new URL("..", import.meta.url).pathname;

Deno.test("partition: longest files first onto the least loaded device; every file once", () => {
  const cost = new Map([["a", 9], ["b", 5], ["c", 4], ["d", 3], ["e", 3]]);
  const shards = partition([...cost.keys()], cost, ["qemu", "qemu"]);
  assert.deepEqual(shards.map((s) => s.files), [["a", "d"], ["b", "c", "e"]]);
  assert.deepEqual(shards.map((s) => s.cost), [12, 12]);
  assert.deepEqual(shards.map((s) => s.slug), ["1-qemu", "2-qemu"]);
  const one = partition(["x", "y"], new Map(), ["01:00.0"]);
  assert.deepEqual(one[0].files, ["x", "y"]);
  const three = partition(["x"], new Map(), ["a", "b", "c"]);
  assert.equal(three.filter((s) => s.files.length).length, 1);
});

Deno.test("dutSlug: file-name safe, numbered", () => {
  assert.equal(
    dutSlug("qemu:size=16T,lba=4096", 0),
    "1-qemu_size_16T_lba_4096",
  );
  assert.equal(dutSlug("0000:01:00.0", 1), "2-0000_01_00.0");
});

Deno.test("testFiles and fileCosts: the conformance files, costs from test counts or the last results", () => {
  const files = testFiles(["tests/conformance"], root);
  assert.ok(files.length >= 10);
  assert.ok(
    files.every((f) =>
      f.startsWith("tests/conformance/") && f.endsWith("_test.ts")
    ),
  );
  assert.ok(files.includes("tests/conformance/zns/zones_test.ts"));
  const byCount = fileCosts(files, root);
  assert.ok([...byCount.values()].every((v) => v >= 1));
  const tmp = Deno.makeTempFileSync({ suffix: ".jsonl" });
  try {
    const f = files[0];
    Deno.writeTextFileSync(
      tmp,
      [
        { event: "end", file: f, name: "t1", ms: 700 },
        { event: "end", file: f, name: "t2", ms: 300 },
      ].map((r) => JSON.stringify(r)).join("\n") + "\n",
    );
    assert.equal(fileCosts(files, root, [tmp]).get(f), 1000);
  } finally {
    Deno.removeSync(tmp);
  }
});

Deno.test("mergeJunit: suites prefixed with the device, totals summed", () => {
  const doc = (n: number, f: number) =>
    `<?xml version="1.0"?>\n<testsuites name="x" tests="${n}" failures="${f}" skipped="1" time="1.5">\n  <testsuite name="nvm" tests="${n}"><testcase name="t"/></testsuite>\n</testsuites>\n`;
  const m = mergeJunit([{ label: "1-qemu", xml: doc(3, 1) }, {
    label: "2-qemu",
    xml: doc(4, 0),
  }], "all");
  assert.match(
    m,
    /<testsuites name="all" tests="7" failures="1" errors="0" skipped="2" time="3.000">/,
  );
  assert.match(m, /<testsuite name="1-qemu: nvm"/);
  assert.match(m, /<testsuite name="2-qemu: nvm"/);
  assert.equal(m.match(/<testcase/g)?.length, 2);
});

Deno.test("replayCommand: seed, device, file and name, shell-quoted", () => {
  assert.equal(
    replayCommand({
      seed: "0x0000abcd",
      dut: "qemu:ns=2",
      file: "tests/conformance/nvm/read_write_test.ts",
      name: "it's a test",
    }),
    "DENVME_SEED=0x0000abcd deno task conformance --dut 'qemu:ns=2' --file tests/conformance/nvm/read_write_test.ts --filter 'it'\\''s a test'",
  );
});

Deno.test("deno task conformance on two devices at once: one process each, per-device and merged outputs", async () => {
  const out = Deno.makeTempDirSync({ prefix: "denvme-shard-" });
  try {
    const p = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "tasks/conformance.ts",
        "--quiet",
        "--out",
        out,
        "--dut",
        "qemu",
        "--dut",
        "qemu:serial=SHARD2",
        "--file",
        "tests/conformance/registers/controller_test.ts",
        "--file",
        "tests/conformance/controller/sqe_cqe_test.ts",
      ],
      cwd: root,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(p.stdout);
    assert.equal(p.code, 0, text + new TextDecoder().decode(p.stderr));
    assert.match(
      text,
      /conformance on 2 devices at once: 1-qemu 1 files, 2-qemu_serial_SHARD2 1 files/,
    );
    assert.match(text, /summary \(devices qemu, qemu:serial=SHARD2\)/);
    const names = [...Deno.readDirSync(out)].map((e) => e.name).sort();
    for (
      const n of [
        "conformance-1-qemu.jsonl",
        "conformance-1-qemu.log",
        "conformance-1-qemu.xml",
        "conformance-2-qemu_serial_SHARD2.log",
        "conformance-2-qemu_serial_SHARD2.xml",
        "conformance.jsonl",
        "conformance.xml",
      ]
    ) assert.ok(names.includes(n), `${n} in ${names.join(", ")}`);
    const recs = Deno.readTextFileSync(`${out}/conformance.jsonl`).trim()
      .split("\n").map((l) => JSON.parse(l));
    const duts = new Set(recs.map((r) => r.dut));
    assert.deepEqual([...duts].sort(), ["qemu", "qemu:serial=SHARD2"]);
    const xml = Deno.readTextFileSync(`${out}/conformance.xml`);
    assert.equal(xml.match(/<testcase /g)?.length, recs.length);
    assert.match(xml, /name="1-qemu: registers"/);
  } finally {
    Deno.removeSync(out, { recursive: true });
  }
});

/**
 * The ioworker examples run unchanged on the embedded device, as child
 * processes the way a user runs them, with short run times.
 */
import assert from "node:assert/strict";
import { runExample } from "./_util.ts";

const run = runExample;

Deno.test("examples/ioworker_multiple_queues.ts", async () => {
  const out = await run(
    "ioworker_multiple_queues.ts",
    "--queues",
    "1,2",
    "--seconds",
    "1",
  );
  assert.match(out, /^Q {2}1 IOPS: \d+\.\d{3}K$/m);
  assert.match(out, /^Q {2}2 IOPS: \d+\.\d{3}K$/m);
  assert.match(out, /ioworker multiple queues: PASSED/);
});

Deno.test("examples/ioworker_temperature.ts", async () => {
  const out = await run("ioworker_temperature.ts", "--seconds", "2");
  const temps = out.match(/^temperature: \d+\.\d\d degreeC, /gm) ?? [];
  assert.ok(temps.length >= 2, out);
  assert.match(out, /\d+ writes in \d+ ms, \d+ temperature samples/);
  assert.match(out, /ioworker temperature: PASSED/);
});

Deno.test("examples/ioworker_iops_control.ts", async () => {
  const out = await run(
    "ioworker_iops_control.ts",
    "--iops",
    "1234,300",
    "--seconds",
    "2",
  );
  // (the last second is exact to ±1; the example checks that itself)
  assert.match(out, /^iops=1234: \d+ 123[345] .* ok$/m);
  assert.match(out, /^iops=300: \d+ (299|300|301) .* ok$/m);
  assert.match(out, /ioworker iops control: PASSED/);
});

Deno.test("examples/ioworker_multiple.ts", async () => {
  const out = await run("ioworker_multiple.ts", "--seconds", "1");
  assert.match(out, /^3 ioworkers running on I\/O queues 1, 2, 3 for 1 s$/m);
  for (
    const w of [
      "random 4 KiB write",
      "random 4 KiB read",
      "sequential 128 KiB read",
    ]
  ) {
    assert.match(
      out,
      new RegExp(
        `^${w} +\\d+\\.\\dk IOPS, latency average \\d+ us, p99 \\d+ us$`,
        "m",
      ),
    );
  }
  assert.match(out, /^total +\d+\.\dk IOPS$/m);
  assert.match(out, /multiple ioworkers: PASSED/);
});

Deno.test("examples/two_namespaces.ts: two namespaces of one controller, and two controllers", async () => {
  const out = await run(
    "two_namespaces.ts",
    "--dut",
    "qemu:ns=2,size=256M",
    "--seconds",
    "1",
  );
  assert.match(out, /^nvme0n1: \d+ writes in \d+ ms/m);
  assert.match(out, /^nvme0n2: \d+ writes in \d+ ms/m);
  assert.match(out, /LBA 0: nvme0n1 0x11111111, nvme0n2 0x22222222/);
  assert.match(out, /two namespaces: PASSED/);
  const two = await run(
    "two_namespaces.ts",
    "--dut2",
    "qemu:size=256M",
    "--seconds",
    "1",
  );
  assert.match(two, /LBA 0: nvme0n1 0x11111111, nvme1n1 0x22222222/);
  assert.match(two, /two namespaces: PASSED/);
});

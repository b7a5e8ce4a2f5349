/**
 * The ioworker examples run unchanged on the embedded device, as child
 * processes the way a user runs them, with short run times.
 */
import assert from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;

async function run(example: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      "--allow-env",
      "--allow-read",
      `${root}examples/${example}`,
      "--dut",
      "qemu",
      ...args,
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) +
    new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `${example} exited with ${out.code}:\n${text}`);
  return text;
}

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

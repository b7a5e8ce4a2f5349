/**
 * Helpers shared by the driver tests.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Buffer, Namespace, Qpair } from "../mod.ts";

/** Assert that `fn` throws an instance of `cls` whose message matches every regex. */
export function throwsWith(
  fn: () => unknown,
  cls: abstract new (...args: never[]) => Error,
  ...patterns: RegExp[]
): Error {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `expected a ${cls.name}, nothing was thrown`);
  assert.ok(
    caught instanceof cls,
    `expected a ${cls.name}, got ${(caught as Error)?.name}: ${
      (caught as Error)?.message
    }`,
  );
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}

/**
 * On a throttled embedded device ("qemu:throttle=N"), read until one read
 * waits for the throttle (takes over `slowMs`): the burst allowance is then
 * used up and the next read takes about 1/N s, whatever the machine's load.
 */
export function drainThrottle(
  ns: Namespace,
  q: Qpair,
  buf: Buffer,
  slowMs = 100,
): void {
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    ns.read(q, buf, i).waitdone();
    if (performance.now() - t0 > slowMs) return;
  }
  assert.fail("the throttled device never slowed down");
}

const ROOT = new URL("..", import.meta.url).pathname;

/**
 * Run `examples/<example>` on the embedded device as a child process, the way
 * a user runs it — with exactly the permission flags its header shows (only
 * `--allow-ffi`); assert it exits 0 and return its stdout + stderr.
 */
export async function runExample(
  example: string,
  ...args: string[]
): Promise<string> {
  const header = /deno run ((?:--allow-[a-z]+ )+)/.exec(
    Deno.readTextFileSync(`${ROOT}examples/${example}`),
  );
  assert.ok(
    header,
    `${example}: no \`deno run --allow-...\` line in its header`,
  );
  const flags = header[1].trim().split(" ");
  assert.deepEqual(flags, ["--allow-ffi"], `${example}: the header's flags`);
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...flags,
      `${ROOT}examples/${example}`,
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

/**
 * Run the deno binary that runs the tests with `args` in `cwd` (no colours);
 * its exit code and stdout + stderr.
 */
export async function runDeno(
  cwd: string,
  ...args: string[]
): Promise<{ code: number; text: string }> {
  // the child writes its own test log: not the one a sharded run gave this process
  const env = Deno.env.toObject();
  delete env.DENVME_TEST_LOG;
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { ...env, NO_COLOR: "1" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: out.code, text: d.decode(out.stdout) + d.decode(out.stderr) };
}

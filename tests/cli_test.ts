/**
 * The `deno task nvme` utilities on the embedded device (run as the user does).
 */
import assert from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;

async function nvme(
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      "--allow-env",
      "--allow-read",
      `${root}tasks/nvme.ts`,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

Deno.test("nvme identify/smart/features/log --json", async () => {
  const id = await nvme("identify", "--json", "--dut", "qemu:serial=CLI1");
  assert.equal(id.code, 0, id.err);
  const j = JSON.parse(id.out);
  assert.equal(j.sn, "CLI1");
  assert.equal(j.mn, "QEMU NVMe Ctrl");
  const ns = JSON.parse((await nvme("identify", "--nsid", "1", "--json")).out);
  assert.equal(ns.nsze, "8388608");
  const smart = JSON.parse((await nvme("smart", "--json")).out);
  assert.equal(smart.temperature, 323);
  const feat = JSON.parse((await nvme("features", "7", "4", "--json")).out);
  assert.deepEqual(feat, {
    "07h Number of Queues": (63 << 16) | 63,
    "04h Temperature Threshold": 343,
  });
  const log = JSON.parse(
    (await nvme("log", "3", "--size", "64", "--json")).out,
  );
  assert.equal(log.length, 64);
  assert.equal(log[0], 1, "AFI: slot 1 active");
  const text = await nvme("log", "3", "--size", "32");
  assert.match(text.out, /^log page 0x3\n00000000 {2}01/);
});

Deno.test("nvme format, sanitize on a device without it, bad input", async () => {
  const f = await nvme("format", "--lbaf", "4", "--json");
  assert.equal(f.code, 0, f.err);
  assert.equal(JSON.parse(f.out).lbaf, 4);
  const s = await nvme("sanitize");
  assert.equal(s.code, 1);
  assert.match(
    s.err,
    /error: ERROR status: 00\/01 Invalid Command Opcode \(Sanitize/,
  );
  const bad = await nvme("identify", "--dut", "qemu:lba=7");
  assert.equal(bad.code, 1);
  assert.match(bad.err, /lba=7: allowed 512 or 4096/);
  const unknown = await nvme("frobnicate");
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /unknown command "frobnicate"/);
  const noarg = await nvme("log");
  assert.match(noarg.err, /log needs a log page id/);
});

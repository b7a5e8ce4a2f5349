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
  const feat = JSON.parse((await nvme("features", "7", "0x4", "--json")).out);
  assert.deepEqual(feat, {
    "07h Number of Queues": {
      nsid: 0,
      cdw0: (63 << 16) | 63,
      fields: { nsqa: 63, ncqa: 63 },
    },
    "04h Temperature Threshold": {
      nsid: 0,
      cdw0: 343,
      fields: { tmpth: 343, tmpsel: 0, thsel: 0 },
    },
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

Deno.test("nvme usage: unknown options, --help, one usage text", async () => {
  // an unknown option: the command's usage, exit 2, no stack trace
  const bogus = await nvme("identify", "--bogus");
  assert.equal(bogus.code, 2);
  assert.match(bogus.err, /error: Unknown option '--bogus'/);
  assert.match(bogus.err, /usage: deno task nvme identify \[--nsid N\] \[-H\]/);
  assert.doesNotMatch(bogus.err, /TypeError|at .*\.ts:\d+/);
  // an option of another command is unknown here too
  const other = await nvme("smart", "--lbaf", "1");
  assert.equal(other.code, 2);
  assert.match(other.err, /usage: deno task nvme smart/);
  // <cmd> --help: that command's options
  const help = await nvme("features", "--help");
  assert.equal(help.code, 0);
  assert.match(
    help.out,
    /usage: deno task nvme features \[FID \.\.\.\] \[--nsid N\]/,
  );
  assert.match(
    help.out,
    /--nsid VALUE +namespace of the per-namespace features/,
  );
  const all = await nvme("--help");
  assert.equal(all.code, 0);
  for (const c of ["identify", "features", "regs", "ioworker", "cmdlog"]) {
    assert.match(all.out, new RegExp(`^  ${c} `, "m"));
  }
  const none = await nvme();
  assert.equal(none.code, 2);
  assert.match(none.err, /usage: deno task nvme <command>/);
});

Deno.test("nvme features --nsid, the Timestamp buffer, regs, ioworker --bs and flag names", async () => {
  const f = JSON.parse(
    (await nvme("features", "5", "0x0e", "7", "--nsid", "1", "--json")).out,
  );
  // Error Recovery is per namespace: asked for namespace 1, it succeeds
  assert.deepEqual(f["05h Error Recovery"], {
    nsid: 1,
    cdw0: 0,
    fields: { tler: 0, dulbe: 0 },
  });
  // the Timestamp feature is read from its 8-byte data buffer
  const ts = f["0eh Timestamp"];
  assert.equal(ts.nsid, 0);
  assert.equal(ts.data.origin, 0, "counting since the controller reset");
  assert.ok(ts.data.timestamp > 0, JSON.stringify(ts));
  const text = await nvme("features", "0x0e");
  assert.match(
    text.out,
    /0eh Timestamp: 0x0+\n {2}Timestamp: \d+ ms\n {2}Synch: 0\n/,
  );

  const regs = await nvme("regs");
  assert.equal(regs.code, 0, regs.err);
  assert.match(
    regs.out,
    /^cap \(0x00\): 0x[0-9a-f]{16} +Controller Capabilities$/m,
  );
  assert.match(
    regs.out,
    /\[15:0\] 0x7ff Maximum Queue Entries Supported \(0's based\): 2048 entries/,
  );
  assert.match(regs.out, /\[0:0\] 0x1 Ready: yes/);
  const rj = JSON.parse((await nvme("regs", "--json")).out);
  assert.equal(rj.cc.value, 0x00460001);
  assert.equal(rj.cc.fields.iosqes, 6);

  const w = JSON.parse(
    (await nvme("ioworker", "--bs", "4k", "--count", "100", "--json")).out,
  );
  assert.equal(w.options.ioSize, 8, "4 KiB of 512-byte LBAs");
  assert.equal(w.result.ioCountRead, 100);
  const pct = w.result.latencyPercentiles;
  for (const v of Object.values(pct) as number[]) {
    assert.ok(
      v <= w.result.latencyMaxUs,
      `a percentile above max: ${JSON.stringify(pct)}`,
    );
  }
  const read = await nvme("ioworker", "--read", "150", "--count", "10");
  assert.equal(read.code, 1);
  assert.match(read.err, /--read = 150 is out of range: allowed 0\.\.100/);
  assert.doesNotMatch(read.err, /readPercentage/);
  const bs = await nvme("ioworker", "--block-size", "1000", "--count", "10");
  assert.match(
    bs.err,
    /--block-size 1000: give a non-zero multiple of the 512-byte LBA size/,
  );
  // (the names are bold: ANSI codes removed)
  const smart = (await nvme("smart")).out.replace(
    new RegExp(String.fromCharCode(27) + "\\[[0-9;]*m", "g"),
    "",
  );
  assert.match(smart, /^available_spare +\d+%$/m);
  assert.match(smart, /^percentage_used +0%$/m);
});

/**
 * The command-line tools as a user runs them (child processes, the tasks'
 * permissions): `deno task nvme` devices, cmdlog (live and from a test log),
 * ioworker with its progress line and report, firmware download and sanitize
 * on a device without them; `deno task report`; the progress helpers.
 */
import assert from "node:assert/strict";
import { progressBar, ProgressLine } from "../tasks/progress.ts";

const root = new URL("..", import.meta.url).pathname;
const testing = new URL("../testing.ts", import.meta.url).href;

interface Run {
  code: number;
  out: string;
  err: string;
}

async function task(
  script: string,
  perms: string[],
  args: string[],
  cwd?: string,
): Promise<Run> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...perms, `${root}tasks/${script}`, ...args],
    cwd,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

// the permissions of the tasks in deno.json
const nvme = (...args: string[]) =>
  task("nvme.ts", [
    "--allow-ffi",
    "--allow-env",
    "--allow-read",
    "--allow-write",
    "--allow-run",
  ], args);
const report = (...args: string[]) =>
  task(
    "report.ts",
    ["--allow-env", "--allow-read", "--allow-write", "--allow-run"],
    args,
  );

Deno.test("progress bar and status line", () => {
  assert.equal(progressBar(0.45, 20), "[#########...........]  45%");
  assert.equal(progressBar(2, 4), "[####] 100%");
  assert.equal(progressBar(NaN, 4), "[....]   0%");
  const tty: string[] = [];
  const a = new ProgressLine({ tty: true, write: (t) => tty.push(t) });
  a.update("one");
  a.update("two");
  a.done("end");
  assert.deepEqual(tty, ["\rone\x1b[K", "\rtwo\x1b[K", "\r\x1b[K", "end\n"]);
  const log: string[] = [];
  const b = new ProgressLine({
    tty: false,
    intervalMs: 60_000,
    write: (t) => log.push(t),
  });
  b.update("first");
  b.update("throttled");
  b.update("forced", true);
  b.done();
  assert.deepEqual(log, ["first\n", "forced\n"]);
});

Deno.test("nvme devices: the embedded device and the host's controllers", async () => {
  const j = await nvme("devices", "--json");
  assert.equal(j.code, 0, j.err);
  const list = JSON.parse(j.out);
  assert.equal(list[0].name, "qemu");
  assert.equal(list[0].id, "1b36:0010");
  assert.equal(list[0].usable, true);
  for (const d of list.slice(1)) {
    assert.match(d.name, /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/);
  }
  const t = await nvme("devices");
  assert.match(t.out, /^NAME +DEVICE +SIZE +STATE\nqemu +QEMU NVMe Ctrl/);
});

Deno.test("nvme cmdlog: a short demo, then each queue's commands decoded", async () => {
  const j = await nvme("cmdlog", "--json", "--dut", "qemu:size=64M");
  assert.equal(j.code, 0, j.err);
  const [admin, io] = JSON.parse(j.out);
  assert.equal(admin.qid, 0);
  assert.equal(io.qid, 1);
  const fields = (q: { commands: { name: string; fields: string }[] }) =>
    q.commands.map((c) => `${c.name}: ${c.fields}`);
  assert.ok(
    fields(admin).includes(
      "Get Log Page: LID 02h SMART / Health Information, 512 bytes",
    ),
    fields(admin).join("\n"),
  );
  assert.ok(
    fields(admin).includes(
      "Create I/O Completion Queue: qid 1, qsize 16, iv 1, interrupts on",
    ),
  );
  assert.ok(fields(admin).includes("Identify: CNS 01h controller"));
  // newest first: the expected error, the trim, write zeroes, flush, compare, read, write
  assert.deepEqual(fields(io), [
    "Read: slba 131072, nlb 1",
    "Dataset Management: 1 range, deallocate",
    "Write Zeroes: slba 8, nlb 8",
    "Flush: ",
    "Compare: slba 0, nlb 8",
    "Read: slba 0, nlb 8",
    "Write: slba 0, nlb 8",
  ]);
  assert.equal(io.commands[0].status, "00/80");
  assert.equal(io.commands[0].statusName, "LBA Out of Range");
  assert.equal(io.commands[0].error, true);
  assert.ok(
    io.commands.slice(1).every((c: { status: string }) => c.status === "00/00"),
  );
  assert.ok(io.commands.every((c: { latencyUs: number }) => c.latencyUs > 0));
  const t = await nvme("cmdlog", "--qid", "1", "--count", "2");
  assert.match(
    t.out,
    /^cmdlog of I\/O queue 1, newest first:\n#7 +\S+ +q1 +cid \d+ +Read \(0x02\) +nsid 1 +slba 8388608, nlb 1 +00\/80 LBA Out of Range +\d+ us\n#6 .*Dataset Management \(0x09\).*1 range, deallocate +00\/00 Successful Completion/,
  );
  assert.equal(t.out.trim().split("\n").length, 3);
  const bad = await nvme("cmdlog", "--qid", "5");
  assert.equal(bad.code, 1);
  assert.match(
    bad.err,
    /--qid 5: this session has the admin queue \(0\) and I\/O queue 1/,
  );
});

Deno.test("nvme ioworker: live progress, figures, the HTML report and SVG; deno task report reads its JSON", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denvme-cli-" });
  try {
    const r = await nvme(
      "ioworker",
      "--dut",
      "qemu:size=256M",
      "--seconds",
      "2.5",
      "--read",
      "50",
      "--qdepth",
      "16",
      "--io-size",
      "8,16",
      "--report",
      `${dir}/io.html`,
      "--json",
    );
    assert.equal(r.code, 0, r.err);
    // stderr: a progress line per second (no terminal), with rate and bar
    const lines = r.err.split("\n").filter((l) => l.startsWith("ioworker ["));
    assert.ok(lines.length >= 2, r.err);
    assert.match(
      lines[1],
      /^ioworker \[#+\.*\] +\d+% \d\.\d\/2\.5 s {2}\d+\.\dk IOPS {2}\d+\.\d MB\/s {2}\d+ IOs \(\d+ reads, \d+ writes\)$/,
    );
    const j = JSON.parse(r.out);
    assert.equal(j.result.ok, true);
    assert.equal(j.result.ioPerSecond.length, 3);
    assert.ok(j.summary.iops > 100, String(j.summary.iops));
    assert.ok(j.result.ioCountWrite > 0 && j.result.ioCountRead > 0);
    assert.deepEqual(j.options.ioSize, [8, 16]);
    assert.deepEqual(j.files, [`${dir}/io.html`, `${dir}/io.svg`]);
    const html = await Deno.readTextFile(`${dir}/io.html`);
    assert.match(
      html,
      /<title>ioworker: 4\/8 KiB random, 50% read, QD16<\/title>/,
    );
    assert.equal(html.match(/<svg\b/g)?.length, 5);
    assert.match(await Deno.readTextFile(`${dir}/io.svg`), /^<svg /);
    // the JSON output becomes a report again, offline
    await Deno.writeTextFile(`${dir}/io.json`, r.out);
    const again = await report(`${dir}/io.json`, "--html", `${dir}/again.html`);
    assert.equal(again.code, 0, again.err);
    assert.match(
      again.out,
      /^ioworker: \d+ IOs in 2\.\d+ s, \d+ IOPS, average latency \d+ us$/m,
    );
    assert.match(
      await Deno.readTextFile(`${dir}/again.html`),
      /Latency histogram/,
    );
    // text output
    const t = await nvme(
      "ioworker",
      "--seconds",
      "1",
      "--iops",
      "500",
      "--seq",
    );
    assert.equal(t.code, 0, t.err);
    assert.match(
      t.out,
      /^\d+ IOs in [01]\.\d{3} s: (49\d|50\d) IOPS, \d+\.\d MB\/s\nlatency: average \d+ us, p50 \d+ us/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("nvme fw-download and sanitize on a device without them: the status, also as JSON", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denvme-cli-" });
  try {
    await Deno.writeFile(`${dir}/fw.bin`, new Uint8Array(10_000).fill(0xa5));
    const fw = await nvme("fw-download", `${dir}/fw.bin`, "--slot", "1");
    assert.equal(fw.code, 1);
    assert.match(
      fw.err,
      /error: ERROR status: 00\/01 Invalid Command Opcode \(Firmware Image Download, cid \d+, sqid 0/,
    );
    const fj = await nvme("fw-download", `${dir}/fw.bin`, "--json");
    assert.equal(fj.code, 1);
    assert.match(JSON.parse(fj.out).error, /Firmware Image Download/);
    const missing = await nvme("fw-download");
    assert.match(missing.err, /fw-download needs a firmware file/);
    const s = await nvme("sanitize", "--json");
    assert.equal(s.code, 1);
    assert.match(
      JSON.parse(s.out).error,
      /00\/01 Invalid Command Opcode \(Sanitize/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the cmdlogs of a failed test: nvme cmdlog TEST.LOG and deno task report --html", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denvme-cli-" });
  try {
    await Deno.mkdir(`${dir}/test-results`);
    await Deno.writeTextFile(
      `${dir}/child_test.ts`,
      `
import { nvmeTest } from "${testing}";
nvmeTest("writes past the end", { needs: ["nvme0n1", "qpair", "buf"] }, ({ nvme0n1, qpair, buf }) => {
  nvme0n1.write(qpair, buf, 0, 8).waitdone();
  nvme0n1.write(qpair, buf, nvme0n1.capacity - 4, 8).waitdone(); // 00/80
});
nvmeTest("passes", { needs: ["nvme0"] }, ({ nvme0 }) => { nvme0.getfeatures(7).waitdone(); });
`,
    );
    await new Deno.Command(Deno.execPath(), {
      args: [
        "test",
        "--no-check",
        "--config",
        `${root}deno.json`,
        "--allow-all",
        `--junit-path=test-results/tests.xml`,
        "child_test.ts",
      ],
      cwd: dir,
      env: {
        NO_COLOR: "1",
        DENVME_TEST_LOG: `${dir}/test-results/test.log`,
        DENVME_RUN_ID: "",
        DENVME_RESULTS: "",
      },
      stdout: "null",
      stderr: "null",
    }).output();
    const log = `${dir}/test-results/test.log`;
    const c = await nvme("cmdlog", log, "--qid", "1");
    assert.equal(c.code, 0, c.err);
    assert.match(
      c.out,
      /^writes past the end \(child_test\.ts, seed 0x[0-9a-f]{8}\)\n {2}StatusError: ERROR status: 00\/80/,
    );
    assert.match(
      c.out,
      /cmdlog of I\/O queue 1 \(the failing command's queue\), newest first:\n {4}#2 .*Write \(0x01\) +nsid 1 +slba 8388604, nlb 8 +00\/80 LBA Out of Range/,
    );
    assert.doesNotMatch(c.out, /admin queue/);
    const cj = JSON.parse(
      (await nvme("cmdlog", log, "--json", "--test", "past")).out,
    );
    assert.equal(cj.length, 1);
    assert.deepEqual(cj[0].queues.map((q: { qid: number }) => q.qid).sort(), [
      0,
      1,
    ]);
    const none = await nvme("cmdlog", log, "--test", "no such test");
    assert.match(none.out, /no cmdlog of a failed test/);

    // the report task, run where the log is: finds test-results/tests.xml itself
    const r = await task(
      "report.ts",
      [
        "--allow-env",
        "--allow-read",
        "--allow-write",
        "--allow-run",
      ],
      ["--html", "report.html", "--png", "report.png"],
      dir,
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /FAILED writes past the end/);
    assert.match(
      r.out,
      /2 tests: 1 passed, 1 failed, 0 skipped, 0 known deviations/,
    );
    const html = await Deno.readTextFile(`${dir}/report.html`);
    assert.match(html, /Failures \(1\)/);
    assert.match(html, /slba 8388604, nlb 8/);
    assert.ok((await Deno.stat(`${dir}/report.png`)).size > 10_000);
    const rj = JSON.parse(
      (await task("report.ts", ["--allow-read", "--allow-env"], [
        log,
        "--json",
      ])).out,
    );
    assert.deepEqual(rj.counts, {
      pass: 1,
      fail: 1,
      skip: 0,
      deviation: 0,
      unfinished: 0,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * The test harness (testing.ts): fixtures and their teardown, per-test seeds,
 * the test log with the cmdlog of a failing test, known deviations, skips —
 * checked on child `deno test` runs of small test files.
 */
import assert from "node:assert/strict";
import { Qpair } from "../mod.ts";
import { nvmeTest, readResults, Rng } from "../testing.ts";
import { junitXml, summaryText } from "../testing/report.ts";

const root = new URL("..", import.meta.url);
const testing = new URL("testing.ts", root).href;

interface ChildRun {
  code: number;
  output: string;
  log: string;
  results: ReturnType<typeof readResults>;
}

/** Run `source` as a test file in a child `deno test`; return its output, log and results. */
async function runChild(
  source: string | string[],
  env: Record<string, string> = {},
  keep?: string,
): Promise<ChildRun> {
  const dir = keep ?? await Deno.makeTempDir({ prefix: "denvme-harness-" });
  try {
    const files: string[] = [];
    for (const [i, src] of [source].flat().entries()) {
      const file = `${dir}/child${i}_test.ts`;
      await Deno.writeTextFile(file, src.replaceAll("@TESTING@", testing));
      files.push(file);
    }
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "test",
        "--no-check",
        "--config",
        new URL("deno.json", root).pathname,
        "--allow-ffi",
        "--allow-env",
        "--allow-read",
        "--allow-write",
        "--allow-run",
        "--allow-sys",
        ...files,
      ],
      cwd: dir,
      env: {
        NO_COLOR: "1",
        DENVME_TEST_LOG: `${dir}/test.log`,
        DENVME_RESULTS: `${dir}/results.jsonl`,
        DENVME_RUN_ID: "",
        ...env,
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    let log = "";
    try {
      log = await Deno.readTextFile(`${dir}/test.log`);
    } catch { /* no log */ }
    return {
      code: out.code,
      output: dec.decode(out.stdout) + dec.decode(out.stderr),
      log,
      results: readResults(`${dir}/results.jsonl`),
    };
  } finally {
    if (!keep) await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a failing test's log has the seed and the cmdlog of the failing queue; fixtures are torn down", async () => {
  const r = await runChild(`
import { nvmeTest } from "@TESTING@";
nvmeTest("reads past the end", { needs: ["nvme0n1", "qpair", "buf"] }, ({ nvme0n1, qpair, buf }) => {
  nvme0n1.read(qpair, buf, 5, 1).waitdone();
  nvme0n1.read(qpair, buf, nvme0n1.capacity, 1).waitdone(); // 00/80
});
nvmeTest("the next test runs on a clean device", { needs: ["nvme0n1", "qpair", "buf"] }, ({ nvme0n1, qpair, buf }) => {
  if (qpair.sqid !== 1) throw new Error("qpair " + qpair.sqid);
  nvme0n1.read(qpair, buf, 0, 1).waitdone();
});
`);
  assert.notEqual(r.code, 0, "the run fails");
  assert.match(r.output, /reads past the end \.\.\. FAILED/);
  assert.match(r.output, /the next test runs on a clean device \.\.\. ok/);
  // the console names the seed and how to replay it
  const seed = /failed with seed (0x[0-9a-f]{8})/.exec(r.output)?.[1];
  assert.ok(seed, r.output);
  assert.match(r.output, new RegExp(`DENVME_SEED=${seed}`));
  // the log: seed, the failure, the cmdlog of I/O queue 1 marked as the failing one
  const log = r.log;
  assert.match(log, /^# denvme test log, run /);
  assert.match(
    log,
    new RegExp(`reads past the end: start \\(.*\\), seed ${seed}`),
  );
  assert.match(log, /device qemu: model QEMU NVMe Ctrl/);
  assert.match(
    log,
    /cmdlog of I\/O queue 1 \(the failing command's queue\), newest first:\n.*q1 #2 Read \(0x02\).*slba 8388608 nlb 1 .*-> 00\/80 LBA Out of Range/,
  );
  assert.match(log, /q1 #1 Read \(0x02\).*slba 5 nlb 1 .*-> 00\/00/);
  assert.match(log, /cmdlog of admin queue, newest first/);
  // every command is in the log, including the teardown's queue deletion
  assert.match(log, /denvme·cmd: .*q0 #\d+ Delete I\/O Submission Queue/);
  // results: one failed with its seed, one passed
  const byName = Object.fromEntries(r.results.map((x) => [x.name, x]));
  assert.equal(byName["reads past the end"].outcome, "fail");
  assert.equal(byName["reads past the end"].seed, seed);
  assert.match(byName["reads past the end"].message!, /00\/80/);
  assert.equal(byName["the next test runs on a clean device"].outcome, "pass");
});

Deno.test("one test.log per run: the files of a run append to it, the next run starts afresh", async () => {
  const dir = await Deno.makeTempDir({ prefix: "denvme-harness-" });
  try {
    const src = (n: string) => `
import { nvmeTest } from "@TESTING@";
nvmeTest("${n}", { needs: ["nvme0"] }, ({ nvme0 }) => { nvme0.getfeatures(7).waitdone(); });
`;
    const a = await runChild([src("first file"), src("second file")], {}, dir);
    assert.equal(a.code, 0, a.output);
    assert.equal(a.log.match(/^# denvme test log, run /gm)?.length, 1);
    assert.match(a.log, /first file: passed/);
    assert.match(a.log, /second file: passed/);
    assert.match(a.log, /second file.*\n(.*\n)*.*denvme·cmd: .*Get Features/);
    const b = await runChild(src("next run"), {}, dir);
    assert.doesNotMatch(b.log, /first file/);
    assert.match(b.log, /next run: passed/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DENVME_SEED replays a test's random numbers", async () => {
  const src = `
import { nvmeTest } from "@TESTING@";
nvmeTest("random", ({ rng, seed }) => {
  console.log("SEED", seed.toString(16), "VALUES", rng.u32(), rng.int(0, 1000));
});
`;
  const a = await runChild(src, { DENVME_SEED: "0x1234abcd" });
  const b = await runChild(src, { DENVME_SEED: "0x1234abcd" });
  const values = (o: string) => /SEED 1234abcd VALUES (\d+ \d+)/.exec(o)?.[1];
  assert.ok(values(a.output), a.output);
  assert.equal(values(a.output), values(b.output));
  assert.match(a.log, /random: start \(.*\), seed 0x1234abcd/);
  const r = new Rng(0x1234abcd);
  assert.equal(values(a.output), `${r.u32()} ${r.int(0, 1000)}`);
});

Deno.test("skips and known deviations: reported with their reasons; an unlisted failure still fails", async () => {
  const r = await runChild(`
import { nvmeTest, registerDeviations, SpecViolation } from "@TESTING@";
registerDeviations({
  model: "test model",
  applies: (id) => id.vid === 0x1b36,
  tests: {
    "deviates": { spec: "rule X", observed: "does Y", match: /rule X/ },
    "deviates otherwise": { spec: "rule X", observed: "does Y", match: /rule X/ },
  },
});
nvmeTest("skips", { needs: ["nvme0"] }, ({ skip }) => skip("no such feature"));
nvmeTest("deviates", { needs: ["nvme0"] }, () => { throw new SpecViolation("rule X", "Y"); });
nvmeTest("deviates otherwise", { needs: ["nvme0"] }, () => { throw new Error("something else"); });
nvmeTest("verify fixture", { needs: ["verify"] }, ({ verify }) => { if (typeof verify !== "boolean") throw new Error(); });
`);
  const by = Object.fromEntries(r.results.map((x) => [x.name, x]));
  assert.equal(by["skips"].outcome, "skip");
  assert.equal(by["skips"].message, "no such feature");
  assert.match(r.output, /SKIPPED: no such feature \.\.\. ignored/);
  assert.equal(by["deviates"].outcome, "deviation");
  assert.match(r.output, /KNOWN DEVIATION \(test model\): rule X — does Y/);
  assert.equal(by["deviates otherwise"].outcome, "fail");
  assert.notEqual(r.code, 0);
  // verify: enabled when the driver has data verification, else a stated skip
  assert.ok(
    by["verify fixture"].outcome === "pass" ||
      (by["verify fixture"].outcome === "skip" &&
        /verifyEnable/.test(by["verify fixture"].message!)),
    JSON.stringify(by["verify fixture"]),
  );
  // the reports
  const text = summaryText(r.results, "child");
  assert.match(text, /child: 1 known deviations/);
  assert.match(text, /^child: \d passed, 1 failed, \d skipped$/m);
  assert.match(text, /skips — no such feature/);
  const xml = junitXml(r.results, "child");
  assert.match(
    xml,
    /<skipped type="known-deviation" message="known deviation of test model: rule X; observed does Y"\/>/,
  );
  assert.match(xml, /<failure message="something else"/);
});

// in-process: fixtures, dependencies and isolation between tests on the shared device

let firstPcie: unknown;
nvmeTest("fixtures: dependencies come along; a qpair left open does not leak", {
  needs: ["qpair", "buf"],
}, ({ nvme0, pcie, qpair, buf, defer }) => {
  firstPcie = pcie;
  assert.equal(nvme0.pcie, pcie);
  assert.equal(qpair.ctrl, nvme0);
  assert.equal(buf.size, 4096);
  assert.equal(qpair.depth, Math.min(1024, nvme0.mqes));
  const extra = new Qpair(nvme0, 4); // never deleted by the test
  assert.equal(extra.sqid, 2);
  nvme0.pcie.maskVector(3, true); // left masked by the test
  let deferred = false;
  defer(() => {
    deferred = true;
  });
  defer(() => assert.equal(deferred, false, "defers run last first"));
});

nvmeTest("fixtures: the next test gets a fresh controller on the same device", {
  needs: ["qpair"],
}, ({ nvme0, pcie, qpair }) => {
  assert.equal(pcie, firstPcie, "the device is shared by the file's tests");
  assert.equal(qpair.sqid, 1);
  using q2 = new Qpair(nvme0, 4);
  assert.equal(q2.sqid, 2, "the queue left open by the last test is gone");
  nvme0.pcie.irqWords[3] = 0;
  assert.equal(nvme0.pcie.msixEnabled, true);
});

nvmeTest("fixtures: own device for destructive tests", {
  needs: ["nvme0", "subsystem"],
  qemu: "size=64M",
}, ({ pcie, subsystem, nvme0 }) => {
  assert.notEqual(pcie, firstPcie);
  subsystem.powerCycle();
  nvme0.reset();
  nvme0.getfeatures(7).waitdone();
});

let sharedOpt: unknown;
nvmeTest(
  "fixtures: shareDevice: tests asking for the same options share one device",
  {
    needs: ["nvme0"],
    qemu: "size=32M,serial=SHARED1",
    shareDevice: true,
  },
  ({ pcie, nvme0 }) => {
    assert.notEqual(pcie, firstPcie, "not the run's device");
    assert.equal(nvme0.serialNumber, "SHARED1");
    sharedOpt = pcie;
  },
);

nvmeTest(
  "fixtures: shareDevice: the second test gets the same device, a fresh controller",
  {
    needs: ["nvme0"],
    qemu: "size=32M,serial=SHARED1",
    shareDevice: true,
  },
  ({ pcie, nvme0 }) => {
    assert.equal(pcie, sharedOpt, "the same device as the test before");
    assert.equal(nvme0.serialNumber, "SHARED1");
  },
);

Deno.test("the known-deviation list of the embedded device does not apply to other devices", async () => {
  const { knownDeviations } = await import("./conformance/known_deviations.ts");
  const { findDeviation } = await import("../testing.ts");
  const name = "reserved log page identifier → Invalid Log Page";
  const msg =
    "NVMe Base 2.0, Get Log Page: log identifier 0x6f is reserved → 01/09; observed 00/02 Invalid Field in Command";
  const qemu = {
    dut: "qemu",
    vid: 0x1b36,
    did: 0x0010,
    mn: "QEMU NVMe Ctrl",
    fr: "7.2.22",
  };
  const ssd = {
    dut: "0000:01:00.0",
    vid: 0x144d,
    did: 0xa808,
    mn: "Samsung SSD 970",
    fr: "2B2QEXE7",
  };
  assert.ok(
    findDeviation(knownDeviations, qemu, name, msg),
    "listed for QEMU 7.2",
  );
  assert.equal(
    findDeviation(knownDeviations, ssd, name, msg),
    undefined,
    "a real SSD is judged by the spec alone",
  );
  assert.equal(
    findDeviation(knownDeviations, { ...qemu, fr: "9.0.0" }, name, msg),
    undefined,
    "another QEMU version is judged afresh",
  );
  assert.equal(
    findDeviation(knownDeviations, { ...qemu, fr: undefined }, name, msg),
    undefined,
    "a firmware revision not seen: the list does not apply",
  );
  assert.equal(
    findDeviation(knownDeviations, { ...qemu, mn: "Other Ctrl" }, name, msg),
    undefined,
    "another model on the same PCI id: the list does not apply",
  );
  assert.ok(
    findDeviation(knownDeviations, qemu, name, [msg, msg]),
    "several violations, each explained",
  );
  assert.equal(
    findDeviation(knownDeviations, qemu, name, [msg, "other; observed x"]),
    undefined,
    "several violations, one not explained: a failure",
  );
  assert.equal(
    findDeviation(knownDeviations, qemu, name, "→ 01/09; observed success"),
    undefined,
    "a different failure of a listed test still fails",
  );
  // every entry names a rule and an observation, and its pattern is specific
  for (const list of knownDeviations) {
    for (const [test, d] of Object.entries(list.tests)) {
      assert.ok(d.spec.length > 20 && d.observed.length > 5, test);
      assert.ok(!d.match.test(""), `${test}: the pattern matches anything`);
    }
  }
});

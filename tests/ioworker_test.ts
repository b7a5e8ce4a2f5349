/**
 * IO workers: every parameter, the outputs, the exact iops throttle, the stop
 * conditions, several workers with admin commands in parallel, resets, a
 * disabled controller and a killed device under IO, and every bad parameter's
 * message.
 */
import assert from "node:assert/strict";
import {
  Buffer,
  Controller,
  expectStatus,
  type IoWorker,
  IoWorkerHostError,
  type IoWorkerOptions,
  libStats,
  Namespace,
  NvmeError,
  ParameterError,
  Qpair,
  QpairCreationError,
  Reg,
  Subsystem,
} from "../mod.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sleepSync = (ms: number) =>
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Run a worker to its end. */
function run(ns: Namespace, o: IoWorkerOptions) {
  return ns.ioworker(o).start().close();
}

/** Silence the warnings close() prints for failing workers the test asked for. */
function quietly<T>(fn: () => T): T {
  const warn = console.warn;
  console.warn = () => {};
  try {
    return fn();
  } finally {
    console.warn = warn;
  }
}

Deno.test("random reads: the result, every output, admin commands meanwhile", async () => {
  const before = libStats();
  {
    using nvme0 = new Controller("qemu:backend=null,size=16G");
    const ns = new Namespace(nvme0, 1);
    using smart = new Buffer(512, "smart");
    const w = ns.ioworker({
      ioSize: 8,
      lbaRandom: true,
      readPercentage: 100,
      time: 2,
      qdepth: 64,
      outputIoPerSecond: true,
      outputPercentileLatency: [50, 90, 99, 99.9],
      outputCmdlogList: 16,
    });
    assert.equal(w.running, false);
    w.start();
    assert.equal(w.running, true);
    assert.ok(w.qpair && w.qpair.sqid >= 1);
    // the event loop runs: admin commands every 200 ms while the IO flows
    let admin = 0, last = 0;
    while (w.running) {
      await nvme0.getlogpage(2, smart, { size: 512 }).waitdoneAsync();
      assert.equal(await nvme0.getfeatures(7).waitdoneAsync(), (63 << 16) | 63);
      const p = w.progress;
      assert.ok(p.ioCount >= last, "progress only grows");
      last = p.ioCount;
      admin += 2;
      await sleep(200);
    }
    assert.ok(admin >= 10, `only ${admin} admin commands ran alongside`);
    const r = w.close();
    assert.equal(w.close(), r, "close() again returns the same result");
    assert.equal(r.ok, true, r.errorMessage);
    assert.equal(r.error, 0);
    assert.equal(r.hostError, 0);
    assert.equal(r.ioCountWrite, 0);
    assert.equal(r.ioCountNonread, 0);
    assert.ok(r.ioCountRead > 10_000, `${r.ioCountRead} reads`);
    assert.deepEqual(r.opCounts, { 2: r.ioCountRead });
    assert.ok(r.mseconds >= 2000 && r.mseconds < 3000, `${r.mseconds} ms`);
    assert.ok(r.latencyAverageUs > 0 && r.latencyAverageUs <= r.latencyMaxUs);
    assert.ok(r.cpuUsage > 0 && r.cpuUsage <= 1.05, `cpuUsage ${r.cpuUsage}`);
    assert.equal(typeof r.seed, "bigint");
    // per second: two seconds, summing to the reads
    assert.equal(r.ioPerSecond!.length, 2);
    assert.equal(r.ioPerSecond!.reduce((a, b) => a + b), r.ioCountRead);
    // percentiles from the histogram, in order
    const p = r.latencyPercentiles!;
    assert.deepEqual(Object.keys(p).sort(), ["50", "90", "99", "99.9"]);
    assert.ok(p["50"] > 0 && p["50"] <= p["90"] && p["90"] <= p["99"]);
    assert.ok(p["99"] <= p["99.9"] && p["99.9"] <= r.latencyMaxUs + 1);
    const hist = r.latencyDistribution!;
    assert.equal(hist.reduce((a, [, n]) => a + n, 0), r.ioCountRead);
    // the last IOs, oldest first
    assert.equal(r.cmdlog!.length, 16);
    for (const io of r.cmdlog!) {
      assert.equal(io.opcode, 2);
      assert.equal(io.count, 8);
      assert.equal(io.status, 0);
      assert.ok(io.lba + 8 <= ns.capacity);
    }
    assert.ok(r.cmdlog![0].timeUs <= r.cmdlog![15].timeUs);
    // the queue pair is gone, the script's commands work
    assert.ok(w.qpair!.closed);
    assert.equal(w.running, false);
    assert.ok(w.iopsConsistency(50) > 0);
  }
  const after = libStats();
  assert.equal(after.sqs, before.sqs);
  assert.equal(after.buffers, before.buffers);
  assert.equal(after.dmaUsed, before.dmaUsed, "DMA memory is given back");
});

Deno.test("iops throttle: iops=1234 for 7 s gives 7 samples, the last 1233..1235", () => {
  using nvme0 = new Controller("qemu:backend=null");
  const ns = new Namespace(nvme0, 1);
  // a second throttled worker alongside, with a rate that does not divide evenly
  const slow = ns.ioworker({
    iops: 7,
    time: 3,
    qdepth: 4,
    outputIoPerSecond: true,
  }).start();
  const r = run(ns, {
    iops: 1234,
    time: 7,
    qdepth: 16,
    outputIoPerSecond: true,
  });
  const ips = r.ioPerSecond!;
  assert.equal(ips.length, 7, `samples: ${ips}`);
  // the last second takes every IO completed after 6 s: exact to ±1
  const last = ips.at(-1)!;
  assert.ok(last >= 1233 && last <= 1235, `samples: ${ips}`);
  // the others too, unless a stall of this (shared, 2-core) machine moved a few
  // completions across a second's boundary
  for (const n of ips) assert.ok(Math.abs(n - 1234) <= 25, `samples: ${ips}`);
  assert.equal(r.ioCountRead, 7 * 1234);
  assert.ok(
    r.cpuUsage < 0.5,
    `a throttled worker mostly sleeps: ${r.cpuUsage}`,
  );
  const s = slow.close();
  assert.equal(s.ioCountRead, 21);
  assert.equal(s.ioPerSecond!.length, 3);
  assert.ok(Math.abs(s.ioPerSecond![2] - 7) <= 1, `${s.ioPerSecond}`);
  // pynvme: iops=1000 and ioCount=3000 take 3 s
  const c = run(ns, { iops: 1000, ioCount: 3000, qdepth: 8 });
  assert.equal(c.ioCountRead, 3000);
  assert.ok(c.mseconds >= 2990 && c.mseconds < 3600, `${c.mseconds} ms`);
});

Deno.test("stop conditions: ioCount, time, stop(), ioSequence, first error", async () => {
  using nvme0 = new Controller("qemu:backend=null,size=1G");
  const ns = new Namespace(nvme0, 1);
  // ioCount: exactly that many, even below qdepth
  assert.equal(run(ns, { ioCount: 1000, qdepth: 128 }).ioCountRead, 1000);
  assert.equal(run(ns, { ioCount: 3, qdepth: 128 }).ioCountRead, 3);
  // time and ioCount: whichever comes first
  let r = run(ns, { ioCount: 500, time: 30 });
  assert.equal(r.ioCountRead, 500);
  assert.ok(r.mseconds < 5000);
  r = run(ns, { ioCount: 1e12, time: 0.3 });
  assert.ok(r.mseconds >= 300 && r.mseconds < 1500, `${r.mseconds} ms`);
  // stop(): the IOs in flight complete, the result says so
  const w = ns.ioworker({ time: 60, qdepth: 32 }).start();
  await sleep(300);
  w.stop();
  const t0 = performance.now();
  r = await w.closeAsync();
  assert.ok(performance.now() - t0 < 1000, "stop() drains at once");
  assert.ok(r.ok && r.stopped, r.errorMessage);
  assert.ok(r.mseconds < 3000);
  assert.equal(w.progress.inFlight, 0);
  // implicit stop: sequential, one size, a region: the region once
  r = run(ns, {
    lbaRandom: false,
    ioSize: 8,
    regionStart: 100,
    regionEnd: 200,
    outputCmdlogList: 20,
  });
  assert.equal(r.ioCountRead, 13);
  // (oldest first by completion: the device may complete out of order)
  assert.deepEqual(r.cmdlog!.map((x) => x.lba).sort((a, b) => a - b), [
    100,
    108,
    116,
    124,
    132,
    140,
    148,
    156,
    164,
    172,
    180,
    188,
    196,
  ]);
  assert.equal(
    r.cmdlog!.find((x) => x.lba === 196)!.count,
    4,
    "the last IO is cut at the region end",
  );
  // the first failing IO stops it: a vendor opcode the device does not know
  r = quietly(() =>
    run(ns, {
      opPercentage: { 2: 50, 0xc1: 50 },
      ioCount: 1_000_000,
      qdepth: 8,
    })
  );
  assert.equal(r.error, 0x0001);
  assert.equal(r.hostError, 0);
  assert.equal(r.ok, false);
  assert.match(
    r.errorMessage!,
    /^ERROR status: 00\/01 Invalid Command Opcode \(.* lba \d+ count 8, sqid \d+\)$/,
  );
  assert.ok(r.ioCountRead + r.ioCountNonread < 100, "stopped at once");
  // an expected status is not warned about
  expectStatus("00/01", () => {
    r = run(ns, { opPercentage: { 0xc1: 100 }, ioCount: 10 });
  });
  assert.equal(r.error, 1);
});

Deno.test("parameters: sizes, alignment, steps, randomness, regions, opcodes, distribution, seed", () => {
  using nvme0 = new Controller("qemu:backend=null,size=1G");
  const ns = new Namespace(nvme0, 1);
  const log = (o: IoWorkerOptions, n = 2000) => {
    const r = run(ns, { ioCount: n, outputCmdlogList: n, ...o });
    assert.ok(r.ok, r.errorMessage);
    return r.cmdlog!;
  };
  // ioSize as a list (equally likely) and as {size: weight}
  let ios = log({ ioSize: [1, 8, 64] }, 3000);
  for (const n of [1, 8, 64]) {
    const k = ios.filter((x) => x.count === n).length;
    assert.ok(k > 850 && k < 1150, `size ${n}: ${k} of 3000`);
  }
  ios = log({ ioSize: { 8: 1, 16: 3 } }, 4000);
  const k16 = ios.filter((x) => x.count === 16).length;
  assert.ok(k16 > 2800 && k16 < 3200, `size 16: ${k16} of 4000`);
  // lbaAlign, one per size
  ios = log({ ioSize: [4, 8], lbaAlign: [4, 64] });
  for (const x of ios) assert.equal(x.lba % (x.count === 4 ? 4 : 64), 0);
  // sequential from lbaStart, contiguous; then with a step
  ios = log({ lbaRandom: false, ioSize: 8, lbaStart: 1000, qdepth: 2 }, 50);
  ios.forEach((x, i) => assert.equal(x.lba, 1000 + 8 * i));
  ios = log(
    { lbaRandom: 0, ioSize: 8, lbaStart: 1000, lbaStep: -8, qdepth: 2 },
    5,
  );
  assert.deepEqual(ios.map((x) => x.lba), [1000, 992, 984, 976, 968]);
  // a share of random IOs
  ios = log({ lbaRandom: 30, ioSize: 8, lbaStart: 0, qdepth: 2 }, 3000);
  let seq = 0, next = 0;
  for (const x of ios) {
    if (x.lba === next) {
      seq++;
      next += 8;
    }
  }
  assert.ok(seq > 1900 && seq < 2300, `${seq} of 3000 sequential`);
  // region: every IO inside
  ios = log({ regionStart: 5000, regionEnd: 6000, ioSize: [1, 7, 16] });
  for (const x of ios) assert.ok(x.lba >= 5000 && x.lba + x.count <= 6000);
  // read percentage and opcode percentages (trim, flush, write zeroes)
  let r = run(ns, { readPercentage: 30, ioCount: 4000 });
  assert.ok(
    r.ioCountRead > 1050 && r.ioCountRead < 1350,
    `${r.ioCountRead} reads`,
  );
  assert.equal(r.ioCountWrite, 4000 - r.ioCountRead);
  assert.equal(r.ioCountNonread, r.ioCountWrite);
  r = run(ns, {
    opPercentage: { 2: 40, 1: 30, 9: 10, 0: 10, 8: 10 },
    ioCount: 5000,
  });
  assert.ok(r.ok, r.errorMessage);
  assert.equal(Object.values(r.opCounts).reduce((a, b) => a + b), 5000);
  for (const [op, pct] of [[2, 40], [1, 30], [9, 10], [0, 10], [8, 10]]) {
    const n = r.opCounts[op];
    assert.ok(n > pct * 50 * 0.85 && n < pct * 50 * 1.15, `opcode ${op}: ${n}`);
  }
  assert.equal(r.ioCountNonread, 5000 - r.ioCountRead);
  // qprio under round robin arbitration: refused like pynvme (QpairCreationError)
  assert.throws(() => run(ns, { qprio: 3, ioCount: 100 }), QpairCreationError);
  // distribution: 90 % of the IOs in the first 10 % of the region
  const dist = Array(100).fill(0);
  for (let i = 0; i < 10; i++) dist[i] = 900;
  for (let i = 10; i < 100; i++) dist[i] = 1000 / 90 | 0;
  dist[99] += 10000 - dist.reduce((a, b) => a + b);
  ios = log({ distribution: dist, regionEnd: 100_000 }, 5000);
  const low = ios.filter((x) => x.lba < 10_000).length;
  assert.ok(low > 4400 && low < 4600, `${low} of 5000 in the first 10 %`);
  // the seed makes the workload reproducible
  const a = log({ seed: 42, qdepth: 2 }, 200).map((x) => x.lba);
  const b = log({ seed: 42n, qdepth: 2 }, 200).map((x) => x.lba);
  assert.deepEqual(a, b);
  assert.notDeepEqual(log({ seed: 43, qdepth: 2 }, 200).map((x) => x.lba), a);
  // pynvme-style outputs: containers filled in place
  const ips: number[] = [], cl: unknown[] = Array(3).fill(null);
  const pct: Record<string, number | null> = { 50: null, 99.9: null };
  r = run(ns, {
    time: 0.5,
    outputIoPerSecond: ips,
    outputCmdlogList: cl,
    outputPercentileLatency: pct,
  });
  assert.equal(ips.length, 1);
  assert.equal(ips[0], r.ioCountRead);
  assert.ok((cl[2] as number[])[2] === 2 && (cl[2] as number[])[1] === 8);
  assert.ok(pct["50"]! > 0 && pct["99.9"]! >= pct["50"]!);
});

Deno.test("data: ptype/pvalue patterns land on the media, ioSequence replays a trace", () => {
  using nvme0 = new Controller("qemu:size=64M");
  const ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 8);
  using buf = new Buffer(64 * 512);
  // fill LBAs 0..4095 once with a dword pattern, sequentially
  let r = run(ns, {
    lbaRandom: false,
    ioSize: 64,
    readPercentage: 0,
    regionEnd: 4096,
    ptype: 32,
    pvalue: 0x5a5aa5a5,
  });
  assert.equal(r.ioCountWrite, 64);
  for (const lba of [0, 1000, 4032]) {
    ns.read(q, buf, lba, 64).waitdone();
    for (let at = 0; at < buf.size; at += 4) {
      if (buf.u32(at) !== 0x5a5aa5a5) {
        assert.fail(`lba ${lba} byte ${at}: ${buf.u32(at)}`);
      }
    }
  }
  ns.read(q, buf, 4096, 1).waitdone();
  assert.equal(buf.u32(0), 0, "nothing written past the region");
  // all ones, and random with 25 % of each LBA random
  run(ns, {
    lbaRandom: false,
    ioSize: 8,
    readPercentage: 0,
    regionStart: 8,
    regionEnd: 16,
    ptype: 0,
    pvalue: 1,
  });
  ns.read(q, buf, 8, 8).waitdone();
  assert.ok(buf.slice(0, 4096).every((b) => b === 0xff));
  run(ns, {
    lbaRandom: false,
    ioSize: 8,
    readPercentage: 0,
    regionStart: 16,
    regionEnd: 24,
    ptype: 0xbeef,
    pvalue: 25,
  });
  ns.read(q, buf, 16, 8).waitdone();
  for (let lba = 0; lba < 8; lba++) {
    const block = buf.slice(lba * 512, lba * 512 + 512);
    assert.ok(
      block.subarray(128).every((b) => b === 0),
      "75 % of each LBA zero",
    );
    assert.ok(block.subarray(0, 128).some((b) => b !== 0), "25 % random");
  }
  // trace replay: in order, at its times; a trim reads back zeros
  r = run(ns, {
    ioSequence: [
      [0, 1, 100, 8],
      [1000, 2, 100, 8],
      [2000, 0, 0, 0],
      [30_000, 9, 0, 8],
    ],
    outputCmdlogList: 4,
  });
  assert.ok(r.ok, r.errorMessage);
  assert.deepEqual(r.cmdlog!.map((x) => [x.opcode, x.lba, x.count]), [
    [1, 100, 8],
    [2, 100, 8],
    [0, 0, 0],
    [9, 0, 8],
  ]);
  assert.ok(r.cmdlog![3].timeUs >= 30_000 && r.mseconds >= 30);
  assert.deepEqual(r.opCounts, { 0: 1, 1: 1, 2: 1, 9: 1 });
});

Deno.test("several workers at once, on two controllers, with admin commands; queue limit", async () => {
  using a = new Controller("qemu:backend=null,queues=4");
  using b = new Controller("qemu:backend=null,ns=2");
  const na = new Namespace(a, 1),
    nb1 = new Namespace(b, 1),
    nb2 = new Namespace(b, 2);
  const ws = [
    na.ioworker({ time: 1.5, qdepth: 16 }),
    na.ioworker({ time: 1.5, qdepth: 16, readPercentage: 0 }),
    na.ioworker({ time: 1.5, qdepth: 8, iops: 500, outputIoPerSecond: true }),
    na.ioworker({ time: 1.5, qdepth: 2, opPercentage: { 2: 50, 1: 50 } }),
    nb1.ioworker({ time: 1.5, ioSize: [8, 16] }),
    nb2.ioworker({ time: 1.5, lbaRandom: false }),
  ].map((w) => w.start());
  // the controller granted 4 queue pairs, all taken
  const extra = na.ioworker({ time: 1 });
  assert.throws(
    () => extra.start(),
    (e: Error) =>
      e instanceof NvmeError && /no free I\/O queue/.test(e.message),
  );
  assert.equal(extra.running, false, "it did not start");
  assert.throws(() => extra.close(), /not started/);
  const sqids = new Set(ws.slice(0, 4).map((w) => w.qpair!.sqid));
  assert.equal(sqids.size, 4);
  using log = new Buffer(512);
  let n = 0;
  while (ws.some((w) => w.running)) {
    await a.getlogpage(2, log, { size: 512 }).waitdoneAsync();
    await b.getlogpage(2, log, { size: 512 }).waitdoneAsync();
    n++;
    await sleep(100);
  }
  assert.ok(n >= 5);
  const rs = await Promise.all(ws.map((w) => w.closeAsync()));
  for (const r of rs) {
    assert.ok(r.ok, r.errorMessage);
    assert.ok(r.ioCountRead + r.ioCountNonread > 300);
  }
  assert.equal(rs[1].ioCountRead, 0);
  assert.equal(rs[2].ioCountRead, 750);
  // queues are free again: the one that could not start can now
  assert.ok(extra.start().close().ok);
});

Deno.test("the worker's qpair refuses script commands while it runs", () => {
  using nvme0 = new Controller("qemu:backend=null");
  const ns = new Namespace(nvme0, 1);
  using buf = new Buffer(4096);
  using w = ns.ioworker({ time: 0.5 }).start();
  const q = w.qpair!;
  assert.throws(
    () => ns.read(q, buf, 0),
    /Qpair \d+ is driven by ioworker \d+ \(nsid 1\)/,
  );
  assert.throws(() => q.waitdone(), /driven by ioworker/);
  assert.throws(() => q.delete(), /driven by ioworker/);
  assert.throws(() => w.start(), /already started/);
  assert.ok(w.close().ok);
  assert.ok(q.closed);
});

Deno.test("controller reset, disable and close under IO end every worker at once", async () => {
  using nvme0 = new Controller("qemu:size=1G");
  const ns = new Namespace(nvme0, 1);
  using buf = new Buffer(4096);
  // reset with two workers running: both end, the script goes on
  let ws = [
    ns.ioworker({ time: 20, qdepth: 64, readPercentage: 50 }).start(),
    ns.ioworker({ time: 20, qdepth: 16, ioSize: 64 }).start(),
  ];
  await sleep(300);
  let t0 = performance.now();
  nvme0.reset();
  assert.ok(
    performance.now() - t0 < 1000,
    `reset took ${performance.now() - t0} ms`,
  );
  for (const w of ws) {
    assert.equal(w.running, false);
    const r = w.close();
    assert.equal(r.hostError, IoWorkerHostError.TERMINATED);
    assert.equal(r.error, 0);
    assert.match(
      r.errorMessage!,
      /terminated by a controller reset with \d+ IO\(s\) in flight/,
    );
    assert.ok(r.ioCountRead > 0);
  }
  // the controller works after it, and so do new workers
  using q = new Qpair(nvme0, 8);
  ns.read(q, buf, 0).waitdone();
  assert.ok(run(ns, { ioCount: 100 }).ok);
  // disable under IO
  ws = [ns.ioworker({ time: 20 }).start()];
  await sleep(200);
  nvme0.disable();
  assert.match(
    ws[0].close().errorMessage!,
    /terminated by a controller disable/,
  );
  nvme0.reset();
  // CC.EN written directly (no driver help): the worker notices by itself
  const w = ns.ioworker({ time: 20, qdepth: 32 }).start();
  await sleep(200);
  t0 = performance.now();
  nvme0.setReg32(Reg.CC, nvme0.reg32(Reg.CC) & ~1);
  while (w.running && performance.now() - t0 < 3000) await sleep(10);
  assert.ok(
    performance.now() - t0 < 1000,
    `noticed after ${performance.now() - t0} ms`,
  );
  const r = quietly(() => w.close());
  assert.equal(r.hostError, IoWorkerHostError.NOT_READY);
  assert.match(r.errorMessage!, /controller is not ready \(CSTS = 0x0\)/);
  nvme0.reset();
  assert.ok(run(ns, { ioCount: 100 }).ok);
  // closing the controller stops its workers too
  const last = ns.ioworker({ time: 20 }).start();
  await sleep(100);
  nvme0.close();
  assert.match(
    last.close().errorMessage!,
    /terminated by closing the controller/,
  );
});

Deno.test("a device killed under IO: the worker ends within a second, everything closes", async () => {
  const before = libStats();
  const nvme0 = new Controller("qemu:size=256M");
  const ns = new Namespace(nvme0, 1);
  const ws = [
    ns.ioworker({ time: 20, qdepth: 32 }).start(),
    ns.ioworker({ time: 20, qdepth: 8, iops: 100 }).start(),
  ];
  await sleep(300);
  Deno.kill(nvme0.pcie.qemuPid, "SIGKILL");
  const t0 = performance.now();
  while (ws.some((w) => w.running) && performance.now() - t0 < 5000) {
    await sleep(10);
  }
  assert.ok(
    performance.now() - t0 < 1000,
    `ended after ${performance.now() - t0} ms`,
  );
  for (const w of ws) {
    const r = quietly(() => w.close());
    assert.equal(r.hostError, IoWorkerHostError.DEVICE_GONE, r.errorMessage);
    assert.match(r.errorMessage!, /device is gone/);
  }
  nvme0.close();
  const after = libStats();
  assert.equal(after.sqs, before.sqs);
  assert.equal(after.controllers, before.controllers);
});

Deno.test("FLR, hot reset and a power cycle under IO end the workers at once", async () => {
  using nvme0 = new Controller("qemu:size=256M");
  const ns = new Namespace(nvme0, 1);
  const sub = new Subsystem(nvme0);
  const events: [string, () => void, RegExp][] = [
    [
      "FLR",
      () => nvme0.pcie.flr(),
      /terminated: the FLR of .* dropped the queue with \d+ IO\(s\) in flight/,
    ],
    ["hot reset", () => nvme0.pcie.reset(), /terminated: the hot reset of /],
    [
      "power cycle",
      () => sub.powerCycle(),
      /terminated: the power cycle of |the device is powered off/,
    ],
  ];
  for (const [what, act, re] of events) {
    const ws = [
      ns.ioworker({ time: 20, qdepth: 32, readPercentage: 50 }).start(),
      ns.ioworker({ time: 20, qdepth: 4, iops: 50 }).start(),
    ];
    await sleep(200);
    const t0 = performance.now();
    act();
    while (ws.some((w) => w.running) && performance.now() - t0 < 3000) {
      await sleep(5);
    }
    const ms = performance.now() - t0;
    assert.ok(ms < 1000, `${what}: the workers ended after ${ms} ms`);
    for (const w of ws) {
      const r = w.close();
      assert.ok(
        r.hostError === IoWorkerHostError.TERMINATED ||
          r.hostError === IoWorkerHostError.DEVICE_GONE,
        `${what}: ${r.errorMessage}`,
      );
      assert.match(r.errorMessage!, re);
      assert.ok(w.qpair!.closed);
    }
    // the script goes on after the usual controller reset
    nvme0.reset();
    assert.ok(run(ns, { ioCount: 100 }).ok, what);
  }
});

Deno.test("an IO timeout ends the worker with 07/ff and host error -3", () => {
  // a slow device: 20 IOs per second, the driver's timeout 100 ms
  using nvme0 = new Controller("qemu:size=64M,throttle=20");
  const ns = new Namespace(nvme0, 1);
  nvme0.timeout = 100;
  const t0 = performance.now();
  const w = ns.ioworker({ ioCount: 1000, qdepth: 16 }).start();
  while (w.running && performance.now() - t0 < 5000) sleepSync(5);
  assert.ok(performance.now() - t0 < 3000);
  // the queue pair is deleted at the device's pace (its IOs wait in the throttle)
  nvme0.timeout = 10_000;
  const r = quietly(() => w.close());
  assert.equal(r.hostError, IoWorkerHostError.IO_TIMEOUT);
  assert.equal(r.error, 0x7ff);
  assert.match(
    r.errorMessage!,
    /host error -3: IO timeout: Read lba \d+ count 8 \(cid \d+\) not completed within 100 ms/,
  );
  // the queue pair is deleted all the same, and the controller goes on
  assert.ok(run(ns, { ioCount: 10, qdepth: 2 }).ok);
});

Deno.test("using / await using close the worker; closeAsync lets the event loop run", async () => {
  using nvme0 = new Controller("qemu:backend=null");
  const ns = new Namespace(nvme0, 1);
  let w: IoWorker;
  {
    using w1 = ns.ioworker({ time: 0.3 }).start();
    w = w1;
  }
  assert.equal(w.running, false);
  assert.ok(w.close().ok);
  {
    await using w2 = ns.ioworker({ time: 0.3 }).start();
    w = w2;
  }
  assert.ok(w.close().ok);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 20);
  const r = await ns.ioworker({ time: 0.5 }).start().closeAsync();
  clearInterval(timer);
  assert.ok(r.ok);
  assert.ok(ticks >= 10, `${ticks} timer ticks while waiting`);
  // never started: close says so, dispose does nothing
  const idle = ns.ioworker({ time: 1 });
  assert.throws(() => idle.close(), /not started: call start\(\) first/);
  idle[Symbol.dispose]();
});

Deno.test("a worker thread that cannot start: start() says why, nothing leaks", () => {
  using nvme0 = new Controller("qemu:backend=null");
  const ns = new Namespace(nvme0, 1);
  const before = libStats();
  const w = ns.ioworker({ time: 1 });
  // the worker thread loads the library itself: make that fail
  Deno.env.set("DENVME_LIB", "/nonexistent/libnvmeshim.so");
  try {
    assert.throws(
      () => w.start(),
      /ioworker \d+ \(nsid 1\) could not start: ioworker thread: libnvmeshim not found at \/nonexistent/,
    );
  } finally {
    Deno.env.delete("DENVME_LIB");
  }
  assert.equal(w.running, false);
  assert.equal(w.close().hostError, IoWorkerHostError.INIT);
  assert.equal(libStats().sqs, before.sqs, "its queue pair is gone");
  assert.ok(run(ns, { ioCount: 10 }).ok);
});

Deno.test("bad parameters: a ParameterError naming the parameter and its range", () => {
  using nvme0 = new Controller("qemu:size=64M,queues=2");
  const ns = new Namespace(nvme0, 1);
  const cap = ns.capacity;
  const cases: [IoWorkerOptions, RegExp][] = [
    [{}, /when should it stop\? give time \(seconds\), ioCount or ioSequence/],
    [{ time: 1, qdepth: 1 }, /qdepth = 1 is out of range: allowed 2\.\.1024/],
    [
      { time: 1, qdepth: 1025 },
      /qdepth = 1025 is out of range: allowed 2\.\.1024/,
    ],
    [
      { time: 1, qdepth: 8.5 },
      /qdepth must be an integer in 2\.\.1024, got 8\.5/,
    ],
    [{ time: 1, ioSize: 0 }, /ioSize = 0 is out of range: allowed 1\.\.1024/],
    [
      { time: 1, ioSize: 1025 },
      /ioSize = 1025 is out of range: allowed 1\.\.1024/,
    ],
    [{ time: 1, ioSize: [] }, /ioSize list has 0 entries: allowed 1\.\.1024/],
    [
      { time: 1, ioSize: { 8: 6000, 16: 4001 } },
      /ioSize weights sum to 10001: allowed at most 10000/,
    ],
    [
      { time: 1, ioSize: { 8: 0 } },
      /ioSize weight of size 8 = 0 is out of range: allowed 1\.\.10000/,
    ],
    [
      { time: 1, ioSize: "8" as unknown as number },
      /ioSize must be a number of LBAs \(1\.\.1024\), a list of them, or \{size: weight\}, got "8"/,
    ],
    [
      { time: 1, lbaStep: 0x8000, lbaRandom: false },
      /lbaStep = 32768 is out of range: allowed -32767\.\.32767/,
    ],
    [
      { time: 1, lbaStep: 8 },
      /lbaStep applies to sequential IO: give lbaRandom below 100/,
    ],
    [{ time: 1, lbaAlign: 0 }, /lbaAlign = 0 is out of range: allowed 1\.\./],
    [
      { time: 1, ioSize: [8, 16], lbaAlign: [8] },
      /lbaAlign list has 1 entries: give one per ioSize entry \(2\)/,
    ],
    [
      { time: 1, lbaRandom: 101 },
      /lbaRandom \(%, or a boolean\) = 101 is out of range: allowed 0\.\.100/,
    ],
    [
      { time: 1, readPercentage: -1 },
      /readPercentage = -1 is out of range: allowed 0\.\.100/,
    ],
    [
      { time: 1, readPercentage: 50, opPercentage: { 2: 100 } },
      /give readPercentage or opPercentage, not both/,
    ],
    [
      { time: 1, opPercentage: { 2: 50, 1: 40 } },
      /opPercentage values sum to 90: they must sum to 100/,
    ],
    [
      { time: 1, opPercentage: { 256: 100 } },
      /opPercentage opcode "256": allowed 0\.\.255/,
    ],
    [
      { time: 1, opPercentage: [100] as unknown as Record<number, number> },
      /opPercentage must be \{opcode: percent\}/,
    ],
    [
      { time: -1 },
      /time must be a number of seconds in 0\.\.3600000 \(1000 h\), got -1/,
    ],
    [{ time: 0.0001 }, /time = 0\.0001 s is below the 1 ms resolution/],
    [{ ioCount: -5 }, /ioCount = -5 is out of range: allowed 0\.\./],
    [
      { time: 1, iops: 1.5 },
      /iops must be an integer in 0\.\.10000000, got 1\.5/,
    ],
    [{ time: 1, qprio: 4 }, /qprio = 4 is out of range: allowed 0\.\.3/],
    [
      { time: 1, regionStart: cap },
      new RegExp(
        `regionStart = ${cap} is out of range: allowed 0\\.\\.${cap - 1}`,
      ),
    ],
    [
      { time: 1, regionStart: 100, regionEnd: 100 },
      /regionEnd 100 must be above regionStart 100/,
    ],
    [{ time: 1, regionEnd: -1 }, /regionEnd = -1 is out of range/],
    [
      { time: 1, lbaStart: 1.5 },
      /lbaStart must be an LBA \(integer number or bigint\), got 1\.5/,
    ],
    [
      { time: 1, distribution: [1, 2] },
      /distribution must be a list of 100 IO counts/,
    ],
    [
      { time: 1, distribution: Array(100).fill(99) },
      /distribution sums to 9900: it must sum to 10000/,
    ],
    [
      { time: 1, distribution: Array(100).fill(100), lbaRandom: 50 },
      /distribution needs all-random IO: lbaRandom must be 100/,
    ],
    [
      { time: 1, ptype: 7 },
      /ptype = 7 is not supported: use 0 \(zeros\/ones\), 32 \(dword\) or 0xBEEF \(random\)/,
    ],
    [
      { time: 1, pvalue: 101 },
      /pvalue \(random %\) = 101 is out of range: allowed 0\.\.100/,
    ],
    [
      { time: 1, ptype: 32, pvalue: 2 ** 32 },
      /pvalue = 4294967296 is out of range/,
    ],
    [
      { ioSequence: [] },
      /ioSequence must be a non-empty list of \[timeUs, opcode, lba, count\]/,
    ],
    [{
      ioSequence: [[0, 2, 0]] as unknown as [number, number, number, number][],
    }, /ioSequence\[0\] must be \[timeUs, opcode, lba, count\]/],
    [
      { ioSequence: [[10, 2, 0, 8], [5, 2, 0, 8]] },
      /ioSequence\[1\] timeUs = 5 is out of range: allowed 10\.\./,
    ],
    [
      { ioSequence: [[0, 2, cap - 4, 8]] },
      new RegExp(
        `ioSequence\\[0\\]: lba ${
          cap - 4
        } \\+ count 8 is past the end of the namespace`,
      ),
    ],
    [
      { ioSequence: [[0, 300, 0, 8]] },
      /ioSequence\[0\] opcode = 300 is out of range: allowed 0\.\.255/,
    ],
    [
      { ioSequence: [[0, 2, 0, 8]], iops: 10 },
      /iops must be 0 with ioSequence/,
    ],
    [
      { time: 1, outputPercentileLatency: [0] },
      /outputPercentileLatency: percentile 0 must be a number in \(0, 100\]/,
    ],
    [
      { time: 1, outputPercentileLatency: Array(65).fill(50) },
      /has 65 percentiles: allowed at most 64/,
    ],
    [
      { time: 1, outputCmdlogList: -1 },
      /outputCmdlogList = -1 is out of range/,
    ],
    [
      { time: 1, outputIoPerSecond: 1 as unknown as boolean },
      /outputIoPerSecond must be true or an array to fill, got 1/,
    ],
    [{ time: 1, seed: -1 }, /seed = -1 is out of range/],
    [
      { time: 1, qdepth: 1024, ioSize: 1024 },
      /qdepth 1024 with IOs of up to 1024 LBAs needs 512 MiB of data buffers: at most 256 MiB/,
    ],
    [
      { time: 1, io_size: 8 } as IoWorkerOptions,
      /unknown parameter "io_size" \(did you mean ioSize\?\)/,
    ],
    [
      { time: 1, bogus: 1 } as IoWorkerOptions,
      /unknown parameter "bogus": allowed ioSize, /,
    ],
  ];
  for (const [o, re] of cases) {
    assert.throws(
      () => ns.ioworker(o),
      (e: Error) => {
        assert.ok(e instanceof ParameterError, `${JSON.stringify(o)}: ${e}`);
        assert.match(e.message, /^ioworker: /);
        assert.match(e.message, re);
        return true;
      },
    );
  }
  // nothing reached the device: both queues are still free
  const ws = [
    ns.ioworker({ ioCount: 10 }).start(),
    ns.ioworker({ ioCount: 10 }).start(),
  ];
  for (const w of ws) assert.ok(w.close().ok);
  // a closed namespace
  ns.close();
  assert.throws(() => ns.ioworker({ time: 1 }), /namespace 1 is closed/i);
});

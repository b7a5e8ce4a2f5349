/**
 * pynvme parity: each test is named after the pynvme driver test
 * (driver_test.py) whose behaviour it checks, ported the way a migrating user
 * would, on the embedded device.
 */
import assert from "node:assert/strict";
import {
  Buffer,
  type Completion,
  Controller,
  expectStatus,
  IoCQ,
  IoSQ,
  Namespace,
  NamespaceCreationError,
  NvmeEnumerateError,
  NvmeError,
  ParameterError,
  Pcie,
  PTYPE_DWORD,
  PTYPE_RANDOM,
  Qpair,
  QpairCreationError,
  randint,
  random,
  randomSeed,
  sqe,
  srand,
  StatusError,
  VerifyError,
  WaitdoneTimeoutError,
  writeToken,
} from "../mod.ts";
import { throwsWith } from "./_util.ts";

// --- 1. callbacks: (cpl) or pynvme's (cdw0, status1) --------------------------------

Deno.test("test_hello_world: a callback (cdw0, status1) gets CQE DW0 and the status word with the phase tag", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using nvme0n1 = new Namespace(nvme0, 1);
  using qpair = new Qpair(nvme0, 10);
  using writeBuf = new Buffer(512), readBuf = new Buffer(512);
  writeBuf.write("hello world", 10);
  const seen: [number, number][] = [];
  nvme0n1.write(qpair, writeBuf, 0, 1, (cdw0: number, status1: number) => {
    seen.push([cdw0, status1]);
    nvme0n1.read(qpair, readBuf, 0, 1);
  });
  qpair.waitdone(2);
  assert.equal(readBuf.data(20, 10, "str"), "hello world");
  const [latest] = qpair.cmdlog(2).filter((e) => e.opcode === 0x01);
  assert.equal(seen.length, 1);
  // status1 = CQE DW3 bits 31:16 = status << 1 | phase: success, phase 1 at first
  assert.deepEqual(seen[0], [latest.cqe![0], latest.cqe![3] >>> 16]);
  assert.equal(seen[0][1], 1);

  // an error status in status1 (00/80 LBA out of range), as pynvme passes it
  let status1 = -1;
  nvme0n1.read(
    qpair,
    readBuf,
    nvme0n1.capacity,
    1,
    (_cdw0: number, s1: number) => status1 = s1,
  );
  throwsWith(() => qpair.waitdone(), StatusError, /00\/80/);
  assert.equal((status1 >> 1) & 0xff, 0x80); // SC
  assert.equal((status1 >> 9) & 0x7, 0); // SCT

  // admin commands too; CDW0 is what waitdone returns
  let cdw0 = -1;
  const got = nvme0.getfeatures(7, {
    cb: (c: number, _s: number) => cdw0 = c,
  }).waitdone();
  assert.equal(cdw0, got);

  // one parameter (or none): the whole Completion, as before
  let cpl: Completion | undefined;
  nvme0n1.read(qpair, readBuf, 0, 1, (c: Completion) => cpl = c).waitdone();
  assert.equal(cpl!.statusText, "00/00");
  let calls = 0;
  nvme0n1.read(qpair, readBuf, 0, 1, () => calls++).waitdone();
  assert.equal(calls, 1);
});

Deno.test("test_callback_with_whole_cpl: cpl[0..3] are the CQE dwords; a callback of three parameters is refused", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using nvme0n1 = new Namespace(nvme0, 1);
  using qpair = new Qpair(nvme0, 8);
  using buf = new Buffer(512);
  let f1 = -1;
  nvme0.getfeatures(7, {
    cb: (cpl) => {
      f1 = cpl[0];
      assert.equal(cpl[1], 0);
    },
  }).waitdone();
  let dws: number[] = [];
  nvme0n1.read(qpair, buf, 0, 1, (cpl) => {
    dws = [cpl[0], cpl[1], cpl[2], cpl[3]];
  }).waitdone();
  assert.deepEqual(dws, [...qpair.cmdlog(1)[0].cqe!]);
  assert.equal(dws[2] >>> 16, qpair.sqid); // SQID in DW2
  let a1 = -1;
  nvme0.getfeatures(7, { cb: (cdw0: number, _status: number) => a1 = cdw0 })
    .waitdone();
  assert.equal(a1, f1);
  // pynvme warns "callback:" (a TypeError at completion); refused at submission here
  const cb3 = (_cdw0: number, _status: number, _third: number) => {};
  throwsWith(
    () => nvme0.getfeatures(7, { cb: cb3 as unknown as () => void }),
    ParameterError,
    /cb takes 3 parameters/,
  );
  nvme0.waitdone(0); // nothing was sent
  assert.equal(nvme0.cmdlog(1)[0].opcode, 0x0a);
});

// --- 2. Get/Set Features default NSID -------------------------------------------------

Deno.test("test_set_get_features: Get Features sends NSID 1 and Set Features NSID FFFFFFFFh by default (05h Error Recovery succeeds)", () => {
  using nvme0 = new Controller("qemu:size=64M");
  // Error Recovery is per namespace: NSID 0 fails 00/0b, pynvme's defaults succeed
  const cdw0 = nvme0.getfeatures(0x05).waitdone();
  assert.equal(nvme0.cmdlog(1)[0].nsid, 1);
  nvme0.setfeatures(0x05, { cdw11: cdw0 }).waitdone();
  assert.equal(nvme0.cmdlog(1)[0].nsid, 0xffffffff);
  // the driver test's sequence (QEMU keeps the number of queues of the init,
  // so a temperature threshold shows the value read back)
  nvme0.setfeatures(0x7, { cdw11: (15 << 16) + 15 });
  nvme0.setfeatures(0x7, { cdw11: (15 << 16) + 15 });
  nvme0.waitdone(2);
  nvme0.getfeatures(0x7);
  nvme0.waitdone();
  nvme0.setfeatures(0x4, { cdw11: 350 }).waitdone();
  assert.equal(nvme0.getfeatures(0x4).waitdone(), 350);
  // an explicit NSID is still sent as given
  throwsWith(
    () => nvme0.getfeatures(0x05, { nsid: 0 }).waitdone(),
    StatusError,
    /00\/0b/,
  );
});

// --- 3. waitdone(0) -------------------------------------------------------------------

Deno.test("test_waitdone_nothing: waitdone(0) reaps nothing and returns at once", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using nvme0n1 = new Namespace(nvme0, 1);
  nvme0.waitdone(0);
  using qpair = new Qpair(nvme0, 100);
  qpair.waitdone(0);
  // with a command in flight it is not reaped: waitdone(1) still counts it
  using buf = new Buffer(512);
  let done = false;
  nvme0n1.read(qpair, buf, 0, 1, () => done = true);
  qpair.waitdone(0);
  assert.equal(done, false);
  qpair.waitdone(1);
  assert.equal(done, true);
  throwsWith(() => qpair.waitdone(-1), ParameterError, /expected/);
});

// --- 4. buf.size = 0 ------------------------------------------------------------------

Deno.test("test_buffer_set_size: 0 .. the allocated size are valid sizes", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using nvme0n1 = new Namespace(nvme0, 1);
  using qpair = new Qpair(nvme0, 8);
  using buf = new Buffer(4096, "pynvme buffer");
  for (const s of [0, 1, 3, 4, 10, 100, 4096]) {
    buf.size = s;
    assert.equal(buf.size, s);
  }
  throwsWith(() => buf.size = 4097, ParameterError, /Buffer\.size = 4097/);
  throwsWith(() => buf.size = 5000, ParameterError, /Buffer\.size = 5000/);
  // a 0-byte buffer transfers nothing: no data pointer in the command
  buf.size = 0;
  nvme0.sendCmd(0x0a, { buf, cdw10: 0x07 }).waitdone();
  assert.equal(nvme0.cmdlog(1)[0].cdw[6], 0); // PRP1
  // a read of one LBA needs 512 bytes and says so
  throwsWith(
    () => nvme0n1.read(qpair, buf, 0, 1),
    ParameterError,
    /too small/,
  );
});

// --- 6. queue priority under round robin ----------------------------------------------

Deno.test("test_create_invalid_qpair: a priority under round robin arbitration is a QpairCreationError", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using nvme0n1 = new Namespace(nvme0, 1);
  assert.equal((nvme0.reg32(0x14) >>> 11) & 7, 0); // CC.AMS: round robin
  const e = throwsWith(
    () => new Qpair(nvme0, 20, 1),
    QpairCreationError,
    /prio = 1 needs weighted round robin/,
  );
  assert.ok(e instanceof NvmeError);
  // nothing was sent: the next qpair takes queue id 1
  using q = new Qpair(nvme0, 20, 0);
  assert.equal(q.sqid, 1);
  // an ioworker with qprio creates its qpair the same way
  throwsWith(
    () => nvme0n1.ioworker({ qprio: 2, ioCount: 10 }).start(),
    QpairCreationError,
    /prio = 2/,
  );
  // the raw queue classes send any QPRIO on purpose (the device decides)
  using cq = new IoCQ(nvme0, 5, 8);
  using sq = new IoSQ(nvme0, 5, 8, cq, { prio: 3 });
  assert.equal(sq.qid, 5);
});

Deno.test("test_create_many_qpair: no free queue id is a QpairCreationError", () => {
  using nvme0 = new Controller("qemu:size=64M,queues=3");
  const qs = [new Qpair(nvme0, 4), new Qpair(nvme0, 4)];
  try {
    for (;;) qs.push(new Qpair(nvme0, 4));
  } catch (e) {
    assert.ok(e instanceof QpairCreationError, String(e));
    assert.match(e.message, /no free I\/O queue/);
  } finally {
    qs.forEach((q) => q.delete());
  }
});

// --- 7. ioworker io_size lists larger than the region ---------------------------------

Deno.test("test_ioworker_input_out_of_range: an io_size list whose largest size exceeds the region is refused", () => {
  using nvme0 = new Controller("qemu:backend=null,size=64M");
  using nvme0n1 = new Namespace(nvme0, 1);
  for (
    const ioSize of [[8, 64, 128], { 1: 1, 128: 1 }, [8, 16, 24, 32, 101]]
  ) {
    throwsWith(
      () => nvme0n1.ioworker({ ioSize, regionEnd: 100, time: 1 }),
      ParameterError,
      /ioSize .* larger than the region of 100 LBAs/,
    );
  }
  // a list that fits, and a single size (clipped to the region, as in pynvme)
  const r = nvme0n1.ioworker({ ioSize: [8, 24], regionEnd: 100, ioCount: 50 })
    .start().close();
  assert.equal(r.ioCountRead, 50);
  const c = nvme0n1.ioworker({
    ioSize: 128,
    regionEnd: 100,
    lbaRandom: false,
    ioCount: 10,
    outputCmdlogList: 10,
  }).start().close();
  for (const io of c.cmdlog!) assert.deepEqual([io.lba, io.count], [0, 100]);
});

// --- 8. ioworker.running --------------------------------------------------------------

Deno.test("test_ioworker_is_running: true from start() until the workload ends, false after", async () => {
  using nvme0 = new Controller("qemu:backend=null,size=64M");
  using nvme0n1 = new Namespace(nvme0, 1);
  const w = nvme0n1.ioworker({ ioSize: 8, time: 60 });
  assert.equal(w.running, false); // pynvme: True before start (see the docs)
  w.start();
  assert.equal(w.running, true);
  w.stop(); // a 60 s workload ends early: nothing here depends on timing
  while (w.running) await new Promise((r) => setTimeout(r, 20));
  const r = w.close();
  assert.equal(w.running, false);
  assert.ok(r.stopped);
});

// --- 9. the iops throttle's last second -----------------------------------------------

Deno.test("test_ioworker_output_io_per_second: iops=12345 for 10 s, the last second 12344..12346", () => {
  using nvme0 = new Controller("qemu:backend=null");
  using nvme0n1 = new Namespace(nvme0, 1);
  const ips: number[] = [];
  const r = nvme0n1.ioworker({
    ioSize: 8,
    lbaAlign: 8,
    lbaRandom: true,
    qdepth: 16,
    readPercentage: 100,
    time: 10,
    iops: 12345,
    outputIoPerSecond: ips,
  }).start().close();
  assert.equal(ips.length, 10, `${ips}`);
  assert.notEqual(ips[0], 0);
  const last = ips.at(-1)!;
  assert.ok(last >= 12344 && last <= 12346, `samples: ${ips}`);
  assert.equal(r.ioCountRead, 123450);
});

// --- missing counterparts -------------------------------------------------------------

Deno.test("test_random_seed: srand(seed) repeats randint, random buffers and ioworker workloads", () => {
  srand(10);
  assert.equal(randomSeed(), 10);
  const a = randint(1, 1_000_000);
  const f = random();
  assert.ok(f >= 0 && f < 1);
  srand(10);
  assert.equal(randint(1, 1_000_000), a);
  assert.equal(random(), f);
  srand(100);
  assert.notEqual(randint(1, 1_000_000), a);
  throwsWith(() => srand(-1), ParameterError, /seed = -1/);

  using nvme0 = new Controller("qemu:backend=null,size=64M");
  using nvme0n1 = new Namespace(nvme0, 1);
  const run = () => {
    const w = nvme0n1.ioworker({ ioSize: 8, ioCount: 20, outputCmdlogList: 20 })
      .start();
    const r = w.close();
    return { seed: w.seed, lbas: r.cmdlog!.map((io) => io.lba).sort() };
  };
  srand(0x58e7f337);
  const b1 = new Buffer(512, "r1", 100, PTYPE_RANDOM);
  const w1 = run();
  srand(0x58e7f337);
  const b2 = new Buffer(512, "r2", 100, PTYPE_RANDOM);
  const w2 = run();
  assert.deepEqual(b1.slice(0, 512), b2.slice(0, 512));
  assert.equal(w1.seed, w2.seed);
  assert.deepEqual(w1.lbas, w2.lbas);
  b1.close();
  b2.close();
});

Deno.test("test_get_lba_format: the LBA format index by data and metadata size", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using nvme0n1 = new Namespace(nvme0, 1);
  assert.equal(nvme0n1.getLbaFormat(), nvme0n1.getLbaFormat(512, 0));
  assert.notEqual(nvme0n1.getLbaFormat(4096, 0), nvme0n1.getLbaFormat(512, 0));
  assert.equal(nvme0n1.getLbaFormat(4097, 0), undefined);
  assert.ok(nvme0n1.getLbaFormat()! < 16);
  assert.equal(nvme0n1.getLbaFormat(512, 8), 1); // QEMU: 512+8 is format 1
});

Deno.test("test_namespace_change_format: format by data size (pynvme format(data_size))", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using nvme0n1 = new Namespace(nvme0, 1);
  nvme0n1.format({ dataSize: 4096 });
  assert.equal(nvme0n1.lbaSize, 4096);
  assert.equal(nvme0.timeout, 10_000); // raised to 100 s meanwhile, restored
  nvme0n1.format({ dataSize: 512, metaSize: 0, ses: 0 });
  assert.equal(nvme0n1.lbaSize, 512);
  // pynvme's positional data size: a clear error pointing at the object form
  throwsWith(
    () => nvme0n1.format(4096),
    ParameterError,
    /format\(\{ dataSize: 4096 \}\)/,
  );
  throwsWith(
    () => nvme0n1.format({ dataSize: 1024 }),
    ParameterError,
    /no LBA format of 1024 data/,
  );
});

Deno.test("test_command_supported_and_effect: nvme0.supports and nvme0n1.supports", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using nvme0n1 = new Namespace(nvme0, 1);
  assert.ok(nvme0.supports(0));
  assert.ok(nvme0n1.supports(0));
  assert.ok(!nvme0.supports(0xff));
  assert.ok(!nvme0n1.supports(0xff));
  assert.ok(nvme0n1.supports(0x02)); // Read
  assert.ok(!nvme0n1.supports(0x04)); // Write Uncorrectable: not in QEMU
});

Deno.test("test_create_device_invalid: NvmeEnumerateError and the other pynvme error classes", () => {
  const e = throwsWith(() => new Pcie("0000:00:00.0"), NvmeEnumerateError);
  assert.ok(e instanceof NvmeError);
  assert.match(e.message, /0000:00:00\.0/);
  using nvme0 = new Controller("qemu:size=64M");
  throwsWith(
    () => new Namespace(nvme0, 9),
    NamespaceCreationError,
    /not active/,
  );
  // the timeout error of waitdone is an NvmeError too (pynvme: TimeoutError)
  assert.ok(new WaitdoneTimeoutError("x") instanceof NvmeError);
});

Deno.test("test_latest_cid: latestSubmittedCid (pynvme's latest_cid) and latestCid (the latest completion), on qpairs and the admin queue", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using nvme0n1 = new Namespace(nvme0, 1);
  using qpair = new Qpair(nvme0, 16);
  using buf = new Buffer(4096);
  nvme0n1.read(qpair, buf, 0, 8).waitdone();
  const done = qpair.latestCid;
  nvme0n1.read(qpair, buf, 0, 8);
  const sent = qpair.latestSubmittedCid;
  assert.equal(qpair.cmdlog(1)[0].cid, sent);
  assert.equal(qpair.latestCid, done); // not completed yet
  qpair.waitdone();
  assert.equal(qpair.latestCid, sent);
  // the admin queue too: abort the AER just sent (QEMU never aborts: CDW0 bit 0 set)
  nvme0.aer();
  const aer = nvme0.cmdlog(1)[0];
  assert.equal(aer.opcode, 0x0c);
  assert.equal(nvme0.latestSubmittedCid, aer.cid);
  const cdw0 = nvme0.abort(nvme0.latestSubmittedCid).waitdone();
  assert.equal(cdw0 & 1, 1);
  assert.equal(nvme0.latestCid, nvme0.cmdlog(1)[0].cid); // the Abort's
  // test_latest_latency
  nvme0.getfeatures(0x7).waitdone();
  assert.equal(nvme0.latestLatency, nvme0.cmdlog(1)[0].latencyUs);
});

Deno.test("test_ioworker_invalid_io_size_fw_debug_mode: fwDebug ends the process at the first error, the device left as it is", async () => {
  const mod = new URL("../mod.ts", import.meta.url).href;
  const script = (opPercentage: string) => `
    import { Controller, Namespace } from "${mod}";
    const nvme0 = new Controller("qemu:backend=null,size=64M");
    const nvme0n1 = new Namespace(nvme0, 1);
    const r = nvme0n1.ioworker({ ioSize: 8, ioCount: 100, qdepth: 4, fwDebug: true,
      opPercentage: ${opPercentage} }).start().close();
    console.log("after close:", r.ok, r.ioCountRead);
    nvme0.close();
  `;
  const run = async (code: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "-"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const w = out.stdin.getWriter();
    await w.write(new TextEncoder().encode(code));
    await w.close();
    const o = await out.output();
    const td = new TextDecoder();
    return { code: o.code, text: td.decode(o.stdout) + td.decode(o.stderr) };
  };
  // no error: a normal run
  const ok = await run(script("{ 2: 100 }"));
  assert.equal(ok.code, 0, ok.text);
  assert.match(ok.text, /after close: true 100/);
  // Write Uncorrectable is not in QEMU: 00/01 at the first IO ends the process
  const bad = await run(script("{ 4: 100 }"));
  assert.equal(bad.code, 1, bad.text);
  assert.match(
    bad.text,
    /fwDebug: ERROR status: 00\/01 Invalid Command Opcode/,
  );
  assert.match(bad.text, /left on the device as they are/);
  assert.match(bad.text, /Write Uncorrectable/); // its latest commands
  assert.doesNotMatch(bad.text, /after close/);
});

/** Write `lba` behind the driver's back (raw queues are not verified). */
function rawWrite(nvme0: Controller, qid: number, lba: number, buf: Buffer) {
  using cq = new IoCQ(nvme0, qid, 2);
  using sq = new IoSQ(nvme0, qid, 2, cq);
  sq.set(
    0,
    sqe({ opc: 0x01, cid: 7, nsid: 1, prp1: buf.iova, cdw: { 10: lba } }),
  );
  sq.tail = 1;
  const cpl = cq.waitEntry(0, 1);
  cq.head = 1;
  assert.equal(cpl?.status, 0);
}

Deno.test("test_raw_write_read: sendCmd with stamp: false writes the buffer as it is while verification is on", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using nvme0n1 = new Namespace(nvme0, 1);
  using qpair = new Qpair(nvme0, 16);
  assert.ok(nvme0n1.verifyEnable());
  using buf = new Buffer(512, "raw", 0x5aa5a55a, PTYPE_DWORD);
  nvme0n1.sendCmd(1, qpair, { buf, stamp: false }).waitdone(); // LBA 0
  assert.equal(buf.u32(0), 0x5aa5a55a); // not stamped
  assert.equal(buf.u32(508), 0x5aa5a55a);
  using rbuf = new Buffer(512);
  // pynvme reports 07/81 here (its check wants a stamp); the table has the CRC
  nvme0n1.sendCmd(2, qpair, { buf: rbuf }).waitdone();
  assert.equal(rbuf.u32(0), 0x5aa5a55a);
  nvme0n1.read(qpair, rbuf, 0).waitdone();
  assert.equal(rbuf.u32(4), 0x5aa5a55a);
  // denvme's default: raw writes are stamped too
  nvme0n1.sendCmd(1, qpair, { buf }).waitdone();
  assert.equal(buf.u32(0), 0); // the LBA number, 0
  assert.equal(buf.u32(8), 0x5aa5a55a); // the data between the stamps is kept
  nvme0n1.read(qpair, rbuf, 0).waitdone();
  assert.deepEqual(rbuf.slice(0, 512), buf.slice(0, 512));
  throwsWith(
    () => nvme0n1.sendCmd(1, qpair, { buf, stamp: 0 as unknown as boolean }),
    ParameterError,
    /stamp must be true or false/,
  );
});

Deno.test("test_buffer_token_single_process: stampEnable stamps writes with verification off, verifyEnable then checks them", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using nvme0n1 = new Namespace(nvme0, 1);
  using qpair = new Qpair(nvme0, 16);
  using buf = new Buffer(4096), rbuf = new Buffer(4096);
  using junk = new Buffer(512, "junk", 0x0badf00d, PTYPE_DWORD);
  assert.ok(nvme0n1.stampEnable());
  assert.ok(nvme0n1.stampEnabled);
  assert.equal(nvme0n1.verifyEnabled, false);
  const t0 = writeToken();
  nvme0n1.write(qpair, buf, 8, 8).waitdone();
  assert.equal(writeToken() - t0, 8n); // one token per block, as pynvme
  for (let i = 0; i < 8; i++) {
    assert.equal(buf.u32(i * 512), 8 + i); // the LBA number in each block
    assert.notEqual(buf.u32(i * 512 + 504), 0); // the token in its last 8 bytes
  }
  assert.equal(nvme0n1.verifyStats().stamped, 8);
  // reads are not checked: a block changed behind the driver's back reads fine
  rawWrite(nvme0, qpair.sqid + 1, 9, junk);
  nvme0n1.read(qpair, rbuf, 8, 8).waitdone();
  assert.equal(rbuf.u32(512), 0x0badf00d);
  assert.equal(nvme0n1.verifyStats().checked, 0);
  // checks on over the same table: LBA 9 is found changed, the others are good
  nvme0n1.write(qpair, buf, 16, 8).waitdone();
  assert.ok(nvme0n1.verifyEnable());
  assert.ok(nvme0n1.stampEnabled);
  nvme0n1.read(qpair, rbuf, 16, 8).waitdone();
  assert.equal(nvme0n1.verifyStats().checked, 8);
  const e = throwsWith(
    () => nvme0n1.read(qpair, rbuf, 8, 8).waitdone(),
    VerifyError,
    /07\/81/,
  ) as VerifyError;
  assert.equal(e.lba, 9);
  // stampEnable while verifying keeps checking; stampEnable(false) turns all off
  assert.ok(nvme0n1.stampEnable());
  assert.ok(nvme0n1.verifyEnabled);
  assert.equal(nvme0n1.stampEnable(false), false);
  assert.equal(nvme0n1.stampEnabled, false);
});

Deno.test("deliberate differences (docs/pynvme-names.md): the after-snippets behave as documented", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using nvme0n1 = new Namespace(nvme0, 1);
  using buf = new Buffer(2 * 1024 * 1024);
  // test_waitdone_nothing's neighbour: nothing outstanding throws at once
  {
    using qpair = new Qpair(nvme0, 16);
    throwsWith(
      () => qpair.waitdone(),
      NvmeError,
      /only 0 command\(s\) can complete/,
    );
    // test_write_huge_data: 1 MiB and 2 MiB reach the device (MDTS 512 KiB here)
    expectStatus("00/02", () => nvme0n1.write(qpair, buf, 0, 2048).waitdone());
    expectStatus("00/02", () => nvme0n1.write(qpair, buf, 0, 4096).waitdone());
  }
  // test_qpair_overflow: a full queue reaps to make room
  {
    using q = new Qpair(nvme0, 4);
    for (let i = 0; i < 4; i++) nvme0n1.read(q, buf, i * 8, 8);
    q.waitdone(4);
  }
  // test_ioworker_huge_qdepth: beyond pynvme's 1024
  {
    using q = new Qpair(nvme0, 2048);
    assert.equal(q.depth, 2048);
  }
  // ioworker errors in the result
  const r = nvme0n1.ioworker({ opPercentage: { 4: 100 }, ioCount: 10 }).start()
    .close();
  assert.equal(r.error, 0x0001);
  assert.equal(r.ok, false);
  assert.match(r.errorMessage!, /ERROR status: 00\/01/);
});

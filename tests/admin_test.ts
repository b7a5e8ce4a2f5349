/**
 * Admin commands against the embedded device, each checked against the
 * device's real answer; for commands QEMU's model rejects, the exact encoding
 * in the cmdlog and the Invalid Opcode status.
 */
import assert from "node:assert/strict";
import {
  Buffer,
  type CmdlogEntry,
  Controller,
  expectStatus,
  Namespace,
  Qpair,
  StatusError,
} from "../mod.ts";
import { decodeAsyncEvent, decodeIdentifyNamespace } from "../ffi/structs.ts";

/** The newest admin cmdlog entry of `opcode`. */
function last(nvme0: Controller, opcode: number): CmdlogEntry {
  const e = nvme0.cmdlog().find((x) => x.opcode === opcode);
  assert.ok(e, `opcode 0x${opcode.toString(16)} in the admin cmdlog`);
  return e;
}

Deno.test("identify: controller, namespace, lists, decoded fields", () => {
  using nvme0 = new Controller("qemu:ns=2,serial=IDTEST");
  const id = nvme0.idCtrl;
  assert.equal(id.vid, 0x1b36);
  assert.equal(id.sn, "IDTEST");
  assert.equal(id.mn, "QEMU NVMe Ctrl");
  assert.equal(id.sqes, 0x66);
  assert.equal(id.cqes, 0x44);
  assert.equal(id.nn, 256);
  assert.equal(id.aerl, 3);
  assert.equal(id.mdts, 7);
  assert.equal(id.oacs & 0x2, 0x2, "Format NVM supported");
  assert.equal(id.psd.length, id.npss + 1);
  using buf = new Buffer(4096);
  // CNS 02h: active namespace list
  nvme0.identify(buf, 0, 2).waitdone();
  assert.deepEqual([buf.u32(0), buf.u32(4), buf.u32(8)], [1, 2, 0]);
  // CNS 00h: namespace 2
  nvme0.identify(buf, 2, 0).waitdone();
  const ns = decodeIdentifyNamespace(buf.bytes);
  assert.equal(ns.nsze, 4n * 2n ** 30n / 512n);
  assert.equal(ns.lbaf[ns.lbaFormat].dataSize, 512);
  assert.equal(ns.dlfeat & 7, 1, "deallocated blocks read as zeros");
  // encoding of CNS/CNTID/CSI in CDW10/11
  nvme0.identify(buf, 1, 3, { cntid: 0 }).waitdone(); // CNS 03h: descriptors
  const e = last(nvme0, 0x06);
  assert.equal(e.cdw[10], 3);
  assert.equal(e.nsid, 1);
  // an unknown CNS is an Invalid Field
  assert.throws(
    () => nvme0.identify(buf, 0, 0xff).waitdone(),
    /00\/02 Invalid Field/,
  );
  // idData of namespace data
  assert.equal(nvme0.idData(7, 0, "bigint", { nsid: 1, cns: 0 }), 8388608n);
});

Deno.test("features: get, set, select, save, not changeable", () => {
  using nvme0 = new Controller("qemu");
  // temperature threshold: default over-temperature threshold 343 K
  assert.equal(nvme0.getfeatures(4).waitdone(), 343);
  nvme0.setfeatures(4, { cdw11: 350 }).waitdone();
  assert.equal(nvme0.getfeatures(4).waitdone(), 350);
  assert.equal(nvme0.getfeatures(4, { sel: 1 }).waitdone(), 343, "default");
  assert.equal(
    nvme0.getfeatures(4, { sel: 3 }).waitdone() & 0x7,
    0x4,
    "changeable",
  );
  // SEL and SV encodings
  assert.equal(last(nvme0, 0x0a).cdw[10], 3 << 8 | 4);
  assert.throws(
    () => nvme0.setfeatures(4, { sv: true, cdw11: 350 }).waitdone(),
    /01\/0d Feature Identifier Not Saveable/,
  );
  assert.equal(last(nvme0, 0x09).cdw[10], (1 << 31 | 4) >>> 0);
  assert.throws(
    () => nvme0.setfeatures(2, { cdw11: 1 }).waitdone(),
    /01\/0e Feature Not Changeable/,
  );
  // volatile write cache on and off
  nvme0.setfeatures(6, { cdw11: 0 }).waitdone();
  assert.equal(nvme0.getfeatures(6).waitdone(), 0);
  nvme0.setfeatures(6, { cdw11: 1 }).waitdone();
  assert.equal(nvme0.getfeatures(6).waitdone(), 1);
  // reserved feature id 0
  expectStatus("00/02", () => nvme0.getfeatures(0).waitdone());
});

Deno.test("log pages: SMART, error, firmware slot, effects; NUMD/LPO split", () => {
  using nvme0 = new Controller("qemu");
  const smart = nvme0.smartLog();
  assert.equal(smart.temperature, 323, "QEMU's composite temperature");
  using q = new Qpair(nvme0, 8);
  using data = new Buffer(512);
  const ns = new Namespace(nvme0, 1);
  for (let i = 0; i < 3; i++) ns.read(q, data, i).waitdone();
  assert.equal(nvme0.smartLog().hostReadCommands, smart.hostReadCommands + 3n);
  assert.equal(nvme0.firmwareSlotLog().frs[0], "1.0");
  assert.equal(nvme0.firmwareSlotLog().activeSlot, 1);
  assert.equal(nvme0.errorLog().length, nvme0.idCtrl.elpe + 1);
  assert.ok(nvme0.supports(0x06), "Identify");
  assert.ok(!nvme0.supports(0x84), "Sanitize is not implemented by QEMU");
  assert.ok(nvme0.supports(0x02, true), "Read");
  assert.ok(
    !nvme0.supports(0x04, true),
    "Write Uncorrectable is not implemented",
  );
  // a partial read with an offset matches the same bytes of a full read
  using full = new Buffer(512), part = new Buffer(512);
  nvme0.getlogpage(2, full).waitdone();
  nvme0.getlogpage(2, part, { size: 8, offset: 32 }).waitdone();
  assert.deepEqual(part.slice(0, 8), full.slice(32, 40));
  // NUMDL/NUMDU and LPOL/LPOU split (the device rejects the huge offset)
  using big = new Buffer(0x40004);
  expectStatus(
    "00/02",
    () => nvme0.getlogpage(2, big, { offset: 0x1_0000_0004 }).waitdone(),
  );
  const e = last(nvme0, 0x02);
  assert.equal(e.cdw[10] >>> 16, 0, "NUMDL (0x10000 dwords - 1 = 0x10000)");
  assert.equal(e.cdw[11] & 0xffff, 1, "NUMDU");
  assert.equal(e.cdw[12], 4, "LPOL");
  assert.equal(e.cdw[13], 1, "LPOU");
  // an unsupported log page
  assert.throws(() => nvme0.getlogpage(0x81, full).waitdone(), /00\/02|01\/09/);
});

Deno.test("format: data cleared, LBA format switched, bad format/nsid", () => {
  using nvme0 = new Controller("qemu:size=64M");
  let ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 4);
  using b = new Buffer(4096, "ones", 1);
  ns.write(q, b, 10, 8).waitdone();
  nvme0.format(0, 0, 1).waitdone();
  ns.read(q, b, 10, 8).waitdone();
  assert.ok(b.bytes.every((x) => x === 0), "formatted data reads zero");
  assert.equal(last(nvme0, 0x80).cdw[10], 0);
  nvme0.format(4, 1, 1).waitdone(); // 4096-byte LBAs, SES user data erase
  assert.equal(last(nvme0, 0x80).cdw[10], 4 | 1 << 9);
  ns = new Namespace(nvme0, 1);
  assert.equal(ns.lbaSize, 4096);
  assert.throws(() => nvme0.format(15).waitdone(), /01\/0a Invalid Format/);
  // QEMU answers Invalid Field (not Invalid Namespace) for an inactive NSID
  assert.throws(() => nvme0.format(0, 0, 9).waitdone(), StatusError);
});

Deno.test("commands QEMU rejects: exact encoding in the cmdlog, Invalid Opcode", () => {
  using nvme0 = new Controller("qemu");
  using buf = new Buffer(4096);
  const cases: [
    string,
    number,
    () => unknown,
    Partial<Record<number, number>>,
    number?,
  ][] = [
    ["sanitize", 0x84, () => nvme0.sanitize(2, 0x5a5a, { ause: true }), {
      10: 2 | 8,
      11: 0x5a5a,
    }],
    [
      "sanitize overwrite",
      0x84,
      () => nvme0.sanitize(3, 1, { owpass: 4, oipbp: true, nodas: true }),
      {
        10: 3 | 4 << 4 | 1 << 8 | 1 << 9,
      },
    ],
    ["device self-test", 0x14, () => nvme0.dst(2, 1), { 10: 2 }, 1],
    ["firmware download", 0x11, () => nvme0.fwDownload(buf, 8192, 1024), {
      10: 255,
      11: 2048,
    }],
    ["firmware commit", 0x10, () => nvme0.fwCommit(2, 1), { 10: 2 | 1 << 3 }],
    ["security send", 0x81, () => nvme0.securitySend(buf, 0x0001, 1, 0, 512), {
      10: 1 << 24 | 1 << 8,
      11: 512,
    }],
    ["security receive", 0x82, () => nvme0.securityReceive(buf, 0, 0, 0, 256), {
      10: 0,
      11: 256,
    }],
    ["NVMe-MI send", 0x1d, () => nvme0.miSend(4, 7, 9, buf), {
      10: 1 << 11 | 4,
      11: 4,
      12: 7,
      13: 9,
    }],
    ["NVMe-MI receive", 0x1e, () => nvme0.miReceive(0, 1, 0, buf), {
      10: 1 << 11 | 4,
      11: 0,
      12: 1,
    }],
    [
      "namespace management",
      0x0d,
      () => nvme0.sendCmd(0x0d, { cdw10: 1, nsid: 1 }),
      { 10: 1 },
      1,
    ],
  ];
  for (const [name, opc, send, cdws, nsid] of cases) {
    assert.throws(
      () => (send() as Controller).waitdone(),
      (e: Error) =>
        e instanceof StatusError &&
        /00\/01 Invalid Command Opcode/.test(e.message),
      name,
    );
    const e = last(nvme0, opc);
    assert.equal(e.status, "00/01", name);
    for (const [i, v] of Object.entries(cdws)) {
      assert.equal(e.cdw[Number(i)], v! >>> 0, `${name} cdw${i}`);
    }
    if (nsid !== undefined) assert.equal(e.nsid, nsid, `${name} nsid`);
  }
  // downfw: the first download chunk is rejected, the script sees it
  const file = Deno.makeTempFileSync();
  try {
    Deno.writeFileSync(file, new Uint8Array(10000 - 10000 % 4));
    assert.throws(
      () => nvme0.downfw(file, 1, 1),
      /00\/01 Invalid Command Opcode/,
    );
    assert.throws(
      () => nvme0.downfw("/nonexistent/fw.bin"),
      /No such file|NotFound|not found/i,
    );
  } finally {
    Deno.removeSync(file);
  }
  // FUSE bits of a raw command reach the device as given
  using idbuf = new Buffer(4096);
  assert.throws(
    () => nvme0.sendCmd(0x06 | 1 << 8, { cdw10: 1, buf: idbuf }).waitdone(),
    StatusError,
  );
  assert.equal(last(nvme0, 0x06).sqe[1] & 3, 1);
});

Deno.test("abort, namespace attachment, AER: limit, events, re-arm", () => {
  using nvme0 = new Controller("qemu");
  // QEMU never aborts: CDW0 bit 0 = 1 (not aborted)
  assert.equal(nvme0.abort(5, 0).waitdone() & 1, 1);
  assert.equal(last(nvme0, 0x08).cdw[10], 5 << 16);
  // attachment needs an NVM subsystem on QEMU: Invalid Field here
  expectStatus("00/02", () => nvme0.nsAttach(1, [0]).waitdone());
  // AERL = 3: 4 outstanding at most; init sent one
  const events: number[] = [];
  const errors: string[] = [];
  nvme0.aer((cpl) =>
    cpl.ok ? events.push(cpl.cdw0) : errors.push(cpl.statusText)
  );
  nvme0.aer();
  nvme0.aer();
  expectStatus("01/05", () => {
    nvme0.aer();
    nvme0.getfeatures(7).waitdone();
  });
  assert.deepEqual(errors, ["01/05"], "the AER callback saw the failed AER");
  // a temperature event: enable SMART temperature events, threshold below 323 K
  nvme0.setfeatures(0x0b, { cdw11: 0x2 }).waitdone();
  nvme0.setfeatures(4, { cdw11: 300 }).waitdone();
  const t0 = Date.now();
  while (!events.length && Date.now() - t0 < 3000) {
    nvme0.getfeatures(7).waitdone();
  }
  assert.equal(events.length, 1);
  const ev = decodeAsyncEvent(events[0]);
  assert.deepEqual([ev.type, ev.info, ev.logPage], [1, 1, 2]);
  assert.equal(ev.infoName, "Temperature Threshold");
  assert.equal(
    nvme0.smartLog().criticalWarning & 2,
    2,
    "temperature warning bit",
  );
  // re-armed: the newest AER in the log is outstanding
  const aers = nvme0.cmdlog().filter((e) => e.opcode === 0x0c);
  assert.equal(aers[0].cqe, undefined, "a new AER is outstanding");
  assert.equal(nvme0.takeAerEvents().length, 1);
});

/**
 * The decoders (ffi/decode/) against fixed byte patterns — every field
 * non-zero and different from its neighbours, so a wrong offset or width
 * shows — and against the embedded device.
 *
 * The offsets and widths listed here are the specification's figures (NVMe
 * Base 2.0: Identify Controller, Power State Descriptor, SMART / Health, Error
 * Information; NVM Command Set 1.0: Identify Namespace), written out
 * independently of the decoders.
 */
import assert from "node:assert/strict";
import {
  asciiField,
  Buffer,
  Controller,
  decodeApst,
  decodeEffectsLog,
  decodeErrorLog,
  decodeFeature,
  decodeHostBehavior,
  decodeHostMemoryBuffer,
  decodeIdentifyController,
  decodeIdentifyNamespace,
  decodeRegisters,
  decodeSmartLog,
  decodeTimestamp,
  describeIdentifyController,
  describeIdentifyNamespace,
  describeRegisters,
  FEATURE_FIELDS,
  Namespace,
  ParameterError,
  readRegisters,
  REGISTERS,
} from "../mod.ts";
import { throwsWith } from "./_util.ts";

/** 4096 bytes where byte i is (i % 251) + 1: never zero, distinct within 251 bytes. */
function pattern(size = 4096): Uint8Array {
  const d = new Uint8Array(size);
  for (let i = 0; i < size; i++) d[i] = (i % 251) + 1;
  return d;
}

/** The little-endian value of `width` bytes at `offset`. */
function le(d: Uint8Array, offset: number, width: number): bigint {
  let v = 0n;
  for (let i = width - 1; i >= 0; i--) v = v << 8n | BigInt(d[offset + i]);
  return v;
}

/** Assert every [field, offset, width] of `table` decodes from the pattern. */
function checkTable(
  what: string,
  decoded: Record<string, unknown>,
  d: Uint8Array,
  table: [string, number, number][],
): void {
  for (const [name, offset, width] of table) {
    const want = le(d, offset, width);
    const got = decoded[name];
    assert.ok(got !== undefined, `${what}.${name} is not decoded`);
    assert.equal(
      BigInt(got as number | bigint),
      want,
      `${what}.${name}: offset ${offset}, ${width} bytes`,
    );
  }
}

Deno.test("Identify Controller: every field at its offset and width", () => {
  const d = pattern();
  d[263] = 2; // NPSS: three power state descriptors
  const id = decodeIdentifyController(d);
  checkTable("idCtrl", id as unknown as Record<string, unknown>, d, [
    ["vid", 0, 2],
    ["ssvid", 2, 2],
    ["rab", 72, 1],
    ["ieee", 73, 3],
    ["cmic", 76, 1],
    ["mdts", 77, 1],
    ["cntlid", 78, 2],
    ["ver", 80, 4],
    ["rtd3r", 84, 4],
    ["rtd3e", 88, 4],
    ["oaes", 92, 4],
    ["ctratt", 96, 4],
    ["rrls", 100, 2],
    ["cntrltype", 111, 1],
    ["crdt1", 128, 2],
    ["crdt2", 130, 2],
    ["crdt3", 132, 2],
    ["nvmsr", 253, 1],
    ["vwci", 254, 1],
    ["mec", 255, 1],
    ["oacs", 256, 2],
    ["acl", 258, 1],
    ["aerl", 259, 1],
    ["frmw", 260, 1],
    ["lpa", 261, 1],
    ["elpe", 262, 1],
    ["npss", 263, 1],
    ["avscc", 264, 1],
    ["apsta", 265, 1],
    ["wctemp", 266, 2],
    ["cctemp", 268, 2],
    ["mtfa", 270, 2],
    ["hmpre", 272, 4],
    ["hmmin", 276, 4],
    ["tnvmcap", 280, 16],
    ["unvmcap", 296, 16],
    ["rpmbs", 312, 4],
    ["edstt", 316, 2],
    ["dsto", 318, 1],
    ["fwug", 319, 1],
    ["kas", 320, 2],
    ["hctma", 322, 2],
    ["mntmt", 324, 2],
    ["mxtmt", 326, 2],
    ["sanicap", 328, 4],
    ["hmminds", 332, 4],
    ["hmmaxd", 336, 2],
    ["nsetidmax", 338, 2],
    ["endgidmax", 340, 2],
    ["anatt", 342, 1],
    ["anacap", 343, 1],
    ["anagrpmax", 344, 4],
    ["nanagrpid", 348, 4],
    ["pels", 352, 4],
    ["domainid", 356, 2],
    ["megcap", 368, 16],
    ["sqes", 512, 1],
    ["cqes", 513, 1],
    ["maxcmd", 514, 2],
    ["nn", 516, 4],
    ["oncs", 520, 2],
    ["fuses", 522, 2],
    ["fna", 524, 1],
    ["vwc", 525, 1],
    ["awun", 526, 2],
    ["awupf", 528, 2],
    ["icsvscc", 530, 1],
    ["nwpc", 531, 1],
    ["acwu", 532, 2],
    ["ocfs", 534, 2],
    ["sgls", 536, 4],
    ["mnan", 540, 4],
    ["maxdna", 544, 16],
    ["maxcna", 560, 4],
    ["ioccsz", 1792, 4],
    ["iorcsz", 1796, 4],
    ["icdoff", 1800, 2],
    ["fcatt", 1802, 1],
    ["msdbd", 1803, 1],
    ["ofcs", 1804, 2],
  ]);
  assert.equal(
    id.fguid,
    [...d.subarray(112, 128)].map((b) => b.toString(16).padStart(2, "0"))
      .join(""),
  );
  // power state descriptors: 32 bytes each from 2048
  assert.equal(id.psd.length, 3);
  for (let n = 0; n < 3; n++) {
    const at = 2048 + 32 * n, p = id.psd[n];
    checkTable(`psd[${n}]`, p as unknown as Record<string, unknown>, d, [
      ["mp", at, 2],
      ["enlat", at + 4, 4],
      ["exlat", at + 8, 4],
      ["idlp", at + 16, 2],
      ["actp", at + 20, 2],
    ]);
    assert.equal(p.mxps, d[at + 3] & 1);
    assert.equal(p.nops, (d[at + 3] & 2) !== 0);
    assert.equal(p.rrt, d[at + 12] & 31);
    assert.equal(p.rrl, d[at + 13] & 31);
    assert.equal(p.rwt, d[at + 14] & 31);
    assert.equal(p.rwl, d[at + 15] & 31);
    assert.equal(p.ips, d[at + 18] >> 6);
    assert.equal(p.apw, d[at + 22] & 7);
    assert.equal(p.aps, d[at + 22] >> 6);
  }
  // a descriptor with every field set to known values
  const q = new Uint8Array(4096);
  const dv = new DataView(q.buffer);
  dv.setUint16(2048, 2500, true);
  q[2051] = 0b11; // MXPS and NOPS
  dv.setUint32(2052, 16, true);
  dv.setUint32(2056, 4, true);
  q.set([1, 2, 3, 4], 2060); // RRT RRL RWT RWL
  dv.setUint16(2064, 300, true);
  q[2066] = 2 << 6; // IPS = 0.01 W
  dv.setUint16(2068, 900, true);
  q[2070] = 2 << 6 | 5; // APS = 0.01 W, APW 5
  assert.deepEqual(decodeIdentifyController(q).psd[0], {
    mp: 2500,
    mxps: 1,
    nops: true,
    enlat: 16,
    exlat: 4,
    rrt: 1,
    rrl: 2,
    rwt: 3,
    rwl: 4,
    idlp: 300,
    ips: 2,
    actp: 900,
    apw: 5,
    aps: 2,
  });
  const text = describeIdentifyController(q).join("\n");
  assert.match(text, /ps +0 : mp:0\.2500W non-operational enlat:16 exlat:4/);
  assert.match(text, /idle_power:3\.00W active_power:9\.00W/);
});

Deno.test("identify strings: bytes one to one, what the device sent stays visible", () => {
  const d = new Uint8Array(4096);
  // 0x80 is a control byte in Latin-1 (windows-1252 would make it "€"),
  // 0xE9 is "é" in both; trailing spaces and NULs are padding
  d.set([0x41, 0x80, 0xe9, 0x42, 0x20, 0x20, 0x00], 4);
  assert.equal(decodeIdentifyController(d).sn, "A\\x80éB");
  assert.equal(
    asciiField(new Uint8Array([0x51, 0x9f, 0x01, 0x20]), 0, 3),
    "Q\\x9f\\x01",
  );
});

Deno.test("Identify Namespace: every field at its offset and width", () => {
  const d = pattern();
  d[25] = 3; // NLBAF
  const ns = decodeIdentifyNamespace(d);
  checkTable("idNs", ns as unknown as Record<string, unknown>, d, [
    ["nsze", 0, 8],
    ["ncap", 8, 8],
    ["nuse", 16, 8],
    ["nsfeat", 24, 1],
    ["nlbaf", 25, 1],
    ["flbas", 26, 1],
    ["mc", 27, 1],
    ["dpc", 28, 1],
    ["dps", 29, 1],
    ["nmic", 30, 1],
    ["rescap", 31, 1],
    ["fpi", 32, 1],
    ["dlfeat", 33, 1],
    ["nawun", 34, 2],
    ["nawupf", 36, 2],
    ["nacwu", 38, 2],
    ["nabsn", 40, 2],
    ["nabo", 42, 2],
    ["nabspf", 44, 2],
    ["noiob", 46, 2],
    ["nvmcap", 48, 16],
    ["npwg", 64, 2],
    ["npwa", 66, 2],
    ["npdg", 68, 2],
    ["npda", 70, 2],
    ["nows", 72, 2],
    ["mssrl", 74, 2],
    ["mcl", 76, 4],
    ["msrc", 80, 1],
    ["nulbaf", 82, 1],
    ["anagrpid", 92, 4],
    ["nsattr", 99, 1],
    ["nvmsetid", 100, 2],
    ["endgid", 102, 2],
  ]);
  assert.equal(ns.lbaf.length, 4);
  const text = describeIdentifyNamespace(d).join("\n");
  assert.match(text, /rescap +: 0x20\n/);
  assert.match(text, /\[7:7\] 0x0 Ignore Existing Key: no/);
});

Deno.test("SMART / Health and Error Information: every field at its offset and width", () => {
  const d = pattern(512);
  const s = decodeSmartLog(d);
  checkTable("smart", s as unknown as Record<string, unknown>, d, [
    ["criticalWarning", 0, 1],
    ["temperature", 1, 2],
    ["availableSpare", 3, 1],
    ["availableSpareThreshold", 4, 1],
    ["percentageUsed", 5, 1],
    ["egcws", 6, 1],
    ["dataUnitsRead", 32, 16],
    ["dataUnitsWritten", 48, 16],
    ["hostReadCommands", 64, 16],
    ["hostWriteCommands", 80, 16],
    ["controllerBusyTime", 96, 16],
    ["powerCycles", 112, 16],
    ["powerOnHours", 128, 16],
    ["unsafeShutdowns", 144, 16],
    ["mediaErrors", 160, 16],
    ["errorLogEntries", 176, 16],
    ["warningTempTime", 192, 4],
    ["criticalTempTime", 196, 4],
    ["tmt1tc", 216, 4],
    ["tmt2tc", 220, 4],
    ["tmt1tt", 224, 4],
    ["tmt2tt", 228, 4],
  ]);
  assert.deepEqual(
    s.sensors,
    [0, 1, 2, 3, 4, 5, 6, 7].map((i) => Number(le(d, 200 + 2 * i, 2))),
  );

  const e = pattern(128);
  const entries = decodeErrorLog(e);
  assert.equal(entries.length, 2);
  entries.forEach((x, i) => {
    const at = 64 * i;
    checkTable(`error[${i}]`, x as unknown as Record<string, unknown>, e, [
      ["errorCount", at, 8],
      ["sqid", at + 8, 2],
      ["cid", at + 10, 2],
      ["parameterErrorLocation", at + 14, 2],
      ["lba", at + 16, 8],
      ["nsid", at + 24, 4],
      ["vsia", at + 28, 1],
      ["trtype", at + 29, 1],
      ["commandSpecific", at + 32, 8],
      ["trtypeSpecific", at + 40, 2],
    ]);
    assert.equal(x.status, Number(le(e, at + 12, 2)) >> 1);
    assert.equal(x.phaseTag, e[at + 12] & 1);
  });
});

Deno.test("Commands Supported and Effects: every bit, USS included", () => {
  const d = new Uint8Array(4096);
  const dv = new DataView(d.buffer);
  dv.setUint32(0x06 * 4, 0b1 | 0b10000 | 5 << 16 | 1 << 19, true); // admin Identify
  dv.setUint32(1024 + 0x01 * 4, 0b1111, true); // I/O Write
  const log = decodeEffectsLog(d);
  assert.deepEqual(
    { ...log.admin[0x06] },
    {
      csupp: true,
      lbcc: false,
      ncc: false,
      nic: false,
      ccc: true,
      cse: 5,
      uss: true,
      raw: 0x000d0011,
    },
  );
  assert.deepEqual(
    [
      log.io[1].csupp,
      log.io[1].lbcc,
      log.io[1].ncc,
      log.io[1].nic,
      log.io[1].uss,
    ],
    [true, true, true, true, false],
  );
});

Deno.test("features: every Dword 0 field at its bits; the data buffers", () => {
  const cases: [number, number, Record<string, number>][] = [
    [0x01, 0x04030203, { ab: 3, lpw: 2, mpw: 3, hpw: 4 }],
    [0x02, 0x000000a3, { ps: 3, wh: 5 }],
    [0x03, 0x00000005, { num: 5 }],
    [0x04, 0x0013015e, { tmpth: 350, tmpsel: 3, thsel: 1 }],
    [0x05, 0x00010064, { tler: 100, dulbe: 1 }],
    [0x06, 0x00000001, { wce: 1 }],
    [0x07, 0x003e003f, { nsqa: 63, ncqa: 62 }],
    [0x08, 0x00000a05, { thr: 5, time: 10 }],
    [0x09, 0x00010007, { iv: 7, cd: 1 }],
    [0x0a, 0x00000001, { dn: 1 }],
    [0x0b, 0x88008701, {
      smart: 0x01,
      nan: 1,
      fan: 1,
      tln: 1,
      anacn: 0,
      plealcn: 0,
      lsian: 0,
      egealcn: 0,
      nnsshdn: 1,
      zdcn: 1,
      dlpcn: 1,
    }],
    [0x0c, 0x00000001, { apste: 1 }],
    [0x0d, 0x00000003, { ehm: 1, mr: 1 }],
    [0x0f, 0x00002710, { kato: 10000 }],
    [0x10, 0x015e0172, { tmt2: 370, tmt1: 350 }],
    [0x11, 0x00000001, { noppme: 1 }],
    [0x12, 0x0000000a, { rrl: 10 }],
    [0x14, 0x00000002, { ws: 2 }],
    [0x17, 0x00000001, { nodrm: 1 }],
    [0x18, 0x0000000d, { egwarn: 13 }],
    [0x19, 0x00000105, { iocsci: 0x105 }],
    [0x1a, 0x00000001, { supe: 1 }],
    [0x80, 0x00000042, { pbslc: 0x42 }],
    [0x81, 0x00000001, { exhid: 1 }],
    [0x82, 0x0000000a, { regpre: 1, resrel: 0, respre: 1 }],
    [0x83, 0x00000001, { ptpl: 1 }],
    [0x84, 0x00000003, { wps: 3 }],
  ];
  for (const [fid, cdw0, want] of cases) {
    assert.ok(FEATURE_FIELDS[fid], `feature ${fid.toString(16)} has no layout`);
    assert.deepEqual(decodeFeature(fid, cdw0).fields, want, `feature ${fid}`);
  }
  assert.match(
    decodeFeature(0x04, 0x0013015e).text.join("\n"),
    /350 K \(77 C\)[\s\S]*temperature sensor 3[\s\S]*under temperature threshold/,
  );

  // APST: 32 entries of 8 bytes, ITPS bits 7:3, ITPT bits 31:8
  const apst = new Uint8Array(256);
  new DataView(apst.buffer).setUint32(8, 100 << 8 | 3 << 3, true);
  assert.deepEqual(decodeApst(apst)[1], { itps: 3, itpt: 100 });
  assert.equal(decodeApst(apst).length, 32);
  // Host Memory Buffer attributes: HSIZE, HMDLAL, HMDLAU, HMDLEC
  const hmb = new Uint8Array(16);
  const hv = new DataView(hmb.buffer);
  hv.setUint32(0, 0x100, true);
  hv.setUint32(4, 0x12345000, true);
  hv.setUint32(8, 0x9, true);
  hv.setUint32(12, 7, true);
  assert.deepEqual(decodeHostMemoryBuffer(hmb), {
    hsize: 0x100,
    hmdla: 0x912345000n,
    hmdlec: 7,
  });
  // Timestamp: 48-bit milliseconds, then Synch (bit 0) and Origin (bits 3:1)
  const ts = new Uint8Array(8);
  const ms = 0x0123_4567_89ab;
  new DataView(ts.buffer).setUint32(0, ms % 2 ** 32, true);
  new DataView(ts.buffer).setUint16(4, Math.floor(ms / 2 ** 32), true);
  ts[6] = 1 << 1 | 1;
  assert.deepEqual(decodeTimestamp(ts), {
    timestamp: ms,
    synch: 1,
    origin: 1,
    originName: "set by the host (Set Features)",
  });
  // Host Behavior Support: ACRE byte 0, ETDAS byte 1, LBAFEE byte 2 (bit 0 each)
  const hb = new Uint8Array(512);
  hb.set([1, 1, 1]);
  assert.deepEqual(decodeHostBehavior(hb), { acre: 1, etdas: 1, lbafee: 1 });
  hb.set([0, 1, 0xfe]);
  assert.deepEqual(decodeHostBehavior(hb), { acre: 0, etdas: 1, lbafee: 0 });
  const f16 = decodeFeature(0x16, 0, new Uint8Array([1, 0, 1]));
  assert.deepEqual(f16.data, { acre: 1, etdas: 0, lbafee: 1 });
  assert.match(f16.text.join("\n"), /ACRE\): enabled[\s\S]*LBAFEE\): enabled/);
  throwsWith(
    () => decodeHostBehavior(new Uint8Array(2)),
    ParameterError,
    /decodeHostBehavior/,
  );
});

Deno.test("registers: every field at its bits", () => {
  const value: Record<number, bigint> = {
    0x00: 0x2n << 48n | 0x4n << 52n | 1n << 56n | 1n << 57n | 1n << 58n |
      1n << 59n | 1n << 60n | 2n << 46n | 1n << 45n | 0x41n << 37n |
      1n << 36n | 3n << 32n | 30n << 24n | 1n << 17n | 1n << 16n | 0x7ffn,
    0x08: 0x00020103n,
    0x14: BigInt(
      1 | 6 << 4 | 2 << 7 | 1 << 11 | 2 << 14 | 6 << 16 | 4 << 20 | 1 << 24,
    ),
    0x1c: 0b1011101n,
    0x24: 0x001f003fn,
    0x38: 0x00005000n | 0b111111111n << 0n,
    0x3c: 0x00010000n | 2n << 8n | 0b11111n,
    0x40: 0x81000003n,
  };
  const regs = decodeRegisters((off) => value[off] ?? 0n);
  assert.deepEqual(regs.cap.fields, {
    mqes: 0x7ff,
    cqr: 1,
    ams: 1,
    to: 30,
    dstrd: 3,
    nssrs: 1,
    css: 0x41,
    bps: 1,
    cps: 2,
    mpsmin: 2,
    mpsmax: 4,
    pmrs: 1,
    cmbs: 1,
    nsss: 1,
    crwms: 1,
    crims: 1,
  });
  assert.deepEqual(regs.vs.fields, { ter: 3, mnr: 1, mjr: 2 });
  assert.deepEqual(regs.cc.fields, {
    en: 1,
    css: 6,
    mps: 2,
    ams: 1,
    shn: 2,
    iosqes: 6,
    iocqes: 4,
    crime: 1,
  });
  assert.deepEqual(regs.csts.fields, {
    rdy: 1,
    cfs: 0,
    shst: 3,
    nssro: 1,
    pp: 0,
    st: 1,
  });
  assert.deepEqual(regs.aqa.fields, { asqs: 0x3f, acqs: 0x1f });
  assert.deepEqual(regs.cmbloc.fields, {
    bir: 7,
    cqmms: 1,
    cqpds: 1,
    cdpmls: 1,
    cdpcils: 1,
    cdmmms: 1,
    cqda: 1,
    ofst: 5,
  });
  assert.deepEqual(regs.cmbsz.fields, {
    sqs: 1,
    cqs: 1,
    lists: 1,
    rds: 1,
    wds: 1,
    szu: 2,
    sz: 0x10,
  });
  assert.deepEqual(regs.bpinfo.fields, { bpsz: 3, brs: 1, abpid: 1 });
  const text = describeRegisters(regs).join("\n");
  assert.match(
    text,
    /cc \(0x14\): 0x01468961 +Controller Configuration/,
  );
  assert.match(text, /\[15:14\] 0x2 Shutdown Notification: abrupt shutdown/);
  assert.match(text, /\[31:24\] 0x1e Timeout: 15000 ms/);
  // every register has a distinct offset, in order
  const offs = REGISTERS.map((r) => r.offset);
  assert.deepEqual(offs, [...offs].sort((a, b) => a - b));
});

Deno.test("decoders on the embedded device", () => {
  using nvme0 = new Controller("qemu");
  const regs = readRegisters(nvme0);
  assert.equal(regs.cap.value, nvme0.reg64(0));
  assert.equal(regs.cap.fields.mqes + 1, 2048);
  assert.equal(regs.cap.fields.to, 15); // 7.5 s
  assert.equal(regs.cap.fields.css & 1, 1);
  assert.equal(regs.cc.value, 0x00460001);
  assert.deepEqual(
    [regs.cc.fields.en, regs.cc.fields.iosqes, regs.cc.fields.iocqes],
    [1, 6, 4],
  );
  assert.equal(regs.csts.fields.rdy, 1);
  assert.equal(regs.vs.fields.mjr, 1);
  assert.match(describeRegisters(regs).join("\n"), /\[0:0\] 0x1 Ready: yes/);

  const id = nvme0.idCtrl;
  assert.equal(id.mn, "QEMU NVMe Ctrl");
  assert.equal(id.psd.length, id.npss + 1);
  assert.ok(id.psd[0].mp > 0);
  assert.equal(id.psd[0].nops, false);
  assert.match(
    describeIdentifyController(nvme0.identifyData).join("\n"),
    /oncs +: 0x[0-9a-f]+\n( {2}.*\n)* {2}\[3:3\] 0x1 Write Zeroes: yes/,
  );

  // Number of Queues: the controller default init asked for its maximum
  const nq = decodeFeature(0x07, nvme0.getfeatures(0x07).waitdone());
  assert.ok(nq.fields.nsqa >= 1 && nq.fields.ncqa >= 1);
  // Error Recovery belongs to a namespace
  const er = decodeFeature(
    0x05,
    nvme0.getfeatures(0x05, { nsid: 1 }).waitdone(),
  );
  assert.equal(er.fields.dulbe, 0);
  // Timestamp: set it, read its 8-byte buffer back
  using buf = new Buffer(4096, "timestamp");
  const now = Date.now();
  const set = new Uint8Array(8);
  new DataView(set.buffer).setUint32(0, now % 2 ** 32, true);
  new DataView(set.buffer).setUint16(4, Math.floor(now / 2 ** 32), true);
  buf.write(set);
  nvme0.setfeatures(0x0e, { buf }).waitdone();
  buf.fill(0);
  const cdw0 = nvme0.getfeatures(0x0e, { buf }).waitdone();
  const ts = decodeFeature(0x0e, cdw0, buf.bytes).data as ReturnType<
    typeof decodeTimestamp
  >;
  assert.equal(ts.origin, 1, "set by the host");
  assert.ok(
    ts.timestamp >= now && ts.timestamp < now + 60_000,
    `${ts.timestamp}`,
  );

  const smart = nvme0.smartLog();
  assert.ok(smart.temperature > 273);
  assert.equal(smart.tmt1tc, 0);
  using nvme0n1 = new Namespace(nvme0, 1);
  const ns = decodeIdentifyNamespace(nvme0n1.identifyData);
  assert.equal(ns.nsze, BigInt(nvme0n1.capacity));
  assert.match(
    describeIdentifyNamespace(nvme0n1.identifyData).join("\n"),
    /lbaf +\d+ : ms:0 lbads:9 rp:0 \(Best\) \(in use\)/,
  );
});

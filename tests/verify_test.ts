/**
 * Data verification (per-LBA CRC) on the embedded device: write/read checks
 * across PRP sizes, stamping and tokens, the update rules (deallocate, write
 * zeroes, format, copy, rejected commands), corruption and mapping errors made
 * behind the device in its image file while it runs, overlapping IO in
 * flight, ioworkers, verification off, closed objects and bad parameters.
 */
import assert from "node:assert/strict";
import {
  Buffer,
  ClosedError,
  type Completion,
  Controller,
  crc32c,
  expectStatus,
  Namespace,
  NvmeError,
  ParameterError,
  Qpair,
  VerifyError,
  writeToken,
} from "../mod.ts";

/** A device whose namespace 1 lives in a file this test can change behind it. */
function device(
  opts = "size=64M",
): { nvme0: Controller; image: string; [Symbol.dispose](): void } {
  const image = Deno.makeTempFileSync({ prefix: "denvme-verify-" });
  Deno.removeSync(image); // the launcher creates it sparse, at the namespace size
  const nvme0 = new Controller(`qemu:${opts},image=${image}`);
  return {
    nvme0,
    image,
    [Symbol.dispose]() {
      nvme0.close();
      try {
        Deno.removeSync(image);
      } catch { /* already gone */ }
    },
  };
}

/** Write `bytes` at byte `offset` of the image (QEMU reads through the page cache). */
function pwrite(image: string, offset: number, bytes: Uint8Array): void {
  using f = Deno.openSync(image, { read: true, write: true });
  f.seekSync(offset, Deno.SeekMode.Start);
  let done = 0;
  while (done < bytes.length) done += f.writeSync(bytes.subarray(done));
}

function pread(image: string, offset: number, len: number): Uint8Array {
  using f = Deno.openSync(image, { read: true });
  f.seekSync(offset, Deno.SeekMode.Start);
  const out = new Uint8Array(len);
  let done = 0;
  while (done < len) {
    const n = f.readSync(out.subarray(done));
    if (n === null) break;
    done += n;
  }
  return out;
}

/** Flip a byte in the middle of LBA `lba` behind the device. */
function corrupt(image: string, lba: number, lbaSize: number): void {
  const at = lba * lbaSize + 100;
  const b = pread(image, at, 1);
  b[0] ^= 0x5a;
  pwrite(image, at, b);
}

function fillRandom(buf: Buffer, bytes: number): void {
  const u8 = buf.bytes.subarray(buf.offset, buf.offset + bytes);
  for (let i = 0; i < u8.length; i += 65536) {
    crypto.getRandomValues(u8.subarray(i, Math.min(i + 65536, u8.length)));
  }
}

function u64(u8: Uint8Array, at: number): bigint {
  return new DataView(u8.buffer, u8.byteOffset + at, 8).getBigUint64(0, true);
}

/** The VerifyError `fn` throws. */
function verifyError(fn: () => unknown): VerifyError {
  try {
    fn();
  } catch (e) {
    if (e instanceof VerifyError) return e;
    throw e;
  }
  assert.fail("no VerifyError");
}

Deno.test("write/read verify from 1 LBA up to MDTS, every PRP shape", async (t) => {
  for (const lba of [512, 4096]) {
    await t.step(`${lba}-byte LBAs`, () => {
      using dev = device(`size=256M,lba=${lba}`);
      const { nvme0 } = dev;
      const ns = new Namespace(nvme0, 1);
      assert.equal(ns.verifyEnable(), true);
      assert.equal(ns.verifyEnabled, true);
      using q = new Qpair(nvme0, 32);
      const mdtsLbas = nvme0.mdts / ns.lbaSize;
      using w = new Buffer(nvme0.mdts + 4096, "write");
      using r = new Buffer(nvme0.mdts + 4096, "read");
      const counts = [1, 2, 7, 8, 9, 16, 17, 100, mdtsLbas - 1, mdtsLbas]
        .filter((n) => n >= 1 && n <= mdtsLbas);
      let at = 0, checked = 0;
      for (const offset of [0, 512, 4092]) {
        for (const n of counts) {
          const bytes = n * ns.lbaSize;
          w.offset = r.offset = offset;
          fillRandom(w, bytes);
          ns.write(q, w, at, n).waitdone();
          r.bytes.fill(0xee);
          ns.read(q, r, at, n).waitdone();
          checked += n;
          // the device returned exactly what was written, stamps included
          const wb = w.bytes.subarray(offset, offset + bytes);
          const rb = r.bytes.subarray(offset, offset + bytes);
          assert.deepEqual(rb, wb, `${n} LBAs at buffer offset ${offset}`);
          for (const i of [0, n - 1]) {
            assert.equal(u64(rb, i * ns.lbaSize), BigInt(at + i));
          }
          // the table holds the CRC-32C of each block
          const [e] = ns.verifyEntries(at + n - 1);
          assert.equal(
            e,
            crc32c(rb.subarray((n - 1) * ns.lbaSize, n * ns.lbaSize)),
          );
          at += n;
        }
      }
      const s = ns.verifyStats();
      assert.equal(s.checked, checked);
      assert.equal(s.stamped, checked);
      assert.equal(s.badBlocks, 0);
      assert.equal(s.lbaSize, lba);
    });
  }
});

Deno.test("stamps: the LBA in the first 8 bytes, a token advancing per block in the last 8", () => {
  using nvme0 = new Controller("qemu:size=64M");
  const ns = new Namespace(nvme0, 1);
  ns.verifyEnable();
  using q = new Qpair(nvme0, 16);
  using buf = new Buffer(4096);
  const t0 = writeToken();
  for (let i = 0; i < 100; i++) ns.write(q, buf, i * 8, 8).waitdone();
  ns.write(q, buf, 1000, 1).waitdone();
  // pynvme's check: 100 writes of 8 LBAs and one of 1 LBA
  assert.equal(writeToken() - t0, 801n);
  const u8 = buf.bytes;
  assert.equal(u64(u8, 0), 1000n);
  assert.equal(u64(u8, 504), t0 + 800n);
  // the token is process-wide and every written block differs
  const tokens = new Set<bigint>();
  for (let i = 0; i < 8; i++) {
    ns.write(q, buf, 2000, 8).waitdone();
    for (let b = 0; b < 8; b++) tokens.add(u64(u8, b * 512 + 504));
  }
  assert.equal(tokens.size, 64);
  assert.equal(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
});

Deno.test("corrupt blocks behind the device: exactly those LBAs are reported", () => {
  using dev = device("size=64M");
  const { nvme0, image } = dev;
  const ns = new Namespace(nvme0, 1);
  ns.verifyEnable();
  using q = new Qpair(nvme0, 64);
  using w = new Buffer(256 * 512), r = new Buffer(256 * 512);
  fillRandom(w, w.size);
  ns.write(q, w, 1000, 256).waitdone();
  ns.read(q, r, 1000, 256).waitdone();
  const bad = [1003, 1077, 1078, 1100, 1191, 1200, 1255];
  for (const lba of bad) corrupt(image, lba, 512);
  // block by block: the failing set is exactly the corrupted one
  const failing: number[] = [];
  using one = new Buffer(512);
  for (let lba = 1000; lba < 1256; lba++) {
    try {
      ns.read(q, one, lba, 1).waitdone();
    } catch (e) {
      assert.ok(e instanceof VerifyError, String(e));
      assert.equal(e.kind, "crc mismatch");
      assert.equal(e.lba, lba);
      assert.equal(e.sct, 7);
      assert.equal(e.sc, 0x81);
      assert.equal(e.expected, ns.verifyEntries(lba)[0]);
      assert.equal(e.found, crc32c(one.bytes.subarray(0, 512)));
      assert.notEqual(e.found, e.expected);
      failing.push(lba);
    }
  }
  assert.deepEqual(failing, bad);
  // one command over all of them: first, last and count
  const e = verifyError(() => ns.read(q, r, 1000, 256).waitdone());
  assert.equal(e.failure.lba, 1003);
  assert.equal(e.failure.lastLba, 1255);
  assert.equal(e.failure.badBlocks, bad.length);
  assert.equal(e.failure.slba, 1000);
  assert.equal(e.failure.nlb, 256);
  assert.match(
    e.message,
    /^ERROR status: 07\/81 Data Verification Failed: CRC mismatch at LBA 1003: expected CRC 0x[0-9a-f]{8}, found 0x[0-9a-f]{8} \(7 of 256 blocks bad, the last at LBA 1255\) \(Read lba 1000 count 256, cid \d+, sqid 1\)$/,
  );
  assert.equal(ns.verifyStats().failedReads, bad.length + 1);
  // the completion seen by a callback carries the report too
  let seen: Completion | undefined;
  assert.throws(
    () => ns.read(q, r, 1077, 2, (c) => seen = c).waitdone(),
    VerifyError,
  );
  assert.equal(seen?.verify?.lba, 1077);
  assert.equal(seen?.verify?.badBlocks, 2);
  // expected like any status
  expectStatus("07/81", () => ns.read(q, one, 1003, 1).waitdone());
  // rewriting the blocks makes them good again
  ns.write(q, w, 1000, 256).waitdone();
  ns.read(q, r, 1000, 256).waitdone();
});

Deno.test("a mapping error (LBA A's data on LBA B) is reported as an LBA mismatch", () => {
  using dev = device("size=64M,lba=4096");
  const { nvme0, image } = dev;
  const ns = new Namespace(nvme0, 1);
  ns.verifyEnable();
  using q = new Qpair(nvme0, 16);
  using w = new Buffer(64 * 4096), r = new Buffer(4096);
  fillRandom(w, w.size);
  ns.write(q, w, 100, 64).waitdone();
  const A = 117, B = 150;
  pwrite(image, B * 4096, pread(image, A * 4096, 4096));
  const e = verifyError(() => ns.read(q, r, B, 1).waitdone());
  assert.equal(e.kind, "lba mismatch");
  assert.equal(e.lba, B);
  assert.equal(e.foundLba, A);
  assert.match(
    e.message,
    /LBA mismatch at LBA 150: expected data of LBA 150, found data of LBA 117 \(Read lba 150 count 1/,
  );
  // mixed with a corrupted block in one read: the first one decides the kind
  corrupt(image, 140, 4096);
  const m = verifyError(() => ns.read(q, w, 130, 32).waitdone());
  assert.equal(m.kind, "crc mismatch");
  assert.equal(m.lba, 140);
  assert.deepEqual(m.failure.kinds, ["lba mismatch", "crc mismatch"]);
  assert.equal(m.failure.badBlocks, 2);
});

Deno.test("deallocate (trim), then read: never-written semantics", () => {
  using dev = device("size=64M");
  const { nvme0, image } = dev;
  const ns = new Namespace(nvme0, 1);
  ns.verifyEnable();
  using q = new Qpair(nvme0, 16);
  using w = new Buffer(64 * 512), r = new Buffer(64 * 512);
  using ranges = new Buffer(4096);
  fillRandom(w, w.size);
  ns.write(q, w, 0, 64).waitdone();
  ranges.setDsmRange(0, 8, 8);
  ranges.setDsmRange(1, 40, 4);
  ns.dsm(q, ranges, 2).waitdone();
  const e = ns.verifyEntries(0, 64);
  for (let i = 0; i < 64; i++) {
    const trimmed = (i >= 8 && i < 16) || (i >= 40 && i < 44);
    assert.equal(e[i] === 0, trimmed, `LBA ${i}`);
  }
  // deallocated blocks are not checked (old data or zeroes are both fine)
  const skipped = ns.verifyStats().skipped;
  ns.read(q, r, 0, 64).waitdone();
  assert.equal(ns.verifyStats().skipped, skipped + 12);
  // this device unmaps them: zeroes
  assert.ok(r.bytes.subarray(8 * 512, 16 * 512).every((b) => b === 0));
  corrupt(image, 10, 512); // a trimmed block: nobody knows what it should hold
  ns.read(q, r, 0, 64).waitdone();
  corrupt(image, 20, 512); // a written one
  assert.equal(verifyError(() => ns.read(q, r, 0, 64).waitdone()).lba, 20);
  // DSM without the deallocate attribute changes nothing
  ranges.setDsmRange(0, 0, 8);
  ns.dsm(q, ranges, 1, 0x1).waitdone();
  assert.notEqual(ns.verifyEntries(3)[0], 0);
});

Deno.test("write zeroes: the table expects zeroes", () => {
  using dev = device("size=64M");
  const { nvme0, image } = dev;
  const ns = new Namespace(nvme0, 1);
  ns.verifyEnable();
  using q = new Qpair(nvme0, 16);
  using w = new Buffer(32 * 512), r = new Buffer(32 * 512);
  fillRandom(w, w.size);
  ns.write(q, w, 0, 32).waitdone();
  ns.writeZeroes(q, 4, 8).waitdone();
  const zero = crc32c(new Uint8Array(512));
  assert.deepEqual(ns.verifyEntries(4, 8), Array(8).fill(zero));
  assert.notEqual(ns.verifyEntries(3)[0], zero);
  ns.read(q, r, 0, 32).waitdone();
  assert.ok(r.bytes.subarray(4 * 512, 12 * 512).every((b) => b === 0));
  // a zeroed block that no longer reads as zeroes is reported
  pwrite(image, 6 * 512 + 7, new Uint8Array([1]));
  const e = verifyError(() => ns.read(q, r, 0, 32).waitdone());
  assert.equal(e.lba, 6);
  assert.equal(e.expected, zero);
});

Deno.test("format clears the table; Write Uncorrectable and Sanitize rejected change nothing", () => {
  using dev = device("size=64M");
  const { nvme0, image } = dev;
  const ns = new Namespace(nvme0, 1);
  ns.verifyEnable();
  using q = new Qpair(nvme0, 16);
  using w = new Buffer(16 * 512);
  ns.write(q, w, 0, 16).waitdone();
  const before = ns.verifyEntries(0, 16);
  assert.ok(before.every((e) => e !== 0));
  // this device rejects both (Invalid Opcode): not executed, table unchanged
  expectStatus("00/01", () => ns.writeUncorrectable(q, 0, 4).waitdone());
  expectStatus("00/01", () => nvme0.sanitize().waitdone());
  assert.deepEqual(ns.verifyEntries(0, 16), before);
  // Namespace.format(): formatted, table empty, verification still on
  ns.format();
  assert.ok(ns.verifyEntries(0, 16).every((e) => e === 0));
  assert.equal(ns.verifyEnabled, true);
  corrupt(image, 3, 512);
  ns.read(q, w, 0, 16).waitdone();
  // Controller.format() of all namespaces clears it too
  ns.write(q, w, 0, 16).waitdone();
  assert.notEqual(ns.verifyEntries(5)[0], 0);
  nvme0.format(0, 0, 0xffffffff).waitdone();
  assert.equal(ns.verifyEntries(5)[0], 0);
  ns.read(q, w, 0, 16).waitdone();
});

Deno.test("format to another LBA size: the table follows", () => {
  using nvme0 = new Controller("qemu:size=64M");
  const ns = new Namespace(nvme0, 1);
  ns.verifyEnable();
  using q = new Qpair(nvme0, 16);
  using w = new Buffer(8 * 4096);
  assert.equal(ns.lbaSize, 512);
  ns.format(4); // LBA format 4: 4096-byte LBAs
  assert.equal(ns.lbaSize, 4096);
  assert.equal(ns.verifyStats().lbaSize, 4096);
  ns.write(q, w, 0, 8).waitdone();
  ns.read(q, w, 0, 8).waitdone();
  assert.equal(ns.verifyStats().checked, 8);
  ns.format(0);
  assert.equal(ns.verifyStats().lbaSize, 512);
});

Deno.test("copy: destination entries follow the sources, copied data passes", () => {
  using dev = device("size=64M");
  const { nvme0, image } = dev;
  const ns = new Namespace(nvme0, 1);
  ns.verifyEnable();
  using q = new Qpair(nvme0, 16);
  using w = new Buffer(16 * 512), r = new Buffer(16 * 512);
  fillRandom(w, w.size);
  ns.write(q, w, 100, 16).waitdone();
  ns.copy(q, 500, [{ lba: 100, count: 4 }, { lba: 110, count: 2 }]).waitdone();
  const src = [...ns.verifyEntries(100, 4), ...ns.verifyEntries(110, 2)];
  assert.deepEqual(ns.verifyEntries(500, 6), src);
  ns.read(q, r, 500, 6).waitdone(); // source stamps in the data: still good
  assert.equal(u64(r.bytes, 4 * 512), 110n);
  corrupt(image, 504, 512);
  assert.equal(verifyError(() => ns.read(q, r, 500, 6).waitdone()).lba, 504);
});

Deno.test("overlapping IO in flight never gives a false report", () => {
  using nvme0 = new Controller("qemu:size=64M");
  const ns = new Namespace(nvme0, 1);
  ns.verifyEnable();
  using q = new Qpair(nvme0, 33);
  const bufs = Array.from(
    { length: 32 },
    (_, i) => new Buffer(16 * 512, `b${i}`),
  );
  try {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    for (let round = 0; round < 4; round++) {
      // 50 writes (and some reads) of random ranges over 16 LBAs, 32 in flight
      for (let i = 0; i < 50; i++) {
        const lba = rand(16), n = 1 + rand(16 - lba);
        const b = bufs[i % 32];
        fillRandom(b, n * 512);
        if (rand(4) === 0) ns.read(q, b, lba, n);
        else ns.write(q, b, lba, n);
      }
      q.waitdone(50);
      using r = new Buffer(16 * 512);
      ns.read(q, r, 0, 16).waitdone();
    }
    // one buffer for many writes in flight: serialized, never mixed up
    using one = new Buffer(512);
    for (let i = 0; i < 16; i++) ns.write(q, one, i, 1);
    q.waitdone(16);
    using r = new Buffer(16 * 512);
    ns.read(q, r, 0, 16).waitdone();
    for (let i = 0; i < 16; i++) assert.equal(u64(r.bytes, i * 512), BigInt(i));
    const s = ns.verifyStats();
    assert.equal(s.badBlocks, 0);
    assert.ok(s.conflicts > 0, "conflicting commands were held back");
  } finally {
    for (const b of bufs) b.close();
  }
});

Deno.test("two qpairs and an ioworker share the table", async () => {
  using nvme0 = new Controller("qemu:size=64M");
  const ns = new Namespace(nvme0, 1);
  ns.verifyEnable();
  using q1 = new Qpair(nvme0, 16), q2 = new Qpair(nvme0, 16);
  using w = new Buffer(8 * 512), r = new Buffer(8 * 512);
  ns.write(q1, w, 0, 8).waitdone();
  ns.read(q2, r, 0, 8).waitdone(); // written on one queue, checked on another
  // an ioworker writes and reads its region, verified through the same table
  const worker = ns.ioworker({
    ioSize: { 1: 2, 8: 1 },
    lbaRandom: true,
    readPercentage: 50,
    regionStart: 1000,
    regionEnd: 1064,
    qdepth: 32,
    time: 1,
  }).start();
  // meanwhile the script works on its own region
  for (let i = 0; i < 50; i++) {
    ns.write(q1, w, 2000 + (i % 8) * 8, 8).waitdone();
    ns.read(q2, r, 2000 + (i % 8) * 8, 8).waitdone();
    await new Promise((res) => setTimeout(res, 5));
  }
  const res = worker.close();
  assert.equal(res.error, 0, res.errorMessage);
  assert.ok(res.ioCountWrite > 0 && res.ioCountRead > 0);
  // what the worker wrote reads back right
  using all = new Buffer(64 * 512);
  ns.read(q1, all, 1000, 64).waitdone();
  const s = ns.verifyStats();
  assert.ok(s.stamped >= res.ioCountWrite);
  assert.equal(s.badBlocks, 0);
});

Deno.test("an ioworker reading corrupt data stops with 07/81 and says where", () => {
  using dev = device("size=64M");
  const { nvme0, image } = dev;
  const ns = new Namespace(nvme0, 1);
  ns.verifyEnable();
  using q = new Qpair(nvme0, 16);
  using w = new Buffer(64 * 512);
  ns.write(q, w, 0, 64).waitdone();
  corrupt(image, 10, 512);
  const warn = console.warn;
  console.warn = () => {};
  try {
    const res = ns.ioworker({
      ioSize: 1,
      lbaRandom: false,
      readPercentage: 100,
      regionStart: 0,
      regionEnd: 64,
      qdepth: 8,
      ioCount: 200,
    }).start().close();
    assert.equal(res.error, 0x781);
    assert.match(
      res.errorMessage ?? "",
      /07\/81 Data Verification Failed: CRC mismatch at LBA 10: expected CRC 0x[0-9a-f]{8}, found/,
    );
  } finally {
    console.warn = warn;
  }
});

Deno.test("verification off: no stamps, no checks; the limit nlbaVerify", () => {
  using dev = device("size=64M");
  const { nvme0, image } = dev;
  const ns = new Namespace(nvme0, 1, 1000);
  using q = new Qpair(nvme0, 16);
  using w = new Buffer(8 * 512);
  assert.equal(ns.verifyEnabled, false);
  assert.equal(ns.verifyStats().enabled, false);
  w.bytes.fill(0xab);
  ns.write(q, w, 0, 8).waitdone();
  assert.equal(w.get(0), 0xab); // not stamped
  assert.throws(() => ns.verifyEntries(0), /no verification table/);
  // on, with a limit: LBAs from 1000 on are stamped but not kept
  assert.equal(ns.verifyEnable(true), true);
  assert.equal(ns.verifyStats().limit, 1000);
  ns.write(q, w, 996, 8).waitdone();
  assert.notEqual(ns.verifyEntries(999)[0], 0);
  assert.equal(ns.verifyEntries(1000)[0], 0);
  assert.equal(u64(w.bytes, 7 * 512), 1003n);
  corrupt(image, 1002, 512);
  ns.read(q, w, 996, 8).waitdone();
  corrupt(image, 998, 512);
  assert.equal(verifyError(() => ns.read(q, w, 996, 8).waitdone()).lba, 998);
  // off again: the corruption is no longer seen
  assert.equal(ns.verifyEnable(false), false);
  assert.equal(ns.verifyEnabled, false);
  ns.read(q, w, 996, 8).waitdone();
  // on again: a fresh table
  assert.equal(ns.verifyEnable(), true);
  assert.equal(ns.verifyEntries(998)[0], 0);
  ns.read(q, w, 996, 8).waitdone();
});

Deno.test("closed objects, commands in flight, bad parameters", () => {
  using nvme0 = new Controller("qemu:size=64M");
  const ns = new Namespace(nvme0, 1);
  assert.equal(ns.verifyEnable(), true);
  assert.equal(ns.verifyEnable(), true); // again: kept
  using q = new Qpair(nvme0, 16);
  using w = new Buffer(4096);
  ns.write(q, w, 0, 8).waitdone();
  // not while commands use the table
  ns.write(q, w, 0, 8);
  assert.throws(() => ns.verifyEnable(false), /in flight/);
  q.waitdone();
  assert.equal(ns.verifyEnable(false), false);
  ns.verifyEnable();
  ns.write(q, w, 0, 8).waitdone();
  // bad parameters
  assert.throws(() => ns.verifyEntries(-1), ParameterError);
  assert.throws(() => ns.verifyEntries(0, 0), ParameterError);
  assert.throws(() => ns.verifyEntries(0, 65537), ParameterError);
  assert.throws(() => new Namespace(nvme0, 1, -1), ParameterError);
  // a second Namespace object sees the same table
  const again = new Namespace(nvme0, 1);
  assert.equal(again.verifyEnabled, true);
  assert.notEqual(again.verifyEntries(0)[0], 0);
  again.close();
  assert.equal(ns.verifyEnabled, true); // not turned on through `again`
  // closing the namespace that turned it on turns it off
  ns.close();
  assert.throws(() => ns.verifyEnable(), NvmeError);
  assert.throws(() => ns.verifyStats(), /closed/);
  assert.equal(ns.verifyEnabled, false);
  const third = new Namespace(nvme0, 1);
  assert.equal(third.verifyEnabled, false);
  third.verifyEnable();
  nvme0.close();
  assert.equal(third.verifyEnabled, false);
  assert.throws(() => third.verifyStats(), ClosedError);
  assert.throws(() => third.verifyEnable(), ClosedError);
});

Deno.test("a reset with writes in flight: their LBAs become unknown, nothing stays locked", () => {
  using nvme0 = new Controller("qemu:size=64M,throttle=200");
  const ns = new Namespace(nvme0, 1);
  ns.verifyEnable();
  const q = new Qpair(nvme0, 16);
  using w = new Buffer(8 * 512);
  ns.write(q, w, 0, 8).waitdone();
  ns.write(q, w, 100, 8).waitdone();
  assert.ok(ns.verifyEntries(100, 8).every((x) => x !== 0));
  const bufs = Array.from({ length: 8 }, () => new Buffer(512));
  try {
    for (let i = 0; i < 8; i++) ns.write(q, bufs[i], 100 + i, 1);
    nvme0.reset(); // the writes are lost (or not): unknown
    const q2 = new Qpair(nvme0, 16);
    const e = ns.verifyEntries(100, 8);
    assert.ok(e.every((x) => x === 0), `entries ${e}`);
    ns.write(q2, w, 100, 8).waitdone(); // not locked
    ns.read(q2, w, 0, 8).waitdone();
    q2.close();
  } finally {
    for (const b of bufs) b.close();
  }
});

/**
 * Buffers: patterns, spec-style field access, dumps, DSM ranges, limits.
 */
import assert from "node:assert/strict";
import {
  Buffer,
  ClosedError,
  libStats,
  ParameterError,
  PTYPE_DWORD,
  PTYPE_RANDOM,
} from "../mod.ts";

Deno.test("patterns: zeros, ones, dword, random with compressibility", () => {
  using z = new Buffer(4096);
  assert.ok(z.bytes.every((b) => b === 0));
  using o = new Buffer(4096, "ones", 1);
  assert.ok(o.bytes.every((b) => b === 0xff));
  using d = new Buffer(4098, "dword", 0x11223344, PTYPE_DWORD);
  assert.equal(d.u32(0), 0x11223344);
  assert.equal(d.u32(4092), 0x11223344);
  assert.deepEqual(
    [...d.slice(4096, 4098)],
    [0x44, 0x33],
    "tail bytes continue the pattern",
  );
  using r = new Buffer(64 * 1024, "random", 25, PTYPE_RANDOM);
  const quarter = 16 * 1024;
  assert.ok(r.slice(quarter).every((b) => b === 0), "75% zeros");
  const head = r.slice(0, quarter);
  const distinct = new Set(head).size;
  assert.ok(distinct > 200, `random part has many byte values (${distinct})`);
  r.fill(PTYPE_RANDOM, 100);
  assert.ok(r.slice(quarter).some((b) => b !== 0));
});

Deno.test("data(end, begin, type) reads spec-style fields", () => {
  using b = new Buffer(512);
  b.write("QEMU NVMe Ctrl      ", 24);
  b.set(0, 0x36);
  b.set(1, 0x1b);
  assert.equal(b.data(1, 0), 0x1b36);
  assert.equal(b.data(0), 0x36, "one byte");
  assert.equal(b.data(43, 24, "str"), "QEMU NVMe Ctrl");
  b.bytes.set([1, 2, 3, 4, 5, 6, 7, 0x80], 100);
  assert.equal(b.data(107, 100, "bigint"), 0x8007060504030201n);
  assert.throws(() => b.data(107, 100), /use type "bigint" above 6 bytes/);
  assert.throws(
    () => b.data(512, 0),
    /byte_end = 512 is out of range: allowed 0\.\.511/,
  );
  assert.throws(
    () => b.data(5, 6),
    /byte_begin = 6 is out of range: allowed 0\.\.5/,
  );
});

Deno.test("dump, DSM ranges, size and offset", () => {
  using b = new Buffer(4096, "dsm");
  b.setDsmRange(0, 0x1234_5678_9an, 8, 0x11);
  b.setDsmRange(1, 7, 1);
  assert.equal(b.u32(0), 0x11);
  assert.equal(b.u32(4), 8);
  assert.equal(b.u64(8), 0x1234_5678_9an);
  assert.equal(b.u64(24), 7n);
  const text = b.dump(32);
  assert.ok(
    text.startsWith(
      "dsm\n00000000  11 00 00 00 08 00 00 00  9a 78 56 34 12 00 00 00",
    ),
    text,
  );
  assert.equal(text.split("\n").length, 3);
  b.offset = 512;
  assert.equal(b.size, 4096 - 512, "size shrinks to fit after the offset");
  assert.equal(b.iova % 4096n, 512n);
  b.size = 100;
  assert.throws(() => (b.offset = 2), /multiple of 4/);
  assert.throws(
    () => (b.size = 4000),
    /Buffer\.size = 4000 is out of range: allowed 0\.\.3584/,
  );
  assert.equal(String(b), "<buffer name: dsm>");
});

Deno.test("bad sizes and patterns, closed buffers", () => {
  assert.throws(() => new Buffer(0), ParameterError);
  assert.throws(
    () => new Buffer(2 ** 30 + 1),
    /new Buffer: Buffer size = 0x40000001 is out of range: allowed 1\.\.0x40000000/,
  );
  assert.throws(
    () => new Buffer(512, "x", 0, 7),
    /new Buffer: ptype must be one of 0, 32, 48879, got 7/,
  );
  assert.throws(
    () => new Buffer(512, "x", 101, PTYPE_RANDOM),
    /pvalue \(random %\) = 101/,
  );
  const b = new Buffer(512, "gone");
  b.close();
  b.close();
  assert.throws(() => b.get(0), ClosedError);
  assert.throws(() => b.bytes, /Buffer "gone" is closed/);
});

Deno.test("buffers come back to the DMA arena", () => {
  const before = libStats();
  const bufs = Array.from({ length: 64 }, () => new Buffer(1 << 20));
  assert.equal(libStats().buffers, before.buffers + 64);
  assert.ok(libStats().dmaUsed >= before.dmaUsed + 64 * (1 << 20));
  bufs.forEach((b) => b.close());
  assert.equal(libStats().buffers, before.buffers);
  assert.equal(libStats().dmaUsed, before.dmaUsed);
});

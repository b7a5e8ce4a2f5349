/**
 * Read/write round trips on the embedded device: 1 LBA up to MDTS (PRP1 only,
 * PRP1+PRP2, PRP lists), buffer offsets, callbacks, the async wait, other I/O.
 */
import assert from "node:assert/strict";
import {
  Buffer,
  Controller,
  Namespace,
  PTYPE_DWORD,
  PTYPE_RANDOM,
  Qpair,
} from "../mod.ts";

/** Fill `buf` with bytes derived from (seed, position) so misplaced data shows. */
function stamp(buf: Buffer, bytes: number, seed: number): void {
  const u8 = buf.bytes;
  const off = buf.offset;
  for (let i = 0; i < bytes; i++) {
    u8[off + i] = (i * 7 + seed + (i >> 9)) & 0xff;
  }
}

function checkStamp(buf: Buffer, bytes: number, seed: number): void {
  const u8 = buf.bytes;
  const off = buf.offset;
  for (let i = 0; i < bytes; i++) {
    if (u8[off + i] !== ((i * 7 + seed + (i >> 9)) & 0xff)) {
      assert.fail(`byte ${i} of ${bytes} differs (seed ${seed})`);
    }
  }
}

Deno.test("write/read round trips from 1 LBA up to MDTS", async (t) => {
  using nvme0 = new Controller("qemu:size=256M");
  const ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 32);
  const mdtsLbas = nvme0.mdts / ns.lbaSize; // 1024 LBAs = 512 KiB
  using wbuf = new Buffer(nvme0.mdts + 4096, "write");
  using rbuf = new Buffer(nvme0.mdts + 4096, "read");
  // PRP cases: one page, exactly a page, two pages (PRP2 = page), three pages
  // (PRP list), a full list, MDTS
  const counts = [1, 7, 8, 9, 16, 17, 24, 100, 512, mdtsLbas - 1, mdtsLbas];
  for (const offset of [0, 512, 4092]) {
    await t.step(`buffer offset ${offset}`, () => {
      let lba = 0;
      for (const n of counts) {
        const bytes = n * ns.lbaSize;
        if (offset + bytes > wbuf.capacity) continue;
        wbuf.offset = offset;
        rbuf.offset = offset;
        stamp(wbuf, bytes, n + offset);
        rbuf.bytes.fill(0xee);
        ns.write(q, wbuf, lba, n).waitdone();
        ns.read(q, rbuf, lba, n).waitdone();
        checkStamp(rbuf, bytes, n + offset);
        // bytes around the transfer are untouched by the device
        if (offset) assert.equal(rbuf.get(offset - 1), 0xee);
        if (offset + bytes < rbuf.capacity) {
          assert.equal(rbuf.get(offset + bytes), 0xee);
        }
        lba += n;
      }
    });
  }
});

Deno.test("each LBA lands at its own address", () => {
  using nvme0 = new Controller("qemu:size=64M,lba=4096");
  const ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 64);
  using buf = new Buffer(4096);
  // write LBA i with its own number, 48 at once (submission batching)
  const bufs: Buffer[] = [];
  for (let i = 0; i < 48; i++) {
    const b = new Buffer(4096, `lba${i}`, 0x1000 + i, PTYPE_DWORD);
    bufs.push(b);
    ns.write(q, b, i * 3, 1);
  }
  q.waitdone(48);
  for (let i = 0; i < 48; i++) {
    ns.read(q, buf, i * 3).waitdone();
    assert.equal(buf.u32(0), 0x1000 + i);
    assert.equal(buf.u32(4092), 0x1000 + i);
    bufs[i].close();
  }
});

Deno.test("hello world: read in the write's callback, waitdone(2)", () => {
  using nvme0 = new Controller("qemu");
  const ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 8);
  using w = new Buffer(512, "w");
  using r = new Buffer(512, "r");
  w.write("hello world");
  const order: string[] = [];
  ns.write(q, w, 0, 1, (cpl) => {
    order.push(`write ${cpl.statusText}`);
    ns.read(q, r, 0, 1, (c2) => order.push(`read ${c2.statusText}`));
  });
  const cdw0 = q.waitdone(2);
  assert.equal(cdw0, 0);
  assert.deepEqual(order, ["write 00/00", "read 00/00"]);
  assert.equal(r.data(10, 0, "str"), "hello world");
  assert.equal(q.outstanding, 0);
});

Deno.test("callback receives the completion fields", () => {
  using nvme0 = new Controller("qemu");
  const ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 8);
  using b = new Buffer(512);
  let seen:
    | { sqid: number; cid: number; phase: number; ok: boolean }
    | undefined;
  ns.read(q, b, 0, 1, (cpl) => {
    seen = { sqid: cpl.sqid, cid: cpl.cid, phase: cpl.phase, ok: cpl.ok };
    assert.equal(cpl.dwords.length, 4);
    assert.ok(cpl.latencyUs >= 0);
  });
  q.waitdone();
  assert.deepEqual(seen, { sqid: q.sqid, cid: 0, phase: 1, ok: true });
  assert.equal(q.latestCid, 0);
});

Deno.test("waitdoneAsync reaps without blocking the event loop", async () => {
  using nvme0 = new Controller("qemu");
  const ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 16);
  using b = new Buffer(64 * 1024, "data", 50, PTYPE_RANDOM);
  using r = new Buffer(64 * 1024);
  for (let i = 0; i < 10; i++) ns.write(q, b, i * 128, 128);
  assert.equal(await q.waitdoneAsync(10), 0);
  ns.read(q, r, 9 * 128, 128);
  await q.waitdoneAsync();
  assert.deepEqual(r.slice(), b.slice());
  // admin too
  assert.equal(await nvme0.getfeatures(7).waitdoneAsync(), (63 << 16) | 63);
});

Deno.test("flush, compare, write zeroes, DSM", () => {
  using nvme0 = new Controller("qemu:size=64M");
  const ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 8);
  using b = new Buffer(4096, "ones", 1);
  using r = new Buffer(4096);
  ns.write(q, b, 100, 8).waitdone();
  ns.flush(q).waitdone();
  ns.compare(q, b, 100, 8).waitdone(); // equal: success
  ns.writeZeroes(q, 100, 4).waitdone();
  ns.read(q, r, 100, 8).waitdone();
  assert.ok(r.slice(0, 2048).every((x) => x === 0), "zeroed");
  assert.ok(r.slice(2048).every((x) => x === 0xff), "untouched");
  using dsm = new Buffer(4096);
  dsm.setDsmRange(0, 104, 4);
  ns.dsm(q, dsm, 1).waitdone();
  ns.read(q, r, 104, 4).waitdone();
  assert.ok(r.slice(0, 2048).every((x) => x === 0), "deallocated reads zero");
});

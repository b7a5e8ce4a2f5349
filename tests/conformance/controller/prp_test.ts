/**
 * Physical Region Page entries and lists (NVMe Base 2.0, "Physical Region
 * Page Entry and List"): PRP1 offsets, PRP2 as a page or a list pointer, a
 * list that starts mid-page and chains to the next list page.
 */
import { Buffer, type Namespace, type Qpair } from "../../../mod.ts";
import { conform, hex, ioCmd, lbaFields, NVM, nvmeTest } from "../_suite.ts";
import { firstDiff, pickLba, readBack, writeRandom } from "../nvm/_io.ts";

const PAGE = 4096;

/** Read `count` LBAs at `lba` with explicit PRP1/PRP2. */
function readRaw(
  ns: Namespace,
  q: Qpair,
  lba: number,
  count: number,
  prp1: bigint,
  prp2: bigint,
) {
  return ioCmd(ns, q, NVM.READ, { ...lbaFields(lba, count), prp1, prp2 });
}

nvmeTest("PRP1 with a dword-aligned offset: the data starts at that offset", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0n1, qpair, rng }) => {
  const n = Math.max(1, Math.floor(2048 / nvme0n1.lbaSize));
  const lba = pickLba(nvme0n1, rng, 64);
  const data = writeRandom(nvme0n1, qpair, rng, lba, n);
  using buf = new Buffer(4 * PAGE);
  for (const off of [4, 0x204, 0xffc, 0x800]) {
    buf.bytes.fill(0);
    buf.offset = off;
    buf.size = data.length;
    nvme0n1.read(qpair, buf, lba, n).waitdone();
    const d = firstDiff(buf.bytes.subarray(off, off + data.length), data);
    conform(
      d < 0 && buf.get(off - 1) === 0 && buf.get(off + data.length) === 0,
      `NVMe Base 2.0, PRP Entry 1: the transfer starts at offset ${
        hex(off)
      } of the page and continues in the page PRP2 names`,
      d >= 0 ? `byte ${d} differs` : "bytes outside the transfer were written",
    );
  }
});

nvmeTest(
  "PRP1 offset that is not dword aligned: refused, or the data is exact",
  {
    needs: ["nvme0n1", "qpair"],
  },
  ({ nvme0n1, qpair, rng }) => {
    const lba = pickLba(nvme0n1, rng, 64);
    const data = writeRandom(nvme0n1, qpair, rng, lba, 1);
    using buf = new Buffer(2 * PAGE);
    const c = readRaw(
      nvme0n1,
      qpair,
      lba,
      1,
      buf.iova + 1n,
      buf.iova + BigInt(PAGE),
    );
    if (c.ok) {
      const d = firstDiff(buf.bytes.subarray(1, 1 + data.length), data);
      conform(
        d < 0,
        "NVMe Base 2.0, PRP Entry 1: a controller that accepts a byte offset transfers to exactly that address",
        `byte ${d} differs`,
      );
    } else {
      conform(
        c.statusText === "00/13" || c.statusText === "00/02",
        "NVMe Base 2.0, PRP offsets are dword aligned: an unaligned one is refused as Invalid PRP Offset (or Invalid Field)",
        c.statusText,
      );
    }
  },
);

nvmeTest("a two-page transfer: PRP2 names the second page directly", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0n1, qpair, rng }) => {
  const n = Math.floor(2 * PAGE / nvme0n1.lbaSize);
  const lba = pickLba(nvme0n1, rng, 64);
  const data = writeRandom(nvme0n1, qpair, rng, lba, n);
  using a = new Buffer(PAGE), b = new Buffer(PAGE); // two separate pages
  const c = readRaw(nvme0n1, qpair, lba, n, a.iova, b.iova);
  conform(
    c.ok,
    "a two-page read with PRP1 and PRP2 as page pointers",
    c.statusText,
  );
  const got = new Uint8Array([...a.slice(0, PAGE), ...b.slice(0, PAGE)]);
  conform(
    firstDiff(got, data) < 0,
    "NVMe Base 2.0, PRP Entry 2: for a transfer of two pages, PRP2 is the second page",
    `byte ${firstDiff(got, data)} differs`,
  );
});

/** Build a PRP list in `list` (at byte `at`) for `pages` data pages; chains at page ends. */
function buildList(list: Buffer, at: number, pages: bigint[]): bigint {
  const dv = new DataView(
    list.bytes.buffer,
    list.bytes.byteOffset,
    list.capacity,
  );
  let pos = at;
  for (let i = 0; i < pages.length; i++) {
    const lastSlot = (pos % PAGE) === PAGE - 8;
    if (lastSlot && i < pages.length - 1) {
      // the last entry of a list page points to the next list page
      const next = pos + 8 + PAGE; // skip one page: the next list page is elsewhere
      dv.setBigUint64(pos, list.iova + BigInt(next - (next % PAGE)), true);
      pos = next - (next % PAGE);
    }
    dv.setBigUint64(pos, pages[i], true);
    pos += 8;
  }
  return list.iova + BigInt(at);
}

nvmeTest("a PRP list: PRP2 points to a list of the remaining pages", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0n1, qpair, rng }) => {
  const pages = 8;
  const n = Math.floor(pages * PAGE / nvme0n1.lbaSize);
  const lba = pickLba(nvme0n1, rng, 64);
  const data = writeRandom(nvme0n1, qpair, rng, lba, n);
  using mem = new Buffer(pages * 2 * PAGE); // data pages scattered: every other page
  using list = new Buffer(3 * PAGE);
  const page = (i: number) => mem.iova + BigInt(i * 2 * PAGE);
  const prp2 = buildList(
    list,
    0,
    Array.from({ length: pages - 1 }, (_, i) => page(i + 1)),
  );
  const c = readRaw(nvme0n1, qpair, lba, n, page(0), prp2);
  conform(c.ok, "a read through a PRP list", c.statusText);
  for (let i = 0; i < pages; i++) {
    const got = mem.bytes.subarray(i * 2 * PAGE, i * 2 * PAGE + PAGE);
    conform(
      firstDiff(got, data.subarray(i * PAGE, (i + 1) * PAGE)) < 0,
      "NVMe Base 2.0, PRP List: each entry names one memory page of the transfer, in order",
      `page ${i} differs`,
    );
  }
});

nvmeTest("a PRP list that starts mid-page and chains to the next list page", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0, nvme0n1, qpair, rng, skip }) => {
  const pages = 6;
  if (nvme0.mdts < pages * PAGE) return skip(`MDTS is below ${pages} pages`);
  const n = Math.floor(pages * PAGE / nvme0n1.lbaSize);
  const lba = pickLba(nvme0n1, rng, 64);
  const data = writeRandom(nvme0n1, qpair, rng, lba, n);
  using mem = new Buffer(pages * PAGE);
  using list = new Buffer(4 * PAGE);
  // two entries fit before the end of the first list page: entry, entry, then a chain pointer
  const prp2 = buildList(
    list,
    PAGE - 24,
    Array.from(
      { length: pages - 1 },
      (_, i) => mem.iova + BigInt((i + 1) * PAGE),
    ),
  );
  const c = readRaw(nvme0n1, qpair, lba, n, mem.iova, prp2);
  conform(
    c.ok,
    "NVMe Base 2.0, PRP List: the list pointer may have an offset, and the last entry of a list page points to the next list page",
    c.statusText,
  );
  const d = firstDiff(mem.slice(0, pages * PAGE), data);
  conform(
    d < 0,
    "NVMe Base 2.0, PRP List chaining: all pages in order",
    `byte ${d} differs`,
  );
});

nvmeTest(
  "a write through a PRP list reads back through the driver's own PRPs",
  {
    needs: ["nvme0n1", "qpair"],
  },
  ({ nvme0n1, qpair, rng }) => {
    const pages = 5;
    const n = Math.floor(pages * PAGE / nvme0n1.lbaSize);
    const lba = pickLba(nvme0n1, rng, 64);
    using mem = new Buffer(pages * 2 * PAGE);
    using list = new Buffer(PAGE);
    rng.fill(mem.bytes);
    const page = (i: number) => mem.iova + BigInt(i * 2 * PAGE);
    const prp2 = buildList(
      list,
      0,
      Array.from({ length: pages - 1 }, (_, i) => page(i + 1)),
    );
    const c = ioCmd(nvme0n1, qpair, NVM.WRITE, {
      ...lbaFields(lba, n),
      prp1: page(0),
      prp2,
    });
    conform(c.ok, "a write through a PRP list", c.statusText);
    const got = readBack(nvme0n1, qpair, lba, n);
    for (let i = 0; i < pages; i++) {
      conform(
        firstDiff(
          got.subarray(i * PAGE, (i + 1) * PAGE),
          mem.bytes.subarray(i * 2 * PAGE, i * 2 * PAGE + PAGE),
        ) < 0,
        "NVMe Base 2.0, PRP List (host to controller): each page is taken from the entry naming it",
        `page ${i} differs`,
      );
    }
  },
);

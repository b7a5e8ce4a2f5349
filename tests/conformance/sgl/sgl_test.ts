/**
 * Scatter gather lists (NVMe Base 2.0, 4.1.2 Scatter Gather List; Identify
 * Controller SGLS; PCIe Transport 1.0: SGLs on I/O commands): Data Block,
 * Segment and Last Segment descriptors, Bit Bucket, Keyed and Transport
 * descriptors where claimed, length mismatches and their statuses, and PRP
 * and SGL commands mixed on one queue. Each test reads SGLS and skips when
 * the controller does not claim what it tests. The descriptors are built
 * here byte by byte in DMA buffers; the SQE's data pointer is given raw.
 */
import { Buffer, type Completion } from "../../../mod.ts";
import {
  Checks,
  conform,
  hex,
  ioCmd,
  lbaFields,
  NVM,
  nvmeTest,
  requireStatus,
  requireSuccess,
} from "../_suite.ts";
import type { TestContext } from "../../../testing.ts";
import { firstDiff, pickLba, readBack, writeRandom } from "../nvm/_io.ts";

/** Descriptor types (byte 15 bits 7:4). */
const T = {
  DATA: 0x0,
  BIT_BUCKET: 0x1,
  SEGMENT: 0x2,
  LAST: 0x3,
  KEYED: 0x4,
  TRANSPORT: 0x5,
} as const;

/** PSDT 01b in CDW0 bits 15:14. */
const PSDT_SGL = 1 << 14;

type Ctx = TestContext<"nvme0n1" | "qpair">;

/** One 16-byte descriptor. */
function desc(
  addr: bigint,
  len: number,
  type: number,
  subtype = 0,
): Uint8Array {
  const d = new Uint8Array(16);
  const dv = new DataView(d.buffer);
  dv.setBigUint64(0, addr, true);
  dv.setUint32(8, len >>> 0, true);
  d[15] = (type << 4 | subtype) & 0xff;
  return d;
}

/** The SQE's DPTR dwords for descriptor `d`. */
function dptr(d: Uint8Array): { prp1: bigint; prp2: bigint } {
  const dv = new DataView(d.buffer, d.byteOffset, 16);
  return {
    prp1: dv.getBigUint64(0, true),
    prp2: dv.getBigUint64(8, true),
  };
}

/** Write descriptors into `list` from byte `at`. */
function putList(list: Buffer, ds: Uint8Array[], at = 0): void {
  ds.forEach((d, i) => list.bytes.set(d, at + i * 16));
}

/** An LBA command with the SGL descriptor `d` in the SQE; returns the completion. */
function sglCmd(
  ctx: Ctx,
  opc: number,
  lba: number,
  n: number,
  d: Uint8Array,
): Completion {
  return ioCmd(ctx.nvme0n1, ctx.qpair, opc | PSDT_SGL, {
    ...lbaFields(lba, n),
    ...dptr(d),
  });
}

/** SGLS, or a skip when SGLs are not supported. */
function needSgl(ctx: Ctx): number {
  const sgls = ctx.nvme0.idCtrl.sgls;
  if (!(sgls & 3)) {
    ctx.skip(`SGLs are not supported (SGLS ${hex(sgls, 8)}, bits 1:0 = 00b)`);
  }
  return sgls;
}

function sglTest(name: string, fn: (ctx: Ctx) => void): void {
  nvmeTest(name, { needs: ["nvme0n1", "qpair"], area: "sgl" }, fn);
}

// --- one Data Block descriptor in the SQE -------------------------------------------------

sglTest(
  "Base 2.0 4.1.2: a read through one SGL Data Block descriptor returns what PRPs return",
  (ctx) => {
    needSgl(ctx);
    const { nvme0n1, qpair, rng } = ctx;
    const ls = nvme0n1.lbaSize, n = 8, lba = pickLba(nvme0n1, rng, n);
    const data = writeRandom(nvme0n1, qpair, rng, lba, n);
    using b = new Buffer(n * ls, "sgl read");
    requireSuccess(
      sglCmd(ctx, NVM.READ, lba, n, desc(b.iova, n * ls, T.DATA)),
      "NVMe Base 2.0, 4.1.2: Read with PSDT 01b and one Data Block descriptor",
    );
    conform(
      firstDiff(data, b.bytes.subarray(0, n * ls)) < 0,
      "NVMe Base 2.0, SGL Data Block: the data lands in the block described",
      `differs at byte ${firstDiff(data, b.bytes.subarray(0, n * ls))}`,
    );
  },
);

sglTest(
  "Base 2.0 4.1.2: a write through one SGL Data Block descriptor reads back through PRPs",
  (ctx) => {
    needSgl(ctx);
    const { nvme0n1, qpair, rng } = ctx;
    const ls = nvme0n1.lbaSize, n = 16, lba = pickLba(nvme0n1, rng, n);
    using b = new Buffer(n * ls, "sgl write");
    rng.fill(b.bytes);
    requireSuccess(
      sglCmd(ctx, NVM.WRITE, lba, n, desc(b.iova, n * ls, T.DATA)),
      "NVMe Base 2.0, Write with one Data Block descriptor",
    );
    conform(
      firstDiff(b.bytes.subarray(0, n * ls), readBack(nvme0n1, qpair, lba, n)) <
        0,
      "NVMe Base 2.0, SGL Data Block: the write takes its data from the block described",
      "read back differs",
    );
  },
);

sglTest(
  "Base 2.0 4.1.2: a Data Block shorter than the transfer → Data SGL Length Invalid",
  (ctx) => {
    needSgl(ctx);
    const ls = ctx.nvme0n1.lbaSize;
    using b = new Buffer(8 * ls, "short");
    requireStatus(
      sglCmd(ctx, NVM.READ, 0, 8, desc(b.iova, 8 * ls - ls, T.DATA)),
      "00/0f",
      "NVMe Base 2.0, SGL: the descriptors describe less data than the command transfers",
    );
  },
);

sglTest(
  "Base 2.0 4.1.2 / SGLS bit 18: a Data Block longer than the transfer → Data SGL Length Invalid unless SGLS bit 18",
  (ctx) => {
    const sgls = needSgl(ctx);
    const ls = ctx.nvme0n1.lbaSize;
    using b = new Buffer(16 * ls, "long");
    const c = sglCmd(ctx, NVM.READ, 0, 8, desc(b.iova, 16 * ls, T.DATA));
    if (sgls & (1 << 18)) {
      requireSuccess(
        c,
        "NVMe Base 2.0, SGLS bit 18 = 1: an SGL longer than the data transfer is allowed",
      );
    } else {
      requireStatus(
        c,
        "00/0f",
        "NVMe Base 2.0, SGLS bit 18 = 0: an SGL longer than the data transfer",
      );
    }
  },
);

sglTest(
  "Base 2.0 4.1.2 / SGLS bits 1:0 = 01b: a Data Block at a byte-aligned address moves the data to exactly that byte",
  (ctx) => {
    const sgls = needSgl(ctx);
    if ((sgls & 3) !== 1) {
      return ctx.skip(
        `SGLS bits 1:0 = ${sgls & 3}: data blocks must be dword aligned`,
      );
    }
    const { nvme0n1, qpair, rng } = ctx;
    const ls = nvme0n1.lbaSize, n = 2, lba = pickLba(nvme0n1, rng, n);
    const data = writeRandom(nvme0n1, qpair, rng, lba, n);
    using b = new Buffer(n * ls + 4096, "odd");
    b.bytes.fill(0xa5);
    requireSuccess(
      sglCmd(ctx, NVM.READ, lba, n, desc(b.iova + 3n, n * ls, T.DATA)),
      "NVMe Base 2.0, Read into a Data Block at an odd address (SGLS 01b: no alignment required)",
    );
    conform(
      b.bytes[2] === 0xa5 && b.bytes[3 + n * ls] === 0xa5 &&
        firstDiff(data, b.bytes.subarray(3, 3 + n * ls)) < 0,
      "NVMe Base 2.0, SGL Data Block: exactly the bytes described are written, from the byte address given",
      "data misplaced or neighbours touched",
    );
  },
);

sglTest(
  "Base 2.0 4.1.2: an SGL transfer of exactly MDTS succeeds; one LBA more → Invalid Field",
  (ctx) => {
    needSgl(ctx);
    const { nvme0, nvme0n1 } = ctx;
    const ls = nvme0n1.lbaSize, max = nvme0.mdts;
    if (!max || max > 2 ** 21) {
      return ctx.skip(`MDTS ${max || "unlimited"}: no limit to reach here`);
    }
    const n = max / ls;
    using b = new Buffer(max + ls, "mdts");
    requireSuccess(
      sglCmd(ctx, NVM.READ, 0, n, desc(b.iova, n * ls, T.DATA)),
      `NVMe Base 2.0, MDTS: a ${max}-byte read described by an SGL`,
    );
    requireStatus(
      sglCmd(ctx, NVM.READ, 0, n + 1, desc(b.iova, (n + 1) * ls, T.DATA)),
      "00/02",
      "NVMe Base 2.0, MDTS applies to SGL transfers too: one LBA over it",
    );
  },
);

// --- segments ---------------------------------------------------------------------------

sglTest(
  "Base 2.0 4.1.2.1: a Last Segment descriptor in the SQE: the data scatters over its Data Blocks in order",
  (ctx) => {
    needSgl(ctx);
    const { nvme0n1, qpair, rng } = ctx;
    const ls = nvme0n1.lbaSize, n = 4, lba = pickLba(nvme0n1, rng, n);
    const data = writeRandom(nvme0n1, qpair, rng, lba, n);
    using list = new Buffer(4096, "sgl list");
    const parts = [0, 1, 2, 3].map((i) => new Buffer(4096, `part ${i}`));
    try {
      // blocks in reverse buffer order, so a device ignoring the list would be seen
      putList(list, parts.map((_, i) => desc(parts[3 - i].iova, ls, T.DATA)));
      requireSuccess(
        sglCmd(ctx, NVM.READ, lba, n, desc(list.iova, 4 * 16, T.LAST)),
        "NVMe Base 2.0, Read with a Last Segment of four Data Block descriptors",
      );
      const got = new Uint8Array(n * ls);
      for (let i = 0; i < n; i++) {
        got.set(parts[3 - i].bytes.subarray(0, ls), i * ls);
      }
      conform(
        firstDiff(data, got) < 0,
        "NVMe Base 2.0, SGL segments: the data fills the Data Blocks in list order",
        `differs at byte ${firstDiff(data, got)}`,
      );
    } finally {
      parts.forEach((p) => p.close());
    }
  },
);

sglTest(
  "Base 2.0 4.1.2.1: a Segment chained to a Last Segment: a write gathers every Data Block",
  (ctx) => {
    needSgl(ctx);
    const { nvme0n1, qpair, rng } = ctx;
    const ls = nvme0n1.lbaSize, n = 6, lba = pickLba(nvme0n1, rng, n);
    using seg1 = new Buffer(4096, "segment 1");
    using seg2 = new Buffer(4096, "segment 2");
    using data = new Buffer(n * ls * 2, "data");
    rng.fill(data.bytes);
    // segment 1: two blocks, then the Last Segment; segment 2: four blocks
    const blk = (i: number) => desc(data.iova + BigInt(i * 2 * ls), ls, T.DATA);
    putList(seg1, [blk(0), blk(1), desc(seg2.iova, 4 * 16, T.LAST)]);
    putList(seg2, [blk(2), blk(3), blk(4), blk(5)]);
    requireSuccess(
      sglCmd(ctx, NVM.WRITE, lba, n, desc(seg1.iova, 3 * 16, T.SEGMENT)),
      "NVMe Base 2.0, Write with a Segment that ends in a Last Segment descriptor",
    );
    const want = new Uint8Array(n * ls);
    for (let i = 0; i < n; i++) {
      want.set(data.bytes.subarray(i * 2 * ls, i * 2 * ls + ls), i * ls);
    }
    conform(
      firstDiff(want, readBack(nvme0n1, qpair, lba, n)) < 0,
      "NVMe Base 2.0, SGL segments: the write takes its data from the Data Blocks of every segment, in order",
      "read back differs",
    );
  },
);

sglTest(
  "Base 2.0 4.1.2.1: three chained segments of one Data Block each",
  (ctx) => {
    needSgl(ctx);
    const { nvme0n1, qpair, rng } = ctx;
    const ls = nvme0n1.lbaSize, n = 3, lba = pickLba(nvme0n1, rng, n);
    const data = writeRandom(nvme0n1, qpair, rng, lba, n);
    using s = new Buffer(3 * 4096, "segments");
    using out = new Buffer(n * ls, "out");
    const at = (k: number) => s.iova + BigInt(k * 4096);
    const blk = (i: number) => desc(out.iova + BigInt(i * ls), ls, T.DATA);
    putList(s, [blk(0), desc(at(1), 32, T.SEGMENT)], 0);
    putList(s, [blk(1), desc(at(2), 16, T.LAST)], 4096);
    putList(s, [blk(2)], 8192);
    requireSuccess(
      sglCmd(ctx, NVM.READ, lba, n, desc(at(0), 32, T.SEGMENT)),
      "NVMe Base 2.0, Read through Segment → Segment → Last Segment",
    );
    conform(
      firstDiff(data, out.bytes.subarray(0, n * ls)) < 0,
      "NVMe Base 2.0, SGL: a chain of segments describes one buffer in order",
      "differs",
    );
  },
);

sglTest(
  "Base 2.0 4.1.2.1: 64 Data Blocks of 512 bytes in one Last Segment",
  (ctx) => {
    needSgl(ctx);
    const { nvme0n1, qpair, rng } = ctx;
    const total = 64 * 512, ls = nvme0n1.lbaSize;
    const n = total / ls, lba = pickLba(nvme0n1, rng, n);
    const data = writeRandom(nvme0n1, qpair, rng, lba, n);
    using list = new Buffer(4096, "list");
    using out = new Buffer(2 * total, "out");
    out.bytes.fill(0);
    // every other 512-byte slot of the buffer
    putList(
      list,
      Array.from(
        { length: 64 },
        (_, i) => desc(out.iova + BigInt(i * 1024), 512, T.DATA),
      ),
    );
    requireSuccess(
      sglCmd(ctx, NVM.READ, lba, n, desc(list.iova, 64 * 16, T.LAST)),
      "NVMe Base 2.0, Read with a Last Segment of 64 Data Blocks",
    );
    const got = new Uint8Array(total);
    for (let i = 0; i < 64; i++) {
      got.set(out.bytes.subarray(i * 1024, i * 1024 + 512), i * 512);
    }
    conform(
      firstDiff(data, got) < 0 &&
        out.bytes.subarray(512, 1024).every((x) => x === 0),
      "NVMe Base 2.0, SGL: each Data Block gets its part of the data and the gaps between them stay untouched",
      "data misplaced",
    );
  },
);

sglTest(
  "Base 2.0 4.1.2.1: Data Blocks in a segment that add up to less than the transfer → Data SGL Length Invalid",
  (ctx) => {
    needSgl(ctx);
    const ls = ctx.nvme0n1.lbaSize;
    using list = new Buffer(4096, "list");
    using out = new Buffer(4 * ls, "out");
    putList(list, [
      desc(out.iova, ls, T.DATA),
      desc(out.iova + BigInt(ls), ls, T.DATA),
    ]);
    requireStatus(
      sglCmd(ctx, NVM.READ, 0, 4, desc(list.iova, 32, T.LAST)),
      "00/0f",
      "NVMe Base 2.0, SGL: two blocks of one LBA each for a 4-LBA read",
    );
  },
);

sglTest(
  "Base 2.0 4.1.2.1: a segment descriptor whose length is not a multiple of 16 → Invalid SGL Segment Descriptor",
  (ctx) => {
    needSgl(ctx);
    const ls = ctx.nvme0n1.lbaSize;
    using list = new Buffer(4096, "list");
    using out = new Buffer(ls, "out");
    putList(list, [desc(out.iova, ls, T.DATA)]);
    requireStatus(
      sglCmd(ctx, NVM.READ, 0, 1, desc(list.iova, 24, T.LAST)),
      "00/0d",
      "NVMe Base 2.0, SGL Last Segment descriptor: the length is 24 bytes (descriptors are 16 bytes)",
    );
  },
);

sglTest(
  "Base 2.0 4.1.2.1: a Last Segment that holds a Segment descriptor → Invalid SGL Segment Descriptor",
  (ctx) => {
    needSgl(ctx);
    const ls = ctx.nvme0n1.lbaSize;
    using list = new Buffer(4096, "list");
    using list2 = new Buffer(4096, "list 2");
    using out = new Buffer(2 * ls, "out");
    putList(list2, [desc(out.iova + BigInt(ls), ls, T.DATA)]);
    putList(list, [
      desc(out.iova, ls, T.DATA),
      desc(list2.iova, 16, T.SEGMENT),
    ]);
    requireStatus(
      sglCmd(ctx, NVM.READ, 0, 2, desc(list.iova, 32, T.LAST)),
      "00/0d",
      "NVMe Base 2.0, SGL Last Segment: it is the last one, so it cannot point to another segment",
    );
  },
);

// --- descriptor types ----------------------------------------------------------------------

sglTest(
  "Base 2.0 4.1.2 / SGLS bit 16: Bit Bucket on a read discards that data when claimed; SGL Descriptor Type Invalid when not",
  (ctx) => {
    const sgls = needSgl(ctx);
    const { nvme0n1, qpair, rng } = ctx;
    const ls = nvme0n1.lbaSize, n = 3, lba = pickLba(nvme0n1, rng, n);
    const data = writeRandom(nvme0n1, qpair, rng, lba, n);
    using list = new Buffer(4096, "list");
    using out = new Buffer(2 * ls, "out");
    putList(list, [
      desc(out.iova, ls, T.DATA),
      desc(0n, ls, T.BIT_BUCKET),
      desc(out.iova + BigInt(ls), ls, T.DATA),
    ]);
    const c = sglCmd(ctx, NVM.READ, lba, n, desc(list.iova, 48, T.LAST));
    if (!(sgls & (1 << 16))) {
      return requireStatus(
        c,
        "00/11",
        "NVMe Base 2.0, SGLS bit 16 = 0: a Bit Bucket descriptor",
      );
    }
    requireSuccess(
      c,
      "NVMe Base 2.0, Read with a Bit Bucket (SGLS bit 16 = 1)",
    );
    const want = new Uint8Array(2 * ls);
    want.set(data.subarray(0, ls));
    want.set(data.subarray(2 * ls, 3 * ls), ls);
    conform(
      firstDiff(want, out.bytes.subarray(0, 2 * ls)) < 0,
      "NVMe Base 2.0, Bit Bucket: the LBA it covers is read and discarded; the others land in their blocks",
      "differs",
    );
  },
);

sglTest(
  "Base 2.0 4.1.2 / SGLS bit 2: a Keyed Data Block descriptor when not claimed → SGL Descriptor Type Invalid",
  (ctx) => {
    const sgls = needSgl(ctx);
    if (sgls & 4) {
      return ctx.skip("Keyed SGL Data Blocks are supported (SGLS bit 2 = 1)");
    }
    using b = new Buffer(4096, "keyed");
    requireStatus(
      sglCmd(ctx, NVM.READ, 0, 1, desc(b.iova, ctx.nvme0n1.lbaSize, T.KEYED)),
      "00/11",
      "NVMe Base 2.0, SGLS bit 2 = 0: a Keyed SGL Data Block descriptor (4h)",
    );
  },
);

sglTest(
  "Base 2.0 4.1.2 / SGLS bit 21: a Transport SGL Data Block when not claimed → SGL Descriptor Type Invalid",
  (ctx) => {
    const sgls = needSgl(ctx);
    if (sgls & (1 << 21)) {
      return ctx.skip("Transport SGL Data Blocks are supported (SGLS bit 21)");
    }
    using b = new Buffer(4096, "transport");
    requireStatus(
      sglCmd(
        ctx,
        NVM.READ,
        0,
        1,
        desc(b.iova, ctx.nvme0n1.lbaSize, T.TRANSPORT),
      ),
      "00/11",
      "NVMe Base 2.0, SGLS bit 21 = 0: a Transport SGL Data Block descriptor (5h)",
    );
  },
);

sglTest(
  "Base 2.0 4.1.2: reserved SGL descriptor types (6h..Eh) → SGL Descriptor Type Invalid",
  (ctx) => {
    needSgl(ctx);
    using b = new Buffer(4096, "reserved");
    const bad: string[] = [];
    for (const t of [0x6, 0x9, 0xe]) {
      const c = sglCmd(
        ctx,
        NVM.READ,
        0,
        1,
        desc(b.iova, ctx.nvme0n1.lbaSize, t),
      );
      if (c.statusText.toLowerCase() !== "00/11") {
        bad.push(`type ${hex(t)}: ${c.statusText}`);
      }
    }
    conform(
      bad.length === 0,
      "NVMe Base 2.0, SGL Descriptor Type: reserved types → 00/11 SGL Descriptor Type Invalid",
      bad.join(", "),
    );
  },
);

sglTest(
  "Base 2.0 4.1.2 / SGLS bit 20: a Data Block with the Offset subtype when not claimed → an SGL error",
  (ctx) => {
    const sgls = needSgl(ctx);
    if (sgls & (1 << 20)) {
      return ctx.skip("the Address field may be an offset (SGLS bit 20 = 1)");
    }
    using b = new Buffer(4096, "offset");
    requireStatus(
      // a valid address in the field: a device that ignores the subtype writes there
      sglCmd(ctx, NVM.READ, 0, 1, desc(b.iova, ctx.nvme0n1.lbaSize, T.DATA, 1)),
      ["00/11", "00/16"],
      "NVMe Base 2.0, SGL descriptor subtype 1h (offset) when SGLS bit 20 = 0: SGL Descriptor Type Invalid or SGL Offset Invalid",
    );
  },
);

sglTest(
  "Base 2.0 4.1.2: a Data Block descriptor of length 0 in a segment describes no data",
  (ctx) => {
    needSgl(ctx);
    const { nvme0n1, qpair, rng } = ctx;
    const ls = nvme0n1.lbaSize, n = 2, lba = pickLba(nvme0n1, rng, n);
    const data = writeRandom(nvme0n1, qpair, rng, lba, n);
    using list = new Buffer(4096, "list");
    using out = new Buffer(n * ls, "out");
    putList(list, [
      desc(out.iova, ls, T.DATA),
      desc(out.iova, 0, T.DATA),
      desc(out.iova + BigInt(ls), ls, T.DATA),
    ]);
    requireSuccess(
      sglCmd(ctx, NVM.READ, lba, n, desc(list.iova, 48, T.LAST)),
      "NVMe Base 2.0, SGL: a zero-length Data Block between two others",
    );
    conform(
      firstDiff(data, out.bytes.subarray(0, n * ls)) < 0,
      "NVMe Base 2.0, SGL: a Data Block of length 0 transfers nothing; the next block gets the next data",
      "differs",
    );
  },
);

// --- other commands, mixed PRP/SGL -------------------------------------------------------

sglTest(
  "NVM 1.0 Compare / Base 2.0 4.1.2: Compare with data described by an SGL",
  (ctx) => {
    needSgl(ctx);
    const { nvme0, nvme0n1, qpair, rng } = ctx;
    if (!(nvme0.idCtrl.oncs & 1)) {
      return ctx.skip("Compare is not supported (ONCS bit 0 = 0)");
    }
    const ls = nvme0n1.lbaSize, n = 4, lba = pickLba(nvme0n1, rng, n);
    const data = writeRandom(nvme0n1, qpair, rng, lba, n);
    using b = new Buffer(n * ls, "cmp");
    b.write(data);
    requireSuccess(
      sglCmd(ctx, NVM.COMPARE, lba, n, desc(b.iova, n * ls, T.DATA)),
      "NVM Command Set 1.0, Compare of equal data described by an SGL",
    );
    b.bytes[ls + 1] ^= 0x40;
    requireStatus(
      sglCmd(ctx, NVM.COMPARE, lba, n, desc(b.iova, n * ls, T.DATA)),
      "02/85",
      "NVM Command Set 1.0, Compare of differing data described by an SGL → Compare Failure",
    );
  },
);

sglTest(
  "Base 2.0 4.1.2: PRP and SGL commands mixed in flight on one queue: each moves its own data",
  (ctx) => {
    needSgl(ctx);
    const { nvme0n1, qpair, rng } = ctx;
    const ls = nvme0n1.lbaSize, n = 8, k = 8;
    const lba0 = pickLba(nvme0n1, rng, n * k * 2, n);
    const bufs = Array.from(
      { length: k },
      (_, i) => new Buffer(n * ls, `mixed ${i}`),
    );
    try {
      bufs.forEach((b) => rng.fill(b.bytes));
      // submit all, alternating PRP and SGL, then reap them together
      bufs.forEach((b, i) =>
        nvme0n1.write(qpair, b, lba0 + i * n, n, { sgl: i % 2 === 1 })
      );
      qpair.waitdone(k);
      const back = bufs.map((_, i) => new Buffer(n * ls, `back ${i}`));
      try {
        back.forEach((b, i) =>
          nvme0n1.read(qpair, b, lba0 + i * n, n, { sgl: i % 2 === 0 })
        );
        qpair.waitdone(k);
        const bad = bufs.map((b, i) =>
          firstDiff(
            b.bytes.subarray(0, n * ls),
            back[i].bytes.subarray(0, n * ls),
          )
        ).map((d, i) => d < 0 ? "" : `command ${i}`).filter((x) => x);
        conform(
          bad.length === 0,
          "NVMe Base 2.0, PSDT is per command: PRP and SGL commands on one queue each use their own data pointer",
          `data differs for ${bad.join(", ")}`,
        );
      } finally {
        back.forEach((b) => b.close());
      }
    } finally {
      bufs.forEach((b) => b.close());
    }
  },
);

nvmeTest(
  "Base 2.0 4.1.2 / NVM 1.0 5.3: SGL data with a separate metadata buffer (PSDT 01b: MPTR points at contiguous metadata)",
  {
    needs: ["nvme0n1", "qpair"],
    qemu: "size=16M,ms=8",
    shareDevice: true,
    area: "sgl",
  },
  (ctx) => {
    needSgl(ctx);
    const { nvme0n1, qpair, rng, skip } = ctx;
    const ms = nvme0n1.metadataSize;
    if (!ms || (nvme0n1.identifyData[26] & 0x10)) {
      return skip(
        "namespace 1 has no separate metadata (MS 0 or extended LBAs)",
      );
    }
    const ls = nvme0n1.lbaSize, n = 4, lba = 16;
    using d = new Buffer(n * ls, "d");
    using m = new Buffer(4096, "m");
    rng.fill(d.bytes);
    rng.fill(m.bytes);
    nvme0n1.write(qpair, d, lba, n, { sgl: true, meta: m }).waitdone();
    using d2 = new Buffer(n * ls, "d2");
    using m2 = new Buffer(4096, "m2");
    nvme0n1.read(qpair, d2, lba, n, { meta: m2 }).waitdone();
    conform(
      firstDiff(d.bytes.subarray(0, n * ls), d2.bytes.subarray(0, n * ls)) <
          0 &&
        firstDiff(m.bytes.subarray(0, n * ms), m2.bytes.subarray(0, n * ms)) <
          0,
      "NVMe Base 2.0, PSDT 01b: data through the SGL and metadata through MPTR both reach the media",
      "data or metadata differs",
    );
  },
);

sglTest(
  "Base 2.0 4.1.2: a reserved descriptor type inside a segment → SGL Descriptor Type Invalid",
  (ctx) => {
    needSgl(ctx);
    const ls = ctx.nvme0n1.lbaSize;
    using list = new Buffer(4096, "list");
    using out = new Buffer(2 * ls, "out");
    const data = (i: number) => desc(out.iova + BigInt(i * ls), ls, T.DATA);
    const bad = (i: number) => desc(out.iova + BigInt(i * ls), ls, 0x7);
    // independent checks: the reserved descriptor first in the list, then last
    const checks = new Checks();
    for (
      const [where, ds] of [["first", [bad(0), data(1)]], ["last", [
        data(0),
        bad(1),
      ]]] as const
    ) {
      putList(list, [...ds]);
      checks.run(() =>
        requireStatus(
          sglCmd(ctx, NVM.READ, 0, 2, desc(list.iova, 32, T.LAST)),
          "00/11",
          `NVMe Base 2.0, SGL Descriptor Type: a reserved type (7h), ${where} in a Last Segment`,
        )
      );
    }
    checks.done();
  },
);

sglTest(
  "Base 2.0 4.1.2 / SGLS bit 18: a Data Block after the data is exhausted → Data SGL Length Invalid unless SGLS bit 18",
  (ctx) => {
    const sgls = needSgl(ctx);
    const ls = ctx.nvme0n1.lbaSize;
    using list = new Buffer(4096, "list");
    using out = new Buffer(3 * ls, "out");
    putList(list, [
      desc(out.iova, ls, T.DATA),
      desc(out.iova + BigInt(ls), ls, T.DATA),
      desc(out.iova + BigInt(2 * ls), ls, T.DATA),
    ]);
    const c = sglCmd(ctx, NVM.READ, 0, 2, desc(list.iova, 48, T.LAST));
    if (sgls & (1 << 18)) {
      requireSuccess(
        c,
        "NVMe Base 2.0, SGLS bit 18 = 1: an SGL longer than the data",
      );
    } else {
      requireStatus(
        c,
        "00/0f",
        "NVMe Base 2.0, SGLS bit 18 = 0: three one-LBA Data Blocks for a two-LBA read",
      );
    }
  },
);

sglTest(
  "Base 2.0 4.1.2.1: segments chained four deep, each list of a different length",
  (ctx) => {
    needSgl(ctx);
    const { nvme0n1, qpair, rng } = ctx;
    const ls = nvme0n1.lbaSize, n = 7, lba = pickLba(nvme0n1, rng, n);
    const data = writeRandom(nvme0n1, qpair, rng, lba, n);
    using s = new Buffer(4 * 4096, "segments");
    using out = new Buffer(n * ls, "out");
    const at = (k: number) => s.iova + BigInt(k * 4096);
    const blk = (i: number) => desc(out.iova + BigInt(i * ls), ls, T.DATA);
    // 1 block + Segment; 2 blocks + Segment; 3 blocks + Last Segment; 1 block
    putList(s, [blk(0), desc(at(1), 48, T.SEGMENT)], 0);
    putList(s, [blk(1), blk(2), desc(at(2), 64, T.SEGMENT)], 4096);
    putList(s, [blk(3), blk(4), blk(5), desc(at(3), 16, T.LAST)], 8192);
    putList(s, [blk(6)], 12288);
    requireSuccess(
      sglCmd(ctx, NVM.READ, lba, n, desc(at(0), 32, T.SEGMENT)),
      "NVMe Base 2.0, Read through Segment → Segment → Segment → Last Segment",
    );
    conform(
      firstDiff(data, out.bytes.subarray(0, n * ls)) < 0,
      "NVMe Base 2.0, SGL: a chain of segments describes one buffer in order",
      "differs",
    );
  },
);

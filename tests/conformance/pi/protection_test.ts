/**
 * End-to-end data protection and metadata (NVM Command Set 1.0, 5.2 End-to-end
 * Data Protection, 5.3 Metadata; Read/Write PRINFO; Identify Namespace
 * FLBAS/MC/DPC/DPS): protection types 1, 2 and 3 with separate and extended
 * metadata, PRACT and PRCHK combinations, guard, application and reference
 * tag checks and their statuses. Each test reads namespace 1's format and
 * skips when it does not have the protection setting the test needs; on the
 * embedded device the tests that need one setting share one device with
 * it (`ms=8,pi=1`, `mset=1`, `pi=2`, `pi=3`, `ms=16`).
 */
import { Buffer } from "../../../mod.ts";
import {
  Checks,
  conform,
  hex,
  nvmeTest,
  requireStatus,
  requireSuccess,
} from "../_suite.ts";
import type { TestContext } from "../../../testing.ts";
import {
  crc16,
  DEV,
  extIo,
  fillExtended,
  fillProtected,
  getTuple,
  needPi,
  type PiInfo,
  piOffset,
  PR,
  putTuple,
  sepIo,
} from "./_pi.ts";

type Ctx = TestContext<"nvme0n1" | "qpair">;

function piTest(
  name: string,
  dev: string,
  fn: (ctx: Ctx) => void,
): void {
  nvmeTest(name, {
    needs: ["nvme0n1", "qpair"],
    qemu: dev,
    shareDevice: true,
    area: "pi",
  }, fn);
}

/** Buffers for n LBAs: data and separate metadata. */
function bufs(p: PiInfo, n: number): { data: Buffer; meta: Buffer } {
  return {
    data: new Buffer(Math.max(4096, n * p.lba), "pi data"),
    meta: new Buffer(Math.max(4096, n * p.ms), "pi metadata"),
  };
}

// --- Identify -------------------------------------------------------------------------

piTest(
  "NVM 1.0 5.2 / Identify Namespace: the protection type in use is one DPC claims, with metadata for it",
  DEV.pi1,
  ({ nvme0n1, skip }) => {
    const p = needPi(nvme0n1, skip, {});
    conform(
      !!(p.dpc & (1 << (p.type - 1))),
      "NVM Command Set 1.0, Identify Namespace DPS: the protection type enabled is one that DPC says is supported",
      `DPS type ${p.type}, DPC ${hex(p.dpc, 2)}`,
    );
    conform(
      p.ms >= 8,
      "NVM Command Set 1.0, 5.2: protection information takes 8 bytes of each LBA's metadata",
      `MS ${p.ms}`,
    );
    conform(
      p.first ? !!(p.dpc & 0x08) : !!(p.dpc & 0x10),
      "NVM Command Set 1.0, Identify Namespace DPC bits 3/4: the PI position in use (DPS bit 3) is supported",
      `DPS ${p.first ? "first" : "last"} 8 bytes, DPC ${hex(p.dpc, 2)}`,
    );
    conform(
      p.ext ? !!(p.mc & 1) : !!(p.mc & 2),
      "NVM Command Set 1.0, Identify Namespace MC: the metadata layout in use (FLBAS bit 4) is one MC supports",
      `FLBAS extended ${p.ext}, MC ${hex(p.mc, 2)}`,
    );
  },
);

piTest(
  "NVM 1.0 5.3 / Identify Namespace: metadata without protection: DPS type 0, MC supports the layout",
  DEV.md8,
  ({ nvme0n1, skip }) => {
    const p = needPi(nvme0n1, skip, { pi: false });
    conform(
      p.ext ? !!(p.mc & 1) : !!(p.mc & 2),
      "NVM Command Set 1.0, Identify Namespace MC: the metadata layout in use is supported",
      `extended ${p.ext}, MC ${hex(p.mc, 2)}`,
    );
  },
);

// --- PRACT = 1: the controller generates and strips --------------------------------------

piTest(
  "NVM 1.0 5.2.1.1: a write with PRACT = 1 stores a guard of the data, the application tag and the LBA as reference tag (type 1)",
  DEV.pi1,
  ({ nvme0n1, qpair, rng, skip }) => {
    const p = needPi(nvme0n1, skip, { type: 1, ext: false });
    const n = 4, lba = 64;
    const { data, meta } = bufs(p, n);
    using _d = data, _m = meta;
    rng.fill(data.bytes);
    requireSuccess(
      sepIo(nvme0n1, qpair, "write", data, meta, lba, n, {
        prinfo: PR.PRACT,
        reftag: lba,
        apptag: 0xbeef,
      }),
      "NVM Command Set 1.0, Write with PRACT = 1 (the controller inserts the PI)",
    );
    using m2 = new Buffer(4096, "md read");
    using d2 = new Buffer(n * p.lba, "data read");
    requireSuccess(
      sepIo(nvme0n1, qpair, "read", d2, m2, lba, n, { prinfo: 0 }),
      "NVM Command Set 1.0, Read with PRACT = 0, no checks (the PI comes back as metadata)",
    );
    for (let i = 0; i < n; i++) {
      const t = getTuple(m2.bytes, i * p.ms + piOffset(p));
      const g = crc16(data.bytes.subarray(i * p.lba, (i + 1) * p.lba));
      conform(
        t.guard === g && t.app === 0xbeef && t.ref === lba + i,
        "NVM Command Set 1.0, 5.2.1.1 PRACT = 1 on write: guard = CRC-16 of the data, application tag = the command's, reference tag = ILBRT + i (type 1: the LBA)",
        `LBA ${lba + i}: guard ${hex(t.guard, 4)} (CRC ${hex(g, 4)}), app ${
          hex(t.app, 4)
        }, ref ${hex(t.ref)}`,
      );
    }
  },
);

piTest(
  "NVM 1.0 5.2.1.2: a read with PRACT = 1 and every check passes on PI the controller generated",
  DEV.pi1,
  ({ nvme0n1, qpair, rng, skip }) => {
    const p = needPi(nvme0n1, skip, { ext: false });
    const n = 8, lba = 128;
    const { data, meta } = bufs(p, n);
    using _d = data, _m = meta;
    rng.fill(data.bytes);
    sepIo(nvme0n1, qpair, "write", data, meta, lba, n, {
      prinfo: PR.PRACT,
      reftag: lba,
      apptag: 0x0102,
    });
    using d2 = new Buffer(n * p.lba, "read");
    requireSuccess(
      sepIo(nvme0n1, qpair, "read", d2, meta, lba, n, {
        prinfo: PR.PRACT | PR.ALL,
        reftag: lba,
        apptag: 0x0102,
        appmask: 0xffff,
      }),
      "NVM Command Set 1.0, Read with PRACT = 1 and PRCHK guard, application and reference tag",
    );
    conform(
      d2.bytes.subarray(0, n * p.lba).every((x, i) => x === data.bytes[i]),
      "NVM Command Set 1.0, Read: the data written comes back",
      "data differs",
    );
  },
);

piTest(
  "NVM 1.0 5.2.1.2: a read with PRACT = 1 on 8-byte metadata transfers no metadata (the PI is stripped)",
  DEV.pi1,
  ({ nvme0n1, qpair, rng, skip }) => {
    const p = needPi(nvme0n1, skip, { ext: false, ms: 8 });
    const n = 2, lba = 200;
    const { data, meta } = bufs(p, n);
    using _d = data, _m = meta;
    rng.fill(data.bytes);
    sepIo(nvme0n1, qpair, "write", data, meta, lba, n, {
      prinfo: PR.PRACT,
      reftag: lba,
    });
    meta.bytes.fill(0xee);
    requireSuccess(
      sepIo(nvme0n1, qpair, "read", data, meta, lba, n, {
        prinfo: PR.PRACT,
        reftag: lba,
      }),
      "NVM Command Set 1.0, Read with PRACT = 1",
    );
    conform(
      meta.bytes.subarray(0, n * 8).every((x) => x === 0xee),
      "NVM Command Set 1.0, 5.2.1.2: with PRACT = 1 and 8 bytes of metadata (all PI) the controller strips the PI: no metadata reaches the host",
      "the metadata buffer was written",
    );
  },
);

// --- PRACT = 0: the host's PI is checked ---------------------------------------------------

piTest(
  "NVM 1.0 5.2.1.1: a write with PRACT = 0 and a correct host PI passes every check and is stored as sent",
  DEV.pi1,
  ({ nvme0n1, qpair, rng, skip }) => {
    const p = needPi(nvme0n1, skip, { type: 1, ext: false });
    const n = 4, lba = 300;
    const { data, meta } = bufs(p, n);
    using _d = data, _m = meta;
    fillProtected(p, rng, data.bytes, meta.bytes, lba, n, 0x4242);
    requireSuccess(
      sepIo(nvme0n1, qpair, "write", data, meta, lba, n, {
        prinfo: PR.ALL,
        reftag: lba,
        apptag: 0x4242,
        appmask: 0xffff,
      }),
      "NVM Command Set 1.0, Write with PRACT = 0, PRCHK all and correct PI",
    );
    using m2 = new Buffer(4096, "md read");
    using d2 = new Buffer(n * p.lba, "read");
    sepIo(nvme0n1, qpair, "read", d2, m2, lba, n, {});
    conform(
      m2.bytes.subarray(0, n * p.ms).every((x, i) => x === meta.bytes[i]),
      "NVM Command Set 1.0, 5.3: the metadata written with PRACT = 0 is stored and read back unchanged",
      "metadata differs",
    );
  },
);

function badWrite(
  ctx: Ctx,
  corrupt: "guard" | "app" | "ref",
  prinfo: number,
  expect: string,
  rule: string,
  dev = "pi1",
): void {
  const { nvme0n1, qpair, rng, skip } = ctx;
  const p = needPi(nvme0n1, skip, {
    ext: false,
    type: dev === "pi1" ? 1 : undefined,
  });
  const n = 2, lba = 400;
  const { data, meta } = bufs(p, n);
  using _d = data, _m = meta;
  fillProtected(p, rng, data.bytes, meta.bytes, lba, n, 0x5555);
  const at = 1 * p.ms + piOffset(p); // the second block's tuple
  const t = getTuple(meta.bytes, at);
  if (corrupt === "guard") t.guard ^= 0x0001;
  if (corrupt === "app") t.app ^= 0x00ff;
  if (corrupt === "ref") t.ref = (t.ref + 7) >>> 0;
  putTuple(meta.bytes, at, t);
  const c = sepIo(nvme0n1, qpair, "write", data, meta, lba, n, {
    prinfo,
    reftag: lba,
    apptag: 0x5555,
    appmask: 0xffff,
  });
  if (expect === "success") requireSuccess(c, rule);
  else requireStatus(c, expect, rule);
}

piTest(
  "NVM 1.0 5.2.1.1: a write whose guard does not match the data, PRCHK guard → End-to-end Guard Check Error",
  DEV.pi1,
  (ctx) =>
    badWrite(
      ctx,
      "guard",
      PR.GUARD,
      "02/82",
      "NVM Command Set 1.0, Write with PRACT = 0, PRCHK bit 2: a guard that does not match the data",
    ),
);

piTest(
  "NVM 1.0 5.2.1.1: a write whose application tag differs, PRCHK application tag → End-to-end Application Tag Check Error",
  DEV.pi1,
  (ctx) =>
    badWrite(
      ctx,
      "app",
      PR.APP,
      "02/83",
      "NVM Command Set 1.0, Write with PRCHK bit 1 and mask FFFFh: an application tag other than LBAT",
    ),
);

piTest(
  "NVM 1.0 5.2.1.1: a write whose reference tag is not the expected one, PRCHK reference tag → End-to-end Reference Tag Check Error",
  DEV.pi1,
  (ctx) =>
    badWrite(
      ctx,
      "ref",
      PR.REF,
      "02/84",
      "NVM Command Set 1.0, Write with PRCHK bit 0: a reference tag other than ILBRT + i",
    ),
);

piTest(
  "NVM 1.0 5.2.1.1: with PRCHK = 000b a wrong guard, application and reference tag are all accepted",
  DEV.pi1,
  (ctx) => {
    badWrite(
      ctx,
      "guard",
      0,
      "success",
      "NVM Command Set 1.0, Write with PRACT = 0 and no checks: a bad guard is not checked",
    );
    badWrite(
      ctx,
      "ref",
      0,
      "success",
      "NVM Command Set 1.0, Write with no checks: a bad reference tag is not checked",
    );
  },
);

piTest(
  "NVM 1.0 5.2.1.1: only the checks PRCHK selects apply (a bad guard with only the reference tag checked passes)",
  DEV.pi1,
  (ctx) =>
    badWrite(
      ctx,
      "guard",
      PR.REF | PR.APP,
      "success",
      "NVM Command Set 1.0, Write with PRCHK application and reference tag only: the guard is not checked",
    ),
);

piTest(
  "NVM 1.0 5.2.1.1: the application tag mask: a difference in masked-off bits passes",
  DEV.pi1,
  ({ nvme0n1, qpair, rng, skip }) => {
    const p = needPi(nvme0n1, skip, { ext: false, type: [1, 2] });
    const n = 1, lba = 500;
    const { data, meta } = bufs(p, n);
    using _d = data, _m = meta;
    fillProtected(p, rng, data.bytes, meta.bytes, lba, n, 0x12ab);
    requireSuccess(
      sepIo(nvme0n1, qpair, "write", data, meta, lba, n, {
        prinfo: PR.APP,
        reftag: lba,
        apptag: 0x12cd,
        appmask: 0xff00,
      }),
      "NVM Command Set 1.0, application tag check with LBATM FF00h: only the high byte is compared (12h = 12h)",
    );
    requireStatus(
      sepIo(nvme0n1, qpair, "write", data, meta, lba, n, {
        prinfo: PR.APP,
        reftag: lba,
        apptag: 0x13ab,
        appmask: 0xff00,
      }),
      "02/83",
      "NVM Command Set 1.0, application tag check with LBATM FF00h: a difference in the high byte",
    );
  },
);

piTest(
  "NVM 1.0 5.2.1.3: type 1: ILBRT that does not match the SLBA with the reference tag checked → Invalid Protection Information",
  DEV.pi1,
  ({ nvme0n1, qpair, rng, skip }) => {
    const p = needPi(nvme0n1, skip, { ext: false, type: 1 });
    const n = 1, lba = 600;
    const { data, meta } = bufs(p, n);
    using _d = data, _m = meta;
    fillProtected(p, rng, data.bytes, meta.bytes, lba, n, 0, lba + 1);
    requireStatus(
      sepIo(nvme0n1, qpair, "write", data, meta, lba, n, {
        prinfo: PR.REF,
        reftag: lba + 1,
      }),
      ["01/81", "02/84"],
      "NVM Command Set 1.0, Type 1 protection: ILBRT must equal the low 32 bits of SLBA when the reference tag is checked",
    );
  },
);

piTest(
  "NVM 1.0 5.2.1.2: a read checks what is stored: a guard written unchecked fails the read's guard check",
  DEV.pi1,
  ({ nvme0n1, qpair, rng, skip }) => {
    const p = needPi(nvme0n1, skip, { ext: false, type: [1, 2] });
    const n = 2, lba = 700;
    const { data, meta } = bufs(p, n);
    using _d = data, _m = meta;
    fillProtected(p, rng, data.bytes, meta.bytes, lba, n, 0x0a0a);
    data.bytes[p.lba + 3] ^= 0xff; // block 1's data no longer matches its guard
    requireSuccess(
      sepIo(nvme0n1, qpair, "write", data, meta, lba, n, { prinfo: 0 }),
      "NVM Command Set 1.0, Write with no checks",
    );
    const checks = new Checks();
    checks.run(() =>
      requireStatus(
        sepIo(nvme0n1, qpair, "read", data, meta, lba, n, {
          prinfo: PR.GUARD,
          reftag: lba,
        }),
        "02/82",
        "NVM Command Set 1.0, Read with PRCHK guard of a block whose guard does not match its data",
      )
    );
    checks.run(() =>
      requireSuccess(
        sepIo(nvme0n1, qpair, "read", data, meta, lba, 1, {
          prinfo: PR.GUARD,
          reftag: lba,
        }),
        "NVM Command Set 1.0, Read with PRCHK guard of the block before it (intact)",
      )
    );
    checks.done();
  },
);

piTest(
  "NVM 1.0 5.2.1.2: a read with the reference tag checked and a stored reference tag that differs → Reference Tag Check Error",
  DEV.pi1,
  ({ nvme0n1, qpair, rng, skip }) => {
    const p = needPi(nvme0n1, skip, { ext: false, type: 1 });
    const n = 1, lba = 800;
    const { data, meta } = bufs(p, n);
    using _d = data, _m = meta;
    fillProtected(p, rng, data.bytes, meta.bytes, lba, n, 0, 0x00c0ffee);
    sepIo(nvme0n1, qpair, "write", data, meta, lba, n, { prinfo: 0 });
    requireStatus(
      sepIo(nvme0n1, qpair, "read", data, meta, lba, n, {
        prinfo: PR.REF,
        reftag: lba,
      }),
      "02/84",
      "NVM Command Set 1.0, Read with PRCHK reference tag: the stored tag is not the LBA",
    );
  },
);

piTest(
  "NVM 1.0 5.2.1: type 1: an application tag of FFFFh disables the checks of that block",
  DEV.pi1,
  ({ nvme0n1, qpair, rng, skip }) => {
    const p = needPi(nvme0n1, skip, { ext: false, type: [1, 2] });
    const n = 1, lba = 900;
    const { data, meta } = bufs(p, n);
    using _d = data, _m = meta;
    rng.fill(data.bytes);
    putTuple(meta.bytes, piOffset(p), { guard: 0x1111, app: 0xffff, ref: 7 });
    sepIo(nvme0n1, qpair, "write", data, meta, lba, n, { prinfo: 0 });
    requireSuccess(
      sepIo(nvme0n1, qpair, "read", data, meta, lba, n, {
        prinfo: PR.ALL,
        reftag: lba,
        apptag: 0,
        appmask: 0xffff,
      }),
      "NVM Command Set 1.0, 5.2.1: for types 1 and 2 an application tag of FFFFh turns the checks of the block off",
    );
  },
);

piTest(
  "NVM 1.0 5.2.1: Write Zeroes with PRACT = 1 stores valid PI: a checked read passes",
  DEV.pi1,
  ({ nvme0n1, qpair, skip }) => {
    const p = needPi(nvme0n1, skip, { ext: false, type: 1 });
    const n = 4, lba = 1000;
    const c = completionOfWz(nvme0n1, qpair, lba, n);
    requireSuccess(c, "NVM Command Set 1.0, Write Zeroes with PRACT = 1");
    const { data, meta } = bufs(p, n);
    using _d = data, _m = meta;
    requireSuccess(
      sepIo(nvme0n1, qpair, "read", data, meta, lba, n, {
        prinfo: PR.GUARD | PR.REF,
        reftag: lba,
      }),
      "NVM Command Set 1.0, Write Zeroes with PRACT = 1: the PI generated for the zeroes passes the guard and reference tag checks",
    );
  },
);

function completionOfWz(
  ns: Ctx["nvme0n1"],
  q: Ctx["qpair"],
  lba: number,
  n: number,
) {
  let got: import("../../../mod.ts").Completion | undefined;
  try {
    ns.writeZeroes(q, lba, n, {
      prinfo: PR.PRACT,
      reftag: lba,
      cb: (c) => got = c,
    }).waitdone();
  } catch (e) {
    if (!got) throw e;
  }
  return got!;
}

// --- type 2 and type 3 ------------------------------------------------------------------

piTest(
  "NVM 1.0 5.2.1.4: type 2: the reference tag starts at ILBRT (any value) and counts per block",
  DEV.pi2,
  ({ nvme0n1, qpair, rng, skip }) => {
    const p = needPi(nvme0n1, skip, { ext: false, type: 2 });
    const n = 4, lba = 100, ilbrt = 0x00abc000;
    const { data, meta } = bufs(p, n);
    using _d = data, _m = meta;
    rng.fill(data.bytes);
    requireSuccess(
      sepIo(nvme0n1, qpair, "write", data, meta, lba, n, {
        prinfo: PR.PRACT,
        reftag: ilbrt,
      }),
      "NVM Command Set 1.0, type 2 Write with PRACT = 1 and ILBRT unrelated to SLBA",
    );
    using m2 = new Buffer(4096, "md");
    sepIo(nvme0n1, qpair, "read", data, m2, lba, n, {});
    const refs = [0, 1, 2, 3].map((i) => getTuple(m2.bytes, i * p.ms).ref);
    conform(
      refs.every((r, i) => r === ilbrt + i),
      "NVM Command Set 1.0, type 2 protection: reference tag of block i = ILBRT + i",
      `reference tags ${refs.map((r) => hex(r)).join(", ")}`,
    );
    requireSuccess(
      sepIo(nvme0n1, qpair, "read", data, meta, lba, n, {
        prinfo: PR.REF,
        reftag: ilbrt,
      }),
      "NVM Command Set 1.0, type 2 Read with the same ILBRT and the reference tag checked",
    );
    requireStatus(
      sepIo(nvme0n1, qpair, "read", data, meta, lba, n, {
        prinfo: PR.REF,
        reftag: ilbrt + 1,
      }),
      "02/84",
      "NVM Command Set 1.0, type 2 Read with another ILBRT and the reference tag checked",
    );
  },
);

piTest(
  "NVM 1.0 5.2.1.4: type 2: a guard error is reported as for type 1",
  DEV.pi2,
  (ctx) =>
    badWrite(
      ctx,
      "guard",
      PR.GUARD,
      "02/82",
      "NVM Command Set 1.0, type 2 Write with PRCHK guard: a guard that does not match",
      "pi2",
    ),
);

piTest(
  "NVM 1.0 5.2.1.5: type 3: with PRACT = 1 the guard and application tag are generated; reads check the guard",
  DEV.pi3,
  ({ nvme0n1, qpair, rng, skip }) => {
    const p = needPi(nvme0n1, skip, { ext: false, type: 3 });
    const n = 2, lba = 100;
    const { data, meta } = bufs(p, n);
    using _d = data, _m = meta;
    rng.fill(data.bytes);
    requireSuccess(
      sepIo(nvme0n1, qpair, "write", data, meta, lba, n, {
        prinfo: PR.PRACT,
        apptag: 0x3333,
        reftag: 0x77,
      }),
      "NVM Command Set 1.0, type 3 Write with PRACT = 1",
    );
    using m2 = new Buffer(4096, "md");
    sepIo(nvme0n1, qpair, "read", data, m2, lba, n, {});
    const t = getTuple(m2.bytes, 0);
    conform(
      t.guard === crc16(data.bytes.subarray(0, p.lba)) && t.app === 0x3333,
      "NVM Command Set 1.0, type 3 PRACT = 1: guard = CRC-16 of the data, application tag = the command's",
      `guard ${hex(t.guard, 4)}, app ${hex(t.app, 4)}`,
    );
    requireSuccess(
      sepIo(nvme0n1, qpair, "read", data, meta, lba, n, {
        prinfo: PR.GUARD | PR.APP,
        apptag: 0x3333,
        appmask: 0xffff,
      }),
      "NVM Command Set 1.0, type 3 Read with the guard and application tag checked",
    );
  },
);

piTest(
  "NVM 1.0 5.2.1.5: type 3: application tag FFFFh with reference tag FFFFFFFFh disables the checks",
  DEV.pi3,
  ({ nvme0n1, qpair, rng, skip }) => {
    const p = needPi(nvme0n1, skip, { ext: false, type: 3 });
    const n = 1, lba = 200;
    const { data, meta } = bufs(p, n);
    using _d = data, _m = meta;
    rng.fill(data.bytes);
    putTuple(meta.bytes, 0, { guard: 0x2222, app: 0xffff, ref: 0xffffffff });
    sepIo(nvme0n1, qpair, "write", data, meta, lba, n, { prinfo: 0 });
    requireSuccess(
      sepIo(nvme0n1, qpair, "read", data, meta, lba, n, {
        prinfo: PR.GUARD | PR.APP,
        apptag: 0,
        appmask: 0xffff,
      }),
      "NVM Command Set 1.0, 5.2.1: type 3, application tag FFFFh and reference tag FFFFFFFFh: no checks",
    );
    putTuple(meta.bytes, 0, { guard: 0x2222, app: 0xffff, ref: 0 });
    sepIo(nvme0n1, qpair, "write", data, meta, lba, n, { prinfo: 0 });
    requireStatus(
      sepIo(nvme0n1, qpair, "read", data, meta, lba, n, {
        prinfo: PR.GUARD,
      }),
      "02/82",
      "NVM Command Set 1.0, 5.2.1: type 3, application tag FFFFh alone (reference tag not FFFFFFFFh) keeps the guard check",
    );
  },
);

// --- extended LBAs ----------------------------------------------------------------------

piTest(
  "NVM 1.0 5.3.1: extended LBAs: data and PI interleaved, PRACT = 0 with every check, read back as written",
  DEV.pi1x,
  ({ nvme0n1, qpair, rng, skip }) => {
    const p = needPi(nvme0n1, skip, { ext: true, type: 1 });
    const n = 4, lba = 40, len = n * (p.lba + p.ms);
    using w = new Buffer(len, "ext write");
    fillExtended(p, rng, w.bytes, lba, n, 0x6060);
    requireSuccess(
      extIo(nvme0n1, qpair, 0x01, w, lba, n, {
        prinfo: PR.ALL,
        reftag: lba,
        apptag: 0x6060,
        appmask: 0xffff,
      }),
      "NVM Command Set 1.0, Write of extended LBAs (LBA data + metadata each) with correct PI",
    );
    using r = new Buffer(len, "ext read");
    requireSuccess(
      extIo(nvme0n1, qpair, 0x02, r, lba, n, {
        prinfo: PR.ALL,
        reftag: lba,
        apptag: 0x6060,
        appmask: 0xffff,
      }),
      "NVM Command Set 1.0, Read of extended LBAs with every check",
    );
    conform(
      r.bytes.subarray(0, len).every((x, i) => x === w.bytes[i]),
      "NVM Command Set 1.0, 5.3.1: an extended LBA (data followed by its metadata) reads back as written",
      "differs",
    );
  },
);

piTest(
  "NVM 1.0 5.3.1: extended LBAs: a guard that does not match the data → End-to-end Guard Check Error",
  DEV.pi1x,
  ({ nvme0n1, qpair, rng, skip }) => {
    const p = needPi(nvme0n1, skip, { ext: true });
    const n = 2, lba = 80, len = n * (p.lba + p.ms);
    using w = new Buffer(len, "ext write");
    fillExtended(p, rng, w.bytes, lba, n);
    w.bytes[p.lba + p.ms + 10] ^= 1; // second block's data
    requireStatus(
      extIo(nvme0n1, qpair, 0x01, w, lba, n, {
        prinfo: PR.GUARD,
        reftag: lba,
      }),
      "02/82",
      "NVM Command Set 1.0, Write of extended LBAs with PRCHK guard: block 1's data does not match its guard",
    );
  },
);

piTest(
  "NVM 1.0 5.2.1.1: extended LBAs with 8-byte metadata and PRACT = 1: the host moves data only, the controller adds and strips the PI",
  DEV.pi1x,
  ({ nvme0n1, qpair, rng, skip }) => {
    const p = needPi(nvme0n1, skip, { ext: true, ms: 8 });
    const n = 4, lba = 120;
    using w = new Buffer(n * p.lba, "data only");
    rng.fill(w.bytes);
    requireSuccess(
      extIo(nvme0n1, qpair, 0x01, w, lba, n, {
        prinfo: PR.PRACT,
        reftag: lba,
        len: n * p.lba,
      }),
      "NVM Command Set 1.0, Write with PRACT = 1 of n × LBA data bytes (no metadata from the host)",
    );
    using r = new Buffer(n * p.lba, "data only read");
    requireSuccess(
      extIo(nvme0n1, qpair, 0x02, r, lba, n, {
        prinfo: PR.PRACT | PR.GUARD | PR.REF,
        reftag: lba,
        len: n * p.lba,
      }),
      "NVM Command Set 1.0, Read with PRACT = 1 and checks of n × LBA data bytes",
    );
    conform(
      r.bytes.every((x, i) => x === w.bytes[i]),
      "NVM Command Set 1.0, PRACT = 1 with MS = 8: the data round-trips without metadata in the transfer",
      "differs",
    );
    using full = new Buffer(n * (p.lba + p.ms), "with pi");
    extIo(nvme0n1, qpair, 0x02, full, lba, n, {});
    const t = getTuple(full.bytes, p.lba + piOffset(p));
    conform(
      t.ref === lba && t.guard === crc16(w.bytes.subarray(0, p.lba)),
      "NVM Command Set 1.0, PRACT = 1 on write: the stored PI has the guard of the data and the reference tag of the LBA",
      `guard ${hex(t.guard, 4)}, ref ${hex(t.ref)}`,
    );
  },
);

// --- 16 bytes of metadata, PI in the last 8 --------------------------------------------

piTest(
  "NVM 1.0 5.2: PI in the last 8 of 16 metadata bytes: the first 8 are the host's, the guard covers them",
  DEV.pi1m16,
  ({ nvme0n1, qpair, rng, skip }) => {
    const p = needPi(nvme0n1, skip, { ext: false, ms: 16 });
    const n = 2, lba = 64;
    const { data, meta } = bufs(p, n);
    using _d = data, _m = meta;
    fillProtected(p, rng, data.bytes, meta.bytes, lba, n, 0x1616);
    requireSuccess(
      sepIo(nvme0n1, qpair, "write", data, meta, lba, n, {
        prinfo: PR.ALL,
        reftag: lba,
        apptag: 0x1616,
        appmask: 0xffff,
      }),
      "NVM Command Set 1.0, Write with PI in the last 8 metadata bytes, guard over data + the 8 bytes before it",
    );
    using m2 = new Buffer(4096, "md16");
    using d2 = new Buffer(4096, "d16");
    sepIo(nvme0n1, qpair, "read", d2, m2, lba, n, {});
    conform(
      m2.bytes.subarray(0, n * 16).every((x, i) => x === meta.bytes[i]),
      "NVM Command Set 1.0, 5.3: all 16 metadata bytes come back as written",
      "metadata differs",
    );
    const at = piOffset(p);
    meta.bytes[at - 1] ^= 0x80; // a metadata byte the guard covers
    requireStatus(
      sepIo(nvme0n1, qpair, "write", data, meta, lba, 1, {
        prinfo: PR.GUARD,
        reftag: lba,
      }),
      "02/82",
      "NVM Command Set 1.0, 5.2: with the PI in the last bytes, the guard covers the metadata before it: a changed byte there",
    );
  },
);

// --- metadata without PI ------------------------------------------------------------------

piTest(
  "NVM 1.0 5.3.2: separate metadata without protection round-trips; PRCHK bits are ignored",
  DEV.md8,
  ({ nvme0n1, qpair, rng, skip }) => {
    const p = needPi(nvme0n1, skip, { pi: false, ext: false });
    const n = 8, lba = 32;
    const { data, meta } = bufs(p, n);
    using _d = data, _m = meta;
    rng.fill(data.bytes);
    rng.fill(meta.bytes);
    requireSuccess(
      sepIo(nvme0n1, qpair, "write", data, meta, lba, n, {
        prinfo: PR.ALL,
        reftag: 0xdead,
      }),
      "NVM Command Set 1.0, Write with PRCHK bits on a namespace without protection (they do not apply)",
    );
    using d2 = new Buffer(n * p.lba, "d");
    using m2 = new Buffer(4096, "m");
    requireSuccess(
      sepIo(nvme0n1, qpair, "read", d2, m2, lba, n, {}),
      "NVM Command Set 1.0, Read with separate metadata",
    );
    conform(
      m2.bytes.subarray(0, n * p.ms).every((x, i) => x === meta.bytes[i]) &&
        d2.bytes.subarray(0, n * p.lba).every((x, i) => x === data.bytes[i]),
      "NVM Command Set 1.0, 5.3.2: data and its separate metadata read back as written",
      "differs",
    );
  },
);

piTest(
  "NVM 1.0 5.3.2: metadata of each LBA stays with it: writing LBA k's metadata changes no other LBA's",
  DEV.md8,
  ({ nvme0n1, qpair, rng, skip }) => {
    const p = needPi(nvme0n1, skip, { pi: false, ext: false });
    const n = 4, lba = 48;
    const { data, meta } = bufs(p, n);
    using _d = data, _m = meta;
    rng.fill(data.bytes);
    rng.fill(meta.bytes);
    sepIo(nvme0n1, qpair, "write", data, meta, lba, n, {});
    using m1 = new Buffer(4096, "one");
    m1.bytes.fill(0x99);
    using d1 = new Buffer(p.lba, "d1");
    sepIo(nvme0n1, qpair, "write", d1, m1, lba + 2, 1, {});
    using m2 = new Buffer(4096, "m");
    using d2 = new Buffer(n * p.lba, "d");
    sepIo(nvme0n1, qpair, "read", d2, m2, lba, n, {});
    const ok =
      [0, 1, 3].every((i) =>
        m2.bytes.subarray(i * p.ms, (i + 1) * p.ms).every((x, k) =>
          x === meta.bytes[i * p.ms + k]
        )
      ) && m2.bytes.subarray(2 * p.ms, 3 * p.ms).every((x) => x === 0x99);
    conform(
      ok,
      "NVM Command Set 1.0, 5.3: metadata is per LBA: a write of LBA k replaces k's metadata only",
      "other LBAs' metadata changed",
    );
  },
);

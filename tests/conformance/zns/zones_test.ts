/**
 * Zoned namespaces (NVMe Zoned Namespace Command Set Specification 1.1):
 * zone states and their transitions, write pointer rules, Zone Append, Zone
 * Management Send and Receive, open and active limits. Each test reads what
 * namespace 1 claims (its Command Set Identifier, the ZNS Identify
 * structures) and skips when it is not zoned. On the embedded device the
 * tests of this file share one device with zoned namespaces (`zoned=4M`,
 * at most 4 open and 6 active zones); each starts by resetting every zone.
 */
import { Buffer } from "../../../mod.ts";
import {
  adminCmd,
  Checks,
  conform,
  hex,
  ioCmd,
  lbaFields,
  nvmeTest,
  requireStatus,
  requireSuccess,
} from "../_suite.ts";
import type { TestContext } from "../../../testing.ts";
import {
  append,
  appendedLba,
  report,
  resetAll,
  send,
  stateName,
  type Zone,
  zoneAt,
  ZONED,
  type ZonedInfo,
  zonedInfo,
  ZS,
  ZSA,
  zwrite,
} from "./_zns.ts";

type Ctx = TestContext<"nvme0n1" | "qpair"> & { z: ZonedInfo };

function zTest(name: string, fn: (ctx: Ctx) => void): void {
  nvmeTest(name, {
    needs: ["nvme0n1", "qpair"],
    qemu: ZONED,
    shareDevice: true,
    area: "zns",
  }, (ctx) => {
    const z = zonedInfo(ctx.nvme0, ctx.nvme0n1, ctx.skip);
    resetAll(ctx.nvme0n1, ctx.qpair);
    fn({ ...ctx, z });
  });
}

function expectState(zone: Zone, want: number, rule: string): void {
  conform(
    zone.zs === want,
    `${rule}: the zone is ${stateName(want)}`,
    `zone ${hex(zone.zslba)} is ${stateName(zone.zs)}`,
  );
}

/** Zone number `i`'s start LBA. */
function zs(z: ZonedInfo, i: number): bigint {
  return z.zsze * BigInt(i);
}

// --- Identify ---------------------------------------------------------------------

nvmeTest(
  "ZNS 1.1 4.1.5: a zoned namespace has CSI 02h and Identify Namespace (CNS 05h, CSI 02h) describes its zones",
  { needs: ["nvme0n1"], qemu: ZONED, shareDevice: true, area: "zns" },
  ({ nvme0, nvme0n1, skip }) => {
    const z = zonedInfo(nvme0, nvme0n1, skip);
    conform(
      z.zsze > 0n,
      "ZNS 1.1, Identify Namespace LBA Format Extension: the zone size (ZSZE) of the format in use is not 0",
      "ZSZE 0",
    );
    conform(
      BigInt(nvme0n1.capacity) % z.zsze === 0n,
      "ZNS 1.1, 2.1.1: a zoned namespace is made of whole zones (NSZE a multiple of the zone size)",
      `NSZE ${nvme0n1.capacity}, zone size ${z.zsze}`,
    );
    conform(
      z.mor <= z.mar,
      "ZNS 1.1, Identify Namespace: Max Open Resources does not exceed Max Active Resources",
      `MOR ${z.mor}, MAR ${z.mar}`,
    );
  },
);

nvmeTest(
  "ZNS 1.1 / Base 2.0 5.17.2: the I/O Command Set data structure (CNS 1Ch) lists the Zoned Namespace command set",
  { needs: ["nvme0n1"], qemu: ZONED, shareDevice: true, area: "zns" },
  ({ nvme0, nvme0n1, skip }) => {
    zonedInfo(nvme0, nvme0n1, skip);
    using b = new Buffer(4096, "io command sets");
    const c = adminCmd(nvme0, 0x06, { buf: b, cdw10: 0x1c });
    requireSuccess(
      c,
      "NVMe Base 2.0, Identify CNS 1Ch (I/O Command Set data structure) with CAP.CSS bit 6 set",
    );
    let found = false;
    for (let i = 0; i < 512; i++) {
      if (Number(b.u64(i * 8) & 0x4n)) found = true;
    }
    conform(
      found,
      "NVMe Base 2.0, I/O Command Set data structure: a controller with a zoned namespace lists a combination with the Zoned Namespace command set (bit 2)",
      "no combination has bit 2",
    );
  },
);

nvmeTest(
  "ZNS 1.1 4.1.5.1: Identify Controller (CNS 06h, CSI 02h): ZASL is 0 or within MDTS",
  { needs: ["nvme0n1"], qemu: ZONED, shareDevice: true, area: "zns" },
  ({ nvme0, nvme0n1, skip }) => {
    const z = zonedInfo(nvme0, nvme0n1, skip);
    const mdts = nvme0.idCtrl.mdts;
    conform(
      z.zasl === 0 || mdts === 0 || z.zasl <= mdts,
      "ZNS 1.1, Zone Append Size Limit: 0 (MDTS applies) or at most MDTS",
      `ZASL ${z.zasl}, MDTS ${mdts}`,
    );
  },
);

nvmeTest(
  "ZNS 1.1 2.2.1: Commands Supported and Effects (CSI 02h) lists Zone Management Send, Receive and Zone Append",
  { needs: ["nvme0n1"], qemu: ZONED, shareDevice: true, area: "zns" },
  ({ nvme0, nvme0n1, skip }) => {
    zonedInfo(nvme0, nvme0n1, skip);
    if (!(nvme0.idCtrl.lpa & 2)) {
      return skip("no Commands Supported and Effects log (LPA bit 1 = 0)");
    }
    using b = new Buffer(4096, "effects zns");
    const c = adminCmd(nvme0, 0x02, {
      buf: b,
      cdw10: 0x05 | (4096 / 4 - 1) << 16,
      cdw14: 2 << 24,
    });
    requireSuccess(
      c,
      "NVMe Base 2.0, Get Log Page 05h with CSI 02h (a command set the controller runs)",
    );
    const missing = [0x79, 0x7a, 0x7d].filter((o) =>
      !(b.u32(1024 + o * 4) & 1)
    );
    conform(
      missing.length === 0,
      "ZNS 1.1, 2.2.1: Zone Management Send (79h), Zone Management Receive (7Ah) and Zone Append (7Dh) are supported (CSUPP = 1)",
      `CSUPP = 0 for ${missing.map((o) => hex(o, 2)).join(", ")}`,
    );
  },
);

// --- Report Zones -------------------------------------------------------------------

zTest(
  "ZNS 1.1 3.4.2: Report Zones: every zone, sequential write required, spaced by the zone size, ZCAP within it",
  ({ nvme0n1, qpair, z }) => {
    const size = 64 + 64 * Math.min(z.zones, 63);
    const r = report(nvme0n1, qpair, 0, { size });
    requireSuccess(r.cpl, "ZNS 1.1, Zone Management Receive, Report Zones");
    conform(
      r.count === BigInt(z.zones),
      "ZNS 1.1, Report Zones (partial 0): Number of Zones counts every zone from SLBA",
      `${r.count} reported, ${z.zones} zones`,
    );
    r.zones.forEach((d, i) => {
      conform(
        d.zslba === zs(z, i) && d.zt === 2 && d.zcap > 0n && d.zcap <= z.zsze,
        "ZNS 1.1, Zone Descriptor: ZSLBA = i × zone size, zone type 2h, 0 < ZCAP ≤ zone size",
        `descriptor ${i}: ZSLBA ${d.zslba}, ZT ${d.zt}, ZCAP ${d.zcap}`,
      );
    });
  },
);

zTest(
  "ZNS 1.1 3.4.3.1: Reset Zone (Select All): every zone Empty, write pointer at ZSLBA",
  ({ nvme0n1, qpair, z }) => {
    requireSuccess(zwrite(nvme0n1, qpair, zs(z, 1), 8), "write at the WP");
    send(nvme0n1, qpair, zs(z, 2), ZSA.FINISH);
    requireSuccess(
      send(nvme0n1, qpair, 0, ZSA.RESET, true),
      "ZNS 1.1, Reset Zone with Select All",
    );
    const r = report(nvme0n1, qpair, 0, { size: 64 + 64 * 3 });
    for (const d of r.zones) {
      expectState(d, ZS.EMPTY, "ZNS 1.1, Reset Zone");
      conform(
        d.wp === d.zslba,
        "ZNS 1.1, Reset Zone: the write pointer returns to ZSLBA",
        `zone ${d.zslba}: WP ${d.wp}`,
      );
    }
  },
);

zTest(
  "ZNS 1.1 3.4.2.2: Report Zones with a state filter (ZRASF) lists only zones in that state",
  ({ nvme0n1, qpair, z }) => {
    zwrite(nvme0n1, qpair, zs(z, 0), 1); // implicitly opened
    send(nvme0n1, qpair, zs(z, 1), ZSA.OPEN); // explicitly opened
    zwrite(nvme0n1, qpair, zs(z, 2), 1);
    send(nvme0n1, qpair, zs(z, 2), ZSA.CLOSE); // closed
    send(nvme0n1, qpair, zs(z, 3), ZSA.FINISH); // full
    const want: [number, number, number[]][] = [
      [0x02, ZS.IMPLICIT, [0]],
      [0x03, ZS.EXPLICIT, [1]],
      [0x04, ZS.CLOSED, [2]],
      [0x05, ZS.FULL, [3]],
    ];
    for (const [zrasf, state, idx] of want) {
      const r = report(nvme0n1, qpair, 0, { zrasf });
      requireSuccess(r.cpl, `ZNS 1.1, Report Zones ZRASF ${zrasf}`);
      conform(
        r.zones.length === idx.length &&
          r.zones.every((d, i) => d.zs === state && d.zslba === zs(z, idx[i])),
        `ZNS 1.1, Report Zones: ZRASF ${hex(zrasf, 2)} reports exactly the ${
          stateName(state)
        } zones`,
        `reported ${
          r.zones.map((d) => `${d.zslba}:${stateName(d.zs)}`).join(", ") ||
          "none"
        }`,
      );
    }
    const empty = report(nvme0n1, qpair, 0, { zrasf: 0x01 });
    conform(
      empty.count === BigInt(z.zones - 4),
      "ZNS 1.1, Report Zones: ZRASF 01h counts the Empty zones",
      `${empty.count} of ${z.zones} zones, 4 not empty`,
    );
  },
);

zTest(
  "ZNS 1.1 3.4.2.2: Report Zones partial: Number of Zones counts the descriptors returned",
  ({ nvme0n1, qpair, z }) => {
    if (z.zones < 3) throw new Error("fewer than 3 zones");
    const part = report(nvme0n1, qpair, 0, { partial: true, size: 128 });
    requireSuccess(part.cpl, "ZNS 1.1, Report Zones, Partial Report 1");
    conform(
      part.count === 1n,
      "ZNS 1.1, Report Zones with Partial Report = 1: Number of Zones = the descriptors that fit the transfer",
      `${part.count} with room for one`,
    );
    const all = report(nvme0n1, qpair, 0, { partial: false, size: 128 });
    conform(
      all.count === BigInt(z.zones),
      "ZNS 1.1, Report Zones with Partial Report = 0: Number of Zones counts every matching zone, not only those transferred",
      `${all.count}, ${z.zones} zones`,
    );
  },
);

zTest(
  "ZNS 1.1 3.4.2: Report Zones from an SLBA inside a zone starts with that zone",
  ({ nvme0n1, qpair, z }) => {
    const r = report(nvme0n1, qpair, zs(z, 2) + 5n, { size: 192 });
    requireSuccess(r.cpl, "ZNS 1.1, Report Zones from a mid-zone SLBA");
    conform(
      r.zones[0]?.zslba === zs(z, 2) &&
        r.count === BigInt(z.zones - 2),
      "ZNS 1.1, Report Zones: the first descriptor is the zone containing SLBA, and the count runs from it",
      `first ZSLBA ${r.zones[0]?.zslba}, count ${r.count}`,
    );
  },
);

zTest(
  "ZNS 1.1 3.4.2: Report Zones with an SLBA past the end → LBA Out of Range",
  ({ nvme0n1, qpair }) => {
    requireStatus(
      report(nvme0n1, qpair, BigInt(nvme0n1.capacity)).cpl,
      "00/80",
      "ZNS 1.1, Zone Management Receive: SLBA beyond NSZE",
    );
  },
);

zTest(
  "ZNS 1.1 3.4.2: Zone Management Receive with a reserved action or state filter → Invalid Field",
  ({ nvme0n1, qpair }) => {
    requireStatus(
      report(nvme0n1, qpair, 0, { zra: 0x7f }).cpl,
      "00/02",
      "ZNS 1.1, Zone Management Receive: Zone Receive Action 7Fh is reserved",
    );
    requireStatus(
      report(nvme0n1, qpair, 0, { zrasf: 0x08 }).cpl,
      "00/02",
      "ZNS 1.1, Report Zones: Reporting Options 08h is reserved",
    );
  },
);

zTest(
  "ZNS 1.1 3.4.2.3: Extended Report Zones without zone descriptor extensions (ZDES = 0) → Invalid Field",
  ({ nvme0n1, qpair, z, skip }) => {
    if (z.zdes) {
      const r = report(nvme0n1, qpair, 0, { zra: 1, size: 4096 });
      return requireSuccess(
        r.cpl,
        `ZNS 1.1, Extended Report Zones with ZDES ${z.zdes} bytes`,
      );
    }
    void skip;
    requireStatus(
      report(nvme0n1, qpair, 0, { zra: 1 }).cpl,
      "00/02",
      "ZNS 1.1, Extended Report Zones when the zone descriptor extension size is 0",
    );
  },
);

// --- writes and the write pointer --------------------------------------------------

zTest(
  "ZNS 1.1 2.1.1: a write at the write pointer implicitly opens the zone and advances the write pointer by NLB",
  ({ nvme0n1, qpair, z }) => {
    requireSuccess(
      zwrite(nvme0n1, qpair, zs(z, 1), 8),
      "ZNS 1.1, Write at the write pointer of an Empty zone",
    );
    const d = zoneAt(nvme0n1, qpair, zs(z, 1));
    expectState(d, ZS.IMPLICIT, "ZNS 1.1, Write to an Empty zone");
    conform(
      d.wp === zs(z, 1) + 8n,
      "ZNS 1.1, Write: the write pointer advances by the LBAs written",
      `WP ${d.wp}, expected ${zs(z, 1) + 8n}`,
    );
    requireSuccess(
      zwrite(nvme0n1, qpair, d.wp, 8),
      "ZNS 1.1, a second write at the new write pointer",
    );
  },
);

zTest(
  "ZNS 1.1 3.3.7: a write not at the write pointer → Zone Invalid Write",
  ({ nvme0n1, qpair, z }) => {
    zwrite(nvme0n1, qpair, zs(z, 1), 8);
    requireStatus(
      zwrite(nvme0n1, qpair, zs(z, 1) + 16n, 1),
      "01/bc",
      "ZNS 1.1, Write: SLBA is not the zone's write pointer",
    );
    requireStatus(
      zwrite(nvme0n1, qpair, zs(z, 1), 1),
      "01/bc",
      "ZNS 1.1, Write: SLBA below the write pointer (already written)",
    );
  },
);

zTest(
  "ZNS 1.1 3.3.7: a write that crosses the end of the zone → Zone Boundary Error",
  ({ nvme0n1, qpair, z }) => {
    const zcap = zoneAt(nvme0n1, qpair, zs(z, 1)).zcap;
    if (zcap > 65536n) {
      throw new Error(`ZCAP ${zcap}: too large for one Write Zeroes`);
    }
    requireSuccess(
      ioCmd(nvme0n1, qpair, 0x08, lbaFields(zs(z, 1), Number(zcap) - 1)),
      "ZNS 1.1, Write Zeroes up to one LBA before the zone capacity",
    );
    requireStatus(
      zwrite(nvme0n1, qpair, zs(z, 1) + zcap - 1n, 2),
      "01/b8",
      "ZNS 1.1, Write: the LBAs cross the zone's end (two zones)",
    );
  },
);

zTest(
  "ZNS 1.1 3.3.7: a write to a Full zone → Zone Is Full",
  ({ nvme0n1, qpair, z }) => {
    requireSuccess(
      send(nvme0n1, qpair, zs(z, 1), ZSA.FINISH),
      "ZNS 1.1, Finish Zone",
    );
    requireStatus(
      zwrite(nvme0n1, qpair, zs(z, 1), 1),
      "01/b9",
      "ZNS 1.1, Write to a zone in the Full state",
    );
  },
);

zTest(
  "ZNS 1.1 3.3.9: Write Zeroes advances the write pointer like a write",
  ({ nvme0n1, qpair, z }) => {
    requireSuccess(
      ioCmd(nvme0n1, qpair, 0x08, lbaFields(zs(z, 1), 16)),
      "ZNS 1.1, Write Zeroes at the write pointer",
    );
    const d = zoneAt(nvme0n1, qpair, zs(z, 1));
    conform(
      d.wp === zs(z, 1) + 16n,
      "ZNS 1.1, Write Zeroes: the write pointer advances by NLB",
      `WP ${d.wp}`,
    );
  },
);

zTest(
  "ZNS 1.1 2.1.1: writing a zone to its capacity makes it Full",
  ({ nvme0n1, qpair, z }) => {
    const zcap = zoneAt(nvme0n1, qpair, zs(z, 1)).zcap;
    if (zcap > 65536n) {
      throw new Error(`ZCAP ${zcap}: too large for one Write Zeroes`);
    }
    requireSuccess(
      ioCmd(nvme0n1, qpair, 0x08, lbaFields(zs(z, 1), Number(zcap) - 1)),
      "ZNS 1.1, Write Zeroes of ZCAP - 1 LBAs",
    );
    requireSuccess(
      zwrite(nvme0n1, qpair, zs(z, 1) + zcap - 1n, 1),
      "ZNS 1.1, Write of the zone's last writable LBA",
    );
    expectState(
      zoneAt(nvme0n1, qpair, zs(z, 1)),
      ZS.FULL,
      "ZNS 1.1, Zone State Machine: the write pointer reaching ZSLBA + ZCAP",
    );
  },
);

zTest(
  "ZNS 1.1 3.3.5: reads across a zone boundary as OZCS Read Across Zone Boundaries says",
  ({ nvme0n1, qpair, z }) => {
    using b = new Buffer(2 * nvme0n1.lbaSize, "read across");
    const c = ioCmd(
      nvme0n1,
      qpair,
      0x02,
      lbaFields(zs(z, 1) - 1n, 2, { buf: b }),
    );
    if (z.ozcs & 1) {
      requireSuccess(c, "ZNS 1.1, Read across zones with OZCS RAZB = 1");
    } else {
      requireStatus(
        c,
        "01/b8",
        "ZNS 1.1, Read: LBAs in two zones with OZCS RAZB = 0",
      );
    }
  },
);

zTest(
  "ZNS 1.1 3.3.5: a read of LBAs above the write pointer succeeds and returns what DLFEAT says",
  ({ nvme0n1, qpair, z }) => {
    using b = new Buffer(8 * nvme0n1.lbaSize, "unwritten");
    b.bytes.fill(0x5a);
    requireSuccess(
      ioCmd(nvme0n1, qpair, 0x02, lbaFields(zs(z, 2) + 100n, 8, { buf: b })),
      "ZNS 1.1, Read of unwritten LBAs of an Empty zone",
    );
    if ((nvme0n1.identifyData[33] & 7) === 1) {
      conform(
        b.bytes.subarray(0, 8 * nvme0n1.lbaSize).every((x) => x === 0),
        "NVM Command Set 1.0, DLFEAT 001b: unwritten (deallocated) LBAs read as zeros",
        "non-zero bytes",
      );
    }
  },
);

zTest(
  "ZNS 1.1 2.1.1: a closed zone keeps its write pointer; writing there continues",
  ({ nvme0n1, qpair, z }) => {
    zwrite(nvme0n1, qpair, zs(z, 1), 8);
    requireSuccess(
      send(nvme0n1, qpair, zs(z, 1), ZSA.CLOSE),
      "ZNS 1.1, Close Zone of an Implicitly Opened zone",
    );
    const d = zoneAt(nvme0n1, qpair, zs(z, 1));
    expectState(d, ZS.CLOSED, "ZNS 1.1, Close Zone");
    conform(
      d.wp === zs(z, 1) + 8n,
      "ZNS 1.1, Close Zone: the write pointer is kept",
      `WP ${d.wp}`,
    );
    requireSuccess(
      zwrite(nvme0n1, qpair, d.wp, 8),
      "ZNS 1.1, Write at the write pointer of a Closed zone",
    );
    expectState(
      zoneAt(nvme0n1, qpair, zs(z, 1)),
      ZS.IMPLICIT,
      "ZNS 1.1, a write to a Closed zone opens it implicitly",
    );
  },
);

// --- Zone Append ------------------------------------------------------------------

zTest(
  "ZNS 1.1 3.4.1: Zone Append writes at the write pointer and reports the LBA in DW0/DW1",
  ({ nvme0n1, qpair, z, rng }) => {
    zwrite(nvme0n1, qpair, zs(z, 1), 3);
    using w = new Buffer(4 * nvme0n1.lbaSize, "append");
    rng.fill(w.bytes);
    const c = append(nvme0n1, qpair, zs(z, 1), 4, w);
    requireSuccess(c, "ZNS 1.1, Zone Append to an open zone");
    conform(
      appendedLba(c) === zs(z, 1) + 3n,
      "ZNS 1.1, Zone Append completion: DW0/DW1 hold the LBA of the first block written (the write pointer)",
      `reported ${appendedLba(c)}, WP was ${zs(z, 1) + 3n}`,
    );
    using r = new Buffer(4 * nvme0n1.lbaSize, "read back");
    nvme0n1.read(qpair, r, appendedLba(c), 4).waitdone();
    conform(
      r.bytes.subarray(0, 4 * nvme0n1.lbaSize).every((x, i) =>
        x === w.bytes[i]
      ),
      "ZNS 1.1, Zone Append: the data is at the LBA reported",
      "the data read there differs",
    );
  },
);

zTest(
  "ZNS 1.1 3.4.1: Zone Append with an SLBA that is not the start of a zone → Invalid Field",
  ({ nvme0n1, qpair, z }) => {
    requireStatus(
      append(nvme0n1, qpair, zs(z, 1) + 1n, 1),
      "00/02",
      "ZNS 1.1, Zone Append: ZSLBA is not the lowest LBA of a zone",
    );
  },
);

zTest(
  "ZNS 1.1 3.4.1: Zone Append larger than the Zone Append Size Limit → Invalid Field",
  ({ nvme0, nvme0n1, qpair, z }) => {
    const mps = 4096 << ((nvme0.reg32(0x14) >> 7) & 0xf);
    const limit = z.zasl ? mps * 2 ** z.zasl : nvme0.mdts;
    const lbas = limit / nvme0n1.lbaSize + 1;
    if (lbas > 65536 || limit + nvme0n1.lbaSize > 2 ** 21) {
      throw new Error(`append limit ${limit} bytes: too large to exceed here`);
    }
    requireStatus(
      append(nvme0n1, qpair, zs(z, 1), lbas),
      "00/02",
      `ZNS 1.1, Zone Append of ${lbas} LBAs (over the ${limit}-byte limit: ZASL ${z.zasl})`,
    );
  },
);

zTest(
  "ZNS 1.1 3.4.1: Zone Append to a Full zone → Zone Is Full",
  ({ nvme0n1, qpair, z }) => {
    send(nvme0n1, qpair, zs(z, 1), ZSA.FINISH);
    requireStatus(
      append(nvme0n1, qpair, zs(z, 1), 1),
      "01/b9",
      "ZNS 1.1, Zone Append to a zone in the Full state",
    );
  },
);

zTest(
  "ZNS 1.1 3.4.1: Zone Append that does not fit in the zone's remaining capacity → Zone Boundary Error",
  ({ nvme0n1, qpair, z }) => {
    const zcap = zoneAt(nvme0n1, qpair, zs(z, 1)).zcap;
    if (zcap > 65536n) throw new Error(`ZCAP ${zcap}: too large`);
    ioCmd(nvme0n1, qpair, 0x08, lbaFields(zs(z, 1), Number(zcap) - 2));
    requireStatus(
      append(nvme0n1, qpair, zs(z, 1), 4),
      "01/b8",
      "ZNS 1.1, Zone Append of 4 LBAs with 2 LBAs of capacity left",
    );
  },
);

zTest(
  "ZNS 1.1 3.4.1: successive Zone Appends land one after another",
  ({ nvme0n1, qpair, z }) => {
    const at: bigint[] = [];
    for (let i = 0; i < 4; i++) {
      const c = append(nvme0n1, qpair, zs(z, 2), 2);
      requireSuccess(c, "ZNS 1.1, Zone Append");
      at.push(appendedLba(c));
    }
    const want = [0n, 2n, 4n, 6n].map((o) => zs(z, 2) + o);
    conform(
      at.every((a, i) => a === want[i]),
      "ZNS 1.1, Zone Append: each append starts at the write pointer left by the one before",
      `appended at ${at.join(", ")}`,
    );
    conform(
      zoneAt(nvme0n1, qpair, zs(z, 2)).wp === zs(z, 2) + 8n,
      "ZNS 1.1, Zone Append: the write pointer advances by the LBAs appended",
      "WP elsewhere",
    );
  },
);

// --- Zone Management Send: transitions -----------------------------------------------

zTest(
  "ZNS 1.1 3.4.3.2: Open Zone: Empty → Explicitly Opened; Close: → Closed; Open again: → Explicitly Opened",
  ({ nvme0n1, qpair, z }) => {
    requireSuccess(
      send(nvme0n1, qpair, zs(z, 3), ZSA.OPEN),
      "ZNS 1.1, Open Zone of an Empty zone",
    );
    expectState(zoneAt(nvme0n1, qpair, zs(z, 3)), ZS.EXPLICIT, "Open Zone");
    zwrite(nvme0n1, qpair, zs(z, 3), 1);
    expectState(
      zoneAt(nvme0n1, qpair, zs(z, 3)),
      ZS.EXPLICIT,
      "ZNS 1.1, a write keeps an Explicitly Opened zone explicitly opened",
    );
    requireSuccess(
      send(nvme0n1, qpair, zs(z, 3), ZSA.CLOSE),
      "ZNS 1.1, Close Zone of an Explicitly Opened zone",
    );
    expectState(zoneAt(nvme0n1, qpair, zs(z, 3)), ZS.CLOSED, "Close Zone");
    requireSuccess(
      send(nvme0n1, qpair, zs(z, 3), ZSA.OPEN),
      "ZNS 1.1, Open Zone of a Closed zone",
    );
    expectState(
      zoneAt(nvme0n1, qpair, zs(z, 3)),
      ZS.EXPLICIT,
      "Open Zone of a Closed zone",
    );
  },
);

zTest(
  "ZNS 1.1 3.4.3.3: Finish Zone of an open zone → Full; Reset of the Full zone → Empty",
  ({ nvme0n1, qpair, z }) => {
    zwrite(nvme0n1, qpair, zs(z, 4), 8);
    requireSuccess(
      send(nvme0n1, qpair, zs(z, 4), ZSA.FINISH),
      "ZNS 1.1, Finish Zone of an Implicitly Opened zone",
    );
    expectState(zoneAt(nvme0n1, qpair, zs(z, 4)), ZS.FULL, "Finish Zone");
    requireSuccess(
      send(nvme0n1, qpair, zs(z, 4), ZSA.RESET),
      "ZNS 1.1, Reset Zone of a Full zone",
    );
    const d = zoneAt(nvme0n1, qpair, zs(z, 4));
    expectState(d, ZS.EMPTY, "Reset Zone");
    conform(d.wp === d.zslba, "ZNS 1.1, Reset Zone: WP = ZSLBA", `WP ${d.wp}`);
  },
);

zTest(
  "ZNS 1.1 3.4.3.3: Finish Zone of an Empty zone → Full",
  ({ nvme0n1, qpair, z }) => {
    requireSuccess(
      send(nvme0n1, qpair, zs(z, 5), ZSA.FINISH),
      "ZNS 1.1, Finish Zone of an Empty zone",
    );
    expectState(zoneAt(nvme0n1, qpair, zs(z, 5)), ZS.FULL, "Finish Zone");
  },
);

zTest(
  "ZNS 1.1 3.4.3.4: Reset Zone of an Empty zone succeeds and changes nothing",
  ({ nvme0n1, qpair, z }) => {
    requireSuccess(
      send(nvme0n1, qpair, zs(z, 5), ZSA.RESET),
      "ZNS 1.1, Reset Zone of an Empty zone",
    );
    expectState(zoneAt(nvme0n1, qpair, zs(z, 5)), ZS.EMPTY, "Reset Zone");
  },
);

zTest(
  "ZNS 1.1 3.4.3.1: Close Zone of an Empty zone → Invalid Zone State Transition",
  ({ nvme0n1, qpair, z }) => {
    requireStatus(
      send(nvme0n1, qpair, zs(z, 6), ZSA.CLOSE),
      "01/bf",
      "ZNS 1.1, Close Zone: an Empty zone cannot be closed",
    );
  },
);

zTest(
  "ZNS 1.1 3.4.3.2: Open Zone of a Full zone → Invalid Zone State Transition",
  ({ nvme0n1, qpair, z }) => {
    send(nvme0n1, qpair, zs(z, 6), ZSA.FINISH);
    requireStatus(
      send(nvme0n1, qpair, zs(z, 6), ZSA.OPEN),
      "01/bf",
      "ZNS 1.1, Open Zone: a Full zone cannot be opened",
    );
    expectState(
      zoneAt(nvme0n1, qpair, zs(z, 6)),
      ZS.FULL,
      "a refused transition leaves the zone as it was",
    );
  },
);

zTest(
  "ZNS 1.1 3.4.3.5: Offline Zone of a zone that is not Read Only → Invalid Zone State Transition",
  ({ nvme0n1, qpair, z }) => {
    requireStatus(
      send(nvme0n1, qpair, zs(z, 7), ZSA.OFFLINE),
      "01/bf",
      "ZNS 1.1, Offline Zone: only a Read Only zone can be taken offline (this one is Empty)",
    );
    expectState(
      zoneAt(nvme0n1, qpair, zs(z, 7)),
      ZS.EMPTY,
      "a refused Offline Zone leaves the zone Empty",
    );
  },
);

zTest(
  "ZNS 1.1 3.4.3: Zone Management Send with an SLBA that is not the start of a zone → Invalid Field",
  ({ nvme0n1, qpair, z }) => {
    requireStatus(
      send(nvme0n1, qpair, zs(z, 1) + 1n, ZSA.OPEN),
      "00/02",
      "ZNS 1.1, Zone Management Send (Select All 0): SLBA is not the lowest LBA of a zone",
    );
  },
);

zTest(
  "ZNS 1.1 3.4.3: Zone Management Send with an SLBA past the end → LBA Out of Range",
  ({ nvme0n1, qpair }) => {
    requireStatus(
      send(nvme0n1, qpair, BigInt(nvme0n1.capacity), ZSA.OPEN),
      "00/80",
      "ZNS 1.1, Zone Management Send: SLBA beyond NSZE",
    );
  },
);

zTest(
  "ZNS 1.1 3.4.3: Zone Management Send with a reserved action → Invalid Field",
  ({ nvme0n1, qpair }) => {
    requireStatus(
      send(nvme0n1, qpair, 0, 0x0f),
      "00/02",
      "ZNS 1.1, Zone Management Send: Zone Send Action 0Fh is reserved",
    );
  },
);

zTest(
  "ZNS 1.1 3.4.3.6: Set Zone Descriptor Extension without extensions (ZDES = 0) → Invalid Field",
  ({ nvme0n1, qpair, z, skip }) => {
    if (z.zdes) {
      return skip(
        `the namespace has ${z.zdes}-byte zone descriptor extensions (ZDES ≠ 0)`,
      );
    }
    requireStatus(
      send(nvme0n1, qpair, zs(z, 1), ZSA.SET_EXT),
      "00/02",
      "ZNS 1.1, Set Zone Descriptor Extension when the extension size is 0",
    );
  },
);

// --- Select All ---------------------------------------------------------------------

zTest(
  "ZNS 1.1 3.4.3.1: Close Zone with Select All closes every open zone; Empty zones stay Empty",
  ({ nvme0n1, qpair, z }) => {
    zwrite(nvme0n1, qpair, zs(z, 0), 1);
    send(nvme0n1, qpair, zs(z, 1), ZSA.OPEN);
    zwrite(nvme0n1, qpair, zs(z, 1), 1);
    requireSuccess(
      send(nvme0n1, qpair, 0, ZSA.CLOSE, true),
      "ZNS 1.1, Close Zone with Select All",
    );
    const r = report(nvme0n1, qpair, 0, { size: 64 * 4 });
    expectState(r.zones[0], ZS.CLOSED, "Close all: the implicitly opened");
    expectState(r.zones[1], ZS.CLOSED, "Close all: the explicitly opened");
    expectState(r.zones[2], ZS.EMPTY, "Close all: an Empty zone");
  },
);

zTest(
  "ZNS 1.1 3.4.3.3: Finish Zone with Select All: open and closed zones Full, Empty zones stay Empty",
  ({ nvme0n1, qpair, z }) => {
    zwrite(nvme0n1, qpair, zs(z, 0), 1);
    zwrite(nvme0n1, qpair, zs(z, 1), 1);
    send(nvme0n1, qpair, zs(z, 1), ZSA.CLOSE);
    requireSuccess(
      send(nvme0n1, qpair, 0, ZSA.FINISH, true),
      "ZNS 1.1, Finish Zone with Select All",
    );
    const r = report(nvme0n1, qpair, 0, { size: 64 * 4 });
    expectState(r.zones[0], ZS.FULL, "Finish all: an open zone");
    expectState(r.zones[1], ZS.FULL, "Finish all: a closed zone");
    expectState(r.zones[2], ZS.EMPTY, "Finish all: an Empty zone");
  },
);

zTest(
  "ZNS 1.1 3.4.3.2: Open Zone with Select All opens the closed zones; Empty zones stay Empty",
  ({ nvme0n1, qpair, z }) => {
    zwrite(nvme0n1, qpair, zs(z, 0), 1);
    send(nvme0n1, qpair, zs(z, 0), ZSA.CLOSE);
    requireSuccess(
      send(nvme0n1, qpair, 0, ZSA.OPEN, true),
      "ZNS 1.1, Open Zone with Select All",
    );
    const r = report(nvme0n1, qpair, 0, { size: 64 * 3 });
    expectState(r.zones[0], ZS.EXPLICIT, "Open all: a Closed zone");
    expectState(r.zones[1], ZS.EMPTY, "Open all: an Empty zone");
  },
);

// --- open and active resources ---------------------------------------------------------

zTest(
  "ZNS 1.1 2.1.1.4: explicit opens beyond Max Open Resources → Too Many Open Zones",
  ({ nvme0n1, qpair, z, skip }) => {
    if (!Number.isFinite(z.mor)) {
      return skip("no open zone limit (MOR = FFFFFFFFh)");
    }
    if (z.mor + 1 > z.zones) return skip(`MOR ${z.mor} allows every zone open`);
    if (z.mor + 1 > z.mar) return skip("MOR + 1 zones would first hit MAR");
    for (let i = 0; i < z.mor; i++) {
      requireSuccess(
        send(nvme0n1, qpair, zs(z, i), ZSA.OPEN),
        `ZNS 1.1, Open Zone ${i + 1} of MOR ${z.mor}`,
      );
    }
    requireStatus(
      send(nvme0n1, qpair, zs(z, z.mor), ZSA.OPEN),
      "01/be",
      `ZNS 1.1, Open Zone: ${z.mor} zones are explicitly open (MOR)`,
    );
  },
);

zTest(
  "ZNS 1.1 2.1.1.4: writes that would open a zone beyond Max Active Resources → Too Many Active Zones",
  ({ nvme0n1, qpair, z, skip }) => {
    if (!Number.isFinite(z.mar)) {
      return skip("no active zone limit (MAR = FFFFFFFFh)");
    }
    if (z.mar + 1 > z.zones) {
      return skip(`MAR ${z.mar} allows every zone active`);
    }
    for (let i = 0; i < z.mar; i++) {
      requireSuccess(
        zwrite(nvme0n1, qpair, zs(z, i), 1),
        `ZNS 1.1, a write activating zone ${i + 1} of MAR ${z.mar}`,
      );
      send(nvme0n1, qpair, zs(z, i), ZSA.CLOSE); // closed zones stay active
    }
    requireStatus(
      zwrite(nvme0n1, qpair, zs(z, z.mar), 1),
      "01/bd",
      `ZNS 1.1, Write to an Empty zone with ${z.mar} active zones (MAR)`,
    );
  },
);

zTest(
  "ZNS 1.1 2.1.1.4: implicit opens at the open limit close an implicitly opened zone instead of failing",
  ({ nvme0n1, qpair, z, skip }) => {
    if (!Number.isFinite(z.mor)) {
      return skip("no open zone limit (MOR = FFFFFFFFh)");
    }
    if (z.mor + 1 > Math.min(z.zones, z.mar)) {
      return skip(`MOR ${z.mor}, MAR ${z.mar}: no room for one more zone`);
    }
    for (let i = 0; i <= z.mor; i++) {
      requireSuccess(
        zwrite(nvme0n1, qpair, zs(z, i), 1),
        `ZNS 1.1, Write opening zone ${i + 1} implicitly (MOR ${z.mor})`,
      );
    }
    const r = report(nvme0n1, qpair, 0, { size: 64 + 64 * (z.mor + 1) });
    const open =
      r.zones.filter((d) => d.zs === ZS.IMPLICIT || d.zs === ZS.EXPLICIT)
        .length;
    const closed = r.zones.filter((d) => d.zs === ZS.CLOSED).length;
    conform(
      open <= z.mor && closed >= 1,
      "ZNS 1.1, Zone Open Resources: opening a zone implicitly at the limit transitions an Implicitly Opened zone to Closed",
      `${open} open, ${closed} closed, MOR ${z.mor}`,
    );
  },
);

zTest(
  "ZNS 1.1 2.1.1.4: a zone reset releases its active resource",
  ({ nvme0n1, qpair, z, skip }) => {
    if (!Number.isFinite(z.mar)) {
      return skip("no active zone limit (MAR = FFFFFFFFh)");
    }
    if (z.mar + 1 > z.zones) {
      return skip(`MAR ${z.mar} allows every zone active`);
    }
    for (let i = 0; i < z.mar; i++) {
      zwrite(nvme0n1, qpair, zs(z, i), 1);
      send(nvme0n1, qpair, zs(z, i), ZSA.CLOSE);
    }
    requireSuccess(
      send(nvme0n1, qpair, zs(z, 0), ZSA.RESET),
      "ZNS 1.1, Reset Zone of a Closed zone",
    );
    requireSuccess(
      zwrite(nvme0n1, qpair, zs(z, z.mar), 1),
      "ZNS 1.1, after a reset an Empty zone can become active again",
    );
  },
);

// --- more zone rules --------------------------------------------------------------------

zTest(
  "ZNS 1.1 3.4.2.2.1: a fresh zone's descriptor: no attributes set, reserved bits zero",
  ({ nvme0n1, qpair, z }) => {
    const d = zoneAt(nvme0n1, qpair, zs(z, 3));
    conform(
      (d.za & 0x7f) === 0 || (d.za & 0x78) === 0 && !(d.za & 0x07),
      "ZNS 1.1, Zone Descriptor Zone Attributes: an Empty zone reset by the host has ZFC, FZR and RZR clear and the reserved bits 6:3 zero",
      `ZA ${hex(d.za, 2)}`,
    );
  },
);

zTest(
  "ZNS 1.1 3.3.9: Write Zeroes that crosses the end of a zone → Zone Boundary Error",
  ({ nvme0n1, qpair, z }) => {
    const zcap = zoneAt(nvme0n1, qpair, zs(z, 1)).zcap;
    if (zcap > 65536n) throw new Error(`ZCAP ${zcap}: too large`);
    ioCmd(nvme0n1, qpair, 0x08, lbaFields(zs(z, 1), Number(zcap) - 4));
    requireStatus(
      ioCmd(nvme0n1, qpair, 0x08, lbaFields(zs(z, 1) + zcap - 4n, 8)),
      "01/b8",
      "ZNS 1.1, Write Zeroes of 8 LBAs with 4 left in the zone",
    );
  },
);

zTest(
  "ZNS 1.1 3.4.3.4: Reset Zone discards the data: the LBAs read as DLFEAT says",
  ({ nvme0n1, qpair, z, rng, skip }) => {
    if ((nvme0n1.identifyData[33] & 7) !== 1) {
      return skip(
        "DLFEAT does not promise zeroes for deallocated LBAs (bits 2:0 ≠ 001b)",
      );
    }
    using w = new Buffer(8 * nvme0n1.lbaSize, "data");
    rng.fill(w.bytes);
    w.bytes[0] |= 1;
    requireSuccess(zwrite(nvme0n1, qpair, zs(z, 2), 8, w), "write");
    requireSuccess(send(nvme0n1, qpair, zs(z, 2), ZSA.RESET), "Reset Zone");
    using r = new Buffer(8 * nvme0n1.lbaSize, "read");
    r.bytes.fill(0xff);
    nvme0n1.read(qpair, r, zs(z, 2), 8).waitdone();
    conform(
      r.bytes.subarray(0, 8 * nvme0n1.lbaSize).every((x) => x === 0),
      "ZNS 1.1, Reset Zone: the zone's LBAs are deallocated (read as zeros with DLFEAT 001b)",
      "old data still readable",
    );
  },
);

zTest(
  "ZNS 1.1 3.3.2: Copy into a zone: the destination must be the write pointer",
  ({ nvme0, nvme0n1, qpair, z, skip }) => {
    if (!(nvme0.idCtrl.oncs & 0x100)) {
      return skip("Copy is not supported (ONCS bit 8 = 0)");
    }
    requireSuccess(zwrite(nvme0n1, qpair, zs(z, 1), 4), "source write");
    const copy = (dest: bigint) => {
      using b = new Buffer(32, "copy range");
      const dv = new DataView(b.bytes.buffer, b.bytes.byteOffset, 32);
      dv.setBigUint64(8, zs(z, 1), true);
      dv.setUint16(16, 3, true);
      return ioCmd(nvme0n1, qpair, 0x19, {
        buf: b,
        len: 32,
        cdw10: Number(dest & 0xffffffffn),
        cdw11: Number(dest >> 32n),
        cdw12: 0,
      });
    };
    // independent checks: the refused copy, then a copy that must work
    const checks = new Checks();
    checks.run(() =>
      requireStatus(
        copy(zs(z, 2) + 8n),
        "01/bc",
        "ZNS 1.1, Copy: SDLBA is not the write pointer of its zone",
      )
    );
    checks.run(() => {
      requireSuccess(
        copy(zs(z, 3)),
        "ZNS 1.1, Copy to the write pointer of an Empty zone",
      );
      conform(
        zoneAt(nvme0n1, qpair, zs(z, 3)).wp === zs(z, 3) + 4n,
        "ZNS 1.1, Copy: the destination zone's write pointer advances by the LBAs copied",
        "WP did not advance by 4",
      );
    });
    checks.done();
  },
);

zTest(
  "ZNS 1.1 3.4.1: Zone Append to an Explicitly Opened zone keeps it explicitly opened",
  ({ nvme0n1, qpair, z }) => {
    send(nvme0n1, qpair, zs(z, 4), ZSA.OPEN);
    requireSuccess(append(nvme0n1, qpair, zs(z, 4), 2), "Zone Append");
    expectState(
      zoneAt(nvme0n1, qpair, zs(z, 4)),
      ZS.EXPLICIT,
      "ZNS 1.1, Zone Append to an Explicitly Opened zone",
    );
  },
);

zTest(
  "ZNS 1.1 3.4.2.2: Report Zones with a filter no zone matches: Number of Zones 0",
  ({ nvme0n1, qpair }) => {
    const r = report(nvme0n1, qpair, 0, { zrasf: 0x05 }); // Full: none after the reset
    requireSuccess(r.cpl, "ZNS 1.1, Report Zones ZRASF 05h (Full)");
    conform(
      r.count === 0n,
      "ZNS 1.1, Report Zones: with no zone in the state asked for, Number of Zones is 0",
      `${r.count}`,
    );
  },
);

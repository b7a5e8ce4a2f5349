/**
 * Helpers of the zoned namespace tests (NVMe Zoned Namespace Command Set
 * 1.1): what the device claims (Namespace Identification Descriptors, the
 * ZNS Identify structures), zone reports decoded, and zone management
 * commands whose completion is returned whatever the status.
 *
 * @module
 */
import {
  Buffer,
  type Completion,
  type Controller,
  type Namespace,
  type Qpair,
} from "../../../mod.ts";
import { adminCmd, ioCmd, lbaFields } from "../_suite.ts";
import type { TestContext } from "../../../testing.ts";

/** The device option of the zoned tests on the embedded device: 16 zones of 4 MiB, at most 4 open / 6 active. */
export const ZONED = "size=64M,zoned=4M,zopen=4,zactive=6";

/** Zone states (Zone Descriptor byte 1 bits 7:4). */
export const ZS = {
  EMPTY: 0x1,
  IMPLICIT: 0x2,
  EXPLICIT: 0x3,
  CLOSED: 0x4,
  READ_ONLY: 0xd,
  FULL: 0xe,
  OFFLINE: 0xf,
} as const;

/** Zone Send Actions. */
export const ZSA = {
  CLOSE: 0x01,
  FINISH: 0x02,
  OPEN: 0x03,
  RESET: 0x04,
  OFFLINE: 0x05,
  SET_EXT: 0x10,
} as const;

/** A state's name, for messages. */
export function stateName(zs: number): string {
  return ({
    1: "Empty",
    2: "Implicitly Opened",
    3: "Explicitly Opened",
    4: "Closed",
    0xd: "Read Only",
    0xe: "Full",
    0xf: "Offline",
  } as Record<number, string>)[zs] ?? `reserved state ${zs}`;
}

/** One zone descriptor. */
export interface Zone {
  /** Zone Type (2h: sequential write required). */
  zt: number;
  /** Zone State. */
  zs: number;
  /** Zone Attributes. */
  za: number;
  /** Zone Capacity (LBAs). */
  zcap: bigint;
  /** Zone Start LBA. */
  zslba: bigint;
  /** Write Pointer. */
  wp: bigint;
}

/** What a zoned namespace claims. */
export interface ZonedInfo {
  /** Zone size in LBAs (LBA Format Extension ZSZE of the format in use). */
  zsze: bigint;
  /** Zone Descriptor Extension Size in bytes (ZDES × 64). */
  zdes: number;
  /** Max Open Resources, 1-based (Infinity: no limit). */
  mor: number;
  /** Max Active Resources, 1-based (Infinity: no limit). */
  mar: number;
  /** Optional Zoned Command Support (bit 0: read across zone boundaries). */
  ozcs: number;
  /** Zone Operation Characteristics. */
  zoc: number;
  /** Zone Append Size Limit (Identify Controller, ZNS), 0: MDTS applies. */
  zasl: number;
  /** Number of zones (NSZE / zone size). */
  zones: number;
}

/** The Command Set Identifier of namespace `nsid` from its Namespace Identification Descriptors, or undefined. */
export function nsCsi(nvme0: Controller, nsid: number): number | undefined {
  using b = new Buffer(4096, "ns id descriptors");
  const c = adminCmd(nvme0, 0x06, { buf: b, nsid, cdw10: 0x03 });
  if (!c.ok) return undefined;
  for (let off = 0; off + 4 <= 4096;) {
    const type = b.get(off), len = b.get(off + 1);
    if (!type) break;
    if (type === 4 && len >= 1) return b.get(off + 4);
    off += 4 + len;
  }
  return undefined;
}

/**
 * What namespace 1 claims as a zoned namespace; skips the test (with the
 * reason) when it is not one.
 */
export function zonedInfo(
  nvme0: Controller,
  ns: Namespace,
  skip: TestContext["skip"],
): ZonedInfo {
  const csi = nsCsi(nvme0, ns.nsid);
  if (csi !== 2) {
    skip(
      `namespace ${ns.nsid} is not a zoned namespace (Command Set Identifier ${
        csi === undefined ? "not reported" : `${csi}h`
      }, 02h is Zoned Namespace)`,
    );
  }
  using b = new Buffer(4096, "identify zns");
  const c = adminCmd(nvme0, 0x06, {
    buf: b,
    nsid: ns.nsid,
    cdw10: 0x05,
    cdw11: 2 << 24,
  });
  if (!c.ok) {
    skip(
      `Identify Namespace for the Zoned Namespace command set (CNS 05h, CSI 02h) → ${c.statusText}: the controller does not run the zoned command set (CC.CSS)`,
    );
  }
  const fmt = (ns.identifyData[26] & 0xf) |
    ((ns.identifyData[26] >> 5) & 3) << 4;
  const zsze = b.u64(2816 + fmt * 16);
  const zdes = b.get(2816 + fmt * 16 + 8) * 64;
  const lim = (v: number) => v === 0xffffffff ? Infinity : v + 1;
  using cb = new Buffer(4096, "identify ctrl zns");
  const cc = adminCmd(nvme0, 0x06, { buf: cb, cdw10: 0x06, cdw11: 2 << 24 });
  return {
    zsze,
    zdes,
    mar: lim(b.u32(4)),
    mor: lim(b.u32(8)),
    ozcs: b.get(2) | b.get(3) << 8,
    zoc: b.get(0) | b.get(1) << 8,
    zasl: cc.ok ? cb.get(0) : 0,
    zones: Number(BigInt(ns.capacity) / (zsze || 1n)),
  };
}

/** Zone Management Receive: the completion and the decoded report. */
export function report(
  ns: Namespace,
  q: Qpair,
  slba: bigint | number = 0,
  o: { zra?: number; zrasf?: number; partial?: boolean; size?: number } = {},
): { cpl: Completion; count: bigint; zones: Zone[] } {
  const size = o.size ?? 4096;
  using b = new Buffer(Math.max(size, 4096), "zone report");
  b.bytes.fill(0xee, 0, size);
  const s = BigInt(slba);
  const cpl = ioCmd(ns, q, 0x7a, {
    buf: b,
    len: size,
    cdw10: Number(s & 0xffffffffn),
    cdw11: Number(s >> 32n),
    cdw12: size / 4 - 1,
    cdw13: ((o.zra ?? 0) | (o.zrasf ?? 0) << 8 | (o.partial ? 1 << 16 : 0)) >>>
      0,
  });
  const zones: Zone[] = [];
  const count = cpl.ok ? b.u64(0) : 0n;
  const fit = Math.floor((size - 64) / 64);
  for (let i = 0; i < Math.min(Number(count), fit); i++) {
    const d = 64 + i * 64;
    zones.push({
      zt: b.get(d) & 0xf,
      zs: b.get(d + 1) >> 4,
      za: b.get(d + 2),
      zcap: b.u64(d + 8),
      zslba: b.u64(d + 16),
      wp: b.u64(d + 24),
    });
  }
  return { cpl, count, zones };
}

/** The descriptor of the zone starting at `zslba` (Report Zones from it). */
export function zoneAt(ns: Namespace, q: Qpair, zslba: bigint): Zone {
  const r = report(ns, q, zslba, { partial: true, size: 128 });
  if (!r.cpl.ok || !r.zones.length) {
    throw new Error(
      `Report Zones at ${zslba} → ${r.cpl.statusText}: no descriptor`,
    );
  }
  return r.zones[0];
}

/** Zone Management Send; returns the completion whatever the status. */
export function send(
  ns: Namespace,
  q: Qpair,
  zslba: bigint | number,
  action: number,
  all = false,
): Completion {
  const s = BigInt(zslba);
  return ioCmd(ns, q, 0x79, {
    cdw10: Number(s & 0xffffffffn),
    cdw11: Number(s >> 32n),
    cdw13: action | (all ? 1 << 8 : 0),
  });
}

/** Reset every zone (the starting state of each test). */
export function resetAll(ns: Namespace, q: Qpair): void {
  const c = send(ns, q, 0, ZSA.RESET, true);
  if (!c.ok) throw new Error(`Reset all zones → ${c.statusText}`);
}

/** Write `count` LBAs at `lba` from a buffer of random data; returns the completion. */
export function zwrite(
  ns: Namespace,
  q: Qpair,
  lba: bigint | number,
  count: number,
  data?: Buffer,
): Completion {
  using own = data ? undefined : new Buffer(count * ns.lbaSize, "zone data");
  return ioCmd(ns, q, 0x01, lbaFields(lba, count, { buf: data ?? own }));
}

/** Zone Append of `count` LBAs to the zone at `zslba`; the completion (DW0/DW1: the LBA written). */
export function append(
  ns: Namespace,
  q: Qpair,
  zslba: bigint | number,
  count: number,
  data?: Buffer,
): Completion {
  using own = data ? undefined : new Buffer(count * ns.lbaSize, "append data");
  return ioCmd(ns, q, 0x7d, lbaFields(zslba, count, { buf: data ?? own }));
}

/** The LBA a Zone Append completion reports. */
export function appendedLba(c: Completion): bigint {
  return BigInt(c.cdw0 >>> 0) | BigInt(c.dw1 >>> 0) << 32n;
}

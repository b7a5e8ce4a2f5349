/**
 * Helpers of the NVM command tests: LBA commands as raw commands whose
 * completion is returned whatever the status.
 *
 * @module
 */
import {
  Buffer,
  type Completion,
  type Namespace,
  type Qpair,
} from "../../../mod.ts";
import { ioCmd, lbaFields } from "../_suite.ts";
import type { Rng } from "../../../testing.ts";

/** Send LBA command `opc` for `count` LBAs at `lba`; returns the completion. */
export function lbaCmd(
  ns: Namespace,
  q: Qpair,
  opc: number,
  lba: number | bigint,
  count: number,
  o: { buf?: Buffer; flags?: number; nsid?: number } = {},
): Completion {
  return ioCmd(ns, q, opc, lbaFields(lba, count, o));
}

/** Write `count` LBAs of random data at `lba` (in MDTS-sized commands); returns the data. */
export function writeRandom(
  ns: Namespace,
  q: Qpair,
  rng: Rng,
  lba: number | bigint,
  count: number,
): Uint8Array {
  const out = new Uint8Array(count * ns.lbaSize);
  rng.fill(out);
  const step = mdtsLbas(ns);
  using b = new Buffer(Math.min(count, step) * ns.lbaSize, "random");
  for (let i = 0; i < count; i += step) {
    const n = Math.min(step, count - i);
    b.write(out.subarray(i * ns.lbaSize, (i + n) * ns.lbaSize));
    ns.write(q, b, BigInt(lba) + BigInt(i), n).waitdone();
  }
  return out;
}

/** Read `count` LBAs at `lba` (in MDTS-sized commands) into a new array. */
export function readBack(
  ns: Namespace,
  q: Qpair,
  lba: number | bigint,
  count: number,
): Uint8Array {
  const out = new Uint8Array(count * ns.lbaSize);
  const step = mdtsLbas(ns);
  using b = new Buffer(Math.min(count, step) * ns.lbaSize, "read");
  for (let i = 0; i < count; i += step) {
    const n = Math.min(step, count - i);
    ns.read(q, b, BigInt(lba) + BigInt(i), n).waitdone();
    out.set(b.bytes.subarray(0, n * ns.lbaSize), i * ns.lbaSize);
  }
  return out;
}

/** A random LBA where `count` LBAs fit, aligned to `align`, within the first 2^20 LBAs. */
export function pickLba(
  ns: Namespace,
  rng: Rng,
  count: number,
  align = 1,
): number {
  const top = Math.min(ns.capacity, 1 << 20) - count;
  return Math.floor(rng.int(0, Math.max(0, top)) / align) * align;
}

/** Index of the first differing byte, or -1. */
export function firstDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** The LBA count of one maximum data transfer (MDTS), capped at 65536 LBAs. */
export function mdtsLbas(ns: Namespace): number {
  return Math.min(65536, Math.floor(ns.ctrl.mdts / ns.lbaSize));
}

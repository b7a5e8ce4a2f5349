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

/** Write `count` LBAs of random data at `lba`; returns the data. */
export function writeRandom(
  ns: Namespace,
  q: Qpair,
  rng: Rng,
  lba: number | bigint,
  count: number,
): Uint8Array {
  using b = new Buffer(count * ns.lbaSize, "random");
  rng.fill(b.bytes);
  ns.write(q, b, lba, count).waitdone();
  return b.slice(0, count * ns.lbaSize);
}

/** Read `count` LBAs at `lba` into a new array. */
export function readBack(
  ns: Namespace,
  q: Qpair,
  lba: number | bigint,
  count: number,
): Uint8Array {
  using b = new Buffer(count * ns.lbaSize, "read");
  ns.read(q, b, lba, count).waitdone();
  return b.slice(0, count * ns.lbaSize);
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

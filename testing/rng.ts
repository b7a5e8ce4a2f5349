/**
 * A small seeded PRNG for tests (sfc32): every test gets its own seed, logged
 * with the test, so a failing run can be replayed with `DENVME_SEED=<seed>`.
 *
 * @module
 */
import { envVar } from "../ffi/permissions.ts";

/**
 * A deterministic random source (sfc32, 32-bit state words).
 *
 * ```ts
 * import { Buffer } from "../mod.ts";
 * declare const buf: Buffer;
 * const rng = new Rng(0x1234abcd);
 * const lba = rng.int(0, 1000); // the same sequence for the same seed
 * rng.fill(buf.bytes);
 * ```
 */
export class Rng {
  /** The seed this generator started from. */
  readonly seed: number;
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** A generator for `seed` (an unsigned 32-bit integer). */
  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = this.seed;
    for (let i = 0; i < 15; i++) this.u32(); // mix the seed in
  }

  /** The next unsigned 32-bit integer. */
  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** An integer in [min, max] (inclusive, both safe integers). */
  int(min: number, max: number): number {
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || max < min) {
      throw new RangeError(`Rng.int(${min}, ${max}): need integers min <= max`);
    }
    const span = max - min + 1;
    if (span <= 4294967296) return min + Math.floor(this.next() * span);
    const hi = Math.floor(this.next() * Math.ceil(span / 4294967296));
    return Math.min(max, min + hi * 4294967296 + this.u32());
  }

  /** A BigInt in [min, max] (inclusive). */
  bigint(min: bigint, max: bigint): bigint {
    if (max < min) throw new RangeError(`Rng.bigint(${min}, ${max})`);
    const span = max - min + 1n;
    let v = 0n;
    for (let bits = 0n; (1n << bits) < span * 256n; bits += 32n) {
      v = v << 32n | BigInt(this.u32());
    }
    return min + v % span;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    if (!items.length) throw new RangeError("Rng.pick of an empty list");
    return items[this.int(0, items.length - 1)];
  }

  /** Shuffle `items` in place (Fisher-Yates) and return it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** Fill `bytes` with random data and return it. */
  fill<T extends Uint8Array>(bytes: T): T {
    const n = bytes.length & ~3;
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < n; i += 4) dv.setUint32(i, this.u32(), true);
    for (let i = n; i < bytes.length; i++) bytes[i] = this.u32() & 0xff;
    return bytes;
  }
}

/**
 * Parse a seed written as decimal or 0x-hex; throws on anything else.
 *
 * ```ts
 * parseSeed("0x298bca0a"); // 697027082
 * ```
 */
export function parseSeed(text: string): number {
  const t = text.trim();
  const v = /^0x[0-9a-f]{1,8}$/i.test(t)
    ? parseInt(t, 16)
    : /^\d{1,10}$/.test(t)
    ? Number(t)
    : NaN;
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
    throw new RangeError(
      `seed "${text}" must be an unsigned 32-bit integer (e.g. 0x1a2b3c4d)`,
    );
  }
  return v;
}

/**
 * A seed as the log writes it: 0x followed by 8 hex digits.
 *
 * ```ts
 * formatSeed(697027082); // "0x298bca0a"
 * ```
 */
export function formatSeed(seed: number): string {
  return `0x${(seed >>> 0).toString(16).padStart(8, "0")}`;
}

/**
 * The seed for the next test: `DENVME_SEED` when set (replay), otherwise a
 * fresh random one.
 *
 * ```ts
 * const rng = new Rng(nextSeed());
 * console.log(`seed ${formatSeed(rng.seed)}`);
 * ```
 */
export function nextSeed(): number {
  const env = envGet("DENVME_SEED");
  if (env) return parseSeed(env);
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

const envGet = envVar; // no env access: no replay seed

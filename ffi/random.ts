/**
 * One process-wide random seed (pynvme `d.srand(seed)`): after
 * {@link srand}, ioworkers without a `seed` option, random buffer patterns
 * (`PTYPE_RANDOM`) and the script's own {@link random}/{@link randint} draws
 * repeat exactly for the same seed. Without it they are unpredictable (each
 * ioworker still reports the seed it used in `r.seed`).
 *
 * ```ts
 * import { Namespace } from "../mod.ts";
 * declare const nvme0n1: Namespace;
 * srand(0x58e7f337);
 * const lba = randint(0, nvme0n1.capacity - 8); // the same LBA on every run
 * const w = nvme0n1.ioworker({ time: 1 }); // the same workload on every run
 * ```
 *
 * @module
 */
import { FUNCTIONS } from "./api_table.ts";
import { checkArgs } from "./validate.ts";
import { checkInt } from "./validate.ts";

// xoshiro128** state, seeded through splitmix32; undefined until srand()
let s: Uint32Array | undefined;
let seeded: number | undefined;

function splitmix32(x: number): () => number {
  return () => {
    x = (x + 0x9e3779b9) | 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function next32(st: Uint32Array): number {
  const r = Math.imul(rotl(Math.imul(st[1], 5), 7), 9) >>> 0;
  const t = st[1] << 9;
  st[2] ^= st[0];
  st[3] ^= st[1];
  st[1] ^= st[2];
  st[0] ^= st[3];
  st[2] ^= t;
  st[3] = rotl(st[3], 11);
  return r;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * Seed denvme's random source (pynvme `d.srand`). `seed` is an unsigned
 * 32-bit integer (pynvme's test harness passes `time & 0xffffffff`).
 *
 * ```ts
 * import assert from "node:assert/strict";
 * srand(10);
 * const a = randint(1, 1_000_000);
 * srand(10);
 * assert.equal(randint(1, 1_000_000), a);
 * ```
 */
export function srand(seed: number): void {
  checkArgs("srand", FUNCTIONS.srand, [seed]);
  checkInt("seed", seed, 0, 0xffff_ffff);
  const sm = splitmix32(seed);
  s = Uint32Array.of(sm(), sm(), sm(), sm());
  if (!(s[0] | s[1] | s[2] | s[3])) s[0] = 1;
  seeded = seed;
}

/**
 * The seed given to the latest {@link srand}, or undefined when it was never
 * called (draws are then unpredictable).
 *
 * ```ts
 * if (randomSeed() === undefined) srand(Date.now() & 0xffffffff);
 * ```
 */
export function randomSeed(): number | undefined {
  checkArgs("randomSeed", FUNCTIONS.randomSeed, []);
  return seeded;
}

/** The next unsigned 32-bit draw: seeded after srand(), else from crypto. */
function u32(): number {
  if (s) return next32(s);
  return crypto.getRandomValues(new Uint32Array(1))[0];
}

/**
 * A float in [0, 1) (Python's `random.random()`), repeatable after {@link srand}.
 *
 * ```ts
 * import { Buffer, Namespace, Qpair } from "../mod.ts";
 * declare const nvme0n1: Namespace;
 * declare const qpair: Qpair;
 * declare const buf: Buffer;
 * if (random() < 0.3) nvme0n1.write(qpair, buf, 0).waitdone(); // 30 % writes
 * ```
 */
export function random(): number {
  checkArgs("random", FUNCTIONS.random, []);
  // 53 random bits
  return ((u32() >>> 5) * 67108864 + (u32() >>> 6)) / 9007199254740992;
}

/**
 * An integer in [a, b], both included (Python's `random.randint`),
 * repeatable after {@link srand}.
 *
 * ```ts
 * import { Namespace } from "../mod.ts";
 * declare const nvme0n1: Namespace;
 * const lba = randint(0, nvme0n1.capacity - 1);
 * ```
 */
export function randint(a: number, b: number): number {
  checkArgs("randint", FUNCTIONS.randint, [a, b]);
  if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || b < a) {
    checkInt("a", a, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    checkInt("b", b, a, Number.MAX_SAFE_INTEGER);
  }
  return a + Math.floor(random() * (b - a + 1));
}

/**
 * @ignore @internal A 64-bit seed for an ioworker without a `seed` option: drawn
 * from the seeded source after srand(), else undefined (the ioworker picks
 * one itself).
 */
export function seedFromSrand(): bigint | undefined {
  if (!s) return undefined;
  return BigInt(next32(s)) << 32n | BigInt(next32(s));
}

/**
 * @ignore @internal Fill `out` with random bytes: from the seeded source after
 * srand() (repeatable), else from crypto.getRandomValues.
 */
export function randomBytes(out: Uint8Array): void {
  if (!s) {
    for (let at = 0; at < out.length; at += 65536) {
      crypto.getRandomValues(
        out.subarray(at, Math.min(out.length, at + 65536)),
      );
    }
    return;
  }
  const whole = out.length & ~3;
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < whole; i += 4) dv.setUint32(i, next32(s), true);
  if (whole < out.length) {
    const last = next32(s);
    for (let i = whole; i < out.length; i++) {
      out[i] = last >>> (8 * (i - whole));
    }
  }
}

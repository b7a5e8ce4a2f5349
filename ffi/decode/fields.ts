/**
 * The pieces the decoders share: bit fields described once (name, bits,
 * meaning, named values) and used both to decode a value into named numbers
 * and to print it the way `nvme-cli -H` does; identify strings decoded byte for
 * byte; 128-bit counters.
 *
 * ```ts
 * import { type BitField, decodeBits, describeBits } from "./fields.ts";
 * const CSTS: BitField[] = [{ name: "rdy", lo: 0, hi: 0, desc: "Ready" }];
 * decodeBits(1, CSTS); // { rdy: 1 }
 * describeBits(1, CSTS); // ["[0:0] 0x1 Ready"]
 * ```
 *
 * @module
 */
import { FUNCTIONS } from "../api_table.ts";
import { checkArgs } from "../validate.ts";

/**
 * One bit field of a register, a CDW0 or a data structure's field.
 *
 * ```ts
 * const shn: BitField = { name: "shn", lo: 14, hi: 15, desc: "Shutdown Notification",
 *   values: { 0: "no notification", 1: "normal", 2: "abrupt" } };
 * ```
 */
export interface BitField {
  /** Short name (the specification's, lower case), the key in decoded objects. */
  name: string;
  /** Lowest bit. */
  lo: number;
  /** Highest bit (inclusive). */
  hi: number;
  /** The specification's name of the field. */
  desc: string;
  /** Meanings of values, when the field is an enumeration. */
  values?: Readonly<Record<number, string>>;
  /** How a value prints (units, scale), when it is a quantity. */
  format?: (v: number) => string;
}

/**
 * Bits `lo`..`hi` (inclusive) of `v` as a number (fields up to 53 bits wide).
 *
 * ```ts
 * bits(0x00460001, 16, 19); // 6 (CC.IOSQES)
 * ```
 */
export function bits(v: number | bigint, lo: number, hi: number): number {
  const x = BigInt.asUintN(64, BigInt(v));
  return Number((x >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n));
}

/**
 * Decode `v` into an object of named fields.
 *
 * ```ts
 * decodeBits(0x00460001, [{ name: "en", lo: 0, hi: 0, desc: "Enable" }]); // { en: 1 }
 * ```
 */
export function decodeBits(
  v: number | bigint,
  spec: readonly BitField[],
): Record<string, number> {
  checkArgs("decodeBits", FUNCTIONS.decodeBits, [v, spec]);
  const out: Record<string, number> = {};
  for (const f of spec) out[f.name] = bits(v, f.lo, f.hi);
  return out;
}

/**
 * One line per field, `nvme-cli -H` style: bits, value, name, meaning.
 *
 * ```ts
 * describeBits(0x4001, [{ name: "shn", lo: 14, hi: 15, desc: "Shutdown Notification",
 *   values: { 1: "normal" } }]); // ["[15:14] 0x1 Shutdown Notification: normal"]
 * ```
 */
export function describeBits(
  v: number | bigint,
  spec: readonly BitField[],
): string[] {
  checkArgs("describeBits", FUNCTIONS.describeBits, [v, spec]);
  return spec.map((f) => {
    const x = bits(v, f.lo, f.hi);
    const range = f.lo === f.hi ? `[${f.lo}:${f.lo}]` : `[${f.hi}:${f.lo}]`;
    const meaning = f.values
      ? f.values[x] ?? "reserved"
      : f.format
      ? f.format(x)
      : f.lo === f.hi
      ? (x ? "yes" : "no")
      : "";
    return `${range} 0x${x.toString(16)} ${f.desc}${
      meaning ? `: ${meaning}` : ""
    }`;
  });
}

/**
 * An identify string (ASCII per the specification) decoded byte for byte
 * (Latin-1: byte n is U+00nn, unlike TextDecoder("latin1") which is
 * windows-1252), trailing spaces and NULs removed. Control bytes stay visible
 * as `\xNN`, so what the device sent can be seen.
 *
 * ```ts
 * asciiField(new Uint8Array([0x51, 0x45, 0x4d, 0x55, 0x20, 0x20]), 0, 5); // "QEMU"
 * asciiField(new Uint8Array([0x41, 0x80, 0x42]), 0, 2); // "A\\x80B"
 * ```
 */
export function asciiField(d: Uint8Array, begin: number, end: number): string {
  checkArgs("asciiField", FUNCTIONS.asciiField, [d, begin, end]);
  let last = Math.min(end, d.length - 1);
  while (last >= begin && (d[last] === 0x20 || d[last] === 0)) last--;
  let s = "";
  for (let i = begin; i <= last; i++) {
    const b = d[i];
    s += b < 0x20 || (b >= 0x7f && b < 0xa0)
      ? `\\x${b.toString(16).padStart(2, "0")}`
      : String.fromCharCode(b);
  }
  return s;
}

/**
 * A little-endian 128-bit counter at `at`.
 *
 * ```ts
 * u128(new DataView(new ArrayBuffer(16)), 0); // 0n
 * ```
 */
export function u128(dv: DataView, at: number): bigint {
  return dv.getBigUint64(at, true) | dv.getBigUint64(at + 8, true) << 64n;
}

/**
 * A DataView over exactly the bytes of `d`.
 *
 * ```ts
 * viewOf(new Uint8Array(8)).getUint32(0, true); // 0
 * ```
 */
export function viewOf(d: Uint8Array): DataView {
  return new DataView(d.buffer, d.byteOffset, d.byteLength);
}

/**
 * Bytes as lower-case hex (GUIDs, EUI-64s).
 *
 * ```ts
 * hexBytes(new Uint8Array([1, 0xab]), 0, 2); // "01ab"
 * ```
 */
export function hexBytes(d: Uint8Array, begin: number, end: number): string {
  return [...d.subarray(begin, end)].map((x) => x.toString(16).padStart(2, "0"))
    .join("");
}

/**
 * Parameter checks: every public entry point validates its arguments here so
 * a bad value fails in TypeScript, naming the parameter and its allowed range,
 * before anything reaches the device.
 *
 * @module
 */
import { ParameterError } from "./errors.ts";

/** Check that `value` is an integer in [min, max] and return it. */
export function checkInt(
  name: string,
  value: unknown,
  min: number,
  max: number,
): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new ParameterError(
      `${name} must be an integer in ${fmt(min)}..${fmt(max)}, got ${
        show(value)
      }`,
    );
  }
  if (value < min || value > max) {
    throw new ParameterError(
      `${name} = ${fmt(value)} is out of range: allowed ${fmt(min)}..${
        fmt(max)
      }`,
    );
  }
  return value;
}

/** Check a 64-bit quantity given as a number or a BigInt; returns a BigInt. */
export function checkU64(
  name: string,
  value: unknown,
  max = 0xffff_ffff_ffff_ffffn,
): bigint {
  let v: bigint;
  if (typeof value === "bigint") v = value;
  else if (typeof value === "number" && Number.isSafeInteger(value)) {
    v = BigInt(value);
  } else {
    throw new ParameterError(
      `${name} must be an integer (number or bigint) in 0..0x${
        max.toString(16)
      }, got ${show(value)}`,
    );
  }
  if (v < 0n || v > max) {
    throw new ParameterError(
      `${name} = ${v} is out of range: allowed 0..0x${max.toString(16)}`,
    );
  }
  return v;
}

/** Check that `value` is one of `allowed`. */
export function checkOneOf<T>(
  name: string,
  value: T,
  allowed: readonly T[],
): T {
  if (!allowed.includes(value)) {
    throw new ParameterError(
      `${name} = ${show(value)} is not allowed: use one of ${
        allowed.map(show).join(", ")
      }`,
    );
  }
  return value;
}

function fmt(n: number): string {
  return Math.abs(n) >= 0x10000 ? `0x${n.toString(16)}` : String(n);
}

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "bigint") return `${v}n`;
  return String(v);
}

/**
 * The registers the console shows (CAP, VS, INTMS, CC, CSTS, AQA, ASQ, ACQ,
 * the order of `nvme_ctrl_regs_snapshot()`), decoded field by field with the
 * driver's register table (ffi/decode/registers.ts, as `nvme show-regs -H`).
 *
 * @module
 */
import { REGISTERS } from "../ffi/decode/registers.ts";
import { bits } from "../ffi/decode/fields.ts";

/** One decoded field of a register. */
export interface RegField {
  /** Field name as in the specification, upper case (e.g. "RDY"). */
  name: string;
  /** Bits, "15:0" or "0". */
  bits: string;
  /** Value. */
  value: number;
  /** The specification's name of the field and what the value means. */
  text: string;
}

/** A register with its raw value and fields. */
export interface Register {
  /** Short name, upper case (CAP, VS, ...). */
  name: string;
  /** Offset in BAR0. */
  offset: number;
  /** The specification's name. */
  title: string;
  /** Raw value, hex. */
  hex: string;
  /** Fields. */
  fields: RegField[];
}

/** The registers of `nvme_ctrl_regs_snapshot()`, in its order. */
export const SNAPSHOT_REGISTERS: readonly string[] = [
  "cap",
  "vs",
  "intms",
  "cc",
  "csts",
  "aqa",
  "asq",
  "acq",
];

/**
 * Decode the values of `nvme_ctrl_regs_snapshot()`.
 *
 * ```ts
 * const regs = decodeRegisterSnapshot([0x4018200f0107ffn, 0x10400n, 0n, 0x460001n, 1n, 0x1f001fn, 0n, 0n]);
 * regs.find((r) => r.name === "CSTS")!.fields[0]; // { name: "RDY", value: 1, ... }
 * ```
 */
export function decodeRegisterSnapshot(values: readonly bigint[]): Register[] {
  return SNAPSHOT_REGISTERS.map((name, i) => {
    const spec = REGISTERS.find((r) => r.name === name)!;
    const v = spec.size === 8 ? values[i] : values[i] & 0xffffffffn;
    return {
      name: name.toUpperCase(),
      offset: spec.offset,
      title: spec.desc,
      hex: `0x${v.toString(16).padStart(spec.size * 2, "0")}`,
      fields: spec.fields.map((f) => {
        const x = bits(v, f.lo, f.hi);
        const meaning = f.values
          ? f.values[x] ?? "reserved"
          : f.format
          ? f.format(x)
          : "";
        return {
          name: f.name.toUpperCase(),
          bits: f.lo === f.hi ? `${f.lo}` : `${f.hi}:${f.lo}`,
          value: x,
          text: meaning ? `${f.desc}: ${meaning}` : f.desc,
        };
      }),
    };
  });
}

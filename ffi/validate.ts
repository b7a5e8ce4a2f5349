/**
 * Parameter checks: the one validation layer at the public API. Every public
 * method, setter and constructor of the exported classes is checked against
 * its signature in `ffi/api_table.ts` (types, ranges, integer-ness, BigInt
 * where 64-bit, Buffer/function/class instances, open handles, option
 * objects with unknown or wrong-typed keys) before its body runs, so a bad
 * value fails in TypeScript with a {@link ParameterError} (or a
 * {@link ClosedError} for a closed object) naming the method, the
 * parameter, the value and what is allowed, before anything reaches C or the
 * device. Checks that depend on state (an LBA against the capacity, a size
 * against a buffer) stay in the methods, with the helpers below.
 *
 * @module
 */
import { ClosedError, ParameterError } from "./errors.ts";

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

/** A short, safe description of any value for messages (never throws). */
export function show(v: unknown): string {
  try {
    if (typeof v === "string") {
      return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
    }
    if (typeof v === "bigint") return `${v}n`;
    if (typeof v === "function") return `function ${v.name || "(anonymous)"}`;
    if (typeof v === "symbol") return v.toString();
    if (v === null || typeof v !== "object") return String(v);
    if (Array.isArray(v)) {
      return v.length > 4
        ? `[array of ${v.length}]`
        : `[${v.map(show).join(", ")}]`;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) {
      const keys = Object.keys(v);
      return keys.length
        ? `{${keys.slice(0, 4).join(", ")}${keys.length > 4 ? ", …" : ""}}`
        : "{}";
    }
    const name = proto?.constructor?.name ?? "object";
    if (ArrayBuffer.isView(v)) {
      return `${name}(${(v as unknown as { length?: number }).length ?? ""})`;
    }
    return `a ${name}`;
  } catch {
    return "(a value)";
  }
}

// --- signatures ------------------------------------------------------------

/**
 * A check of one value: throws a ParameterError (or ClosedError) naming
 * `name`; `what` describes what is allowed (for messages and the generated
 * bad-input test).
 */
export interface Check {
  /** Throws when `v` is not allowed. */
  (name: string, v: unknown): void;
  /** What is allowed, in words ("an integer in 0..255"). */
  what: string;
  /** A value it accepts (an {@link InstanceSample} for an object), for tests. */
  sample: unknown;
  /** Accepted values at the edges of the range (limits, extremes), for tests. */
  edges?: unknown[];
}

/** The sample of an instance check: stands for an open object of `cls`. */
export class InstanceSample {
  /** Create a stand-in for an open `cls`. */
  constructor(readonly cls: string) {}
}

function make(
  what: string,
  sample: unknown,
  fn: (name: string, v: unknown) => void,
): Check {
  const c = fn as Check;
  c.what = what;
  c.sample = sample;
  return c;
}

function check(
  what: string,
  ok: (v: unknown) => boolean,
  sample: unknown,
): Check {
  return make(what, sample, (name, v) => {
    if (!ok(v)) {
      throw new ParameterError(`${name} must be ${what}, got ${show(v)}`);
    }
  });
}

const classes = new Map<string, abstract new (...a: never[]) => unknown>();

/** Register a class for {@link V.instance} checks (at the end of its module). */
export function registerClass(
  cls: abstract new (...a: never[]) => unknown,
): void {
  classes.set(cls.name, cls);
}

/** Whether `v` is an instance of the registered class `cls` (false if unknown). */
function isA(v: unknown, cls: string): boolean {
  const c = classes.get(cls);
  return !!c && v instanceof c;
}

/** Value checks to compose signatures from. */
export const V = {
  /**
   * An integer in [min, max]: "must be an integer in min..max, got v" for
   * another type, "name = v is out of range: allowed min..max" for an
   * integer outside (as {@link checkInt}).
   */
  int(min: number, max: number): Check {
    const what = `an integer in ${fmt(min)}..${fmt(max)}`;
    return edges(
      [min, max, Math.floor((min + max) / 2), Math.min(max, min + 1)],
      make(what, min, (name, v) => {
        if (typeof v !== "number" || !Number.isInteger(v)) {
          throw new ParameterError(`${name} must be ${what}, got ${show(v)}`);
        }
        if (v < min || v > max) {
          throw new ParameterError(
            `${name} = ${fmt(v)} is out of range: allowed ${fmt(min)}..${
              fmt(max)
            }`,
          );
        }
      }),
    );
  },
  /**
   * An integer whose range depends on the device or the object (`range`
   * says it in words, e.g. "2..MQES+1"): the method checks the range.
   */
  integer(range: string): Check {
    return check(
      `an integer in ${range}`,
      (v) => typeof v === "number" && Number.isSafeInteger(v),
      Number(/^\d+/.exec(range)?.[0] ?? 0),
    );
  },
  /** A finite number (not NaN or ±Infinity) in [min, max]. */
  num(min: number, max: number): Check {
    return check(
      `a number in ${min}..${max}`,
      (v) =>
        typeof v === "number" && Number.isFinite(v) && v >= min && v <= max,
      min,
    );
  },
  /** An unsigned 64-bit integer as a number (safe integer) or a BigInt. */
  u64(max = 0xffff_ffff_ffff_ffffn): Check {
    const what = `an integer (number or bigint) in 0..0x${max.toString(16)}`;
    return edges(
      [0, max, 2 ** 53 - 1, 1n << 40n],
      make(what, 0n, (name, v) => {
        if (typeof v === "bigint" || Number.isSafeInteger(v)) {
          const b = BigInt(v as number | bigint);
          if (b < 0n || b > max) {
            throw new ParameterError(
              `${name} = ${b} is out of range: allowed 0..0x${
                max.toString(16)
              }`,
            );
          }
          return;
        }
        throw new ParameterError(`${name} must be ${what}, got ${show(v)}`);
      }),
    );
  },
  /** A BigInt in 0..max (64-bit quantities the API takes as BigInt only). */
  bigint(max = 0xffff_ffff_ffff_ffffn): Check {
    return check(
      `a bigint in 0..0x${max.toString(16)}`,
      (v) => typeof v === "bigint" && v >= 0n && v <= max,
      0n,
    );
  },
  /** true or false. */
  bool: check("true or false", (v) => typeof v === "boolean", false),
  /** A string of at most `max` characters. */
  str(max = 4096): Check {
    return edges(
      ["", "qemu", "\u0000", "/nonexistent/x", "💥".repeat(3)],
      check(
        `a string of at most ${max} characters`,
        (v) => typeof v === "string" && v.length <= max,
        "x",
      ),
    );
  },
  /** A function (a callback). */
  fn: check("a function", (v) => typeof v === "function", () => {}),
  /** A Uint8Array. */
  bytes: check(
    "a Uint8Array",
    (v) => v instanceof Uint8Array,
    new Uint8Array(64),
  ),
  /** One of `values`. */
  oneOf(values: readonly unknown[]): Check {
    return check(
      `one of ${values.map(show).join(", ")}`,
      (v) => values.includes(v),
      values[0],
    );
  },
  /** An open instance of a registered class (a closed one: ClosedError). */
  instance(cls: string): Check {
    return make(`an open ${cls}`, new InstanceSample(cls), (name, v) => {
      if (!isA(v, cls)) {
        throw new ParameterError(`${name} must be a ${cls}, got ${show(v)}`);
      }
      if ((v as { closed?: unknown }).closed === true) {
        // the object's own ClosedError names it best ("Qpair 1 (deleted)")
        for (const k of ["handle", "queue", "ctrlHandle"]) {
          try {
            if (k in (v as object)) (v as Record<string, unknown>)[k];
          } catch (e) {
            if (e instanceof ClosedError) throw e;
          }
        }
        throw new ClosedError(`${name} (${cls})`);
      }
    });
  },
  /** Any of the checks (else an error naming every alternative). */
  anyOf(...checks: Check[]): Check {
    const what = checks.map((c) => c.what).join(" or ");
    return make(what, checks[0].sample, (name, v) => {
      let closed: unknown;
      for (const k of checks) {
        try {
          k(name, v);
          return;
        } catch (e) {
          if (e instanceof ClosedError) closed = e;
        }
      }
      if (closed) throw closed;
      throw new ParameterError(`${name} must be ${what}, got ${show(v)}`);
    });
  },
  /** An array of `min..max` elements, each checked. */
  array(each: Check, min: number, max: number): Check {
    return make(
      `an array of ${min}..${max} × ${each.what}`,
      Array.from({ length: min }, () => each.sample),
      (name, v) => {
        if (!Array.isArray(v) || v.length < min || v.length > max) {
          throw new ParameterError(
            `${name} must be an array of ${min}..${max} elements (${each.what}), got ${
              show(v)
            }`,
          );
        }
        v.forEach((x, i) => each(`${name}[${i}]`, x));
      },
    );
  },
  /**
   * A plain object whose keys are all in `spec` (unknown keys are refused,
   * naming the allowed ones); each key present and not undefined is checked,
   * the `required` ones must be there.
   */
  options(spec: Record<string, Check>, required: string[] = []): Check {
    const keys = Object.keys(spec);
    const pick = (f: (k: string) => unknown, which: string[]) =>
      Object.fromEntries(which.map((k) => [k, f(k)]));
    const sample = pick((k) => spec[k].sample, required);
    return edges(
      [
        sample,
        pick((k) => spec[k].sample, keys),
        pick((k) => spec[k].edges?.[1] ?? spec[k].sample, keys),
      ],
      make(`an options object {${keys.join(", ")}}`, sample, (name, v) => {
        if (!isRecord(v)) {
          throw new ParameterError(
            `${name} must be an options object {${keys.join(", ")}}, got ${
              show(v)
            }`,
          );
        }
        for (const k of Object.keys(v)) {
          if (!Object.hasOwn(spec, k)) {
            throw new ParameterError(
              `${name}: unknown option ${JSON.stringify(k)} (allowed: ${
                keys.join(", ")
              })`,
            );
          }
          const x = v[k];
          if (x !== undefined) spec[k](k, x);
        }
        for (const k of required) {
          if (v[k] === undefined) {
            throw new ParameterError(
              `${name}: option ${k} is required (${spec[k].what})`,
            );
          }
        }
      }),
    );
  },
  /** Anything (documented as such: the method checks it itself). */
  any: check("any value", () => true, undefined),
  /** A plain object (a JSON-like record). */
  record: check("a plain object", isRecord, {}),
  /** Anything `pred` accepts, described as `what`. */
  custom(what: string, pred: (v: unknown) => boolean): Check {
    return check(what, pred, undefined);
  },
};

function edges(values: unknown[], c: Check): Check {
  c.edges = values;
  return c;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

/** One parameter of a signature. */
export interface Param {
  /** Its name in messages. */
  name: string;
  /** The check. */
  check: Check;
  /** May be undefined (a default applies). */
  optional: boolean;
}

/** A required parameter. */
export function req(name: string, c: Check): Param {
  return { name, check: c, optional: false };
}
/** An optional parameter (undefined: the default). */
export function opt(name: string, c: Check): Param {
  return { name, check: c, optional: true };
}

/** A signature: the parameters of one method, setter or constructor. */
export type Signature = readonly Param[];

/**
 * The signatures of a class: every public method, setter (`set name`) and
 * the constructor (`new`); "internal" marks members that are not
 * part of the public API (not checked, left out of the bad-input test).
 */
export type ClassTable = Record<string, Signature | "internal">;

/**
 * Check `args` against `sig`; `where` names the call ("getlogpage",
 * "Buffer.size"). Too many arguments are refused too.
 */
export function checkArgs(
  where: string,
  sig: Signature,
  args: readonly unknown[],
): void {
  let n = args.length;
  while (n > sig.length && args[n - 1] === undefined) n--;
  if (n > sig.length) {
    throw new ParameterError(
      `${where}: takes at most ${sig.length} argument(s) (${
        sig.map((p) => p.name).join(", ")
      }), got ${args.length}`,
    );
  }
  for (let i = 0; i < sig.length; i++) {
    const p = sig[i];
    const v = args[i];
    if (v === undefined) {
      if (p.optional) continue;
      throw new ParameterError(
        `${where}: ${p.name} is required (${p.check.what})`,
      );
    }
    try {
      p.check(p.name, v);
    } catch (e) {
      if (e instanceof ParameterError) {
        e.message = `${where}: ${e.message}`;
      }
      throw e;
    }
  }
}

const AsyncFunction = (async () => {}).constructor;

/** Members that work on a closed object too (closing again, the kept log). */
const CLOSED_OK = new Set([
  "close",
  "delete",
  "toString",
  "cmdlog",
  "cmdlogText",
]);

/**
 * Throw the object's ClosedError when it is closed: the one its own handle
 * getter throws (naming it), else one naming its class.
 */
function checkOpen(o: unknown, cls: string): void {
  if (!o || typeof o !== "object" || !("closed" in o) || o.closed !== true) {
    return;
  }
  for (const k of ["handle", "queue", "ctrlHandle"]) {
    try {
      if (k in o) (o as Record<string, unknown>)[k];
    } catch (e) {
      if (e instanceof ClosedError) throw e;
    }
  }
  const id = (o as { nsid?: unknown }).nsid;
  throw new ClosedError(`${cls}${typeof id === "number" ? ` ${id}` : ""}`);
}

/** Every guarded class and its table (for the coverage and bad-input tests). */
export const guarded = new Map<
  abstract new (...a: never[]) => unknown,
  ClassTable
>();

/**
 * Put the checks of `table` in front of the methods and setters of `cls`
 * (inherited ones included: the wrapper is an own member of `cls.prototype`).
 * The constructor checks itself with {@link checkArgs} (a class cannot be
 * wrapped in place), using `table.new`.
 */
export function guardClass(
  cls: abstract new (...a: never[]) => unknown,
  table: ClassTable,
): void {
  registerClass(cls);
  guarded.set(cls, table);
  const proto = cls.prototype as Record<string, unknown>;
  for (const [key, sig] of Object.entries(table)) {
    if (sig === "internal" || key === "new") continue;
    const setter = key.startsWith("set ");
    const name = setter ? key.slice(4) : key;
    const where = `${cls.name}.${name}`;
    let d: PropertyDescriptor | undefined;
    for (
      let p: object | null = proto;
      p && !d;
      p = Object.getPrototypeOf(p)
    ) d = Object.getOwnPropertyDescriptor(p, name);
    if (!d) throw new Error(`${where}: no such member to guard`);
    if (setter) {
      const set = d.set;
      if (!set) throw new Error(`${where}: not a setter`);
      Object.defineProperty(proto, name, {
        ...d,
        set(this: unknown, v: unknown) {
          checkArgs(where, sig, [v]);
          checkOpen(this, cls.name);
          set.call(this, v);
        },
      });
    } else {
      const fn = d.value;
      if (typeof fn !== "function") throw new Error(`${where}: not a method`);
      const mayBeClosed = CLOSED_OK.has(name);
      const isAsync = fn instanceof AsyncFunction;
      const wrapped = {
        [name](this: unknown, ...args: unknown[]) {
          try {
            checkArgs(name, sig, args);
            if (!mayBeClosed) checkOpen(this, cls.name);
          } catch (e) {
            // an async method rejects its promise, it does not throw
            if (isAsync) return Promise.reject(e);
            throw e;
          }
          return fn.apply(this, args);
        },
      }[name];
      Object.defineProperty(proto, name, { ...d, value: wrapped });
    }
  }
}

/** Check a constructor's arguments against `table.new` of its class. */
export function checkConstructor(
  cls: string,
  table: ClassTable,
  args: readonly unknown[],
): void {
  const sig = Object.hasOwn(table, "new") ? table.new : undefined;
  if (sig && sig !== "internal") checkArgs(`new ${cls}`, sig, args);
}

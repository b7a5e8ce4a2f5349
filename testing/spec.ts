/**
 * Spec checks for conformance tests: run a command and get its completion
 * whatever the status, then require what the specification requires. A
 * failed requirement throws {@link SpecViolation}, whose message names the
 * rule and what the device did, e.g.
 * `NVMe Base 2.0 5.16.1: reserved log page → 01/09 Invalid Log Page; observed 00/02 Invalid Field in Command`.
 *
 * @module
 */
import type { Buffer } from "../ffi/buffer.ts";
import type { Completion } from "../ffi/completion.ts";
import type { Controller, RawCommand } from "../ffi/controller.ts";
import { StatusError } from "../ffi/errors.ts";
import type { Namespace, RawIoCommand } from "../ffi/namespace.ts";
import type { Qpair } from "../ffi/qpair.ts";

/** The device broke a rule of the specification. */
export class SpecViolation extends Error {
  /** The rule (specification reference and requirement). */
  readonly rule: string;
  /** What the device did. */
  readonly observed: string;
  /** A rule and the observation that breaks it. */
  constructor(rule: string, observed: string) {
    super(`${rule}; observed ${observed}`);
    this.name = "SpecViolation";
    this.rule = rule;
    this.observed = observed;
  }
}

/** "00/02 Invalid Field in Command", or "success" / "command timeout". */
export function describe(cpl: Completion): string {
  if (cpl.timedOut) return "no completion (command timeout)";
  if (cpl.ok) return `success (00/00, cdw0 0x${cpl.cdw0.toString(16)})`;
  return `${cpl.statusText} ${cpl.statusName}`;
}

function capture(run: (cb: (c: Completion) => void) => void): Completion {
  let got: Completion | undefined;
  try {
    run((c) => got = c);
  } catch (e) {
    if (!(e instanceof StatusError) || !got || e.completion !== got) throw e;
  }
  if (!got) throw new Error("the command completed without a completion");
  return got;
}

/**
 * Send admin command `opcode` (low word of CDW0) and return its completion,
 * whatever its status (a status never throws here).
 */
export function adminCmd(
  nvme0: Controller,
  opcode: number,
  f: RawCommand = {},
): Completion {
  return capture((cb) =>
    nvme0.sendCmd(opcode, {
      ...f,
      cb: (c) => {
        cb(c);
        f.cb?.(c);
      },
    }).waitdone()
  );
}

/** Send I/O command `opcode` on `qpair` and return its completion, whatever its status. */
export function ioCmd(
  ns: Namespace,
  qpair: Qpair,
  opcode: number,
  f: RawIoCommand = {},
): Completion {
  return capture((cb) =>
    ns.sendCmd(opcode, qpair, {
      ...f,
      cb: (c) => {
        cb(c);
        f.cb?.(c);
      },
    }).waitdone()
  );
}

/**
 * Build an LBA command's fields: SLBA in CDW10/11, NLB (1-based `count`) and
 * `flags` in CDW12.
 */
export function lbaFields(
  lba: number | bigint,
  count: number,
  o: { buf?: Buffer; flags?: number; nsid?: number } = {},
): RawIoCommand {
  const slba = BigInt(lba);
  return {
    buf: o.buf,
    nsid: o.nsid,
    cdw10: Number(slba & 0xffffffffn),
    cdw11: Number(slba >> 32n),
    cdw12: ((count - 1) & 0xffff | (o.flags ?? 0) << 16) >>> 0,
  };
}

/**
 * Run `fn` (one command and its wait) and return the completion it got,
 * whatever its status; `fn` receives the callback to pass to the command.
 */
export function completionOf(
  fn: (cb: (c: Completion) => void) => void,
): Completion {
  return capture(fn);
}

/** Status text of a completion: "00/00" style, lower-case hex. */
function st(cpl: Completion): string {
  return cpl.statusText.toLowerCase();
}

/**
 * Require one of the `expected` statuses ("00/0b" style). Throws
 * {@link SpecViolation} naming `rule` otherwise.
 */
export function requireStatus(
  cpl: Completion,
  expected: string | readonly string[],
  rule: string,
): void {
  const list = (typeof expected === "string" ? [expected] : expected).map((
    s,
  ) => s.toLowerCase());
  if (!list.includes(st(cpl)) || cpl.timedOut) {
    throw new SpecViolation(
      `${rule} → ${list.join(" or ")}`,
      describe(cpl),
    );
  }
}

/** Require success. */
export function requireSuccess(cpl: Completion, rule: string): void {
  if (!cpl.ok || cpl.timedOut) {
    throw new SpecViolation(`${rule} → success`, describe(cpl));
  }
}

/** Require any error status (not success), optionally not one of `not`. */
export function requireError(
  cpl: Completion,
  rule: string,
  not: readonly string[] = [],
): void {
  if (cpl.ok || cpl.timedOut || not.includes(st(cpl))) {
    throw new SpecViolation(
      `${rule} → an error status${
        not.length ? ` other than ${not.join(", ")}` : ""
      }`,
      describe(cpl),
    );
  }
}

/** Require `cond`; `observed` says what the device did when it is false. */
export function conform(
  cond: boolean,
  rule: string,
  observed: string | (() => string),
): asserts cond {
  if (!cond) {
    throw new SpecViolation(
      rule,
      typeof observed === "function" ? observed() : observed,
    );
  }
}

/** Hex for messages: 0x-prefixed, at least `width` digits. */
export function hex(v: number | bigint, width = 1): string {
  return `0x${v.toString(16).padStart(width, "0")}`;
}

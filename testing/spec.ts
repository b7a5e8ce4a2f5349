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
import { callCallback } from "../ffi/callback.ts";
import type { Completion } from "../ffi/completion.ts";
import type { Controller, RawCommand } from "../ffi/controller.ts";
import { StatusError } from "../ffi/errors.ts";
import type { Namespace, RawIoCommand } from "../ffi/namespace.ts";
import type { Qpair } from "../ffi/qpair.ts";

/**
 * The device broke a rule of the specification.
 *
 * ```ts
 * throw new SpecViolation("NVMe Base 2.0, 3.1.3.3: CSTS.RDY follows CC.EN", "RDY stayed 1 for 10 s");
 * ```
 */
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

/**
 * Several independent requirements broken in one test (collected by
 * {@link Checks}): the message lists each; a known deviation applies only
 * when it explains every one of them.
 *
 * ```ts
 * const e = new SpecViolations([new SpecViolation("rule A", "x"), new SpecViolation("rule B", "y")]);
 * console.log(e.violations.length); // 2
 * ```
 */
export class SpecViolations extends SpecViolation {
  /** Each requirement broken, in the order checked. */
  readonly violations: readonly SpecViolation[];
  /** The violations (at least one). */
  constructor(violations: readonly SpecViolation[]) {
    super(
      violations.map((v) => v.rule).join(" | "),
      violations.map((v) => v.observed).join(" | "),
    );
    this.message = violations.map((v) => v.message).join("\n");
    this.name = "SpecViolations";
    this.violations = violations;
  }
}

/**
 * Independent checks of one test: each runs even when one before it broke a
 * rule (a known deviation of the first must not hide a failure of the
 * next); `done()` throws what was broken — the violation itself when one,
 * {@link SpecViolations} when several. Errors that are not violations (the
 * driver's own) end the test at once.
 *
 * ```ts
 * declare const cpl1: import("../mod.ts").Completion;
 * declare const dataKept: () => boolean;
 * const checks = new Checks();
 * checks.run(() => requireStatus(cpl1, "00/02", "rule A"));
 * checks.run(() => conform(dataKept(), "rule B", "the data changed"));
 * checks.done();
 * ```
 */
export class Checks {
  readonly #broken: SpecViolation[] = [];
  /** Run one check; a violation is kept for `done()`. Returns true when it held. */
  run(check: () => void): boolean {
    try {
      check();
      return true;
    } catch (e) {
      if (!(e instanceof SpecViolation)) throw e;
      if (e instanceof SpecViolations) this.#broken.push(...e.violations);
      else this.#broken.push(e);
      return false;
    }
  }
  /** The violations so far. */
  get broken(): readonly SpecViolation[] {
    return this.#broken;
  }
  /** Throw what was broken (nothing when every check held). */
  done(): void {
    if (this.#broken.length === 1) throw this.#broken[0];
    if (this.#broken.length > 1) throw new SpecViolations(this.#broken);
  }
}

/**
 * "00/02 Invalid Field in Command", or "success" / "command timeout".
 *
 * ```ts
 * import { Buffer, Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * declare const buf: Buffer;
 * const cpl = adminCmd(nvme0, 0x06, { buf, cdw10: 0xff });
 * console.log(describe(cpl)); // "00/02 Invalid Field in Command"
 * ```
 */
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
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * const cpl = adminCmd(nvme0, 0x0a, { cdw10: 0x07 }); // Get Features, Number of Queues
 * requireSuccess(cpl, "NVMe Base 2.0, 5.27.1.5: Number of Queues is mandatory");
 * ```
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
        if (f.cb) callCallback(f.cb, c);
      },
    }).waitdone()
  );
}

/**
 * Send I/O command `opcode` on `qpair` and return its completion, whatever its status.
 *
 * ```ts
 * import { Buffer, Namespace, Qpair } from "../mod.ts";
 * declare const nvme0n1: Namespace;
 * declare const qpair: Qpair;
 * declare const buf: Buffer;
 * const cpl = ioCmd(nvme0n1, qpair, 0x02, lbaFields(nvme0n1.capacity, 1, { buf }));
 * requireStatus(cpl, "00/80", "NVMe NVM 1.0, Read: an LBA past the end → LBA Out of Range");
 * ```
 */
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
        if (f.cb) callCallback(f.cb, c);
      },
    }).waitdone()
  );
}

/**
 * Build an LBA command's fields: SLBA in CDW10/11, NLB (1-based `count`) and
 * `flags` in CDW12.
 *
 * ```ts
 * import { Buffer } from "../mod.ts";
 * declare const buf: Buffer;
 * lbaFields(0x1_0000_0000n, 8, { buf, flags: 0x4000 }); // cdw10 0, cdw11 1, cdw12 0x40000007 (FUA)
 * ```
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
 *
 * ```ts
 * import { Buffer, Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * declare const buf: Buffer;
 * const cpl = completionOf((cb) => nvme0.getlogpage(0x6f, buf, { size: 512, cb }).waitdone());
 * requireStatus(cpl, "01/09", "NVMe Base 2.0, Get Log Page: a reserved LID → Invalid Log Page");
 * ```
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
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * const cpl = adminCmd(nvme0, 0x04, { cdw10: 0 }); // delete the admin CQ
 * requireStatus(cpl, ["01/01", "00/02"], "NVMe Base 2.0, Delete I/O CQ: QID 0 → Invalid Queue Identifier");
 * ```
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

/**
 * Require success.
 *
 * ```ts
 * import { Buffer, Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * declare const buf: Buffer;
 * requireSuccess(adminCmd(nvme0, 0x06, { buf, cdw10: 1 }), "NVMe Base 2.0, Identify CNS 01h is mandatory");
 * ```
 */
export function requireSuccess(cpl: Completion, rule: string): void {
  if (!cpl.ok || cpl.timedOut) {
    throw new SpecViolation(`${rule} → success`, describe(cpl));
  }
}

/**
 * Require any error status (not success), optionally not one of `not`.
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * requireError(adminCmd(nvme0, 0x01, { cdw10: 0 }), "Create I/O SQ with QID 0 must fail", ["00/01"]);
 * ```
 */
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

/**
 * Require `cond`; `observed` says what the device did when it is false.
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * const mqes = nvme0.mqes;
 * conform(mqes >= 1, "NVMe Base 2.0, CAP.MQES: at least 1 (2 entries)", () => `MQES ${mqes}`);
 * ```
 */
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

/**
 * Hex for messages: 0x-prefixed, at least `width` digits.
 *
 * ```ts
 * hex(0x3f, 4); // "0x003f"
 * ```
 */
export function hex(v: number | bigint, width = 1): string {
  return `0x${v.toString(16).padStart(width, "0")}`;
}

/**
 * Command callbacks in both forms: `(cpl) => ...` gets the whole
 * {@link Completion}; pynvme's `(cdw0, status1) => ...` gets CQE DW0 and the
 * 16-bit status word (CQE DW3 bits 31:16: the status field shifted left by
 * one, the phase tag in bit 0). The form is chosen by the function's arity
 * (`fn.length === 2`), as pynvme chooses by the number of parameters
 * (parameters with a default value, and rest parameters, do not count).
 *
 * @module
 */
import type { Completion } from "./completion.ts";
import { ParameterError } from "./errors.ts";

/**
 * A command callback, in either form: `(cpl) => ...` gets the
 * {@link Completion}; pynvme's `(cdw0, status1) => ...` gets CQE DW0 and the
 * status word (phase in bit 0). The first parameter is typed `Completion &
 * number` only so that both forms type-check without annotations: with one
 * parameter it is the Completion, with two it is DW0 (a number).
 *
 * ```ts
 * import { Buffer, Namespace, Qpair } from "../mod.ts";
 * declare const nvme0n1: Namespace;
 * declare const qpair: Qpair;
 * declare const buf: Buffer;
 * const cb: CommandCallback = (cpl) => console.log(cpl.statusText, cpl.latencyUs);
 * const legacy: CommandCallback = (cdw0, status1) =>
 *   console.log(cdw0, (status1 >> 1) & 0xff); // SC
 * nvme0n1.read(qpair, buf, 0, 1, cb);
 * nvme0n1.read(qpair, buf, 1, 1, legacy);
 * qpair.waitdone(2);
 * ```
 */
export type CommandCallback = (
  cpl: Completion & number,
  status1: number,
) => void;

/** Call `cb` in the form its arity asks for. */
export function callCallback(cb: CommandCallback, cpl: Completion): void {
  if (cb.length === 2) {
    (cb as (cdw0: number, status1: number) => void)(
      cpl.cdw0,
      cpl.dwords[3] >>> 16,
    );
  } else (cb as (cpl: Completion) => void)(cpl);
}

/**
 * Check a callback when its command is submitted: a function of one
 * parameter (or none) or of two (pynvme's form).
 */
export function checkCallback(cb: unknown): void {
  if (typeof cb !== "function") {
    throw new ParameterError(
      `cb must be a function (cpl) => ... or (cdw0, status1) => ..., got ${typeof cb}`,
    );
  }
  if (cb.length > 2) {
    throw new ParameterError(
      `cb takes ${cb.length} parameters: a callback takes (cpl) or (cdw0, status1)`,
    );
  }
}

/**
 * Expected statuses: a script states which error status a block of code must
 * produce; matching completions do not throw, and the block fails if the status
 * never occurred.
 *
 * @module
 */
import { FUNCTIONS } from "./api_table.ts";
import { checkArgs } from "./validate.ts";
import type { Completion } from "./completion.ts";
import { NvmeError, ParameterError } from "./errors.ts";

interface Expectation {
  sct: number;
  sc: number;
  seen: number;
}

const stack: Expectation[] = [];

function parse(status: string | readonly [number, number]): [number, number] {
  if (typeof status !== "string") return [status[0], status[1]];
  const m = /^([0-7]|0[0-7])\/([0-9a-f]{1,2})$/i.exec(status.trim());
  if (!m) {
    throw new ParameterError(
      `status "${status}" must look like "00/80" (SCT/SC in hex)`,
    );
  }
  return [parseInt(m[1], 16), parseInt(m[2], 16)];
}

/** @ignore @internal Called for every non-zero completion: true when it was expected. */
export function matchExpected(cpl: Completion): boolean {
  for (let i = stack.length - 1; i >= 0; i--) {
    const e = stack[i];
    if (e.sct === cpl.sct && e.sc === cpl.sc) {
      e.seen++;
      return true;
    }
  }
  return false;
}

/**
 * Run `fn` expecting commands completed inside it to fail with `status`
 * ("SCT/SC", e.g. "00/80"). Such completions do not throw; if none occurs,
 * this throws. Works with sync and async functions.
 *
 * ```ts
 * import { Buffer, Namespace, Qpair } from "../mod.ts";
 * declare const nvme0n1: Namespace;
 * declare const qpair: Qpair;
 * declare const buf: Buffer;
 * expectStatus("00/80", () => nvme0n1.read(qpair, buf, nvme0n1.capacity).waitdone());
 * ```
 */
export function expectStatus<T>(
  status: string | readonly [number, number],
  fn: () => T,
): T {
  checkArgs("expectStatus", FUNCTIONS.expectStatus, [status, fn]);
  const [sct, sc] = parse(status);
  const e: Expectation = { sct, sc, seen: 0 };
  stack.push(e);
  const done = () => {
    const i = stack.indexOf(e);
    if (i >= 0) stack.splice(i, 1);
    if (!e.seen) {
      throw new NvmeError(
        `expected status ${
          typeof status === "string" ? status : status.join("/")
        } did not occur`,
      );
    }
  };
  let r: T;
  try {
    r = fn();
  } catch (err) {
    const i = stack.indexOf(e);
    if (i >= 0) stack.splice(i, 1);
    throw err;
  }
  if (r instanceof Promise) {
    return r.then((v) => {
      done();
      return v;
    }, (err) => {
      const i = stack.indexOf(e);
      if (i >= 0) stack.splice(i, 1);
      throw err;
    }) as T;
  }
  done();
  return r;
}

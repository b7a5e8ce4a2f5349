/**
 * Permission checks that never prompt and never throw at import time.
 *
 * In Deno 2, `--allow-ffi` already grants full trust, so denvme needs nothing
 * else to drive a device: `deno run --allow-ffi script.ts` and
 * `deno test --allow-ffi` work as written. Everything beyond that (environment
 * variables, reading a firmware file, writing test.log, running Chromium) is
 * used only when its permission is granted: environment variables read
 * otherwise give their defaults, and an action that really needs a permission
 * fails with a {@linkcode PermissionError} naming the flag.
 *
 * @module
 */
import { NvmeError } from "./errors.ts";

/**
 * A permission that denvme lacks for an action, naming the flag to add.
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * try {
 *   nvme0.downfw("fw.bin");
 * } catch (e) {
 *   if (e instanceof PermissionError) console.log(e.flag); // "--allow-read"
 *   else throw e;
 * }
 * ```
 */
export class PermissionError extends NvmeError {
  /** The command-line flag that grants the missing permission. */
  readonly flag: string;
  /** Create the error for `what` (an action), lacking `flag`. */
  constructor(what: string, flag: string) {
    super(`${what} needs ${flag}: run again with ${flag}`);
    this.name = "PermissionError";
    this.flag = flag;
  }
}

/**
 * True when `desc` is granted now (no prompt, never throws).
 *
 * ```ts
 * if (granted({ name: "write", path: "test-results" })) console.log("test.log will be written");
 * ```
 */
export function granted(desc: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(desc).state === "granted";
  } catch {
    return false;
  }
}

/**
 * The value of environment variable `name` when env access to it is granted,
 * else undefined (the caller's default applies; nothing is prompted).
 *
 * ```ts
 * const dut = envVar("NVME_DUT") || "qemu";
 * ```
 */
export function envVar(name: string): string | undefined {
  if (!granted({ name: "env", variable: name })) return undefined;
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** The flag that grants `desc`, e.g. `--allow-read`. */
export function flagOf(desc: Deno.PermissionDescriptor): string {
  return `--allow-${desc.name}`;
}

/**
 * Throw a {@linkcode PermissionError} for `what` unless `desc` is granted.
 *
 * ```ts
 * requirePermission({ name: "read", path: "fw.bin" }, "reading the firmware file fw.bin");
 * ```
 */
export function requirePermission(
  desc: Deno.PermissionDescriptor,
  what: string,
): void {
  if (!granted(desc)) throw new PermissionError(what, flagOf(desc));
}

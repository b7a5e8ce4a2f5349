/**
 * Error classes. Every failure names what went wrong; device status errors
 * carry the decoded completion.
 *
 * @module
 */
import type { Completion } from "./completion.ts";
import type { VerifyFailure, VerifyKind } from "./verify.ts";

/**
 * Base class of every error denvme throws.
 *
 * ```ts
 * import { Buffer, Namespace, Qpair } from "../mod.ts";
 * declare const nvme0n1: Namespace;
 * declare const qpair: Qpair;
 * declare const buf: Buffer;
 * try {
 *   nvme0n1.read(qpair, buf, 0, 1).waitdone();
 * } catch (e) {
 *   if (!(e instanceof NvmeError)) throw e; // a bug in the script
 *   console.log(`device or driver error: ${e.message}`);
 * }
 * ```
 */
export class NvmeError extends Error {
  /** Negative errno from libnvmeshim, when the error came from C. */
  readonly code: number;
  /** Create an error with an optional C errno. */
  constructor(message: string, code = 0, options?: ErrorOptions) {
    super(message, options);
    this.name = "NvmeError";
    this.code = code;
  }
}

/**
 * A parameter outside its allowed range: rejected before reaching the device.
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import { Controller, Qpair } from "../mod.ts";
 * declare const nvme0: Controller;
 * assert.throws(() => new Qpair(nvme0, 1), ParameterError); // depth 2..MQES+1
 * ```
 */
export class ParameterError extends RangeError {
  /** Create a parameter error; the message names the parameter and its range. */
  constructor(message: string) {
    super(message);
    this.name = "ParameterError";
  }
}

/**
 * Use of an object after `close()` (or after its controller closed).
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import { Buffer, Namespace, Qpair } from "../mod.ts";
 * declare const nvme0n1: Namespace;
 * declare const qpair: Qpair;
 * declare const buf: Buffer;
 * qpair.delete();
 * assert.throws(() => nvme0n1.read(qpair, buf, 0, 1), ClosedError);
 * ```
 */
export class ClosedError extends NvmeError {
  /** Create a closed-object error for `what` (e.g. "Qpair 1"). */
  constructor(what: string) {
    super(`${what} is closed`);
    this.name = "ClosedError";
  }
}

/**
 * The device went away (QEMU exited, device unplugged).
 *
 * ```ts
 * import { Qpair } from "../mod.ts";
 * declare const qpair: Qpair;
 * try {
 *   qpair.waitdone();
 * } catch (e) {
 *   if (e instanceof DeviceGoneError) console.log("the device is gone: power cycle it");
 *   else throw e;
 * }
 * ```
 */
export class DeviceGoneError extends NvmeError {
  /** Create a device-gone error. */
  constructor(message: string, code = -19) {
    super(message, code);
    this.name = "DeviceGoneError";
  }
}

/**
 * A command completed with a non-zero status. The message reads like pynvme's
 * warning: `ERROR status: 00/80 LBA Out of Range (Read, cid 3, sqid 1)`.
 *
 * ```ts
 * import { Buffer, Namespace, Qpair } from "../mod.ts";
 * declare const nvme0n1: Namespace;
 * declare const qpair: Qpair;
 * declare const buf: Buffer;
 * try {
 *   nvme0n1.read(qpair, buf, nvme0n1.capacity, 1).waitdone();
 * } catch (e) {
 *   if (!(e instanceof StatusError)) throw e;
 *   console.log(e.sct, e.sc, e.completion.cid); // 0 128 ...
 * }
 * ```
 */
export class StatusError extends NvmeError {
  /** The completion that carried the status. */
  readonly completion: Completion;
  /** Create a status error for a completion. */
  constructor(message: string, completion: Completion) {
    super(message);
    this.name = "StatusError";
    this.completion = completion;
  }
  /** Status Code Type. */
  get sct(): number {
    return this.completion.sct;
  }
  /** Status Code. */
  get sc(): number {
    return this.completion.sc;
  }
}

/**
 * The driver gave up waiting for a command (status 07/FF, synthesized).
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * nvme0.timeout = 1000; // ms
 * try {
 *   nvme0.format(0).waitdone();
 * } catch (e) {
 *   if (e instanceof CommandTimeoutError) console.log("format took longer than 1 s");
 *   else throw e;
 * }
 * ```
 */
export class CommandTimeoutError extends StatusError {
  /** Create a timeout error for a synthesized completion. */
  constructor(message: string, completion: Completion) {
    super(message, completion);
    this.name = "CommandTimeoutError";
  }
}

/**
 * A read failed data verification (status 07/81, rewritten by the driver):
 * the data read differs from what was written. The message names the kind,
 * the LBA and the expected and found values, e.g. `ERROR status: 07/81 Data
 * Verification Failed: CRC mismatch at LBA 103: expected CRC 0x5f2e6a11,
 * found 0x0c1d9e55 (Read lba 96 count 16, cid 3, sqid 1)`.
 *
 * ```ts
 * import { VerifyError } from "./errors.ts";
 * try {
 *   // nvme0n1.read(qpair, buf, 0, 8).waitdone();
 * } catch (e) {
 *   if (e instanceof VerifyError) console.log(e.kind, e.lba, e.failure.badBlocks);
 * }
 * ```
 */
export class VerifyError extends StatusError {
  /** The details: kind, LBAs, expected and found values. */
  readonly failure: VerifyFailure;
  /** Create a verification error for a completion carrying a failure report. */
  constructor(message: string, completion: Completion, failure: VerifyFailure) {
    super(message, completion);
    this.name = "VerifyError";
    this.failure = failure;
  }
  /** "lba mismatch", "crc mismatch" or "uncorrectable" (of the first bad block). */
  get kind(): VerifyKind {
    return this.failure.kind;
  }
  /** The first bad LBA. */
  get lba(): number {
    return this.failure.lba;
  }
  /** Expected table entry (CRC-32C as written) of the first bad block. */
  get expected(): number {
    return this.failure.expected;
  }
  /** CRC-32C found in the first bad block. */
  get found(): number {
    return this.failure.found;
  }
  /** The LBA whose data was found in the first bad block (its stamp). */
  get foundLba(): number {
    return this.failure.foundLba;
  }
}

/**
 * A queue pair could not be created (pynvme `QpairCreationError`): no free
 * queue id, a priority the arbitration mode does not allow, or the device
 * refused Create I/O CQ/SQ (then `cause` is the {@link StatusError}).
 *
 * ```ts
 * import { Controller, Qpair } from "../mod.ts";
 * declare const nvme0: Controller;
 * try {
 *   new Qpair(nvme0, 16, 1); // a priority under round robin arbitration
 * } catch (e) {
 *   if (!(e instanceof QpairCreationError)) throw e;
 *   console.log(e.message);
 * }
 * ```
 */
export class QpairCreationError extends NvmeError {
  /** Create a queue pair creation error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, 0, options);
    this.name = "QpairCreationError";
  }
}

/**
 * A namespace could not be opened (pynvme `NamespaceCreationError`): it is
 * not active, or its identify data could not be read.
 *
 * ```ts
 * import { Controller, Namespace } from "../mod.ts";
 * declare const nvme0: Controller;
 * try {
 *   new Namespace(nvme0, 7);
 * } catch (e) {
 *   if (e instanceof NamespaceCreationError) console.log("no namespace 7");
 *   else throw e;
 * }
 * ```
 */
export class NamespaceCreationError extends NvmeError {
  /** Create a namespace creation error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, 0, options);
    this.name = "NamespaceCreationError";
  }
}

/**
 * The device could not be opened or enumerated (pynvme `NvmeEnumerateError`):
 * no such PCI function, not bound to vfio-pci, or the embedded device did not
 * start. `code` is the C errno.
 *
 * ```ts
 * import { Pcie } from "../mod.ts";
 * try {
 *   new Pcie("0000:00:00.0");
 * } catch (e) {
 *   if (e instanceof NvmeEnumerateError) console.log(`no device: ${e.message}`);
 *   else throw e;
 * }
 * ```
 */
export class NvmeEnumerateError extends NvmeError {
  /** Create an enumeration error. */
  constructor(message: string, code = 0, options?: ErrorOptions) {
    super(message, code, options);
    this.name = "NvmeEnumerateError";
  }
}

/**
 * `waitdone` gave up: the commands it waits for did not complete within the
 * controller's timeout and a margin (pynvme raises `TimeoutError("pynvme
 * timeout in driver")`). A command the driver times out itself completes with
 * 07/FF and throws {@link CommandTimeoutError} instead.
 *
 * ```ts
 * import { Qpair } from "../mod.ts";
 * declare const qpair: Qpair;
 * try {
 *   qpair.waitdone(1);
 * } catch (e) {
 *   if (e instanceof WaitdoneTimeoutError) console.log("the device stopped answering");
 *   else throw e;
 * }
 * ```
 */
export class WaitdoneTimeoutError extends NvmeError {
  /** Create a waitdone timeout error. */
  constructor(message: string) {
    super(message, -110); // -ETIMEDOUT
    this.name = "WaitdoneTimeoutError";
  }
}

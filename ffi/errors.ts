/**
 * Error classes. Every failure names what went wrong; device status errors
 * carry the decoded completion.
 *
 * @module
 */
import type { Completion } from "./completion.ts";

/** Base class of every error denvme throws. */
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

/** A parameter outside its allowed range: rejected before reaching the device. */
export class ParameterError extends RangeError {
  /** Create a parameter error; the message names the parameter and its range. */
  constructor(message: string) {
    super(message);
    this.name = "ParameterError";
  }
}

/** Use of an object after `close()` (or after its controller closed). */
export class ClosedError extends NvmeError {
  /** Create a closed-object error for `what` (e.g. "Qpair 1"). */
  constructor(what: string) {
    super(`${what} is closed`);
    this.name = "ClosedError";
  }
}

/** The device went away (QEMU exited, device unplugged). */
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

/** The driver gave up waiting for a command (status 07/FF, synthesized). */
export class CommandTimeoutError extends StatusError {
  /** Create a timeout error for a synthesized completion. */
  constructor(message: string, completion: Completion) {
    super(message, completion);
    this.name = "CommandTimeoutError";
  }
}

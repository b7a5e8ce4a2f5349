/**
 * A synchronous sleep for polling loops of synchronous APIs.
 *
 * @module
 */
const cell = new Int32Array(new SharedArrayBuffer(4));

/** Block the calling thread for `ms` milliseconds. */
export function sleepSync(ms: number): void {
  Atomics.wait(cell, 0, 0, ms);
}

/// <reference lib="deno.worker" />
/**
 * The Deno Worker behind each {@link IoWorker}: it loads libnvmeshim (its own
 * dlopen of the same library image, so C state is shared) and calls the
 * blocking `nvme_ioworker_run()` once. When the call returns it sets the
 * shared `done` word, wakes waiters (Atomics.notify) and posts a message.
 *
 * @module
 */

/** Index of the `done` word in the shared memory's Int32 view (iow_shm.done). */
const W_DONE = 3;
/** iow_shm.host_error */
const W_HOST_ERROR = 4;
/** iow_shm.message */
const OFF_MESSAGE = 2696;

interface Start {
  sq: number;
  cq: number;
  args: ArrayBuffer;
  seq: ArrayBuffer;
  shm: SharedArrayBuffer;
}

function note(shm: SharedArrayBuffer, text: string): void {
  const i32 = new Int32Array(shm, 0, 8);
  if (!Atomics.load(i32, W_HOST_ERROR)) Atomics.store(i32, W_HOST_ERROR, -1);
  const bytes = new Uint8Array(shm, OFF_MESSAGE, 256);
  bytes.fill(0);
  bytes.set(new TextEncoder().encode(text).subarray(0, 255));
}

self.onmessage = async (e: MessageEvent<Start>) => {
  const { sq, cq, args, seq, shm } = e.data;
  const i32 = new Int32Array(shm, 0, 8);
  let rc = -1;
  try {
    const { lib, lastError } = await import("./lib.ts");
    rc = lib.nvme_ioworker_run(
      sq,
      cq,
      new Uint8Array(args),
      args.byteLength,
      new Uint8Array(seq),
      seq.byteLength,
      new Uint8Array(shm),
      shm.byteLength,
    );
    if (rc < 0 && !new Uint8Array(shm, OFF_MESSAGE, 1)[0]) {
      note(shm, lastError());
    }
  } catch (err) {
    note(shm, `ioworker thread: ${(err as Error)?.message ?? err}`);
  }
  Atomics.store(i32, W_DONE, 1);
  Atomics.notify(i32, W_DONE);
  self.postMessage({ rc });
};

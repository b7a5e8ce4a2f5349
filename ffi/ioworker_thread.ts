/**
 * The Deno Worker behind each {@link IoWorker}: it loads libnvmeshim (its own
 * dlopen of the same library image, so C state is shared) and calls the
 * blocking `nvme_ioworker_run()` once. When the call returns it sets the
 * shared `done` word, wakes waiters (Atomics.notify) and posts a message.
 *
 * The worker's code is {@linkcode ioworkerThreadMain}, started from a blob URL
 * (its own source text): loading a worker from a file would need read access,
 * and denvme needs only `--allow-ffi`. So the function is self-contained (no
 * imports, no outer names); the library path and the two symbols it calls come
 * in the start message.
 *
 * @module
 */
import { libraryPath } from "./lib.ts";
import { IOW_E_INIT, IOW_SHM, symbols } from "./abi.gen.ts";

/** The start message of an ioworker thread. */
interface Start {
  /** Path of libnvmeshim (the one the main thread loaded). */
  lib: string;
  /** The FFI declarations of the two functions the thread calls. */
  symbols: {
    nvme_ioworker_run: Deno.ForeignFunction;
    nvme_error: Deno.ForeignFunction;
  };
  /** Where the thread writes in the shared memory (from abi.gen.ts). */
  shmLayout: {
    /** Int32 index of iow_shm.done. */
    done: number;
    /** Int32 index of iow_shm.host_error. */
    hostError: number;
    /** Byte offset of iow_shm.message. */
    message: number;
    /** IOW_E_INIT: the host error of a thread that could not run. */
    initError: number;
  };
  sq: number;
  cq: number;
  args: ArrayBuffer;
  seq: ArrayBuffer;
  shm: SharedArrayBuffer;
}

/**
 * The thread's program (runs in the Worker; its source text is the worker's
 * module). Self-contained: it may use only globals.
 */
function ioworkerThreadMain(): void {
  const scope = globalThis as unknown as {
    onmessage: ((e: MessageEvent<Start>) => void) | null;
    postMessage(message: unknown): void;
  };
  scope.onmessage = (e: MessageEvent<Start>) => {
    const { sq, cq, args, seq, shm } = e.data;
    const L = e.data.shmLayout;
    const note = (shm: SharedArrayBuffer, text: string) => {
      const i32 = new Int32Array(shm, 0, 8);
      if (!Atomics.load(i32, L.hostError)) {
        Atomics.store(i32, L.hostError, L.initError);
      }
      const bytes = new Uint8Array(shm, L.message, 256);
      bytes.fill(0);
      bytes.set(new TextEncoder().encode(text).subarray(0, 255));
    };
    const i32 = new Int32Array(shm, 0, 8);
    let rc = -1;
    try {
      let dl: Deno.DynamicLibrary<Start["symbols"]>;
      try {
        dl = Deno.dlopen(e.data.lib, e.data.symbols);
      } catch (err) {
        const msg = (err as Error)?.message ?? String(err);
        throw new Error(
          /No such file or directory/.test(msg)
            ? `libnvmeshim not found at ${e.data.lib}`
            : `cannot load ${e.data.lib}: ${msg}`,
        );
      }
      const run = dl.symbols.nvme_ioworker_run as (
        ...a: unknown[]
      ) => number;
      rc = run(
        sq,
        cq,
        new Uint8Array(args),
        args.byteLength,
        new Uint8Array(seq),
        seq.byteLength,
        new Uint8Array(shm),
        shm.byteLength,
      );
      if (rc < 0 && !new Uint8Array(shm, L.message, 1)[0]) {
        const p = dl.symbols.nvme_error() as Deno.PointerValue;
        note(shm, p ? Deno.UnsafePointerView.getCString(p) : `error ${rc}`);
      }
      // the library stays loaded: it is linked with -z nodelete, and the
      // handle lives as long as this thread
    } catch (err) {
      note(shm, `ioworker thread: ${(err as Error)?.message ?? err}`);
    }
    Atomics.store(i32, L.done, 1);
    Atomics.notify(i32, L.done);
    scope.postMessage({ rc });
  };
}

let url: string | undefined;

/**
 * Start an ioworker thread (a Worker running {@linkcode ioworkerThreadMain})
 * and send it its work. Needs only `--allow-ffi`.
 */
export function spawnIoworkerThread(
  name: string,
  work: Omit<Start, "lib" | "symbols" | "shmLayout">,
  transfer: Transferable[],
): Worker {
  url ??= URL.createObjectURL(
    new Blob([`(${ioworkerThreadMain.toString()})();\n`], {
      type: "text/javascript",
    }),
  );
  const worker = new Worker(url, { type: "module", name });
  const start: Start = {
    ...work,
    lib: libraryPath(),
    shmLayout: {
      done: IOW_SHM.done / 4,
      hostError: IOW_SHM.host_error / 4,
      message: IOW_SHM.message,
      initError: IOW_E_INIT,
    },
    symbols: {
      nvme_ioworker_run: symbols.nvme_ioworker_run as Deno.ForeignFunction,
      nvme_error: symbols.nvme_error as Deno.ForeignFunction,
    },
  };
  worker.postMessage(start, transfer);
  return worker;
}

/**
 * Loading libnvmeshim and turning its errno-style results into exceptions.
 *
 * The library is looked up in `DENVME_LIB` (a path) or next to this module in
 * `libnvmeshim/build/libnvmeshim.so` (built by `deno task build`).
 *
 * @module
 */
import { DeviceGoneError, NvmeError } from "./errors.ts";
import { symbols } from "./symbols.ts";

/** ABI version this TypeScript side was written for (NVMESHIM_ABI). */
const ABI = 1;

function libraryPath(): string {
  const env = Deno.env.get("DENVME_LIB");
  if (env) return env;
  return new URL("../libnvmeshim/build/libnvmeshim.so", import.meta.url)
    .pathname;
}

function open(): Deno.DynamicLibrary<typeof symbols> {
  const path = libraryPath();
  try {
    Deno.statSync(path);
  } catch {
    throw new NvmeError(
      `libnvmeshim not found at ${path}: run \`deno task build\` (or set DENVME_LIB)`,
    );
  }
  let lib: Deno.DynamicLibrary<typeof symbols>;
  try {
    lib = Deno.dlopen(path, symbols);
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) throw e;
    throw new NvmeError(`cannot load ${path}: ${(e as Error).message}`, 0, {
      cause: e,
    });
  }
  const abi = lib.symbols.nvme_abi_version();
  if (abi !== ABI) {
    throw new NvmeError(
      `${path} has ABI ${abi}, this module needs ${ABI}: run \`deno task build\``,
    );
  }
  return lib;
}

/**
 * The library handle, referenced for the life of the isolate: a collected
 * handle would dlclose the library under its threads. (The library is also
 * linked with -z nodelete, so a test runner's dlclose cannot unload it.)
 */
const dl: Deno.DynamicLibrary<typeof symbols> = open();

/** The loaded library's functions (one dlopen per isolate). */
export const lib: Deno.DynamicLibrary<typeof symbols>["symbols"] = dl.symbols;

/** The C side's message for the last failure on this thread. */
export function lastError(): string {
  const p = lib.nvme_error();
  return p ? Deno.UnsafePointerView.getCString(p) : "";
}

const ENODEV = -19;

/**
 * Throw for a negative C result (with the C message), else return it.
 * `context` prefixes the message, e.g. "Qpair(depth=2048)".
 */
export function unwrap(rc: number, context?: string): number {
  if (rc >= 0) return rc;
  const msg = lastError() || `error ${rc}`;
  const text = context ? `${context}: ${msg}` : msg;
  if (rc === ENODEV) throw new DeviceGoneError(text, rc);
  throw new NvmeError(text, rc);
}

/** Encode a string as a NUL-terminated C string. */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

const OWNER = Symbol("denvme.owner");

/**
 * A JS view of `size` bytes of C memory at address `addr`. With `owner`, the
 * ArrayBuffer holds the owner strongly: no view of it (a `subarray` included)
 * can outlive the object that frees the memory, so the memory is never
 * reused under a live view. The owner calls {@link detachMemory} when it
 * frees the memory explicitly.
 */
export function mapMemory(
  addr: bigint,
  size: number,
  owner?: object,
): ArrayBuffer {
  const p = Deno.UnsafePointer.create(addr);
  if (!p) throw new NvmeError("null pointer from libnvmeshim");
  const ab = Deno.UnsafePointerView.getArrayBuffer(p, size);
  if (owner) Object.defineProperty(ab, OWNER, { value: owner });
  return ab;
}

/**
 * Detach an ArrayBuffer from {@link mapMemory} before its C memory is freed:
 * every view of it becomes zero-length (reads give undefined, writes do
 * nothing), so it can never alias memory handed out again.
 */
export function detachMemory(ab: ArrayBufferLike | undefined): void {
  if (ab instanceof ArrayBuffer && !ab.detached) ab.transfer(0);
}

/**
 * Live object counts, for leak checks in tests.
 *
 * ```ts
 * const before: LibStats = libStats();
 * // ... the test ...
 * assert.equal(libStats().buffers, before.buffers, "a Buffer was not closed");
 * ```
 */
export interface LibStats {
  /** Open PCIe devices. */
  pcie: number;
  /** Open controllers. */
  controllers: number;
  /** Live submission queues. */
  sqs: number;
  /** Live completion queues. */
  cqs: number;
  /** Live buffers. */
  buffers: number;
  /** DMA bytes allocated now. */
  dmaUsed: number;
  /** Child processes (QEMU) running. */
  children: number;
  /** Size of the DMA arena in bytes. */
  arenaSize: number;
}

/**
 * Read the live object counts of libnvmeshim.
 *
 * ```ts
 * const { buffers, dmaUsed } = libStats();
 * console.log(`${buffers} buffers, ${dmaUsed} bytes of DMA memory in use`);
 * ```
 */
export function libStats(): LibStats {
  const o = new BigUint64Array(8);
  unwrap(lib.nvme_stats(o, 8));
  const n = (i: number) => Number(o[i]);
  return {
    pcie: n(0),
    controllers: n(1),
    sqs: n(2),
    cqs: n(3),
    buffers: n(4),
    dmaUsed: n(5),
    children: n(6),
    arenaSize: n(7),
  };
}

/**
 * Loading libnvmeshim and turning its errno-style results into exceptions.
 *
 * The library is looked up in `DENVME_LIB` (a path; read only with env access
 * granted) or next to this module in `libnvmeshim/build/libnvmeshim.so` (built
 * by `deno task build`). Only `--allow-ffi` is needed.
 *
 * @module
 */
import { FUNCTIONS } from "./api_table.ts";
import { checkArgs } from "./validate.ts";
import { DeviceGoneError, NvmeError } from "./errors.ts";
import { envVar, granted, PermissionError } from "./permissions.ts";
import { NVME_LIB_STATS as S, NVMESHIM_ABI, symbols } from "./abi.gen.ts";
import { CStruct } from "./cstruct.ts";

/** ABI version this TypeScript side was generated for (NVMESHIM_ABI). */
const ABI = NVMESHIM_ABI;

/**
 * Path of libnvmeshim: `DENVME_LIB` when set (and env access granted), else
 * `libnvmeshim/build/libnvmeshim.so` next to this module.
 */
export function libraryPath(): string {
  const env = envVar("DENVME_LIB");
  if (env) return env;
  return new URL("../libnvmeshim/build/libnvmeshim.so", import.meta.url)
    .pathname;
}

function notFound(path: string): NvmeError {
  return new NvmeError(
    `libnvmeshim not found at ${path}: run \`deno task build\` (or set DENVME_LIB)`,
  );
}

function open(path: string): Deno.DynamicLibrary<typeof symbols> {
  // look before loading only when allowed to look (--allow-ffi alone is enough)
  if (granted({ name: "read", path })) {
    try {
      Deno.statSync(path);
    } catch {
      throw notFound(path);
    }
  }
  let lib: Deno.DynamicLibrary<typeof symbols>;
  try {
    lib = Deno.dlopen(path, symbols);
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) throw e;
    const msg = (e as Error).message;
    if (/No such file or directory/.test(msg)) throw notFound(path);
    throw new NvmeError(`cannot load ${path}: ${msg}`, 0, { cause: e });
  }
  const abi = lib.symbols.nvme_abi_version();
  if (abi !== ABI) {
    throw new NvmeError(
      `${path} has ABI ${abi}, this module needs ${ABI}: run \`deno task build\``,
    );
  }
  return lib;
}

type Symbols = Deno.DynamicLibrary<typeof symbols>["symbols"];

/**
 * The library handle, referenced for the life of the isolate: a collected
 * handle would dlclose the library under its threads. (The library is also
 * linked with -z nodelete, so a test runner's dlclose cannot unload it.)
 */
let dl: Deno.DynamicLibrary<typeof symbols> | undefined;

/**
 * The loaded library's functions (one dlopen per isolate). The library loads
 * at the first use of any of them, not at import: importing denvme never
 * fails, and a missing library or permission is reported by the first call.
 * After that the functions are plain properties (no indirection per call).
 */
export const lib: Symbols = {} as Symbols;
const names = Object.keys(symbols) as (keyof Symbols)[];
for (const name of names) {
  Object.defineProperty(lib, name, {
    configurable: true,
    enumerable: true,
    get() {
      load();
      return lib[name];
    },
  });
}

function load(): void {
  if (dl) return;
  const path = libraryPath();
  if (!granted({ name: "ffi", path })) {
    throw new PermissionError(`loading libnvmeshim (${path})`, "--allow-ffi");
  }
  dl = open(path);
  for (const name of names) {
    Object.defineProperty(lib, name, {
      value: dl.symbols[name],
      enumerable: true,
      writable: false,
      configurable: false,
    });
  }
}

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
 * import assert from "node:assert/strict";
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
 * declare const bytes: Uint8Array;
 * const { buffers, dmaUsed } = libStats();
 * console.log(`${buffers} buffers, ${dmaUsed} bytes of DMA memory in use`);
 * ```
 */
export function libStats(): LibStats {
  checkArgs("libStats", FUNCTIONS.libStats, []);
  const s = new CStruct(S);
  unwrap(lib.nvme_stats(s.bytes, s.size));
  return {
    pcie: s.u64(S.pcie),
    controllers: s.u64(S.controllers),
    sqs: s.u64(S.sqs),
    cqs: s.u64(S.cqs),
    buffers: s.u64(S.buffers),
    dmaUsed: s.u64(S.dma_used),
    children: s.u64(S.children),
    arenaSize: s.u64(S.arena_size),
  };
}

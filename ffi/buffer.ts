/**
 * DMA buffers: host memory the device reads and writes, viewed from TypeScript
 * as bytes without copying.
 *
 * @module
 */
import { BUFFER } from "./api_table.ts";
import { ClosedError, ParameterError } from "./errors.ts";
import { detachMemory, lib, mapMemory, unwrap } from "./lib.ts";
import { NVME_BUF_ADDR } from "./abi.gen.ts";
import { CStruct } from "./cstruct.ts";
import {
  checkConstructor,
  checkInt,
  checkU64,
  guardClass,
} from "./validate.ts";
import { randomBytes } from "./random.ts";

/**
 * pynvme's ptype for a repeated 32-bit value (`pvalue`).
 *
 * ```ts
 * using buf = new Buffer(4096, "pattern", 0xdeadbeef, PTYPE_DWORD);
 * buf.u32(0); // 0xdeadbeef
 * ```
 */
export const PTYPE_DWORD = 32;
/**
 * pynvme's ptype for random data: `pvalue`% of the buffer random, the rest zero.
 *
 * ```ts
 * using buf = new Buffer(4096, "half compressible", 50, PTYPE_RANDOM);
 * ```
 */
export const PTYPE_RANDOM = 0xbeef;
/**
 * ptype for all-zero (`pvalue` 0) or all-one (`pvalue` != 0) bytes.
 *
 * ```ts
 * using ones = new Buffer(512, "ones", 1, PTYPE_CONST); // every byte 0xff
 * ```
 */
export const PTYPE_CONST = 0;

/**
 * Field type for {@link Buffer.data}: a number, a BigInt, or a trimmed ASCII string.
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * const model = nvme0.idData(63, 24, "str" satisfies FieldType);
 * ```
 */
export type FieldType = "int" | "bigint" | "str";

const MAX_BUFFER = 1 << 30;

const registry = new FinalizationRegistry<number>((h) => {
  lib.nvme_buf_free(h);
});

/**
 * A DMA buffer (pynvme `Buffer`). Its memory comes from the driver's DMA arena,
 * reachable by every open device; it is 4 KiB aligned and zeroed.
 *
 * ```ts
 * using buf = new Buffer(4096, "data", 0x5a5a5a5a, PTYPE_DWORD);
 * buf.set(0, 1);
 * console.log(buf.data(3, 0).toString(16), buf.dump(64));
 * ```
 */
export class Buffer {
  /** Name shown in dumps and messages. */
  readonly name: string;
  /** Allocated bytes. */
  readonly capacity: number;
  #handle: number;
  #u8: Uint8Array;
  #dv: DataView;
  #iova: bigint;
  #size: number;
  #offset = 0;

  /**
   * Allocate `size` bytes (1 B to 1 GiB) filled with a pattern.
   * @param size bytes
   * @param name shown by {@link Buffer.dump}
   * @param pvalue pattern value (see `ptype`)
   * @param ptype {@link PTYPE_CONST} (0), {@link PTYPE_DWORD} (32) or {@link PTYPE_RANDOM} (0xBEEF)
   */
  constructor(size = 4096, name = "buffer", pvalue = 0, ptype = 0) {
    checkConstructor("Buffer", BUFFER, [size, name, pvalue, ptype]);
    checkInt("Buffer size", size, 1, MAX_BUFFER);
    checkPattern(ptype, pvalue);
    const h = new Uint32Array(1);
    const addr = new CStruct(NVME_BUF_ADDR);
    unwrap(lib.nvme_buf_alloc(size, h, addr.bytes), `Buffer(${size})`);
    this.#handle = h[0];
    this.#iova = addr.big(NVME_BUF_ADDR.iova);
    this.capacity = size;
    this.#size = size;
    this.name = name;
    // every view holds this Buffer: no view outlives it (the memory is
    // freed by close() or once neither the Buffer nor a view is reachable)
    const ab = mapMemory(addr.big(NVME_BUF_ADDR.vaddr), size, this);
    this.#u8 = new Uint8Array(ab);
    this.#dv = new DataView(ab);
    registry.register(this, this.#handle, this);
    this.fill(ptype, pvalue);
  }

  /** @ignore @internal C handle, checked by every command. */
  get handle(): number {
    if (!this.#handle) throw new ClosedError(`Buffer "${this.name}"`);
    return this.#handle;
  }
  /**
   * True after {@link Buffer.close}.
   *
   * ```ts
   * declare const buf: Buffer;
   * buf.close();
   * buf.closed; // true
   * ```
   */
  get closed(): boolean {
    return this.#handle === 0;
  }
  /**
   * Bytes used by commands (settable from 0 up to `capacity - offset`). 0,
   * as in pynvme, makes the buffer transfer nothing (commands whose length is
   * the buffer's size send no data pointer; LBA commands need more and say so).
   *
   * ```ts
   * using buf = new Buffer(8192);
   * buf.size = 4096; // commands now transfer the first 4 KiB
   * ```
   */
  get size(): number {
    return this.#size;
  }
  set size(v: number) {
    this.handle;
    this.#size = checkInt("Buffer.size", v, 0, this.capacity - this.#offset);
  }
  /**
   * Byte offset where transfers start (PRP offset tests); dword aligned.
   *
   * ```ts
   * import { Namespace, Qpair } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * using buf = new Buffer(8192);
   * buf.offset = 0x800; // PRP1 not page aligned
   * buf.size = 4096;
   * nvme0n1.read(qpair, buf, 0, 8).waitdone();
   * ```
   */
  get offset(): number {
    return this.#offset;
  }
  set offset(v: number) {
    this.handle;
    checkInt("Buffer.offset", v, 0, this.capacity - 1);
    if (v % 4) {
      throw new ParameterError(
        `Buffer.offset = ${v} must be a multiple of 4 (PRP entries are dword aligned)`,
      );
    }
    this.#offset = v;
    if (this.#size > this.capacity - v) this.#size = this.capacity - v;
  }
  /**
   * Bus address of the first byte (at `offset`), as the device sees it.
   *
   * ```ts
   * import { IoSQ, sqe } from "../mod.ts";
   * declare const buf: Buffer;
   * declare const sq: IoSQ;
   * sq.set(0, sqe({ opc: 0x02, nsid: 1, prp1: buf.iova })); // a raw read into buf
   * ```
   */
  get iova(): bigint {
    this.handle;
    return this.#iova + BigInt(this.#offset);
  }
  /**
   * Bus address (pynvme's `phys_addr`).
   *
   * ```ts
   * declare const buf: Buffer;
   * console.log(`buffer at 0x${buf.physAddr.toString(16)}`);
   * ```
   */
  get physAddr(): bigint {
    return this.iova;
  }
  /**
   * The whole buffer as bytes, without copying. A view keeps the Buffer
   * alive; after close() every view is empty (length 0), never another
   * buffer's memory.
   *
   * ```ts
   * declare const buf: Buffer;
   * crypto.getRandomValues(buf.bytes.subarray(0, 4096));
   * const allZero = buf.bytes.every((b) => b === 0);
   * ```
   */
  get bytes(): Uint8Array {
    this.handle;
    return this.#u8;
  }

  /**
   * Byte at index `i`.
   *
   * ```ts
   * declare const buf: Buffer;
   * buf.get(0); // pynvme buf[0]
   * ```
   */
  get(i: number): number {
    this.handle;
    return this.#u8[checkInt("index", i, 0, this.capacity - 1)];
  }
  /**
   * Set byte `i` to `v` (0..255).
   *
   * ```ts
   * declare const buf: Buffer;
   * buf.set(0, 0x5a); // pynvme buf[0] = 0x5a
   * ```
   */
  set(i: number, v: number): void {
    this.handle;
    this.#u8[checkInt("index", i, 0, this.capacity - 1)] = checkInt(
      "byte value",
      v,
      0,
      255,
    );
  }
  /**
   * A copy of bytes [begin, end).
   *
   * ```ts
   * declare const buf: Buffer;
   * const lba0 = buf.slice(0, 512); // pynvme buf[0:512]
   * ```
   */
  slice(begin = 0, end = this.capacity): Uint8Array<ArrayBuffer> {
    this.handle;
    checkInt("begin", begin, 0, this.capacity);
    checkInt("end", end, begin, this.capacity);
    return this.#u8.slice(begin, end);
  }
  /**
   * Copy `data` (bytes or a string, UTF-8) into the buffer at `at`.
   *
   * ```ts
   * declare const buf: Buffer;
   * buf.write("hello world", 100); // pynvme buf[100:] = b"hello world"
   * buf.write(new Uint8Array([1, 2, 3]));
   * ```
   */
  write(data: Uint8Array | string, at = 0): void {
    this.handle;
    const bytes = typeof data === "string"
      ? new TextEncoder().encode(data)
      : data;
    checkInt("at", at, 0, this.capacity - bytes.length);
    this.#u8.set(bytes, at);
  }
  /**
   * Little-endian 32-bit value at byte `at`.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * declare const buf: Buffer;
   * nvme0.identify(buf, 0, 2).waitdone();
   * const firstNsid = buf.u32(0);
   * ```
   */
  u32(at: number): number {
    this.handle;
    return this.#dv.getUint32(checkInt("at", at, 0, this.capacity - 4), true);
  }
  /**
   * Little-endian 64-bit value at byte `at`.
   *
   * ```ts
   * declare const buf: Buffer;
   * const stampedLba = buf.u64(0); // verification stamps each block's LBA here
   * ```
   */
  u64(at: number): bigint {
    this.handle;
    return this.#dv.getBigUint64(
      checkInt("at", at, 0, this.capacity - 8),
      true,
    );
  }

  /**
   * Spec-style field access: bytes `begin..end` inclusive, little endian
   * (pynvme `data(byte_end, byte_begin, type)`), e.g. `data(63, 24, "str")` for
   * the model number in Identify Controller data. With one argument, one byte.
   * "int" returns a number (fields up to 6 bytes), "bigint" any width, "str" ASCII
   * with trailing spaces and NULs removed.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * declare const buf: Buffer;
   * nvme0.identify(buf).waitdone();
   * buf.data(63, 24, "str"); // model number
   * buf.data(1, 0); // vendor id
   * buf.data(295, 280, "bigint"); // TNVMCAP (16 bytes)
   * ```
   */
  data(end: number, begin: number | undefined, type: "str"): string;
  /**
   * A field as a BigInt (any width).
   *
   * ```ts
   * declare const buf: Buffer;
   * const dataUnitsRead = buf.data(47, 32, "bigint"); // SMART log, 16 bytes
   * ```
   */
  data(end: number, begin: number | undefined, type: "bigint"): bigint;
  /**
   * A field as a number (up to 6 bytes), BigInt or string.
   *
   * ```ts
   * declare const buf: Buffer;
   * const kelvin = buf.data(2, 1) as number; // SMART composite temperature
   * ```
   */
  data(end: number, begin?: number, type?: FieldType): number | bigint | string;
  data(
    end: number,
    begin = end,
    type: FieldType = "int",
  ): number | bigint | string {
    this.handle;
    checkInt("byte_end", end, 0, this.capacity - 1);
    checkInt("byte_begin", begin, 0, end);
    const bytes = this.#u8.subarray(begin, end + 1);
    if (type === "str") {
      return new TextDecoder("latin1").decode(bytes).replace(/[\s\0]+$/, "");
    }
    let v = 0n;
    for (let i = bytes.length - 1; i >= 0; i--) {
      v = (v << 8n) | BigInt(bytes[i]);
    }
    if (type === "bigint") return v;
    if (bytes.length > 6) {
      throw new ParameterError(
        `data(${end}, ${begin}) spans ${bytes.length} bytes: use type "bigint" above 6 bytes`,
      );
    }
    return Number(v);
  }

  /**
   * Refill with a pattern (see the constructor).
   *
   * ```ts
   * declare const buf: Buffer;
   * buf.fill(PTYPE_DWORD, 0xa5a5a5a5);
   * buf.fill(); // zeros
   * ```
   */
  fill(ptype = 0, pvalue = 0): this {
    this.handle;
    checkPattern(ptype, pvalue);
    const u8 = this.#u8;
    if (ptype === PTYPE_CONST) {
      u8.fill(pvalue ? 0xff : 0);
    } else if (ptype === PTYPE_DWORD) {
      const n = Math.floor(this.capacity / 4);
      for (let i = 0; i < n; i++) this.#dv.setUint32(i * 4, pvalue >>> 0, true);
      for (let i = n * 4; i < this.capacity; i++) {
        u8[i] = (pvalue >>> ((i % 4) * 8)) & 0xff;
      }
    } else {
      // repeatable after srand() (ffi/random.ts)
      const n = Math.floor((this.capacity * pvalue) / 100);
      randomBytes(u8.subarray(0, n));
      u8.fill(0, n);
    }
    return this;
  }

  /**
   * Write a Dataset Management range descriptor at `index` (16 bytes each):
   * context attributes, length in LBAs, starting LBA.
   *
   * ```ts
   * import { Namespace, Qpair } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * declare const ranges: Buffer;
   * ranges.setDsmRange(0, 0, 8);
   * nvme0n1.dsm(qpair, ranges, 1).waitdone(); // deallocate LBAs 0..7
   * ```
   */
  setDsmRange(
    index: number,
    lba: number | bigint,
    lbaCount: number,
    attr = 0,
  ): void {
    this.handle;
    checkInt("index", index, 0, Math.min(255, this.capacity / 16 - 1));
    const slba = checkU64("lba", lba);
    checkInt("lbaCount", lbaCount, 0, 0xffffffff);
    checkInt("attr", attr, 0, 0xffffffff);
    const at = index * 16;
    this.#dv.setUint32(at, attr, true);
    this.#dv.setUint32(at + 4, lbaCount, true);
    this.#dv.setBigUint64(at + 8, slba, true);
  }

  /**
   * Hex dump of the first `size` bytes (default: all), 16 bytes a line.
   *
   * ```ts
   * declare const buf: Buffer;
   * console.log(buf.dump(64));
   * // data
   * // 00000000  36 1b f4 1a ...
   * ```
   */
  dump(size = this.capacity): string {
    this.handle;
    checkInt("size", size, 0, this.capacity);
    const lines = [`${this.name}`];
    for (let at = 0; at < size; at += 16) {
      const row = this.#u8.subarray(at, Math.min(size, at + 16));
      const hex = [...row].map((b) => b.toString(16).padStart(2, "0"));
      const text = [...row].map((b) =>
        b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : "."
      ).join("");
      lines.push(
        `${at.toString(16).padStart(8, "0")}  ${
          hex.slice(0, 8).join(" ").padEnd(23)
        }  ${hex.slice(8).join(" ").padEnd(23)}  |${text}|`,
      );
    }
    return lines.join("\n");
  }

  /**
   * Free the memory (it stays valid until commands using it complete).
   *
   * ```ts
   * import { Namespace, Qpair } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * const buf = new Buffer(4096);
   * nvme0n1.read(qpair, buf, 0, 8).waitdone();
   * buf.close(); // or `using buf = ...`
   * ```
   */
  close(): void {
    if (!this.#handle) return;
    registry.unregister(this);
    // views handed out become zero-length: they never alias the next buffer
    detachMemory(this.#u8.buffer);
    lib.nvme_buf_free(this.#handle);
    this.#handle = 0;
  }

  /** Same as {@link Buffer.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * `<buffer name: data>`
   *
   * ```ts
   * String(new Buffer(512, "data")); // "<buffer name: data>"
   * ```
   */
  toString(): string {
    return `<buffer name: ${this.name}>`;
  }
}

function checkPattern(ptype: number, pvalue: number): void {
  if (
    ptype !== PTYPE_CONST && ptype !== PTYPE_DWORD && ptype !== PTYPE_RANDOM
  ) {
    throw new ParameterError(
      `ptype = ${ptype} is not supported: use 0 (zeros/ones), 32 (dword) or 0xBEEF (random)`,
    );
  }
  if (ptype === PTYPE_RANDOM) checkInt("pvalue (random %)", pvalue, 0, 100);
  else checkInt("pvalue", pvalue, 0, 0xffffffff);
}

guardClass(Buffer, BUFFER);

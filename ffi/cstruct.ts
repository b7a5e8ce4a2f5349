/**
 * A C struct that libnvmeshim fills (nvme_stats(), nvme_pcie_info(), ...): its
 * bytes to pass as the `out` buffer, and typed reads at the field offsets that
 * `deno task abi` generated into abi.gen.ts.
 *
 * ```ts
 * import { NVME_LIB_STATS } from "./abi.gen.ts";
 * import { lib, unwrap } from "./lib.ts";
 * const s = new CStruct(NVME_LIB_STATS);
 * unwrap(lib.nvme_stats(s.bytes, s.size));
 * const buffers = s.u64(NVME_LIB_STATS.buffers);
 * ```
 *
 * @module
 */

/** A zeroed struct of `layout.sizeof` bytes with little-endian field reads. */
export class CStruct {
  /** The struct's bytes (pass them to the C function). */
  readonly bytes: Uint8Array<ArrayBuffer>;
  #dv: DataView;

  /** A zeroed struct of the size of `layout` (an entry of abi.gen.ts). */
  constructor(layout: { readonly sizeof: number }) {
    this.bytes = new Uint8Array(layout.sizeof);
    this.#dv = new DataView(this.bytes.buffer);
  }
  /** Bytes of the struct (the `size` argument of the C function). */
  get size(): number {
    return this.bytes.length;
  }
  /** The uint32_t at byte `off`. */
  u32(off: number): number {
    return this.#dv.getUint32(off, true);
  }
  /** The uint64_t at byte `off`, as a number (counts, sizes, addresses below 2^53). */
  u64(off: number): number {
    return Number(this.#dv.getBigUint64(off, true));
  }
  /** The uint64_t at byte `off`, as a BigInt. */
  big(off: number): bigint {
    return this.#dv.getBigUint64(off, true);
  }
}

/**
 * Namespaces: identity (Identify Namespace, LBA formats), data verification,
 * format, close. The I/O command builders are in io_commands.ts.
 *
 * @module
 */
import { NAMESPACE } from "./api_table.ts";
import { Buffer } from "./buffer.ts";
import { installIoFastPaths, IoCommands } from "./io_commands.ts";
import { Qpair } from "./qpair.ts";
import type { Controller } from "./controller.ts";
import {
  ClosedError,
  NamespaceCreationError,
  ParameterError,
} from "./errors.ts";
import { IoWorker, type IoWorkerOptions } from "./ioworker.ts";
import { commandName } from "./status.ts";
import {
  checkConstructor,
  checkInt,
  checkU64,
  guardClass,
} from "./validate.ts";
import type { FieldType } from "./buffer.ts";

export {
  IoCommands,
  type IoOptions,
  MAX_TRANSFER,
  type RawIoCommand,
} from "./io_commands.ts";
import {
  VERIFY_F_FNA_ALL,
  VERIFY_F_FNA_SES,
  VERIFY_F_NO_CHECK,
  verifyEntries,
  verifyOff,
  verifyOn,
  type VerifyStats,
  verifyStats,
} from "./verify.ts";

/**
 * An LBA format chosen by its sizes, for {@link Namespace.format} (pynvme's
 * `format(data_size, meta_size, ses)`).
 *
 * ```ts
 * declare const nvme0n1: Namespace;
 * const f: FormatBySize = { dataSize: 4096, metaSize: 0 };
 * nvme0n1.format(f);
 * ```
 */
export interface FormatBySize {
  /** Data bytes per LBA (default 512). */
  dataSize?: number;
  /** Metadata bytes per LBA (default 0). */
  metaSize?: number;
  /** Secure Erase Settings (default 0). */
  ses?: number;
}

/**
 * A namespace (pynvme `Namespace`). I/O methods submit and return the qpair,
 * so `nvme0n1.read(qpair, buf, 0).waitdone()` reads like pynvme.
 *
 * ```ts
 * import { Buffer, Controller, Qpair } from "../mod.ts";
 * declare const nvme0: Controller;
 * declare const qpair: Qpair;
 * declare const buf: Buffer;
 * const nvme0n1 = new Namespace(nvme0, 1);
 * nvme0n1.write(qpair, buf, 0, 8, () => console.log("written"));
 * qpair.waitdone();
 * ```
 */
export class Namespace extends IoCommands {
  /** The controller. */
  readonly ctrl: Controller;
  /** Namespace id. */
  readonly nsid: number;
  /**
   * Data verification covers LBAs 0..nlbaVerify-1 only (0: the whole namespace).
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * const nvme0n1 = new Namespace(nvme0, 1, 1 << 20); // verify the first 1 Mi LBAs only
   * ```
   */
  readonly nlbaVerify: number;
  #nsze = 0n;
  #lbaSize = 512;
  #ms = 0;
  #id = new Uint8Array(4096);
  #closed = false;
  #verifyOwner = false; // verification was turned on through this object

  /**
   * True after {@link Namespace.close}: every method then throws ClosedError.
   *
   * ```ts
   * declare const nvme0n1: Namespace;
   * nvme0n1.close();
   * nvme0n1.closed; // true
   * ```
   */
  get closed(): boolean {
    return this.#closed;
  }

  /** Open namespace `nsid` (Identify Namespace must report it active). */
  constructor(nvme: Controller, nsid = 1, nlbaVerify = 0) {
    checkConstructor("Namespace", NAMESPACE, [nvme, nsid, nlbaVerify]);
    super();
    this.ctrl = nvme;
    this.nsid = checkInt("nsid", nsid, 1, 0xfffffffe);
    this.nlbaVerify = checkInt(
      "nlbaVerify",
      nlbaVerify,
      0,
      Number.MAX_SAFE_INTEGER,
    );
    this.refresh();
  }

  /**
   * Re-read Identify Namespace (after a format).
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * declare const nvme0n1: Namespace;
   * nvme0.format(1).waitdone(); // another LBA format, e.g. 4096-byte LBAs
   * nvme0n1.refresh();
   * console.log(nvme0n1.lbaSize);
   * ```
   */
  refresh(): void {
    using buf = new Buffer(4096, "identify namespace");
    this.ctrl.exec(0x06, { buf, len: 4096, nsid: this.nsid, cdw10: 0 });
    this.#id = buf.slice(0, 4096);
    const dv = new DataView(this.#id.buffer);
    this.#nsze = dv.getBigUint64(0, true);
    if (this.#nsze === 0n) {
      throw new NamespaceCreationError(
        `namespace ${this.nsid} is not active (NSZE = 0)`,
      );
    }
    const flbas = this.#id[26];
    const fmt = (flbas & 0xf) | ((flbas >> 5) & 3) << 4;
    const lbaf = dv.getUint32(128 + fmt * 4, true);
    this.#ms = lbaf & 0xffff;
    this.#lbaSize = 2 ** ((lbaf >> 16) & 0xff);
    // a format to another LBA size: the verification table follows (cleared)
    const v = verifyStats(this.ctrl.ctrlHandle, this.nsid);
    if (v.stamping && v.lbaSize !== this.#lbaSize) {
      if (v.enabled) this.verifyEnable(true);
      else this.stampEnable(true);
    }
  }

  /**
   * Namespace size in LBAs (NSZE).
   *
   * ```ts
   * import { Buffer, Qpair } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * declare const buf: Buffer;
   * const gib = nvme0n1.capacity * nvme0n1.lbaSize / 2 ** 30;
   * nvme0n1.read(qpair, buf, nvme0n1.capacity - 1, 1).waitdone(); // the last LBA
   * ```
   */
  get capacity(): number {
    return Number(this.#nsze);
  }
  /**
   * Bytes per LBA (data).
   *
   * ```ts
   * declare const nvme0n1: Namespace;
   * const lbasPer4k = 4096 / nvme0n1.lbaSize; // 8 or 1
   * ```
   */
  get lbaSize(): number {
    return this.#lbaSize;
  }
  /**
   * Metadata bytes per LBA.
   *
   * ```ts
   * declare const nvme0n1: Namespace;
   * declare const bytes: Uint8Array;
   * if (nvme0n1.metadataSize) console.log(`${nvme0n1.metadataSize} bytes of metadata per LBA`);
   * ```
   */
  get metadataSize(): number {
    return this.#ms;
  }
  /** @internal True after close(). */
  protected get isClosed(): boolean {
    return this.#closed;
  }
  /**
   * Identify Namespace data as read at open/refresh.
   *
   * ```ts
   * declare const nvme0n1: Namespace;
   * const dlfeat = nvme0n1.identifyData[33] & 7; // 1: deallocated blocks read as zeros
   * ```
   */
  get identifyData(): Uint8Array {
    return this.#id;
  }
  /**
   * A field of Identify Namespace data (pynvme `id_data`), bytes begin..end.
   *
   * ```ts
   * declare const nvme0n1: Namespace;
   * const nsze = nvme0n1.idData(7, 0); // Namespace Size
   * const flbas = nvme0n1.idData(26); // Formatted LBA Size
   * ```
   */
  idData(
    end: number,
    begin?: number,
    type: FieldType = "int",
  ): number | bigint | string {
    using buf = new Buffer(4096, "identify namespace");
    this.ctrl.exec(0x06, { buf, len: 4096, nsid: this.nsid, cdw10: 0 });
    return buf.data(end, begin, type);
  }
  /**
   * I/O command name of `opcode`.
   *
   * ```ts
   * declare const nvme0n1: Namespace;
   * nvme0n1.cmdname(0x09); // "Dataset Management"
   * ```
   */
  cmdname(opcode: number): string {
    return commandName(checkInt("opcode", opcode, 0, 0xff), false);
  }

  /**
   * True when the controller reports I/O command `opcode` as supported
   * (Commands Supported and Effects log), pynvme `nvme0n1.supports(opcode)`.
   *
   * ```ts
   * import { Qpair } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * if (nvme0n1.supports(0x08)) nvme0n1.writeZeroes(qpair, 0, 8).waitdone();
   * ```
   */
  supports(opcode: number): boolean {
    return this.ctrl.supports(checkInt("opcode", opcode, 0, 0xff), true);
  }

  /**
   * The LBA format index with `dataSize` bytes of data and `metaSize` bytes of
   * metadata per LBA, or undefined when the namespace has none (pynvme
   * `get_lba_format`).
   *
   * ```ts
   * declare const nvme0n1: Namespace;
   * const lbaf = nvme0n1.getLbaFormat(4096); // e.g. 4 on the embedded device
   * if (lbaf !== undefined) nvme0n1.format(lbaf);
   * ```
   */
  getLbaFormat(dataSize = 512, metaSize = 0): number | undefined {
    checkInt("dataSize", dataSize, 1, 0x7fff_ffff);
    checkInt("metaSize", metaSize, 0, 0xffff);
    const dv = new DataView(this.#id.buffer);
    const n = Math.min(64, this.#id[25] + 1); // NLBAF is 0's based
    for (let i = 0; i < n; i++) {
      const f = dv.getUint32(128 + i * 4, true);
      const lbads = (f >> 16) & 0xff;
      if (lbads && 2 ** lbads === dataSize && (f & 0xffff) === metaSize) {
        return i;
      }
    }
    return undefined;
  }

  /**
   * An IO worker on this namespace (pynvme `ioworker`): a workload on its own
   * queue pair, run in C by its own thread while the script goes on. All
   * parameters are checked here; `start()` runs it, `close()` returns the
   * result. See {@link IoWorkerOptions} and {@link IoWorkerResult}.
   *
   * ```ts
   * declare const nvme0n1: Namespace;
   * const r = nvme0n1.ioworker({ ioSize: 8, lbaRandom: true, readPercentage: 100, time: 2 })
   *   .start().close();
   * console.log(r.ioCountRead / r.mseconds * 1000, "IOPS");
   * ```
   */
  ioworker(options: IoWorkerOptions): IoWorker {
    if (this.#closed) throw new ClosedError(`Namespace ${this.nsid}`);
    return new IoWorker(this, options);
  }

  // --- data verification -------------------------------------------------------------

  /**
   * Data verification (pynvme `verify_enable`): with `on`, every write to this
   * namespace — scripted or from an ioworker, on any queue of the controller —
   * stamps each block (LBA number in its first 8 bytes, a unique write token in
   * its last 8) and records its CRC-32C in a per-LBA table; every successful
   * read is checked against it, and a mismatch fails the read with status
   * 07/81, thrown by `waitdone` as a {@link VerifyError}. Commands in flight on
   * the same LBAs (or the same buffer bytes) are serialized, so overlapping IO
   * never gives a false report. The table is sparse: memory follows the LBAs
   * written (a 16 TB namespace is fine). It covers LBAs `0..nlbaVerify-1` (all
   * when 0); Write Zeroes, deallocate, Write Uncorrectable, Copy, format and
   * sanitize update it.
   *
   * Note: with verification on, the data of a write buffer is changed (stamped)
   * when the write is submitted; give each command in flight its own buffer.
   *
   * @returns true when verification is on now; false when turned off, or when
   *   it is not available for this namespace (extended-LBA metadata formats,
   *   or a table too large for the process)
   *
   * ```ts
   * import { Buffer, Controller, Qpair } from "../mod.ts";
   * using nvme0 = new Controller("qemu");
   * const nvme0n1 = new Namespace(nvme0, 1);
   * nvme0n1.verifyEnable(); // true
   * using qpair = new Qpair(nvme0, 16), buf = new Buffer(4096);
   * nvme0n1.write(qpair, buf, 0, 8).waitdone();
   * nvme0n1.read(qpair, buf, 0, 8).waitdone(); // checked
   * ```
   */
  verifyEnable(on = true): boolean {
    return this.#table(on, true);
  }

  /**
   * Stamp written data with verification off (pynvme stamps every write,
   * verification on or not): every write to this namespace is stamped (LBA
   * number and write token, as with {@link Namespace.verifyEnable}) and
   * recorded in the table, but reads are not checked. `verifyEnable()` later
   * turns checking on over the same table (what was written meanwhile is
   * checked); `stampEnable(false)` turns the table off, like
   * `verifyEnable(false)`.
   *
   * @returns true when writes are stamped now; false when turned off or not
   *   available (as for verifyEnable)
   *
   * ```ts
   * import { Buffer, Qpair } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * declare const buf: Buffer;
   * nvme0n1.stampEnable();
   * nvme0n1.write(qpair, buf, 0, 8).waitdone(); // stamped, recorded, not checked on read
   * nvme0n1.verifyEnable(); // from now on reads of LBA 0..7 are checked
   * ```
   */
  stampEnable(on = true): boolean {
    if (on && this.verifyEnabled) return true; // verification stamps already
    return this.#table(on, false);
  }

  /**
   * True while writes are stamped (verification on, or {@link Namespace.stampEnable}).
   *
   * ```ts
   * declare const nvme0n1: Namespace;
   * if (!nvme0n1.stampEnabled) nvme0n1.stampEnable();
   * ```
   */
  get stampEnabled(): boolean {
    if (this.#closed || this.ctrl.closed) return false;
    return verifyStats(this.ctrl.ctrlHandle, this.nsid).stamping;
  }

  #table(on: boolean, check: boolean): boolean {
    if (this.#closed) throw new ClosedError(`Namespace ${this.nsid}`);
    const ctrl = this.ctrl.ctrlHandle;
    if (!on) {
      verifyOff(ctrl, this.nsid);
      this.#verifyOwner = false;
      return false;
    }
    // metadata inside the data buffer (extended LBA): blocks are not lbaSize apart
    if (this.#ms && (this.#id[26] & 0x10)) return false;
    const fna = this.ctrl.identifyData[524];
    const flags = (fna & 1 ? VERIFY_F_FNA_ALL : 0) |
      (fna & 2 ? VERIFY_F_FNA_SES : 0) | (check ? 0 : VERIFY_F_NO_CHECK);
    const ok = verifyOn(
      ctrl,
      this.nsid,
      this.#lbaSize,
      this.capacity,
      this.nlbaVerify,
      flags,
    );
    if (ok) this.#verifyOwner = true;
    return ok;
  }

  /**
   * True while data verification is on for this namespace.
   *
   * ```ts
   * declare const nvme0n1: Namespace;
   * if (!nvme0n1.verifyEnabled) nvme0n1.verifyEnable();
   * ```
   */
  get verifyEnabled(): boolean {
    if (this.#closed || this.ctrl.closed) return false;
    return verifyStats(this.ctrl.ctrlHandle, this.nsid).enabled;
  }

  /**
   * The verification table's state: memory used, blocks stamped, checked and
   * skipped (never written), failures, lock conflicts.
   *
   * ```ts
   * declare const nvme0n1: Namespace;
   * declare const bytes: Uint8Array;
   * const s = nvme0n1.verifyStats();
   * console.log(`${s.checked} blocks checked, table ${s.tableBytes} bytes`);
   * ```
   */
  verifyStats(): VerifyStats {
    if (this.#closed) throw new ClosedError(`Namespace ${this.nsid}`);
    return verifyStats(this.ctrl.ctrlHandle, this.nsid);
  }

  /**
   * Raw verification table entries of `count` LBAs from `lba`: the CRC-32C of
   * each block as last written (see {@link crc32c}), 0 for never written,
   * deallocated or unknown, 0xFFFFFFFF for written uncorrectable.
   *
   * ```ts
   * declare const nvme0n1: Namespace;
   * const [crc] = nvme0n1.verifyEntries(0);
   * ```
   */
  verifyEntries(lba: number | bigint, count = 1): number[] {
    if (this.#closed) throw new ClosedError(`Namespace ${this.nsid}`);
    checkU64("lba", lba);
    checkInt("count", count, 1, 65536);
    return verifyEntries(this.ctrl.ctrlHandle, this.nsid, lba, count);
  }

  /**
   * Format this namespace (Format NVM, waited for) to LBA format `lbaf` with
   * Secure Erase Settings `ses`, then re-read its identify data. `lbaf` is an
   * index, or `{ dataSize, metaSize, ses }` to pick the format by its sizes
   * (pynvme `format(data_size, meta_size, ses)`). The command timeout is at
   * least 100 s meanwhile. Its verification table is cleared (and set up for
   * the new LBA size).
   *
   * ```ts
   * declare const nvme0n1: Namespace;
   * nvme0n1.format(); // LBA format 0, no secure erase
   * nvme0n1.format({ dataSize: 4096 }); // the 4 KiB format without metadata
   * ```
   */
  format(lbaf: number | FormatBySize = 0, ses = 0): this {
    if (this.#closed) throw new ClosedError(`Namespace ${this.nsid}`);
    let index: number;
    if (typeof lbaf === "object" && lbaf !== null) {
      const { dataSize = 512, metaSize = 0 } = lbaf;
      const found = this.getLbaFormat(dataSize, metaSize);
      if (found === undefined) {
        throw new ParameterError(
          `namespace ${this.nsid} has no LBA format of ${dataSize} data + ${metaSize} metadata bytes: it has ${this.#formats()}`,
        );
      }
      index = found;
      ses = lbaf.ses ?? ses;
    } else {
      if (typeof lbaf === "number" && lbaf >= 64) {
        throw new ParameterError(
          `lbaf = ${lbaf} is out of range: allowed 0..63 (an LBA format index); to format by data size as pynvme's format(data_size) does, use format({ dataSize: ${lbaf} })`,
        );
      }
      index = lbaf;
    }
    // like pynvme: a format may take long, give it at least 100 s
    const t = this.ctrl.timeout;
    if (t && t < 100_000) this.ctrl.timeout = 100_000;
    try {
      this.ctrl.format(index, ses, this.nsid).waitdone();
    } finally {
      if (t && t < 100_000 && !this.ctrl.closed) this.ctrl.timeout = t;
    }
    this.refresh();
    return this;
  }

  #formats(): string {
    const dv = new DataView(this.#id.buffer);
    const n = Math.min(64, this.#id[25] + 1);
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const f = dv.getUint32(128 + i * 4, true);
      const lbads = (f >> 16) & 0xff;
      if (lbads) out.push(`${i}: ${2 ** lbads}+${f & 0xffff}`);
    }
    return out.join(", ");
  }

  /**
   * Close the namespace object (no device resources are held); verification
   * turned on through it is turned off when no command uses it.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * const nvme0n1 = new Namespace(nvme0, 1);
   * nvme0n1.verifyEnable();
   * nvme0n1.close(); // or `using nvme0n1 = ...`
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#verifyOwner && !this.ctrl.closed) {
      try {
        verifyOff(this.ctrl.ctrlHandle, this.nsid);
      } catch {
        // commands (an ioworker) still use it: it stays on with the controller
      }
    }
  }
  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

guardClass(Namespace, NAMESPACE);
installIoFastPaths(Namespace, Qpair);

/**
 * Namespaces and their I/O commands.
 *
 * @module
 */
import { Buffer } from "./buffer.ts";
import {
  type CommandCallback,
  CommandQueue,
  SUBMIT_NO_STAMP,
  SUBMIT_RAW_PRP,
  SUBMIT_SGL,
} from "./cmdqueue.ts";
import type { Controller } from "./controller.ts";
import { NamespaceCreationError, NvmeError, ParameterError } from "./errors.ts";
import { IoWorker, type IoWorkerOptions } from "./ioworker.ts";
import type { Qpair } from "./qpair.ts";
import { callCallback } from "./callback.ts";
import { commandName } from "./status.ts";
import { checkInt, checkU64 } from "./validate.ts";
import type { FieldType } from "./buffer.ts";
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
 * Options of an I/O command.
 *
 * ```ts
 * import { Buffer, Qpair } from "../mod.ts";
 * declare const nvme0n1: Namespace;
 * declare const qpair: Qpair;
 * declare const buf: Buffer;
 * const fua: IoOptions = { ioFlags: 0x4000, cb: (cpl) => console.log(cpl.statusText) };
 * nvme0n1.write(qpair, buf, 0, 8, fua).waitdone(); // Force Unit Access
 * ```
 */
export interface IoOptions {
  /** Upper 16 bits of CDW12 (e.g. FUA = 1 << 14, LR = 1 << 15). */
  ioFlags?: number;
  /** CDW13. */
  cdw13?: number;
  /** CDW14. */
  cdw14?: number;
  /** CDW15. */
  cdw15?: number;
  /** Called with the completion. */
  cb?: CommandCallback;
  /** Describe the data with an SGL (one Data Block descriptor) instead of PRPs. */
  sgl?: boolean;
  /**
   * Separate metadata buffer (namespaces formatted with metadata in a separate
   * buffer): MPTR points at its offset; `lbaCount × metadataSize` bytes move.
   */
  meta?: Buffer;
  /** Protection information action and checks (CDW12 PRINFO: PRACT << 3 | PRCHK guard/app/ref). */
  prinfo?: number;
  /** Expected initial logical block reference tag (CDW14). */
  reftag?: number;
  /** Application tag (CDW15 bits 15:0). */
  apptag?: number;
  /** Application tag mask (CDW15 bits 31:16). */
  appmask?: number;
}

/**
 * Raw I/O command fields for {@link Namespace.sendCmd}.
 *
 * ```ts
 * import { Buffer, Qpair } from "../mod.ts";
 * declare const nvme0n1: Namespace;
 * declare const qpair: Qpair;
 * declare const buf: Buffer;
 * // a vendor-specific read-like command, 8 LBAs from LBA 0
 * const cmd: RawIoCommand = { buf, cdw10: 0, cdw11: 0, cdw12: 7 };
 * nvme0n1.sendCmd(0xc2, qpair, cmd).waitdone();
 * ```
 */
export interface RawIoCommand extends IoOptions {
  /** Data buffer. */
  buf?: Buffer;
  /** Transfer length (default: the buffer's size). */
  len?: number;
  /** Namespace id (default: this namespace). */
  nsid?: number;
  /** CDW2. */
  cdw2?: number;
  /** CDW3. */
  cdw3?: number;
  /** CDW10. */
  cdw10?: number;
  /** CDW11. */
  cdw11?: number;
  /** CDW12. */
  cdw12?: number;
  /** Explicit PRP1 (the driver then builds no data pointer). */
  prp1?: bigint;
  /** Explicit PRP2. */
  prp2?: bigint;
  /**
   * With data verification (or stamping) on, a Write (01h) is stamped (LBA
   * number and write token in each block) unless this is false: then the
   * buffer is written as it is, like pynvme's raw `send_cmd` writes, and the
   * table records the CRC of that data (reads of it are still checked).
   * Default true.
   */
  stamp?: boolean;
}

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
 * The driver's per-command transfer limit (one PRP list page per command).
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * declare const nvme0n1: Namespace;
 * const maxLbas = Math.min(MAX_TRANSFER, nvme0.mdts) / nvme0n1.lbaSize;
 * ```
 */
export const MAX_TRANSFER = 2 * 1024 * 1024;

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
export class Namespace {
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

  /** Open namespace `nsid` (Identify Namespace must report it active). */
  constructor(nvme: Controller, nsid = 1, nlbaVerify = 0) {
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

  #queue(qpair: Qpair): CommandQueue {
    if (this.#closed) throw new NvmeError(`namespace ${this.nsid} is closed`);
    if (!qpair || typeof qpair !== "object" || !("queue" in qpair)) {
      throw new ParameterError("qpair must be a Qpair");
    }
    if (qpair.ctrl !== this.ctrl) {
      throw new ParameterError(
        `Qpair ${qpair.sqid} belongs to another controller than namespace ${this.nsid}`,
      );
    }
    return qpair.queue;
  }

  #opts(o?: CommandCallback | IoOptions): IoOptions {
    return typeof o === "function" ? { cb: o } : (o ?? {});
  }

  #lbaCmd(
    opcode: number,
    qpair: Qpair,
    buf: Buffer | undefined,
    lba: number | bigint,
    lbaCount: number,
    o: IoOptions,
  ): Qpair {
    const q = this.#queue(qpair);
    const slba = checkU64("lba", lba);
    checkInt("lbaCount", lbaCount, 1, 65536);
    const ioFlags = checkInt("ioFlags", o.ioFlags ?? 0, 0, 0xffff);
    let len = 0;
    if (buf) {
      if (!(buf instanceof Buffer)) {
        throw new ParameterError("buf must be a Buffer");
      }
      len = lbaCount * this.#lbaSize;
      if (len > MAX_TRANSFER) {
        throw new ParameterError(
          `lbaCount = ${lbaCount} (${len} bytes) exceeds the driver's per-command limit of ${MAX_TRANSFER} bytes (this controller's MDTS is ${this.ctrl.mdts} bytes)`,
        );
      }
      if (len > buf.size) {
        throw new ParameterError(
          `buffer "${buf.name}" too small: ${lbaCount} LBA(s) of ${this.#lbaSize} bytes need ${len} bytes, the buffer has ${buf.size}`,
        );
      }
    }
    let metaLen = 0;
    if (o.meta) {
      if (!(o.meta instanceof Buffer)) {
        throw new ParameterError("meta must be a Buffer");
      }
      if (!this.#ms) {
        throw new ParameterError(
          `namespace ${this.nsid} has no metadata (its LBA format has 0 metadata bytes)`,
        );
      }
      metaLen = lbaCount * this.#ms;
      if (metaLen > o.meta.size) {
        throw new ParameterError(
          `metadata buffer "${o.meta.name}" too small: ${lbaCount} LBA(s) × ${this.#ms} bytes need ${metaLen}, it has ${o.meta.size}`,
        );
      }
    }
    const prinfo = checkInt("prinfo", o.prinfo ?? 0, 0, 0xf);
    const { sqe, dv } = CommandQueue.command(opcode, this.nsid);
    dv.setBigUint64(40, slba, true);
    dv.setUint32(
      48,
      ((lbaCount - 1) | ioFlags << 16 | prinfo << 26) >>> 0,
      true,
    );
    setDw(dv, 13, o.cdw13);
    setDw(dv, 14, o.reftag ?? o.cdw14);
    if (o.apptag !== undefined || o.appmask !== undefined) {
      setDw(
        dv,
        15,
        (checkInt("appmask", o.appmask ?? 0, 0, 0xffff) << 16 |
          checkInt("apptag", o.apptag ?? 0, 0, 0xffff)) >>> 0,
      );
    } else setDw(dv, 15, o.cdw15);
    const end = slba + BigInt(lbaCount);
    const past = end > this.#nsze
      ? `, past the end: namespace ${this.nsid} has ${this.#nsze} LBAs`
      : "";
    q.submit(sqe, {
      buf,
      len,
      meta: o.meta,
      metaLen,
      cb: o.cb,
      flags: o.sgl ? SUBMIT_SGL : 0,
      detail: `lba ${slba} count ${lbaCount}${past}`,
    });
    return qpair;
  }

  /**
   * Read (02h) `lbaCount` LBAs from `lba` into `buf`.
   *
   * ```ts
   * import { Buffer, Qpair } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * declare const buf: Buffer;
   * nvme0n1.read(qpair, buf, 0, 8).waitdone();
   * nvme0n1.read(qpair, buf, 8, 8, (cpl) => console.log(cpl.latencyUs)); // with a callback
   * qpair.waitdone();
   * ```
   */
  read(
    qpair: Qpair,
    buf: Buffer,
    lba: number | bigint,
    lbaCount = 1,
    opts?: CommandCallback | IoOptions,
  ): Qpair {
    if (!buf) throw new ParameterError("read needs a buffer");
    return this.#lbaCmd(0x02, qpair, buf, lba, lbaCount, this.#opts(opts));
  }
  /**
   * Write (01h) `lbaCount` LBAs at `lba` from `buf`.
   *
   * ```ts
   * import { Buffer, Qpair } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * declare const buf: Buffer;
   * buf.write("hello world");
   * nvme0n1.write(qpair, buf, 0, 1).waitdone();
   * nvme0n1.write(qpair, buf, 0, 1, { ioFlags: 0x4000 }).waitdone(); // FUA
   * ```
   */
  write(
    qpair: Qpair,
    buf: Buffer,
    lba: number | bigint,
    lbaCount = 1,
    opts?: CommandCallback | IoOptions,
  ): Qpair {
    if (!buf) throw new ParameterError("write needs a buffer");
    return this.#lbaCmd(0x01, qpair, buf, lba, lbaCount, this.#opts(opts));
  }
  /**
   * Compare (05h) `lbaCount` LBAs at `lba` with `buf`.
   *
   * ```ts
   * import { Buffer, Qpair } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * declare const buf: Buffer;
   * nvme0n1.compare(qpair, buf, 0, 8).waitdone(); // throws 02/85 Compare Failure on a mismatch
   * ```
   */
  compare(
    qpair: Qpair,
    buf: Buffer,
    lba: number | bigint,
    lbaCount = 1,
    opts?: CommandCallback | IoOptions,
  ): Qpair {
    if (!buf) throw new ParameterError("compare needs a buffer");
    return this.#lbaCmd(0x05, qpair, buf, lba, lbaCount, this.#opts(opts));
  }
  /**
   * Write Zeroes (08h).
   *
   * ```ts
   * import { Qpair } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * nvme0n1.writeZeroes(qpair, 0, 256).waitdone();
   * nvme0n1.writeZeroes(qpair, 0, 256, { ioFlags: 0x0200 }).waitdone(); // DEAC: deallocate too
   * ```
   */
  writeZeroes(
    qpair: Qpair,
    lba: number | bigint,
    lbaCount = 1,
    opts?: CommandCallback | IoOptions,
  ): Qpair {
    return this.#lbaCmd(
      0x08,
      qpair,
      undefined,
      lba,
      lbaCount,
      this.#opts(opts),
    );
  }
  /**
   * Write Uncorrectable (04h).
   *
   * ```ts
   * import { Buffer, expectStatus, Qpair } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * declare const buf: Buffer;
   * nvme0n1.writeUncorrectable(qpair, 100, 1).waitdone();
   * expectStatus("02/81", () => nvme0n1.read(qpair, buf, 100, 1).waitdone()); // Unrecovered Read Error
   * ```
   */
  writeUncorrectable(
    qpair: Qpair,
    lba: number | bigint,
    lbaCount = 1,
    opts?: CommandCallback | IoOptions,
  ): Qpair {
    return this.#lbaCmd(
      0x04,
      qpair,
      undefined,
      lba,
      lbaCount,
      this.#opts(opts),
    );
  }
  /**
   * Verify (0Ch).
   *
   * ```ts
   * import { Qpair } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * nvme0n1.verify(qpair, 0, 64).waitdone(); // the device checks the LBAs; no data moves
   * ```
   */
  verify(
    qpair: Qpair,
    lba: number | bigint,
    lbaCount = 1,
    opts?: CommandCallback | IoOptions,
  ): Qpair {
    return this.#lbaCmd(
      0x0c,
      qpair,
      undefined,
      lba,
      lbaCount,
      this.#opts(opts),
    );
  }
  /**
   * Flush (00h).
   *
   * ```ts
   * import { Buffer, Qpair } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * declare const buf: Buffer;
   * nvme0n1.write(qpair, buf, 0, 8).waitdone();
   * nvme0n1.flush(qpair).waitdone(); // out of the volatile write cache
   * ```
   */
  flush(qpair: Qpair, cb?: CommandCallback): Qpair {
    const q = this.#queue(qpair);
    q.submit(CommandQueue.command(0x00, this.nsid).sqe, { cb });
    return qpair;
  }
  /**
   * Dataset Management (09h) with `rangeCount` ranges from `buf` (see
   * `Buffer.setDsmRange`); `attribute` 0x4 = deallocate.
   *
   * ```ts
   * import { Buffer, Qpair } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * using ranges = new Buffer(4096);
   * ranges.setDsmRange(0, 0, 256); // LBA 0, 256 LBAs
   * ranges.setDsmRange(1, 4096, 8);
   * nvme0n1.dsm(qpair, ranges, 2).waitdone(); // trim both
   * ```
   */
  dsm(
    qpair: Qpair,
    buf: Buffer,
    rangeCount: number,
    attribute = 0x4,
    cb?: CommandCallback,
  ): Qpair {
    const q = this.#queue(qpair);
    checkInt("rangeCount", rangeCount, 1, 256);
    checkInt("attribute", attribute, 0, 0xffffffff);
    if (rangeCount * 16 > buf.size) {
      throw new ParameterError(
        `buffer "${buf.name}" too small: ${rangeCount} ranges need ${
          rangeCount * 16
        } bytes, the buffer has ${buf.size}`,
      );
    }
    const { sqe, dv } = CommandQueue.command(0x09, this.nsid);
    dv.setUint32(40, rangeCount - 1, true);
    dv.setUint32(44, attribute, true);
    q.submit(sqe, {
      buf,
      len: rangeCount * 16,
      cb,
      detail: `${rangeCount} range(s)`,
    });
    return qpair;
  }
  /**
   * Copy (19h): copy the source `ranges` (format 0 descriptors) to `dest`.
   *
   * ```ts
   * import { Qpair } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * nvme0n1.copy(qpair, 1000, [{ lba: 0, count: 8 }, { lba: 64, count: 8 }]).waitdone();
   * ```
   */
  copy(
    qpair: Qpair,
    dest: number | bigint,
    ranges: { lba: number | bigint; count: number }[],
    opts?: CommandCallback | IoOptions,
  ): Qpair {
    const q = this.#queue(qpair);
    const o = this.#opts(opts);
    const sdlba = checkU64("dest", dest);
    if (!Array.isArray(ranges) || ranges.length < 1 || ranges.length > 256) {
      throw new ParameterError("ranges must list 1..256 source ranges");
    }
    const buf = new Buffer(ranges.length * 32, "copy ranges");
    const dv = new DataView(
      buf.bytes.buffer,
      buf.bytes.byteOffset,
      buf.capacity,
    );
    ranges.forEach((r, i) => {
      dv.setBigUint64(i * 32 + 8, checkU64(`ranges[${i}].lba`, r.lba), true);
      dv.setUint16(
        i * 32 + 16,
        checkInt(`ranges[${i}].count`, r.count, 1, 65536) - 1,
        true,
      );
    });
    const { sqe, dv: c } = CommandQueue.command(0x19, this.nsid);
    c.setBigUint64(40, sdlba, true);
    c.setUint32(
      48,
      (ranges.length - 1) |
        checkInt("ioFlags", o.ioFlags ?? 0, 0, 0xffff) << 16,
      true,
    );
    q.submit(sqe, {
      buf,
      len: buf.capacity,
      cb: (cpl) => {
        buf.close();
        if (o.cb) callCallback(o.cb, cpl);
      },
      detail: `${ranges.length} range(s) to lba ${sdlba}`,
    });
    return qpair;
  }

  /**
   * Zone Management Send (79h): `action` 1 close, 2 finish, 3 open, 4 reset,
   * 5 offline, 0x10 set zone descriptor extension; `all` selects every zone.
   *
   * ```ts
   * import { Qpair } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * // on "qemu:zoned=4M"
   * nvme0n1.zoneMgmtSend(qpair, 0, 4, true).waitdone(); // reset every zone
   * ```
   */
  zoneMgmtSend(
    qpair: Qpair,
    slba: number | bigint,
    action: number,
    all = false,
    cb?: CommandCallback,
  ): Qpair {
    const q = this.#queue(qpair);
    const { sqe, dv } = CommandQueue.command(0x79, this.nsid);
    dv.setBigUint64(40, checkU64("slba", slba), true);
    dv.setUint32(
      52,
      checkInt("action", action, 0, 0xff) | (all ? 1 << 8 : 0),
      true,
    );
    q.submit(sqe, {
      cb,
      detail: `zone 0x${BigInt(slba).toString(16)} action ${action}`,
    });
    return qpair;
  }

  /**
   * Zone Management Receive (7Ah) into `buf`: `zra` 0 report zones, 1 extended
   * report; `zrasf` filters by state (0 all); `partial` reports only what fits.
   *
   * ```ts
   * import { Buffer, Qpair } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * using report = new Buffer(4096);
   * nvme0n1.zoneMgmtRecv(qpair, report, 0).waitdone();
   * const zones = report.u64(0); // number of zones reported
   * ```
   */
  zoneMgmtRecv(
    qpair: Qpair,
    buf: Buffer,
    slba: number | bigint = 0,
    o: {
      zra?: number;
      zrasf?: number;
      partial?: boolean;
      size?: number;
      cb?: CommandCallback;
    } = {},
  ): Qpair {
    const q = this.#queue(qpair);
    const size = checkInt("size", o.size ?? buf.size, 4, buf.size);
    if (size % 4) {
      throw new ParameterError(`size ${size} must be a multiple of 4`);
    }
    const { sqe, dv } = CommandQueue.command(0x7a, this.nsid);
    dv.setBigUint64(40, checkU64("slba", slba), true);
    dv.setUint32(48, size / 4 - 1, true);
    dv.setUint32(
      52,
      checkInt("zra", o.zra ?? 0, 0, 0xff) |
        checkInt("zrasf", o.zrasf ?? 0, 0, 0xff) << 8 |
        (o.partial ? 1 << 16 : 0),
      true,
    );
    q.submit(sqe, { buf, len: size, cb: o.cb });
    return qpair;
  }

  /**
   * Zone Append (7Dh) of `lbaCount` LBAs to the zone starting at `zslba`; the
   * completion's DW0/DW1 hold the LBA the data went to.
   *
   * ```ts
   * import { Buffer, Qpair } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * declare const buf: Buffer;
   * let at = 0n;
   * nvme0n1.zoneAppend(qpair, buf, 0, 8, (cpl) => at = BigInt(cpl.cdw0) | BigInt(cpl.dw1) << 32n).waitdone();
   * ```
   */
  zoneAppend(
    qpair: Qpair,
    buf: Buffer,
    zslba: number | bigint,
    lbaCount = 1,
    opts?: CommandCallback | IoOptions,
  ): Qpair {
    if (!buf) throw new ParameterError("zoneAppend needs a buffer");
    return this.#lbaCmd(0x7d, qpair, buf, zslba, lbaCount, this.#opts(opts));
  }

  /**
   * Any I/O command (pynvme `send_cmd`): `opcode` is the whole low word of CDW0
   * (FUSE and PSDT settable); NSID defaults to this namespace.
   *
   * ```ts
   * import { Buffer, Qpair } from "../mod.ts";
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * declare const buf: Buffer;
   * declare const wbuf: Buffer;
   * // a fused Compare and Write: compare first (FUSE 01b), write second (FUSE 10b)
   * nvme0n1.sendCmd(0x05 | 1 << 8, qpair, { buf, cdw10: 0, cdw12: 0 });
   * nvme0n1.sendCmd(0x01 | 2 << 8, qpair, { buf: wbuf, cdw10: 0, cdw12: 0 });
   * qpair.waitdone(2);
   * ```
   */
  sendCmd(opcode: number, qpair: Qpair, f: RawIoCommand = {}): Qpair {
    const q = this.#queue(qpair);
    checkInt("opcode", opcode, 0, 0xffff);
    const nsid = checkInt("nsid", f.nsid ?? this.nsid, 0, 0xffffffff);
    const { sqe, dv } = CommandQueue.command(opcode & 0xff, nsid);
    dv.setUint16(0, opcode, true);
    setDw(dv, 2, f.cdw2);
    setDw(dv, 3, f.cdw3);
    for (
      const [i, v] of [[10, f.cdw10], [11, f.cdw11], [12, f.cdw12], [
        13,
        f.cdw13,
      ], [
        14,
        f.cdw14,
      ], [15, f.cdw15]] as const
    ) setDw(dv, i, v);
    let flags = 0;
    if (f.prp1 !== undefined || f.prp2 !== undefined) {
      dv.setBigUint64(24, checkU64("prp1", f.prp1 ?? 0n), true);
      dv.setBigUint64(32, checkU64("prp2", f.prp2 ?? 0n), true);
      flags = SUBMIT_RAW_PRP;
    }
    if (f.stamp !== undefined && typeof f.stamp !== "boolean") {
      throw new ParameterError(`stamp must be true or false, got ${f.stamp}`);
    }
    if (f.stamp === false) flags |= SUBMIT_NO_STAMP;
    q.submit(sqe, {
      buf: f.buf,
      len: f.buf ? (f.len ?? f.buf.size) : 0,
      cb: f.cb,
      flags,
    });
    return qpair;
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
    if (this.#closed) throw new NvmeError(`namespace ${this.nsid} is closed`);
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
    if (this.#closed) throw new NvmeError(`namespace ${this.nsid} is closed`);
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
    if (this.#closed) throw new NvmeError(`namespace ${this.nsid} is closed`);
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
    if (this.#closed) throw new NvmeError(`namespace ${this.nsid} is closed`);
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
    if (this.#closed) throw new NvmeError(`namespace ${this.nsid} is closed`);
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

function setDw(dv: DataView, i: number, v: number | undefined): void {
  if (v !== undefined) {
    dv.setUint32(i * 4, checkInt(`cdw${i}`, v, 0, 0xffffffff), true);
  }
}

/**
 * The I/O commands of a namespace (Read, Write, Compare, Write Zeroes, Write
 * Uncorrectable, Verify, Flush, Dataset Management, Copy, Zone Management,
 * Zone Append, any raw command): each checks its parameters, encodes the
 * command dwords and submits it on a {@link Qpair}. {@link Namespace}
 * inherits them; its identity, verification and format are in namespace.ts.
 *
 * @module
 */
import { checkDataPointer } from "./admin_commands.ts";
import { Buffer } from "./buffer.ts";
import {
  type CommandCallback,
  CommandQueue,
  type DescribeLbas,
  SUBMIT_NO_STAMP,
  SUBMIT_RAW_PRP,
  SUBMIT_SGL,
} from "./cmdqueue.ts";
import type { Controller } from "./controller.ts";
import { ClosedError, ParameterError } from "./errors.ts";
import type { Qpair } from "./qpair.ts";
import { callCallback } from "./callback.ts";
import { checkInt, checkU64 } from "./validate.ts";

/**
 * Options of an I/O command.
 *
 * ```ts
 * import type { Namespace } from "./namespace.ts";
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
 * import type { Namespace } from "./namespace.ts";
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
 * The driver's per-command transfer limit (one PRP list page per command).
 *
 * ```ts
 * import type { Namespace } from "./namespace.ts";
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * declare const nvme0n1: Namespace;
 * const maxLbas = Math.min(MAX_TRANSFER, nvme0.mdts) / nvme0n1.lbaSize;
 * ```
 */
export const MAX_TRANSFER = 2 * 1024 * 1024;

/** The options of a command given none (shared: nothing allocated per command). */
const NO_OPTIONS: IoOptions = Object.freeze({});

/**
 * The I/O command set of a namespace; {@link Namespace} is the class to use.
 *
 * ```ts
 * import { Buffer, Qpair } from "../mod.ts";
 * import type { Namespace } from "./namespace.ts";
 * declare const nvme0n1: Namespace;
 * declare const qpair: Qpair;
 * declare const buf: Buffer;
 * nvme0n1.read(qpair, buf, 0, 8).waitdone(); // a builder inherited from IoCommands
 * ```
 */
export abstract class IoCommands {
  /** The controller. */
  abstract readonly ctrl: Controller;
  /** Namespace id. */
  abstract readonly nsid: number;
  /** LBAs of the namespace. */
  abstract get capacity(): number;
  /** Bytes per LBA (data). */
  abstract get lbaSize(): number;
  /** Metadata bytes per LBA. */
  abstract get metadataSize(): number;
  /** @internal True after close(). */
  protected abstract get isClosed(): boolean;

  #queue(qpair: Qpair): CommandQueue {
    if (this.isClosed) throw new ClosedError(`Namespace ${this.nsid}`);
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
    return typeof o === "function" ? { cb: o } : (o ?? NO_OPTIONS);
  }

  /** Names an LBA command in messages (one function per namespace). */
  #describe: DescribeLbas = (lba, count) => {
    const past = BigInt(lba) + BigInt(count) > BigInt(this.capacity)
      ? `, past the end: namespace ${this.nsid} has ${this.capacity} LBAs`
      : "";
    return `lba ${lba} count ${count}${past}`;
  };

  #lbaCmd(
    opcode: number,
    qpair: Qpair,
    buf: Buffer | undefined,
    lba: number | bigint,
    lbaCount: number,
    o: IoOptions,
  ): Qpair {
    const q = this.#queue(qpair);
    // a number LBA (the usual case) is written as two dwords: no BigInt per command
    const small = typeof lba === "number" && lba >= 0 &&
      lba <= Number.MAX_SAFE_INTEGER && Number.isInteger(lba);
    const slba = small ? lba : checkU64("lba", lba);
    checkInt("lbaCount", lbaCount, 1, 65536);
    const ioFlags = o.ioFlags === undefined || o.ioFlags === null
      ? 0
      : checkInt("ioFlags", o.ioFlags, 0, 0xffff);
    let len = 0;
    if (buf) {
      if (!(buf instanceof Buffer)) {
        throw new ParameterError("buf must be a Buffer");
      }
      len = lbaCount * this.lbaSize;
      if (len > MAX_TRANSFER) {
        throw new ParameterError(
          `lbaCount = ${lbaCount} (${len} bytes) exceeds the driver's per-command limit of ${MAX_TRANSFER} bytes (this controller's MDTS is ${this.ctrl.mdts} bytes)`,
        );
      }
      if (len > buf.size) {
        throw new ParameterError(
          `buffer "${buf.name}" too small: ${lbaCount} LBA(s) of ${this.lbaSize} bytes need ${len} bytes, the buffer has ${buf.size}`,
        );
      }
    }
    let metaLen = 0;
    if (o.meta) {
      if (!(o.meta instanceof Buffer)) {
        throw new ParameterError("meta must be a Buffer");
      }
      if (!this.metadataSize) {
        throw new ParameterError(
          `namespace ${this.nsid} has no metadata (its LBA format has 0 metadata bytes)`,
        );
      }
      metaLen = lbaCount * this.metadataSize;
      if (metaLen > o.meta.size) {
        throw new ParameterError(
          `metadata buffer "${o.meta.name}" too small: ${lbaCount} LBA(s) × ${this.metadataSize} bytes need ${metaLen}, it has ${o.meta.size}`,
        );
      }
    }
    const prinfo = o.prinfo === undefined || o.prinfo === null
      ? 0
      : checkInt("prinfo", o.prinfo, 0, 0xf);
    const { sqe, dv } = CommandQueue.command(opcode, this.nsid);
    if (typeof slba === "number") {
      dv.setUint32(40, slba % 0x1_0000_0000, true);
      dv.setUint32(44, Math.floor(slba / 0x1_0000_0000), true);
    } else dv.setBigUint64(40, slba, true);
    dv.setUint32(
      48,
      ((lbaCount - 1) | ioFlags << 16 | prinfo << 26) >>> 0,
      true,
    );
    if (o !== NO_OPTIONS) {
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
    }
    q.submitIo(
      sqe,
      buf,
      len,
      o.meta,
      metaLen,
      o.cb ?? undefined,
      o.sgl ? SUBMIT_SGL : 0,
      this.#describe,
      slba,
      lbaCount,
    );
    return qpair;
  }

  /**
   * Read (02h) `lbaCount` LBAs from `lba` into `buf`.
   *
   * ```ts
   * import type { Namespace } from "./namespace.ts";
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
   * import type { Namespace } from "./namespace.ts";
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
   * import type { Namespace } from "./namespace.ts";
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
   * import type { Namespace } from "./namespace.ts";
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
   * import type { Namespace } from "./namespace.ts";
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
   * import type { Namespace } from "./namespace.ts";
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
   * import type { Namespace } from "./namespace.ts";
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
   * import type { Namespace } from "./namespace.ts";
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
   * import type { Namespace } from "./namespace.ts";
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
   * import type { Namespace } from "./namespace.ts";
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
   * import type { Namespace } from "./namespace.ts";
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
   * import type { Namespace } from "./namespace.ts";
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
   * import type { Namespace } from "./namespace.ts";
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
    checkDataPointer("sendCmd", opcode, f, false);
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
      // a length without a buffer stays a length: submit() refuses it
      len: f.buf ? (f.len ?? f.buf.size) : (f.len ?? 0),
      cb: f.cb,
      flags,
    });
    return qpair;
  }
}

function setDw(dv: DataView, i: number, v: number | undefined): void {
  if (v !== undefined) {
    dv.setUint32(i * 4, checkInt(`cdw${i}`, v, 0, 0xffffffff), true);
  }
}

/** True for an LBA the guard (`V.u64()`) accepts: a safe integer or BigInt in 0..2^64-1. */
function plainLba(lba: unknown): boolean {
  return typeof lba === "number"
    ? lba >= 0 && Number.isSafeInteger(lba)
    : typeof lba === "bigint" && lba >= 0n && lba <= 0xffff_ffff_ffff_ffffn;
}

/**
 * @ignore @internal Give the guarded Read and Write of `cls` (after validate.ts's
 * guardClass) a fast path: a call whose arguments are plainly valid — an open
 * Qpair and Buffer, an LBA as above, an integer lbaCount in 1..65536 or none,
 * a callback or no options — on an open namespace skips the generic signature
 * walk (what the guard would accept anyway) and runs the method; any other
 * call goes through the guard, which checks and rejects it exactly as before.
 */
export function installIoFastPaths(
  cls: { prototype: IoCommands },
  qpairClass: abstract new (...a: never[]) => Qpair,
): void {
  const proto = cls.prototype as IoCommands & { readonly closed: boolean };
  const base = IoCommands.prototype;
  for (const name of ["read", "write"] as const) {
    const raw = base[name];
    const guarded = proto[name];
    if (raw === guarded) throw new Error(`${name}: guard it first`);
    Object.defineProperty(proto, name, {
      ...Object.getOwnPropertyDescriptor(proto, name),
      value: {
        [name](
          this: IoCommands & { readonly closed: boolean },
          qpair: Qpair,
          buf: Buffer,
          lba: number | bigint,
          lbaCount?: number,
          opts?: CommandCallback | IoOptions,
        ): Qpair {
          if (
            arguments.length <= 5 && qpair instanceof qpairClass &&
            !qpair.closed && buf instanceof Buffer && !buf.closed &&
            plainLba(lba) &&
            (lbaCount === undefined ||
              (typeof lbaCount === "number" && lbaCount >= 1 &&
                lbaCount <= 65536 && Number.isInteger(lbaCount))) &&
            (opts === undefined || typeof opts === "function") &&
            this.closed === false
          ) return raw.call(this, qpair, buf, lba, lbaCount, opts);
          return guarded.apply(
            this,
            arguments as unknown as Parameters<typeof raw>,
          );
        },
      }[name],
    });
  }
}

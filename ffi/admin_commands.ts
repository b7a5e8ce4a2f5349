/**
 * Admin command builders (Identify, Get/Set Features, Get Log Page, Abort,
 * Format, Sanitize, Self-test, Firmware, Security, NVMe-MI, Namespace
 * Attachment, any raw command): each checks its parameters, encodes the command
 * dwords and submits it on the admin queue. {@link Controller} inherits them;
 * its life cycle and registers are in controller.ts, decoded logs in
 * admin_logs.ts.
 *
 * @module
 */
import { Buffer } from "./buffer.ts";
import {
  type CommandCallback,
  CommandQueue,
  SUBMIT_RAW_PRP,
  type SubmitOptions,
} from "./cmdqueue.ts";
import type { Completion } from "./completion.ts";
import { callCallback } from "./callback.ts";
import { NvmeError, ParameterError } from "./errors.ts";
import { requirePermission } from "./permissions.ts";
import { commandName } from "./status.ts";
import { checkInt, checkU64 } from "./validate.ts";

/**
 * Options of admin commands that take a callback.
 *
 * ```ts
 * import { Buffer, Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * declare const buf: Buffer;
 * const o: AdminOptions = { cb: (cpl) => console.log(`done: ${cpl.statusText}`) };
 * nvme0.getlogpage(0x02, buf, { size: 512, ...o }).waitdone();
 * ```
 */
export interface AdminOptions {
  /** Called with the completion. */
  cb?: CommandCallback;
}

/**
 * Options of Get/Set Features.
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * nvme0.setfeatures(0x04, { cdw11: 350, sv: false } satisfies FeatureOptions).waitdone();
 * const kelvin = nvme0.getfeatures(0x04, { sel: 1 }).waitdone(); // default value
 * ```
 */
export interface FeatureOptions extends AdminOptions {
  /** Select (Get Features): 0 current, 1 default, 2 saved, 3 capabilities. */
  sel?: number;
  /** Save (Set Features). */
  sv?: boolean;
  /** Data buffer. */
  buf?: Buffer;
  /** Namespace (default as in pynvme: 1 for Get Features, 0xFFFFFFFF for Set Features). */
  nsid?: number;
  /** Command dwords 11..15. */
  cdw11?: number;
  /** Command dword 12. */
  cdw12?: number;
  /** Command dword 13. */
  cdw13?: number;
  /** Command dword 14. */
  cdw14?: number;
  /** Command dword 15. */
  cdw15?: number;
}

/**
 * Raw command fields for {@link Controller.sendCmd}.
 *
 * ```ts
 * import { Buffer, Controller } from "../mod.ts";
 * declare const nvme0: Controller;
 * declare const buf: Buffer;
 * // Identify Controller, spelled out
 * const id: RawCommand = { buf, cdw10: 1 };
 * nvme0.sendCmd(0x06, id).waitdone();
 * ```
 */
export interface RawCommand extends AdminOptions {
  /** Data buffer (its size is the transfer length unless `len` is given). */
  buf?: Buffer;
  /** Transfer length in bytes (default: the buffer's size). */
  len?: number;
  /** Namespace identifier. */
  nsid?: number;
  /** Command dwords 2..15 by name. */
  cdw2?: number;
  /** CDW3. */
  cdw3?: number;
  /** CDW10. */
  cdw10?: number;
  /** CDW11. */
  cdw11?: number;
  /** CDW12. */
  cdw12?: number;
  /** CDW13. */
  cdw13?: number;
  /** CDW14. */
  cdw14?: number;
  /** CDW15. */
  cdw15?: number;
  /** Explicit PRP1 (then `prp2` too): the driver does not build data pointers. */
  prp1?: bigint;
  /** Explicit PRP2. */
  prp2?: bigint;
}

/**
 * The admin command set of a controller; {@link Controller} is the class to use.
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * using nvme0 = new Controller("qemu");
 * nvme0.getfeatures(0x07).waitdone(); // a builder inherited from AdminCommands
 * ```
 */
export abstract class AdminCommands {
  /** @ignore @internal the admin queue */
  abstract get adminQueue(): CommandQueue;
  /** Identify Controller data (cached at init). */
  abstract get identifyData(): Uint8Array;
  /** Maximum data transfer size in bytes. */
  abstract get mdts(): number;

  /** @ignore @internal Submit an admin command built from raw fields; returns `this`. */
  protected submitAdmin(
    opcode: number,
    f: RawCommand,
    flags = 0,
    aer = false,
  ): this {
    const { sqe, o } = this.#build(opcode, f, flags);
    this.adminQueue.submit(sqe, { ...o, aer });
    return this;
  }

  /**
   * @ignore @internal Run one admin command to completion and return it (other
   * completions are processed as usual); a non-zero status throws.
   */
  exec(opcode: number, f: RawCommand = {}): Completion {
    const { sqe, o } = this.#build(opcode, f, 0);
    return this.adminQueue.execSync(sqe, o);
  }

  #build(
    opcode: number,
    f: RawCommand,
    flags: number,
  ): { sqe: Uint8Array; o: SubmitOptions } {
    const { sqe, dv } = CommandQueue.command(opcode & 0xff, f.nsid ?? 0);
    dv.setUint16(0, opcode & 0xffff, true);
    const dws: [number, number | undefined][] = [
      [2, f.cdw2],
      [3, f.cdw3],
      [10, f.cdw10],
      [11, f.cdw11],
      [12, f.cdw12],
      [13, f.cdw13],
      [14, f.cdw14],
      [15, f.cdw15],
    ];
    for (const [i, v] of dws) {
      if (v !== undefined) {
        dv.setUint32(i * 4, checkInt(`cdw${i}`, v, 0, 0xffffffff), true);
      }
    }
    if (f.prp1 !== undefined || f.prp2 !== undefined) {
      dv.setBigUint64(24, checkU64("prp1", f.prp1 ?? 0n), true);
      dv.setBigUint64(32, checkU64("prp2", f.prp2 ?? 0n), true);
      flags |= SUBMIT_RAW_PRP;
    }
    return {
      sqe,
      o: {
        buf: f.buf,
        // a length without a buffer stays a length: submit() refuses it
        // (unless the caller gave a raw PRP on purpose)
        len: f.buf ? (f.len ?? f.buf.size) : (f.len ?? 0),
        cb: f.cb,
        flags,
      },
    };
  }

  /**
   * Identify (06h) into `buf` (4 KiB).
   *
   * ```ts
   * import { Buffer, Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * using buf = new Buffer(4096);
   * nvme0.identify(buf).waitdone(); // CNS 01h: the controller
   * nvme0.identify(buf, 1, 0).waitdone(); // CNS 00h: namespace 1
   * nvme0.identify(buf, 0, 2).waitdone(); // CNS 02h: active namespace list
   * ```
   */
  identify(
    buf: Buffer,
    nsid = 0,
    cns = 1,
    opts: { cntid?: number; csi?: number; cb?: CommandCallback } = {},
  ): this {
    checkInt("nsid", nsid, 0, 0xffffffff);
    checkInt("cns", cns, 0, 0xff);
    const cntid = checkInt("cntid", opts.cntid ?? 0, 0, 0xffff);
    const csi = checkInt("csi", opts.csi ?? 0, 0, 0xff);
    return this.submitAdmin(0x06, {
      buf,
      len: 4096,
      nsid,
      cdw10: (cntid << 16 | cns) >>> 0,
      cdw11: csi << 24 >>> 0,
      cb: opts.cb,
    });
  }

  /**
   * Get Features (0Ah): `fid`, select, buffer, cdw11..15; NSID 1 unless
   * `nsid` is given (pynvme's default).
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * const nq = nvme0.getfeatures(0x07).waitdone(); // Number of Queues: NSQA | NCQA << 16
   * const saved = nvme0.getfeatures(0x04, { sel: 2 }).waitdone(); // saved temperature threshold
   * ```
   */
  getfeatures(fid: number, o: FeatureOptions = {}): this {
    checkInt("fid", fid, 0, 0xff);
    const sel = checkInt("sel", o.sel ?? 0, 0, 7);
    return this.submitAdmin(0x0a, {
      ...o,
      nsid: o.nsid ?? 1, // pynvme's default: per-namespace features work
      cdw10: (sel << 8) | fid,
    });
  }

  /**
   * Set Features (09h): `fid`, save, buffer, cdw11..15; NSID FFFFFFFFh
   * (all namespaces) unless `nsid` is given (pynvme's default).
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * nvme0.setfeatures(0x06, { cdw11: 1 }).waitdone(); // volatile write cache on
   * ```
   */
  setfeatures(fid: number, o: FeatureOptions = {}): this {
    checkInt("fid", fid, 0, 0xff);
    return this.submitAdmin(0x09, {
      ...o,
      nsid: o.nsid ?? 0xffffffff, // pynvme's default: all namespaces
      cdw10: ((o.sv ? 1 << 31 : 0) | fid) >>> 0,
    });
  }

  /**
   * Get Log Page (02h): `size` bytes (dword multiple, default the buffer's size)
   * from byte `offset`, split into NUMDL/NUMDU and LPOL/LPOU.
   *
   * ```ts
   * import { Buffer, Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * using buf = new Buffer(512);
   * nvme0.getlogpage(0x02, buf, { size: 512 }).waitdone(); // SMART / Health
   * const kelvin = buf.data(2, 1);
   * ```
   */
  getlogpage(
    lid: number,
    buf: Buffer,
    o: {
      size?: number;
      offset?: number;
      nsid?: number;
      lsp?: number;
      rae?: boolean;
      cb?: CommandCallback;
    } = {},
  ): this {
    checkInt("lid", lid, 0, 0xff);
    const size = checkInt("size", o.size ?? buf.size, 4, buf.size);
    if (size % 4) {
      throw new NvmeError(`getlogpage size ${size} must be a multiple of 4`);
    }
    const off = checkU64("offset", o.offset ?? 0);
    if (off % 4n) {
      throw new NvmeError(`getlogpage offset ${off} must be a multiple of 4`);
    }
    const numd = size / 4 - 1;
    const lsp = checkInt("lsp", o.lsp ?? 0, 0, 0x7f);
    return this.submitAdmin(0x02, {
      buf,
      len: size,
      nsid: o.nsid ?? 0xffffffff,
      cdw10:
        ((numd & 0xffff) << 16 | (o.rae ? 1 << 15 : 0) | lsp << 8 | lid) >>> 0,
      cdw11: numd >>> 16,
      cdw12: Number(off & 0xffffffffn),
      cdw13: Number(off >> 32n),
      cb: o.cb,
    });
  }

  /**
   * Abort (08h) command `cid` on `sqid`.
   *
   * ```ts
   * import { Buffer, Controller, Namespace, Qpair } from "../mod.ts";
   * declare const nvme0: Controller;
   * declare const nvme0n1: Namespace;
   * declare const qpair: Qpair;
   * declare const buf: Buffer;
   * nvme0n1.read(qpair, buf, 0, 8);
   * const cdw0 = nvme0.abort(qpair.latestCid, qpair.sqid).waitdone(); // bit 0: 1 = not aborted
   * qpair.waitdone();
   * ```
   */
  abort(cid: number, sqid = 0, cb?: CommandCallback): this {
    checkInt("cid", cid, 0, 0xffff);
    checkInt("sqid", sqid, 0, 0xffff);
    return this.submitAdmin(0x08, { cdw10: (cid << 16 | sqid) >>> 0, cb });
  }

  /**
   * Format NVM (80h) of namespace `nsid` (0xFFFFFFFF: all) to LBA format
   * `lbaf` with Secure Erase Settings `ses` (0 none, 1 user data, 2 crypto).
   *
   * ```ts
   * import { Controller, Namespace } from "../mod.ts";
   * declare const nvme0: Controller;
   * declare const nvme0n1: Namespace;
   * nvme0.format(0, 1).waitdone(); // namespace 1, LBA format 0, user data erase
   * nvme0n1.refresh(); // re-read its identify data (LBA size, ...)
   * ```
   */
  format(
    lbaf = 0,
    ses = 0,
    nsid = 1,
    o: { mset?: number; pi?: number; pil?: number; cb?: CommandCallback } = {},
  ): this {
    checkInt("lbaf", lbaf, 0, 63);
    checkInt("ses", ses, 0, 7);
    checkInt("nsid", nsid, 0, 0xffffffff);
    const mset = checkInt("mset", o.mset ?? 0, 0, 1);
    const pi = checkInt("pi", o.pi ?? 0, 0, 7);
    const pil = checkInt("pil", o.pil ?? 0, 0, 1);
    return this.submitAdmin(0x80, {
      nsid,
      cdw10: ((lbaf & 0xf) | mset << 4 | pi << 5 | pil << 8 | ses << 9 |
        (lbaf >> 4) << 12) >>> 0,
      cb: o.cb,
    });
  }

  /**
   * Sanitize (84h): `sanact` 1 exit failure mode, 2 block erase, 3 overwrite,
   * 4 crypto erase; `pattern` for overwrite. Progress is in log page 81h.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * nvme0.sanitize(2).waitdone(); // block erase; examples/sanitize.ts follows its progress
   * ```
   */
  sanitize(
    sanact = 2,
    pattern = 0,
    o: {
      ause?: boolean;
      owpass?: number;
      oipbp?: boolean;
      nodas?: boolean;
      cb?: CommandCallback;
    } = {},
  ): this {
    checkInt("sanact", sanact, 0, 7);
    checkInt("pattern", pattern, 0, 0xffffffff);
    const owpass = checkInt("owpass", o.owpass ?? 0, 0, 15);
    return this.submitAdmin(0x84, {
      cdw10: (sanact | (o.ause ? 8 : 0) | owpass << 4 | (o.oipbp ? 1 << 8 : 0) |
        (o.nodas ? 1 << 9 : 0)) >>> 0,
      cdw11: pattern,
      cb: o.cb,
    });
  }

  /**
   * Device Self-test (14h): `stc` 1 short, 2 extended, 0xE vendor, 0xF abort.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * nvme0.dst(1).waitdone(); // short self-test of every namespace; results in log page 06h
   * ```
   */
  dst(stc = 1, nsid = 0xffffffff, cb?: CommandCallback): this {
    checkInt("stc", stc, 0, 0xf);
    checkInt("nsid", nsid, 0, 0xffffffff);
    return this.submitAdmin(0x14, { nsid, cdw10: stc, cb });
  }

  /**
   * Firmware Image Download (11h): `size` bytes of `buf` (default its size,
   * a dword multiple) at byte `offset` of the image.
   *
   * ```ts
   * import { Buffer, Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * declare const image: Uint8Array;
   * using chunk = new Buffer(4096);
   * chunk.write(image.subarray(0, 4096));
   * nvme0.fwDownload(chunk, 0).waitdone(); // then the next chunk at 4096, ...
   * ```
   */
  fwDownload(
    buf: Buffer,
    offset: number,
    size?: number,
    cb?: CommandCallback,
  ): this {
    const len = checkInt("size", size ?? buf.size, 4, buf.size);
    checkInt("offset", offset, 0, 0x3ffffffff);
    if (len % 4 || offset % 4) {
      throw new ParameterError(
        `fwDownload size ${len} and offset ${offset} must be multiples of 4 (dwords)`,
      );
    }
    return this.submitAdmin(0x11, {
      buf,
      len,
      cdw10: len / 4 - 1,
      cdw11: offset / 4,
      cb,
    });
  }

  /**
   * Firmware Commit (10h): `slot` 0..7, `action` 0 replace, 1 replace and
   * activate at reset, 2 activate at reset, 3 activate now, 6/7 boot partition.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * nvme0.fwCommit(2, 1).waitdone(); // the downloaded image into slot 2, active after a reset
   * nvme0.reset();
   * ```
   */
  fwCommit(slot: number, action: number, cb?: CommandCallback): this {
    checkInt("slot", slot, 0, 7);
    checkInt("action", action, 0, 7);
    return this.submitAdmin(0x10, { cdw10: slot | action << 3, cb });
  }

  /**
   * Download a firmware file and commit it (pynvme `downfw`): chunks of the
   * firmware update granularity (4 KiB when not given, at most MDTS), then
   * Firmware Commit. Synchronous; returns CDW0 of the commit.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * nvme0.downfw("fw_v2.bin", 2, 1); // or: deno task nvme fw-download fw_v2.bin --slot 2
   * nvme0.reset();
   * ```
   */
  downfw(path: string, slot = 0, action = 1): number {
    checkInt("slot", slot, 0, 7);
    checkInt("action", action, 0, 7);
    requirePermission(
      { name: "read", path },
      `reading the firmware file ${path}`,
    );
    let image: Uint8Array;
    try {
      image = Deno.readFileSync(path);
    } catch (e) {
      // no file, a directory, no permission: a denvme error naming the path
      throw new ParameterError(
        `downfw: cannot read the firmware file ${JSON.stringify(path)}: ${
          (e as Error).message
        }`,
      );
    }
    if (!image.length || image.length % 4) {
      throw new ParameterError(
        `firmware file ${path} has ${image.length} bytes: it must be a non-empty multiple of 4`,
      );
    }
    const fwug = this.identifyData[319];
    const gran = fwug && fwug !== 0xff ? fwug * 4096 : 4096;
    const chunk = Math.min(gran, this.mdts);
    using buf = new Buffer(chunk, "firmware");
    for (let off = 0; off < image.length; off += chunk) {
      const part = image.subarray(off, Math.min(image.length, off + chunk));
      buf.write(part);
      this.exec(0x11, {
        buf,
        len: part.length,
        cdw10: part.length / 4 - 1,
        cdw11: off / 4,
      });
    }
    return this.exec(0x10, { cdw10: slot | action << 3 }).cdw0;
  }

  /**
   * Security Send (81h): `size` bytes (default the buffer's) to security protocol `secp`.
   *
   * ```ts
   * import { Buffer, Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * declare const comPacket: Buffer; // a TCG ComPacket
   * nvme0.securitySend(comPacket, 0x0001, 0x01).waitdone(); // TCG, ComID 1
   * ```
   */
  securitySend(
    buf: Buffer,
    spsp: number,
    secp = 1,
    nssf = 0,
    size?: number,
    cb?: CommandCallback,
  ): this {
    return this.#security(0x81, buf, spsp, secp, nssf, size, cb);
  }

  /**
   * Security Receive (82h): up to `size` bytes (default the buffer's).
   *
   * ```ts
   * import { Buffer, Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * using resp = new Buffer(2048);
   * nvme0.securityReceive(resp, 0x0001, 0x00).waitdone(); // protocol 0: supported protocols
   * ```
   */
  securityReceive(
    buf: Buffer,
    spsp: number,
    secp = 1,
    nssf = 0,
    size?: number,
    cb?: CommandCallback,
  ): this {
    return this.#security(0x82, buf, spsp, secp, nssf, size, cb);
  }

  #security(
    opc: number,
    buf: Buffer,
    spsp: number,
    secp: number,
    nssf: number,
    size: number | undefined,
    cb?: CommandCallback,
  ): this {
    checkInt("spsp", spsp, 0, 0xffff);
    checkInt("secp", secp, 0, 0xff);
    checkInt("nssf", nssf, 0, 0xff);
    const len = checkInt("size", size ?? buf.size, 0, buf.size);
    return this.submitAdmin(opc, {
      buf,
      len,
      cdw10: (secp << 24 | spsp << 8 | nssf) >>> 0,
      cdw11: len,
      cb,
    });
  }

  /**
   * NVMe-MI Send (1Dh), pynvme's encoding: cdw10 = mtype << 11 | 4, cdw11 = MI opcode.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * nvme0.miSend(0x04, 0, 0).waitdone(); // MI opcode 04h: Configuration Set
   * ```
   */
  miSend(
    opcode: number,
    dword0 = 0,
    dword1 = 0,
    buf?: Buffer,
    mtype = 1,
    cb?: CommandCallback,
  ): this {
    return this.#mi(0x1d, opcode, dword0, dword1, buf, mtype, cb);
  }

  /**
   * NVMe-MI Receive (1Eh).
   *
   * ```ts
   * import { Buffer, Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * using buf = new Buffer(4096);
   * nvme0.miReceive(0x00, 0, 0, buf).waitdone(); // MI opcode 00h: Read NVMe-MI Data Structure
   * ```
   */
  miReceive(
    opcode: number,
    dword0 = 0,
    dword1 = 0,
    buf?: Buffer,
    mtype = 1,
    cb?: CommandCallback,
  ): this {
    return this.#mi(0x1e, opcode, dword0, dword1, buf, mtype, cb);
  }

  #mi(
    opc: number,
    opcode: number,
    dword0: number,
    dword1: number,
    buf: Buffer | undefined,
    mtype: number,
    cb?: CommandCallback,
  ): this {
    checkInt("opcode", opcode, 0, 0xff);
    checkInt("mtype", mtype, 0, 0xf);
    return this.submitAdmin(opc, {
      buf,
      cdw10: mtype << 11 | 4,
      cdw11: opcode,
      cdw12: checkInt("dword0", dword0, 0, 0xffffffff),
      cdw13: checkInt("dword1", dword1, 0, 0xffffffff),
      cb,
    });
  }

  /**
   * Namespace Attachment (15h): attach (or detach) `nsid` to the controller ids listed.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * const cntlid = nvme0.idCtrl.cntlid;
   * nvme0.nsAttach(2, [cntlid], true).waitdone(); // detach namespace 2
   * nvme0.nsAttach(2, [cntlid]).waitdone(); // and attach it again
   * ```
   */
  nsAttach(
    nsid: number,
    controllers: number[],
    detach = false,
    cb?: CommandCallback,
  ): this {
    checkInt("nsid", nsid, 1, 0xfffffffe);
    if (!Array.isArray(controllers) || controllers.length > 2047) {
      throw new ParameterError(
        "controllers must be a list of up to 2047 controller ids",
      );
    }
    const buf = new Buffer(4096, "controller list");
    const dv = new DataView(buf.bytes.buffer, buf.bytes.byteOffset, 4096);
    dv.setUint16(0, controllers.length, true);
    controllers.forEach((id, i) =>
      dv.setUint16(2 + i * 2, checkInt("controller id", id, 0, 0xffff), true)
    );
    return this.submitAdmin(0x15, {
      buf,
      len: 4096,
      nsid,
      cdw10: detach ? 1 : 0,
      cb: (cpl) => {
        buf.close();
        if (cb) callCallback(cb, cpl);
      },
    });
  }

  /**
   * Any admin command (pynvme `send_cmd`): `opcode` is the whole low word of
   * CDW0 (so FUSE and PSDT bits can be set); the CID is the driver's.
   *
   * ```ts
   * import { Buffer, Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * using buf = new Buffer(4096);
   * nvme0.sendCmd(0xc0, { buf, cdw10: 1, cdw12: 0x1000 }).waitdone(); // a vendor command
   * ```
   */
  sendCmd(opcode: number, f: RawCommand = {}): this {
    checkInt("opcode", opcode, 0, 0xffff);
    if (f.nsid !== undefined) checkInt("nsid", f.nsid, 0, 0xffffffff);
    checkDataPointer("sendCmd", opcode, f, true);
    return this.submitAdmin(opcode, f);
  }

  /**
   * Admin command name of `opcode`.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * nvme0.cmdname(0x06); // "Identify"
   * ```
   */
  cmdname(opcode: number): string {
    return commandName(checkInt("opcode", opcode, 0, 0xff), true);
  }
}

/** Admin opcodes that always transfer data (Get Log Page, Identify, ...). */
const ADMIN_DATA = new Set([0x02, 0x06, 0x11, 0x15, 0x81, 0x82]);
/** I/O opcodes that always transfer data (Write, Read, Compare, DSM, Copy, ...). */
const IO_DATA = new Set([0x01, 0x02, 0x05, 0x09, 0x19, 0x7a, 0x7d]);

/**
 * A length without a buffer, or a command that always transfers data
 * (Identify, Read, ...) without one, is refused: the device would DMA to (or
 * from) bus address 0. An explicit raw PRP (prp1/prp2) is the caller's choice.
 */
export function checkDataPointer(
  where: string,
  opcode: number,
  f: { buf?: unknown; len?: number; prp1?: bigint; prp2?: bigint },
  admin: boolean,
): void {
  const raw = f.prp1 !== undefined || f.prp2 !== undefined;
  if (f.buf !== undefined || raw) return;
  if (f.len) {
    throw new ParameterError(
      `${where}: len = ${f.len} but no buf: a data transfer needs a Buffer (or prp1/prp2 for a raw data pointer on purpose)`,
    );
  }
  const opc = opcode & 0xff;
  if ((admin ? ADMIN_DATA : IO_DATA).has(opc)) {
    throw new ParameterError(
      `${where}: opcode 0x${opc.toString(16).padStart(2, "0")} (${
        commandName(opc, admin)
      }) transfers data but no buf was given: pass buf, or prp1/prp2 for a raw data pointer on purpose`,
    );
  }
}

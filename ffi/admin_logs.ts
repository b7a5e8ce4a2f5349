/**
 * Decoded admin data: Identify fields, log pages (SMART, Error, Firmware Slot,
 * Commands Supported and Effects) read synchronously and decoded with the
 * decoders of structs.ts. {@link Controller} inherits them.
 *
 * @module
 */
import { ParameterError } from "./errors.ts";
import { AdminCommands } from "./admin_commands.ts";
import { Buffer, type FieldType } from "./buffer.ts";
import { checkInt } from "./validate.ts";
import {
  decodeEffectsLog,
  decodeErrorLog,
  decodeFirmwareSlotLog,
  decodeIdentifyController,
  decodeSmartLog,
  type EffectsLog,
  type ErrorLogEntry,
  type FirmwareSlotLog,
  type IdentifyController,
  type SmartLog,
} from "./structs.ts";

/**
 * Identify data and log pages of a controller, decoded; {@link Controller} is
 * the class to use.
 *
 * ```ts
 * import { Controller } from "../mod.ts";
 * using nvme0 = new Controller("qemu");
 * const { temperature } = nvme0.smartLog(); // inherited from AdminLogs
 * ```
 */
export abstract class AdminLogs extends AdminCommands {
  #effects?: EffectsLog;

  /**
   * A field of Identify data, spec style (pynvme `id_data`): bytes begin..end
   * inclusive. Issues an Identify command and waits for it.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * nvme0.idData(63, 24, "str"); // model number
   * nvme0.idData(1, 0); // PCI vendor id
   * nvme0.idData(7, 0, "bigint", { nsid: 1, cns: 0 }); // NSZE of namespace 1
   * ```
   */
  idData(
    end: number,
    begin?: number,
    type: FieldType = "int",
    opts: { nsid?: number; cns?: number; cntid?: number; csi?: number } = {},
  ): number | bigint | string {
    using buf = new Buffer(4096, "identify");
    const cns = checkInt("cns", opts.cns ?? 1, 0, 0xff);
    const cntid = checkInt("cntid", opts.cntid ?? 0, 0, 0xffff);
    this.exec(0x06, {
      buf,
      len: 4096,
      nsid: checkInt("nsid", opts.nsid ?? 0, 0, 0xffffffff),
      cdw10: (cntid << 16 | cns) >>> 0,
      cdw11: checkInt("csi", opts.csi ?? 0, 0, 0xff) << 24 >>> 0,
    });
    return buf.data(end, begin, type);
  }

  /** Identify Controller, decoded (from the data cached at init). */
  get idCtrl(): IdentifyController {
    return decodeIdentifyController(this.identifyData);
  }

  /**
   * Read log page `lid` (synchronously) into a new byte array of `size` bytes.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * const sanitizeStatus = nvme0.logPage(0x81, 20);
   * const progress = (sanitizeStatus[0] | sanitizeStatus[1] << 8) / 65536;
   * ```
   */
  logPage(
    lid: number,
    size: number,
    nsid = 0xffffffff,
    offset = 0,
  ): Uint8Array<ArrayBuffer> {
    checkInt("size", size, 4, 1 << 20);
    if (size % 4) {
      // NUMD counts dwords: 6 bytes would transfer 4 and return 2 never written
      throw new ParameterError(
        `logPage: size = ${size} must be a multiple of 4 (the command transfers dwords), in 4..${
          1 << 20
        }`,
      );
    }
    using buf = new Buffer(size, `log ${lid}`);
    const numd = size / 4 - 1;
    this.exec(0x02, {
      buf,
      len: size,
      nsid: checkInt("nsid", nsid, 0, 0xffffffff),
      cdw10: ((numd & 0xffff) << 16 | checkInt("lid", lid, 0, 0xff)) >>> 0,
      cdw11: numd >>> 16,
      cdw12: checkInt("offset", offset, 0, 0xffffffff),
    });
    return buf.slice(0, size);
  }
  /**
   * SMART / Health Information (log 02h), decoded.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * const { temperature, powerOnHours, unsafeShutdowns } = nvme0.smartLog();
   * ```
   */
  smartLog(nsid = 0xffffffff): SmartLog {
    return decodeSmartLog(this.logPage(0x02, 512, nsid));
  }
  /**
   * Error Information entries (log 01h; ELPE + 1 entries), decoded.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * const latest = nvme0.errorLog().find((e) => e.errorCount);
   * ```
   */
  errorLog(): ErrorLogEntry[] {
    return decodeErrorLog(
      this.logPage(0x01, 64 * (this.identifyData[262] + 1)),
    );
  }
  /**
   * Firmware Slot Information (log 03h), decoded.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * const { activeSlot, frs } = nvme0.firmwareSlotLog();
   * ```
   */
  firmwareSlotLog(): FirmwareSlotLog {
    return decodeFirmwareSlotLog(this.logPage(0x03, 512));
  }
  /**
   * Commands Supported and Effects (log 05h), decoded; cached after the first read.
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * const formatChangesLbas = nvme0.effectsLog().admin[0x80].lbcc;
   * ```
   */
  effectsLog(): EffectsLog {
    if (!this.#effects) {
      this.#effects = decodeEffectsLog(this.logPage(0x05, 4096, 0));
    }
    return this.#effects;
  }
  /**
   * True when the controller reports `opcode` as supported in the Commands
   * Supported and Effects log (admin, or I/O with `io`).
   *
   * ```ts
   * import { Controller } from "../mod.ts";
   * declare const nvme0: Controller;
   * if (!nvme0.supports(0x84)) console.log("no Sanitize");
   * if (nvme0.supports(0x19, true)) console.log("Copy is supported");
   * ```
   */
  supports(opcode: number, io = false): boolean {
    checkInt("opcode", opcode, 0, 0xff);
    const log = this.effectsLog();
    return (io ? log.io : log.admin)[opcode].csupp;
  }
}

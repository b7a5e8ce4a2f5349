/**
 * The NVMe controller: registers, admin queue and admin commands, bring-up.
 *
 * @module
 */
import { Buffer } from "./buffer.ts";
import {
  type CommandCallback,
  CommandQueue,
  type QueueOwner,
  SUBMIT_NO_TIMEOUT,
  SUBMIT_RAW_PRP,
  type SubmitOptions,
} from "./cmdqueue.ts";
import { type Completion, CPL_GONE } from "./completion.ts";
import type { CmdlogEntry } from "./cmdlog.ts";
import { defaultDut } from "./dut.ts";
import { ClosedError, NvmeError } from "./errors.ts";
import { lib, unwrap } from "./lib.ts";
import { Pcie } from "./pcie.ts";
import { sleepSync } from "./sleep.ts";
import { commandName } from "./status.ts";
import { checkInt, checkU64 } from "./validate.ts";
import { ParameterError } from "./errors.ts";
import { stopIoworkers } from "./ioworker.ts";
import {
  decodeAsyncEvent,
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
import type { FieldType } from "./buffer.ts";

/**
 * A user-supplied initialization: runs instead of the default bring-up.
 *
 * ```ts
 * const init: InitFunction = (nvme) => {
 *   nvme.disable(); // CC.EN = 0, wait CSTS.RDY = 0
 *   nvme.initAdminq();
 *   nvme.setReg32(Reg.CC, 0x00460001);
 *   nvme.waitReady(true);
 *   nvme.identifyController();
 *   nvme.initNs();
 * };
 * using nvme0 = new Controller("qemu", init);
 * ```
 */
export type InitFunction = (nvme: Controller) => void;

/**
 * Controller register offsets (NVMe base spec, "Controller Registers").
 *
 * ```ts
 * const csts = nvme0.reg32(Reg.CSTS);
 * console.log(`ready: ${csts & 1}`);
 * ```
 */
export const Reg = {
  CAP: 0x00,
  VS: 0x08,
  INTMS: 0x0c,
  INTMC: 0x10,
  CC: 0x14,
  CSTS: 0x1c,
  NSSR: 0x20,
  AQA: 0x24,
  ASQ: 0x28,
  ACQ: 0x30,
} as const;

/**
 * Options of admin commands that take a callback.
 *
 * ```ts
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
 * nvme0.setfeatures(0x04, { cdw11: 350, sv: 0 } satisfies FeatureOptions).waitdone();
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
  /** Namespace (default: 0xFFFFFFFF for set, 1 for get as in pynvme... here 0). */
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

const ADMIN_DEPTH = 256;
const opened = new Set<Controller>();

/**
 * An NVMe controller (pynvme `Controller`). Bring-up follows pynvme's default
 * init (disable, admin queue, CC=0x00460001, identify, number of queues, one
 * AER) unless an init function is given.
 *
 * ```ts
 * using nvme0 = new Controller("qemu");      // or new Controller(new Pcie(...))
 * console.log(nvme0.idData(63, 24, "str"));  // model number
 * const cdw0 = nvme0.getfeatures(7).waitdone();
 * ```
 */
export class Controller implements QueueOwner {
  /** The PCIe function. */
  readonly pcie: Pcie;
  #h = 0;
  #admin?: CommandQueue;
  #timeout = 10_000;
  #flushScheduled = false;
  #ownsPcie: boolean;
  #children = new Set<{ controllerReset(): void }>();
  #idctrl?: Uint8Array;
  #queues = { nsqa: 0, ncqa: 0 };
  #aerCb?: CommandCallback;
  #initFn?: InitFunction | false;
  #aerEvents: Completion[] = [];
  #effects?: EffectsLog;

  /**
   * Open a controller.
   * @param pcie a Pcie, or a device name (default `--dut`/`NVME_DUT`/"qemu"),
   *   opened here and closed with the controller
   * @param init `undefined`: pynvme's default init; a function: user init;
   *   `false`: no init at all
   */
  constructor(pcie: Pcie | string = defaultDut(), init?: InitFunction | false) {
    this.#ownsPcie = typeof pcie === "string";
    this.pcie = typeof pcie === "string" ? new Pcie(pcie) : pcie;
    try {
      const h = new Uint32Array(1);
      unwrap(lib.nvme_ctrl_open(this.pcie.handle, h), "Controller");
      this.#h = h[0];
      this.pcie.controller = this;
      opened.add(this);
      this.#initFn = init;
      this.#runInit();
    } catch (e) {
      this.close();
      throw e;
    }
  }

  #runInit(): void {
    if (this.#initFn === false) return;
    if (this.#initFn) this.#initFn(this);
    else Controller.defaultInit(this);
  }

  /**
   * pynvme's default initialization: CC.EN=0, wait RDY=0, admin queue,
   * CC=0x00460001, wait RDY=1, identify, namespaces, Set Features 07h, one AER.
   *
   * ```ts
   * // a user init that does the default one, then more
   * using nvme0 = new Controller("qemu", (nvme) => {
   *   Controller.defaultInit(nvme);
   *   nvme.setfeatures(0x08, { cdw11: 0x0a01 }).waitdone(); // interrupt coalescing
   * });
   * ```
   */
  static defaultInit(nvme: Controller): void {
    nvme.disable();
    nvme.initAdminq();
    // CC.CSS = 110b (all I/O command sets) when the embedded device has zoned namespaces
    const zoned = nvme.pcie.dut.kind === "qemu" && nvme.pcie.dut.options.zoned;
    nvme.setReg32(Reg.CC, zoned ? 0x00460061 : 0x00460001);
    nvme.waitReady(true);
    nvme.identifyController();
    nvme.initNs();
    const cdw0 = nvme.setfeatures(7, { cdw11: 0xfffefffe }).waitdone();
    nvme.initQueues(cdw0);
    nvme.aer();
  }

  /** @internal */
  get ctrlHandle(): number {
    if (!this.#h) throw new ClosedError("Controller");
    return this.#h;
  }
  /** True after close(). */
  get closed(): boolean {
    return this.#h === 0;
  }
  /**
   * Command timeout in ms (default 10 000; 0: never).
   *
   * ```ts
   * nvme0.timeout = 600_000; // a format of a big drive may take minutes
   * ```
   */
  get timeout(): number {
    return this.#timeout;
  }
  set timeout(ms: number) {
    checkInt("timeout (ms)", ms, 0, 3_600_000);
    unwrap(lib.nvme_ctrl_set_timeout(this.ctrlHandle, ms));
    this.#timeout = ms;
  }

  /** @internal */
  scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      if (this.#h) lib.nvme_ctrl_flush_doorbells(this.#h);
    });
  }

  // --- registers ---------------------------------------------------------

  /**
   * Read a 32-bit controller register (pynvme `nvme0[off]`).
   *
   * ```ts
   * const ready = nvme0.reg32(Reg.CSTS) & 1;
   * ```
   */
  reg32(offset: number): number {
    checkInt("register offset", offset, 0, 0xfffc);
    const v = new Uint32Array(1);
    unwrap(lib.nvme_ctrl_reg_read32(this.ctrlHandle, offset, v));
    return v[0];
  }
  /**
   * Write a 32-bit controller register (pynvme `nvme0[off] = v`).
   *
   * ```ts
   * nvme0.setReg32(Reg.INTMS, 1); // mask interrupt vector 0
   * ```
   */
  setReg32(offset: number, value: number): void {
    checkInt("register offset", offset, 0, 0xfffc);
    checkInt("register value", value, 0, 0xffffffff);
    unwrap(lib.nvme_ctrl_reg_write32(this.ctrlHandle, offset, value));
  }
  /**
   * Read a 64-bit controller register.
   *
   * ```ts
   * const asq = nvme0.reg64(Reg.ASQ); // admin SQ base address
   * ```
   */
  reg64(offset: number): bigint {
    checkInt("register offset", offset, 0, 0xfff8);
    const v = new BigUint64Array(1);
    unwrap(lib.nvme_ctrl_reg_read64(this.ctrlHandle, offset, v));
    return v[0];
  }
  /**
   * Write a 64-bit controller register.
   *
   * ```ts
   * nvme0.disable();
   * nvme0.setReg64(Reg.ACQ, acqBuffer.iova); // with the controller disabled
   * ```
   */
  setReg64(offset: number, value: bigint | number): void {
    checkInt("register offset", offset, 0, 0xfff8);
    unwrap(
      lib.nvme_ctrl_reg_write64(
        this.ctrlHandle,
        offset,
        checkU64("value", value),
      ),
    );
  }
  /** Controller Capabilities. */
  get cap(): bigint {
    return this.reg64(Reg.CAP);
  }
  /** Maximum Queue Entries Supported (entries, i.e. CAP.MQES + 1). */
  get mqes(): number {
    return Number(this.cap & 0xffffn) + 1;
  }
  /** Maximum data transfer size in bytes (MPSMIN page << MDTS, 1 MiB cap as pynvme when 0). */
  get mdts(): number {
    const id = this.identifyData;
    const page = 4096 * 2 ** Number((this.cap >> 48n) & 0xfn);
    return id[77] ? Math.min(page * 2 ** id[77], 2 ** 31) : 1 << 20;
  }

  /**
   * Clear CC.EN and wait for CSTS.RDY = 0.
   *
   * ```ts
   * nvme0.disable();
   * nvme0.reset(); // bring it back with the default (or the given) init
   * ```
   */
  disable(): void {
    stopIoworkers(this, "a controller disable (CC.EN = 0)");
    const cc = this.reg32(Reg.CC);
    this.setReg32(Reg.CC, cc & ~1 >>> 0);
    this.waitReady(false);
    // the device dropped every queue; the driver's objects follow
    for (const c of [...this.#children]) c.controllerReset();
  }

  /**
   * Wait for CSTS.RDY to become `ready` within CAP.TO.
   *
   * ```ts
   * nvme0.setReg32(Reg.CC, 0x00460001);
   * nvme0.waitReady(true);
   * ```
   */
  waitReady(ready: boolean): void {
    const to = Number((this.cap >> 24n) & 0xffn) * 500 || 500;
    const end = Date.now() + to;
    for (;;) {
      const csts = this.reg32(Reg.CSTS);
      if (csts === 0xffffffff) {
        throw new NvmeError("CSTS reads all ones: device not responding");
      }
      if (ready && csts & 2) {
        throw new NvmeError(
          `controller fatal status (CSTS.CFS) while enabling: CSTS=0x${
            csts.toString(16)
          }`,
        );
      }
      if (((csts & 1) === 1) === ready) return;
      if (Date.now() > end) {
        throw new NvmeError(
          `CSTS.RDY did not become ${
            ready ? 1 : 0
          } within CAP.TO (${to} ms): CSTS=0x${csts.toString(16)}`,
        );
      }
      sleepSync(1);
    }
  }

  /**
   * Create the admin queue pair (depth entries each) and program AQA/ASQ/ACQ.
   * The controller must be disabled.
   *
   * ```ts
   * using nvme0 = new Controller("qemu", (nvme) => {
   *   nvme.disable();
   *   nvme.initAdminq(8); // a small admin queue
   *   nvme.setReg32(Reg.CC, 0x00460001);
   *   nvme.waitReady(true);
   * });
   * ```
   */
  initAdminq(depth = ADMIN_DEPTH): void {
    checkInt("admin queue depth", depth, 2, 4096);
    this.#admin?.close();
    this.#admin = undefined;
    const cq = new Uint32Array(1), sq = new Uint32Array(1);
    const cqIova = new BigUint64Array(1), sqIova = new BigUint64Array(1);
    unwrap(
      lib.nvme_cq_create(this.ctrlHandle, 0, depth, 0, 1, cq, cqIova),
      "admin CQ",
    );
    const rc = lib.nvme_sq_create(this.ctrlHandle, 0, depth, cq[0], sq, sqIova);
    if (rc < 0) {
      lib.nvme_cq_delete(cq[0]);
      unwrap(rc, "admin SQ");
    }
    // as pynvme: admin completions are reaped only after the admin vector fired
    unwrap(lib.nvme_cq_irq_gate(cq[0], 1));
    this.#admin = new CommandQueue(this, 0, depth, sq[0], cq[0], "admin queue");
    this.setReg32(Reg.AQA, ((depth - 1) << 16) | (depth - 1));
    this.setReg64(Reg.ASQ, sqIova[0]);
    this.setReg64(Reg.ACQ, cqIova[0]);
  }

  /**
   * Read Identify Controller data into the cache (done by the default init).
   *
   * ```ts
   * nvme.identifyController(); // in a user init, before nvme.idCtrl is used
   * ```
   */
  identifyController(): void {
    using buf = new Buffer(4096, "identify controller");
    this.exec(0x06, { buf, len: 4096, cdw10: 1 });
    this.#idctrl = buf.slice(0, 4096);
  }

  /**
   * Check the namespaces (default init step): NN must be non-zero.
   *
   * ```ts
   * nvme.identifyController();
   * nvme.initNs(); // in a user init
   * ```
   */
  initNs(): void {
    const nn = this.identifyData.subarray(516, 520);
    if (new DataView(nn.buffer, nn.byteOffset, 4).getUint32(0, true) === 0) {
      throw new NvmeError("Identify Controller reports NN = 0: no namespaces");
    }
  }

  /**
   * Record the queue counts granted by Set Features 07h (its CDW0).
   *
   * ```ts
   * nvme.initQueues(nvme.setfeatures(0x07, { cdw11: 0x00070007 }).waitdone()); // 8 + 8 queues
   * ```
   */
  initQueues(cdw0: number): void {
    this.#queues = { nsqa: (cdw0 & 0xffff) + 1, ncqa: (cdw0 >>> 16) + 1 };
  }

  /** I/O submission/completion queues granted (from initQueues). */
  get queueCounts(): { nsqa: number; ncqa: number } {
    return { ...this.#queues };
  }

  /** Identify Controller data (cached at init; read now if not). */
  get identifyData(): Uint8Array {
    if (!this.#idctrl) this.identifyController();
    return this.#idctrl!;
  }
  /** Model number (Identify bytes 24..63). */
  get modelNumber(): string {
    return field(this.identifyData, 63, 24);
  }
  /** Serial number (Identify bytes 4..23). */
  get serialNumber(): string {
    return field(this.identifyData, 23, 4);
  }
  /** Firmware revision (Identify bytes 64..71). */
  get firmwareRevision(): string {
    return field(this.identifyData, 71, 64);
  }

  /**
   * A field of Identify data, spec style (pynvme `id_data`): bytes begin..end
   * inclusive. Issues an Identify command and waits for it.
   *
   * ```ts
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

  // --- admin queue ------------------------------------------------------------

  #q(): CommandQueue {
    this.ctrlHandle;
    if (!this.#admin) {
      throw new NvmeError(
        "the admin queue is not set up: call initAdminq() in the init function",
      );
    }
    return this.#admin;
  }
  /** @internal the admin queue */
  get adminQueue(): CommandQueue {
    return this.#q();
  }

  /**
   * The last `count` admin commands (0: all kept, up to 2048), newest first,
   * decoded (pynvme `nvme0.cmdlog`).
   *
   * ```ts
   * const [latest] = nvme0.cmdlog(1);
   * console.log(latest.name, latest.status, latest.latencyUs);
   * ```
   */
  cmdlog(count = 0): CmdlogEntry[] {
    return this.#q().log.entries(checkInt("count", count, 0, 1 << 20));
  }
  /**
   * {@link Controller.cmdlog} as text, one command per line, newest first.
   *
   * ```ts
   * console.log(nvme0.cmdlogText(10));
   * ```
   */
  cmdlogText(count = 0): string {
    return this.#q().log.text(checkInt("count", count, 0, 1 << 20));
  }

  /**
   * Wait for `expected` admin completions; returns CDW0 of the latest.
   *
   * ```ts
   * nvme0.getfeatures(0x07);
   * nvme0.getfeatures(0x04);
   * const kelvin = nvme0.waitdone(2); // CDW0 of the second: the threshold
   * ```
   */
  waitdone(expected = 1): number {
    return this.#q().waitdone(expected);
  }
  /**
   * {@link Controller.waitdone} without blocking the event loop.
   *
   * ```ts
   * const queues = await nvme0.getfeatures(0x07).waitdoneAsync(); // timers and workers keep running
   * ```
   */
  async waitdoneAsync(expected = 1): Promise<number> {
    // async: a closed controller rejects the promise instead of throwing at the call
    return await this.#q().waitdoneAsync(expected);
  }

  /** Submit an admin command built from raw fields; returns `this`. */
  #admin_(opcode: number, f: RawCommand, flags = 0, aer = false): this {
    const { sqe, o } = this.#build(opcode, f, flags);
    this.#q().submit(sqe, { ...o, aer });
    return this;
  }

  /**
   * @internal Run one admin command to completion and return it (other
   * completions are processed as usual); a non-zero status throws.
   */
  exec(opcode: number, f: RawCommand = {}): Completion {
    const { sqe, o } = this.#build(opcode, f, 0);
    return this.#q().execSync(sqe, o);
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
        len: f.buf ? (f.len ?? f.buf.size) : 0,
        cb: f.cb,
        flags,
      },
    };
  }

  /**
   * Identify (06h) into `buf` (4 KiB).
   *
   * ```ts
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
    return this.#admin_(0x06, {
      buf,
      len: 4096,
      nsid,
      cdw10: (cntid << 16 | cns) >>> 0,
      cdw11: csi << 24 >>> 0,
      cb: opts.cb,
    });
  }

  /**
   * Get Features (0Ah): `fid`, select, buffer, cdw11..15.
   *
   * ```ts
   * const nq = nvme0.getfeatures(0x07).waitdone(); // Number of Queues: NSQA | NCQA << 16
   * const saved = nvme0.getfeatures(0x04, { sel: 2 }).waitdone(); // saved temperature threshold
   * ```
   */
  getfeatures(fid: number, o: FeatureOptions = {}): this {
    checkInt("fid", fid, 0, 0xff);
    const sel = checkInt("sel", o.sel ?? 0, 0, 7);
    return this.#admin_(0x0a, {
      ...o,
      nsid: o.nsid ?? 0,
      cdw10: (sel << 8) | fid,
    });
  }

  /**
   * Set Features (09h): `fid`, save, buffer, cdw11..15.
   *
   * ```ts
   * nvme0.setfeatures(0x06, { cdw11: 1 }).waitdone(); // volatile write cache on
   * ```
   */
  setfeatures(fid: number, o: FeatureOptions = {}): this {
    checkInt("fid", fid, 0, 0xff);
    return this.#admin_(0x09, {
      ...o,
      nsid: o.nsid ?? 0,
      cdw10: ((o.sv ? 1 << 31 : 0) | fid) >>> 0,
    });
  }

  /**
   * Get Log Page (02h): `size` bytes (dword multiple, default the buffer's size)
   * from byte `offset`, split into NUMDL/NUMDU and LPOL/LPOU.
   *
   * ```ts
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
    return this.#admin_(0x02, {
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
   * Asynchronous Event Request (0Ch). It stays outstanding (never times out,
   * not counted by waitdone); when it completes the event is logged, `cb` runs
   * and a new AER is sent with the same callback.
   *
   * ```ts
   * nvme0.aer((cpl) => console.log(decodeAsyncEvent(cpl.cdw0).infoName));
   * ```
   */
  aer(cb?: CommandCallback): this {
    if (cb) this.#aerCb = cb;
    return this.#admin_(
      0x0c,
      { cb: cb ?? this.#aerCb },
      SUBMIT_NO_TIMEOUT,
      true,
    );
  }

  /** @internal AER completion from the admin queue. */
  onAer(cpl: Completion, p: { cb?: CommandCallback }): void {
    if (cpl.ok) {
      this.#aerEvents.push(cpl);
      if (p.cb) p.cb(cpl);
      else {
        const e = decodeAsyncEvent(cpl.cdw0);
        console.warn(
          `AER notification is triggered: 0x${
            cpl.cdw0.toString(16).padStart(8, "0")
          } (${e.typeName}: ${e.infoName}, log page 0x${
            e.logPage.toString(16)
          })`,
        );
      }
      if (this.#h && this.#admin && !this.#admin.closed) this.aer();
    } else if (!(cpl.sct === 0 && cpl.sc === 0x08) && !(cpl.flags & CPL_GONE)) {
      p.cb?.(cpl); // the status itself is reported by the next waitdone
    }
  }
  /**
   * AER completions received so far (oldest first); cleared by reading.
   *
   * ```ts
   * for (const cpl of nvme0.takeAerEvents()) console.log(decodeAsyncEvent(cpl.cdw0).typeName);
   * ```
   */
  takeAerEvents(): Completion[] {
    const e = this.#aerEvents;
    this.#aerEvents = [];
    return e;
  }

  /**
   * Abort (08h) command `cid` on `sqid`.
   *
   * ```ts
   * nvme0n1.read(qpair, buf, 0, 8);
   * const cdw0 = nvme0.abort(qpair.latestCid, qpair.sqid).waitdone(); // bit 0: 1 = not aborted
   * qpair.waitdone();
   * ```
   */
  abort(cid: number, sqid = 0, cb?: CommandCallback): this {
    checkInt("cid", cid, 0, 0xffff);
    checkInt("sqid", sqid, 0, 0xffff);
    return this.#admin_(0x08, { cdw10: (cid << 16 | sqid) >>> 0, cb });
  }

  /**
   * Format NVM (80h) of namespace `nsid` (0xFFFFFFFF: all) to LBA format
   * `lbaf` with Secure Erase Settings `ses` (0 none, 1 user data, 2 crypto).
   *
   * ```ts
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
    return this.#admin_(0x80, {
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
    return this.#admin_(0x84, {
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
   * nvme0.dst(1).waitdone(); // short self-test of every namespace; results in log page 06h
   * ```
   */
  dst(stc = 1, nsid = 0xffffffff, cb?: CommandCallback): this {
    checkInt("stc", stc, 0, 0xf);
    checkInt("nsid", nsid, 0, 0xffffffff);
    return this.#admin_(0x14, { nsid, cdw10: stc, cb });
  }

  /**
   * Firmware Image Download (11h): `size` bytes of `buf` (default its size,
   * a dword multiple) at byte `offset` of the image.
   *
   * ```ts
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
    return this.#admin_(0x11, {
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
   * nvme0.fwCommit(2, 1).waitdone(); // the downloaded image into slot 2, active after a reset
   * nvme0.reset();
   * ```
   */
  fwCommit(slot: number, action: number, cb?: CommandCallback): this {
    checkInt("slot", slot, 0, 7);
    checkInt("action", action, 0, 7);
    return this.#admin_(0x10, { cdw10: slot | action << 3, cb });
  }

  /**
   * Download a firmware file and commit it (pynvme `downfw`): chunks of the
   * firmware update granularity (4 KiB when not given, at most MDTS), then
   * Firmware Commit. Synchronous; returns CDW0 of the commit.
   *
   * ```ts
   * nvme0.downfw("fw_v2.bin", 2, 1); // or: deno task nvme fw-download fw_v2.bin --slot 2
   * nvme0.reset();
   * ```
   */
  downfw(path: string, slot = 0, action = 1): number {
    checkInt("slot", slot, 0, 7);
    checkInt("action", action, 0, 7);
    const image = Deno.readFileSync(path);
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
    return this.#admin_(opc, {
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
    return this.#admin_(opc, {
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
    return this.#admin_(0x15, {
      buf,
      len: 4096,
      nsid,
      cdw10: detach ? 1 : 0,
      cb: (cpl) => {
        buf.close();
        cb?.(cpl);
      },
    });
  }

  /** Identify Controller, decoded (from the data cached at init). */
  get idCtrl(): IdentifyController {
    return decodeIdentifyController(this.identifyData);
  }

  /**
   * Read log page `lid` (synchronously) into a new byte array of `size` bytes.
   *
   * ```ts
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
   * if (!nvme0.supports(0x84)) console.log("no Sanitize");
   * if (nvme0.supports(0x19, true)) console.log("Copy is supported");
   * ```
   */
  supports(opcode: number, io = false): boolean {
    checkInt("opcode", opcode, 0, 0xff);
    const log = this.effectsLog();
    return (io ? log.io : log.admin)[opcode].csupp;
  }

  /**
   * Any admin command (pynvme `send_cmd`): `opcode` is the whole low word of
   * CDW0 (so FUSE and PSDT bits can be set); the CID is the driver's.
   *
   * ```ts
   * using buf = new Buffer(4096);
   * nvme0.sendCmd(0xc0, { buf, cdw10: 1, cdw12: 0x1000 }).waitdone(); // a vendor command
   * ```
   */
  sendCmd(opcode: number, f: RawCommand = {}): this {
    checkInt("opcode", opcode, 0, 0xffff);
    if (f.nsid !== undefined) checkInt("nsid", f.nsid, 0, 0xffffffff);
    return this.#admin_(opcode, f);
  }

  /**
   * Admin command name of `opcode`.
   *
   * ```ts
   * nvme0.cmdname(0x06); // "Identify"
   * ```
   */
  cmdname(opcode: number): string {
    return commandName(checkInt("opcode", opcode, 0, 0xff), true);
  }

  // --- life cycle ---------------------------------------------------------------------

  /** @internal Qpairs and namespaces register for resets. */
  adopt(child: { controllerReset(): void }): void {
    this.#children.add(child);
  }
  /** @internal */
  release(child: { controllerReset(): void }): void {
    this.#children.delete(child);
  }

  /**
   * Controller reset (pynvme `reset()`): outstanding commands complete with a
   * "lost" status, every Qpair is closed (create new ones), and the init runs
   * again (CC.EN 1→0→1).
   *
   * ```ts
   * nvme0.reset();
   * using qpair = new Qpair(nvme0, 16); // queues of before are closed
   * ```
   */
  reset(): void {
    this.ctrlHandle;
    stopIoworkers(this, "a controller reset");
    this.#admin?.close();
    this.#admin = undefined;
    this.disable();
    this.#runInit();
  }

  /**
   * Free the controller (and its device if it opened it). Idempotent.
   *
   * ```ts
   * const nvme0 = new Controller("qemu");
   * try {
   *   nvme0.getfeatures(7).waitdone();
   * } finally {
   *   nvme0.close(); // or `using nvme0 = ...`
   * }
   * ```
   */
  close(): void {
    if (this.#h) {
      stopIoworkers(this, "closing the controller");
      for (const c of [...this.#children]) c.controllerReset();
      this.#children.clear();
      this.#admin?.close();
      this.#admin = undefined;
      lib.nvme_ctrl_close(this.#h);
      this.#h = 0;
      opened.delete(this);
      this.pcie.controller = undefined;
    }
    if (this.#ownsPcie && !this.pcie.closed) this.pcie.close();
  }
  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function field(id: Uint8Array, end: number, begin: number): string {
  return new TextDecoder("latin1").decode(id.subarray(begin, end + 1)).replace(
    /[\s\0]+$/,
    "",
  );
}

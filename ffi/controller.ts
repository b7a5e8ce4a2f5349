/**
 * The NVMe controller: life cycle (open, bring-up, reset, close), registers,
 * the admin queue and its asynchronous events. The admin command builders are
 * in admin_commands.ts, decoded identify data and log pages in admin_logs.ts.
 *
 * @module
 */
import { CONTROLLER } from "./api_table.ts";
import { AdminLogs } from "./admin_logs.ts";
import { Buffer } from "./buffer.ts";
import {
  type CommandCallback,
  CommandQueue,
  type QueueOwner,
  SUBMIT_NO_TIMEOUT,
} from "./cmdqueue.ts";
import { type Completion, CPL_GONE } from "./completion.ts";
import { callCallback } from "./callback.ts";
import type { CmdlogEntry } from "./cmdlog.ts";
import { defaultDut } from "./dut.ts";
import { ClosedError, NvmeError } from "./errors.ts";
import { lib, unwrap } from "./lib.ts";
import { Pcie } from "./pcie.ts";
import { sleepSync } from "./sleep.ts";
import {
  checkConstructor,
  checkInt,
  checkU64,
  guardClass,
} from "./validate.ts";
import { stopIoworkers } from "./ioworker.ts";
import { decodeAsyncEvent } from "./structs.ts";
import {
  consoleController,
  consoleControllers,
  consoleNote,
  maybeStartConsole,
} from "../console/registry.ts";

export type {
  AdminOptions,
  FeatureOptions,
  RawCommand,
} from "./admin_commands.ts";
export { AdminCommands } from "./admin_commands.ts";
export { AdminLogs } from "./admin_logs.ts";

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
 * declare const nvme0: Controller;
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
export class Controller extends AdminLogs implements QueueOwner {
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

  /**
   * Open a controller.
   * @param pcie a Pcie, or a device name (default `--dut`/`NVME_DUT`/"qemu"),
   *   opened here and closed with the controller
   * @param init `undefined`: pynvme's default init; a function: user init;
   *   `false`: no init at all
   */
  constructor(pcie: Pcie | string = defaultDut(), init?: InitFunction | false) {
    checkConstructor("Controller", CONTROLLER, [pcie, init]);
    super();
    this.#ownsPcie = typeof pcie === "string";
    this.pcie = typeof pcie === "string" ? new Pcie(pcie) : pcie;
    const live = maybeStartConsole();
    try {
      const h = new Uint32Array(1);
      unwrap(lib.nvme_ctrl_open(this.pcie.handle, h), "Controller");
      this.#h = h[0];
      this.pcie.controller = this;
      opened.add(this);
      this.#initFn = init;
      this.#runInit();
      if (live) consoleController(this, this.#h, this.#idctrl);
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

  /** @ignore @internal why the device is gone, when its transport knows (NVMe/TCP) */
  goneReason(): string {
    return this.pcie.closed ? "" : this.pcie.goneReason;
  }

  /** @ignore @internal */
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
   * declare const nvme0: Controller;
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

  /** @ignore @internal */
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
   * declare const nvme0: Controller;
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
   * declare const nvme0: Controller;
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
   * declare const nvme0: Controller;
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
   * import { Buffer } from "../mod.ts";
   * declare const nvme0: Controller;
   * declare const acqBuffer: Buffer;
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
   * declare const nvme0: Controller;
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
   * declare const nvme0: Controller;
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
    const cc = this.reg32(Reg.CC);
    if (cc & 1) {
      // the controller keeps using the old queue: the next command would time out
      throw new NvmeError(
        `initAdminq: the controller is enabled (CC = 0x${
          cc.toString(16)
        }, EN = 1): the admin queue can only be set up while it is disabled; call disable() first`,
      );
    }
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
   * declare const nvme: Controller;
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
   * declare const nvme: Controller;
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
   * declare const nvme: Controller;
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
  /** @ignore @internal the admin queue */
  get adminQueue(): CommandQueue {
    return this.#q();
  }

  /**
   * The last `count` admin commands (0: all kept, up to 2048), newest first,
   * decoded (pynvme `nvme0.cmdlog`).
   *
   * ```ts
   * declare const nvme0: Controller;
   * const [latest] = nvme0.cmdlog(1);
   * console.log(latest.name, latest.status, latest.latencyUs);
   * ```
   */
  cmdlog(count = 0): CmdlogEntry[] {
    return this.#q().log.entries(checkInt("count", count, 0, 1 << 20));
  }
  /**
   * CID of the latest admin command submitted (pynvme `nvme0.latest_cid`),
   * e.g. to abort the AER just sent.
   *
   * ```ts
   * declare const nvme0: Controller;
   * nvme0.aer();
   * nvme0.abort(nvme0.latestSubmittedCid).waitdone(); // the AER completes 00/07
   * ```
   */
  get latestSubmittedCid(): number {
    return this.#q().log.entries(1)[0]?.cid ?? 0;
  }
  /**
   * CID of the latest admin completion (as `qpair.latestCid`).
   *
   * ```ts
   * declare const nvme0: Controller;
   * nvme0.getfeatures(7).waitdone();
   * console.log(nvme0.latestCid);
   * ```
   */
  get latestCid(): number {
    return this.#q().latest?.cid ?? 0;
  }
  /**
   * Latency in µs of the latest admin completion (pynvme `nvme0.latest_latency`).
   *
   * ```ts
   * declare const nvme0: Controller;
   * nvme0.setfeatures(0x02, { cdw11: 1 }).waitdone(); // power state 1
   * console.log(`${nvme0.latestLatency} µs`);
   * ```
   */
  get latestLatency(): number {
    return this.#q().latest?.latencyUs ?? 0;
  }

  /**
   * {@link Controller.cmdlog} as text, one command per line, newest first.
   *
   * ```ts
   * declare const nvme0: Controller;
   * console.log(nvme0.cmdlogText(10));
   * ```
   */
  cmdlogText(count = 0): string {
    return this.#q().log.text(checkInt("count", count, 0, 1 << 20));
  }

  /**
   * Wait for `expected` admin completions; returns CDW0 of the latest.
   * Completions reaped while a submission waited for room in the full admin
   * queue count too (the rule of Qpair.waitdone).
   *
   * ```ts
   * declare const nvme0: Controller;
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
   * declare const nvme0: Controller;
   * const queues = await nvme0.getfeatures(0x07).waitdoneAsync(); // timers and workers keep running
   * ```
   */
  async waitdoneAsync(expected = 1): Promise<number> {
    // async: a closed controller rejects the promise instead of throwing at the call
    return await this.#q().waitdoneAsync(expected);
  }

  /**
   * Asynchronous Event Request (0Ch). It stays outstanding (never times out,
   * not counted by waitdone); when it completes the event is logged, `cb` runs
   * and a new AER is sent with the same callback.
   *
   * ```ts
   * import { decodeAsyncEvent } from "../mod.ts";
   * declare const nvme0: Controller;
   * nvme0.aer((cpl) => console.log(decodeAsyncEvent(cpl.cdw0).infoName));
   * ```
   */
  aer(cb?: CommandCallback): this {
    if (cb) this.#aerCb = cb;
    return this.submitAdmin(
      0x0c,
      { cb: cb ?? this.#aerCb },
      SUBMIT_NO_TIMEOUT,
      true,
    );
  }

  /** @ignore @internal AER completion from the admin queue. */
  onAer(cpl: Completion, p: { cb?: CommandCallback }): void {
    if (cpl.ok) {
      this.#aerEvents.push(cpl);
      consoleNote({ kind: "aer", ctrl: this.#h, cdw0: cpl.cdw0 });
      if (p.cb) callCallback(p.cb, cpl);
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
      if (p.cb) callCallback(p.cb, cpl); // the status itself is reported by the next waitdone
    }
  }
  /**
   * Successful AER completions received so far (oldest first); cleared by
   * reading. A failed AER completion (e.g. 01/05 Asynchronous Event Request
   * Limit Exceeded) is not an event: it is reported by the next admin
   * waitdone as a StatusError (and to the AER's callback); AERs aborted by a
   * reset or a closing controller are not reported.
   *
   * ```ts
   * import { decodeAsyncEvent } from "../mod.ts";
   * declare const nvme0: Controller;
   * for (const cpl of nvme0.takeAerEvents()) console.log(decodeAsyncEvent(cpl.cdw0).typeName);
   * ```
   */
  takeAerEvents(): Completion[] {
    const e = this.#aerEvents;
    this.#aerEvents = [];
    return e;
  }

  // --- life cycle ---------------------------------------------------------------------

  /** @ignore @internal Qpairs and namespaces register for resets. */
  adopt(child: { controllerReset(): void }): void {
    this.#children.add(child);
  }
  /** @ignore @internal */
  release(child: { controllerReset(): void }): void {
    this.#children.delete(child);
  }

  /**
   * Controller reset (pynvme `reset()`): outstanding commands complete with a
   * "lost" status, every Qpair is closed (create new ones), and the init runs
   * again (CC.EN 1→0→1).
   *
   * ```ts
   * import { Qpair } from "../mod.ts";
   * declare const nvme0: Controller;
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
      consoleNote({ kind: "controller-gone", ctrl: this.#h });
      consoleControllers.delete(this.#h);
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

guardClass(Controller, CONTROLLER);

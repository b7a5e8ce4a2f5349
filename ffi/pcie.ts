/**
 * The PCIe function of the device under test: opening it (starting the
 * embedded device), config space, interrupt vectors, transport control.
 *
 * @module
 */
import { ClosedError, NvmeError, ParameterError } from "./errors.ts";
import { cstr, lib, mapMemory, unwrap } from "./lib.ts";
import { defaultDut, type Dut, parseDut, qemuCommandLine } from "./dut.ts";
import { checkInt, checkOneOf } from "./validate.ts";

const open = new Set<Pcie>();

/**
 * A PCIe NVMe function (pynvme `Pcie`). `new Pcie("qemu")` starts an embedded
 * device; QEMU is stopped on `close()` and, whatever happens, when the process
 * ends (it is started so that it cannot outlive the driver).
 *
 * ```ts
 * using pcie = new Pcie("qemu:size=1G");
 * console.log(pcie.cfg(0, 4).toString(16)); // 00101b36: vendor/device id
 * ```
 */
export class Pcie {
  /** The parsed device name. */
  readonly dut: Dut;
  #h: number;
  #irq?: Uint32Array;
  /** @internal set while a Controller is open on it */
  controller?: { close(): void };

  /** Open the device named `name` (default: `--dut`, `NVME_DUT`, "qemu"). */
  constructor(name: string = defaultDut()) {
    this.dut = parseDut(name);
    if (this.dut.kind === "pci") {
      // a real device through VFIO (bound to vfio-pci by `deno task setup <bdf>`)
      const h = new Uint32Array(1);
      unwrap(
        lib.nvme_pcie_open_vfio(cstr(this.dut.bdf), h),
        `device "${name}"`,
      );
      this.#h = h[0];
      open.add(this);
      return;
    }
    const { args, images } = qemuCommandLine(this.dut.options);
    for (const img of images) checkImage(img);
    const h = new Uint32Array(1);
    unwrap(
      lib.nvme_pcie_open_qemu(
        cstr(args.join("\n")),
        cstr(images.join("\n")),
        h,
      ),
      `device "${name}"`,
    );
    this.#h = h[0];
    open.add(this);
  }

  /** @internal C handle. */
  get handle(): number {
    if (!this.#h) throw new ClosedError(`device "${this.dut.name}"`);
    return this.#h;
  }
  /** True after close(). */
  get closed(): boolean {
    return this.#h === 0;
  }

  #info(): bigint[] {
    const o = new BigUint64Array(6);
    unwrap(lib.nvme_pcie_info(this.handle, o, 6));
    return [...o];
  }
  /** Process id of the embedded device's QEMU (0 for real hardware). */
  get qemuPid(): number {
    return Number(this.#info()[0]);
  }
  /** MSI-X vectors the function offers. */
  get msixVectors(): number {
    return Number(this.#info()[2]);
  }
  /** False once the device is gone (QEMU exited). */
  get alive(): boolean {
    return this.#info()[5] === 1n;
  }

  /** Read `size` (1, 2 or 4) bytes of config space at `offset`. */
  cfg(offset: number, size: 1 | 2 | 4 = 1): number {
    checkInt("offset", offset, 0, 0xff);
    checkOneOf("size", size, [1, 2, 4] as const);
    const v = new Uint32Array(1);
    unwrap(lib.nvme_pcie_cfg_read(this.handle, offset, size, v));
    return v[0];
  }
  /** Write `size` (1, 2 or 4) bytes of config space at `offset`. */
  setCfg(offset: number, value: number, size: 1 | 2 | 4 = 1): void {
    checkInt("offset", offset, 0, 0xff);
    checkOneOf("size", size, [1, 2, 4] as const);
    checkInt(
      "value",
      value,
      0,
      size === 4 ? 0xffffffff : (1 << (size * 8)) - 1,
    );
    unwrap(lib.nvme_pcie_cfg_write(this.handle, offset, size, value));
  }
  /** Little-endian value of `byteCount` (1..4) config bytes at `offset` (pynvme `register`). */
  register(offset: number, byteCount = 4): number {
    checkInt("byteCount", byteCount, 1, 4);
    checkInt("offset", offset, 0, 0x100 - byteCount);
    let v = 0;
    for (let i = byteCount - 1; i >= 0; i--) {
      v = v * 256 + this.cfg(offset + i, 1);
    }
    return v;
  }
  /** Offset of standard capability `id` in config space, or undefined. */
  capOffset(id: number): number | undefined {
    checkInt("capability id", id, 0, 0xff);
    if (!(this.cfg(0x06, 2) & 0x10)) return undefined;
    let pos = this.cfg(0x34, 1);
    for (let n = 0; n < 48 && pos >= 0x40; n++) {
      const hdr = this.cfg(pos & 0xfc, 2);
      if ((hdr & 0xff) === id) return pos & 0xfc;
      pos = hdr >> 8;
    }
    return undefined;
  }

  /** @internal Words in DMA memory set by MSI-X vectors (vector i -> word i). */
  get irqWords(): Uint32Array {
    if (!this.#irq) {
      const addr = this.#info()[4];
      if (!addr) {
        throw new NvmeError("interrupts are not set up on this device");
      }
      this.#irq = new Uint32Array(mapMemory(addr, 4096));
    }
    this.handle;
    return this.#irq;
  }
  /** @internal Mask or unmask one MSI-X vector. */
  maskVector(vector: number, mask: boolean): void {
    unwrap(lib.nvme_pcie_irq_mask(this.handle, vector, mask ? 1 : 0));
  }

  /**
   * Send a QMP command to the embedded device's QEMU, e.g.
   * `qmp("qom-set", {path: "/machine/peripheral/nvme0", property: "smart_critical_warning", value: 1})`.
   * Returns the "return" member; throws on an "error" reply.
   */
  qmp(command: string, args?: Record<string, unknown>): unknown {
    if (this.dut.kind !== "qemu") {
      throw new ParameterError("qmp() needs the embedded device");
    }
    const out = new Uint8Array(65536);
    const req = JSON.stringify(
      args ? { execute: command, arguments: args } : {
        execute: command,
      },
    );
    unwrap(
      lib.nvme_pcie_control(this.handle, cstr(req), out, out.length),
      `qmp ${command}`,
    );
    const text = new TextDecoder().decode(out.subarray(0, out.indexOf(0)));
    const reply = JSON.parse(text);
    if (reply.error) {
      throw new NvmeError(`qmp ${command}: ${reply.error.desc ?? text}`);
    }
    return reply.return;
  }

  /** Reprogram BAR0 and the command register (after an FLR). */
  enable(): void {
    unwrap(lib.nvme_pcie_enable(this.handle));
  }

  /** Stop the device (closes the controller on it first). */
  close(): void {
    if (!this.#h) return;
    this.controller?.close();
    unwrap(lib.nvme_pcie_close(this.#h));
    this.#h = 0;
    this.#irq = undefined;
    open.delete(this);
  }
  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
  /** Every device open in this process. */
  static get open(): readonly Pcie[] {
    return [...open];
  }
}

function checkImage(spec: string): void {
  const bar = spec.lastIndexOf("|");
  const path = spec.slice(0, bar);
  const size = Number(spec.slice(bar + 1));
  if (!path) return;
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return; // created at start
    throw e;
  }
  if (!st.isFile) {
    throw new ParameterError(`image ${path} is not a regular file`);
  }
  if (st.size !== size) {
    throw new ParameterError(
      `image ${path} holds ${st.size} bytes but size=${size} was asked: give the same size or another image`,
    );
  }
}

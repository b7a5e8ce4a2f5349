/**
 * PCIe device control against the embedded device: config space access of
 * every width, the capability walks, FLR, D3hot/D0, ASPM, hot reset, INTx, and
 * two devices open at once sharing one DMA buffer. After every reset the
 * controller comes back with nvme0.reset(), the queue pairs of before are
 * closed with a clear message, and I/O works with the data kept.
 */
import assert from "node:assert/strict";
import {
  Buffer,
  ClosedError,
  Controller,
  DeviceGoneError,
  Namespace,
  NvmeError,
  ParameterError,
  Pcie,
  PTYPE_DWORD,
  Qpair,
  Reg,
} from "../mod.ts";
import { findExtCap } from "../ffi/pcie.ts";
import { cstr, lib, unwrap } from "../ffi/lib.ts";
import { drainThrottle, throwsWith } from "./_util.ts";

/** Offsets of QEMU's NVMe model (1b36:0010): MSI-X @0x40, PM @0x60, PCIe @0x80. */
const MSIX = 0x40, PM = 0x60, EXP = 0x80;

/** The qpair of before a reset is closed and says why. */
function assertClosedByReset(q: Qpair, ns: Namespace, buf: Buffer): void {
  assert.ok(q.closed);
  throwsWith(
    () => ns.read(q, buf, 0),
    ClosedError,
    new RegExp(
      `^Qpair ${q.sqid} \\(deleted by a controller reset\\) is closed$`,
    ),
  );
  throwsWith(() => q.waitdone(), ClosedError);
  q.delete(); // harmless afterwards
}

/** Write a pattern at `lba`, read it back through a new qpair. */
function roundTrip(
  nvme0: Controller,
  ns: Namespace,
  lba: number,
  pattern: number,
): void {
  using q = new Qpair(nvme0, 16);
  using w = new Buffer(4096, "w", pattern, PTYPE_DWORD);
  using r = new Buffer(4096, "r");
  ns.write(q, w, lba, 8).waitdone();
  ns.read(q, r, lba, 8).waitdone();
  assert.deepEqual(r.slice(), w.slice(), `round trip at lba ${lba}`);
}

Deno.test("config space: byte, word and dword accesses agree; extended space is reachable", () => {
  using pcie = new Pcie("qemu:size=64M");
  // identity 1b36:0010, class 01 08 02
  assert.equal(pcie.cfg(0, 4), 0x00101b36);
  assert.equal(pcie.cfg(0, 2), 0x1b36);
  assert.equal(pcie.cfg(2, 2), 0x0010);
  assert.deepEqual([0, 1, 2, 3].map((i) => pcie.cfg(i, 1)), [
    0x36,
    0x1b,
    0x10,
    0x00,
  ]);
  assert.equal(pcie.register(0, 4), 0x00101b36);
  assert.equal(pcie.register(9, 3), 0x010802);
  assert.equal(pcie.cfg(8, 4) >>> 8, 0x010802);
  // the driver enabled memory space and bus mastering; BAR0 is a 64-bit BAR at 0xC0000000
  assert.equal(pcie.cfg(0x04, 2) & 0x6, 0x6);
  assert.equal(pcie.cfg(0x10, 4), 0xc0000004);
  assert.equal(pcie.cfg(0x14, 4), 0);

  // writable registers read back through every width: Cache Line Size, Interrupt Line
  pcie.setCfg(0x0c, 0x10, 1);
  assert.equal(pcie.cfg(0x0c, 1), 0x10);
  assert.equal(pcie.cfg(0x0c, 4) & 0xff, 0x10);
  pcie.setCfg(0x3c, 0x0b0a, 2); // Interrupt Line writable, Interrupt Pin read-only
  assert.equal(pcie.cfg(0x3c, 1), 0x0a);
  assert.equal(pcie.cfg(0x3d, 1), 0x01, "Interrupt Pin INTA, read-only");
  pcie.setCfg(0x3c, 0x00000000, 4);
  assert.equal(pcie.cfg(0x3c, 1), 0);

  // extended config space (through MMCONFIG): there, and empty without SR-IOV
  assert.equal(pcie.cfg(0x100, 4), 0);
  assert.equal(pcie.cfg(0xffc, 4), 0);
  assert.equal(pcie.cfg(0x102, 2), 0);
  assert.equal(pcie.cfg(0x103, 1), 0);
  assert.equal(pcie.register(0xffc, 4), 0);
  pcie.setCfg(0x100, 0xffffffff, 4); // read-only zero: the write is dropped
  assert.equal(pcie.cfg(0x100, 4), 0);
  // standard space is unchanged by the MMCONFIG accesses
  assert.equal(pcie.cfg(0, 4), 0x00101b36);

  // bad parameters name themselves and the allowed range
  throwsWith(
    () => pcie.cfg(0x1000, 4),
    ParameterError,
    /config offset/,
    /4095/,
  );
  throwsWith(() => pcie.cfg(0x102, 4), ParameterError, /0x102/, /aligned/);
  throwsWith(() => pcie.cfg(1, 2), ParameterError, /0x1\b/, /aligned/);
  throwsWith(() => pcie.cfg(0, 3 as 1), ParameterError, /size/, /1, 2, 4/);
  throwsWith(() => pcie.setCfg(0x0c, 0x100, 1), ParameterError, /value/, /255/);
  throwsWith(() => pcie.register(0xffe, 4), ParameterError, /offset/, /4092/);
});

Deno.test("capability walk: standard and extended capabilities", () => {
  using pcie = new Pcie("qemu:size=64M");
  assert.equal(pcie.capOffset(0x11), MSIX, "MSI-X");
  assert.equal(pcie.capOffset(0x01), PM, "power management");
  assert.equal(pcie.capOffset(0x10), EXP, "PCI Express");
  assert.equal(pcie.capOffset(0x05), undefined, "no MSI capability");
  // the capability ids really are where the walk says
  assert.equal(pcie.cfg(MSIX, 1), 0x11);
  assert.equal(pcie.cfg(PM, 1), 0x01);
  assert.equal(pcie.cfg(EXP, 1), 0x10);
  // QEMU's model has extended capabilities only with SR-IOV
  for (const id of [0x0001, 0x0003, 0x000e, 0x0010, 0x0018]) {
    assert.equal(
      pcie.extCapOffset(id),
      undefined,
      `ext cap 0x${id.toString(16)}`,
    );
  }
  throwsWith(
    () => pcie.extCapOffset(0x10000),
    ParameterError,
    /extended capability id/,
  );
  throwsWith(() => pcie.capOffset(256), ParameterError, /capability id/);

  // the extended walk itself, over a synthetic config space:
  // AER @0x100 -> ARI @0x148 -> SR-IOV @0x160 (end)
  const space = new Map<number, number>([
    [0x100, 0x0001 | 1 << 16 | 0x148 << 20],
    [0x148, 0x000e | 1 << 16 | 0x160 << 20],
    [0x160, 0x0010 | 1 << 16 | 0 << 20],
  ]);
  const read = (off: number) => (space.get(off) ?? 0) >>> 0;
  assert.equal(findExtCap(read, 0x0001), 0x100);
  assert.equal(findExtCap(read, 0x000e), 0x148);
  assert.equal(findExtCap(read, 0x0010), 0x160);
  assert.equal(findExtCap(read, 0x0002), undefined);
  // a loop or a pointer below 0x100 ends the walk
  space.set(0x160, 0x0010 | 1 << 16 | 0x100 << 20);
  assert.equal(findExtCap(read, 0x0019), undefined);
  space.set(0x160, 0x0010 | 1 << 16 | 0x40 << 20);
  assert.equal(findExtCap(read, 0x0019), undefined);
  assert.equal(findExtCap(() => 0xffffffff, 1), undefined);
});

Deno.test("extended capabilities of an SR-IOV function: ARI and SR-IOV found through MMCONFIG", () => {
  // QEMU's model grows extended capabilities only with SR-IOV (no device
  // option for it: the function is opened with raw QEMU arguments)
  const args = [
    "-device",
    "nvme-subsys,id=ss,nqn=denvme-sriov",
    "-device",
    "nvme,id=nvme0,serial=SRIOV1,subsys=ss,addr=04.0,sriov_max_vfs=2," +
    "sriov_vq_flexible=4,sriov_vi_flexible=2,max_ioqpairs=8,msix_qsize=8",
  ];
  const h = new Uint32Array(1);
  unwrap(lib.nvme_pcie_open_qemu(cstr(args.join("\n")), cstr(""), h));
  try {
    const rd = (off: number) => {
      const v = new Uint32Array(1);
      unwrap(lib.nvme_pcie_cfg_read(h[0], off, 4, v));
      return v[0];
    };
    assert.equal(findExtCap(rd, 0x000e), 0x100, "ARI");
    assert.equal(findExtCap(rd, 0x0010), 0x120, "SR-IOV");
    assert.equal(findExtCap(rd, 0x0001), undefined, "no AER");
    assert.equal(rd(0x100) >>> 20, 0x120, "ARI points at SR-IOV");
    assert.equal(rd(0x120) >>> 20, 0, "SR-IOV is the last one");
    assert.equal(rd(0x120 + 0x0c) >>> 16, 2, "TotalVFs = sriov_max_vfs");
  } finally {
    lib.nvme_pcie_close(h[0]);
  }
});

Deno.test("FLR clears the function; commands in flight end as lost at once; nvme0.reset() brings it back", () => {
  using nvme0 = new Controller("qemu:size=64M,throttle=4");
  using ns = new Namespace(nvme0, 1);
  using data = new Buffer(4096, "data", 0x5eed1234, PTYPE_DWORD);
  using r = new Buffer(4096, "r");
  const pcie = nvme0.pcie;
  const q = new Qpair(nvme0, 16);
  drainThrottle(ns, q, r); // from here each I/O waits ~250 ms for the throttle
  ns.write(q, data, 0, 8).waitdone();
  const resets = pcie.resetCount;
  assert.equal(pcie.msixEnabled, true);

  // reads in flight on a 4 IOPS device when the FLR hits
  const seen: string[] = [];
  for (let i = 0; i < 4; i++) {
    ns.read(q, r, 100 + i, 1, (c) => seen.push(c.statusText));
  }
  nvme0.reg32(Reg.CSTS); // rings the doorbell
  pcie.flr(false);

  // the FLR really cleared the function: command register, BAR0, MSI-X
  assert.equal(pcie.cfg(0x04, 2) & 0x7, 0, "command register cleared");
  assert.equal(pcie.cfg(0x10, 4) & ~0xf, 0, "BAR0 address cleared");
  assert.equal(pcie.cfg(0x14, 4), 0, "BAR0 upper half cleared");
  assert.equal(pcie.cfg(MSIX + 2, 2) & 0x8000, 0, "MSI-X Enable cleared");
  assert.equal(pcie.msixEnabled, false);
  assert.equal(pcie.resetCount, resets + 1);

  // the queues are gone on the device: what was in flight ends now, not after the timeout
  const t0 = performance.now();
  throwsWith(() => q.waitdone(4), DeviceGoneError, /lost/);
  assert.ok(performance.now() - t0 < 1000, "lost at once");
  // (one read may have finished just before the FLR if the throttle had room)
  assert.equal(seen.length, 4);
  assert.ok(seen.every((s) => s === "07/ff" || s === "00/00"), `${seen}`);
  assert.ok(seen.filter((s) => s === "07/ff").length >= 3, `${seen}`);
  // and nothing more can be submitted on them
  throwsWith(
    () => ns.read(q, r, 0),
    NvmeError,
    /queue 1 was lost in the FLR of embedded device/,
    /nvme0\.reset\(\)/,
  );
  throwsWith(
    () => nvme0.getfeatures(7),
    NvmeError,
    /queue 0 was lost in the FLR/,
  );

  pcie.enable();
  assert.equal(pcie.cfg(0x04, 2) & 0x6, 0x6);
  assert.equal(pcie.cfg(0x10, 4), 0xc0000004);
  assert.equal(pcie.cfg(MSIX + 2, 2) & 0x8000, 0x8000, "vectors routed again");
  assert.equal(pcie.msixEnabled, true);
  assert.equal(nvme0.reg32(Reg.CC) & 1, 0, "the controller was reset too");

  nvme0.reset();
  assertClosedByReset(q, ns, r);
  assert.equal(nvme0.reg32(Reg.CSTS) & 1, 1);
  assert.equal(nvme0.getfeatures(7).waitdone(), (63 << 16) | 63);
  // the data written before the FLR is there, and I/O works
  {
    using q2 = new Qpair(nvme0, 16);
    ns.read(q2, r, 0, 8).waitdone();
    assert.deepEqual(r.slice(), data.slice());
  }
  roundTrip(nvme0, ns, 200, 0x0f1e2d3c);

  // flr() with its default re-enable, then reset: works again
  pcie.flr();
  assert.equal(pcie.resetCount, resets + 2);
  assert.equal(pcie.cfg(0x04, 2) & 0x6, 0x6);
  nvme0.reset();
  roundTrip(nvme0, ns, 300, 0x01020304);
});

Deno.test("power state D3hot/D0 and ASPM control read back", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using ns = new Namespace(nvme0, 1);
  const pcie = nvme0.pcie;
  // PMC: version 3; PMCSR: D0 with No_Soft_Reset (bit 3)
  assert.equal(pcie.cfg(PM + 2, 2) & 7, 3);
  assert.equal(pcie.powerState, 0);
  assert.equal(pcie.cfg(PM + 4, 2), 0x0008);
  pcie.powerState = 3;
  assert.equal(pcie.powerState, 3, "D3hot");
  assert.equal(pcie.cfg(PM + 4, 2), 0x000b, "No_Soft_Reset kept");
  pcie.powerState = 0;
  assert.equal(pcie.powerState, 0, "D0");
  // No_Soft_Reset: D3hot -> D0 kept the controller's state, no reset needed
  assert.equal(nvme0.reg32(Reg.CSTS) & 1, 1);
  assert.equal(pcie.resetCount, 0);
  roundTrip(nvme0, ns, 0, 0x11223344);
  throwsWith(
    () => pcie.powerState = 4,
    ParameterError,
    /power state/,
    /0\.\.3/,
  );

  // ASPM: Link Capabilities advertise L0s; Link Control's ASPM field is read-only
  // zero on this model, so every value written reads back as 0 (disabled)
  assert.equal((pcie.cfg(EXP + 0x0c, 4) >> 10) & 3, 1, "LnkCap ASPM support");
  assert.equal(pcie.aspm, 0);
  for (const v of [1, 2, 3, 0]) {
    pcie.aspm = v;
    assert.equal(pcie.aspm, 0, `ASPM control after writing ${v}`);
  }
  throwsWith(() => pcie.aspm = 4, ParameterError, /aspm/, /0\.\.3/);
  assert.equal(nvme0.reg32(Reg.CSTS) & 1, 1);
});

Deno.test("hot reset: the function and the controller are reset, DMA memory is kept", () => {
  using nvme0 = new Controller("qemu:size=64M");
  using ns = new Namespace(nvme0, 1);
  using data = new Buffer(4096, "data", 0xabcd0123, PTYPE_DWORD);
  using r = new Buffer(4096, "r");
  const pcie = nvme0.pcie;
  const q = new Qpair(nvme0, 16);
  ns.write(q, data, 8, 8).waitdone();
  const resets = pcie.resetCount;
  assert.equal(pcie.cfg(0x100, 4), 0); // MMCONFIG enabled before the reset
  pcie.setCfg(0x3c, 0x0b, 1); // Interrupt Line: cleared by a reset

  pcie.reset();
  assert.equal(pcie.resetCount, resets + 1);
  assert.equal(pcie.cfg(0x3c, 1), 0, "the reset cleared Interrupt Line");
  assert.equal(pcie.cfg(0x04, 2) & 0x6, 0x6, "enabled again");
  assert.equal(pcie.cfg(0x10, 4), 0xc0000004);
  assert.equal(pcie.msixEnabled, true);
  assert.equal(nvme0.reg32(Reg.CC), 0, "CC cleared by the reset");
  assert.equal(nvme0.reg32(Reg.CSTS) & 1, 0);
  assert.equal(pcie.cfg(0x100, 4), 0, "extended config space still reachable");
  // the buffers (guest RAM) were kept
  assert.equal(data.u32(0), 0xabcd0123);
  throwsWith(() => ns.read(q, r, 0), NvmeError, /lost in the hot reset/);

  nvme0.reset();
  assertClosedByReset(q, ns, r);
  {
    using q2 = new Qpair(nvme0, 16);
    ns.read(q2, r, 8, 8).waitdone();
    assert.deepEqual(r.slice(), data.slice(), "data survives the reset");
  }
  roundTrip(nvme0, ns, 64, 0x5a5a0001);

  // a user-supplied reset method replaces the built-in one (here: an FLR)
  let called = 0;
  pcie.reset(() => {
    called++;
    pcie.flr(false);
  });
  assert.equal(called, 1);
  assert.equal(pcie.resetCount, resets + 2);
  assert.equal(pcie.cfg(0x04, 2) & 0x6, 0x6, "enabled after rstFn");
  nvme0.reset();
  roundTrip(nvme0, ns, 128, 0x5a5a0002);
});

Deno.test("INTx: asserted after a completion and not before, INTMS/INTMC, lowered by the CQ head doorbell", () => {
  // a slow namespace (4 IOPS once the burst is used) keeps a read in flight
  using nvme0 = new Controller("qemu:size=64M,throttle=4");
  using ns = new Namespace(nvme0, 1);
  using buf = new Buffer(4096);
  const pcie = nvme0.pcie;
  {
    using warm = new Qpair(nvme0, 64);
    drainThrottle(ns, warm, buf);
  }
  // MSI-X mode: INTx never moves
  assert.equal(pcie.intxAsserted(), false);
  nvme0.getfeatures(7).waitdone();
  assert.equal(pcie.intxAsserted(), false, "no INTx while MSI-X is on");

  // INTx mode: clear MSI-X Enable; the driver sees MSI-X off
  const ctl = pcie.cfg(MSIX + 2, 2);
  pcie.setCfg(MSIX + 2, ctl & ~0x8000, 2);
  assert.equal(pcie.msixEnabled, false);
  assert.equal(pcie.cfg(0x04, 2) & 0x400, 0, "INTx not disabled in Command");

  // an I/O queue pair with interrupts on vector 0 (the only one INTx allows)
  const q = new Qpair(nvme0, 16, 0, true, 0);
  nvme0.reg32(Reg.CSTS); // writes the admin CQ head doorbell: the admin CQ is empty
  assert.equal(pcie.intxAsserted(), false, "nothing pending");

  // not before the completion
  ns.read(q, buf, 0);
  nvme0.reg32(Reg.CSTS); // rings the SQ doorbell
  assert.equal(q.outstanding, 1);
  assert.equal(pcie.intxAsserted(), false, "not asserted while the read runs");
  // after the completion
  const t0 = performance.now();
  while (!pcie.intxAsserted()) {
    assert.ok(performance.now() - t0 < 5000, "INTx never asserted");
  }
  const latency = performance.now() - t0;
  assert.ok(latency > 10, `the read took ${latency.toFixed(1)} ms`);

  // INTMS bit 0 masks it, INTMC bit 0 unmasks it (the CQE is still unconsumed)
  nvme0.setReg32(Reg.INTMS, 1);
  assert.equal(pcie.intxAsserted(), false, "masked by INTMS");
  assert.equal(nvme0.reg32(Reg.INTMS) & 1, 1);
  nvme0.setReg32(Reg.INTMC, 1);
  assert.equal(pcie.intxAsserted(), true, "unmasked by INTMC");
  assert.equal(nvme0.reg32(Reg.INTMS) & 1, 0);

  // reaping consumes the CQE; the CQ head doorbell is batched into the next
  // flush, so INTx stays up until then
  q.waitdone(1);
  assert.equal(pcie.intxAsserted(), true, "head doorbell not written yet");
  nvme0.reg32(Reg.CSTS); // a register access flushes the doorbells first
  assert.equal(pcie.intxAsserted(), false, "lowered by the CQ head doorbell");

  // interrupts disabled on a CQ: its completions never raise INTx
  {
    using quiet = new Qpair(nvme0, 16, 0, false, 0);
    nvme0.reg32(Reg.CSTS);
    assert.equal(pcie.intxAsserted(), false);
    ns.read(quiet, buf, 0).waitdone();
    assert.equal(pcie.intxAsserted(), false, "IEN=0");
  }

  // delete the INTx-mode queues before MSI-X comes back: QEMU releases a CQ's
  // MSI-X vector on deletion when MSI-X is on, even if it never took it, and
  // vector 0 is the admin queue's
  q.delete();
  // MSI-X on again: the driver's vectors are routed as before
  pcie.setCfg(MSIX + 2, ctl, 2);
  assert.equal(pcie.msixEnabled, true);
  using q2 = new Qpair(nvme0, 16);
  q2.msixClear();
  ns.read(q2, buf, 0).waitdone();
  assert.equal(q2.msixIsSet(), true);
  assert.equal(pcie.intxAsserted(), false);
});

Deno.test("two embedded devices at once share the DMA memory: one buffer, written to A, read from B", () => {
  using a = new Controller("qemu:size=64M,serial=DEVA");
  using b = new Controller("qemu:size=64M,serial=DEVB");
  assert.notEqual(a.pcie.qemuPid, b.pcie.qemuPid);
  assert.equal(a.serialNumber, "DEVA");
  assert.equal(b.serialNumber, "DEVB");
  using nsA = new Namespace(a, 1);
  using nsB = new Namespace(b, 1);
  using qa = new Qpair(a, 16);
  using qb = new Qpair(b, 16);
  using buf = new Buffer(4096, "shared", 0x600dcafe, PTYPE_DWORD);
  using check = new Buffer(4096, "check");
  const expected = buf.slice();

  // A stores the buffer; B's copy of the LBA is still zero
  nsA.write(qa, buf, 10, 8).waitdone();
  nsB.read(qb, check, 10, 8).waitdone();
  assert.deepEqual(check.slice(), new Uint8Array(4096));
  // device A DMAs into the buffer, device B DMAs out of the same buffer
  buf.fill();
  nsA.read(qa, buf, 10, 8).waitdone();
  assert.deepEqual(buf.slice(), expected);
  nsB.write(qb, buf, 20, 8).waitdone();
  nsB.read(qb, check, 20, 8).waitdone();
  assert.deepEqual(check.slice(), expected);
  // both at once, interleaved
  for (let i = 0; i < 16; i++) {
    nsA.read(qa, buf, 10, 8);
    nsB.read(qb, check, 20, 8);
  }
  qa.waitdone(16);
  qb.waitdone(16);
  assert.deepEqual(check.slice(), expected);
  // resetting one leaves the other alone
  a.pcie.flr();
  a.reset();
  assert.equal(b.pcie.resetCount, 0);
  nsB.read(qb, check, 20, 8).waitdone();
  assert.deepEqual(check.slice(), expected);
});

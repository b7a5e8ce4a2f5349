/**
 * Bring-up on the embedded device: registers after pynvme's default init,
 * identify fields, user init functions.
 */
import assert from "node:assert/strict";
import { Buffer, Controller, Namespace, Pcie, Qpair, Reg } from "../mod.ts";

Deno.test("default init: registers, identify, queues", () => {
  using nvme0 = new Controller("qemu:serial=BRINGUP01");
  // CC as pynvme programs it, controller ready
  assert.equal(nvme0.reg32(Reg.CC), 0x00460001);
  assert.equal(nvme0.reg32(Reg.CSTS) & 0x3, 0x1, "CSTS.RDY=1, CFS=0");
  // CAP of QEMU's model: MQES 2047, CQR, TO 15 (7.5 s), DSTRD 0, MPSMIN 0, MPSMAX 4
  const cap = nvme0.cap;
  assert.equal(Number(cap & 0xffffn), 2047);
  assert.equal(Number((cap >> 16n) & 1n), 1, "CQR");
  assert.equal(Number((cap >> 24n) & 0xffn), 15, "TO");
  assert.equal(Number((cap >> 32n) & 0xfn), 0, "DSTRD");
  assert.equal(Number((cap >> 48n) & 0xfn), 0, "MPSMIN");
  assert.equal(nvme0.mqes, 2048);
  assert.equal(nvme0.reg32(Reg.VS), 0x00010400, "NVMe 1.4");
  // AQA/ASQ/ACQ were programmed by the driver: 256-entry admin queues
  assert.equal(nvme0.reg32(Reg.AQA), (255 << 16) | 255);
  assert.notEqual(nvme0.reg64(Reg.ASQ), 0n);
  assert.equal(nvme0.reg64(Reg.ASQ) % 4096n, 0n);
  // identify
  assert.equal(nvme0.modelNumber, "QEMU NVMe Ctrl");
  assert.equal(nvme0.serialNumber, "BRINGUP01");
  assert.match(nvme0.firmwareRevision, /^\d+\.\d+\.\d+$/);
  assert.equal(nvme0.idData(1, 0), 0x1b36, "PCI vendor id in identify");
  assert.equal(nvme0.idData(63, 24, "str"), "QEMU NVMe Ctrl");
  assert.equal(nvme0.idData(77, 77), 7, "MDTS");
  assert.equal(nvme0.mdts, 512 * 1024);
  assert.equal(nvme0.idData(519, 516), 256, "NN");
  // Set Features 07h granted QEMU's 64 queue pairs
  assert.deepEqual(nvme0.queueCounts, { nsqa: 64, ncqa: 64 });
  // Get Features 07h returns the same CDW0 (synchronously, like pynvme)
  assert.equal(nvme0.getfeatures(7).waitdone(), (63 << 16) | 63);
  // PCI identity
  assert.equal(nvme0.pcie.cfg(0, 4), 0x00101b36);
  assert.equal(
    nvme0.pcie.cfg(0x09, 1) | nvme0.pcie.cfg(0x0a, 2) << 8,
    0x010802,
  );
  assert.equal(nvme0.pcie.capOffset(0x11), 0x40, "MSI-X capability");
  assert.equal(nvme0.pcie.msixVectors, 65);
});

Deno.test("a user init function replaces the default init", () => {
  const steps: string[] = [];
  using pcie = new Pcie("qemu");
  using nvme0 = new Controller(pcie, (c) => {
    steps.push("disable");
    c.disable();
    c.initAdminq(16);
    steps.push("enable");
    c.setReg32(Reg.CC, 0x00460001);
    c.waitReady(true);
    steps.push("identify");
    c.identifyController();
    const cdw0 = c.setfeatures(7, { cdw11: 0x00030003 }).waitdone();
    c.initQueues(cdw0);
  });
  assert.deepEqual(steps, ["disable", "enable", "identify"]);
  assert.equal(nvme0.reg32(Reg.AQA), (15 << 16) | 15, "the init's admin depth");
  // QEMU ignores the requested count and grants all 64 pairs (a known model deviation)
  assert.equal(nvme0.queueCounts.nsqa, 64);
  using q = new Qpair(nvme0, 8);
  using buf = new Buffer(512);
  const ns = new Namespace(nvme0, 1);
  ns.read(q, buf, 0).waitdone();
});

Deno.test("init=false leaves the controller untouched", () => {
  using pcie = new Pcie("qemu");
  using nvme0 = new Controller(pcie, false);
  assert.equal(nvme0.reg32(Reg.CC), 0, "CC after power-on");
  assert.equal(nvme0.reg32(Reg.CSTS) & 1, 0);
  assert.throws(() => nvme0.waitdone(), /admin queue is not set up/);
});

Deno.test("several namespaces with their own sizes", () => {
  using nvme0 = new Controller("qemu:ns=3,size=64M,lba=4096");
  for (const nsid of [1, 2, 3]) {
    const ns = new Namespace(nvme0, nsid);
    assert.equal(ns.lbaSize, 4096);
    assert.equal(ns.capacity, 64 * 2 ** 20 / 4096);
  }
  assert.throws(() => new Namespace(nvme0, 4), /not active|00\/0b|Invalid/);
});

/**
 * PCI configuration space of an NVMe function (NVMe over PCIe Transport
 * 1.0, "PCI Express Registers"; PCI Express Base): class code, capability
 * list, BAR0, interrupts, power management and FLR.
 */
import { Reg } from "../../../mod.ts";
import { capField, conform, hex, nvmeTest } from "../_suite.ts";

nvmeTest("class code is 010802h (NVM Express I/O controller)", {
  needs: ["pcie"],
}, ({ pcie }) => {
  const cc = pcie.cfg(0x08, 4) >>> 8;
  conform(
    cc === 0x010802,
    "NVMe PCIe Transport 1.0, CC: Base Class 01h (mass storage), Sub Class 08h (NVM), Programming Interface 02h (NVM Express)",
    `class code ${hex(cc, 6)}`,
  );
});

nvmeTest("header type 0 and a well-formed capability list", {
  needs: ["pcie"],
}, ({ pcie }) => {
  const ht = pcie.cfg(0x0e, 1) & 0x7f;
  conform(
    ht === 0,
    "PCI Express Base: an endpoint function has a type 0 configuration header",
    `header type ${hex(ht, 2)}`,
  );
  conform(
    (pcie.cfg(0x06, 2) & 0x10) !== 0,
    "PCI Express Base: Status.Capabilities List is 1 (PCIe functions have capabilities)",
    hex(pcie.cfg(0x06, 2), 4),
  );
  const seen = new Set<number>();
  let pos = pcie.cfg(0x34, 1);
  const ids: number[] = [];
  while (pos) {
    conform(
      pos >= 0x40 && (pos & 3) === 0 && !seen.has(pos),
      "PCI Express Base: capability pointers are dword aligned, at 40h or above, and the list ends",
      `pointer ${hex(pos, 2)} after ${ids.map((i) => hex(i, 2)).join(",")}`,
    );
    seen.add(pos);
    ids.push(pcie.cfg(pos, 1));
    pos = pcie.cfg(pos + 1, 1);
  }
  for (
    const [id, name] of [[0x01, "PCI Power Management"], [
      0x10,
      "PCI Express",
    ]] as const
  ) {
    conform(
      ids.includes(id),
      `NVMe PCIe Transport 1.0: the ${name} capability is required`,
      `capabilities ${ids.map((i) => hex(i, 2)).join(", ")}`,
    );
  }
  conform(
    ids.includes(0x11) || ids.includes(0x05),
    "NVMe PCIe Transport 1.0: MSI-X (or MSI) capability present",
    `capabilities ${ids.map((i) => hex(i, 2)).join(", ")}`,
  );
});

nvmeTest(
  "PCI Express capability: an endpoint (or root complex integrated endpoint)",
  {
    needs: ["pcie"],
  },
  ({ pcie }) => {
    const exp = pcie.capOffset(0x10)!;
    const flags = pcie.cfg(exp + 2, 2);
    const type = (flags >> 4) & 0xf;
    conform(
      type === 0 || type === 9,
      "PCI Express Base, PCIe Capabilities: Device/Port Type 0000b (endpoint) or 1001b (RCiEP) for an NVMe function",
      `device/port type ${type}`,
    );
    conform(
      (flags & 0xf) >= 1,
      "PCI Express Base: Capability Version is 1 or 2",
      `version ${flags & 0xf}`,
    );
  },
);

nvmeTest("BAR0: 64-bit non-prefetchable memory of at least 16 KiB", {
  needs: ["nvme0"],
  own: true,
}, ({ nvme0 }) => {
  const pcie = nvme0.pcie;
  const lo = pcie.cfg(0x10, 4);
  conform(
    (lo & 1) === 0 && ((lo >> 1) & 3) === 2,
    "NVMe PCIe Transport 1.0, MLBAR: memory space (bit 0 = 0), 64-bit (TP = 10b)",
    `BAR0 ${hex(lo, 8)}`,
  );
  conform(
    (lo & 8) === 0,
    "NVMe PCIe Transport 1.0, MLBAR.PF: not prefetchable",
    `BAR0 ${hex(lo, 8)}`,
  );
  // size it with memory decoding off, then put everything back
  const cmd = pcie.cfg(0x04, 2);
  const hi = pcie.cfg(0x14, 4);
  pcie.setCfg(0x04, cmd & ~2, 2);
  pcie.setCfg(0x10, 0xffffffff, 4);
  const mask = pcie.cfg(0x10, 4);
  pcie.setCfg(0x10, lo, 4);
  pcie.setCfg(0x14, hi, 4);
  pcie.setCfg(0x04, cmd, 2);
  const size = (~(mask & ~0xf) >>> 0) + 1;
  conform(
    size >= 0x4000,
    "NVMe PCIe Transport 1.0, MLBAR: bits 13:04 are reserved, so the register space is at least 16 KiB",
    `BAR0 size ${hex(size)}`,
  );
  nvme0.getfeatures(7).waitdone();
});

nvmeTest(
  "MSI-X: table and PBA in a memory BAR, clear of registers and doorbells",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, skip }) => {
    const pcie = nvme0.pcie;
    const off = pcie.capOffset(0x11);
    if (off === undefined) return skip("the function has no MSI-X capability");
    const ctl = pcie.cfg(off + 2, 2);
    const table = pcie.cfg(off + 4, 4), pba = pcie.cfg(off + 8, 4);
    const size = (ctl & 0x7ff) + 1;
    conform(
      size >= 1,
      "PCI Express Base, MSI-X: at least one table entry",
      `size ${size}`,
    );
    const bars = [0, 1, 2, 3, 4, 5];
    conform(
      bars.includes(table & 7) && bars.includes(pba & 7),
      "PCI Express Base, MSI-X: Table BIR and PBA BIR name a BAR (0..5)",
      `table ${hex(table, 8)}, PBA ${hex(pba, 8)}`,
    );
    const dstrd = capField(nvme0.cap, 32, 4);
    const queues = Math.max(nvme0.queueCounts.nsqa, nvme0.queueCounts.ncqa);
    const end = 0x1000 + 2 * (queues + 1) * (4 << dstrd);
    for (
      const [name, v, len] of [["table", table, size * 16], [
        "PBA",
        pba,
        Math.ceil(size / 64) * 8,
      ]] as const
    ) {
      if ((v & 7) !== 0) continue;
      const at = v & ~7;
      conform(
        at >= end && len > 0,
        `NVMe PCIe Transport 1.0: an MSI-X ${name} in BAR0 does not overlap the controller registers and the doorbells of the ${queues} queue pairs granted`,
        `${name} at ${hex(at)}, doorbells end at ${hex(end)}`,
      );
    }
  },
);

nvmeTest("Interrupt Pin names INTA..INTD", { needs: ["pcie"] }, ({ pcie }) => {
  const pin = pcie.cfg(0x3d, 1);
  conform(
    pin >= 1 && pin <= 4,
    "NVMe PCIe Transport 1.0, INTP: pin-based interrupts are supported (Interrupt Pin 01h..04h)",
    `Interrupt Pin ${hex(pin, 2)}`,
  );
});

nvmeTest(
  "PCI power management: D0 at run time; D3hot and back keeps or resets the controller as NoSoftReset says",
  {
    needs: ["nvme0"],
    own: true,
  },
  ({ nvme0 }) => {
    const pcie = nvme0.pcie;
    const pm = pcie.capOffset(0x01)!;
    conform(
      pcie.powerState === 0,
      "PCI Power Management: the function is in D0 while in use",
      `PMCSR ${hex(pcie.cfg(pm + 4, 2), 4)}`,
    );
    const noSoftReset = (pcie.cfg(pm + 4, 2) & 0x8) !== 0;
    pcie.powerState = 3;
    pcie.powerState = 0;
    const csts = nvme0.reg32(Reg.CSTS);
    if (noSoftReset) {
      conform(
        (csts & 1) === 1,
        "PCI Power Management, PMCSR.No_Soft_Reset = 1: a D3hot to D0 transition keeps the controller's state (CSTS.RDY stays 1)",
        `CSTS ${hex(csts, 8)}`,
      );
      nvme0.getfeatures(7).waitdone();
    } else {
      pcie.enable();
      nvme0.reset();
      nvme0.getfeatures(7).waitdone();
    }
  },
);

nvmeTest("Function Level Reset resets the controller; it initializes again", {
  needs: ["nvme0"],
  own: true,
}, ({ nvme0, skip }) => {
  const pcie = nvme0.pcie;
  const exp = pcie.capOffset(0x10)!;
  if (!(pcie.cfg(exp + 4, 4) & (1 << 28))) {
    return skip("the function does not support FLR (DevCap.FLR = 0)");
  }
  pcie.flr(true);
  const cc = nvme0.reg32(Reg.CC), csts = nvme0.reg32(Reg.CSTS);
  conform(
    (cc & 1) === 0 && (csts & 1) === 0,
    "NVMe Base 2.0, Controller Level Reset by FLR: the controller is reset (CC.EN = 0, CSTS.RDY = 0)",
    `CC ${hex(cc, 8)}, CSTS ${hex(csts, 8)}`,
  );
  nvme0.reset();
  nvme0.getfeatures(7).waitdone();
});

/**
 * Interrupts (NVMe Base 2.0 "Interrupts", PCI Express MSI-X): per-queue
 * vectors, masking with the pending bit, IEN = 0, the admin vector, the
 * function mask.
 */
import { type Controller, Qpair } from "../../../mod.ts";
import { conform, nvmeTest } from "../_suite.ts";

function msix(nvme0: Controller): number | undefined {
  return nvme0.pcie.capOffset(0x11);
}

/** Pending bit of `vector` from the PBA, when the PBA is in BAR0. */
function pending(nvme0: Controller, vector: number): boolean | undefined {
  const off = msix(nvme0)!;
  const pba = nvme0.pcie.cfg(off + 8, 4);
  if ((pba & 7) !== 0) return undefined;
  const at = (pba & ~7) + Math.floor(vector / 32) * 4;
  return ((nvme0.reg32(at) >>> (vector % 32)) & 1) === 1;
}

nvmeTest("each completion queue's vector fires for its own completions only", {
  needs: ["nvme0n1", "buf"],
}, ({ nvme0, nvme0n1, buf, skip }) => {
  if (msix(nvme0) === undefined || nvme0.pcie.msixVectors < 3) {
    return skip("fewer than 3 MSI-X vectors");
  }
  using a = new Qpair(nvme0, 8), b = new Qpair(nvme0, 8);
  a.msixClear();
  b.msixClear();
  nvme0n1.read(a, buf, 0).waitdone();
  conform(
    a.msixIsSet() && !b.msixIsSet(),
    "NVMe Base 2.0, Interrupts: a completion posted to a CQ signals the vector that CQ was created with (and no other)",
    `queue ${a.sqid} vector ${a.iv}: ${a.msixIsSet()}, queue ${b.sqid} vector ${b.iv}: ${b.msixIsSet()}`,
  );
});

nvmeTest(
  "a masked vector sends nothing and sets its pending bit; unmasking delivers it",
  {
    needs: ["nvme0n1", "qpair", "buf"],
  },
  ({ nvme0, nvme0n1, qpair, buf, skip }) => {
    if (msix(nvme0) === undefined) return skip("no MSI-X capability");
    qpair.msixClear();
    qpair.msixMask();
    nvme0n1.read(qpair, buf, 0).waitdone();
    const sent = qpair.msixIsSet();
    const pend = pending(nvme0, qpair.iv);
    qpair.msixUnmask();
    const after = qpair.msixIsSet();
    conform(
      !sent,
      "PCI Express Base, MSI-X: a masked vector sends no message",
      "a message arrived while masked",
    );
    conform(
      pend !== false,
      "PCI Express Base, MSI-X: the Pending Bit of a masked vector with an interrupt condition is set",
      "PBA bit clear",
    );
    conform(
      after,
      "PCI Express Base, MSI-X: unmasking a vector with its pending bit set sends the message",
      "no message after unmasking",
    );
  },
);

nvmeTest(
  "a completion queue with interrupts disabled (IEN = 0) sends no interrupt",
  {
    needs: ["nvme0n1", "buf"],
  },
  ({ nvme0, nvme0n1, buf, skip }) => {
    if (msix(nvme0) === undefined || nvme0.pcie.msixVectors < 2) {
      return skip(
        "fewer than 2 MSI-X vectors",
      );
    }
    using q = new Qpair(nvme0, 8, 0, false, 1);
    nvme0.pcie.irqWords[1] = 0;
    nvme0n1.read(q, buf, 0).waitdone();
    conform(
      nvme0.pcie.irqWords[1] === 0,
      "NVMe Base 2.0, Create I/O Completion Queue IEN = 0: completions to the queue raise no interrupt",
      "vector 1 fired",
    );
  },
);

nvmeTest("the admin completion queue interrupts on vector 0", {
  needs: ["nvme0"],
}, ({ nvme0, skip }) => {
  if (msix(nvme0) === undefined) return skip("no MSI-X capability");
  const pcie = nvme0.pcie;
  pcie.maskVector(0, true);
  pcie.irqWords[0] = 0;
  let pend: boolean | undefined;
  let delivered = false;
  try {
    nvme0.getfeatures(7); // submitted; its completion waits for vector 0
    const t0 = Date.now();
    while (Date.now() - t0 < 200) nvme0.reg32(0x1c);
    pend = pending(nvme0, 0);
  } finally {
    pcie.maskVector(0, false);
    delivered = pcie.irqWords[0] !== 0;
    nvme0.waitdone();
  }
  conform(
    pend !== false && delivered,
    "NVMe Base 2.0, Interrupts: the admin completion queue uses interrupt vector 0 (held pending while masked, sent on unmask)",
    `pending bit ${pend}, message after unmask ${delivered}`,
  );
});

nvmeTest(
  "the MSI-X function mask holds every vector's messages until cleared",
  {
    needs: ["nvme0n1", "qpair", "buf"],
  },
  ({ nvme0, nvme0n1, qpair, buf, skip }) => {
    const off = msix(nvme0);
    if (off === undefined) return skip("no MSI-X capability");
    const pcie = nvme0.pcie;
    const ctl = pcie.cfg(off + 2, 2);
    qpair.msixClear();
    pcie.setCfg(off + 2, ctl | 0x4000, 2);
    try {
      nvme0n1.read(qpair, buf, 0).waitdone(); // I/O completions are polled
      conform(
        !qpair.msixIsSet(),
        "PCI Express Base, MSI-X Function Mask: no vector sends a message while it is set",
        "a message arrived",
      );
    } finally {
      pcie.setCfg(off + 2, ctl, 2);
    }
    conform(
      qpair.msixIsSet(),
      "PCI Express Base, MSI-X Function Mask: pending messages are sent when it is cleared",
      "no message after clearing the function mask",
    );
  },
);

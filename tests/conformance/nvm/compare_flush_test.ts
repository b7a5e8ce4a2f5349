/**
 * Compare and Flush (NVM Command Set 1.0, NVMe Base 2.0 "Flush").
 */
import { Buffer } from "../../../mod.ts";
import {
  hex,
  invalidNsid,
  ioCmd,
  NVM,
  nvmeTest,
  requireStatus,
  requireSuccess,
} from "../_suite.ts";
import { lbaCmd, pickLba, writeRandom } from "./_io.ts";

nvmeTest(
  "Compare: matching data succeeds, one differing byte → Compare Failure",
  {
    needs: ["nvme0n1", "qpair"],
  },
  ({ nvme0, nvme0n1, qpair, rng, skip }) => {
    if (!(nvme0.idCtrl.oncs & 1)) {
      return skip(
        "Compare is not supported (ONCS bit 0 = 0)",
      );
    }
    const lba = pickLba(nvme0n1, rng, 64);
    const data = writeRandom(nvme0n1, qpair, rng, lba, 4);
    using b = new Buffer(data.length);
    b.write(data);
    requireSuccess(
      lbaCmd(nvme0n1, qpair, NVM.COMPARE, lba, 4, { buf: b }),
      "NVM Command Set 1.0, Compare of the data just written",
    );
    const at = data.length - 1 - rng.int(0, nvme0n1.lbaSize - 1);
    b.set(at, b.get(at) ^ 0x01);
    requireStatus(
      lbaCmd(nvme0n1, qpair, NVM.COMPARE, lba, 4, { buf: b }),
      "02/85",
      `NVM Command Set 1.0, Compare: one differing bit (byte ${at}) → 02/85 Compare Failure`,
    );
  },
);

nvmeTest("Compare past the end of the namespace → LBA Out of Range", {
  needs: ["nvme0n1", "qpair", "buf"],
}, ({ nvme0, nvme0n1, qpair, buf, skip }) => {
  if (!(nvme0.idCtrl.oncs & 1)) {
    return skip("Compare is not supported (ONCS bit 0 = 0)");
  }
  requireStatus(
    lbaCmd(nvme0n1, qpair, NVM.COMPARE, BigInt(nvme0n1.capacity), 1, { buf }),
    "00/80",
    "NVM Command Set 1.0, Compare: SLBA = NSZE",
  );
});

nvmeTest("Flush of the namespace succeeds", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0n1, qpair, rng }) => {
  writeRandom(nvme0n1, qpair, rng, pickLba(nvme0n1, rng, 64), 8);
  requireSuccess(
    ioCmd(nvme0n1, qpair, NVM.FLUSH),
    "NVMe Base 2.0, Flush (mandatory) of an active namespace",
  );
});

nvmeTest("Flush with the broadcast NSID: as Identify Controller VWC says", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0, nvme0n1, qpair, skip }) => {
  const vwc = nvme0.idCtrl.vwc;
  const mode = (vwc >> 1) & 3;
  if (!(vwc & 1)) {
    return skip("no volatile write cache: VWC bits 2:1 do not apply");
  }
  if (mode === 0) {
    return skip("VWC bits 2:1 = 00b: broadcast flush support is not indicated");
  }
  const c = ioCmd(nvme0n1, qpair, NVM.FLUSH, { nsid: 0xffffffff });
  if (mode === 3) {
    requireSuccess(
      c,
      "NVMe Base 2.0, VWC bits 2:1 = 11b: Flush with NSID FFFFFFFFh is supported",
    );
  } else {
    requireStatus(
      c,
      "00/0b",
      "NVMe Base 2.0, VWC bits 2:1 = 10b: Flush with NSID FFFFFFFFh is not supported",
    );
  }
});

nvmeTest("Flush with NSID 0 or above NN → Invalid Namespace or Format", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0, nvme0n1, qpair }) => {
  const ids = [0, invalidNsid(nvme0)].filter((x): x is number =>
    x !== undefined
  );
  for (const nsid of ids) {
    requireStatus(
      ioCmd(nvme0n1, qpair, NVM.FLUSH, { nsid }),
      "00/0b",
      `NVMe Base 2.0, Flush: NSID ${hex(nsid)} is invalid`,
    );
  }
});

/**
 * Command and completion entries (NVMe Base 2.0, "Submission Queue Entry",
 * "Completion Queue Entry"): reserved opcodes, FUSE and PSDT values, the
 * fields of a completion.
 */
import {
  ADM,
  adminCmd,
  conform,
  hex,
  ioCmd,
  NVM,
  nvmeTest,
  requireStatus,
} from "../_suite.ts";
import { Buffer } from "../../../mod.ts";

nvmeTest("reserved I/O opcodes → Invalid Command Opcode", {
  needs: ["nvme0n1", "qpair", "buf"],
}, ({ nvme0n1, qpair, buf }) => {
  for (
    const opc of [
      0x03,
      0x07,
      0x0b,
      0x0f,
      0x13,
      0x17,
      0x1b,
      0x1f,
      0x23,
      0x27,
      0x2b,
      0x2f,
    ]
  ) {
    requireStatus(
      ioCmd(nvme0n1, qpair, opc, { buf }),
      "00/01",
      `NVM Command Set 1.0: I/O opcode ${hex(opc, 2)} is reserved`,
    );
  }
});

nvmeTest("FUSE = 11b (reserved) → Invalid Field", {
  needs: ["nvme0n1", "qpair", "buf"],
}, ({ nvme0, nvme0n1, qpair, buf }) => {
  requireStatus(
    ioCmd(nvme0n1, qpair, NVM.READ | 3 << 8, { buf, cdw12: 0 }),
    "00/02",
    "NVMe Base 2.0, CDW0 FUSE: 11b is reserved (I/O command)",
  );
  requireStatus(
    adminCmd(nvme0, ADM.GET_FEATURES | 3 << 8, { cdw10: 7 }),
    "00/02",
    "NVMe Base 2.0, CDW0 FUSE: 11b is reserved (admin command)",
  );
});

nvmeTest(
  "a fused command when fused operations are not supported → Invalid Field",
  {
    needs: ["nvme0n1", "qpair", "buf"],
  },
  ({ nvme0, nvme0n1, qpair, buf, skip }) => {
    if (nvme0.idCtrl.fuses & 1) {
      return skip(
        "Compare and Write fused operations are supported (FUSES bit 0 = 1)",
      );
    }
    requireStatus(
      ioCmd(nvme0n1, qpair, NVM.COMPARE | 1 << 8, { buf, cdw12: 0 }),
      "00/02",
      "NVMe Base 2.0, FUSE: with FUSES = 0 fused operations are not supported, so FUSE = 01b is an invalid value",
    );
  },
);

nvmeTest("PSDT = 11b (reserved) → Invalid Field", {
  needs: ["nvme0n1", "qpair", "buf"],
}, ({ nvme0n1, qpair, buf }) => {
  requireStatus(
    ioCmd(nvme0n1, qpair, NVM.READ | 3 << 14, { buf, cdw12: 0 }),
    "00/02",
    "NVMe Base 2.0, CDW0 PSDT: 11b is reserved",
  );
});

nvmeTest("an SGL on an admin command → Invalid Field", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  using buf = new Buffer(4096);
  requireStatus(
    adminCmd(nvme0, ADM.IDENTIFY | 1 << 14, { buf, cdw10: 1 }),
    "00/02",
    "NVMe Base 2.0 / PCIe Transport 1.0: admin commands use PRPs (PSDT 00b); SGLs are not supported for them",
  );
});

nvmeTest(
  "an SGL on an I/O command when SGLs are not supported → Invalid Field",
  {
    needs: ["nvme0n1", "qpair", "buf"],
  },
  ({ nvme0, nvme0n1, qpair, buf, skip }) => {
    if (nvme0.idCtrl.sgls & 3) {
      return skip(
        "SGLs are supported (SGLS bits 1:0 ≠ 00b)",
      );
    }
    requireStatus(
      ioCmd(nvme0n1, qpair, NVM.READ | 1 << 14, { buf, cdw12: 0 }),
      "00/02",
      "NVMe Base 2.0, PSDT 01b with SGLS bits 1:0 = 00b",
    );
  },
);

nvmeTest(
  "the completion of a successful command: zero status, SQID, SQHD within the queue",
  {
    needs: ["nvme0n1", "qpair", "buf"],
  },
  ({ nvme0n1, qpair, buf }) => {
    let cpl: import("../../../mod.ts").Completion | undefined;
    nvme0n1.read(qpair, buf, 0, 1, (c) => cpl = c).waitdone();
    const c = cpl!;
    conform(
      c.status === 0 && !c.more && !c.dnr,
      "NVMe Base 2.0, CQE Status: a successful command has SCT = SC = 0, M = 0, DNR = 0",
      `status ${hex(c.status, 4)}`,
    );
    conform(
      c.sqid === qpair.sqid && c.sqhd < qpair.depth,
      "NVMe Base 2.0, CQE DW2: SQID of the command's queue and an SQHD inside it",
      `SQID ${c.sqid} (queue ${qpair.sqid}), SQHD ${c.sqhd} (depth ${qpair.depth})`,
    );
  },
);

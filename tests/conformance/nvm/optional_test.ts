/**
 * Optional NVM commands (NVM Command Set 1.0): Verify, Write Uncorrectable,
 * Copy — Invalid Command Opcode when ONCS says not supported, their
 * semantics when it says supported.
 */
import { Buffer } from "../../../mod.ts";
import {
  conform,
  ioCmd,
  NVM,
  nvmeTest,
  requireStatus,
  requireSuccess,
} from "../_suite.ts";
import { firstDiff, lbaCmd, pickLba, readBack, writeRandom } from "./_io.ts";

nvmeTest(
  "Verify: Invalid Command Opcode when ONCS bit 7 = 0, success on written LBAs when 1",
  {
    needs: ["nvme0n1", "qpair"],
  },
  ({ nvme0, nvme0n1, qpair, rng }) => {
    const lba = pickLba(nvme0n1, rng, 64);
    writeRandom(nvme0n1, qpair, rng, lba, 8);
    const c = lbaCmd(nvme0n1, qpair, NVM.VERIFY, lba, 8);
    if (nvme0.idCtrl.oncs & 0x80) {
      requireSuccess(c, "NVM Command Set 1.0, Verify of readable LBAs");
    } else {
      requireStatus(
        c,
        "00/01",
        "NVM Command Set 1.0: Verify is not supported (ONCS bit 7 = 0)",
      );
    }
  },
);

nvmeTest(
  "Write Uncorrectable: Invalid Command Opcode when not supported; reads fail until rewritten when it is",
  {
    needs: ["nvme0n1", "qpair", "buf"],
  },
  ({ nvme0, nvme0n1, qpair, buf, rng }) => {
    const lba = pickLba(nvme0n1, rng, 64);
    const c = lbaCmd(nvme0n1, qpair, NVM.WRITE_UNCORRECTABLE, lba, 1);
    if (!(nvme0.idCtrl.oncs & 2)) {
      requireStatus(
        c,
        "00/01",
        "NVM Command Set 1.0: Write Uncorrectable is not supported (ONCS bit 1 = 0)",
      );
      return;
    }
    requireSuccess(c, "NVM Command Set 1.0, Write Uncorrectable");
    requireStatus(
      lbaCmd(nvme0n1, qpair, NVM.READ, lba, 1, { buf }),
      "02/81",
      "NVM Command Set 1.0, Write Uncorrectable: a read of the LBA → 02/81 Unrecovered Read Error",
    );
    const data = writeRandom(nvme0n1, qpair, rng, lba, 1);
    conform(
      firstDiff(data, readBack(nvme0n1, qpair, lba, 1)) < 0,
      "NVM Command Set 1.0, Write Uncorrectable: a write makes the LBA readable again",
      "differs",
    );
  },
);

/** Copy with one format 0 source range. */
function copy(
  ns: Parameters<typeof ioCmd>[0],
  q: Parameters<typeof ioCmd>[1],
  dest: number | bigint,
  src: number | bigint,
  count: number,
) {
  using b = new Buffer(32, "copy range");
  const dv = new DataView(b.bytes.buffer, b.bytes.byteOffset, 32);
  dv.setBigUint64(8, BigInt(src), true);
  dv.setUint16(16, count - 1, true);
  const d = BigInt(dest);
  return ioCmd(ns, q, NVM.COPY, {
    buf: b,
    len: 32,
    cdw10: Number(d & 0xffffffffn),
    cdw11: Number(d >> 32n),
    cdw12: 0,
  });
}

nvmeTest("Copy: the destination reads as the source", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0, nvme0n1, qpair, rng, skip }) => {
  if (!(nvme0.idCtrl.oncs & 0x100)) {
    return skip("Copy is not supported (ONCS bit 8 = 0)");
  }
  // Identify Namespace (NVM Command Set 1.0): MSSRL bytes 73:72, MCL bytes 77:74
  const id = nvme0n1.identifyData;
  const mssrl = id[72] | id[73] << 8;
  const mcl = (id[74] | id[75] << 8 | id[76] << 16 | id[77] << 24) >>> 0;
  const count = Math.min(8, mssrl || 8, mcl || 8);
  const src = pickLba(nvme0n1, rng, 64),
    dst = (src + (1 << 15)) % (Math.min(nvme0n1.capacity, 1 << 20) - 64);
  const data = writeRandom(nvme0n1, qpair, rng, src, count);
  requireSuccess(
    copy(nvme0n1, qpair, dst, src, count),
    "NVM Command Set 1.0, Copy of one range",
  );
  conform(
    firstDiff(data, readBack(nvme0n1, qpair, dst, count)) < 0,
    "NVM Command Set 1.0, Copy: the destination LBAs hold the source data",
    "differs",
  );
});

nvmeTest("Copy from a source range past the end → LBA Out of Range", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0, nvme0n1, qpair, skip }) => {
  if (!(nvme0.idCtrl.oncs & 0x100)) {
    return skip("Copy is not supported (ONCS bit 8 = 0)");
  }
  requireStatus(
    copy(nvme0n1, qpair, 0, BigInt(nvme0n1.capacity) - 1n, 2),
    "00/80",
    "NVM Command Set 1.0, Copy: a source range beyond NSZE",
  );
});

/**
 * Dataset Management and Write Zeroes (NVM Command Set 1.0): deallocated
 * reads as DLFEAT says, range handling, boundaries, zeroes.
 */
import { Buffer, type Namespace, type Qpair } from "../../../mod.ts";
import {
  conform,
  hex,
  ioCmd,
  NVM,
  nvmeTest,
  requireStatus,
  requireSuccess,
} from "../_suite.ts";
import { firstDiff, lbaCmd, pickLba, readBack, writeRandom } from "./_io.ts";
import type { TestContext } from "../../../testing.ts";

function dsm(
  ns: Namespace,
  q: Qpair,
  ranges: [number | bigint, number][],
  attr = 4,
) {
  using b = new Buffer(Math.max(16, ranges.length * 16), "ranges");
  ranges.forEach(([lba, n], i) => b.setDsmRange(i, lba, n));
  return ioCmd(ns, q, NVM.DSM, {
    buf: b,
    len: ranges.length * 16,
    cdw10: ranges.length - 1,
    cdw11: attr,
  });
}

/** The byte deallocated LBAs read as (DLFEAT bits 2:0), or skip. */
function deallocatedByte(ns: Namespace, skip: TestContext["skip"]): number {
  if (!(ns.ctrl.idCtrl.oncs & 4)) {
    skip("Dataset Management is not supported (ONCS bit 2 = 0)");
  }
  const dlfeat = ns.identifyData[33] & 7;
  if (dlfeat === 1) return 0x00;
  if (dlfeat === 2) return 0xff;
  return skip(
    `DLFEAT bits 2:0 = ${dlfeat}: the value read from deallocated LBAs is not reported`,
  );
}

nvmeTest("Deallocate: the LBAs read as DLFEAT reports", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0n1, qpair, rng, skip }) => {
  const v = deallocatedByte(nvme0n1, skip);
  const lba = pickLba(nvme0n1, rng, 16, 8);
  writeRandom(nvme0n1, qpair, rng, lba, 16);
  requireSuccess(
    dsm(nvme0n1, qpair, [[lba, 16]]),
    "NVM Command Set 1.0, Dataset Management with AD = 1",
  );
  const got = readBack(nvme0n1, qpair, lba, 16);
  const bad = got.findIndex((b) => b !== v);
  conform(
    bad < 0,
    `NVM Command Set 1.0, DLFEAT: deallocated LBAs read as ${hex(v, 2)} bytes`,
    `byte ${bad} reads ${hex(got[bad] ?? 0, 2)}`,
  );
});

nvmeTest(
  "Deallocate 256 ranges: exactly those LBAs, the ones between keep their data",
  {
    needs: ["nvme0n1", "qpair"],
  },
  ({ nvme0n1, qpair, rng, skip }) => {
    const v = deallocatedByte(nvme0n1, skip);
    const base = pickLba(nvme0n1, rng, 1024, 1024);
    const data = writeRandom(nvme0n1, qpair, rng, base, 512);
    const ranges: [number, number][] = [];
    for (let i = 0; i < 256; i++) ranges.push([base + i * 2, 1]); // even LBAs
    requireSuccess(
      dsm(nvme0n1, qpair, ranges),
      "NVM Command Set 1.0, Dataset Management: NR = 255 (256 ranges) is the maximum and is accepted",
    );
    const got = readBack(nvme0n1, qpair, base, 512);
    const sz = nvme0n1.lbaSize;
    for (let i = 0; i < 512; i++) {
      const blk = got.subarray(i * sz, (i + 1) * sz);
      const ok = i % 2 === 0
        ? blk.every((b) => b === v)
        : firstDiff(blk, data.subarray(i * sz, (i + 1) * sz)) < 0;
      conform(
        ok,
        "NVM Command Set 1.0, Dataset Management: every range is deallocated and nothing else",
        `LBA ${base + i} (${i % 2 === 0 ? "in a range" : "between ranges"})`,
      );
    }
  },
);

nvmeTest("Deallocate with a range past the end → LBA Out of Range", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0, nvme0n1, qpair, skip }) => {
  if (!(nvme0.idCtrl.oncs & 4)) {
    return skip("Dataset Management is not supported (ONCS bit 2 = 0)");
  }
  requireStatus(
    dsm(nvme0n1, qpair, [[0, 1], [BigInt(nvme0n1.capacity) - 1n, 8]]),
    "00/80",
    "NVM Command Set 1.0, Dataset Management: a range that goes beyond NSZE",
  );
});

nvmeTest("Dataset Management with only access hints keeps the data", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0, nvme0n1, qpair, rng, skip }) => {
  if (!(nvme0.idCtrl.oncs & 4)) {
    return skip("Dataset Management is not supported (ONCS bit 2 = 0)");
  }
  const lba = pickLba(nvme0n1, rng, 64);
  const data = writeRandom(nvme0n1, qpair, rng, lba, 8);
  requireSuccess(
    dsm(nvme0n1, qpair, [[lba, 8]], 0x3), // IDR | IDW, no AD
    "NVM Command Set 1.0, Dataset Management with attributes IDR and IDW",
  );
  conform(
    firstDiff(data, readBack(nvme0n1, qpair, lba, 8)) < 0,
    "NVM Command Set 1.0, Dataset Management: without AD the data is not deallocated",
    "the data changed",
  );
});

nvmeTest("write after deallocate: the new data reads back", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0, nvme0n1, qpair, rng, skip }) => {
  if (!(nvme0.idCtrl.oncs & 4)) {
    return skip("Dataset Management is not supported (ONCS bit 2 = 0)");
  }
  const lba = pickLba(nvme0n1, rng, 64);
  writeRandom(nvme0n1, qpair, rng, lba, 8);
  requireSuccess(dsm(nvme0n1, qpair, [[lba, 8]]), "Deallocate");
  const data = writeRandom(nvme0n1, qpair, rng, lba, 8);
  conform(
    firstDiff(data, readBack(nvme0n1, qpair, lba, 8)) < 0,
    "NVM Command Set 1.0: a write to deallocated LBAs stores data like any write",
    "differs",
  );
});

nvmeTest("Write Zeroes: the LBAs read as zeros, neighbours unchanged", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0, nvme0n1, qpair, rng, skip }) => {
  if (!(nvme0.idCtrl.oncs & 8)) {
    return skip("Write Zeroes is not supported (ONCS bit 3 = 0)");
  }
  const lba = pickLba(nvme0n1, rng, 16) + 1;
  const data = writeRandom(nvme0n1, qpair, rng, lba - 1, 10);
  requireSuccess(
    lbaCmd(nvme0n1, qpair, NVM.WRITE_ZEROES, lba, 8),
    "NVM Command Set 1.0, Write Zeroes",
  );
  const got = readBack(nvme0n1, qpair, lba - 1, 10);
  const sz = nvme0n1.lbaSize;
  conform(
    got.subarray(sz, 9 * sz).every((b) => b === 0),
    "NVM Command Set 1.0, Write Zeroes: the LBAs read as zeros",
    "non-zero data",
  );
  conform(
    firstDiff(got.subarray(0, sz), data.subarray(0, sz)) < 0 &&
      firstDiff(got.subarray(9 * sz), data.subarray(9 * sz)) < 0,
    "NVM Command Set 1.0, Write Zeroes: only the LBAs of the command change",
    "a neighbour changed",
  );
});

nvmeTest("Write Zeroes past the end → LBA Out of Range", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0, nvme0n1, qpair, skip }) => {
  if (!(nvme0.idCtrl.oncs & 8)) {
    return skip("Write Zeroes is not supported (ONCS bit 3 = 0)");
  }
  requireStatus(
    lbaCmd(nvme0n1, qpair, NVM.WRITE_ZEROES, BigInt(nvme0n1.capacity) - 4n, 8),
    "00/80",
    "NVM Command Set 1.0, Write Zeroes: SLBA+NLB beyond NSZE",
  );
});

nvmeTest("Write Zeroes of 65536 LBAs (it moves no data)", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0, nvme0n1, qpair, skip }) => {
  if (!(nvme0.idCtrl.oncs & 8)) {
    return skip("Write Zeroes is not supported (ONCS bit 3 = 0)");
  }
  if (nvme0n1.capacity < 65536 * 2) return skip("the namespace is too small");
  requireSuccess(
    lbaCmd(nvme0n1, qpair, NVM.WRITE_ZEROES, 65536, 65536),
    "NVM Command Set 1.0, Write Zeroes: NLB up to 65536 (no data is transferred, MDTS does not apply unless WZSL says so)",
  );
});

nvmeTest("Write Zeroes with NSID 0 → Invalid Namespace or Format", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0, nvme0n1, qpair, skip }) => {
  if (!(nvme0.idCtrl.oncs & 8)) {
    return skip("Write Zeroes is not supported (ONCS bit 3 = 0)");
  }
  requireStatus(
    lbaCmd(nvme0n1, qpair, NVM.WRITE_ZEROES, 0, 1, { nsid: 0 }),
    "00/0b",
    "NVMe Base 2.0, I/O commands: NSID 0 is invalid",
  );
});

/**
 * Read and Write (NVM Command Set 1.0): data integrity up to MDTS, the
 * namespace boundary, MDTS, invalid/inactive/broadcast NSIDs, FUA.
 */
import { Buffer } from "../../../mod.ts";
import {
  conform,
  hex,
  inactiveNsid,
  invalidNsid,
  NVM,
  nvmeTest,
  requireStatus,
  requireSuccess,
} from "../_suite.ts";
import {
  firstDiff,
  lbaCmd,
  mdtsLbas,
  pickLba,
  readBack,
  writeRandom,
} from "./_io.ts";

const LBA_RANGE = "00/80", INVALID_NS = "00/0b";

nvmeTest("write then read back random data: 1 LBA, 8 LBAs and one MDTS", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0n1, qpair, rng }) => {
  const max = mdtsLbas(nvme0n1);
  for (const count of [1, 8, max]) {
    const lba = rng.int(0, Math.min(nvme0n1.capacity, 1 << 20) - count);
    const data = writeRandom(nvme0n1, qpair, rng, lba, count);
    const got = readBack(nvme0n1, qpair, lba, count);
    const d = firstDiff(data, got);
    conform(
      d < 0,
      "NVM Command Set 1.0, Read: returns the data last written to the LBAs",
      `${count} LBAs at ${lba}: byte ${d} differs`,
    );
  }
});

nvmeTest("the last LBA can be read and written; LBA NSZE → LBA Out of Range", {
  needs: ["nvme0n1", "qpair", "buf"],
}, ({ nvme0n1, qpair, buf, rng }) => {
  const last = BigInt(nvme0n1.capacity) - 1n;
  const data = writeRandom(nvme0n1, qpair, rng, last, 1);
  conform(
    firstDiff(data, readBack(nvme0n1, qpair, last, 1)) < 0,
    "the last LBA (NSZE-1) holds data like any other",
    "differs",
  );
  requireStatus(
    lbaCmd(nvme0n1, qpair, NVM.READ, last + 1n, 1, { buf }),
    LBA_RANGE,
    "NVM Command Set 1.0, Read: SLBA = NSZE is beyond the namespace",
  );
  requireStatus(
    lbaCmd(nvme0n1, qpair, NVM.WRITE, last + 1n, 1, { buf }),
    LBA_RANGE,
    "NVM Command Set 1.0, Write: SLBA = NSZE is beyond the namespace",
  );
});

nvmeTest("a transfer crossing the end of the namespace → LBA Out of Range", {
  needs: ["nvme0n1", "qpair", "buf"],
}, ({ nvme0n1, qpair, buf }) => {
  const last = BigInt(nvme0n1.capacity) - 1n;
  for (const opc of [NVM.READ, NVM.WRITE]) {
    requireStatus(
      lbaCmd(nvme0n1, qpair, opc, last, 2, { buf }),
      LBA_RANGE,
      `NVM Command Set 1.0, ${
        opc === NVM.READ ? "Read" : "Write"
      }: SLBA+NLB exceeds NSZE`,
    );
  }
});

nvmeTest("SLBA FFFFFFFFFFFFFFFFh → LBA Out of Range", {
  needs: ["nvme0n1", "qpair", "buf"],
}, ({ nvme0n1, qpair, buf }) => {
  requireStatus(
    lbaCmd(nvme0n1, qpair, NVM.READ, 0xffffffffffffffffn, 1, { buf }),
    LBA_RANGE,
    "NVM Command Set 1.0, Read: the largest SLBA is beyond any namespace (no wrap-around)",
  );
});

nvmeTest("a transfer above MDTS → Invalid Field; exactly MDTS works", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0, nvme0n1, qpair, skip }) => {
  if (nvme0.idCtrl.mdts === 0) return skip("MDTS = 0: no transfer size limit");
  const max = Math.floor(nvme0.mdts / nvme0n1.lbaSize);
  if (max >= 65536) {
    return skip("MDTS is above the 65536 LBAs one command can name");
  }
  using buf = new Buffer((max + 1) * nvme0n1.lbaSize);
  requireSuccess(
    lbaCmd(nvme0n1, qpair, NVM.READ, 0, max, { buf }),
    `NVMe Base 2.0, MDTS: a read of exactly MDTS (${nvme0.mdts} bytes)`,
  );
  for (const opc of [NVM.READ, NVM.WRITE]) {
    requireStatus(
      lbaCmd(nvme0n1, qpair, opc, 0, max + 1, { buf }),
      "00/02",
      `NVMe Base 2.0, MDTS: a ${opc === NVM.READ ? "read" : "write"} of ${
        (max + 1) * nvme0n1.lbaSize
      } bytes exceeds MDTS (${nvme0.mdts} bytes)`,
    );
  }
});

nvmeTest("read or write with NSID 0 → Invalid Namespace or Format", {
  needs: ["nvme0n1", "qpair", "buf"],
}, ({ nvme0n1, qpair, buf }) => {
  for (const opc of [NVM.READ, NVM.WRITE]) {
    requireStatus(
      lbaCmd(nvme0n1, qpair, opc, 0, 1, { buf, nsid: 0 }),
      INVALID_NS,
      `NVMe Base 2.0, I/O commands: NSID 0 is invalid (opcode ${hex(opc, 2)})`,
    );
  }
});

nvmeTest("read with an NSID above NN → Invalid Namespace or Format", {
  needs: ["nvme0n1", "qpair", "buf"],
}, ({ nvme0, nvme0n1, qpair, buf, skip }) => {
  const nsid = invalidNsid(nvme0);
  if (nsid === undefined) return skip("no invalid NSID below FFFFFFFEh");
  requireStatus(
    lbaCmd(nvme0n1, qpair, NVM.READ, 0, 1, { buf, nsid }),
    INVALID_NS,
    `NVMe Base 2.0, I/O commands: NSID ${hex(nsid)} is above NN`,
  );
});

nvmeTest(
  "read of an inactive namespace → Invalid Field (Invalid Namespace or Format before 2.0)",
  {
    needs: ["nvme0n1", "qpair", "buf"],
  },
  ({ nvme0, nvme0n1, qpair, buf, skip }) => {
    const nsid = inactiveNsid(nvme0);
    if (nsid === undefined) return skip("every NSID up to NN is active");
    requireStatus(
      lbaCmd(nvme0n1, qpair, NVM.READ, 0, 1, { buf, nsid }),
      ["00/02", "00/0b"],
      `NVMe Base 2.0, valid and invalid NSIDs: an inactive NSID (${nsid}) → Invalid Field in Command (NVMe 1.4 used Invalid Namespace or Format)`,
    );
  },
);

nvmeTest("read with the broadcast NSID → refused", {
  needs: ["nvme0n1", "qpair", "buf"],
}, ({ nvme0n1, qpair, buf }) => {
  requireStatus(
    lbaCmd(nvme0n1, qpair, NVM.READ, 0, 1, { buf, nsid: 0xffffffff }),
    ["00/0b", "00/02"],
    "NVMe Base 2.0: Read does not support the broadcast NSID FFFFFFFFh",
  );
});

nvmeTest("write and read with Force Unit Access: the data round-trips", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0n1, qpair, rng }) => {
  using w = new Buffer(8 * nvme0n1.lbaSize),
    r = new Buffer(8 * nvme0n1.lbaSize);
  for (let i = 0; i < 8; i++) {
    rng.fill(w.bytes);
    const lba = pickLba(nvme0n1, rng, 64);
    requireSuccess(
      lbaCmd(nvme0n1, qpair, NVM.WRITE, lba, 8, { buf: w, flags: 1 << 14 }),
      "NVM Command Set 1.0, Write with FUA",
    );
    requireSuccess(
      lbaCmd(nvme0n1, qpair, NVM.READ, lba, 8, { buf: r, flags: 1 << 14 }),
      "NVM Command Set 1.0, Read with FUA",
    );
    const d = firstDiff(
      w.slice(0, 8 * nvme0n1.lbaSize),
      r.slice(0, 8 * nvme0n1.lbaSize),
    );
    conform(
      d < 0,
      "a FUA read returns the FUA write's data",
      `byte ${d} differs`,
    );
  }
});

nvmeTest("overlapping writes issued in order: the last one wins", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0n1, qpair, rng }) => {
  const lba = pickLba(nvme0n1, rng, 64);
  writeRandom(nvme0n1, qpair, rng, lba, 8);
  const last = writeRandom(nvme0n1, qpair, rng, lba + 4, 8);
  const got = readBack(nvme0n1, qpair, lba + 4, 8);
  conform(
    firstDiff(last, got) < 0,
    "NVM Command Set 1.0, Write: a completed write is what later reads return",
    "the earlier write's data came back",
  );
});

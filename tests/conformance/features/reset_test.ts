/**
 * Resets (NVMe Base 2.0, "Resets"): a controller reset with I/O in flight,
 * what a reset deletes and resets, NVM subsystem reset.
 */
import { Buffer, type Completion, Qpair, Reg } from "../../../mod.ts";
import {
  ADM,
  adminCmd,
  conform,
  hex,
  nvmeTest,
  requireStatus,
  requireSuccess,
} from "../_suite.ts";
import { firstDiff, pickLba, readBack, writeRandom } from "../nvm/_io.ts";

nvmeTest(
  "controller reset with writes in flight: every LBA holds the old or the new data",
  {
    needs: ["nvme0n1", "qpair"],
    qpairDepth: 128,
  },
  ({ nvme0, nvme0n1, qpair, rng }) => {
    const cmds = 100, per = 8, sz = nvme0n1.lbaSize;
    const base = pickLba(nvme0n1, rng, 1024, 1024);
    const old = writeRandom(nvme0n1, qpair, rng, base, cmds * per);
    using fresh = new Buffer(cmds * per * sz, "new data");
    rng.fill(fresh.bytes);
    const bufs: Buffer[] = [];
    const done: Completion[] = [];
    for (let i = 0; i < cmds; i++) {
      const b = new Buffer(per * sz);
      b.write(fresh.bytes.subarray(i * per * sz, (i + 1) * per * sz));
      bufs.push(b);
      nvme0n1.write(qpair, b, base + i * per, per, (c) => done.push(c));
    }
    nvme0.reset(); // CC.EN 1 -> 0 -> 1 with the writes outstanding
    using q = new Qpair(nvme0, 16);
    const got = readBack(nvme0n1, q, base, cmds * per);
    bufs.forEach((b) => b.close());
    let oldN = 0, newN = 0;
    for (let l = 0; l < cmds * per; l++) {
      const blk = got.subarray(l * sz, (l + 1) * sz);
      if (firstDiff(blk, old.subarray(l * sz, (l + 1) * sz)) < 0) oldN++;
      else if (
        firstDiff(blk, fresh.bytes.subarray(l * sz, (l + 1) * sz)) < 0
      ) newN++;
      else {
        conform(
          false,
          "NVMe Base 2.0, Controller Reset: outstanding commands are aborted or complete; an LBA holds either its old or its new data, never a mix (write atomicity of at least one LBA)",
          `LBA ${base + l} holds neither (${oldN} old, ${newN} new so far)`,
        );
      }
    }
    const completed = done.filter((c) => c.ok).length;
    conform(
      newN >= completed * per,
      "writes that completed successfully before the reset are in the media",
      `${completed} writes completed, only ${newN} LBAs have new data`,
    );
  },
);

nvmeTest(
  "controller reset deletes the I/O queues; their identifiers are free again",
  {
    needs: ["nvme0"],
  },
  ({ nvme0 }) => {
    using ring = new Buffer(4096);
    const cq = () =>
      adminCmd(nvme0, ADM.CREATE_CQ, {
        prp1: ring.iova,
        prp2: 0n,
        cdw10: 3 << 16 | 1,
        cdw11: 1,
      });
    requireSuccess(cq(), "Create I/O Completion Queue 1");
    nvme0.reset();
    requireStatus(
      adminCmd(nvme0, ADM.DELETE_SQ, { cdw10: 1 }),
      "01/01",
      "NVMe Base 2.0, Controller Reset: every I/O submission queue is deleted (deleting SQ 1 afterwards finds no queue)",
    );
    requireSuccess(
      cq(),
      "NVMe Base 2.0, Controller Reset: every I/O completion queue is deleted, so CQ 1 can be created again",
    );
    requireSuccess(
      adminCmd(nvme0, ADM.DELETE_CQ, { cdw10: 1 }),
      "Delete I/O Completion Queue 1",
    );
  },
);

nvmeTest("controller reset returns feature values to their defaults", {
  needs: ["nvme0"],
}, ({ nvme0, defer }) => {
  const cur = nvme0.getfeatures(4).waitdone() & 0xffff;
  defer(() => void nvme0.setfeatures(4, { cdw11: cur }).waitdone());
  const want = cur - 3;
  nvme0.setfeatures(4, { cdw11: want }).waitdone();
  nvme0.reset();
  const after = nvme0.getfeatures(4).waitdone() & 0xffff;
  conform(
    after !== want,
    "NVMe Base 2.0, Feature Values: after a Controller Level Reset a feature that is not saved returns to its default (Temperature Threshold)",
    `the threshold set before the reset (${want} K) is still current (default ${cur} K)`,
  );
});

nvmeTest("data written and flushed survives a controller reset", {
  needs: ["nvme0n1", "qpair"],
}, ({ nvme0, nvme0n1, qpair, rng }) => {
  const lba = pickLba(nvme0n1, rng, 64);
  const data = writeRandom(nvme0n1, qpair, rng, lba, 16);
  nvme0n1.flush(qpair).waitdone();
  nvme0.reset();
  using q = new Qpair(nvme0, 8);
  conform(
    firstDiff(data, readBack(nvme0n1, q, lba, 16)) < 0,
    "NVMe Base 2.0, Controller Reset: the contents of the NVM media are not affected",
    "the data changed",
  );
});

nvmeTest("NVM subsystem reset: the controller is reset and CSTS.NSSRO is set", {
  needs: ["nvme0", "subsystem"],
  own: true,
}, ({ nvme0, subsystem, skip }) => {
  if (!((nvme0.cap >> 36n) & 1n)) {
    return skip("NVM subsystem reset is not supported (CAP.NSSRS = 0)");
  }
  subsystem.reset();
  const csts = nvme0.reg32(Reg.CSTS);
  conform(
    (csts & 0x10) !== 0 && (csts & 1) === 0,
    "NVMe Base 2.0, NSSR: an NVM subsystem reset resets the controller and sets CSTS.NSSRO",
    `CSTS ${hex(csts, 8)}`,
  );
  nvme0.reset();
  nvme0.getfeatures(7).waitdone();
});

/**
 * Create/Delete I/O Submission and Completion Queue (NVMe Base 2.0, the
 * queue commands and "Queue Size"/"Queue Identifier" rules): invalid ids,
 * sizes, vectors, contiguity and deletion order.
 */
import {
  Buffer,
  type Completion,
  type Controller,
  IoCQ,
  IoSQ,
  sqe,
} from "../../../mod.ts";
import {
  ADM,
  adminCmd,
  capField,
  conform,
  hex,
  NVM,
  nvmeTest,
  requireStatus,
  requireSuccess,
} from "../_suite.ts";

interface QueueOpts {
  iv?: number;
  ien?: boolean;
  pc?: boolean;
  prp1?: bigint;
}

const rings: Buffer[] = [];
function ring(bytes: number): Buffer {
  const b = new Buffer(Math.max(4096, bytes), "ring");
  rings.push(b);
  return b;
}

function createCq(
  nvme0: Controller,
  qid: number,
  qsize: number,
  o: QueueOpts = {},
): Completion {
  const r = o.prp1 === undefined ? ring(qsize * 16) : undefined;
  return adminCmd(nvme0, ADM.CREATE_CQ, {
    prp1: o.prp1 ?? r!.iova,
    prp2: 0n,
    cdw10: (((qsize - 1) & 0xffff) << 16 | qid) >>> 0,
    cdw11: ((o.iv ?? 0) << 16 | (o.ien ? 2 : 0) | (o.pc ?? true ? 1 : 0)) >>> 0,
  });
}
function createSq(
  nvme0: Controller,
  qid: number,
  qsize: number,
  cqid: number,
  o: QueueOpts = {},
): Completion {
  const r = o.prp1 === undefined ? ring(qsize * 64) : undefined;
  return adminCmd(nvme0, ADM.CREATE_SQ, {
    prp1: o.prp1 ?? r!.iova,
    prp2: 0n,
    cdw10: (((qsize - 1) & 0xffff) << 16 | qid) >>> 0,
    cdw11: (cqid << 16 | (o.pc ?? true ? 1 : 0)) >>> 0,
  });
}
const deleteSq = (nvme0: Controller, qid: number) =>
  adminCmd(nvme0, ADM.DELETE_SQ, { cdw10: qid });
const deleteCq = (nvme0: Controller, qid: number) =>
  adminCmd(nvme0, ADM.DELETE_CQ, { cdw10: qid });

const INVALID_QID = "01/01", INVALID_SIZE = "01/02", INVALID_CQ = "01/00";

function freeRings(): void {
  for (const b of rings.splice(0)) b.close();
}

nvmeTest("Create I/O CQ with queue identifier 0 → Invalid Queue Identifier", {
  needs: ["nvme0"],
}, ({ nvme0, defer }) => {
  defer(freeRings);
  requireStatus(
    createCq(nvme0, 0, 16),
    INVALID_QID,
    "NVMe Base 2.0, Create I/O Completion Queue: QID 0 is the admin queue",
  );
});

nvmeTest(
  "Create I/O CQ above the number of queues allocated → Invalid Queue Identifier",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, defer, skip }) => {
    defer(freeRings);
    const { ncqa } = nvme0.queueCounts;
    if (ncqa >= 0xffff) return skip("65535 completion queues allocated");
    requireStatus(
      createCq(nvme0, ncqa + 1, 16),
      INVALID_QID,
      `NVMe Base 2.0, Create I/O Completion Queue: QID ${
        ncqa + 1
      } exceeds the ${ncqa} queues allocated (Number of Queues)`,
    );
  },
);

nvmeTest("Create I/O CQ with an identifier in use → Invalid Queue Identifier", {
  needs: ["nvme0"],
}, ({ nvme0, defer }) => {
  defer(freeRings);
  requireSuccess(createCq(nvme0, 1, 16), "Create I/O Completion Queue 1");
  defer(() => void deleteCq(nvme0, 1));
  requireStatus(
    createCq(nvme0, 1, 16),
    INVALID_QID,
    "NVMe Base 2.0, Create I/O Completion Queue: the identifier is already in use",
  );
});

nvmeTest("Create I/O CQ of one entry → Invalid Queue Size", {
  needs: ["nvme0"],
}, ({ nvme0, defer }) => {
  defer(freeRings);
  requireStatus(
    createCq(nvme0, 1, 1),
    INVALID_SIZE,
    "NVMe Base 2.0, Queue Size: the minimum size of an I/O queue is two entries (QSIZE 0 is invalid)",
  );
});

nvmeTest(
  "Create I/O CQ larger than CAP.MQES+1 → Invalid Queue Size; MQES+1 works",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, defer, skip }) => {
    defer(freeRings);
    const mqes = nvme0.mqes;
    if (mqes >= 65536) {
      return skip(
        "CAP.MQES allows 65536 entries: no larger size exists",
      );
    }
    requireStatus(
      createCq(nvme0, 1, mqes + 1),
      INVALID_SIZE,
      `NVMe Base 2.0, Create I/O Completion Queue: ${
        mqes + 1
      } entries exceed CAP.MQES+1 (${mqes})`,
    );
    requireSuccess(
      createCq(nvme0, 1, mqes),
      `NVMe Base 2.0, Create I/O Completion Queue: CAP.MQES+1 = ${mqes} entries are allowed`,
    );
    requireSuccess(deleteCq(nvme0, 1), "Delete I/O Completion Queue 1");
  },
);

nvmeTest(
  "Create I/O CQ with an interrupt vector beyond the function's vectors → Invalid Interrupt Vector",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, defer, skip }) => {
    defer(freeRings);
    const pcie = nvme0.pcie;
    const msix = pcie.capOffset(0x11);
    if (msix === undefined) return skip("no MSI-X capability");
    const vectors = (pcie.cfg(msix + 2, 2) & 0x7ff) + 1;
    if (vectors >= 2048) {
      return skip("2048 MSI-X vectors: no vector beyond them");
    }
    requireStatus(
      createCq(nvme0, 1, 16, { iv: vectors, ien: true }),
      "01/08",
      `NVMe Base 2.0, Create I/O Completion Queue: IV ${vectors} is beyond the ${vectors} MSI-X vectors`,
    );
  },
);

nvmeTest(
  "Create I/O CQ not physically contiguous when CAP.CQR = 1 → Invalid Field",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, defer, skip }) => {
    defer(freeRings);
    if (!capField(nvme0.cap, 16, 1)) {
      return skip(
        "CAP.CQR = 0: non-contiguous queues are allowed",
      );
    }
    requireStatus(
      createCq(nvme0, 1, 16, { pc: false }),
      "00/02",
      "NVMe Base 2.0, CAP.CQR = 1: I/O queues must be physically contiguous (PC = 0 is invalid)",
    );
  },
);

nvmeTest("Create I/O CQ with a base address that is not page aligned → error", {
  needs: ["nvme0"],
}, ({ nvme0, defer }) => {
  defer(freeRings);
  const r = ring(8192);
  for (const off of [0x100n, 4n]) {
    const c = createCq(nvme0, 1, 16, { prp1: r.iova + off });
    if (c.ok) deleteCq(nvme0, 1);
    requireStatus(
      c,
      ["00/13", "00/02"],
      `NVMe Base 2.0, Create I/O Completion Queue: PRP Entry 1 of a contiguous queue is memory page aligned (offset ${
        hex(off)
      } → Invalid PRP Offset or Invalid Field)`,
    );
  }
});

nvmeTest(
  "Create I/O SQ for a completion queue that does not exist → Completion Queue Invalid",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, defer }) => {
    defer(freeRings);
    requireStatus(
      createSq(nvme0, 1, 16, 1),
      INVALID_CQ,
      "NVMe Base 2.0, Create I/O Submission Queue: CQID names no existing I/O completion queue",
    );
  },
);

nvmeTest(
  "Create I/O SQ on the admin completion queue → Completion Queue Invalid",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, defer }) => {
    defer(freeRings);
    requireStatus(
      createSq(nvme0, 1, 16, 0),
      INVALID_CQ,
      "NVMe Base 2.0, Create I/O Submission Queue: CQID 0 (the admin completion queue) is invalid",
    );
  },
);

nvmeTest(
  "Create I/O SQ with identifier 0 or above the allocation → Invalid Queue Identifier",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, defer }) => {
    defer(freeRings);
    requireSuccess(createCq(nvme0, 1, 16), "Create I/O Completion Queue 1");
    defer(() => void deleteCq(nvme0, 1));
    requireStatus(
      createSq(nvme0, 0, 16, 1),
      INVALID_QID,
      "NVMe Base 2.0, Create I/O Submission Queue: QID 0 is the admin queue",
    );
    const { nsqa } = nvme0.queueCounts;
    if (nsqa < 0xffff) {
      requireStatus(
        createSq(nvme0, nsqa + 1, 16, 1),
        INVALID_QID,
        `NVMe Base 2.0, Create I/O Submission Queue: QID ${
          nsqa + 1
        } exceeds the ${nsqa} queues allocated`,
      );
    }
  },
);

nvmeTest("Create I/O SQ with an identifier in use → Invalid Queue Identifier", {
  needs: ["nvme0"],
}, ({ nvme0, defer }) => {
  defer(freeRings);
  requireSuccess(createCq(nvme0, 1, 16), "Create I/O Completion Queue 1");
  defer(() => void deleteCq(nvme0, 1));
  requireSuccess(createSq(nvme0, 1, 16, 1), "Create I/O Submission Queue 1");
  defer(() => void deleteSq(nvme0, 1));
  requireStatus(
    createSq(nvme0, 1, 16, 1),
    INVALID_QID,
    "NVMe Base 2.0, Create I/O Submission Queue: the identifier is already in use",
  );
});

nvmeTest(
  "Create I/O SQ of one entry, or larger than CAP.MQES+1 → Invalid Queue Size",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, defer }) => {
    defer(freeRings);
    requireSuccess(createCq(nvme0, 1, 16), "Create I/O Completion Queue 1");
    defer(() => void deleteCq(nvme0, 1));
    requireStatus(
      createSq(nvme0, 1, 1, 1),
      INVALID_SIZE,
      "NVMe Base 2.0, Queue Size: the minimum size of an I/O queue is two entries",
    );
    const mqes = nvme0.mqes;
    if (mqes < 65536) {
      requireStatus(
        createSq(nvme0, 1, mqes + 1, 1),
        INVALID_SIZE,
        `NVMe Base 2.0, Create I/O Submission Queue: ${
          mqes + 1
        } entries exceed CAP.MQES+1`,
      );
    }
  },
);

nvmeTest(
  "Create I/O SQ not physically contiguous when CAP.CQR = 1 → Invalid Field",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, defer, skip }) => {
    defer(freeRings);
    if (!capField(nvme0.cap, 16, 1)) return skip("CAP.CQR = 0");
    requireSuccess(createCq(nvme0, 1, 16), "Create I/O Completion Queue 1");
    defer(() => void deleteCq(nvme0, 1));
    requireStatus(
      createSq(nvme0, 1, 16, 1, { pc: false }),
      "00/02",
      "NVMe Base 2.0, CAP.CQR = 1: PC = 0 is invalid",
    );
  },
);

nvmeTest(
  "Delete I/O CQ while a submission queue uses it → Invalid Queue Deletion",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, defer }) => {
    defer(freeRings);
    requireSuccess(createCq(nvme0, 1, 16), "Create I/O Completion Queue 1");
    requireSuccess(createSq(nvme0, 1, 16, 1), "Create I/O Submission Queue 1");
    const c = deleteCq(nvme0, 1);
    requireSuccess(deleteSq(nvme0, 1), "Delete I/O Submission Queue 1");
    requireSuccess(
      deleteCq(nvme0, 1),
      "Delete I/O Completion Queue 1 after its SQ",
    );
    requireStatus(
      c,
      "01/0c",
      "NVMe Base 2.0, Delete I/O Completion Queue: all submission queues using it are deleted first",
    );
  },
);

nvmeTest("Delete I/O SQ or CQ with identifier 0 → Invalid Queue Identifier", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  requireStatus(
    deleteSq(nvme0, 0),
    INVALID_QID,
    "NVMe Base 2.0, Delete I/O Submission Queue: QID 0 (admin) is invalid",
  );
  requireStatus(
    deleteCq(nvme0, 0),
    INVALID_QID,
    "NVMe Base 2.0, Delete I/O Completion Queue: QID 0 (admin) is invalid",
  );
});

nvmeTest("Delete an I/O queue that does not exist → Invalid Queue Identifier", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  requireStatus(
    deleteSq(nvme0, 1),
    INVALID_QID,
    "NVMe Base 2.0, Delete I/O Submission Queue: the queue does not exist",
  );
  requireStatus(
    deleteCq(nvme0, 1),
    INVALID_QID,
    "NVMe Base 2.0, Delete I/O Completion Queue: the queue does not exist",
  );
});

nvmeTest("every queue pair allocated can be created", {
  needs: ["nvme0"],
}, ({ nvme0, defer }) => {
  defer(freeRings);
  const n = Math.min(nvme0.queueCounts.nsqa, nvme0.queueCounts.ncqa, 128);
  const made: number[] = [];
  defer(() => {
    for (const q of made.reverse()) {
      deleteSq(nvme0, q);
      deleteCq(nvme0, q);
    }
  });
  for (let q = 1; q <= n; q++) {
    requireSuccess(
      createCq(nvme0, q, 2),
      `Create I/O Completion Queue ${q} of ${n} allocated`,
    );
    const c = createSq(nvme0, q, 2, q);
    if (!c.ok) deleteCq(nvme0, q);
    requireSuccess(c, `Create I/O Submission Queue ${q} of ${n} allocated`);
    made.push(q);
  }
});

nvmeTest(
  "Delete I/O SQ with commands in flight: each completes before the deletion does",
  {
    needs: ["nvme0n1"],
  },
  ({ nvme0, nvme0n1 }) => {
    using buf = new Buffer(4096);
    using cq = new IoCQ(nvme0, 1, 64);
    const sq = new IoSQ(nvme0, 1, 64, cq);
    const n = 48;
    for (let i = 0; i < n; i++) {
      sq.set(
        i,
        sqe({
          opc: NVM.READ,
          cid: i,
          nsid: nvme0n1.nsid,
          prp1: buf.iova,
          cdw: { 10: i, 12: 7 },
        }),
      );
    }
    sq.tail = n;
    sq.delete(); // returns when the controller completed the deletion
    const seen = new Map<number, string>();
    for (let i = 0; i < 64; i++) {
      const e = cq.get(i);
      if (e.p !== 1) break;
      seen.set(
        e.cid,
        `${e.sct.toString(16).padStart(2, "0")}/${
          e.sc.toString(16).padStart(2, "0")
        }`,
      );
    }
    const bad = [...seen.values()].filter((s) =>
      s !== "00/00" && s !== "00/08"
    );
    conform(
      seen.size === n && bad.length === 0,
      "NVMe Base 2.0, Delete I/O Submission Queue: commands of the queue are completed (or aborted with 00/08 Command Aborted due to SQ Deletion) before the deletion completes",
      `${seen.size} of ${n} completions posted${
        bad.length ? `, statuses ${bad.join(",")}` : ""
      }`,
    );
  },
);

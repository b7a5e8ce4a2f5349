/**
 * Queue and arbitration edge cases (NVMe Base 2.0: 3.4.4 Command Arbitration,
 * 3.3.1 Queue Mechanism and the doorbells, 5.2 Asynchronous Event Request,
 * 5.4/5.6 Create/Delete I/O queues and their ordering, 5.27.1.8/5.27.1.9
 * Interrupt Coalescing and Interrupt Vector Configuration): weighted round
 * robin where CAP.AMS claims it, queue priority, doorbell values out of range
 * and the asynchronous event they raise (once until its log page is read),
 * deletion ordering of shared completion queues, interrupt vectors shared by
 * completion queues and their coalescing settings.
 */
import {
  type Buffer,
  type Controller,
  decodeAsyncEvent,
  IoCQ,
  IoSQ,
  Qpair,
  type RawCqe,
  sqe,
  StatusError,
} from "../../../mod.ts";
import {
  ADM,
  adminCmd,
  Checks,
  conform,
  hex,
  NVM,
  nvmeTest,
  requireStatus,
  requireSuccess,
  waitFor,
} from "../_suite.ts";
import { Buffer as DmaBuffer } from "../../../mod.ts";

const read = (cid: number, buf: Buffer, lba = 0) =>
  sqe({ opc: NVM.READ, cid, nsid: 1, prp1: buf.iova, cdw: { 10: lba } });

const show = (e: RawCqe) =>
  `cid ${e.cid} sqid ${e.sqid} sqhd ${e.sqhd} p ${e.p} status ${hex(e.status)}`;

/** Asynchronous events that arrive within `ms` (admin commands reap them). */
function events(nvme0: Controller, ms: number) {
  const out: ReturnType<typeof decodeAsyncEvent>[] = [];
  waitFor(
    () => {
      out.push(...nvme0.takeAerEvents().map((c) => decodeAsyncEvent(c.cdw0)));
      return out.length > 0;
    },
    ms,
    () => {
      try {
        nvme0.getfeatures(7).waitdone();
      } catch (e) {
        if (!(e instanceof StatusError)) throw e;
      }
    },
  );
  return out;
}

/** Idle for `ms` while letting the device run (register reads). */
function idle(nvme0: Controller, ms: number): void {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) nvme0.reg32(0x1c);
}

const evText = (ev: ReturnType<typeof decodeAsyncEvent>[]) =>
  ev.length
    ? ev.map((e) => `${e.typeName}: ${e.infoName}`).join("; ")
    : "no event";

// --- arbitration ------------------------------------------------------------------------

nvmeTest(
  "Base 2.0 3.4.4.2: weighted round robin when CAP.AMS claims it: CC.AMS = 001b enables and the controller becomes ready",
  { needs: ["nvme0"], own: true, area: "queues" },
  ({ nvme0, skip }) => {
    const ams = Number((nvme0.cap >> 17n) & 3n);
    if (!(ams & 1)) {
      return skip(
        "weighted round robin with urgent priority class is not supported (CAP.AMS bit 0 = 0)",
      );
    }
    nvme0.setReg32(0x14, nvme0.reg32(0x14) & ~1);
    waitFor(() => !(nvme0.reg32(0x1c) & 1), 10_000, () => {});
    const cc = (nvme0.reg32(0x14) & ~(7 << 11)) | 1 << 11 | 1;
    nvme0.setReg32(0x14, cc);
    const ready = waitFor(
      () => (nvme0.reg32(0x1c) & 3) === 1,
      10_000,
      () => {},
    );
    conform(
      ready && ((nvme0.reg32(0x14) >> 11) & 7) === 1,
      "NVMe Base 2.0, CC.AMS: an arbitration mechanism CAP.AMS claims is accepted at enable",
      `CSTS ${hex(nvme0.reg32(0x1c))}, CC ${hex(nvme0.reg32(0x14))}`,
    );
    nvme0.reset();
  },
);

nvmeTest(
  "Base 2.0 5.27.1.1: Arbitration (mandatory feature) reads back: burst and weights in their fields",
  { needs: ["nvme0"], area: "queues" },
  ({ nvme0 }) => {
    const c = adminCmd(nvme0, ADM.GET_FEATURES, { cdw10: 0x01 });
    requireSuccess(c, "NVMe Base 2.0, Get Features Arbitration (01h)");
    const reserved = (c.cdw0 >>> 3) & 0x1f;
    conform(
      reserved === 0,
      "NVMe Base 2.0, Arbitration: bits 07:03 are reserved (zero)",
      `CDW0 ${hex(c.cdw0, 8)}`,
    );
  },
);

for (const prio of [0, 1, 2, 3]) {
  nvmeTest(
    `Base 2.0 5.5: Create I/O SQ with queue priority ${prio} works whatever the arbitration (QPRIO ignored without WRR)`,
    { needs: ["nvme0n1", "buf"], area: "queues" },
    ({ nvme0, buf }) => {
      // raw queues: the driver's Qpair refuses a priority without WRR
      using cq = new IoCQ(nvme0, 1, 4);
      using sq = new IoSQ(nvme0, 1, 4, cq, { prio });
      sq.set(0, read(0x40 + prio, buf));
      sq.tail = 1;
      const e = cq.waitEntry(0, 1);
      cq.head = 1;
      conform(
        e?.cid === 0x40 + prio && e.status === 0,
        "NVMe Base 2.0, Create I/O SQ QPRIO: a queue of any priority class serves its commands (QPRIO is used only with weighted round robin)",
        e ? show(e) : "no completion",
      );
    },
  );
}

nvmeTest(
  "Base 2.0 3.4.4.1: round robin: four SQs of one priority, each loaded, all complete (no queue starves)",
  { needs: ["nvme0n1", "buf"], area: "queues" },
  ({ nvme0, buf }) => {
    using cq = new IoCQ(nvme0, 1, 64);
    const sqs = [1, 2, 3, 4].map((q) => new IoSQ(nvme0, q, 8, cq));
    try {
      sqs.forEach((sq, k) => {
        for (let i = 0; i < 7; i++) sq.set(i, read(k * 16 + i, buf, i));
      });
      sqs.forEach((sq) => sq.tail = 7);
      const es: RawCqe[] = [];
      for (let i = 0; i < 28; i++) {
        const e = cq.waitEntry(i, 1, 5000);
        if (!e) break;
        es.push(e);
      }
      cq.head = es.length % 64;
      const per = [1, 2, 3, 4].map((q) =>
        es.filter((e) => e.sqid === q).length
      );
      conform(
        per.every((n) => n === 7),
        "NVMe Base 2.0, 3.4.4.1 Round Robin: every submission queue is served; each gets its commands completed",
        `completions per SQ 1..4: ${per.join(", ")}`,
      );
    } finally {
      sqs.forEach((s) => s.delete());
    }
  },
);

// --- doorbells ----------------------------------------------------------------------------

nvmeTest(
  "Base 2.0 3.3.1: an SQ tail doorbell rewritten with the same value submits nothing new",
  { needs: ["nvme0n1", "buf"], area: "queues" },
  ({ nvme0, buf }) => {
    using cq = new IoCQ(nvme0, 1, 8);
    using sq = new IoSQ(nvme0, 1, 8, cq);
    for (let i = 0; i < 3; i++) sq.set(i, read(i, buf));
    sq.tail = 3;
    for (let i = 0; i < 3; i++) cq.waitEntry(i, 1);
    sq.tail = 3; // the same tail again
    idle(nvme0, 200);
    const slot3 = cq.get(3);
    cq.head = 3;
    conform(
      slot3.p === 0,
      "NVMe Base 2.0, Queue Mechanism: the SQ holds the entries between head and tail; writing the current tail again adds none (no command runs twice)",
      `slot 3 posted: ${show(slot3)}`,
    );
  },
);

nvmeTest(
  "Base 2.0 3.3.1: several commands submitted with one doorbell write are all processed; SQHD reaches the tail",
  { needs: ["nvme0n1", "buf"], area: "queues" },
  ({ nvme0, buf }) => {
    using cq = new IoCQ(nvme0, 1, 32);
    using sq = new IoSQ(nvme0, 1, 32, cq);
    for (let i = 0; i < 20; i++) sq.set(i, read(i, buf, i));
    sq.tail = 20;
    const es = Array.from({ length: 20 }, (_, i) => cq.waitEntry(i, 1));
    cq.head = 20;
    const got = es.filter((e) => e !== undefined) as RawCqe[];
    conform(
      got.length === 20 && got.some((e) => e.sqhd === 20),
      "NVMe Base 2.0, Queue Mechanism: one tail doorbell write submits every entry up to it; the last SQHD reported is the tail",
      `${got.length} of 20 completed, SQHD ${got.map((e) => e.sqhd).join(",")}`,
    );
  },
);

nvmeTest(
  "Base 2.0 3.3.1.2: a queue of the minimum size (2 entries) carries commands one at a time",
  { needs: ["nvme0n1", "buf"], area: "queues" },
  ({ nvme0, buf }) => {
    using cq = new IoCQ(nvme0, 1, 2);
    using sq = new IoSQ(nvme0, 1, 2, cq);
    let tail = 0, head = 0, phase = 1;
    const bad: string[] = [];
    for (let i = 0; i < 6; i++) {
      sq.set(tail, read(50 + i, buf));
      tail = (tail + 1) % 2;
      sq.tail = tail;
      const e = cq.waitEntry(head, phase);
      if (!e || e.cid !== 50 + i || e.status) {
        bad.push(e ? show(e) : `no completion ${i}`);
      }
      head = (head + 1) % 2;
      if (head === 0) phase ^= 1;
      cq.head = head;
    }
    conform(
      bad.length === 0,
      "NVMe Base 2.0, Create I/O SQ/CQ: a queue size of 2 entries (QSIZE 1) is valid and holds one command",
      bad.join("; "),
    );
  },
);

nvmeTest(
  "Base 2.0 5.2: an invalid doorbell value raises one event; the next waits until the Error Information log is read",
  { needs: ["nvme0"], own: true, area: "queues" },
  ({ nvme0 }) => {
    using cq = new IoCQ(nvme0, 1, 4);
    using sq = new IoSQ(nvme0, 1, 4, cq);
    nvme0.takeAerEvents();
    sq.tail = 9;
    const first = events(nvme0, 3000);
    conform(
      first.some((e) => e.type === 0 && e.info === 1),
      "NVMe Base 2.0, Asynchronous Event (Error, Invalid Doorbell Write Value) for an SQ tail beyond the queue",
      evText(first),
    );
    sq.tail = 10;
    const second = events(nvme0, 500);
    conform(
      !second.some((e) => e.type === 0),
      "NVMe Base 2.0, 5.2: after an Error event, no further Error event is sent until the host reads the log page it names (with RAE = 0)",
      `a second event came before the log was read: ${evText(second)}`,
    );
    using log = new DmaBuffer(4096, "error log");
    nvme0.getlogpage(0x01, log, { size: 64 }).waitdone();
    sq.tail = 11;
    const third = events(nvme0, 3000);
    conform(
      third.some((e) => e.type === 0 && e.info === 1),
      "NVMe Base 2.0, 5.2: once the Error Information log was read, the next invalid doorbell write is reported again",
      evText(third),
    );
  },
);

nvmeTest(
  "Base 2.0 3.3.1: an SQ tail doorbell of FFFFFFFFh → Invalid Doorbell Write Value; the queue keeps working",
  { needs: ["nvme0n1", "buf"], own: true, area: "queues" },
  ({ nvme0, buf }) => {
    using cq = new IoCQ(nvme0, 1, 4);
    using sq = new IoSQ(nvme0, 1, 4, cq);
    nvme0.takeAerEvents();
    const checks = new Checks();
    sq.tail = 0xffffffff;
    const ev = events(nvme0, 3000);
    checks.run(() =>
      conform(
        ev.some((e) => e.type === 0 && e.info === 1),
        "NVMe Base 2.0, Asynchronous Event Information 01h: an SQ tail doorbell value beyond the queue size",
        evText(ev),
      )
    );
    sq.set(0, read(0x77, buf));
    sq.tail = 1;
    const e = cq.waitEntry(0, 1);
    cq.head = 1;
    checks.run(() =>
      conform(
        e?.cid === 0x77 && e.status === 0,
        "NVMe Base 2.0: an invalid doorbell value is ignored; the queue takes commands after it",
        e ? show(e) : "no completion",
      )
    );
    checks.done();
  },
);

nvmeTest(
  "Base 2.0 3.3.1: a CQ head doorbell past the entries posted (an empty CQ) → Invalid Doorbell Write Value",
  { needs: ["nvme0n1", "buf"], own: true, area: "queues" },
  ({ nvme0, buf }) => {
    using cq = new IoCQ(nvme0, 1, 8);
    using sq = new IoSQ(nvme0, 1, 8, cq);
    sq.set(0, read(1, buf));
    sq.tail = 1;
    cq.waitEntry(0, 1);
    nvme0.takeAerEvents();
    cq.head = 3; // one entry posted, three consumed
    const ev = events(nvme0, 3000);
    conform(
      ev.some((e) => e.type === 0 && e.info === 1),
      "NVMe Base 2.0, Asynchronous Event Information 01h (Invalid Doorbell Write Value): the host removed entries from an empty completion queue",
      evText(ev),
    );
  },
);

nvmeTest(
  "Base 2.0 3.3.1: an invalid doorbell write on one queue leaves the other queues working",
  { needs: ["nvme0n1", "buf"], own: true, area: "queues" },
  ({ nvme0, nvme0n1, buf }) => {
    using cq = new IoCQ(nvme0, 2, 4);
    using sq = new IoSQ(nvme0, 2, 4, cq);
    using q = new Qpair(nvme0, 8);
    sq.tail = 7;
    events(nvme0, 1000);
    let ok = 0;
    for (let i = 0; i < 8; i++) {
      nvme0n1.read(q, buf, i, 1, () => ok++);
    }
    q.waitdone(8);
    conform(
      ok === 8 && !(nvme0.reg32(0x1c) & 2),
      "NVMe Base 2.0: an invalid doorbell value is an error of that queue only: the controller does not fail (CSTS.CFS = 0) and other queues keep working",
      `${ok} of 8 reads, CSTS ${hex(nvme0.reg32(0x1c))}`,
    );
  },
);

nvmeTest(
  "Base 2.0 3.3.1: the doorbell of a deleted SQ → asynchronous event Invalid Doorbell Register",
  { needs: ["nvme0"], own: true, area: "queues" },
  ({ nvme0 }) => {
    const stride = 4 << Number((nvme0.cap >> 32n) & 0xfn);
    {
      using cq = new IoCQ(nvme0, 3, 4);
      using sq = new IoSQ(nvme0, 3, 4, cq);
      void sq;
    }
    nvme0.takeAerEvents();
    nvme0.setReg32(0x1000 + 2 * 3 * stride, 1); // SQ 3 tail, deleted above
    const ev = events(nvme0, 3000);
    conform(
      ev.some((e) => e.type === 0 && e.info === 0),
      "NVMe Base 2.0, Asynchronous Event Information 00h: a write to the doorbell of a queue that was deleted (it no longer exists)",
      evText(ev),
    );
  },
);

nvmeTest(
  "Base 2.0 3.3.1: an admin SQ tail doorbell beyond the admin queue size → Invalid Doorbell Write Value",
  { needs: ["nvme0"], own: true, area: "queues" },
  ({ nvme0 }) => {
    const aqa = nvme0.reg32(0x24);
    const asqs = (aqa & 0xfff) + 1;
    nvme0.takeAerEvents();
    nvme0.setReg32(0x1000, asqs + 5);
    const ev = events(nvme0, 3000);
    conform(
      ev.some((e) => e.type === 0 && e.info === 1),
      `NVMe Base 2.0, Asynchronous Event Information 01h: an admin SQ tail of ${
        asqs + 5
      } (the queue has ${asqs} entries)`,
      evText(ev),
    );
  },
);

// --- deletion ordering -----------------------------------------------------------------------

nvmeTest(
  "Base 2.0 5.6: a CQ shared by two SQs can be deleted only after both SQs are",
  { needs: ["nvme0"], area: "queues" },
  ({ nvme0 }) => {
    using cq = new IoCQ(nvme0, 1, 8);
    using a = new IoSQ(nvme0, 1, 8, cq);
    using b = new IoSQ(nvme0, 2, 8, cq);
    a.delete();
    requireStatus(
      adminCmd(nvme0, ADM.DELETE_CQ, { cdw10: 1 }),
      "01/0c",
      "NVMe Base 2.0, Delete I/O Completion Queue: an SQ (2) still uses the CQ → Invalid Queue Deletion",
    );
    b.delete();
    requireSuccess(
      adminCmd(nvme0, ADM.DELETE_CQ, { cdw10: 1 }),
      "NVMe Base 2.0, Delete I/O Completion Queue once no SQ uses it",
    );
    // the CQ is gone: its handle must not delete it again
    Object.defineProperty(cq, "delete", { value: () => {} });
  },
);

nvmeTest(
  "Base 2.0 5.6: a CQ outlives its SQ: a new SQ on it continues its slots and phase",
  { needs: ["nvme0n1", "buf"], area: "queues" },
  ({ nvme0, buf }) => {
    using cq = new IoCQ(nvme0, 1, 4);
    {
      using sq = new IoSQ(nvme0, 1, 4, cq);
      sq.set(0, read(1, buf));
      sq.set(1, read(2, buf));
      sq.tail = 2;
      cq.waitEntry(0, 1);
      cq.waitEntry(1, 1);
      cq.head = 2;
    }
    using sq2 = new IoSQ(nvme0, 2, 4, cq);
    sq2.set(0, read(3, buf));
    sq2.set(1, read(4, buf));
    sq2.set(2, read(5, buf));
    sq2.tail = 3;
    const e2 = cq.waitEntry(2, 1),
      e3 = cq.waitEntry(3, 1),
      e0 = cq.waitEntry(0, 0);
    cq.head = 1;
    const got = [e2, e3, e0];
    conform(
      got.every((e) => e?.sqid === 2) &&
        got.map((e) => e!.cid).sort().join() === "3,4,5",
      "NVMe Base 2.0: deleting an SQ leaves its CQ as it is: the next completions (in any order) go to slots 2, 3 and, after the wrap with the phase inverted, 0",
      [e2, e3, e0].map((e) => e ? show(e) : "-").join("; "),
    );
  },
);

nvmeTest(
  "Base 2.0 5.5: Create I/O SQ on a CQ that was deleted → Completion Queue Invalid",
  { needs: ["nvme0"], area: "queues" },
  ({ nvme0 }) => {
    {
      using cq = new IoCQ(nvme0, 4, 4);
      void cq;
    }
    using ring = new DmaBuffer(4096, "sq ring");
    const c = adminCmd(nvme0, ADM.CREATE_SQ, {
      prp1: ring.iova,
      prp2: 0n,
      cdw10: (3 << 16 | 4) >>> 0,
      cdw11: (4 << 16 | 1) >>> 0,
    });
    if (c.ok) adminCmd(nvme0, ADM.DELETE_SQ, { cdw10: 4 });
    requireStatus(
      c,
      "01/00",
      "NVMe Base 2.0, Create I/O Submission Queue: CQID names a completion queue that was deleted",
    );
  },
);

nvmeTest(
  "Base 2.0 5.6: deleting the SQ then its CQ succeeds; their identifiers are free again",
  { needs: ["nvme0"], area: "queues" },
  ({ nvme0 }) => {
    using ring = new DmaBuffer(8192, "rings");
    const mk = () => {
      requireSuccess(
        adminCmd(nvme0, ADM.CREATE_CQ, {
          prp1: ring.iova,
          prp2: 0n,
          cdw10: (3 << 16 | 5) >>> 0,
          cdw11: 1,
        }),
        "NVMe Base 2.0, Create I/O CQ 5",
      );
      requireSuccess(
        adminCmd(nvme0, ADM.CREATE_SQ, {
          prp1: ring.iova + 4096n,
          prp2: 0n,
          cdw10: (3 << 16 | 5) >>> 0,
          cdw11: (5 << 16 | 1) >>> 0,
        }),
        "NVMe Base 2.0, Create I/O SQ 5 on CQ 5",
      );
    };
    mk();
    requireSuccess(
      adminCmd(nvme0, ADM.DELETE_SQ, { cdw10: 5 }),
      "NVMe Base 2.0, Delete I/O SQ first",
    );
    requireSuccess(
      adminCmd(nvme0, ADM.DELETE_CQ, { cdw10: 5 }),
      "NVMe Base 2.0, then Delete I/O CQ",
    );
    mk();
    adminCmd(nvme0, ADM.DELETE_SQ, { cdw10: 5 });
    adminCmd(nvme0, ADM.DELETE_CQ, { cdw10: 5 });
  },
);

// --- interrupt vectors and coalescing ---------------------------------------------------------

nvmeTest(
  "Base 2.0 3.5: two CQs on one interrupt vector: completions of either fire it",
  { needs: ["nvme0n1", "buf"], area: "queues" },
  ({ nvme0, nvme0n1, buf, skip }) => {
    if (nvme0.pcie.capOffset(0x11) === undefined) {
      return skip("no MSI-X capability");
    }
    const iv = Math.min(5, nvme0.pcie.msixVectors - 1);
    using a = new Qpair(nvme0, 8, 0, true, iv);
    using b = new Qpair(nvme0, 8, 0, true, iv);
    a.msixClear();
    nvme0n1.read(b, buf, 0).waitdone();
    const byB = a.msixIsSet();
    a.msixClear();
    nvme0n1.read(a, buf, 0).waitdone();
    const byA = b.msixIsSet();
    conform(
      byA && byB,
      "NVMe Base 2.0, Interrupts: several completion queues may share one vector; a completion on any of them signals it",
      `vector ${iv}: after queue ${b.sqid} ${byB}, after queue ${a.sqid} ${byA}`,
    );
  },
);

nvmeTest(
  "Base 2.0 5.27.1.8: Interrupt Coalescing (mandatory for PCIe): Get Features succeeds, reserved bits zero",
  { needs: ["nvme0"], area: "queues" },
  ({ nvme0 }) => {
    const c = adminCmd(nvme0, ADM.GET_FEATURES, { cdw10: 0x08 });
    requireSuccess(c, "NVMe Base 2.0, Get Features Interrupt Coalescing (08h)");
    conform(
      (c.cdw0 >>> 16) === 0,
      "NVMe Base 2.0, Interrupt Coalescing: bits 31:16 are reserved",
      `CDW0 ${hex(c.cdw0, 8)}`,
    );
  },
);

nvmeTest(
  "Base 2.0 5.27.1.9: Interrupt Vector Configuration reports the vector asked for",
  { needs: ["nvme0"], area: "queues" },
  ({ nvme0 }) => {
    using q = new Qpair(nvme0, 8);
    const bad: string[] = [];
    for (const iv of [0, q.iv]) {
      const c = adminCmd(nvme0, ADM.GET_FEATURES, { cdw10: 0x09, cdw11: iv });
      if (!c.ok || (c.cdw0 & 0xffff) !== iv) {
        bad.push(`IV ${iv}: ${c.statusText}, CDW0 ${hex(c.cdw0, 8)}`);
      }
    }
    conform(
      bad.length === 0,
      "NVMe Base 2.0, Interrupt Vector Configuration (mandatory for PCIe): Get Features returns the configuration of the vector in CDW11 (IV echoed in bits 15:0)",
      bad.join("; "),
    );
  },
);

nvmeTest(
  "Base 2.0 5.27.1.9: Interrupt Vector Configuration of a vector the controller does not have → Invalid Field",
  { needs: ["nvme0"], area: "queues" },
  ({ nvme0 }) => {
    const ncqa = nvme0.queueCounts.ncqa || 0xfffe;
    const iv = Math.min(0xffff, ncqa + 1);
    requireStatus(
      adminCmd(nvme0, ADM.GET_FEATURES, { cdw10: 0x09, cdw11: iv }),
      "00/02",
      `NVMe Base 2.0, Interrupt Vector Configuration: IV ${iv} is beyond the controller's vectors (NCQA ${ncqa})`,
    );
  },
);

nvmeTest(
  "Base 2.0 5.27.1.9: Interrupt Vector Configuration: Coalescing Disable set for an I/O vector reads back",
  { needs: ["nvme0"], area: "queues" },
  ({ nvme0 }) => {
    using q = new Qpair(nvme0, 8);
    const iv = q.iv || 1;
    requireSuccess(
      adminCmd(nvme0, ADM.SET_FEATURES, {
        cdw10: 0x09,
        cdw11: (1 << 16 | iv) >>> 0,
      }),
      `NVMe Base 2.0, Set Features Interrupt Vector Configuration: CD = 1 for vector ${iv}`,
    );
    const c = adminCmd(nvme0, ADM.GET_FEATURES, { cdw10: 0x09, cdw11: iv });
    conform(
      c.ok && (c.cdw0 & 0x1ffff) === (1 << 16 | iv),
      "NVMe Base 2.0, Interrupt Vector Configuration: the CD bit set reads back",
      `${c.statusText}, CDW0 ${hex(c.cdw0, 8)}`,
    );
  },
);

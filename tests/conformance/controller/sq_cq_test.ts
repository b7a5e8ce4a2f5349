/**
 * Submission and completion queues driven by hand (NVMe Base 2.0, "Queue
 * Mechanism"): wrap, full queues, phase tag, SQHD, shared completion queues,
 * CID echo, invalid doorbell writes.
 */
import {
  type Buffer,
  type Controller,
  decodeAsyncEvent,
  IoCQ,
  IoSQ,
  type RawCqe,
  sqe,
  StatusError,
} from "../../../mod.ts";
import { conform, hex, NVM, nvmeTest, waitFor } from "../_suite.ts";

const read = (cid: number, buf: Buffer, lba = 0) =>
  sqe({ opc: NVM.READ, cid, nsid: 1, prp1: buf.iova, cdw: { 10: lba } });

const show = (e: RawCqe) =>
  `cid ${e.cid} sqid ${e.sqid} sqhd ${e.sqhd} p ${e.p} status ${hex(e.status)}`;

nvmeTest(
  "SQ and CQ wrap: 12 commands through 4-entry queues, SQHD and phase follow",
  {
    needs: ["nvme0n1", "buf"],
  },
  ({ nvme0, buf }) => {
    using cq = new IoCQ(nvme0, 1, 4);
    using sq = new IoSQ(nvme0, 1, 4, cq);
    let tail = 0, head = 0, phase = 1;
    for (let i = 0; i < 12; i++) {
      sq.set(tail, read(100 + i, buf));
      tail = (tail + 1) % 4;
      sq.tail = tail;
      const e = cq.waitEntry(head, phase);
      conform(
        e !== undefined && e.cid === 100 + i && e.status === 0,
        "NVMe Base 2.0, queue mechanism: each command completes in the next CQ slot with the phase tag of this pass",
        e ? show(e) : `no completion in slot ${head} with phase ${phase}`,
      );
      conform(
        e.sqhd === tail,
        "NVMe Base 2.0, CQE SQHD: the SQ head after the controller fetched the command, modulo the queue size",
        `${show(e)}, SQ tail ${tail}`,
      );
      head = (head + 1) % 4;
      if (head === 0) phase ^= 1;
      cq.head = head;
    }
  },
);

nvmeTest("a full SQ (size-1 entries) is processed whole", {
  needs: ["nvme0n1", "buf"],
}, ({ nvme0, buf }) => {
  using cq = new IoCQ(nvme0, 1, 16);
  using sq = new IoSQ(nvme0, 1, 8, cq);
  for (let i = 0; i < 7; i++) sq.set(i, read(i, buf, i));
  sq.tail = 7; // head 0, tail 7: full
  const got: number[] = [];
  for (let i = 0; i < 7; i++) {
    const e = cq.waitEntry(i, 1);
    if (e) got.push(e.cid);
  }
  conform(
    got.length === 7 && got.sort().join() === "0,1,2,3,4,5,6",
    "NVMe Base 2.0, Full Queue: a queue of N entries holds N-1 commands; all of them are processed",
    `completed CIDs ${got.join(",")}`,
  );
  cq.head = 7;
});

nvmeTest(
  "a full CQ: no completion overwrites an entry the host has not consumed",
  {
    needs: ["nvme0n1", "buf"],
  },
  ({ nvme0, buf }) => {
    using cq = new IoCQ(nvme0, 1, 4);
    using sq = new IoSQ(nvme0, 1, 8, cq);
    for (let i = 0; i < 6; i++) sq.set(i, read(i, buf));
    sq.tail = 6;
    for (let i = 0; i < 3; i++) cq.waitEntry(i, 1);
    const t0 = Date.now();
    while (Date.now() - t0 < 300) nvme0.reg32(0x1c); // give the controller time
    const slot3 = cq.get(3);
    conform(
      slot3.p === 0,
      "NVMe Base 2.0, Full Queue: a CQ is full when head = tail + 1; the controller posts no entry then (4 entries hold 3 completions)",
      `slot 3 written while the head was 0: ${show(slot3)}`,
    );
    cq.head = 3; // consume three: the rest may come
    const rest = [cq.waitEntry(3, 1), cq.waitEntry(0, 0), cq.waitEntry(1, 0)];
    conform(
      rest.every((e) => e !== undefined),
      "NVMe Base 2.0: completions held back by a full CQ are posted once the head moves",
      `${rest.filter(Boolean).length} of 3 posted`,
    );
    cq.head = 2;
  },
);

nvmeTest("two SQs on one CQ: SQID tells the queues apart, SQHD is per queue", {
  needs: ["nvme0n1", "buf"],
}, ({ nvme0, buf }) => {
  using cq = new IoCQ(nvme0, 1, 16);
  using a = new IoSQ(nvme0, 1, 8, cq);
  using b = new IoSQ(nvme0, 2, 8, cq);
  a.set(0, read(0xa0, buf));
  a.set(1, read(0xa1, buf));
  a.tail = 2;
  b.set(0, read(0xb0, buf));
  b.tail = 1;
  const es: RawCqe[] = [];
  for (let i = 0; i < 3; i++) {
    const e = cq.waitEntry(i, 1);
    if (e) es.push(e);
  }
  cq.head = 3;
  const of = (cid: number) => es.find((e) => e.cid === cid);
  conform(
    es.length === 3 && of(0xa0)?.sqid === 1 && of(0xa1)?.sqid === 1 &&
      of(0xb0)?.sqid === 2,
    "NVMe Base 2.0, CQE SQID: identifies the submission queue of the command (several SQs may share a CQ)",
    es.map(show).join("; "),
  );
  conform(
    of(0xb0)!.sqhd === 1 && [1, 2].includes(of(0xa0)!.sqhd) &&
      of(0xa1)!.sqhd === 2,
    "NVMe Base 2.0, CQE SQHD: the head pointer of the SQ the command came from",
    es.map(show).join("; "),
  );
});

nvmeTest("CID echo: any command identifier, 0 and FFFFh included, comes back", {
  needs: ["nvme0n1", "buf"],
}, ({ nvme0, buf, rng }) => {
  using cq = new IoCQ(nvme0, 1, 8);
  using sq = new IoSQ(nvme0, 1, 8, cq);
  const cids = [0, 0xffff, 0x8000, rng.int(1, 0xfffe), rng.int(1, 0xfffe)];
  cids.forEach((c, i) => sq.set(i, read(c, buf)));
  sq.tail = cids.length;
  const got = cids.map((_, i) => cq.waitEntry(i, 1)?.cid);
  cq.head = cids.length;
  conform(
    [...got].sort().join() === [...cids].sort().join(),
    "NVMe Base 2.0, CQE CID: the command identifier of the command completed",
    `sent ${cids.map((c) => hex(c, 4)).join(",")}, got ${
      got.map((c) => c === undefined ? "-" : hex(c, 4)).join(",")
    }`,
  );
});

nvmeTest("a queue identifier is free again after its queue is deleted", {
  needs: ["nvme0n1", "buf"],
}, ({ nvme0, buf }) => {
  for (let round = 0; round < 3; round++) {
    using cq = new IoCQ(nvme0, 1, 4);
    using sq = new IoSQ(nvme0, 1, 4, cq);
    sq.set(0, read(round, buf));
    sq.tail = 1;
    const e = cq.waitEntry(0, 1);
    conform(
      e?.cid === round && e.status === 0,
      "NVMe Base 2.0: a deleted queue's identifier can be used by a new queue, which starts empty (phase 1, head 0)",
      e ? show(e) : "no completion",
    );
    cq.head = 1;
  }
});

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

for (
  const [what, fn, info] of [
    [
      "SQ tail doorbell beyond the queue size",
      (sq: IoSQ, _cq: IoCQ) => sq.tail = 9,
      1,
    ],
    [
      "CQ head doorbell beyond the queue size",
      (_sq: IoSQ, cq: IoCQ) => cq.head = 9,
      1,
    ],
  ] as const
) {
  nvmeTest(
    `invalid ${what} → asynchronous event Invalid Doorbell Write Value`,
    {
      needs: ["nvme0"],
      own: true,
    },
    ({ nvme0 }) => {
      using cq = new IoCQ(nvme0, 1, 4);
      using sq = new IoSQ(nvme0, 1, 4, cq);
      nvme0.takeAerEvents();
      fn(sq, cq);
      const ev = events(nvme0, 3000);
      conform(
        ev.some((e) => e.type === 0 && e.info === info && e.logPage === 1),
        `NVMe Base 2.0, Asynchronous Event Information (Error): an invalid ${what} → event type 0, info 01h (Invalid Doorbell Write Value), log page 01h`,
        ev.length
          ? ev.map((e) => `${e.typeName}: ${e.infoName}`).join("; ")
          : "no event within 3 s",
      );
    },
  );
}

nvmeTest(
  "a doorbell write for a queue that does not exist → asynchronous event Invalid Doorbell Register",
  {
    needs: ["nvme0"],
    own: true,
  },
  ({ nvme0 }) => {
    const stride = 4 << Number((nvme0.cap >> 32n) & 0xfn);
    nvme0.takeAerEvents();
    nvme0.setReg32(0x1000 + 2 * 5 * stride, 1); // SQ 5 tail: no such queue
    const ev = events(nvme0, 3000);
    conform(
      ev.some((e) => e.type === 0 && e.info === 0),
      "NVMe Base 2.0, Asynchronous Event Information (Error): a write to the doorbell of a queue that was not created → info 00h (Invalid Doorbell Register)",
      ev.length
        ? ev.map((e) => `${e.typeName}: ${e.infoName}`).join("; ")
        : "no event within 3 s",
    );
  },
);

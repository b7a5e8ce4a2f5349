/**
 * Asynchronous Event Request and Abort (NVMe Base 2.0): the AER limit,
 * SMART / health events and their masking, aborting a command that is not
 * outstanding.
 */
import {
  type Completion,
  type Controller,
  decodeAsyncEvent,
  Reg,
  StatusError,
} from "../../../mod.ts";
import {
  ADM,
  adminCmd,
  conform,
  describe,
  hex,
  nvmeTest,
  requireSuccess,
  st,
  waitFor,
} from "../_suite.ts";

/** The default bring-up without the AER pynvme's init leaves outstanding. */
function initWithoutAer(nvme: Controller): void {
  nvme.disable();
  nvme.initAdminq();
  nvme.setReg32(Reg.CC, 0x00460001);
  nvme.waitReady(true);
  nvme.identifyController();
  nvme.initNs();
  nvme.initQueues(nvme.setfeatures(7, { cdw11: 0xfffefffe }).waitdone());
}

/** Reap admin completions (and AERs) once, ignoring status errors of AERs. */
function poll(nvme0: Controller): void {
  try {
    nvme0.getfeatures(7).waitdone();
  } catch (e) {
    if (!(e instanceof StatusError)) throw e;
  }
}

nvmeTest(
  "AER beyond AERL+1 outstanding → Asynchronous Event Request Limit Exceeded",
  {
    needs: ["nvme0"],
    init: initWithoutAer,
  },
  ({ nvme0 }) => {
    const aerl = nvme0.idCtrl.aerl;
    for (let i = 0; i <= aerl; i++) nvme0.aer();
    let extra: Completion | undefined;
    nvme0.aer((c) => extra = c);
    waitFor(() => extra !== undefined, 2000, () => poll(nvme0));
    conform(
      extra !== undefined && st(extra) === "01/05",
      `NVMe Base 2.0, Asynchronous Event Request: more than AERL+1 (${
        aerl + 1
      }) outstanding → 01/05 Asynchronous Event Request Limit Exceeded`,
      extra ? describe(extra) : "the extra AER stayed outstanding",
    );
  },
);

function temperatureSetup(nvme0: Controller, defer: (f: () => void) => void) {
  const thr = nvme0.getfeatures(4).waitdone();
  const aec = nvme0.getfeatures(0x0b).waitdone();
  defer(() => {
    nvme0.setfeatures(4, { cdw11: thr & 0xffff }).waitdone();
    nvme0.setfeatures(0x0b, { cdw11: aec }).waitdone();
    nvme0.logPage(0x02, 512); // clears the event (RAE = 0)
    nvme0.takeAerEvents();
  });
  return { thr, aec };
}

nvmeTest(
  "temperature above the threshold: a SMART / health AER and the critical warning bit",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, defer }) => {
    const { aec } = temperatureSetup(nvme0, defer);
    nvme0.setfeatures(0x0b, { cdw11: (aec | 0x2) >>> 0 }).waitdone();
    nvme0.logPage(0x02, 512);
    nvme0.takeAerEvents();
    const temp = nvme0.smartLog().temperature;
    nvme0.setfeatures(4, { cdw11: 273 }).waitdone(); // 0 °C: below any working device
    let events: Completion[] = [];
    waitFor(
      () => (events = events.concat(nvme0.takeAerEvents())).length > 0,
      3000,
      () => poll(nvme0),
    );
    const ev = events.map((e) => decodeAsyncEvent(e.cdw0));
    conform(
      ev.some((e) => e.type === 1 && e.info === 1 && e.logPage === 2),
      `NVMe Base 2.0, Temperature Threshold: a composite temperature (${temp} K) over the threshold (273 K) raises an asynchronous event (type 1 SMART / Health, info 01h, log page 02h)`,
      ev.length
        ? ev.map((e) => `${e.typeName}: ${e.infoName}`).join("; ")
        : "no event within 3 s",
    );
    const cw = nvme0.smartLog().criticalWarning;
    conform(
      (cw & 0x2) !== 0,
      "NVMe Base 2.0, SMART / Health Critical Warning bit 1: set while the temperature is over the threshold",
      hex(cw, 2),
    );
  },
);

nvmeTest(
  "temperature event masked in Asynchronous Event Configuration: no AER",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, defer }) => {
    const { aec } = temperatureSetup(nvme0, defer);
    nvme0.setfeatures(0x0b, { cdw11: (aec & ~0x2) >>> 0 }).waitdone();
    nvme0.logPage(0x02, 512);
    nvme0.takeAerEvents();
    nvme0.setfeatures(4, { cdw11: 273 }).waitdone();
    let events: Completion[] = [];
    waitFor(
      () => (events = events.concat(nvme0.takeAerEvents())).length > 0,
      1500,
      () => poll(nvme0),
    );
    const temp = events.map((e) => decodeAsyncEvent(e.cdw0)).filter((e) =>
      e.type === 1 && e.info === 1
    );
    conform(
      temp.length === 0,
      "NVMe Base 2.0, Asynchronous Event Configuration bit 1 = 0: temperature threshold events are not reported",
      `${temp.length} temperature event(s)`,
    );
    const cw = nvme0.smartLog().criticalWarning;
    conform(
      (cw & 0x2) !== 0,
      "NVMe Base 2.0, SMART / Health Critical Warning bit 1 reflects the temperature whatever the event mask",
      hex(cw, 2),
    );
  },
);

nvmeTest(
  "Abort of a command that is not outstanding: completes, reporting 'not aborted'",
  {
    needs: ["nvme0"],
  },
  ({ nvme0 }) => {
    const c = adminCmd(nvme0, ADM.ABORT, { cdw10: (0xbeef << 16 | 0) >>> 0 });
    requireSuccess(
      c,
      "NVMe Base 2.0, Abort: the command completes (aborting is best effort)",
    );
    conform(
      (c.cdw0 & 1) === 1,
      "NVMe Base 2.0, Abort: DW0 bit 0 = 1 when the command was not aborted (CID BEEFh was never submitted)",
      `DW0 ${hex(c.cdw0, 8)}`,
    );
  },
);

nvmeTest(
  "Abort of a completed I/O command: completes, reporting 'not aborted'",
  {
    needs: ["nvme0n1", "qpair", "buf"],
  },
  ({ nvme0, nvme0n1, qpair, buf }) => {
    nvme0n1.read(qpair, buf, 0).waitdone();
    const cid = qpair.latestCid;
    const c = adminCmd(nvme0, ADM.ABORT, {
      cdw10: (cid << 16 | qpair.sqid) >>> 0,
    });
    requireSuccess(
      c,
      "NVMe Base 2.0, Abort of a command that already completed",
    );
    conform(
      (c.cdw0 & 1) === 1,
      "NVMe Base 2.0, Abort: DW0 bit 0 = 1, the command (completed before) was not aborted",
      `DW0 ${hex(c.cdw0, 8)}`,
    );
  },
);

/**
 * Get Log Page (NVMe Base 2.0, "Get Log Page command" and the log pages):
 * mandatory pages, reserved identifiers, offsets, SMART counters, error and
 * firmware slot information, commands supported and effects.
 */
import { Buffer, decodeSmartLog } from "../../../mod.ts";
import {
  activeNsids,
  ADM,
  adminCmd,
  conform,
  hex,
  invalidNsid,
  nvmeTest,
  requireStatus,
  requireSuccess,
} from "../_suite.ts";
import type { Controller } from "../../../mod.ts";

/** Get Log Page raw: `dwords` dwords of `lid` from byte `offset`. */
function getLog(
  nvme0: Controller,
  lid: number,
  buf: Buffer,
  o: { dwords?: number; offset?: number; nsid?: number } = {},
) {
  const numd = (o.dwords ?? buf.size / 4) - 1;
  return adminCmd(nvme0, ADM.GET_LOG, {
    buf,
    len: (numd + 1) * 4,
    nsid: o.nsid ?? 0xffffffff,
    cdw10: ((numd & 0xffff) << 16 | lid) >>> 0,
    cdw11: numd >>> 16,
    cdw12: o.offset ?? 0,
  });
}
/** Log Page Attributes bit 2: extended data and offsets. */
function offsets(nvme0: Controller): boolean {
  return (nvme0.idCtrl.lpa & 0x4) !== 0;
}

nvmeTest(
  "mandatory log pages: Error Information, SMART / Health, Firmware Slot",
  {
    needs: ["nvme0"],
  },
  ({ nvme0 }) => {
    using buf = new Buffer(4096);
    for (
      const [lid, size, name] of [[1, 64, "Error Information"], [
        2,
        512,
        "SMART / Health Information",
      ], [3, 512, "Firmware Slot Information"]] as const
    ) {
      requireSuccess(
        getLog(nvme0, lid, buf, { dwords: size / 4 }),
        `NVMe Base 2.0, Get Log Page: log ${
          hex(lid, 2)
        } (${name}) is mandatory`,
      );
    }
  },
);

nvmeTest("reserved log page identifier → Invalid Log Page", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  using buf = new Buffer(512);
  for (const lid of [0x6f, 0x50]) {
    requireStatus(
      getLog(nvme0, lid, buf),
      "01/09",
      `NVMe Base 2.0, Get Log Page: log identifier ${hex(lid, 2)} is reserved`,
    );
  }
});

nvmeTest(
  "log page offset: a read from an offset returns those bytes of the page",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, skip }) => {
    if (!offsets(nvme0)) return skip("no log page offsets (LPA bit 2 = 0)");
    using full = new Buffer(512), part = new Buffer(512);
    requireSuccess(getLog(nvme0, 3, full), "Firmware Slot log");
    for (const off of [8, 64, 256]) {
      part.bytes.fill(0xee);
      requireSuccess(
        getLog(nvme0, 3, part, { dwords: 16, offset: off }),
        `NVMe Base 2.0, Get Log Page LPO ${off}`,
      );
      const a = part.slice(0, 64), b = full.slice(off, off + 64);
      conform(
        a.every((x, i) => x === b[i]),
        `NVMe Base 2.0, Get Log Page: LPO ${off} returns the page from byte ${off}`,
        "different bytes",
      );
    }
  },
);

nvmeTest("log page offset not a multiple of 4 → Invalid Field", {
  needs: ["nvme0"],
}, ({ nvme0, skip }) => {
  if (!offsets(nvme0)) return skip("no log page offsets (LPA bit 2 = 0)");
  using buf = new Buffer(512);
  requireStatus(
    getLog(nvme0, 2, buf, { dwords: 16, offset: 2 }),
    "00/02",
    "NVMe Base 2.0, Get Log Page: LPOL bits 1:0 shall be 00b (dword aligned)",
  );
});

nvmeTest("log page offset beyond the page → Invalid Field", {
  needs: ["nvme0"],
}, ({ nvme0, skip }) => {
  if (!offsets(nvme0)) return skip("no log page offsets (LPA bit 2 = 0)");
  using buf = new Buffer(512);
  requireStatus(
    getLog(nvme0, 2, buf, { dwords: 16, offset: 4096 }),
    "00/02",
    "NVMe Base 2.0, Get Log Page: an offset larger than the size of the log page (SMART, 512 bytes)",
  );
});

nvmeTest(
  "SMART / Health: reads count in Host Read Commands and Data Units Read",
  {
    needs: ["nvme0n1", "qpair"],
  },
  ({ nvme0, nvme0n1, qpair }) => {
    const before = nvme0.smartLog();
    const lbas = Math.max(1, Math.floor(64 * 1024 / nvme0n1.lbaSize));
    using buf = new Buffer(lbas * nvme0n1.lbaSize);
    const n = 16; // 16 x 64 KiB = 2048 units of 512 bytes
    for (let i = 0; i < n; i++) {
      nvme0n1.read(qpair, buf, i * lbas, lbas)
        .waitdone();
    }
    const after = nvme0.smartLog();
    conform(
      after.hostReadCommands - before.hostReadCommands >= BigInt(n),
      "NVMe Base 2.0, SMART / Health Host Read Commands: counts the read commands completed",
      `+${after.hostReadCommands - before.hostReadCommands} after ${n} reads`,
    );
    conform(
      after.dataUnitsRead - before.dataUnitsRead >= 2n,
      "NVMe Base 2.0, SMART / Health Data Units Read: thousands of 512-byte units read (2048 units read)",
      `+${after.dataUnitsRead - before.dataUnitsRead}`,
    );
  },
);

nvmeTest(
  "SMART / Health: writes count in Host Write Commands and Data Units Written",
  {
    needs: ["nvme0n1", "qpair"],
  },
  ({ nvme0, nvme0n1, qpair, rng }) => {
    const before = nvme0.smartLog();
    const lbas = Math.max(1, Math.floor(64 * 1024 / nvme0n1.lbaSize));
    using buf = new Buffer(lbas * nvme0n1.lbaSize);
    rng.fill(buf.bytes);
    const n = 16;
    for (let i = 0; i < n; i++) {
      nvme0n1.write(
        qpair,
        buf,
        4096 + i * lbas,
        lbas,
      ).waitdone();
    }
    const after = nvme0.smartLog();
    conform(
      after.hostWriteCommands - before.hostWriteCommands >= BigInt(n),
      "NVMe Base 2.0, SMART / Health Host Write Commands: counts the write commands completed",
      `+${
        after.hostWriteCommands - before.hostWriteCommands
      } after ${n} writes`,
    );
    conform(
      after.dataUnitsWritten - before.dataUnitsWritten >= 2n,
      "NVMe Base 2.0, SMART / Health Data Units Written: thousands of 512-byte units written (2048 units written)",
      `+${after.dataUnitsWritten - before.dataUnitsWritten}`,
    );
  },
);

nvmeTest("SMART / Health: plausible values, reserved warning bits zero", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  const s = nvme0.smartLog();
  conform(
    s.temperature > 200 && s.temperature < 400,
    "NVMe Base 2.0, SMART / Health Composite Temperature: in Kelvin (a device in use reads 200..400 K)",
    `${s.temperature} K`,
  );
  conform(
    s.availableSpare <= 100 && s.availableSpareThreshold <= 100,
    "NVMe Base 2.0, SMART / Health Available Spare and its threshold: percentages 0..100",
    `${s.availableSpare} / ${s.availableSpareThreshold}`,
  );
  conform(
    (s.criticalWarning & 0xc0) === 0,
    "NVMe Base 2.0, SMART / Health Critical Warning: bits 7:6 are reserved",
    hex(s.criticalWarning, 2),
  );
});

nvmeTest("SMART / Health of an invalid NSID → Invalid Namespace or Format", {
  needs: ["nvme0"],
}, ({ nvme0, skip }) => {
  const nsid = invalidNsid(nvme0);
  if (nsid === undefined) return skip("no invalid NSID below FFFFFFFEh");
  using buf = new Buffer(512);
  requireStatus(
    getLog(nvme0, 2, buf, { nsid }),
    "00/0b",
    `NVMe Base 2.0: NSID ${hex(nsid)} is above NN`,
  );
});

nvmeTest(
  "SMART / Health per namespace equals the controller's for a single namespace",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, skip }) => {
    if (!(nvme0.idCtrl.lpa & 1)) {
      return skip(
        "no per-namespace SMART (LPA bit 0 = 0)",
      );
    }
    if (activeNsids(nvme0).length !== 1) {
      return skip(
        "more than one active namespace: the controller's counters are sums",
      );
    }
    using a = new Buffer(512), b = new Buffer(512);
    requireSuccess(getLog(nvme0, 2, a, { nsid: 1 }), "SMART log of NSID 1");
    requireSuccess(getLog(nvme0, 2, b), "SMART log of NSID FFFFFFFFh");
    const x = decodeSmartLog(a.bytes), y = decodeSmartLog(b.bytes);
    conform(
      x.hostReadCommands === y.hostReadCommands,
      "NVMe Base 2.0, SMART / Health: with one namespace, its counters are the controller's",
      `${x.hostReadCommands} vs ${y.hostReadCommands}`,
    );
  },
);

nvmeTest("Error Information: ELPE+1 entries, valid ones newest first", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  const entries = nvme0.errorLog();
  conform(
    entries.length === nvme0.idCtrl.elpe + 1,
    "NVMe Base 2.0, Error Information log: ELPE+1 entries of 64 bytes",
    `${entries.length} entries, ELPE ${nvme0.idCtrl.elpe}`,
  );
  const counts = entries.map((e) => e.errorCount).filter((c) => c !== 0n);
  for (let i = 1; i < counts.length; i++) {
    conform(
      counts[i] < counts[i - 1],
      "NVMe Base 2.0, Error Information log: entries are returned newest first (descending, unique Error Count)",
      `error counts ${counts.join(", ")}`,
    );
  }
});

nvmeTest(
  "Firmware Slot Information: the active slot is listed, with Identify's firmware revision",
  {
    needs: ["nvme0"],
  },
  ({ nvme0 }) => {
    const log = nvme0.firmwareSlotLog();
    const slot = log.activeSlot;
    const slots = (nvme0.idCtrl.frmw >> 1) & 7;
    conform(
      slot >= 1 && slot <= Math.max(1, slots),
      "NVMe Base 2.0, Firmware Slot Information AFI: the active slot is 1..number of slots (FRMW)",
      `AFI slot ${slot}, FRMW ${hex(nvme0.idCtrl.frmw, 2)}`,
    );
    const frs = log.frs[slot - 1] ?? "";
    conform(
      frs.length > 0,
      "NVMe Base 2.0, Firmware Slot Information: the active slot has a firmware revision",
      `FRS${slot} is empty`,
    );
    conform(
      frs === nvme0.firmwareRevision,
      "NVMe Base 2.0, Identify Controller FR: the currently active firmware revision, as in the Firmware Slot Information log",
      `Identify FR "${nvme0.firmwareRevision}", FRS${slot} "${frs}"`,
    );
  },
);

nvmeTest(
  "Commands Supported and Effects: the mandatory commands are supported",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, skip }) => {
    if (!(nvme0.idCtrl.lpa & 2)) {
      return skip(
        "no Commands Supported and Effects log (LPA bit 1 = 0)",
      );
    }
    const admin = [0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x08, 0x09, 0x0a, 0x0c];
    const io = [0x00, 0x01, 0x02];
    const missing = [
      ...admin.filter((o) => !nvme0.supports(o)).map((o) =>
        `admin ${hex(o, 2)}`
      ),
      ...io.filter((o) => !nvme0.supports(o, true)).map((o) =>
        `I/O ${hex(o, 2)}`
      ),
    ];
    conform(
      missing.length === 0,
      "NVMe Base 2.0, Commands Supported and Effects: every mandatory admin (00h 01h 02h 04h 05h 06h 08h 09h 0Ah 0Ch) and NVM I/O (00h 01h 02h) command is supported",
      `not supported: ${missing.join(", ")}`,
    );
  },
);

nvmeTest("Commands Supported and Effects agrees with OACS and ONCS", {
  needs: ["nvme0"],
}, ({ nvme0, skip }) => {
  if (!(nvme0.idCtrl.lpa & 2)) {
    return skip("no Commands Supported and Effects log (LPA bit 1 = 0)");
  }
  const id = nvme0.idCtrl;
  const rows: [string, boolean, number, boolean][] = [
    ["Security Send (OACS bit 0)", false, 0x81, !!(id.oacs & 1)],
    ["Format NVM (OACS bit 1)", false, 0x80, !!(id.oacs & 2)],
    ["Firmware Commit (OACS bit 2)", false, 0x10, !!(id.oacs & 4)],
    ["Namespace Management (OACS bit 3)", false, 0x0d, !!(id.oacs & 8)],
    ["Device Self-test (OACS bit 4)", false, 0x14, !!(id.oacs & 0x10)],
    ["Directive Send (OACS bit 5)", false, 0x19, !!(id.oacs & 0x20)],
    ["NVMe-MI Send (OACS bit 6)", false, 0x1d, !!(id.oacs & 0x40)],
    ["Virtualization Management (OACS bit 7)", false, 0x1c, !!(id.oacs & 0x80)],
    ["Doorbell Buffer Config (OACS bit 8)", false, 0x7c, !!(id.oacs & 0x100)],
    ["Get LBA Status (OACS bit 9)", false, 0x86, !!(id.oacs & 0x200)],
    ["Sanitize (SANICAP)", false, 0x84, (id.sanicap & 7) !== 0],
    ["Compare (ONCS bit 0)", true, 0x05, !!(id.oncs & 1)],
    ["Write Uncorrectable (ONCS bit 1)", true, 0x04, !!(id.oncs & 2)],
    ["Dataset Management (ONCS bit 2)", true, 0x09, !!(id.oncs & 4)],
    ["Write Zeroes (ONCS bit 3)", true, 0x08, !!(id.oncs & 8)],
    ["Verify (ONCS bit 7)", true, 0x0c, !!(id.oncs & 0x80)],
    ["Copy (ONCS bit 8)", true, 0x19, !!(id.oncs & 0x100)],
  ];
  const bad = rows.filter(([, io, opc, claimed]) =>
    nvme0.supports(opc, io) !== claimed
  )
    .map(([name, io, opc, claimed]) =>
      `${name}: Identify says ${
        claimed ? "supported" : "not supported"
      }, effects log CSUPP=${nvme0.supports(opc, io) ? 1 : 0}`
    );
  conform(
    bad.length === 0,
    "NVMe Base 2.0: Identify Controller (OACS, ONCS, SANICAP) and the Commands Supported and Effects log describe the same commands",
    bad.join("; "),
  );
});

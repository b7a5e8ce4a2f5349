/**
 * Get/Set Features (NVMe Base 2.0, "Get Features", "Set Features", "Feature
 * Values"): select semantics, save, reserved identifiers, and the mandatory
 * features an I/O controller over PCIe supports.
 */
import {
  ADM,
  adminCmd,
  Checks,
  conform,
  hex,
  invalidNsid,
  nvmeTest,
  requireStatus,
  requireSuccess,
} from "../_suite.ts";
import type { Controller } from "../../../mod.ts";

const TEMP = 0x04;

function getFeat(nvme0: Controller, fid: number, sel = 0, cdw11 = 0) {
  return adminCmd(nvme0, ADM.GET_FEATURES, {
    cdw10: (sel << 8 | fid) >>> 0,
    cdw11,
  });
}
function setFeat(nvme0: Controller, fid: number, cdw11: number, sv = false) {
  return adminCmd(nvme0, ADM.SET_FEATURES, {
    cdw10: ((sv ? 1 << 31 : 0) | fid) >>> 0,
    cdw11,
  });
}
/** True when Get Features SEL and Set Features SV are supported (ONCS bit 4). */
function saveSelect(nvme0: Controller): boolean {
  return (nvme0.idCtrl.oncs & 0x10) !== 0;
}

nvmeTest("Get Features of reserved feature identifier 00h → Invalid Field", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  requireStatus(
    getFeat(nvme0, 0x00),
    "00/02",
    "NVMe Base 2.0, Feature Identifiers: FID 00h is reserved",
  );
});

nvmeTest("Set Features of reserved feature identifier 00h → Invalid Field", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  requireStatus(
    setFeat(nvme0, 0x00, 0),
    "00/02",
    "NVMe Base 2.0, Feature Identifiers: FID 00h is reserved",
  );
});

nvmeTest(
  "Get Features with a reserved select value (100b..111b) → Invalid Field",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, skip }) => {
    if (!saveSelect(nvme0)) {
      return skip(
        "the SEL field is supported only with ONCS bit 4 (save/select), which is 0",
      );
    }
    for (const fid of [TEMP, 0x07]) {
      for (const sel of [4, 7]) {
        requireStatus(
          getFeat(nvme0, fid, sel),
          "00/02",
          `NVMe Base 2.0, Get Features SEL: values 100b..111b are reserved (FID ${
            hex(fid, 2)
          }, SEL ${sel})`,
        );
      }
    }
  },
);

nvmeTest(
  "Get Features select: current reflects a Set, default does not change",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, defer, skip }) => {
    if (!saveSelect(nvme0)) return skip("ONCS bit 4 (save/select) is 0");
    const cur = getFeat(nvme0, TEMP).cdw0;
    const def = getFeat(nvme0, TEMP, 1).cdw0;
    defer(() => void setFeat(nvme0, TEMP, cur & 0xffff));
    const want = ((def & 0xffff) - 5) & 0xffff;
    requireSuccess(
      setFeat(nvme0, TEMP, want),
      "NVMe Base 2.0, Temperature Threshold: the over temperature threshold of the composite sensor is settable",
    );
    const after = [getFeat(nvme0, TEMP).cdw0, getFeat(nvme0, TEMP, 1).cdw0];
    conform(
      (after[0] & 0xffff) === want,
      "NVMe Base 2.0, Get Features SEL 00b: returns the current value",
      `set ${want}, current ${after[0] & 0xffff}`,
    );
    conform(
      after[1] === def,
      "NVMe Base 2.0, Get Features SEL 01b: returns the default value, unchanged by Set Features",
      `default ${def} before, ${after[1]} after`,
    );
  },
);

nvmeTest(
  "Get Features select saved of a feature that is not saveable returns the default",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, skip }) => {
    if (!saveSelect(nvme0)) return skip("ONCS bit 4 (save/select) is 0");
    const caps = getFeat(nvme0, TEMP, 3).cdw0;
    if (caps & 1) {
      return skip(
        "the Temperature Threshold feature is saveable on this device",
      );
    }
    const saved = getFeat(nvme0, TEMP, 2), def = getFeat(nvme0, TEMP, 1);
    requireSuccess(saved, "NVMe Base 2.0, Get Features SEL 10b (saved)");
    conform(
      saved.cdw0 === def.cdw0,
      "NVMe Base 2.0, Get Features SEL 10b: for a feature that is not saveable, the default value is returned",
      `saved ${saved.cdw0}, default ${def.cdw0}`,
    );
  },
);

nvmeTest(
  "Get Features select capabilities: mandatory changeable features say so",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, skip }) => {
    if (!saveSelect(nvme0)) return skip("ONCS bit 4 (save/select) is 0");
    for (const fid of [TEMP, 0x07, 0x0b]) {
      const c = getFeat(nvme0, fid, 3);
      requireSuccess(
        c,
        `NVMe Base 2.0, Get Features SEL 11b of FID ${hex(fid, 2)}`,
      );
      conform(
        (c.cdw0 & 0x4) !== 0 && c.cdw0 >>> 3 === 0,
        `NVMe Base 2.0, Get Features SEL 11b: FID ${
          hex(fid, 2)
        } is changeable (bit 2) and bits 31:03 are reserved`,
        `capabilities ${hex(c.cdw0, 8)}`,
      );
    }
  },
);

nvmeTest(
  "Set Features with Save of a feature that is not saveable → Feature Identifier Not Saveable",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, defer, skip }) => {
    if (!saveSelect(nvme0)) return skip("ONCS bit 4 (save/select) is 0");
    if (getFeat(nvme0, TEMP, 3).cdw0 & 1) {
      return skip(
        "the Temperature Threshold feature is saveable on this device",
      );
    }
    const cur = getFeat(nvme0, TEMP).cdw0;
    defer(() => void setFeat(nvme0, TEMP, cur & 0xffff));
    requireStatus(
      setFeat(nvme0, TEMP, cur & 0xffff, true),
      "01/0d",
      "NVMe Base 2.0, Set Features SV = 1 for a feature that is not saveable",
    );
  },
);

nvmeTest(
  "Temperature Threshold: a reserved threshold type select → Invalid Field",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, defer }) => {
    const cur = getFeat(nvme0, TEMP).cdw0;
    defer(() => void setFeat(nvme0, TEMP, cur & 0xffff));
    requireStatus(
      setFeat(nvme0, TEMP, (3 << 20 | (cur & 0xffff)) >>> 0),
      "00/02",
      "NVMe Base 2.0, Temperature Threshold THSEL: 11b is reserved",
    );
  },
);

nvmeTest("Number of Queues: 65535 requested → Invalid Field", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  for (const v of [0x0000ffff, 0xffff0000]) {
    requireStatus(
      setFeat(nvme0, 0x07, v),
      "00/02",
      `NVMe Base 2.0, Number of Queues: NSQR/NCQR of FFFFh (65 536 queues) is invalid (cdw11 ${
        hex(v, 8)
      })`,
    );
  }
});

nvmeTest(
  "Number of Queues: Set Features after an I/O queue exists → Command Sequence Error",
  {
    needs: ["qpair"],
  },
  ({ nvme0 }) => {
    requireStatus(
      setFeat(nvme0, 0x07, 0x00010001),
      "00/0c",
      "NVMe Base 2.0, Number of Queues: set only before any I/O queue is created",
    );
  },
);

nvmeTest(
  "Number of Queues: the allocation is at least one queue pair and Get returns it",
  {
    needs: ["nvme0"],
  },
  ({ nvme0 }) => {
    const c = getFeat(nvme0, 0x07);
    requireSuccess(c, "NVMe Base 2.0, Get Features Number of Queues");
    const { nsqa, ncqa } = nvme0.queueCounts;
    conform(
      (c.cdw0 & 0xffff) + 1 === nsqa && (c.cdw0 >>> 16) + 1 === ncqa,
      "NVMe Base 2.0, Number of Queues: Get Features returns the allocation Set Features reported",
      `Get ${hex(c.cdw0, 8)}, Set granted ${nsqa} SQs / ${ncqa} CQs`,
    );
  },
);

nvmeTest(
  "Volatile Write Cache: the setting reads back (when a cache is present)",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, defer, skip }) => {
    if (!(nvme0.idCtrl.vwc & 1)) {
      return skip(
        "no volatile write cache (VWC bit 0 = 0)",
      );
    }
    const cur = getFeat(nvme0, 0x06).cdw0 & 1;
    defer(() => void setFeat(nvme0, 0x06, cur));
    for (const v of [cur ^ 1, cur]) {
      requireSuccess(
        setFeat(nvme0, 0x06, v),
        "NVMe Base 2.0, Volatile Write Cache: WCE is settable",
      );
      const got = getFeat(nvme0, 0x06).cdw0 & 1;
      conform(
        got === v,
        "NVMe Base 2.0, Volatile Write Cache: Get Features returns the WCE set",
        `set ${v}, read ${got}`,
      );
    }
  },
);

nvmeTest("Asynchronous Event Configuration: the setting reads back", {
  needs: ["nvme0"],
}, ({ nvme0, defer }) => {
  const cur = getFeat(nvme0, 0x0b).cdw0;
  defer(() => void setFeat(nvme0, 0x0b, cur));
  const want = cur & ~0x2; // temperature notices off
  requireSuccess(
    setFeat(nvme0, 0x0b, want >>> 0),
    "NVMe Base 2.0, Asynchronous Event Configuration is settable",
  );
  const got = getFeat(nvme0, 0x0b).cdw0;
  conform(
    got === want >>> 0,
    "NVMe Base 2.0, Asynchronous Event Configuration: Get Features returns the value set",
    `set ${hex(want >>> 0)}, read ${hex(got)}`,
  );
});

nvmeTest("Arbitration: the current value can be set again", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  const cur = getFeat(nvme0, 0x01);
  requireSuccess(
    cur,
    "NVMe Base 2.0, Arbitration (mandatory feature): Get Features",
  );
  requireSuccess(
    setFeat(nvme0, 0x01, cur.cdw0),
    "NVMe Base 2.0, Arbitration: a mandatory feature whose Arbitration Burst the host sets",
  );
});

nvmeTest("Interrupt Coalescing: the setting reads back", {
  needs: ["nvme0"],
}, ({ nvme0, defer }) => {
  const cur = getFeat(nvme0, 0x08);
  requireSuccess(
    cur,
    "NVMe PCIe Transport 1.0, Interrupt Coalescing (mandatory for PCIe): Get Features",
  );
  defer(() => void setFeat(nvme0, 0x08, cur.cdw0));
  const want = 0x0104; // 1 x 100 us, 5 entries
  requireSuccess(
    setFeat(nvme0, 0x08, want),
    "NVMe Base 2.0, Interrupt Coalescing: aggregation time and threshold are set by the host",
  );
  const got = getFeat(nvme0, 0x08).cdw0 & 0xffff;
  conform(
    got === want,
    "NVMe Base 2.0, Interrupt Coalescing: Get Features returns the value set",
    `set ${hex(want)}, read ${hex(got)}`,
  );
});

nvmeTest(
  "Power Management: the current power state can be set, one above NPSS cannot",
  {
    needs: ["nvme0"],
  },
  ({ nvme0 }) => {
    const cur = getFeat(nvme0, 0x02);
    requireSuccess(
      cur,
      "NVMe Base 2.0, Power Management (mandatory feature): Get Features",
    );
    const ps = cur.cdw0 & 0x1f;
    // independent checks: a refused set of the current state must not hide the next rule
    const checks = new Checks();
    checks.run(() =>
      requireSuccess(
        setFeat(nvme0, 0x02, ps),
        `NVMe Base 2.0, Power Management: setting power state ${ps} (the current one, at most NPSS)`,
      )
    );
    const npss = nvme0.idCtrl.npss;
    if (npss < 31) {
      checks.run(() =>
        requireStatus(
          setFeat(nvme0, 0x02, npss + 1),
          "00/02",
          `NVMe Base 2.0, Power Management: power state ${
            npss + 1
          } is above NPSS`,
        )
      );
    }
    checks.run(() => {
      const now = getFeat(nvme0, 0x02);
      conform(
        now.ok && (now.cdw0 & 0x1f) <= npss,
        "NVMe Base 2.0, Power Management: the power state reported is one of 0..NPSS",
        () => `${now.statusText}, PS ${now.cdw0 & 0x1f}, NPSS ${npss}`,
      );
    });
    checks.done();
  },
);

nvmeTest("Write Atomicity Normal: the current value can be set again", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  const cur = getFeat(nvme0, 0x0a);
  requireSuccess(
    cur,
    "NVMe Base 2.0, Write Atomicity Normal (mandatory feature): Get Features",
  );
  requireSuccess(
    setFeat(nvme0, 0x0a, cur.cdw0 & 1),
    "NVMe Base 2.0, Write Atomicity Normal: the host sets Disable Normal",
  );
});

nvmeTest(
  "Timestamp: a value set is returned, advancing, with origin 'set by host'",
  {
    needs: ["nvme0", "buf"],
  },
  ({ nvme0, buf, skip }) => {
    if (!(nvme0.idCtrl.oncs & 0x40)) {
      return skip(
        "the Timestamp feature is not supported (ONCS bit 6 = 0)",
      );
    }
    const t = BigInt(Date.UTC(2030, 0, 1));
    buf.bytes.fill(0);
    new DataView(buf.bytes.buffer, buf.bytes.byteOffset).setBigUint64(
      0,
      t,
      true,
    );
    requireSuccess(
      adminCmd(nvme0, ADM.SET_FEATURES, { buf, len: 8, cdw10: 0x0e }),
      "NVMe Base 2.0, Timestamp: Set Features with an 8-byte data structure",
    );
    const t0 = Date.now();
    while (Date.now() - t0 < 20) { /* let the clock move */ }
    buf.bytes.fill(0xff);
    requireSuccess(
      adminCmd(nvme0, ADM.GET_FEATURES, { buf, len: 8, cdw10: 0x0e }),
      "NVMe Base 2.0, Timestamp: Get Features",
    );
    const dv = new DataView(buf.bytes.buffer, buf.bytes.byteOffset);
    const got = dv.getBigUint64(0, true) & 0xffffffffffffn;
    const attr = buf.get(6);
    conform(
      got >= t && got < t + 60_000n,
      "NVMe Base 2.0, Timestamp: the controller counts milliseconds from the value set",
      `set ${t}, read ${got}`,
    );
    conform(
      ((attr >> 1) & 7) === 1,
      "NVMe Base 2.0, Timestamp Origin: 001b after a Set Features",
      `attributes ${hex(attr, 2)}`,
    );
  },
);

nvmeTest(
  "namespace-specific feature with an invalid NSID → Invalid Namespace or Format",
  {
    needs: ["nvme0"],
  },
  ({ nvme0, skip }) => {
    if (!saveSelect(nvme0)) {
      return skip(
        "ONCS bit 4 (save/select) is 0: cannot tell which features are namespace specific",
      );
    }
    const caps = adminCmd(nvme0, ADM.GET_FEATURES, {
      nsid: 1,
      cdw10: 3 << 8 | 0x05,
    });
    if (!caps.ok || !(caps.cdw0 & 2)) {
      return skip("Error Recovery is not namespace specific on this device");
    }
    const nsid = invalidNsid(nvme0);
    if (nsid === undefined) return skip("no invalid NSID below FFFFFFFEh");
    requireStatus(
      adminCmd(nvme0, ADM.GET_FEATURES, { nsid, cdw10: 0x05 }),
      "00/0b",
      `NVMe Base 2.0: a namespace-specific feature (Error Recovery) with NSID ${
        hex(nsid)
      } above NN`,
    );
  },
);

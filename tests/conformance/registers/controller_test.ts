/**
 * Controller registers (NVMe Base 2.0, "Controller Properties"): CAP, VS,
 * CC, CSTS, the admin queue registers, INTMS/INTMC, NSSR, and the reserved
 * and optional ranges.
 */
import { Qpair, Reg } from "../../../mod.ts";
import { sleepSync } from "../../../ffi/sleep.ts";
import { capField, conform, hex, nvmeTest, version } from "../_suite.ts";

nvmeTest("CAP: MQES is at least 1 and the reserved bits are zero", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  const cap = nvme0.cap;
  conform(
    capField(cap, 0, 16) >= 1,
    "NVMe Base 2.0, CAP.MQES: a value of 0h is invalid (queues hold at least 2 entries)",
    `MQES = 0 (CAP ${hex(cap, 16)})`,
  );
  conform(
    capField(cap, 19, 5) === 0 && capField(cap, 61, 3) === 0,
    "NVMe Base 2.0, CAP: bits 23:19 and 63:61 are reserved (zero)",
    `CAP ${hex(cap, 16)}`,
  );
});

nvmeTest("CAP: MPSMIN <= MPSMAX, CSS names a command set, TO is not zero", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  const cap = nvme0.cap;
  const min = capField(cap, 48, 4), max = capField(cap, 52, 4);
  conform(
    min <= max,
    "NVMe Base 2.0, CAP: MPSMIN shall be less than or equal to MPSMAX",
    `MPSMIN ${min}, MPSMAX ${max}`,
  );
  const css = capField(cap, 37, 8);
  conform(
    (css & 0xc1) !== 0,
    "NVMe Base 2.0, CAP.CSS: the controller supports the NVM command set (bit 0), I/O command sets (bit 6) or only the admin command set (bit 7)",
    `CSS ${hex(css, 2)}`,
  );
  conform(
    capField(cap, 24, 8) !== 0,
    "NVMe Base 2.0, CAP.TO: the worst-case time to wait for CSTS.RDY (500 ms units) is reported",
    "TO = 0",
  );
});

nvmeTest("VS: a released version that Identify Controller VER repeats", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  const vs = nvme0.reg32(Reg.VS);
  const v = version(nvme0);
  conform(
    v.major === 1 || v.major === 2,
    "NVMe Base 2.0, VS: major version 1 or 2",
    `VS ${hex(vs, 8)}`,
  );
  if (v.atLeast(1, 2)) {
    const ver = nvme0.idCtrl.ver;
    conform(
      ver === vs,
      "NVMe Base 2.0, Identify Controller VER: contains the value reported in the Version property (mandatory from 1.2)",
      `VER ${hex(ver, 8)}, VS ${hex(vs, 8)}`,
    );
  }
});

nvmeTest("CC after initialization: queue entry sizes and page size in range", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  const cc = nvme0.reg32(Reg.CC);
  const id = nvme0.idCtrl;
  const cap = nvme0.cap;
  conform((cc & 1) === 1, "CC.EN is 1 after initialization", hex(cc, 8));
  const sqes = (cc >> 16) & 0xf, cqes = (cc >> 20) & 0xf;
  conform(
    (id.sqes & 0xf) === 6 && id.sqes >> 4 >= 6,
    "NVMe Base 2.0, Identify Controller SQES: the required SQ entry size is 64 bytes (2^6) and the maximum is not smaller",
    `SQES ${hex(id.sqes, 2)}`,
  );
  conform(
    (id.cqes & 0xf) === 4 && id.cqes >> 4 >= 4,
    "NVMe Base 2.0, Identify Controller CQES: the required CQ entry size is 16 bytes (2^4) and the maximum is not smaller",
    `CQES ${hex(id.cqes, 2)}`,
  );
  conform(
    sqes >= (id.sqes & 0xf) && sqes <= id.sqes >> 4 &&
      cqes >= (id.cqes & 0xf) && cqes <= id.cqes >> 4,
    "NVMe Base 2.0, CC.IOSQES/IOCQES: within the range Identify Controller SQES/CQES reports",
    `CC ${hex(cc, 8)}, SQES ${hex(id.sqes, 2)}, CQES ${hex(id.cqes, 2)}`,
  );
  const mps = (cc >> 7) & 0xf;
  conform(
    mps >= capField(cap, 48, 4) && mps <= capField(cap, 52, 4),
    "NVMe Base 2.0, CC.MPS: within CAP.MPSMIN..MPSMAX",
    `MPS ${mps}`,
  );
});

nvmeTest(
  "CSTS after initialization: ready, no fatal status, no shutdown, reserved bits zero",
  {
    needs: ["nvme0"],
  },
  ({ nvme0 }) => {
    const csts = nvme0.reg32(Reg.CSTS);
    conform((csts & 1) === 1, "CSTS.RDY is 1 while CC.EN is 1", hex(csts, 8));
    conform(
      (csts & 2) === 0,
      "NVMe Base 2.0, CSTS.CFS: no controller fatal status during normal operation",
      hex(csts, 8),
    );
    conform(
      ((csts >> 2) & 3) === 0,
      "NVMe Base 2.0, CSTS.SHST: 00b (normal operation) while no shutdown was requested",
      hex(csts, 8),
    );
    conform(
      csts >>> 7 === 0,
      "NVMe Base 2.0, CSTS: bits 31:07 are reserved (zero)",
      hex(csts, 8),
    );
  },
);

nvmeTest("reserved register 18h reads zero and ignores writes", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  conform(
    nvme0.reg32(0x18) === 0,
    "NVMe Base 2.0, controller properties: offset 18h is reserved (reads zero)",
    hex(nvme0.reg32(0x18), 8),
  );
  nvme0.setReg32(0x18, 0xffffffff);
  const after = nvme0.reg32(0x18);
  conform(
    after === 0,
    "NVMe Base 2.0: writes to reserved properties have no effect",
    `reads ${hex(after, 8)} after writing 0xffffffff`,
  );
  nvme0.getfeatures(7).waitdone(); // still alive
});

nvmeTest("reserved registers 6Ch..DFFh read zero", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  for (const off of [0x6c, 0x100, 0x400, 0x800, 0xdfc]) {
    const v = nvme0.reg32(off);
    conform(
      v === 0,
      `NVMe Base 2.0, controller properties: ${
        hex(off, 3)
      } is in the reserved range 6Ch..DFFh (reads zero)`,
      `${hex(off, 3)} reads ${hex(v, 8)}`,
    );
  }
});

nvmeTest("NSSR reads zero", { needs: ["nvme0"] }, ({ nvme0 }) => {
  const v = nvme0.reg32(Reg.NSSR);
  conform(
    v === 0,
    "NVMe Base 2.0, NSSR: reads return 0h (reserved when CAP.NSSRS = 0)",
    hex(v, 8),
  );
});

nvmeTest("optional register sets read zero when CAP says they are absent", {
  needs: ["nvme0"],
}, ({ nvme0, skip }) => {
  const cap = nvme0.cap;
  if (!version(nvme0).atLeast(1, 4)) {
    skip(
      "CAP.CMBS/PMRS exist from NVMe 1.4; the device reports an older version",
    );
  }
  const checks: [number, string, boolean][] = [
    [0x38, "CMBLOC", !capField(cap, 57, 1)],
    [0x3c, "CMBSZ", !capField(cap, 57, 1)],
    [0x40, "BPINFO", !capField(cap, 45, 1)],
    [0xe00, "PMRCAP", !capField(cap, 56, 1)],
  ];
  let checked = 0;
  for (const [off, name, absent] of checks) {
    if (!absent) continue;
    checked++;
    const v = nvme0.reg32(off);
    conform(
      v === 0,
      `NVMe Base 2.0: ${name} is reserved (reads zero) when its CAP bit says the feature is not supported`,
      `${name} reads ${hex(v, 8)} (CAP ${hex(cap, 16)})`,
    );
  }
  if (!checked) skip("the device has a CMB, boot partitions and a PMR");
});

nvmeTest("AQA, ASQ and ACQ keep their values across a controller reset", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  const before = [
    nvme0.reg32(Reg.AQA),
    nvme0.reg64(Reg.ASQ),
    nvme0.reg64(Reg.ACQ),
  ];
  const cc = nvme0.reg32(Reg.CC);
  nvme0.setReg32(Reg.CC, cc & ~1 >>> 0);
  nvme0.waitReady(false);
  const after = [
    nvme0.reg32(Reg.AQA),
    nvme0.reg64(Reg.ASQ),
    nvme0.reg64(Reg.ACQ),
  ];
  nvme0.reset();
  conform(
    before[0] === after[0] && before[1] === after[1] && before[2] === after[2],
    "NVMe Base 2.0, Controller Reset: the admin queue properties (AQA, ASQ, ACQ) are not reset when CC.EN goes from 1 to 0",
    `before ${before.map((v) => hex(v)).join("/")}, after ${
      after.map((v) => hex(v)).join("/")
    }`,
  );
});

nvmeTest("CC.EN transitions: CSTS.RDY follows within CAP.TO", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  const to = capField(nvme0.cap, 24, 8) * 500 || 500;
  const wait = (ready: number) => {
    const t0 = performance.now();
    for (;;) {
      const csts = nvme0.reg32(Reg.CSTS);
      if ((csts & 1) === ready) return performance.now() - t0;
      if (performance.now() - t0 > to + 100) return Infinity;
      sleepSync(1);
    }
  };
  const cc = nvme0.reg32(Reg.CC);
  nvme0.setReg32(Reg.CC, cc & ~1 >>> 0);
  const down = wait(0);
  nvme0.reset(); // admin queue and CC.EN=1 again (the driver's own wait)
  conform(
    down <= to,
    `NVMe Base 2.0, CAP.TO: CSTS.RDY goes to 0 within CAP.TO (${to} ms) after CC.EN is cleared`,
    `${down === Infinity ? "never" : `${down.toFixed(1)} ms`}`,
  );
  // the enable path: clear, then set EN with the admin queue kept
  // (CC may read back reset after EN=0: write the whole enabling value)
  nvme0.setReg32(Reg.CC, cc & ~1 >>> 0);
  wait(0);
  nvme0.setReg32(Reg.CC, (cc | 1) >>> 0);
  const up = wait(1);
  nvme0.reset();
  conform(
    up <= to,
    `NVMe Base 2.0, CAP.TO: CSTS.RDY goes to 1 within CAP.TO (${to} ms) after CC.EN is set`,
    `${up === Infinity ? "never" : `${up.toFixed(1)} ms`}`,
  );
});

nvmeTest(
  "INTMS/INTMC (pin-based interrupts): set and clear the mask, writing 0 has no effect",
  {
    needs: ["nvme0"],
    own: true,
  },
  ({ nvme0, skip }) => {
    const pcie = nvme0.pcie;
    const msix = pcie.capOffset(0x11);
    if (msix === undefined) return skip("no MSI-X capability to turn off");
    // INTMS/INTMC are defined for pin-based and MSI interrupts: leave MSI-X mode
    const ctl = pcie.cfg(msix + 2, 2);
    pcie.setCfg(msix + 2, ctl & ~0x8000, 2);
    try {
      nvme0.setReg32(Reg.INTMC, 0xffffffff);
      const clear = nvme0.reg32(Reg.INTMS);
      nvme0.setReg32(Reg.INTMS, 1);
      const set = [nvme0.reg32(Reg.INTMS), nvme0.reg32(Reg.INTMC)];
      nvme0.setReg32(Reg.INTMS, 0);
      nvme0.setReg32(Reg.INTMC, 0);
      const zeros = [nvme0.reg32(Reg.INTMS), nvme0.reg32(Reg.INTMC)];
      nvme0.setReg32(Reg.INTMC, 1);
      const cleared = [nvme0.reg32(Reg.INTMS), nvme0.reg32(Reg.INTMC)];
      conform(
        (set[0] & 1) === 1 && (set[1] & 1) === 1 && (clear & 1) === 0,
        "NVMe Base 2.0, INTMS: writing 1 sets the mask bit; INTMS and INTMC both read the current mask",
        `after INTMS=1: INTMS ${hex(set[0])}, INTMC ${hex(set[1])}`,
      );
      conform(
        (zeros[0] & 1) === 1 && (zeros[1] & 1) === 1,
        "NVMe Base 2.0, INTMS/INTMC: writing 0 to a bit has no effect",
        `after writing 0: INTMS ${hex(zeros[0])}, INTMC ${hex(zeros[1])}`,
      );
      conform(
        (cleared[0] & 1) === 0 && (cleared[1] & 1) === 0,
        "NVMe Base 2.0, INTMC: writing 1 clears the mask bit",
        `after INTMC=1: INTMS ${hex(cleared[0])}, INTMC ${hex(cleared[1])}`,
      );
    } finally {
      pcie.setCfg(msix + 2, ctl, 2);
    }
  },
);

nvmeTest(
  "normal shutdown: CSTS.SHST reaches 10b, the controller comes back, data survives",
  {
    needs: ["nvme0n1", "qpair", "buf", "subsystem"],
    own: true,
  },
  ({ nvme0, nvme0n1, qpair, buf, subsystem, rng }) => {
    rng.fill(buf.bytes);
    const data = buf.slice(0, 512);
    nvme0n1.write(qpair, buf, 7, 1).waitdone();
    qpair.delete(); // the host deletes its I/O queues before a shutdown
    subsystem.shutdownNotify(false);
    const csts = nvme0.reg32(Reg.CSTS);
    conform(
      ((csts >> 2) & 3) === 2,
      "NVMe Base 2.0, CC.SHN: CSTS.SHST reads 10b (shutdown complete) when the shutdown finished",
      hex(csts, 8),
    );
    nvme0.reset();
    conform(
      ((nvme0.reg32(Reg.CSTS) >> 2) & 3) === 0,
      "NVMe Base 2.0, CSTS.SHST: 00b again after the controller is reset and enabled",
      hex(nvme0.reg32(Reg.CSTS), 8),
    );
    using q2 = new Qpair(nvme0, 8);
    buf.bytes.fill(0);
    nvme0n1.read(q2, buf, 7, 1).waitdone();
    conform(
      buf.slice(0, 512).every((b, i) => b === data[i]),
      "data written before a normal shutdown reads back after the controller comes back",
      "LBA 7 differs",
    );
  },
);

nvmeTest(
  "abrupt shutdown: CSTS.SHST reaches 10b and the controller comes back",
  {
    needs: ["nvme0", "subsystem"],
    own: true,
  },
  ({ nvme0, subsystem }) => {
    subsystem.shutdownNotify(true);
    const csts = nvme0.reg32(Reg.CSTS);
    conform(
      ((csts >> 2) & 3) === 2,
      "NVMe Base 2.0, CC.SHN = 10b (abrupt): CSTS.SHST reads 10b when done",
      hex(csts, 8),
    );
    nvme0.reset();
    nvme0.getfeatures(7).waitdone();
  },
);

nvmeTest("CRTO: controller ready timeouts cover CAP.TO (NVMe 2.0)", {
  needs: ["nvme0"],
}, ({ nvme0, skip }) => {
  if (!version(nvme0).atLeast(2, 0)) {
    skip("CRTO exists from NVMe 2.0; the device reports an older version");
  }
  const crto = nvme0.reg32(0x68);
  const to = capField(nvme0.cap, 24, 8);
  const crwmt = crto & 0xffff;
  conform(
    crwmt === 0 || crwmt >= to,
    "NVMe Base 2.0, CRTO.CRWMT: not less than CAP.TO",
    `CRTO ${hex(crto, 8)}, CAP.TO ${to}`,
  );
});

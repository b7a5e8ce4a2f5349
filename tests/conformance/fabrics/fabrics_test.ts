/**
 * NVMe over Fabrics (NVMe Base 2.0, 6 Fabrics Command Set; NVMe over TCP
 * Transport 1.0): Property Get/Set of the controller properties, reserved
 * Fabrics command types, the
 * fabrics fields of Identify Controller, Keep Alive, the discovery log. These run on a
 * controller reached over a fabric (an NVMe/TCP target: `--dut nvmet`, or
 * `--dut tcp://...`); on a PCIe controller they skip, saying so.
 *
 * Fabrics commands are opcode 7Fh with the command type (FCTYPE) in byte 4
 * (the low byte of what is NSID in other commands).
 */
import type { Completion, Controller } from "../../../mod.ts";
import {
  adminCmd,
  conform,
  hex,
  nvmeTest,
  requireStatus,
  requireSuccess,
} from "../_suite.ts";
import type { TestContext } from "../../../testing.ts";
import { discover } from "../../../mod.ts";

const FABRICS = 0x7f;
const FC = {
  PROPERTY_SET: 0x00,
  PROPERTY_GET: 0x04,
} as const;

type Ctx = TestContext<"nvme0">;

/** The transport of the device, or a skip when it is PCIe. */
function needFabrics(ctx: Ctx): string {
  const kind = ctx.nvme0.pcie.dut.kind as string;
  if (kind !== "tcp" && kind !== "nvmet") {
    ctx.skip(
      `the controller is on PCIe (device "${ctx.nvme0.pcie.dut.name}", transport ${kind}): Fabrics commands and properties need an NVMe over Fabrics transport (e.g. --dut nvmet)`,
    );
  }
  return kind;
}

/** Property Get of `offset`, 4 or 8 bytes. */
function propGet(nvme0: Controller, offset: number, size: 4 | 8): Completion {
  return adminCmd(nvme0, FABRICS, {
    nsid: FC.PROPERTY_GET,
    cdw10: size === 8 ? 1 : 0,
    cdw11: offset,
  });
}

/** Property Set of `offset` (4 bytes). */
function propSet(nvme0: Controller, offset: number, value: number): Completion {
  return adminCmd(nvme0, FABRICS, {
    nsid: FC.PROPERTY_SET,
    cdw10: 0,
    cdw11: offset,
    cdw12: value >>> 0,
    cdw13: 0,
  });
}

function fabricsTest(name: string, fn: (ctx: Ctx) => void): void {
  nvmeTest(name, { needs: ["nvme0"], area: "fabrics" }, (ctx) => {
    needFabrics(ctx);
    fn(ctx);
  });
}

fabricsTest(
  "Base 2.0 6.5 Property Get: CAP (8 bytes) names the NVM command set, MQES ≥ 1",
  ({ nvme0 }) => {
    const c = propGet(nvme0, 0x00, 8);
    requireSuccess(c, "NVMe Base 2.0, Property Get of CAP (offset 0, 8 bytes)");
    const lo = c.cdw0 >>> 0, hi = c.dw1 >>> 0;
    conform(
      (lo & 0xffff) >= 1 && !!(hi & (1 << 5)),
      "NVMe Base 2.0, CAP over Fabrics: MQES ≥ 1 (a queue of at least 2 entries), CSS bit 0 (NVM command set)",
      `CAP ${hex(BigInt(hi) << 32n | BigInt(lo), 16)}`,
    );
  },
);

fabricsTest(
  "Base 2.0 6.5 Property Get: VS reports a version of at least 1.2.1 (NVMe over Fabrics)",
  ({ nvme0 }) => {
    const c = propGet(nvme0, 0x08, 4);
    requireSuccess(c, "NVMe Base 2.0, Property Get of VS (offset 8h, 4 bytes)");
    const vs = c.cdw0 >>> 0;
    conform(
      vs >= 0x00010201,
      "NVMe Base 2.0, VS: a fabrics controller implements version 1.2.1 or later",
      `VS ${hex(vs, 8)}`,
    );
  },
);

fabricsTest(
  "Base 2.0 6.5 Property Get: CC and CSTS of an enabled controller: EN = 1, RDY = 1, CFS = 0",
  ({ nvme0 }) => {
    const cc = propGet(nvme0, 0x14, 4), csts = propGet(nvme0, 0x1c, 4);
    requireSuccess(cc, "NVMe Base 2.0, Property Get of CC (14h)");
    requireSuccess(csts, "NVMe Base 2.0, Property Get of CSTS (1Ch)");
    conform(
      (cc.cdw0 & 1) === 1 && (csts.cdw0 & 3) === 1,
      "NVMe Base 2.0, 3.1.3: CSTS.RDY follows CC.EN, CSTS.CFS = 0 on a working controller",
      `CC ${hex(cc.cdw0, 8)}, CSTS ${hex(csts.cdw0, 8)}`,
    );
  },
);

fabricsTest(
  "Base 2.0 6.6 Property Set: CC written with its current value keeps the controller ready",
  ({ nvme0 }) => {
    const cc = propGet(nvme0, 0x14, 4);
    requireSuccess(cc, "NVMe Base 2.0, Property Get of CC");
    requireSuccess(
      propSet(nvme0, 0x14, cc.cdw0),
      "NVMe Base 2.0, Property Set of CC with the value read",
    );
    const csts = propGet(nvme0, 0x1c, 4);
    conform(
      csts.ok && (csts.cdw0 & 3) === 1,
      "NVMe Base 2.0, Property Set: rewriting CC unchanged leaves the controller ready",
      `CSTS ${hex(csts.cdw0, 8)} (${csts.statusText})`,
    );
  },
);

fabricsTest(
  "Base 2.0 6.5 Property Get of a property fabrics do not have (INTMS, 0Ch) → Invalid Field",
  ({ nvme0 }) => {
    requireStatus(
      propGet(nvme0, 0x0c, 4),
      "00/02",
      "NVMe Base 2.0, 3.1.4: INTMS is reserved for NVMe over Fabrics; a Property Get of it",
    );
  },
);

fabricsTest(
  "Base 2.0 6.5 Property Get with the wrong size (CAP as 4 bytes) → Invalid Field",
  ({ nvme0 }) => {
    requireStatus(
      propGet(nvme0, 0x00, 4),
      "00/02",
      "NVMe Base 2.0, Property Get: ATTRIB gives the property's size; CAP is 8 bytes",
    );
  },
);

fabricsTest(
  "Base 2.0 6.1: a reserved Fabrics command type → Invalid Field or Invalid Opcode",
  ({ nvme0 }) => {
    requireStatus(
      adminCmd(nvme0, FABRICS, { nsid: 0x10 }),
      ["00/02", "00/01"],
      "NVMe Base 2.0, Fabrics Command Type 10h is reserved",
    );
  },
);

fabricsTest(
  "TCP Transport 1.0 / Base 2.0 Identify Controller: capsule sizes and SGL descriptors for fabrics",
  ({ nvme0 }) => {
    const id = nvme0.identifyData;
    const dv = new DataView(id.buffer, id.byteOffset, id.byteLength);
    const ioccsz = dv.getUint32(1792, true), iorcsz = dv.getUint32(1796, true);
    const msdbd = id[1803];
    conform(
      ioccsz >= 4 && iorcsz >= 1 && msdbd >= 1,
      "NVMe Base 2.0, Identify Controller (fabrics): IOCCSZ ≥ 4 (64-byte commands), IORCSZ ≥ 1 (16-byte responses), MSDBD ≥ 1",
      `IOCCSZ ${ioccsz}, IORCSZ ${iorcsz}, MSDBD ${msdbd}`,
    );
  },
);

fabricsTest(
  "Base 2.0 Identify Controller: a fabrics controller supports SGLs",
  ({ nvme0 }) => {
    const sgls = nvme0.idCtrl.sgls;
    conform(
      (sgls & 3) !== 0,
      "NVMe Base 2.0, SGL Support: NVMe over Fabrics transfers data with SGLs (bits 1:0 ≠ 00b)",
      `SGLS ${hex(sgls, 8)}`,
    );
  },
);

fabricsTest(
  "Base 2.0 5.25 Keep Alive: KAS is reported and a Keep Alive command succeeds",
  ({ nvme0 }) => {
    const id = nvme0.identifyData;
    const kas = id[320] | id[321] << 8;
    conform(
      kas > 0,
      "NVMe Base 2.0, Keep Alive: a fabrics controller supports it (KAS ≠ 0)",
      `KAS ${kas}`,
    );
    requireSuccess(
      adminCmd(nvme0, 0x18),
      "NVMe Base 2.0, Keep Alive command",
    );
  },
);

fabricsTest(
  "Base 2.0 5.27.1.12 Keep Alive Timer: Get Features returns the timeout the host connected with",
  ({ nvme0 }) => {
    const c = adminCmd(nvme0, 0x0a, { cdw10: 0x0f });
    requireSuccess(c, "NVMe Base 2.0, Get Features Keep Alive Timer (0Fh)");
  },
);

fabricsTest(
  "Base 2.0 5.16.1.23 Discovery log: well formed, and it lists the subsystem the controller belongs to",
  ({ nvme0, skip }) => {
    const t = nvme0.pcie.tcp;
    if (!t) {
      return skip("no NVMe/TCP target address to ask its discovery controller");
    }
    const log = discover(t);
    conform(
      log.recfmt === 0 && log.entries.length === log.numrec,
      "NVMe Base 2.0, Discovery Log Page: record format 0, NUMREC records of 1024 bytes",
      `RECFMT ${log.recfmt}, NUMREC ${log.numrec}, ${log.entries.length} read`,
    );
    const mine = log.entries.filter((e) =>
      e.subtype === 2 && e.subnqn === t.nqn
    );
    conform(
      mine.length >= 1 &&
        mine.every((e) => e.trtype === 3 && [1, 2].includes(e.adrfam)),
      "NVMe Base 2.0, Discovery Log Page Entry: the NVM subsystem reached is listed (SUBTYPE 2) with TRTYPE 3 (TCP) and an IP address family",
      log.entries.map((e) => `${e.subtypeName} ${e.subnqn} trtype ${e.trtype}`)
        .join("; ") || "no records",
    );
  },
);

fabricsTest(
  "Base 2.0 Identify Controller: SUBNQN (mandatory over fabrics) is the NQN connected to",
  ({ nvme0, skip }) => {
    const t = nvme0.pcie.tcp;
    if (!t) return skip("no NVMe/TCP target address");
    const id = nvme0.identifyData;
    const raw = id.subarray(768, 1024);
    const end = raw.indexOf(0);
    const subnqn = new TextDecoder().decode(
      end < 0 ? raw : raw.subarray(0, end),
    );
    conform(
      subnqn === t.nqn,
      "NVMe Base 2.0, Identify Controller SUBNQN: the NVM Subsystem NQN the host connected to",
      `SUBNQN "${subnqn}", connected to "${t.nqn}"`,
    );
  },
);

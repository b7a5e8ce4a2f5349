/**
 * Identify (NVMe Base 2.0, "Identify command"): controller and namespace
 * data, namespace lists, descriptors, invalid NSIDs and CNS values.
 */
import { Buffer } from "../../../mod.ts";
import {
  activeNsids,
  ADM,
  adminCmd,
  conform,
  hex,
  identifyNs,
  inactiveNsid,
  invalidNsid,
  nvmeTest,
  requireStatus,
  requireSuccess,
  version,
} from "../_suite.ts";

const INVALID_NS = "00/0b";

nvmeTest(
  "Identify Controller: VID and SSVID match the PCI configuration space",
  {
    needs: ["nvme0"],
  },
  ({ nvme0 }) => {
    const id = nvme0.idCtrl;
    const vid = nvme0.pcie.cfg(0x00, 2), ssvid = nvme0.pcie.cfg(0x2c, 2);
    conform(
      id.vid === vid,
      "NVMe Base 2.0, Identify Controller VID: the same value as the PCI Vendor ID",
      `VID ${hex(id.vid, 4)}, PCI ${hex(vid, 4)}`,
    );
    conform(
      id.ssvid === ssvid,
      "NVMe Base 2.0, Identify Controller SSVID: the same value as the PCI Subsystem Vendor ID",
      `SSVID ${hex(id.ssvid, 4)}, PCI ${hex(ssvid, 4)}`,
    );
  },
);

nvmeTest(
  "Identify Controller: SN, MN and FR are ASCII, left justified, space padded",
  {
    needs: ["nvme0"],
  },
  ({ nvme0 }) => {
    const d = nvme0.identifyData;
    for (
      const [name, a, b] of [["SN", 4, 23], ["MN", 24, 63], [
        "FR",
        64,
        71,
      ]] as const
    ) {
      const bytes = [...d.subarray(a, b + 1)];
      conform(
        bytes.every((c) => c >= 0x20 && c <= 0x7e),
        `NVMe Base 2.0, Identify Controller ${name}: an ASCII string padded with spaces (20h), no NUL bytes`,
        `${name} bytes ${
          bytes.map((c) => c.toString(16).padStart(2, "0")).join(" ")
        }`,
      );
      conform(
        bytes[0] !== 0x20 || bytes.every((c) => c === 0x20),
        `NVMe Base 2.0, Identify Controller ${name}: left justified`,
        `${name} starts with a space`,
      );
    }
  },
);

nvmeTest("Identify Controller: power state 0 is operational", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  const id = nvme0.idCtrl;
  conform(
    !id.psd[0].nops,
    "NVMe Base 2.0, Power Management: power state 0 is an operational power state (the controller starts in it)",
    "PS0 has NOPS = 1",
  );
  conform(
    id.npss < 32,
    "NVMe Base 2.0, Identify Controller NPSS: at most 32 power states",
    `NPSS ${id.npss}`,
  );
});

nvmeTest(
  "active namespace list (CNS 02h): ascending, within NN, each namespace active",
  {
    needs: ["nvme0"],
  },
  ({ nvme0 }) => {
    const nn = nvme0.idCtrl.nn;
    conform(
      nn >= 1,
      "NVMe Base 2.0, Identify Controller NN: at least 1",
      "NN 0",
    );
    const ids = activeNsids(nvme0);
    conform(
      ids.length >= 1,
      "an I/O controller reports at least one active namespace",
      "empty list",
    );
    ids.forEach((id, i) => {
      conform(
        id <= nn && (i === 0 || id > ids[i - 1]),
        "NVMe Base 2.0, Active Namespace ID list: NSIDs in increasing order, each at most NN",
        `list ${ids.join(", ")}, NN ${nn}`,
      );
    });
    for (const id of ids.slice(0, 8)) {
      const ns = identifyNs(nvme0, id);
      conform(
        ns.nsze > 0n,
        "NVMe Base 2.0: a namespace in the active list has a non-zero NSZE",
        `NSID ${id}: NSZE 0`,
      );
    }
  },
);

nvmeTest("active namespace list lists only NSIDs greater than the NSID given", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  const all = activeNsids(nvme0);
  const after = activeNsids(nvme0, all[0]);
  conform(
    after.every((id) => id > all[0]) &&
      after.join() === all.slice(1, 1 + after.length).join(),
    "NVMe Base 2.0, CNS 02h: the list contains active NSIDs greater than the NSID specified",
    `after ${all[0]}: ${after.join(", ")} (all: ${all.join(", ")})`,
  );
});

nvmeTest(
  "active namespace list with NSID FFFFFFFEh or FFFFFFFFh → Invalid Namespace or Format",
  {
    needs: ["nvme0", "buf"],
  },
  ({ nvme0, buf }) => {
    for (const nsid of [0xfffffffe, 0xffffffff]) {
      const c = adminCmd(nvme0, ADM.IDENTIFY, { buf, nsid, cdw10: 2 });
      requireStatus(
        c,
        INVALID_NS,
        `NVMe Base 2.0, Identify CNS 02h with NSID ${hex(nsid, 8)}`,
      );
    }
  },
);

nvmeTest("Identify Namespace with NSID 0 → Invalid Namespace or Format", {
  needs: ["nvme0", "buf"],
}, ({ nvme0, buf }) => {
  requireStatus(
    adminCmd(nvme0, ADM.IDENTIFY, { buf, nsid: 0, cdw10: 0 }),
    INVALID_NS,
    "NVMe Base 2.0, Identify CNS 00h: NSID 0 is invalid",
  );
});

nvmeTest(
  "Identify Namespace of an NSID above NN → Invalid Namespace or Format",
  {
    needs: ["nvme0", "buf"],
  },
  ({ nvme0, buf, skip }) => {
    const nsid = invalidNsid(nvme0);
    if (nsid === undefined) {
      return skip(
        "NN leaves no invalid NSID below FFFFFFFEh",
      );
    }
    requireStatus(
      adminCmd(nvme0, ADM.IDENTIFY, { buf, nsid, cdw10: 0 }),
      INVALID_NS,
      `NVMe Base 2.0, Identify CNS 00h: NSID ${hex(nsid)} is above NN`,
    );
  },
);

nvmeTest("Identify Namespace of an inactive NSID returns zeros", {
  needs: ["nvme0", "buf"],
}, ({ nvme0, buf, skip }) => {
  const nsid = inactiveNsid(nvme0);
  if (nsid === undefined) return skip("every NSID up to NN is active");
  buf.bytes.fill(0xa5);
  const c = adminCmd(nvme0, ADM.IDENTIFY, { buf, nsid, cdw10: 0 });
  requireSuccess(
    c,
    `NVMe Base 2.0, Identify CNS 00h: an inactive NSID (${nsid}) returns a zero-filled data structure`,
  );
  conform(
    buf.bytes.subarray(0, 4096).every((b) => b === 0),
    `NVMe Base 2.0, Identify CNS 00h: the data structure of inactive NSID ${nsid} is zero filled`,
    "non-zero bytes",
  );
});

nvmeTest("Identify with a reserved CNS value → Invalid Field in Command", {
  needs: ["nvme0", "buf"],
}, ({ nvme0, buf }) => {
  for (const cns of [0xff]) {
    requireStatus(
      adminCmd(nvme0, ADM.IDENTIFY, { buf, cdw10: cns }),
      "00/02",
      `NVMe Base 2.0, Identify: CNS ${hex(cns, 2)} is reserved`,
    );
  }
});

nvmeTest(
  "Identify Namespace: NSZE >= NCAP >= NUSE; the LBA format in use is valid",
  {
    needs: ["nvme0n1"],
  },
  ({ nvme0, nvme0n1 }) => {
    const ns = identifyNs(nvme0, nvme0n1.nsid);
    conform(
      ns.nsze >= ns.ncap && ns.ncap >= ns.nuse,
      "NVMe NVM Command Set 1.0, Identify Namespace: NSZE >= NCAP >= NUSE",
      `NSZE ${ns.nsze}, NCAP ${ns.ncap}, NUSE ${ns.nuse}`,
    );
    conform(
      ns.lbaFormat <= ns.nlbaf,
      "NVMe NVM Command Set 1.0, FLBAS: the format in use is one of the NLBAF+1 formats",
      `FLBAS ${hex(ns.flbas, 2)}, NLBAF ${ns.nlbaf}`,
    );
    conform(
      ns.lbaf[ns.lbaFormat].dataSize >= 512,
      "NVMe NVM Command Set 1.0, LBA Format LBADS: at least 9 (512 bytes)",
      `data size ${ns.lbaf[ns.lbaFormat].dataSize}`,
    );
    conform(
      BigInt(nvme0n1.capacity) === ns.nsze,
      "Identify Namespace reads the same NSZE twice",
      `${nvme0n1.capacity} vs ${ns.nsze}`,
    );
  },
);

nvmeTest(
  "Namespace Identification Descriptor list (CNS 03h): well-formed descriptors",
  {
    needs: ["nvme0n1", "buf"],
  },
  ({ nvme0, nvme0n1, buf, skip }) => {
    if (!version(nvme0).atLeast(1, 3)) {
      return skip(
        "CNS 03h is mandatory from NVMe 1.3; the device reports an older version",
      );
    }
    const c = adminCmd(nvme0, ADM.IDENTIFY, {
      buf,
      nsid: nvme0n1.nsid,
      cdw10: 3,
    });
    requireSuccess(
      c,
      "NVMe Base 2.0, Identify CNS 03h for an active namespace",
    );
    const lens: Record<number, number> = { 1: 8, 2: 16, 3: 16, 4: 1 };
    let at = 0, n = 0;
    while (at + 4 <= 4096 && buf.get(at) !== 0) {
      const type = buf.get(at), len = buf.get(at + 1);
      conform(
        lens[type] === len,
        "NVMe Base 2.0, Namespace Identification Descriptor: NIDT 1 (EUI64, 8 bytes), 2 (NGUID, 16), 3 (UUID, 16) or 4 (CSI, 1) with NIDL matching",
        `descriptor ${n} at ${at}: NIDT ${type}, NIDL ${len}`,
      );
      at += 4 + len;
      n++;
    }
    conform(
      n >= 1 || !version(nvme0).atLeast(1, 4),
      "NVMe Base 2.0, CNS 03h: at least one descriptor identifies the namespace",
      "an empty list",
    );
  },
);

nvmeTest(
  "Namespace Identification Descriptor list for NSID 0 → Invalid Namespace or Format",
  {
    needs: ["nvme0", "buf"],
  },
  ({ nvme0, buf, skip }) => {
    if (!version(nvme0).atLeast(1, 3)) return skip("CNS 03h is from NVMe 1.3");
    requireStatus(
      adminCmd(nvme0, ADM.IDENTIFY, { buf, nsid: 0, cdw10: 3 }),
      INVALID_NS,
      "NVMe Base 2.0, Identify CNS 03h: NSID 0 is invalid",
    );
  },
);

nvmeTest(
  "Identify into a buffer at a dword offset (PRP1 offset, PRP2 for the rest)",
  {
    needs: ["nvme0"],
  },
  ({ nvme0 }) => {
    using ref = new Buffer(4096, "aligned");
    using off = new Buffer(8192, "offset");
    nvme0.identify(ref, 0, 1).waitdone();
    for (const o of [4, 0x200, 0xffc]) {
      off.bytes.fill(0);
      off.offset = o;
      off.size = 4096;
      nvme0.identify(off, 0, 1).waitdone();
      const got = off.bytes.subarray(o, o + 4096);
      const diff = got.findIndex((b, i) => b !== ref.bytes[i]);
      conform(
        diff < 0,
        `NVMe Base 2.0, PRP entries: a data buffer starting at offset ${
          hex(o)
        } of a page (PRP1 offset) is transferred whole, continuing at PRP2`,
        `byte ${diff} differs`,
      );
    }
  },
);

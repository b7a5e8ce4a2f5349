/**
 * Format NVM (NVMe Base 2.0 and NVM Command Set 1.0, "Format NVM"): invalid
 * formats, secure erase settings and NSIDs are refused and keep the data;
 * user data erase; switching the LBA format.
 */
import {
  Buffer,
  type Controller,
  type Namespace,
  Qpair,
} from "../../../mod.ts";
import {
  ADM,
  adminCmd,
  Checks,
  conform,
  identifyNs,
  invalidNsid,
  nvmeTest,
  requireStatus,
  requireSuccess,
} from "../_suite.ts";
import type { TestContext } from "../../../testing.ts";

function needFormat(nvme0: Controller, skip: TestContext["skip"]): void {
  if (!(nvme0.idCtrl.oacs & 2)) {
    skip("Format NVM is not supported (OACS bit 1 = 0)");
  }
}

function format(nvme0: Controller, nsid: number, lbaf: number, ses = 0) {
  const was = nvme0.timeout;
  nvme0.timeout = Math.max(was, 600_000); // a real drive may take minutes
  try {
    return adminCmd(nvme0, ADM.FORMAT, {
      nsid,
      cdw10: ((lbaf & 0xf) | ses << 9 | (lbaf >> 4) << 12) >>> 0,
    });
  } finally {
    nvme0.timeout = was;
  }
}

/** Write random data at LBA 0..7; returns a checker that it is still there. */
function stamp(
  ns: Namespace,
  q: Qpair,
  rng: TestContext["rng"],
): () => boolean {
  using w = new Buffer(8 * ns.lbaSize);
  rng.fill(w.bytes);
  const data = w.slice(0, 8 * ns.lbaSize);
  ns.write(q, w, 0, 8).waitdone();
  return () => {
    using r = new Buffer(8 * ns.lbaSize);
    ns.read(q, r, 0, 8).waitdone();
    return r.slice(0, 8 * ns.lbaSize).every((b, i) => b === data[i]);
  };
}

nvmeTest(
  "Format NVM with an LBA format above NLBAF → Invalid Format; data kept",
  {
    needs: ["nvme0n1", "qpair"],
  },
  ({ nvme0, nvme0n1, qpair, rng, skip }) => {
    needFormat(nvme0, skip);
    const intact = stamp(nvme0n1, qpair, rng);
    const nlbaf = identifyNs(nvme0, nvme0n1.nsid).nlbaf;
    if (nlbaf >= 63) return skip("64 LBA formats: no invalid index");
    requireStatus(
      format(nvme0, nvme0n1.nsid, nlbaf + 1),
      "01/0a",
      `NVM Command Set 1.0, Format NVM: LBA format ${
        nlbaf + 1
      } is above NLBAF (${nlbaf})`,
    );
    conform(
      intact(),
      "a Format NVM that failed leaves the data as it was",
      "LBA 0..7 changed",
    );
  },
);

nvmeTest(
  "Format NVM with a reserved Secure Erase Setting → Invalid Field; data kept",
  {
    needs: ["nvme0n1", "qpair"],
  },
  ({ nvme0, nvme0n1, qpair, rng, skip }) => {
    needFormat(nvme0, skip);
    const intact = stamp(nvme0n1, qpair, rng);
    const lbaf = identifyNs(nvme0, nvme0n1.nsid).lbaFormat;
    const cpl = format(nvme0, nvme0n1.nsid, lbaf, 7);
    // independent checks: each runs whatever the one before it found
    const checks = new Checks();
    checks.run(() =>
      requireStatus(
        cpl,
        "00/02",
        "NVMe Base 2.0, Format NVM: SES values 011b..111b are reserved",
      )
    );
    if (!cpl.ok) {
      checks.run(() =>
        conform(
          intact(),
          "a Format NVM that failed leaves the data as it was",
          "LBA 0..7 changed",
        )
      );
    }
    checks.run(() => {
      const now = identifyNs(nvme0, nvme0n1.nsid).lbaFormat;
      conform(
        now === lbaf,
        "NVMe Base 2.0, Format NVM: the namespace keeps the LBA format it was given (the same index)",
        `LBA format ${lbaf} before, ${now} after`,
      );
    });
    checks.run(() => {
      const after = stamp(nvme0n1, qpair, rng);
      conform(
        after(),
        "NVMe Base 2.0, Format NVM: the namespace takes writes and reads after the command",
        "data written after it did not read back",
      );
    });
    checks.done();
  },
);

nvmeTest(
  "Format NVM with cryptographic erase when it is not supported → Invalid Field",
  {
    needs: ["nvme0n1", "qpair"],
  },
  ({ nvme0, nvme0n1, qpair, rng, skip }) => {
    needFormat(nvme0, skip);
    if (nvme0.idCtrl.fna & 4) {
      return skip(
        "cryptographic erase is supported (FNA bit 2 = 1)",
      );
    }
    const intact = stamp(nvme0n1, qpair, rng);
    const lbaf = identifyNs(nvme0, nvme0n1.nsid).lbaFormat;
    const cpl = format(nvme0, nvme0n1.nsid, lbaf, 2);
    // independent checks: each runs whatever the one before it found
    const checks = new Checks();
    checks.run(() =>
      requireStatus(
        cpl,
        "00/02",
        "NVMe Base 2.0, Format NVM: SES 010b (cryptographic erase) with FNA bit 2 = 0",
      )
    );
    if (!cpl.ok) {
      checks.run(() =>
        conform(
          intact(),
          "a Format NVM that failed leaves the data as it was",
          "LBA 0..7 changed",
        )
      );
    }
    checks.run(() => {
      const now = identifyNs(nvme0, nvme0n1.nsid).lbaFormat;
      conform(
        now === lbaf,
        "NVMe Base 2.0, Format NVM: the namespace keeps the LBA format it was given (the same index)",
        `LBA format ${lbaf} before, ${now} after`,
      );
    });
    checks.done();
  },
);

nvmeTest("Format NVM of an NSID above NN → Invalid Namespace or Format", {
  needs: ["nvme0"],
}, ({ nvme0, skip }) => {
  needFormat(nvme0, skip);
  const nsid = invalidNsid(nvme0);
  if (nsid === undefined) return skip("no invalid NSID below FFFFFFFEh");
  requireStatus(
    format(nvme0, nsid, 0),
    "00/0b",
    `NVMe Base 2.0, Format NVM: NSID ${nsid} is above NN`,
  );
});

nvmeTest("Format NVM with user data erase: the data written before is gone", {
  needs: ["nvme0n1", "qpair"],
  qemu: "size=64M",
}, ({ nvme0, nvme0n1, qpair, rng, skip }) => {
  needFormat(nvme0, skip);
  const intact = stamp(nvme0n1, qpair, rng);
  const lbaf = identifyNs(nvme0, nvme0n1.nsid).lbaFormat;
  const c = format(nvme0, nvme0n1.nsid, lbaf, 1);
  requireSuccess(
    c,
    "NVMe Base 2.0, Format NVM with SES 001b (user data erase)",
  );
  conform(
    !intact(),
    "NVMe Base 2.0, Format NVM SES 001b: all user data is erased",
    "LBA 0..7 still hold the data written before the format",
  );
});

nvmeTest(
  "Format NVM to another LBA data size: Identify Namespace reports it; back again",
  {
    needs: ["nvme0n1"],
    qemu: "size=64M",
  },
  ({ nvme0, nvme0n1, skip }) => {
    needFormat(nvme0, skip);
    const id = identifyNs(nvme0, nvme0n1.nsid);
    const cur = id.lbaf[id.lbaFormat];
    const other = id.lbaf.findIndex((f, i) =>
      i !== id.lbaFormat && f.ms === 0 && f.dataSize !== cur.dataSize
    );
    if (other < 0) return skip("no other LBA format without metadata");
    requireSuccess(
      format(nvme0, nvme0n1.nsid, other),
      `Format NVM to LBA format ${other}`,
    );
    const now = identifyNs(nvme0, nvme0n1.nsid);
    const bytes = (x: typeof id) =>
      x.nsze * BigInt(x.lbaf[x.lbaFormat].dataSize);
    conform(
      now.lbaFormat === other && bytes(now) === bytes(id),
      "NVM Command Set 1.0, Format NVM: FLBAS names the new format and the namespace keeps its size in bytes",
      `FLBAS format ${now.lbaFormat}, ${now.nsze} LBAs of ${
        now.lbaf[now.lbaFormat].dataSize
      } bytes (was ${id.nsze} of ${cur.dataSize})`,
    );
    nvme0n1.refresh();
    using q = new Qpair(nvme0, 4);
    using b = new Buffer(now.lbaf[now.lbaFormat].dataSize);
    nvme0n1.write(q, b, 0, 1).waitdone();
    nvme0n1.read(q, b, now.nsze - 1n, 1).waitdone();
    requireSuccess(
      format(nvme0, nvme0n1.nsid, id.lbaFormat),
      "Format NVM back",
    );
    nvme0n1.refresh();
  },
);

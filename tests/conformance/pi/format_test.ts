/**
 * Format NVM and protection information (NVMe Base 2.0, Format NVM: the
 * PI, PIL and MSET fields; NVM Command Set 1.0, Identify Namespace DPS):
 * the protection type a format selects is the one the namespace then
 * reports; PI on a format without metadata, and reserved PI values, are
 * refused. The tests share one device with 8 bytes of metadata and PI type 1
 * (`ms=8,pi=1`), and each puts the namespace back as it found it.
 */
import {
  ADM,
  adminCmd,
  conform,
  hex,
  nvmeTest,
  requireStatus,
  requireSuccess,
} from "../_suite.ts";
import type { TestContext } from "../../../testing.ts";
import { DEV, needPi, piInfo } from "./_pi.ts";

type Ctx = TestContext<"nvme0n1">;

function fmt(ctx: Ctx, lbaf: number, pi: number, pil = 0, mset = 0) {
  return adminCmd(ctx.nvme0, ADM.FORMAT, {
    nsid: ctx.nvme0n1.nsid,
    cdw10:
      ((lbaf & 0xf) | mset << 4 | pi << 5 | pil << 8 | (lbaf >> 4) << 12) >>> 0,
  });
}

/** The LBA format in use, and one with the same data size and no metadata (or -1). */
function formats(ctx: Ctx): { cur: number; noMeta: number } {
  const id = ctx.nvme0n1.identifyData;
  const cur = (id[26] & 0xf) | ((id[26] >> 5) & 3) << 4;
  const nlbaf = id[25];
  const dv = new DataView(id.buffer, id.byteOffset, id.byteLength);
  const lbads = (dv.getUint32(128 + cur * 4, true) >> 16) & 0xff;
  let noMeta = -1;
  for (let i = 0; i <= nlbaf; i++) {
    const f = dv.getUint32(128 + i * 4, true);
    if ((f & 0xffff) === 0 && ((f >> 16) & 0xff) === lbads) noMeta = i;
  }
  return { cur, noMeta };
}

function needFormat(ctx: Ctx): void {
  if (!(ctx.nvme0.idCtrl.oacs & 2)) {
    ctx.skip("Format NVM is not supported (OACS bit 1 = 0)");
  }
}

function piFormatTest(name: string, fn: (ctx: Ctx) => void): void {
  nvmeTest(name, {
    needs: ["nvme0n1"],
    qemu: DEV.pi1,
    shareDevice: true,
    area: "pi",
  }, (ctx) => {
    needFormat(ctx);
    const was = needPi(ctx.nvme0n1, ctx.skip, {});
    const { cur } = formats(ctx);
    ctx.defer(() => {
      // back to the format and protection the namespace had
      fmt(ctx, cur, was.type, was.first ? 1 : 0, was.ext ? 1 : 0);
    });
    fn(ctx);
  });
}

piFormatTest(
  "Base 2.0 Format NVM / NVM 1.0 DPS: the protection type a format selects is the one Identify Namespace reports",
  (ctx) => {
    const p = piInfo(ctx.nvme0n1);
    const other = [1, 2, 3].find((t) =>
      t !== p.type && (p.dpc & (1 << (t - 1)))
    );
    if (other === undefined) {
      return ctx.skip(`DPC ${hex(p.dpc, 2)}: no other type to select`);
    }
    requireSuccess(
      fmt(ctx, formats(ctx).cur, other, p.first ? 1 : 0, p.ext ? 1 : 0),
      `NVMe Base 2.0, Format NVM with PI type ${other} (DPC claims it)`,
    );
    ctx.nvme0n1.refresh();
    const now = piInfo(ctx.nvme0n1);
    conform(
      now.type === other,
      "NVM Command Set 1.0, Identify Namespace DPS: after Format NVM the protection type is the one the format selected",
      `DPS type ${now.type}, formatted with ${other}`,
    );
  },
);

piFormatTest(
  "Base 2.0 Format NVM: protection information on an LBA format without metadata → Invalid Format",
  (ctx) => {
    const { noMeta } = formats(ctx);
    if (noMeta < 0) {
      return ctx.skip("no LBA format of this data size without metadata");
    }
    requireStatus(
      fmt(ctx, noMeta, 1),
      "01/0a",
      `NVMe Base 2.0, Format NVM: PI type 1 with LBA format ${noMeta} (0 metadata bytes: no room for PI)`,
    );
  },
);

piFormatTest(
  "Base 2.0 Format NVM: a reserved protection information value (100b..111b) → Invalid Field",
  (ctx) => {
    requireStatus(
      fmt(ctx, formats(ctx).cur, 5),
      ["00/02", "01/0a"],
      "NVMe Base 2.0, Format NVM: PI values 100b..111b are reserved",
    );
  },
);

/**
 * The console's utilities (pynvme's GUI tools), run on the script's thread
 * when its event loop is free: each is one or a few admin commands through
 * the controller the script opened, so they appear in its cmdlog like any
 * other command. The console thread decides what is allowed (read-only
 * unless `--console=rw`, and a confirmation in the page); parameters are
 * validated here before anything reaches the device.
 *
 * @module
 */
import type { Controller } from "../ffi/controller.ts";
import { Buffer } from "../ffi/buffer.ts";
import { ParameterError } from "../ffi/errors.ts";
import {
  decodeFirmwareSlotLog,
  decodeIdentifyController,
  decodeIdentifyNamespace,
  decodeSmartLog,
} from "../ffi/structs.ts";
import { describeIdentifyController } from "../ffi/decode/identify_ctrl.ts";
import { describeIdentifyNamespace } from "../ffi/decode/identify_ns.ts";
import { consoleControllers, setRequestHandler } from "./registry.ts";

function int(
  p: Record<string, unknown>,
  name: string,
  def: number | undefined,
  min: number,
  max: number,
): number {
  const v = p[name] ?? def;
  const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    throw new ParameterError(
      `${name}=${JSON.stringify(p[name])}: allowed ${min}..${max}`,
    );
  }
  return n;
}

function controller(p: Record<string, unknown>): Controller {
  const live = [...consoleControllers.entries()];
  if (!live.length) throw new Error("no controller is open in the script");
  if (p.ctrl === undefined) return live[0][1] as Controller;
  const h = int(p, "ctrl", undefined, 1, 2 ** 32 - 1);
  const c = consoleControllers.get(h);
  if (!c) {
    throw new ParameterError(
      `ctrl=${h}: no such open controller (open: ${
        live.map(([k]) => k).join(", ")
      })`,
    );
  }
  return c as Controller;
}

function identifyBytes(
  nvme: Controller,
  cns: number,
  nsid: number,
): Uint8Array {
  using buf = new Buffer(4096, "console identify");
  nvme.exec(0x06, { buf, len: 4096, nsid, cdw10: cns });
  return buf.slice(0, 4096);
}

const hexdump = (b: Uint8Array) =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

function sizes(v: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x instanceof Uint8Array) continue;
    out[k] = x;
  }
  return out;
}

type Utility = (p: Record<string, unknown>) => unknown;

const utilities: Record<string, Utility> = {
  identify(p) {
    const nvme = controller(p);
    const cns = int(p, "cns", 1, 0, 0xff);
    const nsid = int(p, "nsid", cns === 0 ? 1 : 0, 0, 0xffffffff);
    const bytes = identifyBytes(nvme, cns, nsid);
    const decoded = cns === 1
      ? sizes(
        decodeIdentifyController(bytes) as unknown as Record<string, unknown>,
      )
      : cns === 0
      ? sizes(
        decodeIdentifyNamespace(bytes) as unknown as Record<string, unknown>,
      )
      : undefined;
    const lines = cns === 1
      ? describeIdentifyController(bytes)
      : cns === 0
      ? describeIdentifyNamespace(bytes)
      : undefined;
    return { cns, nsid, lines, decoded, hex: hexdump(bytes) };
  },
  namespaces(p) {
    const nvme = controller(p);
    const list = new DataView(identifyBytes(nvme, 2, 0).buffer);
    const out = [];
    for (let i = 0; i < 1024; i++) {
      const nsid = list.getUint32(i * 4, true);
      if (!nsid) break;
      const ns = decodeIdentifyNamespace(identifyBytes(nvme, 0, nsid));
      const fmt = ns.lbaf[ns.lbaFormat];
      const lbaSize = fmt?.dataSize ?? 0;
      out.push({
        nsid,
        nsze: ns.nsze,
        ncap: ns.ncap,
        nuse: ns.nuse,
        lbaSize,
        metadata: fmt?.ms ?? 0,
        bytes: (ns.nsze * BigInt(lbaSize)).toString(),
        format: ns.lbaFormat,
      });
    }
    return out;
  },
  logPage(p) {
    const nvme = controller(p);
    const lid = int(p, "lid", 2, 0, 0xff);
    const size = int(p, "size", 512, 4, 65536);
    if (size % 4) throw new ParameterError(`size=${size}: a multiple of 4`);
    const nsid = int(p, "nsid", 0xffffffff, 0, 0xffffffff);
    const bytes = nvme.logPage(lid, size, nsid);
    const decoded = lid === 2
      ? decodeSmartLog(bytes)
      : lid === 3
      ? decodeFirmwareSlotLog(bytes)
      : undefined;
    return { lid, size, decoded, hex: hexdump(bytes) };
  },
  smart(p) {
    return controller(p).smartLog();
  },
  features(p) {
    const nvme = controller(p);
    const fid = int(p, "fid", undefined, 0, 0xff);
    const sel = int(p, "sel", 0, 0, 3);
    const cdw11 = int(p, "cdw11", 0, 0, 0xffffffff);
    const nsid = int(p, "nsid", 0, 0, 0xffffffff);
    const c = nvme.exec(0x0a, { nsid, cdw10: fid | sel << 8, cdw11 });
    return { fid, sel, cdw0: c.cdw0 };
  },
  setFeature(p) {
    const nvme = controller(p);
    const fid = int(p, "fid", undefined, 0, 0xff);
    const cdw11 = int(p, "cdw11", 0, 0, 0xffffffff);
    const save = int(p, "save", 0, 0, 1);
    const nsid = int(p, "nsid", 0, 0, 0xffffffff);
    const c = nvme.exec(0x09, {
      nsid,
      cdw10: (fid | save << 31) >>> 0,
      cdw11,
    });
    return { fid, cdw0: c.cdw0 };
  },
  format(p) {
    const nvme = controller(p);
    const nsid = int(p, "nsid", 1, 1, 0xffffffff);
    const lbaf = int(p, "lbaf", 0, 0, 63);
    const ses = int(p, "ses", 0, 0, 7);
    const c = nvme.exec(0x80, {
      nsid,
      cdw10: ((lbaf & 0xf) | ses << 9 | (lbaf >> 4) << 12) >>> 0,
    });
    return { nsid, lbaf, ses, status: c.status };
  },
  sanitize(p) {
    const nvme = controller(p);
    const sanact = int(p, "sanact", 2, 1, 4);
    const pattern = int(p, "pattern", 0, 0, 0xffffffff);
    const c = nvme.exec(0x84, { cdw10: sanact, cdw11: pattern });
    return { sanact, status: c.status };
  },
  sanitizeStatus(p) {
    const nvme = controller(p);
    const d = new DataView(nvme.logPage(0x81, 512).buffer);
    const sprog = d.getUint16(0, true);
    const sstat = d.getUint16(2, true);
    return {
      progress: Math.round(sprog / 65536 * 1000) / 10,
      status: sstat & 7,
      statusText: [
        "never sanitized",
        "completed successfully",
        "in progress",
        "failed",
        "completed successfully with no-deallocate",
      ][sstat & 7] ?? "reserved",
      passes: (sstat >> 3) & 0x1f,
    };
  },
  fwDownload(p) {
    const nvme = controller(p);
    const data = p.image;
    if (typeof data !== "string" || !data.length) {
      throw new ParameterError("image: the firmware file as base64");
    }
    const image = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    if (image.length % 4) {
      throw new ParameterError(
        `image of ${image.length} bytes: a multiple of 4 bytes`,
      );
    }
    const chunk = int(p, "chunk", 32768, 4096, 1 << 20);
    using buf = new Buffer(chunk, "console firmware");
    for (let off = 0; off < image.length; off += chunk) {
      const part = image.subarray(off, off + chunk);
      buf.bytes.set(part);
      nvme.exec(0x11, {
        buf,
        len: part.length,
        cdw10: part.length / 4 - 1,
        cdw11: off / 4,
      });
    }
    return { bytes: image.length };
  },
  fwCommit(p) {
    const nvme = controller(p);
    const slot = int(p, "slot", 0, 0, 7);
    const action = int(p, "action", 1, 0, 7);
    const c = nvme.exec(0x10, { cdw10: slot | action << 3 });
    return { slot, action, cdw0: c.cdw0 };
  },
};

/**
 * Run one utility by name (what the console's requests call).
 *
 * ```ts
 * runUtility("smart", { ctrl: nvme0.ctrlHandle }); // SmartLog
 * ```
 */
export function runUtility(
  method: string,
  params: Record<string, unknown>,
): unknown {
  const u = utilities[method];
  if (!u) {
    throw new ParameterError(
      `utility ${method}: allowed ${Object.keys(utilities).join(", ")}`,
    );
  }
  return u(params);
}

setRequestHandler(runUtility);

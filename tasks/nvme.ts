/**
 * `deno task nvme <command> [--dut <name>] [--json]` — utilities on a device:
 *
 *   identify [--nsid N]          decoded Identify Controller / Namespace
 *   smart [--nsid N]             SMART / Health Information
 *   features [FID...]            Get Features (current values)
 *   log LID [--size N] [--nsid N] a log page, hex dump (or JSON bytes)
 *   errors                       the Error Information log, decoded
 *   format [--lbaf N] [--ses N] [--nsid N]
 *   sanitize [--action N]        sanitize with a progress bar (log 81h)
 *   fw-download FILE [--slot N] [--action N]
 *
 * Every command prints JSON with --json.
 *
 * @module
 */
import { parseArgs, styleText } from "node:util";
import {
  Buffer,
  Controller,
  decodeErrorLog,
  decodeIdentifyNamespace,
  defaultDut,
  type IdentifyController,
  NvmeError,
  StatusError,
} from "../mod.ts";

const USAGE = `usage: deno task nvme <command> [options] [--dut NAME] [--json]
commands: identify, smart, features, log, errors, format, sanitize, fw-download
  identify [--nsid N]             decoded identify data (controller, or namespace N)
  smart [--nsid N]                SMART / Health Information log
  features [FID ...]              current value of features (default: all common ones)
  log LID [--size N] [--nsid N]   log page LID (hex), --size bytes (default 512)
  errors                          Error Information log entries with a non-zero count
  format [--lbaf N] [--ses N] [--nsid N]
  sanitize [--action N]           1 exit failure, 2 block erase, 3 overwrite, 4 crypto erase
  fw-download FILE [--slot N] [--action N]
device: --dut NAME or NVME_DUT (default "qemu")`;

const { values, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    dut: { type: "string" },
    json: { type: "boolean", default: false },
    nsid: { type: "string" },
    size: { type: "string" },
    lbaf: { type: "string" },
    ses: { type: "string" },
    action: { type: "string" },
    slot: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});

function num(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    throw new NvmeError(`--${name} ${v}: give a non-negative integer`);
  }
  return n;
}

function out(data: unknown, text: () => string): void {
  if (values.json) {
    console.log(
      JSON.stringify(
        data,
        (_, v) => typeof v === "bigint" ? v.toString() : v,
        2,
      ),
    );
  } else {
    console.log(text());
  }
}

function table(obj: Record<string, unknown>): string {
  const w = Math.max(...Object.keys(obj).map((k) => k.length));
  return Object.entries(obj).map(([k, v]) => {
    const s = typeof v === "number" && k !== "temperature" &&
        !/time|count|hours|nn|mdts/i.test(k)
      ? `${v} (0x${v.toString(16)})`
      : Array.isArray(v)
      ? JSON.stringify(v, (_, x) => typeof x === "bigint" ? x.toString() : x)
      : String(v);
    return `${styleText("bold", k.padEnd(w))}  ${s}`;
  }).join("\n");
}

const FEATURES: Record<number, string> = {
  0x01: "Arbitration",
  0x02: "Power Management",
  0x04: "Temperature Threshold",
  0x05: "Error Recovery",
  0x06: "Volatile Write Cache",
  0x07: "Number of Queues",
  0x08: "Interrupt Coalescing",
  0x0a: "Write Atomicity Normal",
  0x0b: "Asynchronous Event Configuration",
  0x0e: "Timestamp",
};

async function main(): Promise<number> {
  const [cmd, ...rest] = positionals;
  if (values.help || !cmd) {
    console.log(USAGE);
    return cmd || values.help ? 0 : 2;
  }
  const dut = values.dut ?? defaultDut([]);
  using nvme0 = new Controller(dut);
  const nsid = num("nsid", values.nsid, 0);
  switch (cmd) {
    case "identify": {
      if (nsid) {
        using buf = new Buffer(4096);
        nvme0.identify(buf, nsid, 0).waitdone();
        const ns = decodeIdentifyNamespace(buf.bytes);
        out(ns, () => table({ ...ns }));
      } else {
        const id: IdentifyController = nvme0.idCtrl;
        out(id, () => table({ ...id, psd: id.psd.length }));
      }
      return 0;
    }
    case "smart": {
      const s = nvme0.smartLog(nsid || 0xffffffff);
      out(
        s,
        () =>
          table({
            ...s,
            temperature: `${s.temperature} K (${s.temperature - 273} C)`,
          }),
      );
      return 0;
    }
    case "features": {
      const fids = rest.length
        ? rest.map((f) => num("fid", f, 0))
        : Object.keys(FEATURES).map(Number);
      const res: Record<string, number | string> = {};
      for (const fid of fids) {
        const name = `${fid.toString(16).padStart(2, "0")}h ${
          FEATURES[fid] ?? "feature"
        }`;
        try {
          res[name] = nvme0.getfeatures(fid).waitdone();
        } catch (e) {
          if (!(e instanceof StatusError)) throw e;
          res[name] = e.message;
        }
      }
      out(res, () => table(res));
      return 0;
    }
    case "log": {
      if (!rest[0]) {
        throw new NvmeError("log needs a log page id, e.g. `log 2`");
      }
      const lid = num("lid", rest[0], 0);
      const size = num("size", values.size, 512);
      const data = nvme0.logPage(lid, size, nsid || 0xffffffff);
      using buf = new Buffer(size, `log page 0x${lid.toString(16)}`);
      buf.write(data);
      out([...data], () => buf.dump());
      return 0;
    }
    case "errors": {
      const entries = decodeErrorLog(
        nvme0.logPage(1, 64 * (nvme0.idCtrl.elpe + 1)),
      ).filter((e) => e.errorCount);
      out(
        entries,
        () =>
          entries.length
            ? entries.map((e) =>
              `#${e.errorCount} sqid ${e.sqid} cid ${e.cid} status 0x${
                e.status.toString(16)
              } lba ${e.lba} nsid ${e.nsid}`
            ).join("\n")
            : "no errors logged",
      );
      return 0;
    }
    case "format": {
      const lbaf = num("lbaf", values.lbaf, 0);
      const ses = num("ses", values.ses, 0);
      const t0 = performance.now();
      nvme0.timeout = Math.max(nvme0.timeout, 600_000);
      nvme0.format(lbaf, ses, nsid || 1).waitdone();
      const ms = Math.round(performance.now() - t0);
      out(
        { lbaf, ses, nsid: nsid || 1, ms },
        () =>
          `formatted namespace ${
            nsid || 1
          } (lbaf ${lbaf}, ses ${ses}) in ${ms} ms`,
      );
      return 0;
    }
    case "sanitize": {
      const action = num("action", values.action, 2);
      nvme0.sanitize(action).waitdone();
      using log = new Buffer(512);
      const t0 = Date.now();
      for (;;) {
        nvme0.getlogpage(0x81, log, { size: 20 }).waitdone();
        const sprog = log.data(1, 0) as number;
        const sstat = (log.data(3, 2) as number) & 7;
        const pct = sstat === 2 ? 100 : Math.floor((sprog * 100) / 65536);
        if (!values.json) {
          const bar = "#".repeat(Math.floor(pct / 2)).padEnd(50, ".");
          await Deno.stderr.write(
            new TextEncoder().encode(`\rsanitize [${bar}] ${pct}%`),
          );
        }
        if (sstat !== 1) {
          if (!values.json) console.error();
          out(
            { status: sstat, seconds: (Date.now() - t0) / 1000 },
            () =>
              `sanitize ended with status ${sstat} after ${
                (Date.now() - t0) / 1000
              } s`,
          );
          return sstat === 2 ? 0 : 1;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    case "fw-download": {
      if (!rest[0]) throw new NvmeError("fw-download needs a firmware file");
      const cdw0 = nvme0.downfw(
        rest[0],
        num("slot", values.slot, 0),
        num("action", values.action, 1),
      );
      out({ cdw0 }, () => `firmware committed, cdw0 0x${cdw0.toString(16)}`);
      return 0;
    }
    default:
      console.error(`unknown command "${cmd}"\n${USAGE}`);
      return 2;
  }
}

try {
  Deno.exit(await main());
} catch (e) {
  const msg = e instanceof Error ? e.message : String(e);
  if (values.json) console.log(JSON.stringify({ error: msg }));
  else console.error(styleText("red", `error: ${msg}`));
  Deno.exit(1);
}

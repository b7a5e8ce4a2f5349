/**
 * `deno task nvme <command> [--dut <name>] [--json]` — utilities on a device:
 *
 *   devices                      the embedded device and this host's NVMe controllers
 *   identify [--nsid N]          decoded Identify Controller / Namespace
 *   smart [--nsid N]             SMART / Health Information
 *   features [FID...]            Get Features (current values)
 *   log LID [--size N] [--nsid N] a log page, hex dump (or JSON bytes)
 *   errors                       the Error Information log, decoded
 *   format [--lbaf N] [--ses N] [--nsid N]
 *   sanitize [--action N]        sanitize with a progress bar (log 81h)
 *   fw-download FILE [--slot N] [--action N]
 *   ioworker [--seconds S] [--io-size N] [--read P] [--qdepth N] [--seq] [--iops N]
 *            [--report OUT.html] [--png OUT.png]   a workload with a live progress line
 *   cmdlog [--qid N] [--count N]  the decoded cmdlog after a short demo on the device
 *   cmdlog TEST.LOG [--test T] [--qid N] [--count N]  the cmdlogs of failed tests
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
  expectStatus,
  type IdentifyController,
  type IoWorkerOptions,
  Namespace,
  NvmeError,
  Qpair,
  StatusError,
} from "../mod.ts";
import { FEATURES } from "../ffi/names.ts";
import { formatSize, listNvme } from "./devices.ts";
import { progressBar, ProgressLine } from "./progress.ts";

const USAGE = `usage: deno task nvme <command> [options] [--dut NAME] [--json]
commands: devices, identify, smart, features, log, errors, format, sanitize, fw-download,
          ioworker, cmdlog
  devices                         the embedded device and this host's NVMe controllers
  identify [--nsid N]             decoded identify data (controller, or namespace N)
  smart [--nsid N]                SMART / Health Information log
  features [FID ...]              current value of features (default: all common ones)
  log LID [--size N] [--nsid N]   log page LID (hex), --size bytes (default 512)
  errors                          Error Information log entries with a non-zero count
  format [--lbaf N] [--ses N] [--nsid N]
  sanitize [--action N]           1 exit failure, 2 block erase, 3 overwrite, 4 crypto erase
  fw-download FILE [--slot N] [--action N]
  ioworker [--nsid N] [--seconds S] [--io-size LBAS[,LBAS...]] [--read PERCENT] [--qdepth N]
           [--seq] [--iops N] [--count N] [--report OUT.html] [--png OUT.png]
                                  a workload with a live progress line (IOPS, MB/s, elapsed);
                                  --report writes the HTML report with charts and OUT.svg
  cmdlog [--qid N] [--count N]    a short demo on the device, then its cmdlog decoded
                                  (admin queue and I/O queue 1, or --qid)
  cmdlog TEST.LOG [--test TEXT] [--qid N] [--count N]
                                  the cmdlogs of the failed tests in a test log
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
    qid: { type: "string" },
    count: { type: "string" },
    test: { type: "string" },
    seconds: { type: "string" },
    "io-size": { type: "string" },
    read: { type: "string" },
    qdepth: { type: "string" },
    seq: { type: "boolean", default: false },
    iops: { type: "string" },
    report: { type: "string" },
    png: { type: "string" },
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

/** Features read by `nvme features` without arguments (names from ffi/names.ts). */
const COMMON_FEATURES = [
  0x01,
  0x02,
  0x04,
  0x05,
  0x06,
  0x07,
  0x08,
  0x0a,
  0x0b,
  0x0e,
];

/** The embedded device and the host's NVMe controllers (tasks/devices.ts). */
function devices(): number {
  const qemu = Deno.env.get("DENVME_QEMU") ??
    (Deno.env.get("PATH") ?? "").split(":").map((d) =>
      `${d}/qemu-system-x86_64`
    ).find((p) => {
      try {
        return Deno.statSync(p).isFile;
      } catch {
        return false;
      }
    });
  const list = [
    {
      name: "qemu",
      kind: "embedded",
      id: "1b36:0010",
      model: "QEMU NVMe Ctrl (emulated; options: qemu:size=,lba=,ns=,...)",
      driver: "",
      size: 4 * 2 ** 30,
      usable: !!qemu,
      state: qemu
        ? `ready (${qemu})`
        : "needs qemu-system-x86_64 (apt-get install qemu-system-x86)",
    },
    ...listNvme().map((d) => ({
      name: d.bdf,
      kind: "pci",
      id: d.id,
      model: [d.model, d.serial && `serial ${d.serial}`].filter(Boolean).join(
        ", ",
      ) || "(unknown: not bound to nvme)",
      driver: d.driver,
      size: d.size,
      usable: d.driver === "vfio-pci",
      state: d.driver === "vfio-pci"
        ? `ready (vfio-pci, IOMMU group ${d.iommuGroup ?? "?"})`
        : d.blockers.length
        ? `in use by the host: ${d.blockers.join("; ")}`
        : `bound to ${
          d.driver || "no driver"
        }: deno task setup ${d.bdf} hands it to vfio-pci`,
      blockDevices: d.blockDevices,
    })),
  ];
  out(list, () => {
    const rows = list.map((d) => [
      d.name,
      `${d.model} (${d.id})`,
      d.size ? formatSize(d.size) : "",
      d.state,
    ]);
    const head = ["NAME", "DEVICE", "SIZE", "STATE"];
    const w = head.map((h, i) =>
      Math.max(h.length, ...rows.map((r) => r[i].length))
    );
    return [head, ...rows].map((r, k) => {
      const line = r.map((c, i) => i === r.length - 1 ? c : c.padEnd(w[i]))
        .join("  ");
      return k === 0 ? styleText("bold", line) : line;
    }).join("\n");
  });
  return 0;
}

/** `cmdlog TEST.LOG`: the cmdlogs of the failed tests a harness log holds. */
async function cmdlogFromLog(file: string): Promise<number> {
  const { parseTestLog } = await import("../report/testlog.ts");
  const { cmdlogRows, cmdlogText } = await import("../report/cmdlog_view.ts");
  const run = parseTestLog(Deno.readTextFileSync(file));
  const count = num("count", values.count, 0);
  const qid = values.qid === undefined ? undefined : num("qid", values.qid, 0);
  const tests = run.tests.filter((t) =>
    t.cmdlogs.length && (!values.test || t.name.includes(values.test))
  );
  const picked = tests.map((t) => ({
    test: t.name,
    file: t.file,
    seed: t.seed,
    error: t.message,
    queues: t.cmdlogs.filter((d) => qid === undefined || d.qid === qid).map((
      d,
    ) => ({
      ...d,
      entries: count ? d.entries.slice(0, count) : d.entries,
    })),
  }));
  out(
    picked.map((t) => ({
      ...t,
      queues: t.queues.map((d) => ({
        queue: d.queue,
        qid: d.qid,
        failing: d.failing,
        written: d.written,
        commands: cmdlogRows(d.entries, d.admin),
      })),
    })),
    () =>
      picked.length
        ? picked.map((t) =>
          [
            styleText(
              "bold",
              `${t.test} (${t.file ?? "?"}, seed ${t.seed ?? "?"})`,
            ),
            t.error ? styleText("red", `  ${t.error}`) : "",
            ...t.queues.map((d) =>
              `  cmdlog of ${d.queue}${
                d.failing ? " (the failing command's queue)" : ""
              }, newest first:\n${
                cmdlogText(d.entries, {
                  admin: d.admin,
                  color: Deno.stdout.isTerminal(),
                }).split("\n").map((l) => `    ${l}`).join("\n")
              }`
            ),
          ].filter(Boolean).join("\n")
        ).join("\n\n")
        : `no cmdlog of a failed test in ${file}${
          values.test ? ` matching "${values.test}"` : ""
        }`,
  );
  return 0;
}

/** A short demo on an open device: admin and I/O commands, one expected error. */
function cmdlogDemo(nvme0: Controller): Qpair {
  using ns = new Namespace(nvme0, 1);
  const q = new Qpair(nvme0, 16);
  const lbas = Math.max(1, 4096 / ns.lbaSize);
  using buf = new Buffer(4096, "demo");
  using ranges = new Buffer(4096, "dsm ranges");
  buf.write("denvme cmdlog demo");
  nvme0.getfeatures(0x07).waitdone();
  nvme0.getlogpage(0x02, buf, { size: 512 }).waitdone();
  ns.write(q, buf, 0, lbas).waitdone();
  ns.read(q, buf, 0, lbas).waitdone();
  ns.compare(q, buf, 0, lbas).waitdone();
  ns.flush(q).waitdone();
  ns.writeZeroes(q, lbas, lbas).waitdone();
  ranges.setDsmRange(0, lbas, lbas);
  ns.dsm(q, ranges, 1).waitdone();
  expectStatus("00/80", () => ns.read(q, buf, ns.capacity, 1).waitdone());
  return q;
}

/** `ioworker`: a workload with a live progress line, then its figures (and report). */
async function ioworker(nvme0: Controller, nsid: number): Promise<number> {
  using ns = new Namespace(nvme0, nsid || 1);
  const seconds = Number(values.seconds ?? 5);
  if (!(seconds > 0)) throw new NvmeError("--seconds: give a positive number");
  const ioSize = values["io-size"]
    ? values["io-size"].split(",").map((s) => num("io-size", s, 8))
    : [Math.max(1, 4096 / ns.lbaSize)];
  const wantReport = !!(values.report || values.png);
  const options: IoWorkerOptions = {
    ioSize: ioSize.length === 1 ? ioSize[0] : ioSize,
    lbaAlign: ioSize.length === 1 ? ioSize[0] : 1,
    lbaRandom: !values.seq,
    readPercentage: num("read", values.read, 100),
    qdepth: num("qdepth", values.qdepth, 64),
    time: seconds,
    ioCount: num("count", values.count, 0),
    iops: num("iops", values.iops, 0),
    outputIoPerSecond: true,
    outputPercentileLatency: [50, 90, 99, 99.9, 99.99],
    outputCmdlogList: wantReport ? 1000 : undefined,
  };
  const bytesPerIo = (ioSize.reduce((a, b) => a + b, 0) / ioSize.length) *
    ns.lbaSize;
  const w = ns.ioworker(options).start();
  const line = new ProgressLine();
  let last = { t: 0, n: 0 }, rate = 0;
  while (w.running) {
    await new Promise((r) => setTimeout(r, 250));
    const p = w.progress;
    if (p.seconds > last.t) {
      rate = (p.ioCount - last.n) / (p.seconds - last.t);
      last = { t: p.seconds, n: p.ioCount };
    }
    line.update(
      `ioworker ${progressBar(p.seconds / seconds, 24)} ${
        p.seconds.toFixed(1)
      }/${seconds} s  ${(rate / 1000).toFixed(1)}k IOPS  ${
        (rate * bytesPerIo / 1e6).toFixed(1)
      } MB/s  ${p.ioCount} IOs (${p.ioCountRead} reads, ${p.ioCountWrite} writes)`,
    );
  }
  const result = await w.closeAsync();
  line.done();
  const id = nvme0.idCtrl;
  const device =
    `${id.mn} (serial ${id.sn}, firmware ${id.fr}), nsid ${ns.nsid}, ${ns.lbaSize}-byte LBAs`;
  const { ioworkerReport, summarize, svgToPng } = await import(
    "../report/mod.ts"
  );
  const run = { result, options, lbaSize: ns.lbaSize };
  const s = summarize(run);
  const files: string[] = [];
  if (wantReport) {
    const rep = ioworkerReport(run, {
      title: `ioworker: ${
        ioSize.map((n) => n * ns.lbaSize / 1024).join("/")
      } KiB ${
        values.seq ? "sequential" : "random"
      }, ${options.readPercentage}% read, QD${options.qdepth}`,
      device,
    });
    if (values.report) {
      Deno.writeTextFileSync(values.report, rep.html);
      const svg = values.report.replace(/(\.html?)?$/, ".svg");
      Deno.writeTextFileSync(svg, rep.svg);
      files.push(values.report, svg);
    }
    if (values.png) {
      await svgToPng(rep.svg, values.png);
      files.push(values.png);
    }
  }
  const { cmdlog: _cmdlog, ...brief } = result;
  out(
    {
      device,
      nsid: ns.nsid,
      lbaSize: ns.lbaSize,
      options,
      result,
      summary: s,
      files,
    },
    () =>
      [
        `${s.ios} IOs in ${s.seconds.toFixed(3)} s: ${s.iops.toFixed(0)} IOPS${
          s.mbps !== undefined ? `, ${s.mbps.toFixed(1)} MB/s` : ""
        }`,
        `latency: average ${brief.latencyAverageUs} us, ${
          Object.entries(brief.latencyPercentiles ?? {}).map(([k, v]) =>
            `p${k} ${v} us`
          ).join(", ")
        }, max ${brief.latencyMaxUs} us`,
        `reads ${brief.ioCountRead}, writes ${brief.ioCountWrite}, CPU ${
          (brief.cpuUsage * 100).toFixed(1)
        }%, seed 0x${brief.seed.toString(16)}`,
        ...(s.error ? [styleText("red", `ERROR ${s.error}`)] : []),
        ...files.map((f) => `wrote ${f}`),
      ].join("\n"),
  );
  return result.ok ? 0 : 1;
}

async function main(): Promise<number> {
  const [cmd, ...rest] = positionals;
  if (values.help || !cmd) {
    console.log(USAGE);
    return cmd || values.help ? 0 : 2;
  }
  // commands without a device
  if (cmd === "devices") return devices();
  if (cmd === "cmdlog" && rest[0]) return await cmdlogFromLog(rest[0]);
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
        : COMMON_FEATURES;
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
      const line = new ProgressLine();
      for (;;) {
        nvme0.getlogpage(0x81, log, { size: 20 }).waitdone();
        const sprog = log.data(1, 0) as number;
        const sstat = (log.data(3, 2) as number) & 7;
        const frac = sstat === 2 ? 1 : sprog / 65536;
        line.update(
          `sanitize ${progressBar(frac, 50)} ${
            ((Date.now() - t0) / 1000).toFixed(0)
          } s`,
        );
        if (sstat !== 1) {
          line.done();
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
    case "ioworker":
      return await ioworker(nvme0, nsid);
    case "cmdlog": {
      const { cmdlogRows, cmdlogText } = await import(
        "../report/cmdlog_view.ts"
      );
      using q = cmdlogDemo(nvme0);
      const count = num("count", values.count, 50);
      const qid = values.qid === undefined
        ? undefined
        : num("qid", values.qid, 0);
      if (qid !== undefined && qid !== 0 && qid !== q.sqid) {
        throw new NvmeError(
          `--qid ${qid}: this session has the admin queue (0) and I/O queue ${q.sqid}`,
        );
      }
      const queues = [
        { qid: 0, admin: true, entries: nvme0.cmdlog(count) },
        { qid: q.sqid, admin: false, entries: q.cmdlog(count) },
      ].filter((x) => qid === undefined || x.qid === qid);
      out(
        queues.map((x) => ({
          qid: x.qid,
          commands: cmdlogRows(x.entries, x.admin),
        })),
        () =>
          queues.map((x) =>
            `${
              styleText(
                "bold",
                `cmdlog of ${
                  x.admin ? "the admin queue" : `I/O queue ${x.qid}`
                }, newest first:`,
              )
            }\n${
              cmdlogText(x.entries, {
                admin: x.admin,
                color: Deno.stdout.isTerminal(),
              })
            }`
          ).join("\n\n"),
      );
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

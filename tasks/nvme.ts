/**
 * `deno task nvme <command> [options] [--dut NAME] [--json]` — utilities on a
 * device, in the spirit of nvme-cli: identify, smart, features, regs, log,
 * errors, format, sanitize, fw-download, ioworker, cmdlog, devices.
 *
 * `deno task nvme --help` lists the commands and `deno task nvme <command>
 * --help` shows one command's options (the one usage text is in COMMANDS
 * below). An unknown option prints that command's usage and exits with 2.
 *
 * @module
 */
import { parseArgs, type ParseArgsOptionsConfig, styleText } from "node:util";
import {
  Buffer,
  Controller,
  decodeErrorLog,
  decodeFeature,
  decodeIdentifyNamespace,
  defaultDut,
  describeIdentifyController,
  describeIdentifyNamespace,
  describeRegisters,
  describeSmartWarnings,
  discover,
  expectStatus,
  FEATURE_DATA_SIZE,
  type IdentifyController,
  type IoWorkerOptions,
  Namespace,
  NAMESPACE_FEATURES,
  NvmeError,
  ParameterError,
  parseTcpName,
  Qpair,
  readRegisters,
  StatusError,
} from "../mod.ts";
import { FEATURES } from "../ffi/names.ts";
import { formatSize, listNvme } from "./devices.ts";
import { progressBar, ProgressLine } from "./progress.ts";

/** One command of the CLI: its synopsis, what it does, its options. */
interface CommandSpec {
  /** Arguments and options, as in the usage line. */
  synopsis: string;
  /** One line: what it does. */
  summary: string;
  /** Its options (besides --dut, --json, --help) with their help text. */
  options: Record<
    string,
    { type: "string" | "boolean"; short?: string; help: string }
  >;
}

const NSID = {
  type: "string",
  help: "namespace ID (default 1 where one is needed)",
} as const;

/** Every command: the one usage text (`--help`, errors) comes from here. */
const COMMANDS: Record<string, CommandSpec> = {
  devices: {
    synopsis: "devices",
    summary: "the embedded device and this host's NVMe controllers",
    options: {},
  },
  discover: {
    synopsis: "discover HOST[:PORT]",
    summary: "the discovery log (LID 70h) of an NVMe/TCP target (port 4420)",
    options: {},
  },
  identify: {
    synopsis: "identify [--nsid N] [-H]",
    summary: "decoded Identify Controller, or Identify Namespace N",
    options: {
      nsid: { type: "string", help: "Identify Namespace of this namespace" },
      human: {
        type: "boolean",
        short: "H",
        help: "every bit field explained (nvme-cli -H)",
      },
    },
  },
  smart: {
    synopsis: "smart [--nsid N]",
    summary: "SMART / Health Information log (the controller, or namespace N)",
    options: {
      nsid: {
        type: "string",
        help: "the namespace's log (default: all, FFFFFFFFh)",
      },
    },
  },
  features: {
    synopsis: "features [FID ...] [--nsid N]",
    summary: "current values of features, decoded (default: the common ones)",
    options: {
      nsid: {
        type: "string",
        help:
          "namespace of the per-namespace features (03h, 05h, 82h-84h; default 1)",
      },
    },
  },
  regs: {
    synopsis: "regs",
    summary:
      "controller registers, every bit field decoded (nvme show-regs -H)",
    options: {},
  },
  log: {
    synopsis: "log LID [--size BYTES] [--nsid N]",
    summary: "log page LID (decimal or 0x-hex) as a hex dump",
    options: {
      size: { type: "string", help: "bytes to read (default 512)" },
      nsid: { type: "string", help: "namespace (default FFFFFFFFh)" },
    },
  },
  errors: {
    synopsis: "errors",
    summary: "Error Information log entries with a non-zero count",
    options: {},
  },
  format: {
    synopsis: "format [--lbaf N] [--ses N] [--nsid N]",
    summary: "Format NVM",
    options: {
      lbaf: { type: "string", help: "LBA format index (default 0)" },
      ses: { type: "string", help: "secure erase setting 0-2 (default 0)" },
      nsid: NSID,
    },
  },
  sanitize: {
    synopsis: "sanitize [--action N]",
    summary: "sanitize with a progress bar (log 81h)",
    options: {
      action: {
        type: "string",
        help:
          "1 exit failure mode, 2 block erase (default), 3 overwrite, 4 crypto erase",
      },
    },
  },
  "fw-download": {
    synopsis: "fw-download FILE [--slot N] [--action N]",
    summary: "firmware image download and commit",
    options: {
      slot: {
        type: "string",
        help: "firmware slot (default 0: the controller chooses)",
      },
      action: { type: "string", help: "commit action (default 1)" },
    },
  },
  ioworker: {
    synopsis:
      "ioworker [--nsid N] [--seconds S] [--bs SIZE | --io-size LBAS[,LBAS...]] [--read PERCENT] [--qdepth N] [--seq] [--iops N] [--count N] [--report OUT.html] [--png OUT.png]",
    summary: "a workload with a live progress line (IOPS, MB/s, elapsed)",
    options: {
      nsid: NSID,
      seconds: { type: "string", help: "run time in seconds (default 5)" },
      bs: {
        type: "string",
        help: "IO size in bytes, with k/m suffixes (4k, 128k) like fio",
      },
      "block-size": { type: "string", help: "the same as --bs" },
      "io-size": {
        type: "string",
        help: "IO size in LBAs, or a list (8,16,32)",
      },
      read: {
        type: "string",
        help: "percentage of reads, 0-100 (default 100)",
      },
      qdepth: { type: "string", help: "queue depth, 2-1024 (default 64)" },
      seq: { type: "boolean", help: "sequential LBAs (default random)" },
      iops: { type: "string", help: "IOPS limit (default none)" },
      count: { type: "string", help: "stop after this many IOs" },
      report: { type: "string", help: "write the HTML report (and OUT.svg)" },
      png: {
        type: "string",
        help: "write the report picture as PNG (needs Chromium)",
      },
    },
  },
  cmdlog: {
    synopsis: "cmdlog [TEST.LOG] [--test TEXT] [--qid N] [--count N]",
    summary:
      "the decoded cmdlog after a short demo on the device, or the cmdlogs of the failed tests in a test log",
    options: {
      test: {
        type: "string",
        help: "only tests whose name contains TEXT (with TEST.LOG)",
      },
      qid: { type: "string", help: "only this queue" },
      count: {
        type: "string",
        help: "newest N commands per queue (default 50 for the demo)",
      },
    },
  },
};

const GLOBAL_OPTIONS: CommandSpec["options"] = {
  dut: {
    type: "string",
    help: 'device under test (default NVME_DUT, else "qemu")',
  },
  json: { type: "boolean", help: "print JSON" },
  help: { type: "boolean", short: "h", help: "this help" },
};

/** The general usage: every command's synopsis. */
function usage(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    "usage: deno task nvme <command> [options] [--dut NAME] [--json]",
    "",
    ...Object.entries(COMMANDS).map(([name, c]) =>
      `  ${name.padEnd(w)}  ${c.summary}`
    ),
    "",
    "deno task nvme <command> --help shows the options of a command.",
    'device: --dut NAME, else NVME_DUT, else "qemu"',
  ].join("\n");
}

/** The usage of one command, with its options. */
function commandUsage(name: string): string {
  const c = COMMANDS[name];
  const opts = { ...c.options, ...GLOBAL_OPTIONS };
  const flags = Object.entries(opts).map(([k, o]) => [
    `${o.short ? `-${o.short}, ` : ""}--${k}${
      o.type === "string" ? " VALUE" : ""
    }`,
    o.help,
  ]);
  const w = Math.max(...flags.map(([f]) => f.length));
  return [
    `usage: deno task nvme ${c.synopsis}`,
    `${c.summary}`,
    "",
    "options:",
    ...flags.map(([f, h]) => `  ${f.padEnd(w)}  ${h}`),
  ].join("\n");
}

/** Every option any command takes, as parsed (strings and flags). */
interface Values {
  dut?: string;
  json?: boolean;
  help?: boolean;
  nsid?: string;
  human?: boolean;
  size?: string;
  lbaf?: string;
  ses?: string;
  action?: string;
  slot?: string;
  qid?: string;
  count?: string;
  test?: string;
  seconds?: string;
  bs?: string;
  "block-size"?: string;
  "io-size"?: string;
  read?: string;
  qdepth?: string;
  seq?: boolean;
  iops?: string;
  report?: string;
  png?: string;
}

/** A command line that cannot be parsed: print the usage, exit 2. */
class UsageError extends Error {
  constructor(message: string, readonly command?: string) {
    super(message);
  }
}

function parse(
  args: string[],
): { cmd?: string; rest: string[]; values: Values } {
  const cmd = args.find((a) => !a.startsWith("-"));
  const spec = cmd ? COMMANDS[cmd] : undefined;
  if (cmd && !spec) throw new UsageError(`unknown command "${cmd}"`);
  const options: ParseArgsOptionsConfig = {};
  for (
    const [k, o] of Object.entries({ ...spec?.options, ...GLOBAL_OPTIONS })
  ) {
    options[k] = { type: o.type, ...(o.short ? { short: o.short } : {}) };
  }
  try {
    const r = parseArgs({
      args,
      options,
      allowPositionals: true,
      strict: true,
    });
    const [, ...rest] = r.positionals;
    return { cmd, rest, values: r.values as Values };
  } catch (e) {
    // node:util's messages name the option; drop its advice about "--"
    const msg = (e as Error).message.replace(
      /\. To specify a positional.*$/s,
      "",
    );
    throw new UsageError(msg, cmd);
  }
}

let values: Values = {};

/** A non-negative integer option (decimal or 0x-hex), named by its flag in errors. */
function num(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = /^0x[0-9a-f]+$/i.test(v)
    ? parseInt(v, 16)
    : /^\d+$/.test(v)
    ? Number(v)
    : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new ParameterError(
      `${
        name.startsWith("--") || !/^[a-z-]+$/.test(name) ? name : `--${name}`
      } ${v}: give a non-negative integer (decimal or 0x-hex)`,
    );
  }
  return n;
}

/** A size in bytes: a number with an optional k/m/g suffix (powers of 1024), like fio. */
function bytesOption(name: string, v: string): number {
  const m = /^(\d+)([kmg]?)(i?b)?$/i.exec(v.trim());
  if (!m) {
    throw new ParameterError(
      `--${name} ${v}: give a size in bytes, e.g. 4096, 4k or 128k`,
    );
  }
  return Number(m[1]) * 1024 ** " kmg".indexOf(m[2].toLowerCase() || " ");
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

/** A field name as nvme-cli prints it: snake_case (`percentageUsed` → `percentage_used`). */
function snake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * Name/value lines, one naming style (snake_case, as nvme-cli): counts,
 * times, temperatures and percentages in decimal, other numbers (bit fields,
 * identifiers) in decimal and hex.
 */
function table(obj: Record<string, unknown>): string {
  const keys = Object.keys(obj).map(snake);
  const w = Math.max(...keys.map((k) => k.length));
  return Object.entries(obj).map(([k, v], i) => {
    const s = typeof v === "number" && /spare|percentage/i.test(k)
      ? `${v}%`
      : typeof v === "number" && k !== "temperature" &&
          !/time|count|hours|nn|mdts|tc$|tt$/i.test(k)
      ? `${v} (0x${v.toString(16)})`
      : Array.isArray(v)
      ? JSON.stringify(v, (_, x) => typeof x === "bigint" ? x.toString() : x)
      : String(v);
    return `${styleText("bold", keys[i].padEnd(w))}  ${s}`;
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

/**
 * `cmdlog TEST.JSONL` (or the TEST.LOG beside it): the cmdlogs of the failed
 * tests a harness's structured test record holds.
 */
async function cmdlogFromLog(file: string): Promise<number> {
  const { parseTestRecord } = await import("../report/testlog.ts");
  const { recordFileOf } = await import("../testing/log.ts");
  const { cmdlogRows, cmdlogText } = await import("../report/cmdlog_view.ts");
  file = recordFileOf(file);
  const run = parseTestRecord(Deno.readTextFileSync(file));
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

/** The ioworker options the CLI's flags set: a parameter error names the flag. */
const FLAG_OF: Record<string, string> = {
  readPercentage: "--read",
  qdepth: "--qdepth",
  ioSize: "--io-size (or --bs)",
  iops: "--iops",
  ioCount: "--count",
  time: "--seconds",
  lbaAlign: "--io-size (or --bs)",
};

function asFlags(e: ParameterError): ParameterError {
  let msg = e.message;
  for (const [param, flag] of Object.entries(FLAG_OF)) {
    msg = msg.replace(new RegExp(`\\b${param}\\b`, "g"), flag);
  }
  return new ParameterError(msg);
}

/** `ioworker`: a workload with a live progress line, then its figures (and report). */
async function ioworker(nvme0: Controller, nsid: number): Promise<number> {
  using ns = new Namespace(nvme0, nsid || 1);
  const seconds = Number(values.seconds ?? 5);
  if (!(seconds > 0)) throw new NvmeError("--seconds: give a positive number");
  const bsFlag = values.bs !== undefined ? "bs" : "block-size";
  const bs = values.bs ?? values["block-size"];
  if (bs !== undefined && values["io-size"] !== undefined) {
    throw new ParameterError(
      `--${bsFlag} and --io-size both give the IO size: give one (bytes or LBAs)`,
    );
  }
  let ioSize = values["io-size"]
    ? values["io-size"].split(",").map((s) => num("io-size", s, 8))
    : [Math.max(1, 4096 / ns.lbaSize)];
  if (bs !== undefined) {
    const bytes = bytesOption(bsFlag, bs);
    if (!bytes || bytes % ns.lbaSize) {
      throw new ParameterError(
        `--${bsFlag} ${bs}: give a non-zero multiple of the ${ns.lbaSize}-byte LBA size`,
      );
    }
    ioSize = [bytes / ns.lbaSize];
  }
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
  let w;
  try {
    w = ns.ioworker(options).start();
  } catch (e) {
    throw e instanceof ParameterError ? asFlags(e) : e;
  }
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

/** `discover HOST[:PORT]`: the discovery log of an NVMe/TCP target. */
function discoverLog(addr?: string): number {
  if (!addr) {
    throw new ParameterError(
      "discover needs an address: HOST, HOST:PORT, [IPv6]:PORT or tcp://HOST:PORT",
    );
  }
  const t = parseTcpName(addr) ?? parseTcpName(`tcp://${addr}`);
  if (!t) {
    throw new ParameterError(
      `discover ${addr}: expected HOST, HOST:PORT, [IPv6]:PORT or tcp://HOST:PORT`,
    );
  }
  const log = discover(t);
  const fam: Record<number, string> = { 1: "ipv4", 2: "ipv6" };
  out(log, () =>
    [
      `discovery log of ${t.host}:${t.port}: generation ${log.genctr}, ${log.numrec} record(s)`,
      ...log.entries.map((e, i) =>
        [
          `${i}: ${e.subtypeName}: ${e.subnqn}`,
          `   trtype ${e.trtype === 3 ? "tcp" : e.trtype}, adrfam ${
            fam[e.adrfam] ?? e.adrfam
          }, traddr ${e.traddr}, trsvcid ${e.trsvcid}, portid ${e.portid}, cntlid 0x${
            e.cntlid.toString(16)
          }, asqsz ${e.asqsz}, treq 0x${e.treq.toString(16)}`,
        ].join("\n")
      ),
    ].join("\n"));
  return 0;
}

async function main(): Promise<number> {
  let cmd: string | undefined, rest: string[];
  ({ cmd, rest, values } = parse(Deno.args));
  if (!cmd) {
    if (values.help) {
      console.log(usage());
      return 0;
    }
    throw new UsageError("give a command");
  }
  if (values.help) {
    console.log(commandUsage(cmd));
    return 0;
  }
  // commands without a device
  if (cmd === "devices") return devices();
  if (cmd === "discover") return discoverLog(rest[0]);
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
        out(
          ns,
          () =>
            values.human
              ? describeIdentifyNamespace(buf.bytes).join("\n")
              : table({ ...ns }),
        );
      } else {
        const id: IdentifyController = nvme0.idCtrl;
        out(
          id,
          () =>
            values.human
              ? describeIdentifyController(nvme0.identifyData).join("\n")
              : table({ ...id, psd: id.psd.length }),
        );
      }
      return 0;
    }
    case "smart": {
      const s = nvme0.smartLog(nsid || 0xffffffff);
      out(
        s,
        () =>
          [
            table({
              ...s,
              temperature: `${s.temperature} K (${s.temperature - 273} C)`,
            }),
            ...describeSmartWarnings(s),
          ].join("\n"),
      );
      return 0;
    }
    case "features": {
      const fids = rest.length
        ? rest.map((f) => num("FID", f, 0))
        : COMMON_FEATURES;
      const res: Record<string, unknown> = {};
      const lines: string[] = [];
      for (const fid of fids) {
        if (fid > 0xff) throw new ParameterError(`FID ${fid}: allowed 0..0xff`);
        const name = `${fid.toString(16).padStart(2, "0")}h ${
          FEATURES[fid] ?? "feature"
        }`;
        // per-namespace features for the namespace asked, the others with NSID 0
        const fnsid = NAMESPACE_FEATURES.includes(fid) ? nsid || 1 : 0;
        const size = FEATURE_DATA_SIZE[fid];
        using buf = size ? new Buffer(4096, `feature ${fid}`) : undefined;
        try {
          const cdw0 = nvme0.getfeatures(fid, { nsid: fnsid, buf }).waitdone();
          const f = decodeFeature(fid, cdw0, buf?.bytes.subarray(0, size));
          res[name] = { nsid: fnsid, cdw0, fields: f.fields, data: f.data };
          lines.push(
            `${styleText("bold", name)}${fnsid ? ` (nsid ${fnsid})` : ""}: 0x${
              cdw0.toString(16).padStart(8, "0")
            }`,
            ...f.text.map((l) => `  ${l}`),
          );
        } catch (e) {
          if (!(e instanceof StatusError)) throw e;
          res[name] = { nsid: fnsid, error: e.message };
          lines.push(`${styleText("bold", name)}: ${e.message}`);
        }
      }
      out(res, () => lines.join("\n"));
      return 0;
    }
    case "regs": {
      const regs = readRegisters(nvme0);
      out(regs, () => describeRegisters(regs).join("\n"));
      return 0;
    }
    case "log": {
      if (!rest[0]) {
        throw new NvmeError("log needs a log page id, e.g. `log 2`");
      }
      const lid = num("LID", rest[0], 0);
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
      throw new UsageError(`unknown command "${cmd}"`);
  }
}

try {
  Deno.exit(await main());
} catch (e) {
  if (e instanceof UsageError) {
    console.error(
      `${styleText("red", `error: ${e.message}`)}\n${
        e.command ? commandUsage(e.command) : usage()
      }`,
    );
    Deno.exit(2);
  }
  const msg = e instanceof Error ? e.message : String(e);
  if (values.json) console.log(JSON.stringify({ error: msg }));
  else console.error(styleText("red", `error: ${msg}`));
  Deno.exit(1);
}

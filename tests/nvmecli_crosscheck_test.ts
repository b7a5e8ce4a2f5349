/**
 * denvme's decoders against nvme-cli 2.3, field for field, on the same device.
 *
 * The guest-VM test (`deno task test:vfio`) runs Debian's nvme-cli on the
 * device under test while the kernel's nvme driver owns it (tasks/vm/init2.sh,
 * step nvmecli-dump: id-ctrl, id-ns, smart-log, error-log, fw-log, effects-log
 * and show-regs as JSON, every feature as `get-feature -H` text), hands the
 * device to vfio-pci, and runs this file first:
 *
 *   DENVME_NVMECLI_OUTPUT=/tmp/nvmecli.txt deno test --allow-all \
 *     tests/nvmecli_crosscheck_test.ts -- --dut 0000:01:00.0
 *
 * Every field nvme-cli prints is looked up in a table (nvme-cli's name ->
 * denvme's) and compared with what denvme reads and decodes now; a field
 * nvme-cli prints that has no entry is a failure too. A mismatch names the
 * field and both values. Fields that legitimately move between the two reads
 * are compared with a stated tolerance; driver state that differs by design
 * (the admin queue's size and addresses, CC.CSS) is listed as excluded with
 * the reason. Without the dump the tests are ignored and say why.
 *
 * Ordering: the model keeps feature values across controller resets, so what
 * the kernel set (Async Event Configuration) is still there when denvme opens
 * the device; the guest runs this before any other test changes a feature.
 * The Timestamp is the exception: the controller restarts it from 0 at each
 * enable (origin "reset") and Linux sets it to the wall clock right after its
 * own enable, so this test does what Linux does before reading it back.
 * denvme reads the error log and SMART before any command of its own that
 * could fail.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  Buffer,
  Controller,
  CRITICAL_WARNING,
  decodeBits,
  decodeEffectsLog,
  decodeErrorLog,
  decodeFeature,
  decodeFirmwareSlotLog,
  decodeIdentifyController,
  decodeIdentifyNamespace,
  decodeSmartLog,
  defaultDut,
  type ErrorLogEntry,
  FEATURE_DATA_SIZE,
  type HostBehavior,
  type IdentifyController,
  type IdentifyNamespace,
  NAMESPACE_FEATURES,
  readRegisters,
  REGISTERS,
  StatusError,
  type Timestamp,
} from "../mod.ts";

const OUTPUT = Deno.env.get("DENVME_NVMECLI_OUTPUT") ?? "";
const DUT = defaultDut();
const NEEDS_DUMP =
  "[needs DENVME_NVMECLI_OUTPUT: nvme-cli's dump of the same device, made by the guest test (deno task test:vfio)]";

// ---------------------------------------------------------------------------
// nvme-cli's dump: sections "### name" ... "### rc N"

/** One command's output in the dump. */
interface Section {
  text: string;
  rc: number;
}

/** Split the dump into its sections by name. */
export function parseDump(text: string): Map<string, Section> {
  const out = new Map<string, Section>();
  let name: string | undefined;
  let lines: string[] = [];
  for (const line of text.split("\n")) {
    const rc = /^### rc (\d+)$/.exec(line);
    if (rc && name !== undefined) {
      out.set(name, { text: lines.join("\n"), rc: Number(rc[1]) });
      name = undefined;
    } else if (line.startsWith("### ")) {
      name = line.slice(4).trim();
      lines = [];
    } else if (name !== undefined) lines.push(line);
  }
  return out;
}

/**
 * Parse nvme-cli's JSON: integers of 16 digits or more (CAP, 64-bit counters)
 * become strings first, so that no precision is lost.
 */
function parseJson(text: string): unknown {
  const start = text.search(/[[{]/);
  if (start < 0) throw new Error(`no JSON in: ${text.slice(0, 200)}`);
  return JSON.parse(
    text.slice(start).replace(
      /([:[,]\s*)(-?\d{16,})(?=\s*[,}\]])/g,
      '$1"$2"',
    ),
  );
}

// ---------------------------------------------------------------------------
// comparison

type Value = number | bigint | string | boolean;

function toBig(v: unknown): bigint | undefined {
  if (typeof v === "bigint") return v;
  if (typeof v === "boolean") return v ? 1n : 0n;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (typeof v === "string" && /^-?\d+$/.test(v.trim())) {
    return BigInt(v.trim());
  }
  return undefined;
}

/** Fields compared, tolerated and excluded in one area, and the mismatches. */
class Comparison {
  compared = 0;
  tolerated = 0;
  readonly mismatches: string[] = [];
  readonly excluded: string[] = [];
  constructor(readonly area: string) {}

  /**
   * Equal values. nvme-cli 2.3 prints 32-bit unsigned fields through json-c's
   * signed int, so a negative number from it equals that number + 2^32.
   */
  eq(field: string, cli: unknown, ours: Value): void {
    this.compared++;
    const a = toBig(cli), b = toBig(ours);
    const same = a !== undefined && b !== undefined
      ? a === b || (a < 0n && a + (1n << 32n) === b)
      : String(cli) === String(ours);
    if (!same) {
      this.mismatches.push(
        `${this.area}.${field}: nvme-cli ${
          JSON.stringify(String(cli))
        }, denvme ${JSON.stringify(String(ours))}`,
      );
    }
  }

  /** `ours - cli` within [lo, hi] (values that move between the two reads). */
  near(
    field: string,
    cli: unknown,
    ours: Value,
    lo: number,
    hi: number,
  ): void {
    this.compared++;
    this.tolerated++;
    const a = toBig(cli), b = toBig(ours);
    const d = a !== undefined && b !== undefined ? b - a : undefined;
    if (d === undefined || d < BigInt(lo) || d > BigInt(hi)) {
      this.mismatches.push(
        `${this.area}.${field}: nvme-cli ${cli}, denvme ${ours} (allowed: denvme - nvme-cli in [${lo}, ${hi}])`,
      );
    }
  }

  /** A field nvme-cli prints that is not compared, and why. */
  exclude(field: string, why: string): void {
    this.excluded.push(`${this.area}.${field}: ${why}`);
  }

  /** A field nvme-cli prints that no table entry covers. */
  unknown(field: string, cli: unknown): void {
    this.compared++;
    this.mismatches.push(
      `${this.area}.${field}: nvme-cli prints ${
        JSON.stringify(cli)
      }, no denvme counterpart in the table`,
    );
  }
}

const all: Comparison[] = [];

function finish(c: Comparison): void {
  all.push(c);
  console.log(
    `  ${c.area}: ${c.compared} fields compared (${c.tolerated} with a tolerance), ${c.excluded.length} excluded, ${c.mismatches.length} mismatches`,
  );
  for (const e of c.excluded) console.log(`    excluded ${e}`);
  assert.deepEqual(c.mismatches, [], `${c.area}: fields that differ`);
}

// ---------------------------------------------------------------------------
// the tables: nvme-cli's JSON name -> denvme's value

/** Identify Controller: nvme-cli key -> denvme field (the same names, by design). */
const ID_CTRL_SAME = [
  "vid",
  "ssvid",
  "rab",
  "ieee",
  "cmic",
  "mdts",
  "cntlid",
  "ver",
  "rtd3r",
  "rtd3e",
  "oaes",
  "ctratt",
  "rrls",
  "cntrltype",
  "crdt1",
  "crdt2",
  "crdt3",
  "nvmsr",
  "vwci",
  "mec",
  "oacs",
  "acl",
  "aerl",
  "frmw",
  "lpa",
  "elpe",
  "npss",
  "avscc",
  "apsta",
  "wctemp",
  "cctemp",
  "mtfa",
  "hmpre",
  "hmmin",
  "tnvmcap",
  "unvmcap",
  "rpmbs",
  "edstt",
  "dsto",
  "fwug",
  "kas",
  "hctma",
  "mntmt",
  "mxtmt",
  "sanicap",
  "hmminds",
  "hmmaxd",
  "nsetidmax",
  "endgidmax",
  "anatt",
  "anacap",
  "anagrpmax",
  "nanagrpid",
  "pels",
  "domainid",
  "megcap",
  "sqes",
  "cqes",
  "maxcmd",
  "nn",
  "oncs",
  "fuses",
  "fna",
  "vwc",
  "awun",
  "awupf",
  "icsvscc",
  "nwpc",
  "acwu",
  "ocfs",
  "sgls",
  "mnan",
  "maxdna",
  "maxcna",
  "ioccsz",
  "iorcsz",
  "icdoff",
  "fcatt",
  "msdbd",
  "ofcs",
] as const;

/** Identify Controller strings: nvme-cli keeps the space padding, denvme drops it. */
const ID_CTRL_STRINGS = ["sn", "mn", "fr", "subnqn"] as const;

/** Power state descriptor: nvme-cli key -> denvme field. */
const PSD: Record<
  string,
  (p: IdentifyController["psd"][number]) => number
> = {
  max_power: (p) => p.mp,
  flags: (p) => p.mxps | (p.nops ? 2 : 0),
  entry_lat: (p) => p.enlat,
  exit_lat: (p) => p.exlat,
  read_tput: (p) => p.rrt,
  read_lat: (p) => p.rrl,
  write_tput: (p) => p.rwt,
  write_lat: (p) => p.rwl,
  idle_power: (p) => p.idlp,
  idle_scale: (p) => p.ips,
  active_power: (p) => p.actp,
  active_power_work: (p) => p.apw,
  active_scale: (p) => p.aps,
};

/** Identify Namespace: the same names in nvme-cli and denvme. */
const ID_NS_SAME = [
  "nsze",
  "ncap",
  "nuse",
  "nsfeat",
  "nlbaf",
  "flbas",
  "mc",
  "dpc",
  "dps",
  "nmic",
  "rescap",
  "fpi",
  "dlfeat",
  "nawun",
  "nawupf",
  "nacwu",
  "nabsn",
  "nabo",
  "nabspf",
  "noiob",
  "nvmcap",
  "nsattr",
  "nvmsetid",
  "npwg",
  "npwa",
  "npdg",
  "npda",
  "nows",
  "mssrl",
  "mcl",
  "msrc",
  "nulbaf",
  "anagrpid",
  "endgid",
  "eui64",
  "nguid",
] as const;

/** SMART with -H: nvme-cli key -> denvme field, and how much it may move. */
const SMART: Record<
  string,
  { ours: string; tolerance?: [number, number]; why?: string }
> = {
  temperature: {
    ours: "temperature",
    tolerance: [-3, 3],
    why: "a temperature may move between the two reads (K)",
  },
  avail_spare: { ours: "availableSpare" },
  spare_thresh: { ours: "availableSpareThreshold" },
  percent_used: { ours: "percentageUsed" },
  endurance_grp_critical_warning_summary: { ours: "egcws" },
  data_units_read: {
    ours: "dataUnitsRead",
    tolerance: [0, 1000],
    why: "may only grow: the kernel may still read before it lets go",
  },
  data_units_written: {
    ours: "dataUnitsWritten",
    tolerance: [0, 1000],
    why: "may only grow: the kernel may still write before it lets go",
  },
  host_read_commands: {
    ours: "hostReadCommands",
    tolerance: [0, 1000],
    why: "may only grow (as data_units_read)",
  },
  host_write_commands: {
    ours: "hostWriteCommands",
    tolerance: [0, 1000],
    why: "may only grow (as data_units_written)",
  },
  controller_busy_time: {
    ours: "controllerBusyTime",
    tolerance: [0, 1],
    why: "minutes, may tick once",
  },
  power_cycles: { ours: "powerCycles" },
  power_on_hours: {
    ours: "powerOnHours",
    tolerance: [0, 1],
    why: "hours, may tick once",
  },
  unsafe_shutdowns: { ours: "unsafeShutdowns" },
  media_errors: { ours: "mediaErrors" },
  num_err_log_entries: {
    ours: "errorLogEntries",
    tolerance: [0, 64],
    why:
      "nvme-cli's get-feature of unsupported features, after its smart-log, may log errors",
  },
  warning_temp_time: {
    ours: "warningTempTime",
    tolerance: [0, 1],
    why: "minutes, may tick once",
  },
  critical_comp_time: {
    ours: "criticalTempTime",
    tolerance: [0, 1],
    why: "minutes, may tick once",
  },
  thm_temp1_trans_count: { ours: "tmt1tc" },
  thm_temp2_trans_count: { ours: "tmt2tc" },
  thm_temp1_total_time: { ours: "tmt1tt" },
  thm_temp2_total_time: { ours: "tmt2tt" },
};

/** SMART -H critical warning bits: nvme-cli key -> denvme CRITICAL_WARNING name. */
const CRIT_BITS: Record<string, string> = {
  available_spare: "spare",
  temp_threshold: "temperature",
  reliability_degraded: "reliability",
  ro: "readOnly",
  vmbu_failed: "volatileBackup",
  pmr_ro: "pmr",
};

/** Error log entry: nvme-cli key -> denvme field. */
const ERROR_ENTRY: Record<string, keyof ErrorLogEntry> = {
  error_count: "errorCount",
  sqid: "sqid",
  cmdid: "cid",
  status_field: "status",
  phase_tag: "phaseTag",
  parm_error_location: "parameterErrorLocation",
  lba: "lba",
  nsid: "nsid",
  vs: "vsia",
  trtype: "trtype",
  cs: "commandSpecific",
  trtype_spec_info: "trtypeSpecific",
};

/** Registers whose value is the owning driver's state, not the device's. */
const REG_STATE: Record<string, string> = {
  aqa: "admin queue sizes: Linux uses 32 entries, denvme its own depth",
  asq: "admin SQ address: each driver's own DMA memory",
  acq: "admin CQ address: each driver's own DMA memory",
};

/** CC fields that differ by design (the rest of CC is compared field by field). */
const CC_STATE: Record<string, string> = {
  css:
    "Linux selects all I/O command sets (110b) when CAP.CSS allows; pynvme's init writes 000b",
};

/** How nvme-cli prints a feature's field, and the denvme field it is. */
interface FeatureLine {
  /** The abbreviation in parentheses, or the text before the colon. */
  label: string;
  /** denvme's field in decodeFeature().fields (or a name for data fields). */
  field: string;
  /** nvme-cli's text -> the value in denvme's units. */
  parse: (s: string) => number;
  /** denvme's value, when not fields[field]. */
  ours?: (
    f: ReturnType<typeof decodeFeature>,
  ) => number;
}

const num = (s: string) => {
  const m = /^-?\d+/.exec(s.trim().replaceAll(",", ""));
  if (!m) throw new Error(`not a number: ${s}`);
  return Number(m[0]);
};
const minus1 = (s: string) => num(s) - 1;
const div100 = (s: string) => num(s) / 100;
const flagOf = (s: string) => {
  const t = s.trim();
  if (/^(Enabled|True|Yes|Send async event)$/.test(t)) return 1;
  if (/^(Disabled|False|No|Do not send async event)$/.test(t)) return 0;
  throw new Error(`not a flag: ${s}`);
};
const kelvin = (s: string) => {
  const m = /(\d+) Kelvin/.exec(s);
  if (!m) throw new Error(`no Kelvin in: ${s}`);
  return Number(m[1]);
};
const line = (
  label: string,
  field: string,
  parse: (s: string) => number = num,
  ours?: FeatureLine["ours"],
): FeatureLine => ({ label, field, parse, ours });

/**
 * nvme-cli 2.3's `get-feature -H` lines (nvme_feature_show_fields) -> denvme's
 * decodeFeature fields, per feature identifier.
 */
const FEATURE_LINES: Record<number, FeatureLine[]> = {
  0x01: [
    line("HPW", "hpw", minus1),
    line("MPW", "mpw", minus1),
    line("LPW", "lpw", minus1),
    line("AB", "ab", (s) => (s.trim() === "No limit" ? 7 : Math.log2(num(s)))),
  ],
  0x02: [line("WH", "wh"), line("PS", "ps")],
  0x03: [line("NUM", "num", minus1)],
  0x04: [
    line("THSEL", "thsel"),
    line("TMPSEL", "tmpsel"),
    line("TMPTH", "tmpth", kelvin),
  ],
  0x05: [line("DULBE", "dulbe", flagOf), line("TLER", "tler", div100)],
  0x06: [line("WCE", "wce", flagOf)],
  0x07: [line("NCQA", "ncqa", minus1), line("NSQA", "nsqa", minus1)],
  0x08: [line("TIME", "time", div100), line("THR", "thr", minus1)],
  0x09: [line("CD", "cd", flagOf), line("IV", "iv")],
  0x0a: [line("DN", "dn", flagOf)],
  0x0b: [
    line("Discovery Log Page Change Notices", "dlpcn", flagOf),
    line(
      "Endurance Group Event Aggregate Log Change Notices",
      "egealcn",
      flagOf,
    ),
    line("LBA Status Information Notices", "lsian", flagOf),
    line(
      "Predictable Latency Event Aggregate Log Change Notices",
      "plealcn",
      flagOf,
    ),
    line("Asymmetric Namespace Access Change Notices", "anacn", flagOf),
    line("Telemetry Log Notices", "tln", flagOf),
    line("Firmware Activation Notices", "fan", flagOf),
    line("Namespace Attribute Notices", "nan", flagOf),
    // nvme-cli says "send" when any of the eight warning bits is set
    line(
      "SMART / Health Critical Warnings",
      "smart",
      flagOf,
      (f) => (f.fields.smart ? 1 : 0),
    ),
  ],
  0x0c: [line("APSTE", "apste", flagOf)],
  0x0d: [line("EHM", "ehm", flagOf)],
  0x0f: [line("Keep Alive Timeout (KATO) in milliseconds", "kato")],
  0x10: [line("TMT1", "tmt1", kelvin), line("TMT2", "tmt2", kelvin)],
  0x11: [line("NOPPME", "noppme", flagOf)],
  0x12: [line("RRL", "rrl")],
  0x16: [
    line(
      "Host Behavior Support",
      "acre",
      flagOf,
      (f) => (f.data as HostBehavior).acre,
    ),
  ],
  0x17: [line("NODRM", "nodrm")],
  // nvme-cli prints bit 0 of the I/O Command Set Combination Index only
  0x19: [
    line(
      "I/O Command Set Profile",
      "iocsci",
      flagOf,
      (f) => f.fields.iocsci & 1,
    ),
  ],
  0x1a: [line("Spinup control feature Enabled", "supe", flagOf)],
  0x80: [line("PBSLC", "pbslc")],
  0x82: [
    line("RESPRE", "respre", flagOf),
    line("RESREL", "resrel", flagOf),
    line("REGPRE", "regpre", flagOf),
  ],
  0x83: [line("PTPL", "ptpl", flagOf)],
  0x84: [
    line("Namespace Write Protect", "wps", (s) =>
      [
        "No Write Protect",
        "Write Protect",
        "Write Protect Until Power Cycle",
        "Permanent Write Protect",
      ].indexOf(s.trim())),
  ],
};

/** The "label: value" lines of a `get-feature -H` section (abbreviation when given). */
function featureLines(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of text.split("\n")) {
    const m = /^\t([^\t].*?)\s*:\s(.*)$/.exec(l);
    if (!m) continue;
    const abbr = /\(([A-Z0-9]+)\)$/.exec(m[1]);
    out.set(abbr ? abbr[1] : m[1].trim(), m[2]);
  }
  return out;
}

// ---------------------------------------------------------------------------

const dump = OUTPUT ? parseDump(Deno.readTextFileSync(OUTPUT)) : new Map();

function section(name: string): Section {
  const s = dump.get(name);
  assert.ok(s, `nvme-cli's dump has no section "${name}"`);
  return s;
}

function json(name: string): Record<string, unknown> {
  const s = section(name);
  // nvme-cli 2.3's show-regs returns its output-format flag (1 for JSON) as
  // its exit status after printing the registers
  // (when it cannot map BAR0 it says so and prints values it never read)
  const okRc = name === "show-regs" ? [0, 1] : [0];
  assert.ok(
    okRc.includes(s.rc) && !/^get-property:/m.test(s.text),
    `nvme-cli ${name} failed (exit ${s.rc}): ${s.text.slice(0, 300)}`,
  );
  return parseJson(s.text) as Record<string, unknown>;
}

Deno.test({
  name: `denvme's decoders match nvme-cli 2.3 field for field (${DUT})${
    OUTPUT ? "" : ` ${NEEDS_DUMP}`
  }`,
  ignore: !OUTPUT,
  fn: async (t) => {
    const meta = /epoch=(\d+)/.exec(section("meta").text);
    assert.ok(meta, "the dump's meta section has the time it was made");
    const dumpedAt = Number(meta[1]) * 1000;
    using nvme0 = new Controller(DUT);

    // first the logs that a failing command or time could change
    const errorRaw = nvme0.logPage(0x01, 64 * (nvme0.identifyData[262] + 1));
    const smartRaw = nvme0.logPage(0x02, 512);
    const regs = readRegisters(nvme0);

    await t.step("registers (show-regs)", () => {
      const c = new Comparison("show-regs");
      const cli = json("show-regs");
      for (const [k, v] of Object.entries(cli)) {
        const spec = REGISTERS.find((r) => r.name === k);
        if (!spec || !regs[k]) {
          c.unknown(k, v);
        } else if (REG_STATE[k]) {
          c.exclude(k, REG_STATE[k]);
        } else if (k === "cc") {
          // the driver's configuration: compared field by field, with
          // nvme-cli's raw value decoded by denvme's register table
          const cliRaw = toBig(v)!;
          const cliFields = decodeBits(
            cliRaw < 0n ? cliRaw + (1n << 32n) : cliRaw,
            spec.fields,
          );
          for (const f of spec.fields) {
            if (CC_STATE[f.name]) c.exclude(`cc.${f.name}`, CC_STATE[f.name]);
            else {
              c.eq(`cc.${f.name}`, cliFields[f.name], regs.cc.fields[f.name]);
            }
          }
        } else c.eq(k, v, regs[k].value);
      }
      finish(c);
    });

    await t.step("identify controller (id-ctrl)", () => {
      const c = new Comparison("id-ctrl");
      const cli = json("id-ctrl");
      const ours = decodeIdentifyController(nvme0.identifyData);
      const rec = ours as unknown as Record<string, Value>;
      for (const [k, v] of Object.entries(cli)) {
        if ((ID_CTRL_SAME as readonly string[]).includes(k)) {
          c.eq(k, v, rec[k]);
        } else if ((ID_CTRL_STRINGS as readonly string[]).includes(k)) {
          // "%-.*s" of the raw field: the padding stays; denvme trims it
          c.eq(k, String(v).replace(/[ \0]+$/, ""), rec[k]);
        } else if (k === "fguid") {
          c.eq(k, String(v).replaceAll("-", ""), ours.fguid);
        } else if (k === "psds") {
          const psds = v as Record<string, unknown>[];
          c.eq("psds.length", psds.length, ours.psd.length);
          psds.forEach((p, i) => {
            for (const [pk, pv] of Object.entries(p)) {
              const f = PSD[pk];
              if (!f) c.unknown(`psds[${i}].${pk}`, pv);
              else if (ours.psd[i]) {
                c.eq(`psds[${i}].${pk}`, pv, f(ours.psd[i]));
              }
            }
          });
        } else c.unknown(k, v);
      }
      // subnqn is printed only when set: denvme's must then be empty
      if (!("subnqn" in cli)) c.eq("subnqn", "", ours.subnqn);
      finish(c);
    });

    await t.step("identify namespace 1 (id-ns)", () => {
      const c = new Comparison("id-ns");
      const cli = json("id-ns");
      using buf = new Buffer(4096);
      nvme0.identify(buf, 1, 0).waitdone();
      const ours: IdentifyNamespace = decodeIdentifyNamespace(
        buf.slice(0, 4096),
      );
      const rec = ours as unknown as Record<string, Value>;
      for (const [k, v] of Object.entries(cli)) {
        if ((ID_NS_SAME as readonly string[]).includes(k)) c.eq(k, v, rec[k]);
        else if (k === "lbafs") {
          const lbafs = v as Record<string, unknown>[];
          c.eq("lbafs.length", lbafs.length, ours.lbaf.length);
          lbafs.forEach((f, i) => {
            const o = ours.lbaf[i];
            if (!o) return;
            for (const [fk, fv] of Object.entries(f)) {
              if (fk === "ms") c.eq(`lbafs[${i}].ms`, fv, o.ms);
              else if (fk === "ds") {
                c.eq(`lbafs[${i}].ds`, fv, Math.log2(o.dataSize));
              } else if (fk === "rp") c.eq(`lbafs[${i}].rp`, fv, o.rp);
              else c.unknown(`lbafs[${i}].${fk}`, fv);
            }
          });
        } else c.unknown(k, v);
      }
      // printed only when NSFEAT.OPTPERF is set
      if (!(ours.nsfeat & 0x10)) {
        for (const k of ["npwg", "npwa", "npdg", "npda", "nows"]) {
          if (!(k in cli)) {
            c.exclude(k, "nvme-cli prints it only with NSFEAT bit 4");
          }
        }
      }
      finish(c);
    });

    await t.step("SMART / Health (smart-log -H)", () => {
      const c = new Comparison("smart-log");
      const cli = json("smart-log");
      const ours = decodeSmartLog(smartRaw);
      const rec = ours as unknown as Record<string, Value>;
      const seenSensors = new Set<number>();
      for (const [k, v] of Object.entries(cli)) {
        const s = SMART[k];
        const sensor = /^temperature_sensor_(\d)$/.exec(k);
        if (k === "critical_warning") {
          const cw = v as Record<string, unknown>;
          const bits = decodeBits(ours.criticalWarning, CRITICAL_WARNING);
          for (const [ck, cv] of Object.entries(cw)) {
            if (ck === "value") {
              c.eq("critical_warning", cv, ours.criticalWarning);
            } else if (CRIT_BITS[ck]) {
              c.eq(`critical_warning.${ck}`, cv, bits[CRIT_BITS[ck]]);
            } else c.unknown(`critical_warning.${ck}`, cv);
          }
        } else if (sensor) {
          const i = Number(sensor[1]) - 1;
          seenSensors.add(i);
          c.near(k, v, ours.sensors[i], -3, 3);
        } else if (!s) c.unknown(k, v);
        else if (s.tolerance) {
          c.near(k, v, rec[s.ours], s.tolerance[0], s.tolerance[1]);
        } else c.eq(k, v, rec[s.ours]);
      }
      // nvme-cli leaves out the sensors that read 0 (not reported)
      for (let i = 0; i < 8; i++) {
        if (!seenSensors.has(i)) {
          c.eq(`temperature_sensor_${i + 1} (not printed)`, 0, ours.sensors[i]);
        }
      }
      for (const [k, s] of Object.entries(SMART)) {
        if (s.tolerance) c.exclude(`${k} exact value`, s.why!);
      }
      c.exclude(
        "temperature_sensor_N exact value",
        "a temperature may move between the two reads (K)",
      );
      finish(c);
    });

    await t.step("error information (error-log)", () => {
      const c = new Comparison("error-log");
      const cli = (json("error-log").errors ?? []) as Record<string, unknown>[];
      const ours = decodeErrorLog(errorRaw);
      c.eq("entries", cli.length, Math.min(64, ours.length));
      // new entries push the old ones down: then entries match by error count
      const shifted = cli.length > 0 &&
        toBig(cli[0].error_count) !== ours[0].errorCount;
      cli.forEach((e, i) => {
        const count = toBig(e.error_count) ?? 0n;
        const o = shifted
          ? count ? ours.find((x) => x.errorCount === count) : undefined
          : ours[i];
        if (!o) {
          c.exclude(
            `errors[${i}]`,
            "the log gained entries between nvme-cli's read and denvme's",
          );
          return;
        }
        for (const [k, v] of Object.entries(e)) {
          const f = ERROR_ENTRY[k];
          if (!f) c.unknown(`errors[${i}].${k}`, v);
          else c.eq(`errors[${i}].${k}`, v, o[f] as Value);
        }
      });
      finish(c);
    });

    await t.step("firmware slots (fw-log)", () => {
      const c = new Comparison("fw-log");
      const cli = json("fw-log");
      const raw = nvme0.logPage(0x03, 512);
      const ours = decodeFirmwareSlotLog(raw);
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      const dev = Object.values(cli)[0] as Record<string, unknown>;
      assert.ok(dev, "fw-log JSON has the device's object");
      const printed = new Set<number>();
      for (const [k, v] of Object.entries(dev)) {
        const slot = /^Firmware Rev Slot (\d)$/.exec(k);
        if (k === "Active Firmware Slot (afi)") c.eq("afi", v, ours.afi);
        else if (slot) {
          const n = Number(slot[1]);
          printed.add(n);
          const m = /^(\d+) \((.*)\)$/.exec(String(v));
          assert.ok(m, `fw-log ${k}: ${v}`);
          c.eq(`frs${n} (u64)`, m[1], dv.getBigUint64(8 * n, true));
          // nvme-cli shows each byte outside '!'..'~' as '.', denvme trims the padding
          const shown = [...ours.frs[n - 1].padEnd(8, " ")].map((ch) =>
            ch >= "!" && ch <= "~" ? ch : "."
          ).join("");
          c.eq(`frs${n}`, m[2], shown);
        } else c.unknown(k, v);
      }
      for (let n = 1; n <= 7; n++) {
        if (!printed.has(n)) {
          c.eq(`frs${n} (empty, not printed)`, "", ours.frs[n - 1]);
        }
      }
      finish(c);
    });

    await t.step("commands supported and effects (effects-log)", () => {
      const c = new Comparison("effects-log");
      const pages = json("effects-log") as unknown as Record<string, unknown>[];
      const ours = decodeEffectsLog(nvme0.logPage(0x05, 4096, 0));
      for (const page of pages) {
        const csi = Number(page.command_set_identifier);
        if (csi !== 0) {
          c.exclude(
            `csi ${csi}`,
            "denvme's effectsLog() reads the NVM command set's page (CSI 0)",
          );
          continue;
        }
        for (
          const [set, prefix, list] of [
            ["admin_cmd_set", "ACS", ours.admin],
            ["io_cmd_set", "IOCS", ours.io],
          ] as const
        ) {
          const entries = page[set] as Record<string, unknown>;
          const listed = new Set<number>();
          for (const [k, v] of Object.entries(entries)) {
            const m = new RegExp(`^${prefix}_(\\d+) `).exec(k);
            if (!m) {
              c.unknown(`${set}.${k}`, v);
              continue;
            }
            const opc = Number(m[1]);
            listed.add(opc);
            c.eq(`${set}[0x${opc.toString(16)}]`, v, list[opc].raw);
          }
          // nvme-cli lists exactly the opcodes with CSUPP set
          list.forEach((e, opc) => {
            if (e.csupp && !listed.has(opc)) {
              c.eq(`${set}[0x${opc.toString(16)}] listed`, "no", "yes");
            }
          });
        }
      }
      finish(c);
    });

    await t.step("features (get-feature -H)", () => {
      const c = new Comparison("features");
      // the kernel's state of the Timestamp: Linux sets it to the wall clock
      // after enabling the controller (nvme_configure_timestamp), and the
      // controller resets it at every enable, denvme's included
      if (nvme0.idCtrl.oncs & 0x40) {
        using ts = new Buffer(4096);
        const now = Date.now();
        const dv = new DataView(
          ts.bytes.buffer,
          ts.bytes.byteOffset + ts.offset,
        );
        dv.setUint32(0, now % 2 ** 32, true);
        dv.setUint16(4, Math.floor(now / 2 ** 32), true);
        nvme0.setfeatures(0x0e, { buf: ts }).waitdone();
      }
      const fids = [...dump.keys()].filter((k) => k.startsWith("feature "))
        .map((k) => parseInt(k.slice(8), 16)).sort((a, b) => a - b);
      assert.ok(fids.length > 0, "the dump has features");
      for (const fid of fids) {
        const name = `0x${fid.toString(16).padStart(2, "0")}`;
        const s = section(`feature ${name}`);
        const nsid = NAMESPACE_FEATURES.includes(fid) ? 1 : 0xffffffff;
        const size = FEATURE_DATA_SIZE[fid];
        using buf = new Buffer(4096);
        let cdw0: number | undefined, status = 0;
        try {
          cdw0 = nvme0.getfeatures(fid, size ? { nsid, buf } : { nsid })
            .waitdone();
        } catch (e) {
          if (!(e instanceof StatusError)) throw e;
          status = e.sct << 8 | e.sc;
        }
        const header =
          /get-feature:0x[0-9a-f]+ \(.*\), Current value:(?:0x)?([0-9a-f]+)/i
            .exec(s.text);
        if (!header) {
          // unsupported: the same status from both (nvme-cli's has DNR, bit 14)
          const m = /NVMe status: .*\((0x[0-9a-f]+)\)/i.exec(s.text);
          c.eq(
            `${name}.status`,
            m ? `0x${(parseInt(m[1], 16) & 0x7ff).toString(16)}` : s.text,
            `0x${status.toString(16)}`,
          );
          continue;
        }
        if (cdw0 === undefined) {
          c.eq(`${name}.status`, "0x0", `0x${status.toString(16)}`);
          continue;
        }
        c.eq(`${name}.cdw0`, parseInt(header[1], 16), cdw0 >>> 0);
        const decoded = decodeFeature(
          fid,
          cdw0,
          size ? buf.slice(0, size) : undefined,
        );
        const lines = featureLines(s.text);
        if (fid === 0x0e) {
          const ts = decoded.data as Timestamp;
          const m = /The timestamp is : ([\d,']+)/.exec(s.text);
          assert.ok(m, `timestamp line in: ${s.text}`);
          const cliTs = Number(m[1].replace(/[,']/g, ""));
          // the timestamp counts on: denvme's is later by about the wall-clock time between the reads
          const wall = Date.now() - dumpedAt;
          c.near(
            `${name}.timestamp`,
            cliTs + wall,
            ts.timestamp,
            -10000,
            10000,
          );
          c.exclude(
            `${name}.timestamp exact value`,
            "it counts milliseconds: compared as nvme-cli's + the wall-clock time since, within 10 s",
          );
          c.eq(
            `${name}.origin`,
            /initialized with a Timestamp value using a Set Features/.test(
                s.text,
              )
              ? 1
              : 0,
            ts.origin,
          );
          c.eq(
            `${name}.synch`,
            /may have stopped counting/.test(s.text) ? 1 : 0,
            ts.synch,
          );
          continue;
        }
        const table = FEATURE_LINES[fid];
        for (const [label, text] of lines) {
          const l = table?.find((x) => x.label === label);
          if (!l) {
            c.unknown(`${name}.${label}`, text);
            continue;
          }
          const ours = l.ours ? l.ours(decoded) : decoded.fields[l.field];
          c.eq(`${name}.${l.field}`, l.parse(text), ours);
        }
      }
      finish(c);
    });

    const compared = all.reduce((n, c) => n + c.compared, 0);
    const tolerated = all.reduce((n, c) => n + c.tolerated, 0);
    const excluded = all.reduce((n, c) => n + c.excluded.length, 0);
    console.log(
      `  nvme-cli cross-check: ${compared} fields compared (${tolerated} with a tolerance), ${excluded} excluded`,
    );
  },
});

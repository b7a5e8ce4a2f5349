/**
 * NVMe over TCP device names, the discovery log and opening a connection.
 *
 * Names: `"10.24.48.17"` (port 4420), `"127.0.0.1:4420"`, `"[::1]:4420"`, and
 * `"tcp://host:port/<subsystem NQN>?hostnqn=...&hdgst=1&ddgst=1&kato=30000&timeout=10000"`.
 * Without a subsystem NQN the discovery log (LID 70h of
 * `nqn.2014-08.org.nvmexpress.discovery`) names the subsystem: the first NVM
 * subsystem in it.
 *
 * @module
 */
import { FUNCTIONS } from "./api_table.ts";
import { checkArgs } from "./validate.ts";
import { NvmeError, ParameterError } from "./errors.ts";
import { cstr, lib, unwrap } from "./lib.ts";

/** The well-known NQN of discovery controllers. */
export const DISCOVERY_NQN = "nqn.2014-08.org.nvmexpress.discovery";

/**
 * Where an NVMe/TCP controller is and how to connect to it.
 *
 * ```ts
 * const t = parseTcpName("tcp://127.0.0.1:4420/nqn.2026-12.io.denvme:nvmet?hdgst=1");
 * console.log(t?.port, t?.nqn, t?.hdgst); // 4420 nqn.2026-12.io.denvme:nvmet true
 * ```
 */
export interface TcpTarget {
  /** Host name or address (IPv6 without brackets). */
  host: string;
  /** TCP port, default 4420. */
  port: number;
  /** Subsystem NQN; undefined: the first NVM subsystem of the discovery log. */
  nqn?: string;
  /** Host NQN; default one derived from /etc/machine-id (stable per machine). */
  hostnqn?: string;
  /** Header digests (CRC-32C) asked for. */
  hdgst: boolean;
  /** Data digests (CRC-32C) asked for. */
  ddgst: boolean;
  /** Keep Alive Timeout asked for in Connect, ms (default 30000; 0: none). */
  kato?: number;
  /** Connection and response timeout, ms (default 10000). */
  timeout?: number;
}

const HELP =
  'an NVMe/TCP name is "IPv4[:port]", "[IPv6]:port" or "tcp://host[:port][/<subsystem NQN>][?hostnqn=NQN&hdgst=0|1&ddgst=0|1&kato=MS&timeout=MS]"';

function checkPort(s: string, name: string): number {
  const p = Number(s);
  if (!/^\d+$/.test(s) || p < 1 || p > 65535) {
    throw new ParameterError(
      `port ${s} in "${name}": allowed 1..65535 (${HELP})`,
    );
  }
  return p;
}

function checkNqn(v: string, what: string, name: string): string {
  if (!/^[\x21-\x7e]{1,223}$/.test(v)) {
    throw new ParameterError(
      `${what} "${v}" in "${name}": 1..223 printable ASCII characters`,
    );
  }
  return v;
}

/**
 * The TCP target a device name means, or undefined when the name is not an
 * NVMe/TCP one. Throws a ParameterError for a malformed TCP name.
 *
 * ```ts
 * parseTcpName("10.24.48.17"); // { host: "10.24.48.17", port: 4420, ... }
 * parseTcpName("[::1]:4420"); // { host: "::1", port: 4420, ... }
 * parseTcpName("qemu"); // undefined
 * ```
 */
export function parseTcpName(name: string): TcpTarget | undefined {
  checkArgs("parseTcpName", FUNCTIONS.parseTcpName, [name]);
  const plain = { hdgst: false, ddgst: false };
  let m = /^(\d{1,3}(?:\.\d{1,3}){3})(?::(\d+))?$/.exec(name);
  if (m) {
    if (m[1].split(".").some((x) => Number(x) > 255)) {
      throw new ParameterError(`bad IPv4 address in "${name}": ${HELP}`);
    }
    return {
      host: m[1],
      port: m[2] ? checkPort(m[2], name) : 4420,
      ...plain,
    };
  }
  m = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(name);
  if (m) {
    return {
      host: m[1],
      port: m[2] ? checkPort(m[2], name) : 4420,
      ...plain,
    };
  }
  if (!name.startsWith("tcp://")) return undefined;
  m =
    /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::([^/?]*))?(?:\/([^?]*))?(?:\?(.*))?$/
      .exec(name);
  if (!m) throw new ParameterError(`bad NVMe/TCP name "${name}": ${HELP}`);
  const t: TcpTarget = {
    host: m[1].replace(/^\[|\]$/g, ""),
    port: m[2] !== undefined ? checkPort(m[2], name) : 4420,
    ...plain,
  };
  if (m[3]) t.nqn = checkNqn(decodeURIComponent(m[3]), "subsystem NQN", name);
  for (const kv of (m[4] ?? "").split("&").filter((x) => x)) {
    const eq = kv.indexOf("=");
    const k = eq < 0 ? kv : kv.slice(0, eq);
    const v = eq < 0 ? "" : decodeURIComponent(kv.slice(eq + 1));
    const flag = () => {
      if (v !== "0" && v !== "1") {
        throw new ParameterError(`${k}=${v} in "${name}": allowed 0 or 1`);
      }
      return v === "1";
    };
    const ms = (max: number) => {
      if (!/^\d+$/.test(v) || Number(v) > max) {
        throw new ParameterError(
          `${k}=${v} in "${name}": allowed 0..${max} (ms)`,
        );
      }
      return Number(v);
    };
    switch (k) {
      case "hostnqn":
        t.hostnqn = checkNqn(v, "host NQN", name);
        break;
      case "hdgst":
        t.hdgst = flag();
        break;
      case "ddgst":
        t.ddgst = flag();
        break;
      case "kato":
        t.kato = ms(3_600_000);
        break;
      case "timeout":
        t.timeout = ms(3_600_000);
        if (!t.timeout) {
          throw new ParameterError(
            `timeout=0 in "${name}": allowed 1..3600000 (ms)`,
          );
        }
        break;
      default:
        throw new ParameterError(
          `unknown option "${k}" in "${name}": ${HELP}`,
        );
    }
  }
  return t;
}

/** The "key=value" lines libnvmeshim's NVMe/TCP transport takes. */
export function tcpConfig(t: TcpTarget, nqn: string): string {
  const lines = [
    `host=${t.host}`,
    `port=${t.port}`,
    `nqn=${nqn}`,
    `hdgst=${t.hdgst ? 1 : 0}`,
    `ddgst=${t.ddgst ? 1 : 0}`,
  ];
  if (t.hostnqn) lines.push(`hostnqn=${t.hostnqn}`);
  if (t.kato !== undefined) lines.push(`kato=${t.kato}`);
  if (t.timeout !== undefined) lines.push(`timeout=${t.timeout}`);
  return lines.join("\n");
}

/**
 * One record of the discovery log.
 *
 * ```ts
 * for (const e of discover(parseTcpName("127.0.0.1:4420")!).entries) {
 *   console.log(e.subtypeName, e.subnqn, `${e.traddr}:${e.trsvcid}`);
 * }
 * ```
 */
export interface DiscoveryEntry {
  /** Transport type (3: TCP). */
  trtype: number;
  /** Address family (1: IPv4, 2: IPv6). */
  adrfam: number;
  /** Subsystem type (1: referral, 2: NVM subsystem, 3: current discovery subsystem). */
  subtype: number;
  /** subtype in words. */
  subtypeName: string;
  /** Transport requirements. */
  treq: number;
  /** Port ID. */
  portid: number;
  /** Controller ID (0xffff: dynamic). */
  cntlid: number;
  /** Admin max SQ size. */
  asqsz: number;
  /** Transport service identifier (the TCP port, as text). */
  trsvcid: string;
  /** Subsystem NQN. */
  subnqn: string;
  /** Transport address, as the target knows itself (behind a forward it may differ). */
  traddr: string;
}

/** The discovery log page (LID 70h). */
export interface DiscoveryLog {
  /** Generation counter. */
  genctr: bigint;
  /** Number of records. */
  numrec: number;
  /** Record format. */
  recfmt: number;
  /** The records read. */
  entries: DiscoveryEntry[];
}

const SUBTYPES: Record<number, string> = {
  1: "referral",
  2: "NVM subsystem",
  3: "current discovery subsystem",
};

function text(b: Uint8Array, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const end = s.indexOf(0);
  return new TextDecoder().decode(end < 0 ? s : s.subarray(0, end)).trim();
}

/**
 * Decode a discovery log page (1024-byte header, 1024-byte records).
 *
 * ```ts
 * declare const bytes: Uint8Array;
 * const log = decodeDiscoveryLog(bytes);
 * console.log(log.numrec, log.entries[0]?.subnqn);
 * ```
 */
export function decodeDiscoveryLog(b: Uint8Array): DiscoveryLog {
  checkArgs("decodeDiscoveryLog", FUNCTIONS.decodeDiscoveryLog, [b]);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const numrec = Number(dv.getBigUint64(8, true));
  const entries: DiscoveryEntry[] = [];
  for (let i = 0; i < numrec && 1024 + (i + 1) * 1024 <= b.length; i++) {
    const o = 1024 + i * 1024;
    entries.push({
      trtype: b[o],
      adrfam: b[o + 1],
      subtype: b[o + 2],
      subtypeName: SUBTYPES[b[o + 2]] ?? `subtype ${b[o + 2]}`,
      treq: b[o + 3],
      portid: dv.getUint16(o + 4, true),
      cntlid: dv.getUint16(o + 6, true),
      asqsz: dv.getUint16(o + 8, true),
      trsvcid: text(b, o + 32, 32),
      subnqn: text(b, o + 256, 256),
      traddr: text(b, o + 512, 256),
    });
  }
  return {
    genctr: dv.getBigUint64(0, true),
    numrec,
    recfmt: dv.getUint16(16, true),
    entries,
  };
}

/**
 * Read the discovery log of the discovery controller at `t.host:t.port`.
 *
 * ```ts
 * const log = discover({ host: "127.0.0.1", port: 4420, hdgst: false, ddgst: false });
 * ```
 */
export function discover(t: TcpTarget): DiscoveryLog {
  checkArgs("discover", FUNCTIONS.discover, [t]);
  const out = new Uint8Array(64 * 1024);
  const got = new Uint32Array(1);
  unwrap(
    lib.nvme_tcp_discovery_log(
      cstr(tcpConfig({ ...t, kato: t.kato ?? 0 }, DISCOVERY_NQN)),
      out,
      out.length,
      got,
    ),
    `discovery log of ${t.host}:${t.port}`,
  );
  return decodeDiscoveryLog(out.subarray(0, got[0]));
}

/**
 * Connect to an NVMe/TCP controller; without an NQN, to the first NVM
 * subsystem of the discovery log (said on stderr). Returns the C handle and
 * the subsystem NQN connected to.
 */
export function openTcp(
  t: TcpTarget,
  name: string,
): { handle: number; nqn: string } {
  let nqn = t.nqn;
  if (!nqn) {
    const log = discover(t);
    const e = log.entries.find((x) => x.subtype === 2);
    if (!e) {
      throw new NvmeError(
        `device "${name}": the discovery log of ${t.host}:${t.port} lists no NVM subsystem (${log.numrec} record(s)): give one, tcp://${t.host}:${t.port}/<subsystem NQN>`,
      );
    }
    nqn = e.subnqn;
    console.error(
      `denvme: ${name}: connecting to ${nqn}, the first NVM subsystem in the discovery log`,
    );
  }
  const h = new Uint32Array(1);
  unwrap(
    lib.nvme_pcie_open_tcp(cstr(tcpConfig(t, nqn)), h),
    `device "${name}"`,
  );
  return { handle: h[0], nqn };
}

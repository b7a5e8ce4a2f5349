/**
 * Controller registers decoded into named bit fields (NVMe base specification,
 * "Controller Registers"), for the console's registers page.
 *
 * @module
 */

/** One decoded field of a register. */
export interface RegField {
  /** Field name as in the specification (e.g. "RDY"). */
  name: string;
  /** Bits, "15:0" or "0". */
  bits: string;
  /** Value (BigInt-safe: a decimal or hex string for wide fields). */
  value: number | string;
  /** What it means, when there is something to say. */
  text?: string;
}

/** A register with its raw value and fields. */
export interface Register {
  /** Short name (CAP, VS, ...). */
  name: string;
  /** Offset in BAR0. */
  offset: number;
  /** Long name. */
  title: string;
  /** Raw value, hex. */
  hex: string;
  /** Fields. */
  fields: RegField[];
}

const bitsOf = (v: bigint, hi: number, lo: number): number =>
  Number((v >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n));

function f(
  v: bigint,
  name: string,
  hi: number,
  lo: number,
  text?: (x: number) => string | undefined,
): RegField {
  const x = bitsOf(v, hi, lo);
  return {
    name,
    bits: hi === lo ? `${lo}` : `${hi}:${lo}`,
    value: x,
    text: text?.(x),
  };
}

const SHN = [
  "no notification",
  "normal shutdown",
  "abrupt shutdown",
  "reserved",
];
const SHST = [
  "normal operation",
  "shutdown processing occurring",
  "shutdown processing complete",
  "reserved",
];
const CSS_CC = (x: number) =>
  x === 0
    ? "NVM command set"
    : x === 6
    ? "all I/O command sets"
    : x === 7
    ? "admin command set only"
    : "reserved";
const pageSize = (x: number) => `${4 << x} KiB`;

/**
 * Decode CAP, VS, INTMS, CC, CSTS, AQA, ASQ, ACQ (the order of
 * `nvme_ctrl_regs_snapshot()`).
 *
 * ```ts
 * const regs = decodeRegisters([0x...n, 0x10400n, 0n, 0x460001n, 1n, 0x1f001fn, 0x1000n, 0x2000n]);
 * regs.find((r) => r.name === "CSTS")!.fields[0]; // { name: "RDY", value: 1, ... }
 * ```
 */
export function decodeRegisters(v: readonly bigint[]): Register[] {
  const [cap, vs, intms, cc, csts, aqa, asq, acq] = v;
  const hex = (x: bigint, w: number) => `0x${x.toString(16).padStart(w, "0")}`;
  return [
    {
      name: "CAP",
      offset: 0x00,
      title: "Controller Capabilities",
      hex: hex(cap, 16),
      fields: [
        f(cap, "MQES", 15, 0, (x) => `${x + 1} entries per queue at most`),
        f(cap, "CQR", 16, 16, (x) => x ? "contiguous queues required" : ""),
        f(cap, "AMS", 18, 17, (x) => x & 1 ? "weighted round robin" : ""),
        f(cap, "TO", 31, 24, (x) => `${x * 500} ms ready timeout`),
        f(cap, "DSTRD", 35, 32, (x) => `doorbell stride ${4 << x} bytes`),
        f(cap, "NSSRS", 36, 36, (x) => x ? "NVM subsystem reset" : "no NSSR"),
        f(cap, "CSS", 44, 37, (x) =>
          [
            x & 1 ? "NVM" : "",
            x & 0x40 ? "I/O command sets" : "",
            x & 0x80 ? "admin only" : "",
          ].filter(Boolean).join(", ")),
        f(cap, "BPS", 45, 45),
        f(cap, "CPS", 47, 46),
        f(cap, "MPSMIN", 51, 48, pageSize),
        f(cap, "MPSMAX", 55, 52, pageSize),
        f(cap, "PMRS", 56, 56),
        f(cap, "CMBS", 57, 57),
        f(cap, "NSSS", 58, 58),
        f(cap, "CRMS", 60, 59),
      ],
    },
    {
      name: "VS",
      offset: 0x08,
      title: "Version",
      hex: hex(vs, 8),
      fields: [
        f(vs, "MJR", 31, 16),
        f(vs, "MNR", 15, 8),
        f(vs, "TER", 7, 0),
      ],
    },
    {
      name: "INTMS",
      offset: 0x0c,
      title: "Interrupt Mask Set (INTMC at 0x10 reads the same)",
      hex: hex(intms, 8),
      fields: [
        f(
          intms,
          "IVMS",
          31,
          0,
          (x) =>
            x
              ? `masked vectors: ${
                [...Array(32).keys()].filter((i) => x >>> i & 1).join(", ")
              }`
              : "none masked",
        ),
      ],
    },
    {
      name: "CC",
      offset: 0x14,
      title: "Controller Configuration",
      hex: hex(cc, 8),
      fields: [
        f(cc, "EN", 0, 0, (x) => x ? "enabled" : "disabled"),
        f(cc, "CSS", 6, 4, CSS_CC),
        f(cc, "MPS", 10, 7, pageSize),
        f(cc, "AMS", 13, 11, (x) => x === 0 ? "round robin" : `${x}`),
        f(cc, "SHN", 15, 14, (x) => SHN[x]),
        f(cc, "IOSQES", 19, 16, (x) => `${1 << x}-byte SQ entries`),
        f(cc, "IOCQES", 23, 20, (x) => `${1 << x}-byte CQ entries`),
        f(cc, "CRIME", 24, 24),
      ],
    },
    {
      name: "CSTS",
      offset: 0x1c,
      title: "Controller Status",
      hex: hex(csts, 8),
      fields: [
        f(csts, "RDY", 0, 0, (x) => x ? "ready" : "not ready"),
        f(csts, "CFS", 1, 1, (x) => x ? "CONTROLLER FATAL STATUS" : ""),
        f(csts, "SHST", 3, 2, (x) => SHST[x]),
        f(csts, "NSSRO", 4, 4),
        f(csts, "PP", 5, 5, (x) => x ? "processing paused" : ""),
        f(csts, "ST", 6, 6),
      ],
    },
    {
      name: "AQA",
      offset: 0x24,
      title: "Admin Queue Attributes",
      hex: hex(aqa, 8),
      fields: [
        f(aqa, "ASQS", 11, 0, (x) => `${x + 1} entries`),
        f(aqa, "ACQS", 27, 16, (x) => `${x + 1} entries`),
      ],
    },
    {
      name: "ASQ",
      offset: 0x28,
      title: "Admin Submission Queue Base Address",
      hex: hex(asq, 16),
      fields: [{ name: "ASQB", bits: "63:12", value: hex(asq & ~0xfffn, 12) }],
    },
    {
      name: "ACQ",
      offset: 0x30,
      title: "Admin Completion Queue Base Address",
      hex: hex(acq, 16),
      fields: [{ name: "ACQB", bits: "63:12", value: hex(acq & ~0xfffn, 12) }],
    },
  ];
}

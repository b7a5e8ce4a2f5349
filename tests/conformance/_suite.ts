/**
 * Shared helpers of the conformance suite: the known deviations of the
 * device models we know, and small readers of what a device claims
 * (Identify, CAP, VS), so every test checks what the specification requires
 * for the features the device under test reports.
 *
 * Spec references name the NVM Express Base Specification 2.0 (and the NVM
 * Command Set and PCIe Transport specifications 1.0 where the rule lives
 * there) by section title.
 *
 * @module
 */
import {
  Buffer,
  type Completion,
  type Controller,
  decodeIdentifyNamespace,
  type IdentifyNamespace,
} from "../../mod.ts";
import { sleepSync } from "../../ffi/sleep.ts";
import { registerDeviations } from "../../testing.ts";
import { knownDeviations } from "./known_deviations.ts";

for (const list of knownDeviations) registerDeviations(list);

export {
  adminCmd,
  Checks,
  completionOf,
  conform,
  describe,
  hex,
  ioCmd,
  lbaFields,
  nvmeTest,
  requireError,
  requireStatus,
  requireSuccess,
  SpecViolation,
  SpecViolations,
} from "../../testing.ts";

/** Admin opcodes. */
export const ADM = {
  DELETE_SQ: 0x00,
  CREATE_SQ: 0x01,
  GET_LOG: 0x02,
  DELETE_CQ: 0x04,
  CREATE_CQ: 0x05,
  IDENTIFY: 0x06,
  ABORT: 0x08,
  SET_FEATURES: 0x09,
  GET_FEATURES: 0x0a,
  AER: 0x0c,
  NS_MGMT: 0x0d,
  FW_COMMIT: 0x10,
  FW_DOWNLOAD: 0x11,
  DST: 0x14,
  NS_ATTACH: 0x15,
  KEEP_ALIVE: 0x18,
  DIRECTIVE_SEND: 0x19,
  DIRECTIVE_RECV: 0x1a,
  VIRT_MGMT: 0x1c,
  MI_SEND: 0x1d,
  MI_RECV: 0x1e,
  DBBUF: 0x7c,
  FORMAT: 0x80,
  SECURITY_SEND: 0x81,
  SECURITY_RECV: 0x82,
  SANITIZE: 0x84,
  GET_LBA_STATUS: 0x86,
} as const;

/** I/O opcodes of the NVM command set. */
export const NVM = {
  FLUSH: 0x00,
  WRITE: 0x01,
  READ: 0x02,
  WRITE_UNCORRECTABLE: 0x04,
  COMPARE: 0x05,
  WRITE_ZEROES: 0x08,
  DSM: 0x09,
  VERIFY: 0x0c,
  COPY: 0x19,
} as const;

/** The version register as numbers. */
export function version(nvme0: Controller): {
  major: number;
  minor: number;
  tertiary: number;
  atLeast(major: number, minor: number): boolean;
} {
  const vs = nvme0.reg32(0x08);
  const major = vs >>> 16, minor = (vs >> 8) & 0xff;
  return {
    major,
    minor,
    tertiary: vs & 0xff,
    atLeast: (a, b) => major > a || (major === a && minor >= b),
  };
}

/** A field of CAP. */
export function capField(cap: bigint, lo: number, bits: number): number {
  return Number((cap >> BigInt(lo)) & ((1n << BigInt(bits)) - 1n));
}

/** The active namespace list (Identify CNS 02h) starting after `after`. */
export function activeNsids(nvme0: Controller, after = 0): number[] {
  using buf = new Buffer(4096, "ns list");
  nvme0.identify(buf, after, 2).waitdone();
  const ids: number[] = [];
  for (let i = 0; i < 1024; i++) {
    const id = buf.u32(i * 4);
    if (!id) break;
    ids.push(id);
  }
  return ids;
}

/** Identify Namespace of `nsid`, decoded (zeros for an inactive one). */
export function identifyNs(nvme0: Controller, nsid: number): IdentifyNamespace {
  using buf = new Buffer(4096, "identify ns");
  nvme0.identify(buf, nsid, 0).waitdone();
  return decodeIdentifyNamespace(buf.bytes);
}

/**
 * An NSID that is valid (1..NN) but not active, or undefined when every
 * NSID up to NN is active.
 */
export function inactiveNsid(nvme0: Controller): number | undefined {
  const nn = nvme0.idCtrl.nn;
  const active = new Set(activeNsids(nvme0));
  for (let id = nn; id >= 1 && id > nn - 2048; id--) {
    if (!active.has(id)) return id;
  }
  return undefined;
}

/** An NSID above NN (invalid), or undefined when NN leaves none below the broadcast value. */
export function invalidNsid(nvme0: Controller): number | undefined {
  const nn = nvme0.idCtrl.nn;
  return nn < 0xfffffffe ? nn + 1 : undefined;
}

/** The status of a completion as "sct/sc", lower case. */
export function st(c: Completion): string {
  return c.statusText.toLowerCase();
}

/** Wait up to `ms` for `cond`, polling `poll` (e.g. an admin command that reaps AERs). */
export function waitFor(
  cond: () => boolean,
  ms: number,
  poll: () => void,
): boolean {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    poll();
    sleepSync(5);
  }
  return true;
}

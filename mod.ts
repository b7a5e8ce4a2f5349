/**
 * denvme — a scriptable NVMe SSD test driver for Deno.
 *
 * ```ts
 * import { Buffer, Controller, Namespace, Qpair } from "./mod.ts";
 *
 * using nvme0 = new Controller("qemu");
 * const nvme0n1 = new Namespace(nvme0, 1);
 * using qpair = new Qpair(nvme0, 16);
 * using buf = new Buffer(512);
 * buf.write("hello world");
 * nvme0n1.write(qpair, buf, 0).waitdone();
 * ```
 *
 * @module
 */
export {
  Buffer,
  type FieldType,
  PTYPE_CONST,
  PTYPE_DWORD,
  PTYPE_RANDOM,
} from "./ffi/buffer.ts";
export type { CommandCallback, QueueOwner } from "./ffi/cmdqueue.ts";
export { type CmdlogEntry, formatEntry } from "./ffi/cmdlog.ts";
export { Completion } from "./ffi/completion.ts";
export {
  AdminCommands,
  AdminLogs,
  type AdminOptions,
  Controller,
  type FeatureOptions,
  type InitFunction,
  type RawCommand,
  Reg,
} from "./ffi/controller.ts";
export {
  defaultDut,
  type Dut,
  parseDut,
  type PciOptions,
  type PowerMethod,
  type QemuOptions,
} from "./ffi/dut.ts";
export {
  decodeDiscoveryLog,
  discover,
  DISCOVERY_NQN,
  type DiscoveryEntry,
  type DiscoveryLog,
  parseTcpName,
  type TcpTarget,
} from "./ffi/tcp.ts";
export {
  ClosedError,
  CommandTimeoutError,
  DeviceGoneError,
  NamespaceCreationError,
  NvmeEnumerateError,
  NvmeError,
  ParameterError,
  QpairCreationError,
  StatusError,
  VerifyError,
  WaitdoneTimeoutError,
} from "./ffi/errors.ts";
export { expectStatus } from "./ffi/expect.ts";
export { type LibStats, libStats } from "./ffi/lib.ts";
export {
  type FormatBySize,
  IoCommands,
  type IoOptions,
  MAX_TRANSFER,
  Namespace,
  type RawIoCommand,
} from "./ffi/namespace.ts";
export {
  type IoRecord,
  type IoSequenceEntry,
  IoWorker,
  IoWorkerHostError,
  type IoWorkerOptions,
  type IoWorkerProgress,
  type IoWorkerResult,
  stopIoworkers,
} from "./ffi/ioworker.ts";
export { Pcie } from "./ffi/pcie.ts";
export { Qpair } from "./ffi/qpair.ts";
export { randint, random, randomSeed, srand } from "./ffi/random.ts";
export {
  type PowerCallbacks,
  Subsystem,
  type SubsystemOptions,
} from "./ffi/subsystem.ts";
export {
  IoCQ,
  IoSQ,
  type RawCqe,
  RawQueue,
  sqe,
  type SqeFields,
} from "./ffi/rawqueue.ts";
export * from "./ffi/structs.ts";
export {
  asciiField,
  type BitField,
  decodeBits,
  describeBits,
} from "./ffi/decode/fields.ts";
export * from "./ffi/decode/identify_ctrl.ts";
export * from "./ffi/decode/identify_ns.ts";
export * from "./ffi/decode/logs.ts";
export * from "./ffi/decode/features.ts";
export * from "./ffi/decode/registers.ts";
export { commandName, statusName } from "./ffi/status.ts";
export {
  crc32c,
  describeVerifyFailure,
  type VerifyFailure,
  type VerifyKind,
  type VerifyStats,
  writeToken,
} from "./ffi/verify.ts";
export {
  type ConsoleMode,
  consoleMode,
  type ConsoleOptions,
  startConsole,
  stopConsole,
} from "./console/registry.ts";

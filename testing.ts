/**
 * denvme's test harness for `deno test` (the second entry point): fixtures
 * like pynvme's pytest fixtures, per-test seeds, LogTape logging to a
 * `test.log`, spec checks and known-deviation lists for conformance suites.
 *
 * ```ts
 * import { nvmeTest } from "./testing.ts";
 *
 * nvmeTest("hello world", { needs: ["nvme0n1", "qpair", "buf"] }, ({ nvme0n1, qpair, buf }) => {
 *   buf.write("hello world");
 *   nvme0n1.write(qpair, buf, 0).waitdone();
 * });
 * ```
 *
 * @module
 */
export {
  type FixtureName,
  type Fixtures,
  nvmeTest,
  type NvmeTestOptions,
  SkipTest,
  type TestContext,
  type TestEnv,
  type WithDependencies,
} from "./testing/fixtures.ts";
export {
  type DeviationList,
  type DeviationMatch,
  type DeviceIdentity,
  findDeviation,
  type KnownDeviation,
  registerDeviations,
  registeredDeviations,
} from "./testing/deviations.ts";
export {
  cmdLogger,
  deviceLogger,
  ensureLogging,
  type TestLog,
  testLogger,
  testLogPath,
} from "./testing/log.ts";
export { formatSeed, nextSeed, parseSeed, Rng } from "./testing/rng.ts";
export {
  type Outcome,
  readResults,
  type ResultRecord,
  writeResult,
} from "./testing/results.ts";
export {
  adminCmd,
  Checks,
  completionOf,
  conform,
  describe,
  hex,
  ioCmd,
  lbaFields,
  requireError,
  requireStatus,
  requireSuccess,
  SpecViolation,
  SpecViolations,
} from "./testing/spec.ts";

/**
 * Known deviations: per device model, the tests a device is known to fail
 * because it breaks a rule of the specification, with the rule and what the
 * device does instead. A failing test listed for the device under test is
 * reported as "deviation (known)" instead of failing; on any other device the
 * list does not apply, and a failure that does not match the listed
 * observation still fails.
 *
 * @module
 */

/**
 * What identifies a device model.
 *
 * ```ts
 * const id: DeviceIdentity = { dut: "qemu", vid: 0x1b36, did: 0x0010, mn: "QEMU NVMe Ctrl" };
 * findDeviation(registeredDeviations(), id, "abort: a queued command is aborted");
 * ```
 */
export interface DeviceIdentity {
  /** Device name (`--dut`). */
  dut: string;
  /** PCI vendor id. */
  vid: number;
  /** PCI device id. */
  did: number;
  /** Model number (Identify Controller), when known. */
  mn?: string;
  /** Firmware revision (Identify Controller), when known. */
  fr?: string;
}

/**
 * One known deviation of one test.
 *
 * ```ts
 * const d: KnownDeviation = {
 *   spec: "NVMe Base 2.0, Abort: the command to abort is aborted when possible",
 *   observed: "QEMU never aborts (cdw0 bit 0 = 1)",
 *   match: /command not aborted/,
 * };
 * ```
 */
export interface KnownDeviation {
  /** The rule broken: specification, section and what it requires. */
  spec: string;
  /** What the device does instead. */
  observed: string;
  /**
   * The failure message must match this for the deviation to apply, so that
   * another failure of the same test is still a failure.
   */
  match: RegExp;
}

/**
 * The known deviations of one device model, keyed by test name.
 *
 * ```ts
 * const qemu: DeviationList = {
 *   model: "QEMU 7.2 NVMe (1b36:0010)",
 *   applies: (id) => id.vid === 0x1b36 && id.did === 0x0010,
 *   tests: { "abort: a queued command is aborted": { spec: "...", observed: "...", match: /not aborted/ } },
 * };
 * registerDeviations(qemu);
 * ```
 */
export interface DeviationList {
  /** The model, for reports (e.g. "QEMU 7.2 NVMe (1b36:0010)"). */
  model: string;
  /** Which devices the list applies to. */
  applies: (id: DeviceIdentity) => boolean;
  /** Known deviations by test name. */
  tests: Readonly<Record<string, KnownDeviation>>;
}

const registry: DeviationList[] = [];

/**
 * Add a list of known deviations (consulted by every nvmeTest of this module).
 *
 * ```ts
 * import { qemu72 } from "../tests/conformance/known_deviations.ts";
 * registerDeviations(qemu72);
 * ```
 */
export function registerDeviations(list: DeviationList): void {
  if (!registry.includes(list)) registry.push(list);
}

/**
 * The lists registered so far.
 *
 * ```ts
 * console.log(registeredDeviations().map((l) => l.model));
 * ```
 */
export function registeredDeviations(): readonly DeviationList[] {
  return registry;
}

/**
 * A known deviation found for a failure.
 *
 * ```ts
 * declare const id: import("../testing.ts").DeviceIdentity;
 * declare const err: Error;
 * const m: DeviationMatch | undefined = findDeviation(registeredDeviations(), id, "a test", err.message);
 * if (m) console.log(`known deviation of ${m.model}: ${m.spec}`);
 * ```
 */
export interface DeviationMatch extends KnownDeviation {
  /** The model of the list it comes from. */
  model: string;
}

/**
 * The known deviation of test `name` on device `id` that explains `message`,
 * if any. Several messages (a test whose independent checks broke several
 * rules) are explained only when the deviation's pattern matches each.
 *
 * ```ts
 * import { qemu72 } from "../tests/conformance/known_deviations.ts";
 * declare const message: string;
 * const known = findDeviation([qemu72], { dut: "qemu", vid: 0x1b36, did: 0x10, mn: "QEMU NVMe Ctrl", fr: "7.2.22" }, "a test", message);
 * ```
 */
export function findDeviation(
  lists: readonly DeviationList[],
  id: DeviceIdentity | undefined,
  name: string,
  message?: string | readonly string[],
): DeviationMatch | undefined {
  if (!id) return undefined;
  const messages = message === undefined
    ? undefined
    : typeof message === "string"
    ? [message]
    : message;
  for (const list of lists) {
    if (!list.applies(id)) continue;
    const d = list.tests[name];
    if (!d) continue;
    if (
      messages && (!messages.length || !messages.every((m) => d.match.test(m)))
    ) continue;
    return { ...d, model: list.model };
  }
  return undefined;
}

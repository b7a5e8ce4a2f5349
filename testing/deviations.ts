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

/** What identifies a device model. */
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

/** One known deviation of one test. */
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

/** The known deviations of one device model, keyed by test name. */
export interface DeviationList {
  /** The model, for reports (e.g. "QEMU 7.2 NVMe (1b36:0010)"). */
  model: string;
  /** Which devices the list applies to. */
  applies: (id: DeviceIdentity) => boolean;
  /** Known deviations by test name. */
  tests: Readonly<Record<string, KnownDeviation>>;
}

const registry: DeviationList[] = [];

/** Add a list of known deviations (consulted by every nvmeTest of this module). */
export function registerDeviations(list: DeviationList): void {
  if (!registry.includes(list)) registry.push(list);
}

/** The lists registered so far. */
export function registeredDeviations(): readonly DeviationList[] {
  return registry;
}

/** A known deviation found for a failure. */
export interface DeviationMatch extends KnownDeviation {
  /** The model of the list it comes from. */
  model: string;
}

/**
 * The known deviation of test `name` on device `id` that explains `message`,
 * if any.
 */
export function findDeviation(
  lists: readonly DeviationList[],
  id: DeviceIdentity | undefined,
  name: string,
  message?: string,
): DeviationMatch | undefined {
  if (!id) return undefined;
  for (const list of lists) {
    if (!list.applies(id)) continue;
    const d = list.tests[name];
    if (!d) continue;
    if (message !== undefined && !d.match.test(message)) continue;
    return { ...d, model: list.model };
  }
  return undefined;
}

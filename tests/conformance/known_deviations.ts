/**
 * Known deviations from the NVMe specification, per device model, keyed by
 * conformance test name. A listed test that fails the way it is listed is
 * reported as "deviation (known)"; the lists apply only to the model they
 * name, so a real SSD is judged by the specification alone.
 *
 * @module
 */
import type { DeviationList } from "../../testing.ts";

/** QEMU's emulated NVMe controller (the embedded device), QEMU 7.2. */
export const qemu72: DeviationList = {
  model: "QEMU 7.2 NVMe (1b36:0010)",
  applies: (id) =>
    id.vid === 0x1b36 && id.did === 0x0010 &&
    (id.fr === undefined || id.fr.startsWith("7.2")),
  tests: {},
};

/** Every list the suite registers. */
export const knownDeviations: readonly DeviationList[] = [qemu72];

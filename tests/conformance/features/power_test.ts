/**
 * Power cycles (NVMe Base 2.0 SMART / Health counters, shutdown): data and
 * counters across a power cycle. The embedded device is powered by the
 * driver; a real SSD needs power switching callbacks (Subsystem), so these
 * tests skip there.
 */
import { Qpair } from "../../../mod.ts";
import { conform, nvmeTest } from "../_suite.ts";
import { firstDiff, pickLba, readBack, writeRandom } from "../nvm/_io.ts";
import type { TestContext } from "../../../testing.ts";

function needPower(dut: { kind: string }, skip: TestContext["skip"]): void {
  if (dut.kind !== "qemu") {
    skip(
      "power cycles of a real device need power switching callbacks (Subsystem) this suite does not have",
    );
  }
}

nvmeTest("power cycle: data written and flushed before is there after", {
  needs: ["nvme0n1", "qpair", "subsystem"],
  own: true,
}, ({ nvme0, nvme0n1, qpair, subsystem, rng, skip }) => {
  needPower(nvme0.pcie.dut, skip);
  const lba = pickLba(nvme0n1, rng, 64);
  const data = writeRandom(nvme0n1, qpair, rng, lba, 32);
  nvme0n1.flush(qpair).waitdone();
  subsystem.powerCycle();
  nvme0.reset();
  using q = new Qpair(nvme0, 8);
  conform(
    firstDiff(data, readBack(nvme0n1, q, lba, 32)) < 0,
    "NVMe Base 2.0, Flush: data flushed to non-volatile media survives a loss of power",
    "the data changed",
  );
});

nvmeTest("power cycle: SMART / Health Power Cycles counts it", {
  needs: ["nvme0", "subsystem"],
  own: true,
}, ({ nvme0, subsystem, skip }) => {
  needPower(nvme0.pcie.dut, skip);
  const before = nvme0.smartLog().powerCycles;
  subsystem.shutdownNotify(false);
  subsystem.powerCycle();
  nvme0.reset();
  const after = nvme0.smartLog().powerCycles;
  conform(
    after === before + 1n,
    "NVMe Base 2.0, SMART / Health Power Cycles: the number of power cycles",
    `${before} before, ${after} after one power cycle`,
  );
});

nvmeTest(
  "power loss without shutdown notification counts in Unsafe Shutdowns",
  {
    needs: ["nvme0", "subsystem"],
    own: true,
  },
  ({ nvme0, subsystem, skip }) => {
    needPower(nvme0.pcie.dut, skip);
    const before = nvme0.smartLog().unsafeShutdowns;
    subsystem.powerCycle(); // no CC.SHN first
    nvme0.reset();
    const after = nvme0.smartLog().unsafeShutdowns;
    conform(
      after === before + 1n,
      "NVMe Base 2.0, SMART / Health Unsafe Shutdowns: a power loss without a shutdown notification is counted",
      `${before} before, ${after} after`,
    );
  },
);

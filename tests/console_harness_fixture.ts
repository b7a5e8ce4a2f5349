/**
 * Two harness tests watched by tests/console_api_test.ts (run on their own
 * with DENVME_CONSOLE=1): the first raises an asynchronous event and
 * passes, the second waits for "go" on
 * stdin so the console can be asked what runs now.
 *
 * @module
 */
import assert from "node:assert/strict";
import { nvmeTest } from "../testing.ts";

nvmeTest(
  "console fixture: first, passes",
  { needs: ["nvme0"] },
  ({ nvme0 }) => {
    // an asynchronous event for the console's AER page: a temperature
    // threshold below the device's temperature
    nvme0.setfeatures(0x0b, { cdw11: 0x2 }).waitdone();
    nvme0.setfeatures(4, { cdw11: 300 }).waitdone();
    const t0 = Date.now();
    let events = 0;
    while (!events && Date.now() - t0 < 5000) {
      nvme0.getfeatures(7).waitdone();
      events = nvme0.takeAerEvents().length;
    }
    assert.equal(events, 1, "the temperature event");
  },
);

nvmeTest("console fixture: second, waits", { needs: ["nvme0"] }, async () => {
  console.log("WAITING IN THE SECOND TEST");
  const r = Deno.stdin.readable.pipeThrough(new TextDecoderStream())
    .getReader();
  let got = "";
  while (!got.includes("go")) {
    const { value, done } = await r.read();
    if (done) break;
    got += value;
  }
  r.releaseLock();
});

/**
 * Two harness tests watched by tests/console_api_test.ts (run on their own
 * with DENVME_CONSOLE=1): the first passes, the second waits for "go" on
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
    assert.equal(nvme0.getfeatures(7).waitdone() >>> 0 > 0, true);
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

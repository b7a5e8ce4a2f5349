/**
 * Every example runs unchanged on the embedded device (as a child process,
 * the way a user runs it).
 */
import assert from "node:assert/strict";
import { runExample } from "./_util.ts";

const run = runExample;

Deno.test("examples/hello_world.ts", async () => {
  const out = await run("hello_world.ts");
  assert.match(out, /model number: +QEMU NVMe Ctrl/);
  assert.match(out, /read back: +"hello world"/);
  assert.match(out, /hello world: PASSED/);
});

Deno.test("examples/hello_world_pynvme.ts: pynvme's (cdw0, status1) callback", async () => {
  const out = await run("hello_world_pynvme.ts");
  assert.match(out, /write callback: +cdw0 0x0, status1 0x1/);
  assert.match(out, /read back: +"hello world"/);
  assert.match(out, /hello world \(pynvme style\): PASSED/);
});

Deno.test("examples/identify.ts", async () => {
  const out = await run("identify.ts");
  assert.match(out, /controller: QEMU NVMe Ctrl/);
  assert.match(out, /namespace 1: 8388608 LBAs of 512\+0 bytes/);
  assert.match(out, /^00000000 {2}36 1b/m);
});

Deno.test("examples/trim.ts", async () => {
  assert.match(await run("trim.ts"), /reads back zeros: true\ntrim: PASSED/);
});

Deno.test("examples/aer.ts", async () => {
  const out = await run("aer.ts");
  assert.match(out, /AER: SMART \/ Health status \/ Temperature Threshold/);
  assert.match(out, /aer: PASSED/);
});

Deno.test("examples/sanitize.ts", async () => {
  const out = await run("sanitize.ts");
  assert.match(out, /SANICAP 0x0/);
  assert.match(
    out,
    /sanitize not available on this device: ERROR status: 00\/01 Invalid Command Opcode/,
  );
});

Deno.test("examples/write_read_verify.ts", async () => {
  const out = await run("write_read_verify.ts", "--seconds", "1");
  assert.match(
    out,
    /^ioworkers: \d+ writes filled 64 MiB, then \d+ verified reads and \d+ writes$/m,
  );
  assert.match(out, /LBA 4096: read back "verified by denvme", stamp LBA 4096/);
  assert.match(
    out,
    /detected: ERROR status: 07\/81 Data Verification Failed: CRC mismatch at LBA 4096/,
  );
  assert.match(out, /1 failed read\(s\)/);
  assert.match(out, /write read verify: PASSED/);
});

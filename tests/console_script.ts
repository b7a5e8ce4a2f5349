/**
 * The script the console's browser test watches (tests/console_test.ts runs
 * it with `--console`): it sends one recognizable read (LBA 4242) on an IO
 * qpair, waits for "go" on stdin (its event loop free, so utilities can run),
 * then runs an ioworker while its own thread is blocked in a loop of
 * synchronous waitdone() calls that never yields to the event loop, until
 * the file `--stop-file=PATH` exists (or `--seconds=N`, default 60, pass).
 *
 * @module
 */
import { Buffer, Controller, Namespace, Qpair } from "../mod.ts";

const seconds = Number(
  Deno.args.find((a) => a.startsWith("--seconds="))?.slice(10) ?? 60,
);
const stopFile = Deno.args.find((a) => a.startsWith("--stop-file="))
  ?.slice(12);
using nvme0 = new Controller();
using ns = new Namespace(nvme0, 1);
using q = new Qpair(nvme0, 16);
using buf = new Buffer(4096);
ns.read(q, buf, 4242, 1).waitdone();
console.log(`READY qid ${q.sqid}`);

const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream())
  .getReader();
let input = "";
while (!input.includes("go")) {
  const { value, done } = await lines.read();
  if (done) Deno.exit(1);
  input += value;
}

const w = ns.ioworker({ ioSize: 8, qdepth: 32, time: seconds }).start();
console.log("BLOCKED start");
const end = Date.now() + seconds * 1000;
const stopped = () => {
  try {
    return stopFile !== undefined && Deno.statSync(stopFile).isFile;
  } catch {
    return false;
  }
};
let reads = 0;
// synchronous until the stop file appears (or the time is up): the event loop never runs
while (Date.now() < end && !stopped()) {
  ns.read(q, buf, 8, 1).waitdone();
  reads++;
}
console.log(`BLOCKED end after ${reads} reads`);
w.stop();
const r = w.close();
console.log(`ioworker ${r.ioCountRead} reads`);

/**
 * Two namespaces (as pynvme's two-namespace ioworker test): an ioworker on
 * each of two namespaces at the same time — namespaces 1 and 2 of one
 * controller, or namespace 1 of two controllers with `--dut2` — then a check
 * that each namespace kept its own data (a different pattern written to LBA 0
 * of each, read back from both).
 *
 *   deno run --allow-ffi examples/two_namespaces.ts \
 *     [--dut qemu:ns=2] [--dut2 NAME] [--seconds 5]
 *
 * Without `--dut` (and NVME_DUT) the embedded device is started with two
 * namespaces (`qemu:ns=2`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  Buffer,
  Controller,
  defaultDut,
  Namespace,
  PTYPE_DWORD,
  Qpair,
} from "../mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    dut: { type: "string" },
    dut2: { type: "string" },
    seconds: { type: "string", default: "5" },
  },
});
const seconds = Number(values.seconds);

using nvme0 = new Controller(defaultDut(Deno.args, "qemu:ns=2"));
using nvme1 = values.dut2 ? new Controller(values.dut2) : undefined;
if (!nvme1) {
  // the active namespace list (Identify CNS 02h)
  using list = new Buffer(4096, "active namespaces");
  nvme0.identify(list, 0, 2).waitdone();
  const active: number[] = [];
  for (let i = 0; i < 1024 && list.u32(i * 4); i++) {
    active.push(list.u32(i * 4));
  }
  if (!active.includes(2)) {
    console.error(
      `${nvme0.idCtrl.mn} has no namespace 2 (active: ${
        active.join(", ")
      }): give a device with two (--dut qemu:ns=2) or a second controller (--dut2)`,
    );
    Deno.exit(1);
  }
}
using nsA = new Namespace(nvme0, 1);
using nsB = nvme1 ? new Namespace(nvme1, 1) : new Namespace(nvme0, 2);
const name = (ns: Namespace, c: Controller) =>
  `${c === nvme0 ? "nvme0" : "nvme1"}n${ns.nsid}`;
const names = [name(nsA, nvme0), name(nsB, nvme1 ?? nvme0)];
console.log(
  `${names[0]}: ${nsA.capacity} LBAs of ${nsA.lbaSize} bytes; ${
    names[1]
  }: ${nsB.capacity} LBAs of ${nsB.lbaSize} bytes`,
);

// both workloads at once: random 4 KiB writes on each namespace
const workers = [nsA, nsB].map((ns) =>
  ns.ioworker({
    ioSize: Math.max(1, 4096 / ns.lbaSize),
    lbaAlign: Math.max(1, 4096 / ns.lbaSize),
    lbaRandom: true,
    qdepth: 16,
    readPercentage: 0,
    regionStart: 8, // keep LBA 0..7 for the check below
    time: seconds,
  }).start()
);
let failed = false;
for (const [i, w] of workers.entries()) {
  const r = await w.closeAsync();
  console.log(
    `${names[i]}: ${r.ioCountWrite} writes in ${r.mseconds} ms (${
      (r.ioCountWrite / r.mseconds).toFixed(1)
    }k IOPS)${r.ok ? "" : `, ERROR ${r.errorMessage}`}`,
  );
  if (!r.ok || !r.ioCountWrite) failed = true;
}

// each namespace keeps its own data: a different pattern on LBA 0 of each
using qA = new Qpair(nvme0, 8);
using qB = new Qpair(nvme1 ?? nvme0, 8);
using wA = new Buffer(nsA.lbaSize, "nsA", 0x11111111, PTYPE_DWORD);
using wB = new Buffer(nsB.lbaSize, "nsB", 0x22222222, PTYPE_DWORD);
using r = new Buffer(Math.max(nsA.lbaSize, nsB.lbaSize), "read");
nsA.write(qA, wA, 0, 1).waitdone();
nsB.write(qB, wB, 0, 1).waitdone();
nsA.read(qA, r, 0, 1).waitdone();
const a = r.u32(16);
nsB.read(qB, r, 0, 1).waitdone();
const b = r.u32(16);
console.log(
  `LBA 0: ${names[0]} 0x${a.toString(16)}, ${names[1]} 0x${b.toString(16)}`,
);
if (a !== 0x11111111 || b !== 0x22222222) failed = true;
console.log(`two namespaces: ${failed ? "FAILED" : "PASSED"}`);
if (failed) Deno.exit(1);

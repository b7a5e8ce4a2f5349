/**
 * Benchmarks on the embedded device (and NVMe/TCP against the kernel's target
 * in a guest: tasks/bench_tcp.ts); one JSON line per result.
 *
 *   deno task bench [--dut qemu] [--seconds 3] [--tcp-seconds 10]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Controller, Pcie } from "../mod.ts";
import {
  benchIoworkerAll,
  benchQd1InC,
  benchScriptBatches,
} from "./bench_ioworker.ts";
import { benchVerifyAll } from "./bench_verify.ts";
import { benchConsole } from "./bench_console.ts";
import { benchTcp } from "./bench_tcp.ts";
import { benchDriverAll } from "./bench_driver.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    dut: { type: "string" },
    seconds: { type: "string", default: "3" },
    "tcp-seconds": { type: "string", default: "10" },
  },
  strict: false,
});
const seconds = Number(values.seconds) || 3;
const base = typeof values.dut === "string" ? values.dut : "qemu";

function emit(result: Record<string, unknown>): void {
  console.log(JSON.stringify(result));
}

// 1. device start + controller init + close
{
  const runs = 10;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) {
    using pcie = new Pcie(base);
    using nvme0 = new Controller(pcie);
    void nvme0;
  }
  emit({
    name: "device-start-init-close",
    dut: base,
    ms: +((performance.now() - t0) / runs).toFixed(2),
  });
}

// 2. a script at QD1 (write + waitdone, read + waitdone) and the same loop in C,
// alternating: script-qd1-write-read and c-qd1-write-read with the ratio
benchQd1InC(base, seconds);

// 3. a script keeping 127 reads in flight (null backend: the device is not the
// limit) and an ioworker, alternating: the script's IOPS over the ioworker's
benchScriptBatches(base, seconds);

// 4. IO workers against a minimal C loop, their scaling
benchIoworkerAll(base);

// 4b. the driver's own cost per IO (the loopback device: no device time)
benchDriverAll();

// 5. data verification: a 16 TiB table's memory, ioworker IOPS verified vs not
await benchVerifyAll(base);

// 6. the live console: ioworker IOPS with the console open and refreshing vs off
await benchConsole(base);
// 7. NVMe/TCP: an ioworker against the C loop, the kernel's nvmet-tcp in a guest
benchTcp("nvmet", Number(values["tcp-seconds"]) || 10);

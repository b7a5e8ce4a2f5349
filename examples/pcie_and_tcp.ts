/**
 * PCIe and NVMe/TCP controllers in one script (pynvme's four-controller
 * loop): two embedded PCIe devices and two NVMe/TCP targets, one named by its
 * plain address (port 4420) and one with a port; each one's model number,
 * then an ioworker on every controller at once.
 *
 *   deno run --allow-ffi examples/pcie_and_tcp.ts \
 *     [--tcp 10.24.48.17,127.0.0.1:4420] [--seconds 3]
 *
 * (`deno task test:tcp` runs it against the kernel's nvmet-tcp in a guest.)
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Controller, Namespace } from "../mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    tcp: { type: "string", default: "10.24.48.17,127.0.0.1:4420" },
    seconds: { type: "string", default: "3" },
    dut: { type: "string" },
  },
});
const names = ["qemu", "qemu", ...values.tcp!.split(",")];
const seconds = Number(values.seconds);

const ctrls: Controller[] = [];
const spaces: Namespace[] = [];
try {
  for (const name of names) {
    const nvme = new Controller(name);
    ctrls.push(nvme);
    spaces.push(new Namespace(nvme, 1));
    console.log(`${name.padEnd(40)} ${nvme.modelNumber}`);
  }
  // an ioworker on each controller, all at once: 4 KiB random reads at QD8
  const workers = spaces.map((ns) =>
    ns.ioworker({
      ioSize: 4096 / ns.lbaSize,
      lbaAlign: 4096 / ns.lbaSize,
      lbaRandom: true,
      readPercentage: 100,
      qdepth: 8,
      time: seconds,
      regionEnd: Math.min(ns.capacity, 2 ** 30 / ns.lbaSize),
    }).start()
  );
  let failed = false;
  workers.forEach((w, i) => {
    const r = w.close();
    console.log(
      `${names[i].padEnd(40)} ${
        (r.ioCountRead / seconds).toFixed(0).padStart(8)
      } IOPS${r.ok ? "" : `  ERROR: ${r.errorMessage}`}`,
    );
    if (!r.ok || r.ioCountRead === 0) failed = true;
  });
  console.log(failed ? "pcie and tcp: FAILED" : "pcie and tcp: PASSED");
  if (failed) Deno.exitCode = 1;
} finally {
  for (const ns of spaces) ns.close();
  for (const c of ctrls) c.close();
}

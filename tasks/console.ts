/**
 * `deno task console [--dut X] [--console=rw]`: open the device and serve the
 * live console alone — a GUI utility session (identify, logs, features, and
 * with `--console=rw` format, sanitize, firmware). Prints the URL to open;
 * Ctrl-C closes the device and ends it.
 *
 * @module
 */
import { Controller } from "../mod.ts";
import { consoleMode, startConsole } from "../console/registry.ts";
import { defaultDut } from "../ffi/dut.ts";

const mode = consoleMode();
await startConsole({ mode: mode === "rw" ? "rw" : "ro" });
const nvme0 = new Controller(defaultDut());
console.log(
  `serving ${nvme0.modelNumber} (${nvme0.serialNumber}) on ${defaultDut()}; Ctrl-C ends`,
);
const keep = setInterval(() => {}, 1 << 30);
const stop = () => {
  clearInterval(keep);
  nvme0.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);

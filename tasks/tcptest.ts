/**
 * `deno task test:tcp` — the driver over NVMe/TCP against the Linux kernel's
 * target.
 *
 * Boots the nvmet-tcp guest once (ffi/nvmet.ts: QEMU, TCG, user networking
 * with `restrict=on`, the guest's port 4420 forwarded from 127.0.0.1, 4420
 * itself when free) and runs against it, with `NVME_DUT` naming it:
 * the device-independent tests (tests/device_test.ts), the NVMe/TCP tests
 * (tests/tcp_test.ts: names, discovery, faults; its killed-target test boots
 * a guest of its own with `--dut nvmet`), and the example scripts that make
 * sense over TCP (the mixed PCIe + TCP one runs in tcp_test.ts). QEMU is stopped at the
 * end (and dies with this process whatever happens).
 *
 * When the guest's Debian packages can be neither downloaded nor found in
 * .denvme/vm/, the run is skipped and says why (exit 0; DENVME_TCPTEST=require
 * makes that a failure).
 *
 *   deno task test:tcp            run everything
 *   deno task test:tcp --serve    boot the target, print its name, wait for Ctrl-C
 *
 * @module
 */
import { CannotRun } from "./vm/debian.ts";
import { prepareNvmet } from "./vm/nvmet.ts";
import { bootNvmet } from "../ffi/nvmet.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

function log(msg: string): void {
  console.log(`[tcptest] ${msg}`);
}

/** Example scripts run unchanged over TCP (arguments after the name). */
const EXAMPLES: [string, ...string[]][] = [
  ["hello_world"],
  ["identify"],
  ["ioworker_multiple_queues", "--queues", "1,2", "--seconds", "2"],
  ["write_read_verify", "--seconds", "1"],
];

async function run(
  name: string,
  args: string[],
  env: Record<string, string>,
): Promise<boolean> {
  const t0 = performance.now();
  log(`BEGIN ${name}`);
  const st = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env,
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  log(
    `END ${name}: ${st.success ? "pass" : `FAIL (exit ${st.code})`} (${s} s)`,
  );
  return st.success;
}

async function main(): Promise<number> {
  const require = Deno.env.get("DENVME_TCPTEST") === "require";
  try {
    await prepareNvmet((s) => log(s));
  } catch (e) {
    if (e instanceof CannotRun) {
      log(`SKIPPED: ${e.message}`);
      return require ? 1 : 0;
    }
    throw e;
  }
  const t0 = performance.now();
  const guest = bootNvmet(180_000, 4420);
  const dut = `tcp://127.0.0.1:${guest.port}/${guest.nqn}`;
  log(
    `nvmet-tcp target ready in ${
      guest.bootS.toFixed(1)
    } s: ${dut} (QEMU pid ${guest.pid})`,
  );
  try {
    if (Deno.args.includes("--serve")) {
      log(`NVME_DUT=${dut}; Ctrl-C stops it`);
      await new Promise<void>((resolve) =>
        Deno.addSignalListener("SIGINT", () => resolve())
      );
      return 0;
    }
    const env = { NVME_DUT: dut, NO_COLOR: "1" };
    const results: [string, boolean][] = [];
    const test = (file: string) =>
      run(file, ["test", "--allow-all", file], env).then((ok) =>
        results.push([file, ok])
      );
    await test("tests/device_test.ts");
    await test("tests/tcp_test.ts");
    for (const [ex, ...args] of EXAMPLES) {
      const ok = await run(`examples/${ex}.ts`, [
        "run",
        "--allow-all",
        `examples/${ex}.ts`,
        ...args,
      ], env);
      results.push([`examples/${ex}.ts`, ok]);
    }
    const failed = results.filter(([, ok]) => !ok);
    log(
      `${results.length - failed.length} passed, ${failed.length} failed in ${
        ((performance.now() - t0) / 1000).toFixed(0)
      } s${failed.length ? `: ${failed.map(([n]) => n).join(", ")}` : ""}`,
    );
    log(failed.length ? "FAIL" : "PASS");
    return failed.length ? 1 : 0;
  } finally {
    guest.stop();
  }
}

if (import.meta.main) Deno.exit(await main());

/**
 * The `nvmet` device: the Linux kernel's NVMe/TCP target (nvmet-tcp) in a
 * small guest under QEMU (TCG), booted for the script. Its port 4420 is
 * forwarded from a free port on 127.0.0.1 (QEMU user networking with
 * `restrict=on`: the guest reaches nothing). Namespace 1 is a memory-backed
 * null_blk (512-byte LBAs, data kept while the guest runs), namespace 2 a file
 * (4 KiB LBAs), namespace 3 a null_blk without memory (throughput).
 * QEMU is started by libnvmeshim's launcher so that it dies with the driver,
 * and stopped when the device is closed.
 *
 * The guest (kernel, modules, busybox: Debian packages) is prepared by
 * `deno run --allow-all tasks/vm/nvmet.ts` (done here on first use when
 * subprocesses are allowed).
 *
 * @module
 */
import { NvmeError } from "./errors.ts";
import { cstr, lib, unwrap } from "./lib.ts";
import { sleepSync } from "./sleep.ts";
import { envVar } from "./permissions.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const DIR = `${ROOT}/.denvme/vm/nvmet`;

/**
 * A running target guest.
 *
 * ```ts
 * const g = bootNvmet();
 * console.log(`nvmet-tcp on 127.0.0.1:${g.port}, ${g.nqn}`);
 * g.stop();
 * ```
 */
export interface NvmetGuest {
  /** QEMU's process id. */
  pid: number;
  /** The forwarded port on 127.0.0.1. */
  port: number;
  /** The subsystem the guest exports. */
  nqn: string;
  /** The guest's serial console log. */
  console: string;
  /** Seconds from start to the target's ready line. */
  bootS: number;
  /** Stop QEMU (idempotent). */
  stop(): void;
}

function which(cmd: string): string | undefined {
  if (cmd.startsWith("/")) return cmd;
  for (const dir of (envVar("PATH") ?? "/usr/bin:/bin").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${cmd}`).isFile) return `${dir}/${cmd}`;
    } catch { /* not here */ }
  }
  return undefined;
}

function guestFiles(): { kernel: string; initrd: string; nqn: string } {
  const read = () =>
    JSON.parse(Deno.readTextFileSync(`${DIR}/guest.json`)) as {
      kernel: string;
      initrd: string;
      nqn: string;
    };
  try {
    return read();
  } catch { /* not prepared yet */ }
  let o: Deno.CommandOutput;
  try {
    o = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", `${ROOT}/tasks/vm/nvmet.ts`],
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
  } catch (e) {
    throw new NvmeError(
      `the nvmet target guest is not prepared and cannot be prepared here (${
        (e as Error).message
      }): run \`deno run --allow-all tasks/vm/nvmet.ts\` once`,
    );
  }
  if (!o.success) {
    const out = new TextDecoder().decode(o.stdout) +
      new TextDecoder().decode(o.stderr);
    throw new NvmeError(
      `preparing the nvmet target guest failed: ${
        out.trim().split("\n").slice(-3).join(" | ")
      }`,
    );
  }
  return read();
}

/**
 * Boot the target guest and wait for its ready line (up to `timeoutMs`).
 * `port`: the host port to forward when it is free (else any free one).
 */
export function bootNvmet(timeoutMs = 180_000, port?: number): NvmetGuest {
  const g = guestFiles();
  const qemu = which(envVar("DENVME_QEMU") || "qemu-system-x86_64");
  if (!qemu) {
    throw new NvmeError(
      "qemu-system-x86_64 is not installed (bash tasks/setup.sh installs it)",
    );
  }
  const wanted = port;
  // files QEMU and libnvmeshim create (no write permission needed here)
  const run = `${envVar("TMPDIR") || "/tmp"}/denvme-nvmet-${Deno.pid}-${
    Math.random().toString(36).slice(2, 10)
  }`;
  const consoleLog = `${run}.console`;
  for (let attempt = 0; attempt < 3; attempt++) {
    const p = new Uint32Array(1);
    unwrap(lib.nvme_tcp_free_port(p), "nvmet");
    const port = attempt === 0 && wanted ? wanted : p[0];
    const args = [
      qemu,
      "-machine",
      "q35",
      "-accel",
      "tcg",
      "-cpu",
      "max",
      "-smp",
      "1",
      "-m",
      "1024",
      "-nodefaults",
      "-no-user-config",
      "-display",
      "none",
      "-no-reboot",
      "-serial",
      `file:${consoleLog}`,
      "-kernel",
      g.kernel,
      "-initrd",
      g.initrd,
      "-append",
      "console=ttyS0 quiet loglevel=4 panic=-1",
      "-netdev",
      `user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:${port}-:4420`,
      "-device",
      "virtio-net-pci,netdev=n0",
    ];
    const pid = new Uint32Array(1);
    unwrap(
      lib.nvme_guest_start(cstr(args.join("\n")), cstr(`${run}.log`), pid),
      "nvmet",
    );
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      lib.nvme_guest_stop(pid[0], 2000);
      for (const f of [consoleLog, `${run}.log`]) {
        try {
          Deno.removeSync(f);
        } catch { /* gone, or no write permission: a small file in /tmp */ }
      }
    };
    const t0 = Date.now();
    for (;;) {
      let con = "";
      try {
        con = Deno.readTextFileSync(consoleLog);
      } catch { /* not yet */ }
      const ready = /NVMET-READY (\S+)/.exec(con);
      if (ready) {
        return {
          pid: pid[0],
          port,
          nqn: ready[1],
          console: consoleLog,
          bootS: (Date.now() - t0) / 1000,
          stop,
        };
      }
      const fail = /NVMET-FAIL (.*)/.exec(con);
      if (fail) {
        stop();
        throw new NvmeError(`the nvmet target guest failed: ${fail[1]}`);
      }
      if (!lib.nvme_guest_alive(pid[0])) {
        let why = "";
        try {
          why = Deno.readTextFileSync(`${run}.log`).trim();
        } catch { /* none */ }
        if (/host forwarding|Could not set up/i.test(why) && attempt < 2) {
          break; // the port was taken meanwhile: another one
        }
        stop();
        throw new NvmeError(
          `the nvmet target guest (QEMU) exited during boot: ${
            why || "no message"
          }`,
        );
      }
      if (Date.now() - t0 > timeoutMs) {
        stop();
        throw new NvmeError(
          `the nvmet target guest was not ready within ${timeoutMs} ms (console: ${
            con.trim().split("\n").slice(-3).join(" | ")
          })`,
        );
      }
      sleepSync(50);
    }
  }
  throw new NvmeError("the nvmet target guest found no free port on 127.0.0.1");
}

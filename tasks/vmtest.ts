/**
 * `deno task test:vfio` — the real-hardware path tested without hardware.
 *
 * Boots a small Linux guest under QEMU (TCG) with an emulated Intel IOMMU and
 * two emulated NVMe controllers: the device under test (01:00.0, behind a
 * PCIe root port) and a
 * system disk (00:05.0) whose namespaces hold the guest's root filesystem,
 * swap and a mounted data filesystem. Inside, the setup task must refuse the
 * system disk and bind the device under test to vfio-pci; then the
 * device-independent tests (tests/device_test.ts) and the example scripts run
 * against it with `--dut 0000:01:00.0` through the VFIO transport, then the
 * power and removal tests (tests/vfio_power_test.ts: slot power cycles, dirty
 * cycles under ioworkers with verification, 20 cycles in a row, S3 with an
 * RTC wake-up, the external power command, a surprise removal), and the
 * release task gives it back. Before the hand-over, Debian's nvme-cli (through
 * the kernel's nvme driver) dumps what it decodes of the DUT; right after it,
 * tests/nvmecli_crosscheck_test.ts compares denvme's decoders with that, field
 * by field (skipped, saying why, when nvme-cli cannot be fetched). The DUT's root port is hotplug-capable (native
 * PCIe hotplug); the host keeps a QMP connection and plays the slot's part
 * (tasks/vm/dut_slot.ts): it puts the card back when the guest's slot power-off
 * made QEMU delete it, and performs the guest's console requests
 * (`VMTEST-HOST power off|on|unplug`) with device_del / device_add. The host reads the guest's serial console,
 * shows it, and exits 0 only if every step passed.
 *
 * Everything comes from Debian's packages (the kernel package for a PVH
 * vmlinux and its modules, busybox-static; `apt-get download`, cached in
 * .denvme/vm/ for the next run) plus this deno binary, its glibc libraries and
 * the project's files, packed into an initramfs. When the packages can be
 * neither downloaded nor found in the cache, the test is skipped and says
 * why (exit 0; DENVME_VMTEST=require turns that into a failure).
 *
 * Environment: DENVME_VMTEST_TIMEOUT (seconds for the whole guest run,
 * default 1500), DENVME_QEMU (QEMU binary), DENVME_VMTEST_KEEP=1 (keep the
 * run directory), DENVME_VMTEST_ONLY (a regular expression: run only the
 * guest steps whose names it matches, plus the binding; for development).
 *
 * @module
 */
import { type CpioEntry, writeCpio } from "./vm/cpio.ts";
import {
  CannotRun,
  extractVmlinux,
  fetchDeb,
  kernelPackage,
  loadOrder,
  moduleDepends,
  moduleName,
  unpackDeb,
} from "./vm/debian.ts";
import { DutSlot } from "./vm/dut_slot.ts";
import { type NvmeCliParts, prepareNvmeCli } from "./vm/nvmecli.ts";
import { Qmp } from "./vm/qmp.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const CACHE = `${ROOT}/.denvme/vm`;
const DUT = "0000:01:00.0"; // behind a PCIe root port: hot reset works
const SYS = "0000:00:05.0";
/** Modules the guest loads (their dependencies come along). */
const MODULES = [
  "nvme",
  "vfio_pci",
  "vfio_iommu_type1",
  "crc32c_generic", // ext4 asks the crypto API for it
  "ext4",
];
/** Example scripts run unchanged against the device, besides hello_world. */
const EXAMPLES = ["identify"];
const started = performance.now();
/** Terminal colour sequences in the guest's output. */
const ANSI = new RegExp(String.fromCharCode(27) + "\\[[0-9;]*[A-Za-z]", "g");

function log(msg: string): void {
  console.log(`[vmtest] ${msg}`);
}

function elapsed(): string {
  return `${((performance.now() - started) / 1000).toFixed(1)} s`;
}

function which(cmd: string): string | undefined {
  if (cmd.includes("/")) return cmd;
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    try {
      if (Deno.statSync(`${dir}/${cmd}`).isFile) return `${dir}/${cmd}`;
    } catch { /* not here */ }
  }
  return undefined;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

/**
 * Kernel image, modules in load order and busybox, prepared once per package
 * version. The guest boots the compressed kernel (vmlinuz): a PVH-booted
 * vmlinux starts 2 s sooner but does not come back from S3 (QEMU resets the
 * machine instead of resuming it), and the guest test suspends to RAM.
 */
async function prepareGuestParts(): Promise<
  { kernel: string; modules: { name: string; path: string }[]; busybox: string }
> {
  const debs = `${CACHE}/debs`;
  const kpkg = await kernelPackage();
  if (!kpkg) {
    log(
      "apt-cache cannot name the kernel package (no apt lists?): trying the cache",
    );
  }
  const kdeb = await fetchDeb(debs, kpkg, "linux-image-", log);
  const bdeb = await fetchDeb(debs, "busybox-static", "busybox-static", log);

  const kver = kdeb.slice(kdeb.lastIndexOf("/") + 1).replace(/\.deb$/, "");
  const kdir = `${CACHE}/${kver}`;
  try {
    Deno.statSync(`${kdir}/ready`);
    Deno.statSync(`${kdir}/vmlinuz`);
  } catch {
    log(`unpacking ${kver}`);
    const tmp = `${CACHE}/unpack-${Deno.pid}`;
    try {
      await unpackDeb(kdeb, tmp);
      const vmlinuz = walk(`${tmp}/boot`).find((p) => /\/vmlinuz-/.test(p));
      if (!vmlinuz) throw new CannotRun(`${kdeb} holds no /boot/vmlinuz`);
      const files = new Map<string, string>();
      for (const p of walk(`${tmp}/lib/modules`)) {
        if (p.endsWith(".ko")) {
          files.set(moduleName(p.slice(p.lastIndexOf("/") + 1)), p);
        }
      }
      const order = loadOrder(
        MODULES,
        files,
        (p) => moduleDepends(Deno.readFileSync(p)),
      );
      Deno.mkdirSync(`${kdir}/mods`, { recursive: true });
      for (const m of order) {
        Deno.copyFileSync(files.get(m)!, `${kdir}/mods/${m}.ko`);
      }
      Deno.writeTextFileSync(`${kdir}/mods/order`, order.join("\n") + "\n");
      // a PVH vmlinux boots without running the decompressor (faster under
      // TCG, kept for experiments); the guest test boots vmlinuz (S3 resume)
      await extractVmlinux(vmlinuz, `${kdir}/vmlinux`);
      Deno.copyFileSync(vmlinuz, `${kdir}/vmlinuz`);
      Deno.writeTextFileSync(`${kdir}/ready`, "");
    } finally {
      try {
        Deno.removeSync(tmp, { recursive: true });
      } catch { /* nothing */ }
    }
  }
  const order = Deno.readTextFileSync(`${kdir}/mods/order`).trim().split("\n");
  const kernel = `${kdir}/vmlinuz`;
  const bver = bdeb.slice(bdeb.lastIndexOf("/") + 1).replace(/\.deb$/, "");
  const bdir = `${CACHE}/${bver}`;
  await unpackDeb(bdeb, bdir);
  return {
    kernel,
    modules: order.map((name) => ({ name, path: `${kdir}/mods/${name}.ko` })),
    busybox: `${bdir}/bin/busybox`,
  };
}

/** The shared libraries a binary needs, by their absolute paths (ldd). */
async function libsOf(bin: string): Promise<string[]> {
  const o = await new Deno.Command("ldd", {
    args: [bin],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!o.success) throw new Error(`ldd ${bin} failed`);
  const libs = new Set<string>();
  for (const line of new TextDecoder().decode(o.stdout).split("\n")) {
    const m = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.add(m[1]);
  }
  return [...libs];
}

/** The project's TypeScript, JSON, lock and shell files (not .git, caches, C sources). */
function projectFiles(): string[] {
  const skip = new Set([
    ".git",
    ".denvme",
    "node_modules",
    "libnvmeshim",
    "test-results",
    "docs",
  ]);
  const out: string[] = [];
  const visit = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory && !skip.has(e.name)) visit(p);
      else if (e.isFile && /\.(ts|json|lock|sh)$/.test(e.name)) out.push(p);
    }
  };
  visit(ROOT);
  return out.sort();
}

/**
 * A DENO_DIR holding the npm packages deno.json imports (`deno install`), kept
 * in the cache for the next run.
 */
async function prepareDenoDir(): Promise<string> {
  const dir = `${CACHE}/deno-dir`;
  Deno.mkdirSync(dir, { recursive: true });
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["install", "--quiet"],
    cwd: ROOT,
    env: { DENO_DIR: dir, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!o.success) {
    throw new CannotRun(
      `deno install (the npm packages of deno.json, for the guest) failed: ${
        new TextDecoder().decode(o.stderr).trim().split("\n").at(-1)
      }`,
    );
  }
  // only the npm packages travel; compiled-module caches are rebuilt in the guest
  return dir;
}

/** Write the initramfs: busybox, modules, deno and its libraries, the project. */
async function buildInitramfs(
  parts: Awaited<ReturnType<typeof prepareGuestParts>>,
  out: string,
  env: string,
  denoDir: string,
  nvmecli?: NvmeCliParts,
): Promise<number> {
  const deno = Deno.realPathSync(Deno.execPath());
  const lib = `${ROOT}/libnvmeshim/build/libnvmeshim.so`;
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const dir = (p: string) => {
    const parts2 = p.split("/").filter((x) => x);
    for (let i = 1; i <= parts2.length; i++) {
      const d = parts2.slice(0, i).join("/");
      if (!dirs.has(d)) {
        dirs.add(d);
        entries.push({ path: d, type: "dir" });
      }
    }
  };
  const file = (path: string, src: string | Uint8Array, mode = 0o644) => {
    if (path.includes("/")) dir(path.slice(0, path.lastIndexOf("/")));
    entries.push({
      path,
      type: "file",
      mode,
      data: typeof src === "string" ? Deno.readFileSync(src) : src,
    });
  };
  for (const d of ["proc", "sys", "dev", "tmp", "mnt", "etc"]) dir(d);
  file("bin/busybox", parts.busybox, 0o755);
  file("bin/deno", deno, 0o755);
  const libs = new Map<string, string>();
  for (const l of new Set([...await libsOf(deno), ...await libsOf(lib)])) {
    libs.set(l.replace(/^\//, ""), Deno.realPathSync(l));
  }
  if (nvmecli) {
    // the reference decoder of the nvme-cli cross-check, with its libraries
    file("bin/nvme", nvmecli.binary, 0o755);
    for (const l of nvmecli.libs) {
      if (!libs.has(l.guest)) libs.set(l.guest, l.host);
    }
  }
  for (const [guest, host] of libs) file(guest, host, 0o755);
  for (const m of parts.modules) file(`mods/${m.name}.ko`, m.path);
  file("init", `${ROOT}/tasks/vm/init.sh`, 0o755);
  file("init2", `${ROOT}/tasks/vm/init2.sh`, 0o755);
  file("etc/vmtest.env", new TextEncoder().encode(env));
  // the project: TypeScript, deno.json and the built library
  for (const p of projectFiles()) file(`work/${p.slice(ROOT.length + 1)}`, p);
  // the npm packages deno.json imports, cached on the host (the guest has no network)
  for (const p of walk(denoDir).sort()) {
    file(`deno-dir/${p.slice(denoDir.length + 1)}`, p);
  }
  file("work/libnvmeshim/build/libnvmeshim.so", lib, 0o755);

  const f = Deno.openSync(out, { write: true, create: true, truncate: true });
  let size = 0;
  try {
    writeCpio(entries, (chunk) => {
      let off = 0;
      while (off < chunk.length) off += f.writeSync(chunk.subarray(off));
      size += chunk.length;
    });
  } finally {
    f.close();
  }
  return size;
}

interface Step {
  name: string;
  result?: string;
  begin: number;
  end?: number;
}

/** Seconds QEMU may take to exit after the guest printed its result. */
const EXIT_GRACE_S = 20;

async function runGuest(
  kernel: string,
  initrd: string,
  run: string,
  timeoutS: number,
): Promise<{ ok: boolean; steps: Step[]; bootS?: number; reason: string }> {
  const qemu = Deno.env.get("DENVME_QEMU") || "qemu-system-x86_64";
  const img = (name: string, size: number) => {
    const p = `${run}/${name}.img`;
    const f = Deno.openSync(p, { write: true, create: true, truncate: true });
    f.truncate(size);
    f.close();
    return p;
  };
  const MiB = 1 << 20;
  const args = [
    "-machine",
    "q35,kernel-irqchip=split",
    "-accel",
    "tcg",
    "-cpu",
    "max",
    "-smp",
    "2",
    "-m",
    "2048",
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-no-reboot",
    "-serial",
    "stdio",
    "-device",
    "intel-iommu,intremap=on",
    // S3 (suspend to RAM) for the power=s3 steps; native PCIe hotplug (pciehp)
    // on the root ports rather than ACPI hotplug, so that the slot's power
    // controller is the guest's to switch
    "-global",
    "ICH9-LPC.disable_s3=0",
    "-global",
    "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off",
    "-qmp",
    `unix:${run}/qmp.sock,server=on,wait=off`,
    "-kernel",
    kernel,
    "-initrd",
    initrd,
    "-append",
    // no_timer_check: on a loaded host the IO-APIC timer check under TCG can fail and panic the boot;
    // iomem=relaxed: nvme-cli (show-regs, effects-log) maps BAR0 of a controller the nvme driver
    // owns through sysfs, which the kernel's strict I/O memory policy refuses (EINVAL)
    "console=ttyS0 intel_iommu=on iommu=pt quiet loglevel=4 panic=-1 no_timer_check iomem=relaxed",
    // the device under test: its disk is a -blockdev node, which outlives the
    // device when the guest powers the slot off (QEMU then deletes the device)
    "-blockdev",
    JSON.stringify({
      "node-name": "dutdisk",
      driver: "raw",
      discard: "unmap",
      file: {
        driver: "file",
        filename: img("dut", 1024 * MiB),
        discard: "unmap",
      },
    }),
    "-device",
    // 5 GT/s: at higher speeds Linux 6.1 waits for Data Link Layer Link Active
    // after a bus reset, which this root port model does not report
    "pcie-root-port,id=rp1,bus=pcie.0,chassis=1,addr=04.0,x-speed=5",
    "-device",
    "nvme,id=dut,serial=DENVME-DUT,bus=rp1,drive=dutdisk",
    // the system disk: root filesystem, swap, data filesystem
    "-device",
    "nvme,id=sys,serial=DENVME-SYS,addr=05.0",
  ];
  [["root", 512], ["swap", 64], ["data", 64]].forEach(([name, mb], i) => {
    args.push(
      "-drive",
      `file=${img(`sys-${name}`, (mb as number) * MiB)},if=none,id=sys${
        i + 1
      },format=raw`,
      "-device",
      `nvme-ns,drive=sys${i + 1},bus=sys,nsid=${i + 1}`,
    );
  });
  log(`booting: ${qemu} ${args.join(" ")}`);
  const child = new Deno.Command(qemu, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const steps: Step[] = [];
  let result: string | undefined, bootS: number | undefined;
  // the host's side of the power and removal steps (tasks/vm/dut_slot.ts)
  const slot = new DutSlot(
    {
      driver: "nvme",
      id: "dut",
      serial: "DENVME-DUT",
      bus: "rp1",
      drive: "dutdisk",
    },
    log,
  );
  let qmp: Qmp | undefined;
  const qmpReady = Qmp.connect(`${run}/qmp.sock`, (e) => slot.onEvent(e))
    .then((q) => {
      qmp = q;
      slot.attach(q);
    })
    .catch((e) => {
      log(`no QMP connection: ${(e as Error).message}`);
    });
  const requests: Promise<void>[] = [];
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    log(`the guest run exceeded ${timeoutS} s: stopping QEMU`);
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, timeoutS * 1000);
  const stderr = (async () => {
    const text = new TextDecoder().decode(
      await new Response(child.stderr).arrayBuffer(),
    );
    return text.trim();
  })();
  let exitTimer: ReturnType<typeof setTimeout> | undefined;
  let pending = "";
  const dec = new TextDecoder();
  const onLine = (raw: string) => {
    const line = raw.replace(/\r$/, "").replace(ANSI, "");
    console.log(`[guest] ${line}`);
    let m: RegExpExecArray | null;
    if ((m = /^VMTEST-BOOTED (\S+)/.exec(line))) bootS = Number(m[1]);
    else if ((m = /^VMTEST-STEP-BEGIN (\S+)/.exec(line))) {
      steps.push({ name: m[1], begin: performance.now() });
    } else if ((m = /^VMTEST-STEP-END (\S+) (.*)$/.exec(line))) {
      const s = steps.findLast((x) => x.name === m![1]);
      if (s) {
        s.result = m[2];
        s.end = performance.now();
      }
    } else if ((m = /^VMTEST-RESULT (.*)$/.exec(line))) {
      result = m[1];
      // the guest powers off next; after an S3 resume QEMU 7.2 has been seen
      // to stay up (CPU busy) after the guest's "reboot: Power down", so the
      // host ends it once the result is in
      exitTimer = setTimeout(() => {
        log(
          `QEMU still runs ${EXIT_GRACE_S} s after the guest's result: quitting it`,
        );
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, EXIT_GRACE_S * 1000);
    } else if ((m = /VMTEST-HOST (.+)$/.exec(line))) {
      const req = m[1].trim();
      requests.push(qmpReady.then(() => slot.request(req)));
    }
  };
  for await (const chunk of child.stdout) {
    pending += dec.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = pending.indexOf("\n")) >= 0) {
      onLine(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  }
  if (pending) onLine(pending);
  const status = await child.status;
  clearTimeout(timer);
  clearTimeout(exitTimer);
  await Promise.allSettled(requests);
  qmp?.close();
  if (slot.actions.length) {
    log(`host actions on the DUT's slot: ${slot.actions.join(", ")}`);
  }
  const err = await stderr;
  if (err) log(`QEMU said: ${err}`);
  const ok = !timedOut && result === "pass" &&
    steps.every((s) => s.result === "pass") && !slot.errors.length;
  const reason = timedOut
    ? `timed out after ${timeoutS} s`
    : slot.errors.length
    ? `host actions failed: ${slot.errors.join("; ")}`
    : result === undefined
    ? `the guest ended without a result (QEMU exit ${status.code})`
    : result;
  return { ok, steps, bootS, reason };
}

async function main(): Promise<number> {
  const require = Deno.env.get("DENVME_VMTEST") === "require";
  const skip = (why: string): number => {
    log(`SKIPPED: ${why}`);
    return require ? 1 : 0;
  };
  const qemu = Deno.env.get("DENVME_QEMU") || "qemu-system-x86_64";
  if (!which(qemu)) {
    return skip(`${qemu} is not installed (bash tasks/setup.sh installs it)`);
  }
  for (const tool of ["apt-get", "dpkg-deb", "ldd"]) {
    if (!which(tool)) {
      return skip(`${tool} is missing: this test needs a Debian-style host`);
    }
  }
  try {
    Deno.statSync(`${ROOT}/libnvmeshim/build/libnvmeshim.so`);
  } catch {
    log("libnvmeshim is not built: run `deno task build` first");
    return 1;
  }
  const timeoutS = Number(Deno.env.get("DENVME_VMTEST_TIMEOUT") ?? 1500);
  let parts, denoDir;
  try {
    parts = await prepareGuestParts();
    denoDir = await prepareDenoDir();
  } catch (e) {
    if (e instanceof CannotRun) return skip(e.message);
    throw e;
  }
  // nvme-cli for the cross-check of the decoders: optional, skipped with the reason
  let nvmecli: NvmeCliParts | undefined, nvmecliSkip = "";
  try {
    nvmecli = await prepareNvmeCli(CACHE, log);
    log(`nvme-cli for the cross-check: ${nvmecli.versions.join(", ")}`);
  } catch (e) {
    if (!(e instanceof CannotRun)) throw e;
    nvmecliSkip = e.message;
    log(`SKIPPED the nvme-cli cross-check: ${nvmecliSkip}`);
  }
  log(
    `guest parts ready (${elapsed()}): ${parts.kernel}, ${parts.modules.length} modules`,
  );
  const run = Deno.makeTempDirSync({ dir: CACHE, prefix: "run-" });
  try {
    const env = [
      `MODULES="${parts.modules.map((m) => m.name).join(" ")}"`,
      `DUT=${DUT}`,
      `SYS=${SYS}`,
      `EXAMPLES="${EXAMPLES.join(" ")}"`,
      `NVMECLI_SKIP="${nvmecliSkip.replace(/["$`\\]/g, "")}"`,
      `STEP_TIMEOUT=${Math.max(60, Math.floor(timeoutS * 0.6))}`,
      "DENVME_DMA_MB=256",
      `POWER_FILTER="${
        (Deno.env.get("DENVME_VMTEST_POWER_FILTER") ?? "").replace(
          /["$`\\]/g,
          "",
        )
      }"`,
      `ONLY="${
        (Deno.env.get("DENVME_VMTEST_ONLY") ?? "").replace(/["$`\\]/g, "")
      }"`,
      "",
    ].join("\n");
    const size = await buildInitramfs(
      parts,
      `${run}/initrd.cpio`,
      env,
      denoDir,
      nvmecli,
    );
    log(`initramfs ${(size / 2 ** 20).toFixed(0)} MiB (${elapsed()})`);
    const t0 = performance.now();
    const r = await runGuest(parts.kernel, `${run}/initrd.cpio`, run, timeoutS);
    const guestS = (performance.now() - t0) / 1000;
    log("steps in the guest:");
    for (const s of r.steps) {
      const secs = s.end ? ((s.end - s.begin) / 1000).toFixed(1) : "?";
      log(
        `  ${(s.result ?? "did not finish").padEnd(18)} ${s.name} (${secs} s)`,
      );
    }
    const passed = r.steps.filter((s) => s.result === "pass").length;
    log(
      `guest: boot ${r.bootS?.toFixed(1) ?? "?"} s, run ${
        guestS.toFixed(0)
      } s; total ${elapsed()}; ` +
        `guest steps: ${passed} passed, ${r.steps.length - passed} failed`,
    );
    if (nvmecliSkip) {
      log(`the nvme-cli cross-check was skipped: ${nvmecliSkip}`);
      if (require) {
        log(
          "FAIL: DENVME_VMTEST=require and the nvme-cli cross-check could not run",
        );
        return 1;
      }
    }
    log(r.ok ? "PASS" : `FAIL: ${r.reason}`);
    return r.ok ? 0 : 1;
  } finally {
    if (Deno.env.get("DENVME_VMTEST_KEEP") !== "1") {
      Deno.removeSync(run, { recursive: true });
    } else log(`kept ${run}`);
  }
}

if (import.meta.main) Deno.exit(await main());

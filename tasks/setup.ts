/**
 * `deno task setup` — install/build (tasks/setup.sh), then list this host's
 * NVMe devices: model, size, driver, and whether they are safe to take.
 *
 * `deno task setup <bdf> [--force] [--user NAME]` — hand one device to
 * vfio-pci for denvme (as root): load vfio-pci, refuse a device that holds a
 * mounted filesystem, swap or the root filesystem (unless --force), bind it
 * with driver_override, and give the user (SUDO_USER, or --user) access to
 * its /dev/vfio nodes.
 *
 * `deno task release <bdf>` — give the device back to the kernel nvme driver.
 *
 * Options: `--list` (list only, no install step), `--json` (machine-readable
 * listing), `--dry-run` (with a device: print what would be done, checks
 * included, and change nothing). The listing also says which power methods
 * (`power=slot|s3|cmd` device option) work for each device on this host, and
 * why the others do not.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  canonicalBdf,
  formatSize,
  inspect,
  listNvme,
  type NvmeDevice,
} from "./devices.ts";
import { powerLine, powerMethods } from "./power_methods.ts";

const PCI = "/sys/bus/pci/devices";
const root = new URL("..", import.meta.url).pathname;

class SetupError extends Error {}

function say(msg: string): void {
  console.log(`[setup] ${msg}`);
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** --dry-run: say what would be done, change nothing. */
let dryRun = false;

function writeSysfs(path: string, value: string): void {
  if (dryRun) {
    say(`dry run: would write "${value.trim()}" to ${path}`);
    return;
  }
  const f = Deno.openSync(path, { write: true });
  try {
    f.writeSync(new TextEncoder().encode(value));
  } catch (e) {
    throw new SetupError(
      `writing "${value.trim()}" to ${path} failed: ${(e as Error).message}`,
    );
  } finally {
    f.close();
  }
}

function driverOf(bdf: string): string {
  try {
    const t = Deno.readLinkSync(`${PCI}/${bdf}/driver`);
    return t.slice(t.lastIndexOf("/") + 1);
  } catch {
    return "";
  }
}

async function run(cmd: string, args: string[]): Promise<number> {
  try {
    const p = new Deno.Command(cmd, {
      args,
      stdout: "inherit",
      stderr: "inherit",
    })
      .spawn();
    return (await p.status).code;
  } catch {
    return 127;
  }
}

/** Wait up to `ms` for `cond`. */
async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

function requireRoot(what: string, bdf: string): void {
  if (Deno.uid() !== 0) {
    throw new SetupError(
      `${what} needs root: sudo env "PATH=$PATH" deno task ${
        what.startsWith("giving") ? "release" : "setup"
      } ${bdf}`,
    );
  }
}

function checkDevice(arg: string): string {
  const bdf = canonicalBdf(arg);
  if (!bdf) {
    throw new SetupError(
      `"${arg}" is not a PCI address: use the form 0000:01:00.0 or 01:00.0 (\`deno task setup\` lists the NVMe devices)`,
    );
  }
  if (!exists(`${PCI}/${bdf}`)) {
    throw new SetupError(
      `no PCI device ${bdf} on this host; \`deno task setup\` lists the NVMe devices`,
    );
  }
  const cls = Deno.readTextFileSync(`${PCI}/${bdf}/class`).trim();
  if (!cls.startsWith("0x0108")) {
    throw new SetupError(
      `${bdf} is not an NVMe controller (PCI class ${cls}, NVMe is 0x010802)`,
    );
  }
  return bdf;
}

/** Processes that hold the device's VFIO nodes open (unbinding would hang). */
function vfioUsers(bdf: string, group?: number): string[] {
  const nodes = new Set<string>();
  if (group !== undefined) nodes.add(`/dev/vfio/${group}`);
  try {
    for (const e of Deno.readDirSync(`${PCI}/${bdf}/vfio-dev`)) {
      nodes.add(`/dev/vfio/devices/${e.name}`);
    }
  } catch { /* no cdev */ }
  const users: string[] = [];
  for (const p of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(p.name) || Number(p.name) === Deno.pid) continue;
    try {
      for (const fd of Deno.readDirSync(`/proc/${p.name}/fd`)) {
        let target = "";
        try {
          target = Deno.readLinkSync(`/proc/${p.name}/fd/${fd.name}`);
        } catch { /* closed meanwhile */ }
        if (nodes.has(target)) {
          const comm = Deno.readTextFileSync(`/proc/${p.name}/comm`).trim();
          users.push(`${comm} (pid ${p.name})`);
          break;
        }
      }
    } catch { /* gone, or not ours to read */ }
  }
  return users;
}

function describe(d: NvmeDevice): string {
  const name = d.model
    ? `${d.model}${d.serial ? ` (serial ${d.serial})` : ""}`
    : `PCI ${d.id}`;
  const size = d.size !== undefined ? formatSize(d.size) : "size unknown";
  return `${name}, ${size}`;
}

function verdict(d: NvmeDevice): string {
  if (d.driver === "vfio-pci") {
    return `ready for denvme (--dut ${d.bdf}); \`deno task release ${d.bdf}\` gives it back`;
  }
  if (d.iommuGroup === undefined) {
    return "cannot be taken: no IOMMU group (enable VT-d/AMD-Vi and boot with intel_iommu=on or amd_iommu=on)";
  }
  if (d.blockers.length) return `NOT safe to take: ${d.blockers.join("; ")}`;
  return `safe to take: deno task setup ${d.bdf}`;
}

function list(json: boolean): void {
  const devs = listNvme();
  if (json) {
    console.log(
      JSON.stringify(
        devs.map((d) => ({ ...d, power: powerMethods(d.bdf) })),
        null,
        2,
      ),
    );
    return;
  }
  if (!devs.length) {
    say(
      "no NVMe devices on this host (the embedded device needs none: --dut qemu)",
    );
    return;
  }
  say(`NVMe devices (${devs.length}):`);
  for (const d of devs) {
    console.log(`  ${d.bdf}  ${describe(d)}`);
    console.log(
      `      driver: ${d.driver || "none"}, IOMMU group: ${
        d.iommuGroup ?? "none"
      }${
        d.blockDevices.length
          ? `, block devices: ${d.blockDevices.join(" ")}`
          : ""
      }`,
    );
    console.log(`      ${verdict(d)}`);
    console.log(`      ${powerLine(d.bdf)}`);
  }
}

function accessFor(
  user: string | undefined,
): { uid: number; gid: number } | undefined {
  if (user === undefined) {
    const uid = Deno.env.get("SUDO_UID"), gid = Deno.env.get("SUDO_GID");
    return uid && gid && uid !== "0"
      ? { uid: Number(uid), gid: Number(gid) }
      : undefined;
  }
  if (/^\d+$/.test(user)) return { uid: Number(user), gid: Number(user) };
  for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
    const f = line.split(":");
    if (f[0] === user) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new SetupError(`--user ${user}: no such user in /etc/passwd`);
}

async function bind(
  arg: string,
  force: boolean,
  user: string | undefined,
): Promise<void> {
  const bdf = checkDevice(arg);
  let d = inspect(bdf);
  say(`${bdf}: ${describe(d)}, driver ${d.driver || "none"}`);
  if (d.driver !== "vfio-pci") {
    if (d.blockers.length) {
      const msg = `${bdf} must not be taken from the kernel: ${
        d.blockers.join("; ")
      }`;
      if (!force) {
        throw new SetupError(
          `${msg}. Unmount it / turn the swap off first, or add --force if you really mean to pull it out from under the system`,
        );
      }
      say(`--force: ${msg}`);
    }
    if (d.iommuGroup === undefined) {
      throw new SetupError(
        `${bdf} has no IOMMU group: the IOMMU is off. Enable VT-d / AMD-Vi in the firmware set-up and boot Linux with intel_iommu=on (Intel) or amd_iommu=on, then run this again`,
      );
    }
    if (dryRun) {
      if (!exists("/sys/bus/pci/drivers/vfio-pci")) {
        say("dry run: would load vfio-pci (modprobe vfio-pci)");
      }
      writeSysfs(`${PCI}/${bdf}/driver_override`, "vfio-pci");
      if (d.driver) writeSysfs(`${PCI}/${bdf}/driver/unbind`, bdf);
      writeSysfs("/sys/bus/pci/drivers_probe", bdf);
      const who = accessFor(user);
      if (who) {
        say(
          `dry run: would give uid ${who.uid} access to /dev/vfio/${d.iommuGroup}`,
        );
      }
      say(`dry run: ${bdf} would be on vfio-pci; nothing was changed`);
      return;
    }
    requireRoot(`binding ${bdf} to vfio-pci`, bdf);
    if (!exists("/sys/bus/pci/drivers/vfio-pci")) {
      say("loading vfio-pci (modprobe vfio-pci)");
      await run("modprobe", ["vfio-pci"]);
      if (!exists("/sys/bus/pci/drivers/vfio-pci")) {
        throw new SetupError(
          "the vfio-pci driver is not available: `modprobe vfio-pci` failed (is this kernel built with CONFIG_VFIO_PCI?)",
        );
      }
    }
    writeSysfs(`${PCI}/${bdf}/driver_override`, "vfio-pci");
    if (d.driver) {
      say(`unbinding ${bdf} from ${d.driver}`);
      writeSysfs(`${PCI}/${bdf}/driver/unbind`, bdf);
    }
    writeSysfs("/sys/bus/pci/drivers_probe", bdf);
    if (!await waitFor(() => driverOf(bdf) === "vfio-pci", 5000)) {
      throw new SetupError(
        `${bdf} did not bind to vfio-pci (driver now: ${
          driverOf(bdf) || "none"
        }); see dmesg`,
      );
    }
    d = inspect(bdf);
  }
  if (dryRun) {
    say(`dry run: ${bdf} is on vfio-pci already; nothing was changed`);
    return;
  }
  // the device nodes: wait for udev/devtmpfs, then the user's access
  const nodes = [`/dev/vfio/${d.iommuGroup}`];
  try {
    for (const e of Deno.readDirSync(`${PCI}/${bdf}/vfio-dev`)) {
      nodes.push(`/dev/vfio/devices/${e.name}`);
    }
  } catch { /* no cdev on this kernel */ }
  await waitFor(() => nodes.every(exists), 3000);
  const who = accessFor(user);
  if (who) {
    requireRoot(`giving access to ${bdf}`, bdf);
    for (const n of nodes) Deno.chownSync(n, who.uid, who.gid);
    say(
      `gave uid ${who.uid} access to ${
        nodes.join(", ")
      }; that user also needs a locked-memory limit of at least the DMA arena (ulimit -l; 1 GiB by default, DENVME_DMA_MB)`,
    );
  }
  const others = groupMembers(bdf, d.iommuGroup);
  if (others.length) {
    say(
      `note: IOMMU group ${d.iommuGroup} also holds ${
        others.join(", ")
      }: VFIO needs every device of the group on vfio-pci (or on no driver)`,
    );
  }
  say(
    `${bdf} is on vfio-pci (IOMMU group ${d.iommuGroup}): use --dut ${bdf} or NVME_DUT=${bdf}; \`deno task release ${bdf}\` gives it back to nvme`,
  );
}

function groupMembers(bdf: string, group?: number): string[] {
  if (group === undefined) return [];
  const out: string[] = [];
  try {
    for (
      const e of Deno.readDirSync(`/sys/kernel/iommu_groups/${group}/devices`)
    ) {
      if (e.name === bdf) continue;
      const drv = driverOf(e.name);
      if (drv && drv !== "vfio-pci" && drv !== "pci-stub") {
        out.push(`${e.name} (${drv})`);
      }
    }
  } catch { /* no group */ }
  return out;
}

async function release(arg: string): Promise<void> {
  const bdf = checkDevice(arg);
  const d = inspect(bdf);
  if (d.driver !== "vfio-pci") {
    say(
      `${bdf} is not on vfio-pci (driver: ${
        d.driver || "none"
      }): nothing to do`,
    );
    return;
  }
  if (!dryRun) requireRoot(`giving ${bdf} back`, bdf);
  const users = vfioUsers(bdf, d.iommuGroup);
  if (users.length) {
    throw new SetupError(
      `${bdf} is in use by ${
        users.join(", ")
      }: stop it first (unbinding would wait for it)`,
    );
  }
  if (dryRun) {
    writeSysfs(`${PCI}/${bdf}/driver_override`, "\n");
    writeSysfs(`${PCI}/${bdf}/driver/unbind`, bdf);
    writeSysfs("/sys/bus/pci/drivers_probe", bdf);
    say(`dry run: ${bdf} would be back on nvme; nothing was changed`);
    return;
  }
  writeSysfs(`${PCI}/${bdf}/driver_override`, "\n");
  say(`unbinding ${bdf} from vfio-pci`);
  writeSysfs(`${PCI}/${bdf}/driver/unbind`, bdf);
  if (!exists("/sys/bus/pci/drivers/nvme")) await run("modprobe", ["nvme"]);
  writeSysfs("/sys/bus/pci/drivers_probe", bdf);
  if (!await waitFor(() => driverOf(bdf) === "nvme", 5000)) {
    throw new SetupError(
      `${bdf} did not bind to nvme (driver now: ${
        driverOf(bdf) || "none"
      }); see dmesg`,
    );
  }
  say(`${bdf} is back on the kernel nvme driver`);
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      release: { type: "boolean", default: false },
      force: { type: "boolean", default: false },
      list: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      user: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(
      "deno task setup                 install/build, then list NVMe devices\n" +
        "deno task setup --list [--json] list NVMe devices only\n" +
        "deno task setup <bdf> [--force] [--user NAME] [--dry-run]  bind to vfio-pci for denvme\n" +
        "deno task release <bdf> [--dry-run]  give it back to the kernel nvme driver\n" +
        "--dry-run: print what would be done (checks included), change nothing",
    );
    return 0;
  }
  if (positionals.length > 1) {
    throw new SetupError(
      `one PCI address at a time (got ${positionals.join(" ")})`,
    );
  }
  const bdf = positionals[0];
  dryRun = values["dry-run"];
  if (values.release) {
    if (!bdf) throw new SetupError("deno task release <bdf>: which device?");
    await release(bdf);
    return 0;
  }
  if (bdf) {
    await bind(bdf, values.force, values.user);
    return 0;
  }
  if (!values.list && !values.json) {
    // the install part: deno, QEMU, libnvmeshim (quick when all is there)
    const code = await run("bash", [`${root}tasks/setup.sh`]);
    if (code) return code;
  }
  list(values.json);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    if (e instanceof SetupError || e instanceof TypeError) {
      console.error(`[setup] error: ${(e as Error).message}`);
      Deno.exit(1);
    }
    throw e;
  }
}

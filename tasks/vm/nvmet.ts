/**
 * The NVMe/TCP target guest: the Linux kernel's nvmet-tcp in a small guest
 * under QEMU (TCG), exporting one subsystem on the guest's port 4420
 * (namespace 1: memory-backed null_blk with 512-byte LBAs; 2: a file, 4 KiB
 * LBAs; 3: null_blk without memory, for throughput). The host reaches it only through a
 * QEMU user-network forward bound to 127.0.0.1 (`restrict=on`: the guest
 * reaches nothing).
 *
 * `deno run --allow-all tasks/vm/nvmet.ts` prepares it (Debian's kernel
 * package and busybox-static, cached in .denvme/vm/ like the VFIO guest test)
 * and writes `.denvme/vm/nvmet/guest.json`, which `--dut nvmet`
 * (ffi/nvmet.ts) boots from.
 *
 * @module
 */
import { type CpioEntry, writeCpio } from "./cpio.ts";
import {
  CannotRun,
  extractVmlinux,
  fetchDeb,
  kernelPackage,
  loadOrder,
  moduleDepends,
  moduleName,
  unpackDeb,
} from "./debian.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const CACHE = `${ROOT}/.denvme/vm`;
/** Where the prepared guest lives. */
export const NVMET_DIR = `${CACHE}/nvmet`;
/** Modules the target guest loads (their dependencies come along). */
const MODULES = [
  "virtio_pci",
  "virtio_net",
  "configfs",
  "null_blk",
  "crc32c_generic", // header and data digests ask the crypto API for crc32c
  "nvmet",
  "nvmet_tcp",
];
/** The subsystem the guest exports. */
export const NVMET_NQN = "nqn.2026-12.io.denvme:nvmet";

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

/** What `prepareNvmet()` writes to guest.json. */
export interface NvmetGuest {
  kernel: string;
  initrd: string;
  nqn: string;
}

/** Kernel, modules and initramfs of the target guest; reused when up to date. */
export async function prepareNvmet(
  log: (s: string) => void = (s) => console.log(`[nvmet] ${s}`),
): Promise<NvmetGuest> {
  const debs = `${CACHE}/debs`;
  const kdeb = await fetchDeb(debs, await kernelPackage(), "linux-image-", log);
  const bdeb = await fetchDeb(debs, "busybox-static", "busybox-static", log);
  const kver = kdeb.slice(kdeb.lastIndexOf("/") + 1).replace(/\.deb$/, "");
  const kdir = `${NVMET_DIR}/${kver}`;
  try {
    Deno.statSync(`${kdir}/ready`);
  } catch {
    log(`unpacking ${kver} (modules: ${MODULES.join(" ")})`);
    const tmp = `${CACHE}/unpack-nvmet-${Deno.pid}`;
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
      if (!await extractVmlinux(vmlinuz, `${kdir}/vmlinux`)) {
        Deno.copyFileSync(vmlinuz, `${kdir}/vmlinuz`);
      }
      Deno.writeTextFileSync(`${kdir}/ready`, "");
    } finally {
      try {
        Deno.removeSync(tmp, { recursive: true });
      } catch { /* nothing */ }
    }
  }
  const order = Deno.readTextFileSync(`${kdir}/mods/order`).trim().split("\n");
  let kernel = `${kdir}/vmlinux`;
  try {
    Deno.statSync(kernel);
  } catch {
    kernel = `${kdir}/vmlinuz`;
  }
  const bver = bdeb.slice(bdeb.lastIndexOf("/") + 1).replace(/\.deb$/, "");
  const bdir = `${CACHE}/${bver}`;
  await unpackDeb(bdeb, bdir);

  // the initramfs is small (busybox, a few modules, the init script): rebuilt every time
  const entries: CpioEntry[] = [];
  for (const d of ["bin", "mods", "etc", "proc", "sys", "dev", "tmp"]) {
    entries.push({ path: d, type: "dir" });
  }
  entries.push({
    path: "bin/busybox",
    type: "file",
    mode: 0o755,
    data: Deno.readFileSync(`${bdir}/bin/busybox`),
  });
  for (const m of order) {
    entries.push({
      path: `mods/${m}.ko`,
      type: "file",
      data: Deno.readFileSync(`${kdir}/mods/${m}.ko`),
    });
  }
  entries.push({
    path: "init",
    type: "file",
    mode: 0o755,
    data: Deno.readFileSync(`${ROOT}/tasks/vm/nvmet_init.sh`),
  });
  const env = [
    `MODULES="${order.join(" ")}"`,
    `NQN=${NVMET_NQN}`,
    "MODEL=DENVME-NVMET",
    "SERIAL=DENVMETCP0001",
    "MEM_MB=1024", // namespace 1: memory-backed null_blk, RAM only for what is written
    "FILE_MB=256", // namespace 2: a sparse file in the guest's tmpfs
    "NULL_GB=16", // namespace 3: null_blk without memory
    "",
  ].join("\n");
  entries.push({
    path: "etc/nvmet.env",
    type: "file",
    data: new TextEncoder().encode(env),
  });
  const initrd = `${NVMET_DIR}/initrd.cpio`;
  const tmp = `${initrd}.tmp-${Deno.pid}`;
  const f = Deno.openSync(tmp, { write: true, create: true, truncate: true });
  try {
    writeCpio(entries, (chunk) => {
      let off = 0;
      while (off < chunk.length) off += f.writeSync(chunk.subarray(off));
    });
  } finally {
    f.close();
  }
  Deno.renameSync(tmp, initrd);
  const guest: NvmetGuest = { kernel, initrd, nqn: NVMET_NQN };
  Deno.writeTextFileSync(
    `${NVMET_DIR}/guest.json`,
    JSON.stringify(guest, null, 2) + "\n",
  );
  return guest;
}

if (import.meta.main) {
  try {
    const g = await prepareNvmet();
    console.log(`[nvmet] ready: ${g.kernel} ${g.initrd} (${g.nqn})`);
  } catch (e) {
    if (e instanceof CannotRun) {
      console.log(`[nvmet] cannot prepare the target guest: ${e.message}`);
      Deno.exit(2);
    }
    throw e;
  }
}

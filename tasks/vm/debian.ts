/**
 * What the guest-VM test takes from Debian: the kernel package (a PVH-bootable
 * vmlinux and the modules VFIO, NVMe and ext4 need, with their dependencies)
 * and busybox-static. Downloaded with `apt-get download` into a cache
 * directory and reused by the next run; when apt cannot be reached the cached
 * packages are used, and without them the caller is told why.
 *
 * @module
 */

/** Why the VM test cannot run here (the caller skips it with this reason). */
export class CannotRun extends Error {}

async function sh(
  cmd: string,
  args: string[],
  cwd?: string,
): Promise<{ ok: boolean; out: string; err: string }> {
  try {
    const o = await new Deno.Command(cmd, {
      args,
      cwd,
      stdout: "piped",
      stderr: "piped",
      env: { LC_ALL: "C", DEBIAN_FRONTEND: "noninteractive" },
    }).output();
    const dec = new TextDecoder();
    return {
      ok: o.success,
      out: dec.decode(o.stdout),
      err: dec.decode(o.stderr),
    };
  } catch (e) {
    return { ok: false, out: "", err: (e as Error).message };
  }
}

function cached(dir: string, pkg: string): string | undefined {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name)
      .filter((n) => n.startsWith(`${pkg}_`) && n.endsWith(".deb")).sort()
      .at(-1);
  } catch {
    return undefined;
  }
}

let aptUpdated = false;

/** apt options: no sandbox user for a download into our cache, bounded network waits. */
const APT_BOUNDED = [
  "-o",
  "APT::Sandbox::User=root",
  "-o",
  "Acquire::Retries=1",
  "-o",
  "Acquire::http::Timeout=30",
  "-o",
  "Acquire::https::Timeout=30",
];

/** The package `linux-image-amd64` depends on now, e.g. linux-image-6.1.0-56-amd64. */
export async function kernelPackage(): Promise<string | undefined> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const r = await sh("apt-cache", ["depends", "linux-image-amd64"]);
    const m = /Depends:\s+(linux-image-[0-9][^\s]*-amd64)/.exec(r.out);
    if (m) return m[1];
    if (aptUpdated || Deno.uid() !== 0) break;
    // apt-cache finds nothing before the first `apt-get update` on a fresh machine
    aptUpdated = true;
    await sh("apt-get", ["update", "-qq", ...APT_BOUNDED]);
  }
  return undefined;
}

/**
 * The .deb of `pkg` in `dir`: downloaded when apt has a version the cache
 * lacks, else the newest cached one.
 */
export async function fetchDeb(
  dir: string,
  pkg: string | undefined,
  fallbackPrefix: string,
  log: (s: string) => void,
): Promise<string> {
  Deno.mkdirSync(dir, { recursive: true });
  if (pkg) {
    const ver = await sh("apt-cache", ["policy", pkg]);
    const cand = /Candidate:\s+(\S+)/.exec(ver.out)?.[1];
    // apt-get download names files pkg_version_arch.deb with ':' as %3a
    const want = cand && cand !== "(none)"
      ? `${pkg}_${cand.replace(":", "%3a")}_amd64.deb`
      : undefined;
    if (want) {
      try {
        Deno.statSync(`${dir}/${want}`);
        return `${dir}/${want}`;
      } catch { /* download it */ }
    }
    log(`apt-get download ${pkg}${cand ? ` (${cand})` : ""}`);
    const r = await sh("apt-get", [
      "download",
      "-q",
      ...APT_BOUNDED,
      pkg,
    ], dir);
    if (r.ok) {
      const got = cached(dir, pkg);
      if (got) {
        // drop older versions of the same package
        for (const e of Deno.readDirSync(dir)) {
          if (
            e.name.startsWith(`${pkg}_`) && e.name.endsWith(".deb") &&
            e.name !== got
          ) Deno.removeSync(`${dir}/${e.name}`);
        }
        return `${dir}/${got}`;
      }
    } else {
      log(`apt-get download ${pkg} failed: ${r.err.trim().split("\n").at(-1)}`);
    }
  }
  const old = cached(dir, pkg ?? fallbackPrefix) ??
    (() => {
      try {
        return [...Deno.readDirSync(dir)].map((e) => e.name)
          .filter((n) => n.startsWith(fallbackPrefix) && n.endsWith(".deb"))
          .sort().at(-1);
      } catch {
        return undefined;
      }
    })();
  if (old) {
    log(`using the cached ${old}`);
    return `${dir}/${old}`;
  }
  throw new CannotRun(
    `cannot get Debian's ${
      pkg ?? fallbackPrefix
    } package: apt is unreachable (or has no package lists) and nothing is cached in ${dir}`,
  );
}

/** Unpack a .deb into `dest` (once: an existing `dest` is reused). */
export async function unpackDeb(deb: string, dest: string): Promise<void> {
  try {
    Deno.statSync(`${dest}/.unpacked`);
    return;
  } catch { /* not yet */ }
  const tmp = `${dest}.tmp-${Deno.pid}`;
  Deno.mkdirSync(tmp, { recursive: true });
  const r = await sh("dpkg-deb", ["-x", deb, tmp]);
  if (!r.ok) {
    Deno.removeSync(tmp, { recursive: true });
    throw new CannotRun(`dpkg-deb -x ${deb} failed: ${r.err.trim()}`);
  }
  Deno.writeTextFileSync(`${tmp}/.unpacked`, "");
  try {
    Deno.removeSync(dest, { recursive: true });
  } catch { /* absent */ }
  Deno.renameSync(tmp, dest);
}

/** The value of `depends=` in a module's .modinfo section: module names. */
export function moduleDepends(ko: Uint8Array): string[] {
  const key = new TextEncoder().encode("depends=");
  outer: for (let i = 0; i + key.length < ko.length; i++) {
    if (ko[i] !== key[0] || (i > 0 && ko[i - 1] !== 0)) continue;
    for (let k = 1; k < key.length; k++) {
      if (ko[i + k] !== key[k]) continue outer;
    }
    let end = i + key.length;
    while (end < ko.length && ko[end] !== 0) end++;
    const v = new TextDecoder().decode(ko.subarray(i + key.length, end));
    return v.split(",").filter((s) => s.length).map(moduleName);
  }
  return [];
}

/** Module names compare with '-' and '_' alike. */
export function moduleName(s: string): string {
  return s.replace(/\.ko(\.[a-z]+)?$/, "").replaceAll("-", "_");
}

/**
 * The modules to load for `wanted`, dependencies first.
 * @param files module name -> path of its .ko
 * @param depsOf reads the dependencies of one module
 */
export function loadOrder(
  wanted: string[],
  files: Map<string, string>,
  depsOf: (path: string) => string[],
): string[] {
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (m: string) => {
    const name = moduleName(m);
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") {
      throw new Error(`module dependency loop at ${name}`);
    }
    const path = files.get(name);
    if (!path) throw new Error(`module ${name} is not in the kernel package`);
    state.set(name, "visiting");
    for (const d of depsOf(path)) visit(d);
    state.set(name, "done");
    order.push(name);
  };
  for (const w of wanted) visit(w);
  return order;
}

/**
 * The compressed kernel inside a bzImage: the setup header says where
 * (payload_offset/payload_length, boot protocol 2.08+), the magic which
 * compressor.
 */
export function bzImagePayload(
  bz: Uint8Array,
): { data: Uint8Array; format: "xz" | "gzip" | "zstd" | "lzma" | "unknown" } {
  const dv = new DataView(bz.buffer, bz.byteOffset, bz.byteLength);
  if (bz.length < 0x250 || dv.getUint32(0x202, true) !== 0x53726448) {
    throw new Error("not a bzImage (no HdrS signature)");
  }
  const setupSects = bz[0x1f1] || 4;
  const start = (setupSects + 1) * 512 + dv.getUint32(0x248, true);
  const data = bz.subarray(start, start + dv.getUint32(0x24c, true));
  const m = (...b: number[]) => b.every((x, i) => data[i] === x);
  const format = m(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)
    ? "xz"
    : m(0x1f, 0x8b)
    ? "gzip"
    : m(0x28, 0xb5, 0x2f, 0xfd)
    ? "zstd"
    : m(0x5d, 0x00, 0x00)
    ? "lzma"
    : "unknown";
  return { data, format };
}

/**
 * vmlinux (an ELF that QEMU boots directly through its PVH note, skipping the
 * decompressor) from a bzImage, or undefined when this host cannot unpack it.
 */
export async function extractVmlinux(
  bzPath: string,
  out: string,
): Promise<boolean> {
  const { data, format } = bzImagePayload(Deno.readFileSync(bzPath));
  const tool = { xz: "xz", lzma: "xz", gzip: "gzip", zstd: "zstd" }[
    format as string
  ];
  if (!tool) return false;
  try {
    const p = new Deno.Command(tool, {
      args: ["-dc"],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const w = p.stdin.getWriter();
    const writing = w.write(data).then(() => w.close()).catch(() => {});
    const o = await p.output();
    await writing;
    const elf = o.stdout;
    if (elf.length < 4 || elf[0] !== 0x7f || elf[1] !== 0x45) return false;
    Deno.writeFileSync(out, elf);
    return true;
  } catch {
    return false;
  }
}

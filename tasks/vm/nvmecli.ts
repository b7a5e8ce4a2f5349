/**
 * Debian's nvme-cli for the guest-VM test: the reference that denvme's
 * decoders are cross-checked against (tests/nvmecli_crosscheck_test.ts).
 *
 * The packages `nvme-cli`, `libnvme1` and `libjson-c5` are fetched with
 * `apt-get download` into the same cache as the kernel and busybox, unpacked,
 * and `ldd` (with the unpacked libraries first on the search path) names every
 * shared library the binary needs; the ones the packages do not ship (glibc,
 * zlib, libssl, libdbus, ...) come from this host, as deno's do. When the
 * packages cannot be had, the caller gets the reason and the guest skips the
 * cross-check saying why.
 *
 * @module
 */
import { CannotRun, fetchDeb, unpackDeb } from "./debian.ts";

/** The packages the guest's nvme-cli comes from (the rest are host libraries). */
export const NVMECLI_PACKAGES = ["nvme-cli", "libnvme1", "libjson-c5"];

/** nvme-cli and its shared libraries, by their paths in the guest and here. */
export interface NvmeCliParts {
  /** The nvme binary on this host (unpacked from the package). */
  binary: string;
  /** Shared libraries: path in the guest (no leading slash) and on this host. */
  libs: { guest: string; host: string }[];
  /** The package versions, for the log. */
  versions: string[];
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
 * Parse `ldd` output: library name -> resolved path (undefined when "not
 * found"); the vDSO is left out.
 */
export function parseLdd(text: string): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^(\S+)\s+=>\s+not found/.exec(line))) out.set(m[1], undefined);
    else if ((m = /^(\S+)\s+=>\s+(\/\S+)\s+\(/.exec(line))) out.set(m[1], m[2]);
    else if ((m = /^(\/\S+)\s+\(/.exec(line))) out.set(m[1], m[1]);
  }
  return out;
}

/**
 * Fetch, unpack and resolve nvme-cli for the guest.
 * @throws CannotRun with the reason when a package or a library is missing
 */
export async function prepareNvmeCli(
  cache: string,
  log: (s: string) => void,
): Promise<NvmeCliParts> {
  const debs = `${cache}/debs`;
  const dirs: string[] = [];
  const versions: string[] = [];
  for (const pkg of NVMECLI_PACKAGES) {
    const deb = await fetchDeb(debs, pkg, `${pkg}_`, log);
    const ver = deb.slice(deb.lastIndexOf("/") + 1).replace(/\.deb$/, "");
    versions.push(ver);
    const dir = `${cache}/${ver}`;
    await unpackDeb(deb, dir);
    dirs.push(dir);
  }
  const binary = `${dirs[0]}/usr/sbin/nvme`;
  try {
    Deno.statSync(binary);
  } catch {
    throw new CannotRun(`the nvme-cli package holds no usr/sbin/nvme`);
  }
  // the packages' libraries: name -> unpacked path
  const shipped = new Map<string, string>();
  for (const d of dirs) {
    for (const p of walk(d)) {
      const name = p.slice(p.lastIndexOf("/") + 1);
      if (/\.so(\.\d+)*$/.test(name) && /\/lib\//.test(p)) {
        shipped.set(name, p);
      }
    }
  }
  const libDirs = [
    ...new Set(
      [...shipped.values()].map((p) => p.slice(0, p.lastIndexOf("/"))),
    ),
  ];
  let o;
  try {
    o = await new Deno.Command("ldd", {
      args: [binary],
      env: { LD_LIBRARY_PATH: libDirs.join(":"), LC_ALL: "C" },
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    throw new CannotRun(`ldd ${binary}: ${(e as Error).message}`);
  }
  const found = parseLdd(new TextDecoder().decode(o.stdout));
  if (!o.success || !found.size) {
    throw new CannotRun(
      `ldd ${binary} failed: ${new TextDecoder().decode(o.stderr).trim()}`,
    );
  }
  const missing = [...found].filter(([, p]) => !p).map(([n]) => n);
  if (missing.length) {
    throw new CannotRun(
      `nvme-cli needs ${
        missing.join(", ")
      }, which neither its packages nor this host have`,
    );
  }
  const libs: { guest: string; host: string }[] = [];
  for (const [name, path] of found) {
    const base = name.slice(name.lastIndexOf("/") + 1);
    const own = shipped.get(base);
    if (own && path!.startsWith(cache)) {
      // unpacked from a package: into the guest's multiarch library directory
      libs.push({
        guest: `lib/x86_64-linux-gnu/${base}`,
        host: Deno.realPathSync(own),
      });
    } else {
      libs.push({
        guest: path!.replace(/^\//, ""),
        host: Deno.realPathSync(path!),
      });
    }
  }
  return { binary, libs, versions };
}

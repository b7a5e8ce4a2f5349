/**
 * Is a block device in use? The kernel's own answer first: an exclusive open
 * (O_EXCL without O_CREAT) of a block device fails with EBUSY while anything
 * in the kernel claims it — a mounted filesystem in any mount namespace, a
 * ZFS pool member, every device of a mounted multi-device btrfs, an md/dm/LVM
 * member, swap. Then what the kernel does not claim: processes that hold the
 * device node open, mounts in other mount namespaces, and btrfs member lists
 * (named, so the message says what uses the device).
 *
 * @module
 */

/** A block device to check: kernel name and "major:minor". */
export interface BlockRef {
  /** Kernel name, e.g. "nvme0n1p2". */
  name: string;
  /** "major:minor". */
  majmin: string;
}

const O_RDONLY = 0, O_EXCL = 0o200, O_CLOEXEC = 0o2000000;
const EBUSY = 16;

let libc:
  | Deno.DynamicLibrary<{
    open: { parameters: ["buffer", "i32"]; result: "i32" };
    close: { parameters: ["i32"]; result: "i32" };
    __errno_location: { parameters: []; result: "pointer" };
  }>
  | null
  | undefined;

function loadLibc(): typeof libc {
  if (libc !== undefined) return libc;
  try {
    libc = Deno.dlopen("libc.so.6", {
      open: { parameters: ["buffer", "i32"], result: "i32" },
      close: { parameters: ["i32"], result: "i32" },
      __errno_location: { parameters: [], result: "pointer" },
    });
  } catch {
    libc = null; // no FFI permission or no glibc: the other checks remain
  }
  return libc;
}

/**
 * Try an exclusive open of `/dev/<name>`: "busy" when the kernel refuses it
 * (EBUSY: claimed), "free" when it succeeds, "unknown" when the node cannot
 * be opened at all (no permission, no node) or FFI is not available.
 */
export function exclusiveOpen(devPath: string): "busy" | "free" | "unknown" {
  const c = loadLibc();
  if (!c) return "unknown";
  const path = new TextEncoder().encode(devPath + "\0");
  const fd = c.symbols.open(path, O_RDONLY | O_EXCL | O_CLOEXEC);
  if (fd >= 0) {
    c.symbols.close(fd);
    return "free";
  }
  const ep = c.symbols.__errno_location();
  const errno = ep ? new Deno.UnsafePointerView(ep).getInt32() : 0;
  return errno === EBUSY ? "busy" : "unknown";
}

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return undefined;
  }
}

function dirNames(path: string): string[] {
  try {
    return [...Deno.readDirSync(path)].map((e) => e.name);
  } catch {
    return [];
  }
}

function pids(): string[] {
  return dirNames("/proc").filter((n) =>
    /^\d+$/.test(n) && Number(n) !== Deno.pid
  );
}

/** "major:minor" of a dev_t as stat() reports it. */
function majMin(rdev: number): string {
  const d = BigInt(rdev);
  const major = Number((d >> 8n & 0xfffn) | (d >> 32n & ~0xfffn));
  const minor = Number((d & 0xffn) | (d >> 12n & ~0xffn));
  return `${major}:${minor}`;
}

/** Processes (other than this one) with one of the devices open: majmin -> ["pid 12 (fio)"]. */
export function openersOf(majmins: Set<string>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (!majmins.size) return out;
  for (const pid of pids()) {
    for (const fd of dirNames(`/proc/${pid}/fd`)) {
      let st: Deno.FileInfo;
      try {
        st = Deno.statSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (!st.isBlockDevice || st.rdev === null) continue;
      const mm = majMin(st.rdev);
      if (!majmins.has(mm)) continue;
      const comm = readText(`/proc/${pid}/comm`) ?? "?";
      const who = `pid ${pid} (${comm})`;
      const list = out.get(mm) ?? [];
      if (!list.includes(who)) list.push(who);
      out.set(mm, list);
    }
  }
  return out;
}

/** One mount seen in some mount namespace. */
export interface NsMount {
  /** "major:minor" of the mounted device. */
  majmin: string;
  /** The mount source (e.g. /dev/nvme0n1p1). */
  source: string;
  /** Mount point inside its namespace. */
  mountPoint: string;
  /** Filesystem type. */
  fstype: string;
  /** A pid of that namespace, when it is not this process's. */
  nsPid?: string;
}

/** The mounts of every mount namespace on the host (one reader per namespace). */
export function mountsOfAllNamespaces(): NsMount[] {
  const seen = new Set<string>();
  const out: NsMount[] = [];
  let own = "";
  try {
    own = Deno.readLinkSync("/proc/self/ns/mnt");
  } catch { /* no namespaces */ }
  seen.add(own);
  for (const pid of pids()) {
    let ns: string;
    try {
      ns = Deno.readLinkSync(`/proc/${pid}/ns/mnt`);
    } catch {
      continue;
    }
    if (seen.has(ns)) continue;
    seen.add(ns);
    for (const line of (readText(`/proc/${pid}/mountinfo`) ?? "").split("\n")) {
      const f = line.split(" ");
      const dash = f.indexOf("-");
      if (dash < 6) continue;
      out.push({
        majmin: f[2],
        mountPoint: f[4],
        fstype: f[dash + 1],
        source: f[dash + 2],
        nsPid: pid,
      });
    }
  }
  return out;
}

/** Kernel names of block devices that belong to a btrfs filesystem known to the kernel. */
export function btrfsMembers(): Map<string, string> {
  const out = new Map<string, string>();
  for (const fs of dirNames("/sys/fs/btrfs")) {
    for (const dev of dirNames(`/sys/fs/btrfs/${fs}/devices`)) {
      out.set(dev, fs);
    }
  }
  return out;
}

/**
 * Why these block devices are in use beyond what mounts in this namespace,
 * swap and sysfs holders say: the kernel refusing an exclusive open, processes
 * holding a node open, mounts in other namespaces, btrfs membership.
 */
export function inUseReasons(nodes: BlockRef[]): string[] {
  const reasons: string[] = [];
  const byMm = new Map(nodes.map((n) => [n.majmin, n]));
  const btrfs = btrfsMembers();
  for (const n of nodes) {
    if (btrfs.has(n.name)) {
      reasons.push(
        `${n.name} is a device of the btrfs filesystem ${btrfs.get(n.name)}`,
      );
    }
    if (exclusiveOpen(`/dev/${n.name}`) === "busy") {
      reasons.push(
        `${n.name} is claimed by the kernel (an exclusive open fails: mounted, a ZFS pool or btrfs member, RAID/LVM, or swap)`,
      );
    }
  }
  for (const [mm, who] of openersOf(new Set(byMm.keys()))) {
    reasons.push(`${byMm.get(mm)!.name} is open in ${who.join(", ")}`);
  }
  for (const m of mountsOfAllNamespaces()) {
    const n = byMm.get(m.majmin);
    if (n) {
      reasons.push(
        `${n.name} is mounted at ${m.mountPoint} (${m.fstype}) in the mount namespace of pid ${m.nsPid}`,
      );
    }
  }
  return reasons;
}

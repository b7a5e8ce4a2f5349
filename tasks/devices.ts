/**
 * NVMe devices of this host, read from sysfs and procfs: what they are, which
 * driver has them, and whether handing one to vfio-pci would pull a disk out
 * from under the running system (a mounted filesystem, swap, the root
 * filesystem, a device-mapper/RAID volume built on it). Used by
 * `deno task setup` / `deno task release`.
 *
 * @module
 */
import { inUseReasons } from "./inuse.ts";

/** One line of /proc/self/mountinfo. */
export interface Mount {
  /** "major:minor" of the filesystem's device (0:N for btrfs, tmpfs, ...). */
  majmin: string;
  /** Where it is mounted. */
  mountPoint: string;
  /** Filesystem type. */
  fstype: string;
  /** Mount source, e.g. "/dev/nvme0n1p2". */
  source: string;
}

/** Undo the octal escapes (\040 for a space) of mountinfo and /proc/swaps. */
export function unescapeOctal(s: string): string {
  return s.replace(
    /\\([0-7]{3})/g,
    (_, o: string) => String.fromCharCode(parseInt(o, 8)),
  );
}

/**
 * Parse /proc/self/mountinfo: "id parent maj:min root mountpoint options
 * [optional fields...] - fstype source superoptions". Malformed lines are
 * skipped.
 */
export function parseMountinfo(text: string): Mount[] {
  const out: Mount[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(" ");
    const sep = f.indexOf("-", 6);
    if (f.length < 10 || sep < 0 || sep + 2 >= f.length) continue;
    if (!/^\d+:\d+$/.test(f[2])) continue;
    out.push({
      majmin: f[2],
      mountPoint: unescapeOctal(f[4]),
      fstype: f[sep + 1],
      source: unescapeOctal(f[sep + 2]),
    });
  }
  return out;
}

/** Parse /proc/swaps: the swap files and devices in use (first column). */
export function parseSwaps(text: string): string[] {
  return text.split("\n").slice(1).map((l) => l.trim()).filter((l) => l.length)
    .map((l) => unescapeOctal(l.split(/\s+/)[0]));
}

/** "major:minor" of a Linux dev_t as stat() reports it. */
export function devMajMin(rdev: number): string {
  const major = Number(
    (BigInt(rdev) >> 8n & 0xfffn) | (BigInt(rdev) >> 32n & ~0xfffn),
  );
  const minor = Number(
    (BigInt(rdev) & 0xffn) | (BigInt(rdev) >> 12n & ~0xffn),
  );
  return `${major}:${minor}`;
}

/** Canonical "dddd:bb:dd.f" of "0000:01:00.0" or "01:00.0"; undefined if not a PCI address. */
export function canonicalBdf(s: string): string | undefined {
  const m = /^(?:([0-9a-f]{4}):)?([0-9a-f]{2}):([01][0-9a-f])\.([0-7])$/i
    .exec(s.trim());
  return m
    ? `${m[1] ?? "0000"}:${m[2]}:${m[3]}.${m[4]}`.toLowerCase()
    : undefined;
}

/** Human-readable size, binary units. */
export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = bytes, u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 100 || u === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

/** What this host says about one NVMe controller. */
export interface NvmeDevice {
  /** PCI address. */
  bdf: string;
  /** "vvvv:dddd" PCI vendor and device id. */
  id: string;
  /** Kernel driver bound now ("" for none). */
  driver: string;
  /** IOMMU group number, undefined when the IOMMU is off. */
  iommuGroup?: number;
  /** Model number, known while the kernel nvme driver has it. */
  model?: string;
  /** Serial number, known while the kernel nvme driver has it. */
  serial?: string;
  /** Total size of its namespaces in bytes (known while nvme has it). */
  size?: number;
  /** Block devices of its namespaces and partitions ("nvme0n1", "nvme0n1p1"). */
  blockDevices: string[];
  /** Why it must not be taken (empty: safe). */
  blockers: string[];
}

const PCI = "/sys/bus/pci/devices";

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return undefined;
  }
}

function linkBase(path: string): string {
  try {
    const t = Deno.readLinkSync(path);
    return t.slice(t.lastIndexOf("/") + 1);
  } catch {
    return "";
  }
}

function dirNames(path: string): string[] {
  try {
    return [...Deno.readDirSync(path)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** Disks (namespaces) of the controller at `bdf` while the nvme driver has it. */
function namespaceDisks(bdf: string): { ctrl?: string; disks: string[] } {
  const ctrl = dirNames(`${PCI}/${bdf}/nvme`).find((n) => /^nvme\d+$/.test(n));
  if (!ctrl) return { disks: [] };
  const disks = new Set<string>();
  for (const n of dirNames(`${PCI}/${bdf}/nvme/${ctrl}`)) {
    // nvme0n1 directly, or a multipath path device nvme0c0n1 of disk nvme0n1
    const direct = /^nvme\d+n\d+$/.exec(n);
    const path = /^nvme(\d+)c\d+n(\d+)$/.exec(n);
    if (direct) disks.add(n);
    else if (path) disks.add(`nvme${path[1]}n${path[2]}`);
  }
  return { ctrl, disks: [...disks].sort() };
}

interface BlockNode {
  name: string;
  majmin: string;
  via?: string; // the disk/partition it is stacked on (holders)
}

/** A disk, its partitions, and every device stacked on them (dm, md), transitively. */
function blockTree(disk: string): BlockNode[] {
  const out: BlockNode[] = [];
  const seen = new Set<string>();
  const add = (name: string, sysPath: string, via?: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const majmin = readText(`${sysPath}/dev`);
    if (!majmin) return;
    out.push({ name, majmin, via });
    for (const h of dirNames(`${sysPath}/holders`)) {
      add(h, `/sys/class/block/${h}`, name);
    }
  };
  add(disk, `/sys/class/block/${disk}`);
  for (const p of dirNames(`/sys/class/block/${disk}`)) {
    if (
      p.startsWith(disk) && readText(`/sys/class/block/${disk}/${p}/partition`)
    ) {
      add(p, `/sys/class/block/${disk}/${p}`, disk);
    }
  }
  return out;
}

function statMajMin(path: string): string | undefined {
  try {
    const st = Deno.statSync(path);
    return st.isBlockDevice && st.rdev !== null
      ? devMajMin(st.rdev)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why the block devices of a controller must not be taken from the kernel:
 * mounted filesystems (the root filesystem named as such), swap, and
 * device-mapper/RAID volumes built on them.
 */
function blockersOf(
  nodes: BlockNode[],
  mounts: Mount[],
  swaps: string[],
): string[] {
  const reasons: string[] = [];
  const byDev = new Map(nodes.map((n) => [n.majmin, n]));
  const nodeOf = (m: Mount): BlockNode | undefined =>
    byDev.get(m.majmin) ??
      (m.source.startsWith("/dev/")
        ? byDev.get(statMajMin(m.source) ?? "")
        : undefined);
  for (const m of mounts) {
    const n = nodeOf(m);
    if (!n) continue;
    reasons.push(
      m.mountPoint === "/"
        ? `it holds the root filesystem (/ on ${n.name})`
        : `${n.name} is mounted at ${m.mountPoint} (${m.fstype})`,
    );
  }
  for (const s of swaps) {
    const mm = statMajMin(s);
    const n = mm ? byDev.get(mm) : undefined;
    if (n) reasons.push(`${n.name} is in use as swap (${s})`);
  }
  for (const n of nodes) {
    if (n.via && !n.name.startsWith(n.via)) {
      reasons.push(
        `${n.name} (device-mapper/RAID) is built on ${n.via}`,
      );
    }
  }
  return [...new Set(reasons)];
}

/** Everything this host says about the NVMe controller at `bdf`. */
export function inspect(bdf: string): NvmeDevice {
  const dir = `${PCI}/${bdf}`;
  const vendor = (readText(`${dir}/vendor`) ?? "0x????").slice(2);
  const device = (readText(`${dir}/device`) ?? "0x????").slice(2);
  const group = linkBase(`${dir}/iommu_group`);
  const { ctrl, disks } = namespaceDisks(bdf);
  const nodes = disks.flatMap(blockTree);
  const dev: NvmeDevice = {
    bdf,
    id: `${vendor}:${device}`,
    driver: linkBase(`${dir}/driver`),
    iommuGroup: group ? Number(group) : undefined,
    blockDevices: nodes.filter((n) => n.name.startsWith("nvme")).map((n) =>
      n.name
    ),
    blockers: [],
  };
  if (ctrl) {
    dev.model = readText(`${dir}/nvme/${ctrl}/model`);
    dev.serial = readText(`${dir}/nvme/${ctrl}/serial`);
    dev.size = disks.reduce(
      (s, d) => s + Number(readText(`/sys/class/block/${d}/size`) ?? 0) * 512,
      0,
    );
  }
  const mounts = parseMountinfo(readText("/proc/self/mountinfo") ?? "");
  const swaps = parseSwaps(readText("/proc/swaps") ?? "");
  dev.blockers = [
    ...new Set([...blockersOf(nodes, mounts, swaps), ...inUseReasons(nodes)]),
  ];
  return dev;
}

/** PCI addresses of every NVMe controller (class 01:08:02) on this host. */
export function nvmeAddresses(): string[] {
  return dirNames(PCI).filter((b) =>
    (readText(`${PCI}/${b}/class`) ?? "").startsWith("0x010802")
  );
}

/** Every NVMe controller of this host. */
export function listNvme(): NvmeDevice[] {
  return nvmeAddresses().map(inspect);
}

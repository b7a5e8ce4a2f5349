/**
 * The pure parts of the real-hardware tooling: the setup task's parsers
 * (mountinfo, /proc/swaps, dev_t, PCI addresses) and the guest-VM test's
 * builders (newc cpio writer, module dependencies and load order, the
 * bzImage payload, ldd output). The device-facing parts (listing, refusal, binding) are
 * tested for real inside the guest by `deno task test:vfio`.
 */
import assert from "node:assert/strict";
import {
  canonicalBdf,
  devMajMin,
  formatSize,
  parseMountinfo,
  parseSwaps,
  unescapeOctal,
} from "../tasks/devices.ts";
import { readCpio, writeCpio } from "../tasks/vm/cpio.ts";
import {
  bzImagePayload,
  loadOrder,
  moduleDepends,
  moduleName,
} from "../tasks/vm/debian.ts";
import { parseLdd } from "../tasks/vm/nvmecli.ts";

Deno.test("mountinfo: devices, mount points with escapes, optional fields", () => {
  const text = [
    "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw",
    "25 22 259:1 / /boot/efi rw,relatime shared:5 master:2 - vfat /dev/nvme0n1p1 rw",
    "26 22 0:23 / /my\\040disk rw - btrfs /dev/mapper/vg-home rw,space_cache",
    "27 22 0:5 / /dev rw,nosuid shared:2 - devtmpfs udev rw",
    "garbage line",
    "",
  ].join("\n");
  assert.deepEqual(parseMountinfo(text), [
    {
      majmin: "259:2",
      mountPoint: "/",
      fstype: "ext4",
      source: "/dev/nvme0n1p2",
    },
    {
      majmin: "259:1",
      mountPoint: "/boot/efi",
      fstype: "vfat",
      source: "/dev/nvme0n1p1",
    },
    {
      majmin: "0:23",
      mountPoint: "/my disk",
      fstype: "btrfs",
      source: "/dev/mapper/vg-home",
    },
    { majmin: "0:5", mountPoint: "/dev", fstype: "devtmpfs", source: "udev" },
  ]);
});

Deno.test("/proc/swaps, octal escapes, dev_t, sizes, PCI addresses", () => {
  const swaps = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n" +
    "/dev/nvme0n1p3                          partition\t8388604\t\t0\t\t-2\n" +
    "/swap\\040file                           file\t\t1048572\t\t0\t\t-3\n";
  assert.deepEqual(parseSwaps(swaps), ["/dev/nvme0n1p3", "/swap file"]);
  assert.deepEqual(parseSwaps("Filename Type Size Used Priority\n"), []);
  assert.equal(unescapeOctal("a\\011b\\134c"), "a\tb\\c");
  // Linux dev_t: 12-bit major split around the minor's low byte
  assert.equal(devMajMin(259 << 8 | 3), "259:3");
  assert.equal(devMajMin(8 << 8 | 17), "8:17");
  // minor 0x12345: its low byte in bits 0-7, the rest from bit 20 up
  assert.equal(devMajMin((259 << 8) | 0x45 | (0x12300 * 4096)), "259:74565");
  assert.equal(formatSize(512), "512 B");
  assert.equal(formatSize(1024 ** 3), "1.0 GiB");
  assert.equal(formatSize(2 * 1024 ** 4 - 1), "2.0 TiB");
  assert.equal(formatSize(640 * 1024 ** 2), "640 MiB");
  assert.equal(canonicalBdf("01:00.0"), "0000:01:00.0");
  assert.equal(canonicalBdf("0000:AF:1f.7"), "0000:af:1f.7");
  assert.equal(canonicalBdf("01:20.0"), undefined);
  assert.equal(canonicalBdf("0000:01:00.8"), undefined);
  assert.equal(canonicalBdf("qemu"), undefined);
});

Deno.test("cpio: newc members round-trip, 4-byte alignment, trailer", () => {
  const chunks: Uint8Array[] = [];
  const data = new TextEncoder().encode("#!/bin/sh\necho hi\n");
  writeCpio([
    { path: "bin", type: "dir" },
    { path: "/bin/tool", type: "file", mode: 0o755, data },
    { path: "bin/sh", type: "symlink", target: "tool" },
    { path: "empty", type: "file", data: new Uint8Array(0) },
  ], (c) => chunks.push(c.slice()));
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  assert.equal(all.length % 4, 0, "the archive keeps 4-byte alignment");
  const members = readCpio(all);
  assert.deepEqual(members.map((m) => m.path), [
    "bin",
    "bin/tool",
    "bin/sh",
    "empty",
  ]);
  assert.equal(members[0].mode, 0o040755);
  assert.equal(members[1].mode, 0o100755);
  assert.deepEqual(members[1].data, data);
  assert.equal(members[2].mode & 0o170000, 0o120000);
  assert.equal(new TextDecoder().decode(members[2].data), "tool");
  assert.equal(members[3].data.length, 0);
});

Deno.test("kernel modules: depends= from .modinfo, load order, names", () => {
  const enc = new TextEncoder();
  const ko = (deps: string) =>
    enc.encode(
      `\x7fELF junk\0license=GPL\0depends=${deps}\0name=x\0vermagic=6.1\0`,
    );
  assert.deepEqual(moduleDepends(ko("vfio,vfio_virqfd,irqbypass")), [
    "vfio",
    "vfio_virqfd",
    "irqbypass",
  ]);
  assert.deepEqual(moduleDepends(ko("")), []);
  assert.deepEqual(moduleDepends(enc.encode("no modinfo here")), []);
  // a "depends=" inside another string is not the field
  assert.deepEqual(moduleDepends(enc.encode("\0xdepends=a\0")), []);
  assert.equal(moduleName("vfio-pci-core.ko"), "vfio_pci_core");
  assert.equal(moduleName("nvme-core"), "nvme_core");

  const deps: Record<string, string[]> = {
    vfio_pci: ["vfio_pci_core"],
    vfio_pci_core: ["vfio", "vfio_virqfd", "irqbypass"],
    vfio_virqfd: [],
    vfio: [],
    irqbypass: [],
    vfio_iommu_type1: ["vfio"],
    loop_a: ["loop_b"],
    loop_b: ["loop_a"],
  };
  const files = new Map(Object.keys(deps).map((m) => [m, m]));
  const order = loadOrder(
    ["vfio_pci", "vfio-iommu-type1"],
    files,
    (p) => deps[p],
  );
  assert.deepEqual(order, [
    "vfio",
    "vfio_virqfd",
    "irqbypass",
    "vfio_pci_core",
    "vfio_pci",
    "vfio_iommu_type1",
  ]);
  assert.throws(
    () => loadOrder(["missing"], files, (p) => deps[p]),
    /not in the kernel package/,
  );
  assert.throws(
    () => loadOrder(["loop_a"], files, (p) => deps[p]),
    /dependency loop/,
  );
});

Deno.test("bzImage: the compressed payload from the setup header", () => {
  const bz = new Uint8Array(8192);
  const dv = new DataView(bz.buffer);
  bz[0x1f1] = 3; // setup sectors: the protected-mode part starts at 4 * 512
  dv.setUint32(0x202, 0x53726448, true); // "HdrS"
  dv.setUint32(0x248, 0x100, true); // payload_offset
  dv.setUint32(0x24c, 6, true); // payload_length
  bz.set([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], 4 * 512 + 0x100);
  const p = bzImagePayload(bz);
  assert.equal(p.format, "xz");
  assert.equal(p.data.length, 6);
  bz.set([0x1f, 0x8b, 0, 0, 0, 0], 4 * 512 + 0x100);
  assert.equal(bzImagePayload(bz).format, "gzip");
  assert.throws(() => bzImagePayload(new Uint8Array(4096)), /not a bzImage/);
});

Deno.test("ldd output: resolved, not found, the loader, no vDSO", () => {
  const found = parseLdd([
    "\tlinux-vdso.so.1 (0x00007ffd)",
    "\tlibnvme.so.1 => /x/usr/lib/x86_64-linux-gnu/libnvme.so.1 (0x00007f53)",
    "\tlibjson-c.so.5 => not found",
    "\t/lib64/ld-linux-x86-64.so.2 (0x00007f53)",
  ].join("\n"));
  assert.deepEqual([...found], [
    ["libnvme.so.1", "/x/usr/lib/x86_64-linux-gnu/libnvme.so.1"],
    ["libjson-c.so.5", undefined],
    ["/lib64/ld-linux-x86-64.so.2", "/lib64/ld-linux-x86-64.so.2"],
  ]);
});

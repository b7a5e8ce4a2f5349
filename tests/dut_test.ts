/**
 * Device names: parsing, defaults, the QEMU command line they produce.
 */
import assert from "node:assert/strict";
import { defaultDut, parseDut } from "../mod.ts";
import { qemuCommandLine } from "../ffi/dut.ts";

Deno.test("qemu device names and options", () => {
  const d = parseDut("qemu");
  assert.equal(d.kind, "qemu");
  if (d.kind !== "qemu") return;
  assert.equal(d.options.size, 4 * 2 ** 30);
  assert.equal(d.options.lba, 512);
  const e = parseDut(
    "qemu:size=16T,lba=4096,ns=2,mdts=5,queues=8,serial=AB12,throttle=100,image=/var/tmp/x.img",
  );
  assert.equal(e.kind, "qemu");
  if (e.kind !== "qemu") return;
  assert.deepEqual(
    { ...e.options },
    {
      size: 16 * 2 ** 40,
      lba: 4096,
      lbas: [4096],
      ms: [0],
      ns: 2,
      backend: "file",
      mdts: 5,
      queues: 8,
      serial: "AB12",
      throttle: 100,
      image: "/var/tmp/x.img",
    },
  );
  const cl = qemuCommandLine(e.options);
  assert.deepEqual(cl.images, [
    `/var/tmp/x.img|${16 * 2 ** 40}`,
    `/var/tmp/x.img.ns2|${16 * 2 ** 40}`,
  ]);
  assert.ok(cl.args.includes(
    "nvme,id=nvme0,serial=AB12,addr=04.0,mdts=5,max_ioqpairs=8,msix_qsize=9",
  ));
  assert.ok(cl.args.some((a) => a.includes("throttling.iops-total=100")));
  const n = parseDut("qemu:backend=null");
  assert.ok(
    n.kind === "qemu" && qemuCommandLine(n.options).images.length === 0,
  );
});

Deno.test("PCI addresses", () => {
  assert.deepEqual(parseDut("01:00.0"), {
    kind: "pci",
    name: "01:00.0",
    bdf: "0000:01:00.0",
    options: {},
  });
  for (const m of ["slot", "s3", "cmd", "auto"]) {
    const d = parseDut(`0000:01:00.0,power=${m}`);
    assert.ok(
      d.kind === "pci" && d.options.power === m && d.bdf === "0000:01:00.0",
    );
  }
  assert.equal(
    (parseDut("0000:AF:1f.7") as { bdf: string }).bdf,
    "0000:af:1f.7",
  );
});

Deno.test("bad device names say what is allowed", () => {
  const cases: [string, RegExp][] = [
    ["", /empty device name: use "qemu"/],
    ["nvme0", /bad device name "nvme0": use "qemu"/],
    ["qemu:size=12Q", /size=12Q: expected a size like 512M/],
    ["qemu:lba=520", /lba=520: allowed 512 or 4096/],
    ["01:00.0,power=relay", /power=relay: allowed slot, s3, cmd or auto/],
    ["01:00.0,power=", /power=: allowed slot, s3, cmd or auto/],
    [
      "01:00.0,size=4G",
      /unknown device option "size=4G" .*power=slot\|s3\|cmd\|auto/,
    ],
    ["01:00.0,", /unknown device option ""/],
    ["qemu:ns=0", /ns=0: allowed 1\.\.32/],
    ["qemu:backend=ram", /backend=ram: allowed file or null/],
    ["qemu:image=rel.img", /give an absolute path/],
    ["qemu:speed=1", /unknown device option "speed"/],
    ["qemu:size", /must be key=value/],
    ["qemu:size=1000", /allowed 1M\.\.1024T/],
    ["qemu:backend=null,image=/tmp/a", /exclude each other/],
    ["qemu:size=1000001K,lba=4096", /not a multiple of lba=4096/],
  ];
  for (const [name, re] of cases) assert.throws(() => parseDut(name), re, name);
});

Deno.test("--dut and NVME_DUT choose the device", () => {
  assert.equal(defaultDut(["--dut", "qemu:ns=2"]), "qemu:ns=2");
  assert.equal(defaultDut(["x", "--dut=01:00.0"]), "01:00.0");
  const saved = Deno.env.get("NVME_DUT");
  try {
    Deno.env.set("NVME_DUT", "qemu:lba=4096");
    assert.equal(defaultDut([]), "qemu:lba=4096");
    Deno.env.delete("NVME_DUT");
    assert.equal(defaultDut([]), "qemu");
  } finally {
    if (saved !== undefined) Deno.env.set("NVME_DUT", saved);
  }
});

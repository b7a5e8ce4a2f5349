/**
 * Hardening (issue 12, defect 18): `deno task setup` sees disks in use beyond
 * mounts of its own namespace and sysfs holders: a device the kernel claims
 * (the exclusive open ZFS, btrfs, md/dm and mounts hold) and a process holding
 * the raw block device open. Checked on a loop device (root only); the NVMe
 * path itself, with --dry-run, runs in the guest VM (tasks/vm/init2.sh).
 */
import assert from "node:assert/strict";
import { exclusiveOpen, inUseReasons, openersOf } from "../tasks/inuse.ts";

function which(cmd: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      const p = `${dir}/${cmd}`;
      if (Deno.statSync(p).isFile) return p;
    } catch { /* not here */ }
  }
  return undefined;
}

async function sh(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped" }).output();
  assert.equal(out.code, 0, `${cmd} ${args.join(" ")} failed`);
  return new TextDecoder().decode(out.stdout).trim();
}

/** A loop device over a temporary file, or why there is none. */
async function loopDevice(): Promise<
  { dev: string; name: string; majmin: string; done: () => Promise<void> }
> {
  const img = await Deno.makeTempFile({ prefix: "harden-loop-" });
  await Deno.truncate(img, 8 << 20);
  const dev = await sh("losetup", ["-f", "--show", img]);
  const name = dev.replace("/dev/", "");
  const majmin = Deno.readTextFileSync(`/sys/class/block/${name}/dev`).trim();
  return {
    dev,
    name,
    majmin,
    done: async () => {
      await sh("losetup", ["-d", dev]);
      await Deno.remove(img);
    },
  };
}

const noLoop = Deno.uid() !== 0
  ? "needs root (losetup)"
  : !which("losetup")
  ? "needs losetup"
  : "";

Deno.test({
  name: "defect 18: a process holding the raw block device open is named",
  ignore: noLoop !== "",
  async fn() {
    const loop = await loopDevice();
    // a child with the node open as its stdin, nothing else
    const child = new Deno.Command("sh", {
      args: ["-c", `exec sleep 30 < ${loop.dev}`],
    }).spawn();
    try {
      let who: string[] | undefined;
      for (let i = 0; i < 200 && !who; i++) {
        who = openersOf(new Set([loop.majmin])).get(loop.majmin);
        if (!who) await new Promise((r) => setTimeout(r, 10));
      }
      assert.deepEqual(who, [`pid ${child.pid} (sleep)`]);
      const reasons = inUseReasons([{ name: loop.name, majmin: loop.majmin }]);
      assert.ok(
        reasons.includes(`${loop.name} is open in pid ${child.pid} (sleep)`),
        reasons.join("; "),
      );
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await loop.done();
    }
  },
});

Deno.test({
  name:
    "defect 18: a device the kernel claims (exclusive open refused) is in use",
  ignore: noLoop !== "",
  async fn() {
    const loop = await loopDevice();
    // what ZFS, btrfs, md/dm and a mount do: hold the device exclusively
    const holder = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `const c = Deno.dlopen("libc.so.6", { open: { parameters: ["buffer", "i32"], result: "i32" } });
         const fd = c.symbols.open(new TextEncoder().encode(${
          JSON.stringify(loop.dev)
        } + "\\0"), 0o200);
         console.log(fd >= 0 ? "held" : "failed");
         setTimeout(() => {}, 30000);`,
      ],
      stdout: "piped",
    }).spawn();
    try {
      const reader = holder.stdout.getReader();
      const { value } = await reader.read();
      reader.releaseLock();
      assert.equal(new TextDecoder().decode(value).trim(), "held");
      assert.equal(exclusiveOpen(loop.dev), "busy");
      const reasons = inUseReasons([{ name: loop.name, majmin: loop.majmin }]);
      assert.ok(
        reasons.some((r) =>
          r.startsWith(`${loop.name} is claimed by the kernel`)
        ),
        reasons.join("; "),
      );
    } finally {
      holder.kill("SIGKILL");
      await holder.status;
      await holder.stdout.cancel().catch(() => {});
    }
    // once released it is free again (nothing else reported)
    assert.equal(exclusiveOpen(loop.dev), "free");
    assert.deepEqual(
      inUseReasons([{ name: loop.name, majmin: loop.majmin }]),
      [],
    );
    await loop.done();
  },
});

/**
 * The set-up script: as a non-root user on a machine without QEMU it stops
 * with a message saying what to install, before doing anything else.
 */
import assert from "node:assert/strict";

const root = new URL("..", import.meta.url).pathname;

function which(cmd: string): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      const p = `${dir}/${cmd}`;
      if (Deno.statSync(p).isFile) return p;
    } catch { /* not here */ }
  }
  return undefined;
}

Deno.test({
  name: "non-root set-up without QEMU names the package to install",
  ignore: Deno.uid() !== 0 || !which("setpriv"),
  async fn() {
    // a PATH with the tools the script needs, but no qemu-system-x86_64
    const bin = await Deno.makeTempDir({ prefix: "denvme-setup-test-" });
    try {
      for (const tool of ["bash", "id", "dirname", "make", "cc", "printf"]) {
        const p = which(tool);
        if (p) await Deno.symlink(p, `${bin}/${tool}`);
      }
      await Deno.chmod(bin, 0o755);
      const out = await new Deno.Command(which("setpriv")!, {
        args: [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          "bash",
          `${root}tasks/setup.sh`,
        ],
        env: { PATH: bin, HOME: "/nonexistent" },
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 1);
      assert.match(
        err,
        /QEMU \(qemu-system-x86_64, the embedded NVMe device\) is missing/,
      );
      assert.match(
        err,
        /needs root: run this as root, or first: sudo apt-get install -y qemu-system-x86/,
      );
    } finally {
      await Deno.remove(bin, { recursive: true });
    }
  },
});

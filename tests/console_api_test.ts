/**
 * The console's API without a browser: `deno task console` in read-write mode
 * (utilities that change the device need a confirmation; parameters checked),
 * pynvme-style JSON-RPC, and the harness status while tests run with
 * DENVME_CONSOLE=1.
 *
 * @module
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;

/** A child process's stdout, collected as it comes. */
class Output {
  text = "";
  ended = false;
  constructor(stream: ReadableStream<Uint8Array>) {
    (async () => {
      for await (const c of stream.pipeThrough(new TextDecoderStream())) {
        this.text += c;
      }
      this.ended = true;
    })();
  }
  async waitFor(re: RegExp, ms = 60_000): Promise<RegExpMatchArray> {
    const end = Date.now() + ms;
    while (true) {
      const m = this.text.match(re);
      if (m) return m;
      if (Date.now() > end || this.ended) {
        throw new Error(`no ${re} within ${ms} ms; output:\n${this.text}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

const URL_RE =
  /denvme console \((read-only|read-write)\): (http:\/\/127\.0\.0\.1:\d+)\/\?token=([0-9a-f]+)/;

function client(base: string, token: string) {
  return {
    async utility(
      method: string,
      params: Record<string, unknown> = {},
      confirm?: boolean,
    ): Promise<{ status: number; body: Record<string, unknown> }> {
      const r = await fetch(`${base}/api/utility?token=${token}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ method, params, confirm }),
      });
      return { status: r.status, body: await r.json() };
    },
    async rpc(
      method: string,
      params?: unknown,
    ): Promise<Record<string, unknown>> {
      const r = await fetch(`${base}/rpc`, {
        method: "POST",
        headers: { "x-denvme-token": token },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      });
      assert.equal(r.status, 200);
      return await r.json();
    },
  };
}

Deno.test({
  name: "console: deno task console --console=rw, confirmed utilities, RPC",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-ffi",
        "--allow-env",
        "--allow-read",
        "--allow-net=127.0.0.1",
        `${ROOT}tasks/console.ts`,
        "--dut",
        "qemu",
        "--console=rw",
      ],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const out = new Output(child.stdout);
    try {
      const [, kind, base, token] = await out.waitFor(URL_RE);
      assert.equal(kind, "read-write");
      await out.waitFor(/serving QEMU NVMe Ctrl/);
      const c = client(base, token);

      // a utility that changes the device: confirmed only
      let r = await c.utility("format", { nsid: 1, lbaf: 0 });
      assert.equal(r.status, 409, JSON.stringify(r.body));
      assert.match(String(r.body.error), /confirm/);
      r = await c.utility("format", { nsid: 1, lbaf: 99 }, true);
      assert.match(String(r.body.error), /lbaf=99: allowed 0\.\.63/);
      r = await c.utility("format", { nsid: 1, lbaf: 0 }, true);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      // firmware download: the image in 4-byte units (Invalid Opcode on this device)
      r = await c.utility("fwDownload", { image: btoa("12345678") }, true);
      assert.match(String(r.body.error), /Invalid Command Opcode|01\/01/);
      r = await c.utility("fwDownload", { image: btoa("123") }, true);
      assert.match(String(r.body.error), /image of 3 bytes: a multiple of 4/);
      r = await c.utility("nonsense");
      assert.equal(r.status, 400);
      assert.match(String(r.body.error), /unknown utility "nonsense"/);

      // read-only utilities
      r = await c.utility("namespaces");
      const nss = r.body.result as { nsid: number; lbaSize: number }[];
      assert.equal(nss[0].nsid, 1);
      assert.equal(nss[0].lbaSize, 512);
      r = await c.utility("smart");
      const smart = r.body.result as { temperature: number };
      assert.ok(
        smart.temperature > 273,
        `SMART temperature ${smart.temperature} K`,
      );
      r = await c.utility("features", { fid: 7 });
      assert.equal(typeof (r.body.result as { cdw0: number }).cdw0, "number");

      // RPC: the format appears in the admin queue's cmdlog, decoded
      const qs = (await c.rpc("list_qpairs")).result as {
        qid: number;
        sq: number;
      }[];
      const admin = qs.find((q) => q.qid === 0);
      assert.ok(admin, JSON.stringify(qs));
      const log = (await c.rpc("get_cmdlog", { sq: admin.sq, count: 50 }))
        .result as { name: string; opcode: number; status: string }[];
      const fmt = log.find((e) => e.opcode === 0x80);
      assert.ok(fmt, `Format NVM in the admin cmdlog: ${JSON.stringify(log)}`);
      assert.equal(fmt.status, "00/00");
      const fw = log.find((e) => e.opcode === 0x11) as
        | { cdw: number[] }
        | undefined;
      assert.ok(fw, "Firmware Image Download in the admin cmdlog");
      assert.deepEqual(
        [fw.cdw[10], fw.cdw[11]],
        [1, 0],
        "NUMD 1 (2 dwords), offset 0",
      );
      const ctrls = (await c.rpc("list_controllers")).result as {
        ctrl: number;
        serial: string;
      }[];
      assert.equal(ctrls[0].serial, "DENVME0001");
      const regs = (await c.rpc("get_registers", [ctrls[0].ctrl])).result as {
        name: string;
        fields: { name: string; value: number }[];
      }[];
      const cc = regs.find((x) => x.name === "CC")!;
      assert.equal(cc.fields.find((f) => f.name === "EN")!.value, 1);
      const bad = await c.rpc("no_such_method");
      assert.equal((bad.error as { code: number }).code, -32601);
      const badParam = await c.rpc("get_cmdlog", { sq: "x" });
      assert.match(
        String((badParam.error as { message: string }).message),
        /sq="x": allowed/,
      );

      child.kill("SIGINT");
      const st = await child.status;
      assert.equal(st.code, 0);
      await assert.rejects(fetch(`${base}/api/state?token=${token}`));
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    }
  },
});

Deno.test({
  name: "console: current test and pass/fail so far under the harness",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "test",
        "--allow-all",
        `${ROOT}tests/console_harness_fixture.ts`,
      ],
      // (its own run: not into this run's test.log)
      env: {
        NO_COLOR: "1",
        DENVME_CONSOLE: "1",
        NVME_DUT: "qemu",
        DENVME_TEST_LOG: "off",
      },
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const out = new Output(child.stdout);
    const stdin = child.stdin.getWriter();
    try {
      const [, , base, token] = await out.waitFor(URL_RE);
      await out.waitFor(/WAITING IN THE SECOND TEST/);
      const c = client(base, token);
      const st = (await c.rpc("get_status")).result as {
        harness: boolean;
        current?: { name: string };
        passed: number;
        failed: number;
      };
      assert.equal(st.harness, true);
      assert.equal(st.current?.name, "console fixture: second, waits");
      assert.equal(st.passed, 1);
      assert.equal(st.failed, 0);
      const state = await (await fetch(`${base}/api/state?token=${token}`))
        .json() as { aer: { text: string }[] };
      assert.ok(
        state.aer.some((e) => /Temperature Threshold/.test(e.text)),
        `the AER event of the first test: ${JSON.stringify(state.aer)}`,
      );
      await stdin.write(new TextEncoder().encode("go\n"));
      await stdin.close();
      const code = (await child.status).code;
      assert.equal(code, 0, out.text);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
    }
  },
});

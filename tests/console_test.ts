/**
 * The live console in a real browser: Debian's chromium, headless, driven
 * through the DevTools protocol by puppeteer-core (nothing downloaded at run
 * time). The console watches tests/console_script.ts, run with `--console`
 * as a separate process.
 *
 * With DENVME_CONSOLE_SCREENSHOT=<path> the test also saves a picture of the
 * IOWorkers page during the ioworker (docs/console-screenshot.png).
 *
 * @module
 */
import assert from "node:assert/strict";
import puppeteer from "puppeteer-core";
import { findChromium } from "../report/chromium.ts";

const ROOT = new URL("../", import.meta.url).pathname;

// the page's DOM inside the page.evaluate/waitForFunction callbacks (they run in chromium)
// deno-lint-ignore no-explicit-any
declare const document: any;

/** Lines of a child's stdout, as they come. */
class Lines {
  text = "";
  ended = false;
  #waiters: (() => void)[] = [];
  constructor(stream: ReadableStream<Uint8Array>) {
    (async () => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        this.text += chunk;
        for (const w of this.#waiters.splice(0)) w();
      }
      this.ended = true;
      for (const w of this.#waiters.splice(0)) w();
    })();
  }
  async waitFor(re: RegExp, ms: number): Promise<RegExpMatchArray> {
    const end = Date.now() + ms;
    while (true) {
      const m = this.text.match(re);
      if (m) return m;
      if (Date.now() > end || this.ended) {
        throw new Error(
          `no ${re} within ${ms} ms (or the script ended); output so far:\n${this.text}`,
        );
      }
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }
}

/** One raw HTTP/1.1 request (any Host/Origin header), returns the status. */
async function rawStatus(
  port: number,
  path: string,
  headers: Record<string, string>,
): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`)
      .join("");
    await conn.write(
      new TextEncoder().encode(
        `GET ${path} HTTP/1.1\r\n${head}Connection: close\r\n\r\n`,
      ),
    );
    const buf = new Uint8Array(256);
    const n = await conn.read(buf);
    const line = new TextDecoder().decode(buf.subarray(0, n ?? 0));
    return Number(line.split(" ")[1]);
  } finally {
    conn.close();
  }
}

/** Debian's chromium, headless, with a fresh profile and nothing fetched. */
function launch(
  chromium: string,
  profile: string,
): ReturnType<typeof puppeteer.launch> {
  return puppeteer.launch({
    executablePath: chromium,
    headless: true,
    userDataDir: profile,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-dev-shm-usage",
    ],
  });
}

Deno.test({
  name:
    "console: registers, qpair cmdlog, ioworker IOPS while blocked, token, read-only",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const chromium = findChromium();
    assert.ok(
      chromium,
      "chromium is not installed: bash tasks/setup.sh test installs it (apt-get install chromium)",
    );
    const profile = await Deno.makeTempDir({ prefix: "denvme-console-" });
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-ffi",
        "--allow-env",
        "--allow-read",
        "--allow-net=127.0.0.1",
        `${ROOT}tests/console_script.ts`,
        "--dut",
        "qemu",
        "--console",
        `--stop-file=${profile}/stop`,
      ],
      env: { NO_COLOR: "1", DENVME_CONSOLE: "" },
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const out = new Lines(child.stdout);
    const stdin = child.stdin.getWriter();
    let browser: Awaited<ReturnType<typeof puppeteer.launch>> | undefined;
    try {
      const url = await out.waitFor(
        /denvme console \(read-only\): (http:\/\/127\.0\.0\.1:(\d+)\/\?token=([0-9a-f]+))/,
        60_000,
      );
      const [, full, portText, token] = url;
      const port = Number(portText);
      const base = `http://127.0.0.1:${port}`;
      await out.waitFor(/READY qid (\d+)/, 60_000);

      // security: the token on every request, Host and Origin checked
      let r = await fetch(`${base}/api/state`);
      assert.equal(r.status, 403, "a request without the token is refused");
      await r.body?.cancel();
      r = await fetch(`${base}/api/events`);
      assert.equal(r.status, 403, "the event stream needs the token too");
      await r.body?.cancel();
      r = await fetch(`${base}/rpc`, { method: "POST", body: "{}" });
      assert.equal(r.status, 403, "RPC needs the token too");
      await r.body?.cancel();
      r = await fetch(`${base}/api/state?token=${"0".repeat(token.length)}`);
      assert.equal(r.status, 403, "a wrong token is refused");
      await r.body?.cancel();
      assert.equal(
        await rawStatus(port, `/api/state?token=${token}`, {
          Host: `evil.example:${port}`,
        }),
        403,
        "a foreign Host (DNS rebinding) is refused",
      );
      assert.equal(
        await rawStatus(port, `/api/state?token=${token}`, {
          Host: `127.0.0.1:${port}`,
          Origin: "http://evil.example",
        }),
        403,
        "a cross-site Origin is refused",
      );
      assert.equal(
        await rawStatus(port, `/api/state?token=${token}`, {
          Host: `127.0.0.1:${port}`,
        }),
        200,
        "the same request with the right Host and no Origin is served",
      );
      // pynvme-style RPC
      r = await fetch(`${base}/rpc?token=${token}`, {
        method: "POST",
        body: JSON.stringify({ jsonrpc: "2.0", id: 7, method: "list_qpairs" }),
      });
      const rpc = await r.json();
      assert.equal(rpc.id, 7);
      assert.ok(
        rpc.result.some((q: { qid: number }) => q.qid === 1),
        `list_qpairs has IO queue 1: ${JSON.stringify(rpc)}`,
      );

      browser = await launch(chromium, profile);
      const page = await browser.newPage();
      await page.setViewport({ width: 1400, height: 900 });
      page.on("dialog", (d) => void d.accept()); // the confirmation of format
      await page.goto(full);

      // registers: CSTS.RDY = 1
      await page.click('a[href="#registers"]');
      await page.waitForFunction(
        () =>
          document.querySelector('[data-reg="CSTS"][data-field="RDY"]')
            ?.textContent === "1",
        { timeout: 60_000 },
      );

      // a qpair's cmdlog shows the read the script sent (LBA 4242)
      await page.click('a[href="#qpairs"]');
      const row = await page.waitForSelector("tr[data-sq] td:nth-child(2)", {
        timeout: 60_000,
      });
      assert.ok(row);
      const sq = await page.evaluate(() =>
        // deno-lint-ignore no-explicit-any
        [...document.querySelectorAll("tr[data-sq]")].find((tr: any) =>
          tr.children[1].textContent === "1"
        )?.getAttribute("data-sq")
      );
      assert.ok(sq, "the IO qpair 1 is listed");
      await page.click(`tr[data-sq="${sq}"]`);
      await page.waitForFunction(
        () =>
          /Read \(0x02\).* slba 4242 nlb 1 .*-> 00\/00/.test(
            document.getElementById("cmdlog")?.textContent ?? "",
          ),
        { timeout: 60_000 },
      );

      // a utility that changes the device is refused without --console=rw
      await page.click('a[href="#utilities"]');
      await page.click('button[data-run="format"]');
      await page.waitForFunction(
        () =>
          /Format NVM: REFUSED.*--console=rw/.test(
            document.getElementById("util-out")?.textContent ?? "",
          ),
        { timeout: 60_000 },
      );
      // ... and a read-only one runs (on the script's thread, free now)
      await page.click('button[data-run="identify"]');
      await page.waitForFunction(
        () =>
          /Identify:\n[\s\S]*"mn": "QEMU NVMe Ctrl"/.test(
            document.getElementById("util-out")?.textContent ?? "",
          ),
        { timeout: 60_000 },
      );

      // the ioworker's IOPS rises above zero while the script is blocked
      await page.click('a[href="#ioworkers"]');
      await stdin.write(new TextEncoder().encode("go\n"));
      await out.waitFor(/BLOCKED start/, 30_000);
      try {
        await page.waitForFunction(
          () => Number(document.querySelector(".iops")?.textContent ?? 0) > 0,
          { timeout: 60_000 },
        );
      } catch (e) {
        const s = await (await fetch(`${base}/api/state?token=${token}`))
          .json();
        const table = await page.$eval(
          "#iow-list",
          (el) => el.textContent ?? "",
        ).catch(() => "?");
        throw new Error(
          `no IOPS on the page (${
            (e as Error).message
          }); page: ${table}; state: ${
            JSON.stringify(
              s.ioworkers?.map((w: { samples: unknown }) => ({
                ...w,
                samples: undefined,
              })),
            )
          }; script: ${out.text}`,
        );
      }
      const iops = await page.$eval(".iops", (e) => Number(e.textContent));
      assert.ok(iops > 0);
      assert.ok(
        !/BLOCKED end/.test(out.text),
        "the IOPS was seen while the script was still blocked in its waitdone loop",
      );
      const shot = Deno.env.get("DENVME_CONSOLE_SCREENSHOT");
      if (shot) {
        await new Promise((res) => setTimeout(res, 3000)); // a few chart points
        await page.screenshot({ path: shot as `${string}.png` });
      }
      await Deno.writeTextFile(`${profile}/stop`, "");
      await out.waitFor(/BLOCKED end/, 60_000);
      await out.waitFor(/ioworker \d+ reads/, 60_000);
      await stdin.close();
      const status = await child.status;
      assert.equal(status.code, 0, `the script failed:\n${out.text}`);
      // the console ends with the script
      await assert.rejects(fetch(`${base}/api/state?token=${token}`));
    } finally {
      await browser?.close();
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "console --console=rw: format runs only after the page's confirmation",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const chromium = findChromium();
    assert.ok(chromium, "chromium is not installed (apt-get install chromium)");
    const profile = await Deno.makeTempDir({ prefix: "denvme-console-" });
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
    const out = new Lines(child.stdout);
    let browser: Awaited<ReturnType<typeof puppeteer.launch>> | undefined;
    try {
      const [, full, base, token] = await out.waitFor(
        /denvme console \(read-write\): ((http:\/\/127\.0\.0\.1:\d+)\/\?token=([0-9a-f]+))/,
        60_000,
      );
      await out.waitFor(/serving /, 60_000);
      const formats = async () => {
        const r = await fetch(`${base}/rpc?token=${token}`, {
          method: "POST",
          body: JSON.stringify({
            jsonrpc: "2.0",
            id: 1,
            method: "list_qpairs",
          }),
        });
        const admin = (await r.json()).result.find((q: { qid: number }) =>
          q.qid === 0
        );
        const l = await fetch(`${base}/rpc?token=${token}`, {
          method: "POST",
          body: JSON.stringify({
            jsonrpc: "2.0",
            id: 2,
            method: "get_cmdlog",
            params: { sq: admin.sq, count: 100 },
          }),
        });
        return ((await l.json()).result as { opcode: number; status: string }[])
          .filter((e) => e.opcode === 0x80);
      };
      browser = await launch(chromium, profile);
      const page = await browser.newPage();
      let accept = false;
      const dialogs: string[] = [];
      page.on("dialog", (d) => {
        dialogs.push(d.message());
        void (accept ? d.accept() : d.dismiss());
      });
      await page.goto(full);
      await page.click('a[href="#utilities"]');
      await page.click('button[data-run="format"]');
      await page.waitForFunction(
        () =>
          /Format NVM: cancelled/.test(
            document.getElementById("util-out")?.textContent ?? "",
          ),
        { timeout: 60_000 },
      );
      assert.match(dialogs[0], /Format NVM changes the device under test/);
      assert.equal((await formats()).length, 0, "nothing sent when cancelled");
      accept = true;
      await page.click('button[data-run="format"]');
      await page.waitForFunction(
        () =>
          /Format NVM:\n[\s\S]*"lbaf": 0/.test(
            document.getElementById("util-out")?.textContent ?? "",
          ),
        { timeout: 60_000 },
      );
      const sent = await formats();
      assert.equal(sent.length, 1, "one Format NVM after the confirmation");
      assert.equal(sent[0].status, "00/00");
      child.kill("SIGINT");
      assert.equal((await child.status).code, 0);
    } finally {
      await browser?.close();
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  },
});

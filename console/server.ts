/**
 * The console thread: an HTTP server on 127.0.0.1 (random port, random token)
 * started by console/registry.ts in a worker thread, with its own event loop —
 * it keeps answering while the script's thread is blocked. Pages, a JSON API,
 * an event stream and pynvme-style JSON-RPC, all behind the same checks.
 *
 * Security: bound to 127.0.0.1 only; every request (pages, scripts, API, the
 * event stream, RPC) must carry the token (`?token=` or the
 * `X-Denvme-Token` header) and a Host of 127.0.0.1/localhost with this port
 * (no DNS rebinding); requests with a foreign Origin or a cross-site
 * Sec-Fetch-Site are refused (no cross-site requests). Nothing is written to
 * disk; the thread dies with the script.
 *
 * @module
 */
import { parentPort, workerData } from "node:worker_threads";
import { ConsoleState, entryJson } from "./state.ts";
import { consolePage, staticFile } from "./pages.ts";
import { rpc } from "./rpc.ts";

/** Utility methods that change the device: need `--console=rw` and `confirm: true`. */
export const MUTATING: ReadonlySet<string> = new Set([
  "format",
  "sanitize",
  "fwDownload",
  "fwCommit",
  "setFeature",
]);
/** Utility methods that only read. */
export const READING: ReadonlySet<string> = new Set([
  "identify",
  "namespaces",
  "logPage",
  "smart",
  "features",
  "sanitizeStatus",
]);

const { mode, port: wantPort, print } = workerData as {
  mode: "ro" | "rw";
  port: number;
  print: boolean;
};
const state = new ConsoleState();
const token = [...crypto.getRandomValues(new Uint8Array(24))]
  .map((b) => b.toString(16).padStart(2, "0")).join("");
const REFRESH_MS = 1000;
let port = 0;
let nextId = 1;
const waiting = new Map<
  number,
  { resolve: (v: unknown) => void; reject: (e: Error) => void }
>();
let clientsUntil = 0; // a page asked for state recently: sample SMART too

parentPort!.on("message", (m: { kind: string; [k: string]: unknown }) => {
  if (m.kind === "reply") {
    const w = waiting.get(m.id as number);
    if (!w) return;
    waiting.delete(m.id as number);
    if (m.error !== undefined) w.reject(new Error(String(m.error)));
    else w.resolve(m.result);
  } else state.note(m);
});

/** Ask the script's thread (answered when its event loop is free). */
function request(
  method: string,
  params: Record<string, unknown>,
  timeoutMs = 20_000,
): Promise<unknown> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiting.delete(id);
      reject(
        new Error(
          `the script's thread did not answer within ${
            timeoutMs / 1000
          } s (it is blocked, e.g. in waitdone() or a busy loop); utilities run when it is free`,
        ),
      );
    }, timeoutMs);
    waiting.set(id, {
      resolve: (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      reject: (e) => {
        clearTimeout(timer);
        reject(e);
      },
    });
    parentPort!.postMessage({ kind: "request", id, method, params });
  });
}

// ioworker sampling: shared memory reads only
setInterval(() => state.sample(), REFRESH_MS);
// SMART temperature while somebody watches (an admin command on the script's
// thread, when it is free)
let smartBusy = false;
setInterval(async () => {
  if (Date.now() > clientsUntil || smartBusy) return;
  smartBusy = true;
  try {
    for (const c of state.controllers.values()) {
      if (c.closed) continue;
      const s = await request("smart", { ctrl: c.ctrl }, 4000) as {
        temperature: number;
      };
      state.temperature.push([Date.now(), c.ctrl, s.temperature - 273]);
      if (state.temperature.length > 2000) state.temperature.shift();
    }
  } catch { /* busy or closed: next time */ }
  smartBusy = false;
}, 5000);

function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return d === 0;
}

const SECURITY_HEADERS = {
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "cross-origin-resource-policy": "same-origin",
  "content-security-policy":
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

function reply(body: BodyInit | null, status: number, type: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": type, ...SECURITY_HEADERS },
  });
}
const json = (v: unknown, status = 200) =>
  reply(
    JSON.stringify(v, (_k, x) => typeof x === "bigint" ? x.toString() : x),
    status,
    "application/json",
  );
const refuse = (why: string) =>
  reply(`403 Forbidden: ${why}\n`, 403, "text/plain");

/** Undefined when the request may go on, else the refusal. */
function check(req: Request, url: URL): Response | undefined {
  const host = req.headers.get("host") ?? "";
  const hosts = [`127.0.0.1:${port}`, `localhost:${port}`];
  if (!hosts.includes(host)) {
    return refuse(`Host "${host}" is not this console`);
  }
  const origin = req.headers.get("origin");
  if (origin !== null && origin !== `http://${host}`) {
    return refuse(`cross-site request from ${origin}`);
  }
  const site = req.headers.get("sec-fetch-site");
  if (site !== null && site !== "same-origin" && site !== "none") {
    return refuse(`cross-site request (${site})`);
  }
  const given = url.searchParams.get("token") ??
    req.headers.get("x-denvme-token") ?? "";
  if (!timingSafeEqual(given, token)) return refuse("missing or wrong token");
  return undefined;
}

function stateJson(): Record<string, unknown> {
  clientsUntil = Date.now() + 15_000;
  const controllers = [...state.controllers.values()].map((c) => {
    let registers: unknown, error: string | undefined;
    if (!c.closed) {
      try {
        registers = state.registers(c.ctrl);
      } catch (e) {
        error = (e as Error).message;
      }
    }
    return { ...c, registers, error };
  });
  const queues = [...state.queues.keys()].map((sq) => {
    const s = state.snapshot(sq, 0);
    return s ? { label: state.queues.get(sq)!.label, ...s.stats } : undefined;
  }).filter(Boolean);
  return {
    mode,
    pid: Deno.pid,
    time: Date.now(),
    controllers,
    queues,
    ioworkers: [...state.ioworkers.values()].map((w) => state.ioworkerJson(w)),
    aer: state.aer.slice(-100).reverse(),
    temperature: state.temperature,
    tests: state.testSummary(),
  };
}

function cmdlogJson(url: URL): Response {
  const sq = Number(url.searchParams.get("sq"));
  const n = Math.min(
    2048,
    Math.max(1, Number(url.searchParams.get("n") ?? 200) || 200),
  );
  const q = state.queues.get(sq);
  const snap = q && state.snapshot(sq, n);
  if (!q || !snap) return json({ error: `no live queue ${sq}` }, 404);
  const op = url.searchParams.get("opcode");
  const st = url.searchParams.get("status");
  let log = snap.log;
  if (op) {
    const v = Number(op);
    log = log.filter((e) =>
      e.opcode === v || e.name.toLowerCase().includes(op.toLowerCase())
    );
  }
  if (st) {
    log = log.filter((e) =>
      st === "error"
        ? e.status !== undefined && e.status !== "00/00"
        : st === "outstanding"
        ? e.status === undefined
        : e.status === st
    );
  }
  return json({
    queue: { ...q, ...snap.stats },
    entries: log.map((e) => entryJson(e, q.qid === 0)),
  });
}

async function utility(req: Request): Promise<Response> {
  let body: {
    method?: string;
    params?: Record<string, unknown>;
    confirm?: boolean;
  };
  try {
    body = await req.json();
  } catch {
    return json(
      { error: "the body must be JSON {method, params, confirm}" },
      400,
    );
  }
  const method = String(body.method ?? "");
  if (MUTATING.has(method)) {
    if (mode !== "rw") {
      return json({
        error:
          `${method} changes the device: start the console with --console=rw (or DENVME_CONSOLE=rw) to allow it`,
      }, 403);
    }
    if (body.confirm !== true) {
      return json({
        error: `${method} changes the device: confirm it in the page`,
      }, 409);
    }
  } else if (!READING.has(method)) {
    return json({
      error: `unknown utility "${method}": allowed ${
        [...READING, ...MUTATING].join(", ")
      }`,
    }, 400);
  }
  try {
    const result = await request(
      method,
      body.params ?? {},
      method === "fwDownload" ? 120_000 : 20_000,
    );
    return json({ result });
  } catch (e) {
    return json({ error: (e as Error).message }, 502);
  }
}

function events(): Response {
  let timer: ReturnType<typeof setInterval> | undefined;
  const enc = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    start(ctl) {
      const push = () => {
        try {
          ctl.enqueue(enc.encode(`data: ${JSON.stringify(stateJson())}\n\n`));
        } catch {
          clearInterval(timer);
        }
      };
      push();
      timer = setInterval(push, REFRESH_MS);
    },
    cancel() {
      clearInterval(timer);
    },
  });
  return new Response(stream, {
    headers: { "content-type": "text/event-stream", ...SECURITY_HEADERS },
  });
}

async function handle(req: Request): Promise<Response> {
  const url = new URL(req.url);
  const bad = check(req, url);
  if (bad) return bad;
  const p = url.pathname;
  if (req.method === "GET") {
    if (p === "/" || p === "/index.html") {
      return reply(consolePage(token, mode), 200, "text/html; charset=utf-8");
    }
    if (p.startsWith("/static/")) {
      const f = await staticFile(p.slice(8));
      return f
        ? reply(f.body, 200, f.type)
        : reply("not found\n", 404, "text/plain");
    }
    if (p === "/api/state") return json(stateJson());
    if (p === "/api/cmdlog") return cmdlogJson(url);
    if (p === "/api/events") return events();
  } else if (req.method === "POST") {
    if (p === "/api/utility") return await utility(req);
    if (p === "/rpc") return json(await rpc(await req.text(), state, request));
  }
  return reply("not found\n", 404, "text/plain");
}

try {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: wantPort,
    onListen: () => {},
  }, handle);
  port = server.addr.port;
  const url = `http://127.0.0.1:${port}/?token=${token}`;
  if (print) {
    console.log(
      `denvme console (${mode === "rw" ? "read-write" : "read-only"}): ${url}`,
    );
  }
  parentPort!.postMessage({ kind: "ready", url });
} catch (e) {
  const msg = e instanceof Deno.errors.NotCapable
    ? "the console needs network access to 127.0.0.1: run with --allow-net=127.0.0.1"
    : `cannot serve: ${(e as Error).message}`;
  parentPort!.postMessage({ kind: "failed", message: msg });
}

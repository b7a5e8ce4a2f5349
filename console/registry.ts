/**
 * The live console's hooks on the script's side: turning it on (`--console`,
 * `--console=rw`, `DENVME_CONSOLE`), starting its thread, and telling it which
 * live objects exist (controllers, queues, ioworkers, AER events, the current
 * test). Each hook is one message when an object is created or closed — never
 * per IO — and does nothing while the console is off.
 *
 * The console itself runs in a worker thread (console/server.ts) with its own
 * event loop, so it keeps serving while the script is blocked in `waitdone()`
 * or a busy loop. It reads queue state and ioworker progress from the memory
 * they already live in; the script's thread only answers utility requests
 * (identify, logs, format, ...) when its event loop is free.
 *
 * @module
 */
import { FUNCTIONS } from "../ffi/api_table.ts";
import { checkArgs } from "../ffi/validate.ts";
import { Worker } from "node:worker_threads";
import { ParameterError } from "../ffi/errors.ts";
import { envVar } from "../ffi/permissions.ts";

/** How the console is turned on: off, read-only, or read-write (utilities that change the device). */
export type ConsoleMode = "off" | "ro" | "rw";

function envValue(name: string): string | undefined {
  return envVar(name) || undefined; // without env access: unset (no prompt)
}

function modeOf(v: string | boolean, where: string): ConsoleMode {
  if (v === true || v === "" || v === "1" || v === "on" || v === "ro") {
    return "ro";
  }
  if (v === "rw") return "rw";
  if (v === false || v === "0" || v === "off") return "off";
  throw new ParameterError(
    `${where}=${v}: allowed 1/on/ro (read-only), rw (utilities may change the device) or 0/off`,
  );
}

/**
 * The console mode asked for by `--console[=ro|rw]` in `args` or
 * `DENVME_CONSOLE` (1, ro, rw, 0); "off" when neither is given.
 *
 * ```ts
 * consoleMode(["--dut", "qemu", "--console=rw"]); // "rw"
 * ```
 */
export function consoleMode(args: string[] = Deno.args): ConsoleMode {
  checkArgs("consoleMode", FUNCTIONS.consoleMode, [args]);
  // (by hand: "--console" takes no separate value, so "--console --dut x" stays two options)
  let v: string | boolean | undefined;
  for (const a of args) {
    if (a === "--") break;
    if (a === "--console") v = true;
    else if (a.startsWith("--console=")) v = a.slice(10);
  }
  if (v !== undefined) return modeOf(v, "--console");
  const env = envValue("DENVME_CONSOLE");
  return env === undefined ? "off" : modeOf(env, "DENVME_CONSOLE");
}

/** A message to the console thread (see console/state.ts for the receiving side). */
export type ConsoleNote = { kind: string; [key: string]: unknown };

/** Handlers of requests the console thread sends to the script's thread. */
export type RequestHandler = (
  method: string,
  params: Record<string, unknown>,
) => unknown;

interface Started {
  worker: Worker;
  mode: ConsoleMode;
  url: Promise<string>;
}

let started: Started | undefined;
let handler: RequestHandler | undefined;
let utilitiesLoading: Promise<void> | undefined;
const early: ConsoleNote[] = [];
/** Live objects (controllers, queues, ioworkers) told so far, replayed to a console started later. */
const live = new Map<string, ConsoleNote>();
let tracking = false;

function track(n: ConsoleNote): void {
  switch (n.kind) {
    case "controller":
      live.set(`c${n.ctrl}`, n);
      break;
    case "controller-gone":
      live.delete(`c${n.ctrl}`);
      for (const [k, v] of live) if (v.ctrl === n.ctrl) live.delete(k);
      break;
    case "queue":
      live.set(`q${n.sq}`, n);
      break;
    case "queue-gone":
      live.delete(`q${n.sq}`);
      break;
    case "ioworker":
      live.set(`w${n.label}`, n);
      break;
    case "ioworker-done":
      live.delete(`w${n.label}`);
      break;
  }
}

/**
 * Tell the console about an object or event. Cheap and synchronous: a
 * message to its thread (nothing at all while the console is off).
 *
 * ```ts
 * consoleNote({ kind: "aer", ctrl: 1, cdw0: 0x010203 });
 * ```
 */
export function consoleNote(note: ConsoleNote): void {
  if (tracking) track(note);
  if (started) started.worker.postMessage(note);
  else if (!tracking && wanted() && early.length < 1000) early.push(note);
}

let wantedCache: ConsoleMode | undefined;
function wanted(): boolean {
  if (wantedCache === undefined) {
    try {
      wantedCache = consoleMode();
    } catch {
      wantedCache = "off";
    }
  }
  return wantedCache !== "off";
}

/**
 * Start the console if `--console`/`DENVME_CONSOLE` asks for it (once per
 * process; the controller calls this when it opens). Returns whether it runs.
 *
 * ```ts
 * maybeStartConsole(); // what `new Controller()` does
 * ```
 */
export function maybeStartConsole(): boolean {
  if (started) return true;
  const mode = consoleMode();
  wantedCache = mode;
  if (mode === "off") return false;
  startConsole({ mode });
  return true;
}

/**
 * Options of {@link startConsole}.
 *
 * ```ts
 * const o: ConsoleOptions = { mode: "rw", refreshMs: 500 };
 * ```
 */
export interface ConsoleOptions {
  /** "ro" (default) or "rw" (format, sanitize, firmware, set features allowed after a confirmation). */
  mode?: "ro" | "rw";
  /** Port on 127.0.0.1 (default 0: a random free port). */
  port?: number;
  /** Print the URL line on stdout (default true). */
  print?: boolean;
}

/**
 * Start the console thread; resolves to its URL (with the token). The thread
 * does not keep the process alive: the console ends with the script.
 *
 * ```ts
 * const url = await startConsole({ mode: "ro" });
 * ```
 */
export function startConsole(o: ConsoleOptions = {}): Promise<string> {
  try {
    checkArgs("startConsole", FUNCTIONS.startConsole, [o]);
  } catch (e) {
    return Promise.reject(e);
  }
  if (started) return started.url;
  const mode = o.mode ?? "ro";
  if (mode !== "ro" && mode !== "rw") {
    throw new ParameterError(`console mode ${mode}: allowed ro or rw`);
  }
  const port = o.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ParameterError(`console port ${port}: allowed 0..65535`);
  }
  const worker = new Worker(new URL("./server.ts", import.meta.url), {
    workerData: { mode, port, print: o.print ?? true },
  });
  worker.unref();
  let resolve!: (url: string) => void;
  let reject!: (e: Error) => void;
  const url = new Promise<string>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  url.catch(() => {});
  worker.on(
    "message",
    (m: { kind: string; id?: unknown; [k: string]: unknown }) => {
      if (m.kind === "ready") resolve(m.url as string);
      else if (m.kind === "failed") {
        console.error(`denvme console: ${m.message}`);
        reject(new Error(String(m.message)));
      } else if (m.kind === "request") void answer(worker, m);
    },
  );
  worker.on("error", (e: Error) => {
    console.error(`denvme console: ${e.message}`);
    reject(e);
  });
  started = { worker, mode, url };
  const pre = early.splice(0);
  if (!tracking) {
    tracking = true;
    for (const n of pre) track(n);
  }
  for (const n of live.values()) worker.postMessage(n);
  for (const n of pre) {
    if (n.kind === "test" || n.kind === "aer") worker.postMessage(n);
  }
  return url;
}

/**
 * Stop the console now (it also ends by itself with the script). A later
 * {@link startConsole} starts a new one (new port and token) that knows the
 * objects still alive.
 *
 * ```ts
 * const url = await startConsole();
 * // ...
 * await stopConsole();
 * ```
 */
export async function stopConsole(): Promise<void> {
  checkArgs("stopConsole", FUNCTIONS.stopConsole, []);
  const s = started;
  if (!s) return;
  started = undefined;
  await s.worker.terminate();
}

/**
 * Install the handler of utility requests (console/utilities.ts does it when
 * the console starts; tests may replace it).
 *
 * ```ts
 * setRequestHandler((method) => method === "ping" ? "pong" : undefined);
 * ```
 */
export function setRequestHandler(h: RequestHandler | undefined): void {
  handler = h;
}

async function answer(
  worker: Worker,
  m: { id?: unknown; method?: unknown; params?: unknown },
): Promise<void> {
  let reply: { kind: string; id: unknown; result?: unknown; error?: string };
  try {
    if (!handler) {
      utilitiesLoading ??= import("./utilities.ts").then(() => {});
      await utilitiesLoading;
    }
    const result = await handler!(
      String(m.method),
      (m.params ?? {}) as Record<string, unknown>,
    );
    reply = { kind: "reply", id: m.id, result: plain(result) };
  } catch (e) {
    reply = {
      kind: "reply",
      id: m.id,
      error: (e as Error)?.message ?? String(e),
    };
  }
  worker.postMessage(reply);
}

/** BigInts as strings, typed arrays as arrays: something structured clone and JSON both take. */
function plain(v: unknown): unknown {
  return JSON.parse(
    JSON.stringify(
      v ?? null,
      (_k, x) =>
        typeof x === "bigint"
          ? x.toString()
          : ArrayBuffer.isView(x)
          ? Array.from(x as Uint8Array)
          : x,
    ),
  );
}

/**
 * True while the console runs in this process.
 *
 * ```ts
 * if (consoleRunning()) console.log("watch it live in the browser");
 * ```
 */
export function consoleRunning(): boolean {
  return started !== undefined;
}

const TRANSPORTS: Record<string, string> = {
  qemu: "embedded device (QEMU NVMe model, qtest)",
  pci: "PCIe through VFIO",
  tcp: "NVMe/TCP",
  nvmet: "NVMe/TCP (kernel nvmet target in a guest)",
};

/** Controllers the console knows, by handle (for the utility requests). */
export const consoleControllers: Map<number, unknown> = new Map();

function idField(id: Uint8Array, end: number, begin: number): string {
  return new TextDecoder("latin1").decode(id.subarray(begin, end + 1))
    .replace(/[\s\0]+$/, "");
}

/**
 * Tell the console about an open controller (`id`: its identify data when
 * the init read it).
 *
 * ```ts
 * consoleController(nvme0, nvme0.ctrlHandle, nvme0.identifyData);
 * ```
 */
export function consoleController(
  ctrl: { pcie: { handle: number; dut: { name: string; kind: string } } },
  handle: number,
  id?: Uint8Array,
): void {
  consoleControllers.set(handle, ctrl);
  consoleNote({
    kind: "controller",
    ctrl: handle,
    pcie: ctrl.pcie.handle,
    dut: ctrl.pcie.dut.name,
    transport: TRANSPORTS[ctrl.pcie.dut.kind] ?? ctrl.pcie.dut.kind,
    model: id ? idField(id, 63, 24) : "",
    serial: id ? idField(id, 23, 4) : "",
    firmware: id ? idField(id, 71, 64) : "",
  });
}

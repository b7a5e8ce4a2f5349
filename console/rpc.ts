/**
 * pynvme-style JSON-RPC 2.0 queries on the console's `/rpc` endpoint (behind
 * the same token and Host/Origin checks as the pages). pynvme served
 * `list_all_qpair`, `get_cmdlog` and `get_iostat` to its VSCode console over a
 * local socket; these are the same queries plus a few of denvme's:
 *
 * | method | params | result |
 * | --- | --- | --- |
 * | `list_all_qpair` (`list_qpairs`) | — | `[{ctrl, qid, sq, depth, outstanding, sqTail, sqHead, cqHead, vector, ien, irqSet, label, model}]` |
 * | `get_cmdlog` | `[sq]` or `{sq, count}` (count ≤ 2048, default 128) | newest first: `[{seq, name, opcode, cid, nsid, cdw, cqe, status, statusName, latencyUs, line}]` |
 * | `get_iostat` | — | `{ios, seconds}`: IO-queue completions since the last call |
 * | `list_controllers` | — | `[{ctrl, dut, transport, model, serial, firmware}]` |
 * | `get_registers` | `[ctrl]` or `{ctrl}` | decoded CAP, VS, INTMS, CC, CSTS, AQA, ASQ, ACQ |
 * | `list_ioworkers` | — | progress of each ioworker (IOPS, latency, counts) |
 * | `get_status` | — | current test and pass/fail so far (under the harness) |
 * | `utility` | `{method, params}` | a read-only utility (identify, smart, logPage, features, namespaces) |
 *
 * @module
 */
import { type ConsoleState, entryJson } from "./state.ts";

interface RpcRequest {
  jsonrpc?: string;
  method?: unknown;
  params?: unknown;
  id?: unknown;
}

type Ask = (
  method: string,
  params: Record<string, unknown>,
) => Promise<unknown>;

class RpcError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

function param(p: unknown, name: string, index = 0): unknown {
  if (Array.isArray(p)) return p[index];
  if (p && typeof p === "object") return (p as Record<string, unknown>)[name];
  return undefined;
}

function intParam(
  p: unknown,
  name: string,
  def?: number,
  max = 2 ** 32,
): number {
  const v = param(p, name);
  if (v === undefined && def !== undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw new RpcError(
      -32602,
      `parameter ${name}=${JSON.stringify(v)}: allowed 0..${max}`,
    );
  }
  return n;
}

async function call(
  method: string,
  params: unknown,
  state: ConsoleState,
  ask: Ask,
): Promise<unknown> {
  switch (method) {
    case "list_all_qpair":
    case "list_qpairs":
      return [...state.queues.keys()].map((sq) => {
        const s = state.snapshot(sq, 0);
        const q = state.queues.get(sq)!;
        return s
          ? {
            ...s.stats,
            label: q.label,
            model: state.controllers.get(q.ctrl)?.model ?? "",
          }
          : undefined;
      }).filter(Boolean);
    case "get_cmdlog": {
      const sq = intParam(params, "sq");
      const count = intParam(params, "count", 128, 2048);
      const q = state.queues.get(sq);
      const s = q && state.snapshot(sq, count);
      if (!q || !s) {
        throw new RpcError(-32602, `no live queue with sq handle ${sq}`);
      }
      return s.log.map((e) => entryJson(e, q.qid === 0));
    }
    case "get_iostat":
      return state.iostat();
    case "list_controllers":
      return [...state.controllers.values()].filter((c) => !c.closed);
    case "get_registers":
      return state.registers(intParam(params, "ctrl"));
    case "list_ioworkers":
      return [...state.ioworkers.values()].map((w) => {
        const { samples: _s, ...rest } = state.ioworkerJson(w);
        return rest;
      });
    case "get_status":
      return state.testSummary();
    case "utility": {
      const m = String(param(params, "method", 0) ?? "");
      if (
        !["identify", "smart", "logPage", "features", "namespaces"].includes(m)
      ) {
        throw new RpcError(
          -32602,
          `utility ${m}: only read-only utilities over RPC`,
        );
      }
      const p = param(params, "params", 1);
      return await ask(m, (p ?? {}) as Record<string, unknown>);
    }
  }
  throw new RpcError(-32601, `unknown method ${method}`);
}

/**
 * Answer one JSON-RPC request body (a request or a batch).
 *
 * ```ts
 * await rpc('{"jsonrpc":"2.0","id":1,"method":"list_qpairs"}', state, ask);
 * ```
 */
export async function rpc(
  body: string,
  state: ConsoleState,
  ask: Ask,
): Promise<unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return {
      jsonrpc: "2.0",
      id: null,
      error: { code: -32700, message: "parse error" },
    };
  }
  const one = async (r: RpcRequest) => {
    try {
      if (typeof r?.method !== "string") {
        throw new RpcError(-32600, "invalid request: method missing");
      }
      return {
        jsonrpc: "2.0",
        id: r.id ?? null,
        result: await call(r.method, r.params, state, ask),
      };
    } catch (e) {
      const code = e instanceof RpcError ? e.code : -32000;
      return {
        jsonrpc: "2.0",
        id: r?.id ?? null,
        error: { code, message: (e as Error).message },
      };
    }
  };
  return Array.isArray(parsed)
    ? await Promise.all(parsed.map((r) => one(r as RpcRequest)))
    : await one(parsed as RpcRequest);
}

/**
 * A small QMP client for the guest-VM test: connects to QEMU's QMP unix
 * socket, negotiates capabilities, sends commands one at a time and hands
 * asynchronous events (DEVICE_DELETED, ...) to a callback.
 *
 * @module
 */

/** A QMP event as QEMU sends it. */
export interface QmpEvent {
  /** Event name, e.g. "DEVICE_DELETED". */
  event: string;
  /** Event data. */
  data?: Record<string, unknown>;
}

/**
 * A connection to one QEMU's QMP socket.
 *
 * ```ts
 * const qmp = await Qmp.connect("/tmp/run/qmp.sock", (e) => console.log(e.event));
 * await qmp.command("device_del", { id: "dut" });
 * qmp.close();
 * ```
 */
export class Qmp {
  #conn: Deno.UnixConn;
  #onEvent: (e: QmpEvent) => void;
  #pending: {
    resolve: (v: unknown) => void;
    reject: (e: Error) => void;
  }[] = [];
  #chain: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(conn: Deno.UnixConn, onEvent: (e: QmpEvent) => void) {
    this.#conn = conn;
    this.#onEvent = onEvent;
  }

  /**
   * Connect (retrying for up to `timeoutMs` while QEMU creates the socket)
   * and leave capabilities negotiation mode.
   */
  static async connect(
    path: string,
    onEvent: (e: QmpEvent) => void,
    timeoutMs = 10_000,
  ): Promise<Qmp> {
    const end = performance.now() + timeoutMs;
    for (;;) {
      try {
        const conn = await Deno.connect({ transport: "unix", path });
        const q = new Qmp(conn, onEvent);
        const greeting = q.#read();
        q.#pending.push({ resolve: () => {}, reject: () => {} }); // the greeting
        void greeting;
        await q.command("qmp_capabilities");
        return q;
      } catch (e) {
        if (performance.now() > end) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async #read(): Promise<void> {
    const dec = new TextDecoder();
    let buf = "";
    const chunk = new Uint8Array(65536);
    try {
      for (;;) {
        const n = await this.#conn.read(chunk);
        if (n === null) break;
        buf += dec.decode(chunk.subarray(0, n), { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (!line) continue;
          const msg = JSON.parse(line);
          if (msg.event) this.#onEvent(msg as QmpEvent);
          else if (msg.QMP) this.#pending.shift()?.resolve(msg);
          else if (msg.error) {
            this.#pending.shift()?.reject(
              new Error(`QMP: ${msg.error.desc ?? line}`),
            );
          } else this.#pending.shift()?.resolve(msg.return);
        }
      }
    } catch (e) {
      if (!this.#closed) {
        for (const p of this.#pending.splice(0)) p.reject(e as Error);
      }
    }
    for (const p of this.#pending.splice(0)) {
      p.reject(new Error("QMP connection closed"));
    }
  }

  /** Send one command and wait for its reply ("return" member). */
  command(execute: string, args?: Record<string, unknown>): Promise<unknown> {
    const run = async () => {
      const reply = new Promise<unknown>((resolve, reject) =>
        this.#pending.push({ resolve, reject })
      );
      const text = JSON.stringify(
        args ? { execute, arguments: args } : {
          execute,
        },
      ) + "\n";
      const bytes = new TextEncoder().encode(text);
      let off = 0;
      while (off < bytes.length) {
        off += await this.#conn.write(bytes.subarray(off));
      }
      return await reply;
    };
    const p = this.#chain.then(run, run);
    this.#chain = p.catch(() => {});
    return p;
  }

  /** Close the connection. */
  close(): void {
    this.#closed = true;
    try {
      this.#conn.close();
    } catch { /* closed */ }
  }
}

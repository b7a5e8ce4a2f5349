/**
 * Progress output of the command-line tools: a bar, and a status line that
 * rewrites itself on a terminal and prints one line per interval otherwise
 * (logs, CI), always on stderr so stdout stays clean for `--json`.
 *
 * @module
 */

/**
 * A text progress bar: `[#########.........] 45%`.
 *
 * ```ts
 * progressBar(0.45, 20); // "[#########...........]  45%"
 * ```
 */
export function progressBar(fraction: number, width = 40): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.floor(f * width);
  return `[${"#".repeat(full)}${".".repeat(width - full)}] ${
    String(Math.floor(f * 100)).padStart(3)
  }%`;
}

/** Options of {@link ProgressLine}. */
export interface ProgressLineOptions {
  /** Rewrite the line in place (a terminal). Default: stderr is a terminal. */
  tty?: boolean;
  /** Without a terminal, print at most one line per this many ms. Default 1000. */
  intervalMs?: number;
  /** Where to write. Default stderr. */
  write?: (text: string) => void;
}

/**
 * A live status line on stderr: on a terminal it is rewritten in place
 * (`\r` and clear-to-end), otherwise a new line is printed at most once per
 * `intervalMs`, so piped output and CI logs show the progress too.
 *
 * ```ts
 * const line = new ProgressLine();
 * line.update("sanitize [#####.....] 50%");
 * line.done("sanitize completed");
 * ```
 */
export class ProgressLine {
  readonly #tty: boolean;
  readonly #interval: number;
  readonly #write: (text: string) => void;
  #last = -Infinity;
  #shown = false;

  /** A status line (see {@link ProgressLineOptions}). */
  constructor(opts: ProgressLineOptions = {}) {
    this.#tty = opts.tty ?? Deno.stderr.isTerminal();
    this.#interval = opts.intervalMs ?? 1000;
    const enc = new TextEncoder();
    this.#write = opts.write ?? ((t) => {
      const b = enc.encode(t);
      for (let off = 0; off < b.length;) {
        off += Deno.stderr.writeSync(b.subarray(off));
      }
    });
  }

  /** Show `text` as the current status (throttled without a terminal). */
  update(text: string, force = false): void {
    if (this.#tty) {
      this.#write(`\r${text}\x1b[K`);
      this.#shown = true;
      return;
    }
    const now = performance.now();
    if (!force && now - this.#last < this.#interval) return;
    this.#last = now;
    this.#write(`${text}\n`);
  }

  /** End the line (on a terminal), then print `text` when given. */
  done(text?: string): void {
    if (this.#tty && this.#shown) this.#write("\r\x1b[K");
    this.#shown = false;
    if (text !== undefined) this.#write(`${text}\n`);
  }
}

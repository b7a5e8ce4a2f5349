/**
 * Many devices at once: test files split across devices under test, one
 * `deno test` process per device, run in parallel; their results merged.
 * Used by `deno task conformance --dut A --dut B` and `deno task test --dut A
 * --dut B`.
 *
 * - {@link testFiles} lists the `*_test.ts` files under some roots;
 * - {@link partition} splits them into one shard per device, longest first
 *   onto the least loaded shard, from the durations of the last run when
 *   known (else from the number of tests in each file);
 * - {@link runShards} runs one child process per shard with the device in
 *   `NVME_DUT` and its own output files, prefixing each output line with the
 *   device, and returns when all ended;
 * - {@link mergeJunit} merges JUnit files into one;
 * - {@link replayCommand} is the command line that replays one test.
 *
 * @module
 */

/**
 * One device's share of the files, and where its outputs go.
 *
 * ```ts
 * declare const files: string[];
 * const s: Shard = { index: 0, dut: "qemu", slug: "1-qemu", files: ["tests/a_test.ts"], cost: 1 };
 * ```
 */
export interface Shard {
  /** 0-based position of the device in the `--dut` list. */
  index: number;
  /** The device name (`--dut`). */
  dut: string;
  /** A file-name-safe label: position and device, e.g. "1-qemu", "2-0000_01_00.0". */
  slug: string;
  /** The test files this device runs. */
  files: string[];
  /** Estimated cost (ms of the last run, or test count). */
  cost: number;
}

/**
 * A file-name-safe label of device `dut` at position `index` (0-based).
 *
 * ```ts
 * dutSlug("qemu:size=16T,lba=4096", 0); // "1-qemu_size_16T_lba_4096"
 * ```
 */
export function dutSlug(dut: string, index: number): string {
  return `${index + 1}-${dut.replace(/[^A-Za-z0-9.-]+/g, "_").slice(0, 48)}`;
}

/**
 * The `*_test.ts` files under `roots` (files or directories), sorted, as
 * paths relative to `base`.
 *
 * ```ts
 * testFiles(["tests/conformance"], "/repo/"); // ["tests/conformance/admin/aer_test.ts", ...]
 * ```
 */
export function testFiles(roots: readonly string[], base: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    const st = Deno.statSync(base + rel);
    if (st.isFile) {
      if (/_test\.[jt]s$/.test(rel)) out.push(rel);
      return;
    }
    for (const e of Deno.readDirSync(base + rel)) {
      walk(`${rel.replace(/\/$/, "")}/${e.name}`);
    }
  };
  for (const r of roots) walk(r);
  return [...new Set(out)].sort();
}

/**
 * The cost of each file: the sum of its tests' durations in earlier result
 * records (JSON lines with `file` and `ms`), else its number of tests
 * (`nvmeTest(` and `Deno.test(` calls) × the median ms per test.
 *
 * ```ts
 * declare const files: string[];
 * const cost = fileCosts(files, "/repo/", ["test-results/conformance.jsonl"]);
 * ```
 */
export function fileCosts(
  files: readonly string[],
  base: string,
  resultFiles: readonly string[] = [],
): Map<string, number> {
  const known = new Map<string, number>();
  for (const rf of resultFiles) {
    let text = "";
    try {
      text = Deno.readTextFileSync(rf);
    } catch {
      continue;
    }
    const seen = new Map<string, number>();
    for (const line of text.split("\n")) {
      try {
        const r = JSON.parse(line);
        if (r.event === "end" && typeof r.ms === "number" && r.file) {
          seen.set(`${r.file}\0${r.name}`, r.ms);
        }
      } catch { /* a torn line */ }
    }
    for (const [k, ms] of seen) {
      const f = k.slice(0, k.indexOf("\0"));
      known.set(f, (known.get(f) ?? 0) + ms);
    }
  }
  const perTest: number[] = [];
  const counts = new Map<string, number>();
  for (const f of files) {
    let n = 1;
    try {
      const src = Deno.readTextFileSync(base + f);
      n = Math.max(
        1,
        (src.match(/\b(nvmeTest|Deno\.test|[a-zA-Z]+Test)\(/g) ?? []).length,
      );
    } catch { /* unreadable: one test */ }
    counts.set(f, n);
    const k = known.get(f);
    if (k !== undefined) perTest.push(k / n);
  }
  perTest.sort((a, b) => a - b);
  const median = perTest.length ? perTest[Math.floor(perTest.length / 2)] : 1;
  return new Map(
    files.map((f) => [f, known.get(f) ?? counts.get(f)! * median]),
  );
}

/**
 * Split `files` into one shard per device: each file, longest first, goes to
 * the shard with the least cost so far (the longest-processing-time rule).
 *
 * ```ts
 * declare const files: string[];
 * declare const base: string;
 * const shards = partition(files, fileCosts(files, base), ["qemu", "qemu"]);
 * ```
 */
export function partition(
  files: readonly string[],
  cost: ReadonlyMap<string, number>,
  duts: readonly string[],
): Shard[] {
  const shards: Shard[] = duts.map((dut, index) => ({
    index,
    dut,
    slug: dutSlug(dut, index),
    files: [],
    cost: 0,
  }));
  const order = [...files].sort((a, b) =>
    (cost.get(b) ?? 1) - (cost.get(a) ?? 1) || a.localeCompare(b)
  );
  for (const f of order) {
    const s = shards.reduce((m, x) => x.cost < m.cost ? x : m);
    s.files.push(f);
    s.cost += cost.get(f) ?? 1;
  }
  for (const s of shards) s.files.sort();
  return shards;
}

/**
 * How one shard ended.
 *
 * ```ts
 * declare const shards: Shard[];
 * declare const root: string;
 * const ends: ShardEnd[] = await runShards(shards, (s) => ({ args: ["test", ...s.files], env: {} }), root);
 * ```
 */
export interface ShardEnd {
  /** The shard. */
  shard: Shard;
  /** The child's exit code. */
  code: number;
  /** Wall time in seconds. */
  seconds: number;
}

/**
 * Run one `deno` child per shard, in parallel, with `NVME_DUT` set to the
 * shard's device; each output line is prefixed with `[slug] ` (unless
 * `prefix` is false: the output is the child's own). Resolves when every
 * child ended.
 *
 * ```ts
 * declare const shards: Shard[];
 * await runShards(shards, (s) => ({ args: ["test", "-A", ...s.files], env: { DENVME_RESULTS: `${s.slug}.jsonl` } }), "/repo/");
 * ```
 */
export async function runShards(
  shards: readonly Shard[],
  command: (s: Shard) => { args: string[]; env: Record<string, string> },
  cwd: string,
  prefix = true,
): Promise<ShardEnd[]> {
  const enc = new TextEncoder();
  const pump = async (
    stream: ReadableStream<Uint8Array>,
    prefix: string,
    out: { write(b: Uint8Array): Promise<number> },
  ) => {
    const dec = new TextDecoder();
    let rest = "";
    for await (const chunk of stream) {
      rest += dec.decode(chunk, { stream: true });
      const lines = rest.split("\n");
      rest = lines.pop()!;
      if (lines.length) {
        await out.write(
          enc.encode(lines.map((l) => prefix + l).join("\n") + "\n"),
        );
      }
    }
    if (rest) await out.write(enc.encode(prefix + rest + "\n"));
  };
  return await Promise.all(shards.map(async (s) => {
    const t0 = performance.now();
    if (!s.files.length) return { shard: s, code: 0, seconds: 0 };
    const { args, env } = command(s);
    const child = new Deno.Command(Deno.execPath(), {
      args,
      env: { ...env, NVME_DUT: s.dut },
      cwd,
      stdin: "null",
      stdout: prefix ? "piped" : "inherit",
      stderr: prefix ? "piped" : "inherit",
    }).spawn();
    if (prefix) {
      const p = `[${s.slug}] `;
      await Promise.all([
        pump(child.stdout, p, Deno.stdout),
        pump(child.stderr, p, Deno.stderr),
      ]);
    }
    const { code } = await child.status;
    return { shard: s, code, seconds: (performance.now() - t0) / 1000 };
  }));
}

function attr(tag: string, name: string): number {
  const m = new RegExp(`\\s${name}="([0-9.]+)"`).exec(tag);
  return m ? Number(m[1]) : 0;
}

/**
 * Merge JUnit documents into one `<testsuites>`: each input's test suites,
 * their names prefixed with `label` (the device), totals summed.
 *
 * ```ts
 * declare const a: string, b: string; // JUnit XML of two shards
 * const merged = mergeJunit([{ label: "1-qemu", xml: a }, { label: "2-qemu", xml: b }], "conformance");
 * ```
 */
export function mergeJunit(
  parts: readonly { label: string; xml: string }[],
  name: string,
): string {
  let tests = 0, failures = 0, errors = 0, skipped = 0, time = 0;
  const body: string[] = [];
  for (const { label, xml } of parts) {
    const open = /<testsuites\b[^>]*>/.exec(xml);
    const close = xml.lastIndexOf("</testsuites>");
    if (!open || close < 0) continue;
    tests += attr(open[0], "tests");
    failures += attr(open[0], "failures");
    errors += attr(open[0], "errors");
    skipped += attr(open[0], "skipped");
    time += attr(open[0], "time");
    const inner = xml.slice(open.index + open[0].length, close)
      .replace(
        /<testsuite\b([^>]*?)\sname="([^"]*)"/g,
        (_m, pre, n) => `<testsuite${pre} name="${esc(label)}: ${n}"`,
      );
    body.push(inner.replace(/^\n+|\s+$/g, ""));
  }
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="${
      esc(name)
    }" tests="${tests}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${
      time.toFixed(3)
    }">`,
    ...body,
    `</testsuites>`,
    "",
  ].join("\n");
}

function esc(s: string): string {
  return s.replace(
    /[<>&"]/g,
    (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!,
  );
}

/**
 * The shell command that replays one test: its seed, its device, its file
 * and its name.
 *
 * ```ts
 * replayCommand({ seed: "0x1a2b3c4d", dut: "qemu", file: "tests/conformance/nvm/read_write_test.ts", name: "SLBA FFFFFFFFFFFFFFFFh → LBA Out of Range" });
 * // DENVME_SEED=0x1a2b3c4d deno task conformance --dut 'qemu' --file tests/conformance/nvm/read_write_test.ts --filter 'SLBA FFFFFFFFFFFFFFFFh → LBA Out of Range'
 * ```
 */
export function replayCommand(
  r: { seed: string; dut?: string; file: string; name: string },
  task = "conformance",
): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  // deno test reads a filter between slashes as a regular expression
  const filter = /^\/.*\/$/.test(r.name) ? `${r.name} ` : r.name;
  return `DENVME_SEED=${r.seed} deno task ${task}${
    r.dut ? ` --dut ${q(r.dut)}` : ""
  } --file ${r.file} --filter ${q(filter)}`;
}

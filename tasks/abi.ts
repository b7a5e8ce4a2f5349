/**
 * `deno task abi` — generate ffi/abi.gen.ts from libnvmeshim's public headers
 * (libnvmeshim/include/*.h), the one source of the C<->TypeScript boundary:
 *
 * - the Deno.dlopen symbol table, parsed from the `NVME_API` prototypes of
 *   nvmeshim.h with their kernel-doc summaries (a line "FFI: nonblocking as
 *   NAME" adds a nonblocking twin);
 * - the size and field offsets of every struct of the public headers, and the
 *   value of every constant (`#define NAME value`), printed by a small C
 *   program compiled against the headers, so the layout is the compiler's;
 * - the opcode names of nvme_opcodes.h (its X-macro tables).
 *
 * `deno task abi --check` (run by `deno task check`) regenerates into a
 * temporary file and fails when ffi/abi.gen.ts differs from it.
 *
 * @module
 */

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const INCLUDE = `${ROOT}/libnvmeshim/include`;
const HEADERS = ["nvmeshim.h", "nvmeshim_ioworker.h", "nvme_opcodes.h"];
const OUT = `${ROOT}/ffi/abi.gen.ts`;

/** One exported function, as parsed from its prototype. */
interface Func {
  name: string;
  doc: string;
  result: string;
  params: string[];
  proto: string;
  nonblocking?: string;
}

/** One struct of the public headers. */
interface Struct {
  name: string;
  doc: string;
  fields: string[];
}

/** One `#define NAME value` constant. */
interface Constant {
  name: string;
  doc: string;
}

function fail(msg: string): never {
  console.error(`abi: ${msg}`);
  Deno.exit(1);
}

/** The Deno FFI type of a C parameter or result type. */
function ffiType(cType: string, result: boolean): string {
  const t = cType.replace(/\bconst\b/g, "").replace(/\s+/g, " ").trim();
  if (t.includes("*")) return result ? "pointer" : "buffer";
  switch (t) {
    case "void":
      return "void";
    case "uint32_t":
    case "unsigned":
      return "u32";
    case "int":
    case "int32_t":
      return "i32";
    case "uint64_t":
      return "u64";
    case "int64_t":
      return "i64";
    case "uint8_t":
      return "u8";
    case "uint16_t":
      return "u16";
    case "double":
      return "f64";
  }
  return fail(`no FFI type for the C type "${cType}"`);
}

/** The first sentence of a kernel-doc comment, on one line. */
function summary(doc: string): string {
  const lines = doc.trim().replace(/^\/\*\*?/, "").replace(/\*\/$/, "").split(
    "\n",
  )
    .map((l) => l.replace(/^\s*\*\s?/, "").trim()).filter((l) => l);
  const text: string[] = [];
  for (const l of lines) {
    if (/^@\w+/.test(l) || /^(Return|FFI):/.test(l)) break;
    text.push(l);
  }
  return text.join(" ").replace(/^\w+\(\)\s*-\s*/, "").replace(/\*\//g, "* /");
}

function parseFunctions(src: string): Func[] {
  const out: Func[] = [];
  const re =
    /(\/\*\*(?:(?!\*\/)[\s\S])*\*\/)?\s*^NVME_API\s+([\w\s*]+?)\s*\b(nvme_\w+)\s*\(([^)]*)\)\s*;/gm;
  for (const m of src.matchAll(re)) {
    const [, doc = "", ret, name, plist] = m;
    if (!doc) fail(`${name}: an exported function needs a kernel-doc comment`);
    const params = plist.trim() === "void" ? [] : plist.split(",").map((p) => {
      const decl = p.trim().replace(/\s+/g, " ");
      const type = decl.replace(/\s*\b\w+$/, "");
      return ffiType(type, false);
    });
    const nb = /FFI: nonblocking as (\w+)/.exec(doc);
    out.push({
      name,
      doc: summary(doc),
      result: ffiType(ret, true),
      params,
      proto: `${ret.trim()} ${name}(${plist.replace(/\s+/g, " ").trim()})`,
      nonblocking: nb?.[1],
    });
  }
  return out;
}

function parseStructs(src: string): Struct[] {
  const out: Struct[] = [];
  const re = /(^\/\*(?:(?!\*\/)[\s\S])*\*\/\s*)?^struct (\w+) \{([^}]*)\};/gm;
  for (const m of src.matchAll(re)) {
    const [, doc = "", name, body] = m;
    const decls = body.replace(/\/\*[\s\S]*?\*\//g, "").split(";")
      .map((d) => d.trim()).filter((d) => d);
    const fields: string[] = [];
    for (const d of decls) {
      // "uint32_t a, b[4]" / "struct iow_size sizes[IOW_MAX_SIZES]"
      const first =
        /^(?:struct\s+\w+|[\w\s]+?)\s+(\w+(?:\[[^\]]*\])?(?:\s*,\s*\w+(?:\[[^\]]*\])?)*)$/
          .exec(d.replace(/\s+/g, " "));
      if (!first) fail(`struct ${name}: cannot parse the field "${d}"`);
      for (const n of first[1].split(",")) {
        fields.push(n.trim().replace(/\[.*$/, ""));
      }
    }
    out.push({ name, doc: summary(doc), fields });
  }
  return out;
}

function parseConstants(src: string): Constant[] {
  const out: Constant[] = [];
  for (const line of src.split("\n")) {
    const m = /^#define ([A-Z][A-Z0-9_]*)\s+(.+)$/.exec(line);
    if (!m) continue;
    const [, name, rest] = m;
    if (name === "NVME_API" || /_H$/.test(name)) continue;
    const doc = /\/\*\s*(.*?)\s*\*\//.exec(rest)?.[1] ?? "";
    const value = rest.replace(/\/\*.*?\*\//g, "").trim();
    if (!value || value.endsWith("\\")) continue;
    out.push({ name, doc });
  }
  return out;
}

/** The C program that prints sizes, offsets, constants and opcode names as JSON. */
function probe(structs: Struct[], constants: Constant[]): string {
  const lines = [
    "#include <stddef.h>",
    "#include <stdio.h>",
    ...HEADERS.map((h) => `#include "${h}"`),
    "int main(void)",
    "{",
    '\tprintf("{\\"structs\\": {");',
  ];
  structs.forEach((s, i) => {
    lines.push(
      `\tprintf("%s\\"${s.name}\\": {\\"sizeof\\": %zu", ${
        i ? '", "' : '""'
      }, sizeof(struct ${s.name}));`,
    );
    for (const f of s.fields) {
      lines.push(
        `\tprintf(", \\"${f}\\": %zu", offsetof(struct ${s.name}, ${f}));`,
      );
    }
    lines.push('\tprintf("}");');
  });
  lines.push('\tprintf("}, \\"constants\\": {");');
  constants.forEach((c, i) => {
    lines.push(
      `\tprintf("%s\\"${c.name}\\": %lld", ${
        i ? '", "' : '""'
      }, (long long)(${c.name}));`,
    );
  });
  lines.push('\tprintf("}, \\"admin\\": [");');
  lines.push(
    '#define P(sym, val, name) printf("%s[%d, \\"%s\\"]", val ? ", " : "", val, name);',
  );
  lines.push("\tNVME_ADMIN_OPCODES(P)");
  lines.push('\tprintf("], \\"io\\": [");');
  lines.push("\tNVME_IO_OPCODES(P)");
  lines.push('\tprintf("]}\\n");');
  lines.push("\treturn 0;", "}", "");
  return lines.join("\n");
}

async function run(cmd: string, args: string[]): Promise<string> {
  const o = await new Deno.Command(cmd, {
    args,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!o.success) {
    fail(
      `${cmd} ${args.join(" ")} failed:\n${new TextDecoder().decode(o.stderr)}`,
    );
  }
  return new TextDecoder().decode(o.stdout);
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(2, "0")}`;
}

function jsdoc(text: string): string {
  return `/** ${text.replace(/\*\//g, "* /")} */`;
}

/** The generated module's text (before `deno fmt`). */
async function generate(): Promise<string> {
  const src = Object.fromEntries(
    HEADERS.map((h) => [h, Deno.readTextFileSync(`${INCLUDE}/${h}`)]),
  );
  const funcs = parseFunctions(src["nvmeshim.h"]);
  const structs = HEADERS.flatMap((h) => parseStructs(src[h]));
  const constants = HEADERS.flatMap((h) => parseConstants(src[h]));
  const tmp = Deno.makeTempDirSync({ prefix: "denvme-abi-" });
  try {
    Deno.writeTextFileSync(`${tmp}/probe.c`, probe(structs, constants));
    await run(Deno.env.get("CC") ?? "cc", [
      "-std=gnu11",
      "-Wall",
      "-Werror",
      `-I${INCLUDE}`,
      "-o",
      `${tmp}/probe`,
      `${tmp}/probe.c`,
    ]);
    const facts = JSON.parse(await run(`${tmp}/probe`, [])) as {
      structs: Record<string, Record<string, number>>;
      constants: Record<string, number>;
      admin: [number, string][];
      io: [number, string][];
    };
    const o: string[] = [];
    o.push(
      "// Generated by `deno task abi` (tasks/abi.ts) from libnvmeshim/include/*.h: do not edit.",
      "/**",
      " * libnvmeshim's ABI as the compiler sees it: the Deno.dlopen symbol table",
      " * (from the prototypes of nvmeshim.h), the size and field offsets of the",
      " * shared structs, the constants, and the opcode names. To change it, edit",
      " * the headers and run `deno task abi`.",
      " *",
      " * @module",
      " */",
      "",
      "/** The FFI declaration of libnvmeshim's exported functions (nvmeshim.h). */",
      "export const symbols = {",
    );
    for (const f of funcs) {
      o.push(`  ${jsdoc(`${f.proto}: ${f.doc}`)}`);
      o.push(
        `  ${f.name}: { parameters: ${
          JSON.stringify(f.params)
        }, result: "${f.result}" },`,
      );
      if (f.nonblocking) {
        o.push(`  ${jsdoc(`${f.name}() run off the event loop (a promise)`)}`);
        o.push(
          `  ${f.nonblocking}: { name: "${f.name}", parameters: ${
            JSON.stringify(f.params)
          }, result: "${f.result}", nonblocking: true },`,
        );
      }
    }
    o.push("} as const satisfies Deno.ForeignLibraryInterface;", "");
    const names = new Set<string>();
    for (const c of constants) {
      names.add(c.name);
      o.push(jsdoc(`${c.name}${c.doc ? `: ${c.doc}` : ""}`));
      o.push(`export const ${c.name} = ${facts.constants[c.name]};`);
    }
    o.push("");
    for (const s of structs) {
      const name = s.name.toUpperCase();
      if (names.has(name)) fail(`struct ${s.name} collides with a constant`);
      names.add(name);
      o.push(
        jsdoc(
          `struct ${s.name}: its size (sizeof) and the byte offset of each field${
            s.doc ? ` (${s.doc})` : ""
          }`,
        ),
      );
      const f = facts.structs[s.name];
      o.push(
        `export const ${name} = { ${
          Object.entries(f).map(([k, v]) => `${k}: ${v}`).join(", ")
        } } as const;`,
      );
    }
    o.push("");
    for (const [key, title] of [["admin", "Admin"], ["io", "I/O"]] as const) {
      o.push(jsdoc(`${title} command names by opcode (nvme_opcodes.h).`));
      o.push(
        `export const ${key.toUpperCase()}_OPCODE_NAMES: Readonly<Record<number, string>> = {`,
      );
      for (const [v, n] of facts[key]) {
        o.push(`  ${hex(v)}: ${JSON.stringify(n)},`);
      }
      o.push("};");
    }
    o.push("");
    return o.join("\n");
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
}

/** `deno fmt` the text, as the project formats its files. */
async function format(text: string): Promise<string> {
  const file = Deno.makeTempFileSync({ prefix: "abi-", suffix: ".ts" });
  try {
    Deno.writeTextFileSync(file, text);
    await run(Deno.execPath(), ["fmt", "--quiet", file]);
    return Deno.readTextFileSync(file);
  } finally {
    Deno.removeSync(file);
  }
}

if (import.meta.main) {
  const text = await format(await generate());
  if (Deno.args.includes("--check")) {
    let now = "";
    try {
      now = Deno.readTextFileSync(OUT);
    } catch { /* missing: stale */ }
    if (now !== text) {
      fail(
        "ffi/abi.gen.ts is stale: libnvmeshim/include/*.h changed; run `deno task abi`",
      );
    }
  } else {
    Deno.writeTextFileSync(OUT, text);
    console.log(`abi: wrote ffi/abi.gen.ts`);
  }
}

/**
 * JUnit XML, read and written with fast-xml-parser (escaping and entities are
 * the library's): {@link readJUnit} turns Deno's `--junit-path` output (or the
 * conformance task's, or pytest's) into test cases; {@link writeJUnit} writes
 * suites of cases. Small and reusable: a runner that merges the results of
 * several devices builds one {@link JUnitSuite} per device (or area) and calls
 * `writeJUnit` once.
 *
 * ```ts
 * import { readJUnit, writeJUnit } from "./junit.ts";
 *
 * const cases = readJUnit(Deno.readTextFileSync("test-results/tests.xml"));
 * const xml = writeJUnit("merged", [{ name: "qemu", cases }]);
 * ```
 *
 * @module
 */
import {
  XMLBuilder,
  XMLParser,
  // deno-lint-ignore no-import-prefix -- importable from a user's project without an import map
} from "npm:fast-xml-parser@5.12.1";

/**
 * One `<testcase>`.
 *
 * ```ts
 * declare const xml: string;
 * const failed = readJUnit(xml).filter((c: JUnitCase) => c.failure);
 * ```
 */
export interface JUnitCase {
  /** The test suite (Deno: the test file). */
  suite: string;
  /** Test name. */
  name: string;
  /** Class name (Deno: the test file). */
  classname?: string;
  /** Seconds. */
  time?: number;
  /** Failure message, type and text, when it failed. */
  failure?: { message: string; text: string; type?: string };
  /** True when skipped or ignored. */
  skipped?: boolean;
  /** The skip's message and type (written; read back when present). */
  skip?: { message: string; type?: string };
  /** Text for `<system-out>`. */
  systemOut?: string;
}

/**
 * One `<testsuite>` to write.
 *
 * ```ts
 * const suite: JUnitSuite = { name: "admin", cases: [{ suite: "admin", name: "identify", time: 0.1 }] };
 * ```
 */
export interface JUnitSuite {
  /** Suite name (an area, a device, a file). */
  name: string;
  /** Its test cases. */
  cases: JUnitCase[];
}

const ATTR = "@_";
const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: ATTR,
  textNodeName: "#text",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  isArray: (name) =>
    ["testsuite", "testcase", "failure", "error"].includes(name),
});

type Node = Record<string, unknown>;

function text(n: unknown): string {
  if (n === undefined || n === null) return "";
  if (typeof n === "string") return n;
  return String((n as Node)["#text"] ?? "");
}

function attr(n: unknown, name: string): string | undefined {
  if (!n || typeof n !== "object") return undefined;
  const v = (n as Node)[`${ATTR}${name}`];
  return v === undefined ? undefined : String(v);
}

function suitesOf(doc: Node): Node[] {
  const out: Node[] = [];
  const visit = (n: unknown) => {
    if (!n || typeof n !== "object") return;
    const node = n as Node;
    for (const s of (node.testsuite as Node[] | undefined) ?? []) {
      out.push(s);
      visit(s); // nested suites
    }
  };
  visit(doc);
  visit(doc.testsuites);
  return out;
}

/**
 * The test cases of a JUnit XML document, with their suite, time, failure
 * (or error) and skip.
 *
 * ```ts
 * const cases = readJUnit(Deno.readTextFileSync("test-results/tests.xml"));
 * ```
 */
export function readJUnit(xml: string): JUnitCase[] {
  const doc = parser.parse(xml) as Node;
  const out: JUnitCase[] = [];
  for (const s of suitesOf(doc)) {
    const suite = attr(s, "name") ?? "";
    for (const c of (s.testcase as Node[] | undefined) ?? []) {
      const time = attr(c, "time");
      const tc: JUnitCase = {
        suite,
        name: attr(c, "name") ?? "",
        classname: attr(c, "classname"),
        time: time !== undefined ? Number(time) : undefined,
      };
      const f = ((c.failure ?? c.error) as Node[] | undefined)?.[0];
      if (f !== undefined) {
        tc.failure = {
          message: attr(f, "message") ?? "",
          text: text(f).trim(),
          type: attr(f, "type"),
        };
      }
      if ("skipped" in c) {
        tc.skipped = true;
        tc.skip = {
          message: attr(c.skipped, "message") ?? "",
          type: attr(c.skipped, "type"),
        };
      }
      const so = c["system-out"];
      if (so !== undefined) tc.systemOut = text(so);
      out.push(tc);
    }
  }
  return out;
}

// characters XML 1.0 cannot carry at all
// deno-lint-ignore no-control-regex
const INVALID = /[\x00-\x08\x0b\x0c\x0e-\x1f]/g;
const clean = (s: string) => s.replace(INVALID, "");

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: ATTR,
  textNodeName: "#text",
  format: true,
  indentBy: "  ",
  suppressEmptyNode: true,
});

/**
 * A JUnit XML document: `<testsuites name>` holding one `<testsuite>` per
 * suite with its counts, one `<testcase>` per case.
 *
 * ```ts
 * declare const cases: JUnitCase[];
 * const xml = writeJUnit("conformance", [{ name: "admin", cases }]);
 * Deno.writeTextFileSync("test-results/conformance.xml", xml);
 * ```
 */
export function writeJUnit(
  name: string,
  suites: readonly JUnitSuite[],
): string {
  const secs = (t?: number) => (t ?? 0).toFixed(3);
  const count = (cs: readonly JUnitCase[]) => ({
    tests: cs.length,
    failures: cs.filter((c) => c.failure).length,
    skipped: cs.filter((c) => !c.failure && (c.skipped || c.skip)).length,
    time: cs.reduce((s, c) => s + (c.time ?? 0), 0),
  });
  const all = count(suites.flatMap((s) => s.cases));
  const doc = {
    "?xml": { [`${ATTR}version`]: "1.0", [`${ATTR}encoding`]: "UTF-8" },
    testsuites: {
      [`${ATTR}name`]: clean(name),
      [`${ATTR}tests`]: all.tests,
      [`${ATTR}failures`]: all.failures,
      [`${ATTR}skipped`]: all.skipped,
      [`${ATTR}time`]: secs(all.time),
      testsuite: suites.map((s) => {
        const c = count(s.cases);
        return {
          [`${ATTR}name`]: clean(s.name),
          [`${ATTR}tests`]: c.tests,
          [`${ATTR}failures`]: c.failures,
          [`${ATTR}errors`]: 0,
          [`${ATTR}skipped`]: c.skipped,
          [`${ATTR}time`]: secs(c.time),
          testcase: s.cases.map((tc) => {
            const node: Node = {
              [`${ATTR}classname`]: clean(tc.classname ?? s.name),
              [`${ATTR}name`]: clean(tc.name),
              [`${ATTR}time`]: secs(tc.time),
            };
            if (tc.failure) {
              node.failure = {
                [`${ATTR}message`]: clean(tc.failure.message),
                ...(tc.failure.type
                  ? { [`${ATTR}type`]: clean(tc.failure.type) }
                  : {}),
                ...(tc.failure.text ? { "#text": clean(tc.failure.text) } : {}),
              };
            } else if (tc.skipped || tc.skip) {
              node.skipped = {
                ...(tc.skip?.type
                  ? { [`${ATTR}type`]: clean(tc.skip.type) }
                  : {}),
                [`${ATTR}message`]: clean(tc.skip?.message ?? ""),
              };
            }
            if (tc.systemOut) node["system-out"] = clean(tc.systemOut);
            return node;
          }),
        };
      }),
    },
  };
  return builder.build(doc) as string;
}

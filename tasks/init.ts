/**
 * `deno task init <dir>` — a test project of your own that uses denvme (what
 * `make setup` and `conftest.py` gave pynvme users): a deno.json with the
 * imports (`denvme`, `denvme/testing`, `denvme/report`) and the tasks `test`,
 * `report` and `console`, one example test using the fixtures, a README.
 *
 *   deno task init ~/ssd-tests && cd ~/ssd-tests && deno task test
 *
 * The directory must be new or empty. Only `--allow-ffi` (and `--allow-write`
 * for test.log) is needed to run the tests.
 *
 * @module
 */
import { parseArgs } from "node:util";

const ROOT = new URL("..", import.meta.url);

const USAGE = `usage: deno task init <dir>
creates a test project in <dir> (new or empty): deno.json (imports denvme,
denvme/testing, denvme/report; tasks test, report, console), tests/example_test.ts
(fixtures), README.md`;

/** The files of a new project, by path relative to its directory. */
export function scaffold(root: URL = ROOT): Record<string, string> {
  const at = (p: string) => new URL(p, root).href;
  const path = (p: string) => new URL(p, root).pathname;
  const denoJson = {
    imports: {
      "denvme": at("mod.ts"),
      "denvme/testing": at("testing.ts"),
      "denvme/report": at("report/mod.ts"),
    },
    tasks: {
      test: {
        description:
          "Run the tests (on --dut NAME, else NVME_DUT, else the embedded device)",
        command:
          "deno test --allow-ffi --allow-write --allow-env --junit-path=test-results/tests.xml tests/",
      },
      report: {
        description:
          "Summarize the last test run; --html OUT.html writes the report",
        command: `deno run --allow-read --allow-write --allow-env --allow-run ${
          path("tasks/report.ts")
        } test-results/test.log`,
      },
      console: {
        description: "The live web console on a device",
        command:
          `deno run --allow-ffi --allow-env --allow-read --allow-net=127.0.0.1 ${
            path("tasks/console.ts")
          }`,
      },
    },
  };
  const example = `/**
 * An example test: run with \`deno task test\` (or deno test --allow-ffi tests/).
 * Fixtures are named in \`needs\` and set up before the test, torn down after.
 */
import { nvmeTest } from "denvme/testing";

nvmeTest("hello world: write, read back", {
  needs: ["nvme0n1", "qpair", "buf"],
}, ({ nvme0n1, qpair, buf }) => {
  buf.write("hello world");
  nvme0n1.write(qpair, buf, 0, 1).waitdone();
  buf.fill(); // zeros
  nvme0n1.read(qpair, buf, 0, 1).waitdone();
  if (buf.data(10, 0, "str") !== "hello world") {
    throw new Error("read back differs");
  }
});

nvmeTest("SMART: the composite temperature is sane", { needs: ["nvme0"] }, ({ nvme0 }) => {
  const kelvin = nvme0.smartLog().temperature;
  if (kelvin < 273 || kelvin > 373) throw new Error(\`temperature \${kelvin} K\`);
});
`;
  const readme = `# NVMe tests

Tests on [denvme](${at("README.md")}) fixtures.

    deno task test                      # the embedded device (QEMU's NVMe model)
    deno task test -- --dut 01:00.0     # a real SSD bound to vfio-pci
    deno task report --html report.html # the last run, failures with their cmdlogs
    deno task console                   # the live web console on a device

Add tests as \`tests/*_test.ts\`; \`import { nvmeTest } from "denvme/testing"\` gives the
fixtures (\`nvme0\`, \`nvme0n1\`, \`qpair\`, \`buf\`, \`pcie\`, \`subsystem\`, \`verify\`), and
\`import { Controller, Namespace, ... } from "denvme"\` the driver. The log of every
run is \`test-results/test.log\`.
`;
  return {
    "deno.json": JSON.stringify(denoJson, null, 2) + "\n",
    "tests/example_test.ts": example,
    "README.md": readme,
    ".gitignore": "/test-results/\n",
  };
}

if (import.meta.main) {
  const { positionals, values } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { help: { type: "boolean", short: "h" } },
  });
  if (values.help || positionals.length !== 1) {
    console.log(USAGE);
    Deno.exit(values.help ? 0 : 2);
  }
  const dir = positionals[0].replace(/\/+$/, "");
  try {
    const entries = [...Deno.readDirSync(dir)];
    if (entries.length) {
      console.error(
        `error: ${dir} is not empty: give a new or empty directory`,
      );
      Deno.exit(1);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  for (const [file, text] of Object.entries(scaffold())) {
    const path = `${dir}/${file}`;
    Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    Deno.writeTextFileSync(path, text);
    console.log(`wrote ${path}`);
  }
  console.log(`next: cd ${dir} && deno task test`);
}

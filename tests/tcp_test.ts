/**
 * NVMe over TCP: device names, the discovery log, Fabrics Connect and
 * properties, in-capsule and R2T data, digests, keep alive, and the faults
 * (no listener, wrong subsystem NQN, the target killed in the middle of I/O).
 *
 * The name tests run everywhere. The others need an NVMe/TCP target named by
 * `--dut` / `NVME_DUT` (`deno task test:tcp` boots the kernel's nvmet-tcp in
 * a guest and runs this file against it); on other devices they are ignored
 * and say so. The killed-target test boots a guest of its own (`nvmet`).
 *
 *   deno test --allow-all tests/tcp_test.ts -- --dut tcp://127.0.0.1:4420/<NQN>
 */
import assert from "node:assert/strict";
import {
  Buffer,
  Controller,
  defaultDut,
  DeviceGoneError,
  discover,
  Namespace,
  NvmeError,
  ParameterError,
  parseDut,
  parseTcpName,
  Qpair,
  Reg,
} from "../mod.ts";
import { cstr, lib } from "../ffi/lib.ts";
import { CPL_GONE } from "../ffi/completion.ts";
import { sleepSync } from "../ffi/sleep.ts";
import { runExample, throwsWith } from "./_util.ts";

const DUT = defaultDut();
const KIND = parseDut(DUT).kind;
const TCP = KIND === "tcp" || KIND === "nvmet";
const TARGET = KIND === "tcp"
  ? (parseDut(DUT) as { target: ReturnType<typeof parseTcpName> }).target!
  : undefined;

/**
 * A test on the NVMe/TCP target under test; `address`: one that needs its
 * address (a `tcp://` or plain-address DUT, not `nvmet`, whose port is its own).
 */
function tcpTest(
  name: string,
  fn: () => void | Promise<void>,
  address = false,
): void {
  const why = !TCP
    ? " [NVMe/TCP target only: run deno task test:tcp, or --dut tcp://...]"
    : address && !TARGET
    ? " [needs the target's address: --dut tcp://host:port/<NQN>]"
    : "";
  Deno.test({ name: `${name}${why}`, ignore: why !== "", fn });
}

/** The transport's negotiated parameters ("key=value" lines). */
function info(nvme: Controller): Record<string, string> {
  const out = new Uint8Array(1024);
  assert.ok(
    lib.nvme_pcie_control(nvme.pcie.handle, cstr("info"), out, out.length) >=
      0,
  );
  const text = new TextDecoder().decode(out.subarray(0, out.indexOf(0)));
  return Object.fromEntries(text.split("\n").map((l) => l.split("=", 2)));
}

function freePort(): number {
  const p = new Uint32Array(1);
  assert.equal(lib.nvme_tcp_free_port(p), 0);
  return p[0];
}

function fill(b: Buffer, n: number, seed: number): void {
  for (let i = 0; i < n; i++) b.bytes[b.offset + i] = (i * 31 + seed) & 0xff;
}

function same(b: Buffer, n: number, seed: number): boolean {
  for (let i = 0; i < n; i++) {
    if (b.bytes[b.offset + i] !== ((i * 31 + seed) & 0xff)) return false;
  }
  return true;
}

Deno.test("NVMe/TCP names: plain addresses, ports, IPv6, the full form", () => {
  const a = parseDut("10.24.48.17");
  assert.equal(a.kind, "tcp");
  assert.deepEqual(parseTcpName("10.24.48.17"), {
    host: "10.24.48.17",
    port: 4420,
    hdgst: false,
    ddgst: false,
  });
  assert.equal(parseTcpName("127.0.0.1:4421")?.port, 4421);
  assert.deepEqual(parseTcpName("[::1]:4420")?.host, "::1");
  const full = parseTcpName(
    "tcp://host.example:4430/nqn.2014-08.org.example:sub1?hostnqn=nqn.2014-08.org.example:h1&hdgst=1&ddgst=1&kato=5000&timeout=2000",
  )!;
  assert.equal(full.host, "host.example");
  assert.equal(full.port, 4430);
  assert.equal(full.nqn, "nqn.2014-08.org.example:sub1");
  assert.equal(full.hostnqn, "nqn.2014-08.org.example:h1");
  assert.ok(full.hdgst && full.ddgst);
  assert.equal(full.kato, 5000);
  assert.equal(full.timeout, 2000);
  assert.equal(parseTcpName("tcp://127.0.0.1")?.nqn, undefined);
  assert.equal(parseDut("nvmet").kind, "nvmet");
  // a PCI address and the embedded device stay what they were
  assert.equal(parseDut("01:00.0").kind, "pci");
  assert.equal(parseDut("qemu").kind, "qemu");
});

Deno.test("NVMe/TCP names: bad input names the value and the allowed range", () => {
  throwsWith(
    () => parseDut("127.0.0.1:70000"),
    ParameterError,
    /port 70000/,
    /1\.\.65535/,
  );
  throwsWith(() => parseDut("300.1.2.3"), ParameterError, /IPv4/);
  throwsWith(
    () => parseDut("tcp://127.0.0.1/nqn.x?hdgst=2"),
    ParameterError,
    /hdgst=2/,
    /0 or 1/,
  );
  throwsWith(
    () => parseDut("tcp://127.0.0.1/nqn.x?timeout=0"),
    ParameterError,
    /timeout=0/,
    /1\.\.3600000/,
  );
  throwsWith(
    () => parseDut("tcp://127.0.0.1/nqn.x?color=blue"),
    ParameterError,
    /unknown option "color"/,
  );
  throwsWith(
    () => parseDut(`tcp://127.0.0.1/${"n".repeat(300)}`),
    ParameterError,
    /subsystem NQN/,
    /1\.\.223/,
  );
  throwsWith(() => parseDut("nvmet:hdgst=yes"), ParameterError, /hdgst=0\|1/);
});

Deno.test("NVMe/TCP: no listener at the address is a clear error", () => {
  const port = freePort();
  throwsWith(
    () =>
      new Controller(
        `tcp://127.0.0.1:${port}/nqn.2014-08.org.example:none?timeout=3000`,
      ),
    NvmeError,
    new RegExp(`127\\.0\\.0\\.1:${port}`),
    /connection refused: no NVMe\/TCP target listens there/,
  );
});

tcpTest(
  "discovery log lists the subsystem; a name without NQN connects to it",
  () => {
    const log = discover(TARGET!);
    assert.ok(log.numrec >= 1, "at least one record");
    const nvm = log.entries.find((e) => e.subtype === 2);
    assert.ok(nvm, "an NVM subsystem record");
    assert.equal(nvm.trtype, 3, "transport TCP");
    if (TARGET!.nqn) assert.equal(nvm.subnqn, TARGET!.nqn);
    using nvme0 = new Controller(`${TARGET!.host}:${TARGET!.port}`);
    assert.equal(nvme0.pcie.tcp?.nqn, nvm.subnqn);
    assert.ok(nvme0.modelNumber.length > 0);
  },
  true,
);

tcpTest(
  "wrong subsystem NQN: the Connect status decoded, and what to do",
  () => {
    throwsWith(
      () =>
        new Controller(
          `tcp://${TARGET!.host}:${
            TARGET!.port
          }/nqn.2014-08.org.example:no-such-subsystem`,
        ),
      NvmeError,
      /Fabrics Connect of queue 0/,
      /01\/82 \(Connect Invalid Parameters/,
      /check the subsystem NQN/,
    );
  },
  true,
);

tcpTest(
  "registers are Fabrics properties: CAP, VS, CC, CSTS; CC.EN resets; reset()",
  () => {
    using nvme0 = new Controller(DUT);
    assert.equal(nvme0.reg32(Reg.CC), 0x00460001, "CC as the init wrote it");
    assert.equal(nvme0.reg32(Reg.CSTS) & 3, 1, "CSTS.RDY");
    assert.ok(nvme0.reg32(Reg.VS) >= 0x00010300, "NVMe 1.3 or later");
    assert.equal(nvme0.reg32(Reg.CAP), Number(nvme0.cap & 0xffffffffn));
    assert.ok(nvme0.mqes >= 2);
    // PCIe-only features say so
    throwsWith(
      () => nvme0.pcie.cfg(0, 4),
      NvmeError,
      /not supported on NVMe\/TCP/,
    );
    throwsWith(() => nvme0.pcie.flr(), NvmeError, /not supported on NVMe\/TCP/);
    using q0 = new Qpair(nvme0, 8);
    throwsWith(() => q0.msixIsSet(), NvmeError, /not supported on NVMe\/TCP/);
    // data written before a controller reset is read back after it
    const ns = new Namespace(nvme0, 1);
    using w = new Buffer(4096), r = new Buffer(4096);
    fill(w, 4096, 7);
    ns.write(q0, w, 64, 4096 / ns.lbaSize).waitdone();
    const cntlid = info(nvme0).cntlid;
    nvme0.reset();
    assert.equal(nvme0.reg32(Reg.CSTS) & 1, 1, "ready again");
    assert.notEqual(
      info(nvme0).cntlid,
      cntlid,
      "a new association (controller ID)",
    );
    using q = new Qpair(nvme0, 8);
    ns.read(q, r, 64, 4096 / ns.lbaSize).waitdone();
    assert.ok(same(r, 4096, 7), "data survives the reset");
    // CC.EN = 0: CSTS.RDY follows, the I/O queues (connections) are gone
    nvme0.disable();
    assert.equal(nvme0.reg32(Reg.CSTS) & 1, 0);
    assert.equal(nvme0.reg32(Reg.CC) & 1, 0);
  },
);

tcpTest(
  "data in the capsule, on R2T in H2CData PDUs, in C2HData; up to MDTS",
  () => {
    using nvme0 = new Controller(DUT);
    const ns = new Namespace(nvme0, 1);
    using q = new Qpair(nvme0, 16);
    const max = Math.min(nvme0.mdts, 1 << 20);
    // the Identify passing by told the transport the I/O queues' in-capsule size
    const icd = Number(info(nvme0).ioccsz);
    assert.ok(icd >= 4096, `IOCCSZ allows ${icd} bytes of in-capsule data`);
    const maxh2c = Number(info(nvme0).maxh2cdata);
    const count = (k: string) => Number(info(nvme0)[k]);
    for (const bytes of [ns.lbaSize, 4096, icd, icd * 2, max]) {
      using w = new Buffer(bytes), r = new Buffer(bytes);
      fill(w, bytes, bytes & 0xff);
      const n = bytes / ns.lbaSize;
      const before = {
        icd: count("icd_writes"),
        r2t: count("r2t"),
        h2c: count("h2c_data"),
        c2h: count("c2h_data"),
      };
      ns.write(q, w, 1024, n).waitdone();
      if (bytes <= icd) {
        assert.equal(
          count("icd_writes"),
          before.icd + 1,
          `${bytes} B in the capsule`,
        );
        assert.equal(count("r2t"), before.r2t, "no R2T");
      } else {
        assert.equal(
          count("icd_writes"),
          before.icd,
          `${bytes} B not in the capsule`,
        );
        assert.ok(count("r2t") > before.r2t, "on R2T");
        assert.ok(
          count("h2c_data") - before.h2c >= Math.ceil(bytes / maxh2c),
          `H2CData PDUs of at most MAXH2CDATA (${maxh2c} B)`,
        );
      }
      ns.read(q, r, 1024, n).waitdone();
      assert.ok(count("c2h_data") > before.c2h, "the read came in C2HData");
      assert.ok(same(r, bytes, bytes & 0xff), `${bytes} bytes read back`);
    }
  },
);

tcpTest(
  "host NQN given in the name: Connect carries it",
  () => {
    const hostnqn = "nqn.2014-08.org.example:denvme-test-host";
    using nvme0 = new Controller(
      `tcp://${TARGET!.host}:${TARGET!.port}/${
        TARGET!.nqn ?? ""
      }?hostnqn=${hostnqn}`,
    );
    assert.equal(info(nvme0).hostnqn, hostnqn);
    assert.ok(nvme0.modelNumber.length > 0);
    // the default host NQN is derived from the machine and stable
    using a = new Controller(DUT), b = new Controller(DUT);
    assert.match(
      info(a).hostnqn,
      /^nqn\.2014-08\.org\.nvmexpress:uuid:[0-9a-f-]{36}$/,
    );
    assert.equal(info(a).hostnqn, info(b).hostnqn);
  },
  true,
);

tcpTest("header and data digests (CRC-32C) negotiated; data intact", () => {
  const name = TARGET
    ? `tcp://${TARGET!.host}:${TARGET!.port}/${
      TARGET!.nqn ?? ""
    }?hdgst=1&ddgst=1`
    : "nvmet:hdgst=1,ddgst=1";
  using nvme0 = new Controller(name);
  const i = info(nvme0);
  assert.equal(i.hdgst, "1", "header digests on");
  assert.equal(i.ddgst, "1", "data digests on");
  const ns = new Namespace(nvme0, 1);
  using q = new Qpair(nvme0, 8);
  using w = new Buffer(65536), r = new Buffer(65536);
  fill(w, 65536, 3);
  ns.write(q, w, 2048, 65536 / ns.lbaSize).waitdone();
  ns.read(q, r, 2048, 65536 / ns.lbaSize).waitdone();
  assert.ok(same(r, 65536, 3));
});

tcpTest(
  "keep alive: an idle controller with a short KATO stays connected",
  () => {
    using nvme0 = new Controller(
      `tcp://${TARGET!.host}:${TARGET!.port}/${TARGET!.nqn ?? ""}?kato=2000`,
    );
    assert.equal(info(nvme0).kato, "2000");
    sleepSync(6000); // three KATOs without a command from the script
    assert.ok(nvme0.pcie.alive, nvme0.pcie.goneReason);
    assert.equal(nvme0.getfeatures(7).waitdone() >= 0, true);
  },
  true,
);

tcpTest(
  "target killed mid-I/O: DeviceGoneError for everything outstanding, ioworker stops",
  () => {
    const dut = TARGET ? "nvmet" : DUT;
    using nvme0 = new Controller(dut);
    const pid = nvme0.pcie.guestPid;
    assert.ok(pid > 0, "a guest of its own");
    const ns = new Namespace(nvme0, 1);
    using q = new Qpair(nvme0, 64);
    using b = new Buffer(4096);
    const w = ns.ioworker({
      ioSize: 4096 / ns.lbaSize,
      lbaRandom: true,
      readPercentage: 50,
      qdepth: 16,
      time: 60,
    }).start();
    sleepSync(1500);
    // freeze the target first: the reads below are surely in flight when it dies
    Deno.kill(pid, "SIGSTOP");
    let gone = 0;
    const n = 8;
    for (let i = 0; i < n; i++) {
      ns.read(q, b, i * 8, 1, (cpl) => {
        if (cpl.flags & CPL_GONE) gone++;
      });
    }
    Deno.kill(pid, "SIGKILL");
    throwsWith(
      () => q.waitdone(n),
      DeviceGoneError,
      /lost: the device is gone/,
      /the target closed the connection/,
    );
    assert.equal(gone, n, "every outstanding command ended as lost");
    const r = w.close();
    assert.equal(r.ok, false, "the ioworker reports an error");
    assert.match(
      r.errorMessage ?? "",
      /gone/,
      "the ioworker says the device is gone",
    );
    assert.equal(nvme0.pcie.alive, false);
    assert.match(nvme0.pcie.goneReason, /closed the connection|connection/);
    throwsWith(() => ns.read(q, b, 0, 1).waitdone(), DeviceGoneError);
    nvme0.close();
    assert.equal(lib.nvme_guest_alive(pid), 0, "no QEMU left behind");
  },
);

tcpTest(
  "examples/pcie_and_tcp.ts: two PCIe and two TCP controllers, an ioworker on each",
  async () => {
    const t = TARGET!;
    // by plain address when the target listens on 4420, and with the port
    const plain = t.port === 4420 ? t.host : `tcp://${t.host}:${t.port}`;
    const out = await runExample(
      "pcie_and_tcp.ts",
      "--tcp",
      `${plain},${t.host}:${t.port}`,
      "--seconds",
      "2",
    );
    assert.equal(out.match(/^qemu +QEMU NVMe Ctrl$/gm)?.length, 2, out);
    assert.equal(out.match(/ DENVME-NVMET$/gm)?.length, 2, out);
    assert.equal(out.match(/^\S+ +\d+ IOPS$/gm)?.length, 4, out);
    assert.match(out, /pcie and tcp: PASSED/);
  },
  true,
);

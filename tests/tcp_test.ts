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
  StatusError,
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

/** The transport's event log (process-wide): lines after sequence number `after`. */
function eventLog(nvme: Controller, after = 0): string[] {
  const out = new Uint8Array(65536);
  assert.ok(
    lib.nvme_pcie_control(nvme.pcie.handle, cstr("log"), out, out.length) >=
      0,
  );
  return new TextDecoder().decode(out.subarray(0, out.indexOf(0))).split("\n")
    .filter((l) => Number(/^#(\d+) /.exec(l)?.[1] ?? 0) > after);
}

/** The sequence number of the newest event log line. */
function eventSeq(nvme: Controller): number {
  const last = eventLog(nvme).at(-1);
  return Number(/^#(\d+) /.exec(last ?? "")?.[1] ?? 0);
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
    const q2 = new Qpair(nvme0, 8);
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
    // a silent target: deleting a queue waits for the Disconnect answer, bounded, no error
    const seq = eventSeq(nvme0);
    q2.delete();
    assert.ok(
      eventLog(nvme0, seq).some((l) =>
        new RegExp(`queue ${q2.sqid}: no answer to Disconnect within \\d+ ms`)
          .test(l)
      ),
      eventLog(nvme0, seq).join("\n"),
    );
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
    nvme0.close(); // no Disconnect, no shutdown, no error: the target is gone
    assert.equal(lib.nvme_guest_alive(pid), 0, "no QEMU left behind");
  },
);

tcpTest(
  "Disconnect on queue deletion and at close, then CC.SHN shutdown; a Disconnect sent on purpose",
  () => {
    using watcher = new Controller(DUT); // reads the log once nvme0 is closed
    const nvme0 = new Controller(DUT);
    const cntlid = info(nvme0).cntlid;
    const mine = (after: number) =>
      eventLog(watcher, after).filter((l) => l.includes(` cntlid ${cntlid}: `));
    // the answers a target may give: done, or not implemented (Linux's nvmet)
    const answer = /Disconnect answered (00\/00|00\/01|00\/02)/;
    const ns = new Namespace(nvme0, 1);
    let seq = eventSeq(watcher);
    const q1 = new Qpair(nvme0, 8);
    using b = new Buffer(4096);
    ns.read(q1, b, 0, 1).waitdone();
    q1.delete();
    const lines = mine(seq);
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], new RegExp(`queue ${q1.sqid}: `));
    assert.match(lines[0], answer);
    // the admin command log: Delete I/O SQ's DW0 says what Disconnect got
    const del = nvme0.cmdlog().find((e) =>
      e.opcode === 0x00 && e.cdw[10] === q1.sqid
    )!;
    assert.ok(del?.cqe, "Delete I/O SQ in the admin command log");
    const dw0 = del.cqe[0] >>> 0;
    assert.equal(
      dw0 >>> 30,
      3,
      `Disconnect sent and answered (DW0 0x${dw0.toString(16)})`,
    );
    const st = `${((dw0 >> 9) & 7).toString(16).padStart(2, "0")}/${
      ((dw0 >> 1) & 0xff).toString(16).padStart(2, "0")
    }`;
    assert.match(lines[0], new RegExp(`answered ${st}`), "the same answer");
    // a Disconnect capsule sent on purpose goes out as it is; its answer is the script's
    const q2 = new Qpair(nvme0, 8);
    let status = "";
    try {
      ns.sendCmd(0x7f, q2, {
        nsid: 0x08, // FCTYPE 08h (Disconnect) is the byte at offset 4
        cb: (cpl) => {
          status = cpl.statusText;
        },
      }).waitdone();
    } catch (e) {
      if (!(e instanceof StatusError)) throw e;
    }
    assert.match(status, /^00\/0[012]$/);
    const [raw] = q2.cmdlog(1);
    assert.equal(
      raw.opcode,
      0x7f,
      "the script's Disconnect in the queue's cmdlog",
    );
    assert.equal(raw.status, status);
    if (status !== "00/00") {
      // refused: the queue still works
      ns.read(q2, b, 0, 1).waitdone();
    }
    // close: the queue left open is disconnected, then the controller shut down
    seq = eventSeq(watcher);
    nvme0.close();
    const closing = mine(seq);
    assert.ok(
      closing.some((l) =>
        new RegExp(`queue ${q2.sqid}: `).test(l) && answer.test(l)
      ) ||
        status === "00/00",
      closing.join("\n"),
    );
    assert.match(
      closing.at(-1) ?? "",
      /shutdown: CC\.SHN 01b \(normal\) set, CSTS\.SHST 10b \(complete\)/,
    );
    // the target goes on serving
    assert.ok(watcher.getfeatures(7).waitdone() >= 0);
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

// --- a misbehaving target: the fault injector -------------------------------
//
// NOT the device under test. The bad-input tests need a target that sends
// malformed or unexpected PDUs, which the kernel's nvmet never does: this tiny
// listener on 127.0.0.1 plays that target for them only. It answers ICReq and
// Connect as a target does, then misbehaves in the one way a scenario names,
// and reports the H2CTermReq the driver sent (if any) once the driver closed
// the connection. It runs in a worker: the driver's calls block this thread.

/** What the fault injector saw of the driver. */
interface InjectorReport {
  /** The driver's H2CTermReq: fatal error status and field offset. */
  termReq: { fes: number; fei: number } | null;
  /** Types of the PDUs the driver sent, in order. */
  pdus: number[];
  /** The commands the driver sent ("Connect", "Property Get", "opcode 2"...). */
  cmds: string[];
  /** The injector's own failure, if any. */
  error?: string;
}

const FAULT_INJECTOR_SRC = `
const CRC = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32c(b) {
  let c = 0xffffffff;
  for (const x of b) c = CRC[(c ^ x) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function pdu(type, flags, hlen, pdo, plen, fill, hdgst, badDigest) {
  const b = new Uint8Array(plen);
  const dv = new DataView(b.buffer);
  b[0] = type; b[1] = flags | (hdgst ? 1 : 0); b[2] = hlen; b[3] = pdo;
  dv.setUint32(4, plen, true);
  fill(dv, b);
  if (hdgst) dv.setUint32(hlen, (crc32c(b.subarray(0, hlen)) ^ (badDigest ? 0xdead : 0)) >>> 0, true);
  return b;
}
function rsp(cid, dw0, status, hdgst, badDigest) {
  const hd = hdgst ? 4 : 0;
  return pdu(5, 0, 24, 0, 24 + hd, (dv) => {
    dv.setUint32(8, dw0, true);
    dv.setUint16(20, cid, true);
    dv.setUint16(22, status << 1, true);
  }, hdgst, badDigest);
}
async function serve(conn, scenario) {
  const report = { termReq: null, pdus: [], cmds: [] };
  let buf = new Uint8Array(0);
  const read = async (n) => {
    while (buf.length < n) {
      const chunk = new Uint8Array(65536);
      const r = await conn.read(chunk).catch(() => null);
      if (r === null) return null;
      const nb = new Uint8Array(buf.length + r);
      nb.set(buf); nb.set(chunk.subarray(0, r), buf.length);
      buf = nb;
    }
    const out = buf.slice(0, n);
    buf = buf.slice(n);
    return out;
  };
  const send = (b) => conn.write(b).catch(() => 0);
  let hdgst = false, ddgst = false, cc = 0, commands = 0;
  for (;;) {
    const h = await read(8);
    if (!h) break;
    const plen = new DataView(h.buffer).getUint32(4, true);
    const rest = await read(plen - 8);
    if (!rest) break;
    const p = new Uint8Array(plen); p.set(h); p.set(rest, 8);
    const dv = new DataView(p.buffer);
    report.pdus.push(p[0]);
    if (p[0] === 0) { // ICReq: ICResp with the digests asked for
      hdgst = (p[11] & 1) !== 0; ddgst = (p[11] & 2) !== 0;
      await send(pdu(1, 0, 128, 0, 128, (d, b) => {
        b[11] = p[11];
        d.setUint32(12, 131072, true);
      }, false));
      continue;
    }
    if (p[0] === 2) { // the driver's H2CTermReq
      report.termReq = { fes: dv.getUint16(8, true), fei: dv.getUint32(10, true) };
      continue;
    }
    if (p[0] !== 4) continue;
    const opc = p[8], cid = dv.getUint16(10, true), fctype = p[12];
    const cdw = (i) => dv.getUint32(8 + 4 * i, true);
    report.cmds.push(opc === 0x7f ? ["Property Set", "Connect", "", "", "Property Get"][fctype] ?? "fabrics " + fctype : "opcode " + opc);
    if (opc === 0x7f && fctype === 1) { // Connect: controller ID 1
      await send(rsp(cid, 1, 0, hdgst));
      continue;
    }
    commands++;
    const hd = hdgst ? 4 : 0;
    // the first command after Connect gets the fault
    if (commands === 1) {
      switch (scenario) {
        case "reserved-type":
          await send(pdu(0x0b, 0, 24, 0, 24 + hd, () => {}, hdgst));
          continue;
        case "bad-hlen":
          await send(pdu(5, 0, 23, 0, 23, () => {}, false));
          continue;
        case "bad-plen":
          await send(pdu(5, 0, 24, 0, 4000, () => {}, false).subarray(0, 24));
          continue;
        case "c2h-no-read":
          await send(pdu(7, 4, 24, 24, 24 + 512, (d) => {
            d.setUint16(8, cid, true);
            d.setUint32(16, 512, true);
          }, false));
          continue;
        case "r2t-no-write":
          await send(pdu(9, 0, 24, 0, 24, (d) => {
            d.setUint16(8, cid, true);
            d.setUint32(16, 4096, true);
          }, false));
          continue;
        case "unknown-cid":
          await send(rsp(0x1234, 0, 0, hdgst));
          continue;
        case "icresp-again":
          await send(pdu(1, 0, 128, 0, 128, (d) => d.setUint32(12, 131072, true), false));
          continue;
        case "c2h-termreq":
          await send(pdu(3, 0, 24, 0, 24, (d) => {
            d.setUint16(8, 1, true);
            d.setUint32(10, 0x10, true);
          }, false));
          continue;
        case "bad-hdgst":
          await send(rsp(cid, 0, 0, hdgst, true));
          continue;
        case "truncated":
          await send(rsp(cid, 0, 0, hdgst).subarray(0, 5));
          continue;
      }
    }
    // a target's ordinary answers (properties, the discovery log)
    if (opc === 0x7f && fctype === 0) { // Property Set
      if (cdw(11) === 0x14) cc = Number(dv.getBigUint64(56, true) & 0xffffffffn);
      await send(rsp(cid, 0, 0, hdgst));
    } else if (opc === 0x7f && fctype === 4) { // Property Get
      const off = cdw(11);
      const v = off === 0x14 ? cc : off === 0x1c ? (cc & 1) | ((cc >> 14) & 3 ? 8 : 0) : 0;
      await send(rsp(cid, v, 0, hdgst));
    } else if (opc === 0x02 && scenario === "bad-ddgst") {
      // the discovery log header (no records), its data digest wrong
      const n = 1024;
      const d = pdu(7, 0x0e, 24, 24 + hd, 24 + hd + n + 4, (v) => {
        v.setUint16(8, cid, true);
        v.setUint32(16, n, true);
      }, hdgst);
      new DataView(d.buffer).setUint32(24 + hd + n, 0xbadc0de, true);
      await send(d);
    } else {
      await send(rsp(cid, 0, 1, hdgst)); // Invalid Command Opcode
    }
  }
  return report;
}
self.onmessage = async (ev) => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  self.postMessage({ port: l.addr.port });
  let report;
  try {
    const conn = await l.accept();
    l.close();
    report = await serve(conn, ev.data.scenario);
    try { conn.close(); } catch { /* closed */ }
  } catch (e) {
    report = { termReq: null, pdus: [], cmds: [], error: String(e) };
  }
  self.postMessage(report);
};
`;

/**
 * Start the fault injector for `scenario`; `run` gets its port and makes the
 * driver talk to it (blocking); the injector's report comes once the driver
 * closed the connection.
 */
async function withFaultInjector(
  scenario: string,
  run: (port: number) => void,
): Promise<InjectorReport> {
  const url = URL.createObjectURL(
    new Blob([FAULT_INJECTOR_SRC], { type: "application/javascript" }),
  );
  const worker = new Worker(url, { type: "module" });
  const messages: unknown[] = [];
  let wake = () => {};
  worker.onmessage = (e) => {
    messages.push(e.data);
    wake();
  };
  const next = async (what: string) => {
    const t0 = Date.now();
    while (!messages.length) {
      if (Date.now() - t0 > 30_000) {
        throw new Error(`fault injector: no ${what} within 30 s (a hang)`);
      }
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 100);
      });
    }
    return messages.shift();
  };
  try {
    worker.postMessage({ scenario });
    const { port } = await next("port") as { port: number };
    run(port);
    const report = await next("report") as InjectorReport;
    assert.equal(report.error, undefined, report.error);
    return report;
  } finally {
    worker.terminate();
    URL.revokeObjectURL(url);
  }
}

const INJECTOR_NQN = "nqn.2014-08.org.example:fault-injector";

/** Open a controller on the fault injector; its error, checked against `patterns`. */
function openFails(port: number, options: string, ...patterns: RegExp[]): void {
  throwsWith(
    () =>
      new Controller(
        `tcp://127.0.0.1:${port}/${INJECTOR_NQN}?kato=0&timeout=3000${options}`,
      ),
    NvmeError,
    ...patterns,
  );
}

const HOSTILE: {
  scenario: string;
  what: string;
  options?: string;
  error: RegExp[];
  termReq: { fes: number; fei: number } | null;
}[] = [
  {
    scenario: "reserved-type",
    what: "a reserved PDU type",
    error: [/PDU type 0x0b \(reserved\) is not one a controller sends/],
    termReq: { fes: 1, fei: 0 },
  },
  {
    scenario: "bad-hlen",
    what: "a CapsuleResp with a wrong HLEN",
    error: [/CapsuleResp HLEN 23: 24 expected/, /field at byte 2/],
    termReq: { fes: 1, fei: 2 },
  },
  {
    scenario: "bad-plen",
    what: "a CapsuleResp with a wrong PLEN",
    error: [/CapsuleResp PLEN 4000: 24 expected/, /field at byte 4/],
    termReq: { fes: 1, fei: 4 },
  },
  {
    scenario: "c2h-no-read",
    what: "C2HData for a command that reads nothing",
    error: [/C2HData for CID 65520, which has no read in flight/],
    termReq: { fes: 1, fei: 8 },
  },
  {
    scenario: "r2t-no-write",
    what: "R2T for a command that writes nothing",
    error: [/R2T for CID 65520, which has no write in flight/],
    termReq: { fes: 1, fei: 8 },
  },
  {
    scenario: "unknown-cid",
    what: "CapsuleResp for a command never sent",
    error: [/CapsuleResp for CID 4660, which has no command in flight/],
    termReq: { fes: 1, fei: 20 },
  },
  {
    scenario: "icresp-again",
    what: "a second ICResp",
    error: [
      /ICResp after the connection was initialized/,
      /PDU Sequence Error/,
    ],
    termReq: { fes: 2, fei: 0 },
  },
  {
    scenario: "bad-hdgst",
    what: "a wrong header digest",
    options: "&hdgst=1",
    error: [/CapsuleResp header digest 0x[0-9a-f]{8}, 0x[0-9a-f]{8} computed/],
    termReq: { fes: 3, fei: 24 },
  },
  {
    scenario: "c2h-termreq",
    what: "the target's own C2HTermReq (no H2CTermReq back)",
    error: [
      /the target ended the connection with C2HTermReq: Invalid PDU Header Field \(FES 0x1, FEI 0x10\)/,
    ],
    termReq: null,
  },
  {
    scenario: "truncated",
    what: "a PDU cut short, then silence",
    error: [/no answer from the target within 3000 ms/],
    termReq: null,
  },
];

for (const h of HOSTILE) {
  Deno.test(
    `NVMe/TCP fault injector (not the DUT): ${h.what} → clear error, connection closed${
      h.termReq ? ", H2CTermReq" : ""
    }`,
    async () => {
      const report = await withFaultInjector(h.scenario, (port) =>
        openFails(
          port,
          h.options ?? "",
          new RegExp(`tcp:127\\.0\\.0\\.1:${port}`),
          ...h.error,
        ));
      assert.deepEqual(report.termReq, h.termReq, "the driver's H2CTermReq");
      if (h.termReq) {
        assert.equal(report.pdus.at(-1), 2, "H2CTermReq is the last PDU sent");
      }
    },
  );
}

Deno.test(
  "NVMe/TCP fault injector (not the DUT): a data digest error ends the command with Data Transfer Error, not the connection",
  async () => {
    const report = await withFaultInjector("bad-ddgst", (port) =>
      throwsWith(
        () =>
          discover({
            host: "127.0.0.1",
            port,
            hdgst: false,
            ddgst: true,
            timeout: 3000,
          }),
        NvmeError,
        /Get Log Page 70h \(discovery\) failed with status 00\/04/,
      ));
    assert.equal(report.termReq, null, "no H2CTermReq: not a fatal error");
    // the connection went on: the discovery controller was shut down at close
    const after = report.cmds.slice(report.cmds.indexOf("opcode 2") + 1);
    assert.deepEqual(
      after.slice(0, 2),
      ["Property Set", "Property Get"],
      `CC.SHN set and CSTS read after the bad data: ${report.cmds}`,
    );
  },
);

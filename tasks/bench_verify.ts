/**
 * Data verification benchmarks, one JSON line per result (called by
 * tasks/bench.ts, or alone):
 *
 * - `verify-16t-sparse-rss`: verification on for a 16 TiB namespace (512-byte
 *   LBAs, 2^35 of them; the embedded device with a null backend, since this
 *   file system cannot hold a 16 TiB sparse image - the table tracks every
 *   write all the same), 100 000 ioworker writes of 4 KiB at random LBAs spread
 *   over all of it; the process's resident memory (/proc/self/status) before
 *   and after, and the table's own bytes. Must stay under 1 GiB.
 * - `verify-ioworker-4k-randrw-qd128`, `verify-ioworker-4k-randread-qd128`:
 *   ioworker IOPS with verification on (stamps, locks, the CRC of every block
 *   written and read) and off, on the same device in the same run - two
 *   namespaces of one controller, one verified, in alternating rounds - for
 *   50 % reads / 50 % writes and for reads, over a 256 MiB region written
 *   first (file backend: reads return the data, every read block is checked).
 * - `verify-ioworker-4k-randwrite-16t-qd128`: the same for random writes over
 *   all of the 16 TiB namespace: nearly every write lands far from the others
 *   and allocates table memory (a leaf and a mid node, 768 bytes), so this
 *   measures the table's growth. Memory a process touches for the first time
 *   is slow in a virtual machine (0.4-0.6 GB/s here, the host backs it page by
 *   page), so it runs twice: `cold_*` as the table first grows, then (table
 *   freed and on again) warm, as on a machine where fresh memory costs its
 *   zeroing only.
 *
 *   deno run --allow-ffi --allow-env --allow-read --allow-run tasks/bench_verify.ts \
 *     [--dut qemu] [--round-seconds 2] [--rounds 5] [--writes 100000]
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Controller, type IoWorkerOptions, Namespace } from "../mod.ts";
import { lib } from "../ffi/lib.ts";
import { NVME_VERIFY_TOKEN_INFO } from "../ffi/abi.gen.ts";
import { CStruct } from "../ffi/cstruct.ts";

function emit(result: Record<string, unknown>): void {
  console.log(JSON.stringify(result));
}

const MiB = 2 ** 20;

/**
 * Resident memory of this process in MiB: `rss` from the kernel (VmRSS), plus
 * the /proc/self/status breakdown when the permissions allow reading it
 * (Deno asks for --allow-all there).
 */
function memory(): Record<string, number> {
  const out: Record<string, number> = {
    VmRSS: +(Deno.memoryUsage().rss / MiB).toFixed(1),
  };
  try {
    const text = Deno.readTextFileSync("/proc/self/status");
    for (const key of ["VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"]) {
      const m = text.match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"));
      if (m) out[key] = +(Number(m[1]) / 1024).toFixed(1);
    }
  } catch {
    // no permission: VmRSS from Deno.memoryUsage() only
  }
  return out;
}

function crcImpl(): string {
  const out = new CStruct(NVME_VERIFY_TOKEN_INFO);
  lib.nvme_verify_token(out.bytes, out.size);
  return out.u64(NVME_VERIFY_TOKEN_INFO.hw_crc) ? "sse4.2" : "table";
}

function run(ns: Namespace, o: IoWorkerOptions) {
  const r = ns.ioworker(o).start().close();
  if (!r.ok) {
    throw new Error(`ioworker on namespace ${ns.nsid}: ${r.errorMessage}`);
  }
  return r;
}

/** Run a worker, sampling this process's RSS every 50 ms: the result and the peak. */
async function runSampled(ns: Namespace, o: IoWorkerOptions) {
  const w = ns.ioworker(o).start();
  let peak = Deno.memoryUsage().rss;
  while (w.running) {
    await new Promise((res) => setTimeout(res, 50));
    peak = Math.max(peak, Deno.memoryUsage().rss);
  }
  const r = await w.closeAsync();
  if (!r.ok) {
    throw new Error(`ioworker on namespace ${ns.nsid}: ${r.errorMessage}`);
  }
  return {
    r,
    peakMiB: +(Math.max(peak, Deno.memoryUsage().rss) / MiB).toFixed(1),
  };
}

/**
 * IOPS of the same workload on a verified and an unverified namespace, in
 * alternating rounds (which one goes first alternates too): the totals, and
 * the median of the rounds' on/off ratios, which other load on the machine
 * hits alike.
 */
function onOff(
  on: Namespace,
  off: Namespace,
  o: IoWorkerOptions,
  rounds: number,
): { iopsOn: number; iopsOff: number; ratio: number; ratios: number[] } {
  let ioOn = 0, msOn = 0, ioOff = 0, msOff = 0;
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const iops: number[] = [];
    for (const ns of i % 2 ? [on, off] : [off, on]) {
      const r = run(ns, o);
      const ios = r.ioCountRead + r.ioCountNonread;
      if (ns === on) (ioOn += ios, msOn += r.mseconds);
      else (ioOff += ios, msOff += r.mseconds);
      iops[ns === on ? 0 : 1] = ios / r.mseconds;
    }
    ratios.push(+(iops[0] / iops[1]).toFixed(3));
  }
  const sorted = [...ratios].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return {
    iopsOn: Math.round(ioOn / msOn * 1000),
    iopsOff: Math.round(ioOff / msOff * 1000),
    ratio: sorted.length % 2
      ? sorted[mid]
      : +((sorted[mid - 1] + sorted[mid]) / 2).toFixed(3),
    ratios,
  };
}

/** Every verification benchmark. */
export async function benchVerifyAll(
  base: string,
  o: { roundSeconds?: number; rounds?: number; writes?: number } = {},
): Promise<void> {
  const roundSeconds = o.roundSeconds ?? 2, rounds = o.rounds ?? 5;
  const writes = o.writes ?? 100_000;
  const qemu = base === "qemu";

  // 1 + 2: a 16 TiB namespace, writes spread over all of it
  {
    const dut = qemu ? "qemu:size=16T,backend=null,ns=2" : base;
    using nvme0 = new Controller(dut);
    const ns = new Namespace(nvme0, 1);
    const before = memory();
    if (!ns.verifyEnable()) throw new Error("verification unavailable");
    const t0 = performance.now();
    const { r, peakMiB } = await runSampled(ns, {
      ioSize: 8,
      lbaAlign: 8,
      lbaRandom: true,
      readPercentage: 0,
      ioCount: writes,
      qdepth: 128,
      seed: 1,
    });
    const secs = (performance.now() - t0) / 1000;
    const after = memory();
    const s = ns.verifyStats();
    emit({
      name: "verify-16t-sparse-rss",
      dut,
      namespace_tib: +(ns.capacity * ns.lbaSize / 2 ** 40).toFixed(2),
      lbas: ns.capacity,
      writes: r.ioCountWrite,
      blocks_stamped: s.stamped,
      rss_before_mib: before.VmRSS,
      rss_after_mib: after.VmRSS,
      rss_peak_mib: Math.max(peakMiB, after.VmHWM ?? 0),
      rss_anon_mib: after.RssAnon,
      rss_shmem_mib: after.RssShmem,
      table_mib: +(s.tableBytes / 2 ** 20).toFixed(1),
      table_leaves: s.leaves,
      directory_mib_virtual: +(s.directoryBytes / 2 ** 20).toFixed(1),
      bytes_per_write: Math.round(s.tableBytes / r.ioCountWrite),
      under_1gib: Math.max(peakMiB, after.VmHWM ?? 0) < 1024,
      seconds: +secs.toFixed(1),
      crc32c: crcImpl(),
    });

    if (nvme0.pcie.dut.kind === "qemu") {
      const off = new Namespace(nvme0, 2);
      const workload: IoWorkerOptions = {
        ioSize: 8,
        lbaAlign: 8,
        lbaRandom: true,
        readPercentage: 0,
        qdepth: 128,
        time: roundSeconds,
      };
      // cold: the table grows into memory this process never touched before
      const cold = onOff(ns, off, workload, rounds);
      const grown = ns.verifyStats().tableBytes;
      // warm: the same after the table was freed (its pages stay backed by the
      // host), which is what first touches cost on a machine that is not a VM
      ns.verifyEnable(false);
      ns.verifyEnable(true);
      const warm = onOff(ns, off, workload, rounds);
      emit({
        name: "verify-ioworker-4k-randwrite-16t-qd128",
        dut,
        iops_verify_on: warm.iopsOn,
        iops_verify_off: warm.iopsOff,
        ratio: warm.ratio,
        round_ratios: warm.ratios,
        cold_iops_verify_on: cold.iopsOn,
        cold_iops_verify_off: cold.iopsOff,
        cold_ratio: cold.ratio,
        cold_round_ratios: cold.ratios,
        table_mib_grown_cold: +(grown / 2 ** 20).toFixed(1),
        rss_at_end_mib: memory().VmRSS,
        rounds,
        round_seconds: roundSeconds,
      });
    }
  }

  // 3: reads checked against written data
  if (qemu) {
    const dut = "qemu:size=4G,ns=2";
    using nvme0 = new Controller(dut);
    const on = new Namespace(nvme0, 1), off = new Namespace(nvme0, 2);
    on.verifyEnable();
    const region = 512 * 1024; // 256 MiB written first, sequentially
    for (const ns of [on, off]) {
      run(ns, {
        ioSize: 256,
        lbaRandom: false,
        readPercentage: 0,
        regionEnd: region,
        ioCount: region / 256,
        qdepth: 32,
      });
    }
    for (
      const [name, readPercentage] of [["randrw", 50], [
        "randread",
        100,
      ]] as const
    ) {
      const checked0 = on.verifyStats().checked;
      const { iopsOn, iopsOff, ratio, ratios } = onOff(on, off, {
        ioSize: 8,
        lbaAlign: 8,
        lbaRandom: true,
        readPercentage,
        regionEnd: region,
        qdepth: 128,
        time: roundSeconds,
      }, rounds);
      const s = on.verifyStats();
      emit({
        name: `verify-ioworker-4k-${name}-qd128`,
        dut,
        iops_verify_on: iopsOn,
        iops_verify_off: iopsOff,
        ratio,
        round_ratios: ratios,
        blocks_checked: s.checked - checked0,
        bad_blocks: s.badBlocks,
        rounds,
        round_seconds: roundSeconds,
      });
    }
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      dut: { type: "string" },
      "round-seconds": { type: "string", default: "2" },
      rounds: { type: "string", default: "5" },
      writes: { type: "string", default: "100000" },
    },
    strict: false,
  });
  await benchVerifyAll(typeof values.dut === "string" ? values.dut : "qemu", {
    roundSeconds: Number(values["round-seconds"]) || 2,
    rounds: Number(values.rounds) || 5,
    writes: Number(values.writes) || 100_000,
  });
}

/**
 * Identify dump: the controller's and each namespace's identify data, decoded,
 * plus a hex dump of the first bytes.
 *
 *   deno run --allow-ffi examples/identify.ts [--dut qemu]
 *
 * @module
 */
import { Buffer, Controller, decodeIdentifyNamespace } from "../mod.ts";

using nvme0 = new Controller();
const id = nvme0.idCtrl;
console.log(`controller: ${id.mn} (serial ${id.sn}, firmware ${id.fr})`);
console.log(
  `  vid 0x${id.vid.toString(16)}  ver ${id.ver >> 16}.${id.ver >> 8 & 0xff}.${
    id.ver & 0xff
  }  mdts ${nvme0.mdts} bytes  nn ${id.nn}`,
);
console.log(
  `  oacs 0x${id.oacs.toString(16)}  oncs 0x${id.oncs.toString(16)}  sgls 0x${
    id.sgls.toString(16)
  }  aerl ${id.aerl + 1}  vwc ${id.vwc}  subnqn ${id.subnqn}`,
);
id.psd.forEach((p, i) =>
  console.log(
    `  power state ${i}: ${
      p.mp / 100
    } W, entry ${p.enlat} us, exit ${p.exlat} us`,
  )
);

using buf = new Buffer(4096, "identify data");
nvme0.identify(buf, 0, 2).waitdone(); // active namespace list
const nsids: number[] = [];
for (let i = 0; i < 1024 && buf.u32(i * 4); i++) nsids.push(buf.u32(i * 4));
for (const nsid of nsids) {
  nvme0.identify(buf, nsid, 0).waitdone();
  const ns = decodeIdentifyNamespace(buf.bytes);
  const f = ns.lbaf[ns.lbaFormat];
  console.log(
    `namespace ${nsid}: ${ns.nsze} LBAs of ${f.dataSize}+${f.ms} bytes (format ${ns.lbaFormat} of ${
      ns.nlbaf + 1
    }), nuse ${ns.nuse}, dlfeat 0x${ns.dlfeat.toString(16)}`,
  );
}
nvme0.identify(buf, 0, 1).waitdone();
console.log(buf.dump(64));

/**
 * Optional admin commands (NVMe Base 2.0, "Admin Command Set"): a command the
 * controller does not support (per Identify Controller) completes with
 * Invalid Command Opcode; one it claims to support is implemented.
 */
import { Buffer, type Controller, type RawCommand } from "../../../mod.ts";
import {
  ADM,
  adminCmd,
  hex,
  nvmeTest,
  requireError,
  requireStatus,
} from "../_suite.ts";

/** CDW10 values that select nothing (reserved values) for commands with actions. */
const SAFE_CDW10: Record<number, number> = {
  [ADM.NS_MGMT]: 0xf, // SEL reserved
  [ADM.DST]: 0, // STC reserved
  [ADM.SANITIZE]: 0, // SANACT reserved
};

interface Optional {
  name: string;
  opcodes: number[];
  supported: (n: Controller) => boolean;
  claim: string;
  /** A harmless command to probe a supported command (not Invalid Opcode). */
  probe?: RawCommand & { opcode: number };
}

const optional: Optional[] = [
  {
    name: "Security Send/Receive",
    opcodes: [ADM.SECURITY_SEND, ADM.SECURITY_RECV],
    supported: (n) => !!(n.idCtrl.oacs & 1),
    claim: "OACS bit 0",
  },
  {
    name: "Firmware Commit/Image Download",
    opcodes: [ADM.FW_COMMIT, ADM.FW_DOWNLOAD],
    supported: (n) => !!(n.idCtrl.oacs & 4),
    claim: "OACS bit 2",
  },
  {
    name: "Namespace Management",
    opcodes: [ADM.NS_MGMT],
    supported: (n) => !!(n.idCtrl.oacs & 8),
    claim: "OACS bit 3",
    probe: { opcode: ADM.NS_MGMT, cdw10: 0xf }, // SEL 0Fh is reserved
  },
  {
    name: "Device Self-test",
    opcodes: [ADM.DST],
    supported: (n) => !!(n.idCtrl.oacs & 0x10),
    claim: "OACS bit 4",
    probe: { opcode: ADM.DST, nsid: 0xffffffff, cdw10: 0 }, // STC 0h is reserved
  },
  {
    name: "Directive Send/Receive",
    opcodes: [ADM.DIRECTIVE_SEND, ADM.DIRECTIVE_RECV],
    supported: (n) => !!(n.idCtrl.oacs & 0x20),
    claim: "OACS bit 5",
  },
  {
    name: "NVMe-MI Send/Receive",
    opcodes: [ADM.MI_SEND, ADM.MI_RECV],
    supported: (n) => !!(n.idCtrl.oacs & 0x40),
    claim: "OACS bit 6",
  },
  {
    name: "Virtualization Management",
    opcodes: [ADM.VIRT_MGMT],
    supported: (n) => !!(n.idCtrl.oacs & 0x80),
    claim: "OACS bit 7",
  },
  {
    name: "Get LBA Status",
    opcodes: [ADM.GET_LBA_STATUS],
    supported: (n) => !!(n.idCtrl.oacs & 0x200),
    claim: "OACS bit 9",
  },
  {
    name: "Sanitize",
    opcodes: [ADM.SANITIZE],
    supported: (n) => (n.idCtrl.sanicap & 7) !== 0,
    claim: "SANICAP bits 2:0",
    probe: { opcode: ADM.SANITIZE, cdw10: 0 }, // SANACT 000b is reserved
  },
  {
    name: "Keep Alive",
    opcodes: [ADM.KEEP_ALIVE],
    supported: (n) => n.idCtrl.kas !== 0,
    claim: "KAS",
  },
];

for (const o of optional) {
  nvmeTest(
    `${o.name}: Invalid Command Opcode when not supported, implemented when claimed`,
    {
      needs: ["nvme0"],
    },
    ({ nvme0, skip }) => {
      if (!o.supported(nvme0)) {
        // harmless if a device implements it after all: reserved field
        // values and a real buffer for any data pointer
        using buf = new Buffer(4096, "probe");
        for (const opc of o.opcodes) {
          requireStatus(
            adminCmd(nvme0, opc, {
              buf,
              cdw10: SAFE_CDW10[opc] ?? 0,
              cdw11: 0,
            }),
            "00/01",
            `NVMe Base 2.0: ${o.name} (opcode ${
              hex(opc, 2)
            }) is not supported (${o.claim} = 0)`,
          );
        }
        return;
      }
      if (!o.probe) {
        return skip(
          `${o.name} is supported (${o.claim}); no harmless probe of it here`,
        );
      }
      const { opcode, ...f } = o.probe;
      requireError(
        adminCmd(nvme0, opcode, f),
        `NVMe Base 2.0: ${o.name} is supported (${o.claim} = 1), so a reserved value in it is refused as a field error, not as an unknown opcode`,
        ["00/01"],
      );
    },
  );
}

nvmeTest("reserved admin opcodes → Invalid Command Opcode", {
  needs: ["nvme0"],
}, ({ nvme0 }) => {
  for (
    const opc of [
      0x03,
      0x07,
      0x0b,
      0x0e,
      0x0f,
      0x13,
      0x17,
      0x1b,
      0x1f,
      0x5f,
      0x7b,
    ]
  ) {
    using buf = new Buffer(4096, "probe");
    requireStatus(
      adminCmd(nvme0, opc, { buf }),
      "00/01",
      `NVMe Base 2.0, admin opcode ${hex(opc, 2)} is reserved`,
    );
  }
});

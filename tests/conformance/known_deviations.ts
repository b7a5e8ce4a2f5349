/**
 * Known deviations from the NVMe specification, per device model, keyed by
 * conformance test name. A listed test that fails the way it is listed is
 * reported as "deviation (known)"; the lists apply only to the model they
 * name, so a real SSD is judged by the specification alone.
 *
 * @module
 */
import type { DeviationList } from "../../testing.ts";

/**
 * QEMU's emulated NVMe controller (the embedded device), QEMU 7.2: PCI
 * 1b36:0010, model "QEMU NVMe Ctrl", firmware revision 7.2.x (the QEMU
 * version). The list applies only when the model and the firmware revision
 * were both seen (Identify Controller): another QEMU version, or a device
 * whose firmware is unknown, is judged by the specification alone.
 */
export const qemu72: DeviationList = {
  model: "QEMU 7.2 NVMe (1b36:0010)",
  applies: (id) =>
    id.vid === 0x1b36 && id.did === 0x0010 &&
    id.mn === "QEMU NVMe Ctrl" && id.fr !== undefined &&
    /^7\.2(\.|$)/.test(id.fr),
  tests: {
    // --- features: resets, power
    "controller reset returns feature values to their defaults": {
      spec:
        "NVMe Base 2.0, Feature Values: after a Controller Level Reset, features that are not saved return to their default values",
      observed:
        "feature values survive CC.EN = 0 (and FLR): nvme_ctrl_reset never resets n->features",
      match:
        /returns to its default \(Temperature Threshold\); observed the threshold set before the reset/,
    },
    "power cycle: SMART / Health Power Cycles counts it": {
      spec:
        "NVMe Base 2.0, SMART / Health Information: Power Cycles counts power cycles",
      observed: "Power Cycles always reads 0 (the model keeps no such counter)",
      match: /Power Cycles: .* observed 0 before, 0 after/,
    },
    "power loss without shutdown notification counts in Unsafe Shutdowns": {
      spec:
        "NVMe Base 2.0, SMART / Health Information: Unsafe Shutdowns counts power losses without a shutdown notification",
      observed: "Unsafe Shutdowns always reads 0",
      match: /Unsafe Shutdowns: .* observed 0 before, 0 after/,
    },
    // --- nvm
    "Deallocate with a range past the end → LBA Out of Range": {
      spec:
        "NVM Command Set 1.0, Dataset Management: a range beyond the namespace → 00/80 LBA Out of Range",
      observed:
        "ranges out of range (or over DMRSL) are skipped silently; the command succeeds",
      match:
        /Dataset Management: a range that goes beyond NSZE → 00\/80; observed success/,
    },
    "Verify: Invalid Command Opcode when ONCS bit 7 = 0, success on written LBAs when 1":
      {
        spec:
          "NVM Command Set 1.0: an optional command the controller does not support (ONCS bit 7 = 0) → 00/01 Invalid Command Opcode",
        observed:
          "Verify (0Ch) is implemented and succeeds, though ONCS bit 7 says it is not supported",
        match:
          /Verify is not supported \(ONCS bit 7 = 0\) → 00\/01; observed success/,
      },
    "Copy from a source range past the end → LBA Out of Range": {
      spec:
        "NVM Command Set 1.0, Copy: a source range beyond the namespace → 00/80 LBA Out of Range",
      observed: "00/06 Internal Error",
      match: /Copy: a source range beyond NSZE → 00\/80; observed 00\/06/,
    },
    // --- sgl
    "Base 2.0 4.1.2 / SGLS bit 18: a Data Block longer than the transfer → Data SGL Length Invalid unless SGLS bit 18":
      {
        spec:
          "NVMe Base 2.0, SGL Support bit 18 = 0: the SGL length equals the data transferred; a longer Data SGL → 00/0F Data SGL Length Invalid",
        observed:
          "a single Data Block longer than the transfer succeeds (the excess is ignored; hw/nvme checks excess length only when another descriptor follows)",
        match:
          /SGLS bit 18 = 0: an SGL longer than the data transfer → 00\/0f; observed success/,
      },
    "Base 2.0 4.1.2 / SGLS bit 2: a Keyed Data Block descriptor when not claimed → SGL Descriptor Type Invalid":
      {
        spec:
          "NVMe Base 2.0, Status Codes: a descriptor type the controller does not support → 00/11 SGL Descriptor Type Invalid",
        observed:
          "any descriptor type other than Data Block, Segment or Last Segment in the SQE → 00/0D Invalid SGL Segment Descriptor",
        match:
          /Keyed SGL Data Block descriptor \(4h\) → 00\/11; observed 00\/0d/,
      },
    "Base 2.0 4.1.2 / SGLS bit 21: a Transport SGL Data Block when not claimed → SGL Descriptor Type Invalid":
      {
        spec:
          "NVMe Base 2.0, Status Codes: a descriptor type the controller does not support → 00/11 SGL Descriptor Type Invalid",
        observed:
          "a Transport SGL Data Block in the SQE → 00/0D Invalid SGL Segment Descriptor",
        match:
          /Transport SGL Data Block descriptor \(5h\) → 00\/11; observed 00\/0d/,
      },
    "Base 2.0 4.1.2: reserved SGL descriptor types (6h..Eh) → SGL Descriptor Type Invalid":
      {
        spec:
          "NVMe Base 2.0, SGL Descriptor Type: a reserved type → 00/11 SGL Descriptor Type Invalid",
        observed:
          "reserved types in the SQE → 00/0D Invalid SGL Segment Descriptor",
        match:
          /reserved types → 00\/11 SGL Descriptor Type Invalid; observed type 0x6: 00\/0d, type 0x9: 00\/0d, type 0xe: 00\/0d$/,
      },
    "Base 2.0 4.1.2 / SGLS bit 20: a Data Block with the Offset subtype when not claimed → an SGL error":
      {
        spec:
          "NVMe Base 2.0, SGL Support bit 20 = 0: the Address field is never an offset; a Data Block with subtype 1h is not a supported descriptor",
        observed:
          "the subtype is ignored: the field is used as an address and the command succeeds",
        match: /subtype 1h \(offset\) when SGLS bit 20 = 0.*observed success/,
      },
    "Base 2.0 4.1.2: a reserved descriptor type inside a segment → SGL Descriptor Type Invalid":
      {
        spec:
          "NVMe Base 2.0, SGL Descriptor Type: a reserved type → 00/11 SGL Descriptor Type Invalid, wherever it is in the SGL",
        observed:
          "a reserved type as the last descriptor of a segment → 00/0D Invalid SGL Segment Descriptor (hw/nvme takes a last descriptor that is not a Data Block for a segment pointer); elsewhere in the list → 00/11",
        match:
          /a reserved type \(7h\), last in a Last Segment → 00\/11; observed 00\/0d/,
      },
    "Base 2.0 4.1.2.1: three chained segments of one Data Block each": {
      spec:
        "NVMe Base 2.0, 4.1.2.1: a Segment's last descriptor may be a Segment or Last Segment descriptor, so segments chain to any depth",
      observed:
        "Segment → Segment → Last Segment → 00/0D Invalid SGL Segment Descriptor when the Segment and Last Segment descriptors sit at the same index of their lists: hw/nvme keeps a pointer to the current descriptor inside the buffer it overwrites with the next segment, then sees a Last Segment followed by more segments",
      match:
        /Read through Segment → Segment → Last Segment → success; observed 00\/0d/,
    },
    // --- zns
    "ZNS 1.1 3.3.2: Copy into a zone: the destination must be the write pointer":
      {
        spec:
          "ZNS 1.1, Copy: a destination (SDLBA) that is not the write pointer of its zone → 01/BC Zone Invalid Write",
        observed: "00/06 Internal Error",
        match:
          /SDLBA is not the write pointer of its zone → 01\/bc; observed 00\/06/,
      },
    // --- queues
    "Base 2.0 3.3.1: a CQ head doorbell past the entries posted (an empty CQ) → Invalid Doorbell Write Value":
      {
        spec:
          "NVMe Base 2.0, Asynchronous Event Information 01h Invalid Doorbell Write Value: its causes include removing a completion queue entry from an empty completion queue",
        observed:
          "no event: hw/nvme checks a CQ head value only against the queue size, not against the entries posted",
        match:
          /removed entries from an empty completion queue; observed no event/,
      },
    "Base 2.0 5.27.1.9: Interrupt Vector Configuration: Coalescing Disable set for an I/O vector reads back":
      {
        spec:
          "NVMe Base 2.0, Interrupt Vector Configuration (mandatory for PCIe controllers): the host sets Coalescing Disable per vector",
        observed:
          "Set Features 09h → 01/0E Feature Not Changeable (the model implements Get only)",
        match:
          /Set Features Interrupt Vector Configuration: CD = 1 .* observed 01\/0e/,
      },
    // --- admin: queues
    "Delete I/O SQ or CQ with identifier 0 → Invalid Queue Identifier": {
      spec:
        "NVMe Base 2.0, Delete I/O Completion Queue: an invalid queue identifier → 01/01 Invalid Queue Identifier (01/00 Completion Queue Invalid belongs to Create I/O Submission Queue)",
      observed: "Delete I/O CQ of QID 0 → 01/00 Completion Queue Invalid",
      match: /Delete I\/O Completion Queue: QID 0 .* observed 01\/00/,
    },
    "Delete an I/O queue that does not exist → Invalid Queue Identifier": {
      spec:
        "NVMe Base 2.0, Delete I/O Completion Queue: an invalid queue identifier → 01/01 Invalid Queue Identifier",
      observed:
        "Delete I/O CQ of a queue that does not exist → 01/00 Completion Queue Invalid",
      match:
        /Delete I\/O Completion Queue: the queue does not exist .* observed 01\/00/,
    },
    // --- admin: format, optional commands
    "Format NVM with a reserved Secure Erase Setting → Invalid Field; data kept":
      {
        spec:
          "NVMe Base 2.0, Format NVM: Secure Erase Settings 011b..111b are reserved → 00/02 Invalid Field in Command",
        observed:
          "SES is ignored: the format succeeds (and zero-fills the namespace)",
        match:
          /SES values 011b\.\.111b are reserved → 00\/02; observed success/,
      },
    "Format NVM with cryptographic erase when it is not supported → Invalid Field":
      {
        spec:
          "NVMe Base 2.0, Format NVM: SES 010b (cryptographic erase) when FNA bit 2 = 0 → 00/02 Invalid Field in Command",
        observed: "SES is ignored: the format succeeds",
        match: /SES 010b .* observed success/,
      },
    "Namespace Management: Invalid Command Opcode when not supported, implemented when claimed":
      {
        spec:
          "NVMe Base 2.0, Identify Controller OACS bit 3: the controller supports the Namespace Management command (0Dh)",
        observed:
          "OACS bit 3 is set but opcode 0Dh → 00/01 Invalid Command Opcode (only Namespace Attachment is implemented)",
        match: /Namespace Management is supported .* observed 00\/01/,
      },
    "Virtualization Management: Invalid Command Opcode when not supported, implemented when claimed":
      {
        spec:
          "NVMe Base 2.0: an optional command the controller does not support (OACS bit 7 = 0) → 00/01 Invalid Command Opcode",
        observed:
          "Virtualization Management (1Ch) without SR-IOV → 00/02 Invalid Field in Command",
        match: /Virtualization Management \(opcode 0x1c\) .* observed 00\/02/,
      },
    // --- admin: log pages
    "reserved log page identifier → Invalid Log Page": {
      spec:
        "NVMe Base 2.0, Get Log Page: an unsupported or reserved log identifier → 01/09 Invalid Log Page",
      observed: "00/02 Invalid Field in Command for every unsupported LID",
      match: /is reserved → 01\/09; observed 00\/02/,
    },
    "Firmware Slot Information: the active slot is listed, with Identify's firmware revision":
      {
        spec:
          "NVMe Base 2.0, Identify Controller FR: the currently active firmware revision, the same as the active slot's entry of the Firmware Slot Information log",
        observed:
          'Identify FR is the QEMU version ("7.2.22"); the log reports slot 1 as "1.0"',
        match: /Identify FR "[^"]*", FRS1 "1\.0"/,
      },
    "Commands Supported and Effects agrees with OACS and ONCS": {
      spec:
        "NVMe Base 2.0: Identify Controller OACS/ONCS and the Commands Supported and Effects log describe the same optional commands",
      observed:
        "OACS bit 3 (Namespace Management) is set but opcode 0Dh is not supported (CSUPP = 0, Invalid Opcode); Virtualization Management (1Ch) is marked supported (CSUPP = 1) while OACS bit 7 is 0 (it is implemented for SR-IOV only); Verify (0Ch) is supported (CSUPP = 1) but ONCS bit 7 is 0",
      match:
        /^[^;]*; observed Namespace Management \(OACS bit 3\): Identify says supported, effects log CSUPP=0; Virtualization Management \(OACS bit 7\): Identify says not supported, effects log CSUPP=1; Verify \(ONCS bit 7\): Identify says not supported, effects log CSUPP=1$/,
    },
    // --- admin: features
    "Get Features with a reserved select value (100b..111b) → Invalid Field": {
      spec:
        "NVMe Base 2.0, Get Features: SEL values 100b..111b are reserved → 00/02 Invalid Field in Command",
      observed:
        "a reserved SEL is treated as 'current': the command succeeds (hw/nvme/ctrl.c nvme_get_feature has no default case)",
      match: /SEL: values 100b\.\.111b are reserved .* observed success/,
    },
    "Arbitration: the current value can be set again": {
      spec:
        "NVMe Base 2.0, Arbitration (mandatory feature): the host sets the Arbitration Burst and priority weights",
      observed: "Set Features 01h → 01/0E Feature Not Changeable",
      match: /Arbitration: .* observed 01\/0e/,
    },
    "Interrupt Coalescing: the setting reads back": {
      spec:
        "NVMe Base 2.0 / PCIe Transport 1.0, Interrupt Coalescing (mandatory for PCIe controllers): aggregation time and threshold are set by the host",
      observed:
        "Set Features 08h → 01/0E Feature Not Changeable (the model has no coalescing)",
      match: /Interrupt Coalescing: .* observed 01\/0e/,
    },
    "Power Management: the current power state can be set, one above NPSS cannot":
      {
        spec:
          "NVMe Base 2.0, Power Management (mandatory feature): Set Features selects a power state 0..NPSS; a state above NPSS → 00/02",
        observed:
          "every Set Features 02h → 01/0E Feature Not Changeable, even for the current state PS0",
        match: /Power Management: .* observed 01\/0e/,
      },
    "Write Atomicity Normal: the current value can be set again": {
      spec:
        "NVMe Base 2.0, Write Atomicity Normal (mandatory feature): the host sets Disable Normal",
      observed: "Set Features 0Ah → 01/0E Feature Not Changeable",
      match: /Write Atomicity Normal: .* observed 01\/0e/,
    },
  },
};

/** Every list the suite registers. */
export const knownDeviations: readonly DeviationList[] = [qemu72];

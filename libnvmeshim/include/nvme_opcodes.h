/* SPDX-License-Identifier: MIT */
/*
 * nvme_opcodes.h - NVMe command opcodes and their names (NVMe Base and NVM
 * Command Set specifications), the one table of both languages: C uses the
 * enums and nvme_opcode_name(); `deno task abi` emits the same names into
 * ffi/abi.gen.ts for the TypeScript side (ffi/status.ts).
 *
 * Add an opcode: one X(...) line below (symbol, value, name), then
 * `deno task abi`.
 */
#ifndef NVMESHIM_NVME_OPCODES_H
#define NVMESHIM_NVME_OPCODES_H

#include <stdint.h>

/* Admin command set: X(symbol, opcode, name) */
#define NVME_ADMIN_OPCODES(X)                                   \
	X(DELETE_SQ, 0x00, "Delete I/O Submission Queue")       \
	X(CREATE_SQ, 0x01, "Create I/O Submission Queue")       \
	X(GET_LOG_PAGE, 0x02, "Get Log Page")                   \
	X(DELETE_CQ, 0x04, "Delete I/O Completion Queue")       \
	X(CREATE_CQ, 0x05, "Create I/O Completion Queue")       \
	X(IDENTIFY, 0x06, "Identify")                           \
	X(ABORT, 0x08, "Abort")                                 \
	X(SET_FEATURES, 0x09, "Set Features")                   \
	X(GET_FEATURES, 0x0a, "Get Features")                   \
	X(ASYNC_EVENT, 0x0c, "Asynchronous Event Request")      \
	X(NS_MGMT, 0x0d, "Namespace Management")                \
	X(FW_COMMIT, 0x10, "Firmware Commit")                   \
	X(FW_DOWNLOAD, 0x11, "Firmware Image Download")         \
	X(SELF_TEST, 0x14, "Device Self-test")                  \
	X(NS_ATTACH, 0x15, "Namespace Attachment")              \
	X(KEEP_ALIVE, 0x18, "Keep Alive")                       \
	X(DIRECTIVE_SEND, 0x19, "Directive Send")               \
	X(DIRECTIVE_RECV, 0x1a, "Directive Receive")            \
	X(VIRT_MGMT, 0x1c, "Virtualization Management")         \
	X(MI_SEND, 0x1d, "NVMe-MI Send")                        \
	X(MI_RECV, 0x1e, "NVMe-MI Receive")                     \
	X(CAPACITY_MGMT, 0x20, "Capacity Management")           \
	X(LOCKDOWN, 0x24, "Lockdown")                           \
	X(DBBUF_CONFIG, 0x7c, "Doorbell Buffer Config")         \
	X(FABRICS, 0x7f, "Fabrics Commands")                    \
	X(FORMAT_NVM, 0x80, "Format NVM")                       \
	X(SECURITY_SEND, 0x81, "Security Send")                 \
	X(SECURITY_RECV, 0x82, "Security Receive")              \
	X(SANITIZE, 0x84, "Sanitize")                           \
	X(GET_LBA_STATUS, 0x86, "Get LBA Status")

/* NVM command set (I/O): X(symbol, opcode, name) */
#define NVME_IO_OPCODES(X)                                      \
	X(FLUSH, 0x00, "Flush")                                 \
	X(WRITE, 0x01, "Write")                                 \
	X(READ, 0x02, "Read")                                   \
	X(WRITE_UNCOR, 0x04, "Write Uncorrectable")             \
	X(COMPARE, 0x05, "Compare")                             \
	X(WRITE_ZEROES, 0x08, "Write Zeroes")                   \
	X(DSM, 0x09, "Dataset Management")                      \
	X(VERIFY, 0x0c, "Verify")                               \
	X(RESV_REGISTER, 0x0d, "Reservation Register")          \
	X(RESV_REPORT, 0x0e, "Reservation Report")              \
	X(RESV_ACQUIRE, 0x11, "Reservation Acquire")            \
	X(RESV_RELEASE, 0x15, "Reservation Release")            \
	X(COPY, 0x19, "Copy")                                   \
	X(ZONE_MGMT_SEND, 0x79, "Zone Management Send")         \
	X(ZONE_MGMT_RECV, 0x7a, "Zone Management Receive")      \
	X(ZONE_APPEND, 0x7d, "Zone Append")

#define NVME_OPC_ENUM_ADMIN(sym, val, name) NVME_ADM_##sym = val,
#define NVME_OPC_ENUM_IO(sym, val, name) NVME_IO_##sym = val,
/** enum nvme_admin_opc - admin command opcodes (NVME_ADM_*). */
enum nvme_admin_opc { NVME_ADMIN_OPCODES(NVME_OPC_ENUM_ADMIN) };
/** enum nvme_io_opc - NVM command set opcodes (NVME_IO_*). */
enum nvme_io_opc { NVME_IO_OPCODES(NVME_OPC_ENUM_IO) };
#undef NVME_OPC_ENUM_ADMIN
#undef NVME_OPC_ENUM_IO

/**
 * nvme_opcode_name() - the name of an opcode, for messages.
 * @opc: the opcode
 * @admin: true for the admin command set, false for the NVM command set
 *
 * Return: its name, or NULL when the table has none.
 */
static inline const char *nvme_opcode_name(uint8_t opc, int admin)
{
#define NVME_OPC_CASE(sym, val, name) case val: return name;
	if (admin) {
		switch (opc) { NVME_ADMIN_OPCODES(NVME_OPC_CASE) }
	} else {
		switch (opc) { NVME_IO_OPCODES(NVME_OPC_CASE) }
	}
#undef NVME_OPC_CASE
	return 0;
}

#endif

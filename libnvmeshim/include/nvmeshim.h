/* SPDX-License-Identifier: MIT */
/*
 * nvmeshim.h - the exported API of libnvmeshim, as called from Deno FFI: every
 * exported function, and every struct and constant the TypeScript side reads
 * or writes. With nvmeshim_ioworker.h (the ioworker's shared memory) and
 * nvme_opcodes.h (opcode names) it is the one source of the C<->TypeScript
 * boundary: `deno task abi` compiles a small program against these headers
 * (sizeof, offsetof, constants) and parses the prototypes below with their
 * kernel-doc comments into ffi/abi.gen.ts (the Deno.dlopen symbol table, struct
 * offsets, constants, opcode names), which the ffi/ modules import.
 * `deno task check` fails when ffi/abi.gen.ts is stale.
 *
 * To add an exported function:
 *   1. declare it here: `NVME_API int nvme_thing(uint32_t h, struct nvme_thing_info *out,
 *      uint32_t size);` with a kernel-doc comment; results that are more than
 *      one value are a named struct (and its size, checked by the C side),
 *      never a positional array;
 *   2. implement it (api.c or the file of its concept), checking its handles
 *      and lengths;
 *   3. run `deno task abi`, then call it as `lib.nvme_thing(...)` and read the
 *      struct with the offsets `NVME_THING_INFO.field` from ffi/abi.gen.ts;
 *   4. bump NVMESHIM_ABI when an existing function or struct changes.
 * Parameter types map to Deno FFI types: uint32_t/unsigned u32, int/int32_t
 * i32, uint64_t u64 (BigInt), any pointer "buffer" (a typed array), a returned
 * pointer "pointer". A comment line "FFI: nonblocking as NAME" in a
 * function's kernel-doc adds a second symbol NAME that runs it off the event
 * loop (a promise).
 *
 * Conventions: objects are named by 32-bit handles (0 = none); functions return
 * 0 or a non-negative count on success and a negative errno on failure, with a
 * message naming the problem available from nvme_error(). Every entry point
 * checks its handles and the lengths of the memory it is given.
 */
#ifndef NVMESHIM_H
#define NVMESHIM_H

#include <stdint.h>

#define NVME_API __attribute__((visibility("default")))
/* the ABI version, checked by the TypeScript loader (ffi/lib.ts) */
#define NVMESHIM_ABI 2

/* --- shared structs and constants ------------------------------------------ */

/* Live objects (nvme_stats()). */
struct nvme_lib_stats {
	uint64_t pcie;	      /* open PCIe functions */
	uint64_t controllers; /* open controllers */
	uint64_t sqs;	      /* live submission queues */
	uint64_t cqs;	      /* live completion queues */
	uint64_t buffers;     /* live buffers */
	uint64_t dma_used;    /* DMA bytes allocated now */
	uint64_t children;    /* child processes (QEMU) running */
	uint64_t arena_size;  /* bytes of the DMA arena */
};

/* A PCIe function (nvme_pcie_info()). */
struct nvme_pcie_info {
	uint64_t qemu_pid;  /* the embedded device's QEMU process, 0: none */
	uint64_t bar0_size; /* bytes of BAR0 */
	uint64_t msix_size; /* MSI-X vectors of the function */
	uint64_t nvec;	    /* vectors routed */
	uint64_t irq_words; /* host address of the interrupt words (one per vector) */
	uint64_t alive;	    /* 1 while the function answers */
};

/* The function's reset and power state (nvme_pcie_state()). */
struct nvme_pcie_state {
	uint32_t powered_off; /* 1 after a power off */
	uint32_t epoch;	      /* bumped by FLR, hot reset, power on */
	uint32_t nvec;	      /* MSI-X vectors enabled now (0: MSI-X off) */
	uint32_t nvec_routed; /* vectors routed */
};

/* What nvme_cq_reap() returns per completion (32 bytes). */
struct nvme_cpl {
	uint32_t dw[4];	 /* the CQE as the device wrote it (or synthesized) */
	uint32_t tag;	 /* the submitter's tag */
	uint32_t latency_us;
	uint32_t flags;	 /* NVME_CPL_* */
	uint32_t sq_handle;
};

/* nvme_cpl.flags */
#define NVME_CPL_TIMEOUT 0x1 /* synthesized: no completion within the timeout */
#define NVME_CPL_LATE 0x2    /* the device completed a command already timed out */
#define NVME_CPL_UNKNOWN 0x4 /* a CQE whose SQID/CID matches nothing outstanding */
#define NVME_CPL_GONE 0x8    /* synthesized: the device is gone or the queue was torn down */
/* data verification failed (status rewritten to 07/81, report: nvme_sq_verify_report()) */
#define NVME_CPL_VERIFY_LBA 0x10 /* a block holds another LBA's data */
#define NVME_CPL_VERIFY_CRC 0x20 /* a block's CRC differs */
#define NVME_CPL_VERIFY_UNC 0x40 /* a block written uncorrectable read successfully */

/* Synthetic status for timeouts and lost devices: SCT 7 (vendor), SC 0xFF. */
#define NVME_STATUS_HOST_TIMEOUT ((7u << 8) | 0xffu)
/* Status of a read whose data failed verification: SCT 7, SC 0x81 (pynvme's). */
#define NVME_STATUS_VERIFY ((7u << 8) | 0x81u)

/* nvme_sq_submit_cmd() flags */
#define NVME_SUBMIT_RAW_PRP 0x1	   /* keep PRP1/PRP2 as given in the SQE */
#define NVME_SUBMIT_NO_TIMEOUT 0x2 /* never time out (AER) */
#define NVME_SUBMIT_NO_DATA 0x4	   /* ignore the buffer, leave PRPs zero */
#define NVME_SUBMIT_SGL 0x8	   /* describe the data with one SGL Data Block descriptor */
#define NVME_SUBMIT_NO_STAMP 0x10 /* verification on: write the data as it is (no LBA/token stamp) */

/*
 * The command log: per submission queue, the last NVME_CMDLOG_DEPTH commands
 * as submitted (CID and data pointers filled in) with their completion entry,
 * submit/complete time and the driver's flags. 128 bytes per entry; read from
 * TypeScript in place. Entry for sequence number s is log[s % depth].
 */
#define NVME_CMDLOG_DEPTH 2048u
#define NVME_LOG_DONE 0x80000000u /* flags: the completion is filled in */

struct nvme_cmdlog_entry {
	uint8_t sqe[64];
	uint32_t cqe[4];
	uint64_t submit_ns;   /* CLOCK_MONOTONIC */
	uint64_t complete_ns; /* 0 while outstanding */
	uint64_t seq;	      /* 1, 2, ... per queue; 0: never used */
	uint32_t flags;	      /* NVME_CPL_* | NVME_LOG_DONE */
	uint32_t latency_us;
	uint32_t rsvd[4];
};

/* Where a queue's command log is (nvme_sq_cmdlog()). */
struct nvme_cmdlog_info {
	uint64_t entries; /* host address of NVME_CMDLOG_DEPTH struct nvme_cmdlog_entry */
	uint64_t depth;	  /* entries in the ring */
	uint64_t written; /* entries written so far */
	uint64_t mono_ns; /* CLOCK_MONOTONIC now */
	uint64_t real_ns; /* CLOCK_REALTIME now */
};

/* A submission queue's state (nvme_sq_stats()). */
struct nvme_sq_info {
	uint32_t qid, size, tail, head;
	uint32_t outstanding, timedout;
	uint32_t cq_qid;
	uint32_t submitted; /* low 32 bits */
};

/* A buffer's addresses (nvme_buf_alloc()). */
struct nvme_buf_addr {
	uint64_t vaddr; /* host address */
	uint64_t iova;	/* bus address */
};

/* nvme_ns_verify_enable() flags */
#define NVME_VERIFY_F_FNA_ALL 0x1     /* Identify Controller FNA bit 0: a format formats all */
#define NVME_VERIFY_F_FNA_SES 0x2     /* FNA bit 1: a secure erase erases all namespaces */
#define NVME_VERIFY_F_TRIM_ZEROES 0x4 /* deallocated blocks surely read zeroes (DLFEAT) */
#define NVME_VERIFY_F_NO_CHECK 0x8    /* stamp and record writes, do not check reads */
#define NVME_VERIFY_F_ALL 0xf

/* Kinds of verification failure (nvme_verify_failure.kind). */
#define NVME_VERIFY_LBA 1 /* the block holds another LBA's data (mapping error) */
#define NVME_VERIFY_CRC 2 /* the block's CRC differs (corrupt or stale data) */
#define NVME_VERIFY_UNC 3 /* written uncorrectable, yet read successfully */

#define NVME_VERIFY_REPORTS 1024u /* failure reports kept per controller */

/* A namespace's verification table (nvme_ns_verify_stats()). */
struct nvme_verify_stats {
	uint64_t on;		 /* 1 while verification is on */
	uint64_t lba_size;	 /* bytes per LBA */
	uint64_t limit;		 /* LBAs covered, from LBA 0 */
	uint64_t leaves;	 /* leaves of 64 entries allocated */
	uint64_t nodes;		 /* mid and mini nodes allocated */
	uint64_t slab_bytes;	 /* node slab bytes mapped */
	uint64_t dir_bytes;	 /* directory bytes mapped (virtual) */
	uint64_t lock_bytes;	 /* lock map bytes mapped (virtual) */
	uint64_t stamped;	 /* blocks stamped by writes */
	uint64_t checked;	 /* blocks whose CRC was compared on read */
	uint64_t skipped;	 /* blocks read that were never written */
	uint64_t bad_blocks;	 /* blocks that failed verification */
	uint64_t bad_cmds;	 /* reads that failed verification */
	uint64_t conflicts;	 /* submissions refused by a lock conflict */
	uint64_t alloc_failures; /* leaves that could not be allocated */
	uint64_t epoch;		 /* clears so far */
	uint64_t flags;		 /* NVME_VERIFY_F_* */
	uint64_t nlba;		 /* LBAs of the namespace */
};

/* A failed verification (nvme_sq_verify_report()). */
struct nvme_verify_failure {
	uint64_t kind;	      /* NVME_VERIFY_* of the first bad block */
	uint64_t lba;	      /* first bad block */
	uint64_t last_lba;    /* last bad block */
	uint64_t expected;    /* table entry of the first bad block */
	uint64_t found;	      /* CRC of the first bad block as read */
	uint64_t found_lba;   /* LBA stamp found in the first bad block */
	uint64_t found_token; /* write token found in the first bad block */
	uint64_t nbad;	      /* bad blocks in the command */
	uint64_t kinds;	      /* bit (1 << kind) for every kind seen */
	uint64_t nsid;
	uint64_t slba; /* the command's range */
	uint64_t nlb;
};

/* The write token and the CRC implementation (nvme_verify_token()). */
struct nvme_verify_token_info {
	uint64_t next;	 /* the token the next stamped block gets */
	uint64_t hw_crc; /* 1 when CRCs use SSE4.2 */
};

/* nvme_crc32c() */
struct nvme_crc {
	uint32_t crc;	/* CRC-32C of the bytes */
	uint32_t entry; /* the table entry a block with this CRC gets */
};

/* Shared memory layout of an ioworker (nvme_ioworker_layout()). */
struct nvme_iow_layout {
	uint32_t header;     /* sizeof(struct iow_shm) */
	uint32_t ips_off;    /* uint32_t[ips_n]: IOs per second */
	uint32_t cmdlog_off; /* struct iow_rec[cmdlog_n]: the last IOs */
	uint32_t hist_off;   /* uint64_t[IOW_HIST_BUCKETS]: latency histogram */
	uint32_t total;	     /* bytes */
	uint32_t buckets;    /* IOW_HIST_BUCKETS */
	uint32_t args_size;  /* sizeof(struct iow_args) */
	uint32_t rec_size;   /* sizeof(struct iow_rec) */
};

/* nvme_bench_loop() */
struct nvme_bench_result {
	uint64_t completed;  /* commands completed */
	uint64_t elapsed_ns; /* run time */
	uint64_t errors;     /* completions with a non-zero status */
};

/* A queue's state for an observer on another thread (nvme_sq_snapshot()). */
struct nvme_sq_snapshot {
	uint64_t qid, size, tail, head;
	uint64_t outstanding, timedout;
	uint64_t cq_qid;
	uint64_t submitted, completed;
	uint64_t logged;    /* command log entries written so far */
	uint64_t cq_head;
	uint64_t cq_vector;
	uint64_t cq_ien;    /* 1 when the CQ has interrupts enabled */
	uint64_t mono_ns;   /* CLOCK_MONOTONIC now */
	uint64_t real_ns;   /* CLOCK_REALTIME now */
	uint64_t ctrl;	    /* controller handle */
	uint64_t cq_size;
	uint64_t ioworker;  /* 1 while an ioworker thread drives the queue */
};

/* A controller's registers, each read through the device (nvme_ctrl_regs_snapshot()). */
struct nvme_ctrl_regs {
	uint64_t cap, vs, intms, cc, csts, aqa, asq, acq;
};

/* --- library ---------------------------------------------------------------- */

/** nvme_abi_version() - NVMESHIM_ABI, checked by the TypeScript loader. */
NVME_API uint32_t nvme_abi_version(void);
/** nvme_error() - message for the last failure on the calling thread. */
NVME_API const char *nvme_error(void);
/**
 * nvme_stats() - live objects, for leak checks.
 * @out: the counts
 * @size: bytes at @out (sizeof(struct nvme_lib_stats))
 */
NVME_API int nvme_stats(struct nvme_lib_stats *out, uint32_t size);

/* --- PCIe functions ------------------------------------------------------ */

/**
 * nvme_pcie_open_qemu() - start an embedded device (QEMU NVMe model).
 * @args: NUL-terminated extra QEMU arguments, one per line (@IMGn@ = image n)
 * @images: NUL-terminated image list, one "path|size" per line ("|size": temporary)
 * @out: receives the handle
 */
NVME_API int nvme_pcie_open_qemu(const char *args, const char *images, uint32_t *out);
/**
 * nvme_pcie_open_vfio() - open a real PCIe NVMe function bound to vfio-pci
 * (IOMMU on: type1 container or iommufd; DMA arena mapped at IOVA == offset).
 * @bdf: NUL-terminated PCI address, "0000:01:00.0" or "01:00.0", optionally
 *       followed by ",power=slot|s3|cmd|auto" (how Subsystem power cycles it)
 * @out: receives the handle
 */
NVME_API int nvme_pcie_open_vfio(const char *bdf, uint32_t *out);
/**
 * nvme_pcie_open_tcp() - connect to an NVMe/TCP controller; the handle then
 * works as a device's: registers are Fabrics properties, I/O queues are
 * connections. PCIe-only features fail with -ENOTSUP.
 * @cfg: NUL-terminated "key=value" lines (host, port, nqn, hostnqn, hdgst,
 *       ddgst, kato, timeout; see nvme_tcp_open() in transport.h)
 * @out: receives the handle
 */
NVME_API int nvme_pcie_open_tcp(const char *cfg, uint32_t *out);
/**
 * nvme_pcie_open_loopback() - open the benchmark's device: a controller in
 * this process that completes every command at the SQ doorbell write without
 * moving data (reads leave the buffer as it was), so that a benchmark times
 * the driver's own work. Benchmarks only: never a device under test.
 * @nsze: LBAs of its one namespace (8..2^48)
 * @lba_size: 512 or 4096
 * @queues: I/O queue pairs offered (1..64)
 * @out: receives the handle
 */
NVME_API int nvme_pcie_open_loopback(uint64_t nsze, uint32_t lba_size, uint32_t queues,
				     uint32_t *out);
/**
 * nvme_tcp_discovery_log() - read the discovery log (LID 70h) from the
 * discovery controller named by @cfg (as nvme_pcie_open_tcp(); nqn the
 * discovery NQN) into @out (@len bytes, at least 1024); *@got: bytes read.
 */
NVME_API int nvme_tcp_discovery_log(const char *cfg, uint8_t *out, uint32_t len, uint32_t *got);
/**
 * nvme_guest_start() - start a helper process (a QEMU guest) that dies with
 * the driver (PR_SET_PDEATHSIG from the launcher thread).
 * @argv: NUL-terminated, one argument per line, the first an absolute path
 * @log: NUL-terminated path of a file for its stdout and stderr ("" : none)
 * @pid: receives the process id
 */
NVME_API int nvme_guest_start(const char *argv, const char *log, uint32_t *pid);
/** nvme_guest_stop() - SIGTERM, then SIGKILL after @grace_ms; reaps it. */
NVME_API int nvme_guest_stop(uint32_t pid, uint32_t grace_ms);
/** nvme_guest_alive() - 1 while the helper process runs, 0 once it ended. */
NVME_API int nvme_guest_alive(uint32_t pid);
/** nvme_tcp_free_port() - a TCP port on 127.0.0.1 that nothing listens on now. */
NVME_API int nvme_tcp_free_port(uint32_t *port);
/** nvme_pcie_close() - stop the device; -EBUSY while a controller is open on it. */
NVME_API int nvme_pcie_close(uint32_t h);
/** nvme_pcie_cfg_read() - config space read of @size (1, 2, 4) bytes at @off. */
NVME_API int nvme_pcie_cfg_read(uint32_t h, uint32_t off, uint32_t size, uint32_t *val);
/** nvme_pcie_cfg_write() - config space write. */
NVME_API int nvme_pcie_cfg_write(uint32_t h, uint32_t off, uint32_t size, uint32_t val);
/**
 * nvme_pcie_info() - the function's process, BAR, vectors and interrupt words.
 * @size: bytes at @out (sizeof(struct nvme_pcie_info))
 */
NVME_API int nvme_pcie_info(uint32_t h, struct nvme_pcie_info *out, uint32_t size);
/** nvme_pcie_irq_mask() - mask (1) or unmask (0) interrupt vector @vec. */
NVME_API int nvme_pcie_irq_mask(uint32_t h, uint32_t vec, uint32_t mask);
/** nvme_pcie_control() - transport request (QMP JSON for qemu); reply in @out. */
NVME_API int nvme_pcie_control(uint32_t h, const char *req, char *out, uint32_t cap);
/**
 * nvme_pcie_enable() - reprogram BAR0 and the command register and route the
 * MSI-X vectors routed before (after an FLR).
 */
NVME_API int nvme_pcie_enable(uint32_t h);
/**
 * nvme_pcie_hot_reset() - reset the function as a PCIe hot reset does (qemu:
 * QMP system_reset, guest RAM kept), then enable it. -ENOTSUP if impossible.
 */
NVME_API int nvme_pcie_hot_reset(uint32_t h);
/**
 * nvme_pcie_power() - power off (@on 0: a dirty power loss, every access then
 * fails with -ENODEV "powered off", commands in flight complete as lost) or on
 * (same images and DMA memory, function enabled; the controller needs a reset).
 * -ENOTSUP when the transport cannot switch power.
 */
NVME_API int nvme_pcie_power(uint32_t h, uint32_t on);
/** nvme_pcie_intx() - *@level = 1 while the function's INTx line is asserted. */
NVME_API int nvme_pcie_intx(uint32_t h, uint32_t *level);
/**
 * nvme_pcie_state() - power, reset epoch and interrupt vectors now.
 * @size: bytes at @out (sizeof(struct nvme_pcie_state))
 */
NVME_API int nvme_pcie_state(uint32_t h, struct nvme_pcie_state *out, uint32_t size);

/* --- controllers --------------------------------------------------------- */

/** nvme_ctrl_open() - attach a controller object to a PCIe function (no init). */
NVME_API int nvme_ctrl_open(uint32_t pcie, uint32_t *out);
/** nvme_ctrl_close() - free the controller and all its queues. */
NVME_API int nvme_ctrl_close(uint32_t h);
/** nvme_ctrl_reg_read32() - read a 32-bit controller register at @off. */
NVME_API int nvme_ctrl_reg_read32(uint32_t h, uint32_t off, uint32_t *val);
/** nvme_ctrl_reg_read64() - read a 64-bit controller register at @off. */
NVME_API int nvme_ctrl_reg_read64(uint32_t h, uint32_t off, uint64_t *val);
/** nvme_ctrl_reg_write32() - write a 32-bit controller register at @off. */
NVME_API int nvme_ctrl_reg_write32(uint32_t h, uint32_t off, uint32_t val);
/** nvme_ctrl_reg_write64() - write a 64-bit controller register at @off. */
NVME_API int nvme_ctrl_reg_write64(uint32_t h, uint32_t off, uint64_t val);
/** nvme_ctrl_set_timeout() - per-command timeout in ms (0: none), 1..3600000. */
NVME_API int nvme_ctrl_set_timeout(uint32_t h, uint32_t ms);
/** nvme_ctrl_flush_doorbells() - write pending SQ tail doorbells now. */
NVME_API int nvme_ctrl_flush_doorbells(uint32_t h);

/* --- queues --------------------------------------------------------------- */

/**
 * nvme_cq_create() - allocate a CQ ring for queue @qid (the device-side Create
 * I/O Completion Queue command is the caller's, so it can be sent raw).
 * @out: [handle]; @iova: [bus address of the ring]
 */
NVME_API int nvme_cq_create(uint32_t ctrl, uint32_t qid, uint32_t size, uint32_t vector,
			    uint32_t ien, uint32_t *out, uint64_t *iova);
/** nvme_cq_delete() - free a CQ ring (its SQs first). */
NVME_API int nvme_cq_delete(uint32_t h);
/** nvme_sq_create() - allocate an SQ ring and its trackers, attached to CQ @cq. */
NVME_API int nvme_sq_create(uint32_t ctrl, uint32_t qid, uint32_t size, uint32_t cq,
			    uint32_t *out, uint64_t *iova);
/** nvme_sq_delete() - free an SQ ring; commands in flight complete as lost. */
NVME_API int nvme_sq_delete(uint32_t h);
/**
 * nvme_sq_submit_cmd() - post one command (see nvme_sq_submit()).
 * @sqe: 64 bytes; @sqe_len: must be 64
 * @buf: buffer handle or 0; @off/@len: the transfer within it
 * Return: the CID, -EAGAIN when full, or negative errno.
 */
NVME_API int nvme_sq_submit_cmd(uint32_t sq, const uint8_t *sqe, uint32_t sqe_len, uint32_t buf,
				uint32_t off, uint32_t len, uint32_t tag, uint32_t flags);
/**
 * nvme_sq_submit_meta() - nvme_sq_submit_cmd() with a separate metadata buffer:
 * MPTR is set to @mlen bytes at @moff of buffer @mbuf (dword aligned), which is
 * kept alive until the command completes.
 */
NVME_API int nvme_sq_submit_meta(uint32_t sq, const uint8_t *sqe, uint32_t sqe_len, uint32_t buf,
				 uint32_t off, uint32_t len, uint32_t mbuf, uint32_t moff,
				 uint32_t mlen, uint32_t tag, uint32_t flags);
/** nvme_cq_reap() - up to @max completion records (struct nvme_cpl) into @out. */
NVME_API int nvme_cq_reap(uint32_t cq, struct nvme_cpl *out, uint32_t max);
/**
 * nvme_cq_irq_gate() - reap this CQ only after its MSI-X vector fired (1) or
 * whenever entries are there (0, the default). Has no effect while MSI-X is
 * not routed (INTx mode) or interrupts are disabled on the CQ.
 */
NVME_API int nvme_cq_irq_gate(uint32_t cq, uint32_t on);
/**
 * nvme_cq_poll_wait() - wait up to @timeout_us (<= 1 s) for something to reap;
 * blocks the calling thread.
 * FFI: nonblocking as nvme_cq_poll_wait_nb
 */
NVME_API int nvme_cq_poll_wait(uint32_t cq, uint32_t timeout_us);
/**
 * nvme_cq_reap_wait() - nvme_cq_reap(), and when nothing was there, wait up to
 * @timeout_us (<= 1 s) for something to reap and reap again: a script's
 * waitdone in one call instead of three.
 * @cq: completion queue handle
 * @out: room for @max completion records (struct nvme_cpl)
 * @max: records at @out (>= 1)
 * @timeout_us: longest wait when nothing is there at first (0: reap only)
 *
 * Pending doorbells are written first, as by nvme_cq_reap(). Blocks the
 * calling thread while it waits.
 *
 * Return: completion records written (0 when the wait ended with none), or
 * negative errno.
 */
NVME_API int nvme_cq_reap_wait(uint32_t cq, struct nvme_cpl *out, uint32_t max,
			       uint32_t timeout_us);
/** nvme_sq_abandon() - complete everything in flight as "gone" (after a reset). */
NVME_API int nvme_sq_abandon(uint32_t sq, struct nvme_cpl *out, uint32_t max);
/**
 * nvme_sq_cmdlog() - where the queue's command log is, to read it in place.
 * @size: bytes at @out (sizeof(struct nvme_cmdlog_info))
 */
NVME_API int nvme_sq_cmdlog(uint32_t sq, struct nvme_cmdlog_info *out, uint32_t size);
/**
 * nvme_sq_stats() - the queue's indexes and counts.
 * @size: bytes at @out (sizeof(struct nvme_sq_info))
 */
NVME_API int nvme_sq_stats(uint32_t sq, struct nvme_sq_info *out, uint32_t size);

/* --- buffers -------------------------------------------------------------- */

/**
 * nvme_buf_alloc() - zeroed DMA memory of @size bytes (1 B..1 GiB).
 * @out: [handle]; @addr: its addresses
 */
NVME_API int nvme_buf_alloc(uint32_t size, uint32_t *out, struct nvme_buf_addr *addr);
/** nvme_buf_free() - release; memory stays valid until commands using it complete. */
NVME_API int nvme_buf_free(uint32_t h);

/* --- snapshots for observers on other threads (the live console) ------------ */

/**
 * nvme_sq_snapshot() - copy a queue's state and its newest command log entries,
 * safe while other threads submit on it or delete it (for observers; never per IO).
 * @sq: SQ handle
 * @out: the state
 * @size: bytes at @out (sizeof(struct nvme_sq_snapshot))
 * @log: receives up to @max struct nvme_cmdlog_entry, newest first
 * @max: entries wanted, 0..NVME_CMDLOG_DEPTH
 *
 * Return: entries copied, or negative errno (-EBADF once the queue is gone).
 */
NVME_API int nvme_sq_snapshot(uint32_t sq, struct nvme_sq_snapshot *out, uint32_t size,
			      uint8_t *log, uint32_t max);
/**
 * nvme_ctrl_regs_snapshot() - read CAP, VS, INTMS, CC, CSTS, AQA, ASQ, ACQ (one
 * register access each, through the device), safe against the controller
 * being closed meanwhile.
 * @h: controller handle
 * @size: bytes at @out (sizeof(struct nvme_ctrl_regs))
 *
 * Return: 8 (registers read), or negative errno.
 */
NVME_API int nvme_ctrl_regs_snapshot(uint32_t h, struct nvme_ctrl_regs *out, uint32_t size);

/* --- ioworker (nvmeshim_ioworker.h: the shared memory) --------------------- */

/**
 * nvme_ioworker_layout() - shared memory layout for @ips_n per-second slots and a
 * @cmdlog_n-entry IO ring.
 * @size: bytes at @out (sizeof(struct nvme_iow_layout))
 */
NVME_API int nvme_ioworker_layout(uint32_t ips_n, uint32_t cmdlog_n, struct nvme_iow_layout *out,
				  uint32_t size);

/**
 * nvme_ioworker_run() - run a workload on an IO queue pair; blocks until it ends.
 * @sq, @cq: handles of an idle IO queue pair (no commands in flight)
 * @args: struct iow_args; @args_len: its size
 * @seq: struct iow_seq[nseq] (IOW_F_SEQUENCE), else may be empty
 * @seq_len: bytes at @seq
 * @shm: shared memory of nvme_iow_layout.total bytes (magic set, the rest zero)
 * @shm_len: bytes at @shm
 *
 * Return: 0 when the loop ran (the outcome is in @shm: host_error, error, ...),
 * or a negative errno when it could not start; the message is then in
 * nvme_error() and in @shm's message too.
 */
NVME_API int nvme_ioworker_run(uint32_t sq, uint32_t cq, const uint8_t *args, uint32_t args_len,
			       const uint8_t *seq, uint32_t seq_len, uint8_t *shm,
			       uint32_t shm_len);

/**
 * nvme_ioworker_bucket_high() - the largest latency (microseconds) counted in
 * bucket @i of the ioworker's latency histogram (IOW_HIST_BUCKETS buckets).
 */
NVME_API uint64_t nvme_ioworker_bucket_high(uint32_t i);

/**
 * nvme_bench_clock() - the cost of the driver's timestamps: read the monotonic
 * clock (nvme_now_ns()) @n times (1..100000000); @out[0]: the elapsed time
 * they took, @out[1]: the calling thread's CPU time for them (ns). For the
 * benchmark (tasks/bench_driver.ts).
 */
NVME_API int nvme_bench_clock(uint32_t n, uint64_t *out);

/**
 * nvme_bench_loop() - the benchmark's reference: a minimal C loop on one idle IO
 * queue pair, writing SQEs straight into the ring with CID = slot, one batched
 * doorbell exchange per iteration, polling phase tags, no trackers. Not an API
 * for scripts: tasks/bench_ioworker.ts compares the ioworker and the script
 * against it.
 * @mode: 0 random reads of @lbas LBAs at queue depth @qd; 1 write then read of the
 *        same LBAs at QD1, alternately (LBA (n % 1024) * @lbas for pair n, as the
 *        script in tasks/bench.ts does)
 * @span: LBAs of the namespace used (IO start LBAs are below span - lbas)
 * @ms: run time
 * @size: bytes at @out (sizeof(struct nvme_bench_result))
 */
NVME_API int nvme_bench_loop(uint32_t sq, uint32_t cq, uint32_t mode, uint32_t nsid,
			     uint32_t lbas, uint32_t lba_size, uint64_t span, uint32_t qd,
			     uint32_t ms, struct nvme_bench_result *out, uint32_t size);

/* --- data verification (verify.h) ------------------------------------------- */

/**
 * nvme_ns_verify_enable() - create (or re-arm) the CRC table of namespace
 * @nsid of a controller; commands on it are then stamped, locked and checked.
 * @ctrl: controller handle
 * @nsid: namespace id, 1..FFFFFFFEh
 * @lba_size: bytes per LBA (data only), a power of two from 512 to 1 MiB
 * @nlba: LBAs of the namespace (NSZE)
 * @limit: LBAs covered, from LBA 0 (0: all); clipped to @nlba
 * @flags: NVME_VERIFY_F_*
 *
 * Enabling a table that is on with the same parameters keeps its entries, also
 * when only NVME_VERIFY_F_NO_CHECK changes (reads checked from now on, or not);
 * with other parameters it is cleared and reconfigured (-EBUSY while commands
 * on it are in flight).
 *
 * Return: 0, -ENOMEM when the directory cannot be mapped (the namespace is too
 * large for this process: pynvme's "verify_enable returns False"), -EINVAL,
 * -EBADF, -EBUSY, -ENOSPC (too many tables).
 */
NVME_API int nvme_ns_verify_enable(uint32_t ctrl, uint32_t nsid, uint32_t lba_size, uint64_t nlba,
				   uint64_t limit, uint32_t flags);

/**
 * nvme_ns_verify_disable() - stop verification of @nsid and free its table.
 *
 * Return: 0 (also when it was off), -EBUSY while commands on it are in flight.
 */
NVME_API int nvme_ns_verify_disable(uint32_t ctrl, uint32_t nsid);

/**
 * nvme_ns_verify_clear() - forget every entry of @nsid's table (FFFFFFFFh:
 * every table of the controller), as a format does.
 *
 * Return: tables cleared (0 when none is on), or a negative errno.
 */
NVME_API int nvme_ns_verify_clear(uint32_t ctrl, uint32_t nsid);

/**
 * nvme_ns_verify_stats() - the state of @nsid's table (all zero when it is off).
 * @size: bytes at @out (sizeof(struct nvme_verify_stats))
 */
NVME_API int nvme_ns_verify_stats(uint32_t ctrl, uint32_t nsid, struct nvme_verify_stats *out,
				  uint32_t size);

/**
 * nvme_ns_verify_get() - raw table entries of @count LBAs from @lba into @out
 * (0 for LBAs never written or past the limit).
 * @count: 1..65536
 */
NVME_API int nvme_ns_verify_get(uint32_t ctrl, uint32_t nsid, uint64_t lba, uint32_t count,
				uint32_t *out);

/**
 * nvme_sq_verify_report() - the report of a failed verification, by the SQ
 * handle and tag of its completion record (NVME_CPL_VERIFY_* set).
 * @size: bytes at @out (sizeof(struct nvme_verify_failure))
 *
 * Return: 0, -ENOENT when no such report is kept (NVME_VERIFY_REPORTS per controller).
 */
NVME_API int nvme_sq_verify_report(uint32_t sq, uint32_t tag, struct nvme_verify_failure *out,
				   uint32_t size);

/**
 * nvme_verify_token() - the next write token (tokens already handed out:
 * that minus 1) and whether CRCs use SSE4.2.
 * @size: bytes at @out (sizeof(struct nvme_verify_token_info))
 */
NVME_API int nvme_verify_token(struct nvme_verify_token_info *out, uint32_t size);

/**
 * nvme_crc32c() - CRC-32C of @len bytes (for scripts and tests).
 * @size: bytes at @out (sizeof(struct nvme_crc))
 */
NVME_API int nvme_crc32c(const uint8_t *buf, uint32_t len, struct nvme_crc *out, uint32_t size);

#endif

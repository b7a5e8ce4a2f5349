/* SPDX-License-Identifier: MIT */
/*
 * nvmeshim.h - the exported API of libnvmeshim, as called from Deno FFI.
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
#define NVMESHIM_ABI 1

struct nvme_cpl;

/** nvme_abi_version() - NVMESHIM_ABI, checked by the TypeScript loader. */
NVME_API uint32_t nvme_abi_version(void);
/** nvme_error() - message for the last failure on the calling thread. */
NVME_API const char *nvme_error(void);
/**
 * nvme_stats() - live objects, for leak checks.
 * @out: [pcie, controllers, sqs, cqs, buffers, dma bytes used, child processes, arena bytes]
 * @n: entries in @out (8)
 */
NVME_API int nvme_stats(uint64_t *out, uint32_t n);

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
 * @bdf: NUL-terminated PCI address, "0000:01:00.0" or "01:00.0"
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
 * nvme_pcie_info() - @out: [qemu pid, BAR0 size, MSI-X vectors, vectors routed,
 * interrupt words address, alive]
 */
NVME_API int nvme_pcie_info(uint32_t h, uint64_t *out, uint32_t n);
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
 * nvme_pcie_state() - @out: [powered off, reset epoch (bumped by FLR, hot
 * reset, power on), MSI-X vectors enabled now (0: MSI-X off), vectors routed]
 */
NVME_API int nvme_pcie_state(uint32_t h, uint32_t *out, uint32_t n);

/* --- controllers --------------------------------------------------------- */

/** nvme_ctrl_open() - attach a controller object to a PCIe function (no init). */
NVME_API int nvme_ctrl_open(uint32_t pcie, uint32_t *out);
/** nvme_ctrl_close() - free the controller and all its queues. */
NVME_API int nvme_ctrl_close(uint32_t h);
NVME_API int nvme_ctrl_reg_read32(uint32_t h, uint32_t off, uint32_t *val);
NVME_API int nvme_ctrl_reg_read64(uint32_t h, uint32_t off, uint64_t *val);
NVME_API int nvme_ctrl_reg_write32(uint32_t h, uint32_t off, uint32_t val);
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
NVME_API int nvme_cq_delete(uint32_t h);
/** nvme_sq_create() - allocate an SQ ring and its trackers, attached to CQ @cq. */
NVME_API int nvme_sq_create(uint32_t ctrl, uint32_t qid, uint32_t size, uint32_t cq,
			    uint32_t *out, uint64_t *iova);
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
/** nvme_cq_reap() - up to @max completion records (32 bytes each) into @out. */
NVME_API int nvme_cq_reap(uint32_t cq, struct nvme_cpl *out, uint32_t max);
/**
 * nvme_cq_irq_gate() - reap this CQ only after its MSI-X vector fired (1) or
 * whenever entries are there (0, the default). Has no effect while MSI-X is
 * not routed (INTx mode) or interrupts are disabled on the CQ.
 */
NVME_API int nvme_cq_irq_gate(uint32_t cq, uint32_t on);
/** nvme_cq_poll_wait() - wait up to @timeout_us (<= 1 s) for something to reap. */
NVME_API int nvme_cq_poll_wait(uint32_t cq, uint32_t timeout_us);
/** nvme_sq_abandon() - complete everything in flight as "gone" (after a reset). */
NVME_API int nvme_sq_abandon(uint32_t sq, struct nvme_cpl *out, uint32_t max);
/**
 * nvme_sq_cmdlog() - where the queue's command log is, to read it in place.
 * @out: [address of NVME_CMDLOG_DEPTH 128-byte entries, depth, entries written
 *        so far, CLOCK_MONOTONIC now (ns), CLOCK_REALTIME now (ns)]
 */
NVME_API int nvme_sq_cmdlog(uint32_t sq, uint64_t *out, uint32_t n);
/** nvme_sq_stats() - @out: [qid, size, tail, head, outstanding, timed out, cq qid, submitted] */
NVME_API int nvme_sq_stats(uint32_t sq, uint32_t *out, uint32_t n);

/* --- buffers -------------------------------------------------------------- */

/**
 * nvme_buf_alloc() - zeroed DMA memory of @size bytes (1 B..1 GiB).
 * @out: [handle]; @addr: [host address, bus address]
 */
NVME_API int nvme_buf_alloc(uint32_t size, uint32_t *out, uint64_t *addr);
/** nvme_buf_free() - release; memory stays valid until commands using it complete. */
NVME_API int nvme_buf_free(uint32_t h);

/* --- snapshots for observers on other threads (the live console) ------------ */

/** Words of nvme_sq_snapshot()'s @out. */
#define NVME_SNAP_SQ_WORDS 18u

/**
 * nvme_sq_snapshot() - copy a queue's state and its newest command log entries,
 * safe while other threads submit on it or delete it (for observers; never per IO).
 * @sq: SQ handle
 * @out: [qid, size, tail, head, outstanding, timed out, cq qid, submitted,
 *        completed, log entries written, cq head, cq vector, cq interrupts
 *        enabled, CLOCK_MONOTONIC now (ns), CLOCK_REALTIME now (ns), controller
 *        handle, cq size, driven by an ioworker]
 * @n: words in @out (NVME_SNAP_SQ_WORDS or more)
 * @log: receives up to @max 128-byte cmdlog entries, newest first
 * @max: entries wanted, 0..NVME_CMDLOG_DEPTH
 *
 * Return: entries copied, or negative errno (-EBADF once the queue is gone).
 */
NVME_API int nvme_sq_snapshot(uint32_t sq, uint64_t *out, uint32_t n, uint8_t *log, uint32_t max);
/**
 * nvme_ctrl_regs_snapshot() - read CAP, VS, INTMS, CC, CSTS, AQA, ASQ, ACQ in
 * that order into @out (one register access each, through the device), safe
 * against the controller being closed meanwhile.
 * @h: controller handle
 * @out: 8 words
 * @n: words in @out (8 or more)
 *
 * Return: 8, or negative errno.
 */
NVME_API int nvme_ctrl_regs_snapshot(uint32_t h, uint64_t *out, uint32_t n);

#endif

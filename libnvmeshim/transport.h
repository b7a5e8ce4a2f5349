/* SPDX-License-Identifier: MIT */
/*
 * transport.h - how the driver reaches a PCIe NVMe function: config space, BAR0
 * registers and doorbells, interrupt vectors, resets. One ops table per
 * transport ("qemu" embedded device, later "vfio" for real hardware).
 */
#ifndef NVMESHIM_TRANSPORT_H
#define NVMESHIM_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>

struct nvme_transport;

/* One 32-bit register write of a batch (doorbells). */
struct nvme_reg_write {
	uint32_t off;
	uint32_t val;
};

struct nvme_transport_ops {
	const char *name;
	/** cfg_read/cfg_write - PCI config space access of 1, 2 or 4 bytes. */
	int (*cfg_read)(struct nvme_transport *t, uint32_t off, unsigned size, uint32_t *val);
	int (*cfg_write)(struct nvme_transport *t, uint32_t off, unsigned size, uint32_t val);
	/** bar_read/bar_write - BAR0 access of 4 or 8 bytes. */
	int (*bar_read)(struct nvme_transport *t, uint32_t off, unsigned size, uint64_t *val);
	int (*bar_write)(struct nvme_transport *t, uint32_t off, unsigned size, uint64_t val);
	/** bar_write_batch - several 32-bit BAR0 writes in order, in one exchange if possible. */
	int (*bar_write_batch)(struct nvme_transport *t, const struct nvme_reg_write *w, unsigned n);
	/**
	 * irq_setup - route @nvec interrupt vectors so that vector i sets
	 * t->irq_words[i] to non-zero. Called before CC.EN and queue creation.
	 */
	int (*irq_setup)(struct nvme_transport *t, unsigned nvec);
	/** irq_mask - mask (1) or unmask (0) one vector. */
	int (*irq_mask)(struct nvme_transport *t, unsigned vec, bool mask);
	/**
	 * pci_enable - (re)program BARs and the command register, e.g. after an
	 * FLR, and route again the MSI-X vectors routed before (t->nvec_routed).
	 */
	int (*pci_enable)(struct nvme_transport *t);
	/**
	 * hot_reset - reset the function as a PCIe hot reset does (qemu: QMP
	 * system_reset, which keeps guest RAM), then pci_enable. NULL: unsupported.
	 */
	int (*hot_reset)(struct nvme_transport *t);
	/**
	 * power - power the device off (@on false: a dirty power loss; every access
	 * then fails with -ENODEV "powered off") or on again (same images, same DMA
	 * memory, function enabled). NULL: unsupported (needs an external switch).
	 */
	int (*power)(struct nvme_transport *t, bool on);
	/** intx - *@level = 1 while the function's INTx line is asserted. NULL: unsupported. */
	int (*intx)(struct nvme_transport *t, uint32_t *level);
	/**
	 * irq_sync - bring t->irq_words up to date with interrupts already
	 * signalled (vfio: drain the eventfds in the caller's thread instead of
	 * waiting for the interrupt thread). NULL: the words are always current.
	 */
	void (*irq_sync)(struct nvme_transport *t);
	/**
	 * poll - a message-based transport (NVMe/TCP): handle what arrived for the
	 * queues completing into CQ @cqid (data into the buffers, CQEs into the CQ
	 * ring with the phase tag, as a PCIe device writes them), waiting up to
	 * @timeout_us for something when nothing was there. Called from the reap
	 * path. NULL: the device writes the rings itself (PCIe).
	 */
	int (*poll)(struct nvme_transport *t, uint16_t cqid, uint32_t timeout_us);
	/** control - transport-specific request (QMP for qemu); @out gets the reply. */
	int (*control)(struct nvme_transport *t, const char *req, char *out, unsigned cap);
	/** alive - 0 once the device is gone (process exited, unplugged). */
	int (*alive)(struct nvme_transport *t);
	/** close - release everything (stops QEMU). */
	void (*close)(struct nvme_transport *t);
};

struct nvme_transport {
	const struct nvme_transport_ops *ops;
	char name[96];	 /* "qemu:pid 1234 00:04.0" for messages */
	bool dead;	 /* set once an access failed because the device is gone */
	uint32_t *irq_words; /* one word per vector, in DMA memory */
	uint64_t irq_iova;
	unsigned nvec;	 /* vectors set up by irq_setup and enabled now (0: MSI-X off) */
	unsigned nvec_routed; /* vectors routed by irq_setup, restored by pci_enable */
	bool powered_off;     /* dead because of power(t, false) */
	const char *why_gone; /* static text: why the device is dead, when known ("hot-unplugged ...") */
	uint32_t epoch;	      /* bumped by every reset of the function (FLR, hot reset, power on) */
	const char *last_reset; /* "FLR", "hot reset", "power cycle": what bumped epoch */
	unsigned msix_size; /* vectors the function offers (0: none) */
	uint32_t msix_cap;  /* config offset of the MSI-X capability, 0 if none */
	uint64_t bar0_size;
	uint64_t next_alive_ns; /* next liveness check by waiters (nvme_transport_poll_alive) */
	/*
	 * Data must be described by one SGL Data Block descriptor (address in the
	 * DMA arena, length) rather than PRPs: a transport that moves the data
	 * itself needs the length (NVMe/TCP).
	 */
	bool data_sgl;
};

/**
 * nvme_qemu_open() - start QEMU's NVMe model as the embedded device.
 * @args: extra QEMU arguments, one per line; a line starting with
 *        "file=@IMGn@" gets the path of image n there (nowhere else)
 * @images: one line per image: "path|size" (created sparse if missing) or
 *          "|size" for an anonymous temporary image deleted at once
 * @out: the transport
 *
 * Return: 0, or a negative errno with nvme_get_error() naming the problem.
 */
int nvme_qemu_open(const char *args, const char *images, struct nvme_transport **out);

/**
 * nvme_vfio_open() - open a real PCIe NVMe function bound to vfio-pci.
 * @bdf: PCI address, "0000:01:00.0" or "01:00.0"
 * @out: the transport
 *
 * Return: 0, or a negative errno with nvme_get_error() naming the problem and
 * what to do (not bound to vfio-pci, no IOMMU group, permissions, ...).
 */
int nvme_vfio_open(const char *bdf, struct nvme_transport **out);

/**
 * nvme_tcp_open() - connect to an NVMe/TCP controller (admin queue).
 * @cfg: "key=value" lines: host, port (default 4420), nqn (subsystem), and
 *       optionally hostnqn, hdgst, ddgst (0/1), kato (ms, default 30000, 0: no
 *       keep alive), timeout (connect and response timeout in ms, default 10000)
 * @out: the transport
 *
 * Return: 0, or a negative errno with nvme_get_error() naming the problem
 * (connection refused or timed out, Connect status decoded, ...).
 */
int nvme_tcp_open(const char *cfg, struct nvme_transport **out);

/**
 * nvme_tcp_discover() - read the discovery log page (LID 70h) of the discovery
 * controller at the address in @cfg (nvme_tcp_open() lines, nqn the discovery
 * NQN) into @out (@len bytes); *@got: bytes read (header + records).
 */
int nvme_tcp_discover(const char *cfg, uint8_t *out, uint32_t len, uint32_t *got);

/**
 * nvme_loopback_open() - the benchmark's in-process device (transport_loopback.c):
 * completes every command at the SQ doorbell write. See nvme_pcie_open_loopback().
 */
int nvme_loopback_open(uint64_t nsze, uint32_t lba_size, uint32_t queues,
		       struct nvme_transport **out);

/**
 * nvme_qemu_pid() - pid of the QEMU behind a qemu transport, or 0.
 */
int nvme_qemu_pid(struct nvme_transport *t);

/**
 * nvme_transport_poll_alive() - ask the transport whether the device is still
 * there, at most every 100 ms (waiters call it on every poll): a device that
 * died while nothing touched its registers (QEMU killed, a VFIO function
 * answering all ones) is then noticed within that time and marked dead.
 * @t: the transport
 * @now: nvme_now_ns()
 *
 * Return: true while the device is alive.
 */
static inline bool nvme_transport_poll_alive(struct nvme_transport *t, uint64_t now)
{
	uint64_t next = __atomic_load_n(&t->next_alive_ns, __ATOMIC_RELAXED);

	if (t->dead)
		return false;
	if (now < next || !t->ops->alive)
		return true;
	/* one thread checks; the others go on */
	if (!__atomic_compare_exchange_n(&t->next_alive_ns, &next, now + 100000000ull, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return true;
	if (!t->ops->alive(t))
		t->dead = true;
	return !t->dead;
}

/**
 * nvme_transport_gone() - why a dead transport is dead: "powered off", "gone",
 * or "gone (<cause>)" when the transport knows the cause.
 */
static inline const char *nvme_transport_gone(const struct nvme_transport *t)
{
	const char *why = __atomic_load_n(&t->why_gone, __ATOMIC_ACQUIRE);

	return t->powered_off ? "powered off" : why ? why : "gone";
}

#endif

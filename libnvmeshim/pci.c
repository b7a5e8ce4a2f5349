/* SPDX-License-Identifier: MIT */
/*
 * pci.c - capability walk and MSI-X routing into DMA memory.
 */
#include "dma.h"
#include "pci.h"
#include "util.h"

uint32_t nvme_pci_find_cap(struct nvme_transport *t, uint8_t id)
{
	uint32_t v, pos;

	if (t->ops->cfg_read(t, PCI_STATUS, 2, &v) || !(v & PCI_STATUS_CAP_LIST))
		return 0;
	if (t->ops->cfg_read(t, PCI_CAPABILITY_LIST, 1, &pos))
		return 0;
	/* at most 48 capabilities fit in config space; stop on loops */
	for (int n = 0; n < 48 && pos >= 0x40 && pos < 0x100; n++) {
		pos &= ~3u;
		if (t->ops->cfg_read(t, pos, 2, &v))
			return 0;
		if ((v & 0xff) == id)
			return pos;
		pos = (v >> 8) & 0xff;
	}
	return 0;
}

static int msix_table(struct nvme_transport *t, uint32_t *table_off)
{
	uint32_t v;

	if (!t->msix_cap)
		return nvme_set_error(-ENOTSUP, "%s has no MSI-X capability", t->name);
	if (t->ops->cfg_read(t, t->msix_cap + PCI_MSIX_TABLE, 4, &v))
		return nvme_set_error(-EIO, "%s: cannot read the MSI-X table offset", t->name);
	if ((v & 7) != 0)
		return nvme_set_error(-ENOTSUP, "%s: MSI-X table in BAR%u, only BAR0 is supported",
				      t->name, v & 7);
	*table_off = v & ~7u;
	return 0;
}

int nvme_pci_msix_route(struct nvme_transport *t, unsigned nvec)
{
	uint32_t table, flags;
	int r;

	if ((r = msix_table(t, &table)))
		return r;
	if (nvec > t->msix_size)
		return nvme_set_error(-EINVAL, "%u interrupt vectors requested, %s offers %u", nvec,
				      t->name, t->msix_size);
	if (!t->irq_words) {
		t->irq_words = nvme_dma_alloc(4096, &t->irq_iova);
		if (!t->irq_words)
			return -ENOMEM;
	}
	for (unsigned i = 0; i < nvec; i++) {
		uint64_t addr = t->irq_iova + 4ull * i;
		struct nvme_reg_write w[4] = {
			{ table + 16 * i + 0, (uint32_t)addr },
			{ table + 16 * i + 4, (uint32_t)(addr >> 32) },
			{ table + 16 * i + 8, i + 1 },
			{ table + 16 * i + 12, 0 },
		};
		if ((r = t->ops->bar_write_batch(t, w, 4)))
			return r;
	}
	if ((r = t->ops->cfg_read(t, t->msix_cap + PCI_MSIX_FLAGS, 2, &flags)))
		return r;
	flags = (flags | PCI_MSIX_FLAGS_ENABLE) & ~PCI_MSIX_FLAGS_MASKALL;
	if ((r = t->ops->cfg_write(t, t->msix_cap + PCI_MSIX_FLAGS, 2, flags)))
		return r;
	t->nvec = nvec;
	t->nvec_routed = nvec;
	return 0;
}

static bool overlaps(uint32_t off, unsigned size, uint32_t start, unsigned len)
{
	return off < start + len && start < off + size;
}

void nvme_pci_reset_done(struct nvme_transport *t, const char *what)
{
	__atomic_add_fetch(&t->epoch, 1, __ATOMIC_ACQ_REL);
	t->last_reset = what;
	t->nvec = 0; /* a reset clears MSI-X Enable: pci_enable routes the vectors again */
}

void nvme_pci_cfg_written(struct nvme_transport *t, uint32_t off, unsigned size, uint32_t val)
{
	uint32_t v, exp;

	if (t->msix_cap && overlaps(off, size, t->msix_cap + PCI_MSIX_FLAGS, 2)) {
		/* transports that route vectors some other way (VFIO) keep their own view */
		if (t->nvec_routed && !t->ops->cfg_read(t, t->msix_cap + PCI_MSIX_FLAGS, 2, &v))
			t->nvec = (v & PCI_MSIX_FLAGS_ENABLE) ? t->nvec_routed : 0;
		return;
	}
	/* Initiate FLR is bit 15 of DevCtl, the upper byte of the word */
	if (off < 0x40 || off >= 0x100)
		return;
	exp = nvme_pci_find_cap(t, PCI_CAP_ID_EXP);
	if (!exp || !overlaps(off, size, exp + PCI_EXP_DEVCTL + 1, 1))
		return;
	val >>= 8 * (exp + PCI_EXP_DEVCTL + 1 - off);
	if (val & (PCI_EXP_DEVCTL_BCR_FLR >> 8))
		nvme_pci_reset_done(t, "FLR");
}

int nvme_pci_msix_mask(struct nvme_transport *t, unsigned vec, int mask)
{
	uint32_t table;
	int r;

	if ((r = msix_table(t, &table)))
		return r;
	if (!t->nvec && t->nvec_routed)
		return nvme_set_error(-ENOTSUP, "MSI-X is disabled on %s (MSI-X Enable is clear: "
				      "INTx mode, or a reset not followed by enable())", t->name);
	if (vec >= t->nvec)
		return nvme_set_error(-EINVAL, "interrupt vector %u: allowed 0..%u", vec,
				      t->nvec ? t->nvec - 1 : 0);
	return t->ops->bar_write(t, table + 16 * vec + 12, 4, mask ? 1 : 0);
}

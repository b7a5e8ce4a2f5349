/* SPDX-License-Identifier: MIT */
/*
 * dma.h - DMA memory: one process-wide arena of shared memory (a memfd) that
 * every device can reach at the same bus address.
 *
 * The embedded device (QEMU) maps the arena as its guest RAM, so guest physical
 * address == arena offset; the VFIO transport maps the same arena into the IOMMU
 * at IOVA == offset. A buffer therefore works with every open device.
 */
#ifndef NVMESHIM_DMA_H
#define NVMESHIM_DMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Never hand out the first MiB: QEMU's BIOS shadow (0xC0000-0xFFFFF) hides it. */
#define NVME_DMA_FIRST 0x100000ull
#define NVME_DMA_ALIGN 4096ull

/* Extent allocator over [base, end), first fit, coalescing; pure, unit tested. */
struct dma_extent {
	uint64_t start, len;
};

struct dma_alloc {
	struct dma_extent *free; /* sorted by start, non-adjacent */
	unsigned nfree, cap;
	uint64_t base, end, used;
	uint64_t reserved; /* taken out for good by dma_alloc_reserve() */
};

int dma_alloc_init(struct dma_alloc *a, uint64_t base, uint64_t end);
void dma_alloc_fini(struct dma_alloc *a);
/**
 * dma_alloc_get() - take @len bytes aligned to @align (a power of two).
 * Return: the offset, or UINT64_MAX when no free extent fits.
 */
uint64_t dma_alloc_get(struct dma_alloc *a, uint64_t len, uint64_t align);
/** dma_alloc_put() - give back [@off, @off+@len); -EINVAL on a double free. */
int dma_alloc_put(struct dma_alloc *a, uint64_t off, uint64_t len);
/**
 * dma_alloc_reserve() - never hand out [@off, @off+@len) (clipped to the heap):
 * whatever part of it is free now is taken out for good.
 * @busy: set to the bytes of the range that were not free (allocated or
 *        reserved before)
 *
 * Return: 0, or -ENOMEM (nothing changed).
 */
int dma_alloc_reserve(struct dma_alloc *a, uint64_t off, uint64_t len, uint64_t *busy);

/* The arena. */
struct nvme_arena {
	int fd;
	uint8_t *base;
	uint64_t size;
	bool huge;   /* made of 2 MiB hugepages */
	bool pinned; /* mapped into an IOMMU (VFIO): its pages must never be released */
};

/* freed ranges of at least this size go back to the OS (unless the arena is pinned) */
#define NVME_DMA_RELEASE_MIN (1ull << 20)

/**
 * nvme_arena_get() - the process-wide arena, created on first use.
 *
 * Its size is DENVME_DMA_MB (MiB, default 1024, at most 2816 so that it stays
 * identity-mapped below QEMU's PCI hole). Memory is only committed when touched.
 *
 * Return: the arena, or NULL with nvme_get_error() set.
 */
struct nvme_arena *nvme_arena_get(void);

/**
 * nvme_dma_alloc() - allocate zeroed DMA memory from the arena.
 * @len: bytes, rounded up to 4 KiB
 * @iova: set to the bus address (== arena offset)
 *
 * Return: the host address, or NULL with nvme_get_error() set.
 */
void *nvme_dma_alloc(uint64_t len, uint64_t *iova);
/** nvme_dma_free() - free memory from nvme_dma_alloc(). */
void nvme_dma_free(void *vaddr, uint64_t len);
/** nvme_dma_iova() - bus address of a host address inside the arena, or UINT64_MAX. */
uint64_t nvme_dma_iova(const void *vaddr);
/** nvme_dma_vaddr() - host address of @len bytes at bus address @iova, or NULL. */
void *nvme_dma_vaddr(uint64_t iova, uint64_t len);
/** nvme_dma_used() - bytes allocated from the arena now. */
uint64_t nvme_dma_used(void);
/**
 * nvme_dma_reserve() - keep [@iova, @iova+@len) out of every future allocation
 * (an IOVA hole of an IOMMU). @busy: bytes of it already in use (or reserved).
 */
int nvme_dma_reserve(uint64_t iova, uint64_t len, uint64_t *busy);

/* Buffers handed to TypeScript. */
struct nvme_buf {
	uint8_t *vaddr;
	uint64_t iova;
	uint64_t size;	/* bytes usable by the script */
	uint64_t alloc; /* bytes taken from the arena */
	int refs;	/* 1 for the handle + one per command in flight */
};

struct nvme_buf *nvme_buf_new(uint64_t size);
void nvme_buf_get(struct nvme_buf *b);
void nvme_buf_put(struct nvme_buf *b);

#endif

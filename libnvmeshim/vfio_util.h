/* SPDX-License-Identifier: MIT */
/*
 * vfio_util.h - the pure parts of the VFIO transport, unit tested without a
 * device: PCI address parsing and the plan of which arena ranges the IOMMU can
 * map at IOVA == arena offset.
 */
#ifndef NVMESHIM_VFIO_UTIL_H
#define NVMESHIM_VFIO_UTIL_H

#include <stdint.h>

#include "dma.h"

/* "dddd:bb:dd.f" plus NUL */
#define NVME_BDF_LEN 13

/**
 * nvme_bdf_parse() - canonical form of a PCI address.
 * @s: "0000:01:00.0" or "01:00.0" (hex digits, either case)
 * @out: receives "dddd:bb:dd.f" in lower case
 *
 * Return: 0, or -EINVAL when @s is not a PCI address (device above 0x1f,
 * function above 7, other characters, trailing text).
 */
int nvme_bdf_parse(const char *s, char out[NVME_BDF_LEN]);

/**
 * nvme_vfio_name_parse() - split a device name "bdf[,power=slot|s3|cmd|auto]".
 * @s: the name
 * @bdf: receives the canonical PCI address
 * @power: receives the power option's value ("" when absent)
 * @why: receives what is wrong, when something is
 * @cap: size of @why
 *
 * Return: 0, or -EINVAL (@why names the part and what is allowed).
 */
int nvme_vfio_name_parse(const char *s, char bdf[NVME_BDF_LEN], char power[16], char *why,
			 unsigned cap);

/* An IOVA interval as the kernel reports it: both ends inclusive. */
struct nvme_iova_range {
	uint64_t start, last;
};

/**
 * nvme_iova_plan() - split [@start, @end) into what the IOMMU can map and what
 * it cannot.
 * @allowed: @n usable IOVA intervals, in any order, possibly overlapping
 * @start: first arena offset to map (page aligned)
 * @end: end of the arena (page aligned)
 * @map: receives the mappable extents, sorted, merged, 4 KiB aligned
 * @nmap: in: capacity of @map; out: extents written
 * @holes: receives the rest of [@start, @end) (the allocator must never hand it out)
 * @nholes: in: capacity of @holes; out: extents written
 *
 * Return: 0; -E2BIG when an output array is too small; -ERANGE when nothing
 * of [@start, @end) can be mapped; -EINVAL for an empty or unaligned range.
 */
int nvme_iova_plan(const struct nvme_iova_range *allowed, unsigned n, uint64_t start,
		   uint64_t end, struct dma_extent *map, unsigned *nmap, struct dma_extent *holes,
		   unsigned *nholes);

#endif

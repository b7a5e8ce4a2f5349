/* SPDX-License-Identifier: MIT */
/*
 * prp.h - building PRP entries and PRP lists (NVMe base spec, "Physical Region
 * Page Entry and List"). Pure functions: no device access, unit tested.
 */
#ifndef NVMESHIM_PRP_H
#define NVMESHIM_PRP_H

#include <stdint.h>

/**
 * nvme_prp_list_entries() - PRP list slots a transfer needs, chain slots included.
 * @iova: bus address of the first byte
 * @len: transfer length in bytes (> 0)
 * @pgsz: memory page size, a power of two >= 4096
 *
 * Return: 0 when PRP1/PRP2 suffice, else the number of 8-byte list entries.
 */
uint64_t nvme_prp_list_entries(uint64_t iova, uint64_t len, uint32_t pgsz);

/**
 * nvme_prp_build() - fill PRP1, PRP2 and, when needed, a PRP list.
 * @iova: bus address of the first byte (may have an offset into its page)
 * @len: transfer length in bytes (> 0)
 * @pgsz: memory page size (CC.MPS), a power of two >= 4096
 * @list: host address of @list_pages contiguous pages for the list
 * @list_iova: bus address of @list (page aligned)
 * @list_pages: pages available; each full page ends with a pointer to the next
 * @prp1: set to the first data pointer
 * @prp2: set to 0, the second page, or the list address
 *
 * Return: list entries written (0 when no list was needed), -EINVAL for a bad
 * argument, -E2BIG when the transfer needs more list pages than given.
 */
int nvme_prp_build(uint64_t iova, uint64_t len, uint32_t pgsz, uint64_t *list,
		   uint64_t list_iova, unsigned list_pages, uint64_t *prp1, uint64_t *prp2);

#endif

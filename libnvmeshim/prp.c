/* SPDX-License-Identifier: MIT */
/*
 * prp.c - PRP list construction.
 *
 * PRP1 points at the first byte (any dword-aligned offset); every further page
 * starts at a page boundary. Two pages fit in PRP1/PRP2; more need a list whose
 * address goes into PRP2. A list page holds pgsz/8 entries; when more entries
 * follow, its last slot points at the next list page instead of at data.
 */
#include <errno.h>

#include "prp.h"

static int bad_args(uint64_t len, uint32_t pgsz)
{
	return len == 0 || pgsz < 4096 || (pgsz & (pgsz - 1));
}

/* data pages after the first one */
static uint64_t rest_pages(uint64_t iova, uint64_t len, uint32_t pgsz)
{
	uint64_t first = pgsz - (iova & (pgsz - 1));

	return len <= first ? 0 : (len - first + pgsz - 1) / pgsz;
}

uint64_t nvme_prp_list_entries(uint64_t iova, uint64_t len, uint32_t pgsz)
{
	uint64_t n, per = pgsz / 8, pages = 0;

	if (bad_args(len, pgsz))
		return 0;
	n = rest_pages(iova, len, pgsz);
	if (n <= 1)
		return 0;
	/* every list page but the last gives one slot to the chain pointer */
	while (n > per) {
		pages++;
		n -= per - 1;
	}
	return pages * per + n;
}

int nvme_prp_build(uint64_t iova, uint64_t len, uint32_t pgsz, uint64_t *list,
		   uint64_t list_iova, unsigned list_pages, uint64_t *prp1, uint64_t *prp2)
{
	uint64_t per = pgsz / 8, n, page, slots;
	unsigned used = 0;

	if (bad_args(len, pgsz) || (iova & 3) || (list_iova & (pgsz - 1)))
		return -EINVAL;
	n = rest_pages(iova, len, pgsz);
	page = (iova & ~((uint64_t)pgsz - 1)) + pgsz;
	*prp1 = iova;
	if (n == 0) {
		*prp2 = 0;
		return 0;
	}
	if (n == 1) {
		*prp2 = page;
		return 0;
	}
	slots = nvme_prp_list_entries(iova, len, pgsz);
	if (!list || slots > (uint64_t)list_pages * per)
		return -E2BIG;
	*prp2 = list_iova;
	for (uint64_t i = 0; i < n; i++) {
		/* last slot of a list page with more than one entry to go: chain */
		if (used % per == per - 1 && n - i > 1) {
			list[used] = list_iova + (uint64_t)(used + 1) * 8;
			used++;
		}
		list[used++] = page;
		page += pgsz;
	}
	return (int)used;
}

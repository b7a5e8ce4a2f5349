/* SPDX-License-Identifier: MIT */
/*
 * test_prp.c - nvme_prp_build() and nvme_prp_list_entries() against the NVMe
 * PRP rules: PRP1 keeps the offset, every later entry is page aligned, two pages
 * fit in PRP1/PRP2, more need a list in PRP2 whose pages end with a pointer to
 * the next list page when more than one entry is still to come.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "prp.h"
#include "unit.h"

#define POISON 0xdeadbeefcafef00dull
#define KiB 1024ull
#define MiB (1024ull * 1024ull)

/* a data buffer at a 64-bit bus address, and where the list pretends to be */
#define DATA 0x123400000ull
#define LIST 0x7ff000000ull

static uint64_t *list_new(unsigned pages, uint32_t pgsz)
{
	uint64_t *l = aligned_alloc(pgsz, (size_t)pages * pgsz);

	if (l)
		for (uint64_t i = 0; i < (uint64_t)pages * pgsz / 8; i++)
			l[i] = POISON;
	return l;
}

static void poison(uint64_t *l, unsigned pages, uint32_t pgsz)
{
	for (uint64_t i = 0; i < (uint64_t)pages * pgsz / 8; i++)
		l[i] = POISON;
}

/*
 * Build the PRPs for (@iova, @len) into @list (@list_pages pages at bus address
 * LIST) and walk them the way a controller does, checking every entry. Return
 * the list entries used (0 without a list) or -1 after a failed check.
 */
static long walk(uint64_t *list, unsigned list_pages, uint64_t iova, uint64_t len, uint32_t pgsz)
{
	uint64_t per = pgsz / 8, cap = list_pages * per, mask = pgsz - 1;
	uint64_t first = iova & ~mask, last = (iova + len - 1) & ~mask;
	uint64_t n = (last - first) / pgsz; /* data pages after the first */
	uint64_t prp1 = POISON, prp2 = POISON, slot = 0;
	unsigned long bad = unit_current->failed;
	int r;

	poison(list, list_pages, pgsz);
	r = nvme_prp_build(iova, len, pgsz, list, LIST, list_pages, &prp1, &prp2);
	CHECK_EQ(prp1, iova);
	if (n == 0) {
		CHECK_EQ(r, 0);
		CHECK_EQ(prp2, 0);
		CHECK_EQ(list[0], POISON);
	} else if (n == 1) {
		CHECK_EQ(r, 0);
		CHECK_EQ(prp2, first + pgsz);
		CHECK_EQ(list[0], POISON);
	} else {
		CHECK_EQ(prp2, LIST);
		for (uint64_t k = 0; k < n; k++) {
			if (!CHECK(slot < cap))
				break;
			/* the last slot of a list page, with more than one entry to go */
			if (slot % per == per - 1 && n - k > 1) {
				if (!CHECK_EQ(list[slot], LIST + (slot / per + 1) * pgsz))
					break;
				slot = (list[slot] - LIST) / 8;
			}
			if (!CHECK_EQ(list[slot], first + (k + 1) * pgsz)) {
				UNIT_NOTE("data page %llu of %llu in list slot %llu",
					  (unsigned long long)k, (unsigned long long)n,
					  (unsigned long long)slot);
				break;
			}
			slot++;
		}
		CHECK_EQ(r, slot);
		if (slot < cap)
			CHECK_EQ(list[slot], POISON);
	}
	CHECK_EQ(nvme_prp_list_entries(iova, len, pgsz), n > 1 ? slot : 0);
	if (unit_current->failed != bad) {
		UNIT_NOTE("iova 0x%llx len %llu pgsz %u list_pages %u", (unsigned long long)iova,
			  (unsigned long long)len, pgsz, list_pages);
		return -1;
	}
	return (long)(n > 1 ? slot : 0);
}

TEST(prp_within_one_page)
{
	uint64_t *l = list_new(1, 4096), p1 = 1, p2 = 1;

	CHECK_EQ(nvme_prp_build(DATA, 512, 4096, l, LIST, 1, &p1, &p2), 0);
	CHECK_EQ(p1, DATA);
	CHECK_EQ(p2, 0);
	CHECK_EQ(nvme_prp_build(DATA + 0x100, 4, 4096, l, LIST, 1, &p1, &p2), 0);
	CHECK_EQ(p1, DATA + 0x100);
	CHECK_EQ(p2, 0);
	CHECK_EQ(nvme_prp_build(DATA, 1, 4096, l, LIST, 1, &p1, &p2), 0);
	CHECK_EQ(p2, 0);
	CHECK_EQ(l[0], POISON);
	/* no list needed: a missing list is fine */
	CHECK_EQ(nvme_prp_build(DATA, 4096, 4096, NULL, 0, 0, &p1, &p2), 0);
	CHECK_EQ(p2, 0);
	CHECK_EQ(nvme_prp_list_entries(DATA, 4096, 4096), 0);
	free(l);
}

TEST(prp_to_page_end)
{
	uint64_t *l = list_new(1, 4096), p1 = 1, p2 = 1;

	CHECK_EQ(nvme_prp_build(DATA, 4096, 4096, l, LIST, 1, &p1, &p2), 0);
	CHECK_EQ(p1, DATA);
	CHECK_EQ(p2, 0);
	CHECK_EQ(nvme_prp_build(DATA + 0x800, 0x800, 4096, l, LIST, 1, &p1, &p2), 0);
	CHECK_EQ(p1, DATA + 0x800);
	CHECK_EQ(p2, 0);
	CHECK_EQ(nvme_prp_build(DATA + 4092, 4, 4096, l, LIST, 1, &p1, &p2), 0);
	CHECK_EQ(p1, DATA + 4092);
	CHECK_EQ(p2, 0);
	CHECK_EQ(l[0], POISON);
	free(l);
}

TEST(prp_two_pages)
{
	uint64_t *l = list_new(1, 4096), p1 = 1, p2 = 1;

	/* one byte into the second page */
	CHECK_EQ(nvme_prp_build(DATA + 0x800, 0x801, 4096, l, LIST, 1, &p1, &p2), 0);
	CHECK_EQ(p1, DATA + 0x800);
	CHECK_EQ(p2, DATA + 0x1000);
	CHECK_EQ(nvme_prp_build(DATA, 4097, 4096, l, LIST, 1, &p1, &p2), 0);
	CHECK_EQ(p2, DATA + 0x1000);
	/* exactly two pages */
	CHECK_EQ(nvme_prp_build(DATA, 8192, 4096, l, LIST, 1, &p1, &p2), 0);
	CHECK_EQ(p1, DATA);
	CHECK_EQ(p2, DATA + 0x1000);
	/* 4 bytes, straddling the boundary */
	CHECK_EQ(nvme_prp_build(DATA + 4094 + 2, 8, 4096, l, LIST, 1, &p1, &p2), 0);
	CHECK_EQ(p1, DATA + 4096);
	CHECK_EQ(p2, 0);
	CHECK_EQ(nvme_prp_build(DATA + 4092, 8, 4096, l, LIST, 1, &p1, &p2), 0);
	CHECK_EQ(p1, DATA + 4092);
	CHECK_EQ(p2, DATA + 4096);
	CHECK_EQ(l[0], POISON);
	/* two pages need no list either */
	CHECK_EQ(nvme_prp_build(DATA + 12, 8192 - 12, 4096, NULL, 0, 0, &p1, &p2), 0);
	CHECK_EQ(p2, DATA + 0x1000);
	CHECK_EQ(nvme_prp_list_entries(DATA, 8192, 4096), 0);
	free(l);
}

TEST(prp_offset_in_first_page)
{
	uint64_t *l = list_new(1, 4096), p1 = 1, p2 = 1;

	/* 0x200 into the page, 3 pages long: 3584 + 4096 + 4096 + 512 bytes */
	CHECK_EQ(nvme_prp_build(DATA + 0x200, 3 * 4096, 4096, l, LIST, 1, &p1, &p2), 3);
	CHECK_EQ(p1, DATA + 0x200);
	CHECK_EQ(p2, LIST);
	CHECK_EQ(l[0], DATA + 0x1000);
	CHECK_EQ(l[1], DATA + 0x2000);
	CHECK_EQ(l[2], DATA + 0x3000);
	CHECK_EQ(l[3], POISON);
	CHECK_EQ(nvme_prp_list_entries(DATA + 0x200, 3 * 4096, 4096), 3);
	/* the same length without the offset needs one page less */
	CHECK_EQ(nvme_prp_list_entries(DATA, 3 * 4096, 4096), 2);
	free(l);
}

TEST(prp_three_pages_list)
{
	uint64_t *l = list_new(1, 4096), p1 = 1, p2 = 1;

	CHECK_EQ(nvme_prp_build(DATA, 3 * 4096, 4096, l, LIST, 1, &p1, &p2), 2);
	CHECK_EQ(p1, DATA);
	CHECK_EQ(p2, LIST);
	CHECK_EQ(l[0], DATA + 0x1000);
	CHECK_EQ(l[1], DATA + 0x2000);
	CHECK_EQ(l[2], POISON);
	CHECK_EQ(nvme_prp_list_entries(DATA, 3 * 4096, 4096), 2);
	/* 2 pages and one byte */
	CHECK_EQ(nvme_prp_build(DATA, 2 * 4096 + 1, 4096, l, LIST, 1, &p1, &p2), 2);
	CHECK_EQ(p2, LIST);
	/* 4 pages plus a partial one */
	CHECK_EQ(walk(l, 1, DATA + 8, 4 * 4096, 4096), 4);
	free(l);
}

TEST(prp_one_full_list_page)
{
	uint64_t *l = list_new(2, 4096), p1 = 1, p2 = 1;

	/* 1 + 512 pages: the list page is exactly full, its last slot is data */
	CHECK_EQ(nvme_prp_build(DATA, 513 * 4096, 4096, l, LIST, 1, &p1, &p2), 512);
	CHECK_EQ(p1, DATA);
	CHECK_EQ(p2, LIST);
	CHECK_EQ(l[0], DATA + 4096);
	CHECK_EQ(l[510], DATA + 511 * 4096);
	CHECK_EQ(l[511], DATA + 512 * 4096);
	CHECK_EQ(l[512], POISON);
	CHECK_EQ(nvme_prp_list_entries(DATA, 513 * 4096, 4096), 512);
	CHECK_EQ(walk(l, 1, DATA, 513 * 4096, 4096), 512);
	CHECK_EQ(walk(l, 2, DATA, 513 * 4096, 4096), 512);
	/* the same with an offset: 511 full pages and a partial one after it */
	CHECK_EQ(walk(l, 1, DATA + 0x10, 512 * 4096, 4096), 512);
	free(l);
}

TEST(prp_chain)
{
	uint64_t *l = list_new(3, 4096), p1 = 1, p2 = 1;

	/* 1 + 513 pages: 511 data slots, a chain slot, then 2 more */
	CHECK_EQ(nvme_prp_build(DATA, 514 * 4096, 4096, l, LIST, 2, &p1, &p2), 514);
	CHECK_EQ(p1, DATA);
	CHECK_EQ(p2, LIST);
	CHECK_EQ(l[510], DATA + 511 * 4096);
	CHECK_EQ(l[511], LIST + 4096);
	CHECK_EQ(l[512], DATA + 512 * 4096);
	CHECK_EQ(l[513], DATA + 513 * 4096);
	CHECK_EQ(l[514], POISON);
	CHECK_EQ(nvme_prp_list_entries(DATA, 514 * 4096, 4096), 514);
	CHECK_EQ(walk(l, 2, DATA, 514 * 4096, 4096), 514);

	/* 1 + 1100 pages: chains in slots 511 and 1023, 78 entries in page 3 */
	poison(l, 3, 4096);
	CHECK_EQ(nvme_prp_build(DATA, 1101 * 4096, 4096, l, LIST, 3, &p1, &p2), 1102);
	CHECK_EQ(l[511], LIST + 4096);
	CHECK_EQ(l[512], DATA + 512 * 4096);
	CHECK_EQ(l[1022], DATA + 1022 * 4096);
	CHECK_EQ(l[1023], LIST + 8192);
	CHECK_EQ(l[1024], DATA + 1023 * 4096);
	CHECK_EQ(l[1101], DATA + 1100 * 4096);
	CHECK_EQ(l[1102], POISON);
	CHECK_EQ(walk(l, 3, DATA, 1101 * 4096, 4096), 1102);

	/* the second page exactly full: 511 + 512 data entries, one chain */
	CHECK_EQ(walk(l, 2, DATA, (1 + 511 + 512) * 4096, 4096), 1024);
	/* one more needs a third page */
	CHECK_EQ(nvme_prp_list_entries(DATA, (1 + 511 + 513) * 4096, 4096), 1026);
	CHECK_EQ(walk(l, 3, DATA, (1 + 511 + 513) * 4096, 4096), 1026);
	free(l);
}

TEST(prp_list_too_small)
{
	uint64_t *l = list_new(3, 4096), p1 = 1, p2 = 1;

	CHECK_EQ(nvme_prp_build(DATA, 514 * 4096, 4096, l, LIST, 1, &p1, &p2), -E2BIG);
	CHECK_EQ(l[0], POISON);
	CHECK_EQ(nvme_prp_build(DATA, 3 * 4096, 4096, l, LIST, 0, &p1, &p2), -E2BIG);
	CHECK_EQ(nvme_prp_build(DATA, 3 * 4096, 4096, NULL, LIST, 1, &p1, &p2), -E2BIG);
	CHECK_EQ(nvme_prp_build(DATA, 1101 * 4096, 4096, l, LIST, 2, &p1, &p2), -E2BIG);
	CHECK_EQ(l[0], POISON);
	/* the biggest transfer one list page takes, and one byte more */
	CHECK_EQ(nvme_prp_build(DATA, 513 * 4096, 4096, l, LIST, 1, &p1, &p2), 512);
	CHECK_EQ(nvme_prp_build(DATA, 513 * 4096 + 1, 4096, l, LIST, 1, &p1, &p2), -E2BIG);
	CHECK_EQ(nvme_prp_build(DATA + 4, 513 * 4096 - 4, 4096, l, LIST, 1, &p1, &p2), 512);
	CHECK_EQ(nvme_prp_build(DATA + 4, 513 * 4096 - 3, 4096, l, LIST, 1, &p1, &p2), -E2BIG);
	free(l);
}

TEST(prp_bad_arguments)
{
	uint64_t *l = list_new(2, 8192), p1 = 1, p2 = 1;

	CHECK_EQ(nvme_prp_build(DATA, 0, 4096, l, LIST, 1, &p1, &p2), -EINVAL);
	CHECK_EQ(nvme_prp_build(DATA, 4096, 0, l, LIST, 1, &p1, &p2), -EINVAL);
	CHECK_EQ(nvme_prp_build(DATA, 4096, 512, l, LIST, 1, &p1, &p2), -EINVAL);
	CHECK_EQ(nvme_prp_build(DATA, 4096, 2048, l, LIST, 1, &p1, &p2), -EINVAL);
	CHECK_EQ(nvme_prp_build(DATA, 4096, 4095, l, LIST, 1, &p1, &p2), -EINVAL);
	CHECK_EQ(nvme_prp_build(DATA, 4096, 4097, l, LIST, 1, &p1, &p2), -EINVAL);
	CHECK_EQ(nvme_prp_build(DATA, 4096, 6144, l, LIST, 1, &p1, &p2), -EINVAL);
	CHECK_EQ(nvme_prp_build(DATA, 4096, 12288, l, LIST, 1, &p1, &p2), -EINVAL);
	CHECK_EQ(nvme_prp_build(DATA, 4096, 0x80000001u, l, LIST, 1, &p1, &p2), -EINVAL);
	/* PRP1 must be dword aligned */
	CHECK_EQ(nvme_prp_build(DATA + 1, 4096, 4096, l, LIST, 1, &p1, &p2), -EINVAL);
	CHECK_EQ(nvme_prp_build(DATA + 2, 16, 4096, l, LIST, 1, &p1, &p2), -EINVAL);
	CHECK_EQ(nvme_prp_build(DATA + 3, 3 * 4096, 4096, l, LIST, 1, &p1, &p2), -EINVAL);
	CHECK_EQ(nvme_prp_build(DATA + 4, 3 * 4096, 4096, l, LIST, 1, &p1, &p2), 3);
	/* the list must be page aligned (memory page size, not 4 KiB) */
	CHECK_EQ(nvme_prp_build(DATA, 3 * 4096, 4096, l, LIST + 8, 1, &p1, &p2), -EINVAL);
	CHECK_EQ(nvme_prp_build(DATA, 3 * 4096, 4096, l, LIST + 2048, 1, &p1, &p2), -EINVAL);
	CHECK_EQ(nvme_prp_build(DATA, 3 * 8192, 8192, l, LIST + 4096, 1, &p1, &p2), -EINVAL);
	CHECK_EQ(nvme_prp_build(DATA, 3 * 8192, 8192, l, LIST + 8192, 1, &p1, &p2), 2);
	/* nvme_prp_list_entries() answers 0 to bad arguments */
	CHECK_EQ(nvme_prp_list_entries(DATA, 0, 4096), 0);
	CHECK_EQ(nvme_prp_list_entries(DATA, 1 * MiB, 2048), 0);
	CHECK_EQ(nvme_prp_list_entries(DATA, 1 * MiB, 6144), 0);
	free(l);
}

TEST(prp_8k_pages)
{
	uint64_t *l = list_new(3, 8192), p1 = 1, p2 = 1;

	CHECK_EQ(nvme_prp_build(DATA + 4096, 4096, 8192, l, LIST, 1, &p1, &p2), 0);
	CHECK_EQ(p1, DATA + 4096);
	CHECK_EQ(p2, 0);
	/* a 4 KiB boundary is no page boundary here */
	CHECK_EQ(nvme_prp_build(DATA, 8192, 8192, l, LIST, 1, &p1, &p2), 0);
	CHECK_EQ(p2, 0);
	CHECK_EQ(nvme_prp_build(DATA + 4096, 8192, 8192, l, LIST, 1, &p1, &p2), 0);
	CHECK_EQ(p1, DATA + 4096);
	CHECK_EQ(p2, DATA + 8192);
	CHECK_EQ(nvme_prp_build(DATA + 4096, 3 * 8192, 8192, l, LIST, 1, &p1, &p2), 3);
	CHECK_EQ(p2, LIST);
	CHECK_EQ(l[0], DATA + 8192);
	CHECK_EQ(l[1], DATA + 2 * 8192);
	CHECK_EQ(l[2], DATA + 3 * 8192);
	/* 1024 entries per list page */
	CHECK_EQ(walk(l, 1, DATA, 1025 * 8192, 8192), 1024);
	CHECK_EQ(nvme_prp_build(DATA, 1026 * 8192, 8192, l, LIST, 1, &p1, &p2), -E2BIG);
	CHECK_EQ(walk(l, 2, DATA, 1026 * 8192, 8192), 1026);
	CHECK_EQ(l[1023], LIST + 8192);
	CHECK_EQ(l[1024], DATA + 1024 * 8192);
	CHECK_EQ(walk(l, 3, DATA + 8188, 2100 * 8192, 8192), 2100 + 2);
	free(l);
}

TEST(prp_16k_pages)
{
	uint64_t *l = list_new(3, 16384), p1 = 1, p2 = 1;

	CHECK_EQ(nvme_prp_build(DATA, 16384, 16384, l, LIST, 1, &p1, &p2), 0);
	CHECK_EQ(p2, 0);
	CHECK_EQ(nvme_prp_build(DATA + 12 * KiB, 8 * KiB, 16384, l, LIST, 1, &p1, &p2), 0);
	CHECK_EQ(p1, DATA + 12 * KiB);
	CHECK_EQ(p2, DATA + 16 * KiB);
	CHECK_EQ(nvme_prp_build(DATA + 12 * KiB, 24 * KiB, 16384, l, LIST, 1, &p1, &p2), 2);
	CHECK_EQ(p2, LIST);
	CHECK_EQ(l[0], DATA + 16 * KiB);
	CHECK_EQ(l[1], DATA + 32 * KiB);
	CHECK_EQ(nvme_prp_build(DATA, 3 * 16384, 16384, l, LIST + 8192, 1, &p1, &p2), -EINVAL);
	/* 2048 entries per list page */
	CHECK_EQ(walk(l, 1, DATA, 2049 * 16384, 16384), 2048);
	CHECK_EQ(walk(l, 2, DATA, 2050 * 16384, 16384), 2050);
	CHECK_EQ(l[2047], LIST + 16384);
	CHECK_EQ(walk(l, 3, DATA + 4, 5000 * 16384, 16384), 5000 + 2);
	free(l);
}

/* walk() with exactly the list pages needed, and -E2BIG with one page fewer */
static void agree(uint64_t *list, uint64_t iova, uint64_t len, uint32_t pgsz)
{
	uint64_t per = pgsz / 8, p1, p2;
	uint64_t slots = nvme_prp_list_entries(iova, len, pgsz);
	unsigned need = (unsigned)((slots + per - 1) / per);

	if (walk(list, need ? need : 1, iova, len, pgsz) < 0)
		return;
	if (need && !CHECK_EQ(nvme_prp_build(iova, len, pgsz, list, LIST, need - 1, &p1, &p2),
			      -E2BIG))
		UNIT_NOTE("iova 0x%llx len %llu pgsz %u: %u list pages were enough",
			  (unsigned long long)iova, (unsigned long long)len, pgsz, need - 1);
}

TEST(prp_list_entries_agree)
{
	static const uint64_t offs[] = { 0, 4, 512, 4092 };
	static const int deltas[] = { -4, -1, 0, 1, 4 };
	uint64_t *l = list_new(4, 4096);

	for (unsigned o = 0; o < sizeof(offs) / sizeof(offs[0]); o++) {
		uint64_t iova = DATA + offs[o];

		for (uint64_t len = 1; len <= 3 * MiB; len += 4093)
			agree(l, iova, len, 4096);
		/* the lengths that end right at, before and after a page boundary */
		for (uint64_t k = 1; k <= 3 * MiB / 4096 + 1; k++)
			for (unsigned d = 0; d < sizeof(deltas) / sizeof(deltas[0]); d++) {
				int64_t len = (int64_t)(k * 4096 - offs[o]) + deltas[d];

				if (len > 0)
					agree(l, iova, (uint64_t)len, 4096);
			}
	}
	free(l);
}

TEST(prp_list_entries_agree_large_pages)
{
	static const uint32_t sizes[] = { 8192, 16384, 65536 };

	for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint32_t pg = sizes[s];
		uint64_t per = pg / 8, offs[] = { 0, 4, 4096, pg - 4 };
		uint64_t pages[] = { 1, 2, 3, per, per + 1, per + 2, 2 * per - 1, 2 * per,
				     2 * per + 1, 2 * per + 2, 3 * per - 2 };
		uint64_t *l = list_new(3, pg);

		for (unsigned o = 0; o < sizeof(offs) / sizeof(offs[0]); o++)
			for (unsigned p = 0; p < sizeof(pages) / sizeof(pages[0]); p++)
				for (int d = -4; d <= 4; d += 4) {
					int64_t len = (int64_t)(pages[p] * pg - offs[o]) + d;

					if (len > 0)
						agree(l, DATA + offs[o], (uint64_t)len, pg);
				}
		free(l);
	}
}

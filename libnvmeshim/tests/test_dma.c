/* SPDX-License-Identifier: MIT */
/*
 * test_dma.c - the extent allocator behind the DMA arena (dma_alloc_*): alignment,
 * first fit, splitting and coalescing, bad frees, exhaustion, and a long random
 * run checked against a model and a shadow map; then the process-wide arena
 * itself (nvme_dma_alloc/free/iova/vaddr/used, nvme_buf_*).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dma.h"
#include "unit.h"
#include "util.h"

#define KiB 1024ull
#define MiB (1024ull * 1024ull)

/* sorted, non-empty, non-adjacent, inside [base, end), free + used == size */
static int check_free_list(const struct dma_alloc *a)
{
	uint64_t sum = 0;
	unsigned bad = 0;

	for (unsigned i = 0; i < a->nfree; i++) {
		const struct dma_extent *e = &a->free[i];

		if (e->len == 0 || e->start < a->base || e->start + e->len > a->end)
			bad++;
		if (i && a->free[i - 1].start + a->free[i - 1].len >= e->start)
			bad++;
		sum += e->len;
	}
	CHECK(a->nfree <= a->cap);
	return CHECK_EQ(bad, 0) & CHECK_EQ(sum + a->used, a->end - a->base);
}

TEST(dma_alloc_init)
{
	struct dma_alloc a;

	CHECK_EQ(dma_alloc_init(&a, 100, 100), -EINVAL);
	CHECK_EQ(dma_alloc_init(&a, 100, 99), -EINVAL);
	CHECK_EQ(dma_alloc_init(&a, 0x1000, 0x11000), 0);
	CHECK_EQ(a.nfree, 1);
	CHECK_EQ(a.used, 0);
	CHECK_EQ(a.free[0].start, 0x1000);
	CHECK_EQ(a.free[0].len, 0x10000);
	check_free_list(&a);
	dma_alloc_fini(&a);
	CHECK(a.free == NULL);
	CHECK_EQ(a.nfree, 0);
}

TEST(dma_alloc_alignment)
{
	struct dma_alloc a;

	/* a base that is aligned to nothing in particular */
	CHECK_EQ(dma_alloc_init(&a, 0x1235, 0x100000), 0);
	CHECK_EQ(dma_alloc_get(&a, 0x10, 0x1000), 0x2000);
	/* the gap in front stays free */
	CHECK_EQ(a.nfree, 2);
	CHECK_EQ(a.free[0].start, 0x1235);
	CHECK_EQ(a.free[0].len, 0x2000 - 0x1235);
	CHECK_EQ(a.free[1].start, 0x2010);
	/* byte alignment takes the first byte of the first extent */
	CHECK_EQ(dma_alloc_get(&a, 3, 1), 0x1235);
	CHECK_EQ(dma_alloc_get(&a, 8, 8), 0x1238);
	CHECK_EQ(dma_alloc_get(&a, 1, 2), 0x1240);
	CHECK_EQ(dma_alloc_get(&a, 0x100, 0x10000), 0x10000);
	CHECK_EQ(a.used, 0x10 + 3 + 8 + 1 + 0x100);
	check_free_list(&a);

	for (unsigned shift = 0; shift <= 16; shift++) {
		uint64_t align = 1ull << shift, off = dma_alloc_get(&a, 7, align);

		CHECK(off != UINT64_MAX);
		CHECK_EQ(off & (align - 1), 0);
		CHECK(off >= a.base && off + 7 <= a.end);
	}
	check_free_list(&a);
	/* an extent whose aligned start would overflow is skipped, not wrapped */
	dma_alloc_fini(&a);
	CHECK_EQ(dma_alloc_init(&a, UINT64_MAX - 100, UINT64_MAX), 0);
	CHECK_EQ(dma_alloc_get(&a, 1, 1ull << 63), UINT64_MAX);
	CHECK_EQ(dma_alloc_get(&a, 1, 1ull << 40), UINT64_MAX);
	CHECK_EQ(dma_alloc_get(&a, 4, 4), (UINT64_MAX - 100 + 3) & ~3ull);
	check_free_list(&a);
	dma_alloc_fini(&a);
}

TEST(dma_alloc_bad_request)
{
	struct dma_alloc a;

	CHECK_EQ(dma_alloc_init(&a, 0, 0x10000), 0);
	CHECK_EQ(dma_alloc_get(&a, 0, 1), UINT64_MAX);
	CHECK_EQ(dma_alloc_get(&a, 16, 0), UINT64_MAX);
	CHECK_EQ(dma_alloc_get(&a, 16, 3), UINT64_MAX);
	CHECK_EQ(dma_alloc_get(&a, 16, 0x1800), UINT64_MAX);
	CHECK_EQ(a.used, 0);
	CHECK_EQ(a.nfree, 1);
	dma_alloc_fini(&a);
}

TEST(dma_alloc_first_fit)
{
	struct dma_alloc a;
	uint64_t x[4];

	CHECK_EQ(dma_alloc_init(&a, 0, 64 * KiB), 0);
	for (unsigned i = 0; i < 4; i++)
		x[i] = dma_alloc_get(&a, 4 * KiB, 4 * KiB);
	CHECK_EQ(x[0], 0);
	CHECK_EQ(x[1], 4 * KiB);
	CHECK_EQ(x[2], 8 * KiB);
	CHECK_EQ(x[3], 12 * KiB);
	CHECK_EQ(dma_alloc_put(&a, x[0], 4 * KiB), 0);
	CHECK_EQ(dma_alloc_put(&a, x[2], 4 * KiB), 0);
	CHECK_EQ(a.nfree, 3);
	/* neither 4 KiB hole fits 8 KiB: it comes from the tail */
	CHECK_EQ(dma_alloc_get(&a, 8 * KiB, 4 * KiB), 16 * KiB);
	/* the lowest hole that fits wins */
	CHECK_EQ(dma_alloc_get(&a, 4 * KiB, 4 * KiB), 0);
	CHECK_EQ(dma_alloc_get(&a, 4 * KiB, 4 * KiB), 8 * KiB);
	CHECK_EQ(dma_alloc_get(&a, 4 * KiB, 4 * KiB), 24 * KiB);
	CHECK_EQ(a.nfree, 1);
	/* an earlier hole too small for the alignment is skipped */
	CHECK_EQ(dma_alloc_put(&a, 4 * KiB, 4 * KiB), 0);
	CHECK_EQ(dma_alloc_get(&a, 2 * KiB, 8 * KiB), 32 * KiB);
	CHECK_EQ(dma_alloc_get(&a, 2 * KiB, 2 * KiB), 4 * KiB);
	check_free_list(&a);
	dma_alloc_fini(&a);
}

TEST(dma_alloc_split_coalesce)
{
	struct dma_alloc a;
	uint64_t x[4], base = 0x100000, end = base + 1 * MiB;

	CHECK_EQ(dma_alloc_init(&a, base, end), 0);
	for (unsigned i = 0; i < 4; i++)
		x[i] = dma_alloc_get(&a, 16 * KiB, 4 * KiB);
	CHECK_EQ(x[3], base + 48 * KiB);
	CHECK_EQ(a.nfree, 1);
	CHECK_EQ(a.used, 64 * KiB);

	/* middle: a new extent */
	CHECK_EQ(dma_alloc_put(&a, x[1], 16 * KiB), 0);
	CHECK_EQ(a.nfree, 2);
	/* next to the tail: merges into it */
	CHECK_EQ(dma_alloc_put(&a, x[3], 16 * KiB), 0);
	CHECK_EQ(a.nfree, 2);
	CHECK_EQ(a.free[1].start, x[3]);
	/* at the front, next to x[1]'s extent: merges forward */
	CHECK_EQ(dma_alloc_put(&a, x[0], 16 * KiB), 0);
	CHECK_EQ(a.nfree, 2);
	CHECK_EQ(a.free[0].start, base);
	CHECK_EQ(a.free[0].len, 32 * KiB);
	check_free_list(&a);
	/* the last hole: both neighbours merge */
	CHECK_EQ(dma_alloc_put(&a, x[2], 16 * KiB), 0);
	CHECK_EQ(a.nfree, 1);
	CHECK_EQ(a.used, 0);
	CHECK_EQ(a.free[0].start, base);
	CHECK_EQ(a.free[0].len, end - base);

	/* the other order: ends first, then the middle joins three extents */
	for (unsigned i = 0; i < 3; i++)
		x[i] = dma_alloc_get(&a, 4 * KiB, 1);
	CHECK_EQ(dma_alloc_get(&a, end - base - 12 * KiB, 1), base + 12 * KiB);
	CHECK_EQ(a.nfree, 0);
	CHECK_EQ(dma_alloc_put(&a, x[0], 4 * KiB), 0);
	CHECK_EQ(dma_alloc_put(&a, x[2], 4 * KiB), 0);
	CHECK_EQ(a.nfree, 2);
	CHECK_EQ(dma_alloc_put(&a, x[1], 4 * KiB), 0);
	CHECK_EQ(a.nfree, 1);
	CHECK_EQ(a.free[0].start, base);
	CHECK_EQ(a.free[0].len, 12 * KiB);
	CHECK_EQ(dma_alloc_put(&a, base + 12 * KiB, end - base - 12 * KiB), 0);
	CHECK_EQ(a.nfree, 1);
	CHECK_EQ(a.used, 0);
	CHECK_EQ(a.free[0].len, end - base);
	/* a part of an allocation can be given back on its own */
	x[0] = dma_alloc_get(&a, 12 * KiB, 4 * KiB);
	CHECK_EQ(dma_alloc_put(&a, x[0] + 4 * KiB, 4 * KiB), 0);
	CHECK_EQ(a.nfree, 2);
	CHECK_EQ(a.used, 8 * KiB);
	check_free_list(&a);
	dma_alloc_fini(&a);
}

TEST(dma_alloc_bad_free)
{
	struct dma_alloc a;
	uint64_t x, y, base = 0x10000, end = 0x20000;

	CHECK_EQ(dma_alloc_init(&a, base, end), 0);
	x = dma_alloc_get(&a, 0x1000, 0x1000);
	y = dma_alloc_get(&a, 0x1000, 0x1000);
	CHECK_EQ(dma_alloc_put(&a, x, 0x1000), 0);
	/* double free, whole and in part */
	CHECK_EQ(dma_alloc_put(&a, x, 0x1000), -EINVAL);
	CHECK_EQ(dma_alloc_put(&a, x + 0x800, 0x10), -EINVAL);
	/* overlapping a free extent on either side */
	CHECK_EQ(dma_alloc_put(&a, y - 0x10, 0x20), -EINVAL);
	CHECK_EQ(dma_alloc_put(&a, y, 0x1010), -EINVAL);
	CHECK_EQ(dma_alloc_put(&a, base, end - base), -EINVAL);
	/* outside [base, end), empty, wrapping */
	CHECK_EQ(dma_alloc_put(&a, base - 0x1000, 0x1000), -EINVAL);
	CHECK_EQ(dma_alloc_put(&a, base - 1, 2), -EINVAL);
	CHECK_EQ(dma_alloc_put(&a, end, 0x1000), -EINVAL);
	CHECK_EQ(dma_alloc_put(&a, end - 0x10, 0x20), -EINVAL);
	CHECK_EQ(dma_alloc_put(&a, y, 0), -EINVAL);
	CHECK_EQ(dma_alloc_put(&a, UINT64_MAX - 0xfff, 0x2000), -EINVAL);
	CHECK_EQ(dma_alloc_put(&a, y, UINT64_MAX), -EINVAL);
	/* nothing changed */
	CHECK_EQ(a.used, 0x1000);
	CHECK_EQ(a.nfree, 2);
	check_free_list(&a);
	CHECK_EQ(dma_alloc_put(&a, y, 0x1000), 0);
	CHECK_EQ(dma_alloc_put(&a, y, 0x1000), -EINVAL);
	CHECK_EQ(a.used, 0);
	CHECK_EQ(a.nfree, 1);
	dma_alloc_fini(&a);
}

TEST(dma_alloc_exhaustion)
{
	struct dma_alloc a;
	uint64_t x;

	CHECK_EQ(dma_alloc_init(&a, 0x1000, 0x9000), 0);
	CHECK_EQ(dma_alloc_get(&a, 0x8001, 1), UINT64_MAX);
	CHECK_EQ(dma_alloc_get(&a, UINT64_MAX, 1), UINT64_MAX);
	/* it all fits in one piece, but not when aligned past the start */
	CHECK_EQ(dma_alloc_get(&a, 0x8000, 0x2000), UINT64_MAX);
	x = dma_alloc_get(&a, 0x8000, 0x1000);
	CHECK_EQ(x, 0x1000);
	CHECK_EQ(a.nfree, 0);
	CHECK_EQ(a.used, 0x8000);
	CHECK_EQ(dma_alloc_get(&a, 1, 1), UINT64_MAX);
	CHECK_EQ(dma_alloc_put(&a, 0x4000, 0x10), 0);
	/* 16 bytes free, but no 32 and no 16 aligned to 32 at 0x4000 + 16 */
	CHECK_EQ(dma_alloc_get(&a, 0x20, 1), UINT64_MAX);
	CHECK_EQ(dma_alloc_get(&a, 0x10, 0x10), 0x4000);
	CHECK_EQ(dma_alloc_get(&a, 1, 1), UINT64_MAX);
	CHECK_EQ(a.used, 0x8000);
	dma_alloc_fini(&a);
}

TEST(dma_alloc_many_extents)
{
	struct dma_alloc a;
	unsigned n = 1000, bad = 0;

	/* more holes than the initial 64 slots of the free list */
	CHECK_EQ(dma_alloc_init(&a, 0, n * 16), 0);
	for (unsigned i = 0; i < n; i++)
		if (dma_alloc_get(&a, 16, 16) != i * 16ull)
			bad++;
	CHECK_EQ(bad, 0);
	CHECK_EQ(a.nfree, 0);
	for (unsigned i = 0; i < n; i += 2)
		if (dma_alloc_put(&a, i * 16ull, 16))
			bad++;
	CHECK_EQ(bad, 0);
	CHECK_EQ(a.nfree, n / 2);
	CHECK(a.cap >= n / 2);
	check_free_list(&a);
	for (unsigned i = 1; i < n; i += 2)
		if (dma_alloc_put(&a, i * 16ull, 16))
			bad++;
	CHECK_EQ(bad, 0);
	CHECK_EQ(a.nfree, 1);
	CHECK_EQ(a.used, 0);
	CHECK_EQ(a.free[0].len, n * 16ull);
	dma_alloc_fini(&a);
}

TEST(dma_alloc_split_grows_list)
{
	struct dma_alloc a;
	unsigned i, cap, nfree;

	/* fill the free list to its capacity with 16-byte holes below a large tail */
	CHECK_EQ(dma_alloc_init(&a, 16, 1 * MiB), 0);
	for (i = 0; i < 1000; i++)
		dma_alloc_get(&a, 16, 16);
	for (i = 0; i < 1000 && a.nfree < a.cap; i += 2)
		dma_alloc_put(&a, 16 + i * 16ull, 16);
	if (!CHECK_EQ(a.nfree, a.cap)) {
		dma_alloc_fini(&a);
		return;
	}
	cap = a.cap;
	nfree = a.nfree;
	/* aligned inside the tail extent: head and tail split, the list grows */
	CHECK_EQ(dma_alloc_get(&a, 16, 64 * KiB), 64 * KiB);
	if (CHECK_EQ(a.nfree, nfree + 1)) {
		CHECK(a.cap > cap);
		CHECK_EQ(a.free[nfree - 1].start, 16 + 1000 * 16);
		CHECK_EQ(a.free[nfree - 1].len, 64 * KiB - 16 - 1000 * 16);
		CHECK_EQ(a.free[nfree].start, 64 * KiB + 16);
		CHECK_EQ(a.free[nfree].len, 1 * MiB - 64 * KiB - 16);
	}
	check_free_list(&a);
	dma_alloc_fini(&a);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct range {
	uint64_t off, len;
};

/* first fit, computed from the allocations: the lowest gap that holds the request */
static uint64_t model_get(const struct range *live, unsigned n, uint64_t base, uint64_t end,
			  uint64_t len, uint64_t align)
{
	uint64_t from = base;

	for (unsigned i = 0; i <= n; i++) {
		uint64_t to = i < n ? live[i].off : end, at = ALIGN_UP(from, align);

		if (at <= to && to - at >= len)
			return at;
		if (i < n)
			from = live[i].off + live[i].len;
	}
	return UINT64_MAX;
}

/* the free list must be exactly the non-empty gaps between the allocations */
static int model_free_list(const struct dma_alloc *a, const struct range *live, unsigned n)
{
	uint64_t from = a->base;
	unsigned j = 0, bad = 0;

	for (unsigned i = 0; i <= n; i++) {
		uint64_t to = i < n ? live[i].off : a->end;

		if (to > from) {
			if (j >= a->nfree || a->free[j].start != from ||
			    a->free[j].len != to - from)
				bad++;
			j++;
		}
		if (i < n)
			from = live[i].off + live[i].len;
	}
	return CHECK_EQ(bad, 0) & CHECK_EQ(j, a->nfree);
}

#define MAXLIVE 256

TEST(dma_alloc_random)
{
	const uint64_t base = 0x100003, size = 1 * MiB + 5, end = base + size;
	struct range live[MAXLIVE];
	uint8_t *shadow = calloc(size, 1);
	unsigned n = 0, allocs = 0, fails = 0, frees = 0;
	uint64_t used = 0;
	struct dma_alloc a;

	if (!CHECK(shadow) || !CHECK_EQ(dma_alloc_init(&a, base, end), 0))
		return;
	for (unsigned op = 0; op < 20000; op++) {
		if (n == 0 || (n < MAXLIVE && rnd() % 100 < 55)) {
			uint64_t r = rnd(), len, align = 1ull << (r % 13), want, got;
			unsigned i, overlap = 0;

			r >>= 4;
			if (r % 4 == 0)
				len = 1 + (r >> 2) % (64 * KiB);
			else if (r % 4 == 1)
				len = (1 + (r >> 2) % 4) * 4 * KiB;
			else
				len = 1 + (r >> 2) % 512;
			want = model_get(live, n, base, end, len, align);
			got = dma_alloc_get(&a, len, align);
			if (!CHECK_EQ(got, want)) {
				UNIT_NOTE("op %u: get(%llu, align %llu)", op,
					  (unsigned long long)len, (unsigned long long)align);
				break;
			}
			if (got == UINT64_MAX) {
				fails++;
				continue;
			}
			allocs++;
			CHECK_EQ(got & (align - 1), 0);
			if (!CHECK(got >= base && got + len <= end))
				break;
			for (uint64_t b = got - base; b < got - base + len; b++) {
				overlap += shadow[b];
				shadow[b] = 1;
			}
			if (!CHECK_EQ(overlap, 0))
				break;
			for (i = 0; i < n && live[i].off < got; i++)
				;
			memmove(&live[i + 1], &live[i], (n - i) * sizeof(live[0]));
			live[i] = (struct range){ got, len };
			n++;
			used += len;
		} else {
			unsigned i = (unsigned)(rnd() % n);
			struct range x = live[i];

			if (!CHECK_EQ(dma_alloc_put(&a, x.off, x.len), 0))
				break;
			frees++;
			for (uint64_t b = x.off - base; b < x.off - base + x.len; b++)
				shadow[b] = 0;
			memmove(&live[i], &live[i + 1], (n - i - 1) * sizeof(live[0]));
			n--;
			used -= x.len;
			/* now a double free, every so often */
			if (op % 16 == 0)
				CHECK_EQ(dma_alloc_put(&a, x.off, x.len), -EINVAL);
		}
		if (!CHECK_EQ(a.used, used) || !check_free_list(&a) ||
		    !model_free_list(&a, live, n)) {
			UNIT_NOTE("after op %u", op);
			break;
		}
	}
	/* the run must have filled the range now and then, and freed a lot */
	CHECK(allocs > 5000);
	CHECK(fails > 100);
	CHECK(frees > 5000);
	while (n) {
		unsigned i = (unsigned)(rnd() % n);

		CHECK_EQ(dma_alloc_put(&a, live[i].off, live[i].len), 0);
		live[i] = live[--n];
	}
	CHECK_EQ(a.used, 0);
	CHECK_EQ(a.nfree, 1);
	CHECK_EQ(a.free[0].start, base);
	CHECK_EQ(a.free[0].len, size);
	dma_alloc_fini(&a);
	free(shadow);
}

static int all_zero(const uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* The arena is process-wide and created once: all of it in one test. */
TEST(dma_arena)
{
	uint64_t used0, iova = 1, iova2 = 1, size;
	struct nvme_arena *ar;
	struct nvme_buf *b;
	uint8_t *p, *q;
	int local;

	if (!nvme_dma_vaddr(0, 0)) {
		/* not created yet: bad sizes are refused, and nothing is created */
		setenv("DENVME_DMA_MB", "8", 1);
		CHECK(!nvme_arena_get());
		CHECK(strstr(nvme_get_error(), "DENVME_DMA_MB"));
		setenv("DENVME_DMA_MB", "3000", 1);
		CHECK(!nvme_arena_get());
		setenv("DENVME_DMA_MB", "64x", 1);
		CHECK(!nvme_arena_get());
		CHECK(!nvme_dma_alloc(4096, &iova));
		CHECK(!nvme_dma_vaddr(0, 0));
		CHECK_EQ(nvme_dma_iova(&local), UINT64_MAX);
	} else {
		UNIT_NOTE("the arena existed already: its DENVME_DMA_MB checks skipped");
	}
	setenv("DENVME_DMA_MB", "64", 1);
	ar = nvme_arena_get();
	if (!CHECK(ar))
		return;
	CHECK(nvme_arena_get() == ar);
	size = ar->size;
	CHECK_EQ(size, 64 * MiB);
	CHECK(ar->fd >= 0);
	used0 = nvme_dma_used();

	p = nvme_dma_alloc(1, &iova);
	if (!CHECK(p))
		return;
	CHECK(iova >= NVME_DMA_FIRST);
	CHECK_EQ(iova % 4096, 0);
	CHECK_EQ((uintptr_t)p % 4096, 0);
	CHECK(all_zero(p, 4096));
	CHECK_EQ(nvme_dma_used(), used0 + 4096);
	/* host address <-> bus address */
	CHECK_EQ(nvme_dma_iova(p), iova);
	CHECK_EQ(nvme_dma_iova(p + 100), iova + 100);
	CHECK(nvme_dma_vaddr(iova, 4096) == p);
	CHECK(nvme_dma_vaddr(iova + 100, 1) == p + 100);
	CHECK(p == ar->base + iova);

	/* out of range */
	CHECK_EQ(nvme_dma_iova(&local), UINT64_MAX);
	CHECK_EQ(nvme_dma_iova(ar->base + size), UINT64_MAX);
	CHECK_EQ(nvme_dma_iova(ar->base + size - 1), size - 1);
	CHECK_EQ(nvme_dma_iova(ar->base), 0);
	CHECK(nvme_dma_vaddr(size, 0) == NULL);
	CHECK(nvme_dma_vaddr(size, 1) == NULL);
	CHECK(nvme_dma_vaddr(size - 1, 1) == ar->base + size - 1);
	CHECK(nvme_dma_vaddr(size - 1, 2) == NULL);
	CHECK(nvme_dma_vaddr(0, size) == ar->base);
	CHECK(nvme_dma_vaddr(0, size + 1) == NULL);
	CHECK(nvme_dma_vaddr(UINT64_MAX, 1) == NULL);
	CHECK(nvme_dma_vaddr(4096, UINT64_MAX) == NULL);
	CHECK(nvme_dma_vaddr(UINT64_MAX - 4095, 8192) == NULL);

	/* sizes round up to 4 KiB; 0 bytes still takes a page */
	q = nvme_dma_alloc(0, &iova2);
	CHECK(q);
	CHECK_EQ(nvme_dma_used(), used0 + 8192);
	nvme_dma_free(q, 0);
	q = nvme_dma_alloc(4097, &iova2);
	CHECK(q);
	CHECK_EQ(iova2 % 4096, 0);
	CHECK_EQ(nvme_dma_used(), used0 + 4096 + 8192);
	/* no overlap with p */
	CHECK(iova2 >= iova + 4096 || iova2 + 8192 <= iova);

	/* freed memory comes back zeroed */
	memset(p, 0xff, 4096);
	memset(q, 0xee, 8192);
	nvme_dma_free(q, 4097);
	CHECK_EQ(nvme_dma_used(), used0 + 4096);
	q = nvme_dma_alloc(8192, &iova2);
	CHECK(q);
	CHECK(all_zero(q, 8192));
	CHECK_EQ(p[0], 0xff);
	nvme_dma_free(q, 8192);
	nvme_dma_free(p, 1);
	nvme_dma_free(NULL, 4096);
	CHECK_EQ(nvme_dma_used(), used0);

	/* exhaustion names the problem; everything but the first MiB can be had */
	CHECK(!nvme_dma_alloc(size, &iova));
	CHECK(strstr(nvme_get_error(), "exhausted"));
	if (used0 == 0) {
		p = nvme_dma_alloc(size - NVME_DMA_FIRST, &iova);
		if (CHECK(p)) {
			CHECK_EQ(iova, NVME_DMA_FIRST);
			CHECK(!nvme_dma_alloc(1, &iova2));
			nvme_dma_free(p, size - NVME_DMA_FIRST);
		}
	}
	CHECK_EQ(nvme_dma_used(), used0);

	/* buffers: rounded allocation, exact size, reference counted */
	b = nvme_buf_new(5000);
	if (CHECK(b)) {
		CHECK_EQ(b->size, 5000);
		CHECK_EQ(b->alloc, 8192);
		CHECK_EQ(b->refs, 1);
		CHECK_EQ(b->iova % 4096, 0);
		CHECK_EQ(nvme_dma_iova(b->vaddr), b->iova);
		CHECK(all_zero(b->vaddr, b->alloc));
		CHECK_EQ(nvme_dma_used(), used0 + 8192);
		nvme_buf_get(b);
		CHECK_EQ(b->refs, 2);
		nvme_buf_put(b);
		CHECK_EQ(b->refs, 1);
		CHECK_EQ(nvme_dma_used(), used0 + 8192);
		nvme_buf_put(b);
	}
	CHECK_EQ(nvme_dma_used(), used0);
	b = nvme_buf_new(0);
	if (CHECK(b)) {
		CHECK_EQ(b->size, 0);
		CHECK_EQ(b->alloc, 4096);
		nvme_buf_put(b);
	}
	CHECK(!nvme_buf_new(size));
	CHECK_EQ(nvme_dma_used(), used0);
}

/* SPDX-License-Identifier: MIT */
/*
 * test_handle.c - the generation-checked handle table: lookups by type, closed
 * and stale handles, handle 0, a full table, nvme_handle_count().
 */
#include <stdlib.h>
#include <string.h>

#include "handle.h"
#include "unit.h"

TEST(handle_new_get_close)
{
	int x, y;
	unsigned c0 = nvme_handle_count(NVME_H_CTRL), b0 = nvme_handle_count(NVME_H_BUF);
	uint32_t h = nvme_handle_new(NVME_H_CTRL, &x), g = nvme_handle_new(NVME_H_BUF, &y);

	CHECK(h != 0);
	CHECK(g != 0);
	CHECK(h != g);
	CHECK(nvme_handle_get(h, NVME_H_CTRL) == &x);
	CHECK(nvme_handle_get(h, NVME_H_CTRL) == &x);
	CHECK(nvme_handle_get(g, NVME_H_BUF) == &y);
	CHECK_EQ(nvme_handle_count(NVME_H_CTRL), c0 + 1);
	CHECK_EQ(nvme_handle_count(NVME_H_BUF), b0 + 1);

	CHECK(nvme_handle_close(h, NVME_H_CTRL) == &x);
	CHECK(nvme_handle_get(h, NVME_H_CTRL) == NULL);
	CHECK(nvme_handle_close(h, NVME_H_CTRL) == NULL);
	CHECK_EQ(nvme_handle_count(NVME_H_CTRL), c0);
	/* the other handle is unaffected */
	CHECK(nvme_handle_get(g, NVME_H_BUF) == &y);
	CHECK(nvme_handle_close(g, NVME_H_BUF) == &y);
	CHECK(nvme_handle_get(g, NVME_H_BUF) == NULL);
	CHECK_EQ(nvme_handle_count(NVME_H_BUF), b0);
}

TEST(handle_wrong_type)
{
	int x;
	uint32_t h = nvme_handle_new(NVME_H_SQ, &x), forged;

	CHECK(h != 0);
	CHECK(nvme_handle_get(h, NVME_H_CQ) == NULL);
	CHECK(nvme_handle_get(h, NVME_H_BUF) == NULL);
	CHECK(nvme_handle_get(h, NVME_H_NONE) == NULL);
	CHECK(nvme_handle_close(h, NVME_H_CQ) == NULL);
	/* closing as the wrong type did nothing */
	CHECK(nvme_handle_get(h, NVME_H_SQ) == &x);
	/* the same slot and generation with other type bits */
	forged = (h & ~0xf000u) | ((uint32_t)NVME_H_CQ << 12);
	CHECK(nvme_handle_get(forged, NVME_H_CQ) == NULL);
	CHECK(nvme_handle_get(forged, NVME_H_SQ) == NULL);
	CHECK(nvme_handle_close(forged, NVME_H_CQ) == NULL);
	CHECK(nvme_handle_get(h, NVME_H_SQ) == &x);
	/* another generation of the same slot */
	CHECK(nvme_handle_get(h + 0x10000, NVME_H_SQ) == NULL);
	CHECK(nvme_handle_get(h - 0x10000, NVME_H_SQ) == NULL);
	CHECK(nvme_handle_close(h, NVME_H_SQ) == &x);
}

TEST(handle_zero)
{
	int x;
	uint32_t h = nvme_handle_new(NVME_H_PCIE, &x);

	for (int t = NVME_H_NONE; t <= NVME_H_BUF; t++) {
		CHECK(nvme_handle_get(0, t) == NULL);
		CHECK(nvme_handle_close(0, t) == NULL);
		/* slot 0 with any type and generation */
		CHECK(nvme_handle_get(0x10000u | ((uint32_t)t << 12), t) == NULL);
	}
	CHECK(h != 0);
	CHECK((h & 0xfff) != 0);
	CHECK(nvme_handle_close(h, NVME_H_PCIE) == &x);
}

TEST(handle_stale_after_reuse)
{
	static uint32_t hs[NVME_HANDLE_SLOTS];
	static char objs[NVME_HANDLE_SLOTS], seen[NVME_HANDLE_SLOTS];
	unsigned b0 = nvme_handle_count(NVME_H_BUF), q0 = nvme_handle_count(NVME_H_CQ);
	unsigned n = 0, bad = 0;
	uint32_t old, h;

	/* fill the table */
	while (n < NVME_HANDLE_SLOTS && (h = nvme_handle_new(NVME_H_BUF, &objs[n])) != 0)
		hs[n++] = h;
	CHECK(n > NVME_HANDLE_SLOTS / 2);
	CHECK(n < NVME_HANDLE_SLOTS);
	CHECK_EQ(nvme_handle_count(NVME_H_BUF), b0 + n);
	CHECK_EQ(nvme_handle_new(NVME_H_CTRL, objs), 0);
	/* every handle non-zero, in a slot of its own and naming its own object */
	for (unsigned i = 0; i < n; i++) {
		if (!hs[i] || nvme_handle_get(hs[i], NVME_H_BUF) != &objs[i])
			bad++;
		if (seen[hs[i] & 0xfff]++)
			bad++;
	}
	CHECK_EQ(bad, 0);

	/* the only free slot is the one just closed: it must be reused */
	old = hs[n / 2];
	CHECK(nvme_handle_close(old, NVME_H_BUF) == &objs[n / 2]);
	h = nvme_handle_new(NVME_H_BUF, &objs[0]);
	CHECK(h != 0);
	CHECK_EQ(h & 0xfff, old & 0xfff);
	CHECK(h != old);
	CHECK(nvme_handle_get(old, NVME_H_BUF) == NULL);
	CHECK(nvme_handle_close(old, NVME_H_BUF) == NULL);
	CHECK(nvme_handle_get(h, NVME_H_BUF) == &objs[0]);
	/* and again, now as another type */
	CHECK(nvme_handle_close(h, NVME_H_BUF) == &objs[0]);
	hs[n / 2] = nvme_handle_new(NVME_H_CQ, &objs[1]);
	CHECK_EQ(hs[n / 2] & 0xfff, old & 0xfff);
	CHECK(nvme_handle_get(old, NVME_H_BUF) == NULL);
	CHECK(nvme_handle_get(h, NVME_H_BUF) == NULL);
	CHECK(nvme_handle_get(hs[n / 2], NVME_H_CQ) == &objs[1]);
	CHECK(nvme_handle_close(hs[n / 2], NVME_H_CQ) == &objs[1]);
	hs[n / 2] = 0;

	for (unsigned i = 0; i < n; i++)
		if (hs[i] && nvme_handle_close(hs[i], NVME_H_BUF) != &objs[i])
			bad++;
	CHECK_EQ(bad, 0);
	CHECK_EQ(nvme_handle_count(NVME_H_BUF), b0);
	CHECK_EQ(nvme_handle_count(NVME_H_CQ), q0);
	/* all closed: none resolves any more */
	for (unsigned i = 0; i < n; i++)
		if (nvme_handle_get(hs[i], NVME_H_BUF))
			bad++;
	CHECK_EQ(bad, 0);
}

TEST(handle_many_cycles)
{
	int x;
	unsigned c0 = nvme_handle_count(NVME_H_CTRL), bad = 0;
	uint32_t first = nvme_handle_new(NVME_H_CTRL, &x), h = first;

	/* every slot gets reused a few times; old handles never come back to life */
	CHECK(nvme_handle_close(first, NVME_H_CTRL) == &x);
	for (unsigned i = 0; i < 4 * NVME_HANDLE_SLOTS; i++) {
		uint32_t prev = h;

		h = nvme_handle_new(NVME_H_CTRL, &x);
		if (!h || h == prev || h == first || nvme_handle_get(first, NVME_H_CTRL) ||
		    nvme_handle_get(prev, NVME_H_CTRL) || nvme_handle_get(h, NVME_H_CTRL) != &x)
			bad++;
		if (nvme_handle_close(h, NVME_H_CTRL) != &x)
			bad++;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(nvme_handle_count(NVME_H_CTRL), c0);
}

TEST(handle_type_names)
{
	CHECK(!strcmp(nvme_handle_type_name(NVME_H_CTRL), "controller"));
	CHECK(!strcmp(nvme_handle_type_name(NVME_H_BUF), "buffer"));
	CHECK(!strcmp(nvme_handle_type_name(NVME_H_SQ), "submission queue"));
	CHECK(!strcmp(nvme_handle_type_name(NVME_H_CQ), "completion queue"));
	CHECK(!strcmp(nvme_handle_type_name(NVME_H_NONE), "object"));
}

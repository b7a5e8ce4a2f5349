/* SPDX-License-Identifier: MIT */
/*
 * test_vfio.c - the pure parts of the VFIO transport: PCI address parsing,
 * the IOVA plan (which arena ranges the IOMMU can map at IOVA == offset), and
 * the allocator reservation that keeps IOVA holes out of every buffer.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "dma.h"
#include "unit.h"
#include "vfio_util.h"

#define MiB (1024ull * 1024ull)
#define GiB (1024ull * MiB)

TEST(vfio_bdf_parse_good)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
		{ "0000:01:00.0", "0000:01:00.0" }, { "01:00.0", "0000:01:00.0" },
		{ "0000:AF:1F.7", "0000:af:1f.7" }, { "ffff:ff:1f.7", "ffff:ff:1f.7" },
		{ "0001:00:04.0", "0001:00:04.0" }, { "00:00.0", "0000:00:00.0" },
	};
	char out[NVME_BDF_LEN];

	for (unsigned i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		memset(out, 'x', sizeof(out));
		CHECK_EQ(nvme_bdf_parse(ok[i].in, out), 0);
		CHECK(!strcmp(out, ok[i].out));
	}
}

TEST(vfio_bdf_parse_bad)
{
	static const char *const bad[] = {
		"",	       "qemu",	       "0000:01:00",   "0000:01:00.8", "01:20.0",
		"1:00.0",      "001:00.0",     "0000:01:00.0 ", " 01:00.0",	"0000-01:00.0",
		"0000:01:00:0", "00000:01:00.0", "000g:01:00.0", "01:00.00",	"01:0.0",
		"0000:01.00.0",
	};
	char out[NVME_BDF_LEN];

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!CHECK_EQ(nvme_bdf_parse(bad[i], out), -EINVAL))
			printf("    (input '%s')\n", bad[i]);
	CHECK_EQ(nvme_bdf_parse(NULL, out), -EINVAL);
}

TEST(vfio_name_parse)
{
	static const struct {
		const char *in, *bdf, *power;
	} ok[] = {
		{ "0000:01:00.0", "0000:01:00.0", "" },
		{ "01:00.0,power=slot", "0000:01:00.0", "slot" },
		{ "0000:01:00.0,power=s3", "0000:01:00.0", "s3" },
		{ "0000:01:00.0,power=cmd", "0000:01:00.0", "cmd" },
		{ "0000:01:00.0,power=auto", "0000:01:00.0", "auto" },
		{ "0000:01:00.0,power=s3,power=slot", "0000:01:00.0", "slot" },
	};
	static const char *const bad[] = {
		"0000:01:00.0,power=", "0000:01:00.0,power=slots", "0000:01:00.0,power=s", "0000:01:00.0,",
		"0000:01:00.0,size=4G", "0000:01:00.0,power", "qemu", ",power=slot", "0000:01:00.0:x",
	};
	char bdf[NVME_BDF_LEN], power[16], why[256];

	for (unsigned i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK_EQ(nvme_vfio_name_parse(ok[i].in, bdf, power, why, sizeof(why)), 0);
		CHECK(!strcmp(bdf, ok[i].bdf));
		CHECK(!strcmp(power, ok[i].power));
	}
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = 0;
		if (!CHECK_EQ(nvme_vfio_name_parse(bad[i], bdf, power, why, sizeof(why)), -EINVAL))
			printf("    (input '%s')\n", bad[i]);
		CHECK(why[0] != 0);
	}
	CHECK(nvme_vfio_name_parse("0000:01:00.0,power=x", bdf, power, why, sizeof(why)) &&
	      strstr(why, "allowed power=slot, s3, cmd or auto"));
	CHECK(nvme_vfio_name_parse("0000:01:00.0,size=1", bdf, power, why, sizeof(why)) &&
	      strstr(why, "unknown device option \"size=1\""));
}

static int plan(const struct nvme_iova_range *r, unsigned n, uint64_t start, uint64_t end,
		struct dma_extent *map, unsigned *nmap, struct dma_extent *holes, unsigned *nholes)
{
	*nmap = 8;
	*nholes = 8;
	return nvme_iova_plan(r, n, start, end, map, nmap, holes, nholes);
}

TEST(vfio_iova_plan_whole_range)
{
	/* Intel VT-d: everything but the MSI window, up to the address width */
	struct nvme_iova_range r[] = {
		{ 0, 0xfedfffffull },
		{ 0xfef00000ull, (1ull << 39) - 1 },
	};
	struct dma_extent map[8], holes[8];
	unsigned nmap, nholes;

	CHECK_EQ(plan(r, 2, 1 * MiB, 1 * GiB, map, &nmap, holes, &nholes), 0);
	CHECK_EQ(nmap, 1);
	CHECK_EQ(map[0].start, 1 * MiB);
	CHECK_EQ(map[0].len, 1 * GiB - 1 * MiB);
	CHECK_EQ(nholes, 0);
}

TEST(vfio_iova_plan_holes)
{
	/* unsorted, overlapping, touching and unaligned intervals */
	struct nvme_iova_range r[] = {
		{ 0x30000000ull, 0x3fffffffull },
		{ 0x10000ull, 0x1fffffffull },
		{ 0x1ff00000ull, 0x20ffffffull },     /* overlaps the one before */
		{ 0x21000000ull, 0x21800fffull },     /* touches it */
		{ 0x28000123ull, 0x28002ffeull },     /* unaligned: shrinks to one page */
		{ 0x50000000ull, 0x4fffffffull },     /* empty (last < start): ignored */
	};
	struct dma_extent map[8], holes[8];
	unsigned nmap, nholes;

	CHECK_EQ(plan(r, 6, 1 * MiB, 0x40000000ull, map, &nmap, holes, &nholes), 0);
	CHECK_EQ(nmap, 3);
	CHECK_EQ(map[0].start, 1 * MiB);
	CHECK_EQ(map[0].start + map[0].len, 0x21801000ull);
	CHECK_EQ(map[1].start, 0x28001000ull);
	CHECK_EQ(map[1].len, 0x1000ull);
	CHECK_EQ(map[2].start, 0x30000000ull);
	CHECK_EQ(map[2].start + map[2].len, 0x40000000ull);
	CHECK_EQ(nholes, 2);
	CHECK_EQ(holes[0].start, 0x21801000ull);
	CHECK_EQ(holes[0].start + holes[0].len, 0x28001000ull);
	CHECK_EQ(holes[1].start, 0x28002000ull);
	CHECK_EQ(holes[1].start + holes[1].len, 0x30000000ull);

	/* the arena reaches past the last usable IOVA: a hole at the end */
	struct nvme_iova_range low[] = { { 0, 0x0fffffffull } };

	CHECK_EQ(plan(low, 1, 1 * MiB, 1 * GiB, map, &nmap, holes, &nholes), 0);
	CHECK_EQ(nmap, 1);
	CHECK_EQ(map[0].len, 0x10000000ull - 1 * MiB);
	CHECK_EQ(nholes, 1);
	CHECK_EQ(holes[0].start, 0x10000000ull);
	CHECK_EQ(holes[0].len, 1 * GiB - 0x10000000ull);

	/* a hole at the start */
	struct nvme_iova_range high[] = { { 2 * MiB, UINT64_MAX } };

	CHECK_EQ(plan(high, 1, 1 * MiB, 16 * MiB, map, &nmap, holes, &nholes), 0);
	CHECK_EQ(nmap, 1);
	CHECK_EQ(map[0].start, 2 * MiB);
	CHECK_EQ(map[0].len, 14 * MiB);
	CHECK_EQ(nholes, 1);
	CHECK_EQ(holes[0].start, 1 * MiB);
	CHECK_EQ(holes[0].len, 1 * MiB);
}

TEST(vfio_iova_plan_errors)
{
	struct nvme_iova_range above[] = { { 4 * GiB, 8 * GiB - 1 } };
	struct nvme_iova_range many[] = {
		{ 0x100000, 0x100fff }, { 0x102000, 0x102fff }, { 0x104000, 0x104fff },
	};
	struct dma_extent map[8], holes[8];
	unsigned nmap, nholes;

	CHECK_EQ(plan(above, 1, 1 * MiB, 1 * GiB, map, &nmap, holes, &nholes), -ERANGE);
	CHECK_EQ(plan(NULL, 0, 1 * MiB, 1 * GiB, map, &nmap, holes, &nholes), -ERANGE);
	CHECK_EQ(plan(above, 1, 1 * GiB, 1 * GiB, map, &nmap, holes, &nholes), -EINVAL);
	CHECK_EQ(plan(above, 1, 1 * MiB + 1, 1 * GiB, map, &nmap, holes, &nholes), -EINVAL);
	/* output arrays too small */
	nmap = 2;
	nholes = 8;
	CHECK_EQ(nvme_iova_plan(many, 3, 1 * MiB, 2 * MiB, map, &nmap, holes, &nholes), -E2BIG);
	nmap = 8;
	nholes = 1;
	CHECK_EQ(nvme_iova_plan(many, 3, 1 * MiB, 2 * MiB, map, &nmap, holes, &nholes), -E2BIG);
	nmap = 3;
	nholes = 3;
	CHECK_EQ(nvme_iova_plan(many, 3, 1 * MiB, 2 * MiB, map, &nmap, holes, &nholes), 0);
	CHECK_EQ(nmap, 3);
	CHECK_EQ(nholes, 3);
}

TEST(dma_alloc_reserve)
{
	struct dma_alloc a;
	uint64_t busy, x, y;

	CHECK_EQ(dma_alloc_init(&a, 1 * MiB, 64 * MiB), 0);
	x = dma_alloc_get(&a, 4096, 4096); /* [1M, 1M+4K) in use */
	CHECK_EQ(x, 1 * MiB);
	/* the middle of the free extent: split */
	CHECK_EQ(dma_alloc_reserve(&a, 8 * MiB, 1 * MiB, &busy), 0);
	CHECK_EQ(busy, 0);
	CHECK_EQ(a.nfree, 2);
	CHECK_EQ(a.reserved, 1 * MiB);
	/* overlapping the allocation and the reservation: only the free part is taken */
	CHECK_EQ(dma_alloc_reserve(&a, 1 * MiB, 2 * MiB, &busy), 0);
	CHECK_EQ(busy, 4096);
	CHECK_EQ(dma_alloc_reserve(&a, 8 * MiB, 2 * MiB, &busy), 0);
	CHECK_EQ(busy, 1 * MiB);
	CHECK_EQ(a.reserved, 1 * MiB + 2 * MiB - 4096 + 1 * MiB);
	/* beyond the heap: clipped, nothing happens */
	CHECK_EQ(dma_alloc_reserve(&a, 64 * MiB, 1 * MiB, &busy), 0);
	CHECK_EQ(busy, 0);
	CHECK_EQ(dma_alloc_reserve(&a, 0, 1 * MiB, &busy), 0);
	CHECK_EQ(busy, 0);
	/* nothing is ever handed out from a reserved range */
	for (;;) {
		y = dma_alloc_get(&a, 64 * 1024, 4096);
		if (y == UINT64_MAX)
			break;
		if (!CHECK(!(y < 3 * MiB && y + 64 * 1024 > 1 * MiB + 4096)) ||
		    !CHECK(!(y < 10 * MiB && y + 64 * 1024 > 8 * MiB)))
			break;
	}
	CHECK_EQ(a.used + a.reserved, a.end - a.base);
	/* freeing the allocation inside a reserved range is still a normal free */
	CHECK_EQ(dma_alloc_put(&a, x, 4096), 0);
	dma_alloc_fini(&a);
}

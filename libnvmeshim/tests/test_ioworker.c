/* SPDX-License-Identifier: MIT */
/*
 * test_ioworker.c - the IO engine without a device: histogram buckets and
 * percentiles, the random generator, size/op/distribution tables, random and
 * sequential LBAs, throttle arithmetic, data patterns, the shared memory layout,
 * and the whole loop against a fake device that completes commands in its
 * doorbell write (IO counts, errors, timeouts, stop, throttle, trace replay).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl.h"
#include "dma.h"
#include "handle.h"
#include "ioworker.h"
#include "queue.h"
#include "fake_transport.h"
#include "unit.h"
#include "util.h"

/* --- histogram ------------------------------------------------------------------- */

TEST(ioworker_hist_buckets)
{
	uint32_t prev = 0;
	unsigned bad = 0;

	/* exact microseconds below 2 * SUB */
	for (uint64_t v = 0; v < 2 * IOW_HIST_SUB; v++) {
		bad += iow_hist_index(v) != v;
		bad += iow_hist_low((uint32_t)v) != v || iow_hist_high((uint32_t)v) != v;
	}
	CHECK_EQ(bad, 0);
	/* every value lands in a bucket that contains it; buckets are ordered and tight */
	for (uint64_t v = 1; v < (1ull << IOW_HIST_MAX_BITS); v += v / 97 + 1) {
		uint32_t i = iow_hist_index(v);

		if (!CHECK(iow_hist_low(i) <= v && v <= iow_hist_high(i))) {
			UNIT_NOTE("value %llu bucket %u [%llu, %llu]", (unsigned long long)v, i,
				  (unsigned long long)iow_hist_low(i),
				  (unsigned long long)iow_hist_high(i));
			break;
		}
		bad += i < prev;
		bad += i >= IOW_HIST_BUCKETS;
		/* relative width below 1 / SUB */
		bad += (iow_hist_high(i) - iow_hist_low(i)) * IOW_HIST_SUB > iow_hist_low(i);
		prev = i;
	}
	CHECK_EQ(bad, 0);
	/* consecutive buckets tile the value range */
	for (uint32_t i = 0; i + 1 < IOW_HIST_BUCKETS; i++)
		bad += iow_hist_high(i) + 1 != iow_hist_low(i + 1);
	CHECK_EQ(bad, 0);
	CHECK_EQ(iow_hist_index((1ull << IOW_HIST_MAX_BITS) - 1), IOW_HIST_BUCKETS - 1);
	CHECK_EQ(iow_hist_index(UINT64_MAX), IOW_HIST_BUCKETS - 1); /* clamped */
	CHECK_EQ(iow_hist_high(IOW_HIST_BUCKETS - 1), (1ull << IOW_HIST_MAX_BITS) - 1);
}

TEST(ioworker_hist_percentiles)
{
	uint64_t *h = calloc(IOW_HIST_BUCKETS, sizeof(*h));

	if (!CHECK(h))
		return;
	CHECK_EQ(iow_hist_percentile(h, 0, 50), 0); /* empty */
	/* 1000 IOs of 1..1000 us, one each */
	for (uint64_t v = 1; v <= 1000; v++)
		h[iow_hist_index(v)]++;
	CHECK_EQ(iow_hist_percentile(h, 1000, 50), 500);
	CHECK_EQ(iow_hist_percentile(h, 1000, 90), 900);
	CHECK_EQ(iow_hist_percentile(h, 1000, 99), 990);
	CHECK_EQ(iow_hist_percentile(h, 1000, 99.9), 999); /* not 1000: no float creep */
	CHECK_EQ(iow_hist_percentile(h, 1000, 100), 1000);
	CHECK_EQ(iow_hist_percentile(h, 1000, 0.1), 1);
	CHECK_EQ(iow_hist_percentile(h, 1000, 0.0001), 1); /* at least one IO */
	CHECK_EQ(iow_hist_percentile(h, 1000, 0), 0);	   /* nonsense asks give 0 */
	CHECK_EQ(iow_hist_percentile(h, 1000, 250), 1000); /* capped at 100 */
	/* one slow IO of 10 s on top: the tail shows it within the bucket precision */
	h[iow_hist_index(10000000)]++;
	{
		uint64_t p = iow_hist_percentile(h, 1001, 100);

		CHECK(p >= 10000000 && p < 10000000 + 10000000 / IOW_HIST_SUB);
		CHECK(p > 10000000); /* the bucket's top, above every latency in it */
	}
	/* clamped to the largest latency observed */
	CHECK_EQ(iow_hist_percentile_max(h, 1001, 100, 10000000), 10000000);
	CHECK_EQ(iow_hist_percentile_max(h, 1001, 50, 10000000), 501);
	CHECK_EQ(iow_hist_percentile(h, 1001, 99.9), 1000);
	free(h);
}

/* --- random numbers and tables --------------------------------------------------------------- */

TEST(ioworker_rng)
{
	struct iow_rng a, b;
	uint64_t counts[10] = { 0 };
	unsigned bad = 0;

	iow_rng_seed(&a, 42);
	iow_rng_seed(&b, 42);
	for (int i = 0; i < 1000; i++)
		bad += iow_rng_next(&a) != iow_rng_next(&b);
	CHECK_EQ(bad, 0); /* reproducible from the seed */
	iow_rng_seed(&b, 43);
	CHECK(iow_rng_next(&a) != iow_rng_next(&b));
	for (int i = 0; i < 100000; i++) {
		uint64_t v = iow_rng_below(&a, 10);

		bad += v >= 10;
		counts[v < 10 ? v : 0]++;
	}
	CHECK_EQ(bad, 0);
	for (int i = 0; i < 10; i++)
		CHECK(counts[i] > 9500 && counts[i] < 10500);
	CHECK_EQ(iow_rng_below(&a, 1), 0);
}

static struct iow_args *args_new(void)
{
	struct iow_args *a = aligned_alloc(64, ALIGN_UP(sizeof(*a), 64));

	memset(a, 0, sizeof(*a));
	a->magic = IOW_ARGS_MAGIC;
	a->size = sizeof(*a);
	a->nsid = 1;
	a->lba_size = 512;
	a->region_start = 0;
	a->region_end = 1 << 20;
	a->seed = 7;
	a->qdepth = 8;
	a->lba_random = 100;
	a->max_lbas = 256;
	a->nsizes = 1;
	a->sizes[0] = (struct iow_size){ .lbas = 8, .weight = 1, .align = 1 };
	a->nops = 1;
	a->ops[0] = (struct iow_op){ .opcode = 2, .percent = 100 };
	a->ptype = 0xBEEF;
	a->pvalue = 100;
	return a;
}

TEST(ioworker_gen_checks)
{
	struct iow_gen *g = malloc(sizeof(*g));
	struct iow_args *a = args_new();

	if (!CHECK(g))
		return;
	CHECK_EQ(iow_gen_init(g, a), 0);
	a->region_end = a->region_start;
	CHECK_EQ(iow_gen_init(g, a), -EINVAL); /* empty region */
	a->region_end = 1 << 20;
	a->lba_random = 101;
	CHECK_EQ(iow_gen_init(g, a), -EINVAL);
	a->lba_random = 100;
	a->sizes[0].lbas = 257; /* above max_lbas */
	CHECK_EQ(iow_gen_init(g, a), -EINVAL);
	a->sizes[0].lbas = 0;
	CHECK_EQ(iow_gen_init(g, a), -EINVAL);
	a->sizes[0] = (struct iow_size){ 8, 6000, 1, 0 };
	a->sizes[1] = (struct iow_size){ 16, 4001, 1, 0 };
	a->nsizes = 2;
	CHECK_EQ(iow_gen_init(g, a), -EINVAL); /* weights above 10000 */
	a->sizes[1].weight = 4000;
	CHECK_EQ(iow_gen_init(g, a), 0);
	a->ops[0].percent = 99;
	CHECK_EQ(iow_gen_init(g, a), -EINVAL); /* opcodes do not sum to 100 */
	a->ops[0].percent = 100;
	a->flags = IOW_F_DISTRIBUTION;
	for (int i = 0; i < IOW_DIST_SLICES; i++)
		a->distribution[i] = 100;
	CHECK_EQ(iow_gen_init(g, a), 0);
	a->distribution[3] = 99;
	CHECK_EQ(iow_gen_init(g, a), -EINVAL); /* sums to 9999 */
	a->distribution[3] = 100;
	a->lba_random = 50;
	CHECK_EQ(iow_gen_init(g, a), -EINVAL); /* distribution needs all-random IO */
	free(a);
	free(g);
}

TEST(ioworker_gen_tables)
{
	struct iow_gen *g = malloc(sizeof(*g));
	struct iow_args *a = args_new();
	uint64_t by_size[3] = { 0 }, by_op[256] = { 0 };
	unsigned bad = 0;

	if (!CHECK(g))
		return;
	/* sizes {8: 1, 16: 3, 64: 6}, ops {read 70, write 20, trim 5, flush 5} */
	a->nsizes = 3;
	a->sizes[0] = (struct iow_size){ 8, 1, 1, 0 };
	a->sizes[1] = (struct iow_size){ 16, 3, 1, 0 };
	a->sizes[2] = (struct iow_size){ 64, 6, 1, 0 };
	a->nops = 4;
	a->ops[0] = (struct iow_op){ 2, 70 };
	a->ops[1] = (struct iow_op){ 1, 20 };
	a->ops[2] = (struct iow_op){ 9, 5 };
	a->ops[3] = (struct iow_op){ 0, 5 };
	if (!CHECK_EQ(iow_gen_init(g, a), 0))
		return;
	for (int i = 0; i < 200000; i++) {
		struct iow_io io;

		iow_gen_next(g, &io);
		by_op[io.opcode]++;
		if (io.opcode == 0) {
			bad += io.nlb != 0 || io.slba != 0; /* flush has no range */
			continue;
		}
		by_size[io.nlb == 8 ? 0 : io.nlb == 16 ? 1 : 2]++;
		bad += io.nlb != 8 && io.nlb != 16 && io.nlb != 64;
		bad += io.slba + io.nlb > a->region_end;
	}
	CHECK_EQ(bad, 0);
	CHECK(by_op[2] > 138000 && by_op[2] < 142000);
	CHECK(by_op[1] > 39000 && by_op[1] < 41000);
	CHECK(by_op[9] > 9500 && by_op[9] < 10500);
	CHECK(by_op[0] > 9500 && by_op[0] < 10500);
	CHECK_EQ(by_op[2] + by_op[1] + by_op[9] + by_op[0], 200000);
	/* 10 % / 30 % / 60 % of the 190000 IOs with a range */
	CHECK(by_size[0] > 18000 && by_size[0] < 20000);
	CHECK(by_size[1] > 55500 && by_size[1] < 58500);
	CHECK(by_size[2] > 112000 && by_size[2] < 116000);
	free(a);
	free(g);
}

TEST(ioworker_lba_random)
{
	struct iow_rng r;
	unsigned bad = 0;
	uint64_t seen_lo = UINT64_MAX, seen_hi = 0;

	iow_rng_seed(&r, 1);
	for (int i = 0; i < 100000; i++) {
		uint64_t l = iow_lba_random(&r, 1000, 2000, 8, 8);

		bad += l % 8 || l < 1000 || l + 8 > 2000;
		seen_lo = l < seen_lo ? l : seen_lo;
		seen_hi = l > seen_hi ? l : seen_hi;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(seen_lo, 1000); /* both ends are reachable */
	CHECK_EQ(seen_hi, 1992);
	/* unaligned region start: the first aligned start is used */
	for (int i = 0; i < 1000; i++) {
		uint64_t l = iow_lba_random(&r, 1001, 1100, 4, 16);

		bad += l % 16 || l < 1001 || l + 4 > 1100;
	}
	CHECK_EQ(bad, 0);
	/* does not fit: the first aligned start, the caller truncates */
	CHECK_EQ(iow_lba_random(&r, 100, 104, 8, 1), 100);
	CHECK_EQ(iow_lba_random(&r, 101, 110, 16, 4), 104);
	/* no aligned start inside at all */
	CHECK_EQ(iow_lba_random(&r, 101, 103, 1, 8), 101);
	/* a 1-LBA region */
	CHECK_EQ(iow_lba_random(&r, 5, 6, 1, 1), 5);
}

static void gen_seq(struct iow_gen *g, struct iow_io *ios, int n)
{
	for (int i = 0; i < n; i++)
		iow_gen_next(g, &ios[i]);
}

TEST(ioworker_gen_sequential)
{
	struct iow_gen *g = malloc(sizeof(*g));
	struct iow_args *a = args_new();
	struct iow_io io[32];

	if (!CHECK(g))
		return;
	/* contiguous from lba_start, truncated at the end of the region, then wraps */
	a->lba_random = 0;
	a->region_start = 100;
	a->region_end = 150;
	a->lba_start = 120;
	CHECK_EQ(iow_gen_init(g, a), 0);
	gen_seq(g, io, 6);
	CHECK_EQ(io[0].slba, 120);
	CHECK_EQ(io[1].slba, 128);
	CHECK_EQ(io[3].slba, 144);
	CHECK_EQ(io[3].nlb, 6); /* 144..149 */
	CHECK_EQ(io[4].slba, 100);
	CHECK_EQ(io[4].nlb, 8);
	CHECK_EQ(io[5].slba, 108);

	/* lba_start below the region starts at the region */
	a->lba_start = 3;
	CHECK_EQ(iow_gen_init(g, a), 0);
	gen_seq(g, io, 1);
	CHECK_EQ(io[0].slba, 100);

	/* a step: overlapping IOs */
	a->flags = IOW_F_STEP;
	a->lba_step = 2;
	CHECK_EQ(iow_gen_init(g, a), 0);
	gen_seq(g, io, 3);
	CHECK_EQ(io[1].slba, 102);
	CHECK_EQ(io[2].slba, 104);
	/* step 0: the same LBA again and again */
	a->lba_step = 0;
	a->lba_start = 110;
	CHECK_EQ(iow_gen_init(g, a), 0);
	gen_seq(g, io, 3);
	CHECK(io[0].slba == 110 && io[1].slba == 110 && io[2].slba == 110);
	/* stepping down: wraps from the region start to the top */
	a->lba_step = -8;
	a->lba_start = 112;
	CHECK_EQ(iow_gen_init(g, a), 0);
	gen_seq(g, io, 4);
	CHECK_EQ(io[0].slba, 112);
	CHECK_EQ(io[1].slba, 104);
	CHECK_EQ(io[2].slba, 142); /* 150 - 8 */
	CHECK_EQ(io[3].slba, 134);

	/* alignment: starts rounded up to 16 */
	a->flags = 0;
	a->lba_start = 100;
	a->region_start = 100;
	a->region_end = 1000;
	a->sizes[0] = (struct iow_size){ 4, 1, 16, 0 };
	CHECK_EQ(iow_gen_init(g, a), 0);
	gen_seq(g, io, 3);
	CHECK_EQ(io[0].slba, 112);
	CHECK_EQ(io[1].slba, 128);
	CHECK_EQ(io[2].slba, 144);

	/* a flush in the mix does not move the sequence */
	a->sizes[0] = (struct iow_size){ 8, 1, 1, 0 };
	a->nops = 2;
	a->ops[0] = (struct iow_op){ 1, 50 };
	a->ops[1] = (struct iow_op){ 0, 50 };
	CHECK_EQ(iow_gen_init(g, a), 0);
	{
		uint64_t next = 100;
		unsigned bad = 0;

		for (int i = 0; i < 100; i++) {
			gen_seq(g, io, 1);
			if (io[0].opcode == 0)
				continue;
			bad += io[0].slba != next;
			next = io[0].slba + 8;
		}
		CHECK_EQ(bad, 0);
	}
	/* a share of random IOs: the sequential ones still follow each other */
	a->nops = 1;
	a->ops[0] = (struct iow_op){ 2, 100 };
	a->lba_random = 30;
	a->region_end = 1 << 20;
	CHECK_EQ(iow_gen_init(g, a), 0);
	{
		uint64_t next = 100, seq = 0;
		unsigned bad = 0;

		for (int i = 0; i < 10000; i++) {
			gen_seq(g, io, 1);
			if (io[0].slba == next) {
				seq++;
				next += 8;
			}
		}
		CHECK(seq > 6700 && seq < 7300);
		CHECK_EQ(bad, 0);
	}
	free(a);
	free(g);
}

TEST(ioworker_gen_distribution)
{
	struct iow_gen *g = malloc(sizeof(*g));
	struct iow_args *a = args_new();
	uint64_t slices[IOW_DIST_SLICES] = { 0 };
	unsigned bad = 0;

	if (!CHECK(g))
		return;
	/* JEDEC-like: 50 % of the IOs in the first 5 %, 30 % in the next 15 %, 20 % in the rest */
	a->flags = IOW_F_DISTRIBUTION;
	a->region_start = 0;
	a->region_end = 100000;
	for (int i = 0; i < 5; i++)
		a->distribution[i] = 1000;
	for (int i = 5; i < 20; i++)
		a->distribution[i] = 200;
	for (int i = 20; i < 100; i++)
		a->distribution[i] = 25;
	CHECK_EQ(iow_gen_init(g, a), 0);
	for (int i = 0; i < 1000000; i++) {
		struct iow_io io;

		iow_gen_next(g, &io);
		bad += io.slba + io.nlb > 100000;
		slices[io.slba / 1000]++;
	}
	CHECK_EQ(bad, 0);
	for (int i = 0; i < 100; i++) {
		/* the expected count per slice, within 4 standard deviations */
		double want = a->distribution[i] * 100.0, d = (double)slices[i] - want;

		if (!CHECK(d * d < 16 * want))
			UNIT_NOTE("slice %d: %llu IOs, expected %.0f", i,
				  (unsigned long long)slices[i], want);
	}
	free(a);
	free(g);
}

TEST(ioworker_throttle_arithmetic)
{
	static const uint32_t rates[] = { 1, 3, 7, 1000, 1234, 999983, 10000000 };
	unsigned bad = 0;

	for (unsigned r = 0; r < ARRAY_SIZE(rates); r++) {
		uint32_t iops = rates[r];

		CHECK_EQ(iow_due_ns(0, iops), 0);
		CHECK_EQ(iow_due_ns(iops, iops), 1000000000ull);
		/* exactly iops IOs are due within each second: k in [s * iops, (s + 1) * iops) */
		for (uint64_t s = 0; s < 5; s++) {
			bad += iow_due_ns(s * iops, iops) != s * 1000000000ull;
			bad += iow_due_ns((s + 1) * iops - 1, iops) >= (s + 1) * 1000000000ull;
		}
		/* monotonic, evenly spaced within one nanosecond */
		for (uint64_t k = 1; k < 5000; k++) {
			uint64_t d = iow_due_ns(k, iops) - iow_due_ns(k - 1, iops);

			bad += d + 1 < 1000000000ull / iops || d > 1000000000ull / iops + 1;
		}
	}
	CHECK_EQ(bad, 0);
	/* no overflow for days of IOs at millions per second */
	CHECK_EQ(iow_due_ns(10000000ull * 86400 * 30, 10000000), 86400ull * 30 * 1000000000ull);
	/* iops=1234 for 7 s: 8638 IOs are due before 7 s, the 8639th at 7 s */
	CHECK(iow_due_ns(8637, 1234) < 7000000000ull);
	CHECK_EQ(iow_due_ns(8638, 1234), 7000000000ull);
}

TEST(ioworker_fill_patterns)
{
	uint8_t *p = malloc(8192);
	struct iow_rng r;
	unsigned bad = 0;

	iow_rng_seed(&r, 3);
	CHECK_EQ(iow_fill(p, 8192, 512, 0, 0, &r), 0);
	for (int i = 0; i < 8192; i++)
		bad += p[i] != 0;
	CHECK_EQ(iow_fill(p, 8192, 512, 0, 1, &r), 0);
	for (int i = 0; i < 8192; i++)
		bad += p[i] != 0xff;
	CHECK_EQ(iow_fill(p, 8190, 512, 32, 0x11223344, &r), 0);
	for (int i = 0; i < 8190; i++)
		bad += p[i] != (uint8_t)(0x11223344u >> ((i % 4) * 8));
	CHECK_EQ(bad, 0);
	/* 0xBEEF at 25 %: the first 128 bytes of each 512-byte LBA random, the rest zero */
	memset(p, 0xaa, 8192);
	CHECK_EQ(iow_fill(p, 8192, 512, 0xBEEF, 25, &r), 0);
	for (int blk = 0; blk < 16; blk++) {
		unsigned nonzero = 0;

		for (int i = 0; i < 128; i++)
			nonzero += p[blk * 512 + i] != 0;
		for (int i = 128; i < 512; i++)
			bad += p[blk * 512 + i] != 0;
		bad += nonzero < 100; /* random bytes are rarely zero */
	}
	CHECK_EQ(bad, 0);
	/* different LBAs get different random data */
	CHECK(memcmp(p, p + 512, 128) != 0);
	CHECK_EQ(iow_fill(p, 8192, 512, 0xBEEF, 101, &r), -EINVAL);
	CHECK_EQ(iow_fill(p, 8192, 512, 7, 0, &r), -EINVAL);
	free(p);
}

TEST(ioworker_shm_layout)
{
	struct nvme_iow_layout out;
	struct nvme_iow_layout l;

	iow_shm_layout(10, 100, &l);
	CHECK(l.ips_off >= sizeof(struct iow_shm));
	CHECK(l.cmdlog_off >= l.ips_off + 40);
	CHECK(l.hist_off >= l.cmdlog_off + 100 * sizeof(struct iow_rec));
	CHECK_EQ(l.total, l.hist_off + 8ull * IOW_HIST_BUCKETS);
	CHECK_EQ(l.ips_off % 64 + l.cmdlog_off % 64 + l.hist_off % 64, 0);
	CHECK_EQ(nvme_ioworker_layout(10, 100, &out, sizeof(out)), 0);
	CHECK_EQ(out.header, sizeof(struct iow_shm));
	CHECK_EQ(out.ips_off, l.ips_off);
	CHECK_EQ(out.total, l.total);
	CHECK_EQ(out.buckets, IOW_HIST_BUCKETS);
	CHECK_EQ(out.args_size, sizeof(struct iow_args));
	CHECK_EQ(out.rec_size, sizeof(struct iow_rec));
	CHECK(nvme_ioworker_layout(10, 100, &out, sizeof(out) - 1) < 0);
	CHECK(nvme_ioworker_layout(1u << 30, 0, &out, sizeof(out)) < 0);
	CHECK_EQ(nvme_ioworker_bucket_high(5), iow_hist_high(5));
	CHECK_EQ(nvme_ioworker_bucket_high(5000), iow_hist_high(5000));
}

/* --- the loop against a fake device ----------------------------------------------------------------- */

/*
 * The fake device completes every command inside the SQ tail doorbell write,
 * with status fail_status for opcode fail_opc, or drops them all.
 */
static struct fake_dev {
	struct nvme_sq *sq;
	struct nvme_cq *cq;
	uint32_t sq_head, cq_tail;
	uint8_t phase;
	int fail_opc;
	uint16_t fail_status;
	bool drop;
	uint32_t csts;
	uint64_t count[256];
	uint64_t bad; /* malformed commands */
	uint64_t dsm_slba;
	uint32_t dsm_nlb;
	uint64_t region_end;
} dev;

static int dev_bar_read(struct nvme_transport *t, uint32_t off, unsigned size, uint64_t *val)
{
	(void)t;
	(void)size;
	*val = off == NVME_REG_CSTS ? dev.csts : 0;
	return 0;
}

static void fake_process(uint32_t tail)
{
	struct nvme_sq *sq = dev.sq;
	struct nvme_cq *cq = dev.cq;

	while (dev.sq_head != tail) {
		const uint8_t *e = sq->ring + (uint64_t)dev.sq_head * 64;
		struct nvme_cqe cqe = { 0 };
		uint8_t opc = e[0];
		uint32_t nsid, cdw12;
		uint64_t slba, prp1;
		uint16_t cid;

		memcpy(&cid, e + 2, 2);
		memcpy(&nsid, e + 4, 4);
		memcpy(&prp1, e + 24, 8);
		memcpy(&slba, e + 40, 8);
		memcpy(&cdw12, e + 48, 4);
		dev.sq_head = nvme_q_next(dev.sq_head, sq->size);
		dev.count[opc]++;
		dev.bad += nsid != 1;
		if (opc == 0x09) {
			const uint8_t *range = nvme_dma_vaddr(prp1, 16);
			uint32_t cdw11;

			memcpy(&cdw11, e + 44, 4);
			dev.bad += !range || cdw11 != 4;
			if (range) {
				memcpy(&dev.dsm_nlb, range + 4, 4);
				memcpy(&dev.dsm_slba, range + 8, 8);
			}
		} else if (opc == 0x01 || opc == 0x02) {
			dev.bad += !prp1 || slba + (cdw12 & 0xffff) + 1 > dev.region_end;
		}
		if (dev.drop)
			continue;
		cqe.sqhd = (uint16_t)dev.sq_head;
		cqe.sqid = sq->qid;
		cqe.cid = cid;
		cqe.status = (uint16_t)(((opc == dev.fail_opc ? dev.fail_status : 0) << 1) | dev.phase);
		memcpy((void *)&cq->ring[dev.cq_tail], &cqe, sizeof(cqe));
		dev.cq_tail = nvme_q_next(dev.cq_tail, cq->size);
		if (!dev.cq_tail)
			dev.phase ^= 1;
	}
}

static int dev_bar_write_batch(struct nvme_transport *t, const struct nvme_reg_write *w,
				unsigned n)
{
	(void)t;
	for (unsigned i = 0; i < n; i++)
		if (w[i].off == nvme_sq_db(dev.sq->ctrl, dev.sq->qid))
			fake_process(w[i].val);
	return 0;
}

static const struct nvme_transport_ops dev_ops = {
	.name = "fake",
	.bar_read = dev_bar_read,
	.bar_write = fake_bar_write,
	.bar_write_batch = dev_bar_write_batch,
};

struct fake_run {
	struct nvme_transport t;
	struct nvme_ctrl *c;
	uint32_t sqh, cqh;
	uint8_t *shm;
	uint32_t shm_len;
	struct nvme_iow_layout l;
};

static bool fake_start(struct fake_run *f, const struct iow_args *a, uint32_t qsize)
{
	struct nvme_cq *cq;
	struct nvme_sq *sq;

	memset(f, 0, sizeof(*f));
	memset(&dev, 0, sizeof(dev));
	dev.phase = 1;
	dev.fail_opc = -1;
	dev.csts = 1;
	dev.region_end = a->region_end;
	fake_transport_init(&f->t, &dev_ops);
	setenv("DENVME_DMA_MB", "64", 1);
	if (!CHECK(nvme_arena_get()) || !CHECK_EQ(nvme_ctrl_new(&f->t, &f->c), 0))
		return false;
	if (!CHECK_EQ(nvme_cq_new(f->c, 1, qsize, 0, false, &cq), 0) ||
	    !CHECK_EQ(nvme_sq_new(f->c, 1, qsize, cq, &sq), 0))
		return false;
	dev.sq = sq;
	dev.cq = cq;
	f->sqh = sq->handle = nvme_handle_new(NVME_H_SQ, sq);
	f->cqh = cq->handle = nvme_handle_new(NVME_H_CQ, cq);
	iow_shm_layout(a->ips_n, a->cmdlog_n, &f->l);
	f->shm_len = f->l.total;
	f->shm = aligned_alloc(64, ALIGN_UP(f->shm_len, 64));
	memset(f->shm, 0, f->shm_len);
	((struct iow_shm *)f->shm)->magic = IOW_SHM_MAGIC;
	return true;
}

static int fake_go(struct fake_run *f, const struct iow_args *a, const void *seq, uint32_t seq_len)
{
	return nvme_ioworker_run(f->sqh, f->cqh, (const void *)a, sizeof(*a), seq, seq_len, f->shm,
				 f->shm_len);
}

static void fake_end(struct fake_run *f)
{
	nvme_handle_close(f->sqh, NVME_H_SQ);
	nvme_handle_close(f->cqh, NVME_H_CQ);
	nvme_ctrl_free(f->c);
	free(f->shm);
}

#define SHM(f) ((struct iow_shm *)(f)->shm)

TEST(ioworker_loop_io_count)
{
	struct iow_args *a = args_new();
	struct fake_run f;
	uint64_t used0, hist_total = 0;
	const uint64_t *hist;
	const struct iow_rec *ring;

	a->io_count = 5000;
	a->ips_n = 4;
	a->cmdlog_n = 10;
	a->npct = 2;
	a->pct[0] = 50;
	a->pct[1] = 100;
	a->nops = 3;
	a->ops[0] = (struct iow_op){ 2, 60 };
	a->ops[1] = (struct iow_op){ 1, 30 };
	a->ops[2] = (struct iow_op){ 9, 10 };
	used0 = nvme_arena_get() ? nvme_dma_used() : 0;
	if (!fake_start(&f, a, 16))
		return;
	CHECK_EQ(fake_go(&f, a, NULL, 0), 0);
	CHECK_EQ(SHM(&f)->state, IOW_ST_DONE);
	CHECK_EQ(SHM(&f)->host_error, 0);
	CHECK_EQ(SHM(&f)->error, 0);
	CHECK_EQ(SHM(&f)->completed, 5000);
	CHECK_EQ(SHM(&f)->submitted, 5000);
	CHECK_EQ(SHM(&f)->in_flight, 0);
	CHECK_EQ(SHM(&f)->reads + SHM(&f)->nonreads, 5000);
	CHECK_EQ(SHM(&f)->reads, SHM(&f)->op_counts[2]);
	CHECK_EQ(SHM(&f)->writes, SHM(&f)->op_counts[1]);
	CHECK_EQ(SHM(&f)->op_counts[2] + SHM(&f)->op_counts[1] + SHM(&f)->op_counts[9], 5000);
	CHECK(SHM(&f)->op_counts[9] > 350 && SHM(&f)->op_counts[9] < 650);
	CHECK_EQ(dev.count[2], SHM(&f)->op_counts[2]);
	CHECK_EQ(dev.count[9], SHM(&f)->op_counts[9]);
	CHECK_EQ(dev.bad, 0);
	CHECK(dev.dsm_nlb == 8 && dev.dsm_slba + 8 <= a->region_end);
	CHECK_EQ(SHM(&f)->cmdlog_count, 5000);
	CHECK(SHM(&f)->ips_used >= 1);
	CHECK(SHM(&f)->pct_us[0] <= SHM(&f)->pct_us[1]);
	hist = (const uint64_t *)(f.shm + f.l.hist_off);
	for (uint32_t i = 0; i < IOW_HIST_BUCKETS; i++)
		hist_total += hist[i];
	CHECK_EQ(hist_total, 5000);
	ring = (const struct iow_rec *)(f.shm + f.l.cmdlog_off);
	for (int i = 0; i < 10; i++)
		CHECK(ring[i].opcode == 1 || ring[i].opcode == 2 || ring[i].opcode == 9);
	/* the queue is idle and released, buffers are back */
	CHECK_EQ(dev.sq->priv, 0);
	CHECK_EQ(dev.cq->priv, 0);
	CHECK_EQ(dev.sq->outstanding, 0);
	CHECK_EQ(dev.cq->head, dev.cq->phead); /* every doorbell rung */
	CHECK_EQ(dev.sq->tail, dev.sq->ptail);
	CHECK_EQ(f.c->dirty, 0); /* the worker never marks the controller dirty */
	fake_end(&f);
	CHECK_EQ(nvme_dma_used(), used0);
	free(a);
}

TEST(ioworker_loop_error_stops)
{
	struct iow_args *a = args_new();
	struct fake_run f;

	a->io_count = 100000;
	a->nops = 2;
	a->ops[0] = (struct iow_op){ 2, 90 };
	a->ops[1] = (struct iow_op){ 1, 10 };
	if (!fake_start(&f, a, 8))
		return;
	dev.fail_opc = 1;
	dev.fail_status = (2 << 8) | 0x81;
	CHECK_EQ(fake_go(&f, a, NULL, 0), 0);
	CHECK_EQ(SHM(&f)->error, 0x281);
	CHECK_EQ(SHM(&f)->error_opcode, 1);
	CHECK_EQ(SHM(&f)->host_error, 0); /* a device status is not a host error */
	CHECK(SHM(&f)->completed < 1000);  /* stopped at once (plus what was in flight) */
	CHECK_EQ(SHM(&f)->in_flight, 0);
	CHECK_EQ(SHM(&f)->state, IOW_ST_DONE);
	fake_end(&f);
	free(a);
}

TEST(ioworker_loop_timeout_not_ready_guard)
{
	struct iow_args *a = args_new();
	struct fake_run f;
	uint64_t t0;

	a->io_count = 100;
	if (!fake_start(&f, a, 8))
		return;
	/* the device never answers: the controller's timeout (50 ms) ends it */
	dev.drop = true;
	f.c->timeout_ns = 50000000;
	t0 = nvme_now_ns();
	CHECK_EQ(fake_go(&f, a, NULL, 0), 0);
	CHECK(nvme_now_ns() - t0 < 1000000000ull);
	CHECK_EQ(SHM(&f)->host_error, IOW_E_IO_TIMEOUT);
	CHECK_EQ(SHM(&f)->error, NVME_STATUS_HOST_TIMEOUT);
	CHECK(strstr(SHM(&f)->message, "IO timeout: Read lba"));
	CHECK_EQ(SHM(&f)->completed, 0);
	CHECK_EQ(dev.sq->priv, 0);
	fake_end(&f);

	/* the controller drops out of ready: noticed after 100 ms without progress */
	if (!fake_start(&f, a, 8))
		return;
	dev.drop = true;
	dev.csts = 0;
	t0 = nvme_now_ns();
	CHECK_EQ(fake_go(&f, a, NULL, 0), 0);
	CHECK(nvme_now_ns() - t0 < 500000000ull);
	CHECK_EQ(SHM(&f)->host_error, IOW_E_NOT_READY);
	CHECK(strstr(SHM(&f)->message, "not ready (CSTS = 0x0)"));
	CHECK_EQ(SHM(&f)->in_flight, 7);
	fake_end(&f);

	/* no per-IO timeout, a ready controller that never answers: the guard ends it */
	if (!fake_start(&f, a, 8))
		return;
	dev.drop = true;
	f.c->timeout_ns = 0;
	a->io_count = 0;
	a->time_ms = 50;
	a->guard_ms = 100; /* instead of pynvme's 30 s */
	t0 = nvme_now_ns();
	CHECK_EQ(fake_go(&f, a, NULL, 0), 0);
	CHECK(nvme_now_ns() - t0 >= 150000000ull && nvme_now_ns() - t0 < 1000000000ull);
	CHECK_EQ(SHM(&f)->host_error, IOW_E_GUARD);
	CHECK(strstr(SHM(&f)->message, "still running 100 ms after its time of 50 ms, 7 IO(s)"));
	CHECK_EQ(dev.sq->priv, 0);
	fake_end(&f);
	free(a);
}

TEST(ioworker_loop_stop_and_busy)
{
	struct iow_args *a = args_new();
	struct fake_run f;

	a->time_ms = 60000;
	if (!fake_start(&f, a, 8))
		return;
	SHM(&f)->stop = IOW_STOP_NOW; /* asked to leave before the first IO */
	CHECK_EQ(fake_go(&f, a, NULL, 0), 0);
	CHECK_EQ(SHM(&f)->host_error, IOW_E_TERMINATED);
	CHECK_EQ(SHM(&f)->completed, 0);
	/* a queue driven by another worker is refused */
	SHM(&f)->stop = 0;
	SHM(&f)->host_error = 0;
	dev.sq->priv = 1;
	CHECK_EQ(fake_go(&f, a, NULL, 0), -EBUSY);
	CHECK_EQ(SHM(&f)->host_error, IOW_E_INIT);
	CHECK(strstr(SHM(&f)->message, "already driven"));
	dev.sq->priv = 0;
	/* bad arguments are refused before anything runs */
	SHM(&f)->host_error = 0;
	a->qdepth = 9; /* above the 8-entry queue */
	CHECK_EQ(fake_go(&f, a, NULL, 0), -EINVAL);
	CHECK(strstr(SHM(&f)->message, "qdepth 9"));
	a->qdepth = 8;
	a->magic = 0;
	CHECK_EQ(fake_go(&f, a, NULL, 0), -EINVAL);
	CHECK_EQ(dev.sq->priv, 0);
	fake_end(&f);
	free(a);
}

TEST(ioworker_loop_throttle)
{
	struct iow_args *a = args_new();
	struct fake_run f;
	const uint32_t *ips;

	/* 1000 IOs per second for 1.2 s: exactly 1200 IOs, 1000 then 200 */
	a->iops = 1000;
	a->time_ms = 1200;
	a->ips_n = 3;
	if (!fake_start(&f, a, 16))
		return;
	CHECK_EQ(fake_go(&f, a, NULL, 0), 0);
	ips = (const uint32_t *)(f.shm + f.l.ips_off);
	CHECK_EQ(SHM(&f)->completed, 1200);
	CHECK_EQ(SHM(&f)->ips_used, 2);
	CHECK_EQ(ips[0], 1000);
	CHECK_EQ(ips[1], 200);
	CHECK(SHM(&f)->elapsed_us >= 1199000 && SHM(&f)->elapsed_us < 1300000);
	/* mostly asleep between IOs */
	CHECK(SHM(&f)->cpu_ns < 600000000ull);
	fake_end(&f);
	free(a);
}

TEST(ioworker_loop_sequence)
{
	struct iow_args *a = args_new();
	struct iow_seq seq[4] = {
		{ 0, 100, 8, 1 }, { 2000, 100, 8, 2 }, { 4000, 0, 0, 0 }, { 30000, 500, 16, 9 },
	};
	struct fake_run f;
	const struct iow_rec *ring;

	a->flags = IOW_F_SEQUENCE;
	a->nseq = 4;
	a->cmdlog_n = 8;
	if (!fake_start(&f, a, 8))
		return;
	CHECK_EQ(fake_go(&f, a, seq, sizeof(seq)), 0);
	CHECK_EQ(SHM(&f)->host_error, 0);
	CHECK_EQ(SHM(&f)->completed, 4);
	CHECK_EQ(dev.count[1] + dev.count[2] + dev.count[0] + dev.count[9], 4);
	CHECK_EQ(dev.dsm_slba, 500);
	CHECK_EQ(dev.dsm_nlb, 16);
	ring = (const struct iow_rec *)(f.shm + f.l.cmdlog_off);
	CHECK(ring[0].opcode == 1 && ring[1].opcode == 2 && ring[2].opcode == 0 &&
	      ring[3].opcode == 9);
	/* replayed at its times */
	CHECK(ring[1].time_us >= 2000 && ring[3].time_us >= 30000);
	CHECK(SHM(&f)->elapsed_us >= 30000);
	/* records out of order are refused */
	seq[1].time_us = 5000;
	CHECK_EQ(fake_go(&f, a, seq, sizeof(seq)), -EINVAL);
	CHECK(strstr(SHM(&f)->message, "record 2"));
	fake_end(&f);
	free(a);
}

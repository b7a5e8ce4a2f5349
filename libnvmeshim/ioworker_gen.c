/* SPDX-License-Identifier: MIT */
/*
 * ioworker_gen.c - the ioworker's pure parts (see ioworker.h): the latency
 * histogram, random numbers, workload generation (sizes, opcodes, LBAs,
 * distribution), throttle arithmetic, data patterns and the shared memory
 * layout. No device, no thread: tests/test_ioworker.c checks them directly.
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ioworker.h"
#include "nvme_opcodes.h"
#include "util.h"

/* --- histogram ---------------------------------------------------------------- */

uint32_t iow_hist_index(uint64_t us)
{
	unsigned e;

	if (us >= (1ull << IOW_HIST_MAX_BITS))
		us = (1ull << IOW_HIST_MAX_BITS) - 1;
	if (us < 2 * IOW_HIST_SUB)
		return (uint32_t)us;
	e = (unsigned)(63 - __builtin_clzll(us)) - IOW_HIST_SUB_BITS;
	return (e + 1) * IOW_HIST_SUB + (uint32_t)((us >> e) - IOW_HIST_SUB);
}

uint64_t iow_hist_low(uint32_t i)
{
	if (i < 2 * IOW_HIST_SUB)
		return i;
	return (uint64_t)(i % IOW_HIST_SUB + IOW_HIST_SUB) << (i / IOW_HIST_SUB - 1);
}

uint64_t iow_hist_high(uint32_t i)
{
	if (i < 2 * IOW_HIST_SUB)
		return i;
	return iow_hist_low(i) + (1ull << (i / IOW_HIST_SUB - 1)) - 1;
}

uint64_t iow_hist_percentile(const uint64_t *hist, uint64_t total, double pct)
{
	uint64_t target, cum = 0;
	double t;
	uint64_t ti;

	if (!total || !(pct > 0))
		return 0;
	if (pct > 100)
		pct = 100;
	/* pct * total first: 99.9 * 1000 / 100 must give 999, not 999.0000001 */
	t = pct * (double)total / 100.0 - 1e-9;
	ti = t < 1 ? 1 : (uint64_t)t;
	target = (double)ti < t ? ti + 1 : ti; /* ceil, without libm */
	if (target > total)
		target = total;
	for (uint32_t i = 0; i < IOW_HIST_BUCKETS; i++) {
		cum += hist[i];
		if (cum >= target)
			return iow_hist_high(i);
	}
	return iow_hist_high(IOW_HIST_BUCKETS - 1);
}

uint64_t iow_hist_percentile_max(const uint64_t *hist, uint64_t total, double pct,
				 uint64_t max_us)
{
	uint64_t p = iow_hist_percentile(hist, total, pct);

	return p > max_us ? max_us : p;
}

/* --- random numbers ----------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void iow_rng_seed(struct iow_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t iow_rng_next(struct iow_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* --- workload generation --------------------------------------------------------- */

static inline uint64_t align_up(uint64_t x, uint32_t a)
{
	return a <= 1 ? x : (x + a - 1) / a * a;
}

static inline uint64_t align_down(uint64_t x, uint32_t a)
{
	return a <= 1 ? x : x / a * a;
}

int iow_gen_init(struct iow_gen *g, const struct iow_args *a)
{
	uint32_t total = 0, pct = 0;

	memset(g, 0, sizeof(*g));
	if (a->region_end <= a->region_start)
		return nvme_set_error(-EINVAL, "region: end %llu must be above start %llu",
				      (unsigned long long)a->region_end,
				      (unsigned long long)a->region_start);
	if (a->lba_random > 100)
		return nvme_set_error(-EINVAL, "lba_random %u: allowed 0..100", a->lba_random);
	g->rs = a->region_start;
	g->re = a->region_end;
	g->lba_random = a->lba_random;
	g->has_step = a->flags & IOW_F_STEP;
	g->step = a->lba_step;
	g->cursor = a->lba_start > g->rs && a->lba_start < g->re ? a->lba_start : g->rs;
	iow_rng_seed(&g->rng, a->seed);
	if (a->flags & IOW_F_SEQUENCE)
		return 0;

	if (a->nsizes < 1 || a->nsizes > IOW_MAX_SIZES)
		return nvme_set_error(-EINVAL, "%u IO sizes: allowed 1..%u", a->nsizes,
				      IOW_MAX_SIZES);
	for (uint32_t i = 0; i < a->nsizes; i++) {
		const struct iow_size *s = &a->sizes[i];

		if (s->lbas < 1 || s->lbas > a->max_lbas)
			return nvme_set_error(-EINVAL, "IO size %u LBAs: allowed 1..%u", s->lbas,
					      a->max_lbas);
		if (s->weight < 1 || s->align < 1)
			return nvme_set_error(-EINVAL, "IO size %u: weight %u and alignment %u "
					      "must be at least 1", s->lbas, s->weight, s->align);
		total += s->weight;
		if (total > IOW_MAX_WEIGHT)
			return nvme_set_error(-EINVAL, "IO size weights sum above %u",
					      IOW_MAX_WEIGHT);
		g->sizes[i] = *s;
	}
	g->nsizes = a->nsizes;
	g->size_total = total;
	for (uint32_t i = 0, k = 0; i < a->nsizes; i++)
		for (uint32_t w = 0; w < a->sizes[i].weight; w++)
			g->size_slot[k++] = (uint16_t)i;

	if (a->nops < 1 || a->nops > IOW_MAX_OPS)
		return nvme_set_error(-EINVAL, "%u opcodes: allowed 1..%u", a->nops, IOW_MAX_OPS);
	for (uint32_t i = 0; i < a->nops; i++) {
		if (a->ops[i].opcode > 255 || a->ops[i].percent > 100)
			return nvme_set_error(-EINVAL, "opcode %u at %u%%: allowed opcodes 0..255",
					      a->ops[i].opcode, a->ops[i].percent);
		for (uint32_t p = 0; p < a->ops[i].percent && pct + p < 100; p++)
			g->op_slot[pct + p] = (uint8_t)a->ops[i].opcode;
		pct += a->ops[i].percent;
	}
	if (pct != 100)
		return nvme_set_error(-EINVAL, "opcode percentages sum to %u, not 100", pct);

	if (a->flags & IOW_F_DISTRIBUTION) {
		uint32_t sum = 0;

		if (a->lba_random != 100)
			return nvme_set_error(-EINVAL, "a distribution needs lba_random 100, not %u",
					      a->lba_random);
		for (uint32_t s = 0; s < IOW_DIST_SLICES; s++) {
			if (a->distribution[s] > IOW_DIST_TOTAL - sum)
				return nvme_set_error(-EINVAL, "distribution sums above %u",
						      IOW_DIST_TOTAL);
			for (uint32_t j = 0; j < a->distribution[s]; j++)
				g->dist_slot[sum + j] = (uint8_t)s;
			sum += a->distribution[s];
		}
		if (sum != IOW_DIST_TOTAL)
			return nvme_set_error(-EINVAL, "distribution sums to %u, not %u", sum,
					      IOW_DIST_TOTAL);
		g->has_dist = true;
	}
	return 0;
}

uint64_t iow_lba_random(struct iow_rng *r, uint64_t lo, uint64_t hi, uint32_t nlb, uint32_t align)
{
	uint64_t first = align_up(lo, align);

	if (first >= hi)
		return lo; /* no aligned start inside: unaligned */
	if (hi - first < nlb)
		return first; /* does not fit: the caller truncates */
	return first + iow_rng_below(r, (hi - nlb - first) / align + 1) * align;
}

void iow_gen_next(struct iow_gen *g, struct iow_io *io)
{
	const struct iow_size *s;
	uint64_t slba;
	uint32_t nlb;
	bool random;

	io->opcode = g->op_slot[iow_rng_below(&g->rng, 100)];
	if (io->opcode == NVME_IO_FLUSH) { /* no LBA range, the sequence does not move */
		io->slba = 0;
		io->nlb = 0;
		return;
	}
	s = &g->sizes[g->size_slot[iow_rng_below(&g->rng, g->size_total)]];
	nlb = s->lbas;
	random = g->lba_random >= 100 ||
		 (g->lba_random && iow_rng_below(&g->rng, 100) < g->lba_random);
	if (random) {
		uint64_t lo = g->rs, hi = g->re;

		if (g->has_dist) {
			uint64_t len = g->re - g->rs;
			uint32_t sec = g->dist_slot[iow_rng_below(&g->rng, IOW_DIST_TOTAL)];

			lo = g->rs + (uint64_t)((unsigned __int128)len * sec / IOW_DIST_SLICES);
			hi = g->rs + (uint64_t)((unsigned __int128)len * (sec + 1) / IOW_DIST_SLICES);
			if (hi <= lo)
				hi = lo + 1 <= g->re ? lo + 1 : g->re;
		}
		slba = iow_lba_random(&g->rng, lo, hi, nlb, s->align);
	} else {
		slba = align_up(g->cursor, s->align);
		if (slba >= g->re) { /* wrap round to the start of the region */
			slba = align_up(g->rs, s->align);
			if (slba >= g->re)
				slba = g->rs;
		}
		if (!g->has_step) {
			g->cursor = slba + nlb;
		} else if (g->step >= 0 || slba >= g->rs + (uint64_t)(-(int64_t)g->step)) {
			g->cursor = slba + (uint64_t)(int64_t)g->step;
		} else { /* stepping down past the start: continue from the top */
			uint64_t top = g->re - g->rs > nlb ? g->re - nlb : g->rs;

			top = align_down(top, s->align);
			g->cursor = top >= g->rs ? top : g->rs;
		}
	}
	if (slba + nlb > g->re) /* truncate the IO at the end of the region */
		nlb = (uint32_t)(g->re - slba);
	io->slba = slba;
	io->nlb = nlb;
}

uint64_t iow_due_ns(uint64_t k, uint32_t iops)
{
	return (k / iops) * NS_PER_S + (k % iops) * NS_PER_S / iops;
}

int iow_fill(uint8_t *p, uint64_t len, uint32_t block, uint32_t ptype, uint32_t pvalue,
	     struct iow_rng *r)
{
	switch (ptype) {
	case 0:
		memset(p, pvalue ? 0xff : 0, len);
		return 0;
	case 32:
		for (uint64_t i = 0; i < len; i++)
			p[i] = (uint8_t)(pvalue >> ((i % 4) * 8));
		return 0;
	case 0xBEEF:
		if (pvalue > 100 || !block)
			return -EINVAL;
		for (uint64_t at = 0; at < len; at += block) {
			uint64_t n = len - at < block ? len - at : block;
			uint64_t rnd = n * pvalue / 100;

			for (uint64_t i = 0; i < rnd; i += 8) {
				uint64_t v = iow_rng_next(r);

				memcpy(p + at + i, &v, rnd - i < 8 ? rnd - i : 8);
			}
			memset(p + at + rnd, 0, n - rnd);
		}
		return 0;
	default:
		return -EINVAL;
	}
}

void iow_shm_layout(uint32_t ips_n, uint32_t cmdlog_n, struct nvme_iow_layout *l)
{
	uint64_t off = ALIGN_UP(sizeof(struct iow_shm), 64);

	l->ips_off = (uint32_t)off;
	off = ALIGN_UP(off + 4ull * ips_n, 64);
	l->cmdlog_off = (uint32_t)off;
	off = ALIGN_UP(off + sizeof(struct iow_rec) * (uint64_t)cmdlog_n, 64);
	l->hist_off = (uint32_t)off;
	off += 8ull * IOW_HIST_BUCKETS;
	l->total = (uint32_t)off;
	l->header = sizeof(struct iow_shm);
	l->buckets = IOW_HIST_BUCKETS;
	l->args_size = sizeof(struct iow_args);
	l->rec_size = sizeof(struct iow_rec);
}

int nvme_ioworker_layout(uint32_t ips_n, uint32_t cmdlog_n, struct nvme_iow_layout *out,
			 uint32_t size)
{
	int r = NVME_CHECK_OUT(out, size, "ioworker_layout");

	if (r)
		return r;
	if (ips_n > MAX_IPS || cmdlog_n > MAX_CMDLOG)
		return nvme_set_error(-EINVAL, "ioworker_layout: %u seconds (max %u), %u IO records "
				      "(max %u)", ips_n, MAX_IPS, cmdlog_n, MAX_CMDLOG);
	iow_shm_layout(ips_n, cmdlog_n, out);
	return 0;
}

uint64_t nvme_ioworker_bucket_high(uint32_t i)
{
	return iow_hist_high(i < IOW_HIST_BUCKETS ? i : IOW_HIST_BUCKETS - 1);
}

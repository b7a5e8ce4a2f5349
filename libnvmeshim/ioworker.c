/* SPDX-License-Identifier: MIT */
/*
 * ioworker.c - the IO engine: workload generation, throttling, statistics and
 * the per-IO loop that drives one privately rung IO queue pair (see ioworker.h).
 */
#define _GNU_SOURCE

#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctrl.h"
#include "dma.h"
#include "handle.h"
#include "ioworker.h"
#include "nvme_opcodes.h"
#include "queue.h"
#include "util.h"

/* TypeScript (ffi/ioworker.ts) writes and reads these layouts by offset. */
_Static_assert(sizeof(struct iow_size) == 16, "iow_size layout");
_Static_assert(sizeof(struct iow_seq) == 24, "iow_seq layout");
_Static_assert(sizeof(struct iow_rec) == 32, "iow_rec layout");
_Static_assert(__builtin_offsetof(struct iow_args, region_start) == 16, "iow_args layout");
_Static_assert(__builtin_offsetof(struct iow_args, iops) == 64, "iow_args layout");
_Static_assert(__builtin_offsetof(struct iow_args, guard_ms) == 120, "iow_args layout");
_Static_assert(__builtin_offsetof(struct iow_args, sizes) == 128, "iow_args layout");
_Static_assert(__builtin_offsetof(struct iow_args, ops) == 128 + 16 * IOW_MAX_SIZES,
	       "iow_args layout");
_Static_assert(__builtin_offsetof(struct iow_args, distribution) ==
		       128 + 16 * IOW_MAX_SIZES + 8 * IOW_MAX_OPS,
	       "iow_args layout");
_Static_assert(__builtin_offsetof(struct iow_args, pct) ==
		       128 + 16 * IOW_MAX_SIZES + 8 * IOW_MAX_OPS + 4 * IOW_DIST_SLICES,
	       "iow_args layout");
_Static_assert(__builtin_offsetof(struct iow_shm, error_lba) == 32, "iow_shm layout");
_Static_assert(__builtin_offsetof(struct iow_shm, elapsed_us) == 40, "iow_shm layout");
_Static_assert(__builtin_offsetof(struct iow_shm, pct_us) == 136, "iow_shm layout");
_Static_assert(__builtin_offsetof(struct iow_shm, op_counts) == 136 + 8 * IOW_MAX_PCT,
	       "iow_shm layout");
_Static_assert(__builtin_offsetof(struct iow_shm, message) == 136 + 8 * IOW_MAX_PCT + 8 * 256,
	       "iow_shm layout");

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull
#define GUARD_NS (30 * NS_PER_S) /* pynvme: an ioworker still running at time + 30 s fails */
#define LATE_NS (200 * NS_PER_MS)   /* after the run time, IOs later than this are not submitted */
#define CHECK_NS (100 * NS_PER_MS) /* device check after this long without progress */
#define MAX_IPS (1u << 22)
#define MAX_CMDLOG (1u << 20)

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

/* --- the loop ---------------------------------------------------------------------- */

struct iow_ctx {
	uint64_t submit_ns;
	uint64_t due_ns; /* when it was due, from the start (throttle schedule) */
	uint64_t slba;
	uint32_t nlb;
	uint16_t cid;
	uint8_t opcode;
	uint8_t busy;
};

struct iow {
	const struct iow_args *a;
	struct iow_shm *s;
	uint32_t *ips;
	struct iow_rec *ring;
	uint64_t *hist;
	struct nvme_ctrl *c;
	struct nvme_sq *sq;
	struct nvme_cq *cq;
	struct iow_gen *g;
	const struct iow_seq *seq;
	struct nvme_buf *wbuf, *rbuf, *dsm;
	uint64_t slot_bytes;
	bool rslots;	       /* reads have a slot each (verification on: data checked) */
	bool has_retry;	       /* retry: generated, refused by a verification lock */
	struct iow_io retry;
	struct iow_ctx *ctx;
	uint16_t *free_stack;
	uint32_t nfree, nctx;
	uint64_t start_ns, time_ns, guard_ns, guard_after_ns, next_due_ns;
	uint64_t last_progress_ns, last_check_ns, last_done_ns;
	uint64_t k; /* IOs submitted */
	uint64_t due_rel; /* due time of the IO being submitted, from the start */
	uint64_t completed, in_flight, lat_sum, lat_max;
	uint32_t ips_last; /* last per-second slot of a time-limited run */
	bool stopping;	   /* no more submissions */
	bool deadline_hit; /* stopped by the run time */
	bool abort;	   /* leave the loop now */
};

static void host_error(struct iow *w, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void host_error(struct iow *w, int code, const char *fmt, ...)
{
	va_list ap;

	w->stopping = true;
	if (w->s->host_error)
		return; /* the first one tells what happened */
	va_start(ap, fmt);
	vsnprintf(w->s->message, sizeof(w->s->message), fmt, ap);
	va_end(ap);
	__atomic_store_n(&w->s->host_error, code, __ATOMIC_RELEASE);
}

/* The queue is lost: the device is gone or powered off, or the function was reset under it. */
static void lost(struct iow *w, const char *detail)
{
	struct nvme_transport *t = w->c->t;

	if (!t->dead && nvme_q_stale(w->sq))
		host_error(w, IOW_E_TERMINATED, "terminated: the %s of %s dropped the queue with "
			   "%llu IO(s) in flight", t->last_reset ? t->last_reset : "reset", t->name,
			   (unsigned long long)w->in_flight);
	else
		host_error(w, IOW_E_GONE, "the device is %s: %s%s%s%s",
			   t->dead ? nvme_transport_gone(t) : "gone", t->name,
			   detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
	w->abort = true;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* Post one IO (the doorbell rings later). Return: 0, -EAGAIN (queue full), -errno. */
static int submit_one(struct iow *w, const struct iow_io *io, uint64_t now)
{
	uint16_t i = w->free_stack[w->nfree - 1];
	struct iow_ctx *x = &w->ctx[i];
	struct nvme_buf *buf = NULL;
	uint64_t off = 0, len = 0;
	uint8_t sqe[64] = { 0 };
	int r;

	sqe[0] = io->opcode;
	put32(sqe + 4, w->a->nsid);
	if (io->opcode == NVME_IO_DSM) { /* one range, deallocate */
		uint8_t *range = w->dsm->vaddr + (uint64_t)i * 16;

		put32(range, 0);
		put32(range + 4, io->nlb);
		put64(range + 8, io->slba);
		put32(sqe + 44, 1u << 2);
		buf = w->dsm;
		off = (uint64_t)i * 16;
		len = 16;
	} else if (io->opcode != NVME_IO_FLUSH) {
		unsigned dir = iow_data_dir(io->opcode);

		put64(sqe + 40, io->slba);
		put32(sqe + 48, io->nlb - 1);
		len = (uint64_t)io->nlb * w->a->lba_size;
		if (dir == 2) {
			/*
			 * Reads share one sink unless the namespace is verified: then each
			 * read is checked from its own slot at completion (verify.c).
			 */
			buf = w->rbuf;
			off = w->rslots ? (uint64_t)i * w->slot_bytes : 0;
		} else if (dir) {
			/* a write to a verified namespace is stamped in its slot (verify.c) */
			buf = w->wbuf;
			off = (uint64_t)i * w->slot_bytes;
		} else {
			len = 0;
		}
	}
	r = nvme_sq_submit(w->sq, sqe, buf, off, len, i, 0);
	if (r < 0)
		return r;
	w->nfree--;
	x->submit_ns = now;
	x->due_ns = w->due_rel;
	x->slba = io->slba;
	x->nlb = io->nlb;
	x->opcode = io->opcode;
	x->cid = (uint16_t)r;
	x->busy = 1;
	w->in_flight++;
	w->k++;
	return 0;
}

static const char *opname(uint8_t opc)
{
	const char *name = nvme_opcode_name(opc, 0);

	return name ? name : opc >= 0x80 ? "vendor command" : "command";
}

static void release_ctx(struct iow *w, uint16_t i)
{
	w->ctx[i].busy = 0;
	w->free_stack[w->nfree++] = i;
}

static void complete(struct iow *w, const struct nvme_cpl *p, uint64_t now)
{
	struct iow_shm *s = w->s;
	struct iow_ctx *x;
	uint16_t status;
	uint64_t lat, sec;

	if (p->flags & (NVME_CPL_LATE | NVME_CPL_UNKNOWN) || p->tag >= w->nctx)
		return;
	x = &w->ctx[p->tag];
	if (!x->busy)
		return;
	w->in_flight--;
	if (p->flags & NVME_CPL_GONE) {
		/* the tracker is released: the slot may be reused */
		release_ctx(w, (uint16_t)p->tag);
		w->in_flight++; /* counted in the message: the others follow in this batch */
		lost(w, NULL);
		w->in_flight--;
		return;
	}
	if (p->flags & NVME_CPL_TIMEOUT) {
		/* the CID (and this slot's buffer) stay reserved until the device answers */
		x->busy = 2;
		if (!s->error) {
			s->error_opcode = x->opcode;
			s->error_lba = x->slba;
			s->error_nlb = x->nlb;
			__atomic_store_n(&s->error, NVME_STATUS_HOST_TIMEOUT, __ATOMIC_RELEASE);
		}
		host_error(w, IOW_E_IO_TIMEOUT, "IO timeout: %s lba %llu count %u (cid %u) not "
			   "completed within %llu ms", opname(x->opcode),
			   (unsigned long long)x->slba, x->nlb, x->cid,
			   (unsigned long long)(w->c->timeout_ns / NS_PER_MS));
		return;
	}
	status = (uint16_t)((p->dw[3] >> 17) & 0x7ff);
	lat = now > x->submit_ns ? now - x->submit_ns : 0;
	w->completed++;
	w->lat_sum += lat;
	if (lat > w->lat_max)
		w->lat_max = lat;
	w->hist[iow_hist_index((lat + 500) / 1000)]++;
	s->op_counts[x->opcode]++;
	if (x->opcode == NVME_IO_READ)
		s->reads++;
	else
		s->nonreads++;
	if (x->opcode == NVME_IO_WRITE)
		s->writes++;
	if (status && !s->error) {
		/* pynvme: the first failing IO stops the worker */
		s->error_opcode = x->opcode;
		s->error_lba = x->slba;
		s->error_nlb = x->nlb;
		/* a verification failure (07/81): what was wrong, in words */
		if ((p->flags & (NVME_CPL_VERIFY_LBA | NVME_CPL_VERIFY_CRC | NVME_CPL_VERIFY_UNC)) &&
		    !s->host_error)
			nvme_verify_describe(w->sq, p->tag, s->message, sizeof(s->message));
		__atomic_store_n(&s->error, status, __ATOMIC_RELEASE);
		w->stopping = true;
	}
	/* reads were verified and the table updated in nvme_cq_process() (verify.c) */
	sec = (now - w->start_ns) / NS_PER_S;
	if (w->time_ns && sec > w->ips_last)
		sec = w->ips_last; /* IOs completing after the run time count in its last second */
	/*
	 * The last second counts the IOs due in it, exactly (pynvme's users read
	 * iops=N as N per second): an IO due earlier that completes late (a stall
	 * at the boundary) counts in the second before.
	 */
	if (w->time_ns && w->ips_last && sec == w->ips_last &&
	    x->due_ns < (uint64_t)w->ips_last * NS_PER_S)
		sec = w->ips_last - 1;
	if (w->a->ips_n) {
		if (sec >= w->a->ips_n)
			sec = w->a->ips_n - 1;
		w->ips[sec]++;
		if (sec + 1 > s->ips_used)
			s->ips_used = sec + 1;
	}
	if (w->a->cmdlog_n) {
		struct iow_rec *rec = &w->ring[s->cmdlog_count % w->a->cmdlog_n];

		rec->slba = x->slba;
		rec->time_us = (now - w->start_ns) / 1000;
		rec->nlb = x->nlb;
		rec->latency_us = (uint32_t)((lat + 500) / 1000);
		rec->status = status;
		rec->opcode = x->opcode;
		rec->flags = (uint8_t)p->flags;
		rec->cid = x->cid;
		s->cmdlog_count++;
	}
	w->last_done_ns = now;
	release_ctx(w, (uint16_t)p->tag);
}

/* Submit what is due. Return: IOs submitted. */
static unsigned submit_due(struct iow *w, uint64_t now)
{
	const struct iow_args *a = w->a;
	bool retried = false; /* the IO refused earlier was tried in this call */
	unsigned n = 0;

	/*
	 * The run time bounds the run whatever the rate. Before the deadline an
	 * IO due after it is not submitted: the worker waits for the deadline
	 * (it runs its whole time). From the deadline on, only IOs due before it
	 * that are at most LATE_NS late still go (a throttled run keeps its exact
	 * count through a scheduling hiccup); a worker behind its rate (the
	 * device cannot keep up with iops) stops there.
	 */
	bool over = w->time_ns && now - w->start_ns >= w->time_ns;

	while (w->nfree) {
		bool from_retry = false;
		struct iow_io io;
		uint64_t due;
		int r;

		if (a->io_count && w->k >= a->io_count) {
			w->stopping = true;
			break;
		}
		if (w->seq) {
			if (w->k >= a->nseq) {
				w->stopping = true;
				break;
			}
			due = w->seq[w->k].time_us * 1000;
		} else if (a->iops) {
			due = iow_due_ns(w->k, a->iops);
		} else {
			due = now - w->start_ns;
		}
		if ((w->time_ns && due >= w->time_ns && over) ||
		    (over && now - w->start_ns > due + LATE_NS)) {
			w->stopping = w->deadline_hit = true;
			break;
		}
		if (w->time_ns && due >= w->time_ns) {
			/* nothing more is due before the deadline: wait for it */
			w->next_due_ns = w->start_ns + w->time_ns;
			break;
		}
		if (w->start_ns + due > now) {
			w->next_due_ns = w->start_ns + due;
			break;
		}
		if (w->seq) {
			io.slba = w->seq[w->k].slba;
			io.nlb = w->seq[w->k].nlb;
			io.opcode = (uint8_t)w->seq[w->k].opcode;
		} else if (w->has_retry && !retried) {
			io = w->retry;
			from_retry = retried = true;
		} else {
			iow_gen_next(w->g, &io);
		}
		w->due_rel = due;
		r = submit_one(w, &io, now);
		if (r == -EAGAIN) {
			/*
			 * LBAs locked by an IO in flight (verification): keep this IO for
			 * later and go on with others, so one conflict does not stall the
			 * queue; a second refused IO waits for completions. A replayed
			 * trace keeps its order.
			 */
			if (w->seq)
				break;
			if (from_retry)
				continue;
			if (w->has_retry)
				break;
			w->retry = io;
			w->has_retry = retried = true;
			continue;
		}
		if (from_retry)
			w->has_retry = false;
		if (r < 0) {
			if (r == -ENODEV || w->c->t->dead || nvme_q_stale(w->sq))
				lost(w, NULL);
			else
				host_error(w, IOW_E_SUBMIT, "submitting %s lba %llu count %u: %s",
					   opname(io.opcode), (unsigned long long)io.slba, io.nlb,
					   nvme_get_error());
			w->abort = true;
			break;
		}
		n++;
	}
	return n;
}

/* One register exchange: the CQ head of what was reaped, the SQ tail of what was posted. */
static int ring(struct iow *w)
{
	return nvme_q_ring(w->sq, w->cq);
}

/* Nothing completed for a while: is the device still there and ready? */
static void check_device(struct iow *w)
{
	struct nvme_transport *t = w->c->t;
	uint64_t csts = 0;
	int r;

	if (t->dead || (t->ops->alive && !t->ops->alive(t)) || nvme_q_stale(w->sq)) {
		lost(w, NULL);
		return;
	}
	r = t->ops->bar_read(t, NVME_REG_CSTS, 4, &csts);
	if (r || t->dead) {
		lost(w, nvme_get_error());
	} else if (csts == 0xffffffff || !(csts & 1) || (csts & 2)) {
		host_error(w, IOW_E_NOT_READY, "the controller is not ready (CSTS = 0x%x%s) with "
			   "%llu IO(s) in flight: it was reset, disabled or failed", (unsigned)csts,
			   csts == 0xffffffff ? ", all ones" : (csts & 2) ? ", fatal status" : "",
			   (unsigned long long)w->in_flight);
		w->abort = true;
	}
}

static void nap(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / NS_PER_S), .tv_nsec = (long)(ns % NS_PER_S) };

	nanosleep(&ts, NULL);
}

/* Nothing happened this iteration: wait a little, cheaply. */
static void idle(struct iow *w, uint64_t now)
{
	uint64_t quiet = now - w->last_progress_ns;

	if (w->in_flight && quiet >= CHECK_NS && now - w->last_check_ns >= CHECK_NS) {
		w->last_check_ns = now;
		check_device(w);
		return;
	}
	if (!w->in_flight && !w->stopping && w->next_due_ns > now) {
		uint64_t wait = w->next_due_ns - now;

		/* sleep towards the next due IO in slices (the stop flag is read between) */
		if (wait > 200000)
			nap(wait - 100000 < NS_PER_MS ? wait - 100000 : NS_PER_MS);
		else
			nvme_cpu_relax();
		return;
	}
	/* spin while a completion is likely soon, then give the CPU away (QEMU needs it) */
	if (quiet < 100000)
		nvme_cpu_relax();
	else if (quiet < 2 * NS_PER_MS)
		sched_yield();
	else
		usleep(50);
}

static void publish(struct iow *w, uint64_t now)
{
	struct iow_shm *s = w->s;

	__atomic_store_n(&s->elapsed_us, (now - w->start_ns) / 1000, __ATOMIC_RELAXED);
	__atomic_store_n(&s->submitted, w->k, __ATOMIC_RELAXED);
	__atomic_store_n(&s->completed, w->completed, __ATOMIC_RELAXED);
	__atomic_store_n(&s->in_flight, w->in_flight, __ATOMIC_RELAXED);
	__atomic_store_n(&s->lat_sum_ns, w->lat_sum, __ATOMIC_RELAXED);
	__atomic_store_n(&s->lat_max_ns, w->lat_max, __ATOMIC_RELAXED);
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void run(struct iow *w)
{
	struct nvme_cpl cpl[256];
	uint64_t cpu0 = thread_cpu_ns(), now;

	w->start_ns = now = nvme_now_ns();
	w->last_progress_ns = w->last_check_ns = w->last_done_ns = now;
	w->time_ns = w->a->time_ms * NS_PER_MS;
	if (w->time_ns) {
		w->guard_after_ns = w->a->guard_ms ? w->a->guard_ms * NS_PER_MS : GUARD_NS;
		w->guard_ns = w->start_ns + w->time_ns + w->guard_after_ns;
		w->ips_last = (uint32_t)((w->time_ns + NS_PER_S - 1) / NS_PER_S - 1);
	}
	__atomic_store_n(&w->s->state, IOW_ST_RUNNING, __ATOMIC_RELEASE);
	for (;;) {
		uint32_t stop = __atomic_load_n(&w->s->stop, __ATOMIC_ACQUIRE);
		unsigned submitted = 0;
		int n;

		if (stop >= IOW_STOP_NOW || __atomic_load_n(&w->sq->priv, __ATOMIC_ACQUIRE) == 2) {
			host_error(w, IOW_E_TERMINATED, "terminated with %llu IO(s) in flight",
				   (unsigned long long)w->in_flight);
			break;
		}
		if (stop == IOW_STOP_DRAIN)
			w->stopping = true;
		/* an FLR, hot reset or power cycle of the function: the queues are gone */
		if (nvme_q_stale(w->sq)) {
			lost(w, NULL);
			break;
		}
		n = nvme_cq_process(w->cq, cpl, ARRAY_SIZE(cpl));
		now = nvme_now_ns();
		if (n < 0) {
			host_error(w, IOW_E_TERMINATED, "%s", nvme_get_error());
			break;
		}
		for (int i = 0; i < n; i++)
			complete(w, &cpl[i], now);
		if (w->abort)
			break;
		if (w->guard_ns && now >= w->guard_ns) {
			host_error(w, IOW_E_GUARD, "ioworker timeout: still running %llu ms after its "
				   "time of %llu ms, %llu IO(s) in flight",
				   (unsigned long long)(w->guard_after_ns / NS_PER_MS),
				   (unsigned long long)w->a->time_ms,
				   (unsigned long long)w->in_flight);
			break;
		}
		if (!w->stopping)
			submitted = submit_due(w, now);
		if (ring(w)) {
			lost(w, nvme_get_error());
			break;
		}
		if (w->abort)
			break;
		publish(w, now);
		if (w->stopping && !w->in_flight)
			break;
		if (w->stopping && __atomic_load_n(&w->s->state, __ATOMIC_RELAXED) != IOW_ST_DRAINING)
			__atomic_store_n(&w->s->state, IOW_ST_DRAINING, __ATOMIC_RELEASE);
		if (n || submitted) {
			w->last_progress_ns = now;
			continue;
		}
		idle(w, now);
	}
	now = w->completed ? w->last_done_ns : nvme_now_ns();
	if (w->deadline_hit && now < w->start_ns + w->time_ns)
		now = w->start_ns + w->time_ns; /* it ran until its time was up */
	publish(w, now);
	w->s->cpu_ns = thread_cpu_ns() - cpu0;
	for (uint32_t i = 0; i < w->a->npct && i < IOW_MAX_PCT; i++)
		w->s->pct_us[i] = iow_hist_percentile_max(w->hist, w->completed, w->a->pct[i],
							  (w->lat_max + 500) / 1000);
}

static int fail(struct iow_shm *s, int code, int err)
{
	if (s) {
		snprintf(s->message, sizeof(s->message), "%s", nvme_get_error());
		s->host_error = code;
		__atomic_store_n(&s->state, IOW_ST_DONE, __ATOMIC_RELEASE);
	}
	return err;
}

static int check_seq(const struct iow_args *a, const uint8_t *seq, uint32_t seq_len)
{
	const struct iow_seq *q = (const void *)seq;

	if (!a->nseq || !seq || (uintptr_t)seq % 8 || seq_len / sizeof(*q) < a->nseq)
		return nvme_set_error(-EINVAL, "the IO sequence needs %u records of %zu bytes, "
				      "8-byte aligned (%u bytes given)", a->nseq, sizeof(*q), seq_len);
	for (uint32_t i = 0; i < a->nseq; i++) {
		if (q[i].opcode > 255 || (q[i].opcode != 0 && (q[i].nlb < 1 || q[i].nlb > a->max_lbas)))
			return nvme_set_error(-EINVAL, "IO sequence record %u: opcode %u count %u "
					      "(allowed opcodes 0..255, count 1..%u)", i,
					      q[i].opcode, q[i].nlb, a->max_lbas);
		if (i && q[i].time_us < q[i - 1].time_us)
			return nvme_set_error(-EINVAL, "IO sequence record %u: time %llu us is before "
					      "the previous record's", i,
					      (unsigned long long)q[i].time_us);
	}
	return 0;
}

int nvme_ioworker_run(uint32_t sqh, uint32_t cqh, const uint8_t *args, uint32_t args_len,
		      const uint8_t *seq, uint32_t seq_len, uint8_t *shm, uint32_t shm_len)
{
	const struct iow_args *a = (const void *)args;
	struct iow_shm *s = (void *)shm;
	struct iow w = { 0 };
	struct nvme_iow_layout l;
	uint64_t bytes;
	int owned = 0, r;

	if (!shm || shm_len < sizeof(*s) || (uintptr_t)shm % 8)
		return nvme_set_error(-EINVAL, "ioworker: shared memory of %u bytes at %p: need %zu "
				      "bytes, 8-byte aligned", shm_len, (void *)shm, sizeof(*s));
	if (s->magic != IOW_SHM_MAGIC)
		return nvme_set_error(-EINVAL, "ioworker: shared memory not initialized");
	if (!args || args_len != sizeof(*a) || (uintptr_t)args % 8 || a->magic != IOW_ARGS_MAGIC ||
	    a->size != sizeof(*a))
		return fail(s, IOW_E_INIT, nvme_set_error(-EINVAL, "ioworker: arguments of %u bytes: "
							  "expected %zu with the right magic "
							  "(library and TypeScript out of step?)",
							  args_len, sizeof(*a)));
	if (a->ips_n > MAX_IPS || a->cmdlog_n > MAX_CMDLOG)
		return fail(s, IOW_E_INIT, nvme_set_error(-EINVAL, "ioworker: too many outputs"));
	iow_shm_layout(a->ips_n, a->cmdlog_n, &l);
	if (shm_len < l.total)
		return fail(s, IOW_E_INIT, nvme_set_error(-EINVAL, "ioworker: shared memory of %u "
							  "bytes, %u needed", shm_len, l.total));
	if (a->qdepth < 2 || a->qdepth > IOW_MAX_QDEPTH)
		return fail(s, IOW_E_INIT, nvme_set_error(-EINVAL, "qdepth %u: allowed 2..%u",
							  a->qdepth, IOW_MAX_QDEPTH));
	if (!a->lba_size || a->lba_size % 512 || !a->max_lbas ||
	    (uint64_t)a->max_lbas * a->lba_size > (64ull << 20))
		return fail(s, IOW_E_INIT, nvme_set_error(-EINVAL, "ioworker: LBA size %u, largest IO "
							  "%u LBAs", a->lba_size, a->max_lbas));
	if ((a->flags & IOW_F_SEQUENCE) && (r = check_seq(a, seq, seq_len)))
		return fail(s, IOW_E_INIT, r);

	w.a = a;
	w.s = s;
	w.ips = (uint32_t *)(shm + l.ips_off);
	w.ring = (struct iow_rec *)(shm + l.cmdlog_off);
	w.hist = (uint64_t *)(shm + l.hist_off);
	w.seq = a->flags & IOW_F_SEQUENCE ? (const void *)seq : NULL;
	w.sq = nvme_handle_get(sqh, NVME_H_SQ);
	w.cq = nvme_handle_get(cqh, NVME_H_CQ);
	if (!w.sq || !w.cq || w.sq->cq != w.cq)
		return fail(s, IOW_E_INIT, nvme_set_error(-EBADF, "ioworker: the queue pair is closed "
							  "or its SQ and CQ do not belong "
							  "together"));
	w.c = w.sq->ctrl;
	if (a->qdepth > w.sq->size)
		return fail(s, IOW_E_INIT, nvme_set_error(-EINVAL, "qdepth %u is above the %u entries "
							  "of queue %u", a->qdepth, w.sq->size,
							  w.sq->qid));
	if (!__atomic_compare_exchange_n(&w.sq->priv, &owned, 1, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return fail(s, IOW_E_INIT, nvme_set_error(-EBUSY, "queue %u is already driven by "
							  "another ioworker", w.sq->qid));
	__atomic_store_n(&w.cq->priv, 1, __ATOMIC_RELEASE);
	if (w.sq->outstanding || w.sq->timedout) {
		r = nvme_set_error(-EBUSY, "queue %u has %u command(s) in flight: an ioworker needs "
				   "an idle queue pair", w.sq->qid, w.sq->outstanding + w.sq->timedout);
		fail(s, IOW_E_INIT, r);
		goto out_release;
	}

	w.g = malloc(sizeof(*w.g));
	if (!w.g) {
		r = fail(s, IOW_E_NOMEM, nvme_set_error(-ENOMEM, "out of memory"));
		goto out_release;
	}
	if ((r = iow_gen_init(w.g, a))) {
		fail(s, IOW_E_INIT, r);
		goto out_free;
	}
	w.nctx = a->qdepth - 1;
	w.slot_bytes = ALIGN_UP((uint64_t)a->max_lbas * a->lba_size, 4096);
	bytes = w.slot_bytes * w.nctx;
	if (bytes > IOW_MAX_BUF_BYTES) {
		r = fail(s, IOW_E_NOMEM, nvme_set_error(-ENOMEM, "ioworker: %u IOs of up to %llu "
						       "bytes in flight need %llu MiB of data "
						       "buffers, at most %llu MiB allowed: lower "
						       "qdepth or ioSize", w.nctx,
						       (unsigned long long)w.slot_bytes,
						       (unsigned long long)(bytes >> 20),
						       IOW_MAX_BUF_BYTES >> 20));
		goto out_free;
	}
	w.ctx = calloc(w.nctx, sizeof(*w.ctx));
	w.free_stack = calloc(w.nctx, sizeof(*w.free_stack));
	w.wbuf = nvme_buf_new(bytes);
	w.rslots = nvme_verify_on(w.c, a->nsid);
	w.rbuf = w.wbuf ? nvme_buf_new(w.rslots ? bytes : w.slot_bytes) : NULL;
	w.dsm = w.rbuf ? nvme_buf_new((uint64_t)w.nctx * 16) : NULL;
	if (!w.ctx || !w.free_stack || !w.dsm) {
		char why[160];

		snprintf(why, sizeof(why), "%s", nvme_get_error());
		r = fail(s, IOW_E_NOMEM, nvme_set_error(-ENOMEM, "ioworker: no memory for %llu MiB "
						       "of data buffers: %s",
						       (unsigned long long)(bytes >> 20), why));
		goto out_free;
	}
	{
		struct iow_rng fill_rng;

		iow_rng_seed(&fill_rng, a->seed ^ 0x5eedda7a);
		if (iow_fill(w.wbuf->vaddr, bytes, a->lba_size, a->ptype, a->pvalue, &fill_rng)) {
			r = fail(s, IOW_E_INIT, nvme_set_error(-EINVAL, "ptype 0x%x pvalue %u: "
							       "unknown pattern", a->ptype,
							       a->pvalue));
			goto out_free;
		}
	}
	for (uint32_t i = 0; i < w.nctx; i++)
		w.free_stack[i] = (uint16_t)(w.nctx - 1 - i);
	w.nfree = w.nctx;

	run(&w);
	r = 0;

out_free:
	/* commands still in flight hold their own references to the buffers */
	if (w.wbuf)
		nvme_buf_put(w.wbuf);
	if (w.rbuf)
		nvme_buf_put(w.rbuf);
	if (w.dsm)
		nvme_buf_put(w.dsm);
	free(w.ctx);
	free(w.free_stack);
	free(w.g);
out_release:
	__atomic_store_n(&s->state, IOW_ST_DONE, __ATOMIC_RELEASE);
	/* let go of the queues last: nvme_sq_free() may be waiting to free them */
	__atomic_store_n(&w.cq->priv, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&w.sq->priv, 0, __ATOMIC_RELEASE);
	return r;
}

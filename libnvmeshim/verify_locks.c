/* SPDX-License-Identifier: MIT */
/*
 * verify_locks.c - lock maps: LBA ranges of a namespace and granules of host memory, one bit each, taken and dropped as intervals (see verify.h, verify_int.h).
 */
#define _GNU_SOURCE

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "crc32c.h"
#include "ctrl.h"
#include "dma.h"
#include "handle.h"
#include "nvme_opcodes.h"
#include "queue.h"
#include "util.h"
#include "verify.h"
#include "verify_int.h"

/* the host memory lock map: one bit per 512-byte granule of the DMA arena */
static struct nvme_vlocks host_locks;
static pthread_once_t host_once = PTHREAD_ONCE_INIT;
static int host_ok;

/* --- lock maps ---------------------------------------------------------------------- */

int nvme_vlocks_init(struct nvme_vlocks *m, uint32_t bits)
{
	memset(m, 0, sizeof(*m));
	if (bits < LOCK_MIN_BITS || bits > 40)
		return -EINVAL;
	m->bytes = ALIGN_UP((1ull << bits) / 8, 4096);
	m->w = map_zero_hot(m->bytes, 1ull << 20);
	if (!m->w)
		return -ENOMEM;
	m->bits = bits;
	return 0;
}

void nvme_vlocks_fini(struct nvme_vlocks *m)
{
	if (m->w)
		munmap(m->w, m->bytes);
	memset(m, 0, sizeof(*m));
}

unsigned nvme_vlocks_ival(const struct nvme_vlocks *m, uint64_t start, uint64_t n,
			  struct nvme_vival out[2])
{
	uint64_t size = 1ull << m->bits, s;

	if (!n)
		return 0;
	if (n >= size) {
		out[0] = (struct nvme_vival){ 0, (uint32_t)size };
		return 1;
	}
	s = start & (size - 1);
	if (s + n <= size) {
		out[0] = (struct nvme_vival){ (uint32_t)s, (uint32_t)n };
		return 1;
	}
	out[0] = (struct nvme_vival){ (uint32_t)s, (uint32_t)(size - s) };
	out[1] = (struct nvme_vival){ 0, (uint32_t)(s + n - size) };
	return 2;
}

static int ival_cmp(const void *a, const void *b)
{
	const struct nvme_vival *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

unsigned nvme_vlocks_merge(struct nvme_vival *iv, unsigned n)
{
	unsigned out = 0;

	if (n < 2)
		return n;
	qsort(iv, n, sizeof(*iv), ival_cmp);
	for (unsigned i = 1; i < n; i++) {
		uint64_t end = (uint64_t)iv[out].start + iv[out].count;

		if (iv[i].start <= end) {
			uint64_t e2 = (uint64_t)iv[i].start + iv[i].count;

			if (e2 > end)
				iv[out].count = (uint32_t)(e2 - iv[out].start);
		} else {
			iv[++out] = iv[i];
		}
	}
	return out + 1;
}

/* mask of the bits of [a, b) inside word @j */
static inline uint64_t word_mask(uint64_t a, uint64_t b, uint64_t j)
{
	uint64_t lo = a > j * 64 ? a - j * 64 : 0;
	uint64_t hi = b < (j + 1) * 64 ? b - j * 64 : 64;

	return hi - lo == 64 ? ~0ull : ((1ull << (hi - lo)) - 1) << lo;
}

static void drop_ival(struct nvme_vlocks *m, uint64_t a, uint64_t b)
{
	for (uint64_t j = a / 64; j * 64 < b; j++)
		__atomic_and_fetch(&m->w[j], ~word_mask(a, b, j), __ATOMIC_RELEASE);
}

int nvme_vlocks_try(struct nvme_vlocks *m, const struct nvme_vival *iv, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t a = iv[i].start, b = a + iv[i].count;

		for (uint64_t j = a / 64; j * 64 < b; j++) {
			uint64_t mask = word_mask(a, b, j);
			uint64_t old = __atomic_load_n(&m->w[j], __ATOMIC_RELAXED);

			do {
				if (old & mask) {
					/* undo: this interval up to word j, the whole earlier ones */
					if (j * 64 > a)
						drop_ival(m, a, j * 64);
					nvme_vlocks_drop(m, iv, i);
					return -EAGAIN;
				}
			} while (!__atomic_compare_exchange_n(&m->w[j], &old, old | mask, true,
							      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
		}
	}
	return 0;
}

void nvme_vlocks_drop(struct nvme_vlocks *m, const struct nvme_vival *iv, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (iv[i].count)
			drop_ival(m, iv[i].start, (uint64_t)iv[i].start + iv[i].count);
}

uint64_t nvme_vlocks_count(const struct nvme_vlocks *m)
{
	uint64_t n = 0;

	for (uint64_t j = 0; j < ((1ull << m->bits) + 63) / 64; j++)
		n += (uint64_t)__builtin_popcountll(__atomic_load_n(&m->w[j], __ATOMIC_RELAXED));
	return n;
}

static void host_locks_init(void)
{
	struct nvme_arena *a = nvme_arena_get();
	uint64_t granules;

	if (!a)
		return;
	granules = a->size / NVME_VT_HOST_GRANULE;
	host_ok = !nvme_vlocks_init(&host_locks, log2_ceil(granules) < LOCK_MIN_BITS ?
						  LOCK_MIN_BITS : log2_ceil(granules));
}

struct nvme_vlocks *nvme_vhost_locks(void)
{
	pthread_once(&host_once, host_locks_init);
	return host_ok ? &host_locks : NULL;
}

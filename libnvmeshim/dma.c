/* SPDX-License-Identifier: MIT */
/*
 * dma.c - the shared-memory DMA arena and its extent allocator.
 */
#define _GNU_SOURCE

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/memfd.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dma.h"
#include "util.h"

int dma_alloc_init(struct dma_alloc *a, uint64_t base, uint64_t end)
{
	memset(a, 0, sizeof(*a));
	if (end <= base)
		return -EINVAL;
	a->cap = 64;
	a->free = calloc(a->cap, sizeof(*a->free));
	if (!a->free)
		return -ENOMEM;
	a->free[0] = (struct dma_extent){ base, end - base };
	a->nfree = 1;
	a->base = base;
	a->end = end;
	return 0;
}

void dma_alloc_fini(struct dma_alloc *a)
{
	free(a->free);
	memset(a, 0, sizeof(*a));
}

static int insert_at(struct dma_alloc *a, unsigned i, struct dma_extent e)
{
	if (a->nfree == a->cap) {
		struct dma_extent *n = realloc(a->free, 2 * a->cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		a->free = n;
		a->cap *= 2;
	}
	memmove(&a->free[i + 1], &a->free[i], (a->nfree - i) * sizeof(*a->free));
	a->free[i] = e;
	a->nfree++;
	return 0;
}

static void remove_at(struct dma_alloc *a, unsigned i)
{
	memmove(&a->free[i], &a->free[i + 1], (a->nfree - i - 1) * sizeof(*a->free));
	a->nfree--;
}

uint64_t dma_alloc_get(struct dma_alloc *a, uint64_t len, uint64_t align)
{
	if (len == 0 || align == 0 || (align & (align - 1)))
		return UINT64_MAX;
	for (unsigned i = 0; i < a->nfree; i++) {
		struct dma_extent *e = &a->free[i];
		uint64_t start = ALIGN_UP(e->start, align);
		uint64_t end = e->start + e->len;

		if (start < e->start || start > end || end - start < len)
			continue;
		/* split off the head gap and the tail rest */
		uint64_t head = start - e->start, tail = end - (start + len);

		if (head && tail) {
			/* insert first: on -ENOMEM the extent must stay whole */
			if (insert_at(a, i + 1, (struct dma_extent){ start + len, tail }))
				return UINT64_MAX;
			a->free[i].len = head; /* not e: insert_at() may move the array */
		} else if (head) {
			e->len = head;
		} else if (tail) {
			e->start = start + len;
			e->len = tail;
		} else {
			remove_at(a, i);
		}
		a->used += len;
		return start;
	}
	return UINT64_MAX;
}

int dma_alloc_put(struct dma_alloc *a, uint64_t off, uint64_t len)
{
	unsigned i;

	if (len == 0 || off < a->base || off + len > a->end || off + len < off)
		return -EINVAL;
	for (i = 0; i < a->nfree && a->free[i].start < off; i++)
		;
	/* overlap with a free neighbour means a double free */
	if (i > 0 && a->free[i - 1].start + a->free[i - 1].len > off)
		return -EINVAL;
	if (i < a->nfree && off + len > a->free[i].start)
		return -EINVAL;

	bool merge_prev = i > 0 && a->free[i - 1].start + a->free[i - 1].len == off;
	bool merge_next = i < a->nfree && off + len == a->free[i].start;

	if (merge_prev && merge_next) {
		a->free[i - 1].len += len + a->free[i].len;
		remove_at(a, i);
	} else if (merge_prev) {
		a->free[i - 1].len += len;
	} else if (merge_next) {
		a->free[i].start = off;
		a->free[i].len += len;
	} else if (insert_at(a, i, (struct dma_extent){ off, len })) {
		return -ENOMEM;
	}
	a->used -= len;
	return 0;
}

int dma_alloc_reserve(struct dma_alloc *a, uint64_t off, uint64_t len, uint64_t *busy)
{
	uint64_t end = off + len < off ? UINT64_MAX : off + len, taken = 0;

	off = off > a->base ? off : a->base;
	end = end < a->end ? end : a->end;
	*busy = 0;
	if (off >= end)
		return 0;
	for (unsigned i = 0; i < a->nfree;) {
		struct dma_extent *e = &a->free[i];
		uint64_t es = e->start, ee = e->start + e->len;
		uint64_t s = es > off ? es : off, t = ee < end ? ee : end;

		if (s >= t) {
			if (es >= end)
				break;
			i++;
			continue;
		}
		if (s > es && t < ee) {
			/* the middle of a free extent: split it (insert first, as in get) */
			if (insert_at(a, i + 1, (struct dma_extent){ t, ee - t }))
				return -ENOMEM;
			a->free[i].len = s - es;
			i += 2;
		} else if (s > es) {
			e->len = s - es;
			i++;
		} else if (t < ee) {
			e->start = t;
			e->len = ee - t;
			i++;
		} else {
			remove_at(a, i);
		}
		taken += t - s;
	}
	a->reserved += taken;
	*busy = end - off - taken;
	return 0;
}

static struct nvme_arena arena = { .fd = -1 };
static struct dma_alloc heap;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

struct nvme_arena *nvme_arena_get(void)
{
	struct nvme_arena *ret = &arena;
	uint64_t mb = 1024;
	const char *env = getenv("DENVME_DMA_MB");
	bool huge;

	pthread_mutex_lock(&lock);
	if (arena.base)
		goto out;
	if (env && *env) {
		char *end;

		mb = strtoull(env, &end, 10);
		if (*end || mb < 16 || mb > 2816) {
			nvme_set_error(-EINVAL, "DENVME_DMA_MB=%s: allowed 16..2816 (MiB)", env);
			ret = NULL;
			goto out;
		}
	}
	/* DENVME_DMA_HUGEPAGES=1: 2 MiB pages (fewer IOMMU and TLB entries), reserved beforehand */
	env = getenv("DENVME_DMA_HUGEPAGES");
	huge = env && *env && strcmp(env, "0");
	if (huge && (mb & 1)) {
		nvme_set_error(-EINVAL, "DENVME_DMA_MB=%llu: with DENVME_DMA_HUGEPAGES the arena "
			       "is made of 2 MiB pages, give an even number",
			       (unsigned long long)mb);
		ret = NULL;
		goto out;
	}
	arena.size = mb << 20;
	arena.huge = huge;
	arena.fd = memfd_create("denvme-dma", MFD_CLOEXEC | (huge ? MFD_HUGETLB | MFD_HUGE_2MB : 0));
	if (arena.fd < 0 || ftruncate(arena.fd, (off_t)arena.size)) {
		nvme_set_error(-errno, "cannot create the DMA arena (%smemfd of %llu MiB): %s",
			       huge ? "hugetlb " : "", (unsigned long long)mb, strerror(errno));
		if (arena.fd >= 0)
			close(arena.fd);
		arena.fd = -1;
		ret = NULL;
		goto out;
	}
	arena.base = mmap(NULL, arena.size, PROT_READ | PROT_WRITE, MAP_SHARED, arena.fd, 0);
	if (arena.base == MAP_FAILED && huge)
		nvme_set_error(-errno, "cannot map the DMA arena of %llu MiB in 2 MiB hugepages: %s "
			       "(reserve them first: echo %llu > /proc/sys/vm/nr_hugepages, or "
			       "unset DENVME_DMA_HUGEPAGES)", (unsigned long long)mb,
			       strerror(errno), (unsigned long long)mb / 2);
	else if (arena.base == MAP_FAILED)
		nvme_set_error(-errno, "cannot map the DMA arena: %s", strerror(errno));
	if (arena.base == MAP_FAILED) {
		close(arena.fd);
		arena.fd = -1;
		arena.base = NULL;
		ret = NULL;
		goto out;
	}
	if (dma_alloc_init(&heap, NVME_DMA_FIRST, arena.size)) {
		munmap(arena.base, arena.size);
		close(arena.fd);
		arena.base = NULL;
		arena.fd = -1;
		nvme_set_error(-ENOMEM, "out of memory");
		ret = NULL;
	}
out:
	pthread_mutex_unlock(&lock);
	return ret;
}

void *nvme_dma_alloc(uint64_t len, uint64_t *iova)
{
	uint64_t off;

	if (!nvme_arena_get())
		return NULL;
	len = ALIGN_UP(len ? len : 1, NVME_DMA_ALIGN);
	pthread_mutex_lock(&lock);
	off = dma_alloc_get(&heap, len, NVME_DMA_ALIGN);
	pthread_mutex_unlock(&lock);
	if (off == UINT64_MAX) {
		nvme_set_error(-ENOMEM,
			       "DMA memory exhausted: %llu bytes requested, %llu of %llu MiB in use "
			       "(raise DENVME_DMA_MB)",
			       (unsigned long long)len, (unsigned long long)(heap.used >> 20),
			       (unsigned long long)(arena.size >> 20));
		return NULL;
	}
	memset(arena.base + off, 0, len);
	*iova = off;
	return arena.base + off;
}

void nvme_dma_free(void *vaddr, uint64_t len)
{
	if (!vaddr)
		return;
	len = ALIGN_UP(len ? len : 1, NVME_DMA_ALIGN);
	pthread_mutex_lock(&lock);
	/*
	 * A large freed range gives its pages back (the next user gets zeroes
	 * anyway), so the arena does not stay resident at its high-water mark.
	 * Never while an IOMMU maps the arena: the device would keep the old
	 * pinned pages while the CPU got new ones.
	 */
	if (len >= NVME_DMA_RELEASE_MIN && !arena.pinned && !arena.huge)
		fallocate(arena.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			  (off_t)((uint8_t *)vaddr - arena.base), (off_t)len);
	dma_alloc_put(&heap, (uint64_t)((uint8_t *)vaddr - arena.base), len);
	pthread_mutex_unlock(&lock);
}

uint64_t nvme_dma_iova(const void *vaddr)
{
	const uint8_t *p = vaddr;

	if (!arena.base || p < arena.base || p >= arena.base + arena.size)
		return UINT64_MAX;
	return (uint64_t)(p - arena.base);
}

void *nvme_dma_vaddr(uint64_t iova, uint64_t len)
{
	if (!arena.base || iova >= arena.size || len > arena.size - iova)
		return NULL;
	return arena.base + iova;
}

uint64_t nvme_dma_used(void)
{
	uint64_t used;

	pthread_mutex_lock(&lock);
	used = heap.used;
	pthread_mutex_unlock(&lock);
	return used;
}

int nvme_dma_reserve(uint64_t iova, uint64_t len, uint64_t *busy)
{
	int r;

	if (!nvme_arena_get())
		return -ENOMEM;
	pthread_mutex_lock(&lock);
	r = dma_alloc_reserve(&heap, iova, len, busy);
	pthread_mutex_unlock(&lock);
	return r;
}

struct nvme_buf *nvme_buf_new(uint64_t size)
{
	struct nvme_buf *b = calloc(1, sizeof(*b));

	if (!b) {
		nvme_set_error(-ENOMEM, "out of memory");
		return NULL;
	}
	b->alloc = ALIGN_UP(size ? size : 1, NVME_DMA_ALIGN);
	b->vaddr = nvme_dma_alloc(b->alloc, &b->iova);
	if (!b->vaddr) {
		free(b);
		return NULL;
	}
	b->size = size;
	b->refs = 1;
	return b;
}

void nvme_buf_get(struct nvme_buf *b)
{
	__atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
}

void nvme_buf_put(struct nvme_buf *b)
{
	if (__atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		nvme_dma_free(b->vaddr, b->alloc);
		free(b);
	}
}

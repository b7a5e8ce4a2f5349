/* SPDX-License-Identifier: MIT */
/*
 * verify_table.c - write stamping and the per-LBA CRC table of a namespace (a sparse tree of leaves in 2 MiB slabs) (see verify.h, verify_int.h).
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

#define LEAF_N (1u << NVME_VT_LEAF_BITS)
#define MID_N (1u << NVME_VT_MID_BITS)
#define MINI_N NVME_VT_MINI_SLOTS
#define LEAF_ALIGN 256u /* leaf addresses keep their index (< MID_N) in a mini slot's low bits */

_Static_assert(MID_N <= LEAF_ALIGN, "a leaf index must fit below the leaf alignment");
_Static_assert(sizeof(struct nvme_vleaf) % LEAF_ALIGN == 0, "leaves are whole alignment units");

/* --- stamping ----------------------------------------------------------------------- */

void nvme_vstamp(uint8_t *data, uint32_t bs, uint64_t lba, uint64_t n, uint64_t token)
{
	for (uint64_t i = 0; i < n; i++, data += bs) {
		put64(data, lba + i);
		put64(data + bs - 8, token + i);
	}
}

/* --- the table -------------------------------------------------------------------------- */

static uint32_t zero_block_crc(uint32_t bs)
{
	static const uint8_t zeros[4096];
	uint32_t crc = 0;

	for (uint32_t done = 0; done < bs; done += sizeof(zeros))
		crc = crc32c(crc, zeros, bs - done < sizeof(zeros) ? bs - done : sizeof(zeros));
	return crc32c_entry(crc);
}

int nvme_vtab_init(struct nvme_vtab *vt, uint32_t nsid, uint32_t lba_size, uint64_t nlba,
		   uint64_t limit, uint32_t flags)
{
	uint32_t bits;
	int r;

	if (lba_size < 512 || lba_size > (1u << 20) || (lba_size & (lba_size - 1)) || !nlba ||
	    nlba > (1ull << 48))
		return -EINVAL;
	if (!limit || limit > nlba)
		limit = nlba;
	if (!vt->slab_lock_init) {
		pthread_mutex_init(&vt->slab_lock, NULL);
		vt->slab_lock_init = true;
	}
	vt->nsid = nsid;
	vt->lba_size = lba_size;
	vt->nlba = nlba;
	vt->limit = limit;
	vt->flags = flags;
	vt->zero_crc = zero_block_crc(lba_size);
	vt->ndir = (limit + (1ull << NVME_VT_DIR_SHIFT) - 1) >> NVME_VT_DIR_SHIFT;
	vt->dir_bytes = ALIGN_UP(vt->ndir * sizeof(*vt->dir), 4096);
	vt->dir = map_zero_hot(vt->dir_bytes, 64ull << 20);
	if (!vt->dir) {
		vt->dir_bytes = 0;
		return -ENOMEM;
	}
	bits = log2_ceil(limit);
	bits = bits < LOCK_MIN_BITS ? LOCK_MIN_BITS : bits > NVME_VT_LOCK_MAX_BITS ?
						    NVME_VT_LOCK_MAX_BITS : bits;
	r = nvme_vlocks_init(&vt->locks, bits);
	if (r) {
		munmap(vt->dir, vt->dir_bytes);
		vt->dir = NULL;
		vt->dir_bytes = 0;
		return r;
	}
	/* a new table starts its statistics afresh */
	vt->leaves = vt->mids = vt->minis = vt->stamped = vt->checked = vt->skipped = 0;
	vt->bad_blocks = vt->bad_cmds = vt->conflicts = vt->alloc_failures = 0;
	return 0;
}

/*
 * Tree nodes come from 2 MiB slabs (transparent huge pages where the kernel
 * allows): a bump pointer instead of malloc, one page fault per 2 MiB instead
 * of one per 4 KiB, memory born zero. Random writes over a huge namespace
 * allocate a leaf and a mid node each; this keeps that off the IO path's
 * profile. Nodes are never freed one by one: a clear or disable unmaps the
 * slabs.
 */
struct nvme_vslab {
	struct nvme_vslab *next;
	uint64_t used; /* bytes handed out, header included (atomic) */
};

#define SLAB_SIZE (2ull << 20)
#define SLAB_HEAD 256ull /* the slab header; leaves start aligned after it */

/* a fresh 2 MiB-aligned slab, faulted in (zeroed by the kernel); NULL when out of memory */
static uint8_t *slab_map(void)
{
	/* over-allocate to align on 2 MiB: a huge page needs it */
	uint8_t *p = mmap(NULL, 2 * SLAB_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint8_t *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (uint8_t *)ALIGN_UP((uintptr_t)p, SLAB_SIZE);
	if (a > p)
		munmap(p, (size_t)(a - p));
	munmap(a + SLAB_SIZE, (size_t)(p + 2 * SLAB_SIZE - (a + SLAB_SIZE)));
#ifdef MADV_HUGEPAGE
	madvise(a, SLAB_SIZE, MADV_HUGEPAGE);
#endif
#ifdef MADV_POPULATE_WRITE
	/* all of it now, in one call: cheaper than a fault per 4 KiB when no huge page is free */
	if (madvise(a, SLAB_SIZE, MADV_POPULATE_WRITE) == 0)
		return a;
#endif
	for (uint64_t o = 0; o < SLAB_SIZE; o += 4096)
		a[o] = 0;
	return a;
}

/*
 * Spare slabs, mapped and faulted in ahead of need by a thread of their own:
 * the kernel zeroing 2 MiB is most of what a new slab costs, and random
 * writes over a large namespace need a new one every few thousand IOs. The IO
 * path takes a ready slab (a pointer under an uncontended mutex) and wakes the
 * filler; when none is ready (the filler fell behind, or it could not start)
 * it maps one itself. The spares are shared by every table of the process.
 */
#define SPARE_SLABS 4u

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	uint8_t *slab[SPARE_SLABS];
	unsigned n;
	bool started, failed;
} spare = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER };

static void *spare_filler(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&spare.lock);
	for (;;) {
		uint8_t *a;

		while (spare.n >= SPARE_SLABS)
			pthread_cond_wait(&spare.wake, &spare.lock);
		pthread_mutex_unlock(&spare.lock);
		a = slab_map();
		pthread_mutex_lock(&spare.lock);
		if (!a) {
			/* out of memory: the IO path maps (and fails) on its own until woken again */
			pthread_cond_wait(&spare.wake, &spare.lock);
			continue;
		}
		spare.slab[spare.n++] = a;
	}
	return NULL;
}

static uint8_t *spare_take(void)
{
	uint8_t *a = NULL;

	pthread_mutex_lock(&spare.lock);
	if (!spare.started && !spare.failed) {
		pthread_attr_t at;
		pthread_t th;

		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&at, 64 << 10);
		if (pthread_create(&th, &at, spare_filler, NULL) == 0) {
			spare.started = true;
			pthread_setname_np(th, "nvme-vslab");
		} else {
			spare.failed = true;
		}
		pthread_attr_destroy(&at);
	}
	if (spare.n)
		a = spare.slab[--spare.n];
	pthread_cond_signal(&spare.wake);
	pthread_mutex_unlock(&spare.lock);
	return a;
}

static struct nvme_vslab *slab_new(void)
{
	uint8_t *a = spare_take();
	struct nvme_vslab *s;

	if (!a && !(a = slab_map()))
		return NULL;
	s = (struct nvme_vslab *)a;
	s->next = NULL;
	s->used = SLAB_HEAD;
	return s;
}

/*
 * @size bytes of zeroed node memory aligned to @align (a power of two), NULL
 * when out of memory. Leaves (@kind 0, 256 B aligned) and the other nodes
 * (@kind 1) come from slabs of their own, so no alignment padding is wasted.
 */
static void *node_alloc(struct nvme_vtab *vt, unsigned kind, uint64_t size, uint64_t align)
{
	for (;;) {
		struct nvme_vslab *s = __atomic_load_n(&vt->slab[kind], __ATOMIC_ACQUIRE);

		if (s) {
			uint64_t old = __atomic_load_n(&s->used, __ATOMIC_RELAXED), at;

			do {
				at = ALIGN_UP(old, align);
				if (at + size > SLAB_SIZE)
					break;
			} while (!__atomic_compare_exchange_n(&s->used, &old, at + size, true,
							      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
			if (at + size <= SLAB_SIZE)
				return (uint8_t *)s + at;
		}
		pthread_mutex_lock(&vt->slab_lock);
		if (__atomic_load_n(&vt->slab[kind], __ATOMIC_ACQUIRE) == s) {
			struct nvme_vslab *n = slab_new();

			if (!n) {
				pthread_mutex_unlock(&vt->slab_lock);
				return NULL;
			}
			n->next = s;
			__atomic_add_fetch(&vt->slab_bytes, SLAB_SIZE, __ATOMIC_RELAXED);
			__atomic_store_n(&vt->slab[kind], n, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&vt->slab_lock);
	}
}

static void slabs_free(struct nvme_vtab *vt)
{
	for (unsigned kind = 0; kind < 2; kind++) {
		struct nvme_vslab *s = vt->slab[kind];

		while (s) {
			struct nvme_vslab *next = s->next;

			munmap(s, SLAB_SIZE);
			s = next;
		}
		vt->slab[kind] = NULL;
	}
	vt->slab_bytes = 0;
}

/* free (or zero in place) every node; the directory itself stays mapped */
static void free_nodes(struct nvme_vtab *vt, bool exclusive)
{
	if (exclusive) {
		/* the nodes go with their slabs; the directory's pages read as zero again */
		slabs_free(vt);
		/* a small directory stays faulted in (map_zero_hot()): zeroed, not dropped */
		if (vt->dir_bytes <= (64ull << 20))
			memset(vt->dir, 0, vt->dir_bytes);
		else
			madvise(vt->dir, vt->dir_bytes, MADV_DONTNEED);
		__atomic_store_n(&vt->leaves, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&vt->mids, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&vt->minis, 0, __ATOMIC_RELAXED);
		return;
	}
	for (uint64_t d = 0; d < vt->ndir; d++) {
		uintptr_t e = __atomic_load_n(&vt->dir[d], __ATOMIC_ACQUIRE);

		for (unsigned l = 0; e && l < (e & 1 ? MINI_N : MID_N); l++) {
			struct nvme_vleaf *leaf;

			if (e & 1)
				leaf = (struct nvme_vleaf *)(uintptr_t)(__atomic_load_n(
					&((struct nvme_vmini *)(e - 1))->slot[l], __ATOMIC_ACQUIRE) &
					~(uint64_t)(LEAF_ALIGN - 1));
			else
				leaf = __atomic_load_n(&((struct nvme_vmid *)e)->leaf[l],
						       __ATOMIC_ACQUIRE);
			if (!leaf)
				continue;
			for (unsigned i = 0; i < LEAF_N; i++)
				__atomic_store_n(&leaf->e[i], NVME_VT_NEVER, __ATOMIC_RELAXED);
		}
	}
}

void nvme_vtab_fini(struct nvme_vtab *vt)
{
	if (vt->dir) {
		free_nodes(vt, true);
		munmap(vt->dir, vt->dir_bytes);
	}
	slabs_free(vt);
	vt->dir = NULL;
	vt->dir_bytes = 0;
	vt->ndir = 0;
	nvme_vlocks_fini(&vt->locks);
}

void nvme_vtab_clear(struct nvme_vtab *vt, bool exclusive)
{
	__atomic_add_fetch(&vt->epoch, 1, __ATOMIC_SEQ_CST);
	if (vt->dir)
		free_nodes(vt, exclusive);
}

/* the leaf holding @lba (< limit); allocated when @create */
static struct nvme_vleaf *leaf_of(struct nvme_vtab *vt, uint64_t lba, bool create)
{
	uintptr_t *dp = &vt->dir[lba >> NVME_VT_DIR_SHIFT];
	unsigned li = (lba >> NVME_VT_LEAF_BITS) & (MID_N - 1);
	struct nvme_vleaf *fresh = NULL; /* allocated, not installed yet */

	for (;;) {
		uintptr_t e = __atomic_load_n(dp, __ATOMIC_ACQUIRE), expected = 0;

		if (e & 1) {
			/* a mini node: look for the leaf among its slots */
			struct nvme_vmini *m = (struct nvme_vmini *)(e - 1);
			struct nvme_vmid *mid;
			unsigned i;

			for (i = 0; i < MINI_N; i++) {
				uint64_t sl = __atomic_load_n(&m->slot[i], __ATOMIC_ACQUIRE);

				if (!sl)
					break;
				if ((sl & (LEAF_ALIGN - 1)) == li)
					return (struct nvme_vleaf *)(uintptr_t)(sl - li);
			}
			if (!create)
				return NULL;
			if (i < MINI_N) {
				uint64_t none = 0;

				if (!fresh && !(fresh = node_alloc(vt, 0, sizeof(*fresh), LEAF_ALIGN)))
					break;
				if (__atomic_compare_exchange_n(&m->slot[i], &none,
								(uint64_t)(uintptr_t)fresh | li, false,
								__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
					stat_add(&vt->leaves, 1);
					return fresh;
				}
				continue; /* slot taken meanwhile (maybe by this leaf): look again */
			}
			/* full: slots never empty again, so a mid node takes them all */
			mid = node_alloc(vt, 1, sizeof(*mid), 64);
			if (!mid)
				break;
			for (i = 0; i < MINI_N; i++) {
				uint64_t sl = m->slot[i];

				mid->leaf[sl & (LEAF_ALIGN - 1)] =
					(struct nvme_vleaf *)(uintptr_t)(sl & ~(uint64_t)(LEAF_ALIGN - 1));
			}
			if (__atomic_compare_exchange_n(dp, &e, (uintptr_t)mid, false,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				stat_add(&vt->mids, 1);
			continue; /* (a thread that lost the race leaves its mid unused) */
		}
		if (e) {
			struct nvme_vleaf **lp = &((struct nvme_vmid *)e)->leaf[li];
			struct nvme_vleaf *leaf = __atomic_load_n(lp, __ATOMIC_ACQUIRE);

			if (leaf || !create)
				return leaf;
			if (!fresh && !(fresh = node_alloc(vt, 0, sizeof(*fresh), LEAF_ALIGN)))
				break;
			if (__atomic_compare_exchange_n(lp, &leaf, fresh, false, __ATOMIC_ACQ_REL,
							__ATOMIC_ACQUIRE)) {
				stat_add(&vt->leaves, 1);
				return fresh;
			}
			return leaf; /* another thread was first: this one stays unused */
		}
		if (!create)
			return NULL;
		{
			/* nothing here yet: a mini node with this leaf in its first slot */
			struct nvme_vmini *m = node_alloc(vt, 1, sizeof(*m), 64);

			if (!fresh)
				fresh = node_alloc(vt, 0, sizeof(*fresh), LEAF_ALIGN);
			if (!m || !fresh)
				break;
			m->slot[0] = (uint64_t)(uintptr_t)fresh | li;
			if (__atomic_compare_exchange_n(dp, &expected, (uintptr_t)m | 1, false,
							__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
				stat_add(&vt->minis, 1);
				stat_add(&vt->leaves, 1);
				return fresh;
			}
		}
	}
	return NULL; /* out of memory */
}

/* LBAs from @lba to the end of its leaf, at most @n */
static inline uint64_t leaf_run(uint64_t lba, uint64_t n)
{
	uint64_t left = LEAF_N - (lba & (LEAF_N - 1));

	return n < left ? n : left;
}

uint32_t nvme_vtab_get(struct nvme_vtab *vt, uint64_t lba)
{
	struct nvme_vleaf *leaf;

	if (lba >= vt->limit || !vt->dir)
		return NVME_VT_NEVER;
	leaf = leaf_of(vt, lba, false);
	return leaf ? __atomic_load_n(&leaf->e[lba & (LEAF_N - 1)], __ATOMIC_RELAXED) :
		      NVME_VT_NEVER;
}

int nvme_vtab_set(struct nvme_vtab *vt, uint64_t lba, uint64_t n, uint32_t value)
{
	int r = 0;

	n = nvme_vtab_clip(vt, lba, n);
	while (n) {
		uint64_t run = leaf_run(lba, n);
		struct nvme_vleaf *leaf = leaf_of(vt, lba, value != NVME_VT_NEVER);

		if (leaf) {
			for (uint64_t i = 0; i < run; i++)
				__atomic_store_n(&leaf->e[(lba + i) & (LEAF_N - 1)], value,
						 __ATOMIC_RELAXED);
		} else if (value != NVME_VT_NEVER) {
			stat_add(&vt->alloc_failures, 1);
			r = -ENOMEM; /* absent entries are NVME_VT_NEVER: unchecked, not wrong */
		}
		lba += run;
		n -= run;
	}
	return r;
}

int nvme_vtab_record(struct nvme_vtab *vt, uint64_t lba, uint64_t n, const uint8_t *data)
{
	const uint32_t bs = vt->lba_size;
	int r = 0;

	n = nvme_vtab_clip(vt, lba, n);
	while (n) {
		uint64_t run = leaf_run(lba, n);
		struct nvme_vleaf *leaf = leaf_of(vt, lba, true);

		if (leaf) {
			for (uint64_t i = 0; i < run; i++, data += bs)
				__atomic_store_n(&leaf->e[(lba + i) & (LEAF_N - 1)],
						 crc32c_entry(crc32c(0, data, bs)), __ATOMIC_RELAXED);
		} else {
			stat_add(&vt->alloc_failures, 1);
			data += run * bs;
			r = -ENOMEM;
		}
		lba += run;
		n -= run;
	}
	return r;
}

int nvme_vtab_copy(struct nvme_vtab *vt, uint64_t dst, uint64_t src, uint64_t n)
{
	/* like memmove: backwards when the destination overlaps the source's tail */
	bool back = dst > src && dst < src + n;
	int r = 0;

	if (dst == src)
		return 0;
	for (uint64_t k = 0; k < n; k++) {
		uint64_t i = back ? n - 1 - k : k;

		if (dst + i < vt->limit && nvme_vtab_set(vt, dst + i, 1, nvme_vtab_get(vt, src + i)))
			r = -ENOMEM;
	}
	return r;
}

uint32_t nvme_vtab_check(struct nvme_vtab *vt, uint64_t lba, uint64_t n, const uint8_t *data,
			 struct nvme_verify_report *rep)
{
	const uint32_t bs = vt->lba_size;
	uint64_t checked = 0, skipped = 0;

	memset(rep, 0, sizeof(*rep));
	n = nvme_vtab_clip(vt, lba, n);
	while (n) {
		uint64_t run = leaf_run(lba, n);
		struct nvme_vleaf *leaf = leaf_of(vt, lba, false);

		if (!leaf) {
			skipped += run;
		} else {
			for (uint64_t i = 0; i < run; i++) {
				const uint8_t *b = data + i * bs;
				uint32_t e = __atomic_load_n(&leaf->e[(lba + i) & (LEAF_N - 1)],
							     __ATOMIC_RELAXED);
				uint32_t crc, kind;
				uint64_t stamp, token;

				if (e == NVME_VT_NEVER) {
					skipped++;
					continue;
				}
				checked++;
				crc = crc32c_entry(crc32c(0, b, bs));
				if (crc == e)
					continue;
				stamp = get64(b);
				token = get64(b + bs - 8);
				if (e == NVME_VT_UNC)
					kind = NVME_VERIFY_UNC;
				else if (stamp != lba + i && stamp < vt->nlba && token)
					kind = NVME_VERIFY_LBA; /* a stamped block of another LBA */
				else
					kind = NVME_VERIFY_CRC;
				if (!rep->nbad++) {
					rep->kind = kind;
					rep->lba = lba + i;
					rep->expected = e;
					rep->found = crc;
					rep->found_lba = stamp;
					rep->found_token = token;
				}
				rep->last_lba = lba + i;
				rep->kinds |= 1u << kind;
			}
		}
		data += run * bs;
		lba += run;
		n -= run;
	}
	stat_add(&vt->checked, checked);
	stat_add(&vt->skipped, skipped);
	if (rep->nbad) {
		stat_add(&vt->bad_blocks, rep->nbad);
		stat_add(&vt->bad_cmds, 1);
	}
	return rep->nbad;
}


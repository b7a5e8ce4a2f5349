/* SPDX-License-Identifier: MIT */
/*
 * verify.c - per-LBA CRC tables, LBA and host memory locks, write stamping,
 * and the submission/completion hooks of data verification (see verify.h).
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

#define LEAF_N (1u << NVME_VT_LEAF_BITS)
#define MID_N (1u << NVME_VT_MID_BITS)
#define MINI_N NVME_VT_MINI_SLOTS
#define LEAF_ALIGN 256u /* leaf addresses keep their index (< MID_N) in a mini slot's low bits */

_Static_assert(MID_N <= LEAF_ALIGN, "a leaf index must fit below the leaf alignment");
_Static_assert(sizeof(struct nvme_vleaf) % LEAF_ALIGN == 0, "leaves are whole alignment units");
#define LOCK_MIN_BITS 6u /* one word */

/* the write token: process-wide, so blocks written by any queue or thread differ */
static uint64_t write_token = 1;

/* the host memory lock map: one bit per 512-byte granule of the DMA arena */
static struct nvme_vlocks host_locks;
static pthread_once_t host_once = PTHREAD_ONCE_INIT;
static int host_ok;

static inline uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static inline uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static inline void stat_add(uint64_t *counter, uint64_t n)
{
	if (n)
		__atomic_add_fetch(counter, n, __ATOMIC_RELAXED);
}

static uint32_t log2_ceil(uint64_t n)
{
	uint32_t b = 0;

	while (b < 63 && (1ull << b) < n)
		b++;
	return b;
}

static void *map_zero(uint64_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* --- lock maps ---------------------------------------------------------------------- */

int nvme_vlocks_init(struct nvme_vlocks *m, uint32_t bits)
{
	memset(m, 0, sizeof(*m));
	if (bits < LOCK_MIN_BITS || bits > 40)
		return -EINVAL;
	m->bytes = ALIGN_UP((1ull << bits) / 8, 4096);
	m->w = map_zero(m->bytes);
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
	vt->dir = map_zero(vt->dir_bytes);
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

static struct nvme_vslab *slab_new(void)
{
	/* over-allocate to align on 2 MiB: a huge page needs it */
	uint8_t *p = mmap(NULL, 2 * SLAB_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint8_t *a;
	struct nvme_vslab *s;

	if (p == MAP_FAILED)
		return NULL;
	a = (uint8_t *)ALIGN_UP((uintptr_t)p, SLAB_SIZE);
	if (a > p)
		munmap(p, (size_t)(a - p));
	munmap(a + SLAB_SIZE, (size_t)(p + 2 * SLAB_SIZE - (a + SLAB_SIZE)));
#ifdef MADV_HUGEPAGE
	madvise(a, SLAB_SIZE, MADV_HUGEPAGE);
#endif
	s = (struct nvme_vslab *)a;
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

/* clip [lba, lba + n) to the limit; return the LBAs left */
static inline uint64_t clip(const struct nvme_vtab *vt, uint64_t lba, uint64_t n)
{
	if (lba >= vt->limit)
		return 0;
	return n < vt->limit - lba ? n : vt->limit - lba;
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

	n = clip(vt, lba, n);
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

	n = clip(vt, lba, n);
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
	n = clip(vt, lba, n);
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

bool nvme_verify_rejected(uint32_t status)
{
	uint32_t sct = (status >> 8) & 7, sc = status & 0xff;

	if (sct == 1)
		return true; /* command specific: invalid format, conflicting attributes, zones... */
	if (sct != 0)
		return false; /* media, path, vendor (host timeout): data may have changed */
	switch (sc) {
	case 0x01: /* invalid opcode */
	case 0x02: /* invalid field */
	case 0x03: /* command ID conflict */
	case 0x0b: /* invalid namespace or format */
	case 0x0c: /* command sequence error */
	case 0x0d: case 0x0e: case 0x0f: case 0x10: case 0x11: /* SGL descriptors */
	case 0x12: /* invalid use of CMB */
	case 0x13: /* PRP offset invalid */
	case 0x15: /* operation denied */
	case 0x16: /* SGL offset invalid */
	case 0x18: /* host identifier inconsistent */
	case 0x1d: /* sanitize in progress */
	case 0x1e: /* SGL data block granularity */
	case 0x1f: /* not supported for a queue in CMB */
	case 0x20: /* namespace write protected */
	case 0x23: /* prohibited by lockdown */
	case 0x24: /* admin command media not ready */
	case 0x80: /* LBA out of range */
	case 0x81: /* capacity exceeded */
	case 0x82: /* namespace not ready */
	case 0x83: /* reservation conflict */
	case 0x84: /* format in progress */
		return true;
	default:
		return false; /* data transfer error, internal error, aborted, ... */
	}
}

/* --- the controller's tables -------------------------------------------------------- */

static struct nvme_vtab *lookup(struct nvme_vreg *r, uint32_t nsid)
{
	uint32_t n;

	if (nsid < NVME_VT_DIRECT)
		return __atomic_load_n(&r->direct[nsid], __ATOMIC_ACQUIRE);
	n = __atomic_load_n(&r->nother, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < n; i++)
		if (r->other[i]->nsid == nsid)
			return r->other[i];
	return NULL;
}

/* take a reference for a command; false when the table is not on */
static bool attach(struct nvme_vtab *vt)
{
	__atomic_add_fetch(&vt->refs, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&vt->state, __ATOMIC_SEQ_CST) == NVME_VT_ON)
		return true;
	__atomic_sub_fetch(&vt->refs, 1, __ATOMIC_RELEASE);
	return false;
}

static void detach(struct nvme_vtab *vt)
{
	__atomic_sub_fetch(&vt->refs, 1, __ATOMIC_RELEASE);
}

/*
 * Make @vt unused by the IO path (state @to, under r->lock): true when nobody
 * holds a reference (the caller may free its contents), false otherwise (the
 * state is left at @to; commands in flight still use the table).
 */
static bool quiesce(struct nvme_vtab *vt, int to)
{
	__atomic_store_n(&vt->state, to, __ATOMIC_SEQ_CST);
	return __atomic_load_n(&vt->refs, __ATOMIC_SEQ_CST) == 0;
}

/* clear one table (r->lock held) */
static void clear_table(struct nvme_vtab *vt)
{
	if (__atomic_load_n(&vt->state, __ATOMIC_ACQUIRE) != NVME_VT_ON)
		return;
	nvme_vtab_clear(vt, quiesce(vt, NVME_VT_CLEARING));
	__atomic_store_n(&vt->state, NVME_VT_ON, __ATOMIC_SEQ_CST);
}

/* clear the tables a Format NVM of @nsid (@ses: Secure Erase Settings) or a sanitize affects */
static void clear_tables(struct nvme_vreg *r, bool all, uint32_t nsid, uint32_t ses)
{
	pthread_mutex_lock(&r->lock);
	for (uint32_t i = 0; i < NVME_VT_DIRECT + r->nother; i++) {
		struct nvme_vtab *vt = i < NVME_VT_DIRECT ? r->direct[i] :
							    r->other[i - NVME_VT_DIRECT];

		if (!vt)
			continue;
		if (all || vt->nsid == nsid || (vt->flags & NVME_VERIFY_F_FNA_ALL) ||
		    (ses && (vt->flags & NVME_VERIFY_F_FNA_SES)))
			clear_table(vt);
	}
	pthread_mutex_unlock(&r->lock);
}

static struct nvme_vreg *registry(struct nvme_ctrl *c, bool create)
{
	struct nvme_vreg *r = __atomic_load_n(&c->verify, __ATOMIC_ACQUIRE), *expected = NULL;

	if (r || !create)
		return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	if (!__atomic_compare_exchange_n(&c->verify, &expected, r, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		pthread_mutex_destroy(&r->lock);
		free(r);
		r = expected;
	}
	return r;
}

void nvme_verify_ctrl_fini(struct nvme_ctrl *c)
{
	struct nvme_vreg *r = c->verify;

	if (!r)
		return;
	for (uint32_t i = 0; i < NVME_VT_DIRECT + r->nother; i++) {
		struct nvme_vtab *vt = i < NVME_VT_DIRECT ? r->direct[i] :
							    r->other[i - NVME_VT_DIRECT];

		if (vt) {
			nvme_vtab_fini(vt);
			free(vt);
		}
	}
	free(r->reports);
	pthread_mutex_destroy(&r->lock);
	free(r);
	c->verify = NULL;
}

/* --- hooks ------------------------------------------------------------------------------- */

static bool writes_data(uint8_t op)
{
	return op == VOP_WRITE || op == VOP_ZEROES || op == VOP_UNC || op == VOP_TRIM ||
	       op == VOP_COPY || op == VOP_UNKNOWN || op == VOP_CLEAR_NS;
}

static void free_vcmd(struct nvme_vcmd *v)
{
	if (v->lkv) {
		free(v->lkv);
		v->lkv = NULL;
	}
	if (v->ranges) {
		free(v->ranges);
		v->ranges = NULL;
	}
}

/* lock intervals of the command's LBA ranges: v->lk (one range) or v->lkv */
static int lba_intervals(struct nvme_vtab *vt, struct nvme_vcmd *v)
{
	unsigned n = 0;

	if (!v->nranges) {
		v->nlk = nvme_vlocks_ival(&vt->locks, v->slba, clip(vt, v->slba, v->nlb), v->lk);
		return 0;
	}
	/* DSM ranges, or Copy sources plus the destination */
	v->lkv = malloc(2 * (v->nranges + 1u) * sizeof(*v->lkv));
	if (!v->lkv)
		return nvme_set_error(-ENOMEM, "out of memory");
	for (unsigned i = 0; i < v->nranges; i++)
		n += nvme_vlocks_ival(&vt->locks, v->ranges[i].slba,
				      clip(vt, v->ranges[i].slba, v->ranges[i].nlb), v->lkv + n);
	if (v->op == VOP_COPY)
		n += nvme_vlocks_ival(&vt->locks, v->slba, clip(vt, v->slba, v->nlb), v->lkv + n);
	v->nlk = nvme_vlocks_merge(v->lkv, n);
	return 0;
}

static struct nvme_vival *lk(struct nvme_vcmd *v)
{
	return v->lkv ? v->lkv : v->lk;
}

/* parse DSM ranges (deallocate) or Copy source descriptors from the command's data */
static int parse_ranges(struct nvme_vcmd *v, const uint8_t *sqe, const uint8_t *data,
			uint64_t len)
{
	uint8_t opc = sqe[0];
	uint32_t cdw10 = get32(sqe + 40), cdw12 = get32(sqe + 48);
	unsigned nr = opc == NVME_IO_DSM ? (cdw10 & 0xff) + 1 : (cdw12 & 0xff) + 1;
	unsigned dsize = opc == NVME_IO_DSM ? 16 : ((cdw12 >> 8) & 0xf) == 0 ? 32 : 40;

	if (opc == NVME_IO_COPY && ((cdw12 >> 8) & 0xf) > 1)
		return -ENOTSUP; /* descriptor formats 2/3 name other namespaces */
	if (!data || len < (uint64_t)nr * dsize)
		return -ENOTSUP;
	v->ranges = malloc(nr * sizeof(*v->ranges));
	if (!v->ranges)
		return nvme_set_error(-ENOMEM, "out of memory");
	v->nranges = (uint16_t)nr;
	v->nlb = 0;
	for (unsigned i = 0; i < nr; i++) {
		const uint8_t *d = data + (uint64_t)i * dsize;

		if (opc == NVME_IO_DSM) {
			v->ranges[i].nlb = get32(d + 4);
			v->ranges[i].slba = get64(d + 8);
		} else {
			v->ranges[i].slba = get64(d + 8);
			v->ranges[i].nlb = get16(d + 16) + 1u;
			v->nlb += v->ranges[i].nlb; /* destination length */
		}
	}
	return 0;
}

int nvme_verify_submit(struct nvme_sq *sq, const uint8_t *sqe, struct nvme_buf *buf, uint64_t off,
		       uint64_t len, uint32_t flags, struct nvme_vcmd *v)
{
	struct nvme_vreg *r = __atomic_load_n(&sq->ctrl->verify, __ATOMIC_ACQUIRE);
	uint8_t opc = sqe[0], *data = NULL;
	uint32_t nsid, cdw12;
	struct nvme_vtab *vt;
	int rc;

	if (!r || !__atomic_load_n(&r->active, __ATOMIC_RELAXED))
		return 0;
	nsid = get32(sqe + 4);
	if (!sq->qid) {
		if (opc == NVME_ADM_FORMAT_NVM || opc == NVME_ADM_SANITIZE) {
			v->op = opc == NVME_ADM_FORMAT_NVM ? VOP_FORMAT : VOP_SANITIZE;
			v->nsid = nsid;
			v->cdw10 = get32(sqe + 40);
		}
		return 0;
	}
	vt = lookup(r, nsid);
	if (!vt || !attach(vt))
		return 0;
	if (buf && len && !(flags & (NVME_SUBMIT_RAW_PRP | NVME_SUBMIT_NO_DATA)))
		data = buf->vaddr + off;
	cdw12 = get32(sqe + 48);
	v->slba = get64(sqe + 40);
	v->nlb = (cdw12 & 0xffff) + 1u;
	switch (opc) {
	case NVME_IO_WRITE:
	case NVME_IO_READ:
		if (data && len == v->nlb * vt->lba_size)
			v->op = opc == NVME_IO_WRITE ? VOP_WRITE : VOP_READ;
		else
			v->op = opc == NVME_IO_WRITE ? VOP_UNKNOWN : VOP_LOCK; /* data not followed */
		break;
	case NVME_IO_WRITE_UNCOR:
		v->op = VOP_UNC;
		break;
	case NVME_IO_COMPARE:
		v->op = VOP_LOCK; /* Compare: the data must not change meanwhile */
		break;
	case NVME_IO_WRITE_ZEROES:
		v->op = VOP_ZEROES;
		break;
	case NVME_IO_DSM: /* only deallocate changes data */
		if (!(get32(sqe + 44) & 0x4))
			goto untracked;
		v->op = VOP_TRIM;
		rc = parse_ranges(v, sqe, data, len);
		if (rc == -ENOTSUP)
			v->op = VOP_CLEAR_NS; /* ranges out of sight: forget the namespace */
		else if (rc)
			goto fail;
		break;
	case NVME_IO_COPY:
		v->op = VOP_COPY;
		rc = parse_ranges(v, sqe, data, len);
		if (rc == -ENOTSUP)
			v->op = VOP_CLEAR_NS;
		else if (rc)
			goto fail;
		break;
	case NVME_IO_ZONE_MGMT_SEND: /* reset and offline drop the data of zones */
		if ((get32(sqe + 52) & 0xff) != 0x4 && (get32(sqe + 52) & 0xff) != 0x5)
			goto untracked;
		v->op = VOP_CLEAR_NS;
		break;
	default:
		goto untracked;
	}
	if ((sqe[1] & 3) && v->op != VOP_CLEAR_NS) {
		/* fused commands go back to back on the same LBAs: no locks */
		if (v->op == VOP_LOCK)
			goto untracked;
	} else if (v->op != VOP_CLEAR_NS) {
		rc = lba_intervals(vt, v);
		if (rc)
			goto fail;
		if (nvme_vlocks_try(&vt->locks, lk(v), v->nlk))
			goto conflict;
	}
	/*
	 * The data blocks' buffer bytes too (not DSM ranges or Copy descriptors:
	 * they were read here already): a write stamps them, a read is checked from
	 * them, a Compare's must not change under it.
	 */
	if (data && v->op != VOP_TRIM && v->op != VOP_COPY && v->op != VOP_CLEAR_NS) {
		uint64_t iova = buf->iova + off;

		pthread_once(&host_once, host_locks_init);
		if (host_ok && iova + len <= ((uint64_t)NVME_VT_HOST_GRANULE << host_locks.bits)) {
			uint64_t g0 = iova / NVME_VT_HOST_GRANULE;
			uint64_t g1 = (iova + len - 1) / NVME_VT_HOST_GRANULE + 1;

			v->host = (struct nvme_vival){ (uint32_t)g0, (uint32_t)(g1 - g0) };
			if (nvme_vlocks_try(&host_locks, &v->host, 1)) {
				v->host.count = 0;
				nvme_vlocks_drop(&vt->locks, lk(v), v->nlk);
				v->nlk = 0;
				goto conflict_host;
			}
		}
		if (v->op == VOP_READ || v->op == VOP_WRITE)
			v->data = data;
	}
	if (v->op == VOP_WRITE) {
		uint64_t token = __atomic_fetch_add(&write_token, v->nlb, __ATOMIC_RELAXED);

		nvme_vstamp(data, vt->lba_size, v->slba, v->nlb, token);
		stat_add(&vt->stamped, v->nlb);
	}
	v->vt = vt;
	v->epoch = __atomic_load_n(&vt->epoch, __ATOMIC_ACQUIRE);
	return 0;

conflict:
	stat_add(&vt->conflicts, 1);
	rc = -EAGAIN;
	if (sq->priv)
		goto fail; /* an ioworker retries in its loop: no message to format */
	if (v->nranges && v->op == VOP_TRIM)
		rc = nvme_set_error(-EAGAIN, "LBAs of the %u ranges of namespace %u are locked by a "
				    "command in flight (verification serializes conflicting IO): "
				    "reap it first", v->nranges, nsid);
	else
		rc = nvme_set_error(-EAGAIN, "LBAs %llu..%llu of namespace %u are locked by a "
				    "command in flight (verification serializes conflicting IO): "
				    "reap it first", (unsigned long long)v->slba,
				    (unsigned long long)(v->slba + v->nlb - 1), nsid);
	goto fail;
conflict_host:
	stat_add(&vt->conflicts, 1);
	rc = -EAGAIN;
	if (sq->priv)
		goto fail;
	rc = nvme_set_error(-EAGAIN, "the data buffer (bus address 0x%llx) is in use by a command "
			    "in flight on a verified namespace: reap it first, or give each "
			    "command its own buffer", (unsigned long long)(buf->iova + off));
fail:
	free_vcmd(v);
	memset(v, 0, sizeof(*v));
	detach(vt);
	return rc;
untracked:
	memset(v, 0, sizeof(*v));
	detach(vt);
	return 0;
}

/* the command's writes had an unknown outcome: forget what it may have changed */
static void forget(struct nvme_vcmd *v)
{
	struct nvme_vtab *vt = v->vt;

	switch (v->op) {
	case VOP_WRITE:
	case VOP_ZEROES:
	case VOP_UNC:
	case VOP_UNKNOWN:
	case VOP_COPY:
		nvme_vtab_set(vt, v->slba, v->nlb, NVME_VT_NEVER);
		break;
	case VOP_TRIM:
		for (unsigned i = 0; i < v->nranges; i++)
			nvme_vtab_set(vt, v->ranges[i].slba, v->ranges[i].nlb, NVME_VT_NEVER);
		break;
	case VOP_CLEAR_NS:
		nvme_vtab_clear(vt, false);
		break;
	default:
		break;
	}
}

static void report(struct nvme_sq *sq, struct nvme_vcmd *v, const struct nvme_cpl *o,
		   const struct nvme_verify_report *rep)
{
	struct nvme_vreg *r = sq->ctrl->verify;
	struct nvme_verify_report *slot;

	pthread_mutex_lock(&r->lock);
	if (!r->reports)
		r->reports = calloc(NVME_VERIFY_REPORTS, sizeof(*r->reports));
	if (r->reports) {
		slot = &r->reports[r->nreports++ % NVME_VERIFY_REPORTS];
		*slot = *rep;
		slot->sq_handle = sq->handle;
		slot->tag = o->tag;
		slot->nsid = v->vt->nsid;
		slot->slba = v->slba;
		slot->nlb = (uint32_t)v->nlb;
		slot->cid = (uint16_t)(o->dw[3] & 0xffff);
		slot->sqid = sq->qid;
	}
	pthread_mutex_unlock(&r->lock);
}

void nvme_verify_complete(struct nvme_sq *sq, struct nvme_vcmd *v, struct nvme_cpl *o)
{
	uint32_t status = (o->dw[3] >> 17) & 0x7ff;
	struct nvme_vtab *vt = v->vt;
	struct nvme_verify_report rep;
	bool stale;

	if (v->done || v->op == VOP_NONE)
		return;
	v->done = 1;
	if (v->op == VOP_FORMAT || v->op == VOP_SANITIZE) {
		struct nvme_vreg *r = sq->ctrl->verify;

		if (r && !(status && nvme_verify_rejected(status)))
			clear_tables(r, v->op == VOP_SANITIZE || v->nsid == 0xffffffffu, v->nsid,
				     (v->cdw10 >> 9) & 7);
		return;
	}
	if (!vt)
		return;
	stale = v->epoch != __atomic_load_n(&vt->epoch, __ATOMIC_ACQUIRE);
	if (status) {
		if (!nvme_verify_rejected(status) && writes_data(v->op))
			forget(v);
		return;
	}
	if (stale && v->op != VOP_READ && v->op != VOP_LOCK) {
		forget(v); /* a format or sanitize crossed it: its effect is unknown */
		return;
	}
	switch (v->op) {
	case VOP_READ:
		if (stale || !nvme_vtab_check(vt, v->slba, v->nlb, v->data, &rep))
			break;
		o->dw[3] = (o->dw[3] & 0x1ffffu) | (NVME_STATUS_VERIFY << 17);
		if (rep.kinds & (1u << NVME_VERIFY_LBA))
			o->flags |= NVME_CPL_VERIFY_LBA;
		if (rep.kinds & (1u << NVME_VERIFY_CRC))
			o->flags |= NVME_CPL_VERIFY_CRC;
		if (rep.kinds & (1u << NVME_VERIFY_UNC))
			o->flags |= NVME_CPL_VERIFY_UNC;
		report(sq, v, o, &rep);
		break;
	case VOP_WRITE:
		nvme_vtab_record(vt, v->slba, v->nlb, v->data);
		break;
	case VOP_ZEROES:
		nvme_vtab_set(vt, v->slba, v->nlb, vt->zero_crc);
		break;
	case VOP_UNC:
		nvme_vtab_set(vt, v->slba, v->nlb, NVME_VT_UNC);
		break;
	case VOP_TRIM:
		for (unsigned i = 0; i < v->nranges; i++)
			nvme_vtab_set(vt, v->ranges[i].slba, v->ranges[i].nlb,
				      vt->flags & NVME_VERIFY_F_TRIM_ZEROES ? vt->zero_crc :
									      NVME_VT_NEVER);
		break;
	case VOP_COPY: {
		uint64_t dst = v->slba;

		for (unsigned i = 0; i < v->nranges; i++) {
			nvme_vtab_copy(vt, dst, v->ranges[i].slba, v->ranges[i].nlb);
			dst += v->ranges[i].nlb;
		}
		break;
	}
	case VOP_UNKNOWN:
		nvme_vtab_set(vt, v->slba, v->nlb, NVME_VT_NEVER);
		break;
	case VOP_CLEAR_NS:
		nvme_vtab_clear(vt, false);
		break;
	default:
		break;
	}
}

void nvme_verify_release(struct nvme_sq *sq, struct nvme_vcmd *v)
{
	struct nvme_vtab *vt = v->vt;

	if (!v->done && (v->op == VOP_FORMAT || v->op == VOP_SANITIZE)) {
		struct nvme_vreg *r = sq->ctrl->verify;

		if (r) /* lost on the way: it may have run */
			clear_tables(r, v->op == VOP_SANITIZE || v->nsid == 0xffffffffu, v->nsid,
				     (v->cdw10 >> 9) & 7);
	}
	if (vt) {
		if (!v->done && writes_data(v->op))
			forget(v);
		if (v->nlk)
			nvme_vlocks_drop(&vt->locks, lk(v), v->nlk);
		if (v->host.count)
			nvme_vlocks_drop(&host_locks, &v->host, 1);
		detach(vt);
	}
	free_vcmd(v);
	memset(v, 0, sizeof(*v));
}

bool nvme_verify_on(struct nvme_ctrl *c, uint32_t nsid)
{
	struct nvme_vreg *r = registry(c, false);
	struct nvme_vtab *vt = r ? lookup(r, nsid) : NULL;

	return vt && __atomic_load_n(&vt->state, __ATOMIC_ACQUIRE) == NVME_VT_ON;
}

/* the report of (@sqh, @tag), newest first (r->lock held) */
static const struct nvme_verify_report *find_report(struct nvme_vreg *r, uint32_t sqh,
						    uint32_t tag)
{
	for (uint64_t k = 0; r->reports && k < r->nreports && k < NVME_VERIFY_REPORTS; k++) {
		const struct nvme_verify_report *p =
			&r->reports[(r->nreports - 1 - k) % NVME_VERIFY_REPORTS];

		if (p->sq_handle == sqh && p->tag == tag)
			return p;
	}
	return NULL;
}

int nvme_verify_describe(struct nvme_sq *sq, uint32_t tag, char *buf, size_t size)
{
	struct nvme_vreg *r = registry(sq->ctrl, false);
	const struct nvme_verify_report *p;
	int n = 0;

	if (!r || !size)
		return -ENOENT;
	pthread_mutex_lock(&r->lock);
	p = find_report(r, sq->handle, tag);
	if (p && p->kind == NVME_VERIFY_LBA)
		n = snprintf(buf, size, "LBA mismatch at LBA %llu: expected data of LBA %llu, found "
			     "data of LBA %llu", (unsigned long long)p->lba,
			     (unsigned long long)p->lba, (unsigned long long)p->found_lba);
	else if (p && p->kind == NVME_VERIFY_UNC)
		n = snprintf(buf, size, "LBA %llu was written uncorrectable, yet read successfully",
			     (unsigned long long)p->lba);
	else if (p)
		n = snprintf(buf, size, "CRC mismatch at LBA %llu: expected CRC 0x%08x, found 0x%08x",
			     (unsigned long long)p->lba, p->expected, p->found);
	if (p && p->nbad > 1 && n > 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, " (%u of %u blocks bad, the last at LBA %llu)",
			 p->nbad, p->nlb, (unsigned long long)p->last_lba);
	pthread_mutex_unlock(&r->lock);
	return p ? 0 : -ENOENT;
}

/* --- exported ------------------------------------------------------------------------------ */

static struct nvme_ctrl *get_ctrl(uint32_t h)
{
	struct nvme_ctrl *c = nvme_handle_get(h, NVME_H_CTRL);

	if (!c)
		nvme_set_error(-EBADF, h ? "the controller is closed (handle 0x%x is no longer valid)"
				       : "no controller given (handle 0x%x)", h);
	return c;
}

static int check_nsid(uint32_t nsid, bool all_ok)
{
	if (nsid == 0 || (nsid == 0xffffffffu && !all_ok))
		return nvme_set_error(-EINVAL, "namespace id %u: allowed 1..4294967294", nsid);
	return 0;
}

int nvme_ns_verify_enable(uint32_t ctrl, uint32_t nsid, uint32_t lba_size, uint64_t nlba,
			  uint64_t limit, uint32_t flags)
{
	struct nvme_ctrl *c = get_ctrl(ctrl);
	struct nvme_vtab *vt;
	struct nvme_vreg *r;
	int rc = 0;

	if (!c)
		return -EBADF;
	if ((rc = check_nsid(nsid, false)))
		return rc;
	if (lba_size < 512 || lba_size > (1u << 20) || (lba_size & (lba_size - 1)))
		return nvme_set_error(-EINVAL, "LBA size %u: a power of two from 512 to 1048576",
				      lba_size);
	if (!nlba || nlba > (1ull << 48))
		return nvme_set_error(-EINVAL, "namespace size %llu LBAs: allowed 1..2^48",
				      (unsigned long long)nlba);
	if (flags & ~NVME_VERIFY_F_ALL)
		return nvme_set_error(-EINVAL, "unknown verify flags 0x%x", flags);
	limit = !limit || limit > nlba ? nlba : limit;
	r = registry(c, true);
	if (!r)
		return nvme_set_error(-ENOMEM, "out of memory");
	pthread_mutex_lock(&r->lock);
	vt = lookup(r, nsid);
	if (!vt) {
		if (nsid >= NVME_VT_DIRECT && r->nother >= NVME_VT_MAX_OTHER) {
			rc = nvme_set_error(-ENOSPC, "too many verified namespaces with ids of %u "
					    "and above (%u)", NVME_VT_DIRECT, NVME_VT_MAX_OTHER);
			goto out;
		}
		vt = calloc(1, sizeof(*vt));
		if (!vt) {
			rc = nvme_set_error(-ENOMEM, "out of memory");
			goto out;
		}
		vt->nsid = nsid;
		if (nsid < NVME_VT_DIRECT) {
			__atomic_store_n(&r->direct[nsid], vt, __ATOMIC_RELEASE);
		} else {
			r->other[r->nother] = vt;
			__atomic_store_n(&r->nother, r->nother + 1, __ATOMIC_RELEASE);
		}
	}
	if (__atomic_load_n(&vt->state, __ATOMIC_ACQUIRE) == NVME_VT_ON) {
		if (vt->lba_size == lba_size && vt->nlba == nlba && vt->limit == limit &&
		    vt->flags == flags)
			goto out; /* on already: entries kept */
		if (!quiesce(vt, NVME_VT_CLEARING)) {
			__atomic_store_n(&vt->state, NVME_VT_ON, __ATOMIC_SEQ_CST);
			rc = nvme_set_error(-EBUSY, "namespace %u: commands in flight use its "
					    "verification table: wait for them before changing it",
					    nsid);
			goto out;
		}
		nvme_vtab_fini(vt);
		__atomic_sub_fetch(&r->active, 1, __ATOMIC_RELEASE);
	}
	rc = nvme_vtab_init(vt, nsid, lba_size, nlba, limit, flags);
	if (rc) {
		__atomic_store_n(&vt->state, NVME_VT_OFF, __ATOMIC_SEQ_CST);
		rc = nvme_set_error(rc, "namespace %u: no memory for the verification table of "
				    "%llu LBAs (%llu MiB of directory)", nsid,
				    (unsigned long long)limit,
				    (unsigned long long)((((limit >> NVME_VT_DIR_SHIFT) + 1) * 8) >>
							 20));
		goto out;
	}
	__atomic_add_fetch(&vt->epoch, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&r->active, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&vt->state, NVME_VT_ON, __ATOMIC_SEQ_CST);
out:
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int nvme_ns_verify_disable(uint32_t ctrl, uint32_t nsid)
{
	struct nvme_ctrl *c = get_ctrl(ctrl);
	struct nvme_vtab *vt;
	struct nvme_vreg *r;
	int rc = 0;

	if (!c)
		return -EBADF;
	if ((rc = check_nsid(nsid, false)))
		return rc;
	r = registry(c, false);
	if (!r)
		return 0;
	pthread_mutex_lock(&r->lock);
	vt = lookup(r, nsid);
	if (vt && __atomic_load_n(&vt->state, __ATOMIC_ACQUIRE) == NVME_VT_ON) {
		if (quiesce(vt, NVME_VT_OFF)) {
			nvme_vtab_fini(vt);
			__atomic_sub_fetch(&r->active, 1, __ATOMIC_RELEASE);
		} else {
			__atomic_store_n(&vt->state, NVME_VT_ON, __ATOMIC_SEQ_CST);
			rc = nvme_set_error(-EBUSY, "namespace %u: commands in flight use its "
					    "verification table: wait for them before disabling it",
					    nsid);
		}
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int nvme_ns_verify_clear(uint32_t ctrl, uint32_t nsid)
{
	struct nvme_ctrl *c = get_ctrl(ctrl);
	struct nvme_vreg *r;
	int rc, n = 0;

	if (!c)
		return -EBADF;
	if ((rc = check_nsid(nsid, true)))
		return rc;
	r = registry(c, false);
	if (!r)
		return 0;
	pthread_mutex_lock(&r->lock);
	for (uint32_t i = 0; i < NVME_VT_DIRECT + r->nother; i++) {
		struct nvme_vtab *vt = i < NVME_VT_DIRECT ? r->direct[i] :
							    r->other[i - NVME_VT_DIRECT];

		if (vt && (nsid == 0xffffffffu || vt->nsid == nsid) &&
		    __atomic_load_n(&vt->state, __ATOMIC_ACQUIRE) == NVME_VT_ON) {
			clear_table(vt);
			n++;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return n;
}

int nvme_ns_verify_stats(uint32_t ctrl, uint32_t nsid, uint64_t *out, uint32_t n)
{
	struct nvme_ctrl *c = get_ctrl(ctrl);
	struct nvme_vtab *vt;
	struct nvme_vreg *r;
	int rc;

	if (!c)
		return -EBADF;
	if ((rc = check_nsid(nsid, false)))
		return rc;
	if (!out || n < 18)
		return nvme_set_error(-EINVAL, "ns_verify_stats: 18 outputs needed, %u given", n);
	memset(out, 0, n * sizeof(*out));
	r = registry(c, false);
	if (!r)
		return 0;
	pthread_mutex_lock(&r->lock);
	vt = lookup(r, nsid);
	if (vt && __atomic_load_n(&vt->state, __ATOMIC_ACQUIRE) == NVME_VT_ON) {
		uint64_t leaves = __atomic_load_n(&vt->leaves, __ATOMIC_RELAXED);
		uint64_t mids = __atomic_load_n(&vt->mids, __ATOMIC_RELAXED);

		out[0] = 1;
		out[1] = vt->lba_size;
		out[2] = vt->limit;
		out[3] = leaves;
		out[4] = mids + __atomic_load_n(&vt->minis, __ATOMIC_RELAXED);
		out[5] = __atomic_load_n(&vt->slab_bytes, __ATOMIC_RELAXED);
		out[6] = vt->dir_bytes;
		out[7] = vt->locks.bytes;
		out[8] = __atomic_load_n(&vt->stamped, __ATOMIC_RELAXED);
		out[9] = __atomic_load_n(&vt->checked, __ATOMIC_RELAXED);
		out[10] = __atomic_load_n(&vt->skipped, __ATOMIC_RELAXED);
		out[11] = __atomic_load_n(&vt->bad_blocks, __ATOMIC_RELAXED);
		out[12] = __atomic_load_n(&vt->bad_cmds, __ATOMIC_RELAXED);
		out[13] = __atomic_load_n(&vt->conflicts, __ATOMIC_RELAXED);
		out[14] = __atomic_load_n(&vt->alloc_failures, __ATOMIC_RELAXED);
		out[15] = __atomic_load_n(&vt->epoch, __ATOMIC_RELAXED);
		out[16] = vt->flags;
		out[17] = vt->nlba;
	}
	pthread_mutex_unlock(&r->lock);
	return 0;
}

int nvme_ns_verify_get(uint32_t ctrl, uint32_t nsid, uint64_t lba, uint32_t count, uint32_t *out)
{
	struct nvme_ctrl *c = get_ctrl(ctrl);
	struct nvme_vtab *vt;
	struct nvme_vreg *r;
	int rc;

	if (!c)
		return -EBADF;
	if ((rc = check_nsid(nsid, false)))
		return rc;
	if (!out || !count || count > 65536)
		return nvme_set_error(-EINVAL, "ns_verify_get: count %u: allowed 1..65536", count);
	r = registry(c, false);
	if (!r)
		return nvme_set_error(-ENOENT, "namespace %u has no verification table", nsid);
	pthread_mutex_lock(&r->lock);
	vt = lookup(r, nsid);
	if (!vt || __atomic_load_n(&vt->state, __ATOMIC_ACQUIRE) != NVME_VT_ON) {
		rc = nvme_set_error(-ENOENT, "namespace %u has no verification table", nsid);
	} else {
		for (uint32_t i = 0; i < count; i++)
			out[i] = lba + i >= lba ? nvme_vtab_get(vt, lba + i) : NVME_VT_NEVER;
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int nvme_sq_verify_report(uint32_t sqh, uint32_t tag, uint64_t *out, uint32_t n)
{
	struct nvme_sq *sq = nvme_handle_get(sqh, NVME_H_SQ);
	struct nvme_vreg *r;
	int rc = -ENOENT;

	if (!sq)
		return nvme_set_error(-EBADF, "the queue is closed (handle 0x%x)", sqh);
	if (!out || n < 12)
		return nvme_set_error(-EINVAL, "sq_verify_report: 12 outputs needed, %u given", n);
	r = registry(sq->ctrl, false);
	if (!r)
		return nvme_set_error(-ENOENT, "no verification report for tag %u", tag);
	pthread_mutex_lock(&r->lock);
	{
		const struct nvme_verify_report *p = find_report(r, sqh, tag);

		if (p) {
			out[0] = p->kind;
			out[1] = p->lba;
			out[2] = p->last_lba;
			out[3] = p->expected;
			out[4] = p->found;
			out[5] = p->found_lba;
			out[6] = p->found_token;
			out[7] = p->nbad;
			out[8] = p->kinds;
			out[9] = p->nsid;
			out[10] = p->slba;
			out[11] = p->nlb;
			rc = 0;
		}
	}
	pthread_mutex_unlock(&r->lock);
	if (rc)
		nvme_set_error(rc, "no verification report for tag %u (only the last %u are kept)",
			       tag, NVME_VERIFY_REPORTS);
	return rc;
}

int nvme_verify_token(uint64_t *out, uint32_t n)
{
	if (!out || n < 2)
		return nvme_set_error(-EINVAL, "verify_token: 2 outputs needed, %u given", n);
	out[0] = __atomic_load_n(&write_token, __ATOMIC_RELAXED);
	out[1] = crc32c_hw_available();
	return 0;
}

int nvme_crc32c(const uint8_t *buf, uint32_t len, uint32_t *out)
{
	if ((!buf && len) || !out)
		return nvme_set_error(-EFAULT, "crc32c: missing buffer or output");
	out[0] = crc32c(0, buf, len);
	out[1] = crc32c_entry(out[0]);
	return 0;
}

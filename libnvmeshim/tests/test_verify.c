/* SPDX-License-Identifier: MIT */
/*
 * test_verify.c - data verification without a device: CRC-32C (both
 * implementations, known vectors), the sparse table (allocation, update rules,
 * checks), lock maps (wrapping, merging, rollback, threads), stamping, and the
 * hooks in queue.c end to end against a fake device that executes the posted
 * commands on a RAM "medium" and writes CQEs itself.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "ctrl.h"
#include "dma.h"
#include "handle.h"
#include "queue.h"
#include "fake_transport.h"
#include "unit.h"
#include "util.h"
#include "verify.h"

/* --- CRC-32C ---------------------------------------------------------------------- */

struct vector {
	const char *name;
	uint8_t data[48];
	size_t len;
	uint32_t crc;
};

static void vectors(struct vector *v)
{
	/* RFC 3720 (iSCSI) B.4 and the classic check value */
	static const uint8_t pdu[48] = { 0x01, 0xc0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					 0x14, 0,    0, 0, 0, 0, 0x04, 0, 0, 0, 0, 0x14, 0, 0,
					 0,    0x18, 0x28, 0, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0,
					 0,    0,    0 };

	v[0] = (struct vector){ "123456789", { 0 }, 9, 0xe3069283 };
	memcpy(v[0].data, "123456789", 9);
	v[1] = (struct vector){ "32 zeros", { 0 }, 32, 0x8a9136aa };
	v[2] = (struct vector){ "32 ones", { 0 }, 32, 0x62a8ab43 };
	memset(v[2].data, 0xff, 32);
	v[3] = (struct vector){ "0..31", { 0 }, 32, 0x46dd794e };
	v[4] = (struct vector){ "31..0", { 0 }, 32, 0x113fdb5c };
	for (int i = 0; i < 32; i++) {
		v[3].data[i] = (uint8_t)i;
		v[4].data[i] = (uint8_t)(31 - i);
	}
	v[5] = (struct vector){ "iSCSI read PDU", { 0 }, 48, 0xd9963a56 };
	memcpy(v[5].data, pdu, 48);
	v[6] = (struct vector){ "empty", { 0 }, 0, 0 };
}

TEST(crc32c_known_vectors)
{
	struct vector v[7];

	vectors(v);
	for (int i = 0; i < 7; i++) {
		if (!CHECK_EQ(crc32c_sw(0, v[i].data, v[i].len), v[i].crc))
			UNIT_NOTE("software, %s", v[i].name);
		if (!CHECK_EQ(crc32c(0, v[i].data, v[i].len), v[i].crc))
			UNIT_NOTE("dispatch (%s), %s", crc32c_impl(), v[i].name);
		if (crc32c_hw_available() && !CHECK_EQ(crc32c_hw(0, v[i].data, v[i].len), v[i].crc))
			UNIT_NOTE("SSE4.2, %s", v[i].name);
	}
	if (!crc32c_hw_available())
		UNIT_NOTE("no SSE4.2 on this CPU: the hardware path is not tested");
	CHECK(!strcmp(crc32c_impl(), crc32c_hw_available() ? "sse4.2" : "table"));
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* the three-way hardware loop and its tails agree with the table everywhere */
TEST(crc32c_hw_matches_sw)
{
	static uint8_t buf[3 * 8192 + 64];
	static const size_t lens[] = { 1, 7, 8, 9, 127, 128, 383, 384, 385, 511, 512, 513,
				       1024, 3071, 3072, 3073, 4095, 4096, 4097, 8192, 16384,
				       3 * 8192 };
	unsigned bad = 0;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rnd();
	for (unsigned l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
		for (unsigned a = 0; a < 16; a++) {
			uint32_t sw = crc32c_sw(0, buf + a, lens[l]);

			if (crc32c(0, buf + a, lens[l]) != sw)
				bad++;
			if (crc32c_hw_available() && crc32c_hw(0, buf + a, lens[l]) != sw)
				bad++;
			/* continuing a CRC equals the CRC of the concatenation */
			if (crc32c(crc32c(0, buf + a, lens[l] / 3), buf + a + lens[l] / 3,
				   lens[l] - lens[l] / 3) != sw)
				bad++;
			if (crc32c_sw(crc32c_sw(0, buf + a, 5), buf + a + 5,
				      lens[l] > 5 ? lens[l] - 5 : 0) != crc32c_sw(0, buf + a,
										 lens[l] > 5 ?
										 lens[l] : 5))
				bad++;
		}
	for (int k = 0; k < 2000; k++) {
		size_t len = rnd() % 9000, a = rnd() % 64;

		if (crc32c_hw_available() && crc32c_hw(0, buf + a, len) != crc32c_sw(0, buf + a, len))
			bad++;
	}
	CHECK_EQ(bad, 0);
}

TEST(crc32c_entry_avoids_reserved)
{
	CHECK_EQ(crc32c_entry(0), 1);
	CHECK_EQ(crc32c_entry(0xffffffff), 0xfffffffe);
	CHECK_EQ(crc32c_entry(0x12345678), 0x12345678);
	CHECK_EQ(crc32c_entry(1), 1);
}

/* --- stamping --------------------------------------------------------------------- */

TEST(verify_stamp)
{
	uint8_t b[3 * 512];
	uint64_t v;

	memset(b, 0xab, sizeof(b));
	nvme_vstamp(b, 512, 0x1122334455ull, 3, 1000);
	for (unsigned i = 0; i < 3; i++) {
		memcpy(&v, b + i * 512, 8);
		CHECK_EQ(v, 0x1122334455ull + i);
		memcpy(&v, b + i * 512 + 504, 8);
		CHECK_EQ(v, 1000 + i);
		CHECK_EQ(b[i * 512 + 8], 0xab);
		CHECK_EQ(b[i * 512 + 503], 0xab);
	}
	CHECK_EQ(b[0], 0x55); /* little endian */
}

/* --- lock maps --------------------------------------------------------------------- */

TEST(verify_lock_intervals)
{
	struct nvme_vlocks m;
	struct nvme_vival iv[8];

	if (!CHECK_EQ(nvme_vlocks_init(&m, 10), 0)) /* 1024 bits */
		return;
	CHECK_EQ(nvme_vlocks_ival(&m, 5, 0, iv), 0);
	CHECK_EQ(nvme_vlocks_ival(&m, 5, 10, iv), 1);
	CHECK_EQ(iv[0].start, 5);
	CHECK_EQ(iv[0].count, 10);
	/* LBA 1024 + 1020, 10 LBAs: wraps the map */
	CHECK_EQ(nvme_vlocks_ival(&m, 2044, 10, iv), 2);
	CHECK_EQ(iv[0].start, 1020);
	CHECK_EQ(iv[0].count, 4);
	CHECK_EQ(iv[1].start, 0);
	CHECK_EQ(iv[1].count, 6);
	/* at least the whole map: every bit */
	CHECK_EQ(nvme_vlocks_ival(&m, 77, 1024, iv), 1);
	CHECK_EQ(iv[0].start, 0);
	CHECK_EQ(iv[0].count, 1024);
	CHECK_EQ(nvme_vlocks_ival(&m, 77, 1ull << 40, iv), 1);
	CHECK_EQ(iv[0].count, 1024);

	/* merging sorts and joins overlapping and adjacent intervals */
	iv[0] = (struct nvme_vival){ 100, 10 };
	iv[1] = (struct nvme_vival){ 0, 5 };
	iv[2] = (struct nvme_vival){ 105, 20 };
	iv[3] = (struct nvme_vival){ 5, 1 };
	iv[4] = (struct nvme_vival){ 300, 1 };
	iv[5] = (struct nvme_vival){ 110, 2 };
	CHECK_EQ(nvme_vlocks_merge(iv, 6), 3);
	CHECK_EQ(iv[0].start, 0);
	CHECK_EQ(iv[0].count, 6);
	CHECK_EQ(iv[1].start, 100);
	CHECK_EQ(iv[1].count, 25);
	CHECK_EQ(iv[2].start, 300);
	CHECK_EQ(iv[2].count, 1);
	nvme_vlocks_fini(&m);
}

TEST(verify_lock_try_drop)
{
	struct nvme_vlocks m;
	struct nvme_vival a[2] = { { 10, 100 }, { 500, 200 } }, b = { 60, 1 }, c = { 699, 5 },
			  d[2] = { { 0, 10 }, { 110, 390 } }, all = { 0, 1024 };

	if (!CHECK_EQ(nvme_vlocks_init(&m, 10), 0))
		return;
	CHECK_EQ(nvme_vlocks_try(&m, a, 2), 0);
	CHECK_EQ(nvme_vlocks_count(&m), 300);
	CHECK_EQ(nvme_vlocks_try(&m, &b, 1), -EAGAIN);
	CHECK_EQ(nvme_vlocks_try(&m, &c, 1), -EAGAIN);
	CHECK_EQ(nvme_vlocks_count(&m), 300); /* a failed try leaves nothing behind */
	/* the gaps around a: exactly free */
	CHECK_EQ(nvme_vlocks_try(&m, d, 2), 0);
	CHECK_EQ(nvme_vlocks_count(&m), 700);
	CHECK_EQ(nvme_vlocks_try(&m, &all, 1), -EAGAIN);
	CHECK_EQ(nvme_vlocks_count(&m), 700);
	nvme_vlocks_drop(&m, a, 2);
	CHECK_EQ(nvme_vlocks_count(&m), 400);
	/* a conflict in a later interval rolls back the earlier ones */
	{
		struct nvme_vival e[2] = { { 10, 100 }, { 0, 1 } };

		CHECK_EQ(nvme_vlocks_try(&m, e, 2), -EAGAIN);
		CHECK_EQ(nvme_vlocks_count(&m), 400);
	}
	nvme_vlocks_drop(&m, d, 2);
	CHECK_EQ(nvme_vlocks_count(&m), 0);
	CHECK_EQ(nvme_vlocks_try(&m, &all, 1), 0);
	CHECK_EQ(nvme_vlocks_count(&m), 1024);
	nvme_vlocks_drop(&m, &all, 1);
	CHECK_EQ(nvme_vlocks_count(&m), 0);
	nvme_vlocks_fini(&m);
}

/* Threads lock random ranges; a range is never owned by two at once. */
#define LT_UNITS 4096u
#define LT_THREADS 4
static struct nvme_vlocks lt_map;
static int lt_owner[LT_UNITS];
static unsigned lt_bad;

static void *lock_thread(void *arg)
{
	uint64_t s = (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;

	for (int k = 0; k < 20000; k++) {
		struct nvme_vival iv[2];
		uint64_t start, n;
		unsigned niv;

		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		start = s % (2 * LT_UNITS);
		n = 1 + (s >> 32) % 64;
		niv = nvme_vlocks_ival(&lt_map, start, n, iv);
		if (nvme_vlocks_try(&lt_map, iv, niv))
			continue;
		for (uint64_t i = 0; i < n; i++) {
			int *o = &lt_owner[(start + i) % LT_UNITS];

			if (__atomic_exchange_n(o, (int)(uintptr_t)arg, __ATOMIC_RELAXED))
				__atomic_add_fetch(&lt_bad, 1, __ATOMIC_RELAXED);
		}
		for (uint64_t i = 0; i < n; i++)
			__atomic_store_n(&lt_owner[(start + i) % LT_UNITS], 0, __ATOMIC_RELAXED);
		nvme_vlocks_drop(&lt_map, iv, niv);
	}
	return NULL;
}

TEST(verify_lock_threads)
{
	pthread_t th[LT_THREADS];

	if (!CHECK_EQ(nvme_vlocks_init(&lt_map, 12), 0))
		return;
	for (uintptr_t i = 0; i < LT_THREADS; i++)
		CHECK_EQ(pthread_create(&th[i], NULL, lock_thread, (void *)(i + 1)), 0);
	for (int i = 0; i < LT_THREADS; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ(lt_bad, 0);
	CHECK_EQ(nvme_vlocks_count(&lt_map), 0);
	nvme_vlocks_fini(&lt_map);
}

/* --- the table ------------------------------------------------------------------------- */

/* the expectations below are worked out for this geometry */
_Static_assert(NVME_VT_LEAF_BITS == 6 && NVME_VT_MID_BITS == 8 && NVME_VT_MINI_SLOTS == 8,
	       "tree geometry changed");

static void fill_blocks(uint8_t *p, uint32_t bs, uint64_t lba, uint64_t n, uint64_t token)
{
	for (size_t i = 0; i < bs * n; i++)
		p[i] = (uint8_t)rnd();
	nvme_vstamp(p, bs, lba, n, token);
}

TEST(verify_table_sparse)
{
	struct nvme_vtab vt = { 0 };
	const uint64_t nlba = 1ull << 35; /* 16 TiB of 512-byte blocks */
	uint8_t blk[512];

	if (!CHECK_EQ(nvme_vtab_init(&vt, 1, 512, nlba, 0, 0), 0))
		return;
	CHECK_EQ(vt.limit, nlba);
	CHECK_EQ(vt.ndir, nlba >> NVME_VT_DIR_SHIFT);
	CHECK_EQ(vt.dir_bytes, 16ull << 20); /* virtual: 8 bytes per 16384 LBAs */
	CHECK_EQ(vt.locks.bits, NVME_VT_LOCK_MAX_BITS);
	CHECK_EQ(vt.leaves, 0);
	/* lookups, clears and deallocation allocate nothing */
	CHECK_EQ(nvme_vtab_get(&vt, 12345), NVME_VT_NEVER);
	CHECK_EQ(nvme_vtab_set(&vt, 0, nlba, NVME_VT_NEVER), 0);
	CHECK_EQ(vt.leaves + vt.mids + vt.minis + vt.slab_bytes, 0);
	/* one block at each end: a leaf and a mini node each */
	fill_blocks(blk, 512, 0, 1, 1);
	CHECK_EQ(nvme_vtab_record(&vt, 0, 1, blk), 0);
	fill_blocks(blk, 512, nlba - 1, 1, 2);
	CHECK_EQ(nvme_vtab_record(&vt, nlba - 1, 1, blk), 0);
	CHECK_EQ(vt.leaves, 2);
	CHECK_EQ(vt.minis, 2);
	CHECK_EQ(vt.mids, 0);
	CHECK_EQ(nvme_vtab_get(&vt, nlba - 1), crc32c_entry(crc32c(0, blk, 512)));
	CHECK_EQ(nvme_vtab_get(&vt, nlba - 2), NVME_VT_NEVER);
	/* a range across leaves and directory entries: 16374..16673 */
	CHECK_EQ(nvme_vtab_set(&vt, 16384 - 10, 300, 0x1234), 0);
	CHECK_EQ(vt.leaves, 2 + 1 + 5); /* the last leaf of entry 0, five of entry 1 */
	CHECK_EQ(vt.minis, 3);		/* entry 0 had one (LBA 0) */
	CHECK_EQ(nvme_vtab_get(&vt, 16384 - 10), 0x1234);
	CHECK_EQ(nvme_vtab_get(&vt, 16384 + 289), 0x1234);
	CHECK_EQ(nvme_vtab_get(&vt, 16384 + 290), NVME_VT_NEVER);
	CHECK_EQ(nvme_vtab_get(&vt, 16384 - 11), NVME_VT_NEVER);
	CHECK(nvme_vtab_get(&vt, 0) != NVME_VT_NEVER); /* the mini node keeps both leaves */
	/* a ninth leaf under one entry: the mini node becomes a mid node */
	for (unsigned k = 0; k < 9; k++)
		CHECK_EQ(nvme_vtab_set(&vt, 2 * 16384 + k * 64 * 3, 1, 100 + k), 0);
	CHECK_EQ(vt.minis, 4);
	CHECK_EQ(vt.mids, 1);
	CHECK_EQ(vt.leaves, 8 + 9);
	for (unsigned k = 0; k < 9; k++)
		CHECK_EQ(nvme_vtab_get(&vt, 2 * 16384 + k * 64 * 3), 100 + k);
	CHECK_EQ(nvme_vtab_get(&vt, 2 * 16384 + 1), NVME_VT_NEVER);
	CHECK_EQ(vt.slab_bytes, 4ull << 20); /* a 2 MiB slab of leaves, one of other nodes */
	/* 1000 random LBAs: at most a leaf and a mini node each */
	for (int k = 0; k < 1000; k++)
		nvme_vtab_set(&vt, rnd() % nlba, 1, 7);
	CHECK(vt.leaves <= 1017);
	CHECK(vt.minis <= 1004);
	/* 20000 more: the slabs grow as needed */
	for (int k = 0; k < 20000; k++)
		nvme_vtab_set(&vt, rnd() % nlba, 1, 7);
	CHECK(vt.slab_bytes >= vt.leaves * 256 + vt.minis * 64 + vt.mids * 2048);
	CHECK(vt.slab_bytes <= vt.leaves * 256 + vt.minis * 64 + vt.mids * 2048 + (4ull << 20));
	/* a non-exclusive clear zeroes in place, an exclusive one frees */
	nvme_vtab_clear(&vt, false);
	CHECK_EQ(nvme_vtab_get(&vt, 16384), NVME_VT_NEVER);
	CHECK_EQ(nvme_vtab_get(&vt, 2 * 16384 + 64 * 3 * 8), NVME_VT_NEVER);
	CHECK(vt.leaves >= 17);
	CHECK_EQ(vt.epoch, 1);
	nvme_vtab_clear(&vt, true);
	CHECK_EQ(vt.leaves + vt.mids + vt.minis, 0);
	CHECK_EQ(vt.slab_bytes, 0);
	CHECK_EQ(vt.epoch, 2);
	CHECK_EQ(nvme_vtab_get(&vt, 16384), NVME_VT_NEVER);
	CHECK_EQ(nvme_vtab_set(&vt, 5, 1, 9), 0);
	CHECK_EQ(nvme_vtab_get(&vt, 5), 9);
	nvme_vtab_fini(&vt);
	CHECK(!vt.dir);
}

/* Threads fill the same directory entries at once: minis fill up and turn
 * into mid nodes under them; every entry written is found afterwards. */
#define TT_THREADS 4
#define TT_LBAS (4u * 16384)
static struct nvme_vtab tt;

static void *table_thread(void *arg)
{
	uintptr_t t = (uintptr_t)arg;
	uint64_t s = t * 0x9e3779b97f4a7c15ull + 7;

	/* thread t owns LBAs with lba % TT_THREADS == t, visited in a random order */
	for (unsigned k = 0; k < TT_LBAS / TT_THREADS; k++) {
		uint64_t lba;

		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		lba = (s % (TT_LBAS / TT_THREADS)) * TT_THREADS + t;
		nvme_vtab_set(&tt, lba, 1, (uint32_t)lba + 2);
	}
	return NULL;
}

TEST(verify_table_threads)
{
	pthread_t th[TT_THREADS];
	unsigned bad = 0, set = 0;

	if (!CHECK_EQ(nvme_vtab_init(&tt, 1, 512, 1ull << 30, 0, 0), 0))
		return;
	for (uintptr_t i = 0; i < TT_THREADS; i++)
		CHECK_EQ(pthread_create(&th[i], NULL, table_thread, (void *)i), 0);
	for (int i = 0; i < TT_THREADS; i++)
		pthread_join(th[i], NULL);
	for (uint32_t lba = 0; lba < TT_LBAS; lba++) {
		uint32_t e = nvme_vtab_get(&tt, lba);

		if (e == lba + 2)
			set++;
		else if (e != NVME_VT_NEVER)
			bad++;
	}
	CHECK_EQ(bad, 0);
	CHECK(set > TT_LBAS / 2); /* random visits: most LBAs were set */
	CHECK_EQ(tt.mids, 4);	  /* every entry ended up with a mid node */
	CHECK(tt.leaves >= 4 * 256);
	nvme_vtab_fini(&tt);
}

TEST(verify_table_limit_and_params)
{
	struct nvme_vtab vt = { 0 };

	CHECK_EQ(nvme_vtab_init(&vt, 1, 500, 100, 0, 0), -EINVAL);
	CHECK_EQ(nvme_vtab_init(&vt, 1, 256, 100, 0, 0), -EINVAL);
	CHECK_EQ(nvme_vtab_init(&vt, 1, 512, 0, 0, 0), -EINVAL);
	if (!CHECK_EQ(nvme_vtab_init(&vt, 1, 4096, 1000, 100, 0), 0))
		return;
	CHECK_EQ(vt.limit, 100);
	CHECK_EQ(vt.locks.bits, 7); /* 128 >= 100: exact */
	CHECK_EQ(nvme_vtab_set(&vt, 90, 20, 5), 0);
	CHECK_EQ(nvme_vtab_get(&vt, 99), 5);
	CHECK_EQ(nvme_vtab_get(&vt, 100), NVME_VT_NEVER); /* past the limit: not kept */
	CHECK_EQ(nvme_vtab_set(&vt, 200, 5, 5), 0);
	CHECK_EQ(vt.leaves, 1); /* LBAs 90..99 only: past the limit nothing is kept */
	CHECK_EQ(vt.minis, 1);
	nvme_vtab_fini(&vt);
	/* the zero CRC is that of a zero block of the LBA size */
	{
		static const uint8_t z[4096];

		CHECK_EQ(nvme_vtab_init(&vt, 1, 4096, 10, 0, 0), 0);
		CHECK_EQ(vt.zero_crc, crc32c_entry(crc32c(0, z, 4096)));
		nvme_vtab_fini(&vt);
		CHECK_EQ(nvme_vtab_init(&vt, 1, 8192, 10, 0, 0), 0);
		CHECK_EQ(vt.zero_crc, crc32c_entry(crc32c(0, (uint8_t[8192]){ 0 }, 8192)));
		nvme_vtab_fini(&vt);
	}
}

TEST(verify_table_check)
{
	struct nvme_vtab vt = { 0 };
	struct nvme_verify_report rep;
	static uint8_t data[16 * 512], read[16 * 512];

	if (!CHECK_EQ(nvme_vtab_init(&vt, 1, 512, 1 << 20, 0, 0), 0))
		return;
	fill_blocks(data, 512, 1000, 16, 77);
	CHECK_EQ(nvme_vtab_record(&vt, 1000, 16, data), 0);
	memcpy(read, data, sizeof(read));
	CHECK_EQ(nvme_vtab_check(&vt, 1000, 16, read, &rep), 0);
	CHECK_EQ(vt.checked, 16);
	/* a flipped byte: CRC mismatch */
	read[5 * 512 + 100] ^= 1;
	CHECK_EQ(nvme_vtab_check(&vt, 1000, 16, read, &rep), 1);
	CHECK_EQ(rep.kind, NVME_VERIFY_CRC);
	CHECK_EQ(rep.lba, 1005);
	CHECK_EQ(rep.last_lba, 1005);
	CHECK_EQ(rep.expected, nvme_vtab_get(&vt, 1005));
	CHECK_EQ(rep.found, crc32c_entry(crc32c(0, read + 5 * 512, 512)));
	CHECK_EQ(rep.found_lba, 1005);
	CHECK_EQ(rep.found_token, 82);
	/* block 9 holds block 2's data: LBA mismatch */
	memcpy(read + 9 * 512, data + 2 * 512, 512);
	CHECK_EQ(nvme_vtab_check(&vt, 1000, 16, read, &rep), 2);
	CHECK_EQ(rep.kind, NVME_VERIFY_CRC);
	CHECK_EQ(rep.last_lba, 1009);
	CHECK_EQ(rep.kinds, (1u << NVME_VERIFY_CRC) | (1u << NVME_VERIFY_LBA));
	read[5 * 512 + 100] ^= 1;
	CHECK_EQ(nvme_vtab_check(&vt, 1000, 16, read, &rep), 1);
	CHECK_EQ(rep.kind, NVME_VERIFY_LBA);
	CHECK_EQ(rep.lba, 1009);
	CHECK_EQ(rep.found_lba, 1002);
	/* all zeros or all ones in the stamp: not an LBA */
	memset(read + 9 * 512, 0, 512);
	CHECK_EQ(nvme_vtab_check(&vt, 1000, 16, read, &rep), 1);
	CHECK_EQ(rep.kind, NVME_VERIFY_CRC);
	memset(read + 9 * 512, 0xff, 512);
	CHECK_EQ(nvme_vtab_check(&vt, 1000, 16, read, &rep), 1);
	CHECK_EQ(rep.kind, NVME_VERIFY_CRC);
	memcpy(read + 9 * 512, data + 9 * 512, 512);
	/* never written: skipped, whatever is read */
	CHECK_EQ(nvme_vtab_set(&vt, 1003, 1, NVME_VT_NEVER), 0);
	memset(read + 3 * 512, 0x5a, 512);
	CHECK_EQ(nvme_vtab_check(&vt, 1000, 16, read, &rep), 0);
	/* uncorrectable: any successful read fails */
	CHECK_EQ(nvme_vtab_set(&vt, 1004, 1, NVME_VT_UNC), 0);
	CHECK_EQ(nvme_vtab_check(&vt, 1000, 16, read, &rep), 1);
	CHECK_EQ(rep.kind, NVME_VERIFY_UNC);
	CHECK_EQ(rep.lba, 1004);
	CHECK_EQ(rep.expected, NVME_VT_UNC);
	/* copied entries pass with the source's stamp in the data */
	memcpy(read + 15 * 512, data, 512);
	CHECK_EQ(nvme_vtab_copy(&vt, 1015, 1000, 1), 0);
	CHECK_EQ(nvme_vtab_check(&vt, 1015, 1, read + 15 * 512, &rep), 0);
	CHECK_EQ(vt.bad_cmds, 6);
	nvme_vtab_fini(&vt);
}

TEST(verify_table_copy_overlap)
{
	struct nvme_vtab vt = { 0 };

	if (!CHECK_EQ(nvme_vtab_init(&vt, 1, 512, 1 << 16, 0, 0), 0))
		return;
	for (unsigned i = 0; i < 10; i++)
		nvme_vtab_set(&vt, 100 + i, 1, 1000 + i);
	/* forward overlap: 100..109 -> 103..112 */
	CHECK_EQ(nvme_vtab_copy(&vt, 103, 100, 10), 0);
	for (unsigned i = 0; i < 10; i++)
		CHECK_EQ(nvme_vtab_get(&vt, 103 + i), 1000 + i);
	CHECK_EQ(nvme_vtab_get(&vt, 102), 1002);
	/* backward overlap: 103..112 -> 101..110 */
	CHECK_EQ(nvme_vtab_copy(&vt, 101, 103, 10), 0);
	for (unsigned i = 0; i < 10; i++)
		CHECK_EQ(nvme_vtab_get(&vt, 101 + i), 1000 + i);
	/* from never written: the destination becomes never written */
	CHECK_EQ(nvme_vtab_copy(&vt, 101, 5000, 2), 0);
	CHECK_EQ(nvme_vtab_get(&vt, 101), NVME_VT_NEVER);
	nvme_vtab_fini(&vt);
}

TEST(verify_rejected_statuses)
{
	CHECK(nvme_verify_rejected(0x002)); /* invalid field */
	CHECK(nvme_verify_rejected(0x080)); /* LBA out of range */
	CHECK(nvme_verify_rejected(0x001)); /* invalid opcode */
	CHECK(nvme_verify_rejected(0x10a)); /* invalid format */
	CHECK(nvme_verify_rejected(0x1b9)); /* zone is full */
	CHECK(!nvme_verify_rejected(0x004)); /* data transfer error */
	CHECK(!nvme_verify_rejected(0x006)); /* internal error */
	CHECK(!nvme_verify_rejected(0x008)); /* aborted by SQ deletion */
	CHECK(!nvme_verify_rejected(0x280)); /* write fault */
	CHECK(!nvme_verify_rejected(0x7ff)); /* host timeout */
}

/* --- the hooks, end to end on a fake device ------------------------------------------ */

#define FD_LBAS 4096u
#define FD_BS 512u

/* the device: executes posted commands on a RAM medium */
struct fdev {
	struct nvme_transport t;
	struct nvme_ctrl *c;
	struct nvme_cq *cq, *acq;
	struct nvme_sq *sq, *asq;
	uint32_t ch; /* controller handle */
	uint32_t sqh;
	uint8_t media[FD_LBAS * FD_BS];
	struct { uint32_t head, tail; uint8_t phase; } q[2]; /* device view: [0] admin, [1] IO */
	struct nvme_cpl out[64];
};

static struct fdev *fdev_new(void)
{
	struct fdev *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	fake_transport_init(&d->t, NULL);
	if (nvme_ctrl_new(&d->t, &d->c) || nvme_cq_new(d->c, 0, 16, 0, false, &d->acq) ||
	    nvme_sq_new(d->c, 0, 16, d->acq, &d->asq) ||
	    nvme_cq_new(d->c, 1, 64, 0, false, &d->cq) ||
	    nvme_sq_new(d->c, 1, 64, d->cq, &d->sq)) {
		free(d);
		return NULL;
	}
	d->ch = d->c->handle = nvme_handle_new(NVME_H_CTRL, d->c);
	d->sqh = d->sq->handle = nvme_handle_new(NVME_H_SQ, d->sq);
	d->q[0].phase = d->q[1].phase = 1;
	return d;
}

static void fdev_free(struct fdev *d)
{
	nvme_handle_close(d->sqh, NVME_H_SQ);
	nvme_handle_close(d->ch, NVME_H_CTRL);
	nvme_ctrl_free(d->c);
	free(d);
}

/* execute the oldest posted command not yet executed; complete it with @status */
static int fdev_step(struct fdev *d, int admin, uint16_t status)
{
	struct nvme_sq *sq = admin ? d->asq : d->sq;
	struct nvme_cq *cq = admin ? d->acq : d->cq;
	typeof(d->q[0]) *dq = &d->q[admin ? 0 : 1];
	const uint8_t *e;
	uint64_t slba, prp1;
	uint32_t nlb;
	uint16_t cid;
	struct nvme_cqe cqe = { 0 };

	if (dq->head == sq->tail)
		return -1;
	e = sq->ring + (uint64_t)dq->head * 64;
	dq->head = nvme_q_next(dq->head, sq->size);
	memcpy(&cid, e + 2, 2);
	memcpy(&slba, e + 40, 8);
	memcpy(&prp1, e + 24, 8);
	nlb = (uint32_t)(e[48] | e[49] << 8) + 1;
	if (!status && !admin && slba + nlb <= FD_LBAS) {
		uint8_t *m = d->media + slba * FD_BS, *h = nvme_dma_vaddr(prp1, nlb * FD_BS);

		switch (e[0]) {
		case 0x01:
			memcpy(m, h, nlb * FD_BS);
			break;
		case 0x02:
			memcpy(h, m, nlb * FD_BS);
			break;
		case 0x08:
			memset(m, 0, nlb * FD_BS);
			break;
		default:
			break;
		}
	}
	cqe.sqhd = (uint16_t)dq->head;
	cqe.sqid = sq->qid;
	cqe.cid = cid;
	cqe.status = (uint16_t)(status << 1 | dq->phase);
	cq->ring[dq->tail] = cqe;
	dq->tail = nvme_q_next(dq->tail, cq->size);
	if (!dq->tail)
		dq->phase ^= 1;
	return cid;
}

/* reap what the device completed; return the status of the last one (and its flags) */
static int fdev_reap(struct fdev *d, int admin, uint32_t *flags)
{
	int n = nvme_cq_process(admin ? d->acq : d->cq, d->out, 64);

	if (n <= 0)
		return -1;
	if (flags)
		*flags = d->out[n - 1].flags;
	return (int)((d->out[n - 1].dw[3] >> 17) & 0x7ff);
}

static int io(struct fdev *d, uint8_t opc, struct nvme_buf *b, uint64_t off, uint64_t slba,
	      uint32_t nlb, uint32_t tag)
{
	uint8_t sqe[64] = { opc };
	uint32_t nsid = 1, cdw12 = nlb - 1;

	memcpy(sqe + 4, &nsid, 4);
	memcpy(sqe + 40, &slba, 8);
	memcpy(sqe + 48, &cdw12, 4);
	return nvme_sq_submit(d->sq, sqe, b, off, b ? (uint64_t)nlb * FD_BS : 0, tag, 0);
}

/* submit, execute and reap one command; return the completion status */
static int io_sync(struct fdev *d, uint8_t opc, struct nvme_buf *b, uint64_t off, uint64_t slba,
		   uint32_t nlb, uint32_t *flags)
{
	int r = io(d, opc, b, off, slba, nlb, 7);

	if (r < 0)
		return r;
	fdev_step(d, 0, 0);
	return fdev_reap(d, 0, flags);
}

static uint32_t entry(struct fdev *d, uint64_t lba)
{
	uint32_t e = 0xdeadbeef;

	CHECK_EQ(nvme_ns_verify_get(d->ch, 1, lba, 1, &e), 0);
	return e;
}

TEST(verify_hooks_write_read)
{
	struct fdev *d;
	struct nvme_buf *w, *r;
	struct nvme_verify_failure rep;
	struct nvme_verify_token_info tok;
	struct nvme_verify_stats st;
	uint32_t flags = 0;

	setenv("DENVME_DMA_MB", "64", 1);
	if (!CHECK(nvme_arena_get()) || !CHECK(d = fdev_new()))
		return;
	w = nvme_buf_new(64 * FD_BS);
	r = nvme_buf_new(64 * FD_BS);
	if (!CHECK(w && r))
		goto out;
	/* bad parameters */
	CHECK_EQ(nvme_ns_verify_enable(d->ch, 0, 512, FD_LBAS, 0, 0), -EINVAL);
	CHECK_EQ(nvme_ns_verify_enable(d->ch, 1, 520, FD_LBAS, 0, 0), -EINVAL);
	CHECK_EQ(nvme_ns_verify_enable(d->ch, 1, 512, 0, 0, 0), -EINVAL);
	CHECK_EQ(nvme_ns_verify_enable(d->ch, 1, 512, FD_LBAS, 0, 0x100), -EINVAL);
	CHECK_EQ(nvme_ns_verify_enable(0, 1, 512, FD_LBAS, 0, 0), -EBADF);
	CHECK_EQ(nvme_ns_verify_get(d->ch, 1, 0, 1, (uint32_t[1]){ 0 }), -ENOENT);

	/* off: writes are not stamped */
	memset(w->vaddr, 0xcc, 64 * FD_BS);
	CHECK_EQ(io_sync(d, 0x01, w, 0, 10, 1, NULL), 0);
	CHECK_EQ(w->vaddr[0], 0xcc);

	CHECK_EQ(nvme_ns_verify_enable(d->ch, 1, FD_BS, FD_LBAS, 0, 0), 0);
	CHECK_EQ(nvme_ns_verify_enable(d->ch, 1, FD_BS, FD_LBAS, 0, 0), 0); /* again: kept */
	CHECK_EQ(nvme_verify_token(&tok, sizeof(tok)), 0);
	/* a write is stamped and recorded */
	CHECK_EQ(io_sync(d, 0x01, w, 0, 100, 8, NULL), 0);
	for (unsigned i = 0; i < 8; i++) {
		uint64_t v;

		memcpy(&v, w->vaddr + i * FD_BS, 8);
		CHECK_EQ(v, 100 + i);
		memcpy(&v, w->vaddr + i * FD_BS + FD_BS - 8, 8);
		CHECK_EQ(v, tok.next + i);
		CHECK_EQ(entry(d, 100 + i), crc32c_entry(crc32c(0, w->vaddr + i * FD_BS, FD_BS)));
	}
	CHECK_EQ(entry(d, 108), NVME_VT_NEVER);
	/* the token advanced by 8 */
	{
		struct nvme_verify_token_info t2;

		CHECK_EQ(nvme_verify_token(&t2, sizeof(t2)), 0);
		CHECK_EQ(t2.next, tok.next + 8);
	}
	/* reads verify */
	CHECK_EQ(io_sync(d, 0x02, r, 0, 96, 16, &flags), 0);
	CHECK_EQ(flags, 0);
	/* corrupt LBA 103 on the medium */
	d->media[103 * FD_BS + 200] ^= 0x40;
	CHECK_EQ(io_sync(d, 0x02, r, 0, 96, 16, &flags), (int)NVME_STATUS_VERIFY);
	CHECK_EQ(flags, NVME_CPL_VERIFY_CRC);
	CHECK_EQ(nvme_sq_verify_report(d->sqh, 7, &rep, sizeof(rep)), 0);
	CHECK_EQ(rep.kind, NVME_VERIFY_CRC);
	CHECK_EQ(rep.lba, 103);
	CHECK_EQ(rep.last_lba, 103);
	CHECK_EQ(rep.expected, entry(d, 103));
	CHECK_EQ(rep.nbad, 1);
	CHECK_EQ(rep.nsid, 1);
	CHECK_EQ(rep.slba, 96);
	CHECK_EQ(rep.nlb, 16);
	CHECK_EQ(nvme_sq_verify_report(d->sqh, 8, &rep, sizeof(rep)), -ENOENT);
	d->media[103 * FD_BS + 200] ^= 0x40;
	/* LBA 100's data on LBA 105: a mapping error */
	memcpy(d->media + 105 * FD_BS, d->media + 100 * FD_BS, FD_BS);
	CHECK_EQ(io_sync(d, 0x02, r, 0, 105, 1, &flags), (int)NVME_STATUS_VERIFY);
	CHECK_EQ(flags, NVME_CPL_VERIFY_LBA);
	CHECK_EQ(nvme_sq_verify_report(d->sqh, 7, &rep, sizeof(rep)), 0);
	CHECK_EQ(rep.kind, NVME_VERIFY_LBA);
	CHECK_EQ(rep.lba, 105);
	CHECK_EQ(rep.found_lba, 100);
	/* a rewrite fixes it */
	CHECK_EQ(io_sync(d, 0x01, w, 0, 105, 1, NULL), 0);
	CHECK_EQ(io_sync(d, 0x02, r, 0, 96, 16, &flags), 0);

	CHECK_EQ(nvme_ns_verify_stats(d->ch, 1, &st, sizeof(st)), 0);
	CHECK_EQ(st.on, 1);
	CHECK_EQ(st.lba_size, FD_BS);
	CHECK_EQ(st.limit, FD_LBAS);
	CHECK_EQ(st.stamped, 9);  /* stamped */
	CHECK_EQ(st.bad_blocks, 2); /* bad blocks */
	CHECK_EQ(st.bad_cmds, 2); /* failed reads */

	/* write zeroes: the zero CRC; zeroes read back pass */
	CHECK_EQ(io_sync(d, 0x08, NULL, 0, 100, 2, NULL), 0);
	CHECK_EQ(entry(d, 100), crc32c_entry(crc32c(0, (uint8_t[FD_BS]){ 0 }, FD_BS)));
	CHECK_EQ(io_sync(d, 0x02, r, 0, 96, 16, &flags), 0);
	/* write uncorrectable (success): a good read of it fails */
	CHECK_EQ(io_sync(d, 0x04, NULL, 0, 101, 1, NULL), 0);
	CHECK_EQ(entry(d, 101), NVME_VT_UNC);
	CHECK_EQ(io_sync(d, 0x02, r, 0, 101, 1, &flags), (int)NVME_STATUS_VERIFY);
	CHECK_EQ(flags, NVME_CPL_VERIFY_UNC);

	/* a write rejected (00/80) changes nothing, a failed one (00/06) forgets */
	{
		uint32_t before = entry(d, 102);

		CHECK(before != NVME_VT_NEVER);
		CHECK(io(d, 0x01, w, 0, 102, 1, 7) >= 0);
		fdev_step(d, 0, 0x080);
		CHECK_EQ(fdev_reap(d, 0, NULL), 0x080);
		CHECK_EQ(entry(d, 102), before);
		CHECK(io(d, 0x01, w, 0, 102, 1, 7) >= 0);
		fdev_step(d, 0, 0x006);
		CHECK_EQ(fdev_reap(d, 0, NULL), 0x006);
		CHECK_EQ(entry(d, 102), NVME_VT_NEVER);
	}
out:
	if (w)
		nvme_buf_put(w);
	if (r)
		nvme_buf_put(r);
	fdev_free(d);
}

TEST(verify_hooks_locks_and_lifecycle)
{
	struct fdev *d;
	struct nvme_buf *w, *r;
	uint32_t flags = 0;
	struct nvme_verify_stats st;

	setenv("DENVME_DMA_MB", "64", 1);
	if (!CHECK(nvme_arena_get()) || !CHECK(d = fdev_new()))
		return;
	w = nvme_buf_new(64 * FD_BS);
	r = nvme_buf_new(64 * FD_BS);
	if (!CHECK(w && r))
		goto out;
	CHECK_EQ(nvme_ns_verify_enable(d->ch, 1, FD_BS, FD_LBAS, 0, 0), 0);

	/* a write in flight locks its LBAs and its buffer region */
	CHECK(io(d, 0x01, w, 0, 200, 4, 1) >= 0);
	CHECK_EQ(io(d, 0x02, r, 0, 203, 1, 2), -EAGAIN); /* overlapping LBAs */
	CHECK(strstr(nvme_get_error(), "locked"));
	CHECK_EQ(io(d, 0x01, w, 0, 300, 1, 2), -EAGAIN); /* same buffer bytes */
	CHECK(strstr(nvme_get_error(), "buffer"));
	CHECK_EQ(io(d, 0x05, w, 0, 600, 1, 2), -EAGAIN); /* a Compare from those bytes */
	CHECK_EQ(io(d, 0x01, w, 8 * FD_BS, 300, 1, 2) >= 0, 1); /* elsewhere: fine */
	CHECK(io(d, 0x02, r, 0, 204, 1, 3) >= 0);		 /* adjacent LBA: fine */
	CHECK_EQ(nvme_ns_verify_disable(d->ch, 1), -EBUSY);	 /* commands in flight */
	for (int i = 0; i < 3; i++)
		fdev_step(d, 0, 0);
	CHECK_EQ(fdev_reap(d, 0, NULL), 0);
	CHECK_EQ(nvme_vlocks_count(&d->c->verify->direct[1]->locks), 0);
	CHECK_EQ(d->c->verify->direct[1]->refs, 0);
	CHECK_EQ(io_sync(d, 0x02, r, 0, 200, 5, &flags), 0);
	CHECK(entry(d, 203) != NVME_VT_NEVER);

	/* a write lost to a reset (abandoned) leaves its LBAs unknown and unlocked */
	CHECK(io(d, 0x01, w, 0, 200, 2, 1) >= 0);
	CHECK_EQ(nvme_sq_fail_all(d->sq, d->out, 64), 1);
	CHECK_EQ(d->out[0].flags, NVME_CPL_GONE);
	CHECK_EQ(entry(d, 200), NVME_VT_NEVER);
	CHECK_EQ(entry(d, 201), NVME_VT_NEVER);
	CHECK(entry(d, 202) != NVME_VT_NEVER);
	CHECK_EQ(nvme_vlocks_count(&d->c->verify->direct[1]->locks), 0);
	d->q[1].head = d->sq->tail; /* the device never saw it */

	/* DSM deallocate: ranges become never written */
	CHECK_EQ(io_sync(d, 0x01, w, 0, 200, 6, NULL), 0);
	{
		uint32_t range[4] = { 0, 3, 201, 0 }; /* 3 LBAs from 201 */
		uint8_t sqe[64] = { 0x09 };
		uint32_t nsid = 1, ad = 4;

		memcpy(r->vaddr, range, 16);
		memcpy(sqe + 4, &nsid, 4);
		memcpy(sqe + 44, &ad, 4);
		CHECK(nvme_sq_submit(d->sq, sqe, r, 0, 16, 5, 0) >= 0);
		CHECK_EQ(io(d, 0x02, w, 8 * FD_BS, 203, 1, 6), -EAGAIN); /* in a range */
		fdev_step(d, 0, 0);
		CHECK_EQ(fdev_reap(d, 0, NULL), 0);
		CHECK(entry(d, 200) != NVME_VT_NEVER);
		CHECK_EQ(entry(d, 201), NVME_VT_NEVER);
		CHECK_EQ(entry(d, 203), NVME_VT_NEVER);
		CHECK(entry(d, 204) != NVME_VT_NEVER);
	}

	/* Copy: destination entries from the sources */
	{
		uint8_t sqe[64] = { 0x19 }, desc[64] = { 0 };
		uint32_t nsid = 1, cdw12 = 1; /* two format-0 descriptors */
		uint64_t dst = 400, s0 = 204, s1 = 100;
		uint16_t n0 = 0, n1 = 1; /* 1 and 2 LBAs */

		memcpy(desc + 8, &s0, 8);
		memcpy(desc + 16, &n0, 2);
		memcpy(desc + 32 + 8, &s1, 8);
		memcpy(desc + 32 + 16, &n1, 2);
		memcpy(r->vaddr, desc, 64);
		memcpy(sqe + 4, &nsid, 4);
		memcpy(sqe + 40, &dst, 8);
		memcpy(sqe + 48, &cdw12, 4);
		CHECK(nvme_sq_submit(d->sq, sqe, r, 0, 64, 5, 0) >= 0);
		CHECK_EQ(io(d, 0x01, w, 8 * FD_BS, 401, 1, 6), -EAGAIN); /* destination */
		CHECK_EQ(io(d, 0x01, w, 8 * FD_BS, 101, 1, 6), -EAGAIN); /* source */
		fdev_step(d, 0, 0);
		CHECK_EQ(fdev_reap(d, 0, NULL), 0);
		CHECK(entry(d, 400) != NVME_VT_NEVER);
		CHECK_EQ(entry(d, 400), entry(d, 204));
		CHECK_EQ(entry(d, 401), entry(d, 100));
		CHECK_EQ(entry(d, 402), entry(d, 101));
		CHECK_EQ(entry(d, 403), NVME_VT_NEVER);
	}

	/* a write in flight across a clear (format) is not trusted afterwards */
	CHECK(io(d, 0x01, w, 0, 500, 1, 1) >= 0);
	CHECK_EQ(nvme_ns_verify_clear(d->ch, 1), 1);
	fdev_step(d, 0, 0);
	CHECK_EQ(fdev_reap(d, 0, NULL), 0);
	CHECK_EQ(entry(d, 500), NVME_VT_NEVER);
	CHECK_EQ(entry(d, 204), NVME_VT_NEVER);

	/* Format NVM on the admin queue clears the table */
	CHECK_EQ(io_sync(d, 0x01, w, 0, 600, 2, NULL), 0);
	CHECK(entry(d, 600) != NVME_VT_NEVER);
	{
		uint8_t sqe[64] = { 0x80 };
		uint32_t nsid = 1;

		memcpy(sqe + 4, &nsid, 4);
		CHECK(nvme_sq_submit(d->asq, sqe, NULL, 0, 0, 9, 0) >= 0);
		fdev_step(d, 1, 0x10a); /* invalid format: nothing happened */
		CHECK_EQ(fdev_reap(d, 1, NULL), 0x10a);
		CHECK(entry(d, 600) != NVME_VT_NEVER);
		CHECK(nvme_sq_submit(d->asq, sqe, NULL, 0, 0, 9, 0) >= 0);
		fdev_step(d, 1, 0);
		CHECK_EQ(fdev_reap(d, 1, NULL), 0);
		CHECK_EQ(entry(d, 600), NVME_VT_NEVER);
	}
	/* sanitize clears too */
	CHECK_EQ(io_sync(d, 0x01, w, 0, 600, 2, NULL), 0);
	{
		uint8_t sqe[64] = { 0x84 };

		CHECK(nvme_sq_submit(d->asq, sqe, NULL, 0, 0, 9, 0) >= 0);
		fdev_step(d, 1, 0);
		CHECK_EQ(fdev_reap(d, 1, NULL), 0);
		CHECK_EQ(entry(d, 600), NVME_VT_NEVER);
	}

	/* a limit: LBAs past it are stamped but neither kept nor locked */
	CHECK_EQ(nvme_ns_verify_enable(d->ch, 1, FD_BS, FD_LBAS, 1000, 0), 0);
	CHECK_EQ(nvme_ns_verify_stats(d->ch, 1, &st, sizeof(st)), 0);
	CHECK_EQ(st.limit, 1000);
	CHECK_EQ(st.stamped, 0); /* reconfigured: statistics start again */
	CHECK_EQ(io_sync(d, 0x01, w, 0, 998, 4, NULL), 0);
	CHECK(entry(d, 999) != NVME_VT_NEVER);
	CHECK_EQ(entry(d, 1000), NVME_VT_NEVER);
	{
		uint64_t v;

		memcpy(&v, w->vaddr + 3 * FD_BS, 8);
		CHECK_EQ(v, 1001);
	}
	d->media[1001 * FD_BS] ^= 1;
	CHECK_EQ(io_sync(d, 0x02, r, 0, 998, 4, &flags), 0);

	/* off again: no stamping, no checks; the statistics say so */
	CHECK_EQ(nvme_ns_verify_disable(d->ch, 1), 0);
	CHECK_EQ(nvme_ns_verify_disable(d->ch, 1), 0);
	CHECK_EQ(nvme_ns_verify_stats(d->ch, 1, &st, sizeof(st)), 0);
	CHECK_EQ(st.on, 0);
	d->media[998 * FD_BS + 9] ^= 1;
	CHECK_EQ(io_sync(d, 0x02, r, 0, 998, 4, &flags), 0);
	memset(w->vaddr, 0x11, FD_BS);
	CHECK_EQ(io_sync(d, 0x01, w, 0, 998, 1, NULL), 0);
	CHECK_EQ(w->vaddr[0], 0x11);
out:
	if (w)
		nvme_buf_put(w);
	if (r)
		nvme_buf_put(r);
	fdev_free(d);
}

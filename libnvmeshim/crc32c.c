/* SPDX-License-Identifier: MIT */
/*
 * crc32c.c - CRC-32C: SSE4.2 (three streams, shift-table combine) and a
 * slicing-by-8 table fallback. The hardware path follows Mark Adler's
 * crc32c.c (zlib license): the crc32 instruction has a latency of three cycles
 * and a throughput of one, so three independent streams run in parallel and
 * are combined by "appending zeros" operators built from GF(2) matrices.
 */
#include <string.h>

#include "crc32c.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define POLY 0x82f63b78u

/* stream lengths of the three-way hardware loop: powers of two */
#define HW_LONG 1024u
#define HW_SHORT 128u

static uint32_t sw_table[8][256];
static uint32_t hw_long[4][256], hw_short[4][256];
static bool have_hw;

/* --- GF(2) operators to append zero bytes to a CRC (Adler) --------------------- */

static uint32_t gf2_matrix_times(const uint32_t *mat, uint32_t vec)
{
	uint32_t sum = 0;

	while (vec) {
		if (vec & 1)
			sum ^= *mat;
		vec >>= 1;
		mat++;
	}
	return sum;
}

static void gf2_matrix_square(uint32_t *square, const uint32_t *mat)
{
	for (int n = 0; n < 32; n++)
		square[n] = gf2_matrix_times(mat, mat[n]);
}

/* the operator that appends @len zero bytes (@len a power of two) */
static void zeros_op(uint32_t *even, size_t len)
{
	uint32_t odd[32], row = 1;

	odd[0] = POLY; /* one zero bit */
	for (int n = 1; n < 32; n++) {
		odd[n] = row;
		row <<= 1;
	}
	gf2_matrix_square(even, odd); /* two zero bits */
	gf2_matrix_square(odd, even); /* four */
	do {
		gf2_matrix_square(even, odd); /* one byte, then four, ... */
		len >>= 1;
		if (!len)
			return;
		gf2_matrix_square(odd, even);
		len >>= 1;
	} while (len);
	memcpy(even, odd, sizeof(odd));
}

/* byte-wise tables applying zeros_op(@len) to a 32-bit CRC register */
static void zeros_table(uint32_t zeros[4][256], size_t len)
{
	uint32_t op[32];

	zeros_op(op, len);
	for (uint32_t n = 0; n < 256; n++) {
		zeros[0][n] = gf2_matrix_times(op, n);
		zeros[1][n] = gf2_matrix_times(op, n << 8);
		zeros[2][n] = gf2_matrix_times(op, n << 16);
		zeros[3][n] = gf2_matrix_times(op, n << 24);
	}
}

static inline uint32_t shift(uint32_t zeros[4][256], uint32_t crc)
{
	return zeros[0][crc & 0xff] ^ zeros[1][(crc >> 8) & 0xff] ^ zeros[2][(crc >> 16) & 0xff] ^
	       zeros[3][crc >> 24];
}

/* Tables are built when the library is loaded: no first-use check per block. */
__attribute__((constructor)) static void crc32c_init(void)
{
	for (uint32_t n = 0; n < 256; n++) {
		uint32_t c = n;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		sw_table[0][n] = c;
	}
	for (uint32_t n = 0; n < 256; n++)
		for (int k = 1; k < 8; k++)
			sw_table[k][n] = (sw_table[k - 1][n] >> 8) ^ sw_table[0][sw_table[k - 1][n] & 0xff];
#if defined(__x86_64__)
	__builtin_cpu_init();
	have_hw = __builtin_cpu_supports("sse4.2");
#endif
	zeros_table(hw_long, HW_LONG);
	zeros_table(hw_short, HW_SHORT);
}

/* --- software: slicing by 8 ------------------------------------------------------- */

uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	crc = ~crc;
	while (len && ((uintptr_t)p & 7)) {
		crc = sw_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
		len--;
	}
	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		w ^= crc; /* little endian: the CRC meets the first four bytes */
		crc = sw_table[7][w & 0xff] ^ sw_table[6][(w >> 8) & 0xff] ^
		      sw_table[5][(w >> 16) & 0xff] ^ sw_table[4][(w >> 24) & 0xff] ^
		      sw_table[3][(w >> 32) & 0xff] ^ sw_table[2][(w >> 40) & 0xff] ^
		      sw_table[1][(w >> 48) & 0xff] ^ sw_table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = sw_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* --- hardware: SSE4.2 ---------------------------------------------------------------- */

#if defined(__x86_64__)
static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

__attribute__((target("sse4.2"))) uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *next = buf, *end;
	uint64_t crc0 = ~crc & 0xffffffffu, crc1, crc2;

	while (len && ((uintptr_t)next & 7)) {
		crc0 = _mm_crc32_u8((uint32_t)crc0, *next++);
		len--;
	}
	while (len >= 3 * HW_LONG) {
		crc1 = crc2 = 0;
		end = next + HW_LONG;
		do {
			crc0 = _mm_crc32_u64(crc0, load64(next));
			crc1 = _mm_crc32_u64(crc1, load64(next + HW_LONG));
			crc2 = _mm_crc32_u64(crc2, load64(next + 2 * HW_LONG));
			next += 8;
		} while (next < end);
		crc0 = shift(hw_long, (uint32_t)crc0) ^ crc1;
		crc0 = shift(hw_long, (uint32_t)crc0) ^ crc2;
		next += 2 * HW_LONG;
		len -= 3 * HW_LONG;
	}
	while (len >= 3 * HW_SHORT) {
		crc1 = crc2 = 0;
		end = next + HW_SHORT;
		do {
			crc0 = _mm_crc32_u64(crc0, load64(next));
			crc1 = _mm_crc32_u64(crc1, load64(next + HW_SHORT));
			crc2 = _mm_crc32_u64(crc2, load64(next + 2 * HW_SHORT));
			next += 8;
		} while (next < end);
		crc0 = shift(hw_short, (uint32_t)crc0) ^ crc1;
		crc0 = shift(hw_short, (uint32_t)crc0) ^ crc2;
		next += 2 * HW_SHORT;
		len -= 3 * HW_SHORT;
	}
	end = next + (len & ~(size_t)7);
	while (next < end) {
		crc0 = _mm_crc32_u64(crc0, load64(next));
		next += 8;
	}
	len &= 7;
	while (len--)
		crc0 = _mm_crc32_u8((uint32_t)crc0, *next++);
	return ~(uint32_t)crc0;
}
#else
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
	return crc32c_sw(crc, buf, len);
}
#endif

bool crc32c_hw_available(void)
{
	return have_hw;
}

const char *crc32c_impl(void)
{
	return have_hw ? "sse4.2" : "table";
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	return have_hw ? crc32c_hw(crc, buf, len) : crc32c_sw(crc, buf, len);
}

/* SPDX-License-Identifier: MIT */
/*
 * crc32c.h - CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of the per-LBA verification table (verify.h).
 *
 * Two implementations compute the same function: the SSE4.2 crc32 instruction
 * (three independent streams per block, combined with precomputed shift
 * tables, as in Mark Adler's crc32c.c), used when the CPU has it, and a
 * slicing-by-8 table for every other CPU. crc32c() picks one at first use;
 * both are exported for the unit tests, which check them against the iSCSI
 * (RFC 3720) vectors and against each other.
 *
 * Conventions: @crc is the CRC of the bytes before (0 to start), the result is
 * the CRC of everything so far, so crc32c(crc32c(0, a), b) == crc32c(0, a||b).
 * crc32c(0, "123456789", 9) == 0xE3069283.
 */
#ifndef NVMESHIM_CRC32C_H
#define NVMESHIM_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * crc32c() - CRC-32C of @len bytes at @buf, continuing @crc.
 * @crc: CRC of the preceding bytes, 0 for none
 * @buf: the data (any alignment)
 * @len: bytes
 *
 * Return: the CRC.
 */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

/** crc32c_sw() - crc32c() with the portable table implementation. */
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

/**
 * crc32c_hw() - crc32c() with the SSE4.2 crc32 instruction.
 *
 * Only call it when crc32c_hw_available() says so.
 */
uint32_t crc32c_hw(uint32_t crc, const void *buf, size_t len);

/** crc32c_hw_available() - true when the CPU has SSE4.2 (and this is x86-64). */
bool crc32c_hw_available(void);

/** crc32c_impl() - "sse4.2" or "table": what crc32c() uses on this CPU. */
const char *crc32c_impl(void);

#endif

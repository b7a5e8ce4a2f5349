/* SPDX-License-Identifier: MIT */
/*
 * verify_int.h - what the files of data verification share inside the library
 * (not exported): little-endian field access, counters, the host memory lock
 * map, the controller's table registry and the command parser.
 *
 *	verify_locks.c	LBA and host memory lock maps
 *	verify_table.c	write stamping and the per-LBA CRC table
 *	verify_cmd.c	NVMe command parsing: what a command does to the data
 *	verify.c	the controller's tables and the submission/completion hooks
 *	verify_api.c	the exported functions (nvme_ns_verify_*, ...)
 */
#ifndef NVMESHIM_VERIFY_INT_H
#define NVMESHIM_VERIFY_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "verify.h"

#define LOCK_MIN_BITS 6u /* one word */

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

static inline uint32_t log2_ceil(uint64_t n)
{
	uint32_t b = 0;

	while (b < 63 && (1ull << b) < n)
		b++;
	return b;
}

static inline void *map_zero(uint64_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * map_zero_hot() - map_zero() for memory that random writes touch all over
 * (the table's directory, the lock bitmap): in huge pages where the kernel
 * allows, and faulted in now when small enough (at most @prefault bytes), so
 * that the IO path does not take one page fault per 4 KiB touched first.
 */
static inline void *map_zero_hot(uint64_t bytes, uint64_t prefault)
{
	uint8_t *p = map_zero(bytes);

	if (!p)
		return NULL;
#ifdef MADV_HUGEPAGE
	if (bytes >= (2u << 20))
		madvise(p, bytes, MADV_HUGEPAGE);
#endif
#ifdef MADV_POPULATE_WRITE
	if (bytes <= prefault && madvise(p, bytes, MADV_POPULATE_WRITE) == 0)
		return p;
#endif
	for (uint64_t o = 0; bytes <= prefault && o < bytes; o += 4096)
		p[o] = 0;
	return p;
}

/* clip [lba, lba + n) to the table's limit; return the LBAs left */
static inline uint64_t nvme_vtab_clip(const struct nvme_vtab *vt, uint64_t lba, uint64_t n)
{
	if (lba >= vt->limit)
		return 0;
	return n < vt->limit - lba ? n : vt->limit - lba;
}

/* the write token: process-wide, so blocks written by any queue or thread differ */
extern uint64_t nvme_vwrite_token;

/* the host memory lock map (one bit per NVME_VT_HOST_GRANULE of the DMA arena), NULL without one */
struct nvme_vlocks *nvme_vhost_locks(void);

/* the controller's tables (verify.c) */
struct nvme_vreg *nvme_vreg_get(struct nvme_ctrl *c, bool create);
struct nvme_vtab *nvme_vreg_lookup(struct nvme_vreg *r, uint32_t nsid);
void nvme_vreg_clear_tables(struct nvme_vreg *r, bool all, uint32_t nsid, uint32_t ses);
const struct nvme_verify_report *nvme_vreg_find_report(struct nvme_vreg *r, uint32_t sqh,
							 uint32_t tag);
bool nvme_vtab_attach(struct nvme_vtab *vt);
void nvme_vtab_detach(struct nvme_vtab *vt);
bool nvme_vtab_quiesce(struct nvme_vtab *vt, int to);
void nvme_vtab_clear_on(struct nvme_vtab *vt);

/*
 * nvme_vcmd_parse() - what an I/O command does to the data (verify_cmd.c): sets
 * v->op, v->slba, v->nlb and, for Dataset Management (deallocate) and Copy, the
 * ranges read from @data. Return: 1 when the command is followed, 0 when it is
 * not (it changes no data, or a fused Compare), or a negative errno.
 */
int nvme_vcmd_parse(struct nvme_vcmd *v, const uint8_t *sqe, const uint8_t *data, uint64_t len,
		    uint32_t lba_size);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * ioworker.h - the IO engine behind Namespace.ioworker(): a per-IO loop in C
 * (pynvme's ioworker semantics) that drives one IO queue pair from its own
 * thread, with no FFI call per IO.
 *
 * Threading model. The TypeScript side creates the queue pair on the main
 * thread (admin Create I/O CQ/SQ) and hands its SQ/CQ handles to a Deno Worker,
 * which calls nvme_ioworker_run(); that call blocks the worker thread until the
 * workload ends. While it runs the queues are "privately rung": the worker owns
 * them (nvme_sq.priv / nvme_cq.priv), nvme_ctrl_flush() skips them and the worker
 * writes their SQ tail and CQ head doorbells itself, in one batched register
 * exchange per loop iteration. Everything the script sees (stop flag, progress,
 * results, histogram, per-second counts, the last-N IO ring) lives in one block
 * of shared memory (a SharedArrayBuffer passed as a buffer parameter), laid out
 * as struct iow_shm followed by the variable parts at offsets from
 * iow_shm_layout().
 *
 * Stopping. The worker ends by itself (time, IO count, sequence exhausted, first
 * error), when the script sets iow_shm.stop (IOW_STOP_DRAIN: stop submitting and
 * let in-flight IOs complete; IOW_STOP_NOW: leave at once, e.g. before a
 * controller reset), when its queue is being freed (nvme_sq_free() asks and
 * waits), when the device is gone or the controller is not ready any more
 * (CSTS is checked after 100 ms without progress), on a per-IO timeout (the
 * controller's), or at the guard time (time + 30 s).
 *
 * The pure parts (size/op/distribution tables, LBA generation, throttle
 * arithmetic, histogram and percentiles, data patterns) are declared below the
 * exported API so tests/test_ioworker.c can check them without a device.
 */
#ifndef NVMESHIM_IOWORKER_H
#define NVMESHIM_IOWORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "nvmeshim.h"
#include "nvmeshim_ioworker.h"

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull
#define MAX_IPS (1u << 22)     /* per-second slots of one run */
#define MAX_CMDLOG (1u << 20)  /* entries of the last-IO ring */

/* --- pure parts (ioworker_gen.c), unit tested --------------------------------------------- */

/** iow_hist_index() - bucket of a latency of @us microseconds. */
uint32_t iow_hist_index(uint64_t us);
/** iow_hist_low()/iow_hist_high() - smallest and largest value of bucket @i. */
uint64_t iow_hist_low(uint32_t i);
uint64_t iow_hist_high(uint32_t i);
/**
 * iow_hist_percentile() - the latency at percentile @pct (0 < pct <= 100): the
 * highest value of the first bucket where the cumulative count reaches
 * ceil(pct / 100 * total). Return: microseconds, 0 for an empty histogram.
 */
uint64_t iow_hist_percentile(const uint64_t *hist, uint64_t total, double pct);
/**
 * iow_hist_percentile_max() - iow_hist_percentile(), never above @max_us (the
 * largest latency observed): a bucket's highest value can exceed every latency
 * in it. Return: microseconds.
 */
uint64_t iow_hist_percentile_max(const uint64_t *hist, uint64_t total, double pct,
				 uint64_t max_us);

/* Random numbers: xoshiro256**, seeded with splitmix64. */
struct iow_rng {
	uint64_t s[4];
};

void iow_rng_seed(struct iow_rng *r, uint64_t seed);
uint64_t iow_rng_next(struct iow_rng *r);
/** iow_rng_below() - uniform in [0, n) (n > 0). */
static inline uint64_t iow_rng_below(struct iow_rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)iow_rng_next(r) * n) >> 64);
}

/** Everything that decides the next IO, built from struct iow_args. */
struct iow_gen {
	struct iow_rng rng;
	uint64_t rs, re;   /* region [rs, re) */
	uint64_t cursor;   /* next sequential LBA */
	int32_t step;
	bool has_step;
	bool has_dist;
	uint32_t lba_random;
	uint32_t nsizes;
	uint32_t size_total;	      /* slots used in size_slot[] (sum of the weights) */
	uint16_t size_slot[IOW_MAX_WEIGHT];
	struct iow_size sizes[IOW_MAX_SIZES];
	uint8_t op_slot[100];
	uint8_t dist_slot[IOW_DIST_TOTAL];
};

/**
 * iow_gen_init() - check @a and build the tables.
 * Return: 0, or -EINVAL with nvme_get_error() naming the bad field.
 */
int iow_gen_init(struct iow_gen *g, const struct iow_args *a);

/** One generated IO. */
struct iow_io {
	uint64_t slba;
	uint32_t nlb;
	uint8_t opcode;
};

/** iow_gen_next() - the next IO of the workload. */
void iow_gen_next(struct iow_gen *g, struct iow_io *io);

/**
 * iow_lba_random() - a random start LBA for an IO of @nlb LBAs aligned to @align
 * in [lo, hi): uniform over the aligned starts where the whole IO fits; when
 * none fits, the first aligned start (the caller truncates at @hi).
 */
uint64_t iow_lba_random(struct iow_rng *r, uint64_t lo, uint64_t hi, uint32_t nlb, uint32_t align);

/**
 * iow_due_ns() - when IO number @k is due under a throttle of @iops per second,
 * relative to the start: exactly k * 1e9 / iops (floor), without overflow.
 */
uint64_t iow_due_ns(uint64_t k, uint32_t iops);

/**
 * iow_fill() - fill @len bytes with a data pattern: ptype 0: zeros (pvalue 0) or
 * ones; 32: the 32-bit pvalue repeated; 0xBEEF: the first pvalue percent of each
 * @block bytes random, the rest zero (a compressibility knob per LBA).
 * Return: 0 or -EINVAL for an unknown ptype.
 */
int iow_fill(uint8_t *p, uint64_t len, uint32_t block, uint32_t ptype, uint32_t pvalue,
	     struct iow_rng *r);

/** iow_shm_layout() - offsets of the variable parts (see struct nvme_iow_layout). */
void iow_shm_layout(uint32_t ips_n, uint32_t cmdlog_n, struct nvme_iow_layout *l);

/**
 * iow_data_dir() - data transfer of an opcode: 0 none, 1 host to controller,
 * 2 controller to host (bits 1:0 of the opcode; flush has no LBA range, DSM
 * moves one 16-byte range descriptor).
 */
static inline unsigned iow_data_dir(uint8_t opcode)
{
	return opcode & 3u;
}

#endif

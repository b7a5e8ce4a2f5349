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

#define IOW_ARGS_MAGIC 0x31574f49u /* "IOW1" */
#define IOW_SHM_MAGIC 0x314d4853u  /* "SHM1" */

#define IOW_MAX_SIZES 1024    /* distinct IO sizes */
#define IOW_MAX_WEIGHT 10000u /* sum of the size weights (pynvme's table) */
#define IOW_MAX_OPS 256	      /* (opcode, percent) pairs */
#define IOW_MAX_PCT 64	      /* latency percentiles requested */
#define IOW_DIST_SLICES 100   /* distribution: slices of the region */
#define IOW_DIST_TOTAL 10000u /* ... whose IO counts sum to this */
#define IOW_MAX_QDEPTH 1024u
#define IOW_MAX_BUF_BYTES (256ull << 20) /* DMA memory of one worker's data slots */

/* iow_args.flags */
#define IOW_F_STEP 0x1	       /* lba_step is set (else sequential IO is contiguous) */
#define IOW_F_DISTRIBUTION 0x2 /* distribution[] is used (random IO only) */
#define IOW_F_SEQUENCE 0x4     /* replay the sequence records, ignore the generator */

/* iow_shm.stop, written by the script */
#define IOW_STOP_NONE 0
#define IOW_STOP_DRAIN 1 /* stop submitting, complete what is in flight */
#define IOW_STOP_NOW 2	 /* leave now; in-flight IOs stay with the queue (reset) */

/* iow_shm.state, written by the worker */
#define IOW_ST_IDLE 0
#define IOW_ST_RUNNING 1
#define IOW_ST_DRAINING 2 /* no more submissions, waiting for in-flight IOs */
#define IOW_ST_DONE 3

/*
 * iow_shm.host_error: pynvme's host error codes (-1 .. -7) and two more.
 * The device status of the first failing IO is iow_shm.error, separately.
 */
#define IOW_OK 0
#define IOW_E_INIT (-1)	      /* bad arguments or queues: the loop did not start */
#define IOW_E_MDTS (-2)	      /* an IO larger than the transfer limit */
#define IOW_E_IO_TIMEOUT (-3) /* an IO was not completed within the controller's timeout */
#define IOW_E_GUARD (-4)      /* still running at time + 30 s */
#define IOW_E_NOMEM (-5)      /* no DMA memory for the data buffers */
#define IOW_E_SUBMIT (-6)     /* a submission failed */
#define IOW_E_TERMINATED (-7) /* stopped by IOW_STOP_NOW or queue teardown */
#define IOW_E_GONE (-8)	      /* the device is gone */
#define IOW_E_NOT_READY (-9)  /* the controller is not ready (reset, FLR, fatal status) */

/* The workload, filled by TypeScript (ffi/ioworker.ts mirrors the offsets). */
struct iow_size {
	uint32_t lbas;	 /* LBAs per IO, 1..max_lbas */
	uint32_t weight; /* relative frequency, >= 1 */
	uint32_t align;	 /* start LBA alignment, >= 1 */
	uint32_t pad;
};

struct iow_op {
	uint32_t opcode;  /* 0..255 */
	uint32_t percent; /* 1..100; all entries sum to 100 */
};

struct iow_args {
	uint32_t magic; /* IOW_ARGS_MAGIC */
	uint32_t size;	/* sizeof(struct iow_args) */
	uint32_t nsid;
	uint32_t lba_size;     /* bytes per LBA */
	uint64_t region_start; /* first LBA of the region */
	uint64_t region_end;   /* one past its last LBA */
	uint64_t lba_start;    /* first LBA of sequential IO */
	uint64_t io_count;     /* IOs to complete, 0: no limit */
	uint64_t time_ms;      /* run time, 0: no limit */
	uint64_t seed;	       /* random generator seed */
	uint32_t iops;	       /* throttle, 0: unlimited */
	uint32_t qdepth;       /* queue entries; qdepth - 1 IOs in flight */
	uint32_t lba_random;   /* percent of IOs at random LBAs, 0..100 */
	int32_t lba_step;      /* with IOW_F_STEP: next sequential LBA = previous + step */
	uint32_t flags;	       /* IOW_F_* */
	uint32_t ptype;	       /* write data pattern: 0, 32 or 0xBEEF (as Buffer) */
	uint32_t pvalue;
	uint32_t max_lbas;   /* largest transfer in LBAs (the data slot size) */
	uint32_t nsizes;     /* entries in sizes[] */
	uint32_t nops;	     /* entries in ops[] */
	uint32_t npct;	     /* entries in pct[] */
	uint32_t nseq;	     /* records in the sequence (IOW_F_SEQUENCE) */
	uint32_t cmdlog_n;   /* entries of the last-N IO ring (0: none) */
	uint32_t ips_n;	     /* per-second slots */
	uint32_t guard_ms;   /* the guard after time_ms (0: 30 s, pynvme's); for tests */
	uint32_t reserved;
	struct iow_size sizes[IOW_MAX_SIZES];
	struct iow_op ops[IOW_MAX_OPS];
	uint32_t distribution[IOW_DIST_SLICES];
	double pct[IOW_MAX_PCT]; /* latency percentiles to compute, (0, 100] */
};

/* One IO of a replayed trace (pynvme io_sequence). */
struct iow_seq {
	uint64_t time_us; /* submit time relative to the start */
	uint64_t slba;
	uint32_t nlb; /* LBAs, 1..max_lbas (ignored for flush) */
	uint32_t opcode;
};

/* One completed IO in the last-N ring. */
struct iow_rec {
	uint64_t slba;
	uint64_t time_us; /* completion time relative to the start */
	uint32_t nlb;
	uint32_t latency_us;
	uint16_t status; /* (SCT << 8) | SC */
	uint8_t opcode;
	uint8_t flags; /* NVME_CPL_* */
	uint16_t cid;
	uint16_t pad;
};

/* Shared memory header; the per-second counts, IO ring and histogram follow. */
struct iow_shm {
	/* words the script waits on and writes (Int32Array view, Atomics) */
	uint32_t magic;	 /* IOW_SHM_MAGIC, written by the script */
	uint32_t stop;	 /* IOW_STOP_*, written by the script */
	uint32_t state;	 /* IOW_ST_*, written by the worker */
	uint32_t done;	 /* set (and notified) by the Deno worker after the call returned */
	int32_t host_error;  /* IOW_OK or IOW_E_* */
	uint32_t error;	     /* (SCT << 8) | SC of the first failing IO, 0: none */
	uint32_t error_opcode;
	uint32_t error_nlb;
	uint64_t error_lba;
	/* progress (updated every loop iteration) and results (final when DONE) */
	uint64_t elapsed_us; /* since the first submission */
	uint64_t submitted;
	uint64_t completed;
	uint64_t reads;	   /* opcode 02h */
	uint64_t writes;   /* opcode 01h */
	uint64_t nonreads; /* everything but 02h */
	uint64_t in_flight;
	uint64_t lat_sum_ns;
	uint64_t lat_max_ns;
	uint64_t cpu_ns;    /* CPU time of the worker thread */
	uint64_t ips_used;  /* per-second slots filled */
	uint64_t cmdlog_count; /* IOs recorded in the ring so far */
	uint64_t pct_us[IOW_MAX_PCT];
	uint64_t op_counts[256];
	char message[256]; /* the host error, in words */
};

/* Offsets (bytes) of the variable parts of the shared memory. */
struct iow_layout {
	uint32_t ips_off;    /* uint32_t[ips_n] */
	uint32_t cmdlog_off; /* struct iow_rec[cmdlog_n] */
	uint32_t hist_off;   /* uint64_t[IOW_HIST_BUCKETS] */
	uint32_t total;	     /* bytes */
};

/* --- exported ------------------------------------------------------------- */

/**
 * nvme_ioworker_layout() - shared memory layout for @ips_n per-second slots and a
 * @cmdlog_n-entry IO ring.
 * @out: [header bytes, ips offset, IO ring offset, histogram offset, total bytes,
 *        histogram buckets, sizeof(struct iow_args), sizeof(struct iow_rec)]
 * @n: entries in @out (8)
 */
NVME_API int nvme_ioworker_layout(uint32_t ips_n, uint32_t cmdlog_n, uint32_t *out, uint32_t n);

/**
 * nvme_ioworker_run() - run a workload on an IO queue pair; blocks until it ends.
 * @sq, @cq: handles of an idle IO queue pair (no commands in flight)
 * @args: struct iow_args; @args_len: its size
 * @seq: struct iow_seq[nseq] (IOW_F_SEQUENCE), else may be empty
 * @seq_len: bytes at @seq
 * @shm: shared memory of iow_layout.total bytes (magic set, the rest zero)
 * @shm_len: bytes at @shm
 *
 * Return: 0 when the loop ran (the outcome is in @shm: host_error, error, ...),
 * or a negative errno when it could not start; the message is then in
 * nvme_error() and in @shm's message too.
 */
NVME_API int nvme_ioworker_run(uint32_t sq, uint32_t cq, const uint8_t *args, uint32_t args_len,
			       const uint8_t *seq, uint32_t seq_len, uint8_t *shm,
			       uint32_t shm_len);

/**
 * nvme_bench_loop() - the benchmark's reference: a minimal C loop on one idle IO
 * queue pair, writing SQEs straight into the ring with CID = slot, one batched
 * doorbell exchange per iteration, polling phase tags, no trackers. Not an API
 * for scripts: tasks/bench_ioworker.ts compares the ioworker and the script
 * against it.
 * @mode: 0 random reads of @lbas LBAs at queue depth @qd; 1 write then read of the
 *        same LBAs at QD1, alternately (LBA (n % 1024) * @lbas for pair n, as the
 *        script in tasks/bench.ts does)
 * @span: LBAs of the namespace used (IO start LBAs are below span - lbas)
 * @ms: run time
 * @out: [commands completed, elapsed ns, errors]
 */
NVME_API int nvme_bench_loop(uint32_t sq, uint32_t cq, uint32_t mode, uint32_t nsid,
			     uint32_t lbas, uint32_t lba_size, uint64_t span, uint32_t qd,
			     uint32_t ms, uint64_t *out, uint32_t n);

/* --- pure parts, unit tested --------------------------------------------- */

/* Latency histogram over microseconds: exact below 2 * IOW_HIST_SUB, then
 * IOW_HIST_SUB buckets per power of two (relative error < 1 / IOW_HIST_SUB). */
#define IOW_HIST_SUB_BITS 9
#define IOW_HIST_SUB (1u << IOW_HIST_SUB_BITS)
#define IOW_HIST_MAX_BITS 40 /* values are clamped below 2^40 us (12 days) */
#define IOW_HIST_BUCKETS ((IOW_HIST_MAX_BITS - IOW_HIST_SUB_BITS + 1) * IOW_HIST_SUB)

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

/** iow_shm_layout() - offsets of the variable parts (see struct iow_layout). */
void iow_shm_layout(uint32_t ips_n, uint32_t cmdlog_n, struct iow_layout *l);

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

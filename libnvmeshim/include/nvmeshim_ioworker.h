/* SPDX-License-Identifier: MIT */
/*
 * nvmeshim_ioworker.h - the ioworker's shared memory, part of the exported API
 * (see nvmeshim.h): the argument block TypeScript fills (struct iow_args), the
 * sequence records, the header of the shared memory the script and the worker
 * thread both read and write (struct iow_shm), the last-IO records, and their
 * constants. ffi/abi.gen.ts carries their offsets (`deno task abi`).
 */
#ifndef NVMESHIM_IOWORKER_ABI_H
#define NVMESHIM_IOWORKER_ABI_H

#include <stdint.h>

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

/* The workload, filled by TypeScript (ffi/ioworker_layout.ts, offsets from ffi/abi.gen.ts). */
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

/* Latency histogram over microseconds: exact below 2 * IOW_HIST_SUB, then
 * IOW_HIST_SUB buckets per power of two (relative error < 1 / IOW_HIST_SUB). */
#define IOW_HIST_SUB_BITS 9
#define IOW_HIST_SUB (1u << IOW_HIST_SUB_BITS)
#define IOW_HIST_MAX_BITS 40 /* values are clamped below 2^40 us (12 days) */
#define IOW_HIST_BUCKETS ((IOW_HIST_MAX_BITS - IOW_HIST_SUB_BITS + 1) * IOW_HIST_SUB)

#endif

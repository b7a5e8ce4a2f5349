/* SPDX-License-Identifier: MIT */
/*
 * bench.c - the benchmark's reference loop (see nvme_bench_loop() in ioworker.h):
 * what a minimal hand-written C driver loop reaches on the same queue pair, to
 * compare the ioworker and scripts with. Not used by scripts.
 */
#define _GNU_SOURCE

#include <sched.h>
#include <string.h>

#include "ctrl.h"
#include "dma.h"
#include "handle.h"
#include "ioworker.h"
#include "queue.h"
#include "util.h"

int nvme_bench_loop(uint32_t sqh, uint32_t cqh, uint32_t mode, uint32_t nsid, uint32_t lbas,
		    uint32_t lba_size, uint64_t span, uint32_t qd, uint32_t ms,
		    struct nvme_bench_result *out, uint32_t size)
{
	struct nvme_sq *sq = nvme_handle_get(sqh, NVME_H_SQ);
	struct nvme_cq *cq = nvme_handle_get(cqh, NVME_H_CQ);
	uint64_t iova, done = 0, errors = 0, k = 0, t0, end, now, idle_since;
	uint32_t len = lbas * lba_size, inflight = 0;
	struct iow_rng rng;
	struct nvme_ctrl *c;
	int owned = 0, r = 0;
	void *buf;

	if (!sq || !cq || sq->cq != cq || !out || size < sizeof(*out))
		return nvme_set_error(-EINVAL, "bench_loop: bad queues or output");
	if (!len || len > 4096 || span <= lbas || qd < 1 || qd + 1 > sq->size || mode > 1)
		return nvme_set_error(-EINVAL, "bench_loop: one page per IO, qd below the queue size");
	if (sq->outstanding || sq->timedout)
		return nvme_set_error(-EBUSY, "bench_loop: the queue pair is not idle");
	if (!__atomic_compare_exchange_n(&sq->priv, &owned, 1, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return nvme_set_error(-EBUSY, "bench_loop: queue %u is in use", sq->qid);
	__atomic_store_n(&cq->priv, 1, __ATOMIC_RELEASE);
	buf = nvme_dma_alloc(4096, &iova);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	if (mode == 1)
		qd = 1;
	c = sq->ctrl;
	iow_rng_seed(&rng, 1);
	t0 = idle_since = now = nvme_now_ns();
	end = t0 + (uint64_t)ms * 1000000;
	while (inflight || now < end) {
		struct nvme_reg_write w[2];
		unsigned nw = 0;
		bool progress = false;

		/* post SQEs straight into the ring, CID = slot */
		while (now < end && inflight < qd) {
			uint8_t *e = sq->ring + (uint64_t)sq->tail * 64;
			/* mode 1: the script's pattern, write then read of (n % 1024) * lbas */
			uint64_t slba = mode ? ((k / 2) % 1024) * lbas % (span - lbas)
					     : iow_rng_below(&rng, span - lbas);
			uint16_t cid = (uint16_t)sq->tail;
			uint32_t nlb = lbas - 1;

			memset(e, 0, 64);
			e[0] = mode && !(k & 1) ? 0x01 : 0x02;
			memcpy(e + 2, &cid, 2);
			memcpy(e + 4, &nsid, 4);
			memcpy(e + 24, &iova, 8);
			memcpy(e + 40, &slba, 8);
			memcpy(e + 48, &nlb, 4);
			sq->tail = nvme_q_next(sq->tail, sq->size);
			inflight++;
			k++;
		}
		/* one exchange: CQ head of what was reaped, SQ tail of what was posted */
		nw = nvme_q_doorbells(sq, cq, false, w);
		if (nw && (r = c->t->ops->bar_write_batch(c->t, w, nw)))
			break;
		/* reap by phase tag (a message transport first writes what arrived) */
		if (c->t->ops->poll) /* idle: wait in the socket, not spinning (the target needs the CPU) */
			c->t->ops->poll(c->t, cq->qid, now - idle_since > 100000 ? 1000 : 0);
		for (;;) {
			volatile struct nvme_cqe *e = &cq->ring[cq->head];

			if ((READ_ONCE(e->status) & 1) != cq->phase)
				break;
			nvme_rmb();
			errors += (e->status >> 1) != 0;
			sq->head = e->sqhd;
			cq->head = nvme_q_next(cq->head, cq->size);
			if (!cq->head)
				cq->phase ^= 1;
			inflight--;
			done++;
			progress = true;
		}
		now = nvme_now_ns();
		if (progress || nw) {
			idle_since = now;
		} else if (now - idle_since > 5000000000ull) {
			r = nvme_set_error(-ETIMEDOUT, "bench_loop: no completion for 5 s");
			break;
		} else if (now - idle_since > 100000) {
			sched_yield();
		} else {
			nvme_cpu_relax();
		}
	}
	out->completed = done;
	out->elapsed_ns = nvme_now_ns() - t0;
	out->errors = errors;
	/* the CQ head of the last completions */
	if (!r)
		r = nvme_q_ring(NULL, cq);
	nvme_dma_free(buf, 4096);
out:
	__atomic_store_n(&cq->priv, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&sq->priv, 0, __ATOMIC_RELEASE);
	return r;
}

static uint64_t thread_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int nvme_bench_clock(uint32_t n, uint64_t *out)
{
	uint64_t t0, c0, sink = 0;

	if (!out)
		return nvme_set_error(-EFAULT, "bench_clock: no output");
	if (n < 1 || n > 100000000)
		return nvme_set_error(-EINVAL, "bench_clock: %u reads, allowed 1..100000000", n);
	c0 = thread_ns();
	t0 = nvme_now_ns();
	for (uint32_t i = 0; i < n; i++)
		sink += nvme_now_ns();
	out[0] = nvme_now_ns() - t0;
	out[1] = thread_ns() - c0;
	return sink ? 0 : 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * test_snapshot.c - queue/cmdlog and register snapshots for the live console:
 * contents, argument checks, and a snapshot racing the queue's deletion.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctrl.h"
#include "dma.h"
#include "handle.h"
#include "nvmeshim.h"
#include "queue.h"
#include "unit.h"
#include "fake_transport.h"

struct snap_fix {
	struct nvme_transport t;
	struct nvme_ctrl *c;
	struct nvme_sq *sq;
	struct nvme_cq *cq;
	uint32_t ch, sqh, cqh;
};

static bool snap_start(struct snap_fix *f)
{
	memset(f, 0, sizeof(*f));
	fake_transport_init(&f->t, NULL);
	setenv("DENVME_DMA_MB", "64", 1);
	if (!CHECK(nvme_arena_get()) || !CHECK_EQ(nvme_ctrl_new(&f->t, &f->c), 0))
		return false;
	if (!CHECK_EQ(nvme_cq_new(f->c, 1, 16, 3, true, &f->cq), 0) ||
	    !CHECK_EQ(nvme_sq_new(f->c, 1, 16, f->cq, &f->sq), 0))
		return false;
	f->ch = f->c->handle = nvme_handle_new(NVME_H_CTRL, f->c);
	f->sqh = f->sq->handle = nvme_handle_new(NVME_H_SQ, f->sq);
	f->cqh = f->cq->handle = nvme_handle_new(NVME_H_CQ, f->cq);
	return CHECK(f->ch && f->sqh && f->cqh);
}

static void snap_end(struct snap_fix *f)
{
	if (f->sqh)
		nvme_sq_delete(f->sqh);
	nvme_cq_delete(f->cqh);
	nvme_handle_close(f->ch, NVME_H_CTRL);
	nvme_ctrl_free(f->c);
}

TEST(snapshot_queue_and_cmdlog_newest_first)
{
	struct snap_fix f;
	struct nvme_sq_snapshot out;
	uint8_t log[3 * 128];
	const struct nvme_cmdlog_entry *e = (const void *)log;

	if (!snap_start(&f))
		return;
	for (uint64_t s = 1; s <= 3; s++) {
		struct nvme_cmdlog_entry *x = &f.sq->log[s % NVME_CMDLOG_DEPTH];

		memset(x, 0, sizeof(*x));
		x->sqe[0] = (uint8_t)(s + 0x10);
		x->seq = s;
	}
	f.sq->log_seq = 3;
	f.sq->tail = 3;
	f.sq->outstanding = 2;
	CHECK_EQ(nvme_sq_snapshot(f.sqh, &out, sizeof(out), log, 2), 2);
	CHECK_EQ(out.qid, 1);	    /* qid */
	CHECK_EQ(out.size, 16);	    /* size */
	CHECK_EQ(out.tail, 3);	    /* tail */
	CHECK_EQ(out.outstanding, 2);	    /* outstanding */
	CHECK_EQ(out.logged, 3);	    /* entries written */
	CHECK_EQ(out.cq_vector, 3);	    /* cq vector */
	CHECK_EQ(out.cq_ien, 1);	    /* cq interrupts enabled */
	CHECK_EQ(out.ctrl, f.ch);    /* controller */
	CHECK_EQ(e[0].seq, 3);	    /* newest first */
	CHECK_EQ(e[0].sqe[0], 0x13);
	CHECK_EQ(e[1].seq, 2);
	/* more asked than written: only what exists */
	CHECK_EQ(nvme_sq_snapshot(f.sqh, &out, sizeof(out), log, 3), 3);
	f.sq->log_seq = 1;
	CHECK_EQ(nvme_sq_snapshot(f.sqh, &out, sizeof(out), log, 3), 1);
	/* state only */
	CHECK_EQ(nvme_sq_snapshot(f.sqh, &out, sizeof(out), NULL, 0), 0);
	snap_end(&f);
}

TEST(snapshot_checks_arguments_and_handles)
{
	struct snap_fix f;
	struct nvme_sq_snapshot out;
	struct nvme_ctrl_regs regs;
	uint8_t log[128];

	if (!snap_start(&f))
		return;
	CHECK_EQ(nvme_sq_snapshot(f.sqh, &out, sizeof(out) - 1, log, 1), -EINVAL);
	CHECK_EQ(nvme_sq_snapshot(f.sqh, NULL, sizeof(out), log, 1), -EFAULT);
	CHECK_EQ(nvme_sq_snapshot(f.sqh, &out, sizeof(out), log, NVME_CMDLOG_DEPTH + 1),
		 -EINVAL);
	CHECK_EQ(nvme_sq_snapshot(f.sqh, &out, sizeof(out), NULL, 1), -EFAULT);
	CHECK_EQ(nvme_sq_snapshot(0, &out, sizeof(out), log, 1), -EBADF);
	CHECK_EQ(nvme_sq_snapshot(f.cqh, &out, sizeof(out), log, 1), -EBADF);
	CHECK_EQ(nvme_ctrl_regs_snapshot(f.ch, &regs, sizeof(regs)), 8); /* the fake reads zeros */
	CHECK_EQ(regs.csts, 0);
	CHECK_EQ(nvme_ctrl_regs_snapshot(f.ch, &regs, sizeof(regs) - 1), -EINVAL);
	CHECK_EQ(nvme_ctrl_regs_snapshot(f.sqh, &regs, sizeof(regs)), -EBADF);
	CHECK_EQ(nvme_sq_delete(f.sqh), 0);
	CHECK_EQ(nvme_sq_snapshot(f.sqh, &out, sizeof(out), log, 1), -EBADF);
	f.sqh = 0;
	snap_end(&f);
}

struct racer {
	uint32_t sqh;
	int last;
	unsigned long rounds;
};

static void *snapshot_until_gone(void *arg)
{
	struct racer *r = arg;
	struct nvme_sq_snapshot out;
	static uint8_t log[NVME_CMDLOG_DEPTH * 128];

	do {
		r->last = nvme_sq_snapshot(r->sqh, &out, sizeof(out), log, NVME_CMDLOG_DEPTH);
		r->rounds++;
	} while (r->last >= 0);
	return NULL;
}

TEST(snapshot_races_queue_deletion)
{
	/* under ASan: a snapshot copying the ring while the queue is freed would be caught */
	for (int i = 0; i < 20; i++) {
		struct snap_fix f;
		struct racer r = { 0 };
		pthread_t th;

		if (!snap_start(&f))
			return;
		f.sq->log_seq = NVME_CMDLOG_DEPTH + 5;
		r.sqh = f.sqh;
		if (!CHECK_EQ(pthread_create(&th, NULL, snapshot_until_gone, &r), 0)) {
			snap_end(&f);
			return;
		}
		usleep(200 + 50 * i);
		CHECK_EQ(nvme_sq_delete(f.sqh), 0);
		f.sqh = 0;
		pthread_join(th, NULL);
		CHECK_EQ(r.last, -EBADF);
		CHECK(r.rounds > 0);
		snap_end(&f);
	}
}

/* SPDX-License-Identifier: MIT */
/*
 * snapshot.c - copies of a queue's state and command log and of a controller's
 * registers for observers on other threads (the live console). Called at an
 * observer's refresh rate, never per IO; the hot paths take no lock for them.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "ctrl.h"
#include "handle.h"
#include "nvmeshim.h"
#include "queue.h"
#include "snapshot.h"
#include "util.h"

pthread_mutex_t nvme_snap_lock = PTHREAD_MUTEX_INITIALIZER;

int nvme_sq_snapshot(uint32_t sqh, struct nvme_sq_snapshot *out, uint32_t size, uint8_t *log,
		     uint32_t max)
{
	struct timespec rt;
	struct nvme_sq *sq;
	uint64_t seq;
	uint32_t copied = 0;
	int r = NVME_CHECK_OUT(out, size, "sq_snapshot");

	if (r)
		return r;
	if (max > NVME_CMDLOG_DEPTH)
		return nvme_set_error(-EINVAL, "sq_snapshot: %u entries asked, at most %u", max,
				      NVME_CMDLOG_DEPTH);
	if (max && !log)
		return nvme_set_error(-EFAULT, "sq_snapshot: no log output");
	pthread_mutex_lock(&nvme_snap_lock);
	sq = nvme_handle_get(sqh, NVME_H_SQ);
	if (!sq) {
		pthread_mutex_unlock(&nvme_snap_lock);
		return nvme_set_error(-EBADF, "sq_snapshot: no live queue %u", sqh);
	}
	clock_gettime(CLOCK_REALTIME, &rt);
	seq = __atomic_load_n(&sq->log_seq, __ATOMIC_ACQUIRE);
	out->qid = sq->qid;
	out->size = sq->size;
	out->tail = __atomic_load_n(&sq->tail, __ATOMIC_RELAXED);
	out->head = __atomic_load_n(&sq->head, __ATOMIC_RELAXED);
	out->outstanding = __atomic_load_n(&sq->outstanding, __ATOMIC_RELAXED);
	out->timedout = __atomic_load_n(&sq->timedout, __ATOMIC_RELAXED);
	out->cq_qid = sq->cq->qid;
	out->submitted = __atomic_load_n(&sq->submitted, __ATOMIC_RELAXED);
	out->completed = __atomic_load_n(&sq->completed, __ATOMIC_RELAXED);
	out->logged = seq;
	out->cq_head = __atomic_load_n(&sq->cq->head, __ATOMIC_RELAXED);
	out->cq_vector = sq->cq->vector;
	out->cq_ien = sq->cq->ien;
	out->mono_ns = nvme_now_ns();
	out->real_ns = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec;
	out->ctrl = sq->ctrl->handle;
	out->cq_size = sq->cq->size;
	out->ioworker = (uint64_t)__atomic_load_n(&sq->priv, __ATOMIC_RELAXED);
	for (; copied < max && copied < seq && copied < NVME_CMDLOG_DEPTH; copied++) {
		uint64_t s = seq - copied;

		memcpy(log + (size_t)copied * sizeof(struct nvme_cmdlog_entry),
		       &sq->log[s % NVME_CMDLOG_DEPTH], sizeof(struct nvme_cmdlog_entry));
	}
	pthread_mutex_unlock(&nvme_snap_lock);
	return (int)copied;
}

#define REG(r, bytes, field) { NVME_REG_##r, bytes, offsetof(struct nvme_ctrl_regs, field) }
static const struct {
	uint32_t off, size;
	size_t at; /* where in struct nvme_ctrl_regs */
} snap_regs[] = {
	REG(CAP, 8, cap),   REG(VS, 4, vs),   REG(INTMS, 4, intms), REG(CC, 4, cc),
	REG(CSTS, 4, csts), REG(AQA, 4, aqa), REG(ASQ, 8, asq),     REG(ACQ, 8, acq),
};
#undef REG

int nvme_ctrl_regs_snapshot(uint32_t h, struct nvme_ctrl_regs *out, uint32_t size)
{
	const uint32_t count = sizeof(snap_regs) / sizeof(snap_regs[0]);
	struct nvme_ctrl *c;
	int r = NVME_CHECK_OUT(out, size, "regs_snapshot");

	if (r)
		return r;
	pthread_mutex_lock(&nvme_snap_lock);
	c = nvme_handle_get(h, NVME_H_CTRL);
	if (!c) {
		pthread_mutex_unlock(&nvme_snap_lock);
		return nvme_set_error(-EBADF, "regs_snapshot: no live controller %u", h);
	}
	for (uint32_t i = 0; i < count && !r; i++)
		r = nvme_ctrl_reg_read(c, snap_regs[i].off, snap_regs[i].size,
				       (uint64_t *)((char *)out + snap_regs[i].at));
	pthread_mutex_unlock(&nvme_snap_lock);
	return r ? r : (int)count;
}

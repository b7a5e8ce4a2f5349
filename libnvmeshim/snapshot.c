/* SPDX-License-Identifier: MIT */
/*
 * snapshot.c - copies of a queue's state and command log and of a controller's
 * registers for observers on other threads (the live console). Called at an
 * observer's refresh rate, never per IO; the hot paths take no lock for them.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "ctrl.h"
#include "handle.h"
#include "nvmeshim.h"
#include "queue.h"
#include "snapshot.h"
#include "util.h"

pthread_mutex_t nvme_snap_lock = PTHREAD_MUTEX_INITIALIZER;

int nvme_sq_snapshot(uint32_t sqh, uint64_t *out, uint32_t n, uint8_t *log, uint32_t max)
{
	struct timespec rt;
	struct nvme_sq *sq;
	uint64_t seq;
	uint32_t copied = 0;

	if (!out || n < NVME_SNAP_SQ_WORDS)
		return nvme_set_error(-EINVAL, "sq_snapshot: output needs %u words, %u given",
				      NVME_SNAP_SQ_WORDS, out ? n : 0);
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
	out[0] = sq->qid;
	out[1] = sq->size;
	out[2] = __atomic_load_n(&sq->tail, __ATOMIC_RELAXED);
	out[3] = __atomic_load_n(&sq->head, __ATOMIC_RELAXED);
	out[4] = __atomic_load_n(&sq->outstanding, __ATOMIC_RELAXED);
	out[5] = __atomic_load_n(&sq->timedout, __ATOMIC_RELAXED);
	out[6] = sq->cq->qid;
	out[7] = __atomic_load_n(&sq->submitted, __ATOMIC_RELAXED);
	out[8] = __atomic_load_n(&sq->completed, __ATOMIC_RELAXED);
	out[9] = seq;
	out[10] = __atomic_load_n(&sq->cq->head, __ATOMIC_RELAXED);
	out[11] = sq->cq->vector;
	out[12] = sq->cq->ien;
	out[13] = nvme_now_ns();
	out[14] = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec;
	out[15] = sq->ctrl->handle;
	out[16] = sq->cq->size;
	out[17] = (uint64_t)__atomic_load_n(&sq->priv, __ATOMIC_RELAXED);
	for (; copied < max && copied < seq && copied < NVME_CMDLOG_DEPTH; copied++) {
		uint64_t s = seq - copied;

		memcpy(log + (size_t)copied * sizeof(struct nvme_cmdlog_entry),
		       &sq->log[s % NVME_CMDLOG_DEPTH], sizeof(struct nvme_cmdlog_entry));
	}
	pthread_mutex_unlock(&nvme_snap_lock);
	return (int)copied;
}

static const uint32_t snap_regs[][2] = {
	{ NVME_REG_CAP, 8 },  { NVME_REG_VS, 4 },  { NVME_REG_INTMS, 4 }, { NVME_REG_CC, 4 },
	{ NVME_REG_CSTS, 4 }, { NVME_REG_AQA, 4 }, { NVME_REG_ASQ, 8 },   { NVME_REG_ACQ, 8 },
};

int nvme_ctrl_regs_snapshot(uint32_t h, uint64_t *out, uint32_t n)
{
	const uint32_t count = sizeof(snap_regs) / sizeof(snap_regs[0]);
	struct nvme_ctrl *c;
	int r = 0;

	if (!out || n < count)
		return nvme_set_error(-EINVAL, "regs_snapshot: output needs %u words, %u given",
				      count, out ? n : 0);
	pthread_mutex_lock(&nvme_snap_lock);
	c = nvme_handle_get(h, NVME_H_CTRL);
	if (!c) {
		pthread_mutex_unlock(&nvme_snap_lock);
		return nvme_set_error(-EBADF, "regs_snapshot: no live controller %u", h);
	}
	for (uint32_t i = 0; i < count && !r; i++)
		r = nvme_ctrl_reg_read(c, snap_regs[i][0], snap_regs[i][1], &out[i]);
	pthread_mutex_unlock(&nvme_snap_lock);
	return r ? r : (int)count;
}

/* SPDX-License-Identifier: MIT */
/*
 * queue.h - submission and completion queues, command trackers, completion
 * records handed to TypeScript.
 *
 * A tracker per CID holds the submit time, deadline, the buffer reference and a
 * pre-mapped page for the command's PRP list (as SPDK embeds it in its tracker).
 * Submission only posts the SQE and marks the SQ dirty; doorbells are written in
 * one batch by nvme_ctrl_flush() (before any other device access, before polling,
 * and by the TypeScript side at the end of each synchronous burst).
 */
#ifndef NVMESHIM_QUEUE_H
#define NVMESHIM_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "dma.h"
#include "nvmeshim.h"
#include "transport.h"
#include "verify.h"

struct nvme_ctrl;

struct nvme_cqe {
	uint32_t dw0, dw1;
	uint16_t sqhd, sqid;
	uint16_t cid, status; /* status bit 0 is the phase tag */
};

enum { TR_FREE = 0, TR_BUSY, TR_TIMEDOUT };

_Static_assert(sizeof(struct nvme_cmdlog_entry) == 128, "cmdlog entry is 128 bytes");

struct nvme_tracker {
	uint64_t submit_ns, deadline_ns;
	struct nvme_buf *buf;
	struct nvme_buf *mbuf; /* separate metadata buffer (MPTR), or NULL */
	uint64_t *prp_list;
	uint64_t prp_iova;
	uint64_t log_seq; /* this command's cmdlog entry */
	uint32_t tag;
	uint16_t next_free;
	uint8_t state, opc;
	struct nvme_vcmd v; /* data verification state (verify.h) */
};

struct nvme_cq {
	struct nvme_ctrl *ctrl;
	struct nvme_cqe *ring;
	uint64_t iova;
	uint32_t size, head;
	uint32_t phead; /* head value last written to the doorbell */
	uint16_t qid, vector;
	uint8_t phase;
	bool ien;
	int nsq; /* SQs attached */
	uint32_t handle;
	uint64_t next_check_ns;
	int busy; /* waiters inside nvme_cq_wait() */
	bool irq_gate; /* reap only after the CQ's MSI-X vector fired (pynvme's admin rule) */
	bool closing;
	int priv; /* 1 while an ioworker thread drives it (ioworker.h): flushes skip it */
	uint32_t epoch; /* t->epoch at creation: a reset of the function since makes it stale */
	uint64_t reap_ns; /* when nvme_cq_process() last looked: the completion time it gave */
};

struct nvme_sq {
	struct nvme_ctrl *ctrl;
	struct nvme_cq *cq;
	uint8_t *ring;
	uint64_t iova;
	uint32_t size, tail, ptail, head;
	uint16_t qid;
	uint32_t handle;
	uint32_t outstanding, timedout;
	uint16_t free_top; /* head of the free tracker stack, 0xffff: empty */
	struct nvme_tracker *tr;
	uint8_t *prp_pages;
	uint64_t prp_iova;
	uint64_t submitted, completed;
	/*
	 * 1 while an ioworker thread drives the queue (ioworker.h): nvme_ctrl_flush()
	 * skips it and its submissions leave the controller's dirty flag alone; 2 when
	 * nvme_sq_free() asks the worker to let go (the worker then stores 0).
	 */
	int priv;
	struct nvme_cmdlog_entry *log; /* NVME_CMDLOG_DEPTH entries */
	uint64_t log_seq;		/* entries written so far */
	/*
	 * The submit time of the commands posted now, set by a caller that posts
	 * a batch at one instant (the ioworker, with the time of its loop
	 * iteration); 0: nvme_sq_submit() reads the clock for each command.
	 */
	uint64_t batch_ns;
	uint32_t epoch; /* t->epoch at creation: a reset of the function since makes it stale */
};

/*
 * A queue created before the last reset of its function (FLR, hot reset,
 * power cycle) no longer exists on the device: submissions are refused and
 * commands in flight complete as lost, at once instead of after the timeout.
 */
#define nvme_q_stale(q) (__atomic_load_n(&(q)->ctrl->t->epoch, __ATOMIC_ACQUIRE) != (q)->epoch)

/* pure index arithmetic, unit tested */
static inline uint32_t nvme_q_next(uint32_t idx, uint32_t size)
{
	return idx + 1 == size ? 0 : idx + 1;
}

static inline bool nvme_sq_full(uint32_t tail, uint32_t head, uint32_t size)
{
	return nvme_q_next(tail, size) == head;
}

/* entries between head and tail (in use) */
static inline uint32_t nvme_q_used(uint32_t head, uint32_t tail, uint32_t size)
{
	return tail >= head ? tail - head : size - head + tail;
}

/**
 * nvme_cq_new() - allocate a completion queue ring and register qid @qid.
 * Return: 0 or negative errno (qid in use, bad size, no memory).
 */
int nvme_cq_new(struct nvme_ctrl *c, uint16_t qid, uint32_t size, uint16_t vector, bool ien,
		struct nvme_cq **out);
/** nvme_cq_free() - unregister and free; -EBUSY while SQs are attached. */
int nvme_cq_free(struct nvme_cq *cq);

/** nvme_sq_new() - allocate a submission queue ring and trackers, attached to @cq. */
int nvme_sq_new(struct nvme_ctrl *c, uint16_t qid, uint32_t size, struct nvme_cq *cq,
		struct nvme_sq **out);
/** nvme_sq_free() - unregister and free; commands in flight are dropped. */
void nvme_sq_free(struct nvme_sq *sq);

/**
 * nvme_sq_submit() - assign a CID, build the data pointer, post the SQE.
 * @sq: the queue
 * @sqe: 64-byte command; CID and (unless NVME_SUBMIT_RAW_PRP) PRPs are filled in
 * @buf: data buffer or NULL
 * @off: byte offset into @buf where the transfer starts
 * @len: transfer length in bytes (0: no data)
 * @tag: returned with the completion
 * @flags: NVME_SUBMIT_*
 *
 * The doorbell is not written here (see nvme_ctrl_flush()).
 *
 * Return: the CID, -EAGAIN when the queue is full, other negative errno values
 * with nvme_get_error() set.
 */
int nvme_sq_submit(struct nvme_sq *sq, const uint8_t *sqe, struct nvme_buf *buf, uint64_t off,
		   uint64_t len, uint32_t tag, uint32_t flags);

/**
 * nvme_cq_process() - reap up to @max completions into @out.
 *
 * Rings pending doorbells first, consumes CQEs by phase tag, frees trackers,
 * marks the CQ head doorbell for the next flush, then synthesizes completions for commands
 * past their deadline (NVME_CPL_TIMEOUT) or on a dead device (NVME_CPL_GONE).
 *
 * Return: completions written, or a negative errno.
 */
int nvme_cq_process(struct nvme_cq *cq, struct nvme_cpl *out, unsigned max);

/**
 * nvme_cq_wait() - wait until a completion is available or @timeout_us passes.
 * Return: 1 when something can be reaped (or a deadline passed), 0 on timeout.
 */
int nvme_cq_wait(struct nvme_cq *cq, uint32_t timeout_us);

/**
 * nvme_q_doorbells() - the doorbell writes a queue pair owes the device: the one
 * place that decides them (nvme_ctrl_flush(), the ioworker and the bench loop).
 * @sq: submission queue, or NULL
 * @cq: completion queue, or NULL
 * @shared: true for the controller-wide flush, which leaves a queue driven by an
 *          ioworker thread (priv) to that thread
 * @w: room for two register writes
 *
 * The CQ head doorbell when entries were reaped since it was last written, then
 * the SQ tail doorbell (after a write barrier: the SQEs are visible first) when
 * commands were posted since; both are recorded as written.
 *
 * Return: the number of writes put in @w (0, 1 or 2).
 */
unsigned nvme_q_doorbells(struct nvme_sq *sq, struct nvme_cq *cq, bool shared,
			  struct nvme_reg_write *w);

/**
 * nvme_q_ring() - write the doorbells of one queue pair (nvme_q_doorbells()) in
 * one register exchange.
 * @sq: submission queue, or NULL
 * @cq: completion queue, or NULL
 *
 * Return: 0, or a negative errno from the transport.
 */
int nvme_q_ring(struct nvme_sq *sq, struct nvme_cq *cq);

/**
 * nvme_cq_release() - free a CQ at controller teardown, SQs still counted or
 * not (they were freed first).
 */
void nvme_cq_release(struct nvme_cq *cq);

/** nvme_sq_fail_all() - complete everything in flight with NVME_CPL_GONE (reset). */
int nvme_sq_fail_all(struct nvme_sq *sq, struct nvme_cpl *out, unsigned max);

#endif

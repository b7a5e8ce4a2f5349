/* SPDX-License-Identifier: MIT */
/*
 * queue.c - SQ/CQ rings, trackers, submission and phase-tag completion.
 */
#define _GNU_SOURCE

#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <unistd.h>

#include "ctrl.h"
#include "prp.h"
#include "queue.h"
#include "util.h"

#define NO_TRACKER 0xffff

int nvme_cq_new(struct nvme_ctrl *c, uint16_t qid, uint32_t size, uint16_t vector, bool ien,
		struct nvme_cq **out)
{
	struct nvme_cq *cq;
	int r = 0;

	if (size < 2 || size > 65536)
		return nvme_set_error(-EINVAL, "completion queue size %u: allowed 2..65536", size);
	cq = calloc(1, sizeof(*cq));
	if (!cq)
		return nvme_set_error(-ENOMEM, "out of memory");
	cq->ring = nvme_dma_alloc((uint64_t)size * sizeof(struct nvme_cqe), &cq->iova);
	if (!cq->ring) {
		free(cq);
		return -ENOMEM;
	}
	cq->ctrl = c;
	cq->size = size;
	cq->qid = qid;
	cq->vector = vector;
	cq->ien = ien;
	cq->phase = 1;
	cq->epoch = __atomic_load_n(&c->t->epoch, __ATOMIC_ACQUIRE);
	pthread_mutex_lock(&c->lock);
	if (c->cqs[qid])
		r = nvme_set_error(-EEXIST, "completion queue %u already exists", qid);
	else
		c->cqs[qid] = cq;
	if (!r && qid > c->max_qid_used)
		c->max_qid_used = qid;
	pthread_mutex_unlock(&c->lock);
	if (r) {
		nvme_dma_free(cq->ring, (uint64_t)size * sizeof(struct nvme_cqe));
		free(cq);
		return r;
	}
	*out = cq;
	return 0;
}

int nvme_cq_free(struct nvme_cq *cq)
{
	struct nvme_ctrl *c = cq->ctrl;

	if (cq->nsq)
		return nvme_set_error(-EBUSY, "completion queue %u still has %d submission queue(s)",
				      cq->qid, cq->nsq);
	cq->closing = true;
	/* a waiter in another thread leaves within its own timeout slice */
	for (int i = 0; i < 2000 && __atomic_load_n(&cq->busy, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	pthread_mutex_lock(&c->lock);
	if (c->cqs[cq->qid] == cq)
		c->cqs[cq->qid] = NULL;
	pthread_mutex_unlock(&c->lock);
	nvme_dma_free(cq->ring, (uint64_t)cq->size * sizeof(struct nvme_cqe));
	free(cq);
	return 0;
}

int nvme_sq_new(struct nvme_ctrl *c, uint16_t qid, uint32_t size, struct nvme_cq *cq,
		struct nvme_sq **out)
{
	struct nvme_sq *sq;
	int r = 0;

	if (size < 2 || size > 65536)
		return nvme_set_error(-EINVAL, "submission queue size %u: allowed 2..65536", size);
	sq = calloc(1, sizeof(*sq));
	if (!sq)
		return nvme_set_error(-ENOMEM, "out of memory");
	sq->tr = calloc(size, sizeof(*sq->tr));
	sq->log = calloc(NVME_CMDLOG_DEPTH, sizeof(*sq->log));
	sq->ring = nvme_dma_alloc((uint64_t)size * 64, &sq->iova);
	/* one PRP list page per tracker */
	sq->prp_pages = sq->ring ? nvme_dma_alloc((uint64_t)size * 4096, &sq->prp_iova) : NULL;
	if (!sq->tr || !sq->log || !sq->ring || !sq->prp_pages) {
		if (sq->ring)
			nvme_dma_free(sq->ring, (uint64_t)size * 64);
		if (sq->prp_pages)
			nvme_dma_free(sq->prp_pages, (uint64_t)size * 4096);
		free(sq->log);
		free(sq->tr);
		free(sq);
		return nvme_set_error(-ENOMEM, "out of DMA memory for a %u-entry queue", size);
	}
	sq->ctrl = c;
	sq->cq = cq;
	sq->size = size;
	sq->qid = qid;
	sq->epoch = __atomic_load_n(&c->t->epoch, __ATOMIC_ACQUIRE);
	/* CIDs 0..size-2 are usable: a queue of N entries holds N-1 commands */
	sq->free_top = NO_TRACKER;
	for (int i = (int)size - 2; i >= 0; i--) {
		sq->tr[i].next_free = sq->free_top;
		sq->tr[i].prp_list = (uint64_t *)(sq->prp_pages + (uint64_t)i * 4096);
		sq->tr[i].prp_iova = sq->prp_iova + (uint64_t)i * 4096;
		sq->free_top = (uint16_t)i;
	}
	pthread_mutex_lock(&c->lock);
	if (c->sqs[qid])
		r = nvme_set_error(-EEXIST, "submission queue %u already exists", qid);
	else
		c->sqs[qid] = sq;
	if (!r && qid > c->max_qid_used)
		c->max_qid_used = qid;
	if (!r)
		cq->nsq++;
	pthread_mutex_unlock(&c->lock);
	if (r) {
		nvme_dma_free(sq->ring, (uint64_t)size * 64);
		nvme_dma_free(sq->prp_pages, (uint64_t)size * 4096);
		free(sq->log);
		free(sq->tr);
		free(sq);
		return r;
	}
	*out = sq;
	return 0;
}

static void tracker_release(struct nvme_sq *sq, uint16_t cid)
{
	struct nvme_tracker *t = &sq->tr[cid];

	if (t->v.op)
		nvme_verify_release(sq, &t->v); /* unlock; an unfinished write leaves LBAs unknown */
	if (t->buf)
		nvme_buf_put(t->buf);
	t->buf = NULL;
	if (t->mbuf)
		nvme_buf_put(t->mbuf);
	t->mbuf = NULL;
	if (t->state == TR_TIMEDOUT)
		sq->timedout--;
	else
		sq->outstanding--;
	t->state = TR_FREE;
	t->next_free = sq->free_top;
	sq->free_top = cid;
}

void nvme_sq_free(struct nvme_sq *sq)
{
	struct nvme_ctrl *c = sq->ctrl;
	int owned = 1;

	/*
	 * An ioworker thread still driving the queue is asked to let go and waited
	 * for; it reads the request every loop iteration, so this is bounded by one
	 * register exchange (the transport's reply timeout at worst).
	 */
	if (__atomic_compare_exchange_n(&sq->priv, &owned, 2, false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		for (int i = 0; i < 35000 && __atomic_load_n(&sq->priv, __ATOMIC_ACQUIRE); i++)
			usleep(1000);
	for (uint32_t i = 0; i + 1 < sq->size; i++)
		if (sq->tr[i].state != TR_FREE)
			tracker_release(sq, (uint16_t)i);
	pthread_mutex_lock(&c->lock);
	if (c->sqs[sq->qid] == sq)
		c->sqs[sq->qid] = NULL;
	sq->cq->nsq--;
	pthread_mutex_unlock(&c->lock);
	nvme_dma_free(sq->ring, (uint64_t)sq->size * 64);
	nvme_dma_free(sq->prp_pages, (uint64_t)sq->size * 4096);
	free(sq->log);
	free(sq->tr);
	free(sq);
}

static void log_submit(struct nvme_sq *sq, struct nvme_tracker *t, const uint8_t *slot)
{
	uint64_t seq = ++sq->log_seq;
	struct nvme_cmdlog_entry *e = &sq->log[seq % NVME_CMDLOG_DEPTH];

	memcpy(e->sqe, slot, 64);
	memset(e->cqe, 0, sizeof(e->cqe));
	e->submit_ns = t->submit_ns;
	e->complete_ns = 0;
	e->flags = 0;
	e->latency_us = 0;
	e->seq = seq;
	t->log_seq = seq;
}

/* record a completion: for a tracked command in its own entry, else in a new one */
static void log_complete(struct nvme_sq *sq, uint64_t seq, const struct nvme_cpl *o, uint64_t now)
{
	struct nvme_cmdlog_entry *e;

	if (!sq->log)
		return;
	if (!seq) {
		seq = ++sq->log_seq;
		e = &sq->log[seq % NVME_CMDLOG_DEPTH];
		memset(e, 0, sizeof(*e));
		e->seq = seq;
	} else {
		e = &sq->log[seq % NVME_CMDLOG_DEPTH];
		if (e->seq != seq)
			return; /* overwritten: more than a log's worth of commands since */
	}
	memcpy(e->cqe, o->dw, sizeof(e->cqe));
	e->complete_ns = now;
	e->latency_us = o->latency_us;
	e->flags = o->flags | NVME_LOG_DONE;
}

int nvme_sq_submit(struct nvme_sq *sq, const uint8_t *sqe, struct nvme_buf *buf, uint64_t off,
		   uint64_t len, uint32_t tag, uint32_t flags)
{
	struct nvme_ctrl *c = sq->ctrl;
	struct nvme_tracker *t;
	uint8_t *slot;
	uint16_t cid;
	uint64_t prp1 = 0, prp2 = 0;
	struct nvme_vcmd v = { 0 };
	int vr;

	if (c->t->dead)
		return nvme_set_error(-ENODEV, "%s is %s", c->t->name, nvme_transport_gone(c->t));
	if (c->t->data_sgl && len && !(flags & (NVME_SUBMIT_RAW_PRP | NVME_SUBMIT_NO_DATA)))
		flags |= NVME_SUBMIT_SGL; /* the transport moves the data: it needs the length */
	if (nvme_q_stale(sq))
		return nvme_set_error(-ESTALE, "queue %u was lost in the %s of %s: reset the controller "
				      "(nvme0.reset()) and create new queues", sq->qid,
				      c->t->last_reset ? c->t->last_reset : "reset", c->t->name);
	if (sq->free_top == NO_TRACKER || nvme_sq_full(sq->tail, sq->head, sq->size))
		return -EAGAIN;
	if (len && (flags & NVME_SUBMIT_SGL) && !(flags & (NVME_SUBMIT_RAW_PRP | NVME_SUBMIT_NO_DATA))) {
		if (!buf)
			return nvme_set_error(-EINVAL, "a %llu-byte transfer needs a buffer",
					      (unsigned long long)len);
		if (off > buf->alloc || len > buf->alloc - off || len > UINT32_MAX)
			return nvme_set_error(-EINVAL, "transfer of %llu bytes at offset %llu does not "
					      "fit the %llu-byte buffer", (unsigned long long)len,
					      (unsigned long long)off, (unsigned long long)buf->alloc);
	} else if (len && !(flags & (NVME_SUBMIT_RAW_PRP | NVME_SUBMIT_NO_DATA))) {
		bool list;
		int r;

		if (!buf)
			return nvme_set_error(-EINVAL, "a %llu-byte transfer needs a buffer",
					      (unsigned long long)len);
		if (off > buf->alloc || len > buf->alloc - off)
			return nvme_set_error(-EINVAL, "transfer of %llu bytes at offset %llu does not "
					      "fit the %llu-byte buffer", (unsigned long long)len,
					      (unsigned long long)off, (unsigned long long)buf->alloc);
		cid = sq->free_top;
		t = &sq->tr[cid];
		/* a tracker's list area is 4 KiB: one list page only when CC.MPS selects 4 KiB */
		list = c->page_size == 4096;
		r = nvme_prp_build(buf->iova + off, len, c->page_size, list ? t->prp_list : NULL,
				   list ? t->prp_iova : 0, list, &prp1, &prp2);
		if (r == -E2BIG && !list)
			return nvme_set_error(-E2BIG, "transfer of %llu bytes needs a PRP list, only "
					      "supported with 4 KiB memory pages (CC.MPS = 0)",
					      (unsigned long long)len);
		if (r == -E2BIG)
			return nvme_set_error(-E2BIG, "transfer of %llu bytes needs more than one PRP "
					      "list page (at most %u bytes per command)",
					      (unsigned long long)len, (c->page_size / 8) * c->page_size);
		if (r < 0)
			return nvme_set_error(r, "buffer address 0x%llx is not dword aligned",
					      (unsigned long long)(buf->iova + off));
	}
	/* data verification: LBA locks and stamps; -EAGAIN while a conflicting IO is in flight */
	vr = nvme_verify_submit(sq, sqe, buf, off, len, flags, &v);
	if (vr)
		return vr;
	cid = sq->free_top;
	t = &sq->tr[cid];
	sq->free_top = t->next_free;
	t->v = v;
	t->state = TR_BUSY;
	t->tag = tag;
	t->opc = sqe[0];
	t->buf = NULL;
	if (buf && len && !(flags & NVME_SUBMIT_NO_DATA)) {
		nvme_buf_get(buf);
		t->buf = buf;
	}
	t->submit_ns = sq->batch_ns ? sq->batch_ns : nvme_now_ns();
	t->deadline_ns = (flags & NVME_SUBMIT_NO_TIMEOUT) || !c->timeout_ns ?
				 0 : t->submit_ns + c->timeout_ns;
	sq->outstanding++;
	sq->submitted++;

	slot = sq->ring + (uint64_t)sq->tail * 64;
	memcpy(slot, sqe, 64);
	memcpy(slot + 2, &cid, 2);
	if (len && (flags & NVME_SUBMIT_SGL) && !(flags & (NVME_SUBMIT_RAW_PRP | NVME_SUBMIT_NO_DATA))) {
		/* buffers are bus-contiguous: one SGL Data Block descriptor covers it */
		uint64_t addr = buf->iova + off;
		uint32_t l32 = (uint32_t)len;

		slot[1] = (uint8_t)((slot[1] & 0x3f) | (1u << 6)); /* PSDT = 01b */
		memcpy(slot + 24, &addr, 8);
		memcpy(slot + 32, &l32, 4);
		memset(slot + 36, 0, 3);
		slot[39] = 0x00; /* descriptor type 0 (data block), subtype 0 (address) */
	} else if (len && !(flags & (NVME_SUBMIT_RAW_PRP | NVME_SUBMIT_NO_DATA))) {
		memcpy(slot + 24, &prp1, 8);
		memcpy(slot + 32, &prp2, 8);
	}
	log_submit(sq, t, slot);
	nvme_wmb();
	sq->tail = nvme_q_next(sq->tail, sq->size);
	if (!sq->priv) /* an ioworker rings its own doorbells */
		__atomic_store_n(&c->dirty, 1, __ATOMIC_RELEASE);
	return cid;
}

static void emit(struct nvme_cpl *o, const struct nvme_sq *sq, uint16_t cid, uint32_t tag,
		 uint64_t submit_ns, uint32_t flags, const struct nvme_cqe *cqe, uint64_t now)
{
	if (cqe) {
		memcpy(o->dw, cqe, 16);
	} else {
		/* synthesized like pynvme's timeout: all-ones DW0, status 07/FF */
		o->dw[0] = 0xffffffff;
		o->dw[1] = 0;
		o->dw[2] = ((uint32_t)sq->qid << 16) | (sq->head & 0xffff);
		o->dw[3] = (NVME_STATUS_HOST_TIMEOUT << 17) | cid;
	}
	o->tag = tag;
	o->latency_us = submit_ns && now > submit_ns ? (uint32_t)((now - submit_ns) / 1000) : 0;
	o->flags = flags;
	o->sq_handle = sq->handle;
}

/* commands past their deadline, or all of them when the device is gone */
static unsigned expire(struct nvme_cq *cq, struct nvme_cpl *out, unsigned max, uint64_t now)
{
	struct nvme_ctrl *c = cq->ctrl;
	bool dead = c->t->dead;
	unsigned n = 0;

	/* an ioworker's thread scans while the script's thread may free other queues */
	if (cq->priv)
		pthread_mutex_lock(&c->lock);
	for (uint32_t q = 0; q <= c->max_qid_used && n < max; q++) {
		struct nvme_sq *sq = c->sqs[q];

		if (!sq || sq->cq != cq || !sq->outstanding)
			continue;
		for (uint32_t i = 0; i + 1 < sq->size && n < max; i++) {
			struct nvme_tracker *t = &sq->tr[i];

			if (t->state != TR_BUSY)
				continue;
			if (dead || nvme_q_stale(sq)) {
				emit(&out[n++], sq, (uint16_t)i, t->tag, t->submit_ns, NVME_CPL_GONE,
				     NULL, now);
				log_complete(sq, t->log_seq, &out[n - 1], now);
				tracker_release(sq, (uint16_t)i);
			} else if (t->deadline_ns && now >= t->deadline_ns) {
				emit(&out[n++], sq, (uint16_t)i, t->tag, t->submit_ns,
				     NVME_CPL_TIMEOUT, NULL, now);
				log_complete(sq, t->log_seq, &out[n - 1], now);
				/* the CID stays reserved until the device answers it */
				t->state = TR_TIMEDOUT;
				sq->outstanding--;
				sq->timedout++;
			}
		}
	}
	if (cq->priv)
		pthread_mutex_unlock(&c->lock);
	return n;
}

/* completions of this CQ are reaped only once its MSI-X word was set */
static bool gated(const struct nvme_cq *cq)
{
	const struct nvme_transport *t = cq->ctrl->t;

	return cq->irq_gate && cq->ien && t->irq_words && cq->vector < t->nvec && !t->dead;
}

int nvme_cq_process(struct nvme_cq *cq, struct nvme_cpl *out, unsigned max)
{
	struct nvme_ctrl *c = cq->ctrl;
	unsigned n = 0, limit = max;
	uint64_t now;

	if (cq->closing)
		return nvme_set_error(-EBADF, "completion queue %u is being deleted", cq->qid);
	/* an ioworker's thread rings its own doorbells and leaves the others' alone */
	if (!cq->priv && __atomic_load_n(&c->dirty, __ATOMIC_ACQUIRE))
		nvme_ctrl_flush(c); /* an error here surfaces as t->dead below */
	if (c->t->ops->poll) /* a message transport writes the CQ ring here */
		c->t->ops->poll(c->t, cq->qid, 0);
	if (gated(cq)) {
		uint32_t *word = &c->t->irq_words[cq->vector];

		if (!__atomic_load_n(word, __ATOMIC_ACQUIRE))
			max = 0; /* no interrupt yet: nothing is reaped (deadlines still are) */
		else
			__atomic_store_n(word, 0, __ATOMIC_SEQ_CST);
	}
	/* one timestamp for the completions reaped now (a clock read costs ~30 ns here) */
	now = nvme_now_ns();
	cq->reap_ns = now;
	while (n < max) {
		volatile struct nvme_cqe *e = &cq->ring[cq->head];
		struct nvme_cqe cqe;
		struct nvme_sq *sq;

		if ((READ_ONCE(e->status) & 1) != cq->phase)
			break;
		nvme_rmb();
		memcpy(&cqe, (const void *)e, sizeof(cqe));
		cq->head = nvme_q_next(cq->head, cq->size);
		if (cq->head == 0)
			cq->phase ^= 1;

		sq = c->sqs[cqe.sqid];
		if (!sq || sq->cq != cq || cqe.cid + 1u >= sq->size) {
			struct nvme_sq none = { .qid = cqe.sqid };

			emit(&out[n++], sq ? sq : &none, cqe.cid, 0, 0, NVME_CPL_UNKNOWN, &cqe, now);
			if (sq)
				log_complete(sq, 0, &out[n - 1], now);
			continue;
		}
		sq->head = cqe.sqhd < sq->size ? cqe.sqhd : sq->head;
		struct nvme_tracker *t = &sq->tr[cqe.cid];

		if (t->state == TR_FREE) {
			emit(&out[n++], sq, cqe.cid, 0, 0, NVME_CPL_UNKNOWN, &cqe, now);
			log_complete(sq, 0, &out[n - 1], now);
			continue;
		}
		emit(&out[n++], sq, cqe.cid, t->tag, t->submit_ns,
		     t->state == TR_TIMEDOUT ? NVME_CPL_LATE : 0, &cqe, now);
		nvme_verify_complete(sq, &t->v, &out[n - 1]); /* may rewrite it to 07/81 */
		log_complete(sq, t->log_seq, &out[n - 1], now);
		sq->completed++;
		tracker_release(sq, cqe.cid);
	}
	if (n && !cq->priv) {
		/*
		 * The head doorbell rides along with the next flush (next submit
		 * or poll): one register exchange per command instead of two. The
		 * CQ cannot fill meanwhile, every poll flushes first.
		 */
		__atomic_store_n(&c->dirty, 1, __ATOMIC_RELEASE);
	}
	if (!n)
		nvme_transport_poll_alive(c->t, now); /* a device that died quietly */
	if (gated(cq) && !max)
		max = limit; /* expiry below may still report */
	if (n < max && (c->t->dead || nvme_q_stale(cq) || now >= cq->next_check_ns)) {
		n += expire(cq, out + n, max - n, now);
		cq->next_check_ns = now + 1000000; /* scan deadlines once per ms */
	}
	return (int)n;
}

int nvme_cq_wait(struct nvme_cq *cq, uint32_t timeout_us)
{
	uint64_t start = nvme_now_ns(), end = start + (uint64_t)timeout_us * 1000;
	int ready = 0;

	__atomic_add_fetch(&cq->busy, 1, __ATOMIC_ACQ_REL);
	while (!cq->closing) {
		volatile struct nvme_cqe *e = &cq->ring[READ_ONCE(cq->head)];
		uint64_t now = nvme_now_ns();

		/* a message transport: receive, waiting in the socket once spinning is over */
		if (cq->ctrl->t->ops->poll)
			cq->ctrl->t->ops->poll(cq->ctrl->t, cq->qid,
					       now - start < 100000 || now >= end ? 0 :
					       (uint32_t)((end - now) / 1000 < 1000 ? (end - now) / 1000 : 1000));

		bool avail = gated(cq) ? READ_ONCE(cq->ctrl->t->irq_words[cq->vector]) != 0 :
					 (READ_ONCE(e->status) & 1) == READ_ONCE(cq->phase);

		if (avail || cq->ctrl->t->dead || nvme_q_stale(cq)) {
			ready = 1;
			break;
		}
		now = nvme_now_ns();
		if (now >= end)
			break;
		if (now >= cq->next_check_ns) {
			/* let nvme_cq_process() look at deadlines */
			ready = 1;
			break;
		}
		/*
		 * Spin for the first 100 us (a completion usually arrives within
		 * tens of us), yield up to 2 ms, then sleep so QEMU keeps its CPU.
		 */
		if (now - start < 100000)
			nvme_cpu_relax();
		else if (now - start < 2000000)
			sched_yield();
		else
			usleep(50);
	}
	__atomic_sub_fetch(&cq->busy, 1, __ATOMIC_ACQ_REL);
	return ready;
}

int nvme_sq_fail_all(struct nvme_sq *sq, struct nvme_cpl *out, unsigned max)
{
	unsigned n = 0;

	for (uint32_t i = 0; i + 1 < sq->size && n < max; i++) {
		struct nvme_tracker *t = &sq->tr[i];

		if (t->state == TR_FREE)
			continue;
		if (t->state == TR_BUSY) {
			uint64_t now = nvme_now_ns();

			emit(&out[n++], sq, (uint16_t)i, t->tag, t->submit_ns, NVME_CPL_GONE, NULL, now);
			log_complete(sq, t->log_seq, &out[n - 1], now);
		}
		tracker_release(sq, (uint16_t)i);
	}
	return (int)n;
}

unsigned nvme_q_doorbells(struct nvme_sq *sq, struct nvme_cq *cq, bool shared,
			  struct nvme_reg_write *w)
{
	unsigned n = 0;

	if (cq && !(shared && __atomic_load_n(&cq->priv, __ATOMIC_ACQUIRE)) &&
	    cq->head != cq->phead) {
		w[n++] = (struct nvme_reg_write){ nvme_cq_db(cq->ctrl, cq->qid), cq->head };
		cq->phead = cq->head;
	}
	if (sq && !(shared && __atomic_load_n(&sq->priv, __ATOMIC_ACQUIRE)) &&
	    sq->tail != sq->ptail) {
		nvme_wmb();
		w[n++] = (struct nvme_reg_write){ nvme_sq_db(sq->ctrl, sq->qid), sq->tail };
		sq->ptail = sq->tail;
	}
	return n;
}

int nvme_q_ring(struct nvme_sq *sq, struct nvme_cq *cq)
{
	struct nvme_reg_write w[2];
	unsigned n = nvme_q_doorbells(sq, cq, false, w);
	struct nvme_ctrl *c = sq ? sq->ctrl : cq ? cq->ctrl : NULL;

	return n ? c->t->ops->bar_write_batch(c->t, w, n) : 0;
}

void nvme_cq_release(struct nvme_cq *cq)
{
	cq->nsq = 0;
	nvme_cq_free(cq);
}

/* SPDX-License-Identifier: MIT */
/*
 * ctrl.c - controller object: CAP-derived parameters, register access,
 * doorbell batching.
 */
#include <stdlib.h>
#include <string.h>

#include "ctrl.h"
#include "util.h"

int nvme_ctrl_new(struct nvme_transport *t, struct nvme_ctrl **out)
{
	struct nvme_ctrl *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return nvme_set_error(-ENOMEM, "out of memory");
	c->sqs = calloc(NVME_MAX_QID + 1, sizeof(*c->sqs));
	c->cqs = calloc(NVME_MAX_QID + 1, sizeof(*c->cqs));
	if (!c->sqs || !c->cqs) {
		nvme_ctrl_free(c);
		return nvme_set_error(-ENOMEM, "out of memory");
	}
	pthread_mutex_init(&c->lock, NULL);
	c->t = t;
	c->page_size = 4096;
	c->timeout_ns = 10000ull * 1000000ull; /* pynvme's default: 10 s */
	r = t->ops->bar_read(t, NVME_REG_CAP, 8, &c->cap);
	if (!r && c->cap == ~0ull)
		r = nvme_set_error(-ENODEV, "%s: CAP reads all ones (device not responding)", t->name);
	if (r) {
		nvme_ctrl_free(c);
		return r;
	}
	c->dstrd = 4u << ((c->cap >> 32) & 0xf);
	/* route every vector the function has (up to 1024) into DMA words before CC.EN */
	if (t->msix_size) {
		r = t->ops->irq_setup(t, t->msix_size < 1024 ? t->msix_size : 1024);
		if (r) {
			nvme_ctrl_free(c);
			return r;
		}
	}
	*out = c;
	return 0;
}

void nvme_ctrl_free(struct nvme_ctrl *c)
{
	if (!c)
		return;
	if (c->sqs)
		for (uint32_t q = 0; q <= c->max_qid_used; q++)
			if (c->sqs[q])
				nvme_sq_free(c->sqs[q]);
	if (c->cqs)
		for (uint32_t q = 0; q <= c->max_qid_used; q++)
			if (c->cqs[q])
				nvme_cq_release(c->cqs[q]);
	nvme_verify_ctrl_fini(c); /* after the queues: no command holds a table now */
	free(c->sqs);
	free(c->cqs);
	free(c);
}

int nvme_ctrl_flush(struct nvme_ctrl *c)
{
	struct nvme_reg_write w[64];
	unsigned n = 0;
	int r = 0;

	if (!__atomic_exchange_n(&c->dirty, 0, __ATOMIC_ACQ_REL))
		return 0;
	pthread_mutex_lock(&c->lock);
	for (uint32_t q = 0; q <= c->max_qid_used; q++) {
		/* queues driven by an ioworker thread are rung by that thread */
		n += nvme_q_doorbells(c->sqs[q], c->cqs[q], true, w + n);
		if (n >= ARRAY_SIZE(w) - 1) {
			r = c->t->ops->bar_write_batch(c->t, w, n);
			n = 0;
			if (r)
				break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (n && !r)
		r = c->t->ops->bar_write_batch(c->t, w, n);
	return r;
}

int nvme_ctrl_reg_read(struct nvme_ctrl *c, uint32_t off, unsigned size, uint64_t *val)
{
	int r = nvme_ctrl_flush(c);

	return r ? r : c->t->ops->bar_read(c->t, off, size, val);
}

int nvme_ctrl_reg_write(struct nvme_ctrl *c, uint32_t off, unsigned size, uint64_t val)
{
	int r = nvme_ctrl_flush(c);

	if (r)
		return r;
	r = c->t->ops->bar_write(c->t, off, size, val);
	if (!r && off == NVME_REG_CC)
		c->page_size = 4096u << ((val >> 7) & 0xf);
	return r;
}

/* SPDX-License-Identifier: MIT */
/*
 * transport_loopback.c - the benchmark's device: a controller in this process
 * that completes every command at once, so that a benchmark times the driver's
 * own work per IO and nothing else (tasks/bench_driver.ts, `driver-ns-per-io`).
 *
 * It is not a device under test and models no NVMe behaviour worth testing:
 * registers CAP/VS/CC/CSTS/AQA/ASQ/ACQ, the admin commands a controller's init
 * and queue creation need (Identify 0/1/2, Set/Get Features, Create/Delete I/O
 * SQ/CQ; an Asynchronous Event Request stays outstanding), and Read/Write that
 * complete successfully without moving data (a read leaves the buffer as it
 * was). An SQ tail doorbell write consumes the new SQEs and writes their CQEs
 * with the phase tag in the same call; when the CQ is full, the rest waits for
 * the CQ head doorbell.
 */
#define _GNU_SOURCE

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl.h"
#include "dma.h"
#include "queue.h"
#include "transport.h"
#include "util.h"

#define LB_MAX_QID 64u

struct lb_cq {
	struct nvme_cqe *ring;
	uint32_t size, tail, head;
	uint8_t phase;
	bool stalled; /* an SQ stopped for want of room: go on at the next head doorbell */
	pthread_mutex_t lock;
};

struct lb_sq {
	const uint8_t *ring;
	uint32_t size, head, tail;
	uint16_t cqid;
};

struct lb_tr {
	struct nvme_transport t;
	uint64_t nsze;	/* LBAs of namespace 1 */
	uint8_t lbads;	/* log2 of the LBA size */
	uint16_t queues; /* I/O queue pairs offered */
	uint32_t cc, csts, aqa;
	uint64_t asq, acq;
	struct lb_cq *cqs[LB_MAX_QID + 1];
	struct lb_sq *sqs[LB_MAX_QID + 1];
};

#define LB(t) ((struct lb_tr *)(t))

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static void cq_put(struct lb_cq *q, uint16_t sqid, uint16_t sqhd, uint16_t cid, uint32_t dw0,
		   uint16_t status)
{
	volatile struct nvme_cqe *d = &q->ring[q->tail];

	d->dw0 = dw0;
	d->dw1 = 0;
	d->sqhd = sqhd;
	d->sqid = sqid;
	d->cid = cid;
	nvme_wmb();
	d->status = (uint16_t)((status & ~1u) | q->phase);
	if (++q->tail == q->size) {
		q->tail = 0;
		q->phase ^= 1;
	}
}

static bool cq_full(const struct lb_cq *q)
{
	return (q->tail + 1 == q->size ? 0 : q->tail + 1) == q->head;
}

static uint16_t sc(uint8_t sct, uint8_t code)
{
	return (uint16_t)(((sct & 7u) << 9) | ((uint32_t)code << 1));
}

static void *data_of(const uint8_t *sqe, uint32_t len)
{
	/* admin data of at most one page: PRP1 within the arena */
	return nvme_dma_vaddr(get64(sqe + 24), len);
}

static void put_str(uint8_t *p, const char *s, unsigned n)
{
	memset(p, ' ', n);
	memcpy(p, s, strlen(s) < n ? strlen(s) : n);
}

static void identify(struct lb_tr *lb, const uint8_t *sqe, uint16_t *status)
{
	uint8_t *d = data_of(sqe, 4096);
	uint32_t nsid = get32(sqe + 4);
	uint8_t cns = sqe[40];

	if (!d) {
		*status = sc(0, 0x02);
		return;
	}
	memset(d, 0, 4096);
	switch (cns) {
	case 0x00: /* namespace */
		if (nsid != 1) {
			*status = sc(0, 0x0b); /* Invalid Namespace or Format */
			return;
		}
		memcpy(d + 0, &lb->nsze, 8);
		memcpy(d + 8, &lb->nsze, 8);
		memcpy(d + 16, &lb->nsze, 8);
		d[128 + 2] = lb->lbads; /* LBAF0: no metadata, LBADS */
		break;
	case 0x01: { /* controller */
		uint32_t nn = 1, ver = 0x10400;

		d[0] = 0x36, d[1] = 0x1b; /* VID */
		put_str(d + 4, "LOOPBACK0001", 20);
		put_str(d + 24, "denvme loopback (benchmark only)", 40);
		put_str(d + 64, "1.0", 8);
		d[77] = 5; /* MDTS: 128 KiB */
		memcpy(d + 80, &ver, 4);
		d[512] = 0x66; /* SQES */
		d[513] = 0x44; /* CQES */
		memcpy(d + 516, &nn, 4);
		break;
	}
	case 0x02: /* active namespaces */
		d[0] = nsid < 1 ? 1 : 0;
		break;
	default:
		*status = sc(0, 0x02);
	}
}

static void admin(struct lb_tr *lb, const uint8_t *sqe, uint32_t *dw0, uint16_t *status, bool *post)
{
	uint16_t qid = (uint16_t)get32(sqe + 40);
	uint32_t size = (get32(sqe + 40) >> 16) + 1;
	uint16_t cqid = (uint16_t)(get32(sqe + 44) >> 16);

	switch (sqe[0]) {
	case 0x06:
		identify(lb, sqe, status);
		return;
	case 0x09: /* Set Features */
		if (sqe[40] == 0x07)
			*dw0 = ((uint32_t)(lb->queues - 1) << 16) | (lb->queues - 1u);
		return;
	case 0x0a: /* Get Features */
		if (sqe[40] == 0x07)
			*dw0 = ((uint32_t)(lb->queues - 1) << 16) | (lb->queues - 1u);
		return;
	case 0x0c: /* Asynchronous Event Request: never completes */
		*post = false;
		return;
	case 0x05: { /* Create I/O CQ */
		struct lb_cq *q;
		void *ring = nvme_dma_vaddr(get64(sqe + 24), (uint64_t)size * 16);

		if (!qid || qid > lb->queues || lb->cqs[qid]) {
			*status = sc(1, 0x01);
			return;
		}
		if (!ring || size < 2) {
			*status = sc(1, 0x02);
			return;
		}
		q = calloc(1, sizeof(*q));
		if (!q) {
			*status = sc(0, 0x06);
			return;
		}
		pthread_mutex_init(&q->lock, NULL);
		q->ring = ring;
		q->size = size;
		q->phase = 1;
		lb->cqs[qid] = q;
		return;
	}
	case 0x01: { /* Create I/O SQ */
		struct lb_sq *q;
		void *ring = nvme_dma_vaddr(get64(sqe + 24), (uint64_t)size * 64);

		if (!qid || qid > lb->queues || lb->sqs[qid]) {
			*status = sc(1, 0x01);
			return;
		}
		if (!cqid || cqid > LB_MAX_QID || !lb->cqs[cqid]) {
			*status = sc(1, 0x00);
			return;
		}
		if (!ring || size < 2) {
			*status = sc(1, 0x02);
			return;
		}
		q = calloc(1, sizeof(*q));
		if (!q) {
			*status = sc(0, 0x06);
			return;
		}
		q->ring = ring;
		q->size = size;
		q->cqid = cqid;
		lb->sqs[qid] = q;
		return;
	}
	case 0x00: /* Delete I/O SQ */
		if (!qid || qid > LB_MAX_QID || !lb->sqs[qid]) {
			*status = sc(1, 0x01);
			return;
		}
		free(lb->sqs[qid]);
		lb->sqs[qid] = NULL;
		return;
	case 0x04: /* Delete I/O CQ */
		if (!qid || qid > LB_MAX_QID || !lb->cqs[qid]) {
			*status = sc(1, 0x01);
			return;
		}
		for (uint32_t s = 1; s <= LB_MAX_QID; s++)
			if (lb->sqs[s] && lb->sqs[s]->cqid == qid) {
				*status = sc(1, 0x0c);
				return;
			}
		pthread_mutex_destroy(&lb->cqs[qid]->lock);
		free(lb->cqs[qid]);
		lb->cqs[qid] = NULL;
		return;
	}
	/* everything else: success, no data */
}

static void io(struct lb_tr *lb, const uint8_t *sqe, uint16_t *status)
{
	uint64_t slba = get64(sqe + 40);
	uint32_t nlb = (get32(sqe + 48) & 0xffff) + 1u;

	if (get32(sqe + 4) != 1) {
		*status = sc(0, 0x0b);
		return;
	}
	if (sqe[0] == 0x01 || sqe[0] == 0x02 || sqe[0] == 0x08) {
		if (slba >= lb->nsze || nlb > lb->nsze - slba)
			*status = sc(0, 0x80); /* LBA Out of Range */
	}
	/* flush, write zeroes, dataset management, ...: done */
}

/* consume the SQEs of @qid up to its tail while its CQ has room */
static void sq_run(struct lb_tr *lb, uint16_t qid)
{
	struct lb_sq *s = lb->sqs[qid];
	struct lb_cq *q;

	if (!s)
		return;
	q = lb->cqs[s->cqid];
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	while (s->head != s->tail && !cq_full(q)) {
		const uint8_t *sqe = s->ring + (uint64_t)s->head * 64;
		uint16_t status = 0, cid;
		uint32_t dw0 = 0;
		bool post = true;

		nvme_rmb();
		cid = (uint16_t)(sqe[2] | sqe[3] << 8);
		s->head = s->head + 1 == s->size ? 0 : s->head + 1;
		if (qid)
			io(lb, sqe, &status);
		else
			admin(lb, sqe, &dw0, &status, &post);
		if (post)
			cq_put(q, qid, (uint16_t)s->head, cid, dw0, status);
	}
	if (s->head != s->tail)
		q->stalled = true;
	pthread_mutex_unlock(&q->lock);
}

static void reset_queues(struct lb_tr *lb)
{
	for (uint32_t q = 0; q <= LB_MAX_QID; q++) {
		free(lb->sqs[q]);
		lb->sqs[q] = NULL;
		if (lb->cqs[q])
			pthread_mutex_destroy(&lb->cqs[q]->lock);
		free(lb->cqs[q]);
		lb->cqs[q] = NULL;
	}
}

static int cc_write(struct lb_tr *lb, uint32_t val)
{
	bool was = lb->cc & 1, en = val & 1;

	lb->cc = val;
	if (was && !en) {
		reset_queues(lb);
		lb->csts = 0;
	} else if (!was && en) {
		uint32_t sqs = (lb->aqa & 0xfff) + 1, cqs = ((lb->aqa >> 16) & 0xfff) + 1;
		struct lb_sq *s = calloc(1, sizeof(*s));
		struct lb_cq *q = calloc(1, sizeof(*q));

		if (!s || !q || !(s->ring = nvme_dma_vaddr(lb->asq, sqs * 64ull)) ||
		    !(q->ring = nvme_dma_vaddr(lb->acq, cqs * 16ull))) {
			free(s);
			free(q);
			lb->csts = 2; /* CFS */
			return 0;
		}
		s->size = sqs;
		q->size = cqs;
		q->phase = 1;
		pthread_mutex_init(&q->lock, NULL);
		lb->sqs[0] = s;
		lb->cqs[0] = q;
		lb->csts = 1;
	}
	if (((val >> 14) & 3) && (lb->cc & 1))
		lb->csts |= 0x8; /* shutdown complete */
	return 0;
}

static int lb_cfg_read(struct nvme_transport *t, uint32_t off, unsigned size, uint32_t *val)
{
	(void)t, (void)size;
	*val = off == 0 ? 0x00101b36 : off == 8 ? 0x01080200 : 0; /* ids, class NVMe */
	return 0;
}

static int lb_cfg_write(struct nvme_transport *t, uint32_t off, unsigned size, uint32_t val)
{
	(void)t, (void)off, (void)size, (void)val;
	return 0;
}

static int lb_bar_read(struct nvme_transport *t, uint32_t off, unsigned size, uint64_t *val)
{
	struct lb_tr *lb = LB(t);
	/* MQES 1023, CQR, TO 1 (500 ms), NVM command set, MPSMIN = MPSMAX = 4 KiB */
	uint64_t cap = 0x3ffull | 1ull << 16 | 1ull << 24 | 1ull << 37;
	uint64_t v = 0;

	switch (off & ~7u) {
	case NVME_REG_CAP:
		v = cap;
		break;
	case NVME_REG_ASQ:
		v = lb->asq;
		break;
	case NVME_REG_ACQ:
		v = lb->acq;
		break;
	}
	switch (off) {
	case NVME_REG_VS:
		v = 0x10400;
		break;
	case NVME_REG_CC:
		v = lb->cc;
		break;
	case NVME_REG_CSTS:
		v = lb->csts;
		break;
	case NVME_REG_AQA:
		v = lb->aqa;
		break;
	}
	/* the upper half of a 64-bit register (CAP, ASQ, ACQ) read on its own */
	if (size == 4 && (off == NVME_REG_CAP + 4 || off == NVME_REG_ASQ + 4 || off == NVME_REG_ACQ + 4))
		v >>= 32;
	*val = size == 8 ? v : (uint32_t)v;
	return 0;
}

static int lb_bar_write(struct nvme_transport *t, uint32_t off, unsigned size, uint64_t val)
{
	struct lb_tr *lb = LB(t);

	if (off >= NVME_REG_DBS) {
		uint32_t idx = (off - NVME_REG_DBS) / 4, qid = idx / 2;

		if (qid > LB_MAX_QID)
			return 0;
		if (idx & 1) {
			struct lb_cq *q = lb->cqs[qid];

			if (!q || val >= q->size)
				return 0;
			bool stalled;

			pthread_mutex_lock(&q->lock);
			q->head = (uint32_t)val;
			stalled = q->stalled;
			q->stalled = false;
			pthread_mutex_unlock(&q->lock);
			/* SQs waiting for room in this CQ */
			for (uint32_t s = 0; stalled && s <= LB_MAX_QID; s++)
				if (lb->sqs[s] && lb->sqs[s]->cqid == qid &&
				    lb->sqs[s]->head != lb->sqs[s]->tail)
					sq_run(lb, (uint16_t)s);
		} else if (lb->sqs[qid] && val < lb->sqs[qid]->size) {
			lb->sqs[qid]->tail = (uint32_t)val;
			sq_run(lb, (uint16_t)qid);
		}
		return 0;
	}
	switch (off) {
	case NVME_REG_CC:
		return cc_write(lb, (uint32_t)val);
	case NVME_REG_AQA:
		lb->aqa = (uint32_t)val;
		return 0;
	case NVME_REG_ASQ:
		lb->asq = size == 8 ? val : (lb->asq & ~0xffffffffull) | (uint32_t)val;
		return 0;
	case NVME_REG_ASQ + 4:
		lb->asq = (lb->asq & 0xffffffffull) | (val << 32);
		return 0;
	case NVME_REG_ACQ:
		lb->acq = size == 8 ? val : (lb->acq & ~0xffffffffull) | (uint32_t)val;
		return 0;
	case NVME_REG_ACQ + 4:
		lb->acq = (lb->acq & 0xffffffffull) | (val << 32);
		return 0;
	}
	return 0;
}

static int lb_bar_write_batch(struct nvme_transport *t, const struct nvme_reg_write *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		lb_bar_write(t, w[i].off, 4, w[i].val);
	return 0;
}

static int lb_irq_setup(struct nvme_transport *t, unsigned nvec)
{
	(void)nvec;
	return nvme_set_error(-ENOTSUP, "%s: no interrupts (the device completes at once)",
			      t->name);
}

static int lb_irq_mask(struct nvme_transport *t, unsigned vec, bool mask)
{
	(void)vec, (void)mask;
	return nvme_set_error(-ENOTSUP, "%s: no interrupts", t->name);
}

static int lb_pci_enable(struct nvme_transport *t)
{
	(void)t;
	return 0;
}

static int lb_control(struct nvme_transport *t, const char *req, char *out, unsigned cap)
{
	(void)req, (void)out, (void)cap;
	return nvme_set_error(-ENOTSUP, "%s: no control requests", t->name);
}

static int lb_alive(struct nvme_transport *t)
{
	(void)t;
	return 1;
}

static void lb_close(struct nvme_transport *t)
{
	reset_queues(LB(t));
	free(t);
}

static const struct nvme_transport_ops lb_ops = {
	.name = "loopback",
	.cfg_read = lb_cfg_read,
	.cfg_write = lb_cfg_write,
	.bar_read = lb_bar_read,
	.bar_write = lb_bar_write,
	.bar_write_batch = lb_bar_write_batch,
	.irq_setup = lb_irq_setup,
	.irq_mask = lb_irq_mask,
	.pci_enable = lb_pci_enable,
	.control = lb_control,
	.alive = lb_alive,
	.close = lb_close,
};

int nvme_loopback_open(uint64_t nsze, uint32_t lba_size, uint32_t queues,
		       struct nvme_transport **out)
{
	struct lb_tr *lb;

	if (lba_size != 512 && lba_size != 4096)
		return nvme_set_error(-EINVAL, "loopback: LBA size %u: allowed 512 or 4096", lba_size);
	if (nsze < 8 || nsze > (1ull << 48))
		return nvme_set_error(-EINVAL, "loopback: %llu LBAs: allowed 8..2^48",
				      (unsigned long long)nsze);
	if (queues < 1 || queues > LB_MAX_QID)
		return nvme_set_error(-EINVAL, "loopback: %u queues: allowed 1..%u", queues,
				      LB_MAX_QID);
	if (!nvme_arena_get())
		return -ENOMEM;
	lb = calloc(1, sizeof(*lb));
	if (!lb)
		return nvme_set_error(-ENOMEM, "out of memory");
	lb->t.ops = &lb_ops;
	lb->nsze = nsze;
	lb->lbads = lba_size == 512 ? 9 : 12;
	lb->queues = (uint16_t)queues;
	snprintf(lb->t.name, sizeof(lb->t.name), "loopback (benchmark device)");
	*out = &lb->t;
	return 0;
}

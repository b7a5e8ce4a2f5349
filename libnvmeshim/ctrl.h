/* SPDX-License-Identifier: MIT */
/*
 * ctrl.h - an NVMe controller behind a transport: registers, queue registry,
 * doorbell batching, command timeout.
 */
#ifndef NVMESHIM_CTRL_H
#define NVMESHIM_CTRL_H

#include <pthread.h>
#include <stdint.h>

#include "queue.h"
#include "transport.h"

#define NVME_REG_CAP 0x00
#define NVME_REG_VS 0x08
#define NVME_REG_INTMS 0x0c
#define NVME_REG_INTMC 0x10
#define NVME_REG_CC 0x14
#define NVME_REG_CSTS 0x1c
#define NVME_REG_AQA 0x24
#define NVME_REG_ASQ 0x28
#define NVME_REG_ACQ 0x30
#define NVME_REG_DBS 0x1000

#define NVME_MAX_QID 65535u

struct nvme_ctrl {
	struct nvme_transport *t;
	uint64_t cap;
	uint32_t dstrd;	    /* doorbell stride in bytes (4 << CAP.DSTRD) */
	uint32_t page_size; /* from CC.MPS */
	uint64_t timeout_ns;
	uint32_t handle;
	pthread_mutex_t lock; /* queue registry */
	struct nvme_sq **sqs; /* by qid */
	struct nvme_cq **cqs;
	uint32_t max_qid_used;
	int dirty; /* some SQ tail not yet written to its doorbell */
	struct nvme_vreg *verify; /* data verification tables (verify.h), NULL until enabled */
};

int nvme_ctrl_new(struct nvme_transport *t, struct nvme_ctrl **out);
void nvme_ctrl_free(struct nvme_ctrl *c);

static inline uint32_t nvme_sq_db(const struct nvme_ctrl *c, uint16_t qid)
{
	return NVME_REG_DBS + 2u * qid * c->dstrd;
}

static inline uint32_t nvme_cq_db(const struct nvme_ctrl *c, uint16_t qid)
{
	return NVME_REG_DBS + (2u * qid + 1) * c->dstrd;
}

/**
 * nvme_ctrl_flush() - write every pending doorbell in one batch: CQ heads of
 * reaped entries first, then SQ tails of new commands.
 */
int nvme_ctrl_flush(struct nvme_ctrl *c);

/** nvme_ctrl_reg_read/write() - BAR0 access; writes to CC update the page size. */
int nvme_ctrl_reg_read(struct nvme_ctrl *c, uint32_t off, unsigned size, uint64_t *val);
int nvme_ctrl_reg_write(struct nvme_ctrl *c, uint32_t off, unsigned size, uint64_t val);

#endif

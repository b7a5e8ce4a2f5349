/* SPDX-License-Identifier: MIT */
/*
 * test_loopback.c - the benchmark's loopback device (transport_loopback.c)
 * through the queue core: enable, Identify, an I/O queue pair, reads and
 * writes completed at the doorbell write with the phase tag, a CQ smaller
 * than what was posted (the rest waits for the head doorbell), bad input.
 */
#include <stdlib.h>
#include <string.h>

#include "ctrl.h"
#include "dma.h"
#include "queue.h"
#include "transport.h"
#include "unit.h"
#include "util.h"

static int admin(struct nvme_sq *sq, struct nvme_cq *cq, uint8_t *sqe, struct nvme_buf *buf,
		 struct nvme_cpl *cpl)
{
	int r = nvme_sq_submit(sq, sqe, buf, 0, buf ? 4096 : 0, 7, 0);

	if (r < 0)
		return r;
	if ((r = nvme_q_ring(sq, cq)))
		return r;
	return nvme_cq_process(cq, cpl, 1);
}

TEST(loopback_device)
{
	struct nvme_transport *t;
	struct nvme_ctrl *c;
	struct nvme_cq *acq, *cq;
	struct nvme_sq *asq, *sq;
	struct nvme_buf *buf;
	struct nvme_cpl cpl[16];
	uint8_t sqe[64];
	uint64_t v = 0, nsze = 0;

	setenv("DENVME_DMA_MB", "64", 1);
	if (!CHECK(nvme_arena_get()))
		return;
	CHECK_EQ(nvme_loopback_open(1000, 1000, 4, &t), -EINVAL); /* LBA size */
	CHECK_EQ(nvme_loopback_open(0, 512, 4, &t), -EINVAL);
	CHECK_EQ(nvme_loopback_open(1000, 512, 0, &t), -EINVAL);
	if (!CHECK_EQ(nvme_loopback_open(1 << 20, 512, 4, &t), 0))
		return;
	if (!CHECK_EQ(nvme_ctrl_new(t, &c), 0)) {
		t->ops->close(t);
		return;
	}
	CHECK_EQ(c->cap & 0xffff, 0x3ff); /* MQES */
	CHECK_EQ(nvme_cq_new(c, 0, 8, 0, false, &acq), 0);
	CHECK_EQ(nvme_sq_new(c, 0, 8, acq, &asq), 0);
	CHECK_EQ(nvme_ctrl_reg_write(c, NVME_REG_AQA, 4, 7u << 16 | 7u), 0);
	CHECK_EQ(nvme_ctrl_reg_write(c, NVME_REG_ASQ, 8, asq->iova), 0);
	CHECK_EQ(nvme_ctrl_reg_write(c, NVME_REG_ACQ, 8, acq->iova), 0);
	CHECK_EQ(nvme_ctrl_reg_write(c, NVME_REG_CC, 4, 0x00460001), 0);
	CHECK_EQ(nvme_ctrl_reg_read(c, NVME_REG_CSTS, 4, &v), 0);
	CHECK_EQ(v & 1, 1); /* ready */
	CHECK_EQ(nvme_ctrl_reg_read(c, NVME_REG_ASQ + 4, 4, &v), 0);
	CHECK_EQ(v, asq->iova >> 32);

	buf = nvme_buf_new(4096);
	if (!CHECK(buf))
		goto out;
	/* Identify Namespace 1: NSZE and the LBA size */
	memset(sqe, 0, 64);
	sqe[0] = 0x06;
	sqe[4] = 1;
	CHECK_EQ(admin(asq, acq, sqe, buf, cpl), 1);
	CHECK_EQ(cpl[0].dw[3] >> 17, 0);
	CHECK_EQ(cpl[0].tag, 7);
	memcpy(&nsze, buf->vaddr, 8);
	CHECK_EQ(nsze, 1u << 20);
	CHECK_EQ(buf->vaddr[130], 9);
	/* Identify Namespace 2: no such namespace */
	sqe[4] = 2;
	CHECK_EQ(admin(asq, acq, sqe, buf, cpl), 1);
	CHECK_EQ((cpl[0].dw[3] >> 17) & 0xff, 0x0b);
	/* an I/O queue pair: CQ of 4 entries, SQ of 16 */
	CHECK_EQ(nvme_cq_new(c, 1, 4, 0, false, &cq), 0);
	CHECK_EQ(nvme_sq_new(c, 1, 16, cq, &sq), 0);
	memset(sqe, 0, 64);
	sqe[0] = 0x05;
	memcpy(sqe + 24, &cq->iova, 8);
	v = 1 | 3ull << 16;
	memcpy(sqe + 40, &v, 4);
	sqe[44] = 1;
	CHECK_EQ(admin(asq, acq, sqe, NULL, cpl), 1);
	CHECK_EQ(cpl[0].dw[3] >> 17, 0);
	memset(sqe, 0, 64);
	sqe[0] = 0x01;
	memcpy(sqe + 24, &sq->iova, 8);
	v = 1 | 15ull << 16;
	memcpy(sqe + 40, &v, 4);
	v = 1 | 1u << 16;
	memcpy(sqe + 44, &v, 4);
	CHECK_EQ(admin(asq, acq, sqe, NULL, cpl), 1);
	CHECK_EQ(cpl[0].dw[3] >> 17, 0);
	/* 6 reads posted, room for 3 completions: the rest follows the head doorbell */
	for (int i = 0; i < 6; i++) {
		memset(sqe, 0, 64);
		sqe[0] = 0x02;
		sqe[4] = 1;
		sqe[40] = (uint8_t)(i * 8);
		sqe[48] = 7;
		CHECK(nvme_sq_submit(sq, sqe, buf, 0, 4096, 100u + (unsigned)i, 0) >= 0);
	}
	CHECK_EQ(nvme_q_ring(sq, cq), 0);
	{
		int got = 0;

		for (int k = 0; k < 4 && got < 6; k++) {
			int n = nvme_cq_process(cq, cpl + got, 16 - (unsigned)got);

			CHECK(n >= 0);
			got += n > 0 ? n : 0;
			CHECK_EQ(nvme_q_ring(sq, cq), 0); /* the head doorbell */
		}
		CHECK_EQ(got, 6);
		for (int i = 0; i < got; i++) {
			CHECK_EQ(cpl[i].tag, 100u + (unsigned)i);
			CHECK_EQ(cpl[i].dw[3] >> 17, 0);
		}
	}
	/* beyond the namespace: LBA Out of Range */
	memset(sqe, 0, 64);
	sqe[0] = 0x01;
	sqe[4] = 1;
	v = (1u << 20) - 4;
	memcpy(sqe + 40, &v, 8);
	sqe[48] = 7;
	CHECK(nvme_sq_submit(sq, sqe, buf, 0, 4096, 9, 0) >= 0);
	CHECK_EQ(nvme_q_ring(sq, cq), 0);
	CHECK_EQ(nvme_cq_process(cq, cpl, 1), 1);
	CHECK_EQ((cpl[0].dw[3] >> 17) & 0xff, 0x80);
	nvme_buf_put(buf);
out:
	nvme_ctrl_free(c);
	t->ops->close(t);
}

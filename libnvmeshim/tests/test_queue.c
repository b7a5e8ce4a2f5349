/* SPDX-License-Identifier: MIT */
/*
 * test_queue.c - the queue index arithmetic of queue.h (nvme_q_next,
 * nvme_sq_full, nvme_q_used), and nvme_sq_submit()'s PRP lists on a controller
 * without a device (a fake transport): every memory page size CC.MPS can select
 * must keep each command's PRP list inside its tracker's 4 KiB list area.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl.h"
#include "dma.h"
#include "prp.h"
#include "queue.h"
#include "fake_transport.h"
#include "unit.h"
#include "util.h"

TEST(queue_next_wraps)
{
	CHECK_EQ(nvme_q_next(0, 2), 1);
	CHECK_EQ(nvme_q_next(1, 2), 0);
	CHECK_EQ(nvme_q_next(0, 16), 1);
	CHECK_EQ(nvme_q_next(14, 16), 15);
	CHECK_EQ(nvme_q_next(15, 16), 0);
	CHECK_EQ(nvme_q_next(0, 65536), 1);
	CHECK_EQ(nvme_q_next(65534, 65536), 65535);
	CHECK_EQ(nvme_q_next(65535, 65536), 0);

	/* walking once round comes back to the start, visiting every index */
	for (uint32_t size = 2; size <= 65536; size *= 2) {
		uint32_t idx = 0, steps = 0, bad = 0;

		do {
			if (idx >= size)
				bad++;
			idx = nvme_q_next(idx, size);
			steps++;
		} while (idx != 0 && steps <= size);
		CHECK_EQ(steps, size);
		CHECK_EQ(bad, 0);
	}
	/* sizes need not be powers of two */
	CHECK_EQ(nvme_q_next(2, 3), 0);
	CHECK_EQ(nvme_q_next(1, 3), 2);
}

TEST(queue_sq_full)
{
	/* size 2 holds one entry */
	CHECK(!nvme_sq_full(0, 0, 2));
	CHECK(nvme_sq_full(1, 0, 2));
	CHECK(nvme_sq_full(0, 1, 2));
	CHECK(!nvme_sq_full(1, 1, 2));

	CHECK(!nvme_sq_full(0, 0, 16));
	CHECK(!nvme_sq_full(14, 0, 16));
	CHECK(nvme_sq_full(15, 0, 16));
	CHECK(nvme_sq_full(4, 5, 16));
	CHECK(!nvme_sq_full(5, 5, 16));
	CHECK(!nvme_sq_full(3, 5, 16));
	/* across the wrap: tail at the last index, head at 0 */
	CHECK(nvme_sq_full(15, 0, 16));
	CHECK(!nvme_sq_full(15, 1, 16));

	CHECK(nvme_sq_full(65535, 0, 65536));
	CHECK(!nvme_sq_full(65534, 0, 65536));
	CHECK(nvme_sq_full(99, 100, 65536));
	CHECK(!nvme_sq_full(0, 65535, 65536));

	/* full exactly when size - 1 entries are in use */
	for (uint32_t size = 2; size <= 65536; size *= 4) {
		uint32_t heads[] = { 0, 1, size / 2, size - 1 };
		unsigned bad = 0;

		for (unsigned h = 0; h < 4; h++)
			for (uint32_t tail = 0; tail < size; tail++)
				if (nvme_sq_full(tail, heads[h], size) !=
				    (nvme_q_used(heads[h], tail, size) == size - 1))
					bad++;
		CHECK_EQ(bad, 0);
	}
}

TEST(queue_used)
{
	CHECK_EQ(nvme_q_used(0, 0, 2), 0);
	CHECK_EQ(nvme_q_used(0, 1, 2), 1);
	CHECK_EQ(nvme_q_used(1, 1, 2), 0);
	CHECK_EQ(nvme_q_used(1, 0, 2), 1);

	CHECK_EQ(nvme_q_used(3, 3, 16), 0);
	CHECK_EQ(nvme_q_used(3, 10, 16), 7);
	CHECK_EQ(nvme_q_used(0, 15, 16), 15);
	/* wrapped: tail behind head */
	CHECK_EQ(nvme_q_used(10, 3, 16), 9);
	CHECK_EQ(nvme_q_used(15, 0, 16), 1);
	CHECK_EQ(nvme_q_used(1, 0, 16), 15);

	CHECK_EQ(nvme_q_used(0, 65535, 65536), 65535);
	CHECK_EQ(nvme_q_used(65535, 0, 65536), 1);
	CHECK_EQ(nvme_q_used(65535, 65534, 65536), 65535);
	CHECK_EQ(nvme_q_used(40000, 100, 65536), 25636);
	CHECK_EQ(nvme_q_used(100, 40000, 65536), 39900);

	/* n submissions from any head leave n entries in use */
	for (uint32_t size = 2; size <= 65536; size *= 8) {
		uint32_t heads[] = { 0, 1, size / 2, size - 1 };
		unsigned bad = 0;

		for (unsigned h = 0; h < 4; h++) {
			uint32_t tail = heads[h];

			for (uint32_t n = 0; n < size; n++) {
				if (nvme_q_used(heads[h], tail, size) != n)
					bad++;
				tail = nvme_q_next(tail, size);
			}
			if (tail != heads[h])
				bad++;
		}
		CHECK_EQ(bad, 0);
	}
}

#define SQ_SIZE 64
#define LIST_POISON 0xa5

static int untouched(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != LIST_POISON)
			return 0;
	return 1;
}

/*
 * Check the PRPs of the command just posted in @sqe the way the controller
 * reads them: data pages in order, list pages inside tracker @cid's area.
 */
static void check_sqe_prps(const struct nvme_sq *sq, const uint8_t *sqe, int cid,
			   uint64_t iova, uint64_t len, uint32_t pg)
{
	uint64_t prp1, prp2, mask = pg - 1;
	uint64_t n = (((iova + len - 1) & ~mask) - (iova & ~mask)) / pg;
	uint64_t area = sq->prp_iova + (uint64_t)cid * 4096, at;
	const uint64_t *list;

	memcpy(&prp1, sqe + 24, 8);
	memcpy(&prp2, sqe + 32, 8);
	CHECK_EQ(prp1, iova);
	if (n == 0) {
		CHECK_EQ(prp2, 0);
		return;
	}
	if (n == 1) {
		CHECK_EQ(prp2, (iova & ~mask) + pg);
		return;
	}
	at = prp2;
	for (uint64_t k = 0; k < n; k++, at += 8) {
		/* the last entry of a memory page, with more than one to go: a pointer */
		if ((at & mask) == pg - 8 && n - k > 1) {
			list = nvme_dma_vaddr(at, 8);
			if (!CHECK(list))
				return;
			at = *list;
		}
		if (!CHECK(at >= area && at + 8 <= area + 4096)) {
			UNIT_NOTE("cid %d: PRP list entry %llu at 0x%llx outside the tracker's "
				  "list page 0x%llx", cid, (unsigned long long)k,
				  (unsigned long long)at, (unsigned long long)area);
			return;
		}
		list = nvme_dma_vaddr(at, 8);
		if (!CHECK_EQ(*list, (iova & ~mask) + (k + 1) * pg))
			return;
	}
}

/* submit one read of @len bytes at @off into @buf and check what it did */
static void submit_one(struct nvme_sq *sq, struct nvme_buf *buf, bool *busy, uint64_t off,
		       uint64_t len)
{
	uint32_t pg = sq->ctrl->page_size, tail = sq->tail;
	uint64_t iova = buf->iova + off, entries = nvme_prp_list_entries(iova, len, pg);
	uint8_t sqe[64] = { 0x02 };
	int cid = nvme_sq_submit(sq, sqe, buf, off, len, 0, 0);

	if (cid >= 0 && cid < SQ_SIZE) {
		busy[cid] = true;
		check_sqe_prps(sq, sq->ring + (uint64_t)tail * 64, cid, iova, len, pg);
	} else if (!CHECK_EQ(cid, -E2BIG)) {
		/* too big for one list page is fine, anything else not */
		UNIT_NOTE("page size %u, list at 0x%llx, offset %llu, length %llu: %s", pg,
			  (unsigned long long)sq->prp_iova, (unsigned long long)off,
			  (unsigned long long)len, nvme_get_error());
	}
	/* PRP1 + PRP2 always work, and one 4 KiB list page at MPS 0 */
	if (entries == 0 || (pg == 4096 && entries <= 512))
		CHECK(cid >= 0);
	for (unsigned i = 0; i < SQ_SIZE; i++)
		if (!busy[i] && !CHECK(untouched(sq->prp_pages + i * 4096ull, 4096)))
			UNIT_NOTE("page size %u, offset %llu, length %llu (cid %d): wrote into "
				  "the PRP list area of tracker %u", pg, (unsigned long long)off,
				  (unsigned long long)len, cid, i);
}

/* one controller at memory page size @pg, its PRP list pages shifted by @shift pages */
static void submit_run(struct nvme_transport *t, struct nvme_buf *buf, uint32_t pg,
		       unsigned shift)
{
	static const uint64_t offs[] = { 0, 4, 4096 + 4 };
	uint64_t bufsz = buf->size, pad_iova;
	/* big ones first, so that they meet tracker 0 whatever the small ones do */
	uint64_t lens[] = { bufsz - 2 * 4096 - 4, (4ull << 20) + 3 * pg, 512, pg, 2 * pg, 3 * pg,
			    64 * 1024, 2ull << 20, (2ull << 20) + 4096 };
	uint32_t mps = (uint32_t)__builtin_ctz(pg / 4096);
	bool busy[SQ_SIZE] = { false };
	struct nvme_ctrl *c;
	struct nvme_cq *cq;
	struct nvme_sq *sq;
	void *pad = NULL;

	if (!CHECK_EQ(nvme_ctrl_new(t, &c), 0))
		return;
	CHECK_EQ(nvme_ctrl_reg_write(c, NVME_REG_CC, 4, (uint64_t)mps << 7), 0);
	CHECK_EQ(c->page_size, pg);
	if (shift)
		pad = nvme_dma_alloc(shift * 4096ull, &pad_iova);
	if (!CHECK_EQ(nvme_cq_new(c, 1, SQ_SIZE, 0, false, &cq), 0) ||
	    !CHECK_EQ(nvme_sq_new(c, 1, SQ_SIZE, cq, &sq), 0)) {
		nvme_ctrl_free(c);
		nvme_dma_free(pad, shift * 4096ull);
		return;
	}
	memset(sq->prp_pages, LIST_POISON, (size_t)SQ_SIZE * 4096);
	for (unsigned o = 0; o < sizeof(offs) / sizeof(offs[0]); o++)
		for (unsigned l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
			submit_one(sq, buf, busy, offs[o], lens[l]);
	nvme_ctrl_free(c); /* drops the commands and their buffer references */
	nvme_dma_free(pad, shift * 4096ull);
}

TEST(queue_submit_prp_list_stays_in_tracker)
{
	static const uint32_t sizes[] = { 4096, 8192, 16384, 65536 };
	struct nvme_transport t = { .ops = &fake_ops, .name = "fake" };
	struct nvme_buf *buf;
	uint64_t used0;

	setenv("DENVME_DMA_MB", "64", 1);
	if (!CHECK(nvme_arena_get()))
		return;
	used0 = nvme_dma_used();
	buf = nvme_buf_new(8ull << 20);
	if (!CHECK(buf))
		return;
	/* every alignment of the list pages to the memory page size */
	for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (unsigned shift = 0; shift < sizes[s] / 4096; shift++)
			submit_run(&t, buf, sizes[s], shift);
	CHECK_EQ(buf->refs, 1);
	nvme_buf_put(buf);
	CHECK_EQ(nvme_dma_used(), used0);
}

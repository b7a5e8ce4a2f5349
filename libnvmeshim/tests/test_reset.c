/* SPDX-License-Identifier: MIT */
/*
 * test_reset.c - resets of the function without a device: config writes that
 * change the transport's view (MSI-X Enable, Initiate FLR), queues made stale
 * by a reset (submissions refused, commands in flight lost at once), and the
 * qtest "IRQ raise/lower" lines turned into an INTx level by lineconn.
 */
#define _GNU_SOURCE

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctrl.h"
#include "dma.h"
#include "lineconn.h"
#include "pci.h"
#include "queue.h"
#include "fake_transport.h"
#include "unit.h"
#include "util.h"

/* A config space in memory: capabilities MSI-X @0x40 -> PCIe @0x80, BAR0 registers read 0. */
struct fake {
	struct nvme_transport t;
	uint8_t cfg[4096];
	unsigned flr_writes;
};

static int cfg_read(struct nvme_transport *t, uint32_t off, unsigned size, uint32_t *val)
{
	struct fake *f = (struct fake *)t;

	*val = 0;
	memcpy(val, f->cfg + off, size);
	return 0;
}

static int cfg_write(struct nvme_transport *t, uint32_t off, unsigned size, uint32_t val)
{
	struct fake *f = (struct fake *)t;

	memcpy(f->cfg + off, &val, size);
	/* Initiate FLR reads as zero: the function clears MSI-X Enable */
	if (f->cfg[0x89] & 0x80) {
		f->cfg[0x89] &= 0x7f;
		f->cfg[0x43] &= 0x7f;
		f->flr_writes++;
	}
	return 0;
}

static const struct nvme_transport_ops cfg_ops = {
	.name = "fake",
	.cfg_read = cfg_read,
	.cfg_write = cfg_write,
	.bar_read = fake_bar_read,
	.bar_write = fake_bar_write,
	.bar_write_batch = fake_bar_write_batch,
};

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	fake_transport_init(&f->t, &cfg_ops);
	f->cfg[PCI_STATUS] = PCI_STATUS_CAP_LIST;
	f->cfg[PCI_CAPABILITY_LIST] = 0x40;
	f->cfg[0x40] = PCI_CAP_ID_MSIX;
	f->cfg[0x41] = 0x80;
	f->cfg[0x42] = 64; /* 65 vectors */
	f->cfg[0x43] = 0x80; /* enabled */
	f->cfg[0x80] = PCI_CAP_ID_EXP;
	f->t.msix_cap = 0x40;
	f->t.msix_size = 65;
	f->t.nvec = f->t.nvec_routed = 65;
}

TEST(reset_cfg_written_msix_enable_follows_the_control_word)
{
	struct fake f;

	fake_init(&f);
	/* INTx mode: the script clears MSI-X Enable with a word write */
	cfg_write(&f.t, 0x42, 2, 64);
	nvme_pci_cfg_written(&f.t, 0x42, 2, 64);
	CHECK_EQ(f.t.nvec, 0);
	CHECK_EQ(f.t.nvec_routed, 65);
	CHECK_EQ(f.t.epoch, 0);
	/* masking a vector now names the reason */
	CHECK_EQ(nvme_pci_msix_mask(&f.t, 1, 1), -ENOTSUP);
	CHECK(strstr(nvme_get_error(), "MSI-X is disabled"));
	/* set again through a dword write that covers the control word */
	cfg_write(&f.t, 0x40, 4, 0x80408011);
	nvme_pci_cfg_written(&f.t, 0x40, 4, 0x80408011);
	CHECK_EQ(f.t.nvec, 65);
	/* a byte write of the upper half only */
	cfg_write(&f.t, 0x43, 1, 0x00);
	nvme_pci_cfg_written(&f.t, 0x43, 1, 0x00);
	CHECK_EQ(f.t.nvec, 0);
	/* writes elsewhere leave it alone */
	cfg_write(&f.t, 0x43, 1, 0x80);
	nvme_pci_cfg_written(&f.t, 0x3c, 1, 0x0b);
	CHECK_EQ(f.t.nvec, 0);
	CHECK_EQ(f.t.epoch, 0);
}

TEST(reset_cfg_written_flr_bumps_the_epoch)
{
	struct fake f;

	fake_init(&f);
	/* DevCtl without Initiate FLR: nothing */
	cfg_write(&f.t, 0x88, 2, 0x2810);
	nvme_pci_cfg_written(&f.t, 0x88, 2, 0x2810);
	CHECK_EQ(f.t.epoch, 0);
	CHECK_EQ(f.t.nvec, 65);
	/* word write with bit 15 */
	cfg_write(&f.t, 0x88, 2, 0xa810);
	nvme_pci_cfg_written(&f.t, 0x88, 2, 0xa810);
	CHECK_EQ(f.flr_writes, 1);
	CHECK_EQ(f.t.epoch, 1);
	CHECK_EQ(f.t.nvec, 0);
	CHECK(f.t.last_reset && !strcmp(f.t.last_reset, "FLR"));
	/* byte write of DevCtl's upper byte, and a dword write of DevCtl/DevSta */
	nvme_pci_cfg_written(&f.t, 0x89, 1, 0x80);
	CHECK_EQ(f.t.epoch, 2);
	nvme_pci_cfg_written(&f.t, 0x88, 4, 0x00008000);
	CHECK_EQ(f.t.epoch, 3);
	/* DevSta (0x8a) and DevCap (0x84) with the same bit set are not an FLR */
	nvme_pci_cfg_written(&f.t, 0x8a, 2, 0x8000);
	nvme_pci_cfg_written(&f.t, 0x84, 4, 0x80000000);
	CHECK_EQ(f.t.epoch, 3);
}

TEST(reset_stale_queues_refuse_submissions_and_lose_commands_at_once)
{
	struct fake f;
	struct nvme_ctrl *c;
	struct nvme_cq *cq;
	struct nvme_sq *sq;
	struct nvme_cpl out[8];
	uint8_t sqe[64] = { 0x02 };
	uint64_t t0;
	int n;

	setenv("DENVME_DMA_MB", "64", 1);
	if (!CHECK(nvme_arena_get()))
		return;
	fake_init(&f);
	f.t.msix_size = 0; /* no interrupt routing without a device */
	f.t.nvec = f.t.nvec_routed = 0;
	if (!CHECK_EQ(nvme_ctrl_new(&f.t, &c), 0))
		return;
	if (!CHECK_EQ(nvme_cq_new(c, 1, 16, 0, false, &cq), 0) ||
	    !CHECK_EQ(nvme_sq_new(c, 1, 16, cq, &sq), 0)) {
		nvme_ctrl_free(c);
		return;
	}
	for (unsigned i = 0; i < 3; i++)
		CHECK_EQ(nvme_sq_submit(sq, sqe, NULL, 0, 0, 100 + i, NVME_SUBMIT_NO_DATA), (int)i);
	CHECK_EQ(nvme_cq_process(cq, out, 8), 0); /* nothing answered, nothing expired */
	CHECK(!nvme_q_stale(sq) && !nvme_q_stale(cq));

	nvme_pci_reset_done(&f.t, "hot reset");
	CHECK(nvme_q_stale(sq) && nvme_q_stale(cq));
	CHECK_EQ(nvme_sq_submit(sq, sqe, NULL, 0, 0, 200, NVME_SUBMIT_NO_DATA), -ESTALE);
	CHECK(strstr(nvme_get_error(), "queue 1 was lost in the hot reset of fake"));
	/* a waiter wakes at once, and the commands in flight complete as lost */
	t0 = nvme_now_ns();
	CHECK_EQ(nvme_cq_wait(cq, 1000000), 1);
	CHECK(nvme_now_ns() - t0 < 100000000ull);
	n = nvme_cq_process(cq, out, 8);
	CHECK_EQ(n, 3);
	for (int i = 0; i < n; i++) {
		CHECK_EQ(out[i].flags, NVME_CPL_GONE);
		CHECK_EQ(out[i].tag, 100u + (unsigned)i);
		CHECK_EQ((out[i].dw[3] >> 17) & 0x7ff, NVME_STATUS_HOST_TIMEOUT);
	}
	CHECK_EQ(sq->outstanding, 0);
	CHECK_EQ(nvme_cq_process(cq, out, 8), 0);

	/* queues created after the reset are current */
	{
		struct nvme_cq *cq2;
		struct nvme_sq *sq2;

		if (CHECK_EQ(nvme_cq_new(c, 2, 16, 0, false, &cq2), 0) &&
		    CHECK_EQ(nvme_sq_new(c, 2, 16, cq2, &sq2), 0)) {
			CHECK(!nvme_q_stale(sq2) && !nvme_q_stale(cq2));
			CHECK_EQ(nvme_sq_submit(sq2, sqe, NULL, 0, 0, 1, NVME_SUBMIT_NO_DATA), 0);
		}
	}
	nvme_ctrl_free(c);
}

TEST(reset_dead_transport_says_powered_off)
{
	struct fake f;
	struct nvme_ctrl *c;
	struct nvme_cq *cq;
	struct nvme_sq *sq;
	uint8_t sqe[64] = { 0x01 };

	setenv("DENVME_DMA_MB", "64", 1);
	if (!CHECK(nvme_arena_get()))
		return;
	fake_init(&f);
	f.t.msix_size = 0;
	if (!CHECK_EQ(nvme_ctrl_new(&f.t, &c), 0))
		return;
	if (CHECK_EQ(nvme_cq_new(c, 1, 4, 0, false, &cq), 0) &&
	    CHECK_EQ(nvme_sq_new(c, 1, 4, cq, &sq), 0)) {
		f.t.dead = true;
		CHECK_EQ(nvme_sq_submit(sq, sqe, NULL, 0, 0, 1, NVME_SUBMIT_NO_DATA), -ENODEV);
		CHECK(strstr(nvme_get_error(), "fake is gone"));
		f.t.powered_off = true;
		CHECK_EQ(nvme_sq_submit(sq, sqe, NULL, 0, 0, 1, NVME_SUBMIT_NO_DATA), -ENODEV);
		CHECK(strstr(nvme_get_error(), "fake is powered off"));
	}
	nvme_ctrl_free(c);
}

TEST(reset_lineconn_tracks_irq_levels)
{
	struct lineconn *c = calloc(1, sizeof(*c));
	char reply[64];
	int sv[2];
	static const char replies[] = "IRQ raise 20\nOK 0x1\nIRQ raise 21\nIRQ lower 20\n"
				      "IRQ lower 99\nIRQ bogus\nOK 0x2\n";

	if (!CHECK(c) || !CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0)) {
		free(c);
		return;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->fd = sv[0];
	c->timeout_ms = 1000;
	c->skip_prefix = "IRQ";
	CHECK_EQ(write(sv[1], replies, strlen(replies)), (ssize_t)strlen(replies));
	/* the asynchronous lines before each reply are skipped and counted as levels */
	CHECK_EQ(lineconn_exchange(c, "readl 0x0\n", 10, 1, reply, sizeof(reply)), 6);
	CHECK(!strcmp(reply, "OK 0x1"));
	CHECK_EQ(c->irq_level, 1ull << 20);
	CHECK_EQ(lineconn_exchange(c, "readl 0x0\n", 10, 1, reply, sizeof(reply)), 6);
	CHECK(!strcmp(reply, "OK 0x2"));
	CHECK_EQ(c->irq_level, 1ull << 21);
	CHECK_EQ(c->irq_raises, 2);
	CHECK_EQ(c->events, 5);

	/* a new connection taken over under the lock starts with every line low */
	{
		struct lineconn fresh = { .fd = sv[1], .timeout_ms = 500 };

		lineconn_replace(c, &fresh);
		CHECK_EQ(c->fd, sv[1]);
		CHECK_EQ(fresh.fd, -1);
		CHECK_EQ(c->irq_level, 0);
		CHECK(!c->dead);
		CHECK(!strcmp(c->skip_prefix, "IRQ"));
	}
	lineconn_close(c);
	free(c);
}

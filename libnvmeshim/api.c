/* SPDX-License-Identifier: MIT */
/*
 * api.c - exported entry points: handle and length checks, then the object code.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctrl.h"
#include "dma.h"
#include "handle.h"
#include "nvmeshim.h"
#include "pci.h"
#include "proc.h"
#include "queue.h"
#include "snapshot.h"
#include "transport.h"
#include "util.h"

struct nvme_pcie {
	struct nvme_transport *t;
	uint32_t ctrl; /* handle of the controller attached, 0 if none */
};

/* serializes handle close against CQ waiters taking a reference */
static pthread_mutex_t cq_ref_lock = PTHREAD_MUTEX_INITIALIZER;

#define GET(var, type, htype, h)                                                                 \
	type *var = nvme_handle_get(h, htype);                                                   \
	if (!var)                                                                                \
		return bad_handle(h, htype)

static int bad_handle(uint32_t h, enum nvme_handle_type type)
{
	if (!h)
		return nvme_set_error(-EBADF, "no %s given (handle 0)", nvme_handle_type_name(type));
	return nvme_set_error(-EBADF, "the %s is closed (handle 0x%x is no longer valid)",
			      nvme_handle_type_name(type), h);
}


uint32_t nvme_abi_version(void)
{
	return NVMESHIM_ABI;
}

const char *nvme_error(void)
{
	return nvme_get_error();
}

int nvme_stats(struct nvme_lib_stats *out, uint32_t size)
{
	int r = NVME_CHECK_OUT(out, size, "stats");
	struct nvme_arena *a;

	if (r)
		return r;
	out->pcie = nvme_handle_count(NVME_H_PCIE);
	out->controllers = nvme_handle_count(NVME_H_CTRL);
	out->sqs = nvme_handle_count(NVME_H_SQ);
	out->cqs = nvme_handle_count(NVME_H_CQ);
	out->buffers = nvme_handle_count(NVME_H_BUF);
	out->dma_used = nvme_dma_used();
	out->children = (uint64_t)nvme_proc_count();
	a = nvme_arena_get();
	out->arena_size = a ? a->size : 0;
	return 0;
}

/* --- PCIe ------------------------------------------------------------------ */

/*
 * pcie_handle_new() - wrap a freshly opened transport in a PCIe handle; on
 * failure the transport is closed (the device stopped) and -ENFILE returned.
 */
static int pcie_handle_new(struct nvme_transport *t, uint32_t *out)
{
	struct nvme_pcie *p = calloc(1, sizeof(*p));

	if (p)
		p->t = t;
	*out = p ? nvme_handle_new(NVME_H_PCIE, p) : 0;
	if (!*out) {
		t->ops->close(t);
		free(p);
		return nvme_set_error(-ENFILE, "too many open objects");
	}
	return 0;
}

int nvme_pcie_open_qemu(const char *args, const char *images, uint32_t *out)
{
	struct nvme_transport *t;
	int r;

	if (!args || !images || !out)
		return nvme_set_error(-EFAULT, "nvme_pcie_open_qemu: missing argument");
	r = nvme_qemu_open(args, images, &t);
	if (r)
		return r;
	return pcie_handle_new(t, out);
}

int nvme_pcie_open_vfio(const char *bdf, uint32_t *out)
{
	struct nvme_transport *t;
	int r;

	if (!bdf || !out)
		return nvme_set_error(-EFAULT, "nvme_pcie_open_vfio: missing argument");
	r = nvme_vfio_open(bdf, &t);
	if (r)
		return r;
	return pcie_handle_new(t, out);
}

int nvme_pcie_open_tcp(const char *cfg, uint32_t *out)
{
	struct nvme_transport *t;
	int r;

	if (!cfg || !out)
		return nvme_set_error(-EFAULT, "nvme_pcie_open_tcp: missing argument");
	r = nvme_tcp_open(cfg, &t);
	if (r)
		return r;
	return pcie_handle_new(t, out);
}

int nvme_pcie_open_loopback(uint64_t nsze, uint32_t lba_size, uint32_t queues, uint32_t *out)
{
	struct nvme_transport *t;
	int r;

	if (!out)
		return nvme_set_error(-EFAULT, "nvme_pcie_open_loopback: missing argument");
	r = nvme_loopback_open(nsze, lba_size, queues, &t);
	if (r)
		return r;
	return pcie_handle_new(t, out);
}

int nvme_tcp_discovery_log(const char *cfg, uint8_t *out, uint32_t len, uint32_t *got)
{
	if (!cfg || !out || !got)
		return nvme_set_error(-EFAULT, "nvme_tcp_discovery_log: missing argument");
	return nvme_tcp_discover(cfg, out, len, got);
}

int nvme_guest_start(const char *argv, const char *log, uint32_t *pid)
{
	char *buf, *argvv[256];
	int n = 0, fd = -1;
	pid_t r;

	if (!argv || !log || !pid)
		return nvme_set_error(-EFAULT, "nvme_guest_start: missing argument");
	buf = strdup(argv);
	if (!buf)
		return nvme_set_error(-ENOMEM, "out of memory");
	for (char *s = buf, *nl; s && *s && n < 255; s = nl ? nl + 1 : NULL) {
		nl = strchr(s, '\n');
		if (nl)
			*nl = 0;
		argvv[n++] = s;
	}
	argvv[n] = NULL;
	if (!n || argvv[0][0] != '/') {
		free(buf);
		return nvme_set_error(-EINVAL, "nvme_guest_start: the program must be an absolute path");
	}
	if (log[0]) {
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			free(buf);
			return nvme_set_error(-errno, "cannot create %s: %s", log, strerror(errno));
		}
	}
	r = nvme_proc_spawn(argvv, NULL, 0, fd);
	if (fd >= 0)
		close(fd);
	free(buf);
	if (r < 0)
		return (int)r;
	*pid = (uint32_t)r;
	return 0;
}

int nvme_guest_stop(uint32_t pid, uint32_t grace_ms)
{
	if (!pid)
		return nvme_set_error(-EINVAL, "nvme_guest_stop: pid 0");
	return nvme_proc_stop((pid_t)pid, (int)(grace_ms > 60000 ? 60000 : grace_ms));
}

int nvme_guest_alive(uint32_t pid)
{
	return pid ? nvme_proc_alive((pid_t)pid) : 0;
}

int nvme_tcp_free_port(uint32_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(a);
	int fd, r = 0;

	if (!port)
		return nvme_set_error(-EFAULT, "nvme_tcp_free_port: no output");
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return nvme_set_error(-errno, "socket: %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || getsockname(fd, (struct sockaddr *)&a, &l))
		r = nvme_set_error(-errno, "no free port on 127.0.0.1: %s", strerror(errno));
	else
		*port = ntohs(a.sin_port);
	close(fd);
	return r;
}

int nvme_pcie_close(uint32_t h)
{
	GET(p, struct nvme_pcie, NVME_H_PCIE, h);
	if (p->ctrl && nvme_handle_get(p->ctrl, NVME_H_CTRL))
		return nvme_set_error(-EBUSY, "close the controller before its PCIe device");
	nvme_handle_close(h, NVME_H_PCIE);
	p->t->ops->close(p->t);
	free(p);
	return 0;
}

int nvme_pcie_cfg_read(uint32_t h, uint32_t off, uint32_t size, uint32_t *val)
{
	GET(p, struct nvme_pcie, NVME_H_PCIE, h);
	if (!val)
		return nvme_set_error(-EFAULT, "cfg_read: no output");
	return p->t->ops->cfg_read(p->t, off, size, val);
}

int nvme_pcie_cfg_write(uint32_t h, uint32_t off, uint32_t size, uint32_t val)
{
	int r;

	GET(p, struct nvme_pcie, NVME_H_PCIE, h);
	r = p->t->ops->cfg_write(p->t, off, size, val);
	if (!r)
		nvme_pci_cfg_written(p->t, off, size, val);
	return r;
}

int nvme_pcie_info(uint32_t h, struct nvme_pcie_info *out, uint32_t size)
{
	int r = NVME_CHECK_OUT(out, size, "pcie_info");

	if (r)
		return r;
	GET(p, struct nvme_pcie, NVME_H_PCIE, h);
	out->qemu_pid = (uint64_t)nvme_qemu_pid(p->t);
	out->bar0_size = p->t->bar0_size;
	out->msix_size = p->t->msix_size;
	out->nvec = p->t->nvec;
	out->irq_words = (uint64_t)(uintptr_t)p->t->irq_words;
	out->alive = (uint64_t)p->t->ops->alive(p->t);
	return 0;
}

int nvme_pcie_irq_mask(uint32_t h, uint32_t vec, uint32_t mask)
{
	GET(p, struct nvme_pcie, NVME_H_PCIE, h);
	return p->t->ops->irq_mask(p->t, vec, mask != 0);
}

int nvme_pcie_control(uint32_t h, const char *req, char *out, uint32_t cap)
{
	GET(p, struct nvme_pcie, NVME_H_PCIE, h);
	if (!req || !out || cap < 2)
		return nvme_set_error(-EFAULT, "control: missing request or reply buffer");
	return p->t->ops->control(p->t, req, out, cap);
}

int nvme_pcie_enable(uint32_t h)
{
	GET(p, struct nvme_pcie, NVME_H_PCIE, h);
	return p->t->ops->pci_enable(p->t);
}

int nvme_pcie_hot_reset(uint32_t h)
{
	GET(p, struct nvme_pcie, NVME_H_PCIE, h);
	if (!p->t->ops->hot_reset)
		return nvme_set_error(-ENOTSUP, "%s: hot reset is not supported by the %s transport",
				      p->t->name, p->t->ops->name);
	if (p->t->dead)
		return nvme_set_error(-ENODEV, "%s is %s", p->t->name, nvme_transport_gone(p->t));
	return p->t->ops->hot_reset(p->t);
}

int nvme_pcie_power(uint32_t h, uint32_t on)
{
	GET(p, struct nvme_pcie, NVME_H_PCIE, h);
	if (!p->t->ops->power)
		return nvme_set_error(-ENOTSUP, "%s: the %s transport cannot switch power (real "
				      "hardware needs an external switch: give power callbacks)",
				      p->t->name, p->t->ops->name);
	return p->t->ops->power(p->t, on != 0);
}

int nvme_pcie_intx(uint32_t h, uint32_t *level)
{
	GET(p, struct nvme_pcie, NVME_H_PCIE, h);
	if (!level)
		return nvme_set_error(-EFAULT, "intx: no output");
	if (!p->t->ops->intx)
		return nvme_set_error(-ENOTSUP, "%s: the %s transport cannot observe INTx",
				      p->t->name, p->t->ops->name);
	return p->t->ops->intx(p->t, level);
}

int nvme_pcie_state(uint32_t h, struct nvme_pcie_state *out, uint32_t size)
{
	int r = NVME_CHECK_OUT(out, size, "pcie_state");

	if (r)
		return r;
	GET(p, struct nvme_pcie, NVME_H_PCIE, h);
	out->powered_off = p->t->powered_off;
	out->epoch = __atomic_load_n(&p->t->epoch, __ATOMIC_ACQUIRE);
	out->nvec = p->t->nvec;
	out->nvec_routed = p->t->nvec_routed;
	return 0;
}

/* --- controllers ------------------------------------------------------------ */

int nvme_ctrl_open(uint32_t pcie, uint32_t *out)
{
	struct nvme_ctrl *c;
	int r;

	GET(p, struct nvme_pcie, NVME_H_PCIE, pcie);
	if (!out)
		return nvme_set_error(-EFAULT, "ctrl_open: no output");
	if (p->ctrl && nvme_handle_get(p->ctrl, NVME_H_CTRL))
		return nvme_set_error(-EBUSY, "a controller is already open on %s", p->t->name);
	if ((r = nvme_ctrl_new(p->t, &c)))
		return r;
	c->handle = nvme_handle_new(NVME_H_CTRL, c);
	if (!c->handle) {
		nvme_ctrl_free(c);
		return nvme_set_error(-ENFILE, "too many open objects");
	}
	p->ctrl = c->handle;
	*out = c->handle;
	return 0;
}

int nvme_ctrl_close(uint32_t h)
{
	GET(c, struct nvme_ctrl, NVME_H_CTRL, h);
	pthread_mutex_lock(&nvme_snap_lock);
	nvme_handle_close(h, NVME_H_CTRL);
	pthread_mutex_lock(&cq_ref_lock);
	for (uint32_t q = 0; q <= c->max_qid_used; q++) {
		if (c->sqs[q])
			nvme_handle_close(c->sqs[q]->handle, NVME_H_SQ);
		if (c->cqs[q])
			nvme_handle_close(c->cqs[q]->handle, NVME_H_CQ);
	}
	pthread_mutex_unlock(&cq_ref_lock);
	pthread_mutex_unlock(&nvme_snap_lock);
	nvme_ctrl_free(c);
	return 0;
}

static int reg_check(uint32_t off, unsigned size)
{
	if (off & (size - 1))
		return nvme_set_error(-EINVAL, "register offset 0x%x is not %u-byte aligned", off,
				      size);
	return 0;
}

int nvme_ctrl_reg_read32(uint32_t h, uint32_t off, uint32_t *val)
{
	uint64_t v;
	int r;

	GET(c, struct nvme_ctrl, NVME_H_CTRL, h);
	if (!val)
		return nvme_set_error(-EFAULT, "reg_read32: no output");
	if ((r = reg_check(off, 4)) || (r = nvme_ctrl_reg_read(c, off, 4, &v)))
		return r;
	*val = (uint32_t)v;
	return 0;
}

int nvme_ctrl_reg_read64(uint32_t h, uint32_t off, uint64_t *val)
{
	int r;

	GET(c, struct nvme_ctrl, NVME_H_CTRL, h);
	if (!val)
		return nvme_set_error(-EFAULT, "reg_read64: no output");
	if ((r = reg_check(off, 8)))
		return r;
	return nvme_ctrl_reg_read(c, off, 8, val);
}

int nvme_ctrl_reg_write32(uint32_t h, uint32_t off, uint32_t val)
{
	int r;

	GET(c, struct nvme_ctrl, NVME_H_CTRL, h);
	if ((r = reg_check(off, 4)))
		return r;
	return nvme_ctrl_reg_write(c, off, 4, val);
}

int nvme_ctrl_reg_write64(uint32_t h, uint32_t off, uint64_t val)
{
	int r;

	GET(c, struct nvme_ctrl, NVME_H_CTRL, h);
	if ((r = reg_check(off, 8)))
		return r;
	return nvme_ctrl_reg_write(c, off, 8, val);
}

int nvme_ctrl_set_timeout(uint32_t h, uint32_t ms)
{
	GET(c, struct nvme_ctrl, NVME_H_CTRL, h);
	if (ms > 3600000)
		return nvme_set_error(-EINVAL, "timeout %u ms: allowed 0..3600000", ms);
	c->timeout_ns = (uint64_t)ms * 1000000ull;
	return 0;
}

int nvme_ctrl_flush_doorbells(uint32_t h)
{
	GET(c, struct nvme_ctrl, NVME_H_CTRL, h);
	/* before a script looks at interrupt words (msixIsSet) */
	if (c->t->ops->irq_sync)
		c->t->ops->irq_sync(c->t);
	return nvme_ctrl_flush(c);
}

/* --- queues -------------------------------------------------------------------- */

static int check_qid(struct nvme_ctrl *c, uint32_t qid)
{
	(void)c;
	if (qid > NVME_MAX_QID)
		return nvme_set_error(-EINVAL, "queue id %u: allowed 0..%u", qid, NVME_MAX_QID);
	return 0;
}

int nvme_cq_create(uint32_t ctrl, uint32_t qid, uint32_t size, uint32_t vector, uint32_t ien,
		   uint32_t *out, uint64_t *iova)
{
	struct nvme_cq *cq;
	int r;

	GET(c, struct nvme_ctrl, NVME_H_CTRL, ctrl);
	if (!out || !iova)
		return nvme_set_error(-EFAULT, "cq_create: no output");
	if ((r = check_qid(c, qid)))
		return r;
	if (vector > 2047)
		return nvme_set_error(-EINVAL, "interrupt vector %u: allowed 0..2047", vector);
	if ((r = nvme_cq_new(c, (uint16_t)qid, size, (uint16_t)vector, ien != 0, &cq)))
		return r;
	cq->handle = nvme_handle_new(NVME_H_CQ, cq);
	if (!cq->handle) {
		nvme_cq_free(cq);
		return nvme_set_error(-ENFILE, "too many open objects");
	}
	*out = cq->handle;
	*iova = cq->iova;
	return 0;
}

int nvme_cq_delete(uint32_t h)
{
	GET(cq, struct nvme_cq, NVME_H_CQ, h);
	if (cq->nsq)
		return nvme_set_error(-EBUSY, "completion queue %u still has %d submission queue(s)",
				      cq->qid, cq->nsq);
	pthread_mutex_lock(&nvme_snap_lock);
	pthread_mutex_lock(&cq_ref_lock);
	nvme_handle_close(h, NVME_H_CQ);
	pthread_mutex_unlock(&cq_ref_lock);
	pthread_mutex_unlock(&nvme_snap_lock);
	return nvme_cq_free(cq);
}

int nvme_sq_create(uint32_t ctrl, uint32_t qid, uint32_t size, uint32_t cqh, uint32_t *out,
		   uint64_t *iova)
{
	struct nvme_sq *sq;
	int r;

	GET(c, struct nvme_ctrl, NVME_H_CTRL, ctrl);
	GET(cq, struct nvme_cq, NVME_H_CQ, cqh);
	if (!out || !iova)
		return nvme_set_error(-EFAULT, "sq_create: no output");
	if ((r = check_qid(c, qid)))
		return r;
	if (cq->ctrl != c)
		return nvme_set_error(-EINVAL, "completion queue %u belongs to another controller",
				      cq->qid);
	if ((r = nvme_sq_new(c, (uint16_t)qid, size, cq, &sq)))
		return r;
	sq->handle = nvme_handle_new(NVME_H_SQ, sq);
	if (!sq->handle) {
		nvme_sq_free(sq);
		return nvme_set_error(-ENFILE, "too many open objects");
	}
	*out = sq->handle;
	*iova = sq->iova;
	return 0;
}

int nvme_sq_delete(uint32_t h)
{
	GET(sq, struct nvme_sq, NVME_H_SQ, h);
	pthread_mutex_lock(&nvme_snap_lock);
	nvme_handle_close(h, NVME_H_SQ);
	pthread_mutex_unlock(&nvme_snap_lock);
	nvme_sq_free(sq);
	return 0;
}

int nvme_sq_submit_cmd(uint32_t sqh, const uint8_t *sqe, uint32_t sqe_len, uint32_t bufh,
		       uint32_t off, uint32_t len, uint32_t tag, uint32_t flags)
{
	struct nvme_buf *buf = NULL;

	GET(sq, struct nvme_sq, NVME_H_SQ, sqh);
	if (!sqe || sqe_len != 64)
		return nvme_set_error(-EINVAL, "a command is 64 bytes, %u given", sqe_len);
	if (flags & ~(uint32_t)(NVME_SUBMIT_RAW_PRP | NVME_SUBMIT_NO_TIMEOUT | NVME_SUBMIT_NO_DATA |
				NVME_SUBMIT_SGL | NVME_SUBMIT_NO_STAMP))
		return nvme_set_error(-EINVAL, "unknown submit flags 0x%x", flags);
	if (bufh) {
		buf = nvme_handle_get(bufh, NVME_H_BUF);
		if (!buf)
			return bad_handle(bufh, NVME_H_BUF);
	} else if (len && !(flags & (NVME_SUBMIT_RAW_PRP | NVME_SUBMIT_NO_DATA))) {
		return nvme_set_error(-EINVAL, "a %u-byte transfer needs a buffer", len);
	}
	return nvme_sq_submit(sq, sqe, buf, off, len, tag, flags);
}

int nvme_sq_submit_meta(uint32_t sqh, const uint8_t *sqe, uint32_t sqe_len, uint32_t bufh,
			uint32_t off, uint32_t len, uint32_t mbufh, uint32_t moff, uint32_t mlen,
			uint32_t tag, uint32_t flags)
{
	struct nvme_buf *mbuf = nvme_handle_get(mbufh, NVME_H_BUF);
	uint8_t cmd[64];
	uint64_t mptr;
	int cid;

	if (!mbuf)
		return bad_handle(mbufh, NVME_H_BUF);
	if (!sqe || sqe_len != 64)
		return nvme_set_error(-EINVAL, "a command is 64 bytes, %u given", sqe_len);
	if ((uint64_t)moff + mlen > mbuf->alloc || (moff & 3))
		return nvme_set_error(-EINVAL, "metadata of %u bytes at offset %u: the buffer has %llu "
				      "bytes and MPTR must be dword aligned", mlen, moff,
				      (unsigned long long)mbuf->alloc);
	memcpy(cmd, sqe, 64);
	mptr = mbuf->iova + moff;
	memcpy(cmd + 16, &mptr, 8);
	cid = nvme_sq_submit_cmd(sqh, cmd, 64, bufh, off, len, tag, flags);
	if (cid >= 0) {
		struct nvme_sq *sq = nvme_handle_get(sqh, NVME_H_SQ);

		nvme_buf_get(mbuf);
		sq->tr[cid].mbuf = mbuf; /* the doorbell is not written yet */
	}
	return cid;
}

int nvme_cq_reap(uint32_t cqh, struct nvme_cpl *out, uint32_t max)
{
	GET(cq, struct nvme_cq, NVME_H_CQ, cqh);
	if (!out || !max)
		return nvme_set_error(-EFAULT, "cq_reap: no output");
	return nvme_cq_process(cq, out, max);
}

int nvme_cq_irq_gate(uint32_t cqh, uint32_t on)
{
	GET(cq, struct nvme_cq, NVME_H_CQ, cqh);
	cq->irq_gate = on != 0;
	return 0;
}

int nvme_cq_poll_wait(uint32_t cqh, uint32_t timeout_us)
{
	struct nvme_cq *cq;
	int r;

	if (timeout_us > 1000000)
		return nvme_set_error(-EINVAL, "wait of %u us: allowed 0..1000000", timeout_us);
	/* take the reference under the lock that nvme_cq_delete() closes handles with */
	pthread_mutex_lock(&cq_ref_lock);
	cq = nvme_handle_get(cqh, NVME_H_CQ);
	if (cq)
		__atomic_add_fetch(&cq->busy, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&cq_ref_lock);
	if (!cq)
		return bad_handle(cqh, NVME_H_CQ);
	r = nvme_cq_wait(cq, timeout_us);
	__atomic_sub_fetch(&cq->busy, 1, __ATOMIC_ACQ_REL);
	return r;
}

int nvme_cq_reap_wait(uint32_t cqh, struct nvme_cpl *out, uint32_t max, uint32_t timeout_us)
{
	struct nvme_cq *cq;
	int r;

	if (!out || !max)
		return nvme_set_error(-EFAULT, "cq_reap_wait: no output");
	if (timeout_us > 1000000)
		return nvme_set_error(-EINVAL, "wait of %u us: allowed 0..1000000", timeout_us);
	/* held busy as by nvme_cq_poll_wait(): a delete from another thread waits for it */
	pthread_mutex_lock(&cq_ref_lock);
	cq = nvme_handle_get(cqh, NVME_H_CQ);
	if (cq)
		__atomic_add_fetch(&cq->busy, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_unlock(&cq_ref_lock);
	if (!cq)
		return bad_handle(cqh, NVME_H_CQ);
	r = nvme_cq_process(cq, out, max);
	if (r == 0 && timeout_us && nvme_cq_wait(cq, timeout_us))
		r = nvme_cq_process(cq, out, max);
	__atomic_sub_fetch(&cq->busy, 1, __ATOMIC_ACQ_REL);
	return r;
}

int nvme_sq_abandon(uint32_t sqh, struct nvme_cpl *out, uint32_t max)
{
	GET(sq, struct nvme_sq, NVME_H_SQ, sqh);
	if (!out || !max)
		return nvme_set_error(-EFAULT, "sq_abandon: no output");
	return nvme_sq_fail_all(sq, out, max);
}

int nvme_sq_cmdlog(uint32_t sqh, struct nvme_cmdlog_info *out, uint32_t size)
{
	struct timespec rt;
	int r = NVME_CHECK_OUT(out, size, "sq_cmdlog");

	if (r)
		return r;
	GET(sq, struct nvme_sq, NVME_H_SQ, sqh);
	clock_gettime(CLOCK_REALTIME, &rt);
	out->entries = (uint64_t)(uintptr_t)sq->log;
	out->depth = NVME_CMDLOG_DEPTH;
	out->written = sq->log_seq;
	out->mono_ns = nvme_now_ns();
	out->real_ns = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec;
	return 0;
}

int nvme_sq_stats(uint32_t sqh, struct nvme_sq_info *out, uint32_t size)
{
	int r = NVME_CHECK_OUT(out, size, "sq_stats");

	if (r)
		return r;
	GET(sq, struct nvme_sq, NVME_H_SQ, sqh);
	out->qid = sq->qid;
	out->size = sq->size;
	out->tail = sq->tail;
	out->head = sq->head;
	out->outstanding = sq->outstanding;
	out->timedout = sq->timedout;
	out->cq_qid = sq->cq->qid;
	out->submitted = (uint32_t)sq->submitted;
	return 0;
}

/* --- buffers ----------------------------------------------------------------------- */

int nvme_buf_alloc(uint32_t size, uint32_t *out, struct nvme_buf_addr *addr)
{
	struct nvme_buf *b;

	if (!out || !addr)
		return nvme_set_error(-EFAULT, "buf_alloc: no output");
	if (size == 0 || size > (1u << 30))
		return nvme_set_error(-EINVAL, "buffer size %u: allowed 1..1073741824 bytes", size);
	b = nvme_buf_new(size);
	if (!b)
		return -ENOMEM;
	*out = nvme_handle_new(NVME_H_BUF, b);
	if (!*out) {
		nvme_buf_put(b);
		return nvme_set_error(-ENFILE, "too many open objects");
	}
	addr->vaddr = (uint64_t)(uintptr_t)b->vaddr;
	addr->iova = b->iova;
	return 0;
}

int nvme_buf_free(uint32_t h)
{
	struct nvme_buf *b = nvme_handle_close(h, NVME_H_BUF);

	if (!b)
		return bad_handle(h, NVME_H_BUF);
	nvme_buf_put(b);
	return 0;
}

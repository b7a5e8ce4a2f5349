/* SPDX-License-Identifier: MIT */
/*
 * ioworker.c - the IO engine's loop: it drives one privately rung IO queue pair
 * from its own thread (see ioworker.h); the pure parts (histogram, workload
 * generation, throttle arithmetic, patterns, layout) are in ioworker_gen.c.
 */
#define _GNU_SOURCE

#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctrl.h"
#include "dma.h"
#include "handle.h"
#include "ioworker.h"
#include "nvme_opcodes.h"
#include "queue.h"
#include "util.h"

#define GUARD_NS (30 * NS_PER_S) /* pynvme: an ioworker still running at time + 30 s fails */
#define LATE_NS (200 * NS_PER_MS)   /* after the run time, IOs later than this are not submitted */
#define CHECK_NS (100 * NS_PER_MS) /* device check after this long without progress */
/* --- the loop ---------------------------------------------------------------------- */

struct iow_ctx {
	uint64_t submit_ns;
	uint64_t due_ns; /* when it was due, from the start (throttle schedule) */
	uint64_t slba;
	uint32_t nlb;
	uint16_t cid;
	uint8_t opcode;
	uint8_t busy;
};

struct iow {
	const struct iow_args *a;
	struct iow_shm *s;
	uint32_t *ips;
	struct iow_rec *ring;
	uint64_t *hist;
	struct nvme_ctrl *c;
	struct nvme_sq *sq;
	struct nvme_cq *cq;
	struct iow_gen *g;
	const struct iow_seq *seq;
	struct nvme_buf *wbuf, *rbuf, *dsm;
	uint64_t slot_bytes;
	bool rslots;	       /* reads have a slot each (verification on: data checked) */
	bool has_retry;	       /* retry: generated, refused by a verification lock */
	struct iow_io retry;
	struct iow_ctx *ctx;
	uint16_t *free_stack;
	uint32_t nfree, nctx;
	uint64_t start_ns, time_ns, guard_ns, guard_after_ns, next_due_ns;
	uint64_t last_progress_ns, last_check_ns, last_done_ns;
	uint64_t k; /* IOs submitted */
	uint64_t due_rel; /* due time of the IO being submitted, from the start */
	uint64_t completed, in_flight, lat_sum, lat_max;
	uint32_t ips_last; /* last per-second slot of a time-limited run */
	bool stopping;	   /* no more submissions */
	bool deadline_hit; /* stopped by the run time */
	bool abort;	   /* leave the loop now */
};

static void host_error(struct iow *w, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void host_error(struct iow *w, int code, const char *fmt, ...)
{
	va_list ap;

	w->stopping = true;
	if (w->s->host_error)
		return; /* the first one tells what happened */
	va_start(ap, fmt);
	vsnprintf(w->s->message, sizeof(w->s->message), fmt, ap);
	va_end(ap);
	__atomic_store_n(&w->s->host_error, code, __ATOMIC_RELEASE);
}

/* The queue is lost: the device is gone or powered off, or the function was reset under it. */
static void lost(struct iow *w, const char *detail)
{
	struct nvme_transport *t = w->c->t;

	if (!t->dead && nvme_q_stale(w->sq))
		host_error(w, IOW_E_TERMINATED, "terminated: the %s of %s dropped the queue with "
			   "%llu IO(s) in flight", t->last_reset ? t->last_reset : "reset", t->name,
			   (unsigned long long)w->in_flight);
	else
		host_error(w, IOW_E_GONE, "the device is %s: %s%s%s%s",
			   t->dead ? nvme_transport_gone(t) : "gone", t->name,
			   detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
	w->abort = true;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static inline void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* Post one IO (the doorbell rings later). Return: 0, -EAGAIN (queue full), -errno. */
static int submit_one(struct iow *w, const struct iow_io *io, uint64_t now)
{
	uint16_t i = w->free_stack[w->nfree - 1];
	struct iow_ctx *x = &w->ctx[i];
	struct nvme_buf *buf = NULL;
	uint64_t off = 0, len = 0;
	uint8_t sqe[64] = { 0 };
	int r;

	sqe[0] = io->opcode;
	put32(sqe + 4, w->a->nsid);
	if (io->opcode == NVME_IO_DSM) { /* one range, deallocate */
		uint8_t *range = w->dsm->vaddr + (uint64_t)i * 16;

		put32(range, 0);
		put32(range + 4, io->nlb);
		put64(range + 8, io->slba);
		put32(sqe + 44, 1u << 2);
		buf = w->dsm;
		off = (uint64_t)i * 16;
		len = 16;
	} else if (io->opcode != NVME_IO_FLUSH) {
		unsigned dir = iow_data_dir(io->opcode);

		put64(sqe + 40, io->slba);
		put32(sqe + 48, io->nlb - 1);
		len = (uint64_t)io->nlb * w->a->lba_size;
		if (dir == 2) {
			/*
			 * Reads share one sink unless the namespace is verified: then each
			 * read is checked from its own slot at completion (verify.c).
			 */
			buf = w->rbuf;
			off = w->rslots ? (uint64_t)i * w->slot_bytes : 0;
		} else if (dir) {
			/* a write to a verified namespace is stamped in its slot (verify.c) */
			buf = w->wbuf;
			off = (uint64_t)i * w->slot_bytes;
		} else {
			len = 0;
		}
	}
	r = nvme_sq_submit(w->sq, sqe, buf, off, len, i, 0);
	if (r < 0)
		return r;
	w->nfree--;
	x->submit_ns = now;
	x->due_ns = w->due_rel;
	x->slba = io->slba;
	x->nlb = io->nlb;
	x->opcode = io->opcode;
	x->cid = (uint16_t)r;
	x->busy = 1;
	w->in_flight++;
	w->k++;
	return 0;
}

static const char *opname(uint8_t opc)
{
	const char *name = nvme_opcode_name(opc, 0);

	return name ? name : opc >= 0x80 ? "vendor command" : "command";
}

static void release_ctx(struct iow *w, uint16_t i)
{
	w->ctx[i].busy = 0;
	w->free_stack[w->nfree++] = i;
}

static void complete(struct iow *w, const struct nvme_cpl *p, uint64_t now)
{
	struct iow_shm *s = w->s;
	struct iow_ctx *x;
	uint16_t status;
	uint64_t lat, sec;

	if (p->flags & (NVME_CPL_LATE | NVME_CPL_UNKNOWN) || p->tag >= w->nctx)
		return;
	x = &w->ctx[p->tag];
	if (!x->busy)
		return;
	w->in_flight--;
	if (p->flags & NVME_CPL_GONE) {
		/* the tracker is released: the slot may be reused */
		release_ctx(w, (uint16_t)p->tag);
		w->in_flight++; /* counted in the message: the others follow in this batch */
		lost(w, NULL);
		w->in_flight--;
		return;
	}
	if (p->flags & NVME_CPL_TIMEOUT) {
		/* the CID (and this slot's buffer) stay reserved until the device answers */
		x->busy = 2;
		if (!s->error) {
			s->error_opcode = x->opcode;
			s->error_lba = x->slba;
			s->error_nlb = x->nlb;
			__atomic_store_n(&s->error, NVME_STATUS_HOST_TIMEOUT, __ATOMIC_RELEASE);
		}
		host_error(w, IOW_E_IO_TIMEOUT, "IO timeout: %s lba %llu count %u (cid %u) not "
			   "completed within %llu ms", opname(x->opcode),
			   (unsigned long long)x->slba, x->nlb, x->cid,
			   (unsigned long long)(w->c->timeout_ns / NS_PER_MS));
		return;
	}
	status = (uint16_t)((p->dw[3] >> 17) & 0x7ff);
	lat = now > x->submit_ns ? now - x->submit_ns : 0;
	w->completed++;
	w->lat_sum += lat;
	if (lat > w->lat_max)
		w->lat_max = lat;
	w->hist[iow_hist_index((lat + 500) / 1000)]++;
	s->op_counts[x->opcode]++;
	if (x->opcode == NVME_IO_READ)
		s->reads++;
	else
		s->nonreads++;
	if (x->opcode == NVME_IO_WRITE)
		s->writes++;
	if (status && !s->error) {
		/* pynvme: the first failing IO stops the worker */
		s->error_opcode = x->opcode;
		s->error_lba = x->slba;
		s->error_nlb = x->nlb;
		/* a verification failure (07/81): what was wrong, in words */
		if ((p->flags & (NVME_CPL_VERIFY_LBA | NVME_CPL_VERIFY_CRC | NVME_CPL_VERIFY_UNC)) &&
		    !s->host_error)
			nvme_verify_describe(w->sq, p->tag, s->message, sizeof(s->message));
		__atomic_store_n(&s->error, status, __ATOMIC_RELEASE);
		w->stopping = true;
	}
	/* reads were verified and the table updated in nvme_cq_process() (verify.c) */
	sec = (now - w->start_ns) / NS_PER_S;
	if (w->time_ns && sec > w->ips_last)
		sec = w->ips_last; /* IOs completing after the run time count in its last second */
	/*
	 * The last second counts the IOs due in it, exactly (pynvme's users read
	 * iops=N as N per second): an IO due earlier that completes late (a stall
	 * at the boundary) counts in the second before.
	 */
	if (w->time_ns && w->ips_last && sec == w->ips_last &&
	    x->due_ns < (uint64_t)w->ips_last * NS_PER_S)
		sec = w->ips_last - 1;
	if (w->a->ips_n) {
		if (sec >= w->a->ips_n)
			sec = w->a->ips_n - 1;
		w->ips[sec]++;
		if (sec + 1 > s->ips_used)
			s->ips_used = sec + 1;
	}
	if (w->a->cmdlog_n) {
		struct iow_rec *rec = &w->ring[s->cmdlog_count % w->a->cmdlog_n];

		rec->slba = x->slba;
		rec->time_us = (now - w->start_ns) / 1000;
		rec->nlb = x->nlb;
		rec->latency_us = (uint32_t)((lat + 500) / 1000);
		rec->status = status;
		rec->opcode = x->opcode;
		rec->flags = (uint8_t)p->flags;
		rec->cid = x->cid;
		s->cmdlog_count++;
	}
	w->last_done_ns = now;
	release_ctx(w, (uint16_t)p->tag);
}

/* Submit what is due. Return: IOs submitted. */
static unsigned submit_due(struct iow *w, uint64_t now)
{
	const struct iow_args *a = w->a;
	bool retried = false; /* the IO refused earlier was tried in this call */
	unsigned n = 0;

	/*
	 * The run time bounds the run whatever the rate. Before the deadline an
	 * IO due after it is not submitted: the worker waits for the deadline
	 * (it runs its whole time). From the deadline on, only IOs due before it
	 * that are at most LATE_NS late still go (a throttled run keeps its exact
	 * count through a scheduling hiccup); a worker behind its rate (the
	 * device cannot keep up with iops) stops there.
	 */
	bool over = w->time_ns && now - w->start_ns >= w->time_ns;

	while (w->nfree) {
		bool from_retry = false;
		struct iow_io io;
		uint64_t due;
		int r;

		if (a->io_count && w->k >= a->io_count) {
			w->stopping = true;
			break;
		}
		if (w->seq) {
			if (w->k >= a->nseq) {
				w->stopping = true;
				break;
			}
			due = w->seq[w->k].time_us * 1000;
		} else if (a->iops) {
			due = iow_due_ns(w->k, a->iops);
		} else {
			due = now - w->start_ns;
		}
		if ((w->time_ns && due >= w->time_ns && over) ||
		    (over && now - w->start_ns > due + LATE_NS)) {
			w->stopping = w->deadline_hit = true;
			break;
		}
		if (w->time_ns && due >= w->time_ns) {
			/* nothing more is due before the deadline: wait for it */
			w->next_due_ns = w->start_ns + w->time_ns;
			break;
		}
		if (w->start_ns + due > now) {
			w->next_due_ns = w->start_ns + due;
			break;
		}
		if (w->seq) {
			io.slba = w->seq[w->k].slba;
			io.nlb = w->seq[w->k].nlb;
			io.opcode = (uint8_t)w->seq[w->k].opcode;
		} else if (w->has_retry && !retried) {
			io = w->retry;
			from_retry = retried = true;
		} else {
			iow_gen_next(w->g, &io);
		}
		w->due_rel = due;
		r = submit_one(w, &io, now);
		if (r == -EAGAIN) {
			/*
			 * LBAs locked by an IO in flight (verification): keep this IO for
			 * later and go on with others, so one conflict does not stall the
			 * queue; a second refused IO waits for completions. A replayed
			 * trace keeps its order.
			 */
			if (w->seq)
				break;
			if (from_retry)
				continue;
			if (w->has_retry)
				break;
			w->retry = io;
			w->has_retry = retried = true;
			continue;
		}
		if (from_retry)
			w->has_retry = false;
		if (r < 0) {
			if (r == -ENODEV || w->c->t->dead || nvme_q_stale(w->sq))
				lost(w, NULL);
			else
				host_error(w, IOW_E_SUBMIT, "submitting %s lba %llu count %u: %s",
					   opname(io.opcode), (unsigned long long)io.slba, io.nlb,
					   nvme_get_error());
			w->abort = true;
			break;
		}
		n++;
	}
	return n;
}

/* One register exchange: the CQ head of what was reaped, the SQ tail of what was posted. */
static int ring(struct iow *w)
{
	return nvme_q_ring(w->sq, w->cq);
}

/* Nothing completed for a while: is the device still there and ready? */
static void check_device(struct iow *w)
{
	struct nvme_transport *t = w->c->t;
	uint64_t csts = 0;
	int r;

	if (t->dead || (t->ops->alive && !t->ops->alive(t)) || nvme_q_stale(w->sq)) {
		lost(w, NULL);
		return;
	}
	r = t->ops->bar_read(t, NVME_REG_CSTS, 4, &csts);
	if (r || t->dead) {
		lost(w, nvme_get_error());
	} else if (csts == 0xffffffff || !(csts & 1) || (csts & 2)) {
		host_error(w, IOW_E_NOT_READY, "the controller is not ready (CSTS = 0x%x%s) with "
			   "%llu IO(s) in flight: it was reset, disabled or failed", (unsigned)csts,
			   csts == 0xffffffff ? ", all ones" : (csts & 2) ? ", fatal status" : "",
			   (unsigned long long)w->in_flight);
		w->abort = true;
	}
}

static void nap(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / NS_PER_S), .tv_nsec = (long)(ns % NS_PER_S) };

	nanosleep(&ts, NULL);
}

/* Nothing happened this iteration: wait a little, cheaply. */
static void idle(struct iow *w, uint64_t now)
{
	uint64_t quiet = now - w->last_progress_ns;

	if (w->in_flight && quiet >= CHECK_NS && now - w->last_check_ns >= CHECK_NS) {
		w->last_check_ns = now;
		check_device(w);
		return;
	}
	if (!w->in_flight && !w->stopping && w->next_due_ns > now) {
		uint64_t wait = w->next_due_ns - now;

		/* sleep towards the next due IO in slices (the stop flag is read between) */
		if (wait > 200000)
			nap(wait - 100000 < NS_PER_MS ? wait - 100000 : NS_PER_MS);
		else
			nvme_cpu_relax();
		return;
	}
	/* spin while a completion is likely soon, then give the CPU away (QEMU needs it) */
	if (quiet < 100000)
		nvme_cpu_relax();
	else if (w->c->t->ops->poll) /* a message transport: wait in its socket */
		w->c->t->ops->poll(w->c->t, w->cq->qid, 1000);
	else if (quiet < 2 * NS_PER_MS)
		sched_yield();
	else
		usleep(50);
}

static void publish(struct iow *w, uint64_t now)
{
	struct iow_shm *s = w->s;

	__atomic_store_n(&s->elapsed_us, (now - w->start_ns) / 1000, __ATOMIC_RELAXED);
	__atomic_store_n(&s->submitted, w->k, __ATOMIC_RELAXED);
	__atomic_store_n(&s->completed, w->completed, __ATOMIC_RELAXED);
	__atomic_store_n(&s->in_flight, w->in_flight, __ATOMIC_RELAXED);
	__atomic_store_n(&s->lat_sum_ns, w->lat_sum, __ATOMIC_RELAXED);
	__atomic_store_n(&s->lat_max_ns, w->lat_max, __ATOMIC_RELAXED);
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void run(struct iow *w)
{
	struct nvme_cpl cpl[256];
	uint64_t cpu0 = thread_cpu_ns(), now;

	w->start_ns = now = nvme_now_ns();
	w->last_progress_ns = w->last_check_ns = w->last_done_ns = now;
	w->time_ns = w->a->time_ms * NS_PER_MS;
	if (w->time_ns) {
		w->guard_after_ns = w->a->guard_ms ? w->a->guard_ms * NS_PER_MS : GUARD_NS;
		w->guard_ns = w->start_ns + w->time_ns + w->guard_after_ns;
		w->ips_last = (uint32_t)((w->time_ns + NS_PER_S - 1) / NS_PER_S - 1);
	}
	__atomic_store_n(&w->s->state, IOW_ST_RUNNING, __ATOMIC_RELEASE);
	for (;;) {
		uint32_t stop = __atomic_load_n(&w->s->stop, __ATOMIC_ACQUIRE);
		unsigned submitted = 0;
		int n;

		if (stop >= IOW_STOP_NOW || __atomic_load_n(&w->sq->priv, __ATOMIC_ACQUIRE) == 2) {
			host_error(w, IOW_E_TERMINATED, "terminated with %llu IO(s) in flight",
				   (unsigned long long)w->in_flight);
			break;
		}
		if (stop == IOW_STOP_DRAIN)
			w->stopping = true;
		/* an FLR, hot reset or power cycle of the function: the queues are gone */
		if (nvme_q_stale(w->sq)) {
			lost(w, NULL);
			break;
		}
		n = nvme_cq_process(w->cq, cpl, ARRAY_SIZE(cpl));
		/* one clock read per iteration: the reap's, for completions and submissions */
		now = w->cq->reap_ns;
		if (n < 0) {
			host_error(w, IOW_E_TERMINATED, "%s", nvme_get_error());
			break;
		}
		for (int i = 0; i < n; i++)
			complete(w, &cpl[i], now);
		if (w->abort)
			break;
		if (w->guard_ns && now >= w->guard_ns) {
			host_error(w, IOW_E_GUARD, "ioworker timeout: still running %llu ms after its "
				   "time of %llu ms, %llu IO(s) in flight",
				   (unsigned long long)(w->guard_after_ns / NS_PER_MS),
				   (unsigned long long)w->a->time_ms,
				   (unsigned long long)w->in_flight);
			break;
		}
		if (!w->stopping) {
			w->sq->batch_ns = now;
			submitted = submit_due(w, now);
			w->sq->batch_ns = 0;
		}
		if (ring(w)) {
			lost(w, nvme_get_error());
			break;
		}
		if (w->abort)
			break;
		publish(w, now);
		if (w->stopping && !w->in_flight)
			break;
		if (w->stopping && __atomic_load_n(&w->s->state, __ATOMIC_RELAXED) != IOW_ST_DRAINING)
			__atomic_store_n(&w->s->state, IOW_ST_DRAINING, __ATOMIC_RELEASE);
		if (n || submitted) {
			w->last_progress_ns = now;
			continue;
		}
		idle(w, now);
	}
	now = w->completed ? w->last_done_ns : nvme_now_ns();
	if (w->deadline_hit && now < w->start_ns + w->time_ns)
		now = w->start_ns + w->time_ns; /* it ran until its time was up */
	publish(w, now);
	w->s->cpu_ns = thread_cpu_ns() - cpu0;
	for (uint32_t i = 0; i < w->a->npct && i < IOW_MAX_PCT; i++)
		w->s->pct_us[i] = iow_hist_percentile_max(w->hist, w->completed, w->a->pct[i],
							  (w->lat_max + 500) / 1000);
}

static int fail(struct iow_shm *s, int code, int err)
{
	if (s) {
		snprintf(s->message, sizeof(s->message), "%s", nvme_get_error());
		s->host_error = code;
		__atomic_store_n(&s->state, IOW_ST_DONE, __ATOMIC_RELEASE);
	}
	return err;
}

static int check_seq(const struct iow_args *a, const uint8_t *seq, uint32_t seq_len)
{
	const struct iow_seq *q = (const void *)seq;

	if (!a->nseq || !seq || (uintptr_t)seq % 8 || seq_len / sizeof(*q) < a->nseq)
		return nvme_set_error(-EINVAL, "the IO sequence needs %u records of %zu bytes, "
				      "8-byte aligned (%u bytes given)", a->nseq, sizeof(*q), seq_len);
	for (uint32_t i = 0; i < a->nseq; i++) {
		if (q[i].opcode > 255 || (q[i].opcode != 0 && (q[i].nlb < 1 || q[i].nlb > a->max_lbas)))
			return nvme_set_error(-EINVAL, "IO sequence record %u: opcode %u count %u "
					      "(allowed opcodes 0..255, count 1..%u)", i,
					      q[i].opcode, q[i].nlb, a->max_lbas);
		if (i && q[i].time_us < q[i - 1].time_us)
			return nvme_set_error(-EINVAL, "IO sequence record %u: time %llu us is before "
					      "the previous record's", i,
					      (unsigned long long)q[i].time_us);
	}
	return 0;
}

int nvme_ioworker_run(uint32_t sqh, uint32_t cqh, const uint8_t *args, uint32_t args_len,
		      const uint8_t *seq, uint32_t seq_len, uint8_t *shm, uint32_t shm_len)
{
	const struct iow_args *a = (const void *)args;
	struct iow_shm *s = (void *)shm;
	struct iow w = { 0 };
	struct nvme_iow_layout l;
	uint64_t bytes;
	int owned = 0, r;

	if (!shm || shm_len < sizeof(*s) || (uintptr_t)shm % 8)
		return nvme_set_error(-EINVAL, "ioworker: shared memory of %u bytes at %p: need %zu "
				      "bytes, 8-byte aligned", shm_len, (void *)shm, sizeof(*s));
	if (s->magic != IOW_SHM_MAGIC)
		return nvme_set_error(-EINVAL, "ioworker: shared memory not initialized");
	if (!args || args_len != sizeof(*a) || (uintptr_t)args % 8 || a->magic != IOW_ARGS_MAGIC ||
	    a->size != sizeof(*a))
		return fail(s, IOW_E_INIT, nvme_set_error(-EINVAL, "ioworker: arguments of %u bytes: "
							  "expected %zu with the right magic "
							  "(library and TypeScript out of step?)",
							  args_len, sizeof(*a)));
	if (a->ips_n > MAX_IPS || a->cmdlog_n > MAX_CMDLOG)
		return fail(s, IOW_E_INIT, nvme_set_error(-EINVAL, "ioworker: too many outputs"));
	iow_shm_layout(a->ips_n, a->cmdlog_n, &l);
	if (shm_len < l.total)
		return fail(s, IOW_E_INIT, nvme_set_error(-EINVAL, "ioworker: shared memory of %u "
							  "bytes, %u needed", shm_len, l.total));
	if (a->qdepth < 2 || a->qdepth > IOW_MAX_QDEPTH)
		return fail(s, IOW_E_INIT, nvme_set_error(-EINVAL, "qdepth %u: allowed 2..%u",
							  a->qdepth, IOW_MAX_QDEPTH));
	if (!a->lba_size || a->lba_size % 512 || !a->max_lbas ||
	    (uint64_t)a->max_lbas * a->lba_size > (64ull << 20))
		return fail(s, IOW_E_INIT, nvme_set_error(-EINVAL, "ioworker: LBA size %u, largest IO "
							  "%u LBAs", a->lba_size, a->max_lbas));
	if ((a->flags & IOW_F_SEQUENCE) && (r = check_seq(a, seq, seq_len)))
		return fail(s, IOW_E_INIT, r);

	w.a = a;
	w.s = s;
	w.ips = (uint32_t *)(shm + l.ips_off);
	w.ring = (struct iow_rec *)(shm + l.cmdlog_off);
	w.hist = (uint64_t *)(shm + l.hist_off);
	w.seq = a->flags & IOW_F_SEQUENCE ? (const void *)seq : NULL;
	w.sq = nvme_handle_get(sqh, NVME_H_SQ);
	w.cq = nvme_handle_get(cqh, NVME_H_CQ);
	if (!w.sq || !w.cq || w.sq->cq != w.cq)
		return fail(s, IOW_E_INIT, nvme_set_error(-EBADF, "ioworker: the queue pair is closed "
							  "or its SQ and CQ do not belong "
							  "together"));
	w.c = w.sq->ctrl;
	if (a->qdepth > w.sq->size)
		return fail(s, IOW_E_INIT, nvme_set_error(-EINVAL, "qdepth %u is above the %u entries "
							  "of queue %u", a->qdepth, w.sq->size,
							  w.sq->qid));
	if (!__atomic_compare_exchange_n(&w.sq->priv, &owned, 1, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return fail(s, IOW_E_INIT, nvme_set_error(-EBUSY, "queue %u is already driven by "
							  "another ioworker", w.sq->qid));
	__atomic_store_n(&w.cq->priv, 1, __ATOMIC_RELEASE);
	if (w.sq->outstanding || w.sq->timedout) {
		r = nvme_set_error(-EBUSY, "queue %u has %u command(s) in flight: an ioworker needs "
				   "an idle queue pair", w.sq->qid, w.sq->outstanding + w.sq->timedout);
		fail(s, IOW_E_INIT, r);
		goto out_release;
	}

	w.g = malloc(sizeof(*w.g));
	if (!w.g) {
		r = fail(s, IOW_E_NOMEM, nvme_set_error(-ENOMEM, "out of memory"));
		goto out_release;
	}
	if ((r = iow_gen_init(w.g, a))) {
		fail(s, IOW_E_INIT, r);
		goto out_free;
	}
	w.nctx = a->qdepth - 1;
	w.slot_bytes = ALIGN_UP((uint64_t)a->max_lbas * a->lba_size, 4096);
	bytes = w.slot_bytes * w.nctx;
	if (bytes > IOW_MAX_BUF_BYTES) {
		r = fail(s, IOW_E_NOMEM, nvme_set_error(-ENOMEM, "ioworker: %u IOs of up to %llu "
						       "bytes in flight need %llu MiB of data "
						       "buffers, at most %llu MiB allowed: lower "
						       "qdepth or ioSize", w.nctx,
						       (unsigned long long)w.slot_bytes,
						       (unsigned long long)(bytes >> 20),
						       IOW_MAX_BUF_BYTES >> 20));
		goto out_free;
	}
	w.ctx = calloc(w.nctx, sizeof(*w.ctx));
	w.free_stack = calloc(w.nctx, sizeof(*w.free_stack));
	w.wbuf = nvme_buf_new(bytes);
	w.rslots = nvme_verify_on(w.c, a->nsid);
	w.rbuf = w.wbuf ? nvme_buf_new(w.rslots ? bytes : w.slot_bytes) : NULL;
	w.dsm = w.rbuf ? nvme_buf_new((uint64_t)w.nctx * 16) : NULL;
	if (!w.ctx || !w.free_stack || !w.dsm) {
		char why[160];

		snprintf(why, sizeof(why), "%s", nvme_get_error());
		r = fail(s, IOW_E_NOMEM, nvme_set_error(-ENOMEM, "ioworker: no memory for %llu MiB "
						       "of data buffers: %s",
						       (unsigned long long)(bytes >> 20), why));
		goto out_free;
	}
	{
		struct iow_rng fill_rng;

		iow_rng_seed(&fill_rng, a->seed ^ 0x5eedda7a);
		if (iow_fill(w.wbuf->vaddr, bytes, a->lba_size, a->ptype, a->pvalue, &fill_rng)) {
			r = fail(s, IOW_E_INIT, nvme_set_error(-EINVAL, "ptype 0x%x pvalue %u: "
							       "unknown pattern", a->ptype,
							       a->pvalue));
			goto out_free;
		}
	}
	for (uint32_t i = 0; i < w.nctx; i++)
		w.free_stack[i] = (uint16_t)(w.nctx - 1 - i);
	w.nfree = w.nctx;

	run(&w);
	r = 0;

out_free:
	/* commands still in flight hold their own references to the buffers */
	if (w.wbuf)
		nvme_buf_put(w.wbuf);
	if (w.rbuf)
		nvme_buf_put(w.rbuf);
	if (w.dsm)
		nvme_buf_put(w.dsm);
	free(w.ctx);
	free(w.free_stack);
	free(w.g);
out_release:
	__atomic_store_n(&s->state, IOW_ST_DONE, __ATOMIC_RELEASE);
	/* let go of the queues last: nvme_sq_free() may be waiting to free them */
	__atomic_store_n(&w.cq->priv, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&w.sq->priv, 0, __ATOMIC_RELEASE);
	return r;
}

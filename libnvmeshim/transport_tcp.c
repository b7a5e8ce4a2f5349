/* SPDX-License-Identifier: MIT */
/*
 * transport_tcp.c - NVMe over TCP (host side), behind the same transport ops
 * as the PCIe transports.
 *
 * The queue core keeps its rings in DMA memory and rings doorbells; this
 * transport is the "device" that serves them over fabrics:
 *   - an SQ tail doorbell sends the new SQEs as CapsuleCmd PDUs on that
 *     queue's own TCP connection (data described by a transport SGL; small
 *     writes in the capsule, larger ones on R2T as H2CData PDUs);
 *   - poll() turns received PDUs (C2HData, CapsuleResp, R2T) into data copied
 *     to the command's buffer and CQEs written into the CQ ring with the
 *     phase tag, exactly where a PCIe device would have written them;
 *   - Create I/O CQ/SQ and Delete I/O SQ/CQ on the admin queue are served
 *     here: a new I/O SQ is a new connection (ICReq/ICResp + Fabrics Connect);
 *   - register reads and writes are Fabrics Property Get/Set; AQA/ASQ/ACQ
 *     only tell this transport where the admin rings are; CC.EN 1 -> 0 ends
 *     the association (every connection) and connects the admin queue anew.
 * A fatal error on any connection (closed, TermReq, bad PDU) ends the
 * association: the device is then gone for the queue core.
 *
 * Ending queues and the association as NVMe over Fabrics asks: deleting an
 * I/O queue sends the Fabrics Disconnect command on its connection and waits
 * (bounded) for the answer before the socket closes; closing the transport
 * disconnects the remaining I/O queues, shuts the controller down (CC.SHN
 * normal shutdown by Property Set, CSTS.SHST polled, bounded) and then closes
 * the admin connection. A target that does not implement Disconnect (Linux's
 * nvmet answers Invalid Opcode) or answers nothing is noted in the event log
 * (control "log"), never an error. The event log is process-wide, so what a
 * closed controller did stays readable through another one.
 */
#define _GNU_SOURCE

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "crc32c.h"
#include "ctrl.h"
#include "dma.h"
#include "queue.h"
#include "tcp_pdu.h"
#include "transport.h"
#include "util.h"

#define ICID_EXEC 0xfff0 /* the transport's own synchronous commands */
#define ICID_KA 0xfffe	 /* keep alive, answered whenever */
#define MAX_QID 65535u
#define ADMIN_ICD 8192u /* in-capsule data the admin queue takes (NVMe/TCP) */
#define DISCONNECT_MS 2000u /* longest wait for Disconnect answers (or the timeout, if shorter) */
#define SHUTDOWN_MS 5000u   /* longest wait for CSTS.SHST at close (or the timeout) */
#define TERM_LINGER_MS 100  /* after a termination request: time for the target to take it */

enum { DIR_NONE = 0, DIR_H2C = 1, DIR_C2H = 2 };

struct tcp_cmd {
	uint8_t *data;
	uint32_t len;
	uint16_t cid;
	uint8_t dir, busy, opc, cns;
	uint8_t dderr; /* a data digest error in its C2HData: it ends with Data Transfer Error */
	uint32_t nsid;
};

struct tcp_cq {
	pthread_mutex_t lock;
	struct nvme_cqe *ring;
	uint32_t size, tail, head;
	uint8_t phase;
	struct nvme_cqe *ovf; /* completions waiting for room in the ring */
	unsigned novf, capovf;
	struct tcp_cq *next; /* deleted CQs, freed with the transport */
};

struct tcp_tr;

struct tcp_conn {
	struct tcp_tr *tr;
	pthread_mutex_t lock;
	int fd;
	uint16_t qid, cqid;
	bool inited, dead;
	bool closing; /* Disconnect sent: the target may close; that ends this queue only */
	struct tcp_params prm;
	uint32_t icd; /* in-capsule data bytes accepted */
	/* the SQ ring in DMA memory and the next entry to send */
	uint8_t *ring;
	uint32_t size, sent;
	struct tcp_cmd *cmds; /* by CID, size entries */
	/* the transport's own command in flight */
	struct tcp_cmd icmd;
	bool idone;
	uint32_t icqe[4];
	/* receive state */
	uint8_t hdr[256];
	uint32_t have, hneed; /* header bytes read / to read */
	struct tcp_hdr h;
	uint8_t *dst;  /* data destination of the current C2HData */
	uint32_t dneed, dhave, crc;
	uint8_t dg[4];
	uint32_t dghave;
	int state; /* 0 header, 1 data, 2 data digest */
	struct tcp_conn *next_dead;
};

struct tcp_tr {
	struct nvme_transport t;
	pthread_mutex_t lock; /* the tables below */
	char host[256], port[256], subnqn[256], hostnqn[256];
	uint8_t hostid[16];
	bool hdgst, ddgst;
	uint32_t kato_ms, timeout_ms;
	uint16_t cntlid;
	struct tcp_conn *admin;
	struct tcp_conn **io; /* by qid */
	struct tcp_cq **cqs;  /* by qid */
	uint32_t max_qid;
	struct tcp_conn *graveyard; /* closed connections, freed with the transport */
	struct tcp_cq *dead_cqs;
	uint32_t aqa, cc;
	uint64_t asq, acq;
	uint32_t ioccsz; /* in-capsule data bytes of I/O queues (from Identify), 0 unknown */
	uint8_t lbads[1024]; /* log2 LBA size per namespace (from Identify Namespace), 0 unknown */
	char why[384];	 /* why the association ended */
	/* PDU counts (reported by control "info"): in-capsule writes, R2Ts, H2CData, C2HData */
	uint64_t n_icd, n_r2t, n_h2c, n_c2h;
	pthread_t ka;
	bool ka_started;
	int ka_stop;
};

#define TR(t) ((struct tcp_tr *)(t))

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* the association is over: every queue of the controller is gone */
static void tr_fail(struct tcp_tr *tr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tr_fail(struct tcp_tr *tr, const char *fmt, ...)
{
	va_list ap;

	if (!tr->why[0]) {
		va_start(ap, fmt);
		vsnprintf(tr->why, sizeof(tr->why), fmt, ap);
		va_end(ap);
	}
	__atomic_store_n(&tr->t.dead, true, __ATOMIC_RELEASE);
}

/* --- event log ------------------------------------------------------------------ */

#define EVLOG_LINES 128
#define EVLOG_LEN 384

/* process-wide: what the transports did on their own (Disconnect, shutdown, TermReq) */
static char evlog[EVLOG_LINES][EVLOG_LEN];
static uint64_t evlog_n;
static pthread_mutex_t evlog_lock = PTHREAD_MUTEX_INITIALIZER;

static void tr_log(struct tcp_tr *tr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tr_log(struct tcp_tr *tr, const char *fmt, ...)
{
	char msg[256], *line;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&evlog_lock);
	line = evlog[evlog_n % EVLOG_LINES];
	evlog_n++;
	snprintf(line, EVLOG_LEN, "#%llu %s cntlid %u: %s", (unsigned long long)evlog_n, tr->t.name,
		 tr->cntlid, msg);
	if (getenv("DENVME_TCP_LOG"))
		fprintf(stderr, "denvme: %s\n", line);
	pthread_mutex_unlock(&evlog_lock);
}

/* the event log, oldest line first, as much of the newest as fits in @cap */
static void evlog_read(char *out, unsigned cap)
{
	uint64_t first, i;
	size_t used = 0;

	if (!cap)
		return;
	out[0] = 0;
	pthread_mutex_lock(&evlog_lock);
	first = evlog_n > EVLOG_LINES ? evlog_n - EVLOG_LINES : 0;
	/* skip the oldest lines that would not fit */
	for (size_t need = 0, k = evlog_n; k > first; k--) {
		need += strlen(evlog[(k - 1) % EVLOG_LINES]) + 1;
		if (need >= cap) {
			first = k;
			break;
		}
	}
	for (i = first; i < evlog_n; i++) {
		int n = snprintf(out + used, cap - used, "%s%s", used ? "\n" : "",
				 evlog[i % EVLOG_LINES]);

		if (n < 0 || (size_t)n >= cap - used)
			break;
		used += (size_t)n;
	}
	pthread_mutex_unlock(&evlog_lock);
}

/* a completion's status field (SCT/SC) in words, for the log */
static const char *status_words(uint32_t st)
{
	switch (st & 0x7ff) {
	case 0x000:
		return "success";
	case 0x001:
		return "Invalid Command Opcode";
	case 0x002:
		return "Invalid Field in Command";
	case 0x00c:
		return "Command Sequence Error";
	default:
		return "not a status Disconnect is expected to end with";
	}
}

/* --- completion queues --------------------------------------------------------- */

static void cq_write(struct tcp_cq *q, const struct nvme_cqe *e)
{
	volatile struct nvme_cqe *d = &q->ring[q->tail];

	d->dw0 = e->dw0;
	d->dw1 = e->dw1;
	d->sqhd = e->sqhd;
	d->sqid = e->sqid;
	d->cid = e->cid;
	nvme_wmb();
	d->status = (uint16_t)((e->status & ~1u) | q->phase);
	if (++q->tail == q->size) {
		q->tail = 0;
		q->phase ^= 1;
	}
}

static bool cq_full(const struct tcp_cq *q)
{
	return (q->tail + 1 == q->size ? 0 : q->tail + 1) == q->head;
}

static void cq_drain(struct tcp_cq *q)
{
	unsigned i = 0;

	while (i < q->novf && !cq_full(q))
		cq_write(q, &q->ovf[i++]);
	if (i) {
		memmove(q->ovf, q->ovf + i, (q->novf - i) * sizeof(*q->ovf));
		q->novf -= i;
	}
}

static void cq_post(struct tcp_tr *tr, uint16_t cqid, const struct nvme_cqe *e)
{
	struct tcp_cq *q = tr->cqs[cqid];

	if (!q)
		return; /* the CQ was deleted: nobody waits for this */
	pthread_mutex_lock(&q->lock);
	if (!q->ring) {
		pthread_mutex_unlock(&q->lock);
		return;
	}
	cq_drain(q);
	if (q->novf || cq_full(q)) {
		if (q->novf == q->capovf) {
			unsigned cap = q->capovf ? q->capovf * 2 : 64;
			struct nvme_cqe *n = realloc(q->ovf, cap * sizeof(*n));

			if (!n) {
				pthread_mutex_unlock(&q->lock);
				return;
			}
			q->ovf = n;
			q->capovf = cap;
		}
		q->ovf[q->novf++] = *e;
	} else {
		cq_write(q, e);
	}
	pthread_mutex_unlock(&q->lock);
}

/* a completion made here (not by the target): @sct/@sc, for command @cid of queue @qid */
static void post_local(struct tcp_conn *c, uint16_t cid, uint32_t dw0, uint8_t sct, uint8_t sc)
{
	struct nvme_cqe e = { .dw0 = dw0, .sqhd = (uint16_t)c->sent, .sqid = c->qid, .cid = cid,
			      .status = (uint16_t)(((sct & 7u) << 9) | ((uint32_t)sc << 1)) };

	cq_post(c->tr, c->cqid, &e);
}

/* --- sockets -------------------------------------------------------------------- */

static int conn_fatal(struct tcp_conn *c, int fes, uint32_t field, const char *why);

/* send everything in @iov, waiting for room up to the transport's timeout */
static int send_all(struct tcp_conn *c, struct iovec *iov, int n)
{
	uint64_t end = nvme_now_ns() + (uint64_t)c->tr->timeout_ms * 1000000ull;

	while (n) {
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t w;

		if (c->dead || c->fd < 0)
			return -ENODEV;
		w = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			struct pollfd p = { .fd = c->fd, .events = POLLOUT };
			uint64_t now = nvme_now_ns();

			if (now >= end) {
				conn_fatal(c, 0, 0, "the target took no data for the whole timeout");
				return -ETIMEDOUT;
			}
			poll(&p, 1, 10);
			continue;
		}
		if (w < 0) {
			char why[96];

			snprintf(why, sizeof(why), "send failed: %s", strerror(errno));
			conn_fatal(c, 0, 0, why);
			return -ENODEV;
		}
		while (n && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static void conn_close_fd(struct tcp_conn *c)
{
	if (c->fd >= 0) {
		shutdown(c->fd, SHUT_RDWR);
		close(c->fd);
		c->fd = -1;
	}
}

/*
 * After a termination request: no more data from here (FIN after the PDU), and
 * a short time for the target to take it and close; unread input would turn
 * close() into a reset that can discard the request before it is sent.
 */
static void conn_linger_close(struct tcp_conn *c)
{
	uint64_t end = nvme_now_ns() + TERM_LINGER_MS * 1000000ull;
	uint8_t sink[4096];

	shutdown(c->fd, SHUT_WR);
	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		uint64_t now = nvme_now_ns();
		ssize_t r;

		if (now >= end || poll(&p, 1, (int)((end - now) / 1000000ull) + 1) <= 0)
			break;
		r = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
			break; /* the target closed its side */
	}
	conn_close_fd(c);
}

/*
 * A fatal transport error: tell the target (H2CTermReq with @fes unless 0),
 * close the connection and end the association. On a queue being
 * disconnected, the target closing it is expected: only that queue ends.
 */
static int conn_fatal(struct tcp_conn *c, int fes, uint32_t field, const char *why)
{
	if (c->dead)
		return -ENODEV;
	c->dead = true;
	if (c->closing && !fes) {
		conn_close_fd(c);
		tr_log(c->tr, "queue %u: connection closed after Disconnect: %s", c->qid, why);
		return -ENODEV;
	}
	if (fes && c->fd >= 0) {
		uint8_t pdu[TCP_HLEN_TERM + TCP_TERM_MAX_DATA];
		uint32_t n = tcp_term(pdu, (uint16_t)fes, field, c->hdr,
				      c->have < TCP_TERM_MAX_DATA ? c->have : TCP_TERM_MAX_DATA);
		ssize_t w = send(c->fd, pdu, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		tr_log(c->tr, "queue %u: H2CTermReq %s (FES 0x%x, FEI 0x%x)%s: %s", c->qid,
		       tcp_fes_name((uint32_t)fes), fes, field,
		       w == (ssize_t)n ? " sent" : " could not be sent", why);
		conn_linger_close(c);
	} else {
		conn_close_fd(c);
	}
	if (fes)
		tr_fail(c->tr, "%s, queue %u: %s (fatal error %s, field at byte %u): connection "
			"closed", c->tr->t.name, c->qid, why, tcp_fes_name((uint32_t)fes), field);
	else
		tr_fail(c->tr, "%s, queue %u: %s", c->tr->t.name, c->qid, why);
	return -ENODEV;
}

/* --- sending commands ------------------------------------------------------------ */

/*
 * Send @sqe (its data pointer rewritten to the NVMe/TCP SGL form) with @len
 * bytes of data at @data in direction @dir: in the capsule when the queue takes
 * that much, else on the target's R2Ts (writes) or in C2HData (reads).
 */
static int send_capsule(struct tcp_conn *c, const uint8_t *sqe, uint8_t *data, uint32_t len,
			uint8_t dir, bool force_icd)
{
	uint8_t cmd[64], hdr[TCP_HLEN_CMD + 4 + 128], dg[4];
	struct iovec iov[3];
	bool icd = dir == DIR_H2C && len && (len <= c->icd || force_icd);
	uint32_t hl;
	int n = 0;

	memcpy(cmd, sqe, 64);
	cmd[1] = (uint8_t)((cmd[1] & 0x3f) | 0x40); /* PSDT 01b: SGL */
	put64(cmd + 24, 0);
	put32(cmd + 32, len);
	memset(cmd + 36, 0, 3);
	/* in-capsule: data block at offset 0; else transport data block (C2HData/R2T) */
	cmd[39] = icd ? 0x01 : 0x5a;
	hl = tcp_cmd_hdr(hdr, cmd, icd ? len : 0, &c->prm);
	if (icd)
		__atomic_add_fetch(&c->tr->n_icd, 1, __ATOMIC_RELAXED);
	iov[n++] = (struct iovec){ hdr, hl };
	if (icd) {
		iov[n++] = (struct iovec){ data, len };
		if (c->prm.ddgst) {
			put32(dg, crc32c(0, data, len));
			iov[n++] = (struct iovec){ dg, 4 };
		}
	}
	return send_all(c, iov, n);
}

/* H2CData PDUs for an R2T: [@off, @off+@len) of @cmd, at most MAXH2CDATA each */
static int send_h2c(struct tcp_conn *c, struct tcp_cmd *cmd, uint16_t cid, uint16_t ttag,
		    uint32_t off, uint32_t len)
{
	while (len) {
		uint32_t n = len < c->prm.maxh2cdata ? len : c->prm.maxh2cdata;
		uint8_t hdr[TCP_HLEN_DATA + 4 + 128], dg[4];
		struct iovec iov[3];
		int k = 0, r;
		uint32_t hl = tcp_h2c_hdr(hdr, cid, ttag, off, n, n == len, &c->prm);

		iov[k++] = (struct iovec){ hdr, hl };
		iov[k++] = (struct iovec){ cmd->data + off, n };
		if (c->prm.ddgst) {
			put32(dg, crc32c(0, cmd->data + off, n));
			iov[k++] = (struct iovec){ dg, 4 };
		}
		if ((r = send_all(c, iov, k)))
			return r;
		__atomic_add_fetch(&c->tr->n_h2c, 1, __ATOMIC_RELAXED);
		off += n;
		len -= n;
	}
	return 0;
}

/* --- receiving ------------------------------------------------------------------- */

static struct tcp_cmd *cmd_of(struct tcp_conn *c, uint16_t cid)
{
	if (cid == ICID_EXEC)
		return c->icmd.busy ? &c->icmd : NULL;
	if (!c->cmds)
		return NULL;
	/* the queue core's CIDs index the table; a raw queue's own CIDs are probed for */
	for (uint32_t i = 0, k = cid % c->size; i < c->size; i++, k = k + 1 == c->size ? 0 : k + 1)
		if (c->cmds[k].busy && c->cmds[k].cid == cid)
			return &c->cmds[k];
	return NULL;
}

/* Identify Controller passing by: remember IOCCSZ (in-capsule data of I/O queues) */
static void sniff(struct tcp_conn *c, const struct tcp_cmd *cmd)
{
	if (c->qid == 0 && cmd->opc == 0x06 && cmd->cns == 1 && cmd->data && cmd->len >= 4096) {
		uint32_t ioccsz = get32(cmd->data + 1792) * 16;

		c->tr->ioccsz = ioccsz > 64 ? ioccsz - 64 : 0;
	}
	/* Identify Namespace: the LBA size, for raw commands that give PRPs */
	if (c->qid == 0 && cmd->opc == 0x06 && cmd->cns == 0 && cmd->data && cmd->len >= 4096 &&
	    cmd->nsid && cmd->nsid <= ARRAY_SIZE(c->tr->lbads)) {
		uint8_t f = cmd->data[26] & 0xf;

		c->tr->lbads[cmd->nsid - 1] = cmd->data[128 + 4 * f + 2];
	}
}

/* status field (bits 31:17 of CQE DW3) of Data Transfer Error, 00/04 */
#define ST_DATA_XFER (0x04u << 17)

static void complete(struct tcp_conn *c, uint16_t cid, const uint32_t *cqe)
{
	struct tcp_cmd *cmd = cmd_of(c, cid);
	struct nvme_cqe e;
	uint32_t dw3 = cqe[3];

	if (cid == ICID_KA)
		return;
	/* a data digest error in the data of a command that succeeded: the data is bad */
	if (cmd && cmd->dderr && !(dw3 >> 17))
		dw3 |= ST_DATA_XFER;
	if (cid == ICID_EXEC) {
		if (cmd) {
			memcpy(c->icqe, cqe, 12);
			c->icqe[3] = dw3;
			c->idone = true;
			cmd->busy = 0;
		}
		return;
	}
	memcpy(&e, cqe, 12);
	e.cid = (uint16_t)dw3;
	e.status = (uint16_t)(dw3 >> 16);
	if (cmd) {
		if (!(e.status >> 1))
			sniff(c, cmd);
		cmd->busy = 0;
	}
	if (cmd && cmd->opc == 0x7f && (cmd->nsid & 0xff) == 0x08) { /* a script's Disconnect */
		tr_log(c->tr, "queue %u: Disconnect (CID %u, sent by the script) answered %02x/%02x "
		       "(%s)", c->qid, cid, (e.status >> 9) & 7, (e.status >> 1) & 0xff,
		       status_words(e.status >> 1));
		if (e.status >> 1)
			c->closing = false; /* refused: the queue stays */
	}
	/* the queue core tracks its SQ head by what this connection sent */
	e.sqhd = (uint16_t)c->sent;
	e.sqid = c->qid;
	cq_post(c->tr, c->cqid, &e);
}

/* a whole header (and padding) is in c->hdr: act on it */
static int on_header(struct tcp_conn *c)
{
	struct tcp_hdr *h = &c->h;
	struct tcp_data_hdr d;
	struct tcp_cmd *cmd;
	char why[200];

	if (h->flags & TCP_F_HDGST) {
		uint32_t want = crc32c(0, c->hdr, h->hlen), got = get32(c->hdr + h->hlen);

		if (want != got) {
			snprintf(why, sizeof(why), "%s header digest 0x%08x, 0x%08x computed",
				 tcp_type_name(h->type), got, want);
			return conn_fatal(c, TCP_FES_HDGST, h->hlen, why);
		}
	}
	switch (h->type) {
	case TCP_ICRESP: {
		int fes = tcp_icresp_parse(c->hdr, c->tr->hdgst, c->tr->ddgst, &c->prm, why,
					   sizeof(why));

		if (fes)
			return conn_fatal(c, fes, 0, why);
		c->inited = true;
		return 0;
	}
	case TCP_C2H_TERM: {
		uint16_t fes = get16(c->hdr + 8);
		uint32_t fei = get32(c->hdr + 10);

		snprintf(why, sizeof(why), "the target ended the connection with C2HTermReq: %s "
			 "(FES 0x%x, FEI 0x%x)", tcp_fes_name(fes), fes, fei);
		tr_log(c->tr, "queue %u: C2HTermReq received: %s (FES 0x%x, FEI 0x%x)", c->qid,
		       tcp_fes_name(fes), fes, fei);
		return conn_fatal(c, 0, 0, why);
	}
	case TCP_RSP: {
		uint32_t cqe[4];
		uint16_t cid;

		for (int i = 0; i < 4; i++)
			cqe[i] = get32(c->hdr + 8 + 4 * i);
		cid = (uint16_t)cqe[3];
		/*
		 * A response for no command in flight is a protocol error, except a
		 * late answer to one of the transport's own commands that timed out.
		 */
		if (!cmd_of(c, cid) && cid != ICID_KA && cid != ICID_EXEC) {
			snprintf(why, sizeof(why), "CapsuleResp for CID %u, which has no command in "
				 "flight (CQE status 0x%04x)", cid, cqe[3] >> 16);
			return conn_fatal(c, TCP_FES_BAD_HEADER, 8 + 12, why);
		}
		complete(c, cid, cqe);
		return 0;
	}
	case TCP_R2T:
		tcp_data_hdr_decode(c->hdr, &d);
		cmd = cmd_of(c, d.cid);
		if (!cmd || cmd->dir != DIR_H2C) {
			snprintf(why, sizeof(why), "R2T for CID %u, which has no write in flight",
				 d.cid);
			return conn_fatal(c, TCP_FES_BAD_HEADER, 8, why);
		}
		if (!d.length || d.offset > cmd->len || d.length > cmd->len - d.offset) {
			snprintf(why, sizeof(why), "R2T of %u bytes at offset %u for a %u-byte "
				 "write (CID %u)", d.length, d.offset, cmd->len, d.cid);
			return conn_fatal(c, TCP_FES_RANGE, 12, why);
		}
		__atomic_add_fetch(&c->tr->n_r2t, 1, __ATOMIC_RELAXED);
		return send_h2c(c, cmd, d.cid, d.ttag, d.offset, d.length);
	case TCP_C2H_DATA:
		tcp_data_hdr_decode(c->hdr, &d);
		cmd = cmd_of(c, d.cid);
		if (!cmd || cmd->dir != DIR_C2H) {
			snprintf(why, sizeof(why), "C2HData for CID %u, which has no read in flight",
				 d.cid);
			return conn_fatal(c, TCP_FES_BAD_HEADER, 8, why);
		}
		if (d.length != tcp_data_len(h)) {
			snprintf(why, sizeof(why), "C2HData DATAL %u, but PLEN/PDO leave %u bytes",
				 d.length, tcp_data_len(h));
			return conn_fatal(c, TCP_FES_BAD_HEADER, 16, why);
		}
		if (d.offset > cmd->len || d.length > cmd->len - d.offset) {
			snprintf(why, sizeof(why), "C2HData of %u bytes at offset %u for a %u-byte "
				 "read (CID %u)", d.length, d.offset, cmd->len, d.cid);
			return conn_fatal(c, TCP_FES_RANGE, 12, why);
		}
		__atomic_add_fetch(&c->tr->n_c2h, 1, __ATOMIC_RELAXED);
		c->dst = cmd->data + d.offset;
		c->dneed = d.length;
		c->dhave = 0;
		c->crc = 0;
		c->state = 1;
		return 0;
	default:
		return conn_fatal(c, TCP_FES_BAD_HEADER, 0, "unexpected PDU type");
	}
}

/* the data (and digest) of a C2HData arrived */
static int on_data(struct tcp_conn *c)
{
	struct tcp_data_hdr d;

	tcp_data_hdr_decode(c->hdr, &d);
	if (c->h.flags & TCP_F_DDGST) {
		uint32_t got = get32(c->dg);

		if (got != c->crc) {
			/*
			 * Not fatal (NVMe/TCP): the connection stays, the command ends
			 * with Data Transfer Error instead of success.
			 */
			struct tcp_cmd *cmd = cmd_of(c, d.cid);

			tr_log(c->tr, "queue %u: C2HData data digest 0x%08x, 0x%08x computed (CID %u, "
			       "%u bytes at offset %u): the command ends with Data Transfer Error",
			       c->qid, got, c->crc, d.cid, d.length, d.offset);
			if (cmd)
				cmd->dderr = 1;
		}
	}
	if ((c->h.flags & TCP_F_SUCCESS) && (c->h.flags & TCP_F_LAST)) {
		uint32_t cqe[4] = { 0, 0, 0, d.cid };

		complete(c, d.cid, cqe);
	}
	return 0;
}

/*
 * Read what arrived without blocking and act on every complete PDU.
 * Return: PDUs handled, or -ENODEV once the connection is gone.
 */
static int conn_rx(struct tcp_conn *c)
{
	int handled = 0;

	for (;;) {
		uint8_t *p;
		uint32_t want;
		ssize_t r;

		if (c->dead || c->fd < 0)
			return -ENODEV;
		if (c->state == 0) {
			want = (c->have < 8 ? 8 : c->hneed) - c->have;
			p = c->hdr + c->have;
		} else if (c->state == 1) {
			want = c->dneed - c->dhave;
			p = c->dst + c->dhave;
		} else {
			want = 4 - c->dghave;
			p = c->dg + c->dghave;
		}
		r = recv(c->fd, p, want, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return handled;
		if (r <= 0) {
			char why[96];

			snprintf(why, sizeof(why), "the target closed the connection%s%s",
				 r ? ": " : "", r ? strerror(errno) : "");
			return conn_fatal(c, 0, 0, why);
		}
		if (c->state == 0) {
			c->have += (uint32_t)r;
			if (c->have == 8) {
				uint32_t field;
				char why[200];
				int fes;

				tcp_hdr_decode(c->hdr, &c->h);
				fes = tcp_check_hdr(&c->h, c->inited ? &c->prm : NULL, &field, why,
						    sizeof(why));
				if (fes)
					return conn_fatal(c, fes, field, why);
				/* data PDUs: header, digest and padding up to PDO; others: all */
				c->hneed = c->h.type == TCP_C2H_DATA ? c->h.pdo : c->h.plen;
				if (c->hneed > sizeof(c->hdr))
					return conn_fatal(c, TCP_FES_BAD_HEADER, 4, "PDU header too long");
			}
			if (c->have >= 8 && c->have == c->hneed) {
				int e = on_header(c);

				if (e)
					return e;
				handled++;
				if (c->state == 0)
					c->have = 0;
			}
		} else if (c->state == 1) {
			if (c->h.flags & TCP_F_DDGST)
				c->crc = crc32c(c->crc, p, (size_t)r);
			c->dhave += (uint32_t)r;
			if (c->dhave == c->dneed) {
				c->dghave = 0;
				c->state = (c->h.flags & TCP_F_DDGST) ? 2 : 3;
			}
		} else {
			c->dghave += (uint32_t)r;
			if (c->dghave == 4)
				c->state = 3;
		}
		if (c->state == 3) {
			int e = on_data(c);

			c->state = 0;
			c->have = 0;
			if (e)
				return e;
		}
	}
}

/* wait up to @ms for input on @c and handle it */
static int conn_wait(struct tcp_conn *c, int ms)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };

	if (c->dead || c->fd < 0)
		return -ENODEV;
	if (poll(&p, 1, ms) < 0 && errno != EINTR)
		return conn_fatal(c, 0, 0, "poll failed");
	return conn_rx(c);
}

/*
 * Run one command of the transport's own (Connect, Property Get/Set) and wait
 * up to @ms for its response. @c is locked by the caller.
 */
static int conn_exec_ms(struct tcp_conn *c, uint8_t *sqe, uint8_t *data, uint32_t len, uint8_t dir,
			uint32_t *cqe, uint32_t ms)
{
	uint64_t end = nvme_now_ns() + (uint64_t)ms * 1000000ull;
	int r;

	put16(sqe + 2, ICID_EXEC);
	c->icmd = (struct tcp_cmd){ .data = data, .len = len, .dir = dir, .busy = 1,
				    .opc = sqe[0] };
	c->idone = false;
	r = send_capsule(c, sqe, data, len, dir, sqe[0] == 0x7f && sqe[4] == 0x01);
	while (!r && !c->idone) {
		if (nvme_now_ns() >= end) {
			c->icmd.busy = 0;
			return nvme_set_error(-ETIMEDOUT, "%s: no answer from the target within %u ms",
					      c->tr->t.name, ms);
		}
		r = conn_wait(c, 20);
		r = r < 0 ? r : 0;
	}
	c->icmd.busy = 0;
	if (r)
		return nvme_set_error(-ENODEV, "%s", c->tr->why[0] ? c->tr->why : "connection lost");
	memcpy(cqe, c->icqe, 16);
	return 0;
}

static int conn_exec(struct tcp_conn *c, uint8_t *sqe, uint8_t *data, uint32_t len, uint8_t dir,
		     uint32_t *cqe)
{
	return conn_exec_ms(c, sqe, data, len, dir, cqe, c->tr->timeout_ms);
}

/* --- Disconnect ------------------------------------------------------------------- */

/* Delete I/O SQ's DW0 over NVMe/TCP: what the Disconnect on the queue got */
#define DISC_SENT 0x80000000u	  /* a Disconnect was sent */
#define DISC_ANSWERED 0x40000000u /* and answered: bits 15:1 are the answer's status field */

static uint32_t disconnect_ms(const struct tcp_tr *tr)
{
	return tr->timeout_ms < DISCONNECT_MS ? tr->timeout_ms : DISCONNECT_MS;
}

/* send the Fabrics Disconnect (a command of the transport's own) on I/O queue @c */
static bool disc_send(struct tcp_conn *c)
{
	uint8_t sqe[64] = { 0x7f };
	bool ok;

	pthread_mutex_lock(&c->lock);
	if (c->dead || c->fd < 0 || !c->inited) {
		pthread_mutex_unlock(&c->lock);
		tr_log(c->tr, "queue %u: Disconnect not sent: the connection is already closed",
		       c->qid);
		return false;
	}
	sqe[4] = 0x08; /* FCTYPE Disconnect; CDW10 RECFMT 0 */
	put16(sqe + 2, ICID_EXEC);
	c->icmd = (struct tcp_cmd){ .busy = 1, .opc = 0x7f };
	c->idone = false;
	c->closing = true; /* the target may close the connection once it answered */
	ok = !send_capsule(c, sqe, NULL, 0, DIR_NONE, false);
	pthread_mutex_unlock(&c->lock);
	return ok;
}

/* wait until @end for the answer to the Disconnect sent on @c; log it. Return: DW0 as above. */
static uint32_t disc_wait(struct tcp_conn *c, uint64_t end, uint32_t ms)
{
	uint32_t st, dw0 = DISC_SENT;

	pthread_mutex_lock(&c->lock);
	while (!c->idone && !c->dead && nvme_now_ns() < end)
		conn_wait(c, 10);
	c->icmd.busy = 0;
	if (!c->idone) {
		if (!c->dead)
			tr_log(c->tr, "queue %u: no answer to Disconnect within %u ms: the "
			       "connection is closed", c->qid, ms);
		pthread_mutex_unlock(&c->lock);
		return dw0;
	}
	st = (c->icqe[3] >> 17) & 0x7ff;
	dw0 |= DISC_ANSWERED | ((c->icqe[3] >> 16) & 0xfffe);
	pthread_mutex_unlock(&c->lock);
	if (!st)
		tr_log(c->tr, "queue %u: Disconnect answered 00/00: the queue is deleted", c->qid);
	else
		tr_log(c->tr, "queue %u: Disconnect answered %02x/%02x (%s)%s: the connection is "
		       "closed", c->qid, (st >> 8) & 7, st & 0xff, status_words(st),
		       st == 0x001 || st == 0x002 ? ", the target does not implement it" : "");
	return dw0;
}

/*
 * Disconnect the I/O queues @cs (all sent first, then the answers awaited
 * until one deadline). Return: how many got no answer (the target is silent).
 */
static unsigned disconnect(struct tcp_tr *tr, struct tcp_conn **cs, unsigned n, uint32_t *dw0)
{
	uint32_t ms = disconnect_ms(tr);
	uint64_t end = nvme_now_ns() + (uint64_t)ms * 1000000ull;
	unsigned silent = 0;

	for (unsigned i = 0; i < n; i++)
		dw0[i] = disc_send(cs[i]) ? DISC_SENT : 0;
	for (unsigned i = 0; i < n; i++)
		if (dw0[i]) {
			dw0[i] = disc_wait(cs[i], end, ms);
			if (!(dw0[i] & DISC_ANSWERED) && !cs[i]->dead)
				silent++;
		}
	return silent;
}

/* --- connections ------------------------------------------------------------------ */

static int tcp_connect_fd(struct tcp_tr *tr, int *out)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL, *ai;
	int r, fd = -1, err = 0;

	r = getaddrinfo(tr->host, tr->port, &hints, &res);
	if (r)
		return nvme_set_error(-EHOSTUNREACH, "%s: cannot resolve \"%s\": %s", tr->t.name,
				      tr->host, gai_strerror(r));
	for (ai = res; ai; ai = ai->ai_next) {
		struct pollfd p;
		socklen_t sl = sizeof(err);
		int one = 1;

		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
			err = errno;
			close(fd);
			fd = -1;
			continue;
		}
		p = (struct pollfd){ .fd = fd, .events = POLLOUT };
		r = poll(&p, 1, (int)tr->timeout_ms);
		if (r == 0)
			err = ETIMEDOUT;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl))
			err = errno;
		if (!err)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		if (err == ETIMEDOUT)
			return nvme_set_error(-ETIMEDOUT, "%s: no answer to the TCP connection request "
					      "within %u ms (timeout=): is the target reachable?",
					      tr->t.name, tr->timeout_ms);
		if (err == ECONNREFUSED)
			return nvme_set_error(-ECONNREFUSED, "%s: connection refused: no NVMe/TCP "
					      "target listens there (check the address and port)",
					      tr->t.name);
		return nvme_set_error(-err, "%s: cannot connect: %s", tr->t.name, strerror(err));
	}
	*out = fd;
	return 0;
}

/* Connect's status in words, with what to do */
static const char *connect_hint(uint32_t status)
{
	uint32_t sct = (status >> 8) & 7, sc = status & 0xff;

	if (sct == 1 && sc == 0x80)
		return "Connect Incompatible Format";
	if (sct == 1 && sc == 0x81)
		return "Connect Controller Busy: the controller is in use, try again later";
	if (sct == 1 && sc == 0x82)
		return "Connect Invalid Parameters: check the subsystem NQN (give none to read the "
		       "discovery log), the queue size and the controller ID";
	if (sct == 1 && sc == 0x83)
		return "Connect Restart Discovery: read the discovery log again";
	if (sct == 1 && sc == 0x84)
		return "Connect Invalid Host: this host NQN is not allowed on the subsystem "
		       "(give hostnqn=)";
	if (sct == 0 && sc == 0x02)
		return "Invalid Field in Command";
	return "see the NVMe over Fabrics status codes";
}

static void conn_free(struct tcp_conn *c)
{
	conn_close_fd(c);
	pthread_mutex_destroy(&c->lock);
	free(c->cmds);
	free(c);
}

/*
 * A new connection for queue @qid (@size entries, completions to @cqid):
 * TCP connect, ICReq/ICResp, Fabrics Connect. On a Connect error *@status
 * gets the status (SCT << 8 | SC) and -EPROTO is returned.
 */
static int conn_open(struct tcp_tr *tr, uint16_t qid, uint32_t size, uint16_t cqid,
		     uint32_t *status, struct tcp_conn **out)
{
	struct tcp_conn *c = calloc(1, sizeof(*c));
	uint8_t icreq[TCP_HLEN_IC], sqe[64] = { 0 };
	uint8_t *data = NULL;
	struct iovec iov;
	uint32_t cqe[4];
	uint64_t end;
	int r;

	*status = 0;
	if (!c)
		return nvme_set_error(-ENOMEM, "out of memory");
	pthread_mutex_init(&c->lock, NULL);
	c->tr = tr;
	c->qid = qid;
	c->cqid = cqid;
	c->fd = -1;
	c->size = size;
	if (size && !(c->cmds = calloc(size, sizeof(*c->cmds)))) {
		conn_free(c);
		return nvme_set_error(-ENOMEM, "out of memory");
	}
	if ((r = tcp_connect_fd(tr, &c->fd))) {
		conn_free(c);
		return r;
	}
	tcp_icreq(icreq, tr->hdgst, tr->ddgst, 0, 0);
	iov = (struct iovec){ icreq, sizeof(icreq) };
	if ((r = send_all(c, &iov, 1)))
		goto lost;
	end = nvme_now_ns() + (uint64_t)tr->timeout_ms * 1000000ull;
	while (!c->inited) {
		if (nvme_now_ns() >= end) {
			conn_free(c);
			return nvme_set_error(-ETIMEDOUT, "%s: no ICResp within %u ms: is this an "
					      "NVMe/TCP target?", tr->t.name, tr->timeout_ms);
		}
		if (conn_wait(c, 20) < 0)
			goto lost;
	}
	c->icd = qid ? tr->ioccsz : ADMIN_ICD;
	/* Fabrics Connect: the host and subsystem in 1024 bytes of in-capsule data */
	data = calloc(1, 1024);
	if (!data) {
		conn_free(c);
		return nvme_set_error(-ENOMEM, "out of memory");
	}
	memcpy(data, tr->hostid, 16);
	put16(data + 16, qid ? tr->cntlid : 0xffff);
	memcpy(data + 256, tr->subnqn, strlen(tr->subnqn));
	memcpy(data + 512, tr->hostnqn, strlen(tr->hostnqn));
	sqe[0] = 0x7f;
	sqe[4] = 0x01; /* FCTYPE Connect */
	put16(sqe + 42, qid);
	put16(sqe + 44, (uint16_t)(size - 1));
	if (!qid)
		put32(sqe + 48, tr->kato_ms);
	r = conn_exec(c, sqe, data, 1024, DIR_H2C, cqe);
	free(data);
	if (r) {
		conn_free(c);
		return r;
	}
	*status = (cqe[3] >> 17) & 0x7ff;
	if (*status) {
		conn_free(c);
		return nvme_set_error(-EPROTO, "%s: Fabrics Connect of queue %u to %s failed with "
				      "status %02x/%02x (%s)%s", tr->t.name, qid, tr->subnqn,
				      (*status >> 8) & 7, *status & 0xff,
				      connect_hint(*status),
				      (*status & 0x7ff) == 0x182 ? "; DW0 names the field" : "");
	}
	if (!qid)
		tr->cntlid = (uint16_t)(cqe[0] & 0xffff);
	*out = c;
	return 0;
lost:
	r = nvme_set_error(-ECONNRESET, "%s", tr->why[0] ? tr->why : "connection lost");
	conn_free(c);
	return r;
}

/* --- property get/set -------------------------------------------------------------- */

static int property_ms(struct tcp_tr *tr, bool set, uint32_t off, unsigned size, uint64_t *val,
		       uint32_t ms)
{
	struct tcp_conn *c = tr->admin;
	uint8_t sqe[64] = { 0 };
	uint32_t cqe[4], st;
	int r;

	if (tr->t.dead || !c)
		return nvme_set_error(-ENODEV, "%s is gone: %s", tr->t.name,
				      tr->why[0] ? tr->why : "no connection");
	sqe[0] = 0x7f;
	sqe[4] = set ? 0x00 : 0x04;
	sqe[40] = size == 8 ? 1 : 0;
	put32(sqe + 44, off);
	if (set)
		put64(sqe + 48, *val);
	pthread_mutex_lock(&c->lock);
	r = conn_exec_ms(c, sqe, NULL, 0, DIR_NONE, cqe, ms);
	pthread_mutex_unlock(&c->lock);
	if (r)
		return r;
	st = (cqe[3] >> 17) & 0x7ff;
	if (st)
		return nvme_set_error(-EIO, "%s: Property %s of offset 0x%x (%u bytes) failed with "
				      "status %02x/%02x", tr->t.name, set ? "Set" : "Get", off, size,
				      (st >> 8) & 7, st & 0xff);
	if (!set)
		*val = size == 8 ? ((uint64_t)cqe[1] << 32 | cqe[0]) : cqe[0];
	return 0;
}

static int property(struct tcp_tr *tr, bool set, uint32_t off, unsigned size, uint64_t *val)
{
	return property_ms(tr, set, off, size, val, tr->timeout_ms);
}

/* --- queues served here ------------------------------------------------------------- */

static struct tcp_conn *conn_by_qid(struct tcp_tr *tr, uint32_t qid)
{
	return qid ? (qid <= MAX_QID ? tr->io[qid] : NULL) : tr->admin;
}

static void bury(struct tcp_tr *tr, struct tcp_conn *c)
{
	/* another thread may still poll it: close now, free with the transport */
	pthread_mutex_lock(&c->lock);
	c->dead = true;
	conn_close_fd(c);
	pthread_mutex_unlock(&c->lock);
	c->next_dead = tr->graveyard;
	tr->graveyard = c;
}

static void io_queues_close(struct tcp_tr *tr)
{
	pthread_mutex_lock(&tr->lock);
	for (uint32_t q = 1; q <= tr->max_qid; q++) {
		if (tr->io[q]) {
			bury(tr, tr->io[q]);
			tr->io[q] = NULL;
		}
		if (tr->cqs[q]) {
			struct tcp_cq *cq = tr->cqs[q];

			tr->cqs[q] = NULL;
			pthread_mutex_lock(&cq->lock);
			cq->ring = NULL;
			cq->novf = 0;
			pthread_mutex_unlock(&cq->lock);
			cq->next = tr->dead_cqs;
			tr->dead_cqs = cq;
		}
	}
	pthread_mutex_unlock(&tr->lock);
}

/* Create/Delete I/O SQ/CQ arrive on the admin queue: served here. True when handled. */
static bool admin_local(struct tcp_conn *a, const uint8_t *sqe)
{
	struct tcp_tr *tr = a->tr;
	uint16_t cid = get16(sqe + 2), qid = (uint16_t)get32(sqe + 40);
	uint32_t size = (get32(sqe + 40) >> 16) + 1;
	uint16_t cqid = (uint16_t)(get32(sqe + 44) >> 16);
	uint64_t prp1 = get64(sqe + 24);

	switch (sqe[0]) {
	case 0x05: { /* Create I/O CQ */
		struct tcp_cq *q;
		void *ring = nvme_dma_vaddr(prp1, (uint64_t)size * 16);

		if (!qid || tr->cqs[qid])
			return post_local(a, cid, 0, 1, 0x01), true; /* Invalid Queue Identifier */
		if (size < 2 || size > 65536)
			return post_local(a, cid, 0, 1, 0x02), true; /* Invalid Queue Size */
		if (!ring || !(get32(sqe + 44) & 1))
			return post_local(a, cid, 0, 0, 0x02), true; /* Invalid Field */
		q = calloc(1, sizeof(*q));
		if (!q)
			return post_local(a, cid, 0, 0, 0x06), true; /* Internal Error */
		pthread_mutex_init(&q->lock, NULL);
		q->ring = ring;
		q->size = size;
		q->phase = 1;
		pthread_mutex_lock(&tr->lock);
		tr->cqs[qid] = q;
		if (qid > tr->max_qid)
			tr->max_qid = qid;
		pthread_mutex_unlock(&tr->lock);
		post_local(a, cid, 0, 0, 0);
		return true;
	}
	case 0x01: { /* Create I/O SQ: a new connection */
		struct tcp_conn *c;
		uint32_t status;
		void *ring = nvme_dma_vaddr(prp1, (uint64_t)size * 64);
		int r;

		if (!qid || tr->io[qid])
			return post_local(a, cid, 0, 1, 0x01), true;
		if (!tr->cqs[cqid] || !cqid)
			return post_local(a, cid, 0, 1, 0x00), true; /* Completion Queue Invalid */
		if (size < 2 || size > ICID_EXEC)
			return post_local(a, cid, 0, 1, 0x02), true;
		if (!ring || !(get32(sqe + 44) & 1))
			return post_local(a, cid, 0, 0, 0x02), true;
		r = conn_open(tr, qid, size, cqid, &status, &c);
		/*
		 * The target frees a queue after its connection closed, a little later:
		 * a queue ID deleted just before is "in use" (Command Sequence Error)
		 * for a moment.
		 */
		for (int i = 0; i < 200 && r == -EPROTO && status == 0x0c; i++) {
			usleep(10000);
			r = conn_open(tr, qid, size, cqid, &status, &c);
		}
		if (r == -EPROTO) /* the target refused: its Connect status is the answer */
			return post_local(a, cid, 0, (uint8_t)(status >> 8), (uint8_t)status), true;
		if (r) {
			/* no connection: the association is no longer usable */
			tr_fail(tr, "%s", nvme_get_error());
			return post_local(a, cid, 0, 0, 0x06), true;
		}
		c->ring = ring;
		pthread_mutex_lock(&tr->lock);
		tr->io[qid] = c;
		if (qid > tr->max_qid)
			tr->max_qid = qid;
		pthread_mutex_unlock(&tr->lock);
		post_local(a, cid, 0, 0, 0);
		return true;
	}
	case 0x00: { /* Delete I/O SQ: Disconnect on its connection, then close it */
		struct tcp_conn *io;
		uint32_t dw0 = 0;

		if (!qid || !tr->io[qid])
			return post_local(a, cid, 0, 1, 0x01), true;
		pthread_mutex_lock(&tr->lock);
		io = tr->io[qid];
		tr->io[qid] = NULL; /* no longer polled: the answers are read here */
		pthread_mutex_unlock(&tr->lock);
		if (!tr->t.dead)
			disconnect(tr, &io, 1, &dw0);
		pthread_mutex_lock(&tr->lock);
		bury(tr, io);
		pthread_mutex_unlock(&tr->lock);
		/* DW0 (reserved for Delete I/O SQ) tells the command log what Disconnect got */
		post_local(a, cid, dw0, 0, 0);
		return true;
	}
	case 0x04: { /* Delete I/O CQ */
		struct tcp_cq *q = qid ? tr->cqs[qid] : NULL;

		if (!q)
			return post_local(a, cid, 0, 1, 0x01), true;
		for (uint32_t s = 1; s <= tr->max_qid; s++)
			if (tr->io[s] && tr->io[s]->cqid == qid)
				return post_local(a, cid, 0, 1, 0x0c), true; /* Invalid Queue Deletion */
		pthread_mutex_lock(&tr->lock);
		tr->cqs[qid] = NULL;
		pthread_mutex_unlock(&tr->lock);
		/* the queue core frees the ring after this completes; poll() no longer finds it */
		pthread_mutex_lock(&q->lock);
		q->ring = NULL;
		q->novf = 0;
		pthread_mutex_unlock(&q->lock);
		q->next = tr->dead_cqs; /* a poster in another thread may hold it: freed at close */
		tr->dead_cqs = q;
		post_local(a, cid, 0, 0, 0);
		return true;
	}
	}
	return false;
}

/*
 * The data length of a raw command that gives PRPs (the queue core's own
 * commands use an SGL): known for reads, writes and compares (the LBA size
 * from Identify Namespace), Identify and Get Log Page; 0 otherwise.
 */
static uint32_t prp_len(const struct tcp_conn *c, const uint8_t *sqe)
{
	uint32_t nsid = get32(sqe + 4), cdw10 = get32(sqe + 40);

	if (c->qid && (sqe[0] == 0x01 || sqe[0] == 0x02 || sqe[0] == 0x05)) {
		uint8_t ds = nsid && nsid <= ARRAY_SIZE(c->tr->lbads) ? c->tr->lbads[nsid - 1] : 0;

		return ds ? ((get32(sqe + 48) & 0xffff) + 1u) << ds : 0;
	}
	if (!c->qid && sqe[0] == 0x06)
		return 4096;
	if (!c->qid && sqe[0] == 0x02)
		return ((cdw10 >> 16) + ((get32(sqe + 44) & 0xffff) << 16) + 1) * 4;
	return 0;
}

/* host address of @len bytes that PRP1/PRP2 of @sqe describe, when contiguous in DMA memory */
static uint8_t *prp_data(const uint8_t *sqe, uint32_t len)
{
	uint64_t p1 = get64(sqe + 24), p2 = get64(sqe + 32);
	uint32_t first = 4096 - (uint32_t)(p1 & 4095);

	if (len > first && len <= first + 4096 && p2 != ALIGN_DOWN(p1, 4096) + 4096)
		return NULL;
	if (len > first + 4096) {
		/* a PRP list: every entry must follow the one before */
		uint64_t n = (len - first + 4095) / 4096, *l = nvme_dma_vaddr(p2, n * 8);

		if (n > 512 || !l)
			return NULL;
		for (uint64_t i = 0; i < n; i++)
			if (l[i] != ALIGN_DOWN(p1, 4096) + 4096 * (i + 1))
				return NULL;
	}
	return nvme_dma_vaddr(p1, len);
}

/* one command from an SQ ring: its data from the SGL the queue core wrote (or raw PRPs) */
static void submit(struct tcp_conn *c, const uint8_t *sqe)
{
	uint16_t cid = get16(sqe + 2);
	uint8_t psdt = sqe[1] >> 6, bits = sqe[0] & 3;
	uint8_t *data = NULL;
	uint32_t len = 0, k;
	struct tcp_cmd *cmd;

	if (cmd_of(c, cid))
		return post_local(c, cid, 0, 0, 0x03); /* Command ID Conflict */
	if (psdt && bits) {
		uint64_t addr = get64(sqe + 24);

		if (sqe[39] != 0x00) /* only a data block with an address in DMA memory */
			return post_local(c, cid, 0, 0, 0x11); /* SGL Descriptor Type Invalid */
		len = get32(sqe + 32);
		data = len ? nvme_dma_vaddr(addr, len) : NULL;
		if (len && !data)
			return post_local(c, cid, 0, 0, 0x0f); /* Data SGL Length Invalid */
	} else if (bits && get64(sqe + 24) && (len = prp_len(c, sqe))) {
		data = prp_data(sqe, len);
		if (!data) /* scattered pages cannot be one transport SGL */
			return post_local(c, cid, 0, 0, 0x13); /* PRP Offset Invalid */
	}
	/* a slot: the CID itself for the queue core's commands, else the next free one */
	for (k = cid % c->size; c->cmds[k].busy;)
		if ((k = k + 1 == c->size ? 0 : k + 1) == cid % c->size)
			return post_local(c, cid, 0, 0, 0x03);
	cmd = &c->cmds[k];
	*cmd = (struct tcp_cmd){ .data = data, .len = len, .cid = cid, .busy = 1, .opc = sqe[0],
				 .cns = sqe[40], .nsid = get32(sqe + 4),
				 .dir = !len ? DIR_NONE : bits == 1 ? DIR_H2C : DIR_C2H };
	/*
	 * A Disconnect the script sends on purpose goes out as it is; a target
	 * that implements it may then close this connection: that ends this
	 * queue, not the association.
	 */
	if (sqe[0] == 0x7f && sqe[4] == 0x08 && c->qid) {
		c->closing = true;
		tr_log(c->tr, "queue %u: Disconnect sent by the script (CID %u)", c->qid, cid);
	}
	if (send_capsule(c, sqe, data, len, cmd->dir, false))
		cmd->busy = 0; /* the association is over: the queue core completes it as gone */
}

static void sq_doorbell(struct tcp_tr *tr, uint32_t qid, uint32_t tail)
{
	struct tcp_conn *c = conn_by_qid(tr, qid);

	if (!c)
		return; /* no such queue: a PCIe device would ignore it too */
	pthread_mutex_lock(&c->lock);
	while (c->ring && tail < c->size && c->sent != tail && !c->dead) {
		const uint8_t *sqe = c->ring + (uint64_t)c->sent * 64;

		c->sent = c->sent + 1 == c->size ? 0 : c->sent + 1;
		if (qid == 0 && admin_local(c, sqe))
			continue;
		submit(c, sqe);
	}
	/*
	 * The queue was disconnected (a script's Disconnect the target acted
	 * on) while the association lives: commands can no longer reach the
	 * target; they end at once with Transient Transport Error.
	 */
	while (c->ring && tail < c->size && c->sent != tail && c->dead && c->closing &&
	       !tr->t.dead) {
		uint16_t cid = get16(c->ring + (uint64_t)c->sent * 64 + 2);

		c->sent = c->sent + 1 == c->size ? 0 : c->sent + 1;
		post_local(c, cid, 0, 0, 0x22);
	}
	pthread_mutex_unlock(&c->lock);
}

static void cq_doorbell(struct tcp_tr *tr, uint32_t qid, uint32_t head)
{
	struct tcp_cq *q = qid <= MAX_QID ? tr->cqs[qid] : NULL;

	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	if (head < q->size) {
		q->head = head;
		if (q->ring)
			cq_drain(q);
	}
	pthread_mutex_unlock(&q->lock);
}

/* --- controller enable/disable --------------------------------------------------------- */

/* CC.EN 0 -> 1: the admin rings are where ASQ/ACQ point */
static int attach_admin(struct tcp_tr *tr)
{
	uint32_t sqs = (tr->aqa & 0xfff) + 1, cqs = ((tr->aqa >> 16) & 0xfff) + 1;
	uint8_t *sq = nvme_dma_vaddr(tr->asq, (uint64_t)sqs * 64);
	struct nvme_cqe *cq = nvme_dma_vaddr(tr->acq, (uint64_t)cqs * 16);
	struct tcp_conn *c = tr->admin;
	struct tcp_cq *q = tr->cqs[0];
	struct tcp_cmd *cmds;

	if (!sq || !cq || sqs < 2 || cqs < 2)
		return nvme_set_error(-EINVAL, "%s: AQA 0x%x, ASQ 0x%llx, ACQ 0x%llx do not name admin "
				      "queues in DMA memory", tr->t.name, tr->aqa,
				      (unsigned long long)tr->asq, (unsigned long long)tr->acq);
	cmds = calloc(sqs, sizeof(*cmds));
	if (!cmds)
		return nvme_set_error(-ENOMEM, "out of memory");
	pthread_mutex_lock(&c->lock);
	free(c->cmds);
	c->cmds = cmds;
	c->ring = sq;
	c->size = sqs;
	c->sent = 0;
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_lock(&q->lock);
	q->ring = cq;
	q->size = cqs;
	q->tail = q->head = 0;
	q->phase = 1;
	q->novf = 0;
	pthread_mutex_unlock(&q->lock);
	return 0;
}

/* CC.EN 1 -> 0: end the association (every queue) and connect the admin queue anew */
static int new_association(struct tcp_tr *tr)
{
	struct tcp_conn *old = tr->admin, *c;
	struct tcp_cq *q = tr->cqs[0];
	uint32_t status;
	int r;

	io_queues_close(tr);
	pthread_mutex_lock(&q->lock);
	q->ring = NULL;
	q->novf = 0;
	pthread_mutex_unlock(&q->lock);
	r = conn_open(tr, 0, 32, 0, &status, &c);
	pthread_mutex_lock(&tr->lock);
	tr->admin = r ? NULL : c;
	if (old)
		bury(tr, old);
	pthread_mutex_unlock(&tr->lock);
	if (r) {
		tr_fail(tr, "%s", nvme_get_error());
		return r;
	}
	return 0;
}

static int cc_write(struct tcp_tr *tr, uint64_t val)
{
	bool was = tr->cc & 1, en = val & 1;
	int r;

	if (was && !en && (r = new_association(tr)))
		return r;
	if (!was && en && (r = attach_admin(tr)))
		return r;
	r = property(tr, true, NVME_REG_CC, 4, &val);
	if (!r)
		tr->cc = (uint32_t)val;
	return r;
}

/* --- transport ops ------------------------------------------------------------------- */

static int not_fabrics(struct nvme_transport *t, const char *what)
{
	return nvme_set_error(-ENOTSUP, "%s: %s is not supported on NVMe/TCP", t->name, what);
}

static int tcp_cfg_read(struct nvme_transport *t, uint32_t off, unsigned size, uint32_t *val)
{
	(void)off, (void)size, (void)val;
	return not_fabrics(t, "PCIe config space");
}

static int tcp_cfg_write(struct nvme_transport *t, uint32_t off, unsigned size, uint32_t val)
{
	(void)off, (void)size, (void)val;
	return not_fabrics(t, "PCIe config space");
}

static int tcp_bar_read(struct nvme_transport *t, uint32_t off, unsigned size, uint64_t *val)
{
	struct tcp_tr *tr = TR(t);
	uint64_t v;
	int r;

	switch (off) {
	case NVME_REG_AQA:
		*val = tr->aqa;
		return 0;
	case NVME_REG_ASQ:
	case NVME_REG_ASQ + 4:
		*val = size == 8 ? tr->asq : (uint32_t)(tr->asq >> (off == NVME_REG_ASQ ? 0 : 32));
		return 0;
	case NVME_REG_ACQ:
	case NVME_REG_ACQ + 4:
		*val = size == 8 ? tr->acq : (uint32_t)(tr->acq >> (off == NVME_REG_ACQ ? 0 : 32));
		return 0;
	case NVME_REG_INTMS:
	case NVME_REG_INTMC:
		*val = 0; /* no interrupts on fabrics */
		return 0;
	case NVME_REG_CAP:
	case NVME_REG_CAP + 4:
		r = property(tr, false, NVME_REG_CAP, 8, &v);
		if (!r)
			*val = size == 8 ? v : (uint32_t)(v >> (off ? 32 : 0));
		return r;
	}
	if (off >= NVME_REG_DBS) {
		*val = 0; /* doorbells are write-only */
		return 0;
	}
	/*
	 * Raw queues (the script's own rings, outside the queue core) are polled
	 * by reading a register: receive for every I/O queue as a device works in
	 * the background.
	 */
	for (uint32_t q = 1; q <= tr->max_qid; q++) {
		struct tcp_conn *c = tr->io[q];

		if (c && !pthread_mutex_trylock(&c->lock)) {
			conn_rx(c);
			pthread_mutex_unlock(&c->lock);
		}
	}
	return property(tr, false, off, size, val);
}

static int tcp_bar_write(struct nvme_transport *t, uint32_t off, unsigned size, uint64_t val)
{
	struct tcp_tr *tr = TR(t);

	if (off >= NVME_REG_DBS) {
		uint32_t idx = (off - NVME_REG_DBS) / 4;

		if (idx / 2 > MAX_QID)
			return 0;
		if (idx & 1)
			cq_doorbell(tr, idx / 2, (uint32_t)val);
		else
			sq_doorbell(tr, idx / 2, (uint32_t)val);
		return t->dead ? nvme_set_error(-ENODEV, "%s is gone: %s", t->name, tr->why) : 0;
	}
	switch (off) {
	case NVME_REG_AQA:
		tr->aqa = (uint32_t)val;
		return 0;
	case NVME_REG_ASQ:
		tr->asq = size == 8 ? val : (tr->asq & ~0xffffffffull) | (uint32_t)val;
		return 0;
	case NVME_REG_ASQ + 4:
		tr->asq = (tr->asq & 0xffffffffull) | (val << 32);
		return 0;
	case NVME_REG_ACQ:
		tr->acq = size == 8 ? val : (tr->acq & ~0xffffffffull) | (uint32_t)val;
		return 0;
	case NVME_REG_ACQ + 4:
		tr->acq = (tr->acq & 0xffffffffull) | (val << 32);
		return 0;
	case NVME_REG_INTMS:
	case NVME_REG_INTMC:
		return 0; /* no interrupts to mask on fabrics */
	case NVME_REG_CC:
		return cc_write(tr, val);
	}
	return property(tr, true, off, size, &val);
}

static int tcp_bar_write_batch(struct nvme_transport *t, const struct nvme_reg_write *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int r = tcp_bar_write(t, w[i].off, 4, w[i].val);

		if (r)
			return r;
	}
	return 0;
}

static int tcp_irq_setup(struct nvme_transport *t, unsigned nvec)
{
	(void)nvec;
	return not_fabrics(t, "MSI-X");
}

static int tcp_irq_mask(struct nvme_transport *t, unsigned vec, bool mask)
{
	(void)vec, (void)mask;
	return not_fabrics(t, "MSI-X masking");
}

static int tcp_pci_enable(struct nvme_transport *t)
{
	return not_fabrics(t, "PCIe function level reset / enable");
}

static int tcp_poll(struct nvme_transport *t, uint16_t cqid, uint32_t timeout_us)
{
	struct tcp_tr *tr = TR(t);
	struct pollfd pf[16];
	struct tcp_conn *cs[16];
	unsigned n = 0;
	int handled = 0;

	if (cqid == 0) {
		if (tr->admin)
			cs[n++] = tr->admin;
	} else {
		for (uint32_t q = 1; q <= tr->max_qid && n < ARRAY_SIZE(cs); q++) {
			struct tcp_conn *c = tr->io[q];

			if (c && c->cqid == cqid)
				cs[n++] = c;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		int r;

		if (pthread_mutex_trylock(&cs[i]->lock))
			continue; /* another thread is reading it (a synchronous command) */
		r = conn_rx(cs[i]);
		pthread_mutex_unlock(&cs[i]->lock);
		handled += r > 0 ? r : 0;
	}
	if (!handled && timeout_us && n) {
		for (unsigned i = 0; i < n; i++)
			pf[i] = (struct pollfd){ .fd = cs[i]->fd, .events = POLLIN };
		if (poll(pf, n, (int)((timeout_us + 999) / 1000)) > 0)
			for (unsigned i = 0; i < n; i++) {
				if (!pf[i].revents || pthread_mutex_trylock(&cs[i]->lock))
					continue;
				conn_rx(cs[i]);
				pthread_mutex_unlock(&cs[i]->lock);
			}
	}
	return t->dead ? -ENODEV : 0;
}

static int tcp_control(struct nvme_transport *t, const char *req, char *out, unsigned cap)
{
	struct tcp_tr *tr = TR(t);

	if (!strcmp(req, "why")) {
		snprintf(out, cap, "%s", tr->why);
		return 0;
	}
	if (!strcmp(req, "log")) {
		evlog_read(out, cap);
		return 0;
	}
	if (!strcmp(req, "info")) {
		snprintf(out, cap, "cntlid=%u\nsubnqn=%s\nhostnqn=%s\nhdgst=%d\nddgst=%d\n"
			 "ioccsz=%u\nmaxh2cdata=%u\nkato=%u\nicd_writes=%llu\nr2t=%llu\n"
			 "h2c_data=%llu\nc2h_data=%llu", tr->cntlid, tr->subnqn, tr->hostnqn,
			 tr->admin ? tr->admin->prm.hdgst : 0, tr->admin ? tr->admin->prm.ddgst : 0,
			 tr->ioccsz, tr->admin ? tr->admin->prm.maxh2cdata : 0, tr->kato_ms,
			 (unsigned long long)__atomic_load_n(&tr->n_icd, __ATOMIC_RELAXED),
			 (unsigned long long)__atomic_load_n(&tr->n_r2t, __ATOMIC_RELAXED),
			 (unsigned long long)__atomic_load_n(&tr->n_h2c, __ATOMIC_RELAXED),
			 (unsigned long long)__atomic_load_n(&tr->n_c2h, __ATOMIC_RELAXED));
		return 0;
	}
	return nvme_set_error(-ENOTSUP, "%s: request \"%s\": NVMe/TCP answers \"why\", \"info\" "
			      "and \"log\"", t->name, req);
}

static int tcp_alive(struct nvme_transport *t)
{
	return !__atomic_load_n(&t->dead, __ATOMIC_ACQUIRE);
}

static void *ka_main(void *arg)
{
	struct tcp_tr *tr = arg;
	uint64_t period = (uint64_t)(tr->kato_ms / 2 ? tr->kato_ms / 2 : 1) * 1000000ull;
	uint64_t next = nvme_now_ns() + period;

	while (!__atomic_load_n(&tr->ka_stop, __ATOMIC_ACQUIRE)) {
		struct tcp_conn *c;

		usleep(20000);
		if (nvme_now_ns() < next || tr->t.dead)
			continue;
		next = nvme_now_ns() + period;
		pthread_mutex_lock(&tr->lock);
		c = tr->admin;
		if (c)
			pthread_mutex_lock(&c->lock);
		pthread_mutex_unlock(&tr->lock);
		if (!c)
			continue;
		if (!c->dead && c->inited) {
			uint8_t sqe[64] = { 0x18 };

			put16(sqe + 2, ICID_KA);
			if (!send_capsule(c, sqe, NULL, 0, DIR_NONE, false))
				conn_rx(c);
		}
		pthread_mutex_unlock(&c->lock);
	}
	return NULL;
}

/* CC.SHN normal shutdown by Property Set, CSTS.SHST polled until complete (bounded) */
static void shutdown_ctrl(struct tcp_tr *tr)
{
	uint32_t ms = tr->timeout_ms < SHUTDOWN_MS ? tr->timeout_ms : SHUTDOWN_MS;
	uint64_t start = nvme_now_ns(), end = start + (uint64_t)ms * 1000000ull, now;
	uint64_t cc = (tr->cc & ~0xc000u) | 0x4000u, csts = 0;
	int r;

	if (!(tr->cc & 1)) {
		tr_log(tr, "no shutdown: the controller is not enabled (CC 0x%x)", tr->cc);
		return;
	}
	if ((r = property_ms(tr, true, NVME_REG_CC, 4, &cc, ms))) {
		tr_log(tr, "shutdown: Property Set of CC.SHN failed: %s", nvme_get_error());
		return;
	}
	tr->cc = (uint32_t)cc;
	for (;;) {
		now = nvme_now_ns();
		if (now >= end) {
			tr_log(tr, "shutdown: CC.SHN 01b (normal) set, CSTS.SHST %llu after %u ms: "
			       "not complete, the connection is closed anyway",
			       (unsigned long long)((csts >> 2) & 3), ms);
			return;
		}
		if ((r = property_ms(tr, false, NVME_REG_CSTS, 4, &csts,
				     (uint32_t)((end - now) / 1000000ull) + 1))) {
			tr_log(tr, "shutdown: CC.SHN 01b (normal) set, reading CSTS failed: %s",
			       nvme_get_error());
			return;
		}
		if (((csts >> 2) & 3) == 2)
			break;
		usleep(2000);
	}
	tr_log(tr, "shutdown: CC.SHN 01b (normal) set, CSTS.SHST 10b (complete) after %llu ms",
	       (unsigned long long)((nvme_now_ns() - start) / 1000000ull));
}

/*
 * End the association in order: Disconnect every I/O queue, shut the
 * controller down, (then the caller closes the admin connection). Bounded;
 * never an error: a dead or silent target is only noted in the log.
 */
static void association_end(struct tcp_tr *tr)
{
	struct tcp_conn **cs;
	uint32_t *dw0;
	unsigned n = 0, silent = 0;

	if (tr->t.dead || !tr->admin || !tr->admin->inited) {
		if (tr->admin && tr->why[0])
			tr_log(tr, "closed after the association ended: %s", tr->why);
		return;
	}
	cs = calloc(tr->max_qid + 1, sizeof(*cs));
	dw0 = calloc(tr->max_qid + 1, sizeof(*dw0));
	if (cs && dw0) {
		pthread_mutex_lock(&tr->lock);
		for (uint32_t q = 1; q <= tr->max_qid; q++)
			if (tr->io[q])
				cs[n++] = tr->io[q];
		pthread_mutex_unlock(&tr->lock);
		silent = disconnect(tr, cs, n, dw0);
	}
	free(cs);
	free(dw0);
	if (tr->t.dead)
		tr_log(tr, "no shutdown: %s", tr->why);
	else if (silent)
		tr_log(tr, "no shutdown: the target answered no Disconnect (%u of %u queues)",
		       silent, n);
	else
		shutdown_ctrl(tr);
}

static void tcp_close(struct nvme_transport *t)
{
	struct tcp_tr *tr = TR(t);

	if (tr->ka_started) {
		__atomic_store_n(&tr->ka_stop, 1, __ATOMIC_RELEASE);
		pthread_join(tr->ka, NULL);
	}
	/* the queue core freed its rings: answers arriving now are dropped */
	for (uint32_t q = 0; tr->cqs && q <= tr->max_qid; q++) {
		struct tcp_cq *cq = tr->cqs[q];

		if (cq) {
			pthread_mutex_lock(&cq->lock);
			cq->ring = NULL;
			cq->novf = 0;
			pthread_mutex_unlock(&cq->lock);
		}
	}
	if (tr->io && tr->cqs)
		association_end(tr);
	io_queues_close(tr);
	if (tr->admin)
		bury(tr, tr->admin);
	tr->admin = NULL;
	while (tr->graveyard) {
		struct tcp_conn *c = tr->graveyard;

		tr->graveyard = c->next_dead;
		conn_free(c);
	}
	if (tr->cqs && tr->cqs[0]) {
		tr->cqs[0]->next = tr->dead_cqs;
		tr->dead_cqs = tr->cqs[0];
	}
	while (tr->dead_cqs) {
		struct tcp_cq *q = tr->dead_cqs;

		tr->dead_cqs = q->next;
		pthread_mutex_destroy(&q->lock);
		free(q->ovf);
		free(q);
	}
	free(tr->io);
	free(tr->cqs);
	pthread_mutex_destroy(&tr->lock);
	free(tr);
}

static const struct nvme_transport_ops tcp_ops = {
	.name = "tcp",
	.cfg_read = tcp_cfg_read,
	.cfg_write = tcp_cfg_write,
	.bar_read = tcp_bar_read,
	.bar_write = tcp_bar_write,
	.bar_write_batch = tcp_bar_write_batch,
	.irq_setup = tcp_irq_setup,
	.irq_mask = tcp_irq_mask,
	.pci_enable = tcp_pci_enable,
	.poll = tcp_poll,
	.control = tcp_control,
	.alive = tcp_alive,
	.close = tcp_close,
};

/* --- opening ------------------------------------------------------------------------ */

/* host NQN and host ID, stable per machine: from /etc/machine-id */
static void default_host(struct tcp_tr *tr)
{
	char id[64] = { 0 };
	FILE *f = fopen("/etc/machine-id", "r");
	uint8_t b[16] = { 0 };

	if (!f)
		f = fopen("/var/lib/dbus/machine-id", "r");
	if (f) {
		if (!fgets(id, sizeof(id), f))
			id[0] = 0;
		fclose(f);
	}
	if (strlen(id) >= 32) {
		for (int i = 0; i < 16; i++) {
			unsigned v;

			if (sscanf(id + 2 * i, "%2x", &v) == 1)
				b[i] = (uint8_t)v;
		}
	} else {
		char hn[256] = { 0 };
		uint32_t h1, h2;

		gethostname(hn, sizeof(hn) - 1);
		h1 = crc32c(0, hn, strlen(hn));
		h2 = crc32c(h1, "denvme", 6);
		for (int i = 0; i < 16; i++)
			b[i] = (uint8_t)((i & 1 ? h1 : h2) >> (8 * (i % 4)));
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* a version 4 UUID */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	memcpy(tr->hostid, b, 16);
	if (!tr->hostnqn[0])
		snprintf(tr->hostnqn, sizeof(tr->hostnqn),
			 "nqn.2014-08.org.nvmexpress:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
			 "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
			 b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static int parse_cfg(struct tcp_tr *tr, const char *cfg)
{
	const char *p = cfg;

	tr->kato_ms = 30000;
	tr->timeout_ms = 10000;
	snprintf(tr->port, sizeof(tr->port), "4420");
	while (*p) {
		const char *nl = strchr(p, '\n'), *eq;
		size_t n = nl ? (size_t)(nl - p) : strlen(p), k;
		char key[32], val[256];

		eq = memchr(p, '=', n);
		if (!eq || (k = (size_t)(eq - p)) >= sizeof(key) || n - k - 1 >= sizeof(val))
			return nvme_set_error(-EINVAL, "tcp: bad option line \"%.*s\"", (int)n, p);
		memcpy(key, p, k);
		key[k] = 0;
		memcpy(val, eq + 1, n - k - 1);
		val[n - k - 1] = 0;
		if (!strcmp(key, "host"))
			snprintf(tr->host, sizeof(tr->host), "%s", val);
		else if (!strcmp(key, "port"))
			snprintf(tr->port, sizeof(tr->port), "%s", val);
		else if (!strcmp(key, "nqn"))
			snprintf(tr->subnqn, sizeof(tr->subnqn), "%s", val);
		else if (!strcmp(key, "hostnqn"))
			snprintf(tr->hostnqn, sizeof(tr->hostnqn), "%s", val);
		else if (!strcmp(key, "hdgst"))
			tr->hdgst = atoi(val) != 0;
		else if (!strcmp(key, "ddgst"))
			tr->ddgst = atoi(val) != 0;
		else if (!strcmp(key, "kato"))
			tr->kato_ms = (uint32_t)strtoul(val, NULL, 10);
		else if (!strcmp(key, "timeout"))
			tr->timeout_ms = (uint32_t)strtoul(val, NULL, 10);
		else
			return nvme_set_error(-EINVAL, "tcp: unknown option \"%s\"", key);
		p = nl ? nl + 1 : p + n;
	}
	if (!tr->host[0] || !tr->subnqn[0])
		return nvme_set_error(-EINVAL, "tcp: host and nqn are required");
	if (strlen(tr->subnqn) > 223 || strlen(tr->hostnqn) > 223)
		return nvme_set_error(-EINVAL, "tcp: an NQN has at most 223 bytes");
	if (!tr->timeout_ms || tr->timeout_ms > 3600000)
		return nvme_set_error(-EINVAL, "tcp: timeout %u ms: allowed 1..3600000",
				      tr->timeout_ms);
	return 0;
}

int nvme_tcp_open(const char *cfg, struct nvme_transport **out)
{
	struct tcp_tr *tr = calloc(1, sizeof(*tr));
	struct tcp_conn *c;
	uint32_t status;
	uint64_t cc;
	int r;

	if (!tr)
		return nvme_set_error(-ENOMEM, "out of memory");
	pthread_mutex_init(&tr->lock, NULL);
	tr->t.ops = &tcp_ops;
	tr->t.data_sgl = true;
	tr->io = calloc(MAX_QID + 1, sizeof(*tr->io));
	tr->cqs = calloc(MAX_QID + 1, sizeof(*tr->cqs));
	if (!tr->io || !tr->cqs || !(tr->cqs[0] = calloc(1, sizeof(*tr->cqs[0])))) {
		tcp_close(&tr->t);
		return nvme_set_error(-ENOMEM, "out of memory");
	}
	pthread_mutex_init(&tr->cqs[0]->lock, NULL);
	if ((r = parse_cfg(tr, cfg))) {
		tcp_close(&tr->t);
		return r;
	}
	default_host(tr);
	snprintf(tr->t.name, sizeof(tr->t.name), strchr(tr->host, ':') ? "tcp:[%s]:%s" : "tcp:%s:%s",
		 tr->host, tr->port);
	r = conn_open(tr, 0, 32, 0, &status, &c);
	if (r) {
		tcp_close(&tr->t);
		return r;
	}
	tr->admin = c;
	if ((r = property(tr, false, NVME_REG_CC, 4, &cc))) {
		tcp_close(&tr->t);
		return r;
	}
	tr->cc = (uint32_t)cc;
	if (tr->kato_ms && !pthread_create(&tr->ka, NULL, ka_main, tr))
		tr->ka_started = true;
	*out = &tr->t;
	return 0;
}

int nvme_tcp_discover(const char *cfg, uint8_t *out, uint32_t len, uint32_t *got)
{
	struct nvme_transport *t;
	struct tcp_tr *tr;
	struct tcp_conn *c;
	uint64_t v = 0x00460001, csts = 0, end;
	uint32_t cqe[4], want = len, st;
	int r;

	if (len < 1024 || (len & 3))
		return nvme_set_error(-EINVAL, "discovery log buffer of %u bytes: at least 1024, a "
				      "multiple of 4", len);
	if ((r = nvme_tcp_open(cfg, &t)))
		return r;
	tr = TR(t);
	/* a discovery controller answers admin commands once enabled */
	r = property(tr, true, NVME_REG_CC, 4, &v);
	if (!r)
		tr->cc = (uint32_t)v; /* shut down at close */
	end = nvme_now_ns() + (uint64_t)tr->timeout_ms * 1000000ull;
	while (!r && !(csts & 1)) {
		if ((r = property(tr, false, NVME_REG_CSTS, 4, &csts)))
			break;
		if (!(csts & 1) && nvme_now_ns() >= end)
			r = nvme_set_error(-ETIMEDOUT, "%s: the discovery controller did not become "
					   "ready", t->name);
		else if (!(csts & 1))
			usleep(1000);
	}
	c = tr->admin;
	for (int pass = 0; !r && pass < 2; pass++) {
		uint8_t sqe[64] = { 0x02 };
		uint32_t numd = want / 4 - 1;

		put32(sqe + 40, 0x70 | (numd & 0xffff) << 16); /* LID 70h, NUMDL */
		put32(sqe + 44, numd >> 16);
		memset(out, 0, want);
		pthread_mutex_lock(&c->lock);
		r = conn_exec(c, sqe, out, want, DIR_C2H, cqe);
		pthread_mutex_unlock(&c->lock);
		if (r)
			break;
		if ((st = (cqe[3] >> 17) & 0x7ff)) {
			r = nvme_set_error(-EIO, "%s: Get Log Page 70h (discovery) failed with status "
					   "%02x/%02x", t->name, (st >> 8) & 7, st & 0xff);
			break;
		}
		/* the header says how many records there are: read them all (as far as they fit) */
		uint64_t numrec = get64(out + 8), need = 1024 + numrec * 1024;

		if (need <= want || want == len)
			break;
		want = need < len ? (uint32_t)need : len;
	}
	if (!r)
		*got = want;
	tcp_close(t);
	return r;
}

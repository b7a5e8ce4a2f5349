/* SPDX-License-Identifier: MIT */
/*
 * verify.c - data verification: the controller's tables and the submission/completion hooks of the I/O path (see verify.h, verify_int.h).
 */
#define _GNU_SOURCE

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "ctrl.h"
#include "dma.h"
#include "handle.h"
#include "nvme_opcodes.h"
#include "queue.h"
#include "util.h"
#include "verify.h"
#include "verify_int.h"

/* the write token: process-wide, so blocks written by any queue or thread differ */
uint64_t nvme_vwrite_token = 1;

/* --- the controller's tables -------------------------------------------------------- */

struct nvme_vtab *nvme_vreg_lookup(struct nvme_vreg *r, uint32_t nsid)
{
	uint32_t n;

	if (nsid < NVME_VT_DIRECT)
		return __atomic_load_n(&r->direct[nsid], __ATOMIC_ACQUIRE);
	n = __atomic_load_n(&r->nother, __ATOMIC_ACQUIRE);
	for (uint32_t i = 0; i < n; i++)
		if (r->other[i]->nsid == nsid)
			return r->other[i];
	return NULL;
}

/* take a reference for a command; false when the table is not on */
bool nvme_vtab_attach(struct nvme_vtab *vt)
{
	__atomic_add_fetch(&vt->refs, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&vt->state, __ATOMIC_SEQ_CST) == NVME_VT_ON)
		return true;
	__atomic_sub_fetch(&vt->refs, 1, __ATOMIC_RELEASE);
	return false;
}

void nvme_vtab_detach(struct nvme_vtab *vt)
{
	__atomic_sub_fetch(&vt->refs, 1, __ATOMIC_RELEASE);
}

/*
 * Make @vt unused by the IO path (state @to, under r->lock): true when nobody
 * holds a reference (the caller may free its contents), false otherwise (the
 * state is left at @to; commands in flight still use the table).
 */
bool nvme_vtab_quiesce(struct nvme_vtab *vt, int to)
{
	__atomic_store_n(&vt->state, to, __ATOMIC_SEQ_CST);
	return __atomic_load_n(&vt->refs, __ATOMIC_SEQ_CST) == 0;
}

/* clear one table (r->lock held) */
void nvme_vtab_clear_on(struct nvme_vtab *vt)
{
	if (__atomic_load_n(&vt->state, __ATOMIC_ACQUIRE) != NVME_VT_ON)
		return;
	nvme_vtab_clear(vt, nvme_vtab_quiesce(vt, NVME_VT_CLEARING));
	__atomic_store_n(&vt->state, NVME_VT_ON, __ATOMIC_SEQ_CST);
}

/* clear the tables a Format NVM of @nsid (@ses: Secure Erase Settings) or a sanitize affects */
void nvme_vreg_clear_tables(struct nvme_vreg *r, bool all, uint32_t nsid, uint32_t ses)
{
	pthread_mutex_lock(&r->lock);
	for (uint32_t i = 0; i < NVME_VT_DIRECT + r->nother; i++) {
		struct nvme_vtab *vt = i < NVME_VT_DIRECT ? r->direct[i] :
							    r->other[i - NVME_VT_DIRECT];

		if (!vt)
			continue;
		if (all || vt->nsid == nsid || (vt->flags & NVME_VERIFY_F_FNA_ALL) ||
		    (ses && (vt->flags & NVME_VERIFY_F_FNA_SES)))
			nvme_vtab_clear_on(vt);
	}
	pthread_mutex_unlock(&r->lock);
}

struct nvme_vreg *nvme_vreg_get(struct nvme_ctrl *c, bool create)
{
	struct nvme_vreg *r = __atomic_load_n(&c->verify, __ATOMIC_ACQUIRE), *expected = NULL;

	if (r || !create)
		return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	if (!__atomic_compare_exchange_n(&c->verify, &expected, r, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		pthread_mutex_destroy(&r->lock);
		free(r);
		r = expected;
	}
	return r;
}

void nvme_verify_ctrl_fini(struct nvme_ctrl *c)
{
	struct nvme_vreg *r = c->verify;

	if (!r)
		return;
	for (uint32_t i = 0; i < NVME_VT_DIRECT + r->nother; i++) {
		struct nvme_vtab *vt = i < NVME_VT_DIRECT ? r->direct[i] :
							    r->other[i - NVME_VT_DIRECT];

		if (vt) {
			nvme_vtab_fini(vt);
			free(vt);
		}
	}
	free(r->reports);
	pthread_mutex_destroy(&r->lock);
	free(r);
	c->verify = NULL;
}

/* --- hooks ------------------------------------------------------------------------------- */

static bool writes_data(uint8_t op)
{
	return op == VOP_WRITE || op == VOP_ZEROES || op == VOP_UNC || op == VOP_TRIM ||
	       op == VOP_COPY || op == VOP_UNKNOWN || op == VOP_CLEAR_NS;
}

static void free_vcmd(struct nvme_vcmd *v)
{
	if (v->lkv) {
		free(v->lkv);
		v->lkv = NULL;
	}
	if (v->ranges) {
		free(v->ranges);
		v->ranges = NULL;
	}
}

/* lock intervals of the command's LBA ranges: v->nvme_vcmd_locks (one range) or v->lkv */
static int lba_intervals(struct nvme_vtab *vt, struct nvme_vcmd *v)
{
	unsigned n = 0;

	if (!v->nranges) {
		v->nlk = nvme_vlocks_ival(&vt->locks, v->slba, nvme_vtab_clip(vt, v->slba, v->nlb), v->lk);
		return 0;
	}
	/* DSM ranges, or Copy sources plus the destination */
	v->lkv = malloc(2 * (v->nranges + 1u) * sizeof(*v->lkv));
	if (!v->lkv)
		return nvme_set_error(-ENOMEM, "out of memory");
	for (unsigned i = 0; i < v->nranges; i++)
		n += nvme_vlocks_ival(&vt->locks, v->ranges[i].slba,
				      nvme_vtab_clip(vt, v->ranges[i].slba, v->ranges[i].nlb), v->lkv + n);
	if (v->op == VOP_COPY)
		n += nvme_vlocks_ival(&vt->locks, v->slba, nvme_vtab_clip(vt, v->slba, v->nlb), v->lkv + n);
	v->nlk = nvme_vlocks_merge(v->lkv, n);
	return 0;
}

static struct nvme_vival *nvme_vcmd_locks(struct nvme_vcmd *v)
{
	return v->lkv ? v->lkv : v->lk;
}

int nvme_verify_submit(struct nvme_sq *sq, const uint8_t *sqe, struct nvme_buf *buf, uint64_t off,
		       uint64_t len, uint32_t flags, struct nvme_vcmd *v)
{
	struct nvme_vreg *r = __atomic_load_n(&sq->ctrl->verify, __ATOMIC_ACQUIRE);
	uint8_t opc = sqe[0], *data = NULL;
	uint32_t nsid;
	struct nvme_vtab *vt;
	int rc;

	if (!r || !__atomic_load_n(&r->active, __ATOMIC_RELAXED))
		return 0;
	nsid = get32(sqe + 4);
	if (!sq->qid) {
		if (opc == NVME_ADM_FORMAT_NVM || opc == NVME_ADM_SANITIZE) {
			v->op = opc == NVME_ADM_FORMAT_NVM ? VOP_FORMAT : VOP_SANITIZE;
			v->nsid = nsid;
			v->cdw10 = get32(sqe + 40);
		}
		return 0;
	}
	vt = nvme_vreg_lookup(r, nsid);
	if (!vt || !nvme_vtab_attach(vt))
		return 0;
	if (buf && len && !(flags & (NVME_SUBMIT_RAW_PRP | NVME_SUBMIT_NO_DATA)))
		data = buf->vaddr + off;
	rc = nvme_vcmd_parse(v, sqe, data, len, vt->lba_size);
	if (rc < 0)
		goto fail;
	if (!rc)
		goto untracked;
	if ((sqe[1] & 3) && v->op != VOP_CLEAR_NS) {
		/* fused commands go back to back on the same LBAs: no locks */
		if (v->op == VOP_LOCK)
			goto untracked;
	} else if (v->op != VOP_CLEAR_NS) {
		rc = lba_intervals(vt, v);
		if (rc)
			goto fail;
		if (nvme_vlocks_try(&vt->locks, nvme_vcmd_locks(v), v->nlk))
			goto conflict;
	}
	/*
	 * The data blocks' buffer bytes too (not DSM ranges or Copy descriptors:
	 * they were read here already): a write stamps them, a read is checked from
	 * them, a Compare's must not change under it.
	 */
	if (data && v->op != VOP_TRIM && v->op != VOP_COPY && v->op != VOP_CLEAR_NS) {
		uint64_t iova = buf->iova + off;

		struct nvme_vlocks *hl = nvme_vhost_locks();

		if (hl && iova + len <= ((uint64_t)NVME_VT_HOST_GRANULE << hl->bits)) {
			uint64_t g0 = iova / NVME_VT_HOST_GRANULE;
			uint64_t g1 = (iova + len - 1) / NVME_VT_HOST_GRANULE + 1;

			v->host = (struct nvme_vival){ (uint32_t)g0, (uint32_t)(g1 - g0) };
			if (nvme_vlocks_try(hl, &v->host, 1)) {
				v->host.count = 0;
				nvme_vlocks_drop(&vt->locks, nvme_vcmd_locks(v), v->nlk);
				v->nlk = 0;
				goto conflict_host;
			}
		}
		if (v->op == VOP_READ || v->op == VOP_WRITE)
			v->data = data;
	}
	if (v->op == VOP_WRITE && !(flags & NVME_SUBMIT_NO_STAMP)) {
		/* (unstamped on request: the table keeps the CRC of the data as it is) */
		uint64_t token = __atomic_fetch_add(&nvme_vwrite_token, v->nlb, __ATOMIC_RELAXED);

		nvme_vstamp(data, vt->lba_size, v->slba, v->nlb, token);
		stat_add(&vt->stamped, v->nlb);
	}
	v->vt = vt;
	v->epoch = __atomic_load_n(&vt->epoch, __ATOMIC_ACQUIRE);
	/*
	 * The completion looks the table up from its directory entry: random IO
	 * over a large namespace misses the cache there. Fetching it now overlaps
	 * that miss with the command's time in flight.
	 */
	if (v->slba < vt->limit && vt->dir)
		__builtin_prefetch(&vt->dir[v->slba >> NVME_VT_DIR_SHIFT], 0, 3);
	return 0;

conflict:
	stat_add(&vt->conflicts, 1);
	rc = -EAGAIN;
	if (sq->priv)
		goto fail; /* an ioworker retries in its loop: no message to format */
	if (v->nranges && v->op == VOP_TRIM)
		rc = nvme_set_error(-EAGAIN, "LBAs of the %u ranges of namespace %u are locked by a "
				    "command in flight (verification serializes conflicting IO): "
				    "reap it first", v->nranges, nsid);
	else
		rc = nvme_set_error(-EAGAIN, "LBAs %llu..%llu of namespace %u are locked by a "
				    "command in flight (verification serializes conflicting IO): "
				    "reap it first", (unsigned long long)v->slba,
				    (unsigned long long)(v->slba + v->nlb - 1), nsid);
	goto fail;
conflict_host:
	stat_add(&vt->conflicts, 1);
	rc = -EAGAIN;
	if (sq->priv)
		goto fail;
	rc = nvme_set_error(-EAGAIN, "the data buffer (bus address 0x%llx) is in use by a command "
			    "in flight on a verified namespace: reap it first, or give each "
			    "command its own buffer", (unsigned long long)(buf->iova + off));
fail:
	free_vcmd(v);
	memset(v, 0, sizeof(*v));
	nvme_vtab_detach(vt);
	return rc;
untracked:
	memset(v, 0, sizeof(*v));
	nvme_vtab_detach(vt);
	return 0;
}

/* the command's writes had an unknown outcome: forget what it may have changed */
static void forget(struct nvme_vcmd *v)
{
	struct nvme_vtab *vt = v->vt;

	switch (v->op) {
	case VOP_WRITE:
	case VOP_ZEROES:
	case VOP_UNC:
	case VOP_UNKNOWN:
	case VOP_COPY:
		nvme_vtab_set(vt, v->slba, v->nlb, NVME_VT_NEVER);
		break;
	case VOP_TRIM:
		for (unsigned i = 0; i < v->nranges; i++)
			nvme_vtab_set(vt, v->ranges[i].slba, v->ranges[i].nlb, NVME_VT_NEVER);
		break;
	case VOP_CLEAR_NS:
		nvme_vtab_clear(vt, false);
		break;
	default:
		break;
	}
}

static void report(struct nvme_sq *sq, struct nvme_vcmd *v, const struct nvme_cpl *o,
		   const struct nvme_verify_report *rep)
{
	struct nvme_vreg *r = sq->ctrl->verify;
	struct nvme_verify_report *slot;

	pthread_mutex_lock(&r->lock);
	if (!r->reports)
		r->reports = calloc(NVME_VERIFY_REPORTS, sizeof(*r->reports));
	if (r->reports) {
		slot = &r->reports[r->nreports++ % NVME_VERIFY_REPORTS];
		*slot = *rep;
		slot->sq_handle = sq->handle;
		slot->tag = o->tag;
		slot->nsid = v->vt->nsid;
		slot->slba = v->slba;
		slot->nlb = (uint32_t)v->nlb;
		slot->cid = (uint16_t)(o->dw[3] & 0xffff);
		slot->sqid = sq->qid;
	}
	pthread_mutex_unlock(&r->lock);
}

void nvme_verify_complete(struct nvme_sq *sq, struct nvme_vcmd *v, struct nvme_cpl *o)
{
	uint32_t status = (o->dw[3] >> 17) & 0x7ff;
	struct nvme_vtab *vt = v->vt;
	struct nvme_verify_report rep;
	bool stale;

	if (v->done || v->op == VOP_NONE)
		return;
	v->done = 1;
	if (v->op == VOP_FORMAT || v->op == VOP_SANITIZE) {
		struct nvme_vreg *r = sq->ctrl->verify;

		if (r && !(status && nvme_verify_rejected(status)))
			nvme_vreg_clear_tables(r, v->op == VOP_SANITIZE || v->nsid == 0xffffffffu, v->nsid,
				     (v->cdw10 >> 9) & 7);
		return;
	}
	if (!vt)
		return;
	stale = v->epoch != __atomic_load_n(&vt->epoch, __ATOMIC_ACQUIRE);
	if (status) {
		if (!nvme_verify_rejected(status) && writes_data(v->op))
			forget(v);
		return;
	}
	if (stale && v->op != VOP_READ && v->op != VOP_LOCK) {
		forget(v); /* a format or sanitize crossed it: its effect is unknown */
		return;
	}
	switch (v->op) {
	case VOP_READ:
		if (stale || (__atomic_load_n(&vt->flags, __ATOMIC_ACQUIRE) & NVME_VERIFY_F_NO_CHECK) ||
		    !nvme_vtab_check(vt, v->slba, v->nlb, v->data, &rep))
			break;
		o->dw[3] = (o->dw[3] & 0x1ffffu) | (NVME_STATUS_VERIFY << 17);
		if (rep.kinds & (1u << NVME_VERIFY_LBA))
			o->flags |= NVME_CPL_VERIFY_LBA;
		if (rep.kinds & (1u << NVME_VERIFY_CRC))
			o->flags |= NVME_CPL_VERIFY_CRC;
		if (rep.kinds & (1u << NVME_VERIFY_UNC))
			o->flags |= NVME_CPL_VERIFY_UNC;
		report(sq, v, o, &rep);
		break;
	case VOP_WRITE:
		nvme_vtab_record(vt, v->slba, v->nlb, v->data);
		break;
	case VOP_ZEROES:
		nvme_vtab_set(vt, v->slba, v->nlb, vt->zero_crc);
		break;
	case VOP_UNC:
		nvme_vtab_set(vt, v->slba, v->nlb, NVME_VT_UNC);
		break;
	case VOP_TRIM:
		for (unsigned i = 0; i < v->nranges; i++)
			nvme_vtab_set(vt, v->ranges[i].slba, v->ranges[i].nlb,
				      vt->flags & NVME_VERIFY_F_TRIM_ZEROES ? vt->zero_crc :
									      NVME_VT_NEVER);
		break;
	case VOP_COPY: {
		uint64_t dst = v->slba;

		for (unsigned i = 0; i < v->nranges; i++) {
			nvme_vtab_copy(vt, dst, v->ranges[i].slba, v->ranges[i].nlb);
			dst += v->ranges[i].nlb;
		}
		break;
	}
	case VOP_UNKNOWN:
		nvme_vtab_set(vt, v->slba, v->nlb, NVME_VT_NEVER);
		break;
	case VOP_CLEAR_NS:
		nvme_vtab_clear(vt, false);
		break;
	default:
		break;
	}
}

void nvme_verify_release(struct nvme_sq *sq, struct nvme_vcmd *v)
{
	struct nvme_vtab *vt = v->vt;

	if (!v->done && (v->op == VOP_FORMAT || v->op == VOP_SANITIZE)) {
		struct nvme_vreg *r = sq->ctrl->verify;

		if (r) /* lost on the way: it may have run */
			nvme_vreg_clear_tables(r, v->op == VOP_SANITIZE || v->nsid == 0xffffffffu, v->nsid,
				     (v->cdw10 >> 9) & 7);
	}
	if (vt) {
		if (!v->done && writes_data(v->op))
			forget(v);
		if (v->nlk)
			nvme_vlocks_drop(&vt->locks, nvme_vcmd_locks(v), v->nlk);
		if (v->host.count)
			nvme_vlocks_drop(nvme_vhost_locks(), &v->host, 1);
		nvme_vtab_detach(vt);
	}
	free_vcmd(v);
	memset(v, 0, sizeof(*v));
}

bool nvme_verify_on(struct nvme_ctrl *c, uint32_t nsid)
{
	struct nvme_vreg *r = nvme_vreg_get(c, false);
	struct nvme_vtab *vt = r ? nvme_vreg_lookup(r, nsid) : NULL;

	return vt && __atomic_load_n(&vt->state, __ATOMIC_ACQUIRE) == NVME_VT_ON;
}

/* the report of (@sqh, @tag), newest first (r->lock held) */
const struct nvme_verify_report *nvme_vreg_find_report(struct nvme_vreg *r, uint32_t sqh,
						    uint32_t tag)
{
	for (uint64_t k = 0; r->reports && k < r->nreports && k < NVME_VERIFY_REPORTS; k++) {
		const struct nvme_verify_report *p =
			&r->reports[(r->nreports - 1 - k) % NVME_VERIFY_REPORTS];

		if (p->sq_handle == sqh && p->tag == tag)
			return p;
	}
	return NULL;
}

int nvme_verify_describe(struct nvme_sq *sq, uint32_t tag, char *buf, size_t size)
{
	struct nvme_vreg *r = nvme_vreg_get(sq->ctrl, false);
	const struct nvme_verify_report *p;
	int n = 0;

	if (!r || !size)
		return -ENOENT;
	pthread_mutex_lock(&r->lock);
	p = nvme_vreg_find_report(r, sq->handle, tag);
	if (p && p->kind == NVME_VERIFY_LBA)
		n = snprintf(buf, size, "LBA mismatch at LBA %llu: expected data of LBA %llu, found "
			     "data of LBA %llu", (unsigned long long)p->lba,
			     (unsigned long long)p->lba, (unsigned long long)p->found_lba);
	else if (p && p->kind == NVME_VERIFY_UNC)
		n = snprintf(buf, size, "LBA %llu was written uncorrectable, yet read successfully",
			     (unsigned long long)p->lba);
	else if (p)
		n = snprintf(buf, size, "CRC mismatch at LBA %llu: expected CRC 0x%08x, found 0x%08x",
			     (unsigned long long)p->lba, p->expected, p->found);
	if (p && p->nbad > 1 && n > 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, " (%u of %u blocks bad, the last at LBA %llu)",
			 p->nbad, p->nlb, (unsigned long long)p->last_lba);
	pthread_mutex_unlock(&r->lock);
	return p ? 0 : -ENOENT;
}

/* SPDX-License-Identifier: MIT */
/*
 * verify_api.c - the exported functions of data verification: enable, disable, clear, statistics, table reads, failure reports, the write token, CRC-32C (see verify.h, verify_int.h).
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

/* --- exported ------------------------------------------------------------------------------ */

static struct nvme_ctrl *get_ctrl(uint32_t h)
{
	struct nvme_ctrl *c = nvme_handle_get(h, NVME_H_CTRL);

	if (!c)
		nvme_set_error(-EBADF, h ? "the controller is closed (handle 0x%x is no longer valid)"
				       : "no controller given (handle 0x%x)", h);
	return c;
}

static int check_nsid(uint32_t nsid, bool all_ok)
{
	if (nsid == 0 || (nsid == 0xffffffffu && !all_ok))
		return nvme_set_error(-EINVAL, "namespace id %u: allowed 1..4294967294", nsid);
	return 0;
}

int nvme_ns_verify_enable(uint32_t ctrl, uint32_t nsid, uint32_t lba_size, uint64_t nlba,
			  uint64_t limit, uint32_t flags)
{
	struct nvme_ctrl *c = get_ctrl(ctrl);
	struct nvme_vtab *vt;
	struct nvme_vreg *r;
	int rc = 0;

	if (!c)
		return -EBADF;
	if ((rc = check_nsid(nsid, false)))
		return rc;
	if (lba_size < 512 || lba_size > (1u << 20) || (lba_size & (lba_size - 1)))
		return nvme_set_error(-EINVAL, "LBA size %u: a power of two from 512 to 1048576",
				      lba_size);
	if (!nlba || nlba > (1ull << 48))
		return nvme_set_error(-EINVAL, "namespace size %llu LBAs: allowed 1..2^48",
				      (unsigned long long)nlba);
	if (flags & ~NVME_VERIFY_F_ALL)
		return nvme_set_error(-EINVAL, "unknown verify flags 0x%x", flags);
	limit = !limit || limit > nlba ? nlba : limit;
	r = nvme_vreg_get(c, true);
	if (!r)
		return nvme_set_error(-ENOMEM, "out of memory");
	pthread_mutex_lock(&r->lock);
	vt = nvme_vreg_lookup(r, nsid);
	if (!vt) {
		if (nsid >= NVME_VT_DIRECT && r->nother >= NVME_VT_MAX_OTHER) {
			rc = nvme_set_error(-ENOSPC, "too many verified namespaces with ids of %u "
					    "and above (%u)", NVME_VT_DIRECT, NVME_VT_MAX_OTHER);
			goto out;
		}
		vt = calloc(1, sizeof(*vt));
		if (!vt) {
			rc = nvme_set_error(-ENOMEM, "out of memory");
			goto out;
		}
		vt->nsid = nsid;
		if (nsid < NVME_VT_DIRECT) {
			__atomic_store_n(&r->direct[nsid], vt, __ATOMIC_RELEASE);
		} else {
			r->other[r->nother] = vt;
			__atomic_store_n(&r->nother, r->nother + 1, __ATOMIC_RELEASE);
		}
	}
	if (__atomic_load_n(&vt->state, __ATOMIC_ACQUIRE) == NVME_VT_ON) {
		if (vt->lba_size == lba_size && vt->nlba == nlba && vt->limit == limit &&
		    (vt->flags & ~NVME_VERIFY_F_NO_CHECK) == (flags & ~NVME_VERIFY_F_NO_CHECK)) {
			/* on already: entries kept; reads checked from now on, or not */
			__atomic_store_n(&vt->flags, flags, __ATOMIC_RELEASE);
			goto out;
		}
		if (!nvme_vtab_quiesce(vt, NVME_VT_CLEARING)) {
			__atomic_store_n(&vt->state, NVME_VT_ON, __ATOMIC_SEQ_CST);
			rc = nvme_set_error(-EBUSY, "namespace %u: commands in flight use its "
					    "verification table: wait for them before changing it",
					    nsid);
			goto out;
		}
		nvme_vtab_fini(vt);
		__atomic_sub_fetch(&r->active, 1, __ATOMIC_RELEASE);
	}
	rc = nvme_vtab_init(vt, nsid, lba_size, nlba, limit, flags);
	if (rc) {
		__atomic_store_n(&vt->state, NVME_VT_OFF, __ATOMIC_SEQ_CST);
		rc = nvme_set_error(rc, "namespace %u: no memory for the verification table of "
				    "%llu LBAs (%llu MiB of directory)", nsid,
				    (unsigned long long)limit,
				    (unsigned long long)((((limit >> NVME_VT_DIR_SHIFT) + 1) * 8) >>
							 20));
		goto out;
	}
	__atomic_add_fetch(&vt->epoch, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&r->active, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&vt->state, NVME_VT_ON, __ATOMIC_SEQ_CST);
out:
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int nvme_ns_verify_disable(uint32_t ctrl, uint32_t nsid)
{
	struct nvme_ctrl *c = get_ctrl(ctrl);
	struct nvme_vtab *vt;
	struct nvme_vreg *r;
	int rc = 0;

	if (!c)
		return -EBADF;
	if ((rc = check_nsid(nsid, false)))
		return rc;
	r = nvme_vreg_get(c, false);
	if (!r)
		return 0;
	pthread_mutex_lock(&r->lock);
	vt = nvme_vreg_lookup(r, nsid);
	if (vt && __atomic_load_n(&vt->state, __ATOMIC_ACQUIRE) == NVME_VT_ON) {
		if (nvme_vtab_quiesce(vt, NVME_VT_OFF)) {
			nvme_vtab_fini(vt);
			__atomic_sub_fetch(&r->active, 1, __ATOMIC_RELEASE);
		} else {
			__atomic_store_n(&vt->state, NVME_VT_ON, __ATOMIC_SEQ_CST);
			rc = nvme_set_error(-EBUSY, "namespace %u: commands in flight use its "
					    "verification table: wait for them before disabling it",
					    nsid);
		}
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int nvme_ns_verify_clear(uint32_t ctrl, uint32_t nsid)
{
	struct nvme_ctrl *c = get_ctrl(ctrl);
	struct nvme_vreg *r;
	int rc, n = 0;

	if (!c)
		return -EBADF;
	if ((rc = check_nsid(nsid, true)))
		return rc;
	r = nvme_vreg_get(c, false);
	if (!r)
		return 0;
	pthread_mutex_lock(&r->lock);
	for (uint32_t i = 0; i < NVME_VT_DIRECT + r->nother; i++) {
		struct nvme_vtab *vt = i < NVME_VT_DIRECT ? r->direct[i] :
							    r->other[i - NVME_VT_DIRECT];

		if (vt && (nsid == 0xffffffffu || vt->nsid == nsid) &&
		    __atomic_load_n(&vt->state, __ATOMIC_ACQUIRE) == NVME_VT_ON) {
			nvme_vtab_clear_on(vt);
			n++;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return n;
}

int nvme_ns_verify_stats(uint32_t ctrl, uint32_t nsid, struct nvme_verify_stats *out,
			 uint32_t size)
{
	struct nvme_ctrl *c = get_ctrl(ctrl);
	struct nvme_vtab *vt;
	struct nvme_vreg *r;
	int rc;

	if (!c)
		return -EBADF;
	if ((rc = check_nsid(nsid, false)))
		return rc;
	if ((rc = NVME_CHECK_OUT(out, size, "ns_verify_stats")))
		return rc;
	memset(out, 0, sizeof(*out));
	r = nvme_vreg_get(c, false);
	if (!r)
		return 0;
	pthread_mutex_lock(&r->lock);
	vt = nvme_vreg_lookup(r, nsid);
	if (vt && __atomic_load_n(&vt->state, __ATOMIC_ACQUIRE) == NVME_VT_ON) {
		uint64_t leaves = __atomic_load_n(&vt->leaves, __ATOMIC_RELAXED);
		uint64_t mids = __atomic_load_n(&vt->mids, __ATOMIC_RELAXED);

		out->on = 1;
		out->lba_size = vt->lba_size;
		out->limit = vt->limit;
		out->leaves = leaves;
		out->nodes = mids + __atomic_load_n(&vt->minis, __ATOMIC_RELAXED);
		out->slab_bytes = __atomic_load_n(&vt->slab_bytes, __ATOMIC_RELAXED);
		out->dir_bytes = vt->dir_bytes;
		out->lock_bytes = vt->locks.bytes;
		out->stamped = __atomic_load_n(&vt->stamped, __ATOMIC_RELAXED);
		out->checked = __atomic_load_n(&vt->checked, __ATOMIC_RELAXED);
		out->skipped = __atomic_load_n(&vt->skipped, __ATOMIC_RELAXED);
		out->bad_blocks = __atomic_load_n(&vt->bad_blocks, __ATOMIC_RELAXED);
		out->bad_cmds = __atomic_load_n(&vt->bad_cmds, __ATOMIC_RELAXED);
		out->conflicts = __atomic_load_n(&vt->conflicts, __ATOMIC_RELAXED);
		out->alloc_failures = __atomic_load_n(&vt->alloc_failures, __ATOMIC_RELAXED);
		out->epoch = __atomic_load_n(&vt->epoch, __ATOMIC_RELAXED);
		out->flags = __atomic_load_n(&vt->flags, __ATOMIC_ACQUIRE);
		out->nlba = vt->nlba;
	}
	pthread_mutex_unlock(&r->lock);
	return 0;
}

int nvme_ns_verify_get(uint32_t ctrl, uint32_t nsid, uint64_t lba, uint32_t count, uint32_t *out)
{
	struct nvme_ctrl *c = get_ctrl(ctrl);
	struct nvme_vtab *vt;
	struct nvme_vreg *r;
	int rc;

	if (!c)
		return -EBADF;
	if ((rc = check_nsid(nsid, false)))
		return rc;
	if (!out || !count || count > 65536)
		return nvme_set_error(-EINVAL, "ns_verify_get: count %u: allowed 1..65536", count);
	r = nvme_vreg_get(c, false);
	if (!r)
		return nvme_set_error(-ENOENT, "namespace %u has no verification table", nsid);
	pthread_mutex_lock(&r->lock);
	vt = nvme_vreg_lookup(r, nsid);
	if (!vt || __atomic_load_n(&vt->state, __ATOMIC_ACQUIRE) != NVME_VT_ON) {
		rc = nvme_set_error(-ENOENT, "namespace %u has no verification table", nsid);
	} else {
		for (uint32_t i = 0; i < count; i++)
			out[i] = lba + i >= lba ? nvme_vtab_get(vt, lba + i) : NVME_VT_NEVER;
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int nvme_sq_verify_report(uint32_t sqh, uint32_t tag, struct nvme_verify_failure *out,
			  uint32_t size)
{
	struct nvme_sq *sq = nvme_handle_get(sqh, NVME_H_SQ);
	struct nvme_vreg *r;
	int rc = -ENOENT;

	if (!sq)
		return nvme_set_error(-EBADF, "the queue is closed (handle 0x%x)", sqh);
	if ((rc = NVME_CHECK_OUT(out, size, "sq_verify_report")))
		return rc;
	rc = -ENOENT;
	r = nvme_vreg_get(sq->ctrl, false);
	if (!r)
		return nvme_set_error(-ENOENT, "no verification report for tag %u", tag);
	pthread_mutex_lock(&r->lock);
	{
		const struct nvme_verify_report *p = nvme_vreg_find_report(r, sqh, tag);

		if (p) {
			out->kind = p->kind;
			out->lba = p->lba;
			out->last_lba = p->last_lba;
			out->expected = p->expected;
			out->found = p->found;
			out->found_lba = p->found_lba;
			out->found_token = p->found_token;
			out->nbad = p->nbad;
			out->kinds = p->kinds;
			out->nsid = p->nsid;
			out->slba = p->slba;
			out->nlb = p->nlb;
			rc = 0;
		}
	}
	pthread_mutex_unlock(&r->lock);
	if (rc)
		nvme_set_error(rc, "no verification report for tag %u (only the last %u are kept)",
			       tag, NVME_VERIFY_REPORTS);
	return rc;
}

int nvme_verify_token(struct nvme_verify_token_info *out, uint32_t size)
{
	int rc = NVME_CHECK_OUT(out, size, "verify_token");

	if (rc)
		return rc;
	out->next = __atomic_load_n(&nvme_vwrite_token, __ATOMIC_RELAXED);
	out->hw_crc = crc32c_hw_available();
	return 0;
}

int nvme_crc32c(const uint8_t *buf, uint32_t len, struct nvme_crc *out, uint32_t size)
{
	int rc = NVME_CHECK_OUT(out, size, "crc32c");

	if (rc)
		return rc;
	if (!buf && len)
		return nvme_set_error(-EFAULT, "crc32c: missing buffer");
	out->crc = crc32c(0, buf, len);
	out->entry = crc32c_entry(out->crc);
	return 0;
}

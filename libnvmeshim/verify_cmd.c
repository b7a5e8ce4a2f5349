/* SPDX-License-Identifier: MIT */
/*
 * verify_cmd.c - NVMe command parsing for data verification: which completion statuses mean the command did not run, what an I/O command does to the data, and the LBA ranges of Dataset Management and Copy (see verify.h, verify_int.h).
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

bool nvme_verify_rejected(uint32_t status)
{
	uint32_t sct = (status >> 8) & 7, sc = status & 0xff;

	if (sct == 1)
		return true; /* command specific: invalid format, conflicting attributes, zones... */
	if (sct != 0)
		return false; /* media, path, vendor (host timeout): data may have changed */
	switch (sc) {
	case 0x01: /* invalid opcode */
	case 0x02: /* invalid field */
	case 0x03: /* command ID conflict */
	case 0x0b: /* invalid namespace or format */
	case 0x0c: /* command sequence error */
	case 0x0d: case 0x0e: case 0x0f: case 0x10: case 0x11: /* SGL descriptors */
	case 0x12: /* invalid use of CMB */
	case 0x13: /* PRP offset invalid */
	case 0x15: /* operation denied */
	case 0x16: /* SGL offset invalid */
	case 0x18: /* host identifier inconsistent */
	case 0x1d: /* sanitize in progress */
	case 0x1e: /* SGL data block granularity */
	case 0x1f: /* not supported for a queue in CMB */
	case 0x20: /* namespace write protected */
	case 0x23: /* prohibited by lockdown */
	case 0x24: /* admin command media not ready */
	case 0x80: /* LBA out of range */
	case 0x81: /* capacity exceeded */
	case 0x82: /* namespace not ready */
	case 0x83: /* reservation conflict */
	case 0x84: /* format in progress */
		return true;
	default:
		return false; /* data transfer error, internal error, aborted, ... */
	}
}

/* parse DSM ranges (deallocate) or Copy source descriptors from the command's data */
static int parse_ranges(struct nvme_vcmd *v, const uint8_t *sqe, const uint8_t *data,
			uint64_t len)
{
	uint8_t opc = sqe[0];
	uint32_t cdw10 = get32(sqe + 40), cdw12 = get32(sqe + 48);
	unsigned nr = opc == NVME_IO_DSM ? (cdw10 & 0xff) + 1 : (cdw12 & 0xff) + 1;
	unsigned dsize = opc == NVME_IO_DSM ? 16 : ((cdw12 >> 8) & 0xf) == 0 ? 32 : 40;

	if (opc == NVME_IO_COPY && ((cdw12 >> 8) & 0xf) > 1)
		return -ENOTSUP; /* descriptor formats 2/3 name other namespaces */
	if (!data || len < (uint64_t)nr * dsize)
		return -ENOTSUP;
	v->ranges = malloc(nr * sizeof(*v->ranges));
	if (!v->ranges)
		return nvme_set_error(-ENOMEM, "out of memory");
	v->nranges = (uint16_t)nr;
	v->nlb = 0;
	for (unsigned i = 0; i < nr; i++) {
		const uint8_t *d = data + (uint64_t)i * dsize;

		if (opc == NVME_IO_DSM) {
			v->ranges[i].nlb = get32(d + 4);
			v->ranges[i].slba = get64(d + 8);
		} else {
			v->ranges[i].slba = get64(d + 8);
			v->ranges[i].nlb = get16(d + 16) + 1u;
			v->nlb += v->ranges[i].nlb; /* destination length */
		}
	}
	return 0;
}

int nvme_vcmd_parse(struct nvme_vcmd *v, const uint8_t *sqe, const uint8_t *data, uint64_t len,
		    uint32_t lba_size)
{
	uint32_t cdw12 = get32(sqe + 48);
	int rc;

	v->slba = get64(sqe + 40);
	v->nlb = (cdw12 & 0xffff) + 1u;
	switch (sqe[0]) {
	case NVME_IO_WRITE:
	case NVME_IO_READ:
		if (data && len == v->nlb * lba_size)
			v->op = sqe[0] == NVME_IO_WRITE ? VOP_WRITE : VOP_READ;
		else
			v->op = sqe[0] == NVME_IO_WRITE ? VOP_UNKNOWN : VOP_LOCK; /* data not followed */
		break;
	case NVME_IO_WRITE_UNCOR:
		v->op = VOP_UNC;
		break;
	case NVME_IO_COMPARE:
		v->op = VOP_LOCK; /* Compare: the data must not change meanwhile */
		break;
	case NVME_IO_WRITE_ZEROES:
		v->op = VOP_ZEROES;
		break;
	case NVME_IO_DSM: /* only deallocate changes data */
		if (!(get32(sqe + 44) & 0x4))
			return 0;
		v->op = VOP_TRIM;
		rc = parse_ranges(v, sqe, data, len);
		if (rc == -ENOTSUP)
			v->op = VOP_CLEAR_NS; /* ranges out of sight: forget the namespace */
		else if (rc)
			return rc;
		break;
	case NVME_IO_COPY:
		v->op = VOP_COPY;
		rc = parse_ranges(v, sqe, data, len);
		if (rc == -ENOTSUP)
			v->op = VOP_CLEAR_NS;
		else if (rc)
			return rc;
		break;
	case NVME_IO_ZONE_MGMT_SEND: /* reset and offline drop the data of zones */
		if ((get32(sqe + 52) & 0xff) != 0x4 && (get32(sqe + 52) & 0xff) != 0x5)
			return 0;
		v->op = VOP_CLEAR_NS;
		break;
	default:
		return 0;
	}
	return 1;
}

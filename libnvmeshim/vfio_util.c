/* SPDX-License-Identifier: MIT */
/*
 * vfio_util.c - PCI address parsing and IOVA planning (pure, unit tested).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "vfio_util.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* exactly @n hex digits at *@p; advances *@p */
static int hexfield(const char **p, unsigned n, unsigned *out)
{
	unsigned v = 0;

	for (unsigned i = 0; i < n; i++) {
		int d = hexval((*p)[i]);

		if (d < 0)
			return -EINVAL;
		v = v * 16 + (unsigned)d;
	}
	*p += n;
	*out = v;
	return 0;
}

int nvme_bdf_parse(const char *s, char out[NVME_BDF_LEN])
{
	unsigned dom = 0, bus, dev, fn;
	const char *p = s;

	if (!s)
		return -EINVAL;
	/* with a domain the string is dddd:bb:dd.f (12 chars), without bb:dd.f (7) */
	if (strlen(s) == 12) {
		if (hexfield(&p, 4, &dom) || *p++ != ':')
			return -EINVAL;
	} else if (strlen(s) != 7) {
		return -EINVAL;
	}
	if (hexfield(&p, 2, &bus) || *p++ != ':' || hexfield(&p, 2, &dev) || *p++ != '.')
		return -EINVAL;
	if (hexval(*p) < 0 || hexval(*p) > 7 || p[1])
		return -EINVAL;
	fn = (unsigned)hexval(*p);
	if (dev > 0x1f)
		return -EINVAL;
	snprintf(out, NVME_BDF_LEN, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
	return 0;
}

static int cmp_extent(const void *a, const void *b)
{
	const struct dma_extent *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

int nvme_iova_plan(const struct nvme_iova_range *allowed, unsigned n, uint64_t start,
		   uint64_t end, struct dma_extent *map, unsigned *nmap, struct dma_extent *holes,
		   unsigned *nholes)
{
	struct dma_extent *tmp;
	unsigned k = 0, m = 0, h = 0;
	uint64_t pos;
	int r = 0;

	if (end <= start || (start | end) & (NVME_DMA_ALIGN - 1))
		return -EINVAL;
	tmp = calloc(n ? n : 1, sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	/* clip each allowed interval to [start, end), shrink it to whole pages */
	for (unsigned i = 0; i < n; i++) {
		uint64_t s = allowed[i].start, e;

		if (allowed[i].last < s)
			continue;
		e = allowed[i].last == UINT64_MAX ? UINT64_MAX : allowed[i].last + 1;
		s = s > start ? s : start;
		e = e < end ? e : end;
		s = ALIGN_UP(s, NVME_DMA_ALIGN);
		e = ALIGN_DOWN(e, NVME_DMA_ALIGN);
		if (s < e)
			tmp[k++] = (struct dma_extent){ s, e - s };
	}
	qsort(tmp, k, sizeof(*tmp), cmp_extent);
	/* merge overlapping and touching intervals; the gaps are the holes */
	pos = start;
	for (unsigned i = 0; i < k; i++) {
		uint64_t s = tmp[i].start, e = tmp[i].start + tmp[i].len;

		if (m && s <= map[m - 1].start + map[m - 1].len) {
			uint64_t last = map[m - 1].start + map[m - 1].len;

			if (e > last)
				map[m - 1].len = e - map[m - 1].start;
		} else {
			if (m == *nmap) {
				r = -E2BIG;
				goto out;
			}
			if (s > pos) {
				if (h == *nholes) {
					r = -E2BIG;
					goto out;
				}
				holes[h++] = (struct dma_extent){ pos, s - pos };
			}
			map[m++] = (struct dma_extent){ s, e - s };
		}
		pos = map[m - 1].start + map[m - 1].len;
	}
	if (!m) {
		r = -ERANGE;
		goto out;
	}
	if (pos < end) {
		if (h == *nholes) {
			r = -E2BIG;
			goto out;
		}
		holes[h++] = (struct dma_extent){ pos, end - pos };
	}
	*nmap = m;
	*nholes = h;
out:
	free(tmp);
	return r;
}

int nvme_vfio_name_parse(const char *s, char bdf[NVME_BDF_LEN], char power[16], char *why,
			 unsigned cap)
{
	char head[NVME_BDF_LEN + 1];
	const char *comma = s ? strchr(s, ',') : NULL;
	size_t n = comma ? (size_t)(comma - s) : (s ? strlen(s) : 0);

	power[0] = 0;
	if (!s || n > NVME_BDF_LEN - 1) {
		snprintf(why, cap, "'%.60s' is not a PCI address: use the form 0000:01:00.0 or "
			 "01:00.0", s ? s : "(null)");
		return -EINVAL;
	}
	memcpy(head, s, n);
	head[n] = 0;
	if (nvme_bdf_parse(head, bdf)) {
		snprintf(why, cap, "'%.60s' is not a PCI address: use the form 0000:01:00.0 or "
			 "01:00.0", head);
		return -EINVAL;
	}
	while (comma) {
		const char *opt = comma + 1, *next = strchr(opt, ',');
		size_t len = next ? (size_t)(next - opt) : strlen(opt);

		if (len > 6 && !strncmp(opt, "power=", 6)) {
			size_t vl = len - 6;

			if ((vl == 4 && !strncmp(opt + 6, "slot", 4)) ||
			    (vl == 2 && !strncmp(opt + 6, "s3", 2)) ||
			    (vl == 3 && !strncmp(opt + 6, "cmd", 3)) ||
			    (vl == 4 && !strncmp(opt + 6, "auto", 4))) {
				memcpy(power, opt + 6, vl);
				power[vl] = 0;
			} else {
				snprintf(why, cap, "device option %.*s: allowed power=slot, s3, cmd or "
					 "auto", (int)(len > 40 ? 40 : len), opt);
				return -EINVAL;
			}
		} else {
			snprintf(why, cap, "unknown device option \"%.*s\" of %s: a PCI device takes "
				 "power=slot|s3|cmd|auto", (int)(len > 40 ? 40 : len), opt, bdf);
			return -EINVAL;
		}
		comma = next;
	}
	return 0;
}

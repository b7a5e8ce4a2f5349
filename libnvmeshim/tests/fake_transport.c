/* SPDX-License-Identifier: MIT */
/* fake_transport.c - see fake_transport.h */
#include <stdio.h>
#include <string.h>

#include "fake_transport.h"

int fake_bar_read(struct nvme_transport *t, uint32_t off, unsigned size, uint64_t *val)
{
	(void)t;
	(void)off;
	(void)size;
	*val = 0;
	return 0;
}

int fake_bar_write(struct nvme_transport *t, uint32_t off, unsigned size, uint64_t val)
{
	(void)t;
	(void)off;
	(void)size;
	(void)val;
	return 0;
}

int fake_bar_write_batch(struct nvme_transport *t, const struct nvme_reg_write *w, unsigned n)
{
	(void)t;
	(void)w;
	(void)n;
	return 0;
}

const struct nvme_transport_ops fake_ops = {
	.name = "fake",
	.bar_read = fake_bar_read,
	.bar_write = fake_bar_write,
	.bar_write_batch = fake_bar_write_batch,
};

void fake_transport_init(struct nvme_transport *t, const struct nvme_transport_ops *ops)
{
	memset(t, 0, sizeof(*t));
	t->ops = ops ? ops : &fake_ops;
	snprintf(t->name, sizeof(t->name), "fake");
}

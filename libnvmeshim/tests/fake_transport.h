/* SPDX-License-Identifier: MIT */
/*
 * fake_transport.h - the one transport without a device for the C unit tests:
 * BAR registers read as zero, writes vanish. A test that needs a device model
 * (completions on a doorbell, a config space) builds its own ops from these
 * pieces and overrides the ones it models.
 */
#ifndef NVMESHIM_TESTS_FAKE_TRANSPORT_H
#define NVMESHIM_TESTS_FAKE_TRANSPORT_H

#include "transport.h"

/** fake_bar_read() - every register reads as zero. */
int fake_bar_read(struct nvme_transport *t, uint32_t off, unsigned size, uint64_t *val);
/** fake_bar_write() - register writes vanish. */
int fake_bar_write(struct nvme_transport *t, uint32_t off, unsigned size, uint64_t val);
/** fake_bar_write_batch() - batched writes (doorbells) vanish. */
int fake_bar_write_batch(struct nvme_transport *t, const struct nvme_reg_write *w, unsigned n);

/** fake_ops - the three above. */
extern const struct nvme_transport_ops fake_ops;

/** fake_transport_init() - zero @t, give it @ops (NULL: fake_ops) and the name "fake". */
void fake_transport_init(struct nvme_transport *t, const struct nvme_transport_ops *ops);

#endif

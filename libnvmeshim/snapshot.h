/* SPDX-License-Identifier: MIT */
/*
 * snapshot.h - consistent reads of live queue and controller state from another
 * thread (the live console), safe against the objects being freed meanwhile.
 */
#ifndef NVMESHIM_SNAPSHOT_H
#define NVMESHIM_SNAPSHOT_H

#include <pthread.h>

/*
 * Held by the snapshot functions from the handle lookup to the end of their
 * reads, and by every path that closes a controller, SQ or CQ handle around the
 * close: an object whose handle a snapshot found cannot be freed under it.
 * Never taken per IO.
 */
extern pthread_mutex_t nvme_snap_lock;

#endif

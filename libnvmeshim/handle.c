/* SPDX-License-Identifier: MIT */
/*
 * handle.c - generation-checked handle table.
 *
 * A handle is (generation << 16) | (type << 12) | slot. The generation of a slot
 * advances on every close, so a handle kept after close never matches again.
 */
#include <pthread.h>
#include <stddef.h>

#include "handle.h"

struct slot {
	void *obj;
	uint16_t gen;
	uint8_t type;
};

static struct slot slots[NVME_HANDLE_SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned next_free;

static inline uint32_t make(unsigned idx, unsigned type, unsigned gen)
{
	return ((uint32_t)gen << 16) | ((uint32_t)type << 12) | idx;
}

uint32_t nvme_handle_new(enum nvme_handle_type type, void *obj)
{
	uint32_t h = 0;

	pthread_mutex_lock(&lock);
	for (unsigned n = 0; n < NVME_HANDLE_SLOTS; n++) {
		/* slot 0 is never used, so that handle 0 means "none" */
		unsigned idx = (next_free + n) % NVME_HANDLE_SLOTS;

		if (idx == 0 || slots[idx].type != NVME_H_NONE)
			continue;
		if (slots[idx].gen == 0)
			slots[idx].gen = 1;
		slots[idx].obj = obj;
		slots[idx].type = (uint8_t)type;
		h = make(idx, type, slots[idx].gen);
		next_free = idx + 1;
		break;
	}
	pthread_mutex_unlock(&lock);
	return h;
}

static struct slot *find(uint32_t h, enum nvme_handle_type type)
{
	unsigned idx = h & 0xfff;
	unsigned t = (h >> 12) & 0xf;
	unsigned gen = h >> 16;

	if (h == 0 || idx == 0 || t != (unsigned)type)
		return NULL;
	if (slots[idx].type != type || slots[idx].gen != gen)
		return NULL;
	return &slots[idx];
}

void *nvme_handle_get(uint32_t h, enum nvme_handle_type type)
{
	struct slot *s;
	void *obj = NULL;

	pthread_mutex_lock(&lock);
	s = find(h, type);
	if (s)
		obj = s->obj;
	pthread_mutex_unlock(&lock);
	return obj;
}

void *nvme_handle_close(uint32_t h, enum nvme_handle_type type)
{
	struct slot *s;
	void *obj = NULL;

	pthread_mutex_lock(&lock);
	s = find(h, type);
	if (s) {
		obj = s->obj;
		s->obj = NULL;
		s->type = NVME_H_NONE;
		s->gen = (uint16_t)(s->gen + 1);
		if (s->gen == 0)
			s->gen = 1;
	}
	pthread_mutex_unlock(&lock);
	return obj;
}

unsigned nvme_handle_count(enum nvme_handle_type type)
{
	unsigned n = 0;

	pthread_mutex_lock(&lock);
	for (unsigned i = 1; i < NVME_HANDLE_SLOTS; i++)
		if (slots[i].type == type)
			n++;
	pthread_mutex_unlock(&lock);
	return n;
}

const char *nvme_handle_type_name(enum nvme_handle_type type)
{
	switch (type) {
	case NVME_H_PCIE:
		return "pcie device";
	case NVME_H_CTRL:
		return "controller";
	case NVME_H_SQ:
		return "submission queue";
	case NVME_H_CQ:
		return "completion queue";
	case NVME_H_BUF:
		return "buffer";
	default:
		return "object";
	}
}

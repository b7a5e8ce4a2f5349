/* SPDX-License-Identifier: MIT */
/*
 * handle.h - the handle table: every object the TypeScript side holds is named
 * by a 32-bit handle (slot index + generation + type), never by a raw pointer,
 * so a closed or stale handle is detected instead of dereferenced.
 */
#ifndef NVMESHIM_HANDLE_H
#define NVMESHIM_HANDLE_H

#include <stdint.h>

enum nvme_handle_type {
	NVME_H_NONE = 0,
	NVME_H_PCIE = 1,
	NVME_H_CTRL = 2,
	NVME_H_SQ = 3,
	NVME_H_CQ = 4,
	NVME_H_BUF = 5,
};

#define NVME_HANDLE_SLOTS 4096u

/**
 * nvme_handle_new() - register @obj and return a handle for it.
 * @type: the object's type, checked again by every lookup
 * @obj: the object
 *
 * Return: a non-zero handle, or 0 when the table is full.
 */
uint32_t nvme_handle_new(enum nvme_handle_type type, void *obj);

/**
 * nvme_handle_get() - look up a handle.
 * @h: the handle
 * @type: the expected type
 *
 * Return: the object, or NULL if @h is 0, closed, stale or of another type.
 */
void *nvme_handle_get(uint32_t h, enum nvme_handle_type type);

/**
 * nvme_handle_close() - invalidate a handle; later lookups return NULL.
 * @h: the handle
 * @type: the expected type
 *
 * Return: the object it named, or NULL when it was already invalid.
 */
void *nvme_handle_close(uint32_t h, enum nvme_handle_type type);

/** nvme_handle_count() - number of live handles of @type (leak checks). */
unsigned nvme_handle_count(enum nvme_handle_type type);

/** nvme_handle_type_name() - "controller", "buffer", ... for messages. */
const char *nvme_handle_type_name(enum nvme_handle_type type);

#endif

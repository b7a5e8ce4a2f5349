/* SPDX-License-Identifier: MIT */
/*
 * lineconn.h - a line-oriented unix-socket client, used for QEMU's qtest
 * protocol and for QMP. Thread safe: one request/response exchange at a time.
 */
#ifndef NVMESHIM_LINECONN_H
#define NVMESHIM_LINECONN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lineconn {
	int fd;
	bool dead;
	int timeout_ms;		/* per reply */
	const char *skip_prefix; /* asynchronous lines to drop ("IRQ", "{\"event\"") */
	pthread_mutex_t lock;
	char buf[65536];
	size_t len; /* bytes in buf */
	unsigned long events; /* skipped asynchronous lines */
	uint64_t irq_level;   /* qtest "IRQ raise N" / "IRQ lower N": level of lines 0..63 */
	unsigned long irq_raises; /* "IRQ raise" lines seen */
};

/**
 * lineconn_replace() - take over the connection of @fresh (just connected)
 * in @c, under @c's lock, so that threads using @c see either the old (dead)
 * or the new connection. @fresh is left without a descriptor.
 */
void lineconn_replace(struct lineconn *c, struct lineconn *fresh);

/**
 * lineconn_connect() - connect to a unix socket, retrying while @alive says the
 * server process still runs, for up to @wait_ms.
 * Return: 0, or a negative errno with nvme_get_error() set.
 */
int lineconn_connect(struct lineconn *c, const char *path, int wait_ms, int (*alive)(void *),
		     void *arg);

/**
 * lineconn_adopt() - use @fd, an already connected socket (one end of a
 * socketpair whose other end the server inherited), as @c's connection.
 * @c takes ownership of @fd.
 */
void lineconn_adopt(struct lineconn *c, int fd);
void lineconn_close(struct lineconn *c);

/**
 * lineconn_readline() - next line that does not start with skip_prefix.
 * The caller holds c->lock. Return: length, or negative errno (connection lost/timeout).
 */
int lineconn_readline(struct lineconn *c, char *out, size_t cap);

/** lineconn_send() - write all of @data. Caller holds c->lock. */
int lineconn_send(struct lineconn *c, const char *data, size_t len);

/**
 * lineconn_exchange() - send @req (one or more lines) and read @nreplies lines;
 * the last one is copied into @reply.
 */
int lineconn_exchange(struct lineconn *c, const char *req, size_t len, unsigned nreplies,
		      char *reply, size_t cap);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * lineconn.c - line-oriented unix-socket client with timeouts.
 */
#define _GNU_SOURCE

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lineconn.h"
#include "util.h"

int lineconn_connect(struct lineconn *c, const char *path, int wait_ms, int (*alive)(void *),
		     void *arg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = nvme_now_ns() + (uint64_t)wait_ms * 1000000ull;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->timeout_ms = 30000;
	pthread_mutex_init(&c->lock, NULL);
	if (strlen(path) >= sizeof(sa.sun_path))
		return nvme_set_error(-ENAMETOOLONG, "socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return nvme_set_error(-errno, "socket: %s", strerror(errno));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			c->fd = fd;
			return 0;
		}
		int err = errno;

		close(fd);
		if (alive && !alive(arg))
			return nvme_set_error(-ECHILD, "process exited before %s appeared", path);
		if (nvme_now_ns() > deadline)
			return nvme_set_error(-ETIMEDOUT, "cannot connect to %s: %s", path,
					      strerror(err));
		usleep(2000);
	}
}

void lineconn_adopt(struct lineconn *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->timeout_ms = 30000;
	pthread_mutex_init(&c->lock, NULL);
}

void lineconn_close(struct lineconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->dead = true;
}

int lineconn_send(struct lineconn *c, const char *data, size_t len)
{
	if (c->dead || c->fd < 0)
		return -ENOTCONN;
	while (len) {
		ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			c->dead = true;
			return -errno;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fill(struct lineconn *c)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	int r;

	if (c->len == sizeof(c->buf))
		c->len = 0; /* an absurdly long line: drop it rather than stall */
	do {
		r = poll(&pfd, 1, c->timeout_ms);
	} while (r < 0 && errno == EINTR);
	if (r == 0)
		return -ETIMEDOUT;
	if (r < 0)
		return -errno;
	ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);

	if (n <= 0) {
		c->dead = true;
		return n == 0 ? -ECONNRESET : -errno;
	}
	c->len += (size_t)n;
	return 0;
}

/* qtest's asynchronous "IRQ raise N" / "IRQ lower N" (irq_intercept_in): a level per line */
static void note_irq(struct lineconn *c, const char *line, size_t l)
{
	char tmp[40];
	unsigned n;

	if (l >= sizeof(tmp))
		return;
	memcpy(tmp, line, l);
	tmp[l] = 0;
	if (sscanf(tmp, "IRQ raise %u", &n) == 1 && n < 64) {
		__atomic_or_fetch(&c->irq_level, 1ull << n, __ATOMIC_ACQ_REL);
		c->irq_raises++;
	} else if (sscanf(tmp, "IRQ lower %u", &n) == 1 && n < 64) {
		__atomic_and_fetch(&c->irq_level, ~(1ull << n), __ATOMIC_ACQ_REL);
	}
}

void lineconn_replace(struct lineconn *c, struct lineconn *fresh)
{
	pthread_mutex_lock(&c->lock);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = fresh->fd;
	c->timeout_ms = fresh->timeout_ms;
	c->len = 0;
	c->irq_level = 0;
	c->dead = false;
	fresh->fd = -1;
	fresh->dead = true;
	pthread_mutex_unlock(&c->lock);
}

int lineconn_readline(struct lineconn *c, char *out, size_t cap)
{
	for (;;) {
		char *nl;

		if (c->dead || c->fd < 0)
			return -ENOTCONN;
		nl = memchr(c->buf, '\n', c->len);
		if (!nl) {
			int r = fill(c);

			if (r)
				return r;
			continue;
		}
		size_t l = (size_t)(nl - c->buf);
		bool skip = c->skip_prefix && !strncmp(c->buf, c->skip_prefix, strlen(c->skip_prefix));

		if (skip && l > 4 && !memcmp(c->buf, "IRQ ", 4))
			note_irq(c, c->buf, l);

		if (!skip && out && cap) {
			size_t n = l < cap - 1 ? l : cap - 1;

			memcpy(out, c->buf, n);
			out[n] = 0;
		}
		memmove(c->buf, nl + 1, c->len - l - 1);
		c->len -= l + 1;
		if (skip) {
			c->events++;
			continue;
		}
		return (int)l;
	}
}

int lineconn_exchange(struct lineconn *c, const char *req, size_t len, unsigned nreplies,
		      char *reply, size_t cap)
{
	char tmp[256];
	int r;

	pthread_mutex_lock(&c->lock);
	r = lineconn_send(c, req, len);
	for (unsigned i = 0; r >= 0 && i < nreplies; i++) {
		bool last = i + 1 == nreplies;

		r = lineconn_readline(c, last ? reply : tmp, last ? cap : sizeof(tmp));
		if (r >= 0 && !last && strncmp(tmp, "OK", 2)) {
			/* a batched command failed: keep reading, report it at the end */
			if (reply && cap)
				snprintf(reply, cap, "%s", tmp);
			for (unsigned j = i + 1; j < nreplies && r >= 0; j++)
				r = lineconn_readline(c, tmp, sizeof(tmp));
			r = r < 0 ? r : -EIO;
			break;
		}
	}
	if (r == -ETIMEDOUT)
		c->dead = true; /* the stream is out of step now: give up on it */
	pthread_mutex_unlock(&c->lock);
	return r;
}

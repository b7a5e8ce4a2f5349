/* SPDX-License-Identifier: MIT */
/*
 * proc.c - the launcher thread and child bookkeeping.
 */
#define _GNU_SOURCE

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "util.h"

#define MAX_CHILDREN 64

struct request {
	char *const *argv;
	const int *keep;
	int nkeep, out_fd;
	pid_t result;
	int err;
	int done;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct request *pending;
static int started;
static pid_t children[MAX_CHILDREN];

static void remember(pid_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (!children[i]) {
			children[i] = pid;
			return;
		}
}

static void forget(pid_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i] == pid)
			children[i] = 0;
}

static void kill_all_at_exit(void)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		pid_t pid = children[i];

		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			children[i] = 0;
		}
	}
}

/* runs in the child between fork and exec: async-signal-safe calls only */
static void child(struct request *r, pid_t parent)
{
	int devnull;
	sigset_t none;

	/* the launcher blocks every signal and exec keeps the mask: undo it */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	setpgid(0, 0); /* Ctrl-C in the terminal goes to the driver, not to QEMU */
	devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0)
		dup2(devnull, 0);
	dup2(r->out_fd >= 0 ? r->out_fd : devnull, 1);
	dup2(r->out_fd >= 0 ? r->out_fd : devnull, 2);
	for (int i = 0; i < r->nkeep; i++) {
		int fl = fcntl(r->keep[i], F_GETFD);

		if (fl >= 0)
			fcntl(r->keep[i], F_SETFD, fl & ~FD_CLOEXEC);
	}
	execv(r->argv[0], r->argv);
	_exit(127);
}

static void *launcher(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;) {
		while (!pending)
			pthread_cond_wait(&cond, &lock);

		struct request *r = pending;
		pid_t parent = getpid();
		pid_t pid = fork();

		if (pid == 0)
			child(r, parent);
		r->result = pid;
		r->err = pid < 0 ? errno : 0;
		if (pid > 0)
			remember(pid);
		r->done = 1;
		pending = NULL;
		pthread_cond_broadcast(&cond);
	}
	return NULL;
}

pid_t nvme_proc_spawn(char *const argv[], const int *keep_fds, int nkeep, int out_fd)
{
	struct request r = { argv, keep_fds, nkeep, out_fd, -1, 0, 0 };

	pthread_mutex_lock(&lock);
	if (!started) {
		pthread_t t;
		pthread_attr_t attr;
		sigset_t all, old;

		/* the launcher never handles signals: they belong to the runtime */
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		int err = pthread_create(&t, &attr, launcher, NULL);

		pthread_attr_destroy(&attr);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (err) {
			pthread_mutex_unlock(&lock);
			return nvme_set_error(-err, "cannot start the launcher thread: %s", strerror(err));
		}
		atexit(kill_all_at_exit);
		started = 1;
	}
	while (pending)
		pthread_cond_wait(&cond, &lock);
	pending = &r;
	pthread_cond_broadcast(&cond);
	while (!r.done)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	if (r.result < 0)
		return nvme_set_error(-r.err, "fork failed: %s", strerror(r.err));
	return r.result;
}

int nvme_proc_alive(pid_t pid)
{
	int status;
	pid_t r = waitpid(pid, &status, WNOHANG);

	if (r == 0)
		return 1;
	pthread_mutex_lock(&lock);
	forget(pid);
	pthread_mutex_unlock(&lock);
	return 0;
}

int nvme_proc_stop(pid_t pid, int grace_ms)
{
	if (pid <= 0)
		return -EINVAL;
	if (grace_ms > 0 && kill(pid, SIGTERM) == 0) {
		for (int waited = 0; waited < grace_ms; waited += 5) {
			if (!nvme_proc_alive(pid))
				return 0;
			usleep(5000);
		}
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	pthread_mutex_lock(&lock);
	forget(pid);
	pthread_mutex_unlock(&lock);
	return 0;
}

int nvme_proc_count(void)
{
	int n = 0;

	pthread_mutex_lock(&lock);
	for (int i = 0; i < MAX_CHILDREN; i++)
		n += children[i] > 0;
	pthread_mutex_unlock(&lock);
	return n;
}

/* SPDX-License-Identifier: MIT */
/*
 * proc.h - starting helper processes (QEMU) that can never outlive the driver.
 *
 * Children are forked by one long-lived launcher thread with
 * PR_SET_PDEATHSIG(SIGKILL): the kernel sends that signal when the forking
 * *thread* exits, so forking from a short-lived thread (a Deno Worker, tokio's
 * blocking pool) would kill QEMU early. The launcher thread lives as long as the
 * process, so QEMU dies exactly when the driver does, even on SIGKILL. An atexit
 * handler also kills and reaps every child on a normal exit.
 */
#ifndef NVMESHIM_PROC_H
#define NVMESHIM_PROC_H

#include <sys/types.h>

/**
 * nvme_proc_spawn() - fork and exec @argv from the launcher thread.
 * @argv: NULL-terminated argument vector, argv[0] an absolute path
 * @keep_fds: descriptors the child keeps at the same numbers (CLOEXEC cleared)
 * @nkeep: number of entries in @keep_fds
 * @out_fd: descriptor for the child's stdout and stderr, or -1 for /dev/null
 *
 * Return: the child's pid, or a negative errno with nvme_get_error() set.
 */
pid_t nvme_proc_spawn(char *const argv[], const int *keep_fds, int nkeep, int out_fd);

/**
 * nvme_proc_stop() - stop a child: SIGTERM, wait up to @grace_ms, then SIGKILL.
 * Return: 0 once the child has been reaped.
 */
int nvme_proc_stop(pid_t pid, int grace_ms);

/** nvme_proc_alive() - 1 while the child runs, 0 once it exited (it is then reaped). */
int nvme_proc_alive(pid_t pid);

/** nvme_proc_count() - children started and not yet reaped. */
int nvme_proc_count(void);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * util.h - small helpers shared by every part of libnvmeshim: error reporting,
 * monotonic time, memory barriers and volatile access.
 */
#ifndef NVMESHIM_UTIL_H
#define NVMESHIM_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <time.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((uint64_t)(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))

/**
 * nvme_set_error() - record a message for the calling thread and return @err.
 * @err: negative errno value returned to the caller
 * @fmt: printf-style message naming what went wrong
 *
 * Every exported function that fails stores a human readable reason here so the
 * TypeScript side can turn the errno into an error that names the problem.
 *
 * Return: @err, so callers can write ``return nvme_set_error(-EINVAL, ...)``.
 */
int nvme_set_error(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * nvme_check_out() - check the struct an exported function fills: present and
 * at least @need bytes (@size is what the caller says it gave).
 * Return: 0, or -EFAULT / -EINVAL with a message naming @what.
 */
static inline int nvme_check_out(const void *out, uint32_t size, uint32_t need, const char *what)
{
	if (!out)
		return nvme_set_error(-EFAULT, "%s: no output given", what);
	if (size < need)
		return nvme_set_error(-EINVAL, "%s: %u bytes of output given, %u needed", what, size,
				      need);
	return 0;
}

#define NVME_CHECK_OUT(out, size, what) nvme_check_out(out, size, (uint32_t)sizeof(*(out)), what)

/**
 * nvme_get_error() - the last message recorded by nvme_set_error() on this thread.
 *
 * Return: a NUL-terminated string owned by the library (thread-local).
 */
const char *nvme_get_error(void);

/** nvme_now_ns() - CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t nvme_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define nvme_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define nvme_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#define nvme_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define READ_ONCE(x) (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

static inline void nvme_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

#endif

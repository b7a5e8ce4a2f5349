/* SPDX-License-Identifier: MIT */
/*
 * error.c - per-thread error messages behind the errno-style return values.
 */
#include <stdarg.h>
#include <stdio.h>

#include "util.h"

static __thread char errmsg[512];

int nvme_set_error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	return err;
}

const char *nvme_get_error(void)
{
	return errmsg;
}

/* SPDX-License-Identifier: MIT */
/*
 * vfio_power.c - power switching of a real PCIe function through sysfs (slot
 * power, S3 with an RTC wake-up) or an external command, and binding the
 * function to vfio-pci again when it is back. See vfio_power.h.
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"
#include "vfio_power.h"

#define SYSFS_PCI "/sys/bus/pci"
#define CMD_TIMEOUT_MS 120000u

extern char **environ;

static bool autoprobe_off; /* we wrote 0 to drivers_autoprobe */

const char *nvme_power_name(enum nvme_power_method m)
{
	switch (m) {
	case NVME_POWER_SLOT:
		return "slot";
	case NVME_POWER_S3:
		return "s3";
	case NVME_POWER_CMD:
		return "cmd";
	default:
		return "none";
	}
}

int nvme_power_parse(const char *s, enum nvme_power_method *out)
{
	if (!s || !*s || !strcmp(s, "auto"))
		*out = NVME_POWER_NONE;
	else if (!strcmp(s, "slot"))
		*out = NVME_POWER_SLOT;
	else if (!strcmp(s, "s3"))
		*out = NVME_POWER_S3;
	else if (!strcmp(s, "cmd"))
		*out = NVME_POWER_CMD;
	else
		return -EINVAL;
	return 0;
}

static int read_file(const char *path, char *out, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	out[0] = 0;
	if (fd < 0)
		return -errno;
	n = read(fd, out, cap - 1);
	close(fd);
	if (n < 0)
		return -errno;
	out[n] = 0;
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = 0;
	return 0;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;
	int r = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		r = -errno;
	close(fd);
	return r;
}

/* copy @src into @out[@cap], cut if longer */
static void copy(char *out, size_t cap, const char *src)
{
	size_t l = strlen(src);

	if (l >= cap)
		l = cap - 1;
	memcpy(out, src, l);
	out[l] = 0;
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* the slot directory of @bdf's device: /sys/bus/pci/slots/<name>/address is "dddd:bb:dd" */
static int find_slot(const char *bdf, char *name, size_t cap)
{
	char path[PATH_MAX], addr[64];
	DIR *d = opendir(SYSFS_PCI "/slots");
	struct dirent *e;
	int found = 0;

	if (!d)
		return 0;
	while (!found && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), SYSFS_PCI "/slots/%s/address", e->d_name);
		if (read_file(path, addr, sizeof(addr)) || strncmp(addr, bdf, 10) || addr[10])
			continue;
		copy(name, cap, e->d_name);
		found = 1;
	}
	closedir(d);
	return found;
}

/* Slot Capabilities of the port above @bdf: 1 power controller, 0 none, <0 unknown */
static int port_has_power_controller(const char *bdf, char *port, size_t cap)
{
	char path[PATH_MAX], real[PATH_MAX], *slash;
	uint8_t cfg[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), SYSFS_PCI "/devices/%s", bdf);
	if (!realpath(path, real) || !(slash = strrchr(real, '/')))
		return -ENOENT;
	*slash = 0;
	copy(port, cap, strrchr(real, '/') ? strrchr(real, '/') + 1 : real);
	snprintf(path, sizeof(path), "%.4000s/config", real);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, cfg, sizeof(cfg), 0);
	close(fd);
	if (n < (ssize_t)sizeof(cfg))
		return -EACCES; /* only root reads past the first 64 bytes */
	for (unsigned p = cfg[0x34] & 0xfc, guard = 0; p >= 0x40 && p < 0xff && guard < 48;
	     p = cfg[p + 1] & 0xfc, guard++)
		if (cfg[p] == 0x10) /* PCI Express: Slot Capabilities at +0x14, PCP is bit 1 */
			return p + 0x18 <= sizeof(cfg) ? (cfg[p + 0x14] >> 1) & 1 : -EIO;
	return 0;
}

int nvme_power_check(enum nvme_power_method m, const char *bdf, char *why, size_t cap)
{
	char path[PATH_MAX], text[256], slot[64], port[32] = "?";
	const char *cmd;
	int r;

	switch (m) {
	case NVME_POWER_SLOT:
		if (!find_slot(bdf, slot, sizeof(slot))) {
			snprintf(why, cap, "no hotplug slot holds %s (/sys/bus/pci/slots has none with "
				 "address %.10s)", bdf, bdf);
			return 0;
		}
		snprintf(path, sizeof(path), SYSFS_PCI "/slots/%s/power", slot);
		if (!exists(path)) {
			snprintf(why, cap, "slot %s of %s has no power file (no hotplug driver such as "
				 "pciehp runs it)", slot, bdf);
			return 0;
		}
		r = port_has_power_controller(bdf, port, sizeof(port));
		if (r == 0) {
			snprintf(why, cap, "slot %s of %s has no power controller (Slot Capabilities "
				 "of port %s: PCP=0)", slot, bdf, port);
			return 0;
		}
		if (r < 0 && r != -ENOENT) {
			snprintf(why, cap, "cannot read the Slot Capabilities of port %s above %s: %s "
				 "(run as root)", port, bdf, strerror(-r));
			return 0;
		}
		if (access(path, W_OK)) {
			snprintf(why, cap, "%s is not writable (run as root)", path);
			return 0;
		}
		snprintf(why, cap, "slot %s", slot);
		return 1;
	case NVME_POWER_S3:
		if (read_file("/sys/power/state", text, sizeof(text)) || !strstr(text, "mem")) {
			snprintf(why, cap, "the kernel offers no suspend to RAM (/sys/power/state: "
				 "'%s')", text);
			return 0;
		}
		if (!read_file("/sys/power/mem_sleep", text, sizeof(text)) && !strstr(text, "deep")) {
			snprintf(why, cap, "the platform has no S3 (/sys/power/mem_sleep: '%s', no "
				 "deep)", text);
			return 0;
		}
		if (!exists("/sys/class/rtc/rtc0/wakealarm")) {
			snprintf(why, cap, "no RTC wake alarm (/sys/class/rtc/rtc0/wakealarm)");
			return 0;
		}
		if (access("/sys/power/state", W_OK) ||
		    access("/sys/class/rtc/rtc0/wakealarm", W_OK)) {
			snprintf(why, cap, "/sys/power/state is not writable (run as root)");
			return 0;
		}
		snprintf(why, cap, "S3 with RTC wake-up");
		return 1;
	case NVME_POWER_CMD:
		cmd = getenv("DENVME_POWER_CMD");
		if (!cmd || !*cmd) {
			snprintf(why, cap, "DENVME_POWER_CMD is not set (a command called with off/on)");
			return 0;
		}
		snprintf(why, cap, "DENVME_POWER_CMD=%.200s", cmd);
		return 1;
	default:
		snprintf(why, cap, "no power method");
		return 0;
	}
}

int nvme_power_choose(enum nvme_power_method want, const char *bdf, enum nvme_power_method *out,
		      char *why, size_t cap)
{
	static const enum nvme_power_method order[] = { NVME_POWER_CMD, NVME_POWER_SLOT,
							NVME_POWER_S3 };
	char one[256];
	size_t len = 0;

	*out = NVME_POWER_NONE;
	if (want != NVME_POWER_NONE) {
		if (nvme_power_check(want, bdf, one, sizeof(one))) {
			*out = want;
			return 0;
		}
		snprintf(why, cap, "power=%s: %s", nvme_power_name(want), one);
		return -ENOTSUP;
	}
	why[0] = 0;
	for (unsigned i = 0; i < ARRAY_SIZE(order); i++) {
		if (nvme_power_check(order[i], bdf, one, sizeof(one))) {
			*out = order[i];
			return 0;
		}
		if (len < cap)
			len += (size_t)snprintf(why + len, cap - len, "%s%s: %s", len ? "; " : "",
						nvme_power_name(order[i]), one);
	}
	return 0;
}

static int autoprobe(bool on)
{
	char v[8];
	int r;

	if (on) {
		if (!autoprobe_off)
			return 0;
		autoprobe_off = false;
		return write_file(SYSFS_PCI "/drivers_autoprobe", "1");
	}
	if (read_file(SYSFS_PCI "/drivers_autoprobe", v, sizeof(v)) || strcmp(v, "1"))
		return 0; /* off already (by someone else): leave it as it is */
	if ((r = write_file(SYSFS_PCI "/drivers_autoprobe", "0")))
		return r;
	autoprobe_off = true;
	return 0;
}

void nvme_power_autoprobe_restore(void)
{
	autoprobe(true);
}

static int run_cmd(const char *cmd, const char *arg)
{
	char line[1024];
	char *argv[] = { "/bin/sh", "-c", line, NULL };
	uint64_t end = nvme_now_ns() + CMD_TIMEOUT_MS * 1000000ull;
	pid_t pid;
	int st, r;

	snprintf(line, sizeof(line), "%s %s", cmd, arg);
	r = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ);
	if (r)
		return nvme_set_error(-r, "cannot run DENVME_POWER_CMD (%s): %s", line, strerror(r));
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid)
			break;
		if (w < 0)
			return nvme_set_error(-errno, "waiting for '%s': %s", line, strerror(errno));
		if (nvme_now_ns() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return nvme_set_error(-ETIMEDOUT, "'%s' did not finish within %u s", line,
					      CMD_TIMEOUT_MS / 1000);
		}
		usleep(2000);
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return nvme_set_error(-EIO, "'%s' failed (%s %d)", line,
				      WIFEXITED(st) ? "exit" : "signal",
				      WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return 0;
}

int nvme_power_switch(enum nvme_power_method m, const char *bdf, bool on)
{
	char slot[64], path[PATH_MAX], v[8];
	const char *cmd;
	int r;

	if (!on && (r = autoprobe(false)))
		return nvme_set_error(r, "cannot switch kernel driver probing off (%s/drivers_"
				      "autoprobe): %s", SYSFS_PCI, strerror(-r));
	if (m == NVME_POWER_CMD) {
		cmd = getenv("DENVME_POWER_CMD");
		if (!cmd || !*cmd)
			return nvme_set_error(-ENOTSUP, "power=cmd: DENVME_POWER_CMD is not set");
		return run_cmd(cmd, on ? "on" : "off");
	}
	if (m != NVME_POWER_SLOT)
		return nvme_set_error(-EINVAL, "power=%s cannot switch off and on separately",
				      nvme_power_name(m));
	if (!find_slot(bdf, slot, sizeof(slot)))
		return nvme_set_error(-ENOENT, "power=slot: no hotplug slot holds %s", bdf);
	snprintf(path, sizeof(path), SYSFS_PCI "/slots/%s/power", slot);
	r = write_file(path, on ? "1" : "0");
	/*
	 * pciehp answers ENODEV to "1" when the slot is on (or powering on)
	 * already, or holds no card yet: the function is waited for afterwards.
	 */
	if (on && r == -ENODEV)
		return 0;
	if (r && !(read_file(path, v, sizeof(v)) == 0 && !strcmp(v, on ? "1" : "0")))
		return nvme_set_error(r, "power=slot: writing %d to %s failed: %s", on, path,
				      strerror(-r));
	return 0;
}

int nvme_power_s3_cycle(unsigned seconds)
{
	char text[256], n[32];
	int r;

	if (!nvme_power_check(NVME_POWER_S3, "", text, sizeof(text)))
		return nvme_set_error(-ENOTSUP, "power=s3: %s", text);
	/*
	 * The RTC counts whole seconds and part of its current second is gone:
	 * "+N" can fire up to a second early, so one more for at least N.
	 */
	if (seconds < UINT_MAX)
		seconds++;
	if (!read_file("/sys/power/mem_sleep", text, sizeof(text)) && !strstr(text, "[deep]") &&
	    (r = write_file("/sys/power/mem_sleep", "deep")))
		return nvme_set_error(r, "power=s3: cannot select deep in /sys/power/mem_sleep: %s",
				      strerror(-r));
	write_file("/sys/class/rtc/rtc0/wakealarm", "0");
	snprintf(n, sizeof(n), "+%u", seconds);
	if ((r = write_file("/sys/class/rtc/rtc0/wakealarm", n)))
		return nvme_set_error(r, "power=s3: cannot arm the RTC wake alarm: %s", strerror(-r));
	r = write_file("/sys/power/state", "mem");
	write_file("/sys/class/rtc/rtc0/wakealarm", "0");
	if (r)
		return nvme_set_error(r, "power=s3: suspend to RAM failed: %s (dmesg tells which "
				      "device refused)", strerror(-r));
	return 0;
}

int nvme_power_wait_gone(const char *bdf, unsigned ms)
{
	char path[PATH_MAX];
	uint64_t end = nvme_now_ns() + (uint64_t)ms * 1000000ull;

	snprintf(path, sizeof(path), SYSFS_PCI "/devices/%s", bdf);
	while (exists(path)) {
		if (nvme_now_ns() > end)
			return -ETIMEDOUT;
		usleep(5000);
	}
	return 0;
}

/* the driver @bdf is bound to, "" for none */
static void driver_of(const char *bdf, char *out, size_t cap)
{
	char path[PATH_MAX], drv[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), SYSFS_PCI "/devices/%s/driver", bdf);
	n = readlink(path, drv, sizeof(drv) - 1);
	out[0] = 0;
	if (n <= 0)
		return;
	drv[n] = 0;
	copy(out, cap, strrchr(drv, '/') ? strrchr(drv, '/') + 1 : drv);
}

int nvme_power_rebind(const char *bdf, unsigned ms)
{
	char path[PATH_MAX], drv[64];
	uint64_t end = nvme_now_ns() + (uint64_t)ms * 1000000ull;
	int r = 0;
	bool overridden = false;

	snprintf(path, sizeof(path), SYSFS_PCI "/devices/%s", bdf);
	while (!exists(path)) {
		if (nvme_now_ns() > end) {
			autoprobe(true);
			return nvme_set_error(-ETIMEDOUT, "%s did not come back on the bus within %u "
					      "s of power on", bdf, ms / 1000);
		}
		usleep(5000);
	}
	/*
	 * The function shows in sysfs before the PCI core lets drivers match it:
	 * binding fails with ENODEV until then, so try until it holds.
	 */
	for (;;) {
		driver_of(bdf, drv, sizeof(drv));
		if (!strcmp(drv, "vfio-pci"))
			break;
		if (!overridden) {
			snprintf(path, sizeof(path), SYSFS_PCI "/devices/%s/driver_override", bdf);
			overridden = !(r = write_file(path, "vfio-pci"));
		}
		if (drv[0]) {
			/* a host driver took it while probing was on: take it back */
			snprintf(path, sizeof(path), SYSFS_PCI "/devices/%s/driver/unbind", bdf);
			write_file(path, bdf);
		} else if (overridden) {
			r = write_file(SYSFS_PCI "/drivers/vfio-pci/bind", bdf);
		}
		if (nvme_now_ns() > end) {
			autoprobe(true);
			return nvme_set_error(r ? r : -ETIMEDOUT, "%s is back but could not be bound "
					      "to vfio-pci within %u s%s%s (driver: %s)", bdf, ms / 1000,
					      r ? ": " : "", r ? strerror(-r) : "",
					      drv[0] ? drv : "none");
		}
		usleep(10000);
	}
	autoprobe(true);
	return 0;
}

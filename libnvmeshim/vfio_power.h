/* SPDX-License-Identifier: MIT */
/*
 * vfio_power.h - switching the power of a real PCIe function from the host:
 * the slot's power controller (Linux pciehp, /sys/bus/pci/slots/<n>/power),
 * a whole-system S3 suspend woken by the RTC alarm, or an external command
 * (DENVME_POWER_CMD, called with "off" / "on") for lab power switches. Plus
 * what a function needs after its power came back: finding it again on the
 * bus and binding it to vfio-pci.
 *
 * These helpers only touch sysfs and run commands; the VFIO transport
 * releases and reopens its device around them.
 */
#ifndef NVMESHIM_VFIO_POWER_H
#define NVMESHIM_VFIO_POWER_H

#include <stdbool.h>
#include <stddef.h>

enum nvme_power_method { NVME_POWER_NONE, NVME_POWER_SLOT, NVME_POWER_S3, NVME_POWER_CMD };

/** nvme_power_name() - "slot", "s3", "cmd" or "none". */
const char *nvme_power_name(enum nvme_power_method m);

/**
 * nvme_power_parse() - a method by name.
 * @s: "slot", "s3", "cmd", or "auto"/"" (NVME_POWER_NONE: choose)
 * @out: the method
 *
 * Return: 0, or -EINVAL for another name.
 */
int nvme_power_parse(const char *s, enum nvme_power_method *out);

/**
 * nvme_power_check() - whether @m can switch the power of @bdf on this host.
 * @m: the method
 * @bdf: canonical PCI address of the function
 * @why: receives the reason when it cannot (or the slot name when it can)
 * @cap: size of @why
 *
 * Return: 1 when it can, 0 when it cannot (@why says why).
 */
int nvme_power_check(enum nvme_power_method m, const char *bdf, char *why, size_t cap);

/**
 * nvme_power_choose() - the method to use for @bdf.
 * @want: NVME_POWER_NONE to take the first the host supports (cmd when
 *        DENVME_POWER_CMD is set, then slot, then s3)
 * @bdf: canonical PCI address
 * @out: the method chosen, NVME_POWER_NONE when none works
 * @why: when none works (or @want does not): why, for every method tried
 * @cap: size of @why
 *
 * Return: 0, or -ENOTSUP when @want is given and does not work (@why says why).
 */
int nvme_power_choose(enum nvme_power_method want, const char *bdf, enum nvme_power_method *out,
		      char *why, size_t cap);

/**
 * nvme_power_switch() - switch the power of @bdf's slot off or on (slot, cmd).
 * @m: NVME_POWER_SLOT or NVME_POWER_CMD
 * @bdf: canonical PCI address
 * @on: true to switch on
 *
 * Off: the function must be released by its user first (the kernel removes it
 * from the bus). Kernel driver probing is switched off until the function is
 * back (nvme_power_rebind()), so that no host driver takes it meanwhile.
 *
 * Return: 0, or a negative errno with nvme_get_error() set.
 */
int nvme_power_switch(enum nvme_power_method m, const char *bdf, bool on);

/**
 * nvme_power_s3_cycle() - suspend the whole host to RAM (S3) and let the RTC
 * wake it @seconds later; returns after the resume.
 *
 * Return: 0, or a negative errno with nvme_get_error() set.
 */
int nvme_power_s3_cycle(unsigned seconds);

/**
 * nvme_power_wait_gone() - wait up to @ms for @bdf to leave the bus.
 * Return: 0 once gone, -ETIMEDOUT when it is still there.
 */
int nvme_power_wait_gone(const char *bdf, unsigned ms);

/**
 * nvme_power_rebind() - wait up to @ms for @bdf to be on the bus again, bind it
 * to vfio-pci (driver_override) and switch kernel driver probing back on.
 *
 * Return: 0, or a negative errno with nvme_get_error() set.
 */
int nvme_power_rebind(const char *bdf, unsigned ms);

/** nvme_power_autoprobe_restore() - switch kernel driver probing back on if we switched it off. */
void nvme_power_autoprobe_restore(void);

#endif

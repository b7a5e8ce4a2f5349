/* SPDX-License-Identifier: MIT */
/*
 * transport_vfio.c - real PCIe NVMe functions through VFIO with the IOMMU on.
 *
 * IOMMU: one context per process, either a legacy VFIO container (type1) with
 * every opened group attached, or an iommufd IOAS that every device cdev is
 * attached to. The whole DMA arena is mapped into it once, at IOVA == arena
 * offset, so a buffer's bus address is the same on every device and on the
 * embedded device (nvme_dma_iova()). IOVA holes the IOMMU reports inside the
 * arena are reserved in the arena allocator and never handed out.
 *
 * Device: config space through the VFIO config region, BAR0 mmap'ed for
 * registers and doorbells (pread/pwrite for parts that cannot be mapped),
 * MSI-X vectors on eventfds; a small epoll thread turns each eventfd event
 * into a non-zero word t->irq_words[v] in DMA memory, so the interrupt checks
 * work as on the embedded device. VFIO cannot mask single MSI-X vectors, so
 * masking is emulated: an interrupt on a masked vector stays pending and is
 * delivered on unmask, as the PCI spec's Pending Bit Array would do.
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dma.h"
#include "pci.h"
#include "transport.h"
#include "util.h"
#include "vfio_power.h"
#include "vfio_util.h"

/*
 * iommufd uAPI (Linux 6.2; device cdevs since 6.6), declared here because
 * build hosts may carry older kernel headers. Layouts and numbers are ABI.
 */
#define IOMMUFD_TYPE_ ';'
struct iommufd_ioas_alloc_ {
	uint32_t size, flags, out_ioas_id;
};
struct iommufd_ioas_iova_ranges_ {
	uint32_t size, ioas_id, num_iovas, reserved;
	uint64_t allowed_iovas, out_iova_alignment;
};
struct iommufd_ioas_map_ {
	uint32_t size, flags, ioas_id, reserved;
	uint64_t user_va, length, iova;
};
struct vfio_bind_iommufd_ {
	uint32_t argsz, flags;
	int32_t iommufd;
	uint32_t out_devid;
};
struct vfio_attach_pt_ {
	uint32_t argsz, flags, pt_id;
};
#define IOMMU_IOAS_ALLOC_ _IO(IOMMUFD_TYPE_, 0x81)
#define IOMMU_IOAS_IOVA_RANGES_ _IO(IOMMUFD_TYPE_, 0x84)
#define IOMMU_IOAS_MAP_ _IO(IOMMUFD_TYPE_, 0x85)
#define IOMMU_IOAS_MAP_FIXED_IOVA_ 1u
#define IOMMU_IOAS_MAP_WRITEABLE_ 2u
#define IOMMU_IOAS_MAP_READABLE_ 4u
#define VFIO_DEVICE_BIND_IOMMUFD_ _IO(VFIO_TYPE, VFIO_BASE + 18)
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT_ _IO(VFIO_TYPE, VFIO_BASE + 19)

#define MAX_GROUPS 64
#define MAX_RANGES 64
#define MAX_AREAS 8
#define MAX_VEC 2048
#define SYSFS_PCI "/sys/bus/pci/devices"

enum iommu_kind { IOMMU_NONE, IOMMU_TYPE1, IOMMU_FD };

/* the process-wide IOMMU context */
static struct {
	pthread_mutex_t lock;
	enum iommu_kind kind;
	int fd; /* container (type1) or /dev/iommu */
	uint32_t ioas;
	bool iommu_set; /* type1: VFIO_SET_IOMMU done on the container */
	bool mapped;
	bool holes_reserved; /* the IOVA holes are reserved in the arena allocator */
	int devices;
	struct {
		int no, fd, refs;
	} groups[MAX_GROUPS];
	char open_bdf[MAX_GROUPS][NVME_BDF_LEN]; /* devices open in this process */
} io = { .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };

struct bar_area {
	uint64_t off, len;
	uint8_t *p;
};

struct vfio_dev {
	struct nvme_transport t;
	char bdf[NVME_BDF_LEN];
	int fd;
	int group; /* index in io.groups (type1), -1 for iommufd */
	uint64_t cfg_off, cfg_size, bar_off;
	struct bar_area area[MAX_AREAS];
	unsigned nareas, nmapped;
	unsigned msix_count;
	/* interrupts: nefd vectors on eventfds (t->nvec drops to 0 while MSI-X is off) */
	int *efd;
	unsigned nefd;
	uint8_t *masked, *pending;
	int epfd, stopfd;
	pthread_t thread;
	bool thread_running;
	/* INTx on an eventfd while MSI-X is off */
	int intx_fd;
	bool intx_masked; /* the kernel masked it after an interrupt: unmask once the line is low */
	/* power and removal */
	enum nvme_power_method power;
	char power_why[512]; /* why no method works, or the one chosen */
	pthread_mutex_t plock;   /* releasing / reopening the device */
	bool released;		 /* the VFIO device is closed (powered off or removed) */
	unsigned routed;	 /* MSI-X vectors routed when it was released */
	int req_fd, err_fd;	 /* the kernel asks for the device back / reports a PCIe error */
	int wep, wstop;		 /* the watcher thread's epoll and stop eventfd */
	pthread_t watcher;
	bool watcher_started;
};

#define to_vfio(tp) ((struct vfio_dev *)(tp))

/* why a device is gone (t->why_gone) */
#define GONE_ONES "gone (it reads all ones: surprise removal or link down)"
#define GONE_CFG "gone (removed: config space no longer readable)"
#define GONE_REQ "gone (hot-unplugged: the kernel asked for it back)"
#define GONE_ERR "gone (a PCIe error was reported and it reads all ones)"

/* epoll tags besides vector numbers */
#define EV_STOP UINT32_MAX
#define EV_INTX (UINT32_MAX - 1)

/* --- small helpers -------------------------------------------------------- */

static int read_text(const char *path, char *out, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

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

/* copy @src into @out[@cap], cut if it is longer */
static void copy_str(char *out, size_t cap, const char *src)
{
	size_t l = strlen(src);

	if (l >= cap)
		l = cap - 1;
	memcpy(out, src, l);
	out[l] = 0;
}

/* basename of the symlink @path points to, "" when it does not exist */
static void link_name(const char *path, char *out, size_t cap)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);

	out[0] = 0;
	if (n <= 0)
		return;
	buf[n] = 0;
	copy_str(out, cap, strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf);
}

static void dev_driver(const char *bdf, char *out, size_t cap)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), SYSFS_PCI "/%s/driver", bdf);
	link_name(path, out, cap);
}

/* --- the IOMMU context ---------------------------------------------------- */

/* usable IOVA ranges of a type1 container (VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) */
static int type1_ranges(struct nvme_iova_range *r, unsigned *n)
{
	struct vfio_iommu_type1_info probe = { .argsz = sizeof(probe) };
	struct vfio_iommu_type1_info *info;
	int found = 0;

	if (ioctl(io.fd, VFIO_IOMMU_GET_INFO, &probe))
		return nvme_set_error(-errno, "VFIO_IOMMU_GET_INFO: %s", strerror(errno));
	if (!(probe.iova_pgsizes & 4096))
		return nvme_set_error(-ENOTSUP, "the IOMMU cannot map 4 KiB pages (page sizes "
				      "0x%llx)", (unsigned long long)probe.iova_pgsizes);
	info = calloc(1, probe.argsz > sizeof(probe) ? probe.argsz : sizeof(probe));
	if (!info)
		return nvme_set_error(-ENOMEM, "out of memory");
	info->argsz = probe.argsz > sizeof(probe) ? probe.argsz : sizeof(probe);
	if (ioctl(io.fd, VFIO_IOMMU_GET_INFO, info)) {
		free(info);
		return nvme_set_error(-errno, "VFIO_IOMMU_GET_INFO: %s", strerror(errno));
	}
	if ((info->flags & VFIO_IOMMU_INFO_CAPS) && info->cap_offset) {
		uint32_t off = info->cap_offset;

		for (int guard = 0; off && off + sizeof(struct vfio_info_cap_header) <= info->argsz &&
				    guard < 32; guard++) {
			struct vfio_info_cap_header *h = (void *)((uint8_t *)info + off);

			if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
				struct vfio_iommu_type1_info_cap_iova_range *c = (void *)h;
				unsigned k = c->nr_iovas < *n ? c->nr_iovas : *n;

				for (unsigned i = 0; i < k; i++)
					r[i] = (struct nvme_iova_range){ c->iova_ranges[i].start,
									 c->iova_ranges[i].end };
				*n = k;
				found = 1;
				break;
			}
			off = h->next;
		}
	}
	free(info);
	if (!found) {
		/* kernels before 5.4 do not report ranges: avoid the x86 MSI window */
		r[0] = (struct nvme_iova_range){ 0, 0xfedfffffull };
		r[1] = (struct nvme_iova_range){ 0xfef00000ull, (1ull << 39) - 1 };
		*n = 2;
	}
	return 0;
}

static int iommufd_ranges(struct nvme_iova_range *r, unsigned *n)
{
	struct iommufd_ioas_iova_ranges_ q = {
		.size = sizeof(q),
		.ioas_id = io.ioas,
		.num_iovas = *n,
		.allowed_iovas = (uint64_t)(uintptr_t)r,
	};

	if (ioctl(io.fd, IOMMU_IOAS_IOVA_RANGES_, &q))
		return nvme_set_error(-errno, "IOMMU_IOAS_IOVA_RANGES: %s", strerror(errno));
	*n = q.num_iovas;
	return 0;
}

static int map_one(uint64_t iova, uint64_t len, uint8_t *vaddr)
{
	int r;

	if (io.kind == IOMMU_TYPE1) {
		struct vfio_iommu_type1_dma_map m = {
			.argsz = sizeof(m),
			.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
			.vaddr = (uint64_t)(uintptr_t)vaddr,
			.iova = iova,
			.size = len,
		};
		r = ioctl(io.fd, VFIO_IOMMU_MAP_DMA, &m);
	} else {
		struct iommufd_ioas_map_ m = {
			.size = sizeof(m),
			.flags = IOMMU_IOAS_MAP_FIXED_IOVA_ | IOMMU_IOAS_MAP_WRITEABLE_ |
				 IOMMU_IOAS_MAP_READABLE_,
			.ioas_id = io.ioas,
			.user_va = (uint64_t)(uintptr_t)vaddr,
			.length = len,
			.iova = iova,
		};
		r = ioctl(io.fd, IOMMU_IOAS_MAP_, &m);
	}
	if (!r)
		return 0;
	r = -errno;
	if (r == -ENOMEM && getuid() != 0)
		return nvme_set_error(r, "cannot pin %llu MiB of DMA memory for the IOMMU: the "
				      "locked-memory limit is too low (raise `ulimit -l`, or lower "
				      "DENVME_DMA_MB)", (unsigned long long)(len >> 20));
	return nvme_set_error(r, "cannot map %llu MiB of DMA memory at IOVA 0x%llx into the "
			      "IOMMU: %s", (unsigned long long)(len >> 20),
			      (unsigned long long)iova, strerror(-r));
}

/* map the arena once, at IOVA == offset, keeping the allocator out of holes */
static int map_arena(void)
{
	struct nvme_arena *a = nvme_arena_get();
	struct nvme_iova_range ranges[MAX_RANGES];
	struct dma_extent map[MAX_RANGES], holes[MAX_RANGES + 1];
	unsigned n = MAX_RANGES, nmap = MAX_RANGES, nholes = MAX_RANGES + 1;
	int r;

	if (io.mapped)
		return 0;
	if (!a)
		return -ENOMEM;
	r = io.kind == IOMMU_TYPE1 ? type1_ranges(ranges, &n) : iommufd_ranges(ranges, &n);
	if (r)
		return r;
	r = nvme_iova_plan(ranges, n, NVME_DMA_FIRST, a->size, map, &nmap, holes, &nholes);
	if (r == -ERANGE)
		return nvme_set_error(r, "the IOMMU allows no IOVA inside the DMA arena [0x%llx, "
				      "0x%llx)", (unsigned long long)NVME_DMA_FIRST,
				      (unsigned long long)a->size);
	if (r)
		return nvme_set_error(r, "cannot plan the IOMMU mapping: %s", strerror(-r));
	/* the arena keeps its reservations when the context goes (close, power off) */
	for (unsigned i = 0; !io.holes_reserved && i < nholes; i++) {
		uint64_t busy;

		if ((r = nvme_dma_reserve(holes[i].start, holes[i].len, &busy)))
			return nvme_set_error(r, "out of memory");
		if (busy)
			return nvme_set_error(-EBUSY, "DMA memory at 0x%llx..0x%llx is in use but the "
					      "IOMMU cannot map it: open the device before "
					      "allocating buffers, or lower DENVME_DMA_MB",
					      (unsigned long long)holes[i].start,
					      (unsigned long long)(holes[i].start + holes[i].len));
	}
	a->pinned = true; /* from now on freed pages stay (even if a mapping below fails) */
	io.holes_reserved = true;
	for (unsigned i = 0; i < nmap; i++)
		if ((r = map_one(map[i].start, map[i].len, a->base + map[i].start)))
			return r;
	io.mapped = true;
	return 0;
}

/* drop the context when the last device closed (caller holds io.lock) */
static void iommu_put(void)
{
	if (--io.devices > 0)
		return;
	for (unsigned i = 0; i < MAX_GROUPS; i++)
		if (io.groups[i].fd > 0) {
			close(io.groups[i].fd);
			io.groups[i].fd = 0;
			io.groups[i].refs = 0;
		}
	if (io.fd >= 0)
		close(io.fd); /* unmaps everything */
	io.fd = -1;
	io.kind = IOMMU_NONE;
	io.iommu_set = false;
	io.mapped = false;
	io.devices = 0;
}

static int group_viable_error(const char *bdf, int no)
{
	char path[PATH_MAX], list[512] = "";
	size_t len = 0;
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%d/devices", no);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		char drv[64];

		if (e->d_name[0] == '.' || !strcmp(e->d_name, bdf))
			continue;
		dev_driver(e->d_name, drv, sizeof(drv));
		if (drv[0] && strcmp(drv, "vfio-pci") && strcmp(drv, "pci-stub") && len < 400)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s (%s)",
						len ? ", " : "", e->d_name, drv);
	}
	if (d)
		closedir(d);
	return nvme_set_error(-EBUSY, "IOMMU group %d of %s is not viable: %s share%s it and %s "
			      "bound to host drivers; bind every device of the group to vfio-pci "
			      "(or unbind them)", no, bdf, list[0] ? list : "other devices",
			      strchr(list, ',') ? "" : "s", strchr(list, ',') ? "are" : "is");
}

/* type1: the group's fd, attached to the container, and the device fd */
static int open_type1(struct vfio_dev *d, int group_no)
{
	char path[64];
	int slot = -1, r, fd;

	for (unsigned i = 0; i < MAX_GROUPS; i++)
		if (io.groups[i].fd > 0 && io.groups[i].no == group_no)
			slot = (int)i;
	if (slot < 0) {
		struct vfio_group_status st = { .argsz = sizeof(st) };

		for (unsigned i = 0; i < MAX_GROUPS && slot < 0; i++)
			if (io.groups[i].fd <= 0)
				slot = (int)i;
		if (slot < 0)
			return nvme_set_error(-EMFILE, "too many IOMMU groups open");
		if (io.fd < 0) {
			io.fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
			if (io.fd < 0)
				return nvme_set_error(-errno, "cannot open /dev/vfio/vfio: %s (is the "
						      "vfio module loaded? `deno task setup %s` "
						      "loads it)", strerror(errno), d->bdf);
			if (ioctl(io.fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION ||
			    !ioctl(io.fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU)) {
				close(io.fd);
				io.fd = -1;
				return nvme_set_error(-ENOTSUP, "this kernel's VFIO has no type1v2 "
						      "IOMMU support");
			}
			io.kind = IOMMU_TYPE1;
		}
		snprintf(path, sizeof(path), "/dev/vfio/%d", group_no);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			if (r == -EACCES || r == -EPERM)
				return nvme_set_error(r, "permission denied opening %s (IOMMU group of "
						      "%s): run as root, or let `deno task setup %s` "
						      "(as root, e.g. with sudo) give your user access",
						      path, d->bdf, d->bdf);
			if (r == -EBUSY)
				return nvme_set_error(r, "%s is busy: another process (a VM, another "
						      "script) holds IOMMU group %d of %s", path,
						      group_no, d->bdf);
			return nvme_set_error(r, "cannot open %s: %s", path, strerror(-r));
		}
		if (ioctl(fd, VFIO_GROUP_GET_STATUS, &st) || !(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
			close(fd);
			return group_viable_error(d->bdf, group_no);
		}
		if (ioctl(fd, VFIO_GROUP_SET_CONTAINER, &io.fd)) {
			r = -errno;
			close(fd);
			return nvme_set_error(r, "cannot add IOMMU group %d to the VFIO container: %s",
					      group_no, strerror(-r));
		}
		io.groups[slot].no = group_no;
		io.groups[slot].fd = fd;
		io.groups[slot].refs = 0;
		/* the IOMMU model is chosen once a first group is in the container */
		if (!io.iommu_set && ioctl(io.fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU)) {
			r = -errno;
			ioctl(fd, VFIO_GROUP_UNSET_CONTAINER);
			close(fd);
			io.groups[slot].fd = 0;
			return nvme_set_error(r, "VFIO_SET_IOMMU (type1v2): %s", strerror(-r));
		}
		io.iommu_set = true;
	}
	io.groups[slot].refs++;
	d->group = slot;
	if ((r = map_arena()))
		return r;
	d->fd = ioctl(io.groups[slot].fd, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
	if (d->fd < 0)
		return nvme_set_error(-errno, "cannot get %s from its VFIO group: %s", d->bdf,
				      strerror(errno));
	return 0;
}

/* iommufd: the device cdev, bound to the process's iommufd and attached to its IOAS */
static int open_iommufd(struct vfio_dev *d, const char *cdev)
{
	char path[PATH_MAX];
	struct vfio_bind_iommufd_ bind = { .argsz = sizeof(bind) };
	struct vfio_attach_pt_ at = { .argsz = sizeof(at) };
	int r;

	if (io.fd < 0) {
		struct iommufd_ioas_alloc_ a = { .size = sizeof(a) };

		io.fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
		if (io.fd < 0)
			return nvme_set_error(-errno, "cannot open /dev/iommu: %s", strerror(errno));
		if (ioctl(io.fd, IOMMU_IOAS_ALLOC_, &a)) {
			r = -errno;
			close(io.fd);
			io.fd = -1;
			return nvme_set_error(r, "IOMMU_IOAS_ALLOC: %s", strerror(-r));
		}
		io.ioas = a.out_ioas_id;
		io.kind = IOMMU_FD;
	}
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", cdev);
	d->fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->fd < 0) {
		r = -errno;
		if (r == -EACCES || r == -EPERM)
			return nvme_set_error(r, "permission denied opening %s (%s): run as root, or "
					      "let `deno task setup %s` (as root) give your user "
					      "access", path, d->bdf, d->bdf);
		return nvme_set_error(r, "cannot open %s: %s", path, strerror(-r));
	}
	bind.iommufd = io.fd;
	if (ioctl(d->fd, VFIO_DEVICE_BIND_IOMMUFD_, &bind))
		return nvme_set_error(-errno, "VFIO_DEVICE_BIND_IOMMUFD for %s: %s%s", d->bdf,
				      strerror(errno), errno == EBUSY ? " (another process uses "
				      "the device)" : "");
	at.pt_id = io.ioas;
	if (ioctl(d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT_, &at))
		return nvme_set_error(-errno, "VFIO_DEVICE_ATTACH_IOMMUFD_PT for %s: %s", d->bdf,
				      strerror(errno));
	return map_arena();
}

/* --- config space and BAR0 ------------------------------------------------ */

static int vfio_cfg_read(struct nvme_transport *t, uint32_t off, unsigned size, uint32_t *val)
{
	struct vfio_dev *d = to_vfio(t);
	uint32_t v = 0;

	if ((size != 1 && size != 2 && size != 4) || (off & (size - 1)) ||
	    off + size > d->cfg_size)
		return nvme_set_error(-EINVAL, "config read of %u bytes at 0x%x: allowed offsets "
				      "0..0x%llx, size 1/2/4, naturally aligned", size, off,
				      (unsigned long long)d->cfg_size - 1);
	if (t->dead)
		return nvme_set_error(-ENODEV, "%s is %s", t->name, nvme_transport_gone(t));
	if (pread(d->fd, &v, size, (off_t)(d->cfg_off + off)) != (ssize_t)size) {
		if (errno == ENODEV)
			t->dead = true;
		return nvme_set_error(t->dead ? -ENODEV : -EIO, "%s: config read at 0x%x "
				      "failed: %s", t->name, off, strerror(errno));
	}
	*val = v;
	return 0;
}

static int intx_mode(struct vfio_dev *d, bool on);

static int vfio_cfg_write(struct nvme_transport *t, uint32_t off, unsigned size, uint32_t val)
{
	struct vfio_dev *d = to_vfio(t);

	if ((size != 1 && size != 2 && size != 4) || (off & (size - 1)) ||
	    off + size > d->cfg_size)
		return nvme_set_error(-EINVAL, "config write of %u bytes at 0x%x: allowed offsets "
				      "0..0x%llx, size 1/2/4, naturally aligned", size, off,
				      (unsigned long long)d->cfg_size - 1);
	if (t->dead)
		return nvme_set_error(-ENODEV, "%s is %s", t->name, nvme_transport_gone(t));
	if (pwrite(d->fd, &val, size, (off_t)(d->cfg_off + off)) != (ssize_t)size) {
		if (errno == ENODEV)
			t->dead = true;
		return nvme_set_error(t->dead ? -ENODEV : -EIO, "%s: config write at 0x%x "
				      "failed: %s", t->name, off, strerror(errno));
	}
	/* MSI-X Enable (bit 15 of the flags word) written: switch MSI-X / INTx for real */
	if (t->msix_cap && off <= t->msix_cap + PCI_MSIX_FLAGS + 1 &&
	    off + size > t->msix_cap + PCI_MSIX_FLAGS + 1) {
		/* the bit as written: VFIO's read-back follows its own interrupt state */
		bool enable = (val >> (8 * (t->msix_cap + PCI_MSIX_FLAGS + 1 - off))) & 0x80;
		int r = intx_mode(d, !enable);

		/* the driver's view: vectors on while MSI-X is enabled */
		t->nvec = enable ? d->nefd : 0;
		return r;
	}
	return 0;
}

static volatile uint32_t *bar_ptr(struct vfio_dev *d, uint32_t off)
{
	for (unsigned i = 0; i < d->nareas; i++)
		if (off >= d->area[i].off && off + 4 <= d->area[i].off + d->area[i].len)
			return (volatile uint32_t *)(d->area[i].p + (off - d->area[i].off));
	return NULL;
}

static int check_bar(struct vfio_dev *d, uint32_t off, unsigned size)
{
	if (d->t.dead)
		return nvme_set_error(-ENODEV, "%s is %s", d->t.name, nvme_transport_gone(&d->t));
	if ((size != 4 && size != 8) || (off & (size - 1)) || off + size > d->t.bar0_size)
		return nvme_set_error(-EINVAL, "BAR0 access of %u bytes at 0x%x: allowed 4 or 8 "
				      "bytes, aligned, below 0x%llx", size, off,
				      (unsigned long long)d->t.bar0_size);
	return 0;
}

/* a register reading all ones: find out whether the device is still there */
static int check_gone(struct vfio_dev *d)
{
	uint32_t id = 0;

	if (d->t.dead)
		return nvme_set_error(-ENODEV, "%s is %s", d->t.name, nvme_transport_gone(&d->t));
	if (pread(d->fd, &id, 4, (off_t)d->cfg_off) != 4 || id == 0xffffffffu) {
		if (!d->t.why_gone)
			__atomic_store_n(&d->t.why_gone, id == 0xffffffffu ? GONE_ONES : GONE_CFG,
					 __ATOMIC_RELEASE);
		d->t.dead = true;
		return nvme_set_error(-ENODEV, "%s is %s", d->t.name, nvme_transport_gone(&d->t));
	}
	return 0;
}

static int read32(struct vfio_dev *d, uint32_t off, uint32_t *val)
{
	volatile uint32_t *p = bar_ptr(d, off);

	if (p) {
		*val = *p;
	} else if (pread(d->fd, val, 4, (off_t)(d->bar_off + off)) != 4) {
		return errno == ENODEV ? check_gone(d) : nvme_set_error(-EIO, "%s: BAR0 read at "
									"0x%x failed: %s", d->t.name, off, strerror(errno));
	}
	if (*val == 0xffffffffu)
		return check_gone(d);
	return 0;
}

static int write32(struct vfio_dev *d, uint32_t off, uint32_t val)
{
	volatile uint32_t *p = bar_ptr(d, off);

	if (p) {
		*p = val;
		return 0;
	}
	if (pwrite(d->fd, &val, 4, (off_t)(d->bar_off + off)) != 4)
		return errno == ENODEV ? check_gone(d) : nvme_set_error(-EIO, "%s: BAR0 write at "
									"0x%x failed: %s", d->t.name, off, strerror(errno));
	return 0;
}

static int vfio_bar_read(struct nvme_transport *t, uint32_t off, unsigned size, uint64_t *val)
{
	struct vfio_dev *d = to_vfio(t);
	uint32_t lo, hi = 0;
	int r;

	if ((r = check_bar(d, off, size)))
		return r;
	/* 64-bit registers as two 32-bit reads, low first, as Linux's nvme driver does */
	if ((r = read32(d, off, &lo)) || (size == 8 && (r = read32(d, off + 4, &hi))))
		return r;
	*val = (uint64_t)hi << 32 | lo;
	return 0;
}

static int vfio_bar_write(struct nvme_transport *t, uint32_t off, unsigned size, uint64_t val)
{
	struct vfio_dev *d = to_vfio(t);
	int r;

	if ((r = check_bar(d, off, size)))
		return r;
	nvme_mb(); /* queue entries written before are visible to the device */
	if ((r = write32(d, off, (uint32_t)val)))
		return r;
	return size == 8 ? write32(d, off + 4, (uint32_t)(val >> 32)) : 0;
}

static int vfio_bar_write_batch(struct nvme_transport *t, const struct nvme_reg_write *w,
				unsigned n)
{
	struct vfio_dev *d = to_vfio(t);
	int r;

	nvme_mb();
	for (unsigned i = 0; i < n; i++)
		if ((r = check_bar(d, w[i].off, 4)) || (r = write32(d, w[i].off, w[i].val)))
			return r;
	return 0;
}

/* --- interrupts ------------------------------------------------------------ */

static void deliver(struct vfio_dev *d, unsigned v)
{
	__atomic_store_n(&d->pending[v], 1, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&d->masked[v], __ATOMIC_SEQ_CST) &&
	    __atomic_exchange_n(&d->pending[v], 0, __ATOMIC_SEQ_CST))
		__atomic_store_n(&d->t.irq_words[v], v + 1, __ATOMIC_RELEASE);
}

/*
 * INTx fired: the kernel masked the line and signalled the eventfd. It stays
 * masked until the line is seen low (vfio_intx), so a line held up by an
 * unconsumed completion does not storm; vector 0's word tells the script.
 */
static void intx_event(struct vfio_dev *d)
{
	uint64_t count;
	int fd = d->intx_fd;

	if (fd < 0 || read(fd, &count, sizeof(count)) != sizeof(count))
		return;
	__atomic_store_n(&d->intx_masked, true, __ATOMIC_SEQ_CST);
	if (d->nefd)
		deliver(d, 0);
}

static void *irq_thread(void *arg)
{
	struct vfio_dev *d = arg;
	struct epoll_event ev[64];

	for (;;) {
		int n = epoll_wait(d->epfd, ev, 64, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return NULL;
		for (int i = 0; i < n; i++) {
			uint32_t v = ev[i].data.u32;
			uint64_t count;

			if (v == EV_STOP)
				return NULL;
			if (v == EV_INTX) {
				intx_event(d);
				continue;
			}
			if (v < d->nefd && read(d->efd[v], &count, sizeof(count)) == sizeof(count))
				deliver(d, v);
		}
	}
}

/*
 * Interrupts the kernel has already signalled, delivered now in the caller's
 * thread: a script that checks msixIsSet() right after reaping a completion
 * must not depend on when the interrupt thread gets scheduled.
 */
static void vfio_irq_sync(struct nvme_transport *t)
{
	struct vfio_dev *d = to_vfio(t);
	struct epoll_event ev[64];
	int n;

	if (!d->thread_running)
		return;
	n = epoll_wait(d->epfd, ev, 64, 0);
	for (int i = 0; i < n; i++) {
		uint32_t v = ev[i].data.u32;
		uint64_t count;

		/* the thread may take the same event: the eventfd read decides */
		if (v == EV_INTX)
			intx_event(d);
		else if (v < d->nefd && read(d->efd[v], &count, sizeof(count)) == sizeof(count))
			deliver(d, v);
	}
}

static int set_irqs(struct vfio_dev *d, unsigned nvec, const int *fds)
{
	size_t sz = sizeof(struct vfio_irq_set) + sizeof(int32_t) * nvec;
	struct vfio_irq_set *s = calloc(1, sz);
	int r = 0;

	if (!s)
		return -ENOMEM;
	s->argsz = (uint32_t)sz;
	s->index = VFIO_PCI_MSIX_IRQ_INDEX;
	s->start = 0;
	s->count = nvec;
	s->flags = VFIO_IRQ_SET_ACTION_TRIGGER |
		   (nvec ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE);
	if (nvec)
		memcpy(s->data, fds, sizeof(int32_t) * nvec);
	if (ioctl(d->fd, VFIO_DEVICE_SET_IRQS, s))
		r = -errno;
	free(s);
	return r;
}

static void irq_teardown(struct vfio_dev *d)
{
	if (d->thread_running) {
		uint64_t one = 1;

		if (write(d->stopfd, &one, sizeof(one)) == sizeof(one))
			pthread_join(d->thread, NULL);
		d->thread_running = false;
	}
	if (d->nefd)
		set_irqs(d, 0, NULL); /* disables MSI-X */
	for (unsigned i = 0; d->efd && i < d->nefd; i++)
		if (d->efd[i] >= 0)
			close(d->efd[i]);
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->stopfd >= 0)
		close(d->stopfd);
	d->epfd = d->stopfd = -1;
	free(d->efd);
	free(d->masked);
	free(d->pending);
	d->efd = NULL;
	d->masked = d->pending = NULL;
	d->nefd = 0;
	d->t.nvec = 0;
}

static int vfio_irq_setup(struct nvme_transport *t, unsigned nvec)
{
	struct vfio_dev *d = to_vfio(t);
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t all, old;
	int r;

	if (nvec && d->thread_running && (nvec == d->nefd || nvec == t->msix_size)) {
		/* routed already: vectors survive an FLR (the kernel restores MSI-X) */
		t->nvec = d->nefd;
		return 0;
	}
	irq_teardown(d);
	if (!nvec)
		return 0;
	if (!d->msix_count)
		return nvme_set_error(-ENOTSUP, "%s has no MSI-X interrupts", t->name);
	if (nvec > d->msix_count)
		nvec = d->msix_count;
	if (!t->irq_words) {
		t->irq_words = nvme_dma_alloc(4096, &t->irq_iova);
		if (!t->irq_words)
			return -ENOMEM;
	}
	if (nvec > 1024)
		nvec = 1024; /* one 4 KiB page of words */
	memset(t->irq_words, 0, 4096);
	d->efd = malloc(sizeof(int) * nvec);
	d->masked = calloc(nvec, 1);
	d->pending = calloc(nvec, 1);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!d->efd || !d->masked || !d->pending || d->epfd < 0 || d->stopfd < 0) {
		r = nvme_set_error(-ENOMEM, "cannot set up interrupts: %s", strerror(errno));
		goto fail;
	}
	for (unsigned i = 0; i < nvec; i++)
		d->efd[i] = -1;
	d->nefd = nvec;
	for (unsigned i = 0; i < nvec; i++) {
		d->efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ev.data.u32 = i;
		if (d->efd[i] < 0 || epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->efd[i], &ev)) {
			r = nvme_set_error(-errno, "eventfd for vector %u: %s", i, strerror(errno));
			goto fail;
		}
	}
	ev.data.u32 = EV_STOP;
	if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->stopfd, &ev)) {
		r = nvme_set_error(-errno, "epoll: %s", strerror(errno));
		goto fail;
	}
	/* the host may not grant every vector (IRQ space is per CPU): take fewer */
	for (unsigned n = nvec;; n = n > 2 ? n / 2 : 1) {
		r = set_irqs(d, n, d->efd);
		if (!r) {
			for (unsigned i = n; i < nvec; i++)
				epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->efd[i], NULL);
			for (unsigned i = n; i < nvec; i++)
				close(d->efd[i]);
			if (n < nvec)
				t->msix_size = n; /* queues spread over the vectors that work */
			d->nefd = nvec = n;
			break;
		}
		if (n == 1 || (r != -ENOSPC && r != -EINVAL && r != -ENOMEM)) {
			r = nvme_set_error(r, "cannot enable %u MSI-X vectors of %s (VFIO_DEVICE_SET_"
					   "IRQS): %s", n, t->name, strerror(-r));
			goto fail;
		}
	}
	/* the thread takes no signals: they belong to the script's runtime */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&d->thread, NULL, irq_thread, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		set_irqs(d, 0, NULL);
		r = nvme_set_error(-r, "cannot start the interrupt thread: %s", strerror(r));
		goto fail;
	}
	d->thread_running = true;
	t->nvec = nvec;
	return 0;
fail:
	irq_teardown(d);
	return r;
}

static int vfio_irq_mask(struct nvme_transport *t, unsigned vec, bool mask)
{
	struct vfio_dev *d = to_vfio(t);

	if (vec >= d->nefd)
		return nvme_set_error(-EINVAL, "interrupt vector %u: allowed 0..%u", vec,
				      d->nefd ? d->nefd - 1 : 0);
	__atomic_store_n(&d->masked[vec], mask ? 1 : 0, __ATOMIC_SEQ_CST);
	if (!mask && __atomic_exchange_n(&d->pending[vec], 0, __ATOMIC_SEQ_CST))
		__atomic_store_n(&t->irq_words[vec], vec + 1, __ATOMIC_RELEASE);
	return 0;
}

/* --- INTx ------------------------------------------------------------------- */

static int intx_set(struct vfio_dev *d, unsigned action, int fd)
{
	struct {
		struct vfio_irq_set s;
		int32_t fd;
	} set = { .s = { .argsz = sizeof(set), .index = VFIO_PCI_INTX_IRQ_INDEX, .start = 0,
			 .count = action == VFIO_IRQ_SET_ACTION_TRIGGER && fd < 0 ? 0 : 1,
			 .flags = action | (fd >= 0 ? VFIO_IRQ_SET_DATA_EVENTFD :
						      VFIO_IRQ_SET_DATA_NONE) },
		  .fd = fd };

	if (fd < 0)
		set.s.argsz = sizeof(set.s);
	return ioctl(d->fd, VFIO_DEVICE_SET_IRQS, &set) ? -errno : 0;
}

static int cmd_intx_disable(struct vfio_dev *d, bool disable)
{
	uint16_t cmd;

	if (pread(d->fd, &cmd, 2, (off_t)(d->cfg_off + PCI_COMMAND)) != 2)
		return -EIO;
	cmd = disable ? cmd | PCI_COMMAND_INTX_DISABLE : cmd & ~PCI_COMMAND_INTX_DISABLE;
	return pwrite(d->fd, &cmd, 2, (off_t)(d->cfg_off + PCI_COMMAND)) == 2 ? 0 : -EIO;
}

/*
 * MSI-X Enable written by the script: VFIO keeps that bit virtual, so switch
 * for real. Off: MSI-X off (its eventfds kept), INTx on an eventfd delivered
 * as vector 0, Interrupt Disable cleared. On: the reverse, vectors as before.
 */
static int intx_mode(struct vfio_dev *d, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = EV_INTX };
	int r;

	if (on == (d->intx_fd >= 0))
		return 0;
	if (!on) {
		cmd_intx_disable(d, true);
		intx_set(d, VFIO_IRQ_SET_ACTION_TRIGGER, -1);
		if (d->epfd >= 0)
			epoll_ctl(d->epfd, EPOLL_CTL_DEL, d->intx_fd, NULL);
		close(d->intx_fd);
		d->intx_fd = -1;
		if (d->nefd && (r = set_irqs(d, d->nefd, d->efd)))
			return nvme_set_error(r, "%s: MSI-X on again: %s", d->t.name, strerror(-r));
		return 0;
	}
	if (d->nefd && (r = set_irqs(d, 0, NULL)))
		return nvme_set_error(r, "%s: MSI-X off: %s", d->t.name, strerror(-r));
	d->intx_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->intx_fd < 0)
		return nvme_set_error(-errno, "eventfd: %s", strerror(errno));
	if ((r = intx_set(d, VFIO_IRQ_SET_ACTION_TRIGGER, d->intx_fd))) {
		close(d->intx_fd);
		d->intx_fd = -1;
		return nvme_set_error(r, "%s: INTx on an eventfd (VFIO_DEVICE_SET_IRQS): %s",
				      d->t.name, strerror(-r));
	}
	__atomic_store_n(&d->intx_masked, false, __ATOMIC_SEQ_CST);
	if (d->epfd >= 0)
		epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->intx_fd, &ev);
	return cmd_intx_disable(d, false);
}

/* the line's level: Interrupt Status (Status bit 3), which the function drives */
static int vfio_intx(struct nvme_transport *t, uint32_t *level)
{
	struct vfio_dev *d = to_vfio(t);
	uint32_t st;
	int r;

	if ((r = vfio_cfg_read(t, PCI_STATUS, 2, &st)))
		return r;
	*level = (st >> 3) & 1;
	/* low again: let the next assertion through */
	if (!*level && d->intx_fd >= 0 &&
	    __atomic_exchange_n(&d->intx_masked, false, __ATOMIC_SEQ_CST))
		intx_set(d, VFIO_IRQ_SET_ACTION_UNMASK, -1);
	return 0;
}

/* --- device ----------------------------------------------------------------- */

static int vfio_pci_enable(struct nvme_transport *t)
{
	struct vfio_dev *d = to_vfio(t);
	uint32_t cmd, flags;
	int r;

	/* BARs are the host's (the kernel assigned them): memory decode and bus mastering */
	if ((r = vfio_cfg_read(t, PCI_COMMAND, 2, &cmd)))
		return r;
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE;
	if ((r = vfio_cfg_write(t, PCI_COMMAND, 2, cmd)))
		return r;
	t->msix_cap = nvme_pci_find_cap(t, PCI_CAP_ID_MSIX);
	t->msix_size = d->msix_count;
	if (t->msix_cap && !t->msix_size && !vfio_cfg_read(t, t->msix_cap + PCI_MSIX_FLAGS, 2,
							   &flags))
		t->msix_size = (flags & 0x7ff) + 1;
	/* after an FLR the kernel has restored MSI-X: the eventfds fire again */
	if (d->nefd) {
		t->nvec = d->nefd;
		if (d->nefd < t->msix_size)
			t->msix_size = d->nefd;
	}
	return 0;
}

/* --- power, removal ------------------------------------------------------------ */

static int map_bar0(struct vfio_dev *d, bool again);
static int open_type1(struct vfio_dev *d, int group_no);
static int open_iommufd(struct vfio_dev *d, const char *cdev);
static int device_info(struct vfio_dev *d);
static void watch_start(struct vfio_dev *d);

/* the IOMMU group number and VFIO cdev name of @bdf (either may be missing) */
static int dev_iommu(const char *bdf, char *cdev, size_t cap)
{
	char path[PATH_MAX], text[64];
	DIR *dir;
	struct dirent *e;

	cdev[0] = 0;
	snprintf(path, sizeof(path), SYSFS_PCI "/%s/vfio-dev", bdf);
	dir = opendir(path);
	while (dir && (e = readdir(dir)))
		if (!strncmp(e->d_name, "vfio", 4))
			copy_str(cdev, cap, e->d_name);
	if (dir)
		closedir(dir);
	snprintf(path, sizeof(path), SYSFS_PCI "/%s/iommu_group", bdf);
	link_name(path, text, sizeof(text));
	return text[0] ? atoi(text) : -1;
}

/*
 * Let go of the VFIO device (powered off, or the kernel wants it back): no
 * interrupts, BAR0 replaced by private memory reading all ones (a thread that
 * raced past the dead check writes there, harmlessly), the device file and
 * its group closed. d->fd keeps its number (now /dev/null) until the device
 * is opened again. Caller holds d->plock.
 */
static void release_device(struct vfio_dev *d)
{
	int null;

	if (d->released)
		return;
	d->t.dead = true;
	nvme_mb();
	d->routed = d->nefd; /* routed again when it is back */
	irq_teardown(d);
	if (d->intx_fd >= 0) {
		close(d->intx_fd);
		d->intx_fd = -1;
	}
	for (unsigned i = 0; i < d->nareas; i++) {
		void *p = mmap(d->area[i].p, d->area[i].len, PROT_READ | PROT_WRITE,
			       MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p != MAP_FAILED)
			memset(p, 0xff, d->area[i].len);
	}
	if (d->req_fd >= 0)
		close(d->req_fd);
	if (d->err_fd >= 0)
		close(d->err_fd);
	d->req_fd = d->err_fd = -1;
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0 && d->fd >= 0) {
		dup2(null, d->fd); /* closes the device file, keeps the number */
		fcntl(d->fd, F_SETFD, FD_CLOEXEC);
	}
	if (null >= 0)
		close(null);
	pthread_mutex_lock(&io.lock);
	if (d->group >= 0 && --io.groups[d->group].refs == 0) {
		ioctl(io.groups[d->group].fd, VFIO_GROUP_UNSET_CONTAINER);
		close(io.groups[d->group].fd);
		io.groups[d->group].fd = 0;
		bool any = false;

		for (unsigned i = 0; i < MAX_GROUPS; i++)
			any |= io.groups[i].fd > 0;
		if (!any) {
			/* the container's IOMMU went with its last group: map again on open */
			io.iommu_set = false;
			io.mapped = false;
		}
	}
	d->group = -1;
	pthread_mutex_unlock(&io.lock);
	d->released = true;
}

/* open the device again after a power cycle: same fd number, same BAR addresses */
static int reopen_device(struct vfio_dev *d)
{
	char cdev[64];
	int group_no = dev_iommu(d->bdf, cdev, sizeof(cdev)), oldfd = d->fd, r;
	unsigned nvec = d->routed;

	if (!d->released)
		return 0;
	if (group_no < 0 && !cdev[0])
		return nvme_set_error(-ENXIO, "%s is back without an IOMMU group", d->bdf);
	/* the group's (or cdev's) device node follows the binding by a moment */
	{
		char node[PATH_MAX];
		struct stat st;
		uint64_t end = nvme_now_ns() + 10000000000ull;

		if (io.kind == IOMMU_FD)
			snprintf(node, sizeof(node), "/dev/vfio/devices/%s", cdev);
		else
			snprintf(node, sizeof(node), "/dev/vfio/%d", group_no);
		while (stat(node, &st) && nvme_now_ns() < end)
			usleep(5000);
	}
	pthread_mutex_lock(&io.lock);
	d->fd = -1;
	r = io.kind == IOMMU_FD ? open_iommufd(d, cdev) : open_type1(d, group_no);
	pthread_mutex_unlock(&io.lock);
	if (!r && d->fd >= 0 && dup2(d->fd, oldfd) < 0)
		r = nvme_set_error(-errno, "dup2: %s", strerror(errno));
	if (d->fd >= 0 && d->fd != oldfd)
		close(d->fd);
	d->fd = oldfd;
	fcntl(d->fd, F_SETFD, FD_CLOEXEC);
	if (r)
		return r;
	d->released = false;
	/* reachable again (queues of before are stale: the caller bumped the epoch) */
	d->t.dead = false;
	if ((r = device_info(d)) || (r = map_bar0(d, true)) || (r = vfio_pci_enable(&d->t)) ||
	    (nvec && (r = vfio_irq_setup(&d->t, nvec)))) {
		d->t.dead = true;
		return r;
	}
	watch_start(d);
	return 0;
}

/* The watcher: the kernel asks for the device back (hot unplug), or reports a PCIe error. */
static void *watch_thread(void *arg)
{
	struct vfio_dev *d = arg;
	struct epoll_event ev[4];

	for (;;) {
		int n = epoll_wait(d->wep, ev, 4, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return NULL;
		for (int i = 0; i < n; i++) {
			uint64_t count;

			if (ev[i].data.u32 == EV_STOP)
				return NULL;
			pthread_mutex_lock(&d->plock);
			if (d->released) {
				pthread_mutex_unlock(&d->plock);
				return NULL;
			}
			if (ev[i].data.u32 == 1) {
				/* a PCIe error: gone if it no longer answers */
				if (d->err_fd >= 0 && read(d->err_fd, &count, sizeof(count)) < 0)
					count = 0;
				if (check_gone(d))
					__atomic_store_n(&d->t.why_gone, GONE_ERR, __ATOMIC_RELEASE);
				pthread_mutex_unlock(&d->plock);
				continue;
			}
			/* the device request: removal waits until every user let go */
			__atomic_store_n(&d->t.why_gone, GONE_REQ, __ATOMIC_RELEASE);
			d->t.dead = true;
			release_device(d);
			pthread_mutex_unlock(&d->plock);
			return NULL;
		}
	}
}

static int irq_trigger(struct vfio_dev *d, unsigned index, int fd)
{
	struct {
		struct vfio_irq_set s;
		int32_t fd;
	} set = { .s = { .argsz = sizeof(set), .index = index, .start = 0, .count = 1,
			 .flags = VFIO_IRQ_SET_ACTION_TRIGGER | VFIO_IRQ_SET_DATA_EVENTFD },
		  .fd = fd };

	return ioctl(d->fd, VFIO_DEVICE_SET_IRQS, &set) ? -errno : 0;
}

static bool has_irq(struct vfio_dev *d, unsigned index)
{
	struct vfio_irq_info irq = { .argsz = sizeof(irq), .index = index };

	return !ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &irq) && irq.count &&
	       (irq.flags & VFIO_IRQ_INFO_EVENTFD);
}

static void watch_stop(struct vfio_dev *d)
{
	uint64_t one = 1;

	if (!d->watcher_started)
		return;
	if (write(d->wstop, &one, sizeof(one)) != sizeof(one))
		return; /* cannot happen with an eventfd; the thread is left alone */
	pthread_join(d->watcher, NULL);
	d->watcher_started = false;
	close(d->wep);
	close(d->wstop);
	d->wep = d->wstop = -1;
}

/* register the request and error eventfds and start the watcher (best effort) */
static void watch_start(struct vfio_dev *d)
{
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t all, old;

	watch_stop(d);
	d->wep = epoll_create1(EPOLL_CLOEXEC);
	d->wstop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->wep < 0 || d->wstop < 0)
		goto fail;
	ev.data.u32 = EV_STOP;
	if (epoll_ctl(d->wep, EPOLL_CTL_ADD, d->wstop, &ev))
		goto fail;
	if (has_irq(d, VFIO_PCI_REQ_IRQ_INDEX)) {
		d->req_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ev.data.u32 = 0;
		if (d->req_fd < 0 || irq_trigger(d, VFIO_PCI_REQ_IRQ_INDEX, d->req_fd) ||
		    epoll_ctl(d->wep, EPOLL_CTL_ADD, d->req_fd, &ev)) {
			if (d->req_fd >= 0)
				close(d->req_fd);
			d->req_fd = -1;
		}
	}
	if (has_irq(d, VFIO_PCI_ERR_IRQ_INDEX)) {
		d->err_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ev.data.u32 = 1;
		if (d->err_fd < 0 || irq_trigger(d, VFIO_PCI_ERR_IRQ_INDEX, d->err_fd) ||
		    epoll_ctl(d->wep, EPOLL_CTL_ADD, d->err_fd, &ev)) {
			if (d->err_fd >= 0)
				close(d->err_fd);
			d->err_fd = -1;
		}
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	d->watcher_started = !pthread_create(&d->watcher, NULL, watch_thread, d);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (d->watcher_started)
		return;
fail:
	if (d->wep >= 0)
		close(d->wep);
	if (d->wstop >= 0)
		close(d->wstop);
	d->wep = d->wstop = -1;
}

static int no_method(struct vfio_dev *d)
{
	return nvme_set_error(-ENOTSUP, "%s: no way to switch its power on this host (%s); "
			      "choose one with the device option power=slot|s3|cmd", d->t.name,
			      d->power_why);
}

static int vfio_power(struct nvme_transport *t, bool on)
{
	struct vfio_dev *d = to_vfio(t);
	int r;

	if (d->power == NVME_POWER_NONE)
		return no_method(d);
	if (d->power == NVME_POWER_S3)
		return nvme_set_error(-ENOTSUP, "%s: power=s3 switches power off and on in one "
				      "suspend/resume: use powerCycle(seconds)", t->name);
	if (!on) {
		if (t->powered_off)
			return 0;
		watch_stop(d);
		pthread_mutex_lock(&d->plock);
		t->powered_off = true;
		release_device(d);
		pthread_mutex_unlock(&d->plock);
		if ((r = nvme_power_switch(d->power, d->bdf, false)))
			return r;
		/* the kernel removes the function (at once for a slot; a lab switch takes a while) */
		nvme_power_wait_gone(d->bdf, d->power == NVME_POWER_CMD ? 30000 : 5000);
		return 0;
	}
	if (!t->powered_off)
		return nvme_set_error(-EALREADY, "%s is already powered on", t->name);
	if ((r = nvme_power_switch(d->power, d->bdf, true)) ||
	    (r = nvme_power_rebind(d->bdf, 30000))) {
		nvme_power_autoprobe_restore();
		return r;
	}
	nvme_pci_reset_done(t, "power cycle");
	pthread_mutex_lock(&d->plock);
	r = reopen_device(d);
	pthread_mutex_unlock(&d->plock);
	if (r)
		return r;
	__atomic_store_n(&t->why_gone, NULL, __ATOMIC_RELEASE);
	t->powered_off = false;
	nvme_mb();
	t->dead = false;
	return 0;
}

/* S3: the whole host sleeps; the kernel saves and restores the function's config space */
static int vfio_s3_cycle(struct vfio_dev *d, unsigned seconds)
{
	struct nvme_transport *t = &d->t;
	int r, r2;

	if (t->powered_off || d->released)
		return nvme_set_error(-ENODEV, "%s is %s", t->name, nvme_transport_gone(t));
	/*
	 * Let the device go for the sleep, as for a slot power cycle: the kernel
	 * suspends and resumes an idle vfio-pci function, and opening it again
	 * afterwards enables it afresh (the function lost its state with its power).
	 */
	watch_stop(d);
	pthread_mutex_lock(&d->plock);
	t->powered_off = true;
	release_device(d);
	pthread_mutex_unlock(&d->plock);
	r = nvme_power_s3_cycle(seconds);
	nvme_pci_reset_done(t, "power cycle");
	pthread_mutex_lock(&d->plock);
	r2 = reopen_device(d);
	pthread_mutex_unlock(&d->plock);
	if (r2)
		return r2;
	__atomic_store_n(&t->why_gone, NULL, __ATOMIC_RELEASE);
	t->powered_off = false;
	nvme_mb();
	t->dead = false;
	return r;
}

static int vfio_control(struct nvme_transport *t, const char *req, char *out, unsigned cap)
{
	struct vfio_dev *d = to_vfio(t);

	/* "power-method" / "power-method=slot|s3|cmd|auto": the method, as "name: detail" */
	if (!strncmp(req, "power-method", 12) && (!req[12] || req[12] == '=')) {
		if (req[12] == '=') {
			enum nvme_power_method want, m;
			char why[sizeof(d->power_why)];

			if (nvme_power_parse(req + 13, &want))
				return nvme_set_error(-EINVAL, "power method '%.20s': allowed slot, s3, "
						      "cmd or auto", req + 13);
			if (nvme_power_choose(want, d->bdf, &m, why, sizeof(why)))
				return nvme_set_error(-ENOTSUP, "%s: %s", t->name, why);
			d->power = m;
			copy_str(d->power_why, sizeof(d->power_why), why);
			if (m != NVME_POWER_NONE)
				nvme_power_check(m, d->bdf, d->power_why, sizeof(d->power_why));
		}
		snprintf(out, cap, "%s: %s", nvme_power_name(d->power), d->power_why);
		return 0;
	}
	/* "power-cycle=SECONDS": off, wait, on (S3: one suspend with an RTC wake-up) */
	if (!strncmp(req, "power-cycle=", 12)) {
		char *end;
		unsigned long s = strtoul(req + 12, &end, 10);
		int r;

		if (*end || end == req + 12 || s > 3600)
			return nvme_set_error(-EINVAL, "power-cycle=%.20s: allowed 0..3600 seconds",
					      req + 12);
		if (d->power == NVME_POWER_S3)
			r = vfio_s3_cycle(d, (unsigned)s);
		else if (!(r = vfio_power(t, false))) {
			usleep((useconds_t)(s * 1000000ul));
			r = vfio_power(t, true);
		}
		if (r)
			return r;
		snprintf(out, cap, "{\"return\": {}}");
		return 0;
	}
	/* "reset": VFIO_DEVICE_RESET (FLR or whatever reset the kernel has for it) */
	if (!strcmp(req, "reset")) {
		if (ioctl(d->fd, VFIO_DEVICE_RESET))
			return nvme_set_error(-errno, "%s: VFIO_DEVICE_RESET: %s", t->name,
					      strerror(errno));
		snprintf(out, cap, "{\"return\": {}}");
		return 0;
	}
	return nvme_set_error(-ENOTSUP, "%s: unknown transport request '%.40s' (a real device "
			      "takes \"reset\", \"power-method[=M]\", \"power-cycle=S\")", t->name,
			      req);
}

/*
 * A secondary bus reset through VFIO_DEVICE_PCI_HOT_RESET: the kernel resets
 * the bus (or slot) the function is on, saving and restoring the config state
 * of every device on it (MSI-X included), so the eventfds fire again. The
 * process must own the IOMMU group of every device the reset reaches.
 */
static int vfio_hot_reset(struct nvme_transport *t)
{
	struct vfio_dev *d = to_vfio(t);
	struct vfio_pci_hot_reset_info probe = { .argsz = sizeof(probe) };
	struct vfio_pci_hot_reset_info *info = NULL;
	struct vfio_pci_hot_reset *rst = NULL;
	unsigned n = 0;
	int r;

	if (ioctl(d->fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &probe) && errno != ENOSPC)
		return nvme_set_error(-errno, "%s: no hot reset possible (%s): the function is on a "
				      "root bus or shares its slot; pcie.flr() resets the function "
				      "alone, or give reset() a rstFn", t->name, strerror(errno));
	info = calloc(1, sizeof(*info) + probe.count * sizeof(info->devices[0]));
	rst = calloc(1, sizeof(*rst) + (probe.count + 1) * sizeof(int32_t));
	if (!info || !rst) {
		r = nvme_set_error(-ENOMEM, "out of memory");
		goto out;
	}
	info->argsz = (uint32_t)(sizeof(*info) + probe.count * sizeof(info->devices[0]));
	if (ioctl(d->fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info)) {
		r = nvme_set_error(-errno, "%s: VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: %s", t->name,
				   strerror(errno));
		goto out;
	}
	if (d->group >= 0) {
		/* type1: the fd of every group the reset reaches, each once */
		pthread_mutex_lock(&io.lock);
		for (unsigned i = 0; i < info->count; i++) {
			struct vfio_pci_dependent_device *dd = &info->devices[i];
			int fd = -1;
			bool dup = false;

			for (unsigned g = 0; g < MAX_GROUPS; g++)
				if (io.groups[g].fd > 0 && io.groups[g].no == (int)dd->group_id)
					fd = io.groups[g].fd;
			for (unsigned k = 0; k < n; k++)
				dup |= rst->group_fds[k] == fd;
			if (fd < 0) {
				pthread_mutex_unlock(&io.lock);
				r = nvme_set_error(-EPERM, "%s: a hot reset would also reset %04x:%02x:%02x.%x "
						   "(IOMMU group %u), which this process has not opened",
						   t->name, dd->segment, dd->bus, dd->devfn >> 3,
						   dd->devfn & 7, dd->group_id);
				goto out;
			}
			if (!dup)
				rst->group_fds[n++] = fd;
		}
		pthread_mutex_unlock(&io.lock);
	}
	/* iommufd (cdev): count 0, ownership is checked through the iommufd */
	rst->argsz = (uint32_t)(sizeof(*rst) + n * sizeof(int32_t));
	rst->count = n;
	if (ioctl(d->fd, VFIO_DEVICE_PCI_HOT_RESET, rst)) {
		r = nvme_set_error(-errno, "%s: VFIO_DEVICE_PCI_HOT_RESET: %s", t->name,
				   strerror(errno));
		goto out;
	}
	nvme_pci_reset_done(t, "hot reset");
	r = vfio_pci_enable(t);
out:
	free(info);
	free(rst);
	return r;
}

static int vfio_alive(struct nvme_transport *t)
{
	struct vfio_dev *d = to_vfio(t);

	if (!t->dead)
		check_gone(d);
	return !t->dead;
}

static void vfio_close(struct nvme_transport *t)
{
	struct vfio_dev *d = to_vfio(t);

	watch_stop(d);
	irq_teardown(d);
	if (d->intx_fd >= 0)
		close(d->intx_fd);
	if (d->req_fd >= 0)
		close(d->req_fd);
	if (d->err_fd >= 0)
		close(d->err_fd);
	for (unsigned i = 0; i < d->nareas; i++)
		munmap(d->area[i].p, d->area[i].len);
	if (d->fd >= 0)
		close(d->fd);
	if (t->irq_words)
		nvme_dma_free(t->irq_words, 4096);
	if (t->powered_off)
		nvme_power_autoprobe_restore(); /* closed while off: probing on again */
	pthread_mutex_destroy(&d->plock);
	pthread_mutex_lock(&io.lock);
	for (int i = 0; i < MAX_GROUPS; i++)
		if (!strcmp(io.open_bdf[i], d->bdf))
			io.open_bdf[i][0] = 0;
	if (d->group >= 0 && --io.groups[d->group].refs == 0) {
		ioctl(io.groups[d->group].fd, VFIO_GROUP_UNSET_CONTAINER);
		close(io.groups[d->group].fd);
		io.groups[d->group].fd = 0;
	}
	iommu_put();
	pthread_mutex_unlock(&io.lock);
	free(d);
}

static const struct nvme_transport_ops vfio_ops = {
	.name = "vfio",
	.cfg_read = vfio_cfg_read,
	.cfg_write = vfio_cfg_write,
	.bar_read = vfio_bar_read,
	.bar_write = vfio_bar_write,
	.bar_write_batch = vfio_bar_write_batch,
	.irq_setup = vfio_irq_setup,
	.irq_mask = vfio_irq_mask,
	.pci_enable = vfio_pci_enable,
	.hot_reset = vfio_hot_reset,
	.irq_sync = vfio_irq_sync,
	.power = vfio_power,
	.intx = vfio_intx,
	.control = vfio_control,
	.alive = vfio_alive,
	.close = vfio_close,
};

/* --- opening ---------------------------------------------------------------- */

static struct vfio_region_info *region_info(struct vfio_dev *d, unsigned index)
{
	struct vfio_region_info *ri = calloc(1, sizeof(*ri));

	if (!ri)
		return NULL;
	ri->argsz = sizeof(*ri);
	ri->index = index;
	if (ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, ri))
		goto fail;
	if (ri->argsz > sizeof(*ri)) {
		uint32_t need = ri->argsz;
		struct vfio_region_info *big = realloc(ri, need);

		if (!big)
			goto fail;
		ri = big;
		memset(ri, 0, need);
		ri->argsz = need;
		ri->index = index;
		if (ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, ri))
			goto fail;
	}
	return ri;
fail:
	free(ri);
	return NULL;
}

static struct vfio_info_cap_header *region_cap(struct vfio_region_info *ri, uint16_t id)
{
	uint32_t off = (ri->flags & VFIO_REGION_INFO_FLAG_CAPS) ? ri->cap_offset : 0;

	for (int guard = 0; off && off + sizeof(struct vfio_info_cap_header) <= ri->argsz &&
			    guard < 32; guard++) {
		struct vfio_info_cap_header *h = (void *)((uint8_t *)ri + off);

		if (h->id == id)
			return h;
		off = h->next;
	}
	return NULL;
}

/* map one part of BAR0; @again: over the old mapping at the same address */
static int map_area(struct vfio_dev *d, bool again, uint64_t off, uint64_t len, uint64_t file_off)
{
	void *p;

	if (again) {
		unsigned i = d->nmapped;

		if (i >= d->nareas || d->area[i].off != off || d->area[i].len != len)
			return nvme_set_error(-EIO, "%s came back with a different BAR0 layout",
					      d->t.name);
		p = mmap(d->area[i].p, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, d->fd,
			 (off_t)file_off);
		if (p == MAP_FAILED)
			return nvme_set_error(-errno, "%s: cannot map BAR0 again: %s", d->t.name,
					      strerror(errno));
		d->nmapped++;
		return 0;
	}
	if (d->nareas >= MAX_AREAS)
		return 0;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd, (off_t)file_off);
	if (p == MAP_FAILED)
		return -errno;
	d->area[d->nareas++] = (struct bar_area){ off, len, p };
	return 0;
}

static int map_bar0(struct vfio_dev *d, bool again)
{
	struct vfio_region_info *ri = region_info(d, VFIO_PCI_BAR0_REGION_INDEX);
	struct vfio_region_info_cap_sparse_mmap *sp;
	long page = sysconf(_SC_PAGESIZE);
	int r = 0;

	d->nmapped = 0;
	if (!ri)
		return nvme_set_error(-errno, "%s: no BAR0 region: %s", d->t.name, strerror(errno));
	if (ri->size < 0x1000 || (again && ri->size != d->t.bar0_size)) {
		unsigned long long size = ri->size;

		free(ri);
		return nvme_set_error(-EIO, "%s: BAR0 is missing, too small or resized (%llu bytes)",
				      d->t.name, size);
	}
	d->bar_off = ri->offset;
	d->t.bar0_size = ri->size;
	if (!(ri->flags & VFIO_REGION_INFO_FLAG_MMAP))
		goto out; /* pread/pwrite only: slow, but right */
	sp = (void *)region_cap(ri, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
	if (!sp || region_cap(ri, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE)) {
		uint64_t len = ALIGN_UP(ri->size, (uint64_t)page);

		r = map_area(d, again, 0, len, ri->offset);
		if (!r && d->nareas)
			goto out;
		if (again)
			goto out;
		r = 0;
	}
	/* the kernel keeps the MSI-X table unmappable: map the areas around it */
	for (unsigned i = 0; sp && i < sp->nr_areas && !r; i++) {
		if (!sp->areas[i].size)
			continue;
		r = map_area(d, again, sp->areas[i].offset, sp->areas[i].size,
			     ri->offset + sp->areas[i].offset);
		if (!again)
			r = 0; /* an area that cannot be mapped is reached by pread/pwrite */
	}
out:
	free(ri);
	if (!r && again && d->nmapped != d->nareas)
		r = nvme_set_error(-EIO, "%s came back with a different BAR0 layout", d->t.name);
	return r;
}

/* config region, BAR0 region size and MSI-X count */
static int device_info(struct vfio_dev *d)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_irq_info irq = { .argsz = sizeof(irq), .index = VFIO_PCI_MSIX_IRQ_INDEX };
	struct vfio_region_info *cfg;

	if (ioctl(d->fd, VFIO_DEVICE_GET_INFO, &info))
		return nvme_set_error(-errno, "VFIO_DEVICE_GET_INFO: %s", strerror(errno));
	if (!(info.flags & VFIO_DEVICE_FLAGS_PCI) || info.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX)
		return nvme_set_error(-ENODEV, "%s is not a PCI device for VFIO", d->bdf);
	cfg = region_info(d, VFIO_PCI_CONFIG_REGION_INDEX);
	if (!cfg)
		return nvme_set_error(-errno, "%s: no config region: %s", d->bdf, strerror(errno));
	d->cfg_off = cfg->offset;
	d->cfg_size = cfg->size < 4096 ? cfg->size : 4096;
	free(cfg);
	d->msix_count = 0;
	if (info.num_irqs > VFIO_PCI_MSIX_IRQ_INDEX &&
	    !ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &irq) && (irq.flags & VFIO_IRQ_INFO_EVENTFD))
		d->msix_count = irq.count;
	return 0;
}

static int device_setup(struct vfio_dev *d)
{
	int r;

	if ((r = device_info(d)) || (r = map_bar0(d, false)))
		return r;
	if ((r = vfio_pci_enable(&d->t)))
		return r;
	watch_start(d);
	return 0;
}

int nvme_vfio_open(const char *name, struct nvme_transport **out)
{
	char bdf[NVME_BDF_LEN], path[PATH_MAX], drv[64], text[64], cdev[64] = "", power[16];
	char why[512];
	const char *mode = getenv("DENVME_VFIO_IOMMU");
	enum nvme_power_method want, method;
	struct vfio_dev *d;
	struct stat st;
	int group_no = -1, r;

	if (nvme_vfio_name_parse(name, bdf, power, why, sizeof(why)))
		return nvme_set_error(-EINVAL, "%s", why);
	if (nvme_power_parse(power, &want))
		return nvme_set_error(-EINVAL, "power=%s: allowed slot, s3, cmd or auto", power);
	snprintf(path, sizeof(path), SYSFS_PCI "/%s", bdf);
	if (stat(path, &st))
		return nvme_set_error(-ENOENT, "no PCI device %s on this host (%s does not exist); "
				      "`deno task setup` lists the NVMe devices", bdf, path);
	snprintf(path, sizeof(path), SYSFS_PCI "/%s/class", bdf);
	if (!read_text(path, text, sizeof(text)) && strncmp(text, "0x0108", 6))
		return nvme_set_error(-EINVAL, "%s is not an NVMe controller (PCI class %s, NVMe is "
				      "0x010802)", bdf, text);
	dev_driver(bdf, drv, sizeof(drv));
	if (strcmp(drv, "vfio-pci"))
		return nvme_set_error(-EPERM, "%s is %s%s, not to vfio-pci: run `deno task setup %s` "
				      "(as root) to hand it to vfio-pci, and `deno task release %s` "
				      "to give it back", bdf, drv[0] ? "bound to the kernel driver " :
				      "bound to no driver", drv, bdf, bdf);
	snprintf(path, sizeof(path), SYSFS_PCI "/%s/iommu_group", bdf);
	link_name(path, text, sizeof(text));
	if (!text[0])
		return nvme_set_error(-ENXIO, "%s has no IOMMU group: the IOMMU is off. Enable "
				      "VT-d / AMD-Vi in the firmware set-up and boot Linux with "
				      "intel_iommu=on (Intel) or amd_iommu=on", bdf);
	group_no = atoi(text);
	/* iommufd when the kernel offers device cdevs, unless told otherwise */
	snprintf(path, sizeof(path), SYSFS_PCI "/%s/vfio-dev", bdf);
	{
		DIR *dir = opendir(path);
		struct dirent *e;

		while (dir && (e = readdir(dir)))
			if (!strncmp(e->d_name, "vfio", 4))
				copy_str(cdev, sizeof(cdev), e->d_name);
		if (dir)
			closedir(dir);
	}
	if (mode && *mode && strcmp(mode, "type1") && strcmp(mode, "iommufd"))
		return nvme_set_error(-EINVAL, "DENVME_VFIO_IOMMU=%s: allowed type1 or iommufd", mode);
	/* iommufd needs the cdev and a /dev/iommu this user may open (else type1) */
	bool use_fd = cdev[0] && access("/dev/iommu", R_OK | W_OK) == 0;

	if (mode && !strcmp(mode, "type1"))
		use_fd = false;
	if (mode && !strcmp(mode, "iommufd")) {
		if (!use_fd)
			return nvme_set_error(-ENOTSUP, "DENVME_VFIO_IOMMU=iommufd, but this kernel "
					      "has no %s (Linux 6.6+ with CONFIG_IOMMUFD and "
					      "CONFIG_VFIO_DEVICE_CDEV)", cdev[0] ? "/dev/iommu" :
					      "VFIO device cdev");
	}

	/* a power method asked for must work; otherwise the first that does, if any */
	if (nvme_power_choose(want, bdf, &method, why, sizeof(why)))
		return nvme_set_error(-ENOTSUP, "%s: %s", bdf, why);
	d = calloc(1, sizeof(*d));
	if (!d)
		return nvme_set_error(-ENOMEM, "out of memory");
	d->t.ops = &vfio_ops;
	d->power = method;
	if (method == NVME_POWER_NONE)
		copy_str(d->power_why, sizeof(d->power_why), why);
	else
		nvme_power_check(method, bdf, d->power_why, sizeof(d->power_why));
	pthread_mutex_init(&d->plock, NULL);
	d->fd = d->epfd = d->stopfd = d->intx_fd = d->req_fd = d->err_fd = -1;
	d->wep = d->wstop = -1;
	d->group = -1;
	snprintf(d->bdf, sizeof(d->bdf), "%s", bdf);
	snprintf(d->t.name, sizeof(d->t.name), "%s (vfio-pci, %s)", bdf,
		 use_fd ? "iommufd" : "type1");
	pthread_mutex_lock(&io.lock);
	{
		int slot = -1;

		for (int i = 0; i < MAX_GROUPS; i++) {
			if (!strcmp(io.open_bdf[i], bdf)) {
				pthread_mutex_unlock(&io.lock);
				free(d);
				return nvme_set_error(-EBUSY, "%s is already open in this process: "
						      "close it first", bdf);
			}
			if (slot < 0 && !io.open_bdf[i][0])
				slot = i;
		}
		if (slot < 0) {
			pthread_mutex_unlock(&io.lock);
			free(d);
			return nvme_set_error(-EMFILE, "too many VFIO devices open");
		}
		copy_str(io.open_bdf[slot], NVME_BDF_LEN, bdf);
	}
	if (io.kind != IOMMU_NONE && (io.kind == IOMMU_FD) != use_fd) {
		use_fd = io.kind == IOMMU_FD;
		if (use_fd && !cdev[0]) {
			for (int i = 0; i < MAX_GROUPS; i++)
				if (!strcmp(io.open_bdf[i], bdf))
					io.open_bdf[i][0] = 0;
			pthread_mutex_unlock(&io.lock);
			free(d);
			return nvme_set_error(-ENOTSUP, "%s has no VFIO cdev but the devices open "
					      "already use iommufd", bdf);
		}
	}
	io.devices++;
	r = use_fd ? open_iommufd(d, cdev) : open_type1(d, group_no);
	pthread_mutex_unlock(&io.lock);
	if (!r)
		r = device_setup(d);
	if (r) {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", nvme_get_error());
		vfio_close(&d->t);
		return nvme_set_error(r, "%s", msg);
	}
	*out = &d->t;
	return 0;
}

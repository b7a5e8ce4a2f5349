/* SPDX-License-Identifier: MIT */
/*
 * transport_qemu.c - the embedded device: QEMU's NVMe model run as a device
 * model only (guest CPU halted by a one-instruction firmware), reached through
 * the qtest socket. Guest RAM is the DMA arena (shared memfd), so the device's
 * DMA lands directly in driver memory; only register accesses cross the socket.
 */
#define _GNU_SOURCE

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dma.h"
#include "lineconn.h"
#include "pci.h"
#include "proc.h"
#include "transport.h"
#include "util.h"

#define QEMU_BAR0 0xC0000000ull
#define MAX_IMAGES 32
#define MAX_ARGS 256

struct qemu_dev {
	struct nvme_transport t;
	pid_t pid;
	struct lineconn qt, qmp;
	int log_fd;
	int img_fd[MAX_IMAGES];
	unsigned nimg;
	unsigned devfn;
	uint64_t bar0;
	char *args;	/* extra QEMU arguments, kept to start QEMU again (power on) */
	bool mmcfg;	/* PCIEXBAR enabled: config space above 0xff reachable */
	unsigned gsi;	/* IOAPIC input of the function's INTx line */
	pthread_mutex_t power_lock;
};

#define to_qemu(tp) ((struct qemu_dev *)(tp))

/* q35 MMCONFIG window (PCIEXBAR at MCH 00:00.0 offset 0x60), 256 MiB */
#define QEMU_MMCFG 0xB0000000ull

static int gone(struct qemu_dev *q, int err)
{
	if (q->t.powered_off)
		return nvme_set_error(-ENODEV, "%s is powered off", q->t.name);
	if (err == -ENOTCONN || err == -ECONNRESET || err == -EPIPE || err == -ETIMEDOUT ||
	    q->qt.dead) {
		q->t.dead = true;
		return nvme_set_error(-ENODEV, "%s is gone (QEMU %s)", q->t.name,
				      nvme_proc_alive(q->pid) ? "does not answer" : "exited");
	}
	return err;
}

/* one qtest exchange; the last reply "OK 0x..." is parsed into *val when given */
static int qt(struct qemu_dev *q, const char *req, unsigned nreplies, uint64_t *val)
{
	char reply[128];
	int r;

	if (q->t.dead)
		return nvme_set_error(-ENODEV, "%s is %s", q->t.name, nvme_transport_gone(&q->t));
	r = lineconn_exchange(&q->qt, req, strlen(req), nreplies, reply, sizeof(reply));
	if (r < 0)
		return gone(q, r);
	if (strncmp(reply, "OK", 2))
		return nvme_set_error(-EIO, "qtest refused '%.40s': %s", req, reply);
	if (val)
		*val = strtoull(reply + 2, NULL, 0);
	return 0;
}

static uint32_t cfg_addr(struct qemu_dev *q, uint32_t off)
{
	return 0x80000000u | (q->devfn << 8) | (off & 0xfc);
}

/*
 * Config space above 0xff (extended capabilities) is only reachable through
 * MMCONFIG: enable q35's PCIEXBAR (MCH 00:00.0 offset 0x60) once per machine
 * reset, then use memory accesses at 0xB0000000 + (bus<<20 | devfn<<12 | off).
 */
static int mmcfg_addr(struct qemu_dev *q, uint32_t off, uint64_t *addr)
{
	int r;

	if (!q->mmcfg) {
		char req[128];

		snprintf(req, sizeof(req), "outl 0xcf8 0x80000064\noutl 0xcfc 0x0\n"
			 "outl 0xcf8 0x80000060\noutl 0xcfc 0x%llx\n", QEMU_MMCFG | 1);
		if ((r = qt(q, req, 4, NULL)))
			return r;
		q->mmcfg = true;
	}
	*addr = QEMU_MMCFG + ((uint64_t)q->devfn << 12) + off;
	return 0;
}

static int cfg_check(const char *what, uint32_t off, unsigned size)
{
	if (off >= 0x1000 || (size != 1 && size != 2 && size != 4) || (off & (size - 1)))
		return nvme_set_error(-EINVAL, "config %s of %u bytes at 0x%x: allowed offsets "
				      "0..0xfff, size 1/2/4, naturally aligned", what, size, off);
	return 0;
}

static int qemu_cfg_read(struct nvme_transport *t, uint32_t off, unsigned size, uint32_t *val)
{
	struct qemu_dev *q = to_qemu(t);
	char req[96];
	uint64_t v, addr;
	int r;
	static const char *const in[] = { "", "inb", "inw", "", "inl" };
	static const char rd[] = { 0, 'b', 'w', 0, 'l' };

	if ((r = cfg_check("read", off, size)))
		return r;
	if (off >= 0x100) {
		if ((r = mmcfg_addr(q, off, &addr)))
			return r;
		snprintf(req, sizeof(req), "read%c 0x%llx\n", rd[size], (unsigned long long)addr);
		r = qt(q, req, 1, &v);
	} else {
		snprintf(req, sizeof(req), "outl 0xcf8 0x%x\n%s 0x%x\n", cfg_addr(q, off), in[size],
			 0xcfc + (off & 3));
		r = qt(q, req, 2, &v);
	}
	if (r)
		return r;
	*val = (uint32_t)v;
	return 0;
}

static int qemu_cfg_write(struct nvme_transport *t, uint32_t off, unsigned size, uint32_t val)
{
	struct qemu_dev *q = to_qemu(t);
	char req[96];
	uint64_t addr;
	int r;
	static const char *const out[] = { "", "outb", "outw", "", "outl" };
	static const char wr[] = { 0, 'b', 'w', 0, 'l' };

	if ((r = cfg_check("write", off, size)))
		return r;
	if (off >= 0x100) {
		if ((r = mmcfg_addr(q, off, &addr)))
			return r;
		snprintf(req, sizeof(req), "write%c 0x%llx 0x%x\n", wr[size],
			 (unsigned long long)addr, val);
		return qt(q, req, 1, NULL);
	}
	snprintf(req, sizeof(req), "outl 0xcf8 0x%x\n%s 0x%x 0x%x\n", cfg_addr(q, off), out[size],
		 0xcfc + (off & 3), val);
	return qt(q, req, 2, NULL);
}

static int check_bar(struct qemu_dev *q, uint32_t off, unsigned size)
{
	if ((size != 4 && size != 8) || (off & (size - 1)) || off + size > q->t.bar0_size)
		return nvme_set_error(-EINVAL, "BAR0 access of %u bytes at 0x%x: allowed 4 or 8 bytes, "
				      "aligned, below 0x%llx", size, off,
				      (unsigned long long)q->t.bar0_size);
	return 0;
}

static int qemu_bar_read(struct nvme_transport *t, uint32_t off, unsigned size, uint64_t *val)
{
	struct qemu_dev *q = to_qemu(t);
	char req[64];
	int r;

	if ((r = check_bar(q, off, size)))
		return r;
	snprintf(req, sizeof(req), "read%c 0x%llx\n", size == 4 ? 'l' : 'q',
		 (unsigned long long)(q->bar0 + off));
	return qt(q, req, 1, val);
}

static int qemu_bar_write(struct nvme_transport *t, uint32_t off, unsigned size, uint64_t val)
{
	struct qemu_dev *q = to_qemu(t);
	char req[80];
	int r;

	if ((r = check_bar(q, off, size)))
		return r;
	snprintf(req, sizeof(req), "write%c 0x%llx 0x%llx\n", size == 4 ? 'l' : 'q',
		 (unsigned long long)(q->bar0 + off), (unsigned long long)val);
	return qt(q, req, 1, NULL);
}

static int qemu_bar_write_batch(struct nvme_transport *t, const struct nvme_reg_write *w,
				unsigned n)
{
	struct qemu_dev *q = to_qemu(t);
	char req[64 * 48];

	while (n) {
		unsigned k = n < 64 ? n : 64;
		size_t len = 0;
		int r;

		for (unsigned i = 0; i < k; i++) {
			if ((r = check_bar(q, w[i].off, 4)))
				return r;
			len += (size_t)snprintf(req + len, sizeof(req) - len, "writel 0x%llx 0x%x\n",
						(unsigned long long)(q->bar0 + w[i].off), w[i].val);
		}
		if ((r = qt(q, req, k, NULL)))
			return r;
		w += k;
		n -= k;
	}
	return 0;
}

static int qemu_irq_setup(struct nvme_transport *t, unsigned nvec)
{
	return nvme_pci_msix_route(t, nvec);
}

static int qemu_irq_mask(struct nvme_transport *t, unsigned vec, bool mask)
{
	return nvme_pci_msix_mask(t, vec, mask);
}

static int qemu_pci_enable(struct nvme_transport *t)
{
	struct qemu_dev *q = to_qemu(t);
	uint32_t lo, hi, v;
	int r;

	/* size BAR0 (64-bit memory BAR), then place it */
	if ((r = qemu_cfg_read(t, 0x10, 4, &v)))
		return r;
	if ((r = qemu_cfg_write(t, 0x10, 4, 0xffffffff)) || (r = qemu_cfg_read(t, 0x10, 4, &lo)))
		return r;
	if ((v & 0x6) == 0x4) {
		if ((r = qemu_cfg_write(t, 0x14, 4, 0xffffffff)) ||
		    (r = qemu_cfg_read(t, 0x14, 4, &hi)))
			return r;
	} else {
		hi = 0xffffffff;
	}
	uint64_t mask = ((uint64_t)hi << 32) | (lo & ~0xfu);

	t->bar0_size = ~mask + 1;
	if (t->bar0_size < 0x1000 || t->bar0_size > 0x10000000)
		return nvme_set_error(-EIO, "%s: unexpected BAR0 size 0x%llx", t->name,
				      (unsigned long long)t->bar0_size);
	q->bar0 = QEMU_BAR0;
	if ((r = qemu_cfg_write(t, 0x10, 4, (uint32_t)q->bar0)))
		return r;
	if ((v & 0x6) == 0x4 && (r = qemu_cfg_write(t, 0x14, 4, (uint32_t)(q->bar0 >> 32))))
		return r;
	if ((r = qemu_cfg_read(t, PCI_COMMAND, 2, &v)))
		return r;
	v |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if ((r = qemu_cfg_write(t, PCI_COMMAND, 2, v)))
		return r;
	t->msix_cap = nvme_pci_find_cap(t, PCI_CAP_ID_MSIX);
	t->msix_size = 0;
	if (t->msix_cap) {
		if ((r = qemu_cfg_read(t, t->msix_cap + PCI_MSIX_FLAGS, 2, &v)))
			return r;
		t->msix_size = (v & 0x7ff) + 1;
	}
	t->nvec = 0;
	/* after a reset: the vectors the controller had routed come back */
	if (t->nvec_routed && t->msix_size)
		return qemu_irq_setup(t, t->nvec_routed);
	return 0;
}

static int qemu_control(struct nvme_transport *t, const char *req, char *out, unsigned cap)
{
	struct qemu_dev *q = to_qemu(t);
	size_t len = strlen(req);
	char *line;
	int r;

	if (t->powered_off)
		return nvme_set_error(-ENODEV, "%s is powered off", t->name);
	line = malloc(len + 2);
	if (!line)
		return -ENOMEM;
	memcpy(line, req, len);
	line[len] = '\n';
	line[len + 1] = 0;
	r = lineconn_exchange(&q->qmp, line, len + 1, 1, out, cap);
	free(line);
	if (r < 0) {
		/* the QMP connection broke: QEMU exited or no longer answers */
		if (r == -ENOTCONN || r == -ECONNRESET || r == -EPIPE || q->qmp.dead ||
		    (q->pid > 0 && !nvme_proc_alive(q->pid)))
			return gone(q, -ENOTCONN);
		return nvme_set_error(r, "QMP request failed: %s", strerror(-r));
	}
	return 0;
}

static int qemu_alive(struct nvme_transport *t)
{
	struct qemu_dev *q = to_qemu(t);

	if (q->pid > 0 && !nvme_proc_alive(q->pid))
		q->t.dead = true;
	return !q->t.dead;
}

static void qemu_close(struct nvme_transport *t)
{
	struct qemu_dev *q = to_qemu(t);

	lineconn_close(&q->qt);
	lineconn_close(&q->qmp);
	if (q->pid > 0)
		nvme_proc_stop(q->pid, 3000);
	for (unsigned i = 0; i < q->nimg; i++)
		if (q->img_fd[i] >= 0)
			close(q->img_fd[i]);
	if (q->log_fd >= 0)
		close(q->log_fd);
	if (t->irq_words)
		nvme_dma_free(t->irq_words, 4096);
	free(q->args);
	free(q);
}

static int qemu_hot_reset(struct nvme_transport *t);
static int qemu_power(struct nvme_transport *t, bool on);
static int qemu_intx(struct nvme_transport *t, uint32_t *level);

static const struct nvme_transport_ops qemu_ops = {
	.name = "qemu",
	.cfg_read = qemu_cfg_read,
	.cfg_write = qemu_cfg_write,
	.bar_read = qemu_bar_read,
	.bar_write = qemu_bar_write,
	.bar_write_batch = qemu_bar_write_batch,
	.irq_setup = qemu_irq_setup,
	.irq_mask = qemu_irq_mask,
	.pci_enable = qemu_pci_enable,
	.hot_reset = qemu_hot_reset,
	.power = qemu_power,
	.intx = qemu_intx,
	.control = qemu_control,
	.alive = qemu_alive,
	.close = qemu_close,
};

int nvme_qemu_pid(struct nvme_transport *t)
{
	return t && t->ops == &qemu_ops ? to_qemu(t)->pid : 0;
}

/* --- start-up ------------------------------------------------------------ */

static const char *runtime_base(void)
{
	const char *x = getenv("XDG_RUNTIME_DIR");

	return x && *x && access(x, W_OK) == 0 ? x : "/tmp";
}

/* unlink @name in the directory @dfd if it is a socket (never following a link) */
static void unlink_socket_at(int dfd, const char *name)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode))
		unlinkat(dfd, name, 0);
}

/*
 * Remove run directories left by an older driver killed during start-up
 * (this one creates none: QEMU's sockets are socketpairs). Only what
 * this driver itself creates is touched: a real directory (lstat: never a
 * symlink) named denvme-<pid>-XXXXXX, owned by this user, mode 0700, whose
 * process is gone; inside it only the two sockets, reached through the opened
 * directory (O_NOFOLLOW), so no path can lead elsewhere.
 */
static void sweep_stale(const char *base)
{
	int bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *e;

	if (bfd < 0)
		return;
	d = fdopendir(dup(bfd));
	if (!d) {
		close(bfd);
		return;
	}
	while ((e = readdir(d))) {
		struct stat st, st2;
		int pid, used = 0, dfd;

		if (sscanf(e->d_name, "denvme-%d-%n", &pid, &used) != 1 || pid <= 0 || used <= 0 ||
		    strlen(e->d_name + used) != 6)
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		if (fstatat(bfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode) ||
		    st.st_uid != geteuid() || (st.st_mode & 07777) != 0700)
			continue;
		dfd = openat(bfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			continue;
		if (fstat(dfd, &st2) == 0 && st2.st_dev == st.st_dev && st2.st_ino == st.st_ino) {
			unlink_socket_at(dfd, "qtest.sock");
			unlink_socket_at(dfd, "qmp.sock");
			unlinkat(bfd, e->d_name, AT_REMOVEDIR); /* only if now empty */
		}
		close(dfd);
	}
	closedir(d);
	close(bfd);
}

static int find_qemu(char *out, size_t cap)
{
	const char *env = getenv("DENVME_QEMU");
	const char *path = getenv("PATH");

	if (env && *env) {
		if (access(env, X_OK))
			return nvme_set_error(-ENOENT, "DENVME_QEMU=%s is not an executable", env);
		snprintf(out, cap, "%s", env);
		return 0;
	}
	for (const char *p = path ? path : "/usr/bin"; p && *p;) {
		const char *c = strchr(p, ':');
		size_t l = c ? (size_t)(c - p) : strlen(p);

		snprintf(out, cap, "%.*s/qemu-system-x86_64", (int)l, p);
		if (l && access(out, X_OK) == 0)
			return 0;
		p = c ? c + 1 : NULL;
	}
	return nvme_set_error(-ENOENT, "QEMU not found: qemu-system-x86_64 is not on PATH. Run "
			      "`deno task setup` (installs Debian's qemu-system-x86) or set "
			      "DENVME_QEMU to the binary");
}

static int open_image(const char *spec, int *fd_out)
{
	char path[4096];
	const char *bar = strrchr(spec, '|');
	unsigned long long size;
	int fd;

	if (!bar || bar - spec >= (long)sizeof(path))
		return nvme_set_error(-EINVAL, "bad image spec '%s'", spec);
	size = strtoull(bar + 1, NULL, 0);
	memcpy(path, spec, (size_t)(bar - spec));
	path[bar - spec] = 0;
	if (!path[0]) {
		fd = open("/var/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd < 0)
			fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd < 0)
			fd = memfd_create("denvme-image", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, (off_t)size))
			return nvme_set_error(-errno, "cannot create a %llu-byte temporary image: %s",
					      size, strerror(errno));
	} else {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600); /* disk contents: private */
		if (fd >= 0) {
			if (ftruncate(fd, (off_t)size)) {
				int err = errno;

				close(fd);
				unlink(path);
				return nvme_set_error(-err, "cannot size image %s to %llu bytes: %s",
						      path, size, strerror(err));
			}
		} else if (errno == EEXIST) {
			fd = open(path, O_RDWR | O_CLOEXEC);
		}
		if (fd < 0)
			return nvme_set_error(-errno, "cannot open image %s: %s", path,
					      strerror(errno));
	}
	*fd_out = fd;
	return 0;
}

static char *read_log(int fd)
{
	static __thread char text[1024];
	ssize_t n = pread(fd, text, sizeof(text) - 1, 0);

	text[n > 0 ? n : 0] = 0;
	for (char *p = text + strlen(text); p > text && (p[-1] == '\n' || p[-1] == ' ');)
		*--p = 0;
	return text;
}

/* scan bus 0 for an NVMe function (class 01:08:02) */
static int find_nvme(struct qemu_dev *q)
{
	for (unsigned dev = 0; dev < 32; dev++) {
		uint32_t v;

		q->devfn = dev << 3;
		if (qemu_cfg_read(&q->t, 0, 4, &v))
			return -ENODEV;
		if ((v & 0xffff) == 0xffff)
			continue;
		if (qemu_cfg_read(&q->t, 8, 4, &v))
			return -ENODEV;
		if ((v >> 8) == 0x010802)
			return 0;
	}
	return nvme_set_error(-ENODEV, "no NVMe controller on the embedded device's PCI bus");
}

/*
 * QEMU gets its qtest and QMP connections as one end of two socketpairs
 * (chardev fd=): no socket file and no run directory ever exist, so nothing
 * is left behind when the driver is killed during start-up and no other
 * local user can reach the sockets.
 */
static int start(struct qemu_dev *q, const char *args)
{
	struct nvme_arena *arena = nvme_arena_get();
	char qemu[4096], mem[256], memsz[32], bios[64], qtest[64], qmp[64];
	int qt_sv[2] = { -1, -1 }, qmp_sv[2] = { -1, -1 };
	char *argv[MAX_ARGS];
	char *extra = NULL;
	struct lineconn *fresh = NULL;
	int keep[MAX_IMAGES + 4], nkeep = 0, argc = 0, r, bios_fd = -1;

	if (!arena)
		return -ENOMEM;
	if ((r = find_qemu(qemu, sizeof(qemu))))
		return r;
	bios_fd = memfd_create("denvme-halt-bios", MFD_CLOEXEC);
	if (bios_fd < 0)
		return nvme_set_error(-errno, "memfd: %s", strerror(errno));
	{
		/* firmware of HLT instructions: the reset vector halts the CPU for good */
		static uint8_t hlt[65536];

		memset(hlt, 0xf4, sizeof(hlt));
		if (write(bios_fd, hlt, sizeof(hlt)) != (ssize_t)sizeof(hlt)) {
			close(bios_fd);
			return nvme_set_error(-EIO, "cannot write the firmware image");
		}
	}
	keep[nkeep++] = arena->fd;
	keep[nkeep++] = bios_fd;
	for (unsigned i = 0; i < q->nimg; i++)
		keep[nkeep++] = q->img_fd[i];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qt_sv) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp_sv)) {
		r = nvme_set_error(-errno, "socketpair: %s", strerror(errno));
		goto fail;
	}
	keep[nkeep++] = qt_sv[1];
	keep[nkeep++] = qmp_sv[1];
	snprintf(mem, sizeof(mem), "memory-backend-file,id=denvme-ram,size=%lluM,"
		 "mem-path=/proc/self/fd/%d,share=on", (unsigned long long)(arena->size >> 20),
		 arena->fd);
	snprintf(memsz, sizeof(memsz), "%lluM", (unsigned long long)(arena->size >> 20));
	snprintf(bios, sizeof(bios), "/proc/self/fd/%d", bios_fd);
	snprintf(qtest, sizeof(qtest), "socket,id=qtest,fd=%d", qt_sv[1]);
	snprintf(qmp, sizeof(qmp), "socket,id=qmp,fd=%d", qmp_sv[1]);

	char *fixed[] = { qemu, "-machine", "q35,memory-backend=denvme-ram", "-accel",
			  "tcg,tb-size=64", "-nodefaults", "-no-user-config", "-display", "none",
			  "-m", memsz, "-object", mem, "-bios", bios, "-chardev", qtest,
			  "-qtest", "chardev:qtest", "-qtest-log", "none", "-chardev", qmp,
			  "-mon", "chardev=qmp,mode=control" };
	for (unsigned i = 0; i < ARRAY_SIZE(fixed); i++)
		argv[argc++] = fixed[i];

	/*
	 * extra arguments, one per line; a line that starts with "file=@IMGn@"
	 * (the driver's own drive argument) gets the image path there, and
	 * nowhere else: a placeholder inside another value (a serial number)
	 * stays as written.
	 */
	extra = calloc(1, strlen(args) * 2 + 64 * MAX_IMAGES + 1);
	if (!extra) {
		r = -ENOMEM;
		goto fail;
	}
	{
		char *o = extra;

		for (const char *p = args; *p && argc < MAX_ARGS - 1;) {
			const char *nl = strchr(p, '\n');
			size_t l = nl ? (size_t)(nl - p) : strlen(p);

			if (l) {
				argv[argc++] = o;
				for (size_t i = 0; i < l; i++) {
					unsigned n;
					int used = 0;

					if (i == 5 && !strncmp(p, "file=@IMG", 9) &&
					    sscanf(p + i, "@IMG%u@%n", &n, &used) == 1 &&
					    used > 0 && n < q->nimg) {
						o += sprintf(o, "/proc/self/fd/%d", q->img_fd[n]);
						i += (size_t)used - 1;
					} else {
						*o++ = p[i];
					}
				}
				*o++ = 0;
			}
			p = nl ? nl + 1 : p + l;
		}
	}
	argv[argc] = NULL;

	if (q->log_fd >= 0)
		close(q->log_fd); /* started before (power on): a fresh log */
	q->log_fd = memfd_create("denvme-qemu-log", MFD_CLOEXEC);
	q->pid = nvme_proc_spawn(argv, keep, nkeep, q->log_fd);
	if (q->pid < 0) {
		r = q->pid;
		q->pid = 0;
		goto fail;
	}
	/* QEMU has its ends: ours go in under the connection's lock (threads may use it) */
	close(qt_sv[1]);
	close(qmp_sv[1]);
	qt_sv[1] = qmp_sv[1] = -1;
	fresh = calloc(1, sizeof(*fresh));
	if (!fresh) {
		r = -ENOMEM;
		goto fail;
	}
	lineconn_adopt(fresh, qt_sv[0]);
	qt_sv[0] = -1;
	lineconn_replace(&q->qt, fresh);
	lineconn_adopt(fresh, qmp_sv[0]);
	qmp_sv[0] = -1;
	lineconn_replace(&q->qmp, fresh);
	free(fresh);
	r = 0;
	if (!r) {
		char line[1024];

		pthread_mutex_lock(&q->qmp.lock);
		r = lineconn_readline(&q->qmp, line, sizeof(line)); /* greeting */
		pthread_mutex_unlock(&q->qmp.lock);
		if (r >= 0)
			r = qemu_control(&q->t, "{\"execute\":\"qmp_capabilities\"}", line,
					 sizeof(line));
		if (r < 0)
			nvme_set_error(r, "QMP handshake with QEMU failed");
	}
	if (r) {
		usleep(50000);
		if (q->pid > 0 && !nvme_proc_alive(q->pid)) {
			q->pid = 0;
			r = nvme_set_error(-ECHILD, "QEMU failed to start: %s",
					   read_log(q->log_fd)[0] ? read_log(q->log_fd) : "no message");
		}
		goto fail;
	}
fail:
	for (int i = 0; i < 2; i++) {
		if (qt_sv[i] >= 0)
			close(qt_sv[i]);
		if (qmp_sv[i] >= 0)
			close(qmp_sv[i]);
	}
	free(extra);
	close(bios_fd);
	return r;
}

/*
 * INTx: with irq_intercept_in the IOAPIC's inputs become qtest's asynchronous
 * "IRQ raise/lower N" lines (lineconn keeps their level). q35 without firmware
 * routes slot S INTA to PIRQ[(S%4)+4], i.e. IOAPIC GSI 20 + (S%4).
 */
static int intercept_irqs(struct qemu_dev *q)
{
	q->gsi = 20 + ((q->devfn >> 3) % 4);
	return qt(q, "irq_intercept_in ioapic\n", 1, NULL);
}

static int qemu_intx(struct nvme_transport *t, uint32_t *level)
{
	struct qemu_dev *q = to_qemu(t);
	int r;

	/* any exchange drains the asynchronous lines QEMU sent before its reply */
	if ((r = qt(q, "readl 0x0\n", 1, NULL)))
		return r;
	*level = (uint32_t)(__atomic_load_n(&q->qt.irq_level, __ATOMIC_ACQUIRE) >> q->gsi) & 1;
	return 0;
}

/* start QEMU (again), find the function and enable it */
static int boot(struct qemu_dev *q)
{
	int r;

	q->mmcfg = false;
	r = start(q, q->args);
	if (!r) {
		snprintf(q->t.name, sizeof(q->t.name), "embedded device (QEMU pid %d)", q->pid);
		r = find_nvme(q);
	}
	if (!r) {
		snprintf(q->t.name, sizeof(q->t.name), "embedded device (QEMU pid %d, 00:%02x.%x)",
			 q->pid, q->devfn >> 3, q->devfn & 7);
		r = intercept_irqs(q);
	}
	if (!r)
		r = qemu_pci_enable(&q->t);
	return r;
}

static int qemu_hot_reset(struct nvme_transport *t)
{
	struct qemu_dev *q = to_qemu(t);
	uint64_t end;
	uint32_t v;
	char reply[512];
	int r;

	/* Cache Line Size is cleared by the reset: a marker of its completion */
	if ((r = qemu_cfg_write(t, PCI_CACHE_LINE_SIZE, 1, 0x10)))
		return r;
	if ((r = qemu_control(t, "{\"execute\":\"system_reset\"}", reply, sizeof(reply))))
		return r;
	if (!strstr(reply, "\"return\""))
		return nvme_set_error(-EIO, "%s: system_reset refused: %s", t->name, reply);
	/* QEMU resets the machine in its main loop after replying */
	end = nvme_now_ns() + 5000000000ull;
	for (;;) {
		if ((r = qemu_cfg_read(t, PCI_CACHE_LINE_SIZE, 1, &v)))
			return r;
		if (v == 0)
			break;
		if (nvme_now_ns() > end)
			return nvme_set_error(-ETIMEDOUT, "%s: the hot reset did not complete within "
					      "5 s", t->name);
		usleep(500);
	}
	q->mmcfg = false; /* PCIEXBAR is disabled again */
	nvme_pci_reset_done(t, "hot reset");
	if ((r = intercept_irqs(q)))
		return r;
	return qemu_pci_enable(t);
}

static void disconnect(struct qemu_dev *q)
{
	pthread_mutex_lock(&q->qt.lock);
	lineconn_close(&q->qt);
	pthread_mutex_unlock(&q->qt.lock);
	pthread_mutex_lock(&q->qmp.lock);
	lineconn_close(&q->qmp);
	pthread_mutex_unlock(&q->qmp.lock);
}

static int qemu_power(struct nvme_transport *t, bool on)
{
	struct qemu_dev *q = to_qemu(t);
	int r = 0;

	pthread_mutex_lock(&q->power_lock);
	if (!on) {
		if (!t->powered_off) {
			/* first, so that every access from now on says "powered off" */
			t->powered_off = true;
			t->dead = true;
			/* a dirty power loss: SIGKILL, and wait, QEMU holds image write locks */
			if (q->pid > 0)
				nvme_proc_stop(q->pid, 0);
			q->pid = 0;
			disconnect(q);
		}
	} else if (!t->powered_off) {
		r = nvme_set_error(-EALREADY, "%s is already powered on", t->name);
	} else {
		t->powered_off = false;
		t->dead = false;
		nvme_pci_reset_done(t, "power cycle");
		r = boot(q); /* same arguments, same image descriptors, same DMA arena */
		if (r) {
			char msg[512];

			snprintf(msg, sizeof(msg), "power on failed: %s", nvme_get_error());
			if (q->pid > 0)
				nvme_proc_stop(q->pid, 0);
			q->pid = 0;
			disconnect(q);
			t->powered_off = true;
			t->dead = true;
			r = nvme_set_error(r, "%s", msg);
		}
	}
	pthread_mutex_unlock(&q->power_lock);
	return r;
}

int nvme_qemu_open(const char *args, const char *images, struct nvme_transport **out)
{
	struct qemu_dev *q = calloc(1, sizeof(*q));
	int r = 0;

	if (!q)
		return nvme_set_error(-ENOMEM, "out of memory");
	q->t.ops = &qemu_ops;
	q->log_fd = -1;
	q->qt.fd = q->qmp.fd = -1;
	q->qt.dead = q->qmp.dead = true;
	q->qt.skip_prefix = "IRQ";
	/* QMP events read {"timestamp": ..., "event": ...}: asynchronous, dropped */
	q->qmp.skip_prefix = "{\"timestamp\"";
	pthread_mutex_init(&q->qt.lock, NULL);
	pthread_mutex_init(&q->qmp.lock, NULL);
	pthread_mutex_init(&q->power_lock, NULL);
	for (unsigned i = 0; i < MAX_IMAGES; i++)
		q->img_fd[i] = -1;
	sweep_stale(runtime_base());

	/* images */
	for (const char *p = images; p && *p && !r;) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) : strlen(p);
		char spec[4200];

		if (l && l < sizeof(spec)) {
			if (q->nimg == MAX_IMAGES) {
				r = nvme_set_error(-E2BIG, "at most %d images per device", MAX_IMAGES);
				break;
			}
			memcpy(spec, p, l);
			spec[l] = 0;
			r = open_image(spec, &q->img_fd[q->nimg]);
			if (!r)
				q->nimg++;
		}
		p = nl ? nl + 1 : p + l;
	}
	if (!r && !(q->args = strdup(args)))
		r = nvme_set_error(-ENOMEM, "out of memory");
	if (!r)
		r = boot(q);
	if (r) {
		char msg[512];

		snprintf(msg, sizeof(msg), "%s", nvme_get_error());
		qemu_close(&q->t);
		return nvme_set_error(r, "%s", msg);
	}
	*out = &q->t;
	return 0;
}

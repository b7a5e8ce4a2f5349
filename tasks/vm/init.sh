#!/bin/busybox sh
# denvme guest-VM test, stage 1: PID 1 of the initramfs built by tasks/vmtest.ts.
#
# Loads the modules, formats the namespaces of the system disk (the second
# emulated NVMe controller, $SYS): ns1 = root filesystem, ns2 = swap, ns3 = a
# data filesystem; copies the system onto ns1 and switches root to it, so that
# the guest's root disk is NVMe-backed. Stage 2 (init2.sh) runs the tests.
# Lines starting with VMTEST- are read by the host.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
. /etc/vmtest.env
echo "VMTEST-BOOTED $(cut -d' ' -f1 /proc/uptime)"

fail() {
	echo "VMTEST-RESULT fail (stage 1: $*)"
	poweroff -f
	sleep 60
}

for m in $MODULES; do
	insmod "/mods/$m.ko" || fail "insmod $m"
done

# namespaces of $SYS, in nsid order (a multipath path device nvme0c0n1 is disk nvme0n1)
disks() {
	for e in /sys/bus/pci/devices/$SYS/nvme/nvme*/nvme*n*; do
		[ -e "$e" ] && basename "$e" | sed 's/c[0-9]*n/n/'
	done | sort -u
}
i=0
while [ $i -lt 200 ]; do
	set -- $(disks)
	[ $# -ge 3 ] && [ -b "/dev/$1" ] && [ -b "/dev/$3" ] && break
	sleep 0.05
	i=$((i + 1))
done
[ $# -ge 3 ] || fail "the system disk $SYS has $# namespaces, 3 expected"
ROOTDEV=/dev/$1 SWAPDEV=/dev/$2 DATADEV=/dev/$3

mke2fs "$ROOTDEV" >/dev/null 2>&1 || fail "mke2fs $ROOTDEV"
mkswap "$SWAPDEV" >/dev/null 2>&1 || fail "mkswap $SWAPDEV"
mke2fs "$DATADEV" >/dev/null 2>&1 || fail "mke2fs $DATADEV"
mkdir -p /sysroot
mount -t ext4 "$ROOTDEV" /sysroot || fail "mount $ROOTDEV"
for d in bin lib lib64 mods work deno-dir etc init2; do
	[ -e "/$d" ] && { cp -a "/$d" /sysroot/ || fail "copy /$d to $ROOTDEV"; }
done
mkdir -p /sysroot/proc /sysroot/sys /sysroot/dev /sysroot/tmp /sysroot/mnt/data
printf 'ROOTDEV=%s\nSWAPDEV=%s\nDATADEV=%s\n' "$ROOTDEV" "$SWAPDEV" "$DATADEV" >>/sysroot/etc/vmtest.env
echo "VMTEST-NOTE root filesystem on $ROOTDEV, swap on $SWAPDEV, data on $DATADEV (all on $SYS), after $(cut -d' ' -f1 /proc/uptime) s"
mount --move /dev /sysroot/dev
mount --move /proc /sysroot/proc
mount --move /sys /sysroot/sys
exec switch_root /sysroot /init2

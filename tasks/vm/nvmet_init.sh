#!/bin/busybox sh
# denvme NVMe/TCP target guest: PID 1 of the initramfs built by tasks/vm/nvmet.ts.
#
# Loads the modules, brings up the virtio-net interface on QEMU's user network
# (10.0.2.15; the host reaches port 4420 only through its forward on
# 127.0.0.1), and exports one subsystem through the kernel's nvmet-tcp target.
# Lines starting with NVMET- are read
# by the host.
#   namespace 1: null_blk, memory backed, 512-byte LBAs (data kept while the guest runs)
#   namespace 2: a file in the guest's tmpfs (4 KiB LBAs, data kept)
#   namespace 3: null_blk without memory (no data kept: throughput)
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp && mount -t tmpfs -o size=90% tmpfs /tmp
. /etc/nvmet.env

fail() {
	echo "NVMET-FAIL $*"
	poweroff -f
	sleep 60
}

for m in $MODULES; do
	case $m in
	null_blk) insmod "/mods/$m.ko" nr_devices=0 || fail "insmod $m" ;;
	*) insmod "/mods/$m.ko" || fail "insmod $m" ;;
	esac
done

ip link set lo up
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
ip link set eth0 up || fail "no eth0"
ip addr add 10.0.2.15/24 dev eth0 || fail "ip addr"

mount -t configfs configfs /sys/kernel/config || fail "mount configfs"
T=/sys/kernel/config/nvmet
S=$T/subsystems/$NQN
mkdir "$S" || fail "mkdir subsystem"
echo 1 >"$S/attr_allow_any_host"
echo "$MODEL" >"$S/attr_model" 2>/dev/null
echo "$SERIAL" >"$S/attr_serial" 2>/dev/null

# null_blk devices through its configfs: nullb0 keeps data, nullb1 does not
nullb() { # name size_mb memory_backed
	B=/sys/kernel/config/nullb/$1
	mkdir "$B" || fail "mkdir $B"
	echo "$2" >"$B/size"
	echo 512 >"$B/blocksize"
	echo "$3" >"$B/memory_backed"
	echo 2 >"$B/queue_mode"
	echo 0 >"$B/irqmode"
	echo 1 >"$B/power" || fail "power on $1"
}
nullb nullb0 "$MEM_MB" 1
nullb nullb1 $((NULL_GB * 1024)) 0
truncate -s "${FILE_MB}M" /tmp/ns.img || fail "truncate"
i=0
while { [ ! -b /dev/nullb0 ] || [ ! -b /dev/nullb1 ]; } && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done

ns() { # nsid path [buffered]
	mkdir "$S/namespaces/$1"
	echo -n "$2" >"$S/namespaces/$1/device_path"
	[ -n "$3" ] && echo 1 >"$S/namespaces/$1/buffered_io" # tmpfs has no O_DIRECT
	echo 1 >"$S/namespaces/$1/enable" || fail "enable namespace $1 ($2)"
}
ns 1 /dev/nullb0
ns 2 /tmp/ns.img buffered
ns 3 /dev/nullb1

P=$T/ports/1
mkdir "$P"
echo tcp >"$P/addr_trtype"
echo ipv4 >"$P/addr_adrfam"
echo 0.0.0.0 >"$P/addr_traddr"
echo 4420 >"$P/addr_trsvcid"
ln -s "$S" "$P/subsystems/$NQN" || fail "link the subsystem into port 1"
echo "NVMET-READY $NQN after $(cut -d' ' -f1 /proc/uptime) s"
while :; do sleep 3600; done

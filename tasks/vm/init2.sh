#!/bin/sh
# denvme guest-VM test, stage 2: PID 1 on the NVMe-backed root filesystem.
#
# With swap and a data filesystem also on the system disk ($SYS), hands the
# device under test ($DUT) to vfio-pci with the setup task, runs the
# device-independent tests and the example scripts against it with --dut, and
# gives it back. Before the hand-over nvme-cli dumps what it decodes of the
# device (through the kernel's nvme driver); right after it, denvme's decoders
# are compared with that (tests/nvmecli_crosscheck_test.ts). Each step is bracketed by VMTEST-STEP lines for the host; the
# last line is VMTEST-RESULT.
export PATH=/bin HOME=/tmp DENO_DIR=/deno-dir NO_COLOR=1 TERM=dumb
. /etc/vmtest.env
export DENVME_DMA_MB NVME_OTHER_BDF=$SYS
cd /work || exit 1

# each step runs as `/init2 --step CMD...` under timeout(1), which needs a program
step() {
	name=$1
	shift
	# DENVME_VMTEST_ONLY on the host: run only the steps it matches (and the binding)
	if [ -n "$ONLY" ] && [ "$name" != setup-binds-dut ] && ! echo "$name" | grep -qE "$ONLY"; then
		return 0
	fi
	echo "VMTEST-STEP-BEGIN $name"
	timeout -s KILL "$STEP_TIMEOUT" /init2 --step "$@"
	rc=$?
	if [ $rc = 0 ]; then
		echo "VMTEST-STEP-END $name pass"
	else
		echo "VMTEST-STEP-END $name fail (exit $rc)"
		FAILED="$FAILED $name"
	fi
}

driver() { basename "$(readlink "/sys/bus/pci/devices/$1/driver")" 2>/dev/null; }

# the listing names both controllers, the system disk as not safe
list() {
	deno task setup --list >/tmp/list.txt 2>&1
	rc=$?
	cat /tmp/list.txt
	[ $rc = 0 ] && grep -q "$DUT" /tmp/list.txt && grep -q "safe to take: deno task setup $DUT" /tmp/list.txt &&
		grep -q "NOT safe to take: .*root filesystem" /tmp/list.txt &&
		grep -q "power methods: slot (slot [0-9]*), s3 (S3 with RTC wake-up) — default slot" /tmp/list.txt
}

# the system disk holds /, swap and /mnt/data: refused, and left on nvme
refuse() {
	deno task setup "$SYS" >/tmp/refuse.txt 2>&1
	rc=$?
	cat /tmp/refuse.txt
	[ $rc != 0 ] || { echo "setup $SYS succeeded but must refuse"; return 1; }
	for want in "root filesystem (/ on" "is in use as swap" "is mounted at /mnt/data" "--force"; do
		grep -qF -- "$want" /tmp/refuse.txt || { echo "missing in the refusal: $want"; return 1; }
	done
	[ "$(driver "$SYS")" = nvme ] || { echo "$SYS left nvme"; return 1; }
}

# --dry-run prints the steps and changes nothing
dryrun() {
	deno task setup "$DUT" --dry-run >/tmp/dry.txt 2>&1
	rc=$?
	cat /tmp/dry.txt
	[ $rc = 0 ] && grep -q 'dry run: would write "vfio-pci" to .*driver_override' /tmp/dry.txt &&
		grep -q "nothing was changed" /tmp/dry.txt && [ "$(driver "$DUT")" = nvme ]
}

# a process holding the device under test's namespace open: refused, naming it
held() {
	ns=$(ls /sys/bus/pci/devices/"$DUT"/nvme/*/ | grep -m1 -E '^nvme[0-9]+n[0-9]+$')
	[ -n "$ns" ] || { echo "no namespace block device for $DUT"; return 1; }
	sleep 60 <"/dev/$ns" &
	pid=$!
	deno task setup "$DUT" >/tmp/held.txt 2>&1
	rc=$?
	kill $pid
	cat /tmp/held.txt
	[ $rc != 0 ] && grep -q "$ns is open in pid $pid" /tmp/held.txt && [ "$(driver "$DUT")" = nvme ]
}

bind() {
	deno task setup "$DUT" || return 1
	[ "$(driver "$DUT")" = vfio-pci ] || { echo "$DUT is on '$(driver "$DUT")'"; return 1; }
	ls -l /dev/vfio
}

hello() {
	deno run --allow-ffi --allow-env --allow-read examples/hello_world.ts --dut "$DUT" >/tmp/hello.txt 2>&1
	rc=$?
	cat /tmp/hello.txt
	[ $rc = 0 ] && grep -q "hello world" /tmp/hello.txt
}

# the DMA arena in 2 MiB hugepages, mapped through the IOMMU the same way
hugepages() {
	echo 64 >/proc/sys/vm/nr_hugepages
	DENVME_DMA_HUGEPAGES=1 DENVME_DMA_MB=128 hello
	rc=$?
	grep HugePages_ /proc/meminfo
	echo 0 >/proc/sys/vm/nr_hugepages
	return $rc
}

# nvme-cli's view of the device under test through the kernel's nvme driver,
# the reference of tests/nvmecli_crosscheck_test.ts: JSON where nvme-cli 2.3
# prints it, the -H text of each feature (get-feature has no JSON output), in
# sections "### name" ... "### rc N"
NVMECLI_OUT=/tmp/nvmecli.txt
# every feature identifier nvme-cli 2.3 decodes; the namespace ones go to the
# namespace's block device (NSID 1), the others to the controller (NSID FFFFFFFFh)
NVMECLI_FIDS="0x01 0x02 0x04 0x06 0x07 0x08 0x09 0x0a 0x0b 0x0c 0x0d 0x0e 0x0f 0x10 0x11 0x12 0x13 0x14 0x15 0x16 0x17 0x18 0x19 0x1a 0x80 0x81"
NVMECLI_NS_FIDS="0x03 0x05 0x82 0x83 0x84"
nvmecli_section() {
	name=$1
	shift
	echo "### $name"
	"$@" 2>&1
	echo "### rc $?"
}
nvmecli_dump() {
	[ -x /bin/nvme ] || { echo "/bin/nvme is missing"; return 1; }
	ctrl=$(ls /sys/bus/pci/devices/"$DUT"/nvme/ | grep -m1 -E '^nvme[0-9]+$')
	[ -n "$ctrl" ] || { echo "no nvme controller for $DUT (driver $(driver "$DUT"))"; return 1; }
	ns=$(ls /sys/bus/pci/devices/"$DUT"/nvme/"$ctrl"/ | grep -m1 -E '^nvme[0-9]+(c[0-9]+)?n1$' | sed 's/c[0-9]*n/n/')
	[ -n "$ns" ] && [ -b "/dev/$ns" ] || { echo "no namespace 1 block device for $DUT"; return 1; }
	nvme version
	{
		echo "### meta"
		echo "ctrl=$ctrl ns=$ns epoch=$(date +%s)"
		echo "### rc 0"
		nvmecli_section id-ctrl nvme id-ctrl "/dev/$ctrl" -o json
		nvmecli_section id-ns nvme id-ns "/dev/$ns" -o json
		nvmecli_section smart-log nvme smart-log "/dev/$ctrl" -o json -H
		nvmecli_section error-log nvme error-log "/dev/$ctrl" -o json
		nvmecli_section fw-log nvme fw-log "/dev/$ctrl" -o json
		nvmecli_section effects-log nvme effects-log "/dev/$ctrl" -o json
		nvmecli_section show-regs nvme show-regs "/dev/$ctrl" -o json
		for f in $NVMECLI_FIDS; do
			nvmecli_section "feature $f" nvme get-feature "/dev/$ctrl" -f "$f" -H
		done
		for f in $NVMECLI_NS_FIDS; do
			nvmecli_section "feature $f" nvme get-feature "/dev/$ns" -f "$f" -H
		done
	} >"$NVMECLI_OUT"
	# the log of the guest test shows what nvme-cli printed
	cat "$NVMECLI_OUT"
	grep -q '"mn"' "$NVMECLI_OUT" && grep -q '"cap"' "$NVMECLI_OUT"
}

release() {
	deno task release "$DUT" || return 1
	[ "$(driver "$DUT")" = nvme ]
}

if [ "$1" = --step ]; then
	shift
	"$@"
	exit $?
fi

mount -t tmpfs tmpfs /tmp
swapon "$SWAPDEV" || echo "VMTEST-NOTE swapon $SWAPDEV failed"
mount -t ext4 "$DATADEV" /mnt/data || echo "VMTEST-NOTE mount $DATADEV failed"
echo "VMTEST-NOTE stage 2 at $(cut -d' ' -f1 /proc/uptime) s: / on $ROOTDEV"
FAILED=""
step setup-lists-devices list
step setup-refuses-system-disk refuse
step setup-dry-run dryrun
step setup-refuses-open-device held
if [ -n "$NVMECLI_SKIP" ]; then
	echo "VMTEST-NOTE the nvme-cli cross-check is skipped: $NVMECLI_SKIP"
else
	# last before the hand-over: the state nvme-cli sees is the one denvme finds
	step nvmecli-dump nvmecli_dump
fi
step setup-binds-dut bind
# first after the hand-over, before any test changes a feature (the model keeps
# feature values across resets, so what the kernel set is still there)
if [ -z "$NVMECLI_SKIP" ]; then
	step nvmecli-crosscheck env DENVME_NVMECLI_OUTPUT="$NVMECLI_OUT" deno test --no-check --allow-all tests/nvmecli_crosscheck_test.ts -- --dut "$DUT"
fi
step device-tests deno test --no-check --allow-all tests/device_test.ts -- --dut "$DUT"
step example-hello-world hello
step example-hello-world-hugepages hugepages
for ex in $EXAMPLES; do
	step "example-$ex" deno run --allow-ffi --allow-env --allow-read "examples/$ex.ts" --dut "$DUT"
done
# power cycles and surprise removal (tests/vfio_power_test.ts): each test is
# also a step of its own (VMTEST_STEPS=1: it writes VMTEST-STEP lines)
step power-and-removal-tests env VMTEST_STEPS=1 deno test --no-check --allow-all ${POWER_FILTER:+--filter "$POWER_FILTER"} tests/vfio_power_test.ts -- --dut "$DUT"
step release-dut release

if [ -z "$FAILED" ]; then
	echo "VMTEST-RESULT pass"
else
	echo "VMTEST-RESULT fail (failed:$FAILED)"
fi
sync
poweroff -f

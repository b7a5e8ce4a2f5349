#!/bin/sh
# The guest test's DENVME_POWER_CMD: a lab power switch for the device under
# test, called with "off" or "on". Inside the guest there is no relay, so it
# asks the host on the serial console (a VMTEST-HOST line); the host switches
# through QEMU's QMP (device_del / device_add of the same card, see
# tasks/vm/dut_slot.ts). Like a relay it returns at once: the driver then
# waits for the function to leave the bus or to come back.
case "$1" in
off | on) echo "VMTEST-HOST power $1" >/dev/console ;;
*)
	echo "usage: $0 off|on" >&2
	exit 2
	;;
esac

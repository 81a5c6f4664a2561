#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Plain `xoffctl attach` in the mount namespace this runs in (a host's or a container's),
# without `ip netns exec` and without -P: where /sys/fs/bpf has no bpffs (as on hosts whose
# /proc/1/ns/mnt cannot be read, where attach used to be refused as if under
# `ip netns exec`), attach mounts one there and pins in this network namespace's own
# directory; status and detach find it; the last detach removes the directory. The
# namespace is entered with nsenter --net, which keeps the mount namespace:
#
#   netns xst<pid>-h: xh0 <-veth-> xh1; pins: /sys/fs/bpf/xoff/net-<its inode>
#
# What this run mounted on /sys/fs/bpf, pinned and created is removed at exit, whatever
# happens; a bpffs that was there before stays, and only this run's entries go from it.
#   OUT=/tmp/out bash selftests/test_host.sh
. "$(dirname "$0")/lib.sh"

st_init test_host
command -v nsenter >/dev/null || { echo "SKIP: test_host: nsenter missing"; exit 4; }
is_bpffs() { [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ]; }
WAS_MOUNTED=0
is_bpffs && WAS_MOUNTED=1
ROOT_MADE=0
[ -e /sys/fs/bpf/xoff ] || ROOT_MADE=1
XDP_BEFORE=$(ls /sys/fs/bpf/xdp 2>/dev/null | sort)
XDP_MADE=0
[ -e /sys/fs/bpf/xdp ] || XDP_MADE=1
DIR=

host_cleanup()
{
	local n
	st_cleanup
	[ -z "$DIR" ] || [ ! -e "$DIR" ] || rm -rf "$DIR"
	if [ $WAS_MOUNTED = 0 ]; then
		is_bpffs && umount /sys/fs/bpf
	else
		for n in $(comm -13 <(echo "$XDP_BEFORE") <(ls /sys/fs/bpf/xdp 2>/dev/null | sort)); do
			rm -rf "/sys/fs/bpf/xdp/$n"
		done
		[ $ROOT_MADE = 0 ] || rmdir /sys/fs/bpf/xoff 2>/dev/null
		[ $XDP_MADE = 0 ] || rmdir /sys/fs/bpf/xdp 2>/dev/null
	fi
	true
}
trap host_cleanup EXIT

NS=$(st_ns h) || { st_fail setup "ip netns add"; st_done; }
ip -n "$NS" link add xh0 type veth peer name xh1 && ip -n "$NS" link set xh0 up &&
	ip -n "$NS" link set xh1 up || { st_fail setup "veth"; st_done; }
DIR=/sys/fs/bpf/xoff/net-$(stat -L -c %i "/run/netns/$NS")
xo() { nsenter --net="/run/netns/$NS" "$XOFFCTL" "$@"; }
st_log "mount namespace $(readlink /proc/self/ns/mnt); /sys/fs/bpf: $([ $WAS_MOUNTED = 1 ] &&
	echo "a bpffs" || echo "no bpffs"); /proc/1/ns/mnt: $(readlink /proc/1/ns/mnt 2>/dev/null || echo unreadable)"

# Readers mount nothing and say nothing is pinned.
out=$(xo -j status 2>&1)
if [ "$(jq -r '.pin_dir' <<< "$out" 2>/dev/null)" = "$DIR" ] &&
   [ "$(jq -r '.loaded' <<< "$out")" = false ]; then
	st_pass "status before attach: $DIR, nothing pinned"
else
	st_fail "status before attach" "$out"
fi
if [ $WAS_MOUNTED = 0 ]; then
	is_bpffs && st_fail "status mounts nothing" "a bpffs on /sys/fs/bpf" || st_pass "status mounts nothing"
fi

if out=$(xo attach xh0 2>&1); then st_pass "attach xh0 (no -P, no ip netns exec)"; else st_fail "attach xh0" "$out"; fi
is_bpffs && st_pass "a bpffs on /sys/fs/bpf" || st_fail "a bpffs on /sys/fs/bpf" "$(stat -f -c %T /sys/fs/bpf)"
[ -e "$DIR/xoff_ifaces" ] && st_pass "pins in $DIR" || st_fail "pins in $DIR" "$(ls /sys/fs/bpf/xoff 2>&1 | tr '\n' ' ')"
out=$(xo -j status 2>&1)
if [ "$(jq -r '[.interfaces[] | select(.dev == "xh0" and .state == "ok")] | length' <<< "$out" 2>/dev/null)" = 1 ]; then
	st_pass "status: xh0 ok"
else
	st_fail "status: xh0 ok" "$out"
fi
st_check "sa list" xo -j sa list
if out=$(xo detach xh0 2>&1); then st_pass "detach xh0"; else st_fail "detach xh0" "$out"; fi
[ ! -e "$DIR" ] && st_pass "the last detach removed $DIR" || st_fail "$DIR removed" "$(ls "$DIR" | tr '\n' ' ')"
ip -n "$NS" -d link show dev xh0 | grep -q 'prog/xdp' && st_fail "no XDP left on xh0" "attached" ||
	st_pass "no XDP left on xh0"
st_done

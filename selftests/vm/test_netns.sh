#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Two network namespaces on one host, each with xoff attached and its own daemon, driven
# only as iproute2 users drive them: `ip netns exec NS xoffctl ...`, without -P and
# without a bpffs mounted by hand (needs ESP: run it in the VM, selftests/vm/vm.sh). Each
# namespace has a veth pair of the same names (so the same ifindexes: the case where one
# shared pin directory corrupted the other's maps) and real ESP states, one SPI and
# destination in both:
#
#   netns A: xn0 <-veth-> xn1, SAs 0x1001.. + 0x3000     netns B: the same, 0x2001.. + 0x3000
#   pins: <anchor>/sys/fs/bpf/xoff/net-<inode of A>      <anchor>/sys/fs/bpf/xoff/net-<inode of B>
#
# The anchor is the mount namespace this script runs in (the VM's own, whose /sys/fs/bpf
# vm.sh mounted): `ip netns exec` remounts /sys, and xoffctl goes back there for its pins.
# Checked: each namespace's directory and owner; each SA map equals its own namespace's
# kernel (`ip xfrm state` against `xoffctl -j sa list` and the pinned map) as SAs are added
# and removed in both; every command pointed (-P) at the other namespace's directory exits
# 1 and changes nothing; detaching one leaves the other attached and in sync; the daemons
# stop cleanly and the directories go with the last interface. Whatever happens, the
# namespaces, daemons, pins (and libxdp's) this run made are removed.
#   env OUT=DIR [SYNC_SECS=10] bash selftests/vm/test_netns.sh
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ipsec.sh"

ips_init test_netns jq bpftool
SYNC_SECS=${SYNC_SECS:-10}
die() { st_fail "$1" "$2"; st_done; }

ROOT=/sys/fs/bpf/xoff
ROOT_MADE=0
[ -d $ROOT ] || ROOT_MADE=1
XDP_BEFORE=$(ls /sys/fs/bpf/xdp 2>/dev/null | sort)
XDP_MADE=0
[ -e /sys/fs/bpf/xdp ] || XDP_MADE=1
DIRS=()
# After lib.sh's cleanup (daemons stopped, namespaces gone): the pins this run made.
netns_cleanup()
{
	local d n
	ips_cleanup
	for d in "${DIRS[@]}"; do [ ! -e "$d" ] || rm -rf "$d"; done
	for n in $(comm -13 <(echo "$XDP_BEFORE") <(ls /sys/fs/bpf/xdp 2>/dev/null | sort)); do
		rm -rf "/sys/fs/bpf/xdp/$n"
	done
	[ $ROOT_MADE = 0 ] || rmdir $ROOT 2>/dev/null
	[ $XDP_MADE = 0 ] || rmdir /sys/fs/bpf/xdp 2>/dev/null	# libxdp's, made for this run
	true
}
trap netns_cleanup EXIT

ips_ns a || exit 1
A=$IPS_NS
ips_ns b || exit 1
B=$IPS_NS
ips_daemon_ns "$A"
ips_daemon_ns "$B"
ips_tmpdir || exit 1
TMP=$IPS_TMP
DA=$ROOT/net-$(ips_netns_ino "$A")
DB=$ROOT/net-$(ips_netns_ino "$B")
DIRS=("$DA" "$DB")

ips_need_esp test_netns "$A"
[ "$DA" != "$DB" ] || die setup "two namespaces with one inode"
for n in "$A" "$B"; do
	ip -n "$n" link add xn0 type veth peer name xn1 && ip -n "$n" link set xn0 up &&
		ip -n "$n" link set xn1 up || die setup "veth in $n"
done

# xo NS ARGS...: xoffctl in NS, as an operator runs it.
xo() { local n=$1; shift; ip netns exec "$n" "$XOFFCTL" "$@"; }

# ---- daemons and attach, no -P --------------------------------------------------------------
st_bg ip netns exec "$A" "$XOFFCTL" run interval 200 2>"$TMP/daemon-a.log"
DAEMON_A=$ST_BG_PID
st_bg ip netns exec "$B" "$XOFFCTL" run interval 200 2>"$TMP/daemon-b.log"
DAEMON_B=$ST_BG_PID
# running NS PID: status in NS shows its daemon, that process.
running() { xo "$1" -j status | jq -e --argjson p "$2" '.daemon.running and .daemon.pid == $p' >/dev/null; }
st_wait 30 running "$A" "$DAEMON_A" || die "daemon in A" "$(tail -n 2 "$TMP/daemon-a.log")"
st_wait 30 running "$B" "$DAEMON_B" || die "daemon in B" "$(tail -n 2 "$TMP/daemon-b.log")"
st_pass "a daemon in each namespace, started with ip netns exec"

for n in A B; do
	ns=${!n} d=D$n
	if out=$(xo "$ns" attach xn0 2>&1); then st_pass "attach xn0 in $n"; else die "attach xn0 in $n" "$out"; fi
	got=$(xo "$ns" -j status | jq -r '.pin_dir')
	[ "$got" = "${!d}" ] && st_pass "$n: pin directory ${!d}" || st_fail "$n: pin directory" "$got, not ${!d}"
	own=$(bpftool -j map dump pinned "${!d}/xoff_netns" | jq -r '.[0].formatted.value.ino')
	[ "$own" = "$(ips_netns_ino "$ns")" ] && st_pass "$n: owner recorded ($own)" ||
		st_fail "$n: owner recorded" "$own, not $(ips_netns_ino "$ns")"
	[ "$(xo "$ns" -j status | jq '.interfaces | length')" = 1 ] && st_pass "$n: one interface" ||
		st_fail "$n: one interface" "$(xo "$ns" -j status | jq -c '.interfaces')"
done

# ---- each map equals its own kernel -----------------------------------------------------------
# synced NS DIR: the SAs of NS's kernel ("SPI DST"), those sa list shows in the fast path
# and the pinned map's entries are the same set.
synced()
{
	local kern list n
	kern=$(ip -n "$1" xfrm state | awk '$1 == "src" { dst = $4 } $1 == "proto" && $3 == "spi" { print $4, dst }' | sort)
	list=$(xo "$1" -j sa list | jq -r '.[] | select(.path != "none") | "\(.spi) \(.dst)"' | sort)
	n=$(bpftool -j map dump pinned "$2/xoff_sas" | jq length)
	[ "$kern" = "$list" ] && [ "$n" = "$(grep -c . <<< "$kern")" ] && return 0
	echo "kernel: [$(echo $kern)], sa list: [$(echo $list)], map: $n entries"
	return 1
}
both_synced()
{
	local name=$1
	if st_wait "$SYNC_SECS" synced "$A" "$DA"; then st_pass "$name: A's map equals A's kernel"
	else st_fail "$name: A's map equals A's kernel" "$(synced "$A" "$DA")"; fi
	if st_wait "$SYNC_SECS" synced "$B" "$DB"; then st_pass "$name: B's map equals B's kernel"
	else st_fail "$name: B's map equals B's kernel" "$(synced "$B" "$DB")"; fi
}

ip -n "$A" -batch - <<EOF || die "SAs in A" "ip xfrm state add"
xfrm state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x1001 reqid 1 mode tunnel aead $(ips_aead 0x1001)
xfrm state add src 10.0.0.2 dst 10.0.0.1 proto esp spi 0x1002 reqid 1 mode tunnel aead $(ips_aead 0x1002)
xfrm state add src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x1003 reqid 1 mode tunnel aead $(ips_aead 0x1003)
xfrm state add src 10.0.0.1 dst 10.0.0.9 proto esp spi 0x1004 reqid 1 mode transport aead $(ips_aead 0x1004)
xfrm state add src 10.0.0.1 dst 10.9.9.9 proto esp spi 0x3000 reqid 1 mode tunnel aead $(ips_aead 0x3000)
EOF
ip -n "$B" -batch - <<EOF || die "SAs in B" "ip xfrm state add"
xfrm state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x2001 reqid 2 mode tunnel aead $(ips_aead 0x2001)
xfrm state add src 2001:db8::2 dst 2001:db8::1 proto esp spi 0x2002 reqid 2 mode tunnel aead $(ips_aead 0x2002)
xfrm state add src 10.0.0.5 dst 10.9.9.9 proto esp spi 0x3000 reqid 2 mode transport aead $(ips_aead 0x3000)
EOF
both_synced "5 SAs in A, 3 in B (SPI 0x3000 to 10.9.9.9 in both)"
mode3000() { xo "$1" -j sa list | jq -r '.[] | select(.spi == "0x00003000") | .mode'; }
[ "$(mode3000 "$A")" = tunnel ] && [ "$(mode3000 "$B")" = transport ] &&
	st_pass "SPI 0x3000: each namespace lists its own (A tunnel, B transport)" ||
	st_fail "SPI 0x3000: each namespace lists its own" "A: $(mode3000 "$A"), B: $(mode3000 "$B")"

ip -n "$A" -batch - <<EOF || die "SAs removed in A" "ip xfrm state delete"
xfrm state delete src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x1001
xfrm state delete src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x1003
xfrm state delete src 10.0.0.1 dst 10.9.9.9 proto esp spi 0x3000
EOF
ip -n "$B" xfrm state delete src 10.0.0.1 dst 10.0.0.2 proto esp spi 0x2001 || die "SA removed in B" "ip xfrm state delete"
ips_sa "$B" 10.0.0.1 10.0.0.2 0x2005 reqid 2 || die "SA added in B" "ip xfrm state add"
both_synced "3 removed in A (0x3000 among them), 1 removed and 1 added in B"
[ "$(mode3000 "$B")" = transport ] && st_pass "SPI 0x3000 removed in A stays in B" ||
	st_fail "SPI 0x3000 removed in A stays in B" "B lists: '$(mode3000 "$B")'"

# ---- the other namespace's directory is refused ---------------------------------------------
# What A's directory holds, less the heartbeat the daemon rewrites every sweep.
snap()
{
	(cd "$DA" && find . | sort)
	bpftool -j map dump pinned "$DA/xoff_sas" | jq -c 'sort_by(.key)'
	bpftool -j map dump pinned "$DA/xoff_ifaces" | jq -c .
	bpftool -j map dump pinned "$DA/xoff_netns" | jq -c .
	bpftool -j map dump pinned "$DA/xoff_cpus" | jq -c .
	ip -n "$A" -d link show dev xn0 | grep -o 'prog/xdp id [0-9]*'
}
devs_b() { ip -n "$B" -d link show | grep -o 'prog/xdp id [0-9]*'; }
before=$(snap; devs_b)
for cmd in "attach xn1" "detach xn0" "status" "-j sa list" "stats" "policy list" "metrics" "run"; do
	# shellcheck disable=SC2086
	out=$(xo "$B" -P "$DA" $cmd 2>&1)
	rc=$?
	if [ $rc = 1 ] && grep -q "belongs to network namespace net:\[$(ips_netns_ino "$A")\] '$A'" <<< "$out"; then
		st_pass "B: '$cmd' on A's directory refused, exit 1"
	else
		st_fail "B: '$cmd' on A's directory refused, exit 1" "exit $rc: $(tail -n 1 <<< "$out")"
	fi
done
after=$(snap; devs_b)
[ "$before" = "$after" ] && st_pass "A's directory, devices and B's devices unchanged" ||
	st_fail "A's directory, devices and B's devices unchanged" "$(diff <(echo "$before") <(echo "$after") | head -n 4 | tr '\n' ' ')"
st_check "A's daemon still runs" running "$A" "$DAEMON_A"

# ---- detaching B leaves A as it was -------------------------------------------------------------
before=$(snap)
if out=$(xo "$B" detach xn0 2>&1); then st_pass "detach xn0 in B"; else st_fail "detach xn0 in B" "$out"; fi
ip -n "$B" -d link show dev xn0 | grep -q 'prog/xdp' && st_fail "B's xn0 has no XDP" "still attached" ||
	st_pass "B's xn0 has no XDP"
after=$(snap)
[ "$before" = "$after" ] && st_pass "detach in B: A's directory and device unchanged" ||
	st_fail "detach in B: A's directory and device unchanged" "$(diff <(echo "$before") <(echo "$after") | head -n 4 | tr '\n' ' ')"
[ -d "$DB" ] && st_pass "B's maps stay for B's daemon" || st_fail "B's maps stay for B's daemon" "$DB is gone"
ips_sa "$A" 10.0.0.7 10.0.0.8 0x1007 || die "SA added in A" "ip xfrm state add"
ip -n "$B" xfrm state delete src 10.0.0.5 dst 10.9.9.9 proto esp spi 0x3000
both_synced "after B's detach, 1 added in A, 1 removed in B"

# ---- stop: the directories go with the last interface ---------------------------------------
if st_stop "$DAEMON_B"; then st_pass "B's daemon stops cleanly"; else st_fail "B's daemon stops cleanly" "$(tail -n 2 "$TMP/daemon-b.log")"; fi
[ ! -e "$DB" ] && st_pass "B: no interface, no daemon: $DB removed" || st_fail "B: $DB removed" "$(ls "$DB" | tr '\n' ' ')"
st_check "A still in sync without B" synced "$A" "$DA"
st_check "detach xn0 in A" xo "$A" detach xn0
if st_stop "$DAEMON_A"; then st_pass "A's daemon stops cleanly"; else st_fail "A's daemon stops cleanly" "$(tail -n 2 "$TMP/daemon-a.log")"; fi
[ ! -e "$DA" ] && st_pass "A: $DA removed" || st_fail "A: $DA removed" "$(ls "$DA" | tr '\n' ' ')"
for n in a b; do
	bad=$(grep -E 'xoffd: (error|warning)' "$TMP/daemon-$n.log")
	[ -z "$bad" ] && st_pass "daemon $n logged no error or warning" ||
		st_fail "daemon $n logged no error or warning" "$(head -n 1 <<< "$bad")"
done
st_done

#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Devices that change under an attached xoff, with real SAs and the daemon running (needs
# ESP: run it in the VM, selftests/vm/vm.sh; netdevsim for the offload part). Namespaces A
# (sender) and B (xoff) joined by a veth, an IPv4 ESP tunnel A -> B; xoff attached on B's
# veth. Each change is followed by `xoffctl -j status` (the interface's state, the daemon
# alive with the same pid) and, where the device is back, by traffic through the tunnel
# that xoff's fast path must count:
#   - down, renamed (status names it anew, "attached as" the old name), up: state down,
#     then ok; traffic counted again;
#   - moved to a third namespace: state gone (its XDP program went along), then back:
#     degraded (the qdisc, and xoff's TC filter, went with the move); detach and attach
#     again: ok, traffic counted;
#   - deleted: state gone; detach forgets it; a new veth of the same name attaches;
#   - netdevsim with offloaded SAs: set down, the kernel flushes the SAs offloaded to it
#     without an XFRM event: the daemon sees the link go down and resyncs, the map and sa
#     list drop them; the device deleted (del_device): the same, state gone.
# Finally the daemon logged no error and stops cleanly.
#   env OUT=DIR bash selftests/vm/test_devices.sh
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ipsec.sh"

ips_init test_devices jq bpftool
PKTGEN=$OUT/xoff-pktgen
ips_need test_devices "$PKTGEN"
die() { st_fail "$1" "$2"; st_done; }

ips_ns a || exit 1
A=$IPS_NS
ips_ns b || exit 1
B=$IPS_NS
ips_ns c || exit 1
C=$IPS_NS
ips_daemon_ns "$B"
ips_bpffs || exit 1
BPFFS=$IPS_BPFFS
PINS=$BPFFS/xoff
ips_tmpdir || exit 1
TMP=$IPS_TMP

ips_need_esp test_devices "$B"

# The veth A:va <-> B:vb with the tunnel's outer addresses and routes (again after the
# veth is deleted); the tunnel's SAs and policies live in the namespaces, not on devices.
# link_up [routes]: the routes to the inner addresses too (ips_tunnel adds them first).
link_up()
{
	ips_veth "$A" va "$B" vb || return 1
	ip -n "$A" addr add 10.0.0.1/24 dev va && ip -n "$B" addr add 10.0.0.2/24 dev vb || return 1
	[ "${1:-}" = routes ] || return 0
	ip -n "$A" route add 192.168.2.1 via 10.0.0.2 src 192.168.1.1 &&
	ip -n "$B" route add 192.168.1.1 via 10.0.0.1 src 192.168.2.1
}
ip -n "$A" addr add 192.168.1.1/32 dev lo
ip -n "$B" addr add 192.168.2.1/32 dev lo
link_up || die setup "veth"
ips_tunnel "$A" "$B" 10.0.0.1 10.0.0.2 192.168.1.1 192.168.2.1 0xa4 0xb4 4 2>"$TMP/err" ||
	die setup "tunnel: $(head -n 2 "$TMP/err")"

xo() { ip netns exec "$B" env LIBXDP_BPFFS="$BPFFS" "$XOFFCTL" -P "$PINS" "$@"; }
st_bg ip netns exec "$B" env LIBXDP_BPFFS="$BPFFS" "$XOFFCTL" -P "$PINS" run 2>"$TMP/daemon.log"
DAEMON=$ST_BG_PID
daemon_up() { xo -j status | jq -e '.daemon.running' >/dev/null; }
st_wait 20 daemon_up || die "daemon starts" "$(tail -n 2 "$TMP/daemon.log")"
DPID=$(xo -j status | jq -r '.daemon.pid')
if out=$(xo attach vb 2>&1); then st_pass "attach vb"; else die "attach vb" "$out"; fi

# is_state DEV STATE ATTACHED-AS: status shows the one interface so, and the same daemon.
is_state()
{
	xo -j status | jq -e --arg d "$1" --arg s "$2" --arg a "$3" --argjson p "$DPID" '
		.daemon.running and .daemon.pid == $p and (.interfaces | length) == 1 and
		.interfaces[0].dev == $d and .interfaces[0].state == $s and
		.interfaces[0].attached_as == $a' >/dev/null ||
		{ echo "status: $(xo -j status | jq -c '{daemon: .daemon | {running, pid}, interfaces}')"; return 1; }
}
# expect_state NAME DEV STATE ATTACHED-AS
expect_state()
{
	local name=$1
	shift
	if st_wait 5 is_state "$@"; then st_pass "$name"; else st_fail "$name" "$(is_state "$@")"; fi
}
# counted NAME N: N pings through the tunnel come back and xoff's SA 0xa4 counts N more.
fp() { xo -j sa list spi 0xa4 | jq -r '.[0].fastpath_packets // 0'; }
counted()
{
	local name=$1 n=$2 p0 got
	p0=$(fp)
	got=$(ip netns exec "$A" ping -q -c "$n" -i 0.05 -W 2 -I 192.168.1.1 192.168.2.1 2>&1 |
		sed -n 's/.* \([0-9]*\) received.*/\1/p')
	if [ "$got" = "$n" ] && [ $(($(fp) - p0)) = "$n" ]; then
		st_pass "$name"
	else
		st_fail "$name" "${got:-no} replies of $n, xoff counted $(($(fp) - p0))"
	fi
}
counted "attached: 5 pings through the tunnel counted on SA 0xa4" 5

# ---- down, renamed (only a device that is down may be), up -----------------------------------
ip -n "$B" link set vb down
expect_state "set down: state down" vb down vb
ip -n "$B" link set vb name vbr
expect_state "renamed vb -> vbr: state down, attached as vb, same daemon" vbr down vb
ip -n "$B" link set vbr up
ip -n "$B" route add 192.168.1.1 via 10.0.0.1 src 192.168.2.1 2>/dev/null	# gone with the link
expect_state "set up again: state ok" vbr ok vb
counted "renamed and up again: traffic counted" 5

# ---- to another namespace and back -----------------------------------------------------------
ip -n "$B" link set vbr netns "$C"
expect_state "moved to another namespace: state gone" vb gone vb
ip -n "$C" link set vbr netns "$B"
ip -n "$B" link set vbr up
ip -n "$B" addr add 10.0.0.2/24 dev vbr
ip -n "$B" route add 192.168.1.1 via 10.0.0.1 src 192.168.2.1
expect_state "back: state degraded (its TC filter went with the qdisc)" vbr degraded vb
if out=$(xo detach vbr 2>&1) && out=$(xo attach vbr 2>&1); then
	st_pass "back: detach and attach again"
else
	st_fail "back: detach and attach again" "$out"
fi
expect_state "attached again: state ok" vbr ok vbr
counted "attached again: traffic counted" 5

# ---- deleted ------------------------------------------------------------------------------------
ip -n "$B" link del vbr
expect_state "deleted: state gone" vbr gone vbr
# (A dispatcher's programs stay while libxdp's pins hold them: xdp_gone or xdp_elsewhere.)
if out=$(xo -j detach vbr 2>&1) && jq -e '.xdp_gone != .xdp_elsewhere' <<< "$out" >/dev/null &&
   [ "$(xo -j status | jq '.interfaces | length')" = 0 ]; then
	st_pass "deleted: detach forgets it"
else
	st_fail "deleted: detach forgets it" "$out"
fi
link_up routes || die "a new veth" "ip link"
if out=$(xo attach vb 2>&1); then st_pass "a new vb: attach"; else st_fail "a new vb: attach" "$out"; fi
expect_state "a new vb: state ok" vb ok vb
counted "a new vb: traffic counted" 5

# ---- netdevsim: the kernel flushes offloaded SAs silently -------------------------------------
nsim_part()
{
	if ! ips_nsim "$B" xnsim0; then
		st_skip "netdevsim: offloaded SAs flushed with the device" "$IPS_WHY"
		return
	fi
	ip -n "$B" addr add 10.1.0.1/24 dev xnsim0
	nsim_sas()
	{
		ips_sa "$B" 10.1.0.1 10.1.0.2 0x1001 offload dev xnsim0 dir out &&
		ips_sa "$B" 10.1.0.2 10.1.0.1 0x1002 offload dev xnsim0 dir in
	}
	nsim_sas || { st_fail "netdevsim: offloaded SAs" "ip xfrm state add ... offload"; return; }
	# hw_sas N: sa list shows N SAs on the hw path and the map holds the tunnel's 2 + N.
	hw_sas()
	{
		local hw m
		hw=$(xo -j sa list | jq '[.[] | select(.path == "hw")] | length')
		m=$(bpftool -j map dump pinned "$PINS/xoff_sas" | jq length)
		[ "$hw" = "$1" ] && [ "$m" = $((2 + $1)) ] || { echo "sa list: $hw hw SAs, map: $m entries"; return 1; }
	}
	if st_wait 5 hw_sas 2; then st_pass "netdevsim: 2 offloaded SAs mapped hw"; else st_fail "netdevsim: 2 offloaded SAs mapped hw" "$(hw_sas 2)"; fi
	if out=$(xo attach xnsim0 2>&1); then st_pass "attach xnsim0"; else st_fail "attach xnsim0" "$out"; fi
	r0=$(xo -j status | jq '.daemon.resyncs')
	t0=$(date +%s%N)
	ip -n "$B" link set xnsim0 down
	gone_kernel() { ! ip -n "$B" xfrm state | grep -q 'spi 0x0000100[12]'; }
	if gone_kernel; then
		st_pass "netdevsim down: the kernel removed its offloaded SAs"
	else
		st_fail "netdevsim down: the kernel removed its offloaded SAs" "still there (this kernel keeps them: the rest checks nothing)"
	fi
	if st_wait 5 hw_sas 0; then
		st_pass "netdevsim down: the daemon resynced, map and sa list without them ($((($(date +%s%N) - t0) / 1000000)) ms)"
	else
		st_fail "netdevsim down: map and sa list without them" "$(hw_sas 0)"
	fi
	# (The heartbeat that status reads comes with the next sweep, within a second.)
	resynced() { [ "$(xo -j status | jq '.daemon.resyncs')" -gt "$r0" ]; }
	st_wait 3 resynced && st_pass "netdevsim down: one more resync ($r0 -> $(xo -j status | jq '.daemon.resyncs'))" ||
		st_fail "netdevsim down: one more resync" "$r0 -> $(xo -j status | jq '.daemon.resyncs')"
	expect_state2() { xo -j status | jq -e --arg s "$1" '.interfaces[] | select(.dev == "xnsim0") | .state == $s' >/dev/null; }
	st_wait 5 expect_state2 down && st_pass "netdevsim down: state down" ||
		st_fail "netdevsim down: state down" "$(xo -j status | jq -c '.interfaces')"
	ip -n "$B" link set xnsim0 up
	nsim_sas || { st_fail "netdevsim up: offloaded SAs again" "ip xfrm state add"; return; }
	if st_wait 5 hw_sas 2; then st_pass "netdevsim up: offloaded again, mapped hw"; else st_fail "netdevsim up: mapped hw" "$(hw_sas 2)"; fi
	ips_nsim_del
	if st_wait 5 hw_sas 0; then
		st_pass "netdevsim deleted: map and sa list without its SAs"
	else
		st_fail "netdevsim deleted: map and sa list without its SAs" "$(hw_sas 0)"
	fi
	st_wait 5 expect_state2 gone && st_pass "netdevsim deleted: state gone" ||
		st_fail "netdevsim deleted: state gone" "$(xo -j status | jq -c '.interfaces')"
	st_check "netdevsim deleted: detach forgets it" xo detach xnsim0
}
nsim_part
st_check "the daemon still runs, same pid" is_state vb ok vb
counted "the tunnel still counted at the end" 5

# ---- the daemon saw no trouble, stops cleanly -------------------------------------------------
bad=$(grep -E 'xoffd: (error|warning)' "$TMP/daemon.log")
[ -z "$bad" ] && st_pass "daemon logged no error or warning" ||
	st_fail "daemon logged no error or warning" "$(head -n 1 <<< "$bad")"
st_log "daemon: $(grep -c 'went down or away' "$TMP/daemon.log") link-triggered resyncs"
st_check "detach vb" xo detach vb
if st_stop "$DAEMON"; then st_pass "daemon stops cleanly"; else st_fail "daemon stops cleanly" "$(tail -n 2 "$TMP/daemon.log")"; fi
st_done

#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Offload coexistence on netdevsim, an emulated NIC with IPsec crypto offload (needs ESP
# and netdevsim.ko: run it in the VM, selftests/vm/vm.sh, which builds the module):
#  - SAs offloaded to the netdevsim device are reported hw on it, the others sw, each with
#    its reason (none requested, the kernel fell back on an offload-capable NIC, a veth
#    "offload" that silently stays software, offloaded to a NIC the peer is not routed via);
#  - attach and detach change neither the kernel's offload parameters nor netdevsim's own
#    SA table (debugfs), byte for byte;
#  - a second XDP program runs beside xoff through libxdp's dispatcher, loaded after xoff
#    (netdevsim) and before it (veth, with traffic: both programs count the same frames,
#    and detaching xoff leaves the other one running);
#  - TX through an offloaded SA reaches netdevsim's tx count, and xoff's TC egress counts
#    it on the hw path.
#   env OUT=DIR bash selftests/vm/test_offload.sh
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ipsec.sh"

ips_init test_offload jq bpftool xdp-loader xdp-filter
ips_need test_offload "$OUT/xoff-pktgen"

ips_ns o || exit 1
NS=$IPS_NS
ips_ns p || exit 1
PEER=$IPS_NS
ips_daemon_ns "$NS"
ips_bpffs || exit 1
BPFFS=$IPS_BPFFS
PINS=$BPFFS/xoff
ips_tmpdir || exit 1
TMP=$IPS_TMP

# ---- what this kernel has: ESP, netdevsim with its debugfs --------------------------------
ips_need_esp test_offload "$NS"
NSIM=xnsim0
if ! ips_nsim "$NS" $NSIM; then
	case $IPS_WHY in
	"no netdevsim module"*) echo "SKIP: test_offload: $IPS_WHY"; exit 4 ;;
	*) echo "FAIL: test_offload: $IPS_WHY"; exit 1 ;;
	esac
fi
DBG=/sys/kernel/debug/netdevsim/netdevsim$IPS_NSIM_ID/ports/0/ipsec
[ -r "$DBG" ] || { echo "SKIP: test_offload: no $DBG (netdevsim built without IPsec offload, or no debugfs)"; exit 4; }
VA=xoa0 VB=xob0
# No IPv6 chatter (MLD, router solicitations) from the peer: the XDP counts stay exact.
ip netns exec "$PEER" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1
ips_veth "$NS" $VA "$PEER" $VB || exit 1

# Addresses: 10.1.0.0/24 and fd00:1::/64 on netdevsim (NOARP: no neighbour to resolve),
# 10.2.0.0/24 on the veth, and 10.9.0.2 routed through the veth.
ip -n "$NS" addr add 10.1.0.1/24 dev $NSIM
# netdevsim has no peer here: newer ones (6.12) ARP (6.1's were NOARP), and an unanswered ARP
# would hold the TX test's packets in the neighbour queue, before TC and the driver.
ip -n "$NS" neigh replace 10.1.0.2 lladdr 02:00:00:00:10:02 dev $NSIM nud permanent
ip -n "$NS" addr add fd00:1::1/64 dev $NSIM nodad
ip -n "$NS" addr add 10.2.0.1/24 dev $VA
ip -n "$PEER" addr add 10.2.0.2/24 dev $VB
ip -n "$NS" route add 10.9.0.2/32 dev $VA

# libxdp keeps its dispatcher's state on bpffs; `ip netns exec` remounts /sys, so without
# LIBXDP_BPFFS it finds none there and falls back to a single program.
nx() { ip netns exec "$NS" env LIBXDP_BPFFS="$BPFFS" "$@"; }
xo() { nx "$XOFFCTL" -P "$PINS" "$@"; }

# ---- the SAs ----------------------------------------------------------------------------------
st_check "SA offloaded to $NSIM (out)" ips_sa "$NS" 10.1.0.1 10.1.0.2 0x1001 offload dev $NSIM dir out
st_check "SA offloaded to $NSIM (in)" ips_sa "$NS" 10.1.0.2 10.1.0.1 0x1002 offload dev $NSIM dir in
st_check "SA without offload to a peer behind $NSIM" ips_sa "$NS" 10.1.0.1 10.1.0.3 0x1003
st_check "SA with 'offload dev $VA dir in' is accepted" ips_sa "$NS" 10.2.0.2 10.2.0.1 0x1004 offload dev $VA dir in
st_check "SA without offload on the veth" ips_sa "$NS" 10.2.0.1 10.2.0.2 0x1005
st_check "SA offloaded to $NSIM, peer routed via $VA" ips_sa "$NS" 10.1.0.1 10.9.0.2 0x1006 offload dev $NSIM dir out
st_check "IPv6 SA offloaded to $NSIM (out)" ips_sa "$NS" fd00:1::1 fd00:1::2 0x1007 offload dev $NSIM dir out

# The kernel's view: "crypto offload parameters" for exactly the netdevsim SAs.
offload_of() # SPI -> the state's offload line, or "none"
{
	ip -n "$NS" xfrm state | awk -v spi="$(printf '0x%08x' "$1")" '
		$1 == "proto" { cur = $4 == spi; next }
		/^src / { cur = 0 }
		cur && /crypto offload parameters/ { sub(/^[ \t]+/, ""); print; found = 1 }
		END { if (!found) print "none" }'
}
kernel_offload()
{
	local spi want got
	for spi in 0x1001:"dev $NSIM dir out" 0x1002:"dev $NSIM dir in" 0x1006:"dev $NSIM dir out" \
		   0x1007:"dev $NSIM dir out" 0x1003:none 0x1004:none 0x1005:none; do
		want=${spi#*:}
		got=$(offload_of "${spi%%:*}")
		[ "$want" = none ] || want="crypto offload parameters: $want"
		[ "$got" = "$want" ] || { echo "spi ${spi%%:*}: '$got', want '$want'"; return 1; }
	done
	grep -q "SA count=4 " "$DBG" || { echo "netdevsim holds: $(head -1 "$DBG")"; return 1; }
}
st_check "kernel: the 4 netdevsim SAs offloaded (netdevsim holds 4), the veth one silently software" kernel_offload

# ---- the daemon, then sa list: path and reason of each -----------------------------------------
st_bg ip netns exec "$NS" env LIBXDP_BPFFS="$BPFFS" "$XOFFCTL" -P "$PINS" run pin-dir "$PINS" 2>"$TMP/daemon.log"
DAEMON=$ST_BG_PID
daemon_up() { xo -j status | jq -e '.daemon.running == true and .daemon.sas == 7 and .daemon.sas_mapped == 7' >/dev/null; }
if st_wait 10 daemon_up; then
	st_pass "daemon: 7 SAs in the fast path"
else
	st_fail "daemon: 7 SAs in the fast path" "$(xo -j status | jq -c .daemon) $(tail -n 2 "$TMP/daemon.log")"
fi

# One `sa list`, as lines "SPI DIR PATH OFFLOAD_DEV TRAFFIC_DEV<TAB>REASON".
xo -j sa list | jq -r '.[] | "\(.spi) \(.dir) \(.path) \(.offload_dev // "-") \(.traffic_dev // "-")\t\(.path_reason)"' > "$TMP/sas"
# sa_is SPI DIR PATH OFFLOAD_DEV TRAFFIC_DEV REASON: one SA as `sa list` reported it; REASON
# is the start of its path_reason.
sa_is()
{
	local spi line got want reason
	spi=$(printf '0x%08x' "$1")
	line=$(grep "^$spi " "$TMP/sas")
	got=${line%%$'\t'*}
	reason=${line#*$'\t'}
	want="$spi $2 $3 $4 $5"
	[ "$got" = "$want" ] || { echo "'$got', want '$want' (spi dir path offload_dev traffic_dev)"; return 1; }
	[[ $reason == "$6"* ]] || { echo "spi $1: reason '$reason', want '$6...'"; return 1; }
}
st_check "sa list: out SA offloaded to $NSIM is hw there" \
	sa_is 0x1001 out hw $NSIM $NSIM "crypto offload on $NSIM"
st_check "sa list: in SA offloaded to $NSIM is hw there" \
	sa_is 0x1002 in hw $NSIM $NSIM "crypto offload on $NSIM"
st_check "sa list: IPv6 SA offloaded to $NSIM is hw there" \
	sa_is 0x1007 out hw $NSIM $NSIM "crypto offload on $NSIM"
st_check "sa list: no offload although $NSIM offers it: sw" \
	sa_is 0x1003 out sw - $NSIM "software: the kernel reports no offload although $NSIM offers ESP offload"
st_check "sa list: 'offload dev $VA' is a software SA: sw, no offload requested" \
	sa_is 0x1004 in sw - $VA "software: no offload requested ($VA has no ESP offload)"
st_check "sa list: veth SA without offload: sw" \
	sa_is 0x1005 out sw - $VA "software: no offload requested ($VA has no ESP offload)"
st_check "sa list: offloaded to $NSIM but the peer is routed via $VA" \
	sa_is 0x1006 out hw $NSIM $VA "offloaded to $NSIM but traffic to the peer uses $VA: that NIC never sees it"

# ---- attach and detach leave the offload alone ------------------------------------------------
snap() { { ip -n "$NS" xfrm state; echo "---- $DBG"; cat "$DBG"; } > "$1"; }
same_snap()
{
	cmp -s "$TMP/before" "$1" ||
		{ echo "changed: $(diff "$TMP/before" "$1" | grep '^[<>]' | head -2 | tr '\n' ' ')"; return 1; }
}
snap "$TMP/before"
if out=$(xo attach $NSIM xdp-mode native 2>&1); then
	st_pass "attach $NSIM (native XDP)"
else
	st_fail "attach $NSIM (native XDP)" "$out"
fi
snap "$TMP/attached"
st_check "attach: offload parameters and netdevsim's SA table unchanged" same_snap "$TMP/attached"

# A second program, loaded after xoff: both in the dispatcher.
disp_has() # DEV PROG...: xdp-loader lists a dispatcher on DEV running exactly PROGs
{
	local dev=$1 s progs
	shift
	s=$(nx xdp-loader status "$dev" 2>&1)
	grep -q "^$dev .*xdp_dispatcher" <<< "$s" || { echo "no dispatcher on $dev: $(echo $s | tail -c 200)"; return 1; }
	progs=$(awk '$1 == "=>" { print $3 }' <<< "$s" | sort | tr '\n' ' ')
	[ "$progs" = "$(printf '%s\n' "$@" | sort | tr '\n' ' ')" ] ||
		{ echo "$dev's dispatcher runs: $progs, want: $*"; return 1; }
}
xoff_dispatched() # DEV: status says xoff runs in the dispatcher, attached
{
	xo -j status | jq -e --arg d "$1" \
		'.interfaces[] | select(.dev == $d) | .dispatcher and .xdp_attached and .tc_attached' \
		>/dev/null || { echo "status: $(xo -j status | jq -c .interfaces)"; return 1; }
}
st_check "status: xoff on $NSIM in libxdp's dispatcher" xoff_dispatched $NSIM
st_check "xdp-loader loads a second program on $NSIM after xoff" \
	nx xdp-loader load -m native $NSIM "$OUT/bench.bpf.o" -p bench_empty
st_check "$NSIM's dispatcher runs xoff_xdp and bench_empty" disp_has $NSIM xoff_xdp bench_empty
st_check "bpftool net: one XDP program (the dispatcher) on $NSIM" \
	bash -c "ip netns exec $NS bpftool -j net | jq -e '[.[0].xdp[] | select(.devname == \"$NSIM\")] | length == 1 and .[0].mode == \"driver\"'"
st_check "status: xoff still attached beside it" xoff_dispatched $NSIM
if out=$(xo detach $NSIM 2>&1); then st_pass "detach $NSIM"; else st_fail "detach $NSIM" "$out"; fi
st_check "detach leaves bench_empty alone on $NSIM" disp_has $NSIM bench_empty
snap "$TMP/detached"
st_check "detach: offload parameters and netdevsim's SA table unchanged" same_snap "$TMP/detached"
nx xdp-loader unload $NSIM --all >/dev/null 2>&1

# ---- TX through the offloaded SA: netdevsim's tx count and xoff's TC egress ---------------------
dbg_tx() { sed -n 's/^SA count=[0-9]* tx=\([0-9]*\).*/\1/p' "$DBG"; }
sa_field() { xo -j sa list spi "$1" | jq -r ".[0] | \"$2\""; }	# sa_field SPI '\(.a) \(.b)'

tc_reason() { xo -j stats | jq -r --arg d "$1" --arg r "$2" '.interfaces[] | select(.dev == $d) | .tc[$r].total'; }
ip -n "$NS" xfrm policy add src 10.1.0.1 dst 10.1.0.2 dir out \
	tmpl src 10.1.0.1 dst 10.1.0.2 proto esp reqid 1 mode tunnel
if out=$(xo attach $NSIM 2>&1); then
	tx0=$(dbg_tx)
	hw0=$(tc_reason $NSIM sa-hw)
	nx bash -c 'for i in 1 2 3; do echo xoff > /dev/udp/10.1.0.2/9; done'
	tx_seen() { [ "$(dbg_tx)" = $((tx0 + 3)) ]; }
	if st_wait 5 tx_seen; then
		st_pass "TX: 3 datagrams through SA 0x1001 reach netdevsim's tx count ($tx0 -> $(dbg_tx))"
	else
		st_fail "TX: 3 datagrams through SA 0x1001 reach netdevsim's tx count" "tx $tx0 -> $(dbg_tx)"
	fi
	read -r kb kp <<< "$(ips_curlft "$NS" 0x1001)"
	read -r fp fb <<< "$(sa_field 0x1001 '\(.fastpath_packets) \(.fastpath_bytes)')"
	hw1=$(tc_reason $NSIM sa-hw)
	if [ "$fp" = 3 ] && [ "$kp" = 3 ] && [ $((hw1 - hw0)) = 3 ]; then
		st_pass "TX: xoff's TC egress counts them on the hw path (sa-hw +3, SA packets 3 = kernel's 3)"
	else
		st_fail "TX: xoff's TC egress counts them on the hw path" \
			"sa-hw +$((hw1 - hw0)), SA packets $fp, kernel packets $kp"
	fi
	# abi.h: the kernel's bytes plus each packet's padding, 0 to 3 bytes for AEAD.
	if [ -n "$kb" ] && [ "$fb" -ge "$kb" ] && [ "$fb" -le $((kb + 3 * 3)) ]; then
		st_pass "TX: bytes of SA 0x1001 by xoff's definition: $fb for the kernel's $kb"
	else
		st_fail "TX: bytes of SA 0x1001 by xoff's definition" \
			"xoff $fb, kernel $kb: want $kb to $((kb + 9)) (ESP seen at TC before esp_xmit() adds trailer and ICV?)"
	fi
	xo detach $NSIM >/dev/null 2>&1
else
	st_fail "TX: attach $NSIM" "$out"
fi
ip -n "$NS" xfrm policy flush

# ---- a program loaded before xoff, on the veth, with traffic ----------------------------------
# xdp-filter (xdp-tools) counts what it passes; xoff with steering off passes ESP of its
# software SA 0x1004 on too, so the dispatcher runs both on every frame.
filter_pass() { nx xdp-filter status 2>/dev/null | awk '$1 == "XDP_PASS" { print $2 }'; }
xdp_reason() { xo -j stats | jq -r --arg d "$1" --arg r "$2" '.interfaces[] | select(.dev == $d) | .xdp[$r].total'; }
MAC=$(ip -n "$NS" -j link show $VA | jq -r '.[0].address')
send() { ip netns exec "$PEER" "$OUT/xoff-pktgen" $VB --src 10.2.0.2 --dst 10.2.0.1 --spi 0x1004 --dmac "$MAC" --count "$1" --quiet; }
st_check "xdp-filter loads on $VA before xoff" nx xdp-filter load -m native $VA
if out=$(xo attach $VA xdp-mode native steer off 2>&1); then
	st_pass "attach $VA beside xdp-filter"
else
	st_fail "attach $VA beside xdp-filter" "$out"
fi
st_check "status: xoff on $VA in libxdp's dispatcher" xoff_dispatched $VA
st_check "$VA's dispatcher runs xoff_xdp and xdp-filter's program" disp_has $VA xoff_xdp xdpfilt_alw_all
f0=$(filter_pass)
p0=$(sa_field 0x1004 '\(.fastpath_packets)')
send 40
both_count()
{
	local f p r
	f=$(filter_pass) p=$(sa_field 0x1004 '\(.fastpath_packets)') r=$(xdp_reason $VA sa-sw)
	[ $((f - f0)) = 40 ] && [ $((p - p0)) = 40 ] && [ "$r" = 40 ] ||
		{ echo "xdp-filter passed +$((f - f0)), xoff SA 0x1004 +$((p - p0)), xoff sa-sw $r"; return 1; }
}
if st_wait 5 both_count; then
	st_pass "40 ESP frames: xoff counts them (SA 0x1004, sa-sw) and xdp-filter passes them"
else
	st_fail "40 ESP frames through both programs" "$(both_count)"
fi
if out=$(xo detach $VA 2>&1); then st_pass "detach $VA"; else st_fail "detach $VA" "$out"; fi
st_check "detach leaves xdp-filter alone on $VA" disp_has $VA xdpfilt_alw_all
f1=$(filter_pass)
p1=$(sa_field 0x1004 '\(.fastpath_packets)')
send 20
only_filter()
{
	local f p
	f=$(filter_pass) p=$(sa_field 0x1004 '\(.fastpath_packets)')
	[ $((f - f1)) = 20 ] && [ "$p" = "$p1" ] ||
		{ echo "xdp-filter passed +$((f - f1)), xoff SA 0x1004 +$((p - p1))"; return 1; }
}
if st_wait 5 only_filter; then
	st_pass "after detach: xdp-filter still runs (+20), xoff no longer counts"
else
	st_fail "after detach: xdp-filter still runs, xoff no longer counts" "$(only_filter)"
fi
st_check "xdp-filter unloads" nx xdp-filter unload $VA

# ---- a packet-offload policy on netdevsim: the kernel's answer, and policy list agrees -----
# netdevsim emulates crypto offload only (no xdo_dev_policy_add); Debian 12's ip cannot ask
# for packet offload on a policy, sid's can. Whatever the kernel answers, xoff shows it.
pol_part()
{
	local sid=${XOFF_SID_ROOT:-} out pol
	if [ -z "$sid" ] || [ ! -d "$sid/usr/sbin" ]; then
		st_skip "a packet-offload policy on $NSIM" "no sid userspace (Debian 12's ip cannot set offload on a policy)"
		return
	fi
	if out=$(ip netns exec "$NS" chroot "$sid" ip xfrm policy add src 10.1.0.1/32 dst 10.1.0.9/32 \
			dir out offload packet dev $NSIM \
			tmpl src 10.1.0.1 dst 10.1.0.9 proto esp reqid 99 mode tunnel 2>&1); then
		pol=$(xo -j policy list | jq -r '.[] | select(.dst == "10.1.0.9/32") | "\(.offload_mode) \(.offload_dev)"')
		[ "$pol" = "packet $NSIM" ] && st_pass "the kernel took a packet-offload policy on $NSIM; policy list shows it" ||
			st_fail "policy list shows the packet-offload policy on $NSIM" "got '$pol'"
		ip -n "$NS" xfrm policy delete src 10.1.0.1/32 dst 10.1.0.9/32 dir out
	else
		st_log "the kernel refuses a packet-offload policy on $NSIM: $out"
		pol=$(xo -j policy list | jq '[.[] | select(.dst == "10.1.0.9/32")] | length')
		[ "$pol" = 0 ] && st_pass "the kernel refuses packet offload on a policy for $NSIM (crypto only); policy list has no such policy" ||
			st_fail "no refused policy in policy list" "$pol"
	fi
}
pol_part

# ---- the daemon stops cleanly, nothing of xoff is left -------------------------------------------
if st_stop "$DAEMON"; then st_pass "daemon stops cleanly"; else st_fail "daemon stops cleanly" "$(tail -n 2 "$TMP/daemon.log")"; fi
no_xdp() { ! ip -n "$NS" link show | grep -q 'prog/xdp'; }
st_check "no XDP program left in $NS" no_xdp
st_check "nothing left pinned" bash -c "[ -z \"\$(ls -A $PINS 2>/dev/null)\" ]"
st_done

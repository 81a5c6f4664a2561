#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Faults, on real SAs (needs ESP: run it in the VM, selftests/vm/vm.sh): nothing lost,
# nothing counted twice, no crash.
#  1. Event storm: FAULT_SAS (10000) SA adds, then half of them deleted, in `ip -batch`
#     against a daemon whose netlink receive buffer is made small (rcvbuf 4096): the
#     kernel drops events (ENOBUFS), the daemon resyncs, and afterwards its SA map holds
#     exactly the kernel's SPIs.
#  2. kill -9: a daemon with mirror on is killed at random moments FAULT_KILLS (20) times
#     and started again, while xoff-counters feeds the counters of FAULT_FED (300) SAs (as a
#     NIC would report traffic), SAs come and go, and 2000 more make every start's sync
#     take a while. Then one daemon runs to the end: the map holds exactly the kernel's
#     SPIs, and every fed SA's curlft equals what was fed, packets and bytes (no loss, no
#     double count). FAULT_LIMITED (20) of the fed SAs have a packet soft limit the feed
#     crosses during the kills (a slot it left below is topped up after them): each gets
#     exactly one soft expire. Then, idle, they are
#     pushed past their hard limit and the daemon is killed again at once: each gets
#     exactly one hard expire, and the kernel deletes it. (The daemons write software SAs
#     here, with the test switch XOFF_TEST_MIRROR_SOFTWARE: no emulated NIC offloads
#     packets.)
#  3. Hostile frames: while pings cross a real tunnel into the xoff side, xoff-pktgen sends
#     every malformed kind (truncated, bad IP lengths and header length, short UDP,
#     fragments), ESP too short for the tunnel's SA, and well-formed ESP with the tunnel's
#     SPI but forged contents; every ping comes back, each frame lands under its reason,
#     the kernel counts only the pings (the forged ones fail authentication; xoff's fast
#     path cannot authenticate and counts them on the SA), and so do xoff's authenticated
#     counts, the mirror's only source.
#   env OUT=DIR [FAULT_SAS=10000] [FAULT_KILLS=20] [FAULT_FED=300] bash selftests/vm/test_faults.sh
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ipsec.sh"

ips_init test_faults jq bpftool
CTR=$OUT/xoff-counters
PKTGEN=$OUT/xoff-pktgen
ips_need test_faults "$CTR" "$PKTGEN"
NSAS=${FAULT_SAS:-10000}
KILLS=${FAULT_KILLS:-20}
NFED=${FAULT_FED:-300}
NLIM=${FAULT_LIMITED:-20}	# of the fed SAs, those with limits
SOFT=100 HARD=100000000
die() { st_fail "$1" "$2"; st_done; }

ips_tmpdir || exit 1
TMP=$IPS_TMP
ips_ns f || exit 1
F=$IPS_NS
ips_daemon_ns "$F"
ips_need_esp test_faults "$F"

xo() { local ns=$1 pins=$2; shift 2; ip netns exec "$ns" "$XOFFCTL" -P "$pins" "$@"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
up() { xo "$1" "$2" -j status | jq -e '.daemon.running' >/dev/null; }
# SPIs (0x%08x) of the kernel's ESP states in NS, and of the SA map on PINS, sorted.
kernel_spis() { ip -n "$1" xfrm state | awk '$1 == "proto" && $2 == "esp" { print $4 }' | sort; }
map_spis()
{
	bpftool -j map dump pinned "$1/xoff_sas" | jq -r '.[] | "0x" + (.key[4:8] | map(.[2:]) | join(""))' | sort
}
# map_is_kernel NS PINS: the SA map holds exactly the kernel's SPIs.
map_is_kernel()
{
	kernel_spis "$1" > "$TMP/k"
	map_spis "$2" > "$TMP/m"
	cmp -s "$TMP/k" "$TMP/m" ||
		{ echo "kernel $(wc -l < "$TMP/k"), map $(wc -l < "$TMP/m"): only in the kernel $(comm -23 "$TMP/k" "$TMP/m" | head -3 | tr '\n' ' '), only in the map $(comm -13 "$TMP/k" "$TMP/m" | head -3 | tr '\n' ' ')"; return 1; }
}
sa_line() { printf 'xfrm state add src 10.0.0.1 dst 10.0.0.2 proto esp spi %d reqid 1 mode tunnel aead rfc4106(gcm(aes)) 0x%040x 128 %s\n' "$1" "$1" "${2:-}"; }
expires_of() { ips_expires "$TMP/kexp" "$1" "$2"; }	# SPI HARD
# limited_expired SOFT HARD: every limited SA has exactly SOFT soft and HARD hard expires.
limited_expired()
{
	local i s h
	for ((i = 0; i < NLIM; i++)); do
		s=$(expires_of $((0x200000 + i)) 0) h=$(expires_of $((0x200000 + i)) 1)
		[ "$s" = "$1" ] && [ "$h" = "$2" ] ||
			{ echo "SA $(printf '0x%08x' $((0x200000 + i))): $s soft and $h hard expires, want $1 and $2"; return 1; }
	done
}

# ---- 1. an event storm against a small receive buffer ------------------------------------------
ips_bpffs || exit 1
P1=$IPS_BPFFS/xoff
ips_veth "$F" xf0 "$F" xf1 || die storm "veth"
st_bg ip netns exec "$F" "$XOFFCTL" -P "$P1" run rcvbuf 4096 2>"$TMP/storm.log"
D1=$ST_BG_PID
st_wait 20 up "$F" "$P1" || die "storm: the daemon runs" "$(tail -n 1 "$TMP/storm.log")"
st_check "storm: attach xf0" xo "$F" "$P1" attach xf0
for ((i = 0; i < NSAS; i++)); do sa_line $((0x100000 + i)); done > "$TMP/add"
for ((i = 0; i < NSAS; i += 2)); do
	printf 'xfrm state delete src 10.0.0.1 dst 10.0.0.2 proto esp spi %d\n' $((0x100000 + i))
done > "$TMP/del"
t0=$(now_ms)
ip -n "$F" -batch "$TMP/add" || st_fail "storm: $NSAS adds" "ip -batch"
t1=$(now_ms)
ip -n "$F" -batch "$TMP/del" || st_fail "storm: $((NSAS / 2)) deletes" "ip -batch"
t2=$(now_ms)
st_log "storm: $NSAS adds in $((t1 - t0)) ms, $((NSAS / 2)) deletes in $((t2 - t1)) ms"
converged() { [ "$(xo "$F" "$P1" -j status | jq '.maps.sas.entries')" = $((NSAS / 2)) ] && map_is_kernel "$F" "$P1"; }
if st_wait 120 converged; then
	st_pass "storm: the map holds exactly the kernel's $((NSAS / 2)) SPIs ($(($(now_ms) - t2)) ms after the last delete)"
else
	st_fail "storm: the map holds exactly the kernel's SPIs" "$(map_is_kernel "$F" "$P1")"
fi
lost=$(grep -c 'events lost (ENOBUFS)' "$TMP/storm.log")
resyncs=$(xo "$F" "$P1" -j status | jq '.daemon.resyncs')
[ "$lost" -gt 0 ] && [ "$resyncs" -gt 1 ] &&
	st_pass "storm: events were lost (ENOBUFS $lost times) and repaired by resyncs ($resyncs)" ||
	st_fail "storm: events were lost and repaired" "ENOBUFS $lost times, $resyncs resyncs: the buffer was not small enough to test"
bad=$(grep -E 'xoffd: (error|warning)' "$TMP/storm.log" | grep -v 'events lost (ENOBUFS)')
[ -z "$bad" ] && st_pass "storm: nothing else went wrong in the daemon" || st_fail "storm: nothing else went wrong in the daemon" "$(head -n 1 <<< "$bad")"
ip -n "$F" xfrm state flush
empty() { [ "$(xo "$F" "$P1" -j status | jq '.maps.sas.entries')" = 0 ]; }
st_wait 60 empty && st_pass "storm: flush: the map empties" || st_fail "storm: flush: the map empties" "$(xo "$F" "$P1" -j status | jq -c .maps.sas)"
st_check "storm: detach xf0" xo "$F" "$P1" detach xf0
st_stop "$D1" || st_fail "storm: the daemon stops cleanly" "$(tail -n 1 "$TMP/storm.log")"

# ---- 2. kill -9 during sync and mirror -----------------------------------------------------------
ips_bpffs || exit 1
P2=$IPS_BPFFS/xoff
st_check "kill: attach xf0" xo "$F" "$P2" attach xf0
{
	for ((i = 0; i < NLIM; i++)); do sa_line $((0x200000 + i)) "limit packet-soft $SOFT limit packet-hard $HARD"; done
	for ((i = NLIM; i < NFED; i++)); do sa_line $((0x200000 + i)); done
	for ((i = 0; i < 2000; i++)); do sa_line $((0x300000 + i)); done
} > "$TMP/add2"
ip -n "$F" -batch "$TMP/add2" || die "kill: SAs" "ip -batch"
ips_monitor "$F" "$TMP/kexp" expire || st_fail "ip xfrm monitor expire" "never subscribed"
start_daemon()
{
	st_bg ip netns exec "$F" env XOFF_TEST_MIRROR_SOFTWARE=1 "$XOFFCTL" -P "$P2" run mirror on \
		interval 50 2>>"$TMP/kill.log"
	DK=$ST_BG_PID
}
start_daemon
mapped() { [ "$(xo "$F" "$P2" -j status | jq '.daemon.sas_mapped')" -ge $((NFED + 2000)) ]; }
st_wait 60 mapped || die "kill: the first daemon maps the SAs" "$(xo "$F" "$P2" -j status | jq -c .daemon)"
# SPIs print as 0x%08x: their strings sort as their values.
SLOTS=$(xo "$F" "$P2" -j sa list | jq -r --arg lo "$(printf '0x%08x' $((0x200000)))" \
	--arg hi "$(printf '0x%08x' $((0x200000 + NFED)))" \
	'.[] | select(.spi >= $lo and .spi < $hi) | .slot' | sort -n | tr '\n' ' ')
[ "$(wc -w <<< "$SLOTS")" = "$NFED" ] || die "kill: slots of the fed SAs" "'$SLOTS'"
# What fed which slot: "SLOT SPI".
xo "$F" "$P2" -j sa list | jq -r '.[] | select(.slot != null) | "\(.slot) \(.spi)"' | sort -n > "$TMP/slot-spi"
st_bg "$CTR" "$P2" feed "$TMP/fed" 100 $SLOTS
FEED=$ST_BG_PID
# SAs coming and going all along (the first SPIs not fed).
st_bg bash -c '
	ns=$1 n=0
	while :; do
		for i in $(seq 0 9); do printf "xfrm state add src 10.0.0.1 dst 10.0.0.2 proto esp spi %d reqid 1 mode tunnel aead rfc4106(gcm(aes)) 0x%040x 128\n" $((0x400000 + n * 10 + i)) 1; done | ip -n "$ns" -batch - 2>/dev/null
		for i in $(seq 0 9); do printf "xfrm state delete src 10.0.0.1 dst 10.0.0.2 proto esp spi %d\n" $((0x400000 + (n - 1) * 10 + i)); done | ip -n "$ns" -batch - 2>/dev/null
		n=$((n + 1))
	done' churn "$F"
CHURN=$ST_BG_PID
kills=0 insync=0
for ((k = 1; k <= KILLS; k++)); do
	s0=$(grep -c 'started:' "$TMP/kill.log")
	sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
	[ $((RANDOM % 3)) = 0 ] && sleep 1	# now and then well into the mirror's sweeps
	[ "$(grep -c 'started:' "$TMP/kill.log")" = "$s0" ] && insync=$((insync + 1))
	kill -9 "$DK" 2>/dev/null && kills=$((kills + 1))
	wait "$DK" 2>/dev/null
	ST_PIDS=("${ST_PIDS[@]/$DK}")
	start_daemon
done
st_log "kill: $kills daemons killed with SIGKILL at random moments, $insync of them before their first sync was done"
st_stop "$CHURN" || true
st_stop "$FEED" || true
# The last daemon runs on: the maps and the lifetimes catch up.
settled()
{
	map_is_kernel "$F" "$P2" || return 1
	ip -n "$F" -s xfrm state | ips_curlft_all > "$TMP/curlft"
	# slot-spi: SLOT SPI; fed: SLOT PACKETS BYTES; curlft: SPI BYTES PACKETS.
	awk 'FILENAME == ARGV[1] { spi[$1] = $2; next }
	     FILENAME == ARGV[2] { b[$1] = $2; p[$1] = $3; next }
	     { s = spi[$1]
	       if (p[s] != $2 || b[s] != $3) {
		       if (!bad++) printf "SA %s (slot %s): curlft %s bytes %s packets, fed %s bytes %s packets\n", s, $1, b[s], p[s], $3, $2
	       } }
	     END { if (bad) { printf "(%d of %d SAs differ)\n", bad, FNR; exit 1 } }' \
		"$TMP/slot-spi" "$TMP/curlft" "$TMP/fed"
}
if st_wait 60 settled; then
	st_pass "kill: after $kills kills the map holds exactly the kernel's SPIs"
	st_pass "kill: every fed SA's curlft equals what was fed ($(awk '{ p += $2; b += $3 } END { print p " packets, " b " bytes" }' "$TMP/fed") in all): nothing lost or counted twice"
else
	st_fail "kill: map and lifetimes after $kills kills" "$(settled)"
fi
st_log "kill: lifetime writes in flight at a kill, found by the next daemon: $(grep -c 'it had landed' "$TMP/kill.log") had landed, $(grep -c 'it had not landed' "$TMP/kill.log") had not"
# limited_slot I: the counter slot of limited SA I.
limited_slot() { awk -v spi="$(printf '0x%08x' $((0x200000 + $1)))" '$2 == spi { print $1 }' "$TMP/slot-spi"; }
# Slots the feed left below the soft limit (the feed's pace is the machine's) are topped
# up now, under the last daemon: each limited SA then has crossed it exactly once.
for ((i = 0; i < NLIM; i++)); do
	p=$(awk -v s="$(limited_slot $i)" '$1 == s { print $2 }' "$TMP/fed")
	[ "${p:-0}" -ge $SOFT ] || "$CTR" "$P2" add "$(limited_slot $i)" $((SOFT - ${p:-0})) 0 ||
		st_fail "kill: top up limited SA $i" "slot '$(limited_slot $i)'"
done
ips_expect "kill: each of the $NLIM limited SAs got exactly one soft expire across $kills kills" 10 limited_expired 1 0
# Idle now: past the hard limit at once, and the daemon killed right after (wherever it is
# between its write, its commit and its expire); the next one finishes.
for ((i = 0; i < NLIM; i++)); do
	s=$(limited_slot $i)
	"$CTR" "$P2" add "$s" $HARD 0 || st_fail "kill: push SA $i past its hard limit" "slot '$s'"
done
sleep "0.0$((RANDOM % 10))"
kill -9 "$DK" 2>/dev/null
wait "$DK" 2>/dev/null
ST_PIDS=("${ST_PIDS[@]/$DK}")
start_daemon
ips_expect "kill: then, idle and across a kill, each got exactly one hard expire" 20 limited_expired 1 1
limited_gone()
{
	local i
	ip -n "$F" xfrm state > "$TMP/states"
	for ((i = 0; i < NLIM; i++)); do
		! grep -q "spi $(printf '0x%08x' $((0x200000 + i))) " "$TMP/states" ||
			{ echo "SA $(printf '0x%08x' $((0x200000 + i))) still there"; return 1; }
	done
}
ips_expect "kill: and the kernel deleted them" 10 limited_gone
st_log "kill: the last daemon's stats: $(xo "$F" "$P2" -j status | jq -c '.daemon | {sas, sas_mapped, resyncs, mirror_writes, mirror_errors}')"
bad=$(grep -E 'xoffd: (error|warning)' "$TMP/kill.log" | grep -v -e 'events lost (ENOBUFS)' -e XOFF_TEST_MIRROR_SOFTWARE |
	sort | uniq -c | sort -rn)
[ -z "$bad" ] && st_pass "kill: the daemons logged no error or warning" ||
	st_fail "kill: the daemons logged no error or warning" "$(head -n 2 <<< "$bad" | tr '\n' ' ')"
st_check "kill: detach xf0" xo "$F" "$P2" detach xf0
st_stop "$DK" || st_fail "kill: the last daemon stops cleanly" "$(tail -n 1 "$TMP/kill.log")"
ip -n "$F" xfrm state flush

# ---- 3. hostile frames beside real traffic -------------------------------------------------------
ips_ns a || exit 1
A=$IPS_NS
ips_ns b || exit 1
B=$IPS_NS
ips_daemon_ns "$B"
ips_bpffs || exit 1
P3=$IPS_BPFFS/xoff
ips_veth "$A" va "$B" vb || die hostile "veth"
ip -n "$A" addr add 10.0.0.1/24 dev va
ip -n "$B" addr add 10.0.0.2/24 dev vb
ip -n "$A" addr add fd00::1/64 dev va nodad
ip -n "$B" addr add fd00::2/64 dev vb nodad
ip -n "$A" addr add 192.168.1.1/32 dev lo
ip -n "$B" addr add 192.168.2.1/32 dev lo
ips_tunnel "$A" "$B" 10.0.0.1 10.0.0.2 192.168.1.1 192.168.2.1 0xa4 0xb4 4 2>"$TMP/err" ||
	die hostile "tunnel: $(head -n 2 "$TMP/err")"
st_bg ip netns exec "$B" "$XOFFCTL" -P "$P3" run 2>"$TMP/hostile.log"
st_wait 20 up "$B" "$P3" || die "hostile: the daemon runs" "$(tail -n 1 "$TMP/hostile.log")"
st_check "hostile: attach vb (unknown-spi drop)" xo "$B" "$P3" attach vb unknown-spi drop
MAC=$(ip -n "$B" -j link show vb | jq -r '.[0].address')
reason() { xo "$B" "$P3" -j stats | jq -r --arg r "$1" '.interfaces[0].xdp[$r].total // 0'; }
declare -A R0
for r in malformed fragment ike sa-steered sa-sw unknown-spi-drop; do R0[$r]=$(reason $r); done
fp0=$(xo "$B" "$P3" -j sa list spi 0xa4 | jq '.[0].fastpath_packets')
ap0=$(xo "$B" "$P3" -j sa list spi 0xa4 | jq '.[0].auth_packets')
read -r _ kp0 <<< "$(ips_curlft "$B" 0xa4)"
NPING=100 N=200
g4() { ip netns exec "$A" "$PKTGEN" va --src 10.0.0.1 --dst 10.0.0.2 --dmac "$MAC" --quiet "$@"; }
g6() { ip netns exec "$A" "$PKTGEN" va --src fd00::1 --dst fd00::2 --dmac "$MAC" --quiet "$@"; }
# The pings and the frames at once.
ip netns exec "$A" ping -q -c $NPING -i 0.02 -W 2 -I 192.168.1.1 192.168.2.1 > "$TMP/ping" 2>&1 &
PING=$!
for round in 1 2; do
	g4 --spi 0xa4 --malformed truncated --count $N && g6 --spi 0xa4 --malformed truncated --count $N &&
	g4 --spi 0xa4 --malformed iplen --count $N && g6 --spi 0xa4 --malformed iplen --count $N &&
	g4 --spi 0xa4 --malformed ihl --count $N &&
	g4 --spi 0xa4 --malformed short-udp --count $N && g6 --malformed short-udp --count $N &&
	g4 --spi 0xa4 --malformed frag --count $N && g6 --spi 0xa4 --malformed frag --count $N &&
	g4 --spi 0xa4 --size 8 --count $N &&
	g4 --spi 0xa4 --seq 1000000 --size 64 --count $N &&
	g4 --udp --malformed truncated --count $N ||
		st_fail "hostile: xoff-pktgen (round $round)" "exit $?"
done
wait $PING
got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$TMP/ping")
[ "$got" = $NPING ] && st_pass "hostile: all $NPING pings through the tunnel came back during the storm" ||
	st_fail "hostile: all $NPING pings came back" "${got:-no} replies: $(tail -n 2 "$TMP/ping" | tr '\n' ' ')"
# Per round: 7 malformed kinds of N, plus the too-short ESP of the SA (N), are malformed;
# 2 kinds of fragments; the truncated ESP-in-UDP's 4 bytes look like IKE's marker.
d() { echo $(($(reason "$1") - ${R0[$1]})); }
want_mal=$((2 * 8 * N)) want_frag=$((2 * 2 * N)) want_ike=$((2 * N))
[ "$(d malformed)" = $want_mal ] && st_pass "hostile: $want_mal malformed frames counted as malformed" ||
	st_fail "hostile: malformed frames counted as malformed" "$(d malformed), want $want_mal"
[ "$(d fragment)" = $want_frag ] && st_pass "hostile: $want_frag fragments passed to the kernel's reassembly" ||
	st_fail "hostile: fragments passed" "$(d fragment), want $want_frag"
[ "$(d ike)" = $want_ike ] && st_pass "hostile: $want_ike truncated ESP-in-UDP taken as IKE (4 bytes: the non-ESP marker)" ||
	st_fail "hostile: truncated ESP-in-UDP taken as IKE" "$(d ike), want $want_ike"
[ "$(d unknown-spi-drop)" = 0 ] && st_pass "hostile: nothing malformed was taken for an unknown SPI" ||
	st_fail "hostile: nothing malformed was taken for an unknown SPI" "unknown-spi-drop +$(d unknown-spi-drop)"
forged=$((2 * N))
fp=$(($(xo "$B" "$P3" -j sa list spi 0xa4 | jq '.[0].fastpath_packets') - fp0))
read -r _ kp <<< "$(ips_curlft "$B" 0xa4)"
kp=$((kp - kp0))
[ "$kp" = $NPING ] && st_pass "hostile: the kernel counted the $NPING pings on SA 0xa4 and nothing forged" ||
	st_fail "hostile: the kernel counted the pings on SA 0xa4" "$kp"
[ "$fp" = $((NPING + forged)) ] &&
	st_pass "hostile: the fast path counted the pings and the $forged forged frames it cannot authenticate ($fp)" ||
	st_fail "hostile: the fast path counted pings + forged frames" "$fp, want $((NPING + forged))"
ap=$(($(xo "$B" "$P3" -j sa list spi 0xa4 | jq '.[0].auth_packets') - ap0))
[ "$ap" = $NPING ] &&
	st_pass "hostile: the authenticated counts (the mirror's source) took the $NPING pings and nothing forged" ||
	st_fail "hostile: the authenticated counts took the pings and nothing forged" "$ap, want $NPING"
[ "$(d sa-steered)" = $((NPING + forged)) ] && st_pass "hostile: ESP of the SA steered as before" ||
	st_fail "hostile: ESP of the SA steered as before" "sa-steered +$(d sa-steered)"
got=$(ip netns exec "$A" ping -q -c 10 -i 0.02 -W 2 -I 192.168.1.1 192.168.2.1 2>&1 | sed -n 's/.* \([0-9]*\) received.*/\1/p')
[ "$got" = 10 ] && st_pass "hostile: the tunnel works after the storm" || st_fail "hostile: the tunnel works after the storm" "${got:-no} replies of 10"
bad=$(grep -E 'xoffd: (error|warning)' "$TMP/hostile.log")
[ -z "$bad" ] && st_pass "hostile: the daemon logged no error or warning" || st_fail "hostile: the daemon logged no error or warning" "$(head -n 1 <<< "$bad")"
st_check "hostile: detach vb" xo "$B" "$P3" detach vb
st_done

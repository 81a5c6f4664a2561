#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The counter mirror end to end on real SAs (needs ESP: run it in the VM, selftests/vm/vm.sh;
# netdevsim and strongSwan where it provides them). Counts the kernel does not see are
# injected into xoff's authenticated counts with xoff-counters, as a packet-offload NIC's
# decrypted traffic would be counted; `ip -s xfrm state` and `ip xfrm monitor expire`
# tell what the kernel got. No emulated NIC offloads packets, so sections 2 and 3 run the
# write path on software SAs without traffic, with the daemon's test switch
# XOFF_TEST_MIRROR_SOFTWARE=1 (software SAs mirrored as packet offload would be).
#  1. auto, then on: SAs the kernel counts itself (software tunnel SAs with traffic, a
#     netdevsim crypto-offload SA with TX) are never written, however much their
#     authenticated and fast-path counts grow: curlft is exactly the kernel's own count,
#     the daemon wrote nothing, sa list says "kernel".
#  2. on (a namespace of its own, no traffic): curlft follows the injected counts (add_time
#     kept, use_time set), never goes down when the counters are reset; a byte soft limit
#     gives exactly one soft expire, also across a daemon restart, the hard limit one hard
#     expire and the kernel deletes the SA (the map follows); packet limits alike, and
#     soft and hard crossed at once give only the hard one.
#  3. strongSwan (rekey_bytes on the CHILD_SA, xoff's daemon with mirror on in the
#     responder): injected bytes past the soft limit make charon rekey; the map moves to
#     the new SPIs; counts of the old inbound SA added after the rekey still reach it
#     before charon deletes it; the new SAs start from zero.
#   env OUT=DIR bash selftests/vm/test_mirror.sh
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ipsec.sh"

ips_init test_mirror jq bpftool
CTR=$OUT/xoff-counters
ips_need test_mirror "$CTR"
INTERVAL=200	# the daemons' sweep interval (ms)
die() { st_fail "$1" "$2"; st_done; }

ips_tmpdir || exit 1
TMP=$IPS_TMP
ips_ns a || exit 1
A=$IPS_NS
ips_ns b || exit 1
B=$IPS_NS
ips_daemon_ns "$B"
ips_need_esp test_mirror "$B"

# xo NS PINS ARGS...: xoffctl in NS on PINS.
xo() { local ns=$1 pins=$2; shift 2; ip netns exec "$ns" "$XOFFCTL" -P "$pins" "$@"; }
slot_of() { xo "$1" "$2" -j sa list spi "$3" | jq -r '.[0].slot // empty'; }	# NS PINS SPI
# curlft_is NS SPI BYTES PACKETS: the kernel's curlft of SPI is exactly that.
curlft_is()
{
	local got
	got=$(ips_curlft "$1" "$2")
	[ "$got" = "$3 $4" ] || { echo "curlft of $2: ${got:-no such SA} (bytes packets), want $3 $4"; return 1; }
}
expect() { ips_expect "$@"; }
daemon_log_clean() { ips_log_clean "$@"; }

# ---- 1. auto: what the kernel counts is never written -----------------------------------------
ips_bpffs || exit 1
PB=$IPS_BPFFS/xoff
ips_veth "$A" va "$B" vb || die setup "veth"
ip -n "$A" addr add 10.0.0.1/24 dev va
ip -n "$B" addr add 10.0.0.2/24 dev vb
ip -n "$A" addr add 192.168.1.1/32 dev lo
ip -n "$B" addr add 192.168.2.1/32 dev lo
ips_tunnel "$A" "$B" 10.0.0.1 10.0.0.2 192.168.1.1 192.168.2.1 0xa4 0xb4 4 2>"$TMP/err" ||
	die setup "tunnel: $(head -n 2 "$TMP/err")"
NSIM=
if ips_nsim "$B" xnsim0 && ip -n "$B" addr add 10.1.0.1/24 dev xnsim0 &&
   ips_sa "$B" 10.1.0.1 10.1.0.2 0x1001 offload dev xnsim0 dir out &&
   ip -n "$B" xfrm policy add src 10.1.0.1 dst 10.1.0.2 dir out \
	tmpl src 10.1.0.1 dst 10.1.0.2 proto esp reqid 1 mode tunnel; then
	NSIM=xnsim0
else
	st_skip "auto: a crypto-offload SA is never written" "${IPS_WHY:-the offloaded SA}"
fi

st_bg ip netns exec "$B" "$XOFFCTL" -P "$PB" run interval $INTERVAL 2>"$TMP/auto.log"
DAUTO=$ST_BG_PID
up() { xo "$1" "$2" -j status | jq -e '.daemon.running' >/dev/null; }
expect "auto: the daemon runs" 20 up "$B" "$PB"
st_check "auto: attach vb" xo "$B" "$PB" attach vb
# 20 pings of 86-byte inner packets: the kernel counts 20 x 86 on each tunnel SA.
got=$(ip netns exec "$A" ping -q -c 20 -s 58 -i 0.02 -W 2 -I 192.168.1.1 192.168.2.1 2>&1 |
	sed -n 's/.* \([0-9]*\) received.*/\1/p')
[ "$got" = 20 ] && st_pass "auto: 20 pings through the tunnel" || st_fail "auto: 20 pings through the tunnel" "${got:-no} replies"
spis="0xa4 0xb4"
if [ -n "$NSIM" ]; then
	ip netns exec "$B" bash -c 'for i in 1 2 3; do echo xoff > /dev/udp/10.1.0.2/9; done'
	spis="$spis 0x1001"
fi
# What the kernel counted, before the fast path's counters grow behind its back.
declare -A KERN
sleep 0.5
for spi in $spis; do KERN[$spi]=$(ips_curlft "$B" $spi); done
st_log "auto: the kernel counted (bytes packets): $(for spi in $spis; do printf '%s: %s; ' $spi "${KERN[$spi]}"; done)"
[ "${KERN[0xa4]}" = "1720 20" ] && [ "${KERN[0xb4]}" = "1720 20" ] &&
	st_pass "auto: the kernel counts its software SAs itself (20 x 86 bytes each way)" ||
	st_fail "auto: the kernel counts its software SAs itself" "0xa4: ${KERN[0xa4]}, 0xb4: ${KERN[0xb4]}"
if [ -n "$NSIM" ]; then
	[ "${KERN[0x1001]#* }" = 3 ] && st_pass "auto: the kernel counts its crypto-offload SA (3 packets)" ||
		st_fail "auto: the kernel counts its crypto-offload SA" "${KERN[0x1001]}"
fi
# inject MODE: 1000 packets more in both counts of every SA.
inject()
{
	local spi s
	for spi in $spis; do
		s=$(slot_of "$B" "$PB" $spi)
		[ -n "$s" ] && "$CTR" "$PB" add "$s" 1000 100000 && "$CTR" -f "$PB" add "$s" 1000 100000 ||
			st_fail "$1: inject into $spi" "slot '$s'"
	done
}
inject auto
sleep $((INTERVAL * 5 / 1000)).5
never_written()
{
	local spi
	for spi in $spis; do
		[ "$(ips_curlft "$B" $spi)" = "${KERN[$spi]}" ] || { echo "$spi: curlft $(ips_curlft "$B" $spi), the kernel counted ${KERN[$spi]}"; return 1; }
		[ "$(xo "$B" "$PB" -j sa list spi $spi | jq -r '.[0].mirror')" = kernel ] ||
			{ echo "$spi: sa list mirror $(xo "$B" "$PB" -j sa list spi $spi | jq -r '.[0].mirror')"; return 1; }
	done
	[ "$(xo "$B" "$PB" -j status | jq '.daemon.mirror_writes')" = 0 ] ||
		{ echo "the daemon wrote $(xo "$B" "$PB" -j status | jq '.daemon.mirror_writes') lifetimes"; return 1; }
}
st_check "auto: 1000 packets more in each authenticated and fast-path count, 5 sweeps: curlft is the kernel's own, nothing written" never_written
st_check "auto: the daemon logged no error or warning" daemon_log_clean "$TMP/auto.log"
st_stop "$DAUTO" || st_fail "auto: the daemon stops cleanly" "$(tail -n 1 "$TMP/auto.log")"
# on writes packet offload only: the same SAs, still never written.
st_bg ip netns exec "$B" "$XOFFCTL" -P "$PB" run mirror on interval $INTERVAL 2>"$TMP/on1.log"
DON1=$ST_BG_PID
expect "on: the daemon runs" 20 up "$B" "$PB"
inject on
sleep $((INTERVAL * 5 / 1000)).5
st_check "on: software and crypto-offload SAs still never written (1000 packets more)" never_written
st_check "on: the daemon logged no error or warning" daemon_log_clean "$TMP/on1.log"
st_check "auto: detach vb" xo "$B" "$PB" detach vb
st_stop "$DON1" || st_fail "on: the daemon stops cleanly" "$(tail -n 1 "$TMP/on1.log")"
ips_nsim_del

# ---- 2. on: curlft follows the authenticated counts, limits give expires ----------------------
ips_ns q || exit 1
Q=$IPS_NS
ips_daemon_ns "$Q"
ips_bpffs || exit 1
PQ=$IPS_BPFFS/xoff
# An interface attached, so that the maps (and the mirror's record of expires sent) stay
# pinned across the daemon's restart, as on a gateway.
ips_veth "$Q" xq0 "$Q" xq1 || die "on: veth" "ip link"
ips_sa "$Q" 10.0.0.1 10.0.0.2 0x3001 &&
ips_sa "$Q" 10.0.0.1 10.0.0.2 0x3002 limit byte-soft 100000 limit byte-hard 200000 &&
ips_sa "$Q" 10.0.0.1 10.0.0.2 0x3003 limit packet-soft 100 limit packet-hard 200 &&
ips_sa "$Q" 10.0.0.1 10.0.0.2 0x3004 limit packet-soft 100 limit packet-hard 150 ||
	die "on: SAs with limits" "ip xfrm state add"
ips_monitor "$Q" "$TMP/expires" expire || st_fail "ip xfrm monitor expire" "never subscribed"
expires() { ips_expires "$TMP/expires" "$1" "$2"; }	# SPI HARD
expires_are() # SPI SOFT HARD
{
	[ "$(expires "$1" 0)" = "$2" ] && [ "$(expires "$1" 1)" = "$3" ] ||
		{ echo "$1: $(expires "$1" 0) soft and $(expires "$1" 1) hard expires, want $2 and $3"; return 1; }
}
start_on()
{
	st_bg ip netns exec "$Q" env XOFF_TEST_MIRROR_SOFTWARE=1 "$XOFFCTL" -P "$PQ" run mirror on \
		interval $INTERVAL 2>>"$TMP/on.log"
	DON=$ST_BG_PID
}
start_on
st_check "on: attach xq0" xo "$Q" "$PQ" attach xq0
mapped4() { [ "$(xo "$Q" "$PQ" -j status | jq '.daemon.sas_mapped')" = 4 ]; }
expect "on: the daemon maps the 4 SAs" 20 mapped4
declare -A SLOT
for spi in 0x3001 0x3002 0x3003 0x3004; do SLOT[$spi]=$(slot_of "$Q" "$PQ" $spi); done
addtime() { ip -n "$Q" -s xfrm state | awk -v spi="$(printf '0x%08x' "$1")" '
	$1 == "proto" && $3 == "spi" { cur = substr($4, 1, 10) == spi }
	cur && $1 == "add" { print $2, $3; exit }'; }
usetime() { ip -n "$Q" -s xfrm state | awk -v spi="$(printf '0x%08x' "$1")" '
	$1 == "proto" && $3 == "spi" { cur = substr($4, 1, 10) == spi }
	cur && $1 == "add" { print $5, $6; exit }'; }
ADD=$(addtime 0x3001)
inj() { "$CTR" "$PQ" add "${SLOT[$1]}" "$2" "$3" || st_fail "inject $2 packets $3 bytes into $1" "xoff-counters"; }
inj 0x3001 1000 150000
expect "on: curlft follows 1000 packets, 150000 bytes injected" 5 curlft_is "$Q" 0x3001 150000 1000
[ "$(addtime 0x3001)" = "$ADD" ] && st_pass "on: add_time kept ($ADD)" || st_fail "on: add_time kept" "$ADD -> $(addtime 0x3001)"
[ "$(usetime 0x3001)" != "- " ] && [ -n "$(usetime 0x3001)" ] && st_pass "on: use_time set on first use ($(usetime 0x3001))" ||
	st_fail "on: use_time set on first use" "'$(usetime 0x3001)'"
"$CTR" "$PQ" zero "${SLOT[0x3001]}"
sleep $((INTERVAL * 5 / 1000)).5
st_check "on: counts reset to 0: curlft does not go down" curlft_is "$Q" 0x3001 150000 1000
inj 0x3001 10 1000
expect "on: and grows from there (+10 packets, +1000 bytes)" 5 curlft_is "$Q" 0x3001 151000 1010

inj 0x3002 400 80000
expect "on: 80000 bytes: curlft follows" 5 curlft_is "$Q" 0x3002 80000 400
sleep $((INTERVAL * 3 / 1000)).5
st_check "on: below the soft limit (100000 bytes): no expire" expires_are 0x3002 0 0
inj 0x3002 200 40000
expect "on: 120000 bytes: exactly one soft expire" 5 expires_are 0x3002 1 0
sleep $((INTERVAL * 3 / 1000)).5
st_check "on: still one soft expire three sweeps later" expires_are 0x3002 1 0
st_stop "$DON" && st_pass "on: the daemon stops (SIGTERM)" || st_fail "on: the daemon stops (SIGTERM)" "$(tail -n 1 "$TMP/on.log")"
start_on
expect "on: a new daemon maps the 4 SAs again" 20 mapped4
inj 0x3002 100 30000
expect "on: after the restart, 150000 bytes: curlft follows" 5 curlft_is "$Q" 0x3002 150000 700
sleep $((INTERVAL * 3 / 1000)).5
st_check "on: after the restart, no second soft expire" expires_are 0x3002 1 0
inj 0x3002 300 60000
expect "on: 210000 bytes, past the hard limit (200000): one hard expire" 5 expires_are 0x3002 1 1
gone() { ! ip -n "$Q" xfrm state | grep -q "spi $(printf '0x%08x' "$1")"; }
expect "on: the kernel deleted the SA at its hard expire" 5 gone 0x3002
not_mapped() { [ -z "$(slot_of "$Q" "$PQ" "$1")" ] && [ "$(xo "$Q" "$PQ" -j status | jq '.daemon.sas_mapped')" = "$2" ] || { echo "sa list slot '$(slot_of "$Q" "$PQ" "$1")', mapped $(xo "$Q" "$PQ" -j status | jq '.daemon.sas_mapped')"; return 1; }; }
expect "on: and xoff's map let it go" 5 not_mapped 0x3002 3
inj 0x3003 150 15000
expect "on: 150 packets, past packet-soft 100: one soft expire" 5 expires_are 0x3003 1 0
inj 0x3003 60 6000
expect "on: 210 packets, past packet-hard 200: one hard expire, SA deleted" 5 bash -c "$(declare -f ips_expires expires expires_are gone); TMP=$TMP Q=$Q; expires_are 0x3003 1 1 && gone 0x3003"
inj 0x3004 160 16000
expect "on: soft and hard crossed at once (160 packets): only the hard expire" 5 expires_are 0x3004 0 1
expect "on: that SA deleted too" 5 gone 0x3004
st_check "on: curlft of 0x3001 untouched by the others" curlft_is "$Q" 0x3001 151000 1010
st_check "on: the daemons logged no error or warning" daemon_log_clean "$TMP/on.log"
st_log "on: $(grep -c 'expire sent' "$TMP/on.log") expires sent by xoff: $(grep 'expire sent' "$TMP/on.log" | sed 's/.*spi //; s/ proto 50: / /; s/ reached.*//' | tr '\n' ';')"
st_check "on: detach xq0" xo "$Q" "$PQ" detach xq0
st_stop "$DON" || st_fail "on: the daemon stops cleanly" "$(tail -n 1 "$TMP/on.log")"

# ---- 3. strongSwan rekeys on mirrored bytes ---------------------------------------------------
if ! why=$(ips_charon_ok); then
	st_skip "strongSwan rekeys on mirrored bytes" "no strongSwan: $why"
	st_done
fi
ips_ns i || exit 1
NI=$IPS_NS
ips_ns r || exit 1
NR=$IPS_NS
ips_daemon_ns "$NR"
ips_bpffs || exit 1
PR=$IPS_BPFFS/xoff
ips_veth "$NI" xmi0 "$NR" xmr0 || die "rekey: veth" "ip link"
I4=10.4.0.1 R4=10.4.0.2
ip -n "$NI" addr add $I4/24 dev xmi0
ip -n "$NR" addr add $R4/24 dev xmr0
SOFT=100000
for side in i r; do
	if [ $side = i ]; then me=$I4 peer=$R4 myid=i.xoff.test peerid=r.xoff.test; else me=$R4 peer=$I4 myid=r.xoff.test peerid=i.xoff.test; fi
	ips_swanctl_conf "$TMP/$side/swanctl.conf" "$(ips_swanctl_conn t4 b4 $me $peer 32 $myid $peerid \
		"rekey_bytes = $SOFT" "life_bytes = 100000000" "rand_bytes = 0" "rekey_time = 0")"
done
IPS_REKEYED_DELAY=3
ips_charon i "$NI" "$TMP/i" > "$TMP/charon.err" && ips_charon r "$NR" "$TMP/r" > "$TMP/charon.err" ||
	die "rekey: charon runs in both namespaces" "$(tr '\n' ' ' < "$TMP/charon.err")"
for side in i r; do
	st_check "rekey: swanctl --load-all ($side)" ips_swanctl $side --load-all --file "$TMP/$side/swanctl.conf"
done
st_bg ip netns exec "$NR" env XOFF_TEST_MIRROR_SOFTWARE=1 "$XOFFCTL" -P "$PR" run mirror on \
	interval $INTERVAL 2>"$TMP/rekey.log"
expect "rekey: xoff's daemon (mirror on) runs in the responder" 20 up "$NR" "$PR"
st_check "rekey: attach xmr0" xo "$NR" "$PR" attach xmr0
st_check "rekey: swanctl --initiate --child b4" ips_swanctl i --initiate --child b4 --timeout 60
# The responder's inbound SA (to R4) and its soft byte limit as charon installed it.
in_spi() { ip -n "$NR" xfrm state | awk -v d=$R4 '/^src / { dst = $4 } $1 == "proto" && $2 == "esp" && dst == d { print $4 }'; }
OLD_IN=$(in_spi)
OLD_ALL=$(ip -n "$NR" xfrm state | awk '$1 == "proto" && $2 == "esp" { print $4 }' | sort | tr '\n' ' ')
[ "$(wc -w <<< "$OLD_IN")" = 1 ] || die "rekey: one inbound SA in the responder" "'$OLD_IN'"
st_log "rekey: responder's SAs [$OLD_ALL], inbound $OLD_IN"
mapped_spi() { [ -n "$(slot_of "$NR" "$PR" "$1")" ]; }
expect "rekey: xoff maps the inbound SA $OLD_IN" 5 mapped_spi "$OLD_IN"
S=$(slot_of "$NR" "$PR" "$OLD_IN")
ips_monitor "$NR" "$TMP/rexp" expire || st_fail "rekey: ip xfrm monitor expire" "never subscribed"
# 1200 packets of 100 bytes: past the soft limit of $SOFT bytes.
"$CTR" "$PR" add "$S" 1200 120000
new_in() { local n; n=$(in_spi | grep -v "^$OLD_IN\$"); [ -n "$n" ] && echo "$n"; }
if st_wait 20 new_in; then
	NEW_IN=$(new_in)
	st_pass "rekey: charon rekeyed the CHILD_SA on the mirrored bytes: new inbound SA $NEW_IN"
else
	st_fail "rekey: charon rekeyed the CHILD_SA on the mirrored bytes" \
		"no new inbound SA after 20 s; expires seen: $(grep -c '^Expired' "$TMP/rexp"); charon: $(grep -i -m1 'rekey' "$TMP/r/charon.log")"
	st_done
fi
grep -q "spi $OLD_IN" "$TMP/rexp" && st_pass "rekey: the soft expire of $OLD_IN is on XFRMNLGRP_EXPIRE" ||
	st_fail "rekey: the soft expire of $OLD_IN is on XFRMNLGRP_EXPIRE" "$(head -c 200 "$TMP/rexp")"
# The old inbound SA lives on for delete_rekeyed_delay: counts added now still reach it.
"$CTR" "$PR" add "$S" 50 5000
if st_wait "$IPS_REKEYED_DELAY" curlft_is "$NR" "$OLD_IN" 125000 1250; then
	st_pass "rekey: counts of the old SA added after the rekey reach it before it goes (125000 bytes)"
else
	st_fail "rekey: counts of the old SA added after the rekey reach it before it goes" "$(curlft_is "$NR" "$OLD_IN" 125000 1250)"
fi
old_gone() { ! ip -n "$NR" xfrm state | grep -q "spi $OLD_IN "; }
expect "rekey: charon deletes the old inbound SA" 15 old_gone
map_is_kernel()
{
	local k m
	k=$(ip -n "$NR" xfrm state | awk '$1 == "proto" && $2 == "esp" { print $4 }' | sort | tr '\n' ' ')
	m=$(xo "$NR" "$PR" -j sa list | jq -r '.[] | select(.slot != null) | .spi' | sort | tr '\n' ' ')
	[ "$k" = "$m" ] || { echo "kernel [$k] xoff [$m]"; return 1; }
}
expect "rekey: xoff's map holds the new SPIs and not the old" 5 map_is_kernel
fresh()
{
	local j
	j=$(xo "$NR" "$PR" -j sa list spi "$NEW_IN")
	[ "$(jq -r '.[0].fastpath_packets' <<< "$j")" = 0 ] && [ "$(jq -r '.[0].auth_packets' <<< "$j")" = 0 ] &&
	[ "$(jq -r '.[0].kernel_bytes' <<< "$j")" = 0 ] ||
		{ echo "new SA: $(jq -c '.[0] | {slot, fastpath_packets, auth_packets, kernel_packets, kernel_bytes}' <<< "$j")"; return 1; }
}
st_check "rekey: the new inbound SA starts from zero (nothing of the old slot's counts)" fresh
st_check "rekey: the daemon logged no error or warning" daemon_log_clean "$TMP/rekey.log"
st_check "rekey: detach xmr0" xo "$NR" "$PR" detach xmr0
st_done

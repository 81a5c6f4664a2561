#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# xoff on a veth pair on this kernel, with crafted frames and no SAs (no ESP state needed):
# every frame lands under exactly one reason, and what unknown-spi drop drops never reaches
# the stack while IKE, keepalives, ping and plain UDP still do.
#
#   netns TX: xt0 --veth--> netns RX: xr0 (xoff attached), xr0.100 (802.1Q 100),
#                                     xr0.200 (802.1ad 200) -> xr0.200.300 (802.1Q 300)
#
# xoff-pktgen sends from TX; xoffctl -j stats in RX gives the reason counters; the stacks'
# own counters (/proc/net/snmp, snmp6 of RX and TX) tell what was delivered. Both links are
# NOARP with static neighbours, without link-local addresses, DAD or router solicitations,
# so the kernels send nothing on their own: every count is exact (each case checks its
# reasons' deltas, and that no other XDP reason moved). Cases:
#   native XDP, unknown-spi pass: ESP, ESP-in-UDP, VLAN, QinQ (also counted by a second
#     xoff on the VLAN device), many SPIs, a burst, every --malformed kind, then valid ESP;
#   native XDP, unknown-spi drop: ESP of every encapsulation dropped and not delivered;
#     IKE on 500 and 4500, keepalives, echo round trips (and ping(8)), plain UDP delivered;
#   skb (generic) XDP, unknown-spi drop: a few of each on the other hook;
#   detach: no XDP, no TC filter or qdisc of xoff's, no pins after the last one.
# Without 802.1Q devices in the kernel, tagged frames carry VLAN ID 0 (priority tags, which
# the stack delivers untagged) and the second xoff is skipped. Needs root and veth; about
# 5 s here, 1-2 min in the VM (TCG). BURST=N sets the burst's size (default 5000).
#   OUT=/tmp/out bash selftests/test_local.sh
. "$(dirname "$0")/lib.sh"

PKTGEN=$OUT/xoff-pktgen
BURST=${BURST:-5000}
MAC_T=02:78:6f:66:00:01
MAC_R=02:78:6f:66:00:02

st_init test_local
if [ ! -x "$PKTGEN" ]; then
	st_fail test_local "$PKTGEN not built (make)"
	st_done
fi

# ---- helpers -------------------------------------------------------------------------------

xc() { ip netns exec "$RX" env LIBXDP_BPFFS="$BPFFS" "$XOFFCTL" -P "$PINS" "$@"; }

# A snapshot of the counters as "KEY VALUE" lines: DEV/xdp/REASON and DEV/tc/REASON from
# xoffctl -j stats, rx/... from RX's /proc/net/snmp (Proto.Name) and snmp6 (Name), and with
# "tx" as $1 TX's too. One process chain per snapshot and no jq: the VM runs at a tenth of
# the speed. The JSON is compact, {"interfaces":[{"dev":D,...,"xdp":{R:{"total":N,...},...},
# "tc":{...}}],...}: its tokens are picked out in order.
counters()
{
	{
		ip netns exec "$RX" env LIBXDP_BPFFS="$BPFFS" sh -c \
			'"$0" -P "$1" -j stats; echo; echo @rx; cat /proc/net/snmp /proc/net/snmp6' \
			"$XOFFCTL" "$PINS"
		[ "$1" = tx ] && ip netns exec "$TX" sh -c 'echo @tx; cat /proc/net/snmp /proc/net/snmp6'
	} | awk '
		NR == 1 {
			while (match($0, /"dev":"[^"]*"|"(xdp|tc|tc_ingress)":\{|"[a-z-]+":\{"total":[0-9]+/)) {
				n = split(substr($0, RSTART, RLENGTH), f, "\"")
				$0 = substr($0, RSTART + RLENGTH)
				if (f[2] == "dev")
					dev = f[4]
				else if (n == 3)
					prog = f[2]
				else
					print dev "/" prog "/" f[2], substr(f[5], 2)
			}
			next
		}
		/^@/ { p = substr($1, 2); split("", hdr); next }
		NF == 2 && $1 !~ /:$/ { print p "/" $1, $2; next }	# snmp6
		$1 in hdr { n = split(hdr[$1], h); sub(/:$/, "", $1)
			    for (i = 2; i <= n; i++) print p "/" $1 "." h[i], $i
			    delete hdr[$1]; next }
		{ hdr[$1] = $0 }'
}

# check MODE EXPECT: compare NOW with BEFORE against EXPECT ("KEY=N ..."). MODE reached:
# true once every KEY moved by N or more. MODE exact: true if every KEY moved by exactly N
# and every XDP reason not named by 0; prints what differs.
check()
{
	printf '%s\n@\n%s\n' "$BEFORE" "$NOW" | awk -v mode="$1" -v expect="$2" '
		$0 == "@" { now = 1; next }
		!now { b[$1] = $2; next }
		{ n[$1] = $2 }
		END {
			k = split(expect, e, " ")
			for (i = 1; i <= k; i++) {
				split(e[i], kv, "=")
				want[kv[1]] = kv[2]
				d = n[kv[1]] - b[kv[1]]
				if (mode == "reached" && d < kv[2])
					exit 1
				if (mode == "exact" && d != kv[2])
					why = why sprintf("%s +%d (want +%d) ", kv[1], d, kv[2])
			}
			if (mode == "reached")
				exit 0
			for (key in n)
				if (key ~ /\/xdp\// && !(key in want) && n[key] != b[key])
					why = why sprintf("%s +%d (want +0) ", key, n[key] - b[key])
			printf "%s", why
			exit why != ""
		}'
}

# Polls until every expected delta is reached (frames are counted in NAPI, after sendto
# returns), then compares exactly. The timeout only runs out on a failure.
settle()
{
	local end=$((SECONDS + 20)) tx=

	case $1 in *tx/*) tx=tx ;; esac
	while :; do
		NOW=$(counters $tx)
		check reached "$1" && break
		[ $SECONDS -ge $end ] && break
		sleep 0.1
	done
	WHY=$(check exact "$1")
}

# t NAME EXPECT PKTGEN-ARGS...: send from TX (to xr0's MAC) and check the deltas. The last
# case's final counts are this one's start when nothing happened in between.
t()
{
	local name=$1 expect=$2 out

	shift 2
	case $expect in
	*tx/*) BEFORE=$(counters tx) ;;
	*) [ "$FRESH" = 1 ] && BEFORE=$NOW || BEFORE=$(counters) ;;
	esac
	FRESH=0
	if ! out=$(ip netns exec "$TX" "$PKTGEN" xt0 --dmac $MAC_R --quiet "$@" 2>&1); then
		st_fail "$name" "xoff-pktgen $*: $out"
		return
	fi
	settle "$expect"
	if [ -z "$WHY" ]; then
		st_pass "$name"
	else
		st_fail "$name" "$WHY"
	fi
	FRESH=1
}

attach()
{
	local out

	FRESH=0

	if out=$(xc attach "$@" 2>&1); then
		st_pass "attach $*"
	else
		st_fail "attach $*" "$out"
		st_done
	fi
}

# Nothing of xoff's left on DEV: no XDP program, no TC filter, no clsact of its own.
gone()
{
	local dev=$1 x

	x=$(ip -n "$RX" -d link show "$dev" | grep -o 'xdp[a-z]*' | head -n 1)
	[ -z "$x" ] || { echo "$dev still has $x"; return 1; }
	x=$(tc -n "$RX" filter show dev "$dev" egress; tc -n "$RX" filter show dev "$dev" ingress)
	[ -z "$x" ] || { echo "$dev still has a TC filter: $x"; return 1; }
	x=$(tc -n "$RX" qdisc show dev "$dev" | grep clsact)
	[ -z "$x" ] || { echo "$dev still has $x"; return 1; }
}

detach()
{
	local dev=$1 out

	FRESH=0

	if ! out=$(xc detach "$dev" 2>&1); then
		st_fail "detach $dev" "$out"
		return
	fi
	st_check "detach $dev: no XDP, TC filter or clsact left" gone "$dev"
}

# The pin directory: present while an interface is attached, gone after the last detach.
pins()
{
	local x

	if [ "$1" = gone ]; then
		[ ! -e "$PINS" ] || { echo "left in $PINS: $(ls -A "$PINS" | tr '\n' ' ')"; return 1; }
		# The bpffs' own *.debug files and libxdp's (empty) lock directory may stay.
		x=$(find "$BPFFS" -mindepth 1 ! -name "*.debug" ! \( -path "$BPFFS/xdp" -empty \))
		[ -z "$x" ] || { echo "left in $BPFFS: $x"; return 1; }
	else
		[ -e "$PINS/xoff_sas" ] || { echo "no $PINS/xoff_sas"; return 1; }
	fi
}

# The program on DEV's XDP hook in MODE (xdp: native, xdpgeneric: skb), and xoff's TC filter.
hooked()
{
	local dev=$1 mode=$2

	ip -n "$RX" link show "$dev" | grep -qE " mtu [0-9]+ $mode " ||
		{ echo "$dev: no $mode program: $(ip -n "$RX" link show "$dev" | head -n 1)"; return 1; }
	tc -n "$RX" filter show dev "$dev" egress | grep -q xoff_tc ||
		{ echo "$dev: no xoff_tc filter on egress"; return 1; }
}

# ---- pktgen's own interface ----------------------------------------------------------------

pg_rc()
{
	local want=$1 rc

	shift
	"$PKTGEN" "$@" >/dev/null 2>&1
	rc=$?
	[ $rc = "$want" ] || { echo "xoff-pktgen $*: exit $rc, want $want"; return 1; }
}

pg_usage()
{
	pg_rc 0 --help && pg_rc 2 && pg_rc 2 lo --src 192.0.2.1 &&
	pg_rc 2 lo --src 192.0.2.1 --dst 192.0.2.2 --spi 0x1ffffffff &&
	pg_rc 2 lo --src 192.0.2.1 --dst 192.0.2.2 --count 1x &&
	pg_rc 2 lo --src 192.0.2.1 --dst 192.0.2.2 --vlan 4096 &&
	pg_rc 2 lo --src 192.0.2.1 --dst 192.0.2.2 --malformed nope &&
	pg_rc 2 lo --src 2001:db8::1 --dst 2001:db8::2 --malformed ihl &&
	pg_rc 2 lo --src 192.0.2.1 --dst 192.0.2.2 --ike --keepalive &&
	pg_rc 1 lo --src 192.0.2.1 --dst 2001:db8::2 &&
	pg_rc 1 lo --src 192.0.2.1 --dst 192.0.2.256 &&
	pg_rc 1 lo --src 192.0.2.1 --dst 192.0.2.2 --dmac 02:00:00:00:00 &&
	pg_rc 1 xst-nodev --src 192.0.2.1 --dst 192.0.2.2
}
st_check "xoff-pktgen: usage errors exit 2, bad addresses and devices 1" pg_usage

# ---- the network ---------------------------------------------------------------------------

# Called without $(...): the lib records what to remove in arrays a subshell would lose.
st_bpffs >/dev/null || { st_fail setup "cannot mount a bpffs"; st_done; }
BPFFS=${ST_MOUNTS[-1]}
PINS=$BPFFS/xoff
st_ns tx >/dev/null && st_ns rx >/dev/null ||
	{ st_fail setup "cannot create namespaces"; st_done; }
TX=$ST_PREFIX-tx
RX=$ST_PREFIX-rx

# No RAs, RSs, DAD or link-local addresses; and first fragments (the frag cases) never time
# out into an ICMP "reassembly time exceeded" while the test runs.
quiet_ns()
{
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.accept_ra=0 \
		net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.default.addr_gen_mode=1 \
		net.ipv6.conf.default.dad_transmits=0 net.ipv6.conf.default.router_solicitations=0 \
		net.ipv4.ipfrag_time=3600 net.ipv6.ip6frag_time=3600
}

setup()
{
	quiet_ns "$TX" && quiet_ns "$RX" || return 1
	ip -n "$TX" link add name xt0 address $MAC_T type veth peer name xr0 address $MAC_R \
		netns "$RX" || return 1
	ip -n "$TX" link set xt0 arp off up && ip -n "$RX" link set xr0 arp off up || return 1
	ip -n "$TX" addr add 192.0.2.1/24 dev xt0 &&
	ip -n "$TX" addr add 2001:db8::1/64 dev xt0 nodad &&
	ip -n "$RX" addr add 192.0.2.2/24 dev xr0 &&
	ip -n "$RX" addr add 2001:db8::2/64 dev xr0 nodad || return 1
	neigh "$TX" xt0 $MAC_R 192.0.2.2 2001:db8::2 &&
	neigh "$RX" xr0 $MAC_T 192.0.2.1 2001:db8::1
}

neigh()
{
	local ns=$1 dev=$2 mac=$3 a

	shift 3
	for a; do
		ip -n "$ns" neigh add "$a" lladdr "$mac" dev "$dev" nud permanent || return 1
	done
}

# 802.1Q devices where the kernel has them: frames tagged 100 reach xr0.100, QinQ 200/300
# reaches xr0.200.300. Without them, priority tags (ID 0, and 0/0) reach xr0's stack.
vlans()
{
	local d

	ip -n "$RX" link add link xr0 name xr0.100 type vlan id 100 || return 1
	ip -n "$RX" link add link xr0 name xr0.200 type vlan proto 802.1ad id 200 &&
	ip -n "$RX" link add link xr0.200 name xr0.200.300 type vlan id 300 || return 1
	for d in xr0.100 xr0.200 xr0.200.300; do
		ip -n "$RX" link set "$d" arp off up || return 1
	done
	ip -n "$RX" addr add 198.51.100.2/24 dev xr0.100 &&
	ip -n "$RX" addr add 2001:db8:100::2/64 dev xr0.100 nodad &&
	ip -n "$RX" addr add 203.0.113.2/24 dev xr0.200.300 &&
	ip -n "$RX" addr add 2001:db8:300::2/64 dev xr0.200.300 nodad &&
	neigh "$RX" xr0.100 $MAC_T 198.51.100.1 2001:db8:100::1 &&
	neigh "$RX" xr0.200.300 $MAC_T 203.0.113.1 2001:db8:300::1
}

if ! out=$(setup 2>&1); then
	st_skip test_local "cannot build the veth network: $(tail -n 1 <<<"$out")"
	st_done
fi
if out=$(vlans 2>&1); then
	VLANDEV=1
	VLAN4="--vlan 100 --src 198.51.100.1 --dst 198.51.100.2"
	VLAN6="--vlan 100 --src 2001:db8:100::1 --dst 2001:db8:100::2"
	QINQ4="--vlan 200 --vlan 300 --src 203.0.113.1 --dst 203.0.113.2"
	QINQ6="--vlan 200 --vlan 300 --src 2001:db8:300::1 --dst 2001:db8:300::2"
else
	st_log "no VLAN devices ($(tail -n 1 <<<"$out")): tagged frames carry ID 0 (and 0/0)"
	VLANDEV=0
	ip -n "$RX" link del xr0.100 2>/dev/null
	ip -n "$RX" link del xr0.200 2>/dev/null
	VLAN4="--vlan 0 --src 192.0.2.1 --dst 192.0.2.2"
	VLAN6="--vlan 0 --src 2001:db8::1 --dst 2001:db8::2"
	QINQ4="--vlan 0 --vlan 0 --src 192.0.2.1 --dst 192.0.2.2"
	QINQ6="--vlan 0 --vlan 0 --src 2001:db8::1 --dst 2001:db8::2"
fi

V4="--src 192.0.2.1 --dst 192.0.2.2"
V6="--src 2001:db8::1 --dst 2001:db8::2"

# What reaches RX's stack: IPv4 and IPv6 packets, UDP without a socket (4500, 500, ...).
IN4=rx/Ip.InReceives
IN6=rx/Ip6InReceives
NOPORT4=rx/Udp.NoPorts
NOPORT6=rx/Udp6NoPorts
X=xr0/xdp

# Cases every policy shares: IKE, keepalives, echo round trips and plain UDP pass.
passes()
{
	local m=$1

	t "$m: IKE on 500, IPv4" "$X/ike=3 $NOPORT4=3" $V4 --ike --count 3
	t "$m: IKE on 500, IPv6" "$X/ike=3 $NOPORT6=3" $V6 --ike --count 3
	t "$m: IKE on 4500 behind the non-ESP marker, IPv4" "$X/ike=3 $NOPORT4=3" \
		$V4 --ike --udp --count 3
	t "$m: IKE on 4500 behind the non-ESP marker, IPv6" "$X/ike=3 $NOPORT6=3" \
		$V6 --ike --udp --count 3
	t "$m: NAT-T keepalive, IPv4" "$X/natt-keepalive=3 $NOPORT4=3" $V4 --keepalive --count 3
	t "$m: NAT-T keepalive, IPv6" "$X/natt-keepalive=3 $NOPORT6=3" $V6 --keepalive --count 3
	t "$m: ping 192.0.2.2 (echo round trip)" \
		"$X/other=4 rx/Icmp.InEchos=4 rx/Icmp.OutEchoReps=4 xr0/tc/other=4 tx/Icmp.InEchoReps=4" \
		$V4 --icmp --count 4
	t "$m: ping 2001:db8::2 (echo round trip)" \
		"$X/other=4 rx/Icmp6InEchos=4 rx/Icmp6OutEchoReplies=4 xr0/tc/other=4 tx/Icmp6InEchoReplies=4" \
		$V6 --icmp --count 4
	t "$m: plain UDP, IPv4" "$X/other=3 $NOPORT4=3" $V4 --udp --dport 9 --count 3
	t "$m: plain UDP, IPv6" "$X/other=3 $NOPORT6=3" $V6 --udp --sport 4500 --dport 9 --count 3
}

ping_tool()
{
	local m=$1

	if ! command -v ping >/dev/null; then
		st_skip "$m: ping(8)" "not installed (the echo round trips above stand for it)"
		return
	fi
	BEFORE=$(counters)
	if ! ip netns exec "$TX" ping -q -c 2 -i 0.2 -w 20 192.0.2.2 >/dev/null 2>&1 ||
	   ! ip netns exec "$TX" ping -q -6 -c 2 -i 0.2 -w 20 2001:db8::2 >/dev/null 2>&1; then
		st_fail "$m: ping(8) 192.0.2.2 and 2001:db8::2" "no reply"
		return
	fi
	settle "$X/other=4 rx/Icmp.InEchos=2 rx/Icmp6InEchos=2"
	if [ -z "$WHY" ]; then
		st_pass "$m: ping(8) 192.0.2.2 and 2001:db8::2"
	else
		st_fail "$m: ping(8) 192.0.2.2 and 2001:db8::2" "$WHY"
	fi
	FRESH=1
}

# ---- unknown-spi pass (the default), native XDP --------------------------------------------

attach xr0
st_check "xr0: native XDP and the TC egress filter" hooked xr0 xdp
st_check "pins while attached" pins present
if [ $VLANDEV = 1 ]; then
	attach xr0.100 xdp-mode skb
	st_check "xr0.100: skb XDP and the TC egress filter" hooked xr0.100 xdpgeneric
	ALSO="xr0.100/xdp/unknown-spi-pass=5"
	VL="802.1Q 100"
	QQ="QinQ 200/300"
else
	st_skip "xoff on a VLAN device" "no VLAN devices in this kernel"
	ALSO=
	VL="a priority tag (802.1Q 0)"
	QQ="QinQ 0/0"
fi

P=unknown-spi-pass
m=pass
t "$m: ESP IPv4, unknown SPI" "$X/$P=10 $IN4=10" $V4 --spi 0x1001 --count 10
t "$m: ESP IPv6, unknown SPI" "$X/$P=10 $IN6=10" $V6 --spi 0x1002 --count 10
t "$m: ESP-in-UDP 4500 IPv4" "$X/$P=10 $NOPORT4=10" $V4 --udp --spi 0x1003 --count 10
t "$m: ESP-in-UDP 4500 IPv6 (UDP checksum)" "$X/$P=10 $NOPORT6=10 rx/Udp6InCsumErrors=0" \
	$V6 --udp --spi 0x1004 --size 333 --count 10
t "$m: ESP in $VL, IPv4" "$X/$P=5 $ALSO $IN4=5" $VLAN4 --count 5
t "$m: ESP-in-UDP in $VL, IPv6" "$X/$P=5 $ALSO $NOPORT6=5" $VLAN6 --udp --count 5
t "$m: ESP in $QQ, IPv4" "$X/$P=5 $IN4=5" $QINQ4 --count 5
t "$m: ESP in $QQ, IPv6" "$X/$P=5 $IN6=5" $QINQ6 --count 5
t "$m: ESP over 64 SPIs" "$X/$P=128 $IN4=128" $V4 --spi 0x2000 --spis 64 --count 128
t "$m: burst of $BURST ESP frames" "$X/$P=$BURST $IN6=$BURST" $V6 --count "$BURST"
t "$m: IKE on 500" "$X/ike=3 $NOPORT4=3" $V4 --ike --count 3

M=malformed
t "malformed truncated (ESP header cut), IPv4" "$X/$M=3" $V4 --malformed truncated --count 3
t "malformed truncated (ESP header cut), IPv6" "$X/$M=3" $V6 --malformed truncated --count 3
t "malformed truncated ESP-in-UDP: 4 bytes of UDP payload are IKE" "$X/ike=3" \
	$V4 --udp --malformed truncated --count 3
t "malformed iplen, IPv4" "$X/$M=3" $V4 --malformed iplen --count 3
t "malformed iplen, IPv6" "$X/$M=3" $V6 --malformed iplen --count 3
t "malformed iplen, ESP-in-UDP IPv6" "$X/$M=3" $V6 --udp --malformed iplen --count 3
t "malformed ihl" "$X/$M=3" $V4 --malformed ihl --count 3
t "malformed short-udp on 4500, IPv4" "$X/$M=3" $V4 --malformed short-udp --count 3
t "malformed short-udp on 4500, IPv6" "$X/$M=3" $V6 --malformed short-udp --count 3
t "malformed short-udp keepalive" "$X/$M=3" $V4 --keepalive --malformed short-udp --count 3
t "malformed frag, IPv4 (MF)" "$X/fragment=3 $IN4=3" $V4 --malformed frag --count 3
t "malformed frag, IPv6 (fragment header)" "$X/fragment=3 $IN6=3" \
	$V6 --malformed frag --count 3
t "malformed iplen in $QQ" "$X/$M=3" $QINQ4 --malformed iplen --count 3
t "$m: valid ESP after the malformed frames" "$X/$P=10 $IN4=10" $V4 --count 10

if [ $VLANDEV = 1 ]; then
	detach xr0.100
	st_check "pins stay while xr0 is attached" pins present
fi
detach xr0
st_check "pins gone after the last detach" pins gone

# ---- unknown-spi drop, native XDP ----------------------------------------------------------

D=unknown-spi-drop
drops()
{
	local m=$1

	t "$m: ESP IPv4 dropped, not delivered" "$X/$D=10 $IN4=0" $V4 --count 10
	t "$m: ESP IPv6 dropped, not delivered" "$X/$D=10 $IN6=0" $V6 --count 10
	t "$m: ESP-in-UDP IPv4 dropped, not delivered" "$X/$D=10 $NOPORT4=0 $IN4=0" \
		$V4 --udp --count 10
	t "$m: ESP-in-UDP IPv6 dropped, not delivered" "$X/$D=10 $NOPORT6=0 $IN6=0" \
		$V6 --udp --count 10
	t "$m: ESP in $VL dropped, not delivered" "$X/$D=5 $IN4=0" $VLAN4 --count 5
	t "$m: ESP in $QQ dropped, not delivered" "$X/$D=5 $IN6=0" $QINQ6 --count 5
	t "$m: ESP-in-UDP in $QQ dropped, not delivered" "$X/$D=5 $NOPORT4=0 $IN4=0" \
		$QINQ4 --udp --count 5
	t "$m: ESP over 64 SPIs dropped" "$X/$D=128 $IN4=0" $V4 --spi 0x3000 --spis 64 --count 128
	t "$m: malformed and fragments still pass" "$X/fragment=3 $IN4=3" \
		$V4 --malformed frag --count 3
}

attach xr0 unknown-spi drop
st_check "xr0: native XDP and the TC egress filter" hooked xr0 xdp
m="drop"
drops "$m"
t "$m: burst of $BURST ESP frames dropped" "$X/$D=$BURST $IN4=0" $V4 --count "$BURST"
passes "$m"
ping_tool "$m"
detach xr0
st_check "pins gone after detach" pins gone

# ---- unknown-spi drop, skb (generic) XDP ---------------------------------------------------

attach xr0 xdp-mode skb unknown-spi drop
st_check "xr0: skb XDP and the TC egress filter" hooked xr0 xdpgeneric
m="drop, skb mode"
t "$m: ESP IPv4 dropped, not delivered" "$X/$D=10 $IN4=0" $V4 --count 10
t "$m: ESP-in-UDP IPv6 dropped, not delivered" "$X/$D=10 $NOPORT6=0 $IN6=0" \
	$V6 --udp --count 10
t "$m: ESP in $QQ dropped, not delivered" "$X/$D=5 $IN4=0" $QINQ4 --count 5
t "$m: IKE on 4500 passes" "$X/ike=3 $NOPORT4=3" $V4 --ike --udp --count 3
t "$m: NAT-T keepalive passes" "$X/natt-keepalive=3 $NOPORT6=3" $V6 --keepalive --count 3
t "$m: ping 2001:db8::2 (echo round trip)" \
	"$X/other=4 rx/Icmp6OutEchoReplies=4 tx/Icmp6InEchoReplies=4" $V6 --icmp --count 4
detach xr0
st_check "pins gone after the last detach, skb mode" pins gone

st_log "$SECONDS s"
st_done

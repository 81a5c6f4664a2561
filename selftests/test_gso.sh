#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# TC egress counts GSO plaintext by wire segment, as a packet-offload SA's authenticated
# counts must be (include/xoff/abi.h): a TCP bulk transfer whose skbs pass TC egress as GSO
# super-packets is counted as the segments the receiver sees, each with its headers.
#
#   netns TX: gt0 (xoff attached; tso off, so GSO segments after TC egress)
#       --veth--> netns RX: gr0 (gro off: every segment arrives alone; RX's IP MIB counts
#                 them: InReceives and InOctets, IPv4 and IPv6)
#
# No kernel here takes a packet-offload policy (it needs a NIC that offloads packets, and
# netdevsim offloads crypto only), so the test installs test-only selectors in
# xoff_policies itself, as the daemon would for such a policy: IPv4 to 10.7.0.2 counted
# as tunnel mode (the IP packet), IPv6 to fd07::2 as transport mode (the IP payload), both
# into slots no SA uses. Cases, for each family: TC egress saw fewer skbs than segments
# (GSO was in use), the selector's authenticated packets equal the segments the receiver
# saw, and its bytes equal their IP lengths (tunnel) or payload lengths (transport),
# exactly. Also a non-linear head (TX's skbs carry their payload in page
# frags) never counts as malformed.
#   OUT=/tmp/out bash selftests/test_gso.sh
. "$(dirname "$0")/lib.sh"

CTR=$OUT/xoff-counters
MAC_T=02:78:6f:66:07:01
MAC_R=02:78:6f:66:07:02
S4=900 S6=901		# counter slots of the selectors (no SA has them)
BYTES=${GSO_BYTES:-4000000}

st_init test_gso
for tool in ethtool bpftool busybox jq; do
	command -v $tool >/dev/null || { st_skip test_gso "$tool missing"; st_done; }
done
[ -x "$CTR" ] || { st_fail test_gso "$CTR not built (make)"; st_done; }

st_bpffs >/dev/null || { st_fail setup "cannot mount a bpffs"; st_done; }
BPFFS=${ST_MOUNTS[-1]}
PINS=$BPFFS/xoff
st_ns tx >/dev/null && st_ns rx >/dev/null || { st_fail setup "cannot create namespaces"; st_done; }
TX=$ST_PREFIX-tx
RX=$ST_PREFIX-rx
st_tmpdir >/dev/null || { st_fail setup "no temporary directory"; st_done; }
TMP=${ST_TMP[-1]}
xc() { ip netns exec "$TX" env LIBXDP_BPFFS="$BPFFS" "$XOFFCTL" -P "$PINS" "$@"; }

setup()
{
	local ns
	for ns in "$TX" "$RX"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_ra=0 \
			net.ipv6.conf.default.dad_transmits=0 || return 1
		ip -n "$ns" link set lo up || return 1
	done
	ip -n "$TX" link add name gt0 address $MAC_T type veth peer name gr0 address $MAC_R \
		netns "$RX" || return 1
	ip -n "$TX" link set gt0 arp off up && ip -n "$RX" link set gr0 arp off up || return 1
	ip -n "$TX" addr add 10.7.0.1/24 dev gt0 && ip -n "$TX" addr add fd07::1/64 dev gt0 nodad &&
	ip -n "$RX" addr add 10.7.0.2/24 dev gr0 && ip -n "$RX" addr add fd07::2/64 dev gr0 nodad ||
		return 1
	ip -n "$TX" neigh add 10.7.0.2 lladdr $MAC_R dev gt0 nud permanent &&
	ip -n "$TX" neigh add fd07::2 lladdr $MAC_R dev gt0 nud permanent &&
	ip -n "$RX" neigh add 10.7.0.1 lladdr $MAC_T dev gr0 nud permanent &&
	ip -n "$RX" neigh add fd07::1 lladdr $MAC_T dev gr0 nud permanent || return 1
	# GSO in software after TC egress (no TSO on gt0), no GRO before the capture.
	ip netns exec "$TX" ethtool -K gt0 tso off gso on >/dev/null &&
	ip netns exec "$RX" ethtool -K gr0 gro off >/dev/null
}
setup || { st_fail setup "veth, addresses, offloads"; st_done; }
out=$(xc attach gt0 2>&1) && st_pass "attach gt0" || { st_fail "attach gt0" "$out"; st_done; }
IFX=$(ip netns exec "$TX" cat /sys/class/net/gt0/ifindex)

# le32 N: N as 4 little-endian bytes for bpftool.
le32() { printf '%d %d %d %d' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
# selector FAMILY ADDR-BYTES PLEN SLOT MODE: a test-only entry of xoff_policies.
selector()
{
	local fam=$1 addr=$2 plen=$3 slot=$4 mode=$5 n=0 b
	for b in $addr; do n=$((n + 1)); done
	# struct xoff_policy_key: prefixlen, family + 3 pad, 16 address bytes.
	bpftool map update pinned "$PINS/xoff_policies" \
		key $(le32 $((32 + plen))) $fam 0 0 0 $addr $(for ((; n < 16; n++)); do printf '0 '; done) \
		value $(le32 "$slot") $(le32 "$IFX") $mode 0 0 0
}
selector 2 "10 7 0 2" 32 $S4 1 &&
selector 10 "0xfd 0x07 0 0 0 0 0 0 0 0 0 0 0 0 0 2" 128 $S6 0 ||
	{ st_fail setup "test-only selectors in xoff_policies"; st_done; }
st_pass "test-only selectors: 10.7.0.2/32 (tunnel) and fd07::2/128 (transport) on gt0"

tc_reason() { xc -j stats | jq ".interfaces[0].tc[\"$1\"].total"; }
# rx_ip 4|6: "PACKETS OCTETS" of IP datagrams RX received (headers included).
rx_ip()
{
	if [ "$1" = 4 ]; then
		ip netns exec "$RX" awk '$1 == "Ip:" && !h { for (i = 2; i <= NF; i++) c[$i] = i; h = 1; next }
			$1 == "Ip:" { p = $c["InReceives"] }
			$1 == "IpExt:" && !e { for (i = 2; i <= NF; i++) x[$i] = i; e = 1; next }
			$1 == "IpExt:" { o = $x["InOctets"] }
			END { print p, o }' /proc/net/snmp /proc/net/netstat
	else
		ip netns exec "$RX" awk '$1 == "Ip6InReceives" { p = $2 } $1 == "Ip6InOctets" { o = $2 }
			END { print p, o }' /proc/net/snmp6
	fi
}

# bulk DST FAMILY SLOT MODE NAME: a TCP transfer to DST; then the checks.
bulk()
{
	local dst=$1 fam=$2 slot=$3 mode=$4 name=$5 srv p0 b0 p1 b1 pol0 pol1 mal0 mal1 rc
	local r0 o0 r1 o1 segs bytes hdr=$(($2 == 4 ? 20 : 40))
	read -r _ p0 b0 <<< "$("$CTR" "$PINS" get "$slot")"
	pol0=$(tc_reason policy-hw) mal0=$(tc_reason malformed)
	read -r r0 o0 <<< "$(rx_ip "$fam")"
	ip netns exec "$RX" timeout 60 busybox nc -l -p 5001 > /dev/null &
	srv=$!
	listening() { ip netns exec "$RX" ss -Hltn "sport = :5001" | grep -q .; }
	st_wait 10 listening || { st_fail "$name: listener" "none"; kill $srv; return; }
	ip netns exec "$TX" timeout 60 bash -c \
		"exec 3<>/dev/tcp/$dst/5001 && head -c $BYTES /dev/zero >&3 && exec 3>&-"
	rc=$?
	wait $srv
	sleep 0.5	# the last ACKs and FINs
	[ $rc = 0 ] && st_pass "$name: $BYTES bytes over TCP" || st_fail "$name: TCP transfer" "exit $rc"
	read -r _ p1 b1 <<< "$("$CTR" "$PINS" get "$slot")"
	pol1=$(tc_reason policy-hw) mal1=$(tc_reason malformed)
	read -r r1 o1 <<< "$(rx_ip "$fam")"
	# What the receiver took, one datagram per segment: tunnel mode counts the datagram,
	# transport mode what follows the IP header.
	segs=$((r1 - r0))
	bytes=$((o1 - o0 - (mode == 1 ? 0 : segs * hdr)))
	st_log "$name: $((pol1 - pol0)) skbs at TC egress, $segs segments at the receiver, xoff counted $((p1 - p0)) packets $((b1 - b0)) bytes, by the receiver's counts $bytes"
	[ $((pol1 - pol0)) -lt "$segs" ] && st_pass "$name: GSO skbs at TC egress ($((pol1 - pol0)) skbs for $segs segments)" ||
		st_fail "$name: GSO skbs at TC egress" "$((pol1 - pol0)) skbs for $segs segments: no GSO"
	[ $((p1 - p0)) = "$segs" ] && st_pass "$name: packets counted = segments the receiver took ($segs)" ||
		st_fail "$name: packets counted = segments the receiver took" "$((p1 - p0)), receiver $segs"
	[ $((b1 - b0)) = "$bytes" ] &&
		st_pass "$name: bytes counted = the kernel's definition per segment ($bytes, $([ $mode = 1 ] && echo 'IP lengths' || echo 'payload lengths'))" ||
		st_fail "$name: bytes counted = the kernel's definition per segment" "$((b1 - b0)), receiver's segments $bytes"
	[ $((mal1 - mal0)) = 0 ] && st_pass "$name: nothing malformed (non-linear skbs parsed)" ||
		st_fail "$name: nothing malformed" "malformed +$((mal1 - mal0))"
}
bulk 10.7.0.2 4 $S4 1 "IPv4, tunnel mode"
bulk fd07::2 6 $S6 0 "IPv6, transport mode"

out=$(xc detach gt0 2>&1) && st_pass "detach gt0" || st_fail "detach gt0" "$out"
st_done

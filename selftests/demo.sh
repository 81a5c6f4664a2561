#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make demo`: the whole system at work in one command. Two namespaces joined by veth carry
# real ESP tunnels (IPv4 and IPv6, AES-GCM, random keys that are never printed); xoff is
# attached on the receiver with its daemon running; pings cross the tunnels and a burst
# of ESP with an SPI nobody knows is sent; then `xoffctl sa list` and `xoffctl stats`.
#
# When this kernel cannot hold ESP states (no esp4/esp6), the demo runs itself in the
# VM test bed on Debian's own kernel (selftests/vm/vm.sh). Everything is removed at exit.
#   selftests/demo.sh [--here]     --here: never use the VM
. "$(dirname "$0")/lib.sh"

PKTGEN=$OUT/xoff-pktgen
here=0
[ "${1:-}" = --here ] && here=1

# Can this kernel hold an ESP state? Try in a throwaway namespace.
esp_here()
{
	local ns=xoff-demo-probe$$ rc
	ip netns add $ns 2>/dev/null || return 1
	ip -n $ns xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x1 mode tunnel \
		aead 'rfc4106(gcm(aes))' 0x$(printf '%040x' 1) 128 2>/dev/null
	rc=$?
	ip netns del $ns
	return $rc
}

if [ $here = 0 ] && [ "$(id -u)" = 0 ] && ! esp_here; then
	echo "# this kernel ($(uname -r)) has no ESP: running the demo in a VM on Debian's own kernel"
	rm -f "$ST_STATE"
	exec "$ST_ROOT/selftests/vm/vm.sh" -t 600 -- env OUT="$OUT" bash "$ST_ROOT/selftests/demo.sh" --here
fi

st_init demo
[ -x "$PKTGEN" ] || { echo "demo: $PKTGEN not built (make)"; exit 1; }
set -e

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
xo() { printf '$ xoffctl %s\n' "$*" >&2; $X "$@"; }
key() { echo "0x$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')"; }

A=$(st_ns a)
B=$(st_ns b)
BPFFS=$(st_bpffs)
PINS=$BPFFS/xoff
# `ip netns exec` remounts /sys: libxdp keeps its dispatcher's state on our bpffs instead.
X="ip netns exec $B env LIBXDP_BPFFS=$BPFFS $XOFFCTL -P $PINS"

say "two namespaces, one veth: $A (sender) and $B (gateway running xoff)"
ip link add name xdemo-a netns "$A" type veth peer name xdemo-b netns "$B"
ip -n "$A" addr add 192.0.2.1/24 dev xdemo-a
ip -n "$B" addr add 192.0.2.2/24 dev xdemo-b
ip -n "$A" addr add 2001:db8::1/64 dev xdemo-a nodad
ip -n "$B" addr add 2001:db8::2/64 dev xdemo-b nodad
ip -n "$A" addr add 10.1.0.1/32 dev lo
ip -n "$B" addr add 10.2.0.1/32 dev lo
ip -n "$A" addr add fd00:1::1/128 dev lo
ip -n "$B" addr add fd00:2::1/128 dev lo
ip -n "$A" link set xdemo-a up
ip -n "$B" link set xdemo-b up
ip -n "$A" route add 10.2.0.0/24 dev xdemo-a src 10.1.0.1
ip -n "$B" route add 10.1.0.0/24 dev xdemo-b src 10.2.0.1
ip -n "$A" route add fd00:2::/64 dev xdemo-a src fd00:1::1
ip -n "$B" route add fd00:1::/64 dev xdemo-b src fd00:2::1

say "real ESP tunnels, both directions, IPv4 and IPv6 (keys random, never shown)"
# One SA per direction and family; the same states on both sides, policies mirrored.
sa()	# src dst spi inner-src inner-dst
{
	local k
	k=$(key)
	for ns in "$A" "$B"; do
		ip -n "$ns" xfrm state add src "$1" dst "$2" proto esp spi "$3" reqid "$3" \
			mode tunnel aead 'rfc4106(gcm(aes))' "$k" 128
	done
	ip -n "$A" xfrm policy add src "$4" dst "$5" dir "$6" tmpl src "$1" dst "$2" proto esp \
		reqid "$3" mode tunnel
	ip -n "$B" xfrm policy add src "$4" dst "$5" dir "$7" tmpl src "$1" dst "$2" proto esp \
		reqid "$3" mode tunnel
}
sa 192.0.2.1 192.0.2.2 0x1001 10.1.0.0/24 10.2.0.0/24 out in
sa 192.0.2.2 192.0.2.1 0x1002 10.2.0.0/24 10.1.0.0/24 in out
sa 2001:db8::1 2001:db8::2 0x2001 fd00:1::/64 fd00:2::/64 out in
sa 2001:db8::2 2001:db8::1 0x2002 fd00:2::/64 fd00:1::/64 in out
ip -n "$B" xfrm state | grep -E '^src|proto' | sed -n 'p' | paste - - | sed 's/\t/  /'

say "attach xoff on $B's veth and start its daemon"
xo attach xdemo-b
st_bg $X run log-level warning
st_wait 20 sh -c "$X -j status | jq -e '.daemon.running and .daemon.last_sync_age_s != null'" ||
	{ echo "demo: the daemon did not start"; exit 1; }
xo status

say "traffic: 20 pings over each tunnel, and 1000 ESP frames with an SPI nobody holds"
ip netns exec "$A" ping -q -c 20 -i 0.01 -I 10.1.0.1 10.2.0.1 | tail -n 2
ip netns exec "$A" ping -q -c 20 -i 0.01 -I fd00:1::1 fd00:2::1 | tail -n 2
mac=$(ip -n "$B" -j link show xdemo-b | jq -r '.[0].address')
ip netns exec "$A" "$PKTGEN" xdemo-a --src 192.0.2.1 --dst 192.0.2.2 --dmac "$mac" \
	--spi 0xdead --count 1000

say "what xoff sees, beside what the kernel counted"
xo sa list
say "why each packet went where it went"
xo stats
say "the same as JSON, for scripts"
xo -j sa show spi 0x1001 | jq -c '.[0] | {spi, dir, path, path_reason, cpu, packets, bytes, kernel_packets, kernel_bytes, mirror}'

say "detach"
xo detach xdemo-b
echo "# demo done: namespaces, pins and the daemon are removed on exit"

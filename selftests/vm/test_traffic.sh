#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Traffic through real ESP tunnels (needs ESP: run in the VM, selftests/vm/vm.sh). Two
# namespaces A and B joined by veth; AES-GCM tunnels A <-> B for IPv4, IPv6 and IPv4 in
# UDP (RFC 3948, with a UDP_ENCAP socket on each side as an IKE daemon would hold); xoff
# attached on B's veth (the receiver) with its daemon running in B. Checks:
#   - counts: for every SA of B (inbound counted at XDP, outbound at TC egress), xoff's
#     fast-path packets equal the kernel's curlft packets (sa list's kernel_packets and
#     `ip -s xfrm state`) and the pings sent; bytes follow include/xoff/abi.h: kernel =
#     inner packets, xoff = kernel + padding, exactly (ping sizes chosen for 0 and for 2
#     bytes of padding); outbound ESP the kernel finishes after TC egress (esp4_offload and
#     esp6_offload are loaded for that) is counted without padding, equal to the kernel;
#   - authenticated counts (include/xoff/abi.h): every inbound SA's, counted at TC ingress
#     from the secpath of the decapsulated packets, equal the kernel's curlft exactly,
#     packets and bytes, under pings and under TCP bulk transfers through the IPv4 and
#     IPv6 tunnels with GRO on (merged inner segments counted one by one); outbound
#     software SAs have none (no packet-offload selector);
#   - steering: each inbound SA's packets reach TC ingress (selftests/bpf/st_cpu.bpf.c)
#     on the CPU sa list gives it and on no other, although sent from the other CPU; the
#     two first SAs get different CPUs; the XDP reason sa-steered counts every packet;
#   - unknown SPIs: passed (the kernel counts XfrmInNoStates) by default, dropped at XDP
#     with unknown-spi drop (XfrmInNoStates stays), while tunnel pings, plain pings, IKE
#     on 500 and on 4500 (behind the non-ESP marker) and NAT-T keepalives still pass.
#   env OUT=DIR bash selftests/vm/test_traffic.sh
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ipsec.sh"

ips_init test_traffic bpftool jq tc busybox taskset
ST_CPU=$OUT/st_cpu.bpf.o
PKTGEN=$OUT/xoff-pktgen
[ -f "$ST_CPU" ] || { echo "FAIL: test_traffic: $ST_CPU not built (make)"; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "SKIP: test_traffic: steering needs 2 CPUs, $(nproc) here"; exit 4; }
die() { st_fail "$1" "$2"; st_done; }

ips_ns a || exit 1
A=$IPS_NS
ips_ns b || exit 1
B=$IPS_NS
ips_daemon_ns "$B"
ips_bpffs || exit 1
BPFFS=$IPS_BPFFS
PINS=$BPFFS/xoff
ips_tmpdir || exit 1
TMP=$IPS_TMP

ips_need_esp test_traffic "$B"

# ---- two namespaces, three tunnels, an SA only A knows -----------------------------------
ips_veth "$A" va "$B" vb || die setup "no veth pair"
ip -n "$A" -batch - <<EOF
addr add 10.0.0.1/24 dev va
addr add fd00::1/64 dev va nodad
addr add 192.168.1.1/32 dev lo
addr add 192.168.3.1/32 dev lo
addr add fd01::1/128 dev lo
EOF
ip -n "$B" -batch - <<EOF
addr add 10.0.0.2/24 dev vb
addr add fd00::2/64 dev vb nodad
addr add 192.168.2.1/32 dev lo
addr add 192.168.4.1/32 dev lo
addr add fd02::1/128 dev lo
EOF
# With esp4_offload/esp6_offload loaded (any SA that ever asked for offload loads them)
# the kernel defers ESP output of SAs without encapsulation to the device's transmit,
# after TC egress: load them, so that every run takes the same paths (the UDP SAs keep
# the plain software path). GRO could take inbound ESP into them before TC ingress.
for m in esp4_offload esp6_offload; do
	[ -d /sys/module/$m ] || ips_modprobe $m
	[ -d /sys/module/$m ] && st_log "$m loaded: ESP output of the IPv${m:3:1} tunnel deferred past TC egress" ||
		st_log "$m not available: plain software ESP output"
done
ip netns exec "$B" ethtool -K vb gro off >/dev/null 2>&1
ips_tunnel "$A" "$B" 10.0.0.1 10.0.0.2 192.168.1.1 192.168.2.1 0xa4 0xb4 4 2>"$TMP/err" &&
ips_tunnel "$A" "$B" fd00::1 fd00::2 fd01::1 fd02::1 0xa6 0xb6 6 2>>"$TMP/err" &&
ips_tunnel "$A" "$B" 10.0.0.1 10.0.0.2 192.168.3.1 192.168.4.1 0xc4 0xd4 5 \
	encap espinudp 4500 4500 0.0.0.0 2>>"$TMP/err" || die setup "tunnels: $(head -n 2 "$TMP/err")"
# SPI 0xdead: A sends ESP to 192.168.2.2 through it, B has no such SA.
ip -n "$A" -batch - <<EOF || die setup "SA 0xdead in A"
xfrm state add src 10.0.0.1 dst 10.0.0.2 proto esp spi 0xdead reqid 7 mode tunnel aead $(ips_aead 0xdead)
xfrm policy add src 192.168.1.1 dst 192.168.2.2 dir out tmpl src 10.0.0.1 dst 10.0.0.2 proto esp reqid 7 mode tunnel
route add 192.168.2.2 via 10.0.0.2 src 192.168.1.1
EOF
# The kernel decapsulates ESP-in-UDP only for a socket with UDP_ENCAP_ESPINUDP on 4500.
ips_encap_sock "$A" 4500 "$TMP/encap-a" || die setup "no UDP_ENCAP socket in A"
ips_encap_sock "$B" 4500 "$TMP/encap-b" || die setup "no UDP_ENCAP socket in B"
ips_udp_sink "$B" 10.0.0.2 500 "$TMP/ike500" || die setup "no UDP socket on 500 in B"

xo() { ip netns exec "$B" "$XOFFCTL" -P "$PINS" "$@"; }

# ---- xoff on B: the daemon, attach (steer on by default), the CPU probe on TC ingress ------
st_bg ip netns exec "$B" "$XOFFCTL" -P "$PINS" run 2>"$TMP/daemon.log"
daemon_up() { xo -j status | grep -q '"running":true'; }
st_wait 20 daemon_up || die "daemon starts" "$(tail -n 2 "$TMP/daemon.log")"
if out=$(xo -j attach vb 2>&1) && grep -q '"daemon_pid":[0-9]' <<< "$out"; then
	st_pass "attach vb (steer on by default), the daemon told"
	st_log "attach: $out"
else
	die "attach vb" "$out"
fi
mapped() { [ "$(xo -j sa list | grep -o '"path":"sw"' | wc -l)" = 6 ]; }
st_wait 20 mapped && st_pass "the 6 SAs of B in the fast path" ||
	st_fail "the 6 SAs of B in the fast path" "$(xo sa list 2>&1 | tail -n 3)"
declare -A CPU
while read -r spi cpu; do CPU[$spi]=$cpu; done <<< "$(xo -j sa list | jq -r '.[] | "\(.spi) \(.cpu)"')"
st_log "CPUs: 0xa4 on ${CPU[0x000000a4]}, 0xa6 on ${CPU[0x000000a6]}, 0xc4 on ${CPU[0x000000c4]}"

# (pinmaps would not do: libbpf turns the '.' of mktemp's directory name into '_')
if ! bpftool prog load "$ST_CPU" "$BPFFS/st_cpu" type classifier 2>"$TMP/err" ||
   ! ip netns exec "$B" tc filter add dev vb ingress bpf da object-pinned "$BPFFS/st_cpu" 2>>"$TMP/err" ||
   ! CPU_MAP=$(bpftool -j prog show pinned "$BPFFS/st_cpu" | jq -e '.map_ids[0]'); then
	die "TC ingress CPU probe" "$(head -n 3 "$TMP/err" | tr '\n' ' ')"
fi

# ---- traffic, and one check of everything --------------------------------------------------
# ping SRC-NS CPU COUNT SIZE DST: pinned to CPU; prints the replies received.
ping_from()
{
	local cmd=ping
	case $5 in *:*) cmd=ping6 ;; esac
	taskset -c "$2" ip netns exec "$1" busybox $cmd -q -c "$3" -s "$4" -i 0.02 -W 2 "$5" 2>&1 |
		sed -n 's/.* \([0-9]*\) packets received.*/\1/p'
}
# ping_ok NAME CPU COUNT SIZE DST: PASS when every echo came back.
ping_ok()
{
	local got
	got=$(ping_from "$A" "$2" "$3" "$4" "$5")
	[ "$got" = "$3" ] && st_pass "$1" || st_fail "$1" "${got:-no} replies of $3"
}
other() { echo $((1 - $1)); }
# The padding of an inner packet of LEN bytes under AES-GCM: ESP aligns payload + 2 to 4.
pad() { echo $(((4 - ($1 + 2) % 4) % 4)); }

CHECK='
def check($name; cond; $why): if cond then ["PASS", $name] else ["FAIL", $name, $why] end;
($L[0] // []) as $l | ($S[0].interfaces[0].xdp // {}) as $x | ($C[0] // []) as $c |
($K | split("\n") | map(select(length > 0) | split(" ") |
	{key: .[0], value: {bytes: (.[1] | tonumber), packets: (.[2] | tonumber)}}) | from_entries) as $k |
def onc($spi; $cpu): [$c[] | select(.formatted.key.spi == $spi and .formatted.key.cpu == $cpu) | .formatted.value] | add // 0;
def offc($spi; $cpu): [$c[] | select(.formatted.key.spi == $spi and .formatted.key.cpu != $cpu) | .formatted.value] | add // 0;
def percpu($spi): [$c[] | select(.formatted.key.spi == $spi) | "CPU \(.formatted.key.cpu): \(.formatted.value)"] | join(", ");
(($E | split("\n") | map(select(length > 0) | split("|")))[] | . as $e |
 if $e[0] == "in" or $e[0] == "out" then
	$e[1:] as [$spi, $num, $n, $len, $pad, $encap] |
	($num | tonumber) as $num | ($n | tonumber) as $n | ($len | tonumber) as $len | ($pad | tonumber) as $pad |
	([$l[] | select(.spi == $spi)] | .[0]) as $j | ($k[$spi] // {bytes: null, packets: null}) as $t |
	if $j == null then ["FAIL", "\($pfx)\($spi): listed", "not in sa list"]
	else
	  check("\($pfx)\($spi): \($e[0])bound, software path, encap \($encap)"; $j.dir == $e[0] and $j.path == "sw" and
		$j.encap == $encap and (($j.cpu | type) == "number") == ($e[0] == "in");
		"dir \($j.dir), path \($j.path), encap \($j.encap), cpu \($j.cpu)"),
	  check("\($pfx)\($spi): fast-path packets = kernel packets = \($n) sent"; $j.fastpath_packets == $n and
		$j.kernel_packets == $n and $t.packets == $n;
		"fast path \($j.fastpath_packets), sa list kernel_packets \($j.kernel_packets), ip -s xfrm state \($t.packets)"),
	  check("\($pfx)\($spi): kernel bytes = \($n) inner packets of \($len)"; $j.kernel_bytes == $n * $len and
		$t.bytes == $j.kernel_bytes; "sa list kernel_bytes \($j.kernel_bytes), ip -s xfrm state \($t.bytes)"),
	  check("\($pfx)\($spi): fast-path bytes = kernel + padding (\($pad) per packet)"; $j.fastpath_bytes ==
		$j.kernel_bytes + $n * $pad; "fast path \($j.fastpath_bytes), kernel \($j.kernel_bytes)"),
	  check("\($pfx)\($spi): fast-path bytes within kernel .. kernel + 3 x packets"; $j.fastpath_bytes >= $j.kernel_bytes and
		$j.fastpath_bytes <= $j.kernel_bytes + 3 * $j.fastpath_packets; "fast path \($j.fastpath_bytes), kernel \($j.kernel_bytes)"),
	  if $e[0] == "in" then
		check("\($pfx)\($spi): authenticated = kernel, packets and bytes"; $j.auth_packets == $j.kernel_packets and
			$j.auth_bytes == $j.kernel_bytes; "authenticated \($j.auth_packets) packets \($j.auth_bytes) bytes, kernel \($j.kernel_packets) \($j.kernel_bytes)")
	  else
		check("\($pfx)\($spi): no authenticated counts (no packet-offload selector)"; $j.auth_packets == null;
			"authenticated \($j.auth_packets)")
	  end,
	  ["INFO", "\($pfx)\($spi) \($e[0]): \($j.fastpath_packets) packets, fast path \($j.fastpath_bytes) bytes, kernel \($j.kernel_packets) packets \($j.kernel_bytes) bytes\(if $e[0] == "in" then ", CPU \($j.cpu); TC ingress: \(percpu($num))" else "" end)"],
	  if $e[0] == "in" then
		check("\($pfx)\($spi): all \($n) at TC ingress on its CPU, none on another"; onc($num; $j.cpu) == $n and
			offc($num; $j.cpu) == 0; "SA on CPU \($j.cpu), TC ingress saw \(percpu($num))")
	  else empty end
	end
 elif $e[0] == "spread" then
	([$l[] | select(.spi == $e[2]) | .cpu][0]) as $a | ([$l[] | select(.spi == $e[3]) | .cpu][0]) as $b |
	check($e[1]; $a != $b and $a != null and $b != null; "CPUs \($a) and \($b)")
 elif $e[0] == "reason" then
	($x[$e[2]].total // null) as $v |
	check($e[1]; $v == ($e[3] | tonumber); "\($e[2]) is \($v), want \($e[3]) (per CPU \($x[$e[2]].per_cpu))")
 elif $e[0] == "steercpu" then
	($x["sa-steered"].per_cpu // []) as $v |
	check($e[1]; $v == ($e[2] | split(",") | map(tonumber)); "sa-steered per CPU \($v), sent per CPU [\($e[2])]")
 elif $e[0] == "tc" then
	([$c[] | select(.formatted.key.spi == ($e[2] | tonumber)) | .formatted.value] | add // 0) as $v |
	check($e[1]; $v == ($e[3] | tonumber); "\($v) at TC ingress, want \($e[3])")
 else ["FAIL", "check", "unknown kind \($e[0])"] end) | @tsv
'
EXP=()
# The state of B now against EXP, one line per assertion; SA names prefixed with $1.
verify()
{
	local pfx=${1:-}
	xo -j sa list > "$TMP/list" 2>"$TMP/err" || echo '[]' > "$TMP/list"
	xo -j stats > "$TMP/stats" 2>>"$TMP/err" || echo '{}' > "$TMP/stats"
	bpftool -j map dump id "$CPU_MAP" > "$TMP/cpu" 2>>"$TMP/err" || echo '[]' > "$TMP/cpu"
	ip -n "$B" -s xfrm state | ips_curlft_all > "$TMP/curlft"
	printf '%s\n' "${EXP[@]}" > "$TMP/exp"
	jq -n -r --arg pfx "$pfx" --slurpfile L "$TMP/list" --slurpfile S "$TMP/stats" --slurpfile C "$TMP/cpu" \
		--rawfile K "$TMP/curlft" --rawfile E "$TMP/exp" "$CHECK" > "$TMP/res" 2>&1 ||
		printf 'FAIL\tcheck\tjq: %s %s\n' "$(head -c 300 "$TMP/res")" "$(head -c 200 "$TMP/err")" > "$TMP/res"
	ips_report < "$TMP/res"
	EXP=()
}
# exp_sa in|out SPI COUNT INNER-LEN ENCAP [PADDING]: padding per packet by default that of
# AES-GCM; 0 for ESP that TC egress sees before its tail exists (deferred output).
exp_sa() { EXP+=("$1|$(printf '0x%08x' "$2")|$(($2))|$3|$4|${6:-$(pad "$4")}|$5"); }
# Outbound ESP of a tunnel without encapsulation is deferred when FAMILY's module is in.
deferred() { [ -d /sys/module/esp$1_offload ] && echo 0; }

# Sizes: an IPv4 echo of S data bytes is a 28 + S byte inner packet: 58 gives 86, no
# padding; an IPv6 one 48 + S: 56 gives 104, 2 bytes of padding.
N4=50 S4=58 L4=86 N6=50 S6=56 L6=104 NU=20 SU=58 LU=86
t0=$(date +%s%N)
ping_ok "ping IPv4 tunnel ($N4 x $S4 bytes from CPU $(other "${CPU[0x000000a4]}"))" \
	"$(other "${CPU[0x000000a4]}")" $N4 $S4 192.168.2.1
ping_ok "ping IPv6 tunnel ($N6 x $S6 bytes from CPU $(other "${CPU[0x000000a6]}"))" \
	"$(other "${CPU[0x000000a6]}")" $N6 $S6 fd02::1
ping_ok "ping IPv4-in-UDP tunnel ($NU x $SU bytes from CPU $(other "${CPU[0x000000c4]}"))" \
	"$(other "${CPU[0x000000c4]}")" $NU $SU 192.168.4.1
st_log "$((N4 + N6 + NU)) pings in $((($(date +%s%N) - t0) / 1000000)) ms"
exp_sa in 0xa4 $N4 $L4 none
exp_sa in 0xa6 $N6 $L6 none
exp_sa in 0xc4 $NU $LU espinudp
exp_sa out 0xb4 $N4 $L4 none "$(deferred 4)"
exp_sa out 0xb6 $N6 $L6 none "$(deferred 6)"
exp_sa out 0xd4 $NU $LU espinudp
EXP+=("spread|the IPv4 and IPv6 SAs on different CPUs|0x000000a4|0x000000a6")
EXP+=("reason|XDP: every ESP packet steered|sa-steered|$((N4 + N6 + NU))")
# XDP ran where the sender ran (veth's NAPI), TC ingress on the SA's CPU: each crossed.
sent=(0 0)
sent[$(other "${CPU[0x000000a4]}")]=$((sent[$(other "${CPU[0x000000a4]}")] + N4))
sent[$(other "${CPU[0x000000a6]}")]=$((sent[$(other "${CPU[0x000000a6]}")] + N6))
sent[$(other "${CPU[0x000000c4]}")]=$((sent[$(other "${CPU[0x000000c4]}")] + NU))
EXP+=("steercpu|XDP: steered on the sending CPUs, then run on the SA's|${sent[0]},${sent[1]}")
EXP+=("reason|XDP: no steering failed|steer-failed|0")
EXP+=("reason|XDP: no SA left unsteered|sa-sw|0")
EXP+=("reason|XDP: no unknown SPI|unknown-spi-pass|0")
verify

# ---- unknown SPI: passed by default, the kernel counts it --------------------------------
NX=5
nostates=$(ips_xfrm_stat "$B" XfrmInNoStates)
ping_from "$A" 0 $NX 58 192.168.2.2 >/dev/null
d=$(($(ips_xfrm_stat "$B" XfrmInNoStates) - nostates))
[ $d = $NX ] && st_pass "unknown SPI passed: the kernel's XfrmInNoStates +$NX" ||
	st_fail "unknown SPI passed: the kernel's XfrmInNoStates +$NX" "+$d"
EXP+=("reason|unknown-spi pass: counted|unknown-spi-pass|$NX")
EXP+=("tc|unknown-spi pass: reaches the stack|$((0xdead))|$NX")
verify

# ---- unknown-spi drop ----------------------------------------------------------------------
st_check "detach vb" xo detach vb
if out=$(xo -j attach vb unknown-spi drop 2>&1) && xo -j status | grep -q '"unknown_spi":"drop"'; then
	st_pass "attach vb unknown-spi drop"
else
	st_fail "attach vb unknown-spi drop" "$out"
fi
nostates=$(ips_xfrm_stat "$B" XfrmInNoStates)
ping_from "$A" 0 $NX 58 192.168.2.2 >/dev/null
ND=$NX NIKE=0 NKA=0
MACB=$(ip netns exec "$B" cat /sys/class/net/vb/address)
if [ -x "$PKTGEN" ]; then
	g() { ip netns exec "$A" "$PKTGEN" va --src 10.0.0.1 --dst 10.0.0.2 --dmac "$MACB" --quiet "$@"; }
	g6() { ip netns exec "$A" "$PKTGEN" va --src fd00::1 --dst fd00::2 --dmac "$MACB" --quiet "$@"; }
	g --spi 0xbad0 --count 10 && g --udp --spi 0xbad1 --count 10 &&
		g6 --spi 0xbad2 --count 10 &&
		g --ike --count 5 && g --ike --udp --count 5 && g --keepalive --count 5 ||
		st_fail "xoff-pktgen" "exit $?"
	ND=$((ND + 30)) NIKE=10 NKA=5
else
	st_skip "crafted frames (ESP and ESP-in-UDP with unknown SPIs, IKE)" "$PKTGEN not built"
fi
d=$(($(ips_xfrm_stat "$B" XfrmInNoStates) - nostates))
[ $d = 0 ] && st_pass "unknown SPI dropped: XfrmInNoStates unchanged" ||
	st_fail "unknown SPI dropped: XfrmInNoStates unchanged" "+$d"
# What must still pass: tunnels, plain IP, IKE on 500 and behind the marker on 4500,
# keepalives (which the kernel's encap socket then eats).
ping_ok "drop mode: IPv4 tunnel still works" "$(other "${CPU[0x000000a4]}")" 10 $S4 192.168.2.1
ping_ok "drop mode: IPv6 tunnel still works" "$(other "${CPU[0x000000a6]}")" 10 $S6 fd02::1
ping_ok "drop mode: IPv4-in-UDP tunnel still works" "$(other "${CPU[0x000000c4]}")" 10 $SU 192.168.4.1
ping_ok "drop mode: plain IPv4 ping" 0 5 56 10.0.0.2
ping_ok "drop mode: plain IPv6 ping" 1 5 56 fd00::2
ips_udp_send "$A" 10.0.0.2 ike:500:5 ike-marker:4500:5 keepalive:4500:5
NIKE=$((NIKE + 10)) NKA=$((NKA + 5))
got() { [ "$(cat "$1")" = "$2" ]; }
want500=$((NIKE / 2)) want4500=$((NIKE / 2))
st_wait 5 got "$TMP/ike500" $want500 && st_pass "drop mode: IKE on UDP 500 delivered ($want500)" ||
	st_fail "drop mode: IKE on UDP 500 delivered ($want500)" "$(cat "$TMP/ike500") received"
st_wait 5 got "$TMP/encap-b" $want4500 &&
	st_pass "drop mode: IKE behind the non-ESP marker on 4500 delivered ($want4500)" ||
	st_fail "drop mode: IKE behind the non-ESP marker on 4500 delivered ($want4500)" \
		"$(cat "$TMP/encap-b") received"
exp_sa in 0xa4 $((N4 + 10)) $L4 none
exp_sa in 0xa6 $((N6 + 10)) $L6 none
exp_sa in 0xc4 $((NU + 10)) $LU espinudp
EXP+=("reason|drop mode: unknown SPIs dropped at XDP|unknown-spi-drop|$ND")
EXP+=("reason|drop mode: none passed|unknown-spi-pass|0")
EXP+=("tc|drop mode: no unknown SPI reaches the stack|$((0xdead))|$NX")
EXP+=("tc|drop mode: no crafted unknown SPI reaches the stack|$((0xbad0))|0")
EXP+=("reason|drop mode: IKE passed|ike|$NIKE")
EXP+=("reason|drop mode: NAT-T keepalives passed|natt-keepalive|$NKA")
EXP+=("reason|drop mode: tunnel ESP steered|sa-steered|30")
EXP+=("reason|drop mode: no steering failed|steer-failed|0")
verify "drop mode: "

# ---- TCP bulk with GRO on: authenticated counts equal the kernel's, segment by segment -----
# tcp_bulk DST PORT BYTES: BYTES from A to DST:PORT (a listener in B), through a tunnel.
tcp_bulk()
{
	local srv rc
	ip netns exec "$B" timeout 60 busybox nc -l -p "$2" > /dev/null &
	srv=$!
	listening() { ip netns exec "$B" ss -Hltn "sport = :$2" | grep -q .; }
	st_wait 10 listening || { kill $srv 2>/dev/null; return 1; }
	ip netns exec "$A" timeout 60 bash -c "exec 3<>/dev/tcp/$1/$2 && head -c $3 /dev/zero >&3 && exec 3>&-"
	rc=$?
	wait $srv
	return $((rc | $?))
}
ip netns exec "$B" ethtool -K vb gro on >/dev/null 2>&1
st_log "vb: $(ip netns exec "$B" ethtool -k vb 2>/dev/null | grep -E '^generic-receive-offload')"
tci_auth() { xo -j stats | jq '.interfaces[0].tc_ingress.authenticated.total // 0'; }
xo -j sa list > "$TMP/before"
a0=$(tci_auth)
for t in "192.168.2.1 0xa4 IPv4" "fd02::1 0xa6 IPv6"; do
	set -- $t
	tcp_bulk "$1" 5001 3000000 && st_pass "TCP bulk through the $3 tunnel, GRO on (3 MB)" ||
		st_fail "TCP bulk through the $3 tunnel, GRO on (3 MB)" "exit $?"
done
xo -j sa list > "$TMP/after"
a1=$(tci_auth)
jq -n -r --slurpfile A "$TMP/before" --slurpfile B "$TMP/after" --argjson skbs $((a1 - a0)) '
def check($name; cond; $why): if cond then ["PASS", $name] else ["FAIL", $name, $why] end;
def sa($l; $spi): [$l[0][] | select(.spi == $spi)][0];
def authin($l): [$l[0][] | select(.dir == "in") | .auth_packets] | add;
(["0x000000a4", "0x000000a6"][] as $spi | sa($B; $spi) as $j | sa($A; $spi) as $i |
 check("TCP bulk, GRO on: \($spi) authenticated = kernel (\($j.kernel_packets - $i.kernel_packets) more packets)";
	$j.auth_packets == $j.kernel_packets and $j.auth_bytes == $j.kernel_bytes;
	"authenticated \($j.auth_packets) packets \($j.auth_bytes) bytes, kernel \($j.kernel_packets) \($j.kernel_bytes)")),
((authin($B) - authin($A)) as $p |
 ["INFO", "TCP bulk: \($p) authenticated packets in \($skbs) skbs at TC ingress (GRO merged: \($p > $skbs))"])
| @tsv' > "$TMP/res"
ips_report < "$TMP/res"

# ---- the daemon saw no trouble -------------------------------------------------------------
bad=$(grep -E 'xoffd: (error|warning)' "$TMP/daemon.log")
[ -z "$bad" ] && st_pass "daemon logged no error or warning" ||
	st_fail "daemon logged no error or warning" "$(head -n 1 <<< "$bad")"
ip netns exec "$B" tc filter del dev vb ingress
st_check "detach vb" xo detach vb

st_done

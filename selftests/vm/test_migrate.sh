#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# XFRM_MSG_MIGRATE under xoff's daemon (needs ESP and CONFIG_XFRM_MIGRATE: run in the VM,
# selftests/vm/vm.sh). The kernel moves an SA to new addresses (a clone with the same SPI
# replaces it) and rewrites the policies' templates without any SA or policy event, as
# libreswan asks for MOBIKE. Two namespaces S and P with an IPv4 and an IPv6 ESP tunnel,
# xoff attached on S's veth with unknown-spi drop and its daemon running:
#
#     S: 192.168.1.1, fd01::1 (lo)                 P: 192.168.2.1, fd02::1 (lo)
#     xs0 10.1.0.1 -> .11, 2001:db8:1::1 -> ::11 ---- xs1 10.1.0.2 -> .12, ::2 -> ::12
#     SPIs: 0x41 S->P, 0x42 P->S (reqid 4); 0x61 S->P, 0x62 P->S (reqid 6)
#
# For each family, S moves (its inbound SA's map key changes: the XDP side), then P moves
# (S's outbound SA's key changes: the TC side). Each side sends what libreswan sends, one
# MIGRATE per policy direction (out, in, fwd), with build/xoff-migrate; the MIGRATE that
# changes a key in S's map times the map following it (within 100 ms), and the SA keeps
# its counter slot and CPU. After each move pings go through the moved tunnel (so the
# drop policy met the new key), the fast path counts them under the new key, equal to the
# kernel's curlft, and no ESP was dropped as unknown.
#   env OUT=DIR bash selftests/vm/test_migrate.sh
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ipsec.sh"

ips_init test_migrate bpftool jq busybox
MIG=$OUT/xoff-migrate
ips_need test_migrate "$MIG"
die() { st_fail "$1" "$2"; st_done; }
LIMIT_US=100000		# the map follows a MIGRATE within 100 ms

ips_ns s || exit 1
S=$IPS_NS
ips_ns p || exit 1
P=$IPS_NS
ips_daemon_ns "$S"
ips_bpffs || exit 1
PINS=$IPS_BPFFS/xoff
ips_tmpdir || exit 1
TMP=$IPS_TMP

ips_need_esp test_migrate "$S"
# Without CONFIG_XFRM_MIGRATE the kernel answers ENOPROTOOPT; with it, ENOENT here (no
# policy to move yet).
if ! ip netns exec "$S" "$MIG" out 10.9.0.0/24 10.8.0.0/24 10.7.0.1 10.7.0.2 10.7.0.1 10.7.0.3 1 \
	2>&1 | grep -q 'No such file'; then
	echo "SKIP: test_migrate: no XFRM_MSG_MIGRATE in $(uname -r) (CONFIG_XFRM_MIGRATE)"
	exit 4
fi

# ---- two namespaces, two tunnels, out/in/fwd policies on both sides ----------------------
ips_veth "$S" xs0 "$P" xs1 || die setup "no veth pair"
ip -n "$S" -batch - <<EOF || die setup "addresses in S"
addr add 10.1.0.1/24 dev xs0
addr add 10.1.0.11/24 dev xs0
addr add 2001:db8:1::1/64 dev xs0 nodad
addr add 2001:db8:1::11/64 dev xs0 nodad
addr add 192.168.1.1/32 dev lo
addr add fd01::1/128 dev lo
EOF
ip -n "$P" -batch - <<EOF || die setup "addresses in P"
addr add 10.1.0.2/24 dev xs1
addr add 10.1.0.12/24 dev xs1
addr add 2001:db8:1::2/64 dev xs1 nodad
addr add 2001:db8:1::12/64 dev xs1 nodad
addr add 192.168.2.1/32 dev lo
addr add fd02::1/128 dev lo
EOF
ip netns exec "$S" ethtool -K xs0 gro off >/dev/null 2>&1	# XDP counts what the kernel does
ips_tunnel "$S" "$P" 10.1.0.1 10.1.0.2 192.168.1.1 192.168.2.1 0x41 0x42 4 2>"$TMP/err" &&
ips_tunnel "$S" "$P" 2001:db8:1::1 2001:db8:1::2 fd01::1 fd02::1 0x61 0x62 6 2>>"$TMP/err" ||
	die setup "tunnels: $(head -n 2 "$TMP/err")"
ip -n "$S" -batch - <<EOF || die setup "fwd policies in S"
xfrm policy add src 192.168.2.1 dst 192.168.1.1 dir fwd tmpl src 10.1.0.2 dst 10.1.0.1 proto esp reqid 4 mode tunnel
xfrm policy add src fd02::1 dst fd01::1 dir fwd tmpl src 2001:db8:1::2 dst 2001:db8:1::1 proto esp reqid 6 mode tunnel
EOF
ip -n "$P" -batch - <<EOF || die setup "fwd policies in P"
xfrm policy add src 192.168.1.1 dst 192.168.2.1 dir fwd tmpl src 10.1.0.1 dst 10.1.0.2 proto esp reqid 4 mode tunnel
xfrm policy add src fd01::1 dst fd02::1 dir fwd tmpl src 2001:db8:1::1 dst 2001:db8:1::2 proto esp reqid 6 mode tunnel
EOF

xo() { ip netns exec "$S" "$XOFFCTL" -P "$PINS" "$@"; }
st_bg ip netns exec "$S" "$XOFFCTL" -P "$PINS" run 2>"$TMP/daemon.log"
daemon_up() { xo -j status | grep -q '"running":true'; }
st_wait 20 daemon_up || die "daemon starts" "$(tail -n 2 "$TMP/daemon.log")"
if out=$(xo -j attach xs0 unknown-spi drop 2>&1) && grep -q '"daemon_pid":[0-9]' <<< "$out"; then
	st_pass "attach xs0 unknown-spi drop, the daemon told"
else
	die "attach xs0 unknown-spi drop" "$out"
fi
mapped() { [ "$(xo -j sa list | grep -o '"path":"sw"' | wc -l)" = 4 ]; }
st_wait 20 mapped && st_pass "the 4 SAs of S in the fast path" ||
	die "the 4 SAs of S in the fast path" "$(xo sa list 2>&1 | tail -n 3)"

# ---- checks --------------------------------------------------------------------------------
# ping_ok NAME COUNT DST: from P, every echo back (drop mode: only if xoff knows the keys).
ping_ok()
{
	local cmd=ping got
	case $3 in *:*) cmd=ping6 ;; esac
	got=$(ip netns exec "$P" busybox $cmd -q -c "$2" -s 56 -i 0.02 -W 2 "$3" 2>&1 |
		sed -n 's/.* \([0-9]*\) packets received.*/\1/p')
	[ "$got" = "$2" ] && st_pass "$1" || st_fail "$1" "${got:-no} replies of $2"
}

# check NAME SPI DST SRC PACKETS-ADDED: S's SA SPI is listed to DST from SRC, in the fast
# path, its fast-path packets equal the kernel's and grew by PACKETS-ADDED since the last
# check (COUNT holds the last values by SPI); no ESP was dropped as unknown at XDP.
declare -A COUNT
check()
{
	local name=$1 spi=$2 dst=$3 src=$4 add=$5 res
	xo -j sa list > "$TMP/list" 2>"$TMP/err" || echo '[]' > "$TMP/list"
	xo -j stats > "$TMP/stats" 2>>"$TMP/err" || echo '{}' > "$TMP/stats"
	res=$(jq -r --arg spi "$(printf '0x%08x' "$spi")" --arg dst "$dst" --arg src "$src" \
		--argjson was "${COUNT[$spi]:-0}" --argjson add "$add" --slurpfile S "$TMP/stats" '
		[.[] | select(.spi == $spi)] as $l | ($S[0].interfaces[0].xdp["unknown-spi-drop"].total // -1) as $d |
		if ($l | length) != 1 then "FAIL \($l | length) SAs of SPI \($spi) listed"
		else $l[0] as $j |
		  if $j.dst != $dst or $j.src != $src then "FAIL listed as \($j.src) -> \($j.dst)"
		  elif $j.path != "sw" then "FAIL path \($j.path): \($j.path_reason)"
		  elif $j.fastpath_packets != $j.kernel_packets then "FAIL fast path \($j.fastpath_packets) packets, kernel \($j.kernel_packets)"
		  elif $j.fastpath_packets != $was + $add then "FAIL fast path \($j.fastpath_packets) packets, want \($was) + \($add)"
		  elif $d != 0 then "FAIL XDP dropped \($d) packets as unknown SPIs"
		  else "PASS \($j.fastpath_packets)" end
		end' "$TMP/list" 2>&1)
	case $res in
	PASS*)	st_pass "$name"
		COUNT[$spi]=${res#PASS } ;;
	*)	st_fail "$name" "${res#FAIL } $(head -c 200 "$TMP/err")" ;;
	esac
}

# S and P's current outer addresses, by family.
declare -A SA_OF PA_OF IN_S IN_P REQ SPI_OUT SPI_IN PLEN
SA_OF[4]=10.1.0.1 PA_OF[4]=10.1.0.2 IN_S[4]=192.168.1.1 IN_P[4]=192.168.2.1 REQ[4]=4
SPI_OUT[4]=0x41 SPI_IN[4]=0x42 PLEN[4]=32
SA_OF[6]=2001:db8:1::1 PA_OF[6]=2001:db8:1::2 IN_S[6]=fd01::1 IN_P[6]=fd02::1 REQ[6]=6
SPI_OUT[6]=0x61 SPI_IN[6]=0x62 PLEN[6]=128
N=10

for f in 4 6; do
	ping_ok "IPv$f tunnel before any move" $N "${IN_S[$f]}"
	check "IPv$f inbound SA counted at XDP" "${SPI_IN[$f]}" "${SA_OF[$f]}" "${PA_OF[$f]}" $N
	check "IPv$f outbound SA counted at TC" "${SPI_OUT[$f]}" "${PA_OF[$f]}" "${SA_OF[$f]}" $N
done

# migrate SIDE FAMILY NEW_S NEW_P WAIT_DIR WAIT_SPI: SIDE (S or P) sends libreswan's three
# MIGRATEs for the tunnel of FAMILY moving to NEW_S <-> NEW_P; in S, the one of direction
# WAIT_DIR waits for xoff's map to follow, for SA WAIT_SPI.
migrate()
{
	local side=$1 f=$2 ns=$3 np=$4 wdir=$5 wspi=$6 ns_name=$S s=${SA_OF[$2]} p=${PA_OF[$2]}
	local sel_s=${IN_S[$f]}/${PLEN[$f]} sel_p=${IN_P[$f]}/${PLEN[$f]} dir out args
	[ "$side" = P ] && ns_name=$P
	for dir in out in fwd; do
		# From this side's point of view: out goes to the other side.
		if { [ "$side" = S ] && [ $dir = out ]; } || { [ "$side" = P ] && [ $dir != out ]; }; then
			args=("$sel_s" "$sel_p" "$s" "$p" "$ns" "$np")
		else
			args=("$sel_p" "$sel_s" "$p" "$s" "$np" "$ns")
		fi
		if [ "$side" = S ] && [ $dir = "$wdir" ]; then
			if ! out=$(ip netns exec "$ns_name" "$MIG" $dir "${args[@]}" "${REQ[$f]}" \
					wait "$PINS" "$wspi" 2>&1); then
				st_fail "IPv$f: S's MIGRATE $dir followed by xoff's map" "$out"
				continue
			fi
			st_log "IPv$f: S's MIGRATE $dir: $(tr '\n' ' ' <<< "$out")"
			us=$(sed -n 's/^map followed after \([0-9]*\) us.*/\1/p' <<< "$out")
			[ -n "$us" ] && [ "$us" -le $LIMIT_US ] &&
				st_pass "IPv$f: xoff's map follows S's MIGRATE $dir within 100 ms ($((us / 1000)).$((us / 100 % 10)) ms)" ||
				st_fail "IPv$f: xoff's map follows S's MIGRATE $dir within 100 ms" "$out"
			MEASURED+=("$us")
			sed -n 's/.*(slot \([0-9]*\) cpu \([0-9]*\), was slot \([0-9]*\) cpu \([0-9]*\)).*/\1 \2 \3 \4/p' \
				<<< "$out" | { read -r sl c osl oc
				[ "$sl" = "$osl" ] && [ "$c" = "$oc" ] &&
					st_pass "IPv$f: the moved SA ${wspi} keeps its slot $sl and CPU $c" ||
					st_fail "IPv$f: the moved SA ${wspi} keeps its slot and CPU" \
						"slot $osl -> $sl, CPU $oc -> $c"; }
		elif ! out=$(ip netns exec "$ns_name" "$MIG" $dir "${args[@]}" "${REQ[$f]}" 2>&1); then
			st_fail "IPv$f: $side's MIGRATE $dir" "$out"
		fi
	done
}

# move_routes FAMILY: the inner routes through the new outer addresses.
move_routes()
{
	ip -n "$S" route replace "${IN_P[$1]}" via "${PA_OF[$1]}" src "${IN_S[$1]}"
	ip -n "$P" route replace "${IN_S[$1]}" via "${SA_OF[$1]}" src "${IN_P[$1]}"
}

MEASURED=()
for f in 4 6; do
	# ---- S moves: its inbound SA's destination, a map key, changes ---------------------
	case $f in 4) new=10.1.0.11 ;; 6) new=2001:db8:1::11 ;; esac
	migrate S $f "$new" "${PA_OF[$f]}" in "${SPI_IN[$f]}"
	migrate P $f "$new" "${PA_OF[$f]}"
	old=${SA_OF[$f]}
	SA_OF[$f]=$new
	move_routes $f
	grep -q "XFRM migrate (policy in ${IN_P[$f]}/${PLEN[$f]} -> ${IN_S[$f]}/${PLEN[$f]}): proto 50 mode 1 reqid ${REQ[$f]} ${PA_OF[$f]} -> $old now ${PA_OF[$f]} -> $new: $old spi $(printf '0x%08x' "${SPI_IN[$f]}") proto 50; resync" "$TMP/daemon.log" &&
		st_pass "IPv$f: the daemon logs S's move with the SA it moves" ||
		st_fail "IPv$f: the daemon logs S's move with the SA it moves" "$(grep 'XFRM migrate' "$TMP/daemon.log" | tail -n 1)"
	ping_ok "IPv$f tunnel after S moved (drop mode: the new key is known)" $N "${IN_S[$f]}"
	check "IPv$f: S's inbound SA counted at XDP under its new destination $new" "${SPI_IN[$f]}" "$new" "${PA_OF[$f]}" $N
	check "IPv$f: S's outbound SA, its source moved" "${SPI_OUT[$f]}" "${PA_OF[$f]}" "$new" $N

	# ---- P moves: S's outbound SA's destination changes -----------------------------------
	case $f in 4) new=10.1.0.12 ;; 6) new=2001:db8:1::12 ;; esac
	migrate S $f "${SA_OF[$f]}" "$new" out "${SPI_OUT[$f]}"
	migrate P $f "${SA_OF[$f]}" "$new"
	PA_OF[$f]=$new
	move_routes $f
	ping_ok "IPv$f tunnel after P moved" $N "${IN_S[$f]}"
	check "IPv$f: S's outbound SA counted at TC under its new destination $new" "${SPI_OUT[$f]}" "$new" "${SA_OF[$f]}" $N
	check "IPv$f: S's inbound SA, its source moved" "${SPI_IN[$f]}" "${SA_OF[$f]}" "$new" $N
done
st_log "MIGRATE to map followed (us): ${MEASURED[*]}"

# The map holds the 4 SAs under their new keys only.
n=$(bpftool -j map dump pinned "$PINS/xoff_sas" | jq length)
[ "$n" = 4 ] && st_pass "xoff_sas holds the 4 SAs, no stale key" || st_fail "xoff_sas holds the 4 SAs, no stale key" "$n entries"
kill -USR1 "$ST_BG_PID"
st_wait 5 grep -q 'stats:' "$TMP/daemon.log"
st_log "daemon: $(grep 'stats:' "$TMP/daemon.log" | tail -n 1 | sed 's/.*stats: //')"
bad=$(grep -E 'xoffd: (error|warning)' "$TMP/daemon.log")
[ -z "$bad" ] && st_pass "daemon logged no error or warning" ||
	st_fail "daemon logged no error or warning" "$(head -n 1 <<< "$bad")"
st_check "detach xs0" xo detach xs0

st_done

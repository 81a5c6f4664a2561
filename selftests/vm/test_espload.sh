#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The kernel decrypts what xoff-espload sends (needs ESP: run in the VM, selftests/vm/vm.sh).
#
#   G (generator)                         R (receiver: inbound SAs, replay-window 0)
#   vg 10.0.0.1 / fd00::1  <--- veth --->  vr 10.0.0.2 / fd00::2
#   inner 192.168.1.1 -> 192.168.2.1 (R's lo) over IPv4, 192.168.3.1 -> 192.168.4.1 over IPv6
#
# No xoff here: the generator against the kernel alone. Checks:
#   - IPv4 outer, 4 SAs, --seconds 3: each SA's curlft packets grow by what was sent to it
#     (frame i goes to SA i mod N), 98% at least and never more, and its bytes by exactly
#     packets x --inner-size (the kernel counts the decrypted inner packet);
#   - IPv6 outer, 2 SAs, --count 2000, odd --inner-size (3 bytes of padding): likewise;
#   - /proc/net/xfrm_stat: no XfrmInStateProtoError (an ICV that failed), XfrmInNoStates,
#     XfrmInStateSeqError, XfrmInNoPols, XfrmInTmplMismatch, XfrmInError or
#     XfrmInHdrError growth over all of it;
#   - with RPS moving R's receive to the other CPU, the generator offers more than R
#     decrypts: printed (sent, decrypted, dropped per second), no error counter grows.
# Prints "# espload ..." lines with the generator's rate in each phase.
#   env OUT=DIR bash selftests/vm/test_espload.sh
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ipsec.sh"

ips_init test_espload jq
ESPLOAD=$OUT/xoff-espload
ips_need test_espload "$ESPLOAD"
die() { st_fail "$1" "$2"; st_done; }

ips_ns g || exit 1
G=$IPS_NS
ips_ns r || exit 1
R=$IPS_NS
ips_tmpdir || exit 1
TMP=$IPS_TMP
ips_need_esp test_espload "$R"

ips_veth "$G" vg "$R" vr || die setup "no veth pair"
ip -n "$G" -batch - <<EOF || die setup "addresses in G"
addr add 10.0.0.1/24 dev vg
addr add fd00::1/64 dev vg nodad
EOF
ip -n "$R" -batch - <<EOF || die setup "addresses in R"
addr add 10.0.0.2/24 dev vr
addr add fd00::2/64 dev vr nodad
addr add 192.168.2.1/32 dev lo
addr add 192.168.4.1/32 dev lo
EOF
RMAC=$(ip netns exec "$R" cat /sys/class/net/vr/address)

SPIS4=(0x1001 0x1002 0x1003 0x1004)
SPIS6=(0x2001 0x2002)
# The SAs and policies of R, one ip -batch (ips_aead's key: the SPI, 40 hex digits).
{
	for s in "${SPIS4[@]}"; do
		echo "xfrm state add src 10.0.0.1 dst 10.0.0.2 proto esp spi $s reqid 4 mode tunnel replay-window 0 aead $(ips_aead "$s")"
	done
	for s in "${SPIS6[@]}"; do
		echo "xfrm state add src fd00::1 dst fd00::2 proto esp spi $s reqid 6 mode tunnel replay-window 0 aead $(ips_aead "$s")"
	done
	echo "xfrm policy add src 192.168.1.1 dst 192.168.2.1 dir in tmpl src 10.0.0.1 dst 10.0.0.2 proto esp reqid 4 mode tunnel"
	echo "xfrm policy add src 192.168.3.1 dst 192.168.4.1 dir in tmpl src fd00::1 dst fd00::2 proto esp reqid 6 mode tunnel"
} > "$TMP/batch"
ip -n "$R" -batch "$TMP/batch" 2>"$TMP/err" || die setup "SAs in R: $(head -n 2 "$TMP/err")"
st_pass "R holds $((${#SPIS4[@]} + ${#SPIS6[@]})) inbound SAs with replay-window 0"

STATS=(XfrmInStateProtoError XfrmInNoStates XfrmInStateSeqError XfrmInNoPols XfrmInTmplMismatch
       XfrmInError XfrmInHdrError)
declare -A STAT0
for c in "${STATS[@]}"; do STAT0[$c]=$(ips_xfrm_stat "$R" "$c"); done

sa_args() { local s; for s in "$@"; do printf -- '--sa %s:%040x ' "$s" "$s"; done; }
# curlft "BYTES PACKETS" of every SA of R, as "SPI BYTES PACKETS" lines.
curlft() { ip -n "$R" -s xfrm state | ips_curlft_all; }

# run NAME SIZE SPI... -- ESPLOAD-ARGS...: sends, then checks each SA's curlft growth.
run()
{
	local name=$1 size=$2 spis=() before after out n i want got bytes sent
	shift 2
	while [ "$1" != -- ]; do spis+=("$1"); shift; done
	shift
	before=$(curlft)
	# shellcheck disable=SC2046
	if ! out=$(ip netns exec "$G" "$ESPLOAD" vg --dmac "$RMAC" --inner-size "$size" \
		$(sa_args "${spis[@]}") "$@" 2>&1); then
		st_fail "$name: espload" "$out"
		return
	fi
	st_log "$name: $out"
	sent=$(sed -n 's/^espload sent \([0-9]*\) frames in .*/\1/p' <<< "$out")
	[ -n "$sent" ] && [ "$sent" -gt 0 ] || { st_fail "$name: espload sent frames" "$out"; return; }
	# Let R's softirq finish what is queued.
	sleep 1
	after=$(curlft)
	n=${#spis[@]}
	for i in "${!spis[@]}"; do
		local spi
		spi=$(printf '0x%08x' "${spis[$i]}")
		want=$((sent / n + (i < sent % n ? 1 : 0)))
		read -r got bytes < <(awk -v spi="$spi" -v b="$before" '
			BEGIN { m = split(b, l, "\n"); for (j = 1; j <= m; j++) { split(l[j], f, " "); pb[f[1]] = f[2]; pp[f[1]] = f[3] } }
			$1 == spi { print $3 - pp[spi], $2 - pb[spi] }' <<< "$after")
		if [ -z "$got" ]; then
			st_fail "$name: SA $spi" "not in ip -s xfrm state"
		elif [ "$got" -le "$want" ] && [ $((got * 100)) -ge $((want * 98)) ] &&
		     [ "$bytes" = $((got * size)) ]; then
			st_pass "$name: SA $spi decrypted $got of the $want frames sent to it, $bytes bytes"
		else
			st_fail "$name: SA $spi" "decrypted $got of $want frames, $bytes bytes (want $((got * size)))"
		fi
	done
}

run "IPv4 outer, 4 SAs, 3 s" 1400 "${SPIS4[@]}" -- --src 10.0.0.1 --dst 10.0.0.2 \
	--inner-src 192.168.1.1 --inner-dst 192.168.2.1 --frames 64 --seconds 3 --cpu 0
run "IPv6 outer, 2 SAs, 2000 frames" 1001 "${SPIS6[@]}" -- --src fd00::1 --dst fd00::2 \
	--inner-src 192.168.3.1 --inner-dst 192.168.4.1 --frames 100 --count 2000 --cpu 1

# ---- offered beyond what R decrypts: R's receive on CPU 1 (RPS), the generator on CPU 0 ----
# Frames dropped because a CPU's backlog was full (/proc/net/softnet_stat's second column).
softnet_drops()
{
	local d t=0
	while read -r _ d _; do t=$((t + 16#$d)); done < /proc/net/softnet_stat
	echo $t
}
if [ "$(nproc)" -ge 2 ]; then
	ip netns exec "$R" sh -c 'echo 2 > /sys/class/net/vr/queues/rx-0/rps_cpus'
	drops0=$(softnet_drops)
	before=$(curlft | awk '{ p += $3 } END { print p + 0 }')
	# shellcheck disable=SC2046
	out=$(ip netns exec "$G" "$ESPLOAD" vg --dmac "$RMAC" --inner-size 1400 \
		$(sa_args "${SPIS4[@]}") --src 10.0.0.1 --dst 10.0.0.2 --inner-src 192.168.1.1 \
		--inner-dst 192.168.2.1 --frames 64 --seconds 3 --cpu 0 2>&1)
	sleep 1
	after=$(curlft | awk '{ p += $3 } END { print p + 0 }')
	drops=$(($(softnet_drops) - drops0))
	ip netns exec "$R" sh -c 'echo 0 > /sys/class/net/vr/queues/rx-0/rps_cpus'
	st_log "RPS to CPU 1: $out"
	sent=$(sed -n 's/^espload sent \([0-9]*\) frames in \([0-9.]*\) s.*/\1 \2/p' <<< "$out")
	if [ -n "$sent" ]; then
		read -r n secs <<< "$sent"
		st_log "RPS to CPU 1: sent $n, decrypted $((after - before)), backlog drops $drops (in ${secs} s: $(awk -v d=$((after - before)) -v s="$secs" 'BEGIN { printf "%.0f", d / s }') decrypted pps)"
		[ $((after - before)) -gt 0 ] && st_pass "RPS to CPU 1: the kernel decrypts under overload" ||
			st_fail "RPS to CPU 1: the kernel decrypts under overload" "none decrypted of $n"
	else
		st_fail "RPS to CPU 1: espload" "$out"
	fi
else
	st_skip "RPS to CPU 1" "1 CPU"
fi

bad=
for c in "${STATS[@]}"; do
	v=$(ips_xfrm_stat "$R" "$c")
	st_log "$c ${STAT0[$c]} -> $v"
	[ "$v" = "${STAT0[$c]}" ] || bad+=" $c +$((v - STAT0[$c]))"
done
[ -z "$bad" ] && st_pass "xfrm_stat: no input error grew" || st_fail "xfrm_stat: input errors grew" "$bad"
st_done

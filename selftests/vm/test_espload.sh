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
#   - with RPS moving R's receive to the other CPU, a send buffer that outgrows R's
#     backlog (--sndbuf) and --no-retry, the generator offers more than R decrypts: the
#     device refuses some frames (R's backlog is full), R decrypts the others (98% at
#     least, never more); printed with the backlog's drops;
#   - the generator alone (frames to another MAC, dropped by R's IP input): its rate,
#     printed.
# Phases 1 and 2 run with the default send buffer: over veth the sender then waits for R
# (frames not yet decrypted count in its buffer), and nothing is lost.
# Prints "# ..." lines with the generator's rate in each phase.
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

# ---- offered beyond what R decrypts: R's receive on CPU 1 (RPS), the generator on CPU 0,
# 16 MB of send buffer: thousands of frames in flight, R's backlog holds 1000 ----------------
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
		--inner-dst 192.168.2.1 --frames 64 --seconds 3 --cpu 0 --sndbuf 16000000 \
		--no-retry 2>&1)
	sleep 1
	after=$(curlft | awk '{ p += $3 } END { print p + 0 }')
	drops=$(($(softnet_drops) - drops0))
	ip netns exec "$R" sh -c 'echo 0 > /sys/class/net/vr/queues/rx-0/rps_cpus'
	st_log "RPS to CPU 1: ${out//$'\n'/; }"
	sent=$(sed -n 's/^espload sent \([0-9]*\) frames in \([0-9.]*\) s.*/\1 \2/p' <<< "$out")
	refused=$(sed -n 's/^espload refused \([0-9]*\) frames$/\1/p' <<< "$out")
	if [ -n "$sent" ] && [ -n "$refused" ]; then
		read -r n secs <<< "$sent"
		got=$((after - before))
		st_log "RPS to CPU 1: offered $((n + refused)), refused $refused, sent $n, decrypted $got, backlog drops $drops; per second: $(awk -v o=$((n + refused)) -v d=$got -v s="$secs" 'BEGIN { printf "%.0f offered, %.0f decrypted", o / s, d / s }')"
		if [ "$refused" -gt 0 ] && [ "$got" -le "$n" ] && [ $((got * 100)) -ge $((n * 98)) ]; then
			st_pass "RPS to CPU 1, --sndbuf, --no-retry: offered beyond what the kernel decrypts; it decrypts every frame the device took"
		else
			st_fail "RPS to CPU 1, --sndbuf, --no-retry: offered beyond what the kernel decrypts" \
				"refused $refused, decrypted $got of $n sent"
		fi
	else
		st_fail "RPS to CPU 1: espload" "$out"
	fi
else
	st_skip "RPS to CPU 1" "1 CPU"
fi

# ---- the generator alone: R's IP input drops frames for another MAC before ESP ----------
# shellcheck disable=SC2046
out=$(ip netns exec "$G" "$ESPLOAD" vg --dmac 02:00:00:00:00:99 --inner-size 1400 \
	$(sa_args "${SPIS4[@]}") --src 10.0.0.1 --dst 10.0.0.2 --inner-src 192.168.1.1 \
	--inner-dst 192.168.2.1 --frames 64 --seconds 3 --cpu 0 2>&1)
st_log "the generator alone (frames R drops at IP input): $out"

bad=
for c in "${STATS[@]}"; do
	v=$(ips_xfrm_stat "$R" "$c")
	st_log "$c ${STAT0[$c]} -> $v"
	[ "$v" = "${STAT0[$c]}" ] || bad+=" $c +$((v - STAT0[$c]))"
done
[ -z "$bad" ] && st_pass "xfrm_stat: no input error grew" || st_fail "xfrm_stat: input errors grew" "$bad"
st_done

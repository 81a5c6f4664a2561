#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Per-CPU SAs (RFC 9611, Linux 6.13+) end to end, with strongSwan 6.1 peers (the sid
# userspace of selftests/vm/vm.sh, charon chrooted there in each namespace): initiator I and
# responder R joined by a veth, one CHILD_SA with per_cpu_sas (`yes`, then `encap`) and
# start_action trap. I pings R from every CPU (taskset), so each CPU of I gets its own SA
# pair; R assigns its own CPU ids to the inbound SAs it installs (pcpu-num).
# R's veth runs its receive path in a threaded NAPI pinned to CPU 0: one RX queue serviced
# by one CPU, as a NIC hashing ESP on addresses gives between two gateways.
# Where each inbound per-CPU SA's packets are decrypted is seen at the kernel's own ESP
# input (xoff-espcpu: kprobes on esp_input/esp6_input), independently of xoff's maps:
#  - baseline, without xoff: the share decrypted on the SA's own CPU (printed);
#  - with xoff attached on R's veth and its daemon in R: every inbound per-CPU SA is in
#    sa list with its pcpu, steered to that CPU, and all its packets are decrypted there.
# Prints "# pcpu_on_own_cpu MODE xoff X baseline Y" for the bench to pick up.
#   env OUT=DIR bash selftests/vm/test_pcpu.sh
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ipsec.sh"

ips_init test_pcpu jq bpftool taskset ethtool
ESPCPU=$OUT/xoff-espcpu
ST_ESP=$OUT/st_esp.bpf.o
ips_need test_pcpu "$ESPCPU" "$OUT/xoffctl"
[ -f "$ST_ESP" ] || { echo "FAIL: test_pcpu: $ST_ESP not built (make)"; exit 1; }
PINGS=${PINGS:-40}	# per CPU and per phase

# ---- what this needs: a 6.13+ kernel, 2 CPUs, strongSwan 6.0.2+ in the sid userspace --------
kv=$(uname -r)
IFS=. read -r kmaj kmin _ <<< "$kv"
if [ "$kmaj" -lt 6 ] || { [ "$kmaj" = 6 ] && [ "${kmin%%-*}" -lt 13 ]; }; then
	echo "SKIP: test_pcpu: per-CPU SAs need Linux 6.13+, this is $kv"
	exit 4
fi
[ "$(nproc)" -ge 2 ] || { echo "SKIP: test_pcpu: needs 2 CPUs, $(nproc) here"; exit 4; }
SID=${XOFF_SID_ROOT:-$(cat /xoff-io/sid-root 2>/dev/null || true)}
if [ -z "$SID" ] || [ ! -x "$SID/usr/lib/ipsec/charon" ]; then
	why=$(sed -n 's/^sid: //p' /xoff-io/absent 2>/dev/null)
	echo "SKIP: test_pcpu: no sid userspace with strongSwan 6.1 (${why:-XOFF_SID_ROOT unset})"
	exit 4
fi
IPS_CHROOT=$SID
NCPU=$(nproc)

ips_ns i || exit 1
NI=$IPS_NS
ips_ns r || exit 1
NR=$IPS_NS
ips_daemon_ns "$NR"
ips_bpffs || exit 1
PINS=$IPS_BPFFS/xoff
ips_need_esp test_pcpu "$NR"
ips_modprobe esp4
ips_modprobe esp6	# both probes of xoff-espcpu attach
# Inside the sid root, where the charons read their files: gone at exit.
TMP=$(mktemp -d "$SID/tmp/xoff-pcpu.XXXXXX") || exit 1
st_record tmp "$TMP"
die() { st_fail "$1" "$2"; st_done; }

ips_veth "$NI" vi "$NR" vr || die setup "no veth pair"
ip -n "$NI" addr add 10.9.0.1/24 dev vi
ip -n "$NR" addr add 10.9.0.2/24 dev vr
ip -n "$NI" addr add 192.168.91.1/32 dev lo
ip -n "$NR" addr add 192.168.92.1/32 dev lo
# The trap fires on a route to the remote selector (install_routes = no).
ip -n "$NI" route add 192.168.92.1/32 via 10.9.0.2 src 192.168.91.1
ip -n "$NR" route add 192.168.91.1/32 via 10.9.0.1 src 192.168.92.1

# R's receive path on CPU 0 only: NAPI (GRO on), threaded, its kthread pinned to CPU 0.
# veth takes its NAPI path only for what GRO may merge: from a peer without TSO.
pin_napi()
{
	local pid
	ip netns exec "$NI" ethtool -K vi tso off >/dev/null 2>&1 &&
		ip netns exec "$NR" ethtool -K vr gro on >/dev/null 2>&1 &&
		ip netns exec "$NR" sh -c 'echo 1 > /sys/class/net/vr/threaded' || return 1
	for pid in $(pgrep '^napi/vr-'); do taskset -p -c 0 "$pid" >/dev/null || return 1; done
	[ -n "$(pgrep '^napi/vr-')" ]
}
pin_napi || die setup "cannot run vr's receive path in a threaded NAPI on CPU 0"

# ---- one phase: both charons with per_cpu_sas = MODE, pings from every CPU of I -------------
# conf SIDE ME PEER MYID PEERID EXTRA...
conf()
{
	local side=$1 me=$2 peer=$3 myid=$4 peerid=$5
	shift 5
	ips_swanctl_conf "$D/$side/swanctl.conf" "$(ips_swanctl_conn pc c "$me" "$peer" 32 \
		"$myid" "$peerid" "$@" | sed "s|local_ts = $me/32|local_ts = ${LTS[$side]}|;
			s|remote_ts = $peer/32|remote_ts = ${RTS[$side]}|")"
}
declare -A LTS=([i]=192.168.91.1/32 [r]=192.168.92.1/32) RTS=([i]=192.168.92.1/32 [r]=192.168.91.1/32)

# espcpu_start / espcpu_stop FILE: the ESP input observer around a phase.
espcpu_start()
{
	"$ESPCPU" "$ST_ESP" > "$TMP/esp.out" 2> "$TMP/esp.err" &
	ESP_PID=$!
	st_wait 10 grep -q ready "$TMP/esp.out" || { cat "$TMP/esp.err"; return 1; }
}
espcpu_stop() { kill "$ESP_PID" && wait "$ESP_PID"; grep -v ready "$TMP/esp.out" > "$1"; }

# R's inbound per-CPU SAs: "SPI PCPU" (sid's ip shows pcpu-num; Debian 12's cannot).
r_pcpu_sas()
{
	ip netns exec "$NR" chroot "$SID" ip xfrm state | awk '
		function out() { if (spi != "" && dst == "10.9.0.2" && pc != "") print spi, pc }
		/^src / { out(); dst = $4; spi = ""; pc = "" }
		$1 == "proto" && $3 == "spi" { spi = $4; sub(/\(.*/, "", spi) }
		{ for (i = 1; i < NF; i++) if ($i == "pcpu-num") pc = $(i + 1) }
		END { out() }'
}

# share ESPFILE SAFILE: packets of the per-CPU SAs decrypted on their own CPU / all of theirs
share()
{
	awk 'NR == FNR { own[$1] = $2; next }
	     ($1 in own) { all += $3; if ($2 == own[$1]) on += $3 }
	     END { if (all) printf "%.2f %d %d\n", on / all, on, all; else print "- 0 0" }' "$2" "$1"
}

# phase MODE none|xoff: RES="SHARE ON ALL" of the per-CPU SAs' packets
phase()
{
	local mode=$1 xoff=$2 tag="$1 $2" c extra=() in
	[ "$mode" = encap ] && extra=("encap = yes")
	# A directory per phase: a dead charon's vici socket is not taken for the next one's.
	D=$TMP/$mode-$xoff
	in=$(ips_charon_path "$D")
	mkdir -p "$D/i" "$D/r"
	conf i 10.9.0.1 10.9.0.2 i.xoff.test r.xoff.test "start_action = trap" "per_cpu_sas = $mode"
	conf r 10.9.0.2 10.9.0.1 r.xoff.test i.xoff.test "per_cpu_sas = $mode"
	[ ${#extra[@]} = 0 ] || sed -i "s|^remote_addrs = .*|&\n${extra[0]}|" "$D/i/swanctl.conf" "$D/r/swanctl.conf"
	ips_charon i "$NI" "$D/i" || return 1
	ips_charon r "$NR" "$D/r" || return 1
	ips_swanctl r --load-all --file "$in/r/swanctl.conf" || return 1
	ips_swanctl i --load-all --file "$in/i/swanctl.conf" || return 1
	if [ "$xoff" = xoff ]; then
		ip netns exec "$NR" "$OUT/xoffctl" -P "$PINS" attach vr > "$TMP/attach" 2>&1 ||
			{ cat "$TMP/attach"; return 1; }
		st_bg ip netns exec "$NR" "$OUT/xoffctl" -P "$PINS" run > "$TMP/daemon.log" 2>&1
		pin_napi || return 1
	fi
	# Warm up: the ACQUIREs of every CPU, then wait for the per-CPU SAs on R. The last CPU
	# first: placement by load alone would not put the SAs on their own CPUs by chance.
	for c in $(seq $((NCPU - 1)) -1 0); do
		ip netns exec "$NI" taskset -c "$c" ping -q -c 3 -i 0.3 -W 1 -I 192.168.91.1 192.168.92.1 >/dev/null 2>&1 || true
	done
	st_wait 15 sh -c "[ \$(ip netns exec $NR chroot $SID ip xfrm state | grep -c pcpu-num) -ge $((2 * NCPU)) ]" ||
		st_log "$tag: fewer per-CPU SAs than 2 x $NCPU CPUs: $(ip netns exec "$NR" chroot "$SID" ip xfrm state | grep -c pcpu-num)"
	for c in $(seq 0 $((NCPU - 1))); do
		ip netns exec "$NI" taskset -c "$c" ping -q -c 3 -i 0.3 -W 1 -I 192.168.91.1 192.168.92.1 >/dev/null 2>&1 || true
	done
	st_log "$tag: R's SAs: $(ip -n "$NR" xfrm state | grep -c '^src'), with pcpu-num: $(ip netns exec "$NR" chroot "$SID" ip xfrm state | grep -c pcpu-num)"
	r_pcpu_sas > "$TMP/sas.$mode.$xoff"
	st_log "$tag: R's inbound per-CPU SAs (SPI pcpu): $(tr '\n' ' ' < "$TMP/sas.$mode.$xoff")"
	[ "$xoff" = xoff ] && xo_check "$mode"
	espcpu_start || return 1
	for c in $(seq 0 $((NCPU - 1))); do
		ip netns exec "$NI" taskset -c "$c" ping -q -c "$PINGS" -i 0.02 -W 1 -I 192.168.91.1 192.168.92.1 \
			> "$TMP/ping.$c" 2>&1 || true
	done
	espcpu_stop "$TMP/esp.$mode.$xoff"
	st_log "$tag: ESP input (SPI CPU packets): $(tr '\n' ' ' < "$TMP/esp.$mode.$xoff")"
	RES=$(share "$TMP/esp.$mode.$xoff" "$TMP/sas.$mode.$xoff")
}

# xo_check MODE: sa list shows every inbound per-CPU SA with its pcpu, steered to that CPU.
xo_check()
{
	local spi pc j
	st_wait 5 sh -c "ip netns exec $NR $OUT/xoffctl -P $PINS -j sa list > $TMP/list"
	while read -r spi pc; do
		j=$(jq -c --arg s "$spi" '.[] | select(.spi == $s)' "$TMP/list")
		if [ "$(jq -r '"\(.pcpu) \(.cpu)"' <<< "$j")" = "$pc $pc" ]; then
			st_pass "$1: sa list: $spi pcpu $pc, steered to CPU $pc"
		else
			st_fail "$1: sa list: $spi" "want pcpu $pc on CPU $pc, got ${j:-nothing}"
		fi
	done < "$TMP/sas.$1.xoff"
	# policy list's cpu_acquire against the kernel's dump (sid's ip prints the flags it has
	# no name for in hex: XFRM_POLICY_CPU_ACQUIRE is 4).
	local kern xo
	kern=$(ip netns exec "$NR" chroot "$SID" ip xfrm policy | awk '
		{ for (i = 1; i < NF; i++) if ($i == "flag")
			for (j = i + 1; j <= NF && $j ~ /^([0-9a-f]+|localok|icmp)$/; j++)
				if ($j ~ /^[0-9a-f]*[4567cdef]$/) n++ }
		END { print n + 0 }')
	xo=$(ip netns exec "$NR" "$OUT/xoffctl" -P "$PINS" -j policy list | jq '[.[] | select(.cpu_acquire)] | length')
	if [ "$kern" -gt 0 ] && [ "$xo" = "$kern" ]; then
		st_pass "$1: policy list shows cpu_acquire on the $kern policies the kernel has it on"
	else
		st_fail "$1: policy list's cpu_acquire" "xoff $xo, the kernel's dump $kern"
	fi
}

# end_phase: both charons and xoff gone, no SA or policy left
end_phase()
{
	local p
	ip netns exec "$NR" "$OUT/xoffctl" -P "$PINS" detach vr >/dev/null 2>&1 || true
	for p in "${ST_PIDS[@]}"; do [ -z "$p" ] || st_stop "$p"; done
	ip -n "$NI" xfrm state flush; ip -n "$NI" xfrm policy flush
	ip -n "$NR" xfrm state flush; ip -n "$NR" xfrm policy flush
}

for mode in yes encap; do
	RES="- 0 0"
	phase "$mode" none || st_fail "$mode: baseline" "the phase did not run (above)"
	read -r base bon ball <<< "$RES"
	end_phase
	RES="- 0 0"
	phase "$mode" xoff || st_fail "$mode: with xoff" "the phase did not run (above)"
	read -r with won wall <<< "$RES"
	echo "# pcpu_on_own_cpu $mode xoff $with baseline $base"
	st_check "$mode: per-CPU SA packets decrypted with xoff ($wall)" test "${wall:-0}" -ge $((NCPU * PINGS))
	if [ "$with" = 1.00 ]; then
		st_pass "$mode: with xoff every per-CPU SA packet was decrypted on its CPU ($won/$wall; baseline $base: $bon/$ball)"
	else
		st_fail "$mode: with xoff, decrypted on their own CPU" "$won of $wall ($with); baseline $base"
	fi
	end_phase
done
st_done

#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# A real IKE peer (needs ESP and strongSwan: run it in the VM, selftests/vm/vm.sh, which
# provides Debian's charon and swanctl as an extra layer): one charon per namespace
# (initiator I, responder R, joined by a veth) negotiates IKEv2 with a PSK and CHILD_SAs
# with esp_proposals aes128gcm16 over IPv4 and IPv6, while xoff's daemon runs in R and xoff
# is attached on R's veth. Checks:
#  - xoff shows both SAs of each CHILD_SA (in and out) with the SPIs the kernel has, on the
#    software path with its reason, and its SA map holds exactly those SPIs;
#  - traffic through the IPv4 CHILD_SA is counted on R's fast path as the kernel counts it;
#  - after `swanctl --rekey`, the map holds the new SPIs and not the old ones within one
#    second after the kernel's old SAs are gone (the kernel's deletion time from
#    `ip -ts xfrm monitor`, the map's from polling it; the delay is printed).
# Everything (configs, vici sockets, logs) lives in a temporary directory; each charon gets
# a private /run (its pid file is fixed there) in its own mount namespace.
#   env OUT=DIR bash selftests/vm/test_ike.sh
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ipsec.sh"

ips_init test_ike jq bpftool python3
if ! why=$(ips_charon_ok); then
	echo "SKIP: test_ike: no strongSwan (charon, swanctl): $why"
	exit 4
fi
REKEY_SECS=${REKEY_SECS:-1}	# bound: kernel's old SAs gone -> map without them

ips_ns i || exit 1
NI=$IPS_NS
ips_ns r || exit 1
NR=$IPS_NS
ips_daemon_ns "$NR"
ips_bpffs || exit 1
PINS=$IPS_BPFFS/xoff
ips_tmpdir || exit 1
TMP=$IPS_TMP

ips_need_esp test_ike "$NR"

DI=xki0 DR=xkr0
ips_veth "$NI" $DI "$NR" $DR || exit 1
I4=10.3.0.1 R4=10.3.0.2 I6=fd00:3::1 R6=fd00:3::2
ip -n "$NI" addr add $I4/24 dev $DI
ip -n "$NR" addr add $R4/24 dev $DR
ip -n "$NI" addr add $I6/64 dev $DI nodad
ip -n "$NR" addr add $R6/64 dev $DR nodad

# ---- strongSwan: configuration, one charon per namespace --------------------------------------
# conf SIDE ME PEER ME6 PEER6 MYID PEERID: SIDE's swanctl.conf
conf()
{
	ips_swanctl_conf "$TMP/$1/swanctl.conf" "$(ips_swanctl_conn t4 c4 "$2" "$3" 32 "$6" "$7"
		ips_swanctl_conn t6 c6 "$4" "$5" 128 "$6" "$7")"
}
conf i $I4 $R4 $I6 $R6 i.xoff.test r.xoff.test
conf r $R4 $I4 $R6 $I6 r.xoff.test i.xoff.test
if ips_charon i "$NI" "$TMP/i" > "$TMP/charon.err" && ips_charon r "$NR" "$TMP/r" > "$TMP/charon.err"; then
	st_pass "charon runs in both namespaces"
else
	st_fail "charon runs in both namespaces" "$(tr '\n' ' ' < "$TMP/charon.err")"
	st_done
fi
sw() { ips_swanctl "$@"; }
for s in i r; do
	st_check "swanctl --load-all ($s)" sw $s --load-all --file "$TMP/$s/swanctl.conf"
done

expect() { ips_expect "$@"; }

# ---- xoff on the responder: daemon, attach on the veth ------------------------------------------
xo() { ip netns exec "$NR" "$XOFFCTL" -P "$PINS" "$@"; }
st_bg ip netns exec "$NR" "$XOFFCTL" -P "$PINS" run pin-dir "$PINS" 2>"$TMP/daemon.log"
daemon_up() { xo -j status | jq -e '.daemon.running' >/dev/null || { echo "daemon not running: $(tail -n 1 "$TMP/daemon.log")"; return 1; }; }
expect "xoff daemon runs in $NR" 10 daemon_up
if out=$(xo attach $DR 2>&1); then st_pass "attach $DR"; else st_fail "attach $DR" "$out"; fi

# ---- IKE: both children ---------------------------------------------------------------------------
for c in c4 c6; do
	t0=$(date +%s%N)
	if out=$(sw i --initiate --child $c --timeout 60); then
		st_pass "swanctl --initiate --child $c ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
	else
		st_fail "swanctl --initiate --child $c" "${out//$'\n'/ }"
	fi
done

# The kernel's SAs in R as lines "SPI DST FAMILY" (4: c4's, 6: c6's), sorted.
kernel_sas()
{
	ip -n "$NR" xfrm state | awk '
		/^src / { dst = $4 }
		$1 == "proto" && $2 == "esp" { print $4, dst, (index(dst, ":") ? 6 : 4) }' | sort
}
# SPIs in xoff's SA map (bytes 4-7 of each key), sorted.
map_spis()
{
	bpftool -j map dump pinned "$PINS/xoff_sas" |
		grep -o '"key":\["0x..","0x..","0x..","0x..","0x..","0x..","0x..","0x.."' |
		sed 's/.*"0x\(..\)","0x\(..\)","0x\(..\)","0x\(..\)"$/0x\1\2\3\4/' | sort
}
# xoff_shows FAMILY LOCAL: the kernel has two SAs of that child (in: dst LOCAL; out), and
# `sa list` shows both with the kernel's SPIs, the right direction, sw on $DR, its reason.
xoff_shows()
{
	local fam=$1 local=$2 spi dst f n=0 got want sas
	sas=$(xo -j sa list | jq -r '.[] | "\(.spi) \(.dir) \(.path) \(.traffic_dev)\t\(.path_reason)"')
	while read -r spi dst f; do
		[ "$f" = "$fam" ] || continue
		n=$((n + 1))
		want="$spi $([ "$dst" = "$local" ] && echo in || echo out) sw $DR"$'\t'"software: no offload requested ($DR has no ESP offload)"
		got=$(grep "^$spi " <<< "$sas")
		[ "$got" = "$want" ] || { echo "spi $spi (dst $dst): '$got', want '$want'"; return 1; }
	done < <(kernel_sas)
	[ $n = 2 ] || { echo "the kernel has $n IPv$fam SAs: $(kernel_sas | tr '\n' ' ')"; return 1; }
}
map_is_kernel()
{
	local k m
	k=$(kernel_sas | awk '{ print $1 }' | sort | tr '\n' ' ')
	m=$(map_spis | tr '\n' ' ')
	[ "$k" = "$m" ] || { echo "kernel [$k] map [$m]"; return 1; }
}
expect "IPv4 CHILD_SA: xoff shows in and out with the kernel's SPIs, sw on $DR" 5 xoff_shows 4 $R4
expect "IPv6 CHILD_SA: xoff shows in and out with the kernel's SPIs, sw on $DR" 5 xoff_shows 6 $R6
expect "xoff's SA map holds exactly the kernel's 4 SPIs" 5 map_is_kernel
st_log "kernel SAs in $NR: $(kernel_sas | tr '\n' ' ')"

# ---- traffic through c4: R's fast path counts what R's kernel decrypts ---------------------------
IN4=$(kernel_sas | awk -v d=$R4 '$2 == d { print $1 }')
ip netns exec "$NI" bash -c "for i in 1 2 3 4 5; do echo xoff > /dev/udp/$R4/9; done"
counted()
{
	local fp kp
	fp=$(xo -j sa list spi "$IN4" | jq -r '.[0].fastpath_packets')
	read -r _ kp <<< "$(ips_curlft "$NR" "$IN4")"
	[ "$fp" = 5 ] && [ "$kp" = 5 ] || { echo "SA $IN4: xoff $fp packets, kernel $kp (want 5)"; return 1; }
}
expect "5 datagrams over c4: xoff counts 5 on SA $IN4 as the kernel does" 5 counted

# ---- rekey: the map follows within a second of the kernel -----------------------------------------
# The kernel's deletions come with their time from `ip -ts xfrm monitor`. The map is polled
# every 10 ms by a small bpf(2) loop that prints, at each change, the time of the poll
# before (the map still looked as before) and of this one (it looks so at the latest).
OLD=$(kernel_sas | awk '$3 == 4 { print $1 }' | tr '\n' ' ')
st_bg ip -n "$NR" -ts xfrm monitor nokeys SA > "$TMP/monitor"
MON=$ST_BG_PID
st_bg "$IPS_PY" -c '
import ctypes, os, signal, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
BPF, OBJ_GET, NEXT_KEY = 321, 7, 4	# x86_64 bpf(2); BPF_OBJ_GET, BPF_MAP_GET_NEXT_KEY
path = ctypes.create_string_buffer(sys.argv[1].encode())
attr = (ctypes.c_uint64 * 4)(ctypes.addressof(path))
fd = libc.syscall(BPF, OBJ_GET, attr, 32)
if fd < 0:
    sys.exit("BPF_OBJ_GET %s: %s" % (sys.argv[1], os.strerror(ctypes.get_errno())))
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
cur, nxt = ctypes.create_string_buffer(24), ctypes.create_string_buffer(24)
last, prev = None, time.time()
while True:
    spis, key = [], 0
    while True:
        a = (ctypes.c_uint64 * 4)(fd, key, ctypes.addressof(nxt))
        if libc.syscall(BPF, NEXT_KEY, a, 32) < 0:
            break
        spis.append("0x" + nxt.raw[4:8].hex())
        ctypes.memmove(cur, nxt, 24)
        key = ctypes.addressof(cur)
    now = time.time()
    s = " ".join(sorted(spis))
    if s != last:
        print("%.6f %.6f %s" % (prev, now, s), flush=True)
        last = s
    prev = now
    time.sleep(0.01)
' "$PINS/xoff_sas" > "$TMP/mappoll" 2>&1
POLL=$ST_BG_PID
st_wait 10 test -s "$TMP/mappoll"
t0=$EPOCHREALTIME
st_check "swanctl --rekey --child c4" sw i --rekey --child c4
c4_spis() { kernel_sas | awk '$3 == 4 { print $1 }' | tr '\n' ' '; }
# fresh "T0 T1 SPI...": none of OLD, all of NEW.
fresh()
{
	local s
	for s in $OLD; do [[ " $1 " != *" $s "* ]] || return 1; done
	for s in $NEW; do [[ " $1 " == *" $s "* ]] || return 1; done
}
old_deleted() { local s; for s in $OLD; do grep -q "spi $s " "$TMP/monitor" || return 1; done; }
end=$((SECONDS + 30))
while ! old_deleted && [ $SECONDS -lt $end ]; do sleep 0.2; done
NEW=$(c4_spis)
end=$((SECONDS + 5))
while ! fresh "$(tail -n 1 "$TMP/mappoll")" && [ $SECONDS -lt $end ]; do sleep 0.2; done
st_stop "$POLL" || true
st_stop "$MON" || true
# The kernel's deletion of the last old SA; the first map state with only the new ones.
t_gone=$(awk -v old=" $OLD" '
	/^\[/ { ts = substr($1, 2, length($1) - 2); del = $2 == "Deleted" }
	del && $1 == "proto" && $3 == "spi" && index(old, " " $4 " ") { print ts }' "$TMP/monitor" |
	sort | tail -n 1)
t_prev='' t_map=
while read -r a b rest; do
	if fresh "$rest"; then t_prev=$a t_map=$b; break; fi
done < "$TMP/mappoll"
changes=$(wc -l < "$TMP/mappoll")
if [ "$(wc -w <<< "$NEW")" != 2 ] || ! old_deleted; then
	st_fail "rekey: the kernel replaces c4's SAs" "old [$OLD] now [$NEW], deleted: $(grep -c Deleted "$TMP/monitor")"
elif [ -z "$t_map" ]; then
	st_fail "rekey: map holds the new SPIs, not the old" \
		"old [$OLD] kernel [$NEW] map [$(tail -n 1 "$TMP/mappoll" | cut -d' ' -f3-)]"
elif [ -z "$t_gone" ]; then
	st_fail "rekey: the kernel's deletion time of the old SAs" "no timestamps in: $(head -c 300 "$TMP/monitor")"
else
	t_gone=$(date -d "$t_gone" +%s.%N)
	delay=$(awk -v a="$t_map" -v b="$t_gone" 'BEGIN { printf "%.3f", a - b }')
	low=$(awk -v a="$t_prev" -v b="$t_gone" 'BEGIN { d = a - b; printf "%.3f", (d > 0 ? d : 0) }')
	st_log "rekey: old [$OLD] -> new [$NEW]; the kernel's old SAs gone $(awk -v a="$t_gone" -v b="$t0" 'BEGIN { printf "%.3f", a - b }') s after the rekey (charon keeps the old inbound SA delete_rekeyed_delay = 1 s); the map without them $low to $delay s later ($changes map states seen)"
	if awk -v d="$delay" -v max="$REKEY_SECS" 'BEGIN { exit !(d <= max) }'; then
		st_pass "rekey: map holds the new SPIs and not the old ones at most $delay s after the kernel's old SAs are gone (<= $REKEY_SECS s)"
	else
		st_fail "rekey: map follows the kernel within $REKEY_SECS s" "between $low and $delay s"
	fi
fi
st_check "after rekey: xoff shows c4's new SAs with the kernel's SPIs" xoff_shows 4 $R4
st_check "after rekey: the map holds exactly the kernel's SPIs" map_is_kernel

st_check "xoff's daemon logged no error or warning" ips_log_clean "$TMP/daemon.log"

# ---- shutdown --------------------------------------------------------------------------------
if out=$(xo detach $DR 2>&1); then st_pass "detach $DR"; else st_fail "detach $DR" "$out"; fi
st_done

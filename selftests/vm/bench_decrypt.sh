#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# ESP decryption throughput on real ESP: the kernel alone, RPS and xoff, side by side
# (run in the VM under multi-threaded TCG with exactly 2 vCPUs: selftests/vm/vm.sh; make
# bench-decrypt).
#
#   G (generator: xoff-espload)           R (receiver: N inbound SAs, replay-window 0)
#   vg 10.0.0.1  <------- veth ------->   vr 10.0.0.2 (xoff attached for the xoff runs)
#   inner 192.168.1.1 -> 192.168.2.1 (R's lo): 1400-byte UDP, AES-GCM-128, tunnel mode
#
# One RX queue, serviced by CPU 0: the generator runs there (pinned, SCHED_IDLE: it takes
# only what CPU 0 would otherwise idle), and over veth the sending CPU runs R's receive path
# (veth, XDP, the RPS or cpumap enqueue) as a NIC's queue CPU would. Frames are encrypted
# once and replayed (R's SAs have replay-window 0), round robin over the SAs, offered
# faster than R decrypts: without XDP the send buffer holds each frame until R is done
# with it, so the generator waits; with xoff's XDP the frame leaves the buffer at once,
# and what CPU 1 cannot take is dropped at its cpumap queue (rx above pps shows it).
#
# For each N in BENCH_NS (1 2 4 8) and each configuration:
#   kernel   no RPS, no xoff: everything on CPU 0
#   rps      rps_cpus 3 (both CPUs), BENCH_RPS_SETS random SPI sets (the split is the
#            kernel's flow hash of the SPI; with N = 4, BENCH_RPS_SETS4 sets)
#   xoff     attached (native XDP), its daemon placing SAs knowing that R's receive runs
#            on CPU 0 (run rx-cpus 0 rx-weight W); with N = 4 repeated for the noise
#   calib    first, N = 4 placed with rx-weight 40 (one SA on CPU 0): the costs per packet
#            of receiving and decrypting at that operating point, and from them W
# one line each:
#   # decrypt N=4 cfg=xoff set=1 pps=13000 cpu=99,99 work=80,99 esp=9000,27000 rx=15000
#     backlog_drops=0 secs=3.00 spis=...
# pps: packets decrypted per second of sending (the SAs' curlft, the kernel's own count,
# before the generator starts and once it is done); rx: the same of frames xoff's XDP
# program saw; backlog_drops: frames a full backlog dropped (RPS, netif_rx). Over a window
# of SECS (BENCH_SECS, 3) while the traffic flows: cpu, each CPU's busy % (/proc/stat);
# work, the same without the generator's own cost (its frames times its cost per frame,
# measured alone into a dummy device first); esp, packets per second and CPU at the
# kernel's ESP input (xoff-espcpu: kprobes on esp_input and esp6_input), independently of
# xoff.
# Then "# cost ..." (microseconds per packet); selftests/decrypt_report.sh makes the
# ratios, the limit and the picture. Errors in /proc/net/xfrm_stat fail the run.
#   env OUT=DIR [BENCH_SECS=3] bash selftests/vm/bench_decrypt.sh
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ipsec.sh"

ips_init bench_decrypt jq
ESPLOAD=$OUT/xoff-espload
ESPCPU=$OUT/xoff-espcpu
ST_ESP=$OUT/st_esp.bpf.o
ips_need bench_decrypt "$ESPLOAD" "$ESPCPU" "$OUT/xoffctl"
SECS=${BENCH_SECS:-3}
NS=(${BENCH_NS:-1 2 4 8})
RPS_SETS=${BENCH_RPS_SETS:-3}
RPS_SETS4=${BENCH_RPS_SETS4:-8}
NCPU=$(nproc)
[ "$NCPU" = 2 ] || { echo "SKIP: bench_decrypt: $NCPU CPUs (the configurations and the cost model are for 2)"; exit 4; }
die() { st_fail "$1" "$2"; st_done; }

ips_ns g || exit 1
G=$IPS_NS
ips_ns r || exit 1
R=$IPS_NS
ips_daemon_ns "$R"
ips_bpffs || exit 1
PINS=$IPS_BPFFS/xoff
ips_tmpdir || exit 1
TMP=$IPS_TMP
ips_need_esp bench_decrypt "$R"
ips_modprobe esp4
ips_modprobe esp6	# both probes of xoff-espcpu attach

ips_veth "$G" vg "$R" vr || die setup "no veth pair"
ip -n "$G" addr add 10.0.0.1/24 dev vg
# The generator alone sends into a dummy device, which frees what it is given.
ip -n "$G" link add gd type dummy && ip -n "$G" link set gd up || die setup "no dummy device in G"
ip -n "$R" -batch - <<EOF || die setup "addresses in R"
addr add 10.0.0.2/24 dev vr
addr add 192.168.2.1/32 dev lo
xfrm policy add src 192.168.1.1 dst 192.168.2.1 dir in tmpl src 10.0.0.1 dst 10.0.0.2 proto esp reqid 4 mode tunnel
EOF
RMAC=$(ip netns exec "$R" cat /sys/class/net/vr/address)
XOFF="ip netns exec $R $OUT/xoffctl -P $PINS"

STATS=(XfrmInStateProtoError XfrmInNoStates XfrmInStateSeqError XfrmInNoPols XfrmInTmplMismatch
       XfrmInError XfrmInHdrError)
declare -A STAT0
for c in "${STATS[@]}"; do STAT0[$c]=$(ips_xfrm_stat "$R" "$c"); done

# random_spis N: N distinct random SPIs above 255, in hex.
random_spis()
{
	od -An -N$(($1 * 8)) -tu4 /dev/urandom | tr -s ' ' '\n' | awk -v n="$1" '
		$1 > 255 && !($1 in seen) && k < n { seen[$1]; printf "0x%08x\n", $1; k++ }'
}

# sas SPI...: R holds exactly these inbound SAs.
sas()
{
	local s
	{
		echo "xfrm state flush"
		for s in "$@"; do
			echo "xfrm state add src 10.0.0.1 dst 10.0.0.2 proto esp spi $s reqid 4 mode tunnel replay-window 0 aead $(ips_aead "$s")"
		done
	} > "$TMP/batch"
	ip -n "$R" -batch "$TMP/batch"
}

sa_args() { local s; for s in "$@"; do printf -- '--sa %s:%040x ' "$s" "$s"; done; }

decrypted() { ip -n "$R" -s xfrm state | ips_curlft_all | awk '{ p += $3 } END { print p + 0 }'; }
fastpath() { $XOFF -j sa list 2>/dev/null | jq '[.[].fastpath_packets // 0] | add // 0'; }
# Frames dropped because a CPU's backlog was full (RPS, netif_rx): softnet_stat's second column.
backlog_drops()
{
	awk '{ n = 0; h = tolower($2)
	       for (i = 1; i <= length(h); i++) n = n * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
	       t += n }
	     END { print t + 0 }' /proc/net/softnet_stat
}

# load DEV SECONDS SPI...: the generator on CPU 0 (SCHED_IDLE), "espload ready" once its
# frames are built, then espload's line.
load()
{
	local dev=$1 secs=$2
	shift 2
	# shellcheck disable=SC2046
	ip netns exec "$G" "$ESPLOAD" "$dev" --dmac "$RMAC" --inner-size 1400 $(sa_args "$@") \
		--src 10.0.0.1 --dst 10.0.0.2 --inner-src 192.168.1.1 --inner-dst 192.168.2.1 \
		--frames 64 --seconds "$secs" --cpu 0 --idle --ready
}

# The generator alone, into G's dummy device: its cost per frame on CPU 0 (it takes all of
# CPU 0 then), in microseconds.
gen_cost()
{
	local out sent secs
	out=$(load gd "$SECS" 0x1001) || return 1
	read -r sent secs < <(sed -n 's/^espload sent \([0-9]*\) frames in \([0-9.]*\) s.*/\1 \2/p' <<< "$out")
	[ -n "$sent" ] && [ "$sent" -gt 0 ] || return 1
	awk -v s="$sent" -v t="$secs" 'BEGIN { printf "%.2f\n", t * 1e6 / s }'
}

# snap FILE: the time, /proc/stat and ESP input per CPU (a dump of xoff-espcpu, asked for
# with SIGUSR1) at one instant, while the traffic flows. Bash builtins only: under TCG a
# process started on a saturated CPU can take seconds.
snap()
{
	local f=$1 l lines=() c
	SNAPS=$((SNAPS + 1))
	l="t $EPOCHREALTIME"$'\n'
	while read -r c rest; do
		[[ $c == cpu[0-9]* ]] && l+="s ${c#cpu} $rest"$'\n'
	done < /proc/stat
	kill -USR1 "$ESP_PID" || return 1
	for ((c = 0; c < 200; c++)); do
		mapfile -t lines < "$TMP/esp.out"
		[[ " ${lines[*]} " == *" dump $SNAPS "* ]] && break
		read -r -t 0.05 -u "$NAP" || true	# a pipe nobody writes: a sleep without a process
	done
	[[ " ${lines[*]} " == *" dump $SNAPS "* ]] || return 1
	printf '%s' "$l" > "$f"
	printf '%s\n' "${lines[@]}" | awk -v k="$SNAPS" '$1 == "dump" { n = $2; next }
		n == k - 1 && NF == 3 { e[$2] += $3 } END { for (c in e) print "e", c, e[c] }' >> "$f"
}

exec {NAP}<> <(:)

# measure N CFG SET SPI...: one line (above) into $TMP/lines, and on stdout. The generator
# sends for SECS + 3 s. Decrypted packets (curlft), xoff's fast-path count and the backlog
# drops are read before it starts and after it ends (drained), over the time it sent; CPU
# time and ESP input per CPU 1 s after it starts and SECS later, while the traffic flows.
measure()
{
	local n=$1 cfg=$2 set=$3 lpid line d0 d1 f1=0 b0 b1 out secs
	shift 3
	st_bg "$ESPCPU" "$ST_ESP" > "$TMP/esp.out" 2> "$TMP/esp.err"
	ESP_PID=$ST_BG_PID
	SNAPS=0
	if ! st_wait 10 grep -q ready "$TMP/esp.out"; then
		cat "$TMP/esp.err"
		st_stop "$ESP_PID"
		return 1
	fi
	d0=$(decrypted); b0=$(backlog_drops)
	load vg $((SECS + 3)) "$@" > "$TMP/load.out" 2>&1 &
	lpid=$!
	if ! st_wait 30 grep -q '^espload ready' "$TMP/load.out" || ! sleep 1 || ! snap "$TMP/a" ||
	   ! sleep "$SECS" || ! snap "$TMP/b"; then
		kill "$lpid" 2>/dev/null
		wait "$lpid"
		st_stop "$ESP_PID"
		cat "$TMP/load.out"
		return 1
	fi
	wait "$lpid" || { st_stop "$ESP_PID"; cat "$TMP/load.out"; return 1; }
	st_stop "$ESP_PID"
	sleep 0.5	# what is in flight (a cpumap or backlog queue at most)
	d1=$(decrypted); b1=$(backlog_drops)
	case $cfg in xoff|calib) f1=$(fastpath) ;; esac
	out=$(cat "$TMP/load.out")
	secs=$(sed -n 's/^espload sent [0-9]* frames in \([0-9.]*\) s.*/\1/p' <<< "$out")
	[ -n "$secs" ] || { echo "$out"; return 1; }
	line=$(awk -v n="$n" -v cfg="$cfg" -v set="$set" -v gc="$GEN_US" -v secs="$secs" \
		-v d=$((d1 - d0)) -v fp="$f1" -v bl=$((b1 - b0)) \
		-v spis="$(echo "$@" | tr ' ' ',')" '
		FNR == 1 { k++ }
		$1 == "t" { t[k] = $2 }
		# s CPU user nice system idle iowait irq softirq steal: guest time is in
		# user already; steal (under KVM) is not busy here.
		$1 == "s" { tot = 0; for (i = 3; i <= 10 && i <= NF; i++) tot += $i
			    busy[k, $2] = tot - $6 - $7 - $10; all[k, $2] = tot }
		$1 == "e" { e[k, $2] = $3 }
		END {
			win = t[2] - t[1]
			# The generator sent what R received: its fast-path count with xoff, else
			# what was decrypted (its send buffer holds a frame until then).
			rate = (fp > 0 ? fp : d) / secs
			for (c = 0; c < 2; c++) {
				b = (busy[2, c] - busy[1, c]) * 100 / (all[2, c] - all[1, c])
				g = c == 0 ? rate * gc / 1e4 : 0
				w = b - g; if (w < 0) w = 0
				cpu = cpu sep sprintf("%.0f", b); work = work sep sprintf("%.0f", w)
				es = es sep sprintf("%.0f", (e[2, c] - e[1, c]) / win); sep = ","
			}
			printf "# decrypt N=%d cfg=%s set=%s pps=%.0f cpu=%s work=%s esp=%s rx=%.0f backlog_drops=%d secs=%.2f window=%.2f spis=%s\n",
				n, cfg, set, d / secs, cpu, work, es, fp / secs, bl, secs, win, spis }' \
		"$TMP/a" "$TMP/b")
	echo "$line" | tee -a "$TMP/lines"
}

# xoff_on [ATTACH-ARGS...]: attached to vr, its daemon placing SAs for a receive on CPU 0.
xoff_on()
{
	$XOFF attach vr "$@" > "$TMP/attach" 2>&1 || { cat "$TMP/attach"; return 1; }
	st_bg $XOFF run rx-cpus 0 rx-weight "$WEIGHT" > "$TMP/daemon.log" 2>&1
	XOFF_PID=$ST_BG_PID
}
xoff_off()
{
	[ -z "${XOFF_PID:-}" ] || st_stop "$XOFF_PID"
	XOFF_PID=
	$XOFF detach vr > /dev/null 2>&1
}

# steered N: every one of the N SAs is in sa list, steered to a CPU.
steered()
{
	[ "$($XOFF -j sa list 2>/dev/null | jq '[.[] | select(.cpu != null)] | length')" = "$1" ]
}

# run_cfg N CFG SET: R's SAs (a fresh random SPI set), the configuration, one measurement;
# the configuration is undone whatever happened.
run_cfg()
{
	local n=$1 cfg=$2 set=$3 spis rc=0
	mapfile -t spis < <(random_spis "$n")
	case $cfg in
	kernel)	sas "${spis[@]}" || rc=1 ;;
	rps)	ip netns exec "$R" sh -c 'echo 3 > /sys/class/net/vr/queues/rx-0/rps_cpus' &&
			sas "${spis[@]}" || rc=1 ;;
	xoff|calib)
		if ! sas || ! xoff_on; then
			rc=1
		elif ! sas "${spis[@]}" || ! st_wait 10 steered "$n"; then
			st_log "$cfg: not every SA steered: $($XOFF sa list 2>&1)"
			rc=1
		else
			st_log "N=$n $cfg set $set: $($XOFF -j sa list | jq -c '[.[] | {spi, cpu}]')"
		fi ;;
	esac
	[ $rc != 0 ] || measure "$n" "$cfg" "$set" "${spis[@]}" || rc=1
	case $cfg in
	rps)	ip netns exec "$R" sh -c 'echo 0 > /sys/class/net/vr/queues/rx-0/rps_cpus' ;;
	xoff|calib) xoff_off ;;
	esac
	return $rc
}

GEN_US=$(gen_cost) || die "the generator alone" "espload did not run"
echo "# generator alone: $GEN_US us a frame on CPU 0"
: > "$TMP/lines"
# The costs, at the operating point: 4 SAs, one on CPU 0 (placed with rx-weight 40), both
# CPUs busy. Decrypting: CPU 1's busy time per packet it decrypted (xoff-espcpu); receiving:
# CPU 0's work beyond the generator and its own decryptions, per packet received. Their
# ratio, the generator's share included (it runs on the receiving CPU as a NIC's work
# would), is the weight placement gives the receiving CPU for the xoff runs (run rx-weight).
WEIGHT=40
run_cfg 4 calib 1 || die "N=4 calibration" "did not run"
read -r GEN_US RX_US DEC_US WEIGHT < <(awk -v g="$GEN_US" '
	{ for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
	END { split(v["work"], w, ","); split(v["cpu"], c, ","); split(v["esp"], e, ",")
	      if (!e[2] || !v["rx"]) exit 1
	      dec = c[2] * 1e4 / e[2]
	      rx = (w[1] * 1e4 - e[1] * dec) / v["rx"]
	      wt = int(100 * (g + rx) / dec + 0.5); if (wt > 100) wt = 100; if (wt < 0) wt = 0
	      printf "%s %.1f %.1f %d\n", g, rx, dec, wt }' "$TMP/lines")
[[ "$WEIGHT" =~ ^[0-9]+$ && "$RX_US" =~ ^-?[0-9.]+$ && "$DEC_US" =~ ^[0-9.]+$ ]] ||
	die "N=4 calibration" "no costs from $(cat "$TMP/lines")"
echo "# cost generator $GEN_US us, receive $RX_US us (veth, XDP, cpumap enqueue), decrypt $DEC_US us a packet: rx-weight $WEIGHT"
# The configurations of one N take turns (kernel, RPS, xoff, kernel, RPS, xoff, ...): what
# drifts during a run (TCG on a shared host does) weighs on all of them alike.
for n in "${NS[@]}"; do
	nk=1 nr=$RPS_SETS nx=1
	[ "$n" = 4 ] && { nk=2; nr=$RPS_SETS4; nx=3; }
	for i in $(seq "$nr"); do
		[ "$i" -gt "$nk" ] || run_cfg "$n" kernel "$i" || st_fail "N=$n kernel $i" "did not run"
		run_cfg "$n" rps "$i" || st_fail "N=$n rps set $i" "did not run"
		[ "$i" -gt "$nx" ] || run_cfg "$n" xoff "$i" || st_fail "N=$n xoff $i" "did not run"
	done
done
sas

# Every run decrypted something; no input error grew.
awk '/ pps=0 / { bad = 1 } END { exit bad }' "$TMP/lines" &&
	st_pass "every configuration decrypted" || st_fail "every configuration decrypted" "a run at 0 pps"
bad=
for c in "${STATS[@]}"; do
	v=$(ips_xfrm_stat "$R" "$c")
	[ "$v" = "${STAT0[$c]}" ] || bad+=" $c +$((v - STAT0[$c]))"
done
[ -z "$bad" ] && st_pass "xfrm_stat: no input error grew" || st_fail "xfrm_stat: input errors grew" "$bad"
st_done

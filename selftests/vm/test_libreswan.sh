#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Two IKE implementations against each other, with xoff on one side: libreswan 5.2's pluto
# in L and strongSwan 6.1's charon in S (both from the sid userspace of selftests/vm/vm.sh,
# each chrooted there in its namespace, so it needs XOFF_VM_KERNEL=6.12 or newest), one IPv4
# tunnel-mode CHILD_SA between L's and S's inner addresses (IKEv2, PSK, AES-GCM-128 for IKE
# and ESP). pluto initiates; xoff is attached on L's veth with its daemon running in L.
#
#   L: pluto, xoff (attach xll0, run)              S: charon
#   192.168.61.1/32 on lo                          192.168.62.1/32 on lo
#   10.6.0.1/24 xll0 ---------------- veth ---------------- xls0 10.6.0.2/24
#
# Checks:
#  - the daemons interoperate: pluto's `ipsec up` establishes the IKE_SA and the CHILD_SA,
#    charon reports it INSTALLED (tunnel, ESP, AES_GCM_16 128) with the SPIs that both
#    kernels hold, crossed (L's inbound is S's outbound), rfc4106(gcm(aes)) in tunnel mode;
#  - xoff shows both SAs of the CHILD_SA with the kernel's SPIs and directions, on the
#    software path with its reason, and its SA map holds exactly those SPIs;
#  - S pings L through the tunnel: xoff's fast path counts on L's inbound SA the packets
#    L's kernel counts in its curlft (and likewise on the outbound SA, the replies);
#  - pluto's `ipsec down` deletes the CHILD_SA in both kernels (charon takes the Delete)
#    and xoff's map follows.
# pluto keeps its NSS database, configuration, secrets, control socket and log in a
# temporary directory inside the sid root (removed at exit), with the namespace's /proc
# and a private /run, as ips_charon does for charon.
#   env OUT=DIR bash selftests/vm/test_libreswan.sh
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/ipsec.sh"

ips_init test_libreswan jq bpftool
PINGS=${PINGS:-20}

SID=${XOFF_SID_ROOT:-$(cat /xoff-io/sid-root 2>/dev/null || true)}
if [ -z "$SID" ] || [ ! -d "$SID" ]; then
	why=$(sed -n 's/^sid: //p' /xoff-io/absent 2>/dev/null)
	[ -n "$why" ] || why=${SID:+"$SID is no directory"}
	echo "SKIP: test_libreswan: no sid userspace: ${why:-XOFF_SID_ROOT unset (selftests/vm/vm.sh with XOFF_VM_KERNEL=newest provides it)}"
	exit 4
fi
PLUTO=/usr/libexec/ipsec/pluto
for f in $PLUTO /usr/sbin/ipsec /usr/bin/certutil; do
	[ -x "$SID$f" ] || { echo "SKIP: test_libreswan: no libreswan in $SID ($f missing)"; exit 4; }
done
[ -x "$SID$IPS_CHARON" ] || { echo "SKIP: test_libreswan: no strongSwan in $SID ($IPS_CHARON missing)"; exit 4; }
# shellcheck disable=SC2034	# ips_charon and ips_swanctl run strongSwan chrooted there
IPS_CHROOT=$SID

ips_ns l || exit 1
NL=$IPS_NS
ips_ns s || exit 1
NS=$IPS_NS
ips_daemon_ns "$NL"
ips_bpffs || exit 1
PINS=$IPS_BPFFS/xoff
ips_need_esp test_libreswan "$NL"
# pluto probes for XFRM interfaces at start: the kernel loads xfrm_interface and its needs.
for m in xfrm_interface xfrm6_tunnel tunnel4 tunnel6; do ips_unload_new $m; done
# Inside the sid root, where the daemons read their files: gone at exit.
TMP=$(mktemp -d "$SID/tmp/xoff-libreswan.XXXXXX") || exit 1
st_record tmp "$TMP"
IN=${TMP#"$SID"}	# the same directory as the chrooted daemons see it
die() { st_fail "$1" "$2"; st_done; }

DL=xll0 DS=xls0
L4=10.6.0.1 S4=10.6.0.2 LI=192.168.61.1 SI=192.168.62.1
ips_veth "$NL" $DL "$NS" $DS || die setup "no veth pair"
ip -n "$NL" addr add $L4/24 dev $DL
ip -n "$NS" addr add $S4/24 dev $DS
ip -n "$NL" addr add $LI/32 dev lo
ip -n "$NS" addr add $SI/32 dev lo
# Neither daemon routes (leftupdown=%disabled, install_routes = no): the inner routes are ours.
ip -n "$NL" route add $SI/32 via $S4 src $LI
ip -n "$NS" route add $LI/32 via $L4 src $SI
PSK="xoff-libreswan-$$-$RANDOM"

# ---- libreswan in L -----------------------------------------------------------------------------
mkdir -p "$TMP/l/nss" "$TMP/l/run"
cat > "$TMP/l/ipsec.conf" <<EOF
config setup
	logfile=$IN/l/pluto.log
	logappend=no
	ipsecdir=$IN/l
	nssdir=$IN/l/nss
	secretsfile=$IN/l/ipsec.secrets
	dumpdir=$IN/l/run

conn xoff
	keyexchange=ikev2
	authby=secret
	left=$L4
	leftid=@i.xoff.test
	leftsubnet=$LI/32
	leftupdown=%disabled
	right=$S4
	rightid=@r.xoff.test
	rightsubnet=$SI/32
	ike=aes_gcm128-sha2_256-dh31
	esp=aes_gcm128
	type=tunnel
	auto=add
EOF
printf '@i.xoff.test @r.xoff.test : PSK "%s"\n' "$PSK" > "$TMP/l/ipsec.secrets"
chmod 600 "$TMP/l/ipsec.secrets"

# pluto in L, in the foreground, chrooted in the sid root with a fresh NSS database.
st_bg ip netns exec "$NL" chroot "$SID" sh -c "mount -t proc proc /proc && mount -t tmpfs tmpfs /run &&
	certutil -N --empty-password -d sql:$IN/l/nss &&
	exec $PLUTO --nofork --config $IN/l/ipsec.conf --rundir $IN/l/run" > "$TMP/l/stderr" 2>&1
PLUTO_PID=$ST_BG_PID
# ipsec(8) against L's pluto (whack waits for the outcome of up and down: bounded)
ls_ipsec() { timeout 120 ip netns exec "$NL" chroot "$SID" ipsec "$@" --ctlsocket "$IN/l/run/pluto.ctl"; }
if st_wait 60 test -S "$TMP/l/run/pluto.ctl"; then
	st_pass "pluto ($(chroot "$SID" $PLUTO --version 2>&1 | awk '{ print $1, $2 }')) runs in $NL"
else
	die "pluto runs in $NL" "no control socket in 60 s: $(tail -n 2 "$TMP/l/stderr" "$TMP/l/pluto.log" 2>/dev/null | tr '\n' ' ')"
fi
if out=$(ls_ipsec add --config "$IN/l/ipsec.conf" xoff 2>&1); then
	st_pass "ipsec add xoff ($out)"
else
	die "ipsec add xoff" "${out//$'\n'/ }"
fi

# ---- strongSwan in S ----------------------------------------------------------------------------
mkdir -p "$TMP/s"
cat > "$TMP/s/swanctl.conf" <<EOF
connections {
xoff {
	local_addrs = $S4
	remote_addrs = $L4
	proposals = aes128gcm16-prfsha256-x25519
	local {
		auth = psk
		id = r.xoff.test
	}
	remote {
		auth = psk
		id = i.xoff.test
	}
	children {
		xoff {
			esp_proposals = aes128gcm16
			mode = tunnel
			local_ts = $SI/32
			remote_ts = $LI/32
		}
	}
}
}
secrets {
	ike-xoff {
		id-i = i.xoff.test
		id-r = r.xoff.test
		secret = "$PSK"
	}
}
EOF
# (not in $(...): charon would hold its output open, and its pid would be lost)
if ips_charon s "$NS" "$TMP/s" > "$TMP/charon.err"; then
	st_pass "charon ($(chroot "$SID" "$IPS_CHARON" --version 2>&1)) runs in $NS"
else
	die "charon runs in $NS" "$(tr '\n' ' ' < "$TMP/charon.err")"
fi
st_check "swanctl --load-all ($NS)" ips_swanctl s --load-all --file "$IN/s/swanctl.conf"

# ---- xoff in L: daemon, attach on the veth ---------------------------------------------------------
xo() { ip netns exec "$NL" "$XOFFCTL" -P "$PINS" "$@"; }
st_bg ip netns exec "$NL" "$XOFFCTL" -P "$PINS" run pin-dir "$PINS" 2>"$TMP/daemon.log"
daemon_up() { xo -j status | jq -e '.daemon.running' >/dev/null || { echo "daemon not running: $(tail -n 1 "$TMP/daemon.log")"; return 1; }; }
ips_expect "xoff daemon runs in $NL" 30 daemon_up
if out=$(xo attach $DL 2>&1); then st_pass "attach $DL"; else st_fail "attach $DL" "$out"; fi

# ---- IKE: pluto initiates ---------------------------------------------------------------------------
t0=$(date +%s%N)
if ls_ipsec up xoff > "$TMP/up" 2>&1 && grep -q 'established Child SA' "$TMP/up"; then
	st_pass "ipsec up xoff: IKE_SA and CHILD_SA established ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
	st_log "pluto: $(grep -m1 'established Child SA' "$TMP/up" | sed 's/^[0-9]* //')"
else
	die "ipsec up xoff" "$(tail -n 3 "$TMP/up" | tr '\n' ' ')"
fi

# The kernel's SAs in a namespace (sid's ip: Debian 12's may not read every attribute pluto
# sets) as lines "SPI DST MODE AEAD KEYBITS ICVBITS", sorted.
kernel_sas()
{
	ip netns exec "$1" chroot "$SID" ip xfrm state | awk '
		function out() { if (spi != "") print spi, dst, mode, alg, (length(key) - 2) * 4, icv }
		/^src / { out(); dst = $4; spi = ""; mode = ""; alg = "-"; key = "00"; icv = 0 }
		$1 == "proto" && $2 == "esp" { spi = $4; for (i = 5; i < NF; i++) if ($i == "mode") mode = $(i + 1) }
		$1 == "aead" { alg = $2; key = $3; icv = $4 }
		END { out() }' | sort
}
# charon's CHILD_SA as "STATE MODE PROTOCOL ENCR KEYSIZE SPI_IN SPI_OUT" (vici's raw output)
charon_child()
{
	ips_swanctl s --list-sas --raw || return 1
	tr -s ' {}' '\n' < "$TMP/s/swanctl.out" | awk -F= '
		$1 ~ /^(state|mode|protocol|encr-alg|encr-keysize|spi-in|spi-out)$/ { v[$1] = $2 }
		END { print v["state"], v["mode"], v["protocol"], v["encr-alg"], v["encr-keysize"], "0x" v["spi-in"], "0x" v["spi-out"] }'
}
# interop: charon's CHILD_SA is the one both kernels hold, crossed, AES-GCM-128 in tunnel mode
interop()
{
	local c st mode proto encr bits sin sout l s want
	c=$(charon_child) || { echo "swanctl --list-sas: $c"; return 1; }
	read -r st mode proto encr bits sin sout <<< "$c"
	[ "$st $mode $proto $encr $bits" = "INSTALLED TUNNEL ESP AES_GCM_16 128" ] ||
		{ echo "charon's CHILD_SA: $c"; return 1; }
	l=$(kernel_sas "$NL" | tr '\n' ' ')
	s=$(kernel_sas "$NS" | tr '\n' ' ')
	want=$(printf '%s %s tunnel rfc4106(gcm(aes)) 160 128\n' "$sout" $L4 "$sin" $S4 | sort | tr '\n' ' ')
	[ "$l" = "$want" ] || { echo "L's kernel [$l], want [$want] (charon: $c)"; return 1; }
	[ "$s" = "$want" ] || { echo "S's kernel [$s], want [$want] (charon: $c)"; return 1; }
	INSPI=$sout OUTSPI=$sin
}
if interop > "$TMP/interop"; then
	st_pass "charon's CHILD_SA INSTALLED, TUNNEL, ESP AES_GCM_16 128: in L's and S's kernels as rfc4106(gcm(aes)), L in $INSPI, L out $OUTSPI"
else
	die "both kernels hold charon's CHILD_SA" "$(cat "$TMP/interop")"
fi

# SPIs in xoff's SA map (bytes 4-7 of each key), sorted.
map_spis()
{
	bpftool -j map dump pinned "$PINS/xoff_sas" |
		grep -o '"key":\["0x..","0x..","0x..","0x..","0x..","0x..","0x..","0x.."' |
		sed 's/.*"0x\(..\)","0x\(..\)","0x\(..\)","0x\(..\)"$/0x\1\2\3\4/' | sort
}
# xoff's sa list shows both with the kernel's SPIs, the right direction, sw on $DL, its reason.
xoff_shows()
{
	local sas got want spi dir
	sas=$(xo -j sa list | jq -r '.[] | "\(.spi) \(.dir) \(.path) \(.traffic_dev)\t\(.path_reason)"')
	for spi in $INSPI $OUTSPI; do
		dir=$([ "$spi" = "$INSPI" ] && echo in || echo out)
		want="$spi $dir sw $DL"$'\t'"software: no offload requested ($DL has no ESP offload)"
		got=$(grep "^$spi " <<< "$sas")
		[ "$got" = "$want" ] || { echo "spi $spi: '$got', want '$want'"; return 1; }
	done
	[ "$(wc -l <<< "$sas")" = 2 ] || { echo "sa list has more than the CHILD_SA: ${sas//$'\n'/ }"; return 1; }
}
map_is_kernel()
{
	local k m
	k=$(kernel_sas "$NL" | awk '{ print $1 }' | sort | tr '\n' ' ')
	m=$(map_spis | tr '\n' ' ')
	[ "$k" = "$m" ] || { echo "kernel [$k] map [$m]"; return 1; }
}
ips_expect "xoff shows the CHILD_SA: in $INSPI and out $OUTSPI as the kernel has them, sw on $DL" 10 xoff_shows
ips_expect "xoff's SA map holds exactly L's kernel SPIs" 10 map_is_kernel

# ---- traffic: S pings L through the tunnel -----------------------------------------------------------
if ip netns exec "$NS" ping -q -c "$PINGS" -i 0.1 -W 5 -I $SI $LI > "$TMP/ping" 2>&1; then
	st_pass "$PINGS pings from S's $SI to L's $LI through the tunnel"
else
	st_fail "pings through the tunnel" "$(grep -m1 packets "$TMP/ping")"
fi
# counted SPI: xoff's fast path counts on SPI what L's kernel counts there, PINGS packets
counted()
{
	local fp kp
	fp=$(xo -j sa list spi "$1" | jq -r '.[0].fastpath_packets')
	read -r _ kp <<< "$(ips_curlft "$NL" "$1")"
	if [ "$fp" != "$PINGS" ] || [ "$kp" != "$PINGS" ]; then
		echo "SA $1: xoff $fp packets, kernel $kp (want $PINGS)"
		return 1
	fi
}
ips_expect "inbound SA $INSPI: xoff's fast path counts $PINGS packets as L's kernel does" 10 counted "$INSPI"
ips_expect "outbound SA $OUTSPI: xoff's fast path counts $PINGS packets as L's kernel does" 10 counted "$OUTSPI"

# ---- pluto deletes the CHILD_SA: both kernels and xoff follow ---------------------------------------
if out=$(ls_ipsec down xoff 2>&1); then
	st_pass "ipsec down xoff"
else
	st_fail "ipsec down xoff" "$(tail -n 2 <<< "$out" | tr '\n' ' ')"
fi
no_sas()
{
	local l s m
	l=$(kernel_sas "$NL" | tr '\n' ' ') s=$(kernel_sas "$NS" | tr '\n' ' ') m=$(map_spis | tr '\n' ' ')
	[ -z "$l$s$m" ] || { echo "L's kernel [$l] S's kernel [$s] xoff's map [$m]"; return 1; }
}
ips_expect "after ipsec down: no SA in either kernel nor in xoff's map" 30 no_sas

st_check "xoff's daemon logged no error or warning" ips_log_clean "$TMP/daemon.log"
if out=$(xo detach $DL 2>&1); then st_pass "detach $DL"; else st_fail "detach $DL" "$out"; fi
st_stop "$PLUTO_PID" || true
st_done

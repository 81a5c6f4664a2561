# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# shellcheck shell=bash
# Helpers for selftests with real SAs (sourced after ../lib.sh, bash; the kernel must have
# esp4/esp6 and xfrm_user: Debian's kernel in selftests/vm/vm.sh). Keys are derived from
# the SPI (test traffic only). Everything they create lives in the test's namespaces and
# goes with them.
#
#   ips_init NAME [TOOL...]       st_init, SKIP unless each TOOL is on PATH, and a cleanup at
#                                 exit of what the helpers below made beyond lib.sh's
#   ips_need NAME FILE...         FAIL (exit 1) unless each FILE (a built tool) is executable
#   ips_need_esp NAME NS          SKIP (exit 4) unless this kernel holds an ESP state in NS
#   ips_daemon_ns NS              xoff's daemon runs in NS: its lock file goes at exit
#   ips_unload_new MOD            MOD, not loaded now, is unloaded at exit if it is by then
#                                 (the kernel loads esp4_offload on its own, for one)
#   ips_modprobe MOD              load MOD; unloaded at exit if it was not loaded before
#   ips_nsim NS DEV               a netdevsim device (emulated IPsec offload NIC) in NS as DEV,
#                                 up; its id in $IPS_NSIM_ID, deleted at exit (or by
#                                 ips_nsim_del); 1 with $IPS_WHY if there can be none
#   ips_nsim_del                  delete it now
#   ips_expect NAME SECS COMMAND...   PASS once COMMAND succeeds within SECS, else FAIL with
#                                 the last line it printed
#   ips_log_clean FILE            a daemon's log has no error or warning line; else prints
#                                 the first
#   ips_ns NAME                   st_ns without a subshell: the namespace's name in $IPS_NS
#                                 (NS=$(st_ns x) loses lib.sh's record of it: never cleaned)
#   ips_bpffs                     st_bpffs likewise: the mount point in $IPS_BPFFS
#   ips_tmpdir                    st_tmpdir likewise: the directory in $IPS_TMP
#   ips_veth NS_A DEV_A NS_B DEV_B    a veth pair between two namespaces, both up
#   ips_sa NS SRC DST SPI [ARGS...]   ESP state, AES-GCM (rfc4106, 128-bit ICV), reqid 1,
#                                 tunnel mode; ARGS are appended to `ip xfrm state add`
#                                 (a later "mode transport" or "reqid N" wins)
#   ips_aead SPI                  the rfc4106 key of SPI: "rfc4106(gcm(aes)) 0x... 128"
#   ips_tunnel NS_A NS_B OA OB IA IB SPI_AB SPI_BA REQID [ARGS...]
#                                 a tunnel-mode ESP tunnel between inner addresses IA (in
#                                 NS_A) and IB (in NS_B) over the outer OA/OB: SAs in both
#                                 namespaces, policies out/in on both sides, a route to
#                                 the inner peer with the inner source; ARGS go to every
#                                 `ip xfrm state add` (e.g. encap espinudp 4500 4500 0.0.0.0).
#                                 IA and IB must already be local (e.g. on lo).
#   ips_curlft NS SPI             "BYTES PACKETS" of the kernel's curlft, parsed from
#                                 `ip -s xfrm state` (iproute2 6.1 has no JSON for xfrm)
#   ips_curlft_all < TEXT         "SPI BYTES PACKETS" (SPI as 0x%08x) for every state in
#                                 `ip -s xfrm state` output
#   ips_report < LINES            "PASS<TAB>name" / "FAIL<TAB>name<TAB>why" lines (from a
#                                 jq program that checks many things at once) as st_pass
#                                 and st_fail; "INFO<TAB>text" and others as "# " lines
#   ips_xfrm_stat NS NAME         a counter of /proc/net/xfrm_stat in NS (XfrmInNoStates)
#   ips_encap_sock NS PORT FILE [FAMILY]  a background process holding a UDP socket with
#                                 UDP_ENCAP_ESPINUDP on PORT (FAMILY 4 or 6), as an IKE
#                                 daemon would, so the kernel decapsulates ESP-in-UDP; FILE
#                                 counts what reaches the socket (IKE behind the non-ESP
#                                 marker); returns when bound
#   ips_udp_sink NS ADDR PORT FILE    a background UDP receiver: FILE holds the number of
#                                 datagrams received so far (0 once bound)
#   ips_udp_send NS ADDR KIND:PORT:COUNT...   send COUNT datagrams to ADDR:PORT, for
#                                 each spec in turn: KIND ike (an IKEv2 header), ike-marker
#                                 (non-ESP marker + IKEv2 header, as on 4500), keepalive
#                                 (one 0xff byte)
#   ips_netns_ino NS              the inode of NS's namespace file (names the daemon's lock)
#   ips_monitor NS FILE ARGS...   `ip xfrm monitor ARGS` in NS into FILE, in the background
#                                 (st_bg); returns once it is subscribed to its groups (an
#                                 event before that would be missed), 1 after 10 s
#   ips_expires FILE SPI HARD     how many expires of SPI with "hard HARD" (0 soft, 1 hard)
#                                 the output of `ip xfrm monitor expire` in FILE shows
#   ips_charon_ok                 strongSwan is here (charon, swanctl); else prints why not
#   ips_charon SIDE NS DIR        start a charon in NS for SIDE (a name) with its vici socket,
#                                 log (DIR/charon.log) and strongswan.conf in DIR and a
#                                 private /run; DIR/swanctl.conf is the caller's; the old
#                                 inbound SA of a rekey stays IPS_REKEYED_DELAY s (1). Returns
#                                 once its vici socket is up (20 s at most). With IPS_CHROOT
#                                 set (a root with its own strongSwan, e.g. vm.sh's sid
#                                 userspace), charon and swanctl run chrooted there, with
#                                 their own /proc; DIR must then lie inside IPS_CHROOT
#   ips_swanctl SIDE ARGS...      swanctl against SIDE's charon; prints its last lines on
#                                 failure
#   ips_swanctl_conn NAME CHILD LOCAL REMOTE PREFIX MYID PEERID [OPTION...]
#                                 one IKEv2 PSK connection (aes128-sha256-x25519) with one
#                                 CHILD_SA (aes128gcm16) between the hosts LOCAL/PREFIX and
#                                 REMOTE/PREFIX; each OPTION ("rekey_bytes = 1000") is a
#                                 line of the child's
#   ips_swanctl_conf FILE CONNECTIONS   swanctl.conf of those connections and the PSK both
#                                 sides share (i.xoff.test and r.xoff.test)
#   ips_ip6_hex ADDR / ips_ip4_hex ADDR   an address as 32 hex digits, as xoff_sa_key.daddr

IPS_PY=$(command -v python3 || echo /usr/bin/python3)
IPS_LOCKS=()
IPS_RUNDIR_MADE=0
IPS_NSIM_ID=
IPS_NSIM_LOADED=0
IPS_DEBUGFS=
IPS_MODS=()

ips_cleanup()
{
	local i
	# netdevsim first: a namespace going away would hand the device back to init_net.
	ips_nsim_del
	st_cleanup
	[ $IPS_NSIM_LOADED = 0 ] || modprobe -r netdevsim 2>/dev/null
	[ -z "$IPS_DEBUGFS" ] || umount "$IPS_DEBUGFS" 2>/dev/null
	for i in "${IPS_LOCKS[@]}"; do rm -f "/run/xoff/daemon-netns-$i.lock"; done
	[ $IPS_RUNDIR_MADE = 0 ] || rmdir /run/xoff 2>/dev/null
	for i in "${IPS_MODS[@]}"; do
		[ ! -d "/sys/module/$i" ] || st_wait 10 rmmod "$i"
	done
	true
}

ips_unload_new()
{
	[ -d "/sys/module/$1" ] || IPS_MODS+=("$1")
}

ips_modprobe()
{
	ips_unload_new "$1"
	modprobe -q "$1" 2>/dev/null && [ -d "/sys/module/$1" ]
}

ips_init()
{
	local name=$1 t
	shift
	st_init "$name"
	for t in "$@"; do
		command -v "$t" >/dev/null || { echo "SKIP: $name: $t missing"; exit 4; }
	done
	[ -d /run/xoff ] || IPS_RUNDIR_MADE=1
	trap ips_cleanup EXIT
}

ips_need()
{
	local name=$1 f
	shift
	for f in "$@"; do
		[ -x "$f" ] || { echo "FAIL: $name: $f not built (make)"; exit 1; }
	done
}

ips_need_esp()
{
	local err
	if ! err=$(ips_sa "$2" 192.0.2.1 192.0.2.2 0x1 2>&1); then
		echo "SKIP: $1: no ESP states on $(uname -r): $err (run it in selftests/vm/vm.sh)"
		exit 4
	fi
	ip -n "$2" xfrm state flush
}

ips_daemon_ns()
{
	IPS_LOCKS+=("$(ips_netns_ino "$1")")
}

ips_nsim()
{
	local ns=$1 name=$2 dev i
	if [ ! -d /sys/bus/netdevsim ]; then
		if ! IPS_WHY=$(modprobe netdevsim 2>&1); then
			dev=$(sed -n 's/^netdevsim: //p' /xoff-io/absent 2>/dev/null)
			IPS_WHY="no netdevsim module: ${dev:-$IPS_WHY}"
			return 1
		fi
		IPS_NSIM_LOADED=1
	fi
	if [ ! -d /sys/kernel/debug/netdevsim ] && [ -z "$IPS_DEBUGFS" ] &&
	   mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null; then
		IPS_DEBUGFS=/sys/kernel/debug
	fi
	IPS_NSIM_ID=$((4000 + $$ % 4000))
	while [ -e /sys/bus/netdevsim/devices/netdevsim$IPS_NSIM_ID ]; do IPS_NSIM_ID=$((IPS_NSIM_ID + 1)); done
	if ! echo "$IPS_NSIM_ID 1" > /sys/bus/netdevsim/new_device; then
		IPS_NSIM_ID=
		IPS_WHY="cannot create a netdevsim device"
		return 1
	fi
	for i in $(seq 100); do
		dev=$(ls "/sys/bus/netdevsim/devices/netdevsim$IPS_NSIM_ID/net/" 2>/dev/null | head -1)
		[ -n "$dev" ] && break
		sleep 0.05
	done
	[ -n "$dev" ] || { IPS_WHY="netdevsim$IPS_NSIM_ID has no net device"; return 1; }
	# netdevsim devices are born in init_net.
	ip link set "$dev" netns "$ns" && ip -n "$ns" link set "$dev" name "$name" &&
		ip -n "$ns" link set "$name" up || { IPS_WHY="cannot move $dev into $ns as $name"; return 1; }
}

ips_expect()
{
	local name=$1 secs=$2
	shift 2
	if st_wait "$secs" "$@"; then
		st_pass "$name"
	else
		st_fail "$name" "$("$@" 2>&1 | tail -n 1) (after $secs s)"
	fi
}

ips_log_clean()
{
	local bad
	bad=$(grep -E 'xoffd: (error|warning)' "$1" | grep -v XOFF_TEST_MIRROR_SOFTWARE)
	[ -z "$bad" ] || { head -n 1 <<< "$bad"; return 1; }
}

ips_nsim_del()
{
	[ -z "$IPS_NSIM_ID" ] || echo "$IPS_NSIM_ID" > /sys/bus/netdevsim/del_device 2>/dev/null
	IPS_NSIM_ID=
}

ips_ns()
{
	st_ns "$1" >/dev/null || return 1
	IPS_NS=${ST_NETNS[${#ST_NETNS[@]} - 1]}
}

ips_bpffs()
{
	st_bpffs >/dev/null || return 1
	IPS_BPFFS=${ST_MOUNTS[${#ST_MOUNTS[@]} - 1]}
}

ips_tmpdir()
{
	st_tmpdir >/dev/null || return 1
	IPS_TMP=${ST_TMP[${#ST_TMP[@]} - 1]}
}

ips_veth()
{
	ip link add name "$2" netns "$1" type veth peer name "$4" netns "$3" || return 1
	ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}

ips_aead()
{
	printf 'rfc4106(gcm(aes)) 0x%040x 128' "$1"
}

ips_sa()
{
	local ns=$1 src=$2 dst=$3 spi=$4
	shift 4
	# shellcheck disable=SC2046
	ip -n "$ns" xfrm state add src "$src" dst "$dst" proto esp spi "$spi" reqid 1 \
		mode tunnel aead $(ips_aead "$spi") "$@"
}

ips_tunnel()
{
	local na=$1 nb=$2 oa=$3 ob=$4 ia=$5 ib=$6 sab=$7 sba=$8 reqid=$9 sas
	shift 9
	# One `ip -batch` per namespace: under TCG each ip costs most of a second.
	sas=$(printf 'xfrm state add src %s dst %s proto esp spi %s reqid %s mode tunnel aead %s %s\n' \
		"$oa" "$ob" "$sab" "$reqid" "$(ips_aead "$sab")" "$*" \
		"$ob" "$oa" "$sba" "$reqid" "$(ips_aead "$sba")" "$*")
	ip -n "$na" -batch - <<EOF || return 1
$sas
xfrm policy add src $ia dst $ib dir out tmpl src $oa dst $ob proto esp reqid $reqid mode tunnel
xfrm policy add src $ib dst $ia dir in tmpl src $ob dst $oa proto esp reqid $reqid mode tunnel
route add $ib via $ob src $ia
EOF
	ip -n "$nb" -batch - <<EOF
$sas
xfrm policy add src $ia dst $ib dir in tmpl src $oa dst $ob proto esp reqid $reqid mode tunnel
xfrm policy add src $ib dst $ia dir out tmpl src $ob dst $oa proto esp reqid $reqid mode tunnel
route add $ia via $oa src $ib
EOF
}

# "SPI BYTES PACKETS" (SPI as 0x%08x) of every state in `ip -s xfrm state` output on stdin.
ips_curlft_all()
{
	awk '
		$1 == "proto" && $2 == "esp" && $3 == "spi" { spi = substr($4, 1, 10); want = 0; next }
		spi != "" && /lifetime current:/ { want = 1; next }
		want { gsub(/[(),]|bytes|packets/, " "); print spi, $1, $2; want = 0; spi = "" }'
}

ips_curlft()
{
	ip -n "$1" -s xfrm state | ips_curlft_all | awk -v spi="$(printf '0x%08x' "$2")" \
		'$1 == spi { print $2, $3 }'
}

ips_xfrm_stat()
{
	ip netns exec "$1" awk -v n="$2" '$1 == n { print $2 }' /proc/net/xfrm_stat
}

# Waits (30 s at most: a python start under TCG on a busy host) for FILE to appear.
ips_wait_file()
{
	st_wait 30 test -e "$1"
}

ips_encap_sock()
{
	st_bg ip netns exec "$1" "$IPS_PY" -c '
import socket, sys, signal, os
fam = socket.AF_INET6 if sys.argv[3] == "6" else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.setsockopt(17, 100, 2)	# SOL_UDP, UDP_ENCAP, UDP_ENCAP_ESPINUDP
s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", int(sys.argv[1])))
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
n = 0
while True:
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write("%d\n" % n)
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    s.recv(65536)	# what the kernel does not take as ESP: IKE behind the marker
    n += 1
' "$2" "$3" "${4:-4}"
	ips_wait_file "$3"
}

ips_udp_sink()
{
	st_bg ip netns exec "$1" "$IPS_PY" -c '
import socket, sys, signal, os
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
n = 0
while True:
    with open(sys.argv[3] + ".tmp", "w") as f:
        f.write("%d\n" % n)
    os.rename(sys.argv[3] + ".tmp", sys.argv[3])
    s.recv(65536)
    n += 1
' "$2" "$3" "$4"
	ips_wait_file "$4"
}

ips_udp_send()
{
	local ns=$1
	shift
	ip netns exec "$ns" "$IPS_PY" -c '
import socket, sys, struct, time
addr = sys.argv[1]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
# IKEv2 header: initiator SPI, responder SPI 0, next payload SA, version 2.0, IKE_SA_INIT,
# flags initiator, message id 0, length 28.
ike = struct.pack("!QQBBBBII", 0x1122334455667788, 0, 33, 0x20, 34, 0x08, 0, 28)
kinds = {"ike": ike, "ike-marker": b"\0\0\0\0" + ike, "keepalive": b"\xff"}
for spec in sys.argv[2:]:
    kind, port, count = spec.split(":")
    for i in range(int(count)):
        s.sendto(kinds[kind], (addr, int(port)))
        time.sleep(0.01)
' "$@"
}

ips_report()
{
	local kind name why
	while IFS=$'\t' read -r kind name why; do
		case $kind in
		PASS) st_pass "$name" ;;
		FAIL) st_fail "$name" "$why" ;;
		INFO) st_log "$name${why:+ $why}" ;;
		"") ;;
		*) st_log "$kind${name:+ $name}${why:+ $why}" ;;
		esac
	done
}

ips_netns_ino()
{
	stat -L -c %i "/run/netns/$1"
}

ips_ip4_hex()
{
	local IFS=.
	# shellcheck disable=SC2086
	set -- $1
	printf '%02x%02x%02x%02x%024d\n' "$1" "$2" "$3" "$4" 0
}

ips_ip6_hex()
{
	local a=$1 head tail n i g out=
	local -a h=() t=()
	if [[ $a == *::* ]]; then
		head=${a%%::*}
		tail=${a##*::}
	else
		head=$a
		tail=
	fi
	[ -n "$head" ] && IFS=: read -ra h <<< "$head"
	[ -n "$tail" ] && IFS=: read -ra t <<< "$tail"
	n=$((8 - ${#h[@]} - ${#t[@]}))
	for i in "${h[@]}"; do printf -v g '%04x' "0x$i"; out+=$g; done
	for ((i = 0; i < n; i++)); do out+=0000; done
	for i in "${t[@]}"; do printf -v g '%04x' "0x$i"; out+=$g; done
	echo "$out"
}

IPS_CHARON=/usr/lib/ipsec/charon
declare -A IPS_CHARON_NS IPS_CHARON_DIR

ips_charon_ok()
{
	local why
	[ -x $IPS_CHARON ] && command -v swanctl >/dev/null && return 0
	why=$(sed -n 's/^strongswan: //p' /xoff-io/absent 2>/dev/null)
	echo "${why:-not installed; selftests/vm/vm.sh provides it in the VM}"
	return 1
}

# DIR as the charon sees it: inside IPS_CHROOT when there is one.
ips_charon_path() { echo "${1#"${IPS_CHROOT:-}"}"; }

ips_charon()
{
	local side=$1 ns=$2 d=$3 in
	in=$(ips_charon_path "$d")
	mkdir -p "$d"
	cat > "$d/strongswan.conf" <<-EOF
	charon {
		load = random nonce openssl kdf pem pkcs1 x509 pubkey kernel-netlink socket-default vici
		install_routes = no
		delete_rekeyed_delay = ${IPS_REKEYED_DELAY:-1}
		plugins {
			vici {
				socket = unix://$in/charon.vici
			}
		}
		filelog {
			log {
				path = $in/charon.log
				default = 1
			}
		}
		syslog {
			daemon {
				default = -1
			}
		}
	}
	swanctl {
		load = random openssl pem pkcs1 x509 pubkey
	}
	EOF
	IPS_CHARON_NS[$side]=$ns
	IPS_CHARON_DIR[$side]=$d
	if [ -n "${IPS_CHROOT:-}" ]; then
		st_bg ip netns exec "$ns" chroot "$IPS_CHROOT" env STRONGSWAN_CONF="$in/strongswan.conf" \
			sh -c "mount -t proc proc /proc && mount -t tmpfs tmpfs /run && exec $IPS_CHARON" \
			2>"$d/stderr"
	else
		st_bg ip netns exec "$ns" env STRONGSWAN_CONF="$d/strongswan.conf" \
			sh -c "mount -t tmpfs tmpfs /run && exec $IPS_CHARON" 2>"$d/stderr"
	fi
	st_wait 20 test -S "$d/charon.vici" || { tail -n 2 "$d/stderr" "$d/charon.log" 2>/dev/null; return 1; }
}

ips_swanctl()
{
	local side=$1 ns d in
	shift
	ns=${IPS_CHARON_NS[$side]} d=${IPS_CHARON_DIR[$side]}
	in=$(ips_charon_path "$d")
	ip netns exec "$ns" ${IPS_CHROOT:+chroot "$IPS_CHROOT"} env STRONGSWAN_CONF="$in/strongswan.conf" \
		swanctl "$@" --uri "unix://$in/charon.vici" > "$d/swanctl.out" 2>&1 && return
	grep -v '^opening directory' "$d/swanctl.out" | tail -n 2
	return 1
}

ips_swanctl_conn()
{
	local name=$1 child=$2 me=$3 peer=$4 len=$5 myid=$6 peerid=$7 o
	shift 7
	cat <<-EOF
	$name {
		local_addrs = $me
		remote_addrs = $peer
		proposals = aes128-sha256-x25519
		local {
			auth = psk
			id = $myid
		}
		remote {
			auth = psk
			id = $peerid
		}
		children {
			$child {
				esp_proposals = aes128gcm16
				local_ts = $me/$len
				remote_ts = $peer/$len
	EOF
	for o in "$@"; do printf '%s\n' "$o"; done
	printf '}\n}\n}\n'	# (<<- strips the tabs: swanctl reads braces, not indentation)
}

ips_swanctl_conf()
{
	mkdir -p "$(dirname "$1")"
	cat > "$1" <<-EOF
	connections {
	$2
	}
	secrets {
		ike-xoff {
			id-i = i.xoff.test
			id-r = r.xoff.test
			secret = 0x$(printf '%032x' $$)
		}
	}
	EOF
}

ips_monitor()
{
	local ns=$1 file=$2 i
	shift 2
	st_bg ip -n "$ns" xfrm monitor "$@" > "$file"
	# /proc/net/netlink of NS: one of its sockets (by inode) on NETLINK_XFRM (6), groups set.
	for i in $(seq 200); do
		ip netns exec "$ns" awk -v inos=" $(find /proc/$ST_BG_PID/fd -lname 'socket:*' -printf '%l ' 2>/dev/null |
			tr -d 'socket:[]') " '$2 == 6 && $4 != "00000000" && index(inos, " " $10 " ") { f = 1 }
			END { exit !f }' /proc/net/netlink && return 0
		sleep 0.05
	done
	return 1
}

ips_expires()
{
	awk -v spi="$(printf '0x%08x' "$2")" -v hard="$3" '
		/^Expired/ { cur = 0 }
		$1 == "proto" && $3 == "spi" { cur = substr($4, 1, 10) == spi }
		cur && $1 == "hard" && $2 == hard { n++ }
		END { print n + 0 }' "$1"
}

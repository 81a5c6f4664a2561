# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Shared by the selftests (sourced, bash): kselftest-style result lines, private network
# namespaces and bpffs mounts that are removed on exit whatever happens, polling helpers.
#
#   . "$(dirname "$0")/../lib.sh"      (or ../lib.sh from selftests/vm/)
#   st_init NAME                        cleanup of leftovers, traps, counters
#   st_pass T / st_fail T WHY / st_skip T WHY
#   st_ns SUFFIX                        -> echoes the netns name, removed on exit
#   st_bpffs                            -> echoes a private bpffs mount point, removed on exit
#   st_tmpdir                           -> echoes a temporary directory, removed on exit
#                                          (all three may be called as $(st_ns x): what they
#                                          create is recorded in a file, not only a variable)
#   st_bg COMMAND...                    run in the background, killed on exit ($ST_BG_PID)
#   st_wait SECS COMMAND...             poll (every 50 ms) until COMMAND succeeds
#   st_done                             summary line; exit 0, 1 (a FAIL) or 4 (all SKIP)
#
# Result lines: "PASS: name", "FAIL: name: why", "SKIP: name: why". Nothing is left behind:
# namespaces carry a per-run prefix and a stale one from a killed run is removed at start.

ST_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$ST_ROOT/build}
case $OUT in /*) ;; *) OUT=$ST_ROOT/$OUT ;; esac
XOFFCTL=${XOFFCTL:-$OUT/xoffctl}
ST_PREFIX=xst$$
ST_NETNS=()
ST_MOUNTS=()
ST_PIDS=()
ST_TMP=()
ST_NPASS=0
ST_NFAIL=0
ST_NSKIP=0
ST_NAME=selftest
# What to remove at exit, one "kind value" per line; a file so that subshells add to it.
ST_STATE=$(mktemp /tmp/xst-state.$$.XXXXXX)
trap st_cleanup EXIT

st_log() { echo "# $*"; }

st_pass() { ST_NPASS=$((ST_NPASS + 1)); echo "PASS: $1"; }
st_fail() { ST_NFAIL=$((ST_NFAIL + 1)); echo "FAIL: $1: $2"; }
st_skip() { ST_NSKIP=$((ST_NSKIP + 1)); echo "SKIP: $1: $2"; }

# st_check NAME COMMAND...: PASS if COMMAND succeeds, else FAIL with its output.
st_check()
{
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		st_pass "$name"
	else
		st_fail "$name" "$(printf '%s' "$out" | tail -n 5 | tr '\n' ' ')"
	fi
}

st_record() { echo "$1 $2" >> "$ST_STATE"; }

st_cleanup()
{
	local p kind v
	for p in "${ST_PIDS[@]}"; do
		[ -n "$p" ] || continue
		kill "$p" 2>/dev/null && { timeout 5 tail --pid="$p" -f /dev/null 2>/dev/null || kill -9 "$p" 2>/dev/null; }
	done
	ST_PIDS=()
	[ -f "$ST_STATE" ] || return 0
	for kind in netns mount tmp; do
		while read -r k v; do
			[ "$k" = $kind ] || continue
			case $kind in
			netns)	ip netns pids "$v" 2>/dev/null | xargs -r kill -9 2>/dev/null
				ip netns del "$v" 2>/dev/null ;;
			mount)	umount -l "$v" 2>/dev/null
				rmdir "$v" 2>/dev/null ;;
			tmp)	rm -rf "$v" ;;
			esac
		done < "$ST_STATE"
	done
	rm -f "$ST_STATE"
}

# What runs that were killed before their trap ran left behind: their pid is gone.
st_stale()
{
	local n pid f
	for n in $(ip netns list 2>/dev/null | awk '{ print $1 }' | grep '^xst[0-9]*-'); do
		pid=${n%%-*}
		pid=${pid#xst}
		[ -d "/proc/$pid" ] && continue
		ip netns pids "$n" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$n" 2>/dev/null
	done
	for f in /tmp/xst-bpffs.* /tmp/xst-tmp.* /tmp/xst-state.*; do
		[ -e "$f" ] || continue
		pid=${f#/tmp/xst-*.}
		pid=${pid%%.*}
		[ -d "/proc/$pid" ] && continue
		case $f in
		*bpffs*) umount -l "$f" 2>/dev/null; rmdir "$f" 2>/dev/null ;;
		*) rm -rf "$f" ;;
		esac
	done
}

st_init()
{
	ST_NAME=$1
	echo "# $ST_NAME: $(uname -r)"
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: $ST_NAME: needs root"
		exit 4
	fi
	if [ ! -x "$XOFFCTL" ]; then
		echo "FAIL: $ST_NAME: $XOFFCTL not built (make)"
		exit 1
	fi
	st_stale
	trap 'exit 130' INT TERM
}

st_ns()
{
	local n=$ST_PREFIX-$1
	ip netns add "$n" || return 1
	st_record netns "$n"
	ST_NETNS+=("$n")
	ip -n "$n" link set lo up
	echo "$n"
}

st_bpffs()
{
	local d
	d=$(mktemp -d /tmp/xst-bpffs.$$.XXXXXX) || return 1
	mount -t bpf bpf "$d" || { rmdir "$d"; return 1; }
	st_record mount "$d"
	ST_MOUNTS+=("$d")
	echo "$d"
}

st_tmpdir()
{
	local d
	d=$(mktemp -d /tmp/xst-tmp.$$.XXXXXX) || return 1
	st_record tmp "$d"
	ST_TMP+=("$d")
	echo "$d"
}

# Runs COMMAND in the background; its pid in ST_BG_PID, killed (TERM, then KILL) on exit.
st_bg()
{
	"$@" &
	ST_BG_PID=$!
	ST_PIDS+=("$ST_BG_PID")
}

# Stop one background process now (TERM; KILL after 5 s); returns its exit status.
st_stop()
{
	local p=$1 rc i
	kill "$p" 2>/dev/null
	for i in $(seq 100); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	rc=$?
	ST_PIDS=("${ST_PIDS[@]/$p}")
	return $rc
}

st_wait()
{
	local secs=$1 end
	shift
	end=$(($(date +%s%N) + secs * 1000000000))
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(date +%s%N)" -ge "$end" ] && return 1
		sleep 0.05
	done
}

st_done()
{
	echo "# $ST_NAME: PASS $ST_NPASS FAIL $ST_NFAIL SKIP $ST_NSKIP"
	[ $ST_NFAIL -gt 0 ] && exit 1
	[ $ST_NPASS = 0 ] && [ $ST_NSKIP -gt 0 ] && exit 4
	exit 0
}

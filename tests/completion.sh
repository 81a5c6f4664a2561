#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Tests contrib/bash-completion/xoffctl: sources it, calls _xoffctl with
# COMP_WORDS/COMP_CWORD (and COMP_LINE/COMP_POINT) set as bash sets them, and
# compares COMPREPLY with what is expected. Devices come from a fake
# /sys/class/net, attached devices from a fake pin directory.
#
# The cases run twice: without the bash-completion package's helpers, and with
# them (_init_completion, _filedir) when the package is installed (else SKIP).
# Needs bash only. Prints PASS/FAIL per case, then "N passed, N failed";
# exits 1 if any case failed.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
comp=$here/contrib/bash-completion/xoffctl
bc_main=${BASH_COMPLETION_MAIN:-/usr/share/bash-completion/bash_completion}

# ---- one mode, in a child process: tests/completion.sh --mode plain|bash-completion
if [[ ${1-} == --mode ]]; then
    mode=$2
    if [[ $mode == bash-completion ]]; then
        # shellcheck disable=SC1090
        . "$bc_main" || { echo "FAIL: [$mode] sourcing $bc_main"; exit 1; }
        declare -F _init_completion >/dev/null ||
            { echo "FAIL: [$mode] no _init_completion in $bc_main"; exit 1; }
    else
        unset -f _init_completion _filedir 2>/dev/null
    fi
    # shellcheck disable=SC1090
    . "$comp" || { echo "FAIL: [$mode] sourcing $comp"; exit 1; }

    tmp=$(mktemp -d) || exit 1
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp/net" "$tmp/pin/dev-3" "$tmp/pin/dev-99" "$tmp/empty" "$tmp/pins"
    i=1
    for d in lo eth0 eth1 enp3s0; do
        mkdir "$tmp/net/$d" && echo $i > "$tmp/net/$d/ifindex"
        ((i++))
    done
    echo bond0 > "$tmp/net/bonding_masters"    # a file, not a device
    touch "$tmp/pin/xoff_sas"
    # This shell's namespace's default directory, under a fake root.
    ns=$(readlink /proc/$$/ns/net)
    ns=${ns#net:\[}
    mkdir -p "$tmp/root/net-${ns%]}/dev-4" "$tmp/root/net-1/dev-2"
    cd "$tmp" || exit 1
    _xoffctl_sysnet=$tmp/net
    _xoffctl_pinroot=$tmp/root

    # t NAME -- "EXPECTED WORDS" WORD...: the last WORD is the one completed.
    t()
    {
        local name=$1 want got
        shift 2
        local -a expect
        read -ra expect <<<"$1"
        shift
        COMP_WORDS=(xoffctl "$@")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE="${COMP_WORDS[*]}"
        COMP_POINT=${#COMP_LINE}
        COMP_TYPE=9 COMP_KEY=9
        COMPREPLY=()
        _xoffctl xoffctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        got=$(printf '%s\n' "${COMPREPLY[@]}" | sed 's:/$::' | LC_ALL=C sort | tr '\n' ' ')
        want=$(printf '%s\n' "${expect[@]}" | LC_ALL=C sort | tr '\n' ' ')
        got=${got% } want=${want% }
        if [[ $got == "$want" ]]; then
            echo "PASS: [$mode] $name"
        else
            echo "FAIL: [$mode] $name: got [$got], want [$want]"
        fi
    }

    devs="enp3s0 eth0 eth1 lo"
    t "objects"                     -- "attach detach status sa policy stats metrics probe run version help" ""
    t "options"                     -- "-j --json -p --pretty -P --pin-dir -h --help -V --version" -
    t "-j not offered twice"        -- "-p --pretty -P --pin-dir -h --help -V --version" -j -
    t "-p implies -j"               -- "-P --pin-dir -h --help -V --version" --pretty -
    t "long options"                -- "--json --pin-dir --pretty --help --version" --
    t "-P completes directories"    -- "pin pins" -P pi
    t "-P value is not the object"  -- "list show help" -P /x sa ""
    t "object prefix"               -- "status sa stats" s
    t "after -h nothing"            -- "" -h ""
    t "sa commands"                 -- "list show help" -j sa ""
    t "policy commands"             -- "list help" policy ""
    t "policy list: no args"        -- "" policy list ""
    t "sa list keywords"            -- "dst spi dev" sa list ""
    t "sa l dev DEV (prefixes)"     -- "enp3s0 eth0 eth1" sa l dev e
    t "sa show: used keywords"      -- "spi" sa show dst 10.0.0.1 dev eth0 ""
    t "sa list dst ADDR: free"      -- "" sa list dst ""
    t "attach DEV"                  -- "$devs help" attach ""
    t "attach keywords"             -- "xdp-mode steer cpus unknown-spi mirror no-tc" attach eth0 ""
    t "att x (prefixes)"            -- "xdp-mode" att eth0 x
    t "xdp-mode values"             -- "native skb auto" attach eth0 xdp-mode ""
    t "xdp-mode value prefix"       -- "native" attach eth0 xdp-mode n
    t "steer values"                -- "on off" attach eth0 steer ""
    t "unknown-spi values"          -- "pass drop" attach eth0 unknown-spi ""
    t "mirror values"               -- "auto on off" attach eth0 mirror ""
    t "no re-offer"                 -- "steer cpus mirror no-tc" \
        attach eth0 xdp-mode native unknown-spi drop ""
    t "no re-offer (abbreviated)"   -- "steer cpus unknown-spi mirror" \
        attach eth0 no-tc xdp native ""
    t "cpus: possible CPUs"         -- "$(cat /sys/devices/system/cpu/possible 2>/dev/null)" \
        attach eth0 cpus ""
    t "detach: attached devices"    -- "eth1 help" -P "$tmp/pin" detach ""
    t "detach: --pin-dir"           -- "eth1" --pin-dir "$tmp/pin" detach e
    t "detach: none attached"       -- "$devs help" -P "$tmp/empty" detach ""
    t "detach: this namespace's"    -- "enp3s0 help" detach ""
    t "detach keep-maps"            -- "keep-maps" detach eth1 ""
    t "detach keep-maps once"       -- "" detach eth1 keep-maps ""
    t "probe DEV"                   -- "$devs help" probe ""
    t "probe DEV: no more"          -- "" probe eth0 ""
    t "status help"                 -- "help" status ""
    t "stats help"                  -- "help" stats ""
    t "metrics help"                -- "help" metrics ""
    t "version: nothing"            -- "" version ""
    t "run keywords"                -- "help pin-dir interval cpus tx-queues mirror mirror-dev rcvbuf rx-cpus rx-weight log-level" run ""
    t "run log-level values"        -- "error warning info debug" run log-level ""
    t "run pin-dir directories"     -- "empty" run pin-dir em
    t "run mirror-dev DEV"          -- "$devs" run mirror-dev ""
    t "run mirror-dev DEV MODE"     -- "auto on off" run mirror-dev eth0 ""
    t "run mirror-dev repeats"      -- "mirror mirror-dev" run mirror-dev eth0 on mirr
    t "run mirror used, -dev not"   -- "mirror-dev" run mirror on interval 100 mirr
    t "run interval MS: free"       -- "" run interval ""
    t "run rx- keywords"            -- "rx-cpus rx-weight" run rx-
    t "run rx-cpus: possible CPUs"  -- "$(cat /sys/devices/system/cpu/possible 2>/dev/null)" \
        run rx-cpus ""
    t "run rx-weight PCT: free"     -- "" run rx-weight ""
    t "run rx-cpus used, weight not" -- "rx-weight" run rx-cpus 0 rx
    t "run values are not keywords" -- "interval cpus tx-queues mirror mirror-dev rcvbuf rx-cpus rx-weight log-level" \
        run pin-dir mirror ""
    t "unknown object"              -- "" bogus ""

    # The real /sys/class/net.
    unset _xoffctl_sysnet
    real=
    for d in /sys/class/net/*; do [[ -d $d ]] && real+=" ${d##*/}"; done
    t "real devices"                -- "$real help" attach ""

    if complete -p xoffctl 2>/dev/null | grep -q -- '-F _xoffctl xoffctl'; then
        echo "PASS: [$mode] complete -F _xoffctl xoffctl"
    else
        echo "FAIL: [$mode] complete -F _xoffctl xoffctl"
    fi
    exit 0
fi

# ---- both modes; count
bash -n "$comp" || { echo "FAIL: bash -n $comp"; echo "0 passed, 1 failed"; exit 1; }
out=$(bash "${BASH_SOURCE[0]}" --mode plain 2>&1)
if [[ -r $bc_main ]]; then
    out+=$'\n'$(bash "${BASH_SOURCE[0]}" --mode bash-completion 2>&1)
else
    out+=$'\n'"SKIP: [bash-completion] $bc_main not installed"
fi
printf '%s\n' "$out"
pass=$(grep -c '^PASS: ' <<<"$out")
fail=$(grep -c -v -e '^PASS: ' -e '^SKIP: ' -e '^$' <<<"$out")
echo "$pass passed, $fail failed"
((fail == 0 && pass > 0))

#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Run a command inside a qemu VM booting Debian's own kernel, with the host's / as its
# (read-only, overlaid) root: the host's build, ip, tc, bpftool and libraries run unchanged
# on a kernel that has ESP, xfrm_user and veth. The command's exit code is the script's.
#
#   selftests/vm/vm.sh [-t SECONDS] -- COMMAND [ARGS...]     run COMMAND in the VM (cwd kept)
#   selftests/vm/vm.sh --prepare                             fetch and build what is cached
#
# XOFF_VM_KERNEL picks the kernel: 6.1 (Debian 12's, the default), 6.12 (the newest 6.12 LTS of
# bookworm-backports) or newest (the newest Debian kernel of bookworm-backports,
# trixie-backports and sid). The newer suites come through a private apt configuration in
# $CACHE/apt, never the host's sources. The run prints "vm: booted Linux VERSION (...)".
#
# Exit codes: the command's; 4 when the VM cannot run here (printed: SKIP: reason); 3 when
# the VM did not report (timeout, crash). Downloads and builds are cached outside the clone
# in $XOFF_VM_CACHE (default /var/cache/xoff-vm): everything comes from Debian's archive,
# nothing is installed on the host.
#
# Optional extras, each simply absent when it cannot be had (no network, a package gone):
#  - netdevsim.ko (emulated NIC with IPsec offload), built out of tree for the VM's kernel
#    from linux-source against that kernel's headers, in the guest's modules/updates/;
#  - strongSwan (charon, swanctl), unpacked into an extra read-only overlay layer;
#  - sid's userspace (strongSwan 6.1, libreswan, iproute2 7.3), debootstrapped, for the kernels
#    after 6.1: in the VM, XOFF_SID_ROOT (and /xoff-io/sid-root) names it.
# In the VM, /xoff-io/absent says "NAME: reason" for each extra that is missing.
#
# Cache: $CACHE/<kver>/{vmlinux,version,root/,initrd-HASH.cpio.gz,netdevsim.ready,*.absent}
#        $CACHE/current-{6.12,newest} (the kernel each selection named last), $CACHE/apt/
#        $CACHE/strongswan/{root/,ready}, $CACHE/sid/{root/,ready}, $CACHE/*.absent, $CACHE/.lock
set -euo pipefail

CACHE=${XOFF_VM_CACHE:-/var/cache/xoff-vm}
TIMEOUT=600
PREPARE_ONLY=0
MEM=${XOFF_VM_MEM:-1536}
SMP=${XOFF_VM_SMP:-2}	# vCPUs (TCG runs one host thread each)
# What the cached extras are built from: a change here rebuilds them (and only them).
NSIM_RECIPE="nsim-1"
SS_PKGS=(libstrongswan strongswan-libcharon strongswan-charon strongswan-swanctl
	 libstrongswan-standard-plugins)
SS_SKIP_DEPS="strongswan-starter"	# the ipsec(8) starter: not needed for charon + swanctl
SS_RECIPE="ss-1 ${SS_PKGS[*]}"
RETRY_MIN=60	# a failed extra is retried after this many minutes (always by --prepare)

skip() { echo "SKIP: $*"; exit 4; }
die() { echo "vm.sh: $*" >&2; exit 3; }
note() { echo "vm: $*" >&2; }

while [ $# -gt 0 ]; do
	case "$1" in
	-t) TIMEOUT=$2; shift 2 ;;
	--prepare) PREPARE_ONLY=1; shift ;;
	--) shift; break ;;
	*) die "unknown option '$1' (usage: vm.sh [-t SECONDS] -- COMMAND...)" ;;
	esac
done
[ $PREPARE_ONLY = 1 ] || [ $# -gt 0 ] || die "no command (usage: vm.sh [-t SECONDS] -- COMMAND...)"
[ "$(id -u)" = 0 ] || skip "the VM test bed needs root (9p export of /, apt-get download)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
BUSYBOX=$(command -v busybox || true)
[ -n "$BUSYBOX" ] && file -L "$BUSYBOX" 2>/dev/null | grep -q static || BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || skip "busybox missing (apt-get install busybox-static)"

mkdir -p "$CACHE"
cd_back=$(pwd)
SELF=$(readlink -f "$0")
# Temporary files of this run, removed on exit whatever happens.
TMPS=()
cleanup() { local t; for t in "${TMPS[@]}"; do rm -rf "$t"; done; }
trap cleanup EXIT
# One preparation at a time per cache (others wait); released before qemu starts.
exec 9>"$CACHE/.lock"
flock 9
rm -rf "$CACHE"/dl-*.* "$CACHE"/nsim.* "$CACHE"/ss.* "$CACHE"/sid.[0-9]*	# a killed run's; under the lock, nobody else's

# fetch DIR PKG...: apt-get download into DIR, a fresh directory removed on exit (apt
# downloads as _apt where it can, hence the mode), with the apt options in FETCH_APT (the
# private configuration, or none: the host's). On failure REASON says why.
FETCH_APT=()
fetch()
{
	local dl=$1
	shift
	mkdir -p "$dl" && TMPS+=("$dl") && chmod 777 "$dl" || { REASON="cannot create $dl"; return 1; }
	(cd "$dl" && apt-get "${FETCH_APT[@]}" download -q "$@" > "$dl/.log" 2>&1) && return 0
	REASON="apt-get download $*: $(grep -E '^E:' "$dl/.log" | head -1)"
	return 1
}

# Whether an extra's failure marker is fresh enough not to retry now (--prepare retries).
recent_failure() { [ $PREPARE_ONLY = 0 ] && [ -n "$(find "$1" -mmin -$RETRY_MIN 2>/dev/null)" ]; }

# ---- the private apt configuration: newer suites of the host's archive, never the host's sources
# bookworm-backports (6.12 LTS), trixie-backports and sid (the newest kernels; sid's userspace).
# Its lists are refreshed once a day; an offline run uses the lists it has.
APT_DIR=$CACHE/apt
PRIVATE_APT=(-o "Dir::Etc::sourcelist=$APT_DIR/sources.list" -o Dir::Etc::sourceparts=/nonexistent
	     -o "Dir::State::Lists=$APT_DIR/lists" -o "Dir::Cache=$APT_DIR/cache"
	     -o "Dir::State::status=$APT_DIR/status")
PRIVATE_SUITES="bookworm-backports trixie-backports sid"

# The host's Debian archive: XOFF_VM_MIRROR, else the first URI of its apt sources that
# serves Debian (".../debian", not its security archive; a third-party source is skipped).
archive_uri()
{
	[ -z "${XOFF_VM_MIRROR:-}" ] || { echo "$XOFF_VM_MIRROR"; return; }
	cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		awk '/^deb / { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }
		     /^URIs:/ { for (i = 2; i <= NF; i++) print $i }' |
		grep -E -m1 '/debian/?$' || true
}

private_apt_update()
{
	local uri s

	[ -n "$(find "$APT_DIR/updated" -mmin -1440 2>/dev/null)" ] && return 0
	uri=$(archive_uri)
	[ -n "$uri" ] || { fail "no Debian archive in the host's apt sources"; return; }
	mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/cache/archives/partial"
	: > "$APT_DIR/sources.list.tmp"
	for s in $PRIVATE_SUITES; do echo "deb $uri $s main" >> "$APT_DIR/sources.list.tmp"; done
	mv "$APT_DIR/sources.list.tmp" "$APT_DIR/sources.list"
	[ -f "$APT_DIR/status" ] || : > "$APT_DIR/status"
	note "apt update of $PRIVATE_SUITES (private lists in $APT_DIR)"
	if apt-get "${PRIVATE_APT[@]}" -q update > "$APT_DIR/update.log" 2>&1 &&
	   ! grep -q '^E:' "$APT_DIR/update.log"; then
		touch "$APT_DIR/updated"
		return 0
	fi
	# Lists from an earlier day still name packages the archive may keep: use them.
	ls "$APT_DIR"/lists/*_Packages* > /dev/null 2>&1 && { note "apt update failed; using older lists"; return 0; }
	fail "apt-get update of $PRIVATE_SUITES failed: $(grep -m1 -E '^(E|W):' "$APT_DIR/update.log")"
}

# ---- the kernel: Debian's image package, unpacked, never installed -----------------------------
#   6.1     Debian 12's own (linux-image-amd64's current ABI package, from the host's lists)
#   6.12    the newest 6.12 LTS of bookworm-backports
#   newest  the highest-versioned kernel of bookworm-backports, trixie-backports and sid
KSEL=${XOFF_VM_KERNEL:-6.1}
case $KSEL in
6.1) APT=() ;;
6.12|newest) APT=("${PRIVATE_APT[@]}") ;;
*) die "XOFF_VM_KERNEL=$KSEL: expected 6.1, 6.12 or newest" ;;
esac
fail() { REASON=$*; return 1; }

# The image package the selection names now, on stdout (empty when apt cannot tell).
resolve_kernel()
{
	local re

	case $KSEL in
	6.1) apt-cache depends linux-image-amd64 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }'; return ;;
	6.12) re='^linux-image-6\.12\.[0-9]+\+deb[0-9]+-amd64$' ;;
	newest) re='^linux-image-[0-9]+\.[0-9]+(\.[0-9]+)?\+deb[0-9]+-amd64$' ;;
	esac
	apt-cache "${APT[@]}" search --names-only "$re" 2>/dev/null | awk '{ print $1 }' |
		sed 's/^linux-image-//' | sort -V | tail -1 | sed 's/^/linux-image-/'
}

# The ELF vmlinux inside a bzImage (xz on Debian 12, zstd on newer kernels): PVH boots it
# in half the time of the bzImage.
extract_vmlinux()
{
	local z=$1 out=$2 off

	off=$(LC_ALL=C grep -abo $'\xfd7zXZ' "$z" | head -1 | cut -d: -f1)
	if [ -n "$off" ]; then
		tail -c +$((off + 1)) "$z" | xz -dc 2>/dev/null > "$out" || true
	else
		off=$(LC_ALL=C grep -abo $'\x28\xb5\x2f\xfd' "$z" | head -1 | cut -d: -f1)
		[ -n "$off" ] || { fail "no xz or zstd payload in $z"; return; }
		command -v zstd > /dev/null || { fail "zstd is missing (apt-get install zstd)"; return; }
		tail -c +$((off + 1)) "$z" | zstd -dcq 2>/dev/null > "$out" || true
	fi
	head -c 4 "$out" | grep -q ELF || fail "could not extract vmlinux from $z"
}

# fetch_kernel PKG: the image (and, on newer kernels, the linux-binary and linux-modules
# packages it stands for) into $CACHE/KVER.
fetch_kernel()
{
	local pkg=$1 kver=${1#linux-image-} kdir dl parts z

	kdir=$CACHE/$kver
	note "fetching $pkg"
	rm -rf "$kdir"
	mkdir -p "$kdir"
	# Strings, not regexes: the ABI name has a '+'.
	parts=$(apt-cache "${APT[@]}" depends "$pkg" 2>/dev/null |
		awk -v k="$kver" '$1 ~ /Depends:$/ && ($2 == "linux-binary-" k || $2 == "linux-modules-" k ||
						       $2 == "linux-base-" k) { print $2 }' | sort -u)
	dl=$CACHE/dl-kernel.$$
	FETCH_APT=("${APT[@]}")
	fetch "$dl" "$pkg" $parts || return
	dpkg-deb -f "$dl/${pkg}_"*.deb Version > "$kdir/version"
	for z in "$dl"/*.deb; do dpkg-deb -x "$z" "$kdir/root" || { fail "dpkg-deb -x $z failed"; return; }; done
	rm -rf "$dl"
	# Merged /usr: one module tree, where stage 2 and depmod look.
	if [ -d "$kdir/root/usr/lib/modules/$kver" ] && [ ! -e "$kdir/root/lib/modules/$kver" ]; then
		mkdir -p "$kdir/root/lib/modules"
		mv "$kdir/root/usr/lib/modules/$kver" "$kdir/root/lib/modules/$kver"
	fi
	depmod -b "$kdir/root" "$kver"
	z=$kdir/root/boot/vmlinuz-$kver
	[ -f "$z" ] || z=$kdir/root/lib/modules/$kver/vmlinuz
	[ -f "$z" ] || { fail "no vmlinuz in $pkg"; return; }
	extract_vmlinux "$z" "$kdir/vmlinux" || return
	echo "$KSEL" > "$kdir/selection"
	touch "$kdir/ready"
}

if [ "$KSEL" != 6.1 ]; then
	REASON=
	private_apt_update || note "$REASON"
fi
ABI_PKG=$(resolve_kernel || true)
CURRENT=$CACHE/current-$KSEL
if [ -z "$ABI_PKG" ] && [ -f "$CACHE/$(cat "$CURRENT" 2>/dev/null)/ready" ]; then
	ABI_PKG=linux-image-$(cat "$CURRENT")	# offline: the one cached last
	note "apt cannot name the $KSEL kernel now: using the cached $ABI_PKG"
fi
[ -n "$ABI_PKG" ] || skip "apt cannot resolve the $KSEL kernel (no package lists? ${REASON:-apt-get update})"
KVER=${ABI_PKG#linux-image-}
KDIR=$CACHE/$KVER
if [ ! -f "$KDIR/ready" ]; then
	REASON=
	if ! fetch_kernel "$ABI_PKG"; then
		old=$(cat "$CURRENT" 2>/dev/null || true)
		[ -n "$old" ] && [ -f "$CACHE/$old/ready" ] ||
			skip "$REASON (no network to Debian's archive?)"
		echo "vm: $REASON: using the cached $old"	# on stdout: the run's log shows it
		KVER=$old
		KDIR=$CACHE/$KVER
	fi
fi
[ "$KSEL" = 6.1 ] || echo "$KVER" > "$CURRENT"
touch "$KDIR/used"
MODDIR=$KDIR/root/lib/modules/$KVER
# The image's Debian version (a cache from before it was recorded: the kernel's banner).
if [ ! -s "$KDIR/version" ]; then
	grep -a -o -m1 "Linux version $KVER .*#[0-9]* [A-Z_ ]*Debian [^ ]*" "$KDIR/vmlinux" |
		awk '{ print $NF; exit }' > "$KDIR/version.tmp" || true
	if [ -s "$KDIR/version.tmp" ]; then mv "$KDIR/version.tmp" "$KDIR/version"; else rm -f "$KDIR/version.tmp"; fi
fi
KPKGVER=$(cat "$KDIR/version" 2>/dev/null || true)

# ---- netdevsim: drivers/net/netdevsim of the same Debian version, built out of tree ----------
# A failure leaves REASON and returns 1; the caller records it. Where Debian serves no
# linux-source for the kernel's version, or the host lacks the compiler Debian built it
# with, netdevsim is absent with that reason.

# The compiler named in the kernel's banner ("gcc-12", "x86_64-linux-gnu-gcc-14").
kernel_cc()
{
	grep -a -o -m1 "Linux version $KVER ([^)]*) ([^ ]*" "$KDIR/vmlinux" | sed 's/.*(//'
}

build_netdevsim()
{
	local hdrpkg=linux-headers-$KVER common kbuild src dl work h log p nsim cc veth

	[ -n "$KPKGVER" ] || { fail "the cached kernel's Debian version is unknown"; return; }
	cc=$(kernel_cc)
	[ -n "$cc" ] || { fail "the kernel's banner names no compiler"; return; }
	command -v "$cc" >/dev/null ||
		{ fail "Debian built $KVER with $cc; this host has no $cc (its gcc: $(gcc -dumpfullversion 2>/dev/null))"; return; }
	command -v make >/dev/null || { fail "make is missing"; return; }
	src=linux-source-$(echo "$KVER" | cut -d. -f1,2)
	common=$(apt-cache "${APT[@]}" depends "$hdrpkg" 2>/dev/null | awk '/Depends: linux-headers-.*-common/ { print $2; exit }')
	kbuild=$(apt-cache "${APT[@]}" depends "$hdrpkg" 2>/dev/null | awk '/Depends: linux-kbuild-/ { print $2; exit }')
	[ -n "$common" ] && [ -n "$kbuild" ] ||
		{ fail "apt cannot resolve $hdrpkg (no package lists?)"; return; }
	note "building netdevsim.ko for $KVER ($KPKGVER)"
	dl=$CACHE/dl-nsim.$$
	FETCH_APT=("${APT[@]}")
	if ! fetch "$dl" "$hdrpkg=$KPKGVER" "$common=$KPKGVER" "$kbuild=$KPKGVER" "$src=$KPKGVER"; then
		case $REASON in *"was not found"*)
			REASON="$REASON (the cached kernel is $KPKGVER: remove $KDIR to fetch the current one)" ;;
		esac
		return 1
	fi
	work=$CACHE/nsim.$$
	rm -rf "$work"
	TMPS+=("$work")
	mkdir -p "$work/root"
	for p in "$hdrpkg" "$common" "$kbuild"; do
		dpkg-deb -x "$dl/${p}_"*.deb "$work/root" || { fail "dpkg-deb -x $p failed"; return; }
	done
	# Only drivers/net/netdevsim from the source tarball, streamed.
	nsim=$work/$src/drivers/net/netdevsim
	dpkg-deb --fsys-tarfile "$dl/${src}_"*.deb | tar -xO "./usr/src/$src.tar.xz" |
		tar -xJ -C "$work" "$src/drivers/net/netdevsim" ||
		{ fail "extracting drivers/net/netdevsim from $src failed"; return; }
	rm -rf "$dl"
	h=$work/root/usr/src/$hdrpkg
	sed -i "s|^include /usr/src/|include $work/root/usr/src/|" "$h/Makefile"
	grep -q '^CONFIG_XFRM_OFFLOAD=y' "$h/.config" ||
		{ fail "$KVER has no CONFIG_XFRM_OFFLOAD: netdevsim would have no IPsec offload"; return; }
	log=$KDIR/netdevsim.log
	make -C "$h" M="$nsim" CONFIG_NETDEVSIM=m -j"$(nproc)" modules > "$log" 2>&1 ||
		{ fail "building netdevsim failed (see $log): $(grep -m1 -i error "$log")"; return; }
	[ -f "$nsim/ipsec.o" ] || { fail "netdevsim was built without its IPsec offload (ipsec.o)"; return; }
	veth=$(ls "$MODDIR"/kernel/drivers/net/veth.ko* | head -1)
	[ "$(modinfo -F vermagic "$nsim/netdevsim.ko")" = "$(modinfo -F vermagic "$veth")" ] ||
		{ fail "netdevsim.ko's vermagic differs from $KVER's modules"; return; }
	mkdir -p "$MODDIR/updates"
	strip --strip-debug -o "$work/netdevsim.ko" "$nsim/netdevsim.ko" &&
		mv "$work/netdevsim.ko" "$MODDIR/updates/netdevsim.ko" &&
		depmod -b "$KDIR/root" "$KVER" || { fail "installing netdevsim.ko failed"; return; }
	rm -rf "$work" "$log"
	echo "$KPKGVER $NSIM_RECIPE" > "$KDIR/netdevsim.ready"
}

NSIM_ABSENT=
if [ "$(cat "$KDIR/netdevsim.ready" 2>/dev/null)" = "$KPKGVER $NSIM_RECIPE" ] &&
   [ -f "$MODDIR/updates/netdevsim.ko" ]; then
	:
elif recent_failure "$KDIR/netdevsim.absent"; then
	NSIM_ABSENT=$(cat "$KDIR/netdevsim.absent")
else
	rm -f "$KDIR/netdevsim.ready"
	REASON=
	if build_netdevsim; then
		rm -f "$KDIR/netdevsim.absent"
	else
		NSIM_ABSENT=${REASON:-"building netdevsim failed"}
		note "netdevsim: $NSIM_ABSENT"
		if [ -f "$MODDIR/updates/netdevsim.ko" ]; then
			rm -f "$MODDIR/updates/netdevsim.ko"
			depmod -b "$KDIR/root" "$KVER"
		fi
		echo "$NSIM_ABSENT" > "$KDIR/netdevsim.absent"
	fi
fi

# ---- strongSwan: Debian's packages (and what the host lacks of their dependencies) ----------
SSDIR=$CACHE/strongswan
build_strongswan()
{
	local deps d extra=() dl missing f new=$CACHE/ss.$$

	deps=$(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks \
		--no-replaces --no-enhances "${SS_PKGS[@]}" 2>/dev/null |
		awk '/^ +(Pre)?Depends: [^<]/ { print $2 }' | sort -u)
	[ -n "$deps" ] || { fail "apt cannot resolve strongSwan's packages (no package lists?)"; return; }
	for d in $deps; do
		case " ${SS_PKGS[*]} $SS_SKIP_DEPS " in *" $d "*) continue ;; esac
		dpkg-query -W -f='${Status}\n' "$d" 2>/dev/null | grep -q 'ok installed' || extra+=("$d")
	done
	note "fetching strongSwan: ${SS_PKGS[*]} ${extra[*]}"
	dl=$CACHE/dl-ss.$$
	FETCH_APT=()
	fetch "$dl" "${SS_PKGS[@]}" "${extra[@]}" || return
	# Built aside, then put in place at once: a running VM may export the old layer.
	rm -rf "$new"
	TMPS+=("$new")
	mkdir -p "$new/root"
	for f in "$dl"/*.deb; do
		dpkg-deb -x "$f" "$new/root" || { fail "dpkg-deb -x $f failed"; return; }
	done
	rm -rf "$dl" "$new"/root/usr/share/{doc,man} "$new/root/etc/apparmor.d"
	[ -x "$new/root/usr/lib/ipsec/charon" ] && [ -x "$new/root/usr/sbin/swanctl" ] ||
		{ fail "no charon or swanctl in ${SS_PKGS[*]}"; return; }
	missing=$(for f in "$new/root/usr/lib/ipsec/charon" "$new/root/usr/sbin/swanctl" \
			   "$new"/root/usr/lib/ipsec/plugins/*.so; do
		LD_LIBRARY_PATH=$new/root/usr/lib/ipsec:$new/root/usr/lib/x86_64-linux-gnu \
			ldd "$f" 2>/dev/null | awk '/not found/ { print $1 }'
	done | sort -u | tr '\n' ' ')
	[ -z "$missing" ] || { fail "strongSwan needs libraries neither the host nor the layer has: $missing"; return; }
	echo "$SS_RECIPE" > "$new/ready"
	rm -rf "$SSDIR"
	mv "$new" "$SSDIR"
}

# extra VAR NAME BUILD: VAR gets why extra NAME is absent (empty when BUILD made it): a
# failure is recorded in $CACHE/NAME.absent and not retried for RETRY_MIN minutes.
extra()
{
	local var=$1 name=$2 build=$3 why=

	if recent_failure "$CACHE/$name.absent"; then
		why=$(cat "$CACHE/$name.absent")
	else
		REASON=
		if "$build"; then
			rm -f "$CACHE/$name.absent"
		else
			why=${REASON:-"$build failed"}
			note "$name: $why"
			echo "$why" > "$CACHE/$name.absent"
		fi
	fi
	printf -v "$var" '%s' "$why"
}

SS_ABSENT=
[ "$(cat "$SSDIR/ready" 2>/dev/null)" = "$SS_RECIPE" ] || extra SS_ABSENT strongswan build_strongswan

# ---- sid's userspace: strongSwan 6.1 (per-CPU SAs), libreswan 5.2, iproute2 7.3 -------------
# Newer than Debian 12's libc can run, so a root of its own (debootstrap, about 35 s, for the
# kernels after 6.1): tests run its daemons chrooted there (XOFF_SID_ROOT in the VM).
SIDDIR=$CACHE/sid
SID_PKGS=strongswan-charon,strongswan-swanctl,libstrongswan-standard-plugins,libstrongswan-extra-plugins,iproute2,kmod,procps,util-linux,iputils-ping
SID_RECIPE="sid-2 minbase $SID_PKGS +libreswan"
build_sid()
{
	local uri new=$CACHE/sid.$$ log

	command -v debootstrap > /dev/null || { fail "debootstrap is missing (apt-get install debootstrap)"; return; }
	uri=$(archive_uri)
	[ -n "$uri" ] || { fail "no Debian archive in the host's apt sources"; return; }
	note "debootstrap sid ($SID_PKGS,libreswan)"
	rm -rf "$new"
	TMPS+=("$new")
	mkdir -p "$new"
	log=$CACHE/sid.log
	debootstrap --variant=minbase --include="$SID_PKGS,libreswan" sid "$new/root" "$uri" > "$log" 2>&1 ||
		{ fail "debootstrap sid failed (see $log): $(grep -m1 -E '^(E|W):' "$log")"; return; }
	[ -x "$new/root/usr/lib/ipsec/charon" ] && [ -x "$new/root/usr/sbin/ipsec" ] ||
		{ fail "sid's root has no charon or no libreswan"; return; }
	rm -rf "$new"/root/var/cache/apt/archives/*.deb "$new"/root/usr/share/{doc,man,locale}
	echo "$SID_RECIPE" > "$new/ready"
	rm -rf "$SIDDIR" "$log"
	mv "$new" "$SIDDIR"
}

SID_ABSENT=
if [ "$KSEL" = 6.1 ]; then
	SID_ABSENT="not built for Debian 12's kernel (XOFF_VM_KERNEL=6.12 or newest builds it)"
elif [ "$(cat "$SIDDIR/ready" 2>/dev/null)" = "$SID_RECIPE" ]; then
	:
else
	extra SID_ABSENT sid build_sid
fi

# ---- the initramfs: busybox, the modules to reach 9p and overlay, and /init -------------------
# Named by this script's hash: checkouts with another vm.sh rebuild their own, not each other's.
INITRD=$KDIR/initrd-$(sha256sum "$SELF" | cut -c1-12).cpio.gz
if [ ! -f "$INITRD" ]; then
	find "$KDIR" -maxdepth 1 -name 'initrd*.cpio.gz' -mtime +1 -delete
	work=$(mktemp -d)
	TMPS+=("$work")
	mkdir -p "$work"/{bin,dev,proc,sys,mnt,lib/modules}
	cp "$BUSYBOX" "$work/bin/busybox"
	for t in sh mount umount mkdir insmod switch_root poweroff cat echo sleep ln; do
		ln -s busybox "$work/bin/$t"
	done
	# Modules with their dependencies first, from modules.dep.
	declare -A done_mod=()
	order=()
	add_mod() {
		local rel=$1 deps d
		[ -n "${done_mod[$rel]:-}" ] && return
		done_mod[$rel]=1
		deps=$(awk -F': ' -v m="$rel" '$1 == m { print $2 }' "$MODDIR/modules.dep")
		for d in $deps; do add_mod "$d"; done
		order+=("$rel")
	}
	# (Built in where modules.dep does not name them.)
	for m in virtio_pci 9pnet_virtio 9p overlay; do
		rel=$(awk -F: -v m="$m" '{ n = $1; sub(/.*\//, "", n); sub(/\.ko(\.xz|\.zst|\.gz)?$/, "", n)
					  if (n == m) { print $1; exit } }' "$MODDIR/modules.dep")
		if [ -n "$rel" ]; then add_mod "$rel"; fi
	done
	# busybox's insmod takes plain modules: newer kernels ship them xz- or zstd-compressed.
	: > "$work/modules"
	for rel in "${order[@]}"; do
		m=${rel##*/}
		case $m in
		*.ko.xz) xz -dc "$MODDIR/$rel" > "$work/lib/modules/${m%.xz}" ;;
		*.ko.zst) zstd -dcq "$MODDIR/$rel" > "$work/lib/modules/${m%.zst}" ;;
		*.ko.gz) gzip -dc "$MODDIR/$rel" > "$work/lib/modules/${m%.gz}" ;;
		*) cp "$MODDIR/$rel" "$work/lib/modules/" ;;
		esac
		m=${m%.xz}; m=${m%.zst}; m=${m%.gz}
		echo "$m" >> "$work/modules"
	done
	cat > "$work/init" <<'INIT'
#!/bin/sh
# Stage 1: reach the host's root over 9p, overlay a tmpfs on it (and the extra layer, a
# separate 9p export, above the host's root when there is one), switch into it.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
# What udev would add to devtmpfs (the one instance stage 2 mounts again): bash's <(...)
# needs /dev/fd.
ln -s /proc/self/fd /dev/fd
ln -s /proc/self/fd/0 /dev/stdin
ln -s /proc/self/fd/1 /dev/stdout
ln -s /proc/self/fd/2 /dev/stderr
for m in $(cat /modules); do insmod /lib/modules/$m 2>/dev/null; done
mkdir -p /mnt/lower /mnt/layer /mnt/rw /mnt/root
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000 hostroot /mnt/lower || { echo "vm: 9p root failed"; poweroff -f; }
lower=/mnt/lower
# The layer does not change while the VM runs: cache=loose keeps its lookups (a miss on
# every path of the host's root otherwise costs a 9p round trip).
case " $(cat /proc/cmdline) " in
*" xoff.layer=1 "*)
	mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose xofflayer /mnt/layer &&
		lower=/mnt/layer:/mnt/lower ;;
esac
mount -t tmpfs -o size=512m tmpfs /mnt/rw
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay overlay -o lowerdir=$lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work /mnt/root || { echo "vm: overlay failed"; poweroff -f; }
cp /stage2 /mnt/root/.xoff-stage2
exec switch_root /mnt/root /.xoff-stage2
INIT
	cat > "$work/stage2" <<'STAGE2'
#!/bin/sh
# Stage 2, in the host's userland: the guest kernel's modules, fresh /run /tmp, the command.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmpfs /run
# /tmp stays the host's, seen through the overlay (writes go to the VM's tmpfs): a
# checkout under /tmp runs from there.
mkdir -p /dev/shm /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t bpf bpf /sys/fs/bpf
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
kver=$(uname -r)
mount -t tmpfs tmpfs /lib/modules
mkdir -p /lib/modules/$kver
mount --bind "$(cat /proc/cmdline | tr ' ' '\n' | sed -n 's/^xoff.mods=//p')" /lib/modules/$kver
mkdir -p /xoff-io
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 xoffio /xoff-io
uname -r > /xoff-io/uname
ip link set lo up
cd "$(cat /xoff-io/cwd)"
sh /xoff-io/cmd > /xoff-io/out 2>&1
echo $? > /xoff-io/rc
sync
echo o > /proc/sysrq-trigger
sleep 5
poweroff -f
STAGE2
	chmod +x "$work/init" "$work/stage2"
	(cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) > "$INITRD.tmp"
	mv "$INITRD.tmp" "$INITRD"
	rm -rf "$work"
fi
exec 9>&-
if [ $PREPARE_ONLY = 1 ]; then
	echo "vm: ready: $KVER $KPKGVER ($KDIR)"
	echo "vm: netdevsim: ${NSIM_ABSENT:-$MODDIR/updates/netdevsim.ko}"
	echo "vm: strongswan: ${SS_ABSENT:-$SSDIR/root}"
	echo "vm: sid: ${SID_ABSENT:-$SIDDIR/root}"
	exit 0
fi

# ---- run ----------------------------------------------------------------------------------------
# /dev/kvm may belong to a PVM host where a stock kernel cannot run: TCG there.
# Under multi-threaded TCG, Debian's kernels die of "Oops: int3" where a static key flips while
# another vCPU runs that code (at boot in sched_clock_cpu, under traffic in
# __netif_receive_skb_core): 7.3 about twice in eight runs, 6.12 once in CI (2026-12-02); 6.1
# never was, but runs the same text_poke_bp. So one host thread runs all vCPUs in turn, which
# costs the tests little (they wait on one another); benchmarks that need CPUs side by side
# ask for XOFF_VM_TCG_THREAD=multi and boot again after such a crash.
TCG_THREAD=${XOFF_VM_TCG_THREAD:-single}
ACCEL=tcg,thread=$TCG_THREAD
CPU=max
if [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ] && [ -z "${XOFF_VM_TCG:-}" ]; then
	ACCEL=kvm
	CPU=host
fi
IO=$(mktemp -d /tmp/xoff-vm-io.XXXXXX)
TMPS+=("$IO")
printf '%s\n' "$cd_back" > "$IO/cwd"
{
	printf 'set -e\n'
	printf 'export XOFF_VM_KERNEL=%q XOFF_VM_KPKG=%q\n' "$KSEL" "$KPKGVER"
	[ -n "$SID_ABSENT" ] || printf 'export XOFF_SID_ROOT=%q\n' "$SIDDIR/root"
	printf '%q ' "$@"
	printf '\n'
} > "$IO/cmd"
: > "$IO/absent"
[ -z "$NSIM_ABSENT" ] || echo "netdevsim: $NSIM_ABSENT" >> "$IO/absent"
[ -z "$SS_ABSENT" ] || echo "strongswan: $SS_ABSENT" >> "$IO/absent"
[ -z "$SID_ABSENT" ] || echo "sid: $SID_ABSENT" >> "$IO/absent"
[ -n "$SID_ABSENT" ] || echo "$SIDDIR/root" > "$IO/sid-root"
LAYER=()
APPEND=
if [ -z "$SS_ABSENT" ]; then
	LAYER=(-virtfs "local,path=$SSDIR/root,mount_tag=xofflayer,security_model=none,readonly=on,multidevs=remap")
	APPEND=" xoff.layer=1"
fi
# A kernel that dies before the command starts (no /xoff-io/uname) is booted once more.
for boot in 1 2; do
	timeout --foreground "$TIMEOUT" qemu-system-x86_64 \
		-machine pc -accel "$ACCEL" -cpu $CPU -smp "$SMP" -m "$MEM" -nographic -no-reboot -nic none \
		-kernel "$KDIR/vmlinux" -initrd "$INITRD" \
		-append "console=ttyS0 quiet loglevel=3 panic=-1 cryptomgr.notests xoff.mods=$MODDIR$APPEND" \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
		"${LAYER[@]}" \
		-virtfs local,path="$IO",mount_tag=xoffio,security_model=none \
		> "$IO/console" 2>&1 || true
	[ $boot = 1 ] && [ ! -s "$IO/uname" ] && [ ! -s "$IO/rc" ] || break
	echo "vm: the kernel died before the command started, booting again: $(grep -m1 -E 'Oops|BUG:|Kernel panic' "$IO/console")" >&2
done
[ ! -s "$IO/uname" ] || echo "vm: booted Linux $(cat "$IO/uname") (Debian $KPKGVER, XOFF_VM_KERNEL=$KSEL, $ACCEL)"
cat "$IO/out" 2>/dev/null || true
if [ ! -s "$IO/rc" ]; then
	# From the kernel's first report (an oops shows the one that started it), else the tail.
	first=$(grep -n -m1 -E 'Oops|BUG:|WARNING:|Kernel panic|general protection' "$IO/console" | cut -d: -f1)
	echo "vm: no exit code from the VM; console${first:+ from line $first}:" >&2
	if [ -n "$first" ]; then sed -n "$((first > 5 ? first - 5 : 1)),$((first + 120))p" "$IO/console" >&2
	else tail -n 40 "$IO/console" >&2; fi
	exit 3
fi
exit "$(cat "$IO/rc")"

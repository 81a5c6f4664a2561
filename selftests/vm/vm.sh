#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Run a command inside a qemu VM booting Debian's own kernel, with the host's / as its
# (read-only, overlaid) root: the host's build, ip, tc, bpftool and libraries run unchanged
# on a kernel that has ESP, xfrm_user and veth. The command's exit code is the script's.
#
#   selftests/vm/vm.sh [-t SECONDS] -- COMMAND [ARGS...]     run COMMAND in the VM (cwd kept)
#   selftests/vm/vm.sh --prepare                             fetch and build what is cached
#
# Exit codes: the command's; 4 when the VM cannot run here (printed: SKIP: reason); 3 when
# the VM did not report (timeout, crash). Downloads and builds are cached outside the clone
# in $XOFF_VM_CACHE (default /var/cache/xoff-vm): everything comes from Debian's archive,
# nothing is installed on the host.
#
# Optional extras, each simply absent when it cannot be had (no network, a package gone):
#  - netdevsim.ko (emulated NIC with IPsec offload), built out of tree for the VM's kernel
#    from linux-source against that kernel's headers, in the guest's modules/updates/;
#  - strongSwan (charon, swanctl), unpacked into an extra read-only overlay layer.
# In the VM, /xoff-io/absent says "NAME: reason" for each extra that is missing.
#
# Cache: $CACHE/<kver>/{vmlinux,version,root/,initrd.cpio.gz,netdevsim.ready,*.absent}
#        $CACHE/strongswan/{root/,ready}, $CACHE/strongswan.absent, $CACHE/.lock
set -euo pipefail

CACHE=${XOFF_VM_CACHE:-/var/cache/xoff-vm}
TIMEOUT=600
PREPARE_ONLY=0
MEM=${XOFF_VM_MEM:-1536}
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
rm -rf "$CACHE"/dl-*.* "$CACHE"/nsim.* "$CACHE"/ss.*	# a killed run's; under the lock, nobody else's

# fetch DIR PKG...: apt-get download into DIR, a fresh directory removed on exit (apt
# downloads as _apt where it can, hence the mode). On failure REASON says why.
fetch()
{
	local dl=$1
	shift
	mkdir -p "$dl" && TMPS+=("$dl") && chmod 777 "$dl" || { REASON="cannot create $dl"; return 1; }
	(cd "$dl" && apt-get download -q "$@" > "$dl/.log" 2>&1) && return 0
	REASON="apt-get download $*: $(grep -E '^E:' "$dl/.log" | head -1)"
	return 1
}

# Whether an extra's failure marker is fresh enough not to retry now (--prepare retries).
recent_failure() { [ $PREPARE_ONLY = 0 ] && [ -n "$(find "$1" -mmin -$RETRY_MIN 2>/dev/null)" ]; }

# ---- the kernel: linux-image-amd64's current ABI package, unpacked, never installed --------
ABI_PKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$ABI_PKG" ] || skip "apt cannot resolve linux-image-amd64 (no package lists? apt-get update)"
KVER=${ABI_PKG#linux-image-}
KDIR=$CACHE/$KVER
if [ ! -f "$KDIR/ready" ]; then
	note "fetching $ABI_PKG"
	rm -rf "$KDIR"
	mkdir -p "$KDIR"
	dl=$CACHE/dl-kernel.$$
	fetch "$dl" "$ABI_PKG" || skip "$REASON (no network to Debian's archive?)"
	dpkg-deb -f "$dl"/*.deb Version > "$KDIR/version"
	dpkg-deb -x "$dl"/*.deb "$KDIR/root"
	rm -rf "$dl"
	depmod -b "$KDIR/root" "$KVER"
	# The uncompressed vmlinux boots through PVH in half the time of the bzImage.
	VMLINUZ=$KDIR/root/boot/vmlinuz-$KVER
	off=$(grep -abo $'\xfd7zXZ\x00' "$VMLINUZ" | head -1 | cut -d: -f1)
	[ -n "$off" ] || die "no xz payload in $VMLINUZ"
	tail -c +$((off + 1)) "$VMLINUZ" | xz -dc 2>/dev/null > "$KDIR/vmlinux" || true
	head -c 4 "$KDIR/vmlinux" | grep -q ELF || die "could not extract vmlinux from $VMLINUZ"
	touch "$KDIR/ready"
fi
MODDIR=$KDIR/root/lib/modules/$KVER
# The image's Debian version (a cache from before it was recorded: the kernel's banner).
if [ ! -s "$KDIR/version" ]; then
	grep -a -o -m1 "Linux version $KVER .*#[0-9]* [A-Z_ ]*Debian [^ ]*" "$KDIR/vmlinux" |
		awk '{ print $NF; exit }' > "$KDIR/version.tmp" || true
	if [ -s "$KDIR/version.tmp" ]; then mv "$KDIR/version.tmp" "$KDIR/version"; else rm -f "$KDIR/version.tmp"; fi
fi
KPKGVER=$(cat "$KDIR/version" 2>/dev/null || true)

# ---- netdevsim: drivers/net/netdevsim of the same Debian version, built out of tree ----------
# A failure leaves REASON and returns 1; the caller records it.
fail() { REASON=$*; return 1; }

build_netdevsim()
{
	local hdrpkg=linux-headers-$KVER common kbuild src dl work h log p nsim

	[ -n "$KPKGVER" ] || { fail "the cached kernel's Debian version is unknown"; return; }
	command -v gcc-12 >/dev/null || { fail "gcc-12 (the compiler Debian built $KVER with) is missing"; return; }
	command -v make >/dev/null || { fail "make is missing"; return; }
	src=linux-source-$(echo "$KVER" | cut -d. -f1,2)
	common=$(apt-cache depends "$hdrpkg" 2>/dev/null | awk '/Depends: linux-headers-.*-common/ { print $2; exit }')
	kbuild=$(apt-cache depends "$hdrpkg" 2>/dev/null | awk '/Depends: linux-kbuild-/ { print $2; exit }')
	[ -n "$common" ] && [ -n "$kbuild" ] ||
		{ fail "apt cannot resolve $hdrpkg (no package lists?)"; return; }
	note "building netdevsim.ko for $KVER ($KPKGVER)"
	dl=$CACHE/dl-nsim.$$
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
	[ "$(modinfo -F vermagic "$nsim/netdevsim.ko")" = "$(modinfo -F vermagic "$MODDIR/kernel/drivers/net/veth.ko")" ] ||
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

SS_ABSENT=
if [ "$(cat "$SSDIR/ready" 2>/dev/null)" = "$SS_RECIPE" ]; then
	:
elif recent_failure "$CACHE/strongswan.absent"; then
	SS_ABSENT=$(cat "$CACHE/strongswan.absent")
else
	REASON=
	if build_strongswan; then
		rm -f "$CACHE/strongswan.absent"
	else
		SS_ABSENT=${REASON:-"fetching strongSwan failed"}
		note "strongswan: $SS_ABSENT"
		echo "$SS_ABSENT" > "$CACHE/strongswan.absent"
	fi
fi

# ---- the initramfs: busybox, the modules to reach 9p and overlay, and /init -------------------
INITRD=$KDIR/initrd.cpio.gz
if [ ! -f "$INITRD" ] || [ "$SELF" -nt "$INITRD" ]; then
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
	for m in virtio_pci 9pnet_virtio 9p overlay; do
		rel=$(awk -F: -v m="/$m.ko" 'index($1, m) && substr($1, length($1) - length(m) + 1) == m { print $1; exit }' "$MODDIR/modules.dep")
		if [ -n "$rel" ]; then add_mod "$rel"; fi
	done
	: > "$work/modules"
	for rel in "${order[@]}"; do
		cp "$MODDIR/$rel" "$work/lib/modules/"
		echo "${rel##*/}" >> "$work/modules"
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
	exit 0
fi

# ---- run ----------------------------------------------------------------------------------------
# /dev/kvm may belong to a PVM host where a stock kernel cannot run: TCG there.
ACCEL=tcg
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
	printf '%q ' "$@"
	printf '\n'
} > "$IO/cmd"
: > "$IO/absent"
[ -z "$NSIM_ABSENT" ] || echo "netdevsim: $NSIM_ABSENT" >> "$IO/absent"
[ -z "$SS_ABSENT" ] || echo "strongswan: $SS_ABSENT" >> "$IO/absent"
LAYER=()
APPEND=
if [ -z "$SS_ABSENT" ]; then
	LAYER=(-virtfs "local,path=$SSDIR/root,mount_tag=xofflayer,security_model=none,readonly=on,multidevs=remap")
	APPEND=" xoff.layer=1"
fi
timeout --foreground "$TIMEOUT" qemu-system-x86_64 \
	-machine pc,accel=$ACCEL -cpu $CPU -smp 2 -m "$MEM" -nographic -no-reboot -nic none \
	-kernel "$KDIR/vmlinux" -initrd "$INITRD" \
	-append "console=ttyS0 quiet loglevel=3 panic=-1 cryptomgr.notests xoff.mods=$MODDIR$APPEND" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	"${LAYER[@]}" \
	-virtfs local,path="$IO",mount_tag=xoffio,security_model=none \
	> "$IO/console" 2>&1 || true
cat "$IO/out" 2>/dev/null || true
if [ ! -s "$IO/rc" ]; then
	echo "vm: no exit code from the VM; console:" >&2
	tail -n 40 "$IO/console" >&2
	exit 3
fi
exit "$(cat "$IO/rc")"

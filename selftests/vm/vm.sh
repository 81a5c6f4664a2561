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
# in $XOFF_VM_CACHE (default /var/cache/xoff-vm): everything comes from Debian's archive.
set -euo pipefail

CACHE=${XOFF_VM_CACHE:-/var/cache/xoff-vm}
TIMEOUT=600
PREPARE_ONLY=0
MEM=${XOFF_VM_MEM:-1536}

skip() { echo "SKIP: $*"; exit 4; }
die() { echo "vm.sh: $*" >&2; exit 3; }

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

# ---- the kernel: linux-image-amd64's current ABI package, unpacked, never installed --------
ABI_PKG=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$ABI_PKG" ] || skip "apt cannot resolve linux-image-amd64 (no package lists? apt-get update)"
KVER=${ABI_PKG#linux-image-}
KDIR=$CACHE/$KVER
if [ ! -f "$KDIR/ready" ]; then
	echo "vm: fetching $ABI_PKG" >&2
	rm -rf "$KDIR"
	mkdir -p "$KDIR/dl"
	chmod 777 "$KDIR/dl"	# apt downloads as _apt where it can
	(cd "$KDIR/dl" && apt-get download -q "$ABI_PKG" >/dev/null 2>&1) ||
		skip "apt-get download $ABI_PKG failed (no network to Debian's archive?)"
	dpkg-deb -x "$KDIR"/dl/*.deb "$KDIR/root"
	rm -rf "$KDIR/dl"
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

# ---- the initramfs: busybox, the modules to reach 9p and overlay, and /init -------------------
INITRD=$KDIR/initrd.cpio.gz
if [ ! -f "$INITRD" ] || [ "$0" -nt "$INITRD" ]; then
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	mkdir -p "$work"/{bin,dev,proc,sys,mnt,lib/modules}
	cp "$BUSYBOX" "$work/bin/busybox"
	for t in sh mount umount mkdir insmod switch_root poweroff cat echo sleep; do
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
# Stage 1: reach the host's root over 9p, overlay a tmpfs on it, switch into it.
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules); do insmod /lib/modules/$m 2>/dev/null; done
mkdir -p /mnt/lower /mnt/rw /mnt/root
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000 hostroot /mnt/lower || { echo "vm: 9p root failed"; poweroff -f; }
mount -t tmpfs -o size=512m tmpfs /mnt/rw
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay overlay -o lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work /mnt/root || { echo "vm: overlay failed"; poweroff -f; }
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
	trap - EXIT
fi
[ $PREPARE_ONLY = 1 ] && { echo "vm: ready: $KVER ($KDIR)"; exit 0; }

# ---- run ----------------------------------------------------------------------------------------
# /dev/kvm may belong to a PVM host where a stock kernel cannot run: TCG there.
ACCEL=tcg
CPU=max
if [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ] && [ -z "${XOFF_VM_TCG:-}" ]; then
	ACCEL=kvm
	CPU=host
fi
IO=$(mktemp -d /tmp/xoff-vm-io.XXXXXX)
trap 'rm -rf "$IO"' EXIT
printf '%s\n' "$cd_back" > "$IO/cwd"
{
	printf 'set -e\n'
	printf '%q ' "$@"
	printf '\n'
} > "$IO/cmd"
timeout --foreground "$TIMEOUT" qemu-system-x86_64 \
	-machine pc,accel=$ACCEL -cpu $CPU -smp 2 -m "$MEM" -nographic -no-reboot -nic none \
	-kernel "$KDIR/vmlinux" -initrd "$INITRD" \
	-append "console=ttyS0 quiet loglevel=3 panic=-1 cryptomgr.notests xoff.mods=$MODDIR" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs local,path="$IO",mount_tag=xoffio,security_model=none \
	> "$IO/console" 2>&1 || true
cat "$IO/out" 2>/dev/null || true
if [ ! -s "$IO/rc" ]; then
	echo "vm: no exit code from the VM; console:" >&2
	tail -n 40 "$IO/console" >&2
	exit 3
fi
exit "$(cat "$IO/rc")"

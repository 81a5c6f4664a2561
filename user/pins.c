// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The pin directory on bpffs and its lock. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include "libxoff.h"
#include "pins.h"

int xerr_set(struct xerr *e, int err, const char *fmt, ...)
{
	va_list ap;

	if (e) {
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
		va_end(ap);
	}
	return err;
}

int xpin_path(char *buf, size_t len, const char *dir, const char *name)
{
	return snprintf(buf, len, "%s/%s", dir, name) >= (int)len ? -ENAMETOOLONG : 0;
}

int xpin_dev_dir(char *buf, size_t len, const char *dir, __u32 ifindex)
{
	return snprintf(buf, len, "%s/dev-%u", dir, ifindex) >= (int)len ? -ENAMETOOLONG : 0;
}

int xpin_map(const char *dir, const char *name)
{
	char path[256];
	int fd;

	if (xpin_path(path, sizeof(path), dir, name))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

static bool same_mntns(void)
{
	struct stat a, b;

	return !stat("/proc/self/ns/mnt", &a) && !stat("/proc/1/ns/mnt", &b) &&
	       a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

/* bpffs where @dir will be: mounted on /sys/fs/bpf when that is where it goes and nothing
 * is mounted there (as systemd and iproute2 do); anywhere else it must already be. */
static int ensure_bpffs(const char *dir, struct xerr *e)
{
	char parent[200];
	char *slash;

	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return xerr_set(e, -EINVAL, "pin directory '%s': must be a directory on bpffs", dir);
	*slash = '\0';
	if (is_bpffs(parent))
		return 0;
	if (strcmp(parent, "/sys/fs/bpf"))
		return xerr_set(e, -ENOTDIR, "%s: not a bpf filesystem (mount -t bpf bpf %s)",
				parent, parent);
	/* Every bpffs mount is a new, empty one. In a mount namespace of its own (such as
	 * `ip netns exec` makes, remounting /sys) the pins would vanish with the command
	 * and leave programs behind that nothing can find. */
	if (!same_mntns())
		return xerr_set(e, -ENOTDIR, "%s: no bpffs in this mount namespace (ip netns exec "
				"remounts /sys): mount one that outlives this command, or use "
				"-P DIR on one", parent);
	if (mount("bpf", parent, "bpf", 0, "mode=0700"))
		return xerr_set(e, -errno, "mounting bpffs on %s: %s", parent, strerror(errno));
	return 0;
}

int xpin_lock(struct xpin *p, const char *dir, bool create, bool exclusive, struct xerr *e)
{
	struct stat a, b;
	int tries;

	p->fd = -1;
	dir = dir ? dir : XOFF_PIN_DIR;
	if (snprintf(p->dir, sizeof(p->dir), "%s", dir) >= (int)sizeof(p->dir))
		return xerr_set(e, -ENAMETOOLONG, "pin directory '%s': name too long", dir);
	for (tries = 0; tries < 100; tries++) {
		if (create) {
			int err = ensure_bpffs(p->dir, e);

			if (err)
				return err;
			if (mkdir(p->dir, 0700) && errno != EEXIST)
				return xerr_set(e, -errno, "%s: %s", p->dir, strerror(errno));
		}
		p->fd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (p->fd < 0)
			return xerr_set(e, -errno, "%s: %s", p->dir, strerror(errno));
		if (!is_bpffs(p->dir)) {
			xpin_unlock(p);
			return xerr_set(e, -ENOTDIR, "%s: not on a bpf filesystem", p->dir);
		}
		if (flock(p->fd, exclusive ? LOCK_EX : LOCK_SH)) {
			int err = -errno;

			xpin_unlock(p);
			return xerr_set(e, err, "locking %s: %s", dir, strerror(-err));
		}
		/* The holder before us may have removed the directory (the last detach):
		 * the lock is then on a dead inode. Start again on the path's inode. */
		if (!fstat(p->fd, &a) && !stat(p->dir, &b) && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev) {
			if (create && (a.st_mode & 0777) != 0700)
				fchmod(p->fd, 0700);
			return 0;
		}
		xpin_unlock(p);
		if (!create)
			return xerr_set(e, -ENOENT, "%s: no such directory", p->dir);
	}
	return xerr_set(e, -EAGAIN, "%s: removed and recreated under us too often", p->dir);
}

void xpin_unlock(struct xpin *p)
{
	if (p->fd >= 0)
		close(p->fd);	/* releases the flock */
	p->fd = -1;
}

static const char *const dev_maps[] = {
	XOFF_MAP_CFG, XOFF_MAP_XDP_REASONS, XOFF_MAP_TC_REASONS, XOFF_MAP_TCI_REASONS,
};

static int unlink_in(const char *dir, const char *name)
{
	char path[256];

	if (xpin_path(path, sizeof(path), dir, name))
		return -ENAMETOOLONG;
	return unlink(path) && errno != ENOENT ? -errno : 0;
}

int xpin_remove_dev(const char *dir, __u32 ifindex)
{
	char dev[256];
	size_t i;
	int err = 0;

	if (xpin_dev_dir(dev, sizeof(dev), dir, ifindex))
		return -ENAMETOOLONG;
	for (i = 0; i < sizeof(dev_maps) / sizeof(dev_maps[0]); i++)
		err = unlink_in(dev, dev_maps[i]) ?: err;
	if (rmdir(dev) && errno != ENOENT)
		err = err ?: -errno;
	return err;
}

int xpin_remove_all(const char *dir)
{
	const char *const *names;
	size_t n, i;
	int err = 0;

	names = xoff_shared_maps(&n);
	for (i = 0; i < n; i++)
		err = unlink_in(dir, names[i]) ?: err;
	if (rmdir(dir) && errno != ENOENT)
		err = err ?: -errno;
	return err;
}

int xpin_ifaces(const char *dir, struct xoff_iface *out, int max)
{
	int fd = xpin_map(dir, XOFF_MAP_IFACES);
	__u32 key, next, *prev = NULL;
	int n = 0;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	while (n < max && !bpf_map_get_next_key(fd, prev, &next)) {
		if (!bpf_map_lookup_elem(fd, &next, &out[n]))
			n++;
		key = next;
		prev = &key;
	}
	close(fd);
	return n;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The pin directory on bpffs, the network namespace it serves, and its lock. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include "libxoff.h"
#include "pins.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE	71	/* Linux 5.14 */
#endif

#define BPFFS_DIR	"/sys/fs/bpf"

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

/* ---- the network namespace ---------------------------------------------------------- */

int xpin_netns_self(struct xoff_netns *n)
{
	socklen_t len = sizeof(n->cookie);
	struct stat st;
	int s;

	memset(n, 0, sizeof(*n));
	if (stat("/proc/self/ns/net", &st))
		return -errno;
	n->ino = st.st_ino;
	/* Any socket is in the namespace that made it: ours. */
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (getsockopt(s, SOL_SOCKET, SO_NETNS_COOKIE, &n->cookie, &len) || len != sizeof(n->cookie))
		n->cookie = 0;	/* before 5.14: the inode alone */
	close(s);
	return 0;
}

int xpin_default_dir(char *buf, size_t len)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		return -errno;
	return snprintf(buf, len, XOFF_PIN_DIR "/net-%llu", (unsigned long long)st.st_ino) >=
	       (int)len ? -ENAMETOOLONG : 0;
}

enum xpin_owner xpin_owner_cmp(const struct xoff_netns *owner, const struct xoff_netns *self)
{
	if (!owner->cookie && !owner->ino)
		return XPIN_OWNER_NONE;
	if (owner->cookie && self->cookie) {
		if (owner->cookie == self->cookie)
			return XPIN_OWNER_SELF;
		/* Two namespaces that exist hold two inodes: an owner with ours is gone. */
		return owner->ino == self->ino ? XPIN_OWNER_GONE : XPIN_OWNER_OTHER;
	}
	return owner->ino == self->ino ? XPIN_OWNER_SELF : XPIN_OWNER_OTHER;
}

static int owner_read(const char *dir, struct xoff_netns *o)
{
	int fd = xpin_map(dir, XOFF_MAP_NETNS), err = 0;
	__u32 zero = 0;

	memset(o, 0, sizeof(*o));
	if (fd == -ENOENT)
		return 0;	/* pinned by an older xoff, or not yet: no owner */
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &zero, o))
		err = -errno;
	close(fd);
	return err;
}

/* Whether a process is in the namespace with inode @ino now. */
static bool netns_in_use(__u64 ino)
{
	char path[64];
	struct dirent *d;
	struct stat st;
	DIR *dir = opendir("/proc");
	bool found = false;

	while (dir && !found && (d = readdir(dir))) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9' || strlen(d->d_name) > 20)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/ns/net", d->d_name);
		found = !stat(path, &st) && st.st_ino == ino;
	}
	if (dir)
		closedir(dir);
	return found;
}

/* "net:[INODE]", with the name `ip netns` knows it by when it has one: true then. */
static bool netns_desc(const struct xoff_netns *n, char *buf, size_t len)
{
	char path[sizeof(XPIN_NETNS_RUN_DIR) + 256], name[64] = "";
	struct stat st, nsfs;
	struct dirent *d;
	DIR *dir = opendir(XPIN_NETNS_RUN_DIR);

	/* A name is a namespace file bind-mounted there: on nsfs, as ours is. */
	while (dir && !stat("/proc/self/ns/net", &nsfs) && (d = readdir(dir))) {
		if (d->d_name[0] == '.' || strlen(d->d_name) >= sizeof(name) - 4)
			continue;
		snprintf(path, sizeof(path), XPIN_NETNS_RUN_DIR "/%s", d->d_name);
		if (!stat(path, &st) && st.st_ino == n->ino && st.st_dev == nsfs.st_dev) {
			snprintf(name, sizeof(name), " '%s'", d->d_name);
			break;
		}
	}
	if (dir)
		closedir(dir);
	snprintf(buf, len, "net:[%llu]%s", (unsigned long long)n->ino, name);
	return name[0];
}

/* Every name of xoff's in @dir and its dev-* directories, @dir itself kept. */
static int clear_dir(const char *dir);

/* The owner recorded in @p's directory against this namespace: see xpin_lock(). */
static int owner_check(struct xpin *p, bool create, struct xerr *e)
{
	struct xoff_netns own, me;
	char a[96], b[96];
	bool orphan;
	int err;

	if ((err = xpin_netns_self(&me)))
		return xerr_set(e, err, "/proc/self/ns/net: %s", strerror(-err));
	if ((err = owner_read(p->dir, &own)))
		return xerr_set(e, err, "%s/%s: %s", p->dir, XOFF_MAP_NETNS, strerror(-err));
	switch (xpin_owner_cmp(&own, &me)) {
	case XPIN_OWNER_NONE:
	case XPIN_OWNER_SELF:
		return 0;
	case XPIN_OWNER_OTHER:
		/* Nothing tells a namespace that is gone from one that only no process is
		 * in (a bind mount or a socket may hold it): a hint, no guess. */
		orphan = !netns_desc(&own, a, sizeof(a)) && !netns_in_use(own.ino);
		netns_desc(&me, b, sizeof(b));
		return xerr_set(e, -EXDEV, "pin directory %s belongs to network namespace %s "
				"(cookie %llu); this command runs in %s: run it there, or give this "
				"one its own (-P)%s", p->dir, a, (unsigned long long)own.cookie, b,
				orphan ? "; no process and no name is in that namespace now: if it "
				"is gone, remove the directory" : "");
	case XPIN_OWNER_GONE:
		break;
	}
	if (!create)
		return xerr_set(e, -ENOENT, "%s was left by network namespace net:[%llu] (cookie "
				"%llu), which is gone; attach or run here replaces it", p->dir,
				(unsigned long long)own.ino, (unsigned long long)own.cookie);
	/* Its maps served interfaces that went with their namespace: a fresh start. */
	if ((err = clear_dir(p->dir)))
		return xerr_set(e, err, "%s: removing what a namespace that is gone left: %s",
				p->dir, strerror(-err));
	p->reclaimed = true;
	p->gone = own;
	return 0;
}

int xpin_claim(struct xpin *p, struct xoff *x, struct xerr *e)
{
	struct xoff_netns own, me;
	char path[256];
	__u32 zero = 0;
	int fd, err;

	if ((err = xpin_netns_self(&me)))
		return xerr_set(e, err, "/proc/self/ns/net: %s", strerror(-err));
	if (xpin_path(path, sizeof(path), p->dir, XOFF_MAP_NETNS))
		return xerr_set(e, -ENAMETOOLONG, "%s: name too long", p->dir);
	fd = bpf_obj_get(path);
	if (fd < 0 && errno != ENOENT)
		return xerr_set(e, -errno, "%s: %s", path, strerror(errno));
	if (fd < 0) {
		/* None pinned: this load's own map, filled, then pinned. */
		fd = xoff_map_fd(x, XOFF_MAP_NETNS);
		if (fd < 0)
			return xerr_set(e, fd, "%s: not loaded", XOFF_MAP_NETNS);
		if (bpf_map_update_elem(fd, &zero, &me, 0) || bpf_obj_pin(fd, path))
			return xerr_set(e, -errno, "pinning %s: %s", path, strerror(errno));
		return 0;
	}
	err = bpf_map_lookup_elem(fd, &zero, &own) ? -errno : 0;
	if (!err && xpin_owner_cmp(&own, &me) == XPIN_OWNER_NONE)
		err = bpf_map_update_elem(fd, &zero, &me, 0) ? -errno : 0;
	else if (!err && xpin_owner_cmp(&own, &me) != XPIN_OWNER_SELF)
		err = -EXDEV;	/* the lock holder checked it: not reached */
	close(fd);
	return err ? xerr_set(e, err, "%s: %s", path, strerror(-err)) : 0;
}

/* ---- bpffs and the lock ---------------------------------------------------------------- */

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

/*
 * bpffs where @dir will be, with the directories above it. Under /sys/fs/bpf a bpffs is
 * mounted if nothing is, as systemd and iproute2 do, in this process's mount namespace:
 * the host's or a container's, or the anchor xpin_enter_anchor() entered under `ip netns
 * exec`. Anywhere else the parent must be on bpffs already.
 */
static int ensure_bpffs(const char *dir, struct xerr *e)
{
	char parent[200], *slash;
	size_t at;

	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return xerr_set(e, -EINVAL, "pin directory '%s': must be a directory on bpffs", dir);
	*slash = '\0';
	if (is_bpffs(parent))
		return 0;
	if (strncmp(parent, BPFFS_DIR, strlen(BPFFS_DIR)) ||
	    (parent[strlen(BPFFS_DIR)] && parent[strlen(BPFFS_DIR)] != '/'))
		return xerr_set(e, -ENOTDIR, "%s: not a bpf filesystem (mount -t bpf bpf %s)",
				parent, parent);
	if (!is_bpffs(BPFFS_DIR) && mount("bpf", BPFFS_DIR, "bpf", 0, "mode=0700"))
		return xerr_set(e, -errno, "mounting bpffs on " BPFFS_DIR ": %s", strerror(errno));
	/* The directories between, such as XOFF_PIN_DIR above a namespace's own. */
	for (at = strlen(BPFFS_DIR) + 1; at < strlen(parent); at++) {
		if (parent[at] != '/')
			continue;
		parent[at] = '\0';
		if (mkdir(parent, 0700) && errno != EEXIST)
			return xerr_set(e, -errno, "%s: %s", parent, strerror(errno));
		parent[at] = '/';
	}
	if (mkdir(parent, 0700) && errno != EEXIST)
		return xerr_set(e, -errno, "%s: %s", parent, strerror(errno));
	return 0;
}

int xpin_lock(struct xpin *p, const char *dir, bool create, bool exclusive, struct xerr *e)
{
	struct stat a, b;
	int tries, err;

	memset(p, 0, sizeof(*p));
	p->fd = -1;
	if (!dir && (err = xpin_default_dir(p->dir, sizeof(p->dir))))
		return xerr_set(e, err, "this network namespace's pin directory: %s",
				strerror(-err));
	if (dir && snprintf(p->dir, sizeof(p->dir), "%s", dir) >= (int)sizeof(p->dir))
		return xerr_set(e, -ENAMETOOLONG, "pin directory '%s': name too long", dir);
	for (tries = 0; tries < 100; tries++) {
		if (create) {
			if ((err = ensure_bpffs(p->dir, e)))
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
			err = -errno;
			xpin_unlock(p);
			return xerr_set(e, err, "locking %s: %s", p->dir, strerror(-err));
		}
		/* The holder before us may have removed the directory (the last detach):
		 * the lock is then on a dead inode. Start again on the path's inode. */
		if (!fstat(p->fd, &a) && !stat(p->dir, &b) && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev) {
			if (create && (a.st_mode & 0777) != 0700)
				fchmod(p->fd, 0700);
			/* Clearing needs the lock to itself: only writers create. */
			if ((err = owner_check(p, create && exclusive, e)))
				xpin_unlock(p);
			return err;
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

/* ---- removal --------------------------------------------------------------------------- */

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

/* The shared maps and the owner record. */
static int unlink_shared(const char *dir)
{
	const char *const *names;
	size_t n, i;
	int err;

	names = xoff_shared_maps(&n);
	err = unlink_in(dir, XOFF_MAP_NETNS);
	for (i = 0; i < n; i++)
		err = unlink_in(dir, names[i]) ?: err;
	return err;
}

int xpin_remove_all(const char *dir)
{
	int err = unlink_shared(dir);

	/* Anything else in it (another namespace's directory under an older layout's
	 * root, a user's file) keeps it. */
	if (rmdir(dir) && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST)
		err = err ?: -errno;
	return err;
}

/* @name is "dev-<ifindex>": the ifindex, else 0. */
static __u32 dev_entry(const char *name)
{
	unsigned long v;
	char *end;

	if (strncmp(name, "dev-", 4) || name[4] < '1' || name[4] > '9')
		return 0;
	v = strtoul(name + 4, &end, 10);
	return *end || v > 0xffffffffUL ? 0 : v;
}

static int clear_dir(const char *dir)
{
	struct dirent *d;
	DIR *dh = opendir(dir);
	int err = 0;

	if (!dh)
		return -errno;
	while ((d = readdir(dh)))
		if (dev_entry(d->d_name))
			err = xpin_remove_dev(dir, dev_entry(d->d_name)) ?: err;
	closedir(dh);
	return unlink_shared(dir) ?: err;
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

/* ---- ip netns exec ------------------------------------------------------------------- */

/* One space-separated field of a mountinfo line from @p (before @end) into @out, with the
 * kernel's octal escapes (of space, tab, newline and backslash) undone: the rest of the
 * line after it, or NULL when the line ends first. A field too long is cut. */
static const char *field(const char *p, const char *end, char *out, size_t len)
{
	size_t n = 0;

	while (p < end && *p == ' ')
		p++;
	if (p >= end)
		return NULL;
	while (p < end && *p != ' ') {
		char c = *p++;

		if (c == '\\' && end - p >= 3 && p[0] >= '0' && p[0] <= '3' && p[1] >= '0' &&
		    p[1] <= '7' && p[2] >= '0' && p[2] <= '7') {
			c = (char)((p[0] - '0') * 64 + (p[1] - '0') * 8 + (p[2] - '0'));
			p += 3;
		}
		if (n + 1 < len)
			out[n++] = c;
	}
	if (len)
		out[n] = '\0';
	return p;
}

/*
 * "36 35 98:0 /root /mnt/point rw,noatime master:1 - fstype source super-options":
 * mount ID, parent ID, device, root, mount point, options, optional fields up to "-",
 * then the filesystem type and the source (proc(5)). Mounts are listed in the order they
 * were made, so the last one on /sys is the one visible there.
 */
int xpin_sysfs_source(const char *mountinfo, char *src, size_t len)
{
	const char *line = mountinfo, *end, *p;
	char point[256], f[256], type[32], source[256];
	int found = -ENOENT, i;

	for (; *line; line = *end ? end + 1 : end) {
		end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		p = line;
		for (i = 0; p && i < 4; i++)
			p = field(p, end, f, sizeof(f));
		p = p ? field(p, end, point, sizeof(point)) : NULL;
		if (!p || strcmp(point, "/sys"))
			continue;
		p = field(p, end, f, sizeof(f));	/* options */
		while (p && (p = field(p, end, f, sizeof(f))) && strcmp(f, "-"))
			;	/* optional fields */
		p = p ? field(p, end, type, sizeof(type)) : NULL;
		p = p ? field(p, end, source, sizeof(source)) : NULL;
		if (!p)
			continue;	/* not a mountinfo line */
		found = strcmp(type, "sysfs") ? -ENOENT : 0;
		if (!found)
			snprintf(src, len, "%s", source);
	}
	return found;
}

/* All of /proc/<pid>/<what> (pid 0: self) into a malloc'd string. */
static char *proc_read(int pid, const char *what)
{
	char path[64], *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	else
		snprintf(path, sizeof(path), "/proc/self/%s", what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 16384;
			nb = realloc(buf, cap);
			if (!nb)
				break;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!n) {
				buf[len] = '\0';
				close(fd);
				return buf;
			}
			break;
		}
		len += n;
	}
	free(buf);
	close(fd);
	return NULL;
}

/* A name `ip netns add` would accept (ip/ipnetns.c: no '/', not "." or ".."). */
static bool netns_name_ok(const char *s)
{
	return *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..") &&
	       strlen(s) < 200;
}

int xpin_ipnetns(int pid, char *name, size_t len)
{
	static const char *const run_dirs[] = { XPIN_NETNS_RUN_DIR, "/var/run/netns" };
	char *info = proc_read(pid, "mountinfo"), src[256], path[320];
	struct stat named, ours;
	size_t i;
	int err;

	if (!info)
		return errno ? -errno : -EIO;
	err = xpin_sysfs_source(info, src, sizeof(src));
	free(info);
	if (err || !netns_name_ok(src))
		return 0;
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/ns/net");
	if (stat(path, &ours))
		return 0;
	/* The name, as that process sees it, must be the namespace it is in. */
	for (i = 0; i < sizeof(run_dirs) / sizeof(run_dirs[0]); i++) {
		if (pid)
			snprintf(path, sizeof(path), "/proc/%d/root%s/%s", pid, run_dirs[i], src);
		else
			snprintf(path, sizeof(path), "%s/%s", run_dirs[i], src);
		if (!stat(path, &named) && named.st_ino == ours.st_ino &&
		    named.st_dev == ours.st_dev) {
			snprintf(name, len, "%s", src);
			return 1;
		}
	}
	return 0;
}

/* The parent of @pid (0: self) from /proc/<pid>/status; 0 when it has none. */
static int ppid_of(int pid)
{
	char *st = proc_read(pid, "status"), *p;
	int ppid = -ENOENT;

	if (!st)
		return errno ? -errno : -EIO;
	p = strstr(st, "\nPPid:");
	if (p)
		ppid = atoi(p + 6);
	free(st);
	return ppid;
}

int xpin_enter_anchor(struct xerr *e)
{
	char name[256], other[256];
	struct stat self, st;
	int pid, depth, fd, r, err;

	r = xpin_ipnetns(0, name, sizeof(name));
	if (r <= 0)
		return r < 0 ? xerr_set(e, r, "/proc/self/mountinfo: %s", strerror(-r)) : 0;
	if (stat("/proc/self/ns/mnt", &self))
		return xerr_set(e, -errno, "/proc/self/ns/mnt: %s", strerror(errno));
	pid = ppid_of(0);
	for (depth = 0; pid > 0 && depth < 64; depth++) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			return xerr_set(e, err, "under 'ip netns exec %s', whose mounts die with it: "
					"the mount namespace it was started from is out of reach "
					"(%s: %s); run xoffctl there (nsenter --net=" XPIN_NETNS_RUN_DIR
					"/%s), or give -P DIR on a bpffs that outlives the command",
					name, path, strerror(-err), name);
		}
		/* Its own namespace, or one more `ip netns exec`: further up. */
		if (fstat(fd, &st) || (st.st_ino == self.st_ino && st.st_dev == self.st_dev) ||
		    xpin_ipnetns(pid, other, sizeof(other)) == 1) {
			close(fd);
			pid = ppid_of(pid);
			continue;
		}
		err = setns(fd, CLONE_NEWNS) ? -errno : 0;
		close(fd);
		if (err)
			return xerr_set(e, err, "under 'ip netns exec %s': entering the mount "
					"namespace of process %d, where it was started: %s%s", name,
					pid, strerror(-err), err == -EPERM ? " (needs CAP_SYS_ADMIN "
					"and CAP_SYS_CHROOT)" : "");
		return 1;
	}
	return xerr_set(e, -ESRCH, "under 'ip netns exec %s', whose mounts die with it: no "
			"process it was started from is in another mount namespace; run xoffctl "
			"with nsenter --net=" XPIN_NETNS_RUN_DIR "/%s, or give -P DIR on a bpffs "
			"that outlives the command", name, name);
}

/* ---- the older layout ------------------------------------------------------------------ */

static bool pinned_in(const char *dir, const char *name)
{
	char path[256];
	struct stat st;

	return !xpin_path(path, sizeof(path), dir, name) && !lstat(path, &st);
}

static bool flat_present(void)
{
	return pinned_in(XOFF_PIN_DIR, XOFF_MAP_IFACES) || pinned_in(XOFF_PIN_DIR, XOFF_MAP_SAS);
}

/* Whether the flat layout provably serves this namespace (under the root's lock). */
static bool flat_ours(bool (*ours)(const struct xoff_iface *rec))
{
	struct xoff_iface ifs[XOFF_MAX_IFACES];
	struct xoff_netns own, me;
	int i, n;

	if (owner_read(XOFF_PIN_DIR, &own) || xpin_netns_self(&me))
		return false;
	if (xpin_owner_cmp(&own, &me) != XPIN_OWNER_NONE)
		return xpin_owner_cmp(&own, &me) == XPIN_OWNER_SELF;
	n = xpin_ifaces(XOFF_PIN_DIR, ifs, XOFF_MAX_IFACES);
	for (i = 0; i < n; i++)
		if (ours(&ifs[i]))
			return true;
	return false;
}

/* What the flat layout holds of xoff's, in the order it moves: the interface records
 * last, so that a move cut short is still recognized, and finished, by the next. */
static int flat_names(char names[][32], int max)
{
	const char *const *shared;
	struct dirent *d;
	DIR *dh = opendir(XOFF_PIN_DIR);
	size_t n, i;
	int k = 0;

	if (!dh)
		return -errno;
	while ((d = readdir(dh)) && k < max)
		if (dev_entry(d->d_name))
			snprintf(names[k++], 32, "%.31s", d->d_name);
	closedir(dh);
	shared = xoff_shared_maps(&n);
	for (i = 0; i < n && k < max; i++)
		if (strcmp(shared[i], XOFF_MAP_IFACES))
			snprintf(names[k++], 32, "%s", shared[i]);
	if (k + 3 > max)
		return -E2BIG;
	snprintf(names[k++], 32, "%s", XOFF_MAP_NETNS);
	snprintf(names[k++], 32, "%s_v1", XOFF_MAP_MIRROR);	/* an upgrade cut short */
	snprintf(names[k++], 32, "%s", XOFF_MAP_IFACES);
	return k;
}

int xpin_flat_move(const char *to, bool (*ours)(const struct xoff_iface *rec), struct xerr *e)
{
	static char names[XOFF_MAX_IFACES + 16][32];
	char a[256], b[256];
	int fd, n, i, ret = XPIN_FLAT_NONE;

	if (!flat_present())
		return XPIN_FLAT_NONE;
	/* The lock an older xoffctl takes, so that none of them runs meanwhile. */
	fd = open(XOFF_PIN_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || flock(fd, ours ? LOCK_EX : LOCK_SH)) {
		ret = xerr_set(e, -errno, "%s: %s", XOFF_PIN_DIR, strerror(errno));
		goto out;
	}
	if (!flat_present())
		goto out;
	if (!ours || !flat_ours(ours)) {
		ret = xerr_set(e, XPIN_FLAT_LEFT, "%s holds maps an older xoff pinned there for "
			       "every network namespace%s; xoffctl -P %s reads and detaches them "
			       "where they are", XOFF_PIN_DIR, ours ? ", but none of their "
			       "interfaces runs xoff in this one, so they stay" : ": attach, "
			       "detach or run in the namespace they serve moves them to its own "
			       "directory", XOFF_PIN_DIR);
		goto out;
	}
	n = flat_names(names, sizeof(names) / sizeof(names[0]));
	if (n < 0) {
		ret = xerr_set(e, n, "%s: %s", XOFF_PIN_DIR, strerror(-n));
		goto out;
	}
	for (i = 0; i < n; i++)
		if (pinned_in(XOFF_PIN_DIR, names[i]) && pinned_in(to, names[i])) {
			ret = xerr_set(e, XPIN_FLAT_LEFT, "both %s (an older xoff's layout) and %s "
				       "hold %s: the older maps stay; remove whichever is stale",
				       XOFF_PIN_DIR, to, names[i]);
			goto out;
		}
	if (mkdir(to, 0700) && errno != EEXIST) {
		ret = xerr_set(e, -errno, "%s: %s", to, strerror(errno));
		goto out;
	}
	/* The programs hold their maps by reference, not by path: they never notice. */
	for (i = 0; i < n; i++) {
		if (!pinned_in(XOFF_PIN_DIR, names[i]))
			continue;
		if (xpin_path(a, sizeof(a), XOFF_PIN_DIR, names[i]) ||
		    xpin_path(b, sizeof(b), to, names[i])) {
			ret = xerr_set(e, -ENAMETOOLONG, "%s: name too long", to);
			goto out;
		}
		if (rename(a, b)) {
			ret = xerr_set(e, -errno, "moving %s to %s: %s", a, b, strerror(errno));
			goto out;
		}
	}
	ret = xerr_set(e, XPIN_FLAT_MOVED, "the maps an older xoff pinned in %s for this "
		       "network namespace moved to %s", XOFF_PIN_DIR, to);
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The pin directory: where xoff's maps live on bpffs, which network namespace they serve,
 * and the lock that serializes every process that changes them (xoffctl attach and
 * detach, the daemon's start). */
#ifndef XOFF_PINS_H
#define XOFF_PINS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "xoff/abi.h"

/* The root of the default pin directories: one per network namespace below it,
 * XOFF_PIN_DIR "/net-<inode>" (an older xoff pinned its maps in the root itself). */
#define XOFF_PIN_DIR		"/sys/fs/bpf/xoff"
/* Where iproute2 keeps the names of network namespaces (ip netns add; NETNS_RUN_DIR is
 * /var/run/netns, a symbolic link to it on every current distribution). */
#define XPIN_NETNS_RUN_DIR	"/run/netns"

/* A one-line description of what went wrong, for the operator. */
struct xerr {
	char	msg[512];
};
int xerr_set(struct xerr *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* This process's network namespace: the inode of /proc/self/ns/net and its cookie (0 on
 * kernels without SO_NETNS_COOKIE). */
int xpin_netns_self(struct xoff_netns *n);
/* The default pin directory of this network namespace, XOFF_PIN_DIR "/net-<inode>". */
int xpin_default_dir(char *buf, size_t len);

/* How a recorded owner compares with this namespace. GONE: the same inode under another
 * cookie, which the kernel gives a namespace only once the owner is gone. */
enum xpin_owner { XPIN_OWNER_NONE, XPIN_OWNER_SELF, XPIN_OWNER_OTHER, XPIN_OWNER_GONE };
enum xpin_owner xpin_owner_cmp(const struct xoff_netns *owner, const struct xoff_netns *self);

struct xpin {
	char	dir[200];
	int	fd;		/* the directory, flocked; -1 when not held */
	bool	reclaimed;	/* its owner was gone: its maps were removed (see gone) */
	struct xoff_netns gone;
};

/* Lock @dir (NULL: this namespace's default), exclusive or shared. With @create, the
 * directory is made (mode 0700, bpffs mounted on /sys/fs/bpf if nothing is) when missing;
 * without it a missing directory is -ENOENT. Waits for a lock another process holds.
 * A directory another network namespace owns is -EXDEV; one whose owner is gone is
 * cleared with @create (p->reclaimed), and -ENOENT without. */
int xpin_lock(struct xpin *p, const char *dir, bool create, bool exclusive, struct xerr *e);
void xpin_unlock(struct xpin *p);
/* Record this namespace as the owner of @p's directory (locked exclusively) unless one
 * is: @x's xoff_netns is filled and pinned there. */
struct xoff;
int xpin_claim(struct xpin *p, struct xoff *x, struct xerr *e);

/* "<dir>/<name>" into @buf. */
int xpin_path(char *buf, size_t len, const char *dir, const char *name);
/* The directory of one interface's own maps: "<dir>/dev-<ifindex>". */
int xpin_dev_dir(char *buf, size_t len, const char *dir, __u32 ifindex);
/* A pinned map of @dir by name, read-write; -ENOENT when not pinned. */
int xpin_map(const char *dir, const char *name);

/* Remove one interface's directory, then (with @all) the shared maps and @dir itself.
 * Only xoff's names are removed: a directory holding anything else stays. */
int xpin_remove_dev(const char *dir, __u32 ifindex);
int xpin_remove_all(const char *dir);

/* Attached interfaces recorded in @dir: fills up to @max records, returns the count. */
struct xoff_iface;
int xpin_ifaces(const char *dir, struct xoff_iface *out, int max);

/*
 * `ip netns exec NAME` (iproute2's netns_switch()) enters NAME's network namespace,
 * unshares the mount namespace and mounts a fresh sysfs on /sys with NAME as its source:
 * /sys/fs/bpf is empty there, and whatever is mounted dies with the command. Pins belong
 * in the mount namespace `ip` was started from (the anchor), where they outlive it.
 */
/* The source of the sysfs that is visible on /sys in a mountinfo text (the last mount
 * there; escapes undone) into @src: 0, or -ENOENT when /sys is not a sysfs. */
int xpin_sysfs_source(const char *mountinfo, char *src, size_t len);
/* Whether process @pid (0: this one) runs under `ip netns exec`: its /sys is a sysfs whose
 * source names, in XPIN_NETNS_RUN_DIR or /var/run/netns as that process sees them, the
 * network namespace it is in. 1 (the name in
 * @name), 0, or a negative errno when its mount table cannot be read. */
int xpin_ipnetns(int pid, char *name, size_t len);
/* Under `ip netns exec`, enter the anchor: the nearest ancestor process whose mount
 * namespace is neither this one nor that of another `ip netns exec`. 0: not under it
 * (nothing done), 1: entered (cwd and root are the anchor's root now), or a negative
 * errno with the reason in @e. Call it before any thread starts (setns(2) refuses a
 * process whose threads share its root). */
int xpin_enter_anchor(struct xerr *e);

/* An older xoff pinned every namespace's maps in XOFF_PIN_DIR itself. Moves them into
 * @to (this namespace's default directory) when they provably serve this namespace: their
 * owner record says so, or @ours holds for one of their interface records. Returns
 * XPIN_FLAT_NONE, XPIN_FLAT_MOVED, XPIN_FLAT_LEFT (not moved; @e says why and what to do;
 * always with @ours NULL), or a negative errno (@e). */
enum { XPIN_FLAT_NONE = 0, XPIN_FLAT_MOVED = 1, XPIN_FLAT_LEFT = 2 };
int xpin_flat_move(const char *to, bool (*ours)(const struct xoff_iface *rec), struct xerr *e);

#endif /* XOFF_PINS_H */

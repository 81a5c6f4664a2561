/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The pin directory: where xoff's maps live on bpffs, and the lock that serializes every
 * process that changes them (xoffctl attach and detach, the daemon's start). */
#ifndef XOFF_PINS_H
#define XOFF_PINS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define XOFF_PIN_DIR		"/sys/fs/bpf/xoff"

/* A one-line description of what went wrong, for the operator. */
struct xerr {
	char	msg[256];
};
int xerr_set(struct xerr *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct xpin {
	char	dir[200];
	int	fd;		/* the directory, flocked; -1 when not held */
};

/* Lock @dir (NULL: XOFF_PIN_DIR), exclusive or shared. With @create, the directory is made
 * (mode 0700, bpffs mounted on /sys/fs/bpf if nothing is) when missing; without it a
 * missing directory is -ENOENT. Waits for a lock another process holds. */
int xpin_lock(struct xpin *p, const char *dir, bool create, bool exclusive, struct xerr *e);
void xpin_unlock(struct xpin *p);

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

#endif /* XOFF_PINS_H */

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Attaching xoff to an interface and taking it off again, all or nothing. */
#ifndef XOFF_ATTACH_H
#define XOFF_ATTACH_H

#include <stdbool.h>
#include <sys/types.h>
#include "libxoff.h"
#include "pins.h"

enum xattach_xdp { XATTACH_XDP_AUTO = 0, XATTACH_XDP_NATIVE, XATTACH_XDP_SKB };

struct xattach_opts {
	const char	*pin_dir;	/* NULL: this network namespace's default */
	const char	*dev;
	enum xattach_xdp xdp_mode;
	bool		no_steer;
	bool		no_tc;
	__u8		unknown_spi;	/* enum xoff_unknown_spi */
	int		mirror;		/* enum xmirror_mode, -1: not given (auto) */
	const __u16	*cpus;		/* the namespace's steering CPUs; NULL: keep, or all */
	unsigned int	ncpus;
};

struct xattach_result {
	struct xoff_iface rec;		/* what was recorded */
	bool		single;		/* XDP alone: libxdp's dispatcher was not usable */
	bool		synced;		/* the maps were synced here (no daemon) */
	pid_t		daemon;		/* the daemon told to resync, 0 if none */
	unsigned int	sas;		/* SAs in the fast path after the sync */
	bool		reclaimed;	/* the pin directory's owner was gone: cleared */
	struct xoff_netns gone;		/* that owner */
};

int xattach(const struct xattach_opts *o, struct xattach_result *r, struct xerr *e);

struct xdetach_result {
	bool		xdp_gone;	/* xoff's XDP program was no longer attached */
	bool		tc_gone;
	bool		qdisc_removed;
	bool		xdp_elsewhere;	/* the device is not in this namespace, but xoff's XDP
					 * program still exists (moved with the device, or
					 * held by libxdp's pins) */
	__u32		xdp_prog_id;
	bool		maps_removed;	/* the last interface: pins removed */
	pid_t		daemon;		/* maps kept because this daemon uses them */
};

/* @dev: a device name, or one recorded at attach that has since gone. */
int xdetach(const char *pin_dir, const char *dev, bool keep_maps, struct xdetach_result *r,
	    struct xerr *e);

/* xoff's TC ingress program attached for @rec now, 0 if none (or not xoff's). */
__u32 xattach_tci_id(const struct xoff_iface *rec);

/* xoff's XDP program on @ifindex now (alone or in a dispatcher), 0 if none. */
int xattach_xdp_id(int ifindex, __u32 *id);

/* Whether the device at @rec's ifindex in this namespace runs the XDP program @rec
 * recorded (program ids are never reused): the record is this namespace's. */
bool xattach_rec_here(const struct xoff_iface *rec);

/* Whether BPF program @id still exists. */
bool xattach_prog_exists(__u32 id);

/* The running daemon of this network namespace from its heartbeat, 0 if none. */
pid_t xattach_daemon_pid(const char *pin_dir);

#endif /* XOFF_ATTACH_H */

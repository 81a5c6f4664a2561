/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The counter mirror: authenticated counts (abi.h) into the kernel's SA lifetimes where the
 * kernel cannot count them (packet offload), and the expires the kernel would send for
 * them. It reads the sync's SAs and slots (sync.h); the sync never calls it. Requests to
 * the kernel go through struct xmirror_kops, so every path runs against a scripted kernel
 * in the tests. */
#ifndef XOFF_MIRROR_H
#define XOFF_MIRROR_H

#include <stdbool.h>
#include <linux/types.h>
#include "sync.h"

/* Which SAs xoff writes. The kernel counts software and crypto-offload SAs itself: they
 * are never written, whatever the mode (writing them would count their traffic twice,
 * and forged ESP could be counted). */
enum xmirror_mode {
	XMIRROR_AUTO = 0,	/* packet offload: probe whether the driver reports counts;
				 * write where it does not */
	XMIRROR_ON,		/* packet offload: always write (the driver does not count) */
	XMIRROR_OFF,		/* never write */
};

/* Requests to the kernel, by SA identity (daddr, SPI, protocol, family, mark). Each
 * returns 0 or a negative errno: -ESRCH, the SA is gone; -ETIMEDOUT, the request went out
 * and no answer came, so it may have been applied; any other, it was not. */
struct xmirror_kops {
	int (*getae)(void *ctx, const struct xfrm_sa *sa, struct xfrm_lifetime_cur *cur);
	int (*newae)(void *ctx, const struct xfrm_sa *sa, const struct xfrm_lifetime_cur *cur);
	int (*expire)(void *ctx, const struct xfrm_sa *sa, bool hard);
};

/* How long a probe watches a packet-offload SA with authenticated traffic before it
 * decides whether the driver reports counts (mlx5 refreshes them about once a second):
 * traffic seen in its first half must show in curlft by its end. */
#define XMIRROR_PROBE_MS	3000

struct xmirror_cfg {
	enum xmirror_mode mode;		/* for SAs whose device has no mode of its own */
	const struct xmirror_kops *kops; /* NULL: nothing is written or sent */
	void		*kctx;
	unsigned int	probe_ms;	/* 0: XMIRROR_PROBE_MS */
	/* Tests only: software SAs are mirrored as if packet-offloaded, so that the write
	 * path runs on a kernel without packet offload (the kernel counts their traffic
	 * too: only for SAs without traffic, whose counts a test feeds). */
	bool		test_software;
};

struct xmirror_stats {
	__u64	writes;		/* NEWAE sent and answered */
	__u64	errors;
	__u64	expires_soft;	/* EXPIRE sent by xoff and answered */
	__u64	expires_hard;
	__u64	probing;	/* packet-offload SAs being probed now */
};

struct xmirror;

int xmirror_new(struct xmirror **out, struct xsync *s, const struct xmirror_cfg *cfg);
void xmirror_free(struct xmirror *m);

/* The mode of SAs offloaded to @ifindex (attach's or the command line's mirror-dev). */
int xmirror_set_mode(struct xmirror *m, __u32 ifindex, enum xmirror_mode mode);

/* One sweep: decide each SA's counter (stored in its xoff_mirror record), probe, write
 * authenticated deltas, send the expires that are due (again, until answered), finish
 * the quarantined slots. @now_real: wall-clock seconds (use_time); @now_ms: a monotonic
 * clock in ms (probes). -EBUSY during a resync. */
int xmirror_sweep(struct xmirror *m, __u64 now_real, __u64 now_ms);

void xmirror_get_stats(const struct xmirror *m, struct xmirror_stats *st);
/* "kernel", "driver", "write", "probe", "off", "none". */
const char *xmirror_decision_str(unsigned int decision);

#endif /* XOFF_MIRROR_H */

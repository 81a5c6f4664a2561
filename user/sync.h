/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The control plane's core: a shadow of the kernel's SAD and SPD, and the fast-path maps
 * kept equal to it. No sockets here: messages come in as netlink messages, so every path
 * runs against a scripted kernel in the tests. The counter mirror (mirror.h) builds on it;
 * nothing here knows of the mirror. */
#ifndef XOFF_SYNC_H
#define XOFF_SYNC_H

#include <stdbool.h>
#include <linux/types.h>
#include "xfrm.h"
#include "libxoff.h"

struct xsync;

enum xsync_why {
	XSYNC_WHY_SW = 0,	/* no XFRMA_OFFLOAD_DEV: software crypto */
	XSYNC_WHY_HW_CRYPTO,	/* crypto offload to offload_ifindex */
	XSYNC_WHY_HW_PACKET,	/* packet offload to offload_ifindex */
	XSYNC_WHY_NOT_ESP,	/* AH or IPComp: not in the fast path */
	XSYNC_WHY_ENCAP,	/* encapsulation other than ESP-in-UDP */
	XSYNC_WHY_ALG,		/* algorithm sizes unknown: bytes cannot be counted (its ESP
				 * is passed uncounted: XOFF_SA_UNSERVED) */
	XSYNC_WHY_CONFLICT,	/* another SA (another mark) has the same SPI and daddr
				 * (passed uncounted) */
	XSYNC_WHY_FULL,		/* no free counter slot (passed uncounted) */
	XSYNC_WHY_MAX
};

enum xsync_log_level { XSYNC_ERR = 3, XSYNC_WARN = 4, XSYNC_INFO = 6, XSYNC_DEBUG = 7 };

/*
 * What receiving one SA's traffic costs a CPU that services a device's RX queue, in
 * percent of what decrypting it costs the CPU it is steered to. On a server core the
 * receive path (driver NAPI poll, XDP, the cpumap enqueue) takes ~0.15 us per 1400 B
 * ESP packet against ~1.9 us for its AES-GCM decryption: ~8%, rounded up to 10. Under
 * qemu TCG, where the receive path is emulated as well, the decrypt bench measures 40-46%
 * (selftests/vm/bench_decrypt.sh: its generator on the RX CPU included).
 */
#define XSYNC_RX_WEIGHT	10

struct xsync_cfg {
	const __u16	*cpus;		/* steering targets; NULL: every possible CPU */
	unsigned int	ncpus;
	unsigned int	tx_queues;	/* 0: leave TX queues to the stack */
	/* CPUs that service a device's RX queue. Each receives every SA arriving on its
	 * queue, whichever CPU decrypts it, so new SAs are placed as if it carried
	 * @rx_weight percent of one SA's decryption per steered SA (sync.c, cpu_cost()).
	 * NULL or none: placement by SA count alone. CPUs outside the steering set weigh
	 * nothing: no SA goes there anyway. */
	const __u16	*rx_cpus;
	unsigned int	nrx_cpus;
	unsigned int	rx_weight;	/* 0..100; 0: RX CPUs weigh nothing. The daemon's
					 * default is XSYNC_RX_WEIGHT */
	void		(*log)(void *ctx, int level, const char *msg);
	void		*log_ctx;
	/* Tests: the local addresses used to derive directions, instead of getifaddrs(). */
	int		(*is_local)(void *ctx, int family, const void *addr);
	void		*local_ctx;
};

struct xsync_stats {
	__u64	sas;		/* in the shadow SAD */
	__u64	sas_mapped;	/* of which in the fast-path map */
	__u64	policies;
	__u64	selectors;	/* packet-offload selectors in the LPM map */
	__u64	msgs;		/* messages taken */
	__u64	bad_msgs;	/* rejected as malformed */
	__u64	resyncs;
	__u64	map_errors;	/* map updates the kernel refused */
	__u64	unserved;	/* SAs the kernel holds that xoff passes uncounted */
	__u64	auth_conflicts;	/* inbound SAs without authenticated counts (shared key) */
	__u64	quarantined;	/* slots waiting for their final counters */
	__u64	mappings;	/* NAT-T mapping changes seen */
	__u64	migrates;	/* MIGRATE messages seen */
};

/* Reads what the pinned maps already hold, so that a restart keeps slots and CPUs and
 * applies only the difference at the first resync. */
int xsync_new(struct xsync **out, struct xoff *x, const struct xsync_cfg *cfg);
void xsync_free(struct xsync *s);
/* New RX CPUs and weight (as in xsync_cfg), for SAs placed from now on: those placed
 * stay where they are. -EINVAL: a weight above 100, nothing changed. */
int xsync_set_rx(struct xsync *s, const __u16 *rx_cpus, unsigned int n, unsigned int weight);

/* A full resync: begin, every dumped SA and policy through xsync_msg(), end. Entries
 * the dump did not show are removed at the end, and the maps then equal the kernel. */
void xsync_resync_begin(struct xsync *s);
int xsync_resync_end(struct xsync *s);
/* A dump failed half way: keep what it did not show, apply what it did. */
int xsync_resync_abort(struct xsync *s);
bool xsync_in_resync(const struct xsync *s);
/* A message changed the kernel's SAs or policies without saying how in full (MIGRATE:
 * the kernel cloned SAs under new addresses, deleted the originals and rewrote policy
 * templates, with no event for any of it): resync. xsync_resync_begin() clears it. The
 * resync's dump shows the clones, which keep their originals' slots, CPUs and mirror
 * records. */
bool xsync_resync_wanted(const struct xsync *s);
/* Whether an SA or policy is offloaded to @ifindex. The kernel removes those of a device
 * that goes down, leaves the namespace or unregisters (xfrm_dev_down()) without any XFRM
 * event: the daemon resyncs on such link events for the devices this says are in use. */
bool xsync_uses_dev(const struct xsync *s, __u32 ifindex);

/* One XFRM message, from a dump or an event. -EBADMSG: rejected and logged, nothing
 * changed. Other errors: a map update failed; a resync repairs it. */
int xsync_msg(struct xsync *s, const struct nlmsghdr *nlh);

/* Periodic upkeep, once per sweep: the local addresses directions are derived from, and
 * SAs waiting for a free slot. */
int xsync_tick(struct xsync *s);
/* Finish quarantined slots at once, without their last counts (the mirror's sweep
 * finishes them after writing those, for slots released before the previous sweep). */
int xsync_quarantine_flush(struct xsync *s);

/* What xoff did with a per-CPU SA (RFC 9611, Linux 6.13+). The kernel sends an outbound
 * one from its CPU but decrypts an inbound one on whichever CPU it arrives: xoff steers
 * an inbound software one to its CPU, and gives an outbound one its CPU's TX queue. */
enum xsync_pcpu {
	XSYNC_PCPU_NONE = 0,	/* not a per-CPU SA */
	XSYNC_PCPU_UNMAPPED,	/* not in the fast-path map: nothing placed */
	XSYNC_PCPU_OFFLOAD,	/* offloaded: placed as any other SA */
	XSYNC_PCPU_CPU,		/* inbound: steered to its CPU */
	XSYNC_PCPU_NOT_STEERED,	/* inbound: its CPU is no steering target; placed by load */
	XSYNC_PCPU_QUEUE,	/* outbound: its CPU's TX queue */
	XSYNC_PCPU_NO_TXQ,	/* outbound: no TX queue per CPU */
};

/* Read from the kernel's SA and the fast-path entry the sync decided (@mapped: @val is
 * that entry), so that a report of the pinned maps says what the daemon did. */
enum xsync_pcpu xsync_pcpu_of(const struct xfrm_sa *x, bool mapped, const struct xoff_sa *val);

/* What xoff knows of one SA, for reports. */
struct xsync_sa_view {
	struct xfrm_sa		x;		/* as the kernel reported it last */
	bool			mapped;		/* in the fast-path map */
	struct xoff_sa_key	key;
	struct xoff_sa		val;
	enum xsync_why		why;
	bool			unserved;	/* a map entry that passes its ESP uncounted */
	bool			auth;		/* its authenticated counts are kept */
	struct xoff_mirror	mirror;		/* valid when mapped; its decision is the
						 * mirror's (mirror.h) */
};

int xsync_sa_get(struct xsync *s, const struct xfrm_sa *id, struct xsync_sa_view *out);
/* Stops and returns the callback's value when it is not 0. */
int xsync_sa_foreach(struct xsync *s, int (*cb)(const struct xsync_sa_view *v, void *ctx),
		     void *ctx);
int xsync_pol_foreach(struct xsync *s, int (*cb)(const struct xfrm_pol *p, void *ctx), void *ctx);
void xsync_get_stats(const struct xsync *s, struct xsync_stats *st);
const char *xsync_why_str(enum xsync_why why);
/* What an SA's own attributes decide: its path (SW, HW_*) when the fast path can take it,
 * else why not (NOT_ESP, ENCAP, ALG). CONFLICT and FULL depend on the other SAs. */
enum xsync_why xsync_classify(const struct xfrm_sa *x);

#endif /* XOFF_SYNC_H */

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Internals of the sync (sync.c: shadow and maps, lpm.c: selectors), read by the mirror
 * (mirror.c), which depends on them; nothing here calls the mirror. */
#ifndef XOFF_SYNC_INT_H
#define XOFF_SYNC_INT_H

#include <arpa/inet.h>
#include "xhash.h"
#include "sync.h"

#define XSYNC_BATCH	1024	/* map entries per batch syscall */
#define XSYNC_MAX_LOCAL	256	/* local addresses considered for SA directions */
#define XSYNC_MAX_MOVES	128	/* MIGRATE entries kept for the resync that follows them */

/* Fixed-size objects of one kind (shadow SAs, keys), carved from chunks and recycled:
 * a cold sync allocates two per SA, and malloc's path for fresh memory cost ~230
 * instructions each. Chunks go back only with the pool (sync.c). */
struct chunk;
struct pool {
	size_t		size;		/* of one object, a multiple of 8 */
	void		*free;		/* recycled objects, linked through their first word */
	struct chunk	*chunk;		/* the newest chunk, linked to the older ones */
	unsigned int	used, per_chunk;
};

void *pool_zalloc(struct pool *p);
void pool_free(struct pool *p, void *obj);
void pool_destroy(struct pool *p);

/* The kernel's identity of an SA. */
struct sa_id {
	__u8	family;
	__u8	proto;
	__u8	pad[2];
	__be32	spi;
	__u8	daddr[16];
	__u32	mark_v;		/* mark & mask */
	__u32	mark_m;
};

struct keyent;
struct addrent;
struct authent;

struct ssa {
	struct sa_id	id;
	UT_hash_handle	hh;
	struct xfrm_sa	x;		/* as the kernel reported it last */
	struct xoff_sa_key key;		/* valid when eligible */
	struct xoff_sa	val;		/* the decided fast-path entry */
	struct keyent	*ke;		/* the key this SA claims */
	struct ssa	*ke_next;	/* other SAs claiming the same key */
	struct addrent	*addr;		/* SAs of the same destination */
	struct ssa	*addr_next;
	struct authent	*ae;		/* the authenticated-count key this SA claims */
	struct ssa	*ae_next;
	__u64		serial;		/* unique per shadow SA: tells SAs that reuse memory apart */
	enum xsync_why	why;
	bool		keyed;		/* ESP the fast path classifies: it has a map key */
	bool		eligible;	/* keyed, and its sizes known: it can be served */
	bool		has_slot;
	bool		cpu_held;	/* val.cpu counted in cpu_load */
	bool		queue_held;
	bool		seen;		/* in the current resync's dump */
	bool		fresh;		/* new in it, while MIGRATE entries wait (moves) */
};

/* One key of the fast-path SA map: the SAs claiming it and what the map holds. */
struct keyent {
	struct xoff_sa_key key;
	UT_hash_handle	hh;
	struct ssa	*owners;
	unsigned int	nowners;
	struct xoff_sa	cur;		/* the map's value, when present */
	struct xoff_sa	want;		/* what key_apply() decided it should be */
	bool		present;
	bool		orphan;		/* loaded at start, not yet claimed: slot held */
	bool		dirty;
	struct keyent	*dirty_next;
};

/* One key of the authenticated-count map: the inbound SAs claiming it (abi.h: two SAs
 * with one key get no entry) and what the map holds. */
struct authent {
	struct xoff_auth_key key;
	UT_hash_handle	hh;
	struct ssa	*owners;
	unsigned int	nowners;
	struct xoff_auth cur;		/* the map's value, when present */
	bool		present;
	bool		dirty;
	struct authent	*dirty_next;
};

struct spol {
	__u32		index;
	UT_hash_handle	hh;
	struct xfrm_pol	p;
	bool		seen;
};

/* Policy templates by destination: the direction they give SAs of that address. */
struct tdir_key {
	__u8	family;
	__u8	pad[3];
	__u8	daddr[16];
};

struct tdir {
	struct tdir_key	k;
	UT_hash_handle	hh;
	unsigned int	n_in, n_out;
};

/* The SAs of one destination. */
struct addrent {
	struct tdir_key	k;
	UT_hash_handle	hh;
	struct ssa	*head;
};

/* One entry of the packet-offload selector map. */
struct lpment {
	struct xoff_policy_key key;
	UT_hash_handle	hh;
	struct xoff_policy cur;		/* the map's value, when present */
	struct xoff_policy want;
	__u32		prio, index;	/* of the policy that wins this key */
	bool		present;
	bool		wanted;
};

/* A released slot waiting for its final counters. */
struct quar {
	__u32		slot;
	__u32		gen;		/* sweep generation it was released in */
	struct xfrm_sa	x;		/* its SA, for a last write if it still exists */
	__u64		serial;		/* of that SA */
	bool		has_sa;
};

enum { SLOT_FREE = 0, SLOT_USED, SLOT_QUAR };

struct xsync {
	struct xoff	*x;
	int		sas_fd;		/* xoff_sas */
	int		auth_fd;	/* xoff_auth_sas */
	bool		sas_changed;	/* xoff_gen to be bumped */
	__u64		serial;		/* the last shadow SA's */
	struct xsync_cfg cfg;
	struct ssa	*sas;
	struct spol	*pols;
	struct keyent	*keys;
	struct pool	sa_pool, key_pool;
	struct keyent	*dirty;
	struct authent	*auths;
	struct authent	*auth_dirty;
	struct tdir	*tdirs;
	struct addrent	*addrs;
	int		npkt_pols;	/* outbound packet-offload policies */
	struct lpment	*lpm;
	unsigned int	nlpm;
	bool		lpm_dirty;
	bool		resync;
	bool		full_waiting;	/* an SA found no free slot */
	bool		retry_full;	/* and a slot was freed since */

	__u16		*cpus;		/* allowed steering targets */
	unsigned int	ncpus;
	unsigned int	*cpu_load;	/* SAs per entry of cpus[] */
	bool		*cpu_rx;	/* entries of cpus[] that service an RX queue */
	unsigned int	*queue_load;	/* SAs per TX queue */

	__u32		nslots;
	__u8		*slot_state;
	struct ssa	**slot_owner;
	struct xoff_mirror *mir;	/* the pinned mirror records, mmapped */
	__u32		*free;		/* stack of free slots, lowest on top */
	__u32		nfree;
	struct quar	*quar;
	unsigned int	nquar, quar_cap;
	__u32		sweep_gen;	/* the mirror's sweeps, for the quarantine */

	struct {
		__u8	family;
		union { __u8 addr[16]; __u32 a4; };
	} local[XSYNC_MAX_LOCAL];
	unsigned int	nlocal;

	/* SAs moved by MIGRATE since the last resync: its dump shows their clones, which go
	 * on with the originals' slots and CPUs (sync.c, moves_follow()). */
	struct xfrm_move moves[XSYNC_MAX_MOVES];
	unsigned int	nmoves;
	bool		resync_wanted;	/* a MIGRATE came: only a dump shows what changed */

	struct xfrm_msg	msg;		/* parse buffer (no keys: names and sizes only) */
	struct xsync_stats st;
};

/* Free every entry of a uthash table linked by "hh". */
#define HASH_FREE_ALL(head) do {					\
	__typeof__(head) _e, _t;					\
	HASH_ITER(hh, head, _e, _t) {					\
		HASH_DEL(head, _e);					\
		free(_e);						\
	}								\
} while (0)

void xsync_log(struct xsync *s, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void xsync_sa_name(const struct xfrm_sa *x, char *buf, size_t len);
int xsync_apply(struct xsync *s);
int xsync_slot_finish(struct xsync *s, __u32 slot);
/* Set a mirror record's flags after every store before it: a record is read as its flags
 * say, also by the next daemon after a kill at any instruction. */
static inline void xsync_mir_flags(struct xoff_mirror *m, __u32 flags)
{
	__atomic_store_n(&m->flags, flags, __ATOMIC_RELEASE);
}
int xsync_lpm_load(struct xsync *s);
int xsync_lpm_apply(struct xsync *s);

#endif /* XOFF_SYNC_INT_H */

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The counter mirror: authenticated counts into the kernel's SA lifetimes where the kernel
 * cannot count, and the expires the kernel would send for them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "mirror.h"
#include "sync_int.h"

/*
 * Who counts an SA's traffic:
 *  - software SAs: xfrm_input()/xfrm_output() count every packet, steered or not (a
 *    cpumap redirect still enters the stack): never written;
 *  - crypto offload: the kernel still runs xfrm_input()/xfrm_output(): never written;
 *  - packet offload: only the driver can count, through xdo_dev_state_update_stats()
 *    (6.4+, and only drivers that implement it, refreshed about once a second by mlx5).
 *    Under mirror auto xoff probes: once authenticated traffic flows it watches curlft for
 *    XMIRROR_PROBE_MS; if curlft moved by itself the driver counts, if it did not although
 *    traffic came early enough for the driver to have shown it, xoff writes (the probe's
 *    traffic included, so nothing is lost). An SA without traffic is never decided.
 *
 * Only authenticated counts are ever written (abi.h): packets the kernel or the NIC
 * decrypted, or plaintext the kernel handed to the SA. Forged ESP never reaches them.
 */

/* What the mirror knows of a slot's SA beyond its pinned record. */
struct mslot {
	__u64	serial;		/* the SA this is of; another: start afresh */
	__u8	probed;		/* XOFF_DECIDE_DRIVER or _WRITE once a probe decided, or 0 */
	bool	probing;
	bool	mid_taken;
	__u64	probe_start_ms;
	__u64	probe_cur;	/* curlft.packets when the probe began */
	__u64	probe_auth;	/* authenticated packets then */
	__u64	probe_mid;	/* authenticated packets half way through */
	__u64	judged;		/* authenticated packets when the last probe ended */
};

struct ifmode {
	__u32		ifindex;
	UT_hash_handle	hh;
	enum xmirror_mode mode;
};

struct xmirror {
	struct xsync		*s;
	struct xmirror_cfg	cfg;
	struct mslot		*slots;		/* one per counter slot */
	struct ifmode		*ifmodes;
	struct xoff_counters	*sums;		/* a sweep's authenticated counts */
	struct xmirror_stats	st;
};

static const char *const decision_names[] = {
	[XOFF_DECIDE_NONE] = "none",	[XOFF_DECIDE_KERNEL] = "kernel",
	[XOFF_DECIDE_DRIVER] = "driver", [XOFF_DECIDE_WRITE] = "write",
	[XOFF_DECIDE_PROBE] = "probe",	[XOFF_DECIDE_OFF] = "off",
};

const char *xmirror_decision_str(unsigned int d)
{
	return d < sizeof(decision_names) / sizeof(decision_names[0]) ? decision_names[d] : "?";
}

int xmirror_new(struct xmirror **out, struct xsync *s, const struct xmirror_cfg *cfg)
{
	struct xmirror *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->s = s;
	m->cfg = *cfg;
	if (!m->cfg.probe_ms)
		m->cfg.probe_ms = XMIRROR_PROBE_MS;
	m->slots = calloc(s->nslots, sizeof(*m->slots));
	m->sums = calloc(s->nslots, sizeof(*m->sums));
	if (!m->slots || !m->sums || cfg->mode > XMIRROR_OFF) {
		xmirror_free(m);
		return cfg->mode > XMIRROR_OFF ? -EINVAL : -ENOMEM;
	}
	*out = m;
	return 0;
}

void xmirror_free(struct xmirror *m)
{
	struct ifmode *im, *t;

	if (!m)
		return;
	HASH_ITER(hh, m->ifmodes, im, t) {
		HASH_DEL(m->ifmodes, im);
		free(im);
	}
	free(m->slots);
	free(m->sums);
	free(m);
}

int xmirror_set_mode(struct xmirror *m, __u32 ifindex, enum xmirror_mode mode)
{
	struct ifmode *im;

	if (mode > XMIRROR_OFF)
		return -EINVAL;
	HASH_FIND(hh, m->ifmodes, &ifindex, sizeof(ifindex), im);
	if (!im) {
		if (!(im = calloc(1, sizeof(*im))))
			return -ENOMEM;
		im->ifindex = ifindex;
		HASH_ADD(hh, m->ifmodes, ifindex, sizeof(im->ifindex), im);
	}
	im->mode = mode;
	return 0;
}

void xmirror_get_stats(const struct xmirror *m, struct xmirror_stats *st)
{
	*st = m->st;
}

/* ---- decisions --------------------------------------------------------------------- */

static enum xmirror_mode mode_of(const struct xmirror *m, const struct ssa *sa)
{
	struct ifmode *im = NULL;
	__u32 ifindex = sa->x.offload_ifindex;

	if (sa->x.has_offload)
		HASH_FIND(hh, m->ifmodes, &ifindex, sizeof(ifindex), im);
	return im ? im->mode : m->cfg.mode;
}

/* Whether only xoff can count this SA: packet offload (or, in tests, software). */
static bool kernel_blind(const struct xmirror *m, const struct ssa *sa)
{
	if (sa->x.has_offload)
		return sa->x.offload_flags & XFRM_OFFLOAD_PACKET;
	return m->cfg.test_software;
}

static __u8 decide(const struct xmirror *m, const struct ssa *sa, const struct mslot *ms)
{
	if (!kernel_blind(m, sa))
		return XOFF_DECIDE_KERNEL;
	switch (mode_of(m, sa)) {
	case XMIRROR_ON:
		return XOFF_DECIDE_WRITE;
	case XMIRROR_OFF:
		return XOFF_DECIDE_OFF;
	default:
		return ms->probed ? ms->probed : XOFF_DECIDE_PROBE;
	}
}

/* A slot's SA seen for the first time by this mirror: what an earlier daemon probed
 * goes on (the record's decision, or the flags of an xoff that kept no decision). */
static void adopt(struct mslot *ms, const struct ssa *sa, const struct xoff_mirror *r)
{
	memset(ms, 0, sizeof(*ms));
	ms->serial = sa->serial;
	if (r->decision == XOFF_DECIDE_DRIVER || r->decision == XOFF_DECIDE_WRITE)
		ms->probed = r->decision;
	else if (r->decision == XOFF_DECIDE_NONE && r->flags & XOFF_MIRROR_KERNEL)
		ms->probed = XOFF_DECIDE_DRIVER;
}

/* ---- writes ------------------------------------------------------------------------ */

static __u64 sat_add(__u64 a, __u64 b)
{
	return a + b < a ? ~0ULL : a + b;
}

static bool gone(int err)
{
	return err == -ESRCH || err == -ENOENT;
}

/* The limits @cur has crossed, as XOFF_MIRROR_*_DUE (the kernel's ">="). */
static __u32 due_of(const struct xfrm_sa *x, const struct xfrm_lifetime_cur *cur)
{
	__u32 due = 0;

	if (cur->bytes >= x->lft.hard_byte_limit || cur->packets >= x->lft.hard_packet_limit)
		due |= XOFF_MIRROR_HARD_DUE;
	if (cur->bytes >= x->lft.soft_byte_limit || cur->packets >= x->lft.soft_packet_limit)
		due |= XOFF_MIRROR_SOFT_DUE;
	return due;
}

/* PENDING goes with @due added in one store, then the log is cleared (never before: a log
 * of zeros reads as landed). */
static void uncommit(struct xoff_mirror *r, __u32 due)
{
	xsync_mir_flags(r, (r->flags | due) & ~XOFF_MIRROR_PENDING);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	r->pend_packets = r->pend_bytes = r->target_packets = r->target_bytes = 0;
	r->pend_written_packets = r->pend_written_bytes = 0;
}

/* Commit a pending write that landed: assignments only, so a stop between two of them
 * leaves a record the next commit finishes alike; the limits it crossed become due in
 * the same store that ends PENDING. */
static void commit(struct xoff_mirror *r, __u32 due)
{
	r->packets = r->pend_packets;
	r->bytes = r->pend_bytes;
	r->written_packets = r->pend_written_packets;
	r->written_bytes = r->pend_written_bytes;
	uncommit(r, due);
}

/* Send the expire that is due and was not answered yet: hard first (it deletes the SA),
 * each once per SA, again at every sweep until the kernel takes it. */
static int send_due(struct xmirror *m, const struct xfrm_sa *x, struct xoff_mirror *r)
{
	bool hard = r->flags & XOFF_MIRROR_HARD_DUE;
	char name[96];
	int err;

	if (r->flags & XOFF_MIRROR_HARD_SENT || !m->cfg.kops ||
	    !(hard || (r->flags & XOFF_MIRROR_SOFT_DUE && !(r->flags & XOFF_MIRROR_SOFT_SENT))))
		return 0;
	err = m->cfg.kops->expire(m->cfg.kctx, x, hard);
	xsync_sa_name(x, name, sizeof(name));
	if (err) {
		if (gone(err))
			return 0;	/* deleted: its DELSA is on the way */
		m->st.errors++;
		xsync_log(m->s, XSYNC_ERR, "%s: %s expire: %s (sent again next sweep)", name,
			  hard ? "hard" : "soft", strerror(-err));
		return err;
	}
	xsync_log(m->s, XSYNC_INFO, "%s: %s limit reached: expire sent", name,
		  hard ? "hard" : "soft");
	xsync_mir_flags(r, r->flags | (hard ? XOFF_MIRROR_HARD_SENT : XOFF_MIRROR_SOFT_SENT));
	if (hard)
		m->st.expires_hard++;
	else
		m->st.expires_soft++;
	return 0;
}

/* A write left pending (by a daemon that stopped, or a request never answered): it
 * landed if the kernel shows its target (curlft only grows, and only xoff writes SAs
 * whose traffic the kernel does not see). One that landed may have crossed a limit. */
static int resolve_pending(struct xmirror *m, const struct xfrm_sa *x, struct xoff_mirror *r)
{
	struct xfrm_lifetime_cur cur;
	int err = m->cfg.kops->getae(m->cfg.kctx, x, &cur);
	bool landed;
	char name[96];

	if (err && !gone(err))
		return err;
	landed = !err && cur.packets >= r->target_packets && cur.bytes >= r->target_bytes;
	xsync_sa_name(x, name, sizeof(name));
	xsync_log(m->s, XSYNC_INFO, "%s: a lifetime write was left in flight (a daemon stopped, "
		  "or no answer came): %s", name, err ? "the SA is gone" : landed ?
		  "it had landed" : "it had not landed, written again");
	if (!landed) {
		uncommit(r, 0);
		return 0;
	}
	commit(r, due_of(x, &cur));
	return send_due(m, x, r);
}

/* Add the authenticated delta to the kernel's curlft: intent logged, sent, committed. */
static int write_delta(struct xmirror *m, const struct xfrm_sa *x, struct xoff_mirror *r,
		       const struct xoff_counters *fp, __u64 now, bool same_instance)
{
	struct xfrm_lifetime_cur cur, next;
	char name[96];
	int err;

	err = m->cfg.kops->getae(m->cfg.kctx, x, &cur);
	if (err) {
		if (gone(err))
			return 0;	/* deleted: its DELSA is on the way */
		m->st.errors++;
		return err;
	}
	if (same_instance && cur.add_time != r->add_time)
		return 0;	/* deleted and added again: not the SA these counts are of */
	next = cur;
	next.packets = sat_add(cur.packets, fp->packets - r->packets);
	next.bytes = sat_add(cur.bytes, fp->bytes - r->bytes);
	if (!next.use_time)
		next.use_time = now;	/* the kernel sets it on first use too */

	r->pend_packets = fp->packets;
	r->pend_bytes = fp->bytes;
	r->target_packets = next.packets;
	r->target_bytes = next.bytes;
	r->pend_written_packets = r->written_packets + (fp->packets - r->packets);
	r->pend_written_bytes = r->written_bytes + (fp->bytes - r->bytes);
	/* From here xoff writes this SA's counts: the baseline is no longer the kernel's. */
	xsync_mir_flags(r, (r->flags | XOFF_MIRROR_PENDING | XOFF_MIRROR_WRITE) &
			   ~XOFF_MIRROR_KCOUNTED);

	err = m->cfg.kops->newae(m->cfg.kctx, x, &next);
	if (!err) {
		commit(r, due_of(x, &next));
		m->st.writes++;
		return send_due(m, x, r);
	}
	/* Unanswered, it may land yet: left pending, the next sweep finds out. */
	if (err != -ETIMEDOUT)
		uncommit(r, 0);
	if (gone(err))
		return 0;	/* nothing landed: no limit crossed */
	m->st.errors++;
	xsync_sa_name(x, name, sizeof(name));
	xsync_log(m->s, XSYNC_ERR, "%s: lifetime update: %s", name, strerror(-err));
	return err;
}

/* ---- probes ------------------------------------------------------------------------ */

/* One sweep of a packet-offload SA under auto: start a probe when authenticated traffic
 * flows; at its end, decide who counts. Returns the decision (PROBE while undecided). */
static __u8 probe_step(struct xmirror *m, struct mslot *ms, const struct ssa *sa,
		       const struct xoff_mirror *r, const struct xoff_counters *fp,
		       __u64 now_ms, int *err)
{
	struct xfrm_lifetime_cur cur;
	char name[96];

	*err = 0;
	if (!ms->probing) {
		if (fp->packets <= r->packets || fp->packets <= ms->judged)
			return XOFF_DECIDE_PROBE;	/* idle: nothing new to judge by */
		if ((*err = m->cfg.kops->getae(m->cfg.kctx, &sa->x, &cur)))
			return XOFF_DECIDE_PROBE;
		ms->probing = true;
		ms->mid_taken = false;
		ms->probe_start_ms = now_ms;
		ms->probe_cur = cur.packets;
		ms->probe_auth = fp->packets;
		return XOFF_DECIDE_PROBE;
	}
	if (!ms->mid_taken && now_ms - ms->probe_start_ms >= m->cfg.probe_ms / 2) {
		ms->probe_mid = fp->packets;
		ms->mid_taken = true;
	}
	if (now_ms - ms->probe_start_ms < m->cfg.probe_ms)
		return XOFF_DECIDE_PROBE;
	if ((*err = m->cfg.kops->getae(m->cfg.kctx, &sa->x, &cur)))
		return XOFF_DECIDE_PROBE;
	ms->probing = false;
	ms->judged = fp->packets;
	xsync_sa_name(&sa->x, name, sizeof(name));
	if (cur.packets != ms->probe_cur) {
		ms->probed = XOFF_DECIDE_DRIVER;
		xsync_log(m->s, XSYNC_INFO, "%s: packet offload counted by the driver", name);
	} else if (ms->mid_taken && ms->probe_mid > ms->probe_auth) {
		ms->probed = XOFF_DECIDE_WRITE;
		xsync_log(m->s, XSYNC_INFO, "%s: packet offload not counted by the driver "
			  "(%llu authenticated packets in %u ms, curlft unchanged): xoff writes",
			  name, (unsigned long long)(ms->probe_mid - ms->probe_auth),
			  m->cfg.probe_ms);
	}
	/* Else the traffic came too late in the window to judge: the next traffic probes
	 * again. */
	return ms->probed ? ms->probed : XOFF_DECIDE_PROBE;
}

/* ---- the sweep --------------------------------------------------------------------- */

/* The baseline restarts at a switch to writing from a counter that someone else kept
 * (the driver, nobody under off, an older xoff's fast-path counts); a probe's traffic,
 * and a fresh slot's, are written. */
static bool rebase_on_switch(__u8 from, const struct xoff_mirror *r)
{
	if (from == XOFF_DECIDE_PROBE || from == XOFF_DECIDE_WRITE)
		return false;
	if (from == XOFF_DECIDE_NONE)
		return r->packets || r->bytes || r->flags & XOFF_MIRROR_KCOUNTED;
	return true;
}

static int mirror_sa(struct xmirror *m, struct ssa *sa, const struct xoff_counters *fp,
		     __u64 now, __u64 now_ms)
{
	__u32 slot = sa->val.slot;
	struct xoff_mirror *r = &m->s->mir[slot];
	struct mslot *ms = &m->slots[slot];
	__u8 d;
	int err = 0;

	if (ms->serial != sa->serial)
		adopt(ms, sa, r);
	if (m->cfg.kops && r->flags & XOFF_MIRROR_PENDING &&
	    (err = resolve_pending(m, &sa->x, r)))
		return err;
	d = decide(m, sa, ms);
	if (d == XOFF_DECIDE_PROBE && m->cfg.kops)
		d = probe_step(m, ms, sa, r, fp, now_ms, &err);
	if (d != r->decision) {
		if (d == XOFF_DECIDE_WRITE && rebase_on_switch(r->decision, r)) {
			r->packets = fp->packets;
			r->bytes = fp->bytes;
		}
		r->decision = d;
	}
	if (err)
		return gone(err) ? 0 : err;
	if (fp->packets < r->packets || fp->bytes < r->bytes) {
		/* Counters cleared behind our back: start again here. */
		r->packets = fp->packets;
		r->bytes = fp->bytes;
	}
	if (d == XOFF_DECIDE_WRITE && m->cfg.kops &&
	    (fp->packets != r->packets || fp->bytes != r->bytes))
		return write_delta(m, &sa->x, r, fp, now, false);
	if (d != XOFF_DECIDE_WRITE && d != XOFF_DECIDE_PROBE) {
		/* Someone else counts (or nobody, under off): the baseline follows. */
		r->packets = fp->packets;
		r->bytes = fp->bytes;
	}
	/* Limits a landed write crossed, an expire not answered yet: also for an idle SA. */
	return send_due(m, &sa->x, r);
}

/* Slots released before the previous sweep: no program can still hold them. Their last
 * counts go to the SA if xoff wrote it and it still exists, then they are free. */
static int finish_quarantine(struct xmirror *m, __u32 gen, __u64 now)
{
	struct xsync *s = m->s;
	unsigned int i, kept = 0;
	int err = 0, e;

	for (i = 0; i < s->nquar; i++) {
		struct quar *q = &s->quar[i];
		struct xoff_mirror *r = &s->mir[q->slot];
		struct mslot *ms = &m->slots[q->slot];

		if (q->gen >= gen) {
			s->quar[kept++] = *q;
			continue;
		}
		if (q->has_sa && m->cfg.kops && ms->serial == q->serial &&
		    r->decision == XOFF_DECIDE_WRITE) {
			if (r->flags & XOFF_MIRROR_PENDING)
				resolve_pending(m, &q->x, r);
			if (m->sums[q->slot].packets > r->packets)
				write_delta(m, &q->x, r, &m->sums[q->slot], now, true);
		}
		if ((e = xsync_slot_finish(s, q->slot))) {
			s->quar[kept++] = *q;	/* try again next sweep */
			err = err ?: e;
			continue;
		}
		memset(ms, 0, sizeof(*ms));
	}
	s->nquar = kept;
	s->st.quarantined = kept;
	return err;
}

int xmirror_sweep(struct xmirror *m, __u64 now, __u64 now_ms)
{
	struct xsync *s = m->s;
	__u32 gen = s->sweep_gen++, hi = 0, slot;
	int err = 0, e;

	if (s->resync)
		return -EBUSY;
	for (slot = s->nslots; slot > 0; slot--)
		if (s->slot_state[slot - 1] != SLOT_FREE) {
			hi = slot;
			break;
		}
	if (hi && (err = xoff_counts_read_range(s->x, XOFF_COUNT_AUTH, 0, hi, m->sums)))
		return err;
	err = finish_quarantine(m, gen, now);
	m->st.probing = 0;
	for (slot = 0; slot < hi; slot++) {
		struct ssa *sa = s->slot_owner[slot];

		if (!sa || s->slot_state[slot] != SLOT_USED)
			continue;
		e = mirror_sa(m, sa, &m->sums[slot], now, now_ms);
		m->st.probing += m->slots[slot].probing;
		err = err ?: e;
		if (e == -ETIMEDOUT)
			break;	/* the kernel does not answer: the next sweep goes on */
	}
	/* Slots freed above go to SAs waiting for one. */
	return xsync_tick(s) ?: err;
}

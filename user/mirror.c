// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The counter mirror: fast-path counts into the kernel's SA lifetimes, and the expires
 * the kernel would send for them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include "sync_int.h"

/*
 * Who counts an SA's traffic (mirror auto):
 *  - software SAs: xfrm_input()/xfrm_output() count every packet, steered or not (a
 *    cpumap redirect still enters the stack): never written;
 *  - crypto offload: the kernel still runs xfrm_input()/xfrm_output(): never written;
 *  - packet offload: only the driver can count, through xdo_dev_state_update_stats()
 *    (6.4+, and only drivers that implement it). xoff probes: it watches curlft over one
 *    sweep with fast-path traffic; if curlft moved by itself the kernel counts, else
 *    xoff writes (the probe's traffic included, so nothing is lost).
 */
enum xsync_decision xsync_mirror_decide(struct xsync *s, const struct ssa *sa)
{
	switch (xsync_mode_of(s, sa)) {
	case XSYNC_MIRROR_ON:
		return XSYNC_WRITE;
	case XSYNC_MIRROR_OFF:
		return XSYNC_KERNEL;
	default:
		if (!sa->x.has_offload || !(sa->x.offload_flags & XFRM_OFFLOAD_PACKET))
			return XSYNC_KERNEL;
		return sa->probe_result;
	}
}

static __u64 sat_add(__u64 a, __u64 b)
{
	return a + b < a ? ~0ULL : a + b;
}

static bool gone(int err)
{
	return err == -ESRCH || err == -ENOENT;
}

/* PENDING goes, then the log is cleared (never before: a log of zeros reads as landed). */
static void uncommit(struct xoff_mirror *m)
{
	xsync_mir_flags(m, m->flags & ~XOFF_MIRROR_PENDING);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	m->pend_packets = m->pend_bytes = m->target_packets = m->target_bytes = 0;
	m->pend_written_packets = m->pend_written_bytes = 0;
}

/* Commit a pending write that landed: assignments only, so a stop between two of them
 * leaves a record the next commit finishes alike. */
static void commit(struct xoff_mirror *m)
{
	m->packets = m->pend_packets;
	m->bytes = m->pend_bytes;
	m->written_packets = m->pend_written_packets;
	m->written_bytes = m->pend_written_bytes;
	uncommit(m);
}

/* Signal the soft and hard limits as the kernel does for its own traffic (">=", hard
 * first, each once per SA); a hard expire makes the kernel delete the SA. */
static int check_limits(struct xsync *s, const struct xfrm_sa *x, __u32 slot,
			const struct xfrm_lifetime_cur *cur)
{
	struct xoff_mirror *m = &s->mir[slot];
	struct xfrm_sa e = *x;
	bool hard = cur->bytes >= x->lft.hard_byte_limit || cur->packets >= x->lft.hard_packet_limit;
	bool soft = cur->bytes >= x->lft.soft_byte_limit || cur->packets >= x->lft.soft_packet_limit;
	char name[96];
	int err;

	if (hard ? m->flags & XOFF_MIRROR_HARD_SENT : !soft || m->flags & XOFF_MIRROR_SOFT_SENT)
		return 0;
	e.curlft = *cur;
	err = s->cfg.kops->expire(s->cfg.kctx, &e, hard);
	xsync_sa_name(x, name, sizeof(name));
	if (err) {
		s->st.mirror_errors++;
		if (!gone(err))
			xsync_log(s, XSYNC_ERR, "%s: %s expire: %s", name, hard ? "hard" : "soft",
				  strerror(-err));
		return gone(err) ? 0 : err;
	}
	xsync_log(s, XSYNC_INFO, "%s: %s limit reached (%llu packets, %llu bytes): expire sent",
		  name, hard ? "hard" : "soft", (unsigned long long)cur->packets,
		  (unsigned long long)cur->bytes);
	xsync_mir_flags(m, m->flags | (hard ? XOFF_MIRROR_HARD_SENT : XOFF_MIRROR_SOFT_SENT));
	if (hard)
		s->st.expires_hard++;
	else
		s->st.expires_soft++;
	return 0;
}

/* A write left pending (by a daemon that stopped, or a request never answered): it
 * landed if the kernel shows its target (curlft only grows, and only xoff writes SAs
 * whose traffic the kernel does not see). One that landed may have crossed a limit. */
static int resolve_pending(struct xsync *s, const struct xfrm_sa *x, __u32 slot)
{
	struct xoff_mirror *m = &s->mir[slot];
	struct xfrm_lifetime_cur cur;
	int err = s->cfg.kops->getae(s->cfg.kctx, x, &cur);
	bool landed;
	char name[96];

	if (err && !gone(err))
		return err;
	landed = !err && cur.packets >= m->target_packets && cur.bytes >= m->target_bytes;
	xsync_sa_name(x, name, sizeof(name));
	xsync_log(s, XSYNC_INFO, "%s: a lifetime write was left in flight (a daemon stopped, or "
		  "no answer came): %s", name, err ? "the SA is gone" : landed ? "it had landed" :
		  "it had not landed, written again");
	if (!landed) {
		uncommit(m);
		return 0;
	}
	commit(m);
	return check_limits(s, x, slot, &cur);
}

/* Add the fast-path delta to the kernel's curlft: intent logged, sent, committed. */
static int write_delta(struct xsync *s, const struct xfrm_sa *x, __u32 slot,
		       const struct xoff_counters *fp, __u64 now, bool same_instance)
{
	struct xoff_mirror *m = &s->mir[slot];
	struct xfrm_lifetime_cur cur, next;
	char name[96];
	int err;

	err = s->cfg.kops->getae(s->cfg.kctx, x, &cur);
	if (err) {
		if (gone(err))
			return 0;	/* deleted: its DELSA is on the way */
		s->st.mirror_errors++;
		return err;
	}
	if (same_instance && cur.add_time != m->add_time)
		return 0;	/* deleted and added again: not the SA these counts are of */
	next = cur;
	next.packets = sat_add(cur.packets, fp->packets - m->packets);
	next.bytes = sat_add(cur.bytes, fp->bytes - m->bytes);
	if (!next.use_time)
		next.use_time = now;	/* the kernel sets it on first use too */

	m->pend_packets = fp->packets;
	m->pend_bytes = fp->bytes;
	m->target_packets = next.packets;
	m->target_bytes = next.bytes;
	m->pend_written_packets = m->written_packets + (fp->packets - m->packets);
	m->pend_written_bytes = m->written_bytes + (fp->bytes - m->bytes);
	/* From here xoff writes this SA's counts: the baseline is no longer the kernel's. */
	xsync_mir_flags(m, (m->flags | XOFF_MIRROR_PENDING | XOFF_MIRROR_WRITE) &
			   ~XOFF_MIRROR_KCOUNTED);

	err = s->cfg.kops->newae(s->cfg.kctx, x, &next);
	if (!err) {
		commit(m);
		s->st.mirror_writes++;
		return check_limits(s, x, slot, &next);
	}
	/* Unanswered, it may land yet: left pending, the next sweep finds out. */
	if (err != -ETIMEDOUT)
		uncommit(m);
	if (gone(err))
		return 0;	/* nothing landed: no limit crossed */
	s->st.mirror_errors++;
	xsync_sa_name(x, name, sizeof(name));
	xsync_log(s, XSYNC_ERR, "%s: lifetime update: %s", name, strerror(-err));
	return err;
}

static int mirror_sa(struct xsync *s, struct ssa *sa, const struct xoff_counters *fp, __u64 now)
{
	__u32 slot = sa->val.slot;
	struct xoff_mirror *m = &s->mir[slot];
	struct xfrm_lifetime_cur cur;
	char name[96];
	int err;

	if (m->flags & XOFF_MIRROR_PENDING && (err = resolve_pending(s, &sa->x, slot)))
		return err;
	if (fp->packets < m->packets || fp->bytes < m->bytes || sa->rebase) {
		/* Counters cleared behind our back, or a new decision: start again here. */
		m->packets = fp->packets;
		m->bytes = fp->bytes;
		if (sa->rebase && sa->decision == XSYNC_WRITE)
			xsync_mir_flags(m, m->flags & ~XOFF_MIRROR_KCOUNTED);
		sa->rebase = false;
		return 0;
	}
	if (fp->packets == m->packets && fp->bytes == m->bytes)
		return 0;

	switch (sa->decision) {
	case XSYNC_PROBE:
		if ((err = s->cfg.kops->getae(s->cfg.kctx, &sa->x, &cur)))
			return gone(err) ? 0 : err;
		if (!sa->probing) {
			sa->probing = true;
			sa->probe_base = cur.packets;
			return 0;
		}
		sa->probing = false;
		sa->probe_result = cur.packets != sa->probe_base ? XSYNC_KERNEL : XSYNC_WRITE;
		sa->decision = sa->probe_result;
		xsync_sa_name(&sa->x, name, sizeof(name));
		xsync_log(s, XSYNC_INFO, "%s: packet offload %s", name,
			  sa->decision == XSYNC_KERNEL ? "counted by the driver"
						       : "not counted by the driver: xoff writes");
		if (sa->decision == XSYNC_WRITE)
			return write_delta(s, &sa->x, slot, fp, now, false);
		m->packets = fp->packets;
		m->bytes = fp->bytes;
		xsync_mir_flags(m, m->flags | XOFF_MIRROR_KERNEL); /* outlives a restart */
		return 0;
	case XSYNC_KERNEL:
		/* The baseline, and who counted up to it, survive a restart. */
		m->packets = fp->packets;
		m->bytes = fp->bytes;
		if (!(m->flags & XOFF_MIRROR_KCOUNTED))
			xsync_mir_flags(m, m->flags | XOFF_MIRROR_KCOUNTED);
		return 0;
	case XSYNC_WRITE:
		return write_delta(s, &sa->x, slot, fp, now, false);
	}
	return 0;
}

int xsync_quarantine_flush(struct xsync *s)
{
	unsigned int i;
	int err = 0;

	for (i = 0; i < s->nquar; i++)
		err = err ?: xsync_slot_finish(s, s->quar[i].slot);
	s->nquar = 0;
	s->st.quarantined = 0;
	return err;
}

int xsync_mirror(struct xsync *s, __u64 now)
{
	__u32 gen = s->sweep_gen++, hi = 0, slot;
	unsigned int i, kept = 0;
	int err = 0, e;

	if (s->resync)
		return -EBUSY;
	if (!s->sums && !(s->sums = calloc(s->nslots, sizeof(*s->sums))))
		return -ENOMEM;
	for (slot = s->nslots; slot > 0; slot--)
		if (s->slot_state[slot - 1] != SLOT_FREE) {
			hi = slot;
			break;
		}
	if (hi && (err = xoff_counters_read_range(s->x, 0, hi, s->sums)))
		return err;
	xsync_local_refresh(s);

	/* Slots released before the previous sweep: no program can still hold them. */
	for (i = 0; i < s->nquar; i++) {
		struct quar *q = &s->quar[i];

		if (q->gen >= gen) {
			s->quar[kept++] = *q;
			continue;
		}
		if (q->has_sa && q->decision == XSYNC_WRITE && s->cfg.kops) {
			struct xoff_mirror *m = &s->mir[q->slot];

			if (m->flags & XOFF_MIRROR_PENDING)
				resolve_pending(s, &q->x, q->slot);
			if (s->sums[q->slot].packets > m->packets)
				write_delta(s, &q->x, q->slot, &s->sums[q->slot], now, true);
		}
		if ((e = xsync_slot_finish(s, q->slot))) {
			s->quar[kept++] = *q;	/* try again next sweep */
			err = err ?: e;
		}
	}
	s->nquar = kept;
	s->st.quarantined = kept;

	for (slot = 0; slot < hi; slot++) {
		struct ssa *sa = s->slot_owner[slot];

		if (!sa || s->slot_state[slot] != SLOT_USED)
			continue;
		if (!s->cfg.kops) {
			s->mir[slot].packets = s->sums[slot].packets;
			s->mir[slot].bytes = s->sums[slot].bytes;
			continue;
		}
		if ((e = mirror_sa(s, sa, &s->sums[slot], now)))
			err = err ?: e;
		if (e == -ETIMEDOUT)
			break;	/* the kernel does not answer: the next sweep goes on */
	}
	if (s->retry_full && (e = xsync_apply(s)))
		err = err ?: e;		/* slots freed above go to SAs waiting for one */
	return err;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Egress selectors of packet-offload SAs: the policies' destinations in the LPM map. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include "sync_int.h"

/* The trie compares the first prefixlen bits only: selectors that differ after them
 * (the kernel keeps host bits, 10.0.0.5/24 and 10.0.0.0/24 are two policies) are one
 * trie entry, so they must be one entry here too. */
static void key_mask(struct xoff_policy_key *k)
{
	unsigned int bits = k->prefixlen - XOFF_POLICY_PREFIX(0), i;

	for (i = 0; i < sizeof(k->daddr); i++, bits = bits > 8 ? bits - 8 : 0)
		k->daddr[i] &= bits >= 8 ? 0xff : (__u8)(0xff << (8 - bits));
}

int xsync_lpm_load(struct xsync *s)
{
	int fd = xoff_map_fd(s->x, XOFF_MAP_POLICIES);
	struct xoff_policy_key k, next, *prev = NULL;
	struct xoff_policy v;
	struct lpment *l;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &v))
			continue;
		key_mask(&next);
		HASH_FIND(hh, s->lpm, &next, sizeof(next), l);
		if (l)
			continue;
		if (!(l = calloc(1, sizeof(*l))))
			return -ENOMEM;
		l->key = next;
		l->cur = v;
		l->present = true;
		HASH_ADD(hh, s->lpm, key, sizeof(l->key), l);
		s->nlpm++;
	}
	return 0;
}

/* The SA an outbound packet-offload policy leads to: offloaded to the same device and
 * matching its first ESP template; of several (a rekey overlap), the newest. */
static struct ssa *pol_sa(struct ssa **cand, unsigned int n, const struct xfrm_pol *p)
{
	const struct xfrm_tmpl *t = NULL;
	struct ssa *best = NULL;
	unsigned int i;

	for (i = 0; i < p->ntmpl && !t; i++)
		if (p->tmpl[i].proto == IPPROTO_ESP)
			t = &p->tmpl[i];
	if (!t)
		return NULL;
	for (i = 0; i < n; i++) {
		const struct xfrm_sa *x = &cand[i]->x;

		if (x->offload_ifindex != p->offload_ifindex || x->family != t->family ||
		    (t->reqid && t->reqid != x->reqid) || (t->spi && t->spi != x->spi) ||
		    (t->mode != XFRM_MODE_TRANSPORT &&
		     memcmp(&t->daddr, &x->daddr, xfrm_addr_len(x->family))))
			continue;
		if (!best || x->curlft.add_time > best->x.curlft.add_time)
			best = cand[i];
	}
	return best;
}

static int lpm_want(struct xsync *s, struct ssa **cand, unsigned int n, const struct spol *sp)
{
	const struct xfrm_pol *p = &sp->p;
	struct xoff_policy_key k;
	struct lpment *l;
	struct ssa *sa;
	int family;

	if (p->dir != XFRM_POLICY_OUT || p->action != XFRM_POLICY_ALLOW || !p->has_offload ||
	    !(p->offload_flags & XFRM_OFFLOAD_PACKET) || !(sa = pol_sa(cand, n, p)))
		return 0;
	family = p->sel.family ? p->sel.family : sa->x.family;
	if (xoff_policy_key_make(&k, family, &p->sel.daddr, p->sel.prefixlen_d))
		return 0;
	key_mask(&k);
	HASH_FIND(hh, s->lpm, &k, sizeof(k), l);
	if (!l) {
		if (!(l = calloc(1, sizeof(*l))))
			return -ENOMEM;
		l->key = k;
		HASH_ADD(hh, s->lpm, key, sizeof(l->key), l);
		s->nlpm++;
	} else if (l->wanted && (l->prio < p->priority ||
				 (l->prio == p->priority && l->index < p->index))) {
		return 0;	/* a better policy has this destination */
	}
	l->wanted = true;
	l->prio = p->priority;
	l->index = p->index;
	memset(&l->want, 0, sizeof(l->want));
	l->want.slot = sa->val.slot;
	l->want.ifindex = sa->val.offload_ifindex;
	l->want.mode = sa->val.mode;
	return 0;
}

int xsync_lpm_apply(struct xsync *s)
{
	int fd = xoff_map_fd(s->x, XOFF_MAP_POLICIES);
	struct ssa **cand = NULL, *sa, *st;
	struct spol *sp, *pt;
	struct lpment *l, *lt;
	unsigned int n = 0;
	int err = 0;

	if (!s->lpm_dirty || s->resync)
		return 0;
	s->lpm_dirty = false;
	if (!s->npkt_pols && !s->nlpm)
		return 0;	/* no packet offload: nothing to scan (the common case) */
	HASH_ITER(hh, s->sas, sa, st)
		n += sa->has_slot && sa->val.offload_mode == XOFF_OFFLOAD_PACKET &&
		     sa->val.dir == XOFF_DIR_OUT;
	if (n && !(cand = calloc(n, sizeof(*cand))))
		return -ENOMEM;
	n = 0;
	HASH_ITER(hh, s->sas, sa, st)
		if (sa->has_slot && sa->val.offload_mode == XOFF_OFFLOAD_PACKET &&
		    sa->val.dir == XOFF_DIR_OUT)
			cand[n++] = sa;
	HASH_ITER(hh, s->lpm, l, lt)
		l->wanted = false;
	HASH_ITER(hh, s->pols, sp, pt)
		err = err ?: lpm_want(s, cand, n, sp);
	free(cand);

	HASH_ITER(hh, s->lpm, l, lt) {
		if (l->wanted && (!l->present || memcmp(&l->cur, &l->want, sizeof(l->want)))) {
			if (bpf_map_update_elem(fd, &l->key, &l->want, BPF_ANY)) {
				s->st.map_errors++;
				err = err ?: -errno;
				continue;
			}
			l->cur = l->want;
			l->present = true;
		} else if (!l->wanted && l->present) {
			if (bpf_map_delete_elem(fd, &l->key) && errno != ENOENT) {
				s->st.map_errors++;
				err = err ?: -errno;
				continue;
			}
			l->present = false;
		}
		if (!l->wanted && !l->present) {
			HASH_DEL(s->lpm, l);
			free(l);
			s->nlpm--;
		}
	}
	if (err)
		s->lpm_dirty = true;	/* try again on the next change */
	return err;
}

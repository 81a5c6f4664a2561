// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* XFRM netlink messages: parse with a length check before every read, build requests. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <libmnl/libmnl.h>
#include "xfrm.h"
#include "libxoff.h"

#define BAD(msg) ({ *why = (msg); -EBADMSG; })

size_t xfrm_addr_len(unsigned int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

bool xfrm_sa_same(const struct xfrm_sa *a, const struct xfrm_sa *b)
{
	return a->family == b->family && a->proto == b->proto && a->spi == b->spi &&
	       !memcmp(&a->daddr, &b->daddr, xfrm_addr_len(a->family)) &&
	       (a->mark.v & a->mark.m) == (b->mark.v & b->mark.m) && a->mark.m == b->mark.m;
}

struct attrs {
	const struct nlattr *a[XOFF_XFRMA_MAX + 1];
};

/* Minimum payload of the attributes xoff reads; scalars must be exact. */
static const struct {
	unsigned short min;
	bool exact;
} attr_len[XOFF_XFRMA_MAX + 1] = {
	[XFRMA_ALG_AUTH]	= { sizeof(struct xfrm_algo) },
	[XFRMA_ALG_CRYPT]	= { sizeof(struct xfrm_algo) },
	[XFRMA_ALG_AEAD]	= { sizeof(struct xfrm_algo_aead) },
	[XFRMA_ALG_AUTH_TRUNC]	= { sizeof(struct xfrm_algo_auth) },
	[XFRMA_ENCAP]		= { sizeof(struct xfrm_encap_tmpl) },
	[XFRMA_TMPL]		= { 0 },	/* checked as an array below */
	[XFRMA_SA]		= { sizeof(struct xfrm_usersa_info) },
	[XFRMA_POLICY]		= { sizeof(struct xfrm_userpolicy_info) },
	[XFRMA_LTIME_VAL]	= { sizeof(struct xfrm_lifetime_cur) },
	[XFRMA_POLICY_TYPE]	= { sizeof(struct xfrm_userpolicy_type) },
	[XFRMA_MARK]		= { sizeof(struct xfrm_mark) },
	[XFRMA_REPLAY_ESN_VAL]	= { sizeof(struct xfrm_replay_state_esn) },
	[XFRMA_OFFLOAD_DEV]	= { sizeof(struct xfrm_user_offload) },
	[XFRMA_IF_ID]		= { sizeof(__u32), true },
	[XOFF_XFRMA_SA_DIR]	= { sizeof(__u8), true },
	[XOFF_XFRMA_SA_PCPU]	= { sizeof(__u32), true },
	[XFRMA_MIGRATE]		= { sizeof(struct xfrm_user_migrate) },	/* and whole entries */
};

static const char *const attr_bad[XOFF_XFRMA_MAX + 1] = {
	[XFRMA_ALG_AUTH]	= "XFRMA_ALG_AUTH: bad length",
	[XFRMA_ALG_CRYPT]	= "XFRMA_ALG_CRYPT: bad length",
	[XFRMA_ALG_AEAD]	= "XFRMA_ALG_AEAD: bad length",
	[XFRMA_ALG_AUTH_TRUNC]	= "XFRMA_ALG_AUTH_TRUNC: bad length",
	[XFRMA_ENCAP]		= "XFRMA_ENCAP: bad length",
	[XFRMA_SA]		= "XFRMA_SA: bad length",
	[XFRMA_POLICY]		= "XFRMA_POLICY: bad length",
	[XFRMA_LTIME_VAL]	= "XFRMA_LTIME_VAL: bad length",
	[XFRMA_POLICY_TYPE]	= "XFRMA_POLICY_TYPE: bad length",
	[XFRMA_MARK]		= "XFRMA_MARK: bad length",
	[XFRMA_REPLAY_ESN_VAL]	= "XFRMA_REPLAY_ESN_VAL: bad length",
	[XFRMA_OFFLOAD_DEV]	= "XFRMA_OFFLOAD_DEV: bad length",
	[XFRMA_IF_ID]		= "XFRMA_IF_ID: bad length",
	[XOFF_XFRMA_SA_DIR]	= "XFRMA_SA_DIR: bad length",
	[XOFF_XFRMA_SA_PCPU]	= "XFRMA_SA_PCPU: bad length",
	[XFRMA_MIGRATE]		= "XFRMA_MIGRATE: bad length",
};

/* Every attribute must fit in the message, and those xoff reads must have their length
 * (each instance, also one a later duplicate replaces); unknown types are skipped. */
static int parse_attrs(const struct nlmsghdr *nlh, size_t hdrlen, struct attrs *t,
		       const char **why)
{
	const char *end = (const char *)nlh + nlh->nlmsg_len, *a;

	memset(t, 0, sizeof(*t));
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN + MNL_ALIGN(hdrlen))
		return BAD("message shorter than its header");
	/* Bounded by nlmsg_len itself, not by its 4-byte alignment as mnl_attr_for_each()
	 * is: the bytes after an unaligned length are not the message's. */
	for (a = (const char *)nlh + MNL_NLMSG_HDRLEN + MNL_ALIGN(hdrlen);
	     end - a >= (ptrdiff_t)sizeof(struct nlattr);
	     a += MNL_ALIGN(((const struct nlattr *)a)->nla_len)) {
		const struct nlattr *attr = (const void *)a;
		unsigned int type = mnl_attr_get_type(attr), len;

		if (attr->nla_len < sizeof(*attr) || attr->nla_len > end - a)
			return BAD("attribute overruns the message");
		if (type > XOFF_XFRMA_MAX)
			continue;
		len = attr->nla_len - sizeof(*attr);
		if (len < attr_len[type].min || (attr_len[type].exact && len != attr_len[type].min))
			return BAD(attr_bad[type]);
		t->a[type] = attr;
	}
	if (a < end)
		return BAD("attribute overruns the message");
	return 0;
}

static const void *payload(const struct attrs *t, unsigned int type)
{
	return t->a[type] ? mnl_attr_get_payload(t->a[type]) : NULL;
}

/* An algorithm's name, which must be a C string inside its 64 bytes. */
static const char *alg_name(const struct nlattr *a)
{
	const char *name = mnl_attr_get_payload(a);

	return memchr(name, '\0', sizeof(((struct xfrm_algo *)0)->alg_name)) ? name : NULL;
}

static const char *const attr_name_bad[] = {
	"XFRMA_ALG_AEAD: name not terminated", "XFRMA_ALG_CRYPT: name not terminated",
	"XFRMA_ALG_AUTH_TRUNC: name not terminated", "XFRMA_ALG_AUTH: name not terminated",
};

/* ESP sizes from the algorithm names and ICV lengths; the keys are not read. */
static int parse_algs(const struct attrs *t, struct xfrm_sa *sa, const char **why)
{
	static const unsigned int types[] = {
		XFRMA_ALG_AEAD, XFRMA_ALG_CRYPT, XFRMA_ALG_AUTH_TRUNC, XFRMA_ALG_AUTH,
	};
	const char *enc = NULL, *auth = NULL;
	unsigned int icv_bits = 0, i;
	struct xoff_alg_sizes sz;

	/* Every name present is checked, also those a preferred attribute makes unused. */
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (t->a[types[i]] && !alg_name(t->a[types[i]]))
			return BAD(attr_name_bad[i]);
	if (t->a[XFRMA_ALG_AEAD]) {
		const struct xfrm_algo_aead *a = payload(t, XFRMA_ALG_AEAD);

		if (!(enc = alg_name(t->a[XFRMA_ALG_AEAD])))
			return BAD("XFRMA_ALG_AEAD: name not terminated");
		icv_bits = a->alg_icv_len;
	} else if (t->a[XFRMA_ALG_CRYPT]) {
		if (!(enc = alg_name(t->a[XFRMA_ALG_CRYPT])))
			return BAD("XFRMA_ALG_CRYPT: name not terminated");
	}
	if (t->a[XFRMA_ALG_AUTH_TRUNC]) {
		const struct xfrm_algo_auth *a = payload(t, XFRMA_ALG_AUTH_TRUNC);

		if (!(auth = alg_name(t->a[XFRMA_ALG_AUTH_TRUNC])))
			return BAD("XFRMA_ALG_AUTH_TRUNC: name not terminated");
		icv_bits = a->alg_trunc_len;
	} else if (t->a[XFRMA_ALG_AUTH]) {
		if (!(auth = alg_name(t->a[XFRMA_ALG_AUTH])))
			return BAD("XFRMA_ALG_AUTH: name not terminated");
	}
	if (!enc && auth)
		enc = "ecb(cipher_null)";	/* authentication only */
	sa->alg_known = enc && !xoff_alg_sizes(enc, auth, icv_bits, &sz);
	if (sa->alg_known) {
		sa->iv_len = sz.iv_len;
		sa->icv_len = sz.icv_len;
		sa->block_len = sz.block_len;
	}
	return 0;
}

static int check_family(unsigned int family, const char **why)
{
	return xfrm_addr_len(family) ? 0 : BAD("address family neither AF_INET nor AF_INET6");
}

/* The attributes of an SA that live beside struct xfrm_usersa_info. */
static int parse_sa_attrs(const struct attrs *t, struct xfrm_sa *sa, const char **why)
{
	const struct xfrm_encap_tmpl *e = payload(t, XFRMA_ENCAP);
	const struct xfrm_user_offload *o = payload(t, XFRMA_OFFLOAD_DEV);
	const struct xfrm_mark *m = payload(t, XFRMA_MARK);
	const struct xfrm_replay_state_esn *esn = payload(t, XFRMA_REPLAY_ESN_VAL);
	const __u8 *dir = payload(t, XOFF_XFRMA_SA_DIR);
	const __u32 *if_id = payload(t, XFRMA_IF_ID);
	const __u32 *pcpu = payload(t, XOFF_XFRMA_SA_PCPU);

	if (e) {
		if (!e->encap_type)
			return BAD("XFRMA_ENCAP: encapsulation type 0");
		sa->encap_type = e->encap_type;
		sa->encap_sport = e->encap_sport;
		sa->encap_dport = e->encap_dport;
	}
	if (o) {
		if (o->ifindex <= 0)
			return BAD("XFRMA_OFFLOAD_DEV: no device");
		sa->has_offload = true;
		sa->offload_ifindex = o->ifindex;
		sa->offload_flags = o->flags;
	}
	if (m) {
		sa->has_mark = true;
		sa->mark = *m;
	}
	if (esn) {
		if (mnl_attr_get_payload_len(t->a[XFRMA_REPLAY_ESN_VAL]) <
		    sizeof(*esn) + (size_t)esn->bmp_len * sizeof(__u32))
			return BAD("XFRMA_REPLAY_ESN_VAL: bitmap beyond the attribute");
		sa->has_esn = true;
		sa->esn_window = esn->replay_window;
	}
	if (if_id)
		sa->if_id = *if_id;
	if (pcpu) {
		sa->has_pcpu = true;
		sa->pcpu_num = *pcpu;
	}
	if (dir) {
		if (*dir != XOFF_XFRM_SA_DIR_IN && *dir != XOFF_XFRM_SA_DIR_OUT)
			return BAD("XFRMA_SA_DIR: neither in nor out");
		sa->dir = *dir == XOFF_XFRM_SA_DIR_IN ? XOFF_DIR_IN : XOFF_DIR_OUT;
		sa->dir_source = XFRM_DIR_FROM_SA_DIR;
	} else if (o) {
		sa->dir = o->flags & XFRM_OFFLOAD_INBOUND ? XOFF_DIR_IN : XOFF_DIR_OUT;
		sa->dir_source = XFRM_DIR_FROM_OFFLOAD;
	}
	return parse_algs(t, sa, why);
}

static int usersa_info(const struct xfrm_usersa_info *p, struct xfrm_sa *sa, const char **why)
{
	memset(sa, 0, sizeof(*sa));
	if (check_family(p->family, why))
		return -EBADMSG;
	if (p->mode >= XFRM_MODE_MAX)
		return BAD("unknown SA mode");
	sa->daddr = p->id.daddr;
	sa->saddr = p->saddr;
	sa->spi = p->id.spi;
	sa->family = p->family;
	sa->proto = p->id.proto;
	sa->mode = p->mode;
	sa->dir = XFRM_DIR_UNKNOWN;
	sa->flags = p->flags;
	sa->replay_window = p->replay_window;
	sa->reqid = p->reqid;
	sa->lft = p->lft;
	sa->curlft = p->curlft;
	return 0;
}

static void usersa_id(const struct xfrm_usersa_id *id, struct xfrm_sa *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->daddr = id->daddr;
	sa->spi = id->spi;
	sa->family = id->family;
	sa->proto = id->proto;
	sa->dir = XFRM_DIR_UNKNOWN;
}

static int parse_tmpls(const struct attrs *t, struct xfrm_pol *pol, const char **why)
{
	const struct xfrm_user_tmpl *ut = payload(t, XFRMA_TMPL);
	unsigned int len, i;

	if (!ut)
		return 0;
	len = mnl_attr_get_payload_len(t->a[XFRMA_TMPL]);
	if (len % sizeof(*ut))
		return BAD("XFRMA_TMPL: not a whole number of templates");
	if (len / sizeof(*ut) > XFRM_TMPL_MAX)
		return BAD("XFRMA_TMPL: more than XFRM_MAX_DEPTH templates");
	pol->ntmpl = len / sizeof(*ut);
	for (i = 0; i < pol->ntmpl; i++) {
		struct xfrm_tmpl *d = &pol->tmpl[i];

		if (check_family(ut[i].family, why))
			return BAD("XFRMA_TMPL: address family neither AF_INET nor AF_INET6");
		d->daddr = ut[i].id.daddr;
		d->saddr = ut[i].saddr;
		d->spi = ut[i].id.spi;
		d->reqid = ut[i].reqid;
		d->family = ut[i].family;
		d->proto = ut[i].id.proto;
		d->mode = ut[i].mode;
		d->optional = ut[i].optional;
	}
	return 0;
}

static int parse_pol_attrs(const struct attrs *t, struct xfrm_pol *pol, const char **why)
{
	const struct xfrm_user_offload *o = payload(t, XFRMA_OFFLOAD_DEV);
	const struct xfrm_userpolicy_type *pt = payload(t, XFRMA_POLICY_TYPE);
	const struct xfrm_mark *m = payload(t, XFRMA_MARK);
	const __u32 *if_id = payload(t, XFRMA_IF_ID);

	if (o) {
		if (o->ifindex <= 0)
			return BAD("XFRMA_OFFLOAD_DEV: no device");
		pol->has_offload = true;
		pol->offload_ifindex = o->ifindex;
		pol->offload_flags = o->flags;
	}
	if (pt) {
		if (pt->type >= XFRM_POLICY_TYPE_MAX)
			return BAD("XFRMA_POLICY_TYPE: unknown type");
		pol->type = pt->type;
	}
	if (m) {
		pol->has_mark = true;
		pol->mark = *m;
	}
	if (if_id)
		pol->if_id = *if_id;
	return parse_tmpls(t, pol, why);
}

/* Per-socket policies (setsockopt IP_XFRM_POLICY: an IKE daemon's bypass for its own
 * sockets) appear in dumps with XFRM_POLICY_MAX + dir. They govern one socket, not the
 * traffic xoff classifies: taken as messages xoff ignores. */
#define SOCKET_POLICY	1

static bool socket_dir(__u8 dir)
{
	return dir >= XFRM_POLICY_MAX && dir <= XFRM_POLICY_MAX + XFRM_POLICY_FWD;
}

/* 0, SOCKET_POLICY, or -EBADMSG. */
static int ignore_socket_policy(struct xfrm_msg *out, int err)
{
	if (err != SOCKET_POLICY)
		return err;
	memset(&out->pol, 0, sizeof(out->pol));
	out->ev = XFRM_EV_NONE;
	return 0;
}

/* A selector's family is AF_INET, AF_INET6 or 0 (any), its prefixes fit its addresses. */
static int check_sel(const struct xfrm_selector *sel, const char **why)
{
	size_t bits = 8 * xfrm_addr_len(sel->family ? sel->family : AF_INET6);

	if (sel->family && check_family(sel->family, why))
		return BAD("selector family neither AF_INET nor AF_INET6");
	if (sel->prefixlen_d > bits || sel->prefixlen_s > bits)
		return BAD("selector prefix longer than its address");
	return 0;
}

static int userpolicy_info(const struct xfrm_userpolicy_info *p, struct xfrm_pol *pol,
			   const char **why)
{
	memset(pol, 0, sizeof(*pol));
	if (socket_dir(p->dir))
		return SOCKET_POLICY;
	if (p->dir > XFRM_POLICY_FWD)
		return BAD("unknown policy direction");
	if (check_sel(&p->sel, why))
		return -EBADMSG;
	pol->sel = p->sel;
	pol->index = p->index;
	pol->priority = p->priority;
	pol->dir = p->dir;
	pol->action = p->action;
	pol->flags = p->flags;
	return 0;
}

/* ---- MIGRATE -------------------------------------------------------------------------- */

/* XFRMA_ENCAP and XFRMA_POLICY_TYPE of a MIGRATE. Unlike an SA's, the encapsulation type
 * may be 0: MIGRATE_STATE announces so that the move removed it. */
static int migrate_attrs(const struct attrs *t, struct xfrm_migrate_msg *mg, const char **why)
{
	const struct xfrm_encap_tmpl *e = payload(t, XFRMA_ENCAP);
	const struct xfrm_userpolicy_type *pt = payload(t, XFRMA_POLICY_TYPE);

	if (e) {
		mg->has_encap = true;
		mg->encap_type = e->encap_type;
		mg->encap_sport = e->encap_sport;
		mg->encap_dport = e->encap_dport;
	}
	if (pt) {
		if (pt->type >= XFRM_POLICY_TYPE_MAX)
			return BAD("XFRMA_POLICY_TYPE: unknown type");
		mg->pol_type = pt->type;
	}
	return 0;
}

static int move_of(const struct xfrm_user_migrate *um, struct xfrm_move *mv, const char **why)
{
	if (!xfrm_addr_len(um->old_family) || !xfrm_addr_len(um->new_family))
		return BAD("XFRMA_MIGRATE: address family neither AF_INET nor AF_INET6");
	memset(mv, 0, sizeof(*mv));
	mv->old_daddr = um->old_daddr;
	mv->old_saddr = um->old_saddr;
	mv->new_daddr = um->new_daddr;
	mv->new_saddr = um->new_saddr;
	mv->old_family = um->old_family;
	mv->new_family = um->new_family;
	mv->proto = um->proto;
	mv->mode = um->mode;
	mv->reqid = um->reqid;
	return 0;
}

/*
 * XFRM_MSG_MIGRATE as km_migrate() announces it (xfrm_user.c, build_migrate(), 6.1 to
 * 7.2): struct xfrm_userpolicy_id (the policy's selector and direction), XFRMA_KMADDRESS
 * and XFRMA_ENCAP when the request had them, XFRMA_POLICY_TYPE, then one XFRMA_MIGRATE
 * attribute per entry. A request carries its entries as one XFRMA_MIGRATE array instead:
 * every XFRMA_MIGRATE is taken as an array, XFRM_MAX_DEPTH entries in all at most.
 */
static int parse_migrate(const struct nlmsghdr *nlh, const struct xfrm_userpolicy_id *id,
			 struct xfrm_migrate_msg *mg, const char **why)
{
	const char *end = (const char *)nlh + nlh->nlmsg_len, *a;
	struct attrs t;
	int err;

	if ((err = parse_attrs(nlh, sizeof(*id), &t, why)))
		return err;
	if (id->dir > XFRM_POLICY_FWD)
		return BAD("unknown policy direction");
	if (check_sel(&id->sel, why))
		return -EBADMSG;
	mg->sel = id->sel;
	mg->dir = id->dir;
	/* The attributes again, for every XFRMA_MIGRATE: parse_attrs() checked each one's
	 * length, so this walk stays inside the message. */
	for (a = (const char *)nlh + MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(*id));
	     end - a >= (ptrdiff_t)sizeof(struct nlattr);
	     a += MNL_ALIGN(((const struct nlattr *)a)->nla_len)) {
		const struct nlattr *attr = (const void *)a;
		const char *p = mnl_attr_get_payload(attr);
		unsigned int len = mnl_attr_get_payload_len(attr), i;
		struct xfrm_user_migrate um;

		if (mnl_attr_get_type(attr) != XFRMA_MIGRATE)
			continue;
		if (len % sizeof(um))
			return BAD("XFRMA_MIGRATE: not a whole number of entries");
		for (i = 0; i < len / sizeof(um); i++) {
			if (mg->n == XFRM_TMPL_MAX)
				return BAD("XFRMA_MIGRATE: more than XFRM_MAX_DEPTH entries");
			memcpy(&um, p + i * sizeof(um), sizeof(um));
			if ((err = move_of(&um, &mg->m[mg->n++], why)))
				return err;
		}
	}
	if (!mg->n)
		return BAD("XFRM_MSG_MIGRATE without XFRMA_MIGRATE");
	return migrate_attrs(&t, mg, why);
}

/* XFRM_MSG_MIGRATE_STATE (7.2: xfrm_user.c, build_migrate_state()): the SA by its old
 * identity and its new addresses in the header, then XFRMA_ENCAP, XFRMA_OFFLOAD_DEV,
 * XFRMA_MARK (its new mark, when set), XFRMA_SA_DIR and others xoff does not read. */
static int parse_migrate_state(const struct nlmsghdr *nlh,
			       const struct xoff_xfrm_user_migrate_state *um,
			       struct xfrm_migrate_msg *mg, const char **why)
{
	struct xfrm_move *mv = &mg->m[0];
	struct attrs t;
	int err;

	if ((err = parse_attrs(nlh, sizeof(*um), &t, why)))
		return err;
	if (!xfrm_addr_len(um->id.family) || !xfrm_addr_len(um->new_family))
		return BAD("address family neither AF_INET nor AF_INET6");
	mg->dir = 0xff;
	mg->n = 1;
	mv->by_spi = true;
	mv->old_daddr = um->id.daddr;
	mv->new_daddr = um->new_daddr;
	mv->new_saddr = um->new_saddr;
	mv->old_family = um->id.family;
	mv->new_family = um->new_family;
	mv->proto = um->id.proto;
	mv->spi = um->id.spi;
	mv->reqid = um->new_reqid;
	mv->old_mark = um->old_mark;
	return migrate_attrs(&t, mg, why);
}

/* SA messages: NEWSA, UPDSA, DELSA, EXPIRE, FLUSHSA. */
static int parse_sa_msg(const struct nlmsghdr *nlh, const void *hdr, struct xfrm_msg *out,
                        const char **why)
{
	struct attrs t;
	int err;

	switch (nlh->nlmsg_type) {
	case XFRM_MSG_NEWSA:
	case XFRM_MSG_UPDSA:
		if ((err = parse_attrs(nlh, sizeof(struct xfrm_usersa_info), &t, why)))
			return err;
		out->ev = XFRM_EV_SA;
		if ((err = usersa_info(hdr, &out->sa, why)))
			return err;
		return parse_sa_attrs(&t, &out->sa, why);

	case XFRM_MSG_DELSA:
		if ((err = parse_attrs(nlh, sizeof(struct xfrm_usersa_id), &t, why)))
			return err;
		out->ev = XFRM_EV_SA_DEL;
		if (t.a[XFRMA_SA]) {
			struct xfrm_usersa_info p;

			/* Attributes are 4-byte aligned; the struct holds 64-bit fields. */
			memcpy(&p, payload(&t, XFRMA_SA), sizeof(p));
			if ((err = usersa_info(&p, &out->sa, why)))
				return err;
		} else {
			usersa_id(hdr, &out->sa);
			if (check_family(out->sa.family, why))
				return -EBADMSG;
		}
		return parse_sa_attrs(&t, &out->sa, why);

	case XFRM_MSG_EXPIRE: {
		const struct xfrm_user_expire *ue = hdr;

		if ((err = parse_attrs(nlh, sizeof(*ue), &t, why)))
			return err;
		out->ev = ue->hard ? XFRM_EV_SA_DEL : XFRM_EV_SA_SOFT;
		if ((err = usersa_info(&ue->state, &out->sa, why)))
			return err;
		return parse_sa_attrs(&t, &out->sa, why);
	}

	case XFRM_MSG_FLUSHSA: {
		const struct xfrm_usersa_flush *f = hdr;

		if ((err = parse_attrs(nlh, sizeof(*f), &t, why)))
			return err;
		out->ev = XFRM_EV_SA_FLUSH;
		out->flush_proto = f->proto;
		return 0;
	}

	default:
		return 0;
	}
}

/* Policy messages: NEWPOLICY, UPDPOLICY, DELPOLICY, POLEXPIRE, FLUSHPOLICY. */
static int parse_pol_msg(const struct nlmsghdr *nlh, const void *hdr, struct xfrm_msg *out,
                         const char **why)
{
	struct attrs t;
	int err;

	switch (nlh->nlmsg_type) {
	case XFRM_MSG_NEWPOLICY:
	case XFRM_MSG_UPDPOLICY:
		if ((err = parse_attrs(nlh, sizeof(struct xfrm_userpolicy_info), &t, why)))
			return err;
		out->ev = XFRM_EV_POL;
		if ((err = userpolicy_info(hdr, &out->pol, why)))
			return ignore_socket_policy(out, err);
		return parse_pol_attrs(&t, &out->pol, why);

	case XFRM_MSG_DELPOLICY:
		if ((err = parse_attrs(nlh, sizeof(struct xfrm_userpolicy_id), &t, why)))
			return err;
		out->ev = XFRM_EV_POL_DEL;
		if (t.a[XFRMA_POLICY]) {
			struct xfrm_userpolicy_info p;

			memcpy(&p, payload(&t, XFRMA_POLICY), sizeof(p));
			if ((err = userpolicy_info(&p, &out->pol, why)))
				return ignore_socket_policy(out, err);
		} else {
			const struct xfrm_userpolicy_id *id = hdr;

			memset(&out->pol, 0, sizeof(out->pol));
			if (socket_dir(id->dir))
				return ignore_socket_policy(out, SOCKET_POLICY);
			if (id->dir > XFRM_POLICY_FWD)
				return BAD("unknown policy direction");
			out->pol.sel = id->sel;
			out->pol.index = id->index;
			out->pol.dir = id->dir;
		}
		return parse_pol_attrs(&t, &out->pol, why);

	case XFRM_MSG_POLEXPIRE: {
		const struct xfrm_user_polexpire *pe = hdr;

		if ((err = parse_attrs(nlh, sizeof(*pe), &t, why)))
			return err;
		if (!pe->hard)
			return 0;	/* soft: the policy stays, nothing changes for xoff */
		out->ev = XFRM_EV_POL_DEL;
		if ((err = userpolicy_info(&pe->pol, &out->pol, why)))
			return ignore_socket_policy(out, err);
		return parse_pol_attrs(&t, &out->pol, why);
	}

	case XFRM_MSG_FLUSHPOLICY: {
		const struct xfrm_userpolicy_type *pt;

		if ((err = parse_attrs(nlh, 0, &t, why)))
			return err;
		out->ev = XFRM_EV_POL_FLUSH;
		pt = payload(&t, XFRMA_POLICY_TYPE);
		out->flush_pol_type = pt ? pt->type : XFRM_POLICY_TYPE_MAIN;
		return 0;
	}

	default:
		return 0;
	}
}

/* MAPPING (a NAT-T port change) and NEWAE (an SA's lifetime, as GETAE answers). */
static int parse_other_msg(const struct nlmsghdr *nlh, const void *hdr, struct xfrm_msg *out,
                           const char **why)
{
	struct attrs t;
	int err;

	switch (nlh->nlmsg_type) {
	case XFRM_MSG_MAPPING: {
		const struct xfrm_user_mapping *m = hdr;

		if ((err = parse_attrs(nlh, sizeof(*m), &t, why)))
			return err;
		if (check_family(m->id.family, why))
			return -EBADMSG;
		out->ev = XFRM_EV_MAPPING;
		out->map.daddr = m->id.daddr;
		out->map.spi = m->id.spi;
		out->map.family = m->id.family;
		out->map.proto = m->id.proto;
		out->map.reqid = m->reqid;
		out->map.old_saddr = m->old_saddr;
		out->map.new_saddr = m->new_saddr;
		out->map.old_sport = m->old_sport;
		out->map.new_sport = m->new_sport;
		return 0;
	}

	case XFRM_MSG_NEWAE: {
		const struct xfrm_aevent_id *id = hdr;
		const struct xfrm_lifetime_cur *lt;

		if ((err = parse_attrs(nlh, sizeof(*id), &t, why)))
			return err;
		if (check_family(id->sa_id.family, why))
			return -EBADMSG;
		out->ev = XFRM_EV_AE;
		out->ae.daddr = id->sa_id.daddr;
		out->ae.spi = id->sa_id.spi;
		out->ae.family = id->sa_id.family;
		out->ae.proto = id->sa_id.proto;
		if ((lt = payload(&t, XFRMA_LTIME_VAL))) {
			out->ae.has_ltime = true;
			memcpy(&out->ae.curlft, lt, sizeof(out->ae.curlft));
		}
		return 0;
	}

	default:
		return 0;
	}
}

int xfrm_parse(const struct nlmsghdr *nlh, struct xfrm_msg *out, const char **why)
{
	/* Messages sit at 4-byte offsets in a recv() buffer, but these headers hold 64-bit
	 * fields: read them from an aligned copy (each kind checks its length first). */
	union {
		struct xfrm_usersa_info		sa;
		struct xfrm_user_expire		expire;
		struct xfrm_userpolicy_info	pol;
		struct xfrm_user_polexpire	polexpire;
		struct xfrm_user_mapping	mapping;
		struct xfrm_aevent_id		ae;
		struct xfrm_userpolicy_id	polid;
		struct xoff_xfrm_user_migrate_state migst;
	} h;
	const void *hdr = &h;

	*why = NULL;
	memset(out, 0, sizeof(*out));
	out->type = nlh->nlmsg_type;
	if (nlh->nlmsg_len < MNL_NLMSG_HDRLEN)
		return BAD("message shorter than a netlink header");
	memset(&h, 0, sizeof(h));
	memcpy(&h, mnl_nlmsg_get_payload(nlh),
	       nlh->nlmsg_len - MNL_NLMSG_HDRLEN < sizeof(h) ? nlh->nlmsg_len - MNL_NLMSG_HDRLEN :
								sizeof(h));

	switch (nlh->nlmsg_type) {
	case XFRM_MSG_NEWSA:
	case XFRM_MSG_UPDSA:
	case XFRM_MSG_DELSA:
	case XFRM_MSG_EXPIRE:
	case XFRM_MSG_FLUSHSA:
		return parse_sa_msg(nlh, hdr, out, why);
	case XFRM_MSG_NEWPOLICY:
	case XFRM_MSG_UPDPOLICY:
	case XFRM_MSG_DELPOLICY:
	case XFRM_MSG_POLEXPIRE:
	case XFRM_MSG_FLUSHPOLICY:
		return parse_pol_msg(nlh, hdr, out, why);
	case XFRM_MSG_MAPPING:
	case XFRM_MSG_NEWAE:
		return parse_other_msg(nlh, hdr, out, why);
	case XFRM_MSG_MIGRATE:
		out->ev = XFRM_EV_MIGRATE;
		return parse_migrate(nlh, hdr, &out->mig, why);
	case XOFF_XFRM_MSG_MIGRATE_STATE:
		out->ev = XFRM_EV_MIGRATE;
		return parse_migrate_state(nlh, hdr, &out->mig, why);
	default:
		return 0;	/* XFRM_EV_NONE */
	}
}

static struct nlmsghdr *req(void *buf, __u16 type, __u16 flags, __u32 seq)
{
	struct nlmsghdr *nlh;

	memset(buf, 0, XFRM_REQ_BUF);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	return nlh;
}

static void put_mark(struct nlmsghdr *nlh, const struct xfrm_sa *sa)
{
	if (sa->has_mark)
		mnl_attr_put(nlh, XFRMA_MARK, sizeof(sa->mark), &sa->mark);
}

static void aevent_id(struct xfrm_aevent_id *id, const struct xfrm_sa *sa)
{
	id->sa_id.daddr = sa->daddr;
	id->sa_id.spi = sa->spi;
	id->sa_id.family = sa->family;
	id->sa_id.proto = sa->proto;
	id->saddr = sa->saddr;
	id->reqid = sa->reqid;
}

size_t xfrm_build_getae(void *buf, __u32 seq, const struct xfrm_sa *sa)
{
	struct nlmsghdr *nlh = req(buf, XFRM_MSG_GETAE, 0, seq);
	struct xfrm_aevent_id *id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));

	aevent_id(id, sa);
	id->flags = XFRM_AE_RVAL;	/* "give me the values", as iproute2's getae does */
	put_mark(nlh, sa);
	return nlh->nlmsg_len;
}

size_t xfrm_build_newae(void *buf, __u32 seq, const struct xfrm_sa *sa,
			const struct xfrm_lifetime_cur *cur)
{
	struct nlmsghdr *nlh = req(buf, XFRM_MSG_NEWAE, NLM_F_REPLACE | NLM_F_ACK, seq);
	struct xfrm_aevent_id *id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));

	aevent_id(id, sa);
	mnl_attr_put(nlh, XFRMA_LTIME_VAL, sizeof(*cur), cur);
	put_mark(nlh, sa);
	return nlh->nlmsg_len;
}

size_t xfrm_build_expire(void *buf, __u32 seq, const struct xfrm_sa *sa, bool hard)
{
	struct nlmsghdr *nlh = req(buf, XFRM_MSG_EXPIRE, NLM_F_ACK, seq);
	struct xfrm_user_expire *ue = mnl_nlmsg_put_extra_header(nlh, sizeof(*ue));

	ue->state.id.daddr = sa->daddr;
	ue->state.id.spi = sa->spi;
	ue->state.id.proto = sa->proto;
	ue->state.saddr = sa->saddr;
	ue->state.family = sa->family;
	ue->state.mode = sa->mode;
	ue->state.reqid = sa->reqid;
	ue->state.lft = sa->lft;
	ue->state.curlft = sa->curlft;
	ue->hard = hard;
	put_mark(nlh, sa);
	return nlh->nlmsg_len;
}

size_t xfrm_build_dump(void *buf, __u32 seq, __u16 type)
{
	struct nlmsghdr *nlh = req(buf, type, NLM_F_DUMP, seq);

	return nlh->nlmsg_len;
}

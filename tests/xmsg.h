/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Crafted XFRM netlink messages for the control-plane tests, laid out as the kernel's
 * xfrm_user.c builds them (header struct, then attributes). */
#ifndef XOFF_TESTS_XMSG_H
#define XOFF_TESTS_XMSG_H

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/xfrm.h>
#include <linux/udp.h>
#include "xfrm.h"

#define XMSG_BUF	4096

/* What a crafted SA message carries; zero fields are left out. */
struct xmsg_sa {
	int		family;		/* AF_INET (default) or AF_INET6 */
	const char	*dst, *src;	/* addresses as text */
	__u32		spi;		/* host order */
	__u8		proto;		/* 0: IPPROTO_ESP */
	__u8		mode;		/* XFRM_MODE_* */
	__u32		reqid;
	const char	*aead;		/* e.g. "rfc4106(gcm(aes))", icv_bits below */
	unsigned int	icv_bits;
	const char	*enc, *auth;	/* e.g. "cbc(aes)", "hmac(sha256)"; trunc_bits below */
	unsigned int	trunc_bits;
	__u16		encap;		/* UDP_ENCAP_ESPINUDP etc. */
	__u16		sport, dport;	/* encap ports, host order */
	int		offload_ifindex; /* XFRMA_OFFLOAD_DEV when non-zero */
	__u8		offload_flags;
	bool		mark;		/* XFRMA_MARK {mark_v, mark_m} */
	__u32		mark_v, mark_m;
	__u32		if_id;
	__u8		sa_dir;		/* XFRMA_SA_DIR: 1 in, 2 out */
	bool		pcpu;		/* XFRMA_SA_PCPU {pcpu_num}: a per-CPU SA */
	__u32		pcpu_num;
	__u64		soft_bytes, hard_bytes, soft_packets, hard_packets; /* 0: XFRM_INF */
	__u64		cur_bytes, cur_packets, add_time;
};

static inline void xmsg_addr(int family, const char *s, xfrm_address_t *a)
{
	memset(a, 0, sizeof(*a));
	if (s)
		inet_pton(family, s, a);
}

static inline void xmsg_usersa_info(const struct xmsg_sa *o, struct xfrm_usersa_info *p)
{
	int family = o->family ? o->family : AF_INET;

	memset(p, 0, sizeof(*p));
	xmsg_addr(family, o->dst, &p->id.daddr);
	xmsg_addr(family, o->src, &p->saddr);
	p->id.spi = htonl(o->spi);
	p->id.proto = o->proto ? o->proto : IPPROTO_ESP;
	p->family = family;
	p->mode = o->mode;
	p->reqid = o->reqid;
	p->replay_window = 32;
	p->lft.soft_byte_limit = o->soft_bytes ? o->soft_bytes : XFRM_INF;
	p->lft.hard_byte_limit = o->hard_bytes ? o->hard_bytes : XFRM_INF;
	p->lft.soft_packet_limit = o->soft_packets ? o->soft_packets : XFRM_INF;
	p->lft.hard_packet_limit = o->hard_packets ? o->hard_packets : XFRM_INF;
	p->curlft.bytes = o->cur_bytes;
	p->curlft.packets = o->cur_packets;
	p->curlft.add_time = o->add_time ? o->add_time : 1700000000;
}

static inline void xmsg_put_alg(struct nlmsghdr *nlh, int type, const char *name,
				unsigned int extra_bits)
{
	/* A 16-byte key of 0xaa bytes: key material the parser must never keep. */
	char buf[sizeof(struct xfrm_algo_aead) + 16];
	size_t hdr;

	memset(buf, 0, sizeof(buf));
	strncpy(buf, name, 63);
	if (type == XFRMA_ALG_AEAD) {
		struct xfrm_algo_aead *a = (void *)buf;

		a->alg_key_len = 128;
		a->alg_icv_len = extra_bits;
		hdr = sizeof(*a);
	} else if (type == XFRMA_ALG_AUTH_TRUNC) {
		struct xfrm_algo_auth *a = (void *)buf;

		a->alg_key_len = 128;
		a->alg_trunc_len = extra_bits;
		hdr = sizeof(*a);
	} else {
		struct xfrm_algo *a = (void *)buf;

		a->alg_key_len = 128;
		hdr = sizeof(*a);
	}
	memset(buf + hdr, 0xaa, 16);
	mnl_attr_put(nlh, type, hdr + 16, buf);
}

/* The attributes copy_to_user_state_extra() emits, in its order. */
static inline void xmsg_sa_attrs(struct nlmsghdr *nlh, const struct xmsg_sa *o)
{
	if (o->aead)
		xmsg_put_alg(nlh, XFRMA_ALG_AEAD, o->aead, o->icv_bits);
	if (o->auth) {
		xmsg_put_alg(nlh, XFRMA_ALG_AUTH, o->auth, 0);
		xmsg_put_alg(nlh, XFRMA_ALG_AUTH_TRUNC, o->auth, o->trunc_bits);
	}
	if (o->enc)
		xmsg_put_alg(nlh, XFRMA_ALG_CRYPT, o->enc, 0);
	if (o->encap) {
		struct xfrm_encap_tmpl e = { .encap_type = o->encap,
					     .encap_sport = htons(o->sport),
					     .encap_dport = htons(o->dport) };

		mnl_attr_put(nlh, XFRMA_ENCAP, sizeof(e), &e);
	}
	if (o->mark) {
		struct xfrm_mark m = { o->mark_v, o->mark_m };

		mnl_attr_put(nlh, XFRMA_MARK, sizeof(m), &m);
	}
	if (o->offload_ifindex) {
		struct xfrm_user_offload uo = { .ifindex = o->offload_ifindex,
						.flags = o->offload_flags };

		mnl_attr_put(nlh, XFRMA_OFFLOAD_DEV, sizeof(uo), &uo);
	}
	if (o->if_id)
		mnl_attr_put_u32(nlh, XFRMA_IF_ID, o->if_id);
	if (o->sa_dir)
		mnl_attr_put_u8(nlh, XOFF_XFRMA_SA_DIR, o->sa_dir);
	if (o->pcpu)
		mnl_attr_put_u32(nlh, XOFF_XFRMA_SA_PCPU, o->pcpu_num);
}

static inline struct nlmsghdr *xmsg_hdr(void *buf, __u16 type)
{
	struct nlmsghdr *nlh;

	memset(buf, 0, XMSG_BUF);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	return nlh;
}

/* NEWSA (or UPDSA): xfrm_usersa_info then attributes. */
static inline struct nlmsghdr *xmsg_newsa(void *buf, __u16 type, const struct xmsg_sa *o)
{
	struct nlmsghdr *nlh = xmsg_hdr(buf, type);

	xmsg_usersa_info(o, mnl_nlmsg_put_extra_header(nlh, sizeof(struct xfrm_usersa_info)));
	xmsg_sa_attrs(nlh, o);
	return nlh;
}

/* DELSA notification: xfrm_usersa_id, XFRMA_SA with the full info, then attributes. */
static inline struct nlmsghdr *xmsg_delsa(void *buf, const struct xmsg_sa *o)
{
	struct nlmsghdr *nlh = xmsg_hdr(buf, XFRM_MSG_DELSA);
	struct xfrm_usersa_id *id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	struct xfrm_usersa_info p;

	xmsg_usersa_info(o, &p);
	id->daddr = p.id.daddr;
	id->spi = p.id.spi;
	id->family = p.family;
	id->proto = p.id.proto;
	mnl_attr_put(nlh, XFRMA_SA, sizeof(p), &p);
	xmsg_sa_attrs(nlh, o);
	return nlh;
}

/* EXPIRE as build_expire() sends it: xfrm_user_expire, then MARK. */
static inline struct nlmsghdr *xmsg_expire(void *buf, const struct xmsg_sa *o, bool hard)
{
	struct nlmsghdr *nlh = xmsg_hdr(buf, XFRM_MSG_EXPIRE);
	struct xfrm_user_expire *ue = mnl_nlmsg_put_extra_header(nlh, sizeof(*ue));

	xmsg_usersa_info(o, &ue->state);
	ue->hard = hard;
	if (o->mark) {
		struct xfrm_mark m = { o->mark_v, o->mark_m };

		mnl_attr_put(nlh, XFRMA_MARK, sizeof(m), &m);
	}
	return nlh;
}

static inline struct nlmsghdr *xmsg_flushsa(void *buf, __u8 proto)
{
	struct nlmsghdr *nlh = xmsg_hdr(buf, XFRM_MSG_FLUSHSA);
	struct xfrm_usersa_flush *f = mnl_nlmsg_put_extra_header(nlh, sizeof(*f));

	f->proto = proto;
	return nlh;
}

struct xmsg_tmpl {
	const char	*dst, *src;
	__u32		reqid;
	__u8		mode;
	__u32		spi;		/* host order, usually 0 */
};

struct xmsg_pol {
	int		family;		/* AF_INET (default) or AF_INET6 */
	const char	*sel_dst, *sel_src;
	__u8		prefix_d, prefix_s;
	__u8		dir;		/* XFRM_POLICY_IN/OUT/FWD */
	__u32		index, priority;
	__u8		flags;		/* XFRM_POLICY_LOCALOK, _ICMP, XOFF_..._CPU_ACQUIRE */
	int		offload_ifindex; /* XFRMA_OFFLOAD_DEV with flags below */
	__u8		offload_flags;
	unsigned int	ntmpl;
	struct xmsg_tmpl tmpl[6];
};

static inline void xmsg_userpolicy_info(const struct xmsg_pol *o, struct xfrm_userpolicy_info *p)
{
	int family = o->family ? o->family : AF_INET;

	memset(p, 0, sizeof(*p));
	p->sel.family = family;
	xmsg_addr(family, o->sel_dst, &p->sel.daddr);
	xmsg_addr(family, o->sel_src, &p->sel.saddr);
	p->sel.prefixlen_d = o->prefix_d;
	p->sel.prefixlen_s = o->prefix_s;
	p->lft.soft_byte_limit = p->lft.hard_byte_limit = XFRM_INF;
	p->lft.soft_packet_limit = p->lft.hard_packet_limit = XFRM_INF;
	p->dir = o->dir;
	p->index = o->index;
	p->priority = o->priority;
	p->flags = o->flags;
	p->action = XFRM_POLICY_ALLOW;
}

static inline void xmsg_pol_attrs(struct nlmsghdr *nlh, const struct xmsg_pol *o)
{
	int family = o->family ? o->family : AF_INET;

	if (o->ntmpl) {
		struct xfrm_user_tmpl t[6];
		unsigned int i;

		memset(t, 0, sizeof(t));
		for (i = 0; i < o->ntmpl && i < 6; i++) {
			xmsg_addr(family, o->tmpl[i].dst, &t[i].id.daddr);
			xmsg_addr(family, o->tmpl[i].src, &t[i].saddr);
			t[i].id.spi = htonl(o->tmpl[i].spi);
			t[i].id.proto = IPPROTO_ESP;
			t[i].family = family;
			t[i].reqid = o->tmpl[i].reqid;
			t[i].mode = o->tmpl[i].mode;
			t[i].aalgos = t[i].ealgos = t[i].calgos = ~0U;
		}
		mnl_attr_put(nlh, XFRMA_TMPL, sizeof(t[0]) * o->ntmpl, t);
	}
	if (o->offload_ifindex) {
		struct xfrm_user_offload uo = { .ifindex = o->offload_ifindex,
						.flags = o->offload_flags };

		mnl_attr_put(nlh, XFRMA_OFFLOAD_DEV, sizeof(uo), &uo);
	}
}

static inline struct nlmsghdr *xmsg_newpolicy(void *buf, const struct xmsg_pol *o)
{
	struct nlmsghdr *nlh = xmsg_hdr(buf, XFRM_MSG_NEWPOLICY);

	xmsg_userpolicy_info(o, mnl_nlmsg_put_extra_header(nlh,
							   sizeof(struct xfrm_userpolicy_info)));
	xmsg_pol_attrs(nlh, o);
	return nlh;
}

/* DELPOLICY notification: xfrm_userpolicy_id, XFRMA_POLICY, then attributes. */
static inline struct nlmsghdr *xmsg_delpolicy(void *buf, const struct xmsg_pol *o)
{
	struct nlmsghdr *nlh = xmsg_hdr(buf, XFRM_MSG_DELPOLICY);
	struct xfrm_userpolicy_id *id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	struct xfrm_userpolicy_info p;

	xmsg_userpolicy_info(o, &p);
	id->index = o->index;
	id->dir = o->dir;
	mnl_attr_put(nlh, XFRMA_POLICY, sizeof(p), &p);
	xmsg_pol_attrs(nlh, o);
	return nlh;
}

static inline struct nlmsghdr *xmsg_flushpolicy(void *buf)
{
	return xmsg_hdr(buf, XFRM_MSG_FLUSHPOLICY);
}

/* One entry of a MIGRATE: the SA(s) of the old addresses move to the new ones. */
struct xmsg_move {
	int		old_family, new_family;	/* 0: the message's family */
	const char	*old_src, *old_dst, *new_src, *new_dst;
	__u8		proto;		/* 0: IPPROTO_ESP */
	__u8		mode;		/* XFRM_MODE_* */
	__u32		reqid;
};

struct xmsg_migrate {
	int		family;		/* AF_INET (default) or AF_INET6 */
	const char	*sel_src, *sel_dst;	/* the policy's selector */
	__u8		prefix_s, prefix_d;
	__u8		dir;		/* XFRM_POLICY_* */
	bool		request;	/* entries as one XFRMA_MIGRATE array, as a request has them */
	bool		kmaddress;	/* XFRMA_KMADDRESS, as Mobile IPv6 sends it */
	__u16		encap;		/* XFRMA_ENCAP of this type, ports below */
	__u16		sport, dport;
	unsigned int	n;
	struct xmsg_move m[8];
};

static inline void xmsg_user_migrate(const struct xmsg_migrate *o, const struct xmsg_move *mv,
				     struct xfrm_user_migrate *um)
{
	int family = o->family ? o->family : AF_INET;
	int of = mv->old_family ? mv->old_family : family;
	int nf = mv->new_family ? mv->new_family : family;

	memset(um, 0, sizeof(*um));
	xmsg_addr(of, mv->old_dst, &um->old_daddr);
	xmsg_addr(of, mv->old_src, &um->old_saddr);
	xmsg_addr(nf, mv->new_dst, &um->new_daddr);
	xmsg_addr(nf, mv->new_src, &um->new_saddr);
	um->proto = mv->proto ? mv->proto : IPPROTO_ESP;
	um->mode = mv->mode;
	um->reqid = mv->reqid;
	um->old_family = of;
	um->new_family = nf;
}

/* MIGRATE as build_migrate() announces it: xfrm_userpolicy_id, KMADDRESS, ENCAP,
 * POLICY_TYPE, then one XFRMA_MIGRATE per entry (o->request: one array of them). */
static inline struct nlmsghdr *xmsg_migrate(void *buf, const struct xmsg_migrate *o)
{
	int family = o->family ? o->family : AF_INET;
	struct nlmsghdr *nlh = xmsg_hdr(buf, XFRM_MSG_MIGRATE);
	struct xfrm_userpolicy_id *id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	struct xfrm_userpolicy_type pt = { .type = XFRM_POLICY_TYPE_MAIN };
	struct xfrm_user_migrate um[8];
	unsigned int i;

	id->sel.family = family;
	xmsg_addr(family, o->sel_src, &id->sel.saddr);
	xmsg_addr(family, o->sel_dst, &id->sel.daddr);
	id->sel.prefixlen_s = o->prefix_s;
	id->sel.prefixlen_d = o->prefix_d;
	id->dir = o->dir;
	if (o->kmaddress) {
		struct xfrm_user_kmaddress k = { .family = family };

		xmsg_addr(family, o->m[0].new_src, &k.local);
		xmsg_addr(family, o->m[0].new_dst, &k.remote);
		mnl_attr_put(nlh, XFRMA_KMADDRESS, sizeof(k), &k);
	}
	if (o->encap) {
		struct xfrm_encap_tmpl e = { .encap_type = o->encap,
					     .encap_sport = htons(o->sport),
					     .encap_dport = htons(o->dport) };

		mnl_attr_put(nlh, XFRMA_ENCAP, sizeof(e), &e);
	}
	if (!o->request)
		mnl_attr_put(nlh, XFRMA_POLICY_TYPE, sizeof(pt), &pt);
	for (i = 0; i < o->n && i < 8; i++)
		xmsg_user_migrate(o, &o->m[i], &um[i]);
	if (o->request) {
		mnl_attr_put(nlh, XFRMA_MIGRATE, sizeof(um[0]) * i, um);
	} else {
		for (i = 0; i < o->n && i < 8; i++)
			mnl_attr_put(nlh, XFRMA_MIGRATE, sizeof(um[i]), &um[i]);
	}
	return nlh;
}

/* MIGRATE_STATE (7.2) as build_migrate_state() announces it: the header, then
 * XFRMA_MARK when a new mark was set and XFRMA_SA_DIR. */
static inline struct nlmsghdr *xmsg_migrate_state(void *buf, const struct xmsg_sa *o,
						  const char *new_src, const char *new_dst)
{
	int family = o->family ? o->family : AF_INET;
	struct nlmsghdr *nlh = xmsg_hdr(buf, XOFF_XFRM_MSG_MIGRATE_STATE);
	struct xoff_xfrm_user_migrate_state *um = mnl_nlmsg_put_extra_header(nlh, sizeof(*um));

	xmsg_addr(family, o->dst, &um->id.daddr);
	um->id.spi = htonl(o->spi);
	um->id.family = family;
	um->id.proto = o->proto ? o->proto : IPPROTO_ESP;
	xmsg_addr(family, new_dst, &um->new_daddr);
	xmsg_addr(family, new_src, &um->new_saddr);
	um->old_mark.v = o->mark_v;
	um->old_mark.m = o->mark_m;
	um->new_reqid = o->reqid;
	um->new_family = family;
	if (o->sa_dir)
		mnl_attr_put_u8(nlh, XOFF_XFRMA_SA_DIR, o->sa_dir);
	return nlh;
}

/* Send @nlh to this namespace's kernel as a request and wait for its ack: 0 or the
 * kernel's -errno (-errno of the socket calls when it did not get that far). */
static inline int xmsg_request(struct nlmsghdr *nlh)
{
	char ack[8192] __attribute__((aligned(8)));
	struct mnl_socket *nl = mnl_socket_open(NETLINK_XFRM);
	int err = -EIO;
	ssize_t len;

	if (!nl)
		return -errno;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = 1;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) || mnl_socket_sendto(nl, nlh,
									  nlh->nlmsg_len) < 0) {
		err = -errno;
	} else if ((len = mnl_socket_recvfrom(nl, ack, sizeof(ack))) < 0) {
		err = -errno;
	} else if (len >= (ssize_t)mnl_nlmsg_size(sizeof(struct nlmsgerr)) &&
		   ((struct nlmsghdr *)ack)->nlmsg_type == NLMSG_ERROR) {
		err = ((struct nlmsgerr *)mnl_nlmsg_get_payload((struct nlmsghdr *)ack))->error;
	}
	mnl_socket_close(nl);
	return err;
}

#endif /* XOFF_TESTS_XMSG_H */

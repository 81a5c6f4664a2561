// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The XFRM netlink parser and request builders, fed messages laid out as the kernel's. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <linux/ipsec.h>
#include "xoff/abi.h"
#include "xmsg.h"

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

#define ENCAP_ESPINTCP	7	/* UDP_ENCAP_ESPINTCP */

TestSuite(xfrm);

/* ---- Parsing helpers ---- */

/* The key bytes xmsg.h and put_alg() put after every algorithm. */
static const unsigned char key16[16] = {
	0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
	0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
};

static void expect_no_key(const struct xfrm_msg *m)
{
	cr_expect_null(memmem(m, sizeof(*m), key16, sizeof(key16)),
		       "message type %u: key material in the parsed struct xfrm_msg", m->type);
}

/* Parse a copy of exactly the message's bytes, so a read past it shows under ASan, into
 * an output filled with garbage first; no parse may leave key bytes behind. */
static int parse(const struct nlmsghdr *nlh, struct xfrm_msg *m, const char **why)
{
	size_t len = nlh->nlmsg_len > sizeof(*nlh) ? nlh->nlmsg_len : sizeof(*nlh);
	struct nlmsghdr *copy = malloc(len);
	int ret;

	cr_assert_not_null(copy);
	memcpy(copy, nlh, len);
	memset(m, 0x5c, sizeof(*m));
	ret = xfrm_parse(copy, m, why);
	free(copy);
	expect_no_key(m);
	return ret;
}

static void parse_ok(const struct nlmsghdr *nlh, struct xfrm_msg *m)
{
	const char *why = "not reset";
	int ret = parse(nlh, m, &why);

	cr_assert_eq(ret, 0, "type %u rejected: %d (%s)", nlh->nlmsg_type, ret,
		     why ? why : "no reason");
	cr_expect_null(why, "type %u accepted with a reason: %s", nlh->nlmsg_type, why);
	cr_expect_eq(m->type, nlh->nlmsg_type);
}

/* -EBADMSG with a reason that contains @text (any reason when NULL). */
static void parse_bad(const struct nlmsghdr *nlh, const char *text)
{
	struct xfrm_msg m;
	const char *why = NULL;
	int ret = parse(nlh, &m, &why);

	cr_assert_eq(ret, -EBADMSG, "type %u: %d, expected -EBADMSG (%s)", nlh->nlmsg_type, ret,
		     text ? text : "");
	cr_assert_not_null(why, "type %u rejected without a reason", nlh->nlmsg_type);
	cr_expect_neq(why[0], '\0');
	if (text)
		cr_expect_not_null(strstr(why, text), "reason \"%s\" does not mention \"%s\"", why,
				   text);
}

/* -EBADMSG with a reason that names @attr: "XFRMA_MARK: ...". */
static void parse_bad_attr(const struct nlmsghdr *nlh, const char *attr)
{
	struct xfrm_msg m;
	const char *why = NULL;
	size_t n = strlen(attr);
	int ret = parse(nlh, &m, &why);

	cr_assert_eq(ret, -EBADMSG, "type %u, %s: %d, expected -EBADMSG", nlh->nlmsg_type, attr,
		     ret);
	cr_assert_not_null(why, "type %u, %s: rejected without a reason", nlh->nlmsg_type, attr);
	cr_expect(!strncmp(why, attr, n) && why[n] == ':', "reason \"%s\" does not name %s", why,
		  attr);
}

static struct nlattr *find_attr(struct nlmsghdr *nlh, size_t hdrlen, __u16 type)
{
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, hdrlen)
		if (mnl_attr_get_type(a) == type)
			return a;
	return NULL;
}

static size_t alg_hdr(__u16 type)
{
	return type == XFRMA_ALG_AEAD ? sizeof(struct xfrm_algo_aead) :
	       type == XFRMA_ALG_AUTH_TRUNC ? sizeof(struct xfrm_algo_auth) :
	       sizeof(struct xfrm_algo);
}

/* An algorithm attribute of @len payload bytes: at most 64 bytes of @name (a longer name
 * fills alg_name without a NUL), @bits as ICV or truncation length, then 0xaa key bytes. */
static void put_alg(struct nlmsghdr *nlh, __u16 type, const char *name, unsigned int bits,
		    size_t len)
{
	union {
		struct xfrm_algo	a;
		struct xfrm_algo_aead	aead;
		struct xfrm_algo_auth	auth;
		unsigned char		b[sizeof(struct xfrm_algo_aead) + 64];
	} u;
	size_t hdr = alg_hdr(type), n = strlen(name);

	cr_assert_leq(len, sizeof(u.b));
	memset(&u, 0, sizeof(u));
	memcpy(u.a.alg_name, name, n < sizeof(u.a.alg_name) ? n : sizeof(u.a.alg_name));
	u.a.alg_key_len = 128;
	if (type == XFRMA_ALG_AEAD)
		u.aead.alg_icv_len = bits;
	else if (type == XFRMA_ALG_AUTH_TRUNC)
		u.auth.alg_trunc_len = bits;
	memset(u.b + hdr, 0xaa, sizeof(u.b) - hdr);
	mnl_attr_put(nlh, type, len, u.b);
}

static void put_offload(struct nlmsghdr *nlh, int ifindex, __u8 flags)
{
	struct xfrm_user_offload uo = { .ifindex = ifindex, .flags = flags };

	mnl_attr_put(nlh, XFRMA_OFFLOAD_DEV, sizeof(uo), &uo);
}

static void expect_addr(const xfrm_address_t *got, int family, const char *text)
{
	xfrm_address_t want;

	xmsg_addr(family, text, &want);
	cr_expect_arr_eq(got, &want, sizeof(want), "address is not %s", text);
}

/* ---- SA messages of every kind that carries an SA ---- */

enum sa_kind {
	K_NEWSA,
	K_UPDSA,
	K_DELSA,	/* xfrm_usersa_id, XFRMA_SA, attributes: the kernel's notification */
	K_DELSA_ID,	/* xfrm_usersa_id and attributes, no XFRMA_SA */
	K_EXPIRE_SOFT,
	K_EXPIRE_HARD,
	K_NKINDS,
};

static const char *const kind_name[K_NKINDS] = {
	"NEWSA", "UPDSA", "DELSA", "DELSA without XFRMA_SA", "EXPIRE soft", "EXPIRE hard",
};

static size_t kind_hdrlen(enum sa_kind k)
{
	switch (k) {
	case K_NEWSA:
	case K_UPDSA:
		return sizeof(struct xfrm_usersa_info);
	case K_DELSA:
	case K_DELSA_ID:
		return sizeof(struct xfrm_usersa_id);
	default:
		return sizeof(struct xfrm_user_expire);
	}
}

static enum xfrm_event kind_ev(enum sa_kind k)
{
	return k == K_NEWSA || k == K_UPDSA ? XFRM_EV_SA :
	       k == K_EXPIRE_SOFT ? XFRM_EV_SA_SOFT : XFRM_EV_SA_DEL;
}

static struct nlmsghdr *sa_msg(void *buf, enum sa_kind k, const struct xmsg_sa *o)
{
	struct xmsg_sa nomark = *o;
	struct nlmsghdr *nlh;

	switch (k) {
	case K_NEWSA:
		return xmsg_newsa(buf, XFRM_MSG_NEWSA, o);
	case K_UPDSA:
		return xmsg_newsa(buf, XFRM_MSG_UPDSA, o);
	case K_DELSA:
		return xmsg_delsa(buf, o);
	case K_DELSA_ID: {
		struct xfrm_usersa_info p;
		struct xfrm_usersa_id *id;

		nlh = xmsg_hdr(buf, XFRM_MSG_DELSA);
		id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
		xmsg_usersa_info(o, &p);
		id->daddr = p.id.daddr;
		id->spi = p.id.spi;
		id->family = p.family;
		id->proto = p.id.proto;
		xmsg_sa_attrs(nlh, o);
		return nlh;
	}
	default:
		/* What build_expire() sends (it carries the mark), then the SA's other
		 * attributes, which the parser reads beside any SA. */
		nomark.mark = false;
		nlh = xmsg_expire(buf, &nomark, k == K_EXPIRE_HARD);
		xmsg_sa_attrs(nlh, o);
		return nlh;
	}
}

/* The xfrm_usersa_info of a message, to corrupt it; NULL for DELSA without XFRMA_SA. */
static struct xfrm_usersa_info *sa_info(struct nlmsghdr *nlh, enum sa_kind k)
{
	struct nlattr *a;

	switch (k) {
	case K_NEWSA:
	case K_UPDSA:
		return mnl_nlmsg_get_payload(nlh);
	case K_DELSA:
		a = find_attr(nlh, kind_hdrlen(k), XFRMA_SA);
		cr_assert_not_null(a);
		return mnl_attr_get_payload(a);
	case K_DELSA_ID:
		return NULL;
	default:
		return &((struct xfrm_user_expire *)mnl_nlmsg_get_payload(nlh))->state;
	}
}

static const struct xmsg_sa sa4 = {
	.family = AF_INET, .dst = "192.0.2.1", .src = "198.51.100.2", .spi = 0x01020304,
	.mode = XFRM_MODE_TUNNEL, .reqid = 7,
};

/* ---- SA identity, addresses and header values ---- */

struct sa_case {
	int family;
	char dst[40], src[40];
	__u32 spi;
	__u8 proto, mode;
	__u16 type;
};

ParameterizedTestParameters(xfrm, sa_header)
{
	static struct sa_case cases[] = {
		{ .family = AF_INET, .dst = "192.0.2.1", .src = "198.51.100.2",
		  .spi = 0x01020304, .proto = IPPROTO_ESP, .mode = XFRM_MODE_TUNNEL,
		  .type = XFRM_MSG_NEWSA },
		{ .family = AF_INET, .dst = "10.0.0.1", .src = "10.0.0.2", .spi = 1,
		  .proto = IPPROTO_ESP, .mode = XFRM_MODE_TRANSPORT, .type = XFRM_MSG_UPDSA },
		{ .family = AF_INET, .dst = "203.0.113.255", .src = "0.0.0.0",
		  .spi = 0xffffffff, .proto = IPPROTO_AH, .mode = XFRM_MODE_ROUTEOPTIMIZATION,
		  .type = XFRM_MSG_NEWSA },
		{ .family = AF_INET6, .dst = "2001:db8::1", .src = "2001:db8:ffff::2",
		  .spi = 0xdeadbeef, .proto = IPPROTO_ESP, .mode = XFRM_MODE_TUNNEL,
		  .type = XFRM_MSG_NEWSA },
		{ .family = AF_INET6, .dst = "fe80::1:2:3:4", .src = "::1", .spi = 0x100,
		  .proto = IPPROTO_COMP, .mode = XFRM_MODE_BEET, .type = XFRM_MSG_UPDSA },
		{ .family = AF_INET6, .dst = "ff02::1", .src = "2001:db8::9", .spi = 0x80000000,
		  .proto = IPPROTO_ESP, .mode = XFRM_MODE_IN_TRIGGER, .type = XFRM_MSG_NEWSA },
	};

	return cr_make_param_array(struct sa_case, cases, ARRAY_SIZE(cases));
}

ParameterizedTest(struct sa_case *c, xfrm, sa_header)
{
	struct xmsg_sa o = {
		.family = c->family, .dst = c->dst, .src = c->src, .spi = c->spi,
		.proto = c->proto, .mode = c->mode, .reqid = 0x7fff0001,
		.soft_bytes = 1 << 20, .hard_bytes = 2 << 20, .soft_packets = 1000,
		.hard_packets = 2000, .cur_bytes = 4321, .cur_packets = 12, .add_time = 1700000123,
	};
	char buf[XMSG_BUF];
	struct xfrm_msg m;
	const __u8 *spi;

	parse_ok(xmsg_newsa(buf, c->type, &o), &m);
	cr_expect_eq(m.ev, XFRM_EV_SA);
	cr_expect_eq(m.sa.family, c->family);
	expect_addr(&m.sa.daddr, c->family, c->dst);
	expect_addr(&m.sa.saddr, c->family, c->src);
	cr_expect_eq(m.sa.spi, htonl(c->spi));
	spi = (const __u8 *)&m.sa.spi;	/* network order in memory */
	cr_expect(spi[0] == (c->spi >> 24) && spi[1] == (__u8)(c->spi >> 16) &&
		  spi[2] == (__u8)(c->spi >> 8) && spi[3] == (__u8)c->spi,
		  "SPI bytes %02x%02x%02x%02x, expected %08x", spi[0], spi[1], spi[2], spi[3],
		  c->spi);
	cr_expect_eq(m.sa.proto, c->proto);
	cr_expect_eq(m.sa.mode, c->mode);
	cr_expect_eq(m.sa.reqid, 0x7fff0001);
	cr_expect_eq(m.sa.replay_window, 32);
	cr_expect_eq(m.sa.lft.soft_byte_limit, 1 << 20);
	cr_expect_eq(m.sa.lft.hard_byte_limit, 2 << 20);
	cr_expect_eq(m.sa.lft.soft_packet_limit, 1000);
	cr_expect_eq(m.sa.lft.hard_packet_limit, 2000);
	cr_expect_eq(m.sa.curlft.bytes, 4321);
	cr_expect_eq(m.sa.curlft.packets, 12);
	cr_expect_eq(m.sa.curlft.add_time, 1700000123);
	cr_expect_eq(m.sa.dir, XFRM_DIR_UNKNOWN);
	cr_expect_eq(m.sa.dir_source, XFRM_DIR_FROM_NONE);
}

Test(xfrm, sa_flags_copied)
{
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &sa4);
	struct xfrm_usersa_info *p = mnl_nlmsg_get_payload(nlh);
	struct xfrm_msg m;

	p->flags = XFRM_STATE_ESN | XFRM_STATE_AF_UNSPEC;
	p->replay_window = 64;
	parse_ok(nlh, &m);
	cr_expect_eq(m.sa.flags, XFRM_STATE_ESN | XFRM_STATE_AF_UNSPEC);
	cr_expect_eq(m.sa.replay_window, 64);
}

struct sa_bad_case {
	unsigned int kind;	/* enum sa_kind */
	__u16 family;
	__u8 mode;
	char what[16];
};

ParameterizedTestParameters(xfrm, sa_bad_header)
{
	static const __u16 families[] = { AF_UNSPEC, AF_UNIX, AF_PACKET, 255 };
	static const __u8 modes[] = { XFRM_MODE_MAX, 255 };
	static struct sa_bad_case cases[K_NKINDS * (ARRAY_SIZE(families) + ARRAY_SIZE(modes))];
	size_t n = 0, i;
	unsigned int k;

	for (k = 0; k < K_NKINDS; k++) {
		for (i = 0; i < ARRAY_SIZE(families); i++)
			cases[n++] = (struct sa_bad_case){ .kind = k, .family = families[i],
							   .mode = XFRM_MODE_TUNNEL,
							   .what = "family" };
		if (k == K_DELSA_ID)	/* an SA id has no mode */
			continue;
		for (i = 0; i < ARRAY_SIZE(modes); i++)
			cases[n++] = (struct sa_bad_case){ .kind = k, .family = AF_INET,
							   .mode = modes[i], .what = "mode" };
	}
	return cr_make_param_array(struct sa_bad_case, cases, n);
}

ParameterizedTest(struct sa_bad_case *c, xfrm, sa_bad_header)
{
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh = sa_msg(buf, c->kind, &sa4);
	struct xfrm_usersa_info *p = sa_info(nlh, c->kind);

	if (p) {
		p->family = c->family;
		p->mode = c->mode;
	} else {
		((struct xfrm_usersa_id *)mnl_nlmsg_get_payload(nlh))->family = c->family;
	}
	cr_log_info("%s, family %u, mode %u", kind_name[c->kind], c->family, c->mode);
	parse_bad(nlh, c->what);
}

/* ---- Every SA attribute xoff reads: present, truncated, oversized ---- */

static const struct attr_def {
	__u16		type;
	const char	*name;
	size_t		size;	/* the struct (or scalar) the parser reads */
	bool		exact;	/* a scalar: any other size is wrong */
} attr_defs[] = {
	{ XFRMA_ALG_AEAD, "XFRMA_ALG_AEAD", sizeof(struct xfrm_algo_aead), false },
	{ XFRMA_ALG_CRYPT, "XFRMA_ALG_CRYPT", sizeof(struct xfrm_algo), false },
	{ XFRMA_ALG_AUTH, "XFRMA_ALG_AUTH", sizeof(struct xfrm_algo), false },
	{ XFRMA_ALG_AUTH_TRUNC, "XFRMA_ALG_AUTH_TRUNC", sizeof(struct xfrm_algo_auth), false },
	{ XFRMA_ENCAP, "XFRMA_ENCAP", sizeof(struct xfrm_encap_tmpl), false },
	{ XFRMA_OFFLOAD_DEV, "XFRMA_OFFLOAD_DEV", sizeof(struct xfrm_user_offload), false },
	{ XFRMA_MARK, "XFRMA_MARK", sizeof(struct xfrm_mark), false },
	{ XFRMA_IF_ID, "XFRMA_IF_ID", sizeof(__u32), true },
	{ XFRMA_REPLAY_ESN_VAL, "XFRMA_REPLAY_ESN_VAL", sizeof(struct xfrm_replay_state_esn),
	  false },
	{ XOFF_XFRMA_SA_DIR, "XFRMA_SA_DIR", sizeof(__u8), true },
	{ XOFF_XFRMA_SA_PCPU, "XFRMA_SA_PCPU", sizeof(__u32), true },
	{ XFRMA_LTIME_VAL, "XFRMA_LTIME_VAL", sizeof(struct xfrm_lifetime_cur), false },
};

#define N_SA_ATTRS	(ARRAY_SIZE(attr_defs) - 1)	/* all but LTIME_VAL (NEWAE) */

enum form { F_EXACT, F_SHORT, F_LONG, F_NFORMS };
static const char *const form_name[F_NFORMS] = { "exact", "one byte short", "oversized" };

static const struct xfrm_lifetime_cur ltime = {
	.bytes = 987654321, .packets = 4242, .add_time = 1700000000, .use_time = 1700000050,
};

/* The attribute with a valid value, its struct's size or one byte less, or followed by
 * more bytes: key bytes after an algorithm, junk after anything else. */
static void put_form(struct nlmsghdr *nlh, const struct attr_def *d, enum form f)
{
	size_t len = f == F_SHORT ? d->size - 1 : f == F_EXACT ? d->size :
		     d->size + (d->exact ? 1 : 20);
	union {
		struct xfrm_encap_tmpl		encap;
		struct xfrm_user_offload	uo;
		struct xfrm_mark		mark;
		__u32				u32;
		struct xfrm_replay_state_esn	esn;
		__u8				u8;
		struct xfrm_lifetime_cur	lt;
		unsigned char			b[256];
	} u;

	memset(&u, 0x5a, sizeof(u));
	switch (d->type) {
	case XFRMA_ALG_AEAD:
		put_alg(nlh, d->type, "rfc4106(gcm(aes))", 128, len);
		return;
	case XFRMA_ALG_CRYPT:
		put_alg(nlh, d->type, "cbc(aes)", 0, len);
		return;
	case XFRMA_ALG_AUTH:
		put_alg(nlh, d->type, "hmac(sha256)", 0, len);
		return;
	case XFRMA_ALG_AUTH_TRUNC:
		put_alg(nlh, d->type, "hmac(sha256)", 128, len);
		return;
	case XFRMA_ENCAP:
		memset(&u.encap, 0, sizeof(u.encap));
		u.encap.encap_type = UDP_ENCAP_ESPINUDP;
		u.encap.encap_sport = htons(4500);
		u.encap.encap_dport = htons(4501);
		break;
	case XFRMA_OFFLOAD_DEV:
		memset(&u.uo, 0, sizeof(u.uo));
		u.uo.ifindex = 7;
		u.uo.flags = XFRM_OFFLOAD_INBOUND | XFRM_OFFLOAD_PACKET;
		break;
	case XFRMA_MARK:
		u.mark = (struct xfrm_mark){ .v = 0x12, .m = 0xff };
		break;
	case XFRMA_IF_ID:
		u.u32 = 42;
		break;
	case XFRMA_REPLAY_ESN_VAL:
		memset(&u.esn, 0, sizeof(u.esn));
		u.esn.oseq = 5;
		u.esn.seq = 6;
		u.esn.replay_window = 2048;
		break;
	case XOFF_XFRMA_SA_DIR:
		u.u8 = XOFF_XFRM_SA_DIR_OUT;
		break;
	case XOFF_XFRMA_SA_PCPU:
		u.u32 = 3;
		break;
	case XFRMA_LTIME_VAL:
		u.lt = ltime;
		break;
	}
	cr_assert_leq(len, sizeof(u.b));
	mnl_attr_put(nlh, d->type, len, u.b);
}

/* What put_form() put, as the parser must have read it. */
static void expect_read(const struct attr_def *d, const struct xfrm_msg *m)
{
	const struct xfrm_sa *sa = &m->sa;

	switch (d->type) {
	case XFRMA_ALG_AEAD:
		cr_expect(sa->alg_known);
		cr_expect_eq(sa->iv_len, 8);
		cr_expect_eq(sa->icv_len, 16);
		cr_expect_eq(sa->block_len, 4);
		break;
	case XFRMA_ALG_CRYPT:		/* encryption only */
		cr_expect(sa->alg_known);
		cr_expect_eq(sa->iv_len, 16);
		cr_expect_eq(sa->icv_len, 0);
		cr_expect_eq(sa->block_len, 16);
		break;
	case XFRMA_ALG_AUTH:		/* authentication only, the kernel's 96 bits */
		cr_expect(sa->alg_known);
		cr_expect_eq(sa->iv_len, 0);
		cr_expect_eq(sa->icv_len, 12);
		cr_expect_eq(sa->block_len, 4);
		break;
	case XFRMA_ALG_AUTH_TRUNC:
		cr_expect(sa->alg_known);
		cr_expect_eq(sa->iv_len, 0);
		cr_expect_eq(sa->icv_len, 16);
		break;
	case XFRMA_ENCAP:
		cr_expect_eq(sa->encap_type, UDP_ENCAP_ESPINUDP);
		cr_expect_eq(sa->encap_sport, htons(4500));
		cr_expect_eq(sa->encap_dport, htons(4501));
		break;
	case XFRMA_OFFLOAD_DEV:
		cr_expect(sa->has_offload);
		cr_expect_eq(sa->offload_ifindex, 7);
		cr_expect_eq(sa->offload_flags, XFRM_OFFLOAD_INBOUND | XFRM_OFFLOAD_PACKET);
		cr_expect_eq(sa->dir, XOFF_DIR_IN);
		cr_expect_eq(sa->dir_source, XFRM_DIR_FROM_OFFLOAD);
		break;
	case XFRMA_MARK:
		cr_expect(sa->has_mark);
		cr_expect_eq(sa->mark.v, 0x12);
		cr_expect_eq(sa->mark.m, 0xff);
		break;
	case XFRMA_IF_ID:
		cr_expect_eq(sa->if_id, 42);
		break;
	case XFRMA_REPLAY_ESN_VAL:
		cr_expect(sa->has_esn);
		cr_expect_eq(sa->esn_window, 2048);
		break;
	case XOFF_XFRMA_SA_DIR:
		cr_expect_eq(sa->dir, XOFF_DIR_OUT);
		cr_expect_eq(sa->dir_source, XFRM_DIR_FROM_SA_DIR);
		break;
	case XOFF_XFRMA_SA_PCPU:
		cr_expect(sa->has_pcpu);
		cr_expect_eq(sa->pcpu_num, 3);
		break;
	case XFRMA_LTIME_VAL:
		cr_expect(m->ae.has_ltime);
		cr_expect_arr_eq(&m->ae.curlft, &ltime, sizeof(ltime));
		break;
	}
}

static const enum sa_kind attr_kinds[] = { K_NEWSA, K_DELSA, K_DELSA_ID, K_EXPIRE_HARD };

struct attr_case {
	unsigned int attr;	/* index in attr_defs */
	unsigned int kind;	/* enum sa_kind; NEWAE for XFRMA_LTIME_VAL */
	unsigned int form;	/* enum form */
};

static struct nlmsghdr *newae_msg(void *buf, int family, const char *dst, __u32 spi,
				  const struct xfrm_lifetime_cur *lt);

ParameterizedTestParameters(xfrm, sa_attr)
{
	static struct attr_case cases[N_SA_ATTRS * ARRAY_SIZE(attr_kinds) * F_NFORMS + F_NFORMS];
	unsigned int a, k, f;
	size_t n = 0;

	for (a = 0; a < N_SA_ATTRS; a++)
		for (k = 0; k < ARRAY_SIZE(attr_kinds); k++)
			for (f = 0; f < F_NFORMS; f++)
				cases[n++] = (struct attr_case){ a, attr_kinds[k], f };
	for (f = 0; f < F_NFORMS; f++)
		cases[n++] = (struct attr_case){ N_SA_ATTRS, 0, f };
	return cr_make_param_array(struct attr_case, cases, n);
}

ParameterizedTest(struct attr_case *c, xfrm, sa_attr)
{
	const struct attr_def *d = &attr_defs[c->attr];
	bool ok = c->form == F_EXACT || (c->form == F_LONG && !d->exact);
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh;
	struct xfrm_msg m;

	if (d->type == XFRMA_LTIME_VAL)
		nlh = newae_msg(buf, AF_INET, "192.0.2.1", 0x100, NULL);
	else
		nlh = sa_msg(buf, c->kind, &sa4);
	put_form(nlh, d, c->form);
	cr_log_info("%s %s in %s", form_name[c->form], d->name,
		    d->type == XFRMA_LTIME_VAL ? "NEWAE" : kind_name[c->kind]);
	if (!ok) {
		parse_bad_attr(nlh, d->name);
		return;
	}
	parse_ok(nlh, &m);
	if (d->type == XFRMA_LTIME_VAL)
		cr_expect_eq(m.ev, XFRM_EV_AE);
	else
		cr_expect_eq(m.ev, kind_ev(c->kind));
	expect_read(d, &m);
}

/* Without any attribute, every value they carry is at its default. */
Test(xfrm, sa_attrs_absent)
{
	char buf[XMSG_BUF];
	struct xfrm_msg m;
	unsigned int k;

	for (k = 0; k < K_NKINDS; k++) {
		cr_log_info("%s", kind_name[k]);
		parse_ok(sa_msg(buf, k, &sa4), &m);
		cr_expect_eq(m.ev, kind_ev(k), "%s", kind_name[k]);
		cr_expect(!m.sa.alg_known, "%s", kind_name[k]);
		cr_expect_eq(m.sa.iv_len | m.sa.icv_len | m.sa.block_len, 0, "%s", kind_name[k]);
		cr_expect_eq(m.sa.encap_type, 0, "%s", kind_name[k]);
		cr_expect_eq(m.sa.encap_sport | m.sa.encap_dport, 0, "%s", kind_name[k]);
		cr_expect(!m.sa.has_offload, "%s", kind_name[k]);
		cr_expect_eq(m.sa.offload_ifindex, 0, "%s", kind_name[k]);
		cr_expect_eq(m.sa.offload_flags, 0, "%s", kind_name[k]);
		cr_expect(!m.sa.has_mark, "%s", kind_name[k]);
		cr_expect_eq(m.sa.mark.v | m.sa.mark.m, 0, "%s", kind_name[k]);
		cr_expect_eq(m.sa.if_id, 0, "%s", kind_name[k]);
		cr_expect(!m.sa.has_esn, "%s", kind_name[k]);
		cr_expect_eq(m.sa.esn_window, 0, "%s", kind_name[k]);
		cr_expect_eq(m.sa.dir, XFRM_DIR_UNKNOWN, "%s", kind_name[k]);
		cr_expect_eq(m.sa.dir_source, XFRM_DIR_FROM_NONE, "%s", kind_name[k]);
		cr_expect(!m.sa.has_pcpu, "%s", kind_name[k]);
		cr_expect_eq(m.sa.pcpu_num, 0, "%s", kind_name[k]);
	}
}

/* All attributes at once, as copy_to_user_state_extra() emits them. */
Test(xfrm, sa_attrs_together)
{
	const struct xmsg_sa o = {
		.family = AF_INET6, .dst = "2001:db8::1", .src = "2001:db8::2", .spi = 0x1234,
		.aead = "rfc4106(gcm(aes))", .icv_bits = 96, .encap = UDP_ENCAP_ESPINUDP,
		.sport = 4500, .dport = 4500, .offload_ifindex = 3,
		.offload_flags = XFRM_OFFLOAD_PACKET | XFRM_OFFLOAD_IPV6, .mark = true,
		.mark_v = 0x100, .mark_m = 0xf00, .if_id = 9, .sa_dir = XOFF_XFRM_SA_DIR_IN,
		.pcpu = true, .pcpu_num = 5,
	};
	char buf[XMSG_BUF];
	struct xfrm_msg m;

	parse_ok(xmsg_newsa(buf, XFRM_MSG_NEWSA, &o), &m);
	cr_expect(m.sa.has_pcpu);
	cr_expect_eq(m.sa.pcpu_num, 5);
	cr_expect(m.sa.alg_known);
	cr_expect_eq(m.sa.iv_len, 8);
	cr_expect_eq(m.sa.icv_len, 12);
	cr_expect_eq(m.sa.encap_type, UDP_ENCAP_ESPINUDP);
	cr_expect_eq(m.sa.encap_sport, htons(4500));
	cr_expect(m.sa.has_offload);
	cr_expect_eq(m.sa.offload_ifindex, 3);
	cr_expect_eq(m.sa.offload_flags, XFRM_OFFLOAD_PACKET | XFRM_OFFLOAD_IPV6);
	cr_expect(m.sa.has_mark);
	cr_expect_eq(m.sa.mark.v, 0x100);
	cr_expect_eq(m.sa.mark.m, 0xf00);
	cr_expect_eq(m.sa.if_id, 9);
	/* The offload flags say outbound; XFRMA_SA_DIR says in, and wins. */
	cr_expect_eq(m.sa.dir, XOFF_DIR_IN);
	cr_expect_eq(m.sa.dir_source, XFRM_DIR_FROM_SA_DIR);
}

Test(xfrm, esn_bitmap)
{
	struct {
		struct xfrm_replay_state_esn esn;
		__u32 bmp[4];
	} e;
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh;
	struct xfrm_msg m;

	memset(&e, 0, sizeof(e));
	e.esn.bmp_len = 4;
	e.esn.replay_window = 128;
	nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &sa4);
	mnl_attr_put(nlh, XFRMA_REPLAY_ESN_VAL, sizeof(e), &e);
	parse_ok(nlh, &m);
	cr_expect(m.sa.has_esn);
	cr_expect_eq(m.sa.esn_window, 128);

	/* A bitmap longer than the attribute holds. */
	nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &sa4);
	mnl_attr_put(nlh, XFRMA_REPLAY_ESN_VAL, sizeof(e) - 1, &e);
	parse_bad_attr(nlh, "XFRMA_REPLAY_ESN_VAL");
	e.esn.bmp_len = 5;
	nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &sa4);
	mnl_attr_put(nlh, XFRMA_REPLAY_ESN_VAL, sizeof(e), &e);
	parse_bad_attr(nlh, "XFRMA_REPLAY_ESN_VAL");
	e.esn.bmp_len = UINT_MAX;
	nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &sa4);
	mnl_attr_put(nlh, XFRMA_REPLAY_ESN_VAL, sizeof(e), &e);
	parse_bad_attr(nlh, "XFRMA_REPLAY_ESN_VAL");
}

/* ---- Message framing ---- */

/* The last attribute runs past nlmsg_len, however that happens. */
Test(xfrm, attr_overruns_message)
{
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh;
	struct nlattr *a;
	struct xfrm_msg m;

	/* nlmsg_len cut into the last attribute's payload */
	nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &(struct xmsg_sa){ .dst = "192.0.2.1",
								  .mark = true, .mark_v = 1,
								  .mark_m = 1 });
	parse_ok(nlh, &m);
	cr_expect(m.sa.has_mark);
	nlh->nlmsg_len -= 4;
	parse_bad(nlh, "overruns");

	/* the attribute's own length past the message */
	nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &sa4);
	a = mnl_nlmsg_get_payload_tail(nlh);
	mnl_attr_put_u32(nlh, XFRMA_IF_ID, 5);
	a->nla_len += 4;
	parse_bad(nlh, "overruns");
	a->nla_len = 0xffff;
	parse_bad(nlh, "overruns");

	/* an attribute length shorter than the attribute header */
	a->nla_len = 2;
	parse_bad(nlh, "overruns");
	a->nla_len = 0;
	parse_bad(nlh, "overruns");

	/* a piece of an attribute header after the last attribute */
	nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &sa4);
	nlh->nlmsg_len += 2;
	parse_bad(nlh, "overruns");

	/* the same in messages of other layouts */
	nlh = newae_msg(buf, AF_INET, "192.0.2.1", 1, &ltime);
	nlh->nlmsg_len -= 8 + 4;	/* XFRMA_ETIMER_THRESH and 4 bytes of XFRMA_LTIME_VAL */
	parse_bad(nlh, "overruns");
	nlh = xmsg_flushpolicy(buf);
	mnl_attr_put(nlh, XFRMA_POLICY_TYPE, sizeof(struct xfrm_userpolicy_type),
		     &(struct xfrm_userpolicy_type){ .type = XFRM_POLICY_TYPE_SUB });
	nlh->nlmsg_len -= 4;
	parse_bad(nlh, "overruns");
	nlh = xmsg_delsa(buf, &sa4);
	a = find_attr(nlh, sizeof(struct xfrm_usersa_id), XFRMA_SA);
	cr_assert_not_null(a);
	nlh->nlmsg_len = (char *)a - (char *)nlh + 8;
	parse_bad(nlh, "overruns");
}

struct short_case {
	__u16 type;
	unsigned int hdrlen;
};

ParameterizedTestParameters(xfrm, message_shorter_than_header)
{
	static struct short_case cases[] = {
		{ XFRM_MSG_NEWSA, sizeof(struct xfrm_usersa_info) },
		{ XFRM_MSG_UPDSA, sizeof(struct xfrm_usersa_info) },
		{ XFRM_MSG_DELSA, sizeof(struct xfrm_usersa_id) },
		{ XFRM_MSG_EXPIRE, sizeof(struct xfrm_user_expire) },
		{ XFRM_MSG_FLUSHSA, sizeof(struct xfrm_usersa_flush) },
		{ XFRM_MSG_NEWPOLICY, sizeof(struct xfrm_userpolicy_info) },
		{ XFRM_MSG_UPDPOLICY, sizeof(struct xfrm_userpolicy_info) },
		{ XFRM_MSG_DELPOLICY, sizeof(struct xfrm_userpolicy_id) },
		{ XFRM_MSG_POLEXPIRE, sizeof(struct xfrm_user_polexpire) },
		{ XFRM_MSG_MAPPING, sizeof(struct xfrm_user_mapping) },
		{ XFRM_MSG_NEWAE, sizeof(struct xfrm_aevent_id) },
		{ XFRM_MSG_MIGRATE, sizeof(struct xfrm_userpolicy_id) },
		{ XOFF_XFRM_MSG_MIGRATE_STATE, sizeof(struct xoff_xfrm_user_migrate_state) },
	};

	return cr_make_param_array(struct short_case, cases, ARRAY_SIZE(cases));
}

ParameterizedTest(struct short_case *c, xfrm, message_shorter_than_header)
{
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh = xmsg_hdr(buf, c->type);

	nlh->nlmsg_len = NLMSG_HDRLEN + c->hdrlen - 1;
	parse_bad(nlh, "shorter");
	nlh->nlmsg_len = NLMSG_HDRLEN;
	parse_bad(nlh, "shorter");
	/* Shorter than the netlink header itself. */
	nlh->nlmsg_len = NLMSG_HDRLEN - 1;
	parse_bad(nlh, "shorter");
	nlh->nlmsg_len = 0;
	parse_bad(nlh, "shorter");
}

/* Attributes xoff does not read, known or not, with any length, change nothing. */
Test(xfrm, unknown_attrs_skipped)
{
	static const unsigned char junk[100] = { 0x5a, 0x5a, 0x5a };
	const struct xmsg_sa o = { .dst = "192.0.2.1", .spi = 0x55, .aead = "rfc4106(gcm(aes))",
				   .icv_bits = 128, .mark = true, .mark_v = 3, .mark_m = 7 };
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh;
	struct xfrm_msg m;

	nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &o);
	mnl_attr_put(nlh, 40, 3, junk);
	mnl_attr_put(nlh, 200, sizeof(junk), junk);
	mnl_attr_put(nlh, 41, 0, junk);
	mnl_attr_put(nlh, XFRMA_UNSPEC, 5, junk);
	mnl_attr_put(nlh, XFRMA_SA_EXTRA_FLAGS, 1, junk);	/* read by no one */
	mnl_attr_put(nlh, XFRMA_REPLAY_VAL, 2, junk);
	mnl_attr_put(nlh, XFRMA_TMPL, 7, junk);		/* a policy's, not an SA's */
	mnl_attr_put(nlh, 200 | NLA_F_NESTED, 4, junk);
	parse_ok(nlh, &m);
	cr_expect_eq(m.ev, XFRM_EV_SA);
	cr_expect_eq(m.sa.spi, htonl(0x55));
	cr_expect(m.sa.alg_known);
	cr_expect_eq(m.sa.icv_len, 16);
	cr_expect(m.sa.has_mark);
	cr_expect_eq(m.sa.mark.v, 3);
	cr_expect_eq(m.sa.mark.m, 7);
	cr_expect(!m.sa.has_esn);

	nlh = newae_msg(buf, AF_INET, "192.0.2.1", 0x55, NULL);
	mnl_attr_put(nlh, 40, 3, junk);
	mnl_attr_put(nlh, 200, 9, junk);
	parse_ok(nlh, &m);
	cr_expect_eq(m.ev, XFRM_EV_AE);
	cr_expect(!m.ae.has_ltime);

	nlh = xmsg_newpolicy(buf, &(struct xmsg_pol){ .dir = XFRM_POLICY_OUT, .index = 8 });
	mnl_attr_put(nlh, 40, 1, junk);
	mnl_attr_put(nlh, 200, 64, junk);
	parse_ok(nlh, &m);
	cr_expect_eq(m.ev, XFRM_EV_POL);
	cr_expect_eq(m.pol.index, 8);
}

Test(xfrm, unknown_message_types)
{
	static const __u16 types[] = {
		NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE, XFRM_MSG_GETSA, XFRM_MSG_ALLOCSPI,
		XFRM_MSG_GETPOLICY, XFRM_MSG_GETAE, XFRM_MSG_REPORT,
		XFRM_MSG_NEWSADINFO, XFRM_MSG_GETSADINFO, XFRM_MSG_NEWSPDINFO,
		XFRM_MSG_GETSPDINFO, XOFF_XFRM_MSG_MIGRATE_STATE + 1, 0xffff,
	};
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh;
	struct xfrm_msg m;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		/* A payload that would be wrong as any message xoff reads. */
		nlh = xmsg_hdr(buf, types[i]);
		memset(mnl_nlmsg_put_extra_header(nlh, 12), 0xee, 12);
		parse_ok(nlh, &m);
		cr_expect_eq(m.ev, XFRM_EV_NONE, "type %u", types[i]);
		cr_expect_eq(m.type, types[i]);
		/* and none at all */
		nlh = xmsg_hdr(buf, types[i]);
		parse_ok(nlh, &m);
		cr_expect_eq(m.ev, XFRM_EV_NONE, "type %u without payload", types[i]);
	}
}

/* ---- Encapsulation ---- */

struct encap_case {
	__u16 type, sport, dport;
	int ret;
};

ParameterizedTestParameters(xfrm, encap)
{
	static struct encap_case cases[] = {
		{ UDP_ENCAP_ESPINUDP, 4500, 4500, 0 },
		{ UDP_ENCAP_ESPINUDP, 31337, 4500, 0 },
		{ UDP_ENCAP_ESPINUDP_NON_IKE, 4500, 65535, 0 },
		{ ENCAP_ESPINTCP, 4500, 1, 0 },
		{ 0, 4500, 4500, -EBADMSG },
	};

	return cr_make_param_array(struct encap_case, cases, ARRAY_SIZE(cases));
}

ParameterizedTest(struct encap_case *c, xfrm, encap)
{
	struct xfrm_encap_tmpl e = { .encap_type = c->type, .encap_sport = htons(c->sport),
				     .encap_dport = htons(c->dport) };
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh;
	struct xfrm_msg m;

	nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &sa4);
	mnl_attr_put(nlh, XFRMA_ENCAP, sizeof(e), &e);
	if (c->ret) {
		parse_bad_attr(nlh, "XFRMA_ENCAP");
		return;
	}
	parse_ok(nlh, &m);
	cr_expect_eq(m.sa.encap_type, c->type);
	cr_expect_eq(m.sa.encap_sport, htons(c->sport));
	cr_expect_eq(m.sa.encap_dport, htons(c->dport));
}

/* ---- Offload and direction ---- */

struct dir_case {
	bool offload;
	__u8 flags;	/* XFRM_OFFLOAD_*, with offload */
	__u8 sa_dir;	/* XFRMA_SA_DIR value, 0: none */
};

ParameterizedTestParameters(xfrm, sa_direction)
{
	static struct dir_case cases[3 * 9];
	__u8 d, f;
	size_t n = 0;

	for (d = 0; d <= XOFF_XFRM_SA_DIR_OUT; d++) {
		cases[n++] = (struct dir_case){ .offload = false, .sa_dir = d };
		/* Every combination of IPV6 (1), INBOUND (2) and PACKET (4). */
		for (f = 0; f < 8; f++)
			cases[n++] = (struct dir_case){ .offload = true, .flags = f, .sa_dir = d };
	}
	return cr_make_param_array(struct dir_case, cases, n);
}

ParameterizedTest(struct dir_case *c, xfrm, sa_direction)
{
	struct xmsg_sa o = sa4;
	__u8 dir = XFRM_DIR_UNKNOWN, src = XFRM_DIR_FROM_NONE;
	char buf[XMSG_BUF];
	struct xfrm_msg m;

	if (c->offload) {
		o.offload_ifindex = 9;
		o.offload_flags = c->flags;
	}
	o.sa_dir = c->sa_dir;
	if (c->sa_dir) {
		dir = c->sa_dir == XOFF_XFRM_SA_DIR_IN ? XOFF_DIR_IN : XOFF_DIR_OUT;
		src = XFRM_DIR_FROM_SA_DIR;
	} else if (c->offload) {
		dir = c->flags & XFRM_OFFLOAD_INBOUND ? XOFF_DIR_IN : XOFF_DIR_OUT;
		src = XFRM_DIR_FROM_OFFLOAD;
	}
	parse_ok(xmsg_newsa(buf, XFRM_MSG_NEWSA, &o), &m);
	cr_expect_eq(m.sa.has_offload, c->offload, "offload %d flags %u dir %u", c->offload,
		     c->flags, c->sa_dir);
	cr_expect_eq(m.sa.offload_ifindex, c->offload ? 9 : 0);
	cr_expect_eq(m.sa.offload_flags, c->flags);
	cr_expect_eq(m.sa.dir, dir, "offload %d flags %u SA_DIR %u: dir %u, expected %u",
		     c->offload, c->flags, c->sa_dir, m.sa.dir, dir);
	cr_expect_eq(m.sa.dir_source, src, "offload %d flags %u SA_DIR %u: source %u, expected %u",
		     c->offload, c->flags, c->sa_dir, m.sa.dir_source, src);
}

Test(xfrm, offload_without_device)
{
	static const int ifindexes[] = { 0, -1, INT_MIN };
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ifindexes); i++) {
		nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &sa4);
		put_offload(nlh, ifindexes[i], XFRM_OFFLOAD_INBOUND);
		parse_bad_attr(nlh, "XFRMA_OFFLOAD_DEV");
		nlh = xmsg_delsa(buf, &sa4);
		put_offload(nlh, ifindexes[i], XFRM_OFFLOAD_PACKET);
		parse_bad_attr(nlh, "XFRMA_OFFLOAD_DEV");
		nlh = xmsg_newpolicy(buf, &(struct xmsg_pol){ .dir = XFRM_POLICY_OUT });
		put_offload(nlh, ifindexes[i], XFRM_OFFLOAD_PACKET);
		parse_bad_attr(nlh, "XFRMA_OFFLOAD_DEV");
	}
}

Test(xfrm, sa_dir_bad_value)
{
	static const __u8 values[] = { 0, 3, 255 };
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(values); i++) {
		nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &sa4);
		mnl_attr_put_u8(nlh, XOFF_XFRMA_SA_DIR, values[i]);
		parse_bad(nlh, "XFRMA_SA_DIR");
		/* an offload direction does not make up for it */
		nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &sa4);
		put_offload(nlh, 4, XFRM_OFFLOAD_INBOUND);
		mnl_attr_put_u8(nlh, XOFF_XFRMA_SA_DIR, values[i]);
		parse_bad(nlh, "XFRMA_SA_DIR");
	}
}

/* XFRMA_SA_PCPU: any CPU number is the kernel's to judge (it refuses one beyond its
 * possible CPUs at add); 0 is a CPU, not an absent attribute. In every SA message. */
Test(xfrm, sa_pcpu_values)
{
	static const __u32 values[] = { 0, 1, 4095, 0xfffffffe };
	char buf[XMSG_BUF];
	struct xfrm_msg m;
	unsigned int k;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(values); i++) {
		struct xmsg_sa o = sa4;

		o.pcpu = true;
		o.pcpu_num = values[i];
		for (k = 0; k < K_NKINDS; k++) {
			parse_ok(sa_msg(buf, k, &o), &m);
			cr_expect(m.sa.has_pcpu, "%s, pcpu %u", kind_name[k], values[i]);
			cr_expect_eq(m.sa.pcpu_num, values[i], "%s", kind_name[k]);
		}
	}
}

/* A u16 or u64 where the kernel's policy says NLA_U32: refused, as the kernel would. */
Test(xfrm, sa_pcpu_bad_length)
{
	static const size_t lens[] = { 0, 1, 2, 3, 5, 8 };
	const __u64 v = 2;
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &sa4);
		mnl_attr_put(nlh, XOFF_XFRMA_SA_PCPU, lens[i], &v);
		parse_bad_attr(nlh, "XFRMA_SA_PCPU");
		nlh = xmsg_delsa(buf, &sa4);
		mnl_attr_put(nlh, XOFF_XFRMA_SA_PCPU, lens[i], &v);
		parse_bad_attr(nlh, "XFRMA_SA_PCPU");
	}
}

/* ---- Algorithms: ESP sizes from the names, never the keys ---- */

struct alg_case {
	char aead[32];
	unsigned int icv_bits;
	char enc[24];
	char auth[24];		/* XFRMA_ALG_AUTH */
	char trunc[24];		/* XFRMA_ALG_AUTH_TRUNC, trunc_bits below */
	unsigned int trunc_bits;
	bool known;
	__u8 iv, icv, block;
};

ParameterizedTestParameters(xfrm, alg_sizes)
{
	static struct alg_case cases[] = {
		{ .aead = "rfc4106(gcm(aes))", .icv_bits = 128, .known = true,
		  .iv = 8, .icv = 16, .block = 4 },
		{ .aead = "rfc4106(gcm(aes))", .icv_bits = 96, .known = true,
		  .iv = 8, .icv = 12, .block = 4 },
		{ .aead = "rfc4106(gcm(aes))", .icv_bits = 64, .known = true,
		  .iv = 8, .icv = 8, .block = 4 },
		{ .aead = "rfc4309(ccm(aes))", .icv_bits = 128, .known = true,
		  .iv = 8, .icv = 16, .block = 4 },
		{ .aead = "rfc4543(gcm(aes))", .icv_bits = 128, .known = true,
		  .iv = 8, .icv = 16, .block = 4 },
		{ .aead = "rfc7539esp(chacha20,poly1305)", .icv_bits = 128, .known = true,
		  .iv = 8, .icv = 16, .block = 4 },
		/* The kernel's own form: AUTH and AUTH_TRUNC both; the truncation counts. */
		{ .enc = "cbc(aes)", .auth = "hmac(sha256)", .trunc = "hmac(sha256)",
		  .trunc_bits = 128, .known = true, .iv = 16, .icv = 16, .block = 16 },
		{ .enc = "cbc(aes)", .trunc = "hmac(sha256)", .trunc_bits = 128, .known = true,
		  .iv = 16, .icv = 16, .block = 16 },
		{ .enc = "cbc(aes)", .auth = "hmac(sha256)", .known = true,
		  .iv = 16, .icv = 12, .block = 16 },
		{ .enc = "cbc(aes)", .auth = "hmac(sha512)", .known = true,
		  .iv = 16, .icv = 32, .block = 16 },
		{ .enc = "cbc(aes)", .trunc = "hmac(sha512)", .trunc_bits = 256, .known = true,
		  .iv = 16, .icv = 32, .block = 16 },
		{ .enc = "cbc(des3_ede)", .auth = "hmac(sha1)", .trunc = "hmac(sha1)",
		  .trunc_bits = 96, .known = true, .iv = 8, .icv = 12, .block = 8 },
		{ .enc = "rfc3686(ctr(aes))", .auth = "xcbc(aes)", .known = true,
		  .iv = 8, .icv = 12, .block = 4 },
		{ .enc = "cbc(aes)", .known = true, .iv = 16, .icv = 0, .block = 16 },
		{ .enc = "ecb(cipher_null)", .trunc = "hmac(sha256)", .trunc_bits = 128,
		  .known = true, .iv = 0, .icv = 16, .block = 4 },
		{ .auth = "hmac(sha256)", .trunc = "hmac(sha256)", .trunc_bits = 128,
		  .known = true, .iv = 0, .icv = 16, .block = 4 },	/* auth only */
		/* XFRMA_ALG_AEAD takes the place of XFRMA_ALG_CRYPT. */
		{ .aead = "rfc4106(gcm(aes))", .icv_bits = 128, .enc = "cbc(aes)", .known = true,
		  .iv = 8, .icv = 16, .block = 4 },
		/* Unknown to xoff: not an error, the sizes are just not known. */
		{ .aead = "gcm(aes)", .icv_bits = 128 },
		{ .enc = "cbc(unknown)", .auth = "hmac(sha256)", .trunc = "hmac(sha256)",
		  .trunc_bits = 128 },
		{ .enc = "cbc(aes)", .auth = "hmac(sha3)", .trunc = "hmac(sha3)",
		  .trunc_bits = 128 },
		{ .enc = "cbc(aes)", .trunc = "hmac(sha256)", .trunc_bits = 100 },
		{ .aead = "rfc4106(gcm(aes))", .icv_bits = 128, .trunc = "hmac(sha256)",
		  .trunc_bits = 128 },
		{ .aead = "" , .icv_bits = 128 },
		{ .icv_bits = 0 },	/* no algorithm at all (IPcomp, or a larval SA) */
	};

	return cr_make_param_array(struct alg_case, cases, ARRAY_SIZE(cases));
}

ParameterizedTest(struct alg_case *c, xfrm, alg_sizes)
{
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &sa4);
	struct xfrm_msg m;

	/* An empty aead[] with icv_bits: an AEAD attribute with an empty name. */
	if (c->aead[0] || c->icv_bits)
		put_alg(nlh, XFRMA_ALG_AEAD, c->aead, c->icv_bits, alg_hdr(XFRMA_ALG_AEAD) + 16);
	if (c->enc[0])
		put_alg(nlh, XFRMA_ALG_CRYPT, c->enc, 0, alg_hdr(XFRMA_ALG_CRYPT) + 16);
	if (c->auth[0])
		put_alg(nlh, XFRMA_ALG_AUTH, c->auth, 0, alg_hdr(XFRMA_ALG_AUTH) + 16);
	if (c->trunc[0])
		put_alg(nlh, XFRMA_ALG_AUTH_TRUNC, c->trunc, c->trunc_bits,
			alg_hdr(XFRMA_ALG_AUTH_TRUNC) + 16);
	parse_ok(nlh, &m);
	cr_expect_eq(m.sa.alg_known, c->known, "%s/%u %s %s %s/%u: known %d", c->aead,
		     c->icv_bits, c->enc, c->auth, c->trunc, c->trunc_bits, m.sa.alg_known);
	cr_expect_eq(m.sa.iv_len, c->iv, "%s%s: iv %u", c->aead, c->enc, m.sa.iv_len);
	cr_expect_eq(m.sa.icv_len, c->icv, "%s%s + %s%s: icv %u", c->aead, c->enc, c->auth,
		     c->trunc, m.sa.icv_len);
	cr_expect_eq(m.sa.block_len, c->block, "%s%s: block %u", c->aead, c->enc,
		     m.sa.block_len);
}

ParameterizedTestParameters(xfrm, alg_name_not_terminated)
{
	static unsigned int attrs[] = { 0, 1, 2, 3 };	/* attr_defs: the algorithms */

	return cr_make_param_array(unsigned int, attrs, ARRAY_SIZE(attrs));
}

ParameterizedTest(unsigned int *i, xfrm, alg_name_not_terminated)
{
	const struct attr_def *d = &attr_defs[*i];
	char name[80], buf[XMSG_BUF];
	struct nlmsghdr *nlh;
	struct xfrm_msg m;

	/* 63 characters and the NUL: a name, if not one xoff knows. */
	memset(name, 'x', 63);
	name[63] = '\0';
	nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &sa4);
	put_alg(nlh, d->type, name, 128, d->size + 16);
	parse_ok(nlh, &m);
	cr_expect(!m.sa.alg_known, "%s", d->name);

	/* 64 characters fill alg_name, and the key follows without a NUL between. */
	memset(name, 'x', 64);
	name[64] = '\0';
	nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &sa4);
	put_alg(nlh, d->type, name, 128, d->size + 16);
	parse_bad_attr(nlh, d->name);

	/* A known name with junk instead of its NUL. */
	memset(name, 'x', sizeof(name));
	memcpy(name, "cbc(aes)", 8);
	name[sizeof(name) - 1] = '\0';
	nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &sa4);
	put_alg(nlh, d->type, name, 128, d->size + 16);
	parse_bad_attr(nlh, d->name);
}

/* ---- Key hygiene ---- */

static const struct xmsg_sa hygiene_algs[] = {
	{ .aead = "rfc4106(gcm(aes))", .icv_bits = 128 },
	{ .enc = "cbc(aes)", .auth = "hmac(sha256)", .trunc_bits = 128 },
	{ .auth = "hmac(sha1)", .trunc_bits = 96 },
	{ .enc = "cbc(unknown)", .auth = "hmac(unknown)", .trunc_bits = 128 },
	{ .aead = "rfc7539esp(chacha20,poly1305)", .icv_bits = 128,
	  .enc = "cbc(aes)", .auth = "hmac(sha512)", .trunc_bits = 256 },
};

struct hygiene_case {
	unsigned int kind;	/* enum sa_kind */
	unsigned int algs;	/* index in hygiene_algs */
	int family;
};

ParameterizedTestParameters(xfrm, no_key_in_parsed_sa)
{
	static struct hygiene_case cases[K_NKINDS * ARRAY_SIZE(hygiene_algs) * 2];
	unsigned int k, a;
	size_t n = 0;

	for (k = 0; k < K_NKINDS; k++)
		for (a = 0; a < ARRAY_SIZE(hygiene_algs); a++) {
			cases[n++] = (struct hygiene_case){ k, a, AF_INET };
			cases[n++] = (struct hygiene_case){ k, a, AF_INET6 };
		}
	return cr_make_param_array(struct hygiene_case, cases, n);
}

ParameterizedTest(struct hygiene_case *c, xfrm, no_key_in_parsed_sa)
{
	const struct xmsg_sa *algs = &hygiene_algs[c->algs];
	struct xmsg_sa o = {
		.family = c->family, .dst = c->family == AF_INET ? "192.0.2.1" : "2001:db8::1",
		.src = c->family == AF_INET ? "192.0.2.2" : "2001:db8::2", .spi = 0x1234,
		.reqid = 9, .aead = algs->aead, .icv_bits = algs->icv_bits,
		.enc = algs->enc, .auth = algs->auth, .trunc_bits = algs->trunc_bits,
		.encap = UDP_ENCAP_ESPINUDP, .sport = 4500, .dport = 4500,
		.offload_ifindex = 2, .offload_flags = XFRM_OFFLOAD_PACKET, .mark = true,
		.mark_v = 1, .mark_m = 1, .if_id = 3, .sa_dir = XOFF_XFRM_SA_DIR_OUT,
	};
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh = sa_msg(buf, c->kind, &o);
	struct xfrm_msg m;

	/* The message does hold key material... */
	cr_assert_not_null(memmem(nlh, nlh->nlmsg_len, key16, sizeof(key16)));
	parse_ok(nlh, &m);
	cr_expect_eq(m.ev, kind_ev(c->kind));
	/* ...the parsed copy does not (parse() checked it too). */
	cr_assert_null(memmem(&m, sizeof(m), key16, sizeof(key16)), "%s, algorithms %u",
		       kind_name[c->kind], c->algs);
}

/* ---- DELSA, EXPIRE, FLUSHSA ---- */

Test(xfrm, delsa)
{
	const struct xmsg_sa o = { .family = AF_INET6, .dst = "2001:db8::1",
				   .src = "2001:db8::2", .spi = 0xc001, .proto = IPPROTO_ESP,
				   .mode = XFRM_MODE_TUNNEL, .reqid = 77, .mark = true,
				   .mark_v = 5, .mark_m = 0xff, .hard_bytes = 1 << 30 };
	struct xfrm_usersa_info info;
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh;
	struct xfrm_msg m;

	/* The kernel's notification: the whole SA in XFRMA_SA. */
	parse_ok(xmsg_delsa(buf, &o), &m);
	cr_expect_eq(m.ev, XFRM_EV_SA_DEL);
	cr_expect_eq(m.type, XFRM_MSG_DELSA);
	cr_expect_eq(m.sa.family, AF_INET6);
	expect_addr(&m.sa.daddr, AF_INET6, "2001:db8::1");
	expect_addr(&m.sa.saddr, AF_INET6, "2001:db8::2");
	cr_expect_eq(m.sa.spi, htonl(0xc001));
	cr_expect_eq(m.sa.proto, IPPROTO_ESP);
	cr_expect_eq(m.sa.mode, XFRM_MODE_TUNNEL);
	cr_expect_eq(m.sa.reqid, 77);
	cr_expect_eq(m.sa.lft.hard_byte_limit, 1 << 30);
	cr_expect(m.sa.has_mark);
	cr_expect_eq(m.sa.mark.v, 5);

	/* Without XFRMA_SA (a DELSA request): the identity from xfrm_usersa_id. */
	parse_ok(sa_msg(buf, K_DELSA_ID, &o), &m);
	cr_expect_eq(m.ev, XFRM_EV_SA_DEL);
	cr_expect_eq(m.sa.family, AF_INET6);
	expect_addr(&m.sa.daddr, AF_INET6, "2001:db8::1");
	expect_addr(&m.sa.saddr, AF_INET6, NULL);
	cr_expect_eq(m.sa.spi, htonl(0xc001));
	cr_expect_eq(m.sa.proto, IPPROTO_ESP);
	cr_expect_eq(m.sa.reqid, 0);
	cr_expect_eq(m.sa.dir, XFRM_DIR_UNKNOWN);
	cr_expect(m.sa.has_mark);
	cr_expect_eq(m.sa.mark.m, 0xff);

	/* XFRMA_SA wins over the id: it is the full SA. */
	nlh = xmsg_delsa(buf, &o);
	((struct xfrm_usersa_id *)mnl_nlmsg_get_payload(nlh))->spi = htonl(0xbad);
	parse_ok(nlh, &m);
	cr_expect_eq(m.sa.spi, htonl(0xc001));

	/* A truncated XFRMA_SA. */
	xmsg_usersa_info(&o, &info);
	nlh = xmsg_hdr(buf, XFRM_MSG_DELSA);
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct xfrm_usersa_id));
	mnl_attr_put(nlh, XFRMA_SA, sizeof(info) - 1, &info);
	parse_bad_attr(nlh, "XFRMA_SA");
}

Test(xfrm, expire)
{
	const struct xmsg_sa o = { .dst = "192.0.2.9", .src = "192.0.2.8", .spi = 0xabc,
				   .reqid = 3, .mode = XFRM_MODE_TRANSPORT, .soft_bytes = 1000,
				   .hard_bytes = 2000, .cur_bytes = 1500, .mark = true,
				   .mark_v = 0x20, .mark_m = 0xf0 };
	char buf[XMSG_BUF];
	struct xfrm_msg m;
	int hard;

	for (hard = 0; hard <= 1; hard++) {
		parse_ok(xmsg_expire(buf, &o, hard), &m);
		cr_expect_eq(m.ev, hard ? XFRM_EV_SA_DEL : XFRM_EV_SA_SOFT);
		cr_expect_eq(m.type, XFRM_MSG_EXPIRE);
		cr_expect_eq(m.sa.family, AF_INET);
		expect_addr(&m.sa.daddr, AF_INET, "192.0.2.9");
		expect_addr(&m.sa.saddr, AF_INET, "192.0.2.8");
		cr_expect_eq(m.sa.spi, htonl(0xabc));
		cr_expect_eq(m.sa.proto, IPPROTO_ESP);
		cr_expect_eq(m.sa.mode, XFRM_MODE_TRANSPORT);
		cr_expect_eq(m.sa.reqid, 3);
		cr_expect_eq(m.sa.lft.soft_byte_limit, 1000);
		cr_expect_eq(m.sa.curlft.bytes, 1500);
		cr_expect(m.sa.has_mark);
		cr_expect_eq(m.sa.mark.v, 0x20);
		cr_expect_eq(m.sa.mark.m, 0xf0);
	}
}

Test(xfrm, flushsa)
{
	static const __u8 protos[] = { 0, IPSEC_PROTO_ANY, IPPROTO_ESP, IPPROTO_AH,
				       IPPROTO_COMP };
	char buf[XMSG_BUF];
	struct xfrm_msg m;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(protos); i++) {
		parse_ok(xmsg_flushsa(buf, protos[i]), &m);
		cr_expect_eq(m.ev, XFRM_EV_SA_FLUSH);
		cr_expect_eq(m.flush_proto, protos[i]);
	}
}

/* ---- Policies ---- */

enum pol_kind { P_NEWPOLICY, P_UPDPOLICY, P_DELPOLICY, P_POLEXPIRE_HARD, P_NKINDS };

static const char *const pol_kind_name[P_NKINDS] = {
	"NEWPOLICY", "UPDPOLICY", "DELPOLICY", "POLEXPIRE hard",
};

static struct nlmsghdr *polexpire_msg(void *buf, const struct xmsg_pol *o, bool hard)
{
	struct nlmsghdr *nlh = xmsg_hdr(buf, XFRM_MSG_POLEXPIRE);
	struct xfrm_user_polexpire *pe = mnl_nlmsg_put_extra_header(nlh, sizeof(*pe));

	xmsg_userpolicy_info(o, &pe->pol);
	pe->hard = hard;
	xmsg_pol_attrs(nlh, o);
	return nlh;
}

static struct nlmsghdr *pol_msg(void *buf, enum pol_kind k, const struct xmsg_pol *o)
{
	struct nlmsghdr *nlh;

	switch (k) {
	case P_NEWPOLICY:
		return xmsg_newpolicy(buf, o);
	case P_UPDPOLICY:
		nlh = xmsg_newpolicy(buf, o);
		nlh->nlmsg_type = XFRM_MSG_UPDPOLICY;
		return nlh;
	case P_DELPOLICY:
		return xmsg_delpolicy(buf, o);
	default:
		return polexpire_msg(buf, o, true);
	}
}

static size_t pol_hdrlen(enum pol_kind k)
{
	return k == P_DELPOLICY ? sizeof(struct xfrm_userpolicy_id) :
	       k == P_POLEXPIRE_HARD ? sizeof(struct xfrm_user_polexpire) :
	       sizeof(struct xfrm_userpolicy_info);
}

/* The xfrm_userpolicy_info of a message, to corrupt it. */
static struct xfrm_userpolicy_info *pol_info(struct nlmsghdr *nlh, enum pol_kind k)
{
	struct nlattr *a;

	if (k == P_DELPOLICY) {
		a = find_attr(nlh, pol_hdrlen(k), XFRMA_POLICY);
		cr_assert_not_null(a);
		return mnl_attr_get_payload(a);
	}
	return mnl_nlmsg_get_payload(nlh);	/* also the polexpire's first member */
}

static const struct xmsg_pol pol4 = {
	.family = AF_INET, .sel_dst = "10.1.0.0", .sel_src = "10.2.3.0", .prefix_d = 16,
	.prefix_s = 24, .dir = XFRM_POLICY_OUT, .index = 0x1238, .priority = 2000,
};

static const struct xmsg_pol pol6 = {
	.family = AF_INET6, .sel_dst = "2001:db8:1::", .sel_src = "2001:db8:2::1",
	.prefix_d = 48, .prefix_s = 128, .dir = XFRM_POLICY_FWD, .index = 0x10002,
	.priority = 0xffffffff,
};

Test(xfrm, policy)
{
	const struct xmsg_pol *pols[] = { &pol4, &pol6 };
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh;
	struct xfrm_msg m;
	unsigned int k;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(pols); i++)
		for (k = 0; k < P_NKINDS; k++) {
			const struct xmsg_pol *o = pols[i];
			struct xfrm_userpolicy_info *p;

			nlh = pol_msg(buf, k, o);
			p = pol_info(nlh, k);
			p->sel.dport = htons(443);
			p->sel.dport_mask = 0xffff;
			p->sel.proto = IPPROTO_TCP;
			p->sel.ifindex = 3;
			p->flags = XOFF_XFRM_POLICY_CPU_ACQUIRE | XFRM_POLICY_ICMP;
			parse_ok(nlh, &m);
			cr_log_info("%s, family %d", pol_kind_name[k], o->family);
			cr_expect_eq(m.ev, k <= P_UPDPOLICY ? XFRM_EV_POL : XFRM_EV_POL_DEL);
			cr_expect_arr_eq(&m.pol.sel, &p->sel, sizeof(p->sel));
			cr_expect_eq(m.pol.sel.family, o->family);
			expect_addr(&m.pol.sel.daddr, o->family, o->sel_dst);
			expect_addr(&m.pol.sel.saddr, o->family, o->sel_src);
			cr_expect_eq(m.pol.sel.prefixlen_d, o->prefix_d);
			cr_expect_eq(m.pol.sel.prefixlen_s, o->prefix_s);
			cr_expect_eq(m.pol.dir, o->dir);
			cr_expect_eq(m.pol.index, o->index);
			cr_expect_eq(m.pol.priority, o->priority);
			cr_expect_eq(m.pol.action, XFRM_POLICY_ALLOW);
			cr_expect_eq(m.pol.flags, XOFF_XFRM_POLICY_CPU_ACQUIRE | XFRM_POLICY_ICMP);
			cr_expect_eq(m.pol.type, XFRM_POLICY_TYPE_MAIN);
			cr_expect(!m.pol.has_offload);
			cr_expect(!m.pol.has_mark);
			cr_expect_eq(m.pol.ntmpl, 0);
		}
}

Test(xfrm, policy_attrs)
{
	const struct xfrm_userpolicy_type sub = { .type = XFRM_POLICY_TYPE_SUB };
	const struct xfrm_mark mark = { .v = 0x77, .m = 0xffffffff };
	struct xmsg_pol o = pol4;
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh;
	struct xfrm_msg m;

	o.offload_ifindex = 5;
	o.offload_flags = XFRM_OFFLOAD_PACKET | XFRM_OFFLOAD_INBOUND;
	nlh = xmsg_newpolicy(buf, &o);
	mnl_attr_put(nlh, XFRMA_POLICY_TYPE, sizeof(sub), &sub);
	mnl_attr_put(nlh, XFRMA_MARK, sizeof(mark), &mark);
	mnl_attr_put_u32(nlh, XFRMA_IF_ID, 12);
	parse_ok(nlh, &m);
	cr_expect(m.pol.has_offload);
	cr_expect_eq(m.pol.offload_ifindex, 5);
	cr_expect_eq(m.pol.offload_flags, XFRM_OFFLOAD_PACKET | XFRM_OFFLOAD_INBOUND);
	cr_expect_eq(m.pol.type, XFRM_POLICY_TYPE_SUB);
	cr_expect(m.pol.has_mark);
	cr_expect_eq(m.pol.mark.v, 0x77);
	cr_expect_eq(m.pol.mark.m, 0xffffffff);
	cr_expect_eq(m.pol.if_id, 12);

	nlh = xmsg_newpolicy(buf, &pol4);
	mnl_attr_put(nlh, XFRMA_POLICY_TYPE, sizeof(sub),
		     &(struct xfrm_userpolicy_type){ .type = XFRM_POLICY_TYPE_MAX });
	parse_bad_attr(nlh, "XFRMA_POLICY_TYPE");
	nlh = xmsg_newpolicy(buf, &pol4);
	mnl_attr_put(nlh, XFRMA_POLICY_TYPE, sizeof(sub) - 1, &sub);
	parse_bad_attr(nlh, "XFRMA_POLICY_TYPE");
	nlh = xmsg_newpolicy(buf, &pol4);
	mnl_attr_put(nlh, XFRMA_MARK, sizeof(mark) - 1, &mark);
	parse_bad_attr(nlh, "XFRMA_MARK");
	nlh = xmsg_newpolicy(buf, &pol4);
	mnl_attr_put(nlh, XFRMA_IF_ID, 8, &mark);
	parse_bad_attr(nlh, "XFRMA_IF_ID");
}

ParameterizedTestParameters(xfrm, policy_templates)
{
	static unsigned int counts[] = { 0, 1, 2, 6 };

	return cr_make_param_array(unsigned int, counts, ARRAY_SIZE(counts));
}

ParameterizedTest(unsigned int *ntmpl, xfrm, policy_templates)
{
	static const char *const dst[] = { "192.0.2.1", "192.0.2.2", "192.0.2.3",
					   "192.0.2.4", "192.0.2.5", "192.0.2.6" };
	struct xmsg_pol o = pol4;
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh;
	struct nlattr *a;
	struct xfrm_msg m;
	unsigned int i, k;

	o.ntmpl = *ntmpl;
	for (i = 0; i < o.ntmpl; i++)
		o.tmpl[i] = (struct xmsg_tmpl){ .dst = dst[i], .src = "198.51.100.1",
						.reqid = 100 + i, .spi = i * 0x1001,
						.mode = i % 2 ? XFRM_MODE_TRANSPORT :
								XFRM_MODE_TUNNEL };
	for (k = 0; k < P_NKINDS; k++) {
		nlh = pol_msg(buf, k, &o);
		if (o.ntmpl) {
			/* the last template optional, as "level use" makes it */
			a = find_attr(nlh, pol_hdrlen(k), XFRMA_TMPL);
			cr_assert_not_null(a);
			((struct xfrm_user_tmpl *)mnl_attr_get_payload(a))[o.ntmpl - 1].optional = 1;
		}
		parse_ok(nlh, &m);
		cr_assert_eq(m.pol.ntmpl, o.ntmpl, "%s: %u templates, expected %u",
			     pol_kind_name[k], m.pol.ntmpl, o.ntmpl);
		for (i = 0; i < o.ntmpl; i++) {
			const struct xfrm_tmpl *t = &m.pol.tmpl[i];

			expect_addr(&t->daddr, AF_INET, dst[i]);
			expect_addr(&t->saddr, AF_INET, "198.51.100.1");
			cr_expect_eq(t->spi, htonl(i * 0x1001));
			cr_expect_eq(t->reqid, 100 + i);
			cr_expect_eq(t->family, AF_INET);
			cr_expect_eq(t->proto, IPPROTO_ESP);
			cr_expect_eq(t->mode, i % 2 ? XFRM_MODE_TRANSPORT : XFRM_MODE_TUNNEL);
			cr_expect_eq(t->optional, i == o.ntmpl - 1, "template %u", i);
		}
	}
}

Test(xfrm, policy_templates_bad)
{
	static const size_t lens[] = {
		1, sizeof(struct xfrm_user_tmpl) - 1, sizeof(struct xfrm_user_tmpl) + 4,
		2 * sizeof(struct xfrm_user_tmpl) + 1,
		7 * sizeof(struct xfrm_user_tmpl),	/* more than XFRM_MAX_DEPTH */
		8 * sizeof(struct xfrm_user_tmpl),
	};
	struct xfrm_user_tmpl t[8];
	struct xmsg_pol o = pol4;
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh;
	struct nlattr *a;
	size_t i;

	memset(t, 0, sizeof(t));
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		t[i].family = AF_INET;
		t[i].id.proto = IPPROTO_ESP;
	}
	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		nlh = xmsg_newpolicy(buf, &pol4);
		mnl_attr_put(nlh, XFRMA_TMPL, lens[i], t);
		parse_bad_attr(nlh, "XFRMA_TMPL");
	}

	/* A template of neither family. */
	o.ntmpl = 2;
	o.tmpl[0].dst = o.tmpl[1].dst = "192.0.2.1";
	nlh = xmsg_newpolicy(buf, &o);
	a = find_attr(nlh, sizeof(struct xfrm_userpolicy_info), XFRMA_TMPL);
	cr_assert_not_null(a);
	((struct xfrm_user_tmpl *)mnl_attr_get_payload(a))[1].family = AF_UNIX;
	parse_bad_attr(nlh, "XFRMA_TMPL");
}

struct pol_bad_case {
	unsigned int kind;	/* enum pol_kind */
	__u16 family;		/* of the selector */
	__u8 dir, prefix_d, prefix_s;
	bool socket;		/* a per-socket policy: accepted, and nothing to act on */
	char what[16];		/* "" when accepted */
};

ParameterizedTestParameters(xfrm, policy_header_values)
{
	static const struct pol_bad_case base[] = {
		{ .family = AF_INET, .dir = XFRM_POLICY_IN },
		{ .family = AF_INET, .dir = XFRM_POLICY_FWD },
		/* Per-socket policies (XFRM_POLICY_MAX + dir) in a dump: ignored. */
		{ .family = AF_INET, .dir = XFRM_POLICY_MAX + XFRM_POLICY_IN, .socket = true },
		{ .family = AF_INET, .dir = XFRM_POLICY_MAX + XFRM_POLICY_OUT, .socket = true },
		{ .family = AF_INET, .dir = XFRM_POLICY_MAX + XFRM_POLICY_FWD, .socket = true },
		{ .family = AF_INET, .dir = XFRM_POLICY_MAX + XFRM_POLICY_FWD + 1, .what = "direction" },
		{ .family = AF_INET, .dir = 255, .what = "direction" },
		{ .family = AF_INET, .prefix_d = 32, .prefix_s = 32 },
		{ .family = AF_INET, .prefix_d = 33, .what = "prefix" },
		{ .family = AF_INET, .prefix_s = 33, .what = "prefix" },
		{ .family = AF_INET, .prefix_d = 128, .what = "prefix" },
		{ .family = AF_INET, .prefix_d = 255, .what = "prefix" },
		{ .family = AF_INET6, .prefix_d = 128, .prefix_s = 128 },
		{ .family = AF_INET6, .prefix_d = 129, .what = "prefix" },
		{ .family = AF_INET6, .prefix_s = 129, .what = "prefix" },
		/* A selector of any family: as long as an IPv6 address. */
		{ .family = AF_UNSPEC, .prefix_d = 128, .prefix_s = 0 },
		{ .family = AF_UNSPEC, .prefix_d = 129, .what = "prefix" },
		{ .family = AF_UNIX, .what = "family" },
		{ .family = 255, .what = "family" },
	};
	static struct pol_bad_case cases[P_NKINDS * ARRAY_SIZE(base)];
	unsigned int k;
	size_t n = 0, i;

	for (k = 0; k < P_NKINDS; k++)
		for (i = 0; i < ARRAY_SIZE(base); i++) {
			cases[n] = base[i];
			cases[n++].kind = k;
		}
	return cr_make_param_array(struct pol_bad_case, cases, n);
}

ParameterizedTest(struct pol_bad_case *c, xfrm, policy_header_values)
{
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh = pol_msg(buf, c->kind, &pol4);
	struct xfrm_userpolicy_info *p = pol_info(nlh, c->kind);
	struct xfrm_msg m;

	p->sel.family = c->family;
	p->sel.prefixlen_d = c->prefix_d;
	p->sel.prefixlen_s = c->prefix_s;
	p->dir = c->dir;
	cr_log_info("%s: family %u dir %u prefixes %u %u", pol_kind_name[c->kind], c->family,
		    c->dir, c->prefix_d, c->prefix_s);
	if (c->what[0]) {
		parse_bad(nlh, c->what);
		return;
	}
	parse_ok(nlh, &m);
	if (c->socket) {
		cr_expect_eq(m.ev, XFRM_EV_NONE, "a socket policy is nothing to act on");
		return;
	}
	cr_expect_eq(m.pol.dir, c->dir);
	cr_expect_eq(m.pol.sel.family, c->family);
	cr_expect_eq(m.pol.sel.prefixlen_d, c->prefix_d);
	cr_expect_eq(m.pol.sel.prefixlen_s, c->prefix_s);
}

Test(xfrm, delpolicy_by_id)
{
	struct xfrm_userpolicy_info info = { .dir = XFRM_POLICY_OUT };
	char buf[XMSG_BUF];
	struct xfrm_userpolicy_id *id;
	struct nlmsghdr *nlh;
	struct xfrm_msg m;

	/* A DELPOLICY without XFRMA_POLICY: the selector, index and dir of the id. */
	nlh = xmsg_hdr(buf, XFRM_MSG_DELPOLICY);
	id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	id->sel.family = AF_INET6;
	xmsg_addr(AF_INET6, "2001:db8::", &id->sel.daddr);
	id->sel.prefixlen_d = 32;
	id->index = 0x4321;
	id->dir = XFRM_POLICY_IN;
	mnl_attr_put(nlh, XFRMA_MARK, sizeof(struct xfrm_mark),
		     &(struct xfrm_mark){ .v = 1, .m = 3 });
	parse_ok(nlh, &m);
	cr_expect_eq(m.ev, XFRM_EV_POL_DEL);
	cr_expect_arr_eq(&m.pol.sel, &id->sel, sizeof(id->sel));
	cr_expect_eq(m.pol.index, 0x4321);
	cr_expect_eq(m.pol.dir, XFRM_POLICY_IN);
	cr_expect_eq(m.pol.priority, 0);
	cr_expect(m.pol.has_mark);
	cr_expect_eq(m.pol.mark.m, 3);

	id->dir = XFRM_POLICY_MAX + XFRM_POLICY_OUT;	/* a per-socket policy: ignored */
	parse_ok(nlh, &m);
	cr_expect_eq(m.ev, XFRM_EV_NONE);
	id->dir = XFRM_POLICY_MAX + XFRM_POLICY_FWD + 1;
	parse_bad(nlh, "direction");

	/* XFRMA_POLICY, when there, is the policy: its values, not the id's. */
	nlh = xmsg_delpolicy(buf, &pol6);
	id = mnl_nlmsg_get_payload(nlh);
	id->index = 1;
	id->dir = XFRM_POLICY_IN;
	parse_ok(nlh, &m);
	cr_expect_eq(m.pol.index, pol6.index);
	cr_expect_eq(m.pol.dir, pol6.dir);
	cr_expect_eq(m.pol.priority, pol6.priority);

	/* A truncated XFRMA_POLICY. */
	nlh = xmsg_hdr(buf, XFRM_MSG_DELPOLICY);
	mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	mnl_attr_put(nlh, XFRMA_POLICY, sizeof(info) - 1, &info);
	parse_bad_attr(nlh, "XFRMA_POLICY");
}

Test(xfrm, polexpire)
{
	struct xmsg_pol o = pol6;
	char buf[XMSG_BUF];
	struct xfrm_msg m;

	o.ntmpl = 1;
	o.tmpl[0] = (struct xmsg_tmpl){ .dst = "2001:db8::9", .reqid = 4 };

	/* Soft: the policy stays; nothing for xoff. */
	parse_ok(polexpire_msg(buf, &o, false), &m);
	cr_expect_eq(m.ev, XFRM_EV_NONE);
	cr_expect_eq(m.type, XFRM_MSG_POLEXPIRE);

	parse_ok(polexpire_msg(buf, &o, true), &m);
	cr_expect_eq(m.ev, XFRM_EV_POL_DEL);
	cr_expect_eq(m.pol.index, pol6.index);
	cr_expect_eq(m.pol.dir, pol6.dir);
	cr_expect_eq(m.pol.sel.family, AF_INET6);
	cr_expect_eq(m.pol.ntmpl, 1);
	cr_expect_eq(m.pol.tmpl[0].reqid, 4);
}

Test(xfrm, flushpolicy)
{
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh;
	struct xfrm_msg m;

	parse_ok(xmsg_flushpolicy(buf), &m);
	cr_expect_eq(m.ev, XFRM_EV_POL_FLUSH);
	cr_expect_eq(m.flush_pol_type, XFRM_POLICY_TYPE_MAIN);

	nlh = xmsg_flushpolicy(buf);
	mnl_attr_put(nlh, XFRMA_POLICY_TYPE, sizeof(struct xfrm_userpolicy_type),
		     &(struct xfrm_userpolicy_type){ .type = XFRM_POLICY_TYPE_SUB });
	parse_ok(nlh, &m);
	cr_expect_eq(m.ev, XFRM_EV_POL_FLUSH);
	cr_expect_eq(m.flush_pol_type, XFRM_POLICY_TYPE_SUB);

	nlh = xmsg_flushpolicy(buf);
	mnl_attr_put(nlh, XFRMA_POLICY_TYPE, sizeof(struct xfrm_userpolicy_type) - 1,
		     &(struct xfrm_userpolicy_type){ .type = XFRM_POLICY_TYPE_SUB });
	parse_bad_attr(nlh, "XFRMA_POLICY_TYPE");
}

/* ---- MAPPING and NEWAE ---- */

static struct nlmsghdr *mapping_msg(void *buf, int family, const char *dst,
				    const char *old_src, const char *new_src)
{
	struct nlmsghdr *nlh = xmsg_hdr(buf, XFRM_MSG_MAPPING);
	struct xfrm_user_mapping *um = mnl_nlmsg_put_extra_header(nlh, sizeof(*um));

	xmsg_addr(family, dst, &um->id.daddr);
	um->id.spi = htonl(0x5eed);
	um->id.family = family;
	um->id.proto = IPPROTO_ESP;
	um->reqid = 31;
	xmsg_addr(family, old_src, &um->old_saddr);
	xmsg_addr(family, new_src, &um->new_saddr);
	um->old_sport = htons(4500);
	um->new_sport = htons(31337);
	return nlh;
}

Test(xfrm, mapping)
{
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh;
	struct xfrm_msg m;

	parse_ok(mapping_msg(buf, AF_INET, "192.0.2.1", "203.0.113.5", "203.0.113.9"), &m);
	cr_expect_eq(m.ev, XFRM_EV_MAPPING);
	cr_expect_eq(m.map.family, AF_INET);
	expect_addr(&m.map.daddr, AF_INET, "192.0.2.1");
	expect_addr(&m.map.old_saddr, AF_INET, "203.0.113.5");
	expect_addr(&m.map.new_saddr, AF_INET, "203.0.113.9");
	cr_expect_eq(m.map.spi, htonl(0x5eed));
	cr_expect_eq(m.map.proto, IPPROTO_ESP);
	cr_expect_eq(m.map.reqid, 31);
	cr_expect_eq(m.map.old_sport, htons(4500));
	cr_expect_eq(m.map.new_sport, htons(31337));

	parse_ok(mapping_msg(buf, AF_INET6, "2001:db8::1", "2001:db8:5::5", "2001:db8:9::9"),
		 &m);
	cr_expect_eq(m.map.family, AF_INET6);
	expect_addr(&m.map.daddr, AF_INET6, "2001:db8::1");
	expect_addr(&m.map.old_saddr, AF_INET6, "2001:db8:5::5");
	expect_addr(&m.map.new_saddr, AF_INET6, "2001:db8:9::9");
	cr_expect_eq(m.map.new_sport, htons(31337));

	nlh = mapping_msg(buf, AF_INET, "192.0.2.1", "203.0.113.5", "203.0.113.9");
	((struct xfrm_user_mapping *)mnl_nlmsg_get_payload(nlh))->id.family = AF_UNSPEC;
	parse_bad(nlh, "family");
}

/* NEWAE as build_aevent() sends it: the id, replay state, lifetime, thresholds. */
static struct nlmsghdr *newae_msg(void *buf, int family, const char *dst, __u32 spi,
				  const struct xfrm_lifetime_cur *lt)
{
	struct nlmsghdr *nlh = xmsg_hdr(buf, XFRM_MSG_NEWAE);
	struct xfrm_aevent_id *id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
	struct xfrm_replay_state rp = { .oseq = 10, .seq = 9, .bitmap = 1 };

	xmsg_addr(family, dst, &id->sa_id.daddr);
	id->sa_id.spi = htonl(spi);
	id->sa_id.family = family;
	id->sa_id.proto = IPPROTO_ESP;
	id->flags = XFRM_AE_CR;
	id->reqid = 5;
	mnl_attr_put(nlh, XFRMA_REPLAY_VAL, sizeof(rp), &rp);
	if (lt)
		mnl_attr_put(nlh, XFRMA_LTIME_VAL, sizeof(*lt), lt);
	mnl_attr_put_u32(nlh, XFRMA_ETIMER_THRESH, 10);
	return nlh;
}

Test(xfrm, newae)
{
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh;
	struct xfrm_msg m;

	parse_ok(newae_msg(buf, AF_INET6, "2001:db8::7", 0x77, &ltime), &m);
	cr_expect_eq(m.ev, XFRM_EV_AE);
	cr_expect_eq(m.ae.family, AF_INET6);
	expect_addr(&m.ae.daddr, AF_INET6, "2001:db8::7");
	cr_expect_eq(m.ae.spi, htonl(0x77));
	cr_expect_eq(m.ae.proto, IPPROTO_ESP);
	cr_expect(m.ae.has_ltime);
	cr_expect_eq(m.ae.curlft.bytes, ltime.bytes);
	cr_expect_eq(m.ae.curlft.packets, ltime.packets);
	cr_expect_eq(m.ae.curlft.add_time, ltime.add_time);
	cr_expect_eq(m.ae.curlft.use_time, ltime.use_time);

	parse_ok(newae_msg(buf, AF_INET, "192.0.2.7", 0x78, NULL), &m);
	cr_expect_eq(m.ev, XFRM_EV_AE);
	cr_expect_eq(m.ae.family, AF_INET);
	expect_addr(&m.ae.daddr, AF_INET, "192.0.2.7");
	cr_expect(!m.ae.has_ltime);
	cr_expect_eq(m.ae.curlft.bytes | m.ae.curlft.packets | m.ae.curlft.add_time, 0);

	nlh = newae_msg(buf, AF_INET, "192.0.2.7", 0x78, &ltime);
	((struct xfrm_aevent_id *)mnl_nlmsg_get_payload(nlh))->sa_id.family = AF_UNIX;
	parse_bad(nlh, "family");
}

/* ---- MIGRATE ---- */

/* What libreswan's migrate_xfrm_sa() asks for when the peer moves (MOBIKE): one entry,
 * the tunnel's selector and direction; the kernel announces it with POLICY_TYPE. */
static const struct xmsg_migrate mig_v4 = {
	.sel_src = "10.1.0.0", .prefix_s = 24, .sel_dst = "10.2.0.0", .prefix_d = 24,
	.dir = XFRM_POLICY_OUT, .n = 1,
	.m = { { .old_src = "192.0.2.1", .old_dst = "198.51.100.1", .new_src = "192.0.2.1",
		 .new_dst = "203.0.113.7", .mode = XFRM_MODE_TUNNEL, .reqid = 16389 } },
};

/* Mobile IPv6 style: two entries, the key manager's addresses, ESP-in-UDP. */
static const struct xmsg_migrate mig_v6 = {
	.family = AF_INET6, .sel_src = "2001:db8:a::", .prefix_s = 64, .sel_dst = "::",
	.dir = XFRM_POLICY_IN, .kmaddress = true, .encap = UDP_ENCAP_ESPINUDP, .sport = 4500,
	.dport = 4501, .n = 2,
	.m = { { .old_src = "2001:db8::2", .old_dst = "2001:db8::1", .new_src = "2001:db8:9::2",
		 .new_dst = "2001:db8::1", .mode = XFRM_MODE_TUNNEL, .reqid = 7 },
	       { .old_src = "2001:db8::2", .old_dst = "2001:db8::1", .new_src = "2001:db8:9::2",
		 .new_dst = "2001:db8::1", .proto = IPPROTO_AH, .mode = XFRM_MODE_TRANSPORT } },
};

static void expect_move(const struct xfrm_move *mv, int family, const struct xmsg_move *o)
{
	int of = o->old_family ? o->old_family : family, nf = o->new_family ? o->new_family : family;

	cr_expect_eq(mv->old_family, of);
	cr_expect_eq(mv->new_family, nf);
	expect_addr(&mv->old_saddr, of, o->old_src);
	expect_addr(&mv->old_daddr, of, o->old_dst);
	expect_addr(&mv->new_saddr, nf, o->new_src);
	expect_addr(&mv->new_daddr, nf, o->new_dst);
	cr_expect_eq(mv->proto, o->proto ? o->proto : IPPROTO_ESP);
	cr_expect_eq(mv->mode, o->mode);
	cr_expect_eq(mv->reqid, o->reqid);
	cr_expect_not(mv->by_spi);
	cr_expect_eq(mv->spi, 0);
}

static void expect_migrate(const struct xfrm_msg *m, const struct xmsg_migrate *o)
{
	int family = o->family ? o->family : AF_INET;
	unsigned int i;

	cr_assert_eq(m->ev, XFRM_EV_MIGRATE);
	cr_expect_eq(m->mig.dir, o->dir);
	cr_expect_eq(m->mig.sel.family, family);
	expect_addr(&m->mig.sel.saddr, family, o->sel_src);
	expect_addr(&m->mig.sel.daddr, family, o->sel_dst);
	cr_expect_eq(m->mig.sel.prefixlen_s, o->prefix_s);
	cr_expect_eq(m->mig.sel.prefixlen_d, o->prefix_d);
	cr_expect_eq(m->mig.pol_type, XFRM_POLICY_TYPE_MAIN);
	cr_expect_eq(m->mig.has_encap, o->encap != 0);
	cr_expect_eq(m->mig.encap_type, o->encap);
	cr_expect_eq(m->mig.encap_sport, htons(o->sport));
	cr_expect_eq(m->mig.encap_dport, htons(o->dport));
	cr_assert_eq(m->mig.n, o->n);
	for (i = 0; i < o->n; i++)
		expect_move(&m->mig.m[i], family, &o->m[i]);
}

Test(xfrm, migrate)
{
	char buf[XMSG_BUF];
	struct xmsg_migrate o;
	struct xfrm_msg m;

	parse_ok(xmsg_migrate(buf, &mig_v4), &m);
	expect_migrate(&m, &mig_v4);
	parse_ok(xmsg_migrate(buf, &mig_v6), &m);
	expect_migrate(&m, &mig_v6);

	/* A request's single array (as libreswan and iproute2-style tools send it). */
	o = mig_v6;
	o.request = true;
	parse_ok(xmsg_migrate(buf, &o), &m);
	expect_migrate(&m, &o);

	/* An IPv4 SA moved to IPv6 addresses. */
	o = mig_v4;
	o.m[0].new_family = AF_INET6;
	o.m[0].new_src = "2001:db8::1";
	o.m[0].new_dst = "2001:db8::2";
	parse_ok(xmsg_migrate(buf, &o), &m);
	expect_migrate(&m, &o);

	/* XFRM_MAX_DEPTH entries, in two arrays of three. */
	o = mig_v4;
	o.request = true;
	o.n = 3;
	o.m[1] = o.m[2] = o.m[0];
	o.m[1].reqid = 2;
	o.m[2].reqid = 3;
	xmsg_migrate(buf, &o);
	{
		struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
		struct nlattr *a = find_attr(nlh, sizeof(struct xfrm_userpolicy_id), XFRMA_MIGRATE);

		cr_assert_not_null(a);
		mnl_attr_put(nlh, XFRMA_MIGRATE, mnl_attr_get_payload_len(a),
			     mnl_attr_get_payload(a));
		parse_ok(nlh, &m);
		cr_expect_eq(m.mig.n, 6);
		cr_expect_eq(m.mig.m[5].reqid, 3);
		/* and one more is too many */
		mnl_attr_put(nlh, XFRMA_MIGRATE, sizeof(struct xfrm_user_migrate),
			     mnl_attr_get_payload(a));
		parse_bad(nlh, "more than XFRM_MAX_DEPTH");
	}

	/* A removed encapsulation (type 0) is news, not an error. */
	o = mig_v4;
	o.encap = 0;
	xmsg_migrate(buf, &o);
	mnl_attr_put((struct nlmsghdr *)buf, XFRMA_ENCAP, sizeof(struct xfrm_encap_tmpl),
		     &(struct xfrm_encap_tmpl){ .encap_type = 0 });
	parse_ok((struct nlmsghdr *)buf, &m);
	cr_expect(m.mig.has_encap);
	cr_expect_eq(m.mig.encap_type, 0);
}

/* Malformed MIGRATEs, each a change to mig_v4 as the kernel lays it out, and the words
 * the rejection must name. */
struct mig_bad_case {
	const char *what;
	void (*spoil)(struct nlmsghdr *nlh);
	const char *text;
};

static struct xfrm_userpolicy_id *mig_id(struct nlmsghdr *nlh)
{
	return mnl_nlmsg_get_payload(nlh);
}

static struct xfrm_user_migrate *mig_entry(struct nlmsghdr *nlh)
{
	struct nlattr *a = find_attr(nlh, sizeof(struct xfrm_userpolicy_id), XFRMA_MIGRATE);

	cr_assert_not_null(a);
	return mnl_attr_get_payload(a);
}

static void spoil_dir(struct nlmsghdr *nlh) { mig_id(nlh)->dir = XFRM_POLICY_MAX; }
static void spoil_sel_family(struct nlmsghdr *nlh) { mig_id(nlh)->sel.family = AF_UNIX; }
static void spoil_sel_prefix(struct nlmsghdr *nlh) { mig_id(nlh)->sel.prefixlen_d = 33; }
static void spoil_old_family(struct nlmsghdr *nlh) { mig_entry(nlh)->old_family = 0; }
static void spoil_new_family(struct nlmsghdr *nlh) { mig_entry(nlh)->new_family = AF_UNIX; }

/* Without its XFRMA_MIGRATE: every attribute before it is kept. */
static void spoil_no_entry(struct nlmsghdr *nlh)
{
	struct nlattr *a = find_attr(nlh, sizeof(struct xfrm_userpolicy_id), XFRMA_MIGRATE);

	nlh->nlmsg_len = (char *)a - (char *)nlh;
}

/* The entry's attribute shortened by @cut bytes (and the message with it). */
static void cut_entry(struct nlmsghdr *nlh, unsigned int cut)
{
	struct nlattr *a = find_attr(nlh, sizeof(struct xfrm_userpolicy_id), XFRMA_MIGRATE);

	a->nla_len -= cut;
	nlh->nlmsg_len = (char *)a - (char *)nlh + MNL_ALIGN(a->nla_len);
}

static void spoil_entry_short(struct nlmsghdr *nlh) { cut_entry(nlh, 4); }

/* One entry and part of another. */
static void spoil_entry_partial(struct nlmsghdr *nlh)
{
	struct xfrm_user_migrate two[2];

	memcpy(&two[0], mig_entry(nlh), sizeof(two[0]));
	two[1] = two[0];
	spoil_no_entry(nlh);
	mnl_attr_put(nlh, XFRMA_MIGRATE, sizeof(two) - 8, two);
}

static void spoil_entry_overrun(struct nlmsghdr *nlh) { nlh->nlmsg_len -= 8; }

static void spoil_pol_type(struct nlmsghdr *nlh)
{
	struct nlattr *a = find_attr(nlh, sizeof(struct xfrm_userpolicy_id), XFRMA_POLICY_TYPE);

	cr_assert_not_null(a);
	((struct xfrm_userpolicy_type *)mnl_attr_get_payload(a))->type = XFRM_POLICY_TYPE_MAX;
}

static void spoil_encap_short(struct nlmsghdr *nlh)
{
	mnl_attr_put(nlh, XFRMA_ENCAP, 4, &(__u32){ UDP_ENCAP_ESPINUDP });
}

/* (Parameters reach each test by value, in another process: an index, not pointers.) */
static const struct mig_bad_case mig_bad_cases[] = {
	{ "socket policy direction", spoil_dir, "direction" },
	{ "selector family", spoil_sel_family, "selector family" },
	{ "selector prefix beyond IPv4", spoil_sel_prefix, "prefix" },
	{ "entry's old family 0", spoil_old_family, "XFRMA_MIGRATE: address family" },
	{ "entry's new family", spoil_new_family, "XFRMA_MIGRATE: address family" },
	{ "no XFRMA_MIGRATE", spoil_no_entry, "without XFRMA_MIGRATE" },
	{ "entry shorter than struct xfrm_user_migrate", spoil_entry_short,
	  "XFRMA_MIGRATE: bad length" },
	{ "an entry and a part", spoil_entry_partial, "whole number" },
	{ "entry beyond the message", spoil_entry_overrun, "overruns" },
	{ "policy type", spoil_pol_type, "XFRMA_POLICY_TYPE" },
	{ "XFRMA_ENCAP short", spoil_encap_short, "XFRMA_ENCAP: bad length" },
};

ParameterizedTestParameters(xfrm, migrate_bad)
{
	static unsigned int idx[ARRAY_SIZE(mig_bad_cases)];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(idx); i++)
		idx[i] = i;
	return cr_make_param_array(unsigned int, idx, ARRAY_SIZE(idx));
}

ParameterizedTest(unsigned int *i, xfrm, migrate_bad)
{
	const struct mig_bad_case *c = &mig_bad_cases[*i];
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh = xmsg_migrate(buf, &mig_v4);

	cr_log_info("%s", c->what);
	c->spoil(nlh);
	parse_bad(nlh, c->text);
}

Test(xfrm, migrate_state)
{
	struct xmsg_sa sa = { .dst = "192.0.2.2", .spi = 0x4242, .reqid = 9, .mark_v = 5,
			      .mark_m = 0xff, .sa_dir = 1 };
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh;
	struct xfrm_msg m;
	const struct xfrm_move *mv = &m.mig.m[0];

	nlh = xmsg_migrate_state(buf, &sa, "198.51.100.9", "203.0.113.2");
	mnl_attr_put(nlh, XFRMA_MARK, sizeof(struct xfrm_mark), &(struct xfrm_mark){ 6, 0xff });
	parse_ok(nlh, &m);
	cr_assert_eq(m.ev, XFRM_EV_MIGRATE);
	cr_assert_eq(m.mig.n, 1);
	cr_expect(mv->by_spi);
	cr_expect_eq(mv->spi, htonl(0x4242));
	cr_expect_eq(mv->proto, IPPROTO_ESP);
	cr_expect_eq(mv->old_family, AF_INET);
	cr_expect_eq(mv->new_family, AF_INET);
	expect_addr(&mv->old_daddr, AF_INET, "192.0.2.2");
	expect_addr(&mv->new_daddr, AF_INET, "203.0.113.2");
	expect_addr(&mv->new_saddr, AF_INET, "198.51.100.9");
	cr_expect_eq(mv->reqid, 9);
	cr_expect_eq(mv->old_mark.v, 5);
	cr_expect_eq(mv->old_mark.m, 0xff);
	cr_expect_not(m.mig.has_encap);

	sa.family = AF_INET6;
	sa.dst = "2001:db8::2";
	parse_ok(xmsg_migrate_state(buf, &sa, "2001:db8:5::1", "2001:db8:5::2"), &m);
	cr_expect_eq(mv->new_family, AF_INET6);
	expect_addr(&mv->new_daddr, AF_INET6, "2001:db8:5::2");

	nlh = xmsg_migrate_state(buf, &sa, "2001:db8:5::1", "2001:db8:5::2");
	((struct xoff_xfrm_user_migrate_state *)mnl_nlmsg_get_payload(nlh))->new_family = 0;
	parse_bad(nlh, "family");
	nlh = xmsg_migrate_state(buf, &sa, "2001:db8:5::1", "2001:db8:5::2");
	((struct xoff_xfrm_user_migrate_state *)mnl_nlmsg_get_payload(nlh))->id.family = AF_UNIX;
	parse_bad(nlh, "family");
	nlh = xmsg_migrate_state(buf, &sa, "2001:db8:5::1", "2001:db8:5::2");
	mnl_attr_put(nlh, XFRMA_MARK, 4, &(__u32){ 1 });
	parse_bad_attr(nlh, "XFRMA_MARK");
}

/* ---- Builders ---- */

struct build_case {
	int family;
	bool has_mark;
	__u32 mark_v, mark_m;	/* without has_mark: stale values that must not be sent */
};

static struct build_case build_cases[] = {
	{ .family = AF_INET },
	{ .family = AF_INET6 },
	{ .family = AF_INET, .has_mark = true, .mark_v = 0x42, .mark_m = 0xff },
	{ .family = AF_INET6, .has_mark = true, .mark_v = 0, .mark_m = 0xffffffff },
	{ .family = AF_INET, .has_mark = false, .mark_v = 9, .mark_m = 9 },
};

ParameterizedTestParameters(xfrm, builders)
{
	return cr_make_param_array(struct build_case, build_cases, ARRAY_SIZE(build_cases));
}

static void build_sa(const struct build_case *c, struct xfrm_sa *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->family = c->family;
	xmsg_addr(c->family, c->family == AF_INET ? "192.0.2.7" : "2001:db8::7", &sa->daddr);
	xmsg_addr(c->family, c->family == AF_INET ? "192.0.2.8" : "2001:db8::8", &sa->saddr);
	sa->spi = htonl(0xc0ffee01);
	sa->proto = IPPROTO_ESP;
	sa->mode = XFRM_MODE_TUNNEL;
	sa->dir = XOFF_DIR_OUT;
	sa->reqid = 99;
	sa->lft = (struct xfrm_lifetime_cfg){ .soft_byte_limit = 1000, .hard_byte_limit = 2000,
					      .soft_packet_limit = XFRM_INF,
					      .hard_packet_limit = XFRM_INF };
	sa->curlft = (struct xfrm_lifetime_cur){ .bytes = 1500, .packets = 10,
						 .add_time = 1700000000, .use_time = 1700000001 };
	sa->has_mark = c->has_mark;
	sa->mark = (struct xfrm_mark){ .v = c->mark_v, .m = c->mark_m };
}

/* The attributes after a built request's header: each known one at most once, the last
 * ending at the message's end. */
struct built {
	const struct nlattr *mark, *ltime;
};

static void built_attrs(const struct nlmsghdr *nlh, size_t hdrlen, struct built *b)
{
	const struct nlattr *a;

	memset(b, 0, sizeof(*b));
	cr_assert_geq(nlh->nlmsg_len, NLMSG_HDRLEN + MNL_ALIGN(hdrlen));
	mnl_attr_for_each(a, nlh, MNL_ALIGN(hdrlen)) {
		switch (mnl_attr_get_type(a)) {
		case XFRMA_MARK:
			cr_expect_null(b->mark, "XFRMA_MARK twice");
			cr_expect_eq(mnl_attr_get_payload_len(a), sizeof(struct xfrm_mark));
			b->mark = a;
			break;
		case XFRMA_LTIME_VAL:
			cr_expect_null(b->ltime, "XFRMA_LTIME_VAL twice");
			cr_expect_eq(mnl_attr_get_payload_len(a), sizeof(struct xfrm_lifetime_cur));
			b->ltime = a;
			break;
		default:
			cr_expect_fail("unexpected attribute %u", mnl_attr_get_type(a));
		}
	}
	cr_expect_eq((const char *)a, (const char *)mnl_nlmsg_get_payload_tail(nlh),
		     "the attributes do not end where the message does");
}

static void expect_mark(const struct build_case *c, const struct built *b)
{
	if (!c->has_mark) {
		cr_expect_null(b->mark, "XFRMA_MARK without has_mark");
		return;
	}
	cr_assert_not_null(b->mark, "no XFRMA_MARK with has_mark");
	cr_expect_arr_eq(mnl_attr_get_payload(b->mark),
			 (&(struct xfrm_mark){ .v = c->mark_v, .m = c->mark_m }),
			 sizeof(struct xfrm_mark));
}

static void expect_req(const struct nlmsghdr *nlh, size_t len, __u16 type, __u32 seq)
{
	cr_expect_eq(len, nlh->nlmsg_len);
	cr_expect_leq(len, XFRM_REQ_BUF);
	cr_expect_eq(len % NLMSG_ALIGNTO, 0);
	cr_expect_eq(nlh->nlmsg_type, type);
	cr_expect_eq(nlh->nlmsg_seq, seq);
	cr_expect_eq(nlh->nlmsg_pid, 0);
	cr_expect(nlh->nlmsg_flags & NLM_F_REQUEST);
}

static void expect_aevent_id(const struct xfrm_aevent_id *id, const struct xfrm_sa *sa)
{
	cr_expect_arr_eq(&id->sa_id.daddr, &sa->daddr, sizeof(sa->daddr));
	cr_expect_eq(id->sa_id.spi, sa->spi);
	cr_expect_eq(id->sa_id.family, sa->family);
	cr_expect_eq(id->sa_id.proto, sa->proto);
	cr_expect_arr_eq(&id->saddr, &sa->saddr, sizeof(sa->saddr));
	cr_expect_eq(id->reqid, sa->reqid);
}

ParameterizedTest(struct build_case *c, xfrm, builders)
{
	const struct xfrm_lifetime_cur cur = { .bytes = 0x123456789ull, .packets = 77,
					       .add_time = 1700000500, .use_time = 1700000600 };
	_Alignas(8) char buf[XFRM_REQ_BUF];
	const struct nlmsghdr *nlh = (const void *)buf;
	const struct xfrm_user_expire *ue;
	const struct xfrm_aevent_id *id;
	struct xfrm_sa sa;
	struct built b;
	size_t len;
	int hard;

	build_sa(c, &sa);

	len = xfrm_build_getae(buf, 11, &sa);
	expect_req(nlh, len, XFRM_MSG_GETAE, 11);
	cr_expect_eq(nlh->nlmsg_flags & NLM_F_DUMP, 0, "GETAE is not a dump");
	id = mnl_nlmsg_get_payload(nlh);
	expect_aevent_id(id, &sa);
	cr_expect_eq(id->flags, XFRM_AE_RVAL);
	built_attrs(nlh, sizeof(*id), &b);
	expect_mark(c, &b);
	cr_expect_null(b.ltime, "GETAE carries no lifetime");

	len = xfrm_build_newae(buf, 12, &sa, &cur);
	expect_req(nlh, len, XFRM_MSG_NEWAE, 12);
	cr_expect_eq(nlh->nlmsg_flags & (NLM_F_REPLACE | NLM_F_REQUEST),
		     NLM_F_REPLACE | NLM_F_REQUEST, "NEWAE flags %#x", nlh->nlmsg_flags);
	id = mnl_nlmsg_get_payload(nlh);
	expect_aevent_id(id, &sa);
	built_attrs(nlh, sizeof(*id), &b);
	expect_mark(c, &b);
	cr_assert_not_null(b.ltime, "NEWAE without XFRMA_LTIME_VAL");
	cr_expect_arr_eq(mnl_attr_get_payload(b.ltime), &cur, sizeof(cur));

	for (hard = 0; hard <= 1; hard++) {
		len = xfrm_build_expire(buf, 13 + hard, &sa, hard);
		expect_req(nlh, len, XFRM_MSG_EXPIRE, 13 + hard);
		ue = mnl_nlmsg_get_payload(nlh);
		cr_expect_eq(ue->hard, hard);
		cr_expect_arr_eq(&ue->state.id.daddr, &sa.daddr, sizeof(sa.daddr));
		cr_expect_eq(ue->state.id.spi, sa.spi);
		cr_expect_eq(ue->state.id.proto, sa.proto);
		cr_expect_eq(ue->state.family, sa.family);
		cr_expect_arr_eq(&ue->state.saddr, &sa.saddr, sizeof(sa.saddr));
		cr_expect_eq(ue->state.mode, sa.mode);
		cr_expect_eq(ue->state.reqid, sa.reqid);
		cr_expect_arr_eq(&ue->state.lft, &sa.lft, sizeof(sa.lft));
		cr_expect_arr_eq(&ue->state.curlft, &sa.curlft, sizeof(sa.curlft));
		built_attrs(nlh, sizeof(*ue), &b);
		expect_mark(c, &b);
		cr_expect_null(b.ltime);
	}
}

Test(xfrm, build_dump)
{
	static const __u16 types[] = { XFRM_MSG_GETSA, XFRM_MSG_GETPOLICY };
	_Alignas(8) char buf[XFRM_REQ_BUF];
	const struct nlmsghdr *nlh = (const void *)buf;
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(types); i++) {
		memset(buf, 0xee, sizeof(buf));
		len = xfrm_build_dump(buf, 100 + i, types[i]);
		expect_req(nlh, len, types[i], 100 + i);
		cr_expect_eq(len, NLMSG_HDRLEN);
		cr_expect_eq(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_DUMP);
	}
}

ParameterizedTestParameters(xfrm, builders_round_trip)
{
	return cr_make_param_array(struct build_case, build_cases, ARRAY_SIZE(build_cases));
}

/* What xoff sends, read back by its own parser as the kernel's echo would be. */
ParameterizedTest(struct build_case *c, xfrm, builders_round_trip)
{
	const struct xfrm_lifetime_cur cur = { .bytes = 5555, .packets = 5,
					       .add_time = 1700000000, .use_time = 1700000009 };
	_Alignas(8) char buf[XFRM_REQ_BUF];
	struct xfrm_sa sa;
	struct xfrm_msg m;
	int hard;

	build_sa(c, &sa);
	xfrm_build_newae(buf, 1, &sa, &cur);
	parse_ok((const void *)buf, &m);
	cr_expect_eq(m.ev, XFRM_EV_AE);
	cr_expect(m.ae.has_ltime);
	cr_expect_arr_eq(&m.ae.curlft, &cur, sizeof(cur));
	cr_expect_arr_eq(&m.ae.daddr, &sa.daddr, sizeof(sa.daddr));
	cr_expect_eq(m.ae.spi, sa.spi);
	cr_expect_eq(m.ae.family, sa.family);
	cr_expect_eq(m.ae.proto, sa.proto);

	for (hard = 0; hard <= 1; hard++) {
		struct xfrm_sa want = sa;

		xfrm_build_expire(buf, 2, &sa, hard);
		parse_ok((const void *)buf, &m);
		cr_expect_eq(m.ev, hard ? XFRM_EV_SA_DEL : XFRM_EV_SA_SOFT);
		cr_expect_eq(m.sa.has_mark, c->has_mark);
		/* Without has_mark no mark is sent, whatever sa.mark holds. */
		if (!c->has_mark)
			want.mark = (struct xfrm_mark){ 0, 0 };
		cr_expect(xfrm_sa_same(&m.sa, &want), "the expire names another SA");
		cr_expect_arr_eq(&m.sa.saddr, &sa.saddr, sizeof(sa.saddr));
		cr_expect_eq(m.sa.mode, sa.mode);
		cr_expect_eq(m.sa.reqid, sa.reqid);
		cr_expect_arr_eq(&m.sa.lft, &sa.lft, sizeof(sa.lft));
		cr_expect_arr_eq(&m.sa.curlft, &sa.curlft, sizeof(sa.curlft));
	}

	/* GETAE is a request, not something xoff receives. */
	xfrm_build_getae(buf, 3, &sa);
	parse_ok((const void *)buf, &m);
	cr_expect_eq(m.ev, XFRM_EV_NONE);
}

/* ---- SA identity ---- */

Test(xfrm, sa_same)
{
	struct xfrm_sa a, b;

	build_sa(&(struct build_case){ .family = AF_INET, .has_mark = true, .mark_v = 0x10,
				       .mark_m = 0xff }, &a);
	b = a;
	cr_expect(xfrm_sa_same(&a, &b));

	/* What is not identity. */
	xmsg_addr(AF_INET, "198.51.100.200", &b.saddr);
	b.reqid++;
	b.mode = XFRM_MODE_TRANSPORT;
	b.dir = XOFF_DIR_IN;
	b.curlft.bytes = 1;
	b.alg_known = true;
	b.icv_len = 16;
	b.has_offload = true;
	b.offload_ifindex = 4;
	cr_expect(xfrm_sa_same(&a, &b));
	cr_expect(xfrm_sa_same(&b, &a));
	/* IPv4 compares 4 address bytes. */
	b.daddr.a6[3] = 0xdead;
	cr_expect(xfrm_sa_same(&a, &b));
	/* The mark's value outside its mask. */
	b.mark.v = 0x110;
	cr_expect(xfrm_sa_same(&a, &b));

	b = a;
	b.spi = htonl(ntohl(a.spi) + 1);
	cr_expect(!xfrm_sa_same(&a, &b), "different SPI");
	cr_expect(!xfrm_sa_same(&b, &a));
	b = a;
	b.mark.v = 0x11;
	cr_expect(!xfrm_sa_same(&a, &b), "different mark");
	cr_expect(!xfrm_sa_same(&b, &a));
	b = a;
	b.mark.m = 0xf0;
	b.mark.v = 0x10;
	cr_expect(!xfrm_sa_same(&a, &b), "different mark mask");
	b = a;
	b.mark = (struct xfrm_mark){ 0, 0 };
	b.has_mark = false;
	cr_expect(!xfrm_sa_same(&a, &b), "marked and unmarked");
	b = a;
	b.daddr.a4 = htonl(ntohl(a.daddr.a4) + 1);
	cr_expect(!xfrm_sa_same(&a, &b), "different destination");
	b = a;
	b.proto = IPPROTO_AH;
	cr_expect(!xfrm_sa_same(&a, &b), "different protocol");
	b = a;
	b.family = AF_INET6;
	cr_expect(!xfrm_sa_same(&a, &b), "different family");
	cr_expect(!xfrm_sa_same(&b, &a));

	build_sa(&(struct build_case){ .family = AF_INET6 }, &a);
	b = a;
	cr_expect(xfrm_sa_same(&a, &b));
	b.daddr.a6[3] ^= htonl(1);	/* the last byte of an IPv6 address counts */
	cr_expect(!xfrm_sa_same(&a, &b), "different IPv6 destination");
}

Test(xfrm, addr_len)
{
	cr_expect_eq(xfrm_addr_len(AF_INET), 4);
	cr_expect_eq(xfrm_addr_len(AF_INET6), 16);
	cr_expect_eq(xfrm_addr_len(AF_UNSPEC), 0);
	cr_expect_eq(xfrm_addr_len(AF_UNIX), 0);
	cr_expect_eq(xfrm_addr_len(AF_PACKET), 0);
	cr_expect_eq(xfrm_addr_len(UINT_MAX), 0);
}

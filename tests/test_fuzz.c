// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Differential fuzz of the XDP and TC programs against a reference model written from abi.h. */
#define _GNU_SOURCE
#include "fixture.h"
#include <inttypes.h>
#include <linux/pkt_cls.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_SEED	0x786f66667a7a0001ull	/* "xoffzz" 1; env XOFF_FUZZ_SEED */
#define FUZZ_PACKETS	200000		/* per program; env XOFF_FUZZ_PACKETS */
#define FUZZ_MAX_LEN	1024		/* well inside one page for both test runs */
#define FUZZ_SA_CHECK	1024		/* packets between full SA counter checks */

#define MODEL_ESP	XOFF_R_MAX		/* the parse found ESP; the SA table decides */

/* ---- Reference model ------------------------------------------------------------ */

struct model_cfg {
	uint8_t unknown_spi;
	uint8_t steer;
	uint8_t policies;
	uint16_t natt_port;	/* host order */
};

struct model_pkt {
	int r;			/* enum xoff_reason, or MODEL_ESP */
	int family;
	uint8_t daddr[16];
	uint8_t encap;
	uint32_t spi;		/* host order */
	uint32_t esp_len;
	uint32_t ip_len;	/* what a tunnel-mode SA counts: the whole IP packet */
	uint32_t ip_payload;	/* what a transport-mode SA counts */
};

struct model_out {
	int reason;
	uint32_t verdict;
	int sa;			/* fixture SA whose counters move, -1 none */
	uint64_t bytes;
	bool may_drop;		/* ESP no SA expects: the only traffic xoff may drop */
};

/* The fixture's state, seen from outside: addresses parsed once, cpumap and selectors. */
static uint8_t model_sa_addr[FX_NR_SAS][16];
static const bool model_cpu_enabled[] = { [0] = true };

struct model_policy {
	int family;
	const char *addr;
	unsigned int plen;
	enum fx_sa sa;
	uint8_t a[16];
};

static struct model_policy model_policies[] = {
	{ .family = AF_INET, .addr = "198.51.100.0", .plen = 24, .sa = SA_V4_PKT },
	{ .family = AF_INET6, .addr = "2001:db8:7::", .plen = 48, .sa = SA_V6_PKT },
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static void model_init(void)
{
	size_t i;

	for (i = 0; i < FX_NR_SAS; i++)
		cr_assert_eq(inet_pton(fx_sas[i].family, fx_sas[i].daddr, model_sa_addr[i]), 1);
	for (i = 0; i < ARRAY_SIZE(model_policies); i++)
		cr_assert_eq(inet_pton(model_policies[i].family, model_policies[i].addr,
				       model_policies[i].a), 1);
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int model_l4(const uint8_t *pkt, size_t len, size_t l4, uint32_t l4_len, uint8_t proto,
		    int egress, const struct model_cfg *cfg, struct model_pkt *m)
{
	size_t u = l4 + 8;
	uint16_t port;
	uint32_t ulen;

	if (proto == IPPROTO_ESP) {
		if (l4_len < 8 || l4 + 8 > len)
			return XOFF_R_MALFORMED;
		m->encap = XOFF_ENCAP_ESP;
		m->spi = be32(pkt + l4);
		m->esp_len = l4_len;
		return MODEL_ESP;
	}
	if (proto != IPPROTO_UDP)
		return XOFF_R_OTHER;
	if (l4 + 8 > len)
		return XOFF_R_MALFORMED;
	/* Received ESP-in-UDP is addressed to our port; sent, it comes from it. */
	port = be16(pkt + l4 + (egress ? 0 : 2));
	if (port == XOFF_IKE_PORT)
		return XOFF_R_IKE;
	if (port != cfg->natt_port)
		return XOFF_R_OTHER;
	/* The kernel trims to the UDP length and drops UDP longer than its IP payload. */
	ulen = be16(pkt + l4 + 4);
	if (ulen < 8 || ulen > l4_len)
		return XOFF_R_MALFORMED;
	/* RFC 3948 as the kernel's UDP encap receive applies it. */
	ulen -= 8;
	if (ulen == 1) {
		if (u + 1 > len)
			return XOFF_R_MALFORMED;
		return pkt[u] == 0xff ? XOFF_R_NATT_KEEPALIVE : XOFF_R_IKE;
	}
	if (ulen <= 8)
		return XOFF_R_IKE;
	if (u + 8 > len)
		return XOFF_R_MALFORMED;
	if (be32(pkt + u) == 0)
		return XOFF_R_IKE;
	m->encap = XOFF_ENCAP_ESPINUDP;
	m->spi = be32(pkt + u);
	m->esp_len = ulen;
	return MODEL_ESP;
}

static int model_ip4(const uint8_t *pkt, size_t len, size_t off, int egress,
		     const struct model_cfg *cfg, struct model_pkt *m)
{
	const uint8_t *ip = pkt + off;
	uint32_t ihl, tot;

	if (off + 20 > len)
		return XOFF_R_MALFORMED;
	ihl = (ip[0] & 0xf) * 4u;
	tot = be16(ip + 2);
	if (ip[0] >> 4 != 4 || ihl < 20 || tot < ihl || off + tot > len)
		return XOFF_R_MALFORMED;
	m->family = AF_INET;
	memcpy(m->daddr, ip + 16, 4);
	m->ip_len = tot;
	m->ip_payload = tot - ihl;
	if (be16(ip + 6) & 0x3fff)	/* MF or an offset; DF and the reserved bit are not */
		return XOFF_R_FRAGMENT;
	return model_l4(pkt, len, off + ihl, tot - ihl, ip[9], egress, cfg, m);
}

static bool ip6_ext(uint8_t nh)
{
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS;
}

/* What the kernel's transport mode counts for IPv6: ESP goes in after the headers
 * ip6_find_1stfragopt() keeps in front, so they are not part of the count. xoff looks
 * at XOFF_MAX_IP6_EXTHDRS headers at most and counts the rest: an overcount. */
static uint32_t model_ip6_transport(const uint8_t *pkt, size_t len, size_t at, uint8_t nh,
				    uint32_t left)
{
	bool rthdr = false;
	uint32_t hlen;
	int n;

	for (n = 0; n < XOFF_MAX_IP6_EXTHDRS; n++) {
		if (nh == IPPROTO_ROUTING)
			rthdr = true;
		else if (nh != IPPROTO_HOPOPTS && (nh != IPPROTO_DSTOPTS || rthdr))
			return left;
		if (at + 2 > len)
			return left;
		hlen = (pkt[at + 1] + 1u) * 8;
		if (hlen > left)
			return left;
		nh = pkt[at];
		at += hlen;
		left -= hlen;
	}
	return left;
}

static int model_ip6(const uint8_t *pkt, size_t len, size_t off, int egress,
		     const struct model_cfg *cfg, struct model_pkt *m)
{
	const uint8_t *ip = pkt + off;
	uint32_t plen, left, hlen;
	size_t l4 = off + 40;
	uint8_t nh;
	int n;

	if (off + 40 > len)
		return XOFF_R_MALFORMED;
	plen = be16(ip + 4);
	if (ip[0] >> 4 != 6 || off + 40 + plen > len)
		return XOFF_R_MALFORMED;
	m->family = AF_INET6;
	memcpy(m->daddr, ip + 24, 16);
	m->ip_len = 40 + plen;
	m->ip_payload = model_ip6_transport(pkt, len, l4, ip[6], plen);
	nh = ip[6];
	left = plen;
	for (n = 0;; n++) {
		if (nh == IPPROTO_FRAGMENT)
			return XOFF_R_FRAGMENT;
		if (!ip6_ext(nh))
			break;
		if (n == XOFF_MAX_IP6_EXTHDRS)
			return XOFF_R_OTHER;
		if (l4 + 2 > len)
			return XOFF_R_MALFORMED;
		hlen = (pkt[l4 + 1] + 1u) * 8;
		if (hlen > left)
			return XOFF_R_MALFORMED;
		nh = pkt[l4];
		l4 += hlen;
		left -= hlen;
	}
	return model_l4(pkt, len, l4, left, nh, egress, cfg, m);
}

static void model_parse(const uint8_t *pkt, size_t len, int egress,
			const struct model_cfg *cfg, struct model_pkt *m)
{
	size_t off = ETH_HLEN;
	uint16_t etype = be16(pkt + 12);
	int tags;

	memset(m, 0, sizeof(*m));
	for (tags = 0; tags < 2 && (etype == ETH_P_8021Q || etype == ETH_P_8021AD); tags++) {
		if (off + 4 > len) {
			m->r = XOFF_R_MALFORMED;
			return;
		}
		etype = be16(pkt + off + 2);
		off += 4;
	}
	if (etype == ETH_P_IP)
		m->r = model_ip4(pkt, len, off, egress, cfg, m);
	else if (etype == ETH_P_IPV6)
		m->r = model_ip6(pkt, len, off, egress, cfg, m);
	else
		m->r = XOFF_R_NOT_IP;
}

static int model_sa_lookup(const struct model_pkt *m)
{
	size_t alen = m->family == AF_INET ? 4 : 16;
	int i;

	for (i = 0; i < FX_NR_SAS; i++)
		if (fx_sas[i].family == m->family && fx_sas[i].encap == m->encap &&
		    fx_sas[i].spi == m->spi && !memcmp(model_sa_addr[i], m->daddr, alen))
			return i;
	return -1;
}

static bool prefix_match(const uint8_t *a, const uint8_t *p, unsigned int plen)
{
	unsigned int full = plen / 8, rest = plen % 8;

	if (memcmp(a, p, full))
		return false;
	return !rest || !((a[full] ^ p[full]) & (0xff00 >> rest));
}

/* Egress plaintext toward a packet-offload selector: the longest matching prefix. */
static void model_policy(const struct model_pkt *m, struct model_out *o)
{
	const struct model_policy *best = NULL;
	const struct xoff_sa *v;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(model_policies); i++) {
		const struct model_policy *p = &model_policies[i];

		if (p->family == m->family && prefix_match(m->daddr, p->a, p->plen) &&
		    (!best || p->plen > best->plen))
			best = p;
	}
	if (!best)
		return;
	v = &fx_sas[best->sa].v;
	if (v->offload_ifindex != FX_LO)	/* skb->dev of a test run is lo */
		return;
	o->reason = XOFF_R_POLICY_HW;
	o->sa = best->sa;
	o->bytes = v->mode == XOFF_MODE_TUNNEL ? m->ip_len : m->ip_payload;
}

static void model_classify(const uint8_t *pkt, size_t len, int egress,
			   const struct model_cfg *cfg, struct model_out *o)
{
	const struct xoff_sa *v;
	struct model_pkt m;
	uint32_t overhead;
	int sa;

	memset(o, 0, sizeof(*o));
	o->verdict = egress ? (uint32_t)TC_ACT_UNSPEC : XDP_PASS;
	o->sa = -1;
	model_parse(pkt, len, egress, cfg, &m);
	o->reason = m.r;
	if (m.r != MODEL_ESP) {
		if (egress && m.r == XOFF_R_OTHER && cfg->policies)
			model_policy(&m, o);
		return;
	}
	sa = model_sa_lookup(&m);
	if (sa < 0) {
		o->may_drop = true;
		if (!egress && cfg->unknown_spi == XOFF_UNKNOWN_DROP) {
			o->reason = XOFF_R_UNKNOWN_DROP;
			o->verdict = XDP_DROP;
		} else {
			o->reason = XOFF_R_UNKNOWN_PASS;
		}
		return;
	}
	v = &fx_sas[sa].v;
	if (v->dir != (egress ? XOFF_DIR_OUT : XOFF_DIR_IN)) {
		o->reason = XOFF_R_WRONG_DIR;
		return;
	}
	overhead = XOFF_ESP_HDR_LEN + v->iv_len + v->icv_len + XOFF_ESP_TRAILER_LEN;
	if (m.esp_len < overhead) {
		o->reason = XOFF_R_MALFORMED;
		return;
	}
	o->sa = sa;
	o->bytes = m.esp_len - overhead;
	if (egress) {
		if (v->queue != XOFF_QUEUE_NONE) {
			/* queue_mapping itself cannot be checked: the 6.18 skb test run
			 * neither takes it (EINVAL above lo's one TX queue) nor returns it. */
			o->reason = XOFF_R_SA_QUEUED;
		} else if (v->path == XOFF_PATH_HW && v->offload_ifindex == FX_LO) {
			o->reason = XOFF_R_SA_HW;
		} else {
			o->reason = XOFF_R_SA_SW;
		}
		return;
	}
	if (v->path == XOFF_PATH_HW && v->offload_ifindex == FX_LO) {
		o->reason = XOFF_R_SA_HW;
	} else if (cfg->steer && v->action == XOFF_ACT_CPU && v->cpu == fx_cpu) {
		o->reason = XOFF_R_SA_STEERED;	/* already on its CPU: passed */
	} else if (cfg->steer && v->action == XOFF_ACT_CPU) {
		bool on = v->cpu < ARRAY_SIZE(model_cpu_enabled) && model_cpu_enabled[v->cpu];

		o->reason = on ? XOFF_R_SA_STEERED : XOFF_R_STEER_FAILED;
		o->verdict = on ? XDP_REDIRECT : XDP_PASS;
	} else {
		o->reason = XOFF_R_SA_SW;
	}
}

/* ---- Generators ----------------------------------------------------------------- */

static uint64_t rng;

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Each packet gets its own stream, so one failing index is rebuilt without the rest. */
static void rng_seed(uint64_t seed, int egress, uint32_t index)
{
	rng = seed ^ ((uint64_t)egress << 63) ^ ((uint64_t)index * 0xd1342543de82ef95ull);
	splitmix64(&rng);
}

static uint32_t rnd(uint32_t n)
{
	return n ? (uint32_t)(splitmix64(&rng) % n) : 0;
}

static void rnd_fill(uint8_t *p, size_t n)
{
	while (n--)
		*p++ = (uint8_t)rnd(256);
}

/* Where a template's fields are, so mutations can aim at what the parser reads. */
struct fields {
	size_t l3, l4, spi;
	int family;		/* 0: not IP */
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

/* Mostly SAs of the program's own direction: the others only reach WRONG_DIR. */
static enum fx_sa rnd_sa(int egress)
{
	enum fx_sa sa;
	int tries = rnd(4) ? 8 : 1;

	do
		sa = rnd(FX_NR_SAS);
	while (--tries && fx_sas[sa].v.dir != (egress ? XOFF_DIR_OUT : XOFF_DIR_IN));
	return sa;
}

/* ESP sizes around the SAs' overhead (34 for GCM, 42 for CBC) matter most. */
static uint32_t rnd_esp_payload(void)
{
	switch (rnd(8)) {
	case 0 ... 2:
		return 16 + rnd(32);
	case 3:
		return rnd(16);
	default:
		return rnd(400);
	}
}

static void rnd_addr(struct pkt_spec *s)
{
	static const char *const v4[] = { "192.0.2.1", "198.51.100.1", "198.51.100.7",
					  "198.51.100.%u", "198.51.101.%u", "10.%u.0.1" };
	static const char *const v6[] = { "2001:db8::1", "2001:db8::9", "2001:db8:7::1",
					  "2001:db8:7::%x", "2001:db8:7:%x::1", "2001:db8:8::%x",
					  "fe80::%x" };

	if (s->family == AF_INET)
		snprintf(s->dst, sizeof(s->dst), v4[rnd(ARRAY_SIZE(v4))], rnd(256));
	else
		snprintf(s->dst, sizeof(s->dst), v6[rnd(ARRAY_SIZE(v6))], rnd(65536));
}

static size_t gen_template(uint8_t *buf, int egress, struct fields *f)
{
	static const uint8_t exts[] = { IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS };
	static const uint8_t plain[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_AH, IPPROTO_ICMP,
					 IPPROTO_ICMPV6, IPPROTO_GRE };
	static const uint16_t non_ip[] = { ETH_P_ARP, 0x88cc, 0x9000, ETH_P_8021Q };
	struct pkt_spec s = { .family = rnd(2) ? AF_INET : AF_INET6 };
	uint16_t *our_port, *their_port;
	int kind = rnd(12), i;
	enum fx_sa sa;

	/* The port xoff looks at depends on the direction (see model_l4). */
	our_port = egress ? &s.sport : &s.dport;
	their_port = egress ? &s.dport : &s.sport;
	s.nvlan = rnd(4) ? 0 : rnd(3);
	s.eth_pad = rnd(4) ? 0 : rnd(32);
	switch (kind) {
	case 0 ... 4:	/* ESP for a fixture SA, the way it is expected or with a twist */
		sa = rnd_sa(egress);
		s.family = fx_sas[sa].family;
		snprintf(s.dst, sizeof(s.dst), "%s", fx_sas[sa].daddr);
		s.spi = fx_sas[sa].spi;
		s.payload = rnd_esp_payload();
		if ((fx_sas[sa].encap == XOFF_ENCAP_ESPINUDP) != !rnd(8)) {
			s.proto = IPPROTO_UDP;
			s.esp_in_udp = true;
			*our_port = XOFF_NATT_PORT;
			*their_port = rnd(2) ? XOFF_NATT_PORT : 1024 + rnd(60000);
		} else {
			s.proto = IPPROTO_ESP;
		}
		break;
	case 5:		/* ESP no SA expects */
		rnd_addr(&s);
		s.spi = rnd(2) ? (uint32_t)splitmix64(&rng) : fx_sas[rnd(FX_NR_SAS)].spi;
		s.payload = rnd_esp_payload();
		if (rnd(2)) {
			s.proto = IPPROTO_UDP;
			s.esp_in_udp = true;
			s.sport = s.dport = XOFF_NATT_PORT;
		} else {
			s.proto = IPPROTO_ESP;
		}
		break;
	case 6:		/* IKE */
		rnd_addr(&s);
		s.proto = IPPROTO_UDP;
		*our_port = XOFF_IKE_PORT;
		*their_port = rnd(2) ? XOFF_IKE_PORT : rnd(65536);
		s.payload = rnd(200);
		rnd_fill(s.raw, sizeof(s.raw));
		break;
	case 7:		/* the NAT-T port without ESP: IKE marker, keepalive, short */
		rnd_addr(&s);
		s.proto = IPPROTO_UDP;
		s.sport = s.dport = XOFF_NATT_PORT;
		switch (rnd(4)) {
		case 0:
			s.payload = 1;
			s.raw[0] = rnd(2) ? 0xff : rnd(256);
			break;
		case 1:
			s.payload = rnd(9);
			rnd_fill(s.raw, sizeof(s.raw));
			break;
		default:
			s.payload = 9 + rnd(200);	/* zero marker from pkt_build */
			break;
		}
		break;
	case 8:		/* fragments of ESP that would otherwise hit */
		sa = rnd(FX_NR_SAS);
		s.family = fx_sas[sa].family;
		snprintf(s.dst, sizeof(s.dst), "%s", fx_sas[sa].daddr);
		s.proto = IPPROTO_ESP;
		s.spi = fx_sas[sa].spi;
		s.payload = rnd_esp_payload();
		if (rnd(2))
			s.frag_first = true;
		else
			s.frag_later = true;
		break;
	case 9 ... 10:	/* plaintext, some of it toward the packet-offload selectors */
		rnd_addr(&s);
		s.proto = plain[rnd(ARRAY_SIZE(plain))];
		s.sport = rnd(65536);
		s.dport = rnd(65536);
		s.payload = rnd(300);
		break;
	default:	/* not IP at all */
		s.ethertype = non_ip[rnd(ARRAY_SIZE(non_ip))];
		break;
	}
	if (s.family == AF_INET && !rnd(4))
		s.ip4_optlen = 4 * rnd(11);
	if (s.family == AF_INET6 && !rnd(3)) {
		s.next = rnd(6);
		for (i = 0; i < s.next; i++)
			s.ext[i] = exts[rnd(ARRAY_SIZE(exts))];
	}

	memset(f, 0, sizeof(*f));
	f->l3 = ETH_HLEN + 4 * s.nvlan;
	if (!s.ethertype) {
		f->family = s.family;
		if (s.family == AF_INET)
			f->l4 = f->l3 + 20 + s.ip4_optlen;
		else
			f->l4 = f->l3 + 40 + 16 * s.next + (s.frag_first || s.frag_later ? 8 : 0);
		f->spi = f->l4 + (s.proto == IPPROTO_UDP ? 8 : 0);
	}
	return pkt_build(&s, buf);
}

static void mutate(uint8_t *buf, size_t *len, const struct fields *f)
{
	static const uint16_t etypes[] = { ETH_P_IP, ETH_P_IPV6, ETH_P_8021Q, ETH_P_8021AD,
					   ETH_P_ARP, 0x9100, 0x0000 };
	static const uint8_t protos[] = { IPPROTO_ESP, IPPROTO_UDP, IPPROTO_AH, IPPROTO_TCP, 0,
					  IPPROTO_ROUTING, IPPROTO_FRAGMENT, IPPROTO_DSTOPTS, 59 };
	static const uint16_t ports[] = { XOFF_IKE_PORT, XOFF_NATT_PORT, 0, 53, 4501, 0xffff };
	size_t n = *len, at;

	switch (rnd(11)) {
	case 0:
		buf[rnd(n)] ^= 1u << rnd(8);
		break;
	case 1:
		buf[rnd(n)] = rnd(256);
		break;
	case 2:
		*len = ETH_HLEN + rnd(n - ETH_HLEN + 1);
		break;
	case 3:
		at = 1 + rnd(64);
		if (n + at > FUZZ_MAX_LEN)
			at = FUZZ_MAX_LEN - n;
		rnd_fill(buf + n, at);
		*len = n + at;
		break;
	case 4:
		if (f->spi && f->spi + 4 <= n)
			put32(buf + f->spi, rnd(4) ? fx_sas[rnd(FX_NR_SAS)].spi :
					    rnd(2) ? 0 : (uint32_t)splitmix64(&rng));
		break;
	case 5:
		put16(buf + (f->l3 ? f->l3 : ETH_HLEN) - 2, etypes[rnd(ARRAY_SIZE(etypes))]);
		break;
	case 6:
		at = f->family == AF_INET ? f->l3 + 9 : f->l3 + 6;
		if (f->family && at < n)
			buf[at] = protos[rnd(ARRAY_SIZE(protos))];
		break;
	case 7:
		at = f->l4 + 2 * rnd(2);
		if (f->family && at + 2 <= n)
			put16(buf + at, ports[rnd(ARRAY_SIZE(ports))]);
		break;
	case 8:		/* the IP length field, off by a little */
		at = f->l3 + (f->family == AF_INET ? 2 : 4);
		if (f->family && at + 2 <= n)
			put16(buf + at, be16(buf + at) + rnd(33) - 16);
		break;
	case 9:		/* version and IHL */
		if (f->family && f->l3 < n)
			buf[f->l3] = rnd(2) ? (buf[f->l3] & 0xf0) | rnd(16) :
					      (rnd(16) << 4) | (buf[f->l3] & 0xf);
		break;
	default:	/* an extension header length, or an IPv4 fragment field */
		at = f->family == AF_INET6 ? f->l3 + 41 : f->l3 + 6 + rnd(2);
		if (f->family && at < n)
			buf[at] = rnd(4) ? rnd(4) : rnd(256);
		break;
	}
}

/* A frame of random bytes, biased so that a fair share gets past the L2 and L3 checks. */
static size_t gen_random(uint8_t *buf)
{
	static const uint16_t etypes[] = { ETH_P_IP, ETH_P_IPV6, ETH_P_8021Q, ETH_P_8021AD };
	size_t len = ETH_HLEN + rnd(287), off = ETH_HLEN;
	uint16_t etype;
	int tags = 0;

	rnd_fill(buf, len);
	if (!rnd(4))
		return len;
	etype = etypes[rnd(ARRAY_SIZE(etypes))];
	put16(buf + 12, etype);
	while ((etype == ETH_P_8021Q || etype == ETH_P_8021AD) && off + 4 <= len) {
		etype = tags++ < 2 && rnd(4) ? etypes[rnd(2)] : etypes[rnd(ARRAY_SIZE(etypes))];
		put16(buf + off + 2, etype);
		off += 4;
	}
	if (etype == ETH_P_IP && off + 20 <= len) {
		if (rnd(4))
			buf[off] = 0x45 + (rnd(3) ? 0 : rnd(11));
		if (rnd(4))
			put16(buf + off + 2, len - off - rnd(4) * rnd(8));
		if (rnd(3))
			buf[off + 6] = buf[off + 7] = 0;
		if (rnd(2))
			buf[off + 9] = rnd(2) ? IPPROTO_ESP : IPPROTO_UDP;
		if (rnd(2))
			memcpy(buf + off + 16, model_sa_addr[SA_V4_SW], 4);
		off += (buf[off] & 0xf) * 4;
	} else if (etype == ETH_P_IPV6 && off + 40 <= len) {
		if (rnd(4))
			buf[off] = 0x60 | (buf[off] & 0xf);
		if (rnd(4))
			put16(buf + off + 4, len - off - 40 - rnd(4) * rnd(8));
		if (rnd(2))
			buf[off + 6] = rnd(2) ? IPPROTO_ESP : IPPROTO_UDP;
		if (rnd(2))
			memcpy(buf + off + 24, model_sa_addr[SA_V6_SW], 16);
		off += 40;
	} else {
		return len;
	}
	if (off + 8 <= len && rnd(2)) {
		put16(buf + off + 2 * rnd(2), rnd(2) ? XOFF_NATT_PORT : XOFF_IKE_PORT);
		if (rnd(2))
			put32(buf + off + rnd(2) * 8, fx_sas[rnd(FX_NR_SAS)].spi);
	}
	return len;
}

static size_t gen_packet(uint8_t *buf, int egress)
{
	struct fields f;
	size_t len;
	int i, n;

	if (rnd(5) == 0)
		return gen_random(buf);
	len = gen_template(buf, egress, &f);
	/* Untouched templates keep the hit paths well visited. */
	n = rnd(3) ? 1 + rnd(4) : 0;
	for (i = 0; i < n; i++)
		mutate(buf, &len, &f);
	return len;
}

/* ---- The runs ------------------------------------------------------------------- */

struct fuzz {
	uint64_t seed;
	uint32_t packets;
	int egress;
	uint32_t index;
	const uint8_t *pkt;
	size_t len;
	char dump[FUZZ_MAX_LEN * 3 + FUZZ_MAX_LEN / 16 + 1];
};

static const char *fuzz_dump(struct fuzz *z)
{
	size_t i, o = 0;

	for (i = 0; i < z->len; i++)
		o += sprintf(z->dump + o, "%02x%s", z->pkt[i],
			     i + 1 == z->len ? "" : (i + 1) % 16 ? " " : "\n");
	z->dump[o] = 0;
	return z->dump;
}

/* The hex dump is built only on failure: formatting 100k dumps would dominate the run. */
#define fuzz_assert(z, cond, fmt, ...)						\
	do {									\
		if (!(cond))							\
			cr_assert(cond, "seed %#" PRIx64 " (XOFF_FUZZ_SEED), "	\
				  "%s packet %u, %zu bytes: " fmt "\n%s",		\
				  (z)->seed, (z)->egress ? "tc" : "xdp",	\
				  (z)->index, (z)->len, ##__VA_ARGS__,		\
				  fuzz_dump(z));				\
	} while (0)

static void fuzz_params(struct fuzz *z, int egress)
{
	const char *s = getenv("XOFF_FUZZ_SEED"), *n = getenv("XOFF_FUZZ_PACKETS");

	memset(z, 0, sizeof(*z));
	z->egress = egress;
	z->seed = s && *s ? strtoull(s, NULL, 0) : FUZZ_SEED;
	z->packets = n && *n ? strtoul(n, NULL, 0) : FUZZ_PACKETS;
	cr_log_info("fuzz %s: seed %#" PRIx64 ", %u packets", egress ? "tc" : "xdp", z->seed,
		    z->packets);
	printf("fuzz %s: seed %#" PRIx64 " (XOFF_FUZZ_SEED), %u packets (XOFF_FUZZ_PACKETS)\n",
	       egress ? "tc" : "xdp", z->seed, z->packets);
	fflush(stdout);
}

static uint64_t reason_read(int fd, uint32_t reason, uint64_t *percpu, int ncpu)
{
	uint64_t sum = 0;
	int c;

	cr_assert_eq(bpf_map_lookup_elem(fd, &reason, percpu), 0, "reason %u: %s", reason,
		     strerror(errno));
	for (c = 0; c < ncpu; c++)
		sum += percpu[c];
	return sum;
}

/* On a failure only: the reason the program used instead, from all the counters. */
static const char *reason_found(enum xoff_prog_kind kind, const uint64_t *want)
{
	__u64 now[XOFF_R_MAX];
	int r;

	if (xoff_reasons_read(fx, kind, now))
		return "(unreadable)";
	for (r = 0; r < XOFF_R_MAX; r++)
		if (now[r] > want[r])
			return xoff_reason_name(r);
	return "(nothing)";
}

/* Where a packet the model counts for an SA is counted: plaintext to a packet-offload
 * selector in the authenticated counts (abi.h), ESP in the fast path's. */
static enum xoff_count count_of(int reason)
{
	return reason == XOFF_R_POLICY_HW ? XOFF_COUNT_AUTH : XOFF_COUNT_FASTPATH;
}

static const struct xoff_counters *base_of(const struct fx_snapshot *base, enum xoff_count w)
{
	return w == XOFF_COUNT_AUTH ? base->auth : base->sa;
}

static void sa_check(struct fuzz *z, const struct fx_snapshot *base, uint64_t pk[][FX_NR_SAS],
		     uint64_t bytes[][FX_NR_SAS], const char *when)
{
	struct xoff_counters c;
	enum xoff_count w;
	int i;

	for (w = XOFF_COUNT_FASTPATH; w <= XOFF_COUNT_AUTH; w++)
		for (i = 0; i < FX_NR_SAS; i++) {
			const struct xoff_counters *b = &base_of(base, w)[i];

			cr_assert_eq(xoff_counts_read(fx, w, fx_sas[i].v.slot, &c, NULL), 0);
			cr_assert_eq(c.packets - b->packets, pk[w][i],
				     "seed %#" PRIx64 ", %s: SA %d count %d packets %" PRIu64
				     ", model %" PRIu64, z->seed, when, i, w,
				     (uint64_t)(c.packets - b->packets), pk[w][i]);
			cr_assert_eq(c.bytes - b->bytes, bytes[w][i],
				     "seed %#" PRIx64 ", %s: SA %d count %d bytes %" PRIu64
				     ", model %" PRIu64, z->seed, when, i, w,
				     (uint64_t)(c.bytes - b->bytes), bytes[w][i]);
		}
}

/*
 * BPF_PROG_TEST_RUN for an skb refuses a frame whose Ethernet type is IPv4 or IPv6 but
 * which cannot hold that fixed header (EINVAL, seen on 6.18). A real egress skb always
 * has it, since the stack built it, so such frames only exist on ingress.
 */
static bool tc_refuses(const uint8_t *pkt, size_t len)
{
	uint16_t etype = be16(pkt + 12);

	return (etype == ETH_P_IP && len < ETH_HLEN + 20) ||
	       (etype == ETH_P_IPV6 && len < ETH_HLEN + 40);
}

static void fuzz_run(int egress, struct model_cfg *cfg)
{
	enum xoff_prog_kind kind = egress ? XOFF_PROG_TC : XOFF_PROG_XDP;
	uint64_t want[XOFF_R_MAX] = { 0 }, pk[2][FX_NR_SAS] = { { 0 } };
	uint64_t bytes[2][FX_NR_SAS] = { { 0 } };
	int ncpu = libbpf_num_possible_cpus(), fd, r;
	uint32_t run = 0, refused = 0, last_check = 0;
	uint64_t *percpu, total = 0, got;
	struct fx_snapshot base, end;
	static uint8_t buf[PKT_MAX];
	struct model_out o;
	struct fuzz *z;
	char when[80];

	z = malloc(sizeof(*z));
	percpu = calloc(ncpu, sizeof(*percpu));
	cr_assert(z && percpu && ncpu > 0);
	fuzz_params(z, egress);
	model_init();
	fd = xoff_map_fd(fx, egress ? XOFF_MAP_TC_REASONS : XOFF_MAP_XDP_REASONS);
	cr_assert_geq(fd, 0);
	fx_snap(kind, &base);
	/* Absolute counts: a packet counted under any other reason shows at once. */
	for (r = 0; r < XOFF_R_MAX; r++)
		want[r] = base.reasons[r];
	z->pkt = buf;
	for (z->index = 0; run < z->packets; z->index++) {
		struct __sk_buff skb = { 0 };
		uint32_t ret;
		int err;

		rng_seed(z->seed, egress, z->index);
		z->len = gen_packet(buf, egress);
		model_classify(buf, z->len, egress, cfg, &o);
		if (egress) {
			err = fx_run_tc(buf, z->len, &ret, &skb);
			if (tc_refuses(buf, z->len)) {
				fuzz_assert(z, err == -EINVAL, "the test run took a frame it "
					    "refuses elsewhere: %s", strerror(-err));
				refused++;
				continue;
			}
		} else {
			err = fx_run_xdp(buf, z->len, &ret);
		}
		fuzz_assert(z, err == 0, "test run: %s", strerror(-err));
		run++;
		fuzz_assert(z, egress ? ret != TC_ACT_SHOT : ret != XDP_DROP || o.may_drop,
			    "dropped (%u), but the model sees %s", ret,
			    xoff_reason_name(o.reason));
		fuzz_assert(z, ret == o.verdict, "verdict %u, model %u (%s)", ret, o.verdict,
			    xoff_reason_name(o.reason));
		want[o.reason]++;
		got = reason_read(fd, o.reason, percpu, ncpu);
		fuzz_assert(z, got == want[o.reason],
			    "counted under %s, model %s (moved by %" PRId64 ")",
			    reason_found(kind, want), xoff_reason_name(o.reason),
			    (int64_t)(got - want[o.reason] + 1));
		if (o.sa >= 0) {
			enum xoff_count w = count_of(o.reason);
			const struct xoff_counters *b = &base_of(&base, w)[o.sa];
			struct xoff_counters c;

			pk[w][o.sa]++;
			bytes[w][o.sa] += o.bytes;
			cr_assert_eq(xoff_counts_read(fx, w, fx_sas[o.sa].v.slot, &c, NULL), 0);
			fuzz_assert(z, c.packets - b->packets == pk[w][o.sa] &&
				    c.bytes - b->bytes == bytes[w][o.sa],
				    "SA %d (count %d): %" PRIu64 " packets %" PRIu64 " bytes, model "
				    "%" PRIu64 " packets %" PRIu64 " bytes (this one: %" PRIu64 ")",
				    o.sa, w, (uint64_t)(c.packets - b->packets),
				    (uint64_t)(c.bytes - b->bytes), pk[w][o.sa], bytes[w][o.sa],
				    o.bytes);
		}
		/* Narrow a counter mismatch to a window of packets that can be replayed. */
		if (run % FUZZ_SA_CHECK == 0) {
			snprintf(when, sizeof(when), "packets %u..%u", last_check, z->index);
			sa_check(z, &base, pk, bytes, when);
			last_check = z->index + 1;
		}
	}

	fx_snap(kind, &end);
	for (r = 0; r < XOFF_R_MAX; r++) {
		cr_expect_eq(end.reasons[r] - base.reasons[r], want[r] - base.reasons[r],
			     "seed %#" PRIx64 ": reason %s %" PRIu64 ", model %" PRIu64, z->seed,
			     xoff_reason_name(r), (uint64_t)(end.reasons[r] - base.reasons[r]),
			     (uint64_t)(want[r] - base.reasons[r]));
		total += end.reasons[r] - base.reasons[r];
	}
	cr_assert_eq(total, run, "seed %#" PRIx64 ": %" PRIu64 " packets counted, %u run",
		     z->seed, total, run);
	snprintf(when, sizeof(when), "packets %u..%u", last_check, z->index - 1);
	sa_check(z, &base, pk, bytes, when);

	printf("fuzz %s: %u packets run (%u more generated that the test run refuses)\n",
	       egress ? "tc" : "xdp", run, refused);
	for (r = 0; r < XOFF_R_MAX; r++)
		printf("  %-15s %8" PRIu64 "\n", xoff_reason_name(r),
		       (uint64_t)(want[r] - base.reasons[r]));
	for (r = 0; r < FX_NR_SAS; r++)
		printf("  SA %-2d %8" PRIu64 " packets %10" PRIu64 " bytes, %8" PRIu64
		       " authenticated packets %10" PRIu64 " bytes\n", r, pk[0][r], bytes[0][r],
		       pk[1][r], bytes[1][r]);
	fflush(stdout);
	free(percpu);
	free(z);
}

/* Unknown SPIs dropped and steering on, so every XDP verdict is reachable. */
Test(fuzz, xdp, .init = fx_setup, .fini = fx_teardown, .timeout = 120)
{
	struct model_cfg cfg = { .unknown_spi = XOFF_UNKNOWN_DROP, .steer = 1, .policies = 0,
				 .natt_port = XOFF_NATT_PORT };

	fx_config(cfg.unknown_spi, cfg.steer, cfg.policies);
	fuzz_run(0, &cfg);
}

/* The drop policy is on here too: egress must ignore it. */
Test(fuzz, tc, .init = fx_setup, .fini = fx_teardown, .timeout = 120)
{
	struct model_cfg cfg = { .unknown_spi = XOFF_UNKNOWN_DROP, .steer = 1, .policies = 1,
				 .natt_port = XOFF_NATT_PORT };

	fx_config(cfg.unknown_spi, cfg.steer, cfg.policies);
	fuzz_run(1, &cfg);
}

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Packet parsing shared by the XDP and TC programs: Ethernet to the ESP SPI. */
#ifndef XOFF_PARSE_H
#define XOFF_PARSE_H

#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xoff/abi.h"

#ifndef AF_INET
#define AF_INET		2
#define AF_INET6	10
#endif

#define XOFF_IP_MF		0x2000
#define XOFF_IP_OFFSET		0x1fff

/* Not a reason: the packet is ESP and p->key is ready for the SA lookup. */
#define XOFF_PARSE_ESP		(-1)

struct xoff_pkt {
	struct xoff_sa_key key;	/* family and daddr are set for every IP packet */
	__u32	esp_len;	/* ESP header to end of IP payload */
	__u32	ip_len;		/* IP header(s) + payload: what tunnel mode counts */
	__u32	l4_len;		/* what transport mode counts: the IP payload after the
				 * headers ESP is inserted behind */
	__u32	l4_off;		/* offset of the L4 header from the frame's start */
	__u8	l4_proto;	/* IPPROTO_* of the L4 header, 0 before the IP header */
};

/* Flags of xoff_parse(). */
#define XOFF_PARSE_EGRESS	0x1	/* our ports are the source ports */
#define XOFF_PARSE_GSO		0x2	/* an IP length of 0 is a GSO/GRO packet over 64 KiB
					 * (BIG TCP): its length comes from the frame */
#define XOFF_PARSE_PROTO	0x4	/* egress: @proto (skb->protocol, IP or IPv6) rules where
					 * the frame's EtherType disagrees: the stack had no L2
					 * header built yet (xfrm_dev_direct_output() hands
					 * packet-offload plaintext to the device with room for it) */

struct vlan_hdr {
	__be16	tci;
	__be16	proto;
};

/* Bounds check of one header; a macro so the verifier sees the comparison on the
 * packet pointer itself. */
#define XOFF_PULL(ptr, pos, end)					\
	({								\
		(ptr) = (void *)(pos);					\
		(void *)((ptr) + 1) <= (end);				\
	})

/*
 * The UDP payload decides between ESP, IKE and keepalive exactly as the kernel's
 * udp encap receive does (net/ipv4/xfrm4_input.c): one 0xff byte is a keepalive,
 * more than an ESP header with a non-zero first word is ESP, anything else is IKE.
 */
static __always_inline int xoff_parse_natt(void *pos, void *end, __u32 udp_len,
					   struct xoff_pkt *p)
{
	__u8 *b = pos;
	__be32 *w = pos;

	if (udp_len < sizeof(struct udphdr))
		return XOFF_R_MALFORMED;
	udp_len -= sizeof(struct udphdr);
	if (udp_len == 1) {
		if ((void *)(b + 1) > end)
			return XOFF_R_MALFORMED;
		return *b == 0xff ? XOFF_R_NATT_KEEPALIVE : XOFF_R_IKE;
	}
	if (udp_len <= XOFF_ESP_HDR_LEN)
		return XOFF_R_IKE;
	if ((void *)(w + 2) > end)
		return XOFF_R_MALFORMED;
	if (*w == 0)
		return XOFF_R_IKE;
	p->key.spi = *w;
	p->key.encap = XOFF_ENCAP_ESPINUDP;
	p->esp_len = udp_len;
	return XOFF_PARSE_ESP;
}

/* L4 dispatch once the IP headers are behind us. @l4_len comes from the IP header. */
/* A 16-bit length from the wire, with its bound made explicit: the 6.1 verifier forgets
 * every bound of a byte swap's result ("math between pkt pointer and register with
 * unbounded min value"), and the compiler drops a plain mask it knows to be redundant. */
static __always_inline __u32 xoff_len16(__be16 v)
{
	__u32 x = bpf_ntohs(v);

	asm volatile("%[x] &= 0xffff" : [x] "+r"(x));
	return x;
}

/* An IP length field, or for a GSO/GRO packet over 64 KiB whose field is 0 (BIG TCP) the
 * frame's @rest. Without a branch on the field being 0: the 6.1 verifier, knowing it 0 on
 * one path, would explore the impossible side of a later "len < hlen" and lose hlen's
 * bounds (then refuse the pointer arithmetic with it). */
static __always_inline __u32 xoff_len_or_frame(__u32 field, __u32 rest, int flags)
{
	__u32 zero = (field - 1) >> 31;		/* field is at most 0xffff: 1 iff it is 0 */
	__u32 gso = (flags & XOFF_PARSE_GSO) ? 1 : 0;

	return field + zero * gso * rest;
}

static __always_inline int xoff_parse_l4(void *pos, void *end, __u32 off, __u8 proto,
					 __u32 l4_len, __be16 natt_port, int flags,
					 struct xoff_pkt *p)
{
	struct udphdr *udp;
	__be32 *esp;
	__be16 port;
	__u32 ulen;

	p->l4_off = off;
	p->l4_proto = proto;
	if (proto == IPPROTO_ESP) {
		if (!XOFF_PULL(esp, pos, end) || (void *)(esp + 2) > end)
			return XOFF_R_MALFORMED;
		if (l4_len < XOFF_ESP_HDR_LEN)
			return XOFF_R_MALFORMED;
		p->key.spi = *esp;
		p->key.encap = XOFF_ENCAP_ESP;
		p->esp_len = l4_len;
		return XOFF_PARSE_ESP;
	}
	if (proto != IPPROTO_UDP)
		return XOFF_R_OTHER;
	if (!XOFF_PULL(udp, pos, end))
		return XOFF_R_MALFORMED;
	/* Ingress: our port is the destination; egress: the source. */
	port = flags & XOFF_PARSE_EGRESS ? udp->source : udp->dest;
	if (port == bpf_htons(XOFF_IKE_PORT))
		return XOFF_R_IKE;
	if (port != natt_port)
		return XOFF_R_OTHER;
	/* The UDP length rules (the kernel trims to it, and drops what exceeds the IP
	 * payload), so ESP-in-UDP is counted from it. */
	ulen = xoff_len16(udp->len);
	if (ulen < sizeof(*udp) || ulen > l4_len)
		return XOFF_R_MALFORMED;
	return xoff_parse_natt(udp + 1, end, ulen, p);
}

/* @off: the IP header's offset in the frame; @rem: the frame's bytes from there on (the
 * whole packet, also where only its head is in [pos, end)). */
static __always_inline int xoff_parse_ip4(void *pos, void *end, __u32 off, __u32 rem,
					  __be16 natt_port, int flags, struct xoff_pkt *p)
{
	struct iphdr *ip;
	__u32 hlen, tot;

	if (!XOFF_PULL(ip, pos, end))
		return XOFF_R_MALFORMED;
	hlen = ip->ihl * 4;
	tot = xoff_len_or_frame(xoff_len16(ip->tot_len), rem, flags);
	if (ip->version != 4 || hlen < sizeof(*ip) || tot < hlen || tot > rem)
		return XOFF_R_MALFORMED;
	p->key.family = AF_INET;
	p->key.daddr4 = ip->daddr;
	p->ip_len = tot;
	p->l4_len = tot - hlen;
	if (ip->frag_off & bpf_htons(XOFF_IP_MF | XOFF_IP_OFFSET))
		return XOFF_R_FRAGMENT;
	return xoff_parse_l4(pos + hlen, end, off + hlen, ip->protocol, tot - hlen, natt_port,
			     flags, p);
}

static __always_inline int xoff_is_ip6_ext(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_DSTOPTS;
}

static __always_inline int xoff_parse_ip6(void *pos, void *end, __u32 off, __u32 rem,
					  __be16 natt_port, int flags, struct xoff_pkt *p)
{
	struct ipv6_opt_hdr *opt;
	struct ipv6hdr *ip6;
	__u32 len, hlen, tail;
	int i, routing = 0, behind = 0;
	__u8 nexthdr;

	if (!XOFF_PULL(ip6, pos, end))
		return XOFF_R_MALFORMED;
	if (rem < sizeof(*ip6))
		return XOFF_R_MALFORMED;
	len = xoff_len_or_frame(xoff_len16(ip6->payload_len), rem - sizeof(*ip6), flags);
	if (ip6->version != 6 || len > rem - sizeof(*ip6))
		return XOFF_R_MALFORMED;
	p->key.family = AF_INET6;
	__builtin_memcpy(p->key.daddr, &ip6->daddr, sizeof(p->key.daddr));
	p->ip_len = sizeof(*ip6) + len;
	nexthdr = ip6->nexthdr;
	pos += sizeof(*ip6);
	off += sizeof(*ip6);
	tail = len;

#pragma unroll
	for (i = 0; i < XOFF_MAX_IP6_EXTHDRS; i++) {
		if (!xoff_is_ip6_ext(nexthdr))
			break;
		if (!XOFF_PULL(opt, pos, end))
			return XOFF_R_MALFORMED;
		hlen = (opt->hdrlen + 1) * 8;
		if (hlen > len)
			return XOFF_R_MALFORMED;
		/* Transport mode puts ESP behind hop-by-hop, routing, and destination
		 * options before a routing header (ip6_find_1stfragopt()): those are not
		 * counted, everything from the first later header on is. */
		if (nexthdr == IPPROTO_ROUTING)
			routing = 1;
		else if (nexthdr == IPPROTO_DSTOPTS && routing)
			behind = 1;
		if (!behind)
			tail -= hlen;
		len -= hlen;
		nexthdr = opt->nexthdr;
		pos += hlen;
		off += hlen;
	}
	/* Beyond the walk, unwalked headers are counted: an overcount, never less. */
	p->l4_len = tail;
	if (nexthdr == IPPROTO_FRAGMENT)
		return XOFF_R_FRAGMENT;
	if (xoff_is_ip6_ext(nexthdr))
		return XOFF_R_OTHER;	/* more extension headers than we walk */
	return xoff_parse_l4(pos, end, off, nexthdr, len, natt_port, flags, p);
}

/*
 * Classify one frame. Returns XOFF_PARSE_ESP with p->key filled, or the reason the
 * packet is not ours. Headers are read in [data, end); lengths are checked against
 * @len, the whole frame (an skb's head may end before its payload). @natt_port is in
 * network order; @flags XOFF_PARSE_*.
 */
static __always_inline int xoff_parse(void *data, void *end, __u32 len, __be16 natt_port,
				      int flags, __be16 l3_proto, struct xoff_pkt *p)
{
	struct vlan_hdr *vlan;
	struct ethhdr *eth;
	void *pos = data;
	__u32 off = sizeof(*eth);
	__be16 proto;
	int i;

	if (!XOFF_PULL(eth, pos, end) || len < sizeof(*eth))
		return XOFF_R_MALFORMED;
	proto = eth->h_proto;
	pos += sizeof(*eth);
	if ((flags & XOFF_PARSE_PROTO) && proto != l3_proto &&
	    (l3_proto == bpf_htons(ETH_P_IP) || l3_proto == bpf_htons(ETH_P_IPV6)))
		proto = l3_proto;

#pragma unroll
	for (i = 0; i < 2; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if (!XOFF_PULL(vlan, pos, end))
			return XOFF_R_MALFORMED;
		proto = vlan->proto;
		pos += sizeof(*vlan);
		off += sizeof(*vlan);
	}
	if (len < off)
		return XOFF_R_MALFORMED;
	if (proto == bpf_htons(ETH_P_IP))
		return xoff_parse_ip4(pos, end, off, len - off, natt_port, flags, p);
	if (proto == bpf_htons(ETH_P_IPV6))
		return xoff_parse_ip6(pos, end, off, len - off, natt_port, flags, p);
	return XOFF_R_NOT_IP;
}

#endif /* XOFF_PARSE_H */

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Frame builder (no pointers inside: Criterion copies parameters across processes) for tests and the benchmark: Ethernet, VLANs, IPv4/IPv6, ESP, UDP. */
#ifndef XOFF_TESTS_PKT_H
#define XOFF_TESTS_PKT_H

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define PKT_MAX 2048

struct pkt_spec {
	uint16_t ethertype;	/* 0: from family (ETH_P_IP/ETH_P_IPV6) */
	int nvlan;		/* 0, 1 (802.1Q) or 2 (802.1ad outer + 802.1Q inner) */
	int family;		/* AF_INET, AF_INET6; ignored for a non-IP ethertype */
	char src[40], dst[40];	/* "": the defaults 192.0.2.2 -> 192.0.2.1, 2001:db8::2 -> ::1 */
	int ip4_optlen;		/* bytes of IPv4 options, a multiple of 4 */
	bool frag_first;	/* IPv4 MF / IPv6 fragment header, offset 0 */
	bool frag_later;	/* IPv4 offset != 0 / IPv6 fragment header, offset != 0 */
	uint8_t ext[6];		/* IPv6 extension header types, in order */
	int next;		/* how many */
	uint8_t proto;		/* IPPROTO_ESP, IPPROTO_UDP, IPPROTO_AH, ... */
	uint16_t sport, dport;	/* UDP */
	bool esp_in_udp;	/* UDP payload starts with the ESP header */
	uint32_t spi;		/* host order */
	uint32_t payload;	/* bytes after the ESP header, or of the UDP/other payload */
	uint8_t raw[8];		/* first UDP payload bytes (keepalive, ...); zeros: IKE marker */
	uint32_t eth_pad;	/* zero bytes after the IP packet (Ethernet padding) */
};

static inline void *pkt_put(uint8_t *buf, size_t *off, const void *src, size_t n)
{
	void *at = buf + *off;

	if (src)
		memcpy(at, src, n);
	else
		memset(at, 0, n);
	*off += n;
	return at;
}

/* Builds the frame into @buf (PKT_MAX bytes) and returns its length. */
static inline size_t pkt_build(const struct pkt_spec *s, uint8_t *buf)
{
	uint16_t etype = s->ethertype ? s->ethertype :
			 s->family == AF_INET6 ? ETH_P_IPV6 : ETH_P_IP;
	struct ethhdr eth = { .h_dest = { 2, 0, 0, 0, 0, 1 }, .h_source = { 2, 0, 0, 0, 0, 2 } };
	size_t off = 0, i;
	uint32_t l4len;
	uint8_t l4proto;

	memset(buf, 0, PKT_MAX);
	if (s->nvlan == 2)
		eth.h_proto = htons(ETH_P_8021AD);
	else if (s->nvlan == 1)
		eth.h_proto = htons(ETH_P_8021Q);
	else
		eth.h_proto = htons(etype);
	pkt_put(buf, &off, &eth, sizeof(eth));
	for (i = 0; i < (size_t)s->nvlan; i++) {
		uint16_t tag[2] = { htons(100 + i),
				    htons(i + 1 < (size_t)s->nvlan ? ETH_P_8021Q : etype) };

		pkt_put(buf, &off, tag, sizeof(tag));
	}
	if (etype != ETH_P_IP && etype != ETH_P_IPV6) {
		/* ARP or anything else: 28 bytes of body. */
		pkt_put(buf, &off, NULL, 28);
		return off;
	}

	/* L4 length first: headers are filled in after the payload is laid out. */
	l4proto = s->proto;
	if (s->proto == IPPROTO_ESP)
		l4len = 8 + s->payload;
	else if (s->proto == IPPROTO_UDP)
		l4len = sizeof(struct udphdr) + (s->esp_in_udp ? 8 : 0) + s->payload;
	else
		l4len = s->payload;

	if (etype == ETH_P_IP) {
		struct iphdr *ip = pkt_put(buf, &off, NULL, sizeof(*ip) + s->ip4_optlen);

		ip->version = 4;
		ip->ihl = (sizeof(*ip) + s->ip4_optlen) / 4;
		ip->ttl = 64;
		ip->protocol = l4proto;
		ip->tot_len = htons(sizeof(*ip) + s->ip4_optlen + l4len);
		if (s->frag_first)
			ip->frag_off = htons(0x2000);
		if (s->frag_later)
			ip->frag_off = htons(185);
		inet_pton(AF_INET, s->src[0] ? s->src : "192.0.2.2", &ip->saddr);
		inet_pton(AF_INET, s->dst[0] ? s->dst : "192.0.2.1", &ip->daddr);
		if (s->ip4_optlen)
			memset(ip + 1, 1, s->ip4_optlen);	/* NOPs */
	} else {
		struct ipv6hdr *ip6 = pkt_put(buf, &off, NULL, sizeof(*ip6));
		uint8_t *nh = &ip6->nexthdr;
		size_t ext = 0;

		ip6->version = 6;
		ip6->hop_limit = 64;
		inet_pton(AF_INET6, s->src[0] ? s->src : "2001:db8::2", &ip6->saddr);
		inet_pton(AF_INET6, s->dst[0] ? s->dst : "2001:db8::1", &ip6->daddr);
		for (i = 0; i < (size_t)s->next; i++) {
			uint8_t *h = pkt_put(buf, &off, NULL, 16);	/* hdrlen 1: 16 bytes */

			*nh = s->ext[i];
			h[1] = 1;
			if (s->ext[i] == IPPROTO_ROUTING)
				h[2] = 0;	/* type 0, segments left 0 */
			nh = &h[0];
			ext += 16;
		}
		if (s->frag_first || s->frag_later) {
			uint8_t *h = pkt_put(buf, &off, NULL, 8);

			*nh = IPPROTO_FRAGMENT;
			h[3] = s->frag_first ? 1 : 0;	/* M flag */
			if (s->frag_later)
				h[2] = 0x08;		/* offset 1 */
			nh = &h[0];
			ext += 8;
		}
		*nh = l4proto;
		ip6->payload_len = htons(ext + l4len);
	}

	if (s->proto == IPPROTO_ESP) {
		uint32_t hdr[2] = { htonl(s->spi), htonl(1) };

		pkt_put(buf, &off, hdr, sizeof(hdr));
		pkt_put(buf, &off, NULL, s->payload);
	} else if (s->proto == IPPROTO_UDP) {
		struct udphdr *udp = pkt_put(buf, &off, NULL, sizeof(*udp));

		udp->source = htons(s->sport);
		udp->dest = htons(s->dport);
		udp->len = htons(l4len);
		if (s->esp_in_udp) {
			uint32_t hdr[2] = { htonl(s->spi), htonl(1) };

			pkt_put(buf, &off, hdr, sizeof(hdr));
		}
		memcpy(pkt_put(buf, &off, NULL, s->payload), s->raw,
		       s->payload < sizeof(s->raw) ? s->payload : sizeof(s->raw));
	} else {
		pkt_put(buf, &off, NULL, s->payload);
	}
	pkt_put(buf, &off, NULL, s->eth_pad);
	return off;
}

#endif /* XOFF_TESTS_PKT_H */

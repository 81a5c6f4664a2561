// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xoff-pktgen: send crafted Ethernet frames on a device through an AF_PACKET socket, for
 * the selftests (no keys, no state: the receiver's xoff classifies them, its kernel
 * drops what it cannot decrypt).
 *
 *   xoff-pktgen DEV --src ADDR --dst ADDR [--smac MAC] [--dmac MAC] [--vlan ID]...
 *               [--udp] [--sport N] [--dport N] [--spi N] [--spis N] [--seq N]
 *               [--seq-random] [--size N] [--count N] [--ike] [--keepalive] [--icmp]
 *               [--malformed KIND] [--quiet]
 *
 * Default: ESP (IP protocol 50), SPI --spi, sequence numbers from --seq up, --size bytes
 * of patterned payload after the 8-byte ESP header (--seq-random: pseudo-random non-zero
 * sequence numbers, seeded by --seq, as a forger who does not know the window would). --udp: ESP-in-UDP (RFC 3948, 4500 to
 * 4500 by default). --ike: an IKEv2 header to UDP 500 (4500 with --udp, behind the
 * non-ESP marker). --keepalive: a NAT-T keepalive (UDP 4500, one 0xff byte). --icmp: an
 * ICMP/ICMPv6 echo request (--size data bytes, --seq as its sequence number). --vlan
 * repeats for QinQ (outer first: 802.1ad outer, 802.1Q inner). The family comes from the
 * addresses. Prints "sent N" unless --quiet; exit 0, 1 (a failure, one line on stderr)
 * or 2 (usage).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROG		"xoff-pktgen"
#include "tool.h"
#define ETH_HLEN_	14
#define VLAN_HLEN	4
#define IP4_HLEN	20
#define IP6_HLEN	40
#define FRAG6_HLEN	8
#define UDP_HLEN	8
#define ESP_HLEN	8
#define ICMP_HLEN	8
#define IKE_HLEN	28
#define MARKER_LEN	4
#define MAX_VLANS	2
#define IP_DF		0x4000
#define IP_MF		0x2000
#define PROTO_ICMP	1
#define PROTO_UDP	17
#define PROTO_FRAG6	44
#define PROTO_ESP	50
#define PROTO_ICMP6	58

enum kind { K_ESP, K_IKE, K_KEEPALIVE, K_ICMP };

enum malformed { M_NONE, M_TRUNCATED, M_IPLEN, M_IHL, M_SHORT_UDP, M_FRAG };

static const char *const malformed_names[] = {
	[M_TRUNCATED]	= "truncated",
	[M_IPLEN]	= "iplen",
	[M_IHL]		= "ihl",
	[M_SHORT_UDP]	= "short-udp",
	[M_FRAG]	= "frag",
};

struct opts {
	const char *dev;
	int family;
	uint8_t src[16], dst[16];
	uint8_t smac[6], dmac[6];
	bool have_src, have_dst, have_smac;
	uint16_t vlans[MAX_VLANS];
	int nvlans;
	bool udp, quiet;
	enum kind kind;
	long sport, dport;	/* -1: default */
	uint32_t spi, spis, seq, count;
	long size;		/* -1: default */
	bool have_spis, have_seq, seq_random;
	enum malformed malformed;
};

/* Where the per-frame fields are in the frame. */
struct layout {
	size_t len;		/* the frame */
	size_t l3;		/* IP header */
	size_t l4;		/* UDP, ESP or ICMP header (behind an IPv6 fragment header) */
	size_t l4_len;		/* bytes from l4 to the end of the frame */
	size_t esp;		/* ESP header, 0 if none */
	size_t esp_avail;	/* bytes of the ESP header present (truncated: 4) */
	bool udp_csum;		/* IPv6 UDP: recompute the checksum per frame */
	bool icmp;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " DEV --src ADDR --dst ADDR [--smac MAC] [--dmac MAC] [--vlan ID]...\n"
"                   [--udp] [--sport N] [--dport N] [--spi N] [--spis N] [--seq N]\n"
"                   [--seq-random] [--size N] [--count N] [--ike | --keepalive | --icmp]\n"
"                   [--malformed KIND] [--quiet]\n"
"Send crafted frames on DEV (AF_PACKET). Default: ESP (IP protocol 50).\n"
"  --src, --dst ADDR   IPv4 or IPv6 addresses, both of one family\n"
"  --smac MAC          source MAC (default: DEV's)\n"
"  --dmac MAC          destination MAC (default: ff:ff:ff:ff:ff:ff)\n"
"  --vlan ID           0-4095; twice for QinQ (outer 802.1ad first, inner 802.1Q)\n"
"  --udp               ESP-in-UDP (RFC 3948); with --ike: IKE on 4500 behind the marker\n"
"  --sport, --dport N  UDP ports 1-65535 (default 4500, or 500 for --ike without --udp)\n"
"  --spi N             ESP SPI, decimal or 0x hex (default 0x100); IKE initiator SPI\n"
"  --spis N            cycle over N consecutive SPIs from --spi, one per frame\n"
"  --seq N             first ESP (or ICMP echo) sequence number (default 1), +1 per frame\n"
"  --seq-random        ESP sequence numbers pseudo-random (never 0), seeded by --seq\n"
"  --size N            bytes after the ESP header (default 64) or of echo data\n"
"  --count N           frames to send (default 1)\n"
"  --ike               IKEv2 header (IKE_SA_INIT) to UDP 500, or 4500 with --udp\n"
"  --keepalive         NAT-T keepalive: UDP to 4500, one 0xff byte\n"
"  --icmp              ICMP or ICMPv6 echo request\n"
"  --malformed KIND    truncated  frame ends inside the ESP header (lengths agree)\n"
"                      iplen      IP total/payload length 100 bytes beyond the frame\n"
"                      ihl        IPv4 header length field 4 (< 5)\n"
"                      short-udp  UDP length 4 (< 8); ESP becomes ESP-in-UDP\n"
"                      frag       first fragment: IPv4 MF / IPv6 fragment header\n"
"  --quiet             do not print \"sent N\"\n"
"Exit: 0 sent, 1 failure, 2 usage.\n");
}

static void parse(int argc, char **argv, struct opts *o)
{
	enum {
		O_SRC = 256, O_DST, O_SMAC, O_DMAC, O_VLAN, O_UDP, O_SPORT, O_DPORT, O_SPI,
		O_SPIS, O_SEQ, O_SIZE, O_COUNT, O_IKE, O_KEEPALIVE, O_ICMP, O_MALFORMED,
		O_QUIET, O_HELP, O_SEQ_RANDOM,
	};
	static const struct option lopts[] = {
		{ "src", required_argument, NULL, O_SRC },
		{ "dst", required_argument, NULL, O_DST },
		{ "smac", required_argument, NULL, O_SMAC },
		{ "dmac", required_argument, NULL, O_DMAC },
		{ "vlan", required_argument, NULL, O_VLAN },
		{ "udp", no_argument, NULL, O_UDP },
		{ "sport", required_argument, NULL, O_SPORT },
		{ "dport", required_argument, NULL, O_DPORT },
		{ "spi", required_argument, NULL, O_SPI },
		{ "spis", required_argument, NULL, O_SPIS },
		{ "seq", required_argument, NULL, O_SEQ },
		{ "seq-random", no_argument, NULL, O_SEQ_RANDOM },
		{ "size", required_argument, NULL, O_SIZE },
		{ "count", required_argument, NULL, O_COUNT },
		{ "ike", no_argument, NULL, O_IKE },
		{ "keepalive", no_argument, NULL, O_KEEPALIVE },
		{ "icmp", no_argument, NULL, O_ICMP },
		{ "malformed", required_argument, NULL, O_MALFORMED },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c, nkinds = 0;
	size_t i;

	memset(o, 0, sizeof(*o));
	memset(o->dmac, 0xff, sizeof(o->dmac));
	o->sport = o->dport = o->size = -1;
	o->spi = 0x100;
	o->spis = 1;
	o->seq = 1;
	o->count = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (c) {
		case O_SRC:
			if (o->have_src)
				die(2, "--src given twice");
			addr(1, "--src", optarg, o->src, &o->family);
			o->have_src = true;
			break;
		case O_DST:
			if (o->have_dst)
				die(2, "--dst given twice");
			addr(1, "--dst", optarg, o->dst, &o->family);
			o->have_dst = true;
			break;
		case O_SMAC:
			mac(1, "--smac", optarg, o->smac);
			o->have_smac = true;
			break;
		case O_DMAC:
			mac(1, "--dmac", optarg, o->dmac);
			break;
		case O_VLAN:
			if (o->nvlans == MAX_VLANS)
				die(2, "--vlan: at most %d tags", MAX_VLANS);
			o->vlans[o->nvlans++] = num("--vlan", optarg, 0, 4095);
			break;
		case O_UDP:
			o->udp = true;
			break;
		case O_SPORT:
			o->sport = num("--sport", optarg, 1, 65535);
			break;
		case O_DPORT:
			o->dport = num("--dport", optarg, 1, 65535);
			break;
		case O_SPI:
			o->spi = num("--spi", optarg, 0, UINT32_MAX);
			break;
		case O_SPIS:
			o->spis = num("--spis", optarg, 1, 1 << 24);
			o->have_spis = true;
			break;
		case O_SEQ:
			o->seq = num("--seq", optarg, 0, UINT32_MAX);
			o->have_seq = true;
			break;
		case O_SEQ_RANDOM:
			o->seq_random = true;
			break;
		case O_SIZE:
			o->size = num("--size", optarg, 0, 65000);
			break;
		case O_COUNT:
			o->count = num("--count", optarg, 0, UINT32_MAX);
			break;
		case O_IKE:
			o->kind = K_IKE;
			nkinds++;
			break;
		case O_KEEPALIVE:
			o->kind = K_KEEPALIVE;
			nkinds++;
			break;
		case O_ICMP:
			o->kind = K_ICMP;
			nkinds++;
			break;
		case O_MALFORMED:
			for (i = 1; i < sizeof(malformed_names) / sizeof(*malformed_names); i++)
				if (!strcmp(optarg, malformed_names[i]))
					break;
			if (i == sizeof(malformed_names) / sizeof(*malformed_names))
				die(2, "--malformed: unknown kind '%s' (truncated, iplen, ihl, "
				       "short-udp, frag)", optarg);
			o->malformed = i;
			break;
		case O_QUIET:
			o->quiet = true;
			break;
		case 'h':
		case O_HELP:
			usage(stdout);
			exit(0);
		case ':':
			die(2, "%s needs an argument", argv[optind - 1]);
		default:
			if (optopt && optopt < 256)
				die(2, "unknown option '-%c'", optopt);
			die(2, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		die(2, "missing DEV");
	if (optind + 1 < argc)
		die(2, "unexpected argument '%s'", argv[optind + 1]);
	o->dev = argv[optind];
	if (!o->have_src || !o->have_dst)
		die(2, "--src and --dst are required");
	if (nkinds > 1)
		die(2, "--ike, --keepalive and --icmp exclude each other");
	if (o->kind != K_ESP && o->have_spis)
		die(2, "--spis applies to ESP only");
	if ((o->kind == K_IKE || o->kind == K_KEEPALIVE) && o->have_seq)
		die(2, "--seq applies to ESP and --icmp only");
	if (o->seq_random && o->kind != K_ESP)
		die(2, "--seq-random applies to ESP only");
	if ((o->kind == K_IKE || o->kind == K_KEEPALIVE) && o->size >= 0)
		die(2, "--size applies to ESP and --icmp only");
	if (o->kind == K_ICMP && (o->udp || o->sport >= 0 || o->dport >= 0))
		die(2, "--icmp takes no UDP options");
	if (o->kind == K_KEEPALIVE && o->udp)
		die(2, "--keepalive is UDP already; --udp is for ESP and IKE");
	if ((uint64_t)o->spi + o->spis - 1 > UINT32_MAX)
		die(2, "--spis: %u SPIs from 0x%x pass 0xffffffff", o->spis, o->spi);
	switch (o->malformed) {
	case M_TRUNCATED:
		if (o->kind != K_ESP)
			die(2, "--malformed truncated applies to ESP only");
		break;
	case M_IHL:
		if (o->family != AF_INET)
			die(2, "--malformed ihl applies to IPv4 only");
		break;
	case M_SHORT_UDP:
		if (o->kind == K_ICMP)
			die(2, "--malformed short-udp needs UDP, not --icmp");
		if (o->kind == K_ESP)
			o->udp = true;
		break;
	default:
		break;
	}
	if (o->size < 0)
		o->size = 64;
}

static uint32_t csum_add(uint32_t sum, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (; len > 1; len -= 2, b += 2)
		sum += (uint32_t)b[0] << 8 | b[1];
	if (len)
		sum += (uint32_t)b[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

/* IPv6 upper-layer checksum (UDP, ICMPv6) over @len bytes at @l4, stored at @at. */
static void csum6(const struct opts *o, uint8_t *l4, size_t len, uint8_t proto, uint8_t *at,
		  bool udp)
{
	uint8_t ph[8] = { 0 };
	uint32_t sum;
	uint16_t c;

	put32(ph, len);
	ph[7] = proto;
	put16(at, 0);
	sum = csum_add(0, o->src, 16);
	sum = csum_add(sum, o->dst, 16);
	sum = csum_add(sum, ph, sizeof(ph));
	sum = csum_add(sum, l4, len);
	c = csum_fold(sum);
	if (udp && !c)
		c = 0xffff;
	put16(at, c);
}

/* Builds the first frame into @buf (large enough) and says where the rest is patched. */
static void build(const struct opts *o, uint8_t *buf, struct layout *l)
{
	bool v6 = o->family == AF_INET6, udp = o->udp || o->kind == K_IKE ||
					       o->kind == K_KEEPALIVE;
	size_t off = 0, body, l4_len, ip_len, i;
	uint8_t proto, *ip;
	int v;

	memset(l, 0, sizeof(*l));
	memcpy(buf, o->dmac, 6);
	memcpy(buf + 6, o->smac, 6);
	off = 12;
	for (v = 0; v < o->nvlans; v++) {
		put16(buf + off, v == 0 && o->nvlans == 2 ? ETH_P_8021AD : ETH_P_8021Q);
		put16(buf + off + 2, o->vlans[v]);
		off += VLAN_HLEN;
	}
	put16(buf + off, v6 ? ETH_P_IPV6 : ETH_P_IP);
	off += 2;

	/* The L4 part: what follows the IP header (and an IPv6 fragment header). */
	switch (o->kind) {
	case K_ESP:
		body = o->malformed == M_TRUNCATED ? 4 : ESP_HLEN + o->size;
		break;
	case K_IKE:
		body = (o->udp ? MARKER_LEN : 0) + IKE_HLEN;
		break;
	case K_KEEPALIVE:
		body = 1;
		break;
	default:
		body = ICMP_HLEN + o->size;
		break;
	}
	l4_len = body + (udp ? UDP_HLEN : 0);
	proto = udp ? PROTO_UDP : o->kind == K_ICMP ? (v6 ? PROTO_ICMP6 : PROTO_ICMP) : PROTO_ESP;

	l->l3 = off;
	ip = buf + off;
	if (!v6) {
		ip_len = IP4_HLEN + l4_len;
		if (ip_len > 65535)
			die(2, "--size: the IPv4 packet would exceed 65535 bytes");
		memset(ip, 0, IP4_HLEN);
		ip[0] = 0x45;
		if (o->malformed == M_IHL)
			ip[0] = 0x44;
		put16(ip + 2, ip_len + (o->malformed == M_IPLEN ? 100 : 0));
		put16(ip + 6, o->malformed == M_FRAG ? IP_MF : IP_DF);
		ip[8] = 64;
		ip[9] = proto;
		memcpy(ip + 12, o->src, 4);
		memcpy(ip + 16, o->dst, 4);
		put16(ip + 10, csum_fold(csum_add(0, ip, IP4_HLEN)));
		off += IP4_HLEN;
	} else {
		size_t frag = o->malformed == M_FRAG ? FRAG6_HLEN : 0;

		if (frag + l4_len > 65535)
			die(2, "--size: the IPv6 payload would exceed 65535 bytes");
		memset(ip, 0, IP6_HLEN + frag);
		ip[0] = 0x60;
		put16(ip + 4, frag + l4_len + (o->malformed == M_IPLEN ? 100 : 0));
		ip[6] = frag ? PROTO_FRAG6 : proto;
		ip[7] = 64;
		memcpy(ip + 8, o->src, 16);
		memcpy(ip + 24, o->dst, 16);
		off += IP6_HLEN;
		if (frag) {
			buf[off] = proto;
			put16(buf + off + 2, 1);	/* offset 0, M */
			put32(buf + off + 4, 0x78706b74);
			off += frag;
		}
	}

	l->l4 = off;
	l->l4_len = l4_len;
	if (udp) {
		uint8_t *u = buf + off;
		long sport = o->sport, dport = o->dport;
		long def = o->kind == K_IKE && !o->udp ? 500 : 4500;

		put16(u, sport >= 0 ? sport : def);
		put16(u + 2, dport >= 0 ? dport : def);
		put16(u + 4, o->malformed == M_SHORT_UDP ? 4 : l4_len);
		put16(u + 6, 0);	/* IPv4: no checksum; IPv6: below */
		off += UDP_HLEN;
		l->udp_csum = v6;
	}

	switch (o->kind) {
	case K_ESP:
		l->esp = off;
		l->esp_avail = o->malformed == M_TRUNCATED ? 4 : ESP_HLEN;
		for (i = l->esp_avail; i < body; i++)
			buf[off + i] = 0xa5 ^ (uint8_t)(i * 7);
		off += body;
		break;
	case K_IKE:
		if (o->udp) {
			memset(buf + off, 0, MARKER_LEN);	/* non-ESP marker */
			off += MARKER_LEN;
		}
		memset(buf + off, 0, IKE_HLEN);
		put32(buf + off, 0x786f6666);			/* initiator SPI: "xoff" */
		put32(buf + off + 4, o->spi);
		buf[off + 16] = 0;				/* next payload: none */
		buf[off + 17] = 0x20;				/* IKEv2 */
		buf[off + 18] = 34;				/* IKE_SA_INIT */
		buf[off + 19] = 0x08;				/* initiator */
		put32(buf + off + 24, IKE_HLEN);
		off += IKE_HLEN;
		break;
	case K_KEEPALIVE:
		buf[off++] = 0xff;
		break;
	default:
		buf[off] = v6 ? 128 : 8;			/* echo request */
		put16(buf + off + 4, 0x7870);			/* identifier */
		for (i = ICMP_HLEN; i < body; i++)
			buf[off + i] = 0xa5 ^ (uint8_t)(i * 7);
		off += body;
		l->icmp = true;
		break;
	}
	l->len = off;
}

/* Frame @n's pseudo-random sequence number (splitmix32 of seed and n), never 0. */
static uint32_t seq_random(uint32_t seed, uint32_t n)
{
	uint32_t z = seed + n * 0x9e3779b9u;

	z = (z ^ (z >> 16)) * 0x85ebca6bu;
	z = (z ^ (z >> 13)) * 0xc2b2ae35u;
	z ^= z >> 16;
	return z ? z : 1;
}

/* Per-frame fields: SPI and sequence number (ESP), sequence number (ICMP), checksums. */
static void patch(const struct opts *o, uint8_t *buf, const struct layout *l, uint32_t n)
{
	uint8_t *l4 = buf + l->l4;

	if (l->esp) {
		put32(buf + l->esp, o->spi + n % o->spis);
		if (l->esp_avail >= ESP_HLEN)
			put32(buf + l->esp + 4, o->seq_random ? seq_random(o->seq, n) : o->seq + n);
	}
	if (l->icmp) {
		put16(l4 + 6, o->seq + n);
		if (o->family == AF_INET6) {
			csum6(o, l4, l->l4_len, PROTO_ICMP6, l4 + 2, false);
		} else {
			put16(l4 + 2, 0);
			put16(l4 + 2, csum_fold(csum_add(0, l4, l->l4_len)));
		}
	}
	if (l->udp_csum)
		csum6(o, l4, l->l4_len, PROTO_UDP, l4 + 6, true);
}

int main(int argc, char **argv)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct timespec pause = { 0, 20000 };
	unsigned int ifindex, busy = 0;
	struct layout l;
	struct ifreq ifr;
	struct opts o;
	uint8_t *buf;
	uint32_t n;
	int fd;

	parse(argc, argv, &o);
	if (strlen(o.dev) >= IFNAMSIZ)
		die(1, "device name '%s' is too long", o.dev);
	ifindex = if_nametoindex(o.dev);
	if (!ifindex)
		die(1, "unknown device '%s'", o.dev);
	/* Protocol 0: this socket sends only, it never receives. */
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0)
		die(1, "socket(AF_PACKET): %s", strerror(errno));
	if (!o.have_smac) {
		memset(&ifr, 0, sizeof(ifr));
		strcpy(ifr.ifr_name, o.dev);
		if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
			die(1, "%s: cannot read the MAC address: %s", o.dev, strerror(errno));
		memcpy(o.smac, ifr.ifr_hwaddr.sa_data, 6);
	}
	buf = calloc(1, ETH_HLEN_ + MAX_VLANS * VLAN_HLEN + IP6_HLEN + FRAG6_HLEN + UDP_HLEN +
			ESP_HLEN + MARKER_LEN + IKE_HLEN + ICMP_HLEN + o.size);
	if (!buf)
		die(1, "out of memory");
	build(&o, buf, &l);

	sll.sll_ifindex = ifindex;
	sll.sll_protocol = htons(o.nvlans ? (o.nvlans == 2 ? ETH_P_8021AD : ETH_P_8021Q) :
				 o.family == AF_INET6 ? ETH_P_IPV6 : ETH_P_IP);
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, o.dmac, 6);
	for (n = 0; n < o.count;) {
		ssize_t ret;

		patch(&o, buf, &l, n);
		ret = sendto(fd, buf, l.len, 0, (struct sockaddr *)&sll, sizeof(sll));
		if (ret == (ssize_t)l.len) {
			n++;
			busy = 0;
			continue;
		}
		if (ret >= 0)
			die(1, "%s: sendto sent %zd of %zu bytes", o.dev, ret, l.len);
		/* A full queue or ring (veth's, the backlog's) dropped the frame before anyone
		 * saw it: wait a little and send it again, up to 5 s without progress. */
		if ((errno == ENOBUFS || errno == EAGAIN || errno == EINTR) && busy++ < 250000) {
			nanosleep(&pause, NULL);
			continue;
		}
		die(1, "%s: sendto after %u frames: %s", o.dev, n, strerror(errno));
	}
	if (!o.quiet)
		printf("sent %u\n", n);
	free(buf);
	close(fd);
	return 0;
}

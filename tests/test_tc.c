// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The TC egress program, case by case through BPF_PROG_TEST_RUN: reason, counters, TX queue. */
#define _GNU_SOURCE
#include "fixture.h"
#include <criterion/parameterized.h>
#include <linux/pkt_cls.h>

struct tc_case {
	char name[96];
	struct pkt_spec pkt;
	uint8_t unknown_spi;	/* interface config for the case */
	uint8_t policies;
	uint32_t retval;	/* egress never drops nor ends the chain: TC_ACT_UNSPEC */
	int reason;
	int sa;			/* the SA whose counters move, -1 none */
	uint32_t bytes;		/* expected byte delta by the documented definition */
};

#define V4		.family = AF_INET
#define V6		.family = AF_INET6
#define OUT4		.dst = "198.51.100.1"	/* SA_V4_OUT and SA_V4_OUT_Q */
#define OUT6_HW		.dst = "2001:db8::9"	/* SA_V6_OUT_HW */
#define PKT4		.dst = "198.51.100.7"	/* inside the SA_V4_PKT selector */
#define PKT6		.dst = "2001:db8:7::1"	/* inside the SA_V6_PKT selector */
#define ESP(s, len)	.proto = IPPROTO_ESP, .spi = (s), .payload = (len)
#define NATT(s, len)	.proto = IPPROTO_UDP, .sport = 4500, .dport = 4500, .esp_in_udp = true, \
			.spi = (s), .payload = (len)
#define UDP(sp, dp, len)	.proto = IPPROTO_UDP, .sport = (sp), .dport = (dp), .payload = (len)
#define TCP(len)	.proto = IPPROTO_TCP, .payload = (len)
#define GCM_BYTES(len)	((len) - 8 - 16 - 2)
#define KEEPALIVE	.raw = { 0xff }
#define EXT_HOP		.ext = { IPPROTO_HOPOPTS }, .next = 1
#define OK		((uint32_t)TC_ACT_UNSPEC)
#define NONE		-1, 0	/* no SA counted */

/* Tunnel mode counts the IP packet: the IPv4 total length. */
#define IP4_LEN(l4)	(20 + (l4))
/* Transport mode counts what follows the IP header(s): the IPv6 payload length here. */
#define IP6_PAYLOAD(l4)	(l4)

ParameterizedTestParameters(tc, cases)
{
	static struct tc_case cases[] = {
	/* ESP by SPI: the SA decides, queue_mapping only moves for a queued SA. */
	{ "IPv4 ESP to an outbound software SA", { V4, OUT4, ESP(0x600, 100) },
	  0, 0, OK, XOFF_R_SA_SW, SA_V4_OUT, GCM_BYTES(100) },
	{ "IPv4 ESP to an outbound SA with TX queue 3", { V4, OUT4, ESP(0x601, 100) },
	  0, 0, OK, XOFF_R_SA_QUEUED, SA_V4_OUT_Q, GCM_BYTES(100) },
	{ "IPv6 ESP to an SA crypto-offloaded to this device (lo)",
	  { V6, OUT6_HW, ESP(0x602, 200) }, 0, 0, OK, XOFF_R_SA_HW, SA_V6_OUT_HW,
	  GCM_BYTES(200) },
	{ "ESP inside a selector prefix is counted by SPI, not by selector",
	  { V4, OUT4, ESP(0x600, 100) }, 0, 1, OK, XOFF_R_SA_SW, SA_V4_OUT, GCM_BYTES(100) },
	{ "IPv4 ESP in 802.1Q", { V4, .nvlan = 1, OUT4, ESP(0x600, 300) },
	  0, 0, OK, XOFF_R_SA_SW, SA_V4_OUT, GCM_BYTES(300) },
	{ "IPv4 ESP in QinQ to the queued SA", { V4, .nvlan = 2, OUT4, ESP(0x601, 100) },
	  0, 0, OK, XOFF_R_SA_QUEUED, SA_V4_OUT_Q, GCM_BYTES(100) },
	{ "IPv6 ESP in 802.1Q to the offloaded SA", { V6, .nvlan = 1, OUT6_HW, ESP(0x602, 100) },
	  0, 0, OK, XOFF_R_SA_HW, SA_V6_OUT_HW, GCM_BYTES(100) },
	{ "Ethernet padding is not counted", { V4, OUT4, ESP(0x600, 30), .eth_pad = 18 },
	  0, 0, OK, XOFF_R_SA_SW, SA_V4_OUT, GCM_BYTES(30) },
	{ "ESP shorter than the SA's overhead: not counted, queue untouched",
	  { V4, OUT4, ESP(0x601, 10) }, 0, 0, OK, XOFF_R_MALFORMED, NONE },
	{ "inbound SA seen on egress is the other direction", { V4, ESP(0x100, 100) },
	  0, 0, OK, XOFF_R_WRONG_DIR, NONE },
	{ "inbound ESP-in-UDP SA seen on egress", { V4, NATT(0x300, 100) },
	  0, 0, OK, XOFF_R_WRONG_DIR, NONE },
	{ "unknown SPI is passed", { V4, OUT4, ESP(0xdead, 100) },
	  0, 0, OK, XOFF_R_UNKNOWN_PASS, NONE },
	{ "unknown SPI is passed even with the drop policy (egress never drops)",
	  { V4, OUT4, ESP(0xdead, 100) }, XOFF_UNKNOWN_DROP, 1, OK, XOFF_R_UNKNOWN_PASS, NONE },
	{ "IPv6 unknown SPI, drop policy", { V6, ESP(0x600, 100) },
	  XOFF_UNKNOWN_DROP, 0, OK, XOFF_R_UNKNOWN_PASS, NONE },

	/* ESP-in-UDP: egress matches our SOURCE port; the peer's may be NAT-mapped. */
	{ "ESP-in-UDP to a plain-ESP outbound SA is unknown", { V4, OUT4, NATT(0x600, 100) },
	  XOFF_UNKNOWN_DROP, 0, OK, XOFF_R_UNKNOWN_PASS, NONE },
	{ "ESP-in-UDP to a NAT-mapped peer port is parsed as ESP",
	  { V4, OUT4, NATT(0xbeef, 100), .dport = 61000 }, 0, 0, OK, XOFF_R_UNKNOWN_PASS, NONE },
	{ "IPv6 ESP-in-UDP to a NAT-mapped peer port", { V6, NATT(0xbeef, 100), .dport = 1025 },
	  0, 0, OK, XOFF_R_UNKNOWN_PASS, NONE },
	{ "UDP from another port to 4500 is not ours on egress",
	  { V4, OUT4, NATT(0x600, 100), .sport = 61000 }, 0, 0, OK, XOFF_R_OTHER, NONE },

	/* IKE and keepalives are passed and never counted. */
	{ "IKE from UDP 500", { V4, UDP(500, 500, 100) },
	  0, 1, OK, XOFF_R_IKE, NONE },
	{ "IKE from UDP 500 to a NAT-mapped port", { V4, UDP(500, 31000, 100) },
	  0, 1, OK, XOFF_R_IKE, NONE },
	{ "UDP to 500 from another port is not IKE on egress", { V4, UDP(31000, 500, 100) },
	  0, 1, OK, XOFF_R_OTHER, NONE },
	{ "IKE from UDP 4500 (zero non-ESP marker)", { V4, UDP(4500, 4500, 100) },
	  0, 1, OK, XOFF_R_IKE, NONE },
	{ "IKE from UDP 4500 to a NAT-mapped port", { V4, UDP(4500, 40000, 100) },
	  0, 1, OK, XOFF_R_IKE, NONE },
	{ "IPv6 IKE from UDP 4500", { V6, UDP(4500, 4500, 64) },
	  0, 1, OK, XOFF_R_IKE, NONE },
	{ "IKE to a selector address is not counted against its SA",
	  { V4, PKT4, UDP(500, 500, 100) }, 0, 1, OK, XOFF_R_IKE, NONE },
	{ "NAT-T keepalive", { V4, UDP(4500, 4500, 1), KEEPALIVE },
	  0, 1, OK, XOFF_R_NATT_KEEPALIVE, NONE },
	{ "NAT-T keepalive to a NAT-mapped port", { V4, UDP(4500, 61000, 1), KEEPALIVE },
	  0, 1, OK, XOFF_R_NATT_KEEPALIVE, NONE },

	/* Fragments are the kernel's, ESP or plaintext alike. */
	{ "IPv4 first fragment of ESP", { V4, OUT4, .frag_first = true, ESP(0x600, 100) },
	  0, 0, OK, XOFF_R_FRAGMENT, NONE },
	{ "IPv4 later fragment", { V4, OUT4, .frag_later = true, ESP(0x601, 100) },
	  0, 0, OK, XOFF_R_FRAGMENT, NONE },
	{ "IPv6 fragment", { V6, OUT6_HW, .frag_first = true, ESP(0x602, 100) },
	  0, 0, OK, XOFF_R_FRAGMENT, NONE },
	{ "plaintext fragment to a selector is not counted", { V4, PKT4, .frag_first = true,
	  TCP(100) }, 0, 1, OK, XOFF_R_FRAGMENT, NONE },
	{ "ARP", { .ethertype = ETH_P_ARP }, 0, 1, OK, XOFF_R_NOT_IP, NONE },

	/* Plaintext to a packet-offload selector: the kernel's count for the SA's mode. */
	{ "IPv4 plaintext to the tunnel-mode selector: IP total length",
	  { V4, PKT4, TCP(60) }, 0, 1, OK, XOFF_R_POLICY_HW, SA_V4_PKT, IP4_LEN(60) },
	{ "IPv4 UDP plaintext elsewhere in 198.51.100.0/24", { V4, .dst = "198.51.100.200",
	  UDP(53, 53, 100) }, 0, 1, OK, XOFF_R_POLICY_HW, SA_V4_PKT, IP4_LEN(8 + 100) },
	{ "IPv4 plaintext with options: the options are in the total length",
	  { V4, PKT4, .ip4_optlen = 12, TCP(40) }, 0, 1, OK, XOFF_R_POLICY_HW, SA_V4_PKT,
	  IP4_LEN(12 + 40) },
	{ "IPv4 plaintext in 802.1Q to the selector", { V4, .nvlan = 1, PKT4, TCP(60) },
	  0, 1, OK, XOFF_R_POLICY_HW, SA_V4_PKT, IP4_LEN(60) },
	{ "plaintext Ethernet padding is not counted", { V4, PKT4, TCP(20), .eth_pad = 6 },
	  0, 1, OK, XOFF_R_POLICY_HW, SA_V4_PKT, IP4_LEN(20) },
	{ "IPv6 plaintext to the transport-mode selector: payload length",
	  { V6, PKT6, TCP(60) }, 0, 1, OK, XOFF_R_POLICY_HW, SA_V6_PKT, IP6_PAYLOAD(60) },
	{ "IPv6 UDP plaintext elsewhere in 2001:db8:7::/48", { V6, .dst = "2001:db8:7:ffff::5",
	  UDP(53, 53, 300) }, 0, 1, OK, XOFF_R_POLICY_HW, SA_V6_PKT, IP6_PAYLOAD(8 + 300) },
	/* Transport-mode ESP goes after hop-by-hop, so the kernel counts what follows it. */
	{ "IPv6 plaintext with hop-by-hop: what follows the extension header",
	  { V6, PKT6, EXT_HOP, TCP(60) }, 0, 1, OK, XOFF_R_POLICY_HW, SA_V6_PKT, 60 },
	{ "IPv4 plaintext to the selector, policies off", { V4, PKT4, TCP(60) },
	  0, 0, OK, XOFF_R_OTHER, NONE },
	{ "IPv6 plaintext to the selector, policies off", { V6, PKT6, TCP(60) },
	  0, 0, OK, XOFF_R_OTHER, NONE },
	{ "IPv4 plaintext to a prefix without a selector", { V4, .dst = "203.0.113.5", TCP(60) },
	  0, 1, OK, XOFF_R_OTHER, NONE },
	{ "IPv4 plaintext just outside the /24", { V4, .dst = "198.51.101.7", TCP(60) },
	  0, 1, OK, XOFF_R_OTHER, NONE },
	{ "IPv6 plaintext just outside the /48", { V6, .dst = "2001:db8:6:ffff::1", TCP(60) },
	  0, 1, OK, XOFF_R_OTHER, NONE },
	/* Its first 32 bits spell 198.51.100.7: the family word keeps the families apart. */
	{ "IPv6 plaintext to c633:6407::", { V6, .dst = "c633:6407::", TCP(60) },
	  0, 1, OK, XOFF_R_OTHER, NONE },
	};

	return cr_make_param_array(struct tc_case, cases, sizeof(cases) / sizeof(cases[0]));
}

/*
 * BPF_PROG_TEST_RUN cannot show the TX queue: convert_skb_to___skb() does not copy
 * queue_mapping back (net/bpf/test_run.c). test_queue.c checks it on a real multiqueue
 * device instead; here a queued SA shows in its reason and counters.
 */
#define tc_setup	fx_setup
#define tc_teardown	fx_teardown

/* One frame through xoff_tc: return value, ctx_out and the counter deltas. */
static void tc_check_frame(const char *name, const uint8_t *buf, uint32_t len, uint32_t retval,
			   int reason, int sa, uint32_t bytes)
{
	struct __sk_buff out = {};
	struct fx_snapshot a, b;
	uint32_t ret;
	int err;

	fx_snap(XOFF_PROG_TC, &a);
	err = fx_run_tc(buf, len, &ret, &out);
	cr_assert_eq(err, 0, "%s: test run: %s", name, strerror(-err));
	fx_snap(XOFF_PROG_TC, &b);
	cr_expect_eq(ret, retval, "%s: retval %u, expected %u", name, ret, retval);
	/* The HW-path cases rely on the test skb's device being lo. */
	cr_expect_eq(out.ifindex, FX_LO, "%s: skb device %u", name, out.ifindex);
	fx_assert_delta(name, &a, &b, reason, sa, bytes);
}

static void tc_check(const char *name, const struct pkt_spec *p, uint32_t retval, int reason,
		     int sa, uint32_t bytes)
{
	uint8_t buf[PKT_MAX];

	tc_check_frame(name, buf, pkt_build(p, buf), retval, reason, sa, bytes);
}

ParameterizedTest(struct tc_case *c, tc, cases, .init = tc_setup, .fini = tc_teardown)
{
	fx_config(c->unknown_spi, 0, c->policies);
	tc_check(c->name, &c->pkt, c->retval, c->reason, c->sa, c->bytes);
}

/* Every prefix of a valid frame, selectors on: passed, counted as malformed, never
 * against an SA or a selector, queue untouched. */
Test(tc, truncated_everywhere, .init = tc_setup, .fini = tc_teardown)
{
	static const struct pkt_spec templates[] = {
		{ V4, OUT4, ESP(0x601, 100) },
		{ V4, .nvlan = 2, .ip4_optlen = 8, OUT4, NATT(0x600, 64) },
		{ V6, .nvlan = 1, EXT_HOP, OUT6_HW, ESP(0x602, 64) },
		{ V4, PKT4, TCP(40) },
		{ V6, PKT6, TCP(40) },
	};
	uint8_t buf[PKT_MAX];
	uint32_t len, cut, first;
	size_t t;

	fx_config(XOFF_UNKNOWN_DROP, 0, 1);
	for (t = 0; t < sizeof(templates) / sizeof(templates[0]); t++) {
		len = pkt_build(&templates[t], buf);
		/* BPF_PROG_TEST_RUN refuses (-EINVAL) an untagged IPv4/IPv6 skb shorter than
		 * its fixed IP header; tagged frames it takes from the Ethernet header on. */
		first = ETH_HLEN;
		if (!templates[t].nvlan)
			first += templates[t].family == AF_INET6 ? sizeof(struct ipv6hdr) :
								   sizeof(struct iphdr);
		for (cut = first; cut < len; cut++) {
			char name[64];

			snprintf(name, sizeof(name), "template %zu cut at %u of %u", t, cut, len);
			tc_check_frame(name, buf, cut, OK, XOFF_R_MALFORMED, NONE);
		}
	}
}

/* The fixture has no outbound ESP-in-UDP SA: add one and check that egress finds it by
 * our source port whatever the peer's (NAT-mapped) port, and only then. */
Test(tc, outbound_espinudp_sa, .init = tc_setup, .fini = tc_teardown)
{
	static const struct {
		const char *name;
		struct pkt_spec pkt;
		int reason;
		bool counted;
	} sub[] = {
		{ "4500 -> 4500", { V4, OUT4, NATT(0x605, 100) }, XOFF_R_SA_SW, true },
		{ "4500 -> NAT-mapped 61000", { V4, OUT4, NATT(0x605, 100), .dport = 61000 },
		  XOFF_R_SA_SW, true },
		{ "4500 -> 4500 in QinQ", { V4, .nvlan = 2, OUT4, NATT(0x605, 300) },
		  XOFF_R_SA_SW, true },
		{ "61000 -> 4500: not from our port",
		  { V4, OUT4, NATT(0x605, 100), .sport = 61000 }, XOFF_R_OTHER, false },
		{ "plain ESP to the encap SA's SPI", { V4, OUT4, ESP(0x605, 100) },
		  XOFF_R_UNKNOWN_PASS, false },
		{ "keepalive to the encap SA's peer", { V4, OUT4, UDP(4500, 61000, 1), KEEPALIVE },
		  XOFF_R_NATT_KEEPALIVE, false },
		{ "IKE to the encap SA's peer", { V4, OUT4, UDP(4500, 61000, 100) },
		  XOFF_R_IKE, false },
	};
	struct xoff_sa v = { .slot = FX_NR_SAS + 1, FX_GCM, FX_Q, .dir = XOFF_DIR_OUT };
	struct xoff_counters c0, c1;
	struct xoff_sa_key k;
	uint8_t addr[4];
	size_t i;

	cr_assert_eq(inet_pton(AF_INET, "198.51.100.1", addr), 1);
	cr_assert_eq(xoff_sa_key_make(&k, AF_INET, addr, htonl(0x605), XOFF_ENCAP_ESPINUDP), 0);
	cr_assert_eq(xoff_sa_update(fx, &k, &v), 0);
	/* Selectors off: the peer is inside the SA_V4_PKT selector, where plaintext from
	 * another port would be counted against that SA instead. */
	fx_config(XOFF_UNKNOWN_DROP, 0, 0);
	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		cr_assert_eq(xoff_counters_read(fx, v.slot, &c0, NULL), 0);
		/* No fixture SA moves; the new SA is checked on its own slot. */
		tc_check(sub[i].name, &sub[i].pkt, OK, sub[i].reason, NONE);
		cr_assert_eq(xoff_counters_read(fx, v.slot, &c1, NULL), 0);
		cr_expect_eq(c1.packets - c0.packets, sub[i].counted ? 1u : 0u, "%s: packets",
			     sub[i].name);
		cr_expect_eq(c1.bytes - c0.bytes,
			     sub[i].counted ? (__u64)GCM_BYTES(sub[i].pkt.payload) : 0u,
			     "%s: bytes %llu", sub[i].name,
			     (unsigned long long)(c1.bytes - c0.bytes));
	}
}

/* A selector is for the device its SA is offloaded to: plaintext leaving through
 * another device is not counted, and the longest prefix decides. */
Test(tc, selector_of_another_device, .init = tc_setup, .fini = tc_teardown)
{
	struct pkt_spec v4 = { V4, PKT4, TCP(60) }, v4b = { V4, .dst = "198.51.100.8", TCP(60) };
	struct pkt_spec v6 = { V6, PKT6, TCP(60) };
	struct xoff_policy pol = { .slot = fx_sas[SA_V4_PKT].v.slot, .ifindex = FX_OTHER_DEV,
				   .mode = XOFF_MODE_TUNNEL };
	struct xoff_policy_key k;
	uint8_t a[4];

	fx_config(XOFF_UNKNOWN_PASS, 0, 1);
	cr_assert_eq(inet_pton(AF_INET, "198.51.100.7", a), 1);

	/* A /32 for another device inside the /24 for lo: .7 is not ours, .8 still is. */
	cr_assert_eq(xoff_policy_key_make(&k, AF_INET, a, 32), 0);
	cr_assert_eq(xoff_policy_update(fx, &k, &pol), 0);
	tc_check("/32 on another device", &v4, OK, XOFF_R_OTHER, NONE);
	tc_check("rest of the /24 on lo", &v4b, OK, XOFF_R_POLICY_HW, SA_V4_PKT, IP4_LEN(60));
	cr_assert_eq(xoff_policy_delete(fx, &k), 0);
	tc_check("/32 deleted", &v4, OK, XOFF_R_POLICY_HW, SA_V4_PKT, IP4_LEN(60));

	/* The /24 itself moved to device 999. */
	cr_assert_eq(xoff_policy_key_make(&k, AF_INET, a, 24), 0);
	cr_assert_eq(xoff_policy_update(fx, &k, &pol), 0);
	tc_check("/24 on another device", &v4, OK, XOFF_R_OTHER, NONE);
	tc_check("/24 on another device, .8", &v4b, OK, XOFF_R_OTHER, NONE);
	tc_check("IPv6 selector untouched", &v6, OK, XOFF_R_POLICY_HW, SA_V6_PKT, 60);
}

/* The queue is the SA's: changing it changes the next packet's reason, and
 * XOFF_QUEUE_NONE leaves the queue to the stack. */
Test(tc, queue_follows_the_sa, .init = tc_setup, .fini = tc_teardown)
{
	struct pkt_spec p = { V4, OUT4, ESP(0x601, 100) };
	struct xoff_sa v = fx_sas[SA_V4_OUT_Q].v;
	struct xoff_sa_key k;

	fx_config(XOFF_UNKNOWN_PASS, 0, 0);
	fx_sa_key(SA_V4_OUT_Q, &k);
	v.queue = 7;
	cr_assert_eq(xoff_sa_update(fx, &k, &v), 0);
	tc_check("queue 7", &p, OK, XOFF_R_SA_QUEUED, SA_V4_OUT_Q, GCM_BYTES(100));
	v.queue = 0;
	cr_assert_eq(xoff_sa_update(fx, &k, &v), 0);
	tc_check("queue 0", &p, OK, XOFF_R_SA_QUEUED, SA_V4_OUT_Q, GCM_BYTES(100));
	v.queue = XOFF_QUEUE_NONE;
	cr_assert_eq(xoff_sa_update(fx, &k, &v), 0);
	tc_check("no queue", &p, OK, XOFF_R_SA_SW, SA_V4_OUT_Q, GCM_BYTES(100));
}

/*
 * TC ingress counts only packets that carry a secpath (the kernel's or the NIC's
 * authentication), which BPF_PROG_TEST_RUN cannot give an skb: every frame here, ESP of
 * a live SA included (forged or not), passes as "clear" and moves no count. The counting
 * itself runs on real ESP in the VM (selftests/vm/test_traffic.sh, test_forged.sh).
 */
Test(tc, ingress_without_secpath_counts_nothing, .init = tc_setup, .fini = tc_teardown)
{
	static const struct pkt_spec frames[] = {
		{ V4, ESP(0x100, 100) },			/* an inbound SA's SPI */
		{ V4, NATT(0x300, 100) },
		{ V6, .dst = "2001:db8::1", ESP(0x200, 64) },
		{ V4, PKT4, TCP(60) },
		{ V6, PKT6, UDP(53, 53, 10) },
		{ V4, .nvlan = 2, OUT4, ESP(0x600, 100) },
		{ .ethertype = ETH_P_ARP },
	};
	uint8_t buf[PKT_MAX];
	struct fx_snapshot a, b;
	uint32_t ret, len;
	size_t i;

	fx_config(XOFF_UNKNOWN_DROP, 1, 1);
	for (i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
		char name[32];
		int err;

		snprintf(name, sizeof(name), "ingress frame %zu", i);
		len = pkt_build(&frames[i], buf);
		fx_snap(XOFF_PROG_TCI, &a);
		err = fx_run_tci(buf, len, &ret);
		cr_assert_eq(err, 0, "%s: test run: %s", name, strerror(-err));
		fx_snap(XOFF_PROG_TCI, &b);
		cr_expect_eq(ret, OK, "%s: TC ingress never drops nor ends the chain", name);
		fx_assert_delta(name, &a, &b, XOFF_R_CLEAR, NONE);
	}
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The XDP program, case by case through BPF_PROG_TEST_RUN: verdict, reason, counters. */
#define _GNU_SOURCE
#include <sched.h>
#include "fixture.h"
#include <criterion/parameterized.h>

struct xdp_case {
	char name[96];
	struct pkt_spec pkt;
	uint8_t unknown_spi;	/* interface policy for the case */
	uint8_t steer;
	uint32_t verdict;
	int reason;
	int sa;			/* the SA whose counters move, -1 none */
	uint32_t bytes;		/* expected byte delta by the documented definition */
};

#define V4		.family = AF_INET
#define V6		.family = AF_INET6
#define ESP(s, len)	.proto = IPPROTO_ESP, .spi = (s), .payload = (len)
#define NATT(s, len)	.proto = IPPROTO_UDP, .sport = 4500, .dport = 4500, .esp_in_udp = true, \
			.spi = (s), .payload = (len)
#define UDP(sp, dp, len)	.proto = IPPROTO_UDP, .sport = (sp), .dport = (dp), .payload = (len)
/* GCM SAs: payload 100 after the ESP header is 100 - 8 (IV) - 16 (ICV) - 2 = 74 bytes. */
#define GCM_BYTES(len)	((len) - 8 - 16 - 2)

#define EXT_HOP		.ext = { IPPROTO_HOPOPTS }, .next = 1
#define EXT_RT		.ext = { IPPROTO_ROUTING }, .next = 1
#define EXT_DST		.ext = { IPPROTO_DSTOPTS }, .next = 1
#define EXT_ALL		.ext = { IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS }, .next = 3
#define EXT_4		.ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING, \
				 IPPROTO_DSTOPTS }, .next = 4
#define EXT_5		.ext = { IPPROTO_HOPOPTS, IPPROTO_DSTOPTS, IPPROTO_ROUTING, \
				 IPPROTO_DSTOPTS, IPPROTO_DSTOPTS }, .next = 5
#define KEEPALIVE	.raw = { 0xff }
#define NOT_KEEPALIVE	.raw = { 0x01 }
#define SHORT_ESP	.raw = { 0, 0, 1, 0, 0, 0, 0, 1 }	/* SPI 0x100 and a sequence number */

ParameterizedTestParameters(xdp, cases)
{
	static struct xdp_case cases[] = {
	{ "IPv4 ESP, software SA", { V4, ESP(0x100, 100) },
	  0, 0, XDP_PASS, XOFF_R_SA_SW, SA_V4_SW, GCM_BYTES(100) },
	{ "IPv4 ESP, SA offloaded to this device, not steered", { V4, ESP(0x101, 100) },
	  0, 1, XDP_PASS, XOFF_R_SA_HW, SA_V4_HW, GCM_BYTES(100) },
	{ "IPv4 ESP, SA offloaded to another device is software here", { V4, ESP(0x700, 100) },
	  0, 0, XDP_PASS, XOFF_R_SA_SW, SA_V4_HW_OTHER, GCM_BYTES(100) },
	{ "IPv6 ESP", { V6, ESP(0x200, 1200) },
	  0, 0, XDP_PASS, XOFF_R_SA_SW, SA_V6_SW, GCM_BYTES(1200) },
	{ "IPv6 hop-by-hop", { V6, EXT_HOP, ESP(0x200, 100) },
	  0, 0, XDP_PASS, XOFF_R_SA_SW, SA_V6_SW, GCM_BYTES(100) },
	{ "IPv6 routing header", { V6, EXT_RT, ESP(0x200, 100) },
	  0, 0, XDP_PASS, XOFF_R_SA_SW, SA_V6_SW, GCM_BYTES(100) },
	{ "IPv6 destination options", { V6, EXT_DST, ESP(0x200, 100) },
	  0, 0, XDP_PASS, XOFF_R_SA_SW, SA_V6_SW, GCM_BYTES(100) },
	{ "IPv6 hop-by-hop + routing + dstopts", { V6, EXT_ALL, ESP(0x200, 100) },
	  0, 0, XDP_PASS, XOFF_R_SA_SW, SA_V6_SW, GCM_BYTES(100) },
	{ "IPv6 four extension headers (the bound)", { V6, EXT_4,
	  ESP(0x200, 100) }, 0, 0, XDP_PASS, XOFF_R_SA_SW, SA_V6_SW, GCM_BYTES(100) },
	{ "IPv6 five extension headers: beyond the walk, passed", { V6, EXT_5,
	  ESP(0x200, 100) }, 1, 0, XDP_PASS, XOFF_R_OTHER, -1, 0 },
	{ "IPv4 ESP in 802.1Q", { V4, .nvlan = 1, ESP(0x100, 100) },
	  0, 0, XDP_PASS, XOFF_R_SA_SW, SA_V4_SW, GCM_BYTES(100) },
	{ "IPv4 ESP in QinQ", { V4, .nvlan = 2, ESP(0x100, 100) },
	  0, 0, XDP_PASS, XOFF_R_SA_SW, SA_V4_SW, GCM_BYTES(100) },
	{ "IPv6 ESP in QinQ", { V6, .nvlan = 2, ESP(0x200, 100) },
	  0, 0, XDP_PASS, XOFF_R_SA_SW, SA_V6_SW, GCM_BYTES(100) },
	{ "IPv4 ESP-in-UDP", { V4, NATT(0x300, 100) },
	  0, 0, XDP_PASS, XOFF_R_SA_SW, SA_V4_UDP, GCM_BYTES(100) },
	{ "IPv4 ESP-in-UDP from a NAT-mapped port", { V4, NATT(0x300, 100), .sport = 61000 },
	  0, 0, XDP_PASS, XOFF_R_SA_SW, SA_V4_UDP, GCM_BYTES(100) },
	{ "IPv6 ESP-in-UDP in 802.1Q", { V6, .nvlan = 1, NATT(0x800, 300) },
	  0, 0, XDP_PASS, XOFF_R_SA_SW, SA_V6_UDP, GCM_BYTES(300) },
	{ "ESP-in-UDP to a plain-ESP SA is unknown", { V4, NATT(0x100, 100) },
	  0, 0, XDP_PASS, XOFF_R_UNKNOWN_PASS, -1, 0 },
	{ "plain ESP to an ESP-in-UDP SA is unknown", { V4, ESP(0x300, 100) },
	  0, 0, XDP_PASS, XOFF_R_UNKNOWN_PASS, -1, 0 },
	{ "UDP 4500 from our port to another: not ours on ingress",
	  { V4, NATT(0x300, 100), .dport = 1234 }, 1, 0, XDP_PASS, XOFF_R_OTHER, -1, 0 },
	{ "IKE on UDP 500", { V4, UDP(500, 500, 100) },
	  1, 0, XDP_PASS, XOFF_R_IKE, -1, 0 },
	{ "IKE on UDP 4500 (non-ESP marker)", { V4, UDP(4500, 4500, 100) },
	  1, 0, XDP_PASS, XOFF_R_IKE, -1, 0 },
	{ "IPv6 IKE on UDP 4500", { V6, UDP(4500, 4500, 64) },
	  1, 0, XDP_PASS, XOFF_R_IKE, -1, 0 },
	{ "NAT-T keepalive", { V4, UDP(4500, 4500, 1), KEEPALIVE },
	  1, 0, XDP_PASS, XOFF_R_NATT_KEEPALIVE, -1, 0 },
	{ "one byte that is not 0xff on 4500 goes to IKE", { V4, UDP(4500, 4500, 1), NOT_KEEPALIVE },
	  1, 0, XDP_PASS, XOFF_R_IKE, -1, 0 },
	{ "8 bytes on 4500 are not ESP (the kernel needs more)", { V4, UDP(4500, 4500, 8), SHORT_ESP },
	  1, 0, XDP_PASS, XOFF_R_IKE, -1, 0 },
	{ "unknown SPI, policy pass", { V4, ESP(0xdead, 100) },
	  0, 0, XDP_PASS, XOFF_R_UNKNOWN_PASS, -1, 0 },
	{ "unknown SPI, policy drop", { V4, ESP(0xdead, 100) },
	  1, 0, XDP_DROP, XOFF_R_UNKNOWN_DROP, -1, 0 },
	{ "IPv6 unknown SPI, policy drop", { V6, ESP(0x100, 100) },
	  1, 0, XDP_DROP, XOFF_R_UNKNOWN_DROP, -1, 0 },
	{ "unknown ESP-in-UDP SPI, policy drop", { V4, NATT(0xbeef, 100) },
	  1, 0, XDP_DROP, XOFF_R_UNKNOWN_DROP, -1, 0 },
	{ "known SPI to another address is unknown", { V4, .dst = "192.0.2.77", ESP(0x100, 100) },
	  1, 0, XDP_DROP, XOFF_R_UNKNOWN_DROP, -1, 0 },
	{ "IPv4 first fragment of ESP", { V4, .frag_first = true, ESP(0xdead, 100) },
	  1, 0, XDP_PASS, XOFF_R_FRAGMENT, -1, 0 },
	{ "IPv4 later fragment", { V4, .frag_later = true, ESP(0x100, 100) },
	  1, 0, XDP_PASS, XOFF_R_FRAGMENT, -1, 0 },
	{ "IPv6 fragment", { V6, .frag_first = true, ESP(0xdead, 100) },
	  1, 0, XDP_PASS, XOFF_R_FRAGMENT, -1, 0 },
	{ "IPv6 fragment after hop-by-hop", { V6, EXT_HOP, .frag_later = true,
	  ESP(0x200, 100) }, 1, 0, XDP_PASS, XOFF_R_FRAGMENT, -1, 0 },
	{ "IPv4 with options", { V4, .ip4_optlen = 12, ESP(0x100, 100) },
	  0, 0, XDP_PASS, XOFF_R_SA_SW, SA_V4_SW, GCM_BYTES(100) },
	{ "IPv4 with 40 bytes of options", { V4, .ip4_optlen = 40, ESP(0x100, 100) },
	  0, 0, XDP_PASS, XOFF_R_SA_SW, SA_V4_SW, GCM_BYTES(100) },
	{ "ARP", { .ethertype = ETH_P_ARP }, 1, 0, XDP_PASS, XOFF_R_NOT_IP, -1, 0 },
	{ "LLDP in 802.1Q", { .ethertype = 0x88cc, .nvlan = 1 }, 1, 0, XDP_PASS, XOFF_R_NOT_IP, -1, 0 },
	{ "AH", { V4, .proto = IPPROTO_AH, .payload = 64 }, 1, 0, XDP_PASS, XOFF_R_OTHER, -1, 0 },
	{ "TCP", { V6, .proto = IPPROTO_TCP, .payload = 40 }, 1, 0, XDP_PASS, XOFF_R_OTHER, -1, 0 },
	{ "UDP to another port", { V4, UDP(53, 53, 30) }, 1, 0, XDP_PASS, XOFF_R_OTHER, -1, 0 },
	{ "steered SA, steering on: redirected to its CPU", { V4, ESP(0x400, 100) },
	  0, 1, XDP_REDIRECT, XOFF_R_SA_STEERED, SA_V4_STEER0, GCM_BYTES(100) },
	{ "steered SA, steering off: stays", { V4, ESP(0x400, 100) },
	  0, 0, XDP_PASS, XOFF_R_SA_SW, SA_V4_STEER0, GCM_BYTES(100) },
	{ "steered SA whose CPU is not in the cpumap: passed", { V4, ESP(0x401, 100) },
	  0, 1, XDP_PASS, XOFF_R_STEER_FAILED, SA_V4_STEER1, GCM_BYTES(100) },
	{ "software SA without a CPU, steering on: stays", { V4, ESP(0x100, 100) },
	  0, 1, XDP_PASS, XOFF_R_SA_SW, SA_V4_SW, GCM_BYTES(100) },
	{ "outbound SA on ingress is transit, never dropped", { V4, .dst = "198.51.100.1",
	  ESP(0x600, 100) }, 1, 0, XDP_PASS, XOFF_R_WRONG_DIR, -1, 0 },
	{ "CBC SA: IV 16, ICV 16", { V4, ESP(0x900, 120) },
	  0, 0, XDP_PASS, XOFF_R_SA_SW, SA_V4_CBC, 120 - 16 - 16 - 2 },
	{ "ESP shorter than the SA's overhead is not counted", { V4, ESP(0x100, 10) },
	  0, 0, XDP_PASS, XOFF_R_MALFORMED, -1, 0 },
	{ "Ethernet padding is not counted", { V4, ESP(0x100, 30), .eth_pad = 18 },
	  0, 0, XDP_PASS, XOFF_R_SA_SW, SA_V4_SW, GCM_BYTES(30) },
	{ "a bare ESP header (no payload)", { V4, ESP(0xdead, 0) },
	  1, 0, XDP_DROP, XOFF_R_UNKNOWN_DROP, -1, 0 },
	};

	return cr_make_param_array(struct xdp_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct xdp_case *c, xdp, cases, .init = fx_setup, .fini = fx_teardown)
{
	struct fx_snapshot a, b;
	uint8_t buf[PKT_MAX];
	uint32_t len, ret;
	int err;

	if (c->verdict == XDP_REDIRECT && xoff_nr_cpus() < 2)
		cr_skip_test("SKIP: %s: one CPU, where the SA is already", c->name);
	/* Away from the SA's CPU: SA_V4_STEER0's is 0, SA_V4_STEER1's (not in the cpumap) 1. */
	fx_pin(c->verdict == XDP_REDIRECT ? xoff_nr_cpus() - 1 : 0);
	fx_config(c->unknown_spi, c->steer, 0);
	len = pkt_build(&c->pkt, buf);
	fx_snap(XOFF_PROG_XDP, &a);
	err = fx_run_xdp(buf, len, &ret);
	cr_assert_eq(err, 0, "%s: test run: %s", c->name, strerror(-err));
	fx_snap(XOFF_PROG_XDP, &b);
	cr_expect_eq(ret, c->verdict, "%s: verdict %u, expected %u", c->name, ret, c->verdict);
	fx_assert_delta(c->name, &a, &b, c->reason, c->sa, c->bytes);
}

/* Every prefix of a valid frame, cut at every byte: passed, counted as malformed,
 * never counted against an SA, even with the drop policy on. */
Test(xdp, truncated_everywhere, .init = fx_setup, .fini = fx_teardown)
{
	static const struct pkt_spec templates[] = {
		{ V4, ESP(0x100, 100) },
		{ V4, .nvlan = 2, .ip4_optlen = 8, NATT(0x300, 64) },
		{ V6, .nvlan = 1, EXT_ALL, ESP(0x200, 64) },
		{ V6, NATT(0x800, 64) },
		{ V4, UDP(4500, 4500, 1), KEEPALIVE },
	};
	struct fx_snapshot a, b;
	uint8_t buf[PKT_MAX];
	uint32_t len, cut, ret;
	size_t t;

	fx_config(XOFF_UNKNOWN_DROP, 1, 0);
	for (t = 0; t < sizeof(templates) / sizeof(templates[0]); t++) {
		len = pkt_build(&templates[t], buf);
		/* BPF_PROG_TEST_RUN refuses XDP frames shorter than an Ethernet header. */
		for (cut = ETH_HLEN; cut < len; cut++) {
			char name[64];

			snprintf(name, sizeof(name), "template %zu cut at %u of %u", t, cut, len);
			fx_snap(XOFF_PROG_XDP, &a);
			cr_assert_eq(fx_run_xdp(buf, cut, &ret), 0);
			fx_snap(XOFF_PROG_XDP, &b);
			cr_assert_eq(ret, XDP_PASS, "%s: verdict %u", name, ret);
			fx_assert_delta(name, &a, &b, XOFF_R_MALFORMED, -1, 0);
		}
	}
}

/* Steering follows the cpumap: with only CPU 1 enabled, the CPU-0 SA falls back and the
 * CPU-1 SA is redirected, so the redirect uses the SA's own entry. */
Test(xdp, redirect_uses_the_sas_cpu, .init = fx_setup, .fini = fx_teardown)
{
	struct pkt_spec p0 = { V4, ESP(0x400, 100) }, p1 = { V4, ESP(0x401, 100) };
	uint8_t buf[PKT_MAX];
	uint32_t len, ret;

	if (xoff_nr_cpus() < 2)
		cr_skip_test("SKIP: needs two CPUs");
	fx_config(XOFF_UNKNOWN_PASS, 1, 0);
	cr_assert_eq(xoff_cpu_disable(fx, 0), 0);
	cr_assert_eq(xoff_cpu_enable(fx, 1, 64), 0);
	fx_pin(xoff_nr_cpus() > 2 ? 2 : 0);
	len = pkt_build(&p0, buf);
	cr_assert_eq(fx_run_xdp(buf, len, &ret), 0);
	cr_expect_eq(ret, XDP_PASS, "CPU-0 SA with CPU 0 disabled: %u", ret);
	len = pkt_build(&p1, buf);
	cr_assert_eq(fx_run_xdp(buf, len, &ret), 0);
	cr_expect_eq(ret, XDP_REDIRECT, "CPU-1 SA with CPU 1 enabled: %u", ret);
}

/* An SA that arrives on its own CPU is passed there, counted as steered: no hop through
 * that CPU's cpumap thread. From another CPU, the same SA is redirected. */
Test(xdp, sa_on_its_cpu_is_passed, .init = fx_setup, .fini = fx_teardown)
{
	struct pkt_spec p = { V4, ESP(0x400, 100) };	/* SA_V4_STEER0: CPU 0 */
	struct fx_snapshot a, b;
	uint8_t buf[PKT_MAX];
	uint32_t len, ret;

	fx_config(XOFF_UNKNOWN_PASS, 1, 0);
	fx_pin(0);
	len = pkt_build(&p, buf);
	fx_snap(XOFF_PROG_XDP, &a);
	cr_assert_eq(fx_run_xdp(buf, len, &ret), 0);
	fx_snap(XOFF_PROG_XDP, &b);
	cr_expect_eq(ret, XDP_PASS, "CPU-0 SA on CPU 0: %u", ret);
	fx_assert_delta("CPU-0 SA on CPU 0", &a, &b, XOFF_R_SA_STEERED, SA_V4_STEER0,
			GCM_BYTES(100));
	if (xoff_nr_cpus() < 2)
		return;
	fx_pin(1);
	cr_assert_eq(fx_run_xdp(buf, len, &ret), 0);
	cr_expect_eq(ret, XDP_REDIRECT, "CPU-0 SA on CPU 1: %u", ret);
}

/* Counters accumulate per SA across packets and CPUs are summed exactly. */
Test(xdp, counters_accumulate, .init = fx_setup, .fini = fx_teardown)
{
	struct pkt_spec p = { V6, ESP(0x200, 500) };
	struct xoff_counters sum;
	uint8_t buf[PKT_MAX];
	uint32_t len, ret;
	int i;

	fx_config(XOFF_UNKNOWN_PASS, 0, 0);
	len = pkt_build(&p, buf);
	for (i = 0; i < 1000; i++)
		cr_assert_eq(fx_run_xdp(buf, len, &ret), 0);
	cr_assert_eq(xoff_counters_read(fx, fx_sas[SA_V6_SW].v.slot, &sum, NULL), 0);
	cr_expect_eq(sum.packets, 1000);
	cr_expect_eq(sum.bytes, 1000ull * GCM_BYTES(500));
}

/* ---- The per-CPU SA cache (abi.h) ---- */

/* One packet of @p; its reason, and the packets counted on @slot. */
static int cache_run(const struct pkt_spec *p, __u32 slot, __u64 *slot_packets, __u32 *verdict)
{
	struct fx_snapshot a, b;
	struct xoff_counters c;
	uint8_t buf[PKT_MAX];
	uint32_t len = pkt_build(p, buf);
	int i;

	fx_snap(XOFF_PROG_XDP, &a);
	cr_assert_eq(fx_run_xdp(buf, len, verdict), 0);
	fx_snap(XOFF_PROG_XDP, &b);
	cr_assert_eq(xoff_counters_read(fx, slot, &c, NULL), 0);
	*slot_packets = c.packets;
	for (i = 0; i < XOFF_R_MAX; i++)
		if (b.reasons[i] != a.reasons[i])
			return i;
	return -1;
}

/* The same CPU for every run, so that the runs meet one cache. */
static void cache_pin_cpu(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	cr_assert_eq(sched_setaffinity(0, sizeof(set), &set), 0);
}

/* Changes made through libxoff reach the next packet, whatever the cache held: a new
 * value, a deletion (a cached hit becomes a miss) and an addition (a cached miss becomes
 * a hit). A change behind libxoff's back is not seen until xoff_sas_changed(). */
Test(xdp, sa_cache_follows_the_map, .init = fx_setup, .fini = fx_teardown)
{
	struct pkt_spec p = { V4, ESP(0x100, 100) };
	struct xoff_sa v = fx_sas[SA_V4_SW].v;
	struct xoff_sa_key k;
	__u64 n;
	__u32 ret;

	cache_pin_cpu();
	fx_config(XOFF_UNKNOWN_DROP, 0, 0);
	fx_sa_key(SA_V4_SW, &k);
	cr_expect_eq(cache_run(&p, v.slot, &n, &ret), XOFF_R_SA_SW);
	cr_expect_eq(cache_run(&p, v.slot, &n, &ret), XOFF_R_SA_SW, "a cache hit");
	cr_expect_eq(n, 2);

	v.dir = XOFF_DIR_OUT;
	cr_assert_eq(xoff_sa_update(fx, &k, &v), 0);
	cr_expect_eq(cache_run(&p, v.slot, &n, &ret), XOFF_R_WRONG_DIR, "cached old value used");

	cr_assert_eq(xoff_sa_delete(fx, &k), 0);
	cr_expect_eq(cache_run(&p, v.slot, &n, &ret), XOFF_R_UNKNOWN_DROP, "deleted SA still hit");
	cr_expect_eq(ret, XDP_DROP);
	cr_expect_eq(cache_run(&p, v.slot, &n, &ret), XOFF_R_UNKNOWN_DROP, "a cached miss");

	v.dir = XOFF_DIR_IN;
	cr_assert_eq(xoff_sa_update(fx, &k, &v), 0);
	cr_expect_eq(cache_run(&p, v.slot, &n, &ret), XOFF_R_SA_SW, "cached miss after the add");
	cr_expect_eq(n, 3);

	/* Behind libxoff's back: the cached line still answers, until the generation moves. */
	v.slot = 20;
	cr_assert_eq(bpf_map_update_elem(xoff_map_fd(fx, XOFF_MAP_SAS), &k, &v, 0), 0);
	cr_expect_eq(cache_run(&p, 1, &n, &ret), XOFF_R_SA_SW);
	cr_expect_eq(n, 4, "the cached slot counted");
	cr_assert_eq(xoff_sas_changed(fx), 0);
	cr_expect_eq(cache_run(&p, 20, &n, &ret), XOFF_R_SA_SW);
	cr_expect_eq(n, 1, "the new slot after xoff_sas_changed()");
}

/* The cache line of an IPv4 key, computed as bpf/xoff.bpf.c does. */
static __u32 cache_line(const struct xoff_sa_key *k)
{
	const __u32 *w = (const void *)k;
	__u32 h = (w[0] ^ w[1] ^ w[2] ^ w[3] ^ w[4] ^ w[5]) * 0x9e3779b1u;

	return h >> (32 - __builtin_ctz(XOFF_SA_CACHE));
}

/* Two SAs on one line take it from each other and each packet still finds its own SA;
 * so does an unknown SPI on a line an SA holds. */
Test(xdp, sa_cache_collisions, .init = fx_setup, .fini = fx_teardown)
{
	struct xoff_sa v = { .slot = 30, FX_GCM, FX_Q };
	struct xoff_sa_key k1, k2, ku;
	struct pkt_spec p1 = { V4, ESP(0x100, 100) }, p2 = p1, pu = p1;
	__u8 d[4] = { 192, 0, 2, 1 };
	__u32 spi, ret, i;
	__u64 n1, n2;

	cache_pin_cpu();
	fx_config(XOFF_UNKNOWN_PASS, 0, 0);
	fx_sa_key(SA_V4_SW, &k1);
	for (spi = 0x1000; ; spi++) {
		xoff_sa_key_make(&k2, AF_INET, d, htonl(spi), XOFF_ENCAP_ESP);
		if (cache_line(&k2) == cache_line(&k1))
			break;
	}
	cr_assert_eq(xoff_sa_update(fx, &k2, &v), 0);
	p2.spi = spi;
	for (spi = spi + 1; ; spi++) {
		xoff_sa_key_make(&ku, AF_INET, d, htonl(spi), XOFF_ENCAP_ESP);
		if (cache_line(&ku) == cache_line(&k1))
			break;
	}
	pu.spi = spi;
	for (i = 0; i < 4; i++) {
		cr_expect_eq(cache_run(&p1, fx_sas[SA_V4_SW].v.slot, &n1, &ret), XOFF_R_SA_SW);
		cr_expect_eq(cache_run(&p2, v.slot, &n2, &ret), XOFF_R_SA_SW);
		cr_expect_eq(cache_run(&pu, v.slot, &n2, &ret), XOFF_R_UNKNOWN_PASS);
	}
	cr_expect_eq(n1, 4);
	cr_expect_eq(n2, 4);
}

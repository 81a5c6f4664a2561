// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The TC egress program, case by case through BPF_PROG_TEST_RUN: reason, counters, TX queue. */
#include "fixture.h"
#include <criterion/parameterized.h>
#include <criterion/logging.h>
#include <linux/pkt_cls.h>
#include <bpf/btf.h>

struct tc_case {
	char name[96];
	struct pkt_spec pkt;
	uint8_t unknown_spi;	/* interface config for the case */
	uint8_t policies;
	uint32_t retval;	/* egress never drops: always TC_ACT_OK */
	int reason;
	int sa;			/* the SA whose counters move, -1 none */
	uint32_t bytes;		/* expected byte delta by the documented definition */
	uint32_t qmap;		/* skb->queue_mapping after the run; the test skb starts at 0 */
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
#define OK		TC_ACT_OK
#define NONE		-1, 0	/* no SA counted */
/* skb->queue_mapping that puts a packet on TX queue q: the stack reads a BPF-set value as
 * a recorded RX queue, one above the TX queue (skb_tx_hash()). */
#define QM(q)		((q) + 1)

/* Tunnel mode counts the IP packet: the IPv4 total length. */
#define IP4_LEN(l4)	(20 + (l4))
/* Transport mode counts what follows the IP header(s): the IPv6 payload length here. */
#define IP6_PAYLOAD(l4)	(l4)

ParameterizedTestParameters(tc, cases)
{
	static struct tc_case cases[] = {
	/* ESP by SPI: the SA decides, queue_mapping only moves for a queued SA. */
	{ "IPv4 ESP to an outbound software SA", { V4, OUT4, ESP(0x600, 100) },
	  0, 0, OK, XOFF_R_SA_SW, SA_V4_OUT, GCM_BYTES(100), 0 },
	{ "IPv4 ESP to an outbound SA with TX queue 3", { V4, OUT4, ESP(0x601, 100) },
	  0, 0, OK, XOFF_R_SA_QUEUED, SA_V4_OUT_Q, GCM_BYTES(100), QM(3) },
	{ "IPv6 ESP to an SA crypto-offloaded to this device (lo)",
	  { V6, OUT6_HW, ESP(0x602, 200) }, 0, 0, OK, XOFF_R_SA_HW, SA_V6_OUT_HW,
	  GCM_BYTES(200), 0 },
	{ "ESP inside a selector prefix is counted by SPI, not by selector",
	  { V4, OUT4, ESP(0x600, 100) }, 0, 1, OK, XOFF_R_SA_SW, SA_V4_OUT, GCM_BYTES(100), 0 },
	{ "IPv4 ESP in 802.1Q", { V4, .nvlan = 1, OUT4, ESP(0x600, 300) },
	  0, 0, OK, XOFF_R_SA_SW, SA_V4_OUT, GCM_BYTES(300), 0 },
	{ "IPv4 ESP in QinQ to the queued SA", { V4, .nvlan = 2, OUT4, ESP(0x601, 100) },
	  0, 0, OK, XOFF_R_SA_QUEUED, SA_V4_OUT_Q, GCM_BYTES(100), QM(3) },
	{ "IPv6 ESP in 802.1Q to the offloaded SA", { V6, .nvlan = 1, OUT6_HW, ESP(0x602, 100) },
	  0, 0, OK, XOFF_R_SA_HW, SA_V6_OUT_HW, GCM_BYTES(100), 0 },
	{ "Ethernet padding is not counted", { V4, OUT4, ESP(0x600, 30), .eth_pad = 18 },
	  0, 0, OK, XOFF_R_SA_SW, SA_V4_OUT, GCM_BYTES(30), 0 },
	{ "ESP shorter than the SA's overhead: not counted, queue untouched",
	  { V4, OUT4, ESP(0x601, 10) }, 0, 0, OK, XOFF_R_MALFORMED, NONE, 0 },
	{ "inbound SA seen on egress is the other direction", { V4, ESP(0x100, 100) },
	  0, 0, OK, XOFF_R_WRONG_DIR, NONE, 0 },
	{ "inbound ESP-in-UDP SA seen on egress", { V4, NATT(0x300, 100) },
	  0, 0, OK, XOFF_R_WRONG_DIR, NONE, 0 },
	{ "unknown SPI is passed", { V4, OUT4, ESP(0xdead, 100) },
	  0, 0, OK, XOFF_R_UNKNOWN_PASS, NONE, 0 },
	{ "unknown SPI is passed even with the drop policy (egress never drops)",
	  { V4, OUT4, ESP(0xdead, 100) }, XOFF_UNKNOWN_DROP, 1, OK, XOFF_R_UNKNOWN_PASS, NONE, 0 },
	{ "IPv6 unknown SPI, drop policy", { V6, ESP(0x600, 100) },
	  XOFF_UNKNOWN_DROP, 0, OK, XOFF_R_UNKNOWN_PASS, NONE, 0 },

	/* ESP-in-UDP: egress matches our SOURCE port; the peer's may be NAT-mapped. */
	{ "ESP-in-UDP to a plain-ESP outbound SA is unknown", { V4, OUT4, NATT(0x600, 100) },
	  XOFF_UNKNOWN_DROP, 0, OK, XOFF_R_UNKNOWN_PASS, NONE, 0 },
	{ "ESP-in-UDP to a NAT-mapped peer port is parsed as ESP",
	  { V4, OUT4, NATT(0xbeef, 100), .dport = 61000 }, 0, 0, OK, XOFF_R_UNKNOWN_PASS, NONE, 0 },
	{ "IPv6 ESP-in-UDP to a NAT-mapped peer port", { V6, NATT(0xbeef, 100), .dport = 1025 },
	  0, 0, OK, XOFF_R_UNKNOWN_PASS, NONE, 0 },
	{ "UDP from another port to 4500 is not ours on egress",
	  { V4, OUT4, NATT(0x600, 100), .sport = 61000 }, 0, 0, OK, XOFF_R_OTHER, NONE, 0 },

	/* IKE and keepalives are passed and never counted. */
	{ "IKE from UDP 500", { V4, UDP(500, 500, 100) },
	  0, 1, OK, XOFF_R_IKE, NONE, 0 },
	{ "IKE from UDP 500 to a NAT-mapped port", { V4, UDP(500, 31000, 100) },
	  0, 1, OK, XOFF_R_IKE, NONE, 0 },
	{ "UDP to 500 from another port is not IKE on egress", { V4, UDP(31000, 500, 100) },
	  0, 1, OK, XOFF_R_OTHER, NONE, 0 },
	{ "IKE from UDP 4500 (zero non-ESP marker)", { V4, UDP(4500, 4500, 100) },
	  0, 1, OK, XOFF_R_IKE, NONE, 0 },
	{ "IKE from UDP 4500 to a NAT-mapped port", { V4, UDP(4500, 40000, 100) },
	  0, 1, OK, XOFF_R_IKE, NONE, 0 },
	{ "IPv6 IKE from UDP 4500", { V6, UDP(4500, 4500, 64) },
	  0, 1, OK, XOFF_R_IKE, NONE, 0 },
	{ "IKE to a selector address is not counted against its SA",
	  { V4, PKT4, UDP(500, 500, 100) }, 0, 1, OK, XOFF_R_IKE, NONE, 0 },
	{ "NAT-T keepalive", { V4, UDP(4500, 4500, 1), KEEPALIVE },
	  0, 1, OK, XOFF_R_NATT_KEEPALIVE, NONE, 0 },
	{ "NAT-T keepalive to a NAT-mapped port", { V4, UDP(4500, 61000, 1), KEEPALIVE },
	  0, 1, OK, XOFF_R_NATT_KEEPALIVE, NONE, 0 },

	/* Fragments are the kernel's, ESP or plaintext alike. */
	{ "IPv4 first fragment of ESP", { V4, OUT4, .frag_first = true, ESP(0x600, 100) },
	  0, 0, OK, XOFF_R_FRAGMENT, NONE, 0 },
	{ "IPv4 later fragment", { V4, OUT4, .frag_later = true, ESP(0x601, 100) },
	  0, 0, OK, XOFF_R_FRAGMENT, NONE, 0 },
	{ "IPv6 fragment", { V6, OUT6_HW, .frag_first = true, ESP(0x602, 100) },
	  0, 0, OK, XOFF_R_FRAGMENT, NONE, 0 },
	{ "plaintext fragment to a selector is not counted", { V4, PKT4, .frag_first = true,
	  TCP(100) }, 0, 1, OK, XOFF_R_FRAGMENT, NONE, 0 },
	{ "ARP", { .ethertype = ETH_P_ARP }, 0, 1, OK, XOFF_R_NOT_IP, NONE, 0 },

	/* Plaintext to a packet-offload selector: the kernel's count for the SA's mode. */
	{ "IPv4 plaintext to the tunnel-mode selector: IP total length",
	  { V4, PKT4, TCP(60) }, 0, 1, OK, XOFF_R_POLICY_HW, SA_V4_PKT, IP4_LEN(60), 0 },
	{ "IPv4 UDP plaintext elsewhere in 198.51.100.0/24", { V4, .dst = "198.51.100.200",
	  UDP(53, 53, 100) }, 0, 1, OK, XOFF_R_POLICY_HW, SA_V4_PKT, IP4_LEN(8 + 100), 0 },
	{ "IPv4 plaintext with options: the options are in the total length",
	  { V4, PKT4, .ip4_optlen = 12, TCP(40) }, 0, 1, OK, XOFF_R_POLICY_HW, SA_V4_PKT,
	  IP4_LEN(12 + 40), 0 },
	{ "IPv4 plaintext in 802.1Q to the selector", { V4, .nvlan = 1, PKT4, TCP(60) },
	  0, 1, OK, XOFF_R_POLICY_HW, SA_V4_PKT, IP4_LEN(60), 0 },
	{ "plaintext Ethernet padding is not counted", { V4, PKT4, TCP(20), .eth_pad = 6 },
	  0, 1, OK, XOFF_R_POLICY_HW, SA_V4_PKT, IP4_LEN(20), 0 },
	{ "IPv6 plaintext to the transport-mode selector: payload length",
	  { V6, PKT6, TCP(60) }, 0, 1, OK, XOFF_R_POLICY_HW, SA_V6_PKT, IP6_PAYLOAD(60), 0 },
	{ "IPv6 UDP plaintext elsewhere in 2001:db8:7::/48", { V6, .dst = "2001:db8:7:ffff::5",
	  UDP(53, 53, 300) }, 0, 1, OK, XOFF_R_POLICY_HW, SA_V6_PKT, IP6_PAYLOAD(8 + 300), 0 },
	/* Transport-mode ESP goes after hop-by-hop, so the kernel counts what follows it. */
	{ "IPv6 plaintext with hop-by-hop: what follows the extension header",
	  { V6, PKT6, EXT_HOP, TCP(60) }, 0, 1, OK, XOFF_R_POLICY_HW, SA_V6_PKT, 60, 0 },
	{ "IPv4 plaintext to the selector, policies off", { V4, PKT4, TCP(60) },
	  0, 0, OK, XOFF_R_OTHER, NONE, 0 },
	{ "IPv6 plaintext to the selector, policies off", { V6, PKT6, TCP(60) },
	  0, 0, OK, XOFF_R_OTHER, NONE, 0 },
	{ "IPv4 plaintext to a prefix without a selector", { V4, .dst = "203.0.113.5", TCP(60) },
	  0, 1, OK, XOFF_R_OTHER, NONE, 0 },
	{ "IPv4 plaintext just outside the /24", { V4, .dst = "198.51.101.7", TCP(60) },
	  0, 1, OK, XOFF_R_OTHER, NONE, 0 },
	{ "IPv6 plaintext just outside the /48", { V6, .dst = "2001:db8:6:ffff::1", TCP(60) },
	  0, 1, OK, XOFF_R_OTHER, NONE, 0 },
	/* Its first 32 bits spell 198.51.100.7: the family word keeps the families apart. */
	{ "IPv6 plaintext to c633:6407::", { V6, .dst = "c633:6407::", TCP(60) },
	  0, 1, OK, XOFF_R_OTHER, NONE, 0 },
	};

	return cr_make_param_array(struct tc_case, cases, sizeof(cases) / sizeof(cases[0]));
}

/*
 * BPF_PROG_TEST_RUN cannot show the TX queue: convert___skb_to_skb() insists that the
 * ctx_in bytes from mark to priority (queue_mapping among them) are zero, and
 * convert_skb_to___skb() copies back only mark, priority, ingress_ifindex, ifindex,
 * tstamp, cb, wire_len, gso_segs and hwtstamp (net/bpf/test_run.c), so ctx_out's
 * queue_mapping is always the zero that went in. An fexit program on xoff_tc reads the
 * real sk_buff after the program instead and records (runs, queue_mapping).
 */
struct txq_seen {
	__u32 runs;
	__u32 queue_mapping;
};

static int txq_map = -1, txq_prog = -1, txq_link = -1;

#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

/* Byte offset of sk_buff.queue_mapping from the kernel's BTF; -ENOENT without it. */
static int skb_queue_mapping_off(void)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	const struct btf_member *m;
	const struct btf_type *t;
	int id, i, off = -ENOENT;

	if (!vmlinux)
		return -ENOENT;
	id = btf__find_by_name_kind(vmlinux, "sk_buff", BTF_KIND_STRUCT);
	if (id > 0) {
		t = btf__type_by_id(vmlinux, id);
		m = btf_members(t);
		for (i = 0; i < btf_vlen(t); i++, m++)
			if (!strcmp(btf__name_by_offset(vmlinux, m->name_off), "queue_mapping"))
				off = btf_member_bit_offset(t, i) / 8;
	}
	btf__free(vmlinux);
	return off;
}

/* The BTF id of xoff_tc in its own loaded BTF: the fexit attach point. */
static int tc_func_btf_id(int prog_fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	struct btf *btf;
	int id;

	cr_assert_eq(bpf_obj_get_info_by_fd(prog_fd, &info, &len), 0, "prog info: %s",
		     strerror(errno));
	btf = btf__load_from_kernel_by_id(info.btf_id);
	cr_assert_not_null(btf, "xoff_tc has no BTF (built without -g?)");
	id = btf__find_by_name_kind(btf, "xoff_tc", BTF_KIND_FUNC);
	btf__free(btf);
	cr_assert_gt(id, 0, "xoff_tc not in its BTF");
	return id;
}

/* fexit on xoff_tc: copy skb->queue_mapping (at @off in sk_buff) into the map's only
 * value and count the run. */
static int txq_prog_load(int tc_fd, int map_fd, int off, char *log, size_t log_size)
{
	const struct bpf_insn insns[] = {
		/* r6 = args[0], the sk_buff (the verifier maps __sk_buff to it) */
		INSN(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_6, BPF_REG_1, 0, 0),
		INSN(BPF_LDX | BPF_MEM | BPF_H, BPF_REG_6, BPF_REG_6, off, 0),
		/* r1 = &txq_seen */
		INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_VALUE, 0, map_fd),
		INSN(0, 0, 0, 0, 0),
		INSN(BPF_STX | BPF_MEM | BPF_W, BPF_REG_1, BPF_REG_6,
		     offsetof(struct txq_seen, queue_mapping), 0),
		INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1,
		     offsetof(struct txq_seen, runs), 0),
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, 1),
		INSN(BPF_STX | BPF_MEM | BPF_W, BPF_REG_1, BPF_REG_2,
		     offsetof(struct txq_seen, runs), 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0),
		INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_TRACE_FEXIT,
		    .attach_prog_fd = tc_fd, .attach_btf_id = tc_func_btf_id(tc_fd),
		    .log_buf = log, .log_size = log_size, .log_level = 1);

	return bpf_prog_load(BPF_PROG_TYPE_TRACING, "xoff_txq", "GPL", insns,
			     sizeof(insns) / sizeof(insns[0]), &o);
}

static void txq_probe_attach(void)
{
	int off = skb_queue_mapping_off();
	char log[4096] = "";

	if (off < 0) {
		cr_log_warn("no kernel BTF for sk_buff: TX queue not checked");
		return;
	}
	txq_map = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xoff_txq", sizeof(__u32),
				 sizeof(struct txq_seen), 1, NULL);
	cr_assert_geq(txq_map, 0, "txq map: %s", strerror(errno));
	txq_prog = txq_prog_load(bpf_program__fd(xoff_tc_prog(fx)), txq_map, off, log,
				 sizeof(log));
	if (txq_prog < 0 && errno == EPERM && !log[0]) {
		/* Refused before the verifier ran: an LSM or sandbox forbids tracing
		 * programs. Nothing else can see the queue, so say so and go on. */
		cr_log_info("tracing programs not permitted here: TX queue not checked");
		close(txq_map);
		txq_map = -1;
		return;
	}
	cr_assert_geq(txq_prog, 0, "fexit on xoff_tc: %s\n%s", strerror(errno), log);
	txq_link = bpf_link_create(txq_prog, 0, BPF_TRACE_FEXIT, NULL);
	cr_assert_geq(txq_link, 0, "fexit attach: %s", strerror(errno));
}

static void tc_setup(void)
{
	fx_setup();
	txq_probe_attach();
}

static void tc_teardown(void)
{
	if (txq_link >= 0)
		close(txq_link);
	if (txq_prog >= 0)
		close(txq_prog);
	if (txq_map >= 0)
		close(txq_map);
	txq_link = txq_prog = txq_map = -1;
	fx_teardown();
}

static void txq_reset(void)
{
	struct txq_seen z = {};
	__u32 k = 0;

	if (txq_map >= 0)
		cr_assert_eq(bpf_map_update_elem(txq_map, &k, &z, BPF_ANY), 0);
}

/* The queue_mapping xoff_tc left in the skb of the one run since txq_reset(). */
static void txq_expect(const char *name, __u32 want)
{
	struct txq_seen s;
	__u32 k = 0;

	if (txq_map < 0)
		return;
	cr_assert_eq(bpf_map_lookup_elem(txq_map, &k, &s), 0);
	cr_assert_eq(s.runs, 1, "%s: fexit ran %u times", name, s.runs);
	cr_expect_eq(s.queue_mapping, want, "%s: queue_mapping %u, expected %u", name,
		     s.queue_mapping, want);
}

/* One frame through xoff_tc: return value, ctx_out, TX queue and the counter deltas. */
static void tc_check_frame(const char *name, const uint8_t *buf, uint32_t len, uint32_t retval,
			   int reason, int sa, uint32_t bytes, uint32_t qmap)
{
	struct __sk_buff out = {};
	struct fx_snapshot a, b;
	uint32_t ret;
	int err;

	txq_reset();
	fx_snap(XOFF_PROG_TC, &a);
	err = fx_run_tc(buf, len, &ret, &out);
	cr_assert_eq(err, 0, "%s: test run: %s", name, strerror(-err));
	fx_snap(XOFF_PROG_TC, &b);
	cr_expect_eq(ret, retval, "%s: retval %u, expected %u", name, ret, retval);
	/* The HW-path cases rely on the test skb's device being lo. */
	cr_expect_eq(out.ifindex, FX_LO, "%s: skb device %u", name, out.ifindex);
	/* Zero as explained above; should a kernel copy it back one day, it must agree. */
	cr_expect(out.queue_mapping == 0 || out.queue_mapping == qmap,
		  "%s: ctx_out queue_mapping %u, expected %u", name, out.queue_mapping, qmap);
	txq_expect(name, qmap);
	fx_assert_delta(name, &a, &b, reason, sa, bytes);
}

static void tc_check(const char *name, const struct pkt_spec *p, uint32_t retval, int reason,
		     int sa, uint32_t bytes, uint32_t qmap)
{
	uint8_t buf[PKT_MAX];

	tc_check_frame(name, buf, pkt_build(p, buf), retval, reason, sa, bytes, qmap);
}

ParameterizedTest(struct tc_case *c, tc, cases, .init = tc_setup, .fini = tc_teardown)
{
	fx_config(c->unknown_spi, 0, c->policies);
	tc_check(c->name, &c->pkt, c->retval, c->reason, c->sa, c->bytes, c->qmap);
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
			tc_check_frame(name, buf, cut, OK, XOFF_R_MALFORMED, NONE, 0);
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
		tc_check(sub[i].name, &sub[i].pkt, OK, sub[i].reason, NONE, 0);
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
	tc_check("/32 on another device", &v4, OK, XOFF_R_OTHER, NONE, 0);
	tc_check("rest of the /24 on lo", &v4b, OK, XOFF_R_POLICY_HW, SA_V4_PKT, IP4_LEN(60), 0);
	cr_assert_eq(xoff_policy_delete(fx, &k), 0);
	tc_check("/32 deleted", &v4, OK, XOFF_R_POLICY_HW, SA_V4_PKT, IP4_LEN(60), 0);

	/* The /24 itself moved to device 999. */
	cr_assert_eq(xoff_policy_key_make(&k, AF_INET, a, 24), 0);
	cr_assert_eq(xoff_policy_update(fx, &k, &pol), 0);
	tc_check("/24 on another device", &v4, OK, XOFF_R_OTHER, NONE, 0);
	tc_check("/24 on another device, .8", &v4b, OK, XOFF_R_OTHER, NONE, 0);
	tc_check("IPv6 selector untouched", &v6, OK, XOFF_R_POLICY_HW, SA_V6_PKT, 60, 0);
}

/* The queue is the SA's: changing it changes the next packet's queue_mapping (where
 * the probe can see it) and reason, and XOFF_QUEUE_NONE leaves the queue to the stack. */
Test(tc, queue_follows_the_sa, .init = tc_setup, .fini = tc_teardown)
{
	struct pkt_spec p = { V4, OUT4, ESP(0x601, 100) };
	struct xoff_sa v = fx_sas[SA_V4_OUT_Q].v;
	struct xoff_sa_key k;

	/* Said once per run here, and per test with --verbose. */
	if (txq_map < 0)
		cr_log_warn("skb->queue_mapping not observable here: TX queues not checked");
	fx_config(XOFF_UNKNOWN_PASS, 0, 0);
	fx_sa_key(SA_V4_OUT_Q, &k);
	v.queue = 7;
	cr_assert_eq(xoff_sa_update(fx, &k, &v), 0);
	tc_check("queue 7", &p, OK, XOFF_R_SA_QUEUED, SA_V4_OUT_Q, GCM_BYTES(100), QM(7));
	v.queue = 0;
	cr_assert_eq(xoff_sa_update(fx, &k, &v), 0);
	tc_check("queue 0", &p, OK, XOFF_R_SA_QUEUED, SA_V4_OUT_Q, GCM_BYTES(100), QM(0));
	v.queue = XOFF_QUEUE_NONE;
	cr_assert_eq(xoff_sa_update(fx, &k, &v), 0);
	tc_check("no queue", &p, OK, XOFF_R_SA_SW, SA_V4_OUT_Q, GCM_BYTES(100), 0);
}

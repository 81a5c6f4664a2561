/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Shared test fixture: a loaded xoff with a known set of SAs, and BPF_PROG_TEST_RUN. */
#ifndef XOFF_TESTS_FIXTURE_H
#define XOFF_TESTS_FIXTURE_H

#include <criterion/criterion.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <unistd.h>
#include "libxoff.h"
#include "pkt.h"

#define FX_LO		1	/* loopback: a real ifindex for ingress_ifindex and skb->dev */
#define FX_OTHER_DEV	999	/* an ifindex no packet arrives on */
#define FX_MAX_SAS	64

/* The SAs every test starts with. Payload sizes in tests are chosen so the expected
 * bytes follow from the documented definition: payload - iv - icv - 2. */
enum fx_sa {
	SA_V4_SW,	/* 192.0.2.1 0x100, AES-GCM-128 (iv 8, icv 16) */
	SA_V4_HW,	/* 192.0.2.1 0x101, crypto offload on lo */
	SA_V6_SW,	/* 2001:db8::1 0x200 */
	SA_V4_UDP,	/* 192.0.2.1 0x300, ESP-in-UDP */
	SA_V4_STEER0,	/* 192.0.2.1 0x400, steered to CPU 0 (enabled in the cpumap) */
	SA_V4_STEER1,	/* 192.0.2.1 0x401, steered to CPU 1 (not in the cpumap) */
	SA_V4_OUT,	/* 198.51.100.1 0x600, outbound */
	SA_V4_HW_OTHER,	/* 192.0.2.1 0x700, offloaded to another device */
	SA_V6_UDP,	/* 2001:db8::1 0x800, ESP-in-UDP */
	SA_V4_CBC,	/* 192.0.2.1 0x900, AES-CBC + HMAC-SHA256-128 (iv 16, icv 16) */
	SA_V4_OUT_Q,	/* 198.51.100.1 0x601, outbound, TX queue 3 */
	SA_V6_OUT_HW,	/* 2001:db8::9 0x602, outbound, crypto offload on lo */
	SA_V4_PKT,	/* 198.51.100.7 0x603, outbound packet offload on lo (tunnel) */
	SA_V6_PKT,	/* 2001:db8:7::1 0x604, outbound packet offload on lo (transport) */
	FX_NR_SAS
};

struct fx_sa_def {
	int family;
	const char *daddr;
	uint32_t spi;
	enum xoff_encap encap;
	struct xoff_sa v;
};

#define FX_GCM	.iv_len = 8, .icv_len = 16
#define FX_Q	.queue = XOFF_QUEUE_NONE

static const struct fx_sa_def fx_sas[FX_NR_SAS] = {
	[SA_V4_SW] = { AF_INET, "192.0.2.1", 0x100, XOFF_ENCAP_ESP,
		       { .slot = 1, FX_GCM, FX_Q } },
	[SA_V4_HW] = { AF_INET, "192.0.2.1", 0x101, XOFF_ENCAP_ESP,
		       { .slot = 2, FX_GCM, FX_Q, .path = XOFF_PATH_HW, .offload_ifindex = FX_LO,
			 .offload_mode = XOFF_OFFLOAD_CRYPTO, .action = XOFF_ACT_CPU } },
	[SA_V6_SW] = { AF_INET6, "2001:db8::1", 0x200, XOFF_ENCAP_ESP,
		       { .slot = 3, FX_GCM, FX_Q } },
	[SA_V4_UDP] = { AF_INET, "192.0.2.1", 0x300, XOFF_ENCAP_ESPINUDP,
			{ .slot = 4, FX_GCM, FX_Q } },
	[SA_V4_STEER0] = { AF_INET, "192.0.2.1", 0x400, XOFF_ENCAP_ESP,
			   { .slot = 5, FX_GCM, FX_Q, .action = XOFF_ACT_CPU, .cpu = 0 } },
	[SA_V4_STEER1] = { AF_INET, "192.0.2.1", 0x401, XOFF_ENCAP_ESP,
			   { .slot = 6, FX_GCM, FX_Q, .action = XOFF_ACT_CPU, .cpu = 1 } },
	[SA_V4_OUT] = { AF_INET, "198.51.100.1", 0x600, XOFF_ENCAP_ESP,
			{ .slot = 7, FX_GCM, FX_Q, .dir = XOFF_DIR_OUT } },
	[SA_V4_HW_OTHER] = { AF_INET, "192.0.2.1", 0x700, XOFF_ENCAP_ESP,
			     { .slot = 8, FX_GCM, FX_Q, .path = XOFF_PATH_HW,
			       .offload_ifindex = FX_OTHER_DEV,
			       .offload_mode = XOFF_OFFLOAD_CRYPTO } },
	[SA_V6_UDP] = { AF_INET6, "2001:db8::1", 0x800, XOFF_ENCAP_ESPINUDP,
			{ .slot = 9, FX_GCM, FX_Q } },
	[SA_V4_CBC] = { AF_INET, "192.0.2.1", 0x900, XOFF_ENCAP_ESP,
			{ .slot = 10, .iv_len = 16, .icv_len = 16, FX_Q } },
	[SA_V4_OUT_Q] = { AF_INET, "198.51.100.1", 0x601, XOFF_ENCAP_ESP,
			  { .slot = 11, FX_GCM, .queue = 3, .dir = XOFF_DIR_OUT } },
	[SA_V6_OUT_HW] = { AF_INET6, "2001:db8::9", 0x602, XOFF_ENCAP_ESP,
			   { .slot = 12, FX_GCM, FX_Q, .dir = XOFF_DIR_OUT, .path = XOFF_PATH_HW,
			     .offload_ifindex = FX_LO, .offload_mode = XOFF_OFFLOAD_CRYPTO } },
	[SA_V4_PKT] = { AF_INET, "198.51.100.7", 0x603, XOFF_ENCAP_ESP,
			{ .slot = 13, FX_GCM, FX_Q, .dir = XOFF_DIR_OUT, .path = XOFF_PATH_HW,
			  .offload_ifindex = FX_LO, .offload_mode = XOFF_OFFLOAD_PACKET,
			  .mode = XOFF_MODE_TUNNEL } },
	[SA_V6_PKT] = { AF_INET6, "2001:db8:7::1", 0x604, XOFF_ENCAP_ESP,
			{ .slot = 14, FX_GCM, FX_Q, .dir = XOFF_DIR_OUT, .path = XOFF_PATH_HW,
			  .offload_ifindex = FX_LO, .offload_mode = XOFF_OFFLOAD_PACKET,
			  .mode = XOFF_MODE_TRANSPORT } },
};

static struct xoff *fx;
/* The CPU the test runs on (fx_pin): an SA steered there is passed, not redirected. */
static int fx_cpu;

static inline void fx_need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("SKIP: needs root (BPF_PROG_TEST_RUN, map creation)");
}

static inline void fx_sa_key(enum fx_sa i, struct xoff_sa_key *k)
{
	uint8_t addr[16];

	cr_assert_eq(inet_pton(fx_sas[i].family, fx_sas[i].daddr, addr), 1);
	cr_assert_eq(xoff_sa_key_make(k, fx_sas[i].family, addr, htonl(fx_sas[i].spi),
				      fx_sas[i].encap), 0);
}

/* Packet-offload selectors: 198.51.100.0/24 -> SA_V4_PKT, 2001:db8:7::/48 -> SA_V6_PKT. */
static inline void fx_policy(int family, const char *addr, unsigned int plen, enum fx_sa sa)
{
	struct xoff_policy_key k;
	struct xoff_policy v = { .slot = fx_sas[sa].v.slot, .ifindex = fx_sas[sa].v.offload_ifindex,
				 .mode = fx_sas[sa].v.mode };
	uint8_t a[16];

	cr_assert_eq(inet_pton(family, addr, a), 1);
	cr_assert_eq(xoff_policy_key_make(&k, family, a, plen), 0);
	cr_assert_eq(xoff_policy_update(fx, &k, &v), 0);
}

/* libbpf's warnings, less the one about libxdp's run-config section it does not know. */
static int fx_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || strstr(fmt, "skipping unrecognized data section"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* An empty, loaded xoff in fx with @max_sas slots. */
static inline void fx_open(__u32 max_sas)
{
	struct xoff_opts o = { .max_sas = max_sas };
	int err;

	fx_need_root();
	libbpf_set_print(fx_libbpf_print);
	err = xoff_open(&fx, &o);
	cr_assert_eq(err, 0, "xoff_open: %s", strerror(-err));
	err = xoff_load(fx);
	cr_assert_eq(err, 0, "xoff_load: %s", strerror(-err));
}

/* Runs the test on @cpu from now on. */
static inline void fx_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	cr_assert_eq(sched_setaffinity(0, sizeof(set), &set), 0, "pin to CPU %d: %s", cpu,
		     strerror(errno));
	fx_cpu = cpu;
}

static inline void fx_setup(void)
{
	struct xoff_sa_key k;
	int i, err;

	fx_open(FX_MAX_SAS);
	for (i = 0; i < FX_NR_SAS; i++) {
		fx_sa_key(i, &k);
		err = xoff_sa_update(fx, &k, &fx_sas[i].v);
		cr_assert_eq(err, 0, "SA %d: %s", i, strerror(-err));
	}
	cr_assert_eq(xoff_cpu_enable(fx, 0, 0), 0);
	/* On the last CPU: SAs steered to CPU 0 are redirected (on one CPU, passed). */
	fx_pin(xoff_nr_cpus() - 1);
	fx_policy(AF_INET, "198.51.100.0", 24, SA_V4_PKT);
	fx_policy(AF_INET6, "2001:db8:7::", 48, SA_V6_PKT);
}

static inline void fx_teardown(void)
{
	xoff_close(fx);
	fx = NULL;
}

static inline void fx_config(uint8_t unknown_spi, uint8_t steer, uint8_t policies)
{
	struct xoff_ifconfig c = { .ifindex = FX_LO, .unknown_spi = unknown_spi, .steer = steer,
				   .policies = policies };

	cr_assert_eq(xoff_config_set(fx, &c), 0);
}

static inline int fx_run_xdp(const void *pkt, uint32_t len, uint32_t *retval)
{
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = FX_LO };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
	int err = bpf_prog_test_run_opts(bpf_program__fd(xoff_xdp_prog(fx)), &o);

	*retval = o.retval;
	return err ? -errno : 0;
}

static inline int fx_run_tc(const void *pkt, uint32_t len, uint32_t *retval,
			    struct __sk_buff *skb_out)
{
	struct __sk_buff ctx = { .queue_mapping = 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .ctx_out = skb_out, .ctx_size_out = sizeof(*skb_out), .repeat = 1);
	int err = bpf_prog_test_run_opts(bpf_program__fd(xoff_tc_prog(fx)), &o);

	*retval = o.retval;
	return err ? -errno : 0;
}

static inline int fx_run_tci(const void *pkt, uint32_t len, uint32_t *retval)
{
	struct __sk_buff ctx = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);
	int err = bpf_prog_test_run_opts(bpf_program__fd(xoff_tci_prog(fx)), &o);

	*retval = o.retval;
	return err ? -errno : 0;
}

/* Both counts of every fixture SA (fast path, authenticated), summed over CPUs. */
struct fx_snapshot {
	struct xoff_counters sa[FX_NR_SAS];
	struct xoff_counters auth[FX_NR_SAS];
	__u64 reasons[XOFF_R_MAX];
};

static inline void fx_snap(enum xoff_prog_kind kind, struct fx_snapshot *s)
{
	int i;

	for (i = 0; i < FX_NR_SAS; i++) {
		cr_assert_eq(xoff_counters_read(fx, fx_sas[i].v.slot, &s->sa[i], NULL), 0);
		cr_assert_eq(xoff_counts_read(fx, XOFF_COUNT_AUTH, fx_sas[i].v.slot, &s->auth[i],
					      NULL), 0);
	}
	cr_assert_eq(xoff_reasons_read(fx, kind, s->reasons), 0);
}

/* One count's deltas: SA @sa (or none) moved by @packets and @bytes, no other SA. */
static inline void fx_assert_counts(const char *name, const char *what,
				    const struct xoff_counters *a, const struct xoff_counters *b,
				    int sa, __u64 packets, __u64 bytes)
{
	int i;

	for (i = 0; i < FX_NR_SAS; i++) {
		cr_expect_eq(b[i].packets - a[i].packets, i == sa ? packets : 0u,
			     "%s: SA %d %s packets %llu", name, i, what,
			     (unsigned long long)(b[i].packets - a[i].packets));
		cr_expect_eq(b[i].bytes - a[i].bytes, i == sa ? bytes : 0u,
			     "%s: SA %d %s bytes %llu, expected %llu", name, i, what,
			     (unsigned long long)(b[i].bytes - a[i].bytes),
			     (unsigned long long)(i == sa ? bytes : 0));
		if (i == sa)
			cr_expect_neq(b[i].last_seen, 0, "%s: %s last seen", name, what);
	}
}

/* Exactly one reason moved, by one; exactly one SA (or none) moved by @packets and
 * @bytes, in its authenticated counts for @reason XOFF_R_POLICY_HW (egress plaintext to
 * a packet-offload SA) or XOFF_R_AUTH (TC ingress), else in its fast-path counts. */
static inline void fx_assert_delta_n(const char *name, const struct fx_snapshot *a,
				     const struct fx_snapshot *b, int reason, int sa,
				     __u64 packets, __u64 bytes)
{
	bool auth = reason == XOFF_R_POLICY_HW || reason == XOFF_R_AUTH;
	int i;

	for (i = 0; i < XOFF_R_MAX; i++)
		cr_expect_eq(b->reasons[i] - a->reasons[i], i == reason ? 1u : 0u,
			     "%s: reason %s moved by %llu", name, xoff_reason_name(i),
			     (unsigned long long)(b->reasons[i] - a->reasons[i]));
	fx_assert_counts(name, "fast-path", a->sa, b->sa, auth ? -1 : sa, packets, bytes);
	fx_assert_counts(name, "authenticated", a->auth, b->auth, auth ? sa : -1, packets, bytes);
}

static inline void fx_assert_delta(const char *name, const struct fx_snapshot *a,
				   const struct fx_snapshot *b, int reason, int sa, __u64 bytes)
{
	fx_assert_delta_n(name, a, b, reason, sa, 1, bytes);
}

#endif /* XOFF_TESTS_FIXTURE_H */

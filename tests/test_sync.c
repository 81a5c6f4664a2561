// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The reconciler against a scripted XFRM event feed, checked in the real BPF maps. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include "bpffs.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>
#include "libxoff.h"
#include "mirror.h"
#include "xmsg.h"

#define MAX_SAS		64
#define T0		1700000000ULL	/* add_time of the first SA */
#define GCM		.aead = "rfc4106(gcm(aes))", .icv_bits = 128	/* iv 8, icv 16 */
#define CBC		.enc = "cbc(aes)", .auth = "hmac(sha256)", .trunc_bits = 128 /* 16, 16 */
#define PKT_DEV		5	/* offload device of the packet-offload SAs and policies */
#define CRYPTO_DEV	7	/* offload device of the crypto-offload SAs */

static struct xoff *x, *x2;
static struct xsync *s, *s2;
static struct xsync_cfg cfg;
static __u16 cpus[2];
static char buf[XMSG_BUF] __attribute__((aligned(8)));	/* as a receive buffer */
static int nwarn;
static char last_log[512];

/* ---- Environment ---- */

/* libbpf's warnings only, less the one about libxdp's section it does not know. */
static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN || strstr(fmt, "skipping unrecognized data section"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void sync_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	if (level <= XSYNC_WARN)
		nwarn++;
	snprintf(last_log, sizeof(last_log), "%s", msg);
}

/* Local addresses for direction derivation: 192.0.2.0/24 and 2001:db8:1::/48. */
static int test_is_local(void *ctx, int family, const void *addr)
{
	static const __u8 p6[6] = { 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01 };
	const __u8 *a = addr;

	(void)ctx;
	if (family == AF_INET)
		return a[0] == 192 && a[1] == 0 && a[2] == 2;
	return family == AF_INET6 && !memcmp(a, p6, sizeof(p6));
}

static void open_xoff(struct xoff **out, __u32 max_sas, const char *pin_dir)
{
	struct xoff_opts o = { .max_sas = max_sas, .pin_dir = pin_dir };
	int err;

	err = xoff_open(out, &o);
	cr_assert_eq(err, 0, "xoff_open: %s", strerror(-err));
	err = xoff_load(*out);
	cr_assert_eq(err, 0, "xoff_load: %s", strerror(-err));
}

static void new_sync(struct xsync **out, struct xoff *xx)
{
	int err = xsync_new(out, xx, &cfg);

	cr_assert_eq(err, 0, "xsync_new: %s", strerror(-err));
}

/* Steering targets {0, 1}, or {0} where there is one CPU; their number. */
static unsigned int cpus01(void)
{
	cpus[0] = 0;
	cpus[1] = 1;
	cfg.cpus = cpus;
	cfg.ncpus = xoff_nr_cpus() >= 2 ? 2 : 1;
	return cfg.ncpus;
}

static void env_init(void)
{
	if (geteuid() != 0)
		cr_skip_test("SKIP: needs root (BPF maps)");
	libbpf_set_print(quiet_print);
	memset(&cfg, 0, sizeof(cfg));	/* kops NULL: no requests to the kernel */
	cfg.is_local = test_is_local;
	cfg.log = sync_log;
	nwarn = 0;
}

/* A mirror sweep that writes nothing (no requests to the kernel): it finishes the
 * quarantine as the daemon's would. */
static int sweep(__u64 now)
{
	struct xmirror_cfg mc = { .mode = XMIRROR_AUTO };
	struct xmirror *m;
	int err = xmirror_new(&m, s, &mc);

	if (!err)
		err = xmirror_sweep(m, now, now * 1000);
	xmirror_free(m);
	return err;
}

static void start(__u32 max_sas)
{
	env_init();
	open_xoff(&x, max_sas, NULL);
	new_sync(&s, x);
}

static void setup(void)
{
	start(MAX_SAS);
}

static void setup4(void)
{
	start(4);
}

static void setup_cpus(void)
{
	env_init();
	cpus01();
	open_xoff(&x, MAX_SAS, NULL);
	new_sync(&s, x);
}

static void teardown(void)
{
	xsync_free(s);
	xsync_free(s2);
	s = s2 = NULL;
	xoff_close(x);
	xoff_close(x2);
	x = x2 = NULL;
}

/* ---- Events ---- */

static void feed_to(struct xsync *ss, const struct nlmsghdr *nlh)
{
	int err = xsync_msg(ss, nlh);

	cr_assert_eq(err, 0, "xsync_msg type %u: %s (%s)", nlh->nlmsg_type, strerror(-err),
		     last_log);
}

static void feed(const struct nlmsghdr *nlh)
{
	feed_to(s, nlh);
}

static void sa_add(const struct xmsg_sa *o)
{
	feed(xmsg_newsa(buf, XFRM_MSG_NEWSA, o));
}

static void sa_upd(const struct xmsg_sa *o)
{
	feed(xmsg_newsa(buf, XFRM_MSG_UPDSA, o));
}

static void sa_del(const struct xmsg_sa *o)
{
	feed(xmsg_delsa(buf, o));
}

static void pol_add(const struct xmsg_pol *p)
{
	feed(xmsg_newpolicy(buf, p));
}

static void pol_del(const struct xmsg_pol *p)
{
	feed(xmsg_delpolicy(buf, p));
}

/* Inbound software SA @n: to the local 192.0.2.1, AES-GCM, tunnel mode. */
static struct xmsg_sa sa_in(unsigned int n)
{
	return (struct xmsg_sa){ .dst = "192.0.2.1", .src = "198.51.100.1", .spi = 0x1000 + n,
				 .mode = XFRM_MODE_TUNNEL, .reqid = 1, GCM, .add_time = T0 + n };
}

/* Outbound software SA @n: to the remote 198.51.100.1. */
static struct xmsg_sa sa_out(unsigned int n)
{
	return (struct xmsg_sa){ .dst = "198.51.100.1", .src = "192.0.2.1", .spi = 0x2000 + n,
				 .mode = XFRM_MODE_TUNNEL, .reqid = 2, GCM, .add_time = T0 + n };
}

/* Outbound packet-offload SA @n on PKT_DEV, to 203.0.113.@n, reqid 10 + n. */
static struct xmsg_sa sa_pkt(unsigned int n, char *dst, size_t len)
{
	snprintf(dst, len, "203.0.113.%u", n);
	return (struct xmsg_sa){ .dst = dst, .src = "192.0.2.1", .spi = 0x3000 + n,
				 .mode = XFRM_MODE_TUNNEL, .reqid = 10 + n, GCM,
				 .offload_ifindex = PKT_DEV, .offload_flags = XFRM_OFFLOAD_PACKET,
				 .add_time = T0 + n };
}

/* Outbound packet-offload policy @n for 198.51.@n.0/24 leading to sa_pkt(n). */
static struct xmsg_pol pol_pkt(unsigned int n, char *sel, size_t slen, const char *tdst)
{
	snprintf(sel, slen, "198.51.%u.0", n);
	return (struct xmsg_pol){ .sel_dst = sel, .prefix_d = 24, .sel_src = "192.0.2.0",
				  .prefix_s = 24, .dir = XFRM_POLICY_OUT, .index = 8 * n + 1,
				  .priority = 100, .offload_ifindex = PKT_DEV,
				  .offload_flags = XFRM_OFFLOAD_PACKET, .ntmpl = 1,
				  .tmpl = { { .dst = tdst, .src = "192.0.2.1", .reqid = 10 + n,
					      .mode = XFRM_MODE_TUNNEL } } };
}

/* ---- Maps, read directly ---- */

static int family_of(const struct xmsg_sa *o)
{
	return o->family ? o->family : AF_INET;
}

static void key_of(const struct xmsg_sa *o, struct xoff_sa_key *k)
{
	__u8 a[16];

	cr_assert_eq(inet_pton(family_of(o), o->dst, a), 1, "address %s", o->dst);
	cr_assert_eq(xoff_sa_key_make(k, family_of(o), a, htonl(o->spi),
				      o->encap == UDP_ENCAP_ESPINUDP ? XOFF_ENCAP_ESPINUDP :
								       XOFF_ENCAP_ESP), 0);
}

static int sa_lookup(struct xoff *xx, const struct xmsg_sa *o, struct xoff_sa *v)
{
	struct xoff_sa_key k;

	key_of(o, &k);
	return bpf_map_lookup_elem(xoff_map_fd(xx, XOFF_MAP_SAS), &k, v) ? -errno : 0;
}

/* The SA's entry in xoff_sas, which must be there. */
static struct xoff_sa sa_map(const struct xmsg_sa *o)
{
	struct xoff_sa v;
	int err = sa_lookup(x, o, &v);

	cr_assert_eq(err, 0, "%s spi 0x%x not in xoff_sas: %s", o->dst, o->spi, strerror(-err));
	cr_assert_lt(v.slot, xoff_max_sas(x), "slot %u beyond max_sas", v.slot);
	return v;
}

/* The SA's entry is still @want, byte for byte. */
static void expect_entry(const struct xmsg_sa *o, const struct xoff_sa *want, const char *what)
{
	struct xoff_sa v = sa_map(o);

	cr_expect_arr_eq(&v, want, sizeof(v), "spi 0x%x: %s (slot %u -> %u, cpu %u -> %u)", o->spi,
			 what, want->slot, v.slot, want->cpu, v.cpu);
}

static void sa_absent(const struct xmsg_sa *o)
{
	struct xoff_sa v;
	int err = sa_lookup(x, o, &v);

	cr_assert_eq(err, -ENOENT, "%s spi 0x%x in xoff_sas (slot %u): %s", o->dst, o->spi,
		     v.slot, strerror(-err));
}

static unsigned int map_count(int fd)
{
	__u8 k[64], next[64];
	void *prev = NULL;
	unsigned int n = 0;

	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(k, next, sizeof(k));
		prev = k;
		n++;
	}
	return n;
}

static unsigned int sa_count(void)
{
	return map_count(xoff_map_fd(x, XOFF_MAP_SAS));
}

struct sa_ent {
	struct xoff_sa_key k;
	struct xoff_sa v;
};

static int sa_ent_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct xoff_sa_key));
}

/* Every entry of xoff_sas, sorted by key. */
static unsigned int sa_dump(struct xoff *xx, struct sa_ent *out, unsigned int max)
{
	int fd = xoff_map_fd(xx, XOFF_MAP_SAS);
	struct xoff_sa_key *prev = NULL;
	unsigned int n = 0;

	while (n < max && !bpf_map_get_next_key(fd, prev, &out[n].k)) {
		cr_assert_eq(bpf_map_lookup_elem(fd, &out[n].k, &out[n].v), 0);
		prev = &out[n++].k;
	}
	cr_assert_lt(n, max, "xoff_sas holds more than %u entries", max - 1);
	qsort(out, n, sizeof(*out), sa_ent_cmp);
	return n;
}

/* The entry of @o in a dump. */
static const struct sa_ent *sa_find(const struct sa_ent *d, unsigned int n,
				    const struct xmsg_sa *o)
{
	struct xoff_sa_key k;
	unsigned int i;

	key_of(o, &k);
	for (i = 0; i < n; i++)
		if (!memcmp(&d[i].k, &k, sizeof(k)))
			return &d[i];
	return NULL;
}

/* xoff_sas holds exactly the entries of @o[0..n) that @before holds, unchanged. */
static void expect_exactly(const struct sa_ent *before, unsigned int nbefore,
			   const struct xmsg_sa *o, unsigned int n)
{
	struct sa_ent now[MAX_SAS + 1], want[MAX_SAS + 1];
	unsigned int nnow = sa_dump(x, now, MAX_SAS + 1), i;

	for (i = 0; i < n; i++) {
		const struct sa_ent *e = sa_find(before, nbefore, &o[i]);

		cr_assert_not_null(e, "spi 0x%x was not in the map before", o[i].spi);
		want[i] = *e;
	}
	qsort(want, n, sizeof(*want), sa_ent_cmp);
	cr_assert_eq(nnow, n, "xoff_sas holds %u entries, expected %u", nnow, n);
	for (i = 0; i < n; i++) {
		cr_expect_arr_eq(&now[i].k, &want[i].k, sizeof(want[i].k), "key %u differs", i);
		cr_expect_arr_eq(&now[i].v, &want[i].v, sizeof(want[i].v),
				 "spi 0x%x: value changed (slot %u -> %u, cpu %u -> %u)",
				 ntohl(want[i].k.spi), want[i].v.slot, now[i].v.slot,
				 want[i].v.cpu, now[i].v.cpu);
	}
}

struct lpm_ent {
	struct xoff_policy_key k;
	struct xoff_policy v;
};

static int lpm_ent_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct xoff_policy_key));
}

static unsigned int lpm_dump(struct xoff *xx, struct lpm_ent *out, unsigned int max)
{
	int fd = xoff_map_fd(xx, XOFF_MAP_POLICIES);
	struct xoff_policy_key *prev = NULL;
	unsigned int n = 0;

	while (n < max && !bpf_map_get_next_key(fd, prev, &out[n].k)) {
		cr_assert_eq(bpf_map_lookup_elem(fd, &out[n].k, &out[n].v), 0);
		prev = &out[n++].k;
	}
	cr_assert_lt(n, max, "xoff_policies holds more than %u entries", max - 1);
	qsort(out, n, sizeof(*out), lpm_ent_cmp);
	return n;
}

static void lpm_key(struct xoff_policy_key *k, int family, const char *addr, unsigned int plen)
{
	__u8 a[16];

	cr_assert_eq(inet_pton(family, addr, a), 1);
	cr_assert_eq(xoff_policy_key_make(k, family, a, plen), 0);
}

/* xoff_policies holds exactly one entry: @addr/@plen leading to @slot. */
static void expect_one_selector(int family, const char *addr, unsigned int plen, __u32 slot,
				__u32 ifindex, __u8 mode)
{
	struct lpm_ent d[8];
	struct xoff_policy_key k;
	unsigned int n = lpm_dump(x, d, 8);

	lpm_key(&k, family, addr, plen);
	cr_assert_eq(n, 1, "%u selectors, expected one (%s/%u)", n, addr, plen);
	cr_expect_arr_eq(&d[0].k, &k, sizeof(k), "selector key is not %s/%u", addr, plen);
	cr_expect_eq(d[0].v.slot, slot, "selector leads to slot %u, the SA has %u", d[0].v.slot,
		     slot);
	cr_expect_eq(d[0].v.ifindex, ifindex);
	cr_expect_eq(d[0].v.mode, mode);
	cr_expect_eq(d[0].v.pad[0] | d[0].v.pad[1] | d[0].v.pad[2], 0);
}

static struct xoff_mirror mirror_get(struct xoff *xx, __u32 slot)
{
	struct xoff_mirror m;

	cr_assert_eq(bpf_map_lookup_elem(xoff_map_fd(xx, XOFF_MAP_MIRROR), &slot, &m), 0);
	return m;
}

static void expect_mirror_zero(struct xoff *xx, __u32 slot)
{
	struct xoff_mirror m = mirror_get(xx, slot), z;

	memset(&z, 0, sizeof(z));
	cr_expect_arr_eq(&m, &z, sizeof(z), "mirror state of slot %u not zero (flags 0x%x)", slot,
			 m.flags);
}

/* Fast-path traffic in a slot, as if the programs had counted it on CPU 0. */
static void counters_set(struct xoff *xx, __u32 slot, __u64 packets)
{
	int n = xoff_nr_cpus();
	struct xoff_counters c[n];

	memset(c, 0, sizeof(c));
	c[0].packets = packets;
	c[0].bytes = packets * 100;
	cr_assert_eq(bpf_map_update_elem(xoff_map_fd(xx, XOFF_MAP_COUNTERS), &slot, c, BPF_ANY),
		     0, "counters of slot %u: %s", slot, strerror(errno));
}

static __u64 counters_packets(struct xoff *xx, __u32 slot)
{
	struct xoff_counters sum;

	cr_assert_eq(xoff_counters_read(xx, slot, &sum, NULL), 0);
	return sum.packets;
}

/* ---- The reconciler's view ---- */

static int view_in(struct xsync *ss, const struct xmsg_sa *o, struct xsync_sa_view *v)
{
	struct xfrm_sa id;

	memset(&id, 0, sizeof(id));
	id.family = family_of(o);
	id.proto = o->proto ? o->proto : IPPROTO_ESP;
	id.spi = htonl(o->spi);
	cr_assert_eq(inet_pton(id.family, o->dst, &id.daddr), 1);
	if (o->mark) {
		id.mark.v = o->mark_v;
		id.mark.m = o->mark_m;
	}
	return xsync_sa_get(ss, &id, v);
}

static struct xsync_sa_view view(const struct xmsg_sa *o)
{
	struct xsync_sa_view v;
	int err = view_in(s, o, &v);

	cr_assert_eq(err, 0, "spi 0x%x not in the shadow SAD: %s", o->spi, strerror(-err));
	return v;
}

static void view_gone(const struct xmsg_sa *o)
{
	struct xsync_sa_view v;

	cr_assert_eq(view_in(s, o, &v), -ENOENT, "spi 0x%x still in the shadow SAD", o->spi);
}

/* Out of the fast path for @why: in the shadow, not mapped, not in xoff_sas. */
/* The kernel's SA is not served: its key's entry passes its ESP uncounted (so that
 * unknown-spi drop never drops it), with no slot. */
static void expect_unmapped(const struct xmsg_sa *o, enum xsync_why why)
{
	struct xsync_sa_view v = view(o);
	struct xoff_sa e;
	int err;

	cr_expect_eq(v.why, why, "spi 0x%x: why %d (%s), expected %d (%s)", o->spi, v.why,
		     xsync_why_str(v.why), why, xsync_why_str(why));
	cr_expect_not(v.mapped, "spi 0x%x: view says mapped", o->spi);
	if (why == XSYNC_WHY_NOT_ESP || why == XSYNC_WHY_ENCAP) {
		/* Never ESP to the fast path: nothing to keep from a drop. */
		cr_expect_not(v.unserved, "spi 0x%x: an entry for what is not ESP", o->spi);
		sa_absent(o);
		return;
	}
	cr_expect(v.unserved, "spi 0x%x: view says not in the map", o->spi);
	err = sa_lookup(x, o, &e);
	cr_assert_eq(err, 0, "spi 0x%x: no entry (unknown-spi drop would drop it): %s", o->spi,
		     strerror(-err));
	cr_expect_eq(e.flags, XOFF_SA_UNSERVED, "spi 0x%x: flags 0x%x", o->spi, e.flags);
	cr_expect_eq(e.slot, XOFF_SLOT_NONE, "spi 0x%x: slot %u", o->spi, e.slot);
}

static struct xsync_stats stats(void)
{
	struct xsync_stats st;

	xsync_get_stats(s, &st);
	return st;
}

/* ---- Writes to the maps, seen by interposing libbpf's calls ---- */

/*
 * libxoff.a binds to these definitions at link time and they pass every call on to
 * libbpf.so; while a test watches, writes to the watched maps are recorded, so "no map
 * churn" can be asserted and not only inferred from equal contents.
 */
#define WATCH_MAX	256

struct write_rec {
	int	fd;
	bool	del;
	__u8	key[24];
};

static struct {
	bool	on;
	int	fd[2];
	size_t	ksz[2];
	unsigned int n, lost;
	struct write_rec w[WATCH_MAX];
} watch;

static void watch_note(int fd, const void *key, bool del)
{
	unsigned int i;

	if (!watch.on)
		return;
	for (i = 0; i < 2; i++)
		if (watch.fd[i] == fd)
			break;
	if (i == 2)
		return;
	if (watch.n == WATCH_MAX) {
		watch.lost++;
		return;
	}
	watch.w[watch.n].fd = fd;
	watch.w[watch.n].del = del;
	memset(watch.w[watch.n].key, 0, sizeof(watch.w[watch.n].key));
	memcpy(watch.w[watch.n++].key, key, watch.ksz[i]);
}

static void watch_start(struct xoff *xx)
{
	memset(&watch, 0, sizeof(watch));
	watch.fd[0] = xoff_map_fd(xx, XOFF_MAP_SAS);
	watch.fd[1] = xoff_map_fd(xx, XOFF_MAP_POLICIES);
	watch.ksz[0] = sizeof(struct xoff_sa_key);
	watch.ksz[1] = sizeof(struct xoff_policy_key);
	watch.on = true;
}

/* Writes recorded to map @i (0 SAs, 1 policies) of @key (NULL: any); the mirror records
 * are mmapped, written without a syscall. */
static unsigned int watched(unsigned int i, const void *key, bool del)
{
	unsigned int j, n = 0;

	cr_assert_eq(watch.lost, 0);
	for (j = 0; j < watch.n; j++)
		n += watch.w[j].fd == watch.fd[i] && watch.w[j].del == del &&
		     (!key || !memcmp(watch.w[j].key, key, watch.ksz[i]));
	return n;
}

typedef int (*update_fn)(int, const void *, const void *, __u64);
typedef int (*delete_fn)(int, const void *);
typedef int (*batch_fn)(int, const void *, const void *, __u32 *,
			const struct bpf_map_batch_opts *);

int bpf_map_update_elem(int fd, const void *key, const void *value, __u64 flags)
{
	static update_fn real;
	int ret;

	if (!real)
		real = (update_fn)dlsym(RTLD_NEXT, "bpf_map_update_elem");
	ret = real(fd, key, value, flags);
	if (!ret)
		watch_note(fd, key, false);
	return ret;
}

int bpf_map_delete_elem(int fd, const void *key)
{
	static delete_fn real;
	int ret;

	if (!real)
		real = (delete_fn)dlsym(RTLD_NEXT, "bpf_map_delete_elem");
	ret = real(fd, key);
	if (!ret)
		watch_note(fd, key, true);
	return ret;
}

int bpf_map_update_batch(int fd, const void *keys, const void *values, __u32 *count,
			 const struct bpf_map_batch_opts *opts)
{
	static batch_fn real;
	__u32 i, ksz = sizeof(struct xoff_sa_key);
	int ret;

	if (!real)
		real = (batch_fn)dlsym(RTLD_NEXT, "bpf_map_update_batch");
	ret = real(fd, keys, values, count, opts);
	/* Only xoff_sas is written in batches (24-byte keys). */
	for (i = 0; !ret && i < *count; i++)
		watch_note(fd, (const __u8 *)keys + i * ksz, false);
	return ret;
}

/* ---- Adds ---- */

Test(sync, add_v4_software_inbound, .init = setup, .fini = teardown)
{
	struct xmsg_sa a = sa_in(1);
	struct xoff_sa_key k;
	struct xoff_sa v;
	struct xsync_sa_view sv;
	struct xoff_mirror m;
	struct sa_ent d[4];

	sa_add(&a);
	cr_assert_eq(sa_dump(x, d, 4), 1, "one SA, one entry");
	key_of(&a, &k);
	cr_expect_eq(d[0].k.family, AF_INET);
	cr_expect_eq(d[0].k.encap, XOFF_ENCAP_ESP);
	cr_expect_eq(d[0].k.spi, htonl(0x1001));
	cr_expect_eq(d[0].k.daddr4, inet_addr("192.0.2.1"));
	cr_expect_arr_eq(&d[0].k, &k, sizeof(k), "key bytes (pads, rest of the address)");

	v = d[0].v;
	cr_expect_lt(v.slot, MAX_SAS);
	cr_expect_eq(v.path, XOFF_PATH_SW);
	cr_expect_eq(v.offload_mode, XOFF_OFFLOAD_NONE);
	cr_expect_eq(v.offload_ifindex, 0);
	cr_expect_eq(v.dir, XOFF_DIR_IN, "192.0.2.1 is local: inbound");
	cr_expect_eq(v.action, XOFF_ACT_CPU, "inbound software SAs are steered");
	cr_expect_lt(v.cpu, xoff_nr_cpus());
	cr_expect_eq(v.queue, XOFF_QUEUE_NONE);
	cr_expect_eq(v.mode, XOFF_MODE_TUNNEL);
	cr_expect_eq(v.iv_len, 8);
	cr_expect_eq(v.icv_len, 16);
	cr_expect_eq(v.flags, 0);

	sv = view(&a);
	cr_expect(sv.mapped);
	cr_expect_eq(sv.why, XSYNC_WHY_SW);
	cr_expect_not(sv.unserved);
	cr_expect(sv.auth, "an inbound SA's authenticated counts are kept");
	cr_expect_arr_eq(&sv.key, &k, sizeof(k));
	cr_expect_arr_eq(&sv.val, &v, sizeof(v), "view and map disagree");
	cr_expect_eq(sv.x.dir_source, XFRM_DIR_FROM_LOCAL);

	/* The slot is claimed in the pinned mirror state, by this instance of the SA. */
	m = mirror_get(x, v.slot);
	cr_expect_eq(m.flags, XOFF_MIRROR_USED);
	cr_expect_eq(m.add_time, T0 + 1);
	cr_expect_eq(stats().sas, 1);
	cr_expect_eq(stats().sas_mapped, 1);
	cr_expect_eq(stats().map_errors, 0);
}

Test(sync, add_v6_crypto_offload_outbound, .init = setup, .fini = teardown)
{
	struct xmsg_sa a = { .family = AF_INET6, .dst = "2001:db8:2::9", .src = "2001:db8:1::1",
			     .spi = 0xabcdef01, .mode = XFRM_MODE_TRANSPORT, CBC,
			     .offload_ifindex = CRYPTO_DEV };
	struct xoff_sa_key k;
	struct sa_ent d[4];
	__u8 addr[16];
	struct xoff_sa v;

	sa_add(&a);
	cr_assert_eq(sa_dump(x, d, 4), 1);
	cr_assert_eq(inet_pton(AF_INET6, "2001:db8:2::9", addr), 1);
	cr_expect_eq(d[0].k.family, AF_INET6);
	cr_expect_eq(d[0].k.encap, XOFF_ENCAP_ESP);
	cr_expect_eq(d[0].k.spi, htonl(0xabcdef01));
	cr_expect_arr_eq(d[0].k.daddr, addr, 16);
	key_of(&a, &k);
	cr_expect_arr_eq(&d[0].k, &k, sizeof(k));

	v = d[0].v;
	cr_expect_eq(v.path, XOFF_PATH_HW);
	cr_expect_eq(v.offload_mode, XOFF_OFFLOAD_CRYPTO);
	cr_expect_eq(v.offload_ifindex, CRYPTO_DEV);
	cr_expect_eq(v.dir, XOFF_DIR_OUT, "offload without the INBOUND flag: outbound");
	cr_expect_eq(v.action, XOFF_ACT_PASS);
	cr_expect_eq(v.cpu, 0);
	cr_expect_eq(v.mode, XOFF_MODE_TRANSPORT);
	cr_expect_eq(v.iv_len, 16);
	cr_expect_eq(v.icv_len, 16);
	cr_expect_eq(view(&a).why, XSYNC_WHY_HW_CRYPTO);
	cr_expect_eq(view(&a).x.dir_source, XFRM_DIR_FROM_OFFLOAD);
}

Test(sync, add_packet_offload_inbound, .init = setup, .fini = teardown)
{
	struct xmsg_sa a = { .dst = "192.0.2.7", .spi = 0x77, .mode = XFRM_MODE_TUNNEL, GCM,
			     .offload_ifindex = PKT_DEV,
			     .offload_flags = XFRM_OFFLOAD_PACKET | XFRM_OFFLOAD_INBOUND };
	struct xoff_sa v;

	sa_add(&a);
	v = sa_map(&a);
	cr_expect_eq(v.path, XOFF_PATH_HW);
	cr_expect_eq(v.offload_mode, XOFF_OFFLOAD_PACKET);
	cr_expect_eq(v.offload_ifindex, PKT_DEV);
	cr_expect_eq(v.dir, XOFF_DIR_IN);
	cr_expect_eq(v.action, XOFF_ACT_PASS, "offloaded SAs are never steered");
	cr_expect_eq(view(&a).why, XSYNC_WHY_HW_PACKET);
	cr_expect_eq(sa_count(), 1);
	cr_expect_eq(map_count(xoff_map_fd(x, XOFF_MAP_POLICIES)), 0, "inbound: no selector");
}

Test(sync, espinudp_key, .init = setup, .fini = teardown)
{
	struct xmsg_sa a4 = sa_in(1), a6 = sa_in(2);
	struct xmsg_sa plain = sa_in(1);
	struct xoff_sa_key k;
	struct sa_ent d[4];
	unsigned int n;

	a4.encap = UDP_ENCAP_ESPINUDP;
	a4.sport = a4.dport = 4500;
	a6.family = AF_INET6;
	a6.dst = "2001:db8:1::1";
	a6.src = "2001:db8:5::1";
	a6.encap = UDP_ENCAP_ESPINUDP;
	a6.sport = 4500;
	a6.dport = 4501;
	sa_add(&a4);
	sa_add(&a6);
	n = sa_dump(x, d, 4);
	cr_assert_eq(n, 2);
	key_of(&a4, &k);
	cr_expect_eq(k.encap, XOFF_ENCAP_ESPINUDP);
	cr_expect_not_null(sa_find(d, n, &a4), "IPv4 ESP-in-UDP key (encap 1) missing");
	cr_expect_not_null(sa_find(d, n, &a6), "IPv6 ESP-in-UDP key (encap 1) missing");
	for (n = 0; n < 2; n++)
		cr_expect_eq(d[n].k.encap, XOFF_ENCAP_ESPINUDP);
	sa_absent(&plain);	/* the same SPI and address with encap 0 */
	cr_expect_eq(sa_map(&a4).dir, XOFF_DIR_IN);
	cr_expect_eq(sa_map(&a6).dir, XOFF_DIR_IN);
	cr_expect_eq(view(&a6).why, XSYNC_WHY_SW);
}

/* ---- Changes and removals ---- */

Test(sync, updsa_in_place, .init = setup_cpus, .fini = teardown)
{
	struct xmsg_sa a = sa_in(1), b = sa_in(2);
	struct xoff_sa v0, v1, vb;

	sa_add(&a);
	sa_add(&b);
	v0 = sa_map(&a);
	vb = sa_map(&b);

	/* Lifetimes and counters only: the entry stays byte for byte. */
	a.soft_bytes = 1 << 20;
	a.hard_bytes = 2 << 20;
	a.cur_packets = 5;
	sa_upd(&a);
	v1 = sa_map(&a);
	cr_expect_arr_eq(&v1, &v0, sizeof(v0));

	/* Mode and algorithm: the entry changes, its slot and CPU do not. */
	a.mode = XFRM_MODE_TRANSPORT;
	a.aead = NULL;
	a.icv_bits = 0;
	a.enc = "cbc(aes)";
	a.auth = "hmac(sha256)";
	a.trunc_bits = 128;
	sa_upd(&a);
	v1 = sa_map(&a);
	cr_expect_eq(v1.mode, XOFF_MODE_TRANSPORT);
	cr_expect_eq(v1.iv_len, 16);
	cr_expect_eq(v1.icv_len, 16);
	cr_expect_eq(v1.slot, v0.slot, "slot moved on UPDSA: %u -> %u", v0.slot, v1.slot);
	cr_expect_eq(v1.cpu, v0.cpu, "CPU moved on UPDSA: %u -> %u", v0.cpu, v1.cpu);
	cr_expect_eq(v1.action, XOFF_ACT_CPU);
	cr_expect_eq(sa_count(), 2);
	cr_expect_eq(stats().sas, 2);
	cr_expect_eq(stats().quarantined, 0, "no slot released by an update");
	expect_entry(&b, &vb, "the other SA changed");
	cr_expect_eq(mirror_get(x, v1.slot).add_time, T0 + 1);
}

Test(sync, delsa_removes, .init = setup, .fini = teardown)
{
	struct xmsg_sa a = sa_in(1), b = sa_in(2), c = sa_out(3);
	struct xoff_sa vb, vc;

	sa_add(&a);
	sa_add(&b);
	sa_add(&c);
	vb = sa_map(&b);
	vc = sa_map(&c);
	sa_del(&a);
	sa_absent(&a);
	view_gone(&a);
	expect_entry(&b, &vb, "another SA's delete changed it");
	expect_entry(&c, &vc, "another SA's delete changed it");
	cr_expect_eq(sa_count(), 2);
	cr_expect_eq(stats().sas, 2);
	cr_expect_eq(stats().quarantined, 1);

	/* A DELSA of an SA nobody knows changes nothing. */
	sa_del(&a);
	cr_expect_eq(sa_count(), 2);
	sa_del(&c);
	sa_absent(&c);
	cr_expect_eq(sa_count(), 1);
}

Test(sync, expire_hard_removes, .init = setup, .fini = teardown)
{
	struct xmsg_sa a = sa_in(1), b = sa_in(2);

	sa_add(&a);
	sa_add(&b);
	feed(xmsg_expire(buf, &a, true));
	sa_absent(&a);
	view_gone(&a);
	sa_map(&b);
	cr_expect_eq(sa_count(), 1);
	cr_expect_eq(stats().sas, 1);
}

Test(sync, expire_soft_keeps, .init = setup, .fini = teardown)
{
	struct xmsg_sa a = sa_in(1), b = sa_in(2);
	struct xoff_sa v0 = { 0 }, vb;
	struct xsync_sa_view sv;

	sa_add(&a);
	sa_add(&b);
	v0 = sa_map(&a);
	vb = sa_map(&b);
	cr_expect_eq(view(&a).mirror.flags & XOFF_MIRROR_SOFT_SENT, 0);
	feed(xmsg_expire(buf, &a, false));
	expect_entry(&a, &v0, "soft expire changed the entry");
	sv = view(&a);
	cr_expect(sv.mapped);
	cr_expect(sv.mirror.flags & XOFF_MIRROR_SOFT_SENT, "view flags 0x%x", sv.mirror.flags);
	cr_expect(sv.mirror.flags & XOFF_MIRROR_USED);
	cr_expect(mirror_get(x, v0.slot).flags & XOFF_MIRROR_SOFT_SENT, "not in the pinned state");
	cr_expect_eq(view(&b).mirror.flags & XOFF_MIRROR_SOFT_SENT, 0, "the other SA marked");
	cr_expect_eq(mirror_get(x, vb.slot).flags, XOFF_MIRROR_USED);
	cr_expect_eq(sa_count(), 2);
	cr_expect_eq(stats().sas, 2);
}

/* ESP (v4, v6, ESP-in-UDP, offloaded) and AH SAs. */
static void add_mix(struct xmsg_sa *o)
{
	unsigned int i;

	o[0] = sa_in(1);
	o[1] = sa_in(2);
	o[1].family = AF_INET6;
	o[1].dst = "2001:db8:1::1";
	o[1].src = "2001:db8:9::1";
	o[2] = sa_in(3);
	o[2].encap = UDP_ENCAP_ESPINUDP;
	o[3] = sa_out(4);
	o[3].offload_ifindex = CRYPTO_DEV;
	o[4] = sa_in(5);
	o[4].proto = IPPROTO_AH;
	o[4].aead = NULL;
	o[4].auth = "hmac(sha256)";
	o[4].trunc_bits = 128;
	for (i = 0; i < 5; i++)
		sa_add(&o[i]);
	cr_assert_eq(sa_count(), 4, "four ESP SAs mapped");
	cr_assert_eq(stats().sas, 5);
}

Test(sync, flushsa_any, .init = setup, .fini = teardown)
{
	static const __u8 any[] = { 255 /* IPSEC_PROTO_ANY */, 0 };
	struct xmsg_sa o[5];
	unsigned int i, j;

	for (i = 0; i < sizeof(any); i++) {
		add_mix(o);
		feed(xmsg_flushsa(buf, any[i]));
		cr_expect_eq(sa_count(), 0, "FLUSHSA proto %u left entries", any[i]);
		cr_expect_eq(stats().sas, 0, "FLUSHSA proto %u left SAs", any[i]);
		for (j = 0; j < 5; j++)
			view_gone(&o[j]);
	}
}

Test(sync, flushsa_one_proto, .init = setup, .fini = teardown)
{
	struct sa_ent before[MAX_SAS + 1];
	unsigned int n, j;
	struct xmsg_sa o[5];

	add_mix(o);
	n = sa_dump(x, before, MAX_SAS + 1);
	feed(xmsg_flushsa(buf, IPPROTO_AH));
	view_gone(&o[4]);
	expect_exactly(before, n, o, 4);
	cr_expect_eq(stats().sas, 4);

	sa_add(&o[4]);
	feed(xmsg_flushsa(buf, IPPROTO_ESP));
	cr_expect_eq(sa_count(), 0);
	for (j = 0; j < 4; j++)
		view_gone(&o[j]);
	cr_expect_eq(view(&o[4]).why, XSYNC_WHY_NOT_ESP, "AH flushed by an ESP flush");
	cr_expect_eq(stats().sas, 1);
}

/* ---- Out of the fast path ---- */

Test(sync, not_esp, .init = setup, .fini = teardown)
{
	struct xmsg_sa ah = sa_in(1), comp = sa_in(2);

	ah.proto = IPPROTO_AH;
	ah.aead = NULL;
	ah.auth = "hmac(sha256)";
	ah.trunc_bits = 128;
	comp.proto = IPPROTO_COMP;
	comp.aead = NULL;
	sa_add(&ah);
	sa_add(&comp);
	expect_unmapped(&ah, XSYNC_WHY_NOT_ESP);
	expect_unmapped(&comp, XSYNC_WHY_NOT_ESP);
	/* Not under the ESP key of the same SPI either. */
	ah.proto = 0;
	sa_absent(&ah);
	cr_expect_eq(sa_count(), 0);
	cr_expect_eq(stats().sas, 2);
	cr_expect_eq(stats().sas_mapped, 0);
}

Test(sync, other_encap, .init = setup, .fini = teardown)
{
	struct xmsg_sa tcp = sa_in(1), nonike = sa_in(2), udp;

	tcp.encap = TCP_ENCAP_ESPINTCP;
	tcp.sport = tcp.dport = 4500;
	nonike.encap = UDP_ENCAP_ESPINUDP_NON_IKE;
	sa_add(&tcp);
	sa_add(&nonike);
	expect_unmapped(&tcp, XSYNC_WHY_ENCAP);
	expect_unmapped(&nonike, XSYNC_WHY_ENCAP);
	udp = tcp;
	udp.encap = UDP_ENCAP_ESPINUDP;
	sa_absent(&udp);
	cr_expect_eq(sa_count(), 0);
}

Test(sync, unknown_alg, .init = setup, .fini = teardown)
{
	struct xmsg_sa a = sa_in(1), none = sa_in(2), ok = sa_in(3);

	a.aead = "rfc9999(frobnicate)";
	none.aead = NULL;	/* no algorithm attribute at all */
	sa_add(&a);
	sa_add(&none);
	sa_add(&ok);
	expect_unmapped(&a, XSYNC_WHY_ALG);
	expect_unmapped(&none, XSYNC_WHY_ALG);
	sa_map(&ok);
	cr_expect_eq(sa_count(), 3);

	/* An update to a known algorithm brings it in; back to unknown takes it out. */
	a.aead = "rfc4106(gcm(aes))";
	sa_upd(&a);
	cr_expect_eq(sa_map(&a).iv_len, 8);
	cr_expect_eq(view(&a).why, XSYNC_WHY_SW);
	a.aead = "rfc9999(frobnicate)";
	sa_upd(&a);
	expect_unmapped(&a, XSYNC_WHY_ALG);
	cr_expect_eq(stats().quarantined, 1, "its slot is released");
}

Test(sync, mark_conflict, .init = setup, .fini = teardown)
{
	struct xmsg_sa a = sa_in(1), b = sa_in(1), c = sa_in(1);
	struct xsync_sa_view v;
	struct xoff_sa va;

	a.mark = b.mark = c.mark = true;
	a.mark_v = 1;
	b.mark_v = 2;
	c.mark_v = 3;
	a.mark_m = b.mark_m = c.mark_m = 0xff;

	sa_add(&a);
	va = sa_map(&a);
	cr_expect_eq(view(&a).why, XSYNC_WHY_SW);

	/* Same daddr and SPI, another mark: the fast path cannot tell them apart. */
	sa_add(&b);
	expect_unmapped(&a, XSYNC_WHY_CONFLICT);
	expect_unmapped(&b, XSYNC_WHY_CONFLICT);
	cr_expect_eq(sa_count(), 1, "one entry for the key they share");
	cr_expect_eq(stats().sas, 2);
	cr_expect_eq(stats().sas_mapped, 0);
	cr_expect_eq(stats().unserved, 2);
	cr_expect_eq(stats().quarantined, 1, "the first SA's slot is released");

	sa_add(&c);
	sa_del(&b);
	expect_unmapped(&a, XSYNC_WHY_CONFLICT);
	expect_unmapped(&c, XSYNC_WHY_CONFLICT);

	/* The last rival gone, the survivor is mapped and says why it is where it is. */
	sa_del(&c);
	va = sa_map(&a);
	v = view(&a);
	cr_expect(v.mapped);
	cr_expect_eq(v.why, XSYNC_WHY_SW, "why %s after the conflict ended", xsync_why_str(v.why));
	cr_expect_eq(va.action, XOFF_ACT_CPU);
	cr_expect_arr_eq(&v.val, &va, sizeof(va));
	cr_expect_eq(sa_count(), 1);
	cr_expect_eq(stats().sas_mapped, 1);
}

Test(sync, mark_conflict_offloaded, .init = setup, .fini = teardown)
{
	struct xmsg_sa a = sa_out(1), b = sa_out(1);

	a.offload_ifindex = b.offload_ifindex = CRYPTO_DEV;
	a.mark = b.mark = true;
	a.mark_v = 1;
	b.mark_v = 2;
	a.mark_m = b.mark_m = 0xff;
	sa_add(&a);
	sa_add(&b);
	expect_unmapped(&a, XSYNC_WHY_CONFLICT);
	sa_del(&b);
	cr_expect_eq(sa_map(&a).path, XOFF_PATH_HW);
	cr_expect_eq(view(&a).why, XSYNC_WHY_HW_CRYPTO, "why %s after the conflict ended",
		     xsync_why_str(view(&a).why));
}

/* ---- Directions ---- */

Test(sync, dir_sa_dir_attr, .init = setup, .fini = teardown)
{
	struct xmsg_sa out_local = sa_in(1), in_remote = sa_out(2);
	struct xmsg_pol p = { .sel_dst = "198.51.100.0", .prefix_d = 24, .dir = XFRM_POLICY_OUT,
			      .index = 9, .ntmpl = 1,
			      .tmpl = { { .dst = "198.51.100.1", .mode = XFRM_MODE_TUNNEL } } };

	/* XFRMA_SA_DIR beats both the local addresses and the policy templates. */
	pol_add(&p);
	out_local.sa_dir = XOFF_XFRM_SA_DIR_OUT;
	in_remote.sa_dir = XOFF_XFRM_SA_DIR_IN;
	sa_add(&out_local);
	sa_add(&in_remote);
	cr_expect_eq(sa_map(&out_local).dir, XOFF_DIR_OUT);
	cr_expect_eq(sa_map(&out_local).action, XOFF_ACT_PASS);
	cr_expect_eq(sa_map(&in_remote).dir, XOFF_DIR_IN);
	cr_expect_eq(sa_map(&in_remote).action, XOFF_ACT_CPU);
	cr_expect_eq(view(&out_local).x.dir_source, XFRM_DIR_FROM_SA_DIR);
	cr_expect_eq(view(&in_remote).x.dir_source, XFRM_DIR_FROM_SA_DIR);
	pol_del(&p);
	cr_expect_eq(sa_map(&in_remote).dir, XOFF_DIR_IN);
}

Test(sync, dir_offload_flag, .init = setup, .fini = teardown)
{
	struct xmsg_sa in_remote = sa_out(1), out_local = sa_in(2);

	in_remote.offload_ifindex = out_local.offload_ifindex = CRYPTO_DEV;
	in_remote.offload_flags = XFRM_OFFLOAD_INBOUND;
	sa_add(&in_remote);
	sa_add(&out_local);
	cr_expect_eq(sa_map(&in_remote).dir, XOFF_DIR_IN);
	cr_expect_eq(sa_map(&in_remote).action, XOFF_ACT_PASS, "offloaded: not steered");
	cr_expect_eq(sa_map(&out_local).dir, XOFF_DIR_OUT);
	cr_expect_eq(view(&in_remote).x.dir_source, XFRM_DIR_FROM_OFFLOAD);

	/* XFRMA_SA_DIR still beats the flag. */
	out_local.sa_dir = XOFF_XFRM_SA_DIR_IN;
	sa_upd(&out_local);
	cr_expect_eq(sa_map(&out_local).dir, XOFF_DIR_IN);
}

Test(sync, dir_policy_template, .init = setup, .fini = teardown)
{
	struct xmsg_sa local = sa_in(1), remote = sa_out(2), both = sa_in(3);
	struct xmsg_pol out = { .sel_dst = "198.51.100.0", .prefix_d = 24,
				.dir = XFRM_POLICY_OUT, .index = 1, .ntmpl = 1,
				.tmpl = { { .dst = "192.0.2.1", .mode = XFRM_MODE_TUNNEL } } };
	struct xmsg_pol in = { .sel_dst = "192.0.2.0", .prefix_d = 24, .dir = XFRM_POLICY_IN,
			       .index = 2, .ntmpl = 1,
			       .tmpl = { { .dst = "198.51.100.1", .mode = XFRM_MODE_TUNNEL } } };
	struct xmsg_pol fwd_in = in, out2 = out;

	/* Templates beat the local addresses: the policy says where the SA leads. */
	pol_add(&out);
	pol_add(&in);
	sa_add(&local);
	sa_add(&remote);
	cr_expect_eq(sa_map(&local).dir, XOFF_DIR_OUT, "OUT template to 192.0.2.1");
	cr_expect_eq(sa_map(&local).action, XOFF_ACT_PASS);
	cr_expect_eq(view(&local).x.dir_source, XFRM_DIR_FROM_POLICY);
	cr_expect_eq(sa_map(&remote).dir, XOFF_DIR_IN, "IN template to 198.51.100.1");
	cr_expect_eq(sa_map(&remote).action, XOFF_ACT_CPU);

	/* Templates of both directions to one address decide nothing: local decides. */
	both.dst = "192.0.2.3";
	out2.index = 3;
	out2.tmpl[0].dst = "192.0.2.3";
	fwd_in.index = 4;
	fwd_in.dir = XFRM_POLICY_FWD;
	fwd_in.tmpl[0].dst = "192.0.2.3";
	pol_add(&out2);
	pol_add(&fwd_in);
	sa_add(&both);
	cr_expect_eq(sa_map(&both).dir, XOFF_DIR_IN);
	cr_expect_eq(view(&both).x.dir_source, XFRM_DIR_FROM_LOCAL);
}

Test(sync, dir_policy_after_sa, .init = setup_cpus, .fini = teardown)
{
	struct xmsg_sa a = sa_in(1);
	struct xmsg_pol out = { .sel_dst = "198.51.100.0", .prefix_d = 24,
				.dir = XFRM_POLICY_OUT, .index = 1, .ntmpl = 1,
				.tmpl = { { .dst = "192.0.2.1", .mode = XFRM_MODE_TUNNEL } } };
	struct xoff_sa v0, v;

	sa_add(&a);
	v0 = sa_map(&a);
	cr_assert_eq(v0.dir, XOFF_DIR_IN);
	cr_assert_eq(v0.action, XOFF_ACT_CPU);

	/* A policy arriving later turns the SA around, in place. */
	pol_add(&out);
	v = sa_map(&a);
	cr_expect_eq(v.dir, XOFF_DIR_OUT);
	cr_expect_eq(v.action, XOFF_ACT_PASS);
	cr_expect_eq(v.cpu, 0);
	cr_expect_eq(v.slot, v0.slot);
	cr_expect_eq(stats().quarantined, 0);

	/* And its removal back. */
	pol_del(&out);
	v = sa_map(&a);
	cr_expect_eq(v.dir, XOFF_DIR_IN);
	cr_expect_eq(v.action, XOFF_ACT_CPU);
	cr_expect_eq(v.slot, v0.slot);

	pol_add(&out);
	cr_expect_eq(sa_map(&a).dir, XOFF_DIR_OUT);
	feed(xmsg_flushpolicy(buf));
	cr_expect_eq(stats().policies, 0);
	cr_expect_eq(sa_map(&a).dir, XOFF_DIR_IN, "FLUSHPOLICY: the template is gone");
}

Test(sync, dir_local, .init = setup, .fini = teardown)
{
	struct xmsg_sa l4 = sa_in(1), r4 = sa_in(2), l6 = sa_in(3), r6 = sa_in(4);

	r4.dst = "203.0.113.5";
	l6.family = r6.family = AF_INET6;
	l6.src = r6.src = "2001:db8:9::1";
	l6.dst = "2001:db8:1::5";
	r6.dst = "2001:db8:2::5";
	sa_add(&l4);
	sa_add(&r4);
	sa_add(&l6);
	sa_add(&r6);
	cr_expect_eq(sa_map(&l4).dir, XOFF_DIR_IN);
	cr_expect_eq(sa_map(&l4).action, XOFF_ACT_CPU);
	cr_expect_eq(sa_map(&r4).dir, XOFF_DIR_OUT);
	cr_expect_eq(sa_map(&r4).action, XOFF_ACT_PASS);
	cr_expect_eq(sa_map(&l6).dir, XOFF_DIR_IN);
	cr_expect_eq(sa_map(&l6).action, XOFF_ACT_CPU);
	cr_expect_eq(sa_map(&r6).dir, XOFF_DIR_OUT);
	cr_expect_eq(view(&l4).x.dir_source, XFRM_DIR_FROM_LOCAL);
	cr_expect_eq(view(&r6).x.dir_source, XFRM_DIR_FROM_LOCAL);
}

/* ---- CPU balancing ---- */

static void cpu_loads(unsigned int *load, unsigned int n)
{
	struct sa_ent d[MAX_SAS + 1];
	unsigned int nd = sa_dump(x, d, MAX_SAS + 1), i;

	memset(load, 0, n * sizeof(*load));
	for (i = 0; i < nd; i++) {
		if (d[i].v.action != XOFF_ACT_CPU)
			continue;
		cr_assert_lt(d[i].v.cpu, n, "spi 0x%x on CPU %u, not an allowed one",
			     ntohl(d[i].k.spi), d[i].v.cpu);
		load[d[i].v.cpu]++;
	}
}

Test(sync, cpu_balance, .init = setup_cpus, .fini = teardown)
{
	unsigned int n = cfg.ncpus, load[2], i, gone = 0;
	struct xmsg_sa a[16];

	for (i = 0; i < 10; i++) {
		a[i] = sa_in(i);
		sa_add(&a[i]);
	}
	cpu_loads(load, n);
	if (n == 2) {
		cr_expect_eq(load[0], 5);
		cr_expect_eq(load[1], 5);
	} else {
		cr_expect_eq(load[0], 10);
	}
	for (i = 0; i < 10; i++)
		cr_expect_eq(view(&a[i]).val.cpu, sa_map(&a[i]).cpu);

	/* Outbound SAs are not steered and weigh nothing. */
	for (i = 0; i < 3; i++) {
		struct xmsg_sa o = sa_out(i);

		sa_add(&o);
		cr_expect_eq(sa_map(&o).action, XOFF_ACT_PASS);
		cr_expect_eq(sa_map(&o).cpu, 0);
	}

	/* Three gone from the last CPU; three new ones fill it up again. */
	for (i = 0; i < 10 && gone < 3; i++) {
		if (sa_map(&a[i]).cpu != n - 1)
			continue;
		sa_del(&a[i]);
		gone++;
	}
	cr_assert_eq(gone, 3);
	cpu_loads(load, n);
	cr_expect_eq(load[n - 1], n == 2 ? 2 : 7);
	for (i = 10; i < 13; i++) {
		a[i] = sa_in(i);
		sa_add(&a[i]);
		cr_expect_eq(sa_map(&a[i]).cpu, n - 1, "new SA %u not on the least loaded CPU", i);
	}
	cpu_loads(load, n);
	if (n == 2) {
		cr_expect_eq(load[0], 5);
		cr_expect_eq(load[1], 5);
	}
	for (i = 13; i < 15; i++) {
		a[i] = sa_in(i);
		sa_add(&a[i]);
	}
	cpu_loads(load, n);
	if (n == 2) {
		cr_expect_eq(load[0], 6);
		cr_expect_eq(load[1], 6);
	}
}

Test(sync, cpu_kept_across_updsa, .init = setup_cpus, .fini = teardown)
{
	struct xmsg_sa a[4];
	unsigned int i, n = cfg.ncpus;
	struct xoff_sa v0[4], v;

	if (n < 2)
		cr_skip_test("SKIP: one CPU");
	for (i = 0; i < 4; i++) {
		a[i] = sa_in(i);
		sa_add(&a[i]);
		v0[i] = sa_map(&a[i]);
	}
	/* Unbalance it: remove both SAs of CPU 1. */
	for (i = 0; i < 4; i++)
		if (v0[i].cpu == 1)
			sa_del(&a[i]);
	/* Updates of the CPU 0 SAs do not rebalance them. */
	for (i = 0; i < 4; i++) {
		if (v0[i].cpu != 0)
			continue;
		a[i].mode = XFRM_MODE_TRANSPORT;
		a[i].cur_bytes = 12345;
		sa_upd(&a[i]);
		v = sa_map(&a[i]);
		cr_expect_eq(v.cpu, 0, "SA %u moved to CPU %u on UPDSA", i, v.cpu);
		cr_expect_eq(v.slot, v0[i].slot);
		cr_expect_eq(v.mode, XOFF_MODE_TRANSPORT);
	}
	/* A new SA goes where the load is. */
	a[0] = sa_in(10);
	sa_add(&a[0]);
	cr_expect_eq(sa_map(&a[0]).cpu, 1);
}

Test(sync, cpu_set, .init = env_init, .fini = teardown)
{
	struct xmsg_sa a;
	unsigned int i;
	int err;

	open_xoff(&x, MAX_SAS, NULL);
	/* Only the last CPU. */
	cpus[0] = xoff_nr_cpus() - 1;
	cfg.cpus = cpus;
	cfg.ncpus = 1;
	new_sync(&s, x);
	for (i = 0; i < 4; i++) {
		a = sa_in(i);
		sa_add(&a);
		cr_expect_eq(sa_map(&a).cpu, cpus[0]);
	}

	/* CPUs that do not exist, or none. */
	cpus[0] = xoff_nr_cpus();
	err = xsync_new(&s2, x, &cfg);
	cr_expect_eq(err, -EINVAL, "CPU %u accepted: %d", cpus[0], err);
	cpus[0] = 0;
	cfg.ncpus = 0;
	err = xsync_new(&s2, x, &cfg);
	cr_expect_eq(err, -EINVAL, "an empty CPU set accepted: %d", err);
}

/* ---- RX CPUs ---- */

static struct xmsg_sa pcpu_in(unsigned int n, __u32 cpu);
static enum xsync_pcpu pcpu_of(const struct xmsg_sa *o);

/* Steering targets {0, 1} with RX CPUs @rx and their weight; skipped with one CPU. */
static void start_rx(const __u16 *rx, unsigned int nrx, unsigned int weight)
{
	env_init();
	if (xoff_nr_cpus() < 2)
		cr_skip_test("SKIP: one CPU");
	cpus01();
	cfg.rx_cpus = rx;
	cfg.nrx_cpus = nrx;
	cfg.rx_weight = weight;
	open_xoff(&x, MAX_SAS, NULL);
	new_sync(&s, x);
}

static void stop_rx(void)
{
	xsync_free(s);
	s = NULL;
	xoff_close(x);
	x = NULL;
}

/* Adds inbound SAs @first .. @first + @n - 1 and says where each went. */
static void place(unsigned int first, unsigned int n, __u16 *cpu)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct xmsg_sa a = sa_in(first + i);

		sa_add(&a);
		cpu[i] = sa_map(&a).cpu;
		cr_expect_eq(view(&a).val.cpu, cpu[i]);
	}
}

struct rx_case {
	unsigned int	weight;
	unsigned int	nrx;		/* RX CPUs: none, {0} or {0, 1} */
	__u16		want[4];	/* the CPUs of four new SAs, in order */
};

/*
 * Two CPUs, CPU 0 the RX CPU. A new SA costs 100 per SA on a CPU, itself included, and on
 * CPU 0 also weight per steered SA, itself included: at 40 the second SA costs CPU 0
 * 100 + 2 * 40 against 200 on CPU 1, the fourth 200 + 4 * 40 against 300. At 60 the
 * third one goes to CPU 0 (100 + 3 * 60 < 300): receiving three SAs and decrypting one
 * there is less than decrypting three on CPU 1. Only from 76 on (4 * 76 > 300) are all
 * four on CPU 1; at 75 the fourth is a tie, which goes to the first CPU.
 */
ParameterizedTestParameters(sync, rx_weight)
{
	static struct rx_case cases[] = {
		{ 40, 1, { 1, 0, 1, 1 } }, { 15, 1, { 1, 0, 1, 0 } }, { 60, 1, { 1, 1, 0, 1 } },
		{ 75, 1, { 1, 1, 1, 0 } }, { 76, 1, { 1, 1, 1, 1 } }, { 100, 1, { 1, 1, 1, 1 } },
		/* No weight, no RX CPUs, or every CPU one: by SA count alone. */
		{ 0, 1, { 0, 1, 0, 1 } }, { 40, 0, { 0, 1, 0, 1 } }, { 40, 2, { 0, 1, 0, 1 } },
		{ 100, 2, { 0, 1, 0, 1 } },
	};

	return cr_make_param_array(struct rx_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct rx_case *c, sync, rx_weight, .fini = teardown)
{
	static const __u16 rx[2] = { 0, 1 };
	unsigned int load[2];
	__u16 cpu[4];

	start_rx(c->nrx ? rx : NULL, c->nrx, c->weight);
	place(0, 4, cpu);
	cr_expect_arr_eq(cpu, c->want, sizeof(cpu), "weight %u, %u RX CPUs: %u %u %u %u",
			 c->weight, c->nrx, cpu[0], cpu[1], cpu[2], cpu[3]);
	cpu_loads(load, 2);
	cr_expect_eq(load[0] + load[1], 4);
}

/* One script of adds and deletes, outbound and per-CPU SAs among them: the CPU each of
 * 14 inbound SAs went to. An update moves none of them. */
static void rx_script(const __u16 *rx, unsigned int nrx, unsigned int weight, __u16 *cpu)
{
	struct xmsg_sa a[14], p = pcpu_in(0, 1), out = sa_out(1);
	unsigned int i;

	start_rx(rx, nrx, weight);
	for (i = 0; i < 14; i++)
		a[i] = sa_in(i);
	for (i = 0; i < 14; i++) {
		sa_add(&a[i]);
		cpu[i] = sa_map(&a[i]).cpu;
		if (i == 5) {
			sa_add(&out);
			sa_del(&a[0]);
			sa_del(&a[2]);
			sa_add(&p);
		} else if (i == 9) {
			sa_del(&a[1]);
			sa_del(&p);
		} else if (i == 11) {
			a[4].cur_bytes = 1;
			sa_upd(&a[4]);
		}
	}
	for (i = 3; i < 14; i++)
		cr_expect_eq(sa_map(&a[i]).cpu, cpu[i], "SA %u moved", i);
	stop_rx();
}

/* Without RX CPUs, without a weight, or with every steering CPU an RX CPU, placement is
 * what it was before RX CPUs were weighed: the least loaded CPU, ties to the first. */
Test(sync, rx_none_is_count_placement, .fini = teardown)
{
	static const __u16 all[2] = { 0, 1 }, all_rev[2] = { 1, 0 }, zero[1] = { 0 };
	/* By count, ties to CPU 0: 0 1 0 1 0 1; a0 and a2 gone (1 : 3); the per-CPU SA on
	 * its CPU 1 (1 : 4); a6 .. a9 on CPU 0 (5 : 4); a1 and the per-CPU SA gone (5 : 2);
	 * a10 .. a12 on CPU 1 (5 : 5), a13 on CPU 0. */
	static const __u16 want[14] = { 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0 };
	static const struct {
		const __u16	*rx;
		unsigned int	nrx, weight;
	} cfgs[] = {
		{ NULL, 0, 0 }, { NULL, 0, 100 }, { zero, 0, 100 }, { zero, 1, 0 },
		{ all, 2, XSYNC_RX_WEIGHT }, { all, 2, 100 }, { all_rev, 2, 55 },
	};
	unsigned int i;
	__u16 cpu[14];

	for (i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
		rx_script(cfgs[i].rx, cfgs[i].nrx, cfgs[i].weight, cpu);
		cr_expect_arr_eq(cpu, want, sizeof(want), "config %u (%u RX CPUs, weight %u) "
				 "placed differently", i, cfgs[i].nrx, cfgs[i].weight);
	}
}

/* A weighted RX CPU: the script places away from it. */
Test(sync, rx_script_weighted, .fini = teardown)
{
	static const __u16 rx[1] = { 0 };
	unsigned int i, n0 = 0;
	__u16 cpu[14];

	rx_script(rx, 1, 100, cpu);
	for (i = 0; i < 14; i++)
		n0 += cpu[i] == 0;
	cr_expect_eq(n0, 0, "%u SAs on the RX CPU at weight 100", n0);
}

/* An RX CPU outside the steering set (or beyond every CPU) gets no SA and changes nothing
 * for the others; one inside still weighs. */
Test(sync, rx_cpu_outside_steering_set, .fini = teardown)
{
	static const __u16 rx1[3] = { 4000, 1, 70 }, want[4] = { 0, 1, 0, 0 };
	__u16 rx[1], cpu[4];
	unsigned int i;

	env_init();
	if (xoff_nr_cpus() < 2)
		cr_skip_test("SKIP: one CPU");
	rx[0] = 1;
	cpus[0] = 0;
	cfg.cpus = cpus;
	cfg.ncpus = 1;
	cfg.rx_cpus = rx;
	cfg.nrx_cpus = 1;
	cfg.rx_weight = 100;
	open_xoff(&x, MAX_SAS, NULL);
	new_sync(&s, x);
	place(0, 4, cpu);
	for (i = 0; i < 4; i++)
		cr_expect_eq(cpu[i], 0, "SA %u on CPU %u", i, cpu[i]);
	stop_rx();

	/* {0, 1}, CPU 1 receiving, at 40: the worked example with the CPUs swapped. */
	start_rx(rx1, 3, 40);
	place(0, 4, cpu);
	cr_expect_arr_eq(cpu, want, sizeof(cpu), "%u %u %u %u", cpu[0], cpu[1], cpu[2], cpu[3]);
	cr_expect_eq(nwarn, 0);
}

/* Placed SAs stay: per-CPU SAs on their own CPU, SAs kept across a restart, SAs placed
 * before the RX CPUs changed. */
Test(sync, rx_keeps_placed, .init = setup_cpus, .fini = teardown)
{
	static const __u16 rx[1] = { 0 };
	struct xmsg_sa a[4], p = pcpu_in(0, 0), fresh;
	struct xoff_sa v0[4];
	unsigned int i;

	if (cfg.ncpus < 2)
		cr_skip_test("SKIP: one CPU");
	for (i = 0; i < 4; i++) {
		a[i] = sa_in(i);
		sa_add(&a[i]);
		v0[i] = sa_map(&a[i]);
	}
	cr_expect_eq(v0[0].cpu, 0);
	cr_expect_eq(v0[2].cpu, 0);

	/* A restart with CPU 0 receiving: the dump keeps every CPU. */
	xsync_free(s);
	s = NULL;
	cfg.rx_cpus = rx;
	cfg.nrx_cpus = 1;
	cfg.rx_weight = 100;
	new_sync(&s, x);
	xsync_resync_begin(s);
	for (i = 0; i < 4; i++)
		sa_add(&a[i]);
	cr_expect_eq(xsync_resync_end(s), 0);
	for (i = 0; i < 4; i++)
		expect_entry(&a[i], &v0[i], "an SA placed before the restart");

	/* A per-CPU SA of the RX CPU goes there all the same; new ones do not. */
	sa_add(&p);
	cr_expect_eq(sa_map(&p).cpu, 0);
	cr_expect_eq(pcpu_of(&p), XSYNC_PCPU_CPU);
	for (i = 0; i < 3; i++) {
		fresh = sa_in(10 + i);
		sa_add(&fresh);
		cr_expect_eq(sa_map(&fresh).cpu, 1, "new SA %u on the RX CPU", i);
	}

	/* No RX CPU any more: the SAs stay, new ones balance by count (CPU 0: 3, CPU 1: 5). */
	cr_expect_eq(xsync_set_rx(s, NULL, 0, 0), 0);
	for (i = 0; i < 4; i++)
		expect_entry(&a[i], &v0[i], "an SA placed before the change");
	for (i = 0; i < 2; i++) {
		fresh = sa_in(20 + i);
		sa_add(&fresh);
		cr_expect_eq(sa_map(&fresh).cpu, 0, "new SA %u not on the least loaded CPU", i);
	}
	cr_expect_eq(stats().map_errors, 0);
}

Test(sync, rx_weight_range, .init = setup_cpus, .fini = teardown)
{
	static const __u16 rx[1] = { 0 };
	struct xmsg_sa a = sa_in(1);
	int err;

	cfg.rx_cpus = rx;
	cfg.nrx_cpus = 1;
	cfg.rx_weight = 101;
	err = xsync_new(&s2, x, &cfg);
	cr_expect_eq(err, -EINVAL, "weight 101 accepted: %d", err);
	cr_expect_eq(xsync_set_rx(s, rx, 1, 101), -EINVAL);
	/* Nothing changed: no RX CPU, by count. */
	sa_add(&a);
	cr_expect_eq(sa_map(&a).cpu, 0);
	cr_expect_eq(xsync_set_rx(s, rx, 1, 100), 0);
}

static void setup_queues(void)
{
	env_init();
	cfg.tx_queues = 4;
	open_xoff(&x, MAX_SAS, NULL);
	new_sync(&s, x);
}

Test(sync, tx_queues, .init = setup_queues, .fini = teardown)
{
	unsigned int load[4] = { 0 }, i;
	struct xmsg_sa o[8], in = sa_in(1);
	struct xoff_sa v;

	for (i = 0; i < 8; i++) {
		o[i] = sa_out(i);
		sa_add(&o[i]);
		v = sa_map(&o[i]);
		cr_assert_lt(v.queue, 4, "outbound SA %u without a queue: %u", i, v.queue);
		load[v.queue]++;
	}
	for (i = 0; i < 4; i++)
		cr_expect_eq(load[i], 2, "queue %u has %u SAs", i, load[i]);
	sa_add(&in);
	cr_expect_eq(sa_map(&in).queue, XOFF_QUEUE_NONE, "inbound SA given a TX queue");

	/* Kept across an update; a freed queue is the next one given. */
	v = sa_map(&o[3]);
	o[3].mode = XFRM_MODE_TRANSPORT;
	sa_upd(&o[3]);
	cr_expect_eq(sa_map(&o[3]).queue, v.queue);
	sa_del(&o[3]);
	o[3] = sa_out(20);
	sa_add(&o[3]);
	cr_expect_eq(sa_map(&o[3]).queue, v.queue);
}

/* ---- Packet-offload selectors ---- */

Test(sync, lpm_selector, .init = setup, .fini = teardown)
{
	char d1[32], sel[32];
	struct xmsg_sa a = sa_pkt(1, d1, sizeof(d1));
	struct xmsg_pol p = pol_pkt(100, sel, sizeof(sel), d1);
	struct xoff_sa v;

	p.tmpl[0].reqid = a.reqid;
	/* SA first, then the policy. */
	sa_add(&a);
	v = sa_map(&a);
	cr_expect_eq(v.offload_mode, XOFF_OFFLOAD_PACKET);
	cr_expect_eq(v.dir, XOFF_DIR_OUT);
	cr_expect_eq(map_count(xoff_map_fd(x, XOFF_MAP_POLICIES)), 0, "no policy, no selector");
	pol_add(&p);
	expect_one_selector(AF_INET, "198.51.100.0", 24, v.slot, PKT_DEV, XOFF_MODE_TUNNEL);
	cr_expect_eq(stats().selectors, 1);

	pol_del(&p);
	cr_expect_eq(map_count(xoff_map_fd(x, XOFF_MAP_POLICIES)), 0, "policy gone, selector kept");
	cr_expect_eq(stats().selectors, 0);

	/* Policy first, then the SA; the SA's removal takes the selector. */
	sa_del(&a);
	pol_add(&p);
	cr_expect_eq(map_count(xoff_map_fd(x, XOFF_MAP_POLICIES)), 0, "selector without its SA");
	sa_add(&a);
	v = sa_map(&a);
	expect_one_selector(AF_INET, "198.51.100.0", 24, v.slot, PKT_DEV, XOFF_MODE_TUNNEL);
	sa_del(&a);
	cr_expect_eq(map_count(xoff_map_fd(x, XOFF_MAP_POLICIES)), 0, "SA gone, selector kept");
	cr_expect_eq(stats().selectors, 0);
}

Test(sync, lpm_selector_v6, .init = setup, .fini = teardown)
{
	struct xmsg_sa a = { .family = AF_INET6, .dst = "2001:db8:7::1", .src = "2001:db8:1::1",
			     .spi = 0x604, .mode = XFRM_MODE_TRANSPORT, .reqid = 3, GCM,
			     .offload_ifindex = PKT_DEV, .offload_flags = XFRM_OFFLOAD_PACKET };
	struct xmsg_pol p = { .family = AF_INET6, .sel_dst = "2001:db8:7::", .prefix_d = 48,
			      .dir = XFRM_POLICY_OUT, .index = 17, .offload_ifindex = PKT_DEV,
			      .offload_flags = XFRM_OFFLOAD_PACKET, .ntmpl = 1,
			      .tmpl = { { .reqid = 3, .mode = XFRM_MODE_TRANSPORT } } };

	sa_add(&a);
	pol_add(&p);
	expect_one_selector(AF_INET6, "2001:db8:7::", 48, sa_map(&a).slot, PKT_DEV,
			    XOFF_MODE_TRANSPORT);
	feed(xmsg_flushpolicy(buf));
	cr_expect_eq(map_count(xoff_map_fd(x, XOFF_MAP_POLICIES)), 0);
}

Test(sync, lpm_no_match, .init = setup, .fini = teardown)
{
	char d1[32], sel[32];
	struct xmsg_sa a = sa_pkt(1, d1, sizeof(d1)), crypto;
	struct xmsg_pol p = pol_pkt(100, sel, sizeof(sel), d1), q;
	int fd = xoff_map_fd(x, XOFF_MAP_POLICIES);

	p.tmpl[0].reqid = a.reqid;
	sa_add(&a);

	/* Each a policy that does not lead to the SA. */
	q = p;
	q.index = 1001;
	q.offload_ifindex = PKT_DEV + 1;
	pol_add(&q);
	cr_expect_eq(map_count(fd), 0, "policy on another device");
	q = p;
	q.index = 1009;
	q.tmpl[0].reqid = a.reqid + 1;
	pol_add(&q);
	cr_expect_eq(map_count(fd), 0, "policy of another reqid");
	q = p;
	q.index = 1017;
	q.offload_flags = 0;
	pol_add(&q);
	cr_expect_eq(map_count(fd), 0, "crypto-offload policy");
	q = p;
	q.index = 1024;
	q.dir = XFRM_POLICY_IN;
	pol_add(&q);
	cr_expect_eq(map_count(fd), 0, "inbound policy");
	q = p;
	q.index = 1033;
	q.tmpl[0].dst = "203.0.113.99";
	pol_add(&q);
	cr_expect_eq(map_count(fd), 0, "tunnel template to another address");

	/* A crypto-offload SA on the device does not lead a packet-offload selector. */
	q = p;
	q.index = 1041;
	q.tmpl[0].reqid = 99;
	pol_add(&q);
	crypto = a;
	crypto.spi = 0x3999;
	crypto.reqid = 99;
	crypto.offload_flags = 0;
	sa_add(&crypto);
	cr_expect_eq(map_count(fd), 0, "crypto-offload SA");

	/* The right policy at last. */
	pol_add(&p);
	expect_one_selector(AF_INET, sel, 24, sa_map(&a).slot, PKT_DEV, XOFF_MODE_TUNNEL);
}

Test(sync, lpm_priority, .init = setup, .fini = teardown)
{
	char d1[32], d2[32], sel[32];
	struct xmsg_sa a = sa_pkt(1, d1, sizeof(d1)), b = sa_pkt(2, d2, sizeof(d2));
	struct xmsg_pol pa = pol_pkt(100, sel, sizeof(sel), d1), pb = pa;
	__u32 sa_slot, sb_slot;

	pa.tmpl[0].reqid = a.reqid;
	pa.priority = 10;
	pb.index = pa.index + 8;
	pb.priority = 5;
	pb.tmpl[0].dst = d2;
	pb.tmpl[0].reqid = b.reqid;
	sa_add(&a);
	sa_add(&b);
	sa_slot = sa_map(&a).slot;
	sb_slot = sa_map(&b).slot;
	cr_assert_neq(sa_slot, sb_slot);

	/* The lower priority value wins, whichever came first. */
	pol_add(&pa);
	expect_one_selector(AF_INET, sel, 24, sa_slot, PKT_DEV, XOFF_MODE_TUNNEL);
	pol_add(&pb);
	expect_one_selector(AF_INET, sel, 24, sb_slot, PKT_DEV, XOFF_MODE_TUNNEL);
	pol_del(&pb);
	expect_one_selector(AF_INET, sel, 24, sa_slot, PKT_DEV, XOFF_MODE_TUNNEL);
	pol_del(&pa);
	cr_expect_eq(map_count(xoff_map_fd(x, XOFF_MAP_POLICIES)), 0);
	pol_add(&pb);
	pol_add(&pa);
	expect_one_selector(AF_INET, sel, 24, sb_slot, PKT_DEV, XOFF_MODE_TUNNEL);

	/* The winner's SA gone, the other policy's selector takes over. */
	sa_del(&b);
	expect_one_selector(AF_INET, sel, 24, sa_slot, PKT_DEV, XOFF_MODE_TUNNEL);
}

Test(sync, lpm_selector_host_bits, .init = setup, .fini = teardown)
{
	char d1[32], d2[32], sel[32];
	struct xmsg_sa a = sa_pkt(1, d1, sizeof(d1)), b = sa_pkt(2, d2, sizeof(d2));
	struct xmsg_pol pa = pol_pkt(100, sel, sizeof(sel), d1), pb = pa;

	/* The kernel keeps selector addresses as given: 198.51.100.5/24 is another policy
	 * than 198.51.100.0/24, but the same prefix in the trie. */
	pa.tmpl[0].reqid = a.reqid;
	pa.priority = 10;
	pb.sel_dst = "198.51.100.5";
	pb.index = pa.index + 8;
	pb.priority = 5;
	pb.tmpl[0].dst = d2;
	pb.tmpl[0].reqid = b.reqid;
	sa_add(&a);
	sa_add(&b);
	pol_add(&pa);
	pol_add(&pb);
	expect_one_selector(AF_INET, "198.51.100.0", 24, sa_map(&b).slot, PKT_DEV,
			    XOFF_MODE_TUNNEL);
	cr_expect_eq(stats().selectors, 1);
	pol_del(&pb);
	expect_one_selector(AF_INET, "198.51.100.0", 24, sa_map(&a).slot, PKT_DEV,
			    XOFF_MODE_TUNNEL);
	pol_add(&pb);
	pol_del(&pa);
	expect_one_selector(AF_INET, "198.51.100.0", 24, sa_map(&b).slot, PKT_DEV,
			    XOFF_MODE_TUNNEL);

	/* A prefix that ends inside a byte. */
	feed(xmsg_flushpolicy(buf));
	pb.sel_dst = "198.51.111.77";
	pb.prefix_d = 20;
	pol_add(&pb);
	expect_one_selector(AF_INET, "198.51.96.0", 20, sa_map(&b).slot, PKT_DEV,
			    XOFF_MODE_TUNNEL);
}

Test(sync, lpm_rekey_newest, .init = setup, .fini = teardown)
{
	char d1[32], sel[32];
	struct xmsg_sa old = sa_pkt(1, d1, sizeof(d1)), new = old;
	struct xmsg_pol p = pol_pkt(100, sel, sizeof(sel), d1);

	/* A rekey overlap: two SAs of the policy's template; the newer one carries. */
	p.tmpl[0].reqid = old.reqid;
	new.spi = 0x3101;
	new.add_time = old.add_time + 3600;
	sa_add(&old);
	pol_add(&p);
	expect_one_selector(AF_INET, sel, 24, sa_map(&old).slot, PKT_DEV, XOFF_MODE_TUNNEL);
	sa_add(&new);
	expect_one_selector(AF_INET, sel, 24, sa_map(&new).slot, PKT_DEV, XOFF_MODE_TUNNEL);
	sa_del(&old);
	expect_one_selector(AF_INET, sel, 24, sa_map(&new).slot, PKT_DEV, XOFF_MODE_TUNNEL);
}

/* ---- Lost events: resync ---- */

Test(sync, resync_subset, .init = setup, .fini = teardown)
{
	struct sa_ent before[MAX_SAS + 1];
	struct xmsg_sa o[8], keep[4];
	unsigned int n, i;

	for (i = 0; i < 8; i++) {
		o[i] = i % 2 ? sa_in(i) : sa_out(i);
		if (i == 5)
			o[i].family = AF_INET6, o[i].dst = "2001:db8:1::1";
		if (i == 6)
			o[i].encap = UDP_ENCAP_ESPINUDP;
		sa_add(&o[i]);
	}
	n = sa_dump(x, before, MAX_SAS + 1);
	cr_assert_eq(n, 8);

	/* The dump shows four of them; nothing changes before it ends. */
	keep[0] = o[1];
	keep[1] = o[2];
	keep[2] = o[5];
	keep[3] = o[6];
	xsync_resync_begin(s);
	cr_expect(xsync_in_resync(s));
	for (i = 0; i < 4; i++)
		sa_add(&keep[i]);
	expect_exactly(before, n, o, 8);
	cr_expect_eq(xsync_resync_end(s), 0);
	cr_expect_not(xsync_in_resync(s));

	/* Exactly those four, with their slots and CPUs. */
	expect_exactly(before, n, keep, 4);
	cr_expect_eq(stats().sas, 4);
	cr_expect_eq(stats().sas_mapped, 4);
	cr_expect_eq(stats().resyncs, 1);
	for (i = 0; i < 8; i++)
		if (i != 1 && i != 2 && i != 5 && i != 6)
			view_gone(&o[i]);
}

Test(sync, resync_repairs_lost_events, .init = setup, .fini = teardown)
{
	struct xmsg_sa a = sa_in(1), b = sa_in(2), c = sa_in(3), d = sa_in(4);
	struct xoff_sa va, vb;

	sa_add(&a);
	sa_add(&b);
	sa_add(&c);
	va = sa_map(&a);
	vb = sa_map(&b);

	/* Lost: an UPDSA of a, the DELSA of c, the NEWSA of d. */
	a.mode = XFRM_MODE_TRANSPORT;
	xsync_resync_begin(s);
	sa_add(&a);
	sa_add(&b);
	sa_add(&d);
	sa_map(&c);
	sa_absent(&d);
	cr_expect_eq(xsync_resync_end(s), 0);
	cr_expect_eq(sa_map(&a).mode, XOFF_MODE_TRANSPORT);
	cr_expect_eq(sa_map(&a).slot, va.slot);
	cr_expect_eq(sa_map(&a).cpu, va.cpu);
	expect_entry(&b, &vb, "changed by a resync that showed it as it was");
	sa_absent(&c);
	sa_map(&d);
	cr_expect_eq(sa_count(), 3);
}

Test(sync, resync_policies, .init = setup, .fini = teardown)
{
	char d1[32], d2[32], s1[32], s2buf[32];
	struct xmsg_sa p1 = sa_pkt(1, d1, sizeof(d1)), p2 = sa_pkt(2, d2, sizeof(d2));
	struct xmsg_pol pol1 = pol_pkt(100, s1, sizeof(s1), d1);
	struct xmsg_pol pol2 = pol_pkt(101, s2buf, sizeof(s2buf), d2);
	struct xmsg_sa turned = sa_in(9);
	struct xmsg_pol tpl = { .sel_dst = "198.51.102.0", .prefix_d = 24, .dir = XFRM_POLICY_OUT,
				.index = 3001, .ntmpl = 1,
				.tmpl = { { .dst = "192.0.2.1", .mode = XFRM_MODE_TUNNEL } } };
	struct lpm_ent l[8];

	pol1.tmpl[0].reqid = p1.reqid;
	pol2.tmpl[0].reqid = p2.reqid;
	sa_add(&p1);
	sa_add(&p2);
	sa_add(&turned);
	pol_add(&pol1);
	pol_add(&pol2);
	pol_add(&tpl);
	cr_assert_eq(lpm_dump(x, l, 8), 2);
	cr_assert_eq(sa_map(&turned).dir, XOFF_DIR_OUT, "the template makes it outbound");

	/* The dump shows every SA but only pol1: pol2 and the template are gone. */
	xsync_resync_begin(s);
	sa_add(&p1);
	sa_add(&p2);
	sa_add(&turned);
	pol_add(&pol1);
	cr_expect_eq(lpm_dump(x, l, 8), 2, "changed before the dump ended");
	cr_expect_eq(xsync_resync_end(s), 0);
	expect_one_selector(AF_INET, s1, 24, sa_map(&p1).slot, PKT_DEV, XOFF_MODE_TUNNEL);
	cr_expect_eq(stats().policies, 1);
	cr_expect_eq(sa_map(&turned).dir, XOFF_DIR_IN, "template gone: local decides");
	cr_expect_eq(sa_map(&turned).action, XOFF_ACT_CPU);
	cr_expect_eq(sa_count(), 3);
}

Test(sync, resync_abort_keeps, .init = setup, .fini = teardown)
{
	struct sa_ent before[MAX_SAS + 1];
	struct xmsg_sa o[4];
	unsigned int n, i;

	for (i = 0; i < 3; i++) {
		o[i] = sa_in(i);
		sa_add(&o[i]);
	}
	n = sa_dump(x, before, MAX_SAS + 1);
	o[3] = sa_in(3);
	xsync_resync_begin(s);
	sa_add(&o[0]);
	sa_add(&o[3]);
	cr_expect_eq(xsync_resync_abort(s), 0);
	cr_expect_not(xsync_in_resync(s));
	/* What the dump did not show stays; what it showed is applied. */
	sa_map(&o[3]);
	cr_expect_eq(sa_count(), 4);
	cr_expect_eq(stats().sas, 4);
	for (i = 0; i < 3; i++) {
		const struct sa_ent *e = sa_find(before, n, &o[i]);

		expect_entry(&o[i], &e->v, "changed by an aborted resync");
	}

	/* And a complete resync after it still removes what is gone. */
	xsync_resync_begin(s);
	sa_add(&o[3]);
	cr_expect_eq(xsync_resync_end(s), 0);
	cr_expect_eq(sa_count(), 1);
	sa_map(&o[3]);
}

/* ---- Restart with pinned maps ---- */

static char pin_dir[64];
static bool pin_mounted;

static void pin_setup(void)
{
	env_init();
	bpffs_mount(pin_dir, &pin_mounted);
}

static void pin_teardown(void)
{
	watch.on = false;
	teardown();
	bpffs_umount(pin_dir, &pin_mounted);
}

#define NR	8

Test(sync, restart_pinned, .init = pin_setup, .fini = pin_teardown)
{
	struct sa_ent before[MAX_SAS + 1], now[MAX_SAS + 1];
	struct xoff_mirror mir[NR + 1], m;
	struct lpm_ent lb[8], ln[8];
	struct xmsg_sa o[NR + 1], fresh;
	struct xsync_sa_view sv;
	struct xmsg_pol pol;
	char dp[32], sel[32];
	struct xoff_sa_key k;
	unsigned int n, i, two;
	struct xoff_sa v;
	__u32 old1, old2;

	/* Instance 1: inbound, outbound and a packet-offload SA with its selector; all
	 * steered SAs on CPU 0. */
	two = cpus01();
	cfg.ncpus = 1;
	open_xoff(&x, MAX_SAS, pin_dir);
	new_sync(&s, x);
	for (i = 0; i < NR; i++)
		o[i] = i < 6 ? sa_in(i) : sa_out(i);
	o[NR] = sa_pkt(1, dp, sizeof(dp));
	pol = pol_pkt(100, sel, sizeof(sel), dp);
	pol.tmpl[0].reqid = o[NR].reqid;
	for (i = 0; i <= NR; i++)
		sa_add(&o[i]);
	pol_add(&pol);
	/* Soft limits signalled for o[0] (kept) and o[1] (re-added while down). */
	feed(xmsg_expire(buf, &o[0], false));
	feed(xmsg_expire(buf, &o[1], false));
	n = sa_dump(x, before, MAX_SAS + 1);
	cr_assert_eq(n, NR + 1);
	cr_assert_eq(lpm_dump(x, lb, 8), 1);
	for (i = 0; i <= NR; i++)
		mir[i] = mirror_get(x, sa_map(&o[i]).slot);
	cr_assert(mir[1].flags & XOFF_MIRROR_SOFT_SENT);
	old1 = sa_map(&o[1]).slot;
	old2 = sa_map(&o[2]).slot;
	/* Fast-path traffic of o[1]'s old instance: never to show up in the new one. */
	counters_set(x, old1, 42);
	xsync_free(s);
	s = NULL;
	xoff_close(x);
	x = NULL;

	/* Instance 2, both CPUs: reading the pinned maps changes nothing. */
	cfg.ncpus = two;
	open_xoff(&x, MAX_SAS, pin_dir);
	watch_start(x);
	new_sync(&s, x);
	expect_exactly(before, n, o, NR + 1);
	cr_expect_eq(watch.n, 0, "xsync_new wrote to the maps");

	/* The dump: o[1] re-added meanwhile (new add_time), o[2] deleted meanwhile. */
	o[1].add_time += 1000;
	xsync_resync_begin(s);
	for (i = 0; i <= NR; i++)
		if (i != 2)
			sa_add(&o[i]);
	pol_add(&pol);
	cr_expect_eq(xsync_resync_end(s), 0);
	watch.on = false;

	/* Kept SAs: their entries untouched, byte for byte and without a write. */
	cr_expect_eq(sa_dump(x, now, MAX_SAS + 1), NR, "o[2] not removed");
	cr_assert_gt(watch.n, 0, "no write seen: the interposition does not work");
	for (i = 0; i <= NR; i++) {
		const struct sa_ent *b = sa_find(before, n, &o[i]), *e = sa_find(now, NR, &o[i]);

		key_of(&o[i], &k);
		if (i == 2) {
			cr_expect_null(e, "o[2], deleted while down, is still mapped");
			cr_expect_eq(watched(0, &k, true), 1, "o[2] not deleted once");
			continue;
		}
		cr_assert_not_null(e, "o[%u] not mapped after the restart", i);
		if (i == 1)
			continue;
		cr_expect_arr_eq(&e->v, &b->v, sizeof(b->v), "o[%u]: slot %u -> %u, cpu %u -> %u",
				 i, b->v.slot, e->v.slot, b->v.cpu, e->v.cpu);
		cr_expect_eq(watched(0, &k, false) + watched(0, &k, true), 0,
			     "o[%u]'s entry rewritten", i);
		sv = view(&o[i]);
		cr_expect(sv.mapped);
		cr_expect_arr_eq(&sv.mirror, &mir[i], sizeof(mir[i]),
				 "o[%u]'s mirror state not carried over", i);
	}
	cr_expect(view(&o[0]).mirror.flags & XOFF_MIRROR_SOFT_SENT, "soft expire forgotten");
	cr_expect_eq(watched(1, NULL, false) + watched(1, NULL, true), 0, "selectors churned");
	cr_expect_eq(lpm_dump(x, ln, 8), 1);
	cr_expect_arr_eq(ln, lb, sizeof(lb[0]), "selector changed");

	/* o[1], another instance of the SA: rewritten, with a clean slot. */
	key_of(&o[1], &k);
	cr_expect_eq(watched(0, &k, false), 1, "o[1]'s entry not rewritten once");
	v = sa_map(&o[1]);
	cr_expect_neq(v.slot, old1, "the old instance's slot given to the new one unfinished");
	cr_expect_eq(v.action, XOFF_ACT_CPU);
	sv = view(&o[1]);
	cr_expect_eq(sv.mirror.flags, XOFF_MIRROR_USED, "flags 0x%x", sv.mirror.flags);
	cr_expect_eq(sv.mirror.add_time, T0 + 1 + 1000);
	m = mirror_get(x, v.slot);
	cr_expect_eq(m.flags, XOFF_MIRROR_USED, "soft expire of the old instance inherited");
	cr_expect_eq(m.add_time, T0 + 1 + 1000);
	cr_expect_eq(m.packets | m.bytes | m.written_packets | m.written_bytes, 0);
	cr_expect_eq(m.pend_packets | m.target_packets, 0);
	cr_expect_eq(counters_packets(x, v.slot), 0);

	/* The old slots of o[1] and o[2] wait for their final counters, then are clean. */
	cr_expect_eq(stats().quarantined, 2);
	cr_expect_eq(xsync_quarantine_flush(s), 0);
	cr_expect_eq(counters_packets(x, old1), 0);
	expect_mirror_zero(x, old1);
	expect_mirror_zero(x, old2);

	/* The adopted SAs' CPUs count in the balance: new SAs go to the idle CPU. */
	if (two == 2) {
		for (i = 0; i < 3; i++) {
			fresh = sa_in(20 + i);
			sa_add(&fresh);
			cr_expect_eq(sa_map(&fresh).cpu, 1, "new SA %u on the loaded CPU", i);
		}
	}
	cr_expect_eq(stats().map_errors, 0);
}

Test(sync, restart_orphans_removed, .init = pin_setup, .fini = pin_teardown)
{
	struct xmsg_sa a = sa_in(1), b = sa_in(2);
	struct xoff_sa va;

	open_xoff(&x, MAX_SAS, pin_dir);
	new_sync(&s, x);
	sa_add(&a);
	sa_add(&b);
	va = sa_map(&a);
	xsync_free(s);
	s = NULL;

	/* The second instance shares the maps; its first resync shows only a. */
	open_xoff(&x2, MAX_SAS, pin_dir);
	new_sync(&s2, x2);
	xsync_resync_begin(s2);
	feed_to(s2, xmsg_newsa(buf, XFRM_MSG_NEWSA, &a));
	cr_expect_eq(xsync_resync_end(s2), 0);
	expect_entry(&a, &va, "changed by the second instance");
	sa_absent(&b);
	cr_expect_eq(sa_count(), 1);
}

Test(sync, restart_readded_pkt_selector, .init = pin_setup, .fini = pin_teardown)
{
	char d1[32], sel[32];
	struct xmsg_sa a = sa_pkt(1, d1, sizeof(d1));
	struct xmsg_pol p = pol_pkt(100, sel, sizeof(sel), d1);
	__u32 old;

	p.tmpl[0].reqid = a.reqid;
	open_xoff(&x, MAX_SAS, pin_dir);
	new_sync(&s, x);
	sa_add(&a);
	pol_add(&p);
	old = sa_map(&a).slot;
	expect_one_selector(AF_INET, sel, 24, old, PKT_DEV, XOFF_MODE_TUNNEL);
	xsync_free(s);
	s = NULL;
	xoff_close(x);
	x = NULL;

	/* Re-added while down: a new slot, and the selector follows it. */
	open_xoff(&x, MAX_SAS, pin_dir);
	new_sync(&s, x);
	a.add_time += 60;
	xsync_resync_begin(s);
	sa_add(&a);
	pol_add(&p);
	cr_expect_eq(xsync_resync_end(s), 0);
	cr_expect_neq(sa_map(&a).slot, old);
	expect_one_selector(AF_INET, sel, 24, sa_map(&a).slot, PKT_DEV, XOFF_MODE_TUNNEL);
}

/* ---- Bad input ---- */

Test(sync, bad_msg, .init = setup, .fini = teardown)
{
	struct sa_ent before[MAX_SAS + 1];
	struct xmsg_sa a = sa_in(1), b = sa_in(2);
	struct xsync_stats st0;
	struct nlmsghdr *nlh;
	unsigned int n;

	sa_add(&a);
	n = sa_dump(x, before, MAX_SAS + 1);
	st0 = stats();

	/* A NEWSA cut inside its xfrm_usersa_info. */
	nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &b);
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 16;
	cr_expect_eq(xsync_msg(s, nlh), -EBADMSG);
	cr_expect_eq(stats().bad_msgs, st0.bad_msgs + 1);
	cr_expect_eq(stats().msgs, st0.msgs + 1);
	cr_expect_eq(nwarn, 1, "rejection not logged");
	expect_exactly(before, n, &a, 1);
	view_gone(&b);

	/* A DELSA of a known SA cut short: the SA stays. */
	nlh = xmsg_delsa(buf, &a);
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN + 8;
	cr_expect_eq(xsync_msg(s, nlh), -EBADMSG);
	expect_exactly(before, n, &a, 1);
	view(&a);

	/* A NEWSA cut inside its last attribute. */
	nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &b);
	nlh->nlmsg_len -= 8;
	cr_expect_eq(xsync_msg(s, nlh), -EBADMSG);
	view_gone(&b);

	/* Shorter than a netlink header. */
	nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &b);
	nlh->nlmsg_len = 8;
	cr_expect_eq(xsync_msg(s, nlh), -EBADMSG);

	/* An unknown address family. */
	b.family = AF_UNIX;
	nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, &b);
	cr_expect_eq(xsync_msg(s, nlh), -EBADMSG);
	cr_expect_eq(stats().bad_msgs, st0.bad_msgs + 5);
	expect_exactly(before, n, &a, 1);
	cr_expect_eq(stats().sas, 1);
	cr_expect_eq(stats().map_errors, 0);
}

/* ---- MIGRATE ---- */

/* The MIGRATE libreswan sends for a tunnel (one entry, its reqid) moving @o, an SA the
 * shadow knows, to @new_src -> @new_dst; fed as the kernel announces it. */
static struct nlmsghdr *migrate_msg(const struct xmsg_sa *o, __u8 dir, const char *new_src,
				    const char *new_dst)
{
	struct xmsg_migrate mg = {
		.family = family_of(o), .dir = dir, .n = 1,
		.sel_src = family_of(o) == AF_INET ? "10.1.0.0" : "fd01::",
		.sel_dst = family_of(o) == AF_INET ? "10.2.0.0" : "fd02::",
		.prefix_s = 16, .prefix_d = 16,
		.m = { { .old_src = o->src, .old_dst = o->dst, .new_src = new_src,
			 .new_dst = new_dst, .mode = o->mode, .reqid = o->reqid } },
	};

	return xmsg_migrate(buf, &mg);
}

/* What the kernel's dump shows after the move: @o's clone under the new addresses
 * (xfrm_state_clone(): same SPI, algorithms and curlft). */
static struct xmsg_sa moved(const struct xmsg_sa *o, const char *new_src, const char *new_dst)
{
	struct xmsg_sa c = *o;

	c.src = new_src;
	c.dst = new_dst;
	return c;
}

/* A resync whose dump shows @o[0..n). */
static void resync_with(const struct xmsg_sa *o, unsigned int n)
{
	unsigned int i;

	xsync_resync_begin(s);
	for (i = 0; i < n; i++)
		sa_add(&o[i]);
	cr_assert_eq(xsync_resync_end(s), 0, "resync: %s", last_log);
}

/* Our address moves (MOBIKE): the inbound SA's destination, part of its map key, changes.
 * The MIGRATE changes nothing itself; the resync it asks for puts the clone in the map
 * under the new key with the original's whole entry (slot, CPU, sizes), the old key goes,
 * and the CPUs stay balanced. */
Test(sync, migrate_local_move_keeps_slot_and_cpu, .init = setup_cpus, .fini = teardown)
{
	struct sa_ent before[MAX_SAS + 1];
	struct xmsg_sa o[6], now[6];
	struct xoff_sa v0, v;
	unsigned int i, n;

	for (i = 0; i < 4; i++) {
		o[i] = sa_in(i);
		o[i].reqid = 10 + i;	/* other tunnels between the same two addresses */
	}
	o[4] = sa_out(4);
	o[5] = sa_in(5);
	o[5].src = "198.51.100.5";	/* another peer's tunnel: not moved */
	o[5].reqid = 5;
	for (i = 0; i < 6; i++)
		sa_add(&o[i]);
	n = sa_dump(x, before, MAX_SAS + 1);
	v0 = sa_map(&o[1]);

	nwarn = 0;
	feed(migrate_msg(&o[1], XFRM_POLICY_IN, "198.51.100.1", "192.0.2.77"));
	cr_expect_eq(stats().migrates, 1);
	cr_expect(xsync_resync_wanted(s), "a MIGRATE must ask for a resync");
	cr_expect_neq(strstr(last_log, "XFRM migrate (policy in 10.1.0.0/16 -> 10.2.0.0/16)"),
		      NULL, "log: %s", last_log);
	cr_expect_neq(strstr(last_log, "198.51.100.1 -> 192.0.2.1 now 198.51.100.1 -> "
			     "192.0.2.77"), NULL, "log: %s", last_log);
	cr_expect_neq(strstr(last_log, "192.0.2.1 spi 0x00001001"), NULL, "log: %s", last_log);
	cr_expect_eq(nwarn, 0);
	expect_exactly(before, n, o, 6);	/* nothing moves before the dump shows it */

	/* The kernel moved the first SA of those addresses and reqid: o[1]. */
	for (i = 0; i < 6; i++)
		now[i] = o[i];
	now[1] = moved(&o[1], "198.51.100.1", "192.0.2.77");
	resync_with(now, 6);
	cr_expect_not(xsync_resync_wanted(s));
	sa_absent(&o[1]);
	v = sa_map(&now[1]);
	cr_expect_arr_eq(&v, &v0, sizeof(v), "the moved SA's entry changed (slot %u -> %u, "
			 "cpu %u -> %u)", v0.slot, v.slot, v0.cpu, v.cpu);
	cr_expect_eq(stats().quarantined, 0, "the slot went to quarantine, not to the clone");
	cr_expect_eq(stats().sas, 6);
	cr_expect_eq(stats().sas_mapped, 6);
	for (i = 0; i < 6; i++)
		if (i != 1)
			expect_entry(&o[i], &sa_find(before, n, &o[i])->v, "another SA's entry");
	/* Load accounting: each new inbound SA goes to the CPU with fewer of them. */
	for (i = 10; i < 14 && cfg.ncpus == 2; i++) {
		struct xmsg_sa a = sa_in(i);
		struct sa_ent d[MAX_SAS + 1];
		unsigned int m = sa_dump(x, d, MAX_SAS + 1), j, c[2] = { 0 };

		for (j = 0; j < m; j++)
			if (d[j].v.dir == XOFF_DIR_IN)
				c[d[j].v.cpu]++;
		sa_add(&a);
		if (c[0] != c[1])
			cr_expect_eq(sa_map(&a).cpu, c[0] < c[1] ? 0 : 1, "inbound SAs: %u on CPU 0, "
				     "%u on CPU 1, the new one went to the busier", c[0], c[1]);
	}
}

/* The peer moves to another IPv6 address: our outbound SA's key changes (slot kept), the
 * inbound SA's source changes within its key (updated in place); the XFRMA_MIGRATE
 * entries come as two attributes of one message. */
Test(sync, migrate_peer_move_v6, .init = setup_queues, .fini = teardown)
{
	struct xmsg_sa in = { .family = AF_INET6, .dst = "2001:db8:1::1", .src = "2001:db8:5::1",
			      .spi = 0x61, .mode = XFRM_MODE_TUNNEL, .reqid = 6, GCM,
			      .add_time = T0 };
	struct xmsg_sa out = { .family = AF_INET6, .dst = "2001:db8:5::1", .src = "2001:db8:1::1",
			       .spi = 0x62, .mode = XFRM_MODE_TUNNEL, .reqid = 6, GCM,
			       .add_time = T0 + 1 };
	struct xmsg_migrate mg = {
		.family = AF_INET6, .sel_src = "fd01::", .prefix_s = 64, .sel_dst = "fd02::",
		.prefix_d = 64, .dir = XFRM_POLICY_OUT, .n = 2,
		.m = { { .old_src = "2001:db8:1::1", .old_dst = "2001:db8:5::1",
			 .new_src = "2001:db8:1::1", .new_dst = "2001:db8:6::1",
			 .mode = XFRM_MODE_TUNNEL, .reqid = 6 },
		       { .old_src = "2001:db8:5::1", .old_dst = "2001:db8:1::1",
			 .new_src = "2001:db8:6::1", .new_dst = "2001:db8:1::1",
			 .mode = XFRM_MODE_TUNNEL, .reqid = 6 } },
	};
	struct xmsg_sa now[2];
	struct xoff_sa vin, vout, v;

	sa_add(&in);
	sa_add(&out);
	vin = sa_map(&in);
	vout = sa_map(&out);
	cr_assert_neq(vout.queue, XOFF_QUEUE_NONE, "outbound SA without a TX queue");
	feed(xmsg_migrate(buf, &mg));
	now[0] = moved(&in, "2001:db8:6::1", "2001:db8:1::1");
	now[1] = moved(&out, "2001:db8:1::1", "2001:db8:6::1");
	resync_with(now, 2);
	expect_entry(&now[0], &vin, "inbound SA, same key");
	{
		struct xsync_sa_view vw = view(&now[0]);
		xfrm_address_t want;

		xmsg_addr(AF_INET6, "2001:db8:6::1", &want);
		cr_expect_arr_eq(&vw.x.saddr, &want, sizeof(want),
				 "inbound SA's source not updated");
	}
	sa_absent(&out);
	v = sa_map(&now[1]);
	cr_expect_arr_eq(&v, &vout, sizeof(v), "the moved outbound SA's entry changed (slot "
			 "%u -> %u, queue %u -> %u)", vout.slot, v.slot, vout.queue, v.queue);
	cr_expect_eq(stats().quarantined, 0);
	cr_expect_eq(sa_count(), 2);
}

/* Not a clone: a new SA at the new addresses with the SPI but another add_time (deleted
 * and added again), and the clone of an SA the dump still shows: each starts over. */
Test(sync, migrate_not_a_clone, .init = setup, .fini = teardown)
{
	struct xmsg_sa a = sa_in(1), b = sa_in(2), now[3];
	struct xoff_sa va, vb;

	b.src = "198.51.100.2";
	sa_add(&a);
	sa_add(&b);
	va = sa_map(&a);
	vb = sa_map(&b);
	feed(migrate_msg(&a, XFRM_POLICY_IN, "198.51.100.1", "192.0.2.77"));
	feed(migrate_msg(&b, XFRM_POLICY_IN, "198.51.100.2", "192.0.2.78"));
	now[0] = moved(&a, "198.51.100.1", "192.0.2.77");
	now[0].add_time++;
	now[1] = b;
	now[2] = moved(&b, "198.51.100.2", "192.0.2.78");
	resync_with(now, 3);
	sa_absent(&a);
	cr_expect_neq(sa_map(&now[0]).slot, va.slot, "another instance took the slot");
	cr_expect_eq(stats().quarantined, 1);
	cr_expect_eq(sa_map(&b).slot, vb.slot);
	cr_expect_neq(sa_map(&now[2]).slot, vb.slot);
}

/* A MIGRATE the parser rejects changes nothing and asks for nothing. */
Test(sync, migrate_bad, .init = setup, .fini = teardown)
{
	struct xmsg_sa a = sa_in(1);
	struct nlmsghdr *nlh;

	sa_add(&a);
	nlh = migrate_msg(&a, XFRM_POLICY_IN, "198.51.100.1", "192.0.2.77");
	((struct xfrm_userpolicy_id *)mnl_nlmsg_get_payload(nlh))->dir = 7;
	cr_expect_eq(xsync_msg(s, nlh), -EBADMSG);
	cr_expect_neq(strstr(last_log, "rejected: unknown policy direction"), NULL, "log: %s",
		      last_log);
	cr_expect_not(xsync_resync_wanted(s));
	cr_expect_eq(stats().migrates, 0);
	cr_expect_eq(stats().bad_msgs, 1);
}

/* 7.2's MIGRATE_STATE names the SA by SPI and mark. */
Test(sync, migrate_state_by_spi, .init = setup_cpus, .fini = teardown)
{
	struct xmsg_sa a = sa_in(1), c;
	struct xoff_sa va;

	a.mark = true;
	a.mark_v = 3;
	a.mark_m = 0xf;
	sa_add(&a);
	va = sa_map(&a);
	feed(xmsg_migrate_state(buf, &a, "198.51.100.9", "192.0.2.99"));
	cr_expect(xsync_resync_wanted(s));
	cr_expect_neq(strstr(last_log, "XFRM migrate of 192.0.2.1 spi 0x00001001 proto 50: now "
			     "198.51.100.9 -> 192.0.2.99: known here"), NULL, "log: %s", last_log);
	c = moved(&a, "198.51.100.9", "192.0.2.99");
	resync_with(&c, 1);
	expect_entry(&c, &va, "moved by SPI");
	sa_absent(&a);
}

/* ---- Slots ---- */

Test(sync, slot_exhaustion, .init = setup4, .fini = teardown)
{
	struct xmsg_sa a[8];
	bool used[4] = { false };
	struct xoff_sa v;
	unsigned int i;
	__u32 freed;

	for (i = 0; i < 5; i++) {
		a[i] = sa_in(i);
		sa_add(&a[i]);
	}
	for (i = 0; i < 4; i++) {
		v = sa_map(&a[i]);
		cr_expect_not(used[v.slot], "slot %u given twice", v.slot);
		used[v.slot] = true;
	}
	expect_unmapped(&a[4], XSYNC_WHY_FULL);
	cr_expect_eq(sa_count(), 5, "4 served, 1 passed");
	cr_expect_eq(stats().sas, 5);
	cr_expect_eq(stats().sas_mapped, 4);

	/* A delete alone frees nothing: the slot waits for its final counters. */
	freed = sa_map(&a[0]).slot;
	sa_del(&a[0]);
	a[5] = sa_in(5);
	sa_add(&a[5]);
	expect_unmapped(&a[5], XSYNC_WHY_FULL);
	cr_expect_eq(sa_count(), 5, "3 served, 2 passed");

	/* A freed slot goes to an SA waiting for one, at the next message or sweep. */
	cr_expect_eq(xsync_quarantine_flush(s), 0);
	a[6] = sa_in(6);
	sa_add(&a[6]);
	cr_expect_eq(view(&a[4]).mapped + view(&a[5]).mapped + view(&a[6]).mapped, 1,
		     "one of the waiting SAs got the slot");
	for (i = 4; i < 7; i++) {
		if (view(&a[i]).mapped) {
			cr_expect_eq(sa_map(&a[i]).slot, freed);
			cr_expect_eq(view(&a[i]).why, XSYNC_WHY_SW, "says why it is in");
		} else {
			expect_unmapped(&a[i], XSYNC_WHY_FULL);
		}
	}
	cr_expect_eq(sa_count(), 6, "4 served, 2 passed");

	/* One more freed: another waiting SA gets it without a change of its own. */
	sa_del(&a[1]);
	cr_expect_eq(xsync_quarantine_flush(s), 0);
	a[2].cur_packets = 1;
	sa_upd(&a[2]);		/* any message applies */
	cr_expect_eq(view(&a[4]).mapped + view(&a[5]).mapped + view(&a[6]).mapped, 2);
	cr_expect_eq(sa_count(), 5, "4 served, 1 passed");
	cr_expect_eq(stats().sas_mapped, 4);
}

Test(sync, quarantine_flush, .init = setup, .fini = teardown)
{
	struct xmsg_sa a = sa_in(1), b = sa_in(2), c = sa_in(3);
	__u32 sa_slot, sb, sc;

	sa_add(&a);
	sa_slot = sa_map(&a).slot;
	counters_set(x, sa_slot, 9);
	sa_del(&a);
	cr_expect_eq(stats().quarantined, 1);
	cr_expect_eq(mirror_get(x, sa_slot).flags, XOFF_MIRROR_USED, "finished before a flush");

	sa_add(&b);
	sb = sa_map(&b).slot;
	cr_expect_neq(sb, sa_slot, "quarantined slot %u reused", sa_slot);

	cr_expect_eq(xsync_quarantine_flush(s), 0);
	cr_expect_eq(stats().quarantined, 0);
	cr_expect_eq(counters_packets(x, sa_slot), 0, "counters not cleared");
	expect_mirror_zero(x, sa_slot);
	sa_add(&c);
	sc = sa_map(&c).slot;
	cr_expect_eq(sc, sa_slot, "the finished slot %u is the lowest free, got %u", sa_slot, sc);
	cr_expect_eq(mirror_get(x, sc).add_time, T0 + 3);
}

Test(sync, quarantine_sweep, .init = setup, .fini = teardown)
{
	struct xmsg_sa a = sa_in(1), b = sa_in(2), c = sa_in(3);
	__u32 sa_slot;

	sa_add(&a);
	sa_slot = sa_map(&a).slot;
	counters_set(x, sa_slot, 3);
	sa_del(&a);

	/* The sweep right after the release may race programs still counting: it keeps it. */
	cr_expect_eq(sweep(1000), 0);
	cr_expect_eq(stats().quarantined, 1);
	sa_add(&b);
	cr_expect_neq(sa_map(&b).slot, sa_slot);

	/* The next one finishes it. */
	cr_expect_eq(sweep(1001), 0);
	cr_expect_eq(stats().quarantined, 0);
	cr_expect_eq(counters_packets(x, sa_slot), 0);
	sa_add(&c);
	cr_expect_eq(sa_map(&c).slot, sa_slot);
}


/* ---- Authenticated-count keys ---- */

/* The key TC ingress finds an inbound SA's state by (abi.h: SPI, reqid, source). */
static int auth_lookup(const struct xmsg_sa *o, struct xoff_auth *v)
{
	struct xoff_auth_key k;
	__u8 a[16] = { 0 };
	int family = strchr(o->src, ':') ? AF_INET6 : AF_INET;

	cr_assert_eq(inet_pton(family, o->src, a), 1);
	cr_assert_eq(xoff_auth_key_make(&k, family, a, htonl(o->spi), o->reqid), 0);
	return xoff_auth_lookup(x, &k, v);
}

static unsigned int auth_count(void)
{
	return map_count(xoff_map_fd(x, XOFF_MAP_AUTH_SAS));
}

/* Every served inbound SA, and only those, can be found by its secpath, at its slot;
 * two SAs a secpath cannot tell apart are both left out. */
Test(sync, auth_keys_follow_inbound_sas, .init = setup, .fini = teardown)
{
	struct xmsg_sa in1 = sa_in(1), in2 = sa_in(2), out = sa_out(1), twin = sa_in(3);
	struct xmsg_sa alg = sa_in(4);
	struct xoff_auth v;

	alg.aead = "rfc9999(frobnicate)";
	sa_add(&in1);
	sa_add(&in2);
	sa_add(&out);
	sa_add(&alg);
	cr_assert_eq(auth_lookup(&in1, &v), 0);
	cr_expect_eq(v.slot, sa_map(&in1).slot);
	cr_expect_eq(v.mode, XOFF_MODE_TUNNEL);
	cr_assert_eq(auth_lookup(&in2, &v), 0);
	cr_expect_eq(v.slot, sa_map(&in2).slot);
	cr_expect_eq(auth_lookup(&out, &v), -ENOENT, "an outbound SA has no secpath key");
	cr_expect_eq(auth_lookup(&alg, &v), -ENOENT, "an unserved SA has a secpath key");
	cr_expect_eq(auth_count(), 2);
	cr_expect(view(&in1).auth);
	cr_expect_not(view(&out).auth);

	/* The same SPI, reqid and source towards another local address: ambiguous. */
	twin.dst = "192.0.2.9";
	twin.spi = in1.spi;
	sa_add(&twin);
	cr_expect_eq(auth_lookup(&in1, &v), -ENOENT, "an ambiguous secpath key kept");
	cr_expect_not(view(&in1).auth);
	cr_expect_not(view(&twin).auth);
	cr_expect(view(&in1).mapped, "the fast path still serves it");
	cr_expect_eq(stats().auth_conflicts, 2);
	sa_del(&twin);
	cr_assert_eq(auth_lookup(&in1, &v), 0, "the key not back when the twin left");
	cr_expect_eq(v.slot, sa_map(&in1).slot);

	/* Transport mode is counted as such; a deleted SA's key goes. */
	in2.mode = XFRM_MODE_TRANSPORT;
	sa_upd(&in2);
	cr_assert_eq(auth_lookup(&in2, &v), 0);
	cr_expect_eq(v.mode, XOFF_MODE_TRANSPORT);
	sa_del(&in1);
	cr_expect_eq(auth_lookup(&in1, &v), -ENOENT);
	cr_expect_eq(auth_count(), 1);
}

/* After a restart, keys of SAs that are gone are removed at the first resync's end;
 * the others stay. */
Test(sync, auth_keys_after_restart, .init = setup, .fini = teardown)
{
	struct xmsg_sa a = sa_in(1), b = sa_in(2);
	struct xoff_auth v;

	sa_add(&a);
	sa_add(&b);
	cr_expect_eq(auth_count(), 2);
	xsync_free(s);
	s = NULL;
	new_sync(&s, x);
	xsync_resync_begin(s);
	sa_add(&a);	/* as the dump shows it */
	cr_expect_eq(xsync_resync_end(s), 0);
	cr_expect_eq(auth_lookup(&a, &v), 0);
	cr_expect_eq(auth_lookup(&b, &v), -ENOENT, "a gone SA's key kept over a restart");
	cr_expect_eq(auth_count(), 1);
}

/* BEET carries the transport header: counted as transport mode (what follows it). */
Test(sync, beet_counted_as_transport, .init = setup, .fini = teardown)
{
	struct xmsg_sa a = sa_in(1);
	struct xoff_auth v;

	a.mode = XFRM_MODE_BEET;
	sa_add(&a);
	cr_expect_eq(sa_map(&a).mode, XOFF_MODE_TRANSPORT);
	cr_assert_eq(auth_lookup(&a, &v), 0);
	cr_expect_eq(v.mode, XOFF_MODE_TRANSPORT);
}

/* The same identity with another add_time is another SA (deleted and added again while
 * events were lost): a fresh slot, nothing carried over. An UPDSA's add_time is not the
 * SA's (the kernel announces the state it built from the request): it changes nothing. */
Test(sync, readded_sa_starts_afresh, .init = setup, .fini = teardown)
{
	struct xmsg_sa a = sa_in(1);
	__u32 slot;

	sa_add(&a);
	slot = sa_map(&a).slot;
	cr_expect_eq(mirror_get(x, slot).add_time, T0 + 1);
	a.add_time = T0 + 300;
	sa_upd(&a);
	cr_expect_eq(sa_map(&a).slot, slot, "an UPDSA taken for a new SA");
	cr_expect_eq(stats().quarantined, 0);
	a.add_time = T0 + 500;
	sa_add(&a);
	cr_expect_neq(sa_map(&a).slot, slot, "a new instance kept the old one's slot");
	cr_expect_eq(mirror_get(x, sa_map(&a).slot).add_time, T0 + 500);
	cr_expect_eq(stats().quarantined, 1, "the old instance's slot is released");
	cr_expect_eq(stats().sas, 1);
}

/* ---- Per-CPU SAs (RFC 9611) ---- */

/* Inbound software SA @n of CPU @cpu, and outbound SA @n of CPU @cpu. */
static struct xmsg_sa pcpu_in(unsigned int n, __u32 cpu)
{
	struct xmsg_sa o = sa_in(100 + n);

	o.pcpu = true;
	o.pcpu_num = cpu;
	return o;
}

static struct xmsg_sa pcpu_out(unsigned int n, __u32 cpu)
{
	struct xmsg_sa o = sa_out(100 + n);

	o.pcpu = true;
	o.pcpu_num = cpu;
	return o;
}

/* What the view and the map say of a per-CPU SA. */
static enum xsync_pcpu pcpu_of(const struct xmsg_sa *o)
{
	struct xsync_sa_view v = view(o);
	struct xoff_sa m = sa_map(o);

	cr_expect_eq(v.val.flags, m.flags, "spi 0x%x: view and map disagree", o->spi);
	cr_expect(v.x.has_pcpu == o->pcpu && v.x.pcpu_num == o->pcpu_num);
	return xsync_pcpu_of(&v.x, v.mapped, &v.val);
}

/* An inbound per-CPU SA goes to its CPU whatever the load; ordinary SAs balance around
 * them (they count in the load). */
Test(sync, pcpu_inbound_own_cpu, .init = setup_cpus, .fini = teardown)
{
	struct xmsg_sa p[4], o = sa_in(1);
	unsigned int load[2], i;

	if (cfg.ncpus < 2)
		cr_skip_test("SKIP: one CPU");
	for (i = 0; i < 4; i++) {
		p[i] = pcpu_in(i, i ? 1 : 0);
		sa_add(&p[i]);
		cr_expect_eq(sa_map(&p[i]).cpu, p[i].pcpu_num, "pcpu %u SA on CPU %u", p[i].pcpu_num,
			     sa_map(&p[i]).cpu);
		cr_expect_eq(sa_map(&p[i]).action, XOFF_ACT_CPU);
		cr_expect_eq(sa_map(&p[i]).flags, 0);
		cr_expect_eq(pcpu_of(&p[i]), XSYNC_PCPU_CPU);
	}
	cpu_loads(load, 2);
	cr_expect_eq(load[0], 1);
	cr_expect_eq(load[1], 3);
	sa_add(&o);
	cr_expect_eq(sa_map(&o).cpu, 0, "an ordinary SA not on the least loaded CPU");
	cr_expect_eq(pcpu_of(&o), XSYNC_PCPU_NONE);
	/* Its CPU's load goes with it. */
	sa_del(&p[1]);
	sa_del(&p[2]);
	sa_del(&p[3]);
	o = sa_in(2);
	sa_add(&o);
	cr_expect_eq(sa_map(&o).cpu, 1);
}

/* A CPU outside the steering set (or beyond any CPU): placed by load, the reason kept in
 * the entry's flags. */
Test(sync, pcpu_not_in_steering_set, .init = env_init, .fini = teardown)
{
	struct xmsg_sa p = pcpu_in(0, 1), far = pcpu_in(1, 70000), o = sa_in(1);
	struct xoff_sa v;

	if (xoff_nr_cpus() < 2)
		cr_skip_test("SKIP: one CPU");
	cpus[0] = 0;
	cfg.cpus = cpus;
	cfg.ncpus = 1;
	open_xoff(&x, MAX_SAS, NULL);
	new_sync(&s, x);
	sa_add(&p);
	sa_add(&far);
	sa_add(&o);
	v = sa_map(&p);
	cr_expect_eq(v.cpu, 0);
	cr_expect_eq(v.action, XOFF_ACT_CPU);
	cr_expect_eq(v.flags, XOFF_SA_PCPU_ELSEWHERE);
	cr_expect_eq(pcpu_of(&p), XSYNC_PCPU_NOT_STEERED);
	cr_expect_eq(sa_map(&far).cpu, 0);
	cr_expect_eq(pcpu_of(&far), XSYNC_PCPU_NOT_STEERED);
	cr_expect_eq(sa_map(&o).flags, 0, "an ordinary SA flagged");
	cr_expect_eq(nwarn, 0);
}

static void expect_same_entry(const struct xmsg_sa *o, const struct xoff_sa *v0, const char *when)
{
	struct xoff_sa v = sa_map(o);

	cr_expect_arr_eq(&v, v0, sizeof(v), "spi 0x%x: entry changed on %s (slot %u -> %u, "
			 "cpu %u -> %u)", o->spi, when, v0->slot, v.slot, v0->cpu, v.cpu);
}

/* UPDSA, a resync and a failed one leave a per-CPU SA on its CPU with its slot. */
Test(sync, pcpu_kept_across_updsa_and_resync, .init = setup_cpus, .fini = teardown)
{
	struct xmsg_sa a[3] = { pcpu_in(0, 1), sa_in(1), sa_in(2) };
	struct xoff_sa v0 = { 0 };

	if (cfg.ncpus < 2)
		cr_skip_test("SKIP: one CPU");
	sa_add(&a[0]);
	v0 = sa_map(&a[0]);
	sa_add(&a[1]);
	sa_add(&a[2]);
	a[0].cur_bytes = 999;
	sa_upd(&a[0]);
	expect_same_entry(&a[0], &v0, "UPDSA");
	resync_with(a, 3);
	expect_same_entry(&a[0], &v0, "resync");
	xsync_resync_begin(s);
	sa_add(&a[1]);
	cr_assert_eq(xsync_resync_abort(s), 0);
	expect_same_entry(&a[0], &v0, "a failed resync");
	cr_expect_eq(pcpu_of(&a[0]), XSYNC_PCPU_CPU);
}

/* A MIGRATE's clone keeps the original's CPU and slot, and stays on its CPU. */
Test(sync, pcpu_kept_across_migrate, .init = setup_cpus, .fini = teardown)
{
	struct xmsg_sa o[2] = { pcpu_in(0, 1), pcpu_in(1, 0) }, now[2];
	struct xoff_sa v0;

	if (cfg.ncpus < 2)
		cr_skip_test("SKIP: one CPU");
	sa_add(&o[0]);
	sa_add(&o[1]);
	v0 = sa_map(&o[0]);
	feed(migrate_msg(&o[0], XFRM_POLICY_IN, o[0].src, "192.0.2.77"));
	now[0] = moved(&o[0], o[0].src, "192.0.2.77");
	now[1] = o[1];
	resync_with(now, 2);
	sa_absent(&o[0]);
	expect_same_entry(&now[0], &v0, "MIGRATE");
	cr_expect_eq(pcpu_of(&now[0]), XSYNC_PCPU_CPU);
	cr_expect_eq(stats().quarantined, 0);
}

/* A restart adopts the entry; a per-CPU SA that could not be on its CPU before (not a
 * steering target then) goes there once it is one, with its slot. */
Test(sync, pcpu_restart, .init = pin_setup, .fini = pin_teardown)
{
	struct xmsg_sa p = pcpu_in(0, 1);
	struct xoff_sa v0, v;

	if (cpus01() < 2)
		cr_skip_test("SKIP: one CPU");
	cfg.ncpus = 1;
	open_xoff(&x, MAX_SAS, pin_dir);
	new_sync(&s, x);
	sa_add(&p);
	v0 = sa_map(&p);
	cr_expect_eq(v0.cpu, 0);
	cr_expect_eq(v0.flags, XOFF_SA_PCPU_ELSEWHERE);
	xsync_free(s);
	s = NULL;
	xoff_close(x);
	x = NULL;

	cfg.ncpus = 2;
	open_xoff(&x, MAX_SAS, pin_dir);
	new_sync(&s, x);
	resync_with(&p, 1);
	v = sa_map(&p);
	cr_expect_eq(v.slot, v0.slot, "slot %u -> %u", v0.slot, v.slot);
	cr_expect_eq(v.cpu, 1);
	cr_expect_eq(v.flags, 0);
	cr_expect_eq(pcpu_of(&p), XSYNC_PCPU_CPU);
}

/* Offloaded per-CPU SAs are placed as before: no CPU inbound, a queue by load outbound. */
Test(sync, pcpu_offloaded_unchanged, .init = setup_queues, .fini = teardown)
{
	struct xmsg_sa in = pcpu_in(0, 1), out = pcpu_out(1, 3);
	struct xoff_sa v;

	in.offload_ifindex = CRYPTO_DEV;
	in.offload_flags = XFRM_OFFLOAD_INBOUND;
	out.offload_ifindex = CRYPTO_DEV;
	sa_add(&in);
	sa_add(&out);
	v = sa_map(&in);
	cr_expect_eq(v.action, XOFF_ACT_PASS);
	cr_expect_eq(v.flags, 0);
	cr_expect_eq(pcpu_of(&in), XSYNC_PCPU_OFFLOAD);
	v = sa_map(&out);
	cr_expect_eq(v.queue, 0, "the first outbound SA not on the least loaded queue");
	cr_expect_eq(v.flags, 0);
	cr_expect_eq(pcpu_of(&out), XSYNC_PCPU_OFFLOAD);
}

/* TX queues that cover every CPU: an outbound per-CPU SA gets its CPU's; others balance
 * around it. */
Test(sync, pcpu_outbound_own_queue, .init = env_init, .fini = teardown)
{
	unsigned int n = xoff_nr_cpus(), i;
	struct xmsg_sa p[8], o = sa_out(1);

	cfg.tx_queues = n;
	open_xoff(&x, MAX_SAS, NULL);
	new_sync(&s, x);
	for (i = 0; i < n && i < 8; i++) {
		p[i] = pcpu_out(i, n - 1 - i);
		sa_add(&p[i]);
		cr_expect_eq(sa_map(&p[i]).queue, n - 1 - i);
		cr_expect_eq(sa_map(&p[i]).flags, 0);
		cr_expect_eq(pcpu_of(&p[i]), XSYNC_PCPU_QUEUE);
	}
	/* An UPDSA keeps it. */
	p[0].cur_bytes = 5;
	sa_upd(&p[0]);
	cr_expect_eq(sa_map(&p[0]).queue, n - 1);
	sa_add(&o);
	cr_expect_lt(sa_map(&o).queue, n);
	cr_expect_eq(pcpu_of(&o), XSYNC_PCPU_NONE);
}

/* Fewer TX queues than CPUs, or none assigned: the reason is kept; a queue by load. */
Test(sync, pcpu_outbound_no_txq, .init = env_init, .fini = teardown)
{
	unsigned int n = xoff_nr_cpus();
	struct xmsg_sa p = pcpu_out(0, n - 1), q = pcpu_out(1, 0);
	struct xoff_sa v;

	if (n < 2)
		cr_skip_test("SKIP: one CPU");
	open_xoff(&x, MAX_SAS, NULL);
	new_sync(&s, x);	/* tx_queues 0: left to the stack */
	sa_add(&p);
	v = sa_map(&p);
	cr_expect_eq(v.queue, XOFF_QUEUE_NONE);
	cr_expect_eq(v.flags, XOFF_SA_PCPU_ELSEWHERE);
	cr_expect_eq(pcpu_of(&p), XSYNC_PCPU_NO_TXQ);
	xsync_free(s);

	/* n - 1 queues: pcpu n - 1 has none of its own, pcpu 0 has queue 0. */
	cfg.tx_queues = n - 1;
	new_sync(&s, x);
	resync_with(&p, 1);
	v = sa_map(&p);
	cr_expect_lt(v.queue, n - 1);
	cr_expect_eq(v.flags, XOFF_SA_PCPU_ELSEWHERE);
	cr_expect_eq(pcpu_of(&p), XSYNC_PCPU_NO_TXQ);
	sa_add(&q);
	v = sa_map(&q);
	cr_expect_eq(v.queue, 0);
	cr_expect_eq(v.flags, 0);
	cr_expect_eq(pcpu_of(&q), XSYNC_PCPU_QUEUE);
}

/* An UPDSA of a full SA carries the request's pcpu_num, but the kernel keeps its own
 * (xfrm_state_update() does not copy it): the placement stays. */
Test(sync, pcpu_updsa_keeps_the_kernels, .init = setup_cpus, .fini = teardown)
{
	struct xmsg_sa a = pcpu_in(0, 1);
	struct xoff_sa v0;

	if (cfg.ncpus < 2)
		cr_skip_test("SKIP: one CPU");
	sa_add(&a);
	v0 = sa_map(&a);
	cr_assert_eq(v0.cpu, 1);
	a.pcpu = false;		/* ip xfrm state update without pcpu-num */
	sa_upd(&a);
	cr_expect_eq(sa_map(&a).cpu, 1);
	cr_expect_eq(sa_map(&a).flags, v0.flags);
	a.pcpu = true;
	a.pcpu_num = 0;		/* another number: the kernel keeps 1 all the same */
	sa_upd(&a);
	cr_expect_eq(sa_map(&a).cpu, 1);
}

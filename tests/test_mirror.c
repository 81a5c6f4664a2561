// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The counter mirror: authenticated counts in real per-CPU maps written into a scripted
 * kernel's SA lifetimes, through limits, failures, quarantine and restarts; who counts
 * which SA, and the probe of packet offload. Most tests exercise the write path on
 * software SAs with the mirror's test switch (test_software: as if packet-offloaded);
 * those of who counts run without it. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include "bpffs.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
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

#define MAX_SAS		8
#define T0		1700000000ull	/* add_time of the SAs */
#define NOW		1700000100ull	/* wall clock of the first sweep */
#define OFFLOAD_DEV	7		/* an offload device's ifindex (never looked up) */
#define OTHER_DEV	8

#define GCM		.aead = "rfc4106(gcm(aes))", .icv_bits = 128

/* ---- A scripted kernel: per-SA curlft, requests recorded, failures on demand ---- */

#define FK_SAS		8
#define FK_LOG		16

struct fk_sa {
	struct xfrm_sa		id;
	struct xfrm_lifetime_cur cur;
	bool			present;
};

enum fk_crash {
	FK_CRASH_NONE = 0,
	FK_CRASH_AFTER_LANDING,	/* NEWAE applied, then the daemon dies before its commit */
	FK_CRASH_BEFORE_SEND,	/* the daemon dies with the intent logged, NEWAE never sent */
};

struct fk {
	struct fk_sa		sa[FK_SAS];
	unsigned int		nsa;
	unsigned int		getae_calls, newae_calls, newae_landed;
	struct xfrm_sa		newae_sa;	/* the last NEWAE's SA and lifetime */
	struct xfrm_lifetime_cur newae_cur;
	struct {
		__be32			spi;
		bool			hard;
		struct xfrm_lifetime_cur cur;
	} exp[FK_LOG];
	unsigned int		nexp;
	int			getae_err;	/* returned instead of acting, when not 0 */
	int			newae_err;
	enum fk_crash		crash;		/* armed for the next NEWAE */
	int			mirror_fd;	/* where the crash reads the logged intent */
	__u32			crash_slot;
	struct xoff_mirror	crash_copy;	/* the mirror entry as the dying daemon left it */
	bool			crashed;
	bool			lose_answer;	/* the next NEWAE lands, its answer is lost */
	int			expire_err;	/* returned by EXPIRE (not applied), when not 0 */
	bool			expire_crash;	/* the daemon dies as it sends the next EXPIRE */
};

static struct fk fk;

static struct fk_sa *fk_find(const struct xfrm_sa *x)
{
	unsigned int i;

	for (i = 0; i < fk.nsa; i++)
		if (fk.sa[i].present && xfrm_sa_same(&fk.sa[i].id, x))
			return &fk.sa[i];
	return NULL;
}

static struct fk_sa *fk_add(const struct xfrm_sa *x)
{
	struct fk_sa *k;

	cr_assert_lt(fk.nsa, FK_SAS);
	k = &fk.sa[fk.nsa++];
	k->id = *x;
	k->cur = x->curlft;
	k->present = true;
	return k;
}

static int fk_getae(void *ctx, const struct xfrm_sa *sa, struct xfrm_lifetime_cur *cur)
{
	struct fk *f = ctx;
	struct fk_sa *k;

	f->getae_calls++;
	if (f->getae_err)
		return f->getae_err;
	if (!(k = fk_find(sa)))
		return -ESRCH;
	*cur = k->cur;
	return 0;
}

static int fk_newae(void *ctx, const struct xfrm_sa *sa, const struct xfrm_lifetime_cur *cur)
{
	struct fk *f = ctx;
	enum fk_crash crash = f->crash;
	struct fk_sa *k;

	f->newae_calls++;
	f->newae_sa = *sa;
	f->newae_cur = *cur;
	if (crash) {
		/* The intent is logged before the request goes out: what a restart finds. */
		f->crash = FK_CRASH_NONE;
		f->crashed = true;
		cr_assert_eq(bpf_map_lookup_elem(f->mirror_fd, &f->crash_slot, &f->crash_copy), 0);
		cr_assert(f->crash_copy.flags & XOFF_MIRROR_PENDING, "intent not logged before NEWAE");
		if (crash == FK_CRASH_BEFORE_SEND)
			return -EIO;
	} else if (f->newae_err) {
		return f->newae_err;
	}
	if (!(k = fk_find(sa)))
		return -ESRCH;
	k->cur = *cur;
	f->newae_landed++;
	if (f->lose_answer) {
		f->lose_answer = false;
		return -ETIMEDOUT;
	}
	return 0;
}

static int fk_expire(void *ctx, const struct xfrm_sa *sa, bool hard)
{
	struct fk *f = ctx;

	if (f->expire_crash) {
		/* What the record holds as the request would go out: what a restart finds. */
		f->expire_crash = false;
		f->crashed = true;
		cr_assert_eq(bpf_map_lookup_elem(f->mirror_fd, &f->crash_slot, &f->crash_copy), 0);
		return -EIO;
	}
	if (f->expire_err)
		return f->expire_err;
	cr_assert_lt(f->nexp, FK_LOG);
	f->exp[f->nexp].spi = sa->spi;
	f->exp[f->nexp].hard = hard;
	f->exp[f->nexp].cur = sa->curlft;
	f->nexp++;
	return fk_find(sa) ? 0 : -ESRCH;
}

static const struct xmirror_kops fk_ops = {
	.getae = fk_getae,
	.newae = fk_newae,
	.expire = fk_expire,
};

/* ---- The instance under test: real maps, optionally pinned on a private bpffs ---- */

static struct xoff *mx;
static struct xsync *ms;
static struct xmirror *mm;
static char pin_dir[64];
static bool pin_mounted;

static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN || strstr(fmt, "skipping unrecognized data section"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int all_local(void *ctx, int family, const void *addr)
{
	(void)ctx;
	(void)family;
	(void)addr;
	return 1;
}

static void mirror_init(void)
{
	if (geteuid() != 0)
		cr_skip_test("SKIP: needs root (map creation)");
	libbpf_set_print(quiet_print);
	memset(&fk, 0, sizeof(fk));
	fk.mirror_fd = -1;
}

static void pin_init(void)
{
	mirror_init();
	bpffs_mount(pin_dir, &pin_mounted);
}

/* The daemon stops (or dies): nothing is written on the way out. */
static void stop(void)
{
	xmirror_free(mm);
	mm = NULL;
	xsync_free(ms);
	ms = NULL;
	xoff_close(mx);
	mx = NULL;
	fk.mirror_fd = -1;
}

static void mirror_fini(void)
{
	stop();
	bpffs_umount(pin_dir, &pin_mounted);
}

/* The probe's window in these tests: sweeps are a second apart (NOW + i), so a probe
 * spans three of them and judges the traffic of its first half. */
#define PROBE_MS	3000

/* Load xoff (over the pins when mounted) and start a control plane on it; with
 * @software, software SAs are mirrored as packet offload is (the write path's tests). */
static void start_cfg(enum xmirror_mode mode, bool software)
{
	struct xoff_opts o = { .max_sas = MAX_SAS, .pin_dir = pin_mounted ? pin_dir : NULL };
	struct xsync_cfg c = { .is_local = all_local };
	struct xmirror_cfg mc = { .mode = mode, .kops = &fk_ops, .kctx = &fk,
				  .probe_ms = PROBE_MS, .test_software = software };
	int err;

	err = xoff_open(&mx, &o);
	cr_assert_eq(err, 0, "xoff_open: %s", strerror(-err));
	err = xoff_load(mx);
	cr_assert_eq(err, 0, "xoff_load: %s", strerror(-err));
	err = xsync_new(&ms, mx, &c);
	cr_assert_eq(err, 0, "xsync_new: %s", strerror(-err));
	err = xmirror_new(&mm, ms, &mc);
	cr_assert_eq(err, 0, "xmirror_new: %s", strerror(-err));
	fk.mirror_fd = xoff_map_fd(mx, XOFF_MAP_MIRROR);
	cr_assert_geq(fk.mirror_fd, 0);
}

static void start(enum xmirror_mode mode)
{
	start_cfg(mode, true);
}

static struct xfrm_sa parse_sa(const struct nlmsghdr *nlh)
{
	struct xfrm_msg m;
	const char *why = NULL;

	cr_assert_eq(xfrm_parse(nlh, &m, &why), 0, "crafted SA rejected: %s", why);
	return m.sa;
}

/* NEWSA of @o to the control plane, and the SA into the scripted kernel. */
static struct xfrm_sa sa_add(const struct xmsg_sa *o)
{
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh = xmsg_newsa(buf, XFRM_MSG_NEWSA, o);
	struct xfrm_sa x = parse_sa(nlh);
	int err;

	fk_add(&x);
	err = xsync_msg(ms, nlh);
	cr_assert_eq(err, 0, "NEWSA spi 0x%x: %s", o->spi, strerror(-err));
	return x;
}

/* The kernel deleted @o and says so; @keep: it still answers for the identity. */
static void sa_del(const struct xmsg_sa *o, bool keep)
{
	char buf[XMSG_BUF];
	struct nlmsghdr *nlh = xmsg_delsa(buf, o);
	struct xfrm_sa x = parse_sa(nlh);
	struct fk_sa *k = fk_find(&x);
	int err;

	cr_assert_not_null(k);
	k->present = keep;
	err = xsync_msg(ms, nlh);
	cr_assert_eq(err, 0, "DELSA spi 0x%x: %s", o->spi, strerror(-err));
}

/* After a restart: a full dump showing @o (the same instance). */
static void resync(const struct xmsg_sa *o)
{
	char buf[XMSG_BUF];
	int err;

	xsync_resync_begin(ms);
	err = xsync_msg(ms, xmsg_newsa(buf, XFRM_MSG_NEWSA, o));
	cr_assert_eq(err, 0, "dumped SA: %s", strerror(-err));
	err = xsync_resync_end(ms);
	cr_assert_eq(err, 0, "resync end: %s", strerror(-err));
}

static struct xsync_sa_view view(const struct xfrm_sa *x)
{
	struct xsync_sa_view v;

	cr_assert_eq(xsync_sa_get(ms, x, &v), 0, "SA spi 0x%x unknown", ntohl(x->spi));
	return v;
}

static __u32 slot_of(const struct xfrm_sa *x)
{
	struct xsync_sa_view v = view(x);

	cr_assert(v.mapped, "SA spi 0x%x not in the fast path (why %d)", ntohl(x->spi), v.why);
	return v.val.slot;
}

static struct xfrm_lifetime_cur *kcur(const struct xfrm_sa *x)
{
	struct fk_sa *k = fk_find(x);

	cr_assert_not_null(k, "SA spi 0x%x not in the scripted kernel", ntohl(x->spi));
	return &k->cur;
}

/* Per-CPU counters of @slot in @map (authenticated or fast-path), all of them. */
static struct xoff_counters *pcpu_read_map(const char *map, __u32 slot)
{
	int n = xoff_nr_cpus();
	struct xoff_counters *v;

	cr_assert_gt(n, 0);
	v = calloc(n, sizeof(*v));
	cr_assert_not_null(v);
	cr_assert_eq(bpf_map_lookup_elem(xoff_map_fd(mx, map), &slot, v), 0,
		     "counters of slot %u: %s", slot, strerror(errno));
	return v;
}

static void pcpu_write_map(const char *map, __u32 slot, struct xoff_counters *v)
{
	cr_assert_eq(bpf_map_update_elem(xoff_map_fd(mx, map), &slot, v, 0), 0,
		     "counters of slot %u: %s", slot, strerror(errno));
	free(v);
}

static struct xoff_counters *pcpu_read(__u32 slot)
{
	return pcpu_read_map(XOFF_MAP_AUTH, slot);
}

static void pcpu_write(__u32 slot, struct xoff_counters *v)
{
	pcpu_write_map(XOFF_MAP_AUTH, slot, v);
}

/* ESP the fast path saw for @slot before any authentication (forged, replayed or real):
 * never a source of curlft. */
static void fastpath_traffic(__u32 slot, __u64 packets, __u64 bytes)
{
	struct xoff_counters *v = pcpu_read_map(XOFF_MAP_COUNTERS, slot);

	v[0].packets += packets;
	v[0].bytes += bytes;
	v[0].last_seen = 1000;
	pcpu_write_map(XOFF_MAP_COUNTERS, slot, v);
}

/* Authenticated traffic on @slot, spread unevenly over the CPUs: CPU i > 0 takes a share
 * weighted i + 1, CPU 0 the rest. */
static void traffic(__u32 slot, __u64 packets, __u64 bytes)
{
	struct xoff_counters *v = pcpu_read(slot);
	int i, n = xoff_nr_cpus();
	__u64 w = (__u64)n * (n + 1) / 2, p = packets, b = bytes;

	for (i = 1; i < n; i++) {
		v[i].packets += packets * (i + 1) / w;
		v[i].bytes += bytes * (i + 1) / w;
		v[i].last_seen = 1000 + i;
		p -= packets * (i + 1) / w;
		b -= bytes * (i + 1) / w;
	}
	v[0].packets += p;
	v[0].bytes += b;
	v[0].last_seen = 1000;
	pcpu_write(slot, v);
}

/* Set @slot's per-CPU counters to a total lower than before (cleared behind our back). */
static void counters_set(__u32 slot, __u64 packets, __u64 bytes)
{
	struct xoff_counters *v = pcpu_read(slot);
	int n = xoff_nr_cpus();

	memset(v, 0, n * sizeof(*v));
	v[n - 1].packets = packets;
	v[n - 1].bytes = bytes;
	pcpu_write(slot, v);
}

static struct xoff_mirror mirror_entry(__u32 slot)
{
	struct xoff_mirror m;

	cr_assert_eq(bpf_map_lookup_elem(xoff_map_fd(mx, XOFF_MAP_MIRROR), &slot, &m), 0);
	return m;
}

/* One sweep at wall-clock second @now (and as many monotonic ms). */
static int sweep_err(__u64 now)
{
	return xmirror_sweep(mm, now, now * 1000);
}

static void sweep(__u64 now)
{
	int err = sweep_err(now);

	cr_assert_eq(err, 0, "sweep: %s", strerror(-err));
}

/* The decision the daemon stored for the SA in slot @slot. */
static __u8 decision(__u32 slot)
{
	return mirror_entry(slot).decision;
}

/* The daemon's periodic sweep ran once between the SA's arrival and its first packet:
 * tests of what follows a first write start from here (the first sweep is tested in
 * deltas_summed_over_cpus_and_added and the restarts). */
static void idle_sweep(void)
{
	unsigned int n = fk.newae_calls;

	sweep(NOW - 1);
	cr_assert_eq(fk.newae_calls, n, "NEWAE without traffic");
}

static struct xsync_stats stats(void)
{
	struct xsync_stats st;

	xsync_get_stats(ms, &st);
	return st;
}

static struct xmirror_stats mstats(void)
{
	struct xmirror_stats st;

	xmirror_get_stats(mm, &st);
	return st;
}

#define expect_kernel(x, p, b, what)						\
	do {									\
		const struct xfrm_lifetime_cur *c_ = kcur(x);			\
		cr_expect_eq(c_->packets, (__u64)(p), "%s: kernel packets %llu, expected %llu", \
			     what, (unsigned long long)c_->packets, (unsigned long long)(p)); \
		cr_expect_eq(c_->bytes, (__u64)(b), "%s: kernel bytes %llu, expected %llu", \
			     what, (unsigned long long)c_->bytes, (unsigned long long)(b)); \
	} while (0)

/* A software SA the fast path classifies; the kernel knows it with 100 packets and
 * 10000 bytes of its own. */
static const struct xmsg_sa sa_sw = {
	.dst = "192.0.2.1", .src = "198.51.100.1", .spi = 0x1000, .mode = XFRM_MODE_TUNNEL,
	GCM, .cur_packets = 100, .cur_bytes = 10000, .add_time = T0,
};

/* ---- Deltas ---- */

Test(mirror, deltas_summed_over_cpus_and_added, .init = mirror_init, .fini = mirror_fini)
{
	struct xmsg_sa o = sa_sw;
	struct xfrm_sa x;
	struct xsync_sa_view v;
	struct xoff_mirror stored;
	struct xoff_counters sum, *pc;
	unsigned int getae;
	__u32 slot;
	int i, n = xoff_nr_cpus(), busy = 0;

	o.mark = true;
	o.mark_v = 0x10;
	o.mark_m = 0xff;
	start(XMIRROR_ON);
	x = sa_add(&o);
	slot = slot_of(&x);

	traffic(slot, 7, 1000);
	pc = pcpu_read(slot);
	for (i = 0; i < n; i++)
		busy += pc[i].packets != 0;
	free(pc);
	if (n > 1)
		cr_expect_gt(busy, 1, "traffic on one CPU only: the sum is not exercised");
	cr_assert_eq(xoff_counts_read(mx, XOFF_COUNT_AUTH, slot, &sum, NULL), 0);
	cr_assert_eq(sum.packets, 7);

	/* First sweep: the kernel's own counts plus every authenticated count. */
	sweep(NOW);
	cr_expect_eq(decision(slot), XOFF_DECIDE_WRITE);
	cr_assert_eq(fk.newae_calls, 1, "first sweep with traffic: %u NEWAE", fk.newae_calls);
	expect_kernel(&x, 107, 11000, "first sweep");
	cr_expect_eq(fk.newae_cur.add_time, T0, "add_time changed");
	cr_expect_eq(fk.newae_cur.use_time, NOW, "use_time of an unused SA not set");
	cr_expect(xfrm_sa_same(&fk.newae_sa, &x), "NEWAE for another SA");
	cr_expect(fk.newae_sa.has_mark, "NEWAE without the SA's mark");
	cr_expect_eq(fk.newae_sa.mark.v, 0x10);
	cr_expect_eq(fk.newae_sa.mark.m, 0xff);
	v = view(&x);
	cr_expect_eq(v.mirror.packets, 7);
	cr_expect_eq(v.mirror.bytes, 1000);
	cr_expect_eq(v.mirror.written_packets, 7);
	cr_expect_eq(v.mirror.written_bytes, 1000);
	cr_expect_eq(v.mirror.flags & XOFF_MIRROR_PENDING, 0, "write left pending");
	cr_expect(v.mirror.flags & XOFF_MIRROR_WRITE);
	stored = mirror_entry(slot);
	cr_expect_arr_eq(&v.mirror, &stored, sizeof(stored), "mirror map entry differs from memory");

	/* No traffic, no request at all. */
	getae = fk.getae_calls;
	sweep(NOW + 1);
	cr_expect_eq(fk.newae_calls, 1, "NEWAE without traffic");
	cr_expect_eq(fk.getae_calls, getae, "GETAE without traffic");

	/* Only the new delta, onto what the kernel holds; use_time stays. */
	traffic(slot, 3, 300);
	sweep(NOW + 2);
	cr_assert_eq(fk.newae_calls, 2);
	expect_kernel(&x, 110, 11300, "second sweep");
	cr_expect_eq(fk.newae_cur.add_time, T0);
	cr_expect_eq(fk.newae_cur.use_time, NOW, "use_time of a used SA overwritten");
	cr_expect_eq(mstats().writes, 2);
	cr_expect_eq(mstats().errors, 0);
	cr_expect_eq(fk.nexp, 0, "expire without limits");
}

Test(mirror, use_time_kept_when_set, .init = mirror_init, .fini = mirror_fini)
{
	struct xfrm_sa x;

	start(XMIRROR_ON);
	x = sa_add(&sa_sw);
	idle_sweep();
	kcur(&x)->use_time = T0 + 5;	/* the kernel saw a packet itself */
	traffic(slot_of(&x), 1, 50);
	sweep(NOW);
	cr_assert_eq(fk.newae_calls, 1);
	cr_expect_eq(fk.newae_cur.use_time, T0 + 5, "use_time overwritten");
	cr_expect_eq(fk.newae_cur.add_time, T0);
	expect_kernel(&x, 101, 10050, "write");
}

Test(mirror, never_below_the_kernels_value, .init = mirror_init, .fini = mirror_fini)
{
	struct xfrm_sa x;
	__u32 slot;

	start(XMIRROR_ON);
	x = sa_add(&sa_sw);
	slot = slot_of(&x);
	idle_sweep();
	traffic(slot, 4, 400);
	sweep(NOW);
	expect_kernel(&x, 104, 10400, "first write");

	/* The kernel counted by itself meanwhile: its value is kept, the delta added. */
	kcur(&x)->packets += 5;
	kcur(&x)->bytes += 500;
	traffic(slot, 2, 200);
	sweep(NOW + 1);
	cr_assert_eq(fk.newae_calls, 2);
	expect_kernel(&x, 111, 11100, "write after the kernel grew");
	cr_expect_geq(fk.newae_cur.packets, 109, "write below the kernel's value");
}

/* ---- Limits ---- */

Test(mirror, soft_limits_once, .init = mirror_init, .fini = mirror_fini)
{
	struct xmsg_sa op = sa_sw, ob = sa_sw;
	struct xfrm_sa xp, xb;
	__u32 sp, sb;

	/* Packets: 100 of the kernel's own, the limit exactly at 110. */
	op.soft_packets = 110;
	op.hard_packets = 1000;
	/* Bytes: the limit exactly at 10000 + 2000. */
	ob.spi = 0x1001;
	ob.soft_bytes = 12000;
	ob.hard_bytes = 100000;
	start(XMIRROR_ON);
	xp = sa_add(&op);
	xb = sa_add(&ob);
	sp = slot_of(&xp);
	sb = slot_of(&xb);
	idle_sweep();

	traffic(sp, 9, 90);
	traffic(sb, 1, 1999);
	sweep(NOW);
	cr_expect_eq(fk.nexp, 0, "expire below the soft limits");

	traffic(sp, 1, 10);	/* 110 packets: exactly the limit */
	traffic(sb, 1, 1);	/* 12000 bytes: exactly the limit */
	sweep(NOW + 1);
	cr_assert_eq(fk.nexp, 2, "%u expires at the soft limits, expected 2", fk.nexp);
	cr_expect_eq(fk.exp[0].hard, false);
	cr_expect_eq(fk.exp[1].hard, false);
	cr_expect((fk.exp[0].spi == xp.spi && fk.exp[1].spi == xb.spi) ||
		  (fk.exp[0].spi == xb.spi && fk.exp[1].spi == xp.spi), "expires for the wrong SAs");
	cr_expect(view(&xp).mirror.flags & XOFF_MIRROR_SOFT_SENT);
	cr_expect(view(&xb).mirror.flags & XOFF_MIRROR_SOFT_SENT);

	/* Further traffic over several sweeps: never again. */
	traffic(sp, 3, 30);
	traffic(sb, 3, 30);
	sweep(NOW + 2);
	traffic(sp, 3, 30);
	traffic(sb, 3, 30);
	sweep(NOW + 3);
	sweep(NOW + 4);
	cr_expect_eq(fk.nexp, 2, "soft expire sent again");
	cr_expect_eq(mstats().expires_soft, 2);
	cr_expect_eq(mstats().expires_hard, 0);
	expect_kernel(&xp, 116, 10160, "packets SA");
	expect_kernel(&xb, 108, 12060, "bytes SA");
}

Test(mirror, hard_limits_once, .init = mirror_init, .fini = mirror_fini)
{
	struct xmsg_sa op = sa_sw, ob = sa_sw;
	struct xfrm_sa xp, xb;
	__u32 sp, sb;

	op.soft_packets = 105;
	op.hard_packets = 110;
	ob.spi = 0x1001;
	ob.soft_bytes = 11000;
	ob.hard_bytes = 12000;
	start(XMIRROR_ON);
	xp = sa_add(&op);
	sp = slot_of(&xp);
	idle_sweep();
	traffic(sp, 5, 50);
	sweep(NOW);
	cr_assert_eq(fk.nexp, 1);
	cr_expect_eq(fk.exp[0].hard, false, "soft limit: hard expire");

	traffic(sp, 5, 50);	/* 110: exactly the hard limit */
	sweep(NOW + 1);
	cr_assert_eq(fk.nexp, 2, "no hard expire at the limit");
	cr_expect_eq(fk.exp[1].hard, true);
	cr_expect_eq(fk.exp[1].spi, xp.spi);
	cr_expect(view(&xp).mirror.flags & XOFF_MIRROR_HARD_SENT);
	traffic(sp, 1, 10);
	sweep(NOW + 2);
	traffic(sp, 1, 10);
	sweep(NOW + 3);
	cr_expect_eq(fk.nexp, 2, "hard expire sent again");

	xb = sa_add(&ob);
	sb = slot_of(&xb);
	idle_sweep();
	traffic(sb, 1, 1000);
	sweep(NOW + 4);
	cr_assert_eq(fk.nexp, 3);
	cr_expect_eq(fk.exp[2].hard, false);
	traffic(sb, 1, 1000);	/* 12000 bytes: exactly the hard limit */
	sweep(NOW + 5);
	cr_assert_eq(fk.nexp, 4);
	cr_expect_eq(fk.exp[3].hard, true);
	cr_expect_eq(fk.exp[3].spi, xb.spi);
	traffic(sb, 1, 1000);
	sweep(NOW + 6);
	cr_expect_eq(fk.nexp, 4, "hard expire sent again");
	cr_expect_eq(mstats().expires_soft, 2);
	cr_expect_eq(mstats().expires_hard, 2);
}

Test(mirror, hard_and_soft_at_once_sends_hard_only, .init = mirror_init, .fini = mirror_fini)
{
	struct xmsg_sa o = sa_sw;
	struct xfrm_sa x;
	__u32 slot;

	o.soft_packets = 105;
	o.hard_packets = 110;
	start(XMIRROR_ON);
	x = sa_add(&o);
	slot = slot_of(&x);
	idle_sweep();
	traffic(slot, 12, 120);
	sweep(NOW);
	cr_assert_eq(fk.nexp, 1, "%u expires crossing both limits, expected 1", fk.nexp);
	cr_expect_eq(fk.exp[0].hard, true, "soft sent where the kernel sends hard");
	traffic(slot, 1, 10);
	sweep(NOW + 1);
	sweep(NOW + 2);
	cr_expect_eq(fk.nexp, 1, "an expire after the hard one");
	cr_expect_eq(mstats().expires_soft, 0);
}

/* ---- Expiry that converges ---- */

/* An expire the kernel did not take is sent again at every sweep, traffic or not, until
 * it is; then never again. */
Test(mirror, failed_expire_retried_while_idle, .init = mirror_init, .fini = mirror_fini)
{
	struct xmsg_sa o = sa_sw;
	struct xfrm_sa x;
	__u32 slot;

	o.soft_packets = 103;
	o.hard_packets = 106;
	start(XMIRROR_ON);
	x = sa_add(&o);
	slot = slot_of(&x);
	idle_sweep();
	traffic(slot, 4, 400);
	fk.expire_err = -ENOBUFS;
	cr_expect_eq(sweep_err(NOW), -ENOBUFS, "a failed expire not reported");
	expect_kernel(&x, 104, 10400, "the write landed");
	cr_expect(mirror_entry(slot).flags & XOFF_MIRROR_SOFT_DUE, "soft limit not recorded");
	cr_expect_eq(mirror_entry(slot).flags & XOFF_MIRROR_SOFT_SENT, 0);
	cr_expect_eq(fk.nexp, 0);
	cr_expect_eq(sweep_err(NOW + 1), -ENOBUFS, "not retried while idle");
	fk.expire_err = 0;
	sweep(NOW + 2);
	cr_assert_eq(fk.nexp, 1, "the soft expire not sent once the kernel takes it");
	cr_expect_eq(fk.exp[0].hard, false);
	sweep(NOW + 3);
	cr_expect_eq(fk.nexp, 1, "soft expire sent twice");

	/* The hard one alike. */
	traffic(slot, 2, 200);
	fk.expire_err = -EIO;
	sweep_err(NOW + 4);
	sweep_err(NOW + 5);
	cr_expect_eq(fk.nexp, 1);
	fk.expire_err = 0;
	sweep(NOW + 6);
	cr_assert_eq(fk.nexp, 2, "the hard expire never sent");
	cr_expect_eq(fk.exp[1].hard, true);
	sweep(NOW + 7);
	cr_expect_eq(fk.nexp, 2, "hard expire sent twice");
	cr_expect_eq(mstats().expires_soft, 1);
	cr_expect_eq(mstats().expires_hard, 1);
}

/* The daemon is killed between the write's commit and its expire: the next daemon sends
 * it, for an idle SA, once. */
static void killed_before_expire(bool hard)
{
	struct xmsg_sa o = sa_sw;
	struct xfrm_sa x;
	__u32 slot;

	o.soft_packets = 103;
	o.hard_packets = hard ? 105 : 1000;
	start(XMIRROR_ON);
	x = sa_add(&o);
	slot = slot_of(&x);
	idle_sweep();
	traffic(slot, 5, 500);
	fk.expire_crash = true;
	fk.crash_slot = slot;
	sweep_err(NOW);
	cr_assert(fk.crashed, "no expire to die in");
	cr_expect_eq(fk.crash_copy.flags & XOFF_MIRROR_PENDING, 0, "the write not committed");
	cr_expect(fk.crash_copy.flags & (hard ? XOFF_MIRROR_HARD_DUE : XOFF_MIRROR_SOFT_DUE),
		  "the limit not recorded before the expire");
	cr_assert_eq(bpf_map_update_elem(fk.mirror_fd, &slot, &fk.crash_copy, BPF_ANY), 0);
	stop();

	start(XMIRROR_ON);
	resync(&o);
	cr_expect_eq(slot_of(&x), slot);
	sweep(NOW + 10);
	cr_assert_eq(fk.nexp, 1, "the expire of the killed daemon never sent");
	cr_expect_eq(fk.exp[0].hard, hard);
	cr_expect_eq(fk.newae_landed, 1, "the landed write sent again");
	sweep(NOW + 11);
	stop();
	start(XMIRROR_ON);
	resync(&o);
	sweep(NOW + 20);
	cr_expect_eq(fk.nexp, 1, "expire sent again after a second restart");
	expect_kernel(&x, 105, 10500, "the one write");
}

Test(mirror, killed_before_soft_expire, .init = pin_init, .fini = mirror_fini)
{
	killed_before_expire(false);
}

Test(mirror, killed_before_hard_expire, .init = pin_init, .fini = mirror_fini)
{
	killed_before_expire(true);
}

/* ---- Who counts: SAs the kernel counts are never written ---- */

static const struct xmsg_sa sa_pkt = {
	.dst = "198.51.100.7", .src = "192.0.2.1", .spi = 0x2000, .mode = XFRM_MODE_TUNNEL,
	GCM, .offload_ifindex = OFFLOAD_DEV, .offload_flags = XFRM_OFFLOAD_PACKET,
	.cur_packets = 100, .cur_bytes = 10000, .add_time = T0,
};

/* Software and crypto-offload SAs are the kernel's, under every mode (writing them would
 * count their traffic twice); packet offload under on is xoff's. */
static void kernel_counted(enum xmirror_mode mode)
{
	struct xmsg_sa sw = sa_sw, cr = sa_sw, pk = sa_pkt;
	struct xfrm_sa xs, xc, xp;
	int i;

	sw.soft_packets = 101;	/* the kernel signals its own limits */
	cr.spi = 0x1001;
	cr.offload_ifindex = OFFLOAD_DEV;	/* crypto offload: no PACKET flag */
	cr.offload_flags = XFRM_OFFLOAD_INBOUND;
	cr.soft_packets = 101;
	start_cfg(mode, false);
	xs = sa_add(&sw);
	xc = sa_add(&cr);
	xp = sa_add(&pk);
	cr_expect_eq(view(&xs).why, XSYNC_WHY_SW);
	cr_expect_eq(view(&xc).why, XSYNC_WHY_HW_CRYPTO);
	for (i = 0; i < 3; i++) {
		traffic(slot_of(&xs), 5, 500);
		traffic(slot_of(&xc), 5, 500);
		sweep(NOW + i);
	}
	cr_expect_eq(decision(slot_of(&xs)), XOFF_DECIDE_KERNEL);
	cr_expect_eq(decision(slot_of(&xc)), XOFF_DECIDE_KERNEL);
	cr_expect_eq(decision(slot_of(&xp)), mode == XMIRROR_ON ? XOFF_DECIDE_WRITE :
					     mode == XMIRROR_OFF ? XOFF_DECIDE_OFF :
								   XOFF_DECIDE_PROBE);
	cr_expect_eq(fk.newae_calls, 0, "a kernel-counted SA written");
	cr_expect_eq(fk.nexp, 0, "an expire for a kernel-counted SA");
	expect_kernel(&xs, 100, 10000, "software SA");
	expect_kernel(&xc, 100, 10000, "crypto offload SA");
	cr_expect_eq(view(&xs).mirror.flags & (XOFF_MIRROR_WRITE | XOFF_MIRROR_PENDING), 0);
	cr_expect_eq(view(&xc).mirror.flags & (XOFF_MIRROR_WRITE | XOFF_MIRROR_PENDING), 0);
}

Test(mirror, auto_leaves_kernel_counted_sas, .init = mirror_init, .fini = mirror_fini)
{
	kernel_counted(XMIRROR_AUTO);
}

Test(mirror, on_leaves_kernel_counted_sas, .init = mirror_init, .fini = mirror_fini)
{
	kernel_counted(XMIRROR_ON);
}

/* Per device too: mirror-dev on for a device with crypto offload changes nothing. */
Test(mirror, device_on_leaves_crypto_offload, .init = mirror_init, .fini = mirror_fini)
{
	struct xmsg_sa cr = sa_sw;
	struct xfrm_sa xc;

	cr.offload_ifindex = OFFLOAD_DEV;
	cr.offload_flags = XFRM_OFFLOAD_INBOUND;
	start_cfg(XMIRROR_AUTO, false);
	cr_assert_eq(xmirror_set_mode(mm, OFFLOAD_DEV, XMIRROR_ON), 0);
	xc = sa_add(&cr);
	traffic(slot_of(&xc), 5, 500);
	sweep(NOW);
	sweep(NOW + 1);
	cr_expect_eq(decision(slot_of(&xc)), XOFF_DECIDE_KERNEL);
	cr_expect_eq(fk.newae_calls, 0);
	expect_kernel(&xc, 100, 10000, "crypto offload SA, device mode on");
}

/* What the fast path saw before authentication (forged ESP with a live SA's destination
 * and SPI, say) never reaches curlft, in any mode, not even for an SA xoff writes. */
Test(mirror, fastpath_counts_never_written, .init = mirror_init, .fini = mirror_fini)
{
	enum xmirror_mode modes[] = { XMIRROR_AUTO, XMIRROR_ON, XMIRROR_OFF };
	struct xmsg_sa pk = sa_pkt, sw = sa_sw;
	struct xfrm_sa xp, xs;
	unsigned int i, s;

	pk.hard_packets = 101;
	sw.hard_packets = 101;
	for (i = 0; i < 3; i++) {
		memset(&fk, 0, sizeof(fk));
		start_cfg(modes[i], false);
		xp = sa_add(&pk);
		xs = sa_add(&sw);
		for (s = 0; s < 6; s++) {
			fastpath_traffic(slot_of(&xp), 100000, 100000000);
			fastpath_traffic(slot_of(&xs), 100000, 100000000);
			sweep(NOW + s);
		}
		cr_expect_eq(fk.newae_calls, 0, "mode %d: fast-path counts written", modes[i]);
		cr_expect_eq(fk.nexp, 0, "mode %d: an expire from fast-path counts", modes[i]);
		expect_kernel(&xp, 100, 10000, "packet offload SA");
		expect_kernel(&xs, 100, 10000, "software SA");
		if (modes[i] == XMIRROR_AUTO)
			cr_expect_eq(decision(slot_of(&xp)), XOFF_DECIDE_PROBE,
				     "an SA without authenticated traffic decided");
		stop();
	}
	/* Under on, the same SA's authenticated traffic is written, and only that. */
	memset(&fk, 0, sizeof(fk));
	start_cfg(XMIRROR_ON, false);
	xp = sa_add(&sa_pkt);
	fastpath_traffic(slot_of(&xp), 1000, 100000);
	traffic(slot_of(&xp), 3, 300);
	sweep(NOW);
	expect_kernel(&xp, 103, 10300, "authenticated counts only");
}

Test(mirror, off_never_writes, .init = mirror_init, .fini = mirror_fini)
{
	struct xmsg_sa pk = sa_pkt, sw = sa_sw;
	struct xfrm_sa xp, xs;
	int i;

	sw.spi = 0x1001;
	start(XMIRROR_OFF);
	xp = sa_add(&pk);
	xs = sa_add(&sw);
	cr_expect_eq(view(&xp).why, XSYNC_WHY_HW_PACKET);
	for (i = 0; i < 3; i++) {
		traffic(slot_of(&xp), 5, 500);
		traffic(slot_of(&xs), 5, 500);
		sweep(NOW + i);
	}
	cr_expect_eq(decision(slot_of(&xp)), XOFF_DECIDE_OFF);
	cr_expect_eq(decision(slot_of(&xs)), XOFF_DECIDE_OFF);
	cr_expect_eq(fk.newae_calls, 0, "mirror off, yet written");
	expect_kernel(&xp, 100, 10000, "packet offload SA");
	expect_kernel(&xs, 100, 10000, "software SA");

	/* Off per device overrides on for everything else. */
	stop();
	memset(&fk, 0, sizeof(fk));
	start(XMIRROR_ON);
	cr_assert_eq(xmirror_set_mode(mm, OFFLOAD_DEV, XMIRROR_OFF), 0);
	xp = sa_add(&pk);
	xs = sa_add(&sw);
	idle_sweep();
	cr_expect_eq(decision(slot_of(&xp)), XOFF_DECIDE_OFF);
	cr_expect_eq(decision(slot_of(&xs)), XOFF_DECIDE_WRITE);
	traffic(slot_of(&xp), 5, 500);
	traffic(slot_of(&xs), 5, 500);
	sweep(NOW);
	cr_expect_eq(fk.newae_calls, 1);
	expect_kernel(&xp, 100, 10000, "packet offload SA on a device with mirror off");
	expect_kernel(&xs, 105, 10500, "software SA with mirror on");
}

/* off -> on for one device: what nobody counted before the switch is not written (a
 * sudden burst of old traffic would fire limits at once); what follows is. */
Test(mirror, device_override_writes_from_the_switch, .init = mirror_init, .fini = mirror_fini)
{
	struct xmsg_sa on = sa_pkt, other = sa_pkt;
	struct xfrm_sa xo, xt;
	__u32 slot;

	other.spi = 0x2001;
	other.offload_ifindex = OTHER_DEV;
	start(XMIRROR_OFF);
	xo = sa_add(&on);
	xt = sa_add(&other);
	slot = slot_of(&xo);

	traffic(slot, 5, 500);
	traffic(slot_of(&xt), 5, 500);
	sweep(NOW);
	cr_expect_eq(decision(slot), XOFF_DECIDE_OFF);
	traffic(slot, 3, 300);	/* before the switch, never swept: still nobody's */
	cr_assert_eq(xmirror_set_mode(mm, OFFLOAD_DEV, XMIRROR_ON), 0);
	sweep(NOW + 1);
	cr_expect_eq(decision(slot), XOFF_DECIDE_WRITE);
	cr_expect_eq(decision(slot_of(&xt)), XOFF_DECIDE_OFF, "another device's SA switched");
	cr_expect_eq(fk.newae_calls, 0, "traffic from before the switch written");

	traffic(slot, 4, 400);
	traffic(slot_of(&xt), 4, 400);
	sweep(NOW + 2);
	cr_assert_eq(fk.newae_calls, 1);
	cr_expect(xfrm_sa_same(&fk.newae_sa, &xo));
	expect_kernel(&xo, 104, 10400, "switched SA");
	expect_kernel(&xt, 100, 10000, "SA on another device");
}

/* ---- Packet offload in auto: the probe ---- */

/* Authenticated traffic every sweep; the driver reports it a sweep late (mlx5 refreshes
 * its counts about once a second): the probe sees curlft move, and xoff never writes. */
Test(mirror, probe_driver_counts, .init = mirror_init, .fini = mirror_fini)
{
	struct xfrm_sa x;
	__u64 lag_p = 0, lag_b = 0;
	__u32 slot;
	int i;

	start(XMIRROR_AUTO);
	x = sa_add(&sa_pkt);
	slot = slot_of(&x);
	sweep(NOW);		/* no traffic: no probe */
	cr_expect_eq(decision(slot), XOFF_DECIDE_PROBE);
	cr_expect_eq(mstats().probing, 0);
	for (i = 1; i <= 5; i++) {
		kcur(&x)->packets += lag_p;	/* the driver's report of the last second */
		kcur(&x)->bytes += lag_b;
		traffic(slot, 5, 500);
		lag_p = 5;
		lag_b = 500;
		sweep(NOW + i);
		cr_expect_eq(fk.newae_calls, 0, "sweep %d: written while probing", i);
	}
	cr_expect_eq(decision(slot), XOFF_DECIDE_DRIVER, "a driver that counts not detected");
	cr_expect_eq(mstats().probing, 0);
	traffic(slot, 3, 300);
	sweep(NOW + 6);
	cr_expect_eq(fk.newae_calls, 0, "an SA the driver counts written");
	expect_kernel(&x, 120, 12000, "driver-counted SA");
}

/* The driver never reports: once the probe's window has passed with traffic early in it,
 * xoff writes everything since the probe began. */
Test(mirror, probe_driver_silent_writes_everything, .init = mirror_init, .fini = mirror_fini)
{
	struct xfrm_sa x;
	__u32 slot;

	start(XMIRROR_AUTO);
	x = sa_add(&sa_pkt);
	slot = slot_of(&x);
	traffic(slot, 5, 500);
	sweep(NOW);		/* the probe begins */
	cr_expect_eq(mstats().probing, 1);
	traffic(slot, 3, 300);
	sweep(NOW + 1);
	traffic(slot, 1, 100);
	sweep(NOW + 2);		/* half way: traffic since the start */
	cr_expect_eq(fk.newae_calls, 0, "written while probing");
	cr_expect_eq(decision(slot), XOFF_DECIDE_PROBE);
	sweep(NOW + 3);		/* the window is over */
	cr_expect_eq(decision(slot), XOFF_DECIDE_WRITE, "a silent driver not detected");
	cr_assert_eq(fk.newae_calls, 1);
	expect_kernel(&x, 109, 10900, "the probe's traffic lost");
	cr_expect(view(&x).mirror.flags & XOFF_MIRROR_WRITE);

	traffic(slot, 2, 200);
	sweep(NOW + 4);
	cr_expect_eq(fk.newae_calls, 2);
	expect_kernel(&x, 111, 11100, "after the probe");
}

/* An SA without traffic is never decided write, however long it is watched; one whose
 * only traffic came too late in the window for the driver to show it is not either. */
Test(mirror, probe_idle_never_writes, .init = mirror_init, .fini = mirror_fini)
{
	unsigned int getae;
	struct xfrm_sa x;
	__u32 slot;
	int i;

	start(XMIRROR_AUTO);
	x = sa_add(&sa_pkt);
	slot = slot_of(&x);
	for (i = 0; i < 20; i++)
		sweep(NOW + i);
	cr_expect_eq(decision(slot), XOFF_DECIDE_PROBE, "an idle SA decided");
	cr_expect_eq(fk.getae_calls, 0, "an idle SA probed");

	traffic(slot, 1, 100);	/* starts a probe, then nothing in its first half */
	sweep(NOW + 20);
	sweep(NOW + 21);
	sweep(NOW + 22);
	traffic(slot, 1, 100);	/* only late in the window */
	sweep(NOW + 23);
	cr_expect_eq(decision(slot), XOFF_DECIDE_PROBE, "decided on traffic it could not judge");
	cr_expect_eq(fk.newae_calls, 0);
	expect_kernel(&x, 100, 10000, "undecided SA");
	getae = fk.getae_calls;
	sweep(NOW + 23);
	sweep(NOW + 23);
	cr_expect_eq(fk.getae_calls, getae, "an idle SA probed again without new traffic");
	/* The next traffic probes again, and a silent driver is then found out. */
	for (i = 24; i < 28; i++) {
		traffic(slot, 1, 100);
		sweep(NOW + i);
	}
	cr_expect_eq(decision(slot), XOFF_DECIDE_WRITE);
	expect_kernel(&x, 106, 10600, "every authenticated packet since the first probe");
}

/* Outbound packet offload is judged by its authenticated counts too (egress plaintext
 * TC counts by selector into the same slot). */
Test(mirror, probe_outbound, .init = mirror_init, .fini = mirror_fini)
{
	struct xmsg_sa o = sa_pkt;
	struct xfrm_sa x;
	__u32 slot;
	int i;

	o.offload_flags = XFRM_OFFLOAD_PACKET;	/* without INBOUND: outbound */
	o.spi = 0x2002;
	start(XMIRROR_AUTO);
	x = sa_add(&o);
	slot = slot_of(&x);
	cr_expect_eq(view(&x).val.dir, XOFF_DIR_OUT);
	for (i = 0; i < 4; i++) {
		traffic(slot, 2, 200);
		sweep(NOW + i);
	}
	cr_expect_eq(decision(slot), XOFF_DECIDE_WRITE);
	expect_kernel(&x, 108, 10800, "outbound packet offload");
}

/* ---- Failures of the request ---- */

Test(mirror, newae_error_retried, .init = mirror_init, .fini = mirror_fini)
{
	struct xsync_sa_view v;
	struct xfrm_sa x;
	__u32 slot;

	start(XMIRROR_ON);
	x = sa_add(&sa_sw);
	slot = slot_of(&x);
	idle_sweep();
	traffic(slot, 5, 500);
	fk.newae_err = -EIO;
	cr_expect_eq(sweep_err(NOW), -EIO, "a failed write not reported");
	expect_kernel(&x, 100, 10000, "failed write");
	v = view(&x);
	cr_expect_eq(v.mirror.packets, 0, "a failed write committed");
	cr_expect_eq(v.mirror.written_packets, 0);
	cr_expect_eq(v.mirror.flags & XOFF_MIRROR_PENDING, 0);
	cr_expect_eq(mirror_entry(slot).flags & XOFF_MIRROR_PENDING, 0, "intent left in the map");
	cr_expect_eq(mirror_entry(slot).packets, 0);
	cr_expect_geq(mstats().errors, 1);

	fk.newae_err = 0;
	traffic(slot, 2, 200);
	sweep(NOW + 1);
	expect_kernel(&x, 107, 10700, "retry");
	cr_expect_eq(fk.newae_landed, 1);
	cr_expect_eq(view(&x).mirror.written_packets, 7);
}

Test(mirror, sa_gone_is_no_error, .init = mirror_init, .fini = mirror_fini)
{
	struct xfrm_sa x;
	__u32 slot;

	start(XMIRROR_ON);
	x = sa_add(&sa_sw);
	slot = slot_of(&x);
	idle_sweep();
	traffic(slot, 5, 500);

	/* Deleted between GETAE and NEWAE. */
	fk.newae_err = -ESRCH;
	sweep(NOW);
	cr_expect_eq(fk.newae_calls, 1);
	cr_expect_eq(view(&x).mirror.packets, 0, "a write to a gone SA committed");
	cr_expect_eq(view(&x).mirror.flags & XOFF_MIRROR_PENDING, 0);
	expect_kernel(&x, 100, 10000, "nothing landed");

	/* Gone before GETAE. */
	fk.newae_err = 0;
	fk.getae_err = -ESRCH;
	sweep(NOW + 1);
	cr_expect_eq(fk.newae_calls, 1, "NEWAE for an SA GETAE did not find");
	cr_expect_eq(view(&x).mirror.packets, 0);

	/* Back (the DELSA never came): everything, once. */
	fk.getae_err = 0;
	sweep(NOW + 2);
	cr_expect_eq(fk.newae_calls, 2);
	expect_kernel(&x, 105, 10500, "after the SA reappeared");
}

/* ---- Counters that go backwards ---- */

Test(mirror, counters_backwards_rebase, .init = mirror_init, .fini = mirror_fini)
{
	struct xfrm_sa x;
	__u32 slot;

	start(XMIRROR_ON);
	x = sa_add(&sa_sw);
	slot = slot_of(&x);
	idle_sweep();
	traffic(slot, 10, 1000);
	sweep(NOW);
	expect_kernel(&x, 110, 11000, "first write");

	counters_set(slot, 3, 300);
	sweep(NOW + 1);
	cr_expect_eq(fk.newae_calls, 1, "written after the counters went back");
	expect_kernel(&x, 110, 11000, "after the clear");
	cr_expect_eq(view(&x).mirror.packets, 3, "baseline not moved");
	cr_expect_eq(mirror_entry(slot).packets, 3, "baseline not stored");
	cr_expect_eq(mirror_entry(slot).bytes, 300);

	traffic(slot, 4, 400);
	sweep(NOW + 2);
	cr_expect_eq(fk.newae_calls, 2);
	expect_kernel(&x, 114, 11400, "after the new baseline");
}

/* ---- Quarantine: a released slot's last counts, then a clean slot ---- */

static void quarantine(bool kernel_keeps)
{
	struct xmsg_sa ob = sa_sw, oc = sa_sw;
	struct xoff_counters sum;
	struct xoff_mirror m, zero = { 0 };
	struct xfrm_sa xa, xb, xc;
	unsigned int getae;
	__u32 sa_slot;

	ob.spi = 0x1001;
	oc.spi = 0x1002;
	oc.add_time = T0 + 50;
	start(XMIRROR_ON);
	xa = sa_add(&sa_sw);
	sa_slot = slot_of(&xa);
	idle_sweep();
	traffic(sa_slot, 5, 500);
	sweep(NOW);
	expect_kernel(&xa, 105, 10500, "before the delete");

	traffic(sa_slot, 4, 400);	/* counted after the last sweep */
	sa_del(&sa_sw, kernel_keeps);
	cr_expect_eq(stats().quarantined, 1);

	/* The next sweep leaves it: a program may still hold the slot. */
	sweep(NOW + 1);
	cr_expect_eq(fk.newae_calls, 1, "quarantined slot written early");
	cr_expect_eq(stats().quarantined, 1);
	xb = sa_add(&ob);
	cr_expect_neq(slot_of(&xb), sa_slot, "a quarantined slot given to a new SA");

	/* The one after writes the final counts (where the SA still exists) and frees it. */
	getae = fk.getae_calls;
	sweep(NOW + 2);
	cr_expect_gt(fk.getae_calls, getae, "final counts not attempted");
	cr_expect_eq(stats().quarantined, 0);
	if (kernel_keeps) {
		cr_expect_eq(fk.newae_calls, 2, "final counts not written");
		cr_expect(xfrm_sa_same(&fk.newae_sa, &xa));
		expect_kernel(&xa, 109, 10900, "final counts");
	} else {
		cr_expect_eq(fk.newae_calls, 1, "NEWAE for a gone SA");
		cr_expect_eq(fk.newae_landed, 1);
	}
	cr_assert_eq(xoff_counters_read(mx, sa_slot, &sum, NULL), 0);
	cr_expect_eq(sum.packets, 0, "slot's counters not zeroed");
	cr_expect_eq(sum.bytes, 0);
	cr_expect_eq(sum.last_seen, 0);
	m = mirror_entry(sa_slot);
	cr_expect_arr_eq(&m, &zero, sizeof(m), "slot's mirror entry not zeroed");

	/* A new SA gets the slot clean: only its own traffic is written. */
	xc = sa_add(&oc);
	cr_expect_eq(slot_of(&xc), sa_slot, "the freed slot was not reused");
	m = mirror_entry(sa_slot);
	cr_expect_eq(m.flags, XOFF_MIRROR_USED);
	cr_expect_eq(m.add_time, T0 + 50);
	cr_expect_eq(m.packets | m.written_packets | m.pend_packets | m.target_packets, 0);
	idle_sweep();
	traffic(sa_slot, 2, 200);
	sweep(NOW + 3);
	expect_kernel(&xc, 102, 10200, "new SA in the reused slot");
	cr_expect_eq(view(&xc).mirror.written_packets, 2);
}

Test(mirror, quarantine_writes_final_counts, .init = mirror_init, .fini = mirror_fini)
{
	quarantine(true);
}

Test(mirror, quarantine_sa_gone_skipped, .init = mirror_init, .fini = mirror_fini)
{
	quarantine(false);
}

/* ---- MIGRATE ---- */

/* The kernel moves @o to @new_src -> @new_dst (xfrm_state_migrate(): a clone with the
 * SPI and curlft, the original deleted; @drop_offload: as 6.1 and 6.12 do), announces it,
 * and the resync that follows shows the clone, returned (its description in @c). */
static struct xfrm_sa migrate(const struct xmsg_sa *o, struct xmsg_sa *c, const char *new_src,
			      const char *new_dst, bool drop_offload)
{
	char buf[XMSG_BUF];
	struct xmsg_migrate mg = {
		.dir = XFRM_POLICY_OUT, .n = 1,
		.m = { { .old_src = o->src, .old_dst = o->dst, .new_src = new_src,
			 .new_dst = new_dst, .mode = o->mode, .reqid = o->reqid } },
	};
	struct xfrm_sa old, x;
	struct fk_sa *k;
	int err;

	*c = *o;
	c->src = new_src;
	c->dst = new_dst;
	if (drop_offload)
		c->offload_ifindex = c->offload_flags = 0;
	old = parse_sa(xmsg_newsa(buf, XFRM_MSG_NEWSA, o));
	k = fk_find(&old);
	cr_assert_not_null(k);
	x = parse_sa(xmsg_newsa(buf, XFRM_MSG_NEWSA, c));
	x.curlft = k->cur;
	k->present = false;
	fk_add(&x);
	err = xsync_msg(ms, xmsg_migrate(buf, &mg));
	cr_assert_eq(err, 0, "MIGRATE: %s", strerror(-err));
	resync(c);
	return x;
}

/* An SA xoff writes moves between two sweeps: the clone goes on in the same slot, so the
 * counts not yet written at the move reach the clone, once, and so does what follows. */
Test(mirror, migrate_written_counts_go_on, .init = mirror_init, .fini = mirror_fini)
{
	struct xmsg_sa c;
	struct xfrm_sa x, xc;
	__u32 slot;

	start(XMIRROR_ON);
	x = sa_add(&sa_sw);
	slot = slot_of(&x);
	idle_sweep();
	traffic(slot, 7, 700);
	sweep(NOW);
	expect_kernel(&x, 107, 10700, "before the move");
	traffic(slot, 3, 300);		/* not swept when the kernel moves the SA */
	xc = migrate(&sa_sw, &c, "198.51.100.1", "192.0.2.77", false);
	cr_expect_eq(slot_of(&xc), slot, "the clone has another slot");
	cr_expect_eq(stats().quarantined, 0);
	sweep(NOW + 1);
	cr_expect_eq(decision(slot), XOFF_DECIDE_WRITE);
	expect_kernel(&xc, 110, 11000, "the clone, first sweep");
	traffic(slot, 5, 500);
	sweep(NOW + 2);
	expect_kernel(&xc, 115, 11500, "the clone, second sweep");
	cr_expect_eq(mstats().errors, 0);
	cr_expect_eq(view(&xc).mirror.written_packets, 15);
}

/* A packet-offload SA xoff writes loses its offload in the move (6.1, 6.12): from then on
 * the kernel counts the clone, in a slot of its own; the old slot's last counts reach
 * the clone through the quarantine, as a deleted SA's reach the SA, and nothing the
 * kernel counts is written. */
Test(mirror, migrate_dropping_offload_writes_last_counts, .init = mirror_init,
     .fini = mirror_fini)
{
	struct xmsg_sa c;
	struct xfrm_sa x, xc;
	__u32 slot, nslot;

	start_cfg(XMIRROR_AUTO, false);
	cr_assert_eq(xmirror_set_mode(mm, OFFLOAD_DEV, XMIRROR_ON), 0);
	x = sa_add(&sa_pkt);
	slot = slot_of(&x);
	idle_sweep();
	cr_expect_eq(decision(slot), XOFF_DECIDE_WRITE);
	traffic(slot, 5, 500);
	sweep(NOW);
	expect_kernel(&x, 105, 10500, "before the move");
	traffic(slot, 3, 300);		/* not yet written at the move */
	xc = migrate(&sa_pkt, &c, "192.0.2.1", "198.51.100.8", true);
	nslot = slot_of(&xc);
	cr_expect_neq(nslot, slot, "the clone, counted by the kernel, took the written slot");
	cr_expect_eq(stats().quarantined, 1);
	traffic(nslot, 4, 400);		/* the kernel's now: never written */
	sweep(NOW + 1);
	cr_expect_eq(decision(nslot), XOFF_DECIDE_KERNEL);
	sweep(NOW + 2);
	cr_expect_eq(stats().quarantined, 0);
	expect_kernel(&xc, 108, 10800, "the clone after the quarantine");
	cr_expect(xfrm_sa_same(&fk.newae_sa, &xc), "the last counts went elsewhere");
}

/* ---- Restarts over pinned maps ---- */

Test(mirror, restart_no_loss_no_double_count, .init = pin_init, .fini = mirror_fini)
{
	struct xmsg_sa o = sa_sw;
	struct xfrm_sa x;
	__u32 slot;

	o.soft_packets = 105;
	start(XMIRROR_ON);
	x = sa_add(&o);
	slot = slot_of(&x);
	idle_sweep();
	traffic(slot, 5, 500);
	sweep(NOW);
	expect_kernel(&x, 105, 10500, "before the restart");
	cr_assert_eq(fk.nexp, 1, "soft limit");
	traffic(slot, 3, 300);	/* never swept by the first daemon */
	stop();

	start(XMIRROR_ON);
	traffic(slot, 2, 200);	/* while the second daemon starts */
	resync(&o);
	cr_expect_eq(slot_of(&x), slot, "the SA lost its slot over the restart");
	cr_expect_eq(decision(slot), XOFF_DECIDE_WRITE, "the stored decision lost");
	sweep(NOW + 10);
	cr_expect_eq(fk.newae_calls, 2, "%u NEWAE, expected one per daemon", fk.newae_calls);
	expect_kernel(&x, 110, 11000, "after the restart");
	sweep(NOW + 11);
	cr_expect_eq(fk.newae_calls, 2, "a sweep without traffic wrote");
	cr_expect_eq(view(&x).mirror.written_packets, 10);
	cr_expect_eq(fk.nexp, 1, "soft expire sent again after the restart");
}

/* mirror off -> on across a restart: what nobody counted under the first daemon (swept
 * or not) is never written; only traffic after the switch is. A driver that counts,
 * found by a probe, stays the counter over a restart under auto. */
Test(mirror, restart_off_to_on_writes_from_the_switch, .init = pin_init, .fini = mirror_fini)
{
	struct xfrm_sa x;
	__u32 slot;

	start(XMIRROR_OFF);
	x = sa_add(&sa_sw);
	slot = slot_of(&x);
	traffic(slot, 5, 500);
	sweep(NOW);
	traffic(slot, 3, 300);	/* never swept by the first daemon: nobody's too */
	cr_expect_eq(fk.newae_calls, 0);
	cr_expect_eq(decision(slot), XOFF_DECIDE_OFF);
	stop();

	start(XMIRROR_ON);
	resync(&sa_sw);
	cr_expect_eq(slot_of(&x), slot);
	sweep(NOW + 10);
	cr_expect_eq(decision(slot), XOFF_DECIDE_WRITE);
	cr_expect_eq(fk.newae_calls, 0, "traffic from before the switch written");
	expect_kernel(&x, 100, 10000, "at the switch");
	traffic(slot, 4, 400);
	sweep(NOW + 11);
	expect_kernel(&x, 104, 10400, "after the switch");

	/* And back to off, then on again: the traffic under off stays unwritten. */
	stop();
	start(XMIRROR_OFF);
	resync(&sa_sw);
	traffic(slot, 2, 200);
	sweep(NOW + 12);
	stop();
	start(XMIRROR_ON);
	resync(&sa_sw);
	sweep(NOW + 13);
	expect_kernel(&x, 104, 10400, "off's traffic written");
	traffic(slot, 1, 100);
	sweep(NOW + 14);
	expect_kernel(&x, 105, 10500, "after the second switch");
}

Test(mirror, restart_keeps_a_probed_driver, .init = pin_init, .fini = mirror_fini)
{
	struct xfrm_sa x;
	__u32 slot;
	int i;

	start(XMIRROR_AUTO);
	x = sa_add(&sa_pkt);
	slot = slot_of(&x);
	for (i = 0; i < 5; i++) {
		traffic(slot, 5, 500);
		kcur(&x)->packets += 5;	/* the driver counts */
		sweep(NOW + i);
	}
	cr_expect_eq(decision(slot), XOFF_DECIDE_DRIVER);
	stop();

	start(XMIRROR_AUTO);
	resync(&sa_pkt);
	traffic(slot, 5, 500);
	sweep(NOW + 10);
	cr_expect_eq(decision(slot), XOFF_DECIDE_DRIVER, "probed again after a restart");
	cr_expect_eq(fk.newae_calls, 0);
}

/* The kernel replaced the SA while no daemon ran (same identity, another add_time): the
 * old instance's counts go to nobody, the new one starts from a clean slot. */
Test(mirror, restart_new_instance_not_credited, .init = pin_init, .fini = mirror_fini)
{
	struct xmsg_sa o2 = sa_sw;
	char buf[XMSG_BUF];
	struct xoff_counters sum;
	struct xfrm_sa x, x2;
	__u32 slot, slot2;

	o2.add_time = T0 + 60;
	o2.cur_packets = 0;
	o2.cur_bytes = 0;
	start(XMIRROR_ON);
	x = sa_add(&sa_sw);
	slot = slot_of(&x);
	idle_sweep();
	traffic(slot, 5, 500);
	sweep(NOW);
	traffic(slot, 3, 300);	/* the old instance's, never swept */
	stop();

	fk_find(&x)->present = false;
	start(XMIRROR_ON);
	x2 = parse_sa(xmsg_newsa(buf, XFRM_MSG_NEWSA, &o2));
	fk_add(&x2);
	resync(&o2);
	slot2 = slot_of(&x2);
	cr_expect_neq(slot2, slot, "a new instance adopted the old one's slot");
	cr_assert_eq(xoff_counters_read(mx, slot2, &sum, NULL), 0);
	cr_expect_eq(sum.packets, 0, "a new instance's slot with counts");
	idle_sweep();
	sweep(NOW + 10);
	cr_expect_eq(fk.newae_calls, 1, "the old instance's counts written");
	expect_kernel(&x2, 0, 0, "new instance");
	cr_assert_eq(xoff_counters_read(mx, slot, &sum, NULL), 0);
	cr_expect_eq(sum.packets, 0, "the old slot not finished");
	cr_expect_eq(mirror_entry(slot).flags, 0, "the old slot's mirror entry left");

	traffic(slot2, 2, 200);
	sweep(NOW + 11);
	expect_kernel(&x2, 2, 200, "new instance's own traffic");
}

/* The kernel signalled the soft limit for its own share: xoff does not signal it again. */
Test(mirror, kernel_soft_expire_not_repeated, .init = mirror_init, .fini = mirror_fini)
{
	struct xmsg_sa o = sa_sw;
	char buf[XMSG_BUF];
	struct xfrm_sa x;
	__u32 slot;

	o.soft_packets = 105;
	start(XMIRROR_ON);
	x = sa_add(&o);
	slot = slot_of(&x);
	idle_sweep();
	cr_assert_eq(xsync_msg(ms, xmsg_expire(buf, &o, false)), 0);
	cr_expect(mirror_entry(slot).flags & XOFF_MIRROR_SOFT_SENT, "kernel's soft expire not kept");
	traffic(slot, 6, 600);
	sweep(NOW);
	expect_kernel(&x, 106, 10600, "write past the soft limit");
	cr_expect_eq(fk.nexp, 0, "soft expire sent after the kernel's");
}

/* Where in its commit the first daemon stopped (after the write landed). */
enum commit_cut { CUT_NONE, CUT_AFTER_COUNTS, CUT_AFTER_WRITTEN };

/* The first daemon dies in its first write; the second finds the logged intent. */
static struct xfrm_sa crash_cut_and_restart(enum fk_crash how, enum commit_cut cut)
{
	struct xoff_mirror m;
	struct xfrm_sa x;
	__u32 slot;

	start(XMIRROR_ON);
	x = sa_add(&sa_sw);
	slot = slot_of(&x);
	idle_sweep();
	traffic(slot, 5, 500);
	fk.crash = how;
	fk.crash_slot = slot;
	sweep_err(NOW);
	cr_assert(fk.crashed, "no NEWAE to crash in");
	cr_expect_eq(fk.crash_copy.pend_packets, 5);
	cr_expect_eq(fk.crash_copy.target_packets, 105);
	cr_expect_eq(fk.crash_copy.target_bytes, 10500);
	cr_expect_eq(fk.crash_copy.pend_written_packets, 5);
	cr_expect_eq(fk.crash_copy.pend_written_bytes, 500);
	/* A stop inside the commit: some of its assignments done, PENDING still set. */
	if (cut == CUT_AFTER_COUNTS) {
		fk.crash_copy.packets = fk.crash_copy.pend_packets;
		fk.crash_copy.bytes = fk.crash_copy.pend_bytes;
	} else if (cut == CUT_AFTER_WRITTEN) {
		fk.crash_copy.written_packets = fk.crash_copy.pend_written_packets;
		fk.crash_copy.written_bytes = fk.crash_copy.pend_written_bytes;
	}
	/* What the pinned entry holds at the moment of death. */
	cr_assert_eq(bpf_map_update_elem(fk.mirror_fd, &slot, &fk.crash_copy, BPF_ANY), 0);
	stop();

	start(XMIRROR_ON);
	m = mirror_entry(slot);
	cr_assert(m.flags & XOFF_MIRROR_PENDING, "intent lost over the restart");
	resync(&sa_sw);
	cr_expect_eq(slot_of(&x), slot);
	return x;
}

static struct xfrm_sa crash_and_restart(enum fk_crash how)
{
	return crash_cut_and_restart(how, CUT_NONE);
}

/* Every commit step is an assignment: a stop between any two leaves counts and the
 * written totals exact. */
static void cut_commit(enum commit_cut cut)
{
	struct xfrm_sa x = crash_cut_and_restart(FK_CRASH_AFTER_LANDING, cut);
	struct xoff_mirror m;

	sweep(NOW + 10);
	cr_expect_eq(fk.newae_calls, 1, "a landed write sent again");
	expect_kernel(&x, 105, 10500, "after the restart");
	m = mirror_entry(slot_of(&x));
	cr_expect_eq(m.flags & XOFF_MIRROR_PENDING, 0, "intent not resolved");
	cr_expect_eq(m.packets, 5);
	cr_expect_eq(m.bytes, 500);
	cr_expect_eq(m.written_packets, 5, "written %llu", (unsigned long long)m.written_packets);
	cr_expect_eq(m.written_bytes, 500);
	cr_expect_eq(m.pend_written_packets, 0);
}

Test(mirror, restart_in_commit_after_counts, .init = pin_init, .fini = mirror_fini)
{
	cut_commit(CUT_AFTER_COUNTS);
}

Test(mirror, restart_in_commit_after_written, .init = pin_init, .fini = mirror_fini)
{
	cut_commit(CUT_AFTER_WRITTEN);
}

Test(mirror, restart_after_landed_write_not_doubled, .init = pin_init, .fini = mirror_fini)
{
	struct xfrm_sa x = crash_and_restart(FK_CRASH_AFTER_LANDING);
	__u32 slot = slot_of(&x);

	expect_kernel(&x, 105, 10500, "the write before the crash");
	sweep(NOW + 10);
	cr_expect_eq(fk.newae_calls, 1, "a landed write sent again");
	expect_kernel(&x, 105, 10500, "after the restart");
	cr_expect_eq(view(&x).mirror.flags & XOFF_MIRROR_PENDING, 0);
	cr_expect_eq(mirror_entry(slot).flags & XOFF_MIRROR_PENDING, 0, "intent not resolved");
	cr_expect_eq(view(&x).mirror.packets, 5);
	cr_expect_eq(view(&x).mirror.written_packets, 5);

	traffic(slot, 2, 200);
	sweep(NOW + 11);
	expect_kernel(&x, 107, 10700, "after more traffic");
}

/* As above, with traffic while no daemon ran: the intent resolves, then only the rest. */
Test(mirror, restart_after_landed_write_then_traffic, .init = pin_init, .fini = mirror_fini)
{
	struct xfrm_sa x = crash_and_restart(FK_CRASH_AFTER_LANDING);

	traffic(slot_of(&x), 1, 100);
	sweep(NOW + 10);
	cr_expect_eq(fk.newae_landed, 2, "%u writes landed, expected 2", fk.newae_landed);
	expect_kernel(&x, 106, 10600, "after the restart");
	cr_expect_eq(view(&x).mirror.written_packets, 6);
}

Test(mirror, restart_after_unsent_write_writes_once, .init = pin_init, .fini = mirror_fini)
{
	struct xfrm_sa x = crash_and_restart(FK_CRASH_BEFORE_SEND);
	__u32 slot = slot_of(&x);

	expect_kernel(&x, 100, 10000, "nothing landed before the crash");
	sweep(NOW + 10);
	cr_expect_eq(fk.newae_landed, 1, "%u writes landed, expected 1", fk.newae_landed);
	expect_kernel(&x, 105, 10500, "after the restart");
	cr_expect_eq(mirror_entry(slot).flags & XOFF_MIRROR_PENDING, 0, "intent not resolved");

	traffic(slot, 2, 200);
	sweep(NOW + 11);
	cr_expect_eq(fk.newae_landed, 2);
	expect_kernel(&x, 107, 10700, "after more traffic");
}

/* Nobody (mirror off) -> probe -> xoff writes: the record says xoff writes, so the
 * traffic of the last unswept moments reaches curlft after a restart. */
Test(mirror, restart_after_probe_writes_keeps_traffic, .init = pin_init, .fini = mirror_fini)
{
	struct xfrm_sa x;
	__u32 slot;

	start(XMIRROR_AUTO);
	cr_assert_eq(xmirror_set_mode(mm, OFFLOAD_DEV, XMIRROR_OFF), 0);
	x = sa_add(&sa_pkt);
	slot = slot_of(&x);
	traffic(slot, 1, 100);
	sweep(NOW);
	cr_expect_eq(decision(slot), XOFF_DECIDE_OFF);
	cr_assert_eq(xmirror_set_mode(mm, OFFLOAD_DEV, XMIRROR_AUTO), 0);
	traffic(slot, 5, 500);
	sweep(NOW + 1);
	cr_expect_eq(decision(slot), XOFF_DECIDE_PROBE);
	traffic(slot, 3, 300);
	sweep(NOW + 2);
	sweep(NOW + 3);
	sweep(NOW + 4);
	cr_expect_eq(decision(slot), XOFF_DECIDE_WRITE);
	expect_kernel(&x, 108, 10800, "the probe's traffic written");
	traffic(slot, 4, 400);	/* never swept by the first daemon */
	stop();

	start(XMIRROR_AUTO);
	resync(&sa_pkt);
	cr_expect_eq(slot_of(&x), slot);
	sweep(NOW + 10);
	cr_expect_eq(decision(slot), XOFF_DECIDE_WRITE);
	expect_kernel(&x, 112, 11200, "the unswept traffic after the restart");
}

/* A write that landed but whose answer was lost stays pending; the next sweep finds it
 * landed, and the limit it crossed is signalled although no traffic follows. */
Test(mirror, lost_answer_resolved_and_limit_sent, .init = mirror_init, .fini = mirror_fini)
{
	struct xmsg_sa o = sa_sw;
	struct xfrm_sa x;
	__u32 slot;

	o.hard_packets = 105;
	start(XMIRROR_ON);
	x = sa_add(&o);
	slot = slot_of(&x);
	idle_sweep();
	traffic(slot, 5, 500);
	fk.lose_answer = true;
	cr_expect_eq(sweep_err(NOW), -ETIMEDOUT);
	cr_expect(mirror_entry(slot).flags & XOFF_MIRROR_PENDING, "an unanswered write resolved");
	expect_kernel(&x, 105, 10500, "landed");
	cr_expect_eq(fk.nexp, 0);
	sweep(NOW + 1);
	cr_expect_eq(fk.newae_landed, 1, "a landed write sent again");
	cr_expect_eq(mirror_entry(slot).flags & XOFF_MIRROR_PENDING, 0);
	cr_expect_eq(view(&x).mirror.written_packets, 5);
	cr_expect_eq(fk.nexp, 1, "hard expire of the landed write not sent");
	sweep(NOW + 2);
	cr_expect_eq(fk.nexp, 1, "hard expire sent twice");
}

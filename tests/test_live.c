// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The control plane against this machine's kernel: XFRM policies made with iproute2 reach
 * the shadow SPD through real netlink events, lost events are repaired by a resync, and
 * kernel errors come back as errnos. Each test runs in its own network namespace. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <criterion/criterion.h>
#include <bpf/libbpf.h>
#include "daemon.h"
#include "nl.h"
#include "sync.h"
#include "xmsg.h"

static struct xoff *x;
static struct xsync *s;
static struct xnl *n;

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static void sh(const char *cmd)
{
	int rc = system(cmd);

	cr_assert_eq(rc, 0, "'%s' exited %d", cmd, rc);
}

static void live_setup(void)
{
	struct xoff_opts xo = { .max_sas = 1024 };

	libbpf_set_print(quiet);
	/* A namespace of our own: what we add dies with this test's process. */
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	sh("ip link set lo up");
	cr_assert_eq(xoff_open(&x, &xo), 0);
	cr_assert_eq(xoff_load(x), 0);
}

static void live_start(int rcvbuf)
{
	struct xsync_cfg cfg = { 0 };

	cr_assert_eq(xnl_open(&n, rcvbuf, NULL, NULL), 0);
	cr_assert_eq(xsync_new(&s, x, &cfg), 0);
	cr_assert_eq(xoffd_resync(s, n), 0);
}

static void live_teardown(void)
{
	xsync_free(s);
	xnl_close(n);
	xoff_close(x);
	s = NULL;
	n = NULL;
	x = NULL;
}

TestSuite(live, .init = live_setup, .fini = live_teardown);

static int feed(const struct nlmsghdr *nlh, void *ctx)
{
	return xsync_msg(ctx, nlh);
}

static __u64 now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

static __u64 policies(void)
{
	struct xsync_stats st;

	xsync_get_stats(s, &st);
	return st.policies;
}

/* Take events as a daemon does until the SPD holds @want policies or @limit_us passes;
 * returns the time it took. */
static __u64 follow(__u64 want, __u64 start, __u64 limit_us)
{
	while (policies() != want && now_us() - start < limit_us) {
		struct pollfd p = { .fd = xnl_event_fd(n), .events = POLLIN };
		int err;

		poll(&p, 1, 10);
		err = xnl_events(n, feed, s);
		if (err == -ENOBUFS)
			cr_assert_eq(xoffd_resync(s, n), 0);
		else
			cr_assert_eq(err, 0, "events: %s", strerror(-err));
	}
	return now_us() - start;
}

struct pol_find {
	__u8 dir;
	__u32 prefix;
	int found;
};

static int pol_cb(const struct xfrm_pol *p, void *ctx)
{
	struct pol_find *f = ctx;

	if (p->dir == f->dir && p->sel.prefixlen_d == f->prefix && p->ntmpl == 1)
		f->found++;
	return 0;
}

/* Each change arrives as an event, promptly; the bound leaves room for an emulated VM
 * (about 130 ms under TCG). The latency itself is printed, not judged here. */
static void note_latency(const char *what, unsigned long long us)
{
	fprintf(stderr, "live: %s reached the SPD in %llu us\n", what, us);
	cr_expect_leq(us, 500000, "%s took %llu us to reach the SPD", what, us);
}

Test(live, policy_add_delete_follow_events)
{
	struct pol_find f = { .dir = XFRM_POLICY_OUT, .prefix = 24 };
	__u64 t;

	live_start(0);
	cr_assert_eq(policies(), 0);
	t = now_us();
	sh("ip xfrm policy add src 10.0.0.0/24 dst 10.1.0.0/24 dir out "
	   "tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel reqid 7");
	t = follow(1, t, 1000000);
	cr_assert_eq(policies(), 1, "the SPD did not follow in 1 s");
	note_latency("policy add", t);
	xsync_pol_foreach(s, pol_cb, &f);
	cr_assert_eq(f.found, 1, "the policy's direction, selector and template");

	t = now_us();
	sh("ip -6 xfrm policy add src 2001:db8:1::/64 dst 2001:db8:2::/64 dir in "
	   "tmpl src 2001:db8::2 dst 2001:db8::1 proto esp mode tunnel reqid 8");
	t = follow(2, t, 1000000);
	cr_assert_eq(policies(), 2);
	note_latency("IPv6 policy add", t);

	t = now_us();
	sh("ip xfrm policy delete src 10.0.0.0/24 dst 10.1.0.0/24 dir out");
	t = follow(1, t, 1000000);
	cr_assert_eq(policies(), 1, "the SPD did not follow the delete in 1 s");
	note_latency("policy delete", t);

	t = now_us();
	sh("ip xfrm policy flush");
	t = follow(0, t, 1000000);
	cr_assert_eq(policies(), 0, "flush");
	note_latency("policy flush", t);
}

/* A receive buffer too small for a burst: the kernel drops events (ENOBUFS) and the
 * resync that follows ends with the SPD equal to the kernel's. */
Test(live, lost_events_resync)
{
	char path[] = "/tmp/xoff-batch-XXXXXX";
	int fd = mkstemp(path), i, lost = 0;
	FILE *f;
	__u64 t;

	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	for (i = 0; i < 2000; i++)
		fprintf(f, "xfrm policy add src 10.%d.%d.0/24 dst 10.200.0.0/16 dir out "
			"tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel\n", i / 256, i % 256);
	fclose(f);
	live_start(1);	/* the kernel's minimum: a few messages */
	{
		char cmd[96];

		snprintf(cmd, sizeof(cmd), "ip -batch %s", path);
		sh(cmd);
	}
	unlink(path);
	t = now_us();
	while (policies() != 2000 && now_us() - t < 5000000) {
		int err = xnl_events(n, feed, s);

		if (err == -ENOBUFS) {
			lost++;
			cr_assert_eq(xoffd_resync(s, n), 0);
		} else {
			cr_assert_eq(err, 0);
		}
	}
	cr_assert_gt(lost, 0, "2000 events fit a minimal buffer: no ENOBUFS to test");
	cr_assert_eq(policies(), 2000, "after %d overflows and resyncs", lost);
	sh("ip xfrm policy flush");
	follow(0, now_us(), 5000000);
	cr_assert_eq(policies(), 0);
}

/* Requests about an SA this kernel does not have: errnos, no crash, no change. */
Test(live, requests_on_missing_sa)
{
	struct xfrm_sa sa = { .family = AF_INET, .proto = IPPROTO_ESP, .spi = htonl(0x1234) };
	struct xfrm_lifetime_cur cur = { 0 };
	int err;

	live_start(0);
	inet_pton(AF_INET, "192.0.2.9", &sa.daddr);
	err = xnl_kops.getae(n, &sa, &cur);
	cr_assert(err == -ESRCH || err == -ENOENT, "GETAE: %s", strerror(-err));
	err = xnl_kops.newae(n, &sa, &cur);
	cr_assert(err == -ESRCH || err == -ENOENT, "NEWAE: %s", strerror(-err));
	err = xnl_kops.expire(n, &sa, false);
	cr_assert(err == -ESRCH || err == -ENOENT, "EXPIRE: %s", strerror(-err));
}

/* An SA added with iproute2 reaches the fast-path map; on a kernel without ESP (this
 * machine's) the add fails in the kernel and xoff must see nothing. */
Test(live, state_add_follows_or_changes_nothing)
{
	struct xsync_stats st;
	__u64 t;

	live_start(0);
	t = now_us();
	if (system("ip xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x100 "
		   "aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128 "
		   "2>/dev/null")) {
		xnl_events(n, feed, s);
		xsync_get_stats(s, &st);
		cr_assert_eq(st.sas, 0);
		fprintf(stderr, "live: no ESP in this kernel (SA sync against a real kernel runs "
			"in the VM test bed)\n");
		return;
	}
	do {
		struct pollfd p = { .fd = xnl_event_fd(n), .events = POLLIN };

		poll(&p, 1, 10);
		cr_assert_eq(xnl_events(n, feed, s), 0);
		xsync_get_stats(s, &st);
	} while (st.sas_mapped != 1 && now_us() - t < 1000000);
	cr_assert_eq(st.sas_mapped, 1, "the SA reached the fast-path map");
	sh("ip xfrm state flush");
}

/* The mirror's requests on a real SA (a kernel with ESP: the VM test bed): GETAE reads
 * curlft, NEWAE sets it and keeps add_time, a soft EXPIRE leaves the SA, a hard one makes
 * the kernel delete it. Every request gets its answer (GETAE's carries the request's
 * nlmsg_pid: with 0 there, the daemon waited forever). */
Test(live, requests_on_real_sa)
{
	struct xfrm_sa sa = { .family = AF_INET, .proto = IPPROTO_ESP, .spi = htonl(0x200) };
	struct xfrm_lifetime_cur cur = { 0 }, next;
	int err;

	live_start(0);
	if (system("ip xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x200 "
		   "aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128 "
		   "limit byte-soft 1000 limit byte-hard 2000 2>/dev/null")) {
		fprintf(stderr, "SKIP: live: no ESP in this kernel (the VM test bed runs this)\n");
		cr_skip_test("no ESP in this kernel");
		return;
	}
	inet_pton(AF_INET, "192.0.2.2", &sa.daddr);
	cr_assert_eq(xnl_kops.getae(n, &sa, &cur), 0);
	cr_assert_eq(cur.bytes, 0);
	cr_assert_eq(cur.packets, 0);
	cr_assert_neq(cur.add_time, 0);
	next = cur;
	next.bytes = 1500;
	next.packets = 10;
	next.use_time = cur.add_time + 1;
	cr_assert_eq(xnl_kops.newae(n, &sa, &next), 0, "NEWAE: %s", xnl_extack(n));
	memset(&cur, 0, sizeof(cur));
	cr_assert_eq(xnl_kops.getae(n, &sa, &cur), 0);
	cr_assert_eq(cur.bytes, 1500);
	cr_assert_eq(cur.packets, 10);
	cr_assert_eq(cur.add_time, next.add_time, "add_time kept");
	cr_assert_eq(cur.use_time, next.use_time);
	cr_assert_eq(xnl_kops.expire(n, &sa, false), 0, "soft EXPIRE: %s", xnl_extack(n));
	cr_assert_eq(xnl_kops.getae(n, &sa, &cur), 0, "a soft expire leaves the SA");
	cr_assert_eq(xnl_kops.expire(n, &sa, true), 0, "hard EXPIRE: %s", xnl_extack(n));
	err = xnl_kops.getae(n, &sa, &cur);
	cr_assert(err == -ESRCH || err == -ENOENT, "after a hard expire: %s", strerror(-err));
}

/* ---- MIGRATE ---- */

struct mig_seen {
	struct xsync		*s;
	unsigned int		n;		/* MIGRATEs taken */
	struct xfrm_migrate_msg	last;
	unsigned int		last_attrs;	/* its XFRMA_MIGRATE attributes */
};

/* As the daemon's feed, and the announcements kept as parsed. */
static int feed_mig(const struct nlmsghdr *nlh, void *ctx)
{
	struct mig_seen *ms = ctx;
	struct xfrm_msg m;
	const char *why;

	if (nlh->nlmsg_type == XFRM_MSG_MIGRATE) {
		const struct nlattr *a;

		cr_assert_eq(xfrm_parse(nlh, &m, &why), 0, "the kernel's MIGRATE rejected: %s", why);
		ms->last = m.mig;
		ms->n++;
		ms->last_attrs = 0;
		mnl_attr_for_each(a, nlh, sizeof(struct xfrm_userpolicy_id))
			ms->last_attrs += mnl_attr_get_type(a) == XFRMA_MIGRATE;
	}
	return xsync_msg(ms->s, nlh);
}

/* The request libreswan's migrate_xfrm_sa() sends: the policy's selector and direction,
 * one XFRMA_MIGRATE array (of @n entries here), NLM_F_ACK. */
static int migrate_req(__u8 dir, const char *sel_src, const char *sel_dst,
		       const struct xmsg_move *m, unsigned int n)
{
	char b[XMSG_BUF] __attribute__((aligned(8)));
	struct xmsg_migrate mg = { .sel_src = sel_src, .prefix_s = 24, .sel_dst = sel_dst,
				   .prefix_d = 24, .dir = dir, .request = true, .n = n };

	memcpy(mg.m, m, n * sizeof(*m));
	return xmsg_request(xmsg_migrate(b, &mg));
}

struct tmpl_find {
	__u8 dir;
	const char *src, *dst;
	unsigned int found;
};

static int tmpl_cb(const struct xfrm_pol *p, void *ctx)
{
	struct tmpl_find *f = ctx;
	xfrm_address_t src, dst;
	unsigned int i;

	xmsg_addr(AF_INET, f->src, &src);
	xmsg_addr(AF_INET, f->dst, &dst);
	for (i = 0; i < p->ntmpl && p->dir == f->dir; i++)
		f->found += !memcmp(&p->tmpl[i].saddr, &src, 4) && !memcmp(&p->tmpl[i].daddr, &dst, 4);
	return 0;
}

static unsigned int templates(__u8 dir, const char *src, const char *dst)
{
	struct tmpl_find f = { .dir = dir, .src = src, .dst = dst };

	xsync_pol_foreach(s, tmpl_cb, &f);
	return f.found;
}

static bool sa_view(const char *dst, __u32 spi, struct xsync_sa_view *v)
{
	struct xfrm_sa id = { .family = AF_INET, .proto = IPPROTO_ESP, .spi = htonl(spi) };

	inet_pton(AF_INET, dst, &id.daddr);
	return !xsync_sa_get(s, &id, v);
}

/*
 * Our address moves from 192.0.2.1 to 192.0.2.11, as MOBIKE makes libreswan move a tunnel:
 * one MIGRATE request per policy direction. The kernel rewrites the policies' templates
 * and (where it has ESP: the VM) clones the SAs, with no SA or policy event; it announces
 * each move on XFRMNLGRP_MIGRATE, one XFRMA_MIGRATE attribute per entry (the in policy
 * has two templates, ESP and AH: two entries). Taken as the daemon takes them, they ask
 * for a resync, after which the shadow holds the new templates and the clones, each with
 * its original's slot and CPU.
 */
Test(live, migrate_follows)
{
	struct xmsg_move out = { .old_src = "192.0.2.1", .old_dst = "192.0.2.2",
				 .new_src = "192.0.2.11", .new_dst = "192.0.2.2",
				 .mode = XFRM_MODE_TUNNEL, .reqid = 7 };
	struct xmsg_move in[2] = {
		{ .old_src = "192.0.2.2", .old_dst = "192.0.2.1", .new_src = "192.0.2.2",
		  .new_dst = "192.0.2.11", .mode = XFRM_MODE_TUNNEL, .reqid = 7 },
		{ .old_src = "192.0.2.2", .old_dst = "192.0.2.1", .new_src = "192.0.2.2",
		  .new_dst = "192.0.2.11", .proto = IPPROTO_AH, .mode = XFRM_MODE_TUNNEL,
		  .reqid = 8 },
	};
	struct xsync_sa_view vin0, vout0, v;
	struct mig_seen seen = { 0 };
	struct xsync_stats st;
	bool esp;
	__u64 t;
	int err;

	live_start(0);
	seen.s = s;
	sh("ip xfrm policy add src 10.1.0.0/24 dst 10.2.0.0/24 dir out "
	   "tmpl src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel reqid 7");
	sh("ip xfrm policy add src 10.2.0.0/24 dst 10.1.0.0/24 dir in "
	   "tmpl src 192.0.2.2 dst 192.0.2.1 proto esp mode tunnel reqid 7 "
	   "tmpl src 192.0.2.2 dst 192.0.2.1 proto ah mode tunnel reqid 8");
	esp = !system("ip xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x701 reqid 7 "
		      "mode tunnel aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 "
		      "128 2>/dev/null") &&
	      !system("ip xfrm state add src 192.0.2.2 dst 192.0.2.1 proto esp spi 0x702 reqid 7 "
		      "mode tunnel aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121315 "
		      "128 2>/dev/null");
	if (!esp)
		fprintf(stderr, "live: no ESP in this kernel: MIGRATE of policies only (the VM "
			"moves SAs too)\n");
	t = now_us();
	do {
		struct pollfd p = { .fd = xnl_event_fd(n), .events = POLLIN };

		poll(&p, 1, 10);
		cr_assert_eq(xnl_events(n, feed, s), 0);
		xsync_get_stats(s, &st);
	} while ((st.policies != 2 || (esp && st.sas_mapped != 2)) && now_us() - t < 1000000);
	cr_assert_eq(st.policies, 2);
	if (esp) {
		cr_assert_eq(st.sas_mapped, 2);
		cr_assert(sa_view("192.0.2.1", 0x702, &vin0) && vin0.mapped);
		cr_assert(sa_view("192.0.2.2", 0x701, &vout0) && vout0.mapped);
	}

	t = now_us();
	err = migrate_req(XFRM_POLICY_OUT, "10.1.0.0", "10.2.0.0", &out, 1);
	cr_assert_eq(err, 0, "MIGRATE out: %s", strerror(-err));
	err = migrate_req(XFRM_POLICY_IN, "10.2.0.0", "10.1.0.0", in, 2);
	cr_assert_eq(err, 0, "MIGRATE in: %s", strerror(-err));
	while (seen.n < 2 && now_us() - t < 1000000) {
		struct pollfd p = { .fd = xnl_event_fd(n), .events = POLLIN };

		poll(&p, 1, 10);
		cr_assert_eq(xnl_events(n, feed_mig, &seen), 0);
	}
	cr_assert_eq(seen.n, 2, "%u MIGRATE announcements, 2 requests", seen.n);
	cr_expect_eq(seen.last.dir, XFRM_POLICY_IN);
	cr_expect_eq(seen.last.sel.prefixlen_d, 24);
	cr_assert_eq(seen.last.n, 2, "the kernel announced %u entries of 2", seen.last.n);
	cr_expect_eq(seen.last_attrs, 2, "build_migrate() puts one XFRMA_MIGRATE per entry");
	cr_expect_eq(seen.last.m[1].proto, IPPROTO_AH);
	cr_expect_eq(seen.last.m[1].reqid, 8);
	cr_assert(xsync_resync_wanted(s), "MIGRATEs taken without asking for a resync");
	cr_assert_eq(xoffd_resync(s, n), 0);
	fprintf(stderr, "live: MIGRATE out and in, announced, taken and resynced in %llu us\n",
		(unsigned long long)(now_us() - t));

	cr_expect_eq(templates(XFRM_POLICY_OUT, "192.0.2.11", "192.0.2.2"), 1,
		     "the out template did not move");
	cr_expect_eq(templates(XFRM_POLICY_IN, "192.0.2.2", "192.0.2.11"), 2,
		     "the in templates did not move");
	cr_expect_eq(templates(XFRM_POLICY_IN, "192.0.2.2", "192.0.2.1"), 0);
	if (!esp)
		return;
	cr_expect_not(sa_view("192.0.2.1", 0x702, &v), "the original inbound SA is still known");
	cr_assert(sa_view("192.0.2.11", 0x702, &v), "the inbound SA's clone is not known");
	cr_expect(v.mapped);
	cr_expect_eq(v.val.slot, vin0.val.slot, "slot %u -> %u", vin0.val.slot, v.val.slot);
	cr_expect_eq(v.val.cpu, vin0.val.cpu, "CPU %u -> %u", vin0.val.cpu, v.val.cpu);
	cr_expect_eq(v.x.curlft.add_time, vin0.x.curlft.add_time);
	cr_assert(sa_view("192.0.2.2", 0x701, &v), "the outbound SA is not known");
	cr_expect_eq(v.val.slot, vout0.val.slot);
	xsync_get_stats(s, &st);
	cr_expect_eq(st.sas_mapped, 2);
	cr_expect_eq(st.quarantined, 0);
	sh("ip xfrm state flush");
}

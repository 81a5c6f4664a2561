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

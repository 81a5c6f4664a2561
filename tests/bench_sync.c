// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* `make bench`, control plane: a full resync of 100k SA messages (parse and map apply)
 * and a mirror sweep over 100k counter slots, beside the cost of the parse alone; events
 * beside them: policies, and per-CPU SAs coming and going. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include "mirror.h"
#include "xmsg.h"

#define NR_SAS		100000
#define SYNC_RUNS	3
#define PCPU_TUNNELS	1000	/* tunnels whose per-CPU SAs come and go */
#define MSG_STRIDE	768

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(const char *what, int err)
{
	fprintf(stderr, "xoff-bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* 100k NEWSA messages as a dump brings them: IPv4 and IPv6, inbound and outbound,
 * some ESP-in-UDP, AEAD and CBC+HMAC, 16-byte keys. */
static char *make_msgs(size_t *stride)
{
	char *buf;
	unsigned int i;

	*stride = MSG_STRIDE;
	buf = calloc(NR_SAS, *stride);
	if (!buf)
		fail("messages", -ENOMEM);
	for (i = 0; i < NR_SAS; i++) {
		char dst[64], tmp[XMSG_BUF];
		struct xmsg_sa o = { .spi = 0x1000 + i, .reqid = i, .mode = XFRM_MODE_TUNNEL,
				     .sa_dir = i & 1 ? 2 : 1 };
		struct nlmsghdr *nlh;

		if (i % 4 == 3) {
			o.family = AF_INET6;
			snprintf(dst, sizeof(dst), "2001:db8::%x:%x", i >> 16, i & 0xffff);
		} else {
			snprintf(dst, sizeof(dst), "10.%u.%u.%u", i >> 16, (i >> 8) & 255, i & 255);
		}
		o.dst = dst;
		o.src = o.family == AF_INET6 ? "2001:db8::ffff" : "192.0.2.1";
		if (i % 2) {
			o.aead = "rfc4106(gcm(aes))";
			o.icv_bits = 128;
		} else {
			o.enc = "cbc(aes)";
			o.auth = "hmac(sha256)";
			o.trunc_bits = 128;
		}
		if (i % 8 == 5) {
			o.encap = UDP_ENCAP_ESPINUDP;
			o.sport = o.dport = 4500;
		}
		nlh = xmsg_newsa(tmp, XFRM_MSG_NEWSA, &o);
		if (nlh->nlmsg_len > *stride)
			fail("message larger than its stride", -E2BIG);
		memcpy(buf + (size_t)i * *stride, tmp, nlh->nlmsg_len);
	}
	return buf;
}

static double cmp_d(double a, double b)
{
	return a < b ? a : b;
}

static int cmp_lat(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The messages of one tunnel's per-CPU SAs (RFC 9611), as a strongSwan 6.1 rekey brings
 * them: for each CPU an inbound and an outbound NEWSA, then their DELSAs. */
static unsigned int pcpu_msgs(char *buf, unsigned int tunnel, int ncpu)
{
	unsigned int n = 0, spi;
	char tmp[XMSG_BUF] __attribute__((aligned(8)));
	char dst[32];
	int c, dir, del;

	snprintf(dst, sizeof(dst), "172.16.%u.%u", tunnel >> 8, tunnel & 255);
	for (del = 0; del < 2; del++)
		for (c = 0; c < ncpu; c++)
			for (dir = 1; dir <= 2; dir++) {
				struct xmsg_sa o = { .dst = dst, .src = "192.0.2.1",
						     .mode = XFRM_MODE_TUNNEL, .reqid = tunnel,
						     .aead = "rfc4106(gcm(aes))", .icv_bits = 128,
						     .sa_dir = dir, .pcpu = true, .pcpu_num = c };
				struct nlmsghdr *nlh;

				spi = 0x80000000u + (tunnel * ncpu + c) * 2 + dir;
				o.spi = spi;
				nlh = del ? xmsg_delsa(tmp, &o) : xmsg_newsa(tmp, XFRM_MSG_NEWSA, &o);
				memcpy(buf + (size_t)n++ * MSG_STRIDE, tmp, nlh->nlmsg_len);
			}
	return n;
}

/* The first tunnel's per-CPU SAs are mapped beside the others: the events measured are
 * the ones that put SAs in the fast path. */
static void pcpu_check(struct xsync *s, unsigned int added)
{
	struct xsync_stats st;

	xsync_get_stats(s, &st);
	if (st.sas_mapped != NR_SAS + added)
		fail("not every per-CPU SA reached the map", -EIO);
}

/* Per-CPU SAs of PCPU_TUNNELS tunnels come and go beside the SAs @s holds: events per
 * second over them all and the 99th percentile of one event's handling. */
static void pcpu_storm(struct xsync *s, int ncpu, double *rate, double *p99)
{
	size_t per = (size_t)4 * ncpu, nlat = per * PCPU_TUNNELS, k = 0;
	char *buf = aligned_alloc(8, per * MSG_STRIDE);
	double *lat = calloc(nlat, sizeof(*lat)), total = 0, t;
	unsigned int tun, i, n;
	int err;

	if (!buf || !lat)
		fail("per-CPU SA messages", -ENOMEM);
	for (tun = 0; tun < PCPU_TUNNELS; tun++) {
		n = pcpu_msgs(buf, tun, ncpu);
		for (i = 0; i < n; i++) {
			t = now_s();
			if ((err = xsync_msg(s, (void *)(buf + (size_t)i * MSG_STRIDE))))
				fail("per-CPU SA event", err);
			lat[k] = now_s() - t;
			total += lat[k++];
			if (!tun && i + 1 == n / 2)
				pcpu_check(s, n / 2);
		}
	}
	qsort(lat, k, sizeof(*lat), cmp_lat);
	*rate = k / total;
	*p99 = lat[k * 99 / 100];
	free(lat);
	free(buf);
}

void bench_control_plane(void)
{
	struct xoff_opts xo = { .max_sas = 131072 };
	struct xsync_cfg cfg = { 0 };
	struct xmirror_cfg mcfg = { .mode = XMIRROR_AUTO };
	struct xmirror *mir;
	double t, parse = 1e9, first = 1e9, again = 1e9, sweep = 1e9, idle = 1e9, pols = 1e9;
	double pcpu_rate = 0, pcpu_p99 = 1e9, r, p;
	struct xsync_stats st;
	struct xoff_counters *vals;
	struct xfrm_msg m;
	const char *why;
	struct xsync *s;
	struct xoff *x;
	size_t stride;
	char *msgs = make_msgs(&stride);
	int run, err, ncpu = xoff_nr_cpus(), fd;
	__u32 i;

	/* The parse alone: the floor a resync cannot go under. */
	for (run = 0; run < SYNC_RUNS; run++) {
		t = now_s();
		for (i = 0; i < NR_SAS; i++)
			if (xfrm_parse((void *)(msgs + (size_t)i * stride), &m, &why))
				fail(why, -EBADMSG);
		parse = cmp_d(parse, now_s() - t);
	}

	for (run = 0; run < SYNC_RUNS; run++) {
		if ((err = xoff_open(&x, &xo)) || (err = xoff_load(x)))
			fail("load xoff", err);
		if ((err = xsync_new(&s, x, &cfg)))
			fail("xsync_new", err);
		/* Into empty maps, as at the first start. */
		t = now_s();
		xsync_resync_begin(s);
		for (i = 0; i < NR_SAS; i++)
			if ((err = xsync_msg(s, (void *)(msgs + (size_t)i * stride))))
				fail("resync", err);
		if ((err = xsync_resync_end(s)))
			fail("resync end", err);
		first = cmp_d(first, now_s() - t);
		xsync_get_stats(s, &st);
		if (st.sas_mapped != NR_SAS)
			fail("not every SA reached the map", -EIO);
		/* Again with nothing changed: what a resync after lost events costs. */
		t = now_s();
		xsync_resync_begin(s);
		for (i = 0; i < NR_SAS; i++)
			xsync_msg(s, (void *)(msgs + (size_t)i * stride));
		xsync_resync_end(s);
		again = cmp_d(again, now_s() - t);

		/* Mirror: every slot has traffic on every CPU. */
		if ((err = xmirror_new(&mir, s, &mcfg)))
			fail("xmirror_new", err);
		idle = cmp_d(idle, ({ t = now_s(); xmirror_sweep(mir, 0, 0); now_s() - t; }));
		fd = xoff_map_fd(x, XOFF_MAP_AUTH);
		vals = calloc(ncpu, sizeof(*vals));
		for (i = 0; i < NR_SAS; i++) {
			for (int c = 0; c < ncpu; c++)
				vals[c] = (struct xoff_counters){ i + c + 1, 100 * (i + c + 1), 1 };
			bpf_map_update_elem(fd, &i, vals, 0);
		}
		free(vals);
		t = now_s();
		if ((err = xmirror_sweep(mir, 0, 0)))
			fail("mirror", err);
		sweep = cmp_d(sweep, now_s() - t);
		xmirror_free(mir);

		/* A policy storm beside 100k SAs: each event touches only its addresses. */
		t = now_s();
		for (i = 0; i < 1000; i++) {
			char dst[32], tmp[XMSG_BUF];
			struct xmsg_pol p = { .sel_dst = "10.0.0.0", .prefix_d = 8,
					      .dir = XFRM_POLICY_OUT, .index = 8 * i + 1,
					      .ntmpl = 1, .tmpl = { { .dst = dst, .mode = 1 } } };

			snprintf(dst, sizeof(dst), "10.%u.%u.%u", i >> 16, (i >> 8) & 255, i & 255);
			if ((err = xsync_msg(s, xmsg_newpolicy(tmp, &p))))
				fail("policy", err);
		}
		pols = cmp_d(pols, now_s() - t);

		/* Per-CPU SAs coming and going beside them (a rekey of every tunnel). */
		pcpu_storm(s, ncpu, &r, &p);
		pcpu_rate = r > pcpu_rate ? r : pcpu_rate;
		pcpu_p99 = cmp_d(pcpu_p99, p);
		xsync_free(s);
		xoff_close(x);
	}
	free(msgs);

	printf("\ncontrol plane: %d SA messages, best of %d runs\n", NR_SAS, SYNC_RUNS);
	printf("%-44s %10.1f ms %10.0f SAs/s\n", "parse only", parse * 1e3, NR_SAS / parse);
	printf("%-44s %10.1f ms %10.0f SAs/s\n", "full resync into empty maps", first * 1e3,
	       NR_SAS / first);
	printf("%-44s %10.1f ms %10.0f SAs/s\n", "full resync, nothing changed", again * 1e3,
	       NR_SAS / again);
	printf("%-44s %10.1f ms\n", "mirror sweep, 100k slots, no traffic", idle * 1e3);
	printf("%-44s %10.1f ms\n", "mirror sweep, 100k slots, all with traffic", sweep * 1e3);
	printf("  (kernel counts these software SAs: deltas computed, nothing written)\n");
	printf("%-44s %10.1f ms\n", "1000 policy events beside 100k SAs", pols * 1e3);
	printf("%-44s %10.0f ev/s %7.1f us p99\n", "per-CPU SA NEWSA+DELSA beside 100k SAs",
	       pcpu_rate, pcpu_p99 * 1e6);
	printf("  (%d tunnels x %d CPUs x in+out, each SA added then deleted: %d events)\n",
	       PCPU_TUNNELS, ncpu, PCPU_TUNNELS * ncpu * 4);
	printf("\n");
	printf("ratio sync_100k_sas_per_s %.0f\n", NR_SAS / first);
	printf("ratio mirror_sweep_100k_ms %.1f\n", sweep * 1e3);
	printf("ratio pcpu_sa_events_per_s %.0f\n", pcpu_rate);
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* `make bench`, on a kernel that holds ESP states (Debian's, in the VM: `make bench-vm`):
 * in a network namespace of its own with 10k real SAs,
 *   - cold sync: a fresh set of maps filled from the kernel (both dumps and the reconcile,
 *     as the daemon starts) beside a plain netlink dump of the same SAs, and beside the
 *     floor any cold sync pays: that dump and a batch insert of the same map entries;
 *   - event latency: from a state add returning (the ACK, as `ip xfrm state add` returns)
 *     to its entry being present in the pinned map, with the daemon (`xoffctl run`) running.
 * Elsewhere it prints SKIP with the reason. Keys are random, never printed, and wiped. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <libmnl/libmnl.h>
#include <linux/xfrm.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "daemon.h"
#include "libxoff.h"
#include "nl.h"
#include "sync.h"

#define COLD_SAS	10000
#define EVENT_SAS	1000
#define DUMP_RUNS	9
#define SPI_COLD	0x10000
#define SPI_EVENT	0x80000

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p)
{
	qsort(v, n, sizeof(*v), cmp_d);
	return v[(int)(p * (n - 1) + 0.5)];
}

static unsigned char key[20];		/* AES-128 key and the 4-byte salt */

/* NEWSA for 192.0.2.1 -> 192.0.2.2, SPI @spi, rfc4106(gcm(aes)) with the random key. */
static struct nlmsghdr *put_newsa(char *buf, __u32 spi, __u32 seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct xfrm_usersa_info *p;
	struct {
		struct xfrm_algo_aead a;
		unsigned char k[sizeof(key)];
	} alg = { 0 };

	nlh->nlmsg_type = XFRM_MSG_NEWSA;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	p = mnl_nlmsg_put_extra_header(nlh, sizeof(*p));
	inet_pton(AF_INET, "192.0.2.2", &p->id.daddr);
	inet_pton(AF_INET, "192.0.2.1", &p->saddr);
	p->id.spi = htonl(spi);
	p->id.proto = IPPROTO_ESP;
	p->family = AF_INET;
	p->mode = XFRM_MODE_TUNNEL;
	p->reqid = spi;
	p->replay_window = 32;
	p->lft.soft_byte_limit = p->lft.hard_byte_limit = XFRM_INF;
	p->lft.soft_packet_limit = p->lft.hard_packet_limit = XFRM_INF;
	strcpy(alg.a.alg_name, "rfc4106(gcm(aes))");
	alg.a.alg_key_len = sizeof(key) * 8;
	alg.a.alg_icv_len = 128;
	memcpy(alg.k, key, sizeof(key));
	mnl_attr_put(nlh, XFRMA_ALG_AEAD, sizeof(alg), &alg);
	explicit_bzero(&alg, sizeof(alg));
	return nlh;
}

/* Add SAs [@from, @to) in batches; 0 or the first error (negative errno). */
static int add_sas(struct mnl_socket *nl, __u32 from, __u32 to)
{
	static char buf[64 * 512] __attribute__((aligned(8)));
	char ack[8192];
	__u32 spi = from;
	int err = 0;

	while (spi < to && !err) {
		size_t len = 0;
		int n = 0, acks;

		while (spi < to && n < 64) {
			struct nlmsghdr *nlh = put_newsa(buf + len, spi, spi);

			len += MNL_ALIGN(nlh->nlmsg_len);
			spi++, n++;
		}
		if (mnl_socket_sendto(nl, buf, len) < 0)
			err = -errno;
		explicit_bzero(buf, len);
		for (acks = 0; !err && acks < n;) {
			int left = mnl_socket_recvfrom(nl, ack, sizeof(ack));
			const struct nlmsghdr *h;

			if (left < 0) {
				err = -errno;
				break;
			}
			for (h = (void *)ack; xnl_msg_ok(h, left); h = mnl_nlmsg_next(h, &left)) {
				if (h->nlmsg_type != NLMSG_ERROR)
					continue;
				acks++;
				err = err ?: ((const struct nlmsgerr *)mnl_nlmsg_get_payload(h))->error;
			}
		}
	}
	return err;
}

static int feed(const struct nlmsghdr *nlh, void *ctx)
{
	return xsync_msg(ctx, nlh);
}

static int count_cb(const struct nlmsghdr *nlh, void *ctx)
{
	(void)nlh;
	++*(int *)ctx;
	return 0;
}

static int map_entries(int fd)
{
	struct xoff_sa_key k, next;
	int n = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

static pid_t start_daemon(const char *pins)
{
	pid_t pid = fork();

	if (!pid) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		execl(XOFF_OUT "/xoffctl", "xoffctl", "run", "pin-dir", pins, "log-level", "error",
		      (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* The daemon has synced once: its heartbeat says so. */
static int daemon_ready(const char *pins, double timeout_us)
{
	char path[256];
	double end = now_us() + timeout_us;
	int fd = -1;

	snprintf(path, sizeof(path), "%s/%s", pins, XOFF_MAP_DAEMON);
	while (now_us() < end) {
		struct xoff_daemon d;
		__u32 zero = 0;

		if (fd < 0)
			fd = bpf_obj_get(path);
		if (fd >= 0 && !bpf_map_lookup_elem(fd, &zero, &d) && d.last_sync_ns) {
			close(fd);
			return 0;
		}
		usleep(10000);
	}
	if (fd >= 0)
		close(fd);
	return -ETIMEDOUT;
}

static void skip(const char *why)
{
	printf("\nSKIP: real-kernel control-plane bench: %s\n", why);
}

void bench_real_kernel(void)
{
	double dump[DUMP_RUNS], cold[DUMP_RUNS], load[DUMP_RUNS], part[3][DUMP_RUNS], lat[EVENT_SAS], t;
	double floor_[DUMP_RUNS];
	struct xoff_sa_key *fkeys = NULL;
	struct xoff_sa *fvals = NULL;
	char pins[] = "/tmp/xoff-bench-bpffs.XXXXXX", dir[64], sasp[128];
	struct mnl_socket *nl = NULL;
	struct xnl *n = NULL;
	struct utsname uts;
	pid_t daemon = -1;
	int i, err, sas_fd = -1;
	bool made = false, mounted = false;

	fflush(stdout);
	/* Its own namespaces: the SAs and the pins vanish with the process. */
	if (unshare(CLONE_NEWNET | CLONE_NEWNS)) {
		skip(strerror(errno));
		return;
	}
	mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	if (getrandom(key, sizeof(key), 0) != sizeof(key)) {
		skip("getrandom failed");
		return;
	}
	nl = mnl_socket_open(NETLINK_XFRM);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID)) {
		skip("no XFRM netlink (xfrm_user)");
		goto out;
	}
	err = add_sas(nl, SPI_COLD, SPI_COLD + 1);
	if (err) {
		char why[160];

		snprintf(why, sizeof(why), "this kernel cannot hold an ESP state (%s): "
			 "make bench-vm runs it on Debian's kernel", strerror(-err));
		skip(why);
		goto out;
	}
	t = now_us();
	if ((err = add_sas(nl, SPI_COLD + 1, SPI_COLD + COLD_SAS))) {
		fprintf(stderr, "xoff-bench: adding %d SAs: %s\n", COLD_SAS, strerror(-err));
		goto out;
	}
	printf("\nreal kernel (%d ESP SAs added in %.0f ms, own netns):\n", COLD_SAS,
	       (now_us() - t) / 1e3);
	if ((err = xnl_open(&n, 0, NULL, NULL))) {
		fprintf(stderr, "xoff-bench: netlink: %s\n", strerror(-err));
		goto out;
	}

	/* The SAs' map entries, as the cold sync makes them. */
	fkeys = calloc(COLD_SAS, sizeof(*fkeys));
	fvals = calloc(COLD_SAS, sizeof(*fvals));
	if (!fkeys || !fvals) {
		fprintf(stderr, "xoff-bench: out of memory\n");
		goto out;
	}
	for (i = 0; i < COLD_SAS; i++) {
		__be32 d;

		inet_pton(AF_INET, "192.0.2.2", &d);
		xoff_sa_key_make(&fkeys[i], AF_INET, &d, htonl(SPI_COLD + i), XOFF_ENCAP_ESP);
		fvals[i] = (struct xoff_sa){ .slot = i, .dir = XOFF_DIR_OUT, .iv_len = 8,
					     .icv_len = 16, .queue = XOFF_QUEUE_NONE,
					     .mode = XOFF_MODE_TUNNEL };
	}

	/* A plain dump, the floor, and a cold sync (both dumps, every map write) into fresh
	 * maps, one after the other in each round. */
	for (i = 0; i < DUMP_RUNS; i++) {
		struct xsync_cfg cfg = { 0 };
		struct xsync *s = NULL;
		struct xoff_opts o = { .maps_only = true };
		struct xoff *x = NULL;
		__u16 cpus[1024];
		__u32 done;
		int got = 0;

		t = now_us();
		err = xnl_dump(n, XFRM_MSG_GETSA, count_cb, &got);
		dump[i] = now_us() - t;
		if (err || got != COLD_SAS) {
			fprintf(stderr, "xoff-bench: dump: %d of %d SAs (%s)\n", got, COLD_SAS,
				strerror(-err));
			goto out;
		}
		/* The floor: what any cold sync pays, the dump and the map inserts alone. */
		err = xoff_open(&x, &o) ?: xoff_load(x);
		t = now_us();
		got = 0;
		err = err ?: xnl_dump(n, XFRM_MSG_GETSA, count_cb, &got) ?:
		      xoff_sa_update_batch(x, fkeys, fvals, COLD_SAS, &done);
		floor_[i] = now_us() - t;
		xoff_close(x);
		x = NULL;
		if (err || got != COLD_SAS || done != COLD_SAS) {
			fprintf(stderr, "xoff-bench: floor: %s\n", strerror(-err));
			goto out;
		}
		t = now_us();
		err = xoff_open(&x, &o) ?: xoff_load(x);
		load[i] = now_us() - t;
		/* As the daemon starts: read what the maps hold, dump, reconcile, write. */
		t = now_us();
		if (!err)
			err = xoffd_sync_new(&s, x, &cfg, false, cpus, 1024);
		part[0][i] = now_us() - t;
		if (!err) {
			double t1 = now_us(), t2;

			xsync_resync_begin(s);
			err = xnl_dump(n, XFRM_MSG_GETSA, feed, s) ?:
			      xnl_dump(n, XFRM_MSG_GETPOLICY, feed, s);
			t2 = now_us();
			err = err ?: xsync_resync_end(s);
			part[1][i] = t2 - t1;
			part[2][i] = now_us() - t2;
		}
		cold[i] = now_us() - t;
		if (!err && (got = map_entries(xoff_map_fd(x, XOFF_MAP_SAS))) != COLD_SAS)
			err = -EIO;
		xsync_free(s);
		xoff_close(x);
		if (err) {
			fprintf(stderr, "xoff-bench: cold sync: %s (%d SAs in the map)\n",
				strerror(-err), got);
			goto out;
		}
	}
	printf("  %-40s %10.2f ms\n", "netlink dump of the SAs (median)", pct(dump, DUMP_RUNS, .5) / 1e3);
	printf("  %-40s %10.2f ms\n", "cold sync: maps read, dumps, writes (median)", pct(cold, DUMP_RUNS, .5) / 1e3);
	printf("  %-40s %10.2f ms\n", "  of which: read the maps", pct(part[0], DUMP_RUNS, .5) / 1e3);
	printf("  %-40s %10.2f ms\n", "  of which: dumps into the shadow SAD", pct(part[1], DUMP_RUNS, .5) / 1e3);
	printf("  %-40s %10.2f ms\n", "  of which: map writes", pct(part[2], DUMP_RUNS, .5) / 1e3);
	printf("  %-40s %10.2f ms\n", "  (before it: object load, median)", pct(load, DUMP_RUNS, .5) / 1e3);
	printf("  %-40s %10.2f ms\n", "floor: the dump and the map inserts alone", pct(floor_, DUMP_RUNS, .5) / 1e3);

	/* Event latency with the daemon running over a private bpffs. */
	made = mkdtemp(pins);
	if (!made || mount("bpf", pins, "bpf", 0, NULL)) {
		fprintf(stderr, "xoff-bench: bpffs on %s: %s\n", pins, strerror(errno));
		goto out;
	}
	mounted = true;
	snprintf(dir, sizeof(dir), "%s/xoff", pins);
	daemon = start_daemon(dir);
	if (daemon < 0 || daemon_ready(dir, 60e6)) {
		fprintf(stderr, "xoff-bench: the daemon did not sync within 60 s\n");
		goto out;
	}
	snprintf(sasp, sizeof(sasp), "%s/%s", dir, XOFF_MAP_SAS);
	if ((sas_fd = bpf_obj_get(sasp)) < 0) {
		fprintf(stderr, "xoff-bench: %s: %s\n", sasp, strerror(errno));
		goto out;
	}
	for (i = 0; i < EVENT_SAS; i++) {
		struct xoff_sa_key k;
		struct xoff_sa v;
		__u32 spi = SPI_EVENT + i;
		__be32 d;
		double end;

		inet_pton(AF_INET, "192.0.2.2", &d);
		xoff_sa_key_make(&k, AF_INET, &d, htonl(spi), XOFF_ENCAP_ESP);
		if ((err = add_sas(nl, spi, spi + 1))) {
			fprintf(stderr, "xoff-bench: add SA: %s\n", strerror(-err));
			goto out;
		}
		t = now_us();
		end = t + 5e6;
		while (bpf_map_lookup_elem(sas_fd, &k, &v) && now_us() < end)
			sched_yield();
		lat[i] = now_us() - t;
		if (lat[i] >= 5e6) {
			fprintf(stderr, "xoff-bench: SA 0x%x not in the map after 5 s\n", spi);
			goto out;
		}
	}
	printf("  %-40s %10.0f us\n", "event latency, state add to map (p50)", pct(lat, EVENT_SAS, .5));
	printf("  %-40s %10.0f us\n", "event latency, state add to map (p99)", pct(lat, EVENT_SAS, .99));
	printf("  %-40s %10.0f us\n", "event latency (max)", pct(lat, EVENT_SAS, 1));
	printf("\nratio coldsync_10k_vs_dump %.2f\n", pct(cold, DUMP_RUNS, .5) / pct(dump, DUMP_RUNS, .5));
	printf("ratio coldsync_floor_vs_dump %.2f\n", pct(floor_, DUMP_RUNS, .5) / pct(dump, DUMP_RUNS, .5));
	printf("ratio coldsync_10k_vs_floor %.2f\n", pct(cold, DUMP_RUNS, .5) / pct(floor_, DUMP_RUNS, .5));
	printf("ratio event_p99_us %.0f\n", pct(lat, EVENT_SAS, .99));
	/* One line per kernel (make bench-vm runs several): the figures beside the release. */
	if (uname(&uts) == 0)
		printf("kernel %s: event p99 %.0f us, cold sync of %d SAs %.2f ms\n", uts.release,
		       pct(lat, EVENT_SAS, .99), COLD_SAS, pct(cold, DUMP_RUNS, .5) / 1e3);
out:
	if (sas_fd >= 0)
		close(sas_fd);
	if (daemon > 0) {
		kill(daemon, SIGTERM);
		waitpid(daemon, NULL, 0);
	}
	if (mounted)
		umount2(pins, MNT_DETACH);
	if (made)
		rmdir(pins);
	xnl_close(n);
	if (nl)
		mnl_socket_close(nl);
	free(fkeys);
	free(fvals);
	explicit_bzero(key, sizeof(key));
}

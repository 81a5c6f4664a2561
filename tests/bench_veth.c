// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `make bench`: the receive capacity of a veth with xoff attached beside the same veth with
 * an empty XDP program, measured in one run: many short windows, the programs swapped
 * under a generator that never stops, in a rotating order, summed per program.
 *
 *   CPU 0: the generator, BPF_PROG_RUN in live-frames mode (bench_gen redirects each
 *          frame out of vg0), paced to RATE_PPS
 *   CPU 1: vr0's NAPI thread (threaded NAPI): the XDP program under test, then the stack
 *          (with xoff, its TC ingress program under clsact too: xoff as attach leaves it);
 *          with steering to CPU 1, the SA is already on its CPU: passed, no cpumap hop
 *
 * Capacity is 1 / (receiver CPU time per packet): the run time of the receiving threads
 * (their schedstat) over the packets vr0's XDP ran. One window varies by +-10% on this
 * shared machine; sums over 64 windows each agree to a few percent from run to run, and
 * the quartiles of the window-by-window ratio are printed. The generator is paced below
 * what either receiver takes, because a saturated veth ring makes the generator drop and
 * recycle frames into its page pool, whose lock the receiver's returns then fight for:
 * a cost of the test rig, not of the receiver, that grows with the receiver's own time.
 * Frames are ESP of an SA xoff holds, to an address nothing routes: after XDP_PASS the
 * stack drops them early, which keeps the path short and so makes xoff's share of it as
 * large as it gets. Everything lives in a network and mount namespace of a child
 * process, gone when it exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "libxoff.h"
#include "pkt.h"
#include "bench.skel.h"

#define ROUNDS		64	/* windows per configuration, interleaved */
#define WINDOW_MS	100	/* one window */
#define WARMUP_MS	30
#define RATE_PPS	300000	/* offered load: below either receiver's capacity */
#define BURST		256	/* frames per BPF_PROG_RUN call (4 batches of 64) */
#define GEN_CPU		0
#define RX_CPU		1
#define SPI		0x100

static void skip(const char *why)
{
	printf("\nSKIP: veth receive bench: %s\n", why);
}

static int pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* Kernel threads whose name starts with @prefix: their pids into @pids (at most @max),
 * each pinned to @cpu when @cpu >= 0; returns how many. */
static int threads(const char *prefix, int cpu, int *pids, int max)
{
	char path[300], comm[64];
	struct dirent *d;
	cpu_set_t set;
	DIR *p = opendir("/proc");
	int n = 0;

	CPU_ZERO(&set);
	CPU_SET(cpu < 0 ? 0 : cpu, &set);
	while (p && (d = readdir(p)) && n < max) {
		FILE *f;

		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", d->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, prefix, strlen(prefix))) {
			pids[n] = atoi(d->d_name);
			if (cpu < 0 || !sched_setaffinity(pids[n], sizeof(set), &set))
				n++;
		}
		fclose(f);
	}
	if (p)
		closedir(p);
	return n;
}

/* CPU time (ns) the threads @pids have run, from their schedstat. */
static double runtime_ns(const int *pids, int n)
{
	double sum = 0;
	char path[64];
	int i;

	for (i = 0; i < n; i++) {
		unsigned long long ns = 0;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/schedstat", pids[i]);
		if ((f = fopen(path, "r"))) {
			if (fscanf(f, "%llu", &ns) != 1)
				ns = 0;
			fclose(f);
		}
		sum += ns;
	}
	return sum;
}

/* An ethtool statistic of @dev by name, or -1. */
static long long ethtool_stat(const char *dev, const char *name)
{
	struct ifreq ifr = { 0 };
	struct {
		struct ethtool_sset_info hdr;
		__u32 n;
	} ss = { .hdr = { .cmd = ETHTOOL_GSSET_INFO, .sset_mask = 1ULL << ETH_SS_STATS } };
	struct ethtool_gstrings *str = NULL;
	struct ethtool_stats *st = NULL;
	long long v = -1;
	__u32 i, n;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	ifr.ifr_data = (void *)&ss;
	if (fd < 0 || ioctl(fd, SIOCETHTOOL, &ifr) || !ss.hdr.sset_mask)
		goto out;
	n = ss.n;
	str = calloc(1, sizeof(*str) + n * ETH_GSTRING_LEN);
	st = calloc(1, sizeof(*st) + n * sizeof(__u64));
	if (!str || !st)
		goto out;
	str->cmd = ETHTOOL_GSTRINGS;
	str->string_set = ETH_SS_STATS;
	str->len = n;
	ifr.ifr_data = (void *)str;
	if (ioctl(fd, SIOCETHTOOL, &ifr))
		goto out;
	st->cmd = ETHTOOL_GSTATS;
	st->n_stats = n;
	ifr.ifr_data = (void *)st;
	if (ioctl(fd, SIOCETHTOOL, &ifr))
		goto out;
	for (i = 0; i < n; i++)
		if (!strncmp((char *)str->data + i * ETH_GSTRING_LEN, name, ETH_GSTRING_LEN))
			v = st->data[i];
out:
	free(str);
	free(st);
	if (fd >= 0)
		close(fd);
	return v;
}

/* @dev's MAC address into @dst (6 bytes). */
static int mac_of(const char *dev, uint8_t *dst)
{
	char path[64];
	unsigned int m[6];
	FILE *f;
	int i, n;

	snprintf(path, sizeof(path), "/sys/class/net/%s/address", dev);
	if (!(f = fopen(path, "r")))
		return -errno;
	n = fscanf(f, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]);
	fclose(f);
	if (n != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++)
		dst[i] = m[i];
	return 0;
}

struct gen {
	int		prog;
	const void	*frame[2];	/* an SA's ESP, an unknown SPI's */
	__u32		len[2];
	atomic_int	which;		/* the frame sent now */
	atomic_int	stop;
	_Atomic __u64	sent;		/* frames the generator ran */
	int		err;
};

/* Runs through every measurement: programs change under it, the load does not. */
static void *gen_thread(void *arg)
{
	struct gen *g = arg;
	struct timespec next;

	pin_self(GEN_CPU);
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!atomic_load(&g->stop)) {
		int w = atomic_load(&g->which);
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = g->frame[w], .data_size_in = g->len[w],
			    .repeat = BURST, .flags = BPF_F_TEST_XDP_LIVE_FRAMES);

		if (bpf_prog_test_run_opts(g->prog, &o)) {
			g->err = errno;
			break;
		}
		g->sent += BURST;
		next.tv_nsec += 1000000000LL * BURST / RATE_PPS;
		while (next.tv_nsec >= 1000000000) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	return NULL;
}

/* What one configuration accumulated over all its windows. */
struct acc {
	double	cpu_ns;		/* receiver CPU time */
	double	packets;	/* frames vr0's XDP ran */
	double	sent;
	double	round_ns[ROUNDS]; /* per window: CPU time per packet */
};

/* @tci under clsact ingress of @ifindex (created for it), or no clsact at all (-1). */
static int tc_ingress(int ifindex, int tci)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, o, .prog_fd = tci);
	libbpf_print_fn_t old = libbpf_set_print(NULL);

	bpf_tc_hook_destroy(&hook);	/* whatever the last window left */
	libbpf_set_print(old);
	if (tci < 0)
		return 0;
	hook.attach_point = BPF_TC_INGRESS;
	return bpf_tc_hook_create(&hook) ?: bpf_tc_attach(&hook, &o);
}

/* One window with @prog on vr0's XDP (replacing what runs there) and @tci on its TC ingress
 * (-1: none); @steered: the cpumap thread of RX_CPU is counted too (idle: the SA is on
 * RX_CPU, passed there). */
static int measure(struct gen *g, int ifindex, int prog, int tci, bool steered, struct acc *a,
		   int round)
{
	int pids[8], n, err;
	long long p0, p1;
	double c0, c1;
	__u64 s0, s1;

	if ((err = bpf_xdp_attach(ifindex, prog, XDP_FLAGS_DRV_MODE, NULL)) ||
	    (err = tc_ingress(ifindex, tci)))
		return err;
	if ((n = threads("napi/vr0-", RX_CPU, pids, 1)) != 1)
		return -ENOENT;
	if (steered) {
		char name[32];

		snprintf(name, sizeof(name), "cpumap/%d/", RX_CPU);
		n += threads(name, -1, pids + n, 7);
	}
	usleep(WARMUP_MS * 1000);
	p0 = ethtool_stat("vr0", "rx_queue_0_xdp_packets");
	s0 = g->sent;
	c0 = runtime_ns(pids, n);
	usleep(WINDOW_MS * 1000);
	p1 = ethtool_stat("vr0", "rx_queue_0_xdp_packets");
	s1 = g->sent;
	c1 = runtime_ns(pids, n);
	if (g->err)
		return -g->err;
	if (p0 < 0 || p1 <= p0)
		return -ENODATA;
	a->cpu_ns += c1 - c0;
	a->packets += p1 - p0;
	a->sent += s1 - s0;
	a->round_ns[round] = (c1 - c0) / (p1 - p0);
	return 0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

enum { C_EMPTY, C_EMPTY_TC, C_FLOOR, C_FLOOR_TC, C_XOFF, C_XOFF_STEER, C_EMPTY_DROP, C_XOFF_DROP,
       NCONF };

static int child(void)
{
	static const char *const names[NCONF] = {
		[C_EMPTY] = "empty XDP program (XDP_PASS)",
		[C_EMPTY_TC] = "empty XDP + empty TC ingress program",
		[C_FLOOR] = "floor: parse IPv4 ESP + 1 SA lookup",
		[C_FLOOR_TC] = "floor + empty TC ingress program",
		[C_XOFF] = "xoff (XDP + TC ingress), ESP of its SA, steer off",
		[C_XOFF_STEER] = "xoff (XDP + TC ingress), steered, on its CPU (passed)",
		[C_EMPTY_DROP] = "empty XDP program (XDP_DROP)",
		[C_XOFF_DROP] = "xoff, unknown SPI, unknown-spi drop",
	};
	static struct acc a[NCONF];
	double ns[NCONF], paired[ROUNDS];
	pthread_t th;
	struct xoff_ifconfig cfg = { 0 };
	struct xoff_opts xo = { .max_sas = 1024 };
	struct xoff_sa_key k;
	struct xoff_sa v = { .slot = 0, .dir = XOFF_DIR_IN, .action = XOFF_ACT_CPU, .cpu = RX_CPU,
			     .queue = XOFF_QUEUE_NONE, .iv_len = 8, .icv_len = 16,
			     .mode = XOFF_MODE_TUNNEL };
	uint8_t known[PKT_MAX], unknown[PKT_MAX];
	struct pkt_spec ps = { .family = AF_INET, .src = "10.9.0.1", .dst = "10.9.0.2",
			       .proto = IPPROTO_ESP, .spi = SPI, .payload = 200 };
	struct bench_bpf *b = NULL;
	struct xoff *x = NULL;
	struct gen g = { 0 };
	__be32 daddr;
	int fd, vr, vg, i, j, c, err, prog[NCONF], tci[NCONF];
	__u32 lk, lu;
	char why[160];

	if (xoff_nr_cpus() < 2) {
		skip("needs 2 CPUs (generator and receiver apart)");
		return 0;
	}
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("sysfs", "/sys", "sysfs", 0, NULL)) {
		snprintf(why, sizeof(why), "namespaces: %s", strerror(errno));
		skip(why);
		return 0;
	}
	if (system("ip link set lo up && ip link add vg0 type veth peer name vr0 && "
		   "ip link set vg0 up && ip link set vr0 up")) {
		skip("no veth devices");
		return 0;
	}
	vr = if_nametoindex("vr0");
	vg = if_nametoindex("vg0");
	b = bench_bpf__open_and_load();
	if (!b) {
		skip("bench.bpf.o does not load");
		return 0;
	}
	/* veth has NAPI only with XDP attached: attach first, then make it threaded; the
	 * programs are replaced in place from then on, which keeps the NAPI and its thread. */
	if ((err = bpf_xdp_attach(vr, bpf_program__fd(b->progs.bench_empty), XDP_FLAGS_DRV_MODE,
				  NULL))) {
		snprintf(why, sizeof(why), "native XDP on veth: %s", strerror(-err));
		skip(why);
		goto out;
	}
	fd = open("/sys/class/net/vr0/threaded", O_WRONLY);
	if (fd < 0 || write(fd, "1", 1) != 1) {
		snprintf(why, sizeof(why), "threaded NAPI on veth: %s", strerror(errno));
		skip(why);
		goto out;
	}
	close(fd);
	b->bss->gen_ifindex = vg;
	if ((err = xoff_open(&x, &xo)) || (err = xoff_load(x))) {
		snprintf(why, sizeof(why), "xoff does not load: %s", strerror(-err));
		skip(why);
		goto out;
	}
	/* The SA of the known frames (ESP to 10.9.0.2, SPI 0x100), steering to CPU 1. */
	inet_pton(AF_INET, "10.9.0.2", &daddr);
	xoff_sa_key_make(&k, AF_INET, &daddr, htonl(SPI), XOFF_ENCAP_ESP);
	cfg.ifindex = vr;
	if ((err = xoff_sa_update(x, &k, &v)) || (err = xoff_cpu_enable(x, RX_CPU, 0)) ||
	    (err = bpf_map_update_elem(bpf_map__fd(b->maps.xoff_sas), &k, &v, 0) ? -errno : 0)) {
		snprintf(why, sizeof(why), "xoff's maps: %s", strerror(-err));
		skip(why);
		goto out;
	}
	lk = pkt_build(&ps, known);
	ps.spi = 0xdead;
	lu = pkt_build(&ps, unknown);
	/* To vr0's own MAC, so that the stack takes them as its host's (then finds no route). */
	if (mac_of("vr0", known) || mac_of("vr0", unknown)) {
		skip("vr0's MAC address");
		goto out;
	}
	prog[C_EMPTY] = prog[C_EMPTY_TC] = bpf_program__fd(b->progs.bench_empty);
	prog[C_EMPTY_DROP] = bpf_program__fd(b->progs.bench_drop);
	prog[C_FLOOR] = prog[C_FLOOR_TC] = bpf_program__fd(b->progs.bench_floor);
	prog[C_XOFF] = prog[C_XOFF_STEER] = prog[C_XOFF_DROP] = bpf_program__fd(xoff_xdp_prog(x));
	for (c = 0; c < NCONF; c++)
		tci[c] = -1;
	tci[C_EMPTY_TC] = tci[C_FLOOR_TC] = bpf_program__fd(b->progs.bench_tc_empty);
	tci[C_XOFF] = tci[C_XOFF_STEER] = tci[C_XOFF_DROP] = bpf_program__fd(xoff_tci_prog(x));
	g.prog = bpf_program__fd(b->progs.bench_gen);
	g.frame[0] = known;
	g.len[0] = lk;
	g.frame[1] = unknown;
	g.len[1] = lu;
	pin_self(GEN_CPU);
	if ((err = pthread_create(&th, NULL, gen_thread, &g))) {
		skip(strerror(err));
		goto out;
	}
	/* Short windows, the configurations in a rotating order: slow drifts of this shared
	 * machine fall on every configuration alike, and sums over many windows average the
	 * fast noise of one. */
	for (i = 0; i < ROUNDS && !err; i++)
		for (j = 0; j < NCONF && !err; j++) {
			c = (i + j) % NCONF;
			cfg.steer = c == C_XOFF_STEER;
			cfg.unknown_spi = c == C_XOFF_DROP ? XOFF_UNKNOWN_DROP : XOFF_UNKNOWN_PASS;
			if ((err = xoff_config_set(x, &cfg)))
				break;
			atomic_store(&g.which, c >= C_EMPTY_DROP);
			err = measure(&g, vr, prog[c], tci[c], c == C_XOFF_STEER, &a[c], i);
		}
	atomic_store(&g.stop, 1);
	pthread_join(th, NULL);
	if (err) {
		snprintf(why, sizeof(why), "%s: %s", err == -ENOENT ? "no NAPI thread for vr0" :
			 "measurement", strerror(-err));
		skip(why);
		goto out;
	}
	for (c = 0; c < NCONF; c++)
		ns[c] = a[c].cpu_ns / a[c].packets;
	/* The spread of the main ratio window by window, for how far one run can be trusted. */
	for (i = 0; i < ROUNDS; i++)
		paired[i] = a[C_EMPTY].round_ns[i] / a[C_XOFF].round_ns[i];
	qsort(paired, ROUNDS, sizeof(paired[0]), cmp_d);
	printf("\nveth receive (native XDP on vr0, its NAPI thread on CPU %d; %d-byte ESP frames "
	       "from BPF_PROG_RUN live mode\non CPU %d at %d kpps; receiver CPU time per packet "
	       "over %d interleaved windows of %d ms each):\n", RX_CPU, lk, GEN_CPU,
	       RATE_PPS / 1000, ROUNDS, WINDOW_MS);
	printf("  %-48s %10s %14s %10s\n", "", "ns/packet", "capacity Mpps", "delivered");
	for (c = 0; c < NCONF; c++)
		printf("  %-48s %10.0f %14.3f %9.1f%%\n", names[c], ns[c], 1e3 / ns[c],
		       100 * a[c].packets / a[c].sent);
	printf("  (the floor reads the packet, which the empty program never does: any SPI "
	       "classifier pays that)\n");
	printf("  xoff vs empty window by window: quartiles %.2f %.2f %.2f\n", paired[ROUNDS / 4],
	       paired[ROUNDS / 2], paired[3 * ROUNDS / 4]);
	printf("\nratio veth_pps_xoff_vs_empty %.2f\n", ns[C_EMPTY] / ns[C_XOFF]);
	printf("ratio veth_pps_floor_vs_empty %.2f\n", ns[C_EMPTY] / ns[C_FLOOR]);
	/* A TC ingress hook under clsact costs what it costs whatever its program does: the
	 * floor of xoff's shape (an SPI lookup at XDP, a program at TC ingress). */
	printf("ratio veth_pps_empty_tc_vs_empty %.2f\n", ns[C_EMPTY] / ns[C_EMPTY_TC]);
	printf("ratio veth_pps_floor_tc_vs_empty %.2f\n", ns[C_EMPTY] / ns[C_FLOOR_TC]);
	printf("ratio veth_pps_xoff_vs_floor_tc %.2f\n", ns[C_FLOOR_TC] / ns[C_XOFF]);
	printf("ratio veth_pps_xoff_vs_floor %.2f\n", ns[C_FLOOR] / ns[C_XOFF]);
	printf("ratio veth_pps_xoff_steered_vs_empty %.2f\n", ns[C_EMPTY] / ns[C_XOFF_STEER]);
	printf("ratio veth_pps_drop_xoff_vs_empty %.2f\n", ns[C_EMPTY_DROP] / ns[C_XOFF_DROP]);
out:
	tc_ingress(vr, -1);
	bpf_xdp_detach(vr, XDP_FLAGS_DRV_MODE, NULL);
	xoff_close(x);
	bench_bpf__destroy(b);
	return 0;
}

void bench_veth(void)
{
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		skip(strerror(errno));
		return;
	}
	if (!pid) {
		int rc = child();

		fflush(stdout);
		_exit(rc);
	}
	waitpid(pid, &st, 0);
}

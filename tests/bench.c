// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* `make bench`: xoff's XDP cost per packet and SA lookup cost, side by side with floors. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "libxoff.h"
#include "pkt.h"
#include "bench.skel.h"

void bench_control_plane(void);
void bench_real_kernel(void);
void bench_veth(void);

#define REPEAT		1000000	/* BPF_PROG_TEST_RUN repetitions per packet measurement */
#define RUNS		5	/* measurements per figure; the median is reported */
#define MAX_SAS		(1u << 20)
#define STEPS		1000000	/* lookups / chase steps per run */

static const __u32 sizes[] = { 1, 10000, 1000000 };
#define NR_SIZES (sizeof(sizes) / sizeof(sizes[0]))

static void die(const char *what, int err)
{
	fprintf(stderr, "xoff-bench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static int quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || strstr(fmt, "skipping unrecognized data section"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* ns per run of @prog on @pkt, median of RUNS runs of @repeat repetitions. */
static double run_ns(int prog, const void *pkt, __u32 len, __u32 repeat, __u32 expect)
{
	double v[RUNS];
	int i;

	for (i = 0; i < RUNS; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
			    .repeat = repeat);

		if (bpf_prog_test_run_opts(prog, &o))
			die("BPF_PROG_TEST_RUN", errno);
		if (o.retval != expect) {
			fprintf(stderr, "xoff-bench: verdict %u, expected %u\n", o.retval, expect);
			exit(1);
		}
		v[i] = o.duration;
	}
	return median(v, RUNS);
}

static __u32 frame(uint8_t *buf, int family, __u8 proto, uint32_t spi)
{
	struct pkt_spec s = { .family = family, .proto = proto, .spi = spi, .payload = 100 };

	if (proto == IPPROTO_UDP) {
		s.sport = 53;
		s.dport = 53;
	}
	return pkt_build(&s, buf);
}

static void add_sas(struct xoff *x, __u32 from, __u32 to)
{
	struct xoff_sa_key *k = calloc(to - from, sizeof(*k));
	struct xoff_sa *v = calloc(to - from, sizeof(*v));
	__be32 dst = htonl(0xc0000201);	/* 192.0.2.1 */
	__u32 i, done;
	int err;

	if (!k || !v)
		die("calloc", ENOMEM);
	for (i = from; i < to; i++) {
		xoff_sa_key_make(&k[i - from], AF_INET, &dst, htonl(i + 1), XOFF_ENCAP_ESP);
		v[i - from] = (struct xoff_sa){ .slot = i, .queue = XOFF_QUEUE_NONE,
						.iv_len = 8, .icv_len = 16 };
	}
	err = xoff_sa_update_batch(x, k, v, to - from, &done);
	if (err)
		die("SA batch update", err);
	free(k);
	free(v);
}

static long fdinfo_memlock(int fd)
{
	char path[64], line[256];
	long mem = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %ld", &mem) == 1)
			break;
	fclose(f);
	return mem;
}

/* A single random cycle through all lines (Sattolo), so every step is a dependent load
 * to an unpredictable line of the whole buffer. */
static void chase_fill(struct bench_bpf *b, __u32 lines)
{
	size_t len = (size_t)lines * 64;
	__u64 r = 0x2545f4914f6cdd1dULL;
	__u32 i, j, *perm;
	uint8_t *mem;

	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(b->maps.chase), 0);
	if (mem == MAP_FAILED)
		die("mmap chase buffer", errno);
	perm = malloc(sizeof(*perm) * lines);
	if (!perm)
		die("malloc", ENOMEM);
	for (i = 0; i < lines; i++)
		perm[i] = i;
	for (i = lines - 1; i > 0; i--) {
		__u32 t;

		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		j = r % i;
		t = perm[i], perm[i] = perm[j], perm[j] = t;
	}
	for (i = 0; i < lines; i++)
		*(__u32 *)(mem + (size_t)i * 64) = perm[i];
	free(perm);
	munmap(mem, len);
}

/* The reference programs, sharing xoff's SA map, with a chase buffer of @lines. */
static struct bench_bpf *bench_open(struct xoff *x, __u32 lines)
{
	struct bench_bpf *b = bench_bpf__open();
	int err;

	if (!b)
		die("open bench", errno);
	err = bpf_map__reuse_fd(b->maps.xoff_sas, xoff_map_fd(x, XOFF_MAP_SAS));
	err = err ?: bpf_map__set_max_entries(b->maps.chase, lines);
	err = err ?: bench_bpf__load(b);
	if (err)
		die("load bench", err);
	return b;
}

/* ns per step of a bpf_loop program (lookups or chase steps). */
static double loop_ns(struct bench_bpf *b, int prog)
{
	static const uint8_t pkt[64];
	double v[RUNS];
	int i;

	b->bss->nr_steps = STEPS;
	for (i = 0; i < RUNS; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt),
			    .repeat = 1);

		if (bpf_prog_test_run_opts(prog, &o))
			die("BPF_PROG_TEST_RUN loop", errno);
		v[i] = (double)o.duration / STEPS;
	}
	return median(v, RUNS);
}

int main(int argc, char **argv)
{
	double hit4[NR_SIZES], hit6[NR_SIZES], miss[NR_SIZES], other[NR_SIZES];
	double floor_[NR_SIZES], lookup[NR_SIZES], empty, chase, tc_empty, tci_plain, tci_esp;
	struct xoff_opts opts = { .max_sas = MAX_SAS };
	uint8_t p4[PKT_MAX], p6[PKT_MAX], pm[PKT_MAX], pu[PKT_MAX];
	__u32 l4, l6, lm, lu, lines, i;
	struct bench_bpf *b, *c;
	struct xoff_sa_key k6;
	struct xoff_sa v6 = { .slot = MAX_SAS - 1, .queue = XOFF_QUEUE_NONE, .iv_len = 8,
			      .icv_len = 16 };
	uint8_t a6[16];
	struct utsname u;
	struct xoff *x;
	long mem;
	int err, xdp;

	if (geteuid()) {
		fprintf(stderr, "xoff-bench: needs root (BPF_PROG_TEST_RUN)\n");
		return 1;
	}
	libbpf_set_print(quiet);
	/* `xoff-bench PART`: one part only; `real` needs a kernel with ESP (make bench-vm). */
	if (argc > 2 || (argc == 2 && strcmp(argv[1], "real") && strcmp(argv[1], "veth") &&
			  strcmp(argv[1], "sync") && strcmp(argv[1], "xdp"))) {
		fprintf(stderr, "usage: xoff-bench [xdp|sync|veth|real]\n");
		return 2;
	}
	if (argc == 2 && strcmp(argv[1], "xdp")) {
		if (!strcmp(argv[1], "real"))
			bench_real_kernel();
		else if (!strcmp(argv[1], "veth"))
			bench_veth();
		else
			bench_control_plane();
		return 0;
	}
	err = xoff_open(&x, &opts);
	if (!err)
		err = xoff_load(x);
	if (err)
		die("load xoff", err);
	xdp = bpf_program__fd(xoff_xdp_prog(x));

	b = bench_open(x, 1);

	inet_pton(AF_INET6, "2001:db8::1", a6);
	xoff_sa_key_make(&k6, AF_INET6, a6, htonl(1), XOFF_ENCAP_ESP);
	if ((err = xoff_sa_update(x, &k6, &v6)))
		die("IPv6 SA", err);
	l4 = frame(p4, AF_INET, IPPROTO_ESP, 1);
	l6 = frame(p6, AF_INET6, IPPROTO_ESP, 1);
	lm = frame(pm, AF_INET, IPPROTO_ESP, 0xfffffff0);
	lu = frame(pu, AF_INET, IPPROTO_UDP, 0);

	empty = run_ns(bpf_program__fd(b->progs.bench_empty), p4, l4, REPEAT, XDP_PASS);
	/* TC ingress on what it mostly sees: packets without a secpath (BPF_PROG_TEST_RUN
	 * cannot give one; a secpath packet follows a decryption that costs ~1000 times more). */
	tc_empty = run_ns(bpf_program__fd(b->progs.bench_tc_empty), pu, lu, REPEAT, (__u32)TC_ACT_UNSPEC);
	tci_plain = run_ns(bpf_program__fd(xoff_tci_prog(x)), pu, lu, REPEAT, (__u32)TC_ACT_UNSPEC);
	tci_esp = run_ns(bpf_program__fd(xoff_tci_prog(x)), p4, l4, REPEAT, (__u32)TC_ACT_UNSPEC);
	for (i = 0; i < NR_SIZES; i++) {
		add_sas(x, i ? sizes[i - 1] : 0, sizes[i]);
		floor_[i] = run_ns(bpf_program__fd(b->progs.bench_floor), p4, l4, REPEAT, XDP_PASS);
		hit4[i] = run_ns(xdp, p4, l4, REPEAT, XDP_PASS);
		hit6[i] = run_ns(xdp, p6, l6, REPEAT, XDP_PASS);
		miss[i] = run_ns(xdp, pm, lm, REPEAT, XDP_PASS);
		other[i] = run_ns(xdp, pu, lu, REPEAT, XDP_PASS);
		b->bss->nr_sas = sizes[i];
		lookup[i] = loop_ns(b, bpf_program__fd(b->progs.bench_lookup));
	}
	if (b->bss->misses)
		die("random lookups missed SAs that are in the map", EINVAL);

	/* The chase buffer is as large as the SA map's memory with 1M SAs in it. */
	mem = fdinfo_memlock(xoff_map_fd(x, XOFF_MAP_SAS));
	if (mem <= 0)
		die("SA map memory from fdinfo", EINVAL);
	lines = mem / 64;
	c = bench_open(x, lines);
	chase_fill(c, lines);
	chase = loop_ns(c, bpf_program__fd(c->progs.bench_chase));

	uname(&u);
	printf("xoff bench: kernel %s, %d CPUs; ns per packet (median of %d runs of %d)\n"
	       "or per lookup/step (median of %d runs of %d)\n\n",
	       u.release, xoff_nr_cpus(), RUNS, REPEAT, RUNS, STEPS);
	printf("%-36s %10s %10s %10s\n", "", "1 SA", "10k SAs", "1M SAs");
	printf("%-36s %10.1f\n", "empty XDP program", empty);
#define ROW(name, v) printf("%-36s %10.1f %10.1f %10.1f\n", name, v[0], v[1], v[2])
	ROW("floor: parse IPv4 ESP + 1 lookup", floor_);
	ROW("xoff XDP, IPv4 ESP hit", hit4);
	ROW("xoff XDP, IPv6 ESP hit", hit6);
	ROW("xoff XDP, ESP miss (unknown SPI)", miss);
	ROW("xoff XDP, non-ESP (UDP)", other);
	ROW("SA lookup at random SPIs", lookup);
	printf("%-36s %32.1f\n", "one dependent random access", chase);
	printf("  (pointer chase over %ld MiB, the SA map's memory at 1M SAs)\n", mem >> 20);
	printf("%-36s %10.1f\n", "empty TC program", tc_empty);
	printf("%-36s %10.1f\n", "xoff TC ingress, UDP, no secpath", tci_plain);
	printf("%-36s %10.1f\n\n", "xoff TC ingress, ESP, no secpath", tci_esp);
	printf("ratio xdp_hit_v4_vs_empty %.2f\n", hit4[0] / empty);
	printf("ratio xdp_hit_v4_vs_floor %.2f\n", hit4[0] / floor_[0]);
	printf("ratio lookup_1m_vs_2miss %.2f\n", lookup[NR_SIZES - 1] / (2 * chase));
	printf("ratio tc_ingress_vs_empty %.2f\n", tci_plain / tc_empty);

	bench_bpf__destroy(c);
	bench_bpf__destroy(b);
	xoff_close(x);
	if (argc == 2)
		return 0;
	bench_control_plane();
	bench_veth();
	bench_real_kernel();
	return 0;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xoff-counters: read and add to xoff's per-SA authenticated counts in the pinned xoff_auth
 * map, as a packet-offload NIC's decrypted traffic would, for the selftests of the counter
 * mirror (traffic the kernel never sees, so only xoff can count it); with -f, to the
 * fast path's counts before authentication (xoff_counters), which the mirror never reads.
 *
 *   xoff-counters [-f] PIN_DIR get SLOT...            "SLOT PACKETS BYTES" (all CPUs summed)
 *   xoff-counters PIN_DIR add SLOT PACKETS BYTES...   add to CPU 0's entry of each SLOT
 *   xoff-counters PIN_DIR zero SLOT...                every CPU's entry to 0 (a reset)
 *   xoff-counters PIN_DIR feed FILE BYTES SLOT...     until SIGTERM/SIGINT: every 200 us one
 *                                                     packet of BYTES bytes to the next SLOT
 *                                                     in turn; FILE holds "SLOT PACKETS
 *                                                     BYTES" of what it added, rewritten
 *                                                     every 100 ms and at the end
 *
 * Exit 0, 1 (a failure, one line on stderr) or 2 (usage). Reads and writes take no lock:
 * nothing else writes these slots while a test feeds them (no traffic), and xoff's daemon
 * only reads them, except to zero a slot it has released, which a test does not feed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "xoff/abi.h"

#define PROG		"xoff-counters"
#define MAX_SLOTS	4096

static int ncpus;

static void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: " PROG " [-f] PIN_DIR get SLOT...\n"
		"       " PROG " [-f] PIN_DIR add SLOT PACKETS BYTES...\n"
		"       " PROG " [-f] PIN_DIR zero SLOT...\n"
		"       " PROG " [-f] PIN_DIR feed FILE BYTES SLOT...\n"
		"  -f: the fast path's counts (before authentication), not the authenticated ones\n");
	exit(2);
}

static unsigned long long num(const char *s, const char *what, unsigned long long max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v > max || *s == '-')
		die(2, "%s: bad number '%s'", what, s);
	return v;
}

static void slot_read(int fd, __u32 slot, struct xoff_counters *pc)
{
	if (bpf_map_lookup_elem(fd, &slot, pc))
		die(1, "slot %u: lookup: %s", slot, strerror(errno));
}

static void slot_add(int fd, __u32 slot, struct xoff_counters *pc, __u64 packets, __u64 bytes)
{
	slot_read(fd, slot, pc);
	pc[0].packets += packets;
	pc[0].bytes += bytes;
	if (bpf_map_update_elem(fd, &slot, pc, BPF_EXIST))
		die(1, "slot %u: update: %s", slot, strerror(errno));
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void write_totals(const char *file, const __u32 *slots, const __u64 (*tot)[2], int n)
{
	char tmp[4096];
	FILE *f;
	int i;

	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	if (!(f = fopen(tmp, "w")))
		die(1, "%s: %s", tmp, strerror(errno));
	for (i = 0; i < n; i++)
		fprintf(f, "%u %llu %llu\n", slots[i], (unsigned long long)tot[i][0],
			(unsigned long long)tot[i][1]);
	if (fclose(f) || rename(tmp, file))
		die(1, "%s: %s", file, strerror(errno));
}

int main(int argc, char **argv)
{
	char path[4096];
	const char *map = XOFF_MAP_AUTH;
	struct xoff_counters *pc;
	int fd, i;

	if (argc > 1 && !strcmp(argv[1], "-f")) {
		map = XOFF_MAP_COUNTERS;
		argv++;
		argc--;
	}
	if (argc < 4)
		usage();
	snprintf(path, sizeof(path), "%s/%s", argv[1], map);
	if ((fd = bpf_obj_get(path)) < 0)
		die(1, "%s: %s", path, strerror(errno));
	if ((ncpus = libbpf_num_possible_cpus()) <= 0)
		die(1, "possible CPUs: %s", strerror(-ncpus));
	if (!(pc = calloc(ncpus, sizeof(*pc))))
		die(1, "out of memory");

	if (!strcmp(argv[2], "get")) {
		for (i = 3; i < argc; i++) {
			__u32 slot = num(argv[i], "SLOT", XOFF_MAX_SAS * 16ULL);
			__u64 p = 0, b = 0;
			int c;

			slot_read(fd, slot, pc);
			for (c = 0; c < ncpus; c++)
				p += pc[c].packets, b += pc[c].bytes;
			printf("%u %llu %llu\n", slot, (unsigned long long)p, (unsigned long long)b);
		}
	} else if (!strcmp(argv[2], "add")) {
		if ((argc - 3) % 3)
			usage();
		for (i = 3; i < argc; i += 3)
			slot_add(fd, num(argv[i], "SLOT", XOFF_MAX_SAS * 16ULL), pc,
				 num(argv[i + 1], "PACKETS", ~0ULL), num(argv[i + 2], "BYTES", ~0ULL));
	} else if (!strcmp(argv[2], "zero")) {
		for (i = 3; i < argc; i++) {
			__u32 slot = num(argv[i], "SLOT", XOFF_MAX_SAS * 16ULL);

			memset(pc, 0, ncpus * sizeof(*pc));
			if (bpf_map_update_elem(fd, &slot, pc, BPF_EXIST))
				die(1, "slot %u: update: %s", slot, strerror(errno));
		}
	} else if (!strcmp(argv[2], "feed")) {
		static __u32 slots[MAX_SLOTS];
		static __u64 tot[MAX_SLOTS][2];
		struct timespec next, pause = { 0, 200000 };
		__u64 bytes;
		int n = 0, k = 0;

		if (argc < 6 || argc - 5 > MAX_SLOTS)
			usage();
		bytes = num(argv[4], "BYTES", 1 << 16);
		for (i = 5; i < argc; i++)
			slots[n++] = num(argv[i], "SLOT", XOFF_MAX_SAS * 16ULL);
		signal(SIGTERM, on_signal);
		signal(SIGINT, on_signal);
		write_totals(argv[3], slots, (const __u64 (*)[2])tot, n);
		clock_gettime(CLOCK_MONOTONIC, &next);
		while (!stop) {
			struct timespec now;

			slot_add(fd, slots[k], pc, 1, bytes);
			tot[k][0]++;
			tot[k][1] += bytes;
			k = (k + 1) % n;
			nanosleep(&pause, NULL);
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec > next.tv_sec ||
			    (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec)) {
				write_totals(argv[3], slots, (const __u64 (*)[2])tot, n);
				next = now;
				next.tv_nsec += 100000000;
				if (next.tv_nsec >= 1000000000)
					next.tv_sec++, next.tv_nsec -= 1000000000;
			}
		}
		write_totals(argv[3], slots, (const __u64 (*)[2])tot, n);
	} else {
		usage();
	}
	free(pc);
	close(fd);
	return 0;
}

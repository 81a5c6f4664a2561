// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xoff-espcpu: on which CPU the kernel decrypts each SA's packets, observed at the kernel's
 * own ESP input (selftests/bpf/st_esp.bpf.c: kprobes on esp_input and esp6_input), not
 * through xoff's maps. For the per-CPU SA selftest and the decryption bench.
 *
 *   xoff-espcpu OBJ      attach, print "ready", and wait for SIGTERM or SIGINT; then
 *                        print one line "SPI CPU PACKETS" (SPI in hex) per pair seen,
 *                        and detach. SIGUSR1: the same lines so far, then "dump N"
 *                        (N counts the dumps), and goes on waiting
 *
 * The ESP modules must be loaded (modprobe esp4 esp6): a probe that cannot attach is an
 * error. Exit 0, 1 (a failure, one line on stderr) or 2 (usage).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define PROG	"xoff-espcpu"

struct st_esp_key {
	__u32	spi;
	__u32	cpu;
};

static volatile sig_atomic_t stop, dumps;

static void on_dump(int sig)
{
	(void)sig;
	dumps++;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void die(const char *what, int err)
{
	fprintf(stderr, PROG ": %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

/* Attach every program of OBJ; a link that cannot be made is an error. */
static void attach_all(struct bpf_object *obj)
{
	struct bpf_program *p;

	bpf_object__for_each_program(p, obj) {
		struct bpf_link *l = bpf_program__attach(p);

		if (!l) {
			fprintf(stderr, PROG ": attach %s: %s (is its module loaded?)\n",
				bpf_program__section_name(p), strerror(errno));
			exit(1);
		}
	}
}

static void dump(int fd)
{
	struct st_esp_key k, next, *prev = NULL;
	__u64 n;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		if (bpf_map_lookup_elem(fd, &k, &n) == 0)
			printf("0x%08x %u %llu\n", k.spi, k.cpu, (unsigned long long)n);
		prev = &k;
	}
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_map *map;
	sigset_t block, old;
	int err, done = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: " PROG " OBJ\n");
		return 2;
	}
	libbpf_set_strict_mode(LIBBPF_STRICT_ALL);
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj)
		die(argv[1], errno);
	err = bpf_object__load(obj);
	if (err)
		die("load", err);
	map = bpf_object__find_map_by_name(obj, "st_esp_count");
	if (!map)
		die("st_esp_count", ENOENT);
	attach_all(obj);
	/* Blocked until sigsuspend(): a signal between the test and the wait is not lost. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGUSR1, on_dump);
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		sigsuspend(&old);
		for (; done < dumps; done++) {
			dump(bpf_map__fd(map));
			printf("dump %d\n", done + 1);
			fflush(stdout);
		}
	}
	dump(bpf_map__fd(map));
	bpf_object__close(obj);
	return 0;
}

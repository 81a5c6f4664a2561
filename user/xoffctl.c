// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xoffctl: the operator's command. Exit codes: 0 ok, 1 error, 2 usage. */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <bpf/libbpf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "daemon.h"
#include "libxoff.h"

#define XOFF_VERSION	"0.3"

static const char *prog = "xoffctl";

static int usage_err(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry '%s help'.\n", prog);
	return 2;
}

/* iproute2-style keyword match: any unambiguous prefix of @word. */
static bool matches(const char *arg, const char *word)
{
	size_t n = strlen(arg);

	return n && !strncmp(arg, word, n);
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 0);
	return errno || end == s || *end || *s == '-' || *out > max ? -EINVAL : 0;
}

/* "0-3,6": CPUs for steering. */
static int parse_cpus(const char *s, __u16 *cpus, unsigned int max, unsigned int *n)
{
	int ncpu = xoff_nr_cpus();
	const char *p = s;

	*n = 0;
	while (*p) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;

		if (end == p)
			return -EINVAL;
		if (*end == '-') {
			p = end + 1;
			b = strtoul(p, &end, 10);
			if (end == p || b < a)
				return -EINVAL;
		}
		if (b >= (unsigned long)ncpu)
			return -ERANGE;
		for (; a <= b; a++) {
			if (*n == max)
				return -E2BIG;
			cpus[(*n)++] = a;
		}
		if (*end == ',')
			end++;
		else if (*end)
			return -EINVAL;
		p = end;
	}
	return *n ? 0 : -EINVAL;
}

static void help(FILE *f)
{
	fprintf(f,
		"Usage: %s OBJECT COMMAND...\n"
		"       %s run [pin-dir DIR] [interval MS] [cpus LIST] [tx-queues N]\n"
		"                  [mirror auto|on|off] [mirror-dev DEV auto|on|off]...\n"
		"                  [rcvbuf BYTES]\n"
		"                  [log-level error|warning|info|debug]\n"
		"       %s version\n"
		"       %s help\n", prog, prog, prog, prog);
}

static int parse_mode(const char *s, enum xsync_mirror_mode *m)
{
	if (!strcmp(s, "auto"))
		*m = XSYNC_MIRROR_AUTO;
	else if (!strcmp(s, "on"))
		*m = XSYNC_MIRROR_ON;
	else if (!strcmp(s, "off"))
		*m = XSYNC_MIRROR_OFF;
	else
		return -EINVAL;
	return 0;
}

static int do_run(int argc, char **argv)
{
	static __u16 cpus[4096];
	struct xoffd_opts o = { 0 };
	unsigned long v;
	int i, err;

	for (i = 0; i < argc; i += 2) {
		const char *k = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!val)
			return usage_err("'%s' needs a value", k);
		if (matches(k, "pin-dir")) {
			o.pin_dir = val;
		} else if (matches(k, "interval")) {
			if (parse_uint(val, 3600000, &v) || v < 10)
				return usage_err("interval: '%s' is not 10 to 3600000 ms", val);
			o.interval_ms = v;
		} else if (matches(k, "cpus")) {
			if ((err = parse_cpus(val, cpus, 4096, &o.ncpus)))
				return usage_err("cpus: '%s' is not a list of possible CPUs "
						 "(such as 0-3,6)", val);
			o.cpus = cpus;
		} else if (matches(k, "tx-queues")) {
			if (parse_uint(val, 4096, &v))
				return usage_err("tx-queues: '%s' is not 0 to 4096", val);
			o.tx_queues = v;
		} else if (!strcmp(k, "mirror-dev")) {
			unsigned int ifindex = if_nametoindex(val);

			if (i + 2 >= argc)
				return usage_err("mirror-dev %s: needs auto, on or off", val);
			if (!ifindex)
				return usage_err("mirror-dev: no device '%s'", val);
			if (o.nmodes == sizeof(o.modes) / sizeof(o.modes[0]))
				return usage_err("mirror-dev: more than 64 devices at '%s'", val);
			if (parse_mode(argv[i + 2], &o.modes[o.nmodes].mode))
				return usage_err("mirror-dev: '%s' is not auto, on or off", argv[i + 2]);
			o.modes[o.nmodes++].ifindex = ifindex;
			i++;
		} else if (matches(k, "mirror")) {
			if (parse_mode(val, &o.mirror))
				return usage_err("mirror: '%s' is not auto, on or off", val);
		} else if (matches(k, "rcvbuf")) {
			if (parse_uint(val, INT_MAX, &v))
				return usage_err("rcvbuf: '%s' is not a byte count", val);
			o.rcvbuf = v;
		} else if (matches(k, "log-level")) {
			if (matches(val, "error"))
				o.log_level = XSYNC_ERR;
			else if (matches(val, "warning"))
				o.log_level = XSYNC_WARN;
			else if (matches(val, "info"))
				o.log_level = XSYNC_INFO;
			else if (matches(val, "debug"))
				o.log_level = XSYNC_DEBUG;
			else
				return usage_err("log-level: '%s' is not error, warning, info or "
						 "debug", val);
		} else {
			return usage_err("run: unknown argument '%s'", k);
		}
	}
	return xoffd_run(&o) ? 1 : 0;
}

/* libbpf's warnings only; its informational lines are noise to an operator. */
static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN || strstr(fmt, "skipping unrecognized data section"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	libbpf_set_print(libbpf_quiet);
	if (argc < 2) {
		help(stderr);
		return 2;
	}
	if (matches(argv[1], "run"))
		return do_run(argc - 2, argv + 2);
	if (matches(argv[1], "version")) {
		printf("%s %s (libbpf, libxdp, libmnl)\n", prog, XOFF_VERSION);
		return 0;
	}
	if (matches(argv[1], "help")) {
		help(stdout);
		return 0;
	}
	return usage_err("unknown object '%s'", argv[1]);
}

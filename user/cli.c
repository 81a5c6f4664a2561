// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xoffctl: bpftool/iproute2 style, `xoffctl [-j] [-p] OBJECT COMMAND ...`.
 * Exit codes: 0 ok, 1 error, 2 usage. Errors are one line naming the problem. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <arpa/inet.h>
#include <linux/capability.h>
#include <bpf/libbpf.h>
#include "cli.h"
#include "probe.h"

static const char *prog = "xoffctl";

bool xcli_matches(const char *arg, const char *word)
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

int xcli_parse_cpus(const char *s, __u16 *cpus, unsigned int max, unsigned int *n)
{
	int ncpu = xoff_nr_cpus();
	const char *p = s;
	unsigned int i;

	*n = 0;
	while (*p) {
		char *end;
		unsigned long a, b;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		a = b = strtoul(p, &end, 10);
		if (*end == '-') {
			p = end + 1;
			if (*p < '0' || *p > '9')
				return -EINVAL;
			b = strtoul(p, &end, 10);
			if (b < a)
				return -EINVAL;
		}
		if (b >= (unsigned long)ncpu)
			return -ERANGE;
		for (; a <= b; a++) {
			for (i = 0; i < *n; i++)
				if (cpus[i] == a)
					break;
			if (i < *n)
				continue;	/* listed twice: once is enough */
			if (*n == max)
				return -E2BIG;
			cpus[(*n)++] = a;
		}
		if (*end == ',' && end[1])
			end++;
		else if (*end)
			return -EINVAL;
		p = end;
	}
	return *n ? 0 : -EINVAL;
}

static int usage(struct xerr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage(struct xerr *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int on_off(const char *v, bool *on)
{
	if (!strcmp(v, "on"))
		*on = true;
	else if (!strcmp(v, "off"))
		*on = false;
	else
		return -EINVAL;
	return 0;
}

static int mirror_mode(const char *s, int *m)
{
	if (!strcmp(s, "auto"))
		*m = XMIRROR_AUTO;
	else if (!strcmp(s, "on"))
		*m = XMIRROR_ON;
	else if (!strcmp(s, "off"))
		*m = XMIRROR_OFF;
	else
		return -EINVAL;
	return 0;
}

static bool dev_name_ok(const char *s)
{
	return *s && strlen(s) < IF_NAMESIZE && !strchr(s, '/') && strcmp(s, ".") &&
	       strcmp(s, "..") && !strpbrk(s, " \t\n:");
}

static const char *const attach_words[] = { "xdp-mode", "steer", "cpus", "unknown-spi",
					    "mirror", NULL };
static const char *const filter_words[] = { "dst", "spi", "dev", NULL };
static const char *const run_words[] = { "pin-dir", "interval", "cpus", "tx-queues", "mirror",
					 "mirror-dev", "rcvbuf", "rx-cpus", "rx-weight",
					 "log-level", NULL };

static bool known(const char *k, const char *const *words)
{
	for (; *words; words++)
		if (xcli_matches(k, *words))
			return true;
	return false;
}

int xcli_parse_global(int *argc, char ***argv, struct xcli_global *g, struct xerr *e)
{
	memset(g, 0, sizeof(*g));
	while (*argc > 0 && (*argv)[0][0] == '-' && (*argv)[0][1]) {
		const char *a = (*argv)[0];

		if (!strcmp(a, "-j") || !strcmp(a, "--json")) {
			g->json = true;
		} else if (!strcmp(a, "-p") || !strcmp(a, "--pretty")) {
			g->json = g->pretty = true;
		} else if (!strcmp(a, "-jp") || !strcmp(a, "-pj")) {
			g->json = g->pretty = true;
		} else if (!strcmp(a, "-P") || !strcmp(a, "--pin-dir")) {
			if (*argc < 2)
				return usage(e, "%s needs a directory", a);
			g->pin_dir = (*argv)[1];
			(*argc)--, (*argv)++;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			break;
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			break;
		} else {
			return usage(e, "unknown option '%s'", a);
		}
		(*argc)--, (*argv)++;
	}
	if (g->pin_dir && (g->pin_dir[0] != '/' || strlen(g->pin_dir) >= 200))
		return usage(e, "pin dir '%s': must be an absolute path under 200 bytes",
			     g->pin_dir);
	return 0;
}

int xcli_parse_attach(int argc, char **argv, struct xattach_opts *o, __u16 *cpus,
		      unsigned int max, struct xerr *e)
{
	bool seen[7] = { 0 }, on;
	int i, w;

	memset(o, 0, sizeof(*o));
	o->mirror = -1;
	if (argc < 1)
		return usage(e, "attach: which device? (attach DEV ...)");
	if (!dev_name_ok(argv[0]))
		return usage(e, "attach: '%s' is not a device name", argv[0]);
	o->dev = argv[0];
	for (i = 1; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (xcli_matches(k, "no-tc") && strlen(k) >= 2) {
			w = 6;
			o->no_tc = true;
		} else if (!v) {
			return usage(e, known(k, attach_words) ? "attach: '%s' needs a value" :
				     "attach: unknown argument '%s'", k);
		} else if (xcli_matches(k, "xdp-mode")) {
			w = 0;
			if (!strcmp(v, "native"))
				o->xdp_mode = XATTACH_XDP_NATIVE;
			else if (!strcmp(v, "skb"))
				o->xdp_mode = XATTACH_XDP_SKB;
			else if (!strcmp(v, "auto"))
				o->xdp_mode = XATTACH_XDP_AUTO;
			else
				return usage(e, "xdp-mode: '%s' is not native, skb or auto", v);
		} else if (xcli_matches(k, "steer")) {
			w = 1;
			if (on_off(v, &on))
				return usage(e, "steer: '%s' is not on or off", v);
			o->no_steer = !on;
		} else if (xcli_matches(k, "cpus")) {
			w = 2;
			if (xcli_parse_cpus(v, cpus, max, &o->ncpus))
				return usage(e, "cpus: '%s' is not a list of possible CPUs (0-%d, such "
					     "as 0-3,6)", v, xoff_nr_cpus() - 1);
			o->cpus = cpus;
		} else if (xcli_matches(k, "unknown-spi")) {
			w = 3;
			if (!strcmp(v, "pass"))
				o->unknown_spi = XOFF_UNKNOWN_PASS;
			else if (!strcmp(v, "drop"))
				o->unknown_spi = XOFF_UNKNOWN_DROP;
			else
				return usage(e, "unknown-spi: '%s' is not pass or drop", v);
		} else if (xcli_matches(k, "mirror")) {
			w = 4;
			if (mirror_mode(v, &o->mirror))
				return usage(e, "mirror: '%s' is not auto, on or off", v);
		} else {
			return usage(e, "attach: unknown argument '%s'", k);
		}
		if (seen[w])
			return usage(e, "attach: '%s' given twice", k);
		seen[w] = true;
		i += w != 6;
	}
	return 0;
}

int xcli_parse_detach(int argc, char **argv, const char **dev, bool *keep_maps,
		      struct xerr *e)
{
	*dev = NULL;
	*keep_maps = false;
	if (argc < 1)
		return usage(e, "detach: which device? (detach DEV [keep-maps])");
	if (!dev_name_ok(argv[0]))
		return usage(e, "detach: '%s' is not a device name", argv[0]);
	*dev = argv[0];
	if (argc == 2 && xcli_matches(argv[1], "keep-maps"))
		*keep_maps = true;
	else if (argc >= 2)
		return usage(e, "detach: unknown argument '%s'",
			     argc > 2 && xcli_matches(argv[1], "keep-maps") ? argv[2] : argv[1]);
	return 0;
}

int xcli_parse_filter(int argc, char **argv, struct xreport_filter *f, struct xerr *e)
{
	unsigned long v;
	int i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < argc; i += 2) {
		const char *k = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!val)
			return usage(e, known(k, filter_words) ? "'%s' needs a value" :
				     "unknown filter '%s' (dst, spi, dev)", k);
		if (xcli_matches(k, "dst")) {
			if (f->has_dst)
				return usage(e, "dst given twice");
			if (inet_pton(AF_INET, val, &f->dst) == 1)
				f->family = AF_INET;
			else if (inet_pton(AF_INET6, val, &f->dst) == 1)
				f->family = AF_INET6;
			else
				return usage(e, "dst: '%s' is not an IPv4 or IPv6 address", val);
			f->has_dst = true;
		} else if (xcli_matches(k, "spi")) {
			if (f->has_spi)
				return usage(e, "spi given twice");
			if (parse_uint(val, 0xffffffffUL, &v))
				return usage(e, "spi: '%s' is not a 32-bit number (such as 0x1000)",
					     val);
			f->spi = v;
			f->has_spi = true;
		} else if (xcli_matches(k, "dev")) {
			if (f->ifindex)
				return usage(e, "dev given twice");
			if (!dev_name_ok(val))
				return usage(e, "dev: '%s' is not a device name", val);
			f->ifindex = if_nametoindex(val);
			if (!f->ifindex) {
				usage(e, "dev: no device '%s'", val);
				return -ENODEV;
			}
		} else {
			return usage(e, "unknown filter '%s' (dst, spi, dev)", k);
		}
	}
	return 0;
}

/* A percentage, 0 to 100, with or without its "%". */
/* A percentage, 0 to 100, with an optional '%'. In base 10: a percentage is not octal
 * ("010" is 10, "08" is 8) as parse_uint()'s base 0 would make it. */
static int parse_pct(const char *s, unsigned long *out)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	*out = strtoul(s, &end, 10);
	if (*end == '%')
		end++;
	return errno || *end || *out > 100 ? -EINVAL : 0;
}

int xcli_parse_run(int argc, char **argv, struct xoffd_opts *o, __u16 *cpus, __u16 *rx_cpus,
		   unsigned int max, struct xerr *e)
{
	unsigned long v;
	int i, m;

	for (i = 0; i < argc; i += 2) {
		const char *k = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!val)
			return usage(e, known(k, run_words) ? "'%s' needs a value" :
				     "run: unknown argument '%s'", k);
		if (xcli_matches(k, "pin-dir")) {
			if (val[0] != '/' || strlen(val) >= 200)
				return usage(e, "pin-dir: '%s' must be an absolute path", val);
			o->pin_dir = val;
		} else if (xcli_matches(k, "interval")) {
			if (parse_uint(val, 3600000, &v) || v < 10)
				return usage(e, "interval: '%s' is not 10 to 3600000 ms", val);
			o->interval_ms = v;
		} else if (xcli_matches(k, "cpus")) {
			if (xcli_parse_cpus(val, cpus, max, &o->ncpus))
				return usage(e, "cpus: '%s' is not a list of possible CPUs (such as "
					     "0-3,6)", val);
			o->cpus = cpus;
		} else if (xcli_matches(k, "tx-queues")) {
			if (parse_uint(val, 4096, &v))
				return usage(e, "tx-queues: '%s' is not 0 to 4096", val);
			o->tx_queues = v;
		} else if (!strcmp(k, "mirror-dev")) {
			unsigned int ifindex = dev_name_ok(val) ? if_nametoindex(val) : 0;

			if (!dev_name_ok(val))
				return usage(e, "mirror-dev: '%s' is not a device name", val);
			if (i + 2 >= argc)
				return usage(e, "mirror-dev %s: needs auto, on or off", val);
			if (!ifindex) {
				usage(e, "mirror-dev: no device '%s'", val);
				return -ENODEV;
			}
			if (o->nmodes == sizeof(o->modes) / sizeof(o->modes[0]))
				return usage(e, "mirror-dev: more than 64 devices at '%s'", val);
			if (mirror_mode(argv[i + 2], &m))
				return usage(e, "mirror-dev: '%s' is not auto, on or off",
					     argv[i + 2]);
			o->modes[o->nmodes].mode = m;
			o->modes[o->nmodes++].ifindex = ifindex;
			i++;
		} else if (xcli_matches(k, "mirror")) {
			if (mirror_mode(val, &m))
				return usage(e, "mirror: '%s' is not auto, on or off", val);
			o->mirror = m;
		} else if (xcli_matches(k, "rcvbuf")) {
			if (parse_uint(val, INT_MAX, &v))
				return usage(e, "rcvbuf: '%s' is not a byte count", val);
			o->rcvbuf = v;
		} else if (xcli_matches(k, "rx-cpus")) {
			if (xcli_parse_cpus(val, rx_cpus, max, &o->nrx_cpus))
				return usage(e, "rx-cpus: '%s' is not a list of possible CPUs (0-%d, "
					     "such as 0-3,6)", val, xoff_nr_cpus() - 1);
			o->rx_cpus = rx_cpus;
		} else if (xcli_matches(k, "rx-weight")) {
			if (parse_pct(val, &v))
				return usage(e, "rx-weight: '%s' is not a percentage from 0 to 100",
					     val);
			o->rx_weight = v;
			o->rx_weight_set = true;
		} else if (xcli_matches(k, "log-level")) {
			if (xcli_matches(val, "error"))
				o->log_level = XSYNC_ERR;
			else if (xcli_matches(val, "warning"))
				o->log_level = XSYNC_WARN;
			else if (xcli_matches(val, "info"))
				o->log_level = XSYNC_INFO;
			else if (xcli_matches(val, "debug"))
				o->log_level = XSYNC_DEBUG;
			else
				return usage(e, "log-level: '%s' is not error, warning, info or "
					     "debug", val);
		} else {
			return usage(e, "run: unknown argument '%s'", k);
		}
	}
	return 0;
}

/* ---- commands --------------------------------------------------------------------------- */

static struct xcli_global G;

static int fail(const char *msg)
{
	fprintf(stderr, "%s: %s\n", prog, msg);
	if (G.json) {
		json_t *o = json_pack("{s:s}", "error", msg);

		json_dumpf(o, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(o);
	}
	return XCLI_ERR;
}

static int usage_fail(const struct xerr *e, const char *object)
{
	fprintf(stderr, "%s: %s\nTry '%s %shelp'.\n", prog, e->msg, prog, object ? object : "");
	return XCLI_USAGE;
}

/* The capabilities BPF and XFRM netlink need, checked before anything is touched. */
static int need_privileges(const char *what)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };
	char msg[160];
	bool net, bpf;

	if (syscall(SYS_capget, &h, d))
		return 0;	/* let the kernel decide */
#define HAS(c) (d[(c) / 32].effective & (1u << ((c) % 32)))
	net = HAS(CAP_NET_ADMIN);
	/* libxdp reads the programs on a device by id: BPF_PROG_GET_FD_BY_ID, which
	 * needs CAP_SYS_ADMIN even where CAP_BPF exists. */
	bpf = HAS(CAP_SYS_ADMIN);
#undef HAS
	if (net && bpf)
		return 0;
	snprintf(msg, sizeof(msg), "%s: needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN)", what);
	return fail(msg);
}

/*
 * Where this command's pins are. Under `ip netns exec`, whose mounts die with the command,
 * in the mount namespace it was started from (xpin_enter_anchor()); with -P given and that
 * out of reach, -P where it is. Then, for the default directory, the maps an older xoff
 * pinned for every namespace at once: a @writer moves them into this namespace's own
 * directory when they serve it; otherwise a note says what to do.
 */
static int pins_here(const char *pin_dir, bool writer)
{
	char dir[200];
	struct xerr e;
	int r;

	r = xpin_enter_anchor(&e);
	if (r < 0 && !pin_dir)
		return fail(e.msg);
	if (pin_dir || xpin_default_dir(dir, sizeof(dir)))
		return XCLI_OK;	/* xpin_lock() tells what is wrong with the default */
	r = xpin_flat_move(dir, writer ? xattach_rec_here : NULL, &e);
	if (r < 0)
		return fail(e.msg);
	if (r != XPIN_FLAT_NONE)
		fprintf(stderr, "%s: note: %s\n", prog, e.msg);
	return XCLI_OK;
}

/* Where reports go: stdout, or a memory buffer while the pin directory is locked, so a
 * slow reader of our output never holds up attach, detach or the daemon. */
static FILE *out;

static int emit(json_t *o, void (*text)(FILE *, json_t *))
{
	FILE *f = out ? out : stdout;

	if (!o)
		return fail("out of memory");
	if (G.json) {
		json_dumpf(o, f, G.pretty ? JSON_INDENT(2) : JSON_COMPACT);
		fputc('\n', f);
	} else {
		text(f, o);
	}
	json_decref(o);
	return fflush(f) ? XCLI_ERR : XCLI_OK;
}

static int do_attach(int argc, char **argv)
{
	static __u16 cpus[4096];
	struct xattach_opts o;
	struct xattach_result r;
	struct xerr e;
	char msg[256];

	if (argc == 1 && xcli_matches(argv[0], "help"))
		return printf("Usage: %s attach DEV [xdp-mode native|skb|auto] [steer on|off]\n"
			      "           [cpus LIST] [unknown-spi pass|drop] [mirror auto|on|off]"
			      " [no-tc]\n", prog) < 0;
	if (xcli_parse_attach(argc, argv, &o, cpus, 4096, &e))
		return usage_fail(&e, "attach ");
	if (need_privileges("attach") || pins_here(G.pin_dir, true))
		return XCLI_ERR;
	o.pin_dir = G.pin_dir;
	if (xattach(&o, &r, &e))
		return fail(e.msg);
	if (r.reclaimed)
		fprintf(stderr, "%s: note: the pin directory was left by network namespace "
			"net:[%llu] (cookie %llu), which is gone: its maps were removed\n", prog,
			(unsigned long long)r.gone.ino, (unsigned long long)r.gone.cookie);
	if (G.json) {
		json_t *j = json_pack("{s:s,s:i,s:s,s:i,s:b,s:o,s:b,s:i,s:o}", "dev", o.dev,
				      "ifindex", (int)r.rec.ifindex, "xdp_mode",
				      r.rec.xdp_mode == XOFF_XDP_SKB ? "skb" : "native",
				      "xdp_prog_id", (int)r.rec.xdp_prog_id, "dispatcher", !r.single,
				      "tc_prog_id", r.rec.tc_prog_id ?
				      json_integer(r.rec.tc_prog_id) : json_null(),
				      "synced", r.synced, "sas", (int)r.sas, "daemon_pid",
				      r.daemon ? json_integer(r.daemon) : json_null());

		json_dumpf(j, stdout, G.pretty ? JSON_INDENT(2) : JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(j);
		return XCLI_OK;
	}
	snprintf(msg, sizeof(msg), "tc egress id %u", r.rec.tc_prog_id);
	printf("%s: attached: xdp %s id %u, %s; %s\n", o.dev,
	       r.rec.xdp_mode == XOFF_XDP_SKB ? "skb (generic)" : "native", r.rec.xdp_prog_id,
	       r.single ? "single program (libxdp's dispatcher is not usable here: no other "
			  "XDP program can run beside xoff)" : "in libxdp's dispatcher",
	       r.rec.tc_prog_id ? msg : "no tc");
	if (r.synced)
		printf("%s: maps synced with the kernel: %u SAs in the fast path; start "
		       "'xoffctl run' to follow changes\n", o.dev, r.sas);
	else if (r.daemon)
		printf("%s: the daemon (pid %d) keeps the maps in sync\n", o.dev, (int)r.daemon);
	return XCLI_OK;
}

static int do_detach(int argc, char **argv)
{
	struct xdetach_result r;
	const char *dev;
	struct xerr e;
	bool keep;

	if (argc == 1 && xcli_matches(argv[0], "help"))
		return printf("Usage: %s detach DEV [keep-maps]\n", prog) < 0;
	if (xcli_parse_detach(argc, argv, &dev, &keep, &e))
		return usage_fail(&e, "detach ");
	if (need_privileges("detach") || pins_here(G.pin_dir, true))
		return XCLI_ERR;
	if (xdetach(G.pin_dir, dev, keep, &r, &e))
		return fail(e.msg);
	if (G.json) {
		json_t *j = json_pack("{s:s,s:b,s:b,s:b,s:b,s:b,s:o}", "dev", dev, "xdp_gone",
				      r.xdp_gone, "xdp_elsewhere", r.xdp_elsewhere, "tc_gone",
				      r.tc_gone, "qdisc_removed", r.qdisc_removed, "maps_removed",
				      r.maps_removed, "daemon_pid",
				      r.daemon ? json_integer(r.daemon) : json_null());

		json_dumpf(j, stdout, G.pretty ? JSON_INDENT(2) : JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(j);
		return XCLI_OK;
	}
	printf("%s: detached%s%s%s%s\n", dev,
	       r.xdp_gone ? " (its XDP program was already gone)" : "",
	       r.tc_gone ? " (its TC filter was already gone)" : "",
	       r.qdisc_removed ? "; clsact qdisc removed" : "",
	       r.maps_removed ? "; last interface: maps unpinned" : "");
	if (r.xdp_elsewhere)
		printf("%s: not in this network namespace, but xoff's XDP program (id %u) still "
		       "exists: the device may have moved to another namespace with it (or "
		       "libxdp's pins hold it); if so, remove it there (ip link set dev DEV xdp "
		       "off)\n", dev, r.xdp_prog_id);
	if (r.daemon)
		printf("maps kept: the daemon (pid %d) uses them\n", (int)r.daemon);
	return XCLI_OK;
}

/* Read commands: a view of the pinned maps under a shared lock. */
static int with_view(int (*fn)(struct xview *v, void *ctx), void *ctx, const char *what)
{
	struct xview v;
	struct xerr e;
	int ret;

	if (need_privileges(what) || pins_here(G.pin_dir, false))
		return XCLI_ERR;
	char *buf = NULL;
	size_t len = 0;

	if (xview_open(&v, G.pin_dir, &e))
		return fail(e.msg);
	out = open_memstream(&buf, &len);
	if (!out) {
		xview_close(&v);
		return fail("out of memory");
	}
	ret = fn(&v, ctx);
	xview_close(&v);
	fclose(out);
	out = NULL;
	if (len && fwrite(buf, 1, len, stdout) != len)
		ret = XCLI_ERR;
	free(buf);
	return fflush(stdout) ? XCLI_ERR : ret;
}

static int status_fn(struct xview *v, void *ctx)
{
	struct xerr e;
	json_t *o;

	(void)ctx;
	if (xreport_status(v, &o, &e))
		return fail(e.msg);
	return emit(o, xprint_status);
}

struct sa_ctx {
	struct xreport_filter f;
	bool show;
};

static void sa_blocks(FILE *f, json_t *o)
{
	xprint_blocks(f, o, NULL);
}

static int sa_fn(struct xview *v, void *ctx)
{
	struct sa_ctx *c = ctx;
	struct xerr e;
	json_t *o;

	if (xreport_sas(v, &c->f, &o, &e))
		return fail(e.msg);
	return emit(o, c->show ? sa_blocks : xprint_sa_table);
}

static int do_sa(int argc, char **argv)
{
	struct sa_ctx c = { 0 };
	struct xerr e;

	if (argc < 1 || xcli_matches(argv[0], "list") || xcli_matches(argv[0], "show")) {
		c.show = argc >= 1 && xcli_matches(argv[0], "show");
		int err = xcli_parse_filter(argc ? argc - 1 : 0, argv + 1, &c.f, &e);

		if (err == -ENODEV)
			return fail(e.msg);
		if (err)
			return usage_fail(&e, "sa ");
		return with_view(sa_fn, &c, "sa");
	}
	if (xcli_matches(argv[0], "help")) {
		printf("Usage: %s sa { list | show } [dst ADDR] [spi SPI] [dev DEV]\n", prog);
		return XCLI_OK;
	}
	snprintf(e.msg, sizeof(e.msg), "sa: unknown command '%s'", argv[0]);
	return usage_fail(&e, "sa ");
}

static int policy_fn(struct xview *v, void *ctx)
{
	struct xerr e;
	json_t *o;

	(void)ctx;
	if (xreport_policies(v, &o, &e))
		return fail(e.msg);
	return emit(o, xprint_policies);
}

static int do_policy(int argc, char **argv)
{
	struct xerr e;

	if (argc < 1 || (xcli_matches(argv[0], "list") && argc == 1))
		return with_view(policy_fn, NULL, "policy");
	if (xcli_matches(argv[0], "help")) {
		printf("Usage: %s policy list\n", prog);
		return XCLI_OK;
	}
	snprintf(e.msg, sizeof(e.msg), "policy: unknown argument '%s'",
		 argc > 1 ? argv[1] : argv[0]);
	return usage_fail(&e, "policy ");
}

static int stats_fn(struct xview *v, void *ctx)
{
	struct xerr e;
	json_t *o;

	(void)ctx;
	if (xreport_stats(v, &o, &e))
		return fail(e.msg);
	return emit(o, xprint_stats);
}

static int metrics_fn(struct xview *v, void *ctx)
{
	struct xerr e;

	(void)ctx;
	if (xreport_metrics(v, out ? out : stdout, &e))
		return fail(e.msg);
	return XCLI_OK;
}

static json_t *tri(int v)
{
	return v == XPROBE_UNKNOWN ? json_null() : json_boolean(v == XPROBE_YES);
}

static void probe_text(FILE *f, json_t *o)
{
	const char *k, *k2;
	json_t *v, *v2;
	char buf[64];

	json_object_foreach(o, k, v) {
		fprintf(f, "%s:\n", k);
		json_object_foreach(v, k2, v2) {
			const char *s = json_is_true(v2) ? "yes" : json_is_false(v2) ? "no" :
					json_is_null(v2) ? "unknown" : NULL;

			if (!s && json_is_string(v2))
				s = json_string_value(v2);
			if (!s) {
				snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(v2));
				s = buf;
			}
			fprintf(f, "  %-34s %s\n", k2, s);
		}
	}
}

static int do_probe(int argc, char **argv)
{
	struct xprobe_kernel k;
	struct xprobe_dev d;
	json_t *o, *dj, *kj;
	char msg[160];
	int err;

	if (argc != 1 || xcli_matches(argv[0], "help")) {
		if (argc == 1) {
			printf("Usage: %s probe DEV\n", prog);
			return XCLI_OK;
		}
		fprintf(stderr, "%s: probe: %s\nTry '%s probe help'.\n", prog,
			argc ? "one device only" : "which device? (probe DEV)", prog);
		return XCLI_USAGE;
	}
	if (!dev_name_ok(argv[0])) {
		fprintf(stderr, "%s: probe: '%s' is not a device name\n", prog, argv[0]);
		return XCLI_USAGE;
	}
	if ((err = xprobe_dev(argv[0], &d))) {
		snprintf(msg, sizeof(msg), "%s: %s", argv[0],
			 err == -ENODEV ? "no such device" : strerror(-err));
		return fail(msg);
	}
	if ((err = xprobe_kernel(&k))) {
		snprintf(msg, sizeof(msg), "probing the kernel: %s", strerror(-err));
		return fail(msg);
	}
	dj = json_object();
	json_object_set_new(dj, "name", json_string(d.name));
	json_object_set_new(dj, "ifindex", json_integer(d.ifindex));
	json_object_set_new(dj, "driver", json_string(d.driver));
	json_object_set_new(dj, "esp_hw_offload", tri(d.esp_hw_offload));
	json_object_set_new(dj, "esp_hw_offload_available", tri(d.esp_hw_offload_avail));
	json_object_set_new(dj, "esp_tx_csum_hw_offload", tri(d.esp_tx_csum));
	json_object_set_new(dj, "esp_tx_csum_hw_offload_available", tri(d.esp_tx_csum_avail));
	json_object_set_new(dj, "tx_esp_segmentation", tri(d.esp_gso));
	json_object_set_new(dj, "tx_esp_segmentation_available", tri(d.esp_gso_avail));
	json_object_set_new(dj, "xdp_native", tri(d.xdp_native));
	json_object_set_new(dj, "mtu", json_integer(d.mtu));
	json_object_set_new(dj, "up", tri(d.up));
	kj = json_object();
	json_object_set_new(kj, "release", json_string(k.release));
	json_object_set_new(kj, "btf", tri(k.btf));
	json_object_set_new(kj, "xfrm_user", tri(k.xfrm_user));
	json_object_set_new(kj, "esp4", tri(k.esp));
	json_object_set_new(kj, "esp6", tri(k.esp6));
	json_object_set_new(kj, "xfrm_offload", tri(k.xfrm_offload));
	json_object_set_new(kj, "packet_offload", tri(k.packet_offload));
	json_object_set_new(kj, "xfrma_sa_dir", tri(k.sa_dir));
	json_object_set_new(kj, "xfrma_sa_pcpu", tri(k.sa_pcpu));
	json_object_set_new(kj, "xdp_features_netlink", tri(k.xdp_features_genl));
	o = json_object();
	json_object_set_new(o, "device", dj);
	json_object_set_new(o, "kernel", kj);
	return emit(o, probe_text);
}

static int do_run(int argc, char **argv)
{
	static __u16 cpus[XOFFD_MAX_CPUS], rx_cpus[XOFFD_MAX_CPUS];
	struct xoffd_opts o = { 0 };
	struct xerr e;
	int err;

	if (argc == 1 && xcli_matches(argv[0], "help")) {
		printf("Usage: %s run [pin-dir DIR] [interval MS] [cpus LIST] [tx-queues N]\n"
		       "           [mirror auto|on|off] [mirror-dev DEV auto|on|off]...\n"
		       "           [rcvbuf BYTES] [rx-cpus LIST] [rx-weight PCT]\n"
		       "           [log-level error|warning|info|debug]\n", prog);
		return XCLI_OK;
	}
	o.pin_dir = G.pin_dir;
	err = xcli_parse_run(argc, argv, &o, cpus, rx_cpus, XOFFD_MAX_CPUS, &e);
	if (err == -ENODEV)
		return fail(e.msg);
	if (err)
		return usage_fail(&e, "run ");
	if (need_privileges("run") || pins_here(o.pin_dir, true))
		return XCLI_ERR;
	return xoffd_run(&o) ? XCLI_ERR : XCLI_OK;
}

static void help(FILE *f)
{
	fprintf(f,
		"Usage: %s [OPTIONS] OBJECT COMMAND...\n"
		"OPTIONS: -j|--json  -p|--pretty  -P|--pin-dir DIR  -h|--help  -V|--version\n"
		"       %s attach DEV [xdp-mode native|skb|auto] [steer on|off] [cpus LIST]\n"
		"                 [unknown-spi pass|drop] [mirror auto|on|off] [no-tc]\n"
		"       %s detach DEV [keep-maps]\n"
		"       %s status\n"
		"       %s sa { list | show } [dst ADDR] [spi SPI] [dev DEV]\n"
		"       %s policy list\n"
		"       %s stats\n"
		"       %s metrics\n"
		"       %s probe DEV\n"
		"       %s run [pin-dir DIR] [interval MS] [cpus LIST] [tx-queues N]\n"
		"              [mirror auto|on|off] [mirror-dev DEV auto|on|off]...\n"
		"              [rcvbuf BYTES] [rx-cpus LIST] [rx-weight PCT]\n"
		"              [log-level error|warning|info|debug]\n"
		"       %s version\n"
		"       %s help\n", prog, prog, prog, prog, prog, prog, prog, prog, prog, prog,
		prog, prog);
}

/* libbpf's warnings only; its informational lines are noise to an operator. */
static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN || strstr(fmt, "skipping unrecognized data section"))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int version(void)
{
	if (G.json) {
		json_t *o = json_pack("{s:s,s:s}", "version", XOFF_VERSION, "libbpf",
				      libbpf_version_string());

		return emit(o, NULL);
	}
	printf("%s %s (libbpf %s, libxdp, libmnl, jansson %s)\n", prog, XOFF_VERSION,
	       libbpf_version_string(), JANSSON_VERSION);
	return XCLI_OK;
}

/* A read command without arguments: `help` or nothing. */
static int bare_cmd(const char *name, int argc, char **argv,
		    int (*fn)(struct xview *v, void *ctx))
{
	struct xerr e;

	if (!argc)
		return with_view(fn, NULL, name);
	if (argc == 1 && xcli_matches(argv[0], "help"))
		return printf("Usage: %s %s\n", prog, name) < 0;
	snprintf(e.msg, sizeof(e.msg), "%s: unknown argument '%s'", name, argv[0]);
	return usage_fail(&e, "");
}

int xoffctl_main(int argc, char **argv)
{
	const char *obj;
	struct xerr e;

	libbpf_set_print(libbpf_quiet);
	argc--, argv++;
	if (xcli_parse_global(&argc, &argv, &G, &e))
		return usage_fail(&e, NULL);
	if (argc < 1) {
		help(stderr);
		return XCLI_USAGE;
	}
	obj = argv[0];
	argc--, argv++;
	if (!strcmp(obj, "-h") || !strcmp(obj, "--help") || xcli_matches(obj, "help")) {
		help(stdout);
		return XCLI_OK;
	}
	if (!strcmp(obj, "-V") || !strcmp(obj, "--version") || xcli_matches(obj, "version"))
		return version();
	if (xcli_matches(obj, "attach"))
		return do_attach(argc, argv);
	if (xcli_matches(obj, "detach"))
		return do_detach(argc, argv);
	if (xcli_matches(obj, "sa"))
		return do_sa(argc, argv);
	if (xcli_matches(obj, "status"))
		return bare_cmd("status", argc, argv, status_fn);
	if (xcli_matches(obj, "stats"))
		return bare_cmd("stats", argc, argv, stats_fn);
	if (xcli_matches(obj, "policy"))
		return do_policy(argc, argv);
	if (xcli_matches(obj, "metrics"))
		return bare_cmd("metrics", argc, argv, metrics_fn);
	if (xcli_matches(obj, "probe"))
		return do_probe(argc, argv);
	if (xcli_matches(obj, "run"))
		return do_run(argc, argv);
	snprintf(e.msg, sizeof(e.msg), "unknown object '%s'", obj);
	return usage_fail(&e, NULL);
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xoffctl's command line (user/cli.c): the parsers, one SA as JSON (user/report.c), Prometheus
 * label escaping (user/output.c), and the binary itself: exit codes, messages and JSON.
 * The binary never attaches, detaches or reads the real pin directory here: read commands
 * are pointed (-P) at a private bpffs where nothing is pinned. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/udp.h>
#include <criterion/criterion.h>
#include "proc.h"
#include <criterion/parameterized.h>
#include <jansson.h>
#include "cli.h"
#include "report.h"
#include "bpffs.h"

#define CLI_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
/* A NULL-terminated argv of string literals, and its argc. */
#define CLI_ARGV(...) ((char *[]){ __VA_ARGS__, NULL })
#define CLI_ARGC(...) ((int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)))
#define CLI_ARGS(...) CLI_ARGC(__VA_ARGS__), CLI_ARGV(__VA_ARGS__)

static __u16 cli_cpus[4096], cli_rx_cpus[4096];
static struct xerr cli_e;

/* The error message names @word, in quotes as every parser quotes the bad word. */
static void expect_names(const char *word)
{
	char q[64];

	snprintf(q, sizeof(q), "'%s'", word);
	cr_assert(strstr(cli_e.msg, q), "message '%s' does not name %s", cli_e.msg, q);
}

static int attach_argv(int argc, char **argv, struct xattach_opts *o)
{
	memset(&cli_e, 0, sizeof(cli_e));
	memset(cli_cpus, 0xee, sizeof(cli_cpus));
	return xcli_parse_attach(argc, argv, o, cli_cpus, CLI_ARRAY_SIZE(cli_cpus), &cli_e);
}

static int ncpus_or_skip(int need)
{
	int n = xoff_nr_cpus();

	cr_assert_gt(n, 0, "xoff_nr_cpus: %d", n);
	if (n < need)
		cr_skip_test("SKIP: needs %d possible CPUs, this host has %d", need, n);
	return n;
}

/* ---- xcli_matches --------------------------------------------------------------------- */

Test(cli, matches_prefixes)
{
	cr_assert(xcli_matches("a", "attach"));
	cr_assert(xcli_matches("att", "attach"));
	cr_assert(xcli_matches("attach", "attach"));
	cr_assert_not(xcli_matches("attachx", "attach"));
	cr_assert_not(xcli_matches("", "attach"), "the empty word matches nothing");
	cr_assert_not(xcli_matches("b", "attach"));
	cr_assert_not(xcli_matches("Attach", "attach"));
}

/* ---- attach --------------------------------------------------------------------------- */

enum { F_XDP, F_STEER, F_UNKNOWN, F_MIRROR, F_NOTC, F_NFIELDS };

static int attach_field(const struct xattach_opts *o, int f)
{
	switch (f) {
	case F_XDP:	return o->xdp_mode;
	case F_STEER:	return o->no_steer;
	case F_UNKNOWN:	return o->unknown_spi;
	case F_MIRROR:	return o->mirror;
	default:	return o->no_tc;
	}
}

static const int attach_default[F_NFIELDS] = {
	[F_XDP] = XATTACH_XDP_AUTO, [F_STEER] = 0, [F_UNKNOWN] = XOFF_UNKNOWN_PASS,
	[F_MIRROR] = -1, [F_NOTC] = 0,
};

Test(cli, attach_defaults)
{
	struct xattach_opts o;
	int f;

	memset(&o, 0x5a, sizeof(o));
	cr_assert_eq(attach_argv(CLI_ARGS("lo"), &o), 0, "%s", cli_e.msg);
	cr_assert_str_eq(o.dev, "lo");
	cr_assert_eq(o.xdp_mode, XATTACH_XDP_AUTO);
	cr_assert_not(o.no_steer, "steering is on by default");
	cr_assert_eq(o.unknown_spi, XOFF_UNKNOWN_PASS);
	cr_assert_eq(o.mirror, -1, "mirror not given: -1");
	cr_assert_not(o.no_tc, "the TC program is attached by default");
	cr_assert_null(o.cpus, "cpus not given: NULL (all possible CPUs)");
	cr_assert_eq(o.ncpus, 0);
	cr_assert_null(o.pin_dir);
	for (f = 0; f < F_NFIELDS; f++)
		cr_assert_eq(attach_field(&o, f), attach_default[f], "field %d", f);
}

struct attach_opt_case {
	char	key[16];
	char	val[16];
	int	field;
	int	want;
};

ParameterizedTestParameters(cli, attach_option)
{
	static struct attach_opt_case cases[] = {
		{ "xdp-mode", "native", F_XDP, XATTACH_XDP_NATIVE },
		{ "xdp-mode", "skb", F_XDP, XATTACH_XDP_SKB },
		{ "xdp-mode", "auto", F_XDP, XATTACH_XDP_AUTO },
		{ "xdp", "native", F_XDP, XATTACH_XDP_NATIVE },
		{ "xdp", "skb", F_XDP, XATTACH_XDP_SKB },
		{ "x", "skb", F_XDP, XATTACH_XDP_SKB },
		{ "steer", "on", F_STEER, 0 },
		{ "steer", "off", F_STEER, 1 },
		{ "st", "off", F_STEER, 1 },
		{ "s", "on", F_STEER, 0 },
		{ "unknown-spi", "pass", F_UNKNOWN, XOFF_UNKNOWN_PASS },
		{ "unknown-spi", "drop", F_UNKNOWN, XOFF_UNKNOWN_DROP },
		{ "unk", "drop", F_UNKNOWN, XOFF_UNKNOWN_DROP },
		{ "unk", "pass", F_UNKNOWN, XOFF_UNKNOWN_PASS },
		{ "u", "drop", F_UNKNOWN, XOFF_UNKNOWN_DROP },
		{ "mirror", "auto", F_MIRROR, XMIRROR_AUTO },
		{ "mirror", "on", F_MIRROR, XMIRROR_ON },
		{ "mirror", "off", F_MIRROR, XMIRROR_OFF },
		{ "m", "auto", F_MIRROR, XMIRROR_AUTO },
		{ "m", "on", F_MIRROR, XMIRROR_ON },
		{ "mir", "off", F_MIRROR, XMIRROR_OFF },
		{ "no-tc", "", F_NOTC, 1 },
		{ "no", "", F_NOTC, 1 },
	};

	return cr_make_param_array(struct attach_opt_case, cases, CLI_ARRAY_SIZE(cases));
}

ParameterizedTest(struct attach_opt_case *c, cli, attach_option)
{
	struct xattach_opts o;
	int f, ret;

	if (c->field == F_NOTC)
		ret = attach_argv(CLI_ARGS("eth0", c->key), &o);
	else
		ret = attach_argv(CLI_ARGS("eth0", c->key, c->val), &o);
	cr_assert_eq(ret, 0, "attach eth0 %s %s: %d %s", c->key, c->val, ret, cli_e.msg);
	cr_assert_str_eq(o.dev, "eth0");
	for (f = 0; f < F_NFIELDS; f++)
		cr_assert_eq(attach_field(&o, f), f == c->field ? c->want : attach_default[f],
			     "attach eth0 %s %s: field %d is %d", c->key, c->val, f,
			     attach_field(&o, f));
	cr_assert_null(o.cpus);
}

Test(cli, attach_every_option_any_order)
{
	struct xattach_opts o;
	int ncpu = ncpus_or_skip(1);

	cr_assert_eq(attach_argv(CLI_ARGS("eth1", "no-tc", "mirror", "off", "cpus", "0",
					  "unknown-spi", "drop", "steer", "off", "xdp-mode",
					  "native"), &o), 0, "%s", cli_e.msg);
	cr_assert_str_eq(o.dev, "eth1");
	cr_assert(o.no_tc);
	cr_assert_eq(o.mirror, XMIRROR_OFF);
	cr_assert_eq(o.cpus, cli_cpus);
	cr_assert_eq(o.ncpus, 1);
	cr_assert_eq(cli_cpus[0], 0);
	cr_assert_eq(o.unknown_spi, XOFF_UNKNOWN_DROP);
	cr_assert(o.no_steer);
	cr_assert_eq(o.xdp_mode, XATTACH_XDP_NATIVE);
	(void)ncpu;
}

struct bad_value_case {
	char	key[16];
	char	val[32];
	char	canon[16];	/* the keyword as the message spells it */
};

ParameterizedTestParameters(cli, attach_bad_value)
{
	static struct bad_value_case cases[] = {
		{ "xdp-mode", "turbo", "xdp-mode" },
		{ "xdp-mode", "Native", "xdp-mode" },
		{ "xdp-mode", "generic", "xdp-mode" },
		{ "xdp-mode", "", "xdp-mode" },
		{ "xdp", "drv", "xdp-mode" },
		{ "steer", "yes", "steer" },
		{ "steer", "1", "steer" },
		{ "steer", "ON", "steer" },
		{ "steer", "", "steer" },
		{ "unknown-spi", "reject", "unknown-spi" },
		{ "unknown-spi", "accept", "unknown-spi" },
		{ "unk", "DROP", "unknown-spi" },
		{ "mirror", "maybe", "mirror" },
		{ "mirror", "true", "mirror" },
		{ "m", "1", "mirror" },
		{ "cpus", "a", "cpus" },
		{ "cpus", "0,", "cpus" },
		{ "cpus", "-1", "cpus" },
		{ "cpus", "5-2", "cpus" },
		{ "cpus", "", "cpus" },
		{ "cpus", "99999999999999999999999", "cpus" },
	};

	return cr_make_param_array(struct bad_value_case, cases, CLI_ARRAY_SIZE(cases));
}

ParameterizedTest(struct bad_value_case *c, cli, attach_bad_value)
{
	struct xattach_opts o;

	cr_assert_eq(attach_argv(CLI_ARGS("lo", c->key, c->val), &o), -EINVAL,
		     "attach lo %s '%s' accepted", c->key, c->val);
	expect_names(c->val);
	cr_assert(strstr(cli_e.msg, c->canon), "message '%s' does not name %s", cli_e.msg,
		  c->canon);
}

Test(cli, attach_missing_value)
{
	static const char *const keys[] = { "xdp-mode", "steer", "cpus", "unknown-spi", "mirror",
					    "xdp", "unk", "m" };
	struct xattach_opts o;
	char msg[64];
	size_t i;

	for (i = 0; i < CLI_ARRAY_SIZE(keys); i++) {
		char *argv[] = { "lo", (char *)keys[i], NULL };

		cr_assert_eq(attach_argv(2, argv, &o), -EINVAL, "%s without a value", keys[i]);
		snprintf(msg, sizeof(msg), "'%s' needs a value", keys[i]);
		cr_assert(strstr(cli_e.msg, msg), "%s: '%s'", keys[i], cli_e.msg);
	}
	/* A value-less keyword before another keyword takes it as its value. */
	cr_assert_eq(attach_argv(CLI_ARGS("lo", "steer", "mirror", "on"), &o), -EINVAL);
	expect_names("mirror");
}

struct dup_case {
	char	k1[16], v1[16], k2[16], v2[16];
};

ParameterizedTestParameters(cli, attach_duplicate)
{
	static struct dup_case cases[] = {
		{ "xdp-mode", "native", "xdp-mode", "native" },
		{ "xdp-mode", "native", "xdp", "skb" },
		{ "steer", "on", "st", "off" },
		{ "cpus", "0", "cpus", "0" },
		{ "unknown-spi", "pass", "unk", "drop" },
		{ "mirror", "on", "m", "off" },
		{ "no-tc", "", "no-tc", "" },
		{ "no-tc", "", "no", "" },
	};

	return cr_make_param_array(struct dup_case, cases, CLI_ARRAY_SIZE(cases));
}

ParameterizedTest(struct dup_case *c, cli, attach_duplicate)
{
	struct xattach_opts o;
	int ret;

	if (!c->v1[0])
		ret = attach_argv(CLI_ARGS("lo", c->k1, c->k2), &o);
	else
		ret = attach_argv(CLI_ARGS("lo", c->k1, c->v1, "steer", "on", c->k2, c->v2),
				  &o);
	if (!c->v1[0] || strcmp(c->k1, "steer")) {
		cr_assert_eq(ret, -EINVAL, "%s twice accepted", c->k1);
		expect_names(c->k2);
		cr_assert(strstr(cli_e.msg, "given twice"), "'%s'", cli_e.msg);
	} else {
		/* steer given three times: the second one already fails. */
		cr_assert_eq(ret, -EINVAL);
		cr_assert(strstr(cli_e.msg, "given twice"), "'%s'", cli_e.msg);
	}
}

Test(cli, attach_unknown_keyword)
{
	struct xattach_opts o;

	cr_assert_eq(attach_argv(CLI_ARGS("lo", "bogus", "on"), &o), -EINVAL);
	expect_names("bogus");
	cr_assert(strstr(cli_e.msg, "unknown argument"), "'%s'", cli_e.msg);
	cr_assert_eq(attach_argv(CLI_ARGS("lo", "steer", "on", "turbo", "1"), &o), -EINVAL);
	expect_names("turbo");
	/* "n" is too short for no-tc (and not a keyword with a value either). */
	cr_assert_eq(attach_argv(CLI_ARGS("lo", "n", "x"), &o), -EINVAL);
	expect_names("n");
	cr_assert_eq(attach_argv(CLI_ARGS("lo", "no-tcx"), &o), -EINVAL);
	expect_names("no-tcx");
	/* A last word that is not a keyword: refused and named. */
	cr_assert_eq(attach_argv(CLI_ARGS("lo", "bogus"), &o), -EINVAL);
	expect_names("bogus");
	/* The keyword names, not the values, are prefix-matched: a prefix longer than the
	 * keyword is no keyword. */
	cr_assert_eq(attach_argv(CLI_ARGS("lo", "steering", "on"), &o), -EINVAL);
	expect_names("steering");
}

Test(cli, attach_missing_dev)
{
	struct xattach_opts o;

	memset(&cli_e, 0, sizeof(cli_e));
	cr_assert_eq(xcli_parse_attach(0, CLI_ARGV(NULL), &o, cli_cpus, 16, &cli_e), -EINVAL);
	cr_assert(strstr(cli_e.msg, "which device"), "'%s'", cli_e.msg);
	cr_assert_null(o.dev);
	cr_assert_eq(o.mirror, -1);
}

struct devname_case {
	char	name[40];
	bool	ok;
};

ParameterizedTestParameters(cli, attach_devname)
{
	static struct devname_case cases[] = {
		{ "", false },
		{ "abcdefghijklmnop", false },		/* 16 bytes: IFNAMSIZ with the NUL */
		{ "abcdefghijklmnopqrstuvwxyz0123", false },
		{ "a/b", false },
		{ "/", false },
		{ ".", false },
		{ "..", false },
		{ "eth 0", false },
		{ "eth0:1", false },
		{ "eth\t0", false },
		{ "abcdefghijklmno", true },		/* 15 bytes: the longest name */
		{ "lo", true },
		{ "...", true },
		{ "eth0.100", true },
		{ "nosuchdev0", true },			/* existence is attach's business */
	};

	return cr_make_param_array(struct devname_case, cases, CLI_ARRAY_SIZE(cases));
}

ParameterizedTest(struct devname_case *c, cli, attach_devname)
{
	struct xattach_opts o;
	const char *dev = NULL;
	bool keep;
	int ret;

	ret = attach_argv(CLI_ARGS(c->name), &o);
	if (c->ok) {
		cr_assert_eq(ret, 0, "'%s' refused: %s", c->name, cli_e.msg);
		cr_assert_str_eq(o.dev, c->name);
	} else {
		cr_assert_eq(ret, -EINVAL, "'%s' accepted", c->name);
		expect_names(c->name);
		cr_assert(strstr(cli_e.msg, "not a device name"), "'%s'", cli_e.msg);
	}
	/* detach checks names the same way. */
	ret = xcli_parse_detach(1, CLI_ARGV(c->name), &dev, &keep, &cli_e);
	cr_assert_eq(ret, c->ok ? 0 : -EINVAL, "detach '%s': %d", c->name, ret);
	if (c->ok)
		cr_assert_str_eq(dev, c->name);
	else
		expect_names(c->name);
}

/* ---- cpus ------------------------------------------------------------------------------- */

struct cpus_case {
	char	list[24];
	int	need;		/* possible CPUs the case needs */
	unsigned int n;
	__u16	want[4];
};

ParameterizedTestParameters(cli, cpus_valid)
{
	static struct cpus_case cases[] = {
		{ "0", 1, 1, { 0 } },
		{ "0-0", 1, 1, { 0 } },
		{ "0,0", 1, 1, { 0 } },
		{ "0,0-0,0", 1, 1, { 0 } },
		{ "0-1", 2, 2, { 0, 1 } },
		{ "1,0", 2, 2, { 1, 0 } },
		{ "1", 2, 1, { 1 } },
		{ "0-1,1", 2, 2, { 0, 1 } },
		{ "1,0-1", 2, 2, { 1, 0 } },
		{ "1,1,1", 2, 1, { 1 } },
	};

	return cr_make_param_array(struct cpus_case, cases, CLI_ARRAY_SIZE(cases));
}

ParameterizedTest(struct cpus_case *c, cli, cpus_valid)
{
	struct xattach_opts o;
	__u16 buf[8];
	unsigned int n = 99, i;

	ncpus_or_skip(c->need);
	cr_assert_eq(xcli_parse_cpus(c->list, buf, CLI_ARRAY_SIZE(buf), &n), 0, "'%s'", c->list);
	cr_assert_eq(n, c->n, "'%s': %u CPUs", c->list, n);
	for (i = 0; i < n; i++)
		cr_assert_eq(buf[i], c->want[i], "'%s'[%u] = %u", c->list, i, buf[i]);
	/* And through attach. */
	cr_assert_eq(attach_argv(CLI_ARGS("lo", "cpus", c->list), &o), 0, "%s", cli_e.msg);
	cr_assert_eq(o.cpus, cli_cpus);
	cr_assert_eq(o.ncpus, c->n);
	for (i = 0; i < c->n; i++)
		cr_assert_eq(cli_cpus[i], c->want[i]);
}

struct cpus_bad_case {
	char	list[32];
	int	err;
};

ParameterizedTestParameters(cli, cpus_invalid)
{
	static struct cpus_bad_case cases[] = {
		{ "5-2", -EINVAL }, { "1-0", -EINVAL }, { "a", -EINVAL }, { "0,", -EINVAL },
		{ "-1", -EINVAL }, { "", -EINVAL }, { ",0", -EINVAL }, { "0,,0", -EINVAL },
		{ "0-", -EINVAL }, { "0 ", -EINVAL }, { " 0", -EINVAL }, { "+0", -EINVAL },
		{ "0x0", -EINVAL }, { "0-0-0", -EINVAL }, { "0--0", -EINVAL }, { "0;1", -EINVAL },
		{ "99999999999999999999999", -ERANGE }, { "65536", -ERANGE },
		{ "0-65536", -ERANGE },
	};

	return cr_make_param_array(struct cpus_bad_case, cases, CLI_ARRAY_SIZE(cases));
}

ParameterizedTest(struct cpus_bad_case *c, cli, cpus_invalid)
{
	struct xattach_opts o;
	__u16 buf[8];
	unsigned int n;

	cr_assert_eq(xcli_parse_cpus(c->list, buf, CLI_ARRAY_SIZE(buf), &n), c->err,
		     "'%s': not %d", c->list, c->err);
	cr_assert_eq(attach_argv(CLI_ARGS("lo", "cpus", c->list), &o), -EINVAL, "'%s'",
		     c->list);
	expect_names(c->list);
	cr_assert_null(o.cpus);
}

Test(cli, cpus_beyond_possible)
{
	struct xattach_opts o;
	int ncpu = ncpus_or_skip(1);
	char s[32], range[16];
	__u16 buf[8];
	unsigned int n;

	snprintf(s, sizeof(s), "%d", ncpu);
	cr_assert_eq(xcli_parse_cpus(s, buf, CLI_ARRAY_SIZE(buf), &n), -ERANGE, "'%s'", s);
	cr_assert_eq(attach_argv(CLI_ARGS("lo", "cpus", s), &o), -EINVAL);
	expect_names(s);
	snprintf(range, sizeof(range), "0-%d", ncpu - 1);
	cr_assert(strstr(cli_e.msg, range), "message '%s' does not give the range %s", cli_e.msg,
		  range);
	snprintf(s, sizeof(s), "0-%d", ncpu);
	cr_assert_eq(xcli_parse_cpus(s, buf, CLI_ARRAY_SIZE(buf), &n), -ERANGE, "'%s'", s);
	snprintf(s, sizeof(s), "0,%d", ncpu);
	cr_assert_eq(xcli_parse_cpus(s, buf, CLI_ARRAY_SIZE(buf), &n), -ERANGE, "'%s'", s);
	snprintf(s, sizeof(s), "%d", ncpu - 1);
	cr_assert_eq(xcli_parse_cpus(s, buf, CLI_ARRAY_SIZE(buf), &n), 0, "'%s'", s);
	cr_assert_eq(n, 1);
	cr_assert_eq(buf[0], ncpu - 1);
}

Test(cli, cpus_capacity)
{
	__u16 buf[2] = { 7, 7 };
	unsigned int n;

	ncpus_or_skip(2);
	cr_assert_eq(xcli_parse_cpus("0-1", buf, 1, &n), -E2BIG);
	cr_assert_eq(xcli_parse_cpus("0,0,0", buf, 1, &n), 0, "duplicates take no room");
	cr_assert_eq(n, 1);
	cr_assert_eq(xcli_parse_cpus("1,0", buf, 2, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(buf[0], 1);
	cr_assert_eq(buf[1], 0);
}

/* ---- detach ---------------------------------------------------------------------------- */

Test(cli, detach)
{
	const char *dev;
	bool keep;

	cr_assert_eq(xcli_parse_detach(CLI_ARGS("lo"), &dev, &keep, &cli_e), 0);
	cr_assert_str_eq(dev, "lo");
	cr_assert_not(keep);
	cr_assert_eq(xcli_parse_detach(CLI_ARGS("eth0", "keep-maps"), &dev, &keep, &cli_e), 0);
	cr_assert_str_eq(dev, "eth0");
	cr_assert(keep);
	cr_assert_eq(xcli_parse_detach(CLI_ARGS("eth0", "keep"), &dev, &keep, &cli_e), 0);
	cr_assert(keep);
	cr_assert_eq(xcli_parse_detach(CLI_ARGS("eth0", "k"), &dev, &keep, &cli_e), 0);
	cr_assert(keep);

	cr_assert_eq(xcli_parse_detach(0, CLI_ARGV(NULL), &dev, &keep, &cli_e), -EINVAL);
	cr_assert_null(dev);
	cr_assert(strstr(cli_e.msg, "which device"), "'%s'", cli_e.msg);
	cr_assert_eq(xcli_parse_detach(CLI_ARGS("eth0", "keep-mapsx"), &dev, &keep, &cli_e),
		     -EINVAL);
	expect_names("keep-mapsx");
	cr_assert_eq(xcli_parse_detach(CLI_ARGS("eth0", "bogus"), &dev, &keep, &cli_e), -EINVAL);
	expect_names("bogus");
	cr_assert_eq(xcli_parse_detach(CLI_ARGS("eth0", "keep-maps", "extra"), &dev, &keep,
				       &cli_e), -EINVAL);
	expect_names("extra");
	cr_assert_eq(xcli_parse_detach(CLI_ARGS("eth0", "keep-maps", "keep-maps"), &dev, &keep,
				       &cli_e), -EINVAL);
	cr_assert_eq(xcli_parse_detach(CLI_ARGS("a/b", "keep-maps"), &dev, &keep, &cli_e),
		     -EINVAL);
	expect_names("a/b");
}

/* ---- sa filters ------------------------------------------------------------------------- */

static int filter_argv(int argc, char **argv, struct xreport_filter *f)
{
	memset(&cli_e, 0, sizeof(cli_e));
	memset(f, 0x5a, sizeof(*f));
	return xcli_parse_filter(argc, argv, f, &cli_e);
}

Test(cli, filter_none)
{
	struct xreport_filter f, zero;

	memset(&zero, 0, sizeof(zero));
	cr_assert_eq(filter_argv(0, CLI_ARGV(NULL), &f), 0);
	cr_assert_not(f.has_dst);
	cr_assert_not(f.has_spi);
	cr_assert_eq(f.ifindex, 0);
	cr_assert_eq(memcmp(&f, &zero, sizeof(f)), 0, "no filter: all zero");
}

Test(cli, filter_dst)
{
	struct xreport_filter f;
	xfrm_address_t want;

	memset(&want, 0, sizeof(want));
	inet_pton(AF_INET, "192.0.2.1", &want);
	cr_assert_eq(filter_argv(CLI_ARGS("dst", "192.0.2.1"), &f), 0, "%s", cli_e.msg);
	cr_assert(f.has_dst);
	cr_assert_eq(f.family, AF_INET);
	cr_assert_eq(memcmp(&f.dst, &want, sizeof(want)), 0, "the rest of the address is zero");
	cr_assert_not(f.has_spi);
	cr_assert_eq(f.ifindex, 0);

	memset(&want, 0, sizeof(want));
	inet_pton(AF_INET6, "2001:db8::1", &want);
	cr_assert_eq(filter_argv(CLI_ARGS("d", "2001:db8::1"), &f), 0, "%s", cli_e.msg);
	cr_assert(f.has_dst);
	cr_assert_eq(f.family, AF_INET6);
	cr_assert_eq(memcmp(&f.dst, &want, sizeof(want)), 0);

	cr_assert_eq(filter_argv(CLI_ARGS("dst", "::ffff:192.0.2.1"), &f), 0);
	cr_assert_eq(f.family, AF_INET6);

	cr_assert_eq(filter_argv(CLI_ARGS("dst", "192.0.2.1/24"), &f), -EINVAL);
	expect_names("192.0.2.1/24");
	cr_assert_eq(filter_argv(CLI_ARGS("dst", "gateway"), &f), -EINVAL);
	expect_names("gateway");
	cr_assert_eq(filter_argv(CLI_ARGS("dst", "192.0.2.256"), &f), -EINVAL);
	expect_names("192.0.2.256");
	cr_assert_eq(filter_argv(CLI_ARGS("dst", ""), &f), -EINVAL);
	expect_names("");
	cr_assert_eq(filter_argv(CLI_ARGS("dst", "192.0.2.1", "dst", "192.0.2.2"), &f), -EINVAL);
	cr_assert(strstr(cli_e.msg, "dst given twice"), "'%s'", cli_e.msg);
}

struct spi_case {
	char		s[24];
	bool		ok;
	unsigned int	want;
};

ParameterizedTestParameters(cli, filter_spi)
{
	static struct spi_case cases[] = {
		{ "4096", true, 4096 },
		{ "0x1000", true, 0x1000 },
		{ "0X1000", true, 0x1000 },
		{ "0", true, 0 },
		{ "0xdeadbeef", true, 0xdeadbeef },
		{ "0xffffffff", true, 0xffffffff },
		{ "4294967295", true, 4294967295u },
		{ "0x100000000", false, 0 },
		{ "4294967296", false, 0 },
		{ "99999999999999999999999", false, 0 },
		{ "-1", false, 0 },
		{ "-0x10", false, 0 },
		{ "zz", false, 0 },
		{ "", false, 0 },
		{ "12abc", false, 0 },
		{ "0x", false, 0 },
		{ "1.5", false, 0 },
	};

	return cr_make_param_array(struct spi_case, cases, CLI_ARRAY_SIZE(cases));
}

ParameterizedTest(struct spi_case *c, cli, filter_spi)
{
	struct xreport_filter f;
	int ret = filter_argv(CLI_ARGS("spi", c->s), &f);

	if (c->ok) {
		cr_assert_eq(ret, 0, "spi '%s': %s", c->s, cli_e.msg);
		cr_assert(f.has_spi);
		cr_assert_eq(f.spi, c->want, "spi '%s' = %#x", c->s, f.spi);
		cr_assert_not(f.has_dst);
		cr_assert_eq(f.ifindex, 0);
	} else {
		cr_assert_eq(ret, -EINVAL, "spi '%s' accepted as %#x", c->s, f.spi);
		expect_names(c->s);
	}
}

Test(cli, filter_dev_and_more)
{
	struct xreport_filter f;

	cr_assert_eq(filter_argv(CLI_ARGS("dev", "lo"), &f), 0, "%s", cli_e.msg);
	cr_assert_eq(f.ifindex, 1, "lo is ifindex 1");
	cr_assert_eq(f.ifindex, if_nametoindex("lo"));
	cr_assert_eq(filter_argv(CLI_ARGS("de", "lo"), &f), 0, "%s", cli_e.msg);
	cr_assert_eq(f.ifindex, 1);
	cr_assert_eq(filter_argv(CLI_ARGS("dev", "nosuchdev0"), &f), -ENODEV);
	expect_names("nosuchdev0");
	cr_assert_eq(filter_argv(CLI_ARGS("dev", "../lo"), &f), -EINVAL);
	expect_names("../lo");
	cr_assert_eq(filter_argv(CLI_ARGS("dev", "lo", "dev", "lo"), &f), -EINVAL);
	cr_assert(strstr(cli_e.msg, "dev given twice"), "'%s'", cli_e.msg);
	cr_assert_eq(filter_argv(CLI_ARGS("spi", "1", "spi", "2"), &f), -EINVAL);
	cr_assert(strstr(cli_e.msg, "spi given twice"), "'%s'", cli_e.msg);

	/* All three at once, in any order. */
	cr_assert_eq(filter_argv(CLI_ARGS("spi", "0x201", "dev", "lo", "dst", "2001:db8::2"), &f),
		     0, "%s", cli_e.msg);
	cr_assert(f.has_spi);
	cr_assert_eq(f.spi, 0x201);
	cr_assert(f.has_dst);
	cr_assert_eq(f.family, AF_INET6);
	cr_assert_eq(f.ifindex, 1);

	cr_assert_eq(filter_argv(CLI_ARGS("src", "192.0.2.1"), &f), -EINVAL);
	expect_names("src");
	cr_assert(strstr(cli_e.msg, "unknown filter"), "'%s'", cli_e.msg);
	cr_assert_eq(filter_argv(CLI_ARGS("spi", "1", "dev"), &f), -EINVAL);
	expect_names("dev");
	cr_assert(strstr(cli_e.msg, "needs a value"), "'%s'", cli_e.msg);
	cr_assert_eq(filter_argv(CLI_ARGS("dst"), &f), -EINVAL);
	expect_names("dst");
	/* "d" is dst (checked first), a prefix; "" matches no filter. */
	cr_assert_eq(filter_argv(CLI_ARGS("", "1"), &f), -EINVAL);
	expect_names("");
}

/* ---- run ------------------------------------------------------------------------------- */

static int run_argv(int argc, char **argv, struct xoffd_opts *o)
{
	memset(&cli_e, 0, sizeof(cli_e));
	memset(o, 0, sizeof(*o));
	return xcli_parse_run(argc, argv, o, cli_cpus, cli_rx_cpus, CLI_ARRAY_SIZE(cli_cpus),
			      &cli_e);
}

Test(cli, run_nothing)
{
	struct xoffd_opts o, zero;

	memset(&zero, 0, sizeof(zero));
	cr_assert_eq(run_argv(0, CLI_ARGV(NULL), &o), 0);
	cr_assert_eq(memcmp(&o, &zero, sizeof(o)), 0, "no argument changes nothing");
}

Test(cli, run_keywords)
{
	struct xoffd_opts o;

	ncpus_or_skip(1);
	cr_assert_eq(run_argv(CLI_ARGS("pin-dir", "/sys/fs/bpf/other", "interval", "250", "cpus",
				       "0", "tx-queues", "4", "mirror", "on", "rcvbuf",
				       "1048576", "log-level", "debug"), &o), 0, "%s", cli_e.msg);
	cr_assert_str_eq(o.pin_dir, "/sys/fs/bpf/other");
	cr_assert_eq(o.interval_ms, 250);
	cr_assert_eq(o.cpus, cli_cpus);
	cr_assert_eq(o.ncpus, 1);
	cr_assert_eq(cli_cpus[0], 0);
	cr_assert_eq(o.tx_queues, 4);
	cr_assert_eq(o.mirror, XMIRROR_ON);
	cr_assert_eq(o.rcvbuf, 1048576);
	cr_assert_eq(o.log_level, XSYNC_DEBUG);
	cr_assert_eq(o.nmodes, 0);

	/* Prefixes. */
	cr_assert_eq(run_argv(CLI_ARGS("p", "/x", "i", "10", "c", "0", "t", "0", "m", "off", "r",
				       "0", "l", "w"), &o), 0, "%s", cli_e.msg);
	cr_assert_str_eq(o.pin_dir, "/x");
	cr_assert_eq(o.interval_ms, 10);
	cr_assert_eq(o.ncpus, 1);
	cr_assert_eq(o.tx_queues, 0);
	cr_assert_eq(o.mirror, XMIRROR_OFF);
	cr_assert_eq(o.rcvbuf, 0);
	cr_assert_eq(o.log_level, XSYNC_WARN);

	cr_assert_eq(run_argv(CLI_ARGS("mirror", "auto"), &o), 0);
	cr_assert_eq(o.mirror, XMIRROR_AUTO);
	cr_assert_eq(run_argv(CLI_ARGS("tx-queues", "4096", "rcvbuf", "2147483647"), &o), 0,
		     "%s", cli_e.msg);
	cr_assert_eq(o.tx_queues, 4096);
	cr_assert_eq(o.rcvbuf, INT_MAX);
}

/* rx-cpus LIST and rx-weight PCT: a list as for cpus, in its own buffer; a percentage. */
Test(cli, run_rx)
{
	struct xoffd_opts o;
	char range[16];

	ncpus_or_skip(1);
	cr_assert_eq(run_argv(CLI_ARGS("rx-cpus", "0", "rx-weight", "40"), &o), 0, "%s",
		     cli_e.msg);
	cr_assert_eq(o.rx_cpus, cli_rx_cpus);
	cr_assert_eq(o.nrx_cpus, 1);
	cr_assert_eq(cli_rx_cpus[0], 0);
	cr_assert_eq(o.rx_weight, 40);
	cr_assert(o.rx_weight_set);
	cr_assert_null(o.cpus, "rx-cpus set the steering CPUs");
	cr_assert_eq(o.ncpus, 0);

	/* Each list in its own buffer. */
	cli_rx_cpus[0] = 0xeeee;
	cr_assert_eq(run_argv(CLI_ARGS("cpus", "0", "rx-cpus", "0"), &o), 0, "%s", cli_e.msg);
	cr_assert_eq(o.cpus, cli_cpus);
	cr_assert_eq(o.ncpus, 1);
	cr_assert_eq(o.rx_cpus, cli_rx_cpus);
	cr_assert_eq(o.nrx_cpus, 1);
	cr_assert_eq(cli_rx_cpus[0], 0);
	cr_assert_not(o.rx_weight_set, "rx-cpus alone set a weight");
	if (xoff_nr_cpus() >= 2) {
		cr_assert_eq(run_argv(CLI_ARGS("rx-cpus", "1,0-1", "cpus", "1"), &o), 0, "%s",
			     cli_e.msg);
		cr_assert_eq(o.nrx_cpus, 2);
		cr_assert_eq(cli_rx_cpus[0], 1);
		cr_assert_eq(cli_rx_cpus[1], 0);
		cr_assert_eq(cli_cpus[0], 1);
	}

	/* Weight 0 is a weight (none), not the default. */
	cr_assert_eq(run_argv(CLI_ARGS("rx-weight", "0"), &o), 0, "%s", cli_e.msg);
	cr_assert_eq(o.rx_weight, 0);
	cr_assert(o.rx_weight_set);
	cr_assert_null(o.rx_cpus);

	/* Prefixes: rx-cpus comes first. */
	cr_assert_eq(run_argv(CLI_ARGS("rx", "0", "rx-w", "15"), &o), 0, "%s", cli_e.msg);
	cr_assert_eq(o.nrx_cpus, 1);
	cr_assert_eq(o.rx_weight, 15);
	cr_assert_eq(run_argv(CLI_ARGS("rx-c", "0", "r", "7"), &o), 0, "%s", cli_e.msg);
	cr_assert_eq(o.nrx_cpus, 1);
	cr_assert_eq(o.rcvbuf, 7, "'r' is still rcvbuf");

	/* Refusals name the word; rx-cpus gives the range. */
	cr_assert_eq(run_argv(CLI_ARGS("rx-cpus", "a"), &o), -EINVAL);
	expect_names("a");
	cr_assert(strstr(cli_e.msg, "rx-cpus"), "'%s'", cli_e.msg);
	snprintf(range, sizeof(range), "%d", xoff_nr_cpus());
	cr_assert_eq(run_argv(CLI_ARGS("rx-cpus", range), &o), -EINVAL);
	expect_names(range);
	snprintf(range, sizeof(range), "0-%d", xoff_nr_cpus() - 1);
	cr_assert(strstr(cli_e.msg, range), "message '%s' does not give the range %s", cli_e.msg,
		  range);
	cr_assert_eq(run_argv(CLI_ARGS("rx-cpus", ""), &o), -EINVAL);
	expect_names("");
	cr_assert_eq(run_argv(CLI_ARGS("rx-weight"), &o), -EINVAL);
	expect_names("rx-weight");
	cr_assert(strstr(cli_e.msg, "needs a value"), "'%s'", cli_e.msg);
	cr_assert_eq(run_argv(CLI_ARGS("rx-cpus"), &o), -EINVAL);
	cr_assert(strstr(cli_e.msg, "needs a value"), "'%s'", cli_e.msg);
}

struct pct_case {
	char	s[32];
	bool	ok;
	unsigned int want;
};

ParameterizedTestParameters(cli, run_rx_weight)
{
	static struct pct_case cases[] = {
		{ "0", true, 0 }, { "10", true, 10 }, { "100", true, 100 }, { "40%", true, 40 },
		{ "0%", true, 0 }, { "100%", true, 100 },
		/* Decimal: a percentage is not octal or hex. */
		{ "010", true, 10 }, { "08", true, 8 }, { "09%", true, 9 }, { "0100", true, 100 },
		{ "0x10", false, 0 }, { " 5", false, 0 }, { "+5", false, 0 },
		{ "101", false, 0 }, { "-1", false, 0 }, { "", false, 0 }, { "%", false, 0 },
		{ "40%%", false, 0 }, { "%40", false, 0 }, { "4 0", false, 0 }, { "1e2", false, 0 },
		{ "ten", false, 0 }, { "40.5", false, 0 }, { "99999999999999999999999", false, 0 },
	};

	return cr_make_param_array(struct pct_case, cases, CLI_ARRAY_SIZE(cases));
}

ParameterizedTest(struct pct_case *c, cli, run_rx_weight)
{
	struct xoffd_opts o;
	int ret = run_argv(CLI_ARGS("rx-weight", c->s), &o);

	if (c->ok) {
		cr_assert_eq(ret, 0, "rx-weight '%s': %s", c->s, cli_e.msg);
		cr_assert_eq(o.rx_weight, c->want);
		cr_assert(o.rx_weight_set);
	} else {
		cr_assert_eq(ret, -EINVAL, "rx-weight '%s' accepted as %u", c->s, o.rx_weight);
		expect_names(c->s);
		cr_assert(strstr(cli_e.msg, "0 to 100"), "'%s'", cli_e.msg);
		cr_assert_not(o.rx_weight_set);
	}
}

struct interval_case {
	char	s[24];
	bool	ok;
	unsigned int want;
};

ParameterizedTestParameters(cli, run_interval)
{
	static struct interval_case cases[] = {
		{ "10", true, 10 }, { "11", true, 11 }, { "1000", true, 1000 },
		{ "3600000", true, 3600000 }, { "0x10", true, 16 },
		{ "9", false, 0 }, { "0", false, 0 }, { "3600001", false, 0 },
		{ "-10", false, 0 }, { "", false, 0 }, { "10ms", false, 0 }, { "1e3", false, 0 },
		{ "99999999999999999999999", false, 0 },
	};

	return cr_make_param_array(struct interval_case, cases, CLI_ARRAY_SIZE(cases));
}

ParameterizedTest(struct interval_case *c, cli, run_interval)
{
	struct xoffd_opts o;
	int ret = run_argv(CLI_ARGS("interval", c->s), &o);

	if (c->ok) {
		cr_assert_eq(ret, 0, "interval '%s': %s", c->s, cli_e.msg);
		cr_assert_eq(o.interval_ms, c->want);
	} else {
		cr_assert_eq(ret, -EINVAL, "interval '%s' accepted as %u", c->s, o.interval_ms);
		expect_names(c->s);
	}
}

struct level_case {
	char	s[16];
	int	want;		/* 0: refused */
};

ParameterizedTestParameters(cli, run_log_level)
{
	static struct level_case cases[] = {
		{ "error", XSYNC_ERR }, { "err", XSYNC_ERR }, { "e", XSYNC_ERR },
		{ "warning", XSYNC_WARN }, { "warn", XSYNC_WARN }, { "w", XSYNC_WARN },
		{ "info", XSYNC_INFO }, { "inf", XSYNC_INFO }, { "i", XSYNC_INFO },
		{ "debug", XSYNC_DEBUG }, { "deb", XSYNC_DEBUG }, { "d", XSYNC_DEBUG },
		{ "verbose", 0 }, { "", 0 }, { "errors", 0 }, { "DEBUG", 0 }, { "3", 0 },
	};

	return cr_make_param_array(struct level_case, cases, CLI_ARRAY_SIZE(cases));
}

ParameterizedTest(struct level_case *c, cli, run_log_level)
{
	struct xoffd_opts o;
	int ret = run_argv(CLI_ARGS("log-level", c->s), &o);

	if (c->want) {
		cr_assert_eq(ret, 0, "log-level '%s': %s", c->s, cli_e.msg);
		cr_assert_eq(o.log_level, c->want, "log-level '%s' = %d", c->s, o.log_level);
	} else {
		cr_assert_eq(ret, -EINVAL, "log-level '%s' accepted", c->s);
		expect_names(c->s);
	}
}

Test(cli, run_mirror_dev)
{
	struct xoffd_opts o;
	char *argv[2 + 3 * 65];
	char name[16] = "lo";
	int i;

	cr_assert_eq(run_argv(CLI_ARGS("mirror-dev", "lo", "on"), &o), 0, "%s", cli_e.msg);
	cr_assert_eq(o.nmodes, 1);
	cr_assert_eq(o.modes[0].ifindex, 1);
	cr_assert_eq(o.modes[0].mode, XMIRROR_ON);

	cr_assert_eq(run_argv(CLI_ARGS("mirror", "off", "mirror-dev", "lo", "auto", "interval",
				       "20", "mirror-dev", "lo", "off"), &o), 0, "%s", cli_e.msg);
	cr_assert_eq(o.mirror, XMIRROR_OFF);
	cr_assert_eq(o.interval_ms, 20);
	cr_assert_eq(o.nmodes, 2);
	cr_assert_eq(o.modes[0].mode, XMIRROR_AUTO);
	cr_assert_eq(o.modes[1].mode, XMIRROR_OFF);

	cr_assert_eq(run_argv(CLI_ARGS("mirror-dev", "lo"), &o), -EINVAL);
	cr_assert(strstr(cli_e.msg, "needs auto, on or off"), "'%s'", cli_e.msg);
	cr_assert_eq(run_argv(CLI_ARGS("mirror-dev", "lo", "sometimes"), &o), -EINVAL);
	expect_names("sometimes");
	cr_assert_eq(run_argv(CLI_ARGS("mirror-dev", "nosuchdev0", "on"), &o), -ENODEV);
	expect_names("nosuchdev0");
	cr_assert_eq(run_argv(CLI_ARGS("mirror-dev", "a/b", "on"), &o), -EINVAL);
	expect_names("a/b");
	cr_assert_eq(run_argv(CLI_ARGS("mirror-dev"), &o), -EINVAL);
	expect_names("mirror-dev");

	/* 64 devices fit, the 65th does not. */
	for (i = 0; i < 65; i++) {
		argv[3 * i] = "mirror-dev";
		argv[3 * i + 1] = name;
		argv[3 * i + 2] = "on";
	}
	argv[3 * 65] = NULL;
	cr_assert_eq(run_argv(3 * 64, argv, &o), 0, "%s", cli_e.msg);
	cr_assert_eq(o.nmodes, 64);
	cr_assert_eq(run_argv(3 * 65, argv, &o), -EINVAL);
	cr_assert(strstr(cli_e.msg, "more than 64"), "'%s'", cli_e.msg);
}

Test(cli, run_refusals)
{
	struct xoffd_opts o;
	char longdir[220];

	cr_assert_eq(run_argv(CLI_ARGS("pin-dir", "relative/dir"), &o), -EINVAL);
	expect_names("relative/dir");
	memset(longdir, 'a', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	cr_assert_eq(run_argv(CLI_ARGS("pin-dir", longdir), &o), -EINVAL);
	cr_assert_eq(run_argv(CLI_ARGS("tx-queues", "4097"), &o), -EINVAL);
	expect_names("4097");
	cr_assert_eq(run_argv(CLI_ARGS("tx-queues", "-1"), &o), -EINVAL);
	expect_names("-1");
	cr_assert_eq(run_argv(CLI_ARGS("rcvbuf", "2147483648"), &o), -EINVAL);
	expect_names("2147483648");
	cr_assert_eq(run_argv(CLI_ARGS("rcvbuf", "lots"), &o), -EINVAL);
	expect_names("lots");
	cr_assert_eq(run_argv(CLI_ARGS("mirror", "sometimes"), &o), -EINVAL);
	expect_names("sometimes");
	cr_assert_eq(run_argv(CLI_ARGS("cpus", "a"), &o), -EINVAL);
	expect_names("a");
	cr_assert_eq(run_argv(CLI_ARGS("bogus", "1"), &o), -EINVAL);
	expect_names("bogus");
	cr_assert(strstr(cli_e.msg, "unknown argument"), "'%s'", cli_e.msg);
	cr_assert_eq(run_argv(CLI_ARGS("interval"), &o), -EINVAL);
	expect_names("interval");
	cr_assert(strstr(cli_e.msg, "needs a value"), "'%s'", cli_e.msg);
	cr_assert_eq(run_argv(CLI_ARGS("interval", "100", "rcvbuf"), &o), -EINVAL);
	expect_names("rcvbuf");
}

/* ---- global options ----------------------------------------------------------------------- */

static int global_argv(int argc, char **argv, struct xcli_global *g, int *left, char ***rest)
{
	int ret;

	memset(&cli_e, 0, sizeof(cli_e));
	memset(g, 0x5a, sizeof(*g));
	*left = argc;
	*rest = argv;
	ret = xcli_parse_global(left, rest, g, &cli_e);
	return ret;
}

Test(cli, global_options)
{
	struct xcli_global g;
	char **rest;
	int left;

	cr_assert_eq(global_argv(CLI_ARGS("status"), &g, &left, &rest), 0);
	cr_assert_eq(left, 1);
	cr_assert_str_eq(rest[0], "status");
	cr_assert_not(g.json);
	cr_assert_not(g.pretty);
	cr_assert_null(g.pin_dir);

	cr_assert_eq(global_argv(0, CLI_ARGV(NULL), &g, &left, &rest), 0);
	cr_assert_eq(left, 0);

	cr_assert_eq(global_argv(CLI_ARGS("-j", "status"), &g, &left, &rest), 0);
	cr_assert(g.json);
	cr_assert_not(g.pretty);
	cr_assert_eq(left, 1);
	cr_assert_str_eq(rest[0], "status");
	cr_assert_eq(global_argv(CLI_ARGS("--json", "sa", "list"), &g, &left, &rest), 0);
	cr_assert(g.json);
	cr_assert_eq(left, 2);
	cr_assert_str_eq(rest[0], "sa");

	cr_assert_eq(global_argv(CLI_ARGS("-p", "status"), &g, &left, &rest), 0);
	cr_assert(g.json, "-p implies -j");
	cr_assert(g.pretty);
	cr_assert_eq(global_argv(CLI_ARGS("--pretty", "status"), &g, &left, &rest), 0);
	cr_assert(g.json);
	cr_assert(g.pretty);
	cr_assert_eq(global_argv(CLI_ARGS("-jp", "status"), &g, &left, &rest), 0);
	cr_assert(g.json);
	cr_assert(g.pretty);
	cr_assert_eq(left, 1);
	cr_assert_eq(global_argv(CLI_ARGS("-pj", "status"), &g, &left, &rest), 0);
	cr_assert(g.json);
	cr_assert(g.pretty);
	cr_assert_eq(global_argv(CLI_ARGS("-j", "-p", "status"), &g, &left, &rest), 0);
	cr_assert(g.json);
	cr_assert(g.pretty);

	cr_assert_eq(global_argv(CLI_ARGS("-P", "/sys/fs/bpf/t", "status"), &g, &left, &rest),
		     0);
	cr_assert_str_eq(g.pin_dir, "/sys/fs/bpf/t");
	cr_assert_eq(left, 1);
	cr_assert_str_eq(rest[0], "status");
	cr_assert_eq(global_argv(CLI_ARGS("--pin-dir", "/d", "-j", "stats"), &g, &left, &rest),
		     0);
	cr_assert_str_eq(g.pin_dir, "/d");
	cr_assert(g.json);
	cr_assert_eq(left, 1);
	cr_assert_str_eq(rest[0], "stats");
	/* Stops at the object: what follows is the object's. */
	cr_assert_eq(global_argv(CLI_ARGS("-j", "sa", "-p", "-P", "x"), &g, &left, &rest), 0);
	cr_assert(g.json);
	cr_assert_not(g.pretty);
	cr_assert_null(g.pin_dir);
	cr_assert_eq(left, 4);
	cr_assert_str_eq(rest[0], "sa");
	cr_assert_str_eq(rest[1], "-p");
	/* -h and -V are the caller's: left in place. */
	cr_assert_eq(global_argv(CLI_ARGS("-j", "-h"), &g, &left, &rest), 0);
	cr_assert_eq(left, 1);
	cr_assert_str_eq(rest[0], "-h");
	cr_assert_eq(global_argv(CLI_ARGS("--version"), &g, &left, &rest), 0);
	cr_assert_eq(left, 1);
	cr_assert_str_eq(rest[0], "--version");
}

Test(cli, global_refusals)
{
	struct xcli_global g;
	char longdir[220];
	char **rest;
	int left;

	cr_assert_eq(global_argv(CLI_ARGS("-P", "relative", "status"), &g, &left, &rest),
		     -EINVAL);
	expect_names("relative");
	cr_assert_eq(global_argv(CLI_ARGS("--pin-dir", "sys/fs/bpf", "status"), &g, &left,
				 &rest), -EINVAL);
	expect_names("sys/fs/bpf");
	cr_assert_eq(global_argv(CLI_ARGS("-P", "", "status"), &g, &left, &rest), -EINVAL);
	cr_assert_eq(global_argv(CLI_ARGS("-P"), &g, &left, &rest), -EINVAL);
	cr_assert(strstr(cli_e.msg, "-P needs a directory"), "'%s'", cli_e.msg);
	cr_assert_eq(global_argv(CLI_ARGS("--pin-dir"), &g, &left, &rest), -EINVAL);
	cr_assert(strstr(cli_e.msg, "--pin-dir needs a directory"), "'%s'", cli_e.msg);
	memset(longdir, 'a', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	cr_assert_eq(global_argv(CLI_ARGS("-P", longdir, "status"), &g, &left, &rest), -EINVAL);
	longdir[199] = '\0';
	cr_assert_eq(global_argv(CLI_ARGS("-P", longdir, "status"), &g, &left, &rest), 0,
		     "199 bytes are allowed: %s", cli_e.msg);

	cr_assert_eq(global_argv(CLI_ARGS("-x", "status"), &g, &left, &rest), -EINVAL);
	expect_names("-x");
	cr_assert(strstr(cli_e.msg, "unknown option"), "'%s'", cli_e.msg);
	cr_assert_eq(global_argv(CLI_ARGS("--jsonx", "status"), &g, &left, &rest), -EINVAL);
	expect_names("--jsonx");
	cr_assert_eq(global_argv(CLI_ARGS("-jx", "status"), &g, &left, &rest), -EINVAL);
	expect_names("-jx");
}

/* ---- one SA as JSON ----------------------------------------------------------------------- */

static const char *const sa_required[] = {
	"dir", "src", "dst", "spi", "proto", "encap", "reqid", "mode", "offload_dev",
	"offload_mode", "path", "path_reason", "cpu", "queue", "pcpu", "pcpu_reason",
	"fastpath_packets", "fastpath_bytes", "auth_packets", "auth_bytes", "kernel_packets",
	"kernel_bytes",
};

static void sa_init(struct xreport_sa *r, int family, const char *src, const char *dst,
		    __u32 spi)
{
	memset(r, 0, sizeof(*r));
	r->x.family = family;
	cr_assert_eq(inet_pton(family, src, &r->x.saddr), 1);
	cr_assert_eq(inet_pton(family, dst, &r->x.daddr), 1);
	r->x.spi = htonl(spi);
	r->x.proto = IPPROTO_ESP;
	r->x.mode = XFRM_MODE_TUNNEL;
	r->x.dir = XOFF_DIR_IN;
	r->x.reqid = 7;
	r->x.alg_known = true;
	r->x.iv_len = 8;
	r->x.icv_len = 16;
	r->val.queue = XOFF_QUEUE_NONE;
	r->val.iv_len = 8;
	r->val.icv_len = 16;
	r->last_seen_ms = -1;
	r->why = XSYNC_WHY_SW;
}

/* The SA as sync would map it: slot, path, direction, action. */
static void sa_mapped(struct xreport_sa *r, __u32 slot)
{
	r->mapped = true;
	r->val.slot = slot;
	r->val.dir = r->x.dir == XOFF_DIR_OUT ? XOFF_DIR_OUT : XOFF_DIR_IN;
	if (r->x.has_offload) {
		r->val.path = XOFF_PATH_HW;
		r->val.offload_ifindex = r->x.offload_ifindex;
		r->val.offload_mode = r->x.offload_flags & XFRM_OFFLOAD_PACKET ?
				      XOFF_OFFLOAD_PACKET : XOFF_OFFLOAD_CRYPTO;
	}
	r->val.action = r->val.path == XOFF_PATH_SW && r->val.dir == XOFF_DIR_IN ?
			XOFF_ACT_CPU : XOFF_ACT_PASS;
}

static void sa_offload(struct xreport_sa *r, __u32 ifindex, bool packet)
{
	r->x.has_offload = true;
	r->x.offload_ifindex = ifindex;
	r->x.offload_flags = packet ? XFRM_OFFLOAD_PACKET : 0;
	if (r->x.dir == XOFF_DIR_IN)
		r->x.offload_flags |= XFRM_OFFLOAD_INBOUND;
	r->why = packet ? XSYNC_WHY_HW_PACKET : XSYNC_WHY_HW_CRYPTO;
}

/* xreport_sa_json, checked for the required keys and their types, dumped and parsed back:
 * the parsed copy (equal to the original) is what the caller checks. */
static json_t *sa_json(const struct xreport_sa *r, bool loaded)
{
	json_t *o = xreport_sa_json(r, loaded), *back, *v;
	json_error_t err;
	const char *spi;
	char *text;
	size_t i;

	cr_assert_not_null(o);
	cr_assert(json_is_object(o));
	for (i = 0; i < CLI_ARRAY_SIZE(sa_required); i++)
		cr_assert_not_null(json_object_get(o, sa_required[i]), "key '%s' missing",
				   sa_required[i]);
	for (i = 0; i < CLI_ARRAY_SIZE(sa_required); i++) {
		const char *k = sa_required[i];

		v = json_object_get(o, k);
		if (!strcmp(k, "reqid") || !strcmp(k, "fastpath_packets") ||
		    !strcmp(k, "fastpath_bytes") || !strcmp(k, "kernel_packets") ||
		    !strcmp(k, "kernel_bytes"))
			cr_assert(json_is_integer(v), "'%s' is not an integer", k);
		else if (!strcmp(k, "cpu") || !strcmp(k, "queue") || !strcmp(k, "auth_packets") ||
			 !strcmp(k, "auth_bytes") || !strcmp(k, "pcpu"))
			cr_assert(json_is_integer(v) || json_is_null(v), "'%s': %d", k,
				  json_typeof(v));
		else if (!strcmp(k, "offload_dev") || !strcmp(k, "pcpu_reason"))
			cr_assert(json_is_string(v) || json_is_null(v), "'%s': %d", k,
				  json_typeof(v));
		else
			cr_assert(json_is_string(v), "'%s' is not a string", k);
	}
	spi = json_string_value(json_object_get(o, "spi"));
	cr_assert_eq(strlen(spi), 10, "spi '%s'", spi);
	cr_assert_eq(strncmp(spi, "0x", 2), 0, "spi '%s'", spi);
	cr_assert_eq(strspn(spi + 2, "0123456789abcdef"), 8, "spi '%s'", spi);

	text = json_dumps(o, JSON_COMPACT);
	cr_assert_not_null(text);
	back = json_loads(text, 0, &err);
	cr_assert_not_null(back, "'%s' does not parse: %s", text, err.text);
	cr_assert(json_equal(o, back), "'%s' parses to something else", text);
	cr_assert_eq(json_object_size(back), json_object_size(o));
	free(text);
	json_decref(o);
	return back;
}

static void expect_str(json_t *o, const char *k, const char *want)
{
	json_t *v = json_object_get(o, k);

	cr_assert(json_is_string(v), "'%s' is not a string", k);
	cr_assert_str_eq(json_string_value(v), want, "'%s'", k);
}

static void expect_int(json_t *o, const char *k, long long want)
{
	json_t *v = json_object_get(o, k);

	cr_assert(json_is_integer(v), "'%s' is not an integer", k);
	cr_assert_eq(json_integer_value(v), want, "'%s' is %lld, not %lld", k,
		     (long long)json_integer_value(v), want);
}

static void expect_null(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	cr_assert_not_null(v, "'%s' missing", k);
	cr_assert(json_is_null(v), "'%s' is not null (type %d)", k, json_typeof(v));
}

static void expect_reason_has(json_t *o, const char *part)
{
	const char *s = json_string_value(json_object_get(o, "path_reason"));

	cr_assert_not_null(s);
	cr_assert(strstr(s, part), "path_reason '%s' does not say '%s'", s, part);
}

Test(json, sa_v4_software_inbound)
{
	struct xreport_sa r;
	json_t *o;

	sa_init(&r, AF_INET, "198.51.100.2", "192.0.2.1", 0x0102abcd);
	sa_mapped(&r, 5);
	r.val.cpu = 1;
	r.fp.packets = 10;
	r.fp.bytes = 1400;
	r.x.curlft.packets = 3;
	r.x.curlft.bytes = 300;
	r.last_seen_ms = 1234;
	r.auth_mapped = true;
	r.auth.packets = 9;
	r.auth.bytes = 1260;
	r.mir.decision = XOFF_DECIDE_KERNEL;
	o = sa_json(&r, true);
	expect_str(o, "dir", "in");
	expect_str(o, "src", "198.51.100.2");
	expect_str(o, "dst", "192.0.2.1");
	expect_str(o, "spi", "0x0102abcd");
	expect_str(o, "proto", "esp");
	expect_str(o, "encap", "none");
	cr_assert_null(json_object_get(o, "encap_sport"), "no ports without encapsulation");
	cr_assert_null(json_object_get(o, "encap_dport"));
	cr_assert_null(json_object_get(o, "mark"), "no mark key without a mark");
	expect_int(o, "reqid", 7);
	expect_str(o, "mode", "tunnel");
	expect_null(o, "offload_dev");
	expect_str(o, "offload_mode", "none");
	expect_null(o, "traffic_dev");
	expect_str(o, "path", "sw");
	expect_str(o, "path_reason", xsync_why_str(XSYNC_WHY_SW));
	expect_int(o, "slot", 5);
	expect_int(o, "cpu", 1);
	expect_null(o, "queue");
	expect_int(o, "fastpath_packets", 10);
	expect_int(o, "fastpath_bytes", 1400);
	expect_int(o, "auth_packets", 9);
	expect_int(o, "auth_bytes", 1260);
	expect_int(o, "kernel_packets", 3);
	expect_int(o, "kernel_bytes", 300);
	expect_int(o, "last_seen_ms", 1234);
	expect_str(o, "mirror", "kernel");
	expect_int(o, "mirror_written_packets", 0);
	expect_int(o, "mirror_written_bytes", 0);
	json_decref(o);
}

Test(json, sa_software_reasons_with_traffic_device)
{
	struct xreport_sa r;
	json_t *o;

	sa_init(&r, AF_INET, "198.51.100.2", "192.0.2.1", 0x100);
	sa_mapped(&r, 1);
	r.traffic_ifindex = 1;
	o = sa_json(&r, true);
	expect_str(o, "traffic_dev", "lo");
	expect_str(o, "path_reason", "software: no offload requested (lo has no ESP offload)");
	json_decref(o);

	r.traffic_esp_hw = true;
	o = sa_json(&r, true);
	expect_reason_has(o, "lo offers ESP offload");
	expect_reason_has(o, "the kernel reports no offload");
	json_decref(o);
}

Test(json, sa_v6_espinudp_outbound)
{
	struct xreport_sa r;
	json_t *o;

	sa_init(&r, AF_INET6, "2001:db8::2", "2001:db8:ffff::1", 0xdeadbeef);
	r.x.dir = XOFF_DIR_OUT;
	r.x.mode = XFRM_MODE_TRANSPORT;
	r.x.encap_type = UDP_ENCAP_ESPINUDP;
	r.x.encap_sport = htons(4500);
	r.x.encap_dport = htons(4501);
	r.x.has_mark = true;
	r.x.mark.v = 42;
	r.x.mark.m = 0xffffffff;
	r.x.reqid = 0xfffffffe;
	sa_mapped(&r, 9);
	r.val.queue = 3;
	r.val.cpu = 1;		/* not steered: cpu is not shown */
	o = sa_json(&r, true);
	expect_str(o, "dir", "out");
	expect_str(o, "src", "2001:db8::2");
	expect_str(o, "dst", "2001:db8:ffff::1");
	expect_str(o, "spi", "0xdeadbeef");
	expect_str(o, "encap", "espinudp");
	expect_int(o, "encap_sport", 4500);
	expect_int(o, "encap_dport", 4501);
	expect_int(o, "mark", 42);
	expect_int(o, "reqid", 0xfffffffe);
	expect_str(o, "mode", "transport");
	expect_str(o, "path", "sw");
	expect_null(o, "cpu");
	expect_int(o, "queue", 3);
	json_decref(o);
}

Test(json, sa_spi_from_network_order)
{
	static const __u32 spis[] = { 1, 0x100, 0x80000000, 0xffffffff, 0x12345678, 0 };
	struct xreport_sa r;
	char want[16];
	json_t *o;
	size_t i;

	for (i = 0; i < CLI_ARRAY_SIZE(spis); i++) {
		sa_init(&r, AF_INET, "10.0.0.2", "10.0.0.1", spis[i]);
		o = sa_json(&r, true);
		snprintf(want, sizeof(want), "0x%08x", spis[i]);
		expect_str(o, "spi", want);
		json_decref(o);
	}
	/* Network order is what the struct holds: 0x01 in the first byte is 0x01000000. */
	sa_init(&r, AF_INET, "10.0.0.2", "10.0.0.1", 0);
	memcpy(&r.x.spi, "\x01\x00\x00\x00", 4);
	o = sa_json(&r, true);
	expect_str(o, "spi", "0x01000000");
	json_decref(o);
}

Test(json, sa_crypto_offload_on_lo)
{
	struct xreport_sa r;
	json_t *o;

	sa_init(&r, AF_INET, "198.51.100.2", "192.0.2.1", 0x101);
	sa_offload(&r, 1, false);
	sa_mapped(&r, 2);
	r.val.cpu = 1;
	r.mir.decision = XOFF_DECIDE_KERNEL;
	o = sa_json(&r, true);
	expect_null(o, "auth_packets");
	expect_str(o, "offload_dev", "lo");
	expect_str(o, "offload_mode", "crypto");
	expect_str(o, "path", "hw");
	expect_str(o, "path_reason", "crypto offload on lo");
	expect_null(o, "cpu");
	expect_str(o, "mirror", "kernel");
	json_decref(o);

	/* Traffic on the very device: same reason. */
	r.traffic_ifindex = 1;
	o = sa_json(&r, true);
	expect_str(o, "path_reason", "crypto offload on lo");
	expect_str(o, "traffic_dev", "lo");
	json_decref(o);
}

Test(json, sa_packet_offload_on_lo)
{
	struct xreport_sa r;
	json_t *o;

	sa_init(&r, AF_INET6, "2001:db8::2", "2001:db8::1", 0x603);
	r.x.dir = XOFF_DIR_OUT;
	sa_offload(&r, 1, true);
	sa_mapped(&r, 13);
	r.mir.decision = XOFF_DECIDE_PROBE;
	o = sa_json(&r, true);
	expect_str(o, "dir", "out");
	expect_str(o, "offload_dev", "lo");
	expect_str(o, "offload_mode", "packet");
	expect_str(o, "path", "hw");
	expect_str(o, "path_reason", "packet offload on lo");
	expect_str(o, "mirror", "probe");
	json_decref(o);
}

Test(json, sa_traffic_elsewhere)
{
	struct xreport_sa r;
	char ghost[IF_NAMESIZE];
	__u32 nodev = 999999;
	json_t *o;

	cr_assert_null(if_indextoname(nodev, ghost), "ifindex %u exists here", nodev);
	sa_init(&r, AF_INET, "198.51.100.2", "192.0.2.1", 0x700);
	sa_offload(&r, 1, false);
	sa_mapped(&r, 8);
	r.traffic_ifindex = nodev;
	o = sa_json(&r, true);
	expect_str(o, "path", "hw");
	expect_str(o, "traffic_dev", "if999999");
	expect_str(o, "path_reason",
		   "offloaded to lo but traffic to the peer uses if999999: that NIC never sees it");
	json_decref(o);

	/* And the other way round: offloaded to a device that is gone. */
	sa_init(&r, AF_INET, "198.51.100.2", "192.0.2.1", 0x701);
	sa_offload(&r, nodev, true);
	sa_mapped(&r, 9);
	r.traffic_ifindex = 1;
	o = sa_json(&r, true);
	expect_str(o, "offload_dev", "if999999");
	expect_reason_has(o, "offloaded to if999999 but traffic to the peer uses lo");
	json_decref(o);
}

Test(json, sa_not_mapped)
{
	struct xreport_sa r;
	json_t *o;

	sa_init(&r, AF_INET, "198.51.100.2", "192.0.2.1", 0x400);
	/* What a map entry would hold, but it is not in the map: none of it shows. */
	r.val.action = XOFF_ACT_CPU;
	r.val.cpu = 1;
	r.val.queue = 2;
	r.val.slot = 4;
	r.x.curlft.packets = 77;
	o = sa_json(&r, false);
	expect_str(o, "path", "none");
	expect_str(o, "path_reason", "xoff is not loaded: nothing is pinned");
	expect_null(o, "cpu");
	expect_null(o, "queue");
	expect_null(o, "slot");
	expect_null(o, "last_seen_ms");
	expect_str(o, "mirror", "none");
	expect_int(o, "fastpath_packets", 0);
	expect_int(o, "kernel_packets", 77);
	expect_str(o, "dir", "in");
	json_decref(o);

	o = sa_json(&r, true);
	expect_str(o, "path", "none");
	expect_reason_has(o, "not in the fast-path map yet");
	json_decref(o);

	/* Direction unknown to the kernel and not mapped: shown as in unless out. */
	r.x.dir = XFRM_DIR_UNKNOWN;
	o = sa_json(&r, true);
	expect_str(o, "dir", "in");
	json_decref(o);
	r.x.dir = XOFF_DIR_OUT;
	o = sa_json(&r, true);
	expect_str(o, "dir", "out");
	json_decref(o);
}

Test(json, sa_conflict)
{
	struct xreport_sa r;
	json_t *o;

	sa_init(&r, AF_INET, "198.51.100.2", "192.0.2.1", 0x500);
	r.x.has_mark = true;
	r.x.mark.v = 1;
	r.conflict = 1;
	o = sa_json(&r, true);
	expect_str(o, "path", "none");
	expect_str(o, "path_reason", xsync_why_str(XSYNC_WHY_CONFLICT));
	expect_reason_has(o, "another SA");
	expect_str(o, "mirror", "none");
	json_decref(o);
	/* Even when nothing is pinned, the conflict is the reason. */
	o = sa_json(&r, false);
	expect_str(o, "path_reason", xsync_why_str(XSYNC_WHY_CONFLICT));
	json_decref(o);
}

Test(json, sa_ineligible)
{
	struct xreport_sa r;
	json_t *o;

	sa_init(&r, AF_INET, "198.51.100.2", "192.0.2.1", 0x1234);
	r.x.proto = IPPROTO_AH;
	r.why = XSYNC_WHY_NOT_ESP;
	o = sa_json(&r, false);
	expect_str(o, "proto", "ah");
	expect_str(o, "path", "none");
	expect_str(o, "path_reason", xsync_why_str(XSYNC_WHY_NOT_ESP));
	expect_reason_has(o, "not ESP");
	json_decref(o);

	r.x.proto = IPPROTO_COMP;
	o = sa_json(&r, true);
	expect_str(o, "proto", "comp");
	expect_reason_has(o, "not ESP");
	json_decref(o);

	sa_init(&r, AF_INET, "198.51.100.2", "192.0.2.1", 0x1235);
	r.x.encap_type = 7;	/* TCP_ENCAP_ESPINTCP */
	r.x.encap_sport = htons(4500);
	r.x.encap_dport = htons(4500);
	r.why = XSYNC_WHY_ENCAP;
	o = sa_json(&r, true);
	expect_str(o, "encap", "other");
	expect_int(o, "encap_sport", 4500);
	expect_str(o, "path_reason", xsync_why_str(XSYNC_WHY_ENCAP));
	json_decref(o);

	sa_init(&r, AF_INET, "198.51.100.2", "192.0.2.1", 0x1236);
	r.x.alg_known = false;
	r.why = XSYNC_WHY_ALG;
	o = sa_json(&r, true);
	expect_str(o, "path_reason", xsync_why_str(XSYNC_WHY_ALG));
	json_decref(o);
}

Test(json, sa_modes)
{
	static const struct { __u8 mode; const char *name; } modes[] = {
		{ XFRM_MODE_TRANSPORT, "transport" }, { XFRM_MODE_TUNNEL, "tunnel" },
		{ XFRM_MODE_ROUTEOPTIMIZATION, "ro" }, { XFRM_MODE_IN_TRIGGER, "in_trigger" },
		{ XFRM_MODE_BEET, "beet" }, { 200, "?" },
	};
	struct xreport_sa r;
	json_t *o;
	size_t i;

	for (i = 0; i < CLI_ARRAY_SIZE(modes); i++) {
		sa_init(&r, AF_INET, "10.0.0.2", "10.0.0.1", 0x10 + i);
		r.x.mode = modes[i].mode;
		o = sa_json(&r, true);
		expect_str(o, "mode", modes[i].name);
		json_decref(o);
	}
}

/* The report shows the decision the daemon stored in the SA's record, never its own
 * guess (the daemon's command line may have set a mode the report cannot see). */
struct decision_case {
	bool	mapped;
	int	offload;	/* 0 none, 1 crypto, 2 packet */
	__u32	flags;
	__u8	decision;
	char	want[8];
};

ParameterizedTestParameters(json, sa_mirror_decision)
{
	static struct decision_case cases[] = {
		{ false, 2, XOFF_MIRROR_WRITE, XOFF_DECIDE_WRITE, "none" },
		{ false, 0, 0, XOFF_DECIDE_KERNEL, "none" },
		{ true, 0, 0, XOFF_DECIDE_NONE, "none" },
		{ true, 0, 0, XOFF_DECIDE_KERNEL, "kernel" },
		{ true, 1, XOFF_MIRROR_WRITE, XOFF_DECIDE_KERNEL, "kernel" },
		{ true, 2, 0, XOFF_DECIDE_PROBE, "probe" },
		{ true, 2, XOFF_MIRROR_KERNEL, XOFF_DECIDE_DRIVER, "driver" },
		{ true, 2, XOFF_MIRROR_WRITE, XOFF_DECIDE_WRITE, "write" },
		{ true, 2, XOFF_MIRROR_WRITE, XOFF_DECIDE_OFF, "off" },
		{ true, 2, 0, 77, "?" },
	};

	return cr_make_param_array(struct decision_case, cases, CLI_ARRAY_SIZE(cases));
}

ParameterizedTest(struct decision_case *c, json, sa_mirror_decision)
{
	struct xreport_sa r;
	json_t *o;

	sa_init(&r, AF_INET, "198.51.100.2", "192.0.2.1", 0x900);
	if (c->offload)
		sa_offload(&r, 1, c->offload == 2);
	if (c->mapped)
		sa_mapped(&r, 3);
	r.mir.flags = c->flags;
	r.mir.decision = c->decision;
	r.mir.written_packets = 5;
	r.mir.written_bytes = 500;
	o = sa_json(&r, true);
	expect_str(o, "mirror", c->want);
	expect_int(o, "mirror_written_packets", 5);
	expect_int(o, "mirror_written_bytes", 500);
	expect_str(o, "path", !c->mapped ? "none" : c->offload ? "hw" : "sw");
	json_decref(o);
}

Test(json, sa_counters_near_int64_max)
{
	const __u64 big = INT64_MAX;
	struct xreport_sa r;
	char *text;
	json_t *o;

	sa_init(&r, AF_INET, "198.51.100.2", "192.0.2.1", 0x4242);
	sa_mapped(&r, 1);
	r.fp.packets = big;
	r.fp.bytes = big - 1;
	r.x.curlft.packets = big - 2;
	r.x.curlft.bytes = big;
	r.mir.written_packets = big;
	r.mir.written_bytes = big - 3;
	r.last_seen_ms = INT64_MAX;
	o = sa_json(&r, true);
	expect_int(o, "fastpath_packets", INT64_MAX);
	expect_int(o, "fastpath_bytes", INT64_MAX - 1);
	expect_int(o, "kernel_packets", INT64_MAX - 2);
	expect_int(o, "kernel_bytes", INT64_MAX);
	expect_int(o, "mirror_written_packets", INT64_MAX);
	expect_int(o, "mirror_written_bytes", INT64_MAX - 3);
	expect_int(o, "last_seen_ms", INT64_MAX);
	text = json_dumps(o, JSON_COMPACT);
	cr_assert_not_null(text);
	cr_assert(strstr(text, "\"fastpath_packets\":9223372036854775807"), "%s", text);
	cr_assert(strstr(text, "\"kernel_bytes\":9223372036854775807"), "%s", text);
	free(text);
	json_decref(o);

	/* Beyond INT64_MAX jansson has no integer: noted, not asserted. */
	r.fp.packets = (__u64)INT64_MAX + 1;
	o = xreport_sa_json(&r, true);
	if (json_integer_value(json_object_get(o, "fastpath_packets")) < 0)
		fprintf(stderr, "note: json: a u64 counter above INT64_MAX is shown as %lld\n",
			(long long)json_integer_value(json_object_get(o, "fastpath_packets")));
	json_decref(o);
}

/* ---- Prometheus label escaping --------------------------------------------------------- */

static void escape_is(const char *in, const char *want)
{
	char out[128];

	memset(out, 'X', sizeof(out));
	xprom_escape(out, sizeof(out), in);
	cr_assert_str_eq(out, want, "escape of '%s'", in ? in : "(null)");
}

/* ---- per-CPU SAs ---- */

static void sa_pcpu(struct xreport_sa *r, __u32 cpu)
{
	r->x.has_pcpu = true;
	r->x.pcpu_num = cpu;
}

static void expect_pcpu(json_t *o, long long pcpu, const char *reason)
{
	if (pcpu < 0)
		expect_null(o, "pcpu");
	else
		expect_int(o, "pcpu", pcpu);
	if (reason)
		expect_str(o, "pcpu_reason", reason);
	else
		expect_null(o, "pcpu_reason");
}

/* Inbound: on its CPU, or why not; "cpu" stays the steering CPU. */
Test(json, sa_pcpu_inbound)
{
	struct xreport_sa r;
	json_t *o;

	sa_init(&r, AF_INET, "198.51.100.2", "192.0.2.1", 0x100);
	sa_mapped(&r, 1);
	o = sa_json(&r, true);
	expect_pcpu(o, -1, NULL);	/* an ordinary SA */
	json_decref(o);

	sa_pcpu(&r, 1);
	r.val.cpu = 1;
	o = sa_json(&r, true);
	expect_pcpu(o, 1, "steered to its CPU 1");
	expect_int(o, "cpu", 1);
	json_decref(o);

	sa_pcpu(&r, 3);
	r.val.cpu = 0;
	r.val.flags = XOFF_SA_PCPU_ELSEWHERE;
	o = sa_json(&r, true);
	expect_pcpu(o, 3, "pcpu 3 not in the steering set: CPU 0 by load");
	expect_int(o, "cpu", 0);
	expect_str(o, "path_reason", xsync_why_str(XSYNC_WHY_SW));
	json_decref(o);

	sa_pcpu(&r, 0);		/* CPU 0 is a CPU, not "none" */
	r.val.flags = 0;
	o = sa_json(&r, true);
	expect_pcpu(o, 0, "steered to its CPU 0");
	json_decref(o);

	r.val.cpu = 1;		/* no flag, but not its CPU: the entry decides */
	o = sa_json(&r, true);
	expect_pcpu(o, 0, "on CPU 1, not its pcpu 0 (placed before the daemon knew it)");
	json_decref(o);
}

Test(json, sa_pcpu_outbound)
{
	struct xreport_sa r;
	json_t *o;

	sa_init(&r, AF_INET, "192.0.2.1", "198.51.100.2", 0x200);
	r.x.dir = XOFF_DIR_OUT;
	sa_pcpu(&r, 2);
	sa_mapped(&r, 1);
	r.val.queue = 2;
	o = sa_json(&r, true);
	expect_pcpu(o, 2, "TX queue 2 (= its pcpu)");
	expect_null(o, "cpu");
	json_decref(o);

	r.val.queue = 1;
	o = sa_json(&r, true);
	expect_pcpu(o, 2, "TX queue 1, not its pcpu 2 (placed before the daemon knew it)");
	json_decref(o);

	r.val.flags = XOFF_SA_PCPU_ELSEWHERE;
	r.val.queue = 0;
	o = sa_json(&r, true);
	expect_pcpu(o, 2, "no per-CPU TX queue: queue 0 by load");
	json_decref(o);

	r.val.queue = XOFF_QUEUE_NONE;
	o = sa_json(&r, true);
	expect_pcpu(o, 2, "no per-CPU TX queue");
	json_decref(o);
}

Test(json, sa_pcpu_offloaded_or_unmapped)
{
	struct xreport_sa r;
	json_t *o;

	sa_init(&r, AF_INET, "198.51.100.2", "192.0.2.1", 0x300);
	sa_pcpu(&r, 1);
	sa_offload(&r, 1, false);
	sa_mapped(&r, 2);
	o = sa_json(&r, true);
	expect_pcpu(o, 1, "offloaded: placed as any SA");
	json_decref(o);

	sa_init(&r, AF_INET, "198.51.100.2", "192.0.2.1", 0x301);
	sa_pcpu(&r, 1);
	o = sa_json(&r, false);
	expect_pcpu(o, 1, "not in the fast path: not placed");
	json_decref(o);
}

/* The cell under @head in the row that holds @key, of a table whose cells (but the last
 * column's) are single words. */
static const char *column_of(const char *table, const char *key, const char *head)
{
	static char cell[64];
	char hdr[512], row[512], *save, *w;
	const char *line = strstr(table, key), *nl = strchr(table, '\n');
	int col = -1, i = 0;

	cr_assert(line && nl, "no row %s", key);
	while (line > table && line[-1] != '\n')
		line--;
	snprintf(hdr, sizeof(hdr), "%.*s", (int)(nl - table), table);
	snprintf(row, sizeof(row), "%.*s", (int)strcspn(line, "\n"), line);
	for (w = strtok_r(hdr, " ", &save); w; w = strtok_r(NULL, " ", &save), i++)
		if (!strcmp(w, head))
			col = i;
	cr_assert_geq(col, 0, "no column %s", head);
	for (i = 0, w = strtok_r(row, " ", &save); w && i < col; i++)
		w = strtok_r(NULL, " ", &save);
	cr_assert_not_null(w);
	snprintf(cell, sizeof(cell), "%s", w);
	return cell;
}

/* The text table: a PCPU column ("-" for an ordinary SA), the per-CPU reason after the
 * path's in WHY. */
Test(json, sa_pcpu_text)
{
	struct xreport_sa r[2];
	json_t *arr = json_array();
	char *text = NULL;
	size_t len;
	FILE *f;

	sa_init(&r[0], AF_INET, "198.51.100.2", "192.0.2.1", 0x400);
	sa_mapped(&r[0], 1);
	sa_init(&r[1], AF_INET, "198.51.100.2", "192.0.2.1", 0x401);
	sa_pcpu(&r[1], 3);
	sa_mapped(&r[1], 2);
	r[1].val.flags = XOFF_SA_PCPU_ELSEWHERE;
	json_array_append_new(arr, xreport_sa_json(&r[0], true));
	json_array_append_new(arr, xreport_sa_json(&r[1], true));
	f = open_memstream(&text, &len);
	cr_assert_not_null(f);
	xprint_sa_table(f, arr);
	fclose(f);
	cr_assert(strstr(text, " PCPU "), "'%s'", text);
	cr_assert(strstr(text, "0x00000400 "), "'%s'", text);
	cr_assert(strstr(text, "; per-CPU SA: pcpu 3 not in the steering set: CPU 0 by load\n"),
		  "'%s'", text);
	cr_assert_str_eq(column_of(text, "0x00000400", "PCPU"), "-", "'%s'", text);
	cr_assert_str_eq(column_of(text, "0x00000401", "PCPU"), "3", "'%s'", text);
	cr_assert_str_eq(column_of(text, "0x00000401", "CPU"), "0", "'%s'", text);
	free(text);
	json_decref(arr);
}

/* policy list: the flag that asks the kernel for one SA per CPU. */
Test(json, policy_cpu_acquire)
{
	struct xfrm_pol p;
	json_t *o, *arr;
	char *text = NULL;
	size_t len;
	FILE *f;

	memset(&p, 0, sizeof(p));
	p.sel.family = AF_INET;
	p.dir = XFRM_POLICY_OUT;
	p.index = 9;
	o = xreport_policy_json(&p);
	cr_assert_not_null(o);
	cr_assert(json_is_false(json_object_get(o, "cpu_acquire")));
	json_decref(o);

	p.flags = XOFF_XFRM_POLICY_CPU_ACQUIRE | XFRM_POLICY_ICMP;
	o = xreport_policy_json(&p);
	cr_assert(json_is_true(json_object_get(o, "cpu_acquire")));
	arr = json_array();
	json_array_append_new(arr, o);
	f = open_memstream(&text, &len);
	cr_assert_not_null(f);
	xprint_policies(f, arr);
	fclose(f);
	cr_assert(strstr(text, "CPU-ACQUIRE"), "'%s'", text);
	cr_assert(strstr(text, " yes "), "'%s'", text);
	free(text);
	json_decref(arr);
}

Test(json, prom_escape)
{
	escape_is("eth0", "eth0");
	escape_is("", "");
	escape_is(NULL, "");
	escape_is("a\\b", "a\\\\b");
	escape_is("say \"hi\"", "say \\\"hi\\\"");
	escape_is("two\nlines", "two\\nlines");
	escape_is("\\\"\n", "\\\\\\\"\\n");
	escape_is("tab\tstays", "tab\tstays");
	escape_is("2001:db8::1", "2001:db8::1");
}

Test(json, prom_escape_truncation)
{
	static const char *const ins[] = {
		"abcdefghijklmnopqrstuvwxyz",
		"\\\\\\\\\\\\\\\\\\\\\\\\",
		"\"\"\"\"\"\"\"\"\"\"",
		"\n\n\n\n\n\n\n\n\n\n\n",
		"a\\b\"c\nd\\e\"f\ng",
		"x",
	};
	char full[128], out[64 + 16];
	size_t i, len, k, n;

	for (i = 0; i < CLI_ARRAY_SIZE(ins); i++) {
		xprom_escape(full, sizeof(full), ins[i]);
		for (len = 0; len <= 40; len++) {
			memset(out, 0xa5, sizeof(out));
			xprom_escape(out, len, ins[i]);
			for (k = len; k < sizeof(out); k++)
				cr_assert_eq((unsigned char)out[k], 0xa5,
					     "input %zu len %zu: byte %zu written", i, len, k);
			if (!len)
				continue;
			n = strnlen(out, len);
			cr_assert_lt(n, len, "input %zu len %zu: not NUL-terminated", i, len);
			cr_assert_eq(strncmp(out, full, n), 0,
				     "input %zu len %zu: '%s' is no prefix of '%s'", i, len, out,
				     full);
			/* Never half an escape: the prefix ends on a whole character. */
			if (n < strlen(full)) {
				size_t bs = 0;

				while (bs < n && out[n - 1 - bs] == '\\')
					bs++;
				cr_assert_eq(bs % 2, 0, "input %zu len %zu: '%s' ends inside an "
					     "escape", i, len, out);
			} else {
				cr_assert_str_eq(out, full);
			}
		}
	}
}

/* ---- the binary -------------------------------------------------------------------------- */

struct run {
	int	status;
	char	out[1 << 16];
	char	err[1 << 14];
};

/* Runs xoffctl with @argv (argv[0] included); @nobody: as uid/gid 65534. Returns the exit
 * code; stdout and stderr are in @r. */
static int xrun(struct run *r, bool nobody, char *const argv[])
{
	FILE *o = tmpfile(), *er = tmpfile();
	int fd = open(XOFF_OUT "/xoffctl", O_RDONLY | O_CLOEXEC), st;
	pid_t pid;

	cr_assert(o && er, "tmpfile: %s", strerror(errno));
	cr_assert_geq(fd, 0, "%s: %s", XOFF_OUT "/xoffctl", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (!pid) {
		int nul = open("/dev/null", O_RDONLY);

		if (nul < 0 || dup2(nul, 0) < 0 || dup2(fileno(o), 1) < 0 ||
		    dup2(fileno(er), 2) < 0)
			_exit(125);
		if (nobody && (setgroups(0, NULL) || setgid(65534) || setuid(65534)))
			_exit(126);
		fexecve(fd, argv, environ);
		_exit(127);
	}
	close(fd);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	slurp(o, r->out, sizeof(r->out));
	slurp(er, r->err, sizeof(r->err));
	cr_assert(WIFEXITED(st), "xoffctl %s: killed by signal %d", argv[1] ? argv[1] : "",
		  WTERMSIG(st));
	r->status = WEXITSTATUS(st);
	cr_assert_neq(r->status, 125, "child setup failed");
	cr_assert_neq(r->status, 126, "setuid 65534 failed");
	cr_assert_neq(r->status, 127, "exec %s failed", XOFF_OUT "/xoffctl");
	return r->status;
}

#define XRUN(r, ...) xrun(r, false, CLI_ARGV("xoffctl", ##__VA_ARGS__))

static struct run R;

static json_t *stdout_json(const struct run *r)
{
	json_error_t err;
	json_t *o = json_loads(r->out, 0, &err);

	cr_assert_not_null(o, "stdout is not JSON (%s): '%s'", err.text, r->out);
	return o;
}

static void expect_err_has(const struct run *r, const char *part)
{
	cr_assert(strstr(r->err, part), "stderr '%s' does not say '%s'", r->err, part);
}

Test(cli, binary_usage_and_help)
{
	cr_assert_eq(XRUN(&R), XCLI_USAGE, "no arguments");
	expect_err_has(&R, "Usage");
	cr_assert_eq(XRUN(&R, "help"), XCLI_OK);
	cr_assert(strstr(R.out, "Usage"), "'%s'", R.out);
	cr_assert(strstr(R.out, "attach DEV"), "'%s'", R.out);
	cr_assert_eq(XRUN(&R, "-h"), XCLI_OK);
	cr_assert(strstr(R.out, "Usage"), "'%s'", R.out);
	cr_assert_eq(XRUN(&R, "--help"), XCLI_OK);
	cr_assert(strstr(R.out, "Usage"), "'%s'", R.out);

	cr_assert_eq(XRUN(&R, "bogus"), XCLI_USAGE);
	expect_err_has(&R, "unknown object");
	expect_err_has(&R, "'bogus'");
	cr_assert_eq(XRUN(&R, "-x", "status"), XCLI_USAGE);
	expect_err_has(&R, "unknown option '-x'");
	cr_assert_eq(XRUN(&R, "-P", "relative", "status"), XCLI_USAGE);
	expect_err_has(&R, "'relative'");
	cr_assert_eq(XRUN(&R, "-P"), XCLI_USAGE);
}

Test(cli, binary_object_help)
{
	static const char *const objs[] = { "attach", "detach", "sa", "policy", "status",
					    "stats", "metrics", "probe", "run" };
	size_t i;

	for (i = 0; i < CLI_ARRAY_SIZE(objs); i++) {
		cr_assert_eq(XRUN(&R, (char *)objs[i], "help"), XCLI_OK, "%s help: %s", objs[i],
			     R.err);
		cr_assert(strstr(R.out, "Usage"), "%s help: '%s'", objs[i], R.out);
		cr_assert(strstr(R.out, objs[i]), "%s help: '%s'", objs[i], R.out);
	}
}

Test(cli, binary_usage_errors)
{
	cr_assert_eq(XRUN(&R, "attach"), XCLI_USAGE);
	expect_err_has(&R, "which device");
	cr_assert_eq(XRUN(&R, "attach", "lo", "xdp-mode", "turbo"), XCLI_USAGE);
	expect_err_has(&R, "'turbo'");
	cr_assert(!R.out[0], "nothing on stdout: '%s'", R.out);
	cr_assert_eq(XRUN(&R, "attach", "lo", "steer", "on", "steer", "off"), XCLI_USAGE);
	expect_err_has(&R, "given twice");
	cr_assert_eq(XRUN(&R, "attach", "a/b"), XCLI_USAGE);
	cr_assert_eq(XRUN(&R, "detach"), XCLI_USAGE);
	cr_assert_eq(XRUN(&R, "detach", "lo", "bogus"), XCLI_USAGE);
	expect_err_has(&R, "'bogus'");
	cr_assert_eq(XRUN(&R, "sa", "list", "spi", "zz"), XCLI_USAGE);
	expect_err_has(&R, "'zz'");
	cr_assert_eq(XRUN(&R, "sa", "list", "dst"), XCLI_USAGE);
	cr_assert_eq(XRUN(&R, "sa", "bogus"), XCLI_USAGE);
	expect_err_has(&R, "'bogus'");
	cr_assert_eq(XRUN(&R, "status", "extra"), XCLI_USAGE);
	expect_err_has(&R, "'extra'");
	cr_assert_eq(XRUN(&R, "stats", "extra"), XCLI_USAGE);
	cr_assert_eq(XRUN(&R, "metrics", "extra"), XCLI_USAGE);
	cr_assert_eq(XRUN(&R, "policy", "list", "extra"), XCLI_USAGE);
	cr_assert_eq(XRUN(&R, "run", "interval", "5"), XCLI_USAGE);
	expect_err_has(&R, "'5'");
	cr_assert_eq(XRUN(&R, "run", "log-level", "loud"), XCLI_USAGE);
	cr_assert_eq(XRUN(&R, "probe"), XCLI_USAGE);
	expect_err_has(&R, "which device");
	cr_assert_eq(XRUN(&R, "probe", "lo", "lo"), XCLI_USAGE);
	cr_assert_eq(XRUN(&R, "probe", "a/b"), XCLI_USAGE);
}

Test(cli, binary_version)
{
	json_t *o;

	cr_assert_eq(XRUN(&R, "version"), XCLI_OK);
	cr_assert(strstr(R.out, XOFF_VERSION), "'%s'", R.out);
	cr_assert_eq(XRUN(&R, "-V"), XCLI_OK);
	cr_assert(strstr(R.out, XOFF_VERSION), "'%s'", R.out);

	cr_assert_eq(XRUN(&R, "-j", "version"), XCLI_OK, "%s", R.err);
	o = stdout_json(&R);
	cr_assert(json_is_object(o));
	cr_assert_str_eq(json_string_value(json_object_get(o, "version")), XOFF_VERSION);
	cr_assert(json_is_string(json_object_get(o, "libbpf")));
	json_decref(o);

	cr_assert_eq(XRUN(&R, "-p", "version"), XCLI_OK, "%s", R.err);
	cr_assert(strstr(R.out, "{\n  \"version\": "), "-p indents: '%s'", R.out);
	o = stdout_json(&R);
	cr_assert_str_eq(json_string_value(json_object_get(o, "version")), XOFF_VERSION);
	json_decref(o);
}

Test(cli, binary_probe)
{
	struct stat st;
	json_t *o, *d, *k, *v;

	cr_assert_eq(XRUN(&R, "probe", "nosuchdev0"), XCLI_ERR);
	expect_err_has(&R, "no such device");
	cr_assert_eq(XRUN(&R, "-j", "probe", "nosuchdev0"), XCLI_ERR);
	o = stdout_json(&R);
	cr_assert(strstr(json_string_value(json_object_get(o, "error")), "no such device"));
	json_decref(o);

	cr_assert_eq(XRUN(&R, "-j", "probe", "lo"), XCLI_OK, "%s", R.err);
	o = stdout_json(&R);
	d = json_object_get(o, "device");
	k = json_object_get(o, "kernel");
	cr_assert(json_is_object(d), "'%s'", R.out);
	cr_assert(json_is_object(k), "'%s'", R.out);
	cr_assert_str_eq(json_string_value(json_object_get(d, "name")), "lo");
	cr_assert_eq(json_integer_value(json_object_get(d, "ifindex")), 1);
	cr_assert(json_is_true(json_object_get(d, "up")), "lo is up");
	cr_assert(json_is_string(json_object_get(k, "release")));
	v = json_object_get(k, "xfrma_sa_pcpu");
	cr_assert(json_is_boolean(v) || json_is_null(v), "xfrma_sa_pcpu: '%s'", R.out);
	if (!stat("/sys/kernel/btf/vmlinux", &st))
		cr_assert(json_is_true(json_object_get(k, "btf")), "this kernel has BTF: '%s'",
			  R.out);
	else
		fprintf(stderr, "note: no /sys/kernel/btf/vmlinux: btf not checked\n");
	json_decref(o);

	cr_assert_eq(XRUN(&R, "probe", "lo"), XCLI_OK, "%s", R.err);
	cr_assert(strstr(R.out, "device:"), "'%s'", R.out);
	cr_assert(strstr(R.out, "kernel:"), "'%s'", R.out);
	cr_assert(strstr(R.out, "\n  xfrma_sa_pcpu "), "'%s'", R.out);
}

Test(cli, binary_needs_root)
{
	bool drop = geteuid() == 0;

	cr_assert_eq(xrun(&R, drop, CLI_ARGV("xoffctl", "status")), XCLI_ERR, "%s%s", R.out,
		     R.err);
	expect_err_has(&R, "needs root");
	cr_assert_eq(xrun(&R, drop, CLI_ARGV("xoffctl", "-j", "sa", "list")), XCLI_ERR);
	expect_err_has(&R, "needs root");
	json_decref(stdout_json(&R));
	/* Usage is checked before privileges. */
	cr_assert_eq(xrun(&R, drop, CLI_ARGV("xoffctl", "attach", "lo", "mirror", "x")),
		     XCLI_USAGE);
}

/* Read commands on a private bpffs where nothing is pinned. */
static char bdir[64];
static bool bmounted;

static void bpffs_fini(void)
{
	if (bdir[0])
		bpffs_umount(bdir, &bmounted);
}

static void private_pin_dir(char *pin, size_t len)
{
	struct stat st;

	if (geteuid())
		cr_skip_test("SKIP: needs root (bpffs mount, BPF maps)");
	bpffs_mount(bdir, &bmounted);
	snprintf(pin, len, "%s/xoff", bdir);
	cr_assert_neq(stat(pin, &st), 0);
}

static void expect_absent(const char *pin)
{
	struct stat st;

	cr_assert_neq(stat(pin, &st), 0, "%s was created", pin);
	cr_assert_eq(errno, ENOENT);
}

Test(cli, binary_status_nothing_pinned, .fini = bpffs_fini)
{
	char pin[128];
	json_t *o, *d, *m;

	private_pin_dir(pin, sizeof(pin));
	cr_assert_eq(XRUN(&R, "-j", "-P", pin, "status"), XCLI_OK, "%s", R.err);
	o = stdout_json(&R);
	cr_assert(json_is_false(json_object_get(o, "loaded")), "'%s'", R.out);
	cr_assert(json_is_array(json_object_get(o, "interfaces")), "'%s'", R.out);
	cr_assert_eq(json_array_size(json_object_get(o, "interfaces")), 0, "'%s'", R.out);
	cr_assert_str_eq(json_string_value(json_object_get(o, "pin_dir")), pin);
	d = json_object_get(o, "daemon");
	cr_assert(json_is_object(d));
	cr_assert(json_is_false(json_object_get(d, "running")));
	expect_null(d, "pid");
	m = json_object_get(o, "maps");
	cr_assert(json_is_object(m));
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(m, "sas"), "entries")),
		     0);
	cr_assert_eq(json_array_size(json_object_get(m, "steering_cpus")), 0);
	json_decref(o);
	expect_absent(pin);

	cr_assert_eq(XRUN(&R, "-P", pin, "status"), XCLI_OK, "%s", R.err);
	cr_assert(strstr(R.out, "nothing pinned"), "'%s'", R.out);
	cr_assert(strstr(R.out, "none attached"), "'%s'", R.out);
	expect_absent(pin);
}

Test(cli, binary_reads_nothing_pinned, .fini = bpffs_fini)
{
	char pin[128];
	json_t *o, *v;
	size_t i, k;

	private_pin_dir(pin, sizeof(pin));
	cr_assert_eq(XRUN(&R, "-j", "-P", pin, "stats"), XCLI_OK, "%s", R.err);
	o = stdout_json(&R);
	cr_assert_eq(json_array_size(json_object_get(o, "interfaces")), 0, "'%s'", R.out);
	cr_assert(json_is_object(json_object_get(o, "xfrm_stat")));
	json_decref(o);

	cr_assert_eq(XRUN(&R, "-j", "-P", pin, "sa", "list"), XCLI_OK, "%s", R.err);
	o = stdout_json(&R);
	cr_assert(json_is_array(o), "'%s'", R.out);
	json_array_foreach(o, i, v) {
		for (k = 0; k < CLI_ARRAY_SIZE(sa_required); k++)
			cr_assert_not_null(json_object_get(v, sa_required[k]), "SA %zu: no '%s'",
					   i, sa_required[k]);
		cr_assert_str_neq(json_string_value(json_object_get(v, "path")), "hw",
				  "nothing pinned: nothing is mapped");
	}
	json_decref(o);

	cr_assert_eq(XRUN(&R, "-j", "-P", pin, "policy", "list"), XCLI_OK, "%s", R.err);
	o = stdout_json(&R);
	cr_assert(json_is_array(o), "'%s'", R.out);
	json_decref(o);

	cr_assert_eq(XRUN(&R, "-P", pin, "metrics"), XCLI_OK, "%s", R.err);
	cr_assert(strstr(R.out, "\nxoff_loaded 0\n"), "'%s'", R.out);
	cr_assert(strstr(R.out, "# TYPE xoff_sa_fastpath_packets_total counter"), "'%s'", R.out);
	cr_assert(strstr(R.out, "# TYPE xoff_sa_auth_packets_total counter"), "'%s'", R.out);
	expect_absent(pin);
}

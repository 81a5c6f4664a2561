// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xoff's XDP program as libxdp sees it: its run config lets other programs run beside it. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

static int quiet(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	return level == LIBXDP_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

Test(libxdp, run_config)
{
	DECLARE_LIBXDP_OPTS(xdp_program_opts, o, .open_filename = XOFF_OUT "/xoff.bpf.o",
			    .prog_name = "xoff_xdp");
	struct xdp_program *p;

	libxdp_set_print(quiet);
	libbpf_set_print(NULL);	/* libbpf does not know libxdp's section; libxdp does */
	p = xdp_program__create(&o);
	cr_assert_eq(libxdp_get_error(p), 0, "libxdp cannot open xoff.bpf.o");
	/* After firewalls such as xdp-filter (10), before the default (50). */
	cr_expect_eq(xdp_program__run_prio(p), 20);
	cr_expect(xdp_program__chain_call_enabled(p, XDP_PASS), "PASS must chain on");
	cr_expect(!xdp_program__chain_call_enabled(p, XDP_DROP), "a drop is final");
	cr_expect(!xdp_program__chain_call_enabled(p, XDP_REDIRECT), "a redirect is final");
	xdp_program__close(p);
}

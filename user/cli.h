/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xoffctl's command line: parsing (pure, tested on its own) and the commands. */
#ifndef XOFF_CLI_H
#define XOFF_CLI_H

#include <stdbool.h>
#include "attach.h"
#include "daemon.h"
#include "report.h"

#define XOFF_VERSION	"0.4"

/* Exit codes. */
enum { XCLI_OK = 0, XCLI_ERR = 1, XCLI_USAGE = 2 };

struct xcli_global {
	bool		json;
	bool		pretty;
	const char	*pin_dir;	/* NULL: this network namespace's default */
};

/* Options before the object; argc and argv are advanced past them. Parsers return 0, or
 * -EINVAL with a one-line message in @e (a usage error: exit 2), or -ENODEV for a device
 * that does not exist (an error about the system: exit 1). */
int xcli_parse_global(int *argc, char ***argv, struct xcli_global *g, struct xerr *e);
/* iproute2-style keyword match: any unambiguous prefix of @word. */
bool xcli_matches(const char *arg, const char *word);
/* "0-3,6": CPUs below xoff_nr_cpus(). */
int xcli_parse_cpus(const char *s, __u16 *cpus, unsigned int max, unsigned int *n);
int xcli_parse_attach(int argc, char **argv, struct xattach_opts *o, __u16 *cpus,
		      unsigned int max, struct xerr *e);
int xcli_parse_detach(int argc, char **argv, const char **dev, bool *keep_maps,
		      struct xerr *e);
int xcli_parse_filter(int argc, char **argv, struct xreport_filter *f, struct xerr *e);
/* @cpus and @rx_cpus: room for @max CPUs each, for cpus and rx-cpus. */
int xcli_parse_run(int argc, char **argv, struct xoffd_opts *o, __u16 *cpus, __u16 *rx_cpus,
		   unsigned int max, struct xerr *e);

int xoffctl_main(int argc, char **argv);

#endif /* XOFF_CLI_H */

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What the selftest tools share: messages and exits, numbers, addresses and MACs from the
 * command line, big-endian stores. Include it after defining PROG (the tool's name). */
#ifndef XOFF_SELFTESTS_TOOL_H
#define XOFF_SELFTESTS_TOOL_H

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

#ifdef PROG
/* Exit @code after "PROG: message" (2, a usage error, points at --help). */
static inline void __attribute__((noreturn, format(printf, 2, 3))) die(int code, const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(code == 2 ? " (see --help)\n" : "\n", stderr);
	exit(code);
}

/* Decimal, or hex with 0x; no sign, no junk, within [min, max]. */
static inline unsigned long long num(const char *opt, const char *arg, unsigned long long min,
				     unsigned long long max)
{
	bool hex = arg[0] == '0' && (arg[1] == 'x' || arg[1] == 'X');
	const char *s = hex ? arg + 2 : arg;
	unsigned long long v;
	char *end;

	if (!(hex ? isxdigit((unsigned char)*s) : isdigit((unsigned char)*s)))
		die(2, "%s: '%s' is not a number", opt, arg);
	errno = 0;
	v = strtoull(s, &end, hex ? 16 : 10);
	if (*end)
		die(2, "%s: '%s' is not a number", opt, arg);
	if (errno == ERANGE || v < min || v > max)
		die(2, "%s: %s is out of range %llu-%llu", opt, arg, min, max);
	return v;
}

/* An IPv4 or IPv6 address of the same family as the other one (*@family, 0 for none yet);
 * else exit @code. */
static inline void addr(int code, const char *opt, const char *s, uint8_t *a, int *family)
{
	int f;

	if (inet_pton(AF_INET, s, a) == 1)
		f = AF_INET;
	else if (inet_pton(AF_INET6, s, a) == 1)
		f = AF_INET6;
	else
		die(code, "%s: '%s' is not an IPv4 or IPv6 address", opt, s);
	if (*family && *family != f)
		die(code, "%s: '%s' is not of the other address's family", opt, s);
	*family = f;
}

/* xx:xx:xx:xx:xx:xx into @m; else exit @code. */
static inline void mac(int code, const char *opt, const char *s, uint8_t *m)
{
	unsigned int b[6];
	char c;
	int i;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &c) != 6)
		die(code, "%s: '%s' is not a MAC address (xx:xx:xx:xx:xx:xx)", opt, s);
	for (i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[3 * i]) || !isxdigit((unsigned char)s[3 * i + 1]))
			die(code, "%s: '%s' is not a MAC address (xx:xx:xx:xx:xx:xx)", opt, s);
		m[i] = b[i];
	}
}
#endif /* PROG */

#endif

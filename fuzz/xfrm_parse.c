// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libFuzzer target over the XFRM netlink parser (user/xfrm.c), built with ASan and UBSan.
 *
 * The input is read twice: as a stream of netlink messages the way the daemon walks a
 * recv() buffer (user/nl.c), and as one message whose nlmsg_len is forced to the input size (so the fuzzer
 * reaches the attribute parsing without having to get the header length right). For every
 * message that parses, the invariants the daemon relies on are checked, and the requests
 * xoff builds from a parsed SA (GETAE, NEWAE, EXPIRE) must parse back to the same SA.
 *
 *   make fuzz [FUZZ_SECS=60]      runs it over the committed corpus (fuzz/corpus/xfrm_parse)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include "xfrm.h"
#include "nl.h"
#include "sync.h"

#define check(c) do { if (!(c)) { fprintf(stderr, "invariant: %s (%s:%d)\n", #c, \
	__FILE__, __LINE__); abort(); } } while (0)

static void roundtrip(const struct xfrm_sa *sa)
{
	char buf[XFRM_REQ_BUF] __attribute__((aligned(8)));
	struct xfrm_lifetime_cur cur = { .bytes = 1, .packets = 1 };
	struct xfrm_msg m;
	const char *why;
	size_t n;

	n = xfrm_build_expire(buf, 1, sa, true);
	check(n >= sizeof(struct nlmsghdr) && n <= sizeof(buf));
	check(xfrm_parse((struct nlmsghdr *)buf, &m, &why) == 0);
	check(m.ev == XFRM_EV_SA_DEL && xfrm_sa_same(&m.sa, sa));

	n = xfrm_build_getae(buf, 2, sa);
	check(n >= sizeof(struct nlmsghdr) && n <= sizeof(buf));
	n = xfrm_build_newae(buf, 3, sa, &cur);
	check(n >= sizeof(struct nlmsghdr) && n <= sizeof(buf));
	check(xfrm_parse((struct nlmsghdr *)buf, &m, &why) == 0);
	check(m.ev == XFRM_EV_AE && m.ae.spi == sa->spi && m.ae.family == sa->family);
	check(m.ae.has_ltime && m.ae.curlft.bytes == 1 && m.ae.curlft.packets == 1);
}

static void one(const struct nlmsghdr *nlh)
{
	struct xfrm_msg m;
	const char *why = "unset";
	int rc;

	rc = xfrm_parse(nlh, &m, &why);
	if (rc) {
		check(rc == -EBADMSG && why && *why);
		return;
	}
	switch (m.ev) {
	case XFRM_EV_SA:
	case XFRM_EV_SA_DEL:
	case XFRM_EV_SA_SOFT:
		check(xfrm_addr_len(m.sa.family));
		check(!m.sa.alg_known || (m.sa.iv_len <= 32 && m.sa.icv_len <= 64));
		(void)xsync_why_str(xsync_classify(&m.sa));
		check(xfrm_sa_same(&m.sa, &m.sa));
		roundtrip(&m.sa);
		break;
	case XFRM_EV_POL:
	case XFRM_EV_POL_DEL:
		check(m.pol.ntmpl <= XFRM_TMPL_MAX);
		check(m.pol.dir <= XFRM_POLICY_FWD);
		break;
	case XFRM_EV_MIGRATE:
		check(m.mig.n >= 1 && m.mig.n <= XFRM_TMPL_MAX);
		check(m.mig.dir <= XFRM_POLICY_FWD || m.mig.dir == 0xff);
		for (unsigned int i = 0; i < m.mig.n; i++)
			check(xfrm_addr_len(m.mig.m[i].old_family) &&
			      xfrm_addr_len(m.mig.m[i].new_family));
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nlmsghdr *nlh;
	void *buf;
	int len;

	if (size > 1 << 16)
		return 0;
	/* Exactly @size bytes, so any read past the end is an ASan report. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	len = (int)size;
	for (nlh = buf; xnl_msg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
		one(nlh);
	if (size >= sizeof(struct nlmsghdr)) {
		memcpy(buf, data, size);
		((struct nlmsghdr *)buf)->nlmsg_len = (uint32_t)size;
		one(buf);
	}
	free(buf);
	return 0;
}

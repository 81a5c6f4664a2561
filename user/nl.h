/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* XFRM netlink sockets: events (SA, POLICY, EXPIRE, MAPPING, MIGRATE groups), dumps and
 * requests, with extended acks. Receive buffers are wiped after use: SA messages carry
 * keys. */
#ifndef XOFF_NL_H
#define XOFF_NL_H

#include <linux/netlink.h>
#include "mirror.h"

struct xnl;

typedef int (*xnl_cb)(const struct nlmsghdr *nlh, void *ctx);

/* mnl_nlmsg_ok() compares nlmsg_len as a signed int, so a length of 2^31 or more passes
 * it; this one does not. Walk received buffers with it. */
static inline int xnl_msg_ok(const struct nlmsghdr *nlh, int left)
{
	return left >= (int)sizeof(*nlh) && nlh->nlmsg_len >= sizeof(*nlh) &&
	       nlh->nlmsg_len <= (unsigned int)left;
}

/* @rcvbuf: the event socket's receive buffer in bytes (0: the system default). */
int xnl_open(struct xnl **out, int rcvbuf, void (*log)(void *ctx, int level, const char *msg),
	     void *log_ctx);
void xnl_close(struct xnl *n);
int xnl_event_fd(const struct xnl *n);

/* Dump all SAs (XFRM_MSG_GETSA) or policies (XFRM_MSG_GETPOLICY) into @cb. -EINTR: the
 * kernel's table changed during the dump (NLM_F_DUMP_INTR): dump again. */
int xnl_dump(struct xnl *n, __u16 type, xnl_cb cb, void *ctx);

/* Every event queued now, in order. -ENOBUFS: events were lost, resync. Callback errors
 * do not stop the drain; the first one is returned. */
int xnl_events(struct xnl *n, xnl_cb cb, void *ctx);

/* Link events (RTNLGRP_LINK) on a socket of their own, for the daemon: the kernel drops
 * the SAs offloaded to a device that goes down or away without an XFRM event. */
int xnl_link_open(struct xnl *n);
int xnl_link_fd(const struct xnl *n);	/* -1 before xnl_link_open() */

/* Every link event queued now: @cb(ifindex, lost, ctx) for each device that went down,
 * was deleted or left the namespace (lost true) or changed otherwise (lost false).
 * -ENOBUFS: events were lost (any device may have gone). */
int xnl_link_events(struct xnl *n, void (*cb)(__u32 ifindex, bool lost, void *ctx),
		    void *ctx);

/* The kernel's extended ack text of the last failed request ("" if none). */
const char *xnl_extack(const struct xnl *n);

/* struct xmirror_kops over these sockets; ctx is the struct xnl. */
extern const struct xmirror_kops xnl_kops;

#endif /* XOFF_NL_H */

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* XFRM netlink sockets with libmnl: events, dumps, requests, extended acks. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <linux/xfrm.h>
#include <net/if.h>
#include "nl.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK		11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK		10
#endif
#ifndef NLM_F_ACK_TLVS
#define NLM_F_ACK_TLVS		0x200
#endif
#ifndef NLMSGERR_ATTR_MSG
#define NLMSGERR_ATTR_MSG	1
#endif

#define XNL_BUF		(64 * 1024)	/* larger than any dump skb the kernel builds */

/* The longest wait for one part of an answer (a dump of 100k SAs takes well under 1 s). */
static const struct timeval rq_timeout = { .tv_sec = 5 };

struct xnl {
	struct mnl_socket *ev;		/* multicast events */
	struct mnl_socket *rq;		/* dumps and requests */
	struct mnl_socket *link;	/* rtnetlink link events, when watched */
	bool		rq_stale;	/* a request timed out: reopen rq before the next */
	__u32		portid;		/* of rq */
	__u32		seq;
	char		*buf;
	char		extack[256];
	void		(*log)(void *ctx, int level, const char *msg);
	void		*log_ctx;
};

static void xnl_log(struct xnl *n, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void xnl_log(struct xnl *n, int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (!n->log)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	n->log(n->log_ctx, level, buf);
}

static int sock_setup(struct mnl_socket *s)
{
	int one = 1;

	/* Errors carry the kernel's text; acks do not echo our request back. */
	mnl_socket_setsockopt(s, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(s, NETLINK_CAP_ACK, &one, sizeof(one));
	return mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) ? -errno : 0;
}

/* The request socket, and its settings. */
static int rq_open(struct xnl *n)
{
	int err;

	n->rq = mnl_socket_open2(NETLINK_XFRM, SOCK_CLOEXEC);
	if (!n->rq)
		return -errno;
	if ((err = sock_setup(n->rq)))
		return err;
	/* An answer that never comes must not stop the daemon: fail the request instead. */
	if (setsockopt(mnl_socket_get_fd(n->rq), SOL_SOCKET, SO_RCVTIMEO, &rq_timeout,
		       sizeof(rq_timeout)))
		return -errno;
	n->portid = mnl_socket_get_portid(n->rq);
	return 0;
}

int xnl_open(struct xnl **out, int rcvbuf, void (*log)(void *ctx, int level, const char *msg),
	     void *log_ctx)
{
	/* MIGRATE: km_migrate() announces there the SAs and templates xfrm_migrate() moved,
	 * which no SA or policy event reports. */
	static const unsigned int groups[] = {
		XFRMNLGRP_SA, XFRMNLGRP_POLICY, XFRMNLGRP_EXPIRE, XFRMNLGRP_MAPPING,
		XFRMNLGRP_MIGRATE,
	};
	struct xnl *n = calloc(1, sizeof(*n));
	unsigned int i;
	int err = -ENOMEM;

	if (!n)
		return -ENOMEM;
	n->log = log;
	n->log_ctx = log_ctx;
	if (!(n->buf = malloc(XNL_BUF)))
		goto fail;
	n->ev = mnl_socket_open2(NETLINK_XFRM, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!n->ev) {
		err = -errno;
		goto fail;
	}
	if ((err = sock_setup(n->ev)) || (err = rq_open(n)))
		goto fail;
	if (rcvbuf > 0 &&
	    setsockopt(mnl_socket_get_fd(n->ev), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
		       sizeof(rcvbuf)) &&
	    setsockopt(mnl_socket_get_fd(n->ev), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf))) {
		err = -errno;
		goto fail;
	}
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (mnl_socket_setsockopt(n->ev, NETLINK_ADD_MEMBERSHIP, (void *)&groups[i],
					  sizeof(groups[i]))) {
			err = -errno;
			goto fail;
		}
	n->seq = time(NULL);
	*out = n;
	return 0;
fail:
	xnl_close(n);
	return err;
}

void xnl_close(struct xnl *n)
{
	if (!n)
		return;
	if (n->ev)
		mnl_socket_close(n->ev);
	if (n->rq)
		mnl_socket_close(n->rq);
	if (n->link)
		mnl_socket_close(n->link);
	if (n->buf)
		explicit_bzero(n->buf, XNL_BUF);
	free(n->buf);
	free(n);
}

int xnl_event_fd(const struct xnl *n)
{
	return mnl_socket_get_fd(n->ev);
}

int xnl_link_open(struct xnl *n)
{
	unsigned int grp = RTNLGRP_LINK;

	if (n->link)
		return 0;
	n->link = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (!n->link)
		return -errno;
	if (mnl_socket_bind(n->link, 0, MNL_SOCKET_AUTOPID) ||
	    mnl_socket_setsockopt(n->link, NETLINK_ADD_MEMBERSHIP, &grp, sizeof(grp))) {
		int err = -errno;

		mnl_socket_close(n->link);
		n->link = NULL;
		return err;
	}
	return 0;
}

int xnl_link_fd(const struct xnl *n)
{
	return n->link ? mnl_socket_get_fd(n->link) : -1;
}

int xnl_link_events(struct xnl *n, void (*cb)(__u32 ifindex, bool lost, void *ctx), void *ctx)
{
	char buf[8192] __attribute__((aligned(8)));
	int lost = 0;

	if (!n->link)
		return -EINVAL;
	for (;;) {
		ssize_t len = recv(mnl_socket_get_fd(n->link), buf, sizeof(buf), MSG_TRUNC);
		const struct nlmsghdr *nlh;
		int left;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return lost;
			if (errno == ENOBUFS) {
				lost = -ENOBUFS;	/* keep reading: the queue must empty */
				continue;
			}
			return -errno;
		}
		if (len > (ssize_t)sizeof(buf)) {
			lost = -ENOBUFS;	/* a truncated message is a lost event */
			continue;
		}
		left = len;
		for (nlh = (void *)buf; xnl_msg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct ifinfomsg *ifi;

			if ((nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK) ||
			    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifi)))
				continue;
			ifi = mnl_nlmsg_get_payload(nlh);
			if (ifi->ifi_index <= 0)
				continue;
			cb(ifi->ifi_index, nlh->nlmsg_type == RTM_DELLINK || !(ifi->ifi_flags & IFF_UP),
			   ctx);
		}
	}
}

const char *xnl_extack(const struct xnl *n)
{
	return n->extack;
}

/* The error of an NLMSG_ERROR, with the kernel's message kept in n->extack. */
static int nl_error(struct xnl *n, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	size_t off;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
		return -EBADMSG;
	if (!e->error || !(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return e->error;
	/* With NETLINK_CAP_ACK the request is not echoed: attributes follow its header. */
	off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	mnl_attr_for_each(a, nlh, off) {
		if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0) {
			snprintf(n->extack, sizeof(n->extack), "%s", mnl_attr_get_str(a));
			break;
		}
	}
	return e->error;
}

/* Receive the answer to request @seq: messages to @cb, until ack, error or DONE. */
static int rq_recv(struct xnl *n, __u32 seq, xnl_cb cb, void *ctx)
{
	bool intr = false;
	int err = 0;

	for (;;) {
		ssize_t len = recv(mnl_socket_get_fd(n->rq), n->buf, XNL_BUF, MSG_TRUNC);
		const struct nlmsghdr *nlh;
		int left, done = 0;

		/* The kernel handled the request when it was sent: without its answer, what it
		 * did is unknown. Every such case is -ETIMEDOUT, on a socket then replaced (a
		 * late answer, or a dump still going, must not meet the next request). */
		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0 || len > XNL_BUF) {
			if (len > XNL_BUF)
				explicit_bzero(n->buf, XNL_BUF);
			if (len < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				xnl_log(n, 3, "XFRM netlink: no answer within %ld s",
					(long)rq_timeout.tv_sec);
			else
				xnl_log(n, 3, "XFRM netlink: answer lost: %s",
					len < 0 ? strerror(errno) : "larger than the buffer");
			n->rq_stale = true;
			return -ETIMEDOUT;
		}
		left = len;
		for (nlh = (void *)n->buf; xnl_msg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			if (nlh->nlmsg_seq != seq || nlh->nlmsg_pid != n->portid)
				continue;	/* a stale answer */
			if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
				intr = true;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				err = nl_error(n, nlh);
				done = 1;
				break;
			}
			if (nlh->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (cb) {
				int e = cb(nlh, ctx);

				err = err ?: e;
			}
			if (!(nlh->nlmsg_flags & NLM_F_MULTI)) {
				done = 1;
				break;
			}
		}
		explicit_bzero(n->buf, len);	/* SA messages carry keys */
		if (done)
			return intr && !err ? -EINTR : err;
	}
}

static int rq_send(struct xnl *n, void *req, size_t len)
{
	if (n->rq_stale) {
		/* After a timeout the kernel may still answer, or dump (and refuse another dump
		 * with EBUSY until that is read): start over on a new socket. */
		int err;

		mnl_socket_close(n->rq);
		if ((err = rq_open(n))) {
			if (n->rq)
				mnl_socket_close(n->rq);
			n->rq = NULL;
			return err;
		}
		n->rq_stale = false;
	}
	/* Some answers carry the request's nlmsg_pid, not the socket's (GETAE: c.portid =
	 * nlh->nlmsg_pid in xfrm_get_ae()): name ours, or the answer looks like another's. */
	((struct nlmsghdr *)req)->nlmsg_pid = n->portid;
	n->extack[0] = '\0';
	if (mnl_socket_sendto(n->rq, req, len) < 0)
		return -errno;
	return 0;
}

int xnl_dump(struct xnl *n, __u16 type, xnl_cb cb, void *ctx)
{
	char req[XFRM_REQ_BUF];
	__u32 seq = ++n->seq;
	int err = rq_send(n, req, xfrm_build_dump(req, seq, type));

	return err ?: rq_recv(n, seq, cb, ctx);
}

/*
 * The kernel dropped events. It reports that once and then drops everything while the
 * socket is marked congested, which only an empty queue clears: so empty the queue
 * first, and the resync the caller does next comes after every lost event.
 */
static int drain(struct xnl *n)
{
	ssize_t len;

	while ((len = recv(mnl_socket_get_fd(n->ev), n->buf, XNL_BUF, MSG_TRUNC)) != 0) {
		if (len < 0 && errno != EINTR && errno != ENOBUFS)
			break;
		if (len > 0)
			explicit_bzero(n->buf, len < XNL_BUF ? len : XNL_BUF);
	}
	return -ENOBUFS;
}

int xnl_events(struct xnl *n, xnl_cb cb, void *ctx)
{
	int first = 0;

	for (;;) {
		ssize_t len = recv(mnl_socket_get_fd(n->ev), n->buf, XNL_BUF, MSG_TRUNC);
		const struct nlmsghdr *nlh;
		int left;

		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return first;
			if (errno == ENOBUFS)
				return drain(n);
			return -errno;
		}
		if (len > XNL_BUF) {
			explicit_bzero(n->buf, XNL_BUF);
			return drain(n);	/* a lost message is a lost event */
		}
		left = len;
		for (nlh = (void *)n->buf; xnl_msg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			int e = cb(nlh, ctx);

			first = first ?: e;
		}
		explicit_bzero(n->buf, len);
	}
}

/* ---- requests for the mirror ---------------------------------------------------------- */

struct cur_ctx {
	struct xfrm_lifetime_cur *cur;
	bool found;
};

static int cur_cb(const struct nlmsghdr *nlh, void *data)
{
	struct cur_ctx *c = data;
	struct xfrm_msg m;
	const char *why;

	if (xfrm_parse(nlh, &m, &why))
		return -EBADMSG;
	if (m.ev == XFRM_EV_AE && m.ae.has_ltime) {
		*c->cur = m.ae.curlft;
		c->found = true;
	} else if (m.ev == XFRM_EV_SA) {
		*c->cur = m.sa.curlft;
		c->found = true;
	}
	return 0;
}

static void put_mark(struct nlmsghdr *nlh, const struct xfrm_sa *sa)
{
	if (sa->has_mark)
		mnl_attr_put(nlh, XFRMA_MARK, sizeof(sa->mark), &sa->mark);
}

/* GETAE reads curlft without keys. A packet-offload SA is read with GETSA instead: only
 * that makes the kernel ask the driver for its counts (6.4+); the keys in the answer are
 * wiped with the buffer. */
static int k_getae(void *ctx, const struct xfrm_sa *sa, struct xfrm_lifetime_cur *cur)
{
	struct xnl *n = ctx;
	struct cur_ctx c = { .cur = cur };
	char req[XFRM_REQ_BUF];
	__u32 seq = ++n->seq;
	size_t len;
	int err;

	if (sa->has_offload && sa->offload_flags & XFRM_OFFLOAD_PACKET) {
		struct nlmsghdr *nlh;
		struct xfrm_usersa_id *id;

		memset(req, 0, sizeof(req));
		nlh = mnl_nlmsg_put_header(req);
		nlh->nlmsg_type = XFRM_MSG_GETSA;
		nlh->nlmsg_flags = NLM_F_REQUEST;
		nlh->nlmsg_seq = seq;
		id = mnl_nlmsg_put_extra_header(nlh, sizeof(*id));
		id->daddr = sa->daddr;
		id->spi = sa->spi;
		id->family = sa->family;
		id->proto = sa->proto;
		put_mark(nlh, sa);
		len = nlh->nlmsg_len;
	} else {
		len = xfrm_build_getae(req, seq, sa);
	}
	err = rq_send(n, req, len) ?: rq_recv(n, seq, cur_cb, &c);
	if (!err && !c.found)
		err = -EBADMSG;
	return err;
}

static int k_ack(struct xnl *n, void *req, size_t len, __u32 seq, const char *what)
{
	int err = rq_send(n, req, len) ?: rq_recv(n, seq, NULL, NULL);

	if (err && err != -ESRCH && err != -ENOENT)
		xnl_log(n, 3, "%s: %s%s%s", what, strerror(-err), n->extack[0] ? ": " : "",
			n->extack);
	return err;
}

static int k_newae(void *ctx, const struct xfrm_sa *sa, const struct xfrm_lifetime_cur *cur)
{
	struct xnl *n = ctx;
	char req[XFRM_REQ_BUF];
	__u32 seq = ++n->seq;

	return k_ack(n, req, xfrm_build_newae(req, seq, sa, cur), seq, "XFRM_MSG_NEWAE");
}

static int k_expire(void *ctx, const struct xfrm_sa *sa, bool hard)
{
	struct xnl *n = ctx;
	char req[XFRM_REQ_BUF];
	__u32 seq = ++n->seq;

	return k_ack(n, req, xfrm_build_expire(req, seq, sa, hard), seq, "XFRM_MSG_EXPIRE");
}

const struct xmirror_kops xnl_kops = {
	.getae	= k_getae,
	.newae	= k_newae,
	.expire	= k_expire,
};

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xoff-migrate: move an SA and its policy's template to new addresses with an
 * XFRM_MSG_MIGRATE request, as libreswan's migrate_xfrm_sa() does for MOBIKE (iproute2
 * cannot send one): struct xfrm_userpolicy_id (the policy's selector and direction), one
 * XFRMA_MIGRATE entry (old and new addresses, ESP, tunnel mode, reqid, families), an
 * XFRMA_ENCAP with ESP-in-UDP; NLM_F_ACK. With `wait`, it then times xoff's pinned SA map
 * following the move: until the SA's key under the new destination is there and the one
 * under the old is gone.
 *
 *   xoff-migrate DIR SEL_SRC/PLEN SEL_DST/PLEN OLD_SRC OLD_DST NEW_SRC NEW_DST REQID
 *                [encap SPORT DPORT] [wait PIN_DIR SPI]
 *
 * DIR is in, out or fwd. Prints "acked after N us" and, with wait, "map followed after N us
 * (slot S cpu C, was slot S0 cpu C0)", both counted from just before the request went out.
 * Exit 0, 1 (the kernel refused, or the map did not follow within 5 s) or 2 (usage).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/udp.h>
#include <linux/xfrm.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include "xoff/abi.h"

#define PROG		"xoff-migrate"
#define WAIT_US		5000000ULL	/* the longest the map may take */

static void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static void usage(void)
{
	fprintf(stderr, "usage: " PROG " in|out|fwd SEL_SRC/PLEN SEL_DST/PLEN OLD_SRC OLD_DST "
		"NEW_SRC NEW_DST REQID [encap SPORT DPORT] [wait PIN_DIR SPI]\n");
	exit(2);
}

static unsigned long num(const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || end == s || v > max)
		usage();
	return v;
}

/* An address; its family, which every address of the request shares. */
static int addr(const char *s, xfrm_address_t *a, int family)
{
	int f = strchr(s, ':') ? AF_INET6 : AF_INET;

	memset(a, 0, sizeof(*a));
	if (inet_pton(f, s, a) != 1 || (family && f != family))
		die(2, "%s: not an address of the request's family", s);
	return f;
}

static int prefix(const char *s, xfrm_address_t *a, __u8 *plen, int family)
{
	char buf[INET6_ADDRSTRLEN + 4], *slash;

	snprintf(buf, sizeof(buf), "%s", s);
	if (!(slash = strchr(buf, '/')))
		usage();
	*slash = '\0';
	*plen = num(slash + 1, family == AF_INET ? 32 : 128);
	return addr(buf, a, family);
}

static void put_attr(struct nlmsghdr *nlh, __u16 type, const void *data, size_t len)
{
	struct nlattr *a = (void *)((char *)nlh + NLMSG_ALIGN(nlh->nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	nlh->nlmsg_len = NLMSG_ALIGN(nlh->nlmsg_len) + NLA_ALIGN(a->nla_len);
}

static unsigned long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

/* Send @nlh and return the kernel's answer: 0 or a negative errno. */
static int request(struct nlmsghdr *nlh)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char buf[4096] __attribute__((aligned(8)));
	struct nlmsghdr *ack = (void *)buf;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_XFRM);
	ssize_t len;

	if (fd < 0)
		die(1, "NETLINK_XFRM socket: %s", strerror(errno));
	if (sendto(fd, nlh, nlh->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die(1, "send: %s", strerror(errno));
	len = recv(fd, buf, sizeof(buf), 0);
	close(fd);
	if (len < (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)) || ack->nlmsg_type != NLMSG_ERROR)
		die(1, "no ack from the kernel");
	return ((struct nlmsgerr *)NLMSG_DATA(ack))->error;
}

static void key_of(struct xoff_sa_key *k, int family, const xfrm_address_t *daddr, __u32 spi,
		   bool encap)
{
	memset(k, 0, sizeof(*k));
	k->family = family;
	k->encap = encap ? XOFF_ENCAP_ESPINUDP : XOFF_ENCAP_ESP;
	k->spi = htonl(spi);
	memcpy(k->daddr, daddr, family == AF_INET ? 4 : 16);
}

int main(int argc, char **argv)
{
	struct {
		struct nlmsghdr			n;
		struct xfrm_userpolicy_id	id;
		char				attrs[512];
	} req;
	struct xfrm_user_migrate um;
	struct xoff_sa_key old_key, new_key;
	struct xoff_sa old_v, v;
	const char *pins = NULL;
	bool encap = false;
	unsigned long long t0, t;
	int family, fd = -1, err, i;
	__u16 sport = 0, dport = 0;
	__u32 spi = 0;

	if (argc < 9)
		usage();
	memset(&req, 0, sizeof(req));
	memset(&um, 0, sizeof(um));
	req.id.dir = !strcmp(argv[1], "in") ? XFRM_POLICY_IN : !strcmp(argv[1], "out") ?
		     XFRM_POLICY_OUT : !strcmp(argv[1], "fwd") ? XFRM_POLICY_FWD : 0xff;
	if (req.id.dir == 0xff)
		usage();
	family = addr(argv[4], &um.old_saddr, 0);
	prefix(argv[2], &req.id.sel.saddr, &req.id.sel.prefixlen_s, family);
	prefix(argv[3], &req.id.sel.daddr, &req.id.sel.prefixlen_d, family);
	req.id.sel.family = family;
	addr(argv[5], &um.old_daddr, family);
	addr(argv[6], &um.new_saddr, family);
	addr(argv[7], &um.new_daddr, family);
	um.reqid = num(argv[8], 0xffffffffUL);
	um.proto = IPPROTO_ESP;
	um.mode = XFRM_MODE_TUNNEL;
	um.old_family = um.new_family = family;
	for (i = 9; i < argc; i++) {
		if (!strcmp(argv[i], "encap") && i + 2 < argc) {
			encap = true;
			sport = num(argv[++i], 65535);
			dport = num(argv[++i], 65535);
		} else if (!strcmp(argv[i], "wait") && i + 2 < argc) {
			pins = argv[++i];
			spi = num(argv[++i], 0xffffffffUL);
		} else {
			usage();
		}
	}

	req.n.nlmsg_type = XFRM_MSG_MIGRATE;
	req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.n.nlmsg_seq = 1;
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(req.id));
	put_attr(&req.n, XFRMA_MIGRATE, &um, sizeof(um));
	if (encap) {
		struct xfrm_encap_tmpl e = { .encap_type = UDP_ENCAP_ESPINUDP,
					     .encap_sport = htons(sport),
					     .encap_dport = htons(dport) };

		put_attr(&req.n, XFRMA_ENCAP, &e, sizeof(e));
	}

	if (pins) {
		char path[512];

		snprintf(path, sizeof(path), "%s/%s", pins, XOFF_MAP_SAS);
		if ((fd = bpf_obj_get(path)) < 0)
			die(1, "%s: %s", path, strerror(errno));
		key_of(&old_key, family, &um.old_daddr, spi, encap);
		key_of(&new_key, family, &um.new_daddr, spi, encap);
		if (bpf_map_lookup_elem(fd, &old_key, &old_v))
			die(1, "spi 0x%x is not in %s under the old destination %s", spi, path,
			    argv[5]);
	}
	t0 = now_us();
	if ((err = request(&req.n)))
		die(1, "XFRM_MSG_MIGRATE: %s", strerror(-err));
	printf("acked after %llu us\n", now_us() - t0);
	if (!pins)
		return 0;
	for (;;) {
		struct xoff_sa gone;
		bool moved = !bpf_map_lookup_elem(fd, &new_key, &v) &&
			     bpf_map_lookup_elem(fd, &old_key, &gone) && errno == ENOENT;

		t = now_us() - t0;
		if (moved)
			break;
		if (t > WAIT_US)
			die(1, "spi 0x%x: xoff's map did not follow within %llu ms", spi,
			    WAIT_US / 1000);
		usleep(100);
	}
	printf("map followed after %llu us (slot %u cpu %u, was slot %u cpu %u)\n", t, v.slot,
	       v.cpu, old_v.slot, old_v.cpu);
	return 0;
}

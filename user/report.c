// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xoffctl's reports: the kernel's XFRM state beside xoff's maps, as JSON objects. */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <linux/udp.h>
#include <libmnl/libmnl.h>
#include "xhash.h"
#include <stddef.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "attach.h"
#include "daemon.h"
#include "nl.h"
#include "probe.h"
#include "report.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static void quiet_log(void *ctx, int level, const char *msg)
{
	(void)ctx, (void)level, (void)msg;
}

int xview_open(struct xview *v, const char *pin_dir, struct xerr *e)
{
	struct xoff_opts xo = { 0 };
	__u32 zero = 0;
	int err, fd;

	memset(v, 0, sizeof(*v));
	v->pin.fd = -1;
	err = xpin_lock(&v->pin, pin_dir, false, false, e);
	if (err && err != -ENOENT)
		return err;
	v->loaded = !err;
	if (v->loaded) {
		char path[256];

		xpin_path(path, sizeof(path), v->pin.dir, XOFF_MAP_SAS);
		v->loaded = !access(path, F_OK);
	}
	/* Nothing pinned: private, empty maps, so every report still shows the kernel. */
	xo.pin_dir = v->loaded ? v->pin.dir : NULL;
	xo.max_sas = v->loaded ? 0 : 1;
	xo.max_policies = v->loaded ? 0 : 1;
	xo.maps_only = true;
	if ((err = xoff_open(&v->x, &xo)) || (err = xoff_load(v->x))) {
		xview_close(v);
		return xerr_set(e, err, "loading xoff's maps: %s", xoff_strerror(err));
	}
	if (v->loaded) {
		v->nifs = xpin_ifaces(v->pin.dir, v->ifs, XOFF_MAX_IFACES);
		if (v->nifs < 0)
			v->nifs = 0;
		fd = xoff_map_fd(v->x, XOFF_MAP_DAEMON);
		if (fd >= 0 && !bpf_map_lookup_elem(fd, &zero, &v->daemon) && v->daemon.pid)
			v->daemon_alive = xoffd_running() == 1;
	}
	return 0;
}

void xview_close(struct xview *v)
{
	xoff_close(v->x);
	v->x = NULL;
	xpin_unlock(&v->pin);
}

/* ---- small helpers ------------------------------------------------------------------ */

static json_t *addr_json(int family, const void *a)
{
	char buf[INET6_ADDRSTRLEN];

	if (!inet_ntop(family, a, buf, sizeof(buf)))
		return json_null();
	return json_string(buf);
}

static json_t *prefix_json(int family, const void *a, unsigned int len)
{
	char buf[INET6_ADDRSTRLEN + 8];

	if (!inet_ntop(family, a, buf, INET6_ADDRSTRLEN))
		return json_null();
	snprintf(buf + strlen(buf), 8, "/%u", len);
	return json_string(buf);
}

static json_t *dev_json(__u32 ifindex)
{
	char name[IF_NAMESIZE];

	if (!ifindex)
		return json_null();
	if (!if_indextoname(ifindex, name))
		snprintf(name, sizeof(name), "if%u", ifindex);
	return json_string(name);
}

static const char *proto_str(__u8 p)
{
	return p == IPPROTO_ESP ? "esp" : p == IPPROTO_AH ? "ah" : p == IPPROTO_COMP ? "comp" :
	       p == 0 ? "any" : "other";
}

static const char *mode_str(__u8 m)
{
	static const char *const n[] = { "transport", "tunnel", "ro", "in_trigger", "beet" };

	return m < ARRAY_SIZE(n) ? n[m] : "?";
}

static const char *mirror_str(int m)
{
	return m == XMIRROR_ON ? "on" : m == XMIRROR_OFF ? "off" : "auto";
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int set(json_t *o, const char *k, json_t *v)
{
	return json_object_set_new(o, k, v ? v : json_null());
}

/* ---- routes: the device traffic to a peer uses ---------------------------------------- */

struct route_q {
	__u32 oif;
};

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_q *q = data;
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(struct rtmsg))
		if (mnl_attr_get_type(a) == RTA_OIF && mnl_attr_get_payload_len(a) == 4)
			q->oif = mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static __u32 route_query(struct mnl_socket *nl, int family, const void *addr);

/* Peers are few beside SAs (a rekey adds SAs, not peers): one route query per peer. */
struct route_ent {
	int family;
	xfrm_address_t addr;
	__u32 oif;
	UT_hash_handle hh;
};
static struct route_ent *routes;

static __u32 route_dev(struct mnl_socket *nl, int family, const void *addr)
{
	struct route_ent key = { .family = family }, *r;
	size_t klen = offsetof(struct route_ent, oif);

	memcpy(&key.addr, addr, family == AF_INET ? 4 : 16);
	HASH_FIND(hh, routes, &key, klen, r);
	if (r)
		return r->oif;
	r = calloc(1, sizeof(*r));
	if (!r)
		return route_query(nl, family, addr);
	*r = key;
	r->oif = route_query(nl, family, addr);
	HASH_ADD(hh, routes, family, klen, r);
	return r->oif;
}

static void routes_free(void)
{
	struct route_ent *r, *t;

	HASH_ITER(hh, routes, r, t) {
		HASH_DEL(routes, r);
		free(r);
	}
}

static __u32 route_query(struct mnl_socket *nl, int family, const void *addr)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct route_q q = { 0 };
	struct rtmsg *rt;
	ssize_t len;
	__u32 seq = time(NULL);

	if (!nl)
		return 0;
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtm_family = family;
	rt->rtm_dst_len = family == AF_INET ? 32 : 128;
	mnl_attr_put(nlh, RTA_DST, family == AF_INET ? 4 : 16, addr);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return 0;
	len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (len > 0)
		mnl_cb_run(buf, len, seq, mnl_socket_get_portid(nl), route_cb, &q);
	return q.oif;
}

static bool is_local(int family, const void *addr)
{
	struct ifaddrs *ifa, *i;
	bool found = false;

	if (getifaddrs(&ifa))
		return false;
	for (i = ifa; i && !found; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != family)
			continue;
		if (family == AF_INET)
			found = !memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr, addr, 4);
		else
			found = !memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, addr, 16);
	}
	freeifaddrs(ifa);
	return found;
}

/* ---- SAs ------------------------------------------------------------------------------- */

/* The daemon's decision, as it stored it in the SA's mirror record. */
static const char *decision_of(const struct xreport_sa *r)
{
	return r->mapped ? xmirror_decision_str(r->mir.decision) : "none";
}

static void why_text(const struct xreport_sa *r, bool loaded, char *buf, size_t len)
{
	char off[IF_NAMESIZE] = "?", tr[IF_NAMESIZE] = "?";

	if (r->x.offload_ifindex && !if_indextoname(r->x.offload_ifindex, off))
		snprintf(off, sizeof(off), "if%u", r->x.offload_ifindex);
	if (r->traffic_ifindex && !if_indextoname(r->traffic_ifindex, tr))
		snprintf(tr, sizeof(tr), "if%u", r->traffic_ifindex);
	if (r->why > XSYNC_WHY_HW_PACKET) {
		snprintf(buf, len, "%s", xsync_why_str(r->why));
		return;
	}
	if (!r->mapped) {
		if (r->conflict)
			snprintf(buf, len, "%s", xsync_why_str(XSYNC_WHY_CONFLICT));
		else if (r->unserved)
			snprintf(buf, len, "%s", xsync_why_str(XSYNC_WHY_FULL));
		else if (r->map_full)
			snprintf(buf, len, "%s", xsync_why_str(XSYNC_WHY_FULL));
		else if (!loaded)
			snprintf(buf, len, "xoff is not loaded: nothing is pinned");
		else
			snprintf(buf, len, "not in the fast-path map yet: no daemon has synced it "
				 "(xoffctl run)");
		return;
	}
	switch (r->why) {
	case XSYNC_WHY_SW:
		if (r->traffic_ifindex && r->traffic_esp_hw)
			snprintf(buf, len, "software: the kernel reports no offload although %s "
				 "offers ESP offload (not requested, or the driver refused it and "
				 "the kernel fell back)", tr);
		else if (r->traffic_ifindex)
			snprintf(buf, len, "software: no offload requested (%s has no ESP "
				 "offload)", tr);
		else
			snprintf(buf, len, "%s", xsync_why_str(r->why));
		break;
	default:
		if (r->traffic_ifindex && r->traffic_ifindex != r->x.offload_ifindex)
			snprintf(buf, len, "offloaded to %s but traffic to the peer uses %s: "
				 "that NIC never sees it", off, tr);
		else
			snprintf(buf, len, "%s offload on %s",
				 r->why == XSYNC_WHY_HW_PACKET ? "packet" : "crypto", off);
	}
}

/* What xoff did with a per-CPU SA (sync.h), in words; NULL for any other SA. */
static json_t *pcpu_reason(const struct xreport_sa *r)
{
	char buf[96];

	switch (xsync_pcpu_of(&r->x, r->mapped, &r->val)) {
	case XSYNC_PCPU_NONE:
	default:
		return json_null();
	case XSYNC_PCPU_UNMAPPED:
		return json_string("not in the fast path: not placed");
	case XSYNC_PCPU_OFFLOAD:
		return json_string("offloaded: placed as any SA");
	case XSYNC_PCPU_CPU:
		snprintf(buf, sizeof(buf), "steered to its CPU %u", r->val.cpu);
		break;
	case XSYNC_PCPU_NOT_STEERED:
		if (r->val.flags & XOFF_SA_PCPU_ELSEWHERE)
			snprintf(buf, sizeof(buf), "pcpu %u not in the steering set: CPU %u by load",
				 r->x.pcpu_num, r->val.cpu);
		else
			snprintf(buf, sizeof(buf), "on CPU %u, not its pcpu %u (placed before "
				 "the daemon knew it)", r->val.cpu, r->x.pcpu_num);
		break;
	case XSYNC_PCPU_QUEUE:
		snprintf(buf, sizeof(buf), "TX queue %u (= its pcpu)", r->val.queue);
		break;
	case XSYNC_PCPU_NO_TXQ:
		if (!(r->val.flags & XOFF_SA_PCPU_ELSEWHERE) && r->val.queue != XOFF_QUEUE_NONE)
			snprintf(buf, sizeof(buf), "TX queue %u, not its pcpu %u (placed before "
				 "the daemon knew it)", r->val.queue, r->x.pcpu_num);
		else if (r->val.queue == XOFF_QUEUE_NONE)
			return json_string("no per-CPU TX queue");
		else
			snprintf(buf, sizeof(buf), "no per-CPU TX queue: queue %u by load",
				 r->val.queue);
		break;
	}
	return json_string(buf);
}

json_t *xreport_sa_json(const struct xreport_sa *r, bool loaded)
{
	const struct xfrm_sa *x = &r->x;
	json_t *o = json_object();
	char spi[16], why[256];
	bool in = r->mapped ? r->val.dir == XOFF_DIR_IN : x->dir != XOFF_DIR_OUT;

	if (!o)
		return NULL;
	snprintf(spi, sizeof(spi), "0x%08x", ntohl(x->spi));
	why_text(r, loaded, why, sizeof(why));
	set(o, "dir", json_string(in ? "in" : "out"));
	set(o, "src", addr_json(x->family, &x->saddr));
	set(o, "dst", addr_json(x->family, &x->daddr));
	set(o, "spi", json_string(spi));
	set(o, "proto", json_string(proto_str(x->proto)));
	set(o, "encap", json_string(!x->encap_type ? "none" :
				    x->encap_type == UDP_ENCAP_ESPINUDP ? "espinudp" : "other"));
	if (x->encap_type) {
		set(o, "encap_sport", json_integer(ntohs(x->encap_sport)));
		set(o, "encap_dport", json_integer(ntohs(x->encap_dport)));
	}
	set(o, "reqid", json_integer(x->reqid));
	set(o, "mode", json_string(mode_str(x->mode)));
	if (x->has_mark)
		set(o, "mark", json_integer(x->mark.v));
	set(o, "offload_dev", dev_json(x->offload_ifindex));
	set(o, "offload_mode", json_string(!x->has_offload ? "none" :
					   x->offload_flags & XFRM_OFFLOAD_PACKET ? "packet" :
										    "crypto"));
	set(o, "traffic_dev", dev_json(r->traffic_ifindex));
	set(o, "path", json_string(r->unserved ? "pass" : !r->mapped ? "none" :
				   r->val.path == XOFF_PATH_HW ? "hw" : "sw"));
	set(o, "path_reason", json_string(why));
	set(o, "slot", r->mapped ? json_integer(r->val.slot) : json_null());
	set(o, "cpu", r->mapped && r->val.action == XOFF_ACT_CPU ? json_integer(r->val.cpu) :
								    json_null());
	set(o, "queue", r->mapped && r->val.queue != XOFF_QUEUE_NONE ?
			json_integer(r->val.queue) : json_null());
	set(o, "pcpu", x->has_pcpu ? json_integer(x->pcpu_num) : json_null());
	set(o, "pcpu_reason", pcpu_reason(r));
	set(o, "fastpath_packets", json_integer(r->fp.packets));
	set(o, "fastpath_bytes", json_integer(r->fp.bytes));
	set(o, "auth_packets", r->auth_mapped ? json_integer(r->auth.packets) : json_null());
	set(o, "auth_bytes", r->auth_mapped ? json_integer(r->auth.bytes) : json_null());
	set(o, "last_seen_ms", r->last_seen_ms < 0 ? json_null() : json_integer(r->last_seen_ms));
	set(o, "kernel_packets", json_integer(x->curlft.packets));
	set(o, "kernel_bytes", json_integer(x->curlft.bytes));
	set(o, "mirror", json_string(decision_of(r)));
	set(o, "mirror_written_packets", json_integer(r->mir.written_packets));
	set(o, "mirror_written_bytes", json_integer(r->mir.written_bytes));
	return o;
}

struct sa_list {
	struct xreport_sa *v;
	size_t n, cap;
	int err;
};

static int sa_cb(const struct nlmsghdr *nlh, void *ctx)
{
	struct sa_list *l = ctx;
	struct xfrm_msg m;
	const char *why;

	if (xfrm_parse(nlh, &m, &why) || m.ev != XFRM_EV_SA)
		return 0;	/* a message this version cannot read: not shown */
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct xreport_sa *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
	l->v[l->n++].x = m.sa;
	return 0;
}

static int dump_sas(struct sa_list *l, struct xerr *e)
{
	struct xnl *n;
	int err = xnl_open(&n, 0, quiet_log, NULL);

	if (err)
		return xerr_set(e, err, "XFRM netlink socket: %s", strerror(-err));
	err = xnl_dump(n, XFRM_MSG_GETSA, sa_cb, l);
	if (err)
		xerr_set(e, err, "dumping the kernel's SAs: %s", strerror(-err));
	xnl_close(n);
	return err;
}

static bool sa_match(const struct xreport_sa *r, const struct xreport_filter *f)
{
	if (!f)
		return true;
	if (f->has_dst && (r->x.family != f->family ||
			   memcmp(&r->x.daddr, &f->dst, xfrm_addr_len(f->family))))
		return false;
	if (f->has_spi && ntohl(r->x.spi) != f->spi)
		return false;
	if (f->ifindex && r->x.offload_ifindex != f->ifindex && r->traffic_ifindex != f->ifindex)
		return false;
	return true;
}

/* Whether @ifindex offers ESP offload, probed once per device and report. */
static bool dev_esp_hw(__u32 ifindex)
{
	static struct { __u32 ifindex; bool esp; } cache[64];
	static unsigned int n;
	char name[IF_NAMESIZE];
	struct xprobe_dev pd;
	bool esp = false;
	unsigned int i;

	for (i = 0; i < n; i++)
		if (cache[i].ifindex == ifindex)
			return cache[i].esp;
	if (if_indextoname(ifindex, name) && !xprobe_dev(name, &pd))
		esp = pd.esp_hw_offload == XPROBE_YES;
	if (n < sizeof(cache) / sizeof(cache[0])) {
		cache[n].ifindex = ifindex;
		cache[n++].esp = esp;
	}
	return esp;
}

/* Fill the map side of one SA. */
static void sa_fill(struct xview *v, struct xreport_sa *r, struct mnl_socket *rt,
		    struct xoff_sa_key *key)
{
	struct xfrm_sa *x = &r->x;
	const void *peer;
	__u64 seen;
	__u32 zero_slot;
	int mfd = xoff_map_fd(v->x, XOFF_MAP_MIRROR);

	r->why = xsync_classify(x);
	r->last_seen_ms = -1;
	if ((r->why <= XSYNC_WHY_HW_PACKET || r->why == XSYNC_WHY_ALG) &&
	    !xoff_sa_key_make(key, x->family, &x->daddr, x->spi,
			      x->encap_type ? XOFF_ENCAP_ESPINUDP : XOFF_ENCAP_ESP) &&
	    !xoff_sa_lookup(v->x, key, &r->val)) {
		r->unserved = r->val.flags & XOFF_SA_UNSERVED;
		r->mapped = !r->unserved;
	}
	if (r->mapped) {
		struct xoff_auth_key ak;
		struct xoff_auth av;

		zero_slot = r->val.slot;
		xoff_counters_read(v->x, r->val.slot, &r->fp, NULL);
		r->auth_mapped = r->val.dir == XOFF_DIR_OUT ?
			r->val.offload_mode == XOFF_OFFLOAD_PACKET :
			!xoff_auth_key_make(&ak, x->family, &x->saddr, x->spi, x->reqid) &&
			!xoff_auth_lookup(v->x, &ak, &av) && av.slot == r->val.slot;
		if (r->auth_mapped)
			xoff_counts_read(v->x, XOFF_COUNT_AUTH, r->val.slot, &r->auth, NULL);
		if (mfd >= 0)
			bpf_map_lookup_elem(mfd, &zero_slot, &r->mir);
		if (r->fp.last_seen && !xoff_last_seen_ns(v->x, r->fp.last_seen, &seen))
			r->last_seen_ms = (mono_ns() - seen) / 1000000;
	}
	if (x->dir == XFRM_DIR_UNKNOWN)
		x->dir = r->mapped ? r->val.dir :
			 is_local(x->family, &x->daddr) ? XOFF_DIR_IN : XOFF_DIR_OUT;
	peer = x->dir == XOFF_DIR_IN ? (const void *)&x->saddr : (const void *)&x->daddr;
	r->traffic_ifindex = route_dev(rt, x->family, peer);
	r->traffic_esp_hw = r->traffic_ifindex && dev_esp_hw(r->traffic_ifindex);
}

struct key_ix {
	const struct xoff_sa_key *key;
	size_t ix;
};

static int key_cmp(const void *a, const void *b)
{
	const struct key_ix *x = a, *y = b;

	return memcmp(x->key, y->key, sizeof(*x->key));
}

int xreport_sas(struct xview *v, const struct xreport_filter *f, json_t **out, struct xerr *e)
{
	struct sa_list l = { 0 };
	struct xoff_sa_key *keys = NULL;
	struct key_ix *order = NULL;
	struct mnl_socket *rt;
	size_t i;
	int err;

	*out = NULL;
	if ((err = dump_sas(&l, e)))
		goto done;
	keys = calloc(l.n ? l.n : 1, sizeof(*keys));
	if (!keys) {
		err = xerr_set(e, -ENOMEM, "out of memory");
		goto done;
	}
	rt = mnl_socket_open(NETLINK_ROUTE);
	if (rt && mnl_socket_bind(rt, 0, MNL_SOCKET_AUTOPID)) {
		mnl_socket_close(rt);
		rt = NULL;
	}
	for (i = 0; i < l.n; i++)
		sa_fill(v, &l.v[i], rt, &keys[i]);
	/* Every slot taken: an eligible SA outside the map waits for one. */
	if (v->loaded) {
		size_t mapped = 0;

		for (i = 0; i < l.n; i++)
			mapped += l.v[i].mapped;
		for (i = 0; i < l.n; i++)
			l.v[i].map_full = !l.v[i].mapped && mapped >= xoff_max_sas(v->x);
	}
	if (rt)
		mnl_socket_close(rt);
	routes_free();
	/* Two SAs under one fast-path key (different marks): neither is in the map. Sorted
	 * by key, they are neighbours. */
	order = calloc(l.n ? l.n : 1, sizeof(*order));
	if (!order) {
		err = xerr_set(e, -ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < l.n; i++)
		order[i] = (struct key_ix){ .key = &keys[i], .ix = i };
	qsort(order, l.n, sizeof(*order), key_cmp);
	for (i = 0; i + 1 < l.n; i++) {
		size_t a = order[i].ix, b = order[i + 1].ix;

		if (l.v[a].why <= XSYNC_WHY_HW_PACKET && l.v[b].why <= XSYNC_WHY_HW_PACKET &&
		    !memcmp(&keys[a], &keys[b], sizeof(keys[a])))
			l.v[a].conflict = l.v[b].conflict = 1;
	}
	*out = json_array();
	for (i = 0; *out && i < l.n; i++) {
		if (l.v[i].conflict)
			l.v[i].mapped = false;
		if (sa_match(&l.v[i], f))
			json_array_append_new(*out, xreport_sa_json(&l.v[i], v->loaded));
	}
	if (!*out)
		err = xerr_set(e, -ENOMEM, "out of memory");
done:
	if (l.v)
		explicit_bzero(l.v, l.cap * sizeof(*l.v));
	free(l.v);
	free(keys);
	free(order);
	return err;
}

/* ---- policies ---------------------------------------------------------------------------- */

struct pol_ctx {
	struct xview *v;
	json_t *arr;
};

static const char *pol_dir_str(__u8 d)
{
	return d == XFRM_POLICY_IN ? "in" : d == XFRM_POLICY_OUT ? "out" :
	       d == XFRM_POLICY_FWD ? "fwd" : "?";
}

static json_t *tmpl_json(const struct xfrm_tmpl *tp)
{
	json_t *to = json_object();
	char spi[16];

	if (!to)
		return NULL;
	snprintf(spi, sizeof(spi), "0x%08x", ntohl(tp->spi));
	set(to, "proto", json_string(proto_str(tp->proto)));
	set(to, "mode", json_string(mode_str(tp->mode)));
	set(to, "reqid", json_integer(tp->reqid));
	set(to, "src", addr_json(tp->family, &tp->saddr));
	set(to, "dst", addr_json(tp->family, &tp->daddr));
	set(to, "spi", json_string(spi));
	set(to, "optional", json_boolean(tp->optional));
	return to;
}

json_t *xreport_policy_json(const struct xfrm_pol *p)
{
	json_t *o = json_object(), *t = json_array();
	unsigned int i;

	if (!o || !t) {
		json_decref(o);
		json_decref(t);
		return NULL;
	}
	set(o, "dir", json_string(pol_dir_str(p->dir)));
	set(o, "src", prefix_json(p->sel.family, &p->sel.saddr, p->sel.prefixlen_s));
	set(o, "dst", prefix_json(p->sel.family, &p->sel.daddr, p->sel.prefixlen_d));
	set(o, "proto", p->sel.proto ? json_integer(p->sel.proto) : json_string("any"));
	if (p->sel.sport_mask)
		set(o, "sport", json_integer(ntohs(p->sel.sport)));
	if (p->sel.dport_mask)
		set(o, "dport", json_integer(ntohs(p->sel.dport)));
	set(o, "priority", json_integer(p->priority));
	set(o, "action", json_string(p->action == XFRM_POLICY_BLOCK ? "block" : "allow"));
	set(o, "index", json_integer(p->index));
	if (p->has_mark)
		set(o, "mark", json_integer(p->mark.v));
	if (p->if_id)
		set(o, "if_id", json_integer(p->if_id));
	/* The kernel acquires one SA per CPU for it (RFC 9611). */
	set(o, "cpu_acquire", json_boolean(p->flags & XOFF_XFRM_POLICY_CPU_ACQUIRE));
	set(o, "offload_dev", dev_json(p->offload_ifindex));
	set(o, "offload_mode", json_string(!p->has_offload ? "none" :
					   p->offload_flags & XFRM_OFFLOAD_PACKET ? "packet" :
										    "crypto"));
	for (i = 0; i < p->ntmpl; i++) {
		json_t *to = tmpl_json(&p->tmpl[i]);

		if (to)
			json_array_append_new(t, to);
	}
	set(o, "templates", t);
	return o;
}

static int pol_cb(const struct nlmsghdr *nlh, void *ctx)
{
	struct pol_ctx *c = ctx;
	const struct xfrm_pol *p;
	struct xoff_policy_key k;
	struct xoff_policy val;
	struct xfrm_msg m;
	const char *why;
	json_t *o;
	int fd;

	if (xfrm_parse(nlh, &m, &why) || m.ev != XFRM_EV_POL)
		return 0;
	p = &m.pol;
	if (!(o = xreport_policy_json(p)))
		return -ENOMEM;
	/* The egress selector xoff holds for this destination, if any. */
	fd = xoff_map_fd(c->v->x, XOFF_MAP_POLICIES);
	if (!xoff_policy_key_make(&k, p->sel.family, &p->sel.daddr, p->sel.prefixlen_d) &&
	    fd >= 0 && !bpf_map_lookup_elem(fd, &k, &val))
		set(o, "xoff_selector_slot", json_integer(val.slot));
	else
		set(o, "xoff_selector_slot", json_null());
	json_array_append_new(c->arr, o);
	return 0;
}

int xreport_policies(struct xview *v, json_t **out, struct xerr *e)
{
	struct pol_ctx c = { .v = v, .arr = json_array() };
	struct xnl *n;
	int err;

	*out = NULL;
	if (!c.arr)
		return xerr_set(e, -ENOMEM, "out of memory");
	err = xnl_open(&n, 0, quiet_log, NULL);
	if (err) {
		json_decref(c.arr);
		return xerr_set(e, err, "XFRM netlink socket: %s", strerror(-err));
	}
	err = xnl_dump(n, XFRM_MSG_GETPOLICY, pol_cb, &c);
	xnl_close(n);
	if (err) {
		json_decref(c.arr);
		return xerr_set(e, err, "dumping the kernel's policies: %s", strerror(-err));
	}
	*out = c.arr;
	return 0;
}

/* ---- status ------------------------------------------------------------------------------ */

static __u64 map_count(int fd, size_t key_size)
{
	unsigned char key[64], next[64];
	void *prev = NULL;
	__u64 n = 0;

	if (fd < 0 || key_size > sizeof(key))
		return 0;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		n++;
		memcpy(key, next, key_size);
		prev = key;
	}
	return n;
}

static json_t *fill_json(struct xoff *x, const char *name, size_t key_size)
{
	int fd = xoff_map_fd(x, name);
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	json_t *o = json_object();

	if (fd >= 0)
		bpf_obj_get_info_by_fd(fd, &info, &len);
	set(o, "entries", json_integer(map_count(fd, key_size)));
	set(o, "max", json_integer(info.max_entries));
	return o;
}

static json_t *fill_none(void)
{
	return json_pack("{s:i,s:i}", "entries", 0, "max", 0);
}

static json_t *age_json(__u64 then_ns)
{
	__u64 now = mono_ns();

	if (!then_ns || then_ns > now)
		return json_null();
	return json_real((double)(now - then_ns) / 1e9);
}

/*
 * What became of an attached interface:
 *   ok        present and up, xoff's programs attached
 *   down      present, xoff's programs attached, the device down (it passes nothing)
 *   degraded  present, but xoff's XDP program or a TC filter (egress, or ingress, which
 *             feeds the authenticated counts) is no longer attached (removed by someone,
 *             or the qdisc went with a move out of the namespace and back)
 *   gone      not in this namespace: deleted, or moved to another namespace (a single
 *             XDP program goes along; xdp_prog_exists tells)
 */
static const char *iface_state(const struct xoff_iface *rec, int up, __u32 xdp_now, bool tc_ok,
			       bool tci_ok)
{
	if (up < 0)
		return "gone";
	if (xdp_now != rec->xdp_prog_id || (rec->tc_prog_id && !tc_ok) ||
	    (rec->flags & XOFF_IF_TC_INGRESS && !tci_ok))
		return "degraded";
	return up ? "ok" : "down";
}

static json_t *iface_json(struct xview *v, const struct xoff_iface *rec)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = rec->ifindex,
			    .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, q, .handle = rec->tc_handle, .priority = rec->tc_prio);
	struct xoff_ifconfig cfg = { 0 };
	char name[IF_NAMESIZE], dir[256];
	bool present = if_indextoname(rec->ifindex, name) != NULL;
	__u32 xdp_now = 0, tci_now;
	json_t *o = json_object();
	__u32 zero = 0;
	int fd, up;

	libbpf_print_fn_t old = libbpf_set_print(NULL);	/* a vanished qdisc is an answer */
	bool tc_ok;

	tc_ok = present && rec->tc_prog_id && !bpf_tc_query(&hook, &q) &&
		q.prog_id == rec->tc_prog_id;
	libbpf_set_print(old);
	tci_now = present ? xattach_tci_id(rec) : 0;
	xattach_xdp_id(rec->ifindex, &xdp_now);
	set(o, "dev", json_string(present ? name : rec->name));
	set(o, "ifindex", json_integer(rec->ifindex));
	set(o, "present", json_boolean(present));
	set(o, "attached_as", json_string(rec->name));
	up = present ? xprobe_dev_up(rec->ifindex) : -ENODEV;
	set(o, "up", up >= 0 ? json_boolean(up) : json_null());
	set(o, "state", json_string(iface_state(rec, up, xdp_now, tc_ok, tci_now != 0)));
	set(o, "xdp_prog_exists", json_boolean(xattach_prog_exists(rec->xdp_prog_id)));
	set(o, "xdp_mode", json_string(rec->xdp_mode == XOFF_XDP_SKB ? "skb" : "native"));
	set(o, "xdp_prog_id", json_integer(rec->xdp_prog_id));
	set(o, "xdp_attached", json_boolean(present && xdp_now == rec->xdp_prog_id));
	set(o, "dispatcher", json_boolean(rec->flags & XOFF_IF_DISPATCHER));
	set(o, "tc_prog_id", rec->tc_prog_id ? json_integer(rec->tc_prog_id) : json_null());
	set(o, "tc_attached", json_boolean(tc_ok));
	set(o, "tc_ingress_prog_id", tci_now ? json_integer(tci_now) : json_null());
	set(o, "tc_ingress_attached", json_boolean(tci_now != 0));
	set(o, "qdisc_created", json_boolean(rec->flags & XOFF_IF_QDISC));
	xpin_dev_dir(dir, sizeof(dir), v->pin.dir, rec->ifindex);
	fd = xpin_map(dir, XOFF_MAP_CFG);
	if (fd >= 0) {
		bpf_map_lookup_elem(fd, &zero, &cfg);
		close(fd);
	}
	set(o, "steer", json_boolean(cfg.steer));
	set(o, "unknown_spi", json_string(cfg.unknown_spi == XOFF_UNKNOWN_DROP ? "drop" : "pass"));
	set(o, "tc_policies", json_boolean(cfg.policies));
	set(o, "mirror", json_string(mirror_str(rec->mirror)));
	set(o, "attach_time", json_integer(rec->attach_time));
	return o;
}

int xreport_status(struct xview *v, json_t **out, struct xerr *e)
{
	json_t *st = json_object(), *d = json_object(), *maps = json_object(), *ifs = json_array();
	json_t *cpus = json_array();
	__u16 c[1024];
	int i, n;

	if (!st || !d || !maps || !ifs || !cpus) {
		json_decref(st), json_decref(d), json_decref(maps), json_decref(ifs);
		json_decref(cpus);
		return xerr_set(e, -ENOMEM, "out of memory");
	}
	set(st, "pin_dir", json_string(v->pin.dir));
	set(st, "loaded", json_boolean(v->loaded));
	set(d, "running", json_boolean(v->daemon_alive));
	set(d, "pid", v->daemon_alive ? json_integer(v->daemon.pid) : json_null());
	set(d, "last_sync_age_s", v->daemon_alive ? age_json(v->daemon.last_sync_ns) : json_null());
	set(d, "last_mirror_age_s",
	    v->daemon_alive ? age_json(v->daemon.last_mirror_ns) : json_null());
	set(d, "sas", json_integer(v->daemon.sas));
	set(d, "sas_mapped", json_integer(v->daemon.sas_mapped));
	set(d, "resyncs", json_integer(v->daemon.resyncs));
	set(d, "mirror_writes", json_integer(v->daemon.mirror_writes));
	set(d, "mirror_errors", json_integer(v->daemon.mirror_errors));
	set(d, "expires_soft", json_integer(v->daemon.expires_soft));
	set(d, "expires_hard", json_integer(v->daemon.expires_hard));
	set(st, "daemon", d);
	set(maps, "sas", v->loaded ? fill_json(v->x, XOFF_MAP_SAS, sizeof(struct xoff_sa_key)) :
				     fill_none());
	set(maps, "selectors", v->loaded ? fill_json(v->x, XOFF_MAP_POLICIES,
						     sizeof(struct xoff_policy_key)) :
					   fill_none());
	n = v->loaded ? xoff_cpus_enabled(v->x, c, 1024) : 0;
	for (i = 0; i < n; i++)
		json_array_append_new(cpus, json_integer(c[i]));
	set(maps, "steering_cpus", cpus);
	set(st, "maps", maps);
	for (i = 0; i < v->nifs; i++)
		json_array_append_new(ifs, iface_json(v, &v->ifs[i]));
	set(st, "interfaces", ifs);
	*out = st;
	return 0;
}

/* ---- stats ------------------------------------------------------------------------------- */

static json_t *reasons_json(const char *dir, const char *map, int ncpu)
{
	json_t *o = json_object();
	__u64 *v = calloc(ncpu, sizeof(*v));
	int fd = xpin_map(dir, map), c;
	__u32 r;

	for (r = 0; o && v && fd >= 0 && r < XOFF_R_MAX; r++) {
		json_t *ro = json_object(), *pc = json_array();
		__u64 total = 0;

		if (bpf_map_lookup_elem(fd, &r, v))
			memset(v, 0, ncpu * sizeof(*v));
		for (c = 0; c < ncpu; c++) {
			total += v[c];
			json_array_append_new(pc, json_integer(v[c]));
		}
		set(ro, "total", json_integer(total));
		set(ro, "per_cpu", pc);
		set(o, xoff_reason_name(r), ro);
	}
	if (fd >= 0)
		close(fd);
	free(v);
	return o;
}

static json_t *xfrm_stat_json(void)
{
	FILE *f = fopen("/proc/net/xfrm_stat", "r");
	json_t *o = json_object();
	char name[64];
	unsigned long long n;

	if (!f)
		return o;
	while (fscanf(f, "%63s %llu", name, &n) == 2)
		set(o, name, json_integer(n));
	fclose(f);
	return o;
}

int xreport_stats(struct xview *v, json_t **out, struct xerr *e)
{
	json_t *st = json_object(), *ifs = json_array();
	int i, ncpu = xoff_nr_cpus();

	if (!st || !ifs) {
		json_decref(st), json_decref(ifs);
		return xerr_set(e, -ENOMEM, "out of memory");
	}
	for (i = 0; i < v->nifs; i++) {
		json_t *o = json_object();
		char dir[256], name[IF_NAMESIZE];

		xpin_dev_dir(dir, sizeof(dir), v->pin.dir, v->ifs[i].ifindex);
		set(o, "dev", json_string(if_indextoname(v->ifs[i].ifindex, name) ? name :
								       v->ifs[i].name));
		set(o, "ifindex", json_integer(v->ifs[i].ifindex));
		set(o, "xdp", reasons_json(dir, XOFF_MAP_XDP_REASONS, ncpu));
		set(o, "tc", reasons_json(dir, XOFF_MAP_TC_REASONS, ncpu));
		set(o, "tc_ingress", reasons_json(dir, XOFF_MAP_TCI_REASONS, ncpu));
		json_array_append_new(ifs, o);
	}
	set(st, "interfaces", ifs);
	set(st, "xfrm_stat", xfrm_stat_json());
	*out = st;
	return 0;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* attach and detach: XDP through libxdp, TC egress through clsact, the interface record,
 * and the maps synced before the first packet meets them. Every step is undone when a
 * later one fails, so a failed attach leaves the system as it found it. */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "attach.h"
#include "daemon.h"
#include "nl.h"

#define XOFF_XDP_NAME	"xoff_xdp"
#define XOFF_TCI_NAME	"xoff_tci"

pid_t xattach_daemon_pid(const char *pin_dir)
{
	struct xoff_daemon d = { 0 };
	char dir[200];
	__u32 zero = 0;
	int fd;

	if (!pin_dir && xpin_default_dir(dir, sizeof(dir)))
		return 0;
	fd = xpin_map(pin_dir ? pin_dir : dir, XOFF_MAP_DAEMON);
	if (fd < 0)
		return 0;
	if (bpf_map_lookup_elem(fd, &zero, &d))
		d.pid = 0;
	close(fd);
	if (d.pid && xoffd_running() != 1)
		d.pid = 0;	/* a heartbeat left by a daemon that was killed */
	return d.pid;
}

static int libxdp_quiet(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	(void)level, (void)fmt, (void)ap;
	return 0;
}

/* libbpf's warnings while libxdp works: its dispatcher probe fails by design on kernels
 * without freplace and warns about it. Kept, and shown only when the attach fails. */
static char bpf_log[2048];
static size_t bpf_log_len;

static int capture(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	int n;

	if (level != LIBBPF_WARN || bpf_log_len >= sizeof(bpf_log) - 1)
		return 0;
	n = vsnprintf(bpf_log + bpf_log_len, sizeof(bpf_log) - bpf_log_len, fmt, ap);
	if (n > 0)
		bpf_log_len += (size_t)n < sizeof(bpf_log) - bpf_log_len ? (size_t)n :
			       sizeof(bpf_log) - bpf_log_len - 1;
	return 0;
}

/* What runs at the XDP hook of @ifindex now. */
struct xdp_seen {
	bool	any;
	bool	legacy;
	int	mode;		/* enum xdp_attach_mode */
	__u32	main_id;
	char	main_name[BPF_OBJ_NAME_LEN];
	__u32	xoff_id;	/* xoff's program, alone or in the dispatcher */
};

static int xdp_look(int ifindex, struct xdp_seen *s)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p;
	long err = libxdp_get_error(mp);

	memset(s, 0, sizeof(*s));
	if (err == -ENOENT || (!err && !mp))
		return 0;
	if (err)
		return err;
	s->any = true;
	s->legacy = xdp_multiprog__is_legacy(mp);
	s->mode = xdp_multiprog__attach_mode(mp);
	p = xdp_multiprog__main_prog(mp);
	if (p) {
		s->main_id = xdp_program__id(p);
		snprintf(s->main_name, sizeof(s->main_name), "%s", xdp_program__name(p));
		if (s->legacy && !strcmp(s->main_name, XOFF_XDP_NAME))
			s->xoff_id = s->main_id;
	}
	for (p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp))
		if (!strcmp(xdp_program__name(p), XOFF_XDP_NAME))
			s->xoff_id = xdp_program__id(p);
	xdp_multiprog__close(mp);
	return 0;
}

int xattach_xdp_id(int ifindex, __u32 *id)
{
	struct xdp_seen s;
	int err;

	libxdp_set_print(libxdp_quiet);
	err = xdp_look(ifindex, &s);
	*id = err ? 0 : s.xoff_id;
	return err;
}

/* Take xoff's program (@id) off @ifindex; other programs in a dispatcher stay. */
static int xdp_remove(int ifindex, __u32 id)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p, *mine = NULL;
	int err;

	if (libxdp_get_error(mp) || !mp)
		return -ENOENT;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		if (p && xdp_program__id(p) == id)
			mine = p;
	} else {
		for (p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp))
			if (xdp_program__id(p) == id)
				mine = p;
	}
	err = mine ? xdp_program__detach(mine, ifindex, xdp_multiprog__attach_mode(mp), 0) :
		     -ENOENT;
	xdp_multiprog__close(mp);
	return err;
}

/* Filters left under clsact on @ifindex (ingress and egress), from an RTM_GETTFILTER dump. */
static int count_cb(const struct nlmsghdr *nlh, void *data)
{
	if (nlh->nlmsg_type == RTM_NEWTFILTER)
		(*(int *)data)++;
	return MNL_CB_OK;
}

static int tc_filters(int ifindex)
{
	static const __u32 parents[] = { TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS),
					 TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS) };
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	int n = 0, err = 0;
	size_t i;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID)) {
		err = -errno;
		goto out;
	}
	for (i = 0; i < 2 && !err; i++) {
		struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
		struct tcmsg *t;
		__u32 seq = time(NULL) + i;
		ssize_t len;

		nlh->nlmsg_type = RTM_GETTFILTER;
		nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		nlh->nlmsg_seq = seq;
		t = mnl_nlmsg_put_extra_header(nlh, sizeof(*t));
		t->tcm_family = AF_UNSPEC;
		t->tcm_ifindex = ifindex;
		t->tcm_parent = parents[i];
		if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
			err = -errno;
			break;
		}
		while ((len = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
			int r = mnl_cb_run(buf, len, seq, mnl_socket_get_portid(nl), count_cb, &n);

			if (r == MNL_CB_STOP)
				break;
			if (r < 0) {
				err = -errno;
				break;
			}
		}
		if (len < 0)
			err = -errno;
	}
out:
	mnl_socket_close(nl);
	return err ? err : n;
}

/* The kind of the qdisc at ffff: on @ifindex ("clsact", "ingress"), "" if none. */
struct kind_q {
	int ifindex;
	char kind[16];
};

static int kind_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct tcmsg *t = mnl_nlmsg_get_payload(nlh);
	struct kind_q *q = data;
	const struct nlattr *a;

	if (nlh->nlmsg_type != RTM_NEWQDISC || t->tcm_ifindex != q->ifindex ||
	    t->tcm_parent != TC_H_INGRESS)
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*t))
		if (mnl_attr_get_type(a) == TCA_KIND && !mnl_attr_validate(a, MNL_TYPE_NUL_STRING))
			snprintf(q->kind, sizeof(q->kind), "%s", mnl_attr_get_str(a));
	return MNL_CB_OK;
}

static int ingress_kind(int ifindex, char *kind, size_t len)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	struct kind_q q = { .ifindex = ifindex };
	struct nlmsghdr *nlh;
	struct tcmsg *t;
	__u32 seq = time(NULL);
	ssize_t n;
	int err = 0;

	if (!nl)
		return -errno;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETQDISC;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	t = mnl_nlmsg_put_extra_header(nlh, sizeof(*t));
	t->tcm_family = AF_UNSPEC;
	t->tcm_ifindex = ifindex;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) ||
	    mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		err = -errno;
		goto out;
	}
	while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
		int r = mnl_cb_run(buf, n, seq, mnl_socket_get_portid(nl), kind_cb, &q);

		if (r <= MNL_CB_STOP)
			break;
	}
	snprintf(kind, len, "%s", q.kind);
out:
	mnl_socket_close(nl);
	return err;
}

/* xoff's TC ingress program at @rec's handle and priority, by its name (the record keeps
 * only the egress program's id): its id, or 0 when none is there. */
__u32 xattach_tci_id(const struct xoff_iface *rec)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = rec->ifindex,
			    .attach_point = BPF_TC_INGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, q, .handle = rec->tc_handle, .priority = rec->tc_prio);
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	libbpf_print_fn_t old = libbpf_set_print(NULL);	/* a vanished qdisc is an answer */
	int fd, err = bpf_tc_query(&hook, &q);

	libbpf_set_print(old);
	if (err || !(rec->flags & XOFF_IF_TC_INGRESS))
		return 0;
	if ((fd = bpf_prog_get_fd_by_id(q.prog_id)) < 0)
		return 0;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	return !err && !strcmp(info.name, XOFF_TCI_NAME) ? q.prog_id : 0;
}

/* One of xoff's TC filters, if it is still the one xoff attached. */
static int tc_remove_one(const struct xoff_iface *rec, enum bpf_tc_attach_point at,
			 __u32 prog_id, bool *gone)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = rec->ifindex, .attach_point = at);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, q, .handle = rec->tc_handle, .priority = rec->tc_prio);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, d, .handle = rec->tc_handle, .priority = rec->tc_prio);
	libbpf_print_fn_t old = libbpf_set_print(NULL);
	int err = bpf_tc_query(&hook, &q);

	libbpf_set_print(old);
	if (err || !prog_id || q.prog_id != prog_id) {
		*gone = true;	/* someone else removed or replaced it */
		return 0;
	}
	return bpf_tc_detach(&hook, &d);
}

static int tc_remove(const struct xoff_iface *rec, bool *gone, bool *qdisc_removed)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = rec->ifindex,
			    .attach_point = BPF_TC_EGRESS);
	bool ingress_gone = false;
	int err = 0;

	*gone = false;
	*qdisc_removed = false;
	if (rec->tc_prog_id)
		err = tc_remove_one(rec, BPF_TC_EGRESS, rec->tc_prog_id, gone);
	if (!err && rec->flags & XOFF_IF_TC_INGRESS) {
		err = tc_remove_one(rec, BPF_TC_INGRESS, xattach_tci_id(rec), &ingress_gone);
		*gone |= ingress_gone;
	}
	if (!err && (rec->flags & XOFF_IF_QDISC) && tc_filters(rec->ifindex) == 0) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		if (!bpf_tc_hook_destroy(&hook))
			*qdisc_removed = true;
	}
	return err;
}

/* The steering CPUs: the list given, or every possible CPU when none is enabled yet. */
static int cpus_apply(struct xoff *x, const struct xattach_opts *o, bool *before, bool *changed)
{
	int fd = xoff_map_fd(x, XOFF_MAP_CPUS), n = xoff_nr_cpus(), any = 0, c, err = 0;
	struct bpf_cpumap_val v;
	unsigned int i;

	*changed = false;
	for (c = 0; c < n; c++)
		any |= before[c] = !bpf_map_lookup_elem(fd, &c, &v);
	if (!o->cpus && any)
		return 0;
	*changed = true;
	for (c = 0; c < n && !err; c++) {
		bool want = !o->cpus;

		for (i = 0; o->cpus && i < o->ncpus; i++)
			want |= o->cpus[i] == c;
		if (want && !before[c])
			err = xoff_cpu_enable(x, c, 0);
		else if (!want && before[c])
			err = xoff_cpu_disable(x, c);
	}
	return err;
}

static void cpus_restore(struct xoff *x, const bool *before)
{
	int c, n = xoff_nr_cpus();

	for (c = 0; c < n; c++)
		before[c] ? xoff_cpu_enable(x, c, 0) : xoff_cpu_disable(x, c);
}

static void sync_log(void *ctx, int level, const char *msg)
{
	(void)ctx;
	if (level <= XSYNC_WARN)
		fprintf(stderr, "xoffctl: sync: %s\n", msg);
}

/* The maps equal to the kernel's SAD and SPD, as the daemon would make them by default
 * (RX CPUs those of the attached devices and @dev); the daemon adopts the result (slots,
 * CPUs) when it starts. */
static int sync_maps(struct xoff *x, const char *pin_dir, const char *dev, unsigned int *sas,
		     struct xerr *e)
{
	struct xsync_cfg cfg = { .log = sync_log, .rx_weight = XSYNC_RX_WEIGHT };
	__u16 cpus[XOFFD_MAX_CPUS], rx[XOFFD_MAX_CPUS];
	struct xsync_stats st;
	struct xsync *s = NULL;
	struct xnl *n = NULL;
	char from[256];
	int err, nrx;

	nrx = xoffd_rx_cpus(pin_dir, dev, rx, sizeof(rx) / sizeof(rx[0]), from, sizeof(from));
	cfg.rx_cpus = rx;
	cfg.nrx_cpus = nrx > 0 ? nrx : 0;

	err = xnl_open(&n, 0, sync_log, NULL);
	if (err)
		return xerr_set(e, err, "XFRM netlink socket: %s", strerror(-err));
	err = xoffd_sync_new(&s, x, &cfg, false, cpus, sizeof(cpus) / sizeof(cpus[0]));
	if (err) {
		xnl_close(n);
		return xerr_set(e, err, "reading the pinned maps: %s", strerror(-err));
	}
	err = xoffd_resync(s, n);
	if (err)
		xerr_set(e, err, "syncing the maps with the kernel's XFRM state: %s",
			 strerror(-err));
	xsync_get_stats(s, &st);
	*sas = st.sas_mapped;
	xsync_free(s);
	xnl_close(n);
	return err;
}

static bool maps_pinned(const char *dir)
{
	char path[256];
	struct stat st;

	return !xpin_path(path, sizeof(path), dir, XOFF_MAP_SAS) && !stat(path, &st);
}

/* One attach in progress: what it has done so far, so that a failure undoes exactly that. */
struct attach {
	const struct xattach_opts *o;
	struct xattach_result	*r;
	struct xerr		*e;
	struct xpin		pin;
	int			ifindex;
	struct xdp_seen		seen;
	struct xoff		*sx;		/* the shared maps */
	struct xoff		*x;		/* this interface's instance */
	struct xdp_program	*prog;
	enum xdp_attach_mode	mode;
	bool			*cpus_before;
	bool			created_maps, cpus_changed, xdp_done, dev_pinned;
	bool			tc_egress_done, tc_ingress_done, qdisc_made;
};

/* Refusals first: nothing is changed until every one has passed. */
static int attach_check(struct attach *a)
{
	const struct xattach_opts *o = a->o;
	int ifs_fd = xpin_map(a->pin.dir, XOFF_MAP_IFACES), err;

	if (ifs_fd >= 0) {
		__u32 k = a->ifindex;
		bool found = !bpf_map_lookup_elem(ifs_fd, &k, &a->r->rec);

		close(ifs_fd);
		if (found)
			return xerr_set(a->e, -EEXIST, "%s: already attached (xdp program id %u); "
					"detach it first", o->dev, a->r->rec.xdp_prog_id);
	}
	libxdp_set_print(libxdp_quiet);
	if ((err = xdp_look(a->ifindex, &a->seen)))
		return xerr_set(a->e, err, "%s: reading its XDP programs: %s", o->dev,
				strerror(-err));
	if (a->seen.xoff_id)
		return xerr_set(a->e, -EEXIST, "%s: already runs xoff's XDP program (id %u) that "
				"%s does not record; detach it with xdp-loader or ip link",
				o->dev, a->seen.xoff_id, a->pin.dir);
	if (a->seen.any && a->seen.legacy)
		return xerr_set(a->e, -EBUSY, "%s: XDP program '%s' (id %u) is attached without "
				"libxdp's dispatcher; xoff will not replace it", o->dev,
				a->seen.main_name, a->seen.main_id);
	if (a->seen.any && o->xdp_mode != XATTACH_XDP_AUTO &&
	    a->seen.mode != (o->xdp_mode == XATTACH_XDP_NATIVE ? XDP_MODE_NATIVE : XDP_MODE_SKB))
		return xerr_set(a->e, -EBUSY, "%s: its XDP dispatcher runs in %s mode, not the "
				"mode asked for", o->dev,
				a->seen.mode == XDP_MODE_SKB ? "skb" : "native");
	/* Maps of an older layout are converted here, but not under an older daemon that
	 * still writes them (and would never invalidate the new programs' SA caches). */
	if (xoff_pins_outdated(a->pin.dir) == 1 &&
	    (a->r->daemon = xattach_daemon_pid(a->pin.dir)))
		return xerr_set(a->e, -EBUSY, "the running daemon (pid %d) is from an older xoff: "
				"restart it first (it converts the pinned maps)", a->r->daemon);
	return 0;
}

/* The shared maps, created and pinned if needed, and synced before any packet meets
 * them: with unknown-spi drop an empty map would drop every SA's ESP. */
static int attach_maps(struct attach *a)
{
	struct xoff_opts xo = { .pin_dir = a->pin.dir, .upgrade = true, .maps_only = true };
	int err;

	if ((err = xoff_open(&a->sx, &xo) ?: xoff_load(a->sx)))
		return xerr_set(a->e, err, "loading xoff: %s", xoff_strerror(err));
	if ((err = xpin_claim(&a->pin, a->sx, a->e)))
		return err;
	if (!(a->cpus_before = calloc(xoff_nr_cpus(), sizeof(*a->cpus_before))))
		return xerr_set(a->e, -ENOMEM, "out of memory");
	if ((err = cpus_apply(a->sx, a->o, a->cpus_before, &a->cpus_changed)))
		return xerr_set(a->e, err, "steering CPUs: %s", strerror(-err));
	a->r->daemon = xattach_daemon_pid(a->pin.dir);
	if (a->r->daemon)
		return 0;	/* it syncs at the SIGHUP the record's end sends */
	if ((err = sync_maps(a->sx, a->pin.dir, a->o->dev, &a->r->sas, a->e)))
		return err;
	a->r->synced = true;
	return 0;
}

/* This interface's instance (its own config and reason counters), at the XDP hook through
 * libxdp: its dispatcher where the kernel allows, else a single program. */
static int attach_xdp(struct attach *a)
{
	struct xoff_opts xo = { .pin_dir = a->pin.dir, .upgrade = true };
	const struct xattach_opts *o = a->o;
	struct xoff_ifconfig cfg = { .ifindex = a->ifindex, .unknown_spi = o->unknown_spi,
				     .steer = !o->no_steer, .policies = !o->no_tc };
	libbpf_print_fn_t old_print;
	int err;

	if ((err = xoff_open(&a->x, &xo)))
		return xerr_set(a->e, err, "opening xoff: %s", xoff_strerror(err));
	xoff_config_set(a->x, &cfg);
	if (o->no_tc) {
		bpf_program__set_autoload(xoff_tc_prog(a->x), false);
		bpf_program__set_autoload(xoff_tci_prog(a->x), false);
	}
	a->prog = xdp_program__from_bpf_obj(xoff_object(a->x), "xdp");
	if ((err = libxdp_get_error(a->prog))) {
		a->prog = NULL;
		return xerr_set(a->e, err, "libxdp: %s", strerror(-err));
	}
	a->mode = o->xdp_mode == XATTACH_XDP_SKB ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	if (a->seen.any && o->xdp_mode == XATTACH_XDP_AUTO)
		a->mode = a->seen.mode;
	bpf_log_len = 0;
	bpf_log[0] = '\0';
	old_print = libbpf_set_print(capture);
	err = xdp_program__attach(a->prog, a->ifindex, a->mode, 0);
	if (err && o->xdp_mode == XATTACH_XDP_AUTO && a->mode == XDP_MODE_NATIVE &&
	    !a->seen.any) {
		a->mode = XDP_MODE_SKB;
		err = xdp_program__attach(a->prog, a->ifindex, a->mode, 0);
	}
	libbpf_set_print(old_print);
	if (err && a->mode == XDP_MODE_NATIVE && (err == -EOPNOTSUPP || err == -EINVAL))
		return xerr_set(a->e, err, "%s: the driver has no native XDP (use xdp-mode skb "
				"or auto)", o->dev);
	if (err) {
		fputs(bpf_log, stderr);	/* the verifier's or the kernel's words */
		return xerr_set(a->e, err, "%s: attaching XDP: %s", o->dev, strerror(-err));
	}
	a->xdp_done = true;
	a->r->rec.xdp_prog_id = xdp_program__id(a->prog);
	err = xdp_look(a->ifindex, &a->seen);
	if (!err && a->seen.xoff_id != a->r->rec.xdp_prog_id)
		err = -ENOENT;
	if (err)
		return xerr_set(a->e, err, "%s: XDP attached but not found on the device", o->dev);
	a->r->single = a->seen.legacy;
	return 0;
}

/* The clsact qdisc, created only if absent; an "ingress" qdisc answers at ffff: too and
 * would take the egress filter onto ingress: only clsact has both hooks. */
static int attach_qdisc(struct attach *a)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex,
			    .attach_point = BPF_TC_EGRESS);
	libbpf_print_fn_t old_print = libbpf_set_print(NULL); /* "Exclusivity flag on" is expected */
	char kind[16] = "";
	int err = bpf_tc_hook_create(&hook);

	libbpf_set_print(old_print);
	if (!err) {
		a->qdisc_made = true;
		a->r->rec.flags |= XOFF_IF_QDISC;
		return 0;
	}
	if (err != -EEXIST)
		return xerr_set(a->e, err, "%s: creating the clsact qdisc: %s", a->o->dev,
				strerror(-err));
	if (ingress_kind(a->ifindex, kind, sizeof(kind)) || strcmp(kind, "clsact"))
		return xerr_set(a->e, -EBUSY, "%s: has an '%s' qdisc, not clsact: TC needs "
				"clsact (replace it, or attach with no-tc)", a->o->dev,
				kind[0] ? kind : "unknown");
	return 0;
}

/* TC egress (counts, TX queues, packet-offload selectors) and TC ingress (authenticated
 * counts), the second at the first's handle and priority. */
static int attach_tc(struct attach *a)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex,
			    .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, tco);
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	int err;

	if ((err = attach_qdisc(a)))
		return err;
	tco.prog_fd = bpf_program__fd(xoff_tc_prog(a->x));
	if ((err = bpf_tc_attach(&hook, &tco)))
		return xerr_set(a->e, err, "%s: attaching TC egress: %s", a->o->dev,
				strerror(-err));
	a->tc_egress_done = true;
	bpf_obj_get_info_by_fd(tco.prog_fd, &info, &len);
	a->r->rec.tc_prog_id = info.id;
	a->r->rec.tc_handle = tco.handle;
	a->r->rec.tc_prio = tco.priority;

	hook.attach_point = BPF_TC_INGRESS;
	tco.prog_fd = bpf_program__fd(xoff_tci_prog(a->x));
	tco.prog_id = 0;
	tco.flags = 0;
	if ((err = bpf_tc_attach(&hook, &tco)))
		return xerr_set(a->e, err, "%s: attaching TC ingress (handle %u, priority %u, as "
				"on egress): %s", a->o->dev, a->r->rec.tc_handle,
				a->r->rec.tc_prio, strerror(-err));
	a->tc_ingress_done = true;
	a->r->rec.flags |= XOFF_IF_TC_INGRESS;
	return 0;
}

/* The interface's own maps pinned, and its record: from here on detach finds it. */
static int attach_record(struct attach *a)
{
	const struct xattach_opts *o = a->o;
	struct xoff_iface *rec = &a->r->rec;
	char devdir[256];
	int err;

	if ((err = xpin_dev_dir(devdir, sizeof(devdir), a->pin.dir, a->ifindex)))
		return xerr_set(a->e, err, "pin directory name too long");
	xpin_remove_dev(a->pin.dir, a->ifindex);	/* leftovers of a device that went away */
	if (mkdir(devdir, 0700) || (err = xoff_pin_instance(a->x, devdir))) {
		err = err ?: -errno;
		return xerr_set(a->e, err, "pinning %s: %s", devdir, strerror(-err));
	}
	a->dev_pinned = true;
	rec->ifindex = a->ifindex;
	rec->xdp_mode = a->mode == XDP_MODE_SKB ? XOFF_XDP_SKB : XOFF_XDP_NATIVE;
	rec->flags |= a->seen.legacy ? 0 : XOFF_IF_DISPATCHER;
	rec->mirror = o->mirror < 0 ? XMIRROR_AUTO : o->mirror;
	rec->flags |= o->mirror < 0 ? 0 : XOFF_IF_MIRROR_SET;
	rec->attach_time = time(NULL);
	snprintf(rec->name, sizeof(rec->name), "%s", o->dev);
	if (bpf_map_update_elem(xoff_map_fd(a->sx, XOFF_MAP_IFACES), &rec->ifindex, rec,
				BPF_NOEXIST)) {
		err = -errno;
		return xerr_set(a->e, err, "recording %s: %s", o->dev, strerror(-err));
	}
	if (a->r->daemon)
		kill(a->r->daemon, SIGHUP);	/* it re-reads interfaces and CPUs */
	return 0;
}

/* Everything done so far, undone in reverse. */
static void attach_undo(struct attach *a)
{
	if (a->dev_pinned)
		xpin_remove_dev(a->pin.dir, a->ifindex);
	if (a->tc_egress_done || a->tc_ingress_done) {
		struct xoff_iface rec = a->r->rec;
		bool gone, q;

		rec.ifindex = a->ifindex;
		rec.flags = (a->qdisc_made ? XOFF_IF_QDISC : 0) |
			    (a->tc_ingress_done ? XOFF_IF_TC_INGRESS : 0);
		tc_remove(&rec, &gone, &q);
	} else if (a->qdisc_made) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex,
				    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);

		bpf_tc_hook_destroy(&hook);
	}
	if (a->xdp_done)
		xdp_remove(a->ifindex, a->r->rec.xdp_prog_id);
	if (a->cpus_changed)
		cpus_restore(a->sx, a->cpus_before);
	memset(&a->r->rec, 0, sizeof(a->r->rec));
}

int xattach(const struct xattach_opts *o, struct xattach_result *r, struct xerr *e)
{
	struct attach a = { .o = o, .r = r, .e = e };
	int err;

	memset(r, 0, sizeof(*r));
	if (!(a.ifindex = if_nametoindex(o->dev)))
		return xerr_set(e, -ENODEV, "%s: no such device", o->dev);
	if (o->mirror > XMIRROR_OFF)
		return xerr_set(e, -EINVAL, "mirror: bad mode %d", o->mirror);
	if ((err = xpin_lock(&a.pin, o->pin_dir, true, true, e)))
		return err;
	r->reclaimed = a.pin.reclaimed;
	r->gone = a.pin.gone;
	a.created_maps = !maps_pinned(a.pin.dir);
	err = attach_check(&a);
	if (!err) {
		err = attach_maps(&a) ?: attach_xdp(&a) ?: (o->no_tc ? 0 : attach_tc(&a)) ?:
		      attach_record(&a);
		if (err)
			attach_undo(&a);
	}
	/* A refused or failed first attach leaves no pin directory (xpin_lock made it). */
	if (err && a.created_maps)
		xpin_remove_all(a.pin.dir);
	if (a.prog)
		xdp_program__close(a.prog);
	xoff_close(a.x);
	xoff_close(a.sx);
	free(a.cpus_before);
	xpin_unlock(&a.pin);
	return err;
}

bool xattach_rec_here(const struct xoff_iface *rec)
{
	__u32 id;

	return rec->xdp_prog_id && !xattach_xdp_id(rec->ifindex, &id) && id == rec->xdp_prog_id;
}

bool xattach_prog_exists(__u32 id)
{
	int fd = id ? bpf_prog_get_fd_by_id(id) : -1;

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* The record of @dev: by its ifindex while it exists; else the one whose XDP program it
 * runs (it left the namespace and came back under another ifindex); else by the name it
 * had, for a device that has gone (even if another has taken its name since). *@now: the
 * device's ifindex now, 0 if it is not in this namespace. */
static int find_rec(int fd, const char *dev, struct xoff_iface *rec, unsigned int *now)
{
	unsigned int ifindex = if_nametoindex(dev);
	__u32 key, next, *prev, xdp_id = 0;
	char name[IF_NAMESIZE];
	int pass;

	if (ifindex)
		xattach_xdp_id(ifindex, &xdp_id);
	for (pass = 0; pass < 3; pass++) {
		prev = NULL;
		while (!bpf_map_get_next_key(fd, prev, &next)) {
			bool hit = false;

			if (!bpf_map_lookup_elem(fd, &next, rec)) {
				if (pass == 0)
					hit = ifindex && rec->ifindex == ifindex;
				else if (pass == 1)	/* program ids are never reused */
					hit = xdp_id && rec->xdp_prog_id == xdp_id;
				else
					hit = !strcmp(rec->name, dev) &&
					      !if_indextoname(rec->ifindex, name);
			}
			if (hit) {
				*now = pass < 2 ? ifindex : 0;
				return 0;
			}
			key = next;
			prev = &key;
		}
	}
	return -ENOENT;
}

int xdetach(const char *pin_dir, const char *dev, bool keep_maps, struct xdetach_result *r,
	    struct xerr *e)
{
	struct xoff_iface rec;
	unsigned int now = 0;
	struct xpin pin;
	__u32 k;
	int fd, err;

	memset(r, 0, sizeof(*r));
	err = xpin_lock(&pin, pin_dir, false, true, e);
	if (err == -ENOENT) {
		char why[sizeof(e->msg)];

		snprintf(why, sizeof(why), "%s", e->msg);
		return xerr_set(e, -ENOENT, "%s: not attached (%s)", dev, why);
	}
	if (err)
		return err;
	fd = xpin_map(pin.dir, XOFF_MAP_IFACES);
	if (fd < 0 || find_rec(fd, dev, &rec, &now)) {
		err = xerr_set(e, -ENOENT, "%s: not attached", dev);
		goto out;
	}
	libxdp_set_print(libxdp_quiet);
	if (now) {
		err = xdp_remove(now, rec.xdp_prog_id);
		if (err == -ENOENT) {
			r->xdp_gone = true;
			err = 0;
		} else if (err) {
			xerr_set(e, err, "%s: removing XDP: %s", dev, strerror(-err));
			goto out;
		}
		/* Back under another ifindex: its qdisc went with the move. */
		err = now == rec.ifindex ? tc_remove(&rec, &r->tc_gone, &r->qdisc_removed) : 0;
		r->tc_gone |= now != rec.ifindex;
		if (err) {
			xerr_set(e, err, "%s: removing the TC filter: %s", dev, strerror(-err));
			goto out;
		}
	} else {
		/* Not in this namespace. Deleted: a single XDP program went with it (a
		 * dispatcher's stays while libxdp's pins hold it: libxdp's to clean, as another
		 * program may share them). Moved to another namespace: xoff's XDP program still
		 * runs there, out of reach from here. */
		r->xdp_elsewhere = xattach_prog_exists(rec.xdp_prog_id);
		r->tc_gone = true;
		r->xdp_gone = !r->xdp_elsewhere;
		r->xdp_prog_id = rec.xdp_prog_id;
	}
	xpin_remove_dev(pin.dir, rec.ifindex);
	k = rec.ifindex;
	bpf_map_delete_elem(fd, &k);
	if (bpf_map_get_next_key(fd, NULL, &k) == 0 || keep_maps)
		goto out;
	r->daemon = xattach_daemon_pid(pin.dir);
	if (!r->daemon) {
		err = xpin_remove_all(pin.dir);
		if (err)
			xerr_set(e, err, "removing %s: %s", pin.dir, strerror(-err));
		r->maps_removed = !err;
	}
out:
	if (fd >= 0)
		close(fd);
	xpin_unlock(&pin);
	return err;
}

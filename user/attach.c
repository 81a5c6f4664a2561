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

static int tc_remove(const struct xoff_iface *rec, bool *gone, bool *qdisc_removed)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = rec->ifindex,
			    .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, q, .handle = rec->tc_handle, .priority = rec->tc_prio);
	int err = 0;

	*gone = false;
	*qdisc_removed = false;
	if (rec->tc_prog_id) {
		if (bpf_tc_query(&hook, &q) || q.prog_id != rec->tc_prog_id) {
			*gone = true;	/* someone else removed or replaced it */
		} else {
			DECLARE_LIBBPF_OPTS(bpf_tc_opts, d, .handle = rec->tc_handle,
					    .priority = rec->tc_prio);

			err = bpf_tc_detach(&hook, &d);
		}
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

/* The maps equal to the kernel's SAD and SPD, as the daemon would make them; the daemon
 * adopts the result (slots, CPUs) when it starts. */
static int sync_maps(struct xoff *x, unsigned int *sas, struct xerr *e)
{
	struct xsync_cfg cfg = { .log = sync_log };
	__u16 cpus[1024];
	struct xsync_stats st;
	struct xsync *s = NULL;
	struct xnl *n = NULL;
	int err;

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

int xattach(const struct xattach_opts *o, struct xattach_result *r, struct xerr *e)
{
	struct xoff_opts xo = { 0 };
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, tco);
	struct xoff_ifconfig cfg = { 0 };
	struct xdp_program *prog = NULL;
	struct xoff *x = NULL, *sx = NULL;
	bool *cpus_before = NULL, cpus_changed = false, created_maps, tc_done = false;
	bool xdp_done = false, dev_pinned = false;
	struct xpin pin;
	struct xdp_seen seen;
	char devdir[256];
	int ifindex, err, ifs_fd;
	enum xdp_attach_mode mode;
	libbpf_print_fn_t old_print;

	memset(r, 0, sizeof(*r));
	ifindex = if_nametoindex(o->dev);
	if (!ifindex)
		return xerr_set(e, -ENODEV, "%s: no such device", o->dev);
	if (o->mirror > XSYNC_MIRROR_OFF)
		return xerr_set(e, -EINVAL, "mirror: bad mode %d", o->mirror);
	err = xpin_lock(&pin, o->pin_dir, true, true, e);
	if (err)
		return err;
	xo.pin_dir = pin.dir;
	r->reclaimed = pin.reclaimed;
	r->gone = pin.gone;
	xo.upgrade = true;	/* the pin lock is ours */
	created_maps = !maps_pinned(pin.dir);

	/* Refusals first: nothing is changed until every one has passed. */
	ifs_fd = xpin_map(pin.dir, XOFF_MAP_IFACES);
	if (ifs_fd >= 0) {
		__u32 k = ifindex;
		bool found = !bpf_map_lookup_elem(ifs_fd, &k, &r->rec);

		close(ifs_fd);
		if (found) {
			err = xerr_set(e, -EEXIST, "%s: already attached (xdp program id %u); "
				       "detach it first", o->dev, r->rec.xdp_prog_id);
			goto out;
		}
	}
	libxdp_set_print(libxdp_quiet);
	err = xdp_look(ifindex, &seen);
	if (err) {
		xerr_set(e, err, "%s: reading its XDP programs: %s", o->dev, strerror(-err));
		goto out;
	}
	if (seen.xoff_id) {
		err = xerr_set(e, -EEXIST, "%s: already runs xoff's XDP program (id %u) that %s "
			       "does not record; detach it with xdp-loader or ip link", o->dev,
			       seen.xoff_id, pin.dir);
		goto out;
	}
	if (seen.any && seen.legacy) {
		err = xerr_set(e, -EBUSY, "%s: XDP program '%s' (id %u) is attached without "
			       "libxdp's dispatcher; xoff will not replace it", o->dev,
			       seen.main_name, seen.main_id);
		goto out;
	}
	if (seen.any && o->xdp_mode != XATTACH_XDP_AUTO &&
	    seen.mode != (o->xdp_mode == XATTACH_XDP_NATIVE ? XDP_MODE_NATIVE : XDP_MODE_SKB)) {
		err = xerr_set(e, -EBUSY, "%s: its XDP dispatcher runs in %s mode, not the mode "
			       "asked for", o->dev, seen.mode == XDP_MODE_SKB ? "skb" : "native");
		goto out;
	}

	/* Maps of an older layout are converted here, but not under an older daemon that
	 * still writes them (and would never invalidate the new programs' SA caches). */
	if (xoff_pins_outdated(pin.dir) == 1 && (r->daemon = xattach_daemon_pid(pin.dir))) {
		err = xerr_set(e, -EBUSY, "the running daemon (pid %d) is from an older xoff: "
			       "restart it first (it converts the pinned maps)", r->daemon);
		goto out;
	}

	/* The shared maps, created and pinned if needed, and synced before any packet
	 * meets them: with unknown-spi drop an empty map would drop every SA's ESP. */
	xo.maps_only = true;
	err = xoff_open(&sx, &xo) ?: xoff_load(sx);
	xo.maps_only = false;
	if (err) {
		xerr_set(e, err, "loading xoff: %s", xoff_strerror(err));
		goto undo;
	}
	if ((err = xpin_claim(&pin, sx, e)))
		goto undo;
	ifs_fd = xoff_map_fd(sx, XOFF_MAP_IFACES);	/* sx's own from here on */
	cpus_before = calloc(xoff_nr_cpus(), sizeof(*cpus_before));
	if (!cpus_before) {
		err = xerr_set(e, -ENOMEM, "out of memory");
		goto undo;
	}
	if ((err = cpus_apply(sx, o, cpus_before, &cpus_changed))) {
		xerr_set(e, err, "steering CPUs: %s", strerror(-err));
		goto undo;
	}
	r->daemon = xattach_daemon_pid(pin.dir);
	if (!r->daemon) {
		if ((err = sync_maps(sx, &r->sas, e)))
			goto undo;
		r->synced = true;
	}

	/* This interface's instance: its own config and reason counters. */
	if ((err = xoff_open(&x, &xo))) {
		xerr_set(e, err, "opening xoff: %s", xoff_strerror(err));
		goto undo;
	}
	cfg.ifindex = ifindex;
	cfg.unknown_spi = o->unknown_spi;
	cfg.steer = !o->no_steer;
	cfg.policies = !o->no_tc;
	xoff_config_set(x, &cfg);
	if (o->no_tc)
		bpf_program__set_autoload(xoff_tc_prog(x), false);
	prog = xdp_program__from_bpf_obj(xoff_object(x), "xdp");
	if ((err = libxdp_get_error(prog))) {
		prog = NULL;
		xerr_set(e, err, "libxdp: %s", strerror(-err));
		goto undo;
	}
	mode = o->xdp_mode == XATTACH_XDP_SKB ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	if (seen.any && o->xdp_mode == XATTACH_XDP_AUTO)
		mode = seen.mode;
	bpf_log_len = 0;
	bpf_log[0] = '\0';
	old_print = libbpf_set_print(capture);
	err = xdp_program__attach(prog, ifindex, mode, 0);
	if (err && o->xdp_mode == XATTACH_XDP_AUTO && mode == XDP_MODE_NATIVE && !seen.any) {
		mode = XDP_MODE_SKB;
		err = xdp_program__attach(prog, ifindex, mode, 0);
	}
	libbpf_set_print(old_print);
	if (err && !(mode == XDP_MODE_NATIVE && (err == -EOPNOTSUPP || err == -EINVAL)))
		fputs(bpf_log, stderr);	/* the verifier's or the kernel's words */
	if (err) {
		if (mode == XDP_MODE_NATIVE && (err == -EOPNOTSUPP || err == -EINVAL))
			xerr_set(e, err, "%s: the driver has no native XDP (use xdp-mode skb or "
				 "auto)", o->dev);
		else
			xerr_set(e, err, "%s: attaching XDP: %s", o->dev, strerror(-err));
		goto undo;
	}
	xdp_done = true;
	r->rec.xdp_prog_id = xdp_program__id(prog);
	err = xdp_look(ifindex, &seen);
	if (!err && seen.xoff_id != r->rec.xdp_prog_id)
		err = -ENOENT;
	if (err) {
		xerr_set(e, err, "%s: XDP attached but not found on the device", o->dev);
		goto undo;
	}
	r->single = seen.legacy;

	if (!o->no_tc) {
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);

		char kind[16] = "";

		hook.ifindex = ifindex;
		old_print = libbpf_set_print(NULL);	/* "Exclusivity flag on" is expected */
		err = bpf_tc_hook_create(&hook);
		libbpf_set_print(old_print);
		if (!err)
			r->rec.flags |= XOFF_IF_QDISC;
		else if (err != -EEXIST) {
			xerr_set(e, err, "%s: creating the clsact qdisc: %s", o->dev, strerror(-err));
			goto undo;
		}
		/* An "ingress" qdisc answers at ffff: too, and would take the egress filter
		 * onto ingress: only clsact has an egress hook. */
		if (err == -EEXIST && (ingress_kind(ifindex, kind, sizeof(kind)) ||
				       strcmp(kind, "clsact"))) {
			err = xerr_set(e, -EBUSY, "%s: has an '%s' qdisc, not clsact: TC egress "
				       "needs clsact (replace it, or attach with no-tc)", o->dev,
				       kind[0] ? kind : "unknown");
			goto undo;
		}
		tco.prog_fd = bpf_program__fd(xoff_tc_prog(x));
		err = bpf_tc_attach(&hook, &tco);
		if (err) {
			xerr_set(e, err, "%s: attaching TC egress: %s", o->dev, strerror(-err));
			goto undo;
		}
		tc_done = true;
		bpf_obj_get_info_by_fd(tco.prog_fd, &info, &len);
		r->rec.tc_prog_id = info.id;
		r->rec.tc_handle = tco.handle;
		r->rec.tc_prio = tco.priority;
	}

	if ((err = xpin_dev_dir(devdir, sizeof(devdir), pin.dir, ifindex)))
		goto undo;
	xpin_remove_dev(pin.dir, ifindex);	/* leftovers of a device that went away */
	if (mkdir(devdir, 0700) || (err = xoff_pin_instance(x, devdir))) {
		err = err ?: -errno;
		xerr_set(e, err, "pinning %s: %s", devdir, strerror(-err));
		goto undo;
	}
	dev_pinned = true;

	r->rec.ifindex = ifindex;
	r->rec.xdp_mode = mode == XDP_MODE_SKB ? XOFF_XDP_SKB : XOFF_XDP_NATIVE;
	r->rec.flags |= seen.legacy ? 0 : XOFF_IF_DISPATCHER;
	r->rec.mirror = o->mirror < 0 ? XSYNC_MIRROR_AUTO : o->mirror;
	r->rec.flags |= o->mirror < 0 ? 0 : XOFF_IF_MIRROR_SET;
	r->rec.attach_time = time(NULL);
	snprintf(r->rec.name, sizeof(r->rec.name), "%s", o->dev);
	if (bpf_map_update_elem(ifs_fd, &r->rec.ifindex, &r->rec, BPF_NOEXIST)) {
		err = -errno;
		xerr_set(e, err, "recording %s: %s", o->dev, strerror(-err));
		goto undo;
	}
	if (r->daemon)
		kill(r->daemon, SIGHUP);	/* it re-reads interfaces and CPUs */
	err = 0;
	goto out;

undo:
	if (dev_pinned)
		xpin_remove_dev(pin.dir, ifindex);
	if (tc_done) {
		bool gone, q;

		tc_remove(&r->rec, &gone, &q);
	} else if (r->rec.flags & XOFF_IF_QDISC) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
	if (xdp_done)
		xdp_remove(ifindex, r->rec.xdp_prog_id);
	if (cpus_changed)
		cpus_restore(sx, cpus_before);
	memset(&r->rec, 0, sizeof(r->rec));
out:
	/* A refused or failed first attach leaves no pin directory (xpin_lock made it). */
	if (err && created_maps)
		xpin_remove_all(pin.dir);
	if (prog)
		xdp_program__close(prog);
	xoff_close(x);
	xoff_close(sx);
	free(cpus_before);
	xpin_unlock(&pin);
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

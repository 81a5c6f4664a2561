// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The xoff daemon's loop: events, mirror sweeps and signals on one poll(). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include "daemon.h"
#include <bpf/bpf.h>
#include "nl.h"
#include "probe.h"
#include "rxcpu.h"

static int log_max = XSYNC_INFO;

void xoffd_log(void *ctx, int level, const char *msg)
{
	static const char *const names[8] = { "emerg", "alert", "crit", "error", "warning",
					      "notice", "info", "debug" };
	(void)ctx;
	if (level > log_max)
		return;
	if (getenv("JOURNAL_STREAM"))
		fprintf(stderr, "<%d>%s\n", level, msg);
	else
		fprintf(stderr, "xoffd: %s: %s\n", names[level & 7], msg);
}

static int fail(const char *what, int err);

static int feed(const struct nlmsghdr *nlh, void *ctx)
{
	int err = xsync_msg(ctx, nlh);

	return err == -EBADMSG ? 0 : err;	/* logged; the rest of the dump still counts */
}

int xoffd_resync(struct xsync *s, struct xnl *n)
{
	int tries, err = 0;

	for (tries = 0; tries < 5; tries++) {
		xsync_resync_begin(s);
		err = xnl_dump(n, XFRM_MSG_GETSA, feed, s);
		err = err ?: xnl_dump(n, XFRM_MSG_GETPOLICY, feed, s);
		if (err != -EINTR)
			break;
	}
	if (err) {
		/* A partial dump must not delete what it did not show: keep the rest. */
		char msg[384];

		xsync_resync_abort(s);
		snprintf(msg, sizeof(msg), "resync: dump: %s%s%s", strerror(-err),
			 xnl_extack(n)[0] ? ": " : "", xnl_extack(n));
		xoffd_log(NULL, XSYNC_ERR, msg);
		return err;
	}
	return xsync_resync_end(s);
}

static void stats_line(struct xsync *s, struct xmirror *m, const char *what)
{
	struct xmirror_stats ms = { 0 };
	struct xsync_stats st;
	char msg[640];

	xsync_get_stats(s, &st);
	if (m)
		xmirror_get_stats(m, &ms);
	snprintf(msg, sizeof(msg),
		 "%s: %llu SAs (%llu in the fast path, %llu passed unserved), %llu policies, "
		 "%llu selectors, %llu messages (%llu rejected, %llu migrates), %llu resyncs, "
		 "%llu lifetime writes (%llu errors), %llu soft and %llu hard expires sent, "
		 "%llu map errors",
		 what, (unsigned long long)st.sas, (unsigned long long)st.sas_mapped,
		 (unsigned long long)st.unserved,
		 (unsigned long long)st.policies, (unsigned long long)st.selectors,
		 (unsigned long long)st.msgs, (unsigned long long)st.bad_msgs,
		 (unsigned long long)st.migrates,
		 (unsigned long long)st.resyncs, (unsigned long long)ms.writes,
		 (unsigned long long)ms.errors, (unsigned long long)ms.expires_soft,
		 (unsigned long long)ms.expires_hard, (unsigned long long)st.map_errors);
	xoffd_log(NULL, XSYNC_INFO, msg);
}

static int fail(const char *what, int err)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "%s: %s", what, xoff_strerror(err));
	xoffd_log(NULL, XSYNC_ERR, msg);
	return err;
}

static int lock_path(char *path, size_t len)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		return -errno;
	snprintf(path, len, XOFFD_LOCK_DIR "/daemon-netns-%llu.lock",
		 (unsigned long long)st.st_ino);
	return 0;
}

/* A second daemon in the same namespace would hand out the same slots: refuse it. */
static int lock_netns(void)
{
	char path[96];
	int fd, err;

	if ((err = lock_path(path, sizeof(path))))
		return fail("/proc/self/ns/net", err);
	if (mkdir(XOFFD_LOCK_DIR, 0700) && errno != EEXIST)
		return fail(XOFFD_LOCK_DIR, -errno);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(path, -errno);
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		err = -errno;
		close(fd);
		if (err == -EWOULDBLOCK) {
			xoffd_log(NULL, XSYNC_ERR, "another xoff daemon runs in this network "
				  "namespace");
			return -EBUSY;
		}
		return fail(path, err);
	}
	return fd;
}

int xoffd_running(void)
{
	char path[96];
	int fd, err;

	if ((err = lock_path(path, sizeof(path))))
		return err;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	err = flock(fd, LOCK_SH | LOCK_NB) ? (errno == EWOULDBLOCK ? 1 : -errno) : 0;
	close(fd);
	return err;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* The heartbeat xoffctl status reads; @pid 0 when stopping. */
static void heartbeat(struct xoff *x, struct xsync *s, struct xmirror *m, struct xoff_daemon *d,
		      __u32 pid)
{
	int fd = xoff_map_fd(x, XOFF_MAP_DAEMON);
	struct xmirror_stats ms = { 0 };
	struct xsync_stats st;
	__u32 zero = 0;

	xsync_get_stats(s, &st);
	if (m)
		xmirror_get_stats(m, &ms);
	d->pid = pid;
	d->sas = st.sas;
	d->sas_mapped = st.sas_mapped;
	d->policies = st.policies;
	d->resyncs = st.resyncs;
	d->mirror_writes = ms.writes;
	d->mirror_errors = ms.errors;
	d->expires_soft = ms.expires_soft;
	d->expires_hard = ms.expires_hard;
	if (fd >= 0)
		bpf_map_update_elem(fd, &zero, d, 0);
}

/* Mirror modes set by attach for the devices SAs are offloaded to; the command line's
 * mirror-dev entries come after and win. */
static int apply_modes(struct xmirror *m, const struct xoffd_opts *o, const char *pin_dir)
{
	struct xoff_iface ifs[XOFF_MAX_IFACES];
	int i, n = xpin_ifaces(pin_dir, ifs, XOFF_MAX_IFACES), err = 0;

	for (i = 0; i < n && !err; i++)
		if (ifs[i].flags & XOFF_IF_MIRROR_SET)
			err = xmirror_set_mode(m, ifs[i].ifindex, ifs[i].mirror);
	for (i = 0; i < (int)o->nmodes && !err; i++)
		err = xmirror_set_mode(m, o->modes[i].ifindex, o->modes[i].mode);
	return err;
}

int xoffd_sync_new(struct xsync **s, struct xoff *x, struct xsync_cfg *cfg, bool cpus_given,
		   __u16 *cpus, unsigned int max)
{
	int n;

	if (!cpus_given) {
		n = xoff_cpus_enabled(x, cpus, max);
		cfg->cpus = n > 0 ? cpus : NULL;
		cfg->ncpus = n > 0 ? n : 0;
	}
	return xsync_new(s, x, cfg);
}

/* One device's RX CPUs added to @cpus, and its name to @from when it has any. @ifindex:
 * its index here, 0 to look it up. */
static void rx_add(const char *dev, unsigned int ifindex, __u16 *cpus, unsigned int *n,
		   unsigned int max, char *from, size_t len)
{
	__u16 one[XOFFD_MAX_CPUS];
	int r = xoff_rx_cpus(NULL, dev, ifindex, one, XOFFD_MAX_CPUS);
	size_t used = strlen(from);
	char msg[192];

	if (r == -EXDEV) {
		snprintf(msg, sizeof(msg), "rx cpus of %s unknown: /sys is another network "
			 "namespace's", dev);
		xoffd_log(NULL, XSYNC_INFO, msg);
	}
	if (r > 0 && xoff_cpus_union(cpus, n, max, one, r))
		r = -E2BIG;
	if (r == -E2BIG) {
		snprintf(msg, sizeof(msg), "rx cpus of %s ignored: more than %u", dev, max);
		xoffd_log(NULL, XSYNC_WARN, msg);
	}
	if (r <= 0)
		return;
	if (used < len)
		snprintf(from + used, len - used, "%s%s", used ? ", " : "", dev);
}

int xoffd_rx_cpus(const char *pin_dir, const char *also, __u16 *cpus, unsigned int max,
		  char *from, size_t len)
{
	struct xoff_iface ifs[XOFF_MAX_IFACES];
	int i, nif = xpin_ifaces(pin_dir, ifs, XOFF_MAX_IFACES);
	char name[IF_NAMESIZE];
	unsigned int n = 0;

	if (len)
		from[0] = '\0';
	/* By the name the device has now: the record's is the one it had at attach. */
	for (i = 0; i < nif; i++)
		if (if_indextoname(ifs[i].ifindex, name) && (!also || strcmp(name, also)))
			rx_add(name, ifs[i].ifindex, cpus, &n, max, from, len);
	if (also)
		rx_add(also, 0, cpus, &n, max, from, len);
	return n;
}

static bool cpus_changed(struct xoff *x, const __u16 *cpus, unsigned int n)
{
	__u16 now[XOFFD_MAX_CPUS];
	int m = xoff_cpus_enabled(x, now, XOFFD_MAX_CPUS);

	if (m <= 0)
		return false;
	return (unsigned int)m != n || memcmp(now, cpus, n * sizeof(*now));
}

/*
 * A device that went down or away takes the SAs offloaded to it along, silently. The
 * link message comes before the kernel's flush (dev_close_many() notifies, then calls the
 * NETDEV_DOWN chain), so the resync waits LINK_DELAY_MS, and is repeated while a device
 * that is down or gone still holds SAs in the dump (LINK_TRIES times at most).
 */
#define LINK_DELAY_MS	300
#define LINK_TRIES	5
#define LINK_MAX	16

struct link_watch {
	struct xsync	*s;
	int		tfd;		/* one-shot timer */
	__u32		ifindex[LINK_MAX];
	unsigned int	n, tries;	/* more than LINK_MAX devices: one resync */
	bool		armed;
};

static void link_arm(struct link_watch *l)
{
	struct itimerspec its = { .it_value = { 0, LINK_DELAY_MS * 1000000L } };

	if (!l->armed && !timerfd_settime(l->tfd, 0, &its, NULL))
		l->armed = true;
}

static void link_event(__u32 ifindex, bool lost, void *data)
{
	struct link_watch *l = data;
	unsigned int i;

	if (!lost || !xsync_uses_dev(l->s, ifindex))
		return;
	for (i = 0; i < l->n && l->ifindex[i] != ifindex; i++)
		;
	if (i == l->n) {
		char msg[128], name[IF_NAMESIZE];

		if (l->n < LINK_MAX)
			l->ifindex[l->n++] = ifindex;
		snprintf(msg, sizeof(msg), "%s (ifindex %u) went down or away with offloaded "
			 "SAs: resync", if_indextoname(ifindex, name) ? name : "a device", ifindex);
		xoffd_log(NULL, XSYNC_INFO, msg);
	}
	l->tries = 0;
	link_arm(l);
}

/* The timer fired: resync; keep watching the devices that still hold SAs. */
static int link_resync(struct link_watch *l, struct xnl *n)
{
	unsigned int i, kept = 0;
	int err = xoffd_resync(l->s, n);

	l->armed = false;
	for (i = 0; i < l->n; i++)
		if (xsync_uses_dev(l->s, l->ifindex[i]) && xprobe_dev_up(l->ifindex[i]) != 1)
			l->ifindex[kept++] = l->ifindex[i];
	l->n = kept;
	if (kept && ++l->tries < LINK_TRIES)
		link_arm(l);
	else
		l->n = l->tries = 0;
	return err;
}

/* Everything the daemon holds while it runs. */
struct xoffd {
	const struct xoffd_opts	*o;
	struct xsync_cfg	cfg;
	struct xmirror_cfg	mcfg;
	__u16			cpus[XOFFD_MAX_CPUS];	/* steering CPUs, from the cpumap */
	__u16			rx_cpus[XOFFD_MAX_CPUS]; /* RX CPUs of placement, ascending */
	struct xoff_daemon	hb;
	struct xoff		*x;
	struct xsync		*s;
	struct xmirror		*m;
	struct xnl		*n;
	int			sfd, tfd, lfd;	/* signals, sweep timer, netns lock */
	struct link_watch	lw;
	struct xpin		pin;
	bool			stop;
};

/* Tests only (README): software SAs are mirrored as if packet-offloaded, so that the
 * write path runs where no NIC offloads packets. Never for production: the kernel counts
 * those SAs too. */
#define TEST_SOFTWARE_ENV	"XOFF_TEST_MIRROR_SOFTWARE"

/* The RX CPUs and weight of placement (sync.h) into d->cfg: the command line's, else where
 * the attached devices receive. Logged when new or changed; false when unchanged. */
static bool d_rx(struct xoffd *d)
{
	const struct xoffd_opts *o = d->o;
	unsigned int weight = o->rx_weight_set ? o->rx_weight : XSYNC_RX_WEIGHT, n = 0;
	char from[256] = "rx-cpus", list[128], msg[512];
	__u16 now[XOFFD_MAX_CPUS];
	int r;

	if (o->rx_cpus) {
		/* Cannot fail: the command line takes XOFFD_MAX_CPUS at most. */
		xoff_cpus_union(now, &n, XOFFD_MAX_CPUS, o->rx_cpus, o->nrx_cpus);
	} else {
		r = xoffd_rx_cpus(d->pin.dir, NULL, now, XOFFD_MAX_CPUS, from, sizeof(from));
		n = r > 0 ? r : 0;
	}
	if (d->cfg.rx_cpus && n == d->cfg.nrx_cpus && weight == d->cfg.rx_weight &&
	    !memcmp(now, d->rx_cpus, n * sizeof(*now)))
		return false;
	memcpy(d->rx_cpus, now, n * sizeof(*now));
	d->cfg.rx_cpus = d->rx_cpus;
	d->cfg.nrx_cpus = n;
	d->cfg.rx_weight = weight;
	xoff_cpus_str(now, n, list, sizeof(list));
	if (!n)
		snprintf(msg, sizeof(msg), "placement: by SA count (no rx cpus: none known "
			 "from the attached devices' IRQs)");
	else
		snprintf(msg, sizeof(msg), "placement: rx cpus %s (%s%s), weight %u%%%s", list,
			 o->rx_cpus ? "" : "irq affinity of ", from, weight,
			 weight ? "" : ": by SA count");
	xoffd_log(NULL, XSYNC_INFO, msg);
	return true;
}

/* rx-cpus outside the steering set, once at start: they get no SAs, and placement charges
 * the receive path only to steering targets (sync.c, rx_cost()), so naming them there
 * changes nothing; likely a mistake in one of the two lists. */
static void rx_outside(const struct xoffd *d)
{
	const struct xoffd_opts *o = d->o;
	char list[128], msg[256];
	__u16 out[XOFFD_MAX_CPUS];
	unsigned int i, j, n = 0;

	for (i = 0; o->rx_cpus && i < o->nrx_cpus; i++) {
		if (!d->cfg.cpus) {
			/* No list: every CPU steers. */
			if (o->rx_cpus[i] < (unsigned int)xoff_nr_cpus())
				continue;
		} else {
			for (j = 0; j < d->cfg.ncpus && d->cfg.cpus[j] != o->rx_cpus[i]; j++)
				;
			if (j < d->cfg.ncpus)
				continue;
		}
		xoff_cpus_union(out, &n, XOFFD_MAX_CPUS, &o->rx_cpus[i], 1);
	}
	if (!n)
		return;
	xoff_cpus_str(out, n, list, sizeof(list));
	snprintf(msg, sizeof(msg), "rx-cpus %s not among the steering cpus: they get no SAs "
		 "and weigh on no placement", list);
	xoffd_log(NULL, XSYNC_WARN, msg);
}

/* The reconciler and the mirror over it, with the modes attach and the command line set. */
static int d_sync_new(struct xoffd *d)
{
	int err;

	d_rx(d);
	err = xoffd_sync_new(&d->s, d->x, &d->cfg, d->o->cpus, d->cpus,
			    XOFFD_MAX_CPUS);
	if (err)
		return fail("reading the pinned maps", err);
	if ((err = xmirror_new(&d->m, d->s, &d->mcfg)))
		return fail("counter mirror", err);
	if ((err = apply_modes(d->m, d->o, d->pin.dir)))
		return fail("mirror mode", err);
	return 0;
}

static void d_sync_free(struct xoffd *d)
{
	xmirror_free(d->m);
	d->m = NULL;
	xsync_free(d->s);
	d->s = NULL;
}

/* The pin directory's lock while the maps are loaded and first synced, so that an attach
 * never meets half-made maps, then this namespace's daemon lock for life. */
static int d_open(struct xoffd *d)
{
	struct xoff_opts xo = { .max_sas = d->o->max_sas, .maps_only = true,
				.upgrade = true };	/* the pin lock is ours */
	struct xerr e;
	int err;

	if ((err = xpin_lock(&d->pin, d->o->pin_dir, true, true, &e))) {
		xoffd_log(NULL, XSYNC_ERR, e.msg);
		return err;
	}
	xo.pin_dir = d->pin.dir;
	if ((d->lfd = lock_netns()) < 0)
		return d->lfd;
	if ((err = xoff_open(&d->x, &xo)) || (err = xoff_load(d->x)))
		return fail("loading xoff's maps", err);
	if ((err = xpin_claim(&d->pin, d->x, &e))) {
		xoffd_log(NULL, XSYNC_ERR, e.msg);
		return err;
	}
	if (d->pin.reclaimed) {
		char msg[384];

		snprintf(msg, sizeof(msg), "%s was left by network namespace net:[%llu] (cookie "
			 "%llu), which is gone: its maps were removed", d->pin.dir,
			 (unsigned long long)d->pin.gone.ino, (unsigned long long)d->pin.gone.cookie);
		xoffd_log(NULL, XSYNC_INFO, msg);
	}
	/* Subscribe before the dump, so no change falls between the two. */
	if ((err = xnl_open(&d->n, d->o->rcvbuf, xoffd_log, NULL)))
		return fail("XFRM netlink socket", err);
	if ((err = xnl_link_open(d->n)))
		return fail("rtnetlink link events", err);
	d->mcfg.kctx = d->n;
	if (d->mcfg.test_software)
		xoffd_log(NULL, XSYNC_WARN, TEST_SOFTWARE_ENV " is set: software SAs are "
			  "mirrored as if packet-offloaded (tests only)");
	if ((err = d_sync_new(d)))
		return err;
	rx_outside(d);
	return 0;
}

static int d_fds(struct xoffd *d)
{
	unsigned int ms = d->o->interval_ms ? d->o->interval_ms : XOFFD_INTERVAL_MS;
	struct itimerspec its = { .it_interval = { ms / 1000, (ms % 1000) * 1000000L } };
	sigset_t mask;

	its.it_value = its.it_interval;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	d->sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	d->lw.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (d->sfd < 0 || d->tfd < 0 || d->lw.tfd < 0 || timerfd_settime(d->tfd, 0, &its, NULL))
		return fail("signalfd/timerfd", -errno);
	return 0;
}

/* The first full sync, then the pins are free for attach and readers. */
static void d_first_sync(struct xoffd *d)
{
	int err = xoffd_resync(d->s, d->n);

	if (err && err != -EINTR)
		fail("initial resync", err);
	d->hb.start_ns = d->hb.last_sync_ns = mono_ns();
	heartbeat(d->x, d->s, d->m, &d->hb, getpid());
	xpin_unlock(&d->pin);
	stats_line(d->s, d->m, "started");
}

static void d_sweep(struct xoffd *d)
{
	int err = xmirror_sweep(d->m, time(NULL), mono_ns() / 1000000);

	if (err)
		fail("mirror sweep", err);
	else
		d->hb.last_mirror_ns = mono_ns();
	heartbeat(d->x, d->s, d->m, &d->hb, getpid());
}

static void d_events(struct xoffd *d)
{
	int err = xnl_events(d->n, feed, d->s);

	if (err == -ENOBUFS) {
		xoffd_log(NULL, XSYNC_WARN, "XFRM events lost (ENOBUFS): full resync");
		err = xoffd_resync(d->s, d->n);
	} else if (err) {
		fail("XFRM event", err);
		err = xoffd_resync(d->s, d->n);	/* a map update failed: repair */
	} else if (xsync_resync_wanted(d->s)) {
		/* MIGRATE: SAs moved, and only a dump shows them. Right away, once for every
		 * MIGRATE this drain took: those that come during the dump wait in the socket
		 * for the next drain. */
		err = xoffd_resync(d->s, d->n);
	}
	if (!err)	/* the heartbeat tells only of syncs that worked */
		d->hb.last_sync_ns = mono_ns();
}

/* SIGHUP: a full resync; new steering CPUs start over as after a restart, which keeps
 * every SA's slot and (allowed) CPU. New RX CPUs (a device attached) are for new SAs. */
static int d_hangup(struct xoffd *d)
{
	bool rx;
	int err;

	xoffd_log(NULL, XSYNC_INFO, "SIGHUP: full resync");
	rx = d_rx(d);
	if (!d->o->cpus && cpus_changed(d->x, d->cpus, d->cfg.ncpus)) {
		xmirror_sweep(d->m, time(NULL), mono_ns() / 1000000);
		d_sync_free(d);
		if ((err = d_sync_new(d)))
			return err;
	} else {
		apply_modes(d->m, d->o, d->pin.dir);
		if (rx)
			xsync_set_rx(d->s, d->cfg.rx_cpus, d->cfg.nrx_cpus, d->cfg.rx_weight);
	}
	xoffd_resync(d->s, d->n);
	d->hb.last_sync_ns = mono_ns();
	heartbeat(d->x, d->s, d->m, &d->hb, getpid());
	return 0;
}

static int d_signal(struct xoffd *d)
{
	struct signalfd_siginfo si;

	if (read(d->sfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	if (si.ssi_signo == SIGHUP)
		return d_hangup(d);
	if (si.ssi_signo == SIGUSR1)
		stats_line(d->s, d->m, "stats");
	else
		d->stop = true;
	return 0;
}

static int d_loop(struct xoffd *d)
{
	__u64 ticks;
	int err = 0;

	while (!d->stop && !err) {
		struct pollfd p[5] = {
			{ .fd = xnl_event_fd(d->n), .events = POLLIN },
			{ .fd = d->tfd, .events = POLLIN },
			{ .fd = d->sfd, .events = POLLIN },
			{ .fd = xnl_link_fd(d->n), .events = POLLIN },
			{ .fd = d->lw.tfd, .events = POLLIN },
		};

		d->lw.s = d->s;	/* a SIGHUP may have made a new one */
		if (poll(p, 5, -1) < 0) {
			if (errno != EINTR)
				err = fail("poll", -errno);
			continue;
		}
		if (p[0].revents)
			d_events(d);
		if (p[3].revents && xnl_link_events(d->n, link_event, &d->lw) == -ENOBUFS) {
			xoffd_log(NULL, XSYNC_WARN, "link events lost (ENOBUFS): full resync");
			link_arm(&d->lw);
		}
		if (p[4].revents && read(d->lw.tfd, &ticks, sizeof(ticks)) == sizeof(ticks) &&
		    !link_resync(&d->lw, d->n))
			d->hb.last_sync_ns = mono_ns();
		if (p[1].revents && read(d->tfd, &ticks, sizeof(ticks)) == sizeof(ticks))
			d_sweep(d);
		if (p[2].revents)
			err = d_signal(d);
	}
	return err;
}

/* A last sweep so counts up to now reach the kernel. The maps stay pinned for the next
 * daemon while an interface uses them; with none attached nothing needs them. */
static void d_stop(struct xoffd *d)
{
	char dir[sizeof(d->pin.dir)];
	struct xoff_iface one;
	struct xerr e;

	xmirror_sweep(d->m, time(NULL), mono_ns() / 1000000);
	heartbeat(d->x, d->s, d->m, &d->hb, 0);
	stats_line(d->s, d->m, "stopped");
	memcpy(dir, d->pin.dir, sizeof(dir));
	if (xpin_lock(&d->pin, dir, false, true, &e))
		return;
	if (xpin_ifaces(d->pin.dir, &one, 1) == 0 && !xpin_remove_all(d->pin.dir))
		xoffd_log(NULL, XSYNC_INFO, "no interface attached: maps unpinned");
	xpin_unlock(&d->pin);
}

static void d_close(struct xoffd *d)
{
	if (d->sfd >= 0)
		close(d->sfd);
	if (d->tfd >= 0)
		close(d->tfd);
	if (d->lw.tfd >= 0)
		close(d->lw.tfd);
	d_sync_free(d);
	xnl_close(d->n);
	xoff_close(d->x);
	if (d->lfd >= 0)
		close(d->lfd);
	xpin_unlock(&d->pin);
}

int xoffd_run(const struct xoffd_opts *o)
{
	static struct xoffd d;	/* 16 KiB of CPUs: off the stack */
	int err;

	memset(&d, 0, sizeof(d));
	d.o = o;
	d.sfd = d.tfd = d.lfd = d.lw.tfd = d.pin.fd = -1;
	d.cfg = (struct xsync_cfg){ .cpus = o->cpus, .ncpus = o->ncpus,
				    .tx_queues = o->tx_queues, .log = xoffd_log };
	d.mcfg = (struct xmirror_cfg){ .mode = o->mirror, .kops = &xnl_kops,
				       .test_software = getenv(TEST_SOFTWARE_ENV) != NULL };
	log_max = o->log_level ? o->log_level : XSYNC_INFO;
	err = d_open(&d) ?: d_fds(&d);
	if (!err) {
		d_first_sync(&d);
		err = d_loop(&d);
		if (d.s)
			d_stop(&d);
	}
	d_close(&d);
	return err;
}

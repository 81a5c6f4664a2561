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

static void stats_line(struct xsync *s, const char *what)
{
	struct xsync_stats st;
	char msg[512];

	xsync_get_stats(s, &st);
	snprintf(msg, sizeof(msg),
		 "%s: %llu SAs (%llu in the fast path), %llu policies, %llu selectors, "
		 "%llu messages (%llu rejected, %llu migrates), %llu resyncs, %llu lifetime "
		 "writes (%llu errors), %llu soft and %llu hard expires sent, %llu map errors",
		 what, (unsigned long long)st.sas, (unsigned long long)st.sas_mapped,
		 (unsigned long long)st.policies, (unsigned long long)st.selectors,
		 (unsigned long long)st.msgs, (unsigned long long)st.bad_msgs,
		 (unsigned long long)st.migrates,
		 (unsigned long long)st.resyncs, (unsigned long long)st.mirror_writes,
		 (unsigned long long)st.mirror_errors, (unsigned long long)st.expires_soft,
		 (unsigned long long)st.expires_hard, (unsigned long long)st.map_errors);
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
static void heartbeat(struct xoff *x, struct xsync *s, struct xoff_daemon *d, __u32 pid)
{
	int fd = xoff_map_fd(x, XOFF_MAP_DAEMON);
	struct xsync_stats st;
	__u32 zero = 0;

	xsync_get_stats(s, &st);
	d->pid = pid;
	d->sas = st.sas;
	d->sas_mapped = st.sas_mapped;
	d->policies = st.policies;
	d->resyncs = st.resyncs;
	d->mirror_writes = st.mirror_writes;
	d->mirror_errors = st.mirror_errors;
	d->expires_soft = st.expires_soft;
	d->expires_hard = st.expires_hard;
	if (fd >= 0)
		bpf_map_update_elem(fd, &zero, d, 0);
}

/* Mirror modes set by attach for the devices SAs are offloaded to; the command line's
 * mirror-dev entries come after and win. */
static int apply_modes(struct xsync *s, const struct xoffd_opts *o, const char *pin_dir)
{
	struct xoff_iface ifs[XOFF_MAX_IFACES];
	int i, n = xpin_ifaces(pin_dir, ifs, XOFF_MAX_IFACES), err = 0;

	for (i = 0; i < n && !err; i++)
		if (ifs[i].flags & XOFF_IF_MIRROR_SET)
			err = xsync_set_mirror_mode(s, ifs[i].ifindex, ifs[i].mirror);
	for (i = 0; i < (int)o->nmodes && !err; i++)
		err = xsync_set_mirror_mode(s, o->modes[i].ifindex, o->modes[i].mode);
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

static bool cpus_changed(struct xoff *x, const __u16 *cpus, unsigned int n)
{
	__u16 now[1024];
	int m = xoff_cpus_enabled(x, now, 1024);

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

int xoffd_run(const struct xoffd_opts *o)
{
	unsigned int ms = o->interval_ms ? o->interval_ms : XOFFD_INTERVAL_MS;
	struct xoff_opts xo = { .max_sas = o->max_sas };
	struct itimerspec its = { .it_interval = { ms / 1000, (ms % 1000) * 1000000L } };
	struct xsync_cfg cfg = { .cpus = o->cpus, .ncpus = o->ncpus, .tx_queues = o->tx_queues,
				 .mirror = o->mirror, .kops = &xnl_kops, .log = xoffd_log };
	static __u16 cpus[1024];
	struct xoff_daemon hb = { 0 };
	struct xoff *x = NULL;
	struct xsync *s = NULL;
	struct xnl *n = NULL;
	int sfd = -1, tfd = -1, lfd = -1, err;
	struct link_watch lw = { .tfd = -1 };
	struct xpin pin = { .fd = -1 };
	struct xerr e;
	sigset_t mask;
	bool stop = false;

	log_max = o->log_level ? o->log_level : XSYNC_INFO;
	its.it_value = its.it_interval;
	/* The pin directory's lock while the maps are loaded and first synced, so that an
	 * attach never meets half-made maps, then this namespace's daemon lock for life. */
	if ((err = xpin_lock(&pin, o->pin_dir, true, true, &e))) {
		xoffd_log(NULL, XSYNC_ERR, e.msg);
		return err;
	}
	xo.pin_dir = pin.dir;
	xo.maps_only = true;
	xo.upgrade = true;	/* the pin lock is ours */
	if ((lfd = lock_netns()) < 0) {
		err = lfd;
		goto out;
	}
	if ((err = xoff_open(&x, &xo)) || (err = xoff_load(x))) {
		fail("loading xoff's maps", err);
		goto out;
	}
	/* Subscribe before the dump, so no change falls between the two. */
	if ((err = xnl_open(&n, o->rcvbuf, xoffd_log, NULL))) {
		fail("XFRM netlink socket", err);
		goto out;
	}
	if ((err = xnl_link_open(n))) {
		fail("rtnetlink link events", err);
		goto out;
	}
	cfg.kctx = n;
	if ((err = xoffd_sync_new(&s, x, &cfg, o->cpus, cpus, 1024))) {
		fail("reading the pinned maps", err);
		goto out;
	}
	if ((err = apply_modes(s, o, pin.dir))) {
		fail("mirror mode", err);
		goto out;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	lw.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (sfd < 0 || tfd < 0 || lw.tfd < 0 || timerfd_settime(tfd, 0, &its, NULL)) {
		err = fail("signalfd/timerfd", -errno);
		goto out;
	}
	if ((err = xoffd_resync(s, n)) && err != -EINTR)
		fail("initial resync", err);
	hb.start_ns = hb.last_sync_ns = mono_ns();
	heartbeat(x, s, &hb, getpid());
	xpin_unlock(&pin);
	stats_line(s, "started");

	while (!stop) {
		struct pollfd p[5] = {
			{ .fd = xnl_event_fd(n), .events = POLLIN },
			{ .fd = tfd, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
			{ .fd = xnl_link_fd(n), .events = POLLIN },
			{ .fd = lw.tfd, .events = POLLIN },
		};

		lw.s = s;	/* a SIGHUP may have made a new one */
		if (poll(p, 5, -1) < 0) {
			if (errno == EINTR)
				continue;
			err = fail("poll", -errno);
			break;
		}
		if (p[0].revents) {
			err = xnl_events(n, feed, s);
			if (err == -ENOBUFS) {
				xoffd_log(NULL, XSYNC_WARN, "XFRM events lost (ENOBUFS): full resync");
				err = xoffd_resync(s, n);
			} else if (err) {
				fail("XFRM event", err);
				err = xoffd_resync(s, n);	/* a map update failed: repair */
			} else if (xsync_resync_wanted(s)) {
				/* MIGRATE: SAs moved, and only a dump shows them. Right away,
				 * once for every MIGRATE this drain took: those that come
				 * during the dump wait in the socket for the next drain. */
				err = xoffd_resync(s, n);
			}
			if (!err)	/* the heartbeat tells only of syncs that worked */
				hb.last_sync_ns = mono_ns();
		}
		if (p[3].revents && xnl_link_events(n, link_event, &lw) == -ENOBUFS) {
			xoffd_log(NULL, XSYNC_WARN, "link events lost (ENOBUFS): full resync");
			link_arm(&lw);
		}
		if (p[4].revents) {
			__u64 ticks;

			if (read(lw.tfd, &ticks, sizeof(ticks)) == sizeof(ticks) &&
			    !(err = link_resync(&lw, n)))
				hb.last_sync_ns = mono_ns();
		}
		if (p[1].revents) {
			__u64 ticks;

			if (read(tfd, &ticks, sizeof(ticks)) == sizeof(ticks) &&
			    (err = xsync_mirror(s, time(NULL))))
				fail("mirror sweep", err);
			else
				hb.last_mirror_ns = mono_ns();
			heartbeat(x, s, &hb, getpid());
		}
		if (p[2].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				xoffd_log(NULL, XSYNC_INFO, "SIGHUP: full resync");
				if (!o->cpus && cpus_changed(x, cpus, cfg.ncpus)) {
					/* New steering CPUs: start over as after a restart,
					 * which keeps every SA's slot and (allowed) CPU. */
					xsync_mirror(s, time(NULL));
					xsync_free(s);
					s = NULL;
					if ((err = xoffd_sync_new(&s, x, &cfg, o->cpus, cpus, 1024))) {
						fail("steering CPUs changed", err);
						break;
					}
				}
				apply_modes(s, o, pin.dir);
				xoffd_resync(s, n);
				hb.last_sync_ns = mono_ns();
				heartbeat(x, s, &hb, getpid());
			} else if (si.ssi_signo == SIGUSR1) {
				stats_line(s, "stats");
			} else {
				stop = true;
			}
		}
	}
	if (!s)
		goto out;
	err = 0;
	/* A last sweep so counters up to now reach the kernel. */
	xsync_mirror(s, time(NULL));
	heartbeat(x, s, &hb, 0);
	stats_line(s, "stopped");
	/* The maps stay pinned for the next daemon while an interface uses them; with none
	 * attached nothing needs them, and every count has just been written. */
	char dir[sizeof(pin.dir)];

	memcpy(dir, pin.dir, sizeof(dir));
	if (!xpin_lock(&pin, dir, false, true, &e)) {
		struct xoff_iface one;

		if (xpin_ifaces(pin.dir, &one, 1) == 0 && !xpin_remove_all(pin.dir))
			xoffd_log(NULL, XSYNC_INFO, "no interface attached: maps unpinned");
		xpin_unlock(&pin);
	}
out:
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
	if (lw.tfd >= 0)
		close(lw.tfd);
	xsync_free(s);
	xnl_close(n);
	xoff_close(x);
	if (lfd >= 0)
		close(lfd);
	xpin_unlock(&pin);
	return err;
}

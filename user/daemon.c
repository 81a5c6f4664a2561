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
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include "daemon.h"
#include "nl.h"

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
		 "%llu messages (%llu rejected), %llu resyncs, %llu lifetime writes "
		 "(%llu errors), %llu soft and %llu hard expires sent, %llu map errors",
		 what, (unsigned long long)st.sas, (unsigned long long)st.sas_mapped,
		 (unsigned long long)st.policies, (unsigned long long)st.selectors,
		 (unsigned long long)st.msgs, (unsigned long long)st.bad_msgs,
		 (unsigned long long)st.resyncs, (unsigned long long)st.mirror_writes,
		 (unsigned long long)st.mirror_errors, (unsigned long long)st.expires_soft,
		 (unsigned long long)st.expires_hard, (unsigned long long)st.map_errors);
	xoffd_log(NULL, XSYNC_INFO, msg);
}

static int fail(const char *what, int err)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "%s: %s", what, strerror(-err));
	xoffd_log(NULL, XSYNC_ERR, msg);
	return err;
}

/* A second daemon in the same namespace would hand out the same slots: refuse it. */
static int lock_netns(void)
{
	char path[96];
	struct stat st;
	int fd;

	if (stat("/proc/self/ns/net", &st))
		return fail("/proc/self/ns/net", -errno);
	if (mkdir(XOFFD_LOCK_DIR, 0700) && errno != EEXIST)
		return fail(XOFFD_LOCK_DIR, -errno);
	snprintf(path, sizeof(path), XOFFD_LOCK_DIR "/daemon-netns-%llu.lock",
		 (unsigned long long)st.st_ino);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return fail(path, -errno);
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int err = -errno;

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

int xoffd_run(const struct xoffd_opts *o)
{
	unsigned int ms = o->interval_ms ? o->interval_ms : XOFFD_INTERVAL_MS;
	struct xoff_opts xo = { .max_sas = o->max_sas,
				.pin_dir = o->pin_dir ? o->pin_dir : XOFF_PIN_DIR };
	struct itimerspec its = { .it_interval = { ms / 1000, (ms % 1000) * 1000000L } };
	struct xsync_cfg cfg = { .cpus = o->cpus, .ncpus = o->ncpus, .tx_queues = o->tx_queues,
				 .mirror = o->mirror, .kops = &xnl_kops, .log = xoffd_log };
	struct xoff *x = NULL;
	struct xsync *s = NULL;
	struct xnl *n = NULL;
	int sfd = -1, tfd = -1, lfd, err;
	unsigned int i;
	sigset_t mask;
	bool stop = false;

	log_max = o->log_level ? o->log_level : XSYNC_INFO;
	its.it_value = its.it_interval;
	if ((lfd = lock_netns()) < 0)
		return lfd;
	if (mkdir(xo.pin_dir, 0700) && errno != EEXIST)
		return fail(xo.pin_dir, -errno);
	if ((err = xoff_open(&x, &xo)) || (err = xoff_load(x))) {
		fail("loading xoff's maps", err);
		goto out;
	}
	/* Subscribe before the dump, so no change falls between the two. */
	if ((err = xnl_open(&n, o->rcvbuf, xoffd_log, NULL))) {
		fail("XFRM netlink socket", err);
		goto out;
	}
	cfg.kctx = n;
	if ((err = xsync_new(&s, x, &cfg))) {
		fail("reading the pinned maps", err);
		goto out;
	}
	for (i = 0; i < o->nmodes; i++)
		if ((err = xsync_set_mirror_mode(s, o->modes[i].ifindex, o->modes[i].mode))) {
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
	if (sfd < 0 || tfd < 0 || timerfd_settime(tfd, 0, &its, NULL)) {
		err = fail("signalfd/timerfd", -errno);
		goto out;
	}
	if ((err = xoffd_resync(s, n)) && err != -EINTR)
		fail("initial resync", err);
	stats_line(s, "started");

	while (!stop) {
		struct pollfd p[3] = {
			{ .fd = xnl_event_fd(n), .events = POLLIN },
			{ .fd = tfd, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
		};

		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			err = fail("poll", -errno);
			break;
		}
		if (p[0].revents) {
			err = xnl_events(n, feed, s);
			if (err == -ENOBUFS) {
				xoffd_log(NULL, XSYNC_WARN, "XFRM events lost (ENOBUFS): full resync");
				xoffd_resync(s, n);
			} else if (err) {
				fail("XFRM event", err);
				xoffd_resync(s, n);	/* a map update failed: repair */
			}
		}
		if (p[1].revents) {
			__u64 ticks;

			if (read(tfd, &ticks, sizeof(ticks)) == sizeof(ticks) &&
			    (err = xsync_mirror(s, time(NULL))))
				fail("mirror sweep", err);
		}
		if (p[2].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				xoffd_log(NULL, XSYNC_INFO, "SIGHUP: full resync");
				xoffd_resync(s, n);
			} else if (si.ssi_signo == SIGUSR1) {
				stats_line(s, "stats");
			} else {
				stop = true;
			}
		}
	}
	err = 0;
	/* A last sweep so counters up to now reach the kernel; maps stay pinned. */
	xsync_mirror(s, time(NULL));
	stats_line(s, "stopped");
out:
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
	xsync_free(s);
	xnl_close(n);
	xoff_close(x);
	close(lfd);
	return err;
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* `xoffctl run` as a process: it starts, follows the kernel, refuses a second daemon in
 * its namespace, answers SIGUSR1 and SIGHUP, and stops cleanly on SIGTERM with its maps
 * left pinned while an interface uses them, and removed when none does. Runs in its own network and mount namespaces on a private bpffs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <criterion/criterion.h>
#include "proc.h"
#include <bpf/bpf.h>
#include "xoff/abi.h"
#include "libxoff.h"
#include "bpffs.h"
#include "xmsg.h"

static char dir[64];		/* bpffs mount point */
static char logf[64];
static bool mounted;
static pid_t last;		/* the daemon started last, killed at teardown if it runs */

static void dsetup(void)
{
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare: %s", strerror(errno));
	bpffs_mount(dir, &mounted);
	strcpy(logf, "/tmp/xoff-daemon-log-XXXXXX");
	close(mkstemp(logf));
	cr_assert_eq(system("ip link set lo up"), 0);
}

static void dteardown(void)
{
	char lock[96];
	struct stat st;

	/* A test that failed half way leaves its daemon: it would keep the namespace, and the
	 * test runner's output pipe, open. (Only a child not yet reaped is signalled.) */
	if (last > 0 && waitpid(last, NULL, WNOHANG) == 0) {
		kill(last, SIGKILL);
		waitpid(last, NULL, 0);
	}
	/* The daemon's lock file of this (now dying) namespace. */
	if (!stat("/proc/self/ns/net", &st)) {
		snprintf(lock, sizeof(lock), "/run/xoff/daemon-netns-%llu.lock",
			 (unsigned long long)st.st_ino);
		unlink(lock);
	}
	bpffs_umount(dir, &mounted);
	if (logf[0])
		unlink(logf);
}

TestSuite(daemon, .init = dsetup, .fini = dteardown, .timeout = 60);

/* xoffctl run with @extra (NULL-terminated, or NULL) after the test's own arguments. */
static pid_t start_with(const char *const *extra)
{
	char pins[96];
	char *argv[24] = { "xoffctl", "run", "pin-dir", pins, "interval", "100", "log-level",
			   "debug" };
	int n = 8;
	pid_t pid;

	snprintf(pins, sizeof(pins), "%s/xoff", dir);
	while (extra && *extra && n < 23)
		argv[n++] = (char *)*extra++;
	argv[n] = NULL;
	pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		int fd = open(logf, O_WRONLY | O_APPEND);

		dup2(fd, 2);
		execv(XOFF_OUT "/xoffctl", argv);
		_exit(127);
	}
	last = pid;
	return pid;
}

static pid_t start(void)
{
	return start_with(NULL);
}

static bool log_has(const char *s, int count)
{
	char buf[16384];
	FILE *f = fopen(logf, "r");
	size_t n;
	const char *p = buf;
	int seen = 0;

	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while ((p = strstr(p, s))) {
		seen++;
		p++;
	}
	return seen >= count;
}

static bool wait_log(const char *s, int count)
{
	int i;

	for (i = 0; i < 500; i++) {
		if (log_has(s, count))
			return true;
		usleep(10000);
	}
	return false;
}

Test(daemon, lifecycle)
{
	struct xoff_iface rec = { .ifindex = 1, .name = "lo" };
	char path[128];
	struct stat st;
	pid_t d, second;
	int ifs;

	d = start();
	cr_assert(wait_log("started:", 1), "the daemon did not start");
	cr_assert_eq(system("ip xfrm policy add dst 10.9.0.0/16 dir out "
			    "tmpl dst 192.0.2.2 proto esp mode tunnel"), 0);
	kill(d, SIGUSR1);
	cr_assert(wait_log("1 policies", 1), "SIGUSR1 stats with the new policy");

	second = start();
	cr_assert_eq(wait_exit(second), 1, "a second daemon must exit 1");
	cr_assert(log_has("another xoff daemon runs in this network namespace", 1));

	kill(d, SIGHUP);
	cr_assert(wait_log("SIGHUP: full resync", 1));
	/* An interface uses the maps (as attach records it). */
	snprintf(path, sizeof(path), "%s/xoff/" XOFF_MAP_IFACES, dir);
	ifs = bpf_obj_get(path);
	cr_assert_geq(ifs, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(bpf_map_update_elem(ifs, &rec.ifindex, &rec, BPF_NOEXIST), 0);
	kill(d, SIGTERM);
	cr_assert_eq(wait_exit(d), 0, "SIGTERM: clean exit");
	cr_assert(log_has("stopped:", 1));
	/* The maps stay pinned for the fast path and the next daemon. */
	snprintf(path, sizeof(path), "%s/xoff/xoff_sas", dir);
	cr_assert_eq(stat(path, &st), 0, "%s stays pinned", path);
	snprintf(path, sizeof(path), "%s/xoff/xoff_mirror", dir);
	cr_assert_eq(stat(path, &st), 0, "%s stays pinned", path);

	/* Once no interface is attached, a stopping daemon leaves nothing pinned. */
	d = start();
	cr_assert(wait_log("started:", 2), "the daemon did not start again");
	cr_assert_eq(bpf_map_delete_elem(ifs, &rec.ifindex), 0);
	close(ifs);
	kill(d, SIGTERM);
	cr_assert_eq(wait_exit(d), 0, "SIGTERM: clean exit");
	cr_assert(wait_log("maps unpinned", 1));
	snprintf(path, sizeof(path), "%s/xoff", dir);
	cr_assert_neq(stat(path, &st), 0, "%s must be gone", path);
	cr_assert_eq(system("ip xfrm policy flush"), 0);
}

/* A MIGRATE (libreswan's request for a tunnel whose peer moved) reaches the daemon: it
 * logs the move and resyncs at once (no SA or policy event would tell it). */
Test(daemon, migrate_resyncs)
{
	char b[XMSG_BUF] __attribute__((aligned(8)));
	struct xmsg_migrate mg = {
		.sel_src = "10.1.0.0", .prefix_s = 24, .sel_dst = "10.2.0.0", .prefix_d = 24,
		.dir = XFRM_POLICY_OUT, .request = true, .n = 1,
		.m = { { .old_src = "192.0.2.1", .old_dst = "192.0.2.2", .new_src = "192.0.2.1",
			 .new_dst = "192.0.2.22", .mode = XFRM_MODE_TUNNEL, .reqid = 7 } },
	};
	pid_t d;
	int err;

	d = start();
	cr_assert(wait_log("started:", 1), "the daemon did not start");
	cr_assert_eq(system("ip xfrm policy add src 10.1.0.0/24 dst 10.2.0.0/24 dir out tmpl "
			    "src 192.0.2.1 dst 192.0.2.2 proto esp mode tunnel reqid 7"), 0);
	err = xmsg_request(xmsg_migrate(b, &mg));
	cr_assert_eq(err, 0, "MIGRATE: %s", strerror(-err));
	cr_assert(wait_log("XFRM migrate (policy out 10.1.0.0/24 -> 10.2.0.0/24): proto 50 mode 1 "
			   "reqid 7 192.0.2.1 -> 192.0.2.2 now 192.0.2.1 -> 192.0.2.22", 1),
		  "the MIGRATE was not logged");
	kill(d, SIGUSR1);
	cr_assert(wait_log("1 migrates), 2 resyncs", 1), "no resync after the MIGRATE");
	kill(d, SIGTERM);
	cr_assert_eq(wait_exit(d), 0, "SIGTERM: clean exit");
	cr_assert_eq(system("ip xfrm policy flush"), 0);
}

/* Placement's RX CPUs are logged: none from lo (no MSI IRQs), then the command line's;
 * a SIGHUP that finds them unchanged says nothing more. */
Test(daemon, placement_logged)
{
	static const char *const rx[] = { "rx-cpus", "0", "rx-weight", "25", NULL };
	pid_t d;

	d = start();
	cr_assert(wait_log("started:", 1), "the daemon did not start");
	cr_assert(log_has("placement: by SA count (no rx cpus: none known from the attached "
			  "devices' IRQs)", 1), "no placement line");
	kill(d, SIGTERM);
	cr_assert_eq(wait_exit(d), 0, "SIGTERM: clean exit");

	d = start_with(rx);
	cr_assert(wait_log("started:", 2), "the daemon did not start again");
	cr_assert(log_has("placement: rx cpus 0 (rx-cpus), weight 25%", 1), "no placement line");
	kill(d, SIGHUP);
	cr_assert(wait_log("SIGHUP: full resync", 1));
	kill(d, SIGUSR1);
	cr_assert(wait_log("stats:", 1));
	cr_assert_not(log_has("placement:", 3), "logged again though unchanged");
	kill(d, SIGTERM);
	cr_assert_eq(wait_exit(d), 0, "SIGTERM: clean exit");
	cr_assert_not(log_has("not among the steering cpus", 1), "rx-cpus 0 is a steering CPU");
}

/* rx-cpus outside the steering set get no SAs and weigh on nothing: warned once, at
 * start, not again at SIGHUP. */
Test(daemon, rx_outside_warned)
{
	static const char *const rx[] = { "cpus", "0", "rx-cpus", "0-1", NULL };
	pid_t d;

	if (xoff_nr_cpus() < 2)
		cr_skip_test("needs 2 CPUs");
	d = start_with(rx);
	cr_assert(wait_log("started:", 1), "the daemon did not start");
	cr_assert(log_has("rx-cpus 1 not among the steering cpus", 1), "no warning");
	kill(d, SIGHUP);
	cr_assert(wait_log("SIGHUP: full resync", 1));
	kill(d, SIGUSR1);
	cr_assert(wait_log("stats:", 1));
	cr_assert_not(log_has("not among the steering cpus", 2), "warned again");
	kill(d, SIGTERM);
	cr_assert_eq(wait_exit(d), 0, "SIGTERM: clean exit");
}

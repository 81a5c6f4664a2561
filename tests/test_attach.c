// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* `xoffctl attach/detach/status/stats/probe` end to end, as a process: what it leaves on
 * the system (XDP, clsact and filters, pins) is read back with ip(8), tc(8), bpftool(8),
 * libbpf and stat(2), never from xoffctl alone; frames sent through a veth pair move the
 * reason counters it reports.
 *
 *   host netns, host /sys/fs/bpf: never touched
 *   the test process (the one Criterion forks per test):
 *     own network namespace: lo, xa0 <-veth-> xa1
 *     own mount namespace: a private bpffs at /tmp/xoff-bpffs-XXXXXX; every xoffctl call
 *       gets -P <it>/xoff, libxdp gets LIBXDP_BPFFS=<it>, and (when the mount namespace is
 *       our own) a second private bpffs hides /sys/fs/bpf from anything else that runs.
 *
 * Everything goes with the test process (namespaces, links, qdiscs, mounts); .fini kills a
 * daemon left running, unmounts, and removes the daemon's lock file of the namespace.
 *
 * libxdp's dispatcher cannot load on every kernel (freplace refused): xoff then attaches
 * as a single program. Tests read which case holds from `status` ("dispatcher") and check
 * that case's behaviour. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <criterion/criterion.h>
#include "proc.h"
#include <jansson.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "xoff/abi.h"
#include "bpffs.h"
#include "mirror_v1.h"

#define XOFFCTL		XOFF_OUT "/xoffctl"
#define BENCH_OBJ	XOFF_OUT "/bench.bpf.o"

static char bdir[64];		/* the private bpffs */
static char pins[96];		/* <bdir>/xoff: xoffctl's -P */
static char dlog[64];		/* the daemon's stderr */
static bool mounted, sys_bpf_mounted, ready;
static int netns_err;		/* unshare(CLONE_NEWNET) failed: errno */
static pid_t dpid;		/* a daemon this test started */

/* ---- suite ------------------------------------------------------------------------------ */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static ino_t ns_ino(const char *ns)
{
	struct stat st;

	return stat(ns, &st) ? 0 : st.st_ino;
}

static void asetup(void)
{
	ino_t mnt_before = ns_ino("/proc/self/ns/mnt");

	if (geteuid() != 0)
		return;		/* each test says SKIP */
	if (unshare(CLONE_NEWNET)) {
		netns_err = errno;	/* each test says SKIP */
		return;
	}
	bpffs_mount(bdir, &mounted);
	/* Our own mount namespace (bpffs_mount made it private): hide the host's bpffs from
	 * every tool that would pin something under /sys/fs/bpf. */
	if (ns_ino("/proc/self/ns/mnt") != mnt_before &&
	    !mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700"))
		sys_bpf_mounted = true;
	setenv("LIBXDP_BPFFS", bdir, 1);
	snprintf(pins, sizeof(pins), "%s/xoff", bdir);
	strcpy(dlog, "/tmp/xoff-attach-log-XXXXXX");
	close(mkstemp(dlog));
	cr_assert_eq(system("ip link set lo up"), 0);
	ready = true;
}

static void ateardown(void)
{
	char lock[96];
	int st;

	if (dpid > 0) {
		kill(dpid, SIGKILL);
		waitpid(dpid, &st, 0);
		dpid = 0;
	}
	/* The daemon's lock file of this (now dying) namespace. */
	if (ready) {
		snprintf(lock, sizeof(lock), "/run/xoff/daemon-netns-%llu.lock",
			 (unsigned long long)ns_ino("/proc/self/ns/net"));
		unlink(lock);
	}
	/* The namespace a device visited (away_ns), if a failed test left it. */
	if (ready)
		sh("ip netns del xoff-away-%d 2>/dev/null", (int)getpid());
	if (sys_bpf_mounted && umount2("/sys/fs/bpf", MNT_DETACH))
		fprintf(stderr, "umount /sys/fs/bpf: %s\n", strerror(errno));
	sys_bpf_mounted = false;
	if (mounted || bdir[0])
		bpffs_umount(bdir, &mounted);
	if (dlog[0])
		unlink(dlog);
	dlog[0] = '\0';
}

TestSuite(attach, .init = asetup, .fini = ateardown, .timeout = 60);

static void skip(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void skip(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "SKIP: %s\n", msg);
	cr_skip_test("SKIP: %s", msg);
	abort();	/* not reached */
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	fflush(stdout);
	fflush(stderr);
	st = system(cmd);
	return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

/* A command's stdout (and stderr) into @buf. */
static void sh_out(char *out, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void sh_out(char *out, size_t len, const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	FILE *f;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	fflush(stdout);
	f = popen(cmd, "r");
	cr_assert_not_null(f, "popen %s: %s", cmd, strerror(errno));
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	pclose(f);
}

static bool have(const char *tool)
{
	return sh("command -v %s >/dev/null 2>&1", tool) == 0;
}

/* The test's namespace with the veth pair xa0 <-> xa1, both up. */
static void start(void)
{
	if (geteuid() != 0)
		skip("needs root (network namespaces, bpffs, XDP)");
	if (netns_err)
		skip("cannot make a network namespace: %s", strerror(netns_err));
	cr_assert(ready, "suite setup did not run");
	if (access(XOFFCTL, X_OK))
		skip("%s not built", XOFFCTL);
	if (sh("ip link add name xa0 type veth peer name xa1 2>/dev/null"))
		skip("no veth devices in this kernel");
	cr_assert_eq(sh("ip link set dev xa0 up && ip link set dev xa1 up"), 0);
}

/* ---- running xoffctl --------------------------------------------------------------------- */

struct run {
	int	status;
	char	out[1 << 16];
	char	err[1 << 14];
};

struct proc {
	pid_t	pid;
	FILE	*o, *e;
};

static struct run R;

/* Start `xoffctl -P <pins> ARGS...`; @nobody: as uid/gid 65534; @gate: a pipe the child
 * waits on (EOF on its read end) before it runs, NULL for none. */
static void spawn(struct proc *p, bool nobody, const int *gate, char *const args[])
{
	char *argv[32];
	int fd = open(XOFFCTL, O_RDONLY | O_CLOEXEC), n = 0, i;

	argv[n++] = "xoffctl";
	argv[n++] = "-P";
	argv[n++] = pins;
	for (i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	p->o = tmpfile();
	p->e = tmpfile();
	cr_assert(p->o && p->e, "tmpfile: %s", strerror(errno));
	cr_assert_geq(fd, 0, "%s: %s", XOFFCTL, strerror(errno));
	fflush(stdout);
	fflush(stderr);
	p->pid = fork();
	cr_assert_geq(p->pid, 0, "fork: %s", strerror(errno));
	if (!p->pid) {
		int nul = open("/dev/null", O_RDONLY);
		char c;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(fileno(p->o), 1) < 0 ||
		    dup2(fileno(p->e), 2) < 0)
			_exit(125);
		if (nobody && (setgroups(0, NULL) || setgid(65534) || setuid(65534)))
			_exit(126);
		if (gate) {
			close(gate[1]);
			while (read(gate[0], &c, 1) > 0)
				;
		}
		fexecve(fd, argv, environ);
		_exit(127);
	}
	close(fd);
}

static int reap(struct proc *p, struct run *r)
{
	int st;

	cr_assert_eq(waitpid(p->pid, &st, 0), p->pid);
	slurp(p->o, r->out, sizeof(r->out));
	slurp(p->e, r->err, sizeof(r->err));
	cr_assert(WIFEXITED(st), "xoffctl killed by signal %d", WTERMSIG(st));
	r->status = WEXITSTATUS(st);
	cr_assert_neq(r->status, 125, "child setup failed");
	cr_assert_neq(r->status, 126, "setuid 65534 failed");
	cr_assert_neq(r->status, 127, "exec %s failed", XOFFCTL);
	return r->status;
}

static int xrun(struct run *r, bool nobody, char *const args[])
{
	struct proc p;

	spawn(&p, nobody, NULL, args);
	return reap(&p, r);
}

/* xoffctl -P <pins> ARGS...: its exit code; output in R. */
#define X(...)		xrun(&R, false, (char *[]){ __VA_ARGS__, NULL })
#define X_NOBODY(...)	xrun(&R, true, (char *[]){ __VA_ARGS__, NULL })

static json_t *out_json(const struct run *r)
{
	json_error_t err;
	json_t *o = json_loads(r->out, 0, &err);

	cr_assert_not_null(o, "stdout is not JSON (%s): '%s' (stderr '%s')", err.text, r->out,
			   r->err);
	return o;
}

static void err_has(const struct run *r, const char *part)
{
	cr_assert(strstr(r->err, part), "stderr '%s' does not say '%s'", r->err, part);
}

static void err_one_line(const struct run *r)
{
	const char *nl = strchr(r->err, '\n');

	cr_assert(nl && !nl[1], "stderr is not one line: '%s'", r->err);
	cr_assert(!strncmp(r->err, "xoffctl: ", 9), "stderr '%s' does not start 'xoffctl: '",
		  r->err);
}

/* `xoffctl -j status`, parsed; fails the test when it does not exit 0. */
static json_t *status(void)
{
	cr_assert_eq(X("-j", "status"), 0, "status: %s", R.err);
	return out_json(&R);
}

static json_t *ifaces(json_t *st)
{
	json_t *a = json_object_get(st, "interfaces");

	cr_assert(json_is_array(a), "status without interfaces: '%s'", R.out);
	return a;
}

/* The status record of @dev, or NULL. */
static json_t *iface(json_t *st, const char *dev)
{
	json_t *a = ifaces(st), *i;
	size_t k;

	json_array_foreach(a, k, i)
		if (json_is_string(json_object_get(i, "dev")) &&
		    !strcmp(json_string_value(json_object_get(i, "dev")), dev))
			return i;
	return NULL;
}

static long long jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	cr_assert(json_is_integer(v), "'%s' is not an integer", k);
	return json_integer_value(v);
}

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	cr_assert(json_is_string(v), "'%s' is not a string", k);
	return json_string_value(v);
}

static bool jbool(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	cr_assert(json_is_boolean(v), "'%s' is not a boolean", k);
	return json_is_true(v);
}

/* ---- the system, read without xoffctl ------------------------------------------------ */

static int ifidx(const char *dev)
{
	int i = if_nametoindex(dev);

	cr_assert_gt(i, 0, "%s: %s", dev, strerror(errno));
	return i;
}

/* What the kernel runs at @dev's XDP hook (0: nothing) and in which mode. */
static __u32 xdp_prog(const char *dev, __u8 *mode)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	cr_assert_eq(bpf_xdp_query(ifidx(dev), 0, &q), 0, "bpf_xdp_query %s", dev);
	if (mode)
		*mode = q.attach_mode;
	return q.prog_id;
}

static int quiet_xdp(enum libxdp_print_level l, const char *f, va_list ap)
{
	(void)l, (void)f, (void)ap;
	return 0;
}

/* Whether program @id runs at @dev's hook, alone or inside libxdp's dispatcher; the
 * number of programs there in @n. */
static bool xdp_runs(const char *dev, __u32 id, int *n)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p;
	bool found = false;

	libxdp_set_print(quiet_xdp);
	*n = 0;
	mp = xdp_multiprog__get_from_ifindex(ifidx(dev));
	if (libxdp_get_error(mp) || !mp)
		return false;
	if (xdp_multiprog__is_legacy(mp)) {
		p = xdp_multiprog__main_prog(mp);
		*n = p ? 1 : 0;
		found = p && xdp_program__id(p) == id;
	} else {
		for (p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp)) {
			(*n)++;
			found |= xdp_program__id(p) == id;
		}
	}
	xdp_multiprog__close(mp);
	return found;
}

static char buf[1 << 15];

static int count(const char *s, const char *what)
{
	int n = 0;

	while ((s = strstr(s, what))) {
		n++;
		s++;
	}
	return n;
}

static bool has_clsact(const char *dev)
{
	sh_out(buf, sizeof(buf), "tc qdisc show dev %s", dev);
	return strstr(buf, "clsact") != NULL;
}

/* `ip -d link show @dev` has no XDP of any kind. */
static void expect_no_xdp(const char *dev)
{
	sh_out(buf, sizeof(buf), "ip -d link show dev %s", dev);
	cr_assert(!strstr(buf, "prog/xdp") && !strstr(buf, " xdp"), "%s still has XDP: %s",
		  dev, buf);
	cr_assert_eq(xdp_prog(dev, NULL), 0, "%s: the kernel still runs an XDP program", dev);
}

static bool exists(const char *path)
{
	struct stat st;

	return !stat(path, &st);
}

static void expect_no_pins(void)
{
	struct stat st;

	cr_assert(stat(pins, &st) && errno == ENOENT, "%s must not exist", pins);
}

/* Nothing of xoff on @dev: no XDP, no clsact (this namespace never had one), no filters. */
static void expect_clean(const char *dev)
{
	expect_no_xdp(dev);
	cr_assert(!has_clsact(dev), "%s: clsact qdisc left: %s", dev, buf);
	sh_out(buf, sizeof(buf), "tc filter show dev %s egress", dev);
	cr_assert(!strstr(buf, "xoff_tc"), "%s: xoff's filter left: %s", dev, buf);
}

/* ---- frames ------------------------------------------------------------------------------ */

enum frame { F_NOT_IP, F_UDP, F_ESP };

static void mac_of(int s, const char *dev, unsigned char *mac)
{
	struct ifreq ifr = { 0 };

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	cr_assert_eq(ioctl(s, SIOCGIFHWADDR, &ifr), 0, "SIOCGIFHWADDR %s", dev);
	memcpy(mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
}

static __u16 csum(const void *p, size_t len)
{
	const __u16 *w = p;
	__u32 s = 0;

	for (; len > 1; len -= 2)
		s += *w++;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s;
}

/* @n frames of @kind out of @from (a packet socket, through its qdisc and TC egress) to
 * @to's MAC: the veth peer receives them at its XDP hook. */
static void send_frames(const char *from, const char *to, enum frame kind, int n)
{
	unsigned char f[128] = { 0 }, *ip = f + ETH_HLEN, *l4 = ip + 20;
	struct sockaddr_ll sa = { .sll_family = AF_PACKET, .sll_halen = ETH_ALEN };
	int s = socket(AF_PACKET, SOCK_RAW, 0), i;
	size_t len;

	cr_assert_geq(s, 0, "packet socket: %s", strerror(errno));
	mac_of(s, to, f);
	mac_of(s, from, f + ETH_ALEN);
	memcpy(sa.sll_addr, f, ETH_ALEN);
	sa.sll_ifindex = ifidx(from);
	if (kind == F_NOT_IP) {
		f[12] = 0x88, f[13] = 0xb5;	/* IEEE local experimental ethertype */
		len = 60;
	} else {
		size_t l4len = kind == F_UDP ? 8 + 16 : 8 + 32;
		__u16 tot = htons(20 + l4len);

		f[12] = 0x08, f[13] = 0x00;
		ip[0] = 0x45;
		memcpy(ip + 2, &tot, 2);
		ip[8] = 64;
		ip[9] = kind == F_UDP ? IPPROTO_UDP : IPPROTO_ESP;
		inet_pton(AF_INET, "10.99.0.2", ip + 12);
		inet_pton(AF_INET, "10.99.0.1", ip + 16);
		if (kind == F_UDP) {
			__u16 l = htons(l4len);

			l4[1] = 9, l4[3] = 9;		/* discard port */
			memcpy(l4 + 4, &l, 2);
		} else {
			l4[2] = 0xab, l4[3] = 0xcd;	/* SPI 0x0000abcd: no such SA */
			l4[7] = 1;			/* sequence number 1 */
		}
		{
			__u16 c = csum(ip, 20);

			memcpy(ip + 10, &c, 2);
		}
		len = ETH_HLEN + 20 + l4len;
	}
	for (i = 0; i < n; i++)
		cr_assert_eq(sendto(s, f, len, 0, (struct sockaddr *)&sa, sizeof(sa)), (ssize_t)len,
			     "send on %s: %s", from, strerror(errno));
	close(s);
}

/* The total of one reason counter of @dev's program @prog ("xdp", "tc") from `-j stats`. */
static long long reason(const char *dev, const char *prog, const char *name)
{
	json_t *st, *a, *i, *r;
	long long v = -1;
	size_t k;

	cr_assert_eq(X("-j", "stats"), 0, "stats: %s", R.err);
	st = out_json(&R);
	a = json_object_get(st, "interfaces");
	cr_assert(json_is_array(a), "stats: '%s'", R.out);
	json_array_foreach(a, k, i) {
		if (strcmp(jstr(i, "dev"), dev))
			continue;
		r = json_object_get(json_object_get(json_object_get(i, prog), name), "total");
		cr_assert(json_is_integer(r), "stats: no %s %s '%s': '%s'", dev, prog, name, R.out);
		v = json_integer_value(r);
	}
	json_decref(st);
	cr_assert_geq(v, 0, "stats: no interface %s: '%s'", dev, R.out);
	return v;
}

/* Wait (up to 2 s; NAPI may run later) until the counter reaches @min. */
static long long reason_at_least(const char *dev, const char *prog, const char *name,
				 long long min)
{
	long long v = 0;
	int i;

	for (i = 0; i < 100; i++) {
		v = reason(dev, prog, name);
		if (v >= min)
			break;
		usleep(20000);
	}
	return v;
}

/* ---- 1: native, end to end ----------------------------------------------------------- */

static const char *const shared_pins[] = {
	"xoff_sas", "xoff_counters", "xoff_policies", "xoff_cpus", "xoff_mirror", "xoff_ifaces",
	"xoff_daemon", "xoff_gen", "xoff_auth", "xoff_auth_sas", "xoff_netns",
};
static const char *const dev_pins[] = { "xoff_cfg", "xoff_xdp_reasons", "xoff_tc_reasons",
					"xoff_tci_reasons" };

/* The pin directory holds xoff's maps and the dev-<ifindex> directory of each of @devs,
 * nothing else; all 0700 directories. */
static void expect_pins(const char *const *devs, int ndevs)
{
	char path[256];
	struct stat st;
	struct dirent *d;
	DIR *dir;
	size_t i;
	int k, n = 0;

	cr_assert_eq(stat(pins, &st), 0, "%s: %s", pins, strerror(errno));
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0700, "%s: mode %o", pins, st.st_mode & 07777);
	for (i = 0; i < sizeof(shared_pins) / sizeof(shared_pins[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", pins, shared_pins[i]);
		cr_assert(exists(path), "%s is not pinned", path);
	}
	for (k = 0; k < ndevs; k++) {
		snprintf(path, sizeof(path), "%s/dev-%d", pins, ifidx(devs[k]));
		cr_assert_eq(stat(path, &st), 0, "%s: %s", path, strerror(errno));
		cr_assert(S_ISDIR(st.st_mode));
		cr_assert_eq(st.st_mode & 07777, 0700, "%s: mode %o", path, st.st_mode & 07777);
		for (i = 0; i < sizeof(dev_pins) / sizeof(dev_pins[0]); i++) {
			snprintf(path, sizeof(path), "%s/dev-%d/%s", pins, ifidx(devs[k]), dev_pins[i]);
			cr_assert(exists(path), "%s is not pinned", path);
		}
	}
	dir = opendir(pins);
	cr_assert_not_null(dir);
	while ((d = readdir(dir)))
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
			n++;
	closedir(dir);
	cr_assert_eq(n, (int)(sizeof(shared_pins) / sizeof(shared_pins[0])) + ndevs,
		     "%s holds %d entries", pins, n);
}

/* XDP of @dev as ip(8) shows it: xoff alone (id and name), or libxdp's dispatcher. */
static void expect_ip_xdp(const char *dev, const char *flag, __u32 id, bool dispatcher)
{
	char want[64];
	int n;

	sh_out(buf, sizeof(buf), "ip -d link show dev %s", dev);
	snprintf(want, sizeof(want), " %s ", flag);
	cr_assert(strstr(buf, want), "ip link does not show '%s': %s", flag, buf);
	if (!dispatcher) {
		snprintf(want, sizeof(want), "prog/xdp id %u name xoff_xdp ", id);
		cr_assert(strstr(buf, want), "ip link does not show '%s': %s", want, buf);
	} else {
		cr_assert(strstr(buf, "name xdp_dispatcher"), "no dispatcher in: %s", buf);
	}
	cr_assert(xdp_runs(dev, id, &n), "%s: XDP program %u does not run there", dev, id);
}

Test(attach, native_lifecycle)
{
	const char *devs[] = { "xa0" };
	json_t *a, *st, *i;
	__u32 xdp_id, tc_id;
	bool disp;
	char want[64], path[256];

	start();
	cr_assert_eq(X("-j", "attach", "xa0", "xdp-mode", "native"), 0, "attach: %s", R.err);
	a = out_json(&R);
	cr_assert_str_eq(jstr(a, "dev"), "xa0");
	cr_assert_eq(jint(a, "ifindex"), ifidx("xa0"));
	cr_assert_str_eq(jstr(a, "xdp_mode"), "native");
	cr_assert(jbool(a, "synced"), "no daemon: attach syncs the maps itself");
	cr_assert(json_is_null(json_object_get(a, "daemon_pid")));
	xdp_id = jint(a, "xdp_prog_id");
	tc_id = jint(a, "tc_prog_id");
	cr_assert_gt(xdp_id, 0);
	cr_assert_gt(tc_id, 0);

	st = status();
	cr_assert(jbool(st, "loaded"));
	cr_assert_str_eq(jstr(st, "pin_dir"), pins);
	cr_assert_eq(json_array_size(ifaces(st)), 1, "'%s'", R.out);
	i = json_array_get(ifaces(st), 0);
	cr_assert_str_eq(jstr(i, "dev"), "xa0");
	cr_assert_eq(jint(i, "ifindex"), ifidx("xa0"));
	cr_assert(jbool(i, "present"));
	cr_assert_eq(jint(i, "xdp_prog_id"), xdp_id);
	cr_assert_str_eq(jstr(i, "xdp_mode"), "native");
	cr_assert(jbool(i, "xdp_attached"));
	cr_assert_eq(jint(i, "tc_prog_id"), tc_id);
	cr_assert(jbool(i, "tc_attached"));
	cr_assert(jbool(i, "qdisc_created"));
	cr_assert(jbool(i, "steer"));
	cr_assert_str_eq(jstr(i, "unknown_spi"), "pass");
	cr_assert_str_eq(jstr(i, "mirror"), "auto");
	disp = jbool(i, "dispatcher");
	cr_assert_eq(disp, jbool(a, "dispatcher"), "attach and status disagree on the dispatcher");
	if (!disp)
		fprintf(stderr, "note: libxdp's dispatcher is not usable here; xoff runs as a "
			"single XDP program\n");
	/* Default steering CPUs: every possible CPU. */
	cr_assert_eq((int)json_array_size(json_object_get(json_object_get(st, "maps"),
							  "steering_cpus")),
		     libbpf_num_possible_cpus(), "'%s'", R.out);
	json_decref(st);

	/* The system as others see it. */
	expect_ip_xdp("xa0", "xdp", xdp_id, disp);
	cr_assert(has_clsact("xa0"), "no clsact qdisc on xa0: %s", buf);
	sh_out(buf, sizeof(buf), "tc filter show dev xa0 egress");
	cr_assert(strstr(buf, "bpf") && strstr(buf, "xoff_tc"), "no xoff_tc filter: %s", buf);
	snprintf(want, sizeof(want), " id %u ", tc_id);
	cr_assert(strstr(buf, want), "the filter is not program %u: %s", tc_id, buf);
	sh_out(buf, sizeof(buf), "tc filter show dev xa0 ingress");
	cr_assert(strstr(buf, "bpf") && strstr(buf, "xoff_tci"), "no xoff_tci filter: %s", buf);
	expect_pins(devs, 1);
	if (have("bpftool")) {
		snprintf(path, sizeof(path), "%s/xoff_ifaces", pins);
		sh_out(buf, sizeof(buf), "bpftool -j map dump pinned %s", path);
		cr_assert(strstr(buf, "\"xdp_prog_id\""), "no BTF field names: %s", buf);
		snprintf(want, sizeof(want), "\"xdp_prog_id\":%u", xdp_id);
		cr_assert(strstr(buf, want), "record without %s: %s", want, buf);
		snprintf(path, sizeof(path), "%s/dev-%d/xoff_cfg", pins, ifidx("xa0"));
		sh_out(buf, sizeof(buf), "bpftool map dump pinned %s", path);
		cr_assert(strstr(buf, "unknown_spi"), "no BTF field names: %s", buf);
	} else {
		fprintf(stderr, "note: bpftool not installed: BTF field names not checked\n");
	}

	/* Frames in: xa1 sends, xoff's XDP on xa0 counts them, each under its reason. */
	send_frames("xa1", "xa0", F_NOT_IP, 3);
	send_frames("xa1", "xa0", F_UDP, 3);
	send_frames("xa1", "xa0", F_ESP, 3);
	cr_assert_geq(reason_at_least("xa0", "xdp", "not-ip", 3), 3, "'%s'", R.out);
	cr_assert_geq(reason_at_least("xa0", "xdp", "other", 3), 3, "'%s'", R.out);
	cr_assert_eq(reason_at_least("xa0", "xdp", "unknown-spi-pass", 3), 3, "'%s'", R.out);
	cr_assert_eq(reason("xa0", "xdp", "unknown-spi-drop"), 0);
	/* Frames out of xa0 pass its TC egress program. */
	send_frames("xa0", "xa1", F_NOT_IP, 2);
	send_frames("xa0", "xa1", F_ESP, 2);
	cr_assert_geq(reason_at_least("xa0", "tc", "not-ip", 2), 2, "'%s'", R.out);
	cr_assert_geq(reason_at_least("xa0", "tc", "unknown-spi-pass", 2), 2, "'%s'", R.out);

	cr_assert_eq(X("-j", "detach", "xa0"), 0, "detach: %s", R.err);
	a = out_json(&R);
	cr_assert(!jbool(a, "xdp_gone"));
	cr_assert(!jbool(a, "tc_gone"));
	cr_assert(jbool(a, "qdisc_removed"));
	cr_assert(jbool(a, "maps_removed"));
	json_decref(a);
	expect_clean("xa0");
	expect_no_pins();
	cr_assert_eq(X("-j", "status"), 0, "status with nothing pinned: %s", R.err);
	st = out_json(&R);
	cr_assert(!jbool(st, "loaded"));
	cr_assert_eq(json_array_size(ifaces(st)), 0);
	json_decref(st);
}

/* ---- 2: skb mode and every option ---------------------------------------------------------- */

Test(attach, skb_with_options)
{
	const char *devs[] = { "xa0" };
	json_t *a, *st, *i, *cpus;
	__u32 xdp_id;
	__u8 mode;

	start();
	cr_assert_eq(X("-j", "attach", "xa0", "xdp-mode", "skb", "steer", "off", "unknown-spi",
		       "drop", "mirror", "off", "no-tc", "cpus", "0"), 0, "attach: %s", R.err);
	a = out_json(&R);
	cr_assert_str_eq(jstr(a, "xdp_mode"), "skb");
	cr_assert(json_is_null(json_object_get(a, "tc_prog_id")));
	xdp_id = jint(a, "xdp_prog_id");
	json_decref(a);

	st = status();
	i = iface(st, "xa0");
	cr_assert_not_null(i, "'%s'", R.out);
	cr_assert_str_eq(jstr(i, "xdp_mode"), "skb");
	cr_assert_eq(jint(i, "xdp_prog_id"), xdp_id);
	cr_assert(jbool(i, "xdp_attached"));
	cr_assert(!jbool(i, "steer"));
	cr_assert_str_eq(jstr(i, "unknown_spi"), "drop");
	cr_assert_str_eq(jstr(i, "mirror"), "off");
	cr_assert(json_is_null(json_object_get(i, "tc_prog_id")));
	cr_assert(!jbool(i, "tc_attached"));
	cr_assert(!jbool(i, "qdisc_created"));
	cr_assert(!jbool(i, "tc_policies"));
	cpus = json_object_get(json_object_get(st, "maps"), "steering_cpus");
	cr_assert(json_is_array(cpus) && json_array_size(cpus) == 1 &&
		  json_integer_value(json_array_get(cpus, 0)) == 0, "steering_cpus: '%s'", R.out);
	expect_ip_xdp("xa0", "xdpgeneric", xdp_id, jbool(i, "dispatcher"));
	json_decref(st);
	xdp_prog("xa0", &mode);
	cr_assert_eq(mode, XDP_ATTACHED_SKB, "the kernel's attach mode: %u", mode);
	cr_assert(!has_clsact("xa0"), "no-tc: no clsact qdisc may be created: %s", buf);
	sh_out(buf, sizeof(buf), "tc filter show dev xa0 egress");
	cr_assert(!strstr(buf, "xoff_tc"), "no-tc, yet: %s", buf);
	expect_pins(devs, 1);

	/* Generic XDP: unknown SPIs are dropped, by the policy asked for. */
	send_frames("xa1", "xa0", F_ESP, 3);
	cr_assert_eq(reason_at_least("xa0", "xdp", "unknown-spi-drop", 3), 3, "'%s'", R.out);
	cr_assert_eq(reason("xa0", "xdp", "unknown-spi-pass"), 0);
	send_frames("xa0", "xa1", F_NOT_IP, 2);
	usleep(50000);
	cr_assert_eq(reason("xa0", "tc", "not-ip"), 0, "no-tc, yet TC counted");

	cr_assert_eq(X("-j", "detach", "xa0"), 0, "detach: %s", R.err);
	a = out_json(&R);
	cr_assert(!jbool(a, "qdisc_removed"), "no qdisc was created, none removed");
	cr_assert(jbool(a, "maps_removed"));
	json_decref(a);
	expect_clean("xa0");
	expect_no_pins();
}

/* ---- 3: no native XDP -------------------------------------------------------------------- */

Test(attach, lo_auto_falls_back_native_refused)
{
	json_t *a, *st, *i;
	__u8 mode;

	start();
	cr_assert_eq(X("-j", "probe", "lo"), 0, "probe: %s", R.err);
	a = out_json(&R);
	if (!json_is_false(json_object_get(json_object_get(a, "device"), "xdp_native")))
		skip("lo has native XDP on this kernel");
	json_decref(a);

	cr_assert_eq(X("-j", "attach", "lo"), 0, "attach lo (auto): %s", R.err);
	a = out_json(&R);
	cr_assert_str_eq(jstr(a, "xdp_mode"), "skb", "auto falls back to skb: '%s'", R.out);
	json_decref(a);
	st = status();
	i = iface(st, "lo");
	cr_assert_not_null(i, "'%s'", R.out);
	cr_assert_str_eq(jstr(i, "xdp_mode"), "skb");
	cr_assert(jbool(i, "xdp_attached"));
	cr_assert_gt(xdp_prog("lo", &mode), 0);
	cr_assert_eq(mode, XDP_ATTACHED_SKB);
	sh_out(buf, sizeof(buf), "ip -d link show dev lo");
	cr_assert(strstr(buf, "xdpgeneric"), "ip link: %s", buf);
	json_decref(st);
	cr_assert_eq(X("detach", "lo"), 0, "detach: %s", R.err);
	expect_clean("lo");
	expect_no_pins();

	/* Native asked for, none there: one line, exit 1, nothing left behind. */
	cr_assert_eq(X("attach", "lo", "xdp-mode", "native"), 1, "stdout '%s' stderr '%s'", R.out,
		     R.err);
	err_one_line(&R);
	err_has(&R, "native XDP");
	err_has(&R, "lo");
	cr_assert(!R.out[0], "stdout: '%s'", R.out);
	expect_clean("lo");
	expect_no_pins();
	/* And with maps already pinned by another interface: they and it stay as they were. */
	cr_assert_eq(X("attach", "xa0"), 0, "attach xa0: %s", R.err);
	cr_assert_eq(X("attach", "lo", "xdp-mode", "native"), 1);
	err_has(&R, "native XDP");
	expect_clean("lo");
	{
		const char *devs[] = { "xa0" };

		expect_pins(devs, 1);
	}
	st = status();
	cr_assert_eq(json_array_size(ifaces(st)), 1, "'%s'", R.out);
	cr_assert_not_null(iface(st, "xa0"));
	json_decref(st);
	cr_assert_eq(X("detach", "xa0"), 0, "detach: %s", R.err);
	expect_no_pins();
}

/* ---- 4: errors change nothing ----------------------------------------------------------- */

Test(attach, unknown_device)
{
	start();
	cr_assert_eq(X("attach", "nosuch0"), 1, "stderr '%s'", R.err);
	err_one_line(&R);
	err_has(&R, "nosuch0: no such device");
	expect_no_pins();
	cr_assert_eq(X("-j", "attach", "nosuch0"), 1);
	cr_assert(strstr(R.out, "\"error\""), "JSON error object: '%s'", R.out);
	expect_no_pins();
	cr_assert_eq(X("detach", "nosuch0"), 1);
	err_has(&R, "not attached");
	expect_no_pins();
	cr_assert_eq(X("-j", "probe", "nosuch0"), 1);
	err_has(&R, "no such device");
	expect_clean("xa0");
}

Test(attach, twice)
{
	json_t *st, *i;
	__u32 xdp_id, tc_id;
	long long t;

	start();
	cr_assert_eq(X("attach", "xa0"), 0, "attach: %s", R.err);
	st = status();
	i = iface(st, "xa0");
	cr_assert_not_null(i);
	xdp_id = jint(i, "xdp_prog_id");
	tc_id = jint(i, "tc_prog_id");
	t = jint(i, "attach_time");
	json_decref(st);

	cr_assert_eq(X("attach", "xa0", "xdp-mode", "skb", "unknown-spi", "drop", "no-tc"), 1,
		     "second attach: stdout '%s'", R.out);
	err_one_line(&R);
	err_has(&R, "already attached");
	cr_assert_eq(X("attach", "xa0"), 1);
	err_has(&R, "already attached");

	st = status();
	cr_assert_eq(json_array_size(ifaces(st)), 1, "'%s'", R.out);
	i = iface(st, "xa0");
	cr_assert_eq(jint(i, "xdp_prog_id"), xdp_id);
	cr_assert_eq(jint(i, "tc_prog_id"), tc_id);
	cr_assert_eq(jint(i, "attach_time"), t);
	cr_assert_str_eq(jstr(i, "xdp_mode"), "native");
	cr_assert_str_eq(jstr(i, "unknown_spi"), "pass");
	cr_assert(jbool(i, "xdp_attached") && jbool(i, "tc_attached"));
	json_decref(st);
	{
		int n;

		cr_assert(xdp_runs("xa0", xdp_id, &n) && n == 1, "xa0 runs %d programs", n);
	}
	sh_out(buf, sizeof(buf), "tc filter show dev xa0 egress");
	cr_assert(strstr(buf, "xoff_tc"), "%s", buf);
	cr_assert_eq(X("detach", "xa0"), 0, "detach: %s", R.err);
	expect_clean("xa0");
	expect_no_pins();
}

Test(attach, detach_not_attached)
{
	json_t *st;

	start();
	/* Nothing pinned at all. */
	cr_assert_eq(X("detach", "xa0"), 1, "stdout '%s'", R.out);
	err_one_line(&R);
	err_has(&R, "xa0: not attached");
	expect_no_pins();
	/* Pinned, but for another interface: that one stays. */
	cr_assert_eq(X("attach", "xa1", "no-tc"), 0, "attach xa1: %s", R.err);
	cr_assert_eq(X("detach", "xa0"), 1);
	err_one_line(&R);
	err_has(&R, "xa0: not attached");
	st = status();
	cr_assert_eq(json_array_size(ifaces(st)), 1);
	cr_assert(jbool(iface(st, "xa1"), "xdp_attached"));
	json_decref(st);
	expect_no_xdp("xa0");
	cr_assert_eq(X("detach", "xa1"), 0, "detach xa1: %s", R.err);
	cr_assert_eq(X("detach", "xa1"), 1, "detach twice");
	err_has(&R, "not attached");
	expect_clean("xa1");
	expect_no_pins();
}

Test(attach, usage_errors)
{
	static const char *const bad[][8] = {
		{ "attach" },
		{ "attach", "xa0", "xdp-mode", "turbo" },
		{ "attach", "xa0", "xdp-mode" },
		{ "attach", "xa0", "steer", "maybe" },
		{ "attach", "xa0", "unknown-spi", "reject" },
		{ "attach", "xa0", "mirror", "sometimes" },
		{ "attach", "xa0", "cpus", "9999" },
		{ "attach", "xa0", "cpus", "1-0" },
		{ "attach", "xa0", "steer", "on", "steer", "off" },
		{ "attach", "xa0", "bogus", "1" },
		{ "attach", "a/b" },
		{ "detach" },
		{ "detach", "xa0", "bogus" },
		{ "probe" },
		{ "status", "extra" },
	};
	size_t k;

	start();
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		char *args[10] = { 0 };
		int j;

		for (j = 0; j < 8 && bad[k][j]; j++)
			args[j] = (char *)bad[k][j];
		cr_assert_eq(xrun(&R, false, args), 2, "%s %s %s: exit %d, stderr '%s'", args[0],
			     args[1] ? args[1] : "", args[2] ? args[2] : "", R.status, R.err);
		cr_assert(strstr(R.err, "xoffctl: "), "no message: '%s'", R.err);
		cr_assert(!R.out[0], "stdout: '%s'", R.out);
		expect_no_pins();
	}
	expect_clean("xa0");
}

Test(attach, not_root)
{
	json_t *st;
	__u32 id;

	start();
	cr_assert_eq(X_NOBODY("attach", "xa0"), 1, "stdout '%s' stderr '%s'", R.out, R.err);
	err_one_line(&R);
	err_has(&R, "needs root");
	expect_clean("xa0");
	expect_no_pins();
	/* With xoff attached: a non-root detach changes nothing either. */
	cr_assert_eq(X("attach", "xa0"), 0, "attach: %s", R.err);
	id = xdp_prog("xa0", NULL);
	cr_assert_eq(X_NOBODY("detach", "xa0"), 1);
	err_has(&R, "needs root");
	cr_assert_eq(X_NOBODY("attach", "xa1"), 1);
	err_has(&R, "needs root");
	cr_assert_eq(xdp_prog("xa0", NULL), id);
	expect_no_xdp("xa1");
	st = status();
	cr_assert_eq(json_array_size(ifaces(st)), 1);
	cr_assert(jbool(iface(st, "xa0"), "xdp_attached"));
	cr_assert(jbool(iface(st, "xa0"), "tc_attached"));
	json_decref(st);
	cr_assert_eq(X("detach", "xa0"), 0, "detach: %s", R.err);
	expect_clean("xa0");
	expect_no_pins();
}

/* ---- 5: TC that was there stays ------------------------------------------------------------ */

/* A filter of somebody else on @dev egress: matchall if the kernel has it, else u32. */
static void foreign_filter(const char *dev, int pref)
{
	if (!sh("tc filter add dev %s egress pref %d matchall action pass 2>/dev/null", dev, pref) ||
	    !sh("tc filter add dev %s egress pref %d protocol all u32 match u32 0 0 action pass "
		"2>/dev/null", dev, pref) ||
	    !sh("tc filter add dev %s egress pref %d protocol all u32 match u32 0 0 flowid 1:1 "
		"2>/dev/null", dev, pref))
		return;
	skip("no matchall or u32 classifier in this kernel");
}

static void expect_foreign(const char *dev, int pref)
{
	char want[32];

	snprintf(want, sizeof(want), "pref %d ", pref);
	sh_out(buf, sizeof(buf), "tc filter show dev %s egress", dev);
	cr_assert(strstr(buf, want) && (strstr(buf, "matchall") || strstr(buf, "u32")),
		  "the foreign filter (%s) is gone: %s", want, buf);
}

Test(attach, tc_kept)
{
	json_t *a, *st;

	start();
	cr_assert_eq(sh("tc qdisc add dev xa0 clsact"), 0);
	foreign_filter("xa0", 7);
	cr_assert_eq(X("attach", "xa0"), 0, "attach: %s", R.err);
	st = status();
	cr_assert(!jbool(iface(st, "xa0"), "qdisc_created"), "the qdisc was there: '%s'", R.out);
	cr_assert(jbool(iface(st, "xa0"), "tc_attached"));
	json_decref(st);
	sh_out(buf, sizeof(buf), "tc filter show dev xa0 egress");
	cr_assert(strstr(buf, "xoff_tc"), "%s", buf);
	expect_foreign("xa0", 7);
	cr_assert_eq(X("-j", "detach", "xa0"), 0, "detach: %s", R.err);
	a = out_json(&R);
	cr_assert(!jbool(a, "qdisc_removed"), "not xoff's qdisc: '%s'", R.out);
	json_decref(a);
	expect_no_xdp("xa0");
	cr_assert(has_clsact("xa0"), "the clsact qdisc xoff found must stay: %s", buf);
	sh_out(buf, sizeof(buf), "tc filter show dev xa0 egress");
	cr_assert(!strstr(buf, "xoff_tc"), "xoff's filter stayed: %s", buf);
	expect_foreign("xa0", 7);
	expect_no_pins();

	/* xoff made the qdisc, somebody added a filter since: the qdisc stays for it. */
	cr_assert_eq(sh("tc qdisc del dev xa0 clsact"), 0);
	cr_assert_eq(X("attach", "xa0"), 0, "attach: %s", R.err);
	st = status();
	cr_assert(jbool(iface(st, "xa0"), "qdisc_created"), "'%s'", R.out);
	json_decref(st);
	foreign_filter("xa0", 8);
	cr_assert_eq(X("-j", "detach", "xa0"), 0, "detach: %s", R.err);
	a = out_json(&R);
	cr_assert(!jbool(a, "qdisc_removed"), "a filter remains: '%s'", R.out);
	json_decref(a);
	cr_assert(has_clsact("xa0"), "the qdisc holds a foreign filter: %s", buf);
	expect_foreign("xa0", 8);
	sh_out(buf, sizeof(buf), "tc filter show dev xa0 egress");
	cr_assert(!strstr(buf, "xoff_tc"), "xoff's filter stayed: %s", buf);
	expect_no_pins();
}

/* ---- 6: another XDP program ---------------------------------------------------------------- */

/* bench_empty from bench.bpf.o on @dev, attached with plain netlink (no libxdp). */
static __u32 foreign_xdp(const char *dev, __u32 flags)
{
	struct bpf_object *obj = bpf_object__open_file(BENCH_OBJ, NULL);
	struct bpf_program *p, *mine = NULL;
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	int err;

	cr_assert(!libbpf_get_error(obj) && obj, "%s: cannot open", BENCH_OBJ);
	bpf_object__for_each_program(p, obj) {
		bool me = !strcmp(bpf_program__name(p), "bench_empty");

		bpf_program__set_autoload(p, me);
		if (me)
			mine = p;
	}
	cr_assert_not_null(mine, "no bench_empty in %s", BENCH_OBJ);
	cr_assert_eq(bpf_object__load(obj), 0, "loading %s", BENCH_OBJ);
	err = bpf_xdp_attach(ifidx(dev), bpf_program__fd(mine), flags, NULL);
	cr_assert_eq(err, 0, "bpf_xdp_attach %s: %s", dev, strerror(-err));
	cr_assert_eq(bpf_obj_get_info_by_fd(bpf_program__fd(mine), &info, &len), 0);
	bpf_object__close(obj);	/* the device keeps the program */
	return info.id;
}

Test(attach, foreign_xdp_refused)
{
	char want[64];
	__u32 id;

	start();
	id = foreign_xdp("xa0", XDP_FLAGS_DRV_MODE);
	cr_assert_eq(X("attach", "xa0"), 1, "stdout '%s'", R.out);
	err_one_line(&R);
	err_has(&R, "'bench_empty'");
	snprintf(want, sizeof(want), "(id %u)", id);
	err_has(&R, want);
	err_has(&R, "without libxdp");
	cr_assert_eq(xdp_prog("xa0", NULL), id, "the foreign program must stay");
	sh_out(buf, sizeof(buf), "ip -d link show dev xa0");
	cr_assert(strstr(buf, "name bench_empty"), "%s", buf);
	cr_assert(!has_clsact("xa0"), "%s", buf);
	expect_no_pins();
	/* In every mode. */
	cr_assert_eq(X("attach", "xa0", "xdp-mode", "skb"), 1);
	cr_assert_eq(X("attach", "xa0", "xdp-mode", "native"), 1);
	err_has(&R, "bench_empty");
	cr_assert_eq(xdp_prog("xa0", NULL), id);
	expect_no_pins();
	cr_assert_eq(bpf_xdp_detach(ifidx("xa0"), XDP_FLAGS_DRV_MODE, NULL), 0);
	expect_clean("xa0");
}

Test(attach, second_xdp_program)
{
	json_t *st, *i;
	__u32 xoff_id;
	char said[1024];
	bool disp;
	int n, rc;

	start();
	if (!have("xdp-loader"))
		skip("xdp-loader (xdp-tools) not installed");
	cr_assert_eq(X("attach", "xa0"), 0, "attach: %s", R.err);
	snprintf(said, sizeof(said), "%.1000s", R.out);	/* attach's own words */
	st = status();
	i = iface(st, "xa0");
	xoff_id = jint(i, "xdp_prog_id");
	disp = jbool(i, "dispatcher");
	json_decref(st);
	if (!disp) {
		fprintf(stderr, "note: no libxdp dispatcher on this kernel: xoff is the only XDP "
			"program on xa0; checking the single-program case\n");
		cr_assert(strstr(said, "single program"), "attach does not say so: '%s'", said);
	} else {
		cr_assert(strstr(said, "in libxdp's dispatcher"), "'%s'", said);
	}

	/* A libxdp program on the other end of the pair: xoff on xa0 is not touched. */
	rc = sh("xdp-loader load -m native xa1 %s -p bench_empty >/dev/null 2>&1", BENCH_OBJ);
	cr_assert_eq(rc, 0, "xdp-loader load on xa1: exit %d", rc);
	xdp_runs("xa1", 0, &n);
	cr_assert_eq(n, 1, "xa1 runs %d programs", n);
	cr_assert(xdp_runs("xa0", xoff_id, &n), "xoff left xa0");
	st = status();
	cr_assert_eq(json_array_size(ifaces(st)), 1, "'%s'", R.out);
	i = iface(st, "xa0");
	cr_assert(jbool(i, "xdp_attached") && jbool(i, "tc_attached"), "'%s'", R.out);
	cr_assert_eq(jint(i, "xdp_prog_id"), xoff_id);
	json_decref(st);

	/* A second libxdp program on xa0 itself. */
	rc = sh("xdp-loader load -m native xa0 %s -p bench_empty >/dev/null 2>&1", BENCH_OBJ);
	if (disp) {
		cr_assert_eq(rc, 0, "the dispatcher takes a second program: exit %d", rc);
		cr_assert(xdp_runs("xa0", xoff_id, &n), "xoff left the dispatcher");
		cr_assert_eq(n, 2, "xa0's dispatcher runs %d programs", n);
	} else {
		cr_assert_neq(rc, 0, "without a dispatcher xdp-loader must refuse");
		cr_assert(xdp_runs("xa0", xoff_id, &n) && n == 1, "xoff replaced on xa0");
	}
	st = status();
	i = iface(st, "xa0");
	cr_assert(jbool(i, "xdp_attached"), "status must stay truthful: '%s'", R.out);
	cr_assert_eq(jint(i, "xdp_prog_id"), xoff_id);
	json_decref(st);

	/* Detach takes xoff only. */
	cr_assert_eq(X("detach", "xa0"), 0, "detach: %s", R.err);
	cr_assert(!xdp_runs("xa0", xoff_id, &n), "xoff still on xa0");
	if (disp) {
		cr_assert_eq(n, 1, "the other program must stay on xa0");
		sh("xdp-loader unload xa0 --all >/dev/null 2>&1");
	}
	expect_no_xdp("xa0");
	sh_out(buf, sizeof(buf), "ip -d link show dev xa1");
	cr_assert(strstr(buf, "prog/xdp"), "xa1's program must stay: %s", buf);
	cr_assert_eq(sh("xdp-loader unload xa1 --all >/dev/null 2>&1"), 0);
	expect_no_xdp("xa1");
	expect_no_pins();
}

/* ---- 7: two attaches at once -------------------------------------------------------------- */

Test(attach, concurrent)
{
	static struct run r2;
	struct proc p1, p2;
	int gate[2], a, b, n;
	json_t *st;

	start();
	cr_assert_eq(pipe2(gate, O_CLOEXEC), 0);
	spawn(&p1, false, gate, (char *[]){ "attach", "xa0", NULL });
	spawn(&p2, false, gate, (char *[]){ "attach", "xa0", NULL });
	close(gate[0]);
	close(gate[1]);	/* both start now */
	a = reap(&p1, &R);
	b = reap(&p2, &r2);
	cr_assert((a == 0 && b == 1) || (a == 1 && b == 0),
		  "exits %d and %d: '%s' / '%s'", a, b, R.err, r2.err);
	err_has(a ? &R : &r2, "already attached");
	st = status();
	cr_assert_eq(json_array_size(ifaces(st)), 1, "'%s'", R.out);
	cr_assert(jbool(iface(st, "xa0"), "xdp_attached"));
	cr_assert(jbool(iface(st, "xa0"), "tc_attached"));
	sh_out(buf, sizeof(buf), "tc filter show dev xa0 egress");
	cr_assert_eq(count(buf, "name xoff_tc"), 1, "one xoff filter, exactly: %s", buf);
	cr_assert(xdp_runs("xa0", jint(iface(st, "xa0"), "xdp_prog_id"), &n) && n == 1,
		  "xa0 runs %d XDP programs", n);
	json_decref(st);
	cr_assert_eq(X("detach", "xa0"), 0, "detach: %s", R.err);
	expect_clean("xa0");
	expect_no_pins();
}

/* ---- 8: the device goes while attached ------------------------------------------------ */

Test(attach, device_deleted)
{
	json_t *st, *i, *a;
	bool single;

	start();
	cr_assert_eq(X("attach", "xa0"), 0, "attach: %s", R.err);
	cr_assert_eq(sh("ip link del dev xa0"), 0);
	st = status();
	i = iface(st, "xa0");
	cr_assert_not_null(i, "the record stays, named as recorded: '%s'", R.out);
	cr_assert(!jbool(i, "present"), "'%s'", R.out);
	cr_assert(!jbool(i, "xdp_attached"));
	cr_assert(!jbool(i, "tc_attached"));
	cr_assert_str_eq(jstr(i, "state"), "gone", "'%s'", R.out);
	cr_assert(json_is_null(json_object_get(i, "up")));
	single = !jbool(i, "dispatcher");
	cr_assert(!single || !jbool(i, "xdp_prog_exists"), "a single program goes with its device");
	json_decref(st);
	cr_assert_eq(X("status"), 0);
	/* A dispatcher's programs stay while libxdp's pins hold them: status and detach say
	 * so, without claiming either way. */
	cr_assert(strstr(R.out, "xa0 (ifindex") && strstr(R.out, single ? " GONE: " : " GONE ("),
		  "'%s'", R.out);
	cr_assert_eq(X("-j", "stats"), 0, "stats with a gone device: %s", R.err);
	cr_assert_eq(X("-j", "detach", "xa0"), 0, "detach of a gone device: %s", R.err);
	a = out_json(&R);
	cr_assert(!single || jbool(a, "xdp_gone"), "'%s'", R.out);
	cr_assert(!single || !jbool(a, "xdp_elsewhere"), "'%s'", R.out);
	cr_assert(jbool(a, "xdp_gone") != jbool(a, "xdp_elsewhere"), "'%s'", R.out);
	cr_assert(jbool(a, "maps_removed"));
	json_decref(a);
	expect_no_pins();
	cr_assert_eq(X("detach", "xa0"), 1);
	err_has(&R, "not attached");
}

/* The one interface record of status, with what it says of the device. */
static json_t *only_iface(json_t *st)
{
	json_t *a = ifaces(st);

	cr_assert_eq(json_array_size(a), 1, "'%s'", R.out);
	return json_array_get(a, 0);
}

static void expect_state(const char *dev, const char *state, const char *attached_as)
{
	json_t *st = status(), *i = only_iface(st);

	cr_assert_str_eq(jstr(i, "dev"), dev, "'%s'", R.out);
	cr_assert_str_eq(jstr(i, "state"), state, "'%s'", R.out);
	cr_assert_str_eq(jstr(i, "attached_as"), attached_as, "'%s'", R.out);
	json_decref(st);
}

Test(attach, renamed_down_up)
{
	unsigned int ifindex;

	start();
	ifindex = if_nametoindex("xa0");
	cr_assert_eq(X("attach", "xa0"), 0, "attach: %s", R.err);
	expect_state("xa0", "ok", "xa0");
	cr_assert_eq(sh("ip link set dev xa0 down && ip link set dev xa0 name xr0"), 0);
	expect_state("xr0", "down", "xa0");
	cr_assert_eq(X("status"), 0);
	cr_assert(strstr(R.out, "xr0 (ifindex ") && strstr(R.out, ", attached as xa0) DOWN: "),
		  "'%s'", R.out);
	cr_assert_eq(sh("ip link set dev xr0 up"), 0);
	expect_state("xr0", "ok", "xa0");
	cr_assert_eq(if_nametoindex("xr0"), ifindex);
	/* Attached still, under the new name: a second attach is refused, detach works. */
	cr_assert_eq(X("attach", "xr0"), 1);
	err_has(&R, "already attached");
	cr_assert_eq(X("-j", "detach", "xr0"), 0, "detach: %s", R.err);
	cr_assert_eq(sh("ip link show dev xr0 | grep -q xdp"), 1, "XDP left on xr0");
	cr_assert_eq(sh("tc filter show dev xr0 egress 2>/dev/null | grep -q xoff_tc"), 1);
	expect_no_pins();
	cr_assert_eq(X("attach", "xr0"), 0, "attach again: %s", R.err);
	expect_state("xr0", "ok", "xr0");
	cr_assert_eq(X("detach", "xr0"), 0, "%s", R.err);
}

/* A namespace of the host's list for the device to visit; removed at the end. */
static void away_ns(char *name, size_t len)
{
	snprintf(name, len, "xoff-away-%d", (int)getpid());
	sh("ip netns del %s 2>/dev/null", name);
	cr_assert_eq(sh("ip netns add %s", name), 0);
}

Test(attach, moved_away_and_back)
{
	char ns[32], xdp[32];
	json_t *st, *i, *a;
	unsigned int ifindex;

	start();
	away_ns(ns, sizeof(ns));
	ifindex = if_nametoindex("xa0");
	cr_assert_eq(X("attach", "xa0"), 0, "attach: %s", R.err);
	cr_assert_eq(sh("ip link set dev xa0 netns %s", ns), 0);
	/* The XDP program moved with the device; the qdisc (and TC filter) did not. */
	cr_assert_eq(sh("ip -n %s link show dev xa0 2>/dev/null | grep -q 'prog/xdp'", ns), 0);
	st = status();
	i = only_iface(st);
	cr_assert_str_eq(jstr(i, "state"), "gone", "'%s'", R.out);
	cr_assert(!jbool(i, "present") && !jbool(i, "xdp_attached"), "'%s'", R.out);
	cr_assert(jbool(i, "xdp_prog_exists"), "'%s'", R.out);
	json_decref(st);
	cr_assert_eq(X("status"), 0);
	cr_assert(strstr(R.out, " GONE (xoff's XDP program still exists"), "'%s'", R.out);
	/* Back: same ifindex, XDP still on, the TC filter gone with the qdisc. */
	cr_assert_eq(sh("ip -n %s link set dev xa0 netns /proc/%d/ns/net", ns, (int)getpid()), 0);
	cr_assert_eq(if_nametoindex("xa0"), ifindex);
	cr_assert_eq(sh("ip link set dev xa0 up"), 0);
	st = status();
	i = only_iface(st);
	cr_assert_str_eq(jstr(i, "state"), "degraded", "'%s'", R.out);
	cr_assert(jbool(i, "xdp_attached") && !jbool(i, "tc_attached"), "'%s'", R.out);
	json_decref(st);
	cr_assert_eq(X("-j", "detach", "xa0"), 0, "detach: %s", R.err);
	a = out_json(&R);
	cr_assert(!jbool(a, "xdp_gone") && jbool(a, "tc_gone"), "'%s'", R.out);
	json_decref(a);
	snprintf(xdp, sizeof(xdp), "prog/xdp");
	cr_assert_eq(sh("ip link show dev xa0 | grep -q '%s'", xdp), 1, "XDP left on xa0");
	expect_no_pins();
	cr_assert_eq(X("attach", "xa0"), 0, "attach again: %s", R.err);
	expect_state("xa0", "ok", "xa0");
	cr_assert_eq(X("detach", "xa0"), 0, "%s", R.err);
	sh("ip netns del %s", ns);
}

Test(attach, detached_while_away)
{
	char ns[32], idstr[16];
	json_t *a;
	bool single;
	__u32 id;

	start();
	away_ns(ns, sizeof(ns));
	cr_assert_eq(X("-j", "attach", "xa0"), 0, "attach: %s", R.err);
	a = out_json(&R);
	id = json_integer_value(json_object_get(a, "xdp_prog_id"));
	single = !jbool(a, "dispatcher");
	snprintf(idstr, sizeof(idstr), "%u", id);
	json_decref(a);
	cr_assert_eq(sh("ip link set dev xa0 netns %s", ns), 0);
	/* Detach forgets the record and says the program is out of its reach. */
	cr_assert_eq(X("detach", "xa0"), 0, "detach: %s", R.err);
	cr_assert(strstr(R.out, "not in this network namespace") && strstr(R.out, "xdp off"),
		  "'%s'", R.out);
	cr_assert_eq(X("-j", "detach", "xa0"), 1);
	err_has(&R, "not attached");
	/* Back, with xoff's program on it and no record: attach names it, changes nothing. */
	cr_assert_eq(sh("ip -n %s link set dev xa0 netns /proc/%d/ns/net", ns, (int)getpid()), 0);
	cr_assert_eq(X("attach", "xa0"), 1);
	err_has(&R, "already runs xoff's XDP program");
	/* Alone, the device runs xoff's program; in a dispatcher, the dispatcher. */
	cr_assert_eq(sh("ip link show dev xa0 | grep -q 'prog/xdp id %s'", single ? idstr : ""), 0);
	cr_assert_eq(sh("ip link set dev xa0 xdp off"), 0);
	cr_assert_eq(X("attach", "xa0"), 0, "attach after xdp off: %s", R.err);
	cr_assert_eq(X("detach", "xa0"), 0, "%s", R.err);
	sh("ip netns del %s", ns);
}

/* Back under another ifindex (its own was taken meanwhile): detach finds the record by
 * the XDP program the device runs. */
Test(attach, back_under_another_ifindex)
{
	char ns[32];
	unsigned int ifindex;

	start();
	away_ns(ns, sizeof(ns));
	ifindex = if_nametoindex("xa0");
	cr_assert_eq(X("-j", "attach", "xa0"), 0, "attach: %s", R.err);
	if (jbool(out_json(&R), "dispatcher")) {
		/* libxdp keeps a dispatcher's state under the ifindex it attached at, so under
		 * another one it cannot list the dispatcher's programs, and neither can xoff. */
		X("detach", "xa0");
		skip("libxdp's dispatcher: a device back under another ifindex cannot be "
		     "matched to its programs (libxdp's pins name the old ifindex)");
	}
	cr_assert_eq(sh("ip link set dev xa0 netns %s", ns), 0);
	cr_assert_eq(sh("ip link add name xc0 index %u type veth peer name xc1", ifindex), 0,
		     "ip link add ... index");
	cr_assert_eq(sh("ip -n %s link set dev xa0 netns /proc/%d/ns/net", ns, (int)getpid()), 0);
	cr_assert_neq(if_nametoindex("xa0"), ifindex);
	cr_assert_eq(X("-j", "detach", "xa0"), 0, "detach: %s", R.err);
	cr_assert_eq(sh("ip link show dev xa0 | grep -q 'prog/xdp'"), 1, "XDP left on xa0");
	expect_no_pins();
	sh("ip netns del %s", ns);
}

/* ---- 9: probe ------------------------------------------------------------------------------- */

Test(attach, probe)
{
	json_t *o, *d, *k;

	start();
	cr_assert_eq(X("-j", "probe", "xa0"), 0, "probe: %s", R.err);
	o = out_json(&R);
	d = json_object_get(o, "device");
	k = json_object_get(o, "kernel");
	cr_assert_str_eq(jstr(d, "name"), "xa0");
	cr_assert_eq(jint(d, "ifindex"), ifidx("xa0"));
	cr_assert_str_eq(jstr(d, "driver"), "veth");
	/* XDP features are reported from 6.3 on (netdev netlink); before, "unknown". */
	if (json_is_true(json_object_get(k, "xdp_features_netlink")))
		cr_assert(jbool(d, "xdp_native"), "veth has native XDP: '%s'", R.out);
	else
		cr_assert(json_is_null(json_object_get(d, "xdp_native")), "'%s'", R.out);
	cr_assert(jbool(d, "up"));
	cr_assert_eq(jint(d, "mtu"), 1500);
	cr_assert(jbool(k, "btf"), "'%s'", R.out);
	json_decref(o);
	cr_assert_eq(X("-j", "probe", "lo"), 0, "probe lo: %s", R.err);
	o = out_json(&R);
	if (json_is_true(json_object_get(json_object_get(o, "kernel"), "xdp_features_netlink")))
		cr_assert(json_is_false(json_object_get(json_object_get(o, "device"), "xdp_native")),
			  "lo: '%s'", R.out);
	json_decref(o);
	/* Read-only: nothing pinned, nothing attached. */
	expect_no_pins();
	expect_clean("xa0");
}

/* ---- 10: beside a running daemon ------------------------------------------------------- */

static bool log_has(const char *s)
{
	char b[16384];
	FILE *f = fopen(dlog, "r");
	size_t n;

	if (!f)
		return false;
	n = fread(b, 1, sizeof(b) - 1, f);
	fclose(f);
	b[n] = '\0';
	return strstr(b, s) != NULL;
}

/* `xoffctl run` over this test's pins, a mirror sweep every 100 ms, until it started. */
static void start_daemon(void)
{
	int i;

	fflush(stdout);
	fflush(stderr);
	dpid = fork();
	cr_assert_geq(dpid, 0);
	if (!dpid) {
		int fd = open(dlog, O_WRONLY | O_APPEND);

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fd, 2);
		execl(XOFFCTL, "xoffctl", "-P", pins, "run", "interval", "100", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500 && !log_has("started:"); i++)
		usleep(10000);
	cr_assert(log_has("started:"), "the daemon did not start");
}

Test(attach, with_daemon)
{
	json_t *a, *st, *d, *age;
	int i, code;

	start();
	start_daemon();

	cr_assert_eq(X("-j", "attach", "xa0"), 0, "attach: %s", R.err);
	a = out_json(&R);
	cr_assert_eq(jint(a, "daemon_pid"), dpid, "'%s'", R.out);
	cr_assert(!jbool(a, "synced"), "the daemon syncs, not attach: '%s'", R.out);
	json_decref(a);

	/* A mirror sweep every 100 ms: its age stays well under 2 s. */
	for (i = 0;; i++) {
		st = status();
		d = json_object_get(st, "daemon");
		age = json_object_get(d, "last_mirror_age_s");
		if (json_is_number(age) || i == 50)
			break;
		json_decref(st);
		usleep(20000);
	}
	cr_assert(jbool(d, "running"), "'%s'", R.out);
	cr_assert_eq(jint(d, "pid"), dpid);
	cr_assert(json_is_number(age), "no mirror sweep age: '%s'", R.out);
	cr_assert_lt(json_number_value(age), 2.0, "'%s'", R.out);
	cr_assert(jbool(iface(st, "xa0"), "xdp_attached"));
	json_decref(st);

	cr_assert_eq(X("-j", "detach", "xa0"), 0, "detach: %s", R.err);
	a = out_json(&R);
	cr_assert(!jbool(a, "maps_removed"), "the daemon uses the maps: '%s'", R.out);
	cr_assert_eq(jint(a, "daemon_pid"), dpid, "'%s'", R.out);
	json_decref(a);
	expect_clean("xa0");
	cr_assert(exists(pins), "maps kept for the daemon");

	kill(dpid, SIGTERM);
	code = wait_exit(dpid);
	dpid = 0;
	cr_assert_eq(code, 0, "the daemon's exit on SIGTERM");
	expect_no_pins();
}

/* Maps of an older layout under a daemon that still runs (an older one, for all attach
 * can tell): attach refuses before it changes anything, and says why. */
Test(attach, older_maps_under_a_daemon_refused)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	char path[160], old[170];
	int fd;

	start();
	start_daemon();
	snprintf(path, sizeof(path), "%s/%s", pins, XOFF_MAP_MIRROR);
	snprintf(old, sizeof(old), "%s_v1", path);
	cr_assert_eq(unlink(path), 0);
	pin_mirror_v1(path);

	cr_assert_eq(X("attach", "xa0"), 1, "attach beside an older daemon: %s", R.err);
	cr_assert(strstr(R.err, "older xoff"), "'%s'", R.err);
	expect_clean("xa0");
	cr_assert(!exists(old), "the old records moved aside");
	fd = bpf_obj_get(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	close(fd);
	cr_expect_eq(info.value_size, sizeof(struct mirror_v1), "the old map replaced");

	kill(dpid, SIGTERM);
	cr_assert_eq(wait_exit(dpid), 0);
	dpid = 0;
}

/* ---- keep-maps ------------------------------------------------------------------------------ */

Test(attach, keep_maps)
{
	const char *devs[] = { "xa0" };
	json_t *a, *st;

	start();
	cr_assert_eq(X("attach", "xa0", "cpus", "0"), 0, "attach: %s", R.err);
	cr_assert_eq(X("-j", "detach", "xa0", "keep-maps"), 0, "detach: %s", R.err);
	a = out_json(&R);
	cr_assert(!jbool(a, "maps_removed"), "'%s'", R.out);
	json_decref(a);
	expect_clean("xa0");
	expect_pins(devs, 0);
	st = status();
	cr_assert(jbool(st, "loaded"));
	cr_assert_eq(json_array_size(ifaces(st)), 0, "'%s'", R.out);
	json_decref(st);
	/* The next attach uses the maps that were kept, steering CPUs included. */
	cr_assert_eq(X("attach", "xa0"), 0, "attach: %s", R.err);
	st = status();
	cr_assert_eq(json_array_size(json_object_get(json_object_get(st, "maps"),
						     "steering_cpus")), 1, "'%s'", R.out);
	json_decref(st);
	expect_pins(devs, 1);
	cr_assert_eq(X("detach", "xa0"), 0, "detach: %s", R.err);
	expect_clean("xa0");
	expect_no_pins();
}

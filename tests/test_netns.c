// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Pin directories per network namespace (user/pins.c): recognizing `ip netns exec` from a
 * mount table, the owner record, and xoffctl driven as operators drive it, through
 * `ip netns exec NS xoffctl ...` without -P and without a bpffs mounted by hand.
 *
 *   suite pins: pure functions (mountinfo texts, owner comparisons), no privileges.
 *   suite netns, as root, in the test process's own mount namespace (the anchor that
 *   `ip netns exec` is started from; a private bpffs on its /sys/fs/bpf, gone with it):
 *
 *     netns xnt<pid>-a: lo, v0 <-veth-> v1      netns xnt<pid>-b: lo, v0 <-veth-> v1
 *        pins: /sys/fs/bpf/xoff/net-<ino a>        pins: /sys/fs/bpf/xoff/net-<ino b>
 *
 *   The test process's own network namespace (unshared) holds xa0 <-veth-> xa1 for the
 *   commands run without `ip netns exec`. .fini kills a daemon left running, deletes the
 *   namespaces and the daemons' lock files, and unmounts. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <linux/magic.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <jansson.h>
#include <bpf/bpf.h>
#include "proc.h"
#include "pins.h"

#define XOFFCTL		XOFF_OUT "/xoffctl"
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- suite pins: which /sys a mount table shows ------------------------------------------ */

/* Arrays, not pointers: Criterion hands each parameter to another process. */
struct mi_case {
	char	what[40];
	char	text[256];
	int	ret;		/* of xpin_sysfs_source() */
	char	source[16];	/* when ret is 0 */
};

/* Lines as the kernel writes /proc/PID/mountinfo (show_mountinfo()). */
#define MI_ROOT	"27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
#define MI_PROC	"22 27 0:21 / /proc rw,relatime shared:12 - proc proc rw\n"
#define MI_HOST	"23 27 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw\n"
/* What `ip netns exec blue` leaves: the host's /sys detached, a sysfs named "blue". */
#define MI_BLUE	"901 900 0:95 / /sys rw,relatime - sysfs blue rw\n"

ParameterizedTestParameters(pins, sysfs_source)
{
	static struct mi_case cases[] = {
		{ "host", MI_ROOT MI_PROC MI_HOST, 0, "sysfs" },
		{ "ip netns exec", MI_ROOT MI_PROC MI_BLUE, 0, "blue" },
		{ "no optional fields", MI_ROOT "30 27 0:40 / /sys rw - sysfs sys rw\n", 0, "sys" },
		{ "several optional fields",
		  "30 27 0:40 / /sys rw shared:5 master:2 propagate_from:1 - sysfs x rw\n", 0, "x" },
		/* umount2("/sys") failed: iproute2 mounts over it; the last one shows. */
		{ "mounted over", MI_ROOT MI_HOST "902 23 0:96 / /sys ro,relatime - sysfs red ro\n",
		  0, "red" },
		{ "over, then the other way", MI_BLUE MI_HOST, 0, "sysfs" },
		{ "escaped space", "31 27 0:41 / /sys rw - sysfs my\\040net rw\n", 0, "my net" },
		{ "escaped tab and backslash", "31 27 0:41 / /sys rw - sysfs a\\011b\\134c rw\n",
		  0, "a\tb\\c" },
		{ "no trailing newline", "31 27 0:41 / /sys rw - sysfs last rw", 0, "last" },
		{ "no /sys", MI_ROOT MI_PROC, -ENOENT, "" },
		{ "/sys is no sysfs", MI_ROOT "40 27 0:50 / /sys rw - tmpfs tmpfs rw\n", -ENOENT,
		  "" },
		{ "sysfs hidden by a tmpfs", MI_HOST "41 23 0:51 / /sys rw - tmpfs none rw\n",
		  -ENOENT, "" },
		{ "a mount below /sys is not /sys", MI_ROOT
		  "31 23 0:28 / /sys/fs/cgroup rw - sysfs cg rw\n", -ENOENT, "" },
		{ "an escaped mount point is not /sys", "31 27 0:41 / /sys\\040x rw - sysfs s rw\n",
		  -ENOENT, "" },
		{ "truncated line", "31 27 0:41 / /sys rw - sysfs\n", -ENOENT, "" },
		{ "empty", "", -ENOENT, "" },
	};

	return cr_make_param_array(struct mi_case, cases, ARRAY_SIZE(cases));
}

ParameterizedTest(struct mi_case *c, pins, sysfs_source)
{
	char src[64] = "unchanged";
	int ret = xpin_sysfs_source(c->text, src, sizeof(src));

	cr_assert_eq(ret, c->ret, "%s: returned %d, not %d", c->what, ret, c->ret);
	if (!c->ret)
		cr_assert_str_eq(src, c->source, "%s", c->what);
}

/* A source longer than the buffer is cut, never overrun. */
Test(pins, sysfs_source_cut)
{
	char src[8];

	memset(src, 'x', sizeof(src));
	cr_assert_eq(xpin_sysfs_source("1 2 0:3 / /sys rw - sysfs abcdefghijkl rw\n", src, 5), 0);
	cr_assert_str_eq(src, "abcd");
	cr_assert_eq(src[5], 'x', "written beyond the length given");
}

struct owner_case {
	char			what[32];
	struct xoff_netns	owner, self;
	enum xpin_owner		want;
};

ParameterizedTestParameters(pins, owner_cmp)
{
	static struct owner_case cases[] = {
		{ "no record", { 0, 0 }, { 7, 100 }, XPIN_OWNER_NONE },
		{ "this one", { 7, 100 }, { 7, 100 }, XPIN_OWNER_SELF },
		{ "another one", { 8, 101 }, { 7, 100 }, XPIN_OWNER_OTHER },
		/* The kernel gave the inode to a new namespace: the owner is gone. */
		{ "inode reused", { 3, 100 }, { 7, 100 }, XPIN_OWNER_GONE },
		/* Cookies decide when both are known, even if an inode scheme changes. */
		{ "same cookie", { 7, 555 }, { 7, 100 }, XPIN_OWNER_SELF },
		/* A kernel without SO_NETNS_COOKIE: the inode alone. */
		{ "no cookies, same inode", { 0, 100 }, { 0, 100 }, XPIN_OWNER_SELF },
		{ "no cookies, other inode", { 0, 101 }, { 0, 100 }, XPIN_OWNER_OTHER },
		{ "recorded without cookie", { 0, 100 }, { 7, 100 }, XPIN_OWNER_SELF },
		{ "no cookie here", { 7, 101 }, { 0, 100 }, XPIN_OWNER_OTHER },
	};

	return cr_make_param_array(struct owner_case, cases, ARRAY_SIZE(cases));
}

ParameterizedTest(struct owner_case *c, pins, owner_cmp)
{
	cr_assert_eq(xpin_owner_cmp(&c->owner, &c->self), c->want, "%s", c->what);
}

/* The default directory names this namespace's inode, as `readlink /proc/self/ns/net`. */
Test(pins, default_dir)
{
	char dir[200], want[64], link[64];
	ssize_t n = readlink("/proc/self/ns/net", link, sizeof(link) - 1);
	unsigned long long ino;

	cr_assert_gt(n, 0);
	link[n] = '\0';
	cr_assert_eq(sscanf(link, "net:[%llu]", &ino), 1, "'%s'", link);
	snprintf(want, sizeof(want), "/sys/fs/bpf/xoff/net-%llu", ino);
	cr_assert_eq(xpin_default_dir(dir, sizeof(dir)), 0);
	cr_assert_str_eq(dir, want);
	cr_assert_eq(xpin_default_dir(dir, 20), -ENAMETOOLONG);
}

/* This process is under no `ip netns exec`: nothing recognized, nothing entered. */
Test(pins, not_under_ip_netns_exec)
{
	struct xerr e = { "" };
	char name[64];
	struct stat a, b;

	cr_assert_eq(xpin_ipnetns(0, name, sizeof(name)), 0);
	cr_assert_eq(stat("/proc/self/ns/mnt", &a), 0);
	cr_assert_eq(xpin_enter_anchor(&e), 0, "%s", e.msg);
	cr_assert_eq(stat("/proc/self/ns/mnt", &b), 0);
	cr_assert_eq(a.st_ino, b.st_ino, "the mount namespace changed");
}

/* ---- suite netns: the system ------------------------------------------------------------- */

static char na[32], nb[32];	/* the namespaces' names */
static bool ready, sys_bpf;
static int netns_err;
static pid_t dpid;		/* a daemon a test started */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[768];
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

static ino_t ino_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : st.st_ino;
}

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

static void nsetup(void)
{
	ino_t mnt = ino_of("/proc/self/ns/mnt");

	if (geteuid() != 0)
		return;		/* each test says SKIP */
	if (unshare(CLONE_NEWNET) || unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		netns_err = errno;
		return;
	}
	cr_assert_neq(ino_of("/proc/self/ns/mnt"), mnt);
	/* The anchor's bpffs, private: it goes with this process. */
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
		netns_err = errno;
		return;
	}
	sys_bpf = true;
	unsetenv("LIBXDP_BPFFS");
	snprintf(na, sizeof(na), "xnt%d-a", (int)getpid());
	snprintf(nb, sizeof(nb), "xnt%d-b", (int)getpid());
	cr_assert_eq(sh("ip link set lo up"), 0);
	ready = true;
}

static void lock_unlink(ino_t ino)
{
	char path[96];

	snprintf(path, sizeof(path), "/run/xoff/daemon-netns-%llu.lock", (unsigned long long)ino);
	unlink(path);
}

static void nteardown(void)
{
	char path[64];
	int st;

	if (dpid > 0) {
		kill(dpid, SIGKILL);
		waitpid(dpid, &st, 0);
		dpid = 0;
	}
	if (ready) {
		lock_unlink(ino_of("/proc/self/ns/net"));
		snprintf(path, sizeof(path), "/run/netns/%s", na);
		lock_unlink(ino_of(path));
		snprintf(path, sizeof(path), "/run/netns/%s", nb);
		lock_unlink(ino_of(path));
		sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null", na, nb);
	}
	/* /sys/fs/bpf as a test left it: its own mount, or the one xoffctl made. */
	while (is_bpffs("/sys/fs/bpf") && !umount2("/sys/fs/bpf", MNT_DETACH))
		;
	sys_bpf = false;
}

TestSuite(netns, .init = nsetup, .fini = nteardown, .timeout = 90);

static void start(void)
{
	if (geteuid() != 0)
		cr_skip_test("SKIP: needs root (namespaces, bpffs, XDP)");
	if (netns_err)
		cr_skip_test("SKIP: cannot make namespaces or mount bpffs: %s", strerror(netns_err));
	cr_assert(ready, "suite setup did not run");
	if (access(XOFFCTL, X_OK))
		cr_skip_test("SKIP: %s not built", XOFFCTL);
	if (sh("ip netns add %s && ip netns add %s", na, nb))
		cr_skip_test("SKIP: ip netns add failed");
	if (sh("ip -n %s link add v0 type veth peer name v1 2>/dev/null", na))
		cr_skip_test("SKIP: no veth devices in this kernel");
	cr_assert_eq(sh("ip -n %s link add v0 type veth peer name v1", nb), 0);
	cr_assert_eq(sh("for n in %s %s; do ip -n $n link set lo up && ip -n $n link set v0 up "
			"&& ip -n $n link set v1 up || exit 1; done", na, nb), 0);
	cr_assert_eq(sh("ip link add xa0 type veth peer name xa1 && ip link set xa0 up && "
			"ip link set xa1 up"), 0);
}

/* ---- running xoffctl --------------------------------------------------------------------- */

struct run {
	int	status;
	char	out[1 << 16];
	char	err[1 << 14];
};

static struct run R;

/* `ip netns exec NS xoffctl ARGS...` (@ns NULL: xoffctl in this process's namespaces)
 * into @r: its exit code. */
static int xrun(struct run *r, const char *ns, char *const args[])
{
	char *argv[40];
	FILE *o = tmpfile(), *e = tmpfile();
	int n = 0, i, st;
	pid_t pid;

	cr_assert(o && e, "tmpfile: %s", strerror(errno));
	if (ns) {
		argv[n++] = "ip";
		argv[n++] = "netns";
		argv[n++] = "exec";
		argv[n++] = (char *)ns;
	}
	argv[n++] = XOFFCTL;
	for (i = 0; args[i] && n < 39; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		int nul = open("/dev/null", O_RDONLY);

		if (nul < 0 || dup2(nul, 0) < 0 || dup2(fileno(o), 1) < 0 || dup2(fileno(e), 2) < 0)
			_exit(125);
		execvp(argv[0], argv);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	slurp(o, r->out, sizeof(r->out));
	slurp(e, r->err, sizeof(r->err));
	cr_assert(WIFEXITED(st), "%s killed by signal %d", argv[0], WTERMSIG(st));
	r->status = WEXITSTATUS(st);
	cr_assert_neq(r->status, 127, "exec %s failed", argv[0]);
	return r->status;
}

/* In namespace NS (a char *, NULL for this process's): exit code, output in R. */
#define XN(ns, ...)	xrun(&R, (ns), (char *[]){ __VA_ARGS__, NULL })

static json_t *out_json(void)
{
	json_error_t err;
	json_t *o = json_loads(R.out, 0, &err);

	cr_assert_not_null(o, "stdout is not JSON (%s): '%s' (stderr '%s')", err.text, R.out,
			   R.err);
	return o;
}

static void err_has(const char *part)
{
	cr_assert(strstr(R.err, part), "stderr '%s' does not say '%s'", R.err, part);
}

/* The inode of namespace @ns (NULL: this process's). */
static unsigned long long ns_ino(const char *ns)
{
	char path[64];

	if (!ns)
		return ino_of("/proc/self/ns/net");
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	return ino_of(path);
}

/* The default pin directory of @ns, as xoffctl must pick it. */
static const char *dir_of(const char *ns, char *buf, size_t len)
{
	snprintf(buf, len, "/sys/fs/bpf/xoff/net-%llu", ns_ino(ns));
	return buf;
}

/* The owner recorded in @dir: 0, or -ENOENT. */
static int owner_of(const char *dir, struct xoff_netns *o)
{
	char path[256];
	__u32 zero = 0;
	int fd, err;

	snprintf(path, sizeof(path), "%s/xoff_netns", dir);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	err = bpf_map_lookup_elem(fd, &zero, o) ? -errno : 0;
	close(fd);
	return err;
}

static void owner_set(const char *dir, const struct xoff_netns *o)
{
	char path[256];
	__u32 zero = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/xoff_netns", dir);
	fd = bpf_obj_get(path);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(bpf_map_update_elem(fd, &zero, o, 0), 0);
	close(fd);
}

/* The cookie of @ns from the kernel (SO_NETNS_COOKIE on a socket made in it), 0 if none. */
static __u64 cookie_of(const char *ns)
{
	char cmd[320];
	unsigned long long c = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ip netns exec %s python3 -c 'import socket; s = "
		 "socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); print(int.from_bytes("
		 "s.getsockopt(1, 71, 8), \"little\"))' 2>/dev/null", ns);
	f = popen(cmd, "r");
	if (f && fscanf(f, "%llu", &c) != 1)
		c = 0;
	if (f)
		pclose(f);
	return c;
}

/* What a pin directory holds, as one string: its names (and dev-* contents) sorted, the
 * interface records and the owner record. Equal before and after: nothing changed. */
static void snapshot(const char *dir, char *buf, size_t len)
{
	struct dirent **names;
	struct xoff_iface rec;
	struct xoff_netns own = { 0, 0 };
	char path[256];
	__u32 k, next, *prev = NULL;
	size_t at = 0;
	int n, i, fd;

	buf[0] = '\0';
	n = scandir(dir, &names, NULL, alphasort);
	for (i = 0; i < n; i++) {
		at += snprintf(buf + at, len - at, "%s ", names[i]->d_name);
		free(names[i]);
	}
	if (n >= 0)
		free(names);
	snprintf(path, sizeof(path), "%s/xoff_ifaces", dir);
	fd = bpf_obj_get(path);
	while (fd >= 0 && !bpf_map_get_next_key(fd, prev, &next) && at < len) {
		if (!bpf_map_lookup_elem(fd, &next, &rec))
			at += snprintf(buf + at, len - at, "[%u %s %u %u]", rec.ifindex, rec.name,
				       rec.xdp_prog_id, rec.tc_prog_id);
		k = next;
		prev = &k;
	}
	if (fd >= 0)
		close(fd);
	owner_of(dir, &own);
	if (at < len)
		snprintf(buf + at, len - at, " owner %llu/%llu", (unsigned long long)own.cookie,
			 (unsigned long long)own.ino);
}

static bool exists(const char *path)
{
	struct stat st;

	return !stat(path, &st);
}

/* The id of the XDP program on @dev in @ns from ip(8), 0 if none. */
static unsigned int xdp_id(const char *ns, const char *dev)
{
	char cmd[160], line[512];
	unsigned int id = 0;
	FILE *f;
	char *p;

	snprintf(cmd, sizeof(cmd), "ip %s%s -d link show dev %s", ns ? "-n " : "", ns ? ns : "",
		 dev);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if ((p = strstr(line, "prog/xdp id ")))
			id = strtoul(p + 12, NULL, 10);
	pclose(f);
	return id;
}

/* `-j status` of @ns, which must exit 0. */
static json_t *status(const char *ns)
{
	cr_assert_eq(XN(ns, "-j", "status"), 0, "status in %s: %s", ns ? ns : "here", R.err);
	return out_json();
}

static size_t nifaces(json_t *st)
{
	return json_array_size(json_object_get(st, "interfaces"));
}

/* ---- 1: two namespaces through ip netns exec, no -P ------------------------------------- */

Test(netns, ip_netns_exec_per_namespace)
{
	char da[200], db[200], sa[4096], sb[4096];
	struct xoff_netns oa, ob;
	json_t *st;
	unsigned int ia;

	start();
	dir_of(na, da, sizeof(da));
	dir_of(nb, db, sizeof(db));
	cr_assert_neq(ns_ino(na), ns_ino(nb));

	cr_assert_eq(XN(na, "attach", "v0"), 0, "attach in %s: %s", na, R.err);
	cr_assert(exists(da), "%s: not where the pins must be (stderr '%s')", da, R.err);
	cr_assert(!exists(db));
	cr_assert_eq(XN(nb, "attach", "v0"), 0, "attach in %s: %s", nb, R.err);
	cr_assert(exists(db), "%s", db);
	/* One anchor: the pins outlive every `ip netns exec`, each namespace has its own. */
	cr_assert_eq(owner_of(da, &oa), 0);
	cr_assert_eq(owner_of(db, &ob), 0);
	cr_assert_eq(oa.ino, ns_ino(na));
	cr_assert_eq(ob.ino, ns_ino(nb));
	if (cookie_of(na))
		cr_assert_eq(oa.cookie, cookie_of(na), "the cookie of %s", na);
	else
		fprintf(stderr, "note: no python3 or no SO_NETNS_COOKIE: cookies not compared\n");
	cr_assert_neq(oa.cookie, ob.cookie);

	st = status(na);
	cr_assert_str_eq(json_string_value(json_object_get(st, "pin_dir")), da);
	cr_assert(json_is_true(json_object_get(st, "loaded")));
	cr_assert_eq(nifaces(st), 1, "'%s'", R.out);
	json_decref(st);
	st = status(nb);
	cr_assert_str_eq(json_string_value(json_object_get(st, "pin_dir")), db);
	json_decref(st);
	cr_assert_eq(XN(na, "-j", "sa", "list"), 0, "sa list: %s", R.err);
	cr_assert(json_is_array(out_json()), "'%s'", R.out);
	cr_assert_eq(XN(nb, "-j", "stats"), 0, "stats: %s", R.err);
	cr_assert_eq(XN(nb, "metrics"), 0, "metrics: %s", R.err);
	cr_assert(strstr(R.out, "\nxoff_loaded 1\n"), "'%s'", R.out);

	/* Detaching one leaves the other as it was. */
	ia = xdp_id(na, "v0");
	cr_assert_gt(ia, 0);
	snapshot(da, sa, sizeof(sa));
	cr_assert_eq(XN(nb, "detach", "v0"), 0, "detach in %s: %s", nb, R.err);
	cr_assert(!exists(db), "%s stays after the last detach", db);
	snapshot(da, sb, sizeof(sb));
	cr_assert_str_eq(sa, sb, "%s changed", da);
	cr_assert_eq(xdp_id(na, "v0"), ia);
	cr_assert_eq(xdp_id(nb, "v0"), 0);
	st = status(na);
	cr_assert_eq(nifaces(st), 1);
	json_decref(st);
	cr_assert_eq(XN(na, "detach", "v0"), 0, "detach in %s: %s", na, R.err);
	cr_assert(!exists(da));
	cr_assert_eq(xdp_id(na, "v0"), 0);
}

/* The daemon under ip netns exec: it starts, status and attach find it, it stops. */
Test(netns, ip_netns_exec_daemon)
{
	char da[200];
	json_t *st, *a;
	int i, code;

	start();
	dir_of(na, da, sizeof(da));
	fflush(stdout);
	fflush(stderr);
	dpid = fork();
	cr_assert_geq(dpid, 0);
	if (!dpid) {
		int nul = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(nul, 1);
		dup2(nul, 2);
		execlp("ip", "ip", "netns", "exec", na, XOFFCTL, "run", "interval", "100",
		       (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 400; i++) {
		st = status(na);
		if (json_is_true(json_object_get(json_object_get(st, "daemon"), "running")))
			break;
		json_decref(st);
		st = NULL;
		usleep(25000);
	}
	cr_assert_not_null(st, "the daemon in %s never ran: '%s'", na, R.out);
	cr_assert_eq(json_integer_value(json_object_get(json_object_get(st, "daemon"), "pid")),
		     dpid, "'%s'", R.out);
	json_decref(st);
	/* The other namespace has none. */
	st = status(nb);
	cr_assert(!json_is_true(json_object_get(json_object_get(st, "daemon"), "running")));
	json_decref(st);

	cr_assert_eq(XN(na, "-j", "attach", "v0"), 0, "attach: %s", R.err);
	a = out_json();
	cr_assert_eq(json_integer_value(json_object_get(a, "daemon_pid")), dpid, "'%s'", R.out);
	json_decref(a);
	cr_assert_eq(XN(na, "detach", "v0"), 0, "detach: %s", R.err);
	cr_assert(exists(da), "the daemon uses the maps");
	kill(dpid, SIGTERM);
	code = wait_exit(dpid);
	dpid = 0;
	cr_assert_eq(code, 0, "the daemon's exit on SIGTERM");
	cr_assert(!exists(da), "no interface, no daemon: %s stays", da);
}

/* ---- 2: another namespace's directory ------------------------------------------------------ */

Test(netns, other_namespace_refused)
{
	static const char *const cmds[][4] = {
		{ "attach", "v1" }, { "attach", "v0" }, { "detach", "v0" }, { "status" },
		{ "-j", "sa", "list" }, { "stats" }, { "policy", "list" }, { "metrics" },
		{ "run" },
	};
	char da[200], before[4096], after[4096], want[64];
	unsigned int ia;
	size_t k;

	start();
	dir_of(na, da, sizeof(da));
	cr_assert_eq(XN(na, "attach", "v0"), 0, "attach in %s: %s", na, R.err);
	ia = xdp_id(na, "v0");
	snapshot(da, before, sizeof(before));
	snprintf(want, sizeof(want), "net:[%llu] '%s'", ns_ino(na), na);
	for (k = 0; k < ARRAY_SIZE(cmds); k++) {
		char *args[8] = { "-P", da };
		int j;

		for (j = 0; j < 4 && cmds[k][j]; j++)
			args[2 + j] = (char *)cmds[k][j];
		cr_assert_eq(xrun(&R, nb, args), 1, "%s %s from %s: exit %d, stderr '%s'",
			     cmds[k][0], cmds[k][1] ? cmds[k][1] : "", nb, R.status, R.err);
		err_has("belongs to network namespace");
		err_has(want);
		err_has(nb);
		cr_assert(!strchr(R.err, '\n') || !strchr(R.err, '\n')[1], "one line: '%s'", R.err);
		snapshot(da, after, sizeof(after));
		cr_assert_str_eq(before, after, "%s %s changed %s", cmds[k][0],
				 cmds[k][1] ? cmds[k][1] : "", da);
		cr_assert_eq(xdp_id(na, "v0"), ia);
		cr_assert_eq(xdp_id(nb, "v0"), 0, "%s", cmds[k][0]);
		cr_assert_eq(xdp_id(nb, "v1"), 0, "%s", cmds[k][0]);
	}
	/* JSON callers get the message as JSON too. */
	cr_assert_eq(XN(nb, "-j", "-P", da, "status"), 1);
	cr_assert(strstr(R.out, "\"error\"") && strstr(R.out, "belongs to"), "'%s'", R.out);
	/* And a namespace without `ip netns exec`: this process's own. */
	cr_assert_eq(XN(NULL, "-P", da, "detach", "v0"), 1, "stderr '%s'", R.err);
	err_has("belongs to network namespace");
	snapshot(da, after, sizeof(after));
	cr_assert_str_eq(before, after);
	cr_assert_eq(XN(na, "detach", "v0"), 0, "detach in %s: %s", na, R.err);
	cr_assert(!exists(da));
}

/* The owner's inode, a new namespace's now (the kernel reuses them): the owner is gone.
 * Readers see nothing pinned, detach finds nothing, attach and run start over. */
Test(netns, gone_owner_replaced)
{
	struct xoff_netns own, now;
	char da[200];
	json_t *st;

	start();
	dir_of(na, da, sizeof(da));
	cr_assert_eq(XN(na, "attach", "v0", "no-tc"), 0, "attach: %s", R.err);
	cr_assert_eq(owner_of(da, &own), 0);
	if (!own.cookie)
		cr_skip_test("SKIP: no SO_NETNS_COOKIE on this kernel: a reused inode cannot be told");
	own.cookie += 1000000;	/* an earlier namespace with this inode */
	owner_set(da, &own);

	st = status(na);
	cr_assert(json_is_false(json_object_get(st, "loaded")), "'%s'", R.out);
	cr_assert_eq(nifaces(st), 0, "'%s'", R.out);
	json_decref(st);
	cr_assert_eq(XN(na, "detach", "v0"), 1, "stdout '%s'", R.out);
	err_has("not attached");
	err_has("which is gone");
	cr_assert(exists(da));

	/* The program the gone namespace left on v0 is not xoff's to know any more. */
	cr_assert_eq(sh("ip -n %s link set dev v0 xdp off", na), 0);
	cr_assert_eq(XN(na, "attach", "v1", "no-tc"), 0, "attach: %s", R.err);
	err_has("which is gone: its maps were removed");
	cr_assert_eq(owner_of(da, &now), 0);
	cr_assert_eq(now.ino, ns_ino(na));
	cr_assert_eq(now.cookie, own.cookie - 1000000);
	st = status(na);
	cr_assert_eq(nifaces(st), 1, "only v1, the old record of v0 gone: '%s'", R.out);
	json_decref(st);
	cr_assert_eq(XN(na, "detach", "v1"), 0, "detach: %s", R.err);
	cr_assert(!exists(da));
}

/* An owner no process and no name is in: refused all the same (a bind mount or a socket
 * may hold it), with a hint that it may be gone. */
Test(netns, unreachable_owner_refused)
{
	struct xoff_netns fake = { .cookie = 1, .ino = 12345 };
	char da[200], before[4096], after[4096];

	start();
	dir_of(na, da, sizeof(da));
	cr_assert_eq(XN(na, "attach", "v0", "no-tc"), 0, "attach: %s", R.err);
	owner_set(da, &fake);
	snapshot(da, before, sizeof(before));
	cr_assert_eq(XN(na, "status"), 1, "stdout '%s'", R.out);
	err_has("belongs to network namespace net:[12345] (cookie 1)");
	err_has("if it is gone, remove the directory");
	cr_assert_eq(XN(na, "attach", "v1"), 1);
	err_has("belongs to network namespace net:[12345]");
	snapshot(da, after, sizeof(after));
	cr_assert_str_eq(before, after);
	/* What the operator does then. */
	cr_assert_eq(sh("rm -r %s && ip -n %s link set dev v0 xdp off", da, na), 0);
	cr_assert_eq(XN(na, "attach", "v0", "no-tc"), 0, "attach: %s", R.err);
	cr_assert_eq(XN(na, "detach", "v0"), 0, "detach: %s", R.err);
	cr_assert(!exists(da));
}

/* ---- 3: no bpffs mounted, no ip netns exec (a host, a container) --------------------------- */

Test(netns, plain_attach_mounts_bpffs)
{
	char d[200];
	json_t *st;

	start();
	dir_of(NULL, d, sizeof(d));
	/* Ours, and in the VM the copy of its own (private here: the VM keeps it). */
	while (is_bpffs("/sys/fs/bpf"))
		cr_assert_eq(umount2("/sys/fs/bpf", MNT_DETACH), 0, "%s", strerror(errno));
	/* Readers mount nothing. */
	st = status(NULL);
	cr_assert(json_is_false(json_object_get(st, "loaded")));
	cr_assert_str_eq(json_string_value(json_object_get(st, "pin_dir")), d);
	json_decref(st);
	cr_assert(!is_bpffs("/sys/fs/bpf"), "status mounted a bpffs");

	cr_assert_eq(XN(NULL, "attach", "xa0"), 0, "attach: %s", R.err);
	cr_assert(is_bpffs("/sys/fs/bpf"), "attach mounted no bpffs on /sys/fs/bpf");
	cr_assert(exists(d), "%s", d);
	st = status(NULL);
	cr_assert_eq(nifaces(st), 1, "'%s'", R.out);
	json_decref(st);
	cr_assert_eq(XN(NULL, "detach", "xa0"), 0, "detach: %s", R.err);
	cr_assert(!exists(d));
	/* .fini unmounts what attach mounted (it stays, as systemd's would). */
}

/* ---- 4: out of reach: the anchor, under another pid namespace -------------------------- */

Test(netns, anchor_out_of_reach)
{
	char d[200];

	start();
	if (sh("command -v unshare >/dev/null"))
		cr_skip_test("SKIP: no unshare(1)");
	/* In a pid namespace of its own, xoffctl is pid 1: no ancestor to leave for. */
	cr_assert_eq(sh("ip netns exec %s unshare --pid --fork --mount-proc %s attach v0 "
			">/dev/null 2>/tmp/xnt%d.err", na, XOFFCTL, (int)getpid()), 1);
	snprintf(d, sizeof(d), "/tmp/xnt%d.err", (int)getpid());
	{
		FILE *f = fopen(d, "r");
		size_t n = f ? fread(R.err, 1, sizeof(R.err) - 1, f) : 0;

		R.err[n] = '\0';
		if (f)
			fclose(f);
		unlink(d);
	}
	err_has("ip netns exec");
	err_has(na);
	err_has("-P");
	cr_assert_eq(xdp_id(na, "v0"), 0, "attach changed v0");
	cr_assert(!exists(dir_of(na, d, sizeof(d))));
}

/* ---- 5: the layout of an older xoff ------------------------------------------------------ */

/* An older xoff's pins, straight in /sys/fs/bpf/xoff and without an owner record. */
static void flat_attach(const char *ns, const char *dev)
{
	cr_assert_eq(XN(ns, "-P", "/sys/fs/bpf/xoff", "attach", (char *)dev), 0, "attach: %s",
		     R.err);
	cr_assert_eq(unlink("/sys/fs/bpf/xoff/xoff_netns"), 0);
}

Test(netns, old_layout_moved)
{
	char d[200], path[256];
	unsigned int id;
	json_t *st;

	start();
	dir_of(na, d, sizeof(d));
	flat_attach(na, "v0");
	id = xdp_id(na, "v0");
	/* A reader says where they are, and moves nothing. */
	st = status(na);
	cr_assert(json_is_false(json_object_get(st, "loaded")), "'%s'", R.out);
	json_decref(st);
	err_has("an older xoff");
	err_has("/sys/fs/bpf/xoff");
	cr_assert(exists("/sys/fs/bpf/xoff/xoff_sas"));
	cr_assert(!exists(d));

	/* A writer in the namespace they serve moves them. */
	cr_assert_eq(XN(na, "attach", "v1"), 0, "attach: %s", R.err);
	err_has("moved to");
	cr_assert(!exists("/sys/fs/bpf/xoff/xoff_sas"), "left in the old place");
	cr_assert(!exists("/sys/fs/bpf/xoff/xoff_ifaces"), "left in the old place");
	snprintf(path, sizeof(path), "%s/xoff_ifaces", d);
	cr_assert(exists(path), "%s", path);
	st = status(na);
	cr_assert_eq(nifaces(st), 2, "v0 (moved) and v1: '%s'", R.out);
	json_decref(st);
	cr_assert_eq(xdp_id(na, "v0"), id, "v0's program");
	/* Owned now: another namespace is refused it. */
	cr_assert_eq(XN(nb, "-P", d, "status"), 1);
	err_has("belongs to");
	cr_assert_eq(XN(na, "detach", "v0"), 0, "detach v0: %s", R.err);
	cr_assert_eq(XN(na, "detach", "v1"), 0, "detach v1: %s", R.err);
	cr_assert(!exists(d));
	cr_assert_eq(xdp_id(na, "v0"), 0);
}

/* Maps of an older xoff that serve no interface of this namespace stay where they are. */
Test(netns, old_layout_left)
{
	char d[200], before[4096], after[4096];

	start();
	dir_of(nb, d, sizeof(d));
	flat_attach(na, "v0");
	snapshot("/sys/fs/bpf/xoff", before, sizeof(before));
	cr_assert_eq(XN(nb, "attach", "v0"), 0, "attach in %s: %s", nb, R.err);
	err_has("they stay");
	snapshot("/sys/fs/bpf/xoff", after, sizeof(after));
	/* The root gained nb's directory, nothing else. */
	cr_assert(strstr(after, strrchr(d, '/') + 1), "'%s'", after);
	cr_assert(exists("/sys/fs/bpf/xoff/xoff_sas"));
	cr_assert(exists(d));
	cr_assert_eq(XN(nb, "detach", "v0"), 0, "detach: %s", R.err);
	snapshot("/sys/fs/bpf/xoff", after, sizeof(after));
	cr_assert_str_eq(before, after, "the older layout changed");
	cr_assert_eq(XN(na, "-P", "/sys/fs/bpf/xoff", "detach", "v0"), 0, "%s", R.err);
}

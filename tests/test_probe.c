// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Capability probes against this machine's kernel: devices made in a private network
 * namespace (lo, veth, bridge, dummy) and the kernel's own features, each checked against
 * a reader that is not the probe: ethtool(8) when installed, the kernel's version, its
 * config read through zcat and grep. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/utsname.h>
#include <criterion/criterion.h>
#include "probe.h"

/*
 *   host netns (where the test binary started; only looked at, never changed)
 *   private netns of the test process: lo, xpv0 <-veth-> xpv1, xpb0 (bridge), xpd0 (dummy)
 *
 * Tests that add links first move their process (the one Criterion forks for the test)
 * into a network namespace of its own: the links go away with the process, even when an
 * assertion ends the test early. No named (ip netns) namespace is made.
 */
static int host_ns = -1;	/* the test process's namespace before own_netns() */
static int priv_ns = -1;

/* enum netdev_xdp_act, include/uapi/linux/netdev.h */
#define NETDEV_XDP_ACT_REDIRECT	2
#define NETDEV_XDP_ACT_RX_SG	32
#define NETDEV_XDP_ACT_MASK	127	/* all seven bits 6.18 defines */

static void probe_fini(void)
{
	if (host_ns >= 0)
		close(host_ns);
	if (priv_ns >= 0)
		close(priv_ns);
	host_ns = priv_ns = -1;
}

TestSuite(probe, .fini = probe_fini, .timeout = 30);

static void own_netns(void)
{
	if (geteuid() != 0)
		cr_skip_test("SKIP: needs root (network namespaces, links)");
	host_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(host_ns, 0, "open netns: %s", strerror(errno));
	if (unshare(CLONE_NEWNET))
		cr_skip_test("SKIP: cannot make a network namespace: %s", strerror(errno));
	priv_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(priv_ns, 0, "open netns: %s", strerror(errno));
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static bool have(const char *tool)
{
	return !sh("command -v %s >/dev/null 2>&1", tool);
}

static bool tri_ok(int v)
{
	return v == XPROBE_YES || v == XPROBE_NO;
}

/* The value of "KEY: value" in the output of @cmd, or -1 without such a line. */
static int cmd_value(const char *cmd, const char *key, char *val, size_t len)
{
	char line[256];
	size_t klen = strlen(key);
	int found = -1;
	FILE *f = popen(cmd, "r");

	cr_assert_not_null(f, "popen %s", cmd);
	while (fgets(line, sizeof(line), f)) {
		const char *p = line + strspn(line, " \t");

		if (found < 0 && !strncmp(p, key, klen) && p[klen] == ':') {
			p += klen + 1;
			p += strspn(p, " \t");
			snprintf(val, len, "%.*s", (int)strcspn(p, "\n"), p);
			found = 0;
		}
	}
	pclose(f);
	return found;
}

/* ethtool -k's verdict on @feature: 1 on, 0 off, *fixed for "[fixed]"; -1 without
 * ethtool or without the feature. */
static int ethtool_k(const char *dev, const char *feature, bool *fixed)
{
	char cmd[96], val[64];

	if (!have("ethtool"))
		return -1;
	snprintf(cmd, sizeof(cmd), "ethtool -k %s 2>/dev/null", dev);
	if (cmd_value(cmd, feature, val, sizeof(val)))
		return -1;
	*fixed = strstr(val, "[fixed]") != NULL;
	return !strncmp(val, "on", 2);
}

static void like_ethtool(const char *dev, const char *feature, int active, int avail)
{
	bool fixed;
	int on = ethtool_k(dev, feature, &fixed);

	cr_assert(tri_ok(active) && tri_ok(avail), "%s %s: %s/%s, not an answer", dev, feature,
		  xprobe_tri_str(active), xprobe_tri_str(avail));
	if (on < 0)
		return;		/* no ethtool: an answer is all that can be asked */
	cr_expect_eq(active, on ? XPROBE_YES : XPROBE_NO, "%s %s: probe says %s, ethtool -k %s",
		     dev, feature, xprobe_tri_str(active), on ? "on" : "off");
	cr_expect_eq(avail, on || !fixed ? XPROBE_YES : XPROBE_NO,
		     "%s %s: available %s, ethtool -k %s%s", dev, feature, xprobe_tri_str(avail),
		     on ? "on" : "off", fixed ? " [fixed]" : "");
}

static void esp_like_ethtool(const struct xprobe_dev *d)
{
	if (!have("ethtool"))
		fprintf(stderr, "note: %s: no ethtool -k to compare ESP features with\n", d->name);
	like_ethtool(d->name, "esp-hw-offload", d->esp_hw_offload, d->esp_hw_offload_avail);
	like_ethtool(d->name, "esp-tx-csum-hw-offload", d->esp_tx_csum, d->esp_tx_csum_avail);
	like_ethtool(d->name, "tx-esp-segmentation", d->esp_gso, d->esp_gso_avail);
}

/* The driver as ethtool -i names it ("" when the device has none); false without ethtool. */
static bool ethtool_driver(const char *dev, char *drv, size_t len)
{
	char cmd[96];

	if (!have("ethtool"))
		return false;
	snprintf(cmd, sizeof(cmd), "ethtool -i %s 2>/dev/null", dev);
	if (cmd_value(cmd, "driver", drv, len))
		drv[0] = '\0';
	return true;
}

/* The running kernel's version as major * 1000 + minor. */
static int kver(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	cr_assert_eq(uname(&u), 0);
	cr_assert_eq(sscanf(u.release, "%d.%d", &major, &minor), 2, "release %s", u.release);
	return major * 1000 + minor;
}

/* What netdev genl says about native XDP on this kernel: from 6.3 an answer, before
 * it nothing. */
static void xdp_expect(const struct xprobe_dev *d, int native)
{
	if (kver() < 6003) {
		cr_assert_eq(d->xdp_native, XPROBE_UNKNOWN, "%s: no netdev genl before 6.3", d->name);
		cr_assert_eq(d->xdp_features_known, 0);
		return;
	}
	cr_assert_eq(d->xdp_features_known, 1, "%s: xdp features not read", d->name);
	cr_assert_eq(d->xdp_native, native, "%s: xdp_native %s, features %#llx", d->name,
		     xprobe_tri_str(d->xdp_native), d->xdp_features);
	cr_assert_eq(!!(d->xdp_features & 1), native == XPROBE_YES);
	cr_assert_eq(d->xdp_features & ~(unsigned long long)NETDEV_XDP_ACT_MASK, 0,
		     "%s: xdp features %#llx: not netdev_xdp_act bits", d->name, d->xdp_features);
}

static void basics_expect(const struct xprobe_dev *d, const char *name)
{
	char drv[64];

	cr_assert_str_eq(d->name, name);
	cr_assert_eq(d->ifindex, if_nametoindex(name), "%s: ifindex %u", name, d->ifindex);
	cr_assert_gt(d->ifindex, 0);
	if (ethtool_driver(name, drv, sizeof(drv)))
		cr_assert_str_eq(d->driver, drv, "%s: driver '%s', ethtool -i says '%s'", name,
				 d->driver, drv);
	esp_like_ethtool(d);
}

/* lo in a fresh namespace is down: its state and MTU follow what ip(8) changes. */
Test(probe, lo)
{
	struct xprobe_dev d;

	own_netns();
	cr_assert_eq(xprobe_dev("lo", &d), 0);
	basics_expect(&d, "lo");
	/* loopback_ethtool_ops has no get_drvinfo and lo has no parent device */
	cr_assert_str_eq(d.driver, "");
	cr_assert_eq(d.up, 0);
	cr_assert_eq(d.mtu, 65536);
	xdp_expect(&d, XPROBE_NO);

	cr_assert_eq(sh("ip link set dev lo mtu 9000 up"), 0);
	cr_assert_eq(xprobe_dev("lo", &d), 0);
	cr_assert_eq(d.up, 1);
	cr_assert_eq(d.mtu, 9000);
}

/* veth has native XDP (BASIC, REDIRECT, RX_SG since xdp_features began) on both ends;
 * its RX metadata bits (attribute 5) would look alike, but without RX_SG. */
Test(probe, veth)
{
	static const char *const ends[] = { "xpv0", "xpv1" };
	struct xprobe_dev d;
	unsigned int i;

	own_netns();
	cr_assert_eq(sh("ip link add name xpv0 mtu 1400 type veth peer name xpv1"), 0);
	cr_assert_eq(sh("ip link set dev xpv1 up"), 0);
	for (i = 0; i < 2; i++) {
		cr_assert_eq(xprobe_dev(ends[i], &d), 0, "%s", ends[i]);
		basics_expect(&d, ends[i]);
		cr_assert_str_eq(d.driver, "veth");
		cr_assert_eq(d.mtu, i ? 1500 : 1400);
		cr_assert_eq(d.up, (int)i);
		xdp_expect(&d, XPROBE_YES);
		if (d.xdp_features_known)
			cr_assert_eq(d.xdp_features & (NETDEV_XDP_ACT_REDIRECT | NETDEV_XDP_ACT_RX_SG),
				     NETDEV_XDP_ACT_REDIRECT | NETDEV_XDP_ACT_RX_SG, "%#llx",
				     d.xdp_features);
		fprintf(stderr, "note: %s: esp %s/%s csum %s/%s gso %s/%s xdp %#llx\n", d.name,
			xprobe_tri_str(d.esp_hw_offload), xprobe_tri_str(d.esp_hw_offload_avail),
			xprobe_tri_str(d.esp_tx_csum), xprobe_tri_str(d.esp_tx_csum_avail),
			xprobe_tri_str(d.esp_gso), xprobe_tri_str(d.esp_gso_avail),
			d.xdp_features);
	}
}

/* A bridge has no native XDP (only generic). */
Test(probe, bridge_no_native_xdp)
{
	struct xprobe_dev d;

	own_netns();
	if (sh("ip link add name xpb0 type bridge 2>/dev/null")) {
		fprintf(stderr, "SKIP: no bridge support\n");
		cr_skip_test("SKIP: no bridge support");
	}
	cr_assert_eq(xprobe_dev("xpb0", &d), 0);
	basics_expect(&d, "xpb0");
	cr_assert_str_eq(d.driver, "bridge");
	xdp_expect(&d, XPROBE_NO);
}

Test(probe, dummy_no_native_xdp)
{
	struct xprobe_dev d;

	own_netns();
	if (sh("ip link add name xpd0 type dummy 2>/dev/null") &&
	    (!have("modprobe") || sh("modprobe dummy 2>/dev/null") ||
	     sh("ip link add name xpd0 type dummy 2>/dev/null"))) {
		fprintf(stderr, "SKIP: no dummy devices in this kernel\n");
		cr_skip_test("SKIP: no dummy devices in this kernel");
	}
	cr_assert_eq(xprobe_dev("xpd0", &d), 0);
	basics_expect(&d, "xpd0");
	cr_assert_str_eq(d.driver, "dummy");
	xdp_expect(&d, XPROBE_NO);
}

Test(probe, no_such_device)
{
	struct xprobe_dev d;

	cr_assert_eq(xprobe_dev("xoffnosuch0", &d), -ENODEV);
	cr_assert_eq(xprobe_dev("", &d), -EINVAL);
	cr_assert_eq(xprobe_dev("sixteen-chars-xx", &d), -EINVAL);
	cr_assert_eq(xprobe_dev(NULL, &d), -EINVAL);
	cr_assert_eq(xprobe_dev("lo", NULL), -EINVAL);
}

/* Names resolve in the caller's namespace only, in both directions. */
Test(probe, other_netns_invisible)
{
	struct if_nameindex *all, *i;
	char host_dev[IF_NAMESIZE] = "";
	struct xprobe_dev d;

	own_netns();
	cr_assert_eq(sh("ip link add name xpo0 type veth peer name xpo1"), 0);
	cr_assert_eq(setns(host_ns, CLONE_NEWNET), 0, "setns: %s", strerror(errno));
	if (if_nametoindex("xpo0"))
		fprintf(stderr, "note: the host has an xpo0 of its own; half a test\n");
	else
		cr_expect_eq(xprobe_dev("xpo0", &d), -ENODEV, "a private device seen from the host");
	all = if_nameindex();
	for (i = all; i && i->if_index; i++)
		if (strcmp(i->if_name, "lo") && strncmp(i->if_name, "xpo", 3)) {
			snprintf(host_dev, sizeof(host_dev), "%s", i->if_name);
			break;
		}
	if_freenameindex(all);
	cr_assert_eq(setns(priv_ns, CLONE_NEWNET), 0, "setns: %s", strerror(errno));
	cr_assert_eq(xprobe_dev("xpo0", &d), 0);
	if (host_dev[0])
		cr_assert_eq(xprobe_dev(host_dev, &d), -ENODEV, "host's %s seen here", host_dev);
	else
		fprintf(stderr, "note: the host has only lo; half a test\n");
}

/* Single features by name: lo's "loopback" is on and fixed, veth's is off and fixed,
 * veth's checksum is on and changeable; ethtool -K (when installed) turns it off. */
Test(probe, feature_by_name)
{
	int active, avail;

	own_netns();
	cr_assert_eq(sh("ip link add name xpf0 type veth peer name xpf1"), 0);
	cr_assert_eq(xprobe_dev_feature("lo", "loopback", &active, &avail), 0);
	cr_assert(active == XPROBE_YES && avail == XPROBE_YES, "lo loopback %d/%d", active, avail);
	like_ethtool("lo", "loopback", active, avail);
	cr_assert_eq(xprobe_dev_feature("xpf0", "loopback", &active, &avail), 0);
	cr_assert(active == XPROBE_NO && avail == XPROBE_NO, "veth loopback %d/%d", active, avail);
	cr_assert_eq(xprobe_dev_feature("xpf0", "tx-checksum-ip-generic", &active, &avail), 0);
	cr_assert(active == XPROBE_YES && avail == XPROBE_YES, "veth csum %d/%d", active, avail);
	like_ethtool("xpf0", "tx-checksum-ip-generic", active, avail);

	if (!have("ethtool")) {
		fprintf(stderr, "note: no ethtool: features not toggled\n");
	} else {
		cr_assert_eq(sh("ethtool -K xpf0 tx-checksum-ip-generic off >/dev/null"), 0);
		cr_assert_eq(xprobe_dev_feature("xpf0", "tx-checksum-ip-generic", &active,
						&avail), 0);
		cr_assert(active == XPROBE_NO && avail == XPROBE_YES, "off: %d/%d", active, avail);
		like_ethtool("xpf0", "tx-checksum-ip-generic", active, avail);
	}

	cr_assert_eq(xprobe_dev_feature("xpf0", "no-such-feature", &active, &avail), -ENOENT);
	cr_assert_eq(active, XPROBE_UNKNOWN);
	cr_assert_eq(xprobe_dev_feature("xpf0", "", &active, &avail), -ENOENT);
	cr_assert_eq(xprobe_dev_feature("xoffnosuch0", "loopback", &active, &avail), -ENODEV);
	cr_assert_eq(xprobe_dev_feature("xpf0", NULL, &active, &avail), -EINVAL);
}

/* 'y', 'm', 'n' (unset or absent) for @sym in the kernel's config; 0 without one. */
static char kconfig_sh(const char *sym)
{
	char cmd[256], val[8] = "";
	FILE *f;

	if (sh("{ zcat /proc/config.gz || cat /boot/config-$(uname -r); } >/dev/null 2>&1"))
		return 0;
	snprintf(cmd, sizeof(cmd), "{ zcat /proc/config.gz 2>/dev/null || "
		 "cat /boot/config-$(uname -r); } | sed -n 's/^%s=\\(.\\).*/\\1/p'", sym);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	if (!fgets(val, sizeof(val), f))
		val[0] = 'n';
	pclose(f);
	return val[0] == 'y' || val[0] == 'm' ? val[0] : 'n';
}

/* Built in or not set is a definite answer; a module depends on what can be loaded. */
static void config_expect(const char *what, int v, const char *sym)
{
	char c = kconfig_sh(sym);

	if (c == 'y' || c == 'n')
		cr_assert_eq(v, c == 'y' ? XPROBE_YES : XPROBE_NO, "%s: %s, config %s=%c", what,
			     xprobe_tri_str(v), sym, c);
	else
		fprintf(stderr, "note: %s %s (config %s: %c)\n", what, xprobe_tri_str(v), sym,
			c ? c : '?');
}

static int since(int ver)
{
	return kver() >= ver ? XPROBE_YES : XPROBE_NO;
}

/* Each feature by the version that brought it, and the config. */
Test(probe, kernel)
{
	struct xprobe_kernel k;
	struct utsname u;

	cr_assert_eq(xprobe_kernel(&k), 0);
	cr_assert_eq(uname(&u), 0);
	cr_assert_str_eq(k.release, u.release);
	fprintf(stderr, "note: %s: btf %s sa_dir %s sa_pcpu %s packet_offload %s "
		"xfrm_user %s esp %s esp6 %s xfrm_offload %s netdev-genl %s\n", k.release,
		xprobe_tri_str(k.btf), xprobe_tri_str(k.sa_dir), xprobe_tri_str(k.sa_pcpu),
		xprobe_tri_str(k.packet_offload), xprobe_tri_str(k.xfrm_user),
		xprobe_tri_str(k.esp), xprobe_tri_str(k.esp6), xprobe_tri_str(k.xfrm_offload),
		xprobe_tri_str(k.xdp_features_genl));

	if (access("/sys/kernel/btf/vmlinux", R_OK)) {
		cr_assert_neq(k.btf, XPROBE_YES);
		fprintf(stderr, "SKIP: no kernel BTF: BTF-based probes not checked\n");
	} else {
		cr_assert_eq(k.btf, XPROBE_YES);
		cr_assert_eq(k.sa_dir, since(6010), "XFRMA_SA_DIR: %s", xprobe_tri_str(k.sa_dir));
		cr_assert_eq(k.sa_pcpu, since(6013), "XFRMA_SA_PCPU: %s",
			     xprobe_tri_str(k.sa_pcpu));
		/* 6.2 upstream; stable kernels (Debian's 6.1) carry it backported: BTF rules. */
		if (since(6002) == XPROBE_YES)
			cr_assert_eq(k.packet_offload, XPROBE_YES);
		else
			cr_assert_neq(k.packet_offload, XPROBE_UNKNOWN);
	}
	cr_assert_eq(k.xdp_features_genl, since(6003));
	config_expect("xfrm_user", k.xfrm_user, "CONFIG_XFRM_USER");
	config_expect("esp", k.esp, "CONFIG_INET_ESP");
	config_expect("esp6", k.esp6, "CONFIG_INET6_ESP");
	config_expect("xfrm_offload", k.xfrm_offload, "CONFIG_XFRM_OFFLOAD");
	cr_assert_eq(xprobe_kernel(NULL), -EINVAL);
}

Test(probe, tri_str)
{
	cr_assert_str_eq(xprobe_tri_str(XPROBE_YES), "yes");
	cr_assert_str_eq(xprobe_tri_str(XPROBE_NO), "no");
	cr_assert_str_eq(xprobe_tri_str(XPROBE_UNKNOWN), "unknown");
	cr_assert_str_eq(xprobe_tri_str(7), "unknown");
}

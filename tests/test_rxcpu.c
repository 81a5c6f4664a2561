// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Default RX CPUs (rxcpu.h) against fake sysfs and procfs trees in a temp dir. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "rxcpu.h"

static char root[64];

/* The ifindex netdev() gave each name, as this process would see it. */
static struct {
	char		name[16];
	unsigned int	ifindex;
} devs[16];
static unsigned int ndevs;

static void rx_setup(void)
{
	snprintf(root, sizeof(root), "/tmp/xoff-rxcpu-XXXXXX");
	cr_assert_not_null(mkdtemp(root), "mkdtemp: %s", strerror(errno));
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rx_teardown(void)
{
	ndevs = 0;
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* mkdir -p ROOT/@fmt. */
static void mkdirs(const char *fmt, ...)
{
	char path[PATH_MAX], *p, c;
	va_list ap;
	int len;

	len = snprintf(path, sizeof(path), "%s/", root);
	va_start(ap, fmt);
	vsnprintf(path + len, sizeof(path) - len, fmt, ap);
	va_end(ap);
	for (p = path + strlen(root) + 1; ; p++) {
		if (*p != '/' && *p)
			continue;
		c = *p;
		*p = '\0';
		cr_assert(!mkdir(path, 0755) || errno == EEXIST, "mkdir %s: %s", path,
			  strerror(errno));
		if (!(*p = c))
			break;
	}
}

static void put(const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

/* ROOT/@rel, a link to ROOT/@to. */
static void link_to(const char *rel, const char *to)
{
	char path[PATH_MAX], target[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	snprintf(target, sizeof(target), "%s/%s", root, to);
	cr_assert_eq(symlink(target, path), 0, "symlink %s: %s", path, strerror(errno));
}

/* IRQ @irq: its action @name (NULL: none registered), its effective affinity and its
 * allowed one (NULL: no such file). */
static void irq(unsigned int irq, const char *name, const char *eff, const char *smp)
{
	char rel[128];

	mkdirs("proc/irq/%u", irq);
	if (name)
		mkdirs("proc/irq/%u/%s", irq, name);
	snprintf(rel, sizeof(rel), "proc/irq/%u/effective_affinity_list", irq);
	if (eff)
		put(rel, eff);
	snprintf(rel, sizeof(rel), "proc/irq/%u/smp_affinity_list", irq);
	if (smp)
		put(rel, smp);
}

/* An MSI vector @irq of the device at ROOT/@dev (sysfs' msi_irqs/N holds "msix"). */
static void msi(const char *dev, unsigned int irq)
{
	char rel[256];

	mkdirs("%s/msi_irqs", dev);
	snprintf(rel, sizeof(rel), "%s/msi_irqs/%u", dev, irq);
	put(rel, "msix\n");
}

/* ROOT/sys/class/net/@name with its ifindex, its "device" leading to ROOT/@dev (NULL: a
 * virtual device, without one), which belongs to @subsys. */
static void netdev(const char *name, const char *dev, const char *subsys)
{
	char rel[128], to[128], idx[16];

	cr_assert_lt(ndevs, sizeof(devs) / sizeof(devs[0]));
	snprintf(devs[ndevs].name, sizeof(devs[ndevs].name), "%s", name);
	devs[ndevs].ifindex = 100 + ndevs;
	mkdirs("sys/class/net/%s", name);
	snprintf(rel, sizeof(rel), "sys/class/net/%s/ifindex", name);
	snprintf(idx, sizeof(idx), "%u\n", devs[ndevs++].ifindex);
	put(rel, idx);
	if (!dev)
		return;
	mkdirs("%s", dev);
	mkdirs("sys/bus/%s", subsys);
	snprintf(rel, sizeof(rel), "sys/class/net/%s/device", name);
	link_to(rel, dev);
	snprintf(rel, sizeof(rel), "%s/subsystem", dev);
	snprintf(to, sizeof(to), "sys/bus/%s", subsys);
	link_to(rel, to);
}

/* As this process would see @dev: the ifindex netdev() gave it (none: 0, by name). */
static int rx_cpus(const char *dev, __u16 *cpus, unsigned int max)
{
	unsigned int i;

	for (i = 0; i < ndevs && strcmp(devs[i].name, dev); i++)
		;
	return xoff_rx_cpus(root, dev, i < ndevs ? devs[i].ifindex : 0, cpus, max);
}

#define PCI	"sys/devices/pci0000:00/"

/* virtio-net: the vectors are the PCI device's, above the virtio one. Config and TX on
 * CPU 0, RX on CPU 1 (as qemu's virtio-net looks under Linux 6.1). */
Test(rxcpu, virtio, .init = rx_setup, .fini = rx_teardown)
{
	__u16 cpus[8];

	netdev("eth0", PCI "0000:00:03.0/virtio2", "virtio");
	msi(PCI "0000:00:03.0", 37);
	msi(PCI "0000:00:03.0", 38);
	msi(PCI "0000:00:03.0", 39);
	irq(37, "virtio2-config", "0\n", "0-1\n");
	irq(38, "virtio2-input.0", "1\n", "0-1\n");
	irq(39, "virtio2-output.0", "0\n", "0-1\n");
	cr_assert_eq(rx_cpus("eth0", cpus, 8), 1);
	cr_expect_eq(cpus[0], 1);

	/* One vector for every queue: its CPU receives. */
	netdev("eth1", PCI "0000:00:04.0/virtio3", "virtio");
	msi(PCI "0000:00:04.0", 40);
	msi(PCI "0000:00:04.0", 41);
	irq(40, "virtio3-config", "0\n", "0-1\n");
	irq(41, "virtio3-virtqueues", "3\n", "0-3\n");
	cr_assert_eq(rx_cpus("eth1", cpus, 8), 1);
	cr_expect_eq(cpus[0], 3);
}

/* A PCI NIC: the queue vectors' CPUs, not the misc vector's; effective affinity first,
 * allowed affinity where there is no effective one; a vector shut down (empty effective
 * list) and one without a /proc entry name no CPU. */
Test(rxcpu, pci_queues, .init = rx_setup, .fini = rx_teardown)
{
	static const __u16 want[4] = { 2, 3, 5, 6 };
	__u16 cpus[8];

	netdev("ens1", PCI "0000:00:05.0", "pci");
	msi(PCI "0000:00:05.0", 50);
	msi(PCI "0000:00:05.0", 51);
	msi(PCI "0000:00:05.0", 52);
	msi(PCI "0000:00:05.0", 53);
	msi(PCI "0000:00:05.0", 54);
	msi(PCI "0000:00:05.0", 55);
	irq(50, "ens1", "0\n", "0-7\n");
	irq(51, "ens1-TxRx-0", "3\n", "0-7\n");
	irq(52, "ens1-TxRx-1", "2\n", "0-7\n");
	irq(53, "ens1-TxRx-2", NULL, "5-6\n");
	irq(54, "ens1-TxRx-3", "\n", "0-7\n");
	cr_assert_eq(rx_cpus("ens1", cpus, 8), 4);
	cr_expect_arr_eq(cpus, want, sizeof(want), "%u %u %u %u", cpus[0], cpus[1], cpus[2],
			 cpus[3]);

	/* More CPUs than room. */
	cr_expect_eq(rx_cpus("ens1", cpus, 3), -E2BIG);
}

/* Separate RX and TX vectors, mlx5's completion vectors, and a device whose own name
 * holds "rx": its name says nothing of its vectors. */
Test(rxcpu, names, .init = rx_setup, .fini = rx_teardown)
{
	__u16 cpus[8];

	netdev("eth2", PCI "0000:00:06.0", "pci");
	msi(PCI "0000:00:06.0", 60);
	msi(PCI "0000:00:06.0", 61);
	irq(60, "eth2-tx-0", "0\n", NULL);
	irq(61, "eth2-rx-0", "1\n", NULL);
	cr_assert_eq(rx_cpus("eth2", cpus, 8), 1);
	cr_expect_eq(cpus[0], 1);

	netdev("enp7s0", PCI "0000:00:07.0", "pci");
	msi(PCI "0000:00:07.0", 70);
	msi(PCI "0000:00:07.0", 71);
	irq(70, "mlx5_async0@pci:0000:00:07.0", "0\n", NULL);
	irq(71, "mlx5_comp0@pci:0000:00:07.0", "4\n", NULL);
	cr_assert_eq(rx_cpus("enp7s0", cpus, 8), 1);
	cr_expect_eq(cpus[0], 4);

	netdev("rx0", PCI "0000:00:08.0", "pci");
	msi(PCI "0000:00:08.0", 80);
	msi(PCI "0000:00:08.0", 81);
	irq(80, "rx0", "1\n", NULL);
	irq(81, "rx0-TxRx-0", "2\n", NULL);
	cr_assert_eq(rx_cpus("rx0", cpus, 8), 1);
	cr_expect_eq(cpus[0], 2);
}

/* Vectors whose names tell nothing: every one counts, when every one has a handler. */
Test(rxcpu, unnamed_all, .init = rx_setup, .fini = rx_teardown)
{
	static const __u16 want[3] = { 0, 4, 7 };
	__u16 cpus[8];

	netdev("eth3", PCI "0000:00:09.0", "pci");
	msi(PCI "0000:00:09.0", 90);
	msi(PCI "0000:00:09.0", 91);
	msi(PCI "0000:00:09.0", 92);
	irq(90, "eth3-0", "7\n", NULL);
	irq(91, "eth3-1", "4\n", NULL);
	irq(92, "eth3-2", "0,4\n", NULL);
	cr_assert_eq(rx_cpus("eth3", cpus, 8), 3);
	cr_expect_arr_eq(cpus, want, sizeof(want));
}

/* No MSI: a virtual device, and a PCI one on legacy interrupts whose parent, a root
 * port, has vectors of its own. Bad names and missing devices. */
Test(rxcpu, none, .init = rx_setup, .fini = rx_teardown)
{
	__u16 cpus[8];

	netdev("veth0", NULL, NULL);
	cr_expect_eq(rx_cpus("veth0", cpus, 8), 0);
	netdev("eth4", PCI "0000:00:1c.0/0000:02:00.0", "pci");
	msi(PCI "0000:00:1c.0", 120);
	irq(120, "aerdrv", "1\n", NULL);
	cr_expect_eq(rx_cpus("eth4", cpus, 8), 0);
	cr_expect_eq(rx_cpus("nosuch0", cpus, 8), -ENODEV);
	cr_expect_eq(rx_cpus("", cpus, 8), -EINVAL);
	cr_expect_eq(rx_cpus("../net", cpus, 8), -EINVAL);
	cr_expect_eq(rx_cpus("a-name-far-too-long", cpus, 8), -EINVAL);
}

/* The NIC is down: its queue vectors are allocated but not requested (i40e, ixgbe and mlx5
 * request them in ndo_open), so /proc/irq/N has no action directory, and on x86 their
 * effective affinity is the first online CPU. Only the misc vector has a handler, and its
 * name does not say receive: where the device receives is not known. */
Test(rxcpu, not_requested, .init = rx_setup, .fini = rx_teardown)
{
	__u16 cpus[8];

	netdev("ens2", PCI "0000:00:0b.0", "pci");
	msi(PCI "0000:00:0b.0", 140);
	msi(PCI "0000:00:0b.0", 141);
	msi(PCI "0000:00:0b.0", 142);
	irq(140, "ens2", "0\n", "0-7\n");
	irq(141, NULL, "0\n", "0-7\n");
	irq(142, NULL, "0\n", "0-7\n");
	cr_expect_eq(rx_cpus("ens2", cpus, 8), 0, "the misc vector's CPU taken for RX");

	/* Not even the misc vector (down, a driver that requests all in ndo_open). */
	netdev("ens3", PCI "0000:00:0c.0", "pci");
	msi(PCI "0000:00:0c.0", 150);
	msi(PCI "0000:00:0c.0", 151);
	irq(150, NULL, "0\n", "0-7\n");
	irq(151, NULL, "0\n", "0-7\n");
	cr_expect_eq(rx_cpus("ens3", cpus, 8), 0);

	/* Up again: one queue vector requested; the other still is not. */
	irq(151, "ens3-TxRx-0", "5\n", "4-7\n");
	cr_assert_eq(rx_cpus("ens3", cpus, 8), 1);
	cr_expect_eq(cpus[0], 5);
}

/* A managed vector whose CPUs are all offline is shut down, and on x86 reports the first
 * online CPU as its effective affinity (vector_assign_managed_shutdown()): outside its
 * smp_affinity, it names no CPU. */
Test(rxcpu, effective_within_allowed, .init = rx_setup, .fini = rx_teardown)
{
	static const __u16 want[2] = { 2, 3 };
	__u16 cpus[8];

	netdev("ens4", PCI "0000:00:0d.0", "pci");
	msi(PCI "0000:00:0d.0", 160);
	msi(PCI "0000:00:0d.0", 161);
	msi(PCI "0000:00:0d.0", 162);
	irq(160, "ens4-rx-0", "0\n", "6-7\n");
	irq(161, "ens4-rx-1", "2\n", "2-3\n");
	irq(162, "ens4-rx-2", "3,5\n", "3-4\n");
	cr_assert_eq(rx_cpus("ens4", cpus, 8), 2);
	cr_expect_arr_eq(cpus, want, sizeof(want), "%u %u", cpus[0], cpus[1]);
}

/* /sys of another network namespace (sysfs shows the one it was mounted in): a device of
 * the same name there is another device, and tells nothing of ours. */
Test(rxcpu, other_netns, .init = rx_setup, .fini = rx_teardown)
{
	char path[PATH_MAX];
	__u16 cpus[8];

	netdev("eth6", PCI "0000:00:0e.0", "pci");
	msi(PCI "0000:00:0e.0", 170);
	irq(170, "eth6-rx-0", "1\n", NULL);
	cr_assert_eq(rx_cpus("eth6", cpus, 8), 1);
	cr_expect_eq(xoff_rx_cpus(root, "eth6", devs[0].ifindex + 1, cpus, 8), -EXDEV);
	put("sys/class/net/eth6/ifindex", "x\n");
	cr_expect_eq(rx_cpus("eth6", cpus, 8), -EXDEV);
	snprintf(path, sizeof(path), "%s/sys/class/net/eth6/ifindex", root);
	cr_assert_eq(remove(path), 0);
	cr_expect_eq(rx_cpus("eth6", cpus, 8), -EXDEV, "no ifindex: not known to be ours");
}

/* A malformed list is refused, not half read. */
Test(rxcpu, bad_list, .init = rx_setup, .fini = rx_teardown)
{
	__u16 cpus[8];

	netdev("eth5", PCI "0000:00:0a.0", "pci");
	msi(PCI "0000:00:0a.0", 130);
	irq(130, "eth5-rx-0", "3-1\n", NULL);
	cr_expect_eq(rx_cpus("eth5", cpus, 8), -EINVAL);
}

Test(rxcpu, union)
{
	static const __u16 a[3] = { 5, 1, 5 }, b[2] = { 3, 0 }, want[4] = { 0, 1, 3, 5 };
	__u16 cpus[4];
	unsigned int n = 0;

	cr_assert_eq(xoff_cpus_union(cpus, &n, 4, a, 3), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(xoff_cpus_union(cpus, &n, 4, b, 2), 0);
	cr_assert_eq(n, 4);
	cr_expect_arr_eq(cpus, want, sizeof(want));
	cr_assert_eq(xoff_cpus_union(cpus, &n, 4, a, 3), 0, "nothing new, nothing added");
	cr_assert_eq(xoff_cpus_union(cpus, &n, 4, (const __u16[]){ 2 }, 1), -E2BIG);
	cr_expect_eq(n, 4);
}

Test(rxcpu, str)
{
	static const __u16 a[6] = { 0, 1, 2, 3, 6, 8 }, b[3] = { 5, 6, 9 };
	char buf[32], small[8];

	xoff_cpus_str(a, 6, buf, sizeof(buf));
	cr_expect_str_eq(buf, "0-3,6,8");
	xoff_cpus_str(b, 3, buf, sizeof(buf));
	cr_expect_str_eq(buf, "5-6,9");
	xoff_cpus_str(a + 4, 1, buf, sizeof(buf));
	cr_expect_str_eq(buf, "6");
	xoff_cpus_str(a, 0, buf, sizeof(buf));
	cr_expect_str_eq(buf, "");
	xoff_cpus_str((const __u16[]){ 100, 200, 300, 400 }, 4, small, sizeof(small));
	cr_expect_str_eq(small, "100,...", "'%s'", small);
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Where a device receives: the CPUs its MSI IRQs go to (rxcpu.h). Reads sysfs and procfs
 * only, under a root the tests replace. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "rxcpu.h"

int xoff_cpus_union(__u16 *cpus, unsigned int *n, unsigned int max, const __u16 *add,
		    unsigned int nadd)
{
	unsigned int i, j;

	for (i = 0; i < nadd; i++) {
		for (j = 0; j < *n && cpus[j] < add[i]; j++)
			;
		if (j < *n && cpus[j] == add[i])
			continue;
		if (*n == max)
			return -E2BIG;
		memmove(&cpus[j + 1], &cpus[j], (*n - j) * sizeof(*cpus));
		cpus[j] = add[i];
		(*n)++;
	}
	return 0;
}

void xoff_cpus_str(const __u16 *cpus, unsigned int n, char *buf, size_t len)
{
	unsigned int i, j;
	size_t used = 0;
	int w;

	if (!len)
		return;
	buf[0] = '\0';
	for (i = 0; i < n; i = j + 1) {
		for (j = i; j + 1 < n && cpus[j + 1] == cpus[j] + 1; j++)
			;
		if (j == i)
			w = snprintf(buf + used, len - used, "%s%u", i ? "," : "", cpus[i]);
		else
			w = snprintf(buf + used, len - used, "%s%u-%u", i ? "," : "", cpus[i],
				     cpus[j]);
		if (w < 0 || (size_t)w >= len - used) {
			if (len > 4)
				strcpy(buf + (used < len - 4 ? used : len - 4), "...");
			return;
		}
		used += w;
	}
}

/* A CPU list as the kernel prints one ("0-3,8\n"), added to @cpus. */
static int list_add(const char *s, __u16 *cpus, unsigned int *n, unsigned int max)
{
	while (*s && *s != '\n') {
		unsigned long a, b;
		char *end;
		int err;

		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		a = b = strtoul(s, &end, 10);
		if (*end == '-') {
			if (!isdigit((unsigned char)end[1]))
				return -EINVAL;
			b = strtoul(end + 1, &end, 10);
		}
		if (b < a || b > 0xffff)
			return -EINVAL;
		for (; a <= b; a++) {
			__u16 c = a;

			if ((err = xoff_cpus_union(cpus, n, max, &c, 1)))
				return err;
		}
		if (*end == ',')
			end++;
		else if (*end && *end != '\n')
			return -EINVAL;
		s = end;
	}
	return 0;
}

static int read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	if (!fgets(buf, len, f))
		buf[0] = '\0';
	fclose(f);
	return 0;
}

/* Whether an IRQ action's name says it serves receive queues: eth0-TxRx-0, eth0-rx-0,
 * virtio0-input.0, virtio0-virtqueues (one vector for all), mlx5_comp0@pci:... Not
 * eth0-tx-0, virtio0-output.0, virtio0-config, mlx5_async0. The device's own name is left
 * out first: a device called rx0 does not make its misc vector a receive one. */
static bool rx_named(const char *name, const char *dev)
{
	static const char *const rx[] = { "rx", "input", "comp", "virtqueues" };
	char lc[256], *p;
	unsigned int i;

	snprintf(lc, sizeof(lc), "%s", name);
	while (*dev && (p = strstr(lc, dev)))
		memset(p, ' ', strlen(dev));
	for (p = lc; *p; p++)
		*p = tolower((unsigned char)*p);
	for (i = 0; i < sizeof(rx) / sizeof(rx[0]); i++)
		if (strstr(lc, rx[i]))
			return true;
	return false;
}

/* @a[0..*@na) less the CPUs not in @b[0..@nb) (both ascending). */
static void cpus_and(__u16 *a, unsigned int *na, const __u16 *b, unsigned int nb)
{
	unsigned int i, j = 0, n = 0;

	for (i = 0; i < *na; i++) {
		while (j < nb && b[j] < a[i])
			j++;
		if (j < nb && b[j] == a[i])
			a[n++] = a[i];
	}
	*na = n;
}

/* IRQ @irq's CPUs into @cpus (*@n of them); *@rx set when one of its actions (the
 * directories of /proc/irq/N, named as in /proc/interrupts) is named for receive queues.
 * An IRQ without a /proc entry or without an action names no CPU: register_handler_proc()
 * makes /proc/irq/N/NAME for each handler requested, and on x86 a vector allocated but not
 * requested (the device down: i40e, ixgbe and mlx5 request their queue IRQs in ndo_open)
 * reports the first online CPU (vector_assign_managed_shutdown() ->
 * apic_update_irq_cfg()), not where anything is received; *@idle is set for those.
 * @tmp: room for @max CPUs. */
static int irq_cpus(const char *root, const char *irq, const char *dev, __u16 *cpus,
		    unsigned int *n, unsigned int max, __u16 *tmp, bool *rx, bool *idle)
{
	char path[PATH_MAX], list[4096];
	unsigned int nsmp = 0;
	bool action = false;
	struct dirent *e;
	struct stat st;
	int err;
	DIR *d;

	*n = 0;
	snprintf(path, sizeof(path), "%s/proc/irq/%s", root, irq);
	if (!(d = opendir(path)))
		return 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (e->d_type == DT_DIR || (e->d_type == DT_UNKNOWN &&
		    !fstatat(dirfd(d), e->d_name, &st, 0) && S_ISDIR(st.st_mode))) {
			*rx |= rx_named(e->d_name, dev);
			action = true;
		}
	}
	closedir(d);
	if (!action) {
		*idle = true;
		return 0;
	}
	/* Where the IRQ goes now, within where it may go: a requested IRQ that is shut down,
	 * such as a managed one whose CPUs are all offline, reports the first online CPU as
	 * above, outside its smp_affinity. smp_affinity_list alone where there is no
	 * effective one (no CONFIG_GENERIC_IRQ_EFFECTIVE_AFF_MASK). */
	snprintf(path, sizeof(path), "%s/proc/irq/%s/smp_affinity_list", root, irq);
	if (!read_line(path, list, sizeof(list)) && (err = list_add(list, tmp, &nsmp, max)))
		return err;
	snprintf(path, sizeof(path), "%s/proc/irq/%s/effective_affinity_list", root, irq);
	if (read_line(path, list, sizeof(list)))
		return xoff_cpus_union(cpus, n, max, tmp, nsmp);
	if (!nsmp)
		return list_add(list, cpus, n, max);
	if ((err = list_add(list, cpus, n, max)))
		return err;
	cpus_and(cpus, n, tmp, nsmp);
	return 0;
}

static bool dev_name_ok(const char *s)
{
	return *s && strlen(s) < IF_NAMESIZE && !strchr(s, '/') && strcmp(s, ".") &&
	       strcmp(s, "..");
}

/* The directory of @dev's MSI IRQs: its device's own, or for a virtio device (no MSI of
 * its own) those of the PCI device above it. Only for virtio: the parent of another
 * device without MSI is a bridge or root port, whose vectors are not the device's. */
static DIR *msi_dir(const char *root, const char *dev)
{
	char path[PATH_MAX], link[PATH_MAX];
	const char *base;
	ssize_t len;
	DIR *d;

	snprintf(path, sizeof(path), "%s/sys/class/net/%s/device/msi_irqs", root, dev);
	if ((d = opendir(path)))
		return d;
	snprintf(path, sizeof(path), "%s/sys/class/net/%s/device/subsystem", root, dev);
	len = readlink(path, link, sizeof(link) - 1);
	if (len <= 0)
		return NULL;
	link[len] = '\0';
	base = strrchr(link, '/');
	if (strcmp(base ? base + 1 : link, "virtio"))
		return NULL;
	/* The path goes up from where the "device" link leads. */
	snprintf(path, sizeof(path), "%s/sys/class/net/%s/device/../msi_irqs", root, dev);
	return opendir(path);
}

/* Whether SYSROOT/sys/class/net/@dev is the device this process knows as @dev (or as
 * @ifindex): sysfs shows the network namespace it was mounted in, which need not be ours,
 * and there a device of the same name may be another one. */
static bool same_dev(const char *root, const char *dev, unsigned int ifindex)
{
	char path[PATH_MAX], buf[32], *end;
	unsigned long v;

	if (!ifindex && !(ifindex = if_nametoindex(dev)))
		return false;
	snprintf(path, sizeof(path), "%s/sys/class/net/%s/ifindex", root, dev);
	if (read_line(path, buf, sizeof(buf)) || !isdigit((unsigned char)buf[0]))
		return false;
	v = strtoul(buf, &end, 10);
	return (*end == '\n' || !*end) && v == ifindex;
}

int xoff_rx_cpus(const char *sysroot, const char *dev, unsigned int ifindex, __u16 *cpus,
		 unsigned int max)
{
	const char *root = sysroot ? sysroot : "";
	unsigned int nall = 0, nrx = 0, m = max ? max : 1;
	bool idle = false;
	char path[PATH_MAX];
	__u16 *all, *one;
	struct dirent *e;
	struct stat st;
	int err = 0;
	DIR *d;

	if (!dev_name_ok(dev))
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/sys/class/net/%s", root, dev);
	if (stat(path, &st))
		return errno == ENOENT ? -ENODEV : -errno;
	if (!same_dev(root, dev, ifindex))
		return -EXDEV;
	if (!(d = msi_dir(root, dev)))
		return 0;
	/* Every requested IRQ's CPUs (@all), and those of IRQs named for receive queues
	 * (@cpus). */
	if (!(all = calloc(3 * m, sizeof(*all)))) {
		closedir(d);
		return -ENOMEM;
	}
	one = all + m;
	while (!err && (e = readdir(d))) {
		unsigned int n = 0;
		bool rx = false;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		err = irq_cpus(root, e->d_name, dev, one, &n, max, one + m, &rx, &idle);
		err = err ?: xoff_cpus_union(all, &nall, max, one, n);
		if (!err && rx)
			err = xoff_cpus_union(cpus, &nrx, max, one, n);
	}
	closedir(d);
	/* No vector named for receive: all count, when all are requested. Some not (the
	 * device is down: only its misc vector, requested at probe, is) and where it
	 * receives is not known: the misc vector's CPU is not it. */
	if (!err && !nrx && !idle) {
		memcpy(cpus, all, nall * sizeof(*cpus));
		nrx = nall;
	}
	free(all);
	return err ? err : (int)nrx;
}

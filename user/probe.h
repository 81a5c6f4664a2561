/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Capability probes for `xoffctl probe DEV` and the per-SA report: what a device and the
 * running kernel can do for ESP offload and XDP, found by reading only (no program is
 * attached, no XFRM state is added). Every function returns 0 or a negative errno and
 * never prints or exits. Not thread-safe: xprobe_kernel() silences libbpf's global print
 * callback while it loads BTF (and restores it). */
#ifndef XOFF_PROBE_H
#define XOFF_PROBE_H

/* A probe that could not tell (old kernel, missing file, no permission) says UNKNOWN. */
enum xprobe_tri { XPROBE_UNKNOWN = -1, XPROBE_NO = 0, XPROBE_YES = 1 };

struct xprobe_dev {
	unsigned int ifindex;		/* in the caller's network namespace */
	char name[16];			/* IFNAMSIZ */
	char driver[32];		/* ETHTOOL_GDRVINFO driver, "" if unknown (lo has none) */
	/* ethtool features, enum xprobe_tri: on now ("active") */
	int esp_hw_offload;		/* "esp-hw-offload" */
	int esp_tx_csum;		/* "esp-tx-csum-hw-offload" */
	int esp_gso;			/* "tx-esp-segmentation" */
	/* ... and whether the device can have them on: changeable (hw_features, ethtool's
	 * "available", i.e. not "[fixed]") or already on */
	int esp_hw_offload_avail;
	int esp_tx_csum_avail;
	int esp_gso_avail;
	int xdp_native;			/* xdp_features has NETDEV_XDP_ACT_BASIC; UNKNOWN before 6.3 */
	unsigned long long xdp_features; /* raw NETDEV_A_DEV_XDP_FEATURES when known */
	int xdp_features_known;		/* bool */
	int mtu;
	int up;				/* IFF_UP */
};

/* Probe the device named @ifname in the caller's network namespace. -ENODEV: no such
 * device (or it vanished while probed); -EINVAL: the name cannot be a device's; -EAGAIN:
 * the name moved to another device while it was probed. */
int xprobe_dev(const char *ifname, struct xprobe_dev *out);

/* Whether the device of @ifindex is up: 1, 0, or -ENODEV when it is not in this namespace. */
int xprobe_dev_up(unsigned int ifindex);

/* One ethtool feature by its name (ethtool -k spelling): *active and *avail as in
 * struct xprobe_dev. -ENOENT: this kernel has no feature of that name. */
int xprobe_dev_feature(const char *ifname, const char *feature, int *active, int *avail);

struct xprobe_kernel {
	char release[65];		/* uname -r */
	int btf;			/* libbpf loads the kernel's BTF (/sys/kernel/btf/vmlinux) */
	int sa_dir;			/* BTF has enumerator XFRMA_SA_DIR (6.10+) */
	int sa_pcpu;			/* per-CPU SAs (RFC 9611, 6.13+): BTF has enumerator
					 * XFRMA_SA_PCPU or struct xfrm_state member pcpu_num */
	int packet_offload;		/* BTF has enumerator XFRM_DEV_OFFLOAD_PACKET (6.2+) */
	int xfrm_user;			/* a NETLINK_XFRM socket opens */
	int esp;			/* ESP for IPv4 (esp4) is built in, loaded or loadable */
	int esp6;			/* the same for IPv6 (esp6) */
	int xfrm_offload;		/* built with CONFIG_XFRM_OFFLOAD: device offload possible */
	int xdp_features_genl;		/* the "netdev" generic netlink family exists (6.3+) */
};

int xprobe_kernel(struct xprobe_kernel *out);

/* "yes", "no" or "unknown" (for anything else too). */
const char *xprobe_tri_str(int v);

#endif /* XOFF_PROBE_H */

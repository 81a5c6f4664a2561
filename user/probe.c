// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Capability probes: ethtool ioctls and netdev generic netlink for a device; BTF, the
 * kernel's config, module lists and sockets for the kernel. Read-only throughout. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <linux/ethtool.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/sockios.h>
#include <libmnl/libmnl.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <zlib.h>
#include "probe.h"

/*
 * The "netdev" generic netlink family (Linux 6.3+), from the kernel's
 * include/uapi/linux/netdev.h. Debian 12's UAPI headers (6.1) predate it. These values
 * are ABI: the attribute and command enums only ever grow at the end.
 */
#define XOFF_NETDEV_FAMILY_NAME		"netdev"
#define XOFF_NETDEV_FAMILY_VERSION	1
#define XOFF_NETDEV_CMD_DEV_GET		1
#define XOFF_NETDEV_A_DEV_IFINDEX	1	/* u32 */
#define XOFF_NETDEV_A_DEV_XDP_FEATURES	3	/* u64, enum netdev_xdp_act bits */
#define XOFF_NETDEV_XDP_ACT_BASIC	1ULL	/* ABORTED, DROP, PASS, TX in the driver */

#define XPROBE_MAX_FEATURES	4096		/* far above NETDEV_FEATURE_COUNT (64 bits) */
#define XPROBE_FILE_MAX		(64 << 20)	/* a distro's modules.dep is about 1 MiB */
#define XPROBE_NLBUF		8192		/* a family or device reply: a few hundred bytes */

/* Errors that end xprobe_dev(); any other failure only leaves its fields UNKNOWN. */
static int fatal(int err)
{
	return err == -ENODEV || err == -ENOMEM ? err : 0;
}

static bool name_ok(const char *ifname)
{
	return ifname && *ifname && strlen(ifname) < IFNAMSIZ;
}

/* Device ioctls reach the kernel through any socket: INET may be compiled out,
 * netlink cannot be. */
static int ioctl_sock(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	return fd < 0 ? -errno : fd;
}

static int ifreq_ioctl(int fd, const char *ifname, unsigned long req, struct ifreq *ifr)
{
	memcpy(ifr->ifr_name, ifname, strlen(ifname) + 1);
	return ioctl(fd, req, ifr) ? -errno : 0;
}

static int ethtool(int fd, const char *ifname, void *cmd)
{
	struct ifreq ifr = { .ifr_data = cmd };

	return ifreq_ioctl(fd, ifname, SIOCETHTOOL, &ifr);
}

/* The kernel's feature names (ETH_SS_FEATURES) and one device's feature words. */
struct feats {
	unsigned int n;				/* bits covered by both */
	struct ethtool_gstrings *names;
	struct ethtool_gfeatures *words;
};

static int feats_count(int fd, const char *ifname, unsigned int *n)
{
	struct {
		struct ethtool_sset_info hdr;
		__u32 count;			/* hdr.data[0] */
	} ss = { .hdr = { .cmd = ETHTOOL_GSSET_INFO, .sset_mask = 1ULL << ETH_SS_FEATURES } };
	int err = ethtool(fd, ifname, &ss);

	if (err)
		return err;
	/* The kernel clears the bits of sets it does not have. */
	if (!(ss.hdr.sset_mask & (1ULL << ETH_SS_FEATURES)) || !ss.count ||
	    ss.count > XPROBE_MAX_FEATURES)
		return -EOPNOTSUPP;
	*n = ss.count;
	return 0;
}

static void feats_free(struct feats *f)
{
	free(f->names);
	free(f->words);
	f->names = NULL;
	f->words = NULL;
}

static int feats_load(int fd, const char *ifname, struct feats *f)
{
	unsigned int nwords;
	int err = feats_count(fd, ifname, &f->n);

	if (err)
		return err;
	nwords = (f->n + 31) / 32;
	f->names = calloc(1, sizeof(*f->names) + (size_t)f->n * ETH_GSTRING_LEN);
	f->words = calloc(1, sizeof(*f->words) + nwords * sizeof(f->words->features[0]));
	if (!f->names || !f->words)
		return -ENOMEM;
	f->names->cmd = ETHTOOL_GSTRINGS;
	f->names->string_set = ETH_SS_FEATURES;
	f->names->len = f->n;
	f->words->cmd = ETHTOOL_GFEATURES;
	f->words->size = nwords;
	if ((err = ethtool(fd, ifname, f->names)) || (err = ethtool(fd, ifname, f->words)))
		return err;
	/* The kernel reports its own counts back; index only what both replies hold. */
	if (f->names->len < f->n)
		f->n = f->names->len;
	if (f->words->size < nwords)
		f->n = f->n < f->words->size * 32 ? f->n : f->words->size * 32;
	return 0;
}

/* *active: on now. *avail: on, or changeable ("available", the device's hw_features;
 * ethtool -k shows the rest as "[fixed]"). Untouched if this kernel lacks @name. */
static int feats_get(const struct feats *f, const char *name, int *active, int *avail)
{
	const struct ethtool_get_features_block *b;
	unsigned int i;
	__u32 bit;

	for (i = 0; i < f->n; i++)
		if (!strncmp((const char *)f->names->data + i * ETH_GSTRING_LEN, name,
			     ETH_GSTRING_LEN))
			break;
	if (i == f->n)
		return -ENOENT;
	b = &f->words->features[i / 32];
	bit = 1U << (i % 32);
	*active = b->active & bit ? XPROBE_YES : XPROBE_NO;
	*avail = (b->available | b->active) & bit ? XPROBE_YES : XPROBE_NO;
	return 0;
}

static int dev_esp(int fd, const char *ifname, struct xprobe_dev *d)
{
	struct feats f = {};
	int err = feats_load(fd, ifname, &f);

	if (!err) {
		feats_get(&f, "esp-hw-offload", &d->esp_hw_offload, &d->esp_hw_offload_avail);
		feats_get(&f, "esp-tx-csum-hw-offload", &d->esp_tx_csum, &d->esp_tx_csum_avail);
		feats_get(&f, "tx-esp-segmentation", &d->esp_gso, &d->esp_gso_avail);
	}
	feats_free(&f);
	return err;
}

/* -EOPNOTSUPP when the device has no driver information (lo). */
static int dev_driver(int fd, const char *ifname, struct xprobe_dev *d)
{
	struct ethtool_drvinfo di = { .cmd = ETHTOOL_GDRVINFO };
	int err = ethtool(fd, ifname, &di);

	if (err)
		return err;
	memcpy(d->driver, di.driver, sizeof(d->driver) - 1);
	d->driver[sizeof(d->driver) - 1] = '\0';
	return 0;
}

/* if_nametoindex(), like every name lookup, sees the caller's namespace only. */
static int dev_basics(int fd, const char *ifname, struct xprobe_dev *d)
{
	struct ifreq ifr = {};
	int err;

	d->ifindex = if_nametoindex(ifname);
	if (!d->ifindex)
		return errno == ENXIO || !errno ? -ENODEV : -errno;
	if ((err = ifreq_ioctl(fd, ifname, SIOCGIFMTU, &ifr)))
		return err;
	d->mtu = ifr.ifr_mtu;
	if ((err = ifreq_ioctl(fd, ifname, SIOCGIFFLAGS, &ifr)))
		return err;
	d->up = !!(ifr.ifr_flags & IFF_UP);
	return 0;
}

int xprobe_dev_up(unsigned int ifindex)
{
	char name[IF_NAMESIZE];
	struct ifreq ifr = {};
	int fd, err;

	if (!if_indextoname(ifindex, name))
		return -ENODEV;
	if ((fd = ioctl_sock()) < 0)
		return fd;
	err = ifreq_ioctl(fd, name, SIOCGIFFLAGS, &ifr);
	close(fd);
	return err ?: !!(ifr.ifr_flags & IFF_UP);
}

static int genl_open(struct mnl_socket **out)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
	int err;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID)) {
		err = -errno;
		mnl_socket_close(nl);
		return err;
	}
	*out = nl;
	return 0;
}

static struct nlmsghdr *genl_msg(char *buf, __u16 family, __u8 cmd, __u8 version)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *g;

	nlh->nlmsg_type = family;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = 1;		/* each request has a socket of its own */
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->cmd = cmd;
	g->version = version;
	return nlh;
}

/* Send @nlh and feed the replies to @cb up to the kernel's ack. */
static int genl_talk(struct mnl_socket *nl, const struct nlmsghdr *nlh, mnl_cb_t cb,
		     void *data)
{
	char buf[XPROBE_NLBUF] __attribute__((aligned(8)));
	unsigned int portid = mnl_socket_get_portid(nl);
	ssize_t len;
	int ret = 0;

	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		len = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0)
			return -errno;
		errno = 0;
		ret = mnl_cb_run(buf, len, nlh->nlmsg_seq, portid, cb, data);
	} while (len < 0 || ret > 0);
	return ret < 0 ? (errno ? -errno : -EIO) : 0;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr))
		if (mnl_attr_get_type(a) == CTRL_ATTR_FAMILY_ID &&
		    !mnl_attr_validate(a, MNL_TYPE_U16))
			*(__u16 *)data = mnl_attr_get_u16(a);
	return MNL_CB_OK;
}

/* The id of generic netlink family @name; -ENOENT if this kernel has none. */
static int genl_family(struct mnl_socket *nl, const char *name, __u16 *id)
{
	char buf[256] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = genl_msg(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1);
	int err;

	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, name);
	*id = 0;
	err = genl_talk(nl, nlh, family_cb, id);
	return !err && !*id ? -ENOENT : err;
}

struct xdp_reply {
	__u32 ifindex;			/* asked for */
	__u64 features;
	bool known;
};

static int xdp_cb(const struct nlmsghdr *nlh, void *data)
{
	struct xdp_reply *r = data;
	const struct nlattr *a;
	__u32 ifindex = 0;
	__u64 features = 0;
	bool have = false;

	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		if (mnl_attr_get_type(a) == XOFF_NETDEV_A_DEV_IFINDEX &&
		    !mnl_attr_validate(a, MNL_TYPE_U32))
			ifindex = mnl_attr_get_u32(a);
		if (mnl_attr_get_type(a) == XOFF_NETDEV_A_DEV_XDP_FEATURES &&
		    !mnl_attr_validate(a, MNL_TYPE_U64)) {
			features = mnl_attr_get_u64(a);
			have = true;
		}
	}
	/* Only an answer about the device asked for counts. */
	if (have && ifindex == r->ifindex) {
		r->features = features;
		r->known = true;
	}
	return MNL_CB_OK;
}

static int xdp_get(struct mnl_socket *nl, __u16 family, struct xprobe_dev *d)
{
	char buf[256] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = genl_msg(buf, family, XOFF_NETDEV_CMD_DEV_GET,
					XOFF_NETDEV_FAMILY_VERSION);
	struct xdp_reply r = { .ifindex = d->ifindex };
	int err;

	mnl_attr_put_u32(nlh, XOFF_NETDEV_A_DEV_IFINDEX, d->ifindex);
	err = genl_talk(nl, nlh, xdp_cb, &r);
	if (err || !r.known)
		return err ?: -EPROTO;
	d->xdp_features = r.features;
	d->xdp_features_known = 1;
	d->xdp_native = r.features & XOFF_NETDEV_XDP_ACT_BASIC ? XPROBE_YES : XPROBE_NO;
	return 0;
}

/* Before 6.3 there is no "netdev" family and no way to ask: xdp_native stays UNKNOWN
 * (generic XDP works on any device; only native support is in question). */
static int dev_xdp(struct xprobe_dev *d)
{
	struct mnl_socket *nl;
	__u16 family;
	int err;

	if ((err = genl_open(&nl)))
		return err;
	err = genl_family(nl, XOFF_NETDEV_FAMILY_NAME, &family);
	if (!err)
		err = xdp_get(nl, family, d);
	mnl_socket_close(nl);
	return err;
}

/* The probes went by name and by index: make sure the name still means the device they
 * began with (a rename in between would have mixed two devices). */
static int dev_same(const char *ifname, unsigned int ifindex)
{
	unsigned int now = if_nametoindex(ifname);

	if (!now)
		return -ENODEV;
	return now == ifindex ? 0 : -EAGAIN;
}

static void dev_init(struct xprobe_dev *d, const char *ifname)
{
	memset(d, 0, sizeof(*d));
	memcpy(d->name, ifname, strlen(ifname) + 1);
	d->esp_hw_offload = d->esp_tx_csum = d->esp_gso = XPROBE_UNKNOWN;
	d->esp_hw_offload_avail = d->esp_tx_csum_avail = d->esp_gso_avail = XPROBE_UNKNOWN;
	d->xdp_native = XPROBE_UNKNOWN;
	d->mtu = -1;
	d->up = XPROBE_UNKNOWN;
}

int xprobe_dev(const char *ifname, struct xprobe_dev *out)
{
	int fd, err;

	if (!out || !name_ok(ifname))
		return -EINVAL;
	dev_init(out, ifname);
	fd = ioctl_sock();
	if (fd < 0)
		return fd;
	err = dev_basics(fd, ifname, out);
	if (!err)
		err = fatal(dev_driver(fd, ifname, out));
	if (!err)
		err = fatal(dev_esp(fd, ifname, out));
	if (!err)
		err = fatal(dev_xdp(out));
	if (!err)
		err = dev_same(ifname, out->ifindex);
	close(fd);
	return err;
}

int xprobe_dev_feature(const char *ifname, const char *feature, int *active, int *avail)
{
	struct feats f = {};
	int fd, err;

	if (!name_ok(ifname) || !feature || !active || !avail)
		return -EINVAL;
	*active = *avail = XPROBE_UNKNOWN;
	if (!*feature || strlen(feature) >= ETH_GSTRING_LEN)
		return -ENOENT;
	fd = ioctl_sock();
	if (fd < 0)
		return fd;
	err = feats_load(fd, ifname, &f);
	if (!err)
		err = feats_get(&f, feature, active, avail);
	feats_free(&f);
	close(fd);
	return err;
}

/*
 * The kernel.
 */

/* What xprobe_kernel() reads once and its probes share. */
struct kctx {
	struct btf *vmlinux;		/* NULL: not loaded (vmlinux_err) */
	int vmlinux_err;
	struct btf *xfrm_user;		/* xfrm_user's split BTF when it is a loaded module */
	char *config;			/* the kernel's .config, NULL if not found */
	char *builtin;			/* modules.builtin */
	char *dep;			/* modules.dep */
	bool modules;			/* the kernel loads modules */
};

/* The whole of @path, gzip or plain (zlib reads both), after a '\n' so that every line
 * of it starts with one. */
static int slurp(const char *path, char **out)
{
	size_t len = 1, cap = 1 << 15;
	char *buf = NULL, *more;
	gzFile gz;
	int n, err = 0;

	*out = NULL;
	errno = 0;
	gz = gzopen(path, "rb");
	if (!gz)
		return errno ? -errno : -ENOMEM;
	for (;;) {
		if (!buf || cap - len < 2) {
			cap *= 2;
			more = cap <= XPROBE_FILE_MAX ? realloc(buf, cap) : NULL;
			if (!more) {
				err = cap <= XPROBE_FILE_MAX ? -ENOMEM : -EFBIG;
				break;
			}
			buf = more;
		}
		n = gzread(gz, buf + len, cap - len - 1);
		if (n <= 0) {
			err = n < 0 ? -EIO : 0;
			break;
		}
		len += n;
	}
	gzclose(gz);
	if (err) {
		free(buf);
		return err;
	}
	buf[0] = '\n';
	buf[len] = '\0';
	*out = buf;
	return 0;
}

static bool exists(const char *fmt, const char *arg)
{
	char path[256];

	snprintf(path, sizeof(path), fmt, arg);
	return !access(path, F_OK);
}

/* No /proc/modules: built without CONFIG_MODULES. modules_disabled=1: loading is off
 * until reboot. */
static bool modules_loadable(void)
{
	char *v;
	bool off;

	if (!exists("/proc/%s", "modules"))
		return false;
	if (slurp("/proc/sys/kernel/modules_disabled", &v))
		return true;
	off = !strcmp(v, "\n1\n");
	free(v);
	return !off;
}

static int kctx_files(struct kctx *k, const char *release)
{
	char path[256];
	int err;

	/* The running kernel's own config first; /boot's is a file that may be stale. */
	snprintf(path, sizeof(path), "/boot/config-%s", release);
	err = slurp("/proc/config.gz", &k->config);
	if (err && err != -ENOMEM)
		err = slurp(path, &k->config);
	if (err == -ENOMEM)
		return err;
	snprintf(path, sizeof(path), "/lib/modules/%s/modules.builtin", release);
	if (slurp(path, &k->builtin) == -ENOMEM)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/lib/modules/%s/modules.dep", release);
	if (slurp(path, &k->dep) == -ENOMEM)
		return -ENOMEM;
	k->modules = modules_loadable();
	return 0;
}

/* libbpf warns when a kernel has no BTF; here that is an answer, not an error. Its
 * print callback is global: swapped out for the load and put back. */
static void kctx_btf(struct kctx *k)
{
	libbpf_print_fn_t old = libbpf_set_print(NULL);

	k->vmlinux = btf__load_vmlinux_btf();
	k->vmlinux_err = k->vmlinux ? 0 : -errno;
	/* XFRMA_* may be used only by xfrm_user: when it is a loaded module, its BTF
	 * (split over vmlinux, so it covers both) is where to look. */
	if (k->vmlinux && exists("/sys/kernel/btf/%s", "xfrm_user"))
		k->xfrm_user = btf__parse_split("/sys/kernel/btf/xfrm_user", k->vmlinux);
	libbpf_set_print(old);
}

static void kctx_close(struct kctx *k)
{
	btf__free(k->xfrm_user);
	btf__free(k->vmlinux);
	free(k->config);
	free(k->builtin);
	free(k->dep);
}

static bool enum_has(const struct btf *btf, const struct btf_type *t, const char *name)
{
	__u16 i, vlen = btf_vlen(t);

	for (i = 0; i < vlen; i++) {
		__u32 off = btf_is_enum(t) ? btf_enum(t)[i].name_off : btf_enum64(t)[i].name_off;

		if (!strcmp(btf__name_by_offset(btf, off), name))
			return true;
	}
	return false;
}

/* Enumerators are not types of their own: look in every enum, named or not. Returns
 * an xprobe_tri: NO only when @anchor, a type of the code that would use @name, is
 * there (else this BTF may just not cover that code, e.g. a module not loaded). */
static int btf_enumerator(const struct btf *btf, const char *name, const char *anchor,
			  __u32 anchor_kind)
{
	__u32 id, n = btf__type_cnt(btf);

	for (id = 1; id < n; id++) {
		const struct btf_type *t = btf__type_by_id(btf, id);

		if ((btf_is_enum(t) || btf_is_enum64(t)) && enum_has(btf, t, name))
			return XPROBE_YES;
	}
	return btf__find_by_name_kind(btf, anchor, anchor_kind) > 0 ? XPROBE_NO : XPROBE_UNKNOWN;
}

/* Whether struct @sname has member @member: NO only when the struct is there without it
 * (else this BTF may not cover the code that has it). */
static int btf_member(const struct btf *btf, const char *sname, const char *member)
{
	__s32 id = btf__find_by_name_kind(btf, sname, BTF_KIND_STRUCT);
	const struct btf_member *m;
	const struct btf_type *t;
	__u16 i;

	if (id <= 0)
		return XPROBE_UNKNOWN;
	t = btf__type_by_id(btf, id);
	for (i = 0, m = btf_members(t); i < btf_vlen(t); i++, m++)
		if (!strcmp(btf__name_by_offset(btf, m->name_off), member))
			return XPROBE_YES;
	return XPROBE_NO;
}

/* Either answer that knows: yes over no over unknown. */
static int tri_either(int a, int b)
{
	if (a == XPROBE_YES || b == XPROBE_YES)
		return XPROBE_YES;
	return a == XPROBE_NO || b == XPROBE_NO ? XPROBE_NO : XPROBE_UNKNOWN;
}

/* Per-CPU SAs (6.13): the attribute xfrm_user reads, or the state member it fills. */
static int btf_sa_pcpu(const struct btf *xfrm, const struct btf *vmlinux)
{
	return tri_either(btf_enumerator(xfrm, "XFRMA_SA_PCPU", "xfrm_attr_type_t",
					 BTF_KIND_ENUM),
			  btf_member(vmlinux, "xfrm_state", "pcpu_num"));
}

static void kernel_btf(const struct kctx *k, struct xprobe_kernel *out)
{
	const struct btf *xfrm = k->xfrm_user ? k->xfrm_user : k->vmlinux;

	if (!k->vmlinux) {
		/* libbpf says ESRCH when it found no BTF in any place it looks. */
		out->btf = k->vmlinux_err == -ESRCH || k->vmlinux_err == -ENOENT ?
			   XPROBE_NO : XPROBE_UNKNOWN;
		return;
	}
	out->btf = XPROBE_YES;
	out->sa_dir = btf_enumerator(xfrm, "XFRMA_SA_DIR", "xfrm_attr_type_t", BTF_KIND_ENUM);
	out->sa_pcpu = btf_sa_pcpu(xfrm, k->vmlinux);
	/* 6.2 added the offload type enum to struct xfrm_dev_offload, which has that
	 * name in every kernel from 6.1 on. */
	out->packet_offload = btf_enumerator(xfrm, "XFRM_DEV_OFFLOAD_PACKET", "xfrm_dev_offload",
					     BTF_KIND_STRUCT);
}

/* A part of the kernel that may be built in, a module, or absent. */
struct kpart {
	const char *module;		/* its module, NULL if it can only be built in */
	const char *func;		/* a global function only it defines */
	const char *config;		/* its Kconfig symbol */
};

/* 'y', 'm', 'n', or 0 without a config. A symbol the config does not mention at all is
 * off: its dependencies are. */
static char kconfig(const struct kctx *k, const char *sym)
{
	char key[64];
	const char *p;

	if (!k->config)
		return 0;
	snprintf(key, sizeof(key), "\n%s=", sym);
	p = strstr(k->config, key);
	if (!p)
		return 'n';
	p += strlen(key);
	return *p == 'y' || *p == 'm' ? *p : 'n';
}

/* 1 if the module list @text names @module (as ".../NAME.ko", compressed or not), 0 if
 * not, -1 without the list. */
static int listed(const char *text, const char *module)
{
	char key[64];

	if (!text || !module)
		return -1;
	snprintf(key, sizeof(key), "/%s.ko", module);
	return !!strstr(text, key);
}

/*
 * Whether @p is there, without using it (adding an SA would load and use it). Returns
 * an xprobe_tri, from the first of these that answers:
 *   1. /sys/module/NAME exists: loaded as a module (or built in with parameters): yes.
 *   2. vmlinux BTF has p->func: built in: yes.
 *   3. The kernel's config: =y yes, not set no (=m goes on to 4-6).
 *   4. modules.builtin lists NAME.ko: yes.
 *   5. The kernel cannot load modules: no when built in is ruled out (config =m, a
 *      modules.builtin without it, or vmlinux BTF without p->func).
 *   6. modules.dep lists NAME.ko: yes (the kernel loads it for the first SA that needs
 *      it); a modules.dep without it: no when built in is ruled out.
 * Anything else (a container without the host's /lib/modules, no config) is unknown.
 */
static int kpart_probe(const struct kctx *k, const struct kpart *p)
{
	char c = kconfig(k, p->config);
	bool not_builtin;

	if (p->module && exists("/sys/module/%s", p->module))
		return XPROBE_YES;
	if (k->vmlinux && btf__find_by_name_kind(k->vmlinux, p->func, BTF_KIND_FUNC) > 0)
		return XPROBE_YES;
	if (c == 'y' || c == 'n')
		return c == 'y' ? XPROBE_YES : XPROBE_NO;
	if (listed(k->builtin, p->module) == 1)
		return XPROBE_YES;
	not_builtin = c == 'm' || k->vmlinux || listed(k->builtin, p->module) == 0;
	if (!p->module || !k->modules || listed(k->dep, p->module) == 0)
		return not_builtin ? XPROBE_NO : XPROBE_UNKNOWN;
	return listed(k->dep, p->module) == 1 ? XPROBE_YES : XPROBE_UNKNOWN;
}

/* Opening the socket loads xfrm_user if it is a module, as any XFRM tool would. */
static int xfrm_user_tri(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_XFRM);

	if (fd >= 0) {
		close(fd);
		return XPROBE_YES;
	}
	return errno == EPROTONOSUPPORT ? XPROBE_NO : XPROBE_UNKNOWN;
}

static int netdev_genl_tri(void)
{
	struct mnl_socket *nl;
	__u16 id;
	int err;

	if (genl_open(&nl))
		return XPROBE_UNKNOWN;
	err = genl_family(nl, XOFF_NETDEV_FAMILY_NAME, &id);
	mnl_socket_close(nl);
	if (err)
		return err == -ENOENT ? XPROBE_NO : XPROBE_UNKNOWN;
	return XPROBE_YES;
}

static void kernel_init(struct xprobe_kernel *k)
{
	memset(k, 0, sizeof(*k));
	k->btf = k->sa_dir = k->sa_pcpu = k->packet_offload = XPROBE_UNKNOWN;
	k->xfrm_user = k->esp = k->esp6 = k->xfrm_offload = XPROBE_UNKNOWN;
	k->xdp_features_genl = XPROBE_UNKNOWN;
}

int xprobe_kernel(struct xprobe_kernel *out)
{
	/* esp_output_head/esp6_output_head: exported by esp4.c/esp6.c for their
	 * offload modules; xfrm_dev_state_add: net/xfrm/xfrm_device.c, which only
	 * CONFIG_XFRM_OFFLOAD builds (a static inline stub otherwise). */
	static const struct kpart esp4 = { "esp4", "esp_output_head", "CONFIG_INET_ESP" };
	static const struct kpart esp6 = { "esp6", "esp6_output_head", "CONFIG_INET6_ESP" };
	static const struct kpart offload = { NULL, "xfrm_dev_state_add", "CONFIG_XFRM_OFFLOAD" };
	struct kctx k = {};
	struct utsname u;
	int err;

	if (!out)
		return -EINVAL;
	kernel_init(out);
	if (uname(&u))
		return -errno;
	memcpy(out->release, u.release, sizeof(out->release) - 1);
	/* First: it may load xfrm_user, whose BTF the BTF probes then find. */
	out->xfrm_user = xfrm_user_tri();
	out->xdp_features_genl = netdev_genl_tri();
	kctx_btf(&k);
	kernel_btf(&k, out);
	err = kctx_files(&k, out->release);
	if (!err) {
		out->esp = kpart_probe(&k, &esp4);
		out->esp6 = kpart_probe(&k, &esp6);
		out->xfrm_offload = kpart_probe(&k, &offload);
	}
	kctx_close(&k);
	return err;
}

const char *xprobe_tri_str(int v)
{
	if (v == XPROBE_YES)
		return "yes";
	return v == XPROBE_NO ? "no" : "unknown";
}

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The loader library: xoff's skeleton, its maps and counters, behind a small API. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "libxoff.h"
#include "xoff.skel.h"

struct xoff {
	struct xoff_bpf *skel;
	int nr_cpus;
	struct xoff_counters *pcpu;	/* scratch for one per-CPU value */
	unsigned int hz;		/* the kernel's tick rate, 0 until measured */
	bool mmapped;			/* loaded by the skeleton: .data and .bss are mmapped */
	__u64 *gen;			/* xoff_gen, mmapped on first use */
	struct xoff_mirror *mir;	/* xoff_mirror, mmapped on first use */
	size_t mir_len;
	int mir_old;			/* an older xoff's xoff_mirror, converted at load */
	char mir_old_path[256];
};

/* Maps shared by all interfaces; the reason maps and .data stay per instance. */
static const char *const shared_maps[] = {
	XOFF_MAP_SAS, XOFF_MAP_COUNTERS, XOFF_MAP_POLICIES, XOFF_MAP_CPUS, XOFF_MAP_MIRROR,
	XOFF_MAP_IFACES, XOFF_MAP_DAEMON, XOFF_MAP_GEN, XOFF_MAP_AUTH, XOFF_MAP_AUTH_SAS,
};

__u32 xoff_max_sas(struct xoff *x)
{
	return bpf_map__max_entries(x->skel->maps.xoff_counters);
}

int xoff_nr_cpus(void)
{
	return libbpf_num_possible_cpus();
}

static int err_of(int ret)
{
	return ret < 0 ? (errno ? -errno : ret) : 0;
}

static int set_pin_paths(struct xoff *x, const char *dir)
{
	char path[256];
	size_t i;
	int err;

	for (i = 0; i < sizeof(shared_maps) / sizeof(shared_maps[0]); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(x->skel->obj, shared_maps[i]);

		if (!m)
			return -ENOENT;
		if (snprintf(path, sizeof(path), "%s/%s", dir, shared_maps[i]) >= (int)sizeof(path))
			return -ENAMETOOLONG;
		err = bpf_map__set_pin_path(m, path);
		if (err)
			return err;
	}
	return 0;
}

/*
 * xoff_mirror as xoff pinned it before the map was mmapable: 80-byte records without
 * pend_written_*. An upgrade renames that pin aside (MIRROR_OLD), lets the load create
 * the new map, copies every record into it and only then removes the old one: an
 * upgrade cut short anywhere is finished by the next, and no record is lost.
 */
struct xoff_mirror_v1 {
	__u64	packets, bytes, written_packets, written_bytes;
	__u64	pend_packets, pend_bytes, target_packets, target_bytes;
	__u64	add_time;
	__u32	flags, pad;
};

#define MIRROR_OLD	"_v1"	/* bpffs refuses dots in names */

enum mirror_pin { MIRROR_NONE, MIRROR_CURRENT, MIRROR_V1, MIRROR_CUT, MIRROR_ALIEN };

/* What is pinned as xoff_mirror (@path, 256 bytes) in @dir; @fd: the map to convert from
 * (V1, CUT), pinned as @old. */
static int mirror_pin_state(const char *dir, char *path, char *old, size_t oldlen, int *fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	int err;

	*fd = -1;
	if (snprintf(path, 256, "%s/%s", dir, XOFF_MAP_MIRROR) >= 256 ||
	    snprintf(old, oldlen, "%s%s", path, MIRROR_OLD) >= (int)oldlen)
		return -ENAMETOOLONG;
	if ((*fd = bpf_obj_get(old)) >= 0)
		return MIRROR_CUT;
	if ((*fd = bpf_obj_get(path)) < 0)
		return errno == ENOENT ? MIRROR_NONE : -errno;
	if (bpf_obj_get_info_by_fd(*fd, &info, &len)) {
		err = -errno;
		close(*fd);
		*fd = -1;
		return err;
	}
	if (info.value_size == sizeof(struct xoff_mirror) && info.map_flags & BPF_F_MMAPABLE) {
		close(*fd);
		*fd = -1;
		return MIRROR_CURRENT;
	}
	return info.value_size == sizeof(struct xoff_mirror_v1) ? MIRROR_V1 : MIRROR_ALIEN;
}

int xoff_pins_outdated(const char *dir)
{
	char path[256], old[256];
	int fd, st = mirror_pin_state(dir, path, old, sizeof(old), &fd);

	if (fd >= 0)
		close(fd);
	return st < 0 ? st : st == MIRROR_V1 || st == MIRROR_CUT || st == MIRROR_ALIEN;
}

static int mirror_pin_check(struct xoff *x, const char *dir, bool upgrade)
{
	char path[256];
	int fd, err = 0, st = mirror_pin_state(dir, path, x->mir_old_path, sizeof(x->mir_old_path),
					       &fd);

	if (st < 0 || st == MIRROR_NONE || st == MIRROR_CURRENT)
		return st < 0 ? st : 0;
	if (!upgrade || st == MIRROR_ALIEN) {
		close(fd);
		return -EPROTO;
	}
	if (st == MIRROR_CUT) {
		/* An upgrade was cut short: what is pinned under the name is its new map,
		 * maybe half filled. The old one is the truth. */
		if (unlink(path) && errno != ENOENT)
			err = -errno;
	} else if (rename(path, x->mir_old_path)) {
		err = -errno;
	}
	if (err) {
		close(fd);
		return err;
	}
	x->mir_old = fd;
	return 0;
}

/* Copy the old records into the new map (mmapped), then remove the old pin. */
static int mirror_convert(struct xoff *x)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info), slot, n;
	struct xoff_mirror *dst = xoff_mirror_records(x);
	struct xoff_mirror_v1 v;

	if (!dst)
		return -errno;
	if (bpf_obj_get_info_by_fd(x->mir_old, &info, &len))
		return -errno;
	n = info.max_entries < xoff_max_sas(x) ? info.max_entries : xoff_max_sas(x);
	for (slot = 0; slot < n; slot++) {
		struct xoff_mirror *m = &dst[slot];

		if (bpf_map_lookup_elem(x->mir_old, &slot, &v))
			return -errno;
		memset(m, 0, sizeof(*m));
		memcpy(m, &v, sizeof(v));
		/* An older daemon kept the baselines of SAs the kernel counts in memory only:
		 * whatever the record says, their traffic so far was the kernel's. */
		if (m->flags & XOFF_MIRROR_USED && !(m->flags & XOFF_MIRROR_WRITE))
			m->flags |= XOFF_MIRROR_KCOUNTED;
		if (m->flags & XOFF_MIRROR_PENDING) {
			/* What the old commit would have added once the write landed. */
			m->pend_written_packets = v.written_packets + v.pend_packets - v.packets;
			m->pend_written_bytes = v.written_bytes + v.pend_bytes - v.bytes;
		}
	}
	if (unlink(x->mir_old_path) && errno != ENOENT)
		return -errno;
	close(x->mir_old);
	x->mir_old = -1;
	return 0;
}

const char *xoff_strerror(int err)
{
	if (err == -EPROTO)
		return "the pinned maps are from an older xoff: start the daemon (xoffctl run) "
		       "or attach, which convert them";
	return strerror(err < 0 ? -err : err);
}

struct xoff_mirror *xoff_mirror_records(struct xoff *x)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len;
	void *p;

	if (x->mir)
		return x->mir;
	len = (size_t)xoff_max_sas(x) * sizeof(*x->mir);
	len = (len + page - 1) / page * page;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
		 bpf_map__fd(x->skel->maps.xoff_mirror), 0);
	if (p == MAP_FAILED)
		return NULL;
	x->mir = p;
	x->mir_len = len;
	return x->mir;
}

/* Mapped at load, so that the bump after a change to xoff_sas cannot fail. */
static int gen_map(struct xoff *x)
{
	void *p = mmap(NULL, sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE, MAP_SHARED,
		       bpf_map__fd(x->skel->maps.xoff_gen), 0);

	if (p == MAP_FAILED)
		return -errno;
	x->gen = p;
	return 0;
}

int xoff_sas_changed(struct xoff *x)
{
	if (!x->gen)
		return -EBADF;		/* not loaded */
	__atomic_add_fetch(x->gen, 1, __ATOMIC_RELEASE);
	return 0;
}

int xoff_open(struct xoff **out, const struct xoff_opts *opts)
{
	__u32 max_sas = opts && opts->max_sas ? opts->max_sas : XOFF_MAX_SAS;
	__u32 max_pol = opts && opts->max_policies ? opts->max_policies : XOFF_MAX_POLICIES;
	struct xoff *x;
	int err;

	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->mir_old = -1;
	x->nr_cpus = libbpf_num_possible_cpus();
	if (x->nr_cpus <= 0) {
		err = x->nr_cpus ? x->nr_cpus : -EINVAL;
		goto fail;
	}
	x->pcpu = calloc(x->nr_cpus, sizeof(*x->pcpu));
	if (!x->pcpu) {
		err = -ENOMEM;
		goto fail;
	}
	x->skel = xoff_bpf__open();
	if (!x->skel) {
		err = -errno;
		goto fail;
	}
	/* The hash has as many buckets as max_entries (rounded up to a power of two): twice
	 * the SAs keeps chains at a load of 1/2, so a hit visits 1.25 elements on average
	 * instead of 1.5. Buckets are 16 bytes; elements are allocated per SA
	 * (BPF_F_NO_PREALLOC), so the spare capacity costs only buckets. Measured with 1M
	 * SAs: a random lookup went from 2.5 to 2.3 dependent memory accesses. The counter
	 * slots still bound the SAs to max_sas. */
	err = bpf_map__set_max_entries(x->skel->maps.xoff_sas, 2 * max_sas);
	err = err ?: bpf_map__set_max_entries(x->skel->maps.xoff_counters, max_sas);
	err = err ?: bpf_map__set_max_entries(x->skel->maps.xoff_auth, max_sas);
	err = err ?: bpf_map__set_max_entries(x->skel->maps.xoff_auth_sas, max_sas);
	err = err ?: bpf_map__set_max_entries(x->skel->maps.xoff_mirror, max_sas);
	err = err ?: bpf_map__set_max_entries(x->skel->maps.xoff_policies, max_pol);
	err = err ?: bpf_map__set_max_entries(x->skel->maps.xoff_cpus, x->nr_cpus);
	if (!err && opts && opts->pin_dir)
		err = set_pin_paths(x, opts->pin_dir) ?:
		      mirror_pin_check(x, opts->pin_dir, opts->upgrade);
	if (!err && opts && opts->maps_only) {
		err = bpf_program__set_autoload(x->skel->progs.xoff_xdp, false);
		err = err ?: bpf_program__set_autoload(x->skel->progs.xoff_tc, false);
		err = err ?: bpf_program__set_autoload(x->skel->progs.xoff_tci, false);
	}
	if (err)
		goto fail;
	*out = x;
	return 0;
fail:
	xoff_close(x);
	return err;
}

int xoff_load(struct xoff *x)
{
	int err = xoff_bpf__load(x->skel);

	x->mmapped = !err;
	err = err ?: gen_map(x);
	if (!err && x->mir_old >= 0)
		err = mirror_convert(x);
	return err;
}

const char *const *xoff_shared_maps(size_t *n)
{
	*n = sizeof(shared_maps) / sizeof(shared_maps[0]);
	return shared_maps;
}

/* The maps private to this instance, pinned under @dir so that status and stats read
 * them after the loader has exited. */
int xoff_pin_instance(struct xoff *x, const char *dir)
{
	struct bpf_map *maps[] = { x->skel->maps.data, x->skel->maps.xoff_xdp_reasons,
				   x->skel->maps.xoff_tc_reasons, x->skel->maps.xoff_tci_reasons };
	const char *names[] = { XOFF_MAP_CFG, XOFF_MAP_XDP_REASONS, XOFF_MAP_TC_REASONS,
				XOFF_MAP_TCI_REASONS };
	char path[256];
	size_t i;
	int err = 0;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]) && !err; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) >= (int)sizeof(path))
			err = -ENAMETOOLONG;
		else
			err = bpf_map__pin(maps[i], path);
	}
	if (err)
		while (i-- > 0)
			if (snprintf(path, sizeof(path), "%s/%s", dir, names[i]) < (int)sizeof(path))
				unlink(path);
	return err;
}

void xoff_close(struct xoff *x)
{
	if (!x)
		return;
	if (x->mir)
		munmap(x->mir, x->mir_len);
	if (x->gen)
		munmap(x->gen, sysconf(_SC_PAGESIZE));
	if (x->mir_old >= 0)
		close(x->mir_old);
	xoff_bpf__destroy(x->skel);
	free(x->pcpu);
	free(x);
}

struct bpf_object *xoff_object(struct xoff *x)
{
	return x->skel->obj;
}

struct bpf_program *xoff_xdp_prog(struct xoff *x)
{
	return x->skel->progs.xoff_xdp;
}

struct bpf_program *xoff_tci_prog(struct xoff *x)
{
	return x->skel->progs.xoff_tci;
}

struct bpf_program *xoff_tc_prog(struct xoff *x)
{
	return x->skel->progs.xoff_tc;
}

int xoff_map_fd(struct xoff *x, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(x->skel->obj, name);
	int fd;

	if (!m)
		return -ENOENT;
	fd = bpf_map__fd(m);
	return fd < 0 ? -EBADF : fd;
}

/* Loaded by the skeleton, .data is mmapped, so plain stores reach the running programs
 * (each field a single aligned store). Before load they set the initial value. Loaded by
 * someone else (libxdp), .data is a map the value is written to. */
int xoff_config_set(struct xoff *x, const struct xoff_ifconfig *cfg)
{
	struct xoff_ifconfig *c = &x->skel->data->xoff_cfg;
	int fd = bpf_map__fd(x->skel->maps.data);

	if (cfg->unknown_spi > XOFF_UNKNOWN_DROP || cfg->steer > 1 || cfg->policies > 1)
		return -EINVAL;
	c->ifindex = cfg->ifindex;
	c->natt_port = cfg->natt_port ? cfg->natt_port : htons(XOFF_NATT_PORT);
	c->unknown_spi = cfg->unknown_spi;
	c->steer = cfg->steer;
	c->policies = cfg->policies;
	if (!x->mmapped && fd >= 0) {
		__u32 zero = 0;

		return err_of(bpf_map_update_elem(fd, &zero, x->skel->data, 0));
	}
	return 0;
}

int xoff_config_get(struct xoff *x, struct xoff_ifconfig *cfg)
{
	*cfg = x->skel->data->xoff_cfg;
	return 0;
}

static int addr_len(int family)
{
	return family == AF_INET ? 4 : family == AF_INET6 ? 16 : -EAFNOSUPPORT;
}

int xoff_sa_key_make(struct xoff_sa_key *k, int family, const void *addr, __be32 spi,
		     enum xoff_encap encap)
{
	int len = addr_len(family);

	if (len < 0)
		return len;
	if (encap != XOFF_ENCAP_ESP && encap != XOFF_ENCAP_ESPINUDP)
		return -EINVAL;
	memset(k, 0, sizeof(*k));
	k->family = family;
	k->encap = encap;
	k->spi = spi;
	memcpy(k->daddr, addr, len);
	return 0;
}

static int sa_valid(struct xoff *x, const struct xoff_sa *v)
{
	if (v->flags & ~(XOFF_SA_UNSERVED | XOFF_SA_PCPU_ELSEWHERE))
		return 0;
	if (v->flags & XOFF_SA_UNSERVED)
		return v->slot == XOFF_SLOT_NONE;	/* passed before anything else is read */
	if (v->slot >= bpf_map__max_entries(x->skel->maps.xoff_counters))
		return 0;
	if (v->path > XOFF_PATH_HW || v->offload_mode > XOFF_OFFLOAD_PACKET ||
	    v->dir > XOFF_DIR_OUT || v->action > XOFF_ACT_CPU || v->mode > XOFF_MODE_TUNNEL)
		return 0;
	if (v->action == XOFF_ACT_CPU && v->cpu >= x->nr_cpus)
		return 0;
	/* The program writes queue + 1 (see xoff_tc), which must not wrap. */
	return v->queue == XOFF_QUEUE_NONE || v->queue < XOFF_QUEUE_NONE - 1;
}

static int key_valid(const struct xoff_sa_key *k)
{
	return addr_len(k->family) > 0 && k->encap <= XOFF_ENCAP_ESPINUDP && !k->pad[0] &&
	       !k->pad[1];
}

int xoff_sa_update(struct xoff *x, const struct xoff_sa_key *k, const struct xoff_sa *v)
{
	if (!key_valid(k) || !sa_valid(x, v))
		return -EINVAL;
	return err_of(bpf_map__update_elem(x->skel->maps.xoff_sas, k, sizeof(*k), v,
					   sizeof(*v), BPF_ANY)) ?: xoff_sas_changed(x);
}

int xoff_sa_lookup(struct xoff *x, const struct xoff_sa_key *k, struct xoff_sa *v)
{
	return err_of(bpf_map__lookup_elem(x->skel->maps.xoff_sas, k, sizeof(*k), v,
					   sizeof(*v), 0));
}

int xoff_sa_delete(struct xoff *x, const struct xoff_sa_key *k)
{
	return err_of(bpf_map__delete_elem(x->skel->maps.xoff_sas, k, sizeof(*k), 0)) ?:
	       xoff_sas_changed(x);
}

int xoff_sa_update_batch(struct xoff *x, const struct xoff_sa_key *keys,
			 const struct xoff_sa *vals, __u32 n, __u32 *done)
{
	int fd = bpf_map__fd(x->skel->maps.xoff_sas);
	__u32 i, at = 0;
	int err = 0;

	*done = 0;
	for (i = 0; i < n; i++)
		if (!key_valid(&keys[i]) || !sa_valid(x, &vals[i]))
			return -EINVAL;
	while (at < n) {
		LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = BPF_ANY);
		__u32 count = n - at;

		err = err_of(bpf_map_update_batch(fd, &keys[at], &vals[at], &count, &o));
		at += count;
		if (err == -EINVAL && !count) {
			/* No batch ops (or a kernel that refuses this map): one by one. */
			for (; at < n && !err; at++)
				err = xoff_sa_update(x, &keys[at], &vals[at]);
			if (err)
				at--;
		}
		if (err)
			break;
	}
	*done = at;
	if (at)
		xoff_sas_changed(x);	/* mapped at load: cannot fail */
	return err;
}

int xoff_auth_key_make(struct xoff_auth_key *k, int family, const void *saddr, __be32 spi,
		       __u32 reqid)
{
	int len = addr_len(family);

	if (len < 0)
		return len;
	memset(k, 0, sizeof(*k));
	k->family = family;
	k->spi = spi;
	k->reqid = reqid;
	memcpy(k->saddr, saddr, len);
	return 0;
}

int xoff_auth_update(struct xoff *x, const struct xoff_auth_key *k, const struct xoff_auth *v)
{
	if (addr_len(k->family) < 0 || k->pad[0] || k->pad[1] || v->pad[0] || v->pad[1] ||
	    v->pad[2] || v->mode > XOFF_MODE_TUNNEL ||
	    v->slot >= bpf_map__max_entries(x->skel->maps.xoff_auth))
		return -EINVAL;
	return err_of(bpf_map__update_elem(x->skel->maps.xoff_auth_sas, k, sizeof(*k), v,
					   sizeof(*v), BPF_ANY));
}

int xoff_auth_delete(struct xoff *x, const struct xoff_auth_key *k)
{
	return err_of(bpf_map__delete_elem(x->skel->maps.xoff_auth_sas, k, sizeof(*k), 0));
}

int xoff_auth_lookup(struct xoff *x, const struct xoff_auth_key *k, struct xoff_auth *v)
{
	return err_of(bpf_map__lookup_elem(x->skel->maps.xoff_auth_sas, k, sizeof(*k), v,
					   sizeof(*v), 0));
}

int xoff_policy_key_make(struct xoff_policy_key *k, int family, const void *addr,
			 unsigned int prefixlen)
{
	int len = addr_len(family);

	if (len < 0)
		return len;
	if (prefixlen > (unsigned int)len * 8)
		return -EINVAL;
	memset(k, 0, sizeof(*k));
	k->prefixlen = XOFF_POLICY_PREFIX(prefixlen);
	k->family = family;
	memcpy(k->daddr, addr, len);
	return 0;
}

int xoff_policy_update(struct xoff *x, const struct xoff_policy_key *k,
		       const struct xoff_policy *v)
{
	if (addr_len(k->family) < 0 || k->pad[0] || k->pad[1] || k->pad[2] ||
	    k->prefixlen > XOFF_POLICY_PREFIX((unsigned int)addr_len(k->family) * 8) ||
	    k->prefixlen < XOFF_POLICY_PREFIX(0) || v->pad[0] || v->pad[1] || v->pad[2] ||
	    v->mode > XOFF_MODE_TUNNEL ||
	    v->slot >= bpf_map__max_entries(x->skel->maps.xoff_counters))
		return -EINVAL;
	return err_of(bpf_map__update_elem(x->skel->maps.xoff_policies, k, sizeof(*k), v,
					   sizeof(*v), BPF_ANY));
}

int xoff_policy_delete(struct xoff *x, const struct xoff_policy_key *k)
{
	return err_of(bpf_map__delete_elem(x->skel->maps.xoff_policies, k, sizeof(*k), 0));
}

#define XOFF_CPU_QSIZE	2048	/* frames queued per CPU: ~1 ms at 2 Mpps */

int xoff_cpu_enable(struct xoff *x, __u32 cpu, __u32 qsize)
{
	struct bpf_cpumap_val v = { .qsize = qsize ? qsize : XOFF_CPU_QSIZE };

	if (cpu >= (__u32)x->nr_cpus)
		return -EINVAL;
	return err_of(bpf_map__update_elem(x->skel->maps.xoff_cpus, &cpu, sizeof(cpu), &v,
					   sizeof(v), BPF_ANY));
}

int xoff_cpu_disable(struct xoff *x, __u32 cpu)
{
	int err = err_of(bpf_map__delete_elem(x->skel->maps.xoff_cpus, &cpu, sizeof(cpu), 0));

	return err == -ENOENT ? 0 : err;
}

int xoff_cpus_enabled(struct xoff *x, __u16 *cpus, unsigned int max)
{
	struct bpf_cpumap_val v;
	unsigned int n = 0;
	__u32 c;

	for (c = 0; c < (__u32)x->nr_cpus && n < max; c++)
		if (!bpf_map__lookup_elem(x->skel->maps.xoff_cpus, &c, sizeof(c), &v, sizeof(v), 0))
			cpus[n++] = c;
	return n;
}

static void sum_into(struct xoff_counters *sum, const struct xoff_counters *c)
{
	sum->packets += c->packets;
	sum->bytes += c->bytes;
	if (c->last_seen > sum->last_seen)
		sum->last_seen = c->last_seen;
}

static struct bpf_map *counts_map(struct xoff *x, enum xoff_count which)
{
	return which == XOFF_COUNT_AUTH ? x->skel->maps.xoff_auth : x->skel->maps.xoff_counters;
}

int xoff_counters_read(struct xoff *x, __u32 slot, struct xoff_counters *sum,
		       struct xoff_counters *percpu)
{
	return xoff_counts_read(x, XOFF_COUNT_FASTPATH, slot, sum, percpu);
}

int xoff_counts_read(struct xoff *x, enum xoff_count which, __u32 slot,
		     struct xoff_counters *sum, struct xoff_counters *percpu)
{
	struct xoff_counters *v = percpu ? percpu : x->pcpu;
	int i, err;

	err = err_of(bpf_map__lookup_elem(counts_map(x, which), &slot, sizeof(slot), v,
					  sizeof(*v) * x->nr_cpus, 0));
	if (err)
		return err;
	memset(sum, 0, sizeof(*sum));
	for (i = 0; i < x->nr_cpus; i++)
		sum_into(sum, &v[i]);
	return 0;
}

#define XOFF_BATCH	1024	/* slots per batch syscall */

int xoff_counters_read_range(struct xoff *x, __u32 first, __u32 n, struct xoff_counters *sums)
{
	return xoff_counts_read_range(x, XOFF_COUNT_FASTPATH, first, n, sums);
}

int xoff_counts_read_range(struct xoff *x, enum xoff_count which, __u32 first, __u32 n,
			   struct xoff_counters *sums)
{
	int fd = bpf_map__fd(counts_map(x, which));
	__u32 max = bpf_map__max_entries(counts_map(x, which));
	__u32 keys[XOFF_BATCH], prev = first - 1, next, count, i, k;
	struct xoff_counters *vals;
	int c, err = 0;

	if (first >= max || n > max - first)
		return -EINVAL;
	memset(sums, 0, sizeof(*sums) * n);
	vals = calloc((size_t)XOFF_BATCH * x->nr_cpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	/* An array batch starts after the key it is given: @first - 1, or NULL for 0. */
	for (i = 0; i < n && !err; i += count) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);

		count = n - i < XOFF_BATCH ? n - i : XOFF_BATCH;
		err = err_of(bpf_map_lookup_batch(fd, first + i ? &prev : NULL, &next, keys, vals,
						  &count, &o));
		if (err == -ENOENT && count)
			err = 0;	/* the last batch reached the end of the map */
		for (k = 0; !err && k < count; k++) {
			if (keys[k] - first >= n)
				continue;
			for (c = 0; c < x->nr_cpus; c++)
				sum_into(&sums[keys[k] - first], &vals[(size_t)k * x->nr_cpus + c]);
		}
		if (!err && !count)
			err = -EIO;	/* no progress: never loop forever */
		prev = next;
	}
	free(vals);
	if (err == -EINVAL || err == -EOPNOTSUPP || err == -524 /* ENOTSUPP */) {
		/* A kernel without array batches: one lookup per slot. */
		for (err = 0, i = 0; i < n && !err; i++)
			err = xoff_counts_read(x, which, first + i, &sums[i], NULL);
	}
	return err;
}

int xoff_counters_clear(struct xoff *x, __u32 slot)
{
	int err;

	memset(x->pcpu, 0, sizeof(*x->pcpu) * x->nr_cpus);
	err = err_of(bpf_map__update_elem(x->skel->maps.xoff_counters, &slot, sizeof(slot),
					  x->pcpu, sizeof(*x->pcpu) * x->nr_cpus, BPF_ANY));
	return err ?: err_of(bpf_map__update_elem(x->skel->maps.xoff_auth, &slot, sizeof(slot),
						  x->pcpu, sizeof(*x->pcpu) * x->nr_cpus,
						  BPF_ANY));
}

int xoff_clock_read(struct xoff *x, __u64 *jiffies, __u64 *mono_ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);

	if (bpf_prog_test_run_opts(bpf_program__fd(x->skel->progs.xoff_clock), &o))
		return -errno;
	if (!x->mmapped) {
		__u32 zero = 0;

		if (bpf_map_lookup_elem(bpf_map__fd(x->skel->maps.bss), &zero, x->skel->bss))
			return -errno;
	}
	*jiffies = x->skel->bss->xoff_clock_jiffies;
	*mono_ns = x->skel->bss->xoff_clock_ns;
	return 0;
}

/* HZ from the time between two jiffies edges two ticks apart, snapped to the values
 * the kernel can be built with. */
static int measure_hz(struct xoff *x)
{
	static const unsigned int hzs[] = { 100, 250, 300, 1000 };
	__u64 j0, n0, ja = 0, na = 0, j, n;
	unsigned int best = 0, i, tries;
	double hz;
	int err;

	err = xoff_clock_read(x, &j0, &n0);
	for (tries = 0; !err && tries < 10000000; tries++) {
		err = xoff_clock_read(x, &j, &n);
		if (err)
			break;
		if (!ja && j != j0)
			ja = j, na = n;		/* the first edge */
		if (!ja || j < ja + 2)
			continue;
		hz = 1e9 * (double)(j - ja) / (double)(n - na);
		for (i = 0; i < sizeof(hzs) / sizeof(hzs[0]); i++)
			if (!best || fabs(hz - hzs[i]) < fabs(hz - best))
				best = hzs[i];
		x->hz = best;
		return 0;
	}
	return err ? err : -ETIME;
}

int xoff_last_seen_ns(struct xoff *x, __u64 last_seen, __u64 *ns)
{
	__u64 j, n, age;
	int err;

	if (!last_seen) {
		*ns = 0;
		return 0;
	}
	if (!x->hz && (err = measure_hz(x)))
		return err;
	if ((err = xoff_clock_read(x, &j, &n)))
		return err;
	age = j > last_seen ? (j - last_seen) * (1000000000ull / x->hz) : 0;
	*ns = n > age ? n - age : 0;
	return 0;
}

int xoff_reasons_read(struct xoff *x, enum xoff_prog_kind kind, __u64 *out)
{
	struct bpf_map *m = kind == XOFF_PROG_XDP ? x->skel->maps.xoff_xdp_reasons :
			    kind == XOFF_PROG_TCI ? x->skel->maps.xoff_tci_reasons :
						    x->skel->maps.xoff_tc_reasons;
	__u64 *v = (__u64 *)x->pcpu;	/* 24 bytes per CPU >= 8 */
	__u32 r;
	int c, err;

	for (r = 0; r < XOFF_R_MAX; r++) {
		err = err_of(bpf_map__lookup_elem(m, &r, sizeof(r), v, sizeof(*v) * x->nr_cpus, 0));
		if (err)
			return err;
		out[r] = 0;
		for (c = 0; c < x->nr_cpus; c++)
			out[r] += v[c];
	}
	return 0;
}

static const char *const reason_names[XOFF_R_MAX] = {
	[XOFF_R_NOT_IP] = "not-ip",
	[XOFF_R_MALFORMED] = "malformed",
	[XOFF_R_FRAGMENT] = "fragment",
	[XOFF_R_OTHER] = "other",
	[XOFF_R_IKE] = "ike",
	[XOFF_R_NATT_KEEPALIVE] = "natt-keepalive",
	[XOFF_R_UNKNOWN_PASS] = "unknown-spi-pass",
	[XOFF_R_UNKNOWN_DROP] = "unknown-spi-drop",
	[XOFF_R_WRONG_DIR] = "wrong-dir",
	[XOFF_R_SA_HW] = "sa-hw",
	[XOFF_R_SA_SW] = "sa-sw",
	[XOFF_R_SA_STEERED] = "sa-steered",
	[XOFF_R_STEER_FAILED] = "steer-failed",
	[XOFF_R_SA_QUEUED] = "sa-queued",
	[XOFF_R_POLICY_HW] = "policy-hw",
	[XOFF_R_UNSERVED] = "sa-unserved",
	[XOFF_R_CLEAR] = "clear",
	[XOFF_R_AUTH] = "authenticated",
	[XOFF_R_AUTH_ESP] = "authenticated-esp",
	[XOFF_R_AUTH_OTHER] = "authenticated-other",
};

const char *xoff_reason_name(unsigned int reason)
{
	return reason < XOFF_R_MAX ? reason_names[reason] : NULL;
}

/* IV and block sizes of the ciphers and AEADs the kernel's ESP uses (crypto/ names as in
 * XFRMA_ALG_CRYPT / XFRMA_ALG_AEAD), and the default ICV bits of authentication
 * algorithms when XFRMA_ALG_AUTH (no truncation attribute) is used: net/xfrm/xfrm_algo.c. */
struct alg_def {
	const char *name;
	__u8 iv_len;
	__u8 block_len;		/* ALIGN(cipher block size, 4), as esp4/esp6 pad */
	__u16 icv_bits;		/* default ICV; AEADs always carry their own */
};

static const struct alg_def enc_algs[] = {
	{ "rfc4106(gcm(aes))", 8, 4, 128 },
	{ "rfc4309(ccm(aes))", 8, 4, 128 },
	{ "rfc4543(gcm(aes))", 8, 4, 128 },	/* GMAC: authentication only */
	{ "rfc7539esp(chacha20,poly1305)", 8, 4, 128 },
	{ "cbc(aes)", 16, 16, 0 },
	{ "cbc(des3_ede)", 8, 8, 0 },
	{ "cbc(des)", 8, 8, 0 },
	{ "cbc(cast5)", 8, 8, 0 },
	{ "cbc(blowfish)", 8, 8, 0 },
	{ "cbc(serpent)", 16, 16, 0 },
	{ "cbc(twofish)", 16, 16, 0 },
	{ "cbc(camellia)", 16, 16, 0 },
	{ "cbc(sm4)", 16, 16, 0 },
	{ "rfc3686(ctr(aes))", 8, 4, 0 },
	{ "ecb(cipher_null)", 0, 4, 0 },
};

static const struct alg_def auth_algs[] = {
	{ "digest_null", 0, 0, 0 },
	{ "hmac(md5)", 0, 0, 96 },
	{ "hmac(sha1)", 0, 0, 96 },
	{ "hmac(sha256)", 0, 0, 96 },	/* the kernel's pre-RFC 4868 default */
	{ "hmac(sha384)", 0, 0, 192 },
	{ "hmac(sha512)", 0, 0, 256 },
	{ "hmac(rmd160)", 0, 0, 96 },
	{ "xcbc(aes)", 0, 0, 96 },
	{ "cmac(aes)", 0, 0, 96 },
	{ "hmac(sm3)", 0, 0, 256 },
};

static const struct alg_def *alg_find(const struct alg_def *t, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(t[i].name, name))
			return &t[i];
	return NULL;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

int xoff_alg_sizes(const char *enc_or_aead, const char *auth, unsigned int icv_bits,
		   struct xoff_alg_sizes *out)
{
	const struct alg_def *e, *a = NULL;
	unsigned int bits;

	if (!enc_or_aead)
		return -EINVAL;
	e = alg_find(enc_algs, ARRAY_SIZE(enc_algs), enc_or_aead);
	if (!e)
		return -ENOENT;
	if (e->icv_bits) {
		/* AEAD: the ICV comes with the algorithm; no separate auth. */
		if (auth)
			return -EINVAL;
		bits = icv_bits ? icv_bits : e->icv_bits;
	} else {
		a = auth ? alg_find(auth_algs, ARRAY_SIZE(auth_algs), auth) : NULL;
		if (auth && !a)
			return -ENOENT;
		bits = icv_bits ? icv_bits : a ? a->icv_bits : 0;
	}
	if (bits % 8 || bits > 512)
		return -EINVAL;
	out->iv_len = e->iv_len;
	out->icv_len = bits / 8;
	out->block_len = e->block_len;
	return 0;
}

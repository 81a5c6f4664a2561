/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The loader library: open and load xoff's programs, fill its maps, read its counters.
 * Every function returns 0 or a negative errno and never prints or exits. */
#ifndef XOFF_LIBXOFF_H
#define XOFF_LIBXOFF_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "xoff/abi.h"

struct xoff;
struct bpf_object;
struct bpf_program;

struct xoff_opts {
	__u32	max_sas;	/* SA map and counter slots; 0: XOFF_MAX_SAS */
	__u32	max_policies;	/* packet-offload selectors; 0: XOFF_MAX_POLICIES */
	/* Directory where the shared maps (SAs, counters, policies, cpus) are pinned:
	 * reused when present, pinned there at load otherwise. NULL: private maps. */
	const char *pin_dir;
	/* Load the maps and the clock program only, not the XDP and TC programs: for the
	 * daemon and readers, which never attach (the verifier's time is the load's). */
	bool	maps_only;
	/* The caller holds pin_dir's lock exclusively: pinned maps of an older layout are
	 * converted at load. Without it such maps fail the load with -EPROTO. */
	bool	upgrade;
};

/* Open the BPF object and size its maps; nothing is in the kernel yet, so a caller
 * (libxdp) may still set program types and attach targets before xoff_load(). */
int xoff_open(struct xoff **out, const struct xoff_opts *opts);
int xoff_load(struct xoff *x);
void xoff_close(struct xoff *x);
/* strerror(), and what -EPROTO from xoff_open()/xoff_load() means. */
const char *xoff_strerror(int err);
/* 1 when maps pinned in @dir are of an older layout (xoff_open() with upgrade converts
 * them), 0 when not, a negative errno when they cannot be read. */
int xoff_pins_outdated(const char *dir);

/* The counter mirror's records (xoff_max_sas() of them), mmapped from xoff_mirror after
 * load: a store is in the map at once, as another process or a restart sees it. NULL
 * (errno set) when the map cannot be mapped. */
struct xoff_mirror *xoff_mirror_records(struct xoff *x);

/* Names of the maps every instance shares (pinned in xoff_opts.pin_dir). */
const char *const *xoff_shared_maps(size_t *n);
/* Pin this instance's own maps (its config and reason counters) in @dir, which exists. */
int xoff_pin_instance(struct xoff *x, const char *dir);

struct bpf_object *xoff_object(struct xoff *x);
struct bpf_program *xoff_xdp_prog(struct xoff *x);
struct bpf_program *xoff_tc_prog(struct xoff *x);
struct bpf_program *xoff_tci_prog(struct xoff *x);	/* TC ingress: authenticated counts */
int xoff_map_fd(struct xoff *x, const char *name);

/* Configuration of this instance's interface: before load, its initial value; after it,
 * effective at once (whether the skeleton or libxdp loaded the object). */
int xoff_config_set(struct xoff *x, const struct xoff_ifconfig *cfg);
int xoff_config_get(struct xoff *x, struct xoff_ifconfig *cfg);

/* Key construction; @addr is 4 or 16 bytes of network-order address, @spi network order. */
int xoff_sa_key_make(struct xoff_sa_key *k, int family, const void *addr, __be32 spi,
		     enum xoff_encap encap);

/* The programs cache lookups of xoff_sas per CPU: after changing the map other than
 * through these functions, call xoff_sas_changed() (it invalidates every cache). */
int xoff_sas_changed(struct xoff *x);
int xoff_sa_update(struct xoff *x, const struct xoff_sa_key *k, const struct xoff_sa *v);
int xoff_sa_lookup(struct xoff *x, const struct xoff_sa_key *k, struct xoff_sa *v);
int xoff_sa_delete(struct xoff *x, const struct xoff_sa_key *k);
/* All or nothing is not possible in one syscall: on error *done tells how many of the
 * first entries were applied, so a caller can undo them. */
int xoff_sa_update_batch(struct xoff *x, const struct xoff_sa_key *keys,
			 const struct xoff_sa *vals, __u32 n, __u32 *done);

/* Inbound SAs by what a secpath tells of their state (abi.h): @saddr is the SA's source,
 * @spi network order. Entries name the SA's counter slot in xoff_auth. */
int xoff_auth_key_make(struct xoff_auth_key *k, int family, const void *saddr, __be32 spi,
		       __u32 reqid);
int xoff_auth_update(struct xoff *x, const struct xoff_auth_key *k, const struct xoff_auth *v);
int xoff_auth_delete(struct xoff *x, const struct xoff_auth_key *k);
int xoff_auth_lookup(struct xoff *x, const struct xoff_auth_key *k, struct xoff_auth *v);

/* @addr/@prefixlen is the destination selector (prefixlen in address bits). */
int xoff_policy_key_make(struct xoff_policy_key *k, int family, const void *addr,
			 unsigned int prefixlen);
int xoff_policy_update(struct xoff *x, const struct xoff_policy_key *k,
		       const struct xoff_policy *v);
int xoff_policy_delete(struct xoff *x, const struct xoff_policy_key *k);

/* Enable steering to @cpu with a queue of @qsize frames (0: a default), or disable it. */
int xoff_cpu_enable(struct xoff *x, __u32 cpu, __u32 qsize);
int xoff_cpu_disable(struct xoff *x, __u32 cpu);
/* The CPUs steering is enabled to, at most @max of them; returns the count. */
int xoff_cpus_enabled(struct xoff *x, __u16 *cpus, unsigned int max);

int xoff_nr_cpus(void);
/* Counter slots (and so SAs) this instance holds. */
__u32 xoff_max_sas(struct xoff *x);

/* The two counts of a slot (abi.h): what the fast path saw, before authentication, and
 * what was authenticated (the counter mirror's only source). */
enum xoff_count { XOFF_COUNT_FASTPATH = 0, XOFF_COUNT_AUTH = 1 };

/* Sum of one slot over all CPUs; @percpu (xoff_nr_cpus() entries) may be NULL. */
int xoff_counts_read(struct xoff *x, enum xoff_count which, __u32 slot,
		     struct xoff_counters *sum, struct xoff_counters *percpu);
/* Sums of @n slots from @first, in batches where the kernel allows. */
int xoff_counts_read_range(struct xoff *x, enum xoff_count which, __u32 first, __u32 n,
			   struct xoff_counters *sums);
/* The same, of the fast-path counts. */
int xoff_counters_read(struct xoff *x, __u32 slot, struct xoff_counters *sum,
		       struct xoff_counters *percpu);
int xoff_counters_read_range(struct xoff *x, __u32 first, __u32 n, struct xoff_counters *sums);
/* Zero a slot (both counts) on every CPU before it is given to a new SA. */
int xoff_counters_clear(struct xoff *x, __u32 slot);

/* Now as jiffies and CLOCK_MONOTONIC ns, read together in the kernel. */
int xoff_clock_read(struct xoff *x, __u64 *jiffies, __u64 *mono_ns);
/* CLOCK_MONOTONIC ns (to a tick) of a counter's last_seen (0, never, stays 0). The kernel's
 * HZ is measured on first use (about two ticks of busy sampling). */
int xoff_last_seen_ns(struct xoff *x, __u64 last_seen, __u64 *ns);

enum xoff_prog_kind { XOFF_PROG_XDP = 0, XOFF_PROG_TC = 1, XOFF_PROG_TCI = 2 };
/* Reason counters of one program, summed over CPUs: out[XOFF_R_MAX]. */
int xoff_reasons_read(struct xoff *x, enum xoff_prog_kind kind, __u64 *out);
const char *xoff_reason_name(unsigned int reason);

/* ESP sizes of an algorithm as the kernel names it (crypto API names in XFRMA_ALG_*):
 * @icv_bits from the AEAD or AUTH_TRUNC attribute, 0 for the algorithm's default. */
struct xoff_alg_sizes {
	__u8	iv_len;
	__u8	icv_len;
	__u8	block_len;	/* padding alignment: the byte count's error bound + 1 */
};
int xoff_alg_sizes(const char *enc_or_aead, const char *auth, unsigned int icv_bits,
		   struct xoff_alg_sizes *out);

#endif /* XOFF_LIBXOFF_H */

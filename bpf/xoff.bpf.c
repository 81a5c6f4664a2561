// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xoff's fast path: classify ESP by SPI, steer each SA, count per SA and per reason. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <xdp/xdp_helpers.h>
#include "parse.h"

/* Shared by every attached interface (the loader pins and reuses them). The SA hash is
 * not preallocated: its elements come from slab memory (one cache line holds an
 * element's hash, key and value) and the loader can give it spare buckets cheaply. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XOFF_MAX_SAS);
	__type(key, struct xoff_sa_key);
	__type(value, struct xoff_sa);
} xoff_sas SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XOFF_MAX_SAS);
	__type(key, __u32);
	__type(value, struct xoff_counters);
} xoff_counters SEC(".maps");

/* Authenticated counts (abi.h), by the same slots; fed by TC ingress from secpaths and by
 * TC egress from packet-offload selectors, read by the counter mirror. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XOFF_MAX_SAS);
	__type(key, __u32);
	__type(value, struct xoff_counters);
} xoff_auth SEC(".maps");

/* Inbound SAs as a secpath names their states. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XOFF_MAX_SAS);
	__type(key, struct xoff_auth_key);
	__type(value, struct xoff_auth);
} xoff_auth_sas SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XOFF_MAX_POLICIES);
	__type(key, struct xoff_policy_key);
	__type(value, struct xoff_policy);
} xoff_policies SEC(".maps");

/* The counter mirror's state per slot: user space only, in a map so it is pinned with
 * the counters it describes and readable with bpftool; mmapped by the daemon. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, XOFF_MAX_SAS);
	__type(key, __u32);
	__type(value, struct xoff_mirror);
} xoff_mirror SEC(".maps");

/* Control-plane records (user space only), pinned beside the maps they describe. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XOFF_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct xoff_iface);
} xoff_ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xoff_daemon);
} xoff_daemon SEC(".maps");

/* The network namespace the pin directory serves (user space only; pinned by xoffctl). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xoff_netns);
} xoff_netns SEC(".maps");

/* Its generation: bumped by user space after every change to xoff_sas (mmapped). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} xoff_gen SEC(".maps");

/* Private to one program instance: the last lookups of xoff_sas, per CPU (abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XOFF_SA_CACHE);
	__type(key, __u32);
	__type(value, struct xoff_sa_cent);
} xoff_sa_cache SEC(".maps");

/* Sized to the possible CPUs by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} xoff_cpus SEC(".maps");

/* Private to one interface's program instance. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XOFF_R_MAX);
	__type(key, __u32);
	__type(value, __u64);
} xoff_xdp_reasons SEC(".maps"), xoff_tc_reasons SEC(".maps"), xoff_tci_reasons SEC(".maps");

/* This instance's interface; user space writes it through the mmapped .data. */
struct xoff_ifconfig xoff_cfg = {
	.natt_port = bpf_htons(XOFF_NATT_PORT),
};

/* Firewalls (xdp-filter runs at 10) go first; chain on PASS so programs after
 * xoff still see everything xoff does not steer or drop. */
struct {
	__uint(priority, 20);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(xoff_xdp);

/* The SA of @k, through this CPU's cache line for it. Both map lookups here are inlined
 * by the verifier (arrays; per-CPU arrays since Linux 6.10, a helper call before); xoff_sas
 * is looked up on a miss only. The cache is only ever touched by its own CPU, and XDP and
 * TC egress never interrupt each other (both run with bottom halves off), so a line is
 * never read half written. (BPF_PROG_TEST_RUN runs preemptible: two test runs at once on
 * one CPU could mix a line; xoff's tests run one at a time, and production never runs
 * these programs that way.) */
static __always_inline const struct xoff_sa *xoff_sa_find(const struct xoff_sa_key *k)
{
	const __u32 *w = (const void *)k;
	const __u64 *a, *b;
	struct xoff_sa_cent *c;
	struct xoff_sa *sa;
	__u32 zero = 0, line;
	__u64 *genp, gen;

	line = (w[0] ^ w[1] ^ w[2] ^ w[3] ^ w[4] ^ w[5]) * 0x9e3779b1u;
	line >>= 32 - __builtin_ctz(XOFF_SA_CACHE);
	c = bpf_map_lookup_elem(&xoff_sa_cache, &line);
	genp = bpf_map_lookup_elem(&xoff_gen, &zero);
	if (!c || !genp)
		return bpf_map_lookup_elem(&xoff_sas, k);
	gen = *(volatile __u64 *)genp + 1;
	a = (const void *)&c->key;
	b = (const void *)k;
	if (c->gen == gen && a[0] == b[0] && a[1] == b[1] && a[2] == b[2])
		return c->found ? &c->sa : NULL;
	/* Emptied by an exchange, which the JITs make a full barrier: the generation is read
	 * before the map on every CPU, so a line is never tagged newer than what it holds. */
	__sync_lock_test_and_set(&c->gen, 0);
	sa = bpf_map_lookup_elem(&xoff_sas, k);
	c->key = *k;
	c->found = !!sa;
	if (sa)
		c->sa = *sa;
	c->gen = gen;
	return sa;
}

static __always_inline void xoff_reason(void *map, __u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(map, &reason);

	if (n)
		(*n)++;
}

static __always_inline void xoff_count(void *map, const __u32 *slot, __u32 packets,
				       __u64 bytes)
{
	struct xoff_counters *c = bpf_map_lookup_elem(map, slot);

	if (c) {
		c->packets += packets;
		c->bytes += bytes;
		c->last_seen = bpf_jiffies64();
	}
}

/* Count @segs packets of @esp_len bytes of ESP for @sa; false if too short to be ESP of
 * this SA (the kernel would drop it uncounted). @tail: trailer and ICV are in place. */
static __always_inline int xoff_count_esp(const struct xoff_sa *sa, __u32 esp_len, int tail,
					  __u32 segs)
{
	__u32 overhead = XOFF_ESP_HDR_LEN + sa->iv_len +
			 (tail ? sa->icv_len + XOFF_ESP_TRAILER_LEN : 0);

	if (esp_len < overhead)
		return 0;
	xoff_count(&xoff_counters, &sa->slot, segs, esp_len - overhead);
	return 1;
}

SEC("xdp")
int xoff_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct xoff_pkt p = {};
	const struct xoff_sa *sa;
	int verdict = XDP_PASS;
	int r;

	r = xoff_parse(data, end, end - data, xoff_cfg.natt_port, 0, 0, &p);
	if (r != XOFF_PARSE_ESP)
		goto out;

	sa = xoff_sa_find(&p.key);
	if (sa && sa->flags & XOFF_SA_UNSERVED) {
		r = XOFF_R_UNSERVED;	/* the kernel's: never dropped, not counted */
		goto out;
	}
	if (!sa) {
		if (xoff_cfg.unknown_spi == XOFF_UNKNOWN_DROP) {
			verdict = XDP_DROP;
			r = XOFF_R_UNKNOWN_DROP;
		} else {
			r = XOFF_R_UNKNOWN_PASS;
		}
		goto out;
	}
	if (sa->dir != XOFF_DIR_IN) {
		r = XOFF_R_WRONG_DIR;
		goto out;
	}
	if (!xoff_count_esp(sa, p.esp_len, 1, 1)) {
		r = XOFF_R_MALFORMED;
		goto out;
	}
	/* Never move a packet away from the device that holds its offload. */
	if (sa->path == XOFF_PATH_HW && sa->offload_ifindex == ctx->ingress_ifindex) {
		r = XOFF_R_SA_HW;
		goto out;
	}
	if (xoff_cfg.steer && sa->action == XOFF_ACT_CPU) {
		/* Already on its CPU: passed, without a hop through this CPU's own cpumap
		 * thread (an enqueue, a wakeup and the skb built again, competing with the
		 * receive path that runs here). An SA's packets arrive on one queue, so on
		 * one CPU: only while that queue's IRQ moves here can a packet passed now
		 * overtake one still in this CPU's cpumap queue, within the replay window. */
		if (sa->cpu == bpf_get_smp_processor_id()) {
			r = XOFF_R_SA_STEERED;
			goto out;
		}
		/* One SA, one CPU: its sequence numbers stay in order. */
		verdict = bpf_redirect_map(&xoff_cpus, sa->cpu, XDP_PASS);
		r = verdict == XDP_REDIRECT ? XOFF_R_SA_STEERED : XOFF_R_STEER_FAILED;
		goto out;
	}
	r = XOFF_R_SA_SW;
out:
	xoff_reason(&xoff_xdp_reasons, r);
	return verdict;
}

/* Headers an skb must hold in its linear part for the parser: Ethernet, two VLAN tags,
 * IPv6 with the extension headers walked, UDP, ESP's SPI and sequence number. */
#define XOFF_TC_HEAD	(14 + 8 + 40 + 8 * XOFF_MAX_IP6_EXTHDRS + 8 + 8)

/* Classify an skb. Its headers are parsed where they are; only one whose head ends
 * before them (page-frag ESP, some forwarded GRO skbs) is pulled that far and parsed
 * again: a pull of a cloned skb (every TCP segment) copies its head. */
static __always_inline int xoff_tc_parse(struct __sk_buff *skb, int flags, struct xoff_pkt *p)
{
	__u32 want = skb->len < XOFF_TC_HEAD ? skb->len : XOFF_TC_HEAD;
	int r;

	r = xoff_parse((void *)(long)skb->data, (void *)(long)skb->data_end, skb->len,
		       xoff_cfg.natt_port, flags, skb->protocol, p);
	if (r != XOFF_R_MALFORMED ||
	    (long)skb->data_end - (long)skb->data >= (long)want || bpf_skb_pull_data(skb, want))
		return r;
	__builtin_memset(p, 0, sizeof(*p));
	return xoff_parse((void *)(long)skb->data, (void *)(long)skb->data_end, skb->len,
			  xoff_cfg.natt_port, flags, skb->protocol, p);
}

/* Wire packets an skb stands for: a GSO skb is segmented after TC egress, a GRO skb was
 * merged before TC ingress. */
static __always_inline __u32 xoff_segs(const struct __sk_buff *skb)
{
	return skb->gso_segs > 1 ? skb->gso_segs : 1;
}

/* The L4 header every segment of a GSO/GRO skb repeats: TCP with its options, UDP. */
static __always_inline __u32 xoff_l4_hdr(struct __sk_buff *skb, const struct xoff_pkt *p)
{
	__u8 doff;

	if (p->l4_proto == IPPROTO_UDP)
		return 8;
	if (p->l4_proto != IPPROTO_TCP ||
	    bpf_skb_load_bytes(skb, p->l4_off + 12, &doff, sizeof(doff)))
		return 0;
	return (doff >> 4) * 4;
}

/* The kernel's byte count of @segs plaintext segments in one skb (abi.h). */
static __always_inline __u64 xoff_plain_bytes(struct __sk_buff *skb, const struct xoff_pkt *p,
					      __u8 mode, __u32 segs)
{
	__u64 l3 = p->ip_len - p->l4_len, l4 = segs > 1 ? xoff_l4_hdr(skb, p) : 0;

	if (mode == XOFF_MODE_TUNNEL)
		return p->ip_len + (__u64)(segs - 1) * (l3 + l4);
	return p->l4_len + (__u64)(segs - 1) * l4;
}

/* Egress plaintext that a packet-offload SA will carry: the kernel's XFRM sees it,
 * but the NIC does the ESP, so count it here by the SA's selector, as authenticated
 * counts (the plaintext the kernel hands the SA). */
static __always_inline int xoff_count_policy(struct __sk_buff *skb, const struct xoff_pkt *p)
{
	struct xoff_policy_key k = {
		.prefixlen = XOFF_POLICY_PREFIX(p->key.family == AF_INET ? 32 : 128),
		.family = p->key.family,
	};
	struct xoff_policy *pol;
	__u32 segs = xoff_segs(skb);

	__builtin_memcpy(k.daddr, p->key.daddr, sizeof(k.daddr));
	pol = bpf_map_lookup_elem(&xoff_policies, &k);
	if (!pol || pol->ifindex != skb->ifindex)
		return 0;
	xoff_count(&xoff_auth, &pol->slot, segs, xoff_plain_bytes(skb, p, pol->mode, segs));
	return 1;
}

/* ESP whose transform the kernel defers to the device's transmit (crypto offload, or
 * esp4_offload/esp6_offload loaded and an SA without encapsulation: xfrm_dev_offload_ok())
 * passes TC egress before validate_xmit_xfrm() adds padding, trailer and ICV, and still
 * carries its state in a secpath (xfrm_output() resets any other). After its IV comes
 * the plaintext the kernel counted, so it is counted without the tail. */
static __always_inline int xoff_esp_deferred(struct __sk_buff *skb)
{
	struct bpf_xfrm_state xs;

	return !bpf_skb_get_xfrm_state(skb, 0, &xs, sizeof(xs), 0);
}

SEC("tc")
int xoff_tc(struct __sk_buff *skb)
{
	struct xoff_pkt p = {};
	const struct xoff_sa *sa;
	int r;

	r = xoff_tc_parse(skb, XOFF_PARSE_EGRESS | XOFF_PARSE_PROTO |
			  (skb->gso_segs > 1 ? XOFF_PARSE_GSO : 0), &p);
	if (r == XOFF_R_OTHER && xoff_cfg.policies) {
		if (xoff_count_policy(skb, &p))
			r = XOFF_R_POLICY_HW;
		goto out;
	}
	if (r != XOFF_PARSE_ESP)
		goto out;

	sa = xoff_sa_find(&p.key);
	if (!sa) {
		r = XOFF_R_UNKNOWN_PASS;	/* egress is never dropped */
		goto out;
	}
	if (sa->flags & XOFF_SA_UNSERVED) {
		r = XOFF_R_UNSERVED;
		goto out;
	}
	if (sa->dir != XOFF_DIR_OUT) {
		r = XOFF_R_WRONG_DIR;
		goto out;
	}
	if (!xoff_count_esp(sa, p.esp_len, !xoff_esp_deferred(skb), xoff_segs(skb))) {
		r = XOFF_R_MALFORMED;
		goto out;
	}
	if (sa->queue != XOFF_QUEUE_NONE) {
		/* Only act_skbedit can make __dev_queue_xmit() take queue_mapping as the TX
		 * queue. After a BPF write, netdev_pick_tx() reads it as a recorded RX
		 * queue + 1 (skb_tx_hash()) unless XPS, a socket's cached queue or the
		 * driver's ndo_select_queue decide first: so queue + 1 it is. */
		skb->queue_mapping = sa->queue + 1;
		r = XOFF_R_SA_QUEUED;
	} else if (sa->path == XOFF_PATH_HW && sa->offload_ifindex == skb->ifindex) {
		r = XOFF_R_SA_HW;
	} else {
		r = XOFF_R_SA_SW;
	}
out:
	xoff_reason(&xoff_tc_reasons, r);
	return TC_ACT_UNSPEC;	/* never ends the chain: filters behind xoff's still run */
}

/* The newest state of the skb's secpath (the transform just undone; with nested SAs the
 * outer ones were counted on the packet's earlier passes). False without a secpath. */
static __always_inline int xoff_secpath_last(struct __sk_buff *skb, struct bpf_xfrm_state *xs)
{
	struct bpf_xfrm_state t;
	int i, found = 0;

#pragma unroll
	for (i = 0; i < XOFF_SECPATH_MAX; i++) {
		if (bpf_skb_get_xfrm_state(skb, i, &t, sizeof(t), 0))
			break;
		*xs = t;
		found = 1;
	}
	return found;
}

/*
 * TC ingress: authenticated counts. A packet with a secpath was decrypted and
 * authenticated by the kernel's ESP input (software and crypto offload: tunnel mode hands
 * the decapsulated packet to the stack again, through here) or by the NIC (packet offload:
 * the driver hands it up with its state). Forged ESP never gets that far.
 */
SEC("tc")
int xoff_tci(struct __sk_buff *skb)
{
	struct xoff_auth_key k = {};
	struct bpf_xfrm_state xs;
	struct xoff_pkt p = {};
	struct xoff_auth *a;
	__u32 segs;
	int r;

	if (!xoff_secpath_last(skb, &xs)) {
		r = XOFF_R_CLEAR;
		goto out;
	}
	r = xoff_tc_parse(skb, skb->gso_segs > 1 ? XOFF_PARSE_GSO : 0, &p);
	if (r == XOFF_PARSE_ESP && p.key.spi == xs.spi) {
		/* Still the SA's own ESP: its status is the kernel's to check. */
		r = XOFF_R_AUTH_ESP;
		goto out;
	}
	if (r == XOFF_R_MALFORMED || r == XOFF_R_NOT_IP)
		goto out;	/* no IP lengths to count by (fragments have theirs) */
	k.family = xs.family;
	k.spi = xs.spi;
	k.reqid = xs.reqid;
	if (xs.family == AF_INET6)
		__builtin_memcpy(k.saddr, xs.remote_ipv6, sizeof(k.saddr));
	else
		k.saddr4 = xs.remote_ipv4;
	a = bpf_map_lookup_elem(&xoff_auth_sas, &k);
	if (!a) {
		r = XOFF_R_AUTH_OTHER;
		goto out;
	}
	segs = xoff_segs(skb);
	xoff_count(&xoff_auth, &a->slot, segs, xoff_plain_bytes(skb, &p, a->mode, segs));
	r = XOFF_R_AUTH;
out:
	xoff_reason(&xoff_tci_reasons, r);
	return TC_ACT_UNSPEC;	/* it only counts: filters behind it still run */
}

/* Run by the loader (BPF_PROG_TEST_RUN) to pair jiffies with CLOCK_MONOTONIC. */
__u64 xoff_clock_jiffies, xoff_clock_ns;

SEC("syscall")
int xoff_clock(void *ctx)
{
	xoff_clock_ns = bpf_ktime_get_ns();
	xoff_clock_jiffies = bpf_jiffies64();
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

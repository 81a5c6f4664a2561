// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Reference programs: the floors `make bench` measures xoff against, and a cpumap probe for tests. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xoff/abi.h"

/* The bench reuses xoff's own SA map (same definition, fd passed before load). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XOFF_MAX_SAS);
	__type(key, struct xoff_sa_key);
	__type(value, struct xoff_sa);
} xoff_sas SEC(".maps");

/* One cache line per entry; user space writes a random cycle through the mmap. */
struct chase_line {
	__u32 next;
	__u32 pad[15];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct chase_line);
} chase SEC(".maps");

__u32 nr_sas;		/* SAs in the map: keys are 192.0.2.1, SPI 1..nr_sas */
__u32 nr_steps;		/* lookups or chase steps per run */
__u64 misses;		/* lookups that found nothing: must stay 0 */
__u64 sink;		/* keeps the chase's result alive */

SEC("xdp")
int bench_empty(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* The floor of xoff's TC ingress program: a classifier that passes everything. */
SEC("tc")
int bench_tc_empty(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}

SEC("xdp")
int bench_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

/* The veth bench's traffic generator: run by BPF_PROG_RUN in live-frames mode, every
 * frame goes out of gen_ifindex (into its veth peer, the receiver under test). */
__u32 gen_ifindex;

SEC("xdp")
int bench_gen(struct xdp_md *ctx)
{
	return bpf_redirect(gen_ifindex, 0);
}

/* Parse Ethernet/IPv4/ESP into xoff's key and look it up once: nothing else. */
SEC("xdp")
int bench_floor(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct xoff_sa_key k = {};
	struct iphdr *ip;
	__be32 *esp;

	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	esp = (void *)ip + ip->ihl * 4;
	if ((void *)(esp + 2) > end || ip->protocol != IPPROTO_ESP)
		return XDP_PASS;
	k.family = 2;
	k.spi = *esp;
	k.daddr4 = ip->daddr;
	if (!bpf_map_lookup_elem(&xoff_sas, &k))
		return XDP_DROP;
	return XDP_PASS;
}

struct walk {
	__u64 x;	/* random state, or chase index */
};

/* xorshift64: a few cycles, no memory. */
static __always_inline __u64 rnd(__u64 x)
{
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

/* One lookup at a random SPI; the next key depends on this result, so lookups do not
 * overlap and each costs its full latency, like packets one after another. */
static long lookup_step(__u32 i, struct walk *w)
{
	struct xoff_sa_key k = { .family = 2, .daddr4 = bpf_htonl(0xc0000201) };
	struct xoff_sa *sa;
	__u32 idx;

	w->x = rnd(w->x);
	idx = ((w->x >> 32) * nr_sas) >> 32;
	k.spi = bpf_htonl(idx + 1);
	sa = bpf_map_lookup_elem(&xoff_sas, &k);
	if (!sa) {
		misses++;
		return 0;
	}
	w->x ^= sa->flags;	/* always 0: a data dependency, not a change */
	return 0;
}

SEC("xdp")
int bench_lookup(struct xdp_md *ctx)
{
	struct walk w = { .x = 0x9e3779b97f4a7c15ULL };

	bpf_loop(nr_steps, lookup_step, &w, 0);
	return XDP_PASS;
}

/* One dependent random memory access per step. */
static long chase_step(__u32 i, struct walk *w)
{
	__u32 idx = w->x;
	struct chase_line *l = bpf_map_lookup_elem(&chase, &idx);

	if (!l)
		return 1;
	w->x = l->next;
	return 0;
}

SEC("xdp")
int bench_chase(struct xdp_md *ctx)
{
	struct walk w = {};

	bpf_loop(nr_steps, chase_step, &w, 0);
	sink = w.x;
	return XDP_PASS;
}

/* Runs on the CPU a cpumap entry belongs to: counts arrivals there, then drops. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} arrivals SEC(".maps");

SEC("xdp/cpumap")
int probe_cpu(struct xdp_md *ctx)
{
	__u32 cpu = bpf_get_smp_processor_id();
	__u64 *n = bpf_map_lookup_elem(&arrivals, &cpu);

	if (n)
		__sync_fetch_and_add(n, 1);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

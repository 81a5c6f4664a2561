// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Test only (selftests/vm/test_traffic.sh): a TC ingress program that counts ESP and
 * ESP-in-UDP packets per (SPI, CPU), to show on which CPU each SA's packets reach the
 * stack. After xoff's XDP redirect, the cpumap kthread of the SA's CPU builds the skb and
 * runs TC ingress there. Always TC_ACT_UNSPEC: it only watches, and
 * the filters behind it (xoff's TC ingress) still run.
 *
 *   bpftool prog load st_cpu.bpf.o PIN type classifier pinmaps DIR
 *   tc filter add dev DEV ingress bpf da object-pinned PIN
 *   bpftool -j map dump pinned DIR/st_cpu_count     (key: spi in host order, cpu)
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "parse.h"

struct st_cpu_key {
	__u32	spi;	/* host order */
	__u32	cpu;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct st_cpu_key);
	__type(value, __u64);
} st_cpu_count SEC(".maps");

SEC("tc")
int st_cpu(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct st_cpu_key k = {};
	struct xoff_pkt p = {};
	__u64 one = 1, *n;

	if (xoff_parse(data, end, skb->len, bpf_htons(XOFF_NATT_PORT), 0, 0, &p) !=
	    XOFF_PARSE_ESP)
		return TC_ACT_UNSPEC;
	k.spi = bpf_ntohl(p.key.spi);
	k.cpu = bpf_get_smp_processor_id();
	n = bpf_map_lookup_elem(&st_cpu_count, &k);
	if (!n && !bpf_map_update_elem(&st_cpu_count, &k, &one, BPF_NOEXIST))
		return TC_ACT_UNSPEC;
	n = n ?: bpf_map_lookup_elem(&st_cpu_count, &k);	/* lost a race to insert */
	if (n)
		__sync_fetch_and_add(n, 1);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

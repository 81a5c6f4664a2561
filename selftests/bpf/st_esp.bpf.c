// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Test only (selftests/vm/test_pcpu.sh, the decryption bench): counts, per (SPI, CPU), the
 * ESP packets the kernel decrypts, seen at the kernel's own ESP input (esp_input, esp6_input:
 * called by xfrm_input() on the CPU that runs the SA's receive path, once per packet, before
 * the ICV check). An observation independent of xoff's maps: it reads the SPI from the
 * kernel's struct xfrm_state, not from the packet. Loaded by xoff-espcpu (selftests/espcpu.c).
 */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

/* Only the fields read, relocated by name against the running kernel's BTF (CO-RE). */
struct xfrm_id {
	__be32	spi;
} __attribute__((preserve_access_index));

struct xfrm_state {
	struct xfrm_id	id;
} __attribute__((preserve_access_index));

struct st_esp_key {
	__u32	spi;	/* host order */
	__u32	cpu;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct st_esp_key);
	__type(value, __u64);
} st_esp_count SEC(".maps");

static __always_inline void count(struct xfrm_state *x)
{
	struct st_esp_key k = {};
	__u64 one = 1, *n;

	k.spi = bpf_ntohl(BPF_CORE_READ(x, id.spi));
	k.cpu = bpf_get_smp_processor_id();
	n = bpf_map_lookup_elem(&st_esp_count, &k);
	if (n) {
		__sync_fetch_and_add(n, 1);
		return;
	}
	if (bpf_map_update_elem(&st_esp_count, &k, &one, BPF_NOEXIST) == 0)
		return;
	n = bpf_map_lookup_elem(&st_esp_count, &k);	/* lost a race to insert */
	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("kprobe/esp_input")
int BPF_KPROBE(st_esp4, struct xfrm_state *x)
{
	count(x);
	return 0;
}

SEC("kprobe/esp6_input")
int BPF_KPROBE(st_esp6, struct xfrm_state *x)
{
	count(x);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

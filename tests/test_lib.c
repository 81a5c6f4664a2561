// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The loader library: keys, validation, batches, counters, names, ESP sizes and pinning. */
#define _GNU_SOURCE
#include <dirent.h>
#include <sys/stat.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include "fixture.h"
#include "bpffs.h"
#include "mirror_v1.h"
#include <criterion/parameterized.h>
#include <time.h>

#define GCM	.iv_len = 8, .icv_len = 16

/* Open and load an instance of our own size as the fixture's fx, so the fixture's
 * test-run helpers drive it and fx_teardown() closes it. */
#define lib_open fx_open

static void lib_setup_128(void)
{
	lib_open(128);
}

static void lib_setup_64(void)
{
	lib_open(64);
}

static void lib_setup_1000(void)
{
	lib_open(1000);
}

static __u32 sa_count(struct xoff *x)
{
	int fd = xoff_map_fd(x, XOFF_MAP_SAS);
	struct xoff_sa_key k, next;
	__u32 n = 0;
	void *prev = NULL;

	cr_assert_geq(fd, 0);
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

/* A distinct, valid SA per index: both families and both encapsulations. */
static void sa_nth(__u32 i, __u32 max_sas, struct xoff_sa_key *k, struct xoff_sa *v)
{
	uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	int family = i % 2 ? AF_INET6 : AF_INET;

	if (family == AF_INET)
		a[0] = 192, a[1] = 0, a[2] = 2, a[3] = 1 + i % 200;
	cr_assert_eq(xoff_sa_key_make(k, family, a, htonl(0x10000 + i),
				      i % 3 ? XOFF_ENCAP_ESP : XOFF_ENCAP_ESPINUDP), 0);
	*v = (struct xoff_sa){ .slot = i % max_sas, GCM, .queue = i % 5 ? XOFF_QUEUE_NONE : i,
			       .dir = i % 4 ? XOFF_DIR_IN : XOFF_DIR_OUT,
			       .mode = i % 2 ? XOFF_MODE_TUNNEL : XOFF_MODE_TRANSPORT };
}

/* ---- Key builders ---- */

Test(lib, sa_key_make)
{
	const uint8_t a4[4] = { 192, 0, 2, 1 };
	const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 9 };
	struct xoff_sa_key k;
	size_t i;

	/* Garbage first: every byte the builder does not set must come out zero. */
	memset(&k, 0xa5, sizeof(k));
	cr_assert_eq(xoff_sa_key_make(&k, AF_INET, a4, htonl(0x1234), XOFF_ENCAP_ESPINUDP), 0);
	cr_expect_eq(k.family, AF_INET);
	cr_expect_eq(k.encap, XOFF_ENCAP_ESPINUDP);
	cr_expect_eq(k.pad[0], 0);
	cr_expect_eq(k.pad[1], 0);
	cr_expect_eq(k.spi, htonl(0x1234));
	cr_expect_arr_eq(k.daddr, a4, 4);
	for (i = 4; i < sizeof(k.daddr); i++)
		cr_expect_eq(k.daddr[i], 0, "IPv4 key byte %zu of the address not zero", i);

	memset(&k, 0xa5, sizeof(k));
	cr_assert_eq(xoff_sa_key_make(&k, AF_INET6, a6, htonl(7), XOFF_ENCAP_ESP), 0);
	cr_expect_eq(k.family, AF_INET6);
	cr_expect_eq(k.encap, XOFF_ENCAP_ESP);
	cr_expect_eq(k.pad[0] | k.pad[1], 0);
	cr_expect_eq(k.spi, htonl(7));
	cr_expect_arr_eq(k.daddr, a6, 16);

	cr_expect_eq(xoff_sa_key_make(&k, AF_UNSPEC, a4, 1, XOFF_ENCAP_ESP), -EAFNOSUPPORT);
	cr_expect_eq(xoff_sa_key_make(&k, AF_UNIX, a4, 1, XOFF_ENCAP_ESP), -EAFNOSUPPORT);
	cr_expect_eq(xoff_sa_key_make(&k, AF_PACKET, a6, 1, XOFF_ENCAP_ESP), -EAFNOSUPPORT);
	cr_expect_eq(xoff_sa_key_make(&k, AF_INET, a4, 1, (enum xoff_encap)2), -EINVAL);
}

Test(lib, policy_key_make)
{
	const uint8_t a4[4] = { 198, 51, 100, 0 };
	const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 7 };
	struct xoff_policy_key k;
	unsigned int len;
	size_t i;

	memset(&k, 0xa5, sizeof(k));
	cr_assert_eq(xoff_policy_key_make(&k, AF_INET, a4, 24), 0);
	cr_expect_eq(k.prefixlen, XOFF_POLICY_PREFIX(24));
	cr_expect_eq(k.family, AF_INET);
	cr_expect_eq(k.pad[0] | k.pad[1] | k.pad[2], 0, "pad is matched as part of the prefix");
	cr_expect_arr_eq(k.daddr, a4, 4);
	for (i = 4; i < sizeof(k.daddr); i++)
		cr_expect_eq(k.daddr[i], 0, "IPv4 selector byte %zu not zero", i);

	memset(&k, 0xa5, sizeof(k));
	cr_assert_eq(xoff_policy_key_make(&k, AF_INET6, a6, 48), 0);
	cr_expect_eq(k.prefixlen, XOFF_POLICY_PREFIX(48));
	cr_expect_eq(k.family, AF_INET6);
	cr_expect_eq(k.pad[0] | k.pad[1] | k.pad[2], 0);
	cr_expect_arr_eq(k.daddr, a6, 16);

	for (len = 0; len <= 32; len++)
		cr_expect_eq(xoff_policy_key_make(&k, AF_INET, a4, len), 0, "IPv4 /%u", len);
	for (len = 0; len <= 128; len++)
		cr_expect_eq(xoff_policy_key_make(&k, AF_INET6, a6, len), 0, "IPv6 /%u", len);
	cr_expect_eq(xoff_policy_key_make(&k, AF_INET, a4, 33), -EINVAL);
	cr_expect_eq(xoff_policy_key_make(&k, AF_INET, a4, UINT_MAX), -EINVAL);
	cr_expect_eq(xoff_policy_key_make(&k, AF_INET6, a6, 129), -EINVAL);
	cr_expect_eq(xoff_policy_key_make(&k, AF_UNSPEC, a4, 0), -EAFNOSUPPORT);
	cr_expect_eq(xoff_policy_key_make(&k, AF_UNIX, a4, 8), -EAFNOSUPPORT);
}

/* ---- Validation: a rejected value never reaches the map ---- */

Test(lib, sa_update_rejects_invalid, .init = fx_setup, .fini = fx_teardown)
{
	const struct xoff_sa good = { .slot = 20, GCM, .queue = XOFF_QUEUE_NONE };
	struct {
		const char *what;
		struct xoff_sa v;
	} bad[] = {
		{ "slot == max_sas", good },
		{ "slot far beyond", good },
		{ "path", good },
		{ "offload_mode", good },
		{ "dir", good },
		{ "action", good },
		{ "mode", good },
		{ "CPU action, cpu == nr_cpus", good },
		{ "CPU action, cpu 0xffff", good },
		{ "flags 1", good },
		{ "flags 0x80", good },
		{ "queue 0xfffe (queue + 1 would mean none)", good },
	};
	struct xoff_sa_key fresh, old, badk;
	struct xoff_sa v, was;
	uint8_t a[4] = { 192, 0, 2, 1 };
	size_t i;

	bad[0].v.slot = FX_MAX_SAS;
	bad[1].v.slot = UINT32_MAX;
	bad[2].v.path = XOFF_PATH_HW + 1;
	bad[3].v.offload_mode = XOFF_OFFLOAD_PACKET + 1;
	bad[4].v.dir = XOFF_DIR_OUT + 1;
	bad[5].v.action = XOFF_ACT_CPU + 1;
	bad[6].v.mode = XOFF_MODE_TUNNEL + 1;
	bad[7].v.action = XOFF_ACT_CPU, bad[7].v.cpu = xoff_nr_cpus();
	bad[8].v.action = XOFF_ACT_CPU, bad[8].v.cpu = 0xffff;
	bad[9].v.flags = 1;
	bad[10].v.flags = 0x80;
	bad[11].v.queue = 0xfffe;

	cr_assert_eq(xoff_sa_key_make(&fresh, AF_INET, a, htonl(0xabc), XOFF_ENCAP_ESP), 0);
	fx_sa_key(SA_V4_SW, &old);
	cr_assert_eq(xoff_sa_lookup(fx, &old, &was), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* Neither inserted under a new key nor replacing an existing SA. */
		cr_expect_eq(xoff_sa_update(fx, &fresh, &bad[i].v), -EINVAL, "%s", bad[i].what);
		cr_expect_eq(xoff_sa_lookup(fx, &fresh, &v), -ENOENT, "%s inserted", bad[i].what);
		cr_expect_eq(xoff_sa_update(fx, &old, &bad[i].v), -EINVAL, "%s", bad[i].what);
		cr_assert_eq(xoff_sa_lookup(fx, &old, &v), 0);
		cr_expect_arr_eq(&v, &was, sizeof(v), "%s replaced an SA", bad[i].what);
	}

	/* Keys the builder would never make. */
	badk = fresh, badk.family = AF_UNIX;
	cr_expect_eq(xoff_sa_update(fx, &badk, &good), -EINVAL, "key family");
	badk = fresh, badk.encap = 2;
	cr_expect_eq(xoff_sa_update(fx, &badk, &good), -EINVAL, "key encap");
	badk = fresh, badk.pad[0] = 1;
	cr_expect_eq(xoff_sa_update(fx, &badk, &good), -EINVAL, "key pad[0]");
	badk = fresh, badk.pad[1] = 0x80;
	cr_expect_eq(xoff_sa_update(fx, &badk, &good), -EINVAL, "key pad[1]");
	cr_expect_eq(sa_count(fx), FX_NR_SAS, "the map changed");

	/* The edges that are valid. */
	v = good, v.slot = FX_MAX_SAS - 1;
	cr_expect_eq(xoff_sa_update(fx, &fresh, &v), 0, "last slot");
	v = good, v.action = XOFF_ACT_CPU, v.cpu = xoff_nr_cpus() - 1;
	cr_expect_eq(xoff_sa_update(fx, &fresh, &v), 0, "last CPU");
	v = good, v.path = XOFF_PATH_HW, v.offload_mode = XOFF_OFFLOAD_PACKET,
	v.dir = XOFF_DIR_OUT, v.mode = XOFF_MODE_TUNNEL, v.queue = 0;
	cr_expect_eq(xoff_sa_update(fx, &fresh, &v), 0, "every enum at its maximum");
	v = good, v.action = XOFF_ACT_CPU, v.flags = XOFF_SA_PCPU_ELSEWHERE;
	cr_expect_eq(xoff_sa_update(fx, &fresh, &v), 0, "a per-CPU SA placed elsewhere");
	cr_expect_eq(sa_count(fx), FX_NR_SAS + 1);
}

/* A selector the trie could never match, or a value the program would misread, is
 * refused and nothing is added. */
Test(lib, policy_update_rejects_invalid, .init = fx_setup, .fini = fx_teardown)
{
	const struct xoff_policy good = { .slot = 13, .ifindex = FX_LO, .mode = XOFF_MODE_TUNNEL };
	uint8_t a[4] = { 203, 0, 113, 0 };
	struct xoff_policy_key k, bad;
	struct xoff_policy v;
	int fd = xoff_map_fd(fx, XOFF_MAP_POLICIES);

	cr_assert_eq(xoff_policy_key_make(&k, AF_INET, a, 24), 0);
	bad = k, bad.pad[1] = 1;
	cr_expect_eq(xoff_policy_update(fx, &bad, &good), -EINVAL, "key padding");
	bad = k, bad.prefixlen = XOFF_POLICY_PREFIX(33);
	cr_expect_eq(xoff_policy_update(fx, &bad, &good), -EINVAL, "IPv4 prefix 33");
	bad = k, bad.prefixlen = 16;
	cr_expect_eq(xoff_policy_update(fx, &bad, &good), -EINVAL, "prefix inside the family");
	v = good, v.mode = XOFF_MODE_TUNNEL + 1;
	cr_expect_eq(xoff_policy_update(fx, &k, &v), -EINVAL, "mode");
	v = good, v.slot = FX_MAX_SAS;
	cr_expect_eq(xoff_policy_update(fx, &k, &v), -EINVAL, "slot");
	v = good, v.pad[0] = 1;
	cr_expect_eq(xoff_policy_update(fx, &k, &v), -EINVAL, "value padding");
	cr_expect_neq(bpf_map_lookup_elem(fd, &k, &v), 0, "a refused selector was added");
	cr_expect_eq(xoff_policy_update(fx, &k, &good), 0);
	cr_expect_eq(bpf_map_lookup_elem(fd, &k, &v), 0);
}

Test(lib, config_set_rejects_invalid, .init = fx_setup, .fini = fx_teardown)
{
	const struct xoff_ifconfig set = { .ifindex = FX_LO, .natt_port = htons(4501),
					   .unknown_spi = XOFF_UNKNOWN_DROP, .steer = 1,
					   .policies = 1 };
	/* Every other field differs too, so a partial write would show. */
#define BAD_CFG(field, val)	{ .ifindex = 77, .natt_port = htons(1), .field = (val) }
	const struct xoff_ifconfig bad[] = {
		BAD_CFG(unknown_spi, XOFF_UNKNOWN_DROP + 1), BAD_CFG(unknown_spi, 0xff),
		BAD_CFG(steer, 2), BAD_CFG(steer, 0xff),
		BAD_CFG(policies, 2), BAD_CFG(policies, 0x80),
	};
	struct xoff_ifconfig before, after, dflt = { .ifindex = FX_LO };
	size_t i;

	cr_assert_eq(xoff_config_set(fx, &set), 0);
	cr_assert_eq(xoff_config_get(fx, &before), 0);
	cr_expect_arr_eq(&before, &set, sizeof(set));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(xoff_config_set(fx, &bad[i]), -EINVAL, "bad config %zu accepted", i);
		cr_assert_eq(xoff_config_get(fx, &after), 0);
		cr_expect_arr_eq(&after, &before, sizeof(after), "bad config %zu changed it", i);
	}

	/* Port 0 is the default port, not port 0. */
	cr_assert_eq(xoff_config_set(fx, &dflt), 0);
	cr_assert_eq(xoff_config_get(fx, &after), 0);
	cr_expect_eq(after.natt_port, htons(XOFF_NATT_PORT));
	cr_expect_eq(after.ifindex, FX_LO);
	cr_expect_eq(after.unknown_spi | after.steer | after.policies, 0);
}

/* ---- Batches ---- */

#define BATCH_N	60

Test(lib, sa_update_batch, .init = lib_setup_128, .fini = fx_teardown)
{
	struct xoff_sa_key keys[BATCH_N];
	struct xoff_sa vals[BATCH_N], v;
	__u32 i, done = 12345;

	for (i = 0; i < BATCH_N; i++)
		sa_nth(i, 128, &keys[i], &vals[i]);
	cr_assert_eq(xoff_sa_update_batch(fx, keys, vals, BATCH_N, &done), 0);
	cr_expect_eq(done, BATCH_N);
	cr_expect_eq(sa_count(fx), BATCH_N);
	for (i = 0; i < BATCH_N; i++) {
		cr_assert_eq(xoff_sa_lookup(fx, &keys[i], &v), 0, "SA %u missing", i);
		cr_expect_arr_eq(&v, &vals[i], sizeof(v), "SA %u differs", i);
	}

	/* Again with new values: an update in place, no new entries. */
	for (i = 0; i < BATCH_N; i++)
		vals[i].slot = 127 - i, vals[i].icv_len = 12;
	cr_assert_eq(xoff_sa_update_batch(fx, keys, vals, BATCH_N, &done), 0);
	cr_expect_eq(done, BATCH_N);
	cr_expect_eq(sa_count(fx), BATCH_N);
	for (i = 0; i < BATCH_N; i++) {
		cr_assert_eq(xoff_sa_lookup(fx, &keys[i], &v), 0);
		cr_expect_arr_eq(&v, &vals[i], sizeof(v), "SA %u not updated", i);
	}

	cr_expect_eq(xoff_sa_update_batch(fx, keys, vals, 0, &done), 0, "empty batch");
	cr_expect_eq(done, 0);
}

/* One invalid entry anywhere: -EINVAL before anything is written. */
Test(lib, sa_update_batch_invalid, .init = lib_setup_128, .fini = fx_teardown)
{
	static const __u32 where[] = { 0, 37, BATCH_N - 1 };
	struct xoff_sa_key keys[BATCH_N];
	struct xoff_sa vals[BATCH_N];
	__u32 i, w, done;

	for (w = 0; w < 2 * sizeof(where) / sizeof(where[0]); w++) {
		__u32 at = where[w / 2];

		for (i = 0; i < BATCH_N; i++)
			sa_nth(i, 128, &keys[i], &vals[i]);
		if (w % 2)
			keys[at].pad[1] = 1;
		else
			vals[at].dir = 7;
		done = 12345;
		cr_expect_eq(xoff_sa_update_batch(fx, keys, vals, BATCH_N, &done), -EINVAL,
			     "bad %s at %u", w % 2 ? "key" : "value", at);
		cr_expect_eq(done, 0, "bad entry at %u: done %u", at, done);
		cr_expect_eq(sa_count(fx), 0, "bad entry at %u: something was applied", at);
	}
}

/* Past the SA map's capacity (spare buckets make it larger than max_sas), *done says
 * how many of the first entries went in, so a caller can undo exactly those. */
Test(lib, sa_update_batch_full, .init = lib_setup_64, .fini = fx_teardown)
{
	__u32 cap = bpf_map__max_entries(bpf_object__find_map_by_name(xoff_object(fx),
								      XOFF_MAP_SAS));
	__u32 i, done = 0, n = cap + 3;
	struct xoff_sa_key *keys = calloc(n, sizeof(*keys));
	struct xoff_sa *vals = calloc(n, sizeof(*vals)), v;
	int err;

	cr_assert(keys && vals);
	cr_assert_geq(cap, 64);
	for (i = 0; i < n; i++)
		sa_nth(i, 64, &keys[i], &vals[i]);
	err = xoff_sa_update_batch(fx, keys, vals, n, &done);
	cr_expect_eq(err, -E2BIG, "full map: %s", strerror(-err));
	cr_expect_eq(done, cap);
	cr_expect_eq(sa_count(fx), cap);
	for (i = 0; i < n; i++)
		cr_expect_eq(xoff_sa_lookup(fx, &keys[i], &v), i < done ? 0 : -ENOENT,
			     "SA %u of %u with done %u", i, n, done);
	free(keys);
	free(vals);
}

/* ---- Counters ---- */

/* Per-CPU values for every slot, distinct per slot and CPU, so a range that sums the
 * wrong slot or misses a CPU cannot match. */
static void counters_fill(__u32 max)
{
	int fd = xoff_map_fd(fx, XOFF_MAP_COUNTERS), ncpu = xoff_nr_cpus(), c;
	struct xoff_counters *v = calloc(ncpu, sizeof(*v));
	__u32 s;

	cr_assert_not_null(v);
	for (s = 0; s < max; s++) {
		for (c = 0; c < ncpu; c++)
			v[c] = (struct xoff_counters){ .packets = s * 16ull + c + 1,
						       .bytes = s * 1000ull + c * 7,
						       .last_seen = s + 1 + c * 3 };
		cr_assert_eq(bpf_map_update_elem(fd, &s, v, BPF_ANY), 0);
	}
	free(v);
}

/* One range read against the per-slot reads, and the bytes after it untouched. */
static void range_check(__u32 first, __u32 n)
{
	struct xoff_counters *sums = malloc(sizeof(*sums) * (n + 1)), one;
	__u32 i;
	int err;

	cr_assert_not_null(sums);
	memset(&sums[n], 0x5a, sizeof(sums[n]));
	err = xoff_counters_read_range(fx, first, n, sums);
	cr_assert_eq(err, 0, "range %u+%u: %s", first, n, strerror(-err));
	for (i = 0; i < n; i++) {
		cr_assert_eq(xoff_counters_read(fx, first + i, &one, NULL), 0);
		cr_expect_arr_eq(&sums[i], &one, sizeof(one),
				 "range %u+%u, slot %u: %llu/%llu/%llu, per slot %llu/%llu/%llu",
				 first, n, first + i, (unsigned long long)sums[i].packets,
				 (unsigned long long)sums[i].bytes,
				 (unsigned long long)sums[i].last_seen,
				 (unsigned long long)one.packets, (unsigned long long)one.bytes,
				 (unsigned long long)one.last_seen);
	}
	for (i = 0; i < sizeof(sums[n]); i++)
		cr_expect_eq(((uint8_t *)&sums[n])[i], 0x5a, "range %u+%u wrote past its end",
			     first, n);
	free(sums);
}

Test(lib, counters_read_range, .init = lib_setup_1000, .fini = fx_teardown)
{
	/* SAs on slots at the batch (256) boundaries and both ends of the map. */
	static const __u32 slots[] = { 0, 1, 255, 256, 257, 500, 511, 512, 767, 768, 998, 999 };
	static const struct { __u32 first, n; } ranges[] = {
		{ 0, 1000 }, { 0, 1 }, { 0, 255 }, { 0, 256 }, { 0, 257 }, { 0, 999 },
		{ 1, 255 }, { 1, 256 }, { 1, 257 }, { 1, 999 }, { 255, 2 }, { 256, 256 },
		{ 100, 300 }, { 250, 600 }, { 500, 1 }, { 512, 488 }, { 700, 300 },
		{ 743, 257 }, { 744, 256 }, { 998, 2 }, { 999, 1 }, { 0, 0 }, { 999, 0 },
	};
	struct xoff_counters sum;
	uint8_t buf[PKT_MAX];
	__u32 i, j, len, ret;
	int ncpu = xoff_nr_cpus();

	counters_fill(1000);
	for (i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		struct pkt_spec p = { .family = AF_INET, .proto = IPPROTO_ESP, .spi = 0x5000 + i,
				      .payload = 100 + i };
		struct xoff_sa v = { .slot = slots[i], GCM, .queue = XOFF_QUEUE_NONE };
		struct xoff_sa_key k;
		uint8_t a[4] = { 192, 0, 2, 1 };

		cr_assert_eq(xoff_sa_key_make(&k, AF_INET, a, htonl(p.spi), XOFF_ENCAP_ESP), 0);
		cr_assert_eq(xoff_sa_update(fx, &k, &v), 0);
		len = pkt_build(&p, buf);
		for (j = 0; j <= i; j++)
			cr_assert_eq(fx_run_xdp(buf, len, &ret), 0);
	}

	/* The per-slot read is the reference: check it against what was put in. */
	for (i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		__u64 s = slots[i], pk = 0, by = 0;
		int c;

		for (c = 0; c < ncpu; c++)
			pk += s * 16 + c + 1, by += s * 1000 + c * 7;
		cr_assert_eq(xoff_counters_read(fx, slots[i], &sum, NULL), 0);
		cr_expect_eq(sum.packets, pk + i + 1, "slot %u packets", slots[i]);
		cr_expect_eq(sum.bytes, by + (i + 1) * (__u64)(100 + i - 8 - 16 - 2),
			     "slot %u bytes", slots[i]);
	}

	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
		range_check(ranges[i].first, ranges[i].n);
}

Test(lib, counters_read_range_invalid, .init = lib_setup_1000, .fini = fx_teardown)
{
	static const struct { __u32 first, n; } bad[] = {
		{ 1000, 0 }, { 1000, 1 }, { 999, 2 }, { 0, 1001 }, { 1, 1000 }, { 500, 501 },
		{ UINT32_MAX, 1 }, { UINT32_MAX, 0 }, { 1, UINT32_MAX }, { 999, UINT32_MAX },
	};
	struct xoff_counters sums[4];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(xoff_counters_read_range(fx, bad[i].first, bad[i].n, sums), -EINVAL,
			     "range %u+%u", bad[i].first, bad[i].n);
}

Test(lib, counters_clear, .init = fx_setup, .fini = fx_teardown)
{
	struct pkt_spec p1 = { .family = AF_INET, .proto = IPPROTO_ESP, .spi = 0x100,
			       .payload = 100 };
	struct pkt_spec p2 = { .family = AF_INET, .proto = IPPROTO_ESP, .spi = 0x101,
			       .payload = 100 };
	int ncpu = xoff_nr_cpus(), c;
	struct xoff_counters *pc = calloc(ncpu, sizeof(*pc)), sum;
	uint8_t buf[PKT_MAX];
	uint32_t len, ret, i;

	cr_assert_not_null(pc);
	fx_config(XOFF_UNKNOWN_PASS, 0, 0);
	len = pkt_build(&p1, buf);
	for (i = 0; i < 5; i++)
		cr_assert_eq(fx_run_xdp(buf, len, &ret), 0);
	len = pkt_build(&p2, buf);
	cr_assert_eq(fx_run_xdp(buf, len, &ret), 0);

	cr_assert_eq(xoff_counters_read(fx, fx_sas[SA_V4_SW].v.slot, &sum, NULL), 0);
	cr_assert_eq(sum.packets, 5);
	cr_assert_neq(sum.last_seen, 0);
	cr_assert_eq(xoff_counters_clear(fx, fx_sas[SA_V4_SW].v.slot), 0);
	cr_assert_eq(xoff_counters_read(fx, fx_sas[SA_V4_SW].v.slot, &sum, pc), 0);
	for (c = 0; c < ncpu; c++)
		cr_expect(!pc[c].packets && !pc[c].bytes && !pc[c].last_seen,
			  "CPU %d not cleared", c);
	cr_expect(!sum.packets && !sum.bytes && !sum.last_seen);
	/* Its neighbour keeps its count. */
	cr_assert_eq(xoff_counters_read(fx, fx_sas[SA_V4_HW].v.slot, &sum, NULL), 0);
	cr_expect_eq(sum.packets, 1);
	cr_expect_eq(sum.bytes, 100 - 8 - 16 - 2);
	cr_expect_lt(xoff_counters_clear(fx, FX_MAX_SAS), 0, "slot beyond the array");
	free(pc);
}

/* ---- Reasons ---- */

Test(lib, reasons_read, .init = fx_setup, .fini = fx_teardown)
{
	struct pkt_spec sw = { .family = AF_INET, .proto = IPPROTO_ESP, .spi = 0x100,
			       .payload = 100 };
	struct pkt_spec unknown = { .family = AF_INET, .proto = IPPROTO_ESP, .spi = 0xdead,
				    .payload = 100 };
	struct pkt_spec out = { .family = AF_INET, .dst = "198.51.100.1", .proto = IPPROTO_ESP,
				.spi = 0x600, .payload = 100 };
	__u64 x0[XOFF_R_MAX], x1[XOFF_R_MAX], t0[XOFF_R_MAX], t1[XOFF_R_MAX];
	struct __sk_buff skb;
	uint8_t buf[PKT_MAX];
	uint32_t len, ret, i;

	fx_config(XOFF_UNKNOWN_DROP, 0, 0);
	cr_assert_eq(xoff_reasons_read(fx, XOFF_PROG_XDP, x0), 0);
	cr_assert_eq(xoff_reasons_read(fx, XOFF_PROG_TC, t0), 0);
	len = pkt_build(&sw, buf);
	for (i = 0; i < 3; i++)
		cr_assert_eq(fx_run_xdp(buf, len, &ret), 0);
	len = pkt_build(&unknown, buf);
	for (i = 0; i < 2; i++)
		cr_assert_eq(fx_run_xdp(buf, len, &ret), 0);
	len = pkt_build(&out, buf);
	for (i = 0; i < 4; i++)
		cr_assert_eq(fx_run_tc(buf, len, &ret, &skb), 0);
	cr_assert_eq(xoff_reasons_read(fx, XOFF_PROG_XDP, x1), 0);
	cr_assert_eq(xoff_reasons_read(fx, XOFF_PROG_TC, t1), 0);

	/* Each program counts in its own map. */
	for (i = 0; i < XOFF_R_MAX; i++) {
		__u64 want = i == XOFF_R_SA_SW ? 3 : i == XOFF_R_UNKNOWN_DROP ? 2 : 0;

		cr_expect_eq(x1[i] - x0[i], want, "XDP %s", xoff_reason_name(i));
		cr_expect_eq(t1[i] - t0[i], i == XOFF_R_SA_SW ? 4u : 0u, "TC %s",
			     xoff_reason_name(i));
	}
}

Test(lib, reason_names)
{
	unsigned int i, j;

	for (i = 0; i < XOFF_R_MAX; i++) {
		const char *n = xoff_reason_name(i);

		cr_assert_not_null(n, "reason %u has no name", i);
		cr_expect_neq(n[0], '\0', "reason %u has an empty name", i);
		for (j = 0; j < i; j++)
			cr_expect_str_neq(n, xoff_reason_name(j), "reasons %u and %u", j, i);
	}
	cr_expect_null(xoff_reason_name(XOFF_R_MAX));
	cr_expect_null(xoff_reason_name(UINT_MAX));
}

/* ---- ESP sizes from algorithm names ---- */

struct alg_case {
	char enc[40];
	char auth[24];		/* "": no auth algorithm (NULL) */
	unsigned int icv_bits;
	int ret;
	uint8_t iv, icv, block;
};

ParameterizedTestParameters(lib, alg_sizes)
{
	static struct alg_case cases[] = {
		{ "rfc4106(gcm(aes))", "", 0, 0, 8, 16, 4 },
		{ "rfc4106(gcm(aes))", "", 128, 0, 8, 16, 4 },
		{ "rfc4106(gcm(aes))", "", 96, 0, 8, 12, 4 },
		{ "rfc4106(gcm(aes))", "", 64, 0, 8, 8, 4 },
		{ "rfc7539esp(chacha20,poly1305)", "", 0, 0, 8, 16, 4 },
		/* The kernel's default for hmac(sha256) is 96 bits; RFC 4868 says 128. */
		{ "cbc(aes)", "hmac(sha256)", 0, 0, 16, 12, 16 },
		{ "cbc(aes)", "hmac(sha256)", 128, 0, 16, 16, 16 },
		{ "cbc(aes)", "hmac(sha1)", 0, 0, 16, 12, 16 },
		{ "cbc(aes)", "hmac(sha512)", 0, 0, 16, 32, 16 },
		{ "cbc(des3_ede)", "hmac(md5)", 0, 0, 8, 12, 8 },
		{ "cbc(aes)", "", 0, 0, 16, 0, 16 },		/* encryption only */
		{ "rfc3686(ctr(aes))", "xcbc(aes)", 0, 0, 8, 12, 4 },
		{ "ecb(cipher_null)", "hmac(sha256)", 128, 0, 0, 16, 4 },
		/* An AEAD carries its own ICV: a separate auth algorithm is an error. */
		{ "rfc4106(gcm(aes))", "hmac(sha256)", 0, -EINVAL, 0, 0, 0 },
		{ "rfc4106(gcm(aes))", "hmac(sha256)", 128, -EINVAL, 0, 0, 0 },
		{ "cbc(aes)", "hmac(sha256)", 100, -EINVAL, 0, 0, 0 },	/* not whole bytes */
		{ "cbc(aes)", "hmac(sha256)", 520, -EINVAL, 0, 0, 0 },
		{ "gcm(aes)", "", 0, -ENOENT, 0, 0, 0 },	/* not the name ESP uses */
		{ "cbc(aes)", "hmac(sha3)", 0, -ENOENT, 0, 0, 0 },
		{ "", "", 0, -ENOENT, 0, 0, 0 },
	};

	return cr_make_param_array(struct alg_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct alg_case *c, lib, alg_sizes)
{
	struct xoff_alg_sizes s = { 0xee, 0xee, 0xee };
	int ret = xoff_alg_sizes(c->enc, c->auth[0] ? c->auth : NULL, c->icv_bits, &s);

	cr_assert_eq(ret, c->ret, "%s + %s / %u: %d, expected %d", c->enc,
		     c->auth[0] ? c->auth : "(none)", c->icv_bits, ret, c->ret);
	if (ret)
		return;
	cr_expect_eq(s.iv_len, c->iv, "%s: iv %u", c->enc, s.iv_len);
	cr_expect_eq(s.icv_len, c->icv, "%s + %s / %u: icv %u", c->enc, c->auth, c->icv_bits,
		     s.icv_len);
	cr_expect_eq(s.block_len, c->block, "%s: block %u", c->enc, s.block_len);
}

Test(lib, alg_sizes_null_name)
{
	struct xoff_alg_sizes s;

	cr_expect_eq(xoff_alg_sizes(NULL, NULL, 0, &s), -EINVAL);
	cr_expect_eq(xoff_alg_sizes(NULL, "hmac(sha256)", 0, &s), -EINVAL);
}

/* ---- Pinning on a private bpffs ---- */

static const char *const shared[] = {
	XOFF_MAP_SAS, XOFF_MAP_COUNTERS, XOFF_MAP_POLICIES, XOFF_MAP_CPUS, XOFF_MAP_MIRROR,
	XOFF_MAP_IFACES, XOFF_MAP_DAEMON, XOFF_MAP_GEN, XOFF_MAP_AUTH, XOFF_MAP_AUTH_SAS,
};
static char pin_dir[64];
static bool pin_mounted;
static struct xoff *fx2;

static void pin_setup(void)
{
	fx_need_root();
	libbpf_set_print(fx_libbpf_print);
	bpffs_mount(pin_dir, &pin_mounted);
}

static void pin_teardown(void)
{
	xoff_close(fx2);
	fx2 = NULL;
	fx_teardown();
	bpffs_umount(pin_dir, &pin_mounted);
}

static int pin_open(struct xoff **x, __u32 max_sas)
{
	struct xoff_opts o = { .max_sas = max_sas, .pin_dir = pin_dir };
	int err = xoff_open(x, &o);

	cr_assert_eq(err, 0, "xoff_open: %s", strerror(-err));
	return xoff_load(*x);
}

static __u32 map_id_of_fd(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bpf_obj_get_info_by_fd(fd, &info, &len), 0, "map info: %s", strerror(errno));
	return info.id;
}

static __u32 map_id(struct xoff *x, const char *name)
{
	return map_id_of_fd(bpf_map__fd(bpf_object__find_map_by_name(xoff_object(x), name)));
}

/* One frame through @x's XDP program; its verdict. */
static __u32 run_xdp_on(struct xoff *x, const struct pkt_spec *p)
{
	uint8_t buf[PKT_MAX];
	struct xdp_md ctx = { .data_end = pkt_build(p, buf), .ingress_ifindex = FX_LO };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = ctx.data_end,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);

	cr_assert_eq(bpf_prog_test_run_opts(bpf_program__fd(xoff_xdp_prog(x)), &o), 0,
		     "test run: %s", strerror(errno));
	return o.retval;
}

Test(pin, shared_maps_pinned_and_reused, .init = pin_setup, .fini = pin_teardown)
{
	static const char *const own[] = { XOFF_MAP_XDP_REASONS, XOFF_MAP_TC_REASONS, ".data" };
	struct xoff_ifconfig c1 = { .ifindex = 5, .policies = 1 }, c2;
	struct xoff_sa v = { .slot = 9, GCM, .queue = XOFF_QUEUE_NONE }, got;
	struct pkt_spec p = { .family = AF_INET, .dst = "203.0.113.9", .proto = IPPROTO_ESP,
			      .spi = 0x777, .payload = 100 };
	uint8_t a[4] = { 203, 0, 113, 9 };
	struct xoff_counters cnt;
	struct xoff_sa_key k;
	struct dirent *de;
	char path[128];
	size_t i, n = 0;
	DIR *d;
	int fd, err;

	err = pin_open(&fx, 64);
	cr_assert_eq(err, 0, "load with pin_dir: %s", strerror(-err));

	/* Exactly the shared maps, and they are the instance's maps. */
	for (i = 0; i < sizeof(shared) / sizeof(shared[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, shared[i]);
		fd = bpf_obj_get(path);
		cr_assert_geq(fd, 0, "%s not pinned: %s", path, strerror(errno));
		cr_expect_eq(map_id_of_fd(fd), map_id(fx, shared[i]), "%s is another map", path);
		close(fd);
	}
	d = opendir(pin_dir);
	cr_assert_not_null(d);
	/* maps.debug and progs.debug are the bpffs's own (bpf_preload) iterators. */
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && strcmp(de->d_name, "maps.debug") &&
		    strcmp(de->d_name, "progs.debug"))
			n++;
	closedir(d);
	cr_expect_eq(n, sizeof(shared) / sizeof(shared[0]), "%zu entries pinned, expected the "
		     "%zu shared maps", n, sizeof(shared) / sizeof(shared[0]));

	/* A second instance reuses them; its reasons and configuration stay its own. */
	err = pin_open(&fx2, 64);
	cr_assert_eq(err, 0, "second load with pin_dir: %s", strerror(-err));
	for (i = 0; i < sizeof(shared) / sizeof(shared[0]); i++)
		cr_expect_eq(map_id(fx, shared[i]), map_id(fx2, shared[i]), "%s not shared",
			     shared[i]);
	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		cr_expect_neq(map_id(fx, own[i]), map_id(fx2, own[i]), "%s shared", own[i]);

	cr_assert_eq(xoff_sa_key_make(&k, AF_INET, a, htonl(0x777), XOFF_ENCAP_ESP), 0);
	cr_assert_eq(xoff_sa_update(fx, &k, &v), 0);
	cr_assert_eq(xoff_sa_lookup(fx2, &k, &got), 0, "SA from the first not in the second");
	cr_expect_arr_eq(&got, &v, sizeof(v));

	/* The second instance's program counts into the slot the first one reads. */
	cr_assert_eq(xoff_counters_clear(fx, v.slot), 0);
	cr_assert_eq(run_xdp_on(fx2, &p), XDP_PASS);
	cr_assert_eq(xoff_counters_read(fx, v.slot, &cnt, NULL), 0);
	cr_expect_eq(cnt.packets, 1, "a packet through the second not counted in the first");
	cr_expect_eq(cnt.bytes, 100 - 8 - 16 - 2);

	cr_assert_eq(xoff_sa_delete(fx2, &k), 0);
	cr_expect_eq(xoff_sa_lookup(fx, &k, &got), -ENOENT, "delete through the second");

	cr_assert_eq(xoff_config_set(fx, &c1), 0);
	cr_assert_eq(xoff_config_get(fx2, &c2), 0);
	cr_expect_neq(c2.ifindex, c1.ifindex, "configuration leaked between instances");

	/* A differently sized instance must not silently use these maps. */
	xoff_close(fx2);
	fx2 = NULL;
	libbpf_set_print(NULL);		/* the refusal is expected: no warnings */
	cr_expect_neq(pin_open(&fx2, 32), 0, "pinned maps of another size reused");
	libbpf_set_print(fx_libbpf_print);
}

/* Run @cmd and return its stdout and stderr (malloc'd) and its exit status. */
static char *run(const char *cmd, int *status)
{
	size_t len = 0, cap = 1 << 16, got;
	char *out = malloc(cap);
	FILE *f = popen(cmd, "r");

	cr_assert_not_null(out);
	cr_assert_not_null(f, "popen %s", cmd);
	while ((got = fread(out + len, 1, cap - len - 1, f)) > 0) {
		len += got;
		if (cap - len < 2) {
			out = realloc(out, cap *= 2);
			cr_assert_not_null(out);
		}
	}
	out[len] = '\0';
	*status = pclose(f);
	return out;
}

static void expect_fields(const char *what, const char *json, const char *const *fields)
{
	char quoted[64];

	for (; *fields; fields++) {
		snprintf(quoted, sizeof(quoted), "\"%s\"", *fields);
		cr_expect_not_null(strstr(json, quoted), "%s: no %s in bpftool's JSON:\n%.2000s",
				   what, quoted, json);
	}
}

/* The maps carry BTF, so bpftool (and anyone debugging a live system) sees field names. */
static int pin_open_opts(struct xoff **x, bool upgrade)
{
	struct xoff_opts o = { .max_sas = 64, .pin_dir = pin_dir, .maps_only = true,
			       .upgrade = upgrade };
	int err = xoff_open(x, &o);

	if (err) {
		xoff_close(*x);
		*x = NULL;
		return err;
	}
	return xoff_load(*x);
}

static void expect_converted(struct xoff *x)
{
	struct xoff_mirror *m = xoff_mirror_records(x);

	cr_assert_not_null(m, "not mmapable after the upgrade: %s", strerror(errno));
	cr_expect_eq(m[3].packets, 10);
	cr_expect_eq(m[3].written_bytes, 1000);
	cr_expect_eq(m[3].add_time, 77);
	cr_expect_eq(m[3].flags, XOFF_MIRROR_USED | XOFF_MIRROR_WRITE | XOFF_MIRROR_SOFT_SENT);
	cr_expect_eq(m[3].pend_written_packets, 0);
	cr_expect_eq(m[7].pend_packets, 6);
	cr_expect_eq(m[7].target_bytes, 10600);
	cr_expect(m[7].flags & XOFF_MIRROR_PENDING);
	/* What the old commit would have made of written_* once the write landed. */
	cr_expect_eq(m[7].pend_written_packets, 3 + 6 - 4);
	cr_expect_eq(m[7].pend_written_bytes, 300 + 600 - 400);
	cr_expect_eq(m[0].flags, 0);
}

/* An older xoff's mirror map: readers refuse it (changing nothing), the daemon and attach
 * (upgrade) convert it record by record; an upgrade cut short is finished by the next. */
Test(pin, mirror_v1_converted, .init = pin_setup, .fini = pin_teardown)
{
	char path[128], old[140];
	struct stat st;
	int err;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, XOFF_MAP_MIRROR);
	snprintf(old, sizeof(old), "%s_v1", path);
	pin_mirror_v1(path);

	err = pin_open_opts(&fx, false);
	cr_expect_eq(err, -EPROTO, "a reader loaded an old mirror map: %d", err);
	cr_expect_str_neq(xoff_strerror(-EPROTO), strerror(EPROTO));
	cr_expect_eq(stat(old, &st), -1, "a reader moved the old map");
	cr_expect_eq(stat(path, &st), 0);

	err = pin_open_opts(&fx, true);
	cr_assert_eq(err, 0, "upgrade: %s", xoff_strerror(err));
	expect_converted(fx);
	cr_expect_eq(stat(old, &st), -1, "the old map left behind");
	xoff_close(fx);
	fx = NULL;

	/* Cut short: the old map aside, a half-made new one under the name. */
	unlink(path);
	pin_mirror_v1(old);
	err = pin_open_opts(&fx2, false);
	cr_expect_eq(err, -EPROTO, "a reader loaded during an unfinished upgrade");
	cr_assert_eq(pin_open_opts(&fx, true), 0);
	expect_converted(fx);
	cr_expect_eq(stat(old, &st), -1);
	xoff_close(fx);
	fx = NULL;

	/* Converted maps are simply reused, by readers too. */
	cr_assert_eq(pin_open_opts(&fx2, false), 0);
	expect_converted(fx2);
}

Test(pin, bpftool_sees_btf, .init = pin_setup, .fini = pin_teardown)
{
	static const char *const sa_fields[] = { "family", "encap", "spi", "daddr", "slot",
						 "offload_ifindex", "queue", "iv_len", NULL };
	/* last_seen: jiffies since bf76b38 (it was last_seen_ns). */
	static const char *const ctr_fields[] = { "packets", "bytes", "last_seen", NULL };
	static const char *const data_fields[] = { "xoff_cfg", "ifindex", "natt_port",
						   "unknown_spi", "policies", NULL };
	struct xoff_sa v = { .slot = 3, GCM, .queue = XOFF_QUEUE_NONE };
	struct xoff_ifconfig cfg = { .ifindex = FX_LO, .unknown_spi = XOFF_UNKNOWN_DROP };
	uint8_t a[4] = { 192, 0, 2, 1 };
	struct xoff_sa_key k;
	char cmd[256], *out;
	int status, err;

	if (system("bpftool version >/dev/null 2>&1"))
		cr_skip_test("SKIP: bpftool not installed");
	err = pin_open(&fx, 16);
	cr_assert_eq(err, 0, "load with pin_dir: %s", strerror(-err));
	/* A hash dumps only its entries: give it one. */
	cr_assert_eq(xoff_sa_key_make(&k, AF_INET, a, htonl(0x100), XOFF_ENCAP_ESP), 0);
	cr_assert_eq(xoff_sa_update(fx, &k, &v), 0);
	cr_assert_eq(xoff_config_set(fx, &cfg), 0);

	snprintf(cmd, sizeof(cmd), "bpftool -j map dump pinned %s/%s 2>&1", pin_dir, XOFF_MAP_SAS);
	out = run(cmd, &status);
	cr_expect_eq(status, 0, "%s: %s", cmd, out);
	expect_fields(XOFF_MAP_SAS, out, sa_fields);
	free(out);

	snprintf(cmd, sizeof(cmd), "bpftool -j map dump pinned %s/%s 2>&1", pin_dir,
		 XOFF_MAP_COUNTERS);
	out = run(cmd, &status);
	cr_expect_eq(status, 0, "%s: %s", cmd, out);
	expect_fields(XOFF_MAP_COUNTERS, out, ctr_fields);
	free(out);

	/* The per-instance .data is never pinned: find it by id. */
	snprintf(cmd, sizeof(cmd), "bpftool -j map dump id %u 2>&1", map_id(fx, ".data"));
	out = run(cmd, &status);
	cr_expect_eq(status, 0, "%s: %s", cmd, out);
	expect_fields(".data", out, data_fields);
	free(out);
}

/* last_seen is kept in jiffies; converted, it is the monotonic time of the packet to a
 * tick or two (HZ is at least 100, so 20 ms covers both ends). */
Test(lib, last_seen_is_monotonic_time, .init = fx_setup, .fini = fx_teardown)
{
	struct pkt_spec p = { .family = AF_INET, .proto = IPPROTO_ESP, .spi = 0x100, .payload = 100 };
	struct xoff_counters c;
	struct timespec t0, t1;
	uint8_t buf[PKT_MAX];
	uint32_t len, ret;
	__u64 ns;

	fx_config(XOFF_UNKNOWN_PASS, 0, 0);
	cr_assert_eq(xoff_counters_read(fx, fx_sas[SA_V4_SW].v.slot, &c, NULL), 0);
	cr_assert_eq(xoff_last_seen_ns(fx, c.last_seen, &ns), 0);
	cr_expect_eq(ns, 0, "never seen is 0");
	len = pkt_build(&p, buf);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(fx_run_xdp(buf, len, &ret), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_eq(xoff_counters_read(fx, fx_sas[SA_V4_SW].v.slot, &c, NULL), 0);
	cr_assert_neq(c.last_seen, 0);
	cr_assert_eq(xoff_last_seen_ns(fx, c.last_seen, &ns), 0);
	cr_expect_geq(ns + 20000000ull, t0.tv_sec * 1000000000ull + t0.tv_nsec, "too early");
	cr_expect_leq(ns, t1.tv_sec * 1000000000ull + t1.tv_nsec + 20000000ull, "too late");
}

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xoff_mirror as an older xoff pinned it (80-byte records, not mmapable), for the tests of
 * its conversion: a committed record at slot 3 and a pending one at slot 7. */
#ifndef XOFF_TESTS_MIRROR_V1_H
#define XOFF_TESTS_MIRROR_V1_H

#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <criterion/criterion.h>
#include "xoff/abi.h"

struct mirror_v1 {
	__u64	packets, bytes, written_packets, written_bytes;
	__u64	pend_packets, pend_bytes, target_packets, target_bytes;
	__u64	add_time;
	__u32	flags, pad;
};

static inline void pin_mirror_v1(const char *path)
{
	LIBBPF_OPTS(bpf_map_create_opts, co);
	struct mirror_v1 r3 = { .packets = 10, .bytes = 1000, .written_packets = 10,
				.written_bytes = 1000, .add_time = 77, .flags = XOFF_MIRROR_USED |
				XOFF_MIRROR_WRITE | XOFF_MIRROR_SOFT_SENT };
	struct mirror_v1 r7 = { .packets = 4, .bytes = 400, .written_packets = 3,
				.written_bytes = 300, .pend_packets = 6, .pend_bytes = 600,
				.target_packets = 106, .target_bytes = 10600, .add_time = 78,
				.flags = XOFF_MIRROR_USED | XOFF_MIRROR_WRITE | XOFF_MIRROR_PENDING };
	__u32 k;
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xoff_mirror", 4, sizeof(struct mirror_v1),
				64, &co);

	cr_assert_geq(fd, 0, "old mirror map: %s", strerror(errno));
	k = 3;
	cr_assert_eq(bpf_map_update_elem(fd, &k, &r3, 0), 0);
	k = 7;
	cr_assert_eq(bpf_map_update_elem(fd, &k, &r7, 0), 0);
	cr_assert_eq(bpf_obj_pin(fd, path), 0, "pin %s: %s", path, strerror(errno));
	close(fd);
}

#endif /* XOFF_TESTS_MIRROR_V1_H */

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A private bpffs for tests that pin maps: mounted in a mount namespace of the test's own
 * where it can have one (should the test die, the mount dies with it), removed at .fini. */
#ifndef XOFF_TESTS_BPFFS_H
#define XOFF_TESTS_BPFFS_H

#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <criterion/criterion.h>

/* @dir: at least 32 bytes; filled with the mount point. */
static inline void bpffs_mount(char *dir, bool *mounted)
{
	if (!unshare(CLONE_NEWNS))
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	strcpy(dir, "/tmp/xoff-bpffs-XXXXXX");
	if (!mkdtemp(dir)) {
		dir[0] = '\0';
		cr_assert_fail("mkdtemp: %s", strerror(errno));
	}
	cr_assert_eq(mount("bpf", dir, "bpf", 0, NULL), 0, "mount bpffs on %s: %s", dir,
		     strerror(errno));
	*mounted = true;
}

static inline void bpffs_umount(char *dir, bool *mounted)
{
	if (*mounted && umount2(dir, MNT_DETACH))
		fprintf(stderr, "umount %s: %s\n", dir, strerror(errno));
	*mounted = false;
	if (dir[0] && rmdir(dir))
		fprintf(stderr, "rmdir %s: %s\n", dir, strerror(errno));
	dir[0] = '\0';
}

#endif /* XOFF_TESTS_BPFFS_H */

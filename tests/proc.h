/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Child processes of the tests that run xoffctl: their exit and their output. */
#ifndef XOFF_TESTS_PROC_H
#define XOFF_TESTS_PROC_H

#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/wait.h>

/* The exit code of @pid (128 + signal when killed), waiting up to 5 s; -1 and SIGKILL
 * after that. */
static inline int wait_exit(pid_t pid)
{
	int st, i;

	for (i = 0; i < 500; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

/* All of @f (a captured stdout or stderr) into @buf as a string; closes @f. */
static inline void slurp(FILE *f, char *buf, size_t len)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

#endif /* XOFF_TESTS_PROC_H */

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xoffctl: the operator's command (user/cli.c). */
#include "cli.h"

int main(int argc, char **argv)
{
	return xoffctl_main(argc, argv);
}

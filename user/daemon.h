/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The xoff daemon: one per network namespace, keeping the pinned maps equal to the
 * kernel's XFRM database and mirroring counters into SA lifetimes. */
#ifndef XOFF_DAEMON_H
#define XOFF_DAEMON_H

#include "mirror.h"

#include "pins.h"
#define XOFFD_INTERVAL_MS	1000
/* The most CPUs in a list: cpus and rx-cpus on the command line (cli.c takes no more), the
 * steering and RX CPUs the daemon and attach hold. */
#define XOFFD_MAX_CPUS		4096

struct xoffd_opts {
	const char	*pin_dir;	/* NULL: this network namespace's default */
	unsigned int	interval_ms;	/* mirror sweep period; 0: XOFFD_INTERVAL_MS */
	const __u16	*cpus;		/* steering targets; NULL: all */
	unsigned int	ncpus;
	unsigned int	tx_queues;
	/* CPUs that run the receive path, spared by placement (sync.h); NULL: where the
	 * attached devices' IRQs go (xoffd_rx_cpus()). */
	const __u16	*rx_cpus;
	unsigned int	nrx_cpus;
	unsigned int	rx_weight;	/* percent, when rx_weight_set; else XSYNC_RX_WEIGHT */
	bool		rx_weight_set;
	enum xmirror_mode mirror;
	int		rcvbuf;		/* event socket buffer; 0: default */
	int		log_level;	/* XSYNC_ERR .. XSYNC_DEBUG */
	__u32		max_sas;	/* only when the maps are created here */
	unsigned int	nmodes;		/* per offload device mirror modes */
	struct {
		__u32	ifindex;
		enum xmirror_mode mode;
	} modes[64];
};

/* One daemon per network namespace: the lock it holds while running. */
#define XOFFD_LOCK_DIR		"/run/xoff"

/* Runs until SIGTERM or SIGINT (0) or a fatal error (negative errno, logged). SIGHUP:
 * full resync; SIGUSR1: a stats line. */
int xoffd_run(const struct xoffd_opts *o);
/* The reconciler over @x with the steering CPUs of @cfg when @cpus_given, else the CPUs
 * attach enabled in the cpumap (read into @cpus, at most @max), else every CPU. */
int xoffd_sync_new(struct xsync **s, struct xoff *x, struct xsync_cfg *cfg, bool cpus_given,
		   __u16 *cpus, unsigned int max);

/* The default RX CPUs: where the devices attached under @pin_dir and @also (a device
 * being attached, or NULL) receive, by the affinity of their MSI IRQs (rxcpu.h). Their
 * union, ascending, in @cpus; the names of the devices that have any, comma-separated,
 * in @from. Returns their number: 0 when no device has MSI IRQs (veth). */
int xoffd_rx_cpus(const char *pin_dir, const char *also, __u16 *cpus, unsigned int max,
		  char *from, size_t len);

/* 1 when a daemon runs in this network namespace, 0 when none, or a negative errno. */
int xoffd_running(void);

/* Full resync of @s from the kernel over @n: both dumps, retried while the kernel
 * reports an interrupted dump. */
struct xnl;
int xoffd_resync(struct xsync *s, struct xnl *n);

/* The daemon's logger: stderr, with "<N>" level prefixes under systemd (journald). */
void xoffd_log(void *ctx, int level, const char *msg);

#endif /* XOFF_DAEMON_H */

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What xoffctl reports, built as JSON (jansson) and printed as JSON or as text from the
 * same objects, so the two never disagree. */
#ifndef XOFF_REPORT_H
#define XOFF_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>
#include "libxoff.h"
#include "pins.h"
#include "sync.h"

/* What the read commands look at: the pinned maps under a shared lock. */
struct xview {
	struct xpin	pin;
	struct xoff	*x;		/* the pinned maps; private empty ones if none */
	bool		loaded;		/* maps are pinned */
	int		nifs;
	struct xoff_iface ifs[XOFF_MAX_IFACES];
	struct xoff_daemon daemon;
	bool		daemon_alive;
};
int xview_open(struct xview *v, const char *pin_dir, struct xerr *e);
void xview_close(struct xview *v);

/* One SA as the report shows it. */
struct xreport_sa {
	struct xfrm_sa		x;		/* from the kernel's SAD */
	bool			mapped;		/* in the fast-path map */
	struct xoff_sa		val;
	bool			unserved;	/* in the map, passed uncounted (abi.h) */
	bool			auth_mapped;	/* its authenticated counts are kept */
	struct xoff_counters	fp;		/* fast-path sums over CPUs (before
						 * authentication) */
	struct xoff_counters	auth;		/* authenticated sums over CPUs */
	__s64			last_seen_ms;	/* ms ago, -1: never */
	struct xoff_mirror	mir;
	enum xsync_why		why;
	int			conflict;	/* another SA has the same key */
	bool			map_full;	/* every counter slot is taken */
	__u32			traffic_ifindex; /* route to the peer, 0 unknown */
	bool			traffic_esp_hw;	/* that device offers esp-hw-offload */
};

/* JSON of one SA (a new reference); the fields of `sa list -j`. */
json_t *xreport_sa_json(const struct xreport_sa *r, bool loaded);
/* Every SA of the kernel, filtered, as a JSON array. */
struct xreport_filter {
	bool		has_dst;
	int		family;
	xfrm_address_t	dst;
	bool		has_spi;
	__u32		spi;		/* host order */
	__u32		ifindex;	/* 0: any; else offload or traffic device */
};
int xreport_sas(struct xview *v, const struct xreport_filter *f, json_t **out, struct xerr *e);
/* JSON of one policy (a new reference): the fields of `policy list -j` but xoff's
 * selector slot, which xreport_policies() adds from the maps. */
json_t *xreport_policy_json(const struct xfrm_pol *p);
int xreport_policies(struct xview *v, json_t **out, struct xerr *e);
int xreport_status(struct xview *v, json_t **out, struct xerr *e);
int xreport_stats(struct xview *v, json_t **out, struct xerr *e);
/* Prometheus text exposition of status, SAs and stats. */
int xreport_metrics(struct xview *v, FILE *f, struct xerr *e);

/* Text renderings of the JSON above. */
void xprint_sa_table(FILE *f, json_t *sas);
void xprint_blocks(FILE *f, json_t *arr, const char *title_key);
void xprint_status(FILE *f, json_t *st);
void xprint_policies(FILE *f, json_t *pols);
void xprint_stats(FILE *f, json_t *st);

/* Prometheus label value escaping: backslash, double quote and newline. */
void xprom_escape(char *out, size_t len, const char *in);

#endif /* XOFF_REPORT_H */

/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* XFRM netlink messages as xoff needs them: parsed with a length check before every read
 * and without keeping keys or algorithms, and the few requests xoff sends. */
#ifndef XOFF_XFRM_H
#define XOFF_XFRM_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/netlink.h>
#include <linux/xfrm.h>

/* Newer than Debian 12's UAPI headers; values from the kernel's include/uapi/linux/xfrm.h. */
#define XOFF_XFRMA_SA_DIR	33	/* __u8, Linux 6.10+ */
#define XOFF_XFRM_SA_DIR_IN	1
#define XOFF_XFRM_SA_DIR_OUT	2
#define XOFF_XFRMA_SA_PCPU	35	/* __u32 pcpu_num of a per-CPU SA (RFC 9611), 6.13+ */
#define XOFF_XFRM_POLICY_CPU_ACQUIRE 4	/* xfrm_userpolicy_info.flags, 6.13+: the kernel
					 * acquires one SA per CPU */
#ifndef XFRM_OFFLOAD_PACKET
#define XFRM_OFFLOAD_PACKET	4
#endif
#define XOFF_XFRMA_MAX		40	/* room for attributes newer than our headers */

/* XFRM_MSG_MIGRATE_STATE (in Debian's 7.2 kernel): one SA moved to new addresses, named
 * by its SPI, announced to XFRMNLGRP_MIGRATE as XFRM_MSG_MIGRATE is. The header as the
 * kernel's include/uapi/linux/xfrm.h lays it out. */
#define XOFF_XFRM_MSG_MIGRATE_STATE	0x29
struct xoff_xfrm_user_migrate_state {
	struct xfrm_usersa_id	id;		/* the SA before the move */
	xfrm_address_t		new_daddr;
	xfrm_address_t		new_saddr;
	struct xfrm_mark	old_mark;
	struct xfrm_selector	new_sel;
	__u32			new_reqid;
	__u32			flags;
	__u16			new_family;
	__u16			reserved;
};
_Static_assert(sizeof(struct xoff_xfrm_user_migrate_state) == 132,
	       "struct xfrm_user_migrate_state is 132 bytes in the kernel");

#define XFRM_DIR_UNKNOWN	0xff	/* struct xfrm_sa.dir before it is derived */

/* How an SA's direction was learned, best first. */
enum xfrm_dir_source {
	XFRM_DIR_FROM_NONE = 0,
	XFRM_DIR_FROM_SA_DIR,		/* XFRMA_SA_DIR (6.10+) */
	XFRM_DIR_FROM_OFFLOAD,		/* XFRMA_OFFLOAD_DEV's INBOUND flag */
	XFRM_DIR_FROM_POLICY,		/* a policy template names this SA's destination */
	XFRM_DIR_FROM_LOCAL,		/* the destination is (not) a local address */
};

/* An SA as xoff keeps it: identity, mode, lifetimes, encapsulation, offload, and the ESP
 * sizes derived from the algorithm names (the names and keys are not kept). */
struct xfrm_sa {
	xfrm_address_t	daddr;
	xfrm_address_t	saddr;
	__be32		spi;
	__u8		family;
	__u8		proto;		/* IPPROTO_ESP, _AH, _COMP */
	__u8		mode;		/* XFRM_MODE_* */
	__u8		dir;		/* XOFF_DIR_IN/OUT or XFRM_DIR_UNKNOWN */
	__u8		dir_source;	/* enum xfrm_dir_source */
	__u8		flags;		/* XFRM_STATE_* */
	__u8		replay_window;
	__u8		offload_flags;	/* XFRM_OFFLOAD_* */
	__u32		reqid;
	__u32		offload_ifindex; /* 0: no XFRMA_OFFLOAD_DEV */
	__u32		if_id;
	struct xfrm_mark mark;		/* {0, 0} without XFRMA_MARK */
	struct xfrm_lifetime_cfg lft;
	struct xfrm_lifetime_cur curlft;
	__u16		encap_type;	/* 0: no XFRMA_ENCAP */
	__be16		encap_sport;
	__be16		encap_dport;
	bool		has_offload;
	bool		has_mark;
	bool		has_esn;
	bool		alg_known;	/* iv_len/icv_len below are valid */
	__u8		iv_len;
	__u8		icv_len;
	__u8		block_len;
	__u32		esn_window;	/* XFRMA_REPLAY_ESN_VAL replay_window */
	bool		has_pcpu;	/* XFRMA_SA_PCPU: a per-CPU SA (RFC 9611) */
	__u32		pcpu_num;	/* its CPU: the kernel sends on it outbound only */
};

#define XFRM_TMPL_MAX	6	/* XFRM_MAX_DEPTH */

struct xfrm_tmpl {
	xfrm_address_t	daddr;
	xfrm_address_t	saddr;
	__be32		spi;
	__u32		reqid;
	__u16		family;
	__u8		proto;
	__u8		mode;
	__u8		optional;
};

struct xfrm_pol {
	struct xfrm_selector sel;
	__u32		index;		/* unique per namespace; the policy's identity */
	__u32		priority;
	__u8		dir;		/* XFRM_POLICY_IN/OUT/FWD */
	__u8		action;		/* XFRM_POLICY_ALLOW/BLOCK */
	__u8		type;		/* XFRM_POLICY_TYPE_MAIN/SUB */
	__u8		offload_flags;
	__u8		flags;		/* XFRM_POLICY_LOCALOK, _ICMP, XOFF_..._CPU_ACQUIRE */
	__u32		offload_ifindex; /* 0: no XFRMA_OFFLOAD_DEV */
	__u32		if_id;
	struct xfrm_mark mark;
	bool		has_offload;
	bool		has_mark;
	unsigned int	ntmpl;
	struct xfrm_tmpl tmpl[XFRM_TMPL_MAX];
};

enum xfrm_event {
	XFRM_EV_NONE = 0,	/* a message xoff does not act on */
	XFRM_EV_SA,		/* NEWSA, UPDSA, a dump entry: the SA as it is now */
	XFRM_EV_SA_DEL,		/* DELSA, or EXPIRE hard: the kernel removed the SA */
	XFRM_EV_SA_SOFT,	/* EXPIRE soft: the SA stays */
	XFRM_EV_SA_FLUSH,	/* FLUSHSA of one protocol (0 or IPSEC_PROTO_ANY: all) */
	XFRM_EV_POL,		/* NEWPOLICY, UPDPOLICY, a dump entry */
	XFRM_EV_POL_DEL,	/* DELPOLICY, or POLEXPIRE hard */
	XFRM_EV_POL_FLUSH,	/* FLUSHPOLICY */
	XFRM_EV_MAPPING,	/* NAT-T: the peer's address or port moved */
	XFRM_EV_AE,		/* NEWAE/GETAE reply: an SA's current lifetime */
	XFRM_EV_MIGRATE,	/* MIGRATE, MIGRATE_STATE: SAs and templates moved, no other event */
};

struct xfrm_mapping {
	xfrm_address_t	daddr;
	__be32		spi;
	__u16		family;
	__u8		proto;
	__u32		reqid;
	xfrm_address_t	old_saddr, new_saddr;
	__be16		old_sport, new_sport;
};

/* One address change of a MIGRATE. The kernel moved the SA of these old addresses,
 * protocol, mode and reqid (0: any; the first such SA it found) to the new addresses:
 * a clone with the same SPI and curlft took its place, under a new (daddr, SPI) identity
 * when the destination changed. A MIGRATE_STATE names the SA by SPI instead. */
struct xfrm_move {
	xfrm_address_t	old_daddr, old_saddr;	/* old_saddr: not with by_spi */
	xfrm_address_t	new_daddr, new_saddr;
	__u16		old_family, new_family;
	__u8		proto;
	__u8		mode;		/* XFRM_MODE_*; not with by_spi */
	bool		by_spi;		/* MIGRATE_STATE: the SA of spi and old_mark */
	__u32		reqid;		/* MIGRATE: the SA's, 0: any; MIGRATE_STATE: its new one */
	__be32		spi;
	struct xfrm_mark old_mark;
};

struct xfrm_migrate_msg {
	struct xfrm_selector sel;	/* of the policy whose templates moved (MIGRATE) */
	__u8		dir;		/* XFRM_POLICY_*; 0xff for MIGRATE_STATE */
	__u8		pol_type;	/* XFRM_POLICY_TYPE_* */
	bool		has_encap;	/* XFRMA_ENCAP: the moved SAs' new encapsulation */
	__u16		encap_type;	/* 0 there: encapsulation removed (MIGRATE_STATE) */
	__be16		encap_sport, encap_dport;
	unsigned int	n;
	struct xfrm_move m[XFRM_TMPL_MAX];
};

struct xfrm_ae {
	xfrm_address_t	daddr;
	__be32		spi;
	__u16		family;
	__u8		proto;
	bool		has_ltime;
	struct xfrm_lifetime_cur curlft;
};

struct xfrm_msg {
	enum xfrm_event	ev;
	__u16		type;		/* nlmsg_type */
	union {
		struct xfrm_sa	sa;	/* SA, SA_DEL, SA_SOFT */
		struct xfrm_pol	pol;	/* POL, POL_DEL */
		__u8		flush_proto;
		__u8		flush_pol_type;
		struct xfrm_mapping map;
		struct xfrm_ae	ae;
		struct xfrm_migrate_msg mig;
	};
};

/* Parse one message of the XFRM family. 0 with ev NONE for types xoff ignores; -EBADMSG
 * with *why set when a length or a value is wrong (nothing of it is used then). */
int xfrm_parse(const struct nlmsghdr *nlh, struct xfrm_msg *out, const char **why);

/* The identity the kernel looks SAs up by: (daddr, SPI, protocol, family) and the mark. */
bool xfrm_sa_same(const struct xfrm_sa *a, const struct xfrm_sa *b);
/* Address bytes of a family: 4 or 16, 0 for anything else. */
size_t xfrm_addr_len(unsigned int family);

/* Requests xoff sends, built into @buf (at least XFRM_REQ_BUF bytes); they return the
 * message length. GETAE reads an SA's current lifetime without touching its keys. */
#define XFRM_REQ_BUF	512
size_t xfrm_build_getae(void *buf, __u32 seq, const struct xfrm_sa *sa);
/* NEWAE with NLM_F_REPLACE: the whole current lifetime (add_time and use_time too). */
size_t xfrm_build_newae(void *buf, __u32 seq, const struct xfrm_sa *sa,
			const struct xfrm_lifetime_cur *cur);
/* EXPIRE as the kernel sends it for its own traffic: hard=0 soft, hard=1 hard. */
size_t xfrm_build_expire(void *buf, __u32 seq, const struct xfrm_sa *sa, bool hard);
size_t xfrm_build_dump(void *buf, __u32 seq, __u16 type);

#endif /* XOFF_XFRM_H */

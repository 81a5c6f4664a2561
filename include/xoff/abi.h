/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The ABI between xoff's BPF programs and user space: map keys, values and constants only. */
#ifndef XOFF_ABI_H
#define XOFF_ABI_H

#include <linux/types.h>

/*
 * What xoff counts, and where. Two counts per SA, in two per-CPU arrays indexed by the
 * SA's counter slot:
 *
 *  - xoff_counters, the fast path's: ESP as XDP (ingress) and TC (egress) see it, BEFORE
 *    any authentication. Used for steering decisions and observability only (`sa list`
 *    shows them as "fast path"). Forged or replayed ESP that carries a live SA's
 *    destination and SPI is counted here, and the kernel then drops it: never feed these
 *    to an SA's lifetime.
 *  - xoff_auth, the authenticated counts: the only source of the counter mirror (what
 *    xoff writes into an SA's curlft). Ingress: TC ingress counts the packets that carry a
 *    secpath whose state is one of xoff's inbound SAs, i.e. packets the kernel's ESP
 *    input (software, crypto offload) or the NIC (packet offload) authenticated and
 *    decapsulated. ESP that still carries its ESP header is never counted there (a crypto
 *    offload NIC hands it up with a secpath before the kernel's ESP input has checked
 *    its status). Egress: plaintext that TC egress matches against a packet-offload SA's
 *    selector on the device holding the offload (the kernel hands it to the SA; the NIC
 *    does the ESP).
 *
 * Byte accounting, the one definition used everywhere in xoff.
 *
 * The kernel adds skb->len to an SA's curlft.bytes after ESP decryption on input
 * (net/xfrm/xfrm_input.c) and after the mode's header work, before encryption, on
 * output (net/xfrm/xfrm_output.c), one packet at a time (GSO is segmented before, GRO
 * merges after). In both directions that length is the plaintext the SA carries: the
 * inner IP packet in tunnel mode (five 84-byte pings give 420), the transport payload
 * (the IP payload after the headers ESP sits behind) in transport mode. ESP-in-UDP adds
 * nothing (the UDP header is gone by then).
 *
 * Authenticated counts follow it exactly, per wire packet: a GRO-merged skb at TC
 * ingress, or a GSO skb at TC egress, of gso_segs segments counts gso_segs packets and
 *
 *   tunnel mode:    bytes = ip_len + (gso_segs - 1) * (l3_hdr + l4_hdr)
 *   transport mode: bytes = ip_len - l3_hdr + (gso_segs - 1) * l4_hdr
 *
 * where ip_len is the skb's IP packet (skb->len from the network header), l3_hdr the IP
 * header with its extension headers, and l4_hdr the TCP header (with options) or the
 * UDP header that every segment repeats. Transport-mode SAs are counted on ingress only
 * where a decapsulated packet passes TC ingress again: with packet offload (the driver
 * hands it up) and with the kernel's ESP GRO (esp4_offload/esp6_offload, which
 * re-injects at L2). Software transport mode without ESP GRO delivers the payload
 * straight to the socket layer: TC ingress never sees it, and its authenticated count
 * stays 0 (the kernel counts those SAs itself, so nothing is lost). Likewise an SA whose
 * decapsulated packets come up on an xfrm/vti interface rather than the device xoff is
 * attached to.
 *
 * The fast path sees the ESP packet, whose padding length is encrypted, so it counts
 *
 *   bytes = esp_len - XOFF_ESP_HDR_LEN - iv_len - icv_len - XOFF_ESP_TRAILER_LEN
 *
 * where esp_len runs from the ESP header to the end of the IP payload (taken from the
 * IP length fields, never from the frame length, so Ethernet padding is not counted),
 * and iv_len and icv_len are the SA's sizes, which the control plane derives from the
 * algorithm's name and ICV length (never from keys). The result exceeds the kernel's
 * count by the packet's padding: 0 to 3 bytes for AEAD (4-byte alignment), 0 to
 * block-1 bytes for CBC ciphers, plus any TFC padding.
 *
 * Outbound ESP whose transform the kernel finishes in the device's transmit (crypto
 * offload, or esp4_offload/esp6_offload with an SA without encapsulation) reaches TC
 * egress before padding, trailer and ICV exist; it still carries its state in a secpath,
 * and is counted as esp_len - XOFF_ESP_HDR_LEN - iv_len: exactly the kernel's count
 * (for an ESP GSO skb, which the kernel counts as one packet of skb->len, the fast path
 * counts gso_segs packets: what goes on the wire).
 */
#define XOFF_ESP_HDR_LEN	8	/* SPI + sequence number */
#define XOFF_ESP_TRAILER_LEN	2	/* pad length + next header */

/* Overridable sizes: defaults fit a large gateway; the loader can resize at open. */
#ifndef XOFF_MAX_SAS
#define XOFF_MAX_SAS		65536	/* SA map and counter slots */
#endif
#ifndef XOFF_MAX_POLICIES
#define XOFF_MAX_POLICIES	16384	/* packet-offload selectors on egress */
#endif
#ifndef XOFF_MAX_IP6_EXTHDRS
#define XOFF_MAX_IP6_EXTHDRS	4	/* bound of the IPv6 extension header walk */
#endif

#define XOFF_IKE_PORT		500	/* IKE; always passed */
#define XOFF_NATT_PORT		4500	/* default ESP-in-UDP port (RFC 3948) */
#define XOFF_QUEUE_NONE		0xffff	/* xoff_sa.queue: leave the TX queue to the stack */
#define XOFF_SLOT_NONE		0xffffffff /* xoff_sa.slot of an SA xoff does not serve */
#define XOFF_SECPATH_MAX	6	/* XFRM_MAX_DEPTH: states in one secpath */

enum xoff_encap {
	XOFF_ENCAP_ESP		= 0,	/* IP protocol 50 */
	XOFF_ENCAP_ESPINUDP	= 1,	/* RFC 3948, UDP_ENCAP_ESPINUDP */
};

enum xoff_path {
	XOFF_PATH_SW		= 0,	/* the kernel's software crypto */
	XOFF_PATH_HW		= 1,	/* XFRM device offload (offload_ifindex) */
};

enum xoff_offload_mode {
	XOFF_OFFLOAD_NONE	= 0,
	XOFF_OFFLOAD_CRYPTO	= 1,	/* NIC does the crypto, the kernel the rest */
	XOFF_OFFLOAD_PACKET	= 2,	/* NIC does all of ESP; plaintext on the wire to it */
};

enum xoff_dir {
	XOFF_DIR_IN		= 0,
	XOFF_DIR_OUT		= 1,
};

enum xoff_action {
	XOFF_ACT_PASS		= 0,	/* leave the packet where it is */
	XOFF_ACT_CPU		= 1,	/* steer to xoff_sa.cpu when the interface steers */
};

enum xoff_mode {
	XOFF_MODE_TRANSPORT	= 0,	/* also BEET: the kernel counts the transport payload */
	XOFF_MODE_TUNNEL	= 1,	/* the kernel counts the inner packet */
};

/* Hash key of an SA: the kernel's (daddr, SPI, proto) identity plus the encapsulation,
 * because the kernel drops ESP-in-UDP for a non-encap SA and the reverse. */
struct xoff_sa_key {
	__u8	family;		/* AF_INET or AF_INET6 */
	__u8	encap;		/* enum xoff_encap */
	__u8	pad[2];		/* zero */
	__be32	spi;
	union {
		__be32	daddr4;	/* IPv4: first word, the other 12 bytes zero */
		__u8	daddr[16];
	};
};

/* What the control plane decided for an SA. */
struct xoff_sa {
	__u32	slot;		/* index into xoff_counters */
	__u32	offload_ifindex; /* device holding the offload, 0 if none */
	__u16	cpu;		/* steering target for XOFF_ACT_CPU */
	__u16	queue;		/* TX queue on egress, XOFF_QUEUE_NONE if unassigned; best
				 * effort: XPS and socket-cached queues take precedence */
	__u8	path;		/* enum xoff_path */
	__u8	offload_mode;	/* enum xoff_offload_mode */
	__u8	dir;		/* enum xoff_dir */
	__u8	action;		/* enum xoff_action */
	__u8	mode;		/* enum xoff_mode */
	__u8	iv_len;		/* bytes of IV after the ESP header */
	__u8	icv_len;	/* bytes of ICV at the end */
	__u8	flags;		/* XOFF_SA_* */
};

/* The kernel holds the SA, but xoff does not serve it (an algorithm whose sizes it does
 * not know, another SA with the same key under another mark, no free counter slot): its
 * ESP is passed untouched and uncounted, whatever the unknown-SPI policy, so that
 * `unknown-spi drop` never drops an SA the kernel has. slot is XOFF_SLOT_NONE. */
#define XOFF_SA_UNSERVED	0x1
/* A per-CPU SA (RFC 9611) the control plane could not place on its own CPU: inbound, that
 * CPU is no steering target; outbound, there is no TX queue per CPU. It is placed as any
 * other SA. For reports: the programs never read it. */
#define XOFF_SA_PCPU_ELSEWHERE	0x2

/* Key of an inbound SA as bpf_skb_get_xfrm_state() describes the state in a secpath:
 * the kernel gives the SPI, the reqid and the SA's source (its remote end), not its
 * destination. Two inbound SAs with the same key (rare: the same peer and SPI towards
 * two local addresses under one reqid) are both left out of the authenticated counts. */
struct xoff_auth_key {
	__u16	family;		/* AF_INET or AF_INET6 */
	__u8	pad[2];		/* zero */
	__be32	spi;
	__u32	reqid;
	union {
		__be32	saddr4;	/* IPv4: first word, the other 12 bytes zero */
		__u8	saddr[16];
	};
};

struct xoff_auth {
	__u32	slot;		/* xoff_auth counter slot (the SA's counter slot) */
	__u8	mode;		/* enum xoff_mode: what the kernel counts */
	__u8	pad[3];
};

/*
 * A per-CPU cache of SA lookups in front of xoff_sas, private to each program instance:
 * direct-mapped by a hash of the key, it holds the last lookup (found or not) of each
 * line. A hash map lookup is two calls and returns in the kernel (the map's and memcmp's);
 * where returns are costly (AMD's SRSO "safe RET") that was half of xoff's time per
 * packet, and a cache hit is a few loads. An entry is valid while its gen is xoff_gen + 1:
 * whoever changes xoff_sas increments xoff_gen after the change (xoff_sas_changed()),
 * which invalidates every entry of every CPU at once.
 */
#define XOFF_SA_CACHE		256	/* lines per CPU, a power of two */

struct xoff_sa_cent {
	struct xoff_sa_key key;
	struct xoff_sa	sa;
	__u32	found;		/* 0: the key had no SA */
	__u64	gen;		/* xoff_gen + 1 when filled; 0: empty */
};

/* One slot of the per-CPU counter array; user space sums the CPUs. */
struct xoff_counters {
	__u64	packets;
	__u64	bytes;		/* by the definition above */
	__u64	last_seen;	/* jiffies of the last packet, 0 never; a clock read per
				 * packet costs more than the rest of the hit path (16 ns,
				 * measured), jiffies is one load: libxoff converts */
};

/* Egress selector of a packet-offload SA: an LPM trie key whose data is the family
 * word followed by the destination, so one trie holds IPv4 and IPv6. */
struct xoff_policy_key {
	__u32	prefixlen;	/* XOFF_POLICY_PREFIX(addr prefix length) */
	__u8	family;
	__u8	pad[3];		/* zero; matched as part of the prefix */
	union {
		__be32	daddr4;
		__u8	daddr[16];
	};
};
#define XOFF_POLICY_PREFIX(len)	(32 + (len))	/* family word always matches exactly */

struct xoff_policy {
	__u32	slot;		/* counter slot of the SA the selector leads to */
	__u32	ifindex;	/* device the SA is packet-offloaded to */
	__u8	mode;		/* enum xoff_mode: what the kernel counts */
	__u8	pad[3];
};

enum xoff_unknown_spi {
	XOFF_UNKNOWN_PASS	= 0,	/* default: the kernel decides (and counts) */
	XOFF_UNKNOWN_DROP	= 1,	/* drop ESP that no SA of ours expects */
};

/* Per-interface configuration, one per attached program instance (its .data). */
struct xoff_ifconfig {
	__u32	ifindex;	/* the interface this instance serves */
	__be16	natt_port;	/* ESP-in-UDP port, network order; 0 means XOFF_NATT_PORT */
	__u8	unknown_spi;	/* enum xoff_unknown_spi */
	__u8	steer;		/* 1: redirect software SAs to their CPU */
	__u8	policies;	/* 1: match egress plaintext against packet-offload selectors */
	__u8	pad[3];
};

/*
 * Why a packet took its path. Every packet seen is counted under exactly one reason,
 * per program (XDP ingress, TC egress) and per CPU.
 */
enum xoff_reason {
	XOFF_R_NOT_IP = 0,	/* ARP, LLDP, anything not IPv4/IPv6: passed */
	XOFF_R_MALFORMED,	/* truncated or inconsistent headers: passed untouched */
	XOFF_R_FRAGMENT,	/* IP fragment: reassembly is the kernel's, passed */
	XOFF_R_OTHER,		/* IP that is not ESP, IKE or NAT-T (AH, TCP, ...): passed */
	XOFF_R_IKE,		/* UDP 500, or the NAT-T port with the non-ESP marker: passed */
	XOFF_R_NATT_KEEPALIVE,	/* RFC 3948 keepalive (one 0xff byte): passed */
	XOFF_R_UNKNOWN_PASS,	/* ESP without an SA in the map: passed by policy */
	XOFF_R_UNKNOWN_DROP,	/* ESP without an SA in the map: dropped by policy */
	XOFF_R_WRONG_DIR,	/* SA of the other direction (transit ESP): passed */
	XOFF_R_SA_HW,		/* SA offloaded to this device: left on its path */
	XOFF_R_SA_SW,		/* software SA left on the receiving CPU / default queue */
	XOFF_R_SA_STEERED,	/* software SA redirected to its CPU (passed when already there) */
	XOFF_R_STEER_FAILED,	/* the SA's CPU is not in the cpumap: passed */
	XOFF_R_SA_QUEUED,	/* egress SA put on its assigned TX queue */
	XOFF_R_POLICY_HW,	/* egress plaintext counted against a packet-offload SA */
	XOFF_R_UNSERVED,	/* ESP of an SA the kernel holds and xoff does not serve:
				 * passed uncounted, even under unknown-spi drop */
	XOFF_R_CLEAR,		/* TC ingress: no secpath (not decrypted here): passed */
	XOFF_R_AUTH,		/* TC ingress: decrypted and authenticated (kernel or NIC),
				 * counted for its SA */
	XOFF_R_AUTH_ESP,	/* TC ingress: a secpath, but still ESP (crypto offload before
				 * the kernel's ESP input): counted after decapsulation */
	XOFF_R_AUTH_OTHER,	/* TC ingress: a secpath of a state xoff does not count
				 * (outbound, AH, IPComp, an ambiguous key): passed */
	XOFF_R_MAX
};

/*
 * The counter mirror's persistent state, one entry per counter slot (user space only;
 * pinned so that a daemon restart neither loses nor double-counts). The map is mmapable:
 * the daemon writes records in place, so a store is in the pinned map at once. A write to
 * the kernel's curlft is logged before it is sent (the pend_* and target_* fields, then
 * MIRROR_PENDING) and committed after (packets, bytes and written_* take their pend_*
 * values, then PENDING goes). On restart, a pending write whose target the kernel already
 * shows landed and is committed, one it does not show did not: no delta is counted twice
 * or lost, and as every commit step is an assignment, a stop between two of them too.
 */
struct xoff_mirror {
	__u64	packets;	/* fast-path totals of this slot already accounted */
	__u64	bytes;
	__u64	written_packets; /* of which xoff added to the kernel's curlft */
	__u64	written_bytes;
	__u64	pend_packets;	/* fast-path totals a write in flight accounts */
	__u64	pend_bytes;
	__u64	target_packets;	/* curlft that write sets */
	__u64	target_bytes;
	__u64	add_time;	/* the owning SA's curlft.add_time: its instance */
	__u32	flags;		/* XOFF_MIRROR_* */
	__u8	decision;	/* enum xoff_mirror_decision, stored by the daemon */
	__u8	pad[3];
	__u64	pend_written_packets; /* written_* once the write in flight landed */
	__u64	pend_written_bytes;
};

#define XOFF_MIRROR_USED	0x1	/* the slot belongs to an SA */
#define XOFF_MIRROR_PENDING	0x2	/* a curlft write may or may not have landed */
#define XOFF_MIRROR_SOFT_SENT	0x4	/* soft expire sent for this SA */
#define XOFF_MIRROR_HARD_SENT	0x8	/* hard expire sent for this SA */
#define XOFF_MIRROR_WRITE	0x10	/* xoff writes this SA's curlft */
#define XOFF_MIRROR_KERNEL	0x20	/* packet offload: the probe found the driver counts */
#define XOFF_MIRROR_KCOUNTED	0x40	/* the kernel counted the traffic up to packets/bytes
					 * (decision kernel): a restart under mirror on starts
					 * writing from there */
#define XOFF_MIRROR_SOFT_DUE	0x80	/* a landed write crossed the soft limit: the expire
					 * is sent (again) until SOFT_SENT */
#define XOFF_MIRROR_HARD_DUE	0x100	/* likewise the hard limit */

/* Who counts an SA's curlft, as the daemon decided it (xoff_mirror.decision). */
enum xoff_mirror_decision {
	XOFF_DECIDE_NONE	= 0,	/* no daemon has decided yet (or an older one) */
	XOFF_DECIDE_KERNEL,	/* the kernel counts it (software, crypto offload) */
	XOFF_DECIDE_DRIVER,	/* packet offload whose driver reports counts (probed) */
	XOFF_DECIDE_WRITE,	/* xoff writes authenticated counts (packet offload) */
	XOFF_DECIDE_PROBE,	/* packet offload: watching whether the driver reports */
	XOFF_DECIDE_OFF,	/* packet offload under mirror off: nobody writes */
};

/* One per attached interface, in the pinned hash xoff_ifaces (key: ifindex). xoffctl
 * writes it under the pin directory's lock; the daemon reads the mirror mode from it. */
struct xoff_iface {
	__u32	ifindex;
	__u32	xdp_prog_id;	/* xoff's XDP program, alone or inside libxdp's dispatcher */
	__u32	tc_prog_id;	/* 0: no TC program (no-tc) */
	__u32	tc_handle;	/* the cls_bpf filter on clsact egress */
	__u16	tc_prio;
	__u8	xdp_mode;	/* enum xoff_xdp_mode */
	__u8	flags;		/* XOFF_IF_* */
	__u8	mirror;		/* enum xmirror_mode of SAs offloaded to this device */
	__u8	pad[3];		/* zero */
	__u64	attach_time;	/* CLOCK_REALTIME seconds */
	char	name[16];	/* the device's name at attach */
};

enum xoff_xdp_mode {
	XOFF_XDP_NATIVE		= 1,	/* the driver's own hook */
	XOFF_XDP_SKB		= 2,	/* generic XDP, after the skb is built */
};

#define XOFF_IF_DISPATCHER	0x1	/* XDP runs inside libxdp's dispatcher */
#define XOFF_IF_QDISC		0x2	/* xoff created the clsact qdisc */
#define XOFF_IF_MIRROR_SET	0x4	/* attach set the mirror mode explicitly */
#define XOFF_IF_TC_INGRESS	0x8	/* xoff's TC ingress program (authenticated counts) is
					 * attached under clsact ingress, with tc_handle and
					 * tc_prio as on egress */

/* The daemon's heartbeat, one entry in the pinned array xoff_daemon, so that xoffctl status
 * tells whether the maps are being kept in sync. Times are CLOCK_MONOTONIC ns. */
struct xoff_daemon {
	__u32	pid;		/* 0: no daemon since the maps were created, or it stopped */
	__u32	pad;
	__u64	start_ns;
	__u64	last_sync_ns;	/* the last full resync or applied event */
	__u64	last_mirror_ns;	/* the last mirror sweep */
	__u64	sas;		/* SAs in the shadow SAD, of which mapped */
	__u64	sas_mapped;
	__u64	policies;
	__u64	resyncs;
	__u64	mirror_writes;
	__u64	mirror_errors;
	__u64	expires_soft;
	__u64	expires_hard;
};

/* The network namespace a pin directory serves, one entry in xoff_netns, written by the
 * first process that pins maps there: xoffctl refuses the directory to every other
 * namespace. The inode is what `readlink /proc/PID/ns/net` shows and names the default
 * directory, but the kernel hands it to a new namespace once the old one is gone; the
 * cookie (SO_NETNS_COOKIE, Linux 5.14+) is never reused while the system runs. */
struct xoff_netns {
	__u64	cookie;		/* 0: the kernel has no SO_NETNS_COOKIE */
	__u64	ino;		/* 0 with cookie 0: no owner recorded yet */
};

#define XOFF_MAX_IFACES		256

/* Map names, as pinned and as bpftool shows them. */
#define XOFF_MAP_SAS		"xoff_sas"
#define XOFF_MAP_COUNTERS	"xoff_counters"
#define XOFF_MAP_POLICIES	"xoff_policies"
#define XOFF_MAP_CPUS		"xoff_cpus"
#define XOFF_MAP_XDP_REASONS	"xoff_xdp_reasons"
#define XOFF_MAP_TC_REASONS	"xoff_tc_reasons"
#define XOFF_MAP_TCI_REASONS	"xoff_tci_reasons"
#define XOFF_MAP_AUTH		"xoff_auth"	/* authenticated counts, per slot */
#define XOFF_MAP_AUTH_SAS	"xoff_auth_sas"	/* xoff_auth_key -> xoff_auth */
#define XOFF_MAP_MIRROR		"xoff_mirror"
#define XOFF_MAP_IFACES		"xoff_ifaces"
#define XOFF_MAP_DAEMON		"xoff_daemon"
#define XOFF_MAP_GEN		"xoff_gen"	/* xoff_sas' generation (one __u64) */
#define XOFF_MAP_NETNS		"xoff_netns"	/* the pin directory's owner (struct xoff_netns) */
#define XOFF_MAP_CFG		"xoff_cfg"	/* an instance's .data, pinned per interface */

_Static_assert(sizeof(struct xoff_sa_key) == 24, "SA key: 24 bytes, a multiple of 4");
_Static_assert(sizeof(struct xoff_sa) == 20, "SA value layout");
_Static_assert(sizeof(struct xoff_counters) == 24, "counter slot layout");
_Static_assert(sizeof(struct xoff_sa_cent) == 56, "SA cache line layout");
_Static_assert(sizeof(struct xoff_auth_key) == 28, "authenticated SA key layout");
_Static_assert(sizeof(struct xoff_auth) == 8, "authenticated SA value layout");
_Static_assert(sizeof(struct xoff_policy_key) == 24, "LPM key layout");
_Static_assert(sizeof(struct xoff_policy) == 12, "policy value layout");
_Static_assert(sizeof(struct xoff_ifconfig) == 12, "interface config layout");
_Static_assert(sizeof(struct xoff_mirror) == 96, "mirror state layout");
_Static_assert(sizeof(struct xoff_iface) == 48, "interface record layout");
_Static_assert(sizeof(struct xoff_daemon) == 96, "daemon heartbeat layout");
_Static_assert(sizeof(struct xoff_netns) == 16, "pin directory owner layout");

#endif /* XOFF_ABI_H */

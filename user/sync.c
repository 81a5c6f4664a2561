// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The shadow SAD/SPD, its reconciliation into the fast-path maps, and slot bookkeeping. */
#include <errno.h>
#include <ifaddrs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/udp.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <bpf/bpf.h>
#include "xhash.h"
#include "sync_int.h"

uint64_t xhash_seed;

/* Before main(), so before any table exists: the seed never changes under one. */
__attribute__((constructor)) static void xhash_seed_init(void)
{
	struct timespec ts;

	if (getrandom(&xhash_seed, sizeof(xhash_seed), GRND_NONBLOCK) != sizeof(xhash_seed)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		xhash_seed = (uint64_t)ts.tv_nsec << 32 ^ ts.tv_sec ^ (uint64_t)getpid();
	}
}

static const char *const why_str[XSYNC_WHY_MAX] = {
	[XSYNC_WHY_SW]		= "software: the kernel reports no offload (none requested, "
				  "or the device could not offload and the kernel fell back)",
	[XSYNC_WHY_HW_CRYPTO]	= "crypto offload",
	[XSYNC_WHY_HW_PACKET]	= "packet offload",
	[XSYNC_WHY_NOT_ESP]	= "not ESP (AH or IPComp): the fast path classifies ESP only",
	[XSYNC_WHY_ENCAP]	= "encapsulation other than ESP-in-UDP (RFC 3948)",
	[XSYNC_WHY_ALG]		= "algorithm unknown to xoff (its IV and ICV sizes are "
				  "unknown): its ESP is passed uncounted",
	[XSYNC_WHY_CONFLICT]	= "another SA (another mark) has the same SPI and destination: "
				  "their ESP is passed uncounted",
	[XSYNC_WHY_FULL]	= "no free counter slot (max SAs reached): its ESP is passed "
				  "uncounted",
};

const char *xsync_why_str(enum xsync_why why)
{
	return why < XSYNC_WHY_MAX ? why_str[why] : "?";
}

void xsync_log(struct xsync *s, int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (!s->cfg.log)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	s->cfg.log(s->cfg.log_ctx, level, buf);
}

void xsync_sa_name(const struct xfrm_sa *x, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN] = "?";

	inet_ntop(x->family, &x->daddr, a, sizeof(a));
	snprintf(buf, len, "%s spi 0x%08x proto %u", a, ntohl(x->spi), x->proto);
}

static void sa_id_of(struct sa_id *id, const struct xfrm_sa *x)
{
	memset(id, 0, sizeof(*id));
	id->family = x->family;
	id->proto = x->proto;
	id->spi = x->spi;
	memcpy(id->daddr, &x->daddr, xfrm_addr_len(x->family));
	id->mark_v = x->mark.v & x->mark.m;
	id->mark_m = x->mark.m;
}

/* ---- pools -------------------------------------------------------------------------- */

/* Chunks are mapped populated: one call faults their pages in, not one fault per page
 * as the objects are first written (1300 faults for a cold sync of 10k SAs). Each chunk
 * holds twice the objects of the one before, up to POOL_MAX_OBJS. */
#define POOL_MIN_OBJS	256
#define POOL_MAX_OBJS	16384

struct chunk {
	struct chunk	*older;
	size_t		len;
	char		obj[] __attribute__((aligned(8)));
};

void *pool_zalloc(struct pool *p)
{
	struct chunk *c = p->chunk;
	void *obj = p->free;

	if (obj) {
		p->free = *(void **)obj;
		return memset(obj, 0, p->size);
	}
	if (!c || p->used == p->per_chunk) {
		unsigned int n = c ? 2 * p->per_chunk : POOL_MIN_OBJS;
		size_t len;

		n = n > POOL_MAX_OBJS ? POOL_MAX_OBJS : n;
		len = sizeof(*c) + (size_t)n * p->size;
		c = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (c == MAP_FAILED)
			return NULL;
		c->older = p->chunk;
		c->len = len;
		p->chunk = c;
		p->per_chunk = n;
		p->used = 0;
	}
	return c->obj + (size_t)p->used++ * p->size;	/* fresh pages are zero */
}

void pool_free(struct pool *p, void *obj)
{
	*(void **)obj = p->free;
	p->free = obj;
}

void pool_destroy(struct pool *p)
{
	while (p->chunk) {
		struct chunk *older = p->chunk->older;

		munmap(p->chunk, p->chunk->len);
		p->chunk = older;
	}
	p->free = NULL;
}

static void pool_init(struct pool *p, size_t size)
{
	memset(p, 0, sizeof(*p));
	p->size = (size + 7) & ~(size_t)7;
}

/* ---- slots ------------------------------------------------------------------------- */

/* A new slot's mirror record (the SA instance it belongs to) is in the pinned map before
 * the SA map names the slot, so that a restart in between finds it: the records are
 * mmapped, and the map update comes after this store. */
static int slot_alloc(struct xsync *s, const struct ssa *sa, __u32 *slot)
{
	struct xoff_mirror *m;

	if (!s->nfree)
		return -ENOSPC;
	*slot = s->free[--s->nfree];
	s->slot_state[*slot] = SLOT_USED;
	m = &s->mir[*slot];
	memset(m, 0, sizeof(*m));
	m->add_time = sa->x.curlft.add_time;
	xsync_mir_flags(m, XOFF_MIRROR_USED);
	return 0;
}

/* The slot leaves its SA; it is reused only after its final counters were read (and
 * written to the kernel where the SA still exists) by the next sweep. Those of an SA
 * xoff wrote go to @to: the SA itself, or the clone a MIGRATE made of it. */
static void slot_release_to(struct xsync *s, __u32 slot, const struct ssa *sa,
			    const struct xfrm_sa *to)
{
	struct quar *q;

	if (s->nquar == s->quar_cap) {
		unsigned int cap = s->quar_cap ? 2 * s->quar_cap : 64;
		struct quar *n = realloc(s->quar, cap * sizeof(*n));

		if (!n) {
			/* Without memory for the record the slot is finished now, unmirrored. */
			s->slot_owner[slot] = NULL;
			xsync_slot_finish(s, slot);
			return;
		}
		s->quar = n;
		s->quar_cap = cap;
	}
	q = &s->quar[s->nquar++];
	memset(q, 0, sizeof(*q));
	q->slot = slot;
	q->gen = s->sweep_gen;
	if (sa) {
		q->x = *to;
		q->has_sa = true;
		q->serial = sa->serial;
	}
	s->slot_state[slot] = SLOT_QUAR;
	s->slot_owner[slot] = NULL;
	s->st.quarantined = s->nquar;
}

static void slot_release(struct xsync *s, __u32 slot, const struct ssa *sa)
{
	slot_release_to(s, slot, sa, sa ? &sa->x : NULL);
}

/* Zero a slot's counters and mirror state and give it back. */
int xsync_slot_finish(struct xsync *s, __u32 slot)
{
	int err = xoff_counters_clear(s->x, slot);

	if (err) {
		/* Leave it quarantined rather than give a dirty slot to a new SA. */
		s->st.map_errors++;
		return err;
	}
	xsync_mir_flags(&s->mir[slot], 0);
	memset(&s->mir[slot], 0, sizeof(s->mir[slot]));
	s->slot_state[slot] = SLOT_FREE;
	s->free[s->nfree++] = slot;
	s->retry_full = s->full_waiting;
	return 0;
}

/* ---- decisions --------------------------------------------------------------------- */

static bool cpu_allowed(const struct xsync *s, __u16 cpu)
{
	unsigned int i;

	for (i = 0; i < s->ncpus; i++)
		if (s->cpus[i] == cpu)
			return true;
	return false;
}

static unsigned int pick_least(const unsigned int *load, unsigned int n)
{
	unsigned int i, best = 0;

	for (i = 1; i < n; i++)
		if (load[i] < load[best])
			best = i;
	return best;
}

/*
 * Placement of a new inbound SA. A CPU that services a device's RX queue also runs the
 * receive path (driver, XDP, the cpumap enqueue) of every SA arriving there, wherever the
 * SA is decrypted: each steered SA adds rx_weight percent of one decryption to it. A new
 * SA goes where the total is least once it is there.
 */

/* Inbound SAs steered now, per-CPU ones and those kept across a restart included. */
static unsigned int steered_sas(const struct xsync *s)
{
	unsigned int i, n = 0;

	for (i = 0; i < s->ncpus; i++)
		n += s->cpu_load[i];
	return n;
}

/* The receive path on steering target @i once @placed SAs and the new one are steered,
 * in hundredths of one SA's decryption. */
static __u64 rx_cost(const struct xsync *s, unsigned int i, unsigned int placed)
{
	return s->cpu_rx[i] ? (__u64)s->cfg.rx_weight * (placed + 1) : 0;
}

/* What steering target @i carries with the new SA on it, in the same unit. */
static __u64 cpu_cost(const struct xsync *s, unsigned int i, unsigned int placed)
{
	return 100 * ((__u64)s->cpu_load[i] + 1) + rx_cost(s, i, placed);
}

/* The cheapest steering target for a new SA; ties to the first. Without RX CPUs, or when
 * every target is one, the RX part is the same everywhere: the least loaded, the one
 * pick_least() would give. */
static __u16 pick_cpu(const struct xsync *s)
{
	unsigned int i, best = 0, placed = steered_sas(s);
	__u64 cost, least = cpu_cost(s, 0, placed);

	for (i = 1; i < s->ncpus; i++) {
		cost = cpu_cost(s, i, placed);
		if (cost < least) {
			least = cost;
			best = i;
		}
	}
	return s->cpus[best];
}

static unsigned int cpu_index(const struct xsync *s, __u16 cpu)
{
	unsigned int i;

	for (i = 0; i < s->ncpus; i++)
		if (s->cpus[i] == cpu)
			return i;
	return 0;
}

static void cpu_put(struct xsync *s, struct ssa *sa)
{
	if (sa->cpu_held) {
		s->cpu_load[cpu_index(s, sa->val.cpu)]--;
		sa->cpu_held = false;
	}
}

static void queue_put(struct xsync *s, struct ssa *sa)
{
	if (sa->queue_held) {
		s->queue_load[sa->val.queue]--;
		sa->queue_held = false;
	}
}

static void steer_put(struct xsync *s, struct ssa *sa)
{
	cpu_put(s, sa);
	queue_put(s, sa);
}

/* A per-CPU software SA (RFC 9611) goes to its own CPU or TX queue where it can; offloaded
 * ones are placed as any other SA. */
static bool pcpu_placed(const struct ssa *sa)
{
	return sa->x.has_pcpu && sa->val.path == XOFF_PATH_SW;
}

/* The steering target of a per-CPU SA: its CPU when that is one of ours, else -1. The
 * kernel decrypts it wherever it arrives (xfrm_input() ignores pcpu_num): xoff steers. */
static int own_cpu(const struct xsync *s, const struct ssa *sa)
{
	__u32 cpu = sa->x.pcpu_num;

	return pcpu_placed(sa) && cpu < XOFF_QUEUE_NONE && cpu_allowed(s, cpu) ? (int)cpu : -1;
}

/* The TX queue of a per-CPU SA: queue N for pcpu N when there is one, else -1. The kernel
 * sends it from CPU N (xfrm_state_find() picks the SA of the sending CPU); queue N is
 * CPU N's only where IRQ affinity and XPS make it so, and XPS or a socket's cached queue
 * overrides the choice anyway. Each SA on one queue keeps its order either way. */
static int own_queue(const struct xsync *s, const struct ssa *sa)
{
	__u32 cpu = sa->x.pcpu_num;

	return pcpu_placed(sa) && cpu < s->cfg.tx_queues ? (int)cpu : -1;
}

/* An inbound software SA's CPU: its own (per-CPU SAs), else @want_cpu (what it had
 * before a restart) when allowed, else the cheapest (pick_cpu()). */
static void steer_cpu(struct xsync *s, struct ssa *sa, int want_cpu)
{
	bool cpu = sa->val.action == XOFF_ACT_CPU;
	int own = own_cpu(s, sa);

	if (sa->cpu_held && (!cpu || (own >= 0 && own != sa->val.cpu)))
		cpu_put(s, sa);
	if (cpu && !sa->cpu_held) {
		if (own >= 0)
			sa->val.cpu = own;
		else if (want_cpu >= 0 && cpu_allowed(s, want_cpu))
			sa->val.cpu = want_cpu;
		else
			sa->val.cpu = pick_cpu(s);
		s->cpu_load[cpu_index(s, sa->val.cpu)]++;
		sa->cpu_held = true;
	}
	if (!cpu && !sa->cpu_held)
		sa->val.cpu = 0;
	if (cpu && pcpu_placed(sa) && own < 0)
		sa->val.flags |= XOFF_SA_PCPU_ELSEWHERE;
}

/* An outbound SA's TX queue, when xoff assigns them: its own (per-CPU SAs), else
 * @want_queue when there is one, else the least loaded. */
static void steer_queue(struct xsync *s, struct ssa *sa, int want_queue)
{
	bool queue = sa->val.dir == XOFF_DIR_OUT && s->cfg.tx_queues;
	int own = own_queue(s, sa);

	if (sa->queue_held && (!queue || (own >= 0 && own != sa->val.queue)))
		queue_put(s, sa);
	if (queue && !sa->queue_held) {
		if (own >= 0)
			sa->val.queue = own;
		else if (want_queue >= 0 && (unsigned int)want_queue < s->cfg.tx_queues)
			sa->val.queue = want_queue;
		else
			sa->val.queue = pick_least(s->queue_load, s->cfg.tx_queues);
		s->queue_load[sa->val.queue]++;
		sa->queue_held = true;
	}
	if (!queue)
		sa->val.queue = XOFF_QUEUE_NONE;
	if (sa->val.dir == XOFF_DIR_OUT && pcpu_placed(sa) && own < 0)
		sa->val.flags |= XOFF_SA_PCPU_ELSEWHERE;
}

/* A CPU (inbound software SAs: by count, RX CPUs weighted) and a TX queue (outbound, when
 * configured: by count); kept for the SA's life unless the CPU leaves the allowed set. A
 * per-CPU SA's own CPU or queue comes first: it goes there again after an update, a
 * restart or a MIGRATE, whatever it held. */
static void steer_get(struct xsync *s, struct ssa *sa, int want_cpu, int want_queue)
{
	sa->val.flags &= ~XOFF_SA_PCPU_ELSEWHERE;
	steer_cpu(s, sa, want_cpu);
	steer_queue(s, sa, want_queue);
}

static int default_is_local(struct xsync *s, int family, const void *addr)
{
	size_t len = family == AF_INET ? 4 : 16;
	unsigned int i;

	for (i = 0; i < s->nlocal; i++)
		if (s->local[i].family == family && !memcmp(&s->local[i].addr, addr, len))
			return 1;
	return 0;
}

static void local_refresh(struct xsync *s)
{
	struct ifaddrs *ifa, *i;
	unsigned int n = 0;

	if (s->cfg.is_local || getifaddrs(&ifa))
		return;
	for (i = ifa; i && n < XSYNC_MAX_LOCAL; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			s->local[n].family = AF_INET;
			memcpy(&s->local[n++].addr, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			s->local[n].family = AF_INET6;
			memcpy(&s->local[n++].addr, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16);
		}
	}
	s->nlocal = n;
	freeifaddrs(ifa);
}

static int is_local(struct xsync *s, int family, const void *addr)
{
	if (s->cfg.is_local)
		return s->cfg.is_local(s->cfg.local_ctx, family, addr);
	return default_is_local(s, family, addr);
}

/* Direction where the kernel does not say it: a policy template that leads to the SA's
 * destination, else whether the destination is one of ours. */
static void derive_dir(struct xsync *s, struct ssa *sa)
{
	struct tdir *t;
	struct tdir_key k;

	if (sa->x.dir_source == XFRM_DIR_FROM_SA_DIR || sa->x.dir_source == XFRM_DIR_FROM_OFFLOAD)
		return;
	memset(&k, 0, sizeof(k));
	k.family = sa->x.family;
	memcpy(k.daddr, &sa->x.daddr, xfrm_addr_len(sa->x.family));
	HASH_FIND(hh, s->tdirs, &k, sizeof(k), t);
	if (t && (!t->n_in != !t->n_out)) {
		sa->x.dir = t->n_in ? XOFF_DIR_IN : XOFF_DIR_OUT;
		sa->x.dir_source = XFRM_DIR_FROM_POLICY;
		return;
	}
	sa->x.dir = is_local(s, sa->x.family, &sa->x.daddr) ? XOFF_DIR_IN : XOFF_DIR_OUT;
	sa->x.dir_source = XFRM_DIR_FROM_LOCAL;
}

/* The reason of an eligible SA: its path. */
static enum xsync_why path_why(const struct ssa *sa)
{
	return !sa->x.has_offload ? XSYNC_WHY_SW :
	       sa->val.offload_mode == XOFF_OFFLOAD_PACKET ? XSYNC_WHY_HW_PACKET :
	       XSYNC_WHY_HW_CRYPTO;
}

enum xsync_why xsync_classify(const struct xfrm_sa *x)
{
	if (x->proto != IPPROTO_ESP)
		return XSYNC_WHY_NOT_ESP;
	if (x->encap_type && x->encap_type != UDP_ENCAP_ESPINUDP)
		return XSYNC_WHY_ENCAP;
	if (!x->alg_known)
		return XSYNC_WHY_ALG;
	return !x->has_offload ? XSYNC_WHY_SW :
	       x->offload_flags & XFRM_OFFLOAD_PACKET ? XSYNC_WHY_HW_PACKET : XSYNC_WHY_HW_CRYPTO;
}

/* Path, reason and the fast-path entry of an SA, from what the kernel reported. */
static void decide(struct xsync *s, struct ssa *sa)
{
	const struct xfrm_sa *x = &sa->x;
	__u16 cpu = sa->val.cpu, queue = sa->val.queue;
	__u32 slot = sa->val.slot;

	sa->why = xsync_classify(x);
	sa->eligible = sa->why <= XSYNC_WHY_HW_PACKET;
	/* ESP the fast path classifies by (daddr, SPI, encap): it needs a map entry, served
	 * or not, so that unknown-spi drop never drops it. */
	sa->keyed = sa->eligible || sa->why == XSYNC_WHY_ALG;
	derive_dir(s, sa);

	memset(&sa->val, 0, sizeof(sa->val));
	sa->val.slot = slot;
	sa->val.cpu = cpu;
	sa->val.queue = queue;
	if (x->has_offload) {
		sa->val.path = XOFF_PATH_HW;
		sa->val.offload_ifindex = x->offload_ifindex;
		sa->val.offload_mode = x->offload_flags & XFRM_OFFLOAD_PACKET ?
				       XOFF_OFFLOAD_PACKET : XOFF_OFFLOAD_CRYPTO;
	}
	if (sa->eligible)
		sa->why = path_why(sa);
	sa->val.dir = x->dir == XOFF_DIR_OUT ? XOFF_DIR_OUT : XOFF_DIR_IN;
	sa->val.action = sa->val.path == XOFF_PATH_SW && sa->val.dir == XOFF_DIR_IN ?
			 XOFF_ACT_CPU : XOFF_ACT_PASS;
	/* BEET carries the transport header: the kernel counts what follows it, as in
	 * transport mode (esp_input_done2() pulls the ESP header and IV only). */
	sa->val.mode = x->mode == XFRM_MODE_TRANSPORT || x->mode == XFRM_MODE_BEET ?
		       XOFF_MODE_TRANSPORT : XOFF_MODE_TUNNEL;
	sa->val.iv_len = x->iv_len;
	sa->val.icv_len = x->icv_len;
	if (sa->keyed)
		xoff_sa_key_make(&sa->key, x->family, &x->daddr, x->spi,
				 x->encap_type ? XOFF_ENCAP_ESPINUDP : XOFF_ENCAP_ESP);
}

/* ---- the fast-path SA map ----------------------------------------------------------- */

static void key_dirty(struct xsync *s, struct keyent *ke)
{
	if (ke->dirty)
		return;
	ke->dirty = true;
	ke->dirty_next = s->dirty;
	s->dirty = ke;
}

static struct keyent *key_get(struct xsync *s, const struct xoff_sa_key *k)
{
	struct keyent *ke;

	HASH_FIND(hh, s->keys, k, sizeof(*k), ke);
	if (ke)
		return ke;
	ke = pool_zalloc(&s->key_pool);
	if (!ke)
		return NULL;
	ke->key = *k;
	HASH_ADD(hh, s->keys, key, sizeof(ke->key), ke);
	return ke;
}

static void key_unlink(struct xsync *s, struct ssa *sa)
{
	struct keyent *ke = sa->ke;
	struct ssa **pp;

	if (!ke)
		return;
	for (pp = &ke->owners; *pp; pp = &(*pp)->ke_next)
		if (*pp == sa) {
			*pp = sa->ke_next;
			ke->nowners--;
			break;
		}
	sa->ke = NULL;
	sa->ke_next = NULL;
	key_dirty(s, ke);
}

static int key_link(struct xsync *s, struct ssa *sa)
{
	struct keyent *ke = key_get(s, &sa->key);

	if (!ke)
		return -ENOMEM;
	sa->ke = ke;
	sa->ke_next = ke->owners;
	ke->owners = sa;
	ke->nowners++;
	key_dirty(s, ke);
	return 0;
}

static void sa_drop_slot(struct xsync *s, struct ssa *sa)
{
	if (!sa->has_slot)
		return;
	slot_release(s, sa->val.slot, sa);
	sa->has_slot = false;
	steer_put(s, sa);
}

/* ---- the authenticated-count map ---------------------------------------------------- */

static void auth_dirty(struct xsync *s, struct authent *ae)
{
	if (ae->dirty)
		return;
	ae->dirty = true;
	ae->dirty_next = s->auth_dirty;
	s->auth_dirty = ae;
}

static void auth_unlink(struct xsync *s, struct ssa *sa)
{
	struct authent *ae = sa->ae;
	struct ssa **pp;

	if (!ae)
		return;
	for (pp = &ae->owners; *pp; pp = &(*pp)->ae_next)
		if (*pp == sa) {
			*pp = sa->ae_next;
			ae->nowners--;
			break;
		}
	sa->ae = NULL;
	sa->ae_next = NULL;
	auth_dirty(s, ae);
}

static struct authent *auth_get(struct xsync *s, const struct xoff_auth_key *k)
{
	struct authent *ae;

	HASH_FIND(hh, s->auths, k, sizeof(*k), ae);
	if (ae || !(ae = calloc(1, sizeof(*ae))))
		return ae;
	ae->key = *k;
	HASH_ADD(hh, s->auths, key, sizeof(ae->key), ae);
	return ae;
}

/* A served inbound SA claims its authenticated-count key; any other SA gives it up. */
static int auth_want(struct xsync *s, struct ssa *sa, bool want)
{
	struct xoff_auth_key k;
	struct authent *ae;

	if (want && xoff_auth_key_make(&k, sa->x.family, &sa->x.saddr, sa->x.spi, sa->x.reqid))
		want = false;
	if (sa->ae && (!want || memcmp(&sa->ae->key, &k, sizeof(k))))
		auth_unlink(s, sa);
	if (!want)
		return 0;
	if (sa->ae) {
		auth_dirty(s, sa->ae);	/* its slot or mode may have changed */
		return 0;
	}
	if (!(ae = auth_get(s, &k)))
		return -ENOMEM;
	sa->ae = ae;
	sa->ae_next = ae->owners;
	ae->owners = sa;
	ae->nowners++;
	auth_dirty(s, ae);
	return 0;
}

/* Make one key's entry what its owners call for: exactly one, its slot; else none.
 * Returns 1 when the entry is to be written (the caller batches those, the value in
 * @want), else 0 or a negative errno. */
static int auth_apply(struct xsync *s, struct authent *ae, struct xoff_auth *want)
{
	struct ssa *sa = ae->nowners == 1 ? ae->owners : NULL;

	memset(want, 0, sizeof(*want));
	if (sa) {
		want->slot = sa->val.slot;
		want->mode = sa->val.mode;
		return !ae->present || memcmp(&ae->cur, want, sizeof(*want));
	}
	if (ae->present) {
		if (bpf_map_delete_elem(s->auth_fd, &ae->key) && errno != ENOENT) {
			s->st.map_errors++;
			return -errno;
		}
		ae->present = false;
	}
	if (!ae->nowners) {
		HASH_DEL(s->auths, ae);
		free(ae);
	}
	return 0;
}

/* Write @n entries of one map (@keys and @vals, @ksize and @vsize bytes each) in one
 * batch; if the batch fails, one by one, so that each failure is known: @ok[i] says
 * whether entry i was written. Returns the first error. */
static int batch_update(struct xsync *s, int fd, const void *keys, size_t ksize,
			const void *vals, size_t vsize, __u32 n, bool *ok)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	__u32 count = n, i;
	int err = 0;

	if (bpf_map_update_batch(fd, keys, vals, &count, &o))
		count = 0;	/* how far it got is not to be trusted: all one by one */
	for (i = 0; i < n; i++) {
		ok[i] = i < count || !bpf_map_update_elem(fd, (const char *)keys + i * ksize,
							  (const char *)vals + i * vsize, BPF_ANY);
		if (!ok[i]) {
			err = err ?: -errno;
			s->st.map_errors++;
		}
	}
	return err;
}

/* Apply every dirty authenticated-count key; updates go in batches. */
static int auth_apply_dirty(struct xsync *s)
{
	struct authent *ae, *next, *pend[XSYNC_BATCH];
	struct xoff_auth_key keys[XSYNC_BATCH];
	struct xoff_auth vals[XSYNC_BATCH];
	bool ok[XSYNC_BATCH];
	unsigned int n = 0, i;
	int err = 0, e;

	for (ae = s->auth_dirty, s->auth_dirty = NULL; ae; ae = next) {
		next = ae->dirty_next;
		ae->dirty = false;
		ae->dirty_next = NULL;
		e = auth_apply(s, ae, &vals[n]);
		if (e == 1) {
			pend[n] = ae;
			keys[n++] = ae->key;
			e = 0;
		}
		err = err ?: e;
		if (n == XSYNC_BATCH || (!next && n)) {
			err = batch_update(s, s->auth_fd, keys, sizeof(keys[0]), vals,
					   sizeof(vals[0]), n, ok) ?: err;
			for (i = 0; i < n; i++) {
				if (!ok[i])
					continue;	/* a resync repairs it */
				pend[i]->cur = vals[i];
				pend[i]->present = true;
			}
			n = 0;
		}
	}
	return err;
}

/* The value of a key the kernel has an SA for that xoff does not serve. */
static const struct xoff_sa unserved_val = {
	.slot = XOFF_SLOT_NONE,
	.queue = XOFF_QUEUE_NONE,
	.flags = XOFF_SA_UNSERVED,
};

/* Make the map entry of one key what its owners call for: exactly one served owner, that
 * owner's entry; owners none of which can be served (a mark conflict, an unknown
 * algorithm, no free slot), an entry that passes their ESP uncounted; none, no entry.
 * Returns 1 when the entry is to be written (the caller batches those, the value in
 * ke->want), else 0 or a negative errno. */
static int key_apply(struct xsync *s, struct keyent *ke)
{
	struct ssa *sa = ke->nowners == 1 && ke->owners->eligible ? ke->owners : NULL;
	int err = 0;

	if (ke->orphan && ke->present && sa && !sa->has_slot) {
		/* Entry from before a restart: its slot, CPU and mirror state go on with the
		 * SA if it is the same instance (same add_time). */
		__u32 slot = ke->cur.slot;

		if (slot < s->nslots && s->slot_state[slot] == SLOT_USED && !s->slot_owner[slot] &&
		    (s->mir[slot].flags & XOFF_MIRROR_USED) &&
		    s->mir[slot].add_time == sa->x.curlft.add_time) {
			sa->val.slot = slot;
			sa->has_slot = true;
			s->slot_owner[slot] = sa;
			steer_get(s, sa, ke->cur.cpu, ke->cur.queue == XOFF_QUEUE_NONE ? -1 :
								      ke->cur.queue);
			ke->orphan = false;
		}
	}
	if (ke->orphan && (!ke->present || ke->nowners || !s->resync)) {
		/* Not adopted: the old slot is finished like any released one. */
		if (ke->cur.slot < s->nslots && s->slot_state[ke->cur.slot] == SLOT_USED &&
		    !s->slot_owner[ke->cur.slot])
			slot_release(s, ke->cur.slot, NULL);
		ke->orphan = false;
	}
	for (struct ssa *o = ke->owners; o; o = o->ke_next) {
		if (ke->nowners > 1) {
			o->why = XSYNC_WHY_CONFLICT;
			sa_drop_slot(s, o);
		}
	}
	if (sa && !sa->has_slot) {
		__u32 slot;

		if (slot_alloc(s, sa, &slot)) {
			sa->why = XSYNC_WHY_FULL;
			s->full_waiting = true;	/* retried when a slot is freed */
			sa = NULL;
		} else {
			sa->val.slot = slot;
			sa->has_slot = true;
			s->slot_owner[slot] = sa;
			steer_get(s, sa, -1, -1);
		}
	} else if (sa) {
		steer_get(s, sa, -1, -1);
	}
	if (sa && (sa->why == XSYNC_WHY_FULL || sa->why == XSYNC_WHY_CONFLICT))
		sa->why = path_why(sa);	/* mapped now: the rival left, a slot freed */
	for (struct ssa *o = ke->owners; o; o = o->ke_next)
		err = auth_want(s, o, o == sa && o->val.dir == XOFF_DIR_IN) ?: err;

	if (sa || ke->nowners) {
		ke->want = sa ? sa->val : unserved_val;
		if (!ke->present || memcmp(&ke->cur, &ke->want, sizeof(ke->want)))
			return err ?: 1;	/* the caller batches the update */
	} else if (ke->present && !ke->orphan) {
		s->sas_changed = true;
		if (bpf_map_delete_elem(s->sas_fd, &ke->key) && errno != ENOENT) {
			err = -errno;
			s->st.map_errors++;
			return err;
		}
		ke->present = false;
	}
	if (!ke->nowners && !ke->present && !ke->orphan) {
		HASH_DEL(s->keys, ke);
		pool_free(&s->key_pool, ke);
	}
	return err;
}

/* Apply every dirty key; updates go in batches of up to XSYNC_BATCH entries. */
int xsync_apply(struct xsync *s)
{
	int fd = s->sas_fd;
	struct keyent *ke, *next, *pend[XSYNC_BATCH];
	struct xoff_sa_key keys[XSYNC_BATCH];
	struct xoff_sa vals[XSYNC_BATCH];
	bool ok[XSYNC_BATCH];
	unsigned int n = 0, i;
	int err = 0, e;

	if (s->retry_full && !s->resync) {
		/* Slots were freed: SAs that found none try again. */
		struct ssa *sa, *tmp;

		s->retry_full = s->full_waiting = false;
		HASH_ITER(hh, s->sas, sa, tmp)
			if (sa->why == XSYNC_WHY_FULL && sa->ke)
				key_dirty(s, sa->ke);
	}
	for (ke = s->dirty, s->dirty = NULL; ke; ke = next) {
		next = ke->dirty_next;
		ke->dirty = false;
		ke->dirty_next = NULL;
		e = key_apply(s, ke);
		if (e == 1) {
			pend[n] = ke;
			keys[n] = ke->key;
			vals[n++] = ke->want;
			e = 0;
		}
		err = err ?: e;
		if (n == XSYNC_BATCH || (!next && n)) {
			s->sas_changed = true;
			e = batch_update(s, fd, keys, sizeof(keys[0]), vals, sizeof(vals[0]), n, ok);
			err = err ?: e;
			for (i = 0; i < n; i++) {
				if (!ok[i]) {
					xsync_log(s, XSYNC_ERR, "map update of spi 0x%08x failed",
						  ntohl(keys[i].spi));
					continue;
				}
				pend[i]->cur = vals[i];
				pend[i]->present = true;
			}
			n = 0;
		}
	}
	err = auth_apply_dirty(s) ?: err;
	/* The programs' caches of the SA map: stale from here on. */
	if (s->sas_changed) {
		e = xoff_sas_changed(s->x);
		s->sas_changed = e != 0;
		err = err ?: e;
	}
	e = xsync_lpm_apply(s);
	return err ?: e;
}

static void tdir_key_of(struct tdir_key *k, int family, const void *daddr)
{
	memset(k, 0, sizeof(*k));
	k->family = family;
	memcpy(k->daddr, daddr, xfrm_addr_len(family));
}

/* The direction policy templates give SAs to @t's address: -1 when none or both. */
static int tdir_outcome(const struct tdir *t)
{
	if (!t || !t->n_in == !t->n_out)
		return -1;
	return t->n_in ? XOFF_DIR_IN : XOFF_DIR_OUT;
}

/* SAs by destination, so a policy change re-derives only the SAs it concerns. */
static void addr_link(struct xsync *s, struct ssa *sa)
{
	struct tdir_key k;
	struct addrent *a;

	tdir_key_of(&k, sa->x.family, &sa->x.daddr);
	HASH_FIND(hh, s->addrs, &k, sizeof(k), a);
	if (!a) {
		if (!(a = calloc(1, sizeof(*a))))
			return;		/* re-derived at the next resync instead */
		a->k = k;
		HASH_ADD(hh, s->addrs, k, sizeof(a->k), a);
	}
	sa->addr = a;
	sa->addr_next = a->head;
	a->head = sa;
}

static void addr_unlink(struct xsync *s, struct ssa *sa)
{
	struct addrent *a = sa->addr;
	struct ssa **pp;

	if (!a)
		return;
	for (pp = &a->head; *pp; pp = &(*pp)->addr_next)
		if (*pp == sa) {
			*pp = sa->addr_next;
			break;
		}
	sa->addr = NULL;
	if (!a->head) {
		HASH_DEL(s->addrs, a);
		free(a);
	}
}

/* ---- the shadow SAD ----------------------------------------------------------------- */

static struct ssa *sa_find(struct xsync *s, const struct xfrm_sa *x)
{
	struct sa_id id;
	struct ssa *sa;

	sa_id_of(&id, x);
	HASH_FIND(hh, s->sas, &id, sizeof(id), sa);
	return sa;
}

static bool sa_feeds_lpm(const struct ssa *sa)
{
	return sa->val.offload_mode == XOFF_OFFLOAD_PACKET && sa->val.dir == XOFF_DIR_OUT;
}

/* Re-decide one SA and move it between keys if its key changed. */
static int sa_refresh(struct xsync *s, struct ssa *sa)
{
	struct xoff_sa_key old = sa->key;
	bool was = sa->keyed && sa->ke, lpm = sa_feeds_lpm(sa);
	int err = 0;

	decide(s, sa);
	if (was && (!sa->keyed || memcmp(&old, &sa->key, sizeof(old)))) {
		key_unlink(s, sa);
		sa_drop_slot(s, sa);
	} else if (!sa->eligible) {
		sa_drop_slot(s, sa);	/* keyed but not servable: its entry passes it */
	}
	if (!sa->keyed)
		auth_want(s, sa, false);
	if (sa->keyed && !sa->ke)
		err = key_link(s, sa);
	else if (sa->ke)
		key_dirty(s, sa->ke);
	if (lpm || sa_feeds_lpm(sa))
		s->lpm_dirty = true;
	return err;
}

static void sa_remove(struct xsync *s, struct ssa *sa)
{
	if (sa_feeds_lpm(sa))
		s->lpm_dirty = true;
	key_unlink(s, sa);
	auth_unlink(s, sa);
	sa_drop_slot(s, sa);
	steer_put(s, sa);
	addr_unlink(s, sa);
	HASH_DEL(s->sas, sa);
	pool_free(&s->sa_pool, sa);
	s->st.sas--;
}

/* @update: an UPDSA event, which carries the state xfrm_add_sa() built from the request
 * (add_time now, counts 0), not the one the kernel kept: its add_time is not the SA's.
 * Nor is its pcpu_num when the kernel kept a full SA (xfrm_state_update() copies lifetimes,
 * encap, selector, not pcpu_num); a larval one (no algorithms yet) is replaced whole. */
static int sa_upsert(struct xsync *s, const struct xfrm_sa *x, bool update)
{
	struct ssa *sa = sa_find(s, x);

	if (sa && update) {
		__u64 add_time = sa->x.curlft.add_time;
		bool full = sa->x.alg_known, has_pcpu = sa->x.has_pcpu;
		__u32 pcpu_num = sa->x.pcpu_num;

		sa->x = *x;
		sa->x.curlft.add_time = add_time;
		if (full) {
			sa->x.has_pcpu = has_pcpu;
			sa->x.pcpu_num = pcpu_num;
		}
		x = &sa->x;
	} else if (sa && sa->x.curlft.add_time != x->curlft.add_time) {
		/* Deleted and added again while its events were lost: another SA under the
		 * same identity, whose counts and slot start afresh. */
		sa_remove(s, sa);
		sa = NULL;
	}
	if (!sa) {
		sa = pool_zalloc(&s->sa_pool);
		if (!sa)
			return -ENOMEM;
		sa_id_of(&sa->id, x);
		sa->val.queue = XOFF_QUEUE_NONE;
		sa->serial = ++s->serial;
		HASH_ADD(hh, s->sas, id, sizeof(sa->id), sa);
		s->st.sas++;
		sa->x = *x;
		addr_link(s, sa);	/* the destination is part of the identity */
		sa->fresh = s->resync && s->nmoves;	/* perhaps a moved SA's clone */
	}
	if (x != &sa->x)
		sa->x = *x;
	sa->seen = true;
	return sa_refresh(s, sa);
}


static bool proto_match(__u8 proto, __u8 flush)
{
	return flush == 0 || flush == 255 /* IPSEC_PROTO_ANY */ || proto == flush;
}

/* ---- the shadow SPD ----------------------------------------------------------------- */

static int rederive(struct xsync *s, struct ssa *sa)
{
	__u8 dir = sa->x.dir;

	if (sa->x.dir_source < XFRM_DIR_FROM_POLICY)
		return 0;
	derive_dir(s, sa);
	return dir != sa->x.dir ? sa_refresh(s, sa) : 0;
}

/* Count a policy's templates in (+1) or out (-1) of the direction table; SAs at an
 * address whose direction this changes are decided again. O(templates + those SAs). */
static int tdir_adjust(struct xsync *s, const struct xfrm_pol *p, int delta)
{
	unsigned int i;
	int err = 0;

	if (p->dir == XFRM_POLICY_OUT && p->has_offload && p->offload_flags & XFRM_OFFLOAD_PACKET)
		s->npkt_pols += delta;
	if (p->action != XFRM_POLICY_ALLOW)
		return 0;
	for (i = 0; i < p->ntmpl; i++) {
		struct tdir_key k;
		struct addrent *a;
		struct tdir *t;
		int before;

		if (p->tmpl[i].proto != IPPROTO_ESP)
			continue;
		tdir_key_of(&k, p->tmpl[i].family, &p->tmpl[i].daddr);
		HASH_FIND(hh, s->tdirs, &k, sizeof(k), t);
		if (!t) {
			if (delta < 0 || !(t = calloc(1, sizeof(*t))))
				continue;	/* without memory: local addresses decide */
			t->k = k;
			HASH_ADD(hh, s->tdirs, k, sizeof(t->k), t);
		}
		before = tdir_outcome(t);
		if (p->dir == XFRM_POLICY_OUT)
			t->n_out += delta;
		else
			t->n_in += delta;
		if (tdir_outcome(t) != before) {
			HASH_FIND(hh, s->addrs, &k, sizeof(k), a);
			for (struct ssa *sa = a ? a->head : NULL; sa; sa = sa->addr_next)
				err = rederive(s, sa) ?: err;	/* every one, whatever fails */
		}
		if (!t->n_in && !t->n_out) {
			HASH_DEL(s->tdirs, t);
			free(t);
		}
	}
	return err;
}

static int pol_upsert(struct xsync *s, const struct xfrm_pol *p)
{
	struct spol *sp;
	int err = 0;

	HASH_FIND(hh, s->pols, &p->index, sizeof(p->index), sp);
	if (!sp) {
		if (!(sp = calloc(1, sizeof(*sp))))
			return -ENOMEM;
		sp->index = p->index;
		HASH_ADD(hh, s->pols, index, sizeof(sp->index), sp);
		s->st.policies++;
	} else {
		err = tdir_adjust(s, &sp->p, -1);
	}
	sp->p = *p;
	sp->seen = true;
	err = tdir_adjust(s, &sp->p, 1) ?: err;
	s->lpm_dirty = true;
	return err;
}

static int pol_free(struct xsync *s, struct spol *sp)
{
	int err = tdir_adjust(s, &sp->p, -1);

	HASH_DEL(s->pols, sp);
	free(sp);
	s->st.policies--;
	s->lpm_dirty = true;
	return err;
}

/* ---- MIGRATE ----------------------------------------------------------------------- */

/*
 * xfrm_migrate() (net/xfrm/xfrm_policy.c, 6.1 to 7.2), for each entry: the first SA of
 * the old addresses, protocol, mode and reqid is cloned with the new addresses
 * (xfrm_state_migrate(): same SPI, mark, algorithms, curlft and replay state; 6.1 and
 * 6.12 drop its offload, 7.2 offloads it where the request names a device), the clone
 * inserted, the policy's matching templates rewritten in place, the original deleted;
 * then only km_migrate() announces it. None of it comes as an SA or policy event: the
 * daemon resyncs, and the dump shows the clones and the new templates.
 */

static bool move_matches_old(const struct xfrm_move *mv, const struct ssa *sa)
{
	const struct xfrm_sa *x = &sa->x;

	if (mv->by_spi)
		return x->spi == mv->spi;	/* the address and family are the lookup's */
	return x->proto == mv->proto && x->mode == mv->mode &&
	       (!mv->reqid || x->reqid == mv->reqid) &&
	       !memcmp(&x->saddr, &mv->old_saddr, xfrm_addr_len(mv->old_family));
}

static void addr_str(int family, const xfrm_address_t *a, char *buf, size_t len)
{
	if (!inet_ntop(family, a, buf, len))
		snprintf(buf, len, "?");
}

/* One info line per entry: the address change and the SAs it moves, as far as the shadow
 * knows them (the kernel moves the first it finds). */
static void move_log(struct xsync *s, const struct xfrm_migrate_msg *mg,
		     const struct xfrm_move *mv)
{
	static const char *const dirs[] = { "in", "out", "fwd" };
	char os[INET6_ADDRSTRLEN], od[INET6_ADDRSTRLEN], ns[INET6_ADDRSTRLEN];
	char nd[INET6_ADDRSTRLEN], what[160], sas[200] = "", name[96];
	unsigned int n = 0;
	struct tdir_key k;
	struct addrent *a;
	size_t used = 0;

	tdir_key_of(&k, mv->old_family, &mv->old_daddr);
	HASH_FIND(hh, s->addrs, &k, sizeof(k), a);
	for (struct ssa *sa = a ? a->head : NULL; sa; sa = sa->addr_next) {
		if (sa->x.proto != mv->proto || !move_matches_old(mv, sa) ||
		    (mv->by_spi && (sa->x.mark.v & sa->x.mark.m) != (mv->old_mark.v & mv->old_mark.m)))
			continue;
		if (n++ < 2) {
			xsync_sa_name(&sa->x, name, sizeof(name));
			used += snprintf(sas + used, used < sizeof(sas) ? sizeof(sas) - used : 0,
					 "%s%s", n > 1 ? ", " : "", name);
		}
	}
	if (n > 2 && used < sizeof(sas))
		snprintf(sas + used, sizeof(sas) - used, " and %u more", n - 2);
	addr_str(mv->old_family, &mv->old_saddr, os, sizeof(os));
	addr_str(mv->old_family, &mv->old_daddr, od, sizeof(od));
	addr_str(mv->new_family, &mv->new_saddr, ns, sizeof(ns));
	addr_str(mv->new_family, &mv->new_daddr, nd, sizeof(nd));
	if (mv->by_spi) {
		xsync_log(s, XSYNC_INFO, "XFRM migrate of %s spi 0x%08x proto %u: now %s -> %s: "
			  "%s; resync", od, ntohl(mv->spi), mv->proto, ns, nd,
			  n ? "known here" : "not known here");
		return;
	}
	if (mg->sel.family) {
		char ss[INET6_ADDRSTRLEN], sd[INET6_ADDRSTRLEN];

		addr_str(mg->sel.family, &mg->sel.saddr, ss, sizeof(ss));
		addr_str(mg->sel.family, &mg->sel.daddr, sd, sizeof(sd));
		snprintf(what, sizeof(what), "policy %s %s/%u -> %s/%u", dirs[mg->dir], ss,
			 mg->sel.prefixlen_s, sd, mg->sel.prefixlen_d);
	} else {
		snprintf(what, sizeof(what), "policy %s", dirs[mg->dir]);
	}
	xsync_log(s, XSYNC_INFO, "XFRM migrate (%s): proto %u mode %u reqid %u %s -> %s now "
		  "%s -> %s: %s; resync", what, mv->proto, mv->mode, mv->reqid, os, od, ns, nd,
		  n ? sas : "no SA of those addresses known here (templates only)");
}

/* Log a MIGRATE, keep its entries for the resync it calls for. */
static void migrate_note(struct xsync *s, const struct xfrm_migrate_msg *mg)
{
	unsigned int i;

	s->st.migrates++;
	s->resync_wanted = true;
	for (i = 0; i < mg->n; i++) {
		move_log(s, mg, &mg->m[i]);
		if (s->nmoves < XSYNC_MAX_MOVES)
			s->moves[s->nmoves++] = mg->m[i];
		/* else that SA's clone starts over: a new slot and CPU, nothing else lost */
	}
}

/* The SA a fresh one of the dump is the clone of: one the shadow holds under a move's
 * old addresses with the same SPI and protocol and the same add_time (the clone's
 * curlft is the original's), which the dump no longer shows. */
static struct ssa *move_origin(struct xsync *s, const struct ssa *sa)
{
	const struct xfrm_sa *x = &sa->x;
	size_t len = xfrm_addr_len(x->family);
	unsigned int i;

	for (i = 0; i < s->nmoves; i++) {
		const struct xfrm_move *mv = &s->moves[i];
		struct xfrm_sa id;
		struct ssa *old;

		if (mv->new_family != x->family || mv->proto != x->proto ||
		    memcmp(&mv->new_daddr, &x->daddr, len))
			continue;
		if (mv->by_spi ? mv->spi != x->spi :
		    memcmp(&mv->new_saddr, &x->saddr, len) || mv->mode != x->mode ||
		    (mv->reqid && mv->reqid != x->reqid))
			continue;
		memset(&id, 0, sizeof(id));
		id.family = mv->old_family;
		id.proto = x->proto;
		id.spi = x->spi;
		id.daddr = mv->old_daddr;
		id.mark = mv->by_spi ? mv->old_mark : x->mark;
		old = sa_find(s, &id);
		if (old && old != sa && !old->seen &&
		    old->x.curlft.add_time == x->curlft.add_time && move_matches_old(mv, old))
			return old;
	}
	return NULL;
}

/*
 * A moved SA goes on as it was under its new key: its CPU and TX queue (its packets stay
 * in order), its counter slot and mirror record (its fast-path counts and what xoff wrote
 * of them go on; the clone's curlft is the original's). Where the move changed who
 * counts it (6.1 and 6.12 drop packet offload; 7.2 may add it), the slot is released
 * instead, its last counts going to the clone if xoff wrote them, and the clone gets a
 * new slot: from the move on, one counter in one slot.
 */
static void sa_take_over(struct xsync *s, struct ssa *sa, struct ssa *old)
{
	char from[96], to[96], how[64] = "nothing of it";

	if (sa->has_slot)
		return;
	xsync_sa_name(&old->x, from, sizeof(from));
	xsync_sa_name(&sa->x, to, sizeof(to));
	if (old->has_slot && sa->eligible && sa->val.offload_mode == old->val.offload_mode) {
		sa->val.slot = old->val.slot;
		sa->has_slot = true;
		s->slot_owner[sa->val.slot] = sa;
		snprintf(how, sizeof(how), "its slot %u", sa->val.slot);
		old->has_slot = false;
		if (old->cpu_held) {
			sa->val.cpu = old->val.cpu;
			sa->cpu_held = true;
			old->cpu_held = false;
			snprintf(how + strlen(how), sizeof(how) - strlen(how), ", CPU %u", sa->val.cpu);
		}
		if (old->queue_held) {
			sa->val.queue = old->val.queue;
			sa->queue_held = true;
			old->queue_held = false;
		}
	} else if (old->has_slot) {
		slot_release_to(s, old->val.slot, old, &sa->x);
		snprintf(how, sizeof(how), "a new slot (slot %u's last counts go to it)",
			 old->val.slot);
		old->has_slot = false;
		steer_put(s, old);
	}
	xsync_log(s, XSYNC_DEBUG, "%s moved to %s, keeping %s", from, to, how);
}

/* At the end of the resync that follows MIGRATEs: before the originals go, each clone the
 * dump showed takes over from its original. */
static void moves_follow(struct xsync *s)
{
	struct ssa *sa, *tmp, *old;

	HASH_ITER(hh, s->sas, sa, tmp) {
		if (!sa->fresh)
			continue;
		sa->fresh = false;
		if ((old = move_origin(s, sa)))
			sa_take_over(s, sa, old);
	}
	s->nmoves = 0;
}

/* ---- messages ---------------------------------------------------------------------- */

int xsync_msg(struct xsync *s, const struct nlmsghdr *nlh)
{
	struct xfrm_msg *m = &s->msg;
	struct ssa *sa, *tmp;
	struct spol *sp, *pt;
	const char *why;
	char name[96];
	int err;

	s->st.msgs++;
	err = xfrm_parse(nlh, m, &why);
	if (err) {
		s->st.bad_msgs++;
		xsync_log(s, XSYNC_WARN, "XFRM message type %u rejected: %s", nlh->nlmsg_type, why);
		return err;
	}
	switch (m->ev) {
	case XFRM_EV_SA:
		err = sa_upsert(s, &m->sa, nlh->nlmsg_type == XFRM_MSG_UPDSA);
		break;
	case XFRM_EV_SA_DEL:
		if ((sa = sa_find(s, &m->sa)))
			sa_remove(s, sa);
		break;
	case XFRM_EV_SA_SOFT:
		/* The kernel (or xoff itself) signalled the soft limit: never again. */
		if ((sa = sa_find(s, &m->sa)) && sa->has_slot)
			xsync_mir_flags(&s->mir[sa->val.slot],
					s->mir[sa->val.slot].flags | XOFF_MIRROR_SOFT_SENT);
		break;
	case XFRM_EV_SA_FLUSH:
		HASH_ITER(hh, s->sas, sa, tmp)
			if (proto_match(sa->x.proto, m->flush_proto))
				sa_remove(s, sa);
		break;
	case XFRM_EV_POL:
		err = pol_upsert(s, &m->pol);
		break;
	case XFRM_EV_POL_DEL:
		HASH_FIND(hh, s->pols, &m->pol.index, sizeof(m->pol.index), sp);
		if (sp)
			err = pol_free(s, sp);
		break;
	case XFRM_EV_POL_FLUSH:
		HASH_ITER(hh, s->pols, sp, pt)
			if (sp->p.type == m->flush_pol_type)
				err = pol_free(s, sp) ?: err;
		break;
	case XFRM_EV_MAPPING: {
		struct xfrm_sa id = { .daddr = m->map.daddr, .spi = m->map.spi,
				      .family = m->map.family, .proto = m->map.proto };

		s->st.mappings++;
		xsync_sa_name(&id, name, sizeof(name));
		xsync_log(s, XSYNC_INFO, "NAT-T mapping of %s changed: source port %u -> %u",
			  name, ntohs(m->map.old_sport), ntohs(m->map.new_sport));
		break;
	}
	case XFRM_EV_MIGRATE:
		migrate_note(s, &m->mig);
		break;
	default:
		break;
	}
	/* Keys and algorithms never outlive the message: the parsed copy holds none, and
	 * the receive buffer is the caller's to wipe. */
	if (!s->resync)
		err = err ?: xsync_apply(s);
	return err;
}

void xsync_resync_begin(struct xsync *s)
{
	struct ssa *sa, *tmp;
	struct spol *sp, *pt;

	s->resync = true;
	s->resync_wanted = false;
	s->st.resyncs++;
	local_refresh(s);
	HASH_ITER(hh, s->sas, sa, tmp)
		sa->seen = false;
	HASH_ITER(hh, s->pols, sp, pt)
		sp->seen = false;
}

bool xsync_in_resync(const struct xsync *s)
{
	return s->resync;
}

bool xsync_resync_wanted(const struct xsync *s)
{
	return s->resync_wanted;
}

bool xsync_uses_dev(const struct xsync *s, __u32 ifindex)
{
	const struct ssa *sa, *tmp;
	const struct spol *sp, *pt;

	HASH_ITER(hh, s->sas, sa, tmp)
		if (sa->x.has_offload && sa->x.offload_ifindex == ifindex)
			return true;
	HASH_ITER(hh, s->pols, sp, pt)
		if (sp->p.has_offload && sp->p.offload_ifindex == ifindex)
			return true;
	return false;
}

int xsync_resync_end(struct xsync *s)
{
	struct ssa *sa, *tmp;
	struct spol *sp, *pt;
	struct keyent *ke, *kt;
	struct authent *ae, *at;
	int err = 0;

	if (s->nmoves)
		moves_follow(s);	/* while the originals are still there */
	HASH_ITER(hh, s->pols, sp, pt)
		if (!sp->seen)
			err = pol_free(s, sp) ?: err;
	HASH_ITER(hh, s->sas, sa, tmp)
		if (!sa->seen)
			sa_remove(s, sa);
	/* Every SA in the dump was decided with the local addresses of this resync and the
	 * policies known then; a policy that came (or went) later re-derived the SAs at its
	 * template addresses. Only SAs missing from that index (no memory for it) remain. */
	HASH_ITER(hh, s->sas, sa, tmp)
		if (!sa->addr)
			err = rederive(s, sa) ?: err;
	s->lpm_dirty = true;
	s->resync = false;
	/* Entries of the pinned maps that no kernel SA claimed go now. */
	HASH_ITER(hh, s->keys, ke, kt)
		if (ke->orphan || (ke->present && !ke->nowners))
			key_dirty(s, ke);
	HASH_ITER(hh, s->auths, ae, at)
		if (ae->present && !ae->nowners)
			auth_dirty(s, ae);
	return xsync_apply(s) ?: err;
}

int xsync_resync_abort(struct xsync *s)
{
	struct ssa *sa, *tmp;

	s->resync = false;
	s->nmoves = 0;		/* both the originals and their clones stay: nothing to follow */
	HASH_ITER(hh, s->sas, sa, tmp) {
		sa->seen = true;
		sa->fresh = false;
		rederive(s, sa);
	}
	s->lpm_dirty = true;
	return xsync_apply(s);
}

/* ---- setup ------------------------------------------------------------------------- */

/* Authenticated-count entries an earlier daemon left: removed at the first resync's end
 * unless an SA claims them. */
static int auth_load(struct xsync *s)
{
	struct xoff_auth_key k, next, *prev = NULL;
	struct authent *ae;
	struct xoff_auth v;

	while (!bpf_map_get_next_key(s->auth_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(s->auth_fd, &k, &v))
			continue;	/* deleted meanwhile */
		if (!(ae = auth_get(s, &k)))
			return -ENOMEM;
		ae->present = true;
		ae->cur = v;
	}
	return 0;
}

/* What the pinned maps hold from an earlier daemon or attach. */
static int load_maps(struct xsync *s)
{
	int fd = xoff_map_fd(s->x, XOFF_MAP_SAS);
	struct xoff_sa_key k, next, *prev = NULL;
	struct xoff_sa v;
	__u32 slot;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		struct keyent *ke;

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &v))
			continue;	/* deleted meanwhile */
		if (!(ke = key_get(s, &k)))
			return -ENOMEM;
		ke->present = true;
		ke->cur = v;
		if (v.slot < s->nslots && s->slot_state[v.slot] == SLOT_FREE) {
			ke->orphan = true;
			s->slot_state[v.slot] = SLOT_USED;
		}
	}
	if (auth_load(s))
		return -ENOMEM;
	/* Mirror state of slots no entry refers to: finished before reuse. */
	for (slot = 0; slot < s->nslots; slot++)
		if (s->slot_state[slot] == SLOT_FREE && s->mir[slot].flags)
			slot_release(s, slot, NULL);
	for (slot = s->nslots; slot-- > 0;)
		if (s->slot_state[slot] == SLOT_FREE)
			s->free[s->nfree++] = slot;
	return xsync_lpm_load(s);
}

int xsync_set_rx(struct xsync *s, const __u16 *rx_cpus, unsigned int n, unsigned int weight)
{
	unsigned int i, j;

	if (weight > 100)
		return -EINVAL;
	for (i = 0; i < s->ncpus; i++) {
		s->cpu_rx[i] = false;
		for (j = 0; rx_cpus && j < n && !s->cpu_rx[i]; j++)
			s->cpu_rx[i] = rx_cpus[j] == s->cpus[i];
	}
	s->cfg.rx_weight = weight;
	return 0;
}

int xsync_new(struct xsync **out, struct xoff *x, const struct xsync_cfg *cfg)
{
	struct xsync *s = calloc(1, sizeof(*s));
	unsigned int i;
	int err;

	if (!s)
		return -ENOMEM;
	s->x = x;
	s->cfg = *cfg;
	pool_init(&s->sa_pool, sizeof(struct ssa));
	pool_init(&s->key_pool, sizeof(struct keyent));
	s->nslots = xoff_max_sas(x);
	s->ncpus = cfg->cpus ? cfg->ncpus : (unsigned int)xoff_nr_cpus();
	err = -ENOMEM;
	s->cpus = calloc(s->ncpus ? s->ncpus : 1, sizeof(*s->cpus));
	s->cpu_load = calloc(s->ncpus ? s->ncpus : 1, sizeof(*s->cpu_load));
	s->cpu_rx = calloc(s->ncpus ? s->ncpus : 1, sizeof(*s->cpu_rx));
	s->queue_load = calloc(cfg->tx_queues ? cfg->tx_queues : 1, sizeof(*s->queue_load));
	s->slot_state = calloc(s->nslots, 1);
	s->slot_owner = calloc(s->nslots, sizeof(*s->slot_owner));
	s->free = calloc(s->nslots, sizeof(*s->free));
	if (!s->cpus || !s->cpu_load || !s->cpu_rx || !s->queue_load || !s->slot_state ||
	    !s->slot_owner || !s->free)
		goto fail;
	/* The pinned records themselves: read in place, and every store is one. */
	if (!(s->mir = xoff_mirror_records(x))) {
		err = -errno;
		goto fail;
	}
	err = -EINVAL;
	if (!s->ncpus || cfg->tx_queues > XOFF_QUEUE_NONE)
		goto fail;
	for (i = 0; i < s->ncpus; i++) {
		s->cpus[i] = cfg->cpus ? cfg->cpus[i] : i;
		if (s->cpus[i] >= xoff_nr_cpus())
			goto fail;
	}
	s->cfg.cpus = NULL;
	if (xsync_set_rx(s, cfg->rx_cpus, cfg->nrx_cpus, cfg->rx_weight))
		goto fail;
	s->cfg.rx_cpus = NULL;	/* read into cpu_rx[] */
	s->cfg.nrx_cpus = 0;
	s->sas_fd = xoff_map_fd(x, XOFF_MAP_SAS);
	s->auth_fd = xoff_map_fd(x, XOFF_MAP_AUTH_SAS);
	err = load_maps(s);
	if (err)
		goto fail;
	*out = s;
	return 0;
fail:
	xsync_free(s);
	return err;
}

void xsync_free(struct xsync *s)
{
	if (!s)
		return;
	HASH_CLEAR(hh, s->sas);
	HASH_FREE_ALL(s->pols);
	HASH_CLEAR(hh, s->keys);
	pool_destroy(&s->sa_pool);
	pool_destroy(&s->key_pool);
	HASH_FREE_ALL(s->tdirs);
	HASH_FREE_ALL(s->addrs);
	HASH_FREE_ALL(s->lpm);
	HASH_FREE_ALL(s->auths);
	free(s->cpus);
	free(s->cpu_load);
	free(s->cpu_rx);
	free(s->queue_load);
	free(s->slot_state);
	free(s->slot_owner);
	free(s->free);
	free(s->quar);
	free(s);
}

int xsync_quarantine_flush(struct xsync *s)
{
	unsigned int i;
	int err = 0;

	for (i = 0; i < s->nquar; i++)
		err = err ?: xsync_slot_finish(s, s->quar[i].slot);
	s->nquar = 0;
	s->st.quarantined = 0;
	return err;
}

int xsync_tick(struct xsync *s)
{
	local_refresh(s);
	return s->retry_full && !s->resync ? xsync_apply(s) : 0;
}

/* ---- reports ----------------------------------------------------------------------- */

enum xsync_pcpu xsync_pcpu_of(const struct xfrm_sa *x, bool mapped, const struct xoff_sa *val)
{
	bool elsewhere = val->flags & XOFF_SA_PCPU_ELSEWHERE;

	if (!x->has_pcpu)
		return XSYNC_PCPU_NONE;
	if (!mapped)
		return XSYNC_PCPU_UNMAPPED;
	if (val->path != XOFF_PATH_SW)
		return XSYNC_PCPU_OFFLOAD;
	/* The entry's own CPU or queue decides, not the flag alone (a daemon that knew
	 * another pcpu_num, or none, placed it). */
	if (val->dir == XOFF_DIR_IN)
		return !elsewhere && val->cpu == x->pcpu_num ? XSYNC_PCPU_CPU : XSYNC_PCPU_NOT_STEERED;
	return !elsewhere && val->queue == x->pcpu_num ? XSYNC_PCPU_QUEUE : XSYNC_PCPU_NO_TXQ;
}

static void view_of(const struct xsync *s, const struct ssa *sa, struct xsync_sa_view *v)
{
	memset(v, 0, sizeof(*v));
	v->x = sa->x;
	v->mapped = sa->has_slot && sa->ke && sa->ke->present && sa->ke->nowners == 1;
	v->unserved = !v->mapped && sa->ke && sa->ke->present;
	v->auth = v->mapped && sa->ae && sa->ae->present && sa->ae->nowners == 1;
	v->key = sa->key;
	v->val = sa->val;
	v->why = sa->why;
	if (sa->has_slot)
		v->mirror = s->mir[sa->val.slot];
}

int xsync_sa_get(struct xsync *s, const struct xfrm_sa *id, struct xsync_sa_view *out)
{
	struct ssa *sa = sa_find(s, id);

	if (!sa)
		return -ENOENT;
	view_of(s, sa, out);
	return 0;
}

int xsync_sa_foreach(struct xsync *s, int (*cb)(const struct xsync_sa_view *v, void *ctx),
		     void *ctx)
{
	struct xsync_sa_view v;
	struct ssa *sa, *tmp;
	int ret;

	HASH_ITER(hh, s->sas, sa, tmp) {
		view_of(s, sa, &v);
		if ((ret = cb(&v, ctx)))
			return ret;
	}
	return 0;
}

int xsync_pol_foreach(struct xsync *s, int (*cb)(const struct xfrm_pol *p, void *ctx), void *ctx)
{
	struct spol *sp, *pt;
	int ret;

	HASH_ITER(hh, s->pols, sp, pt)
		if ((ret = cb(&sp->p, ctx)))
			return ret;
	return 0;
}

void xsync_get_stats(const struct xsync *s, struct xsync_stats *st)
{
	const struct ssa *sa, *tmp;

	*st = s->st;
	st->sas_mapped = st->unserved = st->auth_conflicts = 0;
	HASH_ITER(hh, s->sas, sa, tmp) {
		bool mapped = sa->has_slot && sa->ke && sa->ke->present && sa->ke->nowners == 1;

		st->sas_mapped += mapped;
		st->unserved += !mapped && sa->ke && sa->ke->present;
		st->auth_conflicts += sa->ae && sa->ae->nowners > 1;
	}
	st->selectors = s->nlpm;
	st->quarantined = s->nquar;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Route-based ipsec interfaces and their SAs.
 *
 * An interface is a tunnel (outer local -> remote) that routes point at.
 * Its outbound SA seals whatever is routed into it; inbound SAs, found by
 * SPI and outer destination in the SAD, open what arrives for the tunnel's
 * local address from its remote.  The ESP transforms are librte_ipsec's,
 * on a cryptodev (crypto.c).
 *
 * One SA, both inner families.  librte_ipsec fixes the inner family of a
 * tunnel SA at init time (the ESP next-header it writes and expects, and a
 * type bit), while ipsecif(4) and if_ipsec(4) carry IPv4 and IPv6 through
 * one SA pair, with one sequence number space and one replay window.  Two
 * rte_ipsec_sa objects cannot share those.  So each SA is one object, and
 * before a group of packets of the other family is processed the bytes
 * that differ between an IPv4-inner and an IPv6-inner init of the same SA
 * are switched.  Which bytes those are is not read from DPDK's private
 * header but found at start-up, by initialising one SA both ways and
 * comparing (sa_family_probe in ipsec_if.c); if the difference is not a handful of
 * bytes outside the mutable state, the gateway refuses to start.  With
 * several workers the switch and the processing happen under the SA's
 * lock (ipsec_sa.lock); with one worker the lock is never taken.
 */
#ifndef IPSECGW_IPSEC_H
#define IPSECGW_IPSEC_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_branch_prediction.h>
#include <rte_ipsec.h>
#include <rte_mbuf_dyn.h>
#include <rte_prefetch.h>
#include <rte_spinlock.h>

#include "control/config.h"
#include "control/index.h"

/*
 * How many interfaces and SAs the tables have room for: start-up settings
 * (ipsecgw --max-interfaces, --max-sas), sized in memory allocated at
 * start (ipsec_ctx's slots, each worker's counters).  The defaults fit
 * the tests' `--no-huge -m 512`; 100 000 tunnels take 100 000 and 200 000.
 */
#define IPSEC_DEFAULT_MAX_IF 256
#define IPSEC_DEFAULT_MAX_SA 4096
#define IPSEC_LIMIT_MAX (1u << 24)	/* what the options accept */
#define IPSEC_FAMILY_DIFF_MAX 16

/*
 * The anti-replay window, kept by us beside librte_ipsec's.  librte_ipsec
 * 22.11 records a sequence number in its bitmap through a 32-bit variable
 * (`uint32_t bit = (uint64_t)1 << (sqn & 63)`), so numbers whose low six
 * bits are 32..63 are never marked seen and their duplicates pass (found
 * by the Scapy replay tests).  Its window still rejects what is too old and
 * infers the ESN high bits; this one, updated only with authenticated
 * packets after decapsulation, catches the duplicates.  RFC 4303 3.4.3 and
 * appendix A: a window of W holds T-W+1..T.
 */
struct replay_win {
	uint64_t top;			/* T, the highest accepted */
	uint32_t win;			/* W */
	uint32_t infer_win;		/* librte_ipsec's window, for ESN */
	uint32_t mask;			/* words - 1 */
	uint64_t bits[];		/* a power of two of words, > W/64 */
};

/* An SA's use, shared by the workers that use it: lifetimes and queries. */
struct ipsec_sa_use {
	uint64_t packets;
	uint64_t bytes;
	uint64_t last_used;		/* unix seconds; 0: never */
	uint64_t mapping_last;		/* second of the last mapping event */
	uint16_t peer_port;		/* NAT-T: the remote's source port */
	uint8_t state;			/* enum ipsec_sa_state */
} __rte_cache_aligned;

enum ipsec_sa_state {
	SA_LIVE = 0,
	SA_SOFT_EXPIRED,
	SA_HARD_EXPIRED,		/* stopped: packets are dropped */
};

/*
 * An SA's slot in ipsec_ctx.sas.  The control thread creates an SA in a
 * free slot and then publishes it (in the SAD, or as an interface's
 * outbound SA); it deletes one by unpublishing it, waiting for an RCU
 * grace period and for the workers' crypto operations on it to come back,
 * and only then frees the slot.
 */
struct ipsec_sa {
	struct rte_ipsec_session ss;	/* ss.sa: librte_ipsec's object */
	bool used;			/* the slot holds an SA */
	uint8_t cur_family;		/* inner family the object is set to */
	bool locked;			/* several workers: take `lock` */
	rte_spinlock_t lock;
	bool outbound;
	bool cpu;			/* synchronous CPU crypto, else lookaside */
	bool replay_on;			/* inbound with a replay window */
	bool esn;
	struct replay_win *replay;	/* inbound with a window, else NULL */
	uint32_t idx;			/* index in ipsec_ctx.sas */
	uint32_t ifidx;			/* its interface */
	uint32_t gen;			/* tells apart SAs of one slot */
	uint32_t spi;
	uint32_t reqid;
	/* lifetimes: 0 is no limit; checked once per group of packets */
	bool limited;
	uint64_t soft_packets, soft_bytes, hard_packets, hard_bytes;
	uint64_t added;			/* unix seconds */
	uint64_t seq_base;		/* outbound: the seq it started after */
	rte_be16_t natt_dport;		/* outbound NAT-T: the remote's port */
	/* outbound over IPv4: the unfolded one's complement sum of the outer
	 * header's fixed words (the template with TOS, length, ID, flags
	 * and checksum zero), so that the checksum is made without reading
	 * the header back */
	uint32_t outer_sum;
	struct ipsec_sa_use use;
	struct cfg_addr src;
	struct cfg_addr dst;
	/* ESP geometry, for checks made before librte_ipsec sees a packet */
	uint8_t iv_len;
	uint8_t icv_len;
	uint8_t align;
	uint8_t sqh_len;		/* 4 with ESN on inbound */
	void *crypto_ses;
	/* bytes of the SA object to switch between inner IPv4 and IPv6 */
	uint8_t ndiff;
	uint16_t diff_ofs[IPSEC_FAMILY_DIFF_MAX];
	uint8_t diff_val[2][IPSEC_FAMILY_DIFF_MAX];	/* [0] v4, [1] v6 */
};

/*
 * An interface as the workers see it.  It is never changed in place: the
 * control thread publishes a changed copy in ipsec_ctx.ifp[] and frees the
 * old one after a grace period, so a worker reads one consistent version
 * for a whole group of packets.
 */
struct ipsec_iface {
	char name[CFG_NAME_MAX];
	uint32_t idx;
	bool has_tunnel;
	uint32_t reqid;
	int family;			/* outer */
	uint8_t local[16];
	uint8_t remote[16];
	bool nat_t;
	bool ecn;
	bool ipv6;
	enum cfg_df df;
	/* the largest inner packet; with mtu_auto the control thread keeps
	 * it (in place) at the port's MTU less the outbound SA's overhead */
	uint16_t mtu;
	bool mtu_auto;
	struct ipsec_sa *out;		/* NULL: no outbound SA */
};

/* What workers write about an interface. */
struct ipsec_ifstate {
	uint64_t acquire_last;		/* second of the last acquire event */
} __rte_cache_aligned;

/* Free slots: a bitmap, and the lowest slot that may be free, so that a
 * new object takes the lowest free slot (as a scan did) in O(1) when
 * slots are taken in order and O(slots / 64) at worst. */
struct ipsec_slots {
	uint64_t *used;
	uint32_t n;			/* slots */
	uint32_t hint;			/* no free slot below */
	uint32_t hwm;			/* no used slot at or above */
};

struct ipsec_ctx {
	struct ipsec_iface **ifp;	/* max_if; RCU; NULL: free slot */
	struct ipsec_ifstate *ifstate;	/* max_if */
	unsigned int nifs;		/* interfaces */
	struct ipsec_sa *sas;		/* max_sa slots */
	unsigned int nsas;		/* SAs */
	uint32_t max_if;
	uint32_t max_sa;
	struct ipsec_slots if_slots;
	struct ipsec_slots sa_slots;
	/* the control thread's lookups (workers use ifp[] and the SAD) */
	struct cfg_ix if_by_name;	/* name -> ifp[] index */
	struct cfg_ix sa_by_key;	/* (spi, dst) -> sas[] index */
	uint32_t gen;
	struct rte_hash *sad;		/* (spi, family, dst) -> ipsec_sa */
	/* changes after an SA leaves or enters the SAD (workers' caches) */
	uint32_t sad_gen;
	/* crypto */
	uint8_t dev_id;
	bool cpu;			/* CPU crypto allowed and available */
	char dev_name[64];
	struct rte_mempool *sess_pool;
	struct rte_mempool *cop_pool;	/* lookaside: crypto ops */
	uint16_t nb_qp;
};

/*
 * What a packet carries across the crypto step (which, in lookaside mode,
 * returns it later and in another burst): an mbuf dynamic field.
 */
struct ipsec_meta {
	uint8_t tos;		/* outbound: inner DSCP+ECN; inbound: outer ECN */
	uint8_t df;		/* outbound: bit 0 inner DF, bit 7 inner IPv6 */
	uint16_t inner_len;	/* outbound: the IP packet sealed */
	uint32_t ifidx;
	uint32_t seq;		/* inbound: ESP sequence number (low 32 bits) */
	uint16_t sport;		/* inbound NAT-T: the outer UDP source port */
	/* a packet handed to or from the control thread (enum dp_punt) */
	uint8_t punt;
	uint8_t punt_code;	/* PUNT_ICMP: enum icmp_kind */
	uint16_t punt_arg;	/* PUNT_RESOLVE: the port; PUNT_ICMP: MTU */
};

extern int ipsec_meta_offset;

static inline struct ipsec_meta *
ipsec_meta(struct rte_mbuf *m)
{
	return RTE_MBUF_DYNFIELD(m, ipsec_meta_offset, struct ipsec_meta *);
}

/* Two addresses of a family; the sizes are constants so that the compares
 * are a load or two, not a call. */
static inline bool
ipsec_addr_eq(const void *a, const void *b, int family)
{
	return family == AF_INET ? memcmp(a, b, 4) == 0 : memcmp(a, b, 16) == 0;
}

struct sad_key {
	uint32_t spi;			/* host order */
	uint8_t family;
	uint8_t pad[3];
	uint8_t dst[16];
};
/*
 * A worker's cache of SAD lookups, direct-mapped, like the neighbor
 * cache (neigh.h): a slot is good while its gen is the SAD's, which
 * changes after an SA is taken out (it is freed only after a grace period
 * after that) or put in.  Traffic of a few tunnels interleaved hits it
 * where a one-entry memo would miss at every packet.
 */
#define SAD_CACHE_SIZE 1024		/* a power of two */

struct sad_cache {
	struct {
		uint32_t w[6];		/* spi (as on the wire), family, dst */
		uint32_t gen;		/* 0: empty (sad_gen starts at 1) */
		struct ipsec_sa *sa;
	} slot[SAD_CACHE_SIZE];
};


struct dp;
struct dp_lcore;
struct burst;

/* crypto.c APIs: */
int crypto_setup(struct dp *dp, const struct cfg *cfg, struct cfg_err *err);
/* Crypto transforms of an SA; x[] must have room for 2. */
int crypto_xforms(const struct cfg_sa *sa, bool outbound, bool esn,
		  struct rte_crypto_sym_xform x[2]);
int crypto_check(const struct ipsec_ctx *ic, const struct cfg_sa *sa,
		 struct cfg_err *err);
void crypto_close(struct dp *dp);

/* ipsec_if.c APIs: */
/* The SA tables (dp->max_if, dp->max_sa), each worker's counters of
 * them, and the crypto device. */
int ipsec_init(struct dp *dp, const struct cfg *cfg, struct cfg_err *err);
void ipsec_free(struct dp *dp);
int ipsec_rcu_attach(struct dp *dp);
struct ipsec_sa *ipsec_sad_lookup(const struct ipsec_ctx *ic, uint32_t spi,
				  int family, const void *dst);
/* A SAD cache key as words, and its slot. */
static inline uint32_t
sad_cache_key(uint32_t w[6], rte_be32_t spi, int family, const uint8_t *dst)
{
	w[0] = spi;
	w[1] = (uint32_t)family;
	if (family == AF_INET) {
		memcpy(&w[2], dst, 4);
		w[3] = w[4] = w[5] = 0;
	} else {
		memcpy(&w[2], dst, 16);
	}
	return ((w[0] ^ w[2] ^ w[3] ^ w[4] ^ w[5]) * 0x9e3779b1u) >>
	       (32 - __builtin_ctz(SAD_CACHE_SIZE));
}

/* ipsec_sad_lookup through a worker's cache; spi as on the wire. */
static inline struct ipsec_sa *
ipsec_sad_lookup_cached(const struct ipsec_ctx *ic, struct sad_cache *c,
			rte_be32_t spi, int family, const uint8_t *dst)
{
	uint32_t w[6], h, gen;
	struct ipsec_sa *sa;

	h = sad_cache_key(w, spi, family, dst);
	gen = __atomic_load_n(&ic->sad_gen, __ATOMIC_ACQUIRE);
	if (likely(c->slot[h].gen == gen && c->slot[h].w[0] == w[0] &&
		   c->slot[h].w[1] == w[1] && c->slot[h].w[2] == w[2] &&
		   c->slot[h].w[3] == w[3] && c->slot[h].w[4] == w[4] &&
		   c->slot[h].w[5] == w[5]))
		return c->slot[h].sa;
	sa = ipsec_sad_lookup(ic, rte_be_to_cpu_32(spi), family, dst);
	if (sa != NULL) {
		memcpy(c->slot[h].w, w, sizeof(w));
		c->slot[h].gen = gen;
		c->slot[h].sa = sa;
	}
	return sa;
}

/*
 * Look n SAs up at once (rte_hash's bulk lookup overlaps the misses of
 * cold buckets), put what is found in the worker's cache and prefetch
 * each SA: for bursts spread over many tunnels, before the packets are
 * looked at one by one.  spi as on the wire; n <= DP_BURST.
 */
void ipsec_sad_warm(const struct ipsec_ctx *ic, struct sad_cache *c,
		    const rte_be32_t *spi, const uint8_t *family,
		    const uint8_t *const *dst, unsigned int n);

/* The interface a worker sees at ifidx (NULL: deleted). */
static inline const struct ipsec_iface *
ipsec_iface_get(const struct ipsec_ctx *ic, uint32_t ifidx)
{
	return __atomic_load_n(&ic->ifp[ifidx], __ATOMIC_ACQUIRE);
}

/*
 * Prefetch what processing a group of an SA reads: the SA (all of it:
 * its fields are spread over several lines), librte_ipsec's object and
 * the crypto session (the key schedule).  For bursts that spread over
 * many tunnels, where each group's state is cold and its misses would
 * otherwise come one after another.
 */
#define IPSEC_PREFETCH_SES_LINES 16

static inline void
ipsec_sa_prefetch(const struct ipsec_sa *s)
{
	const char *p = (const char *)s, *o = (const char *)s->ss.sa;
	const char *k = (const char *)s->crypto_ses;
	unsigned int i;

	for (i = 0; i < sizeof(*s); i += RTE_CACHE_LINE_SIZE)
		rte_prefetch0(p + i);
	for (i = 0; i < 4; i++)
		rte_prefetch0(o + i * RTE_CACHE_LINE_SIZE);
	for (i = 0; k != NULL && i < IPSEC_PREFETCH_SES_LINES; i++)
		rte_prefetch0(k + i * RTE_CACHE_LINE_SIZE);
}

/* Control thread: interfaces (a validated cfg entry) and SAs. */
int ipsec_iface_add(struct dp *dp, const struct cfg_interface *c);
/* Publish a changed copy; the tunnel and nat-t of an interface with SAs
 * do not change (the caller checks). */
/* Recompute the MTU of `mtu: auto` interfaces (after route, port or SA
 * changes).  An SA change recomputes its own interface's (iface_set_out). */
void ipsec_iface_mtu_refresh(struct dp *dp);
/* Only those whose tunnel's remote is in p (a route to p changed). */
void ipsec_iface_mtu_refresh_in(struct dp *dp, const struct cfg_prefix *p);
/* The MTU `mtu: auto` gives f now. */
uint16_t ipsec_iface_auto_mtu(const struct dp *dp, const struct ipsec_iface *f);
int ipsec_iface_update(struct dp *dp, uint32_t ifidx,
		       const struct cfg_interface *c);
/* Only an interface without SAs. */
void ipsec_iface_del(struct dp *dp, uint32_t ifidx);
int ipsec_iface_find(const struct ipsec_ctx *ic, const char *name);
/*
 * Create an SA from a validated entry in a free slot, not yet used by any
 * worker; then publish it (which may make it its interface's outbound
 * SA).  *out is the slot.
 */
int ipsec_sa_create(struct dp *dp, const struct cfg_sa *c, bool mode_cpu,
		    struct ipsec_sa **out, struct cfg_err *err);
int ipsec_sa_publish(struct dp *dp, struct ipsec_sa *s);
/* Free an SA that is created but not published. */
void ipsec_sa_discard(struct dp *dp, struct ipsec_sa *s);
/* Unpublish, wait until no worker can hold it, free. */
void ipsec_sa_delete(struct dp *dp, struct ipsec_sa *s);
/* s (outbound) stops being used: its interface takes its newest other
 * outbound SA, or none. */
void ipsec_sa_publish_other(struct dp *dp, struct ipsec_sa *s);
void ipsec_sa_set_lifetime(struct ipsec_sa *s, const struct cfg_lifetime *soft,
			   const struct cfg_lifetime *hard);
/* NAT-T: where an outbound SA sends, whence an inbound SA expects (0: 4500). */
void ipsec_sa_set_natt_port(struct ipsec_sa *s, uint16_t port);
struct ipsec_sa *ipsec_sa_find(const struct ipsec_ctx *ic, uint32_t spi,
			       const struct cfg_addr *dst);
/* Switch an SA object to an inner family (AF_INET or AF_INET6). */
static inline void
ipsec_sa_set_family(struct ipsec_sa *s, uint8_t family)
{
	uint8_t *o = (uint8_t *)s->ss.sa;
	unsigned int i, v = family == AF_INET6;

	if (s->cur_family == family)
		return;
	for (i = 0; i < s->ndiff; i++)
		o[s->diff_ofs[i]] = s->diff_val[v][i];
	s->cur_family = family;
}

/*
 * Account a group of packets to an SA: last use, and its lifetimes when
 * it has any (an atomic add per group, shared by the workers using it).
 * Crossing a limit changes the SA's state and posts one event.
 */
void ipsec_sa_limit_hit(struct dp_lcore *lc, struct ipsec_sa *s,
			uint64_t packets, uint64_t bytes);

static inline void
ipsec_sa_use(struct dp_lcore *lc, struct ipsec_sa *s, uint64_t now,
	     uint32_t packets, uint64_t bytes)
{
	uint64_t p, b;

	if (s->use.last_used != now)
		s->use.last_used = now;
	if (likely(!s->limited))
		return;
	p = __atomic_add_fetch(&s->use.packets, packets, __ATOMIC_RELAXED);
	b = __atomic_add_fetch(&s->use.bytes, bytes, __ATOMIC_RELAXED);
	if ((s->soft_packets && p >= s->soft_packets) ||
	    (s->soft_bytes && b >= s->soft_bytes) ||
	    (s->hard_packets && p >= s->hard_packets) ||
	    (s->hard_bytes && b >= s->hard_bytes))
		ipsec_sa_limit_hit(lc, s, p, b);
}

#endif /* IPSECGW_IPSEC_H */

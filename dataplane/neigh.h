/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The neighbor table: (port, IP address) -> link-layer address.
 *
 * Static entries come from the configuration and the control socket; the
 * control thread learns the others with ARP and ND (local.c), and ages
 * them.  Only resolved entries are here: what is being resolved waits in
 * local.c, and a worker never sees a half-made entry.  The hash is created for
 * lock-free concurrent reads, so that the control thread can add and
 * delete entries while workers look them up (deletes wait for an RCU
 * grace period once neigh_rcu_attach has been called).
 */
#ifndef IPSECGW_NEIGH_H
#define IPSECGW_NEIGH_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_ether.h>

/* Twenty bytes, read and written as five 32-bit words (neigh_key_make). */
struct neigh_key {
	uint16_t port;
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t pad;		/* zero: the key is hashed as bytes */
	uint8_t addr[16];	/* IPv4 in addr[0..3], rest zero */
};

struct neigh_entry {
	struct neigh_key key;
	struct rte_ether_addr lladdr;
	bool is_static;
	uint8_t probes;		/* unanswered probes since `confirmed` */
	uint64_t confirmed;	/* unix seconds of the last word from it */
	/* the last second a worker sent through it; written only when it
	 * changes, so once a second at most */
	uint64_t used;
};

/*
 * The table.  `gen` changes when an entry is deleted, so that a worker's
 * cache (below) never hands out an entry that may have been reused.
 */
struct neigh_table {
	struct rte_hash *h;
	struct neigh_entry *entries;
	uint32_t *free_idx;		/* stack of unused entries */
	uint32_t nfree;
	uint32_t max;
	bool rcu;
	struct rte_rcu_qsbr *v;
	uint32_t gen;
};

/*
 * A worker's cache of lookups, direct-mapped: what a burst asks for is
 * nearly always what the last one asked for, and a hit costs a few
 * compares instead of rte_hash's jhash and bucket walk.  A slot is good
 * while its `gen` is the table's: a delete bumps that after taking the
 * entry out, and the entry is reused only after a grace period after
 * the bump, which the worker cannot pass while it holds the pointer.  Entries changed in place (a new link-layer address)
 * need no invalidation: the worker reads the entry itself.
 */
#define NEIGH_CACHE_SIZE 256		/* a power of two */

struct neigh_cache {
	struct {
		uint32_t w[5];		/* the key, as neigh_key_make lays it */
		uint32_t gen;		/* 0: empty (the table's starts at 1) */
		const struct neigh_entry *e;
	} slot[NEIGH_CACHE_SIZE];
};

struct rte_rcu_qsbr;

/* neigh.c APIs: */
struct neigh_table *neigh_table_create(const char *name, uint32_t max,
				       int socket);
void neigh_table_free(struct neigh_table *t);
/* A key as five 32-bit words, the layout of struct neigh_key. */
static inline void
neigh_key_words(uint32_t w[5], uint16_t port, int family, const void *addr)
{
#if RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN
	w[0] = (uint32_t)port | (uint32_t)(uint8_t)family << 16;
#else
	w[0] = (uint32_t)port << 16 | (uint32_t)(uint8_t)family << 8;
#endif
	if (family == AF_INET) {
		memcpy(&w[1], addr, 4);
		w[2] = w[3] = w[4] = 0;
	} else {
		memcpy(&w[1], addr, 16);
	}
}

static inline void
neigh_key_make(struct neigh_key *k, uint16_t port, int family,
	       const void *addr)
{
	uint32_t w[5];

	neigh_key_words(w, port, family, addr);
	memcpy(k, w, sizeof(w));
}

/* Add or replace.  Return 0, or a negative errno. */
int neigh_add(struct neigh_table *t, const struct neigh_key *k,
	      const struct rte_ether_addr *lladdr, bool is_static);
int neigh_del(struct neigh_table *t, const struct neigh_key *k);
/* A link-layer address learned at `now`: add or update, unless a static
 * entry holds the address (-EEXIST).  Control thread only. */
int neigh_learn(struct neigh_table *t, const struct neigh_key *k,
		const struct rte_ether_addr *lladdr, uint64_t now);
/* NULL when absent.  Safe from a worker. */
const struct neigh_entry *neigh_lookup(const struct neigh_table *t,
				       const struct neigh_key *k);
uint32_t neigh_count(const struct neigh_table *t);

/*
 * neigh_lookup through a worker's cache, by port, family and address (the
 * key's words are made in registers: a key just stored and read back as
 * words would wait for the stores).
 */
static inline const struct neigh_entry *
neigh_lookup_cached(const struct neigh_table *t, struct neigh_cache *c,
		    uint16_t port, int family, const void *addr)
{
	uint32_t w[5], h, gen;
	const struct neigh_entry *e;
	struct neigh_key k;

	neigh_key_words(w, port, family, addr);
	h = ((w[0] ^ w[1] ^ w[2] ^ w[3] ^ w[4]) * 0x9e3779b1u) >>
	    (32 - __builtin_ctz(NEIGH_CACHE_SIZE));
	gen = __atomic_load_n(&t->gen, __ATOMIC_ACQUIRE);
	if (likely(c->slot[h].gen == gen && c->slot[h].w[0] == w[0] &&
		   c->slot[h].w[1] == w[1] && c->slot[h].w[2] == w[2] &&
		   c->slot[h].w[3] == w[3] && c->slot[h].w[4] == w[4]))
		return c->slot[h].e;
	memcpy(&k, w, sizeof(k));
	e = neigh_lookup(t, &k);
	if (e != NULL) {
		memcpy(c->slot[h].w, w, sizeof(w));
		c->slot[h].gen = gen;
		c->slot[h].e = e;
	}
	return e;
}
int neigh_rcu_attach(struct neigh_table *t, struct rte_rcu_qsbr *v);
/* Walk the entries: *next starts at 0; -ENOENT at the end.  Control
 * thread only. */
int neigh_iterate(const struct neigh_table *t, uint32_t *next,
		  const struct neigh_entry **e);

#endif /* IPSECGW_NEIGH_H */

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

#include <rte_ether.h>

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

struct neigh_table;
struct rte_rcu_qsbr;

/* neigh.c APIs: */
struct neigh_table *neigh_table_create(const char *name, uint32_t max,
				       int socket);
void neigh_table_free(struct neigh_table *t);
void neigh_key_make(struct neigh_key *k, uint16_t port, int family,
		    const void *addr);
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
int neigh_rcu_attach(struct neigh_table *t, struct rte_rcu_qsbr *v);
/* Walk the entries: *next starts at 0; -ENOENT at the end.  Control
 * thread only. */
int neigh_iterate(const struct neigh_table *t, uint32_t *next,
		  const struct neigh_entry **e);

#endif /* IPSECGW_NEIGH_H */

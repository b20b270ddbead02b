/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The FIB: IPv4 prefixes in a DIR-24-8 table of our own (route.c says
 * why not rte_lpm), IPv6 prefixes in rte_lpm6, both pointing at an index
 * into one table of next hops.
 *
 * Next hops are shared: every route "via 192.168.0.254 dev wan0" uses the
 * same entry, so that an LPM result is a small integer and a next hop
 * change touches one place.  Entries are reference counted by the routes
 * that use them, and found by value through a hash.
 *
 * fib_add and fib_del cost the same with ten routes or a million (no step
 * scans the table), so that a full table loads in a second or two and a
 * route request does not slow down as the table grows.
 */
#ifndef IPSECGW_ROUTE_H
#define IPSECGW_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "control/config.h"

enum nh_type {
	NH_CONNECTED = 1,	/* on-link: the destination is the neighbor */
	NH_VIA,			/* through a gateway on a port */
	NH_LOCAL,		/* one of the gateway's own addresses */
	NH_IFACE,		/* into an ipsec interface (`port` is its index) */
};

struct nexthop {
	uint8_t type;		/* enum nh_type */
	uint8_t family;		/* of `via` */
	uint32_t port;		/* ethdev port (CONNECTED, VIA); interface (IFACE) */
	uint8_t via[16];	/* gateway address (VIA) */
	uint32_t refs;		/* routes using this entry; 0 = free */
};

struct fib;
struct rte_rcu_qsbr;

/* route.c APIs: */
struct fib *fib_create(const char *name, uint32_t max_v4, uint32_t max_v6,
		       uint32_t max_nexthops, int socket);
void fib_free(struct fib *fib);
/*
 * Workers read while the control thread changes routes: from here on,
 * fib_add and fib_del leave every lookup seeing a prefix's old or new next
 * hop, and memory a reader may hold is reused only after a grace period
 * of v.  A change of an IPv6 prefix waits for one.
 */
int fib_rcu_attach(struct fib *fib, struct rte_rcu_qsbr *v);
/* Add or replace the route for a prefix.  Return 0 or a negative errno. */
int fib_add(struct fib *fib, const struct cfg_prefix *p,
	    const struct nexthop *nh);
int fib_del(struct fib *fib, const struct cfg_prefix *p);
/*
 * Bulk lookups for the fast path: nh[i] is the next hop of addrs[i], or
 * NULL without a route.  IPv4 addresses in host byte order.
 */
void fib_lookup4_bulk(const struct fib *fib, const uint32_t *addrs,
		      const struct nexthop **nh, unsigned int n);
void fib_lookup6_bulk(const struct fib *fib, uint8_t (*addrs)[16],
		      const struct nexthop **nh, unsigned int n);
/* One address (network byte order, AF_INET or AF_INET6): for the
 * control thread, and per group of packets. */
const struct nexthop *fib_lookup(const struct fib *fib, int family,
				 const uint8_t *addr);
uint32_t fib_nexthops_used(const struct fib *fib);

#endif /* IPSECGW_ROUTE_H */

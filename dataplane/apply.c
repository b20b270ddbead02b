/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Apply a validated configuration to the dataplane at start-up: ports,
 * static neighbors, and the FIB (connected prefixes, configured routes,
 * and the gateway's own addresses).  What only the running system can
 * check (does this ethdev exist) is reported against the file position of
 * the entry, like a parse error.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_ethdev.h>

#include "dataplane/dp.h"
#include "dataplane/ipsec.h"
#include "dataplane/neigh.h"
#include "dataplane/route.h"

#define FIB_MAX_V4 (1u << 20)
#define FIB_MAX_V6 (1u << 16)
#define FIB_MAX_NEXTHOPS (1u << 16)
#define NEIGH_MAX (1u << 16)

static const struct dp_port *
port_by_name(const struct dp *dp, const char *name)
{
	unsigned int i;

	for (i = 0; i < dp->nports; i++)
		if (strcmp(dp->ports[dp->port_list[i]].name, name) == 0)
			return &dp->ports[dp->port_list[i]];
	return NULL;
}

static int
iface_by_name(const struct dp *dp, const char *name)
{
	unsigned int i;

	for (i = 0; dp->ipsec != NULL && i < dp->ipsec->nifs; i++)
		if (strcmp(dp->ipsec->ifs[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void
prefix_mask(struct cfg_prefix *p)
{
	unsigned int bits = p->addr.family == AF_INET ? 32 : 128, i;

	for (i = p->len; i < bits; i++)
		p->addr.a[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
}

static int
apply_neighbors(struct dp *dp, const struct cfg *cfg, struct cfg_err *err)
{
	struct neigh_key k;
	size_t i;
	int rc;

	for (i = 0; i < cfg->nneighbors; i++) {
		const struct cfg_neighbor *n = &cfg->neighbors[i];
		const struct dp_port *p = port_by_name(dp, n->dev);
		struct rte_ether_addr ll;

		if (p == NULL)
			continue;	/* the port's own error is reported */
		memcpy(ll.addr_bytes, n->lladdr, sizeof(ll.addr_bytes));
		neigh_key_make(&k, p->port_id, n->addr.family, n->addr.a);
		rc = neigh_add(dp->neigh, &k, &ll, true);
		if (rc != 0)
			cfg_errorf(err, &n->pos, "neighbor: cannot add: %s",
				   strerror(-rc));
	}
	return 0;
}

static void
route_add(struct dp *dp, const struct cfg_prefix *p, const struct nexthop *nh,
	  const struct cfg_pos *pos, struct cfg_err *err)
{
	char buf[64];
	int rc = fib_add(dp->fib, p, nh);

	if (rc != 0)
		cfg_errorf(err, pos, "route %s/%u: cannot add: %s",
			   cfg_addr_str(&p->addr, buf, sizeof(buf)), p->len,
			   strerror(-rc));
}

/* A /32 or /128 `local` route for each address of a port or interface. */
static void
local_hosts(struct dp *dp, const struct cfg_prefix *addrs, unsigned int n,
	    const struct cfg_pos *pos, struct cfg_err *err)
{
	struct nexthop nh = { .type = NH_LOCAL };
	unsigned int j;

	for (j = 0; j < n; j++) {
		struct cfg_prefix host = addrs[j];

		host.len = host.addr.family == AF_INET ? 32 : 128;
		route_add(dp, &host, &nh, pos, err);
	}
}

static int
apply_routes(struct dp *dp, const struct cfg *cfg, struct cfg_err *err)
{
	struct nexthop nh;
	size_t i;
	unsigned int j;

	/* Connected prefixes first, so that a configured route can
	 * override one; own addresses last, so that nothing can. */
	for (i = 0; i < cfg->nports; i++) {
		const struct cfg_port *cp = &cfg->ports[i];
		const struct dp_port *p = port_by_name(dp, cp->name);

		if (p == NULL)
			continue;
		for (j = 0; j < cp->naddrs; j++) {
			struct cfg_prefix pfx = cp->addrs[j];

			memset(&nh, 0, sizeof(nh));
			nh.type = NH_CONNECTED;
			nh.port = p->port_id;
			prefix_mask(&pfx);
			route_add(dp, &pfx, &nh, &cp->pos, err);
		}
	}
	for (i = 0; i < cfg->nroutes; i++) {
		const struct cfg_route *r = &cfg->routes[i];
		const struct dp_port *p = port_by_name(dp, r->dev);
		int ifidx = iface_by_name(dp, r->dev);

		memset(&nh, 0, sizeof(nh));
		if (ifidx >= 0) {
			nh.type = NH_IFACE;
			nh.port = (uint16_t)ifidx;
			route_add(dp, &r->prefix, &nh, &r->pos, err);
			continue;
		}
		if (p == NULL)
			continue;	/* its port's error is reported */
		nh.port = p->port_id;
		if (r->has_via) {
			nh.type = NH_VIA;
			nh.family = r->via.family;
			memcpy(nh.via, r->via.a, sizeof(nh.via));
		} else {
			nh.type = NH_CONNECTED;
		}
		route_add(dp, &r->prefix, &nh, &r->pos, err);
	}
	/*
	 * An interface's peer is reached through it, as with ifconfig's
	 * "inet ADDR PEER" (unless a configured route says otherwise).
	 */
	for (i = 0; i < cfg->ninterfaces; i++) {
		const struct cfg_interface *ci = &cfg->interfaces[i];
		struct cfg_prefix peer;
		bool listed;
		size_t r;

		if (!ci->has_peer)
			continue;
		peer.addr = ci->peer;
		peer.len = ci->peer.family == AF_INET ? 32 : 128;
		listed = false;
		for (r = 0; r < cfg->nroutes; r++)
			if (cfg->routes[r].prefix.len == peer.len &&
			    cfg_addr_eq(&cfg->routes[r].prefix.addr, &peer.addr))
				listed = true;
		if (listed)
			continue;
		memset(&nh, 0, sizeof(nh));
		nh.type = NH_IFACE;
		nh.port = (uint16_t)iface_by_name(dp, ci->name);
		route_add(dp, &peer, &nh, &ci->pos, err);
	}
	/* own addresses: the ports' and the interfaces' inner ones */
	for (i = 0; i < cfg->nports; i++)
		local_hosts(dp, cfg->ports[i].addrs, cfg->ports[i].naddrs,
			    &cfg->ports[i].pos, err);
	for (i = 0; i < cfg->ninterfaces; i++)
		local_hosts(dp, cfg->interfaces[i].addrs,
			    cfg->interfaces[i].naddrs, &cfg->interfaces[i].pos,
			    err);
	return 0;
}

int
dp_apply(struct dp *dp, const struct cfg *cfg, struct cfg_err *err)
{
	unsigned int before = err->count;

	if (dp_ports_setup(dp, cfg, err) != 0)
		return -1;
	if (ipsec_apply(dp, cfg, err) != 0)
		return -1;
	dp->fib = fib_create("fib", FIB_MAX_V4, FIB_MAX_V6, FIB_MAX_NEXTHOPS,
			     (int)rte_socket_id());
	dp->neigh = neigh_table_create("neigh", NEIGH_MAX,
				       (int)rte_socket_id());
	if (dp->fib == NULL || dp->neigh == NULL) {
		fprintf(stderr, "ipsecgw: cannot allocate the FIB and neighbor tables: %s\n",
			rte_strerror(rte_errno));
		err->count++;
		return -1;
	}
	apply_neighbors(dp, cfg, err);
	apply_routes(dp, cfg, err);
	return err->count == before ? 0 : -1;
}

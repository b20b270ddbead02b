/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Start-up: the ports, the tables and the crypto device, which do not
 * change while the gateway runs; then RCU and the event ring, once the
 * workers are known.  Everything else (interfaces, SAs, routes,
 * neighbors) is applied by ctl.c, at start-up as for every later change.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_malloc.h>

#include "dataplane/dp.h"
#include "dataplane/ipsec.h"
#include "dataplane/local.h"
#include "dataplane/neigh.h"
#include "dataplane/route.h"

#define FIB_MAX_V4 (1u << 20)
#define FIB_MAX_V6 (1u << 16)
#define FIB_MAX_NEXTHOPS (1u << 16)
#define NEIGH_MAX (1u << 16)
#define EVENTS_MAX 4096

int
dp_setup(struct dp *dp, const struct cfg *cfg, struct cfg_err *err)
{
	if (dp_ports_setup(dp, cfg, err) != 0)
		return -1;
	if (ipsec_init(dp, cfg, err) != 0)
		return -1;
	/* every ipsec interface a route points into is a next hop of its own */
	dp->fib = fib_create("fib", FIB_MAX_V4, FIB_MAX_V6,
			     FIB_MAX_NEXTHOPS + dp->max_if,
			     (int)rte_socket_id());
	dp->neigh = neigh_table_create("neigh", NEIGH_MAX,
				       (int)rte_socket_id());
	if (dp->fib == NULL || dp->neigh == NULL) {
		fprintf(stderr, "ipsecgw: cannot allocate the FIB and neighbor tables: %s\n",
			rte_strerror(rte_errno));
		err->count++;
		return -1;
	}
	return 0;
}

int
dp_rcu_setup(struct dp *dp)
{
	size_t sz = rte_rcu_qsbr_get_memsize(dp->nworkers);

	dp->qsbr = rte_zmalloc("qsbr", sz, RTE_CACHE_LINE_SIZE);
	if (dp->qsbr == NULL || rte_rcu_qsbr_init(dp->qsbr, dp->nworkers) != 0)
		return -ENOMEM;
	dp->events = rte_ring_create_elem("events", sizeof(struct dp_event),
					  EVENTS_MAX, (int)rte_socket_id(),
					  RING_F_SC_DEQ);
	if (dp->events == NULL || local_create(dp) == NULL)
		return -ENOMEM;
	if (fib_rcu_attach(dp->fib, dp->qsbr) != 0 ||
	    neigh_rcu_attach(dp->neigh, dp->qsbr) != 0 ||
	    ipsec_rcu_attach(dp) != 0)
		return -EINVAL;
	return 0;
}

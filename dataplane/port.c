/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ports: resolve the configuration's ports to ethdevs, size the mbuf pool,
 * configure queues, and spread the rx queues over the workers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dataplane/dp.h"

#define RX_DESC 1024
#define TX_DESC 1024
#define POOL_CACHE 256

static int
port_resolve(struct dp *dp, const struct cfg_port *cp, struct cfg_err *err,
	     uint16_t *id)
{
	uint16_t pid;

	if (cp->devname[0] != '\0') {
		if (rte_eth_dev_get_port_by_name(cp->devname, &pid) != 0) {
			cfg_errorf(err, &cp->pos,
				   "port %s: no ethdev named '%s' (%u ports present)",
				   cp->name, cp->devname,
				   rte_eth_dev_count_avail());
			return -1;
		}
	} else {
		if (cp->port_id < 0 || cp->port_id >= RTE_MAX_ETHPORTS ||
		    !rte_eth_dev_is_valid_port((uint16_t)cp->port_id)) {
			cfg_errorf(err, &cp->pos,
				   "port %s: no ethdev with port id %d (%u ports present)",
				   cp->name, cp->port_id,
				   rte_eth_dev_count_avail());
			return -1;
		}
		pid = (uint16_t)cp->port_id;
	}
	if (dp->ports[pid].used) {
		cfg_errorf(err, &cp->pos,
			   "port %s: ethdev %u is already used by port %s",
			   cp->name, pid, dp->ports[pid].name);
		return -1;
	}
	*id = pid;
	return 0;
}

static unsigned int
pool_size_for(const struct dp *dp)
{
	unsigned int need = 0, size = 8191, i;

	for (i = 0; i < dp->nports; i++) {
		const struct dp_port *p = &dp->ports[dp->port_list[i]];

		need += p->nb_rxq * RX_DESC + p->nb_txq * TX_DESC;
	}
	/* per worker: one rx burst and a tx buffer per port, plus caches */
	need += dp->nworkers * (DP_BURST * (dp->nports + 1) + POOL_CACHE);
	need += POOL_CACHE;	/* the main lcore's cache */
	/* --mbufs: more, for what holds mbufs for long (net_pcap's
	 * infinite_rx keeps its whole pcap in the pool) */
	need += dp->nb_mbufs;
	while (size < need)
		size = size * 2 + 1;
	return size;
}

static int
port_configure(struct dp *dp, struct dp_port *p, const struct cfg_port *cp,
	       struct cfg_err *err)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	uint16_t nrx = RX_DESC, ntx = TX_DESC, q;
	int rc, socket;

	rc = rte_eth_dev_info_get(p->port_id, &info);
	if (rc != 0)
		goto fail;
	memset(&conf, 0, sizeof(conf));
	if (p->nb_rxq > 1) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			RTE_ETH_RSS_IP & info.flow_type_rss_offloads;
	}
	rc = rte_eth_dev_configure(p->port_id, p->nb_rxq, p->nb_txq, &conf);
	if (rc != 0)
		goto fail;
	if (cp->mtu != 0) {
		rc = rte_eth_dev_set_mtu(p->port_id, cp->mtu);
		/* A device without MTU control still gets our MTU check. */
		if (rc != 0 && rc != -ENOTSUP) {
			cfg_errorf(err, &cp->pos,
				   "port %s: cannot set MTU %u: %s", cp->name,
				   cp->mtu, rte_strerror(-rc));
			return -1;
		}
		p->mtu = cp->mtu;
	} else if (rte_eth_dev_get_mtu(p->port_id, &p->mtu) != 0) {
		p->mtu = RTE_ETHER_MTU;
	}
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &nrx, &ntx);
	if (rc != 0)
		goto fail;
	socket = rte_eth_dev_socket_id(p->port_id);
	if (socket < 0)
		socket = (int)rte_socket_id();
	for (q = 0; q < p->nb_rxq; q++) {
		rc = rte_eth_rx_queue_setup(p->port_id, q, nrx, socket, NULL,
					    dp->pool);
		if (rc != 0)
			goto fail;
	}
	for (q = 0; q < p->nb_txq; q++) {
		rc = rte_eth_tx_queue_setup(p->port_id, q, ntx, socket, NULL);
		if (rc != 0)
			goto fail;
	}
	rte_eth_macaddr_get(p->port_id, &p->mac);
	return 0;
fail:
	cfg_errorf(err, &cp->pos, "port %s: cannot configure ethdev %u: %s",
		   cp->name, p->port_id, rte_strerror(rc < 0 ? -rc : rc));
	return -1;
}

/* Round-robin every (port, rx queue) over the workers. */
static int
ports_assign(struct dp *dp)
{
	unsigned int i, k = 0, w;
	uint16_t q;

	for (i = 0; i < dp->nports; i++) {
		struct dp_port *p = &dp->ports[dp->port_list[i]];

		for (q = 0; q < p->nb_rxq; q++, k++) {
			struct dp_lcore *lc = dp->lc[k % dp->nworkers];

			if (lc->nrxq == DP_MAX_RXQ_PER_LCORE)
				return -ENOSPC;
			lc->rxq[lc->nrxq].port = p->port_id;
			lc->rxq[lc->nrxq].queue = q;
			lc->nrxq++;
		}
		for (w = 0; w < dp->nworkers; w++)
			dp->lc[w]->txq[p->port_id] = w % p->nb_txq;
		p->txq_shared = p->nb_txq < dp->nworkers;
		for (q = 0; q < p->nb_txq; q++)
			rte_spinlock_init(&p->txq_lock[q]);
	}
	return 0;
}

int
dp_ports_setup(struct dp *dp, const struct cfg *cfg, struct cfg_err *err)
{
	struct rte_eth_dev_info info;
	unsigned int before = err->count;
	size_t i;

	for (i = 0; i < cfg->nports; i++) {
		const struct cfg_port *cp = &cfg->ports[i];
		struct dp_port *p;
		uint16_t pid;

		if (port_resolve(dp, cp, err, &pid) != 0)
			continue;
		p = &dp->ports[pid];
		memset(p, 0, sizeof(*p));
		p->used = true;
		p->port_id = pid;
		snprintf(p->name, sizeof(p->name), "%s", cp->name);
		rte_eth_dev_get_name_by_port(pid, p->device);
		if (rte_eth_dev_info_get(pid, &info) != 0) {
			cfg_errorf(err, &cp->pos, "port %s: no device info",
				   cp->name);
			continue;
		}
		p->nb_rxq = RTE_MIN(dp->nworkers, info.max_rx_queues);
		p->nb_txq = RTE_MIN(dp->nworkers, info.max_tx_queues);
		if (p->nb_rxq == 0 || p->nb_txq == 0) {
			cfg_errorf(err, &cp->pos, "port %s: device has no queues",
				   cp->name);
			continue;
		}
		dp->port_list[dp->nports++] = pid;
	}
	if (err->count != before)
		return -1;

	dp->pool_size = pool_size_for(dp);
	dp->pool = rte_pktmbuf_pool_create("mbufs", dp->pool_size, POOL_CACHE,
					   0, RTE_MBUF_DEFAULT_BUF_SIZE,
					   (int)rte_socket_id());
	if (dp->pool == NULL) {
		fprintf(stderr, "ipsecgw: cannot create a pool of %u mbufs: %s\n",
			dp->pool_size, rte_strerror(rte_errno));
		err->count++;
		return -1;
	}
	/* Baseline for the exit check: every mbuf must come back. */
	dp->pool_avail_start = rte_mempool_avail_count(dp->pool);

	/* port_list follows cfg->ports, one for one, after the loop above */
	for (i = 0; i < cfg->nports; i++) {
		if (port_configure(dp, &dp->ports[dp->port_list[i]],
				   &cfg->ports[i], err) != 0)
			return -1;
	}
	if (ports_assign(dp) != 0) {
		fprintf(stderr, "ipsecgw: too many rx queues for %u workers\n",
			dp->nworkers);
		err->count++;
		return -1;
	}
	return 0;
}

int
dp_ports_start(struct dp *dp)
{
	unsigned int i;
	int rc;

	for (i = 0; i < dp->nports; i++) {
		struct dp_port *p = &dp->ports[dp->port_list[i]];

		rc = rte_eth_dev_start(p->port_id);
		if (rc != 0) {
			fprintf(stderr, "ipsecgw: port %s: cannot start: %s\n",
				p->name, rte_strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/*
 * Stopping and closing hands every mbuf a device holds back to the pool
 * (and makes net_pcap flush its output file).
 */
void
dp_ports_close(struct dp *dp)
{
	unsigned int i;

	for (i = 0; i < dp->nports; i++) {
		uint16_t pid = dp->port_list[i];

		dp_port_hw(&dp->ports[pid]);
		dp->ports[pid].closed = true;
		rte_eth_dev_stop(pid);
		rte_eth_dev_close(pid);
	}
}

void
dp_port_hw(struct dp_port *p)
{
	struct rte_eth_stats st;

	if (p->closed || rte_eth_stats_get(p->port_id, &st) != 0)
		return;
	p->hw_missed = st.imissed;
	p->hw_errors = st.ierrors;
	p->hw_nombuf = st.rx_nombuf;
}

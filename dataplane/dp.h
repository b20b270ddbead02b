/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dataplane's state: ports, tables, and the per-lcore contexts of the
 * workers.  One struct dp per process, built by the main thread before the
 * workers start.
 */
#ifndef IPSECGW_DP_H
#define IPSECGW_DP_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_spinlock.h>

#include "control/config.h"
#include "dataplane/counters.h"
#include "dataplane/ipsec.h"
#include "dataplane/neigh.h"

#define DP_BURST 32
#define DP_MAX_PORTS RTE_MAX_ETHPORTS
#define DP_MAX_RXQ_PER_LCORE 64

struct neigh_table;
struct local;
struct fib;
struct rte_rcu_qsbr;
struct rte_ring;

/*
 * What a worker tells the control thread (through dp.events, which never
 * blocks a worker: when full, the event is counted as lost).
 */
enum dp_event_type {
	DP_EV_SA_EXPIRE = 1,	/* idx/gen; kind: bit 0 hard, bit 1 bytes */
	DP_EV_ACQUIRE,		/* idx = interface; family, src, dst */
	DP_EV_MAPPING,		/* idx/gen; port_old, port_new */
};

struct dp_event {
	uint8_t type;
	uint8_t kind;
	uint16_t pad0;
	uint32_t idx;
	uint32_t gen;
	uint8_t family;
	uint8_t pad;
	uint16_t port_old;
	uint16_t port_new;
	uint16_t pad2;
	uint8_t src[16];
	uint8_t dst[16];
};

/*
 * Packets between the workers and the control thread, which does what is
 * not forwarding: ARP, neighbor discovery, ICMP.  A worker hands a packet
 * over through dp.punt with ipsec_meta(m)->punt saying why; the control
 * thread hands packets back through the worker's lc->inject ring.
 */
enum dp_punt {
	PUNT_NONE = 0,
	PUNT_ARP,		/* an ARP frame received on port m->port */
	PUNT_ND,		/* ICMPv6 to a multicast or link-local address,
				 * or from a link-local one, on port m->port */
	PUNT_LOCAL,		/* IP for one of the gateway's own addresses */
	PUNT_RESOLVE,		/* to go out of port punt_arg, whose next hop
				 * has no link-layer address yet */
	PUNT_ICMP,		/* dropped; send ICMP punt_code about it */
	INJECT_L2,		/* control -> worker: send as is on m->port */
	INJECT_ROUTE,		/* control -> worker: the gateway's own IP
				 * packet (Ethernet header in front), to route */
};

/* The ICMP errors a worker asks for (ICMPv4 / ICMPv6 type and code). */
enum icmp_kind {
	ICMP_TIME_EXCEEDED = 1,	/* 11/0; 3/0 */
	ICMP_NET_UNREACH,	/* 3/0; 1/0 */
	ICMP_HOST_UNREACH,	/* 3/1; 1/3 */
	ICMP_TOO_BIG,		/* 3/4 with the MTU; 2/0 */
	ICMP_PORT_UNREACH,	/* 3/3; 1/4 */
	ICMP_PROTO_UNREACH,	/* 3/2; 4/1 */
};

struct dp_port {
	bool used;		/* configured and started */
	uint16_t port_id;
	char name[CFG_NAME_MAX];
	char device[CFG_DEVNAME_MAX];
	struct rte_ether_addr mac;
	uint16_t mtu;		/* largest IP packet sent on this port */
	uint16_t nb_rxq;
	uint16_t nb_txq;
	/*
	 * A virtual device may offer fewer tx queues than there are
	 * workers (net_pcap has one per file).  Then workers share a queue
	 * under txq_lock[q]; on real NICs every worker has its own queue and
	 * the lock is never taken.
	 */
	bool txq_shared;
	rte_spinlock_t txq_lock[RTE_MAX_LCORE];
	/* the device's own counts, kept when it closes (dp_port_hw) */
	bool closed;
	uint64_t hw_missed;	/* dropped by the device: rx ring full */
	uint64_t hw_errors;	/* received in error */
	uint64_t hw_nombuf;	/* no mbuf to receive into */
};

struct dp_rxq {
	uint16_t port;
	uint16_t queue;
};

struct dp_txbuf {
	uint16_t n;
	struct rte_mbuf *m[DP_BURST];
};

/* Everything a worker touches on the fast path. */
struct dp_sa_counters {
	uint64_t packets;
	uint64_t bytes;
	uint64_t auth_failed;
	uint64_t replay;
	/* outbound: sequence numbers used (the last one sent, summed over
	 * workers); inbound: highest low 32 bits accepted (max over workers) */
	uint64_t seq;
};

struct dp_lcore {
	struct dp *dp;
	unsigned int lcore_id;
	unsigned int worker;	/* 0 .. nworkers-1 */
	unsigned int nrxq;
	struct dp_rxq rxq[DP_MAX_RXQ_PER_LCORE];
	uint16_t txq[DP_MAX_PORTS];	/* this worker's queue per port */
	struct dp_txbuf tx[DP_MAX_PORTS];
	uint16_t qp;			/* cryptodev queue pair */
	uint32_t inflight;		/* ops on the cryptodev (lookaside) */
	uint64_t events_lost;		/* dp.events was full */
	uint64_t icmp_lost;		/* ICMP not asked for: dp.punt full */
	uint64_t fragments;		/* IPv4 fragments made */
	struct rte_ring *inject;	/* control -> this worker (SP/SC) */
	struct dp_counters lcl;		/* the gateway's own packets */
	struct neigh_cache ncache;
	struct sad_cache sadcache;
	struct dp_counters cnt[DP_MAX_PORTS];
	/* sized by dp.max_if and dp.max_sa (ipsec_init) */
	struct dp_counters *ifcnt;	/* ipsec interfaces */
	struct dp_sa_counters *sacnt;
	/* crypto ops on the device per SA: an SA is freed only at 0 */
	uint32_t *sa_inflight;
} __rte_cache_aligned;

struct dp {
	unsigned int nworkers;
	struct dp_lcore *lc[RTE_MAX_LCORE];	/* by worker index */

	/* start-up settings (ipsecgw options); 0: the default */
	uint32_t max_if;		/* ipsec interfaces */
	uint32_t max_sa;		/* SAs */
	uint32_t nb_mbufs;		/* at least this many mbufs in the pool */

	struct rte_mempool *pool;
	unsigned int pool_size;
	unsigned int pool_avail_start;
	unsigned int pool_avail_exit;

	struct dp_port ports[DP_MAX_PORTS];
	uint16_t port_list[DP_MAX_PORTS];	/* used ports, config order */
	unsigned int nports;

	struct fib *fib;
	struct neigh_table *neigh;
	struct ipsec_ctx *ipsec;

	/* workers report a quiescent state after each loop; the control
	 * thread frees what it unpublished after a grace period */
	struct rte_rcu_qsbr *qsbr;
	struct rte_ring *events;	/* struct dp_event, workers -> control */
	struct rte_ring *punt;		/* mbufs, workers -> control */
	struct local *local;		/* the control thread's ARP / ND / ICMP */
	/* drops the control thread makes, per port, and of the gateway's
	 * own packets (only it writes them) */
	struct dp_counters ctl_cnt[DP_MAX_PORTS];
	struct dp_counters ctl_lcl;
	volatile uint64_t now;		/* unix seconds, kept by the main thread */

	volatile bool quit;
};

/* port.c APIs: */
int dp_ports_setup(struct dp *dp, const struct cfg *cfg, struct cfg_err *err);
int dp_ports_start(struct dp *dp);
void dp_ports_close(struct dp *dp);
/* Refresh p->hw_* from the device (unless it is closed). */
void dp_port_hw(struct dp_port *p);

/* apply.c APIs: */
/* Ports, tables, crypto: what the configuration's ports and crypto say. */
int dp_setup(struct dp *dp, const struct cfg *cfg, struct cfg_err *err);
/* RCU and the event ring, once the workers are known. */
int dp_rcu_setup(struct dp *dp);

/* Post an event from a worker. */
void dp_event_post(struct dp_lcore *lc, const struct dp_event *ev);

/* worker.c APIs: */
int dp_worker_main(void *arg);
/* Received packets so far, over all workers (for --idle-exit). */
uint64_t dp_rx_total(const struct dp *dp);

#endif /* IPSECGW_DP_H */

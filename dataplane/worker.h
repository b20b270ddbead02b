/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the stages of one burst share: the burst's typed arrays, and the
 * helpers that drop, route and queue a packet.  worker.c runs the stages;
 * ipsec_out.c and ipsec_in.c are two of them.
 */
#ifndef IPSECGW_WORKER_H
#define IPSECGW_WORKER_H

#include <rte_mbuf.h>

#include "dataplane/dp.h"
#include "dataplane/route.h"

struct burst {
	struct rte_mbuf *v4[DP_BURST];
	uint32_t dst4[DP_BURST];		/* host byte order */
	struct rte_mbuf *v6[DP_BURST];
	uint8_t dst6[DP_BURST][16];
	/* with `decapped`: the interface each packet came out of */
	uint32_t if4[DP_BURST];
	uint32_t if6[DP_BURST];
	const struct nexthop *nh[DP_BURST];
	struct rte_mbuf *dead[DP_BURST];
	/* ESP for a local tunnel address: l3 header length incl. NAT-T UDP */
	struct rte_mbuf *esp_in[DP_BURST];
	uint8_t esp_in_hlen[DP_BURST];
	/* routed into an ipsec interface */
	struct rte_mbuf *esp_out[DP_BURST];
	uint32_t esp_out_if[DP_BURST];
	/* for the control thread (ipsec_meta(m)->punt says why), with the
	 * counters to charge if its queue is full */
	struct rte_mbuf *punt[DP_BURST];
	struct dp_counters *punt_c[DP_BURST];
	uint16_t n4, n6, ndead, nin, nout, npunt;
	bool decapped;		/* routing packets that came out of a tunnel */
	bool local;		/* the gateway's own packets (no TTL step) */
};

static inline void
burst_init(struct burst *b, bool decapped)
{
	b->n4 = b->n6 = b->ndead = b->nin = b->nout = b->npunt = 0;
	b->decapped = decapped;
	b->local = false;
}

/* IPv4 or IPv6, by the Ethernet header in front of the packet. */
static inline int
pkt_family(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->ether_type ==
	       RTE_BE16(RTE_ETHER_TYPE_IPV4) ? AF_INET : AF_INET6;
}

static inline void
burst_drop(struct burst *b, struct dp_counters *c, struct rte_mbuf *m,
	   enum dp_drop reason)
{
	c->drops[reason]++;
	b->dead[b->ndead++] = m;
}

/* Hand m to the control thread (dropped and counted on c if it cannot
 * take it).  For PUNT_ICMP the drop is already counted: see burst_icmp. */
static inline void
burst_punt(struct burst *b, struct dp_counters *c, struct rte_mbuf *m,
	   enum dp_punt why)
{
	ipsec_meta(m)->punt = (uint8_t)why;
	b->punt_c[b->npunt] = c;
	b->punt[b->npunt++] = m;
}

/* Drop m for `reason`, and have the control thread send ICMP `kind`
 * about it (arg: the MTU for ICMP_TOO_BIG).  The gateway's own packets
 * get no ICMP about them. */
static inline void
burst_icmp(struct burst *b, struct dp_counters *c, struct rte_mbuf *m,
	   enum dp_drop reason, enum icmp_kind kind, uint16_t arg)
{
	if (b->local) {
		burst_drop(b, c, m, reason);
		return;
	}
	c->drops[reason]++;
	ipsec_meta(m)->punt_code = (uint8_t)kind;
	ipsec_meta(m)->punt_arg = arg;
	burst_punt(b, c, m, PUNT_ICMP);
}

/* worker.c APIs: */
/* A packet larger than the MTU of where it goes: fragments (IPv4 without
 * DF), else ICMP too big.  nh is its next hop, or NULL when it goes into
 * ipsec interface ifidx. */
void worker_too_big(struct dp_lcore *lc, struct burst *b,
		    struct dp_counters *c, struct rte_mbuf *m,
		    const struct nexthop *nh, uint32_t ifidx, int family,
		    const void *dst, uint16_t mtu);
void worker_tx_enqueue(struct dp_lcore *lc, uint16_t port, struct rte_mbuf *m);
/* Route and send one packet that starts with an Ethernet header whose
 * addresses are to be rewritten; drops are counted on `c`. */
void worker_send_l3(struct dp_lcore *lc, struct burst *b,
		    struct dp_counters *c, struct rte_mbuf *m,
		    const struct nexthop *nh, int family, const void *dst,
		    uint32_t iplen);
/* The same for n packets with one next hop and destination (a tunnel's
 * remote): one neighbor lookup for all. */
void worker_send_l3_bulk(struct dp_lcore *lc, struct burst *b,
			 struct dp_counters *c, struct rte_mbuf **mb,
			 uint16_t n, const struct nexthop *nh, int family,
			 const void *dst);

/* Queue a decapsulated packet (Ethernet header in front) for routing as
 * received on interface ifidx. */
void worker_route_decapped(struct dp_lcore *lc, struct burst *b,
			   struct rte_mbuf *m, uint32_t ifidx);

/* Finish everything this worker has on the crypto device. */
void worker_crypto_drain(struct dp_lcore *lc);

/* ipsec_out.c APIs: */
void ipsec_outbound(struct dp_lcore *lc, struct burst *b);
void ipsec_outbound_finish(struct dp_lcore *lc, struct burst *b,
			   struct ipsec_sa *s, struct rte_mbuf **mb,
			   uint16_t n);
/* ipsec_in.c APIs: */
/* Decrypt b->esp_in; the inner packets are put in b->v4 / b->v6 with an
 * Ethernet header in front, ready to be routed (b->decapped is set). */
void ipsec_inbound(struct dp_lcore *lc, struct burst *b,
		   struct dp_counters *cport);
void ipsec_inbound_finish(struct dp_lcore *lc, struct burst *b,
			  struct ipsec_sa *s, struct rte_mbuf **mb,
			  uint16_t n);

#endif /* IPSECGW_WORKER_H */

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker loop: receive a burst, classify it into IPv4 and IPv6 arrays
 * (dropping what cannot be forwarded, each under its reason), look the
 * arrays up in the FIB in bulk, rewrite and queue each packet for its
 * output port, then send every port's queue once per burst.
 */
#include <string.h>
#include <sys/socket.h>

#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "dataplane/dp.h"
#include "dataplane/neigh.h"
#include "dataplane/route.h"

#define PREFETCH_OFFSET 3

/* classify() results beyond the drop reasons */
enum {
	CL_IPV4 = DP_DROP_MAX,
	CL_IPV6,
};

struct burst {
	struct rte_mbuf *v4[DP_BURST];
	uint32_t dst4[DP_BURST];		/* host byte order */
	struct rte_mbuf *v6[DP_BURST];
	uint8_t dst6[DP_BURST][16];
	const struct nexthop *nh[DP_BURST];
	struct rte_mbuf *dead[DP_BURST];
	uint16_t n4, n6, ndead;
};

static inline void
drop(struct burst *b, struct dp_counters *c, struct rte_mbuf *m,
     enum dp_drop reason)
{
	c->drops[reason]++;
	b->dead[b->ndead++] = m;
}

static inline int
martian4(uint32_t src, uint32_t dst)
{
	uint8_t s = src >> 24, d = dst >> 24;

	/* 0/8, 127/8, 224/4 and 240/4 never appear as a source */
	if (s == 0 || s == 127 || s >= 224)
		return DP_DROP_MARTIAN;
	if (dst == UINT32_MAX || (d >= 224 && d < 240))
		return DP_DROP_MULTICAST;
	if (d == 0 || d == 127 || d >= 240)
		return DP_DROP_MARTIAN;
	return 0;
}

static inline bool
v6_is_unspec_or_loopback(const uint8_t *a)
{
	static const uint8_t zero[15];

	return memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1);
}

static inline bool
v6_is_linklocal(const uint8_t *a)
{
	return a[0] == 0xfe && (a[1] & 0xc0) == 0x80;
}

static inline int
martian6(const uint8_t *src, const uint8_t *dst)
{
	/* RFC 4291: link-local packets are never forwarded */
	if (src[0] == 0xff || v6_is_unspec_or_loopback(src) ||
	    v6_is_linklocal(src))
		return DP_DROP_MARTIAN;
	if (dst[0] == 0xff)
		return DP_DROP_MULTICAST;
	if (v6_is_unspec_or_loopback(dst) || v6_is_linklocal(dst))
		return DP_DROP_MARTIAN;
	return 0;
}

/*
 * Check the frame and its IP header; trim Ethernet padding.  Returns
 * CL_IPV4, CL_IPV6 or the reason to drop.
 */
static inline int
classify(const struct dp_port *in, struct rte_mbuf *m)
{
	const uint32_t len = rte_pktmbuf_data_len(m);
	struct rte_ether_hdr *eth;
	uint32_t l3len;
	int r;

	if (unlikely(len < sizeof(*eth)))
		return DP_DROP_NOT_IP;
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	if (unlikely(!rte_is_multicast_ether_addr(&eth->dst_addr) &&
		     !rte_is_same_ether_addr(&eth->dst_addr, &in->mac)))
		return DP_DROP_OTHER_HOST;
	l3len = rte_pktmbuf_pkt_len(m) - sizeof(*eth);

	if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
		uint32_t hlen, tlen;

		if (unlikely(len < sizeof(*eth) + sizeof(*ip)))
			return DP_DROP_BAD_HEADER;
		hlen = (ip->version_ihl & 0x0f) * 4u;
		tlen = rte_be_to_cpu_16(ip->total_length);
		if (unlikely((ip->version_ihl >> 4) != 4 ||
			     hlen < sizeof(*ip) ||
			     len < sizeof(*eth) + hlen ||
			     tlen < hlen || tlen > l3len))
			return DP_DROP_BAD_HEADER;
		switch (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) {
		case RTE_MBUF_F_RX_IP_CKSUM_GOOD:
			break;
		case RTE_MBUF_F_RX_IP_CKSUM_BAD:
			return DP_DROP_BAD_CHECKSUM;
		default:
			if (unlikely(rte_raw_cksum(ip, hlen) != 0xffff))
				return DP_DROP_BAD_CHECKSUM;
		}
		r = martian4(rte_be_to_cpu_32(ip->src_addr),
			     rte_be_to_cpu_32(ip->dst_addr));
		if (unlikely(r != 0))
			return r;
		/* trim Ethernet padding; fails only across segments */
		if (tlen < l3len && rte_pktmbuf_trim(m, l3len - tlen) != 0)
			return DP_DROP_BAD_HEADER;
		return CL_IPV4;
	}
	if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV6)) {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)(eth + 1);
		uint32_t tlen;

		if (unlikely(len < sizeof(*eth) + sizeof(*ip6)))
			return DP_DROP_BAD_HEADER;
		tlen = sizeof(*ip6) + rte_be_to_cpu_16(ip6->payload_len);
		if (unlikely((ip6->vtc_flow & RTE_BE32(0xf0000000)) !=
			     RTE_BE32(0x60000000) || tlen > l3len))
			return DP_DROP_BAD_HEADER;
		r = martian6(ip6->src_addr, ip6->dst_addr);
		if (unlikely(r != 0))
			return r;
		if (tlen < l3len && rte_pktmbuf_trim(m, l3len - tlen) != 0)
			return DP_DROP_BAD_HEADER;
		return CL_IPV6;
	}
	return DP_DROP_NOT_IP;
}

static void
tx_flush(struct dp_lcore *lc, uint16_t port)
{
	struct dp_txbuf *t = &lc->tx[port];
	struct dp_port *p = &lc->dp->ports[port];
	struct dp_counters *c = &lc->cnt[port];
	uint16_t q = lc->txq[port], sent, i;
	uint64_t bytes = 0;

	if (t->n == 0)
		return;
	/* lengths first: a sent mbuf belongs to the driver */
	for (i = 0; i < t->n; i++)
		bytes += rte_pktmbuf_pkt_len(t->m[i]);
	if (p->txq_shared)
		rte_spinlock_lock(&p->txq_lock[q]);
	sent = rte_eth_tx_burst(port, q, t->m, t->n);
	if (p->txq_shared)
		rte_spinlock_unlock(&p->txq_lock[q]);
	for (i = sent; i < t->n; i++)
		bytes -= rte_pktmbuf_pkt_len(t->m[i]);
	c->tx_packets += sent;
	c->tx_bytes += bytes;
	if (unlikely(sent < t->n)) {
		c->drops[DP_DROP_TX_FULL] += t->n - sent;
		rte_pktmbuf_free_bulk(&t->m[sent], t->n - sent);
	}
	t->n = 0;
}

static inline void
tx_enqueue(struct dp_lcore *lc, uint16_t port, struct rte_mbuf *m)
{
	struct dp_txbuf *t = &lc->tx[port];

	t->m[t->n++] = m;
	if (unlikely(t->n == DP_BURST))
		tx_flush(lc, port);
}

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for the TTL/protocol word. */
static inline void
ipv4_ttl_dec(struct rte_ipv4_hdr *ip)
{
	uint16_t old = (uint16_t)(ip->time_to_live << 8 | ip->next_proto_id);
	uint16_t new = (uint16_t)(old - 0x0100);
	uint32_t sum;

	sum = (uint16_t)~rte_be_to_cpu_16(ip->hdr_checksum);
	sum += (uint16_t)~old;
	sum += new;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	ip->time_to_live--;
	ip->hdr_checksum = rte_cpu_to_be_16((uint16_t)~sum);
}

/*
 * Checks that depend on the route, then L2 rewrite and queueing.  `ttl`
 * points at the TTL or hop limit; `dst` is the destination address.
 */
static inline void
forward_one(struct dp_lcore *lc, struct burst *b, struct dp_counters *c,
	    struct rte_mbuf *m, const struct nexthop *nh, int family,
	    uint8_t ttl, uint32_t iplen, const void *dst)
{
	const struct neigh_entry *ne;
	const struct dp_port *out;
	struct rte_ether_hdr *eth;
	struct neigh_key k;

	if (unlikely(nh == NULL)) {
		drop(b, c, m, DP_DROP_NO_ROUTE);
		return;
	}
	if (unlikely(nh->type == NH_LOCAL)) {
		drop(b, c, m, DP_DROP_LOCAL);
		return;
	}
	if (unlikely(ttl <= 1)) {
		drop(b, c, m, DP_DROP_TTL_EXCEEDED);
		return;
	}
	out = &lc->dp->ports[nh->port];
	if (unlikely(iplen > out->mtu)) {
		drop(b, c, m, DP_DROP_MTU);
		return;
	}
	neigh_key_make(&k, nh->port, family,
		       nh->type == NH_VIA ? nh->via : dst);
	ne = neigh_lookup(lc->dp->neigh, &k);
	if (unlikely(ne == NULL)) {
		drop(b, c, m, DP_DROP_NO_NEIGHBOR);
		return;
	}
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	if (family == AF_INET)
		ipv4_ttl_dec((struct rte_ipv4_hdr *)(eth + 1));
	else
		((struct rte_ipv6_hdr *)(eth + 1))->hop_limits--;
	eth->dst_addr = ne->lladdr;
	eth->src_addr = out->mac;
	tx_enqueue(lc, nh->port, m);
}

static void
process_burst(struct dp_lcore *lc, uint16_t inport, struct rte_mbuf **pkts,
	      uint16_t n)
{
	const struct dp_port *in = &lc->dp->ports[inport];
	struct dp_counters *c = &lc->cnt[inport];
	struct burst b;
	uint16_t i;

	b.n4 = b.n6 = b.ndead = 0;
	c->rx_packets += n;
	for (i = 0; i < PREFETCH_OFFSET && i < n; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct rte_ether_hdr *eth;
		int r;

		if (i + PREFETCH_OFFSET < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + PREFETCH_OFFSET],
						       void *));
		c->rx_bytes += rte_pktmbuf_pkt_len(m);
		r = classify(in, m);
		eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
		if (r == CL_IPV4) {
			struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);

			b.dst4[b.n4] = rte_be_to_cpu_32(ip->dst_addr);
			b.v4[b.n4++] = m;
		} else if (r == CL_IPV6) {
			struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)(eth + 1);

			memcpy(b.dst6[b.n6], ip6->dst_addr, 16);
			b.v6[b.n6++] = m;
		} else {
			drop(&b, c, m, (enum dp_drop)r);
		}
	}

	if (b.n4 != 0) {
		fib_lookup4_bulk(lc->dp->fib, b.dst4, b.nh, b.n4);
		for (i = 0; i < b.n4; i++) {
			struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(b.v4[i],
				struct rte_ipv4_hdr *, sizeof(struct rte_ether_hdr));

			forward_one(lc, &b, c, b.v4[i], b.nh[i], AF_INET,
				    ip->time_to_live,
				    rte_be_to_cpu_16(ip->total_length),
				    &ip->dst_addr);
		}
	}
	if (b.n6 != 0) {
		fib_lookup6_bulk(lc->dp->fib, b.dst6, b.nh, b.n6);
		for (i = 0; i < b.n6; i++) {
			struct rte_ipv6_hdr *ip6 = rte_pktmbuf_mtod_offset(b.v6[i],
				struct rte_ipv6_hdr *, sizeof(struct rte_ether_hdr));

			forward_one(lc, &b, c, b.v6[i], b.nh[i], AF_INET6,
				    ip6->hop_limits,
				    sizeof(*ip6) + rte_be_to_cpu_16(ip6->payload_len),
				    ip6->dst_addr);
		}
	}
	if (b.ndead != 0)
		rte_pktmbuf_free_bulk(b.dead, b.ndead);
}

int
dp_worker_main(void *arg)
{
	struct dp_lcore *lc = arg;
	struct dp *dp = lc->dp;
	struct rte_mbuf *pkts[DP_BURST];
	unsigned int i, p;
	uint16_t n;

	while (!dp->quit) {
		for (i = 0; i < lc->nrxq; i++) {
			const struct dp_rxq *q = &lc->rxq[i];

			n = rte_eth_rx_burst(q->port, q->queue, pkts, DP_BURST);
			if (n == 0)
				continue;
			process_burst(lc, q->port, pkts, n);
			for (p = 0; p < dp->nports; p++)
				tx_flush(lc, dp->port_list[p]);
		}
	}
	return 0;
}

uint64_t
dp_rx_total(const struct dp *dp)
{
	uint64_t sum = 0;
	unsigned int w, p;

	for (w = 0; w < dp->nworkers; w++)
		for (p = 0; p < dp->nports; p++)
			sum += __atomic_load_n(
				&dp->lc[w]->cnt[dp->port_list[p]].rx_packets,
				__ATOMIC_RELAXED);
	return sum;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker loop: receive a burst, classify it into IPv4 and IPv6 arrays
 * (dropping what cannot be forwarded, each under its reason), look the
 * arrays up in the FIB in bulk, rewrite and queue each packet for its
 * output port, then send every port's queue once per burst.
 */
#include <string.h>
#include <sys/socket.h>

#include <rte_cryptodev.h>
#include <rte_ethdev.h>
#include <rte_ipsec.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring_elem.h>
#include <rte_prefetch.h>
#include <rte_udp.h>

#include "dataplane/dp.h"
#include "dataplane/neigh.h"
#include "dataplane/route.h"
#include "dataplane/worker.h"

#define PREFETCH_OFFSET 3

/* classify() results beyond the drop reasons */
enum {
	CL_IPV4 = DP_DROP_MAX,
	CL_IPV6,
	CL_ARP,		/* for the control thread */
	CL_ND,
};

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
 * An IPv4 header's checksum is right when its one's complement sum is
 * 0xffff.  The usual 20-byte header is summed as five 32-bit words
 * (rte_raw_cksum's general loop costs several times that).
 */
static inline bool
ipv4_cksum_ok(const struct rte_ipv4_hdr *ip, uint32_t hlen)
{
	const uint8_t *p = (const uint8_t *)ip;
	uint32_t a, b, c, d, e;
	uint64_t sum;

	if (unlikely(hlen != sizeof(*ip)))
		return rte_raw_cksum(ip, hlen) == 0xffff;
	/* one unaligned load each, straight into registers */
	memcpy(&a, p, 4);
	memcpy(&b, p + 4, 4);
	memcpy(&c, p + 8, 4);
	memcpy(&d, p + 12, 4);
	memcpy(&e, p + 16, 4);
	sum = (uint64_t)a + b + c + d + e;
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

/*
 * Cut a packet to `len` bytes, across segments if need be (trailing bytes
 * may fill whole segments of a jumbo frame).
 */
static void
pkt_cut(struct rte_mbuf *m, uint32_t len)
{
	struct rte_mbuf *seg = m;
	uint32_t seen = 0;
	uint16_t nseg = 1;

	while (seen + seg->data_len < len) {
		seen += seg->data_len;
		seg = seg->next;
		nseg++;
	}
	seg->data_len = (uint16_t)(len - seen);
	if (seg->next != NULL) {
		rte_pktmbuf_free(seg->next);
		seg->next = NULL;
	}
	m->nb_segs = nseg;
	m->pkt_len = len;
}

/*
 * Check the frame and its IP header; trim Ethernet padding.  `in` is the
 * port it arrived on, NULL for a packet out of a tunnel.  Returns
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
	if (unlikely(in != NULL &&
		     !rte_is_multicast_ether_addr(&eth->dst_addr) &&
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
			if (unlikely(!ipv4_cksum_ok(ip, hlen)))
				return DP_DROP_BAD_CHECKSUM;
		}
		r = martian4(rte_be_to_cpu_32(ip->src_addr),
			     rte_be_to_cpu_32(ip->dst_addr));
		if (unlikely(r != 0))
			return r;
		if (tlen < l3len)	/* Ethernet padding */
			pkt_cut(m, sizeof(*eth) + tlen);
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
		if (unlikely(r != 0)) {
			/* neighbor discovery, and pings to or from link-local
			 * addresses: the control thread's */
			if (in != NULL && ip6->proto == IPPROTO_ICMPV6 &&
			    ip6->src_addr[0] != 0xff)
				return CL_ND;
			return r;
		}
		if (tlen < l3len)
			pkt_cut(m, sizeof(*eth) + tlen);
		return CL_IPV6;
	}
	if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP) && in != NULL)
		return CL_ARP;
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

void
worker_tx_enqueue(struct dp_lcore *lc, uint16_t port, struct rte_mbuf *m)
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

static inline bool
is_esp_for_us(struct rte_mbuf *m, int family, uint8_t *hlen)
{
	uint8_t proto;
	uint32_t l3;

	if (family == AF_INET) {
		const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m,
			const struct rte_ipv4_hdr *, sizeof(struct rte_ether_hdr));

		/* fragments of ESP wait for reassembly (not yet) */
		if (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_MF_FLAG |
						   RTE_IPV4_HDR_OFFSET_MASK))
			return false;
		proto = ip->next_proto_id;
		l3 = (ip->version_ihl & 0x0f) * 4u;
	} else {
		/* extension headers before ESP are not looked through yet */
		proto = rte_pktmbuf_mtod_offset(m, const struct rte_ipv6_hdr *,
			sizeof(struct rte_ether_hdr))->proto;
		l3 = sizeof(struct rte_ipv6_hdr);
	}
	if (proto == IPPROTO_ESP) {
		*hlen = (uint8_t)l3;
		return true;
	}
	if (proto == IPPROTO_UDP) {
		const struct rte_udp_hdr *udp;

		if (rte_pktmbuf_data_len(m) < sizeof(struct rte_ether_hdr) + l3 +
					      sizeof(*udp))
			return false;
		udp = rte_pktmbuf_mtod_offset(m, const struct rte_udp_hdr *,
					      sizeof(struct rte_ether_hdr) + l3);
		if (udp->dst_port != RTE_BE16(4500))
			return false;
		*hlen = (uint8_t)(l3 + sizeof(*udp));
		return true;
	}
	return false;
}

/* The neighbor a next hop sends to, or NULL; marks it used. */
static inline const struct neigh_entry *
nh_neighbor(struct dp_lcore *lc, const struct nexthop *nh, int family,
	    const void *dst)
{
	const struct neigh_entry *ne;
	uint64_t now = lc->dp->now;

	ne = neigh_lookup_cached(lc->dp->neigh, &lc->ncache, nh->port, family,
				 nh->type == NH_VIA ? nh->via : dst);
	/* tells the control thread the entry is in use (see local.c) */
	if (likely(ne != NULL) && unlikely(ne->used != now))
		((struct neigh_entry *)(uintptr_t)ne)->used = now;
	return ne;
}

/* The last step of sending on a port: addresses, counts, tx queue. */
static inline void
send_l2(struct dp_lcore *lc, const struct burst *b, struct rte_mbuf *m,
	uint16_t port, const struct dp_port *out,
	const struct neigh_entry *ne)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);

	if (unlikely(b->local)) {
		lc->cnt[port].tx_local++;
		lc->cnt[port].tx_local_bytes += rte_pktmbuf_pkt_len(m);
	}
	eth->dst_addr = ne->lladdr;
	eth->src_addr = out->mac;
	worker_tx_enqueue(lc, port, m);
}

/* No neighbor yet: the control thread resolves it and holds the packet. */
static inline void
punt_resolve(struct burst *b, struct dp_counters *c, struct rte_mbuf *m,
	     uint16_t port)
{
	ipsec_meta(m)->punt_arg = port;
	ipsec_meta(m)->punt_code = b->local;
	burst_punt(b, c, m, PUNT_RESOLVE);
}

/*
 * Send a packet whose Ethernet header is to be rewritten, by its next hop
 * on a port: MTU, neighbor, L2 rewrite, tx queue.
 */
void
worker_send_l3(struct dp_lcore *lc, struct burst *b, struct dp_counters *c,
	       struct rte_mbuf *m, const struct nexthop *nh, int family,
	       const void *dst, uint32_t iplen)
{
	const struct dp_port *out = &lc->dp->ports[nh->port];
	const struct neigh_entry *ne;

	if (unlikely(iplen > out->mtu)) {
		burst_drop(b, c, m, DP_DROP_MTU);
		return;
	}
	ne = nh_neighbor(lc, nh, family, dst);
	if (unlikely(ne == NULL)) {
		punt_resolve(b, c, m, nh->port);
		return;
	}
	send_l2(lc, b, m, nh->port, out, ne);
}

void
worker_send_l3_bulk(struct dp_lcore *lc, struct burst *b,
		    struct dp_counters *c, struct rte_mbuf **mb, uint16_t n,
		    const struct nexthop *nh, int family, const void *dst)
{
	const struct dp_port *out = &lc->dp->ports[nh->port];
	const struct neigh_entry *ne = nh_neighbor(lc, nh, family, dst);
	uint16_t i;

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = mb[i];

		if (unlikely(rte_pktmbuf_pkt_len(m) -
			     sizeof(struct rte_ether_hdr) > out->mtu))
			burst_drop(b, c, m, DP_DROP_MTU);
		else if (unlikely(ne == NULL))
			punt_resolve(b, c, m, nh->port);
		else
			send_l2(lc, b, m, nh->port, out, ne);
	}
}

/*
 * Checks that depend on the route, then on to a port, an ipsec
 * interface, or local ESP processing.  `ttl` is the TTL or hop limit;
 * `dst` the destination address.
 */
static inline void
forward_one(struct dp_lcore *lc, struct burst *b, struct dp_counters *c,
	    struct rte_mbuf *m, const struct nexthop *nh, int family,
	    uint8_t ttl, uint32_t iplen, const void *dst)
{
	struct rte_ether_hdr *eth;
	uint16_t mtu;

	if (unlikely(nh == NULL)) {
		burst_icmp(b, c, m, DP_DROP_NO_ROUTE, ICMP_NET_UNREACH, 0);
		return;
	}
	if (unlikely(nh->type == NH_LOCAL)) {
		uint8_t hlen;

		if (!b->decapped && !b->local &&
		    is_esp_for_us(m, family, &hlen)) {
			b->esp_in_hlen[b->nin] = hlen;
			b->esp_in[b->nin++] = m;
			return;
		}
		if (b->local) {
			burst_drop(b, c, m, DP_DROP_LOCAL);
			return;
		}
		ipsec_meta(m)->punt_code = b->decapped;
		burst_punt(b, c, m, PUNT_LOCAL);
		return;
	}
	if (likely(!b->local)) {
		if (unlikely(ttl <= 1)) {
			burst_icmp(b, c, m, DP_DROP_TTL_EXCEEDED,
				   ICMP_TIME_EXCEEDED, 0);
			return;
		}
		eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
		if (family == AF_INET)
			ipv4_ttl_dec((struct rte_ipv4_hdr *)(eth + 1));
		else
			((struct rte_ipv6_hdr *)(eth + 1))->hop_limits--;
	}
	if (nh->type == NH_IFACE) {
		b->esp_out_if[b->nout] = nh->port;
		b->esp_out[b->nout++] = m;
		return;
	}
	mtu = lc->dp->ports[nh->port].mtu;
	if (unlikely(iplen > mtu)) {
		worker_too_big(lc, b, c, m, nh, 0, family, dst, mtu);
		return;
	}
	worker_send_l3(lc, b, c, m, nh, family, dst, iplen);
}

/* Look the classified packets up and send each on its way. */
static void
route_burst(struct dp_lcore *lc, struct burst *b, struct dp_counters *cin)
{
	struct dp_counters *c = cin;
	uint16_t i;

	if (b->n4 != 0) {
		fib_lookup4_bulk(lc->dp->fib, b->dst4, b->nh, b->n4);
		for (i = 0; i < b->n4; i++) {
			struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(b->v4[i],
				struct rte_ipv4_hdr *, sizeof(struct rte_ether_hdr));

			if (b->decapped)
				c = &lc->ifcnt[b->if4[i]];
			forward_one(lc, b, c, b->v4[i], b->nh[i], AF_INET,
				    ip->time_to_live,
				    rte_be_to_cpu_16(ip->total_length),
				    &ip->dst_addr);
		}
	}
	if (b->n6 != 0) {
		fib_lookup6_bulk(lc->dp->fib, b->dst6, b->nh, b->n6);
		for (i = 0; i < b->n6; i++) {
			struct rte_ipv6_hdr *ip6 = rte_pktmbuf_mtod_offset(b->v6[i],
				struct rte_ipv6_hdr *, sizeof(struct rte_ether_hdr));

			if (b->decapped)
				c = &lc->ifcnt[b->if6[i]];
			forward_one(lc, b, c, b->v6[i], b->nh[i], AF_INET6,
				    ip6->hop_limits,
				    sizeof(*ip6) + rte_be_to_cpu_16(ip6->payload_len),
				    ip6->dst_addr);
		}
	}
	b->n4 = b->n6 = 0;
}

/* Sort one packet into the burst's IPv4 or IPv6 array, or drop it. */
static inline void
burst_add(struct burst *b, struct dp_counters *c, const struct dp_port *in,
	  struct rte_mbuf *m, uint32_t ifidx)
{
	struct rte_ether_hdr *eth;
	int r = classify(in, m);

	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	if (r == CL_IPV4) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);

		b->dst4[b->n4] = rte_be_to_cpu_32(ip->dst_addr);
		b->if4[b->n4] = ifidx;
		b->v4[b->n4++] = m;
	} else if (r == CL_IPV6) {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)(eth + 1);

		memcpy(b->dst6[b->n6], ip6->dst_addr, 16);
		b->if6[b->n6] = ifidx;
		b->v6[b->n6++] = m;
	} else if (r == CL_ARP) {
		burst_punt(b, c, m, PUNT_ARP);
	} else if (r == CL_ND) {
		burst_punt(b, c, m, PUNT_ND);
	} else {
		burst_drop(b, c, m, (enum dp_drop)r);
	}
}

void
worker_route_decapped(struct dp_lcore *lc, struct burst *b,
		      struct rte_mbuf *m, uint32_t ifidx)
{
	burst_add(b, &lc->ifcnt[ifidx], NULL, m, ifidx);
}

/*
 * Hand the burst's punted packets to the control thread, in one enqueue.
 * What does not fit is dropped; a packet dropped for ICMP is counted
 * already, so only the ICMP it would have caused is.
 */
static void
punt_flush(struct dp_lcore *lc, struct burst *b)
{
	unsigned int sent, i;

	sent = rte_ring_mp_enqueue_burst(lc->dp->punt, (void **)b->punt,
					 b->npunt, NULL);
	for (i = sent; i < b->npunt; i++) {
		if (ipsec_meta(b->punt[i])->punt == PUNT_ICMP)
			lc->icmp_lost++;
		else
			b->punt_c[i]->drops[DP_DROP_PUNT_FULL]++;
	}
	if (sent < b->npunt)
		rte_pktmbuf_free_bulk(&b->punt[sent], b->npunt - sent);
	b->npunt = 0;
}

/*
 * IPv4 fragmentation before encryption or sending, by copy into new
 * single-segment buffers (rte_ipv4_fragment_copy_nonseg_packet): ESP
 * needs tailroom in each fragment, which librte_ip_frag's indirect
 * fragments do not have.  The fragments of one packet are a burst of
 * their own.
 */
static void
frag4(struct dp_lcore *lc, struct burst *b, struct dp_counters *c,
      struct rte_mbuf *m, const struct nexthop *nh, uint32_t ifidx,
      const void *dst, uint16_t mtu)
{
	struct rte_mbuf *fr[DP_BURST];
	struct rte_ether_hdr eth;
	struct burst fb;
	int32_t n, i;

	if (!rte_pktmbuf_is_contiguous(m)) {
		burst_drop(b, c, m, DP_DROP_FRAG_FAILED);
		return;
	}
	eth = *rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	rte_pktmbuf_adj(m, sizeof(eth));
	n = rte_ipv4_fragment_copy_nonseg_packet(m, fr, DP_BURST, mtu,
						 lc->dp->pool);
	if (n <= 0) {
		rte_pktmbuf_prepend(m, sizeof(eth));
		burst_drop(b, c, m, DP_DROP_FRAG_FAILED);
		return;
	}
	b->dead[b->ndead++] = m;	/* not a drop: its fragments go on */
	burst_init(&fb, b->decapped);
	fb.local = b->local;
	for (i = 0; i < n; i++) {
		struct rte_mbuf *f = fr[i];
		struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(f,
						struct rte_ipv4_hdr *);
		struct rte_ether_hdr *e;

		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		e = (struct rte_ether_hdr *)rte_pktmbuf_prepend(f, sizeof(*e));
		if (e == NULL) {
			burst_drop(&fb, c, f, DP_DROP_FRAG_FAILED);
			continue;
		}
		*e = eth;
		f->port = m->port;
		*ipsec_meta(f) = *ipsec_meta(m);
		if (nh == NULL) {
			fb.esp_out_if[fb.nout] = ifidx;
			fb.esp_out[fb.nout++] = f;
		} else {
			worker_send_l3(lc, &fb, c, f, nh, AF_INET, dst,
				       rte_be_to_cpu_16(ip->total_length));
		}
	}
	lc->fragments += (uint64_t)n;
	if (fb.nout != 0)
		ipsec_outbound(lc, &fb);
	if (fb.ndead != 0)
		rte_pktmbuf_free_bulk(fb.dead, fb.ndead);
	if (fb.npunt != 0)
		punt_flush(lc, &fb);
}

void
worker_too_big(struct dp_lcore *lc, struct burst *b, struct dp_counters *c,
	       struct rte_mbuf *m, const struct nexthop *nh, uint32_t ifidx,
	       int family, const void *dst, uint16_t mtu)
{
	if (family == AF_INET) {
		const struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m,
			const struct rte_ipv4_hdr *, sizeof(struct rte_ether_hdr));

		if (!(ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG)) &&
		    mtu >= 68) {
			frag4(lc, b, c, m, nh, ifidx, dst, mtu);
			return;
		}
	}
	burst_icmp(b, c, m, DP_DROP_MTU, ICMP_TOO_BIG, mtu);
}

/*
 * The stages after classification, shared by received bursts and by
 * crypto completions: route, inbound ESP, route what came out of
 * tunnels, outbound ESP, then free what was dropped.
 */
static void
burst_run(struct dp_lcore *lc, struct burst *b, struct dp_counters *c)
{
	route_burst(lc, b, c);
	if (b->nin != 0)
		/* ESP drops before an SA is known count on the port */
		ipsec_inbound(lc, b, c);
	if (b->n4 != 0 || b->n6 != 0) {
		b->decapped = true;
		route_burst(lc, b, c);
	}
	if (b->nout != 0)
		ipsec_outbound(lc, b);
	if (b->ndead != 0)
		rte_pktmbuf_free_bulk(b->dead, b->ndead);
	if (unlikely(b->npunt != 0))
		punt_flush(lc, b);
}

static void
process_burst(struct dp_lcore *lc, uint16_t inport, struct rte_mbuf **pkts,
	      uint16_t n)
{
	const struct dp_port *in = &lc->dp->ports[inport];
	struct dp_counters *c = &lc->cnt[inport];
	struct burst b;
	uint16_t i;

	burst_init(&b, false);
	c->rx_packets += n;
	for (i = 0; i < PREFETCH_OFFSET && i < n; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (i = 0; i < n; i++) {
		if (i + PREFETCH_OFFSET < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + PREFETCH_OFFSET],
						       void *));
		c->rx_bytes += rte_pktmbuf_pkt_len(pkts[i]);
		burst_add(&b, c, in, pkts[i], 0);
	}
	burst_run(lc, &b, c);
}

/*
 * Lookaside crypto: collect what the device has finished, group it by SA
 * (librte_ipsec marks failed ops on their mbufs), and finish it like a
 * received burst.
 */
static unsigned int
crypto_poll(struct dp_lcore *lc)
{
	const struct ipsec_ctx *ic = lc->dp->ipsec;
	struct rte_crypto_op *ops[DP_BURST];
	struct rte_ipsec_group grp[DP_BURST];
	struct rte_mbuf *mb[DP_BURST];
	struct burst b;
	uint32_t grouped = 0;
	uint16_t n, ng, g;

	n = rte_cryptodev_dequeue_burst(ic->dev_id, lc->qp, ops, DP_BURST);
	if (n == 0)
		return 0;
	lc->inflight -= n;
	ng = rte_ipsec_pkt_crypto_group((const struct rte_crypto_op **)
					(uintptr_t)ops, mb, grp, n);
	rte_mempool_put_bulk(ic->cop_pool, (void **)ops, n);
	burst_init(&b, true);
	for (g = 0; g < ng; g++) {
		struct ipsec_sa *s = (struct ipsec_sa *)grp[g].id.ptr;

		grouped += grp[g].cnt;
		if (s->outbound)
			ipsec_outbound_finish(lc, &b, s, grp[g].m, grp[g].cnt);
		else
			ipsec_inbound_finish(lc, &b, s, grp[g].m, grp[g].cnt);
		/* the last use of s: from here the control thread may free
		 * it (it waits for this count and a grace period) */
		__atomic_store_n(&lc->sa_inflight[s->idx],
				 lc->sa_inflight[s->idx] - grp[g].cnt,
				 __ATOMIC_RELEASE);
	}
	/* an op without a session cannot be: count it, never leak it */
	for (; grouped < n; grouped++)
		burst_drop(&b, &lc->ifcnt[ipsec_meta(mb[grouped])->ifidx],
			   mb[grouped], DP_DROP_CRYPTO_FAILED);
	burst_run(lc, &b, NULL);
	return n;
}

static void
tx_flush_all(struct dp_lcore *lc)
{
	unsigned int p;

	for (p = 0; p < lc->dp->nports; p++)
		tx_flush(lc, lc->dp->port_list[p]);
}

/*
 * What the control thread gives this worker: frames to send as they are
 * (ARP, ND) and the gateway's own IP packets to route (ICMP, packets that
 * waited for a neighbor), counted on lc->lcl.
 */
static void
inject_poll(struct dp_lcore *lc)
{
	struct rte_mbuf *pkts[DP_BURST];
	struct burst b;
	unsigned int n, i;

	n = rte_ring_sc_dequeue_burst(lc->inject, (void **)pkts, DP_BURST,
				      NULL);
	if (likely(n == 0))
		return;
	burst_init(&b, false);
	b.local = true;
	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];

		if (ipsec_meta(m)->punt == INJECT_L2) {
			/* punt_code: the gateway's own, else a packet that
			 * waited for its neighbor (counted when received) */
			if (ipsec_meta(m)->punt_code) {
				lc->lcl.tx_packets++;
				lc->lcl.tx_bytes += rte_pktmbuf_pkt_len(m);
				lc->cnt[m->port].tx_local++;
				lc->cnt[m->port].tx_local_bytes +=
					rte_pktmbuf_pkt_len(m);
			}
			worker_tx_enqueue(lc, m->port, m);
		} else {
			burst_add(&b, &lc->lcl, NULL, m, 0);
		}
	}
	burst_run(lc, &b, &lc->lcl);
	tx_flush_all(lc);
}

void
worker_crypto_drain(struct dp_lcore *lc)
{
	while (lc->inflight != 0) {
		crypto_poll(lc);
		tx_flush_all(lc);
	}
}

int
dp_worker_main(void *arg)
{
	struct dp_lcore *lc = arg;
	struct dp *dp = lc->dp;
	struct rte_mbuf *pkts[DP_BURST];
	unsigned int i;
	uint16_t n;

	rte_rcu_qsbr_thread_register(dp->qsbr, lc->worker);
	rte_rcu_qsbr_thread_online(dp->qsbr, lc->worker);
	while (!dp->quit) {
		for (i = 0; i < lc->nrxq; i++) {
			const struct dp_rxq *q = &lc->rxq[i];

			n = rte_eth_rx_burst(q->port, q->queue, pkts, DP_BURST);
			if (n == 0)
				continue;
			process_burst(lc, q->port, pkts, n);
			/*
			 * Take back from the crypto device what it has done
			 * before receiving more: a worker that received faster
			 * than it dequeued would fill the device's queue and
			 * drop (crypto-busy) instead of leaving the excess in
			 * the NIC's queue.
			 */
			while (lc->inflight != 0 && crypto_poll(lc) == DP_BURST)
				;
			tx_flush_all(lc);
		}
		if (lc->inflight != 0 && crypto_poll(lc) != 0)
			tx_flush_all(lc);
		inject_poll(lc);
		/* nothing of the tables is held from here to the next burst */
		rte_rcu_qsbr_quiescent(dp->qsbr, lc->worker);
	}
	/* what is still on the crypto device is finished, not lost */
	worker_crypto_drain(lc);
	rte_rcu_qsbr_thread_offline(dp->qsbr, lc->worker);
	rte_rcu_qsbr_thread_unregister(dp->qsbr, lc->worker);
	return 0;
}

void
dp_event_post(struct dp_lcore *lc, const struct dp_event *ev)
{
	if (rte_ring_mp_enqueue_elem(lc->dp->events, (void *)(uintptr_t)ev,
				     sizeof(*ev)) != 0)
		lc->events_lost++;
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

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Outbound ESP: packets routed into an ipsec interface, grouped by
 * interface and inner family, sealed by the interface's outbound SA with
 * librte_ipsec (prepare, which with CPU crypto also encrypts, then
 * process), given their outer header's DSCP, ECN and DF, and routed to
 * the tunnel's remote.
 */
#include <string.h>

#include <rte_cryptodev.h>
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_ipsec.h>
#include <rte_udp.h>

#include "dataplane/dp.h"
#include "dataplane/ipsec.h"
#include "dataplane/route.h"
#include "dataplane/worker.h"

#define IPV4_DF RTE_BE16(RTE_IPV4_HDR_DF_FLAG)

/*
 * The outer header's TOS (inner DSCP, and ECN if asked), DF and checksum,
 * and NAT-T's UDP length and port.  The IPv4 checksum is the SA's sum of
 * the fixed words plus the four that vary: reading the header back would
 * wait on the narrow stores librte_ipsec has just made to it.
 */
static inline void
outer_fixup(const struct ipsec_iface *f, const struct ipsec_sa *s,
	    struct rte_mbuf *m, rte_be16_t dport)
{
	const struct ipsec_meta *in = ipsec_meta(m);
	uint8_t tos = (in->tos & 0xfc) | (f->ecn ? (in->tos & 0x03) : 0);
	uint32_t l3 = f->family == AF_INET ? sizeof(struct rte_ipv4_hdr) :
					      sizeof(struct rte_ipv6_hdr);
	uint32_t iplen = rte_pktmbuf_pkt_len(m) - sizeof(struct rte_ether_hdr);

	if (f->nat_t) {
		/* RFC 3948: UDP length of the datagram, checksum zero (IPv6
		 * computes it below) */
		struct rte_udp_hdr *udp = rte_pktmbuf_mtod_offset(m,
			struct rte_udp_hdr *, sizeof(struct rte_ether_hdr) + l3);

		udp->dgram_len = rte_cpu_to_be_16(iplen - l3);
		udp->dst_port = dport;
		udp->dgram_cksum = 0;
	}
	if (f->family == AF_INET) {
		struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m,
			struct rte_ipv4_hdr *, sizeof(struct rte_ether_hdr));
		bool df = f->df == CFG_DF_SET ||
			  (f->df == CFG_DF_COPY && (in->df & 1));
		rte_be16_t len = rte_cpu_to_be_16((uint16_t)iplen);
		rte_be16_t frag = df ? IPV4_DF : 0;
		uint32_t sum;

		/* words as they lie in memory, like __rte_raw_cksum */
		sum = s->outer_sum + len + ip->packet_id + frag;
#if RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN
		sum += (uint32_t)tos << 8;	/* the byte after version/IHL */
#else
		sum += tos;
#endif
		sum = (sum & 0xffff) + (sum >> 16);
		sum = (sum & 0xffff) + (sum >> 16);
		ip->type_of_service = tos;
		ip->total_length = len;
		ip->fragment_offset = frag;
		ip->hdr_checksum = (uint16_t)~sum;
	} else {
		struct rte_ipv6_hdr *ip6 = rte_pktmbuf_mtod_offset(m,
			struct rte_ipv6_hdr *, sizeof(struct rte_ether_hdr));

		ip6->vtc_flow = rte_cpu_to_be_32(0x60000000u |
						 (uint32_t)tos << 20);
		/* RFC 8200: UDP over IPv6 carries a checksum (RFC 3948's
		 * zero is for IPv4) */
		if (f->nat_t) {
			struct rte_udp_hdr *udp = rte_pktmbuf_mtod_offset(m,
				struct rte_udp_hdr *,
				sizeof(struct rte_ether_hdr) + l3);

			udp->dgram_cksum = rte_ipv6_udptcp_cksum_mbuf(m, ip6,
				sizeof(struct rte_ether_hdr) + l3);
		}
	}
	/* librte_ipsec marks what went through crypto; the NIC need not see it */
	m->ol_flags &= ~(RTE_MBUF_F_RX_SEC_OFFLOAD |
			 RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED);
}

static void
drop_all(struct burst *b, struct dp_counters *c, struct rte_mbuf **mb,
	 uint16_t n, enum dp_drop reason)
{
	uint16_t i;

	for (i = 0; i < n; i++)
		burst_drop(b, c, mb[i], reason);
}

/*
 * After crypto: librte_ipsec's process, the outer header, and one route
 * for the whole group (its packets all go to the same remote).
 */
void
ipsec_outbound_finish(struct dp_lcore *lc, struct burst *b,
		      struct ipsec_sa *s, struct rte_mbuf **mb, uint16_t n)
{
	const struct ipsec_iface *f = ipsec_iface_get(lc->dp->ipsec, s->ifidx);
	struct dp_counters *c = &lc->ifcnt[s->ifidx];
	const struct nexthop *nh;
	uint64_t bytes = 0;
	uint16_t i, done;

	done = rte_ipsec_pkt_process(&s->ss, mb, n);
	if (unlikely(f == NULL)) {
		/* the interface went away while this was on the device */
		drop_all(b, c, mb, n, DP_DROP_NO_ROUTE);
		return;
	}
	if (unlikely(done < n))
		drop_all(b, c, &mb[done], n - done, DP_DROP_CRYPTO_FAILED);
	/* an interface counts what it carries: the inner packets */
	for (i = 0; i < done; i++)
		bytes += ipsec_meta(mb[i])->inner_len;
	c->tx_packets += done;
	c->tx_bytes += bytes;
	lc->sacnt[s->idx].packets += done;
	lc->sacnt[s->idx].bytes += bytes;
	if (done == 0)
		return;
	ipsec_sa_use(lc, s, lc->dp->now, done, bytes);

	nh = fib_lookup(lc->dp->fib, f->family, f->remote);
	if (unlikely(nh == NULL ||
		     (nh->type != NH_CONNECTED && nh->type != NH_VIA))) {
		drop_all(b, c, mb, done, nh == NULL ? DP_DROP_NO_ROUTE :
				       nh->type == NH_IFACE ? DP_DROP_TUNNEL_LOOP :
				       DP_DROP_LOCAL);
		return;
	}
	for (i = 0; i < done; i++)
		outer_fixup(f, s, mb[i], s->natt_dport);
	worker_send_l3_bulk(lc, b, c, mb, done, nh, f->family, f->remote);
}

/* Lookaside: hand prepared packets to the crypto device. */
static void
outbound_enqueue(struct dp_lcore *lc, struct burst *b, struct ipsec_sa *s,
		 struct rte_mbuf **mb, uint16_t n, struct dp_counters *c)
{
	const struct ipsec_ctx *ic = lc->dp->ipsec;
	struct rte_crypto_op *cop[DP_BURST];
	uint16_t k, sent;
	int err;

	if (rte_crypto_op_bulk_alloc(ic->cop_pool, RTE_CRYPTO_OP_TYPE_SYMMETRIC,
				     cop, n) == 0) {
		drop_all(b, c, mb, n, DP_DROP_CRYPTO_BUSY);
		return;
	}
	if (s->locked)
		rte_spinlock_lock(&s->lock);
	ipsec_sa_set_family(s, (uint8_t)(ipsec_meta(mb[0])->df & 0x80 ?
					 AF_INET6 : AF_INET));
	rte_errno = 0;
	k = rte_ipsec_pkt_crypto_prepare(&s->ss, mb, cop, n);
	err = rte_errno;
	if (s->locked)
		rte_spinlock_unlock(&s->lock);
	if (unlikely(k < n))
		drop_all(b, c, &mb[k], n - k, err == ENOSPC ? DP_DROP_NO_ROOM :
					   DP_DROP_SEQ_EXHAUSTED);
	lc->sacnt[s->idx].seq += k;
	sent = rte_cryptodev_enqueue_burst(ic->dev_id, lc->qp, cop, k);
	lc->inflight += sent;
	lc->sa_inflight[s->idx] += sent;
	if (unlikely(sent < k))
		drop_all(b, c, &mb[sent], k - sent, DP_DROP_CRYPTO_BUSY);
	if (sent < n)
		rte_mempool_put_bulk(ic->cop_pool, (void **)&cop[sent], n - sent);
}

/*
 * Traffic for an interface without an outbound SA: ask the IKE daemon for
 * one, at most once a second per interface.
 */
static void
acquire(struct dp_lcore *lc, uint32_t ifidx, struct rte_mbuf *m, int family)
{
	struct ipsec_ifstate *st = &lc->dp->ipsec->ifstate[ifidx];
	uint64_t now = lc->dp->now, last = st->acquire_last;
	struct dp_event ev = { .type = DP_EV_ACQUIRE };
	const uint8_t *l3 = rte_pktmbuf_mtod_offset(m, const uint8_t *,
					sizeof(struct rte_ether_hdr));

	if (last == now || !__atomic_compare_exchange_n(&st->acquire_last,
			&last, now, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	ev.idx = ifidx;
	ev.family = (uint8_t)family;
	if (family == AF_INET) {
		memcpy(ev.src, l3 + offsetof(struct rte_ipv4_hdr, src_addr), 4);
		memcpy(ev.dst, l3 + offsetof(struct rte_ipv4_hdr, dst_addr), 4);
	} else {
		memcpy(ev.src, l3 + offsetof(struct rte_ipv6_hdr, src_addr), 16);
		memcpy(ev.dst, l3 + offsetof(struct rte_ipv6_hdr, dst_addr), 16);
	}
	dp_event_post(lc, &ev);
}

static void
outbound_group(struct dp_lcore *lc, struct burst *b, struct rte_mbuf **pkts,
	       uint16_t n, uint32_t ifidx, int family)
{
	struct ipsec_ctx *ic = lc->dp->ipsec;
	const struct ipsec_iface *f = ipsec_iface_get(ic, ifidx);
	struct dp_counters *c = &lc->ifcnt[ifidx];
	struct ipsec_sa *s;
	struct rte_mbuf *mb[DP_BURST];
	uint16_t i, k;
	int err;

	if (unlikely(f == NULL)) {
		/* deleted: its routes are going too */
		drop_all(b, c, pkts, n, DP_DROP_NO_ROUTE);
		return;
	}
	s = f->out;
	if (unlikely(s == NULL)) {
		acquire(lc, ifidx, pkts[0], family);
		drop_all(b, c, pkts, n, DP_DROP_NO_SA);
		return;
	}
	if (unlikely(s->use.state == SA_HARD_EXPIRED)) {
		drop_all(b, c, pkts, n, DP_DROP_SA_EXPIRED);
		return;
	}
	if (unlikely(family == AF_INET6 && !f->ipv6)) {
		drop_all(b, c, pkts, n, DP_DROP_INNER_FAMILY_DISABLED);
		return;
	}
	for (i = 0, k = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct ipsec_meta *meta = ipsec_meta(m);
		uint32_t iplen = rte_pktmbuf_pkt_len(m) -
				 sizeof(struct rte_ether_hdr);
		const void *l3 = rte_pktmbuf_mtod_offset(m, const void *,
					sizeof(struct rte_ether_hdr));

		if (unlikely(f->mtu != 0 && iplen > f->mtu)) {
			worker_too_big(lc, b, c, m, NULL, ifidx, family, NULL,
				       f->mtu);
			continue;
		}
		meta->ifidx = ifidx;
		meta->inner_len = (uint16_t)iplen;
		if (family == AF_INET) {
			const struct rte_ipv4_hdr *ip = l3;

			meta->tos = ip->type_of_service;
			meta->df = (ip->fragment_offset & IPV4_DF) != 0;
			m->l3_len = (ip->version_ihl & 0x0f) * 4u;
		} else {
			const struct rte_ipv6_hdr *ip6 = l3;

			meta->tos = (uint8_t)(rte_be_to_cpu_32(ip6->vtc_flow) >> 20);
			meta->df = 0x80;	/* marks inner IPv6 */
			m->l3_len = sizeof(*ip6);
		}
		m->l2_len = sizeof(struct rte_ether_hdr);
		mb[k++] = m;
	}
	if (k == 0)
		return;
	if (!s->cpu) {
		outbound_enqueue(lc, b, s, mb, k, c);
		return;
	}

	if (s->locked)
		rte_spinlock_lock(&s->lock);
	ipsec_sa_set_family(s, (uint8_t)family);
	rte_errno = 0;
	i = rte_ipsec_pkt_cpu_prepare(&s->ss, mb, k);
	err = rte_errno;
	if (s->locked)
		rte_spinlock_unlock(&s->lock);
	/* librte_ipsec puts what it could not do after what it did */
	if (unlikely(i < k))
		drop_all(b, c, &mb[i], k - i, err == ENOSPC ? DP_DROP_NO_ROOM :
					   DP_DROP_SEQ_EXHAUSTED);
	lc->sacnt[s->idx].seq += i;
	ipsec_outbound_finish(lc, b, s, mb, i);
}

/*
 * Put the packets of each interface and family together, keeping their
 * order within each: traffic spread over many tunnels arrives
 * interleaved, and one librte_ipsec call per packet would cost more than
 * the sort (at most DP_BURST x groups compares).
 */
static void
outbound_gather(struct burst *b)
{
	struct rte_mbuf *m[DP_BURST];
	uint64_t key[DP_BURST];
	uint32_t ifx[DP_BURST];
	bool taken[DP_BURST];
	uint16_t i, j, k = 0, n = b->nout;

	for (i = 0; i < n; i++)
		key[i] = (uint64_t)b->esp_out_if[i] << 1 |
			 (pkt_family(b->esp_out[i]) == AF_INET6);
	for (i = 1; i < n && key[i] == key[0]; i++)
		;
	if (i == n)
		return;			/* one group: nearly always */
	memset(taken, 0, n);
	for (i = 0; i < n; i++) {
		if (taken[i])
			continue;
		for (j = i; j < n; j++) {
			if (taken[j] || key[j] != key[i])
				continue;
			taken[j] = true;
			m[k] = b->esp_out[j];
			ifx[k++] = b->esp_out_if[j];
		}
	}
	memcpy(b->esp_out, m, n * sizeof(m[0]));
	memcpy(b->esp_out_if, ifx, n * sizeof(ifx[0]));
}

/*
 * With many groups in a burst (traffic spread over many tunnels), fetch
 * every group's state in parallel before processing any: the interface
 * slots, then the interfaces, then their SAs and counters.  Each pass
 * waits only for the one before; without it, each group waits for its
 * own misses in turn.
 */
#define PREFETCH_GROUPS_MIN 4

static void
outbound_prefetch(struct dp_lcore *lc, const struct burst *b,
		  const uint16_t *start, uint16_t ng)
{
	const struct ipsec_ctx *ic = lc->dp->ipsec;
	const struct ipsec_iface *f[DP_BURST];
	uint16_t g;

	for (g = 0; g < ng; g++)
		rte_prefetch0(&ic->ifp[b->esp_out_if[start[g]]]);
	for (g = 0; g < ng; g++) {
		f[g] = ipsec_iface_get(ic, b->esp_out_if[start[g]]);
		if (f[g] != NULL) {
			rte_prefetch0(f[g]);
			rte_prefetch0((const char *)f[g] + RTE_CACHE_LINE_SIZE);
		}
		rte_prefetch0(&lc->ifcnt[b->esp_out_if[start[g]]]);
	}
	for (g = 0; g < ng; g++) {
		const struct ipsec_sa *s = f[g] != NULL ? f[g]->out : NULL;

		if (s != NULL) {
			ipsec_sa_prefetch(s);
			rte_prefetch0(&lc->sacnt[s->idx]);
		}
	}
}

/* One librte_ipsec call per group of packets for one interface and family. */
void
ipsec_outbound(struct dp_lcore *lc, struct burst *b)
{
	uint16_t start[DP_BURST + 1], ng = 0, i, g;

	outbound_gather(b);
	for (i = 0; i < b->nout; i++)
		if (i == 0 || b->esp_out_if[i] != b->esp_out_if[i - 1] ||
		    pkt_family(b->esp_out[i]) != pkt_family(b->esp_out[i - 1]))
			start[ng++] = i;
	start[ng] = b->nout;
	if (ng >= PREFETCH_GROUPS_MIN)
		outbound_prefetch(lc, b, start, ng);
	for (g = 0; g < ng; g++)
		outbound_group(lc, b, &b->esp_out[start[g]],
			       start[g + 1] - start[g],
			       b->esp_out_if[start[g]],
			       pkt_family(b->esp_out[start[g]]));
	b->nout = 0;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inbound ESP: ESP (or NAT-T UDP 4500) for one of our addresses.
 *
 *   find the SA (SPI, outer destination) and check the outer source
 *   -> group by SA -> librte_ipsec prepare (replay check; with CPU crypto
 *   it also decrypts and verifies) -> sort by inner family (the decrypted
 *   next header) -> process (padding, next header, window update, decap)
 *   -> our replay window (see struct replay_win) -> RFC 6040 ECN decap
 *   -> the inner packet is routed as received on the interface.
 *
 * librte_ipsec reports failures per group, not per packet, so the reason
 * of each drop is pinned down around its calls: lengths are checked
 * before prepare (so prepare can fail only on the replay window), a
 * failed ICV is marked on the mbuf by the crypto step, and a packet that
 * process refuses is unchanged if its padding or next header was bad, and
 * already decapsulated if the window refused it.
 */
#include <string.h>

#include <rte_cryptodev.h>
#include <rte_esp.h>
#include <rte_ip.h>
#include <rte_ipsec.h>
#include <rte_udp.h>

#include "dataplane/dp.h"
#include "dataplane/ipsec.h"
#include "dataplane/worker.h"

#define ECN_MASK 0x03
#define ECN_ECT1 0x01
#define ECN_ECT0 0x02
#define ECN_CE 0x03

struct esp_pkt {
	struct rte_mbuf *m;
	struct ipsec_sa *sa;
};

/*
 * Find the SA of one packet, or the reason it has none.  Returns 0 and
 * fills p, or a drop reason.
 */
static int
esp_lookup(const struct ipsec_ctx *ic, struct sad_cache *sc, struct rte_mbuf *m,
	   uint8_t hlen, struct esp_pkt *p)
{
	const uint32_t l2 = sizeof(struct rte_ether_hdr);
	const uint32_t len = rte_pktmbuf_pkt_len(m);
	const uint8_t *l3 = rte_pktmbuf_mtod_offset(m, const uint8_t *, l2);
	bool natt = hlen != (pkt_family(m) == AF_INET ?
			     (l3[0] & 0x0f) * 4u : sizeof(struct rte_ipv6_hdr));
	const struct rte_esp_hdr *esp;
	const struct ipsec_iface *f;
	const uint8_t *src, *dst;
	struct ipsec_sa *s;
	uint8_t outer_ecn;
	uint32_t payload;
	int family = pkt_family(m);

	if (natt) {
		const uint8_t *u = l3 + hlen;

		/* RFC 3948: a one-byte 0xff is a keepalive, four zero
		 * bytes mark IKE */
		if (len == l2 + hlen + 1 && rte_pktmbuf_data_len(m) > l2 + hlen &&
		    u[0] == 0xff)
			return DP_DROP_NAT_KEEPALIVE;
		if (len >= l2 + hlen + 4 && rte_pktmbuf_data_len(m) >= l2 + hlen + 4 &&
		    u[0] == 0 && u[1] == 0 && u[2] == 0 && u[3] == 0)
			return DP_DROP_IKE;
	}
	if (len < l2 + hlen + sizeof(*esp) ||
	    rte_pktmbuf_data_len(m) < l2 + hlen + sizeof(*esp))
		return DP_DROP_BAD_ESP;
	esp = (const struct rte_esp_hdr *)(l3 + hlen);
	if (family == AF_INET) {
		src = l3 + offsetof(struct rte_ipv4_hdr, src_addr);
		dst = l3 + offsetof(struct rte_ipv4_hdr, dst_addr);
		outer_ecn = l3[1] & ECN_MASK;
	} else {
		src = l3 + offsetof(struct rte_ipv6_hdr, src_addr);
		dst = l3 + offsetof(struct rte_ipv6_hdr, dst_addr);
		outer_ecn = (uint8_t)(rte_be_to_cpu_32(
			((const struct rte_ipv6_hdr *)l3)->vtc_flow) >> 20) &
			ECN_MASK;
	}
	s = ipsec_sad_lookup_cached(ic, sc, esp->spi, family, dst);
	if (s == NULL)
		return DP_DROP_UNKNOWN_SPI;
	f = ipsec_iface_get(ic, s->ifidx);
	if (unlikely(f == NULL))
		return DP_DROP_UNKNOWN_SPI;
	if (!ipsec_addr_eq(src, f->remote, family))
		return DP_DROP_BAD_TUNNEL_SOURCE;
	if (natt != f->nat_t)
		return DP_DROP_BAD_ESP;
	/* what librte_ipsec's prepare would refuse for its length */
	payload = len - l2 - hlen - sizeof(*esp);
	if (payload < (uint32_t)s->iv_len + s->icv_len + 2 ||
	    (payload - s->iv_len - s->icv_len) % s->align != 0)
		return DP_DROP_BAD_ESP;
	/* librte_ipsec reads the IV from the first segment, and puts the
	 * AAD and ESN high bits after the last one */
	if (rte_pktmbuf_data_len(m) < l2 + hlen + sizeof(*esp) + s->iv_len ||
	    rte_pktmbuf_tailroom(rte_pktmbuf_lastseg(m)) < 16)
		return DP_DROP_NO_ROOM;
	m->l2_len = l2;
	m->l3_len = hlen;
	ipsec_meta(m)->tos = outer_ecn;
	ipsec_meta(m)->ifidx = s->ifidx;
	ipsec_meta(m)->seq = rte_be_to_cpu_32(esp->seq);
	ipsec_meta(m)->sport = natt ? rte_be_to_cpu_16(((const struct rte_udp_hdr *)
				(l3 + hlen - sizeof(struct rte_udp_hdr)))->src_port) : 0;
	p->m = m;
	p->sa = s;
	return 0;
}

static inline uint32_t
esp_seq(struct rte_mbuf *m)
{
	const struct rte_esp_hdr *esp = rte_pktmbuf_mtod_offset(m,
		const struct rte_esp_hdr *, m->l2_len + m->l3_len);

	return esp->seq;
}

/* RFC 1624 eqn. 3 for a change of the TOS byte's ECN bits. */
static inline rte_be16_t
ipv4_cksum_adjust(rte_be16_t cksum, uint8_t old_ecn, uint8_t new_ecn)
{
	uint32_t sum = (uint16_t)~rte_be_to_cpu_16(cksum);

	/* the TOS byte is the low byte of the first 16-bit word */
	sum += (uint16_t)~old_ecn & 0xffff;
	sum += new_ecn;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return rte_cpu_to_be_16((uint16_t)~sum);
}

/* RFC 6040 section 4.2: returns false when the packet must be dropped. */
static bool
ecn_decap(struct rte_mbuf *m, int family, uint8_t outer)
{
	uint8_t inner, new;

	if (family == AF_INET) {
		struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);

		inner = ip->type_of_service & ECN_MASK;
	} else {
		struct rte_ipv6_hdr *ip6 = rte_pktmbuf_mtod(m, struct rte_ipv6_hdr *);

		inner = (uint8_t)(rte_be_to_cpu_32(ip6->vtc_flow) >> 20) & ECN_MASK;
	}
	new = inner;
	if (outer == ECN_CE) {
		if (inner == 0)
			return false;
		new = ECN_CE;
	} else if (outer == ECN_ECT1 && inner == ECN_ECT0) {
		new = ECN_ECT1;
	}
	if (new == inner)
		return true;
	if (family == AF_INET) {
		struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod(m, struct rte_ipv4_hdr *);

		ip->type_of_service = (ip->type_of_service & ~ECN_MASK) | new;
		/* the checksum is classify's to verify: adjust it, whatever
		 * it was (RFC 1624) */
		ip->hdr_checksum = ipv4_cksum_adjust(ip->hdr_checksum,
						     inner, new);
	} else {
		struct rte_ipv6_hdr *ip6 = rte_pktmbuf_mtod(m, struct rte_ipv6_hdr *);
		uint32_t v = rte_be_to_cpu_32(ip6->vtc_flow);

		v = (v & ~(ECN_MASK << 20)) | (uint32_t)new << 20;
		ip6->vtc_flow = rte_cpu_to_be_32(v);
	}
	return true;
}

/* The decrypted ESP next header: 4 (IPv4), 41 (IPv6), anything else. */
static inline uint8_t
esp_next_header(const struct ipsec_sa *s, struct rte_mbuf *m)
{
	uint32_t ofs = rte_pktmbuf_pkt_len(m) - s->icv_len - s->sqh_len - 1;
	const uint8_t *p;
	uint8_t v;

	p = rte_pktmbuf_read(m, ofs, 1, &v);
	return p == NULL ? 0 : *p;
}

/* RFC 4303 appendix A2: the 64-bit number of `low` given the window. */
static inline uint64_t
esn_infer(uint64_t top, uint32_t low, uint32_t win)
{
	uint32_t tl = (uint32_t)top, th = (uint32_t)(top >> 32);
	uint32_t bottom = tl - win + 1;

	if (tl >= win - 1)		/* the window is in one subspace */
		th += low < bottom;
	else if (th != 0)		/* it spans two */
		th -= low >= bottom;
	return (uint64_t)th << 32 | low;
}

/* Check and mark an authenticated packet's number; false for a replay. */
static bool
replay_accept(struct replay_win *r, uint32_t low, bool esn)
{
	uint64_t seq = esn ? esn_infer(r->top, low, r->infer_win) : low;
	uint64_t word, bit;

	if (seq == 0)
		return false;
	if (seq > r->top) {
		uint64_t d = (seq >> 6) - (r->top >> 6), i;

		if (d > (uint64_t)r->mask + 1)
			d = (uint64_t)r->mask + 1;
		for (i = 1; i <= d; i++)
			r->bits[((r->top >> 6) + i) & r->mask] = 0;
		r->top = seq;
	} else if (seq + r->win <= r->top) {
		return false;
	}
	word = (seq >> 6) & r->mask;
	bit = UINT64_C(1) << (seq & 63);
	if (r->bits[word] & bit)
		return false;
	r->bits[word] |= bit;
	return true;
}

/*
 * An authenticated NAT-T packet from another source port than before: the
 * NAT's mapping changed, and the IKE daemon is to hear of it, at most once
 * a second per SA (a peer flapping between two ports must not flood it).
 * The first packet only records the port.
 */
static void
peer_moved(struct dp_lcore *lc, struct ipsec_sa *s, uint16_t port)
{
	struct dp_event ev = { .type = DP_EV_MAPPING };
	uint64_t now = lc->dp->now;

	ev.port_old = s->use.peer_port;
	ev.port_new = port;
	s->use.peer_port = port;
	if (ev.port_old == 0 || s->use.mapping_last == now)
		return;
	s->use.mapping_last = now;
	ev.idx = s->idx;
	ev.gen = s->gen;
	dp_event_post(lc, &ev);
}

/* After decap: counters, ECN, family policy, Ethernet in front, routing. */
static void
inbound_done(struct dp_lcore *lc, struct burst *b, struct ipsec_sa *s,
	     struct rte_mbuf *m, int family)
{
	uint8_t outer_ecn = ipsec_meta(m)->tos;
	const struct ipsec_iface *f = ipsec_iface_get(lc->dp->ipsec, s->ifidx);
	struct dp_counters *c = &lc->ifcnt[s->ifidx];
	struct rte_ether_hdr *eth;
	uint32_t len = rte_pktmbuf_pkt_len(m);

	/* under the SA's lock (several workers) */
	if (s->replay != NULL &&
	    unlikely(!replay_accept(s->replay, ipsec_meta(m)->seq, s->esn))) {
		lc->sacnt[s->idx].replay++;
		burst_drop(b, c, m, DP_DROP_REPLAY);
		return;
	}
	lc->sacnt[s->idx].packets++;
	if (ipsec_meta(m)->seq > lc->sacnt[s->idx].seq)
		lc->sacnt[s->idx].seq = ipsec_meta(m)->seq;
	lc->sacnt[s->idx].bytes += len;
	c->rx_packets++;
	c->rx_bytes += len;
	if (f->nat_t && unlikely(ipsec_meta(m)->sport != s->use.peer_port))
		peer_moved(lc, s, ipsec_meta(m)->sport);
	if (unlikely(family == AF_INET6 && !f->ipv6)) {
		burst_drop(b, c, m, DP_DROP_INNER_FAMILY_DISABLED);
		return;
	}
	/* the device's checksum verdicts were about the outer header */
	m->ol_flags &= ~(RTE_MBUF_F_RX_IP_CKSUM_MASK |
			 RTE_MBUF_F_RX_L4_CKSUM_MASK);
	/* an inner header too short to hold its TOS is classify's to drop */
	if (f->ecn && rte_pktmbuf_data_len(m) >= (family == AF_INET ?
			sizeof(struct rte_ipv4_hdr) : sizeof(struct rte_ipv6_hdr)) &&
	    unlikely(!ecn_decap(m, family, outer_ecn))) {
		burst_drop(b, c, m, DP_DROP_ECN_DROP);
		return;
	}
	eth = (struct rte_ether_hdr *)rte_pktmbuf_prepend(m, sizeof(*eth));
	if (unlikely(eth == NULL)) {
		burst_drop(b, c, m, DP_DROP_NO_ROOM);
		return;
	}
	memset(eth, 0, sizeof(*eth));
	eth->ether_type = family == AF_INET ? RTE_BE16(RTE_ETHER_TYPE_IPV4) :
					      RTE_BE16(RTE_ETHER_TYPE_IPV6);
	worker_route_decapped(lc, b, m, s->ifidx);
}

/* Decrypted packets of one SA and one inner family. */
static void
inbound_process(struct dp_lcore *lc, struct burst *b, struct ipsec_sa *s,
		struct rte_mbuf **mb, uint16_t n, int family)
{
	struct dp_counters *c = &lc->ifcnt[s->ifidx];
	struct rte_mbuf *orig[DP_BURST];
	uint16_t off[DP_BURST], i, j, k;
	uint64_t before_p, before_b;

	for (i = 0; i < n; i++) {
		off[i] = mb[i]->data_off;
		orig[i] = mb[i];
	}
	ipsec_sa_set_family(s, (uint8_t)family);
	k = rte_ipsec_pkt_process(&s->ss, mb, n);
	for (i = k; i < n; i++) {
		bool untouched;

		for (j = 0; j < n && orig[j] != mb[i]; j++)
			;
		untouched = mb[i]->data_off == off[j];
		if (!untouched)
			lc->sacnt[s->idx].replay++;
		burst_drop(b, c, mb[i], untouched ? DP_DROP_BAD_ESP :
						    DP_DROP_REPLAY);
	}
	before_p = lc->sacnt[s->idx].packets;
	before_b = lc->sacnt[s->idx].bytes;
	for (i = 0; i < k; i++)
		inbound_done(lc, b, s, mb[i], family);
	if (lc->sacnt[s->idx].packets != before_p)
		ipsec_sa_use(lc, s, lc->dp->now,
			     (uint32_t)(lc->sacnt[s->idx].packets - before_p),
			     lc->sacnt[s->idx].bytes - before_b);
}

/*
 * After crypto: drop what failed its ICV, sort the rest by the decrypted
 * next header, and let librte_ipsec finish each family.
 */
void
ipsec_inbound_finish(struct dp_lcore *lc, struct burst *b,
		     struct ipsec_sa *s, struct rte_mbuf **mb, uint16_t n)
{
	struct dp_counters *c = &lc->ifcnt[s->ifidx];
	struct rte_mbuf *fam[2][DP_BURST];
	uint16_t i, nf[2] = { 0, 0 };

	for (i = 0; i < n; i++) {
		struct rte_mbuf *m = mb[i];
		uint8_t nh;
		int v;

		if (m->ol_flags & RTE_MBUF_F_RX_SEC_OFFLOAD_FAILED) {
			lc->sacnt[s->idx].auth_failed++;
			burst_drop(b, c, m, DP_DROP_AUTH_FAILED);
			continue;
		}
		nh = esp_next_header(s, m);
		if (nh != IPPROTO_IPIP && nh != IPPROTO_IPV6) {
			burst_drop(b, c, m, DP_DROP_BAD_ESP);
			continue;
		}
		v = nh == IPPROTO_IPV6;
		fam[v][nf[v]++] = m;
	}
	if (s->locked)
		rte_spinlock_lock(&s->lock);
	if (nf[0] != 0)
		inbound_process(lc, b, s, fam[0], nf[0], AF_INET);
	if (nf[1] != 0)
		inbound_process(lc, b, s, fam[1], nf[1], AF_INET6);
	if (s->locked)
		rte_spinlock_unlock(&s->lock);
}

/* One SA's packets: replay check and crypto (now, or on the device). */
static void
inbound_group(struct dp_lcore *lc, struct burst *b, struct ipsec_sa *s,
	      struct esp_pkt *p, uint16_t n)
{
	const struct ipsec_ctx *ic = lc->dp->ipsec;
	struct dp_counters *c = &lc->ifcnt[s->ifidx];
	struct rte_crypto_op *cop[DP_BURST];
	struct rte_mbuf *mb[DP_BURST];
	uint16_t i, k, sent;

	for (i = 0; i < n; i++)
		mb[i] = p[i].m;
	if (unlikely(s->use.state == SA_HARD_EXPIRED)) {
		for (i = 0; i < n; i++)
			burst_drop(b, c, mb[i], DP_DROP_SA_EXPIRED);
		return;
	}
	if (!s->cpu && rte_crypto_op_bulk_alloc(ic->cop_pool,
			RTE_CRYPTO_OP_TYPE_SYMMETRIC, cop, n) == 0) {
		for (i = 0; i < n; i++)
			burst_drop(b, c, mb[i], DP_DROP_CRYPTO_BUSY);
		return;
	}
	if (s->locked)
		rte_spinlock_lock(&s->lock);
	if (s->cpu)
		k = rte_ipsec_pkt_cpu_prepare(&s->ss, mb, n);
	else
		k = rte_ipsec_pkt_crypto_prepare(&s->ss, mb, cop, n);
	if (s->locked)
		rte_spinlock_unlock(&s->lock);
	/* lengths were checked: prepare refuses only what the window does */
	for (i = k; i < n; i++) {
		lc->sacnt[s->idx].replay++;
		burst_drop(b, c, mb[i], DP_DROP_REPLAY);
	}
	if (s->cpu) {
		ipsec_inbound_finish(lc, b, s, mb, k);
		return;
	}
	sent = rte_cryptodev_enqueue_burst(ic->dev_id, lc->qp, cop, k);
	lc->inflight += sent;
	lc->sa_inflight[s->idx] += sent;
	for (i = sent; i < k; i++)
		burst_drop(b, c, mb[i], DP_DROP_CRYPTO_BUSY);
	if (sent < n)
		rte_mempool_put_bulk(ic->cop_pool, (void **)&cop[sent], n - sent);
}

/*
 * Put each SA's packets together, keeping their order within each SA:
 * traffic of many tunnels arrives interleaved (see outbound_gather).
 */
static void
inbound_gather(struct esp_pkt *p, uint16_t n)
{
	struct esp_pkt q[DP_BURST];
	bool taken[DP_BURST];
	uint16_t i, j, k = 0;

	for (i = 1; i < n && p[i].sa == p[0].sa; i++)
		;
	if (i >= n)
		return;
	memset(taken, 0, n);
	for (i = 0; i < n; i++) {
		if (taken[i])
			continue;
		for (j = i; j < n; j++) {
			if (taken[j] || p[j].sa != p[i].sa)
				continue;
			taken[j] = true;
			q[k++] = p[j];
		}
	}
	memcpy(p, q, n * sizeof(q[0]));
}

/*
 * A burst of ESP for many tunnels: look their SAs up together and
 * prefetch them before the packets are checked one by one (each would
 * otherwise wait for its own misses in turn).  Only where the burst's
 * first packets have different SPIs (one tunnel's burst pays four
 * compares); what is malformed is left to esp_lookup.
 */
#define WARM_MIN 4

/* The SPI of ESP packet i of the burst, or false if it is too short. */
static inline bool
esp_spi(const struct burst *b, unsigned int i, rte_be32_t *spi)
{
	const uint32_t off = sizeof(struct rte_ether_hdr) + b->esp_in_hlen[i];

	if (rte_pktmbuf_data_len(b->esp_in[i]) < off + sizeof(struct rte_esp_hdr))
		return false;
	*spi = rte_pktmbuf_mtod_offset(b->esp_in[i], const struct rte_esp_hdr *,
				       off)->spi;
	return true;
}

static void
inbound_warm(struct dp_lcore *lc, const struct burst *b)
{
	rte_be32_t spi[DP_BURST], first, x;
	uint8_t fam[DP_BURST];
	const uint8_t *dst[DP_BURST];
	unsigned int i, n = 0;

	if (!esp_spi(b, 0, &first))
		return;
	for (i = 1; i < WARM_MIN; i++)
		if (!esp_spi(b, i, &x) || x == first)
			return;
	for (i = 0; i < b->nin; i++) {
		struct rte_mbuf *m = b->esp_in[i];
		const uint8_t *l3 = rte_pktmbuf_mtod_offset(m, const uint8_t *,
					sizeof(struct rte_ether_hdr));

		if (!esp_spi(b, i, &spi[n]))
			continue;
		fam[n] = (uint8_t)pkt_family(m);
		dst[n] = l3 + (fam[n] == AF_INET ?
			       offsetof(struct rte_ipv4_hdr, dst_addr) :
			       offsetof(struct rte_ipv6_hdr, dst_addr));
		n++;
	}
	ipsec_sad_warm(lc->dp->ipsec, &lc->sadcache, spi, fam, dst, n);
}

void
ipsec_inbound(struct dp_lcore *lc, struct burst *b, struct dp_counters *cport)
{
	const struct ipsec_ctx *ic = lc->dp->ipsec;
	struct esp_pkt p[DP_BURST];
	uint16_t i, j, n = 0;

	if (b->nin >= WARM_MIN)
		inbound_warm(lc, b);
	for (i = 0; i < b->nin; i++) {
		int r = esp_lookup(ic, &lc->sadcache, b->esp_in[i],
				   b->esp_in_hlen[i], &p[n]);

		if (r != 0)
			burst_drop(b, cport, b->esp_in[i], (enum dp_drop)r);
		else
			n++;
	}
	b->nin = 0;
	inbound_gather(p, n);
	/*
	 * Runs of one SA, gathered above (in their order within each SA).  With
	 * ESN a run also ends where the low 32 bits wrap: librte_ipsec infers
	 * the high bits from the window as it was before the burst, so the
	 * packets after the wrap must wait for the window to move.
	 */
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && p[j].sa == p[i].sa; j++)
			if (p[i].sa->sqh_len != 0 &&
			    rte_be_to_cpu_32(esp_seq(p[j].m)) <
			    rte_be_to_cpu_32(esp_seq(p[j - 1].m)))
				break;
		inbound_group(lc, b, p[i].sa, &p[i], j - i);
		/* on the crypto device, the run before the wrap must be done
		 * (its window moved) before the next one is prepared */
		if (j < n && p[j].sa == p[i].sa && !p[i].sa->cpu)
			worker_crypto_drain(lc);
	}
}

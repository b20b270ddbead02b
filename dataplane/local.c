/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ARP, neighbor discovery and ICMP, in the control thread (see local.h).
 *
 * Resolution.  A worker that finds no link-layer address for a next hop
 * hands the packet over (PUNT_RESOLVE).  Here it waits in a pending entry,
 * at most HOLD_MAX packets per next hop and PEND_MAX next hops, while an
 * ARP request or a neighbor solicitation goes out every second, three
 * times.  The answer makes a neighbor entry, which the workers then use,
 * and the held packets leave; without an answer they are dropped
 * (no-neighbor) with ICMP host unreachable to their sources.
 *
 * Aging.  A learned entry is confirmed by any ARP or ND word from its
 * owner.  `reachable` seconds after that (REACHABLE_S unless set), if
 * workers still send through it, it is probed by unicast, up to PROBES
 * times a second apart, and removed when none is answered; an entry nobody
 * sent through for four times `reachable` is removed.
 * Static entries are never touched.
 *
 * ICMP errors come from a token bucket (ICMP_RATE a second, ICMP_BURST at
 * once), as Linux's icmp_msgs_per_sec; echo replies are not limited.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <rte_arp.h>
#include <rte_ethdev.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include "dataplane/dp.h"
#include "dataplane/ipsec.h"
#include "dataplane/local.h"
#include "dataplane/neigh.h"
#include "dataplane/route.h"

#define PUNT_RING 4096
#define INJECT_RING 1024
#define POLL_MAX 256		/* punted packets handled per call */
#define HOLD_MAX 8
#define PEND_MAX 256
#define RESOLVE_TRIES 3
#define RESOLVE_MS 1000
#define REACHABLE_S 30		/* default; --neigh-reachable */
#define PROBES 3
#define ICMP_RATE 1000		/* per second */
#define ICMP_BURST 50
#define ICMP4_QUOTE_MAX 576	/* RFC 1812 4.3.2.3: the error's size */
#define ICMP6_QUOTE_MAX 1280	/* RFC 4443 2.4 (c) */

#define ND_RS 133
#define ND_RA 134
#define ND_NS 135
#define ND_NA 136
#define ND_OPT_SLLA 1
#define ND_OPT_TLLA 2
#define NA_ROUTER 0x80
#define NA_SOLICITED 0x40
#define NA_OVERRIDE 0x20

struct pending {
	bool used;
	struct neigh_key k;
	uint8_t tries;
	uint64_t next_ms;
	uint16_t n;
	struct rte_mbuf *m[HOLD_MAX];
};

struct local {
	struct dp *dp;
	int cfg_port[DP_MAX_PORTS];	/* ethdev -> index in cfg.ports */
	uint8_t linklocal[DP_MAX_PORTS][16];	/* fe80::EUI-64 of the MAC */
	bool link_up[DP_MAX_PORTS];
	struct pending pend[PEND_MAX];
	unsigned int npend;
	uint64_t tokens_ms;		/* ICMP tokens, in ms of rate */
	uint64_t last_ms;
	uint64_t last_sec;
	unsigned int reachable;		/* seconds */
	unsigned int rr;		/* next worker to inject through */
	struct local_stats st;
};

/* ---- small helpers ---- */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

static const struct cfg_port *
port_cfg(const struct local *l, const struct cfg *run, uint16_t port)
{
	int i = port < DP_MAX_PORTS ? l->cfg_port[port] : -1;

	return i < 0 || (size_t)i >= run->nports ? NULL : &run->ports[i];
}

/* Is a one of port's own addresses (link-local included)? */
static bool
port_owns(const struct local *l, const struct cfg *run, uint16_t port,
	  int family, const uint8_t *a)
{
	const struct cfg_port *cp = port_cfg(l, run, port);
	unsigned int i;

	if (family == AF_INET6 && memcmp(a, l->linklocal[port], 16) == 0)
		return true;
	for (i = 0; cp != NULL && i < cp->naddrs; i++)
		if (cp->addrs[i].addr.family == family &&
		    memcmp(cp->addrs[i].addr.a, a, alen(family)) == 0)
			return true;
	return false;
}

/* Is a on one of port's subnets (or link-local, for IPv6)? */
static bool
port_onlink(const struct local *l, const struct cfg *run, uint16_t port,
	    int family, const uint8_t *a)
{
	const struct cfg_port *cp = port_cfg(l, run, port);
	unsigned int i;

	if (family == AF_INET6 && a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return true;
	for (i = 0; cp != NULL && i < cp->naddrs; i++)
		if (cfg_prefix_has(&cp->addrs[i], family, a))
			return true;
	return false;
}

/*
 * The port's address to speak to `to` from: one on the same subnet, else
 * the first of the family; for IPv6, else the link-local one.
 */
static bool
port_source(const struct local *l, const struct cfg *run, uint16_t port,
	    int family, const uint8_t *to, uint8_t *src)
{
	const struct cfg_port *cp = port_cfg(l, run, port);
	const struct cfg_prefix *first = NULL;
	unsigned int i;

	for (i = 0; cp != NULL && i < cp->naddrs; i++) {
		if (cp->addrs[i].addr.family != family)
			continue;
		if (to != NULL && cfg_prefix_has(&cp->addrs[i], family, to)) {
			memcpy(src, cp->addrs[i].addr.a, alen(family));
			return true;
		}
		if (first == NULL)
			first = &cp->addrs[i];
	}
	if (first != NULL) {
		memcpy(src, first->addr.a, alen(family));
		return true;
	}
	if (family == AF_INET6) {
		memcpy(src, l->linklocal[port], 16);
		return true;
	}
	return false;
}

/*
 * A source address of ours for a packet to `to`, as a host would choose
 * it: an address of the interface the route to `to` goes out of, else any
 * address of the family.
 */
static bool
source_for(const struct local *l, const struct cfg *run, int family,
	   const uint8_t *to, uint8_t *src)
{
	const struct nexthop *nh = fib_lookup(l->dp->fib, family, to);
	size_t i, j;

	if (nh != NULL && nh->type == NH_IFACE) {
		const struct ipsec_iface *f = l->dp->ipsec->ifp[nh->port];

		for (i = 0; f != NULL && i < run->ninterfaces; i++) {
			const struct cfg_interface *ci = &run->interfaces[i];

			if (strcmp(ci->name, f->name) != 0)
				continue;
			for (j = 0; j < ci->naddrs; j++)
				if (ci->addrs[j].addr.family == family) {
					memcpy(src, ci->addrs[j].addr.a,
					       alen(family));
					return true;
				}
		}
	} else if (nh != NULL && (nh->type == NH_CONNECTED ||
				  nh->type == NH_VIA)) {
		const struct cfg_port *cp = port_cfg(l, run, nh->port);

		for (i = 0; cp != NULL && i < cp->naddrs; i++)
			if (cp->addrs[i].addr.family == family)
				return port_source(l, run, nh->port, family,
					nh->type == NH_VIA ? nh->via : to, src);
	}
	for (i = 0; i < run->nports; i++)
		for (j = 0; j < run->ports[i].naddrs; j++)
			if (run->ports[i].addrs[j].addr.family == family) {
				memcpy(src, run->ports[i].addrs[j].addr.a,
				       alen(family));
				return true;
			}
	for (i = 0; i < run->ninterfaces; i++)
		for (j = 0; j < run->interfaces[i].naddrs; j++)
			if (run->interfaces[i].addrs[j].addr.family == family) {
				memcpy(src, run->interfaces[i].addrs[j].addr.a,
				       alen(family));
				return true;
			}
	return false;
}

/* Hand a packet to a worker: INJECT_L2 out of `port`, or INJECT_ROUTE.
 * `own`: the gateway's own, not a forwarded packet that waited. */
static void
inject(struct local *l, struct rte_mbuf *m, enum dp_punt how, uint16_t port,
       bool own)
{
	struct dp *dp = l->dp;
	unsigned int i;

	ipsec_meta(m)->punt = (uint8_t)how;
	ipsec_meta(m)->punt_code = own;
	m->port = port;
	for (i = 0; i < dp->nworkers; i++) {
		struct dp_lcore *lc = dp->lc[(l->rr + i) % dp->nworkers];

		if (rte_ring_sp_enqueue(lc->inject, m) == 0) {
			l->rr = (l->rr + i + 1) % dp->nworkers;
			return;
		}
	}
	l->st.inject_full++;
	rte_pktmbuf_free(m);
}

/* Drops count on the port the packet came in on (for what came out of a
 * tunnel, the port the ESP came in on). */
static void
drop(struct local *l, struct rte_mbuf *m, uint16_t port, enum dp_drop why)
{
	if (port < DP_MAX_PORTS)
		l->dp->ctl_cnt[port].drops[why]++;
	rte_pktmbuf_free(m);
}

/* A packet that waited for a neighbor: a forwarded one counts on its
 * port, the gateway's own (punt_code) with the gateway's own. */
static void
drop_held(struct local *l, struct rte_mbuf *m, enum dp_drop why)
{
	if (ipsec_meta(m)->punt_code) {
		l->dp->ctl_lcl.drops[why]++;
		rte_pktmbuf_free(m);
		return;
	}
	drop(l, m, m->port, why);
}

/* A new frame for `port`: Ethernet header filled, `len` bytes after it. */
static struct rte_mbuf *
frame_new(struct local *l, uint16_t port, const struct rte_ether_addr *dst,
	  uint16_t type, uint16_t len, void **payload)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(l->dp->pool);
	struct rte_ether_hdr *eth;

	if (m == NULL)
		return NULL;
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m,
		(uint16_t)(sizeof(*eth) + len));
	if (eth == NULL) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	eth->dst_addr = *dst;
	eth->src_addr = l->dp->ports[port].mac;
	eth->ether_type = rte_cpu_to_be_16(type);
	memset(eth + 1, 0, len);
	*payload = eth + 1;
	return m;
}

/* ---- ARP ---- */

static void
arp_send(struct local *l, uint16_t port, uint16_t op,
	 const struct rte_ether_addr *eth_dst, const struct rte_ether_addr *tha,
	 const uint8_t *sip, const uint8_t *tip)
{
	struct rte_arp_hdr *a;
	struct rte_mbuf *m = frame_new(l, port, eth_dst, RTE_ETHER_TYPE_ARP,
				       sizeof(*a), (void **)&a);

	if (m == NULL)
		return;
	a->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	a->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = RTE_ETHER_ADDR_LEN;
	a->arp_plen = 4;
	a->arp_opcode = rte_cpu_to_be_16(op);
	a->arp_data.arp_sha = l->dp->ports[port].mac;
	memcpy(&a->arp_data.arp_sip, sip, 4);
	if (tha != NULL)
		a->arp_data.arp_tha = *tha;
	memcpy(&a->arp_data.arp_tip, tip, 4);
	if (op == RTE_ARP_OP_REPLY)
		l->st.arp_replies_out++;
	else
		l->st.arp_requests_out++;
	inject(l, m, INJECT_L2, port, true);
}

/* ---- neighbor discovery ---- */

static void
solicited_node(const uint8_t *target, uint8_t *ip, struct rte_ether_addr *mac)
{
	static const uint8_t pfx[13] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0,
					 0, 0, 0, 0x01, 0xff };

	memcpy(ip, pfx, 13);
	memcpy(ip + 13, target + 13, 3);
	mac->addr_bytes[0] = 0x33;
	mac->addr_bytes[1] = 0x33;
	memcpy(&mac->addr_bytes[2], ip + 12, 4);
}

/* An NS or NA (with our link-layer address as option) out of `port`. */
static void
nd_send(struct local *l, uint16_t port, uint8_t type, uint8_t flags,
	const struct rte_ether_addr *eth_dst, const uint8_t *src,
	const uint8_t *dst, const uint8_t *target)
{
	const uint16_t plen = 8 + 16 + 8;	/* header, target, option */
	struct rte_ipv6_hdr *ip6;
	struct rte_mbuf *m;
	uint8_t *icmp;

	m = frame_new(l, port, eth_dst, RTE_ETHER_TYPE_IPV6,
		      (uint16_t)(sizeof(*ip6) + plen), (void **)&ip6);
	if (m == NULL)
		return;
	ip6->vtc_flow = RTE_BE32(0x60000000);
	ip6->payload_len = rte_cpu_to_be_16(plen);
	ip6->proto = IPPROTO_ICMPV6;
	ip6->hop_limits = 255;
	memcpy(ip6->src_addr, src, 16);
	memcpy(ip6->dst_addr, dst, 16);
	icmp = (uint8_t *)(ip6 + 1);
	icmp[0] = type;
	icmp[4] = flags;
	memcpy(icmp + 8, target, 16);
	icmp[24] = type == ND_NS ? ND_OPT_SLLA : ND_OPT_TLLA;
	icmp[25] = 1;				/* 8 bytes */
	memcpy(icmp + 26, &l->dp->ports[port].mac, 6);
	*(uint16_t *)(icmp + 2) = rte_ipv6_udptcp_cksum(ip6, icmp);
	if (type == ND_NS)
		l->st.ns_out++;
	else
		l->st.na_out++;
	inject(l, m, INJECT_L2, port, true);
}

/* Ask for k's link-layer address: broadcast / multicast, or unicast to a
 * known one (a probe).  False when the port has no address to ask from. */
static bool
solicit(struct local *l, const struct cfg *run, const struct neigh_key *k,
	const struct rte_ether_addr *unicast)
{
	static const struct rte_ether_addr bcast = {
		.addr_bytes = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
	uint8_t src[16], dst[16];
	struct rte_ether_addr mc;

	if (!port_source(l, run, k->port, k->family, k->addr, src))
		return false;
	if (k->family == AF_INET) {
		arp_send(l, k->port, RTE_ARP_OP_REQUEST,
			 unicast != NULL ? unicast : &bcast, NULL, src,
			 k->addr);
		return true;
	}
	solicited_node(k->addr, dst, &mc);
	if (unicast != NULL)
		nd_send(l, k->port, ND_NS, 0, unicast, src, k->addr, k->addr);
	else
		nd_send(l, k->port, ND_NS, 0, &mc, src, dst, k->addr);
	return true;
}

/* ---- resolution ---- */

static struct pending *
pending_find(struct local *l, const struct neigh_key *k)
{
	unsigned int i;

	for (i = 0; i < PEND_MAX; i++)
		if (l->pend[i].used &&
		    memcmp(&l->pend[i].k, k, sizeof(*k)) == 0)
			return &l->pend[i];
	return NULL;
}

/* Send a packet that waited, now that its next hop is known. */
static void
send_resolved(struct local *l, struct rte_mbuf *m, uint16_t port,
	      const struct rte_ether_addr *lladdr)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);

	eth->dst_addr = *lladdr;
	eth->src_addr = l->dp->ports[port].mac;
	/* punt_code: the worker said whether it was the gateway's own */
	inject(l, m, INJECT_L2, port, ipsec_meta(m)->punt_code != 0);
}

static void
pending_release(struct local *l, struct pending *p,
		const struct rte_ether_addr *lladdr)
{
	unsigned int i;

	for (i = 0; i < p->n; i++)
		send_resolved(l, p->m[i], p->k.port, lladdr);
	p->used = false;
	p->n = 0;
	l->npend--;
	l->st.resolved++;
}

/* Learn k -> lladdr (solicited or not), and free what waited for it. */
static void
learn(struct local *l, const struct neigh_key *k,
      const struct rte_ether_addr *lladdr)
{
	struct pending *p = pending_find(l, k);
	const struct neigh_entry *e;

	if (neigh_learn(l->dp->neigh, k, lladdr, l->dp->now) != 0) {
		/* a static entry holds the address: it wins */
		e = neigh_lookup(l->dp->neigh, k);
		if (p != NULL && e != NULL)
			pending_release(l, p, &e->lladdr);
		return;
	}
	if (p != NULL)
		pending_release(l, p, lladdr);
}

/* Learn only what is already known or awaited (unsolicited words). */
static void
update(struct local *l, const struct neigh_key *k,
       const struct rte_ether_addr *lladdr)
{
	if (neigh_lookup(l->dp->neigh, k) != NULL || pending_find(l, k) != NULL)
		learn(l, k, lladdr);
}

static void icmp_error(struct local *l, const struct cfg *run,
		       struct rte_mbuf *m, enum icmp_kind kind, uint16_t mtu);

static void
pending_fail(struct local *l, const struct cfg *run, struct pending *p)
{
	unsigned int i;

	for (i = 0; i < p->n; i++) {
		icmp_error(l, run, p->m[i], ICMP_HOST_UNREACH, 0);
		drop_held(l, p->m[i], DP_DROP_NO_NEIGHBOR);
	}
	p->used = false;
	p->n = 0;
	l->npend--;
	l->st.resolve_failed++;
}

static void
resolve_input(struct local *l, const struct cfg *run, struct rte_mbuf *m)
{
	uint16_t port = ipsec_meta(m)->punt_arg;
	int family = rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->ether_type ==
		     RTE_BE16(RTE_ETHER_TYPE_IPV4) ? AF_INET : AF_INET6;
	const struct nexthop *nh;
	const struct neigh_entry *e;
	struct neigh_key k;
	struct pending *p;
	const uint8_t *dst;
	unsigned int i;

	dst = family == AF_INET ?
	      (const uint8_t *)&rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *,
				sizeof(struct rte_ether_hdr))->dst_addr :
	      rte_pktmbuf_mtod_offset(m, struct rte_ipv6_hdr *,
				      sizeof(struct rte_ether_hdr))->dst_addr;
	/* ESP's outer destination, or the packet's own: the route is the
	 * one the worker took, unless it changed meanwhile */
	nh = fib_lookup(l->dp->fib, family, dst);
	if (nh == NULL || (nh->type != NH_CONNECTED && nh->type != NH_VIA) ||
	    nh->port != port) {
		drop_held(l, m, DP_DROP_NO_ROUTE);
		return;
	}
	neigh_key_make(&k, port, family, nh->type == NH_VIA ? nh->via : dst);
	e = neigh_lookup(l->dp->neigh, &k);
	if (e != NULL) {		/* answered since */
		send_resolved(l, m, port, &e->lladdr);
		return;
	}
	p = pending_find(l, &k);
	if (p == NULL) {
		if (l->npend == PEND_MAX) {
			drop_held(l, m, DP_DROP_HOLD_FULL);
			return;
		}
		for (i = 0; l->pend[i].used; i++)
			;
		p = &l->pend[i];
		memset(p, 0, sizeof(*p));
		p->used = true;
		p->k = k;
		l->npend++;
		p->tries = 1;
		p->next_ms = now_ms() + RESOLVE_MS;
		if (!solicit(l, run, &k, NULL))
			p->tries = RESOLVE_TRIES;	/* fails at once */
	}
	if (p->n == HOLD_MAX) {
		drop_held(l, m, DP_DROP_HOLD_FULL);
		return;
	}
	p->m[p->n++] = m;
}

static void
pending_timers(struct local *l, const struct cfg *run, uint64_t ms)
{
	unsigned int i;

	for (i = 0; i < PEND_MAX && l->npend != 0; i++) {
		struct pending *p = &l->pend[i];

		if (!p->used || p->next_ms > ms)
			continue;
		if (p->tries >= RESOLVE_TRIES) {
			pending_fail(l, run, p);
			continue;
		}
		p->tries++;
		p->next_ms = ms + RESOLVE_MS;
		solicit(l, run, &p->k, NULL);
	}
}

/* Probe what is in use and not confirmed lately; forget what is not. */
static void
neigh_age(struct local *l, const struct cfg *run)
{
	struct neigh_key gone[64];
	const struct neigh_entry *ce;
	unsigned int ngone = 0, i;
	uint64_t now = l->dp->now;
	uint32_t it = 0;

	while (neigh_iterate(l->dp->neigh, &it, &ce) == 0 && ngone < 64) {
		struct neigh_entry *e = (struct neigh_entry *)(uintptr_t)ce;
		uint64_t last = RTE_MAX(e->used, e->confirmed);

		if (e->is_static || now < e->confirmed + l->reachable)
			continue;
		if (now < e->used + l->reachable) {
			if (e->probes >= PROBES) {
				gone[ngone++] = e->key;
				continue;
			}
			e->probes++;
			l->st.probes++;
			solicit(l, run, &e->key, &e->lladdr);
		} else if (now >= last + 4ull * l->reachable) {
			gone[ngone++] = e->key;
		}
	}
	for (i = 0; i < ngone; i++)
		if (neigh_del(l->dp->neigh, &gone[i]) == 0)
			l->st.neighbors_expired++;
}

/* Gratuitous ARP and unsolicited NA for a port's addresses. */
static void
announce(struct local *l, const struct cfg *run, uint16_t port)
{
	static const struct rte_ether_addr bcast = {
		.addr_bytes = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
	static const struct rte_ether_addr allnodes_mac = {
		.addr_bytes = { 0x33, 0x33, 0, 0, 0, 1 } };
	static const uint8_t allnodes[16] = { 0xff, 0x02, [15] = 1 };
	const struct cfg_port *cp = port_cfg(l, run, port);
	unsigned int i;

	for (i = 0; cp != NULL && i < cp->naddrs; i++) {
		const uint8_t *a = cp->addrs[i].addr.a;

		if (cp->addrs[i].addr.family == AF_INET)
			arp_send(l, port, RTE_ARP_OP_REQUEST, &bcast, NULL, a,
				 a);
		else
			nd_send(l, port, ND_NA, NA_ROUTER | NA_OVERRIDE,
				&allnodes_mac, a, allnodes, a);
		l->st.announcements++;
	}
}

static void
links_watch(struct local *l, const struct cfg *run)
{
	unsigned int i;

	for (i = 0; i < l->dp->nports; i++) {
		uint16_t port = l->dp->port_list[i];
		struct rte_eth_link link;

		if (rte_eth_link_get_nowait(port, &link) != 0)
			continue;
		if (link.link_status == RTE_ETH_LINK_UP && !l->link_up[port])
			announce(l, run, port);
		l->link_up[port] = link.link_status == RTE_ETH_LINK_UP;
	}
}

static void
arp_input(struct local *l, const struct cfg *run, struct rte_mbuf *m)
{
	uint16_t port = m->port;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);
	struct rte_ether_addr sha;
	uint8_t sip[4], tip[4];
	struct neigh_key k;
	uint16_t op;
	bool mine;

	l->st.arp_in++;
	if (rte_pktmbuf_data_len(m) < sizeof(*eth) + sizeof(*a) ||
	    a->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
	    a->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) ||
	    a->arp_hlen != RTE_ETHER_ADDR_LEN || a->arp_plen != 4 ||
	    !rte_is_unicast_ether_addr(&a->arp_data.arp_sha) ||
	    rte_is_zero_ether_addr(&a->arp_data.arp_sha)) {
		drop(l, m, port, DP_DROP_BAD_ARP);
		return;
	}
	op = rte_be_to_cpu_16(a->arp_opcode);
	if (op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY) {
		drop(l, m, port, DP_DROP_BAD_ARP);
		return;
	}
	sha = a->arp_data.arp_sha;
	memcpy(sip, &a->arp_data.arp_sip, 4);
	memcpy(tip, &a->arp_data.arp_tip, 4);
	mine = port_owns(l, run, port, AF_INET, tip);
	if (port_owns(l, run, port, AF_INET, sip)) {
		/* someone else claims our address, or our own echo */
		drop(l, m, port, DP_DROP_ARP_OTHER);
		return;
	}
	neigh_key_make(&k, port, AF_INET, sip);
	/* RFC 826: the sender of a request for us, or an update of what we
	 * know (gratuitous ARP included); nothing from 0.0.0.0 (probes) */
	if ((sip[0] | sip[1] | sip[2] | sip[3]) != 0 &&
	    port_onlink(l, run, port, AF_INET, sip)) {
		if (mine)
			learn(l, &k, &sha);
		else
			update(l, &k, &sha);
	}
	if (op == RTE_ARP_OP_REQUEST && mine) {
		arp_send(l, port, RTE_ARP_OP_REPLY, &sha, &sha, tip, sip);
		rte_pktmbuf_free(m);
		return;
	}
	if (op == RTE_ARP_OP_REPLY && mine) {
		rte_pktmbuf_free(m);
		return;
	}
	drop(l, m, port, DP_DROP_ARP_OTHER);
}

/* The value of ND option `type` (a link-layer address), or NULL.  RFC
 * 4861 4.6: options are multiples of 8 bytes, none of length 0. */
static const struct rte_ether_addr *
nd_option(const uint8_t *opt, uint32_t len, uint8_t type, bool *bad)
{
	const struct rte_ether_addr *found = NULL;

	while (len >= 2) {
		uint32_t olen = opt[1] * 8u;

		if (olen == 0 || olen > len) {
			*bad = true;
			return NULL;
		}
		if (opt[0] == type && olen >= 8)
			found = (const struct rte_ether_addr *)(opt + 2);
		opt += olen;
		len -= olen;
	}
	return found;
}

static bool
is_unspecified(const uint8_t *a)
{
	static const uint8_t zero[16];

	return memcmp(a, zero, 16) == 0;
}

/* A neighbor solicitation or advertisement (checked: hop limit 255,
 * checksum, code 0). */
static void
nd_input(struct local *l, const struct cfg *run, struct rte_mbuf *m,
	 struct rte_ipv6_hdr *ip6, uint8_t *icmp, uint32_t len)
{
	static const struct rte_ether_addr allnodes_mac = {
		.addr_bytes = { 0x33, 0x33, 0, 0, 0, 1 } };
	static const uint8_t allnodes[16] = { 0xff, 0x02, [15] = 1 };
	uint16_t port = m->port;
	const struct rte_ether_addr *ll;
	uint8_t target[16], src[16];
	struct neigh_key k;
	bool bad = false;

	l->st.nd_in++;
	if (len < 24 || icmp[8] == 0xff) {	/* a multicast target */
		drop(l, m, port, DP_DROP_BAD_ND);
		return;
	}
	memcpy(target, icmp + 8, 16);
	memcpy(src, ip6->src_addr, 16);
	if (icmp[0] == ND_NS) {
		ll = nd_option(icmp + 24, len - 24, ND_OPT_SLLA, &bad);
		if (bad || (is_unspecified(src) && ll != NULL)) {
			drop(l, m, port, DP_DROP_BAD_ND);
			return;
		}
		if (!port_owns(l, run, port, AF_INET6, target)) {
			drop(l, m, port, DP_DROP_ND_OTHER);
			return;
		}
		if (is_unspecified(src)) {
			/* duplicate address detection of our address:
			 * defend it (RFC 4862 5.4.3) */
			nd_send(l, port, ND_NA, NA_ROUTER | NA_OVERRIDE,
				&allnodes_mac, target, allnodes, target);
			rte_pktmbuf_free(m);
			return;
		}
		neigh_key_make(&k, port, AF_INET6, src);
		if (ll != NULL && rte_is_unicast_ether_addr(ll) &&
		    port_onlink(l, run, port, AF_INET6, src))
			learn(l, &k, ll);
		nd_send(l, port, ND_NA, NA_ROUTER | NA_SOLICITED | NA_OVERRIDE,
			ll != NULL ? ll :
			&rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->src_addr,
			target, src, target);
		rte_pktmbuf_free(m);
		return;
	}
	/* ND_NA */
	ll = nd_option(icmp + 24, len - 24, ND_OPT_TLLA, &bad);
	if (bad || ((icmp[4] & NA_SOLICITED) && ip6->dst_addr[0] == 0xff)) {
		drop(l, m, port, DP_DROP_BAD_ND);
		return;
	}
	neigh_key_make(&k, port, AF_INET6, target);
	if (ll == NULL || !rte_is_unicast_ether_addr(ll) ||
	    port_owns(l, run, port, AF_INET6, target) ||
	    (neigh_lookup(l->dp->neigh, &k) == NULL &&
	     pending_find(l, &k) == NULL)) {
		drop(l, m, port, DP_DROP_ND_OTHER);
		return;
	}
	update(l, &k, ll);
	rte_pktmbuf_free(m);
}

/* ---- ICMP ---- */

static bool
icmp_token(struct local *l)
{
	uint64_t ms = now_ms();

	l->tokens_ms += (ms - l->last_ms) * ICMP_RATE;
	l->last_ms = ms;
	if (l->tokens_ms > (uint64_t)ICMP_BURST * 1000)
		l->tokens_ms = (uint64_t)ICMP_BURST * 1000;
	if (l->tokens_ms < 1000) {
		l->st.icmp_rate_limited++;
		return false;
	}
	l->tokens_ms -= 1000;
	return true;
}

/* A 32-bit field after a 14-byte Ethernet header is 2-byte aligned only. */
static void
put_be32(uint8_t *p, uint32_t v)
{
	rte_be32_t b = rte_cpu_to_be_32(v);

	memcpy(p, &b, sizeof(b));
}

/* The start of the offending packet, into the error (across segments). */
static void
quote_copy(const struct rte_mbuf *m, uint32_t off, uint32_t len, uint8_t *to)
{
	const void *p = rte_pktmbuf_read(m, off, len, to);

	if (p != NULL && p != to)
		memcpy(to, p, len);
}

static bool
icmp4_is_error(uint8_t type)
{
	return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

/*
 * ICMP `kind` about m (which the caller still owns): never about an ICMP
 * error, a fragment other than the first, or a packet from an address
 * that is not a unicast host (RFC 1812 4.3.2.7, RFC 4443 2.4 (e)).
 */
static void
icmp_error(struct local *l, const struct cfg *run, struct rte_mbuf *m,
	   enum icmp_kind kind, uint16_t mtu)
{
	const uint32_t off = sizeof(struct rte_ether_hdr);
	uint32_t iplen = rte_pktmbuf_pkt_len(m) - off, quote;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	static const struct rte_ether_addr none;
	/* about a packet for one of our addresses */
	bool to_us = kind == ICMP_PORT_UNREACH || kind == ICMP_PROTO_UNREACH;
	struct rte_mbuf *e;
	uint8_t *icmp;

	if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
		const struct rte_ipv4_hdr *ip = (const void *)(eth + 1);
		uint32_t hlen = (ip->version_ihl & 0x0f) * 4u;
		const uint8_t *s = (const uint8_t *)&ip->src_addr;
		struct rte_ipv4_hdr *o;
		static const uint8_t type[] = {
			[ICMP_TIME_EXCEEDED] = 11, [ICMP_NET_UNREACH] = 3,
			[ICMP_HOST_UNREACH] = 3, [ICMP_TOO_BIG] = 3,
			[ICMP_PORT_UNREACH] = 3, [ICMP_PROTO_UNREACH] = 3 };
		static const uint8_t code[] = {
			[ICMP_TIME_EXCEEDED] = 0, [ICMP_NET_UNREACH] = 0,
			[ICMP_HOST_UNREACH] = 1, [ICMP_TOO_BIG] = 4,
			[ICMP_PORT_UNREACH] = 3, [ICMP_PROTO_UNREACH] = 2 };

		if ((ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_OFFSET_MASK)) ||
		    s[0] == 0 || s[0] == 127 || s[0] >= 224 ||
		    (ip->next_proto_id == IPPROTO_ICMP &&
		     (rte_pktmbuf_data_len(m) < off + hlen + 1 ||
		      icmp4_is_error(*((const uint8_t *)ip + hlen))))) {
			l->st.icmp_not_sent++;
			return;
		}
		if (!icmp_token(l))
			return;
		quote = RTE_MIN(iplen, (uint32_t)(ICMP4_QUOTE_MAX - 28));
		e = frame_new(l, 0, &none, RTE_ETHER_TYPE_IPV4,
			      (uint16_t)(28 + quote), (void **)&o);
		if (e == NULL)
			return;
		if (to_us)	/* RFC 1812 4.3.2.4: from the address it was for */
			o->src_addr = ip->dst_addr;
		else if (!source_for(l, run, AF_INET, s,
				     (uint8_t *)&o->src_addr)) {
			l->st.icmp_not_sent++;
			rte_pktmbuf_free(e);
			return;
		}
		o->version_ihl = 0x45;
		o->type_of_service = 0xc0;	/* internetwork control */
		o->total_length = rte_cpu_to_be_16((uint16_t)(28 + quote));
		o->time_to_live = 64;
		o->next_proto_id = IPPROTO_ICMP;
		o->dst_addr = ip->src_addr;
		o->hdr_checksum = rte_ipv4_cksum(o);
		icmp = (uint8_t *)(o + 1);
		icmp[0] = type[kind];
		icmp[1] = code[kind];
		if (kind == ICMP_TOO_BIG)
			*(rte_be16_t *)(icmp + 6) = rte_cpu_to_be_16(mtu);
		quote_copy(m, off, quote, icmp + 8);
		*(uint16_t *)(icmp + 2) = (uint16_t)~rte_raw_cksum(icmp,
							8 + quote);
	} else {
		const struct rte_ipv6_hdr *ip6 = (const void *)(eth + 1);
		struct rte_ipv6_hdr *o;
		static const uint8_t type[] = {
			[ICMP_TIME_EXCEEDED] = 3, [ICMP_NET_UNREACH] = 1,
			[ICMP_HOST_UNREACH] = 1, [ICMP_TOO_BIG] = 2,
			[ICMP_PORT_UNREACH] = 1, [ICMP_PROTO_UNREACH] = 4 };
		static const uint8_t code[] = {
			[ICMP_TIME_EXCEEDED] = 0, [ICMP_NET_UNREACH] = 0,
			[ICMP_HOST_UNREACH] = 3, [ICMP_TOO_BIG] = 0,
			[ICMP_PORT_UNREACH] = 4, [ICMP_PROTO_UNREACH] = 1 };

		if (ip6->src_addr[0] == 0xff || is_unspecified(ip6->src_addr) ||
		    (ip6->proto == IPPROTO_ICMPV6 &&
		     (rte_pktmbuf_data_len(m) < off + sizeof(*ip6) + 1 ||
		      *(const uint8_t *)(ip6 + 1) < 128))) {
			l->st.icmp_not_sent++;
			return;
		}
		if (!icmp_token(l))
			return;
		quote = RTE_MIN(iplen, (uint32_t)(ICMP6_QUOTE_MAX - 48));
		e = frame_new(l, 0, &none, RTE_ETHER_TYPE_IPV6,
			      (uint16_t)(48 + quote), (void **)&o);
		if (e == NULL)
			return;
		if (to_us)	/* RFC 4443 2.2 (b) */
			memcpy(o->src_addr, ip6->dst_addr, 16);
		else if (!source_for(l, run, AF_INET6, ip6->src_addr,
				     o->src_addr)) {
			l->st.icmp_not_sent++;
			rte_pktmbuf_free(e);
			return;
		}
		o->vtc_flow = RTE_BE32(0x60000000);
		o->payload_len = rte_cpu_to_be_16((uint16_t)(8 + quote));
		o->proto = IPPROTO_ICMPV6;
		o->hop_limits = 64;
		memcpy(o->dst_addr, ip6->src_addr, 16);
		icmp = (uint8_t *)(o + 1);
		icmp[0] = type[kind];
		icmp[1] = code[kind];
		if (kind == ICMP_TOO_BIG)
			put_be32(icmp + 4, mtu);
		else if (kind == ICMP_PROTO_UNREACH)
			put_be32(icmp + 4, 6);	/* the next header field */
		quote_copy(m, off, quote, icmp + 8);
		*(uint16_t *)(icmp + 2) = rte_ipv6_udptcp_cksum(o, icmp);
	}
	if (kind == ICMP_TIME_EXCEEDED)
		l->st.icmp_time_exceeded++;
	else if (kind == ICMP_TOO_BIG)
		l->st.icmp_too_big++;
	else
		l->st.icmp_unreachable++;
	inject(l, e, INJECT_ROUTE, m->port, true);
}

/*
 * An IP packet for one of our addresses (from a port or out of a tunnel):
 * echo requests are answered, ND is served, UDP gets port unreachable,
 * other protocols but TCP protocol unreachable; all else is dropped as
 * `local`.  `port` is where drops are counted.
 */
static void
local_input(struct local *l, const struct cfg *run, struct rte_mbuf *m,
	    bool from_port)
{
	const uint32_t off = sizeof(struct rte_ether_hdr);
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	uint32_t dlen = rte_pktmbuf_data_len(m);
	uint16_t port = m->port;

	if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV4)) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
		uint32_t hlen = (ip->version_ihl & 0x0f) * 4u;
		uint32_t len = rte_be_to_cpu_16(ip->total_length) - hlen;
		uint8_t *icmp = (uint8_t *)ip + hlen;
		uint16_t sum;
		rte_be32_t a;

		if (ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_MF_FLAG |
						   RTE_IPV4_HDR_OFFSET_MASK)) {
			drop(l, m, port, DP_DROP_LOCAL);	/* no reassembly */
			return;
		}
		if (ip->next_proto_id == IPPROTO_UDP) {
			const struct rte_udp_hdr *u = (const void *)icmp;

			if (dlen >= off + hlen + sizeof(*u) &&
			    u->dst_port != RTE_BE16(500) &&
			    u->dst_port != RTE_BE16(4500))
				icmp_error(l, run, m, ICMP_PORT_UNREACH, 0);
			drop(l, m, port, DP_DROP_LOCAL);
			return;
		}
		if (ip->next_proto_id != IPPROTO_ICMP) {
			if (ip->next_proto_id != IPPROTO_TCP)
				icmp_error(l, run, m, ICMP_PROTO_UNREACH, 0);
			drop(l, m, port, DP_DROP_LOCAL);
			return;
		}
		if (len < 8 || dlen < off + hlen + 8 ||
		    rte_raw_cksum_mbuf(m, off + hlen, len, &sum) != 0 ||
		    sum != 0xffff) {
			drop(l, m, port, DP_DROP_BAD_HEADER);
			return;
		}
		if (icmp[0] != RTE_IP_ICMP_ECHO_REQUEST || icmp[1] != 0) {
			drop(l, m, port, DP_DROP_LOCAL);
			return;
		}
		icmp[0] = RTE_IP_ICMP_ECHO_REPLY;
		*(uint16_t *)(icmp + 2) = 0;
		rte_raw_cksum_mbuf(m, off + hlen, len, &sum);
		*(uint16_t *)(icmp + 2) = (uint16_t)~sum;
		a = ip->src_addr;
		ip->src_addr = ip->dst_addr;
		ip->dst_addr = a;
		ip->time_to_live = 64;
		ip->hdr_checksum = 0;
		ip->hdr_checksum = rte_ipv4_cksum(ip);
		l->st.echo_replies++;
		inject(l, m, INJECT_ROUTE, port, true);
		return;
	} else {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)(eth + 1);
		uint32_t len = rte_be_to_cpu_16(ip6->payload_len);
		uint8_t *icmp = (uint8_t *)(ip6 + 1);
		uint8_t a[16];

		if (ip6->proto == IPPROTO_UDP) {
			const struct rte_udp_hdr *u = (const void *)icmp;

			if (dlen >= off + sizeof(*ip6) + sizeof(*u) &&
			    u->dst_port != RTE_BE16(500) &&
			    u->dst_port != RTE_BE16(4500))
				icmp_error(l, run, m, ICMP_PORT_UNREACH, 0);
			drop(l, m, port, DP_DROP_LOCAL);
			return;
		}
		if (ip6->proto != IPPROTO_ICMPV6) {
			drop(l, m, port, DP_DROP_LOCAL);
			return;
		}
		if (len < 8 || dlen < off + sizeof(*ip6) + 8 ||
		    rte_ipv6_udptcp_cksum_mbuf_verify(m, ip6,
			(uint16_t)(off + sizeof(*ip6))) != 0) {
			drop(l, m, port, DP_DROP_BAD_ND);
			return;
		}
		if (icmp[0] == ND_NS || icmp[0] == ND_NA) {
			if (!from_port || ip6->hop_limits != 255 ||
			    icmp[1] != 0 || dlen < off + sizeof(*ip6) + len) {
				drop(l, m, port, DP_DROP_BAD_ND);
				return;
			}
			nd_input(l, run, m, ip6, icmp, len);
			return;
		}
		if (icmp[0] != 128 || icmp[1] != 0 || ip6->dst_addr[0] == 0xff) {
			drop(l, m, port, from_port && (icmp[0] == ND_RS ||
				icmp[0] == ND_RA || icmp[0] == 137 ||
				(icmp[0] >= 130 && icmp[0] <= 132) ||
				icmp[0] == 143 || ip6->dst_addr[0] == 0xff) ?
				DP_DROP_ND_OTHER : DP_DROP_LOCAL);
			return;
		}
		/* echo request, to a global or a link-local address of ours */
		if (!from_port && ip6->dst_addr[0] == 0xfe) {
			drop(l, m, port, DP_DROP_LOCAL);
			return;
		}
		if (ip6->dst_addr[0] == 0xfe &&
		    !port_owns(l, run, port, AF_INET6, ip6->dst_addr)) {
			drop(l, m, port, DP_DROP_ND_OTHER);
			return;
		}
		icmp[0] = 129;
		memcpy(a, ip6->src_addr, 16);
		memcpy(ip6->src_addr, ip6->dst_addr, 16);
		memcpy(ip6->dst_addr, a, 16);
		ip6->hop_limits = 64;
		*(uint16_t *)(icmp + 2) = 0;
		*(uint16_t *)(icmp + 2) = rte_ipv6_udptcp_cksum_mbuf(m, ip6,
			(uint16_t)(off + sizeof(*ip6)));
		l->st.echo_replies++;
		if (ip6->dst_addr[0] == 0xfe) {
			/* link-local: straight back where it came from */
			eth->dst_addr = eth->src_addr;
			eth->src_addr = l->dp->ports[port].mac;
			inject(l, m, INJECT_L2, port, true);
			return;
		}
		inject(l, m, INJECT_ROUTE, port, true);
	}
}

/* ---- the control thread's entry points ---- */

void
local_poll(struct local *l, const struct cfg *run)
{
	struct rte_mbuf *pkts[32];
	unsigned int n, i, done = 0;
	uint64_t ms;

	while (done < POLL_MAX &&
	       (n = rte_ring_sc_dequeue_burst(l->dp->punt, (void **)pkts, 32,
					      NULL)) != 0) {
		done += n;
		for (i = 0; i < n; i++) {
			struct rte_mbuf *m = pkts[i];
			struct ipsec_meta *meta = ipsec_meta(m);

			switch (meta->punt) {
			case PUNT_ARP:
				arp_input(l, run, m);
				break;
			case PUNT_ND:
				local_input(l, run, m, true);
				break;
			case PUNT_LOCAL:
				/* punt_code: out of a tunnel (m->port is
				 * then the outer packet's port) */
				local_input(l, run, m, meta->punt_code == 0);
				break;
			case PUNT_RESOLVE:
				resolve_input(l, run, m);
				break;
			case PUNT_ICMP:
				icmp_error(l, run, m, (enum icmp_kind)
					   meta->punt_code, meta->punt_arg);
				rte_pktmbuf_free(m);
				break;
			default:
				drop(l, m, m->port, DP_DROP_LOCAL);
			}
		}
	}
	ms = now_ms();
	if (l->npend != 0)
		pending_timers(l, run, ms);
	if (l->dp->now != l->last_sec) {
		l->last_sec = l->dp->now;
		links_watch(l, run);
		neigh_age(l, run);
	}
}

struct local *
local_create(struct dp *dp)
{
	struct local *l = calloc(1, sizeof(*l));
	char name[RTE_RING_NAMESIZE];
	unsigned int i, w;

	if (l == NULL)
		return NULL;
	l->dp = dp;
	l->reachable = REACHABLE_S;
	l->last_ms = now_ms();
	l->tokens_ms = (uint64_t)ICMP_BURST * 1000;
	for (i = 0; i < DP_MAX_PORTS; i++)
		l->cfg_port[i] = -1;
	for (i = 0; i < dp->nports; i++) {
		uint16_t p = dp->port_list[i];
		const uint8_t *mac = dp->ports[p].mac.addr_bytes;
		uint8_t *ll = l->linklocal[p];

		/* port_list follows the configuration's ports one for one */
		l->cfg_port[p] = (int)i;
		/* RFC 4291 appendix A: fe80::, then the modified EUI-64 */
		ll[0] = 0xfe;
		ll[1] = 0x80;
		ll[8] = mac[0] ^ 0x02;
		ll[9] = mac[1];
		ll[10] = mac[2];
		ll[11] = 0xff;
		ll[12] = 0xfe;
		ll[13] = mac[3];
		ll[14] = mac[4];
		ll[15] = mac[5];
	}
	dp->punt = rte_ring_create("punt", PUNT_RING, (int)rte_socket_id(),
				   RING_F_SC_DEQ);
	if (dp->punt == NULL)
		goto fail;
	for (w = 0; w < dp->nworkers; w++) {
		snprintf(name, sizeof(name), "inject%u", w);
		dp->lc[w]->inject = rte_ring_create(name, INJECT_RING,
			(int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (dp->lc[w]->inject == NULL)
			goto fail;
	}
	dp->local = l;
	return l;
fail:
	local_free(l);
	return NULL;
}

static void
ring_drain(struct rte_ring *r)
{
	struct rte_mbuf *m;

	while (r != NULL && rte_ring_dequeue(r, (void **)&m) == 0)
		rte_pktmbuf_free(m);
}

void
local_stop(struct local *l)
{
	unsigned int i, w;

	if (l == NULL)
		return;
	/* what waits for a neighbor is dropped as it would have been */
	for (i = 0; i < PEND_MAX; i++) {
		struct pending *p = &l->pend[i];
		unsigned int j;

		for (j = 0; p->used && j < p->n; j++)
			drop_held(l, p->m[j], DP_DROP_NO_NEIGHBOR);
		p->used = false;
		p->n = 0;
	}
	l->npend = 0;
	ring_drain(l->dp->punt);
	for (w = 0; w < l->dp->nworkers; w++)
		ring_drain(l->dp->lc[w]->inject);
}

void
local_free(struct local *l)
{
	unsigned int w;

	if (l == NULL)
		return;
	local_stop(l);
	rte_ring_free(l->dp->punt);
	l->dp->punt = NULL;
	for (w = 0; w < l->dp->nworkers; w++) {
		rte_ring_free(l->dp->lc[w]->inject);
		l->dp->lc[w]->inject = NULL;
	}
	l->dp->local = NULL;
	free(l);
}

void
local_set_reachable(struct local *l, unsigned int seconds)
{
	l->reachable = seconds;
}

const char *
local_neigh_state(const struct local *l, const struct neigh_entry *e)
{
	uint64_t now = l->dp->now;

	if (e->is_static)
		return "static";
	if (e->probes != 0)
		return "probe";
	return now < e->confirmed + l->reachable ? "reachable" : "stale";
}

int
local_pending(const struct local *l, unsigned int *next, struct neigh_key *k,
	      unsigned int *held)
{
	for (; *next < PEND_MAX; (*next)++)
		if (l->pend[*next].used) {
			*k = l->pend[*next].k;
			*held = l->pend[*next].n;
			(*next)++;
			return 0;
		}
	return -1;
}

void
local_stats_json(const struct local *l, FILE *f)
{
	uint64_t icmp_lost = 0, frags = 0;
	unsigned int w;

	for (w = 0; w < l->dp->nworkers; w++) {
		icmp_lost += l->dp->lc[w]->icmp_lost;
		frags += l->dp->lc[w]->fragments;
	}
#define LOCAL_STAT_JSON(id, name) \
	fprintf(f, "\"%s\": %" PRIu64 ", ", name, l->st.id);
	LOCAL_STATS(LOCAL_STAT_JSON)
#undef LOCAL_STAT_JSON
	fprintf(f, "\"icmp-lost\": %" PRIu64 ", \"fragments-out\": %" PRIu64
		", \"pending\": %u", icmp_lost, frags, l->npend);
}

void
local_stats_reset(struct local *l)
{
	unsigned int w;

	memset(&l->st, 0, sizeof(l->st));
	for (w = 0; w < l->dp->nworkers; w++) {
		l->dp->lc[w]->icmp_lost = 0;
		l->dp->lc[w]->fragments = 0;
	}
}

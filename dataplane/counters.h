/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Counters.  Each worker owns a struct dp_counters per port and adds to it
 * with plain increments; the main thread sums the workers' copies when it
 * reports.  Nothing on the fast path is shared between lcores.
 */
#ifndef IPSECGW_COUNTERS_H
#define IPSECGW_COUNTERS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Every reason a packet can be dropped, named once.  The text is what
 * --stats-json, the exit table and (later) ipsecctl print; tests assert on
 * it, so a name, once shipped, stays.
 */
#define DP_DROP_REASONS(X)                                                 \
	X(NOT_IP, "not-ip", "runt frame or ethertype neither IPv4 nor IPv6")  \
	X(BAD_HEADER, "bad-header", "truncated or inconsistent IP header")    \
	X(BAD_CHECKSUM, "bad-checksum", "IPv4 header checksum wrong")         \
	X(OTHER_HOST, "other-host", "unicast to another MAC address")         \
	X(MARTIAN, "martian", "source or destination never forwarded")        \
	X(MULTICAST, "multicast", "multicast or broadcast destination")       \
	X(NO_ROUTE, "no-route", "no route to the destination")                \
	X(NO_NEIGHBOR, "no-neighbor", "next hop did not answer ARP / ND")     \
	X(TTL_EXCEEDED, "ttl-exceeded", "TTL or hop limit expired")           \
	X(MTU, "mtu", "larger than the output port's MTU")                    \
	X(LOCAL, "local", "addressed to the gateway itself")                  \
	X(TX_FULL, "tx-full", "output queue full")                           \
	X(NO_SA, "no-sa", "routed into an interface without outbound SA")    \
	X(UNKNOWN_SPI, "unknown-spi", "ESP for no SA of ours")               \
	X(BAD_TUNNEL_SOURCE, "bad-tunnel-source",                             \
	  "ESP from an outer source other than the tunnel's remote")          \
	X(AUTH_FAILED, "auth-failed", "ESP integrity check failed")           \
	X(REPLAY, "replay", "ESP sequence number replayed or too old")        \
	X(SEQ_EXHAUSTED, "seq-exhausted", "outbound sequence numbers used up") \
	X(SA_EXPIRED, "sa-expired", "the SA reached its hard lifetime")       \
	X(ECN_DROP, "ecn-drop", "outer CE on a not-ECT inner packet (RFC 6040)") \
	X(INNER_FAMILY_DISABLED, "inner-family-disabled",                     \
	  "inner IPv6 on an interface with ipv6 off")                         \
	X(CRYPTO_BUSY, "crypto-busy", "crypto device queue full")             \
	X(CRYPTO_FAILED, "crypto-failed", "the crypto device failed a packet") \
	X(BAD_ESP, "bad-esp", "truncated or malformed ESP, bad padding")      \
	X(NO_ROOM, "no-room", "no head or tail room in the buffer for ESP")   \
	X(TUNNEL_LOOP, "tunnel-loop", "tunnel remote routed into a tunnel")   \
	X(IKE, "ike", "IKE on UDP 4500 (no exception path yet)")              \
	X(NAT_KEEPALIVE, "nat-keepalive", "NAT-T keepalive")                  \
	X(PUNT_FULL, "punt-full", "the control thread's queue was full")     \
	X(HOLD_FULL, "hold-full",                                             \
	  "too many packets waiting for one neighbor, or for neighbors")      \
	X(ARP_OTHER, "arp-other", "ARP neither for nor about us")             \
	X(BAD_ARP, "bad-arp", "malformed ARP")                                \
	X(ND_OTHER, "nd-other",                                               \
	  "ICMPv6 to a multicast or link-local address that we do not serve") \
	X(BAD_ND, "bad-nd", "malformed neighbor discovery or ICMPv6")         \
	X(FRAG_FAILED, "frag-failed", "cannot fragment (no buffers, chained)")

#define DP_DROP_ENUM(id, name, descr) DP_DROP_##id,
enum dp_drop {
	DP_DROP_REASONS(DP_DROP_ENUM)
	DP_DROP_MAX
};
#undef DP_DROP_ENUM

struct dp_counters {
	uint64_t rx_packets;
	uint64_t rx_bytes;
	uint64_t tx_packets;
	uint64_t tx_bytes;
	/* the gateway's own frames sent (ARP, ND, ICMP, echo replies);
	 * reports give them apart: tx_packets there is what was forwarded */
	uint64_t tx_local;
	uint64_t tx_local_bytes;
	uint64_t drops[DP_DROP_MAX];
};

struct dp;

/* counters.c APIs: */
const char *dp_drop_name(enum dp_drop reason);
void dp_counters_add(struct dp_counters *sum, const struct dp_counters *c);
uint64_t dp_counters_dropped(const struct dp_counters *c);
/* Sum of every worker's counters for one ethdev port. */
void dp_port_counters(const struct dp *dp, uint16_t port_id,
		      struct dp_counters *out);
void dp_stats_print(const struct dp *dp, FILE *out);
int dp_stats_json(const struct dp *dp, const char *path);
/* brief: without the interfaces and SAs (100 000 tunnels are megabytes) */
void dp_stats_json_fp(const struct dp *dp, FILE *f, bool brief);
void dp_iface_counters(const struct dp *dp, unsigned int ifidx,
		       struct dp_counters *out);
struct dp_sa_counters;
void dp_sa_counters(const struct dp *dp, unsigned int idx,
		    struct dp_sa_counters *out);
/* Zero every counter (the workers keep running; a count that races with
 * the reset may survive it). */
void dp_stats_reset(struct dp *dp);

#endif /* IPSECGW_COUNTERS_H */

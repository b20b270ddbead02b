/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The gateway as a host on its links, in the control thread: ARP and IPv6
 * neighbor discovery (answering for the ports' addresses, resolving next
 * hops while holding a few packets, probing and expiring what was
 * learned, announcing the addresses when a link comes up), and ICMP
 * (echo replies for every address of the gateway, and the errors the
 * workers ask for: time exceeded, unreachable, too big, rate-limited).
 *
 * Workers hand packets over through dp.punt (they never wait for it) and
 * the control thread hands its own back through each worker's inject
 * ring; see dp.h, enum dp_punt.  None of it costs the forwarding path more
 * than a branch it takes anyway.
 */
#ifndef IPSECGW_LOCAL_H
#define IPSECGW_LOCAL_H

#include <stdint.h>
#include <stdio.h>

#include "control/config.h"

struct dp;
struct local;
struct neigh_entry;
struct neigh_key;

/* What the gateway did as a host; reported by `stats`. */
#define LOCAL_STATS(X)                                                   \
	X(arp_in, "arp-in")                                              \
	X(arp_requests_out, "arp-requests-out")                          \
	X(arp_replies_out, "arp-replies-out")                            \
	X(nd_in, "nd-in")                                                \
	X(ns_out, "ns-out")                                              \
	X(na_out, "na-out")                                              \
	X(announcements, "announcements")                                \
	X(probes, "probes")                                              \
	X(resolved, "resolved")                                          \
	X(resolve_failed, "resolve-failed")                              \
	X(neighbors_expired, "neighbors-expired")                        \
	X(echo_replies, "echo-replies")                                  \
	X(icmp_time_exceeded, "icmp-time-exceeded")                      \
	X(icmp_unreachable, "icmp-unreachable")                          \
	X(icmp_too_big, "icmp-too-big")                                  \
	X(icmp_rate_limited, "icmp-rate-limited")                        \
	X(icmp_not_sent, "icmp-not-sent")                                \
	X(inject_full, "inject-full")

#define LOCAL_STAT_FIELD(id, name) uint64_t id;
struct local_stats {
	LOCAL_STATS(LOCAL_STAT_FIELD)
};
#undef LOCAL_STAT_FIELD

/* local.c APIs: */
/* The rings, once ports and workers are known.  NULL on failure. */
struct local *local_create(struct dp *dp);
void local_free(struct local *l);
/* Often, from the control loop: handle what the workers handed over,
 * retry resolutions, and once a second age neighbors and watch links. */
void local_poll(struct local *l, const struct cfg *run);
/* Seconds a learned neighbor is trusted before it is probed (default 30);
 * one unused for four times that is forgotten. */
void local_set_reachable(struct local *l, unsigned int seconds);
/* After the workers have stopped: free every packet held or queued. */
void local_stop(struct local *l);
/* "static", "reachable", "stale" or "probe", for neighbor-list. */
const char *local_neigh_state(const struct local *l,
			      const struct neigh_entry *e);
/* The addresses being resolved: *next starts at 0; -1 at the end. */
int local_pending(const struct local *l, unsigned int *next,
		  struct neigh_key *k, unsigned int *held);
/* The counters, as members of an open JSON object ("key": n, ...). */
void local_stats_json(const struct local *l, FILE *f);
void local_stats_reset(struct local *l);

#endif /* IPSECGW_LOCAL_H */

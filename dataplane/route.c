/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_byteorder.h>
#include <rte_lpm.h>
#include <rte_lpm6.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "control/index.h"
#include "dataplane/route.h"

/*
 * Changes while workers read (see route.h):
 *  - rte_lpm is made for one writer and lock-free readers: an entry
 *    changes with one atomic store, and the tbl8 groups it frees are
 *    reclaimed after a grace period once the QSBR variable is attached;
 *  - rte_lpm6 (22.11) has no RCU hook: a delete frees tbl8 groups at
 *    once, and the next add may reuse one that a reader is still walking
 *    (it would then find another prefix's next hop).  So there are two of
 *    them: a change goes into the one no worker reads, that one is
 *    published, and after a grace period the change is made in the other
 *    as well;
 *  - a next hop entry never changes while a route uses it; when the last
 *    route lets go of it, it is not reused before a grace period.
 */
struct fib {
	struct rte_lpm *lpm4;
	struct rte_lpm6 *lpm6[2];
	uint32_t cur6;		/* the rte_lpm6 workers read */
	struct rte_rcu_qsbr *qsbr;	/* NULL: no concurrent readers */
	struct nexthop *nh;	/* nh[0] is never used: refs pin it */
	uint64_t *nh_token;	/* grace period an unused entry waits for */
	uint32_t max_nh;
	uint32_t used_nh;
	/* the control thread's: entries in use by what they are (one per
	 * ipsec interface routed into: 100 000 of them are not scanned for
	 * each route), and no unused entry below nh_hint */
	struct cfg_ix nh_ix;
	uint32_t nh_hint;
	/*
	 * rte_lpm and rte_lpm6 take depths from 1: the default routes live
	 * here, as next hop indexes (0: none), and answer every miss.
	 */
	uint32_t def4;
	uint32_t def6;
};

struct fib *
fib_create(const char *name, uint32_t max_v4, uint32_t max_v6,
	   uint32_t max_nexthops, int socket)
{
	char n[RTE_LPM_NAMESIZE];
	struct fib *fib;

	fib = rte_zmalloc_socket("fib", sizeof(*fib), 0, socket);
	if (fib == NULL)
		return NULL;
	fib->max_nh = max_nexthops;
	fib->nh_hint = 1;
	fib->nh = rte_calloc_socket("fib_nh", max_nexthops,
				    sizeof(*fib->nh), 0, socket);
	fib->nh_token = rte_calloc_socket("fib_nh_token", max_nexthops,
					  sizeof(*fib->nh_token), 0, socket);
	if (fib->nh == NULL || fib->nh_token == NULL)
		goto fail;

	/*
	 * tbl8 groups bound how many /25../32 routes can share a /24; 8k
	 * groups (8 MiB) is generous for a gateway's own table and keeps
	 * the footprint within --no-huge -m 512.
	 */
	struct rte_lpm_config c4 = {
		.max_rules = max_v4,
		.number_tbl8s = 1 << 13,
	};
	snprintf(n, sizeof(n), "%s_v4", name);
	fib->lpm4 = rte_lpm_create(n, socket, &c4);
	if (fib->lpm4 == NULL)
		goto fail;

	struct rte_lpm6_config c6 = {
		.max_rules = max_v6,
		.number_tbl8s = 1 << 14,
	};
	snprintf(n, sizeof(n), "%s_v6a", name);
	fib->lpm6[0] = rte_lpm6_create(n, socket, &c6);
	snprintf(n, sizeof(n), "%s_v6b", name);
	fib->lpm6[1] = rte_lpm6_create(n, socket, &c6);
	if (fib->lpm6[0] == NULL || fib->lpm6[1] == NULL)
		goto fail;
	return fib;
fail:
	fib_free(fib);
	return NULL;
}

void
fib_free(struct fib *fib)
{
	if (fib == NULL)
		return;
	rte_lpm_free(fib->lpm4);
	rte_lpm6_free(fib->lpm6[0]);
	rte_lpm6_free(fib->lpm6[1]);
	rte_free(fib->nh);
	rte_free(fib->nh_token);
	cfg_ix_free(&fib->nh_ix);
	rte_free(fib);
}

int
fib_rcu_attach(struct fib *fib, struct rte_rcu_qsbr *v)
{
	struct rte_lpm_rcu_config rc = { .v = v, .mode = RTE_LPM_QSBR_MODE_DQ };

	fib->qsbr = v;
	return rte_lpm_rcu_qsbr_add(fib->lpm4, &rc);
}

static void
fib_sync(struct fib *fib)
{
	if (fib->qsbr != NULL)
		rte_rcu_qsbr_synchronize(fib->qsbr, RTE_QSBR_THRID_INVALID);
}

static bool
nh_same(const struct nexthop *a, const struct nexthop *b)
{
	if (a->type != b->type)
		return false;
	if (a->type == NH_LOCAL)
		return true;
	if (a->port != b->port)
		return false;
	if (a->type == NH_CONNECTED || a->type == NH_IFACE)
		return true;
	return a->family == b->family &&
	       memcmp(a->via, b->via, a->family == AF_INET ? 4 : 16) == 0;
}

/* What nh_same compares. */
static uint64_t
nh_hash(const struct nexthop *nh)
{
	uint8_t k[24] = { nh->type };
	size_t len = 1;

	if (nh->type != NH_LOCAL) {
		memcpy(k + 1, &nh->port, sizeof(nh->port));
		len += sizeof(nh->port);
	}
	if (nh->type == NH_VIA) {
		k[len++] = nh->family;
		memcpy(k + len, nh->via, nh->family == AF_INET ? 4 : 16);
		len += nh->family == AF_INET ? 4 : 16;
	}
	return cfg_ix_hash(k, len, 0);
}

/* Index of an entry equal to nh, taking a reference; 0 when full. */
static uint32_t
nh_get(struct fib *fib, const struct nexthop *nh)
{
	uint64_t h = nh_hash(nh);
	uint32_t i, free_slot = 0;
	size_t e, it;

	for (e = cfg_ix_first(&fib->nh_ix, h, &it); e != CFG_IX_NONE;
	     e = cfg_ix_next(&fib->nh_ix, h, &it))
		if (fib->nh[e].refs != 0 && nh_same(&fib->nh[e], nh)) {
			fib->nh[e].refs++;
			return (uint32_t)e;
		}
	for (i = fib->nh_hint; i < fib->max_nh; i++) {
		if (fib->nh[i].refs != 0)
			continue;
		/* a worker may still hold an entry just let go */
		if (fib->nh_token[i] == 0 || fib->qsbr == NULL ||
		    rte_rcu_qsbr_check(fib->qsbr, fib->nh_token[i], false) == 1) {
			free_slot = i;
			break;
		}
	}
	if (free_slot == 0 || cfg_ix_add(&fib->nh_ix, h, free_slot) != 0)
		return 0;
	/* slots below the one taken are in use or wait for a grace period */
	if (free_slot == fib->nh_hint)
		fib->nh_hint = free_slot + 1;
	fib->nh[free_slot] = *nh;
	fib->nh[free_slot].refs = 1;
	fib->used_nh++;
	return free_slot;
}

static void
nh_put(struct fib *fib, uint32_t i)
{
	if (i == 0 || i >= fib->max_nh || fib->nh[i].refs == 0)
		return;
	if (--fib->nh[i].refs == 0) {
		fib->used_nh--;
		cfg_ix_del(&fib->nh_ix, nh_hash(&fib->nh[i]), i);
		if (i < fib->nh_hint)
			fib->nh_hint = i;
		if (fib->qsbr != NULL)
			fib->nh_token[i] = rte_rcu_qsbr_start(fib->qsbr);
	}
}

static uint32_t
prefix_v4(const struct cfg_prefix *p)
{
	uint32_t a;

	memcpy(&a, p->addr.a, 4);
	return rte_be_to_cpu_32(a);
}

/* Current next hop index of a prefix, or 0 when it has no route. */
static uint32_t
fib_current(struct fib *fib, const struct cfg_prefix *p)
{
	uint32_t cur = 0;

	if (p->len == 0)
		return p->addr.family == AF_INET ? fib->def4 : fib->def6;
	if (p->addr.family == AF_INET) {
		if (rte_lpm_is_rule_present(fib->lpm4, prefix_v4(p), p->len,
					    &cur) != 1)
			return 0;
	} else {
		if (rte_lpm6_is_rule_present(fib->lpm6[fib->cur6], p->addr.a,
					     p->len, &cur) != 1)
			return 0;
	}
	return cur;
}

static int
lpm6_apply(struct rte_lpm6 *l, const struct cfg_prefix *p, uint32_t idx)
{
	if (idx != 0)
		return rte_lpm6_add(l, p->addr.a, p->len, idx);
	return rte_lpm6_delete(l, p->addr.a, p->len);
}

/* Add (idx != 0) or delete a v6 prefix in both tables, readers never
 * seeing one in the middle of a change. */
static int
lpm6_change(struct fib *fib, const struct cfg_prefix *p, uint32_t idx,
	    uint32_t old)
{
	uint32_t cur = fib->cur6;
	int rc;

	rc = lpm6_apply(fib->lpm6[!cur], p, idx);
	if (rc < 0)
		return rc;
	__atomic_store_n(&fib->cur6, !cur, __ATOMIC_RELEASE);
	fib_sync(fib);
	rc = lpm6_apply(fib->lpm6[cur], p, idx);
	if (rc < 0) {
		/* the same change in a table with the same rules: cannot
		 * fail but for memory; put the tables back in step */
		lpm6_apply(fib->lpm6[!cur], p, old);
		__atomic_store_n(&fib->cur6, cur, __ATOMIC_RELEASE);
		fib_sync(fib);
	}
	return rc;
}

int
fib_add(struct fib *fib, const struct cfg_prefix *p, const struct nexthop *nh)
{
	uint32_t old, idx;
	int rc;

	if (p->addr.family != AF_INET && p->addr.family != AF_INET6)
		return -EAFNOSUPPORT;
	idx = nh_get(fib, nh);
	if (idx == 0)
		return -ENOSPC;
	old = fib_current(fib, p);
	if (p->len == 0) {
		__atomic_store_n(p->addr.family == AF_INET ? &fib->def4 :
				 &fib->def6, idx, __ATOMIC_RELEASE);
		rc = 0;
	} else if (p->addr.family == AF_INET)
		rc = rte_lpm_add(fib->lpm4, prefix_v4(p), p->len, idx);
	else
		rc = lpm6_change(fib, p, idx, old);
	if (rc < 0) {
		nh_put(fib, idx);
		return rc;
	}
	nh_put(fib, old);
	return 0;
}

int
fib_del(struct fib *fib, const struct cfg_prefix *p)
{
	uint32_t old = fib_current(fib, p);
	int rc;

	if (old == 0)
		return -ENOENT;
	if (p->len == 0) {
		__atomic_store_n(p->addr.family == AF_INET ? &fib->def4 :
				 &fib->def6, 0, __ATOMIC_RELEASE);
		rc = 0;
	} else if (p->addr.family == AF_INET)
		rc = rte_lpm_delete(fib->lpm4, prefix_v4(p), p->len);
	else
		rc = lpm6_change(fib, p, 0, old);
	if (rc < 0)
		return rc;
	nh_put(fib, old);
	return 0;
}

void
fib_lookup4_bulk(const struct fib *fib, const uint32_t *addrs,
		 const struct nexthop **nh, unsigned int n)
{
	uint32_t hop[n];
	unsigned int i;

	/* rte_lpm_lookup_bulk marks hits with RTE_LPM_LOOKUP_SUCCESS. */
	rte_lpm_lookup_bulk(fib->lpm4, addrs, hop, n);
	for (i = 0; i < n; i++) {
		uint32_t idx = (hop[i] & RTE_LPM_LOOKUP_SUCCESS) ?
			       hop[i] & 0x00ffffff : fib->def4;

		nh[i] = idx != 0 ? &fib->nh[idx] : NULL;
	}
}

void
fib_lookup6_bulk(const struct fib *fib, uint8_t (*addrs)[16],
		 const struct nexthop **nh, unsigned int n)
{
	int32_t hop[n];
	unsigned int i;

	rte_lpm6_lookup_bulk_func(fib->lpm6[__atomic_load_n(&fib->cur6,
				  __ATOMIC_ACQUIRE)], addrs, hop, n);
	for (i = 0; i < n; i++) {
		uint32_t idx = hop[i] >= 0 ? (uint32_t)hop[i] : fib->def6;

		nh[i] = idx != 0 ? &fib->nh[idx] : NULL;
	}
}

const struct nexthop *
fib_lookup(const struct fib *fib, int family, const uint8_t *addr)
{
	const struct nexthop *nh = NULL;

	if (family == AF_INET) {
		uint32_t v;

		memcpy(&v, addr, 4);
		v = rte_be_to_cpu_32(v);
		fib_lookup4_bulk(fib, &v, &nh, 1);
	} else {
		uint8_t v6[1][16];

		memcpy(v6[0], addr, 16);
		fib_lookup6_bulk(fib, v6, &nh, 1);
	}
	return nh;
}

uint32_t
fib_nexthops_used(const struct fib *fib)
{
	return fib->used_nh;
}

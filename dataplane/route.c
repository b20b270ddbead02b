/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_byteorder.h>
#include <rte_lpm6.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "control/index.h"
#include "dataplane/route.h"

/*
 * Changes while workers read (see route.h):
 *  - IPv4 is our own DIR-24-8 (below): an entry changes with one atomic
 *    store, and a tbl8 group that goes out of use is reused only after a
 *    grace period;
 *  - rte_lpm6 (22.11) has no RCU hook: a delete frees tbl8 groups at
 *    once, and the next add may reuse one that a reader is still walking
 *    (it would then find another prefix's next hop).  So there are two of
 *    them: a change goes into the one no worker reads, that one is
 *    published, and after a grace period the change is made in the other
 *    as well;
 *  - a next hop entry never changes while a route uses it; when the last
 *    route lets go of it, it is not reused before a grace period.
 */
/* ---------------------------------------------------------------------- */
/*
 * IPv4: DIR-24-8, as rte_lpm does it, with the rules in a hash.
 *
 * rte_lpm (22.11) keeps its rules in one array per depth and finds a rule
 * by scanning that array: adding or checking a /24 costs one compare per
 * /24 already there, so a full table of a million /24s was hours of
 * start-up (the profile of 100 000 routes was 87 % rte_lpm_add and
 * rte_lpm_is_rule_present).  The lookup tables are the same here:
 *
 *  - tbl24: one entry per /24 (2^24 x 4 bytes); an entry is a next hop
 *    index and the depth of the rule that put it there, or the index of
 *    a tbl8 group when a rule longer than /24 falls in that /24;
 *  - tbl8 groups: 256 entries, one per address of such a /24.
 *
 * A lookup is one load, or two.  The rules (prefix, depth -> next hop)
 * live in an open-addressing hash in the control thread's memory; a
 * delete finds the rule that takes over (the longest shorter prefix that
 * covers it) with at most 31 exact lookups, skipping depths that have no
 * rule at all.
 *
 * Readers see every entry change with one aligned 32-bit store; a tbl8
 * group is filled before the tbl24 entry that points at it is published
 * (release), and a group that goes out of use is reused only after a grace
 * period (the QSBR variable of fib_rcu_attach), as rte_lpm's RCU hook
 * does.
 */
#define T4_NH_MASK 0x00ffffffu
#define T4_DEPTH_SHIFT 24
#define T4_EXT (1u << 30)
#define T4_VALID (1u << 31)
#define T4_GROUP 256u
#define T4_NGROUPS (1u << 13)	/* 8 MiB of tbl8: routes longer than /24
				 * fall in at most 8192 distinct /24s */

static inline uint32_t
t4_entry(uint32_t nh, uint8_t depth)
{
	return T4_VALID | ((uint32_t)depth << T4_DEPTH_SHIFT) | nh;
}

static inline uint8_t
t4_depth(uint32_t e)
{
	return (uint8_t)((e >> T4_DEPTH_SHIFT) & 0x3f);
}

/* A rule: key = address << 6 | depth (depth 1..32), 0 = empty slot. */
struct t4_rule {
	uint64_t key;
	uint32_t nh;
};

struct t4 {
	uint32_t *tbl24;
	uint32_t *tbl8;
	/* free groups: never used or past their grace period first (stack),
	 * then those waiting for one (FIFO, oldest first) */
	uint32_t *clean;
	uint32_t nclean;
	uint32_t *wait;
	uint64_t *wait_token;
	uint32_t wait_head, wait_n;
	/* rules */
	struct t4_rule *rules;
	uint32_t mask;		/* slots - 1 (a power of two) */
	uint32_t nrules;
	uint32_t max_rules;
	uint32_t per_depth[33];
};

static inline uint64_t
t4_key(uint32_t ip, uint8_t depth)
{
	return ((uint64_t)ip << 6) | depth;
}

static inline uint32_t
t4_hash(uint64_t key)
{
	key *= 0x9e3779b97f4a7c15ull;
	return (uint32_t)(key >> 32);
}

static uint32_t
t4_mask_ip(uint32_t ip, uint8_t depth)
{
	return depth == 0 ? 0 : ip & (uint32_t)(0xffffffffull << (32 - depth));
}

/* The slot of a rule, or of the empty slot where it would go. */
static struct t4_rule *
t4_rule_slot(const struct t4 *t, uint64_t key)
{
	uint32_t i = t4_hash(key) & t->mask;

	while (t->rules[i].key != 0 && t->rules[i].key != key)
		i = (i + 1) & t->mask;
	return &t->rules[i];
}

static int
t4_rules_grow(struct t4 *t)
{
	uint32_t n = t->rules == NULL ? 1024 : (t->mask + 1) * 2, i;
	struct t4_rule *old = t->rules, *r;
	uint32_t old_n = t->rules == NULL ? 0 : t->mask + 1;

	r = calloc(n, sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	t->rules = r;
	t->mask = n - 1;
	for (i = 0; i < old_n; i++)
		if (old[i].key != 0)
			*t4_rule_slot(t, old[i].key) = old[i];
	free(old);
	return 0;
}

/* Next hop of the exact rule, or 0. */
static uint32_t
t4_rule_get(const struct t4 *t, uint32_t ip, uint8_t depth)
{
	const struct t4_rule *r;

	if (t->rules == NULL || t->per_depth[depth] == 0)
		return 0;
	r = t4_rule_slot(t, t4_key(ip, depth));
	return r->key != 0 ? r->nh : 0;
}

/* Remove a rule (backward-shift deletion keeps probing chains whole). */
static void
t4_rule_del(struct t4 *t, uint32_t ip, uint8_t depth)
{
	struct t4_rule *s = t4_rule_slot(t, t4_key(ip, depth));
	uint32_t i = (uint32_t)(s - t->rules), j = i, home;

	if (s->key == 0)
		return;
	for (;;) {
		t->rules[i] = (struct t4_rule){ 0, 0 };
		for (;;) {
			j = (j + 1) & t->mask;
			if (t->rules[j].key == 0)
				goto done;
			home = t4_hash(t->rules[j].key) & t->mask;
			/* can the entry at j move to the hole at i? */
			if (i <= j ? (home <= i || home > j) :
				     (home <= i && home > j))
				break;
		}
		t->rules[i] = t->rules[j];
		i = j;
	}
done:
	t->nrules--;
	t->per_depth[depth]--;
}

/* The rule that covers ip/depth when it goes: longest shorter prefix. */
static uint32_t
t4_cover(const struct t4 *t, uint32_t ip, uint8_t depth, uint8_t *cdepth)
{
	uint8_t d;

	for (d = depth - 1; d >= 1; d--) {
		uint32_t nh = t4_rule_get(t, t4_mask_ip(ip, d), d);

		if (nh != 0) {
			*cdepth = d;
			return nh;
		}
	}
	*cdepth = 0;
	return 0;
}

static void
t4_free(struct t4 *t)
{
	if (t == NULL)
		return;
	rte_free(t->tbl24);
	rte_free(t->tbl8);
	free(t->clean);
	free(t->wait);
	free(t->wait_token);
	free(t->rules);
	free(t);
}

static struct t4 *
t4_create(uint32_t max_rules, int socket)
{
	struct t4 *t = calloc(1, sizeof(*t));
	uint32_t i;

	if (t == NULL)
		return NULL;
	t->max_rules = max_rules;
	t->tbl24 = rte_zmalloc_socket("fib_tbl24", sizeof(uint32_t) << 24,
				      RTE_CACHE_LINE_SIZE, socket);
	t->tbl8 = rte_zmalloc_socket("fib_tbl8", sizeof(uint32_t) *
				     T4_GROUP * T4_NGROUPS,
				     RTE_CACHE_LINE_SIZE, socket);
	t->clean = malloc(T4_NGROUPS * sizeof(*t->clean));
	t->wait = malloc(T4_NGROUPS * sizeof(*t->wait));
	t->wait_token = malloc(T4_NGROUPS * sizeof(*t->wait_token));
	if (t->tbl24 == NULL || t->tbl8 == NULL || t->clean == NULL ||
	    t->wait == NULL || t->wait_token == NULL || t4_rules_grow(t) != 0) {
		t4_free(t);
		return NULL;
	}
	/* lowest group first */
	for (i = 0; i < T4_NGROUPS; i++)
		t->clean[i] = T4_NGROUPS - 1 - i;
	t->nclean = T4_NGROUPS;
	return t;
}

/* A group nobody reads; UINT32_MAX when all are in use. */
static uint32_t
t4_group_alloc(struct t4 *t, struct rte_rcu_qsbr *v)
{
	uint32_t g;

	/* take back what is past its grace period, without waiting */
	while (t->wait_n != 0 && (v == NULL || rte_rcu_qsbr_check(v,
				  t->wait_token[t->wait_head], false) == 1)) {
		t->clean[t->nclean++] = t->wait[t->wait_head];
		t->wait_head = (t->wait_head + 1) % T4_NGROUPS;
		t->wait_n--;
	}
	if (t->nclean == 0 && t->wait_n != 0) {
		/* all free groups are recent: wait for the oldest */
		rte_rcu_qsbr_check(v, t->wait_token[t->wait_head], true);
		g = t->wait[t->wait_head];
		t->wait_head = (t->wait_head + 1) % T4_NGROUPS;
		t->wait_n--;
		return g;
	}
	if (t->nclean == 0)
		return UINT32_MAX;
	return t->clean[--t->nclean];
}

static void
t4_group_put(struct t4 *t, struct rte_rcu_qsbr *v, uint32_t g)
{
	uint32_t tail = (t->wait_head + t->wait_n) % T4_NGROUPS;

	if (v == NULL) {
		t->clean[t->nclean++] = g;
		return;
	}
	t->wait[tail] = g;
	t->wait_token[tail] = rte_rcu_qsbr_start(v);
	t->wait_n++;
}

static inline void
t4_store(uint32_t *e, uint32_t v)
{
	__atomic_store_n(e, v, __ATOMIC_RELAXED);
}

/*
 * Write rule (ip/depth -> e, where e may be 0 for "none") into the entries
 * its prefix covers that are held by rules no longer than `depth`
 * (`depth` itself included: the rule being replaced or deleted).
 */
static void
t4_write(struct t4 *t, uint32_t ip, uint8_t depth, uint32_t e)
{
	if (depth <= 24) {
		uint32_t i = ip >> 8, end = i + (1u << (24 - depth)), j;

		for (; i < end; i++) {
			uint32_t cur = t->tbl24[i];

			if (!(cur & T4_EXT)) {
				if (!(cur & T4_VALID) || t4_depth(cur) <= depth)
					t4_store(&t->tbl24[i], e);
				continue;
			}
			uint32_t *g = &t->tbl8[(cur & T4_NH_MASK) * T4_GROUP];

			for (j = 0; j < T4_GROUP; j++)
				if (!(g[j] & T4_VALID) || t4_depth(g[j]) <= depth)
					t4_store(&g[j], e);
		}
	} else {
		uint32_t cur = t->tbl24[ip >> 8];
		uint32_t *g = &t->tbl8[(cur & T4_NH_MASK) * T4_GROUP];
		uint32_t j = ip & 0xff, end = j + (1u << (32 - depth));

		for (; j < end; j++)
			if (!(g[j] & T4_VALID) || t4_depth(g[j]) <= depth)
				t4_store(&g[j], e);
	}
}

static int
t4_add(struct t4 *t, struct rte_rcu_qsbr *v, uint32_t ip, uint8_t depth,
       uint32_t nh)
{
	struct t4_rule *r;
	uint64_t key;

	ip = t4_mask_ip(ip, depth);
	key = t4_key(ip, depth);
	r = t4_rule_slot(t, key);
	if (r->key == 0) {
		if (t->nrules >= t->max_rules)
			return -ENOSPC;
		/* grow at 3/4 full; the slot moves with it */
		if ((t->nrules + 1) * 4ull > (t->mask + 1) * 3ull) {
			if (t4_rules_grow(t) != 0)
				return -ENOMEM;
			r = t4_rule_slot(t, key);
		}
		if (depth > 24 && !(t->tbl24[ip >> 8] & T4_EXT)) {
			/* a group for this /24, filled with what it had */
			uint32_t g = t4_group_alloc(t, v), j;
			uint32_t cur = t->tbl24[ip >> 8];
			uint32_t *ge;

			if (g == UINT32_MAX)
				return -ENOSPC;
			ge = &t->tbl8[g * T4_GROUP];
			for (j = 0; j < T4_GROUP; j++)
				ge[j] = cur;
			__atomic_store_n(&t->tbl24[ip >> 8], T4_VALID | T4_EXT | g,
					 __ATOMIC_RELEASE);
		}
		r->key = key;
		t->nrules++;
		t->per_depth[depth]++;
	}
	r->nh = nh;
	t4_write(t, ip, depth, t4_entry(nh, depth));
	return 0;
}

/* A group whose entries are all the same goes back into its tbl24 entry. */
static void
t4_recycle(struct t4 *t, struct rte_rcu_qsbr *v, uint32_t ip)
{
	uint32_t cur = t->tbl24[ip >> 8], g, j;
	uint32_t *ge;

	if (!(cur & T4_EXT))
		return;
	g = cur & T4_NH_MASK;
	ge = &t->tbl8[g * T4_GROUP];
	for (j = 1; j < T4_GROUP; j++)
		if (ge[j] != ge[0])
			return;
	__atomic_store_n(&t->tbl24[ip >> 8], ge[0], __ATOMIC_RELEASE);
	t4_group_put(t, v, g);
}

static int
t4_del(struct t4 *t, struct rte_rcu_qsbr *v, uint32_t ip, uint8_t depth)
{
	uint32_t cnh;
	uint8_t cdepth;

	ip = t4_mask_ip(ip, depth);
	if (t4_rule_get(t, ip, depth) == 0)
		return -ENOENT;
	t4_rule_del(t, ip, depth);
	cnh = t4_cover(t, ip, depth, &cdepth);
	t4_write(t, ip, depth, cnh != 0 ? t4_entry(cnh, cdepth) : 0);
	if (depth > 24)
		t4_recycle(t, v, ip);
	return 0;
}

/* Next hop index of an address, 0 without a rule. */
static inline uint32_t
t4_lookup(const struct t4 *t, uint32_t ip)
{
	uint32_t e = t->tbl24[ip >> 8];

	if (e & T4_EXT)
		e = t->tbl8[(e & T4_NH_MASK) * T4_GROUP + (ip & 0xff)];
	return (e & T4_VALID) ? e & T4_NH_MASK : 0;
}

/* ---------------------------------------------------------------------- */

struct fib {
	struct t4 *t4;
	struct rte_lpm6 *lpm6[2];
	uint32_t cur6;		/* the rte_lpm6 workers read */
	struct rte_rcu_qsbr *qsbr;	/* NULL: no concurrent readers */
	struct nexthop *nh;	/* nh[0] is never used: refs pin it */
	uint32_t max_nh;
	uint32_t used_nh;
	/*
	 * Next hops by value (an index of nh[], control/index.h), so that
	 * finding the shared entry of a route costs the same with 4 next
	 * hops as with 60 000.  Entries let go of wait in a FIFO for their
	 * grace period; `fresh` counts those never used.
	 */
	struct cfg_ix nh_ix;
	uint32_t *nh_free;
	uint64_t *nh_token;
	uint32_t nh_free_head, nh_free_n;
	uint32_t fresh;
	/*
	 * rte_lpm6 takes depths from 1, and our IPv4 table too: the default
	 * routes live here, as next hop indexes (0: none), and answer every
	 * miss.
	 */
	uint32_t def4;
	uint32_t def6;
};

struct fib *
fib_create(const char *name, uint32_t max_v4, uint32_t max_v6,
	   uint32_t max_nexthops, int socket)
{
	char n[RTE_LPM6_NAMESIZE];
	struct fib *fib;

	fib = rte_zmalloc_socket("fib", sizeof(*fib), 0, socket);
	if (fib == NULL)
		return NULL;
	fib->max_nh = max_nexthops;
	fib->fresh = 1;
	fib->nh = rte_calloc_socket("fib_nh", max_nexthops,
				    sizeof(*fib->nh), 0, socket);
	fib->nh_free = malloc(max_nexthops * sizeof(*fib->nh_free));
	fib->nh_token = malloc(max_nexthops * sizeof(*fib->nh_token));
	/* room for every entry: adding one never fails */
	if (fib->nh == NULL || fib->nh_free == NULL || fib->nh_token == NULL ||
	    cfg_ix_init(&fib->nh_ix, max_nexthops) != 0)
		goto fail;

	fib->t4 = t4_create(max_v4, socket);
	if (fib->t4 == NULL)
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
	t4_free(fib->t4);
	rte_lpm6_free(fib->lpm6[0]);
	rte_lpm6_free(fib->lpm6[1]);
	rte_free(fib->nh);
	cfg_ix_free(&fib->nh_ix);
	free(fib->nh_free);
	free(fib->nh_token);
	rte_free(fib);
}

int
fib_rcu_attach(struct fib *fib, struct rte_rcu_qsbr *v)
{
	fib->qsbr = v;
	return 0;
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
	uint64_t h = (uint64_t)nh->type << 56;
	uint64_t w[2];

	if (nh->type != NH_LOCAL)
		h |= (uint64_t)nh->port << 40;
	if (nh->type == NH_VIA) {
		memcpy(w, nh->via, 16);
		if (nh->family == AF_INET)
			w[0] &= 0xffffffffull, w[1] = 0;
		h ^= w[0] * 0xff51afd7ed558ccdull ^ w[1] * 0xc4ceb9fe1a85ec53ull;
		h ^= (uint64_t)nh->family << 32;
	}
	h *= 0x9e3779b97f4a7c15ull;
	return h ^ h >> 32;	/* the index takes the low bits */
}

/* The entry equal to nh, or 0. */
static uint32_t
nh_find(const struct fib *fib, const struct nexthop *nh)
{
	uint64_t h = nh_hash(nh);
	size_t e, it;

	for (e = cfg_ix_first(&fib->nh_ix, h, &it); e != CFG_IX_NONE;
	     e = cfg_ix_next(&fib->nh_ix, h, &it))
		if (nh_same(&fib->nh[e], nh))
			return (uint32_t)e;
	return 0;
}

/* Index of an entry equal to nh, taking a reference; 0 when full. */
static uint32_t
nh_get(struct fib *fib, const struct nexthop *nh)
{
	uint32_t i = nh_find(fib, nh);

	if (i != 0) {
		fib->nh[i].refs++;
		return i;
	}
	if (fib->fresh < fib->max_nh) {
		i = fib->fresh++;
	} else if (fib->nh_free_n != 0 &&
		   (fib->qsbr == NULL ||
		    rte_rcu_qsbr_check(fib->qsbr, fib->nh_token[fib->nh_free_head],
				       false) == 1)) {
		/* a worker may still hold an entry just let go: the oldest
		 * goes first, once its grace period is over */
		i = fib->nh_free[fib->nh_free_head];
		fib->nh_free_head = (fib->nh_free_head + 1) % fib->max_nh;
		fib->nh_free_n--;
	} else {
		return 0;
	}
	fib->nh[i] = *nh;
	fib->nh[i].refs = 1;
	cfg_ix_add(&fib->nh_ix, nh_hash(nh), i);
	fib->used_nh++;
	return i;
}

static void
nh_put(struct fib *fib, uint32_t i)
{
	uint32_t tail;

	if (i == 0 || i >= fib->max_nh || fib->nh[i].refs == 0)
		return;
	if (--fib->nh[i].refs != 0)
		return;
	fib->used_nh--;
	cfg_ix_del(&fib->nh_ix, nh_hash(&fib->nh[i]), i);
	tail = (fib->nh_free_head + fib->nh_free_n) % fib->max_nh;
	fib->nh_free[tail] = i;
	fib->nh_token[tail] = fib->qsbr != NULL ?
			      rte_rcu_qsbr_start(fib->qsbr) : 0;
	fib->nh_free_n++;
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
		return t4_rule_get(fib->t4, t4_mask_ip(prefix_v4(p), p->len),
				   p->len);
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
		rc = t4_add(fib->t4, fib->qsbr, prefix_v4(p), p->len, idx);
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
		rc = t4_del(fib->t4, fib->qsbr, prefix_v4(p), p->len);
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
	const struct t4 *t = fib->t4;
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint32_t idx = t4_lookup(t, addrs[i]);

		if (idx == 0)
			idx = fib->def4;
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

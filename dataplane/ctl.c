/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The running configuration, the diff that takes the dataplane from one
 * configuration to the next, and the control socket's operations.  See
 * ctl.h for the idea and docs/control-protocol.md for the operations.
 *
 * The running configuration keeps the SAs' keys: a reload must tell a
 * changed key from an unchanged one.  They live in this thread's memory
 * only, as they do in a kernel's SA database, are wiped when an SA goes,
 * and are never written out (sa objects carry algorithm names only).
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ring_elem.h>

#include "control/config_parse.h"
#include "control/server.h"
#include "dataplane/ctl.h"
#include "dataplane/dp.h"
#include "dataplane/ipsec.h"
#include "dataplane/local.h"
#include "dataplane/neigh.h"
#include "dataplane/route.h"

#define SPI_RESV_MAX 4096
#define MAX_ERRORS 16

struct spi_resv {
	uint32_t spi;
	struct cfg_addr dst;
	uint64_t until;			/* unix seconds */
};

struct ctl {
	struct dp *dp;
	struct cfg run;
	/*
	 * Indexes of `run`, so that a request finds an SA or an interface
	 * without a scan: every commit builds them again (it replaces
	 * `run`), the direct SA paths keep them.  Without memory for them
	 * (ix_ok false) lookups scan and SA requests take the full path.
	 */
	bool ix_ok;
	struct cfg_ix run_sa;		/* (spi, dst) -> run.sas[] */
	struct cfg_lookup run_lk;	/* run.interfaces[] */
	size_t sas_cap;			/* room in run.sas */
	size_t ifs_cap;			/* room in run.interfaces */
	uint32_t reqid_next;		/* no free reqid below */
	size_t ntimed;			/* run SAs with a lifetime in seconds */
	char *file;
	struct server *srv;
	struct spi_resv *resv;
	size_t nresv;
	uint64_t last_tick;
	uint64_t events_lost;
	/*
	 * The running routes by prefix, for route-add and route-del.  Built
	 * when a route request first needs it after a commit (which replaces
	 * run.routes), then kept up to date by those requests.
	 */
	struct cfg_ix run_rt;
	bool rt_stale;
	size_t routes_cap;		/* room in run.routes */
};

/* A route as the FIB holds it, with where it came from. */
enum rt_type { RT_CONNECTED, RT_STATIC, RT_PEER, RT_LOCAL };
static const char *const rt_type_name[] = {
	"connected", "static", "peer", "local",
};
/* For one prefix, a kind of a higher rank replaces a lower one. */
static const uint8_t rt_rank[] = {
	[RT_CONNECTED] = 0, [RT_PEER] = 1, [RT_STATIC] = 2, [RT_LOCAL] = 3,
};

struct rt {
	struct cfg_prefix p;
	struct nexthop nh;
	uint32_t seq;			/* kind, then order: later entries win */
	uint8_t type;
	const char *dev;		/* in the configuration planned */
};

struct plan {
	struct rt *r;
	size_t n;
	size_t cap;
};

struct changes {
	unsigned int added[4], removed[4], changed[4];
};
enum { CH_IF, CH_SA, CH_ROUTE, CH_NEIGH };
static const char *const ch_name[] = {
	"interfaces", "sas", "routes", "neighbors",
};

/* ---------------------------------------------------------------------- */
/* Events */

static void
emit(struct ctl *c, struct jbuf *j)
{
	const char *t = jb_text(j);

	if (c->srv != NULL && t != NULL)
		server_broadcast(c->srv, t);
	jb_free(j);
}

static void
addr_field(struct jbuf *j, const char *key, const struct cfg_addr *a)
{
	char b[INET6_ADDRSTRLEN];

	jb_str(j, key, cfg_addr_str(a, b, sizeof(b)));
}

static void
event_sa(struct ctl *c, const char *what, const struct cfg_sa *sa)
{
	struct jbuf j;

	jb_init(&j);
	jb_obj(&j, NULL);
	jb_str(&j, "event", what);
	jb_u64(&j, "spi", sa->spi);
	addr_field(&j, "src", &sa->src);
	addr_field(&j, "dst", &sa->dst);
	jb_str(&j, "interface", sa->interface);
	jb_str(&j, "direction", sa->outbound ? "out" : "in");
	jb_end(&j);
	emit(c, &j);
}

static void
event_iface(struct ctl *c, const char *what, const char *name)
{
	struct jbuf j;

	jb_init(&j);
	jb_obj(&j, NULL);
	jb_str(&j, "event", what);
	jb_str(&j, "name", name);
	jb_end(&j);
	emit(c, &j);
}

/* ---------------------------------------------------------------------- */
/* Lookups in a configuration */

static struct cfg_sa *
cfg_sa_find(const struct cfg *cfg, uint32_t spi, const struct cfg_addr *dst)
{
	size_t i;

	for (i = 0; i < cfg->nsas; i++)
		if (cfg->sas[i].spi == spi && cfg_addr_eq(&cfg->sas[i].dst, dst))
			return &cfg->sas[i];
	return NULL;
}

static bool
sa_timed(const struct cfg_sa *sa)
{
	return sa->soft.seconds != 0 || sa->hard.seconds != 0;
}

/* Build the indexes of c->run again (after it was replaced). */
static void
run_reindex(struct ctl *c)
{
	size_t i;
	int rc;

	cfg_ix_free(&c->run_sa);
	cfg_lookup_free(&c->run_lk);
	c->sas_cap = c->run.nsas;
	c->ifs_cap = c->run.ninterfaces;
	c->routes_cap = c->run.nroutes;
	c->reqid_next = 1;
	c->ntimed = 0;
	for (i = 0; i < c->run.nsas; i++)
		c->ntimed += sa_timed(&c->run.sas[i]);
	rc = cfg_ix_init(&c->run_sa, c->run.nsas);
	for (i = 0; rc == 0 && i < c->run.nsas; i++)
		rc = cfg_ix_add(&c->run_sa, cfg_sa_key_hash(c->run.sas[i].spi,
							    &c->run.sas[i].dst),
				i);
	if (rc == 0)
		rc = cfg_lookup_build(&c->run_lk, &c->run);
	c->ix_ok = rc == 0;
	if (!c->ix_ok) {
		cfg_ix_free(&c->run_sa);
		cfg_lookup_free(&c->run_lk);
	}
}

/* Room for one more element in an array without secrets (amortized). */
static int
arr_reserve(void **a, size_t n, size_t *cap, size_t size)
{
	size_t ncap = *cap < 16 ? 16 : *cap * 2;
	void *p;

	if (n < *cap)
		return 0;
	p = realloc(*a, ncap * size);
	if (p == NULL)
		return -1;
	*a = p;
	*cap = ncap;
	return 0;
}

static struct cfg_sa *
run_sa_find(const struct ctl *c, uint32_t spi, const struct cfg_addr *dst)
{
	uint64_t h;
	size_t i, it;

	if (!c->ix_ok)
		return cfg_sa_find(&c->run, spi, dst);
	h = cfg_sa_key_hash(spi, dst);
	for (i = cfg_ix_first(&c->run_sa, h, &it); i != CFG_IX_NONE;
	     i = cfg_ix_next(&c->run_sa, h, &it))
		if (c->run.sas[i].spi == spi &&
		    cfg_addr_eq(&c->run.sas[i].dst, dst))
			return &c->run.sas[i];
	return NULL;
}

/* An interface of cfg by name, through lk when there is one. */
static const struct cfg_interface *
iface_in(const struct cfg *cfg, const struct cfg_lookup *lk, const char *name)
{
	return lk != NULL ? cfg_lookup_iface(lk, cfg, name) :
			    cfg_interface_find(cfg, name);
}

static const struct cfg_interface *
run_iface_find(const struct ctl *c, const char *name)
{
	return iface_in(&c->run, c->ix_ok ? &c->run_lk : NULL, name);
}

static const struct dp_port *
dp_port_named(const struct dp *dp, const char *name)
{
	unsigned int i;

	for (i = 0; i < dp->nports; i++)
		if (strcmp(dp->ports[dp->port_list[i]].name, name) == 0)
			return &dp->ports[dp->port_list[i]];
	return NULL;
}

static const char *
port_name(const struct dp *dp, uint16_t port_id)
{
	return dp->ports[port_id].used ? dp->ports[port_id].name : "?";
}

static bool
sa_same(const struct cfg_sa *a, const struct cfg_sa *b)
{
	return a->spi == b->spi && cfg_addr_eq(&a->src, &b->src) &&
	       cfg_addr_eq(&a->dst, &b->dst) && a->reqid == b->reqid &&
	       strcmp(a->interface, b->interface) == 0 &&
	       a->aead == b->aead && a->enc == b->enc && a->auth == b->auth &&
	       a->key_len == b->key_len &&
	       memcmp(a->key, b->key, a->key_len) == 0 &&
	       a->enc_key_len == b->enc_key_len &&
	       memcmp(a->enc_key, b->enc_key, a->enc_key_len) == 0 &&
	       a->auth_key_len == b->auth_key_len &&
	       memcmp(a->auth_key, b->auth_key, a->auth_key_len) == 0 &&
	       a->esn == b->esn && a->replay_window == b->replay_window &&
	       a->outbound == b->outbound;
}

static bool
lifetime_same(const struct cfg_sa *a, const struct cfg_sa *b)
{
	return memcmp(&a->soft, &b->soft, sizeof(a->soft)) == 0 &&
	       memcmp(&a->hard, &b->hard, sizeof(a->hard)) == 0;
}

/* What SAs are built on: change it, and they must be made again. */
static bool
iface_base_same(const struct cfg_interface *a, const struct cfg_interface *b)
{
	return a->has_tunnel == b->has_tunnel &&
	       (!a->has_tunnel || (cfg_addr_eq(&a->local, &b->local) &&
				   cfg_addr_eq(&a->remote, &b->remote))) &&
	       a->nat_t == b->nat_t && a->reqid == b->reqid;
}

static bool
iface_same(const struct cfg_interface *a, const struct cfg_interface *b)
{
	unsigned int i;

	if (!iface_base_same(a, b) || a->naddrs != b->naddrs ||
	    a->has_peer != b->has_peer ||
	    (a->has_peer && !cfg_addr_eq(&a->peer, &b->peer)) ||
	    a->mtu != b->mtu || a->ecn != b->ecn || a->ipv6 != b->ipv6 ||
	    a->df != b->df)
		return false;
	for (i = 0; i < a->naddrs; i++)
		if (a->addrs[i].len != b->addrs[i].len ||
		    !cfg_addr_eq(&a->addrs[i].addr, &b->addrs[i].addr))
			return false;
	return true;
}

static bool
port_same(const struct cfg_port *a, const struct cfg_port *b)
{
	unsigned int i;

	if (strcmp(a->name, b->name) != 0 || a->port_id != b->port_id ||
	    strcmp(a->devname, b->devname) != 0 || a->mtu != b->mtu ||
	    a->naddrs != b->naddrs)
		return false;
	for (i = 0; i < a->naddrs; i++)
		if (a->addrs[i].len != b->addrs[i].len ||
		    !cfg_addr_eq(&a->addrs[i].addr, &b->addrs[i].addr))
			return false;
	return true;
}

/* ---------------------------------------------------------------------- */
/* Routes: what the FIB should hold for a configuration */

static void
prefix_mask(struct cfg_prefix *p)
{
	unsigned int bits = p->addr.family == AF_INET ? 32 : 128, i;

	for (i = p->len; i < bits; i++)
		p->addr.a[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
}

static int
plan_reserve(struct plan *pl, size_t cap)
{
	struct rt *r;

	if (cap <= pl->cap)
		return 0;
	r = realloc(pl->r, cap * sizeof(*r));
	if (r == NULL)
		return -ENOMEM;
	pl->r = r;
	pl->cap = cap;
	return 0;
}

/* `dev` must live as long as the plan (a name in the configuration or a
 * port's). */
static int
plan_add(struct plan *pl, const struct cfg_prefix *p, const struct nexthop *nh,
	 enum rt_type type, const char *dev)
{
	struct rt *r;

	if (pl->n == pl->cap &&
	    plan_reserve(pl, pl->cap ? pl->cap * 2 : 64) != 0)
		return -ENOMEM;
	r = &pl->r[pl->n];
	r->p = *p;
	prefix_mask(&r->p);
	r->nh = *nh;
	r->type = (uint8_t)type;
	/* the kind first: connected < peer < static < local */
	r->seq = ((uint32_t)rt_rank[type] << 28) |
		 (uint32_t)(pl->n++ & 0x0fffffff);
	r->dev = dev;
	return 0;
}

/* The next hop of a configured route whose dev is port p or interface
 * ifidx (-1: none); -1 when it names neither. */
static int
route_nexthop(const struct cfg_route *rt, const struct dp_port *p, int ifidx,
	      struct nexthop *nh)
{
	memset(nh, 0, sizeof(*nh));
	if (ifidx >= 0) {
		nh->type = NH_IFACE;
		nh->port = (uint32_t)ifidx;
	} else if (p != NULL) {
		nh->port = p->port_id;
		nh->type = rt->has_via ? NH_VIA : NH_CONNECTED;
		if (rt->has_via) {
			nh->family = (uint8_t)rt->via.family;
			memcpy(nh->via, rt->via.a, sizeof(nh->via));
		}
	} else {
		return -1;
	}
	return 0;
}

/* By family, address, length (prefixes of one address: shortest first),
 * then seq.  The addresses compare as big-endian integers. */
static int
rt_cmp(const void *x, const void *y)
{
	const struct rt *a = x, *b = y;
	uint64_t a0, a1, b0, b1;

	if (a->p.addr.family != b->p.addr.family)
		return a->p.addr.family - b->p.addr.family;
	memcpy(&a0, a->p.addr.a, 8);
	memcpy(&b0, b->p.addr.a, 8);
	if (a0 != b0)
		return rte_be_to_cpu_64(a0) < rte_be_to_cpu_64(b0) ? -1 : 1;
	memcpy(&a1, a->p.addr.a + 8, 8);
	memcpy(&b1, b->p.addr.a + 8, 8);
	if (a1 != b1)
		return rte_be_to_cpu_64(a1) < rte_be_to_cpu_64(b1) ? -1 : 1;
	if (a->p.len != b->p.len)
		return a->p.len - b->p.len;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Sort r[0..n), in O(n) when it is sorted already (a table from a file
 * usually is: then a million routes need no qsort). */
static void
rt_sort(struct rt *r, size_t n)
{
	size_t i;

	for (i = 1; i < n; i++)
		if (rt_cmp(&r[i - 1], &r[i]) > 0) {
			qsort(r, n, sizeof(*r), rt_cmp);
			return;
		}
}

static bool
prefix_eq(const struct cfg_prefix *a, const struct cfg_prefix *b)
{
	return a->len == b->len && cfg_addr_eq(&a->addr, &b->addr);
}

/*
 * Connected prefixes, interface peers, configured routes, and own
 * addresses last (nothing overrides those); one route per prefix, the
 * later kind winning (seq): a configured route for an interface's peer
 * replaces the peer route.  The configured routes are planned and sorted
 * apart from the handful of others, and the two merged: O(n) for a table
 * given in order, O(n log n) otherwise.
 */
static int
plan_build(const struct dp *dp, const struct cfg *cfg, struct plan *pl)
{
	struct nexthop nh;
	struct cfg_prefix host;
	struct plan imp = { 0 };
	const char *last_dev = NULL;
	const struct dp_port *p = NULL;
	int ifidx = -1;
	size_t i, k, m;
	unsigned int j;
	int rc = 0;

	memset(pl, 0, sizeof(*pl));
	if (plan_reserve(pl, cfg->nroutes + 1) != 0)
		return -ENOMEM;
	for (i = 0; i < cfg->nroutes; i++) {
		const struct cfg_route *rt = &cfg->routes[i];

		/* a million routes name a handful of devices, mostly in runs */
		if (last_dev == NULL || strcmp(last_dev, rt->dev) != 0) {
			p = dp_port_named(dp, rt->dev);
			ifidx = ipsec_iface_find(dp->ipsec, rt->dev);
			last_dev = rt->dev;
		}
		if (route_nexthop(rt, p, ifidx, &nh) != 0)
			continue;
		rc |= plan_add(pl, &rt->prefix, &nh, RT_STATIC, rt->dev);
	}
	for (i = 0; i < cfg->nports; i++) {
		p = dp_port_named(dp, cfg->ports[i].name);
		for (j = 0; p != NULL && j < cfg->ports[i].naddrs; j++) {
			memset(&nh, 0, sizeof(nh));
			nh.type = NH_CONNECTED;
			nh.port = p->port_id;
			rc |= plan_add(&imp, &cfg->ports[i].addrs[j], &nh,
				       RT_CONNECTED, p->name);
		}
	}
	/* an interface's peer is reached through it (ifconfig's "inet ADDR
	 * PEER") */
	for (i = 0; i < cfg->ninterfaces; i++) {
		const struct cfg_interface *ci = &cfg->interfaces[i];

		if (!ci->has_peer)
			continue;
		host.addr = ci->peer;
		host.len = ci->peer.family == AF_INET ? 32 : 128;
		memset(&nh, 0, sizeof(nh));
		nh.type = NH_IFACE;
		nh.port = (uint32_t)ipsec_iface_find(dp->ipsec, ci->name);
		rc |= plan_add(&imp, &host, &nh, RT_PEER, ci->name);
	}
	memset(&nh, 0, sizeof(nh));
	nh.type = NH_LOCAL;
	for (i = 0; i < cfg->nports; i++)
		for (j = 0; j < cfg->ports[i].naddrs; j++) {
			host = cfg->ports[i].addrs[j];
			host.len = host.addr.family == AF_INET ? 32 : 128;
			rc |= plan_add(&imp, &host, &nh, RT_LOCAL,
				       cfg->ports[i].name);
		}
	for (i = 0; i < cfg->ninterfaces; i++)
		for (j = 0; j < cfg->interfaces[i].naddrs; j++) {
			host = cfg->interfaces[i].addrs[j];
			host.len = host.addr.family == AF_INET ? 32 : 128;
			rc |= plan_add(&imp, &host, &nh, RT_LOCAL,
				       cfg->interfaces[i].name);
		}
	if (rc != 0 || plan_reserve(pl, pl->n + imp.n) != 0) {
		free(imp.r);
		return -ENOMEM;
	}
	rt_sort(pl->r, pl->n);
	rt_sort(imp.r, imp.n);
	/* merge from the back: imp into the room after pl's entries */
	for (k = pl->n + imp.n, i = pl->n, m = imp.n; m > 0; k--) {
		if (i > 0 && rt_cmp(&pl->r[i - 1], &imp.r[m - 1]) > 0)
			pl->r[k - 1] = pl->r[--i];
		else
			pl->r[k - 1] = imp.r[--m];
	}
	pl->n += imp.n;
	free(imp.r);
	/* keep the last of each prefix */
	for (i = 0, k = 0; i < pl->n; i++) {
		if (i + 1 < pl->n && prefix_eq(&pl->r[i].p, &pl->r[i + 1].p))
			continue;
		pl->r[k++] = pl->r[i];
	}
	pl->n = k;
	return 0;
}

static bool
nh_equal(const struct nexthop *a, const struct nexthop *b)
{
	return a->type == b->type && a->port == b->port &&
	       a->family == b->family && memcmp(a->via, b->via, 16) == 0;
}

static void
fib_change(struct ctl *c, const struct cfg_prefix *p, const struct nexthop *nh,
	   struct cfg_err *err)
{
	char b[INET6_ADDRSTRLEN];
	struct cfg_pos pos = { .file = "route", .line = 0, .col = 0 };
	int rc = nh != NULL ? fib_add(c->dp->fib, p, nh) :
			      fib_del(c->dp->fib, p);

	if (rc != 0)
		cfg_errorf(err, &pos, "route %s/%u: cannot %s: %s",
			   cfg_addr_str(&p->addr, b, sizeof(b)), p->len,
			   nh != NULL ? "add" : "delete", strerror(-rc));
}

/* Take the FIB from plan a to plan b: additions and changes first, then
 * what b no longer has. */
static void
plan_apply(struct ctl *c, const struct plan *a, const struct plan *b,
	   struct changes *ch, struct cfg_err *err)
{
	size_t i = 0, j = 0;
	int pass, d;

	for (pass = 0; pass < 2; pass++) {
		for (i = 0, j = 0; i < a->n || j < b->n;) {
			if (i == a->n)
				d = 1;
			else if (j == b->n)
				d = -1;
			else
				d = rt_cmp(&(struct rt){ .p = a->r[i].p },
					   &(struct rt){ .p = b->r[j].p });
			if (d < 0) {
				if (pass == 1) {
					fib_change(c, &a->r[i].p, NULL, err);
					ch->removed[CH_ROUTE]++;
				}
				i++;
			} else if (d > 0) {
				if (pass == 0) {
					fib_change(c, &b->r[j].p, &b->r[j].nh, err);
					ch->added[CH_ROUTE]++;
				}
				j++;
			} else {
				if (pass == 0 && !nh_equal(&a->r[i].nh, &b->r[j].nh)) {
					fib_change(c, &b->r[j].p, &b->r[j].nh, err);
					ch->changed[CH_ROUTE]++;
				}
				i++;
				j++;
			}
		}
	}
}

/* ---------------------------------------------------------------------- */
/* Neighbors */

static bool
neigh_same(const struct cfg_neighbor *a, const struct cfg_neighbor *b)
{
	return cfg_addr_eq(&a->addr, &b->addr) && strcmp(a->dev, b->dev) == 0;
}

static void
neigh_apply(struct ctl *c, const struct cfg *a, const struct cfg *b,
	    struct changes *ch, struct cfg_err *err)
{
	struct neigh_key k;
	size_t i, j;

	for (j = 0; j < b->nneighbors; j++) {
		const struct cfg_neighbor *n = &b->neighbors[j];
		const struct dp_port *p = dp_port_named(c->dp, n->dev);
		struct rte_ether_addr ll;
		bool had = false;

		for (i = 0; i < a->nneighbors && !had; i++)
			had = neigh_same(&a->neighbors[i], n) &&
			      memcmp(a->neighbors[i].lladdr, n->lladdr, 6) == 0;
		if (had || p == NULL)
			continue;
		memcpy(ll.addr_bytes, n->lladdr, 6);
		neigh_key_make(&k, p->port_id, n->addr.family, n->addr.a);
		if (neigh_add(c->dp->neigh, &k, &ll, true) != 0)
			cfg_errorf(err, &n->pos, "neighbor: cannot add: table full");
		ch->added[CH_NEIGH]++;
	}
	for (i = 0; i < a->nneighbors; i++) {
		const struct cfg_neighbor *n = &a->neighbors[i];
		const struct dp_port *p = dp_port_named(c->dp, n->dev);
		bool kept = false;

		for (j = 0; j < b->nneighbors && !kept; j++)
			kept = neigh_same(&b->neighbors[j], n);
		if (kept || p == NULL)
			continue;
		neigh_key_make(&k, p->port_id, n->addr.family, n->addr.a);
		neigh_del(c->dp->neigh, &k);
		ch->removed[CH_NEIGH]++;
	}
}

/* New limits for a live SA; they count from its start, not from now. */
static void
sa_set_lifetime(struct ctl *c, struct ipsec_sa *s, const struct cfg_sa *sa)
{
	struct dp_sa_counters sc;

	if (!s->limited) {
		/* its use was not being counted: take it from the counters */
		dp_sa_counters(c->dp, s->idx, &sc);
		__atomic_store_n(&s->use.packets, sc.packets, __ATOMIC_RELAXED);
		__atomic_store_n(&s->use.bytes, sc.bytes, __ATOMIC_RELAXED);
	}
	ipsec_sa_set_lifetime(s, &sa->soft, &sa->hard);
}

/* ---------------------------------------------------------------------- */
/* The diff */

static void
sa_remove(struct ctl *c, const struct cfg_sa *sa)
{
	struct ipsec_sa *s = ipsec_sa_find(c->dp->ipsec, sa->spi, &sa->dst);

	if (s == NULL)
		return;
	ipsec_sa_delete(c->dp, s);
	event_sa(c, "sa-deleted", sa);
}

/* Delete the SAs of `run` bound to interface `name`; mark them done. */
static void
sa_remove_of(struct ctl *c, const char *name, bool *done)
{
	size_t i;

	for (i = 0; i < c->run.nsas; i++)
		if (!done[i] && strcmp(c->run.sas[i].interface, name) == 0) {
			sa_remove(c, &c->run.sas[i]);
			done[i] = true;
		}
}

static int
check_fixed(const struct ctl *c, const struct cfg *next, struct cfg_err *err)
{
	struct cfg_pos pos = { .file = next->file ? next->file : "-" };
	size_t i;
	bool same = next->nports == c->run.nports &&
		    strcmp(next->crypto.driver, c->run.crypto.driver) == 0 &&
		    next->crypto.mode == c->run.crypto.mode;

	for (i = 0; same && i < next->nports; i++)
		same = port_same(&next->ports[i], &c->run.ports[i]);
	if (!same)
		cfg_errorf(err, &pos,
			   "ports and crypto cannot change while the gateway runs (restart it for that); nothing was changed");
	return same ? 0 : -1;
}

/*
 * Take the dataplane from c->run to `next` (validated), and make `next`
 * the running configuration.  What can be refused is refused before
 * anything changes; a failure after that (memory) is reported, and the
 * objects that failed are left out of the running configuration.
 */
static int
ctl_commit(struct ctl *c, struct cfg *next, struct changes *ch,
	   struct cfg_err *err)
{
	struct dp *dp = c->dp;
	bool mode_cpu = next->crypto.mode == CFG_CRYPTO_CPU;
	bool *done = NULL, *kept = NULL, *failed = NULL;
	unsigned int before = err->count;
	struct cfg_lookup nlk_mem, *nlk = &nlk_mem;
	struct plan pa, pb;
	size_t i, k;

	memset(ch, 0, sizeof(*ch));
	if (check_fixed(c, next, err) != 0)
		return -1;
	/* next's interfaces by name (without memory for it: scans) */
	if (cfg_lookup_build(nlk, next) != 0)
		nlk = NULL;
	done = calloc(c->run.nsas + 1, sizeof(*done));
	kept = calloc(next->nsas + 1, sizeof(*kept));
	failed = calloc(next->nsas + 1, sizeof(*failed));
	if (done == NULL || kept == NULL || failed == NULL ||
	    plan_build(dp, &c->run, &pa) != 0) {
		free(done);
		free(kept);
		free(failed);
		if (nlk != NULL)
			cfg_lookup_free(nlk);
		cfg_errorf(err, &next->crypto.pos, "out of memory");
		return -1;
	}
	/* which SAs stay as they are */
	for (i = 0; i < next->nsas; i++) {
		const struct cfg_sa *o = run_sa_find(c, next->sas[i].spi,
						     &next->sas[i].dst);
		const struct cfg_interface *fo, *fn;

		if (o == NULL || !sa_same(o, &next->sas[i]))
			continue;
		fo = run_iface_find(c, o->interface);
		fn = iface_in(next, nlk, o->interface);
		kept[i] = fo != NULL && fn != NULL && iface_base_same(fo, fn);
	}
	/* refuse what the tables have no room for before changing anything
	 * (interfaces are made before the old ones go; SAs that replace
	 * others may need a slot each for a moment more than counted here) */
	{
		size_t nif = dp->ipsec->nifs;

		for (i = 0; i < next->ninterfaces; i++)
			nif += run_iface_find(c, next->interfaces[i].name) == NULL;
		if (nif > dp->ipsec->max_if)
			cfg_errorf(err, &next->crypto.pos,
				   "%zu interfaces: there is room for %u (ipsecgw --max-interfaces); nothing was changed",
				   nif, dp->ipsec->max_if);
		if (next->nsas > dp->ipsec->max_sa)
			cfg_errorf(err, &next->crypto.pos,
				   "%zu SAs: there is room for %u (ipsecgw --max-sas); nothing was changed",
				   next->nsas, dp->ipsec->max_sa);
	}
	/* refuse what the crypto device cannot do before changing anything */
	for (i = 0; i < next->nsas; i++)
		if (!kept[i])
			crypto_check(dp->ipsec, &next->sas[i], err);
	if (err->count != before) {
		free(done);
		free(kept);
		free(failed);
		free(pa.r);
		if (nlk != NULL)
			cfg_lookup_free(nlk);
		return -1;
	}

	/* interfaces that are rebuilt lose their SAs first */
	for (i = 0; i < c->run.ninterfaces; i++) {
		const struct cfg_interface *o = &c->run.interfaces[i];
		const struct cfg_interface *n = iface_in(next, nlk, o->name);
		int idx = ipsec_iface_find(dp->ipsec, o->name);

		if (n == NULL || iface_base_same(o, n))
			continue;
		sa_remove_of(c, o->name, done);
		if (idx >= 0)
			ipsec_iface_del(dp, (uint32_t)idx);
		if (ipsec_iface_add(dp, n) < 0)
			cfg_errorf(err, &n->pos, "interface %s: no room", n->name);
		ch->changed[CH_IF]++;
	}
	/* new interfaces, and changes that SAs do not depend on */
	for (i = 0; i < next->ninterfaces; i++) {
		const struct cfg_interface *n = &next->interfaces[i];
		const struct cfg_interface *o = run_iface_find(c, n->name);
		int idx = ipsec_iface_find(dp->ipsec, n->name);

		if (o == NULL) {
			if (ipsec_iface_add(dp, n) < 0)
				cfg_errorf(err, &n->pos,
					   "interface %s: no room (at most %u)",
					   n->name, dp->ipsec->max_if);
			else
				event_iface(c, "interface-added", n->name);
			ch->added[CH_IF]++;
		} else if (iface_base_same(o, n) && !iface_same(o, n) && idx >= 0) {
			ipsec_iface_update(dp, (uint32_t)idx, n);
			ch->changed[CH_IF]++;
		}
	}
	/* SAs: a changed one (same SPI and destination) goes before its
	 * successor comes; new outbound SAs take over their interface */
	for (i = 0; i < next->nsas; i++) {
		struct cfg_sa *n = &next->sas[i];
		const struct cfg_sa *o = run_sa_find(c, n->spi, &n->dst);
		struct ipsec_sa *s;

		if (kept[i]) {
			s = ipsec_sa_find(dp->ipsec, n->spi, &n->dst);
			if (!lifetime_same(o, n) || o->natt_port != n->natt_port) {
				if (s != NULL) {
					sa_set_lifetime(c, s, n);
					ipsec_sa_set_natt_port(s, n->natt_port);
				}
				ch->changed[CH_SA]++;
			}
			done[o - c->run.sas] = true;
			continue;
		}
		if (o != NULL && !done[o - c->run.sas]) {
			sa_remove(c, o);
			done[o - c->run.sas] = true;
		}
		if (ipsec_sa_create(dp, n, mode_cpu, &s, err) != 0) {
			failed[i] = true;
			continue;
		}
		if (ipsec_sa_publish(dp, s) != 0) {
			cfg_errorf(err, &n->pos, "sa %u: cannot publish", n->spi);
			ipsec_sa_discard(dp, s);
			failed[i] = true;
			continue;
		}
		event_sa(c, "sa-added", n);
		ch->added[CH_SA]++;
	}
	/* leave out what failed, so that `run` is what the dataplane has */
	for (i = 0, k = 0; i < next->nsas; i++) {
		if (failed[i]) {
			cfg_sa_wipe_keys(&next->sas[i]);
			continue;
		}
		next->sas[k++] = next->sas[i];
	}
	next->nsas = k;

	/* routes and neighbors, with the interfaces' final indexes */
	if (plan_build(dp, next, &pb) == 0)
		plan_apply(c, &pa, &pb, ch, err);
	else
		cfg_errorf(err, &next->crypto.pos, "out of memory for routes");
	neigh_apply(c, &c->run, next, ch, err);

	/* what is gone */
	for (i = 0; i < c->run.nsas; i++)
		if (!done[i]) {
			sa_remove(c, &c->run.sas[i]);
			ch->removed[CH_SA]++;
		}
	for (i = 0; i < c->run.ninterfaces; i++) {
		const char *name = c->run.interfaces[i].name;
		int idx = ipsec_iface_find(dp->ipsec, name);

		if (iface_in(next, nlk, name) != NULL || idx < 0)
			continue;
		ipsec_iface_del(dp, (uint32_t)idx);
		event_iface(c, "interface-deleted", name);
		ch->removed[CH_IF]++;
	}
	free(pa.r);
	free(pb.r);
	free(done);
	free(kept);
	free(failed);
	if (nlk != NULL)
		cfg_lookup_free(nlk);
	cfg_free(&c->run);
	c->run = *next;
	c->rt_stale = true;
	memset(next, 0, sizeof(*next));
	run_reindex(c);
	/* routes to tunnel remotes and outbound SAs may have changed */
	ipsec_iface_mtu_refresh(dp);
	return err->count == before ? 0 : -1;
}

/* A file may give an interface one outbound SA: which would be used? */
static int
check_file_outbound(const struct cfg *cfg, struct cfg_err *err)
{
	unsigned int before = err->count;
	struct cfg_ix ix;	/* outbound SAs by interface name */
	size_t i, j, it;
	uint64_t h;

	if (cfg_ix_init(&ix, cfg->nsas) != 0) {
		cfg_errorf(err, &cfg->crypto.pos, "out of memory");
		return -1;
	}
	for (i = 0; i < cfg->nsas; i++) {
		if (!cfg->sas[i].outbound)
			continue;
		h = cfg_name_hash(cfg->sas[i].interface);
		for (j = cfg_ix_first(&ix, h, &it); j != CFG_IX_NONE;
		     j = cfg_ix_next(&ix, h, &it))
			if (strcmp(cfg->sas[i].interface,
				   cfg->sas[j].interface) == 0) {
				cfg_errorf(err, &cfg->sas[i].pos,
					   "sa %u: interface %s already has outbound SA %u",
					   cfg->sas[i].spi, cfg->sas[i].interface,
					   cfg->sas[j].spi);
				break;
			}
		if (cfg_ix_add(&ix, h, i) != 0) {
			cfg_errorf(err, &cfg->sas[i].pos, "out of memory");
			break;
		}
	}
	cfg_ix_free(&ix);
	return err->count == before ? 0 : -1;
}

/* ---------------------------------------------------------------------- */
/* Life cycle */

struct ctl *
ctl_create(struct dp *dp, const struct cfg *cfg, const char *file)
{
	struct ctl *c = calloc(1, sizeof(*c));
	struct plan pl, none = { 0 };
	struct changes ch;
	struct cfg_err quiet;
	unsigned int rc;

	cfg_err_init(&quiet, stderr, 0);
	if (c == NULL)
		return NULL;
	c->dp = dp;
	c->rt_stale = true;	/* the index is built on first use */
	c->file = strdup(file);
	c->run.crypto = cfg->crypto;
	c->run.ports = calloc(cfg->nports + 1, sizeof(*cfg->ports));
	c->resv = calloc(SPI_RESV_MAX, sizeof(*c->resv));
	if (c->file == NULL || c->run.ports == NULL || c->resv == NULL) {
		ctl_free(c);
		return NULL;
	}
	memcpy(c->run.ports, cfg->ports, cfg->nports * sizeof(*cfg->ports));
	c->run.nports = cfg->nports;
	/* the FIB starts as this configuration (the ports alone) says */
	if (plan_build(dp, &c->run, &pl) != 0) {
		free(pl.r);
		ctl_free(c);
		return NULL;
	}
	plan_apply(c, &none, &pl, &ch, &quiet);
	free(pl.r);
	rc = quiet.count;
	cfg_err_free(&quiet);
	if (rc != 0) {
		ctl_free(c);
		return NULL;
	}
	run_reindex(c);
	return c;
}

void
ctl_free(struct ctl *c)
{
	if (c == NULL)
		return;
	cfg_free(&c->run);
	cfg_ix_free(&c->run_sa);
	cfg_lookup_free(&c->run_lk);
	cfg_ix_free(&c->run_rt);
	free(c->file);
	free(c->resv);
	free(c);
}

void
ctl_set_server(struct ctl *c, struct server *srv)
{
	c->srv = srv;
}

int
ctl_load(struct ctl *c, struct cfg *next, struct cfg_err *err)
{
	struct changes ch;

	if (check_file_outbound(next, err) != 0)
		return -1;
	return ctl_commit(c, next, &ch, err);
}

size_t
ctl_nroutes(const struct ctl *c)
{
	return c->run.nroutes;
}

/* ---------------------------------------------------------------------- */
/* Requests */

struct req {
	struct ctl *c;
	struct cfg_ctx ctx;
	yaml_node_t *root;
	struct jbuf *out;
	struct cfg_err *err;
	bool subscribe;
};

static const char *const req_ignore[] = { "op", NULL };

/* The request's value for `key`, or NULL. */
static yaml_node_t *
req_get(struct req *r, const char *key)
{
	yaml_node_pair_t *p;

	for (p = r->root->data.mapping.pairs.start;
	     p < r->root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(r->ctx.doc, p->key);

		if (k != NULL && k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0)
			return yaml_document_get_node(r->ctx.doc, p->value);
	}
	return NULL;
}

static void
req_fail(struct req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
req_fail(struct req *r, const char *fmt, ...)
{
	struct cfg_pos pos = cfg_node_pos(&r->ctx, r->root);
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cfg_errorf(r->err, &pos, "%s", msg);
}

/* Validate `next` and commit it.  Takes `next` in every case. */
static int
req_commit(struct req *r, struct cfg *next, struct changes *ch)
{
	struct changes local;
	int rc;

	if (cfg_validate(next, r->err) != 0) {
		cfg_free(next);
		return -1;
	}
	rc = ctl_commit(r->c, next, ch != NULL ? ch : &local, r->err);
	cfg_free(next);
	return rc;
}

static int
req_copy(struct req *r, struct cfg *next)
{
	if (cfg_copy(next, &r->c->run) == 0)
		return 0;
	req_fail(r, "out of memory");
	return -1;
}

#define APPEND(arr, n, item)                                               \
	({                                                                 \
		__typeof__(arr) _a = realloc((arr), ((n) + 1) * sizeof(*(arr))); \
		int _rc = -1;                                              \
		if (_a != NULL) {                                          \
			(arr) = _a;                                        \
			(arr)[(n)++] = (item);                             \
			_rc = 0;                                           \
		}                                                          \
		_rc;                                                       \
	})

/* Fields that name an SA: spi, dst, and src if given. */
static struct cfg_sa *
req_sa(struct req *r, const char *const *keys)
{
	yaml_node_t *v[8] = { NULL };
	struct cfg_addr dst, src;
	struct cfg_sa *sa;
	uint64_t spi;
	char b[INET6_ADDRSTRLEN];

	if (cfg_parse_fields(&r->ctx, r->root, keys, v, NULL) != 0)
		return NULL;
	if (v[1] == NULL || v[2] == NULL) {
		req_fail(r, "an SA is named by spi and dst");
		return NULL;
	}
	if (cfg_parse_uint(&r->ctx, v[1], "spi", 0, UINT32_MAX, &spi) != 0 ||
	    cfg_parse_addr(&r->ctx, v[2], "dst", &dst) != 0 ||
	    (v[3] != NULL && cfg_parse_addr(&r->ctx, v[3], "src", &src) != 0))
		return NULL;
	sa = run_sa_find(r->c, (uint32_t)spi, &dst);
	if (sa == NULL || (v[3] != NULL && !cfg_addr_eq(&sa->src, &src))) {
		req_fail(r, "no SA with spi %" PRIu64 " to %s%s", spi,
			 cfg_addr_str(&dst, b, sizeof(b)),
			 sa != NULL ? " from that src" : "");
		return NULL;
	}
	return sa;
}

static void
lifetime_json(struct jbuf *j, const char *key, const struct cfg_lifetime *l)
{
	jb_obj(j, key);
	jb_u64(j, "bytes", l->bytes);
	jb_u64(j, "packets", l->packets);
	jb_u64(j, "seconds", l->seconds);
	jb_end(j);
}

static void
sa_json(struct ctl *c, struct jbuf *j, const char *key, const struct cfg_sa *sa)
{
	struct ipsec_sa *s = ipsec_sa_find(c->dp->ipsec, sa->spi, &sa->dst);
	static const char *const states[] = { "live", "soft-expired",
					      "hard-expired" };
	struct dp_sa_counters sc = { 0 };

	if (s != NULL)
		dp_sa_counters(c->dp, s->idx, &sc);
	jb_obj(j, key);
	jb_u64(j, "spi", sa->spi);
	addr_field(j, "src", &sa->src);
	addr_field(j, "dst", &sa->dst);
	jb_str(j, "interface", sa->interface);
	jb_u64(j, "reqid", sa->reqid);
	jb_str(j, "direction", sa->outbound ? "out" : "in");
	if (sa->aead != CFG_AEAD_NONE) {
		jb_str(j, "aead", cfg_aead_name(sa->aead));
	} else {
		jb_str(j, "enc", cfg_enc_name(sa->enc));
		jb_str(j, "auth", cfg_auth_name(sa->auth));
	}
	jb_bool(j, "esn", sa->esn);
	jb_u64(j, "replay-window", sa->replay_window);
	jb_u64(j, "nat-t-port", sa->natt_port ? sa->natt_port : 4500);
	jb_obj(j, "lifetime");
	lifetime_json(j, "soft", &sa->soft);
	lifetime_json(j, "hard", &sa->hard);
	jb_end(j);
	jb_str(j, "state", s != NULL ? states[s->use.state] : "live");
	jb_u64(j, "packets", sc.packets);
	jb_u64(j, "bytes", sc.bytes);
	jb_u64(j, "auth_failed", sc.auth_failed);
	jb_u64(j, "replay", sc.replay);
	jb_u64(j, "seq", sc.seq);
	jb_u64(j, "added", s != NULL ? s->added : 0);
	jb_u64(j, "last_used", s != NULL ? s->use.last_used : 0);
	jb_end(j);
}

static void
prefix_field(struct jbuf *j, const char *key, const struct cfg_prefix *p)
{
	char b[INET6_ADDRSTRLEN + 8], a[INET6_ADDRSTRLEN];

	snprintf(b, sizeof(b), "%s/%u", cfg_addr_str(&p->addr, a, sizeof(a)),
		 p->len);
	jb_str(j, key, b);
}

/*
 * An interface as requests show it.  `in` (may be NULL: a scan of every
 * SA) lists its inbound SAs: run.sas[] positions from in->first[position
 * of f] along in->next[], so that interface-list is not O(interfaces x
 * SAs).
 */
struct sa_chains {
	size_t *first;			/* per run.interfaces[] */
	size_t *next;			/* per run.sas[] */
};

/* `in` for an interface just made, which has no SA */
static const struct sa_chains no_sas;

static void
iface_json(struct ctl *c, struct jbuf *j, const char *key,
	   const struct cfg_interface *f, const struct sa_chains *in)
{
	static const char *const dfs[] = { "copy", "clear", "set" };
	int idx = ipsec_iface_find(c->dp->ipsec, f->name);
	const struct ipsec_iface *ifc = idx >= 0 ? c->dp->ipsec->ifp[idx] : NULL;
	struct dp_counters cnt = { 0 };
	unsigned int i;
	size_t s;

	if (idx >= 0)
		dp_iface_counters(c->dp, (unsigned int)idx, &cnt);
	jb_obj(j, key);
	jb_str(j, "name", f->name);
	if (f->has_tunnel) {
		jb_obj(j, "tunnel");
		addr_field(j, "local", &f->local);
		addr_field(j, "remote", &f->remote);
		jb_end(j);
	} else {
		jb_null(j, "tunnel");
	}
	jb_arr(j, "address");
	for (i = 0; i < f->naddrs; i++)
		prefix_field(j, NULL, &f->addrs[i]);
	jb_end(j);
	if (f->has_peer)
		addr_field(j, "peer", &f->peer);
	else
		jb_null(j, "peer");
	jb_u64(j, "reqid", f->reqid);
	/* the MTU in force; `mtu: auto` follows the route and the SA */
	jb_u64(j, "mtu", ifc != NULL ? ifc->mtu : f->mtu);
	jb_bool(j, "mtu-auto", f->mtu == 0);
	jb_bool(j, "nat-t", f->nat_t);
	jb_bool(j, "ecn", f->ecn);
	jb_bool(j, "ipv6", f->ipv6);
	jb_str(j, "df", dfs[f->df]);
	if (ifc != NULL && ifc->out != NULL)
		jb_u64(j, "outbound_sa", ifc->out->spi);
	else
		jb_null(j, "outbound_sa");
	jb_arr(j, "inbound_sas");
	if (in == &no_sas) {
		;
	} else if (in != NULL) {
		for (s = in->first[f - c->run.interfaces]; s != SIZE_MAX;
		     s = in->next[s])
			jb_u64(j, NULL, c->run.sas[s].spi);
	} else {
		for (s = 0; s < c->run.nsas; s++)
			if (!c->run.sas[s].outbound &&
			    strcmp(c->run.sas[s].interface, f->name) == 0)
				jb_u64(j, NULL, c->run.sas[s].spi);
	}
	jb_end(j);
	jb_u64(j, "rx_packets", cnt.rx_packets);
	jb_u64(j, "rx_bytes", cnt.rx_bytes);
	jb_u64(j, "tx_packets", cnt.tx_packets);
	jb_u64(j, "tx_bytes", cnt.tx_bytes);
	jb_u64(j, "dropped", dp_counters_dropped(&cnt));
	jb_end(j);
}

/* --- the operations --- */

static int
op_hello(struct req *r)
{
	static const char *const modes[] = { "auto", "lookaside", "cpu" };
	struct ipsec_ctx *ic = r->c->dp->ipsec;
	struct cfg_err quiet;
	struct cfg_sa t;
	unsigned int a;

	cfg_err_init(&quiet, NULL, 0);
	jb_str(r->out, "version", IPSECGW_VERSION);
	jb_u64(r->out, "protocol", 1);
	jb_obj(r->out, "crypto");
	jb_str(r->out, "driver", r->c->run.crypto.driver);
	jb_str(r->out, "device", ic->dev_name);
	jb_str(r->out, "mode", modes[r->c->run.crypto.mode]);
	jb_end(r->out);
	/* what the device can do, asked the way an SA would ask it */
	jb_obj(r->out, "algorithms");
	jb_arr(r->out, "aead");
	for (a = 1; a < CFG_AEAD_MAX; a++) {
		memset(&t, 0, sizeof(t));
		t.aead = (enum cfg_aead)a;
		t.key_len = (uint8_t)cfg_aead_keylen(t.aead);
		if (crypto_check(ic, &t, &quiet) == 0)
			jb_str(r->out, NULL, cfg_aead_name(t.aead));
	}
	jb_end(r->out);
	jb_arr(r->out, "enc");
	for (a = 1; a < CFG_ENC_MAX; a++) {
		memset(&t, 0, sizeof(t));
		t.enc = (enum cfg_enc)a;
		t.enc_key_len = (uint8_t)cfg_enc_keylen(t.enc);
		t.auth = CFG_AUTH_HMAC_SHA256_128;
		t.auth_key_len = (uint8_t)cfg_auth_keylen(t.auth);
		if (crypto_check(ic, &t, &quiet) == 0)
			jb_str(r->out, NULL, cfg_enc_name(t.enc));
	}
	jb_end(r->out);
	jb_arr(r->out, "auth");
	for (a = 1; a < CFG_AUTH_MAX; a++) {
		memset(&t, 0, sizeof(t));
		t.enc = CFG_ENC_NULL;
		t.auth = (enum cfg_auth)a;
		t.auth_key_len = (uint8_t)cfg_auth_keylen(t.auth);
		if (crypto_check(ic, &t, &quiet) == 0)
			jb_str(r->out, NULL, cfg_auth_name(t.auth));
	}
	jb_end(r->out);
	jb_end(r->out);
	cfg_err_free(&quiet);
	return 0;
}

static bool
spi_taken(struct ctl *c, uint32_t spi, const struct cfg_addr *dst)
{
	size_t i;

	if (run_sa_find(c, spi, dst) != NULL)
		return true;
	for (i = 0; i < c->nresv; i++)
		if (c->resv[i].spi == spi && cfg_addr_eq(&c->resv[i].dst, dst))
			return true;
	return false;
}

static int
op_get_spi(struct req *r)
{
	static const char *const keys[] = { "op", "dst", "src", "reqid",
					    "interface", "timeout", NULL };
	yaml_node_t *v[7] = { NULL };
	struct cfg_addr dst, src;
	uint64_t timeout = 60, n;
	uint32_t spi = 0;
	int tries;

	if (cfg_parse_fields(&r->ctx, r->root, keys, v, NULL) != 0)
		return -1;
	if (v[1] == NULL) {
		req_fail(r, "get-spi needs dst (the local tunnel address)");
		return -1;
	}
	if (cfg_parse_addr(&r->ctx, v[1], "dst", &dst) != 0 ||
	    (v[2] != NULL && cfg_parse_addr(&r->ctx, v[2], "src", &src) != 0) ||
	    (v[3] != NULL && cfg_parse_uint(&r->ctx, v[3], "reqid", 1,
					    UINT32_MAX, &n) != 0) ||
	    (v[5] != NULL && cfg_parse_uint(&r->ctx, v[5], "timeout", 1,
					    86400, &timeout) != 0))
		return -1;
	if (r->c->nresv == SPI_RESV_MAX) {
		req_fail(r, "too many SPIs reserved (%u); add SAs or wait for them to time out",
			 SPI_RESV_MAX);
		return -1;
	}
	/* RFC 4303: 1..255 are reserved; a random SPI tells nothing */
	for (tries = 0; tries < 1000; tries++) {
		if (getrandom(&spi, sizeof(spi), 0) != sizeof(spi))
			spi = (uint32_t)rand();
		if (spi >= 256 && !spi_taken(r->c, spi, &dst))
			break;
		spi = 0;
	}
	if (spi == 0) {
		req_fail(r, "no free SPI found");
		return -1;
	}
	r->c->resv[r->c->nresv++] = (struct spi_resv){
		.spi = spi, .dst = dst, .until = r->c->dp->now + timeout,
	};
	jb_u64(r->out, "spi", spi);
	return 0;
}

static void
resv_release(struct ctl *c, uint32_t spi, const struct cfg_addr *dst)
{
	size_t i;

	for (i = 0; i < c->nresv; i++)
		if (c->resv[i].spi == spi && cfg_addr_eq(&c->resv[i].dst, dst)) {
			c->resv[i] = c->resv[--c->nresv];
			return;
		}
}

/*
 * The direct paths of sa-add, sa-del and sa-flush.  An IKE daemon installs
 * and deletes SAs one at a time, thousands a second; copying, validating
 * and diffing the whole running configuration for each (the full path,
 * req_commit) cost O(n) to O(n^2) in the number of SAs.  An SA changes
 * nothing but itself (routes and neighbors do not depend on SAs, and an
 * outbound SA's interface MTU is recomputed when it is published or
 * unpublished, iface_set_out), so these check the one entry by the same
 * rules and messages (cfg_validate_sa, crypto_check), apply it as
 * ctl_commit would, and keep c->run and its indexes in step.
 */

/* Room for one more SA in c->run and its index, so that appending the SA
 * after it is published cannot fail.  The old array is wiped (keys). */
static int
run_sa_reserve(struct ctl *c)
{
	struct cfg_sa *a;
	size_t cap;

	if (cfg_ix_reserve(&c->run_sa, c->run.nsas + 1) != 0)
		return -1;
	if (c->run.nsas < c->sas_cap)
		return 0;
	cap = c->sas_cap < 16 ? 16 : c->sas_cap * 2;
	a = malloc(cap * sizeof(*a));
	if (a == NULL)
		return -1;
	if (c->run.nsas != 0)
		memcpy(a, c->run.sas, c->run.nsas * sizeof(*a));
	if (c->run.sas != NULL)
		explicit_bzero(c->run.sas, c->sas_cap * sizeof(*a));
	free(c->run.sas);
	c->run.sas = a;
	c->sas_cap = cap;
	return 0;
}

static int
sa_add_direct(struct req *r, struct cfg_sa *sa)
{
	struct ctl *c = r->c;
	struct dp *dp = c->dp;
	struct ipsec_sa *s;

	if (cfg_validate_sa(&c->run, &c->run_lk, sa, c->run.nsas, r->err) != 0)
		return -1;
	/* as ctl_commit: what the device cannot do is refused first */
	if (crypto_check(dp->ipsec, sa, r->err) != 0)
		return -1;
	if (run_sa_reserve(c) != 0) {
		req_fail(r, "out of memory");
		return -1;
	}
	if (ipsec_sa_create(dp, sa, c->run.crypto.mode == CFG_CRYPTO_CPU, &s,
			    r->err) != 0)
		return -1;
	if (ipsec_sa_publish(dp, s) != 0) {
		cfg_errorf(r->err, &sa->pos, "sa %u: cannot publish", sa->spi);
		ipsec_sa_discard(dp, s);
		return -1;
	}
	event_sa(c, "sa-added", sa);
	c->run.sas[c->run.nsas] = *sa;
	cfg_ix_add(&c->run_sa, cfg_sa_key_hash(sa->spi, &sa->dst),
		   c->run.nsas);
	c->run.nsas++;
	c->ntimed += sa_timed(sa);
	return 0;
}

/* Take run.sas[i] out of c->run: the last SA takes its place. */
static void
run_sa_drop(struct ctl *c, size_t i)
{
	struct cfg_sa *a = c->run.sas;
	size_t last = c->run.nsas - 1;

	c->ntimed -= sa_timed(&a[i]);
	cfg_ix_del(&c->run_sa, cfg_sa_key_hash(a[i].spi, &a[i].dst), i);
	if (i != last) {
		cfg_ix_move(&c->run_sa, cfg_sa_key_hash(a[last].spi, &a[last].dst),
			    last, i);
		a[i] = a[last];
	}
	explicit_bzero(&a[last], sizeof(a[last]));
	c->run.nsas--;
}

static int
op_sa_add(struct req *r)
{
	struct cfg next;
	struct cfg_sa sa, *added;
	char b[INET6_ADDRSTRLEN];
	int rc;

	r->ctx.ignore = req_ignore;
	rc = cfg_parse_sa_entry(&r->ctx, r->root, &sa);
	if (rc != 0)
		return -1;
	if (run_sa_find(r->c, sa.spi, &sa.dst) != NULL) {
		req_fail(r, "an SA with spi %u to %s exists (sa-update changes it, sa-del removes it)",
			 sa.spi, cfg_addr_str(&sa.dst, b, sizeof(b)));
		cfg_sa_wipe_keys(&sa);
		return -1;
	}
	if (r->c->ix_ok) {
		rc = sa_add_direct(r, &sa);
		cfg_sa_wipe_keys(&sa);
		if (rc != 0)
			return -1;
	} else {
		if (req_copy(r, &next) != 0 ||
		    APPEND(next.sas, next.nsas, sa) != 0) {
			cfg_sa_wipe_keys(&sa);
			cfg_free(&next);
			return -1;
		}
		cfg_sa_wipe_keys(&sa);
		if (req_commit(r, &next, NULL) != 0)
			return -1;
	}
	added = &r->c->run.sas[r->c->run.nsas - 1];
	resv_release(r->c, added->spi, &added->dst);
	sa_json(r->c, r->out, "sa", added);
	return 0;
}

static const char *const sa_name_keys[] = { "op", "spi", "dst", "src", NULL };

static int
op_sa_get(struct req *r)
{
	struct cfg_sa *sa = req_sa(r, sa_name_keys);

	if (sa == NULL)
		return -1;
	sa_json(r->c, r->out, "sa", sa);
	return 0;
}

static int
op_sa_update(struct req *r)
{
	static const char *const keys[] = { "op", "spi", "dst", "src",
					    "lifetime", "nat-t-port", NULL };
	struct cfg_sa *sa = req_sa(r, keys), upd;
	struct ipsec_sa *s;
	yaml_node_t *lt = req_get(r, "lifetime"), *np = req_get(r, "nat-t-port");
	uint64_t port = 0;

	if (sa == NULL)
		return -1;
	if (lt == NULL && np == NULL) {
		req_fail(r, "sa-update changes lifetime and nat-t-port; neither is given");
		return -1;
	}
	memset(&upd, 0, sizeof(upd));
	if ((lt != NULL && cfg_parse_lifetime(&r->ctx, lt, &upd) != 0) ||
	    (np != NULL && cfg_parse_uint(&r->ctx, np, "nat-t-port", 1, 65535,
					  &port) != 0))
		return -1;
	s = ipsec_sa_find(r->c->dp->ipsec, sa->spi, &sa->dst);
	if (np != NULL) {
		/* a NAT's new mapping, as a `mapping` event told */
		sa->natt_port = (uint16_t)port;
		if (s != NULL)
			ipsec_sa_set_natt_port(s, sa->natt_port);
	}
	if (lt == NULL) {
		sa_json(r->c, r->out, "sa", sa);
		return 0;
	}
	r->c->ntimed -= sa_timed(sa);
	sa->soft = upd.soft;
	sa->hard = upd.hard;
	r->c->ntimed += sa_timed(sa);
	if (s != NULL)
		sa_set_lifetime(r->c, s, sa);
	sa_json(r->c, r->out, "sa", sa);
	return 0;
}

static int
op_sa_del(struct req *r)
{
	struct cfg_sa *sa = req_sa(r, sa_name_keys);
	struct cfg next;
	size_t i, k;

	if (sa == NULL)
		return -1;
	if (r->c->ix_ok) {
		/* what ctl_commit does with an SA that is gone */
		sa_remove(r->c, sa);
		run_sa_drop(r->c, (size_t)(sa - r->c->run.sas));
		return 0;
	}
	if (req_copy(r, &next) != 0)
		return -1;
	for (i = 0, k = 0; i < next.nsas; i++) {
		if (next.sas[i].spi == sa->spi &&
		    cfg_addr_eq(&next.sas[i].dst, &sa->dst)) {
			cfg_sa_wipe_keys(&next.sas[i]);
			continue;
		}
		next.sas[k++] = next.sas[i];
	}
	next.nsas = k;
	return req_commit(r, &next, NULL);
}

static int
op_sa_flush(struct req *r)
{
	static const char *const keys[] = { "op", "interface", "reqid", NULL };
	yaml_node_t *v[4] = { NULL };
	char name[CFG_NAME_MAX] = "";
	uint64_t reqid = 0;
	struct changes ch;
	struct cfg next;
	struct ctl *c = r->c;
	size_t i, k, n = 0;

	if (cfg_parse_fields(&r->ctx, r->root, keys, v, NULL) != 0 ||
	    (v[1] != NULL && cfg_parse_name(&r->ctx, v[1], "interface", name) != 0) ||
	    (v[2] != NULL && cfg_parse_uint(&r->ctx, v[2], "reqid", 1,
					    UINT32_MAX, &reqid) != 0))
		return -1;
	if (c->ix_ok) {
		/* in order, as ctl_commit removes what is gone; the rest keep
		 * their order */
		for (i = 0, k = 0; i < c->run.nsas; i++) {
			struct cfg_sa *sa = &c->run.sas[i];

			if ((name[0] == '\0' || strcmp(sa->interface, name) == 0) &&
			    (reqid == 0 || sa->reqid == reqid)) {
				sa_remove(c, sa);
				cfg_sa_wipe_keys(sa);
				n++;
				continue;
			}
			if (k != i)
				c->run.sas[k] = *sa;
			k++;
		}
		if (k != c->run.nsas)
			explicit_bzero(&c->run.sas[k],
				       (c->run.nsas - k) * sizeof(*c->run.sas));
		c->run.nsas = k;
		/* positions moved: the indexes are made again (O(n), as the
		 * deletions are) */
		k = c->sas_cap;
		run_reindex(c);
		c->sas_cap = k;
		jb_u64(r->out, "deleted", n);
		return 0;
	}
	if (req_copy(r, &next) != 0)
		return -1;
	for (i = 0, k = 0; i < next.nsas; i++) {
		const struct cfg_sa *sa = &next.sas[i];

		if ((name[0] == '\0' || strcmp(sa->interface, name) == 0) &&
		    (reqid == 0 || sa->reqid == reqid)) {
			cfg_sa_wipe_keys(&next.sas[i]);
			continue;
		}
		next.sas[k++] = next.sas[i];
	}
	next.nsas = k;
	if (req_commit(r, &next, &ch) != 0)
		return -1;
	jb_u64(r->out, "deleted", ch.removed[CH_SA]);
	return 0;
}

static int
op_sa_list(struct req *r)
{
	static const char *const keys[] = { "op", "interface", NULL };
	yaml_node_t *v[3] = { NULL };
	char name[CFG_NAME_MAX] = "";
	size_t i;

	if (cfg_parse_fields(&r->ctx, r->root, keys, v, NULL) != 0 ||
	    (v[1] != NULL && cfg_parse_name(&r->ctx, v[1], "interface", name) != 0))
		return -1;
	jb_arr(r->out, "sas");
	for (i = 0; i < r->c->run.nsas; i++)
		if (name[0] == '\0' || strcmp(r->c->run.sas[i].interface, name) == 0)
			sa_json(r->c, r->out, NULL, &r->c->run.sas[i]);
	jb_end(r->out);
	return 0;
}

/*
 * interface-add of an interface that adds no route (no peer, no address),
 * as a daemon creates one per tunnel: the checks of cfg_validate_names
 * and cfg_validate_reqids for the one entry, with their messages, then
 * what ctl_commit does with a new interface.
 */
static int
iface_add_direct(struct req *r, struct cfg_interface *f)
{
	struct ctl *c = r->c;
	struct dp *dp = c->dp;
	const struct cfg_interface *o;
	char where[64];
	size_t i;

	snprintf(where, sizeof(where), "interfaces.%s", f->name);
	if (cfg_port_find(&c->run, f->name) != NULL) {
		cfg_errorf(r->err, &f->pos, "%s: the name is already used by ports.%s",
			   where, f->name);
		return -1;
	}
	if (f->reqid != 0) {
		o = cfg_lookup_reqid(&c->run_lk, &c->run, f->reqid);
		if (o != NULL) {
			cfg_errorf(r->err, &f->pos,
				   "%s: reqid %" PRIu32 " is already used by interfaces.%s%s",
				   where, f->reqid, o->name,
				   o->has_reqid ? "" : " (assigned)");
			return -1;
		}
	} else {
		/* the lowest free one, as cfg_validate_reqids assigns */
		while (c->reqid_next != 0 &&
		       cfg_lookup_reqid(&c->run_lk, &c->run, c->reqid_next) != NULL)
			c->reqid_next++;
		if (c->reqid_next == 0) {
			cfg_errorf(r->err, &f->pos, "%s: no reqid left to assign", where);
			return -1;
		}
		f->reqid = c->reqid_next++;
	}
	if (dp->ipsec->nifs + 1 > dp->ipsec->max_if) {
		cfg_errorf(r->err, &c->run.crypto.pos,
			   "%u interfaces: there is room for %u (ipsecgw --max-interfaces); nothing was changed",
			   dp->ipsec->nifs + 1, dp->ipsec->max_if);
		return -1;
	}
	if (arr_reserve((void **)&c->run.interfaces, c->run.ninterfaces,
			&c->ifs_cap, sizeof(*c->run.interfaces)) != 0) {
		req_fail(r, "out of memory");
		return -1;
	}
	if (ipsec_iface_add(dp, f) < 0) {
		cfg_errorf(r->err, &f->pos, "interface %s: no room (at most %u)",
			   f->name, dp->ipsec->max_if);
		return -1;
	}
	event_iface(c, "interface-added", f->name);
	i = c->run.ninterfaces++;
	c->run.interfaces[i] = *f;
	if (cfg_lookup_add(&c->run_lk, &c->run, i) != 0)
		run_reindex(c);		/* and if that fails: scans */
	iface_json(c, r->out, "interface", &c->run.interfaces[i], &no_sas);
	return 0;
}

static int
op_interface_add(struct req *r)
{
	struct cfg_interface f;
	struct cfg next;
	int idx;

	r->ctx.ignore = req_ignore;
	if (cfg_parse_interface_entry(&r->ctx, NULL, r->root, &f) != 0)
		return -1;
	if (run_iface_find(r->c, f.name) != NULL) {
		req_fail(r, "interface %s exists (interface-set changes it)", f.name);
		return -1;
	}
	/* without a peer or addresses an interface adds no route */
	if (r->c->ix_ok && !f.has_peer && f.naddrs == 0)
		return iface_add_direct(r, &f);
	if (req_copy(r, &next) != 0)
		return -1;
	if (APPEND(next.interfaces, next.ninterfaces, f) != 0) {
		cfg_free(&next);
		req_fail(r, "out of memory");
		return -1;
	}
	if (req_commit(r, &next, NULL) != 0)
		return -1;
	idx = (int)r->c->run.ninterfaces - 1;
	iface_json(r->c, r->out, "interface", &r->c->run.interfaces[idx], NULL);
	return 0;
}

static const char *
req_name(struct req *r)
{
	static char name[CFG_NAME_MAX];
	yaml_node_t *n = req_get(r, "name");

	if (n == NULL) {
		req_fail(r, "name (the interface) is missing");
		return NULL;
	}
	if (cfg_parse_name(&r->ctx, n, "name", name) != 0)
		return NULL;
	if (run_iface_find(r->c, name) == NULL) {
		req_fail(r, "no interface named %s", name);
		return NULL;
	}
	return name;
}

static int
op_interface_set(struct req *r)
{
	struct cfg_interface parsed, *cur;
	const char *name;
	struct cfg next;
	size_t i;
	bool has_sas = false;

	r->ctx.ignore = req_ignore;
	name = req_name(r);
	if (name == NULL ||
	    cfg_parse_interface_entry(&r->ctx, NULL, r->root, &parsed) != 0 ||
	    req_copy(r, &next) != 0)
		return -1;
	cur = (struct cfg_interface *)cfg_interface_find(&next, name);
	/* only what the request gives changes */
	if (req_get(r, "tunnel") != NULL) {
		cur->has_tunnel = parsed.has_tunnel;
		cur->local = parsed.local;
		cur->remote = parsed.remote;
	}
	if (req_get(r, "address") != NULL) {
		memcpy(cur->addrs, parsed.addrs, sizeof(cur->addrs));
		cur->naddrs = parsed.naddrs;
	}
	if (req_get(r, "peer") != NULL) {
		cur->has_peer = parsed.has_peer;
		cur->peer = parsed.peer;
	}
	if (req_get(r, "reqid") != NULL) {
		cur->has_reqid = parsed.has_reqid;
		cur->reqid = parsed.reqid;
	}
	if (req_get(r, "mtu") != NULL)
		cur->mtu = parsed.mtu;
	if (req_get(r, "nat-t") != NULL)
		cur->nat_t = parsed.nat_t;
	if (req_get(r, "ecn") != NULL)
		cur->ecn = parsed.ecn;
	if (req_get(r, "ipv6") != NULL)
		cur->ipv6 = parsed.ipv6;
	if (req_get(r, "df") != NULL)
		cur->df = parsed.df;
	for (i = 0; i < next.nsas; i++)
		has_sas |= strcmp(next.sas[i].interface, name) == 0;
	if (has_sas && !iface_base_same(cur, run_iface_find(r->c,
								 name))) {
		cfg_free(&next);
		req_fail(r, "interface %s has SAs: its tunnel, nat-t and reqid change only without them (sa-flush interface %s first)",
			 name, name);
		return -1;
	}
	if (req_commit(r, &next, NULL) != 0)
		return -1;
	iface_json(r->c, r->out, "interface", run_iface_find(r->c, name), NULL);
	return 0;
}

static int
op_interface_del(struct req *r)
{
	const char *name;
	struct cfg next;
	size_t i, k;

	r->ctx.ignore = req_ignore;
	name = req_name(r);
	if (name == NULL || req_copy(r, &next) != 0)
		return -1;
	/* its SAs and routes go with it */
	for (i = 0, k = 0; i < next.nsas; i++) {
		if (strcmp(next.sas[i].interface, name) == 0) {
			cfg_sa_wipe_keys(&next.sas[i]);
			continue;
		}
		next.sas[k++] = next.sas[i];
	}
	next.nsas = k;
	for (i = 0, k = 0; i < next.nroutes; i++)
		if (strcmp(next.routes[i].dev, name) != 0)
			next.routes[k++] = next.routes[i];
	next.nroutes = k;
	for (i = 0, k = 0; i < next.ninterfaces; i++)
		if (strcmp(next.interfaces[i].name, name) != 0)
			next.interfaces[k++] = next.interfaces[i];
	next.ninterfaces = k;
	return req_commit(r, &next, NULL);
}

static int
op_interface_list(struct req *r)
{
	struct ctl *c = r->c;
	struct sa_chains ch, *in = NULL;
	size_t *last = NULL, i, f;

	/* each interface's inbound SAs, in order, in one pass */
	ch.first = malloc((c->run.ninterfaces + 1) * sizeof(*ch.first));
	ch.next = malloc((c->run.nsas + 1) * sizeof(*ch.next));
	last = malloc((c->run.ninterfaces + 1) * sizeof(*last));
	if (c->ix_ok && ch.first != NULL && ch.next != NULL && last != NULL) {
		for (f = 0; f < c->run.ninterfaces; f++)
			ch.first[f] = last[f] = SIZE_MAX;
		for (i = 0; i < c->run.nsas; i++) {
			const struct cfg_interface *fi;

			ch.next[i] = SIZE_MAX;
			if (c->run.sas[i].outbound)
				continue;
			fi = run_iface_find(c, c->run.sas[i].interface);
			if (fi == NULL)
				continue;
			f = (size_t)(fi - c->run.interfaces);
			if (last[f] == SIZE_MAX)
				ch.first[f] = i;
			else
				ch.next[last[f]] = i;
			last[f] = i;
		}
		in = &ch;
	}
	jb_arr(r->out, "interfaces");
	for (i = 0; i < c->run.ninterfaces; i++)
		iface_json(c, r->out, NULL, &c->run.interfaces[i], in);
	jb_end(r->out);
	free(ch.first);
	free(ch.next);
	free(last);
	return 0;
}

/*
 * The BSD form "route add DEST GATEWAY" names no device: the gateway is on
 * a port's subnet, or is an ipsec interface's own or peer address (as in
 * ipsecif(4)'s "route add 10.200.0.1 172.16.100.1").  Find it and add a
 * "dev" to the request.
 */
static int
route_resolve_dev(struct req *r, struct cfg_route *rt)
{
	const struct cfg *run = &r->c->run;
	char b[INET6_ADDRSTRLEN];
	size_t i;
	unsigned int j;

	for (i = 0; i < run->ninterfaces; i++) {
		const struct cfg_interface *f = &run->interfaces[i];
		bool mine = f->has_peer && cfg_addr_eq(&f->peer, &rt->via);

		for (j = 0; j < f->naddrs && !mine; j++)
			mine = cfg_addr_eq(&f->addrs[j].addr, &rt->via);
		if (mine) {
			snprintf(rt->dev, sizeof(rt->dev), "%s", f->name);
			rt->has_via = false;
			return 0;
		}
	}
	for (i = 0; i < run->nports; i++)
		for (j = 0; j < run->ports[i].naddrs; j++)
			if (cfg_prefix_has(&run->ports[i].addrs[j], rt->via.family,
					   rt->via.a)) {
				snprintf(rt->dev, sizeof(rt->dev), "%s",
					 run->ports[i].name);
				return 0;
			}
	req_fail(r, "via %s: on no port's subnet and no interface's address; give dev",
		 cfg_addr_str(&rt->via, b, sizeof(b)));
	return -1;
}

/* ---------------------------------------------------------------------- */
/*
 * route-add and route-del: a direct path.  Going through ctl_commit would
 * copy and validate the whole running configuration and diff the FIB's
 * plans, O(n log n) in the number of routes for each request; with a
 * million routes that is seconds per route.  A route depends on nothing
 * but its dev, so the one route is checked against the running state with
 * the loader's own checks and messages (cfg_route_check, the index for
 * duplicates), the FIB is changed for that prefix as plan_build would
 * have it, and the running configuration is updated in place.  Replies
 * and errors are those of the commit path.
 */

static uint64_t
prefix_hash(const struct cfg_prefix *p)
{
	return cfg_ix_hash(p->addr.a, p->addr.family == AF_INET ? 4 : 16,
			   ((uint64_t)p->addr.family << 8) | p->len);
}

/* The index of run.routes up to date, with room for one more route. */
static int
rt_ready(struct ctl *c)
{
	size_t i;

	if (c->rt_stale) {
		cfg_ix_clear(&c->run_rt);
		if (cfg_ix_reserve(&c->run_rt, c->run.nroutes + 1) != 0)
			return -1;
		for (i = 0; i < c->run.nroutes; i++)
			cfg_ix_add(&c->run_rt,
				   prefix_hash(&c->run.routes[i].prefix), i);
		c->routes_cap = c->run.nroutes;
		c->rt_stale = false;
	}
	return cfg_ix_reserve(&c->run_rt, c->run.nroutes + 1);
}

/* The running route of prefix p, or CFG_IX_NONE. */
static size_t
rt_find(const struct ctl *c, const struct cfg_prefix *p)
{
	uint64_t h = prefix_hash(p);
	size_t e, it;

	for (e = cfg_ix_first(&c->run_rt, h, &it); e != CFG_IX_NONE;
	     e = cfg_ix_next(&c->run_rt, h, &it))
		if (prefix_eq(&c->run.routes[e].prefix, p))
			return e;
	return CFG_IX_NONE;
}

/*
 * What the FIB holds for prefix p (host bits clear) from anything but a
 * configured route, in plan_build's order of precedence: an own address
 * (*local: nothing overrides it), else an interface's peer, else a
 * connected prefix.  false when none of them has p.
 */
static bool
route_implicit(const struct ctl *c, const struct cfg_prefix *p,
	       struct nexthop *nh, bool *local)
{
	const struct cfg *run = &c->run;
	unsigned int host = p->addr.family == AF_INET ? 32 : 128, j;
	bool found = false;
	size_t i;

	*local = false;
	if (p->len == host) {
		for (i = 0; i < run->nports; i++)
			for (j = 0; j < run->ports[i].naddrs; j++)
				*local |= cfg_addr_eq(&run->ports[i].addrs[j].addr,
						      &p->addr);
		for (i = 0; i < run->ninterfaces; i++)
			for (j = 0; j < run->interfaces[i].naddrs; j++)
				*local |= cfg_addr_eq(&run->interfaces[i].addrs[j].addr,
						      &p->addr);
		if (*local)
			return true;
		/* the last interface with that peer, as plan_build keeps */
		for (i = run->ninterfaces; i-- > 0 && !found;) {
			const struct cfg_interface *f = &run->interfaces[i];

			if (f->has_peer && cfg_addr_eq(&f->peer, &p->addr)) {
				memset(nh, 0, sizeof(*nh));
				nh->type = NH_IFACE;
				nh->port = (uint32_t)ipsec_iface_find(c->dp->ipsec,
								      f->name);
				found = true;
			}
		}
		if (found)
			return true;
	}
	for (i = run->nports; i-- > 0;) {
		const struct dp_port *dp_p = dp_port_named(c->dp,
							   run->ports[i].name);

		for (j = run->ports[i].naddrs; dp_p != NULL && j-- > 0;) {
			struct cfg_prefix q = run->ports[i].addrs[j];

			prefix_mask(&q);
			if (prefix_eq(&q, p)) {
				memset(nh, 0, sizeof(*nh));
				nh->type = NH_CONNECTED;
				nh->port = dp_p->port_id;
				return true;
			}
		}
	}
	return false;
}

static int
op_route_add(struct req *r)
{
	struct ctl *c = r->c;
	struct cfg_route rt;
	struct nexthop nh, inh;
	char b[INET6_ADDRSTRLEN];
	bool no_dev = req_get(r, "dev") == NULL && req_get(r, "via") != NULL;
	bool local = false;
	int rc = 0;

	r->ctx.ignore = req_ignore;
	if (no_dev) {
		/* parse with a stand-in dev ("-"), then find the real one */
		int k = yaml_document_add_scalar(r->ctx.doc, NULL,
						 (yaml_char_t *)"dev", 3,
						 YAML_PLAIN_SCALAR_STYLE);
		int v = yaml_document_add_scalar(r->ctx.doc, NULL,
						 (yaml_char_t *)"-", 1,
						 YAML_PLAIN_SCALAR_STYLE);
		int root = (int)(r->root - r->ctx.doc->nodes.start) + 1;

		if (k == 0 || v == 0 ||
		    !yaml_document_append_mapping_pair(r->ctx.doc, root, k, v)) {
			req_fail(r, "out of memory");
			return -1;
		}
		r->root = yaml_document_get_node(r->ctx.doc, root);
	}
	if (cfg_parse_route_entry(&r->ctx, r->root, &rt) != 0 ||
	    (no_dev && route_resolve_dev(r, &rt) != 0))
		return -1;
	if (rt_ready(c) != 0) {
		req_fail(r, "out of memory");
		return -1;
	}
	if (rt_find(c, &rt.prefix) != CFG_IX_NONE) {
		req_fail(r, "%s/%u is already routed (route-del it first)",
			 cfg_addr_str(&rt.prefix.addr, b, sizeof(b)),
			 rt.prefix.len);
		return -1;
	}
	if (cfg_route_check(&c->run, &rt, c->run.nroutes, r->err) != 0 ||
	    route_nexthop(&rt, dp_port_named(c->dp, rt.dev),
			  ipsec_iface_find(c->dp->ipsec, rt.dev), &nh) != 0)
		return -1;
	if (arr_reserve((void **)&c->run.routes, c->run.nroutes,
			&c->routes_cap, sizeof(*c->run.routes)) != 0) {
		req_fail(r, "out of memory");
		return -1;
	}
	/* a configured route replaces a connected or peer one, never an own
	 * address */
	route_implicit(c, &rt.prefix, &inh, &local);
	if (!local) {
		rc = fib_add(c->dp->fib, &rt.prefix, &nh);
		if (rc != 0) {
			req_fail(r, "route %s/%u: cannot add: %s",
				 cfg_addr_str(&rt.prefix.addr, b, sizeof(b)),
				 rt.prefix.len, strerror(-rc));
			return -1;
		}
	}
	/* cannot fail: rt_ready reserved the room */
	cfg_ix_add(&c->run_rt, prefix_hash(&rt.prefix), c->run.nroutes);
	c->run.routes[c->run.nroutes++] = rt;
	/* the route to a tunnel's remote may have changed: the interfaces
	 * whose remote the prefix holds */
	ipsec_iface_mtu_refresh_in(c->dp, &rt.prefix);
	return 0;
}

static int
op_route_del(struct req *r)
{
	static const char *const keys[] = { "op", "prefix", "dev", "via", NULL };
	struct ctl *c = r->c;
	yaml_node_t *v[5] = { NULL };
	struct cfg_prefix p;
	struct nexthop inh;
	char b[INET6_ADDRSTRLEN];
	bool local = false;
	const char *s;
	size_t i, last;
	int rc;

	if (cfg_parse_fields(&r->ctx, r->root, keys, v, NULL) != 0)
		return -1;
	if (v[1] == NULL) {
		req_fail(r, "route-del needs prefix");
		return -1;
	}
	s = cfg_parse_scalar(&r->ctx, v[1], "prefix");
	if (s == NULL)
		return -1;
	if (cfg_prefix_parse(s, &p) != 0) {
		struct cfg_addr a;

		if (cfg_addr_parse(s, &a) != 0) {
			req_fail(r, "prefix: '%s' is not an address or prefix", s);
			return -1;
		}
		p.addr = a;
		p.len = a.family == AF_INET ? 32 : 128;
	}
	if (rt_ready(c) != 0) {
		req_fail(r, "out of memory");
		return -1;
	}
	i = rt_find(c, &p);
	if (i == CFG_IX_NONE) {
		req_fail(r, "no configured route for %s (connected, peer and local routes follow their ports and interfaces)",
			 s);
		return -1;
	}
	/* back to what the prefix has without the route */
	prefix_mask(&p);
	if (!route_implicit(c, &p, &inh, &local))
		rc = fib_del(c->dp->fib, &p);
	else
		rc = local ? 0 : fib_add(c->dp->fib, &p, &inh);
	if (rc != 0 && rc != -ENOENT) {
		req_fail(r, "route %s/%u: cannot delete: %s",
			 cfg_addr_str(&p.addr, b, sizeof(b)), p.len,
			 strerror(-rc));
		return -1;
	}
	/* the last route takes the freed place */
	last = c->run.nroutes - 1;
	cfg_ix_del(&c->run_rt, prefix_hash(&c->run.routes[i].prefix), i);
	if (i != last) {
		cfg_ix_move(&c->run_rt, prefix_hash(&c->run.routes[last].prefix),
			    last, i);
		c->run.routes[i] = c->run.routes[last];
	}
	c->run.nroutes--;
	ipsec_iface_mtu_refresh_in(c->dp, &p);
	return 0;
}

static int
op_route_list(struct req *r)
{
	struct plan pl;
	size_t i;

	if (plan_build(r->c->dp, &r->c->run, &pl) != 0) {
		free(pl.r);
		req_fail(r, "out of memory");
		return -1;
	}
	jb_arr(r->out, "routes");
	for (i = 0; i < pl.n; i++) {
		const struct rt *rt = &pl.r[i];

		jb_obj(r->out, NULL);
		prefix_field(r->out, "prefix", &rt->p);
		jb_str(r->out, "dev", rt->dev);
		if (rt->nh.type == NH_VIA) {
			struct cfg_addr via = { .family = rt->nh.family };

			memcpy(via.a, rt->nh.via, 16);
			addr_field(r->out, "via", &via);
		}
		jb_str(r->out, "type", rt_type_name[rt->type]);
		jb_end(r->out);
	}
	jb_end(r->out);
	free(pl.r);
	return 0;
}

static int
op_neighbor_add(struct req *r)
{
	struct cfg_neighbor n;
	struct cfg next;
	size_t i;

	r->ctx.ignore = req_ignore;
	if (cfg_parse_neighbor_entry(&r->ctx, r->root, &n) != 0 ||
	    req_copy(r, &next) != 0)
		return -1;
	/* a new link-layer address for a known neighbor replaces it */
	for (i = 0; i < next.nneighbors; i++)
		if (neigh_same(&next.neighbors[i], &n))
			break;
	if (i < next.nneighbors)
		next.neighbors[i] = n;
	else if (APPEND(next.neighbors, next.nneighbors, n) != 0) {
		cfg_free(&next);
		req_fail(r, "out of memory");
		return -1;
	}
	return req_commit(r, &next, NULL);
}

static int
op_neighbor_del(struct req *r)
{
	static const char *const keys[] = { "op", "address", "dev", NULL };
	yaml_node_t *v[4] = { NULL };
	struct cfg_neighbor n;
	struct cfg next;
	size_t i, k;

	memset(&n, 0, sizeof(n));
	if (cfg_parse_fields(&r->ctx, r->root, keys, v, NULL) != 0)
		return -1;
	if (v[1] == NULL || v[2] == NULL) {
		req_fail(r, "neighbor-del needs address and dev");
		return -1;
	}
	if (cfg_parse_addr(&r->ctx, v[1], "address", &n.addr) != 0 ||
	    cfg_parse_name(&r->ctx, v[2], "dev", n.dev) != 0 ||
	    req_copy(r, &next) != 0)
		return -1;
	for (i = 0, k = 0; i < next.nneighbors; i++)
		if (!neigh_same(&next.neighbors[i], &n))
			next.neighbors[k++] = next.neighbors[i];
	if (k == next.nneighbors) {
		cfg_free(&next);
		req_fail(r, "no such neighbor");
		return -1;
	}
	next.nneighbors = k;
	return req_commit(r, &next, NULL);
}

static int
op_neighbor_list(struct req *r)
{
	const struct neigh_entry *e;
	char ll[RTE_ETHER_ADDR_FMT_SIZE];
	uint32_t it = 0;

	jb_arr(r->out, "neighbors");
	while (neigh_iterate(r->c->dp->neigh, &it, &e) == 0) {
		struct cfg_addr a = { .family = e->key.family };

		memcpy(a.a, e->key.addr, 16);
		rte_ether_format_addr(ll, sizeof(ll), &e->lladdr);
		jb_obj(r->out, NULL);
		addr_field(r->out, "address", &a);
		jb_str(r->out, "lladdr", ll);
		jb_str(r->out, "dev", port_name(r->c->dp, e->key.port));
		jb_bool(r->out, "static", e->is_static);
		jb_str(r->out, "state", local_neigh_state(r->c->dp->local, e));
		if (!e->is_static)
			jb_u64(r->out, "age", r->c->dp->now - e->confirmed);
		jb_end(r->out);
	}
	/* what is being resolved, with the packets that wait for it */
	for (it = 0; ;) {
		struct neigh_key k;
		struct cfg_addr a;
		unsigned int held;

		if (local_pending(r->c->dp->local, (unsigned int *)&it, &k,
				  &held) != 0)
			break;
		a.family = k.family;
		memcpy(a.a, k.addr, 16);
		jb_obj(r->out, NULL);
		addr_field(r->out, "address", &a);
		jb_null(r->out, "lladdr");
		jb_str(r->out, "dev", port_name(r->c->dp, k.port));
		jb_bool(r->out, "static", false);
		jb_str(r->out, "state", "incomplete");
		jb_u64(r->out, "held", held);
		jb_end(r->out);
	}
	jb_end(r->out);
	return 0;
}

static int
op_stats(struct req *r)
{
	yaml_node_t *bn = req_get(r, "brief");
	bool brief = false;
	char *buf = NULL;
	size_t len = 0, i;
	FILE *f;

	/* other fields are ignored, as they always were */
	if (bn != NULL && cfg_parse_bool(&r->ctx, bn, "brief", &brief) != 0)
		return -1;
	f = open_memstream(&buf, &len);
	if (f == NULL) {
		req_fail(r, "out of memory");
		return -1;
	}
	r->c->dp->pool_avail_exit = rte_mempool_avail_count(r->c->dp->pool);
	dp_stats_json_fp(r->c->dp, f, brief);
	fclose(f);
	/* one line: the document has newlines between values only */
	for (i = 0; i < len; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
	while (len > 0 && buf[len - 1] == ' ')
		len--;
	jb_raw(r->out, "stats", buf, len);
	free(buf);
	return 0;
}

static int
op_stats_reset(struct req *r)
{
	dp_stats_reset(r->c->dp);
	return 0;
}

static int
op_reload(struct req *r)
{
	static const char *const keys[] = { "op", "file", NULL };
	yaml_node_t *v[3] = { NULL };
	const char *file = r->c->file;
	struct changes ch;
	struct cfg next;
	unsigned int s;

	if (cfg_parse_fields(&r->ctx, r->root, keys, v, NULL) != 0)
		return -1;
	if (v[1] != NULL) {
		file = cfg_parse_scalar(&r->ctx, v[1], "file");
		if (file == NULL)
			return -1;
	}
	if (cfg_load_file(file, &next, r->err) != 0) {
		cfg_free(&next);
		return -1;
	}
	if (check_file_outbound(&next, r->err) != 0 ||
	    ctl_commit(r->c, &next, &ch, r->err) != 0) {
		cfg_free(&next);
		return -1;
	}
	cfg_free(&next);
	jb_obj(r->out, "changes");
	for (s = 0; s < 4; s++) {
		jb_obj(r->out, ch_name[s]);
		jb_u64(r->out, "added", ch.added[s]);
		jb_u64(r->out, "removed", ch.removed[s]);
		jb_u64(r->out, "changed", ch.changed[s]);
		jb_end(r->out);
	}
	jb_end(r->out);
	return 0;
}

static int
op_subscribe(struct req *r)
{
	r->subscribe = true;
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct req *r);
} ops[] = {
	{ "hello", op_hello },
	{ "get-spi", op_get_spi },
	{ "sa-add", op_sa_add },
	{ "sa-update", op_sa_update },
	{ "sa-get", op_sa_get },
	{ "sa-del", op_sa_del },
	{ "sa-flush", op_sa_flush },
	{ "sa-list", op_sa_list },
	{ "interface-add", op_interface_add },
	{ "interface-set", op_interface_set },
	{ "interface-del", op_interface_del },
	{ "interface-list", op_interface_list },
	{ "route-add", op_route_add },
	{ "route-del", op_route_del },
	{ "route-list", op_route_list },
	{ "neighbor-add", op_neighbor_add },
	{ "neighbor-del", op_neighbor_del },
	{ "neighbor-list", op_neighbor_list },
	{ "stats", op_stats },
	{ "stats-reset", op_stats_reset },
	{ "reload", op_reload },
	{ "subscribe", op_subscribe },
};

/* Every message of err, joined. */
static void
reply_error(struct jbuf *out, const struct cfg_err *err, const char *fallback)
{
	char msg[4096];
	size_t len = 0;
	unsigned int i;

	msg[0] = '\0';
	for (i = 0; i < err->nmsgs && len < sizeof(msg) - 1; i++)
		len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s%s",
					i ? "; " : "", err->msgs[i]);
	if (err->count > err->nmsgs && len < sizeof(msg) - 1)
		snprintf(msg + len, sizeof(msg) - len, "; and %u more",
			 err->count - err->nmsgs);
	jb_reset(out);
	jb_obj(out, NULL);
	jb_bool(out, "ok", false);
	jb_str(out, "error", msg[0] != '\0' ? msg : fallback);
	jb_end(out);
}

void
ctl_handle(void *arg, const char *line, size_t len, struct jbuf *reply,
	   bool *subscribe)
{
	struct ctl *c = arg;
	yaml_document_t doc;
	struct cfg_err err;
	struct req r;
	yaml_node_t *opn;
	const char *op = NULL;
	unsigned int i;
	int rc = -1;

	cfg_err_init(&err, NULL, MAX_ERRORS);
	memset(&r, 0, sizeof(r));
	r.c = c;
	r.out = reply;
	r.err = &err;
	jb_obj(reply, NULL);
	jb_bool(reply, "ok", true);
	if (cfg_yaml_load("request", line, len, &doc, &err) != 0) {
		reply_error(reply, &err, "not a YAML flow mapping");
		cfg_err_free(&err);
		return;
	}
	cfg_ctx_init(&r.ctx, "request", &doc, &err);
	r.root = yaml_document_get_root_node(&doc);
	if (r.root == NULL || r.root->type != YAML_MAPPING_NODE) {
		reply_error(reply, &err,
			    "a request is one mapping: {\"op\": ..., ...}");
		goto out;
	}
	opn = req_get(&r, "op");
	if (opn != NULL)
		op = cfg_parse_scalar(&r.ctx, opn, "op");
	if (op == NULL) {
		reply_error(reply, &err, "the request has no op");
		goto out;
	}
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(ops[i].name, op) == 0)
			break;
	if (i == sizeof(ops) / sizeof(ops[0])) {
		char m[128];

		snprintf(m, sizeof(m), "unknown op '%.60s'", op);
		reply_error(reply, &err, m);
		goto out;
	}
	rc = ops[i].fn(&r);
	if (rc != 0 || err.count != 0)
		reply_error(reply, &err, "failed");
	else
		jb_end(reply);
	*subscribe = rc == 0 && r.subscribe;
out:
	cfg_yaml_delete(&doc);
	cfg_err_free(&err);
}

/* ---------------------------------------------------------------------- */
/* Ticks */

static const struct cfg_sa *
run_sa_of(const struct ctl *c, const struct ipsec_sa *s)
{
	return run_sa_find(c, s->spi, &s->dst);
}

static void
event_expire(struct ctl *c, const struct ipsec_sa *s, bool hard,
	     const char *limit)
{
	const struct cfg_sa *sa = run_sa_of(c, s);
	struct jbuf j;

	if (sa == NULL)
		return;
	jb_init(&j);
	jb_obj(&j, NULL);
	jb_str(&j, "event", "sa-expire");
	jb_u64(&j, "spi", s->spi);
	addr_field(&j, "src", &s->src);
	addr_field(&j, "dst", &s->dst);
	jb_str(&j, "interface", sa->interface);
	jb_u64(&j, "reqid", sa->reqid);
	jb_str(&j, "type", hard ? "hard" : "soft");
	jb_str(&j, "limit", limit);
	jb_end(&j);
	emit(c, &j);
}

/* A hard-expired outbound SA hands its interface to a newer one. */
static void
expired_hard(struct ctl *c, struct ipsec_sa *s)
{
	const struct ipsec_iface *f = c->dp->ipsec->ifp[s->ifidx];

	if (s->outbound && f != NULL && f->out == s)
		ipsec_sa_publish_other(c->dp, s);
}

static void
worker_event(struct ctl *c, const struct dp_event *ev)
{
	struct ipsec_ctx *ic = c->dp->ipsec;
	struct ipsec_sa *s = ev->idx < ic->max_sa ? &ic->sas[ev->idx] : NULL;
	struct jbuf j;

	switch (ev->type) {
	case DP_EV_SA_EXPIRE:
		if (!s->used || s->gen != ev->gen)
			return;
		event_expire(c, s, ev->kind & 1, ev->kind & 2 ? "bytes" : "packets");
		if (ev->kind & 1)
			expired_hard(c, s);
		break;
	case DP_EV_ACQUIRE: {
		const struct ipsec_iface *f = ev->idx < ic->max_if ?
					      ic->ifp[ev->idx] : NULL;
		struct cfg_addr a = { .family = ev->family };

		if (f == NULL)
			return;
		jb_init(&j);
		jb_obj(&j, NULL);
		jb_str(&j, "event", "acquire");
		jb_str(&j, "interface", f->name);
		jb_u64(&j, "reqid", f->reqid);
		memcpy(a.a, ev->src, 16);
		addr_field(&j, "src", &a);
		memcpy(a.a, ev->dst, 16);
		addr_field(&j, "dst", &a);
		jb_end(&j);
		emit(c, &j);
		break;
	}
	case DP_EV_MAPPING: {
		const struct ipsec_iface *f;

		if (!s->used || s->gen != ev->gen)
			return;
		f = ic->ifp[s->ifidx];
		jb_init(&j);
		jb_obj(&j, NULL);
		jb_str(&j, "event", "mapping");
		jb_u64(&j, "spi", s->spi);
		addr_field(&j, "dst", &s->dst);
		jb_str(&j, "interface", f != NULL ? f->name : "");
		jb_obj(&j, "old");
		addr_field(&j, "address", &s->src);
		jb_u64(&j, "port", ev->port_old);
		jb_end(&j);
		jb_obj(&j, "new");
		addr_field(&j, "address", &s->src);
		jb_u64(&j, "port", ev->port_new);
		jb_end(&j);
		jb_end(&j);
		emit(c, &j);
		break;
	}
	default:
		break;
	}
}

/* Time lifetimes, checked once a second. */
static void
check_seconds(struct ctl *c)
{
	struct ipsec_ctx *ic = c->dp->ipsec;
	uint64_t now = c->dp->now;
	size_t i;

	/* IKE gives lifetimes in seconds; a table without them costs nothing */
	for (i = 0; c->ntimed != 0 && i < c->run.nsas; i++) {
		const struct cfg_sa *sa = &c->run.sas[i];
		struct ipsec_sa *s;
		uint8_t st;

		if (sa->soft.seconds == 0 && sa->hard.seconds == 0)
			continue;
		s = ipsec_sa_find(ic, sa->spi, &sa->dst);
		if (s == NULL)
			continue;
		st = __atomic_load_n(&s->use.state, __ATOMIC_RELAXED);
		if (sa->hard.seconds != 0 && now >= s->added + sa->hard.seconds &&
		    st < SA_HARD_EXPIRED) {
			__atomic_store_n(&s->use.state, SA_HARD_EXPIRED,
					 __ATOMIC_RELAXED);
			event_expire(c, s, true, "seconds");
			expired_hard(c, s);
		} else if (sa->soft.seconds != 0 &&
			   now >= s->added + sa->soft.seconds && st < SA_SOFT_EXPIRED) {
			__atomic_store_n(&s->use.state, SA_SOFT_EXPIRED,
					 __ATOMIC_RELAXED);
			event_expire(c, s, false, "seconds");
		}
	}
}

void
ctl_tick(struct ctl *c)
{
	struct dp_event ev[32];
	unsigned int n, i;
	uint64_t lost = 0;
	size_t k;

	local_poll(c->dp->local, &c->run);
	while ((n = rte_ring_sc_dequeue_burst_elem(c->dp->events, ev,
						    sizeof(ev[0]), 32, NULL)) != 0)
		for (i = 0; i < n; i++)
			worker_event(c, &ev[i]);
	for (i = 0; i < c->dp->nworkers; i++)
		lost += c->dp->lc[i]->events_lost;
	if (lost != c->events_lost) {
		fprintf(stderr, "ipsecgw: %" PRIu64 " worker events lost (ring full)\n",
			lost - c->events_lost);
		c->events_lost = lost;
	}
	if (c->dp->now == c->last_tick)
		return;
	c->last_tick = c->dp->now;
	check_seconds(c);
	ipsec_iface_mtu_refresh(c->dp);
	for (k = 0; k < c->nresv;)
		if (c->resv[k].until <= c->dp->now)
			c->resv[k] = c->resv[--c->nresv];
		else
			k++;
}

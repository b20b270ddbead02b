/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the FIB (dataplane/route.c) and the neighbor table
 * (dataplane/neigh.c).  They need rte_malloc, so EAL runs in memory
 * without hugepages, PCI or devices.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_byteorder.h>
#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "control/config.h"
#include "dataplane/neigh.h"
#include "dataplane/route.h"

static unsigned int passed, failed;

#define CHECK(cond, ...)                                       \
	do {                                                   \
		if (cond) {                                    \
			passed++;                              \
		} else {                                       \
			failed++;                              \
			printf("FAIL %s:%d: ", __FILE__, __LINE__); \
			printf(__VA_ARGS__);                   \
			printf("\n");                          \
		}                                              \
	} while (0)

static struct cfg_prefix
pfx(const char *s)
{
	struct cfg_prefix p;

	if (cfg_prefix_parse(s, &p) != 0) {
		printf("bad prefix in test: %s\n", s);
		memset(&p, 0, sizeof(p));
	}
	return p;
}

static struct nexthop
via(uint16_t port, const char *addr)
{
	struct nexthop nh = { .type = NH_VIA, .port = port };
	struct cfg_addr a;

	cfg_addr_parse(addr, &a);
	nh.family = a.family;
	memcpy(nh.via, a.a, 16);
	return nh;
}

static const struct nexthop *
look4(struct fib *fib, const char *addr)
{
	const struct nexthop *nh;
	struct cfg_addr a;
	uint32_t v;

	cfg_addr_parse(addr, &a);
	memcpy(&v, a.a, 4);
	v = rte_be_to_cpu_32(v);
	fib_lookup4_bulk(fib, &v, &nh, 1);
	return nh;
}

static const struct nexthop *
look6(struct fib *fib, const char *addr)
{
	const struct nexthop *nh;
	uint8_t a6[1][16];
	struct cfg_addr a;

	cfg_addr_parse(addr, &a);
	memcpy(a6[0], a.a, 16);
	fib_lookup6_bulk(fib, a6, &nh, 1);
	return nh;
}

static bool
is_via(const struct nexthop *nh, uint16_t port, const char *addr)
{
	struct nexthop want = via(port, addr);

	return nh != NULL && nh->type == NH_VIA && nh->port == port &&
	       memcmp(nh->via, want.via, want.family == AF_INET ? 4 : 16) == 0;
}

static void
test_lpm4(void)
{
	struct fib *fib = fib_create("t4", 1024, 1024, 64, SOCKET_ID_ANY);
	struct cfg_prefix p;
	struct nexthop a = via(0, "192.168.0.2"), b = via(1, "10.0.0.2"),
		       c = via(0, "192.168.0.3"), conn = { .type = NH_CONNECTED,
							   .port = 1 };

	CHECK(fib != NULL, "fib_create");
	if (fib == NULL)
		return;
	CHECK(look4(fib, "10.1.2.3") == NULL, "empty table has no route");

	p = pfx("0.0.0.0/0");
	CHECK(fib_add(fib, &p, &a) == 0, "add default");
	p = pfx("10.0.0.0/8");
	CHECK(fib_add(fib, &p, &b) == 0, "add /8");
	p = pfx("10.1.0.0/16");
	CHECK(fib_add(fib, &p, &c) == 0, "add /16");
	p = pfx("10.1.2.0/24");
	CHECK(fib_add(fib, &p, &conn) == 0, "add /24 connected");
	p = pfx("10.1.2.77/32");
	CHECK(fib_add(fib, &p, &b) == 0, "add /32");

	CHECK(is_via(look4(fib, "8.8.8.8"), 0, "192.168.0.2"), "default");
	CHECK(is_via(look4(fib, "10.200.0.1"), 1, "10.0.0.2"), "/8 wins");
	CHECK(is_via(look4(fib, "10.1.200.1"), 0, "192.168.0.3"), "/16 wins");
	CHECK(look4(fib, "10.1.2.1") != NULL &&
	      look4(fib, "10.1.2.1")->type == NH_CONNECTED, "/24 wins");
	CHECK(is_via(look4(fib, "10.1.2.77"), 1, "10.0.0.2"), "/32 wins");
	/* b is shared by the /8 and the /32: one next hop entry */
	CHECK(fib_nexthops_used(fib) == 4, "shared next hops: %u",
	      fib_nexthops_used(fib));

	p = pfx("10.1.2.0/24");
	CHECK(fib_del(fib, &p) == 0, "delete /24");
	CHECK(is_via(look4(fib, "10.1.2.1"), 0, "192.168.0.3"),
	      "after delete the /16 covers it");
	CHECK(fib_nexthops_used(fib) == 3, "connected entry released");
	CHECK(fib_del(fib, &p) != 0, "deleting twice fails");

	/* replacing a route's next hop releases the old one */
	p = pfx("10.1.0.0/16");
	CHECK(fib_add(fib, &p, &a) == 0, "replace /16");
	CHECK(is_via(look4(fib, "10.1.9.9"), 0, "192.168.0.2"), "replaced");
	CHECK(fib_nexthops_used(fib) == 2, "old next hop released: %u",
	      fib_nexthops_used(fib));
	fib_free(fib);
}

/*
 * The IPv4 table against a plain list of rules: random adds, replaces and
 * deletes of overlapping prefixes from /8 to /32 (tbl8 groups made,
 * shared and recycled), each followed by lookups of addresses around the
 * changed prefix, which must give the longest match of the list.
 */
struct ref4 {
	uint32_t ip;
	uint8_t len;
	int nh;			/* index into hops[], -1: none */
};

static int
ref4_lookup(const struct ref4 *r, unsigned int n, uint32_t a)
{
	int best = -1, bestlen = -1;
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint32_t m = r[i].len ? (uint32_t)(0xffffffffull << (32 - r[i].len)) : 0;

		if (r[i].nh >= 0 && (a & m) == r[i].ip && r[i].len > bestlen) {
			best = r[i].nh;
			bestlen = r[i].len;
		}
	}
	return best;
}

static void
test_lpm4_random(void)
{
	static const uint8_t lens[] = { 8, 15, 16, 22, 23, 24, 25, 26, 28, 31, 32 };
	struct fib *fib = fib_create("tr", 4096, 16, 64, SOCKET_ID_ANY);
	struct nexthop hops[6];
	struct ref4 ref[512];
	unsigned int nref = 0, i, k, bad = 0, checks = 0;
	uint64_t seed = 12345;

	CHECK(fib != NULL, "fib_create random");
	if (fib == NULL)
		return;
	for (i = 0; i < 6; i++)
		hops[i] = (struct nexthop){ .type = NH_CONNECTED,
					    .port = (uint16_t)(i + 1) };
	for (i = 0; i < 20000; i++) {
		uint32_t a, ip, probe;
		uint8_t len;
		struct cfg_prefix p = { .addr.family = AF_INET };
		int nh, want;
		const struct nexthop *got;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		/* 10.0.0.0/14: few enough /24s that prefixes overlap a lot */
		a = 0x0a000000u | (uint32_t)((seed >> 20) & 0x3ffff);
		len = lens[(seed >> 40) % sizeof(lens)];
		ip = a & (uint32_t)(0xffffffffull << (32 - len));
		nh = (int)((seed >> 50) % 6);
		for (k = 0; k < nref; k++)
			if (ref[k].ip == ip && ref[k].len == len)
				break;
		p.len = len;
		ip = rte_cpu_to_be_32(ip);
		memcpy(p.addr.a, &ip, 4);
		ip = rte_be_to_cpu_32(ip);
		if (k < nref && (seed >> 60) < 8) {
			CHECK(fib_del(fib, &p) == 0, "del %08x/%u", ip, len);
			ref[k] = ref[--nref];
		} else if (k < nref || nref < 512) {
			if (fib_add(fib, &p, &hops[nh]) != 0) {
				CHECK(false, "add %08x/%u", ip, len);
				continue;
			}
			if (k == nref)
				nref++;
			ref[k] = (struct ref4){ ip, len, nh };
		}
		/* around the prefix: its first, last and middle addresses and
		 * their neighbours, and one random address */
		for (k = 0; k < 7; k++) {
			uint32_t span = len == 32 ? 0 :
					(uint32_t)(0xffffffffu >> len);
			uint32_t cand[] = { ip - 1, ip, ip + span / 2, ip + span,
					    ip + span + 1, ip ^ 0x80,
					    0x0a000000u | (uint32_t)((seed >> 8) & 0x3ffff) };

			probe = cand[k];
			fib_lookup4_bulk(fib, &probe, &got, 1);
			want = ref4_lookup(ref, nref, probe);
			checks++;
			if ((want < 0 && got != NULL) ||
			    (want >= 0 && (got == NULL || got->port != hops[want].port))) {
				if (bad++ < 5)
					printf("op %u (%08x/%u): lookup %08x: want %d got port %d\n",
					       i, ip, len, probe, want,
					       got != NULL ? (int)got->port : -1);
			}
		}
	}
	CHECK(bad == 0, "random IPv4 table: %u of %u lookups wrong", bad, checks);
	/* delete everything: nothing left, every next hop released */
	for (k = 0; k < nref; k++) {
		struct cfg_prefix p = { .addr.family = AF_INET, .len = ref[k].len };
		uint32_t ip = rte_cpu_to_be_32(ref[k].ip);

		memcpy(p.addr.a, &ip, 4);
		if (fib_del(fib, &p) != 0)
			bad++;
	}
	CHECK(bad == 0 && fib_nexthops_used(fib) == 0,
	      "all deleted, next hops released (%u left)", fib_nexthops_used(fib));
	fib_free(fib);
}

static void
test_lpm6(void)
{
	struct fib *fib = fib_create("t6", 1024, 1024, 64, SOCKET_ID_ANY);
	struct cfg_prefix p;
	struct nexthop a = via(0, "2001:db8::2"), b = via(1, "fd00::2"),
		       local = { .type = NH_LOCAL };

	CHECK(fib != NULL, "fib_create v6");
	if (fib == NULL)
		return;
	p = pfx("::/0");
	CHECK(fib_add(fib, &p, &a) == 0, "add ::/0");
	p = pfx("2001:db8:100::/48");
	CHECK(fib_add(fib, &p, &b) == 0, "add /48");
	p = pfx("2001:db8:100::1/128");
	CHECK(fib_add(fib, &p, &local) == 0, "add /128 local");

	CHECK(is_via(look6(fib, "2001:db9::1"), 0, "2001:db8::2"), "v6 default");
	CHECK(is_via(look6(fib, "2001:db8:100:5::1"), 1, "fd00::2"), "v6 /48");
	CHECK(look6(fib, "2001:db8:100::1") != NULL &&
	      look6(fib, "2001:db8:100::1")->type == NH_LOCAL, "v6 /128 local");
	/* an IPv4 route does not answer IPv6 lookups and vice versa */
	CHECK(look4(fib, "10.0.0.1") == NULL, "families are separate");
	p = pfx("::/0");
	CHECK(fib_del(fib, &p) == 0, "delete ::/0");
	CHECK(look6(fib, "2001:db9::1") == NULL, "no default any more");
	fib_free(fib);
}

static void
test_neigh(void)
{
	struct neigh_table *t = neigh_table_create("tn", 8, SOCKET_ID_ANY);
	struct rte_ether_addr m1 = { { 2, 0, 0, 0, 0, 1 } },
			      m2 = { { 2, 0, 0, 0, 0, 2 } };
	const struct neigh_entry *e;
	struct neigh_key k, k6, kp;
	struct cfg_addr a, a6;
	unsigned int i;

	CHECK(t != NULL, "neigh_table_create");
	if (t == NULL)
		return;
	cfg_addr_parse("192.168.0.2", &a);
	cfg_addr_parse("2001:db8::2", &a6);
	neigh_key_make(&k, 0, AF_INET, a.a);
	neigh_key_make(&k6, 0, AF_INET6, a6.a);
	neigh_key_make(&kp, 1, AF_INET, a.a);
	CHECK(neigh_lookup(t, &k) == NULL, "empty");
	CHECK(neigh_add(t, &k, &m1, true) == 0, "add v4");
	CHECK(neigh_add(t, &k6, &m2, true) == 0, "add v6");
	e = neigh_lookup(t, &k);
	CHECK(e != NULL && rte_is_same_ether_addr(&e->lladdr, &m1), "v4 found");
	e = neigh_lookup(t, &k6);
	CHECK(e != NULL && rte_is_same_ether_addr(&e->lladdr, &m2), "v6 found");
	CHECK(neigh_lookup(t, &kp) == NULL, "same address, other port: absent");
	CHECK(neigh_add(t, &k, &m2, true) == 0, "replace");
	e = neigh_lookup(t, &k);
	CHECK(e != NULL && rte_is_same_ether_addr(&e->lladdr, &m2), "replaced");
	CHECK(neigh_count(t) == 2, "count %u", neigh_count(t));
	CHECK(neigh_del(t, &k) == 0, "delete");
	CHECK(neigh_lookup(t, &k) == NULL, "deleted");
	CHECK(neigh_del(t, &k) != 0, "delete twice fails");
	/* fill to capacity, then one more is refused */
	for (i = 0; i < 7; i++) {
		struct neigh_key kk;
		uint8_t addr[4] = { 10, 0, 0, (uint8_t)(i + 1) };

		neigh_key_make(&kk, 2, AF_INET, addr);
		CHECK(neigh_add(t, &kk, &m1, false) == 0, "fill %u", i);
	}
	CHECK(neigh_add(t, &k, &m1, false) != 0, "full table refuses");
	neigh_table_free(t);
}

/*
 * Routes change while a reader looks up: with RCU attached, a lookup sees
 * a prefix's old or new next hop, never none.  The reader looks up
 * addresses covered by routes that never go away, while the writer adds
 * and deletes more specific routes around them, freeing and taking tbl8
 * groups all the time.  (A property test: it passes with one rte_lpm6
 * too, as races of a single reader are rare; the two tables are there
 * because rte_lpm6 has no RCU hook for its tbl8 groups, see route.c.)
 */
struct churn {
	struct fib *fib;
	struct rte_rcu_qsbr *v;
	volatile bool stop;
	unsigned long lookups;
	unsigned long misses;
};

static void *
churn_reader(void *arg)
{
	struct churn *c = arg;
	uint8_t a6[2][16];
	uint32_t a4[2];
	const struct nexthop *nh[2];
	struct cfg_prefix p;

	p = pfx("2001:db8:1:2::5/128");
	memcpy(a6[0], p.addr.a, 16);
	p = pfx("2001:db8:1:3::5/128");
	memcpy(a6[1], p.addr.a, 16);
	a4[0] = 0x0a010205;	/* 10.1.2.5 */
	a4[1] = 0x0a010305;
	rte_rcu_qsbr_thread_register(c->v, 0);
	rte_rcu_qsbr_thread_online(c->v, 0);
	while (!c->stop) {
		fib_lookup6_bulk(c->fib, a6, nh, 2);
		c->misses += (nh[0] == NULL) + (nh[1] == NULL);
		fib_lookup4_bulk(c->fib, a4, nh, 2);
		c->misses += (nh[0] == NULL) + (nh[1] == NULL);
		c->lookups += 4;
		rte_rcu_qsbr_quiescent(c->v, 0);
	}
	rte_rcu_qsbr_thread_offline(c->v, 0);
	rte_rcu_qsbr_thread_unregister(c->v, 0);
	return NULL;
}

static void
test_churn(void)
{
	struct fib *fib = fib_create("tc", 1024, 1024, 64, SOCKET_ID_ANY);
	struct nexthop a = { .type = NH_CONNECTED, .port = 1 };
	struct nexthop b = { .type = NH_CONNECTED, .port = 2 };
	struct churn c = { .fib = fib };
	struct cfg_prefix p;
	pthread_t t;
	int i;

	c.v = rte_zmalloc(NULL, rte_rcu_qsbr_get_memsize(1), RTE_CACHE_LINE_SIZE);
	CHECK(fib != NULL && c.v != NULL && rte_rcu_qsbr_init(c.v, 1) == 0 &&
	      fib_rcu_attach(fib, c.v) == 0, "fib with RCU");
	if (fib == NULL || c.v == NULL)
		return;
	p = pfx("2001:db8:1::/48");
	CHECK(fib_add(fib, &p, &a) == 0, "stable v6 route");
	p = pfx("10.1.0.0/16");
	CHECK(fib_add(fib, &p, &a) == 0, "stable v4 route");
	pthread_create(&t, NULL, churn_reader, &c);
	{
		/* EAL pinned this thread to one core: let the reader run on
		 * the others, so that it really runs beside the writer */
		cpu_set_t all;
		long n = sysconf(_SC_NPROCESSORS_ONLN), k;

		CPU_ZERO(&all);
		for (k = 0; k < n; k++)
			CPU_SET(k, &all);
		pthread_setaffinity_np(t, sizeof(all), &all);
	}
	for (i = 0; i < 3000; i++) {
		char s[64];
		const char *v6[] = { "2001:db8:1:2::/64", "2001:db8:1:3::/64",
				     "2001:db8:1:2::5/128" };
		const char *v4[] = { "10.1.2.0/24", "10.1.3.0/24", "10.1.2.5/32" };

		snprintf(s, sizeof(s), "%s", v6[i % 3]);
		p = pfx(s);
		if (fib_add(fib, &p, i & 1 ? &a : &b) != 0)
			failed++;
		p = pfx(v4[i % 3]);
		if (fib_add(fib, &p, i & 1 ? &b : &a) != 0)
			failed++;
		p = pfx(v6[(i + 1) % 3]);
		fib_del(fib, &p);
		p = pfx(v4[(i + 1) % 3]);
		fib_del(fib, &p);
	}
	c.stop = true;
	pthread_join(t, NULL);
	CHECK(c.lookups > 0 && c.misses == 0,
	      "lookups under churn never miss (%lu of %lu missed)", c.misses,
	      c.lookups);
	fib_free(fib);
	rte_free(c.v);
}

int
main(int argc, char **argv)
{
	char prefix[64];
	char *eal[] = { argv[0], "--no-huge", "-m", "256", "--no-pci",
			"--log-level=*:error",
			"--file-prefix", prefix, "-l", "0", NULL };

	(void)argc;
	snprintf(prefix, sizeof(prefix), "test_route_%d", (int)getpid());
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0) {
		printf("cannot initialise EAL\n");
		return 1;
	}
	test_lpm4();
	test_lpm4_random();
	test_lpm6();
	test_neigh();
	test_churn();
	rte_eal_cleanup();
	printf("%u passed, %u failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}

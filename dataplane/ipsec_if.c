/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ipsec interfaces and their SAs: build librte_ipsec SA objects and
 * crypto sessions from the configuration, and the SAD that inbound ESP is
 * looked up in.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cryptodev.h>
#include <rte_ether.h>
#include <rte_hash.h>
#include <rte_ip.h>
#include <rte_jhash.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <rte_udp.h>

#include "dataplane/dp.h"
#include "dataplane/ipsec.h"
#include "dataplane/route.h"

#define NATT_PORT 4500

/* Outer headers librte_ipsec prepends: Ethernet (rewritten when the
 * packet is routed) and IP (protocol UDP for NAT-T). */
static unsigned int
tunnel_template(const struct ipsec_iface *ifc, uint8_t *hdr)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)hdr;
	unsigned int len = sizeof(*eth);
	uint8_t proto = ifc->nat_t ? IPPROTO_UDP : IPPROTO_ESP;

	memset(hdr, 0, 128);
	if (ifc->family == AF_INET) {
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);

		eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
		ip->version_ihl = RTE_IPV4_VHL_DEF;
		ip->time_to_live = 64;
		ip->next_proto_id = proto;
		memcpy(&ip->src_addr, ifc->local, 4);
		memcpy(&ip->dst_addr, ifc->remote, 4);
		len += sizeof(*ip);
	} else {
		struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)(eth + 1);

		eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
		ip6->vtc_flow = RTE_BE32(0x60000000);
		ip6->hop_limits = 64;
		ip6->proto = proto;
		memcpy(ip6->src_addr, ifc->local, 16);
		memcpy(ip6->dst_addr, ifc->remote, 16);
		len += sizeof(*ip6);
	}
	/* with udp_encap librte_ipsec appends the UDP header itself, from
	 * ipsec_xform.udp */
	return len;
}

/*
 * IV, ICV and alignment of the SA's ESP, for checks before librte_ipsec.
 * The ICV is the digest of the SA's crypto transforms (crypto.c).
 */
static void
esp_geometry(const struct cfg_sa *c, const struct rte_crypto_sym_xform *x,
	     struct ipsec_sa *s)
{
	for (; x != NULL; x = x->next) {
		if (x->type == RTE_CRYPTO_SYM_XFORM_AEAD)
			s->icv_len = (uint8_t)x->aead.digest_length;
		else if (x->type == RTE_CRYPTO_SYM_XFORM_AUTH)
			s->icv_len = (uint8_t)x->auth.digest_length;
	}
	s->align = 4;
	if (c->aead != CFG_AEAD_NONE) {
		s->iv_len = 8;
		return;
	}
	switch (c->enc) {
	case CFG_ENC_AES_CBC_128:
	case CFG_ENC_AES_CBC_192:
	case CFG_ENC_AES_CBC_256:
		s->iv_len = 16;
		s->align = 16;
		break;
	case CFG_ENC_3DES_CBC:
		s->iv_len = 8;
		s->align = 8;
		break;
	case CFG_ENC_NULL:
		s->iv_len = 0;
		break;
	default:		/* CTR */
		s->iv_len = 8;
		break;
	}
}

static uint32_t
sa_salt(const struct cfg_sa *c)
{
	uint32_t salt = 0;

	/* the 4 bytes after the key, as they are on the wire */
	if (c->aead != CFG_AEAD_NONE)
		memcpy(&salt, c->key + c->key_len - 4, 4);
	else if (c->enc >= CFG_ENC_AES_CTR_128 && c->enc <= CFG_ENC_AES_CTR_256)
		memcpy(&salt, c->enc_key + c->enc_key_len - 4, 4);
	return salt;
}

/*
 * Initialise the SA object for inner IPv4, and find the bytes that an
 * inner-IPv6 init of the same SA sets differently (see ipsec.h).  Both
 * inits are made in the SA's own memory, so that pointers the object
 * keeps into itself (its replay state) compare equal.
 */
static int
sa_family_probe(struct ipsec_sa *s, struct rte_ipsec_sa_prm *prm, int size)
{
	uint8_t *obj = (uint8_t *)s->ss.sa, *v6;
	int i, rc;

	v6 = rte_malloc("sa_probe", size, RTE_CACHE_LINE_SIZE);
	if (v6 == NULL)
		return -ENOMEM;
	prm->tun.next_proto = IPPROTO_IPV6;
	rc = rte_ipsec_sa_init(s->ss.sa, prm, size);
	memcpy(v6, obj, size);
	prm->tun.next_proto = IPPROTO_IPIP;
	if (rc >= 0)
		rc = rte_ipsec_sa_init(s->ss.sa, prm, size);
	for (i = 0; rc >= 0 && i < size; i++) {
		if (obj[i] == v6[i])
			continue;
		if (s->ndiff == IPSEC_FAMILY_DIFF_MAX) {
			rc = -E2BIG;
			break;
		}
		s->diff_ofs[s->ndiff] = (uint16_t)i;
		s->diff_val[0][s->ndiff] = obj[i];
		s->diff_val[1][s->ndiff] = v6[i];
		s->ndiff++;
	}
	rte_free(v6);
	s->cur_family = AF_INET;
	return rc < 0 ? rc : 0;
}

/*
 * Whether librte_ipsec 22.11 with IPsec-MB does the SA right on the CPU
 * crypto path.  Found by the Scapy tests, not assumed:
 *   - CBC: the CPU path gives every packet the same IV on the wire (it
 *     encrypts the IV field with the IV it holds, which is that field);
 *     the lookaside path gives each packet its own;
 *   - AES-XCBC: IPsec-MB's CPU path crashes (a GMAC routine is called);
 *   - AES-GMAC: the CPU path fails every packet.
 * These go lookaside whatever the mode; the rest (GCM, ChaCha20-Poly1305,
 * CTR and NULL with HMAC) use CPU crypto where the device has it.
 */
static bool
cpu_crypto_ok(const struct cfg_sa *c)
{
	if (c->aead != CFG_AEAD_NONE)
		return c->aead != CFG_AEAD_AES_GMAC_128 &&
		       c->aead != CFG_AEAD_AES_GMAC_256;
	if (c->enc == CFG_ENC_3DES_CBC ||
	    (c->enc >= CFG_ENC_AES_CBC_128 && c->enc <= CFG_ENC_AES_CBC_256))
		return false;
	return c->auth != CFG_AUTH_AES_XCBC_96;
}

static int
sa_create(struct dp *dp, const struct cfg_sa *c, const struct ipsec_iface *ifc,
	  struct ipsec_sa *s, bool cfg_mode_cpu, struct cfg_err *err)
{
	struct ipsec_ctx *ic = dp->ipsec;
	struct rte_crypto_sym_xform x[2];
	struct rte_ipsec_sa_prm prm;
	uint8_t hdr[128];
	int size, rc;

	memset(s, 0, sizeof(*s));
	s->used = true;
	s->gen = ++ic->gen;
	s->reqid = c->reqid;
	s->added = (uint64_t)time(NULL);
	ipsec_sa_set_lifetime(s, &c->soft, &c->hard);
	s->outbound = c->outbound;
	s->spi = c->spi;
	s->src = c->src;
	s->dst = c->dst;
	s->ifidx = ifc->idx;
	s->locked = dp->nworkers > 1;
	rte_spinlock_init(&s->lock);
	s->sqh_len = (c->esn && !c->outbound) ? 4 : 0;

	if (crypto_check(ic, c, err) != 0)
		return -1;
	s->cpu = ic->cpu && cpu_crypto_ok(c);
	if (!s->cpu && cfg_mode_cpu) {
		cfg_errorf(err, &c->pos,
			   "sa %u: %s%s%s needs lookaside crypto (librte_ipsec's CPU path gets it wrong); use mode auto or lookaside",
			   c->spi, c->aead ? cfg_aead_name(c->aead) :
			   cfg_enc_name(c->enc), c->aead ? "" : " with ",
			   c->aead ? "" : cfg_auth_name(c->auth));
		return -1;
	}
	crypto_xforms(c, c->outbound, c->esn, x);
	esp_geometry(c, x, s);

	memset(&prm, 0, sizeof(prm));
	prm.userdata = (uintptr_t)s;
	/*
	 * Outbound sequence numbers are taken atomically by workers sharing
	 * the SA.  Inbound prepare and process run under the SA's lock
	 * already, and librte_ipsec 22.11's atomic replay state crashes with
	 * a window of 0 (it has no replay buckets then): no flag inbound.
	 */
	if (dp->nworkers > 1 && c->outbound)
		prm.flags = RTE_IPSEC_SAFLAG_SQN_ATOM;
	prm.ipsec_xform.spi = c->spi;
	prm.ipsec_xform.salt = sa_salt(c);
	prm.ipsec_xform.options.esn = c->esn;
	/* librte_ipsec takes the next number to send */
	if (c->outbound)
		prm.ipsec_xform.esn.value = c->seq + 1;
	s->seq_base = c->outbound ? c->seq : 0;
	ipsec_sa_set_natt_port(s, c->natt_port);
	/* inbound: the UDP header is part of l3_len (ipsec_in.c) */
	prm.ipsec_xform.options.udp_encap = ifc->nat_t && c->outbound;
	prm.ipsec_xform.udp.sport = NATT_PORT;
	prm.ipsec_xform.udp.dport = NATT_PORT;
	prm.ipsec_xform.direction = c->outbound ?
		RTE_SECURITY_IPSEC_SA_DIR_EGRESS :
		RTE_SECURITY_IPSEC_SA_DIR_INGRESS;
	prm.ipsec_xform.proto = RTE_SECURITY_IPSEC_SA_PROTO_ESP;
	prm.ipsec_xform.mode = RTE_SECURITY_IPSEC_SA_MODE_TUNNEL;
	prm.ipsec_xform.tunnel.type = ifc->family == AF_INET ?
		RTE_SECURITY_IPSEC_TUNNEL_IPV4 : RTE_SECURITY_IPSEC_TUNNEL_IPV6;
	/*
	 * RFC 4303 3.4.3: a window of W holds T-W+1..T.  librte_ipsec's
	 * window of w also takes T-w, so it is given W-1 (a window of 1,
	 * which would become 0 and turn anti-replay off, stays 1 and so
	 * also takes T-1).
	 */
	s->replay_on = !c->outbound && c->replay_window != 0;
	s->esn = c->esn;
	if (s->replay_on) {
		uint32_t words = rte_align32pow2(c->replay_window / 64 + 2);

		s->replay = rte_zmalloc("replay", sizeof(*s->replay) +
					words * sizeof(uint64_t),
					RTE_CACHE_LINE_SIZE);
		if (s->replay == NULL) {
			cfg_errorf(err, &c->pos, "sa %u: out of memory", c->spi);
			return -1;
		}
		s->replay->win = c->replay_window;
		/*
		 * The ESN high bits must be inferred exactly as librte_ipsec
		 * does (its ICV check used them): from its window, which it
		 * raises to 64 with ESN.
		 */
		s->replay->infer_win = c->replay_window > 1 ?
				       c->replay_window - 1 : c->replay_window;
		if (c->esn && s->replay->infer_win < 64)
			s->replay->infer_win = 64;
		s->replay->mask = words - 1;
	}
	prm.ipsec_xform.replay_win_sz = c->outbound ? 0 :
		c->replay_window > 1 ? c->replay_window - 1 : c->replay_window;
	prm.crypto_xform = x;
	prm.tun.hdr = hdr;
	prm.tun.hdr_len = tunnel_template(ifc, hdr);
	if (ifc->family == AF_INET)
		s->outer_sum = __rte_raw_cksum(hdr + sizeof(struct rte_ether_hdr),
					       sizeof(struct rte_ipv4_hdr), 0);
	prm.tun.hdr_l3_off = sizeof(struct rte_ether_hdr);
	prm.tun.next_proto = IPPROTO_IPIP;

	size = rte_ipsec_sa_size(&prm);
	if (size < 0) {
		cfg_errorf(err, &c->pos, "sa %u: librte_ipsec refuses it: %s",
			   c->spi, strerror(-size));
		return -1;
	}
	s->ss.sa = rte_zmalloc("ipsec_sa", size, RTE_CACHE_LINE_SIZE);
	if (s->ss.sa == NULL) {
		cfg_errorf(err, &c->pos, "sa %u: out of memory", c->spi);
		return -1;
	}
	rc = sa_family_probe(s, &prm, size);
	if (rc != 0) {
		cfg_errorf(err, &c->pos,
			   "sa %u: cannot set the SA up for both inner families: %s",
			   c->spi, strerror(-rc));
		return -1;
	}
	s->crypto_ses = rte_cryptodev_sym_session_create(ic->dev_id, x,
							 ic->sess_pool);
	/* the session holds its own copy (expanded) of the keys */
	explicit_bzero(x, sizeof(x));
	if (s->crypto_ses == NULL) {
		cfg_errorf(err, &c->pos, "sa %u: cannot create a crypto session on %s",
			   c->spi, ic->dev_name);
		return -1;
	}
	s->ss.type = s->cpu ? RTE_SECURITY_ACTION_TYPE_CPU_CRYPTO :
			       RTE_SECURITY_ACTION_TYPE_NONE;
	s->ss.crypto.ses = s->crypto_ses;
	s->ss.crypto.dev_id = ic->dev_id;
	rc = rte_ipsec_session_prepare(&s->ss);
	if (rc != 0) {
		cfg_errorf(err, &c->pos, "sa %u: librte_ipsec session: %s",
			   c->spi, strerror(-rc));
		return -1;
	}
	return 0;
}

static void
sa_release(struct ipsec_ctx *ic, struct ipsec_sa *s)
{
	if (s->crypto_ses != NULL)
		rte_cryptodev_sym_session_free(ic->dev_id, s->crypto_ses);
	rte_free(s->ss.sa);
	rte_free(s->replay);
	memset(s, 0, sizeof(*s));
}

/* ---------------------------------------------------------------------- */
/* Slots */

static int
slots_init(struct ipsec_slots *sl, uint32_t n)
{
	sl->used = calloc((n + 63) / 64, sizeof(*sl->used));
	sl->n = n;
	sl->hint = 0;
	sl->hwm = 0;
	return sl->used == NULL ? -ENOMEM : 0;
}

/* The lowest free slot, now used; -1 when full. */
static int64_t
slot_take(struct ipsec_slots *sl)
{
	uint32_t w, i, words = (sl->n + 63) / 64;

	for (w = sl->hint / 64; w < words; w++) {
		uint64_t free_bits = ~sl->used[w];

		if (free_bits == 0)
			continue;
		i = w * 64 + (uint32_t)__builtin_ctzll(free_bits);
		if (i >= sl->n)
			break;
		sl->used[w] |= 1ull << (i % 64);
		sl->hint = i + 1;
		if (i >= sl->hwm)
			sl->hwm = i + 1;
		return i;
	}
	sl->hint = sl->n;
	return -1;
}

static void
slot_put(struct ipsec_slots *sl, uint32_t i)
{
	sl->used[i / 64] &= ~(1ull << (i % 64));
	if (i < sl->hint)
		sl->hint = i;
}

static uint64_t
sa_key_hash(const struct ipsec_sa *s)
{
	return cfg_sa_key_hash(s->spi, &s->dst);
}

static void
sad_key_make(struct sad_key *k, uint32_t spi, int family, const void *dst)
{
	memset(k, 0, sizeof(*k));
	k->spi = spi;
	k->family = (uint8_t)family;
	memcpy(k->dst, dst, family == AF_INET ? 4 : 16);
}

/*
 * Workers' SAD caches let go of what they hold (0 marks an empty slot).
 * Called after the SAD changed: a worker that looks up between the change
 * and the bump caches its answer under the old generation, which the bump
 * then voids; the SA is freed only after a grace period after the bump.
 */
static void
sad_gen_bump(struct ipsec_ctx *ic)
{
	uint32_t g = ic->sad_gen + 1;

	__atomic_store_n(&ic->sad_gen, g == 0 ? 1 : g, __ATOMIC_RELEASE);
}

struct ipsec_sa *
ipsec_sad_lookup(const struct ipsec_ctx *ic, uint32_t spi, int family,
		 const void *dst)
{
	struct sad_key k;
	void *data;

	sad_key_make(&k, spi, family, dst);
	if (rte_hash_lookup_data(ic->sad, &k, &data) < 0)
		return NULL;
	return data;
}

void
ipsec_sad_warm(const struct ipsec_ctx *ic, struct sad_cache *c,
	       const rte_be32_t *spi, const uint8_t *family,
	       const uint8_t *const *dst, unsigned int n)
{
	struct sad_key k[RTE_HASH_LOOKUP_BULK_MAX];
	const void *kp[RTE_HASH_LOOKUP_BULK_MAX];
	void *data[RTE_HASH_LOOKUP_BULK_MAX];
	uint64_t hits = 0;
	uint32_t gen, w[6], h;
	unsigned int i;

	if (n > RTE_HASH_LOOKUP_BULK_MAX)
		n = RTE_HASH_LOOKUP_BULK_MAX;
	for (i = 0; i < n; i++) {
		sad_key_make(&k[i], rte_be_to_cpu_32(spi[i]), family[i], dst[i]);
		kp[i] = &k[i];
	}
	gen = __atomic_load_n(&ic->sad_gen, __ATOMIC_ACQUIRE);
	if (rte_hash_lookup_bulk_data(ic->sad, kp, n, &hits, data) <= 0)
		return;
	for (i = 0; i < n; i++) {
		struct ipsec_sa *sa = data[i];

		if (!(hits & (UINT64_C(1) << i)))
			continue;
		ipsec_sa_prefetch(sa);
		h = sad_cache_key(w, spi[i], family[i], dst[i]);
		memcpy(c->slot[h].w, w, sizeof(w));
		c->slot[h].gen = gen;
		c->slot[h].sa = sa;
	}
}

int
ipsec_init(struct dp *dp, const struct cfg *cfg, struct cfg_err *err)
{
	struct ipsec_ctx *ic;
	struct cfg_pos pos = cfg->crypto.pos;
	unsigned int w;
	struct rte_hash_parameters hp = {
		.name = "sad",
		.key_len = sizeof(struct sad_key),
		.hash_func = rte_jhash,
		.socket_id = (int)rte_socket_id(),
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};

	if (dp->max_if == 0)
		dp->max_if = IPSEC_DEFAULT_MAX_IF;
	if (dp->max_sa == 0)
		dp->max_sa = IPSEC_DEFAULT_MAX_SA;
	hp.entries = dp->max_sa;
	ic = rte_zmalloc("ipsec", sizeof(*ic), RTE_CACHE_LINE_SIZE);
	if (ic == NULL)
		return -ENOMEM;
	dp->ipsec = ic;
	ic->sad_gen = 1;
	ic->max_if = dp->max_if;
	ic->max_sa = dp->max_sa;
	ic->ifp = rte_zmalloc("ipsec_ifp", ic->max_if * sizeof(*ic->ifp),
			      RTE_CACHE_LINE_SIZE);
	ic->ifstate = rte_zmalloc("ipsec_ifstate",
				  ic->max_if * sizeof(*ic->ifstate),
				  RTE_CACHE_LINE_SIZE);
	ic->sas = rte_zmalloc("ipsec_sas", ic->max_sa * sizeof(*ic->sas),
			      RTE_CACHE_LINE_SIZE);
	ic->sad = rte_hash_create(&hp);
	if (ic->ifp == NULL || ic->ifstate == NULL || ic->sas == NULL ||
	    ic->sad == NULL || slots_init(&ic->if_slots, ic->max_if) != 0 ||
	    slots_init(&ic->sa_slots, ic->max_sa) != 0)
		goto nomem;
	/* each worker's counters of every slot */
	for (w = 0; w < dp->nworkers; w++) {
		struct dp_lcore *lc = dp->lc[w];
		int socket = (int)rte_lcore_to_socket_id(lc->lcore_id);

		lc->ifcnt = rte_zmalloc_socket("ifcnt",
					       ic->max_if * sizeof(*lc->ifcnt),
					       RTE_CACHE_LINE_SIZE, socket);
		lc->sacnt = rte_zmalloc_socket("sacnt",
					       ic->max_sa * sizeof(*lc->sacnt),
					       RTE_CACHE_LINE_SIZE, socket);
		lc->sa_inflight = rte_zmalloc_socket("sa_inflight",
				ic->max_sa * sizeof(*lc->sa_inflight),
				RTE_CACHE_LINE_SIZE, socket);
		if (lc->ifcnt == NULL || lc->sacnt == NULL ||
		    lc->sa_inflight == NULL)
			goto nomem;
	}
	return crypto_setup(dp, cfg, err);
nomem:
	cfg_errorf(err, &pos,
		   "cannot allocate the tables for %u interfaces and %u SAs (--max-interfaces, --max-sas; DPDK memory: -m or hugepages)",
		   ic->max_if, ic->max_sa);
	return -1;
}

/* Deletes in the SAD wait for a grace period (the caller then waits for
 * the crypto operations in flight). */
int
ipsec_rcu_attach(struct dp *dp)
{
	struct rte_hash_rcu_config c = {
		.v = dp->qsbr,
		.mode = RTE_HASH_QSBR_MODE_SYNC,
	};

	return rte_hash_rcu_qsbr_add(dp->ipsec->sad, &c);
}

static void
dp_sync(struct dp *dp)
{
	if (dp->qsbr != NULL)
		rte_rcu_qsbr_synchronize(dp->qsbr, RTE_QSBR_THRID_INVALID);
}

int
ipsec_iface_find(const struct ipsec_ctx *ic, const char *name)
{
	uint64_t h = cfg_name_hash(name);
	size_t i, it;

	for (i = cfg_ix_first(&ic->if_by_name, h, &it); i != CFG_IX_NONE;
	     i = cfg_ix_next(&ic->if_by_name, h, &it))
		if (ic->ifp[i] != NULL && strcmp(ic->ifp[i]->name, name) == 0)
			return (int)i;
	return -1;
}

/*
 * `mtu: auto`: the MTU of the port the tunnel's remote is routed out of
 * (1500 without a route), less what ESP adds to an inner packet of the
 * outbound SA: outer IP header, NAT-T UDP header, ESP header, IV, padding
 * to the cipher's block, pad length and next header, ICV.  Without an
 * outbound SA, that of the largest we make (AES-CBC, 32-byte ICV).
 */
uint16_t
ipsec_iface_auto_mtu(const struct dp *dp, const struct ipsec_iface *f)
{
	uint32_t pmtu = RTE_ETHER_MTU, iv = 16, icv = 32, align = 16, over;
	const struct nexthop *nh = NULL;

	if (f->has_tunnel && dp->fib != NULL) {
		nh = fib_lookup(dp->fib, f->family, f->remote);
		if (nh != NULL && (nh->type == NH_CONNECTED ||
				   nh->type == NH_VIA))
			pmtu = dp->ports[nh->port].mtu;
	}
	if (f->out != NULL) {
		iv = f->out->iv_len;
		icv = f->out->icv_len;
		align = f->out->align;
	}
	over = (f->family == AF_INET6 ? 40 : 20) + (f->nat_t ? 8 : 0) +
	       8 + iv + icv;
	if (pmtu < over + 68 + align)
		return 68;
	return (uint16_t)((pmtu - over) / align * align - 2);
}

void
ipsec_iface_mtu_refresh(struct dp *dp)
{
	unsigned int i;

	for (i = 0; i < dp->ipsec->if_slots.hwm; i++) {
		struct ipsec_iface *f = dp->ipsec->ifp[i];
		uint16_t mtu;

		if (f == NULL || !f->mtu_auto)
			continue;
		mtu = ipsec_iface_auto_mtu(dp, f);
		if (mtu != f->mtu)	/* one aligned store: workers see
					 * the old or the new value */
			__atomic_store_n(&f->mtu, mtu, __ATOMIC_RELAXED);
	}
}

void
ipsec_iface_mtu_refresh_in(struct dp *dp, const struct cfg_prefix *p)
{
	unsigned int i;

	for (i = 0; i < dp->ipsec->if_slots.hwm; i++) {
		struct ipsec_iface *f = dp->ipsec->ifp[i];
		uint16_t mtu;

		if (f == NULL || !f->mtu_auto || !f->has_tunnel ||
		    !cfg_prefix_has(p, f->family, f->remote))
			continue;
		mtu = ipsec_iface_auto_mtu(dp, f);
		if (mtu != f->mtu)
			__atomic_store_n(&f->mtu, mtu, __ATOMIC_RELAXED);
	}
}

static void
iface_fill(struct ipsec_iface *f, const struct cfg_interface *c)
{
	snprintf(f->name, sizeof(f->name), "%s", c->name);
	f->has_tunnel = c->has_tunnel;
	f->reqid = c->reqid;
	f->family = c->has_tunnel ? c->local.family : AF_INET;
	memcpy(f->local, c->local.a, 16);
	memcpy(f->remote, c->remote.a, 16);
	f->nat_t = c->nat_t;
	f->ecn = c->ecn;
	f->ipv6 = c->ipv6;
	f->df = c->df;
	f->mtu_auto = c->mtu == 0;
	if (!f->mtu_auto)
		f->mtu = c->mtu;
}

/* Publish f at its index, and free what it replaces once no worker can
 * be reading that. */
static void
iface_publish(struct dp *dp, struct ipsec_iface *f)
{
	struct ipsec_ctx *ic = dp->ipsec;
	struct ipsec_iface *old = ic->ifp[f->idx];

	__atomic_store_n(&ic->ifp[f->idx], f, __ATOMIC_RELEASE);
	if (old == NULL)
		return;
	dp_sync(dp);
	rte_free(old);
}

int
ipsec_iface_add(struct dp *dp, const struct cfg_interface *c)
{
	struct ipsec_ctx *ic = dp->ipsec;
	struct ipsec_iface *f;
	unsigned int w;
	int64_t slot;
	uint32_t i;

	f = rte_zmalloc("ipsec_if", sizeof(*f), RTE_CACHE_LINE_SIZE);
	if (f == NULL)
		return -ENOMEM;
	slot = slot_take(&ic->if_slots);
	if (slot < 0) {
		rte_free(f);
		return -ENOSPC;
	}
	i = (uint32_t)slot;
	if (cfg_ix_add(&ic->if_by_name, cfg_name_hash(c->name), i) != 0) {
		slot_put(&ic->if_slots, i);
		rte_free(f);
		return -ENOMEM;
	}
	iface_fill(f, c);
	f->idx = i;
	if (f->mtu_auto)
		f->mtu = ipsec_iface_auto_mtu(dp, f);
	/* counters of a slot start at zero (ipsec_iface_del cleared them) */
	for (w = 0; w < dp->nworkers; w++)
		memset(&dp->lc[w]->ifcnt[i], 0, sizeof(dp->lc[w]->ifcnt[i]));
	ic->ifstate[i].acquire_last = 0;
	iface_publish(dp, f);
	ic->nifs++;
	return (int)i;
}

int
ipsec_iface_update(struct dp *dp, uint32_t ifidx, const struct cfg_interface *c)
{
	struct ipsec_ctx *ic = dp->ipsec;
	struct ipsec_iface *f;

	f = rte_malloc("ipsec_if", sizeof(*f), RTE_CACHE_LINE_SIZE);
	if (f == NULL)
		return -ENOMEM;
	*f = *ic->ifp[ifidx];
	iface_fill(f, c);
	if (f->mtu_auto)
		f->mtu = ipsec_iface_auto_mtu(dp, f);
	iface_publish(dp, f);
	return 0;
}

/* Make s (or none) the interface's outbound SA. */
static int
iface_set_out(struct dp *dp, uint32_t ifidx, struct ipsec_sa *s)
{
	struct ipsec_ctx *ic = dp->ipsec;
	struct ipsec_iface *f;

	f = rte_malloc("ipsec_if", sizeof(*f), RTE_CACHE_LINE_SIZE);
	if (f == NULL)
		return -ENOMEM;
	*f = *ic->ifp[ifidx];
	f->out = s;
	if (f->mtu_auto)
		f->mtu = ipsec_iface_auto_mtu(dp, f);
	iface_publish(dp, f);
	return 0;
}

void
ipsec_iface_del(struct dp *dp, uint32_t ifidx)
{
	struct ipsec_ctx *ic = dp->ipsec;
	struct ipsec_iface *old = ic->ifp[ifidx];
	unsigned int w;

	if (old == NULL)
		return;
	cfg_ix_del(&ic->if_by_name, cfg_name_hash(old->name), ifidx);
	__atomic_store_n(&ic->ifp[ifidx], NULL, __ATOMIC_RELEASE);
	dp_sync(dp);
	rte_free(old);
	for (w = 0; w < dp->nworkers; w++)
		memset(&dp->lc[w]->ifcnt[ifidx], 0,
		       sizeof(dp->lc[w]->ifcnt[ifidx]));
	slot_put(&ic->if_slots, ifidx);
	ic->nifs--;
}

void
ipsec_sa_set_natt_port(struct ipsec_sa *s, uint16_t port)
{
	port = port != 0 ? port : NATT_PORT;
	if (s->outbound)
		__atomic_store_n(&s->natt_dport, rte_cpu_to_be_16(port),
				 __ATOMIC_RELAXED);
	else
		s->use.peer_port = port;
}

void
ipsec_sa_set_lifetime(struct ipsec_sa *s, const struct cfg_lifetime *soft,
		      const struct cfg_lifetime *hard)
{
	s->soft_packets = soft->packets;
	s->soft_bytes = soft->bytes;
	s->hard_packets = hard->packets;
	s->hard_bytes = hard->bytes;
	s->limited = soft->packets || soft->bytes || hard->packets ||
		     hard->bytes;
}

int
ipsec_sa_create(struct dp *dp, const struct cfg_sa *c, bool mode_cpu,
		struct ipsec_sa **out, struct cfg_err *err)
{
	struct ipsec_ctx *ic = dp->ipsec;
	struct ipsec_sa *s;
	int64_t slot;
	uint32_t i;
	int ifidx = ipsec_iface_find(ic, c->interface);

	if (ifidx < 0 || !ic->ifp[ifidx]->has_tunnel) {
		cfg_errorf(err, &c->pos, "sa %u: interface %s %s", c->spi,
			   c->interface, ifidx < 0 ? "does not exist" :
			   "has no tunnel");
		return -1;
	}
	slot = slot_take(&ic->sa_slots);
	if (slot < 0) {
		cfg_errorf(err, &c->pos, "sa %u: no room: at most %u SAs (ipsecgw --max-sas)",
			   c->spi, ic->max_sa);
		return -1;
	}
	i = (uint32_t)slot;
	s = &ic->sas[i];
	if (sa_create(dp, c, ic->ifp[ifidx], s, mode_cpu, err) != 0) {
		sa_release(ic, s);
		slot_put(&ic->sa_slots, i);
		return -1;
	}
	s->idx = i;
	s->ifidx = (uint32_t)ifidx;
	if (cfg_ix_add(&ic->sa_by_key, sa_key_hash(s), i) != 0) {
		cfg_errorf(err, &c->pos, "sa %u: out of memory", c->spi);
		sa_release(ic, s);
		slot_put(&ic->sa_slots, i);
		return -1;
	}
	ic->nsas++;
	*out = s;
	return 0;
}

int
ipsec_sa_publish(struct dp *dp, struct ipsec_sa *s)
{
	struct sad_key k;
	int rc;

	/* the newest outbound SA is the one used: make-before-break */
	if (s->outbound)
		return iface_set_out(dp, s->ifidx, s);
	sad_key_make(&k, s->spi, s->dst.family, s->dst.a);
	rc = rte_hash_add_key_data(dp->ipsec->sad, &k, s);
	sad_gen_bump(dp->ipsec);
	return rc;
}

void
ipsec_sa_discard(struct dp *dp, struct ipsec_sa *s)
{
	uint32_t i = s->idx;

	cfg_ix_del(&dp->ipsec->sa_by_key, sa_key_hash(s), i);
	sa_release(dp->ipsec, s);
	slot_put(&dp->ipsec->sa_slots, i);
	dp->ipsec->nsas--;
}

/* The newest outbound SA of an interface other than `not`, if any. */
static struct ipsec_sa *
iface_other_out(struct ipsec_ctx *ic, uint32_t ifidx, const struct ipsec_sa *not)
{
	struct ipsec_sa *best = NULL;
	unsigned int i;

	for (i = 0; i < ic->sa_slots.hwm; i++) {
		struct ipsec_sa *s = &ic->sas[i];

		if (!s->used || s == not || !s->outbound || s->ifidx != ifidx ||
		    s->use.state == SA_HARD_EXPIRED)
			continue;
		if (best == NULL || s->gen > best->gen)
			best = s;
	}
	return best;
}

void
ipsec_sa_delete(struct dp *dp, struct ipsec_sa *s)
{
	struct ipsec_ctx *ic = dp->ipsec;
	struct sad_key k;
	unsigned int w, tries;
	uint32_t idx = s->idx;
	uint64_t n;

	cfg_ix_del(&ic->sa_by_key, sa_key_hash(s), idx);
	if (s->outbound) {
		if (ic->ifp[s->ifidx] != NULL && ic->ifp[s->ifidx]->out == s)
			iface_set_out(dp, s->ifidx,
				      iface_other_out(ic, s->ifidx, s));
	} else {
		sad_key_make(&k, s->spi, s->dst.family, s->dst.a);
		rte_hash_del_key(ic->sad, &k);
		sad_gen_bump(ic);
	}
	dp_sync(dp);
	/* a worker's crypto operations on the SA come back to it later */
	for (tries = 0; ; tries++) {
		for (n = 0, w = 0; w < dp->nworkers; w++)
			n += __atomic_load_n(&dp->lc[w]->sa_inflight[s->idx],
					     __ATOMIC_ACQUIRE);
		if (n == 0)
			break;
		if (tries == 100000) {
			fprintf(stderr, "ipsecgw: sa %u: %" PRIu64 " crypto operations never came back; its memory is kept\n",
				s->spi, n);
			ic->nsas--;
			s->spi = 0;
			return;
		}
		usleep(10);
	}
	for (w = 0; w < dp->nworkers; w++)
		memset(&dp->lc[w]->sacnt[idx], 0, sizeof(dp->lc[w]->sacnt[idx]));
	sa_release(ic, s);
	slot_put(&ic->sa_slots, idx);
	ic->nsas--;
}

struct ipsec_sa *
ipsec_sa_find(const struct ipsec_ctx *ic, uint32_t spi,
	      const struct cfg_addr *dst)
{
	uint64_t h = cfg_sa_key_hash(spi, dst);
	size_t i, it;

	for (i = cfg_ix_first(&ic->sa_by_key, h, &it); i != CFG_IX_NONE;
	     i = cfg_ix_next(&ic->sa_by_key, h, &it)) {
		struct ipsec_sa *s = &ic->sas[i];

		if (s->used && s->spi == spi && cfg_addr_eq(&s->dst, dst))
			return s;
	}
	return NULL;
}

void
ipsec_free(struct dp *dp)
{
	struct ipsec_ctx *ic = dp->ipsec;
	unsigned int i;

	if (ic == NULL)
		return;
	for (i = 0; ic->sas != NULL && i < ic->sa_slots.hwm; i++)
		if (ic->sas[i].used)
			sa_release(ic, &ic->sas[i]);
	for (i = 0; ic->ifp != NULL && i < ic->if_slots.hwm; i++)
		rte_free(ic->ifp[i]);
	for (i = 0; i < dp->nworkers; i++) {
		rte_free(dp->lc[i]->ifcnt);
		rte_free(dp->lc[i]->sacnt);
		rte_free(dp->lc[i]->sa_inflight);
		dp->lc[i]->ifcnt = NULL;
		dp->lc[i]->sacnt = NULL;
		dp->lc[i]->sa_inflight = NULL;
	}
	cfg_ix_free(&ic->if_by_name);
	cfg_ix_free(&ic->sa_by_key);
	free(ic->if_slots.used);
	free(ic->sa_slots.used);
	rte_hash_free(ic->sad);
	rte_free(ic->sas);
	rte_free(ic->ifp);
	rte_free(ic->ifstate);
	crypto_close(dp);
	rte_free(ic);
	dp->ipsec = NULL;
}

/* A limit is reached: move the state on (once, whichever worker gets
 * there first) and tell the control thread. */
void
ipsec_sa_limit_hit(struct dp_lcore *lc, struct ipsec_sa *s, uint64_t p,
		   uint64_t b)
{
	struct dp_event ev = { .type = DP_EV_SA_EXPIRE };
	uint8_t want, cur = __atomic_load_n(&s->use.state, __ATOMIC_RELAXED);
	bool hard = (s->hard_packets && p >= s->hard_packets) ||
		    (s->hard_bytes && b >= s->hard_bytes);

	want = hard ? SA_HARD_EXPIRED : SA_SOFT_EXPIRED;
	do {
		if (cur >= want)
			return;
	} while (!__atomic_compare_exchange_n(&s->use.state, &cur, want, false,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	ev.kind = hard;
	if (hard ? !(s->hard_packets && p >= s->hard_packets) :
		   !(s->soft_packets && p >= s->soft_packets))
		ev.kind |= 2;	/* bytes */
	ev.idx = s->idx;
	ev.gen = s->gen;
	dp_event_post(lc, &ev);
}

void
ipsec_sa_publish_other(struct dp *dp, struct ipsec_sa *s)
{
	iface_set_out(dp, s->ifidx, iface_other_out(dp->ipsec, s->ifidx, s));
}

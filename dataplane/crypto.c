/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Crypto devices: pick or create the cryptodev, give each worker a queue
 * pair, size the session pool, and turn an SA's algorithms into cryptodev
 * transforms that librte_ipsec accepts.
 *
 * With `driver: auto` and no cryptodev on the EAL line, the gateway
 * creates Intel IPsec-MB's crypto_aesni_mb itself, so the embedded
 * default needs no extra arguments.  `mode: auto` uses synchronous CPU
 * crypto where the driver has it (software drivers) and lookaside
 * otherwise.
 */
#include <stdio.h>
#include <string.h>

#include <rte_bus_vdev.h>
#include <rte_crypto.h>
#include <rte_cryptodev.h>
#include <rte_ipsec.h>

#include "dataplane/dp.h"
#include "dataplane/ipsec.h"

/* librte_ipsec reads the IV from the crypto op, right after it */
#define IV_OFFSET (sizeof(struct rte_crypto_op) + sizeof(struct rte_crypto_sym_op))

static const struct {
	const char *cfg;	/* crypto.driver */
	const char *drv;	/* cryptodev driver name */
} drivers[] = {
	{ "aesni_mb", "crypto_aesni_mb" },
	{ "aesni_gcm", "crypto_aesni_gcm" },
	{ "openssl", "crypto_openssl" },
	{ "qat", "crypto_qat" },
};

static int
find_by_driver(const char *drv)
{
	struct rte_cryptodev_info info;
	uint8_t id;

	for (id = 0; id < rte_cryptodev_count(); id++) {
		rte_cryptodev_info_get(id, &info);
		if (info.driver_name != NULL && strcmp(info.driver_name, drv) == 0)
			return id;
	}
	return -1;
}

/* The device the configuration asks for; created when it is a software one. */
static int
crypto_pick(const struct cfg_crypto *c, struct cfg_err *err)
{
	const char *drv = NULL;
	char name[64];
	unsigned int i;
	int id;

	if (strcmp(c->driver, "auto") == 0) {
		if (rte_cryptodev_count() > 0)
			return 0;
		drv = "crypto_aesni_mb";
	}
	for (i = 0; drv == NULL && i < RTE_DIM(drivers); i++)
		if (strcmp(c->driver, drivers[i].cfg) == 0)
			drv = drivers[i].drv;
	if (drv == NULL) {
		id = rte_cryptodev_get_dev_id(c->driver);
		if (id < 0)
			cfg_errorf(err, &c->pos,
				   "crypto: no cryptodev named '%s'", c->driver);
		return id;
	}
	id = find_by_driver(drv);
	if (id >= 0)
		return id;
	if (strcmp(drv, "crypto_qat") == 0) {
		cfg_errorf(err, &c->pos,
			   "crypto: driver qat: no QAT device (bind one and allow it on the EAL line)");
		return -1;
	}
	snprintf(name, sizeof(name), "%s_ipsecgw", drv);
	if (rte_vdev_init(name, NULL) != 0) {
		cfg_errorf(err, &c->pos, "crypto: cannot create %s", name);
		return -1;
	}
	id = rte_cryptodev_get_dev_id(name);
	if (id < 0)
		cfg_errorf(err, &c->pos, "crypto: %s did not appear", name);
	return id;
}

int ipsec_meta_offset = -1;

int
crypto_setup(struct dp *dp, const struct cfg *cfg, struct cfg_err *err)
{
	static const struct rte_mbuf_dynfield meta = {
		.name = "ipsecgw_meta",
		.size = sizeof(struct ipsec_meta),
		.align = __alignof__(struct ipsec_meta),
	};
	struct ipsec_ctx *ic = dp->ipsec;
	struct rte_cryptodev_info info;
	struct rte_cryptodev_config conf;
	struct rte_cryptodev_qp_conf qp = { .nb_descriptors = 2048 };
	unsigned int q, sess_size;
	int id, socket;

	ipsec_meta_offset = rte_mbuf_dynfield_register(&meta);
	if (ipsec_meta_offset < 0) {
		cfg_errorf(err, &cfg->crypto.pos,
			   "crypto: cannot register an mbuf field");
		return -1;
	}
	id = crypto_pick(&cfg->crypto, err);
	if (id < 0)
		return -1;
	ic->dev_id = (uint8_t)id;
	snprintf(ic->dev_name, sizeof(ic->dev_name), "%s",
		 rte_cryptodev_name_get(ic->dev_id));
	rte_cryptodev_info_get(ic->dev_id, &info);
	bool has_cpu = (info.feature_flags & RTE_CRYPTODEV_FF_SYM_CPU_CRYPTO) != 0;

	switch (cfg->crypto.mode) {
	case CFG_CRYPTO_CPU:
		if (!has_cpu) {
			cfg_errorf(err, &cfg->crypto.pos,
				   "crypto: %s has no synchronous CPU crypto",
				   ic->dev_name);
			return -1;
		}
		ic->cpu = true;
		break;
	case CFG_CRYPTO_LOOKASIDE:
		ic->cpu = false;
		break;
	default:
		ic->cpu = has_cpu;
	}

	socket = rte_cryptodev_socket_id(ic->dev_id);
	if (socket < 0)
		socket = (int)rte_socket_id();
	if (info.max_nb_queue_pairs < dp->nworkers) {
		cfg_errorf(err, &cfg->crypto.pos,
			   "crypto: %s has %u queue pairs, %u workers need one each",
			   ic->dev_name, info.max_nb_queue_pairs, dp->nworkers);
		return -1;
	}
	memset(&conf, 0, sizeof(conf));
	conf.socket_id = socket;
	conf.nb_queue_pairs = (uint16_t)dp->nworkers;
	ic->nb_qp = conf.nb_queue_pairs;
	if (rte_cryptodev_configure(ic->dev_id, &conf) != 0) {
		cfg_errorf(err, &cfg->crypto.pos, "crypto: cannot configure %s",
			   ic->dev_name);
		return -1;
	}
	sess_size = rte_cryptodev_sym_get_private_session_size(ic->dev_id);
	/* one session per SA, and slack (as much again for the default
	 * 4096, at most 4096: 200 000 SAs need no 200 000 spare sessions) */
	ic->sess_pool = rte_cryptodev_sym_session_pool_create("ipsec_sess",
		dp->max_sa + RTE_MIN(dp->max_sa, 4096u), sess_size, 0, 0,
		socket);
	if (ic->sess_pool == NULL) {
		cfg_errorf(err, &cfg->crypto.pos,
			   "crypto: cannot create the session pool");
		return -1;
	}
	qp.mp_session = ic->sess_pool;
	{
		/* lookaside SAs may exist in any mode (see sa_create);
		 * room after each op for the IV librte_ipsec writes there */
		ic->cop_pool = rte_crypto_op_pool_create("ipsec_cop",
			RTE_CRYPTO_OP_TYPE_SYMMETRIC,
			dp->nworkers * (qp.nb_descriptors + 2 * DP_BURST) + 256,
			64, 16, socket);
		if (ic->cop_pool == NULL) {
			cfg_errorf(err, &cfg->crypto.pos,
				   "crypto: cannot create the crypto op pool");
			return -1;
		}
	}
	for (q = 0; q < conf.nb_queue_pairs; q++)
		if (rte_cryptodev_queue_pair_setup(ic->dev_id, q, &qp,
						   socket) != 0) {
			cfg_errorf(err, &cfg->crypto.pos,
				   "crypto: cannot set up queue pair %u of %s",
				   q, ic->dev_name);
			return -1;
		}
	if (rte_cryptodev_start(ic->dev_id) != 0) {
		cfg_errorf(err, &cfg->crypto.pos, "crypto: cannot start %s",
			   ic->dev_name);
		return -1;
	}
	return 0;
}

void
crypto_close(struct dp *dp)
{
	struct ipsec_ctx *ic = dp->ipsec;

	if (ic == NULL || ic->sess_pool == NULL)
		return;
	rte_cryptodev_stop(ic->dev_id);
	rte_cryptodev_close(ic->dev_id);
	rte_mempool_free(ic->sess_pool);
	rte_mempool_free(ic->cop_pool);
	ic->sess_pool = NULL;
	ic->cop_pool = NULL;
}

/* Key bytes without the trailing salt or nonce. */
static unsigned int
cipher_keylen(unsigned int len, bool salted)
{
	return salted ? len - 4 : len;
}

int
crypto_xforms(const struct cfg_sa *sa, bool outbound, bool esn,
	      struct rte_crypto_sym_xform x[2])
{
	struct rte_crypto_sym_xform *c = &x[0], *a = &x[1];

	memset(x, 0, 2 * sizeof(*x));
	if (sa->aead != CFG_AEAD_NONE) {
		if (sa->aead == CFG_AEAD_AES_GMAC_128 ||
		    sa->aead == CFG_AEAD_AES_GMAC_256) {
			/* GMAC: authentication only, with an IV */
			c->type = RTE_CRYPTO_SYM_XFORM_AUTH;
			c->auth.algo = RTE_CRYPTO_AUTH_AES_GMAC;
			c->auth.op = outbound ? RTE_CRYPTO_AUTH_OP_GENERATE :
						RTE_CRYPTO_AUTH_OP_VERIFY;
			c->auth.key.data = sa->key;
			c->auth.key.length = cipher_keylen(sa->key_len, true);
			c->auth.iv.offset = IV_OFFSET;
			c->auth.iv.length = 12;
			c->auth.digest_length = 16;
			return 0;
		}
		c->type = RTE_CRYPTO_SYM_XFORM_AEAD;
		c->aead.algo = sa->aead == CFG_AEAD_CHACHA20_POLY1305 ?
			       RTE_CRYPTO_AEAD_CHACHA20_POLY1305 :
			       RTE_CRYPTO_AEAD_AES_GCM;
		c->aead.op = outbound ? RTE_CRYPTO_AEAD_OP_ENCRYPT :
					RTE_CRYPTO_AEAD_OP_DECRYPT;
		c->aead.key.data = sa->key;
		c->aead.key.length = cipher_keylen(sa->key_len, true);
		c->aead.iv.offset = IV_OFFSET;
		c->aead.iv.length = 12;
		c->aead.digest_length = 16;
		c->aead.aad_length = esn ? 12 : 8;
		return 0;
	}

	c->type = RTE_CRYPTO_SYM_XFORM_CIPHER;
	c->cipher.op = outbound ? RTE_CRYPTO_CIPHER_OP_ENCRYPT :
				  RTE_CRYPTO_CIPHER_OP_DECRYPT;
	c->cipher.key.data = sa->enc_key;
	c->cipher.iv.offset = IV_OFFSET;
	switch (sa->enc) {
	case CFG_ENC_AES_CBC_128:
	case CFG_ENC_AES_CBC_192:
	case CFG_ENC_AES_CBC_256:
		c->cipher.algo = RTE_CRYPTO_CIPHER_AES_CBC;
		c->cipher.key.length = sa->enc_key_len;
		c->cipher.iv.length = 16;
		break;
	case CFG_ENC_AES_CTR_128:
	case CFG_ENC_AES_CTR_192:
	case CFG_ENC_AES_CTR_256:
		c->cipher.algo = RTE_CRYPTO_CIPHER_AES_CTR;
		c->cipher.key.length = cipher_keylen(sa->enc_key_len, true);
		c->cipher.iv.length = 16;
		break;
	case CFG_ENC_3DES_CBC:
		c->cipher.algo = RTE_CRYPTO_CIPHER_3DES_CBC;
		c->cipher.key.length = sa->enc_key_len;
		c->cipher.iv.length = 8;
		break;
	default:
		c->cipher.algo = RTE_CRYPTO_CIPHER_NULL;
		c->cipher.key.data = NULL;
		c->cipher.iv.length = 0;
		break;
	}

	a->type = RTE_CRYPTO_SYM_XFORM_AUTH;
	a->auth.op = outbound ? RTE_CRYPTO_AUTH_OP_GENERATE :
				RTE_CRYPTO_AUTH_OP_VERIFY;
	a->auth.key.data = sa->auth_key;
	a->auth.key.length = sa->auth_key_len;
	switch (sa->auth) {
	case CFG_AUTH_HMAC_SHA1_96:
		a->auth.algo = RTE_CRYPTO_AUTH_SHA1_HMAC;
		a->auth.digest_length = 12;
		break;
	case CFG_AUTH_HMAC_SHA256_128:
		a->auth.algo = RTE_CRYPTO_AUTH_SHA256_HMAC;
		a->auth.digest_length = 16;
		break;
	case CFG_AUTH_HMAC_SHA384_192:
		a->auth.algo = RTE_CRYPTO_AUTH_SHA384_HMAC;
		a->auth.digest_length = 24;
		break;
	case CFG_AUTH_HMAC_SHA512_256:
		a->auth.algo = RTE_CRYPTO_AUTH_SHA512_HMAC;
		a->auth.digest_length = 32;
		break;
	default:
		a->auth.algo = RTE_CRYPTO_AUTH_AES_XCBC_MAC;
		a->auth.digest_length = 12;
		break;
	}
	/* encrypt then MAC; verify then decrypt */
	if (outbound) {
		c->next = a;
	} else {
		struct rte_crypto_sym_xform cipher = *c;

		x[0] = *a;
		x[1] = cipher;
		x[0].next = &x[1];
		x[1].next = NULL;
	}
	return 0;
}

static bool
xform_supported(uint8_t dev, const struct rte_crypto_sym_xform *x)
{
	struct rte_cryptodev_sym_capability_idx idx = { .type = x->type };
	const struct rte_cryptodev_symmetric_capability *cap;

	switch (x->type) {
	case RTE_CRYPTO_SYM_XFORM_AEAD:
		idx.algo.aead = x->aead.algo;
		cap = rte_cryptodev_sym_capability_get(dev, &idx);
		return cap != NULL &&
		       rte_cryptodev_sym_capability_check_aead(cap,
				x->aead.key.length, x->aead.digest_length,
				x->aead.aad_length, x->aead.iv.length) == 0;
	case RTE_CRYPTO_SYM_XFORM_CIPHER:
		idx.algo.cipher = x->cipher.algo;
		cap = rte_cryptodev_sym_capability_get(dev, &idx);
		return cap != NULL &&
		       rte_cryptodev_sym_capability_check_cipher(cap,
				x->cipher.key.length, x->cipher.iv.length) == 0;
	case RTE_CRYPTO_SYM_XFORM_AUTH:
		idx.algo.auth = x->auth.algo;
		cap = rte_cryptodev_sym_capability_get(dev, &idx);
		return cap != NULL &&
		       rte_cryptodev_sym_capability_check_auth(cap,
				x->auth.key.length, x->auth.digest_length,
				x->auth.iv.length) == 0;
	default:
		return false;
	}
}

int
crypto_check(const struct ipsec_ctx *ic, const struct cfg_sa *sa,
	     struct cfg_err *err)
{
	struct rte_crypto_sym_xform x[2], *p;

	crypto_xforms(sa, true, sa->esn, x);
	for (p = &x[0]; p != NULL; p = p->next)
		if (!xform_supported(ic->dev_id, p)) {
			cfg_errorf(err, &sa->pos,
				   "sa %u: crypto driver %s cannot do %s%s%s",
				   sa->spi, ic->dev_name,
				   sa->aead ? cfg_aead_name(sa->aead) :
					      cfg_enc_name(sa->enc),
				   sa->aead ? "" : " with ",
				   sa->aead ? "" : cfg_auth_name(sa->auth));
			return -1;
		}
	return 0;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The configuration's internal representation, and the YAML loader that
 * fills it.
 *
 * Parsing and applying are kept apart: this module turns YAML text into a
 * validated struct cfg and never touches the dataplane.  The YAML file is
 * parsed as one document; the control socket (a later issue) parses one
 * flow mapping per request with the same per-entry functions
 * (cfg_parse_*_entry), so a request and a file entry can never disagree.
 *
 * What can be checked without DPDK is checked here: types, ranges, unknown
 * keys, duplicate names, references between sections (route -> dev,
 * sa -> interface/reqid), key lengths against the algorithm.  What needs
 * the running system (does ethdev port 3 exist, does the chosen cryptodev
 * do this algorithm) is checked when the configuration is applied, and is
 * reported against the same file positions (struct cfg_pos).
 *
 * This header includes no DPDK header, so the loader and its unit tests
 * build without EAL.
 */
#ifndef IPSECGW_CONFIG_H
#define IPSECGW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "control/index.h"

#define CFG_NAME_MAX 32		/* port and interface names, incl. NUL */
#define CFG_DEVNAME_MAX 64	/* ethdev device names, incl. NUL */
#define CFG_MAX_ADDRS 16	/* addresses per port or interface */
#define CFG_MAX_KEY 64		/* bytes of one key (cipher key + salt) */

/* Where an object came from, for messages at apply time. */
struct cfg_pos {
	const char *file;	/* points into struct cfg; "-" for a string */
	unsigned int line;	/* 1-based */
	unsigned int col;	/* 1-based */
};

/* AF_INET or AF_INET6 with the address in network byte order. */
struct cfg_addr {
	int family;
	uint8_t a[16];		/* IPv4 uses a[0..3] */
};

struct cfg_prefix {
	struct cfg_addr addr;	/* host bits may be set on a port address */
	uint8_t len;
};

struct cfg_crypto {
	/* "auto", "aesni_mb", "aesni_gcm", "openssl", "qat", or a cryptodev
	 * name; kept as text because a device name is open-ended. */
	char driver[CFG_DEVNAME_MAX];
	enum cfg_crypto_mode {
		CFG_CRYPTO_AUTO = 0,
		CFG_CRYPTO_LOOKASIDE,
		CFG_CRYPTO_CPU,
	} mode;
	struct cfg_pos pos;
};

struct cfg_port {
	char name[CFG_NAME_MAX];
	/* exactly one of: an ethdev port id, or a device name */
	int port_id;			/* -1 when devname is used */
	char devname[CFG_DEVNAME_MAX];	/* "" when port_id is used */
	struct cfg_prefix addrs[CFG_MAX_ADDRS];
	unsigned int naddrs;
	uint16_t mtu;			/* 0: not given (the device's default) */
	struct cfg_pos pos;
};

struct cfg_neighbor {
	struct cfg_addr addr;
	uint8_t lladdr[6];
	char dev[CFG_NAME_MAX];		/* a port name */
	struct cfg_pos pos;
};

enum cfg_df {
	CFG_DF_COPY = 0,		/* default */
	CFG_DF_CLEAR,
	CFG_DF_SET,
};

struct cfg_interface {
	char name[CFG_NAME_MAX];
	bool has_tunnel;
	struct cfg_addr local;		/* same family as remote */
	struct cfg_addr remote;
	struct cfg_prefix addrs[CFG_MAX_ADDRS];
	unsigned int naddrs;
	bool has_peer;
	struct cfg_addr peer;
	bool has_reqid;			/* false: assigned by cfg_validate */
	uint32_t reqid;
	uint16_t mtu;			/* 0: auto */
	bool nat_t;			/* default false */
	bool ecn;			/* default true */
	bool ipv6;			/* default true */
	enum cfg_df df;			/* default copy */
	struct cfg_pos pos;
};

/* Algorithm tables: X(enum-suffix, "name", key bytes incl. salt, extra) */
#define CFG_AEAD_ALGS(X)                                   \
	X(NONE, "", 0)                                     \
	X(AES_GCM_128, "aes-gcm-128", 16 + 4)              \
	X(AES_GCM_192, "aes-gcm-192", 24 + 4)              \
	X(AES_GCM_256, "aes-gcm-256", 32 + 4)              \
	X(CHACHA20_POLY1305, "chacha20-poly1305", 32 + 4)  \
	X(AES_GMAC_128, "aes-gmac-128", 16 + 4)            \
	X(AES_GMAC_256, "aes-gmac-256", 32 + 4)

#define CFG_ENC_ALGS(X)                                    \
	X(NONE, "", 0)                                     \
	X(AES_CBC_128, "aes-cbc-128", 16)                  \
	X(AES_CBC_192, "aes-cbc-192", 24)                  \
	X(AES_CBC_256, "aes-cbc-256", 32)                  \
	X(AES_CTR_128, "aes-ctr-128", 16 + 4)              \
	X(AES_CTR_192, "aes-ctr-192", 24 + 4)              \
	X(AES_CTR_256, "aes-ctr-256", 32 + 4)              \
	X(3DES_CBC, "3des-cbc", 24)                        \
	X(NULL, "null", 0)

#define CFG_AUTH_ALGS(X)                                   \
	X(NONE, "", 0)                                     \
	X(HMAC_SHA1_96, "hmac-sha1-96", 20)                \
	X(HMAC_SHA256_128, "hmac-sha256-128", 32)          \
	X(HMAC_SHA384_192, "hmac-sha384-192", 48)          \
	X(HMAC_SHA512_256, "hmac-sha512-256", 64)          \
	X(AES_XCBC_96, "aes-xcbc-96", 16)

#define CFG_AEAD_ENUM(id, name, keylen) CFG_AEAD_##id,
#define CFG_ENC_ENUM(id, name, keylen) CFG_ENC_##id,
#define CFG_AUTH_ENUM(id, name, keylen) CFG_AUTH_##id,
enum cfg_aead { CFG_AEAD_ALGS(CFG_AEAD_ENUM) CFG_AEAD_MAX };
enum cfg_enc { CFG_ENC_ALGS(CFG_ENC_ENUM) CFG_ENC_MAX };
enum cfg_auth { CFG_AUTH_ALGS(CFG_AUTH_ENUM) CFG_AUTH_MAX };

/* Name and key length (bytes, salt or nonce included) of an algorithm. */
const char *cfg_aead_name(enum cfg_aead a);
const char *cfg_enc_name(enum cfg_enc a);
const char *cfg_auth_name(enum cfg_auth a);
unsigned int cfg_aead_keylen(enum cfg_aead a);
unsigned int cfg_enc_keylen(enum cfg_enc a);
unsigned int cfg_auth_keylen(enum cfg_auth a);

struct cfg_lifetime {
	uint64_t bytes;			/* 0: no limit */
	uint64_t packets;
	uint64_t seconds;
};

/*
 * One SA.  Either aead is set (enc and auth NONE), or enc and auth are
 * both set (enc may be "null", auth may not be absent: ESP without
 * integrity is refused).  Keys are secret: they live here until applied,
 * and cfg_free() wipes them.
 */
struct cfg_sa {
	uint32_t spi;
	struct cfg_addr src;
	struct cfg_addr dst;
	bool has_reqid;
	uint32_t reqid;			/* filled from interface when absent */
	char interface[CFG_NAME_MAX];	/* "" if bound by reqid; filled by
					 * cfg_validate from the reqid */
	enum cfg_aead aead;
	enum cfg_enc enc;
	enum cfg_auth auth;
	uint8_t key[CFG_MAX_KEY];	/* aead key + salt */
	uint8_t key_len;
	uint8_t enc_key[CFG_MAX_KEY];	/* cipher key (+ nonce for ctr) */
	uint8_t enc_key_len;
	uint8_t auth_key[CFG_MAX_KEY];
	uint8_t auth_key_len;
	bool esn;			/* default false */
	uint32_t replay_window;		/* default 1024; 0 = off */
	struct cfg_lifetime soft;
	struct cfg_lifetime hard;
	/* outbound: the last sequence number sent (0: none yet); the next
	 * packet carries seq + 1.  For an SA taken over from another gateway
	 * (high availability), and for tests near 2^32. */
	bool has_seq;
	uint64_t seq;
	/* NAT-T: the remote's UDP port (0: 4500), as IKE found it through a
	 * NAT; outbound sends to it, inbound expects it (another is a
	 * `mapping` event) */
	uint16_t natt_port;
	bool outbound;			/* set by cfg_validate: src == local */
	struct cfg_pos pos;
};

struct cfg_route {
	struct cfg_prefix prefix;	/* host bits must be zero */
	bool has_via;
	struct cfg_addr via;		/* same family as prefix */
	char dev[CFG_NAME_MAX];		/* a port or an ipsec interface */
	struct cfg_pos pos;
};

/* A whole configuration.  Arrays grow as needed; counts are exact. */
struct cfg {
	char *file;			/* path it was loaded from, or "-" */
	struct cfg_crypto crypto;
	struct cfg_port *ports;
	size_t nports;
	struct cfg_neighbor *neighbors;
	size_t nneighbors;
	struct cfg_interface *interfaces;
	size_t ninterfaces;
	struct cfg_sa *sas;
	size_t nsas;
	struct cfg_route *routes;
	size_t nroutes;
};

/*
 * Error sink.  Every message is "file:line:col: text".  Loading goes on
 * after an error so that one run reports all of them; `max` bounds the
 * number kept (the count goes on).  When `out` is non-NULL each message
 * is also printed there as it is found.
 */
struct cfg_err {
	FILE *out;
	unsigned int count;
	char **msgs;			/* kept messages, count capped at max */
	unsigned int nmsgs;
	unsigned int max;		/* 0: keep none */
};

void cfg_err_init(struct cfg_err *err, FILE *out, unsigned int max);
void cfg_err_free(struct cfg_err *err);
void cfg_errorf(struct cfg_err *err, const struct cfg_pos *pos,
		const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Load, parse and validate.  Return 0 and fill *cfg when the file is good;
 * return -1 with every problem reported to err otherwise, and leave *cfg
 * empty (cfg_free is still safe to call).  cfg_load_string parses text in
 * memory; `name` stands in for the file name in messages.
 */
int cfg_load_file(const char *path, struct cfg *cfg, struct cfg_err *err);
int cfg_load_string(const char *name, const char *text, size_t len,
		    struct cfg *cfg, struct cfg_err *err);

/* Cross-section checks; called by cfg_load_*; exposed for the socket. */
int cfg_validate(struct cfg *cfg, struct cfg_err *err);

/*
 * The checks of one route that involve no other route (its dev is a port
 * or an interface of cfg; via only through a port), with cfg_validate's
 * messages; `idx` labels it ("routes[idx]").  cfg_validate checks
 * duplicates by sorting all routes; the socket's route-add checks the one
 * new route with this and an index of the running routes.  0 or -1.
 */
int cfg_route_check(const struct cfg *cfg, const struct cfg_route *r,
		    size_t idx, struct cfg_err *err);

/* Free everything and wipe keys. */
void cfg_free(struct cfg *cfg);
/* A deep copy (keys included); -1 when out of memory. */
int cfg_copy(struct cfg *dst, const struct cfg *src);
/* Wipe one SA's keys (once they are in a crypto session, or unusable). */
void cfg_sa_wipe_keys(struct cfg_sa *sa);

/* Helpers shared with the dataplane and the socket. */
int cfg_addr_parse(const char *s, struct cfg_addr *a);
int cfg_prefix_parse(const char *s, struct cfg_prefix *p);
/* Text form of an address into buf (at least 46 bytes). */
const char *cfg_addr_str(const struct cfg_addr *a, char *buf, size_t len);
bool cfg_addr_eq(const struct cfg_addr *a, const struct cfg_addr *b);
/* Is address a (network byte order, of `family`) inside prefix p? */
bool cfg_prefix_has(const struct cfg_prefix *p, int family, const uint8_t *a);

/* Lookups by name; NULL if absent.  Linear: see cfg_lookup for many. */
const struct cfg_port *cfg_port_find(const struct cfg *cfg, const char *name);
const struct cfg_interface *cfg_interface_find(const struct cfg *cfg,
					       const char *name);

/*
 * Indexes over one configuration's interfaces, for what looks up many
 * entries (validation, the running configuration's requests).  They hold
 * positions in cfg->interfaces: build them again after the array changes.
 */
struct cfg_lookup {
	struct cfg_ix name;		/* by name */
	struct cfg_ix reqid;		/* by reqid (not 0) */
	struct cfg_ix tunnel;		/* with a tunnel, by {local, remote} */
};

int cfg_lookup_build(struct cfg_lookup *lk, const struct cfg *cfg);
void cfg_lookup_free(struct cfg_lookup *lk);
/* cfg->interfaces[i] was appended: index it (0 or -ENOMEM). */
int cfg_lookup_add(struct cfg_lookup *lk, const struct cfg *cfg, size_t i);
/* The first interface with this reqid. */
const struct cfg_interface *cfg_lookup_reqid(const struct cfg_lookup *lk,
					     const struct cfg *cfg,
					     uint32_t reqid);
/* The first interface named `name`, as cfg_interface_find. */
const struct cfg_interface *cfg_lookup_iface(const struct cfg_lookup *lk,
					     const struct cfg *cfg,
					     const char *name);
/* The hash an SA is indexed under: (spi, dst). */
uint64_t cfg_sa_key_hash(uint32_t spi, const struct cfg_addr *dst);
uint64_t cfg_name_hash(const char *name);

/*
 * Check one SA as cfg_validate checks cfg->sas[pos], as if it were there,
 * against cfg (valid, indexed by lk), and bind it (interface, reqid,
 * direction) the same way; the messages are the same.  Uniqueness of
 * (spi, dst) is the caller's (it has the SAs' index).  0 or -1.
 */
int cfg_validate_sa(const struct cfg *cfg, const struct cfg_lookup *lk,
		    struct cfg_sa *sa, size_t pos, struct cfg_err *err);

#endif /* IPSECGW_CONFIG_H */

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * YAML configuration loader: text -> struct cfg, with every problem
 * reported as "file:line:col: message".
 *
 * The work is done in three layers:
 *   - scalars: numbers, booleans, addresses, prefixes, names, hex keys;
 *   - entries: one port, interface, SA, ... (cfg_parse_*_entry, shared
 *     with the control socket), which check what one entry can check;
 *   - cfg_validate: what needs several entries (names, reqids, tunnels).
 * Each layer reports and goes on, so that one run shows every mistake.
 *
 * Choices where the contract is silent (see also DESIGN.md):
 *   - spi is 256..2^32-1: SPIs 1..255 are reserved by RFC 4303, 0 means
 *     "no SA".
 *   - reqid is 1..2^32-1; 0 means "not assigned yet".  An interface without
 *     one gets the lowest unused reqid when the configuration is validated,
 *     and keeps it on later validations (the socket re-validates).
 *   - replay-window is 0..2^20 packets (0 turns anti-replay off);
 *     librte_ipsec takes large windows, 2^20 is a sanity bound.
 *   - mtu is 68..65535 (RFC 791), and at least 1280 (RFC 8200) where IPv6
 *     is carried: a port with an IPv6 address, an interface with ipv6 on.
 *   - decimal numbers with a leading zero are refused: YAML 1.1 would read
 *     them as octal, so "010" is ambiguous.
 *   - scalars are read by their text whatever their quoting: "100" and 100
 *     are the same number, so JSON requests with quoted numbers work.
 *   - a null value (empty, "~", "null") is an empty section or an empty
 *     address list, and an error anywhere else.
 *   - a static neighbor's port must have an address of the neighbor's
 *     family, otherwise it could never be used.
 *   - two ports may not use the same ethdev port id or device name.
 *
 * Keys never appear in a message, and the buffers that held them (the
 * file, libyaml's buffers and nodes, half-parsed SAs) are wiped.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <yaml.h>

#include "control/config.h"
#include "control/config_parse.h"

#define CFG_SPI_MIN 256u
#define CFG_REPLAY_MAX (1u << 20)
#define CFG_MTU_MIN 68u
#define CFG_MTU_MIN_V6 1280u
#define CFG_MTU_MAX 65535u
#define CFG_PORT_ID_MAX 65535u
#define CFG_SHOW_MAX 40		/* chars of a user's value echoed back */

/* ---------------------------------------------------------------------- */
/* Algorithms */

struct cfg_alg {
	const char *name;
	unsigned int keylen;
};

#define CFG_ALG_ENTRY(id, name, keylen) { name, keylen },
static const struct cfg_alg cfg_aead_tab[] = { CFG_AEAD_ALGS(CFG_ALG_ENTRY) };
static const struct cfg_alg cfg_enc_tab[] = { CFG_ENC_ALGS(CFG_ALG_ENTRY) };
static const struct cfg_alg cfg_auth_tab[] = { CFG_AUTH_ALGS(CFG_ALG_ENTRY) };
#undef CFG_ALG_ENTRY

#define CFG_NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *cfg_aead_name(enum cfg_aead a)
{
	return (unsigned int)a < CFG_AEAD_MAX ? cfg_aead_tab[a].name : "?";
}

const char *cfg_enc_name(enum cfg_enc a)
{
	return (unsigned int)a < CFG_ENC_MAX ? cfg_enc_tab[a].name : "?";
}

const char *cfg_auth_name(enum cfg_auth a)
{
	return (unsigned int)a < CFG_AUTH_MAX ? cfg_auth_tab[a].name : "?";
}

unsigned int cfg_aead_keylen(enum cfg_aead a)
{
	return (unsigned int)a < CFG_AEAD_MAX ? cfg_aead_tab[a].keylen : 0;
}

unsigned int cfg_enc_keylen(enum cfg_enc a)
{
	return (unsigned int)a < CFG_ENC_MAX ? cfg_enc_tab[a].keylen : 0;
}

unsigned int cfg_auth_keylen(enum cfg_auth a)
{
	return (unsigned int)a < CFG_AUTH_MAX ? cfg_auth_tab[a].keylen : 0;
}

/* Index of name in tab, skipping entry 0 (NONE); -1 if absent. */
static int cfg_alg_lookup(const struct cfg_alg *tab, size_t n,
			  const char *name)
{
	size_t i;

	for (i = 1; i < n; i++)
		if (strcmp(tab[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* "aes-gcm-128, aes-gcm-192, ..." for messages. */
static void cfg_alg_list(const struct cfg_alg *tab, size_t n, char *buf,
			 size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 1; i < n && off < len; i++) {
		int w = snprintf(buf + off, len - off, "%s%s",
				 i > 1 ? ", " : "", tab[i].name);
		if (w < 0)
			break;
		off += (size_t)w;
	}
}

/* ---------------------------------------------------------------------- */
/* Error sink */

void cfg_err_init(struct cfg_err *err, FILE *out, unsigned int max)
{
	memset(err, 0, sizeof(*err));
	err->out = out;
	err->max = max;
}

void cfg_err_free(struct cfg_err *err)
{
	unsigned int i;

	if (err == NULL)
		return;
	for (i = 0; i < err->nmsgs; i++)
		free(err->msgs[i]);
	free(err->msgs);
	err->msgs = NULL;
	err->nmsgs = 0;
	err->count = 0;
}

void cfg_errorf(struct cfg_err *err, const struct cfg_pos *pos,
		const char *fmt, ...)
{
	char *text = NULL, *msg = NULL;
	va_list ap;
	int r;

	if (err == NULL)
		return;
	err->count++;

	va_start(ap, fmt);
	r = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (r < 0)
		text = NULL;

	/* A position without a line is a whole-file problem ("cannot open"). */
	if (pos == NULL)
		r = asprintf(&msg, "%s", text ? text : "(out of memory)");
	else if (pos->line == 0)
		r = asprintf(&msg, "%s: %s", pos->file ? pos->file : "-",
			     text ? text : "(out of memory)");
	else
		r = asprintf(&msg, "%s:%u:%u: %s", pos->file ? pos->file : "-",
			     pos->line, pos->col,
			     text ? text : "(out of memory)");
	free(text);
	if (r < 0)
		msg = NULL;

	if (err->out != NULL)
		fprintf(err->out, "%s\n", msg ? msg : "(out of memory)");

	if (msg != NULL && err->nmsgs < err->max) {
		char **m = realloc(err->msgs, (err->nmsgs + 1) * sizeof(*m));

		if (m != NULL) {
			err->msgs = m;
			err->msgs[err->nmsgs++] = msg;
			msg = NULL;
		}
	}
	free(msg);
}

/* ---------------------------------------------------------------------- */
/* Addresses */

int cfg_addr_parse(const char *s, struct cfg_addr *a)
{
	struct cfg_addr tmp;

	memset(&tmp, 0, sizeof(tmp));
	if (inet_pton(AF_INET, s, tmp.a) == 1)
		tmp.family = AF_INET;
	else if (inet_pton(AF_INET6, s, tmp.a) == 1)
		tmp.family = AF_INET6;
	else
		return -1;
	*a = tmp;
	return 0;
}

static unsigned int cfg_addr_bits(const struct cfg_addr *a)
{
	return a->family == AF_INET ? 32 : 128;
}

/* 0, or which part is wrong: -1 no "/", -2 address, -3 length. */
static int cfg_prefix_parse_why(const char *s, struct cfg_prefix *p)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	const char *l;
	size_t alen;
	unsigned int len = 0;
	struct cfg_addr a;

	if (slash == NULL)
		return -1;
	alen = (size_t)(slash - s);
	if (alen >= sizeof(buf))
		return -2;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (cfg_addr_parse(buf, &a) < 0)
		return -2;
	l = slash + 1;
	/* Plain decimal only: strtoul would take " 24", "+24" and "0x18". */
	if (*l == '\0' || strlen(l) > 3)
		return -3;
	for (; *l != '\0'; l++) {
		if (!isdigit((unsigned char)*l))
			return -3;
		len = len * 10 + (unsigned int)(*l - '0');
	}
	if (len > cfg_addr_bits(&a))
		return -3;
	p->addr = a;
	p->len = (uint8_t)len;
	return 0;
}

int cfg_prefix_parse(const char *s, struct cfg_prefix *p)
{
	return cfg_prefix_parse_why(s, p) == 0 ? 0 : -1;
}

const char *cfg_addr_str(const struct cfg_addr *a, char *buf, size_t len)
{
	if (a->family != AF_INET && a->family != AF_INET6) {
		snprintf(buf, len, "-");
		return buf;
	}
	if (inet_ntop(a->family, a->a, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

bool cfg_addr_eq(const struct cfg_addr *a, const struct cfg_addr *b)
{
	if (a->family != b->family)
		return false;
	return memcmp(a->a, b->a, a->family == AF_INET ? 4 : 16) == 0;
}

bool cfg_prefix_has(const struct cfg_prefix *p, int family, const uint8_t *a)
{
	unsigned int bits = p->len, i;

	if (p->addr.family != family)
		return false;
	for (i = 0; bits >= 8; i++, bits -= 8)
		if (p->addr.a[i] != a[i])
			return false;
	return bits == 0 ||
	       ((p->addr.a[i] ^ a[i]) & (uint8_t)(0xff << (8 - bits))) == 0;
}

static bool cfg_prefix_eq(const struct cfg_prefix *a,
			  const struct cfg_prefix *b)
{
	return a->len == b->len && cfg_addr_eq(&a->addr, &b->addr);
}

/* Clear the host bits of p; true if any was set. */
static bool cfg_prefix_clear_host(struct cfg_prefix *p)
{
	unsigned int bytes = cfg_addr_bits(&p->addr) / 8, i;
	bool had = false;

	for (i = 0; i < bytes; i++) {
		unsigned int first = i * 8;
		uint8_t mask;

		if (first >= p->len)
			mask = 0;
		else if (first + 8 <= p->len)
			mask = 0xff;
		else
			mask = (uint8_t)(0xff00 >> (p->len - first));
		if (p->addr.a[i] & (uint8_t)~mask)
			had = true;
		p->addr.a[i] &= mask;
	}
	return had;
}

static const char *cfg_family_name(int family)
{
	return family == AF_INET ? "IPv4" : family == AF_INET6 ? "IPv6" : "?";
}

/* ---------------------------------------------------------------------- */
/* Lookups */

const struct cfg_port *cfg_port_find(const struct cfg *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nports; i++)
		if (strcmp(cfg->ports[i].name, name) == 0)
			return &cfg->ports[i];
	return NULL;
}

const struct cfg_interface *cfg_interface_find(const struct cfg *cfg,
					       const char *name)
{
	size_t i;

	for (i = 0; i < cfg->ninterfaces; i++)
		if (strcmp(cfg->interfaces[i].name, name) == 0)
			return &cfg->interfaces[i];
	return NULL;
}

uint64_t cfg_name_hash(const char *name)
{
	return cfg_ix_hash(name, strlen(name), 0);
}

static uint64_t cfg_addr_hash(const struct cfg_addr *a, uint64_t seed)
{
	return cfg_ix_hash(a->a, a->family == AF_INET ? 4 : 16,
			   seed ^ (uint64_t)a->family);
}

uint64_t cfg_sa_key_hash(uint32_t spi, const struct cfg_addr *dst)
{
	return cfg_addr_hash(dst, (uint64_t)spi << 8);
}

static uint64_t cfg_reqid_hash(uint32_t reqid)
{
	return cfg_ix_hash(&reqid, sizeof(reqid), 1);
}

/* Either way round: an SA's (src, dst) finds the tunnel in both directions. */
static uint64_t cfg_tunnel_hash(const struct cfg_addr *a,
				const struct cfg_addr *b)
{
	return cfg_addr_hash(a, 2) + cfg_addr_hash(b, 2);
}

int cfg_lookup_add(struct cfg_lookup *lk, const struct cfg *cfg, size_t i)
{
	const struct cfg_interface *f = &cfg->interfaces[i];
	int rc = cfg_ix_add(&lk->name, cfg_name_hash(f->name), i);

	if (rc == 0 && f->reqid != 0)
		rc = cfg_ix_add(&lk->reqid, cfg_reqid_hash(f->reqid), i);
	if (rc == 0 && f->has_tunnel)
		rc = cfg_ix_add(&lk->tunnel, cfg_tunnel_hash(&f->local, &f->remote),
				i);
	return rc;
}

void cfg_lookup_free(struct cfg_lookup *lk)
{
	cfg_ix_free(&lk->name);
	cfg_ix_free(&lk->reqid);
	cfg_ix_free(&lk->tunnel);
}

int cfg_lookup_build(struct cfg_lookup *lk, const struct cfg *cfg)
{
	size_t i;
	int rc;

	rc = cfg_ix_init(&lk->name, cfg->ninterfaces);
	rc |= cfg_ix_init(&lk->reqid, cfg->ninterfaces);
	rc |= cfg_ix_init(&lk->tunnel, cfg->ninterfaces);
	for (i = 0; rc == 0 && i < cfg->ninterfaces; i++) {
		const struct cfg_interface *f = &cfg->interfaces[i];

		rc |= cfg_ix_add(&lk->name, cfg_name_hash(f->name), i);
		if (f->reqid != 0)
			rc |= cfg_ix_add(&lk->reqid, cfg_reqid_hash(f->reqid), i);
		if (f->has_tunnel)
			rc |= cfg_ix_add(&lk->tunnel,
					 cfg_tunnel_hash(&f->local, &f->remote),
					 i);
	}
	if (rc != 0) {
		cfg_lookup_free(lk);
		return -ENOMEM;
	}
	return 0;
}

const struct cfg_interface *cfg_lookup_iface(const struct cfg_lookup *lk,
					     const struct cfg *cfg,
					     const char *name)
{
	uint64_t h = cfg_name_hash(name);
	size_t it, e;

	for (e = cfg_ix_first(&lk->name, h, &it); e != CFG_IX_NONE;
	     e = cfg_ix_next(&lk->name, h, &it))
		if (e < cfg->ninterfaces &&
		    strcmp(cfg->interfaces[e].name, name) == 0)
			return &cfg->interfaces[e];
	return NULL;
}

/* The first interface with this reqid. */
const struct cfg_interface *cfg_lookup_reqid(const struct cfg_lookup *lk,
					     const struct cfg *cfg,
					     uint32_t reqid)
{
	uint64_t h = cfg_reqid_hash(reqid);
	size_t it, e;

	for (e = cfg_ix_first(&lk->reqid, h, &it); e != CFG_IX_NONE;
	     e = cfg_ix_next(&lk->reqid, h, &it))
		if (e < cfg->ninterfaces && cfg->interfaces[e].reqid == reqid)
			return &cfg->interfaces[e];
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Free */

void cfg_free(struct cfg *cfg)
{
	if (cfg == NULL)
		return;
	if (cfg->sas != NULL)
		explicit_bzero(cfg->sas, cfg->nsas * sizeof(*cfg->sas));
	free(cfg->sas);
	free(cfg->ports);
	free(cfg->neighbors);
	free(cfg->interfaces);
	free(cfg->routes);
	free(cfg->file);
	memset(cfg, 0, sizeof(*cfg));
}

static void *cfg_dup_array(const void *a, size_t n, size_t size)
{
	void *d;

	if (n == 0)
		return NULL;
	d = malloc(n * size);
	if (d != NULL)
		memcpy(d, a, n * size);
	return d;
}

#define CFG_REPOS(dst, src, arr, n)                                    \
	do {                                                           \
		size_t _i;                                             \
		for (_i = 0; _i < (n); _i++)                           \
			if ((dst)->arr[_i].pos.file == (src)->file)    \
				(dst)->arr[_i].pos.file = (dst)->file; \
	} while (0)

int cfg_copy(struct cfg *dst, const struct cfg *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->file = src->file ? strdup(src->file) : NULL;
	dst->crypto = src->crypto;
	dst->ports = cfg_dup_array(src->ports, src->nports, sizeof(*src->ports));
	dst->neighbors = cfg_dup_array(src->neighbors, src->nneighbors,
				       sizeof(*src->neighbors));
	dst->interfaces = cfg_dup_array(src->interfaces, src->ninterfaces,
					sizeof(*src->interfaces));
	dst->sas = cfg_dup_array(src->sas, src->nsas, sizeof(*src->sas));
	dst->routes = cfg_dup_array(src->routes, src->nroutes,
				    sizeof(*src->routes));
	dst->nports = src->nports;
	dst->nneighbors = src->nneighbors;
	dst->ninterfaces = src->ninterfaces;
	dst->nsas = src->nsas;
	dst->nroutes = src->nroutes;
	if ((src->file && !dst->file) || (src->nports && !dst->ports) ||
	    (src->nneighbors && !dst->neighbors) ||
	    (src->ninterfaces && !dst->interfaces) ||
	    (src->nsas && !dst->sas) || (src->nroutes && !dst->routes)) {
		cfg_free(dst);
		return -1;
	}
	/* positions point into the file name each cfg owns */
	if (dst->crypto.pos.file == src->file)
		dst->crypto.pos.file = dst->file;
	CFG_REPOS(dst, src, ports, dst->nports);
	CFG_REPOS(dst, src, neighbors, dst->nneighbors);
	CFG_REPOS(dst, src, interfaces, dst->ninterfaces);
	CFG_REPOS(dst, src, sas, dst->nsas);
	CFG_REPOS(dst, src, routes, dst->nroutes);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Parse context and scalars */

void cfg_ctx_init(struct cfg_ctx *ctx, const char *file, yaml_document_t *doc,
		  struct cfg_err *err)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->file = file;
	ctx->doc = doc;
	ctx->err = err;
}

struct cfg_pos cfg_node_pos(const struct cfg_ctx *ctx, const yaml_node_t *node)
{
	struct cfg_pos pos = { .file = ctx->file, .line = 0, .col = 0 };

	if (node != NULL) {
		pos.line = (unsigned int)node->start_mark.line + 1;
		pos.col = (unsigned int)node->start_mark.column + 1;
	}
	return pos;
}

/* Report at node, prefixed with the entry label. */
static void cfg_perr(struct cfg_ctx *ctx, const yaml_node_t *node,
		     const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void cfg_perr(struct cfg_ctx *ctx, const yaml_node_t *node,
		     const char *fmt, ...)
{
	struct cfg_pos pos = cfg_node_pos(ctx, node);
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (ctx->where[0] != '\0')
		cfg_errorf(ctx->err, &pos, "%s: %s", ctx->where, text);
	else
		cfg_errorf(ctx->err, &pos, "%s", text);
}

/* A run of more hex digits than a 64-bit number has in decimal (20):
 * probably a key, whose shortest is 32 digits. */
static bool cfg_looks_secret(const char *s)
{
	size_t run = 0;

	for (; *s != '\0'; s++) {
		run = isxdigit((unsigned char)*s) ? run + 1 : 0;
		if (run > 20)
			return true;
	}
	return false;
}

/* A user's value made safe to echo: printable, bounded, and not a key
 * even when the key was pasted into the wrong field. */
static const char *cfg_show(const char *s, char *buf, size_t len)
{
	size_t i, o = 0;

	if (cfg_looks_secret(s)) {
		snprintf(buf, len, "(hex value not shown)");
		return buf;
	}

	for (i = 0; s[i] != '\0' && o + 4 < len; i++) {
		if (i == CFG_SHOW_MAX) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		buf[o++] = isprint((unsigned char)s[i]) ? s[i] : '?';
	}
	buf[o] = '\0';
	return buf;
}

#define CFG_SHOWBUF (CFG_SHOW_MAX + 8)

static yaml_node_t *cfg_node(struct cfg_ctx *ctx, int id)
{
	return yaml_document_get_node(ctx->doc, id);
}

static const char *cfg_node_type_name(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

/* Plain "", "~" or "null": YAML's null, which libyaml leaves as text. */
static bool cfg_is_null(const yaml_node_t *node)
{
	const char *v;

	if (node == NULL)
		return true;
	if (node->type != YAML_SCALAR_NODE ||
	    node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)node->data.scalar.value;
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

const char *cfg_parse_scalar(struct cfg_ctx *ctx, yaml_node_t *node,
			     const char *field)
{
	const char *v;

	if (node->type != YAML_SCALAR_NODE) {
		cfg_perr(ctx, node, "%s: expected a scalar value, got %s",
			 field, cfg_node_type_name(node));
		return NULL;
	}
	if (cfg_is_null(node)) {
		cfg_perr(ctx, node, "%s: needs a value", field);
		return NULL;
	}
	v = (const char *)node->data.scalar.value;
	/* "\0" in a double-quoted scalar would silently cut the text short. */
	if (strlen(v) != node->data.scalar.length) {
		cfg_perr(ctx, node, "%s: contains a NUL character", field);
		return NULL;
	}
	return v;
}

/* 0, -1 not a number, -2 too large for 64 bits. */
static int cfg_str_to_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	const char *p;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		p = s + 2;
		if (*p == '\0')
			return -1;
		for (; *p != '\0'; p++) {
			unsigned int d;

			if (!isxdigit((unsigned char)*p))
				return -1;
			d = isdigit((unsigned char)*p) ?
				(unsigned int)(*p - '0') :
				(unsigned int)(tolower((unsigned char)*p) -
					       'a' + 10);
			if (v > (UINT64_MAX >> 4))
				return -2;
			v = (v << 4) | d;
		}
	} else {
		if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
			return -1;
		for (p = s; *p != '\0'; p++) {
			unsigned int d;

			if (!isdigit((unsigned char)*p))
				return -1;
			d = (unsigned int)(*p - '0');
			if (v > (UINT64_MAX - d) / 10)
				return -2;
			v = v * 10 + d;
		}
	}
	*out = v;
	return 0;
}

int cfg_parse_uint(struct cfg_ctx *ctx, yaml_node_t *node, const char *field,
		   uint64_t min, uint64_t max, uint64_t *out)
{
	char show[CFG_SHOWBUF];
	const char *s = cfg_parse_scalar(ctx, node, field);
	uint64_t v = 0;
	int r;

	if (s == NULL)
		return -1;
	r = cfg_str_to_u64(s, &v);
	if (r == -1 && s[0] == '0' && isdigit((unsigned char)s[1])) {
		cfg_perr(ctx, node,
			 "%s: '%s' has a leading zero (write decimal without it, or 0x-hex)",
			 field, cfg_show(s, show, sizeof(show)));
		return -1;
	}
	if (r == -1) {
		cfg_perr(ctx, node,
			 "%s: expected a number (decimal or 0x-hex), got '%s'",
			 field, cfg_show(s, show, sizeof(show)));
		return -1;
	}
	if (r == -2 || v < min || v > max) {
		cfg_perr(ctx, node,
			 "%s: %s is out of range (%" PRIu64 "..%" PRIu64 ")",
			 field, cfg_show(s, show, sizeof(show)), min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int cfg_parse_bool(struct cfg_ctx *ctx, yaml_node_t *node, const char *field,
		   bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	char show[CFG_SHOWBUF];
	const char *s = cfg_parse_scalar(ctx, node, field);
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < CFG_NELEM(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	cfg_perr(ctx, node, "%s: expected true or false (or yes/no, on/off), got '%s'",
		 field, cfg_show(s, show, sizeof(show)));
	return -1;
}

int cfg_parse_addr(struct cfg_ctx *ctx, yaml_node_t *node, const char *field,
		   struct cfg_addr *out)
{
	char show[CFG_SHOWBUF];
	const char *s = cfg_parse_scalar(ctx, node, field);

	if (s == NULL)
		return -1;
	if (cfg_addr_parse(s, out) < 0) {
		cfg_perr(ctx, node, "%s: '%s' is not an IPv4 or IPv6 address%s",
			 field, cfg_show(s, show, sizeof(show)),
			 strchr(s, '/') ? " (no /LEN here)" : "");
		return -1;
	}
	return 0;
}

static int cfg_parse_prefix(struct cfg_ctx *ctx, yaml_node_t *node,
			    const char *field, struct cfg_prefix *out)
{
	char show[CFG_SHOWBUF];
	const char *s = cfg_parse_scalar(ctx, node, field);
	struct cfg_prefix p;
	int r;

	if (s == NULL)
		return -1;
	memset(&p, 0, sizeof(p));
	r = cfg_prefix_parse_why(s, &p);
	if (r == 0) {
		*out = p;
		return 0;
	}
	cfg_show(s, show, sizeof(show));
	switch (r) {
	case -1:
		cfg_perr(ctx, node, "%s: expected ADDRESS/LENGTH, got '%s'",
			 field, show);
		break;
	case -2:
		cfg_perr(ctx, node,
			 "%s: '%s' does not start with an IPv4 or IPv6 address",
			 field, show);
		break;
	default:
		cfg_perr(ctx, node,
			 "%s: '%s' has a bad prefix length (0..32 for IPv4, 0..128 for IPv6)",
			 field, show);
		break;
	}
	return -1;
}

static bool cfg_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-';
}

int cfg_parse_name(struct cfg_ctx *ctx, yaml_node_t *node, const char *field,
		   char out[CFG_NAME_MAX])
{
	char show[CFG_SHOWBUF];
	const char *s = cfg_parse_scalar(ctx, node, field);
	size_t i, n;

	out[0] = '\0';
	if (s == NULL)
		return -1;
	n = strlen(s);
	if (n >= CFG_NAME_MAX) {
		cfg_perr(ctx, node, "%s: '%s' is longer than %d characters",
			 field, cfg_show(s, show, sizeof(show)),
			 CFG_NAME_MAX - 1);
		return -1;
	}
	/* Keep the name even when it is bad, so that references to it do not
	 * add "unknown name" errors on top of this one. */
	memcpy(out, s, n + 1);
	for (i = 0; i < n; i++) {
		if (!cfg_name_char(s[i])) {
			cfg_perr(ctx, node,
				 "%s: '%s' may contain only letters, digits, '_', '.' and '-'",
				 field, cfg_show(s, show, sizeof(show)));
			return -1;
		}
	}
	return 0;
}

/* A device or driver name: 1..len-1 printable characters, no blanks. */
static int cfg_parse_devname(struct cfg_ctx *ctx, yaml_node_t *node,
			     const char *field, char *out, size_t len)
{
	char show[CFG_SHOWBUF];
	const char *s = cfg_parse_scalar(ctx, node, field);
	size_t i, n;

	if (s == NULL)
		return -1;
	n = strlen(s);
	/* "" and "-1" are neither a port id nor a device name */
	if (n == 0 || ((s[0] == '-' || s[0] == '+') && n > 1 &&
		       strspn(s + 1, "0123456789") == n - 1)) {
		cfg_perr(ctx, node,
			 "%s: '%s' is neither an ethdev port id (0..%u) nor a device name",
			 field, cfg_show(s, show, sizeof(show)), CFG_PORT_ID_MAX);
		return -1;
	}
	if (n >= len) {
		cfg_perr(ctx, node, "%s: '%s' is longer than %zu characters",
			 field, cfg_show(s, show, sizeof(show)), len - 1);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (!isgraph((unsigned char)s[i])) {
			cfg_perr(ctx, node,
				 "%s: '%s' may not contain blanks or control characters",
				 field, cfg_show(s, show, sizeof(show)));
			return -1;
		}
	}
	memcpy(out, s, n + 1);
	return 0;
}

/* A secret: "0x" and an even number of hex digits.  Never echo it. */
static int cfg_parse_key(struct cfg_ctx *ctx, yaml_node_t *node,
			 const char *field, uint8_t *out, uint8_t *out_len)
{
	const char *s = cfg_parse_scalar(ctx, node, field);
	size_t n, i;

	*out_len = 0;
	if (s == NULL)
		return -1;
	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) {
		cfg_perr(ctx, node,
			 "%s: expected 0x followed by hex digits (the value is not shown)",
			 field);
		return -1;
	}
	s += 2;
	n = strlen(s);
	for (i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)s[i])) {
			cfg_perr(ctx, node,
				 "%s: character %zu is not a hex digit (the value is not shown)",
				 field, i + 3);
			return -1;
		}
	}
	if (n == 0 || n % 2 != 0) {
		cfg_perr(ctx, node, "%s: needs an even, non-zero number of hex digits, got %zu",
			 field, n);
		return -1;
	}
	if (n / 2 > CFG_MAX_KEY) {
		cfg_perr(ctx, node, "%s: %zu bytes is longer than any key (%d bytes at most)",
			 field, n / 2, CFG_MAX_KEY);
		return -1;
	}
	for (i = 0; i < n / 2; i++) {
		char hex[3] = { s[2 * i], s[2 * i + 1], '\0' };

		out[i] = (uint8_t)strtoul(hex, NULL, 16);
	}
	*out_len = (uint8_t)(n / 2);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Mappings */

static bool cfg_in_list(const char *const *list, const char *s)
{
	if (list == NULL)
		return false;
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

int cfg_parse_fields(struct cfg_ctx *ctx, yaml_node_t *map,
		     const char *const *keys, yaml_node_t **vals,
		     const char *field)
{
	char show[CFG_SHOWBUF];
	char prefix[64];
	yaml_node_pair_t *pair;
	size_t nkeys = 0, i;
	int ret = 0;

	while (keys[nkeys] != NULL)
		nkeys++;
	for (i = 0; i < nkeys; i++)
		vals[i] = NULL;

	if (field != NULL)
		snprintf(prefix, sizeof(prefix), "%s: ", field);
	else
		prefix[0] = '\0';

	if (map->type != YAML_MAPPING_NODE) {
		cfg_perr(ctx, map, "%sexpected a mapping, got %s", prefix,
			 cfg_is_null(map) ? "nothing" : cfg_node_type_name(map));
		return -1;
	}

	for (pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = cfg_node(ctx, pair->key);
		yaml_node_t *v = cfg_node(ctx, pair->value);
		const char *name;

		if (k->type != YAML_SCALAR_NODE) {
			cfg_perr(ctx, k, "%sa key must be a plain name, not %s",
				 prefix, cfg_node_type_name(k));
			ret = -1;
			continue;
		}
		name = (const char *)k->data.scalar.value;
		for (i = 0; i < nkeys; i++)
			if (strcmp(keys[i], name) == 0)
				break;
		if (i == nkeys) {
			char alt[64];
			size_t j;

			if (field == NULL && cfg_in_list(ctx->ignore, name))
				continue;
			/* "nat_t" for "nat-t" is the likely slip. */
			snprintf(alt, sizeof(alt), "%s", name);
			for (j = 0; alt[j] != '\0'; j++)
				if (alt[j] == '_')
					alt[j] = '-';
			for (j = 0; j < nkeys; j++)
				if (strcmp(keys[j], alt) == 0)
					break;
			if (j < nkeys)
				cfg_perr(ctx, k, "%sunknown key '%s' (did you mean '%s'?)",
					 prefix, cfg_show(name, show, sizeof(show)),
					 keys[j]);
			else
				cfg_perr(ctx, k, "%sunknown key '%s'", prefix,
					 cfg_show(name, show, sizeof(show)));
			ret = -1;
			continue;
		}
		if (vals[i] != NULL) {
			/* vals[] holds values; find the first key's line. */
			cfg_perr(ctx, k, "%sduplicate key '%s' (first given at line %zu)",
				 prefix, keys[i], vals[i]->start_mark.line + 1);
			ret = -1;
			continue;
		}
		vals[i] = v;
	}
	return ret;
}

/* A required field that is absent: report at the mapping. */
static int cfg_require(struct cfg_ctx *ctx, yaml_node_t *map, yaml_node_t *val,
		       const char *field)
{
	if (val != NULL)
		return 0;
	cfg_perr(ctx, map, "missing key '%s'", field);
	return -1;
}

/* A list of ADDRESS/LENGTH, or one scalar; null is an empty list. */
static int cfg_parse_addr_list(struct cfg_ctx *ctx, yaml_node_t *node,
			       const char *field, struct cfg_prefix *out,
			       unsigned int *n)
{
	yaml_node_item_t *it;
	int ret = 0;

	*n = 0;
	if (cfg_is_null(node))
		return 0;
	if (node->type == YAML_SCALAR_NODE) {
		if (cfg_parse_prefix(ctx, node, field, &out[0]) < 0)
			return -1;
		*n = 1;
		return 0;
	}
	if (node->type != YAML_SEQUENCE_NODE) {
		cfg_perr(ctx, node, "%s: expected a list of ADDRESS/LENGTH, got %s",
			 field, cfg_node_type_name(node));
		return -1;
	}
	for (it = node->data.sequence.items.start;
	     it < node->data.sequence.items.top; it++) {
		yaml_node_t *a = cfg_node(ctx, *it);
		unsigned int j;

		if (*n == CFG_MAX_ADDRS) {
			cfg_perr(ctx, a, "%s: more than %d addresses", field,
				 CFG_MAX_ADDRS);
			return -1;
		}
		if (cfg_parse_prefix(ctx, a, field, &out[*n]) < 0) {
			ret = -1;
			continue;
		}
		for (j = 0; j < *n; j++) {
			if (cfg_prefix_eq(&out[j], &out[*n])) {
				char show[CFG_SHOWBUF];

				cfg_perr(ctx, a, "%s: '%s' is given twice", field,
					 cfg_show((const char *)a->data.scalar.value,
						  show, sizeof(show)));
				ret = -1;
				break;
			}
		}
		if (j == *n)
			(*n)++;
	}
	return ret;
}

/* "0x10" or "42": a port id rather than a device name. */
static bool cfg_looks_numeric(const char *s)
{
	bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
	size_t i = hex ? 2 : 0;

	if (s[i] == '\0')
		return false;
	for (; s[i] != '\0'; i++)
		if (hex ? !isxdigit((unsigned char)s[i]) :
			  !isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static int cfg_parse_mtu(struct cfg_ctx *ctx, yaml_node_t *node,
			 bool allow_auto, uint16_t *out)
{
	char show[CFG_SHOWBUF];
	uint64_t v;

	if (allow_auto && node->type == YAML_SCALAR_NODE &&
	    !cfg_is_null(node)) {
		const char *s = (const char *)node->data.scalar.value;

		if (strcmp(s, "auto") == 0) {
			*out = 0;
			return 0;
		}
		if (!isdigit((unsigned char)s[0])) {
			cfg_perr(ctx, node, "mtu: expected a number or auto, got '%s'",
				 cfg_show(s, show, sizeof(show)));
			return -1;
		}
	}
	if (cfg_parse_uint(ctx, node, "mtu", CFG_MTU_MIN, CFG_MTU_MAX, &v) < 0)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Entries */

int cfg_parse_crypto(struct cfg_ctx *ctx, yaml_node_t *node,
		     struct cfg_crypto *out)
{
	static const char *const keys[] = { "driver", "mode", NULL };
	yaml_node_t *v[CFG_NELEM(keys)];
	char show[CFG_SHOWBUF];
	unsigned int before = ctx->err->count;

	memset(out, 0, sizeof(*out));
	snprintf(out->driver, sizeof(out->driver), "auto");
	out->mode = CFG_CRYPTO_AUTO;
	out->pos = cfg_node_pos(ctx, node);
	if (cfg_is_null(node))
		return 0;
	if (cfg_parse_fields(ctx, node, keys, v, NULL) < 0 &&
	    node->type != YAML_MAPPING_NODE)
		return -1;

	if (v[0] != NULL)
		cfg_parse_devname(ctx, v[0], "driver", out->driver,
				  sizeof(out->driver));
	if (v[1] != NULL) {
		const char *s = cfg_parse_scalar(ctx, v[1], "mode");

		if (s == NULL)
			;
		else if (strcmp(s, "auto") == 0)
			out->mode = CFG_CRYPTO_AUTO;
		else if (strcmp(s, "lookaside") == 0)
			out->mode = CFG_CRYPTO_LOOKASIDE;
		else if (strcmp(s, "cpu") == 0)
			out->mode = CFG_CRYPTO_CPU;
		else
			cfg_perr(ctx, v[1], "mode: expected auto, lookaside or cpu, got '%s'",
				 cfg_show(s, show, sizeof(show)));
	}
	return ctx->err->count == before ? 0 : -1;
}

static bool cfg_has_v6(const struct cfg_prefix *p, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (p[i].addr.family == AF_INET6)
			return true;
	return false;
}

int cfg_parse_port_entry(struct cfg_ctx *ctx, yaml_node_t *name,
			 yaml_node_t *node, struct cfg_port *out)
{
	enum { P_PORT, P_ADDRESS, P_MTU, P_NAME, P_N };
	static const char *const keys[] = {
		[P_PORT] = "port", [P_ADDRESS] = "address", [P_MTU] = "mtu",
		[P_NAME] = "name", [P_N] = NULL,
	};
	static const char *const keys_named[] = {
		"port", "address", "mtu", NULL,
	};
	yaml_node_t *v[P_N + 1];
	unsigned int before = ctx->err->count;

	memset(out, 0, sizeof(*out));
	out->port_id = -1;
	out->pos = cfg_node_pos(ctx, name != NULL ? name : node);

	if (name != NULL)
		cfg_parse_name(ctx, name, "name", out->name);
	if (cfg_parse_fields(ctx, node, name != NULL ? keys_named : keys, v,
			     NULL) < 0 && node->type != YAML_MAPPING_NODE)
		return -1;
	if (name == NULL && cfg_require(ctx, node, v[P_NAME], "name") == 0)
		cfg_parse_name(ctx, v[P_NAME], "name", out->name);

	if (cfg_require(ctx, node, v[P_PORT], "port") == 0) {
		const char *s = cfg_parse_scalar(ctx, v[P_PORT], "port");
		uint64_t id;

		if (s != NULL && cfg_looks_numeric(s)) {
			if (cfg_parse_uint(ctx, v[P_PORT], "port", 0,
					   CFG_PORT_ID_MAX, &id) == 0)
				out->port_id = (int)id;
		} else if (s != NULL) {
			cfg_parse_devname(ctx, v[P_PORT], "port", out->devname,
					  sizeof(out->devname));
		}
	}
	if (v[P_ADDRESS] != NULL)
		cfg_parse_addr_list(ctx, v[P_ADDRESS], "address", out->addrs,
				    &out->naddrs);
	if (v[P_MTU] != NULL &&
	    cfg_parse_mtu(ctx, v[P_MTU], false, &out->mtu) == 0 &&
	    out->mtu < CFG_MTU_MIN_V6 && cfg_has_v6(out->addrs, out->naddrs))
		cfg_perr(ctx, v[P_MTU],
			 "mtu: %u is below IPv6's minimum of %u, and the port has an IPv6 address",
			 out->mtu, CFG_MTU_MIN_V6);
	return ctx->err->count == before ? 0 : -1;
}

static int cfg_parse_tunnel(struct cfg_ctx *ctx, yaml_node_t *node,
			    struct cfg_interface *out)
{
	static const char *const keys[] = { "local", "remote", NULL };
	yaml_node_t *v[CFG_NELEM(keys)];
	unsigned int before = ctx->err->count;
	bool ok_l = false, ok_r = false;

	if (cfg_parse_fields(ctx, node, keys, v, "tunnel") < 0 &&
	    node->type != YAML_MAPPING_NODE)
		return -1;
	if (cfg_require(ctx, node, v[0], "tunnel.local") == 0)
		ok_l = cfg_parse_addr(ctx, v[0], "tunnel.local",
				      &out->local) == 0;
	if (cfg_require(ctx, node, v[1], "tunnel.remote") == 0)
		ok_r = cfg_parse_addr(ctx, v[1], "tunnel.remote",
				      &out->remote) == 0;
	if (ok_l && ok_r) {
		if (out->local.family != out->remote.family)
			cfg_perr(ctx, v[1],
				 "tunnel: local is %s but remote is %s; both ends must be the same family",
				 cfg_family_name(out->local.family),
				 cfg_family_name(out->remote.family));
		else if (cfg_addr_eq(&out->local, &out->remote))
			cfg_perr(ctx, v[1],
				 "tunnel: local and remote are the same address");
	}
	if (ctx->err->count != before)
		return -1;
	out->has_tunnel = true;
	return 0;
}

int cfg_parse_interface_entry(struct cfg_ctx *ctx, yaml_node_t *name,
			      yaml_node_t *node, struct cfg_interface *out)
{
	enum {
		I_TUNNEL, I_ADDRESS, I_PEER, I_REQID, I_MTU, I_NATT, I_ECN,
		I_IPV6, I_DF, I_NAME, I_N
	};
	static const char *const keys[] = {
		[I_TUNNEL] = "tunnel", [I_ADDRESS] = "address",
		[I_PEER] = "peer", [I_REQID] = "reqid", [I_MTU] = "mtu",
		[I_NATT] = "nat-t", [I_ECN] = "ecn", [I_IPV6] = "ipv6",
		[I_DF] = "df", [I_NAME] = "name", [I_N] = NULL,
	};
	static const char *const keys_named[] = {
		"tunnel", "address", "peer", "reqid", "mtu", "nat-t", "ecn",
		"ipv6", "df", NULL,
	};
	yaml_node_t *v[I_N + 1];
	char show[CFG_SHOWBUF];
	unsigned int before = ctx->err->count;
	uint64_t n;

	memset(out, 0, sizeof(*out));
	out->ecn = true;
	out->ipv6 = true;
	out->df = CFG_DF_COPY;
	out->pos = cfg_node_pos(ctx, name != NULL ? name : node);

	if (name != NULL)
		cfg_parse_name(ctx, name, "name", out->name);
	if (cfg_parse_fields(ctx, node, name != NULL ? keys_named : keys, v,
			     NULL) < 0 && node->type != YAML_MAPPING_NODE)
		return -1;
	if (name == NULL && cfg_require(ctx, node, v[I_NAME], "name") == 0)
		cfg_parse_name(ctx, v[I_NAME], "name", out->name);

	/* The tunnel may come later (ifconfig ipsec0 tunnel ...). */
	if (v[I_TUNNEL] != NULL)
		cfg_parse_tunnel(ctx, v[I_TUNNEL], out);
	if (v[I_ADDRESS] != NULL)
		cfg_parse_addr_list(ctx, v[I_ADDRESS], "address", out->addrs,
				    &out->naddrs);
	if (v[I_PEER] != NULL &&
	    cfg_parse_addr(ctx, v[I_PEER], "peer", &out->peer) == 0)
		out->has_peer = true;
	if (v[I_REQID] != NULL &&
	    cfg_parse_uint(ctx, v[I_REQID], "reqid", 1, UINT32_MAX, &n) == 0) {
		out->has_reqid = true;
		out->reqid = (uint32_t)n;
	}
	if (v[I_NATT] != NULL)
		cfg_parse_bool(ctx, v[I_NATT], "nat-t", &out->nat_t);
	if (v[I_ECN] != NULL)
		cfg_parse_bool(ctx, v[I_ECN], "ecn", &out->ecn);
	if (v[I_IPV6] != NULL)
		cfg_parse_bool(ctx, v[I_IPV6], "ipv6", &out->ipv6);
	if (v[I_DF] != NULL) {
		const char *s = cfg_parse_scalar(ctx, v[I_DF], "df");

		if (s == NULL)
			;
		else if (strcmp(s, "copy") == 0)
			out->df = CFG_DF_COPY;
		else if (strcmp(s, "clear") == 0)
			out->df = CFG_DF_CLEAR;
		else if (strcmp(s, "set") == 0)
			out->df = CFG_DF_SET;
		else
			cfg_perr(ctx, v[I_DF], "df: expected clear, set or copy, got '%s'",
				 cfg_show(s, show, sizeof(show)));
	}
	if (v[I_MTU] != NULL &&
	    cfg_parse_mtu(ctx, v[I_MTU], true, &out->mtu) == 0 &&
	    out->mtu != 0 && out->mtu < CFG_MTU_MIN_V6 && out->ipv6)
		cfg_perr(ctx, v[I_MTU],
			 "mtu: %u is below IPv6's minimum of %u (set ipv6: false to carry IPv4 only)",
			 out->mtu, CFG_MTU_MIN_V6);

	/* Inner IPv6 on an interface that does not carry it is a contradiction. */
	if (!out->ipv6) {
		if (cfg_has_v6(out->addrs, out->naddrs))
			cfg_perr(ctx, v[I_ADDRESS],
				 "address: an IPv6 address on an interface with ipv6: false");
		if (out->has_peer && out->peer.family == AF_INET6)
			cfg_perr(ctx, v[I_PEER],
				 "peer: an IPv6 peer on an interface with ipv6: false");
	}
	return ctx->err->count == before ? 0 : -1;
}

static int cfg_parse_lladdr(struct cfg_ctx *ctx, yaml_node_t *node,
			    uint8_t out[6])
{
	char show[CFG_SHOWBUF];
	const char *s = cfg_parse_scalar(ctx, node, "lladdr");
	unsigned int i;

	if (s == NULL)
		return -1;
	/* Exactly xx:xx:xx:xx:xx:xx; sscanf would take " 2:0:..." too. */
	if (strlen(s) != 17)
		goto bad;
	for (i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		char hex[3] = { p[0], p[1], '\0' };

		if (!isxdigit((unsigned char)p[0]) ||
		    !isxdigit((unsigned char)p[1]) ||
		    (i < 5 && p[2] != ':'))
			goto bad;
		out[i] = (uint8_t)strtoul(hex, NULL, 16);
	}
	return 0;
bad:
	cfg_perr(ctx, node, "lladdr: expected six hex bytes like 02:00:00:00:00:01, got '%s'",
		 cfg_show(s, show, sizeof(show)));
	return -1;
}

int cfg_parse_neighbor_entry(struct cfg_ctx *ctx, yaml_node_t *node,
			     struct cfg_neighbor *out)
{
	static const char *const keys[] = { "address", "lladdr", "dev", NULL };
	yaml_node_t *v[CFG_NELEM(keys)];
	unsigned int before = ctx->err->count;

	memset(out, 0, sizeof(*out));
	out->pos = cfg_node_pos(ctx, node);
	if (cfg_parse_fields(ctx, node, keys, v, NULL) < 0 &&
	    node->type != YAML_MAPPING_NODE)
		return -1;
	if (cfg_require(ctx, node, v[0], "address") == 0)
		cfg_parse_addr(ctx, v[0], "address", &out->addr);
	if (cfg_require(ctx, node, v[1], "lladdr") == 0)
		cfg_parse_lladdr(ctx, v[1], out->lladdr);
	if (cfg_require(ctx, node, v[2], "dev") == 0)
		cfg_parse_name(ctx, v[2], "dev", out->dev);
	return ctx->err->count == before ? 0 : -1;
}

static int cfg_parse_lifetime_one(struct cfg_ctx *ctx, yaml_node_t *node,
				  const char *which, struct cfg_lifetime *out,
				  yaml_node_t **vals)
{
	static const char *const keys[] = { "bytes", "packets", "seconds", NULL };
	char field[48];
	uint64_t *dst[] = { &out->bytes, &out->packets, &out->seconds };
	size_t i;
	int ret = 0;

	snprintf(field, sizeof(field), "lifetime.%s", which);
	if (cfg_parse_fields(ctx, node, keys, vals, field) < 0)
		ret = -1;
	for (i = 0; i < 3; i++) {
		char f[64];

		if (vals[i] == NULL)
			continue;
		snprintf(f, sizeof(f), "%s.%s", field, keys[i]);
		if (cfg_parse_uint(ctx, vals[i], f, 0, UINT64_MAX, dst[i]) < 0)
			ret = -1;
	}
	return ret;
}

int cfg_parse_lifetime(struct cfg_ctx *ctx, yaml_node_t *node,
		       struct cfg_sa *out)
{
	static const char *const keys[] = { "soft", "hard", NULL };
	static const char *const what[] = { "bytes", "packets", "seconds" };
	yaml_node_t *v[CFG_NELEM(keys)];
	yaml_node_t *sv[4] = { NULL }, *hv[4] = { NULL };
	const uint64_t *soft[] = { &out->soft.bytes, &out->soft.packets,
				   &out->soft.seconds };
	const uint64_t *hard[] = { &out->hard.bytes, &out->hard.packets,
				   &out->hard.seconds };
	unsigned int before = ctx->err->count;
	size_t i;

	if (cfg_is_null(node))
		return 0;
	if (cfg_parse_fields(ctx, node, keys, v, "lifetime") < 0 &&
	    node->type != YAML_MAPPING_NODE)
		return -1;
	if (v[0] != NULL && !cfg_is_null(v[0]))
		cfg_parse_lifetime_one(ctx, v[0], "soft", &out->soft, sv);
	if (v[1] != NULL && !cfg_is_null(v[1]))
		cfg_parse_lifetime_one(ctx, v[1], "hard", &out->hard, hv);
	if (ctx->err->count != before)
		return -1;
	/* A soft limit is the warning before the hard one. */
	for (i = 0; i < 3; i++) {
		if (*soft[i] != 0 && *hard[i] != 0 && *soft[i] > *hard[i])
			cfg_perr(ctx, sv[i],
				 "lifetime.soft.%s: %" PRIu64 " is beyond the hard limit %" PRIu64,
				 what[i], *soft[i], *hard[i]);
	}
	return ctx->err->count == before ? 0 : -1;
}

/* Describe the key an algorithm needs: "20 bytes (16 + 4 salt)". */
static void cfg_keylen_text(unsigned int len, unsigned int extra,
			    const char *what, char *buf, size_t n)
{
	if (extra != 0)
		snprintf(buf, n, "%u bytes (%u + %u %s)", len, len - extra,
			 extra, what);
	else
		snprintf(buf, n, "%u bytes", len);
}

static void cfg_check_keylen(struct cfg_ctx *ctx, yaml_node_t *node,
			     const char *alg, const char *field,
			     unsigned int want, unsigned int extra,
			     const char *extra_what, unsigned int got)
{
	char need[48];

	if (want == got)
		return;
	cfg_keylen_text(want, extra, extra_what, need, sizeof(need));
	cfg_perr(ctx, node, "%s needs %s %s of %s, got %u", alg,
		 field[0] == 'a' || field[0] == 'e' ? "an" : "a", field, need,
		 got);
}

static int cfg_parse_alg(struct cfg_ctx *ctx, yaml_node_t *node,
			 const char *field, const struct cfg_alg *tab,
			 size_t n, int *out)
{
	char show[CFG_SHOWBUF], list[256];
	const char *s = cfg_parse_scalar(ctx, node, field);
	int i;

	if (s == NULL)
		return -1;
	i = cfg_alg_lookup(tab, n, s);
	if (i < 0) {
		cfg_alg_list(tab, n, list, sizeof(list));
		cfg_perr(ctx, node, "%s: unknown algorithm '%s' (one of: %s)",
			 field, cfg_show(s, show, sizeof(show)), list);
		return -1;
	}
	*out = i;
	return 0;
}

static bool cfg_is_ctr(enum cfg_enc e)
{
	return e == CFG_ENC_AES_CTR_128 || e == CFG_ENC_AES_CTR_192 ||
	       e == CFG_ENC_AES_CTR_256;
}

int cfg_parse_sa_entry(struct cfg_ctx *ctx, yaml_node_t *node,
		       struct cfg_sa *out)
{
	enum {
		S_SPI, S_SRC, S_DST, S_REQID, S_INTERFACE, S_AEAD, S_KEY,
		S_ENC, S_ENC_KEY, S_AUTH, S_AUTH_KEY, S_ESN, S_REPLAY,
		S_LIFETIME, S_SEQ, S_NATT_PORT, S_N
	};
	static const char *const keys[] = {
		[S_SPI] = "spi", [S_SRC] = "src", [S_DST] = "dst",
		[S_REQID] = "reqid", [S_INTERFACE] = "interface",
		[S_AEAD] = "aead", [S_KEY] = "key", [S_ENC] = "enc",
		[S_ENC_KEY] = "enc-key", [S_AUTH] = "auth",
		[S_AUTH_KEY] = "auth-key", [S_ESN] = "esn",
		[S_REPLAY] = "replay-window", [S_LIFETIME] = "lifetime",
		[S_SEQ] = "seq", [S_NATT_PORT] = "nat-t-port", [S_N] = NULL,
	};
	yaml_node_t *v[S_N + 1];
	unsigned int before = ctx->err->count;
	bool ok_src = false, ok_dst = false;
	int alg;
	uint64_t n;

	memset(out, 0, sizeof(*out));
	out->replay_window = 1024;
	out->pos = cfg_node_pos(ctx, node);
	if (cfg_parse_fields(ctx, node, keys, v, NULL) < 0 &&
	    node->type != YAML_MAPPING_NODE)
		return -1;

	if (cfg_require(ctx, node, v[S_SPI], "spi") == 0 &&
	    cfg_parse_uint(ctx, v[S_SPI], "spi", CFG_SPI_MIN, UINT32_MAX,
			   &n) == 0)
		out->spi = (uint32_t)n;
	if (cfg_require(ctx, node, v[S_SRC], "src") == 0)
		ok_src = cfg_parse_addr(ctx, v[S_SRC], "src", &out->src) == 0;
	if (cfg_require(ctx, node, v[S_DST], "dst") == 0)
		ok_dst = cfg_parse_addr(ctx, v[S_DST], "dst", &out->dst) == 0;
	if (ok_src && ok_dst && out->src.family != out->dst.family)
		cfg_perr(ctx, v[S_DST], "dst is %s but src is %s",
			 cfg_family_name(out->dst.family),
			 cfg_family_name(out->src.family));

	/* The binding: which interface this SA protects. */
	if (v[S_REQID] != NULL && v[S_INTERFACE] != NULL) {
		cfg_perr(ctx, v[S_INTERFACE],
			 "give either reqid or interface, not both");
	} else if (v[S_REQID] != NULL) {
		if (cfg_parse_uint(ctx, v[S_REQID], "reqid", 1, UINT32_MAX,
				   &n) == 0) {
			out->has_reqid = true;
			out->reqid = (uint32_t)n;
		}
	} else if (v[S_INTERFACE] != NULL) {
		cfg_parse_name(ctx, v[S_INTERFACE], "interface",
			       out->interface);
	}
	/* neither: the interface whose tunnel has these addresses (as
	 * setkey's "add SRC DST esp SPI" finds ipsecif(4)'s) */

	/* Transforms: aead, or enc + auth. */
	if (v[S_AEAD] != NULL) {
		yaml_node_t *extra[] = { v[S_ENC], v[S_ENC_KEY], v[S_AUTH],
					 v[S_AUTH_KEY] };
		size_t i;

		for (i = 0; i < CFG_NELEM(extra); i++)
			if (extra[i] != NULL)
				cfg_perr(ctx, extra[i],
					 "aead and enc/auth exclude each other (an aead algorithm encrypts and authenticates)");
		if (cfg_parse_alg(ctx, v[S_AEAD], "aead", cfg_aead_tab,
				  CFG_NELEM(cfg_aead_tab), &alg) == 0)
			out->aead = (enum cfg_aead)alg;
		/* The key's own syntax is checked even if the algorithm is
		 * unknown; its length only against a known one. */
		if (cfg_require(ctx, node, v[S_KEY], "key") == 0 &&
		    cfg_parse_key(ctx, v[S_KEY], "key", out->key,
				  &out->key_len) == 0 &&
		    out->aead != CFG_AEAD_NONE)
			cfg_check_keylen(ctx, v[S_KEY], cfg_aead_name(out->aead),
					 "key", cfg_aead_keylen(out->aead), 4,
					 "salt", out->key_len);
	} else {
		if (v[S_KEY] != NULL)
			cfg_perr(ctx, v[S_KEY],
				 "key is the aead key; with enc and auth use enc-key and auth-key");
		if (v[S_ENC] == NULL && v[S_AUTH] == NULL)
			cfg_perr(ctx, node,
				 "missing key 'aead', or 'enc' and 'auth'");
		else if (v[S_ENC] == NULL)
			cfg_perr(ctx, node,
				 "missing key 'enc' (use enc: null for integrity only)");
		else if (v[S_AUTH] == NULL)
			cfg_perr(ctx, node,
				 "missing key 'auth': ESP without integrity protection is not allowed");

		/* "enc: null" is YAML's null but the contract's cipher name;
		 * an empty value is still an error, not a silent null. */
		alg = -1;
		if (v[S_ENC] != NULL && v[S_ENC]->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)v[S_ENC]->data.scalar.value,
			   "null") == 0)
			alg = CFG_ENC_NULL;
		else if (v[S_ENC] != NULL &&
			 cfg_parse_alg(ctx, v[S_ENC], "enc", cfg_enc_tab,
				       CFG_NELEM(cfg_enc_tab), &alg) < 0)
			alg = -1;
		if (alg >= 0)
			out->enc = (enum cfg_enc)alg;

		if (v[S_ENC_KEY] != NULL && v[S_ENC] == NULL)
			cfg_perr(ctx, v[S_ENC_KEY], "enc-key without enc");
		else if (out->enc == CFG_ENC_NULL && v[S_ENC_KEY] != NULL)
			cfg_perr(ctx, v[S_ENC_KEY],
				 "enc-key: null encryption takes no key");
		else if (out->enc == CFG_ENC_NULL)
			;
		else if (v[S_ENC] != NULL &&
			 (alg >= 0 ? cfg_require(ctx, node, v[S_ENC_KEY],
						 "enc-key") == 0 :
				     v[S_ENC_KEY] != NULL) &&
			 cfg_parse_key(ctx, v[S_ENC_KEY], "enc-key",
				       out->enc_key, &out->enc_key_len) == 0 &&
			 out->enc != CFG_ENC_NONE)
			cfg_check_keylen(ctx, v[S_ENC_KEY],
					 cfg_enc_name(out->enc), "enc-key",
					 cfg_enc_keylen(out->enc),
					 cfg_is_ctr(out->enc) ? 4 : 0, "nonce",
					 out->enc_key_len);

		/* A bad algorithm is reported once: its key is then checked
		 * if present, not asked for. */
		alg = -1;
		if (v[S_AUTH] != NULL &&
		    cfg_parse_alg(ctx, v[S_AUTH], "auth", cfg_auth_tab,
				  CFG_NELEM(cfg_auth_tab), &alg) == 0)
			out->auth = (enum cfg_auth)alg;
		if (v[S_AUTH_KEY] != NULL && v[S_AUTH] == NULL)
			cfg_perr(ctx, v[S_AUTH_KEY], "auth-key without auth");
		else if (v[S_AUTH] != NULL &&
			 (alg >= 0 ? cfg_require(ctx, node, v[S_AUTH_KEY],
						 "auth-key") == 0 :
				     v[S_AUTH_KEY] != NULL) &&
			 cfg_parse_key(ctx, v[S_AUTH_KEY], "auth-key",
				       out->auth_key, &out->auth_key_len) == 0 &&
			 out->auth != CFG_AUTH_NONE)
			cfg_check_keylen(ctx, v[S_AUTH_KEY],
					 cfg_auth_name(out->auth), "auth-key",
					 cfg_auth_keylen(out->auth), 0, "",
					 out->auth_key_len);
	}

	if (v[S_ESN] != NULL)
		cfg_parse_bool(ctx, v[S_ESN], "esn", &out->esn);
	if (v[S_REPLAY] != NULL &&
	    cfg_parse_uint(ctx, v[S_REPLAY], "replay-window", 0,
			   CFG_REPLAY_MAX, &n) == 0)
		out->replay_window = (uint32_t)n;
	if (v[S_LIFETIME] != NULL)
		cfg_parse_lifetime(ctx, v[S_LIFETIME], out);
	/* the last sequence number sent: 32 bits without ESN, 64 with */
	if (v[S_SEQ] != NULL &&
	    cfg_parse_uint(ctx, v[S_SEQ], out->esn ? "seq (with esn)" :
			   "seq (without esn)", 0,
			   out->esn ? UINT64_MAX - 1 : UINT32_MAX, &n) == 0) {
		out->seq = n;
		out->has_seq = true;
	}

	if (v[S_NATT_PORT] != NULL &&
	    cfg_parse_uint(ctx, v[S_NATT_PORT], "nat-t-port", 1, 65535, &n) == 0)
		out->natt_port = (uint16_t)n;

	if (ctx->err->count == before)
		return 0;
	/* Nobody will use a bad SA: do not leave its keys around. */
	cfg_sa_wipe_keys(out);
	return -1;
}

void cfg_sa_wipe_keys(struct cfg_sa *sa)
{
	explicit_bzero(sa->key, sizeof(sa->key));
	explicit_bzero(sa->enc_key, sizeof(sa->enc_key));
	explicit_bzero(sa->auth_key, sizeof(sa->auth_key));
}

int cfg_parse_route_entry(struct cfg_ctx *ctx, yaml_node_t *node,
			  struct cfg_route *out)
{
	static const char *const keys[] = { "prefix", "via", "dev", NULL };
	yaml_node_t *v[CFG_NELEM(keys)];
	unsigned int before = ctx->err->count;
	bool ok_prefix = false;

	memset(out, 0, sizeof(*out));
	out->pos = cfg_node_pos(ctx, node);
	if (cfg_parse_fields(ctx, node, keys, v, NULL) < 0 &&
	    node->type != YAML_MAPPING_NODE)
		return -1;

	if (cfg_require(ctx, node, v[0], "prefix") == 0 &&
	    cfg_parse_prefix(ctx, v[0], "prefix", &out->prefix) == 0) {
		struct cfg_prefix net = out->prefix;
		char buf[INET6_ADDRSTRLEN];

		ok_prefix = true;
		if (cfg_prefix_clear_host(&net))
			cfg_perr(ctx, v[0],
				 "prefix: %s has host bits set (did you mean %s/%u?)",
				 (const char *)v[0]->data.scalar.value,
				 cfg_addr_str(&net.addr, buf, sizeof(buf)),
				 net.len);
	}
	if (v[1] != NULL &&
	    cfg_parse_addr(ctx, v[1], "via", &out->via) == 0) {
		out->has_via = true;
		if (ok_prefix && out->via.family != out->prefix.addr.family)
			cfg_perr(ctx, v[1], "via is %s but the prefix is %s",
				 cfg_family_name(out->via.family),
				 cfg_family_name(out->prefix.addr.family));
	}
	if (cfg_require(ctx, node, v[2], "dev") == 0)
		cfg_parse_name(ctx, v[2], "dev", out->dev);
	return ctx->err->count == before ? 0 : -1;
}

/* ---------------------------------------------------------------------- */
/* Validation */

/*
 * Entries that failed to parse are half-filled: they are kept so that
 * references to them resolve, but checking them again would only repeat
 * or invent errors.  The public cfg_validate checks everything.
 */
struct cfg_marks {
	const bool *bad_port;
	const bool *bad_if;
	const bool *bad_neigh;
	const bool *bad_sa;
	const bool *bad_route;
};

#define CFG_BAD(m, arr, i) ((m) != NULL && (m)->arr != NULL && (m)->arr[i])

static void cfg_verr(struct cfg_err *err, const struct cfg_pos *pos,
		     const char *where, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void cfg_verr(struct cfg_err *err, const struct cfg_pos *pos,
		     const char *where, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	cfg_errorf(err, pos, "%s: %s", where, text);
}

static void cfg_validate_names(struct cfg *cfg, struct cfg_err *err,
			       const struct cfg_marks *m)
{
	char where[64], other[64];
	struct cfg_ix ix;
	size_t i, j;

	for (i = 0; i < cfg->nports; i++) {
		const struct cfg_port *p = &cfg->ports[i];

		/* Name, port id and device are read independently of the
		 * other fields: they are good even in a bad entry (or "" / -1
		 * when they are bad themselves). */
		snprintf(where, sizeof(where), "ports.%s", p->name);
		for (j = 0; j < i; j++) {
			const struct cfg_port *q = &cfg->ports[j];

			snprintf(other, sizeof(other), "ports.%s", q->name);
			if (p->name[0] != '\0' && strcmp(p->name, q->name) == 0)
				cfg_verr(err, &p->pos, where,
					 "the name is already used by the port at line %u",
					 q->pos.line);
			if (p->port_id >= 0 && p->port_id == q->port_id)
				cfg_verr(err, &p->pos, where,
					 "ethdev port %d is already used by %s",
					 p->port_id, other);
			if (p->devname[0] != '\0' &&
			    strcmp(p->devname, q->devname) == 0)
				cfg_verr(err, &p->pos, where,
					 "device %s is already used by %s",
					 p->devname, other);
		}
	}
	/* earlier interfaces by name: an index, not a scan (100 000 of them) */
	if (cfg_ix_init(&ix, cfg->ninterfaces) != 0) {
		cfg_errorf(err, NULL, "out of memory checking %zu interfaces",
			   cfg->ninterfaces);
		return;
	}
	for (i = 0; i < cfg->ninterfaces; i++) {
		const struct cfg_interface *f = &cfg->interfaces[i];
		uint64_t h = cfg_name_hash(f->name);
		size_t it;

		snprintf(where, sizeof(where), "interfaces.%s", f->name);
		if (f->name[0] == '\0')
			continue;
		if (cfg_port_find(cfg, f->name) != NULL)
			cfg_verr(err, &f->pos, where,
				 "the name is already used by ports.%s",
				 f->name);
		for (j = cfg_ix_first(&ix, h, &it); j != CFG_IX_NONE;
		     j = cfg_ix_next(&ix, h, &it))
			if (strcmp(f->name, cfg->interfaces[j].name) == 0)
				cfg_verr(err, &f->pos, where,
					 "the name is already used by the interface at line %u",
					 cfg->interfaces[j].pos.line);
		if (cfg_ix_add(&ix, h, i) != 0) {
			cfg_errorf(err, NULL, "out of memory checking %zu interfaces",
				   cfg->ninterfaces);
			break;
		}
	}
	cfg_ix_free(&ix);
}

static void cfg_validate_reqids(struct cfg *cfg, struct cfg_err *err,
				const struct cfg_marks *m)
{
	char where[64];
	uint32_t next = 1;
	struct cfg_ix ix;
	size_t i, j, it;
	uint64_t h;

	/* every reqid given or assigned so far, by value */
	if (cfg_ix_init(&ix, cfg->ninterfaces) != 0) {
		cfg_errorf(err, NULL, "out of memory checking %zu interfaces",
			   cfg->ninterfaces);
		return;
	}
	/* Given and previously assigned reqids first, so that assignment
	 * never takes one that a later interface asked for. */
	for (i = 0; i < cfg->ninterfaces; i++) {
		const struct cfg_interface *f = &cfg->interfaces[i];

		if (f->reqid == 0)
			continue;
		h = cfg_reqid_hash(f->reqid);
		if (!CFG_BAD(m, bad_if, i)) {
			snprintf(where, sizeof(where), "interfaces.%s", f->name);
			for (j = cfg_ix_first(&ix, h, &it); j != CFG_IX_NONE;
			     j = cfg_ix_next(&ix, h, &it))
				if (cfg->interfaces[j].reqid == f->reqid)
					cfg_verr(err, &f->pos, where,
						 "reqid %" PRIu32 " is already used by interfaces.%s%s",
						 f->reqid, cfg->interfaces[j].name,
						 cfg->interfaces[j].has_reqid ?
							 "" : " (assigned)");
		}
		if (cfg_ix_add(&ix, h, i) != 0)
			goto nomem;
	}
	for (i = 0; i < cfg->ninterfaces; i++) {
		struct cfg_interface *f = &cfg->interfaces[i];
		bool used = true;

		if (f->reqid != 0)
			continue;
		while (next != 0 && used) {
			h = cfg_reqid_hash(next);
			used = false;
			for (j = cfg_ix_first(&ix, h, &it);
			     j != CFG_IX_NONE && !used;
			     j = cfg_ix_next(&ix, h, &it))
				used = cfg->interfaces[j].reqid == next;
			if (used)
				next++;
		}
		if (next == 0) {
			snprintf(where, sizeof(where), "interfaces.%s", f->name);
			cfg_verr(err, &f->pos, where, "no reqid left to assign");
			continue;
		}
		f->reqid = next++;
		if (cfg_ix_add(&ix, cfg_reqid_hash(f->reqid), i) != 0)
			goto nomem;
	}
	cfg_ix_free(&ix);
	return;
nomem:
	cfg_ix_free(&ix);
	cfg_errorf(err, NULL, "out of memory checking %zu interfaces",
		   cfg->ninterfaces);
}

static void cfg_validate_neighbors(struct cfg *cfg, struct cfg_err *err,
				   const struct cfg_marks *m)
{
	char where[32], buf[INET6_ADDRSTRLEN];
	size_t i, j;

	for (i = 0; i < cfg->nneighbors; i++) {
		const struct cfg_neighbor *n = &cfg->neighbors[i];
		const struct cfg_port *p;

		if (CFG_BAD(m, bad_neigh, i))
			continue;
		snprintf(where, sizeof(where), "neighbors[%zu]", i);
		p = cfg_port_find(cfg, n->dev);
		if (p == NULL) {
			cfg_verr(err, &n->pos, where, "dev '%s' is not a port%s",
				 n->dev,
				 cfg_interface_find(cfg, n->dev) ?
					 " (neighbors are on ports, not on ipsec interfaces)" :
					 "");
		} else if (!CFG_BAD(m, bad_port, (size_t)(p - cfg->ports))) {
			unsigned int k;

			for (k = 0; k < p->naddrs; k++)
				if (p->addrs[k].addr.family == n->addr.family)
					break;
			if (k == p->naddrs)
				cfg_verr(err, &n->pos, where,
					 "port %s has no %s address, so %s can never be its neighbor",
					 p->name,
					 cfg_family_name(n->addr.family),
					 cfg_addr_str(&n->addr, buf,
						      sizeof(buf)));
		}
		for (j = 0; j < i; j++) {
			if (CFG_BAD(m, bad_neigh, j))
				continue;
			if (cfg_addr_eq(&n->addr, &cfg->neighbors[j].addr) &&
			    strcmp(n->dev, cfg->neighbors[j].dev) == 0) {
				cfg_verr(err, &n->pos, where,
					 "%s on %s is already given by neighbors[%zu]",
					 cfg_addr_str(&n->addr, buf, sizeof(buf)),
					 n->dev, j);
				break;
			}
		}
	}
}

/* Routes by prefix (family, address as a big-endian number, length),
 * then by position: duplicates are neighbours, and a table given in
 * address order is sorted already. */
static int route_ix_cmp(const void *pa, const void *pb)
{
	const struct cfg_route *const *a = pa, *const *b = pb;
	const struct cfg_prefix *x = &(*a)->prefix, *y = &(*b)->prefix;
	uint64_t x0, y0;
	int i;

	if (x->addr.family != y->addr.family)
		return x->addr.family < y->addr.family ? -1 : 1;
	for (i = 0; i < 16; i += 8) {
		memcpy(&x0, x->addr.a + i, 8);
		memcpy(&y0, y->addr.a + i, 8);
		if (x0 != y0)
			return be64toh(x0) < be64toh(y0) ? -1 : 1;
	}
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return *a < *b ? -1 : *a > *b;
}

/*
 * For each route, the index of the first earlier route with the same
 * prefix, or SIZE_MAX; by sorting, so that a million routes take a
 * second, not hours.  NULL when out of memory.
 */
static size_t *route_dups(const struct cfg *cfg, const struct cfg_marks *m)
{
	const struct cfg_route **ix = malloc((cfg->nroutes + 1) * sizeof(*ix));
	size_t *first = malloc((cfg->nroutes + 1) * sizeof(*first));
	size_t i, n = 0, run = 0;

	if (ix == NULL || first == NULL) {
		free(ix);
		free(first);
		return NULL;
	}
	for (i = 0; i < cfg->nroutes; i++) {
		first[i] = SIZE_MAX;
		if (!CFG_BAD(m, bad_route, i))
			ix[n++] = &cfg->routes[i];
	}
	for (i = 1; i < n; i++)
		if (route_ix_cmp(&ix[i - 1], &ix[i]) > 0) {
			qsort(ix, n, sizeof(*ix), route_ix_cmp);
			break;
		}
	for (i = 1; i < n; i++) {
		if (!cfg_prefix_eq(&ix[i]->prefix, &ix[run]->prefix)) {
			run = i;
			continue;
		}
		first[ix[i] - cfg->routes] = (size_t)(ix[run] - cfg->routes);
	}
	free(ix);
	return first;
}

/* cfg_route_check with its dev looked up already. */
static int cfg_route_check_dev(const struct cfg_route *r, size_t idx,
			       bool is_port, bool is_if, struct cfg_err *err)
{
	unsigned int before = err->count;
	char where[32];

	snprintf(where, sizeof(where), "routes[%zu]", idx);
	if (!is_port && !is_if)
		cfg_verr(err, &r->pos, where,
			 "dev '%s' is neither a port nor an interface",
			 r->dev);
	else if (is_if && r->has_via)
		cfg_verr(err, &r->pos, where,
			 "via is only for routes through a port; %s is an ipsec interface",
			 r->dev);
	return err->count == before ? 0 : -1;
}

int cfg_route_check(const struct cfg *cfg, const struct cfg_route *r,
		    size_t idx, struct cfg_err *err)
{
	return cfg_route_check_dev(r, idx, cfg_port_find(cfg, r->dev) != NULL,
				   cfg_interface_find(cfg, r->dev) != NULL,
				   err);
}

static void cfg_validate_routes(struct cfg *cfg, struct cfg_err *err,
				const struct cfg_marks *m,
				const struct cfg_lookup *lk)
{
	char where[32], buf[INET6_ADDRSTRLEN];
	size_t *dup = route_dups(cfg, m);
	const char *last = NULL;
	bool is_port = false, is_if = false;
	size_t i, j;

	if (dup == NULL && cfg->nroutes != 0) {
		cfg_errorf(err, NULL, "out of memory checking %zu routes",
			   cfg->nroutes);
		return;
	}
	for (i = 0; i < cfg->nroutes; i++) {
		const struct cfg_route *r = &cfg->routes[i];

		if (CFG_BAD(m, bad_route, i))
			continue;
		/* a million routes name a handful of devices, mostly in runs:
		 * look a name up once per run, not once per route */
		if (last == NULL || strcmp(last, r->dev) != 0) {
			is_port = cfg_port_find(cfg, r->dev) != NULL;
			is_if = cfg_lookup_iface(lk, cfg, r->dev) != NULL;
			last = r->dev;
		}
		cfg_route_check_dev(r, i, is_port, is_if, err);
		j = dup[i];
		if (j == SIZE_MAX)
			continue;
		snprintf(where, sizeof(where), "routes[%zu]", i);
		cfg_verr(err, &r->pos, where,
			 "%s/%u is already routed by routes[%zu]",
			 cfg_addr_str(&r->prefix.addr, buf, sizeof(buf)),
			 r->prefix.len, j);
	}
	free(dup);
}

/* The one interface whose tunnel an SA's addresses match, either way. */
static const struct cfg_interface *
cfg_tunnel_find(const struct cfg *cfg, const struct cfg_lookup *lk,
		const struct cfg_sa *sa, struct cfg_err *err,
		const struct cfg_pos *pos, const char *where)
{
	const struct cfg_interface *f = NULL;
	char b1[INET6_ADDRSTRLEN], b2[INET6_ADDRSTRLEN];
	uint64_t h = cfg_tunnel_hash(&sa->src, &sa->dst);
	size_t i, it;

	for (i = cfg_ix_first(&lk->tunnel, h, &it); i != CFG_IX_NONE;
	     i = cfg_ix_next(&lk->tunnel, h, &it)) {
		const struct cfg_interface *c = &cfg->interfaces[i];

		if (!c->has_tunnel ||
		    !((cfg_addr_eq(&sa->src, &c->local) &&
		       cfg_addr_eq(&sa->dst, &c->remote)) ||
		      (cfg_addr_eq(&sa->src, &c->remote) &&
		       cfg_addr_eq(&sa->dst, &c->local))))
			continue;
		if (f != NULL) {
			cfg_verr(err, pos, where,
				 "interfaces %s and %s both tunnel between %s and %s: say which with interface or reqid",
				 f->name, c->name,
				 cfg_addr_str(&sa->src, b1, sizeof(b1)),
				 cfg_addr_str(&sa->dst, b2, sizeof(b2)));
			return NULL;
		}
		f = c;
	}
	if (f == NULL)
		cfg_verr(err, pos, where,
			 "no interface tunnels between %s and %s (and the SA names no interface or reqid)",
			 cfg_addr_str(&sa->src, b1, sizeof(b1)),
			 cfg_addr_str(&sa->dst, b2, sizeof(b2)));
	return f;
}

/* Bind an SA to its interface and check it against it (cfg_validate_sas). */
static void cfg_sa_bind(const struct cfg *cfg, const struct cfg_lookup *lk,
			struct cfg_sa *sa, const char *where,
			const struct cfg_marks *m, bool any_bad_if,
			struct cfg_err *err)
{
	char b1[INET6_ADDRSTRLEN], b2[INET6_ADDRSTRLEN];
	char b3[INET6_ADDRSTRLEN], b4[INET6_ADDRSTRLEN];
	const struct cfg_interface *f = NULL;

	if (sa->has_reqid) {
		f = cfg_lookup_reqid(lk, cfg, sa->reqid);
		/* A bad interface may have lost its reqid. */
		if (f == NULL && !any_bad_if)
			cfg_verr(err, &sa->pos, where,
				 "no interface has reqid %" PRIu32,
				 sa->reqid);
		if (f != NULL)
			snprintf(sa->interface, sizeof(sa->interface),
				 "%s", f->name);
	} else if (sa->interface[0] == '\0') {
		f = cfg_tunnel_find(cfg, lk, sa, err, &sa->pos, where);
		if (f != NULL) {
			snprintf(sa->interface, sizeof(sa->interface),
				 "%s", f->name);
			sa->reqid = f->reqid;
		}
	} else {
		f = cfg_lookup_iface(lk, cfg, sa->interface);
		if (f == NULL)
			cfg_verr(err, &sa->pos, where,
				 "no interface named '%s'%s",
				 sa->interface,
				 cfg_port_find(cfg, sa->interface) ?
					 " (that is a port)" : "");
		else
			sa->reqid = f->reqid;
	}

	if (f != NULL && CFG_BAD(m, bad_if, (size_t)(f - cfg->interfaces)))
		f = NULL;
	if (f != NULL && !f->has_tunnel) {
		cfg_verr(err, &sa->pos, where,
			 "interfaces.%s has no tunnel for the SA to match",
			 f->name);
	} else if (f != NULL) {
		if (cfg_addr_eq(&sa->src, &f->local) &&
		    cfg_addr_eq(&sa->dst, &f->remote))
			sa->outbound = true;
		else if (cfg_addr_eq(&sa->src, &f->remote) &&
			 cfg_addr_eq(&sa->dst, &f->local)) {
			sa->outbound = false;
			if (sa->has_seq)
				cfg_verr(err, &sa->pos, where,
					 "seq is the sequence number an outbound SA sent last; this SA is inbound");
		}
		else
			cfg_verr(err, &sa->pos, where,
				 "src %s dst %s matches neither direction of interfaces.%s's tunnel (%s -> %s)",
				 cfg_addr_str(&sa->src, b1, sizeof(b1)),
				 cfg_addr_str(&sa->dst, b2, sizeof(b2)),
				 f->name,
				 cfg_addr_str(&f->local, b3, sizeof(b3)),
				 cfg_addr_str(&f->remote, b4, sizeof(b4)));
	}
}

int cfg_validate_sa(const struct cfg *cfg, const struct cfg_lookup *lk,
		    struct cfg_sa *sa, size_t pos, struct cfg_err *err)
{
	unsigned int before = err->count;
	char where[32];

	snprintf(where, sizeof(where), "sas[%zu]", pos);
	cfg_sa_bind(cfg, lk, sa, where, NULL, false, err);
	return err->count == before ? 0 : -1;
}

static void cfg_validate_sas(struct cfg *cfg, struct cfg_err *err,
			     const struct cfg_marks *m,
			     const struct cfg_lookup *lk)
{
	char where[32], b1[INET6_ADDRSTRLEN];
	bool any_bad_if = false;
	struct cfg_ix ix;
	size_t i, j, it;

	for (i = 0; i < cfg->ninterfaces; i++)
		if (CFG_BAD(m, bad_if, i))
			any_bad_if = true;
	/* earlier SAs by (spi, dst) */
	if (cfg_ix_init(&ix, cfg->nsas) != 0) {
		cfg_errorf(err, NULL, "out of memory checking %zu SAs",
			   cfg->nsas);
		return;
	}

	for (i = 0; i < cfg->nsas; i++) {
		struct cfg_sa *sa = &cfg->sas[i];
		uint64_t h;

		if (CFG_BAD(m, bad_sa, i))
			continue;
		snprintf(where, sizeof(where), "sas[%zu]", i);
		cfg_sa_bind(cfg, lk, sa, where, m, any_bad_if, err);

		h = cfg_sa_key_hash(sa->spi, &sa->dst);
		for (j = cfg_ix_first(&ix, h, &it); j != CFG_IX_NONE;
		     j = cfg_ix_next(&ix, h, &it)) {
			if (cfg->sas[j].spi == sa->spi &&
			    cfg_addr_eq(&cfg->sas[j].dst, &sa->dst)) {
				cfg_verr(err, &sa->pos, where,
					 "spi %" PRIu32 " to %s is already used by sas[%zu]",
					 sa->spi,
					 cfg_addr_str(&sa->dst, b1, sizeof(b1)),
					 j);
				break;
			}
		}
		if (cfg_ix_add(&ix, h, i) != 0) {
			cfg_errorf(err, NULL, "out of memory checking %zu SAs",
				   cfg->nsas);
			break;
		}
	}
	cfg_ix_free(&ix);
}

static int cfg_validate_marked(struct cfg *cfg, struct cfg_err *err,
			       const struct cfg_marks *m)
{
	unsigned int before = err->count;

	struct cfg_lookup lk;

	cfg_validate_names(cfg, err, m);
	cfg_validate_reqids(cfg, err, m);
	cfg_validate_neighbors(cfg, err, m);
	/* after the reqids are assigned */
	if (cfg_lookup_build(&lk, cfg) != 0) {
		cfg_errorf(err, NULL, "out of memory checking %zu interfaces",
			   cfg->ninterfaces);
		return -1;
	}
	cfg_validate_routes(cfg, err, m, &lk);
	cfg_validate_sas(cfg, err, m, &lk);
	cfg_lookup_free(&lk);
	return err->count == before ? 0 : -1;
}

int cfg_validate(struct cfg *cfg, struct cfg_err *err)
{
	struct cfg_err local;
	int ret;

	if (err != NULL)
		return cfg_validate_marked(cfg, err, NULL);
	cfg_err_init(&local, NULL, 0);
	ret = cfg_validate_marked(cfg, &local, NULL);
	cfg_err_free(&local);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* YAML documents */

/* Line and column of a byte offset, for reader errors (bad UTF-8). */
static void cfg_offset_pos(const char *text, size_t len, size_t off,
			   unsigned int *line, unsigned int *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off && i < len; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static void cfg_yaml_error(const char *name, const char *text, size_t len,
			   yaml_parser_t *p, struct cfg_err *err)
{
	struct cfg_pos pos = { .file = name };
	const char *problem = p->problem ? p->problem : "unknown error";

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		pos.line = 0;
		cfg_errorf(err, &pos, "out of memory while reading YAML");
		return;
	case YAML_READER_ERROR:
		cfg_offset_pos(text, len, p->problem_offset, &pos.line,
			       &pos.col);
		cfg_errorf(err, &pos, "YAML: %s", problem);
		return;
	default:
		pos.line = (unsigned int)p->problem_mark.line + 1;
		pos.col = (unsigned int)p->problem_mark.column + 1;
		if (p->context != NULL)
			cfg_errorf(err, &pos,
				   "YAML syntax error: %s (%s at line %zu column %zu)",
				   problem, p->context,
				   p->context_mark.line + 1,
				   p->context_mark.column + 1);
		else
			cfg_errorf(err, &pos, "YAML syntax error: %s", problem);
		return;
	}
}

static void cfg_yaml_parser_wipe(yaml_parser_t *p)
{
	if (p->buffer.start != NULL)
		explicit_bzero(p->buffer.start,
			       (size_t)(p->buffer.end - p->buffer.start));
	if (p->raw_buffer.start != NULL)
		explicit_bzero(p->raw_buffer.start,
			       (size_t)(p->raw_buffer.end -
					p->raw_buffer.start));
	yaml_parser_delete(p);
}

void cfg_yaml_delete(yaml_document_t *doc)
{
	yaml_node_t *n;

	if (doc->nodes.start == NULL)
		return;
	for (n = doc->nodes.start; n < doc->nodes.top; n++)
		if (n->type == YAML_SCALAR_NODE && n->data.scalar.value)
			explicit_bzero(n->data.scalar.value,
				       n->data.scalar.length);
	yaml_document_delete(doc);
	memset(doc, 0, sizeof(*doc));
}

int cfg_yaml_load(const char *name, const char *text, size_t len,
		  yaml_document_t *doc, struct cfg_err *err)
{
	yaml_parser_t p;
	yaml_document_t extra;
	int ret = 0;

	memset(doc, 0, sizeof(*doc));
	if (!yaml_parser_initialize(&p)) {
		struct cfg_pos pos = { .file = name };

		cfg_errorf(err, &pos, "out of memory while reading YAML");
		return -1;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	if (!yaml_parser_load(&p, doc)) {
		cfg_yaml_error(name, text, len, &p, err);
		memset(doc, 0, sizeof(*doc));
		cfg_yaml_parser_wipe(&p);
		return -1;
	}
	/* One document: a second one would silently be ignored otherwise. */
	if (!yaml_parser_load(&p, &extra)) {
		cfg_yaml_error(name, text, len, &p, err);
		ret = -1;
	} else {
		yaml_node_t *root = yaml_document_get_root_node(&extra);

		if (root != NULL) {
			struct cfg_pos pos = {
				.file = name,
				.line = (unsigned int)extra.start_mark.line + 1,
				.col = (unsigned int)extra.start_mark.column + 1,
			};

			cfg_errorf(err, &pos,
				   "only one YAML document is allowed");
			ret = -1;
		}
		cfg_yaml_delete(&extra);
	}
	if (ret < 0)
		cfg_yaml_delete(doc);
	cfg_yaml_parser_wipe(&p);
	return ret;
}

/* ---------------------------------------------------------------------- */
/* Whole file */

/* "section[idx]", by hand: it is made for every entry of a million. */
static void cfg_set_where_idx(struct cfg_ctx *ctx, const char *section,
			      size_t idx)
{
	char num[24];
	size_t n = 0, len = strlen(section);

	do {
		num[n++] = (char)('0' + idx % 10);
		idx /= 10;
	} while (idx != 0);
	if (len + n + 3 > sizeof(ctx->where))
		len = sizeof(ctx->where) - n - 3;
	memcpy(ctx->where, section, len);
	ctx->where[len++] = '[';
	while (n > 0)
		ctx->where[len++] = num[--n];
	ctx->where[len++] = ']';
	ctx->where[len] = '\0';
}

static void cfg_set_where(struct cfg_ctx *ctx, const char *section,
			  yaml_node_t *name, size_t idx)
{
	char show[CFG_SHOWBUF];

	if (name != NULL && name->type == YAML_SCALAR_NODE)
		snprintf(ctx->where, sizeof(ctx->where), "%s.%s", section,
			 cfg_show((const char *)name->data.scalar.value, show,
				  sizeof(show)));
	else
		cfg_set_where_idx(ctx, section, idx);
}

/* Items of a sequence section; NULL count 0 for a null section. */
static yaml_node_item_t *cfg_seq_items(struct cfg_ctx *ctx, yaml_node_t *node,
				       const char *section, size_t *n)
{
	*n = 0;
	if (node == NULL || cfg_is_null(node))
		return NULL;
	if (node->type != YAML_SEQUENCE_NODE) {
		cfg_perr(ctx, node, "%s: expected a list (of mappings), got %s",
			 section, cfg_node_type_name(node));
		return NULL;
	}
	*n = (size_t)(node->data.sequence.items.top -
		      node->data.sequence.items.start);
	return node->data.sequence.items.start;
}

/* Pairs of a mapping section (ports, interfaces). */
static yaml_node_pair_t *cfg_map_pairs(struct cfg_ctx *ctx, yaml_node_t *node,
				       const char *section, size_t *n)
{
	*n = 0;
	if (node == NULL || cfg_is_null(node))
		return NULL;
	if (node->type != YAML_MAPPING_NODE) {
		cfg_perr(ctx, node, "%s: expected a mapping of name: {...}, got %s",
			 section, cfg_node_type_name(node));
		return NULL;
	}
	*n = (size_t)(node->data.mapping.pairs.top -
		      node->data.mapping.pairs.start);
	return node->data.mapping.pairs.start;
}

/*
 * True (and reported) if pair i's key repeats an earlier key's text.  The
 * earlier keys are found through ix (pairs 0..i-1 added by their text),
 * which pair i joins here: a section of 100 000 interfaces is not checked
 * pair by pair.  Without memory for it, a scan.
 */
static bool cfg_dup_name(struct cfg_ctx *ctx, yaml_node_pair_t *pairs,
			 size_t i, const char *section, struct cfg_ix *ix,
			 bool ix_ok)
{
	yaml_node_t *k = cfg_node(ctx, pairs[i].key);
	char show[CFG_SHOWBUF];
	const char *name;
	uint64_t h;
	size_t j, it;

	if (k->type != YAML_SCALAR_NODE)
		return false;
	name = (const char *)k->data.scalar.value;
	h = cfg_name_hash(name);
	for (j = ix_ok ? cfg_ix_first(ix, h, &it) : 0;
	     ix_ok ? j != CFG_IX_NONE : j < i;
	     j = ix_ok ? cfg_ix_next(ix, h, &it) : j + 1) {
		yaml_node_t *o = cfg_node(ctx, pairs[j].key);

		if (o->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)o->data.scalar.value, name) == 0) {
			cfg_perr(ctx, k, "%s: duplicate key '%s' (first given at line %zu)",
				 section, cfg_show(name, show, sizeof(show)),
				 o->start_mark.line + 1);
			return true;
		}
	}
	if (ix_ok)
		cfg_ix_add(ix, h, i);
	return false;
}

struct cfg_load_marks {
	bool *port, *iface, *neigh, *sa, *route;
	size_t cap_neigh, cap_sa, cap_route;	/* of the arrays, entries */
};

/* The list sections, whose entries are loaded one at a time. */
enum cfg_sec { SEC_NEIGH, SEC_SAS, SEC_ROUTES };

/*
 * Room for entry n of a list section and its mark.  The SAs' array holds
 * keys: it is grown by copy and wipe, as realloc could leave a copy of
 * them behind; the others with realloc (which moves large blocks without
 * copying them).
 */
static int cfg_grow(void **arr, bool **marks, size_t *cap, size_t n,
		    size_t size, bool secret)
{
	size_t ncap;
	bool *m;
	void *a;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	if (secret) {
		a = malloc(ncap * size);
		if (a != NULL && *arr != NULL) {
			memcpy(a, *arr, n * size);
			explicit_bzero(*arr, n * size);
			free(*arr);
		}
	} else {
		a = realloc(*arr, ncap * size);
	}
	if (a == NULL)
		return -1;
	*arr = a;
	m = realloc(*marks, ncap * sizeof(**marks));
	if (m == NULL)
		return -1;
	*marks = m;
	*cap = ncap;
	return 0;
}

/* Parse one entry of a list section into the next slot of its array;
 * -1 only when out of memory (a bad entry is marked, not an error here). */
static int cfg_load_entry(struct cfg_ctx *ctx, struct cfg *cfg,
			  struct cfg_load_marks *lm, enum cfg_sec sec,
			  yaml_node_t *node)
{
	size_t i;

	switch (sec) {
	case SEC_NEIGH:
		i = cfg->nneighbors;
		if (cfg_grow((void **)&cfg->neighbors, &lm->neigh,
			     &lm->cap_neigh, i, sizeof(*cfg->neighbors),
			     false) != 0)
			return -1;
		cfg_set_where(ctx, "neighbors", NULL, i);
		lm->neigh[i] = cfg_parse_neighbor_entry(ctx, node,
						&cfg->neighbors[i]) < 0;
		cfg->nneighbors++;
		break;
	case SEC_SAS:
		i = cfg->nsas;
		if (cfg_grow((void **)&cfg->sas, &lm->sa, &lm->cap_sa, i,
			     sizeof(*cfg->sas), true) != 0)
			return -1;
		cfg_set_where(ctx, "sas", NULL, i);
		lm->sa[i] = cfg_parse_sa_entry(ctx, node, &cfg->sas[i]) < 0;
		cfg->nsas++;
		break;
	case SEC_ROUTES:
		i = cfg->nroutes;
		if (cfg_grow((void **)&cfg->routes, &lm->route, &lm->cap_route,
			     i, sizeof(*cfg->routes), false) != 0)
			return -1;
		cfg_set_where(ctx, "routes", NULL, i);
		lm->route[i] = cfg_parse_route_entry(ctx, node,
						     &cfg->routes[i]) < 0;
		cfg->nroutes++;
		break;
	}
	ctx->where[0] = '\0';
	return 0;
}

/* The entries of a list section that the composer left in the document
 * (all of them unless it streamed the section: then none). */
static int cfg_load_list(struct cfg_ctx *ctx, struct cfg *cfg,
			 struct cfg_load_marks *lm, enum cfg_sec sec,
			 yaml_node_t *node, const char *section)
{
	yaml_node_item_t *items;
	size_t n, i;

	ctx->where[0] = '\0';
	items = cfg_seq_items(ctx, node, section, &n);
	for (i = 0; i < n; i++)
		if (cfg_load_entry(ctx, cfg, lm, sec,
				   cfg_node(ctx, items[i])) != 0)
			return -1;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The file's composer */

/*
 * A file is composed from libyaml's events (yaml_parser_parse) into the
 * yaml_document_t that yaml_parser_load would make -- the same nodes,
 * marks, anchors and aliases, and the same errors -- with one difference:
 * each entry of a big list (the top level's neighbors, sas and routes) is
 * handed to its parser as soon as it is complete, and its nodes are
 * dropped right after, unless it defines an anchor that a later alias may
 * name.  So the document stays the size of the small sections whatever
 * the number of routes: yaml_parser_load's tree of a million routes was
 * over a gigabyte of nodes and strings, and most of the load's time went
 * into page faults and malloc.  The entry parsers are the same for a
 * streamed entry, an entry left in the document (a list given by an
 * alias, say) and a socket request.
 *
 * A syntax error anywhere voids what was parsed before it: the load
 * reports that error alone, as yaml_parser_load did.
 *
 * libyaml allocates with malloc (its yaml_malloc and yaml_free are malloc
 * and free): the strings taken from events, and the nodes made here, are
 * freed by yaml_document_delete like its own.
 */
struct cfg_anchor {
	char *name;
	int id;
	yaml_mark_t mark;
};

struct cfg_comp {
	yaml_parser_t *p;
	yaml_document_t *doc;
	struct cfg_anchor *anchors;
	size_t nanchors, capanchors;
	/* streaming (ctx NULL: compose everything) */
	struct cfg_ctx *ctx;
	struct cfg *cfg;
	struct cfg_load_marks *lm;
	unsigned int seen;		/* sections met, bit per enum cfg_sec */
};

static int cfg_comp_nomem(struct cfg_comp *c)
{
	c->p->error = YAML_MEMORY_ERROR;
	return 0;
}

static yaml_node_t *cfg_comp_node(struct cfg_comp *c, int id)
{
	return &c->doc->nodes.start[id - 1];
}

/* Push a node; its id, or 0 when out of memory. */
static int cfg_comp_push(struct cfg_comp *c, const yaml_node_t *node)
{
	yaml_document_t *d = c->doc;

	if (d->nodes.top == d->nodes.end) {
		size_t n = (size_t)(d->nodes.end - d->nodes.start);
		size_t nn = n ? n * 2 : 64;
		yaml_node_t *a = realloc(d->nodes.start, nn * sizeof(*a));

		if (a == NULL)
			return 0;
		d->nodes.start = a;
		d->nodes.top = a + n;
		d->nodes.end = a + nn;
	}
	*d->nodes.top++ = *node;
	return (int)(d->nodes.top - d->nodes.start);
}

/* Free (and wipe) the nodes from id `from` on. */
static void cfg_comp_truncate(struct cfg_comp *c, int from)
{
	yaml_document_t *d = c->doc;
	yaml_node_t *n;

	for (n = d->nodes.start + from - 1; n < d->nodes.top; n++) {
		free(n->tag);
		switch (n->type) {
		case YAML_SCALAR_NODE:
			explicit_bzero(n->data.scalar.value,
				       n->data.scalar.length);
			free(n->data.scalar.value);
			break;
		case YAML_SEQUENCE_NODE:
			free(n->data.sequence.items.start);
			break;
		case YAML_MAPPING_NODE:
			free(n->data.mapping.pairs.start);
			break;
		default:
			break;
		}
	}
	d->nodes.top = d->nodes.start + from - 1;
}

/* Takes `name`. */
static int cfg_comp_anchor(struct cfg_comp *c, yaml_char_t *name, int id)
{
	yaml_mark_t mark;
	size_t i;

	if (name == NULL)
		return 1;
	mark = cfg_comp_node(c, id)->start_mark;
	for (i = 0; i < c->nanchors; i++)
		if (strcmp(c->anchors[i].name, (char *)name) == 0) {
			/* libyaml's words */
			free(name);
			c->p->error = YAML_COMPOSER_ERROR;
			c->p->context = "found duplicate anchor; first occurrence";
			c->p->context_mark = c->anchors[i].mark;
			c->p->problem = "second occurrence";
			c->p->problem_mark = mark;
			return 0;
		}
	if (c->nanchors == c->capanchors) {
		size_t n = c->capanchors ? c->capanchors * 2 : 16;
		struct cfg_anchor *a = realloc(c->anchors, n * sizeof(*a));

		if (a == NULL) {
			free(name);
			return cfg_comp_nomem(c);
		}
		c->anchors = a;
		c->capanchors = n;
	}
	c->anchors[c->nanchors++] = (struct cfg_anchor){ (char *)name, id, mark };
	return 1;
}

static int cfg_comp_event(struct cfg_comp *c, yaml_event_t *ev)
{
	return yaml_parser_parse(c->p, ev);
}

static int cfg_comp_any(struct cfg_comp *c, yaml_event_t *ev, bool root);

/* Append to a node's items or pairs (a libyaml stack). */
#define CFG_STACK_PUSH(st, val)                                          \
	({                                                               \
		int _ok = 1;                                             \
		if ((st).top == (st).end) {                              \
			size_t _n = (size_t)((st).end - (st).start);     \
			size_t _nn = _n ? _n * 2 : 16;                   \
			__typeof__((st).start) _a =                      \
				realloc((st).start, _nn * sizeof(*_a));  \
			if (_a == NULL) {                                \
				_ok = 0;                                 \
			} else {                                         \
				(st).start = _a;                         \
				(st).top = _a + _n;                      \
				(st).end = _a + _nn;                     \
			}                                                \
		}                                                        \
		if (_ok)                                                 \
			*(st).top++ = (val);                             \
		_ok;                                                     \
	})

/*
 * A list section of the top level, streamed: a node with no items stands
 * for it in the document (for the checks of the top-level keys), and
 * each entry goes to its parser as it is complete.
 */
static int cfg_comp_stream(struct cfg_comp *c, yaml_event_t *ev,
			   enum cfg_sec sec)
{
	yaml_node_t node = { .type = YAML_SEQUENCE_NODE };
	yaml_event_t e;
	int id, item, top;
	size_t anchors;

	free(ev->data.sequence_start.tag);
	node.data.sequence.style = ev->data.sequence_start.style;
	node.start_mark = ev->start_mark;
	node.end_mark = ev->end_mark;
	id = cfg_comp_push(c, &node);
	if (id == 0)
		return cfg_comp_nomem(c);
	for (;;) {
		if (!cfg_comp_event(c, &e))
			return 0;
		if (e.type == YAML_SEQUENCE_END_EVENT)
			break;
		top = (int)(c->doc->nodes.top - c->doc->nodes.start) + 1;
		anchors = c->nanchors;
		item = cfg_comp_any(c, &e, false);
		if (item == 0)
			return 0;
		if (cfg_load_entry(c->ctx, c->cfg, c->lm, sec,
				   cfg_comp_node(c, item)) != 0)
			return cfg_comp_nomem(c);
		if (c->nanchors == anchors)
			cfg_comp_truncate(c, top);
	}
	cfg_comp_node(c, id)->end_mark = e.end_mark;
	return id;
}

/* Is this pair of the top level a list section to stream? */
static int cfg_comp_streams(struct cfg_comp *c, int key, const yaml_event_t *v)
{
	static const char *const names[] = {
		[SEC_NEIGH] = "neighbors", [SEC_SAS] = "sas",
		[SEC_ROUTES] = "routes",
	};
	const yaml_node_t *k = cfg_comp_node(c, key);
	unsigned int s;
	bool first;

	if (c->ctx == NULL || k->type != YAML_SCALAR_NODE)
		return -1;
	for (s = 0; s < CFG_NELEM(names); s++)
		if (strcmp((const char *)k->data.scalar.value, names[s]) == 0)
			break;
	if (s == CFG_NELEM(names))
		return -1;
	/* a repeated section is an error of the top level's checks, which
	 * take the first one; an anchored one may be named again */
	first = !(c->seen & (1u << s));
	c->seen |= 1u << s;
	if (!first || v->type != YAML_SEQUENCE_START_EVENT ||
	    v->data.sequence_start.anchor != NULL)
		return -1;
	return (int)s;
}

/* Compose the node that starts with *ev; its id, or 0 (p->error set). */
static int cfg_comp_any(struct cfg_comp *c, yaml_event_t *ev, bool root)
{
	yaml_node_t node = { .start_mark = ev->start_mark,
			     .end_mark = ev->end_mark };
	yaml_event_t e;
	yaml_char_t *anchor;
	int id;
	size_t i;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		anchor = ev->data.alias.anchor;
		for (i = 0; i < c->nanchors; i++)
			if (strcmp(c->anchors[i].name, (char *)anchor) == 0) {
				free(anchor);
				return c->anchors[i].id;
			}
		free(anchor);
		c->p->error = YAML_COMPOSER_ERROR;
		c->p->problem = "found undefined alias";
		c->p->problem_mark = ev->start_mark;
		return 0;
	case YAML_SCALAR_EVENT:
		free(ev->data.scalar.tag);
		node.type = YAML_SCALAR_NODE;
		node.data.scalar.value = ev->data.scalar.value;
		node.data.scalar.length = ev->data.scalar.length;
		node.data.scalar.style = ev->data.scalar.style;
		id = cfg_comp_push(c, &node);
		if (id == 0) {
			explicit_bzero(ev->data.scalar.value,
				       ev->data.scalar.length);
			free(ev->data.scalar.value);
			free(ev->data.scalar.anchor);
			return cfg_comp_nomem(c);
		}
		return cfg_comp_anchor(c, ev->data.scalar.anchor, id) ? id : 0;
	case YAML_SEQUENCE_START_EVENT:
		free(ev->data.sequence_start.tag);
		node.type = YAML_SEQUENCE_NODE;
		node.data.sequence.style = ev->data.sequence_start.style;
		id = cfg_comp_push(c, &node);
		if (id == 0) {
			free(ev->data.sequence_start.anchor);
			return cfg_comp_nomem(c);
		}
		if (!cfg_comp_anchor(c, ev->data.sequence_start.anchor, id))
			return 0;
		for (;;) {
			int item;

			if (!cfg_comp_event(c, &e))
				return 0;
			if (e.type == YAML_SEQUENCE_END_EVENT)
				break;
			item = cfg_comp_any(c, &e, false);
			if (item == 0)
				return 0;
			if (!CFG_STACK_PUSH(cfg_comp_node(c, id)->data.sequence.items,
					    item))
				return cfg_comp_nomem(c);
		}
		cfg_comp_node(c, id)->end_mark = e.end_mark;
		return id;
	case YAML_MAPPING_START_EVENT:
		free(ev->data.mapping_start.tag);
		node.type = YAML_MAPPING_NODE;
		node.data.mapping.style = ev->data.mapping_start.style;
		id = cfg_comp_push(c, &node);
		if (id == 0) {
			free(ev->data.mapping_start.anchor);
			return cfg_comp_nomem(c);
		}
		if (!cfg_comp_anchor(c, ev->data.mapping_start.anchor, id))
			return 0;
		for (;;) {
			yaml_node_pair_t pair;
			int sec = -1;

			if (!cfg_comp_event(c, &e))
				return 0;
			if (e.type == YAML_MAPPING_END_EVENT)
				break;
			pair.key = cfg_comp_any(c, &e, false);
			if (pair.key == 0 || !cfg_comp_event(c, &e))
				return 0;
			if (root)
				sec = cfg_comp_streams(c, pair.key, &e);
			pair.value = sec >= 0 ?
				     cfg_comp_stream(c, &e, (enum cfg_sec)sec) :
				     cfg_comp_any(c, &e, false);
			if (pair.value == 0)
				return 0;
			if (!CFG_STACK_PUSH(cfg_comp_node(c, id)->data.mapping.pairs,
					    pair))
				return cfg_comp_nomem(c);
		}
		cfg_comp_node(c, id)->end_mark = e.end_mark;
		return id;
	default:
		/* libyaml's parser gives nothing else here */
		c->p->error = YAML_COMPOSER_ERROR;
		c->p->problem = "unexpected event";
		c->p->problem_mark = ev->start_mark;
		return 0;
	}
}

/* One document after DOCUMENT-START (*ev): 1, or 0 with p->error set. */
static int cfg_comp_document(struct cfg_comp *c, yaml_event_t *ev)
{
	yaml_event_t e;

	c->doc->start_mark = ev->start_mark;
	c->doc->start_implicit = ev->data.document_start.implicit;
	yaml_event_delete(ev);
	if (!cfg_comp_event(c, &e) || cfg_comp_any(c, &e, true) == 0 ||
	    !cfg_comp_event(c, &e))
		return 0;
	c->doc->end_implicit = e.data.document_end.implicit;
	c->doc->end_mark = e.end_mark;
	return 1;
}

static void cfg_comp_done(struct cfg_comp *c)
{
	size_t i;

	for (i = 0; i < c->nanchors; i++)
		free(c->anchors[i].name);
	free(c->anchors);
	c->anchors = NULL;
	c->nanchors = c->capanchors = 0;
}

/*
 * Compose the file's one document into *doc, loading the list sections'
 * entries into cfg on the way (ctx->doc is doc).  On a syntax error, or a
 * second document, what the entries reported is dropped and the error
 * alone is reported; -1.
 */
static int cfg_compose(struct cfg_ctx *ctx, struct cfg *cfg,
		       struct cfg_load_marks *lm, const char *text, size_t len,
		       yaml_document_t *doc)
{
	struct cfg_comp c = { .doc = doc, .ctx = ctx, .cfg = cfg, .lm = lm };
	yaml_document_t extra;
	yaml_parser_t p;
	yaml_event_t ev;
	int ok;

	memset(doc, 0, sizeof(*doc));
	memset(&extra, 0, sizeof(extra));
	if (!yaml_parser_initialize(&p)) {
		struct cfg_pos pos = { .file = ctx->file };

		cfg_errorf(ctx->err, &pos, "out of memory while reading YAML");
		return -1;
	}
	c.p = &p;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	ok = cfg_comp_event(&c, &ev);		/* STREAM-START */
	if (ok)
		ok = cfg_comp_event(&c, &ev);
	if (ok && ev.type == YAML_DOCUMENT_START_EVENT) {
		ok = cfg_comp_document(&c, &ev);
		cfg_comp_done(&c);
		if (ok)
			ok = cfg_comp_event(&c, &ev);
		/* One document: a second one would silently be ignored
		 * otherwise.  It is composed (without streaming) so that a
		 * syntax error in it is reported as such. */
		if (ok && ev.type == YAML_DOCUMENT_START_EVENT) {
			struct cfg_comp x = { .p = &p, .doc = &extra };
			struct cfg_pos pos = {
				.file = ctx->file,
				.line = (unsigned int)ev.start_mark.line + 1,
				.col = (unsigned int)ev.start_mark.column + 1,
			};

			ok = cfg_comp_document(&x, &ev);
			cfg_comp_done(&x);
			cfg_yaml_delete(&extra);
			if (ok) {
				cfg_err_free(ctx->err);
				cfg_err_init(ctx->err, NULL, UINT_MAX);
				cfg_errorf(ctx->err, &pos,
					   "only one YAML document is allowed");
				cfg_yaml_delete(doc);
				cfg_yaml_parser_wipe(&p);
				return -1;
			}
		}
	}
	cfg_comp_done(&c);
	if (!ok) {
		cfg_err_free(ctx->err);
		cfg_err_init(ctx->err, NULL, UINT_MAX);
		cfg_yaml_error(ctx->file, text, len, &p, ctx->err);
		cfg_yaml_delete(doc);
	}
	cfg_yaml_parser_wipe(&p);
	return ok ? 0 : -1;
}

static int cfg_load_doc(struct cfg_ctx *ctx, struct cfg *cfg,
			struct cfg_load_marks *lm)
{
	enum { T_CRYPTO, T_PORTS, T_NEIGH, T_IFACES, T_SAS, T_ROUTES, T_N };
	static const char *const keys[] = {
		[T_CRYPTO] = "crypto", [T_PORTS] = "ports",
		[T_NEIGH] = "neighbors", [T_IFACES] = "interfaces",
		[T_SAS] = "sas", [T_ROUTES] = "routes", [T_N] = NULL,
	};
	yaml_node_t *v[T_N + 1];
	yaml_node_t *root = yaml_document_get_root_node(ctx->doc);
	yaml_node_pair_t *pairs;
	struct cfg_ix ix = { 0 };
	bool ix_ok;
	size_t n, i;

	/* Defaults even for an empty file. */
	cfg_parse_crypto(ctx, NULL, &cfg->crypto);
	if (root == NULL || cfg_is_null(root))
		return 0;
	if (root->type != YAML_MAPPING_NODE) {
		cfg_perr(ctx, root,
			 "the top level must be a mapping (crypto, ports, neighbors, interfaces, sas, routes), got %s",
			 cfg_node_type_name(root));
		return -1;
	}
	cfg_parse_fields(ctx, root, keys, v, NULL);

	if (v[T_CRYPTO] != NULL) {
		snprintf(ctx->where, sizeof(ctx->where), "crypto");
		cfg_parse_crypto(ctx, v[T_CRYPTO], &cfg->crypto);
	}

	ctx->where[0] = '\0';
	pairs = cfg_map_pairs(ctx, v[T_PORTS], "ports", &n);
	if (n > 0) {
		cfg->ports = calloc(n, sizeof(*cfg->ports));
		lm->port = calloc(n, sizeof(bool));
		if (cfg->ports == NULL || lm->port == NULL)
			goto nomem;
	}
	for (i = 0; i < n; i++) {
		struct cfg_port *p = &cfg->ports[cfg->nports];

		ctx->where[0] = '\0';
		if (cfg_dup_name(ctx, pairs, i, "ports", NULL, false))
			continue;
		cfg_set_where(ctx, "ports", cfg_node(ctx, pairs[i].key), i);
		lm->port[cfg->nports] = cfg_parse_port_entry(ctx,
				cfg_node(ctx, pairs[i].key),
				cfg_node(ctx, pairs[i].value), p) < 0;
		cfg->nports++;
	}

	ctx->where[0] = '\0';
	pairs = cfg_map_pairs(ctx, v[T_IFACES], "interfaces", &n);
	if (n > 0) {
		cfg->interfaces = calloc(n, sizeof(*cfg->interfaces));
		lm->iface = calloc(n, sizeof(bool));
		if (cfg->interfaces == NULL || lm->iface == NULL)
			goto nomem;
	}
	ix_ok = cfg_ix_init(&ix, n) == 0;
	for (i = 0; i < n; i++) {
		struct cfg_interface *f = &cfg->interfaces[cfg->ninterfaces];

		ctx->where[0] = '\0';
		/* a failed add leaves an index that misses keys: scan */
		ix_ok = ix_ok && ix.n == i;
		if (cfg_dup_name(ctx, pairs, i, "interfaces", &ix, ix_ok))
			continue;
		cfg_set_where(ctx, "interfaces", cfg_node(ctx, pairs[i].key),
			      i);
		lm->iface[cfg->ninterfaces] = cfg_parse_interface_entry(ctx,
				cfg_node(ctx, pairs[i].key),
				cfg_node(ctx, pairs[i].value), f) < 0;
		cfg->ninterfaces++;
	}
	cfg_ix_free(&ix);

	if (cfg_load_list(ctx, cfg, lm, SEC_NEIGH, v[T_NEIGH], "neighbors") != 0 ||
	    cfg_load_list(ctx, cfg, lm, SEC_SAS, v[T_SAS], "sas") != 0 ||
	    cfg_load_list(ctx, cfg, lm, SEC_ROUTES, v[T_ROUTES], "routes") != 0)
		goto nomem;
	ctx->where[0] = '\0';
	return 0;

nomem:
	cfg_ix_free(&ix);
	ctx->where[0] = '\0';
	cfg_perr(ctx, NULL, "out of memory");
	return -1;
}

struct cfg_sorted_msg {
	unsigned int line, col;
	unsigned int seq;
	const char *msg;
};

static int cfg_msg_cmp(const void *a, const void *b)
{
	const struct cfg_sorted_msg *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Fields are checked in the parser's order and cross-references after
 * all entries; the reader wants the file's order.  Pass the collected
 * messages on to err sorted by position (ties keep their order).
 */
static void cfg_forward_sorted(const char *file, struct cfg_err *from,
			       struct cfg_err *to)
{
	struct cfg_sorted_msg *v;
	size_t flen = strlen(file);
	unsigned int i;

	v = calloc(from->nmsgs ? from->nmsgs : 1, sizeof(*v));
	for (i = 0; i < from->nmsgs; i++) {
		const char *m = from->msgs[i];
		unsigned int line = 0, col = 0;

		if (strncmp(m, file, flen) == 0 && m[flen] == ':' &&
		    sscanf(m + flen + 1, "%u:%u:", &line, &col) != 2)
			line = col = 0;
		if (v == NULL) {
			cfg_errorf(to, NULL, "%s", m);
			continue;
		}
		v[i] = (struct cfg_sorted_msg){ line, col, i, m };
	}
	if (v != NULL) {
		qsort(v, from->nmsgs, sizeof(*v), cfg_msg_cmp);
		for (i = 0; i < from->nmsgs; i++)
			cfg_errorf(to, NULL, "%s", v[i].msg);
		free(v);
	}
	/* Messages lost to memory shortage still count. */
	for (i = from->nmsgs; i < from->count; i++)
		cfg_errorf(to, NULL, "%s: (message lost: out of memory)", file);
}

int cfg_load_string(const char *name, const char *text, size_t len,
		    struct cfg *cfg, struct cfg_err *err)
{
	struct cfg_load_marks lm;
	struct cfg_err local;
	struct cfg_ctx ctx;
	yaml_document_t doc;
	int ret = 0;

	memset(cfg, 0, sizeof(*cfg));
	memset(&lm, 0, sizeof(lm));
	cfg->file = strdup(name != NULL ? name : "-");
	if (cfg->file == NULL) {
		cfg_errorf(err, NULL, "%s: out of memory", name != NULL ? name : "-");
		return -1;
	}
	cfg_err_init(&local, NULL, UINT_MAX);
	cfg_ctx_init(&ctx, cfg->file, &doc, &local);
	if (cfg_compose(&ctx, cfg, &lm, text, len, &doc) < 0) {
		ret = -1;
		goto out;
	}
	if (cfg_load_doc(&ctx, cfg, &lm) == 0) {
		struct cfg_marks m = {
			.bad_port = lm.port, .bad_if = lm.iface,
			.bad_neigh = lm.neigh, .bad_sa = lm.sa,
			.bad_route = lm.route,
		};

		cfg_validate_marked(cfg, &local, &m);
	}
	cfg_yaml_delete(&doc);
	if (local.count != 0)
		ret = -1;
out:
	cfg_forward_sorted(cfg->file, &local, err);
	cfg_err_free(&local);
	free(lm.port);
	free(lm.iface);
	free(lm.neigh);
	free(lm.sa);
	free(lm.route);
	if (ret < 0)
		cfg_free(cfg);
	return ret;
}

int cfg_load_file(const char *path, struct cfg *cfg, struct cfg_err *err)
{
	char *text = NULL;
	size_t len = 0, cap = 0;
	FILE *f;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	f = fopen(path, "re");
	if (f == NULL) {
		cfg_errorf(err, NULL, "%s: cannot open: %s", path,
			   strerror(errno));
		return -1;
	}
	for (;;) {
		size_t got;

		if (len == cap) {
			/* Grow by hand so that the old buffer is wiped:
			 * realloc could leave a copy of the keys behind. */
			size_t ncap = cap ? cap * 2 : 8192;
			char *n = malloc(ncap);

			if (n == NULL) {
				cfg_errorf(err, NULL, "%s: out of memory", path);
				ret = -1;
				goto out;
			}
			if (text != NULL) {
				memcpy(n, text, len);
				explicit_bzero(text, cap);
				free(text);
			}
			text = n;
			cap = ncap;
		}
		got = fread(text + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		cfg_errorf(err, NULL, "%s: cannot read: %s", path,
			   strerror(errno));
		ret = -1;
		goto out;
	}
	ret = cfg_load_string(path, text, len, cfg, err);
out:
	fclose(f);
	if (text != NULL) {
		explicit_bzero(text, cap);
		free(text);
	}
	return ret;
}

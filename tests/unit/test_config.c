/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the YAML configuration loader (control/config.c).
 *
 *   test_config [CONFIG_DIR]
 *
 * CONFIG_DIR is the project's config/ directory (default ../../config,
 * right for meson's workdir tests/unit): every examples/NAME.yaml must load
 * without an error, and every bad/NAME.yaml must fail with exactly the errors
 * its "# expect-error: LINE:COL: TEXT" comments list.
 *
 * Each check prints its name when it fails; the last line is
 * "N passed, M failed" and the exit status is non-zero on any failure.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "control/config.h"
#include "control/config_parse.h"

static unsigned int passed, failed;
static bool verbose;

static void check(bool ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		passed++;
		if (!verbose)
			return;
		printf("ok:   ");
	} else {
		failed++;
		printf("FAIL: ");
	}
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static void dump_errors(const struct cfg_err *err)
{
	unsigned int i;

	for (i = 0; i < err->nmsgs; i++)
		printf("      | %s\n", err->msgs[i]);
}

static bool cfg_is_empty(const struct cfg *c)
{
	static const struct cfg zero;

	return memcmp(c, &zero, sizeof(zero)) == 0;
}

static bool addr_is(const struct cfg_addr *a, const char *text)
{
	struct cfg_addr b;

	return cfg_addr_parse(text, &b) == 0 && cfg_addr_eq(a, &b);
}

static bool prefix_is(const struct cfg_prefix *p, const char *addr,
		      unsigned int len)
{
	return addr_is(&p->addr, addr) && p->len == len;
}

/* Load text as "t.yaml"; the error sink keeps every message. */
static int load(const char *text, struct cfg *c, struct cfg_err *err)
{
	cfg_err_init(err, NULL, 1000);
	return cfg_load_string("t.yaml", text, strlen(text), c, err);
}

static const char *find_msg(const struct cfg_err *err, const char *pos,
			    const char *text)
{
	char prefix[64];
	unsigned int i;

	snprintf(prefix, sizeof(prefix), "t.yaml:%s: ", pos);
	for (i = 0; i < err->nmsgs; i++)
		if (strncmp(err->msgs[i], prefix, strlen(prefix)) == 0 &&
		    strstr(err->msgs[i], text) != NULL)
			return err->msgs[i];
	return NULL;
}

/*
 * Load text, expect it to fail with `count` errors (0: any number), one
 * of them at pos ("LINE:COL") containing text.
 */
static void expect_err(const char *name, const char *yaml, unsigned int count,
		       const char *pos, const char *text)
{
	struct cfg c;
	struct cfg_err err;
	int r = load(yaml, &c, &err);
	bool ok = r == -1 && err.count > 0 &&
		  (count == 0 || err.count == count) &&
		  find_msg(&err, pos, text) != NULL && cfg_is_empty(&c);

	check(ok, "%s: %u error(s), one at %s with \"%s\"", name,
	      count, pos, text);
	if (!ok) {
		printf("      got r=%d, %u error(s)%s:\n", r, err.count,
		       cfg_is_empty(&c) ? "" : ", cfg not empty");
		dump_errors(&err);
	}
	cfg_free(&c);
	cfg_err_free(&err);
}

/* ---------------------------------------------------------------------- */

static const char full_yaml[] =
	"# every section and field\n"
	"crypto:\n"
	"  driver: aesni_mb\n"
	"  mode: cpu\n"
	"ports:\n"
	"  wan0: { port: 0, address: [192.168.0.1/24, \"2001:db8::1/64\"], mtu: 1500 }\n"
	"  lan0: { port: 0x1, address: 10.100.0.1/24 }\n"
	"  pcap0: { port: net_pcap0 }\n"
	"  \"7\": { port: \"7\", address: [] }\n"
	"neighbors:\n"
	"  - { address: 192.168.0.2, lladdr: \"02:00:00:00:00:0A\", dev: wan0 }\n"
	"  - address: \"2001:db8::2\"\n"
	"    lladdr: 02:00:00:00:00:0b\n"
	"    dev: wan0\n"
	"interfaces:\n"
	"  ipsec0:\n"
	"    tunnel: { local: 192.168.0.1, remote: 192.168.0.2 }\n"
	"    address: [172.16.100.1/32, \"fd00::1/128\"]\n"
	"    peer: 172.16.200.1\n"
	"    reqid: 0x64\n"
	"    mtu: auto\n"
	"    nat-t: on\n"
	"    ecn: no\n"
	"    ipv6: yes\n"
	"    df: clear\n"
	"  ipsec1:\n"
	"    tunnel: { local: \"2001:db8::1\", remote: \"2001:db8::3\" }\n"
	"    reqid: 1\n"
	"    mtu: 1400\n"
	"    ipv6: false\n"
	"    df: set\n"
	"  ipsec2: { tunnel: { local: 192.168.0.1, remote: 192.168.0.4 } }\n"
	"  sec.3-x_y: {}\n"
	"sas:\n"
	"  - spi: 10000\n"
	"    src: 192.168.0.1\n"
	"    dst: 192.168.0.2\n"
	"    reqid: 100\n"
	"    aead: aes-gcm-128\n"
	"    key: 0x0102030405060708090a0b0c0d0e0f1011121314\n"
	"  - spi: 0x2711\n"
	"    src: 192.168.0.2\n"
	"    dst: 192.168.0.1\n"
	"    interface: ipsec0\n"
	"    enc: aes-cbc-256\n"
	"    enc-key: 0x000102030405060708090A0B0C0D0E0F101112131415161718191a1b1c1d1e1f\n"
	"    auth: hmac-sha512-256\n"
	"    auth-key: 0x00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000042\n"
	"    esn: true\n"
	"    replay-window: 0\n"
	"    lifetime:\n"
	"      soft: { bytes: 1000, seconds: 60 }\n"
	"      hard: { bytes: 2000, packets: 0x10, seconds: 120 }\n"
	"  - { spi: 4294967295, src: \"2001:db8::1\", dst: \"2001:db8::3\", interface: ipsec1,\n"
	"      enc: \"null\", auth: aes-xcbc-96, auth-key: 0xffeeddccbbaa99887766554433221100 }\n"
	"  - spi: 256\n"
	"    src: 192.168.0.4\n"
	"    dst: 192.168.0.1\n"
	"    interface: ipsec2\n"
	"    aead: chacha20-poly1305\n"
	"    key: 0x1111111111111111111111111111111111111111111111111111111111111111aabbccdd\n"
	"    replay-window: 1048576\n"
	"  - spi: 300\n"
	"    src: 192.168.0.1\n"
	"    dst: 192.168.0.4\n"
	"    reqid: 2\n"
	"    enc: aes-ctr-256\n"
	"    enc-key: 0x2222222222222222222222222222222222222222222222222222222222222222cafe0001\n"
	"    auth: hmac-sha1-96\n"
	"    auth-key: 0x3333333333333333333333333333333333333333\n"
	"  - { spi: 10000, src: 192.168.0.1, dst: 192.168.0.4, reqid: 2,\n"
	"      aead: aes-gmac-256, key: 0x44444444444444444444444444444444444444444444444444444444444444440a0b0c0d }\n"
	"routes:\n"
	"  - { prefix: 10.200.0.0/24, dev: ipsec0 }\n"
	"  - { prefix: 0.0.0.0/0, via: 192.168.0.254, dev: wan0 }\n"
	"  - { prefix: \"2001:db8:1::/48\", via: \"2001:db8::fe\", dev: wan0 }\n"
	"  - { prefix: \"fd00:1::/64\", dev: ipsec1 }\n"
	"  - { prefix: 10.200.0.0/25, dev: ipsec2 }\n"
	"  - { prefix: 10.200.0.128/32, dev: sec.3-x_y }\n";

static void test_full(void)
{
	struct cfg c;
	struct cfg_err err;
	const struct cfg_interface *f;
	const struct cfg_port *p;
	const struct cfg_sa *sa;
	int r = load(full_yaml, &c, &err);

	check(r == 0 && err.count == 0, "full: loads without errors");
	if (r != 0) {
		dump_errors(&err);
		cfg_err_free(&err);
		cfg_free(&c);
		return;
	}
	check(c.file != NULL && strcmp(c.file, "t.yaml") == 0, "full: file name");

	check(strcmp(c.crypto.driver, "aesni_mb") == 0, "full: crypto.driver");
	check(c.crypto.mode == CFG_CRYPTO_CPU, "full: crypto.mode cpu");
	check(c.crypto.pos.line == 3 && c.crypto.pos.col == 3,
	      "full: crypto pos 3:3 (got %u:%u)", c.crypto.pos.line,
	      c.crypto.pos.col);

	check(c.nports == 4, "full: 4 ports");
	p = cfg_port_find(&c, "wan0");
	check(p != NULL && p->port_id == 0 && p->devname[0] == '\0',
	      "full: wan0 is port 0");
	check(p != NULL && p->naddrs == 2 &&
	      prefix_is(&p->addrs[0], "192.168.0.1", 24) &&
	      prefix_is(&p->addrs[1], "2001:db8::1", 64),
	      "full: wan0 addresses keep host bits");
	check(p != NULL && p->mtu == 1500, "full: wan0 mtu");
	check(p != NULL && p->pos.line == 6 && p->pos.col == 3,
	      "full: wan0 pos is its name, 6:3");
	p = cfg_port_find(&c, "lan0");
	check(p != NULL && p->port_id == 1 && p->naddrs == 1 &&
	      prefix_is(&p->addrs[0], "10.100.0.1", 24) && p->mtu == 0,
	      "full: lan0 port 0x1, single scalar address, no mtu");
	p = cfg_port_find(&c, "pcap0");
	check(p != NULL && p->port_id == -1 &&
	      strcmp(p->devname, "net_pcap0") == 0 && p->naddrs == 0,
	      "full: pcap0 by device name");
	p = cfg_port_find(&c, "7");
	check(p != NULL && p->port_id == 7 && p->naddrs == 0,
	      "full: quoted \"7\" is a port id; empty address list");
	check(cfg_port_find(&c, "ipsec0") == NULL, "full: ipsec0 is no port");

	check(c.nneighbors == 2, "full: 2 neighbors");
	if (c.nneighbors == 2) {
		static const uint8_t mac1[6] = { 2, 0, 0, 0, 0, 0x0a };
		static const uint8_t mac2[6] = { 2, 0, 0, 0, 0, 0x0b };

		check(addr_is(&c.neighbors[0].addr, "192.168.0.2") &&
		      memcmp(c.neighbors[0].lladdr, mac1, 6) == 0 &&
		      strcmp(c.neighbors[0].dev, "wan0") == 0,
		      "full: neighbor 0");
		check(addr_is(&c.neighbors[1].addr, "2001:db8::2") &&
		      c.neighbors[1].addr.family == AF_INET6 &&
		      memcmp(c.neighbors[1].lladdr, mac2, 6) == 0,
		      "full: neighbor 1 (IPv6, unquoted lladdr)");
		check(c.neighbors[1].pos.line == 12 &&
		      c.neighbors[1].pos.col == 5,
		      "full: neighbor 1 pos 12:5 (got %u:%u)",
		      c.neighbors[1].pos.line, c.neighbors[1].pos.col);
	}

	check(c.ninterfaces == 4, "full: 4 interfaces");
	f = cfg_interface_find(&c, "ipsec0");
	check(f != NULL && f->has_tunnel && addr_is(&f->local, "192.168.0.1") &&
	      addr_is(&f->remote, "192.168.0.2"), "full: ipsec0 tunnel");
	check(f != NULL && f->naddrs == 2 &&
	      prefix_is(&f->addrs[0], "172.16.100.1", 32) &&
	      prefix_is(&f->addrs[1], "fd00::1", 128), "full: ipsec0 address");
	check(f != NULL && f->has_peer && addr_is(&f->peer, "172.16.200.1"),
	      "full: ipsec0 peer");
	check(f != NULL && f->has_reqid && f->reqid == 100,
	      "full: ipsec0 reqid 0x64");
	check(f != NULL && f->mtu == 0 && f->nat_t && !f->ecn && f->ipv6 &&
	      f->df == CFG_DF_CLEAR,
	      "full: ipsec0 mtu auto, nat-t on, ecn no, ipv6 yes, df clear");
	f = cfg_interface_find(&c, "ipsec1");
	check(f != NULL && f->local.family == AF_INET6 && f->reqid == 1 &&
	      f->mtu == 1400 && !f->ipv6 && f->df == CFG_DF_SET && !f->nat_t &&
	      f->ecn && !f->has_peer && f->naddrs == 0,
	      "full: ipsec1 (IPv6 outer, inner IPv4 only)");
	f = cfg_interface_find(&c, "ipsec2");
	check(f != NULL && !f->has_reqid && f->reqid == 2,
	      "full: ipsec2 gets the lowest unused reqid, 2");
	check(f != NULL && f->ecn && f->ipv6 && !f->nat_t &&
	      f->df == CFG_DF_COPY && f->mtu == 0,
	      "full: interface defaults (ecn, ipv6, no nat-t, df copy, mtu auto)");
	f = cfg_interface_find(&c, "sec.3-x_y");
	check(f != NULL && !f->has_tunnel && !f->has_reqid && f->reqid == 3,
	      "full: interface without tunnel, reqid 3");

	check(c.nsas == 6, "full: 6 SAs");
	if (c.nsas == 6) {
		static const uint8_t k0[20] = {
			1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
			17, 18, 19, 20 };

		sa = &c.sas[0];
		check(sa->spi == 10000 && addr_is(&sa->src, "192.168.0.1") &&
		      addr_is(&sa->dst, "192.168.0.2"), "full: sa0 spi/src/dst");
		check(sa->has_reqid && sa->reqid == 100 &&
		      strcmp(sa->interface, "ipsec0") == 0,
		      "full: sa0 bound by reqid, interface filled in");
		check(sa->aead == CFG_AEAD_AES_GCM_128 &&
		      sa->enc == CFG_ENC_NONE && sa->auth == CFG_AUTH_NONE &&
		      sa->key_len == 20 && memcmp(sa->key, k0, 20) == 0,
		      "full: sa0 aes-gcm-128 key");
		check(sa->outbound, "full: sa0 outbound (src == local)");
		check(!sa->esn && sa->replay_window == 1024 &&
		      sa->soft.bytes == 0 && sa->hard.seconds == 0,
		      "full: sa0 defaults (esn off, replay 1024, no lifetime)");
		check(sa->pos.line == 35 && sa->pos.col == 5,
		      "full: sa0 pos 35:5 (got %u:%u)", sa->pos.line,
		      sa->pos.col);

		sa = &c.sas[1];
		check(sa->spi == 10001 && !sa->has_reqid && sa->reqid == 100 &&
		      strcmp(sa->interface, "ipsec0") == 0 && !sa->outbound,
		      "full: sa1 bound by interface, reqid filled, inbound");
		check(sa->enc == CFG_ENC_AES_CBC_256 && sa->enc_key_len == 32 &&
		      sa->enc_key[0] == 0 && sa->enc_key[10] == 10 &&
		      sa->enc_key[31] == 0x1f, "full: sa1 enc key (mixed case hex)");
		check(sa->auth == CFG_AUTH_HMAC_SHA512_256 &&
		      sa->auth_key_len == 64 && sa->auth_key[63] == 0x42 &&
		      sa->key_len == 0, "full: sa1 auth key");
		check(sa->esn && sa->replay_window == 0, "full: sa1 esn, no replay");
		check(sa->soft.bytes == 1000 && sa->soft.packets == 0 &&
		      sa->soft.seconds == 60 && sa->hard.bytes == 2000 &&
		      sa->hard.packets == 16 && sa->hard.seconds == 120,
		      "full: sa1 lifetime");

		sa = &c.sas[2];
		check(sa->spi == UINT32_MAX && sa->src.family == AF_INET6 &&
		      sa->enc == CFG_ENC_NULL && sa->enc_key_len == 0 &&
		      sa->auth == CFG_AUTH_AES_XCBC_96 &&
		      sa->auth_key_len == 16 && sa->auth_key[0] == 0xff &&
		      sa->reqid == 1 && sa->outbound,
		      "full: sa2 IPv6, enc null, aes-xcbc-96, max spi");

		sa = &c.sas[3];
		check(sa->aead == CFG_AEAD_CHACHA20_POLY1305 &&
		      sa->key_len == 36 && sa->key[35] == 0xdd &&
		      sa->reqid == 2 && !sa->outbound &&
		      sa->replay_window == 1u << 20,
		      "full: sa3 chacha20-poly1305, min spi, assigned reqid, max window");

		sa = &c.sas[4];
		check(sa->enc == CFG_ENC_AES_CTR_256 && sa->enc_key_len == 36 &&
		      sa->auth == CFG_AUTH_HMAC_SHA1_96 &&
		      sa->auth_key_len == 20 && sa->has_reqid &&
		      strcmp(sa->interface, "ipsec2") == 0 && sa->outbound,
		      "full: sa4 aes-ctr-256 + nonce, bound to assigned reqid 2");

		sa = &c.sas[5];
		check(sa->spi == 10000 && sa->aead == CFG_AEAD_AES_GMAC_256 &&
		      sa->key_len == 36,
		      "full: sa5 same spi as sa0, other dst is fine");
	}

	check(c.nroutes == 6, "full: 6 routes");
	if (c.nroutes == 6) {
		check(prefix_is(&c.routes[0].prefix, "10.200.0.0", 24) &&
		      !c.routes[0].has_via &&
		      strcmp(c.routes[0].dev, "ipsec0") == 0, "full: route 0");
		check(prefix_is(&c.routes[1].prefix, "0.0.0.0", 0) &&
		      c.routes[1].has_via &&
		      addr_is(&c.routes[1].via, "192.168.0.254") &&
		      strcmp(c.routes[1].dev, "wan0") == 0,
		      "full: default route via");
		check(prefix_is(&c.routes[2].prefix, "2001:db8:1::", 48) &&
		      addr_is(&c.routes[2].via, "2001:db8::fe"),
		      "full: IPv6 route via");
		check(prefix_is(&c.routes[4].prefix, "10.200.0.0", 25),
		      "full: /25 is not a duplicate of /24");
	}

	/* The socket re-validates after each change: nothing may move. */
	r = cfg_validate(&c, &err);
	f = cfg_interface_find(&c, "ipsec2");
	check(r == 0 && err.count == 0 && f != NULL && f->reqid == 2 &&
	      c.sas[1].reqid == 100 && c.sas[3].reqid == 2 &&
	      c.sas[0].outbound && !c.sas[1].outbound,
	      "full: validating again changes nothing");

	cfg_free(&c);
	check(cfg_is_empty(&c), "full: cfg_free zeroes the struct");
	cfg_free(&c);
	check(cfg_is_empty(&c), "full: cfg_free twice is safe");
	cfg_err_free(&err);
}

/* ---------------------------------------------------------------------- */

static void test_empty(void)
{
	static const char *const texts[] = {
		"", "\n", "# only a comment\n", "---\n", "---\n...\n", "~\n",
		"crypto:\nports:\nneighbors:\ninterfaces:\nsas:\nroutes:\n",
		"ports: {}\nsas: []\n",
	};
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct cfg c;
		struct cfg_err err;
		int r = load(texts[i], &c, &err);

		check(r == 0 && err.count == 0 && c.nports == 0 &&
		      c.nsas == 0 && c.nroutes == 0 &&
		      strcmp(c.crypto.driver, "auto") == 0 &&
		      c.crypto.mode == CFG_CRYPTO_AUTO,
		      "empty config %zu is valid, crypto defaults", i);
		if (r != 0)
			dump_errors(&err);
		cfg_free(&c);
		cfg_err_free(&err);
	}
}

/* A port and an interface for entries to refer to: lines 1..4. */
#define BASE                                                           \
	"ports:\n"                                                     \
	"  wan0: { port: 0, address: 192.168.0.1/24 }\n"               \
	"interfaces:\n"                                                \
	"  ipsec0: { tunnel: { local: 192.168.0.1, remote: 192.168.0.2 } }\n"

/* A good SA on lines 5..11: its mapping starts at 6:5, values at col 10. */
#define SA_HEAD                                                        \
	"sas:\n"                                                       \
	"  - spi: 10000\n"
#define SA_SRC "    src: 192.168.0.1\n"
#define SA_DST "    dst: 192.168.0.2\n"
#define SA_IF "    interface: ipsec0\n"
#define SA_AEAD "    aead: aes-gcm-128\n"
#define SA_KEY "    key: 0x0102030405060708090a0b0c0d0e0f1011121314\n"
#define SA_GOOD SA_HEAD SA_SRC SA_DST SA_IF SA_AEAD SA_KEY

static void test_base_is_good(void)
{
	struct cfg c;
	struct cfg_err err;
	int r = load(BASE SA_GOOD, &c, &err);

	check(r == 0 && c.nsas == 1 && c.sas[0].outbound,
	      "the base of the error tests is itself good");
	if (r != 0)
		dump_errors(&err);
	cfg_free(&c);
	cfg_err_free(&err);
}

/*
 * The file's list sections are composed one entry at a time (config.c,
 * "The file's composer"): what yaml_parser_load's whole document gave must
 * hold all the same -- anchors named from later entries and sections,
 * lists given by alias, repeated sections, syntax errors after bad
 * entries (the syntax error alone), a second document, and many entries.
 */
static void test_streamed_lists(void)
{
	static const char ports[] =
		"ports:\n  wan0: { port: 0, address: [192.168.0.1/24] }\n";
	struct cfg_err err;
	struct cfg c;
	char *big;
	size_t i, len, cap = 5000 * 64 + 256;
	int r;

	r = load(BASE
		 "routes:\n"
		 "  - &r { prefix: 10.0.0.0/8, via: 192.168.0.2, dev: wan0 }\n"
		 "  - { prefix: 10.1.0.0/16, dev: &d ipsec0 }\n"
		 "  - { prefix: 10.2.0.0/16, dev: *d }\n"
		 "neighbors:\n"
		 "  - { address: 192.168.0.2, lladdr: \"02:00:00:00:00:02\", dev: wan0 }\n"
		 "x-routes: *r\n", &c, &err);
	check(r == -1 && find_msg(&err, "11:1", "unknown key 'x-routes'") != NULL &&
	      err.count == 1, "an anchor in a list entry is named after the list");
	if (err.count != 1)
		dump_errors(&err);
	cfg_free(&c);
	cfg_err_free(&err);

	r = load(BASE
		 "routes:\n"
		 "  - &r { prefix: 10.0.0.0/8, via: 192.168.0.2, dev: wan0 }\n"
		 "  - { prefix: 10.1.0.0/16, dev: &d ipsec0 }\n"
		 "  - { prefix: 10.2.0.0/16, dev: *d }\n", &c, &err);
	check(r == 0 && c.nroutes == 3 && strcmp(c.routes[2].dev, "ipsec0") == 0 &&
	      c.routes[1].pos.line == 7 && c.routes[2].pos.col == 5,
	      "aliases between list entries");
	if (r != 0)
		dump_errors(&err);
	cfg_free(&c);
	cfg_err_free(&err);

	/* an alias is the anchored node itself: messages point there */
	expect_err("an entry that is an alias of an earlier one", BASE
		   "routes:\n"
		   "  - &r { prefix: 10.0.0.0/8, via: 192.168.0.2, dev: wan0 }\n"
		   "  - *r\n", 1, "6:5",
		   "routes[1]: 10.0.0.0/8 is already routed by routes[0]");
	expect_err("a list given by alias", BASE
		   "routes: &l\n"
		   "  - { prefix: 10.0.0.0/8, dev: wan0 }\n"
		   "sas: *l\n", 0, "6:7", "sas[0]: unknown key 'prefix'");
	expect_err("a list section given twice", BASE
		   "routes:\n"
		   "  - { prefix: 10.0.0.0/8, dev: wan0 }\n"
		   "routes:\n"
		   "  - { prefix: 10.0.0.0/8, dev: nope }\n", 1, "7:1",
		   "duplicate key 'routes' (first given at line 6)");
	expect_err("a syntax error after bad entries is the one error", BASE
		   "routes:\n"
		   "  - { prefix: 10.0.0.0/8, dev: nope }\n"
		   "  - { prefix: 10.1.0.0/16, dev: wan0\n"
		   "  - x\n", 1, "9:1", "YAML syntax error");
	expect_err("an undefined alias in a list entry", BASE
		   "routes:\n"
		   "  - { prefix: 10.0.0.0/8, dev: *nothing }\n", 1, "6:32",
		   "found undefined alias");
	expect_err("a duplicate anchor across entries", BASE
		   "routes:\n"
		   "  - { prefix: 10.0.0.0/8, dev: &a wan0 }\n"
		   "  - { prefix: 10.1.0.0/16, dev: &a wan0 }\n", 1, "7:33",
		   "found duplicate anchor");
	expect_err("a second document after a list", BASE
		   "routes:\n"
		   "  - { prefix: 10.0.0.0/8, dev: nope }\n"
		   "---\n"
		   "routes: []\n", 1, "7:1", "only one YAML document is allowed");

	/* many entries: every one in order, with its own position */
	big = malloc(cap);
	check(big != NULL, "memory for the many-routes text");
	if (big == NULL)
		return;
	len = (size_t)snprintf(big, cap, "%sroutes:\n", ports);
	for (i = 0; i < 5000; i++)
		len += (size_t)snprintf(big + len, cap - len,
					"  - { prefix: 16.%zu.%zu.0/24, via: 192.168.0.%zu, dev: wan0 }\n",
					i / 256, i % 256, 2 + i % 4);
	r = load(big, &c, &err);
	check(r == 0 && c.nroutes == 5000 &&
	      c.routes[4999].prefix.addr.a[1] == 19 &&
	      c.routes[4999].prefix.addr.a[2] == 135 &&
	      c.routes[4999].via.a[3] == 5 && c.routes[4999].pos.line == 5003 &&
	      c.routes[0].pos.line == 4, "5000 routes, in order, with positions");
	if (r != 0)
		dump_errors(&err);
	cfg_free(&c);
	cfg_err_free(&err);
	/* one bad among them: reported at its own line, nothing applied */
	memcpy(strstr(big, "16.19.100.0/24"), "16.19.100.1/24", 14);
	r = load(big, &c, &err);
	check(r == -1 && err.count == 1 && cfg_is_empty(&c) &&
	      find_msg(&err, "4968:15", "routes[4964]: prefix: 16.19.100.1/24 has host bits set") != NULL,
	      "a bad route among 5000: its line and index");
	if (err.count != 1 || r != -1)
		dump_errors(&err);
	cfg_free(&c);
	cfg_err_free(&err);
	free(big);
}

static void test_errors_structure(void)
{
	expect_err("unknown top-level key", "crypto: {}\nprots: {}\n", 1,
		   "2:1", "unknown key 'prots'");
	expect_err("unknown key in an SA", BASE SA_GOOD "    kye: 1\n", 1,
		   "12:5", "sas[0]: unknown key 'kye'");
	expect_err("underscore for dash is suggested",
		   BASE SA_GOOD "    replay_window: 64\n", 1, "12:5",
		   "did you mean 'replay-window'");
	expect_err("unknown key in a nested mapping",
		   BASE SA_GOOD "    lifetime: { soft: { byte: 1 } }\n", 1,
		   "12:25", "lifetime.soft: unknown key 'byte'");
	expect_err("duplicate key", BASE SA_GOOD "    spi: 10001\n", 1,
		   "12:5", "duplicate key 'spi' (first given at line 6)");
	expect_err("duplicate top-level key", "sas: []\nroutes: []\nsas: []\n",
		   1, "3:1", "duplicate key 'sas'");
	expect_err("duplicate port name (mapping key)",
		   "ports:\n  wan0: { port: 0 }\n  wan0: { port: 1 }\n", 1,
		   "3:3", "ports: duplicate key 'wan0' (first given at line 2)");
	expect_err("wrong type: list for a scalar",
		   BASE "sas:\n  - spi: [10000]\n" SA_SRC SA_DST SA_IF SA_AEAD
			SA_KEY, 1, "6:10",
		   "spi: expected a scalar value, got a list");
	expect_err("wrong type: mapping for a scalar",
		   BASE SA_HEAD "    src: { a: 1 }\n" SA_DST SA_IF SA_AEAD SA_KEY,
		   0, "7:10", "src: expected a scalar value, got a mapping");
	expect_err("wrong type: ports as a list", "ports:\n  - wan0\n", 1,
		   "2:3", "ports: expected a mapping of name: {...}, got a list");
	expect_err("wrong type: sas as a mapping", "sas: { a: 1 }\n", 1,
		   "1:6", "sas: expected a list (of mappings), got a mapping");
	expect_err("wrong type: an SA that is a scalar", "sas:\n  - spi\n", 1,
		   "2:5", "sas[0]: expected a mapping, got a scalar");
	expect_err("wrong type: top level is a list", "- a\n- b\n", 1, "1:1",
		   "the top level must be a mapping");
	expect_err("empty value", BASE SA_HEAD "    src:\n" SA_DST SA_IF
		   SA_AEAD SA_KEY, 1, "7:9", "src: needs a value");
	expect_err("missing required key (reported at the mapping)",
		   BASE "sas:\n  - src: 192.168.0.1\n" SA_DST SA_IF SA_AEAD
			SA_KEY, 1, "6:5", "sas[0]: missing key 'spi'");
	expect_err("YAML syntax error: unclosed flow mapping",
		   "ports:\n  wan0: { port: 0\nroutes: []\n", 1, "3:7",
		   "YAML syntax error: did not find expected ',' or '}'");
	expect_err("YAML syntax error: bad indentation",
		   "ports:\n  wan0:\n    port: 0\n   mtu: 1500\n", 1, "4:4",
		   "YAML syntax error");
	expect_err("YAML syntax error: tab indentation",
		   "ports:\n\twan0: {}\n", 1, "2:1", "YAML syntax error");
	expect_err("YAML: undefined alias", "ports: *nothing\n", 1, "1:8",
		   "undefined alias");
	expect_err("YAML: two documents", "ports: {}\n---\nsas: []\n", 1,
		   "2:1", "only one YAML document is allowed");
	expect_err("YAML: invalid UTF-8", "ports: {}\n# \xff\n", 1, "2:3",
		   "YAML: invalid");
}

static void test_errors_values(void)
{
	expect_err("bad address",
		   BASE SA_HEAD "    src: 192.168.0.300\n" SA_DST SA_IF SA_AEAD
			SA_KEY, 1, "7:10",
		   "src: '192.168.0.300' is not an IPv4 or IPv6 address");
	expect_err("address with a length where none belongs",
		   BASE SA_HEAD "    src: 192.168.0.1/32\n" SA_DST SA_IF SA_AEAD
			SA_KEY, 1, "7:10", "(no /LEN here)");
	expect_err("bad prefix length",
		   "routes:\n  - { prefix: 10.0.0.0/33, dev: x }\n", 0, "2:15",
		   "'10.0.0.0/33' has a bad prefix length");
	expect_err("prefix without a length",
		   "ports:\n  wan0: { port: 0, address: 10.0.0.1 }\n", 1,
		   "2:29", "address: expected ADDRESS/LENGTH, got '10.0.0.1'");
	expect_err("prefix with a bad address",
		   "ports:\n  wan0: { port: 0, address: [1.2.3.4/8, 10.0.0/8] }\n",
		   1, "2:41", "'10.0.0/8' does not start with an IPv4 or IPv6");
	expect_err("IPv6 prefix length over 128",
		   "ports:\n  wan0: { port: 0, address: \"2001:db8::1/129\" }\n",
		   1, "2:29", "bad prefix length");
	expect_err("route prefix with host bits set",
		   BASE "routes:\n  - { prefix: 10.200.0.1/24, dev: ipsec0 }\n",
		   1, "6:15",
		   "prefix: 10.200.0.1/24 has host bits set (did you mean 10.200.0.0/24?)");
	expect_err("IPv6 route prefix with host bits set",
		   BASE "routes:\n  - { prefix: \"2001:db8::1/64\", dev: ipsec0 }\n",
		   1, "6:15", "did you mean 2001:db8::/64?");
	expect_err("bad hex in a key",
		   BASE SA_HEAD SA_SRC SA_DST SA_IF SA_AEAD
			"    key: 0x0102030405060708090a0b0c0d0e0f10111213zz\n",
		   1, "11:10", "key: character 41 is not a hex digit");
	expect_err("key without 0x",
		   BASE SA_HEAD SA_SRC SA_DST SA_IF SA_AEAD
			"    key: 0102030405060708090a0b0c0d0e0f1011121314\n",
		   1, "11:10", "key: expected 0x followed by hex digits");
	expect_err("key with an odd number of digits",
		   BASE SA_HEAD SA_SRC SA_DST SA_IF SA_AEAD
			"    key: 0x0102030405060708090a0b0c0d0e0f101112131\n",
		   1, "11:10", "even, non-zero number of hex digits, got 39");
	expect_err("wrong aead key length",
		   BASE SA_HEAD SA_SRC SA_DST SA_IF SA_AEAD
			"    key: 0x0102030405060708090a0b0c0d0e0f10\n",
		   1, "11:10",
		   "sas[0]: aes-gcm-128 needs a key of 20 bytes (16 + 4 salt), got 16");
	expect_err("wrong aes-ctr key length (nonce)",
		   BASE SA_HEAD SA_SRC SA_DST SA_IF
			"    enc: aes-ctr-128\n"
			"    enc-key: 0x0102030405060708090a0b0c0d0e0f10\n"
			"    auth: hmac-sha256-128\n"
			"    auth-key: 0x0102030405060708090a0b0c0d0e0f100102030405060708090a0b0c0d0e0f10\n",
		   1, "11:14",
		   "aes-ctr-128 needs an enc-key of 20 bytes (16 + 4 nonce), got 16");
	expect_err("wrong auth key length",
		   BASE SA_HEAD SA_SRC SA_DST SA_IF
			"    enc: aes-cbc-128\n"
			"    enc-key: 0x0102030405060708090a0b0c0d0e0f10\n"
			"    auth: hmac-sha256-128\n"
			"    auth-key: 0x0102030405060708090a0b0c0d0e0f1011121314\n",
		   1, "13:15", "hmac-sha256-128 needs an auth-key of 32 bytes, got 20");
	expect_err("key longer than any",
		   BASE SA_HEAD SA_SRC SA_DST SA_IF SA_AEAD
			"    key: 0x0102030405060708090a0b0c0d0e0f1011121314"
			"0102030405060708090a0b0c0d0e0f1011121314"
			"0102030405060708090a0b0c0d0e0f1011121314"
			"0102030405060708090a0b0c0d0e0f1011121314\n",
		   1, "11:10", "80 bytes is longer than any key");
	expect_err("unknown algorithm",
		   BASE SA_HEAD SA_SRC SA_DST SA_IF "    aead: aes-gcm-512\n"
			SA_KEY, 1, "10:11",
		   "aead: unknown algorithm 'aes-gcm-512' (one of: aes-gcm-128,");
	expect_err("enc name given as aead",
		   BASE SA_HEAD SA_SRC SA_DST SA_IF "    enc: blowfish-cbc\n"
			"    enc-key: 0x0102030405060708090a0b0c0d0e0f10\n"
			"    auth: hmac-md5\n"
			"    auth-key: 0x0102030405060708090a0b0c0d0e0f10\n",
		   2, "12:11", "auth: unknown algorithm 'hmac-md5'");
	expect_err("seq past 32 bits without esn",
		   BASE SA_GOOD "    seq: 0x100000000\n", 1, "12:10",
		   "seq (without esn): 0x100000000 is out of range (0..4294967295)");
	expect_err("seq on an inbound SA",
		   BASE "sas:\n  - spi: 10000\n    src: 192.168.0.2\n"
		   "    dst: 192.168.0.1\n" SA_IF SA_AEAD SA_KEY "    seq: 5\n",
		   1, "6:5", "seq is the sequence number an outbound SA sent last");
	expect_err("bad boolean", BASE SA_GOOD "    esn: maybe\n", 1, "12:10",
		   "esn: expected true or false (or yes/no, on/off), got 'maybe'");
	expect_err("number out of range: spi too small",
		   BASE "sas:\n  - spi: 255\n" SA_SRC SA_DST SA_IF SA_AEAD SA_KEY,
		   1, "6:10", "spi: 255 is out of range (256..4294967295)");
	expect_err("number out of range: spi too large (hex)",
		   BASE "sas:\n  - spi: 0x100000000\n" SA_SRC SA_DST SA_IF
			SA_AEAD SA_KEY, 1, "6:10",
		   "spi: 0x100000000 is out of range");
	expect_err("number out of range: beyond 64 bits",
		   BASE SA_GOOD "    lifetime: { hard: { bytes: 18446744073709551616 } }\n",
		   1, "12:32", "lifetime.hard.bytes: 18446744073709551616 is out of range");
	expect_err("number out of range: replay-window",
		   BASE SA_GOOD "    replay-window: 1048577\n", 1, "12:20",
		   "replay-window: 1048577 is out of range (0..1048576)");
	expect_err("number out of range: mtu",
		   "ports:\n  wan0: { port: 0, mtu: 67 }\n", 1, "2:25",
		   "mtu: 67 is out of range (68..65535)");
	expect_err("number out of range: port id",
		   "ports:\n  wan0: { port: 65536 }\n", 1, "2:17",
		   "port: 65536 is out of range (0..65535)");
	expect_err("not a number", BASE "sas:\n  - spi: ten\n" SA_SRC SA_DST
		   SA_IF SA_AEAD SA_KEY, 1, "6:10",
		   "spi: expected a number (decimal or 0x-hex), got 'ten'");
	expect_err("negative number", BASE "sas:\n  - spi: -1000\n" SA_SRC
		   SA_DST SA_IF SA_AEAD SA_KEY, 1, "6:10",
		   "expected a number");
	expect_err("leading zero is ambiguous",
		   BASE "sas:\n  - spi: 010000\n" SA_SRC SA_DST SA_IF SA_AEAD
			SA_KEY, 1, "6:10", "has a leading zero");
	expect_err("mtu that is not a number",
		   "interfaces:\n  ipsec0: { mtu: big }\n", 1, "2:18",
		   "mtu: expected a number or auto, got 'big'");
	expect_err("interface mtu too small for IPv6",
		   "interfaces:\n  ipsec0: { mtu: 1000 }\n", 1, "2:18",
		   "below IPv6's minimum of 1280");
	expect_err("bad df", "interfaces:\n  ipsec0: { df: keep }\n", 1,
		   "2:17", "df: expected clear, set or copy, got 'keep'");
	expect_err("bad crypto mode", "crypto: { mode: fast }\n", 1, "1:17",
		   "crypto: mode: expected auto, lookaside or cpu, got 'fast'");
	expect_err("bad lladdr",
		   "ports:\n  wan0: { port: 0, address: 10.0.0.1/24 }\n"
		   "neighbors:\n  - { address: 10.0.0.2, lladdr: 02:00:00:00:00, dev: wan0 }\n",
		   1, "4:34", "lladdr: expected six hex bytes");
	expect_err("bad name characters", "interfaces:\n  \"ipsec 0\": {}\n", 1,
		   "2:3", "may contain only letters, digits");
	expect_err("name too long",
		   "ports:\n  a234567890123456789012345678901x: { port: 0 }\n",
		   1, "2:3", "is longer than 31 characters");
	expect_err("name of 31 characters is fine, 'name' key is not",
		   "ports:\n  a234567890123456789012345678901: { port: 0, name: a }\n",
		   1, "2:47", "unknown key 'name'");
	expect_err("device name with a blank", "ports:\n  wan0: { port: \"a b\" }\n",
		   1, "2:17", "may not contain blanks");
	expect_err("NUL inside a quoted scalar",
		   "ports:\n  wan0: { port: \"net\\0x\" }\n", 1, "2:17",
		   "contains a NUL character");
	expect_err("ipv6 off with an inner IPv6 address",
		   "interfaces:\n  ipsec0:\n    ipv6: off\n    address: \"fd00::1/128\"\n",
		   1, "4:14", "an IPv6 address on an interface with ipv6: false");
	expect_err("too many addresses",
		   "ports:\n  wan0: { port: 0, address: [10.0.0.1/8, 10.0.0.2/8,"
		   " 10.0.0.3/8, 10.0.0.4/8, 10.0.0.5/8, 10.0.0.6/8, 10.0.0.7/8,"
		   " 10.0.0.8/8, 10.0.0.9/8, 10.0.0.10/8, 10.0.0.11/8,"
		   " 10.0.0.12/8, 10.0.0.13/8, 10.0.0.14/8, 10.0.0.15/8,"
		   " 10.0.0.16/8, 10.0.0.17/8] }\n",
		   1, "2:229", "more than 16 addresses");
	expect_err("address given twice",
		   "ports:\n  wan0: { port: 0, address: [10.0.0.1/8, 10.0.0.1/8] }\n",
		   1, "2:42", "'10.0.0.1/8' is given twice");
}

/* setkey's "add SRC DST esp SPI": the SA goes to the tunnel it matches. */
static void test_sa_bound_by_addresses(void)
{
	struct cfg c;
	struct cfg_err err;
	int r = load(BASE SA_HEAD "    src: 192.168.0.2\n    dst: 192.168.0.1\n"
		     SA_AEAD SA_KEY, &c, &err);

	check(r == 0 && c.nsas == 1 && !c.sas[0].outbound &&
	      strcmp(c.sas[0].interface, "ipsec0") == 0 && c.sas[0].reqid != 0,
	      "an SA without reqid or interface binds to the tunnel of its addresses");
	if (r != 0)
		dump_errors(&err);
	cfg_free(&c);
	cfg_err_free(&err);
}

static void test_errors_sa_semantics(void)
{
	expect_err("SA with both reqid and interface",
		   BASE SA_GOOD "    reqid: 1\n", 1, "9:16",
		   "give either reqid or interface, not both");
	expect_err("SA with neither reqid nor interface, no tunnel of its addresses",
		   BASE SA_HEAD "    src: 192.168.0.1\n    dst: 192.168.0.7\n"
		   SA_AEAD SA_KEY, 1, "6:5",
		   "no interface tunnels between 192.168.0.1 and 192.168.0.7");
	expect_err("SA with neither reqid nor interface, two tunnels of its addresses",
		   BASE "  ipsec1: { tunnel: { local: 192.168.0.2, remote: 192.168.0.1 } }\n"
		   SA_HEAD SA_SRC SA_DST SA_AEAD SA_KEY, 1, "7:5",
		   "interfaces ipsec0 and ipsec1 both tunnel between");
	expect_err("SA with aead and enc",
		   BASE SA_GOOD "    enc: aes-cbc-128\n", 1, "12:10",
		   "aead and enc/auth exclude each other");
	expect_err("SA with enc but no auth",
		   BASE SA_HEAD SA_SRC SA_DST SA_IF "    enc: aes-cbc-128\n"
			"    enc-key: 0x0102030405060708090a0b0c0d0e0f10\n",
		   1, "6:5",
		   "missing key 'auth': ESP without integrity protection is not allowed");
	expect_err("SA with null enc but no auth",
		   BASE SA_HEAD SA_SRC SA_DST SA_IF "    enc: null\n", 1, "6:5",
		   "missing key 'auth'");
	{
		struct cfg c;
		struct cfg_err err;
		int r = load(BASE SA_HEAD SA_SRC SA_DST SA_IF "    enc: null\n"
			     "    auth: hmac-sha1-96\n"
			     "    auth-key: 0x0102030405060708090a0b0c0d0e0f1011121314\n",
			     &c, &err);

		check(r == 0 && c.nsas == 1 && c.sas[0].enc == CFG_ENC_NULL,
		      "enc: null (YAML's null spelling) is the null cipher");
		if (r != 0)
			dump_errors(&err);
		cfg_free(&c);
		cfg_err_free(&err);
	}
	expect_err("SA with null enc and an enc-key",
		   BASE SA_HEAD SA_SRC SA_DST SA_IF "    enc: \"null\"\n"
			"    enc-key: 0x01020304\n"
			"    auth: hmac-sha1-96\n"
			"    auth-key: 0x0102030405060708090a0b0c0d0e0f1011121314\n",
		   1, "11:14", "null encryption takes no key");
	expect_err("SA with an empty enc is not the null cipher",
		   BASE SA_HEAD SA_SRC SA_DST SA_IF "    enc:\n"
			"    auth: hmac-sha1-96\n"
			"    auth-key: 0x0102030405060708090a0b0c0d0e0f1011121314\n",
		   1, "10:9", "enc: needs a value");
	expect_err("key syntax is checked even for an unknown algorithm",
		   BASE SA_HEAD SA_SRC SA_DST SA_IF "    aead: aes-ccm-128\n"
			"    key: 0x01020q\n", 2, "11:10",
		   "key: character 8 is not a hex digit");
	expect_err("SA with no transform", BASE SA_HEAD SA_SRC SA_DST SA_IF, 1,
		   "6:5", "missing key 'aead', or 'enc' and 'auth'");
	expect_err("SA with aead but no key",
		   BASE SA_HEAD SA_SRC SA_DST SA_IF SA_AEAD, 1, "6:5",
		   "missing key 'key'");
	expect_err("SA with enc/auth and an aead key",
		   BASE SA_HEAD SA_SRC SA_DST SA_IF "    enc: \"null\"\n"
			"    auth: hmac-sha1-96\n"
			"    auth-key: 0x0102030405060708090a0b0c0d0e0f1011121314\n"
			SA_KEY, 1, "13:10", "key is the aead key");
	expect_err("SA src and dst of different families",
		   BASE SA_HEAD SA_SRC "    dst: \"2001:db8::2\"\n" SA_IF SA_AEAD
			SA_KEY, 1, "8:10", "dst is IPv6 but src is IPv4");
	expect_err("SA that matches no interface tunnel",
		   BASE SA_HEAD SA_SRC "    dst: 192.168.0.3\n" SA_IF SA_AEAD
			SA_KEY, 1, "6:5",
		   "src 192.168.0.1 dst 192.168.0.3 matches neither direction of interfaces.ipsec0's tunnel (192.168.0.1 -> 192.168.0.2)");
	expect_err("SA whose src and dst are both local",
		   BASE SA_HEAD SA_SRC "    dst: 192.168.0.1\n" SA_IF SA_AEAD
			SA_KEY, 1, "6:5", "matches neither direction");
	expect_err("SA bound to an unknown interface",
		   BASE SA_HEAD SA_SRC SA_DST "    interface: ipsec9\n" SA_AEAD
			SA_KEY, 1, "6:5", "no interface named 'ipsec9'");
	expect_err("SA bound to a port",
		   BASE SA_HEAD SA_SRC SA_DST "    interface: wan0\n" SA_AEAD
			SA_KEY, 1, "6:5", "(that is a port)");
	expect_err("SA with a reqid no interface has",
		   BASE SA_HEAD SA_SRC SA_DST "    reqid: 7\n" SA_AEAD SA_KEY, 1,
		   "6:5", "no interface has reqid 7");
	expect_err("SA bound to an interface without tunnel",
		   "interfaces:\n  ipsec0: { reqid: 5 }\n"
		   "sas:\n  - { spi: 300, src: 10.0.0.1, dst: 10.0.0.2, reqid: 5,"
		   " aead: aes-gcm-128, key: 0x0102030405060708090a0b0c0d0e0f1011121314 }\n",
		   1, "4:5", "interfaces.ipsec0 has no tunnel");
	expect_err("duplicate spi and dst",
		   BASE SA_GOOD "  - { spi: 10000, src: 192.168.0.1, dst: 192.168.0.2,"
		   " interface: ipsec0, aead: aes-gcm-128,"
		   " key: 0x0102030405060708090a0b0c0d0e0f1011121314 }\n",
		   1, "12:5", "spi 10000 to 192.168.0.2 is already used by sas[0]");
	expect_err("soft lifetime beyond hard",
		   BASE SA_GOOD "    lifetime:\n      soft: { seconds: 100 }\n"
			"      hard: { seconds: 50 }\n", 1, "13:24",
		   "lifetime.soft.seconds: 100 is beyond the hard limit 50");
}

static void test_errors_references(void)
{
	expect_err("route to an unknown dev",
		   BASE "routes:\n  - { prefix: 10.0.0.0/8, dev: ipsec1 }\n", 1,
		   "6:5", "routes[0]: dev 'ipsec1' is neither a port nor an interface");
	expect_err("route via an ipsec interface",
		   BASE "routes:\n  - { prefix: 10.0.0.0/8, via: 172.16.0.1, dev: ipsec0 }\n",
		   1, "6:5", "via is only for routes through a port");
	expect_err("route via of another family",
		   BASE "routes:\n  - { prefix: 10.0.0.0/8, via: \"fe80::1\", dev: wan0 }\n",
		   1, "6:32", "via is IPv6 but the prefix is IPv4");
	expect_err("duplicate route",
		   BASE "routes:\n  - { prefix: 10.0.0.0/8, dev: ipsec0 }\n"
			"  - { prefix: 10.0.0.0/8, via: 192.168.0.9, dev: wan0 }\n",
		   1, "7:5", "routes[1]: 10.0.0.0/8 is already routed by routes[0]");
	expect_err("port and interface of the same name",
		   BASE "  wan0: {}\n", 1, "5:3",
		   "interfaces.wan0: the name is already used by ports.wan0");
	expect_err("two ports on one ethdev",
		   "ports:\n  wan0: { port: 0 }\n  lan0: { port: 0x0 }\n", 1,
		   "3:3", "ports.lan0: ethdev port 0 is already used by ports.wan0");
	expect_err("two ports on one device",
		   "ports:\n  wan0: { port: net_tap0 }\n  lan0: { port: net_tap0 }\n",
		   1, "3:3", "device net_tap0 is already used by ports.wan0");
	expect_err("neighbor on an interface",
		   BASE "neighbors:\n  - { address: 192.168.0.2, lladdr: \"02:00:00:00:00:01\", dev: ipsec0 }\n",
		   1, "6:5", "dev 'ipsec0' is not a port (neighbors are on ports");
	expect_err("neighbor of a family the port lacks",
		   BASE "neighbors:\n  - { address: \"2001:db8::2\", lladdr: \"02:00:00:00:00:01\", dev: wan0 }\n",
		   1, "6:5", "port wan0 has no IPv6 address");
	expect_err("duplicate neighbor",
		   BASE "neighbors:\n"
			"  - { address: 192.168.0.2, lladdr: \"02:00:00:00:00:01\", dev: wan0 }\n"
			"  - { address: 192.168.0.2, lladdr: \"02:00:00:00:00:02\", dev: wan0 }\n",
		   1, "7:5", "192.168.0.2 on wan0 is already given by neighbors[0]");
	expect_err("tunnel of mixed families",
		   "interfaces:\n  ipsec0:\n    tunnel: { local: 10.0.0.1, remote: \"2001:db8::1\" }\n",
		   1, "3:40", "local is IPv4 but remote is IPv6");
	expect_err("tunnel to itself",
		   "interfaces:\n  ipsec0:\n    tunnel: { local: 10.0.0.1, remote: 10.0.0.1 }\n",
		   1, "3:40", "local and remote are the same address");
	expect_err("tunnel without remote",
		   "interfaces:\n  ipsec0:\n    tunnel: { local: 10.0.0.1 }\n", 1,
		   "3:13", "missing key 'tunnel.remote'");
	expect_err("duplicate reqid",
		   "interfaces:\n  ipsec0: { reqid: 5 }\n  ipsec1: { reqid: 5 }\n",
		   1, "3:3", "interfaces.ipsec1: reqid 5 is already used by interfaces.ipsec0");
}

/* One file, many mistakes: every one reported, in file order. */
static void test_many_errors(void)
{
	static const char text[] =
		"ports:\n"
		"  wan0: { port: 0, address: 192.168.0.1/24, mtu: 10 }\n"	/* 2:50 */
		"interfaces:\n"
		"  ipsec0:\n"
		"    tunnel: { local: 192.168.0.1, remote: 192.168.0.2 }\n"
		"    ecn: perhaps\n"						/* 6:10 */
		"sas:\n"
		"  - spi: 1\n"							/* 8:10 */
		"    src: 192.168.0.1\n"
		"    dst: 192.168.0.2\n"
		"    interface: ipsec0\n"
		"    aead: aes-gcm-128\n"
		"    key: 0x0102\n"						/* 13:10 */
		"    colour: blue\n"						/* 14:5 */
		"routes:\n"
		"  - { prefix: 10.0.0.0/8, dev: nowhere }\n"			/* 16:5 */
		"  - { prefix: 10.1.0.1/16, dev: ipsec0 }\n";			/* 17:15 */
	static const char *const want[] = {
		"t.yaml:2:50: ports.wan0: mtu: 10 is out of range",
		"t.yaml:6:10: interfaces.ipsec0: ecn: expected true or false",
		"t.yaml:8:10: sas[0]: spi: 1 is out of range",
		"t.yaml:13:10: sas[0]: aes-gcm-128 needs a key of 20 bytes (16 + 4 salt), got 2",
		"t.yaml:14:5: sas[0]: unknown key 'colour'",
		"t.yaml:16:5: routes[0]: dev 'nowhere' is neither",
		"t.yaml:17:15: routes[1]: prefix: 10.1.0.1/16 has host bits set",
	};
	struct cfg c;
	struct cfg_err err;
	size_t i;
	bool order = true;
	int r = load(text, &c, &err);

	check(r == -1 && err.count == 7 && err.nmsgs == 7,
	      "many errors: all 7 reported (got %u)", err.count);
	for (i = 0; i < 7 && i < err.nmsgs; i++)
		if (strncmp(err.msgs[i], want[i], strlen(want[i])) != 0)
			order = false;
	check(order, "many errors: each as expected, in file order");
	if (!order || err.count != 7)
		dump_errors(&err);
	check(cfg_is_empty(&c), "many errors: cfg left empty");
	cfg_free(&c);
	cfg_err_free(&err);

	/* max bounds the kept messages, not the count. */
	cfg_err_init(&err, NULL, 2);
	r = cfg_load_string("t.yaml", text, strlen(text), &c, &err);
	check(r == -1 && err.count == 7 && err.nmsgs == 2,
	      "many errors: max keeps 2, counts 7");
	cfg_err_free(&err);

	/* A NULL sink still gives the verdict. */
	r = cfg_load_string("t.yaml", text, strlen(text), &c, NULL);
	check(r == -1 && cfg_is_empty(&c), "many errors: NULL err sink");
	r = cfg_load_string("t.yaml", full_yaml, strlen(full_yaml), &c, NULL);
	check(r == 0 && c.nsas == 6, "good file with a NULL err sink");
	cfg_free(&c);
}

/* Whatever goes wrong with a key, its digits never reach a message. */
static void test_key_never_shown(void)
{
#define SECRET "5ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2"
	static const char *const variants[] = {
		SA_AEAD "    key: 0x" SECRET "00\n",		/* 21 bytes */
		SA_AEAD "    key: 0x" SECRET "0\n",		/* odd */
		SA_AEAD "    key: 0x" SECRET "zz\n",		/* not hex */
		SA_AEAD "    key: " SECRET "\n",		/* no 0x */
		SA_AEAD "    key: 0x" SECRET SECRET SECRET SECRET "\n",
		SA_AEAD "    key: [0x" SECRET "]\n",
		"    aead: 0x" SECRET "\n    key: 0x" SECRET "\n",
		"    enc: aes-cbc-128\n    enc-key: 0x" SECRET "\n"
		"    auth: hmac-sha1-96\n    auth-key: 0x" SECRET "ff\n",
		"    enc: null\n    auth: hmac-sha1-96\n    auth-key: 0x" SECRET
		"\n    key: 0x" SECRET "\n",
		SA_AEAD SA_KEY "    replay-window: 0x" SECRET "\n",
		SA_AEAD SA_KEY "    esn: 0x" SECRET "\n",
	};
	size_t i;

	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		char text[1024];
		struct cfg c;
		struct cfg_err err;
		bool leak = false;
		unsigned int j;
		int r;

		snprintf(text, sizeof(text), "%s%s%s%s%s%s", BASE, SA_HEAD,
			 SA_SRC, SA_DST, SA_IF, variants[i]);
		r = load(text, &c, &err);
		for (j = 0; j < err.nmsgs; j++) {
			char low[1024];
			size_t k;

			for (k = 0; err.msgs[j][k] && k + 1 < sizeof(low); k++)
				low[k] = (char)tolower(
					(unsigned char)err.msgs[j][k]);
			low[k] = '\0';
			if (strstr(low, "5ec2e7") != NULL)
				leak = true;
		}
		check(r == -1 && err.count > 0 && !leak,
		      "key never shown, variant %zu", i);
		if (leak || r != -1)
			dump_errors(&err);
		cfg_free(&c);
		cfg_err_free(&err);
	}
#undef SECRET
}

static void test_files(const char *dir)
{
	char path[PATH_MAX];
	struct cfg c;
	struct cfg_err err;
	int r;

	snprintf(path, sizeof(path), "%s/no-such-file.yaml", dir);
	cfg_err_init(&err, NULL, 10);
	r = cfg_load_file(path, &c, &err);
	check(r == -1 && err.count == 1 && err.nmsgs == 1 &&
	      strstr(err.msgs[0], "no-such-file.yaml: cannot open: ") != NULL &&
	      strstr(err.msgs[0], strerror(ENOENT)) != NULL && cfg_is_empty(&c),
	      "missing file: \"path: cannot open: strerror\"");
	cfg_err_free(&err);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted *.yaml names in dir; *n is 0 if the directory is absent. */
static char **yaml_files(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;

	*n = 0;
	if (d == NULL)
		return NULL;
	while ((e = readdir(d)) != NULL) {
		char **nv;

		if (e->d_name[0] == '.' || !has_suffix(e->d_name, ".yaml"))
			continue;
		nv = realloc(v, (*n + 1) * sizeof(*v));
		if (nv == NULL)
			break;
		v = nv;
		v[(*n)++] = strdup(e->d_name);
	}
	closedir(d);
	if (v != NULL)
		qsort(v, *n, sizeof(*v), name_cmp);
	return v;
}

static void test_examples(const char *configdir)
{
	char dir[PATH_MAX], path[PATH_MAX * 2];
	size_t n, i;
	char **names;

	snprintf(dir, sizeof(dir), "%s/examples", configdir);
	names = yaml_files(dir, &n);
	check(n > 0, "examples: %s has *.yaml files", dir);
	for (i = 0; i < n; i++) {
		struct cfg c;
		struct cfg_err err;
		int r;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		cfg_err_init(&err, NULL, 100);
		r = cfg_load_file(path, &c, &err);
		check(r == 0 && err.count == 0 &&
		      c.nports + c.ninterfaces > 0,
		      "example %s loads without errors", names[i]);
		if (r != 0)
			dump_errors(&err);
		cfg_free(&c);
		cfg_err_free(&err);
		free(names[i]);
	}
	free(names);
}

/*
 * config/bad/NAME.yaml: each lists its errors as comments,
 *   # expect-error: LINE:COL: TEXT
 * and must give exactly those (TEXT is a substring of the message).
 */
static void test_bad_files(const char *configdir)
{
	char dir[PATH_MAX], path[PATH_MAX * 2];
	size_t n, i;
	char **names;

	snprintf(dir, sizeof(dir), "%s/bad", configdir);
	names = yaml_files(dir, &n);
	for (i = 0; i < n; i++) {
		static const char tag[] = "# expect-error: ";
		char line[512];
		struct cfg c;
		struct cfg_err err;
		unsigned int want = 0, found = 0;
		FILE *f;
		int r;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		cfg_err_init(&err, NULL, 100);
		r = cfg_load_file(path, &c, &err);
		f = fopen(path, "r");
		while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
			char pos[32], *text, *colon;
			unsigned int j;

			if (strncmp(line, tag, sizeof(tag) - 1) != 0)
				continue;
			line[strcspn(line, "\n")] = '\0';
			text = line + sizeof(tag) - 1;
			/* LINE:COL: then the text */
			colon = strchr(text, ':');
			colon = colon ? strchr(colon + 1, ':') : NULL;
			if (colon == NULL || colon - text >= (long)sizeof(pos))
				continue;
			snprintf(pos, sizeof(pos), "%.*s", (int)(colon - text),
				 text);
			text = colon + 1;
			while (*text == ' ')
				text++;
			want++;
			for (j = 0; j < err.nmsgs; j++) {
				char prefix[PATH_MAX * 2 + 40];

				snprintf(prefix, sizeof(prefix), "%s:%s: ",
					 path, pos);
				if (strncmp(err.msgs[j], prefix,
					    strlen(prefix)) == 0 &&
				    strstr(err.msgs[j], text) != NULL) {
					found++;
					break;
				}
			}
			if (j == err.nmsgs)
				printf("      %s: no error at %s with \"%s\"\n",
				       names[i], pos, text);
		}
		if (f != NULL)
			fclose(f);
		check(r == -1 && want > 0 && found == want &&
		      err.count == want,
		      "bad/%s: exactly its %u expected error(s) (got %u, %u matched)",
		      names[i], want, err.count, found);
		if (found != want || err.count != want)
			dump_errors(&err);
		cfg_free(&c);
		cfg_err_free(&err);
		free(names[i]);
	}
	free(names);
}

/* The socket's way in: one flow mapping with an "op" key. */
static void test_request(void)
{
	static const char req[] =
		"{\"op\": \"sa-add\", \"spi\": \"0x2710\", \"src\": \"192.168.0.1\","
		" \"dst\": \"192.168.0.2\", \"reqid\": 100, \"aead\": \"aes-gcm-128\","
		" \"key\": \"0x0102030405060708090a0b0c0d0e0f1011121314\"}";
	static const char *const ignore[] = { "op", NULL };
	yaml_document_t doc;
	struct cfg_err err;
	struct cfg_ctx ctx;
	struct cfg_sa sa;
	yaml_node_t *root;
	int r;

	cfg_err_init(&err, NULL, 10);
	r = cfg_yaml_load("request", req, strlen(req), &doc, &err);
	check(r == 0, "request: a JSON line is a YAML flow mapping");
	if (r != 0) {
		dump_errors(&err);
		cfg_err_free(&err);
		return;
	}
	root = yaml_document_get_root_node(&doc);
	cfg_ctx_init(&ctx, "request", &doc, &err);
	snprintf(ctx.where, sizeof(ctx.where), "sa-add");
	ctx.ignore = ignore;
	r = cfg_parse_sa_entry(&ctx, root, &sa);
	check(r == 0 && err.count == 0 && sa.spi == 10000 && sa.has_reqid &&
	      sa.reqid == 100 && sa.key_len == 20 && sa.key[19] == 0x14,
	      "request: sa-add parsed by the file's SA parser, op ignored");
	if (r != 0)
		dump_errors(&err);

	/* Without the ignore list, "op" is an unknown key at 1:2. */
	ctx.ignore = NULL;
	r = cfg_parse_sa_entry(&ctx, root, &sa);
	check(r == -1 && err.count == 1 && err.nmsgs == 1 &&
	      strcmp(err.msgs[0], "request:1:2: sa-add: unknown key 'op'") == 0,
	      "request: unknown key reported as request:1:2");
	check(sa.key_len == 0 || sa.key[0] == 0,
	      "request: a failed SA has its keys wiped");
	if (err.nmsgs > 0 && r != -1)
		dump_errors(&err);
	explicit_bzero(&sa, sizeof(sa));
	cfg_yaml_delete(&doc);
	cfg_err_free(&err);

	/* An interface request carries its name. */
	{
		static const char ireq[] =
			"{op: interface-add, name: ipsec7, tunnel: {local: 10.0.0.1, remote: 10.0.0.2}}";
		struct cfg_interface f;

		cfg_err_init(&err, NULL, 10);
		r = cfg_yaml_load("request", ireq, strlen(ireq), &doc, &err);
		cfg_ctx_init(&ctx, "request", &doc, &err);
		ctx.ignore = ignore;
		r = r == 0 ? cfg_parse_interface_entry(&ctx, NULL,
				yaml_document_get_root_node(&doc), &f) : -1;
		check(r == 0 && strcmp(f.name, "ipsec7") == 0 &&
		      f.has_tunnel && !f.has_reqid && f.ecn,
		      "request: interface-add with name");
		if (r != 0)
			dump_errors(&err);
		cfg_yaml_delete(&doc);
		cfg_err_free(&err);
	}
}

static void test_helpers(void)
{
	struct cfg_addr a;
	struct cfg_prefix p;
	struct cfg_pos pos = { "f.yaml", 3, 7 };
	struct cfg_err err;
	char buf[64];

	check(cfg_addr_parse("10.1.2.3", &a) == 0 && a.family == AF_INET &&
	      a.a[0] == 10 && a.a[3] == 3, "cfg_addr_parse IPv4");
	check(cfg_addr_parse("2001:db8::1", &a) == 0 &&
	      a.family == AF_INET6 && a.a[15] == 1, "cfg_addr_parse IPv6");
	check(cfg_addr_parse("10.1.2", &a) == -1 &&
	      cfg_addr_parse("", &a) == -1 &&
	      cfg_addr_parse("10.0.0.1/8", &a) == -1,
	      "cfg_addr_parse rejects junk");
	check(cfg_prefix_parse("10.0.0.0/8", &p) == 0 && p.len == 8,
	      "cfg_prefix_parse");
	check(cfg_prefix_parse("::/0", &p) == 0 && p.len == 0 &&
	      p.addr.family == AF_INET6, "cfg_prefix_parse ::/0");
	check(cfg_prefix_parse("10.0.0.0/", &p) == -1 &&
	      cfg_prefix_parse("10.0.0.0/+8", &p) == -1 &&
	      cfg_prefix_parse("10.0.0.0/33", &p) == -1 &&
	      cfg_prefix_parse("10.0.0.0", &p) == -1,
	      "cfg_prefix_parse rejects junk");
	cfg_addr_parse("2001:db8::1", &a);
	check(strcmp(cfg_addr_str(&a, buf, sizeof(buf)), "2001:db8::1") == 0,
	      "cfg_addr_str");
	check(strcmp(cfg_aead_name(CFG_AEAD_AES_GCM_256), "aes-gcm-256") == 0 &&
	      cfg_aead_keylen(CFG_AEAD_AES_GCM_256) == 36 &&
	      cfg_enc_keylen(CFG_ENC_3DES_CBC) == 24 &&
	      cfg_enc_keylen(CFG_ENC_AES_CTR_192) == 28 &&
	      strcmp(cfg_enc_name(CFG_ENC_NULL), "null") == 0 &&
	      cfg_auth_keylen(CFG_AUTH_HMAC_SHA384_192) == 48 &&
	      strcmp(cfg_auth_name(CFG_AUTH_AES_XCBC_96), "aes-xcbc-96") == 0,
	      "algorithm names and key lengths");

	cfg_err_init(&err, NULL, 5);
	cfg_errorf(&err, &pos, "x %d", 1);
	pos.line = 0;
	cfg_errorf(&err, &pos, "whole file");
	cfg_errorf(&err, NULL, "no position");
	check(err.count == 3 && strcmp(err.msgs[0], "f.yaml:3:7: x 1") == 0 &&
	      strcmp(err.msgs[1], "f.yaml: whole file") == 0 &&
	      strcmp(err.msgs[2], "no position") == 0,
	      "cfg_errorf formats file:line:col");
	cfg_err_free(&err);
	cfg_err_free(&err);

	{
		struct cfg z;

		memset(&z, 0, sizeof(z));
		cfg_free(&z);
		check(cfg_is_empty(&z), "cfg_free on a zeroed cfg");
	}
}

int main(int argc, char **argv)
{
	const char *configdir = argc > 1 ? argv[1] : "../../config";

	verbose = getenv("TEST_VERBOSE") != NULL;
	test_helpers();
	test_full();
	test_empty();
	test_base_is_good();
	test_errors_structure();
	test_streamed_lists();
	test_errors_values();
	test_sa_bound_by_addresses();
	test_errors_sa_semantics();
	test_errors_references();
	test_many_errors();
	test_key_never_shown();
	test_request();
	test_files(configdir);
	test_examples(configdir);
	test_bad_files(configdir);

	printf("%u passed, %u failed\n", passed, failed);
	return failed == 0 ? 0 : 1;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ipsecctl: the gateway's command line.  Words in the manner of
 * ifconfig(8), setkey(8) and route(8) become one request line of the
 * control socket (docs/control-protocol.md), so that the seeds' examples
 * carry over word for word; the reply is printed as a table, or as JSON
 * with -j.  With -n the request is printed instead of sent.
 *
 * The grammar is in tables.  Commands (struct cmd) are matched by unique
 * prefix, "sh int" being "show interfaces"; a command's handler reads its
 * positional words and then option words (struct word) from a table of
 * its own.  Option words are matched exactly: they share the command line
 * with names and addresses, and a prefix of one could be either.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/ipsecctl.h"

#define DEFAULT_SOCKET	"/run/ipsecgw/ipsecgw.sock"
#define NELEM(t)	(sizeof(t) / sizeof((t)[0]))

static const char usage_text[] =
"usage: ipsecctl [-jn] [-S socket] command [argument ...]\n"
"  show [interfaces | sas | routes | neighbors | ports | stats]\n"
"  interface create | destroy NAME [reqid N]\n"
"  interface NAME [tunnel SRC DST] [inet | inet6 ADDR[/LEN] [PEER]]\n"
"      [nat-t | ecn | ipv6 on | off] [df clear | set | copy] [mtu N | auto]\n"
"      [[-]link0 | [-]link1 | [-]link2] [up | down]\n"
"  sa add SRC DST esp SPI [reqid N] [interface NAME]\n"
"      (aead ALG KEY | enc ALG KEY [auth ALG KEY]) [esn] [replay N]\n"
"      [soft-bytes | soft-packets | soft-seconds N] [hard-... N]\n"
"      [nat-t-port N]\n"
"  sa update SRC DST esp SPI [soft-... N] [hard-... N] [nat-t-port N]\n"
"  sa get | delete SRC DST esp SPI\n"
"  sa flush [interface NAME]       sa list [interface NAME]\n"
"  sa getspi DST [SRC] [reqid N | interface NAME] [timeout SECONDS]\n"
"  route add PREFIX (dev IF | [via] ADDR [dev PORT])\n"
"  route delete PREFIX             route show\n"
"  neighbor add ADDR LLADDR dev PORT\n"
"  neighbor delete ADDR dev PORT   neighbor show\n"
"  reload [FILE]   stats [reset]   monitor   hello\n";

struct words {			/* the command's words not read yet */
	char **v;
	int n;
	char cmd[64];		/* the command so far, for messages */
};

struct cmd {
	const char *word;
	void (*fn)(struct words *w);
	/* without fn: a request that is only this op, shown this way */
	const char *op;
	enum show show;
};

enum wtype {
	W_NUM,		/* NUMBER, 32 bits */
	W_STR,		/* WORD */
	W_ONOFF,	/* on | off, a boolean */
	W_SET,		/* the word alone sets the boolean to arg */
	W_ENUM,		/* one of arg's "a|b|c"; checked only, if no field */
	W_MTU,		/* NUMBER | auto */
	W_ALG,		/* ALG KEY, field enc, auth or aead */
	W_LIFE,		/* NUMBER, 64 bits, into lifetime.<field>.<arg> */
	W_TUNNEL,	/* SRC DST */
	W_INET,		/* ADDR[/LEN] [PEER] | tunnel SRC DST, family arg */
	W_NOOP,
};

struct word {
	const char *word;
	enum wtype type;
	const char *field;
	const char *arg;
};

/* What main sends and how it shows the reply. */
static struct {
	struct jnode *req;
	enum show show;
	const char *filter;	/* "interface NAME": the one row to keep */
	bool monitor;
} job;

static bool route_net;		/* route(8)'s -net */
static int monitor_fd = -1;

void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("ipsecctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void __attribute__((format(printf, 1, 2), noreturn))
usage(const char *fmt, ...)
{
	va_list ap;

	fputs("ipsecctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fputs(usage_text, stderr);
	exit(2);
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		die("out of memory");
	return p;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		die("out of memory");
	return p;
}

/*
 * Reading words
 */

static const char *
take(struct words *w, const char *what)
{
	if (w->n == 0)
		usage("%s: missing %s", w->cmd, what);
	w->n--;
	return *w->v++;
}

static const char *
peek(const struct words *w)
{
	return w->n > 0 ? w->v[0] : NULL;
}

static void
end(const struct words *w)
{
	if (w->n > 0)
		usage("%s: unexpected '%s'", w->cmd, w->v[0]);
}

/* Decimal, or hex with 0x as setkey writes SPIs. */
static uint64_t
number(struct words *w, const char *what, uint64_t max)
{
	const char *s = take(w, what), *p = s;
	unsigned long long v;
	int base = 10;
	char *e;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	errno = 0;
	if (base == 16 ? !isxdigit((unsigned char)*p) :
	    !isdigit((unsigned char)*p))
		usage("%s: %s is not a number: '%s'", w->cmd, what, s);
	v = strtoull(p, &e, base);
	if (*e != '\0' || errno != 0 || v > max)
		usage("%s: %s is not a number up to %llu: '%s'", w->cmd, what,
		    (unsigned long long)max, s);
	return v;
}

/* 4 or 6 by the address's family; 0 if it is no address. */
static int
family(const char *s)
{
	unsigned char b[16];

	if (s == NULL)
		return 0;
	if (inet_pton(AF_INET, s, b) == 1)
		return 4;
	if (inet_pton(AF_INET6, s, b) == 1)
		return 6;
	return 0;
}

static const char *
address(struct words *w, const char *what)
{
	const char *s = take(w, what);

	if (family(s) == 0)
		usage("%s: %s is not an IPv4 or IPv6 address: '%s'", w->cmd,
		    what, s);
	return s;
}

static void
same_family(struct words *w, const char *a, const char *b, int want)
{
	int fa = family(a);

	if (fa != family(b) || (want != 0 && fa != want))
		usage("%s: %s and %s are not both %s", w->cmd, a, b,
		    want == 6 ? "IPv6" : want == 4 ? "IPv4" : "of one family");
}

/*
 * route(8)'s -net without a length: as BSD does, the zero octets at the
 * end of an IPv4 address are the host part (10.0.2.0 is a /24); IPv6
 * networks are /64.
 */
static unsigned int
net_len(const char *a, int fam)
{
	unsigned char b[4];
	unsigned int len;

	if (fam == 6 || inet_pton(AF_INET, a, b) != 1)
		return 64;
	for (len = 32; len > 0 && b[len / 8 - 1] == 0; len -= 8)
		;
	return len;
}

/* ADDR/LEN; an address alone is a host, /32 or /128.  Must be freed. */
static char *
prefix(struct words *w, const char *what, int want, bool net)
{
	const char *s = take(w, what);
	char a[INET6_ADDRSTRLEN + 8], *slash, out[sizeof(a) + 8];
	unsigned int len, max;
	int fam;

	if (strlen(s) >= sizeof(a))
		usage("%s: %s is not a prefix: '%s'", w->cmd, what, s);
	snprintf(a, sizeof(a), "%s", s);
	if ((slash = strchr(a, '/')) != NULL)
		*slash++ = '\0';
	fam = family(a);
	if (fam == 0 || (want != 0 && fam != want))
		usage("%s: %s is not an IPv%s prefix: '%s'", w->cmd, what,
		    want == 6 ? "6" : want == 4 ? "4" : "4 or IPv6", s);
	max = fam == 4 ? 32 : 128;
	if (slash == NULL) {
		len = net ? net_len(a, fam) : max;
	} else {
		if (*slash == '\0' || strlen(slash) > 3 ||
		    strspn(slash, "0123456789") != strlen(slash) ||
		    (len = (unsigned int)atoi(slash)) > max)
			usage("%s: bad prefix length in '%s'", w->cmd, s);
	}
	snprintf(out, sizeof(out), "%s/%u", a, len);
	return xstrdup(out);
}

/* One of list's "a|b|c". */
static const char *
choice(struct words *w, const char *what, const char *list)
{
	const char *s = take(w, what), *p = list;
	size_t n = strlen(s), l;

	for (;; p += l + 1) {
		l = strcspn(p, "|");
		if (l == n && strncmp(p, s, n) == 0)
			return s;
		if (p[l] == '\0')
			break;
	}
	usage("%s: %s takes %s, not '%s'", w->cmd, what, list, s);
}

/*
 * Keys: 0x-hex goes as it is.  Anything else is setkey's "quoted string",
 * its bytes in hex; the shell has eaten the quotes, and quotes that
 * survived it (a setkey line pasted inside '') are not part of the key.
 * The key is never echoed in a message.
 */
static char *
key(struct words *w, size_t *bytes)
{
	const char *s = take(w, "KEY");
	size_t n = strlen(s), i;
	char *out;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		if (n == 2 || n % 2 != 0 ||
		    strspn(s + 2, "0123456789abcdefABCDEF") != n - 2)
			usage("%s: a 0x key needs an even number of hex "
			    "digits", w->cmd);
		*bytes = (n - 2) / 2;
		return xstrdup(s);
	}
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s++;
		n -= 2;
	}
	if (n == 0)
		usage("%s: empty key", w->cmd);
	out = xcalloc(2 * n + 3, 1);
	memcpy(out, "0x", 2);
	for (i = 0; i < n; i++)
		snprintf(out + 2 + 2 * i, 3, "%02x", (unsigned char)s[i]);
	*bytes = n;
	return out;
}

/*
 * setkey(8)'s algorithm names as ours.  A sized one takes its size from
 * the key, less the salt or nonce that follows it (RFC 4106, RFC 3686).
 */
static const struct alias {
	const char *from, *to;
	bool sized;
	unsigned int salt;
} aliases[] = {
	{ "rijndael-cbc", "aes-cbc", true, 0 },
	{ "aes-cbc", "aes-cbc", true, 0 },
	{ "aes-ctr", "aes-ctr", true, 4 },
	{ "aes-gcm-16", "aes-gcm", true, 4 },
	{ "hmac-sha1", "hmac-sha1-96", false, 0 },
	{ "hmac-sha256", "hmac-sha256-128", false, 0 },
	{ "hmac-sha384", "hmac-sha384-192", false, 0 },
	{ "hmac-sha512", "hmac-sha512-256", false, 0 },
	{ "aes-xcbc-mac", "aes-xcbc-96", false, 0 },
};

static const char *
alg_name(struct words *w, const char *name, size_t bytes, char *b,
    size_t n)
{
	const struct alias *a;
	size_t bits;

	for (a = aliases; a < aliases + NELEM(aliases); a++)
		if (strcmp(a->from, name) == 0)
			break;
	if (a == aliases + NELEM(aliases))
		return name;
	if (!a->sized)
		return a->to;
	bits = bytes >= a->salt ? (bytes - a->salt) * 8 : 0;
	if (bits != 128 && bits != 192 && bits != 256)
		usage("%s: %s takes a key of 16, 24 or 32 bytes%s, not %zu",
		    w->cmd, name, a->salt ? " and 4 of salt" : "", bytes);
	snprintf(b, n, "%s-%zu", a->to, bits);
	return b;
}

static bool
is_aead(const char *alg)
{
	return strncmp(alg, "aes-gcm-", 8) == 0 ||
	    strncmp(alg, "aes-gmac-", 9) == 0 ||
	    strcmp(alg, "chacha20-poly1305") == 0;
}

/*
 * Building the request
 */

static struct jnode *
request(const char *op, enum show show)
{
	job.req = jn_new(J_OBJ, NULL);
	job.show = show;
	jn_put(job.req, "op", jn_new(J_STR, op));
	return job.req;
}

static void
put_str(struct jnode *o, const char *k, const char *v)
{
	jn_put(o, k, jn_new(J_STR, v));
}

static struct jnode *
sub(struct jnode *o, const char *k, enum jtype type)
{
	struct jnode *v = jn_get(o, k);

	return v != NULL ? v : jn_put(o, k, jn_new(type, NULL));
}

/* setkey's -E takes AEAD algorithms too: they go to "aead". */
static void
algorithm(struct words *w, const char *field, struct jnode *req)
{
	const char *name = take(w, "ALG");
	char b[64], *k;
	size_t bytes;

	k = key(w, &bytes);
	name = alg_name(w, name, bytes, b, sizeof(b));
	if (strcmp(field, "enc") == 0 && is_aead(name))
		field = "aead";
	put_str(req, field, name);
	put_str(req, strcmp(field, "aead") == 0 ? "key" :
	    strcmp(field, "enc") == 0 ? "enc-key" : "auth-key", k);
	free(k);
}

static void
tunnel(struct words *w, int want, struct jnode *req)
{
	const char *src = address(w, "SRC"), *dst = address(w, "DST");
	struct jnode *t;

	same_family(w, src, dst, want);
	t = jn_put(req, "tunnel", jn_new(J_OBJ, NULL));
	put_str(t, "local", src);
	put_str(t, "remote", dst);
}

/* ifconfig's "inet ADDR [PEER]" and FreeBSD's "inet tunnel SRC DST". */
static void
inet(struct words *w, int fam, struct jnode *req)
{
	const char *peer;
	char *p;

	if (peek(w) != NULL && strcmp(peek(w), "tunnel") == 0) {
		take(w, "tunnel");
		tunnel(w, fam, req);
		return;
	}
	p = prefix(w, "ADDR", fam, false);
	jn_push(sub(req, "address", J_ARR), jn_new(J_STR, p));
	free(p);
	if (family(peek(w)) != 0) {
		peer = take(w, "PEER");
		if (family(peer) != fam)
			usage("%s: peer %s is not IPv%d", w->cmd, peer, fam);
		put_str(req, "peer", peer);
	}
}

static void
option(struct words *w, const struct word *t, size_t n, struct jnode *req)
{
	const char *s = take(w, "argument");
	const struct word *o;

	for (o = t; o < t + n; o++)
		if (strcmp(o->word, s) == 0)
			break;
	if (o == t + n)
		usage("%s: unknown argument '%s'", w->cmd, s);
	switch (o->type) {
	case W_NUM:
		jn_put(req, o->field, jn_num(number(w, s, UINT32_MAX)));
		break;
	case W_STR:
		put_str(req, o->field, take(w, s));
		break;
	case W_ONOFF:
		s = choice(w, s, "on|off");
		jn_put(req, o->field, jn_new(J_BOOL,
		    strcmp(s, "on") == 0 ? "true" : "false"));
		break;
	case W_SET:
		jn_put(req, o->field, jn_new(J_BOOL, o->arg));
		break;
	case W_ENUM:
		s = choice(w, s, o->arg);
		if (o->field != NULL)
			put_str(req, o->field, s);
		break;
	case W_MTU:
		if (peek(w) != NULL && strcmp(peek(w), "auto") == 0)
			put_str(req, o->field, take(w, s));
		else
			jn_put(req, o->field, jn_num(number(w, s, 65535)));
		break;
	case W_ALG:
		algorithm(w, o->field, req);
		break;
	case W_LIFE:
		jn_put(sub(sub(req, "lifetime", J_OBJ), o->field, J_OBJ),
		    o->arg, jn_num(number(w, s, UINT64_MAX)));
		break;
	case W_TUNNEL:
		tunnel(w, 0, req);
		break;
	case W_INET:
		inet(w, o->arg[0] == '6' ? 6 : 4, req);
		break;
	case W_NOOP:
		break;
	}
}

static void
options(struct words *w, const struct word *t, size_t n, struct jnode *req)
{
	while (w->n > 0)
		option(w, t, n, req);
}

static void
need(const struct words *w, const struct jnode *req, const char *field,
    const char *what)
{
	if (jn_get(req, field) == NULL)
		usage("%s: needs %s", w->cmd, what);
}

/*
 * The commands
 */

static void dispatch(const struct cmd *t, size_t n, struct words *w,
    const char *what);

/* ifconfig(8) and ipsecif(4)'s link flags; up and down mean nothing here. */
static const struct word if_words[] = {
	{ "tunnel", W_TUNNEL, NULL, NULL },
	{ "inet", W_INET, NULL, "4" },
	{ "inet6", W_INET, NULL, "6" },
	{ "reqid", W_NUM, "reqid", NULL },
	{ "nat-t", W_ONOFF, "nat-t", NULL },
	{ "ecn", W_ONOFF, "ecn", NULL },
	{ "ipv6", W_ONOFF, "ipv6", NULL },
	{ "df", W_ENUM, "df", "clear|set|copy" },
	{ "mtu", W_MTU, "mtu", NULL },
	{ "link0", W_SET, "nat-t", "true" },
	{ "-link0", W_SET, "nat-t", "false" },
	{ "link1", W_SET, "ecn", "true" },
	{ "-link1", W_SET, "ecn", "false" },
	{ "link2", W_SET, "ipv6", "true" },
	{ "-link2", W_SET, "ipv6", "false" },
	{ "set", W_NOOP, NULL, NULL },
	{ "up", W_NOOP, NULL, NULL },
	{ "down", W_NOOP, NULL, NULL },
};

/*
 * interface create NAME, and ifconfig's order, NAME create, too: the
 * creation takes every setting that interface NAME does.
 */
static void
c_interface(struct words *w)
{
	const char *name = take(w, "NAME"), *verb = "";
	struct jnode *req;

	if (strcmp(name, "create") == 0 || strcmp(name, "destroy") == 0) {
		verb = name;
		name = take(w, "NAME");
	} else if (peek(w) != NULL && (strcmp(peek(w), "create") == 0 ||
	    strcmp(peek(w), "destroy") == 0)) {
		verb = take(w, "create");
	}
	if (strcmp(verb, "destroy") == 0) {
		end(w);
		put_str(request("interface-del", SHOW_NONE), "name", name);
	} else if (strcmp(verb, "create") == 0) {
		req = request("interface-add", SHOW_NONE);
		put_str(req, "name", name);
		options(w, if_words, NELEM(if_words), req);
	} else if (w->n == 0) {
		request("interface-list", SHOW_INTERFACES);
		job.filter = name;
	} else {
		req = request("interface-set", SHOW_NONE);
		put_str(req, "name", name);
		options(w, if_words, NELEM(if_words), req);
	}
}

/* The lifetime words and nat-t-port come first: sa update takes only
 * those. */
#define NLIFE 11
static const struct word sa_words[] = {
	{ "soft-bytes", W_LIFE, "soft", "bytes" },
	{ "soft-packets", W_LIFE, "soft", "packets" },
	{ "soft-seconds", W_LIFE, "soft", "seconds" },
	{ "hard-bytes", W_LIFE, "hard", "bytes" },
	{ "hard-packets", W_LIFE, "hard", "packets" },
	{ "hard-seconds", W_LIFE, "hard", "seconds" },
	{ "-bs", W_LIFE, "soft", "bytes" },
	{ "-bh", W_LIFE, "hard", "bytes" },
	{ "-ls", W_LIFE, "soft", "seconds" },
	{ "-lh", W_LIFE, "hard", "seconds" },
	{ "nat-t-port", W_NUM, "nat-t-port", NULL },
	{ "reqid", W_NUM, "reqid", NULL },
	{ "-u", W_NUM, "reqid", NULL },
	{ "interface", W_STR, "interface", NULL },
	{ "-m", W_ENUM, NULL, "tunnel|any" },
	{ "aead", W_ALG, "aead", NULL },
	{ "enc", W_ALG, "enc", NULL },
	{ "-E", W_ALG, "enc", NULL },
	{ "auth", W_ALG, "auth", NULL },
	{ "-A", W_ALG, "auth", NULL },
	{ "esn", W_SET, "esn", "true" },
	{ "replay", W_NUM, "replay-window", NULL },
	{ "replay-window", W_NUM, "replay-window", NULL },
};

static const struct word flush_words[] = {
	{ "interface", W_STR, "interface", NULL },
	{ "reqid", W_NUM, "reqid", NULL },
	{ "esp", W_NOOP, NULL, NULL },		/* setkey's "flush esp" */
};

static const struct word getspi_words[] = {
	{ "reqid", W_NUM, "reqid", NULL },
	{ "interface", W_STR, "interface", NULL },
	{ "timeout", W_NUM, "timeout", NULL },
};

static const struct word dev_words[] = {
	{ "dev", W_STR, "dev", NULL },
};

/* setkey's "SRC DST esp SPI" */
static struct jnode *
sa_request(struct words *w, const char *op, enum show show)
{
	const char *src = address(w, "SRC"), *dst = address(w, "DST");
	const char *proto = take(w, "esp");
	struct jnode *req;
	uint64_t spi;

	same_family(w, src, dst, 0);
	if (strcmp(proto, "esp") != 0)
		usage("%s: only esp is supported, not '%s'", w->cmd, proto);
	spi = number(w, "SPI", UINT32_MAX);
	req = request(op, show);
	jn_put(req, "spi", jn_num(spi));
	put_str(req, "src", src);
	put_str(req, "dst", dst);
	return req;
}

static void
c_sa_add(struct words *w)
{
	struct jnode *req = sa_request(w, "sa-add", SHOW_NONE);

	options(w, sa_words, NELEM(sa_words), req);
	if (jn_get(req, "aead") == NULL && jn_get(req, "enc") == NULL)
		usage("%s: needs aead ALG KEY, enc ALG KEY or -E ALG KEY",
		    w->cmd);
}

static void
c_sa_update(struct words *w)
{
	options(w, sa_words, NLIFE, sa_request(w, "sa-update", SHOW_NONE));
}

static void
c_sa_get(struct words *w)
{
	sa_request(w, "sa-get", SHOW_SA);
	end(w);
}

static void
c_sa_delete(struct words *w)
{
	sa_request(w, "sa-del", SHOW_NONE);
	end(w);
}

static void
c_sa_flush(struct words *w)
{
	options(w, flush_words, NELEM(flush_words),
	    request("sa-flush", SHOW_FLUSH));
}

static void
c_sa_list(struct words *w)
{
	options(w, flush_words, 1, request("sa-list", SHOW_SAS));
}

static void
c_sa_getspi(struct words *w)
{
	const char *dst = address(w, "DST");
	struct jnode *req = request("get-spi", SHOW_SPI);

	put_str(req, "dst", dst);
	if (family(peek(w)) != 0) {
		same_family(w, dst, peek(w), 0);
		put_str(req, "src", take(w, "SRC"));
	}
	options(w, getspi_words, NELEM(getspi_words), req);
}

static const struct cmd sa_cmds[] = {
	{ "add", c_sa_add, NULL, SHOW_NONE },
	{ "update", c_sa_update, NULL, SHOW_NONE },
	{ "get", c_sa_get, NULL, SHOW_NONE },
	{ "delete", c_sa_delete, NULL, SHOW_NONE },
	{ "flush", c_sa_flush, NULL, SHOW_NONE },
	{ "list", c_sa_list, NULL, SHOW_NONE },
	{ "dump", c_sa_list, NULL, SHOW_NONE },		/* setkey -D */
	{ "getspi", c_sa_getspi, NULL, SHOW_NONE },
};

static void
c_sa(struct words *w)
{
	dispatch(sa_cmds, NELEM(sa_cmds), w, "sa command");
}

/*
 * route add PREFIX dev IF | via ADDR [dev PORT] | GATEWAY: route(8)'s
 * second address is the gateway.
 */
static void
c_route_add(struct words *w)
{
	struct jnode *req = request("route-add", SHOW_NONE);
	char *p = prefix(w, "PREFIX", 0, route_net);
	const char *s;

	put_str(req, "prefix", p);
	free(p);
	while (w->n > 0) {
		s = take(w, "argument");
		if (strcmp(s, "dev") == 0)
			put_str(req, "dev", take(w, "dev"));
		else if (strcmp(s, "via") == 0)
			put_str(req, "via", address(w, "via"));
		else if (family(s) != 0 && jn_get(req, "via") == NULL)
			put_str(req, "via", s);
		else
			usage("%s: unexpected '%s'", w->cmd, s);
	}
	if (jn_get(req, "dev") == NULL)
		need(w, req, "via", "dev IF or via ADDR");
}

static void
c_route_delete(struct words *w)
{
	char *p = prefix(w, "PREFIX", 0, route_net);

	end(w);
	put_str(request("route-del", SHOW_NONE), "prefix", p);
	free(p);
}

static const struct cmd route_cmds[] = {
	{ "add", c_route_add, NULL, SHOW_NONE },
	{ "delete", c_route_delete, NULL, SHOW_NONE },
	{ "show", NULL, "route-list", SHOW_ROUTES },
	{ "list", NULL, "route-list", SHOW_ROUTES },
};

/*
 * route(8)'s flags may stand anywhere ("route -n add -net ..."); the
 * family shows in the addresses, and only -net changes what a prefix
 * without a length means.
 */
static void
c_route(struct words *w)
{
	static const char *const flags[] = {
		"-n", "-net", "-host", "-inet", "-inet6", "-static",
	};
	int i, k = 0;
	size_t f;

	for (i = 0; i < w->n; i++) {
		for (f = 0; f < NELEM(flags); f++)
			if (strcmp(w->v[i], flags[f]) == 0)
				break;
		if (f == NELEM(flags))
			w->v[k++] = w->v[i];
		else if (f == 1)
			route_net = true;
	}
	w->n = k;
	dispatch(route_cmds, NELEM(route_cmds), w, "route command");
}

static void
c_neighbor_add(struct words *w)
{
	const char *a = address(w, "ADDR"), *ll = take(w, "LLADDR");
	struct jnode *req = request("neighbor-add", SHOW_NONE);

	put_str(req, "address", a);
	put_str(req, "lladdr", ll);
	options(w, dev_words, NELEM(dev_words), req);
	need(w, req, "dev", "dev PORT");
}

static void
c_neighbor_delete(struct words *w)
{
	const char *a = address(w, "ADDR");
	struct jnode *req = request("neighbor-del", SHOW_NONE);

	put_str(req, "address", a);
	options(w, dev_words, NELEM(dev_words), req);
	need(w, req, "dev", "dev PORT");
}

static const struct cmd neighbor_cmds[] = {
	{ "add", c_neighbor_add, NULL, SHOW_NONE },
	{ "delete", c_neighbor_delete, NULL, SHOW_NONE },
	{ "show", NULL, "neighbor-list", SHOW_NEIGHBORS },
	{ "list", NULL, "neighbor-list", SHOW_NEIGHBORS },
};

static void
c_neighbor(struct words *w)
{
	dispatch(neighbor_cmds, NELEM(neighbor_cmds), w, "neighbor command");
}

static const struct cmd show_cmds[] = {
	{ "interfaces", NULL, "interface-list", SHOW_INTERFACES },
	{ "sas", NULL, "sa-list", SHOW_SAS },
	{ "routes", NULL, "route-list", SHOW_ROUTES },
	{ "neighbors", NULL, "neighbor-list", SHOW_NEIGHBORS },
	{ "ports", NULL, "stats", SHOW_PORTS },
	{ "stats", NULL, "stats", SHOW_STATS },
};

static void
c_show(struct words *w)
{
	if (w->n == 0)
		request("interface-list", SHOW_INTERFACES);
	else
		dispatch(show_cmds, NELEM(show_cmds), w, "thing to show");
}

static const struct cmd stats_cmds[] = {
	{ "reset", NULL, "stats-reset", SHOW_NONE },
};

static void
c_stats(struct words *w)
{
	if (w->n == 0)
		request("stats", SHOW_STATS);
	else
		dispatch(stats_cmds, NELEM(stats_cmds), w, "stats command");
}

/*
 * The gateway runs in another working directory: a relative FILE is made
 * absolute here, symbolic links resolved when the file exists.
 */
static void
c_reload(struct words *w)
{
	struct jnode *req = request("reload", SHOW_RELOAD);
	char cwd[PATH_MAX], *abs, *f;
	size_t n;

	if (w->n == 0)
		return;
	f = (char *)take(w, "FILE");
	end(w);
	if ((abs = realpath(f, NULL)) == NULL && f[0] != '/') {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			die("getcwd: %s", strerror(errno));
		while (strncmp(f, "./", 2) == 0)
			f += 2;
		n = strlen(cwd) + strlen(f) + 2;
		abs = xcalloc(n, 1);
		snprintf(abs, n, "%s/%s", cwd, f);
	}
	put_str(req, "file", abs != NULL ? abs : f);
	free(abs);
}

static void
c_monitor(struct words *w)
{
	end(w);
	request("subscribe", SHOW_NONE);
	job.monitor = true;
}

static const struct cmd top_cmds[] = {
	{ "show", c_show, NULL, SHOW_NONE },
	{ "interface", c_interface, NULL, SHOW_NONE },
	{ "sa", c_sa, NULL, SHOW_NONE },
	{ "route", c_route, NULL, SHOW_NONE },
	{ "neighbor", c_neighbor, NULL, SHOW_NONE },
	{ "reload", c_reload, NULL, SHOW_NONE },
	{ "stats", c_stats, NULL, SHOW_NONE },
	{ "monitor", c_monitor, NULL, SHOW_NONE },
	{ "hello", NULL, "hello", SHOW_HELLO },
	{ "version", NULL, "hello", SHOW_HELLO },
};

/* An exact match, or else the one command the word is a prefix of. */
static void
dispatch(const struct cmd *t, size_t n, struct words *w, const char *what)
{
	const char *s = take(w, what), *sep = w->cmd[0] ? ": " : "";
	const struct cmd *hit = NULL, *pre = NULL, *c;
	size_t len = strlen(s);
	bool ambiguous = false;

	for (c = t; c < t + n; c++) {
		if (strcmp(c->word, s) == 0) {
			hit = c;
		} else if (len > 0 && strncmp(c->word, s, len) == 0) {
			/* aliases of one command are no ambiguity */
			if (pre != NULL &&
			    (pre->fn != c->fn || pre->show != c->show))
				ambiguous = true;
			pre = c;
		}
	}
	if (hit == NULL && ambiguous)
		usage("%s%sambiguous argument '%s'", w->cmd, sep, s);
	if (hit == NULL && (hit = pre) == NULL)
		usage("%s%sunknown %s '%s'", w->cmd, sep, what, s);
	if (w->cmd[0] == '\0')
		snprintf(w->cmd, sizeof(w->cmd), "%s", hit->word);
	else
		snprintf(w->cmd + strlen(w->cmd), sizeof(w->cmd) -
		    strlen(w->cmd), " %s", hit->word);
	if (hit->fn != NULL) {
		hit->fn(w);
	} else {
		end(w);
		request(hit->op, hit->show);
	}
}

/*
 * Talking to the gateway
 */

struct conn {
	int fd;
	const char *path;
	char *buf;
	size_t start, len, cap;	/* unread bytes are buf[start..len) */
};

static void
conn_open(struct conn *c, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int e;

	memset(c, 0, sizeof(*c));
	c->path = path;
	if (strlen(path) >= sizeof(sun.sun_path))
		die("%s: socket path too long", path);
	memcpy(sun.sun_path, path, strlen(path));
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		die("socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		e = errno;
		die("cannot connect to %s: %s%s", path, strerror(e),
		    e == ENOENT || e == ECONNREFUSED ?
		    " (is ipsecgw running?)" : "");
	}
}

static void
conn_send(struct conn *c, const struct jnode *req)
{
	char *line = NULL;
	size_t len = 0, off = 0;
	FILE *f = open_memstream(&line, &len);
	ssize_t n;

	if (f == NULL)
		die("out of memory");
	jn_emit(f, req, 0);
	if (fclose(f) != 0)
		die("out of memory");
	while (off < len) {
		n = send(c->fd, line + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("%s: %s", c->path, strerror(errno));
		off += (size_t)n;
	}
	free(line);
}

/*
 * The next line, its "\n" made a NUL; NULL at the end of the stream.  A
 * reply listing every SA may be megabytes long: the buffer grows, and
 * the search for "\n" resumes where the last one stopped.
 */
static char *
conn_line(struct conn *c, size_t *len)
{
	size_t scan = c->start;
	char *nl, *line;
	ssize_t n;

	for (;;) {
		/* the buffer is NULL until the first read */
		nl = c->len > scan ? memchr(c->buf + scan, '\n', c->len - scan) :
				     NULL;
		if (nl != NULL) {
			line = c->buf + c->start;
			*nl = '\0';
			*len = (size_t)(nl - line);
			c->start = (size_t)(nl - c->buf) + 1;
			return line;
		}
		if (c->start > 0)
			memmove(c->buf, c->buf + c->start, c->len - c->start);
		c->len -= c->start;
		c->start = 0;
		scan = c->len;
		if (c->cap - c->len < 4096) {
			c->cap = c->cap ? c->cap * 2 : 65536;
			if ((c->buf = realloc(c->buf, c->cap)) == NULL)
				die("out of memory");
		}
		n = read(c->fd, c->buf + c->len, c->cap - c->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("%s: %s", c->path, strerror(errno));
		if (n == 0)
			return NULL;
		c->len += (size_t)n;
	}
}

static struct jnode *
conn_reply(struct conn *c)
{
	struct jnode *r;
	char *line;
	size_t len;

	if ((line = conn_line(c, &len)) == NULL)
		die("%s: the gateway closed the connection without a reply",
		    c->path);
	if ((r = jn_parse(line, len)) == NULL || r->type != J_OBJ ||
	    jn_get(r, "ok") == NULL)
		die("%s: a reply that is no JSON object with \"ok\"", c->path);
	return r;
}

/* "interface NAME" is interface-list less every other interface. */
static void
keep_interface(struct jnode *reply, const char *name)
{
	struct jnode *list = jn_get(reply, "interfaces"), *k, *next;
	struct jnode *keep = NULL;
	const char *s;

	for (k = list != NULL ? list->kids : NULL; k != NULL; k = next) {
		next = k->next;
		k->next = NULL;
		s = jn_str(k, "name");
		if (keep == NULL && s != NULL && strcmp(s, name) == 0)
			keep = k;
		else
			jn_free(k);
	}
	if (keep == NULL)
		die("no such interface: %s", name);
	list->kids = list->last = keep;
}

/*
 * SIGINT ends a monitor by shutting the socket's reading side: a read
 * under way or about to start returns the end of the stream, so there is
 * no window between a flag's test and the read to lose the signal in.
 */
static void
on_signal(int sig)
{
	shutdown(monitor_fd, SHUT_RD);
}

static int
monitor(struct conn *c, bool json)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	struct jnode *ev;
	char *line;
	size_t len;

	monitor_fd = c->fd;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while ((line = conn_line(c, &len)) != NULL) {
		if ((ev = jn_parse(line, len)) == NULL || ev->type != J_OBJ) {
			fprintf(stderr, "ipsecctl: not an event: %s\n", line);
			jn_free(ev);
			continue;
		}
		if (json) {
			jn_emit(stdout, ev, JN_NOSECRETS);
			fflush(stdout);
		} else {
			show_event(ev);
		}
		jn_free(ev);
	}
	return 0;
}

static int
run(const char *path, bool json)
{
	struct conn c;
	struct jnode *reply;
	const char *err;
	int rc = 0;

	conn_open(&c, path);
	conn_send(&c, job.req);
	reply = conn_reply(&c);
	if (strcmp(jn_get(reply, "ok")->val ? jn_get(reply, "ok")->val : "",
	    "true") != 0) {
		if (json)
			jn_emit(stdout, reply, JN_PRETTY | JN_NOSECRETS);
		err = jn_str(reply, "error");
		fprintf(stderr, "ipsecctl: %s\n", err != NULL ? err :
		    "the gateway refused the request");
		rc = 1;
	} else if (job.monitor) {
		rc = monitor(&c, json);
	} else {
		if (job.filter != NULL)
			keep_interface(reply, job.filter);
		if (json)
			jn_emit(stdout, reply, JN_PRETTY | JN_NOSECRETS);
		else
			show_reply(job.show, reply);
	}
	jn_free(reply);
	free(c.buf);
	close(c.fd);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *path = getenv("IPSECGW_SOCKET");
	struct words w = { 0 };
	bool json = false, dry = false;
	int opt, rc;

	while ((opt = getopt(argc, argv, "+S:jnh")) != -1) {
		switch (opt) {
		case 'S':
			path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'n':
			dry = true;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs(usage_text, stderr);
			return 2;
		}
	}
	if (path == NULL || path[0] == '\0')
		path = DEFAULT_SOCKET;
	w.v = argv + optind;
	w.n = argc - optind;
	if (w.n > 0 && strcmp(w.v[w.n - 1], ";") == 0)
		w.n--;		/* setkey's end of a statement */
	if (w.n == 0)
		usage("missing command");
	dispatch(top_cmds, NELEM(top_cmds), &w, "command");
	if (dry) {
		jn_emit(stdout, job.req, 0);
		rc = 0;
	} else {
		rc = run(path, json);
	}
	jn_free(job.req);
	return rc;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Replies as people read them: one aligned table row per object, or
 * "name: value" lines for a single one.  Every cell is looked up by field
 * name, so fields the gateway adds later are simply not shown, and a
 * field that is missing shows as "-".  Members that hold keys are skipped
 * everywhere (jn_secret), although the gateway never sends them.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "control/ipsecctl.h"

struct col {
	const char *head;
	const char *key;	/* the row's member; NULL: the row's own name */
	void (*fmt)(const struct jnode *row, const char *key, char *b,
	    size_t n);
	bool right;		/* numbers line up on the right */
};

#define NCOLS(c)	(sizeof(c) / sizeof((c)[0]))
#define MAXCOLS		16	/* more than any table below has */

static void
cat(char *b, size_t n, const char *s)
{
	size_t l = strlen(b);

	if (l < n)
		snprintf(b + l, n - l, "%s", s);
}

/* A value as one cell: lists joined by commas, nothing as "-". */
static void
text(const struct jnode *v, char *b, size_t n)
{
	const struct jnode *k;

	b[0] = '\0';
	if (v == NULL || v->type == J_NULL || v->type == J_OBJ) {
		cat(b, n, "-");
	} else if (v->type == J_BOOL) {
		cat(b, n, strcmp(v->val, "true") == 0 ? "yes" : "no");
	} else if (v->type == J_ARR) {
		for (k = v->kids; k != NULL; k = k->next) {
			if (k != v->kids)
				cat(b, n, ",");
			cat(b, n, k->val != NULL ? k->val : "-");
		}
		if (v->kids == NULL)
			cat(b, n, "-");
	} else {
		cat(b, n, v->val);
	}
}

static void
f_plain(const struct jnode *row, const char *key, char *b, size_t n)
{
	if (key == NULL)
		snprintf(b, n, "%s", row->key != NULL ? row->key : "-");
	else if (jn_secret(key))
		snprintf(b, n, "-");
	else
		text(jn_get(row, key), b, n);
}

static void
f_hex(const struct jnode *row, const char *key, char *b, size_t n)
{
	const char *s = jn_str(row, key);

	if (s != NULL)
		snprintf(b, n, "0x%08llx", strtoull(s, NULL, 10));
	else
		snprintf(b, n, "-");
}

static void
f_alg(const struct jnode *row, const char *key, char *b, size_t n)
{
	const char *aead = jn_str(row, "aead");
	const char *enc = jn_str(row, "enc"), *auth = jn_str(row, "auth");

	if (aead != NULL)
		snprintf(b, n, "%s", aead);
	else
		snprintf(b, n, "%s/%s", enc ? enc : "-", auth ? auth : "-");
}

static void
f_tunnel(const struct jnode *row, const char *key, char *b, size_t n)
{
	const struct jnode *t = jn_get(row, "tunnel");
	const char *l = jn_str(t, "local"), *r = jn_str(t, "remote");

	if (l != NULL && r != NULL)
		snprintf(b, n, "%s -> %s", l, r);
	else
		snprintf(b, n, "-");
}

static void
f_mtu(const struct jnode *row, const char *key, char *b, size_t n)
{
	const char *s = jn_str(row, key);

	snprintf(b, n, "%s", s == NULL ? "-" : strcmp(s, "0") ? s : "auto");
}

static void
f_flags(const struct jnode *row, const char *key, char *b, size_t n)
{
	static const char *const flags[] = { "nat-t", "ecn", "ipv6" };
	const char *s;
	size_t i;

	b[0] = '\0';
	for (i = 0; i < NCOLS(flags); i++) {
		s = jn_str(row, flags[i]);
		if (s != NULL && strcmp(s, "true") == 0) {
			cat(b, n, flags[i]);
			cat(b, n, ",");
		}
	}
	cat(b, n, "df=");
	s = jn_str(row, "df");
	cat(b, n, s != NULL ? s : "-");
}

/* The drop reasons that counted anything, as reason=count. */
static void
f_drops(const struct jnode *row, const char *key, char *b, size_t n)
{
	const struct jnode *k, *d = jn_get(row, "drops");

	b[0] = '\0';
	for (k = d != NULL ? d->kids : NULL; k != NULL; k = k->next) {
		if (k->val == NULL || strcmp(k->val, "0") == 0)
			continue;
		if (b[0] != '\0')
			cat(b, n, ",");
		cat(b, n, k->key);
		cat(b, n, "=");
		cat(b, n, k->val);
	}
	if (b[0] == '\0')
		cat(b, n, "-");
}

static void
cell(const struct jnode *row, const struct col *c, char *b, size_t n)
{
	b[0] = '\0';
	(c->fmt != NULL ? c->fmt : f_plain)(row, c->key, b, n);
}

static void
line(const struct col *cols, size_t ncols, const size_t *w,
    const struct jnode *row)
{
	char b[512];
	size_t c;

	for (c = 0; c < ncols; c++) {
		bool last = c + 1 == ncols;

		if (row != NULL)
			cell(row, &cols[c], b, sizeof(b));
		else
			snprintf(b, sizeof(b), "%s", cols[c].head);
		if (cols[c].right)
			printf("%*s", (int)w[c], b);
		else
			printf("%-*s", last ? 0 : (int)w[c], b);
		fputs(last ? "\n" : "  ", stdout);
	}
}

/* Rows are the elements of an array or the members of an object. */
static void
table(const struct jnode *rows, const struct col *cols, size_t ncols)
{
	const struct jnode *r, *first;
	size_t w[MAXCOLS], c;
	char b[512];

	first = rows != NULL && (rows->type == J_ARR || rows->type == J_OBJ) ?
	    rows->kids : NULL;
	for (c = 0; c < ncols; c++)
		w[c] = strlen(cols[c].head);
	for (r = first; r != NULL; r = r->next) {
		for (c = 0; c < ncols; c++) {
			cell(r, &cols[c], b, sizeof(b));
			if (strlen(b) > w[c])
				w[c] = strlen(b);
		}
	}
	line(cols, ncols, w, NULL);
	for (r = first; r != NULL; r = r->next)
		line(cols, ncols, w, r);
}

static const struct col if_cols[] = {
	{ "NAME", "name", NULL, false },
	{ "TUNNEL", "tunnel", f_tunnel, false },
	{ "ADDRESS", "address", NULL, false },
	{ "PEER", "peer", NULL, false },
	{ "REQID", "reqid", NULL, true },
	{ "MTU", "mtu", f_mtu, true },
	{ "FLAGS", NULL, f_flags, false },
	{ "OUT-SA", "outbound_sa", NULL, true },
	{ "IN-SAS", "inbound_sas", NULL, false },
	{ "RX-PKTS", "rx_packets", NULL, true },
	{ "TX-PKTS", "tx_packets", NULL, true },
	{ "DROPPED", "dropped", NULL, true },
};

static const struct col sa_cols[] = {
	{ "SPI", "spi", NULL, true },
	{ "HEX", "spi", f_hex, false },
	{ "SRC", "src", NULL, false },
	{ "DST", "dst", NULL, false },
	{ "INTERFACE", "interface", NULL, false },
	{ "DIR", "direction", NULL, false },
	{ "ALGORITHM", NULL, f_alg, false },
	{ "STATE", "state", NULL, false },
	{ "PACKETS", "packets", NULL, true },
	{ "BYTES", "bytes", NULL, true },
};

static const struct col route_cols[] = {
	{ "PREFIX", "prefix", NULL, false },
	{ "VIA", "via", NULL, false },
	{ "DEV", "dev", NULL, false },
	{ "TYPE", "type", NULL, false },
};

static const struct col neigh_cols[] = {
	{ "ADDRESS", "address", NULL, false },
	{ "LLADDR", "lladdr", NULL, false },
	{ "DEV", "dev", NULL, false },
	{ "STATE", "state", NULL, false },
	{ "AGE", "age", NULL, true },
};

static const struct col port_cols[] = {
	{ "NAME", NULL, NULL, false },
	{ "PORT", "port_id", NULL, true },
	{ "DEVICE", "device", NULL, false },
	{ "MAC", "mac", NULL, false },
	{ "MTU", "mtu", NULL, true },
	{ "RX-PKTS", "rx_packets", NULL, true },
	{ "RX-BYTES", "rx_bytes", NULL, true },
	{ "TX-PKTS", "tx_packets", NULL, true },
	{ "TX-BYTES", "tx_bytes", NULL, true },
	{ "DROPPED", "dropped", NULL, true },
	{ "DROPS", NULL, f_drops, false },
};

static const struct col ifstat_cols[] = {
	{ "INTERFACE", NULL, NULL, false },
	{ "RX-PKTS", "rx_packets", NULL, true },
	{ "RX-BYTES", "rx_bytes", NULL, true },
	{ "TX-PKTS", "tx_packets", NULL, true },
	{ "TX-BYTES", "tx_bytes", NULL, true },
	{ "DROPPED", "dropped", NULL, true },
	{ "DROPS", NULL, f_drops, false },
};

static const struct col sastat_cols[] = {
	{ "SPI", "spi", NULL, true },
	{ "HEX", "spi", f_hex, false },
	{ "SRC", "src", NULL, false },
	{ "DST", "dst", NULL, false },
	{ "INTERFACE", "interface", NULL, false },
	{ "DIR", "direction", NULL, false },
	{ "PACKETS", "packets", NULL, true },
	{ "BYTES", "bytes", NULL, true },
	{ "AUTH-FAILED", "auth_failed", NULL, true },
	{ "REPLAY", "replay", NULL, true },
	{ "SEQ", "seq", NULL, true },
};

/*
 * " key=value" for each member, nested objects as "outer.inner=value";
 * "ok" and "event" are the envelope, not content.
 */
static int
pairs(const struct jnode *obj, const char *prefix, bool nonzero)
{
	const struct jnode *k;
	char name[256], b[1024];
	int n = 0;

	for (k = obj != NULL ? obj->kids : NULL; k != NULL; k = k->next) {
		if (jn_secret(k->key) || strcmp(k->key, "ok") == 0 ||
		    strcmp(k->key, "event") == 0 ||
		    (nonzero && k->val != NULL && strcmp(k->val, "0") == 0))
			continue;
		snprintf(name, sizeof(name), "%s%s", prefix, k->key);
		if (k->type == J_OBJ) {
			cat(name, sizeof(name), ".");
			n += pairs(k, name, nonzero);
			continue;
		}
		text(k, b, sizeof(b));
		printf(" %s=%s", name, b);
		n++;
	}
	return n;
}

static void
pairs_line(const char *label, const struct jnode *obj, bool nonzero)
{
	fputs(label, stdout);
	if (pairs(obj, "", nonzero) == 0)
		fputs(" none", stdout);
	putchar('\n');
}

/* "name: value" lines for one object; "ok" says nothing here. */
static void
fields(const struct jnode *obj, const char *prefix)
{
	const struct jnode *k;
	char name[256], b[1024];

	for (k = obj != NULL ? obj->kids : NULL; k != NULL; k = k->next) {
		if (jn_secret(k->key) || strcmp(k->key, "ok") == 0)
			continue;
		snprintf(name, sizeof(name), "%s%s", prefix, k->key);
		if (k->type == J_OBJ) {
			cat(name, sizeof(name), ".");
			fields(k, name);
			continue;
		}
		text(k, b, sizeof(b));
		if (strcmp(name, "spi") == 0 && k->type == J_NUM)
			printf("%s: %s (0x%08llx)\n", name, b,
			    strtoull(b, NULL, 10));
		else
			printf("%s: %s\n", name, b);
	}
}

static void
show_stats(const struct jnode *st)
{
	puts("ports:");
	table(jn_get(st, "ports"), port_cols, NCOLS(port_cols));
	puts("\ninterfaces:");
	table(jn_get(st, "interfaces"), ifstat_cols, NCOLS(ifstat_cols));
	puts("\nsas:");
	table(jn_get(st, "sas"), sastat_cols, NCOLS(sastat_cols));
	putchar('\n');
	pairs_line("drops:", jn_get(st, "drops"), true);
	pairs_line("totals:", jn_get(st, "totals"), false);
	pairs_line("mbufs:", jn_get(st, "mbufs"), false);
}

static void
show_reload(const struct jnode *changes)
{
	const struct jnode *k;
	char label[256];

	for (k = changes != NULL ? changes->kids : NULL; k; k = k->next) {
		snprintf(label, sizeof(label), "%s:", k->key);
		pairs_line(label, k, false);
	}
}

void
show_reply(enum show what, const struct jnode *r)
{
	const struct jnode *st = jn_get(r, "stats");
	const char *s;

	switch (what) {
	case SHOW_NONE:
		break;
	case SHOW_INTERFACES:
		table(jn_get(r, "interfaces"), if_cols, NCOLS(if_cols));
		break;
	case SHOW_SAS:
		table(jn_get(r, "sas"), sa_cols, NCOLS(sa_cols));
		break;
	case SHOW_ROUTES:
		table(jn_get(r, "routes"), route_cols, NCOLS(route_cols));
		break;
	case SHOW_NEIGHBORS:
		table(jn_get(r, "neighbors"), neigh_cols, NCOLS(neigh_cols));
		break;
	case SHOW_PORTS:
		table(jn_get(st, "ports"), port_cols, NCOLS(port_cols));
		break;
	case SHOW_STATS:
		show_stats(st);
		break;
	case SHOW_SA:
		fields(jn_get(r, "sa"), "");
		break;
	case SHOW_SPI:
		s = jn_str(r, "spi");
		printf("%s\n", s != NULL ? s : "-");
		break;
	case SHOW_FLUSH:
		s = jn_str(r, "deleted");
		s = s != NULL ? s : "0";
		printf("deleted %s SA%s\n", s, strcmp(s, "1") ? "s" : "");
		break;
	case SHOW_HELLO:
		fields(r, "");
		break;
	case SHOW_RELOAD:
		show_reload(jn_get(r, "changes"));
		break;
	}
}

/* "EVENT key=value ...", a line each, out as soon as it arrives. */
void
show_event(const struct jnode *ev)
{
	const char *what = jn_str(ev, "event");

	fputs(what != NULL ? what : "event", stdout);
	pairs(ev, "", false);
	putchar('\n');
	fflush(stdout);
}

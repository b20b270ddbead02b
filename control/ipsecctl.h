/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ipsecctl's pieces: a small JSON tree that requests are built in and
 * replies are parsed into (ipsecctl_json.c), and the human rendering of
 * replies (ipsecctl_show.c).  The tree keeps numbers as their text, so a
 * reply is re-emitted exactly as the gateway wrote its values.
 */
#ifndef IPSECGW_IPSECCTL_H
#define IPSECGW_IPSECCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jnode {
	enum jtype type;
	char *key;		/* member name, inside an object */
	char *val;		/* scalars: "true", "42", the string itself */
	struct jnode *kids, *last;	/* containers, in document order */
	struct jnode *next;
};

#define JN_PRETTY	0x1	/* indented, one member per line */
#define JN_NOSECRETS	0x2	/* leave out members that hold keys */

/* ipsecctl.c APIs: */
/* Memory is not worth recovering from in a one-shot tool: these exit. */
void *xcalloc(size_t n, size_t size);
char *xstrdup(const char *s);
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
	noreturn));

/* ipsecctl_json.c APIs: */
struct jnode *jn_new(enum jtype type, const char *val);
struct jnode *jn_num(uint64_t v);
/* Sets obj's member `key` to v, replacing one of that name; returns v. */
struct jnode *jn_put(struct jnode *obj, const char *key, struct jnode *v);
struct jnode *jn_push(struct jnode *arr, struct jnode *v);
/* The member `key` of obj; NULL if obj is no object or has none. */
struct jnode *jn_get(const struct jnode *obj, const char *key);
/* The text of a scalar member, NULL when missing, null or a container. */
const char *jn_str(const struct jnode *obj, const char *key);
void jn_free(struct jnode *n);
bool jn_secret(const char *key);
void jn_emit(FILE *f, const struct jnode *n, int flags);
/* One JSON (YAML flow) document; NULL if it is not one. */
struct jnode *jn_parse(const char *text, size_t len);

/* ipsecctl_show.c APIs: */
enum show {
	SHOW_NONE, SHOW_INTERFACES, SHOW_SAS, SHOW_ROUTES, SHOW_NEIGHBORS,
	SHOW_PORTS, SHOW_STATS, SHOW_SA, SHOW_SPI, SHOW_FLUSH, SHOW_HELLO,
	SHOW_RELOAD,
};
void show_reply(enum show what, const struct jnode *reply);
void show_event(const struct jnode *ev);

#endif /* IPSECGW_IPSECCTL_H */

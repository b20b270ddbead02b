/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The JSON tree of ipsecctl.  Replies are read with libyaml: a reply line
 * is a JSON object, and JSON is YAML's flow syntax, so the library the
 * gateway already depends on parses it and no JSON parser of our own is
 * needed.  YAML tells a quoted scalar from a plain one; a plain scalar is
 * JSON's true, false, null or a number, which is all that the tree has to
 * know to write the document out again.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "control/ipsecctl.h"

/* Nesting deeper than any reply has is refused rather than recursed into. */
#define JN_DEPTH 32

struct jnode *
jn_new(enum jtype type, const char *val)
{
	struct jnode *n = xcalloc(1, sizeof(*n));

	n->type = type;
	if (val != NULL)
		n->val = xstrdup(val);
	return n;
}

struct jnode *
jn_num(uint64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "%" PRIu64, v);
	return jn_new(J_NUM, b);
}

static struct jnode *
append(struct jnode *c, struct jnode *v)
{
	if (c->last != NULL)
		c->last->next = v;
	else
		c->kids = v;
	c->last = v;
	return v;
}

struct jnode *
jn_put(struct jnode *obj, const char *key, struct jnode *v)
{
	struct jnode **p, *old;

	v->key = xstrdup(key);
	for (p = &obj->kids; *p != NULL; p = &(*p)->next) {
		if (strcmp((*p)->key, key) != 0)
			continue;
		old = *p;
		v->next = old->next;
		*p = v;
		if (obj->last == old)
			obj->last = v;
		old->next = NULL;
		jn_free(old);
		return v;
	}
	return append(obj, v);
}

struct jnode *
jn_push(struct jnode *arr, struct jnode *v)
{
	return append(arr, v);
}

struct jnode *
jn_get(const struct jnode *obj, const char *key)
{
	struct jnode *k;

	if (obj == NULL || obj->type != J_OBJ)
		return NULL;
	for (k = obj->kids; k != NULL; k = k->next)
		if (strcmp(k->key, key) == 0)
			return k;
	return NULL;
}

const char *
jn_str(const struct jnode *obj, const char *key)
{
	const struct jnode *v = jn_get(obj, key);

	return v != NULL && v->val != NULL ? v->val : NULL;
}

void
jn_free(struct jnode *n)
{
	struct jnode *next;

	for (; n != NULL; n = next) {
		next = n->next;
		jn_free(n->kids);
		free(n->key);
		free(n->val);
		free(n);
	}
}

/* Secret keys are never printed back, whatever a reply holds. */
bool
jn_secret(const char *key)
{
	size_t n = strlen(key);

	return strcmp(key, "key") == 0 || strcmp(key, "psk") == 0 ||
	    (n > 4 && strcmp(key + n - 4, "-key") == 0);
}

static void
emit_str(FILE *f, const char *s)
{
	putc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			putc(c, f);
	}
	putc('"', f);
}

static void
emit(FILE *f, const struct jnode *n, int flags, int depth)
{
	const struct jnode *k;
	bool obj = n->type == J_OBJ, first = true;

	switch (n->type) {
	case J_NULL:
		fputs("null", f);
		return;
	case J_BOOL:
	case J_NUM:
		fputs(n->val, f);
		return;
	case J_STR:
		emit_str(f, n->val);
		return;
	default:
		break;
	}
	putc(obj ? '{' : '[', f);
	for (k = n->kids; k != NULL; k = k->next) {
		if (obj && (flags & JN_NOSECRETS) && jn_secret(k->key))
			continue;
		if (!first)
			putc(',', f);
		first = false;
		if (flags & JN_PRETTY)
			fprintf(f, "\n%*s", 2 * (depth + 1), "");
		if (obj) {
			emit_str(f, k->key);
			fputs(flags & JN_PRETTY ? ": " : ":", f);
		}
		emit(f, k, flags, depth + 1);
	}
	if (!first && (flags & JN_PRETTY))
		fprintf(f, "\n%*s", 2 * depth, "");
	putc(obj ? '}' : ']', f);
}

void
jn_emit(FILE *f, const struct jnode *n, int flags)
{
	emit(f, n, flags, 0);
	putc('\n', f);
}

/* JSON's number grammar (RFC 8259), stricter than strtod. */
static bool
is_number(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (*p == '-')
		p++;
	if (!isdigit(*p) || (*p == '0' && isdigit(p[1])))
		return false;
	while (isdigit(*p))
		p++;
	if (*p == '.') {
		if (!isdigit(*++p))
			return false;
		while (isdigit(*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit(*p))
			return false;
		while (isdigit(*p))
			p++;
	}
	return *p == '\0';
}

static struct jnode *
scalar(const yaml_event_t *ev)
{
	const char *s = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return jn_new(J_STR, s);
	if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)
		return jn_new(J_BOOL, s);
	if (strcmp(s, "null") == 0 || strcmp(s, "~") == 0 || *s == '\0')
		return jn_new(J_NULL, NULL);
	return jn_new(is_number(s) ? J_NUM : J_STR, s);
}

/*
 * Built from the parser's events with an explicit stack: a reply listing
 * every SA can be large, and the event stream needs no second copy of it.
 */
struct jnode *
jn_parse(const char *text, size_t len)
{
	struct jnode *stack[JN_DEPTH], *root = NULL, *n, *top;
	yaml_parser_t p;
	yaml_event_t ev;
	char *key = NULL;
	int depth = 0;
	bool done = false, bad = false;

	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!done && !bad) {
		if (!yaml_parser_parse(&p, &ev)) {
			bad = true;
			break;
		}
		n = NULL;
		top = depth > 0 ? stack[depth - 1] : NULL;
		switch (ev.type) {
		case YAML_SCALAR_EVENT:
			if (top != NULL && top->type == J_OBJ && key == NULL)
				key = xstrdup((const char *)ev.data.scalar.value);
			else
				n = scalar(&ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			n = jn_new(J_ARR, NULL);
			break;
		case YAML_MAPPING_START_EVENT:
			n = jn_new(J_OBJ, NULL);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_ALIAS_EVENT:
			bad = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (n == NULL)
			continue;
		if (top == NULL && root == NULL) {
			root = n;
		} else if (top == NULL || (top->type == J_OBJ && key == NULL)) {
			jn_free(n);	/* a second document, or a complex key */
			bad = true;
			continue;
		} else {
			append(top, n);
			n->key = key;
			key = NULL;
		}
		if (n->type == J_ARR || n->type == J_OBJ) {
			if (depth == JN_DEPTH)
				bad = true;
			else
				stack[depth++] = n;
		}
	}
	yaml_parser_delete(&p);
	free(key);
	if (bad || root == NULL) {
		jn_free(root);
		return NULL;
	}
	return root;
}

/* SPDX-License-Identifier: BSD-3-Clause */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/json.h"

void
jb_init(struct jbuf *j)
{
	memset(j, 0, sizeof(*j));
}

void
jb_free(struct jbuf *j)
{
	free(j->buf);
	jb_init(j);
}

void
jb_reset(struct jbuf *j)
{
	j->len = 0;
	j->oom = false;
	j->depth = 0;
	memset(j->comma, 0, sizeof(j->comma));
	if (j->buf != NULL)
		j->buf[0] = '\0';
}

static void
put(struct jbuf *j, const char *s, size_t n)
{
	if (j->oom)
		return;
	if (j->len + n + 1 > j->cap) {
		size_t cap = j->cap ? j->cap : 256;
		char *b;

		while (cap < j->len + n + 1)
			cap *= 2;
		b = realloc(j->buf, cap);
		if (b == NULL) {
			j->oom = true;
			return;
		}
		j->buf = b;
		j->cap = cap;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void
put_string(struct jbuf *j, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	put(j, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(j, run, (size_t)(s - run));
		run = s + 1;
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			put(j, esc, 2);
		} else if (c == '\n') {
			put(j, "\\n", 2);
		} else {
			put(j, esc, 6);
		}
	}
	put(j, run, (size_t)(s - run));
	put(j, "\"", 1);
}

/* Comma and key before a value. */
static void
lead(struct jbuf *j, const char *key)
{
	if (j->comma[j->depth])
		put(j, ", ", 2);
	j->comma[j->depth] = true;
	if (key != NULL) {
		put_string(j, key);
		put(j, ": ", 2);
	}
}

static void
open_(struct jbuf *j, const char *key, const char *c)
{
	lead(j, key);
	put(j, c, 1);
	if (j->depth + 1 < JB_MAX_DEPTH)
		j->depth++;
	else
		j->oom = true;
	j->comma[j->depth] = false;
	j->closer[j->depth] = c[0] == '{' ? '}' : ']';
}

void
jb_obj(struct jbuf *j, const char *key)
{
	open_(j, key, "{");
}

void
jb_arr(struct jbuf *j, const char *key)
{
	open_(j, key, "[");
}

void
jb_end(struct jbuf *j)
{
	if (j->depth == 0) {
		j->oom = true;	/* unbalanced: a bug, reported as a failure */
		return;
	}
	put(j, &j->closer[j->depth], 1);
	j->depth--;
}

void
jb_str(struct jbuf *j, const char *key, const char *val)
{
	lead(j, key);
	put_string(j, val);
}

void
jb_u64(struct jbuf *j, const char *key, uint64_t val)
{
	char b[24];
	int n = snprintf(b, sizeof(b), "%" PRIu64, val);

	lead(j, key);
	put(j, b, (size_t)n);
}

void
jb_bool(struct jbuf *j, const char *key, bool val)
{
	lead(j, key);
	put(j, val ? "true" : "false", val ? 4 : 5);
}

void
jb_null(struct jbuf *j, const char *key)
{
	lead(j, key);
	put(j, "null", 4);
}

void
jb_raw(struct jbuf *j, const char *key, const char *json, size_t len)
{
	lead(j, key);
	put(j, json, len);
}

const char *
jb_text(struct jbuf *j)
{
	if (j->oom)
		return NULL;
	if (j->buf == NULL)
		put(j, "", 0);
	return j->buf;
}

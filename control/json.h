/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A JSON writer for one-line replies and events: values are appended to a
 * growing buffer, commas placed by nesting level.  Strings are escaped per
 * RFC 8259.  Running out of memory is remembered and reported once, at
 * the end (jb_oom).
 */
#ifndef IPSECGW_JSON_H
#define IPSECGW_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JB_MAX_DEPTH 16

struct jbuf {
	char *buf;
	size_t len;
	size_t cap;
	bool oom;
	int depth;
	bool comma[JB_MAX_DEPTH];
	char closer[JB_MAX_DEPTH];
};

void jb_init(struct jbuf *j);
void jb_free(struct jbuf *j);
void jb_reset(struct jbuf *j);
/* `key` is NULL for a value in an array (or the top level). */
void jb_obj(struct jbuf *j, const char *key);
void jb_arr(struct jbuf *j, const char *key);
void jb_end(struct jbuf *j);
void jb_str(struct jbuf *j, const char *key, const char *val);
void jb_u64(struct jbuf *j, const char *key, uint64_t val);
void jb_bool(struct jbuf *j, const char *key, bool val);
void jb_null(struct jbuf *j, const char *key);
/* A JSON text made elsewhere, inserted as the value. */
void jb_raw(struct jbuf *j, const char *key, const char *json, size_t len);
/* NUL-terminated text; NULL when memory ran out. */
const char *jb_text(struct jbuf *j);

#endif /* IPSECGW_JSON_H */

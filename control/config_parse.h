/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-entry parsers, shared by the YAML file loader and the control socket.
 *
 * The file is one YAML document; a socket request is one flow mapping.
 * Both end up here, one entry (an SA, an interface, a route, ...) at a
 * time, so that a request and a file entry are read by the same code and
 * can never disagree on a field.  Kept out of config.h so that users of the
 * configuration (the dataplane) do not need libyaml's header.
 *
 * Every parser reports its problems through cfg_errorf() with the position
 * of the offending node, prefixed by ctx->where ("sas[2]: ..."), goes on
 * after an error, and returns 0 if the entry is good or -1 if anything was
 * reported.  *out is always fully initialised (defaults first), and an SA
 * that failed has its keys wiped.
 *
 * What a single entry can be checked for is checked here (ranges, address
 * families within the entry, key lengths, route prefixes without host
 * bits, ...); what needs other entries (names, reqids, tunnels, duplicate
 * SPIs and routes) is cfg_validate()'s job.
 */
#ifndef IPSECGW_CONFIG_PARSE_H
#define IPSECGW_CONFIG_PARSE_H

#include <yaml.h>

#include "control/config.h"

struct cfg_ctx {
	const char *file;		/* name in messages and in cfg_pos */
	struct cfg_err *err;
	yaml_document_t *doc;
	/* Label of the entry being parsed, printed before each message:
	 * "sas[2]", "interfaces.ipsec0", "request".  "" for none. */
	char where[80];
	/* NULL-terminated keys that the caller reads itself and the entry
	 * parser must not call unknown (the socket's "op"); may be NULL. */
	const char *const *ignore;
};

void cfg_ctx_init(struct cfg_ctx *ctx, const char *file, yaml_document_t *doc,
		  struct cfg_err *err);
/* Position of a node, 1-based, file from ctx. */
struct cfg_pos cfg_node_pos(const struct cfg_ctx *ctx, const yaml_node_t *node);

/*
 * Load exactly one YAML document from text.  Syntax errors (and a second
 * document) are reported as "name:line:col: ..." and give -1.  An empty
 * text gives 0 and a document without a root node.  The parser's buffers
 * are wiped because they held the keys.
 */
int cfg_yaml_load(const char *name, const char *text, size_t len,
		  yaml_document_t *doc, struct cfg_err *err);
/* Wipe every scalar of the document (keys among them), then delete it. */
void cfg_yaml_delete(yaml_document_t *doc);

/* The entries.  `name` is the mapping key the entry was found under in the
 * file; NULL means the mapping itself carries a "name" key (a request). */
int cfg_parse_crypto(struct cfg_ctx *ctx, yaml_node_t *node,
		     struct cfg_crypto *out);
int cfg_parse_port_entry(struct cfg_ctx *ctx, yaml_node_t *name,
			 yaml_node_t *node, struct cfg_port *out);
int cfg_parse_interface_entry(struct cfg_ctx *ctx, yaml_node_t *name,
			      yaml_node_t *node, struct cfg_interface *out);
int cfg_parse_neighbor_entry(struct cfg_ctx *ctx, yaml_node_t *node,
			     struct cfg_neighbor *out);
int cfg_parse_sa_entry(struct cfg_ctx *ctx, yaml_node_t *node,
		       struct cfg_sa *out);
/* An SA's `lifetime` value into out->soft and out->hard. */
int cfg_parse_lifetime(struct cfg_ctx *ctx, yaml_node_t *node,
		       struct cfg_sa *out);
int cfg_parse_route_entry(struct cfg_ctx *ctx, yaml_node_t *node,
			  struct cfg_route *out);

/*
 * Building blocks, for requests that are not whole entries (sa-del names
 * an SA by spi and dst).  `field` names the value in messages.
 */

/* Sort a mapping's values into vals[] by keys[] (NULL-terminated, vals
 * sized to match).  Unknown, duplicate and non-scalar keys are errors;
 * ctx->ignore is honoured when `field` is NULL (the entry's top level). */
int cfg_parse_fields(struct cfg_ctx *ctx, yaml_node_t *map,
		     const char *const *keys, yaml_node_t **vals,
		     const char *field);
/* A scalar's text; NULL (reported) if the node is not a non-null scalar. */
const char *cfg_parse_scalar(struct cfg_ctx *ctx, yaml_node_t *node,
			     const char *field);
/* Decimal or 0x-hex, in [min, max]. */
int cfg_parse_uint(struct cfg_ctx *ctx, yaml_node_t *node, const char *field,
		   uint64_t min, uint64_t max, uint64_t *out);
/* true/false/yes/no/on/off. */
int cfg_parse_bool(struct cfg_ctx *ctx, yaml_node_t *node, const char *field,
		   bool *out);
int cfg_parse_addr(struct cfg_ctx *ctx, yaml_node_t *node, const char *field,
		   struct cfg_addr *out);
/* A port or interface name: 1..31 of [A-Za-z0-9_.-]. */
int cfg_parse_name(struct cfg_ctx *ctx, yaml_node_t *node, const char *field,
		   char out[CFG_NAME_MAX]);

#endif /* IPSECGW_CONFIG_PARSE_H */

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket's transport: a unix stream socket, many clients, one
 * request per line, one reply line each, and event lines to subscribers.
 * It knows nothing of what requests mean: a handler does.
 *
 * Nothing here blocks.  Every client has its own input buffer (a line may
 * be at most SERVER_MAX_LINE bytes) and output buffer (a client that lets
 * more than SERVER_MAX_OUT bytes pile up is dropped), so a slow, silent or
 * hostile client costs the others nothing, and the dataplane, which never
 * waits for this thread, even less.
 */
#ifndef IPSECGW_SERVER_H
#define IPSECGW_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "control/json.h"

#define SERVER_MAX_LINE 65536
#define SERVER_MAX_OUT (4u << 20)
#define SERVER_MAX_CLIENTS 64

struct server;

/*
 * Handle one request line (without its newline).  Write the reply object
 * into `reply` (one JSON object); set *subscribe to make the client a
 * subscriber.
 */
typedef void (*server_handler)(void *arg, const char *line, size_t len,
			       struct jbuf *reply, bool *subscribe);

/* Create the socket (mode 0600; its directory if missing).  A live server
 * on the path is an error; a stale socket file is replaced. */
struct server *server_open(const char *path, server_handler h, void *arg,
			   char *errbuf, size_t errlen);
/* Serve for up to timeout_ms. */
void server_poll(struct server *s, int timeout_ms);
/* Send a line (without newline) to every subscriber. */
void server_broadcast(struct server *s, const char *line);
void server_close(struct server *s);

#endif /* IPSECGW_SERVER_H */

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The running configuration and every change to it.
 *
 * One path for all changes: the file at start, `reload`, and each socket
 * request build the configuration they want (a struct cfg), which is
 * validated by the loader's own rules, and ctl_commit() takes the
 * dataplane there from where it is, object by object, without stopping
 * the workers: interfaces, SAs, routes and neighbors that did not change
 * are left alone (an SA keeps its sequence numbers and replay window),
 * new SAs are published before old ones go (make-before-break), and what
 * is taken away is freed after an RCU grace period.
 */
#ifndef IPSECGW_CTL_H
#define IPSECGW_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include "control/config.h"
#include "control/json.h"

struct dp;
struct ctl;
struct server;

/* The ports and crypto of `cfg` are what dp_setup made; nothing else is
 * applied yet.  `file` is what `reload` reads by default. */
struct ctl *ctl_create(struct dp *dp, const struct cfg *cfg, const char *file);
void ctl_free(struct ctl *c);
/* Apply a whole file's configuration (start-up).  Takes `next`. */
int ctl_load(struct ctl *c, struct cfg *next, struct cfg_err *err);
void ctl_set_server(struct ctl *c, struct server *srv);
/* The socket's request handler (a server_handler). */
void ctl_handle(void *arg, const char *line, size_t len, struct jbuf *reply,
		bool *subscribe);
/* Now and then from the main loop: worker events, time lifetimes, SPI
 * reservations. */
void ctl_tick(struct ctl *c);
/* Routes in the FIB and interfaces, for the start-up line. */
size_t ctl_nroutes(const struct ctl *c);

#endif /* IPSECGW_CTL_H */

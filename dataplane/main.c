/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ipsecgw: EAL options, then `--`, then ours.
 *
 * Start-up: parse our options and load the configuration before EAL, so
 * that --check and a bad file cost no DPDK initialisation; then EAL, the
 * ports and tables, and one worker per lcore other than the main one.
 * The main thread watches for a signal or --idle-exit, then stops the
 * workers, closes the ports (which returns every mbuf the devices hold)
 * and reports.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "control/config.h"
#include "control/server.h"
#include "dataplane/ctl.h"
#include "dataplane/dp.h"
#include "dataplane/ipsec.h"
#include "dataplane/local.h"
#include "dataplane/neigh.h"
#include "dataplane/route.h"

#define DEFAULT_CONFIG "/etc/ipsecgw/ipsecgw.yaml"
#define DEFAULT_SOCKET "/run/ipsecgw/ipsecgw.sock"

struct options {
	const char *config;
	const char *socket;
	const char *stats_json;
	long idle_exit_ms;	/* 0: never */
	long reachable_s;	/* 0: the default */
	long max_if;		/* 0: the default */
	long max_sa;
	long mbufs;
	bool check;
};

static struct dp gw;

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: ipsecgw [EAL options] -- [-f FILE] [-S SOCKET] [--idle-exit MS]\n"
		"                [--stats-json FILE] [--neigh-reachable S]\n"
		"                [--max-interfaces N] [--max-sas N] [--mbufs N] [--check]\n"
		"  -f FILE            configuration (default " DEFAULT_CONFIG ")\n"
		"  -S SOCKET          control socket (default " DEFAULT_SOCKET ")\n"
		"  --idle-exit MS     exit once no port has received for MS ms\n"
		"  --stats-json FILE  write every counter to FILE on exit\n"
		"  --neigh-reachable S  seconds a learned neighbor is trusted\n"
		"                     before it is probed (default 30)\n"
		"  --max-interfaces N room for N ipsec interfaces (default %u)\n"
		"  --max-sas N        room for N SAs (default %u)\n"
		"  --mbufs N          at least N more mbufs in the pool than the\n"
		"                     ports' rings need (default 0)\n"
		"  --check            validate the configuration and exit\n",
		IPSEC_DEFAULT_MAX_IF, IPSEC_DEFAULT_MAX_SA);
}

/* A count in [min, max] for an option. */
static int
count_arg(const char *opt, const char *arg, long min, long max, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(arg, &end, 10);
	if (errno != 0 || *end != '\0' || end == arg || *out < min ||
	    *out > max) {
		fprintf(stderr, "ipsecgw: %s: '%s' is not a number from %ld to %ld\n",
			opt, arg, min, max);
		return -1;
	}
	return 0;
}

/* Parse what follows `--`.  Returns 0, 1 to exit successfully, -1 on error. */
static int
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "idle-exit", required_argument, NULL, 'i' },
		{ "stats-json", required_argument, NULL, 'j' },
		{ "check", no_argument, NULL, 'c' },
		{ "neigh-reachable", required_argument, NULL, 'r' },
		{ "max-interfaces", required_argument, NULL, 'I' },
		{ "max-sas", required_argument, NULL, 'A' },
		{ "mbufs", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	o->config = DEFAULT_CONFIG;
	o->socket = DEFAULT_SOCKET;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:S:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->config = optarg;
			break;
		case 'S':
			o->socket = optarg;
			break;
		case 'i':
			errno = 0;
			o->idle_exit_ms = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    o->idle_exit_ms <= 0) {
				fprintf(stderr, "ipsecgw: --idle-exit: '%s' is not a positive number of milliseconds\n",
					optarg);
				return -1;
			}
			break;
		case 'j':
			o->stats_json = optarg;
			break;
		case 'r':
			errno = 0;
			o->reachable_s = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    o->reachable_s <= 0 || o->reachable_s > 86400) {
				fprintf(stderr, "ipsecgw: --neigh-reachable: '%s' is not a number of seconds from 1 to 86400\n",
					optarg);
				return -1;
			}
			break;
		case 'I':
			if (count_arg("--max-interfaces", optarg, 1,
				      IPSEC_LIMIT_MAX, &o->max_if) != 0)
				return -1;
			break;
		case 'A':
			if (count_arg("--max-sas", optarg, 1, IPSEC_LIMIT_MAX,
				      &o->max_sa) != 0)
				return -1;
			break;
		case 'M':
			if (count_arg("--mbufs", optarg, 0, IPSEC_LIMIT_MAX * 4L,
				      &o->mbufs) != 0)
				return -1;
			break;
		case 'c':
			o->check = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("ipsecgw %s\n", IPSECGW_VERSION);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ipsecgw: unexpected argument '%s'\n",
			argv[optind]);
		return -1;
	}
	return 0;
}

static void
on_signal(int sig)
{
	(void)sig;
	gw.quit = true;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * The main thread is the control thread: it serves the socket, hands the
 * workers' events to subscribers, keeps the clock the workers read, and
 * watches for a signal or --idle-exit.
 */
static void
control_loop(struct dp *dp, struct ctl *ctl, struct server *srv, long idle_ms)
{
	uint64_t last_rx = 0, last_change = now_ms(), rx;

	while (!dp->quit) {
		server_poll(srv, 2);
		dp->now = (uint64_t)time(NULL);
		ctl_tick(ctl);
		if (idle_ms == 0)
			continue;
		rx = dp_rx_total(dp);
		if (rx != last_rx) {
			last_rx = rx;
			last_change = now_ms();
		} else if (now_ms() - last_change >= (uint64_t)idle_ms) {
			dp->quit = true;
		}
	}
}

static int
workers_create(struct dp *dp)
{
	unsigned int lcore;

	RTE_LCORE_FOREACH_WORKER(lcore) {
		struct dp_lcore *lc;

		lc = rte_zmalloc_socket("lcore", sizeof(*lc), RTE_CACHE_LINE_SIZE,
					(int)rte_lcore_to_socket_id(lcore));
		if (lc == NULL)
			return -ENOMEM;
		lc->dp = dp;
		lc->lcore_id = lcore;
		lc->worker = dp->nworkers;
		lc->qp = (uint16_t)dp->nworkers;
		dp->lc[dp->nworkers++] = lc;
	}
	return dp->nworkers == 0 ? -EINVAL : 0;
}

static void
dp_destroy(struct dp *dp)
{
	unsigned int w;

	local_free(dp->local);
	ipsec_free(dp);
	fib_free(dp->fib);
	neigh_table_free(dp->neigh);
	for (w = 0; w < dp->nworkers; w++)
		rte_free(dp->lc[w]);
	rte_mempool_free(dp->pool);
	rte_ring_free(dp->events);
	rte_free(dp->qsbr);
}

int
main(int argc, char **argv)
{
	struct options opt = { 0 };
	struct cfg cfg = { 0 };
	struct cfg_err err;
	struct server *srv = NULL;
	struct ctl *ctl = NULL;
	char msg[256];
	char *own[argc + 1];
	unsigned int w;
	int dd, nown = 1, rc, status = 1;
	bool ran = false;

	/* EAL's arguments end at the first "--"; ours follow it. */
	for (dd = 1; dd < argc && strcmp(argv[dd], "--") != 0; dd++)
		;
	own[0] = argv[0];
	for (rc = dd + 1; rc < argc; rc++)
		own[nown++] = argv[rc];
	own[nown] = NULL;
	rc = parse_options(nown, own, &opt);
	if (rc != 0)
		return rc > 0 ? 0 : 1;

	cfg_err_init(&err, stderr, 0);
	rc = cfg_load_file(opt.config, &cfg, &err);
	if (opt.check) {
		if (rc == 0)
			printf("%s: configuration is valid\n", opt.config);
		else
			fprintf(stderr, "%s: %u error%s\n", opt.config,
				err.count, err.count == 1 ? "" : "s");
		cfg_free(&cfg);
		cfg_err_free(&err);
		return rc == 0 ? 0 : 1;
	}
	if (rc != 0)
		goto out_cfg;

	rc = rte_eal_init(dd, argv);
	if (rc < 0) {
		fprintf(stderr, "ipsecgw: cannot initialise EAL: %s\n",
			rte_strerror(rte_errno));
		goto out_cfg;
	}
	if (workers_create(&gw) != 0) {
		fprintf(stderr, "ipsecgw: need at least one worker lcore besides the main one (e.g. -l 0-1)\n");
		goto out_eal;
	}
	gw.now = (uint64_t)time(NULL);
	gw.max_if = (uint32_t)opt.max_if;
	gw.max_sa = (uint32_t)opt.max_sa;
	gw.nb_mbufs = (uint32_t)opt.mbufs;
	if (dp_setup(&gw, &cfg, &err) != 0 || dp_rcu_setup(&gw) != 0 ||
	    (ctl = ctl_create(&gw, &cfg, opt.config)) == NULL ||
	    ctl_load(ctl, &cfg, &err) != 0) {
		fprintf(stderr, "%s: not started: %u error%s\n", opt.config,
			err.count, err.count == 1 ? "" : "s");
		goto out_ports;		/* cfg_free below wipes the keys */
	}
	/* ctl_load took the configuration (it is the running one now, and
	 * cfg is empty): no copy of a million routes for nothing */
	srv = server_open(opt.socket, ctl_handle, ctl, msg, sizeof(msg));
	if (srv == NULL) {
		fprintf(stderr, "ipsecgw: control socket: %s\n", msg);
		goto out_ports;
	}
	ctl_set_server(ctl, srv);
	if (dp_ports_start(&gw) != 0)
		goto out_ports;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("ipsecgw: %u port%s, %u worker%s, %zu route%s; running\n",
	       gw.nports, gw.nports == 1 ? "" : "s", gw.nworkers,
	       gw.nworkers == 1 ? "" : "s", ctl_nroutes(ctl),
	       ctl_nroutes(ctl) == 1 ? "" : "s");
	fflush(stdout);

	for (w = 0; w < gw.nworkers; w++)
		rte_eal_remote_launch(dp_worker_main, gw.lc[w],
				      gw.lc[w]->lcore_id);
	if (opt.reachable_s != 0)
		local_set_reachable(gw.local, (unsigned int)opt.reachable_s);
	control_loop(&gw, ctl, srv, opt.idle_exit_ms);
	rte_eal_mp_wait_lcore();
	local_stop(gw.local);
	ran = true;
	status = 0;

out_ports:
	dp_ports_close(&gw);
	if (ran) {
		gw.pool_avail_exit = rte_mempool_avail_count(gw.pool);
		dp_stats_print(&gw, stdout);
		if (opt.stats_json != NULL) {
			rc = dp_stats_json(&gw, opt.stats_json);
			if (rc != 0) {
				fprintf(stderr, "ipsecgw: %s: %s\n",
					opt.stats_json, strerror(-rc));
				status = 1;
			}
		}
		/* Every mbuf must be back: anything else is a leak. */
		if (gw.pool_avail_exit != gw.pool_size) {
			fprintf(stderr, "ipsecgw: %u mbufs not returned to the pool\n",
				gw.pool_size - gw.pool_avail_exit);
			status = 1;
		}
	}
	server_close(srv);
	ctl_free(ctl);
	dp_destroy(&gw);
out_eal:
	rte_eal_cleanup();
out_cfg:
	cfg_free(&cfg);
	cfg_err_free(&err);
	return status;
}

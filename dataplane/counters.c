/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rte_ether.h>

#include "dataplane/counters.h"
#include "dataplane/dp.h"
#include "dataplane/ipsec.h"
#include "dataplane/local.h"

#define DP_DROP_NAME(id, name, descr) [DP_DROP_##id] = name,
static const char *const drop_names[DP_DROP_MAX] = {
	DP_DROP_REASONS(DP_DROP_NAME)
};
#undef DP_DROP_NAME

const char *
dp_drop_name(enum dp_drop reason)
{
	return reason < DP_DROP_MAX ? drop_names[reason] : "?";
}

void
dp_counters_add(struct dp_counters *sum, const struct dp_counters *c)
{
	unsigned int r;

	sum->rx_packets += c->rx_packets;
	sum->rx_bytes += c->rx_bytes;
	sum->tx_packets += c->tx_packets;
	sum->tx_bytes += c->tx_bytes;
	sum->tx_local += c->tx_local;
	sum->tx_local_bytes += c->tx_local_bytes;
	for (r = 0; r < DP_DROP_MAX; r++)
		sum->drops[r] += c->drops[r];
}

uint64_t
dp_counters_dropped(const struct dp_counters *c)
{
	uint64_t n = 0;
	unsigned int r;

	for (r = 0; r < DP_DROP_MAX; r++)
		n += c->drops[r];
	return n;
}

void
dp_port_counters(const struct dp *dp, uint16_t port_id,
		 struct dp_counters *out)
{
	unsigned int w;

	memset(out, 0, sizeof(*out));
	for (w = 0; w < dp->nworkers; w++)
		dp_counters_add(out, &dp->lc[w]->cnt[port_id]);
	dp_counters_add(out, &dp->ctl_cnt[port_id]);
	/* what the workers sent counts both; report them apart */
	out->tx_packets -= RTE_MIN(out->tx_local, out->tx_packets);
	out->tx_bytes -= RTE_MIN(out->tx_local_bytes, out->tx_bytes);
}

/* The gateway's own packets, as the workers routed them. */
static void
dp_local_counters(const struct dp *dp, struct dp_counters *out)
{
	unsigned int w;

	memset(out, 0, sizeof(*out));
	for (w = 0; w < dp->nworkers; w++)
		dp_counters_add(out, &dp->lc[w]->lcl);
	dp_counters_add(out, &dp->ctl_lcl);
}

void
dp_iface_counters(const struct dp *dp, unsigned int ifidx,
		  struct dp_counters *out)
{
	unsigned int w;

	memset(out, 0, sizeof(*out));
	for (w = 0; w < dp->nworkers; w++)
		dp_counters_add(out, &dp->lc[w]->ifcnt[ifidx]);
}

void
dp_sa_counters(const struct dp *dp, unsigned int idx,
	       struct dp_sa_counters *out)
{
	unsigned int w;

	memset(out, 0, sizeof(*out));
	for (w = 0; w < dp->nworkers; w++) {
		const struct dp_sa_counters *c = &dp->lc[w]->sacnt[idx];

		out->packets += c->packets;
		out->bytes += c->bytes;
		out->auth_failed += c->auth_failed;
		out->replay += c->replay;
		/* outbound: a sum over workers; inbound: the highest */
		if (dp->ipsec->sas[idx].outbound)
			out->seq += c->seq + (w == 0 ? dp->ipsec->sas[idx].seq_base : 0);
		else if (c->seq > out->seq)
			out->seq = c->seq;
	}
}

/*
 * Totals: port rx/tx, and the drops of ports and ipsec interfaces (a
 * packet is dropped in one place, so the sum counts each drop once).
 */
static void
dp_total_counters(const struct dp *dp, struct dp_counters *out)
{
	struct dp_counters c;
	unsigned int i, r;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < dp->nports; i++) {
		dp_port_counters(dp, dp->port_list[i], &c);
		dp_counters_add(out, &c);
	}
	/* a deleted interface's drops leave the totals with it */
	for (i = 0; i < dp->ipsec->if_slots.hwm; i++) {
		if (dp->ipsec->ifp[i] == NULL)
			continue;
		dp_iface_counters(dp, i, &c);
		for (r = 0; r < DP_DROP_MAX; r++)
			out->drops[r] += c.drops[r];
	}
	dp_local_counters(dp, &c);
	for (r = 0; r < DP_DROP_MAX; r++)
		out->drops[r] += c.drops[r];
}

void
dp_stats_print(const struct dp *dp, FILE *out)
{
	struct dp_counters c, total;
	unsigned int i, r;

	fprintf(out, "%-10s %12s %14s %12s %14s %12s\n", "port",
		"rx-packets", "rx-bytes", "tx-packets", "tx-bytes", "dropped");
	for (i = 0; i < dp->nports; i++) {
		const struct dp_port *p = &dp->ports[dp->port_list[i]];

		dp_port_counters(dp, p->port_id, &c);
		fprintf(out, "%-10s %12" PRIu64 " %14" PRIu64 " %12" PRIu64
			" %14" PRIu64 " %12" PRIu64 "\n", p->name,
			c.rx_packets, c.rx_bytes, c.tx_packets, c.tx_bytes,
			dp_counters_dropped(&c));
	}
	for (i = 0; i < dp->ipsec->if_slots.hwm; i++) {
		if (dp->ipsec->ifp[i] == NULL)
			continue;
		dp_iface_counters(dp, i, &c);
		fprintf(out, "%-10s %12" PRIu64 " %14" PRIu64 " %12" PRIu64
			" %14" PRIu64 " %12" PRIu64 "\n", dp->ipsec->ifp[i]->name,
			c.rx_packets, c.rx_bytes, c.tx_packets, c.tx_bytes,
			dp_counters_dropped(&c));
	}
	dp_local_counters(dp, &c);
	fprintf(out, "%-10s %12" PRIu64 " %14" PRIu64 " %12" PRIu64
		" %14" PRIu64 " %12" PRIu64 "\n", "(local)",
		c.rx_packets, c.rx_bytes, c.tx_packets, c.tx_bytes,
		dp_counters_dropped(&c));
	dp_total_counters(dp, &total);
	fprintf(out, "%-10s %12" PRIu64 " %14" PRIu64 " %12" PRIu64
		" %14" PRIu64 " %12" PRIu64 "\n", "total",
		total.rx_packets, total.rx_bytes, total.tx_packets,
		total.tx_bytes, dp_counters_dropped(&total));
	fprintf(out, "drops:");
	for (r = 0; r < DP_DROP_MAX; r++)
		if (total.drops[r] != 0)
			fprintf(out, " %s=%" PRIu64, drop_names[r],
				total.drops[r]);
	if (dp_counters_dropped(&total) == 0)
		fprintf(out, " none");
	fprintf(out, "\nmbufs: %u in pool, %u in use at exit\n",
		dp->pool_size, dp->pool_size - dp->pool_avail_exit);
}

static void
json_counters(FILE *f, const struct dp_counters *c, const char *indent)
{
	unsigned int r;

	fprintf(f, "%s\"rx_packets\": %" PRIu64 ", \"rx_bytes\": %" PRIu64
		", \"tx_packets\": %" PRIu64 ", \"tx_bytes\": %" PRIu64
		", \"tx_local\": %" PRIu64 ", \"tx_local_bytes\": %" PRIu64
		", \"dropped\": %" PRIu64 ",\n%s\"drops\": {", indent,
		c->rx_packets, c->rx_bytes, c->tx_packets, c->tx_bytes,
		c->tx_local, c->tx_local_bytes, dp_counters_dropped(c), indent);
	for (r = 0; r < DP_DROP_MAX; r++)
		fprintf(f, "%s\"%s\": %" PRIu64, r ? ", " : "", drop_names[r],
			c->drops[r]);
	fprintf(f, "}");
}

/*
 * One JSON document with every counter.  Names are ours (port names,
 * drop reason names) and contain no character that needs escaping: the
 * loader only accepts [A-Za-z0-9_.-] in names.
 */
int
dp_stats_json(const struct dp *dp, const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -errno;
	dp_stats_json_fp(dp, f, false);
	if (fclose(f) != 0)
		return -errno;
	return 0;
}

void
dp_stats_json_fp(const struct dp *dp, FILE *f, bool brief)
{
	struct dp_counters c, total;
	char mac[RTE_ETHER_ADDR_FMT_SIZE];
	unsigned int i, r, n;

	fprintf(f, "{\n  \"version\": 1,\n  \"ports\": {");
	for (i = 0; i < dp->nports; i++) {
		const struct dp_port *p = &dp->ports[dp->port_list[i]];

		dp_port_counters(dp, p->port_id, &c);
		dp_port_hw((struct dp_port *)(uintptr_t)p);
		rte_ether_format_addr(mac, sizeof(mac), &p->mac);
		fprintf(f, "%s\n    \"%s\": {\"port_id\": %u, \"device\": \"%s\","
			" \"mac\": \"%s\", \"mtu\": %u,\n      \"rx_missed\": %"
			PRIu64 ", \"rx_errors\": %" PRIu64 ", \"rx_nombuf\": %"
			PRIu64 ",\n", i ? "," : "", p->name, p->port_id,
			p->device, mac, p->mtu, p->hw_missed, p->hw_errors,
			p->hw_nombuf);
		json_counters(f, &c, "      ");
		fprintf(f, "}");
	}
	fprintf(f, "\n  },");
	if (brief)
		goto local;
	fprintf(f, "\n  \"interfaces\": {");
	for (i = 0, n = 0; i < dp->ipsec->if_slots.hwm; i++) {
		if (dp->ipsec->ifp[i] == NULL)
			continue;
		dp_iface_counters(dp, i, &c);
		fprintf(f, "%s\n    \"%s\": {\n", n++ ? "," : "",
			dp->ipsec->ifp[i]->name);
		json_counters(f, &c, "      ");
		fprintf(f, "}");
	}
	fprintf(f, "\n  },\n  \"sas\": [");
	for (i = 0, n = 0; i < dp->ipsec->sa_slots.hwm; i++) {
		const struct ipsec_sa *s = &dp->ipsec->sas[i];
		const struct ipsec_iface *ifc = dp->ipsec->ifp[s->ifidx];
		struct dp_sa_counters sc;
		char src[64], dst[64];

		if (!s->used || ifc == NULL)
			continue;
		dp_sa_counters(dp, i, &sc);
		fprintf(f, "%s\n    {\"spi\": %u, \"src\": \"%s\", \"dst\": \"%s\","
			" \"interface\": \"%s\", \"direction\": \"%s\","
			" \"packets\": %" PRIu64 ", \"bytes\": %" PRIu64 ","
			" \"auth_failed\": %" PRIu64 ", \"replay\": %" PRIu64
			", \"seq\": %" PRIu64 "}",
			n++ ? "," : "", s->spi,
			cfg_addr_str(&s->src, src, sizeof(src)),
			cfg_addr_str(&s->dst, dst, sizeof(dst)),
			ifc->name,
			s->outbound ? "out" : "in", sc.packets, sc.bytes,
			sc.auth_failed, sc.replay, sc.seq);
	}
	fprintf(f, "\n  ],");
local:
	dp_local_counters(dp, &c);
	fprintf(f, "\n  \"local\": {");
	if (dp->local != NULL)
		local_stats_json(dp->local, f);
	fprintf(f, ",\n");
	json_counters(f, &c, "    ");
	fprintf(f, "},");
	dp_total_counters(dp, &total);
	fprintf(f, "\n  \"drops\": {");
	for (r = 0; r < DP_DROP_MAX; r++)
		fprintf(f, "%s\"%s\": %" PRIu64, r ? ", " : "", drop_names[r],
			total.drops[r]);
	fprintf(f, "},\n  \"totals\": {\"rx_packets\": %" PRIu64
		", \"rx_bytes\": %" PRIu64 ", \"tx_packets\": %" PRIu64
		", \"tx_bytes\": %" PRIu64 ", \"tx_local\": %" PRIu64
		", \"tx_local_bytes\": %" PRIu64 ", \"dropped\": %" PRIu64 "},\n",
		total.rx_packets, total.rx_bytes, total.tx_packets,
		total.tx_bytes, total.tx_local, total.tx_local_bytes,
		dp_counters_dropped(&total));
	fprintf(f, "  \"mbufs\": {\"pool_size\": %u, \"available_at_start\": %u,"
		" \"available_at_exit\": %u, \"in_use_at_exit\": %u}\n}\n",
		dp->pool_size, dp->pool_avail_start, dp->pool_avail_exit,
		dp->pool_size - dp->pool_avail_exit);
}

void
dp_stats_reset(struct dp *dp)
{
	unsigned int w;

	for (w = 0; w < dp->nworkers; w++) {
		struct dp_lcore *lc = dp->lc[w];

		memset(lc->cnt, 0, sizeof(lc->cnt));
		/* no slot above the high-water marks was ever counted */
		memset(lc->ifcnt, 0,
		       dp->ipsec->if_slots.hwm * sizeof(*lc->ifcnt));
		memset(lc->sacnt, 0,
		       dp->ipsec->sa_slots.hwm * sizeof(*lc->sacnt));
		memset(&lc->lcl, 0, sizeof(lc->lcl));
	}
	memset(dp->ctl_cnt, 0, sizeof(dp->ctl_cnt));
	memset(&dp->ctl_lcl, 0, sizeof(dp->ctl_lcl));
	if (dp->local != NULL)
		local_stats_reset(dp->local);
}

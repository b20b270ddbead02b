/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "dataplane/neigh.h"

struct neigh_table *
neigh_table_create(const char *name, uint32_t max, int socket)
{
	struct neigh_table *t;
	struct rte_hash_parameters p = {
		.name = name,
		.entries = max,
		.key_len = sizeof(struct neigh_key),
		.hash_func = rte_jhash,
		.socket_id = socket,
		/* Workers read while the control thread writes. */
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF,
	};

	t = rte_zmalloc_socket("neigh", sizeof(*t), 0, socket);
	if (t == NULL)
		return NULL;
	t->max = max;
	t->gen = 1;
	t->entries = rte_calloc_socket("neigh_entries", max,
				       sizeof(*t->entries), 0, socket);
	t->free_idx = rte_calloc_socket("neigh_free", max,
					sizeof(*t->free_idx), 0, socket);
	t->h = rte_hash_create(&p);
	if (t->entries == NULL || t->free_idx == NULL || t->h == NULL) {
		neigh_table_free(t);
		return NULL;
	}
	for (t->nfree = 0; t->nfree < max; t->nfree++)
		t->free_idx[t->nfree] = max - 1 - t->nfree;
	return t;
}

void
neigh_table_free(struct neigh_table *t)
{
	if (t == NULL)
		return;
	rte_hash_free(t->h);
	rte_free(t->entries);
	rte_free(t->free_idx);
	rte_free(t);
}

int
neigh_add(struct neigh_table *t, const struct neigh_key *k,
	  const struct rte_ether_addr *lladdr, bool is_static)
{
	struct neigh_entry *e;
	void *data;
	int rc;

	if (rte_hash_lookup_data(t->h, k, &data) >= 0) {
		/*
		 * Replace in place.  The link-layer address is six bytes a
		 * worker may read while it changes; a torn read costs one
		 * misaddressed frame while a neighbor moves, which ARP has
		 * always tolerated.
		 */
		e = data;
		e->lladdr = *lladdr;
		e->is_static = is_static;
		e->probes = 0;
		return 0;
	}
	if (t->nfree == 0)
		return -ENOSPC;
	e = &t->entries[t->free_idx[t->nfree - 1]];
	e->key = *k;
	e->lladdr = *lladdr;
	e->is_static = is_static;
	e->probes = 0;
	e->confirmed = 0;
	e->used = 0;
	rc = rte_hash_add_key_data(t->h, k, e);
	if (rc < 0)
		return rc;
	t->nfree--;
	return 0;
}

int
neigh_learn(struct neigh_table *t, const struct neigh_key *k,
	    const struct rte_ether_addr *lladdr, uint64_t now)
{
	struct neigh_entry *e;
	void *data;
	int rc;

	if (rte_hash_lookup_data(t->h, k, &data) >= 0) {
		e = data;
		if (e->is_static)
			return -EEXIST;
		if (!rte_is_same_ether_addr(&e->lladdr, lladdr))
			e->lladdr = *lladdr;
		e->probes = 0;
		e->confirmed = now;
		return 0;
	}
	rc = neigh_add(t, k, lladdr, false);
	if (rc != 0)
		return rc;
	if (rte_hash_lookup_data(t->h, k, &data) >= 0) {
		e = data;
		e->confirmed = now;
		e->used = now;
	}
	return 0;
}

/* Called by the hash once no reader can hold the entry any more. */
static void
neigh_entry_free(void *p, void *data)
{
	struct neigh_table *t = p;

	t->free_idx[t->nfree++] =
		(uint32_t)((struct neigh_entry *)data - t->entries);
}

int
neigh_rcu_attach(struct neigh_table *t, struct rte_rcu_qsbr *v)
{
	struct rte_hash_rcu_config c = {
		.v = v,
		.mode = RTE_HASH_QSBR_MODE_SYNC,
		.key_data_ptr = t,
		.free_key_data_func = neigh_entry_free,
	};

	t->rcu = true;
	t->v = v;
	return rte_hash_rcu_qsbr_add(t->h, &c);
}

/*
 * With lock-free readers the hash keeps a deleted key's slot until it is
 * freed by position, and the entry must outlive any reader: with RCU
 * attached the hash waits for a grace period and calls neigh_entry_free;
 * without (no worker runs) both are freed here.
 */
int
neigh_del(struct neigh_table *t, const struct neigh_key *k)
{
	void *data;
	int32_t pos;

	if (rte_hash_lookup_data(t->h, k, &data) < 0)
		return -ENOENT;
	pos = rte_hash_del_key(t->h, k);
	if (pos < 0)
		return pos;
	/*
	 * Workers' caches let go of it (0 marks an empty slot): after the
	 * delete, since a worker that looked it up in between cached it under
	 * the old generation; and the slot, free again, is not reused until
	 * no worker can hold that generation any more.
	 */
	__atomic_store_n(&t->gen, t->gen + 1 == 0 ? 1 : t->gen + 1,
			 __ATOMIC_RELEASE);
	if (t->rcu)
		rte_rcu_qsbr_synchronize(t->v, RTE_QSBR_THRID_INVALID);
	if (t->rcu)
		return 0;
	rte_hash_free_key_with_position(t->h, pos);
	neigh_entry_free(t, data);
	return 0;
}

int
neigh_iterate(const struct neigh_table *t, uint32_t *next,
	      const struct neigh_entry **e)
{
	const void *key;
	void *data;

	if (rte_hash_iterate(t->h, &key, &data, next) < 0)
		return -ENOENT;
	*e = data;
	return 0;
}

const struct neigh_entry *
neigh_lookup(const struct neigh_table *t, const struct neigh_key *k)
{
	void *data;

	if (rte_hash_lookup_data(t->h, k, &data) < 0)
		return NULL;
	return data;
}

uint32_t
neigh_count(const struct neigh_table *t)
{
	return rte_hash_count(t->h);
}

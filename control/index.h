/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A hash index over the entries of an array that the caller owns: it maps
 * a 64-bit hash of an entry's key to the entry's position, and the caller
 * compares keys itself.  The configuration's lookups by name, reqid,
 * tunnel and (spi, dst) go through it, so that loading 100 000 interfaces
 * and 200 000 SAs, or adding them one at a time, costs O(1) per entry
 * where a scan of every earlier entry cost O(n).
 *
 * Open addressing with linear probing; the hash is kept in the slot, so
 * growing and deleting (backward shift, no tombstones) never ask the
 * caller for a key.  Entries with the same hash come out of a probe in the
 * order they were added (until one of them is deleted), so "the first
 * earlier entry with this name" keeps its meaning.
 *
 * No DPDK: the loader and its unit tests use it without EAL.  Control
 * thread only (no concurrent readers).
 */
#ifndef IPSECGW_INDEX_H
#define IPSECGW_INDEX_H

#include <stddef.h>
#include <stdint.h>

#define CFG_IX_NONE SIZE_MAX

struct cfg_ix {
	uint64_t *hash;			/* per slot */
	uint32_t *entry;		/* per slot; UINT32_MAX: empty */
	size_t mask;			/* slots - 1; 0 when not allocated */
	size_t n;			/* entries */
};

/* 64-bit hash of bytes (FNV-1a, then a final mix). */
uint64_t cfg_ix_hash(const void *p, size_t len, uint64_t seed);

/* Room for `hint` entries without growing; 0 or -ENOMEM. */
int cfg_ix_init(struct cfg_ix *ix, size_t hint);
void cfg_ix_free(struct cfg_ix *ix);
void cfg_ix_clear(struct cfg_ix *ix);
int cfg_ix_add(struct cfg_ix *ix, uint64_t hash, size_t entry);
/* Room for n entries in all, so that adding up to there cannot fail. */
int cfg_ix_reserve(struct cfg_ix *ix, size_t n);
/* Remove `entry` (added with `hash`); 0, or -ENOENT. */
int cfg_ix_del(struct cfg_ix *ix, uint64_t hash, size_t entry);
/* The entry added as `from` is now at `to` (an array's swap-remove). */
int cfg_ix_move(struct cfg_ix *ix, uint64_t hash, size_t from, size_t to);

/*
 * Candidates with this hash, in the order they were added:
 *	for (e = cfg_ix_first(ix, h, &it); e != CFG_IX_NONE;
 *	     e = cfg_ix_next(ix, h, &it))
 *		if (key of entry e equals the key) ...
 */
size_t cfg_ix_first(const struct cfg_ix *ix, uint64_t hash, size_t *it);
size_t cfg_ix_next(const struct cfg_ix *ix, uint64_t hash, size_t *it);

#endif /* IPSECGW_INDEX_H */

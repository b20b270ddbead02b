/* SPDX-License-Identifier: BSD-3-Clause */
/* The hash index of control/index.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "control/index.h"

#define EMPTY UINT32_MAX
#define MIN_SLOTS 16

uint64_t
cfg_ix_hash(const void *p, size_t len, uint64_t seed)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull ^ seed;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	/* FNV's low bits are weak for short keys: mix (splitmix64's) */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return h;
}

static int
ix_alloc(struct cfg_ix *ix, size_t slots)
{
	size_t i;

	ix->hash = malloc(slots * sizeof(*ix->hash));
	ix->entry = malloc(slots * sizeof(*ix->entry));
	if (ix->hash == NULL || ix->entry == NULL) {
		free(ix->hash);
		free(ix->entry);
		ix->hash = NULL;
		ix->entry = NULL;
		ix->mask = 0;
		return -ENOMEM;
	}
	for (i = 0; i < slots; i++)
		ix->entry[i] = EMPTY;
	ix->mask = slots - 1;
	return 0;
}

static size_t
slots_for(size_t n)
{
	size_t s = MIN_SLOTS;

	/* at most half full: probes stay short */
	while (s < 2 * n)
		s *= 2;
	return s;
}

int
cfg_ix_init(struct cfg_ix *ix, size_t hint)
{
	memset(ix, 0, sizeof(*ix));
	return ix_alloc(ix, slots_for(hint));
}

void
cfg_ix_free(struct cfg_ix *ix)
{
	free(ix->hash);
	free(ix->entry);
	memset(ix, 0, sizeof(*ix));
}

void
cfg_ix_clear(struct cfg_ix *ix)
{
	size_t i;

	for (i = 0; ix->entry != NULL && i <= ix->mask; i++)
		ix->entry[i] = EMPTY;
	ix->n = 0;
}

static void
put(struct cfg_ix *ix, uint64_t hash, uint32_t entry)
{
	size_t i = hash & ix->mask;

	while (ix->entry[i] != EMPTY)
		i = (i + 1) & ix->mask;
	ix->hash[i] = hash;
	ix->entry[i] = entry;
}

static int
grow(struct cfg_ix *ix)
{
	struct cfg_ix old = *ix;
	size_t i;

	if (ix_alloc(ix, (old.mask + 1) * 2) != 0) {
		*ix = old;
		return -ENOMEM;
	}
	/* in slot order from a run's start keeps the order of equal hashes:
	 * start after an empty slot so that no run is split */
	for (i = 0; i <= old.mask && old.entry[i] != EMPTY; i++)
		;
	for (size_t k = 0; k <= old.mask; k++) {
		size_t j = (i + k) & old.mask;

		if (old.entry[j] != EMPTY)
			put(ix, old.hash[j], old.entry[j]);
	}
	free(old.hash);
	free(old.entry);
	return 0;
}

int
cfg_ix_reserve(struct cfg_ix *ix, size_t n)
{
	if (ix->mask == 0 && ix_alloc(ix, MIN_SLOTS) != 0)
		return -ENOMEM;
	while (2 * n > ix->mask + 1)
		if (grow(ix) != 0)
			return -ENOMEM;
	return 0;
}

int
cfg_ix_add(struct cfg_ix *ix, uint64_t hash, size_t entry)
{
	if (entry >= EMPTY)
		return -ERANGE;
	if ((ix->mask == 0 && ix_alloc(ix, MIN_SLOTS) != 0) ||
	    (2 * (ix->n + 1) > ix->mask + 1 && grow(ix) != 0))
		return -ENOMEM;
	put(ix, hash, (uint32_t)entry);
	ix->n++;
	return 0;
}

static size_t
slot_of(const struct cfg_ix *ix, uint64_t hash, size_t entry)
{
	size_t i;

	if (ix->mask == 0)
		return CFG_IX_NONE;
	for (i = hash & ix->mask; ix->entry[i] != EMPTY; i = (i + 1) & ix->mask)
		if (ix->entry[i] == entry && ix->hash[i] == hash)
			return i;
	return CFG_IX_NONE;
}

int
cfg_ix_del(struct cfg_ix *ix, uint64_t hash, size_t entry)
{
	size_t i = slot_of(ix, hash, entry), j, home;

	if (i == CFG_IX_NONE)
		return -ENOENT;
	/* backward shift: pull later members of the run into the hole
	 * when their home slot is not between the hole and them */
	for (j = (i + 1) & ix->mask; ix->entry[j] != EMPTY;
	     j = (j + 1) & ix->mask) {
		home = ix->hash[j] & ix->mask;
		if (((j - home) & ix->mask) >= ((j - i) & ix->mask)) {
			ix->hash[i] = ix->hash[j];
			ix->entry[i] = ix->entry[j];
			i = j;
		}
	}
	ix->entry[i] = EMPTY;
	ix->n--;
	return 0;
}

int
cfg_ix_move(struct cfg_ix *ix, uint64_t hash, size_t from, size_t to)
{
	size_t i = slot_of(ix, hash, from);

	if (i == CFG_IX_NONE || to >= EMPTY)
		return -ENOENT;
	ix->entry[i] = (uint32_t)to;
	return 0;
}

size_t
cfg_ix_next(const struct cfg_ix *ix, uint64_t hash, size_t *it)
{
	size_t i = *it;

	if (ix->mask == 0)
		return CFG_IX_NONE;
	for (; ix->entry[i] != EMPTY; i = (i + 1) & ix->mask)
		if (ix->hash[i] == hash) {
			*it = (i + 1) & ix->mask;
			return ix->entry[i];
		}
	*it = i;
	return CFG_IX_NONE;
}

size_t
cfg_ix_first(const struct cfg_ix *ix, uint64_t hash, size_t *it)
{
	*it = hash & ix->mask;
	return cfg_ix_next(ix, hash, it);
}

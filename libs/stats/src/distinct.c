/* stats_distinct: distinct count, exact up to a bound, HyperLogLog beyond.
 *
 * Exact mode is an open-addressing set of 64-bit value hashes (linear probing, load at
 * most 1/2; hash 0 is kept as a flag because 0 marks an empty slot). A HyperLogLog of
 * 2^STATS_HLL_P one-byte registers (Flajolet et al. 2007; register = top P bits of the
 * hash, rank = leading zeros of the rest + 1) is fed from the first value, so when the
 * set passes the bound it is simply freed and the registers answer from then on. The
 * estimate uses linear counting while it is small (below 2.5 m, with empty registers),
 * the raw harmonic mean otherwise; 64-bit hashes need no large-range correction. */
#include <math.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "stats/stats.h"

#define HLL_M ((size_t)1 << STATS_HLL_P)

struct stats_distinct {
	size_t bound;
	uint64_t *slots; /* NULL once past the bound */
	size_t cap, n;
	bool has_zero;
	uint8_t regs[HLL_M];
};

struct stats_distinct *stats_distinct_new(size_t bound)
{
	struct stats_distinct *d = core_xcalloc(1, sizeof *d);

	d->bound = bound ? bound : STATS_DISTINCT_BOUND_DEFAULT;
	d->cap = 64;
	d->slots = core_xcalloc(d->cap, sizeof *d->slots);
	return d;
}

void stats_distinct_free(struct stats_distinct *d)
{
	if (!d)
		return;
	free(d->slots);
	free(d);
}

static bool set_insert(uint64_t *slots, size_t cap, uint64_t h)
{
	size_t i = (size_t)(h & (cap - 1));

	while (slots[i]) {
		if (slots[i] == h)
			return false;
		i = (i + 1) & (cap - 1);
	}
	slots[i] = h;
	return true;
}

static void set_grow(struct stats_distinct *d)
{
	size_t cap = d->cap * 2;
	uint64_t *slots = core_xcalloc(cap, sizeof *slots);

	for (size_t i = 0; i < d->cap; i++)
		if (d->slots[i])
			set_insert(slots, cap, d->slots[i]);
	free(d->slots);
	d->slots = slots;
	d->cap = cap;
}

void stats_distinct_add_hash(struct stats_distinct *d, uint64_t h)
{
	size_t reg = (size_t)(h >> (64 - STATS_HLL_P));
	uint64_t rest = h << STATS_HLL_P;
	unsigned rank = rest ? (unsigned)__builtin_clzll(rest) + 1 : 64 - STATS_HLL_P + 1;

	if (rank > d->regs[reg])
		d->regs[reg] = (uint8_t)rank;
	if (!d->slots)
		return;
	bool added;
	if (h == 0) {
		added = !d->has_zero;
		d->has_zero = true;
	} else {
		added = set_insert(d->slots, d->cap, h);
	}
	if (!added)
		return;
	d->n++;
	if (d->n > d->bound) {
		free(d->slots);
		d->slots = NULL;
		return;
	}
	if (d->n * 2 > d->cap)
		set_grow(d);
}

uint64_t stats_distinct_count(const struct stats_distinct *d, bool *exact)
{
	if (d->slots) {
		if (exact)
			*exact = true;
		return d->n;
	}
	if (exact)
		*exact = false;
	double m = (double)HLL_M, sum = 0;
	size_t zeros = 0;
	for (size_t i = 0; i < HLL_M; i++) {
		sum += ldexp(1.0, -(int)d->regs[i]);
		zeros += d->regs[i] == 0;
	}
	double e = 0.7213 / (1 + 1.079 / m) * m * m / sum;
	if (e <= 2.5 * m && zeros)
		e = m * log(m / (double)zeros);
	return (uint64_t)llround(e);
}

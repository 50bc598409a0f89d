/* stats_counts: value counts with a bounded table.
 *
 * An open-addressing map (value bytes -> count, keyed by stats_hash64) holds every value
 * until it reaches twice the bound; then it is pruned to its `bound` most frequent
 * values and from then on the counts are lower bounds. The largest count dropped at each
 * prune is added to `error`: a kept value cannot have lost more than that sum (it can
 * only have been dropped while its count was at most the drop count of that prune), and
 * any value whose true count exceeds it is still held. Before the first prune every
 * count is exact. stats_counts_top sorts by count descending, then value ascending, so
 * ties come out in the same order on every run. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "stats/stats.h"

struct entry {
	char *value; /* NUL-terminated copy; len bytes */
	size_t len;
	uint64_t hash, count;
};

struct stats_counts {
	size_t bound;
	struct entry *slots; /* value == NULL: empty */
	size_t cap, n;
	uint64_t total, error;
	bool pruned;
};

struct stats_counts *stats_counts_new(size_t bound)
{
	struct stats_counts *c = core_xcalloc(1, sizeof *c);

	c->bound = bound ? bound : STATS_COUNTS_BOUND_DEFAULT;
	c->cap = 64;
	c->slots = core_xcalloc(c->cap, sizeof *c->slots);
	return c;
}

void stats_counts_free(struct stats_counts *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->cap; i++)
		free(c->slots[i].value);
	free(c->slots);
	free(c);
}

static struct entry *find_slot(struct entry *slots, size_t cap, const char *v, size_t len, uint64_t h)
{
	size_t i = (size_t)(h & (cap - 1));

	while (slots[i].value && !(slots[i].hash == h && slots[i].len == len && memcmp(slots[i].value, v, len) == 0))
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

static void rehash(struct stats_counts *c, size_t cap)
{
	struct entry *slots = core_xcalloc(cap, sizeof *slots);

	for (size_t i = 0; i < c->cap; i++)
		if (c->slots[i].value)
			*find_slot(slots, cap, c->slots[i].value, c->slots[i].len, c->slots[i].hash) = c->slots[i];
	free(c->slots);
	c->slots = slots;
	c->cap = cap;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a, *y = *(const struct entry *const *)b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	size_t n = x->len < y->len ? x->len : y->len;
	int r = memcmp(x->value, y->value, n);
	if (r)
		return r;
	return (x->len > y->len) - (x->len < y->len);
}

/* Entries held, sorted as stats_counts_top orders them; caller frees the array. */
static struct entry **sorted_entries(const struct stats_counts *c)
{
	struct entry **all = core_xmalloc((c->n ? c->n : 1) * sizeof *all);
	size_t m = 0;

	for (size_t i = 0; i < c->cap; i++)
		if (c->slots[i].value)
			all[m++] = &c->slots[i];
	qsort(all, m, sizeof *all, cmp_entry);
	return all;
}

static void prune(struct stats_counts *c)
{
	struct entry **all = sorted_entries(c);

	c->error += all[c->bound]->count;
	for (size_t i = c->bound; i < c->n; i++) {
		free(all[i]->value);
		all[i]->value = NULL;
	}
	free(all);
	c->n = c->bound;
	c->pruned = true;
	rehash(c, c->cap); /* drops the tombstones left by the freed entries */
}

void stats_counts_add(struct stats_counts *c, const char *value, size_t len)
{
	uint64_t h = stats_hash64(value, len);
	struct entry *e = find_slot(c->slots, c->cap, value, len, h);

	c->total++;
	if (e->value) {
		e->count++;
		return;
	}
	e->value = core_xstrndup(value, len);
	e->len = len;
	e->hash = h;
	e->count = 1;
	c->n++;
	if (c->n >= 2 * c->bound)
		prune(c);
	else if (c->n * 2 > c->cap)
		rehash(c, c->cap * 2);
}

uint64_t stats_counts_total(const struct stats_counts *c)
{
	return c->total;
}

size_t stats_counts_distinct(const struct stats_counts *c)
{
	return c->n;
}

bool stats_counts_exact(const struct stats_counts *c)
{
	return !c->pruned;
}

uint64_t stats_counts_error(const struct stats_counts *c)
{
	return c->error;
}

struct stats_value_count *stats_counts_top(const struct stats_counts *c, size_t k, size_t *n, uint64_t *other)
{
	struct entry **all = sorted_entries(c);
	size_t m = k < c->n ? k : c->n;
	struct stats_value_count *out = core_xmalloc((m ? m : 1) * sizeof *out);
	uint64_t sum = 0;

	for (size_t i = 0; i < m; i++) {
		out[i].value = all[i]->value;
		out[i].len = all[i]->len;
		out[i].count = all[i]->count;
		sum += all[i]->count;
	}
	free(all);
	*n = m;
	*other = c->total - sum;
	return out;
}

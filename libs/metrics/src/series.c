/* Series storage and the update path: what runs on every HTTP request.
 *
 * Each family keeps its series in a chained hash table keyed by the tuple of label
 * values (FNV-1a over the values, each followed by a 0xFF byte that never occurs in
 * UTF-8, so ("ab","c") and ("a","bc") hash apart), plus a creation-order list that
 * render.c walks. The table doubles when it holds as many series as chains, so a
 * lookup costs one hash of the values and, in the expected case, one comparison.
 * A family without labels skips all that and uses its solo series.
 *
 * An update takes the family's mutex once: lookup (or creation) and the change to the
 * value happen under it, which is what lets render.c read a histogram's buckets, _sum
 * and _count as one consistent snapshot.
 *
 * Before lookup, label values are checked (metrics_int_value_ok); the rare value that
 * is not UTF-8 or too long is replaced by a normalized copy, so the table only ever
 * holds values that render safely. Once a family holds METRICS_MAX_SERIES - 1 series,
 * new tuples go to the overflow series (every value METRICS_OVERFLOW_VALUE).
 *
 * Entry points: metrics_counter_add, metrics_gauge_set, metrics_gauge_add,
 * metrics_histogram_observe; metrics_int_series_init/free for registry.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_int.h"

#define INITIAL_CHAINS 16

enum op {
	OP_COUNTER_ADD,
	OP_GAUGE_SET,
	OP_GAUGE_ADD,
	OP_OBSERVE,
};

static const char *value_at(const char *const *values, size_t i)
{
	return values[i] ? values[i] : "";
}

static uint64_t hash_values(const char *const *values, size_t n)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a 64 offset basis */

	for (size_t i = 0; i < n; i++) {
		for (const unsigned char *p = (const unsigned char *)value_at(values, i); *p; p++) {
			h ^= *p;
			h *= 1099511628211ULL;
		}
		h ^= 0xFF;
		h *= 1099511628211ULL;
	}
	return h;
}

static struct metrics_series *series_alloc(const struct metrics_family *f, const char *const *values, uint64_t hash)
{
	size_t hist = f->type == METRICS_INT_HISTOGRAM ? f->n_buckets : 0;
	struct metrics_series *s = metrics_int_xcalloc(1, sizeof *s + hist * sizeof s->buckets[0]);
	size_t bytes = f->n_labels * sizeof(char *);
	char *p;

	s->hash = hash;
	for (size_t i = 0; i < f->n_labels; i++)
		bytes += strlen(value_at(values, i)) + 1;
	/* One block: the pointer array, then the strings it points into. */
	s->values = metrics_int_xmalloc(bytes);
	p = (char *)(s->values + f->n_labels);
	for (size_t i = 0; i < f->n_labels; i++) {
		size_t len = strlen(value_at(values, i)) + 1;

		memcpy(p, value_at(values, i), len);
		s->values[i] = p;
		p += len;
	}
	return s;
}

static void link_in_order(struct metrics_family *f, struct metrics_series *s)
{
	if (f->last)
		f->last->onext = s;
	else
		f->first = s;
	f->last = s;
	f->n_series++;
}

void metrics_int_series_init(struct metrics_family *f)
{
	if (f->n_labels == 0) {
		f->solo = series_alloc(f, NULL, 0);
		link_in_order(f, f->solo);
		return;
	}
	f->table = metrics_int_xcalloc(INITIAL_CHAINS, sizeof *f->table);
	f->table_mask = INITIAL_CHAINS - 1;
}

void metrics_int_series_free(struct metrics_family *f)
{
	struct metrics_series *s, *next;

	for (s = f->first; s; s = next) {
		next = s->onext;
		free(s->values);
		free(s);
	}
	free(f->table);
	f->table = NULL;
	f->first = f->last = f->solo = f->overflow = NULL;
	f->n_series = 0;
}

static void grow(struct metrics_family *f)
{
	size_t n = (f->table_mask + 1) * 2;
	struct metrics_series **t = metrics_int_xcalloc(n, sizeof *t);

	/* Rechain from the creation-order list: every series is on it exactly once. */
	for (struct metrics_series *s = f->first; s; s = s->onext) {
		size_t i = (size_t)(s->hash & (n - 1));

		s->hnext = t[i];
		t[i] = s;
	}
	free(f->table);
	f->table = t;
	f->table_mask = n - 1;
}

static struct metrics_series *find(const struct metrics_family *f, const char *const *values, uint64_t hash)
{
	for (struct metrics_series *s = f->table[hash & f->table_mask]; s; s = s->hnext) {
		size_t i = 0;

		if (s->hash != hash)
			continue;
		while (i < f->n_labels && strcmp(s->values[i], value_at(values, i)) == 0)
			i++;
		if (i == f->n_labels)
			return s;
	}
	return NULL;
}

static struct metrics_series *insert(struct metrics_family *f, const char *const *values, uint64_t hash)
{
	struct metrics_series *s = series_alloc(f, values, hash);
	size_t i = (size_t)(hash & f->table_mask);

	s->hnext = f->table[i];
	f->table[i] = s;
	link_in_order(f, s);
	if (f->n_series > f->table_mask)
		grow(f);
	return s;
}

/* The series for values, created if need be. Caller holds f->lock. */
static struct metrics_series *lookup(struct metrics_family *f, const char *const *values)
{
	uint64_t hash = hash_values(values, f->n_labels);
	struct metrics_series *s = find(f, values, hash);
	const char **overflow = NULL;

	if (s || f->overflow)
		goto out;
	if (f->n_series < METRICS_MAX_SERIES - 1) {
		s = insert(f, values, hash);
		goto out;
	}
	/* Full: the last slot is kept for the overflow series, found or made once. */
	overflow = metrics_int_xcalloc(f->n_labels, sizeof *overflow);
	for (size_t i = 0; i < f->n_labels; i++)
		overflow[i] = METRICS_OVERFLOW_VALUE;
	hash = hash_values(overflow, f->n_labels);
	f->overflow = find(f, overflow, hash);
	if (!f->overflow)
		f->overflow = insert(f, overflow, hash);

out:
	free(overflow);
	return s ? s : f->overflow;
}

static void apply(const struct metrics_family *f, struct metrics_series *s, enum op op, double v)
{
	size_t lo = 0, hi = f->n_buckets;

	switch (op) {
	case OP_COUNTER_ADD:
	case OP_GAUGE_ADD:
		s->value += v;
		break;
	case OP_GAUGE_SET:
		s->value = v;
		break;
	case OP_OBSERVE:
		/* First bound >= v; past the end means only the implicit +Inf bucket. */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (f->bounds[mid] < v)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < f->n_buckets)
			s->buckets[lo]++;
		s->count++;
		s->value += v;
		break;
	}
}

/* Normalized copies of all n values, for the rare call where one is not usable. */
static char **normalize_all(const char *const *values, size_t n)
{
	char **fixed = metrics_int_xcalloc(n, sizeof *fixed);

	for (size_t i = 0; i < n; i++)
		fixed[i] = metrics_int_value_normalize(value_at(values, i));
	return fixed;
}

static void update(struct metrics_family *f, const char *const *label_values, enum metrics_int_type type, enum op op,
		   double v)
{
	const char *const *values = label_values;
	char **fixed = NULL;
	struct metrics_series *s;

	if (!f || f->type != type || (f->n_labels > 0 && !label_values))
		return;

	for (size_t i = 0; i < f->n_labels; i++) {
		if (!metrics_int_value_ok(value_at(label_values, i))) {
			fixed = normalize_all(label_values, f->n_labels);
			values = (const char *const *)fixed;
			break;
		}
	}

	pthread_mutex_lock(&f->lock);
	s = f->solo ? f->solo : lookup(f, values);
	apply(f, s, op, v);
	pthread_mutex_unlock(&f->lock);

	for (size_t i = 0; fixed && i < f->n_labels; i++)
		free(fixed[i]);
	free(fixed);
}

void metrics_counter_add(struct metrics_family *f, const char *const *label_values, double v)
{
	if (!(isfinite(v) && v >= 0))
		return;
	update(f, label_values, METRICS_INT_COUNTER, OP_COUNTER_ADD, v);
}

void metrics_gauge_set(struct metrics_family *f, const char *const *label_values, double v)
{
	update(f, label_values, METRICS_INT_GAUGE, OP_GAUGE_SET, v);
}

void metrics_gauge_add(struct metrics_family *f, const char *const *label_values, double v)
{
	update(f, label_values, METRICS_INT_GAUGE, OP_GAUGE_ADD, v);
}

void metrics_histogram_observe(struct metrics_family *f, const char *const *label_values, double v)
{
	if (isnan(v))
		return;
	update(f, label_values, METRICS_INT_HISTOGRAM, OP_OBSERVE, v);
}

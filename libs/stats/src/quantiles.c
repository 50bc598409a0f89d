/* stats_quantiles: exact quantiles while the values fit a bound, a KLL sketch beyond.
 *
 * Exact mode keeps every value in a growing array and answers as numpy.quantile's
 * default method: virtual index (n-1)q, then numpy's _lerp (a + (b-a)t, or b - (b-a)(1-t)
 * when t >= 0.5), so answers match numpy bit for bit. The first add past the bound moves
 * the values into a KLL sketch and frees the array.
 *
 * The sketch (Karnin, Lang, Liberty, "Optimal quantile approximation in streams", 2016):
 * level h holds items of weight 2^h; its capacity is k (2/3)^(top-h), at least 8. When
 * the items outgrow the total capacity, the lowest full level is sorted and compacted:
 * one of every two neighbours (the odd or the even ones, by a coin flip) moves up a
 * level with twice the weight; an odd one out stays. Coins come from a xorshift generator
 * with a fixed seed, so a stream always gives the same sketch. Memory is about 3k
 * doubles. Exact min and max are kept aside so q = 0 and q = 1 stay exact. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "stats/stats.h"

#define KLL_MIN_CAP 8

struct kll_level {
	double *v;
	size_t n, cap;
};

struct stats_quantiles {
	size_t bound;
	uint64_t count;
	double min, max;
	/* exact mode */
	double *vals;
	size_t n, cap;
	bool sorted;
	/* sketch mode (levels != NULL) */
	struct kll_level *levels;
	size_t nlev;
	size_t held; /* items over all levels */
	uint64_t rng;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static size_t level_capacity(size_t nlev, size_t h)
{
	double c = STATS_KLL_K;

	for (size_t d = nlev - 1 - h; d > 0; d--)
		c *= 2.0 / 3.0;
	size_t cap = (size_t)ceil(c);
	return cap < KLL_MIN_CAP ? KLL_MIN_CAP : cap;
}

static void level_push(struct kll_level *l, double x)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->v = core_xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = x;
}

static unsigned coin(struct stats_quantiles *q)
{
	q->rng ^= q->rng << 13;
	q->rng ^= q->rng >> 7;
	q->rng ^= q->rng << 17;
	return (unsigned)(q->rng >> 63);
}

static void kll_compact(struct stats_quantiles *q)
{
	size_t total_cap = 0;

	for (size_t h = 0; h < q->nlev; h++)
		total_cap += level_capacity(q->nlev, h);
	if (q->held < total_cap)
		return;
	size_t h = 0;
	while (h + 1 < q->nlev && q->levels[h].n < level_capacity(q->nlev, h))
		h++;
	if (h + 1 == q->nlev) {
		q->levels = core_xrealloc(q->levels, (q->nlev + 1) * sizeof *q->levels);
		memset(&q->levels[q->nlev], 0, sizeof *q->levels);
		q->nlev++;
	}
	struct kll_level *l = &q->levels[h];
	qsort(l->v, l->n, sizeof *l->v, cmp_double);
	size_t pairs = l->n / 2;
	unsigned r = coin(q);
	for (size_t i = 0; i < pairs; i++)
		level_push(&q->levels[h + 1], l->v[2 * i + r]);
	/* an odd one out (the largest) stays where it is */
	if (l->n % 2)
		l->v[0] = l->v[l->n - 1];
	l->n %= 2;
	q->held -= pairs;
}

static void kll_add(struct stats_quantiles *q, double x)
{
	level_push(&q->levels[0], x);
	q->held++;
	kll_compact(q);
}

struct stats_quantiles *stats_quantiles_new(size_t bound)
{
	struct stats_quantiles *q = core_xcalloc(1, sizeof *q);

	q->bound = bound ? bound : STATS_QUANTILES_BOUND_DEFAULT;
	q->rng = 0x2545f4914f6cdd1dULL;
	q->min = NAN;
	q->max = NAN;
	return q;
}

void stats_quantiles_free(struct stats_quantiles *q)
{
	if (!q)
		return;
	free(q->vals);
	for (size_t h = 0; h < q->nlev; h++)
		free(q->levels[h].v);
	free(q->levels);
	free(q);
}

void stats_quantiles_add(struct stats_quantiles *q, double x)
{
	if (isnan(x))
		return;
	if (q->count == 0 || x < q->min)
		q->min = x;
	if (q->count == 0 || x > q->max)
		q->max = x;
	q->count++;
	if (q->levels) {
		kll_add(q, x);
		return;
	}
	if (q->n < q->bound) {
		if (q->n == q->cap) {
			q->cap = q->cap ? q->cap * 2 : 64;
			if (q->cap > q->bound)
				q->cap = q->bound;
			q->vals = core_xrealloc(q->vals, q->cap * sizeof *q->vals);
		}
		q->vals[q->n++] = x;
		q->sorted = false;
		return;
	}
	/* past the bound: everything moves into the sketch */
	q->levels = core_xcalloc(1, sizeof *q->levels);
	q->nlev = 1;
	for (size_t i = 0; i < q->n; i++)
		kll_add(q, q->vals[i]);
	free(q->vals);
	q->vals = NULL;
	q->n = q->cap = 0;
	kll_add(q, x);
}

uint64_t stats_quantiles_count(const struct stats_quantiles *q)
{
	return q->count;
}

bool stats_quantiles_exact(const struct stats_quantiles *q)
{
	return q->levels == NULL;
}

const double *stats_quantiles_sorted(struct stats_quantiles *q, size_t *n)
{
	if (q->levels) {
		*n = 0;
		return NULL;
	}
	if (!q->sorted) {
		if (q->n > 1)
			qsort(q->vals, q->n, sizeof *q->vals, cmp_double);
		q->sorted = true;
	}
	*n = q->n;
	return q->vals;
}

/* numpy's _lerp: the two-sided form keeps lerp(a, b, 1) == b exactly. */
static double np_lerp(double a, double b, double t)
{
	double d = b - a;
	return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

static double exact_quantile(const double *v, size_t n, double p)
{
	double vi = (double)(n - 1) * p;
	double prev = floor(vi);
	size_t lo = prev < 0 ? 0 : (size_t)prev;
	if (lo > n - 1)
		lo = n - 1;
	size_t hi = lo + 1 < n ? lo + 1 : n - 1;
	double t = vi - prev;
	return np_lerp(v[lo], v[hi], t);
}

struct weighted {
	double v;
	uint64_t w;
};

static int cmp_weighted(const void *a, const void *b)
{
	return cmp_double(&((const struct weighted *)a)->v, &((const struct weighted *)b)->v);
}

static void sketch_quantiles(struct stats_quantiles *q, const double *ps, size_t np, double *out)
{
	struct weighted *all = core_xmalloc((q->held ? q->held : 1) * sizeof *all);
	size_t m = 0;
	uint64_t total = 0;

	for (size_t h = 0; h < q->nlev; h++)
		for (size_t i = 0; i < q->levels[h].n; i++) {
			all[m].v = q->levels[h].v[i];
			all[m].w = (uint64_t)1 << h;
			total += all[m].w;
			m++;
		}
	qsort(all, m, sizeof *all, cmp_weighted);
	for (size_t j = 0; j < np; j++) {
		double p = ps[j];
		if (p <= 0) {
			out[j] = q->min;
			continue;
		}
		if (p >= 1) {
			out[j] = q->max;
			continue;
		}
		/* the first item whose cumulative weight passes rank p * total */
		double target = p * (double)total;
		uint64_t cum = 0;
		out[j] = q->max;
		for (size_t i = 0; i < m; i++) {
			cum += all[i].w;
			if ((double)cum > target) {
				out[j] = all[i].v;
				break;
			}
		}
	}
	free(all);
}

void stats_quantiles_get(struct stats_quantiles *q, const double *ps, size_t n, double *out)
{
	if (q->count == 0) {
		for (size_t j = 0; j < n; j++)
			out[j] = NAN;
		return;
	}
	if (q->levels) {
		sketch_quantiles(q, ps, n, out);
		return;
	}
	size_t nv;
	const double *v = stats_quantiles_sorted(q, &nv);
	for (size_t j = 0; j < n; j++)
		out[j] = exact_quantile(v, nv, ps[j]);
}

void stats_quantiles_fill_histogram(struct stats_quantiles *q, struct stats_histogram *h)
{
	if (!q->levels) {
		for (size_t i = 0; i < q->n; i++)
			stats_histogram_add(h, q->vals[i]);
		return;
	}
	for (size_t l = 0; l < q->nlev; l++)
		for (size_t i = 0; i < q->levels[l].n; i++)
			stats_histogram_add_n(h, q->levels[l].v[i], (uint64_t)1 << l);
}

/* Common bins for two samples, as Evidently draws them before psi, kl_div and
 * jensenshannon (legacy/calculations/stattests/utils.py, get_binned_data):
 *
 *   numerical, > 20 distinct reference values:
 *       edges = numpy.histogram_bin_edges(ref ∪ cur, "sturges")
 *             = linspace(min, max, B + 1),  B = ceil(ptp / (ptp / (log2 n + 1)))
 *       counts = numpy.histogram(sample, edges)
 *   otherwise (and every categorical column):
 *       one bin per distinct non-missing value of ref ∪ cur
 *
 * Both samples are copied and sorted once; the per-value path is then a merge of the two
 * sorted runs and the edge path a binary search per edge (numpy.histogram's own
 * searchsorted rule). Also here: the classic PSI's decile edges, counting on edges the
 * caller gives, and the helpers the distance files share (numpy's summation order,
 * shares from counts). Entry points: stats/distance.h; helpers: distance_int.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "distance_int.h"
#include "sort_int.h"
#include "stats/distance.h"
#include "stats/stats.h"

/* Evidently switches from per-value bins to Sturges bins above this many distinct
 * reference values. */
#define PER_VALUE_MAX 20
/* numpy's reduction buffer and pairwise block, which fix its summation order */
#define NP_BUFSIZE  8192
#define NP_PW_BLOCK 128

static double pairwise(const double *a, size_t n)
{
	if (n < 8) {
		double s = 0;
		for (size_t i = 0; i < n; i++)
			s += a[i];
		return s;
	}
	if (n <= NP_PW_BLOCK) {
		double r[8];
		size_t i;
		for (i = 0; i < 8; i++)
			r[i] = a[i];
		for (; i < n - n % 8; i += 8)
			for (size_t j = 0; j < 8; j++)
				r[j] += a[i + j];
		double s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
		for (; i < n; i++)
			s += a[i];
		return s;
	}
	size_t half = n / 2;
	half -= half % 8;
	return pairwise(a, half) + pairwise(a + half, n - half);
}

double stats_npsum(const double *a, size_t n)
{
	if (n == 0)
		return 0;
	double s = pairwise(a, n < NP_BUFSIZE ? n : NP_BUFSIZE);
	for (size_t i = NP_BUFSIZE; i < n; i += NP_BUFSIZE)
		s += pairwise(a + i, n - i < NP_BUFSIZE ? n - i : NP_BUFSIZE);
	return s;
}

enum core_status stats_shares_pair(const uint64_t *ref, size_t k_ref, const uint64_t *cur, size_t k_cur, int flags,
				   double **buf, double *out)
{
	size_t k = k_ref;
	uint64_t tr = 0, tc = 0;

	*buf = NULL;
	*out = NAN;
	if (!ref || !cur || k == 0 || k_cur != k)
		return CORE_EINVAL;
	for (size_t i = 0; i < k; i++) {
		tr += ref[i];
		tc += cur[i];
	}
	if (tr == 0 || tc == 0)
		return CORE_EINVAL;
	if (k > SIZE_MAX / (3 * sizeof(double)))
		return CORE_ENOMEM;
	double *b = malloc(3 * k * sizeof *b);
	if (!b)
		return CORE_ENOMEM;
	for (size_t i = 0; i < k; i++) {
		b[i] = (double)ref[i] / (double)tr;
		b[k + i] = (double)cur[i] / (double)tc;
	}
	if (flags & STATS_SHARES_SMOOTH) {
		stats_smooth_shares(b, k);
		stats_smooth_shares(b + k, k);
	}
	if (flags & STATS_SHARES_RENORM) {
		double sp = stats_npsum(b, k), sq = stats_npsum(b + k, k);
		for (size_t i = 0; i < k; i++) {
			b[i] /= sp;
			b[k + i] /= sq;
		}
	}
	*buf = b;
	return CORE_OK;
}

enum core_status stats_sorted_finite(const double *x, size_t n, double **out, size_t *m)
{
	size_t c = 0;

	*out = NULL;
	*m = 0;
	for (size_t i = 0; i < n; i++)
		c += isfinite(x[i]) != 0;
	if (c == 0)
		return CORE_EINVAL;
	double *s = malloc(c * sizeof *s);
	if (!s)
		return CORE_ENOMEM;
	c = 0;
	for (size_t i = 0; i < n; i++)
		if (isfinite(x[i]))
			s[c++] = x[i];
	uint64_t *tmp = malloc(c * sizeof *tmp);
	if (!tmp || stats_sort_doubles(s, c, tmp) != CORE_OK) {
		free(tmp);
		free(s);
		return CORE_ENOMEM;
	}
	free(tmp);
	*out = s;
	*m = c;
	return CORE_OK;
}

enum core_status stats_sorted_pair(const double *ref, size_t n_ref, const double *cur, size_t n_cur,
				   struct stats_sorted_pair *sp)
{
	enum core_status rc = stats_sorted_finite(ref, n_ref, &sp->r, &sp->nr);

	sp->c = NULL;
	sp->nc = 0;
	if (rc == CORE_OK)
		rc = stats_sorted_finite(cur, n_cur, &sp->c, &sp->nc);
	if (rc != CORE_OK)
		stats_sorted_pair_free(sp);
	return rc;
}

void stats_sorted_pair_free(struct stats_sorted_pair *sp)
{
	free(sp->r);
	free(sp->c);
	memset(sp, 0, sizeof *sp);
}

/* Index of the first value >= v (right: > v) in sorted s: numpy's searchsorted. */
static size_t search(const double *s, size_t n, double v, int right)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (right ? s[mid] <= v : s[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void stats_count_sorted(const double *s, size_t n, const double *edges, size_t k, int open_ends, uint64_t *counts)
{
	size_t prev = open_ends ? 0 : search(s, n, edges[0], 0);

	for (size_t i = 0; i < k; i++) {
		size_t next;
		if (i + 1 < k)
			next = search(s, n, edges[i + 1], 0);
		else
			next = open_ends ? n : search(s, n, edges[k], 1);
		counts[i] = next - prev;
		prev = next;
	}
}

size_t stats_sturges_bins(double lo, double hi, uint64_t n)
{
	if (n == 0 || !isfinite(lo) || !isfinite(hi) || hi < lo)
		return 0;
	double ptp = hi - lo;
	if (!isfinite(ptp))
		return 0;
	/* numpy first turns Sturges' count into a width, then the width back into a count:
	 * the round trip can land just above an integer, and then ceil adds a bin */
	double width = ptp / (log2((double)n) + 1.0);
	if (width == 0)
		return 1;
	return (size_t)ceil(ptp / width);
}

void stats_bins_free(struct stats_bins *b)
{
	if (b->labels)
		for (size_t i = 0; i < b->k; i++)
			free(b->labels[i]);
	free(b->labels);
	free(b->ref);
	free(b->cur);
	free(b->edges);
	free(b->values);
	memset(b, 0, sizeof *b);
}

static size_t count_distinct(const double *s, size_t n)
{
	size_t d = n > 0;
	for (size_t i = 1; i < n; i++)
		d += s[i] != s[i - 1];
	return d;
}

/* Per-value bins: merge two sorted runs, one bin per distinct value. */
static enum core_status per_value(const double *r, size_t nr, const double *c, size_t nc, struct stats_bins *b)
{
	size_t k = count_distinct(r, nr) + count_distinct(c, nc); /* an upper bound */

	b->values = malloc(k * sizeof *b->values);
	b->ref = calloc(k, sizeof *b->ref);
	b->cur = calloc(k, sizeof *b->cur);
	if (!b->values || !b->ref || !b->cur)
		return CORE_ENOMEM;
	size_t i = 0, j = 0, n = 0;
	while (i < nr || j < nc) {
		double v = j >= nc || (i < nr && r[i] <= c[j]) ? r[i] : c[j];
		b->values[n] = v;
		for (; i < nr && r[i] == v; i++)
			b->ref[n]++;
		for (; j < nc && c[j] == v; j++)
			b->cur[n]++;
		n++;
	}
	b->k = n;
	return CORE_OK;
}

static enum core_status on_edges(const double *r, size_t nr, const double *c, size_t nc, const double *edges, size_t k,
				 int open_ends, struct stats_bins *b)
{
	b->edges = malloc((k + 1) * sizeof *b->edges);
	b->ref = malloc(k * sizeof *b->ref);
	b->cur = malloc(k * sizeof *b->cur);
	if (!b->edges || !b->ref || !b->cur)
		return CORE_ENOMEM;
	memcpy(b->edges, edges, (k + 1) * sizeof *edges);
	stats_count_sorted(r, nr, edges, k, open_ends, b->ref);
	stats_count_sorted(c, nc, edges, k, open_ends, b->cur);
	b->k = k;
	return CORE_OK;
}

enum core_status stats_bins_numeric(const double *ref, size_t n_ref, const double *cur, size_t n_cur,
				    struct stats_bins *b)
{
	struct stats_sorted_pair sp;
	double *edges = NULL;
	enum core_status rc;

	memset(b, 0, sizeof *b);
	rc = stats_sorted_pair(ref, n_ref, cur, n_cur, &sp);
	if (rc != CORE_OK)
		return rc;
	const double *r = sp.r, *c = sp.c;
	size_t nr = sp.nr, nc = sp.nc;
	if (count_distinct(r, nr) <= PER_VALUE_MAX) {
		rc = per_value(r, nr, c, nc, b);
		goto out;
	}
	double lo = fmin(r[0], c[0]), hi = fmax(r[nr - 1], c[nc - 1]);
	size_t k = stats_sturges_bins(lo, hi, (uint64_t)nr + nc);
	if (k == 0) { /* the pooled range overflows a double */
		rc = CORE_EINVAL;
		goto out;
	}
	edges = malloc((k + 1) * sizeof *edges);
	if (!edges) {
		rc = CORE_ENOMEM;
		goto out;
	}
	stats_edges_linspace(lo, hi, k, edges);
	rc = on_edges(r, nr, c, nc, edges, k, 0, b);
out:
	if (rc != CORE_OK)
		stats_bins_free(b);
	free(edges);
	stats_sorted_pair_free(&sp);
	return rc;
}

enum core_status stats_bins_on_edges(const double *edges, size_t k, const double *ref, size_t n_ref, const double *cur,
				     size_t n_cur, struct stats_bins *b)
{
	struct stats_sorted_pair sp;
	enum core_status rc;

	memset(b, 0, sizeof *b);
	if (k == 0 || !edges)
		return CORE_EINVAL;
	for (size_t i = 0; i <= k; i++)
		if (!isfinite(edges[i]) || (i > 0 && edges[i] < edges[i - 1]))
			return CORE_EINVAL;
	rc = stats_sorted_pair(ref, n_ref, cur, n_cur, &sp);
	if (rc != CORE_OK)
		return rc;
	rc = on_edges(sp.r, sp.nr, sp.c, sp.nc, edges, k, 1, b);
	if (rc != CORE_OK)
		stats_bins_free(b);
	stats_sorted_pair_free(&sp);
	return rc;
}

enum core_status stats_decile_edges(const double *ref, size_t n_ref, double edges[11], size_t *k)
{
	double *r = NULL, q[11], ps[11];
	size_t nr, n = 0;
	enum core_status rc = stats_sorted_finite(ref, n_ref, &r, &nr);

	*k = 0;
	if (rc != CORE_OK)
		return rc;
	struct stats_quantiles *acc = stats_quantiles_new(nr);
	for (size_t i = 0; i < nr; i++)
		stats_quantiles_add(acc, r[i]);
	for (int i = 0; i <= 10; i++)
		ps[i] = (double)i / 10; /* as numpy.arange(11) / 10 */
	stats_quantiles_get(acc, ps, 11, q);
	stats_quantiles_free(acc);
	free(r);
	for (int i = 0; i <= 10; i++)
		if (n == 0 || q[i] != edges[n - 1])
			edges[n++] = q[i];
	if (n == 1) /* a constant reference: one bin of zero width */
		edges[n++] = q[0];
	*k = n - 1;
	return CORE_OK;
}

struct tagged {
	const char *s;
	int cur;
};

static int cmp_tagged(const void *a, const void *b)
{
	return strcmp(((const struct tagged *)a)->s, ((const struct tagged *)b)->s);
}

enum core_status stats_bins_categorical(const char *const *ref, size_t n_ref, const char *const *cur, size_t n_cur,
					struct stats_bins *b)
{
	struct tagged *all = NULL;
	size_t n = 0, nr = 0, nc = 0;
	enum core_status rc = CORE_OK;

	memset(b, 0, sizeof *b);
	for (size_t i = 0; i < n_ref; i++)
		nr += ref[i] != NULL;
	for (size_t i = 0; i < n_cur; i++)
		nc += cur[i] != NULL;
	if (nr == 0 || nc == 0)
		return CORE_EINVAL;
	all = malloc((nr + nc) * sizeof *all);
	if (!all)
		return CORE_ENOMEM;
	for (size_t i = 0; i < n_ref; i++)
		if (ref[i])
			all[n++] = (struct tagged){ref[i], 0};
	for (size_t i = 0; i < n_cur; i++)
		if (cur[i])
			all[n++] = (struct tagged){cur[i], 1};
	qsort(all, n, sizeof *all, cmp_tagged);
	size_t k = 1;
	for (size_t i = 1; i < n; i++)
		k += strcmp(all[i].s, all[i - 1].s) != 0;
	b->labels = calloc(k, sizeof *b->labels);
	b->ref = calloc(k, sizeof *b->ref);
	b->cur = calloc(k, sizeof *b->cur);
	if (!b->labels || !b->ref || !b->cur) {
		rc = CORE_ENOMEM;
		goto out;
	}
	b->k = k;
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && strcmp(all[i].s, all[i - 1].s) != 0)
			j++;
		if (!b->labels[j]) {
			b->labels[j] = strdup(all[i].s);
			if (!b->labels[j]) {
				rc = CORE_ENOMEM;
				goto out;
			}
		}
		if (all[i].cur)
			b->cur[j]++;
		else
			b->ref[j]++;
	}
out:
	if (rc != CORE_OK)
		stats_bins_free(b);
	free(all);
	return rc;
}

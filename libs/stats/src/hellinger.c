/* Hellinger distance, Evidently's "hellinger"
 * (legacy/calculations/stattests/hellinger_distance.py):
 *
 *   H = sqrt(1 − BC),   BC = Σ_i sqrt(p_i q_i)  (the Bhattacharyya coefficient)
 *     = ‖√p − √q‖₂ / √2, in [0, 1]
 *
 * Categorical (and any common bins): p, q the shares count / total, no smoothing.
 * Numerical, as Evidently: bins from numpy.histogram_bin_edges over the *distinct*
 * values of ref ∪ cur with "sturges" (so the bin count follows the number of distinct
 * values, not of rows), numpy.histogram densities h = count / width / total, and
 * BC = Σ sqrt(h_ref h_cur) · w with w the mean bin width — equal to the share formula up
 * to rounding, since the widths are equal. BC is clipped to [0, 1] before the root, as
 * Evidently does, so rounding never takes the root of a negative. Reference: Hellinger,
 * J. reine angew. Math. 136 (1909); Bhattacharyya, Bull. Calcutta Math. Soc. 35 (1943). */
#include <math.h>
#include <stdlib.h>

#include "distance_int.h"
#include "stats/distance.h"
#include "stats/stats.h"

static double from_coefficient(double bc)
{
	return sqrt(1 - fmin(fmax(bc, 0), 1));
}

enum core_status stats_hellinger(const uint64_t *ref, size_t k_ref, const uint64_t *cur, size_t k_cur, double *out)
{
	double *b;
	enum core_status rc = stats_shares_pair(ref, k_ref, cur, k_cur, 0, &b, out);

	if (rc != CORE_OK)
		return rc;
	/* Evidently adds in a Python loop, left to right */
	double bc = 0;
	for (size_t i = 0; i < k_ref; i++)
		bc += sqrt(b[i] * b[k_ref + i]);
	*out = from_coefficient(bc);
	free(b);
	return CORE_OK;
}

static size_t distinct_union(const double *r, size_t nr, const double *c, size_t nc)
{
	size_t i = 0, j = 0, d = 0;
	double last = 0;

	while (i < nr || j < nc) {
		double v = j >= nc || (i < nr && r[i] <= c[j]) ? r[i++] : c[j++];
		if (d == 0 || v != last)
			d++;
		last = v;
	}
	return d;
}

enum core_status stats_hellinger_numeric(const double *ref, size_t n_ref, const double *cur, size_t n_cur, double *out)
{
	struct stats_sorted_pair sp;
	double *edges = NULL;
	uint64_t *cr = NULL, *cc = NULL;
	enum core_status rc;

	*out = NAN;
	rc = stats_sorted_pair(ref, n_ref, cur, n_cur, &sp);
	if (rc != CORE_OK)
		return rc;
	const double *r = sp.r, *c = sp.c;
	size_t nr = sp.nr, nc = sp.nc;
	double lo = fmin(r[0], c[0]), hi = fmax(r[nr - 1], c[nc - 1]);
	size_t k = stats_sturges_bins(lo, hi, distinct_union(r, nr, c, nc));
	if (k == 0) {
		rc = CORE_EINVAL;
		goto out;
	}
	edges = malloc((k + 1) * sizeof *edges);
	cr = malloc(k * sizeof *cr);
	cc = malloc(k * sizeof *cc);
	if (!edges || !cr || !cc) {
		rc = CORE_ENOMEM;
		goto out;
	}
	stats_edges_linspace(lo, hi, k, edges);
	stats_count_sorted(r, nr, edges, k, 0, cr);
	stats_count_sorted(c, nc, edges, k, 0, cc);
	double w = (edges[k] - edges[0]) / (double)k, bc = 0;
	for (size_t i = 0; i < k; i++) {
		/* numpy.histogram(density=True): count / width / total, in that order */
		double width = edges[i + 1] - edges[i];
		double hr = (double)cr[i] / width / (double)nr, hc = (double)cc[i] / width / (double)nc;
		bc += sqrt(hr * hc) * w;
	}
	*out = from_coefficient(bc);
out:
	free(cc);
	free(cr);
	free(edges);
	stats_sorted_pair_free(&sp);
	return rc;
}

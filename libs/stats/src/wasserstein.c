/* First Wasserstein (earth mover's) distance between two samples, and Evidently's normed
 * version "wasserstein" (legacy/calculations/stattests/wasserstein_distance_norm.py):
 *
 *   W1 = ∫ |F_ref(x) − F_cur(x)| dx
 *      = Σ_j |F_ref(a_j) − F_cur(a_j)| · (a_{j+1} − a_j)   over the pooled sorted values a
 *   normed = W1 / max(std(ref), 0.001),  std with ddof = 0 (np.std)
 *
 * as scipy.stats.wasserstein_distance computes it (_cdf_distance with p = 1): F the
 * right-continuous empirical CDFs, count(<= a_j) / n. One merge of the two sorted copies
 * gives every term; the terms are written over the pooled values as they are consumed,
 * then summed in numpy's order. Reference: Vallender, "Calculation of the Wasserstein
 * distance between probability distributions on the line", Theory Probab. Appl. 18
 * (1974); Ramdas, Garcia, Cuturi, "On Wasserstein two-sample testing" (2017). */
#include <math.h>
#include <stdlib.h>

#include "distance_int.h"
#include "stats/distance.h"

/* Evidently's floor for the reference's std, so a constant reference does not divide by
 * zero */
#define STD_FLOOR 0.001

static enum core_status w1_sorted(const double *r, size_t nr, const double *c, size_t nc, double *out)
{
	size_t n = nr + nc;
	double *a = malloc(n * sizeof *a);

	if (!a)
		return CORE_ENOMEM;
	for (size_t i = 0, j = 0, t = 0; t < n; t++)
		a[t] = j >= nc || (i < nr && r[i] <= c[j]) ? r[i++] : c[j++];
	size_t i = 0, j = 0;
	for (size_t t = 0; t + 1 < n; t++) {
		double v = a[t];
		while (i < nr && r[i] <= v)
			i++;
		while (j < nc && c[j] <= v)
			j++;
		double fr = (double)i / (double)nr, fc = (double)j / (double)nc;
		a[t] = fabs(fr - fc) * (a[t + 1] - v);
	}
	*out = stats_npsum(a, n - 1);
	free(a);
	return CORE_OK;
}

static enum core_status wasserstein(const double *ref, size_t n_ref, const double *cur, size_t n_cur, int normed,
				    double *out)
{
	struct stats_sorted_pair sp;
	double w = NAN;
	enum core_status rc;

	*out = NAN;
	rc = stats_sorted_pair(ref, n_ref, cur, n_cur, &sp);
	if (rc != CORE_OK)
		return rc;
	double *r = sp.r;
	size_t nr = sp.nr;
	rc = w1_sorted(r, nr, sp.c, sp.nc, &w);
	if (rc != CORE_OK || !normed) {
		*out = w;
		goto out;
	}
	/* numpy's two-pass variance: mean first, then the mean square deviation */
	double mean = stats_npsum(r, nr) / (double)nr;
	for (size_t i = 0; i < nr; i++)
		r[i] = (r[i] - mean) * (r[i] - mean);
	double sd = sqrt(stats_npsum(r, nr) / (double)nr);
	*out = w / fmax(sd, STD_FLOOR);
out:
	stats_sorted_pair_free(&sp);
	return rc;
}

enum core_status stats_wasserstein(const double *ref, size_t n_ref, const double *cur, size_t n_cur, double *out)
{
	return wasserstein(ref, n_ref, cur, n_cur, 0, out);
}

enum core_status stats_wasserstein_norm(const double *ref, size_t n_ref, const double *cur, size_t n_cur, double *out)
{
	return wasserstein(ref, n_ref, cur, n_cur, 1, out);
}

/* Pearson's chi-squared tests: goodness of fit (scipy.stats.chisquare), Evidently's
 * "chisquare" stattest built on it, and independence in a contingency table
 * (scipy.stats.chi2_contingency).
 *
 *   X² = Σ_i (o_i − e_i)² / e_i,   p = Q(df / 2, X² / 2)  (gamma.c)
 *
 * Goodness of fit: df = k − 1, and, as scipy, the two sums must agree to 1e-8 relative.
 * Evidently: e_i = ref_i · (n_cur / n_ref) over the categories present in either sample
 * (legacy/calculations/stattests/chisquare_stattest.py). Contingency: e_ij = r_i c_j / N,
 * df = (r − 1)(c − 1), and for df = 1 Yates' continuity correction, o_ij moved towards
 * e_ij by min(½, |e_ij − o_ij|) (scipy's correction=True, gh-13875's bound). Reference:
 * Pearson (1900); Yates (1934). */
#include <math.h>
#include <stdlib.h>

#include "stats/stattest.h"

enum core_status stats_chisquare(const double *obs, const double *exp, size_t k, struct stats_test *out)
{
	double so = 0, se = 0, stat = 0;
	if (k < 2)
		return CORE_EINVAL;
	for (size_t i = 0; i < k; i++) {
		if (!(obs[i] >= 0) || !(exp[i] > 0) || isinf(obs[i]) || isinf(exp[i]))
			return CORE_EINVAL;
		so += obs[i];
		se += exp[i];
	}
	if (fabs(so - se) / fmin(so, se) > 1e-8)
		return CORE_EINVAL;
	for (size_t i = 0; i < k; i++) {
		double dev = obs[i] - exp[i];
		stat += dev * dev / exp[i];
	}
	out->statistic = stat;
	out->pvalue = stats_chi2_sf(stat, (double)(k - 1));
	return CORE_OK;
}

enum core_status stats_chisquare_evidently(const uint64_t *ref, const uint64_t *cur, size_t k, struct stats_test *out)
{
	uint64_t nref = 0, ncur = 0;
	size_t present = 0;
	for (size_t i = 0; i < k; i++) {
		nref += ref[i];
		ncur += cur[i];
		present += ref[i] || cur[i];
	}
	if (nref == 0 || ncur == 0)
		return CORE_EINVAL;
	/* as Evidently writes it: the expected count is ref_i * (n_cur / n_ref) */
	double scale = (double)ncur / (double)nref, stat = 0;
	for (size_t i = 0; i < k; i++) {
		if (!ref[i] && !cur[i])
			continue;
		double e = (double)ref[i] * scale, dev = (double)cur[i] - e;
		stat += e > 0 ? dev * dev / e : INFINITY;
	}
	out->statistic = stat;
	out->pvalue = present < 2 ? NAN : stats_chi2_sf(stat, (double)(present - 1));
	return CORE_OK;
}

enum core_status stats_chi2_contingency(const double *table, size_t r, size_t c, struct stats_test *out, size_t *dof)
{
	enum core_status rc = CORE_EINVAL;
	if (r == 0 || c == 0)
		return rc;
	double *rows = calloc(r + c, sizeof *rows), *cols = rows ? rows + r : NULL, total = 0;
	if (!rows)
		return CORE_ENOMEM;
	for (size_t i = 0; i < r; i++)
		for (size_t j = 0; j < c; j++) {
			double o = table[i * c + j];
			if (!(o >= 0) || isinf(o))
				goto out;
			rows[i] += o;
			cols[j] += o;
		}
	for (size_t i = 0; i < r; i++)
		total += rows[i];
	for (size_t i = 0; i < r; i++)
		for (size_t j = 0; j < c; j++)
			if (rows[i] * cols[j] / total == 0)
				goto out; /* scipy: "expected frequencies has a zero element" */
	size_t df = (r - 1) * (c - 1);
	double stat = 0;
	for (size_t i = 0; i < r && df > 0; i++)
		for (size_t j = 0; j < c; j++) {
			double e = rows[i] * cols[j] / total, o = table[i * c + j];
			if (df == 1) { /* Yates: half a count towards e, never past it */
				double gap = e - o;
				o += copysign(fmin(0.5, fabs(gap)), gap) * (gap != 0);
			}
			stat += (o - e) * (o - e) / e;
		}
	out->statistic = stat;
	out->pvalue = df == 0 ? 1 : stats_chi2_sf(stat, (double)df);
	if (dof)
		*dof = df;
	rc = CORE_OK;
out:
	free(rows);
	return rc;
}

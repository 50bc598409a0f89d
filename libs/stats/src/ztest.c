/* Two-proportion z-test with pooled variance, as Evidently's "z" stattest computes it
 * (legacy/calculations/stattests/z_stattest.py: proportions_diff_z_stat_ind,
 * proportions_diff_z_test):
 *
 *   p1 = k1/n1, p2 = k2/n2, P = (p1 n1 + p2 n2) / (n1 + n2)
 *   z = (p1 − p2) / sqrt(P (1 − P) (1/n1 + 1/n2)),   p = 2 Φ(−|z|)
 *
 * Evidently maps a column to 0/1 by "equals the smallest value of the union" and, when
 * both samples hold one and the same single value, answers p = 1 before dividing 0 by 0;
 * with counts that is exactly the case P ∈ {0, 1}. Reference: any statistics text's
 * pooled two-proportion test, e.g. Agresti, "Categorical Data Analysis", §3.1. */
#include <math.h>

#include "stats/stattest.h"

enum core_status stats_ztest_2prop(uint64_t k1, uint64_t n1, uint64_t k2, uint64_t n2, struct stats_test *out)
{
	if (n1 == 0 || n2 == 0 || k1 > n1 || k2 > n2)
		return CORE_EINVAL;
	double f1 = (double)n1, f2 = (double)n2;
	double p1 = (double)k1 / f1, p2 = (double)k2 / f2;
	double pooled = (p1 * f1 + p2 * f2) / (f1 + f2);
	if (k1 + k2 == 0 || k1 + k2 == n1 + n2) {
		out->statistic = 0;
		out->pvalue = 1;
		return CORE_OK;
	}
	double z = (p1 - p2) / sqrt(pooled * (1 - pooled) * (1.0 / f1 + 1.0 / f2));
	out->statistic = z;
	out->pvalue = 2 * stats_norm_sf(fabs(z));
	return CORE_OK;
}

enum core_status stats_ztest_evidently(const uint64_t *ref, const uint64_t *cur, size_t k, struct stats_test *out)
{
	uint64_t nref = 0, ncur = 0, ref0 = 0, cur0 = 0;
	size_t first = k;
	for (size_t i = 0; i < k; i++) {
		nref += ref[i];
		ncur += cur[i];
		if (first == k && (ref[i] || cur[i]))
			first = i;
	}
	if (nref == 0 || ncur == 0)
		return CORE_EINVAL;
	ref0 = ref[first];
	cur0 = cur[first];
	return stats_ztest_2prop(nref - ref0, nref, ncur - cur0, ncur, out);
}

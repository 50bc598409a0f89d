/* Jensen–Shannon distance, Evidently's "jensenshannon"
 * (legacy/calculations/stattests/jensenshannon.py, scipy.spatial.distance.jensenshannon):
 *
 *   m = (p + q) / 2,   JS = sqrt( (KL(p‖m) + KL(q‖m)) / 2 )
 *
 * p, q the shares on common bins (bins.c) with no smoothing (Evidently passes
 * feel_zeroes=False; m > 0 wherever p or q is, so every term is finite), each divided by
 * its sum first as scipy does; rel_entr(0, m) = 0. Natural log: the distance lies in
 * [0, sqrt(ln 2) ≈ 0.8326]; a base-2 distance is this / sqrt(ln 2), and thresholds do not
 * carry over between the two. Reference: Lin, "Divergence measures based on the Shannon
 * entropy", IEEE Trans. Inf. Theory 37 (1991); Endres & Schindelin, "A new metric for
 * probability distributions", IEEE Trans. Inf. Theory 49 (2003). */
#include <math.h>
#include <stdlib.h>

#include "distance_int.h"
#include "stats/distance.h"

static double rel_entr(double x, double y)
{
	return x == 0 ? 0 : x * log(x / y);
}

enum core_status stats_jensenshannon(const uint64_t *ref, size_t k_ref, const uint64_t *cur, size_t k_cur, double *out)
{
	double *b;
	enum core_status rc = stats_shares_pair(ref, k_ref, cur, k_cur, STATS_SHARES_RENORM, &b, out);

	if (rc != CORE_OK)
		return rc;
	size_t k = k_ref;
	const double *p = b, *q = b + k;
	double *t = b + 2 * k;
	for (size_t i = 0; i < k; i++)
		t[i] = rel_entr(p[i], (p[i] + q[i]) / 2.0);
	double left = stats_npsum(t, k);
	for (size_t i = 0; i < k; i++)
		t[i] = rel_entr(q[i], (p[i] + q[i]) / 2.0);
	double right = stats_npsum(t, k);
	*out = sqrt((left + right) / 2.0);
	free(b);
	return CORE_OK;
}

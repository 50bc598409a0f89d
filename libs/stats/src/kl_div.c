/* Kullback–Leibler divergence of the current sample from the reference, Evidently's
 * "kl_div" (legacy/calculations/stattests/kl_div.py):
 *
 *   KL(p‖q) = Σ_i rel_entr(p_i, q_i),  rel_entr(x, y) = x ln(x / y) (0 when x = 0)
 *
 * on the shares of common bins (bins.c), smoothed as for PSI (stats_smooth_shares), then
 * handed to scipy.stats.entropy(p, q), which divides each by its sum again (smoothing
 * added mass) before summing. Natural log, so nats; not symmetric; 0 only when the
 * smoothed shares agree. Reference: Kullback & Leibler, "On information and
 * sufficiency", Ann. Math. Statist. 22 (1951). */
#include <math.h>
#include <stdlib.h>

#include "distance_int.h"
#include "stats/distance.h"

enum core_status stats_kl_div(const uint64_t *ref, size_t k_ref, const uint64_t *cur, size_t k_cur, double *out)
{
	double *b;
	enum core_status rc =
		stats_shares_pair(ref, k_ref, cur, k_cur, STATS_SHARES_SMOOTH | STATS_SHARES_RENORM, &b, out);

	if (rc != CORE_OK)
		return rc;
	size_t k = k_ref;
	const double *p = b, *q = b + k;
	double *t = b + 2 * k;
	/* smoothing leaves no zero share, so rel_entr's x = 0 and y = 0 cases are moot */
	for (size_t i = 0; i < k; i++)
		t[i] = p[i] * log(p[i] / q[i]);
	*out = stats_npsum(t, k);
	free(b);
	return CORE_OK;
}

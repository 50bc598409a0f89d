/* Population stability index, Evidently's "psi" (legacy/calculations/stattests/psi.py):
 *
 *   PSI = Σ_i (p_i − q_i) · ln(p_i / q_i)  =  KL(p‖q) + KL(q‖p)
 *
 * p, q the reference's and current sample's shares on common bins (bins.c), each with
 * its empty bins smoothed first (get_binned_data's feel_zeroes): a zero share becomes
 * 0.0001, or the smallest non-zero share / 10^6 when that is already <= 0.0001, so that
 * the log stays finite. No renormalisation after smoothing, as Evidently. Reading
 * (credit scoring): < 0.1 stable, 0.1–0.25 moderate shift, >= 0.25 significant.
 * References: Siddiqi, "Credit Risk Scorecards" (2006), ch. 8; Yurdakul, "Statistical
 * properties of population stability index" (2018). */
#include <math.h>
#include <stdlib.h>

#include "distance_int.h"
#include "stats/distance.h"

/* Evidently's floor for an empty bin's share, and the factor below the smallest share it
 * uses instead when that share is already under the floor */
#define EMPTY_SHARE   0.0001
#define EMPTY_DIVISOR 1e6

void stats_smooth_shares(double *shares, size_t k)
{
	double min = INFINITY;

	for (size_t i = 0; i < k; i++)
		if (shares[i] != 0 && shares[i] < min)
			min = shares[i];
	if (min == INFINITY)
		return;
	double fill = min <= EMPTY_SHARE ? min / EMPTY_DIVISOR : EMPTY_SHARE;
	for (size_t i = 0; i < k; i++)
		if (shares[i] == 0)
			shares[i] = fill;
}

enum core_status stats_psi(const uint64_t *ref, size_t k_ref, const uint64_t *cur, size_t k_cur, double *out)
{
	double *b;
	enum core_status rc = stats_shares_pair(ref, k_ref, cur, k_cur, STATS_SHARES_SMOOTH, &b, out);

	if (rc != CORE_OK)
		return rc;
	size_t k = k_ref;
	double *p = b, *q = b + k, *t = b + 2 * k;
	for (size_t i = 0; i < k; i++)
		t[i] = (p[i] - q[i]) * log(p[i] / q[i]);
	*out = stats_npsum(t, k);
	free(b);
	return CORE_OK;
}

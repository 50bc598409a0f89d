/* The standard normal distribution's CDF and survival function, for the z-test's p-value.
 *
 *   Φ(x) = ½ erfc(−x / √2),   1 − Φ(x) = Φ(−x) = ½ erfc(x / √2)
 *
 * Going through erfc on the side of the tail keeps the relative precision there (1 − Φ
 * written as a subtraction is 0 beyond x ≈ 8.3); near 0, ½ + ½ erf(x / √2) is the more
 * accurate form, as in Cephes' ndtr, which scipy.stats.norm uses. Reference: Abramowitz &
 * Stegun 26.2.29; scipy.special.ndtr. */
#include <math.h>

#include "stats/stattest.h"

double stats_norm_cdf(double x)
{
	double y = x * M_SQRT1_2;

	if (isnan(x))
		return x;
	if (fabs(y) < M_SQRT1_2)
		return 0.5 + 0.5 * erf(y);
	return y > 0 ? 1 - 0.5 * erfc(y) : 0.5 * erfc(-y);
}

double stats_norm_sf(double x)
{
	return stats_norm_cdf(-x);
}

/* Regularised incomplete gamma functions, for the chi-squared p-value:
 *
 *   P(a, x) = γ(a, x) / Γ(a) = x^a e^−x / Γ(a) · Σ_{n≥0} x^n / (a (a+1) … (a+n))
 *   Q(a, x) = 1 − P(a, x)    = x^a e^−x / Γ(a) · 1 / (x+1−a − 1·(1−a) / (x+3−a − 2·(2−a) / (x+5−a − …)))
 *
 * The series converges fast for x < a + 1 and the continued fraction (Legendre's, summed
 * by the modified Lentz method) for x >= a + 1; each side computes the smaller of P and Q
 * directly and the other as its complement, so neither loses its relative precision where
 * it is small. The common factor x^a e^−x / Γ(a) is where precision goes for large a
 * (a log x and log Γ(a) are both ~a log a and cancel): there it is rewritten with
 * Stirling's series as sqrt(a / 2π) · exp(a (log(1+t) − t) − s(a)), t = (x − a) / a,
 * s(a) = log Γ(a) − (a − ½) log a + a − ½ log 2π, and log(1+t) − t summed as a series in
 * u = t / (2 + t) for small t, so nothing large cancels. Relative error ~1e-14.
 * References: Numerical Recipes (3rd ed.) §6.2 for the two expansions; Temme (1996),
 * "Special functions", ch. 11, and Cephes' igam.c (which scipy.special.gammaincc uses)
 * for the scaled prefactor. scipy.stats.chi2.sf(x, df) is Q(df/2, x/2). */
#include <float.h>
#include <math.h>
#include <stdbool.h>

#include "stats/stattest.h"
#include "stattest_int.h"

double stats_log1pmx(double t)
{
	if (fabs(t) >= 0.5)
		return log1p(t) - t;
	/* log(1+t) = 2 atanh(u), u = t / (2+t); 2u − t = −t u */
	double u = t / (2 + t), u2 = u * u, pw = u * u2, sum = 0;
	for (int k = 3; k < 200; k += 2) {
		double term = pw / k;
		sum += term;
		if (fabs(term) <= fabs(sum) * DBL_EPSILON * 0.25)
			break;
		pw *= u2;
	}
	return -t * u + 2 * sum;
}

double stats_stirling_tail(double a)
{
	double r = 1 / a, r2 = r * r;
	return r * (1.0 / 12 -
		    r2 * (1.0 / 360 - r2 * (1.0 / 1260 -
					    r2 * (1.0 / 1680 - r2 * (1.0 / 1188 - r2 * (691.0 / 360360 - r2 / 156))))));
}

/* x^a e^−x / Γ(a). */
static double prefactor(double a, double x)
{
	if (a < 10)
		return exp(a * log(x) - x - lgamma(a));
	return sqrt(a / (2 * M_PI)) * exp(a * stats_log1pmx((x - a) / a) - stats_stirling_tail(a));
}

/* Σ x^n / (a (a+1) … (a+n)): P(a, x) without the prefactor. */
static double lower_series(double a, double x)
{
	double term = 1 / a, sum = term, ap = a;
	for (int n = 0; n < 100000000; n++) {
		ap += 1;
		term *= x / ap;
		sum += term;
		if (term <= sum * DBL_EPSILON * 0.5)
			break;
	}
	return sum;
}

/* The continued fraction: Q(a, x) without the prefactor (modified Lentz). */
static double upper_fraction(double a, double x)
{
	const double tiny = DBL_MIN / DBL_EPSILON;
	double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
	for (int i = 1; i < 100000000; i++) {
		double an = -i * (i - a);
		b += 2;
		d = an * d + b;
		if (fabs(d) < tiny)
			d = tiny;
		c = b + an / c;
		if (fabs(c) < tiny)
			c = tiny;
		d = 1 / d;
		double delta = d * c;
		h *= delta;
		if (fabs(delta - 1) <= DBL_EPSILON * 0.5)
			break;
	}
	return h;
}

/* P(a, x), or Q(a, x) when upper: the smaller computed directly, the other as 1 minus it. */
static double gamma_pq(double a, double x, bool upper)
{
	if (isnan(a) || isnan(x) || a <= 0 || x < 0)
		return NAN;
	if (x == 0 || isinf(x))
		return (x == 0) == upper ? 1 : 0;
	if (x < a + 1) {
		double p = prefactor(a, x) * lower_series(a, x);
		return upper ? 1 - p : p;
	}
	double q = prefactor(a, x) * upper_fraction(a, x);
	return upper ? q : 1 - q;
}

double stats_gamma_p(double a, double x)
{
	return gamma_pq(a, x, false);
}

double stats_gamma_q(double a, double x)
{
	return gamma_pq(a, x, true);
}

double stats_chi2_sf(double x, double df)
{
	if (isnan(x) || isnan(df) || df <= 0)
		return NAN;
	if (x <= 0)
		return 1;
	return stats_gamma_q(df / 2, x / 2);
}

/* Two-sample Kolmogorov–Smirnov test, two-sided: scipy.stats.ks_2samp(x, y) with
 * method='auto'.
 *
 *   D = max_v |F_x(v) − F_y(v)|,  F_s(v) = #{s_i <= v} / n_s, over the pooled values v
 *
 * found by one merge of the two sorted samples, each difference computed as scipy does
 * (i/n_x − j/n_y in doubles), so D is scipy's to the bit, ties included. The p-value
 * P(D >= d) under the null, as scipy chooses it:
 *   max(n_x, n_y) <= 10000   exact. D is first snapped to the lattice, h / lcm(n_x, n_y),
 *     h = round(D · lcm). Equal sizes: the closed form of Gnedenko & Korolyuk,
 *     2 Σ_k (−1)^(k−1) C(2n, n − k h) / C(2n, n), evaluated as scipy's nested products
 *     2 A0 (1 − A1 (1 − A2 …)), A_k = Π_j (n − kh − j) / (n + kh + j + 1), in the same
 *     order, so that its rare result just above 1 (scipy then falls back to the
 *     asymptotic p) is met identically. Unequal sizes: the lattice paths from (0, 0) to
 *     (n_x, n_y) that leave the band |x/n_x − y/n_y| < h / lcm (Hodges 1958), counted as
 *     the probability of having left it, which obeys the path recursion with weights
 *     i/(i+j), j/(i+j) and stays in [0, 1] (Viehmann 2021, arXiv:2102.08037).
 *   otherwise                stats_kstwo_sf(D, round(n_x n_y / (n_x + n_y))) (kstwo.c).
 * Sorting: NaN dropped, then stats_sort_doubles (sort.c, a radix sort ~10× numpy's). */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sort_int.h"
#include "stats/stattest.h"

#define EXACT_MAX_N 10000 /* scipy's MAX_AUTO_N */

/* ---- exact p-values ------------------------------------------------------------------ */

static uint64_t gcd64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* floor(a / b) for b > 0, any sign of a. */
static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && a < 0) ? q - 1 : q;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
	return -floor_div(-a, b);
}

/* P(D_{n,n} >= h/n). */
static double pvalue_equal_sizes(int64_t n, int64_t h)
{
	double p = 0;
	for (int64_t k = n / h; k >= 0; k--) {
		double a = 1;
		for (int64_t j = 0; j < h; j++)
			a = (double)(n - k * h - j) * a / (double)(n + k * h + j + 1);
		p = a * (1 - p);
	}
	return 2 * p;
}

/* P(D_{m,n} >= h/lcm): the share of lattice paths that leave the band, computed column
 * by column over the band's window only; NaN when the column cannot be allocated. */
static double pvalue_lattice(int64_t m, int64_t n, int64_t g, int64_t h)
{
	if (m < n) {
		int64_t t = m;
		m = n;
		n = t;
	}
	int64_t mg = m / g, ng = n / g;
	int64_t lo = 0, hi = ceil_div(h, mg);
	if (hi > n + 1)
		hi = n + 1;
	int64_t width = hi - lo;
	/* the window never holds more than n + 1 rows; entries past it read as "left" (1) */
	double *col = malloc((size_t)(n + 2) * sizeof *col);
	if (!col)
		return NAN;
	for (int64_t j = 0; j < n + 2; j++)
		col[j] = j < hi ? 0 : 1;
	double p = 1;
	for (int64_t i = 1; i <= m; i++) {
		int64_t last_lo = lo, last_width = width;
		lo = floor_div(ng * i - h, mg) + 1;
		if (lo < 0)
			lo = 0;
		if (lo > n)
			lo = n;
		hi = ceil_div(ng * i + h, mg);
		if (hi > n + 1)
			hi = n + 1;
		if (hi <= lo)
			goto out; /* every path has left: p = 1 */
		/* row lo − 1 lies below the band (left: 1), unless lo is 0 */
		double below = lo == 0 ? 0 : 1;
		for (int64_t jj = 0; jj < hi - lo; jj++) {
			int64_t j = jj + lo;
			below = (col[jj + lo - last_lo] * (double)i + below * (double)j) / (double)(i + j);
			col[jj] = below;
		}
		width = hi - lo;
		for (int64_t jj = width; jj < last_width; jj++)
			col[jj] = 1;
	}
	p = col[hi - lo - 1];
out:
	free(col);
	return p;
}

/* ---- the test ---------------------------------------------------------------------------- */

/* True when s is ascending and NaN-free. */
static bool ascending(const double *s, size_t n)
{
	if (n && isnan(s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(s[i - 1] <= s[i]))
			return false;
	return true;
}

static enum core_status ks_sorted(const double *x, size_t nx, const double *y, size_t ny, struct stats_test *out)
{
	double fx = (double)nx, fy = (double)ny, d = 0;
	size_t i = 0, j = 0;
	while (i < nx && j < ny) {
		double v = x[i] < y[j] ? x[i] : y[j];
		while (i < nx && x[i] == v)
			i++;
		while (j < ny && y[j] == v)
			j++;
		double diff = (double)i / fx - (double)j / fy;
		if (fabs(diff) > d)
			d = fabs(diff);
	}
	/* once a sample is used up the difference only shrinks towards 0 */

	double p = NAN;
	bool exact = nx <= EXACT_MAX_N && ny <= EXACT_MAX_N;
	if (exact) {
		int64_t n1 = (int64_t)nx, n2 = (int64_t)ny, g = (int64_t)gcd64(nx, ny), lcm = n1 / g * n2;
		int64_t h = (int64_t)nearbyint(d * (double)lcm);
		d = (double)h / (double)lcm;
		if (h == 0)
			p = 1;
		else if (n1 == n2)
			p = pvalue_equal_sizes(n1, h);
		else
			p = pvalue_lattice(n1, n2, g, h);
		if (isnan(p) && n1 != n2)
			return CORE_ENOMEM;
		exact = p >= 0 && p <= 1; /* else scipy falls back, with the snapped D */
	}
	if (!exact) {
		double big = fx > fy ? fx : fy, small = fx > fy ? fy : fx;
		double en = nearbyint(big * small / (big + small));
		p = stats_kstwo_sf(d, (uint64_t)en);
	}
	out->statistic = d;
	out->pvalue = p < 0 ? 0 : p > 1 ? 1 : p;
	return CORE_OK;
}

enum core_status stats_ks_2samp_sorted(const double *x, size_t nx, const double *y, size_t ny, struct stats_test *out)
{
	if (nx == 0 || ny == 0 || !ascending(x, nx) || !ascending(y, ny))
		return CORE_EINVAL;
	return ks_sorted(x, nx, y, ny, out);
}

enum core_status stats_ks_2samp(const double *x, size_t nx, const double *y, size_t ny, struct stats_test *out)
{
	enum core_status rc = CORE_ENOMEM;
	size_t most = nx > ny ? nx : ny;
	double *sx = malloc((nx + ny + 1) * sizeof *sx);
	uint64_t *tmp = malloc((most + 1) * sizeof *tmp);
	if (!sx || !tmp)
		goto out;
	double *sy = sx + nx;
	size_t mx = 0, my = 0;
	for (size_t i = 0; i < nx; i++)
		if (!isnan(x[i]))
			sx[mx++] = x[i];
	for (size_t i = 0; i < ny; i++)
		if (!isnan(y[i]))
			sy[my++] = y[i];
	if (stats_sort_doubles(sx, mx, tmp) != CORE_OK || stats_sort_doubles(sy, my, tmp) != CORE_OK)
		goto out;
	rc = CORE_EINVAL;
	if (mx == 0 || my == 0)
		goto out;
	rc = ks_sorted(sx, mx, sy, my, out);
out:
	free(tmp);
	free(sx);
	return rc;
}

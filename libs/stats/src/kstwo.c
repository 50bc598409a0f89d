/* Kolmogorov's two-sided one-sample distribution, P(D_n >= d) for n values: the p-value of
 * a large two-sample KS test (scipy.stats.kstwo.sf, which ks_2samp calls with
 * n = round(n1 n2 / (n1 + n2))).
 *
 * Simard & L'Ecuyer (2011), "Computing the two-sided Kolmogorov–Smirnov distribution",
 * J. Stat. Software 39(11), choose among exact and asymptotic methods by n and n·d²; this
 * file takes the same regions and thresholds as scipy's stats/_ksstats.py (`_kolmogn`):
 *   n·d <= 1 or >= n − 1   Ruben & Gambino's closed forms: P(D_n < d) = n!/n^n (2nd − 1)^n,
 *                          P(D_n >= d) = 2 (1 − d)^n
 *   d >= 0.5, or the upper tail (n <= 140 and n·d² > 4, or n·d² >= 2.2)
 *                          2 × Smirnov's one-sided P(D+_n >= d), exact by Birnbaum and
 *                          Tingey's sum, d Σ_{j=0}^{⌊n(1−d)⌋} C(n,j) (d + j/n)^(j−1)
 *                          (1 − d − j/n)^(n−j) (for d >= 0.5 the two sides cannot both
 *                          exceed d, so doubling is exact); 0 when n·d² >= 370
 *   n <= 140, n·d² <= 0.754693, or n <= 100000 and n·d^1.5 <= 1.4
 *                          Durbin's matrix (1968) as Marsaglia, Tsang & Wang (2003) evaluate
 *                          it: P(D_n < d) = n!/n^n (H^n)_kk
 *   n <= 140, otherwise    Pomeranz's recursion (1974)
 *   otherwise              Pelz & Good's (1976) expansion K0 + K1/√n + K2/n + K3/n^1.5
 * Each Birnbaum–Tingey term is taken in logarithms written with Stirling's series so that
 * the large parts (j log(1 + nd/j) and (n−j) log(1 − nd/(n−j)), each ~nd) cancel
 * exactly: the sum keeps ~1e-13 relative. Products that leave the double range (matrix
 * powers, n!) are rescaled by 2^±128 and the exponent kept apart. */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stats/stattest.h"
#include "stattest_int.h"

#define SCALE_BITS    128
#define DURBIN_MAX    255 /* 2⌈nd⌉ − 1 <= 117 where the matrix is used */
#define LOG_2PI       1.8378770664093454836
#define CEPHES_MINLOG (-7.451332191019412076235e2) /* log of the smallest subnormal */

static double clip01(double p)
{
	return p < 0 ? 0 : p > 1 ? 1 : p;
}

/* log k! − ((k + ½) log k − k + ½ log 2π), k >= 1. */
static double stirling_int(double k)
{
	if (k >= 10)
		return stats_stirling_tail(k);
	return lgamma(k + 1) - ((k + 0.5) * log(k) - k + 0.5 * LOG_2PI);
}

/* ---- Smirnov's one-sided distribution ------------------------------------------------ */

/* P(D+_n >= x), scipy.special.smirnov(n, x), for the x this file asks about (x > 1/n). */
static double smirnov_sf(uint64_t n, double x)
{
	double nd = (double)n;

	if (n == 1)
		return 1 - x;
	if (!(x > 0))
		return 1;
	if (x >= 1)
		return 0;
	/* floor(n x) and its fraction from the exact product, since the number of terms
	 * hangs on it when n x is (within rounding) an integer */
	double hi = nd * x, lo = fma(nd, x, -hi), fl = floor(hi), alpha = (hi - fl) + lo;
	if (alpha < 0) {
		fl -= 1;
		alpha += 1;
	}
	if (alpha >= 1) {
		fl += 1;
		alpha = 0;
	}
	uint64_t nxfl = (uint64_t)fl;
	if (nxfl == 0 || (nxfl == 1 && alpha == 0))
		return clip01(1 - x * pow(1 + x, nd - 1));
	if (-2 * nd * x * x < CEPHES_MINLOG)
		return 0;
	if (nxfl >= n - 1)
		return exp(nd * log1p(-x));
	if (n > 1000000) /* scipy stops summing here and uses this approximation */
		return exp(-pow(6 * nd * x + 1, 2) / 18 / nd);

	double nx = hi + lo, sn = stirling_int(nd);
	uint64_t last = n - nxfl - 1;
	/* Neumaier's compensated sum: up to n terms of one sign */
	double sum = exp(nd * log1p(-x)) / x, comp = 0;
	for (uint64_t j = 1; j <= last; j++) {
		double jd = (double)j, rest = nd - jd, p = jd / nd + x;
		double la = jd * stats_log1pmx(nx / jd) + rest * stats_log1pmx(-nx / rest) +
			    0.5 * log(nd / (2 * M_PI * jd * rest * p * p)) + sn - stirling_int(jd) - stirling_int(rest);
		double a = exp(la), s = sum + a;
		comp += fabs(sum) >= a ? (sum - s) + a : (a - s) + sum;
		sum = s;
		/* the terms fall away past the middle; stop when the rest cannot count */
		if (a == 0 ? j > n / 2 : 4 * (double)(last - j + 1) * a < DBL_EPSILON * sum)
			break;
	}
	return clip01(x * (sum + comp));
}

/* ---- Durbin's matrix ---------------------------------------------------------------- */

/* c = a b for m × m matrices; returns the power of two c was scaled down by. */
static int matmul_scaled(const double *a, const double *b, double *c, int m)
{
	double big = 0;
	memset(c, 0, (size_t)m * (size_t)m * sizeof *c);
	for (int i = 0; i < m; i++)
		for (int k = 0; k < m; k++) {
			double aik = a[i * m + k];
			if (aik == 0)
				continue;
			for (int j = 0; j < m; j++)
				c[i * m + j] += aik * b[k * m + j];
		}
	for (int i = 0; i < m * m; i++)
		big = fmax(big, fabs(c[i]));
	if (big <= ldexp(1, SCALE_BITS))
		return 0;
	for (int i = 0; i < m * m; i++)
		c[i] = ldexp(c[i], -SCALE_BITS);
	return SCALE_BITS;
}

/* P(D_n < d) = n!/n^n (H^n)_kk, with k = ⌈nd⌉, h = k − nd, H the (2k−1)-square matrix
 * H_ij = 1/(i−j+1)! (0 above the first superdiagonal), its first column and last row
 * lessened by h^r/r! and its corner given back (2h−1)_+^m / m!. NaN when its three
 * matrices (at most 117² doubles each where it is used) cannot be allocated. */
static double durbin_cdf(uint64_t n, double d)
{
	double nd = (double)n * d;
	int k = (int)ceil(nd), m = 2 * k - 1;
	double h = k - nd, result = NAN;
	size_t mm = (size_t)m * (size_t)m;
	if (m > DURBIN_MAX)
		return NAN;
	double *mem = malloc(3 * mm * sizeof *mem);
	if (!mem)
		return NAN;
	double *base = mem, *acc = mem + mm, *tmp = mem + 2 * mm;

	double invfact[DURBIN_MAX + 1]; /* 1/r! */
	invfact[0] = 1;
	for (int r = 1; r <= m; r++)
		invfact[r] = invfact[r - 1] / r;
	for (int i = 0; i < m; i++)
		for (int j = 0; j < m; j++)
			base[i * m + j] = j <= i + 1 ? invfact[i - j + 1] : 0;
	for (int r = 1; r <= m; r++) {
		double hr = pow(h, r) * invfact[r];
		base[(r - 1) * m] -= hr;           /* column 0, row r − 1 */
		base[(m - 1) * m + (m - r)] -= hr; /* last row, column m − r */
	}
	if (2 * h - 1 > 0)
		base[(m - 1) * m] += pow(2 * h - 1, m) * invfact[m];

	/* acc = base^n by squaring, exponents of two kept in `scale` */
	long scale = 0, base_scale = 0;
	bool have = false;
	for (uint64_t e = n; e; e >>= 1) {
		if (e & 1) {
			if (!have) {
				memcpy(acc, base, mm * sizeof *acc);
				have = true;
			} else {
				scale += matmul_scaled(acc, base, tmp, m);
				memcpy(acc, tmp, mm * sizeof *acc);
			}
			scale += base_scale;
		}
		if (e > 1) {
			base_scale *= 2;
			base_scale += matmul_scaled(base, base, tmp, m);
			memcpy(base, tmp, mm * sizeof *base);
		}
	}
	double p = acc[(k - 1) * m + (k - 1)];
	for (uint64_t i = 1; i <= n; i++) { /* × n!/n^n */
		p = (double)i * p / (double)n;
		if (p != 0 && fabs(p) < ldexp(1, -SCALE_BITS)) {
			p = ldexp(p, SCALE_BITS);
			scale -= SCALE_BITS;
		}
	}
	result = ldexp(p, (int)scale);
	free(mem);
	return result;
}

/* ---- Pomeranz's recursion ------------------------------------------------------------- */

#define POMERANZ_MAX 64 /* 2 (⌊nd⌋ + 1) <= 50 where it is used (n <= 140, n d² <= 4) */

/* The range of non-zero entries of row i, as Simard & L'Ecuyer's program bounds it. */
static void pomeranz_range(int i, int n, int ll, int ceilf, int roundf, int *j1, int *j2)
{
	int lo, hi;
	if (i == 0) {
		lo = -ll - ceilf - 1;
		hi = ll + ceilf - 1;
	} else if ((i + 1) % 2 == 0) {
		int half = (i + 1) / 2;
		if (half == n + 1) {
			lo = n - ll - ceilf - 1;
			hi = n + ll + ceilf - 1;
		} else {
			lo = half - 1 - ll - roundf - 1;
			hi = half + ll - 1 + ceilf - 1;
		}
	} else {
		int half = (i + 1) / 2;
		lo = half - 1 - ll - 1;
		hi = half + ll + roundf - 1;
	}
	*j1 = lo + 2 > 0 ? lo + 2 : 0;
	*j2 = hi < n ? hi : n;
}

/* P(D_n < d): 2n + 1 rows, each the previous one convolved with Poisson-like weights
 * (w/n)^r / r! for the three spacings w = g, 2g, 1 − 2g of the points A_i (g the distance
 * of n d to the nearest integer); the answer is n! times the last row's entry n. */
static double pomeranz_cdf(int n, double d)
{
	double t = n * d;
	int ll = (int)floor(t);
	double f = t - ll, g = fmin(f, 1 - f);
	int ceilf = f > 0, roundf = f > 0.5, npw = 2 * (ll + 1);
	double wg[POMERANZ_MAX], w2g[POMERANZ_MAX], w12g[POMERANZ_MAX];
	double rows[2][POMERANZ_MAX];
	if (npw > POMERANZ_MAX)
		return NAN;

	wg[0] = w2g[0] = w12g[0] = 1;
	for (int r = 1; r < npw; r++) {
		wg[r] = wg[r - 1] * (g / n) / r;
		w2g[r] = w2g[r - 1] * (2 * g / n) / r;
		w12g[r] = w12g[r - 1] * ((1 - 2 * g) / n) / r;
	}
	double *prev = rows[0], *cur = rows[1];
	memset(rows, 0, sizeof rows);
	cur[0] = 1;
	int prev_start = 0, cur_start = 0, j1, j2, scale = 0;
	pomeranz_range(0, n, ll, ceilf, roundf, &j1, &j2);
	for (int i = 1; i <= 2 * n + 1; i++) {
		int k1 = j1;
		double *swap = prev;
		prev = cur;
		cur = swap;
		int s = prev_start;
		prev_start = cur_start;
		cur_start = s;
		memset(cur, 0, (size_t)npw * sizeof *cur);
		pomeranz_range(i, n, ll, ceilf, roundf, &j1, &j2);
		const double *w = (i == 1 || i == 2 * n + 1) ? wg : (i % 2 ? w2g : w12g);
		int len = j2 - k1 + 1;
		if (len <= 0)
			continue;
		int from = j1 - k1, count = j2 - j1 + 1;
		double big = 0;
		for (int c = 0; c < count && c < npw; c++) {
			int at = from + c;
			double acc = 0;
			for (int a = at - (len - 1) > 0 ? at - (len - 1) : 0; a <= at && a < len; a++) {
				int idx = k1 - prev_start + a;
				if (idx >= 0 && idx < npw)
					acc += prev[idx] * w[at - a];
			}
			cur[c] = acc;
			big = fmax(big, acc);
		}
		if (big > 0 && big < ldexp(1, -SCALE_BITS)) {
			for (int c = 0; c < npw; c++)
				cur[c] = ldexp(cur[c], SCALE_BITS);
			scale -= SCALE_BITS;
		}
		cur_start = prev_start + j1 - k1;
	}
	int at = n - cur_start;
	double p = at >= 0 && at < npw ? cur[at] : 0;
	for (int r = 1; r <= n; r++) { /* × n! */
		if (fabs(p) > ldexp(1, SCALE_BITS)) {
			p = ldexp(p, -SCALE_BITS);
			scale += SCALE_BITS;
		}
		p *= r;
	}
	return ldexp(p, scale);
}

/* ---- Pelz & Good ------------------------------------------------------------------------- */

/* P(D_n < d) ≈ K0(z) + K1(z)/√n + K2(z)/n + K3(z)/n^1.5, z = √n d, each K_i a theta-like
 * series in exp(−(2k−1)² π² / (8 z²)) (plus, for K2 and K3, one in exp(−k² π² / (2 z²))),
 * summed over k <= ⌈16 z / π⌉. */
static double pelz_good_cdf(uint64_t n, double d)
{
	double z = sqrt((double)n) * d, z2 = z * z, z4 = z2 * z2, z6 = z4 * z2;
	double pi2 = M_PI * M_PI, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
	if (-pi2 / 8 / z2 < -708)
		return 0;
	double c1a = -z2, c1b = pi2 / 4;
	double c2a = 6 * z6 + 2 * z4, c2b = (2 * z4 - 5 * z2) * pi2 / 4, c2c = pi4 * (1 - 2 * z2) / 16;
	double c3a = -30 * z6 - 90 * z4 * z4, c3b = pi2 * (135 * z4 - 96 * z6) / 4,
	       c3c = pi4 * (-60 * z2 + 212 * z4) / 16, c3d = pi6 * (5 - 30 * z2) / 64;
	int kmax = (int)ceil(16 * z / M_PI);
	double k0 = 0, k1 = 0, k2 = 0, k3 = 0, e2 = 0, e3 = 0;
	for (int k = kmax; k >= 1; k--) { /* smallest terms first */
		double m = 2 * k - 1, m2 = m * m, m4 = m2 * m2, m6 = m4 * m2;
		double q = exp(-pi2 * m2 / (8 * z2));
		k0 += q;
		k1 += (c1a + c1b * m2) * q;
		k2 += (c2a + c2b * m2 + c2c * m4) * q;
		k3 += (c3a + c3b * m2 + c3c * m4 + c3d * m6) * q;
		double kk = (double)k * k, r = exp(-pi2 * kk / (2 * z2));
		e2 += kk * r;
		e3 += (3 * z2 - pi2 * kk) * kk * r;
	}
	double s2pi = sqrt(2 * M_PI), sn = sqrt((double)n);
	k0 *= s2pi / z;
	k1 *= s2pi / (6 * z4);
	k2 = k2 * s2pi / (72 * z4 * z2 * z) + e2 * pi2 * s2pi / (-36 * z2 * z);
	k3 = k3 * s2pi / (6480 * z6 * z4) + e3 * pi2 * s2pi / (216 * z6);
	return k0 + k1 / sn + k2 / (double)n + k3 / ((double)n * sn);
}

/* ---- the distribution ---------------------------------------------------------------------- */

/* log(n! / n^n) = ½ log n − n + ½ log 2π + s(n). */
static double log_fact_over_pow(double n)
{
	return 0.5 * log(n) - n + 0.5 * LOG_2PI + stirling_int(n);
}

double stats_kstwo_sf(double d, uint64_t n)
{
	if (n == 0 || isnan(d))
		return NAN;
	double nd = (double)n, t = nd * d;
	if (d >= 1)
		return 0;
	if (d <= 0.5 / nd || t <= 0.5)
		return 1;
	if (t <= 1) { /* Ruben–Gambino: P(D_n < d) = n!/n^n (2t − 1)^n */
		double cdf = 1;
		if (n <= 140)
			for (uint64_t i = 1; i <= n; i++)
				cdf *= (double)i * (1.0 / nd) * (2 * t - 1);
		else
			cdf = exp(log_fact_over_pow(nd) + nd * log(2 * t - 1));
		return clip01(1 - cdf);
	}
	if (t >= nd - 1)
		return clip01(2 * pow(1 - d, nd));
	if (d >= 0.5)
		return clip01(2 * smirnov_sf(n, d));
	double ndd = t * d;
	if (n <= 140) {
		if (ndd <= 0.754693)
			return clip01(1 - durbin_cdf(n, d));
		if (ndd <= 4)
			return clip01(1 - pomeranz_cdf((int)n, d));
		return clip01(2 * smirnov_sf(n, d));
	}
	if (ndd >= 370)
		return 0;
	if (ndd >= 2.2)
		return clip01(2 * smirnov_sf(n, d));
	if (n <= 100000 && nd * pow(d, 1.5) <= 1.4)
		return clip01(1 - durbin_cdf(n, d));
	return clip01(1 - pelz_good_cdf(n, d));
}

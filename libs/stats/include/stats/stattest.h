/* Hypothesis tests with scipy's values: what Evidently's p-value stattests ("ks",
 * "chisquare", "z") compute, and the distributions behind their p-values. Every function
 * here gives the number scipy 1.10 gives on the same input (to ~1e-12; the unit tests
 * hold it to 1e-9), computed in C with no Python in sight.
 *
 * Missing values: NaN is "missing" and is dropped before a test, as Evidently drops it
 * (get_one_column_drift) before calling scipy. Infinities are values, ordered as scipy
 * orders them; Evidently also drops ±inf, and a caller that wants its exact behaviour
 * drops them first.
 *
 * Status: functions that can fail return enum core_status (core/status.h): CORE_OK, or
 * CORE_EINVAL for input scipy would reject (an empty sample, a negative count, sums that
 * disagree) with *out untouched, or CORE_ENOMEM when a copy of a caller-sized input
 * cannot be allocated. Pure functions of numbers return NaN for arguments outside their
 * domain. Nothing here keeps state; every function is thread-safe. */
#ifndef STATS_STATTEST_H
#define STATS_STATTEST_H
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* A test's outcome: its statistic (KS D, Pearson's chi-squared, z) and two-sided
 * p-value. */
struct stats_test {
	double statistic;
	double pvalue;
};

/* ---- distributions ------------------------------------------------------------------ */

/* Standard normal CDF Φ(x) and survival 1 − Φ(x) = Φ(−x), both through erfc so that each
 * keeps full relative precision in its own tail (stats_norm_sf(10) is 7.6e-24, not 0):
 * scipy.stats.norm.cdf / norm.sf. NaN gives NaN. */
double stats_norm_cdf(double x);
double stats_norm_sf(double x);

/* Regularised incomplete gamma functions: P(a, x) = γ(a, x) / Γ(a) and
 * Q(a, x) = Γ(a, x) / Γ(a) = 1 − P(a, x), for a > 0 and x >= 0 (scipy.special.gammainc /
 * gammaincc), each to ~1e-14 relative where it is not itself below 1e-300. NaN for a <= 0,
 * x < 0 or NaN arguments; Q(a, +inf) = 0. */
double stats_gamma_p(double a, double x);
double stats_gamma_q(double a, double x);

/* Chi-squared survival function with df degrees of freedom, Q(df/2, x/2):
 * scipy.stats.chi2.sf(x, df). NaN when df <= 0 (scipy's answer too); 1 for x <= 0. */
double stats_chi2_sf(double x, double df);

/* Kolmogorov's two-sided one-sample distribution for n values: P(D_n >= d),
 * scipy.stats.kstwo.sf(d, n). Simard & L'Ecuyer (2011)'s choice of method by n and n·d²:
 * Ruben–Gambino's closed forms at the ends, Durbin's matrix (Marsaglia–Tsang–Wang),
 * Pomeranz's recursion, the Pelz–Good expansion, and 2 × Smirnov's one-sided exact sum
 * (Birnbaum–Tingey) in the upper tail; exact, not the limiting series. NaN for n == 0
 * or d NaN; 1 for d <= 1/(2n); 0 for d >= 1. */
double stats_kstwo_sf(double d, uint64_t n);

/* ---- Kolmogorov–Smirnov, two samples ------------------------------------------------- */

/* Two-sided two-sample KS test: scipy.stats.ks_2samp(x, y) with its defaults
 * (alternative='two-sided', method='auto'). D = max |F_x − F_y| over the pooled values,
 * with ties counted as scipy counts them (both empirical CDFs right-continuous). The
 * p-value is exact when max(n_x, n_y) <= 10000 (the lattice-path count of Hodges, in
 * Viehmann's stable recursion, or the closed form when n_x == n_y); above that, and in
 * scipy's fallback when the exact count fails, it is stats_kstwo_sf(D, round(n_x n_y /
 * (n_x + n_y))). As scipy, an exact p-value comes with D rounded to the lattice,
 * h / lcm(n_x, n_y).
 *   x, y     the samples, in any order; NaN values are dropped, the rest not changed
 *   [out] out  D and the p-value
 * Returns CORE_OK; CORE_EINVAL (out untouched) when either sample has no non-NaN value;
 * CORE_ENOMEM when the sorted copies (8 bytes per value) cannot be allocated. */
enum core_status stats_ks_2samp(const double *x, size_t nx, const double *y, size_t ny, struct stats_test *out);

/* The same on samples already sorted ascending, for a caller that keeps its samples
 * sorted: no copy, one merge pass (the only allocation is the exact p-value's column of
 * min(n_x, n_y) + 2 doubles, for unequal sizes up to 10000). Returns CORE_EINVAL (out
 * untouched) when a sample is empty, not ascending or holds a NaN; CORE_ENOMEM when that
 * column cannot be allocated. */
enum core_status stats_ks_2samp_sorted(const double *x, size_t nx, const double *y, size_t ny, struct stats_test *out);

/* ---- chi-squared ------------------------------------------------------------------------ */

/* Pearson's goodness-of-fit test: scipy.stats.chisquare(obs, exp). Statistic
 * Σ (o_i − e_i)² / e_i, p-value stats_chi2_sf(statistic, k − 1).
 *   obs, exp   k observed and k expected frequencies (any non-negative reals)
 * Returns CORE_EINVAL (out untouched) when k < 2, a value is negative or not finite, an
 * expected frequency is 0 (scipy would give inf or NaN: merge or drop empty categories
 * first, or use stats_chisquare_evidently, which defines that case), or the two sums
 * differ by more than 1e-8 relative (scipy's ValueError). */
enum core_status stats_chisquare(const double *obs, const double *exp, size_t k, struct stats_test *out);

/* Evidently's "chisquare" stattest on counts per category: the current counts against
 * the reference counts scaled to the current size, f_exp_i = ref_i · (n_cur / n_ref),
 * over the categories present in either sample; then scipy.stats.chisquare.
 *   ref, cur   counts of the same k categories (any order; a category with 0 in both is
 *              skipped, as it is not among Evidently's keys)
 * A category new in the current sample (ref_i == 0, cur_i > 0) makes the statistic +inf
 * and the p-value 0, as scipy computes on Evidently's arrays (drift). With one category
 * present there is no degree of freedom: the p-value is NaN, as Evidently reports it
 * (not drift, since NaN < threshold is false). Returns CORE_EINVAL (out untouched) when
 * either sample is empty. */
enum core_status stats_chisquare_evidently(const uint64_t *ref, const uint64_t *cur, size_t k, struct stats_test *out);

/* Chi-squared test of independence on an r × c contingency table (row-major counts):
 * scipy.stats.chi2_contingency(table) with its defaults. Expected e_ij = row_i · col_j /
 * total; dof = (r − 1)(c − 1); when dof == 1 Yates' correction moves each observed count
 * by min(0.5, |e − o|) towards its expectation (scipy's correction=True acts only then);
 * when dof == 0 the statistic is 0 and the p-value 1.
 *   [out] dof   the degrees of freedom (may be NULL)
 * Returns CORE_EINVAL (out untouched) when r or c is 0, a count is negative or not
 * finite, or an expected frequency is 0 (a row or column of zeros: scipy's ValueError). */
enum core_status stats_chi2_contingency(const double *table, size_t r, size_t c, struct stats_test *out, size_t *dof);

/* ---- two-proportion z-test ----------------------------------------------------------- */

/* Two-proportion z-test with pooled variance: p1 = k1/n1, p2 = k2/n2, P = (k1+k2)/(n1+n2),
 * z = (p1 − p2) / sqrt(P (1 − P) (1/n1 + 1/n2)), two-sided p = 2 Φ(−|z|). This is
 * Evidently's proportions_diff_z_stat_ind and proportions_diff_z_test; its p-value is
 * written 2 (1 − Φ(|z|)) there, which agrees to 1.1e-16 but rounds to 0 beyond |z| ≈ 8.3
 * where this one keeps its precision. When P is 0 or 1 (every value in both samples is
 * the same) z is 0 and p is 1, Evidently's answer for that case. Returns CORE_EINVAL (out
 * untouched) when n1 or n2 is 0 or k1 > n1 or k2 > n2. */
enum core_status stats_ztest_2prop(uint64_t k1, uint64_t n1, uint64_t k2, uint64_t n2, struct stats_test *out);

/* Evidently's "z" stattest on counts per category, listed in Evidently's sorted order of
 * the values (sorted(union of both samples)): the first category present in either
 * sample is "key 0", every other value counts as the other outcome, and the test above
 * runs on (ref − ref_key0, n_ref) vs (cur − cur_key0, n_cur). Returns CORE_EINVAL (out
 * untouched) when either sample is empty. */
enum core_status stats_ztest_evidently(const uint64_t *ref, const uint64_t *cur, size_t k, struct stats_test *out);
#endif

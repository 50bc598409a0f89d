/* Drift distances with the values Evidently reports (it computes them with numpy and
 * scipy): PSI, KL divergence, Jensen–Shannon distance, normed Wasserstein-1, Hellinger,
 * total variation; and the binning Evidently puts under PSI, KL and JS.
 *
 * Two steps, so that a batch caller and a streaming one share the second:
 *   1. bins: stats_bins_numeric / stats_bins_categorical bin two raw samples on common
 *      bins as Evidently's get_binned_data does; stats_bins_on_edges bins them on edges
 *      the caller gives. A streaming caller skips this step: it keeps counts on the
 *      reference's bins itself (stats_sturges_bins + stats_edges_linspace give the
 *      edges Evidently would draw for the reference alone; stats_histogram counts).
 *   2. distances on two count vectors over the same k bins (stats_psi, stats_kl_div,
 *      stats_jensenshannon, stats_hellinger, stats_tvd). Shares are count / total, as
 *      Evidently's count / len(sample). Values outside the bins are the caller's to
 *      place: fold a stats_histogram's below/above into its end bins, or pass them as
 *      two more bins.
 * Wasserstein and Evidently's numerical Hellinger need the values themselves and take
 * them directly.
 *
 *   struct stats_bins b;
 *   double psi;
 *   if (stats_bins_numeric(ref, n_ref, cur, n_cur, &b) == CORE_OK) {
 *           stats_psi(b.ref, b.k, b.cur, b.k, &psi);
 *           stats_bins_free(&b);
 *   }
 *
 * Missing values: NaN and ±inf are dropped from raw numerical samples and NULL from
 * categorical ones, as Evidently's get_one_column_drift drops them before any stattest.
 * Count vectors hold no missing values by construction.
 *
 * Status: functions return enum core_status: CORE_OK; CORE_EINVAL for input with nothing
 * to compare (a sample with no value left, all counts zero), bin vectors of different
 * lengths or of length 0, or edges that are not finite and ascending, with *out set to
 * NaN; CORE_ENOMEM when a copy of caller-sized input cannot be allocated. Nothing keeps
 * state; every function is thread-safe.
 *
 * Values equal scipy 1.10 / numpy 1.24's on the same input to ~1e-15 relative (the unit
 * tests hold them to 1e-9); sums run in numpy's own pairwise order. */
#ifndef STATS_DISTANCE_H
#define STATS_DISTANCE_H
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* ---- binning --------------------------------------------------------------------------- */

/* Two samples counted on the same k bins. */
struct stats_bins {
	size_t k;
	uint64_t *ref, *cur; /* k counts each; their sums are the samples' sizes */
	/* What the bins are, for reports; exactly one of the three is set:
	 *   edges   k + 1 ascending edges; bin i is [edges[i], edges[i+1]), the last closed
	 *   values  k sorted distinct values (a numerical column binned per value)
	 *   labels  k distinct categories, sorted bytewise, NUL-terminated copies */
	double *edges;
	double *values;
	char **labels;
};

/* Releases what b holds and zeroes it; safe on a zeroed or already freed struct. */
void stats_bins_free(struct stats_bins *b);

/* Evidently's bins for a numerical column (get_binned_data): when the reference has more
 * than 20 distinct values, equal-width bins numpy.histogram_bin_edges(ref ∪ cur,
 * "sturges") over the pooled min..max (stats_sturges_bins of the pooled size), counted
 * as numpy.histogram; otherwise one bin per distinct value of ref ∪ cur (b->values).
 * NaN and ±inf are dropped first. The samples are not changed.
 * Returns CORE_EINVAL (b zeroed) when either sample has no finite value, CORE_ENOMEM
 * when the sorted copies cannot be allocated. On CORE_OK the caller frees b with
 * stats_bins_free. */
enum core_status stats_bins_numeric(const double *ref, size_t n_ref, const double *cur, size_t n_cur,
				    struct stats_bins *b);

/* Evidently's bins for a categorical column: one bin per distinct string of ref ∪ cur
 * (compared bytewise), b->labels sorted bytewise. NULL entries are missing and dropped.
 * Returns CORE_EINVAL (b zeroed) when either sample has no non-NULL value, CORE_ENOMEM
 * on allocation failure. */
enum core_status stats_bins_categorical(const char *const *ref, size_t n_ref, const char *const *cur, size_t n_cur,
					struct stats_bins *b);

/* Counts both samples on the k bins of the given edges (k + 1 of them, finite and
 * non-decreasing), bin i = [edges[i], edges[i+1]) and the last closed as numpy.histogram,
 * except that values below edges[0] count in bin 0 and values above edges[k] in bin k−1:
 * the end bins are open, so a current sample beyond the reference's range still counts
 * (the classic PSI's convention). NaN and ±inf are dropped. b->edges is a copy. Returns
 * CORE_EINVAL (b zeroed) for k == 0, bad edges, or a sample with no finite value. */
enum core_status stats_bins_on_edges(const double *edges, size_t k, const double *ref, size_t n_ref, const double *cur,
				     size_t n_cur, struct stats_bins *b);

/* The number of bins numpy.histogram_bin_edges(x, "sturges") draws for n finite values
 * spanning lo..hi: ceil((hi − lo) / ((hi − lo) / (log2 n + 1))), computed in numpy's
 * order; 1 when lo == hi. 0 when n == 0 or the range is not finite. Its edges are
 * stats_edges_linspace(lo, hi, bins, edges) (stats.h). */
size_t stats_sturges_bins(double lo, double hi, uint64_t n);

/* The classic PSI's bins: the reference's deciles numpy.quantile(ref, i / 10), i = 0..10
 * (linear interpolation), with repeated edges merged, into edges[0..*k] (room for 11),
 * *k the number of bins (1..10; 1 for a constant reference). Use them with
 * stats_bins_on_edges, whose open end bins the classic method needs. NaN and ±inf are
 * dropped. Returns CORE_EINVAL when ref has no finite value, CORE_ENOMEM when its copy
 * cannot be allocated. */
enum core_status stats_decile_edges(const double *ref, size_t n_ref, double edges[11], size_t *k);

/* ---- distances on counts over common bins ------------------------------------------------ */
/* Each takes the reference's and the current sample's counts on the same bins
 * (k_ref == k_cur >= 1, each with a non-zero total) and writes the distance into *out.
 * Returns CORE_EINVAL (*out = NaN) otherwise. */

/* Population stability index, Evidently's "psi": p = ref / Σref, q = cur / Σcur, each
 * smoothed as Evidently does (stats_smooth_shares), then Σ (p_i − q_i) ln(p_i / q_i). On
 * stats_bins_numeric's bins it is Evidently's value; on stats_decile_edges' bins with
 * stats_bins_on_edges it is the classic 10-quantile-bin PSI with the same smoothing. */
enum core_status stats_psi(const uint64_t *ref, size_t k_ref, const uint64_t *cur, size_t k_cur, double *out);

/* Kullback–Leibler divergence KL(ref ‖ cur), Evidently's "kl_div": the shares smoothed as
 * for PSI, then scipy.stats.entropy(p, q), which renormalises each to sum 1 and sums
 * scipy.special.rel_entr(p, q) = p ln(p / q). Natural log. */
enum core_status stats_kl_div(const uint64_t *ref, size_t k_ref, const uint64_t *cur, size_t k_cur, double *out);

/* Jensen–Shannon distance, Evidently's "jensenshannon": no smoothing;
 * scipy.spatial.distance.jensenshannon(p, q) with the natural log: m = (p + q) / 2,
 * sqrt((KL(p‖m) + KL(q‖m)) / 2), in [0, sqrt(ln 2)]. */
enum core_status stats_jensenshannon(const uint64_t *ref, size_t k_ref, const uint64_t *cur, size_t k_cur, double *out);

/* Hellinger distance on shares, Evidently's "hellinger" for a categorical column:
 * sqrt(1 − min(1, Σ sqrt(p_i q_i))), in [0, 1]. No smoothing. */
enum core_status stats_hellinger(const uint64_t *ref, size_t k_ref, const uint64_t *cur, size_t k_cur, double *out);

/* Total variation distance ½ Σ |p_i − q_i|, in [0, 1]: the statistic of Evidently's "TVD"
 * stattest (whose score is stats_tvd_pvalue's p-value, not this). */
enum core_status stats_tvd(const uint64_t *ref, size_t k_ref, const uint64_t *cur, size_t k_cur, double *out);

/* Evidently's empty-bin smoothing for psi and kl_div, in place on k shares of one sample:
 * zeros become 0.0001, or min_nonzero / 1e6 when the smallest non-zero share is already
 * <= 0.0001. Shares with no non-zero value are left as they are. */
void stats_smooth_shares(double *shares, size_t k);

/* ---- distances on raw values ------------------------------------------------------------- */

/* First Wasserstein distance between the two empirical distributions:
 * scipy.stats.wasserstein_distance(ref, cur) = ∫ |F_ref − F_cur|. NaN and ±inf are
 * dropped. Returns CORE_EINVAL (*out = NaN) when a sample has no finite value,
 * CORE_ENOMEM when the sorted copies cannot be allocated. */
enum core_status stats_wasserstein(const double *ref, size_t n_ref, const double *cur, size_t n_cur, double *out);

/* Evidently's "wasserstein": stats_wasserstein / max(std(ref), 0.001), std the population
 * standard deviation (ddof = 0: Evidently calls np.std on the column). Same inputs and
 * statuses as stats_wasserstein. */
enum core_status stats_wasserstein_norm(const double *ref, size_t n_ref, const double *cur, size_t n_cur, double *out);

/* Evidently's "hellinger" for a numerical column: equal-width bins
 * numpy.histogram_bin_edges(distinct values of ref ∪ cur, "sturges") (Sturges on the
 * number of distinct values, not of rows), numpy.histogram densities h_ref and h_cur on
 * them, s = Σ sqrt(h_ref,i h_cur,i) · w with w the mean bin width, and
 * sqrt(1 − clip(s, 0, 1)). NaN and ±inf are dropped. Statuses as stats_wasserstein. */
enum core_status stats_hellinger_numeric(const double *ref, size_t n_ref, const double *cur, size_t n_cur, double *out);

/* ---- Evidently's TVD stattest ------------------------------------------------------------ */

/* The p-value Evidently's "TVD" reports: a permutation test of stats_tvd with 1000
 * permutations drawn as Evidently draws them (numpy's legacy RandomState seeded with 0;
 * each time, choice without replacement of n_ref values of the pooled list ref + cur, in
 * that order, for a new reference, the rest the new current), p = the share of
 * permutations whose distance is >= the observed one. The draw depends on the order of
 * the values, so this takes the samples themselves, in their order; NULL entries are
 * dropped first.
 * Distances are compared exactly (integers over the common denominator) where Evidently
 * compares floats; the two agree unless a permuted distance equals the observed one
 * mathematically but not after Evidently's rounding, which then depends on the
 * (hash-ordered) order of its categories. Time is 1000 shuffles of the pooled sample,
 * O(1000 (n_ref + n_cur)); memory 8 bytes per value. Returns CORE_EINVAL (*out = NaN)
 * when either sample has no non-NULL value or both hold more than 2^32 − 1 values in
 * all, CORE_ENOMEM when the pooled sample cannot be allocated. */
enum core_status stats_tvd_pvalue(const char *const *ref, size_t n_ref, const char *const *cur, size_t n_cur,
				  double *out);
#endif

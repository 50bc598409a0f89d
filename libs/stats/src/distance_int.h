/* Private to libs/stats: what the distance files (bins.c, psi.c, kl_div.c, ...) share.
 * Never included from outside the library. */
#ifndef STATS_DISTANCE_INT_H
#define STATS_DISTANCE_INT_H

#include <stddef.h>

#include <stdint.h>

#include "core/status.h"

/* Σ a[0..n) in numpy's order for np.sum on a contiguous float64 array: blocks of 8192
 * added left to right, each summed pairwise (eight running sums under 128 values, halves
 * above), so a sum here and numpy's agree to the last bit. */
double stats_npsum(const double *a, size_t n);

/* What stats_shares_pair does to the shares after count / total. */
enum {
	STATS_SHARES_SMOOTH = 1, /* Evidently's empty-bin smoothing (stats_smooth_shares) */
	STATS_SHARES_RENORM = 2, /* then each divided by its sum again, as scipy's entropy
				  * and jensenshannon do to their arguments */
};

/* Checks two count vectors over common bins (same length k >= 1, each total non-zero) and
 * returns in *buf a malloc'd array of 3k doubles: the reference's shares count / total
 * in [0, k), the current sample's in [k, 2k), treated as flags (STATS_SHARES_*) say, and
 * k of scratch. The caller frees it. Sets *out to NaN, the answer of every failure, which
 * is then CORE_EINVAL or CORE_ENOMEM with *buf NULL. */
enum core_status stats_shares_pair(const uint64_t *ref, size_t k_ref, const uint64_t *cur, size_t k_cur, int flags,
				   double **buf, double *out);

/* The finite values of x[0..n), sorted ascending, into a malloc'd *out of *m values.
 * CORE_EINVAL (nothing allocated) when none is finite, CORE_ENOMEM. */
enum core_status stats_sorted_finite(const double *x, size_t n, double **out, size_t *m);

/* Both samples' finite values, sorted (stats_sorted_finite on each). On failure nothing
 * is held; on CORE_OK the caller releases them with stats_sorted_pair_free. */
struct stats_sorted_pair {
	double *r, *c;
	size_t nr, nc;
};
enum core_status stats_sorted_pair(const double *ref, size_t n_ref, const double *cur, size_t n_cur,
				   struct stats_sorted_pair *sp);
void stats_sorted_pair_free(struct stats_sorted_pair *sp);

/* Counts sorted values s[0..n) on k bins of edges[0..k] as numpy.histogram with an edge
 * array does (searchsorted: bin i = [e_i, e_i+1), the last closed, values outside
 * dropped), or, with open_ends, with values below e_0 in bin 0 and above e_k in bin
 * k−1. counts[0..k) are overwritten. */
void stats_count_sorted(const double *s, size_t n, const double *edges, size_t k, int open_ends, uint64_t *counts);
#endif

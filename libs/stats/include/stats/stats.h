/* Streaming statistics with bounded memory: what the data registry's profiles compute
 * over a version's items, and what the drift monitor will compute over live traffic and
 * compare with them. Every accumulator takes values one at a time, in any number, and
 * holds at most a bound the caller fixes at init (or a fixed-size sketch beyond it); each
 * result says whether it is exact. Reference semantics are numpy's and pandas': std with
 * ddof=1 as pandas.describe, quantiles with numpy's default linear interpolation,
 * histograms as numpy.histogram (last bin closed). NaN is "missing": it is counted apart
 * and enters nothing else. Accumulators are not thread-safe; one owner feeds each. */
#ifndef STATS_STATS_H
#define STATS_STATS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/status.h"

/* ---- hashing ------------------------------------------------------------------ */

/* 64-bit hash of len bytes (FNV-1a folded through the murmur3 finaliser): the key that
 * stats_distinct and stats_counts use. Same input, same hash on every machine. */
uint64_t stats_hash64(const void *data, size_t len);
/* Hash of a double as a value: -0.0 and 0.0 hash alike. */
uint64_t stats_hash_double(double x);

/* ---- moments (Welford) -------------------------------------------------------- */

struct stats_moments {
	uint64_t count;   /* values taken (NaN excluded) */
	uint64_t missing; /* NaN values seen */
	double mean;
	double m2; /* sum of squared deviations from the mean */
	double min, max;
};

void stats_moments_init(struct stats_moments *m);
/* Adds x; a NaN only increments missing. */
void stats_moments_add(struct stats_moments *m, double x);
/* Folds b into a (Chan et al.'s parallel update); b is unchanged. */
void stats_moments_merge(struct stats_moments *a, const struct stats_moments *b);
/* Mean, or NaN when count is 0. */
double stats_moments_mean(const struct stats_moments *m);
/* Sample standard deviation (ddof=1, as pandas): NaN when count < 2. */
double stats_moments_std(const struct stats_moments *m);
/* Min / max, NaN when count is 0. */
double stats_moments_min(const struct stats_moments *m);
double stats_moments_max(const struct stats_moments *m);

/* ---- quantiles ------------------------------------------------------------------ */

/* Exact while at most `bound` values were added: all values are kept and a quantile is
 * numpy.quantile(x, q) (method "linear") to the last bit. Past the bound the values go
 * into a KLL sketch (Karnin, Lang, Liberty 2016) with k = STATS_KLL_K, which keeps
 * about 3k doubles; a quantile is then a value of the input whose normalised rank is
 * within STATS_KLL_RANK_ERROR of q (with probability >= 99%, measured in the tests;
 * the sketch's coin flips come from a fixed seed, so a stream gives the same answers
 * on every run). */
#define STATS_KLL_K                   1024
#define STATS_KLL_RANK_ERROR          0.005
#define STATS_QUANTILES_BOUND_DEFAULT 1000000

struct stats_quantiles;

/* New accumulator keeping at most bound values exactly (0: the default bound). */
struct stats_quantiles *stats_quantiles_new(size_t bound);
void stats_quantiles_free(struct stats_quantiles *q);
/* Adds x; NaN is ignored (the caller counts missing values with stats_moments). */
void stats_quantiles_add(struct stats_quantiles *q, double x);
/* Values taken (NaN excluded). */
uint64_t stats_quantiles_count(const struct stats_quantiles *q);
/* True while the answers are exact (no more than the bound were added). */
bool stats_quantiles_exact(const struct stats_quantiles *q);
/* Writes the quantiles ps[0..n) (each in [0, 1]) into out[0..n); NaN when no value was
 * added. May reorder internal storage; adding after a query is allowed. */
void stats_quantiles_get(struct stats_quantiles *q, const double *ps, size_t n, double *out);
/* When exact: the values, sorted ascending, valid until the next add or free, and *n
 * their number. When not exact: NULL. Lets a caller bin the values without a second
 * copy. */
const double *stats_quantiles_sorted(struct stats_quantiles *q, size_t *n);

/* ---- histogram -------------------------------------------------------------------- */

struct stats_histogram;

/* numpy.linspace(lo, hi, bins + 1) as numpy.histogram(x, bins) makes its edges, into
 * edges[0..bins]: when lo == hi the range is widened to [lo - 0.5, hi + 0.5]. bins >= 1,
 * lo and hi finite. */
void stats_edges_linspace(double lo, double hi, size_t bins, double *edges);

struct stats_histogram {
	size_t bins;
	double *edges;                  /* bins + 1, ascending */
	uint64_t *counts;               /* bins */
	uint64_t below, above, missing; /* values outside [edges[0], edges[bins]], NaN */
};

/* Fixed edges (copied): bin i holds edges[i] <= x < edges[i+1], the last one also
 * x == edges[bins], as numpy.histogram. Returns false (h zeroed) when bins is 0 or the
 * edges are not strictly ascending and finite. */
bool stats_histogram_init(struct stats_histogram *h, const double *edges, size_t bins);
void stats_histogram_free(struct stats_histogram *h);
void stats_histogram_add(struct stats_histogram *h, double x);
/* Adds count copies of x (for byte-valued inputs binned by table). */
void stats_histogram_add_n(struct stats_histogram *h, double x, uint64_t count);

/* Bins the values q holds into h: every value when q is exact (then h is what adding
 * them one by one gives), else the sketch's items with their weights (approximate counts
 * that still add up to the count, each bin within about STATS_KLL_RANK_ERROR * count of
 * the truth), so one pass over the data gives both quantiles and histogram. */
void stats_quantiles_fill_histogram(struct stats_quantiles *q, struct stats_histogram *h);

/* ---- distinct count ---------------------------------------------------------------- */

/* Exact up to `bound` distinct hashes (a set of 64-bit hashes: two different values
 * collide with probability about n^2 / 2^65, so "exact" is exact for any real data),
 * then a HyperLogLog of 2^14 registers, standard error 1.04 / 128 = 0.81%. The
 * registers are fed from the first value on, so the switch loses nothing. */
#define STATS_DISTINCT_BOUND_DEFAULT 100000
#define STATS_HLL_P                  14

struct stats_distinct;

struct stats_distinct *stats_distinct_new(size_t bound);
void stats_distinct_free(struct stats_distinct *d);
/* Adds a value by its hash (stats_hash64 / stats_hash_double). */
void stats_distinct_add_hash(struct stats_distinct *d, uint64_t h);
/* The number of distinct values, exact when *exact is set, else the estimate. */
uint64_t stats_distinct_count(const struct stats_distinct *d, bool *exact);

/* ---- value counts ------------------------------------------------------------------- */

/* Counts per string value. Exact while fewer than 2 * `bound` distinct values were seen;
 * when the table reaches that it is pruned to its `bound` most frequent values (a "lossy
 * counting" of heavy hitters): a kept value's count is then a lower bound whose
 * shortfall is at most stats_counts_error(), and a value more frequent than that error
 * is never lost. */
#define STATS_COUNTS_BOUND_DEFAULT 10000

struct stats_counts;

struct stats_value_count {
	const char *value; /* owned by the accumulator, NUL-terminated */
	size_t len;        /* its length in bytes */
	uint64_t count;
};

struct stats_counts *stats_counts_new(size_t bound);
void stats_counts_free(struct stats_counts *c);
/* Counts one occurrence of the len bytes at value (need not be NUL-terminated). */
void stats_counts_add(struct stats_counts *c, const char *value, size_t len);
/* Values counted in all. */
uint64_t stats_counts_total(const struct stats_counts *c);
/* Distinct values held now (all of them while exact). */
size_t stats_counts_distinct(const struct stats_counts *c);
bool stats_counts_exact(const struct stats_counts *c);
/* Upper bound on how much any count falls short of the truth (0 while exact). */
uint64_t stats_counts_error(const struct stats_counts *c);
/* The top k values, by count descending then value ascending (bytewise), into a
 * malloc'd array the caller frees (the strings stay owned by c and live until the next
 * add or free); *n is min(k, distinct held); *other = total - sum of the returned
 * counts. */
struct stats_value_count *stats_counts_top(const struct stats_counts *c, size_t k, size_t *n, uint64_t *other);

/* Sorts a sample ascending in place (-0.0 becomes +0.0), with the radix sort the
 * statistics use; they find a sorted sample sorted and skip their own sort, so a caller
 * running several statistics and a histogram on one sample sorts it once. CORE_EINVAL
 * (x unchanged) when a value is NaN; CORE_ENOMEM. */
enum core_status stats_sort_sample(double *x, size_t n);
#endif

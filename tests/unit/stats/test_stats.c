/* Unit tests for libs/stats: every accumulator against numpy / scipy computed at test
 * time by Debian's /usr/bin/python3 on the same values (written to a file with %.17g,
 * so both sides see the same doubles). Data sets: a small hand-made one, a normal sample
 * with NaNs among it, a constant column, one value, no values, integers with ties, and a
 * stream past the exact bound whose sketch answers are checked by their rank in the
 * exact sorted data. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness_util.h"
#include "stats/stats.h"

static const double PS[] = {0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1};
#define NPS (sizeof PS / sizeof PS[0])

/* ---- helpers ------------------------------------------------------------------ */

static struct th_rng rng = {88172645463325252ULL};

static double urand(void)
{
	return th_urand(&rng);
}

static double nrand(void)
{
	return th_nrand(&rng);
}

static char *tmp_path(const char *name)
{
	const char *dir = getenv("LATHE_TEST_TMP");
	char *p;

	ck_assert(asprintf(&p, "%s/stats-%d-%s", dir ? dir : "/tmp", (int)getpid(), name) > 0);
	return p;
}

static char *write_values(const double *x, size_t n)
{
	char *path = tmp_path("values.txt");
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%.17g\n", x[i]);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

/* Runs a python program (with `x`, the values of path as a float array, defined) and
 * reads the whitespace-separated numbers it prints into out; returns their number. */
static size_t python(const char *path, const char *body, double *out, size_t max)
{
	return th_python_numbers(path, "x = np.array(open(sys.argv[1]).read().split(), dtype=float)", body, out, max);
}

static bool same(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

static bool close_rel(double a, double b, double rel)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	return fabs(a - b) <= rel * fmax(1, fmax(fabs(a), fabs(b)));
}

/* Feeds x to every accumulator and compares each result with numpy's. */
static void check_against_numpy(const double *x, size_t n)
{
	char *path = write_values(x, n);
	double ref[128];
	size_t got = python(path,
			    "v = x[~np.isnan(x)]\n"
			    "d = scipy.stats.describe(v) if len(v) > 1 else None\n"
			    "out(len(v), len(x) - len(v))\n"
			    "out(np.mean(v) if len(v) else np.nan, np.std(v, ddof=1) if len(v) > 1 else np.nan)\n"
			    "out(np.min(v) if len(v) else np.nan, np.max(v) if len(v) else np.nan)\n"
			    "out(d.variance if d else np.nan)\n"
			    "ps = [0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1]\n"
			    "out(*(np.quantile(v, ps) if len(v) else [np.nan] * 9))\n"
			    "out(len(np.unique(v)))\n"
			    "if len(v):\n"
			    "    c, e = np.histogram(v, bins=20)\n"
			    "    out(*e); out(*c)\n",
			    ref, 128);
	ck_assert_uint_ge(got, 17);

	struct stats_moments m;
	struct stats_quantiles *q = stats_quantiles_new(0);
	struct stats_distinct *d = stats_distinct_new(0);
	stats_moments_init(&m);
	for (size_t i = 0; i < n; i++) {
		stats_moments_add(&m, x[i]);
		stats_quantiles_add(q, x[i]);
		if (!isnan(x[i]))
			stats_distinct_add_hash(d, stats_hash_double(x[i]));
	}
	ck_assert_uint_eq(m.count, (uint64_t)ref[0]);
	ck_assert_uint_eq(m.missing, (uint64_t)ref[1]);
	ck_assert_msg(close_rel(stats_moments_mean(&m), ref[2], 1e-12), "mean %.17g vs numpy %.17g",
		      stats_moments_mean(&m), ref[2]);
	ck_assert_msg(close_rel(stats_moments_std(&m), ref[3], 1e-9), "std %.17g vs numpy %.17g", stats_moments_std(&m),
		      ref[3]);
	ck_assert(same(stats_moments_min(&m), ref[4]));
	ck_assert(same(stats_moments_max(&m), ref[5]));
	double sd = stats_moments_std(&m);
	ck_assert_msg(close_rel(sd * sd, ref[6], 1e-9), "variance %.17g vs scipy %.17g", sd * sd, ref[6]);

	double qs[NPS];
	ck_assert(stats_quantiles_exact(q));
	ck_assert_uint_eq(stats_quantiles_count(q), m.count);
	stats_quantiles_get(q, PS, NPS, qs);
	for (size_t j = 0; j < NPS; j++)
		ck_assert_msg(same(qs[j], ref[7 + j]), "q%g: %.17g vs numpy %.17g", PS[j], qs[j], ref[7 + j]);

	bool exact = false;
	ck_assert_uint_eq(stats_distinct_count(d, &exact), (uint64_t)ref[16]);
	ck_assert(exact);

	if (m.count) {
		ck_assert_uint_eq(got, 17 + 21 + 20);
		double edges[21];
		stats_edges_linspace(stats_moments_min(&m), stats_moments_max(&m), 20, edges);
		for (size_t j = 0; j < 21; j++)
			ck_assert_msg(edges[j] == ref[17 + j], "edge %zu: %.17g vs numpy %.17g", j, edges[j],
				      ref[17 + j]);
		struct stats_histogram h;
		ck_assert(stats_histogram_init(&h, edges, 20));
		for (size_t i = 0; i < n; i++)
			stats_histogram_add(&h, x[i]);
		for (size_t j = 0; j < 20; j++)
			ck_assert_msg(h.counts[j] == (uint64_t)ref[38 + j], "bin %zu: %llu vs numpy %g", j,
				      (unsigned long long)h.counts[j], ref[38 + j]);
		ck_assert_uint_eq(h.below + h.above, 0);
		ck_assert_uint_eq(h.missing, m.missing);
		/* binning the held values gives the same counts */
		struct stats_histogram h2;
		ck_assert(stats_histogram_init(&h2, edges, 20));
		stats_quantiles_fill_histogram(q, &h2);
		for (size_t j = 0; j < 20; j++)
			ck_assert_uint_eq(h2.counts[j], h.counts[j]);
		stats_histogram_free(&h2);
		/* the sorted values the exact mode exposes are numpy's np.sort */
		size_t ns;
		const double *s = stats_quantiles_sorted(q, &ns);
		ck_assert_uint_eq(ns, m.count);
		for (size_t i = 1; i < ns; i++)
			ck_assert(s[i - 1] <= s[i]);
		stats_histogram_free(&h);
	}
	stats_quantiles_free(q);
	stats_distinct_free(d);
	unlink(path);
	free(path);
}

/* ---- data sets against numpy ------------------------------------------------------ */

START_TEST(small_hand_made)
{
	const double x[] = {3, 1, 2, 10, -4.5, 7.25, 0, 2};
	check_against_numpy(x, sizeof x / sizeof x[0]);
}
END_TEST

START_TEST(normal_with_nan)
{
	size_t n = 20000;
	double *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = i % 17 == 3 ? NAN : 1e3 + 25 * nrand();
	check_against_numpy(x, n);
	free(x);
}
END_TEST

START_TEST(skewed_wide_range)
{
	size_t n = 5001;
	double *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = exp(8 * urand()) - 100;
	check_against_numpy(x, n);
	free(x);
}
END_TEST

START_TEST(constant_column)
{
	double x[1000];
	for (size_t i = 0; i < 1000; i++)
		x[i] = 0.1;
	check_against_numpy(x, 1000);
	struct stats_moments m;
	stats_moments_init(&m);
	for (size_t i = 0; i < 1000; i++)
		stats_moments_add(&m, x[i]);
	ck_assert(stats_moments_std(&m) == 0);
	ck_assert(stats_moments_mean(&m) == 0.1);
}
END_TEST

START_TEST(one_value)
{
	const double x[] = {NAN, 42.5, NAN};
	check_against_numpy(x, 3);
	struct stats_moments m;
	stats_moments_init(&m);
	for (size_t i = 0; i < 3; i++)
		stats_moments_add(&m, x[i]);
	ck_assert(isnan(stats_moments_std(&m))); /* ddof=1 on one value, as pandas */
}
END_TEST

START_TEST(no_values)
{
	const double x[] = {NAN, NAN};
	check_against_numpy(x, 2);
	check_against_numpy(x, 0);
}
END_TEST

START_TEST(integers_with_ties)
{
	size_t n = 3000;
	double *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = floor(urand() * urand() * 12) - 3;
	check_against_numpy(x, n);
	free(x);
}
END_TEST

/* ---- merge, histogram edge rules ------------------------------------------------------ */

START_TEST(moments_merge)
{
	struct stats_moments all, a, b;
	stats_moments_init(&all);
	stats_moments_init(&a);
	stats_moments_init(&b);
	for (int i = 0; i < 1000; i++) {
		double v = 5 + nrand();
		stats_moments_add(&all, v);
		stats_moments_add(i < 300 ? &a : &b, v);
	}
	stats_moments_add(&b, NAN);
	stats_moments_merge(&a, &b);
	ck_assert_uint_eq(a.count, 1000);
	ck_assert_uint_eq(a.missing, 1);
	ck_assert(close_rel(a.mean, all.mean, 1e-13));
	ck_assert(close_rel(stats_moments_std(&a), stats_moments_std(&all), 1e-12));
	ck_assert(a.min == all.min && a.max == all.max);
}
END_TEST

START_TEST(histogram_fixed_edges)
{
	/* numpy.histogram([...], bins=[0,1,2,3]): last bin closed, outside values dropped */
	const double edges[] = {0, 1, 2, 3};
	const double x[] = {-1, 0, 0.5, 1, 1.999, 2, 3, 3.0001, NAN};
	struct stats_histogram h;
	ck_assert(stats_histogram_init(&h, edges, 3));
	for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
		stats_histogram_add(&h, x[i]);
	char *path = write_values(x, sizeof x / sizeof x[0]);
	double ref[3];
	ck_assert_uint_eq(python(path, "out(*np.histogram(x[~np.isnan(x)], bins=[0, 1, 2, 3])[0])", ref, 3), 3);
	for (int j = 0; j < 3; j++)
		ck_assert_uint_eq(h.counts[j], (uint64_t)ref[j]);
	ck_assert_uint_eq(h.below, 1);
	ck_assert_uint_eq(h.above, 1);
	ck_assert_uint_eq(h.missing, 1);
	stats_histogram_add_n(&h, 2.5, 10);
	ck_assert_uint_eq(h.counts[2], (uint64_t)ref[2] + 10);
	stats_histogram_free(&h);
	const double bad[] = {0, 1, 1};
	ck_assert(!stats_histogram_init(&h, bad, 2));
	ck_assert(!stats_histogram_init(&h, edges, 0));
	unlink(path);
	free(path);
}
END_TEST

/* ---- past the bounds ---------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Normalised rank interval of v in sorted s: [first index of v, past last index of v) / n. */
static void rank_of(const double *s, size_t n, double v, double *lo, double *hi)
{
	size_t a = 0, b = n;
	while (a < b) {
		size_t mid = (a + b) / 2;
		if (s[mid] < v)
			a = mid + 1;
		else
			b = mid;
	}
	size_t c = a, d = n;
	while (c < d) {
		size_t mid = (c + d) / 2;
		if (s[mid] <= v)
			c = mid + 1;
		else
			d = mid;
	}
	*lo = (double)a / (double)n;
	*hi = (double)c / (double)n;
}

static void check_sketch(double *x, size_t n, size_t bound)
{
	struct stats_quantiles *q = stats_quantiles_new(bound);
	for (size_t i = 0; i < n; i++) {
		stats_quantiles_add(q, x[i]);
		ck_assert(stats_quantiles_exact(q) == (i < bound));
	}
	size_t ns;
	ck_assert_ptr_null(stats_quantiles_sorted(q, &ns));
	ck_assert_uint_eq(stats_quantiles_count(q), n);
	const double ps[] = {0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999};
	double got[11], ends[2];
	stats_quantiles_get(q, ps, 11, got);
	stats_quantiles_get(q, (const double[]){0, 1}, 2, ends);
	qsort(x, n, sizeof *x, cmp_double);
	ck_assert(ends[0] == x[0] && ends[1] == x[n - 1]);
	/* the sketch's histogram: each bin within the rank error of the exact count */
	double edges[11];
	stats_edges_linspace(x[0], x[n - 1], 10, edges);
	struct stats_histogram h, hx;
	ck_assert(stats_histogram_init(&h, edges, 10));
	ck_assert(stats_histogram_init(&hx, edges, 10));
	stats_quantiles_fill_histogram(q, &h);
	uint64_t sum = 0;
	for (size_t i = 0; i < n; i++)
		stats_histogram_add(&hx, x[i]);
	for (int j = 0; j < 10; j++) {
		sum += h.counts[j];
		ck_assert_msg(fabs((double)h.counts[j] - (double)hx.counts[j]) <= 2 * STATS_KLL_RANK_ERROR * (double)n,
			      "bin %d: %llu vs exact %llu", j, (unsigned long long)h.counts[j],
			      (unsigned long long)hx.counts[j]);
	}
	ck_assert_uint_eq(sum, n);
	stats_histogram_free(&h);
	stats_histogram_free(&hx);
	for (int j = 0; j < 11; j++) {
		double lo, hi;
		rank_of(x, n, got[j], &lo, &hi);
		double err = ps[j] < lo ? lo - ps[j] : ps[j] > hi ? ps[j] - hi : 0;
		ck_assert_msg(err <= STATS_KLL_RANK_ERROR, "q%g = %g has rank [%g, %g]: error %g > %g", ps[j], got[j],
			      lo, hi, err, STATS_KLL_RANK_ERROR);
	}
	stats_quantiles_free(q);
}

START_TEST(quantiles_past_bound)
{
	size_t n = 500000;
	double *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = nrand() * 3 + (i % 3 == 0 ? 10 : 0); /* bimodal */
	check_sketch(x, n, 20000);
	/* sorted input is the adversarial order for compaction */
	for (size_t i = 0; i < n; i++)
		x[i] = (double)i;
	check_sketch(x, n, 20000);
	/* heavy ties */
	for (size_t i = 0; i < n; i++)
		x[i] = floor(urand() * 7);
	check_sketch(x, n, 1000);
	free(x);
}
END_TEST

START_TEST(quantiles_past_bound_vs_numpy)
{
	/* numpy's exact answer on a stream of 300k lognormal values, sketch past 20k */
	size_t n = 300000;
	double *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = exp(nrand());
	char *path = write_values(x, n);
	double ref[NPS];
	ck_assert_uint_eq(
		python(path, "out(*np.quantile(x, [0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1]))", ref, NPS), NPS);
	struct stats_quantiles *q = stats_quantiles_new(20000);
	for (size_t i = 0; i < n; i++)
		stats_quantiles_add(q, x[i]);
	ck_assert(!stats_quantiles_exact(q));
	double got[NPS];
	stats_quantiles_get(q, PS, NPS, got);
	qsort(x, n, sizeof *x, cmp_double);
	for (size_t j = 0; j < NPS; j++) {
		double lo, hi, rlo, rhi;
		rank_of(x, n, got[j], &lo, &hi);
		rank_of(x, n, ref[j], &rlo, &rhi);
		ck_assert_msg(fabs(lo - rlo) <= STATS_KLL_RANK_ERROR + 1.0 / (double)n,
			      "q%g: sketch %g (rank %g) vs numpy %g (rank %g)", PS[j], got[j], lo, ref[j], rlo);
	}
	stats_quantiles_free(q);
	unlink(path);
	free(path);
	free(x);
}
END_TEST

START_TEST(distinct_past_bound)
{
	struct stats_distinct *d = stats_distinct_new(10000);
	bool exact;
	for (uint64_t i = 0; i < 10000; i++)
		stats_distinct_add_hash(d, stats_hash_double((double)i));
	for (uint64_t i = 0; i < 10000; i++) /* repeats change nothing */
		stats_distinct_add_hash(d, stats_hash_double((double)i));
	ck_assert_uint_eq(stats_distinct_count(d, &exact), 10000);
	ck_assert(exact);
	stats_distinct_add_hash(d, stats_hash_double(-0.0));
	stats_distinct_add_hash(d, stats_hash_double(0.0));
	ck_assert_uint_eq(stats_distinct_count(d, &exact), 10000);
	for (uint64_t i = 10000; i < 500000; i++) {
		char s[32];
		int len = snprintf(s, sizeof s, "v%llu", (unsigned long long)i);
		stats_distinct_add_hash(d, stats_hash64(s, (size_t)len));
	}
	uint64_t est = stats_distinct_count(d, &exact);
	ck_assert(!exact);
	/* standard error 0.81%: 4 sigma */
	ck_assert_msg(fabs((double)est - 500000) <= 0.033 * 500000, "estimate %llu for 500000",
		      (unsigned long long)est);
	stats_distinct_free(d);

	/* small cardinalities past a tiny bound: linear counting */
	d = stats_distinct_new(10);
	for (int i = 0; i < 2000; i++)
		stats_distinct_add_hash(d, stats_hash_double(i % 1000));
	est = stats_distinct_count(d, &exact);
	ck_assert(!exact);
	ck_assert_msg(est >= 970 && est <= 1030, "estimate %llu for 1000", (unsigned long long)est);
	stats_distinct_free(d);
}
END_TEST

/* ---- value counts --------------------------------------------------------------- */

START_TEST(counts_vs_python)
{
	size_t n = 5000;
	double *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = floor(urand() * urand() * 40);
	char *path = write_values(x, n);
	/* Counter's order made total: count descending, then the value's text ascending */
	double ref[64];
	size_t got = python(path,
			    "import collections\n"
			    "c = collections.Counter('%d' % v for v in x)\n"
			    "top = sorted(c.items(), key=lambda kv: (-kv[1], kv[0].encode()))[:10]\n"
			    "out(len(c), n := len(x), n - sum(k for _, k in top))\n"
			    "out(*[float(v) for v, _ in top]); out(*[k for _, k in top])\n",
			    ref, 64);
	ck_assert_uint_eq(got, 23);
	struct stats_counts *c = stats_counts_new(0);
	for (size_t i = 0; i < n; i++) {
		char s[32];
		int len = snprintf(s, sizeof s, "%d", (int)x[i]);
		stats_counts_add(c, s, (size_t)len);
	}
	ck_assert(stats_counts_exact(c));
	ck_assert_uint_eq(stats_counts_error(c), 0);
	ck_assert_uint_eq(stats_counts_distinct(c), (size_t)ref[0]);
	ck_assert_uint_eq(stats_counts_total(c), n);
	size_t m;
	uint64_t other;
	struct stats_value_count *top = stats_counts_top(c, 10, &m, &other);
	ck_assert_uint_eq(m, 10);
	ck_assert_uint_eq(other, (uint64_t)ref[2]);
	for (size_t j = 0; j < 10; j++) {
		ck_assert_msg(atof(top[j].value) == ref[3 + j], "top %zu: %s vs python %g", j, top[j].value,
			      ref[3 + j]);
		ck_assert_uint_eq(top[j].count, (uint64_t)ref[13 + j]);
		ck_assert_uint_eq(top[j].len, strlen(top[j].value));
	}
	free(top);
	/* asking for more than there are gives them all, other 0 */
	top = stats_counts_top(c, 1000, &m, &other);
	ck_assert_uint_eq(m, (size_t)ref[0]);
	ck_assert_uint_eq(other, 0);
	free(top);
	stats_counts_free(c);
	unlink(path);
	free(path);
	free(x);
}
END_TEST

START_TEST(counts_past_bound)
{
	/* heavy hitters "h0".."h4" among 200,000 draws of mostly unique noise */
	struct stats_counts *c = stats_counts_new(100);
	uint64_t truth[5] = {0};
	for (uint64_t i = 0; i < 200000; i++) {
		char s[32];
		int len;
		if (i % 10 < 5) {
			int h = (int)(i % 10);
			if (h > 0 && i % 20 >= 10)
				h = 0; /* h0 the most frequent */
			truth[h]++;
			len = snprintf(s, sizeof s, "h%d", h);
		} else {
			len = snprintf(s, sizeof s, "n%llu", (unsigned long long)i);
		}
		stats_counts_add(c, s, (size_t)len);
	}
	ck_assert(!stats_counts_exact(c));
	ck_assert_uint_le(stats_counts_distinct(c), 200);
	uint64_t err = stats_counts_error(c);
	size_t m;
	uint64_t other;
	struct stats_value_count *top = stats_counts_top(c, 5, &m, &other);
	ck_assert_uint_eq(m, 5);
	for (size_t j = 0; j < 5; j++) {
		int h = top[j].value[0] == 'h' ? top[j].value[1] - '0' : -1;
		ck_assert_msg(h >= 0, "top %zu is %s", j, top[j].value);
		ck_assert_uint_le(top[j].count, truth[h]);
		ck_assert_uint_ge(top[j].count + err, truth[h]);
	}
	ck_assert_str_eq(top[0].value, "h0");
	ck_assert_uint_eq(other, 200000 - top[0].count - top[1].count - top[2].count - top[3].count - top[4].count);
	free(top);
	stats_counts_free(c);
}
END_TEST

START_TEST(counts_ties_and_bytes)
{
	struct stats_counts *c = stats_counts_new(0);
	stats_counts_add(c, "b", 1);
	stats_counts_add(c, "a", 1);
	stats_counts_add(c, "ab", 2);
	stats_counts_add(c, "", 0);
	stats_counts_add(c, "a\0z", 3);
	stats_counts_add(c, "b", 1);
	size_t m;
	uint64_t other;
	struct stats_value_count *top = stats_counts_top(c, 4, &m, &other);
	ck_assert_uint_eq(m, 4);
	ck_assert_str_eq(top[0].value, "b");
	ck_assert_str_eq(top[1].value, "");
	ck_assert_str_eq(top[2].value, "a");
	ck_assert_uint_eq(top[3].len, 3); /* "a\0z" sorts after "a", before "ab" */
	ck_assert_uint_eq(other, 1);
	free(top);
	stats_counts_free(c);
	ck_assert_uint_eq(stats_hash64("x", 1), stats_hash64("x", 1));
	ck_assert_uint_ne(stats_hash64("x", 1), stats_hash64("y", 1));
	ck_assert_uint_eq(stats_hash_double(0.0), stats_hash_double(-0.0));
}
END_TEST

/* stats_sort_sample: qsort's order, -0.0 as +0.0, and a sorted sample left as it is;
 * NaN refused with the sample unchanged. */
START_TEST(sort_sample_as_qsort)
{
	enum { N = 100000 };
	double *x = malloc(N * sizeof *x), *want = malloc(N * sizeof *want);
	uint64_t r = 12345;
	for (size_t i = 0; i < N; i++) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		x[i] = (i % 7 == 0) ? (double)((r >> 60) % 5) - 2.0
				    : ((double)(r >> 11) / 9007199254740992.0 - 0.5) * 1e6;
	}
	x[3] = -0.0;
	x[5] = INFINITY;
	x[8] = -INFINITY;
	memcpy(want, x, N * sizeof *x);
	qsort(want, N, sizeof *want, cmp_double);
	ck_assert_int_eq(stats_sort_sample(x, N), CORE_OK);
	for (size_t i = 0; i < N; i++) {
		ck_assert_msg(x[i] == want[i], "at %zu: %g, qsort %g", i, x[i], want[i]);
		ck_assert(!(x[i] == 0 && signbit(x[i]))); /* -0.0 came back +0.0 */
	}
	/* sorted again: the same bits */
	memcpy(want, x, N * sizeof *x);
	ck_assert_int_eq(stats_sort_sample(x, N), CORE_OK);
	ck_assert_int_eq(memcmp(x, want, N * sizeof *x), 0);
	/* a sorted sample holding -0.0 still has it made +0.0 */
	double z[3] = {-1.0, -0.0, 2.0};
	ck_assert_int_eq(stats_sort_sample(z, 3), CORE_OK);
	ck_assert(z[0] == -1.0 && z[1] == 0 && !signbit(z[1]) && z[2] == 2.0);
	double n[3] = {3.0, NAN, 1.0};
	ck_assert_int_eq(stats_sort_sample(n, 3), CORE_EINVAL);
	ck_assert(n[0] == 3.0 && isnan(n[1]) && n[2] == 1.0);
	ck_assert_int_eq(stats_sort_sample(NULL, 0), CORE_OK);
	free(x);
	free(want);
}
END_TEST

static Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("numpy");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, small_hand_made);
	tcase_add_test(tc, normal_with_nan);
	tcase_add_test(tc, skewed_wide_range);
	tcase_add_test(tc, constant_column);
	tcase_add_test(tc, one_value);
	tcase_add_test(tc, no_values);
	tcase_add_test(tc, integers_with_ties);
	suite_add_tcase(s, tc);
	tc = tcase_create("rules");
	tcase_add_test(tc, moments_merge);
	tcase_add_test(tc, histogram_fixed_edges);
	tcase_add_test(tc, counts_ties_and_bytes);
	tcase_add_test(tc, sort_sample_as_qsort);
	suite_add_tcase(s, tc);
	tc = tcase_create("bounds");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, quantiles_past_bound);
	tcase_add_test(tc, quantiles_past_bound_vs_numpy);
	tcase_add_test(tc, distinct_past_bound);
	tcase_add_test(tc, counts_vs_python);
	tcase_add_test(tc, counts_past_bound);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(stats_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

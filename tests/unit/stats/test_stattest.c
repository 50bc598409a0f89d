/* Unit tests for stats/stattest.h: every statistic and p-value against scipy 1.10 run at
 * test time by Debian's /usr/bin/python3 on the same numbers (written with %.17g, so
 * both sides read the same doubles), to 1e-9 (absolute for p-values, relative for
 * statistics). Evidently's stattests are compared with its own code, transcribed into
 * the python side. The 200,000 vs 300,000 KS case (kstwo's Pelz–Good and Smirnov
 * paths at n = 120,000) is skipped under valgrind (VALGRIND=1), which would take minutes
 * over it; the other cases stay small enough for it. */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness_util.h"
#include "stats/stattest.h"

#define TOL 1e-9

/* ---- helpers ---------------------------------------------------------------------- */

/* A fixed seed: every run draws the same samples. */
static unsigned short seed[3] = {0x1234, 0xabcd, 0x330e};

static double urand(void)
{
	return erand48(seed);
}

/* Box–Muller, one of the pair. */
static double nrand(void)
{
	double r = sqrt(-2 * log(1 - urand()));
	return r * cos(2 * M_PI * urand());
}

static double *normals(size_t n, double mean, double sd)
{
	double *x = malloc((n ? n : 1) * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = mean + sd * nrand();
	return x;
}

/* The lines a test hands to python: each one a list of numbers. */
struct lines {
	FILE *f;
	char *path;
};

static void lines_open(struct lines *l)
{
	const char *dir = getenv("LATHE_TEST_TMP");
	ck_assert(asprintf(&l->path, "%s/stattest-%d.txt", dir ? dir : "/tmp", (int)getpid()) > 0);
	l->f = fopen(l->path, "w");
	ck_assert_ptr_nonnull(l->f);
}

static void lines_add(struct lines *l, const double *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(l->f, i ? " %.17g" : "%.17g", x[i]);
	fputc('\n', l->f);
}

/* Runs body with L, the list of the file's lines as float arrays, and out(*values)
 * defined; reads what it prints into ref (at most max numbers) and returns their number. */
static size_t python(struct lines *l, const char *body, double *ref, size_t max)
{
	ck_assert_int_eq(fclose(l->f), 0);
	size_t n = th_python_numbers(
		l->path, "L = [np.array(s.split(), dtype=float) for s in open(sys.argv[1]).read().split('\\n')[:-1]]",
		body, ref, max);
	unlink(l->path);
	free(l->path);
	return n;
}

/* |a − b| <= tol · max(1, |a|, |b|): absolute near 0..1, relative for large values; inf
 * and NaN must match exactly. */
static bool agree(double a, double b, double tol)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	if (isinf(a) || isinf(b))
		return a == b;
	return fabs(a - b) <= tol * fmax(1, fmax(fabs(a), fabs(b)));
}

#define CHECK(what, ours, theirs, tol)                                                                                 \
	ck_assert_msg(agree((ours), (theirs), (tol)), "%s: %.17g vs scipy %.17g (diff %.3g)", (what), (ours),          \
		      (theirs), fabs((ours) - (theirs)))

/* ---- Kolmogorov–Smirnov ------------------------------------------------------------- */

#define KS_MAX 80

struct ks_case {
	const char *name;
	double *x, *y;
	size_t nx, ny;
};

/* Runs every case through stats_ks_2samp, the sorted entry and scipy.stats.ks_2samp
 * (on the NaN-free values, as the header says it drops NaN). */
static void check_ks(struct ks_case *c, size_t n)
{
	struct lines l;
	double ref[2 * KS_MAX];
	lines_open(&l);
	for (size_t i = 0; i < n; i++) {
		lines_add(&l, c[i].x, c[i].nx);
		lines_add(&l, c[i].y, c[i].ny);
	}
	ck_assert_uint_eq(python(&l,
				 "for i in range(0, len(L), 2):\n"
				 "    x, y = L[i][~np.isnan(L[i])], L[i + 1][~np.isnan(L[i + 1])]\n"
				 "    r = scipy.stats.ks_2samp(x, y)\n"
				 "    out(r.statistic, r.pvalue)\n",
				 ref, 2 * KS_MAX),
			  2 * n);
	for (size_t i = 0; i < n; i++) {
		struct stats_test t = {NAN, NAN};
		ck_assert_int_eq(stats_ks_2samp(c[i].x, c[i].nx, c[i].y, c[i].ny, &t), CORE_OK);
		char what[128];
		snprintf(what, sizeof what, "%s (%zu vs %zu) D", c[i].name, c[i].nx, c[i].ny);
		CHECK(what, t.statistic, ref[2 * i], 1e-12);
		snprintf(what, sizeof what, "%s (%zu vs %zu) p", c[i].name, c[i].nx, c[i].ny);
		CHECK(what, t.pvalue, ref[2 * i + 1], TOL);
	}
}

static void free_cases(struct ks_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].x);
		free(c[i].y);
	}
}

/* Small samples, exact p-values: equal sizes (closed form) and unequal (lattice). */
static size_t ks_small_and_exact(struct ks_case *c)
{
	size_t n = 0;
	static const size_t sizes[][2] = {{1, 1},     {1, 2},      {2, 1},      {3, 5},   {5, 3},
					  {7, 7},     {10, 40},    {25, 25},    {60, 90}, {100, 110},
					  {500, 500}, {333, 1000}, {2000, 3001}};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		/* no shift, a small one, a large one: p from ~1 down to ~0 */
		for (int s = 0; s < 3; s++) {
			c[n] = (struct ks_case){"normal", normals(sizes[i][0], 0, 1), normals(sizes[i][1], s * 0.3, 1),
						sizes[i][0], sizes[i][1]};
			n++;
		}
	}
	return n;
}

static size_t ks_ties_identical_disjoint(struct ks_case *c)
{
	size_t n = 0;
	/* integers: heavy ties within and across the samples */
	static const size_t sizes[][2] = {{8, 12}, {300, 400}, {1000, 1000}, {20000, 15000}};
	for (size_t i = 0; i < 4; i++) {
		double *x = malloc(sizes[i][0] * sizeof *x), *y = malloc(sizes[i][1] * sizeof *y);
		for (size_t j = 0; j < sizes[i][0]; j++)
			x[j] = floor(urand() * 6);
		for (size_t j = 0; j < sizes[i][1]; j++)
			y[j] = floor(urand() * 6.3);
		c[n++] = (struct ks_case){"integers", x, y, sizes[i][0], sizes[i][1]};
	}
	/* identical samples: D = 0, p = 1 */
	double *a = normals(50, 0, 1), *b = malloc(50 * sizeof *b);
	memcpy(b, a, 50 * sizeof *b);
	c[n++] = (struct ks_case){"identical", a, b, 50, 50};
	a = normals(12000, 0, 1);
	b = malloc(12000 * sizeof *b);
	memcpy(b, a, 12000 * sizeof *b);
	c[n++] = (struct ks_case){"identical large", a, b, 12000, 12000};
	/* disjoint: D = 1 */
	c[n++] = (struct ks_case){"disjoint", normals(20, 0, 1), normals(30, 100, 1), 20, 30};
	c[n++] = (struct ks_case){"disjoint large", normals(20000, 100, 1), normals(30, 0, 1), 20000, 30};
	/* NaN among the values: dropped */
	a = normals(300, 0, 1);
	b = normals(200, 0.2, 1);
	for (size_t i = 0; i < 300; i += 7)
		a[i] = NAN;
	b[5] = NAN;
	c[n++] = (struct ks_case){"with NaN", a, b, 300, 200};
	/* -0.0 and 0.0 are one value, as numpy compares them */
	a = malloc(4 * sizeof *a);
	b = malloc(3 * sizeof *b);
	memcpy(a, (double[]){-0.0, 0.0, 1, 2}, 4 * sizeof *a);
	memcpy(b, (double[]){0.0, -0.0, 3}, 3 * sizeof *b);
	c[n++] = (struct ks_case){"signed zeros", a, b, 4, 3};
	return n;
}

static size_t ks_boundary_and_asymptotic(struct ks_case *c)
{
	size_t n = 0;
	/* around scipy's exact limit (10000), then kstwo at small and medium n: n <= 140
	 * takes Durbin / Pomeranz / Smirnov, n in the thousands Durbin / Pelz–Good / Smirnov */
	static const size_t sizes[][2] = {{10000, 9999}, {10000, 10000}, {10001, 5000}, {10001, 10001},
					  {50, 20000},   {130, 15000},   {12000, 30000}};
	static const double shifts[] = {0, 0.15, 0.6};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		for (size_t s = 0; s < 3; s++) {
			c[n] = (struct ks_case){"normal", normals(sizes[i][0], 0, 1),
						normals(sizes[i][1], shifts[s] * (sizes[i][0] < 200 ? 3 : 1) / 6, 1),
						sizes[i][0], sizes[i][1]};
			n++;
		}
	return n;
}

/* One python run for all of them: scipy's import is most of a run's time. */
START_TEST(ks_against_scipy)
{
	struct ks_case c[KS_MAX];
	size_t n = ks_small_and_exact(c);
	n += ks_ties_identical_disjoint(c + n);
	n += ks_boundary_and_asymptotic(c + n);
	ck_assert_uint_le(n, KS_MAX);
	check_ks(c, n);
	free_cases(c, n);
	/* the D and p scipy reports for identical samples, by hand */
	struct stats_test t;
	const double v[] = {3, 1, 2};
	ck_assert_int_eq(stats_ks_2samp(v, 3, v, 3, &t), CORE_OK);
	ck_assert(t.statistic == 0 && t.pvalue == 1);
}
END_TEST

START_TEST(ks_large)
{
	const char *vg = getenv("VALGRIND");
	if (vg && strcmp(vg, "1") == 0) {
		printf("note: ks_large (200,000 vs 300,000) skipped under valgrind\n");
		return;
	}
	struct ks_case c[3];
	c[0] = (struct ks_case){"large same", normals(200000, 0, 1), normals(300000, 0, 1), 200000, 300000};
	c[1] = (struct ks_case){"large small shift", normals(200000, 0, 1), normals(300000, 0.01, 1), 200000, 300000};
	c[2] = (struct ks_case){"large shift", normals(200000, 0, 1), normals(300000, 0.02, 1.01), 200000, 300000};
	check_ks(c, 3);
	free_cases(c, 3);
}
END_TEST

START_TEST(ks_sorted_entry_and_errors)
{
	const double x[] = {1, 2, 2, 3}, y[] = {0.5, 2, 4}, bad[] = {1, 3, 2}, nan[] = {1, NAN};
	struct stats_test a, b = {7, 7};
	ck_assert_int_eq(stats_ks_2samp_sorted(x, 4, y, 3, &a), CORE_OK);
	ck_assert_int_eq(stats_ks_2samp(y, 3, x, 4, &b), CORE_OK);
	ck_assert(a.statistic == b.statistic && a.pvalue == b.pvalue);
	b = (struct stats_test){7, 7};
	ck_assert_int_eq(stats_ks_2samp_sorted(bad, 3, y, 3, &b), CORE_EINVAL);
	ck_assert_int_eq(stats_ks_2samp_sorted(x, 4, nan, 2, &b), CORE_EINVAL);
	ck_assert_int_eq(stats_ks_2samp_sorted(x, 0, y, 3, &b), CORE_EINVAL);
	ck_assert_int_eq(stats_ks_2samp(x, 4, nan + 1, 1, &b), CORE_EINVAL); /* only NaN */
	ck_assert_int_eq(stats_ks_2samp(x, 4, y, 0, &b), CORE_EINVAL);
	ck_assert(b.statistic == 7 && b.pvalue == 7); /* untouched */
}
END_TEST

/* ---- distributions --------------------------------------------------------------------- */

#define KSTWO_MAX (14 * 26)
#define GAMMA_N   110
#define NORM_N    41

/* kstwo.sf in every region Simard & L'Ecuyer's choice leads to, the incomplete gamma
 * functions over small to huge a, around x = a, and the normal CDF into both tails: one
 * python run. */
START_TEST(distributions_against_scipy)
{
	static const double ns[] = {1, 2, 3, 5, 10, 50, 140, 141, 1000, 20000, 100000, 100001, 500000, 1000001};
	static const double ndd[] = {0.05, 0.3, 0.7, 0.76, 1, 1.5, 2, 2.19, 2.21, 3, 4, 4.1, 6, 20, 100, 369, 371};
	static const double nd[] = {0.3, 0.5, 0.8, 1, 1.5};
	static const double ds[] = {0.5, 0.6, 0.95};
	double kargs[2 * KSTWO_MAX];
	size_t m = 0;
	for (size_t i = 0; i < 14; i++) {
		for (size_t j = 0; j < sizeof ndd / sizeof ndd[0]; j++) {
			/* scipy's Smirnov sum takes ~0.7 s at n = 500,000: one point of that
			 * region per large n */
			if (ns[i] >= 100000 && ndd[j] >= 2.2 && ndd[j] < 370 && ndd[j] != 3)
				continue;
			kargs[m++] = sqrt(ndd[j] / ns[i]);
			kargs[m++] = ns[i];
		}
		for (size_t j = 0; j < sizeof nd / sizeof nd[0]; j++) {
			kargs[m++] = nd[j] / ns[i];
			kargs[m++] = ns[i];
		}
		for (size_t j = 0; j < 3; j++) {
			kargs[m++] = ds[j];
			kargs[m++] = ns[i];
		}
		kargs[m++] = (ns[i] - 0.5) / ns[i]; /* n d >= n − 1 */
		kargs[m++] = ns[i];
	}
	ck_assert_uint_le(m, 2 * KSTWO_MAX);
	size_t nk = m / 2;
	static const double as[] = {0.5, 1, 1.5, 2.5, 9.5, 10, 10.5, 50.5, 1000, 123456.5};
	static const double xs[] = {1e-3, 0.1, 0.5, 0.9, 0.99, 1, 1.01, 1.1, 2, 5, 30};
	double gargs[2 * GAMMA_N], zs[NORM_N];
	size_t g = 0;
	for (size_t i = 0; i < 10; i++)
		for (size_t j = 0; j < 11; j++) {
			gargs[g++] = as[i];
			gargs[g++] = as[i] * xs[j];
		}
	for (int i = 0; i < NORM_N; i++)
		zs[i] = -38 + 1.9 * i;

	struct lines l;
	static double ref[KSTWO_MAX + 2 * GAMMA_N + 2 * NORM_N];
	size_t nref = nk + 2 * GAMMA_N + 2 * NORM_N;
	lines_open(&l);
	lines_add(&l, kargs, m);
	lines_add(&l, gargs, g);
	lines_add(&l, zs, NORM_N);
	ck_assert_uint_eq(python(&l,
				 "k, a, z = L\n"
				 "out(*[scipy.stats.kstwo.sf(k[i], int(k[i + 1])) for i in range(0, len(k), 2)])\n"
				 "out(*[scipy.special.gammaincc(a[i], a[i + 1]) for i in range(0, len(a), 2)])\n"
				 "out(*[scipy.special.gammainc(a[i], a[i + 1]) for i in range(0, len(a), 2)])\n"
				 "out(*scipy.stats.norm.cdf(z)); out(*scipy.stats.norm.sf(z))\n",
				 ref, nref),
			  nref);

	const double *r = ref;
	for (size_t i = 0; i < nk; i++, r++) {
		double d = kargs[2 * i], p = stats_kstwo_sf(d, (uint64_t)kargs[2 * i + 1]);
		char what[96];
		snprintf(what, sizeof what, "kstwo.sf(%.6g, %.0f) [n d^2 = %.4g]", d, kargs[2 * i + 1],
			 d * d * kargs[2 * i + 1]);
		CHECK(what, p, *r, TOL);
		/* and relative to the value wherever it is not negligible */
		if (*r > 1e-280)
			ck_assert_msg(fabs(p - *r) <= 1e-7 * *r, "%s: %.17g vs %.17g relatively", what, p, *r);
	}
	for (size_t i = 0; i < GAMMA_N; i++, r++) {
		double a = gargs[2 * i], x = gargs[2 * i + 1], q = stats_gamma_q(a, x), p = stats_gamma_p(a, x);
		/* relative 1e-12 (the functions aim at 1e-14; scipy's own are ~1e-15) */
		ck_assert_msg(fabs(q - r[0]) <= 1e-12 * r[0] || (r[0] < 1e-300 && q < 1e-300),
			      "Q(%g, %g) = %.17g vs scipy %.17g", a, x, q, r[0]);
		ck_assert_msg(fabs(p - r[GAMMA_N]) <= 1e-12 * r[GAMMA_N] || (r[GAMMA_N] < 1e-300 && p < 1e-300),
			      "P(%g, %g) = %.17g vs scipy %.17g", a, x, p, r[GAMMA_N]);
		CHECK("chi2.sf", stats_chi2_sf(2 * x, 2 * a), r[0], TOL);
	}
	r += GAMMA_N;
	for (int i = 0; i < NORM_N; i++, r++) {
		double c = stats_norm_cdf(zs[i]), s = stats_norm_sf(zs[i]);
		/* scipy's ndtr stops at the normal range: a subnormal of ours is its 0 */
		ck_assert_msg(fabs(c - r[0]) <= 1e-13 * r[0] || (c < 1e-300 && r[0] < 1e-300),
			      "norm.cdf(%g) %.17g vs %.17g", zs[i], c, r[0]);
		ck_assert_msg(fabs(s - r[NORM_N]) <= 1e-13 * r[NORM_N] || (s < 1e-300 && r[NORM_N] < 1e-300),
			      "norm.sf(%g) %.17g vs %.17g", zs[i], s, r[NORM_N]);
	}
	ck_assert(isnan(stats_kstwo_sf(0.5, 0)));
	ck_assert(stats_kstwo_sf(1, 10) == 0 && stats_kstwo_sf(0, 10) == 1);
	ck_assert(isnan(stats_gamma_q(0, 1)) && isnan(stats_gamma_q(1, -1)) && isnan(stats_chi2_sf(1, 0)));
	ck_assert(stats_gamma_q(3, 0) == 1 && stats_gamma_q(3, INFINITY) == 0 && stats_chi2_sf(-1, 3) == 1);
	ck_assert(isnan(stats_norm_cdf(NAN)));
}
END_TEST

/* ---- chi-squared ------------------------------------------------------------------------- */

/* The chi-squared data sets; one python run checks them all. */
struct chi_data {
	double obs[3][20], exp[3][20]; /* goodness of fit */
	size_t ks[3];
	uint64_t ref[8][20], cur[8][20]; /* Evidently's chisquare and z */
	size_t k[8];
};

#define GOF_CASES 3
#define EV_CASES  8
#define CT_CASES  6

/* 20 categories, counts from unequal shares, expected from the true shares; 2 and 7
 * categories with small counts. */
static void gof_write(struct chi_data *cd, struct lines *l)
{
	double(*obs)[20] = cd->obs, (*exp)[20] = cd->exp;
	size_t *ks = cd->ks;
	ks[0] = 20;
	ks[1] = 2;
	ks[2] = 7;
	for (size_t c = 0; c < 3; c++) {
		double total = 0, wsum = 0, w[20];
		for (size_t i = 0; i < ks[c]; i++) {
			w[i] = 1 + i % 5 + urand();
			wsum += w[i];
			obs[c][i] = floor(urand() * (c == 1 ? 3 : 400) * w[i]);
			total += obs[c][i];
		}
		for (size_t i = 0; i < ks[c]; i++)
			exp[c][i] = total * w[i] / wsum;
	}
	for (size_t c = 0; c < GOF_CASES; c++) {
		lines_add(l, obs[c], ks[c]);
		lines_add(l, exp[c], ks[c]);
	}
}

static const char *GOF_PY = "for _ in range(3):\n"
			    "    r = scipy.stats.chisquare(next(it), next(it)); out(r.statistic, r.pvalue)\n";

static void gof_check(struct chi_data *cd, const double *ref)
{
	for (size_t c = 0; c < GOF_CASES; c++) {
		struct stats_test t;
		ck_assert_int_eq(stats_chisquare(cd->obs[c], cd->exp[c], cd->ks[c], &t), CORE_OK);
		CHECK("chisquare statistic", t.statistic, ref[2 * c], TOL);
		CHECK("chisquare p", t.pvalue, ref[2 * c + 1], TOL);
	}
	/* what scipy rejects or answers with inf / NaN is an error here */
	struct stats_test t = {7, 7};
	const double o[] = {5, 0, 5}, e0[] = {5, 0, 5}, e1[] = {4, 1, 5}, e2[] = {5, 5, 5}, neg[] = {-1, 6, 5};
	ck_assert_int_eq(stats_chisquare(o, e0, 3, &t), CORE_EINVAL); /* zero expected */
	ck_assert_int_eq(stats_chisquare(o, e2, 3, &t), CORE_EINVAL); /* sums differ */
	ck_assert_int_eq(stats_chisquare(neg, e1, 3, &t), CORE_EINVAL);
	ck_assert_int_eq(stats_chisquare(o, e1, 1, &t), CORE_EINVAL);
	ck_assert(t.statistic == 7 && t.pvalue == 7);
	ck_assert_int_eq(stats_chisquare(o, e1, 3, &t), CORE_OK); /* an empty observed bin is fine */
	ck_assert(t.statistic == 1.25);
}

/* Evidently's _chi_stat_test and _z_stat_test on the columns the counts stand for. */
static const char *EVIDENTLY_PY =
	"def column(counts):\n"
	"    return np.repeat(np.arange(len(counts), dtype=float), counts.astype(int))\n"
	"def ev_chi(ref, cur):\n"
	"    keys = sorted(set(np.unique(ref)) | set(np.unique(cur)))\n"
	"    rv, rc = np.unique(ref, return_counts=True); cv, cc = np.unique(cur, return_counts=True)\n"
	"    rd = {**dict.fromkeys(keys, 0), **dict(zip(rv, rc))}; cd = {**dict.fromkeys(keys, 0), **dict(zip(cv, "
	"cc))}\n"
	"    k_norm = cur.shape[0] / ref.shape[0]\n"
	"    f_exp = [rd[k] * k_norm for k in keys]; f_obs = [cd[k] for k in keys]\n"
	"    return scipy.stats.chisquare(f_obs, f_exp)\n"
	"def ev_z(ref, cur):\n"
	"    if len(np.unique(ref)) == 1 and len(np.unique(cur)) == 1 and ref[0] == cur[0]:\n"
	"        return 0.0, 1.0\n"
	"    k0 = sorted(set(np.unique(ref)) | set(np.unique(cur)))[0]\n"
	"    a = (ref != k0).astype(float); b = (cur != k0).astype(float)\n"
	"    n1, n2 = len(a), len(b); p1 = float(sum(a)) / n1; p2 = float(sum(b)) / n2\n"
	"    P = float(p1 * n1 + p2 * n2) / (n1 + n2)\n"
	"    z = (p1 - p2) / np.sqrt(P * (1 - P) * (1.0 / n1 + 1.0 / n2))\n"
	"    return z, 2 * (1 - scipy.stats.norm.cdf(np.abs(z)))\n";

static void ev_write(struct chi_data *cd, struct lines *l)
{
	uint64_t(*ref)[20] = cd->ref, (*cur)[20] = cd->cur;
	size_t *k = cd->k;
	memset(cd->ref, 0, sizeof cd->ref);
	memset(cd->cur, 0, sizeof cd->cur);
	/* 0: 20 categories, similar; 1: shifted shares; 2: a category new in current (p 0);
	 * 3: one missing from current; 4: binary, similar; 5: binary, different; 6: one
	 * category in both (chisquare NaN, z p = 1); 7: a category absent from both */
	for (size_t c = 0; c < EV_CASES; c++) {
		k[c] = c == 4 || c == 5 ? 2 : c == 6 ? 1 : 20;
		for (size_t i = 0; i < k[c]; i++) {
			ref[c][i] = (uint64_t)(urand() * 60 * (1 + i % 4)) + 1;
			cur[c][i] = (uint64_t)(urand() * (c == 1 || c == 5 ? 30 + 40 * (i % 2) : 70) * (1 + i % 4)) + 1;
		}
	}
	ref[2][7] = 0;
	cur[3][3] = 0;
	ref[7][4] = cur[7][4] = 0;
	for (size_t c = 0; c < EV_CASES; c++) {
		double r[20], u[20];
		for (size_t i = 0; i < k[c]; i++) {
			r[i] = (double)ref[c][i];
			u[i] = (double)cur[c][i];
		}
		lines_add(l, r, k[c]);
		lines_add(l, u, k[c]);
	}
}

static const char *EV_PY = "for _ in range(8):\n"
			   "    r, c = column(next(it)), column(next(it))\n"
			   "    s = ev_chi(r, c); z = ev_z(r, c)\n"
			   "    out(s.statistic, s.pvalue, z[0], z[1])\n";

static void ev_check(struct chi_data *cd, const double *ref_out)
{
	for (size_t c = 0; c < EV_CASES; c++) {
		struct stats_test s, z;
		char what[64];
		ck_assert_int_eq(stats_chisquare_evidently(cd->ref[c], cd->cur[c], cd->k[c], &s), CORE_OK);
		ck_assert_int_eq(stats_ztest_evidently(cd->ref[c], cd->cur[c], cd->k[c], &z), CORE_OK);
		snprintf(what, sizeof what, "case %zu chisquare statistic", c);
		CHECK(what, s.statistic, ref_out[4 * c], TOL);
		snprintf(what, sizeof what, "case %zu chisquare p", c);
		CHECK(what, s.pvalue, ref_out[4 * c + 1], TOL);
		snprintf(what, sizeof what, "case %zu z", c);
		CHECK(what, z.statistic, ref_out[4 * c + 2], TOL);
		snprintf(what, sizeof what, "case %zu z p", c);
		CHECK(what, z.pvalue, ref_out[4 * c + 3], TOL);
	}
	struct stats_test t = {7, 7};
	const uint64_t zero[3] = {0}, some[3] = {1, 2, 3};
	ck_assert_int_eq(stats_chisquare_evidently(zero, some, 3, &t), CORE_EINVAL);
	ck_assert_int_eq(stats_chisquare_evidently(some, zero, 3, &t), CORE_EINVAL);
	ck_assert_int_eq(stats_ztest_evidently(some, zero, 3, &t), CORE_EINVAL);
	ck_assert_int_eq(stats_ztest_2prop(3, 2, 1, 5, &t), CORE_EINVAL);
	ck_assert_int_eq(stats_ztest_2prop(0, 0, 1, 5, &t), CORE_EINVAL);
	ck_assert(t.statistic == 7 && t.pvalue == 7);
	/* far in the tail Evidently's 2 (1 − Φ) is 0; ours keeps 2 Φ(−|z|) */
	ck_assert_int_eq(stats_ztest_2prop(10000, 100000, 12000, 100000, &t), CORE_OK);
	ck_assert(t.statistic < -14 && t.pvalue > 0 && t.pvalue < 1e-40);
}

/* 2x2 with Yates (|e − o| > 0.5), 2x2 where the correction is capped (|e − o| < 0.5),
 * 3x4, 1x5 and 5x1 (dof 0), 3x2 of non-integers. */
static const double T0[] = {12, 5, 7, 19}, T1[] = {10, 10, 10, 11},
		    T2[] = {20, 14, 30, 8, 11, 25, 40, 9, 4, 17, 22, 13}, T3[] = {3, 4, 5, 6, 7},
		    T4[] = {300.5, 120, 95.25, 60, 44.75, 71};
static const struct {
	const double *t;
	size_t r, c;
} TABLES[CT_CASES] = {{T0, 2, 2}, {T1, 2, 2}, {T2, 3, 4}, {T3, 1, 5}, {T3, 5, 1}, {T4, 3, 2}};

static void ct_write(struct lines *l)
{
	for (size_t i = 0; i < CT_CASES; i++) {
		double shape[2] = {(double)TABLES[i].r, (double)TABLES[i].c};
		lines_add(l, shape, 2);
		lines_add(l, TABLES[i].t, TABLES[i].r * TABLES[i].c);
	}
}

static const char *CT_PY = "for _ in range(6):\n"
			   "    s = next(it); t = next(it).reshape(int(s[0]), int(s[1]))\n"
			   "    r = scipy.stats.chi2_contingency(t); out(r[0], r[1], r[2])\n";

static void ct_check(const double *ref)
{
	for (size_t i = 0; i < CT_CASES; i++) {
		struct stats_test t;
		size_t dof = 99;
		ck_assert_int_eq(stats_chi2_contingency(TABLES[i].t, TABLES[i].r, TABLES[i].c, &t, &dof), CORE_OK);
		CHECK("contingency statistic", t.statistic, ref[3 * i], TOL);
		CHECK("contingency p", t.pvalue, ref[3 * i + 1], TOL);
		ck_assert_uint_eq(dof, (size_t)ref[3 * i + 2]);
	}
	struct stats_test t = {7, 7};
	static const double zero_row[] = {0, 0, 3, 4}, negative[] = {1, -2, 3, 4};
	ck_assert_int_eq(stats_chi2_contingency(zero_row, 2, 2, &t, NULL), CORE_EINVAL);
	ck_assert_int_eq(stats_chi2_contingency(negative, 2, 2, &t, NULL), CORE_EINVAL);
	ck_assert_int_eq(stats_chi2_contingency(T0, 0, 2, &t, NULL), CORE_EINVAL);
	ck_assert(t.statistic == 7 && t.pvalue == 7);
}

START_TEST(chisquare_and_z_against_scipy)
{
	static struct chi_data cd;
	struct lines l;
	double ref[2 * GOF_CASES + 4 * EV_CASES + 3 * CT_CASES];
	lines_open(&l);
	gof_write(&cd, &l);
	ev_write(&cd, &l);
	ct_write(&l);
	char *body;
	ck_assert(asprintf(&body, "%sit = iter(L)\n%s%s%s", EVIDENTLY_PY, GOF_PY, EV_PY, CT_PY) > 0);
	ck_assert_uint_eq(python(&l, body, ref, sizeof ref / sizeof ref[0]), sizeof ref / sizeof ref[0]);
	free(body);
	gof_check(&cd, ref);
	ev_check(&cd, ref + 2 * GOF_CASES);
	ct_check(ref + 2 * GOF_CASES + 4 * EV_CASES);
}
END_TEST

static Suite *stattest_suite(void)
{
	Suite *s = suite_create("stattest");
	TCase *tc = tcase_create("ks");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, ks_against_scipy);
	tcase_add_test(tc, ks_large);
	tcase_add_test(tc, ks_sorted_entry_and_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("chisquare");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, distributions_against_scipy);
	tcase_add_test(tc, chisquare_and_z_against_scipy);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(stattest_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

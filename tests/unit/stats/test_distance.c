/* Unit tests for stats/distance.h against numpy 1.24 / scipy 1.10, run at test time by
 * Debian's /usr/bin/python3 on the same samples (written with %.17g, so both sides read
 * the same doubles).
 *
 * Evidently itself is not installed, so the python side restates Evidently's stattests
 * with numpy and scipy the way its source does them (legacy/calculations/stattests:
 * utils.get_binned_data, psi.py, kl_div.py, jensenshannon.py, wasserstein_distance_norm.py,
 * hellinger_distance.py, tvd_stattest.py, and get_one_column_drift's dropping of NaN and
 * ±inf): the same numpy/scipy calls in the same order. Two deliberate differences, both
 * only in summation order: per-value bins are listed in sorted order (Evidently's follow
 * Python's set order), and ndarrays stand in for pandas Series (np.std on a Series is
 * pandas' ddof=0 std). The TVD p-value is computed twice, with Evidently's float
 * comparison and with exact fractions; the C side must equal the exact one.
 *
 * Cases: normal samples, a shifted sample, ties (few values; and many, on bin edges),
 * identical samples, disjoint samples, empty bins (and the min/1e6 smoothing branch),
 * tiny samples, a constant column, NaN and ±inf among the values, categorical strings
 * with a new and a vanished category and missing entries; then bad input. Every value is
 * held to 1e-9 relative (1e-15 absolute near 0). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness_util.h"
#include "stats/distance.h"
#include "stats/stats.h"

#define TOL 1e-9

/* ---- helpers ------------------------------------------------------------------------- */

static struct th_rng rng = {0x9e3779b97f4a7c15ULL};

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

	ck_assert(asprintf(&p, "%s/distance-%d-%s", dir ? dir : "/tmp", (int)getpid(), name) > 0);
	return p;
}

/* What the python side defines before a test's body: the sample pairs and Evidently's
 * computations restated with numpy/scipy. */
static const char prelude_py[] =
	"w = open(sys.argv[1]).read().split('\\n')\n"
	"def sample(at):\n"
	"    n = int(w[at]); v = w[at + 1:at + 1 + n]\n"
	"    if STRINGS:\n"
	"        return [s for s in v if s != '<NA>'], at + 1 + n\n"
	"    v = np.array(v, dtype=float)\n"
	"    return v[np.isfinite(v)], at + 1 + n\n"
	"cases, at = [], 1\n"
	"for i in range(int(w[0])):\n"
	"    r, at = sample(at); c, at = sample(at)\n"
	"    cases.append((r, c))\n"
	/* utils.get_binned_data; keys sorted where Evidently takes set order */
	"def binned(r, c, numerical, feel_zeroes):\n"
	"    if numerical and len(np.unique(r)) > 20:\n"
	"        edges = np.histogram_bin_edges(np.concatenate([r, c]), bins='sturges')\n"
	"        cr, cc = np.histogram(r, edges)[0], np.histogram(c, edges)[0]\n"
	"        p, q, what = cr / len(r), cc / len(c), edges\n"
	"    else:\n"
	"        keys = sorted(set(list(r)) | set(list(c)))\n"
	"        rd, cd = collections.Counter(list(r)), collections.Counter(list(c))\n"
	"        cr = np.array([rd[k] for k in keys]); cc = np.array([cd[k] for k in keys])\n"
	"        p = np.array([rd[k] / len(r) for k in keys])\n"
	"        q = np.array([cd[k] / len(c) for k in keys])\n"
	"        what = keys\n"
	"    if feel_zeroes:\n"
	"        for a in (p, q):\n"
	"            m = min(a[a != 0])\n"
	"            np.place(a, a == 0, m / 10**6 if m <= 0.0001 else 0.0001)\n"
	"    return p, q, cr, cc, what\n"
	"def psi(p, q):\n"
	"    return np.sum((p - q) * np.log(p / q))\n"
	"def hellinger_num(r, c):\n"
	"    keys = list(set(r.tolist()) | set(c.tolist()))\n"
	"    bins = np.histogram_bin_edges(keys, bins='sturges')\n"
	"    h1 = np.histogram(r, bins=bins, density=True)[0]\n"
	"    h2 = np.histogram(c, bins=bins, density=True)[0]\n"
	"    bw = (max(bins) - min(bins)) / (len(bins) - 1)\n"
	"    s = 0.0\n"
	"    for i in range(len(h1)):\n"
	"        s += np.sqrt(h1[i] * h2[i]) * bw\n"
	"    return np.sqrt(1 - np.clip(s, 0, 1))\n"
	"def hellinger_cat(r, c):\n"
	"    rd = {k: v / len(r) for k, v in collections.Counter(r).items()}\n"
	"    cd = {k: v / len(c) for k, v in collections.Counter(c).items()}\n"
	"    s = 0.0\n"
	"    for k in sorted(set(r) | set(c)):\n"
	"        s += np.sqrt(rd.get(k, 0) * cd.get(k, 0))\n"
	"    return np.sqrt(1 - np.clip(s, 0, 1))\n"
	"def tvd(r, c):\n"
	"    keys = sorted(set(r) | set(c))\n"
	"    rd, cd = collections.Counter(r), collections.Counter(c)\n"
	"    a = np.array([rd[k] for k in keys]); b = np.array([cd[k] for k in keys])\n"
	"    return 0.5 * np.sum(np.abs(a / sum(a) - b / sum(b)))\n"
	"def tvd_exact(r, c):\n"
	"    keys = sorted(set(r) | set(c))\n"
	"    rd, cd = collections.Counter(r), collections.Counter(c)\n"
	"    return sum(abs(fractions.Fraction(rd[k], len(r)) - fractions.Fraction(cd[k], len(c))) for k in "
	"keys) / 2\n"
	/* tvd_stattest.py with utils.permutation_test(iterations=1000) */
	"def tvd_pvalue(r, c, stat):\n"
	"    np.random.seed(0)\n"
	"    obs = stat(r, c); hold = []\n"
	"    for i in range(1000):\n"
	"        comb = list(r) + list(c)\n"
	"        nr_ = np.random.choice(comb, len(r), replace=False).tolist()\n"
	"        nc_ = list((collections.Counter(comb) - collections.Counter(nr_)).elements())\n"
	"        hold.append(stat(nr_, nc_))\n"
	"    return sum(obs <= abs(h) for h in hold) / len(hold)\n";

/* Runs body with `cases`, the list of (ref, cur) sample pairs in path (numpy float arrays
 * with NaN and ±inf dropped, or, when strings is set, lists of strings with the "<NA>"
 * entries dropped), and the Evidently restatements above defined; reads the numbers it
 * prints into out. */
static size_t python(const char *path, bool strings, const char *body, double *out, size_t max)
{
	char *prelude;
	ck_assert(asprintf(&prelude, "STRINGS = %s\n%s", strings ? "True" : "False", prelude_py) > 0);
	size_t n = th_python_numbers(path, prelude, body, out, max);
	free(prelude);
	return n;
}

/* A labelled pair of samples, numerical or categorical. */
struct pair {
	const char *label;
	const double *r, *c;
	const char *const *sr, *const *sc;
	size_t nr, nc;
};

static char *write_pairs(const struct pair *p, size_t n, bool strings)
{
	char *path = tmp_path("samples.txt");
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f, "%zu\n", n);
	for (size_t j = 0; j < n; j++)
		for (int side = 0; side < 2; side++) {
			size_t m = side ? p[j].nc : p[j].nr;
			fprintf(f, "%zu\n", m);
			for (size_t i = 0; i < m; i++)
				if (strings) {
					const char *v = (side ? p[j].sc : p[j].sr)[i];
					fprintf(f, "%s\n", v ? v : "<NA>");
				} else {
					fprintf(f, "%.17g\n", (side ? p[j].c : p[j].r)[i]);
				}
		}
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

static bool close_to(double a, double b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	return fabs(a - b) <= TOL * fmax(fabs(a), fabs(b)) + 1e-15;
}

#define CHECK_CLOSE(what, c, py)                                                                                       \
	ck_assert_msg(close_to((c), (py)), "%s: %.17g vs python %.17g (%s)", (what), (c), (py), label)

/* The distances Evidently computes on its binned shares, against python's py[0..3). */
static void check_binned(const char *label, const struct stats_bins *b, const double *py)
{
	double v;

	ck_assert_int_eq(stats_psi(b->ref, b->k, b->cur, b->k, &v), CORE_OK);
	CHECK_CLOSE("psi", v, py[0]);
	ck_assert_int_eq(stats_kl_div(b->ref, b->k, b->cur, b->k, &v), CORE_OK);
	CHECK_CLOSE("kl_div", v, py[1]);
	ck_assert_int_eq(stats_jensenshannon(b->ref, b->k, b->cur, b->k, &v), CORE_OK);
	CHECK_CLOSE("jensenshannon", v, py[2]);
}

/* ---- numerical columns ------------------------------------------------------------------ */

/* Per pair python prints the count of numbers that follow, then: psi kl js w1 wnorm
 * hellinger psi_deciles k_deciles; k and whether the bins are edges (1) or values (0);
 * ref counts, cur counts, the edges or values; the decile edges. */
static const char NUMERIC_BODY[] =
	"def one(ref, cur):\n"
	"    p, q, cr, cc, what = binned(ref, cur, True, True)\n"
	"    p0, q0, _, _, _ = binned(ref, cur, True, False)\n"
	"    w1 = scipy.stats.wasserstein_distance(ref, cur)\n"
	"    e = np.unique(np.quantile(ref, np.arange(11) / 10))\n"
	"    if len(e) == 1: e = np.array([e[0], e[0]])\n"
	"    kd = len(e) - 1\n"
	"    dr = np.bincount(np.searchsorted(e[1:-1], ref, side='right'), minlength=kd) / len(ref)\n"
	"    dc = np.bincount(np.searchsorted(e[1:-1], cur, side='right'), minlength=kd) / len(cur)\n"
	"    for a in (dr, dc):\n"
	"        m = min(a[a != 0])\n"
	"        np.place(a, a == 0, m / 10**6 if m <= 0.0001 else 0.0001)\n"
	"    return [psi(p, q), scipy.stats.entropy(p, q), scipy.spatial.distance.jensenshannon(p0, q0),\n"
	"            w1, w1 / max(np.std(ref), 0.001), hellinger_num(ref, cur), psi(dr, dc), kd,\n"
	"            len(cr), 1 if len(np.unique(ref)) > 20 else 0, *cr, *cc, *what, *e]\n"
	"for r, c in cases:\n"
	"    v = one(r, c)\n"
	"    out(len(v), *v)\n";

/* Checks one pair against python's numbers py[0..len). */
static void check_numeric(const struct pair *pr, const double *py, size_t len)
{
	const char *label = pr->label;
	const double *r = pr->r, *c = pr->c;
	size_t nr = pr->nr, nc = pr->nc;
	struct stats_bins b;

	ck_assert_uint_ge(len, 10);
	ck_assert_int_eq(stats_bins_numeric(r, nr, c, nc, &b), CORE_OK);
	size_t k = (size_t)py[8];
	ck_assert_msg(b.k == k, "%s: %zu bins vs python %zu", label, b.k, k);
	ck_assert_int_eq(b.edges != NULL, py[9] == 1);
	ck_assert_int_eq(b.values != NULL, py[9] == 0);
	ck_assert_ptr_null(b.labels);
	size_t nedge = b.edges ? k + 1 : k;
	ck_assert_uint_ge(len, 10 + 2 * k + nedge);
	for (size_t i = 0; i < k; i++) {
		ck_assert_msg(b.ref[i] == (uint64_t)py[10 + i], "%s: ref bin %zu", label, i);
		ck_assert_msg(b.cur[i] == (uint64_t)py[10 + k + i], "%s: cur bin %zu", label, i);
	}
	const double *where = b.edges ? b.edges : b.values;
	for (size_t i = 0; i < nedge; i++)
		ck_assert_msg(where[i] == py[10 + 2 * k + i], "%s: edge/value %zu: %.17g vs %.17g", label, i, where[i],
			      py[10 + 2 * k + i]);

	double v;
	check_binned(label, &b, py);
	ck_assert_int_eq(stats_wasserstein(r, nr, c, nc, &v), CORE_OK);
	CHECK_CLOSE("wasserstein", v, py[3]);
	ck_assert_int_eq(stats_wasserstein_norm(r, nr, c, nc, &v), CORE_OK);
	CHECK_CLOSE("wasserstein normed", v, py[4]);
	ck_assert_int_eq(stats_hellinger_numeric(r, nr, c, nc, &v), CORE_OK);
	CHECK_CLOSE("hellinger numeric", v, py[5]);
	stats_bins_free(&b);

	/* the classic PSI on the reference's deciles */
	double edges[11];
	size_t kd;
	ck_assert_int_eq(stats_decile_edges(r, nr, edges, &kd), CORE_OK);
	ck_assert_msg(kd == (size_t)py[7], "%s: %zu decile bins vs python %g", label, kd, py[7]);
	size_t at = 10 + 2 * k + nedge;
	ck_assert_uint_eq(len, at + kd + 1);
	for (size_t i = 0; i <= kd; i++)
		ck_assert_msg(edges[i] == py[at + i], "%s: decile edge %zu: %.17g vs %.17g", label, i, edges[i],
			      py[at + i]);
	ck_assert_int_eq(stats_bins_on_edges(edges, kd, r, nr, c, nc, &b), CORE_OK);
	ck_assert_int_eq(stats_psi(b.ref, b.k, b.cur, b.k, &v), CORE_OK);
	CHECK_CLOSE("psi deciles", v, py[6]);
	stats_bins_free(&b);
	stats_bins_free(&b); /* twice is safe */
}

/* Runs python once over all pairs, then checks each against its share of the output. */
static void check_pairs(const struct pair *p, size_t n, bool strings, const char *body,
			void (*check)(const struct pair *, const double *, size_t))
{
	char *path = write_pairs(p, n, strings);
	size_t cap = 65536;
	double *py = malloc(cap * sizeof *py);
	size_t got = python(path, strings, body, py, cap), at = 0;

	for (size_t j = 0; j < n; j++) {
		ck_assert_msg(at < got, "python stopped before pair %s", p[j].label);
		size_t len = (size_t)py[at];
		ck_assert_uint_le(at + 1 + len, got);
		check(&p[j], py + at + 1, len);
		at += 1 + len;
	}
	ck_assert_uint_eq(at, got);
	unlink(path);
	free(path);
	free(py);
}

static double *normal(size_t n, double mu, double sd)
{
	double *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = mu + sd * nrand();
	return x;
}

#define NUM(label, r, nr, c, nc) ((struct pair){(label), (r), (c), NULL, NULL, (nr), (nc)})

START_TEST(numeric_columns)
{
	struct pair p[32];
	size_t n = 0;
	double *keep[16];
	size_t nkeep = 0;

	/* normal samples, and a shifted, wider one */
	double *r1 = keep[nkeep++] = normal(2000, 10, 2), *c1 = keep[nkeep++] = normal(1500, 10, 2);
	p[n++] = NUM("normal", r1, 2000, c1, 1500);
	double *r2 = keep[nkeep++] = normal(1200, 0, 1), *c2 = keep[nkeep++] = normal(900, 0.6, 1.4);
	p[n++] = NUM("shifted", r2, 1200, c2, 900);

	/* ties: few distinct values (one bin per value; current has values the reference
	 * lacks), and many tied integers whose Sturges edges fall on values */
	double fr[500], fc[400];
	for (size_t i = 0; i < 500; i++)
		fr[i] = floor(urand() * 8);
	for (size_t i = 0; i < 400; i++)
		fc[i] = floor(urand() * 9) + 0.5 * (i % 50 == 0);
	p[n++] = NUM("few values", fr, 500, fc, 400);
	double tr[3000], tc[2000];
	for (size_t i = 0; i < 3000; i++)
		tr[i] = floor(urand() * 41);
	for (size_t i = 0; i < 2000; i++)
		tc[i] = floor(urand() * 45);
	p[n++] = NUM("tied integers", tr, 3000, tc, 2000);
	/* exactly 20 and 21 distinct reference values: either side of Evidently's switch */
	double r20[420], r21[420], c23[100];
	for (size_t i = 0; i < 420; i++)
		r20[i] = r21[i] = (double)(i % 20) / 4;
	r21[419] = 100;
	for (size_t i = 0; i < 100; i++)
		c23[i] = (double)(i % 23) / 4;
	p[n++] = NUM("20 values", r20, 420, c23, 100);
	p[n++] = NUM("21 values", r21, 420, c23, 100);

	/* identical and disjoint samples */
	p[n++] = NUM("identical", r1, 2000, r1, 2000);
	double dr[300], dc[250];
	for (size_t i = 0; i < 300; i++)
		dr[i] = urand();
	for (size_t i = 0; i < 250; i++)
		dc[i] = 5 + urand();
	p[n++] = NUM("disjoint", dr, 300, dc, 250);

	/* empty bins: a gap in the reference that the current sample fills; and one far
	 * outlier among 20,001 reference values, whose share 5e-5 is under 0.0001, so the
	 * empty bins get min / 1e6 */
	double gr[1000], gc[800];
	for (size_t i = 0; i < 1000; i++)
		gr[i] = i % 2 ? urand() : 9 + urand();
	for (size_t i = 0; i < 800; i++)
		gc[i] = 10 * urand();
	p[n++] = NUM("gap", gr, 1000, gc, 800);
	double *outr = keep[nkeep++] = normal(20001, 0, 1), *outc = keep[nkeep++] = normal(3000, 0.2, 1);
	outr[20000] = 60;
	p[n++] = NUM("smoothing branch", outr, 20001, outc, 3000);

	/* tiny samples, and a constant reference (std 0: Evidently's 0.001 floor) */
	static const double t3[] = {1.5, -2, 7}, t2[] = {3, 3.25}, one[] = {4}, five[] = {5};
	p[n++] = NUM("3 vs 2", t3, 3, t2, 2);
	p[n++] = NUM("1 vs 1 equal", one, 1, one, 1);
	p[n++] = NUM("1 vs 1 apart", one, 1, five, 1);
	double kr[50], kc[30];
	for (size_t i = 0; i < 50; i++)
		kr[i] = 2.5;
	for (size_t i = 0; i < 30; i++)
		kc[i] = 2.5 + (double)(i % 3);
	p[n++] = NUM("constant reference", kr, 50, kc, 30);

	/* NaN and ±inf among the values: dropped on both sides */
	double mr[600], mc[500];
	for (size_t i = 0; i < 600; i++)
		mr[i] = i % 37 == 0 ? NAN : i % 101 == 0 ? INFINITY : nrand();
	for (size_t i = 0; i < 500; i++)
		mc[i] = i % 41 == 0 ? -INFINITY : i % 43 == 0 ? NAN : 0.3 + nrand();
	p[n++] = NUM("nan and inf", mr, 600, mc, 500);

	check_pairs(p, n, false, NUMERIC_BODY, check_numeric);
	for (size_t i = 0; i < nkeep; i++)
		free(keep[i]);
}
END_TEST

START_TEST(exact_ends)
{
	/* identical samples give exactly 0; disjoint ones exactly 1 where the range ends */
	double *r = normal(1500, -3, 0.5), c[250];
	for (size_t i = 0; i < 250; i++)
		c[i] = 5 + urand();
	double v;
	struct stats_bins b;
	ck_assert_int_eq(stats_bins_numeric(r, 1500, r, 1500, &b), CORE_OK);
	enum core_status (*fns[])(const uint64_t *, size_t, const uint64_t *, size_t, double *) = {
		stats_psi, stats_kl_div, stats_jensenshannon, stats_hellinger, stats_tvd};
	for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
		ck_assert_int_eq(fns[i](b.ref, b.k, b.cur, b.k, &v), CORE_OK);
		ck_assert_msg(v == 0, "function %zu: %.17g", i, v);
	}
	stats_bins_free(&b);
	ck_assert_int_eq(stats_wasserstein(r, 1500, r, 1500, &v), CORE_OK);
	ck_assert(v == 0);
	ck_assert_int_eq(stats_hellinger_numeric(r, 1500, r, 1500, &v), CORE_OK);
	ck_assert(v == 0);
	ck_assert_int_eq(stats_bins_numeric(r, 1500, c, 250, &b), CORE_OK);
	ck_assert_int_eq(stats_tvd(b.ref, b.k, b.cur, b.k, &v), CORE_OK);
	ck_assert(v == 1);
	ck_assert_int_eq(stats_hellinger(b.ref, b.k, b.cur, b.k, &v), CORE_OK);
	ck_assert(v == 1);
	ck_assert_int_eq(stats_jensenshannon(b.ref, b.k, b.cur, b.k, &v), CORE_OK);
	ck_assert(close_to(v, sqrt(log(2))));
	stats_bins_free(&b);
	free(r);
}
END_TEST

/* ---- categorical columns ------------------------------------------------------------------ */

/* Per pair: the count, then psi kl js hellinger tvd tvd_pvalue_exact tvd_pvalue_float k;
 * ref counts; cur counts (per sorted category). */
static const char CATEGORICAL_BODY[] =
	"for ref, cur in cases:\n"
	"    p, q, cr, cc, keys = binned(ref, cur, False, True)\n"
	"    p0, q0, _, _, _ = binned(ref, cur, False, False)\n"
	"    v = [psi(p, q), scipy.stats.entropy(p, q), scipy.spatial.distance.jensenshannon(p0, q0),\n"
	"         hellinger_cat(ref, cur), tvd(ref, cur), tvd_pvalue(ref, cur, tvd_exact),\n"
	"         tvd_pvalue(ref, cur, tvd), len(keys), *cr, *cc]\n"
	"    out(len(v), *v)\n";

static void check_categorical(const struct pair *pr, const double *py, size_t len)
{
	const char *label = pr->label;
	struct stats_bins b;

	ck_assert_uint_ge(len, 8);
	size_t k = (size_t)py[7];
	ck_assert_uint_eq(len, 8 + 2 * k);
	ck_assert_int_eq(stats_bins_categorical(pr->sr, pr->nr, pr->sc, pr->nc, &b), CORE_OK);
	ck_assert_uint_eq(b.k, k);
	ck_assert_ptr_nonnull(b.labels);
	for (size_t i = 0; i < k; i++) {
		ck_assert_msg(b.ref[i] == (uint64_t)py[8 + i], "%s: ref count of %s", label, b.labels[i]);
		ck_assert_msg(b.cur[i] == (uint64_t)py[8 + k + i], "%s: cur count of %s", label, b.labels[i]);
		if (i > 0)
			ck_assert(strcmp(b.labels[i - 1], b.labels[i]) < 0);
	}
	double v;
	check_binned(label, &b, py);
	ck_assert_int_eq(stats_hellinger(b.ref, b.k, b.cur, b.k, &v), CORE_OK);
	CHECK_CLOSE("hellinger", v, py[3]);
	ck_assert_int_eq(stats_tvd(b.ref, b.k, b.cur, b.k, &v), CORE_OK);
	CHECK_CLOSE("tvd", v, py[4]);
	ck_assert_int_eq(stats_tvd_pvalue(pr->sr, pr->nr, pr->sc, pr->nc, &v), CORE_OK);
	ck_assert_msg(v == py[5], "%s: TVD p-value %.17g vs python (exact) %.17g", label, v, py[5]);
	/* Evidently's float comparison agrees on these samples */
	ck_assert_msg(v == py[6], "%s: TVD p-value %.17g vs python (float) %.17g", label, v, py[6]);
	stats_bins_free(&b);
}

#define CAT(label, r, nr, c, nc) ((struct pair){(label), NULL, NULL, (r), (c), (nr), (nc)})

START_TEST(categorical_columns)
{
	static const char *const cats[] = {"apple", "banana", "cherry", "date", "elder-berry", "fig"};
	struct pair p[8];
	size_t n = 0;

	/* skewed, with missing entries; current loses "apple" and gains "fig" */
	const char *r[200], *c[150];
	for (size_t i = 0; i < 200; i++)
		r[i] = i % 23 == 0 ? NULL : cats[(size_t)(urand() * urand() * 5)];
	for (size_t i = 0; i < 150; i++)
		c[i] = i % 31 == 0 ? NULL : cats[1 + (size_t)(urand() * 5)];
	p[n++] = CAT("strings", r, 200, c, 150);
	/* same categories in the same shares: a large p-value */
	const char *r2[120], *c2[90];
	for (size_t i = 0; i < 120; i++)
		r2[i] = cats[i % 3];
	for (size_t i = 0; i < 90; i++)
		c2[i] = cats[(i + 1) % 3];
	p[n++] = CAT("balanced", r2, 120, c2, 90);
	/* tiny, and a binary column */
	static const char *const r3[] = {"x", "y", "x"}, *const c3[] = {"y", "y"};
	p[n++] = CAT("tiny", r3, 3, c3, 2);
	const char *r4[60], *c4[40];
	for (size_t i = 0; i < 60; i++)
		r4[i] = i % 4 ? "no" : "yes";
	for (size_t i = 0; i < 40; i++)
		c4[i] = i % 2 ? "no" : "yes";
	p[n++] = CAT("binary", r4, 60, c4, 40);
	check_pairs(p, n, true, CATEGORICAL_BODY, check_categorical);
}
END_TEST

/* ---- bad input, and the pieces on their own ---------------------------------------------- */

START_TEST(bad_input)
{
	const uint64_t a[] = {1, 2, 3}, z[] = {0, 0, 0};
	const double x[] = {1, 2, 3}, nan3[] = {NAN, INFINITY, -INFINITY};
	double v = 0;
	enum core_status (*count_fns[])(const uint64_t *, size_t, const uint64_t *, size_t, double *) = {
		stats_psi, stats_kl_div, stats_jensenshannon, stats_hellinger, stats_tvd};
	for (size_t i = 0; i < sizeof count_fns / sizeof count_fns[0]; i++) {
		ck_assert_int_eq(count_fns[i](a, 3, a, 2, &v), CORE_EINVAL); /* mismatched bins */
		ck_assert(isnan(v));
		v = 0;
		ck_assert_int_eq(count_fns[i](a, 0, a, 0, &v), CORE_EINVAL); /* no bins */
		ck_assert(isnan(v));
		ck_assert_int_eq(count_fns[i](a, 3, z, 3, &v), CORE_EINVAL); /* no values */
		ck_assert_int_eq(count_fns[i](z, 3, a, 3, &v), CORE_EINVAL);
		ck_assert_int_eq(count_fns[i](NULL, 3, a, 3, &v), CORE_EINVAL);
	}
	enum core_status (*value_fns[])(const double *, size_t, const double *, size_t, double *) = {
		stats_wasserstein, stats_wasserstein_norm, stats_hellinger_numeric};
	for (size_t i = 0; i < sizeof value_fns / sizeof value_fns[0]; i++) {
		v = 0;
		ck_assert_int_eq(value_fns[i](x, 3, x, 0, &v), CORE_EINVAL);
		ck_assert(isnan(v));
		ck_assert_int_eq(value_fns[i](nan3, 3, x, 3, &v), CORE_EINVAL); /* nothing finite */
		ck_assert_int_eq(value_fns[i](x, 3, x, 3, &v), CORE_OK);
	}
	struct stats_bins b;
	ck_assert_int_eq(stats_bins_numeric(x, 0, x, 3, &b), CORE_EINVAL);
	ck_assert_uint_eq(b.k, 0);
	ck_assert_ptr_null(b.ref);
	ck_assert_int_eq(stats_bins_numeric(x, 3, nan3, 3, &b), CORE_EINVAL);
	const double huge[] = {-1.7e308, 1.7e308};
	ck_assert_int_eq(stats_bins_numeric(huge, 2, huge, 2, &b), CORE_OK); /* two values: per value */
	stats_bins_free(&b);
	const char *s[] = {NULL, NULL}, *t[] = {"a"};
	ck_assert_int_eq(stats_bins_categorical(s, 2, t, 1, &b), CORE_EINVAL);
	ck_assert_int_eq(stats_tvd_pvalue(t, 1, s, 2, &v), CORE_EINVAL);
	ck_assert(isnan(v));
	const double bad_edges[] = {0, 2, 1}, inf_edges[] = {0, INFINITY};
	ck_assert_int_eq(stats_bins_on_edges(bad_edges, 2, x, 3, x, 3, &b), CORE_EINVAL);
	ck_assert_int_eq(stats_bins_on_edges(inf_edges, 1, x, 3, x, 3, &b), CORE_EINVAL);
	ck_assert_int_eq(stats_bins_on_edges(bad_edges, 0, x, 3, x, 3, &b), CORE_EINVAL);
	double edges[11];
	size_t k = 99;
	ck_assert_int_eq(stats_decile_edges(nan3, 3, edges, &k), CORE_EINVAL);
	ck_assert_uint_eq(k, 0);
	ck_assert_uint_eq(stats_sturges_bins(0, 1, 0), 0);
	ck_assert_uint_eq(stats_sturges_bins(-INFINITY, 1, 10), 0);
	ck_assert_uint_eq(stats_sturges_bins(-1.7e308, 1.7e308, 10), 0);
	ck_assert_uint_eq(stats_sturges_bins(3, 3, 10), 1);
}
END_TEST

START_TEST(sturges_and_smoothing_rules)
{
	/* numpy.histogram_bin_edges(x, "sturges") bin counts over sizes and ranges */
	char *path = tmp_path("none.txt");
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("0\n", f);
	ck_assert_int_eq(fclose(f), 0);
	static const double ranges[][2] = {{0, 1}, {-3.7, 12.25}, {1e-3, 1e-3 + 1e-9}, {-1e6, 3}, {0.1, 0.7}};
	static const unsigned sizes[] = {1, 2, 3, 7, 8, 9, 100, 1000, 2000, 4095, 4096, 4097, 1000000, 1048576};
	double py[128];
	size_t got = python(path, false,
			    "for lo, hi in [(0, 1), (-3.7, 12.25), (1e-3, 1e-3 + 1e-9), (-1e6, 3), (0.1, 0.7)]:\n"
			    "    for n in [1, 2, 3, 7, 8, 9, 100, 1000, 2000, 4095, 4096, 4097, 1000000, 1048576]:\n"
			    "        x = np.full(n, (lo + hi) / 2); x[0] = lo; x[-1] = hi\n"
			    "        out(len(np.histogram_bin_edges(x, 'sturges')) - 1)\n",
			    py, 128);
	size_t nr = sizeof ranges / sizeof ranges[0], ns = sizeof sizes / sizeof sizes[0];
	ck_assert_uint_eq(got, nr * ns);
	for (size_t i = 0; i < nr; i++)
		for (size_t j = 0; j < ns; j++) {
			double lo = ranges[i][0], hi = sizes[j] == 1 ? lo : ranges[i][1];
			ck_assert_msg(stats_sturges_bins(lo, hi, sizes[j]) == (size_t)py[i * ns + j],
				      "[%g, %g] n=%u: %zu vs numpy %g", lo, hi, sizes[j],
				      stats_sturges_bins(lo, hi, sizes[j]), py[i * ns + j]);
		}
	unlink(path);
	free(path);

	double s[] = {0, 0.5, 0, 0.5};
	stats_smooth_shares(s, 4);
	ck_assert(s[0] == 0.0001 && s[2] == 0.0001 && s[1] == 0.5);
	double t[] = {0.0001, 0, 0.9999};
	stats_smooth_shares(t, 3);
	ck_assert(t[1] == 0.0001 / 1e6);
	double u[] = {0, 0};
	stats_smooth_shares(u, 2);
	ck_assert(u[0] == 0 && u[1] == 0);
}
END_TEST

START_TEST(streaming_counts_match_batch)
{
	/* a monitor's path: the reference's Sturges edges, counts kept by stats_histogram,
	 * the out-of-range values folded into the end bins, then the distances on counts */
	double *r = normal(4000, 0, 1), *c = normal(3000, 0.3, 1.1);
	struct stats_moments m;
	stats_moments_init(&m);
	for (size_t i = 0; i < 4000; i++)
		stats_moments_add(&m, r[i]);
	size_t k = stats_sturges_bins(m.min, m.max, m.count);
	ck_assert_uint_eq(k, 13);
	double edges[13 + 1];
	stats_edges_linspace(m.min, m.max, k, edges);
	struct stats_histogram hr, hc;
	ck_assert(stats_histogram_init(&hr, edges, k));
	ck_assert(stats_histogram_init(&hc, edges, k));
	for (size_t i = 0; i < 4000; i++)
		stats_histogram_add(&hr, r[i]);
	for (size_t i = 0; i < 3000; i++)
		stats_histogram_add(&hc, c[i]);
	hc.counts[0] += hc.below;
	hc.counts[k - 1] += hc.above;
	struct stats_bins b;
	ck_assert_int_eq(stats_bins_on_edges(edges, k, r, 4000, c, 3000, &b), CORE_OK);
	for (size_t i = 0; i < k; i++) {
		ck_assert_uint_eq(b.ref[i], hr.counts[i]);
		ck_assert_uint_eq(b.cur[i], hc.counts[i]);
	}
	double v1, v2;
	ck_assert_int_eq(stats_psi(hr.counts, k, hc.counts, k, &v1), CORE_OK);
	ck_assert_int_eq(stats_psi(b.ref, k, b.cur, k, &v2), CORE_OK);
	ck_assert(v1 == v2 && v1 > 0);
	stats_bins_free(&b);
	stats_histogram_free(&hr);
	stats_histogram_free(&hc);
	free(r);
	free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("distance");
	TCase *tc = tcase_create("numpy");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, numeric_columns);
	tcase_add_test(tc, categorical_columns);
	tcase_add_test(tc, sturges_and_smoothing_rules);
	suite_add_tcase(s, tc);
	tc = tcase_create("rules");
	tcase_add_test(tc, exact_ends);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, streaming_counts_match_batch);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

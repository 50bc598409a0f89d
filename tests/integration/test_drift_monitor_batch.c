/* Integration tests of batch drift, POST /v1/drift, against the real lathe-drift-monitor
 * (with the run's PostgreSQL, which a batch does not touch; a fresh daemon per test).
 *   - two generated CSV samples of 200 rows (a numerical column unshifted, one shifted,
 *     a categorical one whose shares move) give Evidently's table: the method Evidently
 *     picks per column, drift_score equal to Debian's /usr/bin/python3 scipy on the
 *     same values read from the same CSV text (ks_2samp's p-value; Evidently's chisquare,
 *     scipy.stats.chisquare of the current counts against the reference's scaled), to
 *     1e-9; drift_detected by the threshold; dataset_drift by the share;
 *   - overrides and drift_share change what they say;
 *   - bad input is a clear 4xx (400 naming the field, sample or column; 413; 415), and
 *     the daemon keeps answering. The dataset form: test_drift_monitor_datasets. */
#include <check.h>
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "harness_util.h"

static struct th_daemon *d;

static void setup(void)
{
	d = th_daemon_start("drift-monitor", NULL, NULL);
}

static void teardown(void)
{
	th_daemon_stop(d);
}

static const char *const cats[] = {"red", "green", "blue", "black"};

/* A sample of rows rows: same ~ N(0, 1) in both; shift ~ N(shift, 1); color drawn with
 * the shares of w (cumulative), every 25th cell of same empty (missing). */
static char *make_csv(struct th_rng *g, int rows, double shift, const double w[4])
{
	size_t cap = (size_t)rows * 80 + 64, n = 0;
	char *t = malloc(cap);
	n += (size_t)snprintf(t + n, cap - n, "same,shift,color\n");
	for (int i = 0; i < rows; i++) {
		double u = th_urand(g);
		int c = 0;
		while (c < 3 && u >= w[c])
			c++;
		char same[32] = "";
		double x = th_nrand(g);
		if (i % 25 != 7)
			snprintf(same, sizeof same, "%.17g", x);
		n += (size_t)snprintf(t + n, cap - n, "%s,%.17g,%s\n", same, th_nrand(g) + shift, cats[c]);
	}
	return t;
}

/* A column of report r by its name. */
static json_t *column(json_t *r, const char *name)
{
	return th_json_find(json_object_get(r, "columns"), "column_name", name);
}

static double num(json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* The body for two CSV texts and extra members (a JSON text starting with ',', or ""). */
static char *body_of(const char *ref, const char *cur, const char *extra)
{
	json_t *b = json_pack("{s:{s:s}, s:{s:s}}", "reference", "csv", ref, "current", "csv", cur);
	char *text = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	text[strlen(text) - 1] = '\0';
	char *out = th_fmt("%s%s}", text, extra);
	free(text);
	return out;
}

/* scipy on the same CSV texts: prints ks_2samp's p-value of same and shift (empty cells
 * dropped), then Evidently's chisquare p-value of color. */
static const char *const scipy_py =
	"import csv, io\n"
	"ref_t, cur_t = open(sys.argv[1]).read().split('\\n=====\\n')\n"
	"ref = list(csv.DictReader(io.StringIO(ref_t))); cur = list(csv.DictReader(io.StringIO(cur_t)))\n"
	"def nums(rows, k): return [float(r[k]) for r in rows if r[k] != '']\n"
	"for k in ('same', 'shift'):\n"
	"    out(scipy.stats.ks_2samp(nums(ref, k), nums(cur, k)).pvalue)\n"
	"rc = collections.Counter(r['color'] for r in ref); cc = collections.Counter(r['color'] for r in cur)\n"
	"keys = sorted(set(rc) | set(cc))\n"
	"f_exp = [rc[k] / len(ref) * len(cur) for k in keys]\n"
	"out(scipy.stats.chisquare([cc[k] for k in keys], f_exp)[1])\n";

static void scipy_scores(const char *ref, const char *cur, double out[3])
{
	const char *dir = getenv("LATHE_TEST_TMP");
	char *path = th_fmt("%s/drift-batch-%d.txt", dir ? dir : "/tmp", (int)getpid());
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s\n=====\n%s", ref, cur);
	fclose(f);
	ck_assert_uint_eq(th_python_numbers(path, NULL, scipy_py, out, 3), 3);
	unlink(path);
	free(path);
}

START_TEST(generated_samples_match_scipy)
{
	struct th_rng g = {0x5eed2026u};
	const double w_ref[4] = {0.4, 0.7, 0.9, 1.0}, w_cur[4] = {0.15, 0.35, 0.75, 1.0};
	char *ref = make_csv(&g, 200, 0, w_ref), *cur = make_csv(&g, 200, 1.0, w_cur);
	double want[3];
	scipy_scores(ref, cur, want);

	char *body = body_of(ref, cur, "");
	json_t *r = th_ok(d, "POST", "/v1/drift", body);
	ck_assert_int_eq(num(r, "number_of_columns"), 3);
	const char *names[] = {"same", "shift", "color"};
	const char *methods[] = {"ks", "ks", "chisquare"};
	const char *types[] = {"num", "num", "cat"};
	size_t drifted = 0;
	for (int i = 0; i < 3; i++) {
		json_t *c = column(r, names[i]);
		ck_assert_str_eq(str(c, "column_type"), types[i]);
		ck_assert_str_eq(str(c, "stattest_name"), methods[i]);
		ck_assert_double_eq(num(c, "stattest_threshold"), 0.05);
		double got = num(c, "drift_score");
		ck_assert_msg(fabs(got - want[i]) <= 1e-9 * fmax(1, fabs(want[i])), "%s: %.17g, scipy %.17g", names[i],
			      got, want[i]);
		bool det = json_is_true(json_object_get(c, "drift_detected"));
		/* Evidently: ks drifts at p <= threshold, chisquare at p < threshold */
		ck_assert_int_eq(det, i < 2 ? want[i] <= 0.05 : want[i] < 0.05);
		drifted += det;
	}
	/* the data were drawn to say so */
	ck_assert(!json_is_true(json_object_get(column(r, "same"), "drift_detected")));
	ck_assert(json_is_true(json_object_get(column(r, "shift"), "drift_detected")));
	ck_assert(json_is_true(json_object_get(column(r, "color"), "drift_detected")));
	ck_assert_int_eq(num(r, "number_of_drifted_columns"), (double)drifted);
	ck_assert_double_eq_tol(num(r, "share_of_drifted_columns"), 2.0 / 3, 1e-15);
	ck_assert(json_is_true(json_object_get(r, "dataset_drift")));
	/* the distributions: 8 empty cells of same missing; counts sum to the rows */
	json_t *sref = json_object_get(column(r, "same"), "reference");
	ck_assert_int_eq(num(sref, "missing"), 8);
	ck_assert_int_eq(num(sref, "count"), 192);
	json_t *counts = json_object_get(json_object_get(sref, "histogram"), "counts"), *v;
	size_t i;
	long sum = 0;
	json_array_foreach(counts, i, v) sum += (long)json_integer_value(v);
	ck_assert_int_eq(sum, 192);
	json_t *vc = json_object_get(json_object_get(column(r, "color"), "current"), "value_counts");
	ck_assert_uint_eq(json_object_size(vc), 4);
	json_decref(r);
	free(body);

	/* overrides: wasserstein on shift, a higher drift_share: one drifted column of 3 is
	 * not dataset drift at 0.9 */
	body = body_of(ref, cur,
		       ",\"columns\": {\"shift\": {\"method\": \"wasserstein\", \"threshold\": 0.3}, \"color\": "
		       "{\"method\": \"psi\"}}, \"drift_share\": 0.9");
	r = th_ok(d, "POST", "/v1/drift", body);
	json_t *c = column(r, "shift");
	ck_assert_str_eq(str(c, "stattest_name"), "wasserstein");
	ck_assert_double_eq(num(c, "stattest_threshold"), 0.3);
	ck_assert(json_is_true(json_object_get(c, "drift_detected")));
	ck_assert_str_eq(str(column(r, "color"), "stattest_name"), "psi");
	ck_assert_double_eq(num(column(r, "color"), "stattest_threshold"), 0.1);
	ck_assert(json_is_false(json_object_get(r, "dataset_drift")));
	json_decref(r);
	free(body);
	free(ref);
	free(cur);
}
END_TEST

static void expect(const char *body, long status, const char *code, const char *needle)
{
	struct th_response r = th_call(d, "POST", "/v1/drift", body);
	th_expect_error(&r, status, code, needle);
	th_response_free(&r);
}

static void expect_400(const char *ref, const char *cur, const char *extra, const char *needle)
{
	char *body = body_of(ref, cur, extra);
	expect(body, 400, "INVALID_PARAMETER_VALUE", needle);
	free(body);
}

START_TEST(bad_input_is_4xx)
{
	expect("{\"reference\": ", 400, "INVALID_PARAMETER_VALUE", NULL);
	expect("[1, 2]", 400, "INVALID_PARAMETER_VALUE", NULL);
	expect("{\"current\": {\"csv\": \"a\\n1\\n\"}}", 400, "INVALID_PARAMETER_VALUE", "reference");
	expect("{\"reference\": {\"csv\": \"a\\n1\\n\"}, \"current\": {}}", 400, "INVALID_PARAMETER_VALUE",
	       "current.csv");
	expect("{\"reference\": {\"csv\": \"a\\n1\\n\"}, \"current\": {\"csv\": 5}}", 400, "INVALID_PARAMETER_VALUE",
	       "current.csv: must be a string");
	expect("{\"reference\": {\"dataset\": \"iris@v-1\"}, \"current\": {\"csv\": \"a\\n1\\n\"}}", 400,
	       "INVALID_PARAMETER_VALUE", "reference.dataset: 'v-1' is not a version");
	expect_400("", "a\n1\n", "", "reference.csv: is empty");
	expect_400("a,b\n1,2\n", "a,c\n1,2\n", "", "missing 'b'; extra 'c'");
	expect_400("a,b\n1,\n2,\n", "a,b\n1,2\n", "", "column 'b': no values in the reference");
	expect_400("a,b\n1,2\n", "a,b\n1,2\n3\n", "", "current: line 3 (row 2) has 1 field");
	expect_400("a\n1\n2\n", "a\n1\n3\n", ",\"columns\": {\"a\": {\"method\": \"kss\"}}", "unknown stattest 'kss'");
	expect_400("a\nx\ny\n", "a\ny\ny\n", ",\"columns\": {\"a\": {\"method\": \"ks\"}}",
		   "columns.a.method: ks does not apply to a categorical column");
	expect_400("a\n1\n2\n", "a\n1\n3\n", ",\"columns\": {\"a\": {\"method\": \"ks\", \"threshold\": 2}}",
		   "columns.a.threshold");
	expect_400("a\n1\n2\n", "a\n1\n3\n", ",\"columns\": {\"b\": {\"method\": \"ks\"}}",
		   "columns.b: no such column");
	expect_400("a\n1\n2\n", "a\n1\n3\n", ",\"drift_share\": 0", "drift_share");
	/* 415: not JSON */
	char *url = th_fmt("%s/v1/drift", d->base_url);
	struct th_response r = th_http("POST", url, "text/csv", "a\n1\n", 4);
	th_expect_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE", NULL);
	th_response_free(&r);
	free(url);
	/* 413: over DM_BATCH_MAX (32 MiB) */
	size_t big = ((size_t)32 << 20) + 100;
	char *huge = malloc(big + 1);
	memset(huge, '1', big);
	memcpy(huge, "a\n", 2);
	for (size_t i = 2; i + 1 < big; i += 8)
		huge[i] = '\n';
	huge[big] = '\0';
	char *body = body_of(huge, "a\n1\n", "");
	free(huge);
	expect(body, 413, "REQUEST_TOO_LARGE", NULL);
	free(body);
	/* still answering */
	body = body_of("a\n1\n2\n3\n", "a\n1\n2\n4\n", "");
	json_decref(th_ok(d, "POST", "/v1/drift", body));
	free(body);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	Suite *s = suite_create("drift-batch-api");
	TCase *tc = tcase_create("batch");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, generated_samples_match_scipy);
	tcase_add_test(tc, bad_input_is_4xx);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Unit tests of batch drift (batch.c), the pure part of POST /v1/drift: the body's
 * checks (what is required, the dataset form's "name@ref" checked and kept, the overrides
 * as a monitor's, drift_share's range); the report: column types (num when every
 * non-empty cell is a finite number), missing cells dropped and counted, Evidently's
 * default method per column, scores equal to libs/stats's on the same values (libs/stats
 * is held to scipy by its own tests; the HTTP test compares with scipy end to end),
 * overrides, the dataset verdict and the distributions; and every bad CSV refused with a
 * message naming the sample, the column or the line. Linked from libdrift-monitor.a. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "stats/distance.h"
#include "stats/drift.h"
#include "stats/stattest.h"
#include "dm.h"
#include "harness_util.h"

/* The body of two CSV texts and an optional tail of members (",\"drift_share\": 0.4"). */
static json_t *body_of(const char *ref, const char *cur, json_t *extra)
{
	json_t *b = json_pack("{s:{s:s}, s:{s:s}}", "reference", "csv", ref, "current", "csv", cur);
	if (extra) {
		json_object_update(b, extra);
		json_decref(extra);
	}
	return b;
}

/* Parses body (stolen) and expects want, with needle in the message on failure. */
static void parse_expect(json_t *body, enum core_status want, const char *needle)
{
	struct dm_batch b;
	struct core_error err = {{0}};
	char *text = json_dumps(body, JSON_COMPACT);
	enum core_status rc = dm_batch_parse(body, &b, &err);
	ck_assert_msg(rc == want, "%s: %s", text, rc == CORE_OK ? "accepted" : err.message);
	if (needle)
		ck_assert_msg(strstr(err.message, needle), "%s: '%s' lacks '%s'", text, err.message, needle);
	if (rc == CORE_OK)
		dm_batch_clear(&b);
	free(text);
	json_decref(body);
}

START_TEST(body_checks)
{
	struct dm_batch b;
	struct core_error err = {{0}};
	json_t *body = body_of("a\n1\n", "a\n2\n", NULL);
	ck_assert_int_eq(dm_batch_parse(body, &b, &err), CORE_OK);
	ck_assert_double_eq(b.drift_share, 0.5);
	ck_assert_uint_eq(json_object_size(b.columns), 0);
	ck_assert_uint_eq(b.ref_len, 4);
	dm_batch_clear(&b);
	json_decref(body);

	parse_expect(json_pack("{s:{s:s}}", "current", "csv", "a\n1\n"), CORE_EINVAL, "'reference'");
	parse_expect(json_pack("{s:{s:s}, s:{}}", "reference", "csv", "a\n", "current"), CORE_EINVAL, "'current.csv'");
	parse_expect(json_pack("{s:{s:s}, s:{s:i}}", "reference", "csv", "a\n", "current", "csv", 3), CORE_EINVAL,
		     "current.csv: must be a string");
	parse_expect(body_of("", "a\n1\n", NULL), CORE_EINVAL, "reference.csv: is empty");
	/* the dataset form: kept for dataset.c, its form checked here */
	body = json_pack("{s:{s:s}, s:{s:s}}", "reference", "dataset", "iris@1", "current", "dataset", "iris");
	ck_assert_int_eq(dm_batch_parse(body, &b, &err), CORE_OK);
	ck_assert_str_eq(b.ref_dataset, "iris@1");
	ck_assert_str_eq(b.cur_dataset, "iris");
	ck_assert_ptr_null(b.ref_csv);
	ck_assert_ptr_null(b.cur_csv);
	dm_batch_clear(&b);
	json_decref(body);
	body = json_pack("{s:{s:s}, s:{s:s}}", "reference", "csv", "a\n1\n", "current", "dataset",
			 "my-data.v2@0123abcd0123abcd0123abcd0123abcd0123abcd0123abcd0123abcd0123abcd");
	ck_assert_int_eq(dm_batch_parse(body, &b, &err), CORE_OK);
	ck_assert_ptr_null(b.ref_dataset);
	ck_assert_ptr_nonnull(b.ref_csv);
	dm_batch_clear(&b);
	json_decref(body);
	parse_expect(json_pack("{s:{s:s}, s:{s:s}}", "reference", "dataset", "iris@", "current", "csv", "a\n"),
		     CORE_EINVAL, "reference.dataset: '' is not a version");
	parse_expect(json_pack("{s:{s:s}, s:{s:s}}", "reference", "csv", "a\n", "current", "dataset", "../etc@1"),
		     CORE_EINVAL, "current.dataset: '../etc@1' is not \"<name>@<version>\"");
	parse_expect(
		json_pack("{s:{s:s}, s:{s:s}}", "reference", "dataset", "iris@1/manifest", "current", "csv", "a\n"),
		CORE_EINVAL, "reference.dataset: '1/manifest' is not a version");
	parse_expect(json_pack("{s:{s:s}, s:{s:s}}", "reference", "dataset", "@1", "current", "csv", "a\n"),
		     CORE_EINVAL, "reference.dataset");
	parse_expect(json_pack("{s:{s:i}, s:{s:s}}", "reference", "dataset", 1, "current", "csv", "a\n"), CORE_EINVAL,
		     "reference.dataset: must be a string");
	parse_expect(json_pack("{s:{s:s, s:s}, s:{s:s}}", "reference", "csv", "a\n", "dataset", "x@1", "current", "csv",
			       "a\n"),
		     CORE_EINVAL, "not both");
	parse_expect(body_of("a\n1\n", "a\n1\n", json_pack("{s:i}", "colums", 1)), CORE_EINVAL,
		     "colums: unknown field");
	parse_expect(body_of("a\n1\n", "a\n1\n", json_pack("{s:f}", "drift_share", 1.5)), CORE_EINVAL, "drift_share");
	parse_expect(body_of("a\n1\n", "a\n1\n", json_pack("{s:{s:{s:s}}}", "columns", "a", "method", "kss")),
		     CORE_EINVAL, "columns.a.method: unknown stattest 'kss'");
	parse_expect(body_of("a\n1\n", "a\n1\n",
			     json_pack("{s:{s:{s:s, s:f}}}", "columns", "a", "method", "ks", "threshold", 1.5)),
		     CORE_EINVAL, "columns.a.threshold");
	parse_expect(body_of("a\n1\n", "a\n1\n",
			     json_pack("{s:{s:{s:s, s:f}}}", "columns", "a", "method", "psi", "threshold", 1.5)),
		     CORE_OK, NULL);
}
END_TEST

/* The report of two CSV texts (and extra members); expects want. Owned, or NULL. */
static json_t *report(const char *ref, const char *cur, json_t *extra, enum core_status want, const char *needle)
{
	struct dm_batch b;
	struct core_error err = {{0}};
	json_t *body = body_of(ref, cur, extra), *out = NULL;
	ck_assert_msg(dm_batch_parse(body, &b, &err) == CORE_OK, "%s", err.message);
	enum core_status rc = dm_batch_report(&b, &out, &err);
	ck_assert_msg(rc == want, "%s", rc == CORE_OK ? "accepted" : err.message);
	if (needle)
		ck_assert_msg(strstr(err.message, needle), "'%s' lacks '%s'", err.message, needle);
	ck_assert(rc == CORE_OK ? out != NULL : out == NULL);
	dm_batch_clear(&b);
	json_decref(body);
	return out;
}

/* A column of report r by its name. */
static json_t *column(json_t *r, const char *name)
{
	return th_json_find(json_object_get(r, "columns"), "column_name", name);
}

static const char *str(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static double num(json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

/* Two generated samples: x (30 distinct numbers, every tenth cell empty), y (many
 * numbers, the current shifted by 40), n (3 numbers: chisquare or z on values), c (3
 * categories), z (2 categories). */
static void make_csv(char **ref, char **cur, int rows)
{
	static const char *const cats[] = {"a", "b", "c"};
	size_t cap = (size_t)rows * 64 + 64;
	for (int s = 0; s < 2; s++) {
		char *t = malloc(cap);
		size_t n = (size_t)snprintf(t, cap, "x,y,n,c,z\n");
		for (int i = 0; i < rows; i++) {
			char x[16] = "";
			if (i % 10 != 3)
				snprintf(x, sizeof x, "%d", (i * 7 + s * 3) % 30);
			n += (size_t)snprintf(t + n, cap - n, "%s,%g,%d,%s,%s\n", x, 0.5 * i + (s ? 40 : 0),
					      (i + s) % 3, cats[(i * (1 + s)) % 3], i % (2 + s) ? "yes" : "no");
		}
		*(s ? cur : ref) = t;
	}
}

START_TEST(report_columns)
{
	/* x: hand-written so that its values are known to the test */
	const char *ref = "x,c\n1.5,a\n2,b\n,a\n3,a\n4,b\n5,c\n6,a\n7,a\n";
	const char *cur = "c,x\nb,2.5\nb,3\nb,\nc,4\nb,8\nb,9\nc,10\na,11\n";
	json_t *r = report(ref, cur, NULL, CORE_OK, NULL);
	ck_assert_int_eq(num(r, "number_of_columns"), 2);
	json_t *x = column(r, "x"), *c = column(r, "c");
	ck_assert_str_eq(str(x, "column_type"), "num");
	ck_assert_str_eq(str(c, "column_type"), "cat");
	/* 13 distinct numbers over both, 7 reference rows: ks */
	ck_assert_str_eq(str(x, "stattest_name"), "ks");
	ck_assert_double_eq(num(x, "stattest_threshold"), 0.05);
	double xr[] = {1.5, 2, 3, 4, 5, 6, 7}, xc[] = {2.5, 3, 4, 8, 9, 10, 11};
	struct stats_test t;
	ck_assert_int_eq(stats_ks_2samp(xr, 7, xc, 7, &t), CORE_OK);
	ck_assert_double_eq(num(x, "drift_score"), t.pvalue);
	ck_assert_int_eq(json_is_true(json_object_get(x, "drift_detected")), t.pvalue <= 0.05);
	json_t *xd = json_object_get(x, "reference");
	ck_assert_int_eq(num(xd, "count"), 7);
	ck_assert_int_eq(num(xd, "missing"), 1);
	json_t *h = json_object_get(xd, "histogram");
	size_t k = json_array_size(json_object_get(h, "counts"));
	ck_assert_uint_eq(json_array_size(json_object_get(h, "edges")), k + 1);
	ck_assert_double_eq(json_number_value(json_array_get(json_object_get(h, "edges"), 0)), 1.5);
	ck_assert_double_eq(json_number_value(json_array_get(json_object_get(h, "edges"), k)), 11);
	/* c: 3 categories, chisquare on counts a,b,c = 5,2,1 vs 1,5,2 */
	ck_assert_str_eq(str(c, "stattest_name"), "chisquare");
	uint64_t cr[] = {5, 2, 1}, cc[] = {1, 5, 2};
	ck_assert_int_eq(stats_chisquare_evidently(cr, cc, 3, &t), CORE_OK);
	ck_assert_double_eq(num(c, "drift_score"), t.pvalue);
	json_t *vc = json_object_get(json_object_get(c, "current"), "value_counts");
	ck_assert_int_eq(json_integer_value(json_object_get(vc, "b")), 5);
	ck_assert_int_eq(json_integer_value(json_object_get(vc, "a")), 1);
	json_decref(r);

	/* overrides: psi on x with its threshold, TVD on c; drift_share */
	r = report(ref, cur,
		   json_pack("{s:{s:{s:s, s:f}, s:{s:s}}, s:f}", "columns", "x", "method", "psi", "threshold", 0.2, "c",
			     "method", "TVD", "drift_share", 0.5),
		   CORE_OK, NULL);
	x = column(r, "x");
	ck_assert_str_eq(str(x, "stattest_name"), "psi");
	ck_assert_double_eq(num(x, "stattest_threshold"), 0.2);
	struct stats_bins b;
	double psi;
	ck_assert_int_eq(stats_bins_numeric(xr, 7, xc, 7, &b), CORE_OK);
	ck_assert_int_eq(stats_psi(b.ref, b.k, b.cur, b.k, &psi), CORE_OK);
	stats_bins_free(&b);
	ck_assert_double_eq(num(x, "drift_score"), psi);
	ck_assert_int_eq(json_is_true(json_object_get(x, "drift_detected")), psi >= 0.2);
	ck_assert_str_eq(str(column(r, "c"), "stattest_name"), "TVD");
	size_t drifted = (size_t)num(r, "number_of_drifted_columns");
	ck_assert_double_eq(num(r, "share_of_drifted_columns"), drifted / 2.0);
	ck_assert_int_eq(json_is_true(json_object_get(r, "dataset_drift")), drifted >= 1);
	json_decref(r);
}
END_TEST

START_TEST(default_methods)
{
	char *ref, *cur;
	make_csv(&ref, &cur, 200);
	json_t *r = report(ref, cur, NULL, CORE_OK, NULL);
	ck_assert_str_eq(str(column(r, "x"), "column_type"), "num");
	ck_assert_str_eq(str(column(r, "x"), "stattest_name"), "ks");
	ck_assert_int_eq(num(json_object_get(column(r, "x"), "reference"), "missing"), 20);
	ck_assert_str_eq(str(column(r, "y"), "stattest_name"), "ks");
	ck_assert_str_eq(str(column(r, "n"), "column_type"), "num");
	ck_assert_str_eq(str(column(r, "n"), "stattest_name"), "chisquare");
	ck_assert_str_eq(str(column(r, "c"), "stattest_name"), "chisquare");
	ck_assert_str_eq(str(column(r, "z"), "stattest_name"), "z");
	ck_assert(json_is_true(json_object_get(column(r, "y"), "drift_detected")));
	json_decref(r);
	free(ref);
	free(cur);
	/* above 1000 reference rows: wasserstein for many values, jensenshannon for few */
	make_csv(&ref, &cur, 1200);
	r = report(ref, cur, NULL, CORE_OK, NULL);
	ck_assert_str_eq(str(column(r, "y"), "stattest_name"), "wasserstein");
	ck_assert_double_eq(num(column(r, "y"), "stattest_threshold"), 0.1);
	ck_assert_str_eq(str(column(r, "n"), "stattest_name"), "jensenshannon");
	ck_assert_str_eq(str(column(r, "z"), "stattest_name"), "jensenshannon");
	json_decref(r);
	free(ref);
	free(cur);
}
END_TEST

START_TEST(bad_csv)
{
	json_decref(report("a,b\n1,2\n", "a,c,d\n1,2,3\n", NULL, CORE_EINVAL, NULL));
	json_decref(report("a,b\n1,2\n", "a,c,d\n1,2,3\n", NULL, CORE_EINVAL, "missing 'b'; extra 'c', 'd'"));
	json_decref(report("a,b\n1,2\n", "b\n1\n", NULL, CORE_EINVAL, "missing 'a'"));
	json_decref(report("a,b\n1,2\n3\n", "a,b\n1,2\n", NULL, CORE_EINVAL, "reference: line 3 (row 2) has 1 field"));
	json_decref(
		report("a,b\n1,2\n", "a,b\n1,\"2\n", NULL, CORE_EINVAL, "current: line 3: a quoted field never ends"));
	json_decref(report("a,a\n1,2\n", "a,b\n1,2\n", NULL, CORE_EINVAL, "twice"));
	json_decref(report("a,b\n1,\n2,\n", "a,b\n1,2\n", NULL, CORE_EINVAL, "column 'b': no values in the reference"));
	json_decref(report("a,b\n", "a,b\n1,2\n", NULL, CORE_EINVAL, "no values in the reference"));
	json_decref(report("\n", "a\n1\n", NULL, CORE_EINVAL, "reference"));
	json_decref(report("a\n1\n2\n", "a\n1\n3\n", json_pack("{s:{s:{s:s}}}", "columns", "q", "method", "ks"),
			   CORE_EINVAL, "columns.q: no such column"));
	json_decref(report("a\nx\ny\n", "a\nx\nz\n", json_pack("{s:{s:{s:s}}}", "columns", "a", "method", "ks"),
			   CORE_EINVAL, "columns.a.method: ks does not apply to a categorical column"));
	json_decref(report("a\n1\n2\n", "a\n1\n3\n", json_pack("{s:{s:{s:s}}}", "columns", "a", "method", "z"),
			   CORE_EINVAL, "z does not apply to a numerical column"));
	/* "inf", "nan" and hex are not finite numbers as the column reads: categorical */
	json_t *r = report("a\n1\ninf\n", "a\n0x10\n3\n", NULL, CORE_OK, NULL);
	ck_assert_str_eq(str(column(r, "a"), "column_type"), "cat");
	json_decref(r);
	/* one category in both: chisquare has no degree of freedom, drift_score null */
	r = report("a\nx\nx\n", "a\nx\n", json_pack("{s:{s:{s:s}}}", "columns", "a", "method", "chisquare"), CORE_OK,
		   NULL);
	ck_assert(json_is_null(json_object_get(column(r, "a"), "drift_score")));
	ck_assert(json_is_false(json_object_get(column(r, "a"), "drift_detected")));
	json_decref(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("drift-monitor-batch");
	TCase *tc = tcase_create("batch");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, body_checks);
	tcase_add_test(tc, report_columns);
	tcase_add_test(tc, default_methods);
	tcase_add_test(tc, bad_csv);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

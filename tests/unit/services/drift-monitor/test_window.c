/* Unit tests of a monitor's window (window.c) over a reference (refdoc.c): a window
 * holding the same values as a CSV batch reports the same table as POST /v1/drift does
 * (so the stream's numbers are scipy's as the batch's are); events' values read as the
 * columns read them (numbers, numeric text, categories, missing); duplicates by request
 * id, row and role; the memory bounds (reservoir, categories) whatever the traffic;
 * save and load give back the same window, and damaged bytes are refused; a column the
 * window never saw gets a row with no score; a format 1 reference is refused. Linked
 * from libdrift-monitor.a. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/buf.h"
#include "dm.h"
#include "stats/stats.h"
#include "harness_util.h"

static json_t *load(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	ck_assert_msg(j != NULL, "%s: %s", text, e.text);
	return j;
}

/* A reference of a numeric column x (sample ref_x), a categorical column c (counts of
 * "a" and "b") and a classifier's predictions. */
static json_t *reference(const double *ref_x, size_t n, uint64_t a, uint64_t b)
{
	json_t *sample = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(sample, json_real(ref_x[i]));
	json_t *conf = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(conf, json_real(0.5 + 0.5 * (double)i / (double)n));
	return json_pack("{s:i, s:I, s:{s:s}, s:[{s:s, s:s, s:I, s:i, s:o}, {s:s, s:s, s:{s:I, s:I}}], "
			 "s:{s:s, s:[{s:s, s:I}, {s:s, s:I}], s:{s:o}}}",
			 "format_version", 2, "rows", (json_int_t)n, "input", "kind", "tabular", "columns", "name", "x",
			 "type", "numeric", "count", (json_int_t)n, "missing", 0, "sample", sample, "name", "c", "type",
			 "categorical", "value_counts", "a", (json_int_t)a, "b", (json_int_t)b, "predictions", "task",
			 "classification", "classes", "name", "cat", "count", (json_int_t)(n / 2), "name", "dog",
			 "count", (json_int_t)(n - n / 2), "confidence", "sample", conf);
}

static json_t *event(const char *rid, long row, double x, const char *c)
{
	json_t *d = json_pack("{s:s, s:s, s:i, s:s, s:{s:f, s:s}, s:s, s:f}", "model", "m", "version", "1", "row",
			      (int)row, "role", "serve", "features", "x", x, "c", c, "label", row % 3 ? "cat" : "dog",
			      "probability", 0.9);
	json_object_set_new(d, "request_id", rid ? json_string(rid) : json_null());
	return d;
}

static json_t *find_row(json_t *rows, const char *name)
{
	size_t i;
	json_t *r;
	json_array_foreach(rows, i, r)
	{
		if (strcmp(json_string_value(json_object_get(r, "column_name")), name) == 0)
			return r;
	}
	ck_abort_msg("no row %s", name);
	return NULL;
}

START_TEST(window_reports_as_the_batch_does)
{
	struct th_rng rng = {7};
	enum { NREF = 400, NCUR = 300 };
	double ref_x[NREF];
	for (size_t i = 0; i < NREF; i++)
		ref_x[i] = th_nrand(&rng);
	json_t *doc = reference(ref_x, NREF, 150, 250);
	struct dm_ref ref;
	struct core_error err = {{0}};
	ck_assert_msg(dm_ref_parse(doc, &ref, &err) == CORE_OK, "%s", err.message);
	ck_assert_uint_eq(ref.n_cols, 2);
	ck_assert_uint_eq(ref.n_pred, 2);
	ck_assert_str_eq(ref.pred[0].name, "label");
	ck_assert_str_eq(ref.pred[1].name, "confidence");

	/* The same values as two CSV texts: x, and c with a/b counts. */
	struct core_buf rcsv, ccsv;
	core_buf_init(&rcsv, 1 << 20);
	core_buf_init(&ccsv, 1 << 20);
	core_buf_append_str(&rcsv, "x,c\n");
	core_buf_append_str(&ccsv, "x,c\n");
	for (size_t i = 0; i < NREF; i++)
		core_buf_printf(&rcsv, "%.17g,%s\n", ref_x[i], i < 150 ? "a" : "b");

	struct dm_window w;
	dm_window_init(&w, &ref, 1000);
	for (size_t i = 0; i < NCUR; i++) {
		double x = 0.4 + th_nrand(&rng);
		const char *c = i % 4 == 0 ? "a" : i % 4 == 1 ? "c" : "b";
		char rid[32];
		snprintf(rid, sizeof rid, "r%zu", i);
		json_t *e = event(rid, 0, x, c);
		ck_assert_int_eq(dm_window_add(&w, e, 1000 + (int64_t)i), DM_ADDED);
		json_decref(e);
		core_buf_printf(&ccsv, "%.17g,%s\n", x, c);
	}
	ck_assert_uint_eq(w.rows, NCUR);
	ck_assert_int_eq(w.start_ms, 1000);
	ck_assert_int_eq(w.end_ms, 1000 + NCUR - 1);

	json_t *overrides = load("{\"c\": {\"method\": \"psi\"}}");
	json_t *wr = NULL;
	ck_assert_msg(dm_window_report(&w, overrides, 0.5, &wr, &err) == CORE_OK, "%s", err.message);

	json_t *body = json_pack("{s:{s:s}, s:{s:s}, s:O}", "reference", "csv", rcsv.data, "current", "csv", ccsv.data,
				 "columns", overrides);
	struct dm_batch b;
	ck_assert_int_eq(dm_batch_parse(body, &b, &err), CORE_OK);
	json_t *br = NULL;
	ck_assert_msg(dm_batch_report(&b, &br, &err) == CORE_OK, "%s", err.message);
	const char *names[] = {"x", "c"};
	for (int i = 0; i < 2; i++) {
		json_t *a = find_row(json_object_get(wr, "columns"), names[i]);
		json_t *e = find_row(json_object_get(br, "columns"), names[i]);
		ck_assert_str_eq(json_string_value(json_object_get(a, "stattest_name")),
				 json_string_value(json_object_get(e, "stattest_name")));
		double sa = json_real_value(json_object_get(a, "drift_score"));
		double se = json_real_value(json_object_get(e, "drift_score"));
		ck_assert_msg(fabs(sa - se) <= 1e-12 * fmax(1, fabs(se)), "%s: %.17g vs %.17g", names[i], sa, se);
		ck_assert(json_equal(json_object_get(a, "current"), json_object_get(e, "current")));
		ck_assert(json_equal(json_object_get(a, "reference"), json_object_get(e, "reference")));
	}
	ck_assert_str_eq(
		json_string_value(json_object_get(find_row(json_object_get(wr, "columns"), "x"), "stattest_name")),
		"ks");
	ck_assert(json_equal(json_object_get(wr, "dataset_drift"), json_object_get(br, "dataset_drift")));
	/* the predictions: class shares and confidence */
	json_t *pred = json_object_get(json_object_get(wr, "predictions"), "columns");
	ck_assert_uint_eq(json_array_size(pred), 2);
	json_t *label = find_row(pred, "label");
	ck_assert_str_eq(json_string_value(json_object_get(label, "column_type")), "cat");
	ck_assert_int_eq(json_integer_value(json_object_get(
				 json_object_get(json_object_get(label, "current"), "value_counts"), "dog")),
			 NCUR);
	ck_assert(json_is_true(json_object_get(find_row(pred, "confidence"), "drift_detected")));

	json_decref(wr);
	json_decref(br);
	dm_batch_clear(&b);
	json_decref(body);
	json_decref(overrides);
	core_buf_free(&rcsv);
	core_buf_free(&ccsv);
	dm_window_clear(&w);
	dm_ref_free(&ref);
	json_decref(doc);
}
END_TEST

/* A reference of n values 0..n-1 (and a/b counts) parsed into *ref, and an empty window
 * over it. */
static json_t *open_window(size_t n, uint64_t a, uint64_t b, struct dm_ref *ref, struct dm_window *w)
{
	double *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = (double)i;
	json_t *doc = reference(x, n, a, b);
	free(x);
	struct core_error err = {{0}};
	ck_assert_msg(dm_ref_parse(doc, ref, &err) == CORE_OK, "%s", err.message);
	dm_window_init(w, ref, 0);
	return doc;
}

START_TEST(values_duplicates_and_bounds)
{
	struct dm_ref ref;
	struct dm_window w;
	struct core_error err = {{0}};
	json_t *doc = open_window(50, 10, 10, &ref, &w);

	/* a repeat of (request, row, role) is refused; another row or role is not */
	json_t *e = event("req-1", 0, 1.0, "a");
	ck_assert_int_eq(dm_window_add(&w, e, 5), DM_ADDED);
	ck_assert_int_eq(dm_window_add(&w, e, 5), DM_DUPLICATE);
	json_object_set_new(e, "role", json_string("shadow"));
	ck_assert_int_eq(dm_window_add(&w, e, 5), DM_ADDED);
	json_decref(e);
	e = event("req-1", 1, 1.0, "a");
	ck_assert_int_eq(dm_window_add(&w, e, 5), DM_ADDED);
	json_decref(e);
	/* no request id: never a duplicate */
	e = event(NULL, 0, 1.0, "a");
	ck_assert_int_eq(dm_window_add(&w, e, 5), DM_ADDED);
	ck_assert_int_eq(dm_window_add(&w, e, 5), DM_ADDED);
	json_decref(e);
	ck_assert_uint_eq(w.rows, 5);

	/* how values read: numeric text counts, other text and null are missing; a number
	 * in a categorical column is its text */
	e = load("{\"row\": 0, \"features\": {\"x\": \"2.5\", \"c\": 7}, \"label\": \"cat\"}");
	dm_window_add(&w, e, 6);
	json_decref(e);
	e = load("{\"row\": 0, \"features\": {\"x\": \"abc\", \"c\": null}}");
	dm_window_add(&w, e, 6);
	json_decref(e);
	ck_assert_uint_eq(w.cols[0].seen, 6);
	ck_assert_double_eq(w.cols[0].res[5], 2.5);
	ck_assert_uint_eq(w.cols[0].missing, 1);
	ck_assert_uint_eq(w.cols[1].missing, 1);
	bool found7 = false;
	for (size_t j = 0; j < w.cols[1].k; j++)
		found7 |= strcmp(w.cols[1].cats[j].label, "7") == 0;
	ck_assert(found7);
	ck_assert_uint_eq(w.cols[3].missing, 2); /* no probability in the last two events */

	/* the bounds: 3x the reservoir of numbers and more categories than kept */
	for (size_t i = 0; i < 3 * DM_SAMPLE_MAX; i++) {
		char c[32];
		snprintf(c, sizeof c, "v%zu", i % (DM_CATS_MAX + 40));
		e = event(NULL, 0, (double)i, c);
		dm_window_add(&w, e, 7);
		json_decref(e);
	}
	ck_assert_uint_eq(w.cols[0].n_res, DM_SAMPLE_MAX);
	ck_assert_uint_eq(w.cols[0].seen, 3 * DM_SAMPLE_MAX + 6);
	ck_assert_uint_eq(w.cols[1].k, DM_CATS_MAX);
	ck_assert_uint_gt(w.cols[1].other, 0);
	/* the reservoir is a sample of all of them, not only the first */
	double hi = 0;
	for (size_t j = 0; j < w.cols[0].n_res; j++)
		hi = fmax(hi, w.cols[0].res[j]);
	ck_assert_double_gt(hi, 2.0 * DM_SAMPLE_MAX);

	/* the report shows the true counts and the overflow as DM_OTHER */
	json_t *r = NULL;
	ck_assert_msg(dm_window_report(&w, NULL, 0.5, &r, &err) == CORE_OK, "%s", err.message);
	json_t *x = find_row(json_object_get(r, "columns"), "x");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(x, "current"), "count")),
			 3 * DM_SAMPLE_MAX + 6);
	json_decref(r);

	/* save, load, save: the same bytes; a damaged copy is refused */
	struct core_buf a, b2;
	core_buf_init(&a, 64 << 20);
	core_buf_init(&b2, 64 << 20);
	w.partition = 3;
	w.offset = 12345;
	ck_assert_int_eq(dm_window_save(&w, &a), CORE_OK);
	struct dm_window w2;
	ck_assert_msg(dm_window_load(&w2, &ref, a.data, a.len, &err) == CORE_OK, "%s", err.message);
	ck_assert_int_eq(w2.partition, 3);
	ck_assert_int_eq(w2.offset, 12345);
	ck_assert_int_eq(dm_window_save(&w2, &b2), CORE_OK);
	ck_assert_uint_eq(a.len, b2.len);
	ck_assert(memcmp(a.data, b2.data, a.len) == 0);
	/* the loaded window still knows its duplicates */
	e = event("req-1", 1, 1.0, "a");
	ck_assert_int_eq(dm_window_add(&w2, e, 5), DM_DUPLICATE);
	json_decref(e);
	dm_window_clear(&w2);
	struct dm_window w3;
	ck_assert_int_eq(dm_window_load(&w3, &ref, a.data, a.len - 3, &err), CORE_EINVAL);
	ck_assert_int_eq(dm_window_load(&w3, &ref, "XXXX", 4, &err), CORE_EINVAL);
	a.data[4] ^= 1; /* the column count */
	ck_assert_int_eq(dm_window_load(&w3, &ref, a.data, a.len, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "damaged"));
	core_buf_free(&a);
	core_buf_free(&b2);

	/* restart: an empty window that still refuses old duplicates */
	dm_window_restart(&w, 100);
	ck_assert_uint_eq(w.rows, 0);
	ck_assert_uint_eq(w.cols[0].n_res, 0);
	e = event("req-1", 0, 1.0, "a");
	ck_assert_int_eq(dm_window_add(&w, e, 5), DM_DUPLICATE);
	json_decref(e);
	dm_window_clear(&w);
	dm_ref_free(&ref);
	json_decref(doc);
}
END_TEST

START_TEST(unseen_column_and_bad_references)
{
	struct dm_ref ref;
	struct dm_window w;
	struct core_error err = {{0}};
	json_t *doc = open_window(20, 5, 5, &ref, &w);
	json_t *e = load("{\"row\": 0, \"features\": {\"x\": 3}, \"label\": \"cat\", \"probability\": 0.7}");
	dm_window_add(&w, e, 1);
	json_decref(e);
	json_t *r = NULL;
	ck_assert_msg(dm_window_report(&w, NULL, 0.5, &r, &err) == CORE_OK, "%s", err.message);
	json_t *c = find_row(json_object_get(r, "columns"), "c");
	ck_assert(json_is_null(json_object_get(c, "drift_score")));
	ck_assert(json_is_false(json_object_get(c, "drift_detected")));
	ck_assert_ptr_nonnull(json_object_get(c, "note"));
	json_decref(r);
	dm_window_clear(&w);
	dm_ref_free(&ref);

	/* format 1 (no columns), a column without a sample, a column twice */
	json_t *bad[] = {
		load("{\"format_version\": 1, \"input\": {\"kind\": \"tabular\", \"features\": []}}"),
		load("{\"columns\": [{\"name\": \"x\", \"type\": \"numeric\"}]}"),
		load("{\"columns\": [{\"name\": \"x\", \"type\": \"numeric\", \"sample\": [1]}, {\"name\": \"x\", "
		     "\"type\": \"numeric\", \"sample\": [2]}]}"),
		load("{\"columns\": [{\"name\": \"c\", \"type\": \"categorical\", \"value_counts\": {\"a\": -1}}]}"),
		load("{\"columns\": [{\"name\": \"c\", \"type\": \"text\"}]}"),
	};
	const char *why[] = {"format_version 2", "sample", "twice", "not a count", "numeric or categorical"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(dm_ref_parse(bad[i], &ref, &err), CORE_EINVAL);
		ck_assert_msg(strstr(err.message, why[i]), "%zu: %s", i, err.message);
		json_decref(bad[i]);
	}
	json_decref(doc);
}
END_TEST

/* The dedupe key is the hash of the bytes printf wrote before (saved windows hold
 * keys made that way): request ids of every length up to past the 400-byte cut, rows
 * negative, zero and large, roles present, absent and past the 64-byte cut. */
START_TEST(event_keys_match_the_printf_form)
{
	static char text[1024];
	unsigned short seed[3] = {0x5eed, 0x0d1f, 0x0042};
	for (size_t i = 0; i < sizeof text; i++)
		text[i] = (char)('a' + nrand48(seed) % 26);
	for (int i = 0; i < 20000; i++) {
		struct dm_event ev;
		dm_event_init(&ev);
		ev.request_id = (struct dm_str){text + nrand48(seed) % 100, 1 + (size_t)(nrand48(seed) % 450)};
		long long rows[] = {0,
				    1,
				    -1,
				    7,
				    123456789012345LL,
				    -9223372036854775807LL - 1,
				    9223372036854775807LL,
				    (long long)nrand48(seed) - (1LL << 30)};
		ev.row = rows[i % 8];
		if (i % 3)
			ev.role = (struct dm_str){text + 500 + nrand48(seed) % 100, (size_t)(nrand48(seed) % 80)};
		char buf[512];
		int n = snprintf(buf, sizeof buf, "%.*s%c%lld%c%.*s",
				 (int)(ev.request_id.n < 400 ? ev.request_id.n : 400), ev.request_id.p, 0,
				 (long long)ev.row, 0, (int)(ev.role.n < 64 ? ev.role.n : 64),
				 ev.role.p ? ev.role.p : "");
		uint64_t want = stats_hash64(buf, (size_t)n);
		ck_assert_uint_eq(dm_window_event_key(&ev), want ? want : 1);
		dm_event_free(&ev);
	}
}
END_TEST

static Suite *window_suite(void)
{
	Suite *s = suite_create("drift-monitor-window");
	TCase *tc = tcase_create("window");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, window_reports_as_the_batch_does);
	tcase_add_test(tc, values_duplicates_and_bounds);
	tcase_add_test(tc, unseen_column_and_bad_references);
	tcase_add_test(tc, event_keys_match_the_printf_form);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(window_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

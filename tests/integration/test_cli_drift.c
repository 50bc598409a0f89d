/* Integration tests of `lathe drift` (cli/drift.c): the built lathe binary against a
 * real lathe-drift-monitor and the data registry it reads versions from.
 *   - compare: two CSV versions give the table (every column with its type, method,
 *     threshold, score and verdict, DRIFT where the data were drawn to drift, ok where
 *     not, the cells of each column starting at the same place on every line) and the
 *     dataset verdict; --column and --drift-share reach the server; --json prints the
 *     answer POST /v1/drift gives; an unknown version exits 1 with the server's 404
 *     quoted; bad usage exits 2;
 *   - report: a report row written in SQL (the window slice will write them) is printed
 *     as its summary (model, version, window, lineage, verdict) and its feature and
 *     prediction tables; --json prints the report; an unknown id exits 1 naming it, a
 *     malformed one 2. */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness_cli.h"
#include "harness_db.h"
#include "harness_trainer.h"
#include "harness.h"
#include "harness_util.h"

static struct th_daemon *dr, *dm;
static char env[160];

static const char *const colors[] = {"red", "green", "blue"};

/* rows rows: same ~ N(0, 1), shift ~ N(mu, 1), color with the shares of w (cumulative). */
static char *sample(struct th_rng *g, int rows, double mu, const double w[3])
{
	size_t cap = (size_t)rows * 64 + 32, n = 0;
	char *t = malloc(cap);
	ck_assert_ptr_nonnull(t);
	n += (size_t)snprintf(t, cap, "same,shift,color\n");
	for (int i = 0; i < rows; i++) {
		double u = th_urand(g);
		int c = u < w[0] ? 0 : u < w[1] ? 1 : 2;
		n += (size_t)snprintf(t + n, cap - n, "%.10g,%.10g,%s\n", th_nrand(g), mu + th_nrand(g), colors[c]);
	}
	return t;
}

static void setup(void)
{
	static const char *const dr_env[] = {"PROFILE_POLL_MS=50", NULL};
	dr = th_daemon_start("data-registry", NULL, dr_env);
	char *url = th_fmt("DATA_REGISTRY_URL=%s", dr->base_url);
	const char *dm_env[] = {url, NULL};
	dm = th_daemon_start("drift-monitor", NULL, dm_env);
	free(url);
	snprintf(env, sizeof env, "LATHE_DRIFT_URL='%s'", dm->base_url);
}

static void teardown(void)
{
	th_daemon_stop(dm);
	th_daemon_stop(dr);
}

static void expect_out(const struct th_run *r, const char *needle)
{
	ck_assert_msg(strstr(r->out, needle), "stdout lacks '%s':\n%s\nstderr: %s", needle, r->out, r->err);
}

/* The line of the table whose first cell is name (the line's start), or NULL. */
static const char *table_line(const char *out, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			return p;
	return NULL;
}

/* The offset of the cell after skip cells in line (cells are separated by 2+ spaces). */
static long cell_at(const char *line, int skip)
{
	const char *p = line;
	for (int i = 0; i < skip; i++) {
		p += strcspn(p, " \n");
		p += strspn(p, " ");
	}
	return (long)(p - line);
}

/* The row of name in the first table of text: its method and verdict are these, and
 * every cell starts where the header's does. */
static void expect_row(const char *text, const char *name, const char *method, const char *verdict)
{
	const char *head = table_line(text, "COLUMN"), *line = table_line(text, name);
	ck_assert_msg(head && line, "no header or no row '%s':\n%s", name, text);
	for (int c = 1; c < 6; c++)
		ck_assert_msg(cell_at(line, c) == cell_at(head, c), "row '%s', cell %d is not under its header:\n%s",
			      name, c, text);
	ck_assert_msg(strncmp(line + cell_at(line, 2), method, strlen(method)) == 0, "row '%s': not %s:\n%s", name,
		      method, text);
	ck_assert_msg(strncmp(line + cell_at(line, 5), verdict, strlen(verdict)) == 0, "row '%s': not %s:\n%s", name,
		      verdict, text);
}

START_TEST(compare_prints_the_table)
{
	struct th_rng g = {0xc11d71f7u};
	const double w_ref[3] = {0.5, 0.8, 1.0}, w_cur[3] = {0.2, 0.5, 1.0};
	char *ref = sample(&g, 300, 0, w_ref), *cur = sample(&g, 300, 1.0, w_cur);
	th_trainer_push_csv(dr, "sales", ref, NULL);
	th_trainer_push_csv(dr, "sales", cur, NULL);
	struct th_run r;

	th_lathe(&r, env, "drift compare sales@1 sales@latest");
	th_lathe_expect_exit(&r, 0, "compare");
	expect_out(&r, "reference:     sales@1\ncurrent:       sales@latest\n");
	expect_out(&r, "dataset drift: YES (2 of 3 columns drifted: share 0.667 >= drift_share 0.5)");
	expect_out(&r, "COLUMN  TYPE  METHOD     THRESHOLD  SCORE");
	expect_row(r.out, "same", "ks", "ok");
	expect_row(r.out, "shift", "ks", "DRIFT");
	expect_row(r.out, "color", "chisquare", "DRIFT");
	ck_assert_ptr_nonnull(strstr(table_line(r.out, "color"), "cat "));
	ck_assert_ptr_nonnull(strstr(table_line(r.out, "same"), "num "));
	ck_assert_ptr_nonnull(strstr(table_line(r.out, "same"), "0.05 "));

	th_lathe(&r, env,
		 "drift compare sales@1 sales@2 --column shift=wasserstein:0.3 --column 'color=psi' "
		 "--column same=:0.01 --drift-share 0.9");
	th_lathe_expect_exit(&r, 0, "compare with overrides");
	expect_row(r.out, "shift", "wasserstein", "DRIFT");
	expect_row(r.out, "color", "psi", "DRIFT");
	ck_assert_ptr_nonnull(strstr(table_line(r.out, "shift"), " 0.3 "));
	ck_assert_ptr_nonnull(strstr(table_line(r.out, "same"), " 0.01 "));
	expect_out(&r, "dataset drift: no (2 of 3 columns drifted: share 0.667 < drift_share 0.9)");

	/* --json: what the server answers */
	th_lathe(&r, env, "drift compare sales@1 sales@2 --json");
	th_lathe_expect_exit(&r, 0, "compare --json");
	json_t *printed = json_loads(r.out, 0, NULL);
	ck_assert_msg(printed, "not JSON: %s", r.out);
	json_t *want = th_ok(dm, "POST", "/v1/drift",
			     "{\"reference\": {\"dataset\": \"sales@1\"}, \"current\": {\"dataset\": \"sales@2\"}}");
	ck_assert(json_equal(printed, want));
	json_decref(printed);
	json_decref(want);

	/* failures: the server's words, exit 1; usage, exit 2 */
	th_lathe(&r, env, "drift compare sales@1 nope@1");
	th_lathe_expect_exit(&r, 1, "an unknown dataset");
	ck_assert_msg(strstr(r.err, "404 RESOURCE_DOES_NOT_EXIST") && strstr(r.err, "current.dataset: 'nope@1'"), "%s",
		      r.err);
	th_lathe(&r, env, "drift compare sales@1 sales@2 --column shift=kss");
	th_lathe_expect_exit(&r, 1, "an unknown stattest");
	ck_assert_msg(strstr(r.err, "columns.shift.method: unknown stattest 'kss'"), "%s", r.err);
	th_lathe(&r, env, "drift compare sales@1");
	th_lathe_expect_exit(&r, 2, "one version");
	th_lathe(&r, env, "drift compare sales@1 sales@2 --column shift");
	th_lathe_expect_exit(&r, 2, "a --column without =");
	th_lathe(&r, env, "drift compare sales@1 sales@2 --drift-share half");
	th_lathe_expect_exit(&r, 2, "--drift-share half");
	th_lathe(&r, env, "drift frobnicate");
	th_lathe_expect_exit(&r, 2, "an unknown verb");
	th_lathe(&r, "LATHE_DRIFT_URL='http://127.0.0.1:1'", "drift compare sales@1 sales@2");
	th_lathe_expect_exit(&r, 1, "no daemon");
	ck_assert_msg(strstr(r.err, "cannot reach"), "%s", r.err);
	free(ref), free(cur);
}
END_TEST

/* A report document as the window slice writes it (docs: the report's shape). */
static const char *const report_doc =
	"{\"columns\": ["
	"{\"column_name\": \"petal_length\", \"column_type\": \"num\", \"stattest_name\": \"ks\", "
	"\"stattest_threshold\": 0.05, \"drift_score\": 0.000123, \"drift_detected\": true, "
	"\"reference\": {\"count\": 100, \"missing\": 0}, \"current\": {\"count\": 500, \"missing\": 0}}, "
	"{\"column_name\": \"sepal_width_in_centimetres\", \"column_type\": \"num\", \"stattest_name\": \"psi\", "
	"\"stattest_threshold\": 0.2, \"drift_score\": 0.0312, \"drift_detected\": false, "
	"\"reference\": {\"count\": 100, \"missing\": 0}, \"current\": {\"count\": 500, \"missing\": 0}}], "
	"\"number_of_columns\": 2, \"number_of_drifted_columns\": 1, \"share_of_drifted_columns\": 0.5, "
	"\"drift_share\": 0.5, \"dataset_drift\": true, "
	"\"predictions\": {\"columns\": ["
	"{\"column_name\": \"label\", \"column_type\": \"cat\", \"stattest_name\": \"chisquare\", "
	"\"stattest_threshold\": 0.05, \"drift_score\": 0.5, \"drift_detected\": false, "
	"\"reference\": {\"count\": 100, \"missing\": 0}, \"current\": {\"count\": 500, \"missing\": 0}}, "
	"{\"column_name\": \"confidence\", \"column_type\": \"num\", \"stattest_name\": \"ks\", "
	"\"stattest_threshold\": 0.05, \"drift_score\": null, \"drift_detected\": false, "
	"\"reference\": {\"count\": 100, \"missing\": 0}, \"current\": {\"count\": 500, \"missing\": 0}}]}, "
	"\"window\": {\"start\": 1765015200000, \"end\": 1765018800000, \"rows\": 500, \"size\": 500}, "
	"\"lineage\": {\"model\": \"iris\", \"version\": \"3\", \"run_id\": \"r123\", \"dataset\": \"iris\", "
	"\"dataset_version\": \"2\"}}";

START_TEST(report_prints_the_summary)
{
	struct th_response c =
		th_call(dm, "POST", "/v1/monitors", "{\"model\": \"iris\", \"window\": {\"size\": 500}}");
	ck_assert_msg(c.status == 201, "%ld %s", c.status, c.body);
	char *monitor = strdup(json_string_value(json_object_get(json_object_get(c.json, "monitor"), "id")));
	th_response_free(&c);
	const char *id = "0123456789abcdef0123456789abcdef";
	char *insert = th_fmt("INSERT INTO reports (id, monitor_id, model, model_version, window_start, window_end, "
			      "rows, dataset_drift, share_of_drifted_columns, report, created_at) VALUES ('%s', '%s', "
			      "'iris', '3', 1765015200000, 1765018800000, 500, true, 0.5, '%s', 1765018800123)",
			      id, monitor, report_doc);
	free(th_sql(dm, "drift", insert));
	free(insert);
	struct th_run r;
	char *args = th_fmt("drift report %s", id);
	th_lathe(&r, env, args);
	th_lathe_expect_exit(&r, 0, "report");
	char *want =
		th_fmt("report:        %s\n"
		       "model:         iris, version 3\n"
		       "monitor:       %s\n"
		       "window:        2025-12-06 10:00:00Z to 2025-12-06 11:00:00Z, 500 rows (a window of 500 rows)\n"
		       "created:       2025-12-06 11:00:00Z\n"
		       "lineage:       run r123, dataset iris@2\n"
		       "dataset drift: YES (1 of 2 columns drifted: share 0.5 >= drift_share 0.5)\n"
		       "\nfeatures\n",
		       id, monitor);
	ck_assert_msg(strncmp(r.out, want, strlen(want)) == 0, "got:\n%s\nwant:\n%s", r.out, want);
	free(want);
	expect_row(r.out, "petal_length", "ks", "DRIFT");
	expect_row(r.out, "sepal_width_in_centimetres", "psi", "ok");
	ck_assert_ptr_nonnull(strstr(table_line(r.out, "petal_length"), " 0.000123 "));
	expect_out(&r, "\npredictions\n");
	const char *preds = strstr(r.out, "\npredictions\n") + 13;
	ck_assert_ptr_nonnull(table_line(preds, "COLUMN"));
	expect_row(preds, "label", "chisquare", "ok");
	expect_row(preds, "confidence", "ks", "ok");
	ck_assert_ptr_nonnull(strstr(table_line(preds, "confidence"), " - ")); /* a null score */

	free(args);
	args = th_fmt("drift report %s --json", id);
	th_lathe(&r, env, args);
	th_lathe_expect_exit(&r, 0, "report --json");
	json_t *printed = json_loads(r.out, 0, NULL);
	ck_assert_msg(printed, "not JSON: %s", r.out);
	ck_assert_str_eq(json_string_value(json_object_get(printed, "id")), id);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(printed, "result"), "number_of_columns")),
			 2);
	json_decref(printed);

	/* an unknown id: exit 1 naming it; a malformed one: usage */
	th_lathe(&r, env, "drift report ffffffffffffffffffffffffffffffff");
	th_lathe_expect_exit(&r, 1, "an unknown report");
	ck_assert_msg(strstr(r.err, "404 RESOURCE_DOES_NOT_EXIST") &&
			      strstr(r.err, "Report 'ffffffffffffffffffffffffffffffff' not found"),
		      "%s", r.err);
	ck_assert_str_eq(r.out, "");
	th_lathe(&r, env, "drift report 12345");
	th_lathe_expect_exit(&r, 2, "a malformed id");
	ck_assert_msg(strstr(r.err, "'12345' is not a report id"), "%s", r.err);
	th_lathe(&r, env, "drift report");
	th_lathe_expect_exit(&r, 2, "no id");
	free(args);
	free(monitor);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	Suite *s = suite_create("cli-drift");
	TCase *tc = tcase_create("cli");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, compare_prints_the_table);
	tcase_add_test(tc, report_prints_the_summary);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

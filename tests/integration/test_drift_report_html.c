/* Integration test of the drift report page (GET /v1/reports/{id}.html) in a real
 * browser: lathe-drift-monitor with the run's PostgreSQL, and Debian's Chromium
 * headless (`make deps` installs it).
 *   - the report is made as the window slice will write it: its columns and its
 *     predictions are the daemon's own tables for two generated CSV samples (POST
 *     /v1/drift: numerical and categorical columns, one named <script>x</script>&"),
 *     with a window and a lineage beside them, inserted in SQL under a monitor;
 *   - the page is negotiated: {id}.html, or Accept preferring text/html (a browser's),
 *     answers text/html with a policy that lets nothing run or load; no Accept, * / *
 *     and application/json answer JSON; an unknown id is the JSON 404 either way;
 *   - Chromium loads the page: its DOM has the title, the dataset verdict, a row, a
 *     verdict and a chart per column as the JSON says, the hostile name as text and no
 *     script; its screenshot shows both bar colours, so the charts were drawn. */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "harness_data.h"
#include "harness_db.h"
#include "harness_util.h"
#include "harness.h"

#define CHROMIUM       "/usr/bin/chromium"
#define REPORT_ID      "0123456789abcdef0123456789abcdef"
#define BROWSER_ACCEPT "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
/* The hostile column as a CSV header cell (quotes doubled) and as its name. */
#define HOSTILE_CSV  "\"<script>x</script>&\"\"\""
#define HOSTILE_NAME "<script>x</script>&\""

static struct th_daemon *d;

static void setup(void)
{
	d = th_daemon_start("drift-monitor", NULL, NULL);
}

static void teardown(void)
{
	th_daemon_stop(d);
}

/* Features: a numerical column moved by shift, one unmoved, a colour whose shares move
 * when shift is not 0, and the hostile column (two values, unmoved). */
static char *features_csv(struct th_rng *g, int rows, double shift)
{
	const char *colors[] = {"red", "green", "blue"};
	size_t cap = (size_t)rows * 96 + 128, n = 0;
	char *t = malloc(cap);
	ck_assert_ptr_nonnull(t);
	n += (size_t)snprintf(t + n, cap - n, "sepal_length,petal_width,color," HOSTILE_CSV "\n");
	for (int i = 0; i < rows; i++) {
		double u = th_urand(g);
		int c = shift != 0 ? (u < 0.2 ? 0 : u < 0.4 ? 1 : 2) : (u < 0.5 ? 0 : u < 0.8 ? 1 : 2);
		n += (size_t)snprintf(t + n, cap - n, "%.6f,%.6f,%s,%s\n", 5.8 + 0.8 * th_nrand(g) + shift,
				      1.2 + 0.4 * th_nrand(g), colors[c], th_urand(g) < 0.5 ? "a" : "b");
	}
	return t;
}

/* Predictions: the class and the model's confidence. */
static char *predictions_csv(struct th_rng *g, int rows, double shift)
{
	const char *labels[] = {"setosa", "versicolor", "virginica"};
	size_t cap = (size_t)rows * 48 + 64, n = 0;
	char *t = malloc(cap);
	ck_assert_ptr_nonnull(t);
	n += (size_t)snprintf(t + n, cap - n, "label,confidence\n");
	for (int i = 0; i < rows; i++)
		n += (size_t)snprintf(t + n, cap - n, "%s,%.4f\n", labels[(int)(th_urand(g) * 3)],
				      0.9 - shift * th_urand(g) * 0.3);
	return t;
}

/* POST /v1/drift of the two samples: the report's table (owned). Both texts freed. */
static json_t *drift_of(char *ref, char *cur)
{
	json_t *b = json_pack("{s:{s:s}, s:{s:s}}", "reference", "csv", ref, "current", "csv", cur);
	char *body = json_dumps(b, JSON_COMPACT);
	json_t *r = th_ok(d, "POST", "/v1/drift", body);
	free(body);
	json_decref(b);
	free(ref);
	free(cur);
	return r;
}

/* text as a PostgreSQL string literal's body (quotes doubled); malloc'd. */
static char *sql_quoted(const char *text)
{
	size_t n = 0;
	char *out = malloc(2 * strlen(text) + 1);
	ck_assert_ptr_nonnull(out);
	for (const char *p = text; *p; p++) {
		out[n++] = *p;
		if (*p == '\'')
			out[n++] = '\'';
	}
	out[n] = '\0';
	return out;
}

/* The report's document, written under a new monitor of iris as the window slice will
 * write it; returns the document (owned). */
static json_t *write_report(void)
{
	struct th_rng g = {0x68746d6cu};
	json_t *doc = drift_of(features_csv(&g, 240, 0), features_csv(&g, 160, 1.2));
	json_t *pred = drift_of(predictions_csv(&g, 240, 0), predictions_csv(&g, 160, 1));
	json_object_set_new(doc, "predictions", json_pack("{s:O}", "columns", json_object_get(pred, "columns")));
	json_decref(pred);
	json_object_set_new(doc, "window",
			    json_pack("{s:I, s:I, s:i, s:i}", "start", (json_int_t)1700000000000, "end",
				      (json_int_t)1700000600000, "rows", 160, "size", 160));
	json_object_set_new(doc, "lineage",
			    json_pack("{s:s, s:s, s:s, s:s, s:n}", "model", "iris", "version", "3", "run_id",
				      "9f1c0ffee", "dataset", "iris-data", "dataset_version"));

	struct th_response r = th_call(d, "POST", "/v1/monitors", "{\"model\": \"iris\"}");
	ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
	const char *monitor = json_string_value(json_object_get(json_object_get(r.json, "monitor"), "id"));
	char *text = json_dumps(doc, JSON_COMPACT), *quoted = sql_quoted(text);
	char *insert = th_fmt("INSERT INTO reports (id, monitor_id, model, model_version, window_start, window_end, "
			      "rows, dataset_drift, share_of_drifted_columns, report, created_at) VALUES ('" REPORT_ID
			      "', '%s', 'iris', '3', 1700000000000, 1700000600000, 160, %s, %.17g, '%s', "
			      "1700000601000)",
			      monitor, json_is_true(json_object_get(doc, "dataset_drift")) ? "true" : "false",
			      json_number_value(json_object_get(doc, "share_of_drifted_columns")), quoted);
	free(th_sql(d, "drift", insert));
	free(insert);
	free(quoted);
	free(text);
	th_response_free(&r);
	return doc;
}

/* GET path with an Accept header (NULL: none); the reply's header want into value. */
static struct th_response get(const char *path, const char *accept, const char *want, char *value, size_t size)
{
	char *url = th_fmt("%s%s", d->base_url, path), *header = accept ? th_fmt("Accept: %s", accept) : NULL;
	struct th_response r = th_data_http("GET", url, NULL, NULL, 0, header, want, value, size);
	free(header);
	free(url);
	return r;
}

/* Drifted rows among the table's rows, and the rows. */
static size_t drifted(json_t *table, size_t *rows)
{
	size_t n = 0, i;
	json_t *row;
	*rows = json_array_size(json_object_get(table, "columns"));
	json_array_foreach(json_object_get(table, "columns"), i, row) n +=
		json_is_true(json_object_get(row, "drift_detected"));
	return n;
}

START_TEST(json_or_page_by_path_and_accept)
{
	json_decref(write_report());
	char value[256];
	const char *path = "/v1/reports/" REPORT_ID, *page = "/v1/reports/" REPORT_ID ".html";
	/* JSON: no Accept, anything, JSON asked for, or JSON preferred to HTML */
	const char *json_accepts[] = {NULL, "*/*", "application/json", "text/html;q=0.5, application/json",
				      "application/json, text/html"};
	for (size_t i = 0; i < sizeof json_accepts / sizeof json_accepts[0]; i++) {
		struct th_response r = get(path, json_accepts[i], "Content-Type", value, sizeof value);
		ck_assert_msg(r.status == 200 && strcmp(value, "application/json") == 0, "Accept %s: %ld %s",
			      json_accepts[i] ? json_accepts[i] : "(none)", r.status, value);
		ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "report"), "id")),
				 REPORT_ID);
		th_response_free(&r);
	}
	struct th_response r = get(path, NULL, "Vary", value, sizeof value);
	ck_assert_str_eq(value, "Accept");
	th_response_free(&r);
	/* the page: by path (whatever Accept says), or by a browser's Accept */
	const char *html_ways[][2] = {
		{page, NULL}, {page, "application/json"}, {path, BROWSER_ACCEPT}, {path, "text/html"}};
	for (size_t i = 0; i < sizeof html_ways / sizeof html_ways[0]; i++) {
		r = get(html_ways[i][0], html_ways[i][1], "Content-Type", value, sizeof value);
		ck_assert_msg(r.status == 200, "%s: %ld %s", html_ways[i][0], r.status, r.body);
		ck_assert_str_eq(value, "text/html; charset=utf-8");
		ck_assert_msg(strncmp(r.body, "<!DOCTYPE html>", 15) == 0, "%s", r.body);
		th_expect_has(r.body, "<h1>Drift report: iris version 3</h1>");
		ck_assert_ptr_null(r.json);
		th_response_free(&r);
	}
	r = get(page, NULL, "Content-Security-Policy", value, sizeof value);
	ck_assert_str_eq(value, "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
	th_response_free(&r);
	/* an unknown report is the JSON 404 either way */
	const char *unknown[][2] = {{"/v1/reports/ffffffffffffffffffffffffffffffff.html", NULL},
				    {"/v1/reports/ffffffffffffffffffffffffffffffff", BROWSER_ACCEPT},
				    {"/v1/reports/.html", NULL}};
	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
		r = get(unknown[i][0], unknown[i][1], "Content-Type", value, sizeof value);
		th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", "not found");
		ck_assert_str_eq(value, "application/json");
		th_response_free(&r);
	}
}
END_TEST

/* Runs Chromium headless on the page with extra flags; returns its stdout (owned). */
static char *chromium(const char *flags)
{
	ck_assert_msg(access(CHROMIUM, X_OK) == 0,
		      CHROMIUM " is missing: `make deps` installs it (Debian's chromium package)");
	const char *tmp = th_env("LATHE_TEST_TMP");
	char *cmd = th_fmt("timeout 120 " CHROMIUM " --headless --disable-gpu --no-sandbox --no-first-run "
			   "--disable-background-networking --user-data-dir=%s/chromium-%d %s %s/v1/reports/" REPORT_ID
			   ".html 2>>%s/chromium-%d.log",
			   tmp, (int)getpid(), flags, d->base_url, tmp, (int)getpid());
	int status;
	char *out = th_run_output(cmd, &status);
	ck_assert_msg(status == 0, "%s: status %d (its stderr: %s/chromium-%d.log)", cmd, status, tmp, (int)getpid());
	free(cmd);
	return out;
}

/* Counts of the pixels near each bar colour in the PNG at path, by Debian's Python PIL. */
static const char *const colours_py = "import sys\n"
				      "from PIL import Image\n"
				      "im = Image.open(sys.argv[1] + '/report.png').convert('RGB')\n"
				      "def near(p, c): return all(abs(a - b) <= 8 for a, b in zip(p, c))\n"
				      "px = list(im.getdata())\n"
				      "print(im.size[0], im.size[1], sum(near(p, (0x7b, 0x8f, 0xc4)) for p in px), "
				      "sum(near(p, (0xf0, 0x8a, 0x4b)) for p in px))\n";

START_TEST(chromium_renders_the_page)
{
	json_t *doc = write_report();
	size_t n_features, n_predictions;
	size_t n_drifted = drifted(doc, &n_features) + drifted(json_object_get(doc, "predictions"), &n_predictions);
	ck_assert_uint_eq(n_features, 4);
	th_json_find(json_object_get(doc, "columns"), "column_name", HOSTILE_NAME); /* the CSV's name, unquoted */
	ck_assert_uint_eq(n_predictions, 2);
	ck_assert_int_gt(n_drifted, 0);

	char *dom = chromium("--dump-dom");
	th_expect_has(
		dom,
		"<title>Drift report: iris version 3, 2023-11-14T22:13:20.000Z to 2023-11-14T22:23:20.000Z</title>");
	th_expect_has(dom, json_is_true(json_object_get(doc, "dataset_drift")) ? "Dataset drift detected"
									       : "No dataset drift");
	char *of = th_fmt("%lld of 4 columns drifted",
			  (long long)json_integer_value(json_object_get(doc, "number_of_drifted_columns")));
	th_expect_has(dom, of);
	free(of);
	/* a row, a chart and a verdict per feature and per prediction output */
	ck_assert_uint_eq(th_count(dom, "<tr><th scope=\"row\">"), n_features + n_predictions);
	ck_assert_uint_eq(th_count(dom, "<svg class=\"chart\""), n_features + n_predictions);
	ck_assert_uint_eq(th_count(dom, ">Drift detected</td>"), n_drifted);
	ck_assert_uint_eq(th_count(dom, ">No drift</td>"), n_features + n_predictions - n_drifted);
	const char *names[] = {"sepal_length", "petal_width", "color", "label", "confidence"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		char *cell = th_fmt("<tr><th scope=\"row\">%s</th>", names[i]);
		th_expect_has(dom, cell);
		free(cell);
	}
	/* the hostile name is text in the DOM: no element, no script */
	th_expect_has(dom, "<th scope=\"row\">&lt;script&gt;x&lt;/script&gt;&amp;\"</th>");
	ck_assert_msg(!strstr(dom, "<script"), "a script element in:\n%s", dom);
	th_expect_has(dom, "<h2>Lineage</h2>");
	th_expect_has(dom, "<dd>9f1c0ffee</dd>");
	free(dom);

	/* the screenshot shows both bar colours: the charts were drawn */
	const char *tmp = th_env("LATHE_TEST_TMP");
	char *dir = th_fmt("%s/drift-html-%d", tmp, (int)getpid());
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	char *flags = th_fmt("--window-size=1280,1500 --hide-scrollbars --screenshot=%s/report.png", dir);
	free(chromium(flags));
	char *out = th_python_fixtures(dir, colours_py);
	int width = 0, height = 0;
	long blue = 0, orange = 0;
	ck_assert_int_eq(sscanf(out, "%d %d %ld %ld", &width, &height, &blue, &orange), 4);
	ck_assert_int_eq(width, 1280);
	ck_assert_msg(blue > 200 && orange > 200, "bar pixels: reference %ld, current %ld (%s/report.png)", blue,
		      orange, dir);
	fprintf(stderr, "drift report screenshot: %s/report.png (%ld reference, %ld current bar pixels)\n", dir, blue,
		orange);
	free(out);
	free(flags);
	free(dir);
	json_decref(doc);
}
END_TEST

static Suite *html_suite(void)
{
	Suite *s = suite_create("drift-report-html");
	TCase *tc = tcase_create("html");
	tcase_set_timeout(tc, 180);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, json_or_page_by_path_and_accept);
	tcase_add_test(tc, chromium_renders_the_page);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	SRunner *sr = srunner_create(html_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Unit tests of the report page (html.c, dm_report_html), the pure part of
 * GET /v1/reports/{id}.html:
 *   - a report with a numerical and a categorical column, predictions, lineage and
 *     window gives one page with the title, the dataset verdict, a table row and a chart
 *     per column, and the charts draw shares, not counts;
 *   - text from the document is HTML-escaped everywhere it appears (a column named
 *     <script>x</script>&" included), and nothing in the page fetches or runs anything;
 *   - an empty window (no columns) and malformed documents (members missing or of the
 *     wrong type, histograms that do not add up, a result that is not an object, a report
 *     that is not an object) still give a whole page;
 *   - the page stops at its buffer's ceiling with CORE_ELIMIT.
 * Linked from libdrift-monitor.a; run under ASan/UBSan and valgrind too, which is what
 * holds the malformed cases to "never crash". */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "dm.h"
#include "harness_util.h"

/* The page of the report text (JSON), NUL-terminated (the caller frees). */
static char *page_of(const char *text)
{
	json_error_t jerr;
	json_t *report = json_loads(text, JSON_DECODE_ANY, &jerr);
	ck_assert_msg(report != NULL, "test document: %s", jerr.text);
	struct core_buf b;
	core_buf_init(&b, DM_HTML_MAX);
	ck_assert_int_eq(dm_report_html(report, &b), CORE_OK);
	json_decref(report);
	return core_buf_steal(&b, NULL);
}

/* What every page must be: one whole document, its elements closed, nothing that
 * runs or is fetched. */
static void whole_page(const char *page)
{
	ck_assert_msg(strncmp(page, "<!DOCTYPE html>\n<html lang=\"en\">", 31) == 0, "%s", page);
	size_t n = strlen(page);
	ck_assert_msg(n > 8 && strcmp(page + n - 8, "</html>\n") == 0, "%s", page);
	static const char *const pairs[][2] = {
		{"<table", "</table>"}, {"<tr", "</tr>"},           {"<svg", "</svg>"}, {"<g>", "</g>"},
		{"<td", "</td>"},       {"<section", "</section>"}, {"<dl>", "</dl>"},  {"<title>", "</title>"}};
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
		ck_assert_msg(th_count(page, pairs[i][0]) == th_count(page, pairs[i][1]),
			      "%s opened %zu times, closed %zu", pairs[i][0], th_count(page, pairs[i][0]),
			      th_count(page, pairs[i][1]));
	static const char *const never[] = {"<script", "<link", "<img", "<iframe", "src=", "href=", "url(", "@import"};
	for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
		ck_assert_msg(!strstr(page, never[i]), "the page holds '%s'", never[i]);
}

/* A monitor's report as the window slice writes it: a numerical column whose samples
 * differ in size (shares must put them on one scale), a categorical one with "other",
 * a hostile column name, predictions, lineage and window. */
static const char full[] =
	"{\"id\": \"0123456789abcdef0123456789abcdef\", \"monitor_id\": \"fedcba9876543210fedcba9876543210\", "
	"\"model\": \"iris\", \"model_version\": \"3\", \"window\": {\"start\": 1700000000000, \"end\": 1700000600000, "
	"\"rows\": 400}, \"dataset_drift\": true, \"share_of_drifted_columns\": 0.6666666666666666, "
	"\"created_at\": 1700000601000, \"result\": {"
	"\"columns\": ["
	"{\"column_name\": \"petal_length\", \"column_type\": \"num\", \"stattest_name\": \"ks\", "
	"\"stattest_threshold\": 0.05, \"drift_score\": 0.000123456789, \"drift_detected\": true, "
	"\"reference\": {\"count\": 100, \"missing\": 0, \"histogram\": {\"edges\": [0, 1, 2, 3], \"counts\": [25, 50, "
	"25]}}, "
	"\"current\": {\"count\": 400, \"missing\": 2, \"histogram\": {\"edges\": [0, 1, 2, 3], \"counts\": [0, 100, "
	"300]}}}, "
	"{\"column_name\": \"color\", \"column_type\": \"cat\", \"stattest_name\": \"chisquare\", "
	"\"stattest_threshold\": 0.05, \"drift_score\": 0.5, \"drift_detected\": false, "
	"\"reference\": {\"count\": 10, \"missing\": 0, \"value_counts\": {\"red\": 5, \"blue\": 3}, \"other\": 2}, "
	"\"current\": {\"count\": 20, \"missing\": 0, \"value_counts\": {\"red\": 10, \"blue\": 6}, \"other\": 4}}, "
	"{\"column_name\": \"<script>x</script>&\\\"\", \"column_type\": \"cat\", \"stattest_name\": \"psi\", "
	"\"stattest_threshold\": 0.1, \"drift_score\": 1.25, \"drift_detected\": true, "
	"\"reference\": {\"count\": 2, \"missing\": 0, \"value_counts\": {\"<b>v</b>\": 2}}, "
	"\"current\": {\"count\": 2, \"missing\": 0, \"value_counts\": {\"'q'\": 2}}}], "
	"\"number_of_columns\": 3, \"number_of_drifted_columns\": 2, \"share_of_drifted_columns\": "
	"0.6666666666666666, \"drift_share\": 0.5, \"dataset_drift\": true, "
	"\"predictions\": {\"columns\": [{\"column_name\": \"label\", \"column_type\": \"cat\", \"stattest_name\": "
	"\"jensenshannon\", \"stattest_threshold\": 0.1, \"drift_score\": null, \"drift_detected\": false, "
	"\"reference\": {\"count\": 4, \"missing\": 0, \"value_counts\": {\"setosa\": 4}}, \"current\": {\"count\": 0, "
	"\"missing\": 0, \"value_counts\": {}}}]}, "
	"\"window\": {\"start\": 1700000000000, \"end\": 1700000600000, \"rows\": 400, \"size\": 400}, "
	"\"lineage\": {\"model\": \"iris\", \"version\": \"3\", \"run_id\": \"r<1>\", \"dataset\": \"iris-data\", "
	"\"dataset_version\": null}}}";

START_TEST(a_report_reads_as_one_page)
{
	char *page = page_of(full);
	whole_page(page);
	th_expect_has(
		page,
		"<title>Drift report: iris version 3, 2023-11-14T22:13:20.000Z to 2023-11-14T22:23:20.000Z</title>");
	th_expect_has(page, "<section class=\"dataset yes\">\n<p class=\"big\">Dataset drift detected</p>");
	th_expect_has(
		page,
		"2 of 3 columns drifted: a share of <span title=\"0.6666666666666666\">0.6667</span>; the dataset "
		"drifts at a share of <span title=\"0.5\">0.5</span> or more.");
	/* a row and a chart per column, features and predictions */
	ck_assert_uint_eq(th_count(page, "<tr><th scope=\"row\">"), 4);
	ck_assert_uint_eq(th_count(page, "<svg class=\"chart\""), 4);
	th_expect_has(page, "<th scope=\"row\">petal_length</th><td>numerical</td><td><svg class=\"chart\"");
	th_expect_has(page,
		      "</svg></td><td class=\"verdict yes\">Drift detected</td><td>ks<small>K-S p_value</small></td>"
		      "<td class=\"num\"><span title=\"0.05\">0.05</span></td><td class=\"num\"><span "
		      "title=\"0.000123456789\">0.0001235</span><small>p-value</small></td></tr>");
	th_expect_has(page, "<th scope=\"row\">color</th><td>categorical</td>");
	th_expect_has(page, "<td class=\"verdict no\">No drift</td>");
	ck_assert_uint_eq(th_count(page, "Drift detected</td>"), 2);
	ck_assert_uint_eq(th_count(page, "No drift</td>"), 2);
	th_expect_has(page, "<h2>Predictions</h2>");
	th_expect_has(page, "<td class=\"num\">—<small>distance</small></td></tr>"); /* a null score */
	/* shares, not counts: 25 of 100 against 0 of 400, 50 of 100 against 100 of 400 */
	th_expect_has(page, "<title>[0, 1): reference 25.0 %, current 0.0 %</title>");
	th_expect_has(page, "<title>[1, 2): reference 50.0 %, current 25.0 %</title>");
	th_expect_has(page, "<title>[2, 3]: reference 25.0 %, current 75.0 %</title>");
	/* the tallest bar (75 %) fills the chart's height; 25 % a third of it */
	th_expect_has(page, "<rect class=\"cur\" x=\"166.67\" y=\"0.00\" width=\"28.00\" height=\"44.00\"/>");
	th_expect_has(page, "<rect class=\"ref\" x=\"5.33\" y=\"29.33\" width=\"28.00\" height=\"14.67\"/>");
	th_expect_has(page, "<text x=\"0\" y=\"55\">0</text><text x=\"200\" y=\"55\" text-anchor=\"end\">3</text>");
	/* categories: shares of everything counted, "other" included */
	th_expect_has(page, "<title>red: reference 50.0 %, current 50.0 %</title>");
	th_expect_has(page, "<title>(other values): reference 20.0 %, current 20.0 %</title>");
	/* few categories are named under their bars, cut to the width */
	th_expect_has(page, "<text x=\"33.33\" y=\"55\" text-anchor=\"middle\">red</text>");
	th_expect_has(page, "<text x=\"166.67\" y=\"55\" text-anchor=\"middle\">other</text>");
	th_expect_has(page, "<text x=\"50.00\" y=\"55\" text-anchor=\"middle\">&lt;b&gt;v&lt;/b&gt;</text>");
	/* a category only the current has still gets its bar */
	th_expect_has(page, "<title>&#39;q&#39;: reference 0.0 %, current 100.0 %</title>");
	/* lineage (null as unknown) and window */
	th_expect_has(page, "<dt>Training run</dt><dd>r&lt;1&gt;</dd>");
	th_expect_has(page, "<dt>Dataset version</dt><dd><span class=\"none\">unknown</span></dd>");
	th_expect_has(page, "<dt>First prediction</dt><dd>2023-11-14T22:13:20.000Z</dd>");
	th_expect_has(page, "<dt>Closes after (rows)</dt><dd>400</dd>");
	ck_assert(!strstr(page, "Closes after (seconds)"));
	free(page);
}
END_TEST

START_TEST(document_text_is_escaped)
{
	char *page = page_of(full);
	whole_page(page);
	const char *esc = "&lt;script&gt;x&lt;/script&gt;&amp;&quot;";
	th_expect_has(page, "<th scope=\"row\">&lt;script&gt;x&lt;/script&gt;&amp;&quot;</th>");
	th_expect_has(page,
		      "aria-label=\"reference and current distribution of &lt;script&gt;x&lt;/script&gt;&amp;&quot;\"");
	ck_assert_uint_eq(th_count(page, esc), 2);
	th_expect_has(page, "<title>&lt;b&gt;v&lt;/b&gt;: reference 100.0 %");
	ck_assert(!strstr(page, "<b>"));
	free(page);

	/* the title, the header and the facts escape as well; controls are replaced */
	page = page_of("{\"model\": \"<m>\", \"model_version\": \"\\\"v\\\"\", \"id\": \"a&b\", \"result\": "
		       "{\"lineage\": {\"model\": \"x\\u0001y\\tz\"}}}");
	whole_page(page);
	th_expect_has(page, "<title>Drift report: &lt;m&gt; version &quot;v&quot;</title>");
	th_expect_has(page, "<h1>Drift report: &lt;m&gt; version &quot;v&quot;</h1>");
	th_expect_has(page, "Report <code>a&amp;b</code>");
	th_expect_has(page, "<dd>x&#xfffd;y\tz</dd>");
	free(page);
}
END_TEST

/* A long category name is cut on a character boundary, with an ellipsis. */
START_TEST(long_names_are_cut_whole_characters)
{
	char *page = page_of("{\"result\": {\"columns\": [{\"column_name\": \"c\", \"column_type\": \"cat\", "
			     "\"reference\": {\"value_counts\": {\"ééééééééééééééééééééééééééééééééééééééééé\": 1, "
			     "\"b\": 1, \"c\": 1, \"d\": 1}}, \"current\": {\"value_counts\": {\"b\": 1}}}]}}");
	whole_page(page);
	/* 200 / 4 = 50 pixels: 9 characters, the ninth the ellipsis */
	th_expect_has(page, "text-anchor=\"middle\">éééééééé…</text>");
	th_expect_has(page,
		      "<title>ééééééééééééééééééééééééééééééééééééééééé: reference 25.0 %, current 0.0 %</title>");
	free(page);
}
END_TEST

START_TEST(an_empty_window)
{
	char *page =
		page_of("{\"id\": \"0123456789abcdef0123456789abcdef\", \"model\": \"iris\", \"model_version\": "
			"\"3\", \"window\": {\"start\": 5, \"end\": 5, \"rows\": 0}, \"dataset_drift\": false, "
			"\"share_of_drifted_columns\": 0, \"created_at\": 6, \"result\": {\"columns\": [], "
			"\"number_of_columns\": 0, \"number_of_drifted_columns\": 0, \"share_of_drifted_columns\": "
			"0, \"drift_share\": 0.5, \"dataset_drift\": false}}");
	whole_page(page);
	th_expect_has(page, "<section class=\"dataset no\">\n<p class=\"big\">No dataset drift</p>");
	th_expect_has(page, "0 of 0 columns drifted");
	th_expect_has(page, "<p class=\"empty\">No columns in this report.</p>");
	th_expect_has(page, ", 0 rows.");
	ck_assert(!strstr(page, "<table"));
	ck_assert(!strstr(page, "<h2>Predictions</h2>"));
	free(page);
}
END_TEST

START_TEST(malformed_documents_still_give_a_page)
{
	static const char *const docs[] = {
		"{}",
		"[]",
		"null",
		"\"text\"",
		"{\"result\": 3}",
		"{\"result\": {}}",
		"{\"model\": 5, \"window\": [1], \"created_at\": -5, \"result\": {\"columns\": {}, \"predictions\": 7, "
		"\"lineage\": [], \"window\": \"x\"}}",
		"{\"window\": {\"start\": 99999999999999999, \"end\": -1}, \"created_at\": 1e300, \"result\": {"
		"\"columns\": [1, null, \"x\", [], {}, "
		"{\"column_name\": 7, \"column_type\": \"num\", \"drift_detected\": \"yes\", \"drift_score\": "
		"\"0.1\"}, "
		"{\"column_type\": \"num\", \"stattest_name\": \"nope\", \"reference\": {\"histogram\": {\"edges\": "
		"[0, 1], "
		"\"counts\": [1, 2]}}, \"current\": {\"histogram\": {\"edges\": [0, 1, 2], \"counts\": [1, 2]}}}, "
		"{\"column_type\": \"num\", \"reference\": {\"histogram\": {\"edges\": [0, \"a\", 2], \"counts\": [1, "
		"2]}}, "
		"\"current\": {\"histogram\": {\"edges\": [0, 1, 2], \"counts\": [1, 2]}}}, "
		"{\"column_type\": \"num\", \"reference\": {\"histogram\": {\"edges\": [0, 1, 2], \"counts\": [1, "
		"-2]}}, "
		"\"current\": {\"histogram\": {\"edges\": [0, 1, 2], \"counts\": [1, 2]}}}, "
		"{\"column_type\": \"num\", \"reference\": {\"histogram\": {\"edges\": [0, 1, 2], \"counts\": [0, "
		"0]}}, "
		"\"current\": {\"histogram\": {\"edges\": [0, 1, 2], \"counts\": [0, 0]}}}, "
		"{\"column_type\": \"num\", \"reference\": {\"histogram\": {\"edges\": [], \"counts\": []}}, "
		"\"current\": {\"histogram\": {}}}, "
		"{\"column_type\": \"cat\", \"reference\": {\"value_counts\": {\"a\": \"3\", \"b\": -1}, \"other\": "
		"\"x\"}, "
		"\"current\": 5}, "
		"{\"column_type\": \"cat\", \"reference\": {\"value_counts\": []}, \"current\": {}}, "
		"{\"column_type\": \"text\", \"stattest_threshold\": \"0.1\"}], "
		"\"number_of_columns\": \"3\", \"dataset_drift\": 1, \"predictions\": {\"columns\": 4}, "
		"\"lineage\": {\"model\": 5, \"version\": [], \"run_id\": null}, \"window\": {\"start\": \"now\"}}}",
		/* counts past a double's range when added up */
		"{\"result\": {\"columns\": [{\"column_type\": \"num\", \"reference\": {\"histogram\": {\"edges\": "
		"[0, 1, 2], \"counts\": [1e308, 1e308]}}, \"current\": {\"histogram\": {\"edges\": [0, 1, 2], "
		"\"counts\": "
		"[1, 1e308]}}}, {\"column_type\": \"cat\", \"reference\": {\"value_counts\": {\"a\": 1e308, \"b\": "
		"1e308}}, \"current\": {\"value_counts\": {\"a\": 1}}}]}}",
	};
	for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
		char *page = page_of(docs[i]);
		whole_page(page);
		ck_assert_msg(!strstr(page, "nan") && !strstr(page, "inf"), "%s", page);
		free(page);
	}
	char *page = page_of(docs[4]);
	th_expect_has(page, "This report has no readable document.");
	th_expect_has(page, "<title>Drift report: unknown model</title>");
	free(page);
	page = page_of(docs[7]);
	th_expect_has(page, "Dataset drift: unknown");
	th_expect_has(page, "99999999999999999 to -1");
	/* the object rows get a row each; of their charts only the all-zero one and the
	 * categorical one with a usable count are drawn */
	ck_assert_uint_eq(th_count(page, "<tr><th scope=\"row\">"), 10);
	ck_assert_uint_eq(th_count(page, "<svg class=\"chart\""), 2);
	th_expect_has(page, "<title>[0, 1): reference 0.0 %, current 0.0 %</title>");
	th_expect_has(page, "<title>a: reference 0.0 %, current 0.0 %</title>");
	th_expect_has(page, "<td>text</td>");
	th_expect_has(page, "<p class=\"empty\">No prediction columns in this report.</p>");
	free(page);
}
END_TEST

/* Many bins are merged into at most 40 pairs, many categories folded into "other". */
START_TEST(large_distributions_are_bounded)
{
	json_t *edges = json_array(), *counts = json_array(), *vc = json_object();
	for (int i = 0; i <= 100; i++)
		json_array_append_new(edges, json_integer(i));
	for (int i = 0; i < 100; i++)
		json_array_append_new(counts, json_integer(1));
	for (int i = 0; i < 100; i++) {
		char key[16];
		snprintf(key, sizeof key, "c%d", i);
		json_object_set_new(vc, key, json_integer(1));
	}
	json_t *report = json_pack(
		"{s:{s:[{s:s, s:s, s:{s:{s:O, s:O}}, s:{s:{s:O, s:O}}}, {s:s, s:s, s:{s:O, s:i}, s:{s:O}}]}}", "result",
		"columns", "column_name", "n", "column_type", "num", "reference", "histogram", "edges", edges, "counts",
		counts, "current", "histogram", "edges", edges, "counts", counts, "column_name", "c", "column_type",
		"cat", "reference", "value_counts", vc, "other", 100, "current", "value_counts", vc);
	struct core_buf b;
	core_buf_init(&b, DM_HTML_MAX);
	ck_assert_int_eq(dm_report_html(report, &b), CORE_OK);
	whole_page(b.data);
	/* 100 bins in runs of 3: 34 pairs, the last one of a single bin */
	ck_assert_uint_eq(th_count(b.data, "<rect class=\"ref\""), 34 + 40);
	th_expect_has(b.data, "<title>[0, 3): reference 3.0 %, current 3.0 %</title>");
	th_expect_has(b.data, "<title>[99, 100]: reference 1.0 %, current 1.0 %</title>");
	/* 39 categories, then the 61 others and the document's 100 as one: 161 of 200 */
	th_expect_has(b.data, "<title>c38: reference 0.5 %, current 1.0 %</title>");
	th_expect_has(b.data, "<title>(other values): reference 80.5 %, current 61.0 %</title>");
	ck_assert(!strstr(b.data, "<title>c39:"));
	ck_assert(!strstr(b.data, "text-anchor=\"middle\"")); /* too many to name */
	core_buf_free(&b);

	/* the ceiling: a failure, not a cut page passed off as whole */
	core_buf_init(&b, 4096);
	ck_assert_int_eq(dm_report_html(report, &b), CORE_ELIMIT);
	core_buf_free(&b);
	json_decref(report);
	json_decref(edges);
	json_decref(counts);
	json_decref(vc);
}
END_TEST

static Suite *html_suite(void)
{
	Suite *s = suite_create("dm_html");
	TCase *tc = tcase_create("html");
	tcase_add_test(tc, a_report_reads_as_one_page);
	tcase_add_test(tc, document_text_is_escaped);
	tcase_add_test(tc, long_names_are_cut_whole_characters);
	tcase_add_test(tc, an_empty_window);
	tcase_add_test(tc, malformed_documents_still_give_a_page);
	tcase_add_test(tc, large_distributions_are_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(html_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Integration tests of batch drift on data-registry versions: POST /v1/drift with
 * {"dataset": "name@ref"} samples, against a real lathe-data-registry and a real
 * lathe-drift-monitor (DATA_REGISTRY_URL pointing at it), fresh daemons per test.
 *   - two CSV versions compared by number, latest, no ref and an id prefix give the very
 *     report the same CSV texts sent inline give (json_equal), overrides and drift_share
 *     included, and so does a mixed body (one dataset, one inline sample);
 *   - a version of two CSV files (the second with CRLF line ends and quoted fields) gives
 *     the report of the two joined inline under one header;
 *   - an unknown dataset or version is a 404 naming it; a malformed or ambiguous ref, an
 *     image version, files whose headers differ are 400s; a version over
 *     DATASET_MAX_BYTES a 413; a data registry that does not answer a 503 that names no
 *     address; and the daemon keeps answering. */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness_data.h"
#include "harness_trainer.h"
#include "harness.h"
#include "harness_util.h"

static struct th_daemon *dr, *dm;

static struct th_daemon *start_dm(const char *registry_url, const char *extra)
{
	char *url = th_fmt("DATA_REGISTRY_URL=%s", registry_url);
	const char *env[] = {url, extra, NULL};
	struct th_daemon *d = th_daemon_start("drift-monitor", NULL, env);
	free(url);
	return d;
}

static void setup(void)
{
	static const char *const env[] = {"PROFILE_POLL_MS=50", NULL};
	dr = th_daemon_start("data-registry", NULL, env);
	dm = start_dm(dr->base_url, NULL);
}

static void teardown(void)
{
	th_daemon_stop(dm);
	th_daemon_stop(dr);
}

/* rows rows of (price ~ N(mu, 1), units: a count, region: one of four, every 17th price
 * empty), header first; text with commas and quotes in the region names on purpose. */
static char *sales_csv(struct th_rng *g, int rows, double mu, const char *eol)
{
	static const char *const regions[] = {"north", "\"south, coast\"", "east", "west"};
	size_t cap = (size_t)rows * 96 + 64, n = 0;
	char *t = malloc(cap);
	ck_assert_ptr_nonnull(t);
	n += (size_t)snprintf(t, cap, "price,units,region%s", eol);
	for (int i = 0; i < rows; i++) {
		char price[32] = "";
		if (i % 17 != 3)
			snprintf(price, sizeof price, "%.12g", mu + th_nrand(g));
		int units = (int)(th_urand(g) * 6 + mu);
		const char *region = regions[(int)(th_urand(g) * (mu > 0 ? 2.5 : 4))];
		n += (size_t)snprintf(t + n, cap - n, "%s,%d,%s%s", price, units, region, eol);
	}
	return t;
}

/* POSTs {"reference": R, "current": C <extra>} (R, C: JSON texts of the samples). */
static struct th_response post(struct th_daemon *d, const char *ref, const char *cur, const char *extra)
{
	char *body = th_fmt("{\"reference\": %s, \"current\": %s%s}", ref, cur, extra);
	struct th_response r = th_call(d, "POST", "/v1/drift", body);
	free(body);
	return r;
}

static char *dataset(const char *name_ref)
{
	return th_fmt("{\"dataset\": \"%s\"}", name_ref);
}

static char *inline_csv(const char *text)
{
	json_t *s = json_pack("{s:s}", "csv", text);
	char *out = json_dumps(s, JSON_COMPACT);
	json_decref(s);
	return out;
}

/* The reports of the two bodies must be 200 and equal. */
static void expect_same(const char *ref_a, const char *cur_a, const char *ref_b, const char *cur_b, const char *extra)
{
	struct th_response a = post(dm, ref_a, cur_a, extra), b = post(dm, ref_b, cur_b, extra);
	ck_assert_msg(a.status == 200, "%s vs %s: %ld %s", ref_a, cur_a, a.status, a.body);
	ck_assert_msg(b.status == 200, "inline: %ld %s", b.status, b.body);
	ck_assert_msg(json_equal(a.json, b.json), "dataset form:\n%s\ninline:\n%s", a.body, b.body);
	ck_assert_int_eq(json_integer_value(json_object_get(a.json, "number_of_columns")), 3);
	th_response_free(&a);
	th_response_free(&b);
}

START_TEST(versions_report_as_their_csv_inline)
{
	struct th_rng g = {0xd7a5e7u};
	char *ref = sales_csv(&g, 300, 0, "\n"), *cur = sales_csv(&g, 250, 0.8, "\n");
	ck_assert_int_eq(th_trainer_push_csv(dr, "sales", ref, NULL), 1);
	ck_assert_int_eq(th_trainer_push_csv(dr, "sales", cur, NULL), 2);
	char *ref_in = inline_csv(ref), *cur_in = inline_csv(cur);
	char *v1 = dataset("sales@1"), *v2 = dataset("sales@2"), *latest = dataset("sales@latest");
	char *bare = dataset("sales");
	json_t *ver = th_ok(dr, "GET", "/v1/datasets/sales/versions/2", NULL);
	char *prefix_ref =
		th_fmt("sales@%.12s", json_string_value(json_object_get(json_object_get(ver, "version"), "id")));
	json_decref(ver);
	char *prefix = dataset(prefix_ref);

	expect_same(v1, v2, ref_in, cur_in, "");
	expect_same(v1, latest, ref_in, cur_in, "");
	expect_same(v1, bare, ref_in, cur_in, "");
	expect_same(v1, prefix, ref_in, cur_in, "");
	expect_same(v1, cur_in, ref_in, cur_in, ""); /* one side inline */
	expect_same(v1, v2, ref_in, cur_in,
		    ", \"columns\": {\"price\": {\"method\": \"wasserstein\", \"threshold\": 0.2}, \"region\": "
		    "{\"method\": \"psi\"}}, \"drift_share\": 0.9");
	/* the data were drawn to drift in price and region */
	struct th_response r = post(dm, v1, v2, "");
	json_t *cols = json_object_get(r.json, "columns");
	ck_assert(json_is_true(json_object_get(th_json_find(cols, "column_name", "price"), "drift_detected")));
	ck_assert(json_is_true(json_object_get(th_json_find(cols, "column_name", "region"), "drift_detected")));
	ck_assert(json_is_true(json_object_get(r.json, "dataset_drift")));
	th_response_free(&r);
	/* a version against itself: nothing drifts */
	r = post(dm, v1, v1, "");
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json, "number_of_drifted_columns")), 0);
	th_response_free(&r);

	free(ref), free(cur), free(ref_in), free(cur_in), free(v1), free(v2), free(latest), free(bare);
	free(prefix_ref), free(prefix);
}
END_TEST

START_TEST(a_version_of_several_files_is_joined_under_one_header)
{
	struct th_rng g = {0x51e5u};
	char *a = sales_csv(&g, 120, 0, "\n"), *b = sales_csv(&g, 80, 0, "\r\n"), *cur = sales_csv(&g, 150, 0, "\n");
	/* the whole, inline: a, then b without its header line (and with \n ends) */
	const char *b_rows = strstr(b, "\r\n") + 2;
	char *whole = th_fmt("%s%s", a, b_rows);
	for (char *p = whole; (p = strstr(p, "\r\n"));)
		memmove(p, p + 1, strlen(p));
	const struct th_data_file files[] = {{"part-a.csv", a}, {"part-b.csv", b}};
	json_t *manifest = th_data_manifest(dr, files, 2, true);
	struct th_response c = th_data_commit(dr, "joined", manifest);
	ck_assert_msg(c.status == 201, "%ld %s", c.status, c.body);
	th_response_free(&c);
	json_decref(manifest);
	th_trainer_wait_ready(dr, "joined", 1, 60);
	ck_assert_int_eq(th_trainer_push_csv(dr, "current", cur, NULL), 1);

	char *ds = dataset("joined@1"), *whole_in = inline_csv(whole), *cur_ds = dataset("current@1");
	char *cur_in = inline_csv(cur);
	expect_same(ds, cur_ds, whole_in, cur_in, "");
	struct th_response r = post(dm, ds, cur_ds, "");
	json_t *price = th_json_find(json_object_get(r.json, "columns"), "column_name", "price");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(price, "reference"), "count")) +
				 json_integer_value(json_object_get(json_object_get(price, "reference"), "missing")),
			 200);
	th_response_free(&r);

	/* two files whose headers differ: a 400, whether the profiler has failed the
	 * version yet or not */
	const struct th_data_file bad[] = {{"x.csv", "a,b\n1,2\n"}, {"y.csv", "a,c\n3,4\n"}};
	manifest = th_data_manifest(dr, bad, 2, true);
	c = th_data_commit(dr, "mixed", manifest);
	ck_assert_int_eq(c.status, 201);
	th_response_free(&c);
	json_decref(manifest);
	char *mixed = dataset("mixed@1");
	r = post(dm, cur_in, mixed, "");
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "current.dataset: 'mixed@1'");
	th_response_free(&r);

	free(a), free(b), free(cur), free(whole), free(ds), free(whole_in), free(cur_ds), free(cur_in), free(mixed);
}
END_TEST

static void expect(struct th_daemon *d, const char *ref, const char *cur, long status, const char *code,
		   const char *needle)
{
	struct th_response r = post(d, ref, cur, "");
	th_expect_error(&r, status, code, needle);
	th_expect_no_internals(r.body, 0);
	th_response_free(&r);
}

START_TEST(unknown_unfit_too_large_and_unreachable_are_clear)
{
	ck_assert_int_eq(th_trainer_push_csv(dr, "sales", "price,region\n1.5,north\n2.5,south\n3,east\n", NULL), 1);
	th_trainer_push_images(dr, "pets", 2, 2, 8);
	const char *v1 = "{\"dataset\": \"sales@1\"}";
	expect(dm, "{\"dataset\": \"nope@1\"}", v1, 404, "RESOURCE_DOES_NOT_EXIST",
	       "reference.dataset: 'nope@1' is not in the data registry (Dataset 'nope' not found");
	expect(dm, v1, "{\"dataset\": \"sales@9\"}", 404, "RESOURCE_DOES_NOT_EXIST",
	       "current.dataset: 'sales@9' is not in the data registry");
	expect(dm, v1, "{\"dataset\": \"sales@abc\"}", 400, "INVALID_PARAMETER_VALUE",
	       "current.dataset: 'sales@abc': the data registry refused it (400: Invalid version reference 'abc'");
	expect(dm, v1, "{\"dataset\": \"sales@1/files\"}", 400, "INVALID_PARAMETER_VALUE",
	       "current.dataset: '1/files' is not a version");
	expect(dm, v1, "{\"dataset\": \"pets@1\"}", 400, "INVALID_PARAMETER_VALUE",
	       "current.dataset: 'pets@1' (version 1) is image-folder data, not a CSV table");
	/* a version over DATASET_MAX_BYTES (1 KiB here) */
	char *rows = malloc(4096);
	size_t n = (size_t)snprintf(rows, 4096, "price,region\n");
	for (int i = 0; n < 2000; i++)
		n += (size_t)snprintf(rows + n, 4096 - n, "%d.25,r%d\n", i, i % 7);
	ck_assert_int_eq(th_trainer_push_csv(dr, "big", rows, NULL), 1);
	free(rows);
	struct th_daemon *small = start_dm(dr->base_url, "DATASET_MAX_BYTES=1024");
	expect(small, v1, "{\"dataset\": \"big@1\"}", 413, "REQUEST_TOO_LARGE",
	       "current.dataset: 'big@1' (version 1) holds");
	struct th_response r = post(small, v1, v1, "");
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);
	th_daemon_stop(small);
	/* a data registry that does not answer: 503, no address in the message */
	unsigned port = th_free_port();
	char *nowhere = th_fmt("http://127.0.0.1:%u", port);
	struct th_daemon *lost = start_dm(nowhere, NULL);
	r = post(lost, v1, "{\"csv\": \"price,region\\n1,a\\n\"}", "");
	th_expect_error(&r, 503, "TEMPORARILY_UNAVAILABLE",
			"reference.dataset: 'sales@1' cannot be read now: the data registry could not be reached");
	th_expect_no_internals(r.body, port);
	th_response_free(&r);
	r = post(lost, "{\"csv\": \"a\\n1\\n2\\n\"}", "{\"csv\": \"a\\n1\\n3\\n\"}", ""); /* inline still works */
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);
	th_daemon_stop(lost);
	free(nowhere);
	/* still answering */
	r = post(dm, v1, v1, "");
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	Suite *s = suite_create("drift-datasets");
	TCase *tc = tcase_create("datasets");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, versions_report_as_their_csv_inline);
	tcase_add_test(tc, a_version_of_several_files_is_joined_under_one_header);
	tcase_add_test(tc, unknown_unfit_too_large_and_unreachable_are_clear);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

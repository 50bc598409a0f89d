/* Integration tests of the drift monitor's monitors and reports API: lathe-drift-monitor
 * against the run's PostgreSQL (and devkafka, which it does not consume yet), a fresh
 * daemon and database per test.
 *   - a monitor is created with its defaults filled in or with every member given, and
 *     read back the same; a second monitor of a model is a 409 naming the first;
 *   - every malformed spec is a 400 naming the field, and none leaves a row behind;
 *   - listing is newest first in keyset pages, and by model;
 *   - patch sets exactly what it gives (alert member by member), a bad patch changes
 *     nothing, the model cannot change;
 *   - delete removes the monitor (and its reports); unknown ids are 404 everywhere;
 *   - reports: an empty list, 404s, bad queries; and with rows written in SQL (the
 *     window slice will write them) the filters, pages and the document. */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness_db.h"
#include "harness.h"

static struct th_daemon *d;

static void setup(void)
{
	d = th_daemon_start("drift-monitor", NULL, NULL);
}

static void teardown(void)
{
	th_daemon_stop(d);
}

/* POSTs spec and expects 201; returns the monitor (owned). */
static json_t *create_ok(const char *spec)
{
	struct th_response r = th_call(d, "POST", "/v1/monitors", spec);
	ck_assert_msg(r.status == 201, "%s -> %ld %s", spec, r.status, r.body);
	json_t *m = json_incref(json_object_get(r.json, "monitor"));
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(strlen(json_string_value(json_object_get(m, "id"))), 32);
	th_response_free(&r);
	return m;
}

static const char *id_of(json_t *m)
{
	return json_string_value(json_object_get(m, "id"));
}

static json_t *get_monitor(const char *id)
{
	char *path = th_fmt("/v1/monitors/%s", id);
	json_t *body = th_ok(d, "GET", path, NULL);
	json_t *m = json_incref(json_object_get(body, "monitor"));
	json_decref(body);
	free(path);
	return m;
}

static long count(const char *table)
{
	char *q = th_fmt("SELECT count(*) FROM %s", table);
	char *n = th_sql(d, "drift", q);
	long v = strtol(n, NULL, 10);
	free(n);
	free(q);
	return v;
}

static void expect_400(const char *method, const char *path, const char *body, const char *needle)
{
	struct th_response r = th_call(d, method, path, body);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", needle);
	th_response_free(&r);
}

static void expect_404(const char *method, const char *path, const char *body)
{
	struct th_response r = th_call(d, method, path, body);
	th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	th_response_free(&r);
}

START_TEST(created_with_defaults_or_as_given)
{
	json_t *m = create_ok("{\"model\": \"iris\"}");
	ck_assert_str_eq(json_string_value(json_object_get(m, "model")), "iris");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(m, "window"), "size")), 1000);
	ck_assert_int_eq(json_object_size(json_object_get(m, "window")), 1);
	ck_assert_int_eq(json_object_size(json_object_get(m, "features")), 0);
	ck_assert(json_real_value(json_object_get(m, "drift_share")) == 0.5);
	json_t *alert = json_object_get(m, "alert");
	ck_assert_str_eq(json_string_value(json_object_get(alert, "policy")), "alert");
	ck_assert_int_eq(json_integer_value(json_object_get(alert, "cooldown_seconds")), 3600);
	ck_assert_int_gt(json_integer_value(json_object_get(m, "created_at")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(m, "created_at")),
			 json_integer_value(json_object_get(m, "updated_at")));
	json_t *again = get_monitor(id_of(m));
	ck_assert(json_equal(m, again));
	json_decref(again);
	json_decref(m);

	/* every member, with a distance threshold above 1 and a threshold alone */
	m = create_ok("{\"model\": \"fmnist-mlp\", \"window\": {\"seconds\": 600}, \"features\": {\"pixel 0\": "
		      "{\"method\": \"psi\", \"threshold\": 2.5}, \"age\": {\"method\": \"TVD\"}, \"income\": "
		      "{\"threshold\": 0.01}}, \"drift_share\": 1, \"alert\": {\"policy\": \"retrain\", "
		      "\"cooldown_seconds\": 0}}");
	json_t *want = json_loads("{\"pixel 0\": {\"method\": \"psi\", \"threshold\": 2.5}, \"age\": {\"method\": "
				  "\"TVD\"}, \"income\": {\"threshold\": 0.01}}",
				  0, NULL);
	ck_assert(json_equal(json_object_get(m, "features"), want));
	json_decref(want);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(m, "window"), "seconds")), 600);
	ck_assert_ptr_null(json_object_get(json_object_get(m, "window"), "size"));
	ck_assert(json_real_value(json_object_get(m, "drift_share")) == 1.0);
	alert = json_object_get(m, "alert");
	ck_assert_str_eq(json_string_value(json_object_get(alert, "policy")), "retrain");
	ck_assert_int_eq(json_integer_value(json_object_get(alert, "cooldown_seconds")), 0);
	again = get_monitor(id_of(m));
	ck_assert(json_equal(m, again));
	json_decref(again);
	json_decref(m);
	ck_assert_int_eq(count("monitors"), 2);
}
END_TEST

START_TEST(one_monitor_per_model)
{
	json_t *m = create_ok("{\"model\": \"iris\", \"window\": {\"size\": 50}}");
	struct th_response r = th_call(d, "POST", "/v1/monitors", "{\"model\": \"iris\", \"window\": {\"size\": 99}}");
	th_expect_error(&r, 409, "RESOURCE_CONFLICT", id_of(m));
	th_expect_error(&r, 409, "RESOURCE_CONFLICT", "'iris' already has a monitor");
	th_response_free(&r);
	ck_assert_int_eq(count("monitors"), 1);
	json_t *now = get_monitor(id_of(m));
	ck_assert(json_equal(m, now)); /* the first one untouched */
	json_decref(now);
	/* names are exact: another case is another model */
	json_decref(create_ok("{\"model\": \"Iris\"}"));
	json_decref(m);
}
END_TEST

/* Each body, and the piece of the 400's message that names its problem. */
static const struct {
	const char *body, *needle;
} bad_specs[] = {
	{"{\"model\": ", "Malformed JSON"},
	{"[1]", "object"},
	{"{}", "'model'"},
	{"{\"model\": \"\"}", "'model'"},
	{"{\"model\": 5}", "'model'"},
	{"{\"model\": \"a\\u0001b\"}", "model: must be a non-empty name"},
	{"{\"model\": \"m\", \"windows\": {\"size\": 50}}", "windows: unknown field"},
	{"{\"model\": \"m\", \"window\": 5}", "'window'"},
	{"{\"model\": \"m\", \"window\": {}}", "window: give size (rows) or seconds, one of them"},
	{"{\"model\": \"m\", \"window\": {\"size\": 50, \"seconds\": 60}}", "not both"},
	{"{\"model\": \"m\", \"window\": {\"size\": 9}}", "window.size: must be an integer from 10 to 10000000"},
	{"{\"model\": \"m\", \"window\": {\"size\": 10000001}}", "window.size"},
	{"{\"model\": \"m\", \"window\": {\"size\": 1.5}}", "'window.size'"},
	{"{\"model\": \"m\", \"window\": {\"size\": \"many\"}}", "'window.size'"},
	{"{\"model\": \"m\", \"window\": {\"seconds\": 0}}", "window.seconds: must be an integer from 1 to 2592000"},
	{"{\"model\": \"m\", \"window\": {\"seconds\": 2592001}}", "window.seconds"},
	{"{\"model\": \"m\", \"window\": {\"rows\": 50}}", "window.rows: unknown field"},
	{"{\"model\": \"m\", \"features\": [\"a\"]}", "'features'"},
	{"{\"model\": \"m\", \"features\": {\"a\": 1}}", "'features.a'"},
	{"{\"model\": \"m\", \"features\": {\"a\": {}}}", "features.a: give a method, a threshold or both"},
	{"{\"model\": \"m\", \"features\": {\"\": {\"method\": \"ks\"}}}", "feature name"},
	{"{\"model\": \"m\", \"features\": {\"a\": {\"method\": \"foo\"}}}",
	 "features.a.method: unknown stattest 'foo'"},
	{"{\"model\": \"m\", \"features\": {\"a\": {\"method\": \"KS\"}}}", "unknown stattest 'KS'"},
	{"{\"model\": \"m\", \"features\": {\"a\": {\"method\": \"anderson\"}}}", "unknown stattest 'anderson'"},
	{"{\"model\": \"m\", \"features\": {\"a\": {\"method\": 3}}}", "'features.a.method'"},
	{"{\"model\": \"m\", \"features\": {\"a\": {\"method\": \"ks\", \"threshold\": 1}}}",
	 "features.a.threshold: must be a number > 0 and < 1 (ks scores a p-value)"},
	{"{\"model\": \"m\", \"features\": {\"a\": {\"method\": \"ks\", \"threshold\": 0}}}", "features.a.threshold"},
	{"{\"model\": \"m\", \"features\": {\"a\": {\"method\": \"psi\", \"threshold\": -0.1}}}",
	 "must be a finite number > 0 (psi scores a distance)"},
	{"{\"model\": \"m\", \"features\": {\"a\": {\"method\": \"psi\", \"threshold\": \"Infinity\"}}}",
	 "(psi scores a distance)"},
	{"{\"model\": \"m\", \"features\": {\"a\": {\"threshold\": 1.5}}}", "without a method"},
	{"{\"model\": \"m\", \"features\": {\"a\": {\"threshold\": \"NaN\"}}}", "features.a.threshold"},
	{"{\"model\": \"m\", \"features\": {\"a\": {\"stattest\": \"ks\"}}}", "features.a.stattest: unknown field"},
	{"{\"model\": \"m\", \"drift_share\": 0}", "drift_share: must be a number > 0 and <= 1"},
	{"{\"model\": \"m\", \"drift_share\": 1.01}", "drift_share"},
	{"{\"model\": \"m\", \"drift_share\": -0.5}", "drift_share"},
	{"{\"model\": \"m\", \"drift_share\": \"half\"}", "'drift_share'"},
	{"{\"model\": \"m\", \"alert\": \"retrain\"}", "'alert'"},
	{"{\"model\": \"m\", \"alert\": {\"policy\": \"page\"}}", "alert.policy: unknown policy 'page'"},
	{"{\"model\": \"m\", \"alert\": {\"policy\": \"\"}}", "alert.policy"},
	{"{\"model\": \"m\", \"alert\": {\"cooldown_seconds\": -1}}",
	 "alert.cooldown_seconds: must be an integer from 0 to 31536000"},
	{"{\"model\": \"m\", \"alert\": {\"cooldown_seconds\": 31536001}}", "alert.cooldown_seconds"},
	{"{\"model\": \"m\", \"alert\": {\"policy\": \"alert\", \"every\": 5}}", "alert.every: unknown field"},
	{"{\"model\": \"m\", \"model\": \"n\"}", "duplicate"},
};

START_TEST(bad_specs_are_400_and_write_nothing)
{
	for (size_t i = 0; i < sizeof bad_specs / sizeof bad_specs[0]; i++)
		expect_400("POST", "/v1/monitors", bad_specs[i].body, bad_specs[i].needle);

	/* a model name past DM_NAME_MAX, and more feature overrides than a monitor holds */
	char *name = calloc(1, 1026);
	memset(name, 'x', 1025);
	char *body = th_fmt("{\"model\": \"%s\"}", name);
	expect_400("POST", "/v1/monitors", body, "at most 1024 bytes");
	free(body);
	free(name);
	json_t *features = json_object();
	for (int i = 0; i < 4097; i++) {
		char f[16];
		snprintf(f, sizeof f, "f%d", i);
		json_object_set_new(features, f, json_pack("{s:s}", "method", "psi"));
	}
	json_t *spec = json_pack("{s:s, s:o}", "model", "m", "features", features);
	body = json_dumps(spec, JSON_COMPACT);
	expect_400("POST", "/v1/monitors", body, "features: at most 4096 overrides, got 4097");
	free(body);
	json_decref(spec);

	/* not JSON at all: 415 */
	char *url = th_fmt("%s/v1/monitors", d->base_url);
	struct th_response r = th_http("POST", url, "text/plain", "{\"model\": \"m\"}", 14);
	th_expect_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE", NULL);
	th_response_free(&r);
	free(url);
	ck_assert_int_eq(count("monitors"), 0);
}
END_TEST

START_TEST(list_is_newest_first_in_pages)
{
	char *ids[5];
	for (int i = 0; i < 5; i++) {
		char *spec = th_fmt("{\"model\": \"model-%d\"}", i);
		json_t *m = create_ok(spec);
		ids[i] = strdup(id_of(m));
		json_decref(m);
		free(spec);
	}
	json_t *all = th_ok(d, "GET", "/v1/monitors", NULL);
	json_t *list = json_object_get(all, "monitors");
	ck_assert_int_eq(json_array_size(list), 5);
	ck_assert_ptr_null(json_object_get(all, "next_page_token"));
	for (size_t i = 1; i < 5; i++) /* newest first */
		ck_assert_int_ge(json_integer_value(json_object_get(json_array_get(list, i - 1), "created_at")),
				 json_integer_value(json_object_get(json_array_get(list, i), "created_at")));

	/* pages of 2 hand out the same monitors in the same order, each once */
	char *token = NULL;
	size_t seen = 0;
	for (int page = 0; page < 3; page++) {
		char *path = token ? th_fmt("/v1/monitors?max_results=2&page_token=%s", token)
				   : th_fmt("/v1/monitors?max_results=2");
		json_t *body = th_ok(d, "GET", path, NULL);
		json_t *items = json_object_get(body, "monitors");
		ck_assert_int_eq(json_array_size(items), page < 2 ? 2 : 1);
		for (size_t i = 0; i < json_array_size(items); i++, seen++)
			ck_assert_str_eq(id_of(json_array_get(items, i)), id_of(json_array_get(list, seen)));
		free(token);
		json_t *next = json_object_get(body, "next_page_token");
		token = next ? strdup(json_string_value(next)) : NULL;
		ck_assert(page < 2 ? token != NULL : token == NULL);
		json_decref(body);
		free(path);
	}
	ck_assert_uint_eq(seen, 5);

	/* by model */
	json_t *one = th_ok(d, "GET", "/v1/monitors?model=model-3", NULL);
	ck_assert_int_eq(json_array_size(json_object_get(one, "monitors")), 1);
	ck_assert_str_eq(id_of(json_array_get(json_object_get(one, "monitors"), 0)), ids[3]);
	json_decref(one);
	json_t *none = th_ok(d, "GET", "/v1/monitors?model=nope", NULL);
	ck_assert_int_eq(json_array_size(json_object_get(none, "monitors")), 0);
	json_decref(none);

	expect_400("GET", "/v1/monitors?max_results=0", NULL, "max_results");
	expect_400("GET", "/v1/monitors?max_results=1001", NULL, "max_results");
	expect_400("GET", "/v1/monitors?max_results=ten", NULL, "max_results");
	expect_400("GET", "/v1/monitors?page_token=abc", NULL, "page_token");
	expect_400("GET", "/v1/monitors?page_token=12.0123456789ABCDEF0123456789abcdef", NULL, "page_token");
	json_decref(all);
	for (int i = 0; i < 5; i++)
		free(ids[i]);
}
END_TEST

START_TEST(patch_sets_what_it_gives)
{
	json_t *m = create_ok("{\"model\": \"iris\", \"window\": {\"size\": 500}, \"features\": {\"a\": {\"method\": "
			      "\"ks\"}}, \"drift_share\": 0.3, \"alert\": {\"policy\": \"retrain\", "
			      "\"cooldown_seconds\": 60}}");
	char *path = th_fmt("/v1/monitors/%s", id_of(m));

	/* an empty patch changes nothing but updated_at */
	json_t *body = th_ok(d, "PATCH", path, "{}");
	json_t *p = json_object_get(body, "monitor");
	json_object_del(p, "updated_at");
	json_t *before = json_deep_copy(m);
	json_object_del(before, "updated_at");
	ck_assert(json_equal(p, before));
	json_decref(body);

	/* the window switches kind; alert changes member by member */
	body = th_ok(d, "PATCH", path, "{\"window\": {\"seconds\": 120}, \"alert\": {\"policy\": \"none\"}}");
	p = json_object_get(body, "monitor");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(p, "window"), "seconds")), 120);
	ck_assert_ptr_null(json_object_get(json_object_get(p, "window"), "size"));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(p, "alert"), "policy")), "none");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(p, "alert"), "cooldown_seconds")), 60);
	ck_assert(json_equal(json_object_get(p, "features"), json_object_get(m, "features")));
	ck_assert(json_real_value(json_object_get(p, "drift_share")) == 0.3);
	ck_assert_int_ge(json_integer_value(json_object_get(p, "updated_at")),
			 json_integer_value(json_object_get(m, "created_at")));
	ck_assert_int_eq(json_integer_value(json_object_get(p, "created_at")),
			 json_integer_value(json_object_get(m, "created_at")));
	json_decref(body);

	/* features are replaced whole ({} removes every override) */
	body = th_ok(d, "PATCH", path, "{\"features\": {\"b\": {\"threshold\": 0.2}}, \"drift_share\": 0.75}");
	p = json_object_get(body, "monitor");
	json_t *want = json_loads("{\"b\": {\"threshold\": 0.2}}", 0, NULL);
	ck_assert(json_equal(json_object_get(p, "features"), want));
	json_decref(want);
	ck_assert(json_real_value(json_object_get(p, "drift_share")) == 0.75);
	json_decref(body);
	body = th_ok(d, "PATCH", path, "{\"features\": {}, \"alert\": {\"cooldown_seconds\": 7}}");
	p = json_object_get(body, "monitor");
	ck_assert_int_eq(json_object_size(json_object_get(p, "features")), 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(p, "alert"), "policy")), "none");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(p, "alert"), "cooldown_seconds")), 7);
	json_decref(body);

	/* a bad patch is refused whole: its good members are not applied either */
	json_t *stored = get_monitor(id_of(m));
	expect_400("PATCH", path, "{\"drift_share\": 0.9, \"window\": {\"size\": 1}}", "window.size");
	expect_400("PATCH", path, "{\"alert\": {\"policy\": \"alert\"}, \"features\": {\"a\": {\"method\": \"x\"}}}",
		   "features.a.method");
	expect_400("PATCH", path, "{\"model\": \"wine\"}", "model: a monitor's model cannot be changed");
	expect_400("PATCH", path, "{\"id\": \"x\"}", "id: unknown field");
	expect_400("PATCH", path, "{\"window\": {}}", "window: give size");
	expect_400("PATCH", path, "{\"drift_share\": ", "Malformed JSON");
	char *url = th_fmt("%s%s", d->base_url, path);
	struct th_response r = th_http("PATCH", url, "text/plain", "{}", 2);
	th_expect_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE", NULL);
	th_response_free(&r);
	free(url);
	json_t *after = get_monitor(id_of(m));
	ck_assert(json_equal(stored, after));
	json_decref(after);
	json_decref(stored);

	expect_404("PATCH", "/v1/monitors/ffffffffffffffffffffffffffffffff", "{\"drift_share\": 0.5}");
	expect_404("PATCH", "/v1/monitors/nope", "{}");
	json_decref(before);
	json_decref(m);
	free(path);
}
END_TEST

START_TEST(delete_and_unknown_ids)
{
	json_t *m = create_ok("{\"model\": \"iris\"}");
	char *path = th_fmt("/v1/monitors/%s", id_of(m));
	json_t *body = th_ok(d, "DELETE", path, NULL);
	ck_assert_int_eq(json_object_size(body), 0);
	json_decref(body);
	expect_404("GET", path, NULL);
	expect_404("DELETE", path, NULL);
	ck_assert_int_eq(count("monitors"), 0);
	/* the model is free again */
	json_t *again = create_ok("{\"model\": \"iris\"}");
	ck_assert_str_ne(id_of(again), id_of(m));
	json_decref(again);

	expect_404("GET", "/v1/monitors/ffffffffffffffffffffffffffffffff", NULL);
	expect_404("GET", "/v1/monitors/not-an-id", NULL);
	expect_404("GET", "/v1/monitors/%27%3B%20DROP%20TABLE%20monitors", NULL);
	expect_404("DELETE", "/v1/monitors/ffffffffffffffffffffffffffffffff", NULL);
	ck_assert_int_eq(count("monitors"), 1);
	json_decref(m);
	free(path);
}
END_TEST

START_TEST(reports_empty_and_unknown)
{
	json_t *body = th_ok(d, "GET", "/v1/reports", NULL);
	ck_assert_int_eq(json_array_size(json_object_get(body, "reports")), 0);
	ck_assert_ptr_null(json_object_get(body, "next_page_token"));
	json_decref(body);
	json_t *m = create_ok("{\"model\": \"iris\"}");
	char *path = th_fmt("/v1/reports?monitor=%s&since=0", id_of(m));
	body = th_ok(d, "GET", path, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(body, "reports")), 0);
	json_decref(body);
	free(path);

	expect_404("GET", "/v1/reports/ffffffffffffffffffffffffffffffff", NULL);
	expect_404("GET", "/v1/reports/nope", NULL);
	expect_404("GET", "/v1/reports?monitor=ffffffffffffffffffffffffffffffff", NULL);
	expect_400("GET", "/v1/reports?since=-1", NULL, "since");
	expect_400("GET", "/v1/reports?since=yesterday", NULL, "since");
	expect_400("GET", "/v1/reports?since=99999999999999999999", NULL, "since");
	expect_400("GET", "/v1/reports?max_results=0", NULL, "max_results");
	expect_400("GET", "/v1/reports?page_token=x.y", NULL, "page_token");
	json_decref(m);
}
END_TEST

/* Writes a report row as the window slice will (id: 32 hex from n). */
static void insert_report(const char *monitor, int n, long long created, bool drift)
{
	char *q = th_fmt("INSERT INTO reports (id, monitor_id, model, model_version, window_start, window_end, rows, "
			 "dataset_drift, share_of_drifted_columns, report, created_at) SELECT '%032x', id, model, '2', "
			 "%lld, %lld, 100, %s, %s, '{\"number_of_columns\": 4, \"n\": %d}', %lld FROM monitors "
			 "WHERE id = '%s'",
			 n, created - 500, created - 1, drift ? "true" : "false", drift ? "0.75" : "0.25", n, created,
			 monitor);
	free(th_sql(d, "drift", q));
	free(q);
}

START_TEST(reports_filters_pages_and_documents)
{
	json_t *a = create_ok("{\"model\": \"iris\"}"), *b = create_ok("{\"model\": \"wine\"}");
	for (int i = 1; i <= 5; i++)
		insert_report(id_of(a), i, 1000 * i, i % 2 == 0);
	insert_report(id_of(b), 6, 2500, true);

	json_t *body = th_ok(d, "GET", "/v1/reports", NULL);
	json_t *list = json_object_get(body, "reports");
	ck_assert_int_eq(json_array_size(list), 6);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(list, 0), "created_at")), 5000);
	ck_assert_ptr_null(json_object_get(json_array_get(list, 0), "result")); /* summaries only */
	json_decref(body);

	/* one monitor's, since a time, in pages of 2: 5000, 4000 | 3000 */
	char *first = th_fmt("/v1/reports?monitor=%s&since=2500&max_results=2", id_of(a));
	body = th_ok(d, "GET", first, NULL);
	list = json_object_get(body, "reports");
	ck_assert_int_eq(json_array_size(list), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(list, 1), "created_at")), 4000);
	const char *token = json_string_value(json_object_get(body, "next_page_token"));
	ck_assert_ptr_nonnull(token);
	char *second = th_fmt("%s&page_token=%s", first, token);
	json_decref(body);
	body = th_ok(d, "GET", second, NULL);
	list = json_object_get(body, "reports");
	ck_assert_int_eq(json_array_size(list), 1);
	json_t *r = json_array_get(list, 0);
	ck_assert_int_eq(json_integer_value(json_object_get(r, "created_at")), 3000);
	ck_assert_str_eq(json_string_value(json_object_get(r, "monitor_id")), id_of(a));
	ck_assert_str_eq(json_string_value(json_object_get(r, "model")), "iris");
	ck_assert_str_eq(json_string_value(json_object_get(r, "model_version")), "2");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r, "window"), "rows")), 100);
	ck_assert(json_is_false(json_object_get(r, "dataset_drift")));
	ck_assert(json_real_value(json_object_get(r, "share_of_drifted_columns")) == 0.25);
	ck_assert_ptr_null(json_object_get(body, "next_page_token"));
	json_decref(body);

	/* the document */
	char *rid = th_fmt("%032x", 4);
	char *path = th_fmt("/v1/reports/%s", rid);
	body = th_ok(d, "GET", path, NULL);
	r = json_object_get(body, "report");
	ck_assert_str_eq(json_string_value(json_object_get(r, "id")), rid);
	ck_assert(json_is_true(json_object_get(r, "dataset_drift")));
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r, "window"), "start")), 3500);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r, "window"), "end")), 3999);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r, "result"), "number_of_columns")), 4);
	json_decref(body);

	/* a monitor's reports go with it */
	char *monitor = th_fmt("/v1/monitors/%s", id_of(a));
	json_decref(th_ok(d, "DELETE", monitor, NULL));
	expect_404("GET", path, NULL);
	expect_404("GET", first, NULL);
	ck_assert_int_eq(count("reports"), 1);
	free(monitor);
	free(path);
	free(rid);
	free(second);
	free(first);
	json_decref(a);
	json_decref(b);
}
END_TEST

static Suite *drift_api_suite(void)
{
	Suite *s = suite_create("drift-monitors-api");
	TCase *tc = tcase_create("monitors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, created_with_defaults_or_as_given);
	tcase_add_test(tc, one_monitor_per_model);
	tcase_add_test(tc, bad_specs_are_400_and_write_nothing);
	tcase_add_test(tc, list_is_newest_first_in_pages);
	tcase_add_test(tc, patch_sets_what_it_gives);
	tcase_add_test(tc, delete_and_unknown_ids);
	tcase_add_test(tc, reports_empty_and_unknown);
	tcase_add_test(tc, reports_filters_pages_and_documents);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	SRunner *sr = srunner_create(drift_api_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

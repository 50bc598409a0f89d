/* Contract test of the experiment tracker: proto/openapi/experiment-tracker.yaml is
 * kept true against the real daemon (issue 3, "Contract").
 *   routes_match_document   the daemon's route table (--routes) and the document's
 *                           operations match both ways (th_contract_routes);
 *   session_keeps_contract  a realistic MLflow session against a fresh daemon: every
 *                           documented operation at least once (checked at the end
 *                           against the document itself), and a representative error
 *                           of each kind the handlers answer (400 missing field, bad
 *                           JSON, wrong Content-Type, bad filter, deleted run; 404
 *                           unknown run/experiment/tag/artifact; 409 artifact conflict;
 *                           413 body over the limit; 500 INVALID_STATE; 501 multipart),
 *                           and Lathe's admin/gc (dry run and run; bad dry_run).
 * Every response goes through th_contract_check (status documented, JSON body valid
 * against the operation's schema); the non-JSON answers (artifact download, /health,
 * /version) are also checked for a Content-Type the document lists. */
#include <check.h>
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "contract.h"

#define API "/api/2.0/mlflow/"
#define ART "/api/2.0/mlflow-artifacts/artifacts"
#define MPU "/api/2.0/mlflow-artifacts/mpu/"

static json_t *doc;
static struct th_daemon *d;
static char other_id[24]; /* the experiment "other" (ids skip numbers a failed create took) */

/* Every METHOD path sent (for the coverage check at the end). */
#define MAX_SENT 512
static char *sent[MAX_SENT];
static size_t n_sent;

/* --- helpers ----------------------------------------------------------------------- */

/* Sends a request with a raw body, checks the answer against the document and that its
 * status is want. The caller th_response_free()s the result. */
static struct th_response send_raw(const char *method, const char *path, const char *content_type, const char *body,
				   size_t len, long want)
{
	char *url = th_fmt("%s%s", d->base_url, path);
	struct th_response r = th_http(method, url, content_type, body, len);
	free(url);
	ck_assert_msg(r.status == want, "%s %s -> %ld (wanted %ld): %s", method, path, r.status, want, r.body);
	th_contract_check(doc, method, path, &r);
	ck_assert_uint_lt(n_sent, MAX_SENT);
	sent[n_sent++] = th_fmt("%s %s", method, path);
	return r;
}

static struct th_response send_json(const char *method, const char *path, const char *json, long want)
{
	return send_raw(method, path, NULL, json, json ? strlen(json) : 0, want);
}

/* A 200 JSON answer; returns its body (the caller decrefs). */
static json_t *ok(const char *method, const char *path, const char *json)
{
	struct th_response r = send_json(method, path, json, 200);
	ck_assert_msg(r.json != NULL, "%s %s: not JSON: %s", method, path, r.body);
	json_t *j = json_incref(r.json);
	th_response_free(&r);
	return j;
}

/* A 200 {} answer. */
static void ok_empty(const char *method, const char *path, const char *json)
{
	json_t *j = ok(method, path, json);
	ck_assert_msg(json_is_object(j) && json_object_size(j) == 0, "%s %s: not {}", method, path);
	json_decref(j);
}

/* An error answer with this status and error_code (needle: part of the message or NULL). */
static void fails(const char *method, const char *path, const char *json, long status, const char *code,
		  const char *needle)
{
	struct th_response r = send_json(method, path, json, status);
	th_expect_error(&r, status, code, needle);
	th_response_free(&r);
}

static json_t *at(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	ck_assert_msg(v != NULL, "missing member '%s'", key);
	return v;
}

static const char *str_at(json_t *o, const char *key)
{
	json_t *v = at(o, key);
	ck_assert_msg(json_is_string(v), "member '%s' is not a string", key);
	return json_string_value(v);
}

/* The element of an array of {key, ...} whose key is key (NULL when none). */
static json_t *by_key(json_t *arr, const char *member, const char *key)
{
	size_t i;
	json_t *it;
	json_array_foreach(arr, i, it) if (strcmp(str_at(it, member), key) == 0) return it;
	return NULL;
}

/* --- Content-Type of non-JSON answers ----------------------------------------------- */

static size_t discard(char *p, size_t size, size_t n, void *cls)
{
	(void)p, (void)cls;
	return size * n;
}

/* Fails unless GET path answers 200 with a Content-Type that the document's 200
 * response of GET doc_path lists by name (a media-type range such as * / * does not
 * count: the type must be written out). */
static void check_content_type(const char *path, const char *doc_path)
{
	char *url = th_fmt("%s%s", d->base_url, path);
	CURL *curl = curl_easy_init();
	ck_assert_ptr_nonnull(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 60000L);
	ck_assert_int_eq(curl_easy_perform(curl), CURLE_OK);
	long status = 0;
	char *ct = NULL;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
	ck_assert_int_eq(status, 200);
	ck_assert_msg(ct != NULL, "GET %s: no Content-Type", path);
	json_t *content = json_object_get(
		json_object_get(
			json_object_get(
				json_object_get(json_object_get(json_object_get(doc, "paths"), doc_path), "get"),
				"responses"),
			"200"),
		"content");
	ck_assert_msg(json_object_get(content, ct) != NULL, "GET %s answers Content-Type '%s', which %s does not list",
		      path, ct, doc_path);
	curl_easy_cleanup(curl);
	free(url);
}

/* --- coverage ------------------------------------------------------------------------ */

/* Whether the concrete path (query stripped, /ajax-api/2.0/ mapped) fits the template;
 * rest: the template's last {param} takes the rest of the path. */
static bool fits(const char *tmpl, const char *raw, bool rest)
{
	char path[2048];
	const char *ajax = "/ajax-api/2.0/";
	if (strncmp(raw, ajax, strlen(ajax)) == 0)
		snprintf(path, sizeof path, "/api/2.0/%s", raw + strlen(ajax));
	else
		snprintf(path, sizeof path, "%s", raw);
	path[strcspn(path, "?")] = '\0';
	const char *p = path;
	while (*tmpl && *p) {
		if (*tmpl == '{') {
			const char *close = strchr(tmpl, '}');
			size_t seg = strcspn(p, "/");
			if (!close || seg == 0)
				return false;
			if (rest && close[1] == '\0')
				return true;
			tmpl = close + 1;
			p += seg;
		} else if (*tmpl++ != *p++) {
			return false;
		}
	}
	return *tmpl == '\0' && *p == '\0';
}

/* Fails unless every operation of the document was sent at least once. */
static void check_every_operation_sent(void)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH"};
	const char *tmpl;
	json_t *item;
	size_t n_ops = 0;
	json_object_foreach(json_object_get(doc, "paths"), tmpl, item)
	{
		bool rest = json_is_true(json_object_get(item, "x-lathe-rest"));
		for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
			char lower[8];
			size_t k = 0;
			for (; methods[m][k]; k++)
				lower[k] = (char)(methods[m][k] + ('a' - 'A'));
			lower[k] = '\0';
			if (!json_object_get(item, lower))
				continue;
			n_ops++;
			bool hit = false;
			size_t len = strlen(methods[m]);
			for (size_t i = 0; i < n_sent && !hit; i++)
				hit = strncmp(sent[i], methods[m], len) == 0 && sent[i][len] == ' ' &&
				      fits(tmpl, sent[i] + len + 1, rest);
			ck_assert_msg(hit, "the session never sent %s %s", methods[m], tmpl);
		}
	}
	ck_assert_uint_ge(n_ops, 36); /* 32 tracker operations + healthz, readyz, metrics, openapi.json */
}

/* --- the route table ---------------------------------------------------------------- */

START_TEST(routes_match_document)
{
	json_t *document = th_contract_load("experiment-tracker");
	ck_assert(json_is_true(json_object_get(document, "x-lathe-ajax-twins")));
	th_contract_routes(document, "experiment-tracker");
	json_decref(document);
}
END_TEST

/* --- the session -------------------------------------------------------------------- */

static void server_routes(void)
{
	struct th_response r = send_json("GET", "/health", NULL, 200);
	ck_assert_str_eq(r.body, "OK");
	th_response_free(&r);
	check_content_type("/health", "/health");
	r = send_json("GET", "/version", NULL, 200);
	ck_assert_str_eq(r.body, "2.12.2");
	th_response_free(&r);
	check_content_type("/version", "/version");
	json_decref(ok("GET", "/healthz", NULL));
	json_decref(ok("GET", "/readyz", NULL));
	json_t *served = ok("GET", "/openapi.json", NULL); /* the document this test checks against */
	ck_assert(json_equal(served, doc));
	json_decref(served);
	r = send_json("GET", "/metrics", NULL, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "# TYPE"));
	th_response_free(&r);
}

/* mlflow.set_experiment, tags, rename, search; leaves experiment "contract" = id 1. */
static void experiments(void)
{
	fails("GET", API "experiments/get-by-name?experiment_name=contract", NULL, 404, "RESOURCE_DOES_NOT_EXIST",
	      "contract");
	json_t *j = ok("POST", API "experiments/create",
		       "{\"name\":\"contract\",\"tags\":[{\"key\":\"team\",\"value\":\"ml\"},{\"key\":\"z\"}]}");
	ck_assert_str_eq(str_at(j, "experiment_id"), "1");
	json_decref(j);
	fails("POST", API "experiments/create", "{\"name\":\"contract\"}", 400, "RESOURCE_ALREADY_EXISTS", "contract");
	fails("POST", API "experiments/create", "{}", 400, "INVALID_PARAMETER_VALUE", "'name'");
	fails("POST", API "experiments/create", "{\"name\":\"x\",\"artifact_location\":\"runs:/abc\"}", 400,
	      "INVALID_PARAMETER_VALUE", "runs:");
	struct th_response r = send_raw("POST", API "experiments/create", "text/plain", "{\"name\":\"t\"}", 12, 400);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "Content-Type");
	th_response_free(&r);
	j = ok("POST", API "experiments/create", "{\"name\":\"other\",\"artifact_location\":\"s3://bucket/other\"}");
	snprintf(other_id, sizeof other_id, "%s", str_at(j, "experiment_id"));
	json_decref(j);

	j = ok("GET", API "experiments/get?experiment_id=1", NULL);
	json_t *e = at(j, "experiment");
	ck_assert_str_eq(str_at(e, "artifact_location"), "mlflow-artifacts:/1");
	ck_assert_int_eq(json_array_size(at(e, "tags")), 2);
	json_decref(j);
	j = ok("GET", API "experiments/get?experiment_id=0", NULL); /* Default: no tags member */
	ck_assert_ptr_null(json_object_get(at(j, "experiment"), "tags"));
	json_decref(j);
	fails("GET", API "experiments/get?experiment_id=999", NULL, 404, "RESOURCE_DOES_NOT_EXIST", "999");
	fails("GET", API "experiments/get?experiment_id=a.b", NULL, 400, "INVALID_PARAMETER_VALUE", "a.b");
	fails("GET", API "experiments/get", NULL, 400, "INVALID_PARAMETER_VALUE", "experiment_id");

	ok_empty("POST", API "experiments/update", "{\"experiment_id\":\"1\",\"new_name\":\"contract-2\"}");
	fails("POST", API "experiments/update", "{\"experiment_id\":\"1\",\"new_name\":\"other\"}", 400,
	      "RESOURCE_ALREADY_EXISTS", NULL);
	fails("POST", API "experiments/update", "{\"experiment_id\":\"77\",\"new_name\":\"n\"}", 404,
	      "RESOURCE_DOES_NOT_EXIST", NULL);
	j = ok("GET", API "experiments/get-by-name?experiment_name=contract-2", NULL);
	ck_assert_str_eq(str_at(at(j, "experiment"), "experiment_id"), "1");
	json_decref(j);
	ok_empty("POST", API "experiments/set-experiment-tag",
		 "{\"experiment_id\":\"1\",\"key\":\"stage\",\"value\":\"dev\"}");
	fails("POST", API "experiments/set-experiment-tag", "{\"experiment_id\":\"1\",\"key\":\"../x\"}", 400,
	      "INVALID_PARAMETER_VALUE", NULL);
	fails("POST", API "experiments/set-experiment-tag", "{\"experiment_id\":\"55\",\"key\":\"k\"}", 404,
	      "RESOURCE_DOES_NOT_EXIST", NULL);

	/* searches: GET and POST, pages, no hits, bad filters */
	j = ok("GET",
	       API
	       "experiments/search?max_results=10&order_by=name%20ASC&view_type=ALL&filter=name%20LIKE%20%27c%25%27",
	       NULL);
	ck_assert_int_eq(json_array_size(at(j, "experiments")), 1);
	json_decref(j);
	j = ok("POST", API "experiments/search", "{\"max_results\":1,\"order_by\":[\"name ASC\"]}");
	ck_assert_int_eq(json_array_size(at(j, "experiments")), 1);
	char *body = th_fmt("{\"max_results\":1,\"order_by\":[\"name ASC\"],\"page_token\":\"%s\"}",
			    str_at(j, "next_page_token"));
	json_decref(j);
	json_decref(ok("POST", API "experiments/search", body));
	free(body);
	j = ok("POST", API "experiments/search", "{\"filter\":\"name = 'nothing-here'\"}");
	ck_assert_int_eq(json_object_size(j), 0);
	json_decref(j);
	j = ok("POST", API "experiments/search", NULL); /* no body: {} */
	ck_assert_int_eq(json_array_size(at(j, "experiments")), 3);
	json_decref(j);
	fails("POST", API "experiments/search", "{\"filter\":\"name =\"}", 400, "INVALID_PARAMETER_VALUE", NULL);
	fails("GET", API "experiments/search?max_results=0", NULL, 400, "INVALID_PARAMETER_VALUE", "max_results");
	fails("POST", API "experiments/search", "{\"view_type\":\"SOME\"}", 400, "INVALID_PARAMETER_VALUE", NULL);
}

/* A training run as the Python client logs it; returns the run id (malloc'd). */
static char *runs(void)
{
	json_t *j = ok("POST", API "runs/create",
		       "{\"experiment_id\":\"1\",\"user_id\":\"alice\",\"start_time\":1700000000000,"
		       "\"run_name\":\"r1\",\"tags\":[{\"key\":\"mlflow.user\",\"value\":\"alice\"},"
		       "{\"key\":\"mlflow.source.type\",\"value\":\"LOCAL\"}]}");
	json_t *info = at(at(j, "run"), "info");
	char *rid = strdup(str_at(info, "run_id"));
	ck_assert_str_eq(str_at(info, "status"), "RUNNING");
	ck_assert_ptr_null(json_object_get(info, "end_time"));
	json_decref(j);
	/* a second run, all defaults (random name, Default experiment), through the twin */
	j = ok("POST", "/ajax-api/2.0/mlflow/runs/create", "{}");
	ck_assert_str_eq(str_at(at(at(j, "run"), "info"), "experiment_id"), "0");
	json_decref(j);
	fails("POST", API "runs/create", "{\"experiment_id\":\"404\"}", 404, "RESOURCE_DOES_NOT_EXIST", "404");
	fails("POST", API "runs/create",
	      "{\"experiment_id\":\"1\",\"run_name\":\"a\",\"tags\":[{\"key\":\"mlflow.runName\",\"value\":\"b\"}]}",
	      400, "INVALID_PARAMETER_VALUE", "run_name");

	char *b = th_fmt("{\"run_id\":\"%s\",\"run_uuid\":\"%s\",\"key\":\"loss\",\"value\":0.5,\"timestamp\":"
			 "1700000000001,\"step\":1}",
			 rid, rid);
	ok_empty("POST", API "runs/log-metric", b);
	free(b);
	b = th_fmt("{\"run_id\":\"%s\",\"key\":\"loss\",\"value\":0.25,\"timestamp\":1700000000002,\"step\":2}", rid);
	ok_empty("POST", API "runs/log-metric", b);
	free(b);
	b = th_fmt("{\"run_uuid\":\"%s\",\"key\":\"nan_metric\",\"value\":\"NaN\",\"timestamp\":\"1700000000003\"}",
		   rid);
	ok_empty("POST", API "runs/log-metric", b);
	free(b);
	b = th_fmt("{\"run_id\":\"%s\",\"key\":\"inf_metric\",\"value\":\"-Infinity\",\"timestamp\":1700000000003}",
		   rid);
	ok_empty("POST", API "runs/log-metric", b);
	free(b);
	b = th_fmt("{\"run_id\":\"%s\",\"value\":1,\"timestamp\":1}", rid);
	fails("POST", API "runs/log-metric", b, 400, "INVALID_PARAMETER_VALUE", "'key'");
	free(b);
	b = th_fmt("{\"run_id\":\"%s\",\"key\":\"k\",\"value\":\"notanumber\",\"timestamp\":1}", rid);
	fails("POST", API "runs/log-metric", b, 400, "INVALID_PARAMETER_VALUE", "notanumber");
	free(b);
	fails("POST", API "runs/log-metric", "{\"run_id\":", 400, "INVALID_PARAMETER_VALUE", NULL);
	fails("POST", API "runs/log-metric",
	      "{\"run_id\":\"0123456789abcdef0123456789abcdef\",\"key\":\"k\",\"value\":1,\"timestamp\":1}", 404,
	      "RESOURCE_DOES_NOT_EXIST", "0123456789abcdef0123456789abcdef");

	b = th_fmt("{\"run_id\":\"%s\",\"key\":\"lr\",\"value\":\"0.01\"}", rid);
	ok_empty("POST", API "runs/log-parameter", b);
	ok_empty("POST", API "runs/log-parameter", b); /* same value again: a no-op */
	free(b);
	b = th_fmt("{\"run_id\":\"%s\",\"key\":\"lr\",\"value\":\"0.02\"}", rid);
	fails("POST", API "runs/log-parameter", b, 400, "INVALID_PARAMETER_VALUE", "Changing param values");
	free(b);
	b = th_fmt("{\"run_id\":\"%s\",\"key\":\"note\",\"value\":\"first try\"}", rid);
	ok_empty("POST", API "runs/set-tag", b);
	free(b);
	b = th_fmt("{\"run_id\":\"%s\",\"key\":\"temp\"}", rid);
	ok_empty("POST", API "runs/set-tag", b);
	ok_empty("POST", API "runs/delete-tag", b);
	fails("POST", API "runs/delete-tag", b, 404, "RESOURCE_DOES_NOT_EXIST", "temp");
	free(b);

	b = th_fmt(
		"{\"run_id\":\"%s\",\"metrics\":[{\"key\":\"acc\",\"value\":0.9,\"timestamp\":1700000000010,\"step\":0}"
		","
		"{\"key\":\"acc\",\"value\":0.95,\"timestamp\":1700000000020,\"step\":1}],"
		"\"params\":[{\"key\":\"epochs\",\"value\":\"10\"},{\"key\":\"opt\",\"value\":\"adam\"}],"
		"\"tags\":[{\"key\":\"mlflow.source.name\",\"value\":\"train.py\"}]}",
		rid);
	ok_empty("POST", API "runs/log-batch", b);
	free(b);
	b = th_fmt("{\"run_id\":\"%s\",\"params\":[{\"key\":\"p\",\"value\":\"1\"},{\"key\":\"p\",\"value\":\"2\"}]}",
		   rid);
	fails("POST", API "runs/log-batch", b, 400, "INVALID_PARAMETER_VALUE", "Duplicate parameter keys");
	free(b);

	b = th_fmt(
		"{\"run_id\":\"%s\",\"datasets\":[{\"tags\":[{\"key\":\"mlflow.data.context\",\"value\":\"training\"}],"
		"\"dataset\":{\"name\":\"iris\",\"digest\":\"abc123\",\"source_type\":\"local\",\"source\":"
		"\"{\\\"uri\\\": \\\"/data/iris.csv\\\"}\",\"schema\":\"{}\",\"profile\":\"{\\\"num_rows\\\": 150}\"}},"
		"{\"dataset\":{\"name\":\"eval\",\"digest\":\"def456\",\"source_type\":\"http\",\"source\":\"{}\"}}]}",
		rid);
	ok_empty("POST", API "runs/log-inputs", b);
	free(b);
	b = th_fmt("{\"run_id\":\"%s\"}", rid);
	fails("POST", API "runs/log-inputs", b, 400, "INVALID_PARAMETER_VALUE", "datasets");
	free(b);
	b = th_fmt("{\"run_id\":\"%s\",\"datasets\":[{\"dataset\":{\"name\":\"x\"}}]}", rid);
	fails("POST", API "runs/log-inputs", b, 400, "INVALID_PARAMETER_VALUE", "digest");
	free(b);

	/* log-model as mlflow.<flavor>.log_model sends it */
	b = th_fmt("{\"run_id\":\"%s\",\"model_json\":\"{\\\"run_id\\\": \\\"%s\\\", \\\"artifact_path\\\": "
		   "\\\"model\\\", \\\"utc_time_created\\\": \\\"2024-05-01 12:00:00.000000\\\", "
		   "\\\"flavors\\\": {\\\"python_function\\\": {}}, \\\"mlflow_version\\\": \\\"2.12.2\\\"}\"}",
		   rid, rid);
	ok_empty("POST", API "runs/log-model", b);
	free(b);
	b = th_fmt("{\"run_id\":\"%s\",\"model_json\":\"{}\"}", rid);
	fails("POST", API "runs/log-model", b, 400, "INVALID_PARAMETER_VALUE", "missing mandatory fields");
	free(b);
	fails("POST", API "runs/log-model",
	      "{\"run_id\":\"0123456789abcdef0123456789abcdef\",\"model_json\":\"{\\\"run_id\\\": \\\"r\\\", "
	      "\\\"artifact_path\\\": \\\"m\\\", \\\"utc_time_created\\\": \\\"t\\\", \\\"flavors\\\": {}}\"}",
	      404, "RESOURCE_DOES_NOT_EXIST", "not found");

	/* the run as runs/get renders it: every part of Run present */
	char *path = th_fmt(API "runs/get?run_id=%s&run_uuid=%s", rid, rid);
	j = ok("GET", path, NULL);
	free(path);
	json_t *run = at(j, "run"), *data = at(run, "data");
	json_t *nan = by_key(at(data, "metrics"), "key", "nan_metric"),
	       *inf = by_key(at(data, "metrics"), "key", "inf_metric");
	ck_assert_ptr_nonnull(nan);
	ck_assert_str_eq(str_at(nan, "value"), "NaN");
	ck_assert_ptr_nonnull(inf);
	ck_assert(json_is_number(at(inf, "value"))); /* stored as -DBL_MAX, as MLflow does */
	ck_assert_int_eq(json_array_size(at(data, "params")), 3);
	ck_assert_ptr_nonnull(by_key(at(data, "tags"), "key", "mlflow.runName"));
	json_t *inputs = at(at(run, "inputs"), "dataset_inputs");
	ck_assert_int_eq(json_array_size(inputs), 2);
	ck_assert_ptr_null(json_object_get(at(json_array_get(inputs, 1), "dataset"), "schema"));
	json_decref(j);
	path = th_fmt("/ajax-api/2.0/mlflow/runs/get?run_id=%s", rid);
	json_decref(ok("GET", path, NULL));
	free(path);
	fails("GET", API "runs/get", NULL, 400, "INVALID_PARAMETER_VALUE", "run_id");
	fails("GET", API "runs/get?run_id=ffffffffffffffffffffffffffffffff", NULL, 404, "RESOURCE_DOES_NOT_EXIST",
	      "ffffffffffffffffffffffffffffffff");

	/* history: all points, a page, an unknown key, errors */
	path = th_fmt(API "metrics/get-history?run_id=%s&run_uuid=%s&metric_key=loss", rid, rid);
	j = ok("GET", path, NULL);
	free(path);
	ck_assert_int_eq(json_array_size(at(j, "metrics")), 2);
	json_decref(j);
	path = th_fmt(API "metrics/get-history?run_id=%s&metric_key=loss&max_results=1", rid);
	j = ok("GET", path, NULL);
	free(path);
	path = th_fmt(API "metrics/get-history?run_id=%s&metric_key=loss&max_results=1&page_token=%s", rid,
		      str_at(j, "next_page_token"));
	json_decref(j);
	json_decref(ok("GET", path, NULL));
	free(path);
	path = th_fmt(API "metrics/get-history?run_id=%s&metric_key=nan_metric", rid);
	j = ok("GET", path, NULL);
	free(path);
	ck_assert_str_eq(str_at(json_array_get(at(j, "metrics"), 0), "value"), "NaN");
	json_decref(j);
	path = th_fmt(API "metrics/get-history?run_id=%s&metric_key=never", rid);
	j = ok("GET", path, NULL);
	free(path);
	ck_assert_int_eq(json_object_size(j), 0);
	json_decref(j);
	path = th_fmt(API "metrics/get-history?run_id=%s", rid);
	fails("GET", path, NULL, 400, "INVALID_PARAMETER_VALUE", "metric_key");
	free(path);
	path = th_fmt(API "metrics/get-history?run_id=%s&metric_key=loss&max_results=0", rid);
	fails("GET", path, NULL, 400, "INVALID_PARAMETER_VALUE", "max_results");
	free(path);
	fails("GET", API "metrics/get-history?run_id=00000000000000000000000000000000&metric_key=loss", NULL, 404,
	      "RESOURCE_DOES_NOT_EXIST", NULL);

	/* the end of the run */
	b = th_fmt("{\"run_id\":\"%s\",\"status\":\"FINISHED\",\"end_time\":1700000001000,\"run_name\":\"r1-final\"}",
		   rid);
	j = ok("POST", API "runs/update", b);
	free(b);
	ck_assert_str_eq(str_at(at(j, "run_info"), "status"), "FINISHED");
	ck_assert_str_eq(str_at(at(j, "run_info"), "run_name"), "r1-final");
	json_decref(j);
	b = th_fmt("{\"run_id\":\"%s\",\"status\":\"DONE\"}", rid);
	fails("POST", API "runs/update", b, 400, "INVALID_PARAMETER_VALUE", "status");
	free(b);
	fails("POST", API "runs/update", "{\"run_id\":\"abcdefabcdefabcdefabcdefabcdefab\",\"status\":3}", 404,
	      "RESOURCE_DOES_NOT_EXIST", NULL);

	/* searches */
	j = ok("POST", API "runs/search",
	       "{\"experiment_ids\":[\"1\"],\"filter\":\"metrics.loss < 1 AND params.lr = '0.01'\","
	       "\"run_view_type\":\"ACTIVE_ONLY\",\"max_results\":10,\"order_by\":[\"attributes.start_time DESC\"]}");
	ck_assert_int_eq(json_array_size(at(j, "runs")), 1);
	ck_assert_ptr_null(json_object_get(j, "next_page_token"));
	json_decref(j);
	j = ok("POST", "/ajax-api/2.0/mlflow/runs/search", "{\"experiment_ids\":[\"0\",\"1\"],\"max_results\":1}");
	ck_assert_int_eq(json_array_size(at(j, "runs")), 1);
	b = th_fmt("{\"experiment_ids\":[\"0\",\"1\"],\"max_results\":1,\"page_token\":\"%s\"}",
		   str_at(j, "next_page_token"));
	json_decref(j);
	json_decref(ok("POST", API "runs/search", b));
	free(b);
	j = ok("POST", API "runs/search", "{\"experiment_ids\":[\"1\"],\"filter\":\"tags.note = 'no such'\"}");
	ck_assert_int_eq(json_object_size(j), 0);
	json_decref(j);
	fails("POST", API "runs/search", "{\"experiment_ids\":[\"1\"],\"filter\":\"metrics.loss <<< 1\"}", 400,
	      "INVALID_PARAMETER_VALUE", NULL);
	fails("POST", API "runs/search", "{\"experiment_ids\":[\"1\"],\"filter\":\"foo = 'x'\"}", 400,
	      "INVALID_PARAMETER_VALUE", NULL);
	fails("POST", API "runs/search", "{\"max_results\":50001}", 400, "INVALID_PARAMETER_VALUE", "max_results");
	return rid;
}

/* log_artifact(s), list_artifacts, download_artifacts through the proxy. */
static void artifacts(const char *rid)
{
	char *root = th_fmt(ART "/1/%s/artifacts", rid);
	char *p = th_fmt("%s/notes/hello.txt", root);
	struct th_response r = send_raw("PUT", p, "text/plain", "hello\n", 6, 200);
	ck_assert_int_eq(json_object_size(r.json), 0);
	th_response_free(&r);
	free(p);
	static const char bin[4] = {0x00, 0x01, (char)0xff, 0x7f};
	p = th_fmt("%s/model.bin", root);
	r = send_raw("PUT", p, "application/octet-stream", bin, sizeof bin, 200);
	th_response_free(&r);
	free(p);
	p = th_fmt("%s/empty.txt", root);
	r = send_raw("PUT", p, "text/plain", NULL, 0, 200);
	th_response_free(&r);
	free(p);

	/* listings: a run root (files and a directory), a sub-directory, the store's root */
	char *q = th_fmt(ART "?path=1/%s/artifacts", rid);
	json_t *j = ok("GET", q, NULL);
	free(q);
	json_t *files = at(j, "files");
	ck_assert_int_eq(json_array_size(files), 3);
	ck_assert(json_is_true(at(by_key(files, "path", "notes"), "is_dir")));
	ck_assert_int_eq(json_integer_value(at(by_key(files, "path", "model.bin"), "file_size")), 4);
	json_decref(j);
	q = th_fmt(ART "?path=1/%s/artifacts/notes", rid);
	json_decref(ok("GET", q, NULL));
	free(q);
	json_decref(ok("GET", ART, NULL));
	j = ok("GET", ART "?path=no/such/dir", NULL);
	ck_assert_int_eq(json_object_size(j), 0);
	json_decref(j);
	fails("GET", ART "?path=a/../../b", NULL, 400, "INVALID_PARAMETER_VALUE", "Invalid path");

	/* downloads: bytes and Content-Type */
	p = th_fmt("%s/notes/hello.txt", root);
	r = send_json("GET", p, NULL, 200);
	ck_assert_str_eq(r.body, "hello\n");
	th_response_free(&r);
	check_content_type(p, ART "/{path}");
	free(p);
	p = th_fmt("%s/model.bin", root);
	r = send_json("GET", p, NULL, 200);
	ck_assert_uint_eq(r.body_len, sizeof bin);
	ck_assert_int_eq(memcmp(r.body, bin, sizeof bin), 0);
	th_response_free(&r);
	check_content_type(p, ART "/{path}");
	free(p);
	p = th_fmt("%s/missing.txt", root);
	fails("GET", p, NULL, 404, "RESOURCE_DOES_NOT_EXIST", "missing.txt");
	free(p);
	p = th_fmt("%s/notes", root);
	fails("GET", p, NULL, 400, "INVALID_PARAMETER_VALUE", "directory");
	free(p);
	p = th_fmt("%s/a%%23b", root);
	fails("GET", p, NULL, 400, "INVALID_PARAMETER_VALUE", "Invalid path");
	free(p);

	/* conflicts: a file over a directory, a directory under a file */
	p = th_fmt("%s/notes", root);
	r = send_raw("PUT", p, "text/plain", "x", 1, 409);
	th_expect_error(&r, 409, "RESOURCE_CONFLICT", NULL);
	th_response_free(&r);
	free(p);
	p = th_fmt("%s/model.bin/inner.txt", root);
	r = send_raw("PUT", p, "text/plain", "x", 1, 409);
	th_expect_error(&r, 409, "RESOURCE_CONFLICT", NULL);
	th_response_free(&r);
	free(p);
	p = th_fmt("%s/x%%23y.txt", root);
	r = send_raw("PUT", p, "text/plain", "x", 1, 400);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "Invalid path");
	th_response_free(&r);
	free(p);

	/* the tracking-side listing of the run */
	q = th_fmt(API "artifacts/list?run_id=%s", rid);
	j = ok("GET", q, NULL);
	free(q);
	char *uri = th_fmt("mlflow-artifacts:/1/%s/artifacts", rid);
	ck_assert_str_eq(str_at(j, "root_uri"), uri);
	free(uri);
	ck_assert_int_eq(json_array_size(at(j, "files")), 3);
	json_decref(j);
	q = th_fmt(API "artifacts/list?run_uuid=%s&path=notes", rid);
	j = ok("GET", q, NULL);
	free(q);
	ck_assert_str_eq(str_at(json_array_get(at(j, "files"), 0), "path"), "notes/hello.txt");
	json_decref(j);
	q = th_fmt(API "artifacts/list?run_id=%s&path=nothing", rid);
	j = ok("GET", q, NULL);
	free(q);
	ck_assert_ptr_null(json_object_get(j, "files"));
	json_decref(j);
	fails("GET", API "artifacts/list", NULL, 400, "INVALID_PARAMETER_VALUE", "run_id");
	fails("GET", API "artifacts/list?run_id=99999999999999999999999999999999", NULL, 404, "RESOURCE_DOES_NOT_EXIST",
	      NULL);

	/* multipart: not supported, the client falls back to one PUT */
	p = th_fmt(MPU "create/1/%s/artifacts/big.bin", rid);
	fails("POST", p, "{\"path\":\"big.bin\",\"num_parts\":3}", 501, "NOT_IMPLEMENTED", "Multipart");
	free(p);
	p = th_fmt(MPU "complete/1/%s/artifacts/big.bin", rid);
	fails("POST", p, "{\"path\":\"big.bin\",\"upload_id\":\"u\",\"parts\":[{\"part_number\":1,\"etag\":\"e\"}]}",
	      501, "NOT_IMPLEMENTED", NULL);
	free(p);
	p = th_fmt(MPU "abort/1/%s/artifacts/big.bin", rid);
	fails("POST", p, "{\"path\":\"big.bin\",\"upload_id\":\"u\"}", 501, "NOT_IMPLEMENTED", NULL);
	free(p);

	/* deletes: a file, a tree, a path with nothing there, a bad path */
	p = th_fmt("%s/empty.txt", root);
	ok_empty("DELETE", p, NULL);
	free(p);
	p = th_fmt("%s/notes", root);
	ok_empty("DELETE", p, NULL);
	ok_empty("DELETE", p, NULL);
	free(p);
	p = th_fmt("%s/a%%23b", root);
	fails("DELETE", p, NULL, 400, "INVALID_PARAMETER_VALUE", "Invalid path");
	free(p);
	q = th_fmt(ART "?path=1/%s/artifacts", rid);
	j = ok("GET", q, NULL);
	free(q);
	ck_assert_int_eq(json_array_size(at(j, "files")), 1);
	json_decref(j);
	free(root);
}

/* Deleted runs and experiments, and what writes to them answer. */
static void lifecycle(const char *rid)
{
	char *b = th_fmt("{\"run_id\":\"%s\"}", rid);
	ok_empty("POST", API "runs/delete", b);
	char *m = th_fmt("{\"run_id\":\"%s\",\"key\":\"late\",\"value\":1,\"timestamp\":1}", rid);
	fails("POST", API "runs/log-metric", m, 400, "INVALID_PARAMETER_VALUE", "active");
	free(m);
	json_t *j = ok("POST", API "runs/search", "{\"experiment_ids\":[\"1\"],\"run_view_type\":\"DELETED_ONLY\"}");
	ck_assert_str_eq(str_at(at(json_array_get(at(j, "runs"), 0), "info"), "lifecycle_stage"), "deleted");
	json_decref(j);
	ok_empty("POST", API "runs/restore", b);
	free(b);
	fails("POST", API "runs/delete", "{}", 400, "INVALID_PARAMETER_VALUE", "run_id");
	fails("POST", API "runs/restore", "{\"run_id\":\"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\"}", 404,
	      "RESOURCE_DOES_NOT_EXIST", NULL);

	char *e = th_fmt("{\"experiment_id\":\"%s\"}", other_id);
	ok_empty("POST", API "experiments/delete", e);
	fails("POST", API "experiments/delete", e, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	b = th_fmt("{\"experiment_id\":\"%s\",\"new_name\":\"again\"}", other_id);
	fails("POST", API "experiments/update", b, 500, "INVALID_STATE", "non-active");
	free(b);
	b = th_fmt("{\"experiment_id\":\"%s\",\"key\":\"k\"}", other_id);
	fails("POST", API "experiments/set-experiment-tag", b, 400, "INVALID_PARAMETER_VALUE", "active");
	free(b);
	fails("POST", API "runs/create", e, 400, "INVALID_PARAMETER_VALUE", "active");
	b = th_fmt(API "experiments/get?experiment_id=%s", other_id);
	j = ok("GET", b, NULL);
	free(b);
	ck_assert_str_eq(str_at(at(j, "experiment"), "lifecycle_stage"), "deleted");
	json_decref(j);
	ok_empty("POST", API "experiments/restore", e);
	fails("POST", API "experiments/restore", e, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	free(e);
	fails("POST", API "experiments/delete", "{\"experiment_id\":\"-1\"}", 400, "INVALID_PARAMETER_VALUE", NULL);
	fails("POST", API "experiments/restore", "{}", 400, "INVALID_PARAMETER_VALUE", "experiment_id");
}

/* The blob store's collection after the artifact deletes: with the default grace period
 * (an hour) the blobs just orphaned are too young to go, so both runs remove nothing. */
static void admin_gc(void)
{
	json_t *j = ok("POST", "/api/2.0/lathe/admin/gc", "{\"dry_run\": true}");
	ck_assert(json_is_true(json_object_get(j, "dry_run")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "removed")), 0);
	ck_assert_int_ge(json_integer_value(json_object_get(j, "kept_recent")), 3);
	json_decref(j);
	j = ok("POST", "/api/2.0/lathe/admin/gc", NULL);
	ck_assert(json_is_false(json_object_get(j, "dry_run")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "removed")), 0);
	json_decref(j);
	fails("POST", "/api/2.0/lathe/admin/gc", "{\"dry_run\": \"maybe\"}", 400, "INVALID_PARAMETER_VALUE", "dry_run");
}

/* A body over the route's limit (1 MiB for a plain RPC). */
static void too_large(void)
{
	size_t n = (1u << 20) + 1024;
	char *big = malloc(n + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	big[n] = '\0';
	struct th_response r = send_raw("POST", API "experiments/create", NULL, big, n, 413);
	th_expect_error(&r, 413, "REQUEST_TOO_LARGE", NULL);
	th_response_free(&r);
	free(big);
}

START_TEST(session_keeps_contract)
{
	doc = th_contract_load("experiment-tracker");
	d = th_daemon_start("experiment-tracker", NULL, NULL);
	th_daemon_expect_error(d, "Cannot rename a non-active experiment");

	server_routes();
	experiments();
	char *rid = runs();
	artifacts(rid);
	lifecycle(rid);
	admin_gc();
	too_large();
	check_every_operation_sent();

	free(rid);
	for (size_t i = 0; i < n_sent; i++)
		free(sent[i]);
	th_daemon_stop(d);
	json_decref(doc);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("contract_tracker");
	TCase *tc = tcase_create("openapi");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, routes_match_document);
	tcase_add_test(tc, session_keeps_contract);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

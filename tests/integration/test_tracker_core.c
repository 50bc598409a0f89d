/* Integration tests of the experiment tracker's core tracking API (experiments, runs,
 * params, metrics, tags, inputs), the real daemon against a fresh database, driven
 * with the request sequences the MLflow 2.12.2 Python client sends (docs/mlflow-api.md
 * section 9) and asserting the answers field by field: an experiment's life, a run
 * with params and 100-step metrics and their history, a 1000-metric batch, tags set
 * and deleted, nested runs, log_inputs, run deletion and restore, and the bad-input
 * cases (with checks that rejected writes left nothing behind). */
#include <check.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

#define API "/api/2.0/mlflow/"

/* --- helpers ----------------------------------------------------------------------- */

static json_t *at(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	ck_assert_msg(v != NULL, "missing field '%s'", key);
	return v;
}

static const char *str_at(json_t *o, const char *key)
{
	json_t *v = at(o, key);
	ck_assert_msg(json_is_string(v), "field '%s' is not a string", key);
	return json_string_value(v);
}

static json_int_t int_at(json_t *o, const char *key)
{
	json_t *v = at(o, key);
	ck_assert_msg(json_is_integer(v), "field '%s' is not an integer", key);
	return json_integer_value(v);
}

/* The value of key in an array of {key, value}; NULL when absent. */
static const char *kv_find(json_t *arr, const char *key)
{
	size_t i;
	json_t *it;
	json_array_foreach(arr, i, it) if (strcmp(str_at(it, "key"), key) == 0) return str_at(it, "value");
	return NULL;
}

static json_t *kv_obj(json_t *arr, const char *key)
{
	size_t i;
	json_t *it;
	json_array_foreach(arr, i, it) if (strcmp(str_at(it, "key"), key) == 0) return it;
	return NULL;
}

/* POST/GET expecting 200; returns the parsed body (caller decrefs). */
static void err(struct th_daemon *d, const char *method, const char *path, const char *body, long status,
		const char *code, const char *needle)
{
	struct th_response r = th_call(d, method, path, body);
	th_expect_error(&r, status, code, needle);
	th_response_free(&r);
}

/* Creates a run the way mlflow.start_run does; returns its id (malloc'd). */
static char *start_run(struct th_daemon *d, const char *exp_id, const char *extra_tags)
{
	char *body = th_fmt("{\"experiment_id\":\"%s\",\"user_id\":\"alice\",\"start_time\":1700000000000,"
			    "\"tags\":[{\"key\":\"mlflow.user\",\"value\":\"alice\"},{\"key\":\"mlflow.source.name\","
			    "\"value\":\"train.py\"},{\"key\":\"mlflow.source.type\",\"value\":\"LOCAL\"}%s]}",
			    exp_id, extra_tags ? extra_tags : "");
	json_t *j = th_ok(d, "POST", API "runs/create", body);
	char *id = strdup(str_at(at(at(j, "run"), "info"), "run_id"));
	json_decref(j);
	free(body);
	return id;
}

static json_t *get_run(struct th_daemon *d, const char *run_id)
{
	char *path = th_fmt(API "runs/get?run_uuid=%s&run_id=%s", run_id, run_id);
	json_t *j = th_ok(d, "GET", path, NULL);
	free(path);
	json_t *run = json_incref(at(j, "run"));
	json_decref(j);
	return run;
}

static size_t history_len(struct th_daemon *d, const char *run_id, const char *key)
{
	char *path = th_fmt(API "metrics/get-history?run_uuid=%s&run_id=%s&metric_key=%s", run_id, run_id, key);
	json_t *j = th_ok(d, "GET", path, NULL);
	size_t n = json_array_size(json_object_get(j, "metrics"));
	json_decref(j);
	free(path);
	return n;
}

/* --- an experiment's life ------------------------------------------------------------- */

START_TEST(experiment_life)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	th_daemon_expect_error(d, "Cannot rename a non-active experiment");

	/* mlflow.set_experiment("exp-a") */
	err(d, "GET", API "experiments/get-by-name?experiment_name=exp-a", NULL, 404, "RESOURCE_DOES_NOT_EXIST",
	    "exp-a");
	json_t *j = th_ok(d, "POST", API "experiments/create", "{\"name\":\"exp-a\"}");
	ck_assert_str_eq(str_at(j, "experiment_id"), "1");
	ck_assert_int_eq(json_object_size(j), 1);
	json_decref(j);
	j = th_ok(d, "GET", API "experiments/get?experiment_id=1", NULL);
	json_t *e = at(j, "experiment");
	ck_assert_str_eq(str_at(e, "experiment_id"), "1");
	ck_assert_str_eq(str_at(e, "name"), "exp-a");
	ck_assert_str_eq(str_at(e, "artifact_location"), "mlflow-artifacts:/1");
	ck_assert_str_eq(str_at(e, "lifecycle_stage"), "active");
	json_int_t created = int_at(e, "creation_time");
	ck_assert_int_gt(created, 1600000000000);
	ck_assert_int_eq(int_at(e, "last_update_time"), created);
	ck_assert_ptr_null(json_object_get(e, "tags")); /* unset: omitted */
	ck_assert_int_eq(json_object_size(e), 6);
	json_decref(j);

	/* Default exists; ids grow; the ajax twin answers the same */
	j = th_ok(d, "GET", "/ajax-api/2.0/mlflow/experiments/get?experiment_id=0", NULL);
	ck_assert_str_eq(str_at(at(j, "experiment"), "name"), "Default");
	ck_assert_str_eq(str_at(at(j, "experiment"), "artifact_location"), "mlflow-artifacts:/0");
	json_decref(j);
	j = th_ok(d, "POST", API "experiments/create",
		  "{\"name\":\"exp-b\",\"artifact_location\":\"s3://bucket/"
		  "x\",\"tags\":[{\"key\":\"team\",\"value\":\"ml\"}]}");
	ck_assert_str_eq(str_at(j, "experiment_id"), "2");
	json_decref(j);
	j = th_ok(d, "GET", API "experiments/get-by-name?experiment_name=exp-b", NULL);
	ck_assert_str_eq(str_at(at(j, "experiment"), "artifact_location"), "s3://bucket/x");
	ck_assert_str_eq(kv_find(at(at(j, "experiment"), "tags"), "team"), "ml");
	json_decref(j);

	/* duplicate name */
	err(d, "POST", API "experiments/create", "{\"name\":\"exp-a\"}", 400, "RESOURCE_ALREADY_EXISTS", "exp-a");

	/* rename */
	j = th_ok(d, "POST", API "experiments/update", "{\"experiment_id\":\"1\",\"new_name\":\"exp-a2\"}");
	ck_assert_int_eq(json_object_size(j), 0);
	json_decref(j);
	err(d, "POST", API "experiments/update", "{\"experiment_id\":\"1\",\"new_name\":\"exp-b\"}", 400,
	    "RESOURCE_ALREADY_EXISTS", "exp-b");
	err(d, "GET", API "experiments/get-by-name?experiment_name=exp-a", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	j = th_ok(d, "GET", API "experiments/get-by-name?experiment_name=exp-a2", NULL);
	ck_assert_str_eq(str_at(at(j, "experiment"), "experiment_id"), "1");
	json_decref(j);

	/* tag */
	json_decref(th_ok(d, "POST", API "experiments/set-experiment-tag",
			  "{\"experiment_id\":\"1\",\"key\":\"note\",\"value\":\"first\"}"));
	json_decref(th_ok(d, "POST", API "experiments/set-experiment-tag",
			  "{\"experiment_id\":\"1\",\"key\":\"note\",\"value\":\"second\"}"));
	j = th_ok(d, "GET", API "experiments/get?experiment_id=1", NULL);
	ck_assert_int_eq(json_array_size(at(at(j, "experiment"), "tags")), 1);
	ck_assert_str_eq(kv_find(at(at(j, "experiment"), "tags"), "note"), "second");
	json_decref(j);

	/* a run in it, then delete: the experiment and its runs are deleted, still visible */
	char *run = start_run(d, "1", NULL);
	json_decref(th_ok(d, "POST", API "experiments/delete", "{\"experiment_id\":\"1\"}"));
	j = th_ok(d, "GET", API "experiments/get?experiment_id=1", NULL);
	ck_assert_str_eq(str_at(at(j, "experiment"), "lifecycle_stage"), "deleted");
	ck_assert_int_ge(int_at(at(j, "experiment"), "last_update_time"), created);
	json_decref(j);
	json_t *r = get_run(d, run);
	ck_assert_str_eq(str_at(at(r, "info"), "lifecycle_stage"), "deleted");
	json_decref(r);
	err(d, "POST", API "experiments/create", "{\"name\":\"exp-a2\"}", 400, "RESOURCE_ALREADY_EXISTS", NULL);
	err(d, "POST", API "runs/create", "{\"experiment_id\":\"1\"}", 400, "INVALID_PARAMETER_VALUE", "active");
	err(d, "POST", API "experiments/set-experiment-tag", "{\"experiment_id\":\"1\",\"key\":\"k\",\"value\":\"v\"}",
	    400, "INVALID_PARAMETER_VALUE", "active");
	err(d, "POST", API "experiments/update", "{\"experiment_id\":\"1\",\"new_name\":\"zzz\"}", 500, "INVALID_STATE",
	    "non-active");
	err(d, "POST", API "experiments/delete", "{\"experiment_id\":\"1\"}", 404, "RESOURCE_DOES_NOT_EXIST", NULL);

	/* restore brings back the experiment and its runs */
	json_decref(th_ok(d, "POST", API "experiments/restore", "{\"experiment_id\":\"1\"}"));
	j = th_ok(d, "GET", API "experiments/get?experiment_id=1", NULL);
	ck_assert_str_eq(str_at(at(j, "experiment"), "lifecycle_stage"), "active");
	json_decref(j);
	r = get_run(d, run);
	ck_assert_str_eq(str_at(at(r, "info"), "lifecycle_stage"), "active");
	json_decref(r);
	err(d, "POST", API "experiments/restore", "{\"experiment_id\":\"1\"}", 404, "RESOURCE_DOES_NOT_EXIST", NULL);

	/* unknown and malformed ids */
	err(d, "GET", API "experiments/get?experiment_id=999", NULL, 404, "RESOURCE_DOES_NOT_EXIST", "999");
	err(d, "GET", API "experiments/get?experiment_id=abc", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	err(d, "GET", API "experiments/get?experiment_id=%2E%2E", NULL, 400, "INVALID_PARAMETER_VALUE", NULL);
	err(d, "GET", API "experiments/get", NULL, 400, "INVALID_PARAMETER_VALUE", "experiment_id");
	err(d, "POST", API "experiments/create", "{}", 400, "INVALID_PARAMETER_VALUE", "'name'");
	err(d, "POST", API "experiments/create", "{\"name\": 5}", 400, "INVALID_PARAMETER_VALUE", "'name'");
	free(run);
	th_daemon_stop(d);
}
END_TEST

/* --- a run with params, metrics and their history -------------------------------------- */

START_TEST(run_params_metrics_history)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	json_t *j =
		th_ok(d, "POST", API "runs/create",
		      "{\"experiment_id\":\"0\",\"user_id\":\"alice\",\"run_name\":\"r1\",\"start_time\":1700000000000,"
		      "\"tags\":[{\"key\":\"a\",\"value\":\"b\"},{\"key\":\"mlflow.user\",\"value\":\"alice\"}]}");
	json_t *run = at(j, "run"), *info = at(run, "info");
	const char *id = str_at(info, "run_id");
	ck_assert_int_eq(strlen(id), 32);
	ck_assert_int_eq(strspn(id, "0123456789abcdef"), 32);
	ck_assert_str_eq(str_at(info, "run_uuid"), id);
	ck_assert_str_eq(str_at(info, "experiment_id"), "0");
	ck_assert_str_eq(str_at(info, "run_name"), "r1");
	ck_assert_str_eq(str_at(info, "user_id"), "alice");
	ck_assert_str_eq(str_at(info, "status"), "RUNNING");
	ck_assert_int_eq(int_at(info, "start_time"), 1700000000000);
	ck_assert_ptr_null(json_object_get(info, "end_time"));
	char *uri = th_fmt("mlflow-artifacts:/0/%s/artifacts", id);
	ck_assert_str_eq(str_at(info, "artifact_uri"), uri);
	free(uri);
	ck_assert_str_eq(str_at(info, "lifecycle_stage"), "active");
	ck_assert_int_eq(json_object_size(info), 9);
	json_t *tags = at(at(run, "data"), "tags");
	ck_assert_int_eq(json_array_size(tags), 3);
	ck_assert_str_eq(kv_find(tags, "a"), "b");
	ck_assert_str_eq(kv_find(tags, "mlflow.runName"), "r1");
	ck_assert_ptr_null(json_object_get(at(run, "data"), "metrics"));
	ck_assert_ptr_null(json_object_get(at(run, "data"), "params"));
	ck_assert_int_eq(json_object_size(at(run, "inputs")), 0);
	char *rid = strdup(id);
	json_decref(j);

	/* params: write-once */
	char *body = th_fmt("{\"run_uuid\":\"%s\",\"run_id\":\"%s\",\"key\":\"lr\",\"value\":\"0.01\"}", rid, rid);
	json_decref(th_ok(d, "POST", API "runs/log-parameter", body));
	json_decref(th_ok(d, "POST", API "runs/log-parameter", body)); /* same value: fine */
	free(body);
	body = th_fmt("{\"run_uuid\":\"%s\",\"run_id\":\"%s\",\"key\":\"lr\",\"value\":\"0.02\"}", rid, rid);
	err(d, "POST", API "runs/log-parameter", body, 400, "INVALID_PARAMETER_VALUE", "Changing param values");
	free(body);
	body = th_fmt("{\"run_id\":\"%s\",\"key\":\"epochs\",\"value\":\"10\"}", rid); /* run_id only */
	json_decref(th_ok(d, "POST", API "runs/log-parameter", body));
	free(body);
	body = th_fmt("{\"run_uuid\":\"%s\",\"key\":\"opt\",\"value\":\"adam\"}", rid); /* run_uuid only */
	json_decref(th_ok(d, "POST", API "runs/log-parameter", body));
	free(body);

	/* 100 steps of one metric, as mlflow.log_metric sends them */
	for (int step = 0; step < 100; step++) {
		body = th_fmt("{\"run_uuid\":\"%s\",\"run_id\":\"%s\",\"key\":\"acc\",\"value\":%g,\"timestamp\":%lld,"
			      "\"step\":%d}",
			      rid, rid, step / 100.0, 1700000000000LL + step, step);
		json_t *r = th_ok(d, "POST", API "runs/log-metric", body);
		ck_assert_int_eq(json_object_size(r), 0);
		json_decref(r);
		free(body);
	}
	/* an older step logged later does not become the latest */
	body = th_fmt("{\"run_id\":\"%s\",\"key\":\"acc\",\"value\":5,\"timestamp\":1800000000000,\"step\":3}", rid);
	json_decref(th_ok(d, "POST", API "runs/log-metric", body));
	json_decref(th_ok(d, "POST", API "runs/log-metric", body)); /* identical point: deduplicated */
	free(body);
	body = th_fmt("{\"run_id\":\"%s\",\"key\":\"n\",\"value\":\"NaN\",\"timestamp\":1700000000001}", rid);
	json_decref(th_ok(d, "POST", API "runs/log-metric", body));
	free(body);
	body = th_fmt(
		"{\"run_id\":\"%s\",\"key\":\"inf\",\"value\":\"Infinity\",\"timestamp\":1700000000001,\"step\":1}",
		rid);
	json_decref(th_ok(d, "POST", API "runs/log-metric", body));
	free(body);

	json_t *r = get_run(d, rid);
	json_t *data = at(r, "data");
	json_t *params = at(data, "params");
	ck_assert_int_eq(json_array_size(params), 3);
	ck_assert_str_eq(kv_find(params, "lr"), "0.01");
	ck_assert_str_eq(kv_find(params, "epochs"), "10");
	ck_assert_str_eq(kv_find(params, "opt"), "adam");
	json_t *metrics = at(data, "metrics");
	ck_assert_int_eq(json_array_size(metrics), 3);
	json_t *acc = kv_obj(metrics, "acc");
	ck_assert_ptr_nonnull(acc);
	ck_assert_double_eq_tol(json_number_value(at(acc, "value")), 0.99, 1e-12);
	ck_assert_int_eq(int_at(acc, "timestamp"), 1700000000099);
	ck_assert_int_eq(int_at(acc, "step"), 99);
	ck_assert_int_eq(json_object_size(acc), 4);
	json_t *n = kv_obj(metrics, "n");
	ck_assert_str_eq(str_at(n, "value"), "NaN");
	ck_assert_int_eq(int_at(n, "step"), 0);
	ck_assert_double_eq(json_number_value(at(kv_obj(metrics, "inf"), "value")), 1.7976931348623157e308);
	json_decref(r);

	/* history: every point in logging order */
	char *path = th_fmt(API "metrics/get-history?run_uuid=%s&run_id=%s&metric_key=acc&max_results=25000", rid, rid);
	j = th_ok(d, "GET", path, NULL);
	free(path);
	json_t *h = at(j, "metrics");
	ck_assert_int_eq(json_array_size(h), 101);
	ck_assert_ptr_null(json_object_get(j, "next_page_token"));
	for (int i = 0; i < 100; i++) {
		json_t *p = json_array_get(h, (size_t)i);
		ck_assert_str_eq(str_at(p, "key"), "acc");
		ck_assert_double_eq_tol(json_number_value(at(p, "value")), i / 100.0, 1e-12);
		ck_assert_int_eq(int_at(p, "timestamp"), 1700000000000LL + i);
		ck_assert_int_eq(int_at(p, "step"), i);
	}
	ck_assert_int_eq(int_at(json_array_get(h, 100), "step"), 3);
	json_decref(j);
	path = th_fmt(API "metrics/get-history?run_id=%s&metric_key=n", rid);
	j = th_ok(d, "GET", path, NULL);
	ck_assert_str_eq(str_at(json_array_get(at(j, "metrics"), 0), "value"), "NaN");
	json_decref(j);
	free(path);
	path = th_fmt(API "metrics/get-history?run_id=%s&metric_key=nothing", rid);
	j = th_ok(d, "GET", path, NULL);
	ck_assert_int_eq(json_object_size(j), 0);
	json_decref(j);
	free(path);

	/* paged: 30 + 30 + 30 + 11 */
	size_t total = 0;
	char token[64] = "";
	for (int page = 0; page < 10; page++) {
		path = th_fmt(API "metrics/get-history?run_id=%s&metric_key=acc&max_results=30%s%s", rid,
			      token[0] ? "&page_token=" : "", token);
		j = th_ok(d, "GET", path, NULL);
		free(path);
		size_t got = json_array_size(at(j, "metrics"));
		ck_assert_int_eq(int_at(json_array_get(at(j, "metrics"), 0), "step"),
				 total < 100 ? (json_int_t)total : 3);
		total += got;
		json_t *t = json_object_get(j, "next_page_token");
		if (!t) {
			ck_assert_int_eq(got, 11);
			json_decref(j);
			break;
		}
		ck_assert_int_eq(got, 30);
		snprintf(token, sizeof token, "%s", json_string_value(t));
		json_decref(j);
	}
	ck_assert_int_eq(total, 101);

	/* end_run */
	body = th_fmt("{\"run_uuid\":\"%s\",\"run_id\":\"%s\",\"status\":\"FINISHED\",\"end_time\":1700000009999}", rid,
		      rid);
	j = th_ok(d, "POST", API "runs/update", body);
	free(body);
	info = at(j, "run_info");
	ck_assert_str_eq(str_at(info, "status"), "FINISHED");
	ck_assert_int_eq(int_at(info, "end_time"), 1700000009999);
	ck_assert_str_eq(str_at(info, "run_name"), "r1");
	ck_assert_str_eq(str_at(info, "run_id"), rid);
	json_decref(j);
	body = th_fmt("{\"run_id\":\"%s\",\"run_name\":\"renamed\"}", rid);
	j = th_ok(d, "POST", API "runs/update", body);
	ck_assert_str_eq(str_at(at(j, "run_info"), "run_name"), "renamed");
	ck_assert_str_eq(str_at(at(j, "run_info"), "status"), "FINISHED");
	json_decref(j);
	free(body);
	r = get_run(d, rid);
	ck_assert_str_eq(kv_find(at(at(r, "data"), "tags"), "mlflow.runName"), "renamed");
	json_decref(r);
	body = th_fmt("{\"run_id\":\"%s\",\"status\":\"DONE\"}", rid);
	err(d, "POST", API "runs/update", body, 400, "INVALID_PARAMETER_VALUE", "status");
	free(body);

	/* a run without a name gets adjective-animal-NNN and the tag */
	j = th_ok(d, "POST", API "runs/create", "{\"experiment_id\":\"0\"}");
	const char *name = str_at(at(at(j, "run"), "info"), "run_name");
	ck_assert_int_eq(strchr(name, '-') != NULL, 1);
	ck_assert_str_eq(kv_find(at(at(at(j, "run"), "data"), "tags"), "mlflow.runName"), name);
	ck_assert_str_eq(str_at(at(at(j, "run"), "info"), "user_id"), "");
	json_decref(j);
	/* run_name from the tag; conflicting ones refused */
	j = th_ok(d, "POST", API "runs/create",
		  "{\"experiment_id\":\"0\",\"tags\":[{\"key\":\"mlflow.runName\",\"value\":\"from-tag\"}]}");
	ck_assert_str_eq(str_at(at(at(j, "run"), "info"), "run_name"), "from-tag");
	ck_assert_int_eq(json_array_size(at(at(at(j, "run"), "data"), "tags")), 1);
	json_decref(j);
	err(d, "POST", API "runs/create",
	    "{\"experiment_id\":\"0\",\"run_name\":\"x\",\"tags\":[{\"key\":\"mlflow.runName\",\"value\":\"y\"}]}", 400,
	    "INVALID_PARAMETER_VALUE", "run_name");
	err(d, "POST", API "runs/create", "{\"experiment_id\":\"77\"}", 404, "RESOURCE_DOES_NOT_EXIST", "77");
	free(rid);
	th_daemon_stop(d);
}
END_TEST

/* --- log-batch ---------------------------------------------------------------------- */

static char *batch_body(const char *run_id, int n_metrics, const char *metric_key_at_end, const char *params)
{
	size_t cap = (size_t)n_metrics * 120 + 4096;
	char *b = malloc(cap);
	size_t len = (size_t)snprintf(b, cap, "{\"run_id\":\"%s\",\"metrics\":[", run_id);
	for (int i = 0; i < n_metrics; i++)
		len += (size_t)snprintf(b + len, cap - len,
					"%s{\"key\":\"%s\",\"value\":%d.5,\"timestamp\":%d,\"step\":%d}", i ? "," : "",
					i == n_metrics - 1 && metric_key_at_end ? metric_key_at_end : "loss", i,
					1000 + i, i);
	snprintf(b + len, cap - len, "]%s%s}", params ? "," : "", params ? params : "");
	return b;
}

START_TEST(log_batch_1000_all_or_nothing)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	char *rid = start_run(d, "0", NULL);

	char *body = batch_body(rid, 1000, NULL, NULL);
	json_t *j = th_ok(d, "POST", API "runs/log-batch", body);
	ck_assert_int_eq(json_object_size(j), 0);
	json_decref(j);
	free(body);
	/* params, tags and points already logged (identical points are deduplicated) */
	body = batch_body(rid, 10, NULL,
			  "\"params\":[{\"key\":\"p\",\"value\":\"1\"}],"
			  "\"tags\":[{\"key\":\"t\",\"value\":\"x\"}]");
	json_decref(th_ok(d, "POST", API "runs/log-batch", body));
	free(body);
	body = batch_body(rid, 999, NULL,
			  "\"params\":[{\"key\":\"p2\",\"value\":\"1\"}],"
			  "\"tags\":[{\"key\":\"t2\",\"value\":\"x\"}]");
	err(d, "POST", API "runs/log-batch", body, 400, "INVALID_PARAMETER_VALUE", "at most 1000 total");
	free(body);
	ck_assert_int_eq(history_len(d, rid, "loss"), 1000);
	json_t *r = get_run(d, rid);
	json_t *loss = kv_obj(at(at(r, "data"), "metrics"), "loss");
	ck_assert_int_eq(int_at(loss, "step"), 999);
	ck_assert_double_eq(json_number_value(at(loss, "value")), 999.5);
	ck_assert_str_eq(kv_find(at(at(r, "data"), "params"), "p"), "1");
	ck_assert_str_eq(kv_find(at(at(r, "data"), "tags"), "t"), "x");
	json_decref(r);

	/* rejected batches write nothing */
	body = batch_body(rid, 1001, NULL, NULL);
	err(d, "POST", API "runs/log-batch", body, 400, "INVALID_PARAMETER_VALUE", "at most 1000 metrics");
	free(body);
	body = batch_body(rid, 10, "bad*key", NULL);
	err(d, "POST", API "runs/log-batch", body, 400, "INVALID_PARAMETER_VALUE", "bad*key");
	free(body);
	body = batch_body(rid, 10, NULL, "\"params\":[{\"key\":\"p\",\"value\":\"2\"}]");
	err(d, "POST", API "runs/log-batch", body, 400, "INVALID_PARAMETER_VALUE", "Changing param values");
	free(body);
	body = batch_body(rid, 10, NULL,
			  "\"params\":[{\"key\":\"q\",\"value\":\"1\"},{\"key\":\"q\",\"value\":\"1\"}]");
	err(d, "POST", API "runs/log-batch", body, 400, "INVALID_PARAMETER_VALUE", "Duplicate parameter keys");
	free(body);
	body = th_fmt("{\"run_id\":\"%s\",\"metrics\":[{\"key\":\"loss\",\"value\":1,\"timestamp\":1},"
		      "{\"key\":\"loss\",\"value\":\"notanumber\",\"timestamp\":2}]}",
		      rid);
	err(d, "POST", API "runs/log-batch", body, 400, "INVALID_PARAMETER_VALUE", "notanumber");
	free(body);
	body = th_fmt("{\"run_id\":\"%s\",\"metrics\":[{\"key\":\"loss\",\"value\":1}]}", rid);
	err(d, "POST", API "runs/log-batch", body, 400, "INVALID_PARAMETER_VALUE", "metrics[0].timestamp");
	free(body);
	/* 101 params */
	size_t cap = 101 * 40 + 200, len;
	body = malloc(cap);
	len = (size_t)snprintf(body, cap, "{\"run_id\":\"%s\",\"params\":[", rid);
	for (int i = 0; i < 101; i++)
		len += (size_t)snprintf(body + len, cap - len, "%s{\"key\":\"k%d\",\"value\":\"v\"}", i ? "," : "", i);
	snprintf(body + len, cap - len, "]}");
	err(d, "POST", API "runs/log-batch", body, 400, "INVALID_PARAMETER_VALUE", "at most 100 params");
	free(body);
	ck_assert_int_eq(history_len(d, rid, "loss"), 1000);
	r = get_run(d, rid);
	ck_assert_int_eq(json_array_size(at(at(r, "data"), "params")), 1);
	ck_assert_int_eq(int_at(kv_obj(at(at(r, "data"), "metrics"), "loss"), "step"), 999);
	json_decref(r);

	/* long values truncated as MLflow does; long keys refused */
	char *big = malloc(7001);
	memset(big, 'x', 7000);
	big[7000] = '\0';
	body = th_fmt("{\"run_id\":\"%s\",\"params\":[{\"key\":\"long\",\"value\":\"%s\"}],"
		      "\"tags\":[{\"key\":\"longtag\",\"value\":\"%s\"}]}",
		      rid, big, big);
	json_decref(th_ok(d, "POST", API "runs/log-batch", body));
	free(body);
	r = get_run(d, rid);
	ck_assert_int_eq(strlen(kv_find(at(at(r, "data"), "params"), "long")), 6000);
	ck_assert_int_eq(strlen(kv_find(at(at(r, "data"), "tags"), "longtag")), 5000);
	json_decref(r);
	big[251] = '\0';
	body = th_fmt("{\"run_id\":\"%s\",\"key\":\"%s\",\"value\":\"v\"}", rid, big);
	err(d, "POST", API "runs/set-tag", body, 400, "INVALID_PARAMETER_VALUE", "exceeded length limit of 250");
	free(body);
	free(big);
	free(rid);
	th_daemon_stop(d);
}
END_TEST

/* --- tags, nested runs, inputs ------------------------------------------------------- */

START_TEST(tags_nested_runs_and_inputs)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	json_decref(th_ok(d, "POST", API "experiments/create", "{\"name\":\"nest\"}"));
	char *parent = start_run(d, "1", NULL);
	char *extra = th_fmt(",{\"key\":\"mlflow.parentRunId\",\"value\":\"%s\"}", parent);
	char *child = start_run(d, "1", extra);
	free(extra);
	json_t *r = get_run(d, child);
	ck_assert_str_eq(kv_find(at(at(r, "data"), "tags"), "mlflow.parentRunId"), parent);
	ck_assert_str_eq(str_at(at(r, "info"), "experiment_id"), "1");
	char *uri = th_fmt("mlflow-artifacts:/1/%s/artifacts", child);
	ck_assert_str_eq(str_at(at(r, "info"), "artifact_uri"), uri);
	free(uri);
	json_decref(r);

	/* set-tag, overwrite, delete, delete again */
	char *body =
		th_fmt("{\"run_uuid\":\"%s\",\"run_id\":\"%s\",\"key\":\"stage\",\"value\":\"one\"}", child, child);
	json_decref(th_ok(d, "POST", API "runs/set-tag", body));
	free(body);
	body = th_fmt("{\"run_id\":\"%s\",\"key\":\"stage\",\"value\":\"two\"}", child);
	json_decref(th_ok(d, "POST", API "runs/set-tag", body));
	free(body);
	r = get_run(d, child);
	ck_assert_str_eq(kv_find(at(at(r, "data"), "tags"), "stage"), "two");
	json_decref(r);
	body = th_fmt("{\"run_id\":\"%s\",\"key\":\"stage\"}", child);
	json_decref(th_ok(d, "POST", API "runs/delete-tag", body));
	err(d, "POST", API "runs/delete-tag", body, 404, "RESOURCE_DOES_NOT_EXIST", "stage");
	free(body);
	r = get_run(d, child);
	ck_assert_ptr_null(kv_find(at(at(r, "data"), "tags"), "stage"));
	json_decref(r);
	/* the mlflow.runName tag renames the run */
	body = th_fmt("{\"run_id\":\"%s\",\"key\":\"mlflow.runName\",\"value\":\"kid\"}", child);
	json_decref(th_ok(d, "POST", API "runs/set-tag", body));
	free(body);
	r = get_run(d, child);
	ck_assert_str_eq(str_at(at(r, "info"), "run_name"), "kid");
	json_decref(r);

	/* log_inputs */
	body = th_fmt(
		"{\"run_id\":\"%s\",\"datasets\":[{\"tags\":[{\"key\":\"mlflow.data.context\",\"value\":\"training\"}],"
		"\"dataset\":{\"name\":\"mnist\",\"digest\":\"abc123\",\"source_type\":\"local\","
		"\"source\":\"{\\\"uri\\\": \\\"/data\\\"}\",\"schema\":\"{}\",\"profile\":\"{\\\"rows\\\": 10}\"}},"
		"{\"dataset\":{\"name\":\"eval\",\"digest\":\"d2\",\"source_type\":\"http\",\"source\":\"s\"}}]}",
		child);
	json_decref(th_ok(d, "POST", API "runs/log-inputs", body));
	json_decref(th_ok(d, "POST", API "runs/log-inputs", body)); /* again: no duplicates */
	free(body);
	r = get_run(d, child);
	json_t *di = at(at(r, "inputs"), "dataset_inputs");
	ck_assert_int_eq(json_array_size(di), 2);
	json_t *in0 = json_array_get(di, 0), *ds = at(in0, "dataset");
	ck_assert_str_eq(str_at(ds, "name"), "mnist");
	ck_assert_str_eq(str_at(ds, "digest"), "abc123");
	ck_assert_str_eq(str_at(ds, "source_type"), "local");
	ck_assert_str_eq(str_at(ds, "source"), "{\"uri\": \"/data\"}");
	ck_assert_str_eq(str_at(ds, "schema"), "{}");
	ck_assert_str_eq(str_at(ds, "profile"), "{\"rows\": 10}");
	ck_assert_int_eq(json_array_size(at(in0, "tags")), 1);
	ck_assert_str_eq(kv_find(at(in0, "tags"), "mlflow.data.context"), "training");
	json_t *in1 = json_array_get(di, 1);
	ck_assert_ptr_null(json_object_get(in1, "tags"));
	ck_assert_ptr_null(json_object_get(at(in1, "dataset"), "schema"));
	ck_assert_str_eq(str_at(at(in1, "dataset"), "name"), "eval");
	json_decref(r);
	/* the parent's inputs are untouched; the same dataset reused by it */
	body = th_fmt("{\"run_id\":\"%s\",\"datasets\":[{\"dataset\":{\"name\":\"mnist\",\"digest\":\"abc123\","
		      "\"source_type\":\"other\",\"source\":\"other\"}}]}",
		      parent);
	json_decref(th_ok(d, "POST", API "runs/log-inputs", body));
	free(body);
	r = get_run(d, parent);
	ds = at(json_array_get(at(at(r, "inputs"), "dataset_inputs"), 0), "dataset");
	ck_assert_str_eq(str_at(ds, "source_type"), "local"); /* kept as first logged */
	json_decref(r);
	body = th_fmt("{\"run_id\":\"%s\",\"datasets\":[{\"dataset\":{\"name\":\"x\",\"digest\":"
		      "\"0123456789012345678901234567890123456789\","
		      "\"source_type\":\"s\",\"source\":\"s\"}}]}",
		      parent);
	err(d, "POST", API "runs/log-inputs", body, 400, "INVALID_PARAMETER_VALUE", "digest");
	free(body);
	body = th_fmt("{\"run_id\":\"%s\",\"datasets\":[{\"dataset\":{\"name\":\"x\",\"digest\":\"d\"}}]}", parent);
	err(d, "POST", API "runs/log-inputs", body, 400, "INVALID_PARAMETER_VALUE", "source_type");
	free(body);
	body = th_fmt("{\"run_id\":\"%s\"}", parent);
	err(d, "POST", API "runs/log-inputs", body, 400, "INVALID_PARAMETER_VALUE", "datasets");
	free(body);
	free(parent);
	free(child);
	th_daemon_stop(d);
}
END_TEST

/* --- run deletion and restore ------------------------------------------------------- */

START_TEST(run_delete_restore)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	char *rid = start_run(d, "0", NULL);
	char *body = th_fmt("{\"run_id\":\"%s\"}", rid);
	json_decref(th_ok(d, "POST", API "runs/delete", body));
	json_t *r = get_run(d, rid);
	ck_assert_str_eq(str_at(at(r, "info"), "lifecycle_stage"), "deleted");
	json_decref(r);
	char *m = th_fmt("{\"run_id\":\"%s\",\"key\":\"k\",\"value\":1,\"timestamp\":1}", rid);
	err(d, "POST", API "runs/log-metric", m, 400, "INVALID_PARAMETER_VALUE", "must be in the 'active' state");
	char *p = th_fmt("{\"run_id\":\"%s\",\"key\":\"k\",\"value\":\"1\"}", rid);
	err(d, "POST", API "runs/log-parameter", p, 400, "INVALID_PARAMETER_VALUE", "active");
	err(d, "POST", API "runs/set-tag", p, 400, "INVALID_PARAMETER_VALUE", "active");
	char *u = th_fmt("{\"run_id\":\"%s\",\"status\":\"FAILED\"}", rid);
	err(d, "POST", API "runs/update", u, 400, "INVALID_PARAMETER_VALUE", "active");
	ck_assert_int_eq(history_len(d, rid, "k"), 0);
	json_decref(th_ok(d, "POST", API "runs/restore", body));
	r = get_run(d, rid);
	ck_assert_str_eq(str_at(at(r, "info"), "lifecycle_stage"), "active");
	json_decref(r);
	json_decref(th_ok(d, "POST", API "runs/log-metric", m));
	ck_assert_int_eq(history_len(d, rid, "k"), 1);
	json_t *j = th_ok(d, "POST", API "runs/update", u);
	ck_assert_str_eq(str_at(at(j, "run_info"), "status"), "FAILED");
	json_decref(j);

	/* unknown runs */
	const char *ghost =
		"{\"run_id\":\"0123456789abcdef0123456789abcdef\",\"key\":\"k\",\"value\":1,\"timestamp\":1}";
	err(d, "GET", API "runs/get?run_id=0123456789abcdef0123456789abcdef", NULL, 404, "RESOURCE_DOES_NOT_EXIST",
	    "0123456789abcdef0123456789abcdef");
	err(d, "POST", API "runs/log-metric", ghost, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	err(d, "POST", API "runs/delete", ghost, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	err(d, "POST", API "runs/update", ghost, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	err(d, "GET", API "metrics/get-history?run_id=nope&metric_key=k", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	free(body);
	free(m);
	free(p);
	free(u);
	free(rid);
	th_daemon_stop(d);
}
END_TEST

/* --- bad input in general, /health, /version --------------------------------------- */

START_TEST(bad_input_and_service_routes)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	char *rid = start_run(d, "0", NULL);
	char url[256];
	snprintf(url, sizeof url, "%s" API "runs/log-metric", d->base_url);
	char *m = th_fmt("{\"run_id\":\"%s\",\"key\":\"k\",\"value\":1,\"timestamp\":1}", rid);
	struct th_response r = th_http("POST", url, "text/plain", m, strlen(m));
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "Content-Type");
	th_response_free(&r);
	r = th_http("POST", url, "application/json; charset=utf-8", m, strlen(m));
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);
	err(d, "POST", API "runs/log-metric", "{not json", 400, "INVALID_PARAMETER_VALUE", NULL);
	err(d, "POST", API "runs/log-metric", "", 400, "INVALID_PARAMETER_VALUE",
	    "Missing value for required parameter");
	char *b = th_fmt("{\"run_id\":\"%s\",\"value\":1,\"timestamp\":1}", rid);
	err(d, "POST", API "runs/log-metric", b, 400, "INVALID_PARAMETER_VALUE", "'key'");
	free(b);
	b = th_fmt("{\"run_id\":\"%s\",\"key\":\"k\",\"value\":\"notanumber\",\"timestamp\":1}", rid);
	err(d, "POST", API "runs/log-metric", b, 400, "INVALID_PARAMETER_VALUE", "Invalid value notanumber");
	free(b);
	b = th_fmt("{\"run_id\":\"%s\",\"key\":\"k\",\"value\":true,\"timestamp\":1}", rid);
	err(d, "POST", API "runs/log-metric", b, 400, "INVALID_PARAMETER_VALUE", "'value'");
	free(b);
	b = th_fmt("{\"run_id\":\"%s\",\"key\":\"k\",\"value\":1,\"timestamp\":-5}", rid);
	err(d, "POST", API "runs/log-metric", b, 400, "INVALID_PARAMETER_VALUE", "timestamp");
	free(b);
	b = th_fmt("{\"run_id\":\"%s\",\"key\":\"../up\",\"value\":1,\"timestamp\":1}", rid);
	err(d, "POST", API "runs/log-metric", b, 400, "INVALID_PARAMETER_VALUE", "../up");
	free(b);
	err(d, "POST", API "runs/log-metric", "{\"key\":\"k\",\"value\":1,\"timestamp\":1}", 400,
	    "INVALID_PARAMETER_VALUE", "run_id");
	err(d, "GET", API "runs/get", NULL, 400, "INVALID_PARAMETER_VALUE", "run_id");
	err(d, "GET", API "metrics/get-history?run_id=x", NULL, 400, "INVALID_PARAMETER_VALUE", "metric_key");
	ck_assert_int_eq(history_len(d, rid, "k"), 1); /* only the one accepted above */

	r = th_call(d, "GET", "/health", NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "OK");
	th_response_free(&r);
	r = th_call(d, "GET", "/version", NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "2.12.2");
	th_response_free(&r);
	free(m);
	free(rid);
	th_daemon_stop(d);
}
END_TEST

/* --- 100,000 points: batches of 1000, one history answer --------------------------- */

START_TEST(history_of_100k_points)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	char *rid = start_run(d, "0", NULL);
	size_t cap = 1000 * 90 + 200;
	char *body = malloc(cap);
	for (int b = 0; b < 100; b++) {
		size_t len = (size_t)snprintf(body, cap, "{\"run_id\":\"%s\",\"metrics\":[", rid);
		for (int i = 0; i < 1000; i++) {
			int step = b * 1000 + i;
			len += (size_t)snprintf(body + len, cap - len,
						"%s{\"key\":\"big\",\"value\":%d,\"timestamp\":%d,"
						"\"step\":%d}",
						i ? "," : "", step, step, step);
		}
		snprintf(body + len, cap - len, "]}");
		json_decref(th_ok(d, "POST", API "runs/log-batch", body));
	}
	free(body);
	char *path = th_fmt(API "metrics/get-history?run_uuid=%s&run_id=%s&metric_key=big", rid, rid);
	json_t *j = th_ok(d, "GET", path, NULL);
	free(path);
	json_t *h = at(j, "metrics");
	ck_assert_int_eq(json_array_size(h), 100000);
	for (size_t i = 0; i < 100000; i += 9999) {
		ck_assert_int_eq(int_at(json_array_get(h, i), "step"), (json_int_t)i);
		ck_assert_double_eq(json_number_value(at(json_array_get(h, i), "value")), (double)i);
	}
	json_decref(j);
	json_t *r = get_run(d, rid);
	ck_assert_int_eq(int_at(kv_obj(at(at(r, "data"), "metrics"), "big"), "step"), 99999);
	json_decref(r);
	free(rid);
	th_daemon_stop(d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tracker_core");
	TCase *tc = tcase_create("mlflow_client_sequences");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, experiment_life);
	tcase_add_test(tc, run_params_metrics_history);
	tcase_add_test(tc, log_batch_1000_all_or_nothing);
	tcase_add_test(tc, tags_nested_runs_and_inputs);
	tcase_add_test(tc, run_delete_restore);
	tcase_add_test(tc, bad_input_and_service_routes);
	tcase_add_test(tc, history_of_100k_points);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

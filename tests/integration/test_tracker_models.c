/* Integration tests of the experiment tracker's runs/log-model (h_models.c) and of
 * how metric values read on every route (core_fmt_double), the real daemon against a
 * fresh database. log-model is driven with the request the MLflow 2.12.2 client sends
 * from mlflow.<flavor>.log_model (rest_store.record_logged_model: run_id and the
 * model's to_json()), and the run tag mlflow.log-model.history its UI reads is checked
 * after each call: appends in order, also under concurrent calls; missing fields,
 * malformed JSON, a deleted run and an unknown run are refused and write nothing. */
#include <check.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

#define API     "/api/2.0/mlflow/"
#define HISTORY "mlflow.log-model.history"

static void fails(struct th_daemon *d, const char *path, const char *body, long status, const char *code,
		  const char *needle)
{
	struct th_response r = th_call(d, "POST", path, body);
	th_expect_error(&r, status, code, needle);
	th_response_free(&r);
}

static char *start_run(struct th_daemon *d)
{
	json_t *j = th_ok(d, "POST", API "runs/create", "{\"experiment_id\":\"0\",\"start_time\":1700000000000}");
	char *id = strdup(
		json_string_value(json_object_get(json_object_get(json_object_get(j, "run"), "info"), "run_id")));
	json_decref(j);
	return id;
}

/* The value of the run's tag key (malloc'd), or NULL when the run has no such tag. */
static char *run_tag(struct th_daemon *d, const char *run_id, const char *key)
{
	char *path = th_fmt(API "runs/get?run_id=%s", run_id);
	json_t *j = th_ok(d, "GET", path, NULL), *t;
	json_t *tags = json_object_get(json_object_get(json_object_get(j, "run"), "data"), "tags");
	char *value = NULL;
	size_t i;
	json_array_foreach(tags, i, t) if (strcmp(json_string_value(json_object_get(t, "key")), key) == 0) value =
		strdup(json_string_value(json_object_get(t, "value")));
	json_decref(j);
	free(path);
	return value;
}

/* The model_json the MLflow 2.12.2 client sends for mlflow.sklearn.log_model(m, path). */
static char *model_json(const char *run_id, const char *artifact_path)
{
	return th_fmt(
		"{\"run_id\": \"%s\", \"artifact_path\": \"%s\", \"utc_time_created\": \"2024-05-01 "
		"12:00:00.123456\", \"flavors\": {\"python_function\": {\"model_path\": \"model.pkl\", "
		"\"predict_fn\": \"predict\", \"loader_module\": \"mlflow.sklearn\", \"python_version\": "
		"\"3.11.4\", \"env\": {\"conda\": \"conda.yaml\", \"virtualenv\": \"python_env.yaml\"}}, "
		"\"sklearn\": {\"pickled_model\": \"model.pkl\", \"sklearn_version\": \"1.4.2\", "
		"\"serialization_format\": \"cloudpickle\", \"code\": null}}, \"model_uuid\": "
		"\"5c2b1e9f7a3d4b8c9e0f1a2b3c4d5e6f\", \"mlflow_version\": \"2.12.2\", \"model_size_bytes\": 1523}",
		run_id, artifact_path);
}

/* The log-model request body: model_json as a JSON string. */
static char *log_model_body(const char *run_id, const char *model)
{
	json_t *b = json_pack("{s:s, s:s}", "run_id", run_id, "model_json", model);
	char *text = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	return text;
}

START_TEST(log_model_appends_to_the_history_tag)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	char *run = start_run(d);
	ck_assert_ptr_null(run_tag(d, run, HISTORY));

	/* first model: the tag becomes a list of that one model, the answer {} */
	char *m1 = model_json(run, "model"), *body = log_model_body(run, m1);
	json_t *j = th_ok(d, "POST", API "runs/log-model", body);
	ck_assert_int_eq(json_object_size(j), 0);
	json_decref(j);
	free(body);
	char *tag = run_tag(d, run, HISTORY);
	ck_assert_ptr_nonnull(tag);
	json_t *history = json_loads(tag, 0, NULL), *want = json_loads(m1, 0, NULL);
	ck_assert_ptr_nonnull(history);
	ck_assert_int_eq(json_array_size(history), 1);
	ck_assert(json_equal(json_array_get(history, 0), want));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(history, 0), "artifact_path")), "model");
	ck_assert_ptr_nonnull(strstr(tag, "\"artifact_path\": \"model\"")); /* Python's separators */
	json_decref(history);
	json_decref(want);
	free(tag);

	/* second model, through the ajax twin the UI uses: appended after the first */
	char *m2 = model_json(run, "model-v2");
	body = log_model_body(run, m2);
	json_decref(th_ok(d, "POST", "/ajax-api/2.0/mlflow/runs/log-model", body));
	free(body);
	tag = run_tag(d, run, HISTORY);
	history = json_loads(tag, 0, NULL);
	ck_assert_int_eq(json_array_size(history), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(history, 0), "artifact_path")), "model");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(history, 1), "artifact_path")), "model-v2");
	json_decref(history);
	free(tag);
	free(m1);
	free(m2);
	free(run);
	th_daemon_stop(d);
}
END_TEST

struct logger {
	struct th_daemon *d;
	const char *run;
	int first, n;
	int failures;
};

static void *log_models(void *arg)
{
	struct logger *l = arg;
	for (int i = 0; i < l->n; i++) {
		char path[32];
		snprintf(path, sizeof path, "m%d", l->first + i);
		char *m = model_json(l->run, path), *body = log_model_body(l->run, m);
		struct th_response r = th_call(l->d, "POST", API "runs/log-model", body);
		l->failures += r.status != 200;
		th_response_free(&r);
		free(body);
		free(m);
	}
	return NULL;
}

START_TEST(concurrent_log_model_calls_lose_nothing)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	char *run = start_run(d);
	enum { THREADS = 4, EACH = 10 };
	pthread_t th[THREADS];
	struct logger l[THREADS];
	for (int i = 0; i < THREADS; i++) {
		l[i] = (struct logger){.d = d, .run = run, .first = i * EACH, .n = EACH};
		ck_assert_int_eq(pthread_create(&th[i], NULL, log_models, &l[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(l[i].failures, 0);
	}
	char *tag = run_tag(d, run, HISTORY);
	json_t *history = json_loads(tag, 0, NULL), *m;
	ck_assert_int_eq(json_array_size(history), THREADS * EACH);
	int seen[THREADS * EACH] = {0};
	size_t i;
	json_array_foreach(history, i, m)
	{
		int k = (int)strtol(json_string_value(json_object_get(m, "artifact_path")) + 1, NULL, 10);
		ck_assert(k >= 0 && k < THREADS * EACH);
		seen[k]++;
	}
	for (int k = 0; k < THREADS * EACH; k++)
		ck_assert_int_eq(seen[k], 1);
	json_decref(history);
	free(tag);
	free(run);
	th_daemon_stop(d);
}
END_TEST

START_TEST(log_model_refusals_write_nothing)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	char *run = start_run(d);

	/* missing model fields, named in handlers.py's order */
	char *body = log_model_body(run, "{\"flavors\": {}, \"utc_time_created\": \"2024-05-01 12:00:00\"}");
	fails(d, API "runs/log-model", body, 400, "INVALID_PARAMETER_VALUE",
	      "Model json is missing mandatory fields: {'artifact_path', 'run_id'}");
	free(body);
	char *m = model_json(run, "model");
	json_t *partial = json_loads(m, 0, NULL);
	json_object_del(partial, "flavors");
	char *text = json_dumps(partial, 0);
	body = log_model_body(run, text);
	fails(d, API "runs/log-model", body, 400, "INVALID_PARAMETER_VALUE",
	      "Model json is missing mandatory fields: {'flavors'}");
	free(body);
	free(text);
	json_decref(partial);

	/* model_json that is not a JSON object */
	body = log_model_body(run, "{not json");
	fails(d, API "runs/log-model", body, 400, "INVALID_PARAMETER_VALUE", "Malformed model info. \n {not json \n");
	free(body);
	body = log_model_body(run, "[1, 2]");
	fails(d, API "runs/log-model", body, 400, "INVALID_PARAMETER_VALUE", "is not a valid JSON");
	free(body);

	/* request fields */
	fails(d, API "runs/log-model", "{\"model_json\": \"{}\"}", 400, "INVALID_PARAMETER_VALUE",
	      "Missing value for required parameter 'run_id'");
	char *no_model = th_fmt("{\"run_id\": \"%s\"}", run);
	fails(d, API "runs/log-model", no_model, 400, "INVALID_PARAMETER_VALUE",
	      "Missing value for required parameter 'model_json'");
	free(no_model);
	ck_assert_ptr_null(run_tag(d, run, HISTORY));

	/* an unknown run: 404 */
	body = log_model_body("0123456789abcdef0123456789abcdef", m);
	fails(d, API "runs/log-model", body, 404, "RESOURCE_DOES_NOT_EXIST",
	      "Run with id=0123456789abcdef0123456789abcdef not found");
	free(body);

	/* a deleted run: 400, and nothing written when it is restored */
	char *del = th_fmt("{\"run_id\": \"%s\"}", run);
	json_decref(th_ok(d, "POST", API "runs/delete", del));
	body = log_model_body(run, m);
	char *msg = th_fmt("The run %s must be in the 'active' state. Current state is deleted.", run);
	fails(d, API "runs/log-model", body, 400, "INVALID_PARAMETER_VALUE", msg);
	json_decref(th_ok(d, "POST", API "runs/restore", del));
	ck_assert_ptr_null(run_tag(d, run, HISTORY));
	json_decref(th_ok(d, "POST", API "runs/log-model", body));
	char *tag = run_tag(d, run, HISTORY);
	ck_assert_ptr_nonnull(tag);
	free(tag);
	free(msg);
	free(body);
	free(del);
	free(m);
	free(run);
	th_daemon_stop(d);
}
END_TEST

/* A metric value reads the same on runs/get, runs/search and get-history: the
 * shortest text that reads back as the value, never jansson's %.17g. */
START_TEST(metric_values_read_the_same_on_every_route)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	char *run = start_run(d);
	static const struct {
		const char *key, *logged, *text;
	} m[] = {
		{"acc", "0.93", "0.93"},   {"tiny", "5e-324", "5e-324"},
		{"big", "1e300", "1e300"}, {"sum", "0.30000000000000004", "0.30000000000000004"},
		{"whole", "3.0", "3"},
	};
	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
		char *body = th_fmt("{\"run_id\":\"%s\",\"key\":\"%s\",\"value\":%s,\"timestamp\":1700000000000,"
				    "\"step\":0}",
				    run, m[i].key, m[i].logged);
		json_decref(th_ok(d, "POST", API "runs/log-metric", body));
		free(body);
		char *want = th_fmt("\"key\":\"%s\",\"value\":%s,", m[i].key, m[i].text);
		char *path = th_fmt(API "metrics/get-history?run_id=%s&metric_key=%s", run, m[i].key);
		struct th_response r = th_call(d, "GET", path, NULL);
		ck_assert_msg(r.status == 200 && strstr(r.body, want), "get-history: %s, want %s", r.body, want);
		th_response_free(&r);
		free(path);
		path = th_fmt(API "runs/get?run_id=%s", run);
		r = th_call(d, "GET", path, NULL);
		ck_assert_msg(r.status == 200 && strstr(r.body, want), "runs/get: %s, want %s", r.body, want);
		th_response_free(&r);
		free(path);
		path = th_fmt("{\"experiment_ids\":[\"0\"],\"filter\":\"attributes.run_id = '%s'\"}", run);
		r = th_call(d, "POST", API "runs/search", path);
		ck_assert_msg(r.status == 200 && strstr(r.body, want), "runs/search: %s, want %s", r.body, want);
		th_response_free(&r);
		free(path);
		free(want);
	}
	free(run);
	th_daemon_stop(d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tracker_models");
	TCase *tc = tcase_create("log_model");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, log_model_appends_to_the_history_tag);
	tcase_add_test(tc, concurrent_log_model_calls_lose_nothing);
	tcase_add_test(tc, log_model_refusals_write_nothing);
	tcase_add_test(tc, metric_values_read_the_same_on_every_route);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

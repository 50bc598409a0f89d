/* The inference API's model lifecycle, with tracker, registry and inference API as real
 * processes (harness_infer.h): what serves at start (the `champion` alias; Production
 * for a model without aliases), readiness (/readyz and /v2/health/ready 503 until every
 * model is loaded), moving `champion` while a client sends requests without pause (every
 * request answers 200, answers switch from the old version to the new one, the old one
 * is unloaded: index and inference_model_loaded say so), broken packages refused while
 * the old version keeps serving, a deleted model's routes answering 404, and the
 * repository API's index, load and unload. Models are tiny (4x4 images), so each case
 * takes seconds. */
#include <check.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/file.h"
#include "harness_infer.h"
#include "harness_util.h"

#define SIZE    4
#define PIXELS  (SIZE * SIZE)
#define CLASSES 3

static void sleep_ms(long ms)
{
	struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

/* A raw image: pixel i of image r. */
static void images(float *raw, size_t n)
{
	for (size_t r = 0; r < n; r++)
		for (size_t i = 0; i < PIXELS; i++)
			raw[r * PIXELS + i] = (float)((r * 37 + i * 11) % 256);
}

/* The served version (model_version) of an OIP answer, checking its probabilities against
 * p's forward pass. */
static void expect_answer(struct th_response *r, const struct ml_package *p, const char *version, const float *raw,
			  size_t n)
{
	ck_assert_msg(r->status == 200, "infer: %ld %s", r->status, r->body);
	ck_assert_str_eq(json_string_value(json_object_get(r->json, "model_version")), version);
	json_t *data = json_object_get(json_array_get(json_object_get(r->json, "outputs"), 0), "data");
	float want[64 * CLASSES];
	th_infer_forward(p, raw, n, want);
	ck_assert_uint_eq(json_array_size(data), n * CLASSES);
	for (size_t i = 0; i < n * CLASSES; i++)
		ck_assert_double_eq_tol(json_number_value(json_array_get(data, i)), want[i], 1e-5);
}

START_TEST(startup_load_serves_champion_and_readiness_waits)
{
	struct th_infer_stack s;
	th_infer_start(&s, false, NULL, false);
	struct ml_package a, b;
	th_infer_classifier(&a, SIZE, 0, CLASSES, 1, 1.0f);
	th_infer_classifier(&b, SIZE, 8, CLASSES, 2, 1.0f);
	char *v1 = th_infer_publish(&s, "digits", &a, NULL);
	char *v2 = th_infer_publish(&s, "digits", &b, "champion");
	/* a model without aliases serves its newest version in stage Production */
	char *p1 = th_infer_publish(&s, "staged", &a, NULL);
	json_decref(th_ok(s.registry, "POST", "/api/2.0/mlflow/model-versions/transition-stage",
			  "{\"name\": \"staged\", \"version\": \"1\", \"stage\": \"Production\", "
			  "\"archive_existing_versions\": false}"));
	/* a model with nothing to serve is not listed and does not hold readiness back */
	char *n1 = th_infer_publish(&s, "unserved", &a, NULL);

	/* the registry is not up yet for this replica: point it at a port nobody listens on
	 * first, so readiness is seen to wait */
	char bad[64];
	snprintf(bad, sizeof bad, "REGISTRY_URL=http://127.0.0.1:%u", th_free_port());
	th_infer_start_api(&s, (const char *const[]){bad, NULL}, false);
	ck_assert(th_daemon_wait_status(s.ia, "/healthz", 200, 30000));
	sleep_ms(300);
	struct th_response r = th_call(s.ia, "GET", "/readyz", NULL);
	ck_assert_int_eq(r.status, 503);
	th_response_free(&r);
	r = th_call(s.ia, "GET", "/v2/health/ready", NULL);
	ck_assert_int_eq(r.status, 503);
	ck_assert_ptr_nonnull(json_object_get(r.json, "error"));
	th_response_free(&r);
	th_daemon_stop(s.ia);
	s.ia = NULL;

	th_infer_start_api(&s, NULL, false);
	ck_assert(th_daemon_wait_status(s.ia, "/readyz", 200, 30000));
	r = th_call(s.ia, "GET", "/v2/health/ready", NULL);
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);

	float raw[2 * PIXELS];
	images(raw, 2);
	r = th_infer_oip(s.ia, "digits", NULL, raw, 2, PIXELS);
	expect_answer(&r, &b, v2, raw, 2);
	/* the packages were read and their downloads removed: MODEL_DIR holds nothing */
	const char *model_dir = strchr(s.env[2], '=') + 1;
	DIR *md = opendir(model_dir);
	ck_assert_msg(md != NULL, "%s: %s", model_dir, strerror(errno));
	for (struct dirent *e = readdir(md); e; e = readdir(md))
		ck_assert_msg(strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0, "%s/%s left behind",
			      model_dir, e->d_name);
	closedir(md);
	th_response_free(&r);
	r = th_infer_oip(s.ia, "staged", NULL, raw, 1, PIXELS);
	expect_answer(&r, &a, p1, raw, 1);
	th_response_free(&r);
	r = th_infer_oip(s.ia, "unserved", NULL, raw, 1, PIXELS);
	ck_assert_int_eq(r.status, 404);
	ck_assert_ptr_nonnull(json_object_get(r.json, "error"));
	th_response_free(&r);
	/* only the champion is loaded: version 1 is not */
	r = th_infer_oip(s.ia, "digits", v1, raw, 1, PIXELS);
	ck_assert_int_eq(r.status, 404);
	th_response_free(&r);
	char *series = th_fmt("inference_model_loaded{model=\"digits\",version=\"%s\"}", v2);
	ck_assert_double_eq(th_metric(s.ia, series), 1);
	free(series);

	free(n1);
	free(p1);
	free(v2);
	free(v1);
	ml_package_free(&a);
	ml_package_free(&b);
	th_infer_stop(&s);
}
END_TEST

/* --- moving champion under continuous requests ------------------------------------------ */

struct client {
	struct th_daemon *ia;
	const struct ml_package *pkg[2]; /* the old and the new version's packages */
	const char *version[2];
	atomic_bool stop;
	long sent, failed, wrong, old_after_new, answered[2];
	char first_failure[256];
};

/* Sends one request after the other until told to stop, checking each answer: 200, a
 * known version, its probabilities those of that version's package, and never the old
 * version once the new one answered. */
static void *client_main(void *arg)
{
	struct client *c = arg;
	float raw[PIXELS], want[CLASSES];
	bool seen_new = false;
	while (!atomic_load(&c->stop)) {
		images(raw, 1);
		raw[0] = (float)(c->sent % 256);
		struct th_response r = th_infer_oip(c->ia, "digits", NULL, raw, 1, PIXELS);
		c->sent++;
		const char *v = json_string_value(json_object_get(r.json, "model_version"));
		int k = v && strcmp(v, c->version[0]) == 0 ? 0 : v && strcmp(v, c->version[1]) == 0 ? 1 : -1;
		if (r.status != 200 || k < 0) {
			if (!c->failed++)
				snprintf(c->first_failure, sizeof c->first_failure, "%ld %.200s", r.status,
					 r.body ? r.body : "");
		} else {
			c->answered[k]++;
			seen_new = seen_new || k == 1;
			c->old_after_new += seen_new && k == 0;
			th_infer_forward(c->pkg[k], raw, 1, want);
			json_t *data = json_object_get(json_array_get(json_object_get(r.json, "outputs"), 0), "data");
			for (size_t i = 0; i < CLASSES; i++)
				if (fabs(json_number_value(json_array_get(data, i)) - want[i]) > 1e-5) {
					c->wrong++;
					break;
				}
		}
		th_response_free(&r);
	}
	return NULL;
}

START_TEST(champion_moves_under_continuous_requests)
{
	struct th_infer_stack s;
	th_infer_start(&s, false, NULL, false);
	struct ml_package a, b;
	th_infer_classifier(&a, SIZE, 0, CLASSES, 11, 1.0f);
	th_infer_classifier(&b, SIZE, 8, CLASSES, 12, 1.0f);
	char *v1 = th_infer_publish(&s, "digits", &a, "champion");
	th_infer_start_api(&s, NULL, true);
	char *v2 = th_infer_publish(&s, "digits", &b, NULL);

	struct client c = {.ia = s.ia, .pkg = {&a, &b}, .version = {v1, v2}};
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, client_main, &c), 0);
	sleep_ms(300);
	th_infer_alias(&s, "digits", "champion", v2);
	bool swapped = th_infer_wait_serving(s.ia, "digits", v2, 30000);
	sleep_ms(300); /* requests after the swap */
	atomic_store(&c.stop, true);
	pthread_join(t, NULL);

	ck_assert_msg(swapped, "version %s never served", v2);
	ck_assert_msg(c.failed == 0, "%ld of %ld requests failed, first: %s", c.failed, c.sent, c.first_failure);
	ck_assert_int_eq(c.wrong, 0);
	ck_assert_int_gt(c.answered[0], 0);
	ck_assert_int_gt(c.answered[1], 0);
	ck_assert_int_eq(c.old_after_new, 0);
	/* the old version is unloaded: the index lists only the new one, the gauge says 0 */
	json_t *idx = th_ok(s.ia, "GET", "/v2/repository/index", NULL);
	ck_assert_uint_eq(json_array_size(idx), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(idx, 0), "version")), v2);
	json_decref(idx);
	char *old = th_fmt("inference_model_loaded{model=\"digits\",version=\"%s\"}", v1);
	char *cur = th_fmt("inference_model_loaded{model=\"digits\",version=\"%s\"}", v2);
	ck_assert_double_eq(th_metric(s.ia, old), 0);
	ck_assert_double_eq(th_metric(s.ia, cur), 1);
	struct th_response r = th_infer_oip(s.ia, "digits", v1, (float[PIXELS]){0}, 1, PIXELS);
	ck_assert_int_eq(r.status, 404);
	th_response_free(&r);
	free(cur);
	free(old);
	free(v2);
	free(v1);
	ml_package_free(&a);
	ml_package_free(&b);
	th_infer_stop(&s);
}
END_TEST

/* --- broken packages, a deleted model ----------------------------------------------------- */

/* Logs dir's package as a run, replacing model/<file> with data, and registers it. */
static char *publish_altered(struct th_infer_stack *s, const struct ml_package *p, const char *file, const void *data,
			     size_t len)
{
	char *dir = th_infer_write(p);
	char *run = th_infer_log_dir(s, dir);
	th_infer_put_artifact(s, run, file, data, len);
	char *v = th_infer_register(s, "digits", run);
	free(run);
	free(dir);
	return v;
}

/* Waits until the index row of digits mentions needle in its reason. */
static bool wait_reason(struct th_daemon *ia, const char *needle, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 50) {
		json_t *idx = th_ok(ia, "GET", "/v2/repository/index", NULL);
		bool found = false;
		size_t i;
		json_t *row;
		json_array_foreach(idx, i, row)
		{
			const char *reason = json_string_value(json_object_get(row, "reason"));
			found = found || (reason && strstr(reason, needle));
		}
		json_decref(idx);
		if (found)
			return true;
		sleep_ms(50);
	}
	return false;
}

static void serves(struct th_daemon *ia, const struct ml_package *p, const char *version)
{
	float raw[2 * PIXELS];
	images(raw, 2);
	struct th_response r = th_infer_oip(ia, "digits", NULL, raw, 2, PIXELS);
	expect_answer(&r, p, version, raw, 2);
	th_response_free(&r);
}

START_TEST(broken_packages_are_refused_and_a_deleted_model_unloads)
{
	struct th_infer_stack s;
	th_infer_start(&s, false, NULL, false);
	struct ml_package a, b;
	th_infer_classifier(&a, SIZE, 0, CLASSES, 21, 1.0f);
	th_infer_classifier(&b, SIZE, 8, CLASSES, 22, 1.0f);
	char *v1 = th_infer_publish(&s, "digits", &a, "champion");
	th_infer_start_api(&s, NULL, true);
	serves(s.ia, &a, v1);

	/* truncated weights */
	char *dir = th_infer_write(&b), *path = th_fmt("%s/%s", dir, ML_PACKAGE_WEIGHTS), *w = NULL;
	size_t wlen = 0;
	struct core_error err = {{0}};
	ck_assert(core_read_file(path, 1 << 20, &w, &wlen, &err) == CORE_OK);
	char *v2 = publish_altered(&s, &b, ML_PACKAGE_WEIGHTS, w, wlen / 2);
	th_infer_alias(&s, "digits", "champion", v2);
	char *why = th_fmt("version %s refused", v2);
	ck_assert_msg(wait_reason(s.ia, why, 30000), "%s never refused", v2);
	free(why);
	serves(s.ia, &a, v1);

	/* the weights of another net than model.json describes: shapes do not match */
	char *adir = th_infer_write(&a), *mj = th_fmt("%s/%s", adir, ML_PACKAGE_MODEL_JSON), *j = NULL;
	size_t jlen = 0;
	ck_assert(core_read_file(mj, 1 << 20, &j, &jlen, &err) == CORE_OK);
	char *v3 = publish_altered(&s, &b, ML_PACKAGE_MODEL_JSON, j, jlen);
	th_infer_alias(&s, "digits", "champion", v3);
	why = th_fmt("version %s refused", v3);
	ck_assert_msg(wait_reason(s.ia, why, 30000), "%s never refused", v3);
	ck_assert(wait_reason(s.ia, "shape", 1000));
	free(why);
	serves(s.ia, &a, v1);
	ck_assert_double_eq(th_metric(s.ia, "inference_model_load_failures_total{model=\"digits\"}"), 2);
	ck_assert(th_daemon_log_has(s.ia, "refused", NULL));

	/* a good version after the broken ones serves */
	char *v4 = th_infer_publish(&s, "digits", &b, "champion");
	ck_assert(th_infer_wait_serving(s.ia, "digits", v4, 30000));
	serves(s.ia, &b, v4);

	/* deleted in the registry: unloaded, its routes answer 404 */
	struct th_response r =
		th_call(s.registry, "DELETE", "/api/2.0/mlflow/registered-models/delete", "{\"name\": \"digits\"}");
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);
	ck_assert(th_infer_wait_serving(s.ia, "digits", NULL, 30000));
	float raw[PIXELS] = {0};
	r = th_infer_oip(s.ia, "digits", NULL, raw, 1, PIXELS);
	ck_assert_int_eq(r.status, 404);
	ck_assert_ptr_nonnull(json_string_value(json_object_get(r.json, "error")));
	th_response_free(&r);
	char *series = th_fmt("inference_model_loaded{model=\"digits\",version=\"%s\"}", v4);
	ck_assert_double_eq(th_metric(s.ia, series), 0);
	free(series);

	free(j);
	free(mj);
	free(adir);
	free(w);
	free(path);
	free(dir);
	free(v4);
	free(v3);
	free(v2);
	free(v1);
	ml_package_free(&a);
	ml_package_free(&b);
	th_infer_stop(&s);
}
END_TEST

/* --- repository API, canary ----------------------------------------------------------------- */

START_TEST(repository_index_load_unload_and_canary)
{
	struct th_infer_stack s;
	th_infer_start(&s, false, NULL, false);
	struct ml_package a, b;
	th_infer_classifier(&a, SIZE, 0, CLASSES, 31, 1.0f);
	th_infer_classifier(&b, SIZE, 8, CLASSES, 32, 1.0f);
	char *v1 = th_infer_publish(&s, "digits", &a, "champion");
	char *v2 = th_infer_publish(&s, "digits", &b, "challenger");
	char *o1 = th_infer_publish(&s, "other", &a, "champion");
	th_infer_start_api(&s, (const char *const[]){"CANARY_PERCENT=30", NULL}, true);

	/* the index: both versions of digits (the challenger says so), other */
	json_t *idx = th_ok(s.ia, "GET", "/v2/repository/index", NULL);
	ck_assert_uint_eq(json_array_size(idx), 3);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(idx, 0), "name")), "digits");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(idx, 1), "reason")), "challenger");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(idx, 2), "name")), "other");
	json_decref(idx);

	/* CANARY_PERCENT=30: 30 of every 100 requests answered by the challenger, spread */
	float raw[PIXELS];
	images(raw, 1);
	int by_challenger = 0, in_first_ten = 0;
	for (int i = 0; i < 100; i++) {
		struct th_response r = th_infer_oip(s.ia, "digits", NULL, raw, 1, PIXELS);
		const char *v = json_string_value(json_object_get(r.json, "model_version"));
		ck_assert_int_eq(r.status, 200);
		ck_assert(strcmp(v, v1) == 0 || strcmp(v, v2) == 0);
		by_challenger += strcmp(v, v2) == 0;
		in_first_ten += i < 10 && strcmp(v, v2) == 0;
		expect_answer(&r, strcmp(v, v2) == 0 ? &b : &a, v, raw, 1);
		th_response_free(&r);
	}
	ck_assert_int_eq(by_challenger, 30);
	ck_assert_int_eq(in_first_ten, 3);

	/* unload: other stops serving and stays so (index UNAVAILABLE, "unloaded") */
	json_decref(th_ok(s.ia, "POST", "/v2/repository/models/other/unload", NULL));
	struct th_response r = th_infer_oip(s.ia, "other", NULL, raw, 1, PIXELS);
	ck_assert_int_ge(r.status, 400);
	ck_assert_ptr_nonnull(json_string_value(json_object_get(r.json, "error")));
	th_response_free(&r);
	idx = th_ok(s.ia, "POST", "/v2/repository/index", "{\"ready\": true}");
	ck_assert_uint_eq(json_array_size(idx), 2);
	json_decref(idx);
	ck_assert(wait_reason(s.ia, "unloaded", 0));
	/* readiness does not wait for an explicitly unloaded model */
	r = th_call(s.ia, "GET", "/v2/health/ready", NULL);
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);

	/* load: serves again */
	json_decref(th_ok(s.ia, "POST", "/v2/repository/models/other/load", NULL));
	r = th_infer_oip(s.ia, "other", NULL, raw, 1, PIXELS);
	expect_answer(&r, &a, o1, raw, 1);
	th_response_free(&r);

	/* unknown models: 404 in the OIP shape */
	r = th_call(s.ia, "POST", "/v2/repository/models/nope/load", NULL);
	ck_assert_int_eq(r.status, 404);
	ck_assert_ptr_nonnull(json_string_value(json_object_get(r.json, "error")));
	th_response_free(&r);
	r = th_call(s.ia, "POST", "/v2/repository/models/nope/unload", NULL);
	ck_assert_int_eq(r.status, 404);
	th_response_free(&r);
	r = th_call(s.ia, "POST", "/v2/repository/index", "{\"ready\": 3}");
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(json_string_value(json_object_get(r.json, "error")));
	th_response_free(&r);
	/* a model with nothing to serve cannot be loaded: 400 saying why */
	char *n1 = th_infer_publish(&s, "unaliased", &a, "staging");
	r = th_call(s.ia, "POST", "/v2/repository/models/unaliased/load", NULL);
	ck_assert_int_eq(r.status, 400);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r.json, "error")), "champion"));
	th_response_free(&r);

	free(n1);
	free(o1);
	free(v2);
	free(v1);
	ml_package_free(&a);
	ml_package_free(&b);
	th_infer_stop(&s);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *s = suite_create("infer_lifecycle");
	TCase *tc = tcase_create("lifecycle");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, startup_load_serves_champion_and_readiness_waits);
	tcase_add_test(tc, champion_moves_under_continuous_requests);
	tcase_add_test(tc, broken_packages_are_refused_and_a_deleted_model_unloads);
	tcase_add_test(tc, repository_index_load_unload_and_canary);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed == 0 ? 0 : 1;
}

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
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "harness_infer.h"

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

/* The value of the series `line` (a full "name{labels}" prefix) in /metrics, or -1. */
static double metric(struct th_daemon *d, const char *series)
{
	struct th_response r = th_call(d, "GET", "/metrics", NULL);
	double v = -1;
	const char *p = r.body;
	size_t n = strlen(series);
	while (p && *p) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ') {
			v = atof(p + n + 1);
			break;
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	th_response_free(&r);
	return v;
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
	ck_assert_double_eq(metric(s.ia, series), 1);
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

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *s = suite_create("infer_lifecycle");
	TCase *tc = tcase_create("lifecycle");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, startup_load_serves_champion_and_readiness_waits);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed == 0 ? 0 : 1;
}

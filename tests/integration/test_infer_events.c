/* The inference API's prediction events, with tracker, registry and inference API as
 * real processes (harness_infer.h) and the run's broker: each row of a request comes
 * back on inference.predictions as a lathe.prediction CloudEvent keyed by the model,
 * with the version, request id, timestamp, protocol, row index, the image's statistics,
 * the label and its probability (from a forward pass the test computes itself), role
 * "serve"; with SHADOW=true the challenger's predictions of the same rows come too, role
 * "shadow", and its agreement is counted. With the broker down, requests still answer
 * at once and the events over EVENTS_QUEUE_MAX are dropped and counted in /metrics. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "harness_infer.h"
#include "harness_kafka.h"
#include "harness_util.h"

#define SIZE    4
#define PIXELS  (SIZE * SIZE)
#define CLASSES 3

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void images(float *raw, size_t n, unsigned salt)
{
	for (size_t r = 0; r < n; r++)
		for (size_t i = 0; i < PIXELS; i++)
			raw[r * PIXELS + i] = (float)((r * 37 + i * 11 + salt * 5) % 256);
}

/* The event of ev (an array of events) whose data has row and role, or NULL. */
static json_t *event_of(json_t *evs, size_t row, const char *role)
{
	size_t i;
	json_t *ev;
	json_array_foreach(evs, i, ev)
	{
		json_t *d = json_object_get(ev, "data");
		if ((size_t)json_integer_value(json_object_get(d, "row")) == row &&
		    strcmp(json_string_value(json_object_get(d, "role")), role) == 0)
			return ev;
	}
	return NULL;
}

/* Checks one row's event: envelope, fields, image statistics of raw, and the label and
 * probability of want (p's forward pass). */
static void expect_event(json_t *ev, const char *model, const char *version, size_t row, const char *role,
			 const float *raw, const float *want)
{
	ck_assert_msg(ev != NULL, "no %s event for row %zu", role, row);
	ck_assert_str_eq(json_string_value(json_object_get(ev, "type")), "lathe.prediction");
	ck_assert_str_eq(json_string_value(json_object_get(ev, "source")), "lathe/inference-api");
	ck_assert_str_eq(json_string_value(json_object_get(ev, "subject")), model);
	json_t *d = json_object_get(ev, "data");
	ck_assert_str_eq(json_string_value(json_object_get(d, "model")), model);
	ck_assert_str_eq(json_string_value(json_object_get(d, "version")), version);
	ck_assert_str_eq(json_string_value(json_object_get(d, "protocol")), "oip");
	const char *rid = json_string_value(json_object_get(d, "request_id"));
	ck_assert_msg(rid && *rid, "request_id: %s", json_dumps(d, 0));
	const char *ts = json_string_value(json_object_get(d, "timestamp"));
	ck_assert_msg(ts && strlen(ts) == 24 && ts[10] == 'T' && ts[19] == '.' && ts[23] == 'Z', "timestamp %s", ts);
	json_t *img = json_object_get(d, "image");
	ck_assert_int_eq(json_integer_value(json_object_get(img, "width")), SIZE);
	ck_assert_int_eq(json_integer_value(json_object_get(img, "height")), SIZE);
	ck_assert_int_eq(json_integer_value(json_object_get(img, "channels")), 1);
	double sum = 0, sq = 0;
	for (size_t i = 0; i < PIXELS; i++)
		sum += raw[row * PIXELS + i];
	double mean = sum / PIXELS;
	for (size_t i = 0; i < PIXELS; i++)
		sq += (raw[row * PIXELS + i] - mean) * (raw[row * PIXELS + i] - mean);
	ck_assert_double_eq_tol(json_number_value(json_object_get(img, "brightness")), mean, 1e-6);
	ck_assert_double_eq_tol(json_number_value(json_object_get(img, "contrast")), sqrt(sq / PIXELS), 1e-6);
	size_t best = 0;
	for (size_t c = 1; c < CLASSES; c++)
		if (want[row * CLASSES + c] > want[row * CLASSES + best])
			best = c;
	char label[8];
	snprintf(label, sizeof label, "c%zu", best);
	ck_assert_str_eq(json_string_value(json_object_get(d, "label")), label);
	ck_assert_double_eq_tol(json_number_value(json_object_get(d, "probability")), want[row * CLASSES + best], 1e-5);
	ck_assert_ptr_null(json_object_get(d, "prediction"));
}

START_TEST(events_arrive_with_the_fields)
{
	char model[64];
	snprintf(model, sizeof model, "ev%d-serve", (int)getpid());
	struct th_infer_stack s;
	th_infer_start(&s, false, NULL, false);
	struct ml_package p;
	th_infer_classifier(&p, SIZE, 8, CLASSES, 11, 1.0f);
	char *v = th_infer_publish(&s, model, &p, "champion");
	th_infer_start_api(&s, (const char *const[]){"PREDICTION_SAMPLE_RATE=1", NULL}, true);

	float raw[3 * PIXELS], want[3 * CLASSES];
	images(raw, 3, 1);
	th_infer_forward(&p, raw, 3, want);
	struct th_response r = th_infer_oip(s.ia, model, NULL, raw, 3, PIXELS);
	ck_assert_msg(r.status == 200, "infer: %ld %s", r.status, r.body);
	th_response_free(&r);

	struct th_kafka k;
	th_kafka_open(&k, "inference.predictions", model);
	th_kafka_wait(&k, 3, 20000);
	json_t *evs = th_kafka_events_of(&k, model);
	ck_assert_msg(json_array_size(evs) == 3, "%zu events, want one per row", json_array_size(evs));
	for (size_t row = 0; row < 3; row++)
		expect_event(event_of(evs, row, "serve"), model, v, row, "serve", raw, want);
	/* one request: one request id for its rows */
	ck_assert_str_eq(
		json_string_value(json_object_get(json_object_get(json_array_get(evs, 0), "data"), "request_id")),
		json_string_value(json_object_get(json_object_get(json_array_get(evs, 2), "data"), "request_id")));
	json_decref(evs);
	th_kafka_close(&k);
	ck_assert_double_eq(th_metric(s.ia, "inference_events_dropped_total"), 0);
	th_infer_stop(&s);
	ml_package_free(&p);
	free(v);
}
END_TEST

START_TEST(shadow_scores_the_challenger_off_the_path)
{
	char model[64];
	snprintf(model, sizeof model, "ev%d-shadow", (int)getpid());
	struct th_infer_stack s;
	th_infer_start(&s, false, NULL, false);
	struct ml_package champ, chall;
	th_infer_classifier(&champ, SIZE, 8, CLASSES, 21, 1.0f);
	th_infer_classifier(&chall, SIZE, 0, CLASSES, 22, 1.0f);
	char *v1 = th_infer_publish(&s, model, &champ, "champion");
	char *v2 = th_infer_publish(&s, model, &chall, "challenger");
	th_infer_start_api(&s, (const char *const[]){"SHADOW=true", NULL}, true);

	float raw[2 * PIXELS], want1[2 * CLASSES], want2[2 * CLASSES];
	images(raw, 2, 2);
	th_infer_forward(&champ, raw, 2, want1);
	th_infer_forward(&chall, raw, 2, want2);
	struct th_response r = th_infer_oip(s.ia, model, NULL, raw, 2, PIXELS);
	ck_assert_msg(r.status == 200, "infer: %ld %s", r.status, r.body);
	/* the client gets the champion's answer only */
	ck_assert_str_eq(json_string_value(json_object_get(r.json, "model_version")), v1);
	th_response_free(&r);

	struct th_kafka k;
	th_kafka_open(&k, "inference.predictions", model);
	th_kafka_wait(&k, 4, 20000);
	json_t *evs = th_kafka_events_of(&k, model);
	ck_assert_msg(json_array_size(evs) == 4, "%zu events, want 2 served + 2 shadow", json_array_size(evs));
	for (size_t row = 0; row < 2; row++) {
		expect_event(event_of(evs, row, "serve"), model, v1, row, "serve", raw, want1);
		expect_event(event_of(evs, row, "shadow"), model, v2, row, "shadow", raw, want2);
	}
	json_decref(evs);
	th_kafka_close(&k);
	char yes[160], no[160];
	snprintf(yes, sizeof yes, "inference_shadow_predictions_total{model=\"%s\",version=\"%s\",agree=\"true\"}",
		 model, v2);
	snprintf(no, sizeof no, "inference_shadow_predictions_total{model=\"%s\",version=\"%s\",agree=\"false\"}",
		 model, v2);
	double agreed = th_metric(s.ia, yes), differed = th_metric(s.ia, no);
	ck_assert_msg((agreed < 0 ? 0 : agreed) + (differed < 0 ? 0 : differed) == 2, "shadow counted %g + %g", agreed,
		      differed);
	th_infer_stop(&s);
	ml_package_free(&champ);
	ml_package_free(&chall);
	free(v1);
	free(v2);
}
END_TEST

START_TEST(broker_down_requests_answer_and_drops_are_counted)
{
	char model[64];
	snprintf(model, sizeof model, "ev%d-down", (int)getpid());
	struct th_infer_stack s;
	th_infer_start(&s, false, NULL, false);
	struct ml_package p;
	th_infer_classifier(&p, SIZE, 0, CLASSES, 31, 1.0f);
	char *v = th_infer_publish(&s, model, &p, "champion");
	th_infer_start_api(&s, (const char *const[]){"EVENTS_QUEUE_MAX=4", NULL}, true);

	float raw[2 * PIXELS];
	images(raw, 2, 3);
	th_kafka_ctl("down 1");
	double slowest = 0, t_all = now_s();
	long failed = 0;
	for (int i = 0; i < 20; i++) {
		double t0 = now_s();
		struct th_response r = th_infer_oip(s.ia, model, NULL, raw, 2, PIXELS);
		double took = now_s() - t0;
		slowest = took > slowest ? took : slowest;
		failed += r.status != 200;
		th_response_free(&r);
	}
	t_all = now_s() - t_all;
	double dropped = th_metric(s.ia, "inference_events_dropped_total");
	th_kafka_ctl("up 1"); /* before any assertion: other tests share the broker */
	ck_assert_int_eq(failed, 0);
	/* a request that waited for Kafka would take the producer's timeouts (seconds) */
	ck_assert_msg(slowest < 1.0 && t_all < 5.0, "slowest request %.3f s, all %.3f s", slowest, t_all);
	/* 40 events, at most 4 in flight: the rest dropped and counted */
	ck_assert_msg(dropped >= 36, "inference_events_dropped_total %g, want >= 36", dropped);
	th_infer_stop(&s);
	ml_package_free(&p);
	free(v);
}
END_TEST

static Suite *events_suite(void)
{
	Suite *s = suite_create("infer-events");
	TCase *tc = tcase_create("events");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, events_arrive_with_the_fields);
	tcase_add_test(tc, shadow_scores_the_challenger_off_the_path);
	tcase_add_test(tc, broker_down_requests_answer_and_drops_are_counted);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(events_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

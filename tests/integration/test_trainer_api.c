/* Integration tests of the trainer's jobs API: lathe-trainer (WORKERS=0: nothing is
 * trained here) against a real data registry holding a tiny image folder and a tiny
 * CSV, the run's PostgreSQL and devkafka broker.
 *   - the example spec and its cnn / logistic_regression / tabular variants
 *     are queued (201) and read back; the job's training.requests event lands on the
 *     topic (CloudEvent, key = job id);
 *   - each bad spec the issue lists is a 400 naming the problem (unknown family,
 *     negative epochs, a dataset that does not exist, a label column that is not there,
 *     a layer stack that does not fit), and none of them leaves a job behind;
 *   - a data registry that does not answer is a 503;
 *   - listing is newest first in keyset pages, filtered by status;
 *   - cancel: a QUEUED job ends CANCELLED at once (with job.cancelled), a RUNNING one is
 *     flagged, an ended one is a 400;
 *   - events: ndjson lines, ?after=, SSE, and ?follow=true streaming until the job ends. */
#include <check.h>
#include <curl/curl.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "harness_data.h"
#include "harness_trainer.h"
#include "harness.h"

static struct th_daemon *dr, *tr;

#define EXAMPLE_ON(ds)                                                                                                 \
	"{\"dataset\": \"" ds "\", \"split\": {\"fractions\": [0.8, 0.1, 0.1], \"seed\": 7}, \"model\": {\"type\": "   \
	"\"mlp\", \"hidden\": [256]}, \"optimizer\": {\"type\": \"adam\", \"lr\": 0.001}, \"epochs\": 10, "            \
	"\"batch_size\": 128, \"seed\": 1, \"experiment\": \"fmnist\", \"register\": {\"model\": \"fmnist-mlp\", "     \
	"\"alias\": \"champion\"}}"

static const char *const iris_csv = "sepal_length,sepal_width,colour,species\n"
				    "5.1,3.5,red,setosa\n4.9,3.0,blue,setosa\n4.7,3.2,red,setosa\n"
				    "7.0,3.2,blue,versicolor\n6.4,3.2,red,versicolor\n6.9,3.1,blue,versicolor\n"
				    "6.3,3.3,red,virginica\n5.8,2.7,blue,virginica\n7.1,3.0,red,virginica\n";

/* One data registry with the two datasets for the whole suite (read only here); a
 * fresh trainer and database per test. */
static void setup_data(void)
{
	static const char *const env[] = {"PROFILE_POLL_MS=50", NULL};
	dr = th_daemon_start("data-registry", NULL, env);
	ck_assert_int_eq(th_trainer_push_images(dr, "fmnist", 2, 5, 8), 1);
	ck_assert_int_eq(th_trainer_push_csv(dr, "iris", iris_csv, "species"), 1);
}

static void teardown_data(void)
{
	th_daemon_stop(dr);
}

static void setup(void)
{
	tr = th_trainer_start(dr, NULL);
}

static void teardown(void)
{
	th_daemon_stop(tr);
}

/* Submits spec and expects 201 with a QUEUED job; returns its id (malloc'd). */
static char *submit_ok(const char *spec)
{
	struct th_response r = th_trainer_submit(tr, spec);
	ck_assert_msg(r.status == 201, "%s -> %ld %s", spec, r.status, r.body);
	json_t *job = json_object_get(r.json, "job");
	ck_assert_str_eq(json_string_value(json_object_get(job, "status")), "QUEUED");
	const char *id = json_string_value(json_object_get(job, "id"));
	ck_assert_uint_eq(strlen(id), 32);
	char *out = strdup(id);
	th_response_free(&r);
	return out;
}

static json_t *get_job(const char *id)
{
	char *path = th_fmt("/v1/jobs/%s", id);
	json_t *body = th_ok(tr, "GET", path, NULL);
	json_t *job = json_incref(json_object_get(body, "job"));
	json_decref(body);
	free(path);
	return job;
}

/* th_trainer_sql of a formatted statement, its answer dropped. */
static void sql_do(char *text)
{
	free(th_trainer_sql(tr, text));
	free(text);
}

static long count_jobs(void)
{
	char *n = th_trainer_sql(tr, "SELECT count(*) FROM jobs");
	long v = strtol(n, NULL, 10);
	free(n);
	return v;
}

START_TEST(valid_specs_are_queued)
{
	char *id = submit_ok(EXAMPLE_ON("fmnist@1"));
	json_t *job = get_job(id);
	ck_assert_str_eq(json_string_value(json_object_get(job, "id")), id);
	ck_assert_str_eq(json_string_value(json_object_get(job, "status")), "QUEUED");
	ck_assert_str_eq(json_string_value(json_object_get(job, "model_name")), "fmnist-mlp");
	ck_assert_int_eq(json_integer_value(json_object_get(job, "epoch")), 0);
	ck_assert(json_is_null(json_object_get(job, "run_id")));
	json_t *spec = json_object_get(job, "spec");
	ck_assert_int_eq(json_integer_value(json_object_get(spec, "batch_size")), 128);
	ck_assert_str_eq(json_string_value(json_object_get(spec, "dataset")), "fmnist@1");
	json_decref(job);
	free(id);

	/* cnn, logistic regression (dataset without a version: the latest READY), tabular */
	free(submit_ok(
		"{\"dataset\": \"fmnist@1\", \"model\": {\"type\": \"cnn\", \"layers\": [{\"type\":\"conv2d\","
		"\"filters\":4,\"kernel\":3,\"padding\":1},{\"type\":\"maxpool\",\"pool\":2},{\"type\":\"dense\","
		"\"units\":16}]}, \"optimizer\": {\"type\": \"adam\", \"lr\": 0.001}, \"epochs\": 3}"));
	free(submit_ok("{\"dataset\": \"fmnist\", \"model\": {\"type\": \"logistic_regression\"}, \"epochs\": 2}"));
	free(submit_ok(
		"{\"dataset\": \"iris@1\", \"target\": \"species\", \"model\": {\"type\": \"mlp\", \"hidden\": [8]},"
		" \"epochs\": 5, \"register\": {\"model\": \"iris\"}}"));
	free(submit_ok("{\"dataset\": \"iris@1\", \"target\": \"sepal_length\", \"features\": [\"sepal_width\"], "
		       "\"model\": {\"type\": \"linear_regression\"}, \"epochs\": 5}"));
	ck_assert_int_eq(count_jobs(), 5);
	char *statuses = th_trainer_sql(tr, "SELECT string_agg(DISTINCT status, ',') FROM jobs");
	ck_assert_str_eq(statuses, "QUEUED");
	free(statuses);
}
END_TEST

/* Submits spec; expects 400 with needle in the message and no new job. */
static void refused(const char *spec, const char *needle)
{
	long before = count_jobs();
	struct th_response r = th_trainer_submit(tr, spec);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", needle);
	th_expect_no_internals(r.body, dr->port);
	th_response_free(&r);
	ck_assert_int_eq(count_jobs(), before);
}

START_TEST(bad_specs_are_400_naming_the_problem)
{
	refused("{\"dataset\": \"fmnist@1\", \"model\": {\"type\": \"svm\"}}", "model.type: unknown family 'svm'");
	refused("{\"dataset\": \"fmnist@1\", \"model\": {\"type\": \"mlp\"}, \"epochs\": -1}", "epochs: must be");
	refused("{\"dataset\": \"fmnist@1\", \"model\": {\"type\": \"mlp\"}, \"optimizer\": {\"lr\": 0}}",
		"optimizer.lr");
	refused("{\"dataset\": \"fmnist@1\", \"model\": {\"type\": \"mlp\"}, \"split\": {\"fractions\": [0.5, 0.1, "
		"0.1]}}",
		"split.fractions: must add up to 1");
	refused("{\"dataset\": \"fmnist@1\", \"model\": {\"type\": \"mlp\"}, \"sweep\": {\"method\": \"grid\", "
		"\"space\": "
		"{\"optimizer.lr\": [0.1, -2]}}}",
		"sweep.space.optimizer.lr: [1]");
	/* what only the data registry knows */
	refused("{\"dataset\": \"nope@1\", \"model\": {\"type\": \"mlp\"}}", "dataset: 'nope@1' does not exist");
	refused("{\"dataset\": \"fmnist@7\", \"model\": {\"type\": \"mlp\"}}", "dataset: 'fmnist@7' does not exist");
	refused("{\"dataset\": \"iris@1\", \"target\": \"petal_colour\", \"model\": {\"type\": \"mlp\"}}",
		"target: column 'petal_colour' is not in dataset iris@1");
	refused("{\"dataset\": \"iris@1\", \"target\": \"species\", \"features\": [\"sepal_length\", \"height\"], "
		"\"model\": {\"type\": \"mlp\"}}",
		"features: [1] column 'height' is not in dataset iris@1");
	refused("{\"dataset\": \"iris@1\", \"model\": {\"type\": \"mlp\"}}", "target: required for tabular data");
	refused("{\"dataset\": \"iris@1\", \"target\": \"colour\", \"model\": {\"type\": \"linear_regression\"}}",
		"target: column 'colour' is categorical, not numeric");
	refused("{\"dataset\": \"fmnist@1\", \"target\": \"label\", \"model\": {\"type\": \"mlp\"}}",
		"target: fmnist@1 is image data");
	/* 8x8 images: conv 3 -> 6x6, pool 2 -> 3x3, conv 5 does not fit */
	refused("{\"dataset\": \"fmnist@1\", \"model\": {\"type\": \"cnn\", \"layers\": "
		"[{\"type\":\"conv2d\",\"filters\":4,"
		"\"kernel\":3},{\"type\":\"maxpool\",\"pool\":2},{\"type\":\"conv2d\",\"filters\":4,\"kernel\":5}]}}",
		"model.layers[2] (conv2d): kernel 5 is larger than its 3x3 input");
	/* the same stack fits once the images are scaled up */
	free(submit_ok(
		"{\"dataset\": \"fmnist@1\", \"image\": {\"size\": 16}, \"model\": {\"type\": \"cnn\", \"layers\": "
		"[{\"type\":\"conv2d\",\"filters\":4,\"kernel\":3},{\"type\":\"maxpool\",\"pool\":2},{\"type\":"
		"\"conv2d\",\"filters\":4,\"kernel\":5}]}}"));
	/* not JSON, not an object, not JSON's media type */
	refused("{\"dataset\": ", "the job spec is not JSON");
	refused("[1, 2]", "the job spec must be a JSON object");
	char *url = th_fmt("%s/v1/jobs", tr->base_url);
	struct th_response r = th_http("POST", url, "text/plain", "{}", 2);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", NULL);
	th_response_free(&r);
	free(url);
}
END_TEST

START_TEST(unreachable_data_registry_is_503)
{
	char url[64];
	snprintf(url, sizeof url, "DATA_REGISTRY_URL=http://127.0.0.1:%u", th_free_port());
	const char *env[] = {url, "DATA_REGISTRY_TIMEOUT_MS=500", NULL};
	struct th_daemon *t2 = th_trainer_start(NULL, env);
	struct th_response r = th_trainer_submit(t2, EXAMPLE_ON("fmnist@1"));
	th_expect_error(&r, 503, "TEMPORARILY_UNAVAILABLE", "data registry could not be reached");
	th_expect_no_internals(r.body, 0);
	th_response_free(&r);
	/* a spec that is wrong by itself is still a 400: it never reaches the registry */
	r = th_trainer_submit(t2, "{\"dataset\": \"fmnist@1\", \"model\": {\"type\": \"svm\"}}");
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "model.type");
	th_response_free(&r);
	th_daemon_stop(t2);
}
END_TEST

START_TEST(list_is_newest_first_in_pages)
{
	char *ids[5];
	for (int i = 0; i < 5; i++)
		ids[i] = submit_ok(
			"{\"dataset\": \"fmnist@1\", \"model\": {\"type\": \"logistic_regression\"}, \"epochs\": 1}");
	/* make the order by creation time certain whatever the clock did */
	for (int i = 0; i < 5; i++)
		sql_do(th_fmt("UPDATE jobs SET created_at = %d WHERE id = '%s'", 1000 + i, ids[i]));
	json_t *seen = json_array();
	char *token = NULL;
	int pages = 0;
	do {
		char *path = token ? th_fmt("/v1/jobs?max_results=2&page_token=%s", token)
				   : th_fmt("/v1/jobs?max_results=2");
		json_t *body = th_ok(tr, "GET", path, NULL);
		json_t *jobs = json_object_get(body, "jobs"), *j;
		size_t i;
		ck_assert_uint_le(json_array_size(jobs), 2);
		json_array_foreach(jobs, i, j) json_array_append(seen, json_object_get(j, "id"));
		free(token);
		const char *next = json_string_value(json_object_get(body, "next_page_token"));
		token = next ? strdup(next) : NULL;
		json_decref(body);
		free(path);
		pages++;
	} while (token);
	ck_assert_int_eq(pages, 3);
	ck_assert_uint_eq(json_array_size(seen), 5);
	for (int i = 0; i < 5; i++)
		ck_assert_str_eq(json_string_value(json_array_get(seen, (size_t)i)), ids[4 - i]);
	json_decref(seen);

	/* by status */
	char *path = th_fmt("/v1/jobs/%s/cancel", ids[2]);
	json_decref(th_ok(tr, "POST", path, NULL));
	free(path);
	json_t *body = th_ok(tr, "GET", "/v1/jobs?status=CANCELLED", NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(body, "jobs")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(body, "jobs"), 0), "id")),
			 ids[2]);
	ck_assert_ptr_null(json_object_get(body, "next_page_token"));
	json_decref(body);
	body = th_ok(tr, "GET", "/v1/jobs?status=QUEUED", NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(body, "jobs")), 4);
	json_decref(body);

	struct th_response r = th_call(tr, "GET", "/v1/jobs?status=DONE", NULL);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "status");
	th_response_free(&r);
	r = th_call(tr, "GET", "/v1/jobs?max_results=0", NULL);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "max_results");
	th_response_free(&r);
	r = th_call(tr, "GET", "/v1/jobs?page_token=zzz", NULL);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "page_token");
	th_response_free(&r);
	r = th_call(tr, "GET", "/v1/jobs/0123456789abcdef0123456789abcdef", NULL);
	th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", "Job '0123456789abcdef0123456789abcdef' not found");
	th_response_free(&r);
	for (int i = 0; i < 5; i++)
		free(ids[i]);
}
END_TEST

START_TEST(cancel_by_state)
{
	char *id = submit_ok(EXAMPLE_ON("fmnist@1"));
	char *path = th_fmt("/v1/jobs/%s/cancel", id);
	json_t *body = th_ok(tr, "POST", path, NULL);
	json_t *job = json_object_get(body, "job");
	ck_assert_str_eq(json_string_value(json_object_get(job, "status")), "CANCELLED");
	ck_assert(json_is_integer(json_object_get(job, "ended_at")));
	json_decref(body);
	struct th_response r = th_call(tr, "POST", path, NULL);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "is CANCELLED and cannot be cancelled");
	th_response_free(&r);
	free(path);
	r = th_call(tr, "POST", "/v1/jobs/0123456789abcdef0123456789abcdef/cancel", NULL);
	th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	th_response_free(&r);
	free(id);

	/* RUNNING (as a worker's claim leaves it): flagged, the worker stops it */
	id = submit_ok(EXAMPLE_ON("fmnist@1"));
	sql_do(th_fmt("UPDATE jobs SET status = 'RUNNING', worker = 'w1', lease_until = "
		      "(extract(epoch from now()) * 1000)::bigint + 60000 WHERE id = '%s'",
		      id));
	path = th_fmt("/v1/jobs/%s/cancel", id);
	body = th_ok(tr, "POST", path, NULL);
	job = json_object_get(body, "job");
	ck_assert_str_eq(json_string_value(json_object_get(job, "status")), "RUNNING");
	ck_assert(json_is_true(json_object_get(job, "cancel_requested")));
	json_decref(body);
	free(path);
	free(id);
}
END_TEST

/* --- events ---------------------------------------------------------------------- */

struct follow {
	char *url;
	char *body;
	size_t len;
	long status;
	double seconds;
};

static size_t collect(char *p, size_t size, size_t n, void *cls)
{
	struct follow *f = cls;
	char *b = realloc(f->body, f->len + size * n + 1);
	if (!b)
		return 0;
	memcpy(b + f->len, p, size * n);
	f->body = b;
	f->len += size * n;
	f->body[f->len] = '\0';
	return size * n;
}

static void *follow_run(void *cls)
{
	struct follow *f = cls;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, f->url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &f->status);
	curl_easy_cleanup(c);
	clock_gettime(CLOCK_MONOTONIC, &b);
	f->seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	return NULL;
}

/* The ndjson lines of body, parsed. */
static json_t *lines(const char *body)
{
	json_t *out = json_array();
	const char *p = body;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		ck_assert_msg(nl != NULL, "unterminated line in %s", body);
		json_t *l = json_loadb(p, (size_t)(nl - p), 0, NULL);
		ck_assert_msg(json_is_object(l), "not a JSON line: %.*s", (int)(nl - p), p);
		json_array_append_new(out, l);
		p = nl + 1;
	}
	return out;
}

START_TEST(events_stream_and_follow)
{
	char *id = submit_ok(EXAMPLE_ON("fmnist@1"));
	char *path = th_fmt("/v1/jobs/%s/events", id);
	struct th_response r = th_call(tr, "GET", path, NULL);
	ck_assert_int_eq(r.status, 200);
	json_t *ls = lines(r.body);
	ck_assert_uint_eq(json_array_size(ls), 1);
	json_t *l0 = json_array_get(ls, 0);
	ck_assert_str_eq(json_string_value(json_object_get(l0, "level")), "info");
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(l0, "line")), "queued: mlp on fmnist@1"));
	ck_assert(json_is_integer(json_object_get(l0, "at")));
	json_int_t seq0 = json_integer_value(json_object_get(l0, "seq"));
	th_response_free(&r);
	json_decref(ls);

	/* follow a QUEUED job: the stream stays open until the job ends (cancelled here) */
	struct follow f = {.url = th_fmt("%s%s?follow=true", tr->base_url, path)};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, follow_run, &f), 0);
	usleep(800 * 1000);
	char *cancel = th_fmt("/v1/jobs/%s/cancel", id);
	json_decref(th_ok(tr, "POST", cancel, NULL));
	pthread_join(th, NULL);
	ck_assert_int_eq(f.status, 200);
	ck_assert_msg(f.seconds > 0.7 && f.seconds < 10, "the followed stream took %.2f s", f.seconds);
	ls = lines(f.body);
	ck_assert_uint_eq(json_array_size(ls), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ls, 1), "line")),
			 "cancelled before it started");
	json_decref(ls);
	free(f.body);
	free(f.url);

	/* ?after= resumes; follow on an ended job ends at once */
	char *after = th_fmt("%s?after=%lld&follow=true", path, (long long)seq0);
	r = th_call(tr, "GET", after, NULL);
	ck_assert_int_eq(r.status, 200);
	ls = lines(r.body);
	ck_assert_uint_eq(json_array_size(ls), 1);
	ck_assert_int_gt(json_integer_value(json_object_get(json_array_get(ls, 0), "seq")), seq0);
	json_decref(ls);
	th_response_free(&r);
	free(after);

	/* SSE */
	char *url = th_fmt("%s%s", tr->base_url, path);
	char ctype[128] = "";
	r = th_data_http("GET", url, NULL, NULL, 0, "Accept: text/event-stream", "Content-Type", ctype, sizeof ctype);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(ctype, "text/event-stream");
	ck_assert_msg(strncmp(r.body, "id: ", 4) == 0 && strstr(r.body, "\ndata: {\"seq\":"), "%s", r.body);
	th_response_free(&r);
	free(url);

	after = th_fmt("%s?after=-1", path);
	r = th_call(tr, "GET", after, NULL);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "after");
	th_response_free(&r);
	free(after);
	r = th_call(tr, "GET", "/v1/jobs/0123456789abcdef0123456789abcdef/events", NULL);
	th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	th_response_free(&r);
	free(cancel);
	free(path);
	free(id);
}
END_TEST

/* --- Kafka: the outbox events --------------------------------------------------------- */

/* Reads topic from the beginning for up to timeout_ms and returns the events whose
 * subject is id, checking that each record's key is the subject. */
static json_t *events_for(const char *topic, const char *id, size_t want, int timeout_ms)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", th_env("LATHE_TEST_KAFKA"), errstr, sizeof errstr);
	rd_kafka_conf_set(conf, "group.id", id, errstr, sizeof errstr);
	rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr);
	rd_kafka_conf_set(conf, "fetch.wait.max.ms", "20", errstr, sizeof errstr);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
	ck_assert_msg(rk != NULL, "%s", errstr);
	const rd_kafka_metadata_t *md = NULL;
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
	int partitions = 0;
	for (int tries = 0; tries < 100 && partitions == 0; tries++) {
		if (rd_kafka_metadata(rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
			if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
				partitions = md->topics[0].partition_cnt;
			rd_kafka_metadata_destroy(md);
		}
		if (partitions == 0)
			usleep(100 * 1000);
	}
	rd_kafka_topic_destroy(t);
	ck_assert_int_gt(partitions, 0);
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions);
	for (int p = 0; p < partitions; p++)
		rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	ck_assert_int_eq(rd_kafka_assign(rk, list), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_topic_partition_list_destroy(list);
	json_t *out = json_array();
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &b);
		long waited = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
		if (json_array_size(out) >= want || waited > timeout_ms)
			break;
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		json_t *ev = !m->err && m->payload ? json_loadb(m->payload, m->len, 0, NULL) : NULL;
		const char *subject = json_string_value(json_object_get(ev, "subject"));
		if (subject && strcmp(subject, id) == 0) {
			ck_assert_int_eq(m->key_len, strlen(id));
			ck_assert(memcmp(m->key, id, m->key_len) == 0);
			json_array_append(out, ev);
		}
		json_decref(ev);
		rd_kafka_message_destroy(m);
	}
	rd_kafka_assign(rk, NULL);
	rd_kafka_destroy(rk);
	return out;
}

START_TEST(outbox_events_land_on_the_topics)
{
	char *id = submit_ok(EXAMPLE_ON("fmnist@1"));
	json_t *evs = events_for("training.requests", id, 1, 20000);
	ck_assert_uint_eq(json_array_size(evs), 1);
	json_t *ev = json_array_get(evs, 0);
	ck_assert_str_eq(json_string_value(json_object_get(ev, "type")), "lathe.training.requested");
	ck_assert_str_eq(json_string_value(json_object_get(ev, "source")), "lathe/trainer");
	ck_assert_str_eq(json_string_value(json_object_get(ev, "specversion")), "1.0");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ev, "data"), "job_id")), id);
	json_decref(evs);

	char *path = th_fmt("/v1/jobs/%s/cancel", id);
	json_decref(th_ok(tr, "POST", path, NULL));
	evs = events_for("training.events", id, 1, 20000);
	ck_assert_uint_eq(json_array_size(evs), 1);
	ev = json_array_get(evs, 0);
	ck_assert_str_eq(json_string_value(json_object_get(ev, "type")), "lathe.training.job.cancelled");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ev, "data"), "job_id")), id);
	json_decref(evs);
	free(path);
	free(id);
}
END_TEST

static Suite *trainer_api_suite(void)
{
	Suite *s = suite_create("trainer-api");
	TCase *tc = tcase_create("jobs");
	tcase_add_unchecked_fixture(tc, setup_data, teardown_data);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, valid_specs_are_queued);
	tcase_add_test(tc, bad_specs_are_400_naming_the_problem);
	tcase_add_test(tc, unreachable_data_registry_is_503);
	tcase_add_test(tc, list_is_newest_first_in_pages);
	tcase_add_test(tc, cancel_by_state);
	tcase_add_test(tc, events_stream_and_follow);
	tcase_add_test(tc, outbox_events_land_on_the_topics);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	SRunner *sr = srunner_create(trainer_api_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

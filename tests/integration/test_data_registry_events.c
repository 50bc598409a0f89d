/* Integration tests of the data registry's datasets.events: the real daemon against the
 * run's PostgreSQL and devkafka broker, read back with a plain librdkafka consumer
 * (assign() to every partition from the beginning). Each change gives exactly its
 * CloudEvents (type, source, subject = Kafka key = dataset name, data), in order per
 * dataset: an explicit create, a commit that creates its dataset (created, then
 * version.created), a second version naming its parent, a commit of the same files
 * again (nothing), a forced delete (counting its versions). Dataset names carry a
 * random prefix, since the topic is shared by the whole run. */
#include <check.h>
#include <curl/curl.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include "harness_data.h"
#include "harness.h"

#define TOPIC "datasets.events"

static char prefix[24];

struct seen {
	json_t *events;
	rd_kafka_t *rk;
};

static void consumer_open(struct seen *s)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	ck_assert_int_eq(
		rd_kafka_conf_set(conf, "bootstrap.servers", th_env("LATHE_TEST_KAFKA"), errstr, sizeof errstr),
		RD_KAFKA_CONF_OK);
	ck_assert_int_eq(rd_kafka_conf_set(conf, "group.id", prefix, errstr, sizeof errstr), RD_KAFKA_CONF_OK);
	ck_assert_int_eq(rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr),
			 RD_KAFKA_CONF_OK);
	ck_assert_int_eq(rd_kafka_conf_set(conf, "fetch.wait.max.ms", "20", errstr, sizeof errstr), RD_KAFKA_CONF_OK);
	s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
	ck_assert_msg(s->rk != NULL, "%s", errstr);
	s->events = json_array();
	const rd_kafka_metadata_t *md = NULL;
	rd_kafka_topic_t *t = rd_kafka_topic_new(s->rk, TOPIC, NULL);
	int partitions = 0;
	for (int tries = 0; tries < 100 && partitions == 0; tries++) {
		if (rd_kafka_metadata(s->rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
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
		rd_kafka_topic_partition_list_add(list, TOPIC, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	ck_assert_int_eq(rd_kafka_assign(s->rk, list), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_topic_partition_list_destroy(list);
}

static void consumer_close(struct seen *s)
{
	rd_kafka_assign(s->rk, NULL);
	rd_kafka_destroy(s->rk);
	json_decref(s->events);
}

/* Polls until our events number want (then 1 s more, to catch extras) or timeout. */
static void wait_for(struct seen *s, size_t want, int timeout_ms)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int extra_ms = -1;
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (json_array_size(s->events) >= want && extra_ms < 0)
			extra_ms = (int)waited + 1000;
		if ((extra_ms >= 0 && waited >= extra_ms) || waited >= timeout_ms)
			return;
		rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, 100);
		if (!m)
			continue;
		if (!m->err && m->payload) {
			json_t *ev = json_loadb(m->payload, m->len, 0, NULL);
			const char *subject = json_string_value(json_object_get(ev, "subject"));
			if (ev && subject && strncmp(subject, prefix, strlen(prefix)) == 0) {
				ck_assert_ptr_nonnull(m->key);
				ck_assert_int_eq(m->key_len, strlen(subject));
				ck_assert(memcmp(m->key, subject, m->key_len) == 0);
				json_array_append(s->events, ev);
			}
			json_decref(ev);
		}
		rd_kafka_message_destroy(m);
	}
}

static json_t *events_of(struct seen *s, const char *subject)
{
	json_t *out = json_array();
	size_t i;
	json_t *ev;
	json_array_foreach(s->events, i, ev)
	{
		if (strcmp(json_string_value(json_object_get(ev, "subject")), subject) == 0)
			json_array_append(out, ev);
	}
	return out;
}

/* Checks event i: type and CloudEvents attributes; returns its data (borrowed). */
static json_t *expect_event(json_t *list, size_t i, const char *type)
{
	json_t *ev = json_array_get(list, i);
	ck_assert_msg(ev != NULL, "event %zu (%s) missing", i, type);
	char *dump = json_dumps(ev, JSON_COMPACT);
	ck_assert_msg(strcmp(json_string_value(json_object_get(ev, "type")), type) == 0, "event %zu: want %s, got %s",
		      i, type, dump);
	free(dump);
	ck_assert_str_eq(json_string_value(json_object_get(ev, "specversion")), "1.0");
	ck_assert_str_eq(json_string_value(json_object_get(ev, "source")), "lathe/data-registry");
	ck_assert_ptr_nonnull(json_string_value(json_object_get(ev, "id")));
	return json_object_get(ev, "data");
}

START_TEST(each_change_gives_exactly_its_events_in_order)
{
	unsigned char b[4];
	ck_assert_int_eq(getrandom(b, sizeof b, 0), (ssize_t)sizeof b);
	snprintf(prefix, sizeof prefix, "ev%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
	struct th_daemon *d = th_daemon_start("data-registry", NULL, NULL);
	char *a = th_fmt("%s-a", prefix), *bname = th_fmt("%s-b", prefix);

	char *body = th_fmt("{\"name\":\"%s\"}", a);
	struct th_response r = th_call(d, "POST", "/v1/datasets", body);
	ck_assert_int_eq(r.status, 201);
	th_response_free(&r);
	free(body);
	const struct th_data_file one[] = {{"x.csv", "x\n1\n"}}, two[] = {{"x.csv", "x\n2\n"}};
	json_t *m1 = th_data_manifest(d, one, 1, true), *m2 = th_data_manifest(d, two, 1, true);
	r = th_data_commit(d, a, m1);
	ck_assert_int_eq(r.status, 201);
	char id1[65];
	snprintf(id1, sizeof id1, "%s", json_string_value(json_object_get(json_object_get(r.json, "version"), "id")));
	th_response_free(&r);
	r = th_data_commit(d, a, m1); /* the same files: no event */
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);
	r = th_data_commit(d, a, m2);
	ck_assert_int_eq(r.status, 201);
	th_response_free(&r);
	body = th_fmt("/v1/datasets/%s?force=true", a);
	r = th_call(d, "DELETE", body, NULL);
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);
	free(body);
	r = th_data_commit(d, bname, m1); /* creates its dataset */
	ck_assert_int_eq(r.status, 201);
	th_response_free(&r);
	body = th_fmt("{\"name\":\"%s\"}", bname);
	r = th_call(d, "POST", "/v1/datasets", body); /* exists: no event */
	ck_assert_int_eq(r.status, 400);
	th_response_free(&r);
	free(body);

	struct seen s;
	consumer_open(&s);
	wait_for(&s, 6, 20000);
	json_t *ea = events_of(&s, a), *eb = events_of(&s, bname);
	ck_assert_uint_eq(json_array_size(ea), 4);
	ck_assert_uint_eq(json_array_size(eb), 2);
	json_t *data = expect_event(ea, 0, "lathe.dataset.created");
	ck_assert_str_eq(json_string_value(json_object_get(data, "name")), a);
	data = expect_event(ea, 1, "lathe.dataset.version.created");
	ck_assert_int_eq(json_integer_value(json_object_get(data, "number")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(data, "id")), id1);
	ck_assert_ptr_null(json_object_get(data, "parent"));
	ck_assert_str_eq(json_string_value(json_object_get(data, "format")), "csv");
	ck_assert_int_eq(json_integer_value(json_object_get(data, "file_count")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(data, "bytes")), 4);
	data = expect_event(ea, 2, "lathe.dataset.version.created");
	ck_assert_int_eq(json_integer_value(json_object_get(data, "number")), 2);
	ck_assert_str_eq(json_string_value(json_object_get(data, "parent")), id1);
	data = expect_event(ea, 3, "lathe.dataset.deleted");
	ck_assert_int_eq(json_integer_value(json_object_get(data, "versions")), 2);
	expect_event(eb, 0, "lathe.dataset.created");
	data = expect_event(eb, 1, "lathe.dataset.version.created");
	ck_assert_str_eq(json_string_value(json_object_get(data, "dataset")), bname);
	json_decref(ea);
	json_decref(eb);
	consumer_close(&s);
	json_decref(m1);
	json_decref(m2);
	free(a);
	free(bname);
	th_daemon_stop(d);
}
END_TEST

static Suite *events_suite(void)
{
	Suite *s = suite_create("data-registry-events");
	TCase *tc = tcase_create("outbox");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, each_change_gives_exactly_its_events_in_order);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	SRunner *sr = srunner_create(events_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Integration tests of the data registry's datasets.events: the real daemon against the
 * run's PostgreSQL and devkafka broker, read back with a plain librdkafka consumer
 * (th_kafka_*: every partition from the beginning). Each change gives exactly its
 * CloudEvents (type, source, subject = Kafka key = dataset name, data), in order per
 * dataset: an explicit create, a commit that creates its dataset (created, then
 * version.created), a second version naming its parent, a commit of the same files
 * again (nothing), a forced delete (counting its versions). Dataset names carry a
 * random prefix, since the topic is shared by the whole run. */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "harness_data.h"
#include "harness.h"
#include "harness_kafka.h"

#define TOPIC "datasets.events"

static const char *const profiler_off[] = {"PROFILE_POLL_MS=0", NULL};
static char prefix[24];

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
	/* versions stay PENDING: the profiler's own work is test_data_profiles' */
	struct th_daemon *d = th_daemon_start("data-registry", NULL, profiler_off);
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

	struct th_kafka s;
	th_kafka_open(&s, TOPIC, prefix);
	th_kafka_wait(&s, 6, 20000);
	json_t *ea = th_kafka_events_of(&s, a), *eb = th_kafka_events_of(&s, bname);
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
	th_kafka_close(&s);
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

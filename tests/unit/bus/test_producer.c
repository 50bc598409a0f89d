/* Tests of the producer (libs/bus/src/producer.c) against the real devkafka broker:
 * keyed messages are all delivered and read back in order per key (each key in one
 * partition); bus_ping and bus_producer_learn_topic answer (and fail on no broker); small batches keep the order; every
 * accepted message gets exactly one delivery report, also when the broker is unreachable or the producer is freed with
 * messages queued. */
#include <check.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "bus_test.h"

#define N_MESSAGES 1000
#define N_KEYS     10

struct reports {
	pthread_mutex_t mu;
	int delivered, failed;
	char last_error[256];
};

static void on_report(void *opaque, bool delivered, const char *error)
{
	struct reports *r = opaque;
	pthread_mutex_lock(&r->mu);
	if (delivered) {
		r->delivered++;
	} else {
		r->failed++;
		snprintf(r->last_error, sizeof r->last_error, "%s", error ? error : "(null)");
	}
	pthread_mutex_unlock(&r->mu);
}

static struct reports snapshot(struct reports *r)
{
	pthread_mutex_lock(&r->mu);
	struct reports copy = *r;
	pthread_mutex_unlock(&r->mu);
	return copy;
}

static void teardown(void)
{
	ck_assert_int_eq(rd_kafka_wait_destroyed(5000), 0); /* every librdkafka handle is gone */
}

START_TEST(test_keyed_messages_delivered_and_ordered_per_key)
{
	char topic[96];
	bt_unique(topic, sizeof topic, "bus.test.producer");
	struct bus_config cfg = bt_config();
	struct bus_producer *p = NULL;
	struct core_error err = {{0}};
	cfg.batch_bytes = 4096; /* small batches: many produce requests, the order still kept */
	ck_assert_msg(bus_producer_new(&cfg, &p, &err) == CORE_OK, "%s", err.message);
	/* a topic nobody has named yet: asking about it creates it, before any message (a
	 * cluster may first answer "not there yet": ask again, as the inference API does) */
	bool learnt = false;
	for (int i = 0; i < 20 && !learnt; i++)
		learnt = bus_producer_learn_topic(p, topic, 250);
	ck_assert(learnt);
	struct reports rep = {.mu = PTHREAD_MUTEX_INITIALIZER};
	for (int i = 0; i < N_MESSAGES; i++) {
		char key[16], payload[32];
		snprintf(key, sizeof key, "k%d", i % N_KEYS);
		snprintf(payload, sizeof payload, "%s:%d", key, i / N_KEYS);
		ck_assert_msg(bus_produce(p, topic, key, payload, strlen(payload), on_report, &rep, &err) == CORE_OK,
			      "%s", err.message);
	}
	ck_assert_int_eq(bus_producer_flush(p, 30000), 0);
	struct reports got = snapshot(&rep);
	ck_assert_msg(got.delivered == N_MESSAGES && got.failed == 0, "delivered %d, failed %d (%s)", got.delivered,
		      got.failed, got.last_error);
	ck_assert(bus_ping(p, 5000));
	bus_producer_free(p);

	struct bt_collector col = {0};
	bt_consume(topic, N_MESSAGES, 30000, 300, &col);
	ck_assert_uint_eq(col.n, N_MESSAGES);
	int next[N_KEYS] = {0};
	int32_t partition[N_KEYS];
	for (int k = 0; k < N_KEYS; k++)
		partition[k] = -1;
	for (size_t i = 0; i < col.n; i++) {
		const struct bt_record *r = &col.recs[i];
		int k = -1, seq = -1;
		ck_assert_msg(r->key && sscanf(r->key, "k%d", &k) == 1 && k >= 0 && k < N_KEYS, "bad key");
		ck_assert_msg(sscanf(r->payload, "k%*d:%d", &seq) == 1, "bad payload %s", r->payload);
		ck_assert_msg(seq == next[k], "key %s: got %d, expected %d", r->key, seq, next[k]);
		next[k]++;
		if (partition[k] < 0)
			partition[k] = r->partition;
		ck_assert_int_eq(r->partition, partition[k]); /* one key, one partition */
	}
	bt_collector_free(&col);
}
END_TEST

START_TEST(test_ping_unreachable_is_false)
{
	struct bus_config cfg = bt_config();
	cfg.brokers = "127.0.0.1:1";
	struct bus_producer *p = NULL;
	ck_assert_int_eq(bus_producer_new(&cfg, &p, NULL), CORE_OK);
	ck_assert(!bus_ping(p, 500));
	ck_assert(!bus_producer_learn_topic(p, "bus.test.unreachable", 300));
	bus_producer_free(p);
}
END_TEST

START_TEST(test_unreachable_broker_fails_after_timeout)
{
	struct bus_config cfg = bt_config();
	cfg.brokers = "127.0.0.1:1";
	cfg.message_timeout_ms = 1000;
	struct bus_producer *p = NULL;
	ck_assert_int_eq(bus_producer_new(&cfg, &p, NULL), CORE_OK);
	struct reports rep = {.mu = PTHREAD_MUTEX_INITIALIZER};
	ck_assert_int_eq(bus_produce(p, "bus.test.nowhere", "k", "x", 1, on_report, &rep, NULL), CORE_OK);
	ck_assert_int_eq(bus_produce(p, "bus.test.nowhere", NULL, "y", 1, NULL, NULL, NULL), CORE_OK);
	ck_assert_int_eq(bus_producer_flush(p, 10000), 0);
	struct reports got = snapshot(&rep);
	ck_assert_int_eq(got.delivered, 0);
	ck_assert_int_eq(got.failed, 1);
	ck_assert_msg(strstr(got.last_error, "timed out") != NULL, "error: %s", got.last_error);
	bus_producer_free(p);
}
END_TEST

START_TEST(test_free_fails_what_is_queued)
{
	struct bus_config cfg = bt_config();
	cfg.brokers = "127.0.0.1:1";
	cfg.message_timeout_ms = 60000;
	struct bus_producer *p = NULL;
	ck_assert_int_eq(bus_producer_new(&cfg, &p, NULL), CORE_OK);
	struct reports rep = {.mu = PTHREAD_MUTEX_INITIALIZER};
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(bus_produce(p, "bus.test.nowhere", "k", "x", 1, on_report, &rep, NULL), CORE_OK);
	ck_assert_int_eq(bus_producer_flush(p, 200), 3);
	bus_producer_free(p);
	struct reports got = snapshot(&rep);
	ck_assert_int_eq(got.delivered, 0);
	ck_assert_int_eq(got.failed, 3);
}
END_TEST

START_TEST(test_bad_arguments)
{
	struct bus_producer *p = (struct bus_producer *)&p;
	struct core_error err = {{0}};
	struct bus_config cfg = {0};
	ck_assert_int_eq(bus_producer_new(&cfg, &p, &err), CORE_EINVAL);
	ck_assert_ptr_eq(p, (struct bus_producer *)&p);
	cfg.brokers = "";
	ck_assert_int_eq(bus_producer_new(&cfg, &p, &err), CORE_EINVAL);

	cfg = bt_config();
	ck_assert_int_eq(bus_producer_new(&cfg, &p, &err), CORE_OK);
	ck_assert_int_eq(bus_produce(p, "", "k", "x", 1, NULL, NULL, &err), CORE_EINVAL);
	ck_assert_int_eq(bus_producer_flush(p, 0), 0); /* a refused message is not outstanding */
	bus_producer_free(p);
	bus_producer_free(NULL);
}
END_TEST

START_TEST(test_events_carry_the_cloudevents_content_type)
{
	char topic[96];
	bt_unique(topic, sizeof topic, "bus.test.content-type");
	struct bus_config cfg = bt_config();
	struct bus_producer *p = NULL;
	struct core_error err = {{0}};
	ck_assert_msg(bus_producer_new(&cfg, &p, &err) == CORE_OK, "%s", err.message);
	json_t *ev = bus_event_new("/bus-test", "lathe.test.typed", "k", json_pack("{s:i}", "n", 1));
	char *text = json_dumps(ev, JSON_COMPACT);
	const char *id = json_string_value(json_object_get(ev, "id"));
	ck_assert_msg(bus_produce_event(p, topic, "k", text, strlen(text), NULL, NULL, &err) == CORE_OK, "%s",
		      err.message);
	ck_assert_msg(bus_produce(p, topic, "k", "plain-bytes", 11, NULL, NULL, &err) == CORE_OK, "%s", err.message);
	ck_assert_int_eq(bus_producer_flush(p, 30000), 0);
	bus_producer_free(p);

	char *ct = bt_content_type_of(topic, id, 15000);
	ck_assert_str_eq(ct, "application/cloudevents+json");
	free(ct);
	ct = bt_content_type_of(topic, "plain-bytes", 15000);
	ck_assert_str_eq(ct, ""); /* bus_produce adds no header: the bytes may be anything */
	free(ct);
	free(text);
	json_decref(ev);
}
END_TEST

/* The deployment's librdkafka properties: good ones make a working client, bad ones
 * are refused up front, naming the property (and never echoing a secret). */
START_TEST(test_properties)
{
	struct core_error err = {{0}};
	const char *const good[] = {"client.id=x", "socket.keepalive.enable=true", NULL};
	ck_assert_msg(bus_properties_check(good, &err) == CORE_OK, "%s", err.message);
	ck_assert_int_eq(bus_properties_check(NULL, &err), CORE_OK);
	struct bus_config cfg = bt_config();
	cfg.properties = good;
	struct bus_producer *p = NULL;
	ck_assert_msg(bus_producer_new(&cfg, &p, &err) == CORE_OK, "%s", err.message);
	ck_assert(bus_ping(p, 5000));
	bus_producer_free(p);

	const char *const unknown[] = {"client.id=x", "no.such.property=1", NULL};
	ck_assert_int_eq(bus_properties_check(unknown, &err), CORE_EINVAL);
	ck_assert_msg(strstr(err.message, "no.such.property"), "%s", err.message);
	p = NULL;
	cfg.properties = unknown;
	ck_assert_int_eq(bus_producer_new(&cfg, &p, &err), CORE_EINVAL);
	ck_assert_ptr_null(p);

	const char *const bad_value[] = {"socket.keepalive.enable=maybe", NULL};
	ck_assert_int_eq(bus_properties_check(bad_value, &err), CORE_EINVAL);
	ck_assert_msg(strstr(err.message, "socket.keepalive.enable"), "%s", err.message);

	const char *const reserved[] = {"enable.idempotence=false", NULL};
	ck_assert_int_eq(bus_properties_check(reserved, &err), CORE_EINVAL);
	ck_assert_msg(strstr(err.message, "enable.idempotence cannot be set"), "%s", err.message);

	const char *const malformed[] = {"=x", NULL};
	ck_assert_int_eq(bus_properties_check(malformed, &err), CORE_EINVAL);

	/* checked when a client is made: the CA file must exist */
	const char *const no_ca[] = {"security.protocol=ssl", "ssl.ca.location=/nonexistent/ca.pem", NULL};
	ck_assert_int_eq(bus_properties_check(no_ca, &err), CORE_EINVAL);
	ck_assert_msg(strstr(err.message, "ssl.ca.location"), "%s", err.message);

	const char *const secret[] = {"sasl.password=hunter2", "sasl.mechanisms=NOPE",
				      "security.protocol=sasl_plaintext", NULL};
	ck_assert_int_eq(bus_properties_check(secret, &err), CORE_EINVAL);
	ck_assert_msg(strstr(err.message, "SASL mechanism: NOPE"), "%s", err.message);
	ck_assert_msg(!strstr(err.message, "hunter2"), "%s", err.message);
}
END_TEST

static Suite *producer_suite(void)
{
	Suite *s = suite_create("bus_producer");
	TCase *tc = tcase_create("delivery");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_keyed_messages_delivered_and_ordered_per_key);
	tcase_add_test(tc, test_events_carry_the_cloudevents_content_type);
	suite_add_tcase(s, tc);
	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_ping_unreachable_is_false);
	tcase_add_test(tc, test_unreachable_broker_fails_after_timeout);
	tcase_add_test(tc, test_free_fails_what_is_queued);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_properties);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(producer_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

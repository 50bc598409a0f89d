/* Helpers for the integration tests that read a service's events back from the run's
 * devkafka broker (prefix th_kafka_): a plain librdkafka consumer assigned to every
 * partition of one topic from the beginning (no group join to wait for), which keeps
 * the CloudEvents whose subject starts with the test's prefix (topics are shared by the
 * whole run) and checks that each one's Kafka key is its subject; and a topic's
 * partitions and message count. Built on harness.h. */
#ifndef LATHE_TEST_KAFKA_H
#define LATHE_TEST_KAFKA_H
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

struct th_kafka {
	json_t *events; /* our events, in arrival order */
	rd_kafka_t *rk;
	char prefix[64];
};

/* Opens a consumer of topic for the events whose subject starts with prefix (also the
 * consumer's group id); fails the test when the topic has no partitions after ~10 s. */
void th_kafka_open(struct th_kafka *k, const char *topic, const char *prefix);

void th_kafka_close(struct th_kafka *k);

/* Assigns rk (a consumer) every partition of topic from the beginning, once the topic
 * has partitions (naming it creates it on devkafka); fails the test after ~10 s. */
void th_kafka_assign_all(rd_kafka_t *rk, const char *topic);

/* How many partitions topic has, once it has any (as th_kafka_assign_all waits); rk may
 * be any client. */
int th_kafka_partitions(rd_kafka_t *rk, const char *topic);

/* The messages topic holds now: its high minus low watermark, summed over partitions. */
int64_t th_kafka_messages(rd_kafka_t *rk, const char *topic);

/* Polls until k holds want events, then 1 s more (to catch extras), or until
 * timeout_ms has passed. */
void th_kafka_wait(struct th_kafka *k, size_t want, int timeout_ms);

/* The events about one subject, in arrival order (a new array; the caller decrefs). */
json_t *th_kafka_events_of(const struct th_kafka *k, const char *subject);
#endif

/* The event-reading helpers of the integration tests (face: harness_kafka.h): one
 * librdkafka consumer per test, assigned to every partition of the topic from the
 * beginning, collecting the test's own CloudEvents. The model registry's and the data
 * registry's event tests share it. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"
#include "harness_kafka.h"

void th_kafka_open(struct th_kafka *k, const char *topic, const char *prefix)
{
	char errstr[512];
	snprintf(k->prefix, sizeof k->prefix, "%s", prefix);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	ck_assert_int_eq(
		rd_kafka_conf_set(conf, "bootstrap.servers", th_env("LATHE_TEST_KAFKA"), errstr, sizeof errstr),
		RD_KAFKA_CONF_OK);
	ck_assert_int_eq(rd_kafka_conf_set(conf, "group.id", prefix, errstr, sizeof errstr), RD_KAFKA_CONF_OK);
	ck_assert_int_eq(rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr),
			 RD_KAFKA_CONF_OK);
	ck_assert_int_eq(rd_kafka_conf_set(conf, "fetch.wait.max.ms", "20", errstr, sizeof errstr), RD_KAFKA_CONF_OK);
	k->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
	ck_assert_msg(k->rk != NULL, "%s", errstr);
	k->events = json_array();
	th_kafka_assign_all(k->rk, topic);
}

int th_kafka_partitions(rd_kafka_t *rk, const char *topic)
{
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
	ck_assert_msg(partitions > 0, "topic %s has no partitions after ~10 s", topic);
	return partitions;
}

int64_t th_kafka_messages(rd_kafka_t *rk, const char *topic)
{
	int partitions = th_kafka_partitions(rk, topic);
	int64_t total = 0;
	for (int p = 0; p < partitions; p++) {
		int64_t low = 0, high = 0;
		rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(rk, topic, p, &low, &high, 5000);
		ck_assert_msg(e == RD_KAFKA_RESP_ERR_NO_ERROR, "watermarks of %s/%d: %s", topic, p,
			      rd_kafka_err2str(e));
		total += high - low;
	}
	return total;
}

void th_kafka_assign_all(rd_kafka_t *rk, const char *topic)
{
	int partitions = th_kafka_partitions(rk, topic);
	rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions);
	for (int p = 0; p < partitions; p++)
		rd_kafka_topic_partition_list_add(list, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
	ck_assert_int_eq(rd_kafka_assign(rk, list), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_topic_partition_list_destroy(list);
}

void th_kafka_close(struct th_kafka *k)
{
	rd_kafka_assign(k->rk, NULL);
	rd_kafka_destroy(k->rk);
	json_decref(k->events);
	k->rk = NULL;
	k->events = NULL;
}

void th_kafka_wait(struct th_kafka *k, size_t want, int timeout_ms)
{
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int extra_ms = -1;
	size_t plen = strlen(k->prefix);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long waited = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (json_array_size(k->events) >= want && extra_ms < 0)
			extra_ms = (int)waited + 1000;
		if ((extra_ms >= 0 && waited >= extra_ms) || waited >= timeout_ms)
			return;
		rd_kafka_message_t *m = rd_kafka_consumer_poll(k->rk, 100);
		if (!m)
			continue;
		if (!m->err && m->payload) {
			json_t *ev = json_loadb(m->payload, m->len, 0, NULL);
			const char *subject = json_string_value(json_object_get(ev, "subject"));
			if (ev && subject && strncmp(subject, k->prefix, plen) == 0) {
				/* the Kafka key is the subject */
				ck_assert_ptr_nonnull(m->key);
				ck_assert_int_eq(m->key_len, strlen(subject));
				ck_assert(memcmp(m->key, subject, m->key_len) == 0);
				json_array_append(k->events, ev);
			}
			json_decref(ev);
		}
		rd_kafka_message_destroy(m);
	}
}

json_t *th_kafka_events_of(const struct th_kafka *k, const char *subject)
{
	json_t *out = json_array();
	size_t i;
	json_t *ev;
	json_array_foreach(k->events, i, ev)
	{
		if (strcmp(json_string_value(json_object_get(ev, "subject")), subject) == 0)
			json_array_append(out, ev);
	}
	return out;
}

/* Helpers shared by the bus test programs (header-only: each test file is its own
 * program). They run against the real devkafka broker of tools/run-tests.sh
 * (LATHE_TEST_KAFKA) with the timings devkafka wants: session.timeout.ms=4000 (the first
 * assignment of a group takes ~3 s, a rebalance session - 1 s = ~3 s instead of the ~5 s
 * of 6000; devkafka forms groups from 4000 up, docs/devkafka.md) and a short fetch wait. Tests that
 * only read what was published (not the group's behaviour) read with assign(), which
 * has no join to wait for (bt_reader_open).
 * Every test uses its own topic and group names (bt_unique), so tests sharing the
 * broker never see each other's messages or group timers. */
#ifndef BUS_TEST_H
#define BUS_TEST_H
#include <check.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bus/bus.h"
#include "core/alloc.h"
#include "core/id.h"
#include "core/time.h"
#include "harness.h"
#include "harness_kafka.h"

/* Client settings for tests against devkafka. */
static inline struct bus_config bt_config(void)
{
	return (struct bus_config){
		.brokers = th_env("LATHE_TEST_KAFKA"),
		.client_id = "bus-test",
		.session_timeout_ms = 4000,
		.fetch_wait_max_ms = 20,
		.message_timeout_ms = 10000,
	};
}

/* Writes "<prefix>.<32 hex>" into out. */
static inline void bt_unique(char *out, size_t n, const char *prefix)
{
	char id[CORE_ID_HEX_LEN + 1];
	core_id_uuid_hex(id);
	snprintf(out, n, "%s.%s", prefix, id);
}

/* A plain librdkafka consumer reading every partition of topic from the beginning
 * (assign(), no group join: devkafka's 3 s first assignment is not waited for). It
 * bypasses bus_consumer, so it sees records as any other Kafka client (a CloudEvents
 * SDK) would. Naming the topic creates it when it does not exist yet (4 partitions). */
static inline rd_kafka_t *bt_reader_open(const char *topic)
{
	char why[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	ck_assert_int_eq(rd_kafka_conf_set(conf, "bootstrap.servers", th_env("LATHE_TEST_KAFKA"), why, sizeof why),
			 RD_KAFKA_CONF_OK);
	ck_assert_int_eq(rd_kafka_conf_set(conf, "group.id", "bus-test-raw", why, sizeof why), RD_KAFKA_CONF_OK);
	ck_assert_int_eq(rd_kafka_conf_set(conf, "fetch.wait.max.ms", "20", why, sizeof why), RD_KAFKA_CONF_OK);
	ck_assert_int_eq(rd_kafka_conf_set(conf, "reconnect.backoff.max.ms", "1000", why, sizeof why),
			 RD_KAFKA_CONF_OK);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof why);
	ck_assert_msg(rk != NULL, "%s", why);
	th_kafka_assign_all(rk, topic);
	return rk;
}

static inline void bt_reader_close(rd_kafka_t *rk)
{
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
}

/* Reads topic from the beginning (bt_reader_open) until a record whose payload contains
 * needle arrives (at most timeout_ms), and returns its content-type header, malloc'd;
 * "" when the record has none. Fails the test when no such record arrives. */
static inline char *bt_content_type_of(const char *topic, const char *needle, int timeout_ms)
{
	rd_kafka_t *rk = bt_reader_open(topic);
	char *found = NULL;
	int64_t end = core_now_ms() + timeout_ms;
	while (!found && core_now_ms() < end) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (!m->err && m->payload && memmem(m->payload, m->len, needle, strlen(needle))) {
			rd_kafka_headers_t *hdrs = NULL;
			const void *v = NULL;
			size_t n = 0;
			if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
			    rd_kafka_header_get_last(hdrs, "content-type", &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR)
				found = core_xstrndup(v, n);
			else
				found = core_xstrndup("", 0);
		}
		rd_kafka_message_destroy(m);
	}
	bt_reader_close(rk);
	ck_assert_msg(found != NULL, "no record holding %s in %s", needle, topic);
	return found;
}

/* Messages gathered by a consumer, in the order handed out. */
struct bt_record {
	char *key;     /* NUL-terminated copy, NULL for none */
	char *payload; /* NUL-terminated copy */
	int32_t partition;
	int64_t offset;
};

struct bt_collector {
	struct bt_record *recs;
	size_t n, cap;
	const char *stop_payload; /* when not NULL: stop once a payload contains it */
	bool stop_seen;
};

static inline enum bus_handled bt_collect(const struct bus_message *m, void *cls)
{
	struct bt_collector *c = cls;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->recs = core_xrealloc(c->recs, c->cap * sizeof *c->recs);
	}
	struct bt_record *r = &c->recs[c->n++];
	r->key = m->key ? core_xstrndup(m->key, m->key_len) : NULL;
	r->payload = core_xstrndup(m->payload, m->len);
	r->partition = m->partition;
	r->offset = m->offset;
	if (c->stop_payload && strstr(r->payload, c->stop_payload))
		c->stop_seen = true;
	return BUS_HANDLED;
}

static inline void bt_collector_free(struct bt_collector *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->recs[i].key);
		free(c->recs[i].payload);
	}
	free(c->recs);
	memset(c, 0, sizeof *c);
}

/* Reads topic from the beginning (bt_reader_open: no group, so no join to wait out)
 * into out until want messages (or the stop payload) arrived or timeout_ms passed;
 * polls a little longer (linger_ms) to catch extras. Messages come in offset order per
 * partition, as a group member gets them. */
static inline void bt_consume(const char *topic, size_t want, int timeout_ms, int linger_ms, struct bt_collector *out)
{
	rd_kafka_t *rk = bt_reader_open(topic);
	int64_t end = core_now_ms() + timeout_ms;
	bool lingering = false;
	for (;;) {
		if (!lingering && (core_now_ms() >= end || out->n >= want || out->stop_seen)) {
			lingering = true;
			end = core_now_ms() + linger_ms;
		}
		if (lingering && core_now_ms() >= end)
			break;
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, lingering ? 50 : 100);
		if (!m)
			continue;
		if (!m->err) {
			struct bus_message bm = {.topic = topic,
						 .partition = m->partition,
						 .offset = m->offset,
						 .key = m->key,
						 .key_len = m->key_len,
						 .payload = m->payload ? m->payload : "",
						 .len = m->payload ? m->len : 0};
			bt_collect(&bm, out);
		}
		rd_kafka_message_destroy(m);
	}
	bt_reader_close(rk);
}
#endif

/* Tests of the transactional outbox (libs/bus/src/outbox.c, relay.c) against the real
 * PostgreSQL (a fresh database per test, schema migrated with bus_outbox_migrate) and
 * the real devkafka broker:
 *   outage   an event written while the broker is down stays in the outbox while it is
 *            down, and arrives once the broker is back (the outbox then empties);
 *   order    200 events over 5 keys arrive complete and in order per key, with two
 *            relays (two replicas) competing for the same schema;
 *   rollback an event written by a transaction that rolls back never appears; the
 *            committed one carries content-type: application/cloudevents+json;
 *   limits   events too large to publish are refused at write time;
 *   database the relay survives an unreachable database and still stops promptly.
 * The outage test stops the shared broker ("down 1"): the TCase's unchecked teardown,
 * which runs in the test runner's own process even when the test crashed, brings it
 * back ("up 1") for the tests that follow. */
#include <check.h>
#include <librdkafka/rdkafka.h>
#include <stdlib.h>
#include <string.h>
#include "bus_test.h"
#include "db/db.h"
#include "metrics/metrics.h"

#define SCHEMA "bustest"

static char *db_url;
static struct db_pool *pool;

static void setup(void)
{
	db_url = th_db_create();
	struct db_pool_config pc = {.url = db_url, .schema = SCHEMA, .size = 6, .application_name = "bus-test"};
	struct core_error err = {{0}};
	ck_assert_msg(db_pool_open(&pc, &pool, &err) == CORE_OK, "%s", err.message);
	ck_assert_msg(bus_outbox_migrate(pool, SCHEMA, &err) == CORE_OK, "%s", err.message);
	ck_assert_msg(bus_outbox_migrate(pool, SCHEMA, &err) == CORE_OK, "again: %s", err.message);
}

static void teardown(void)
{
	db_pool_close(pool);
	pool = NULL;
	free(db_url);
	db_url = NULL;
	ck_assert_int_eq(rd_kafka_wait_destroyed(5000), 0);
}

static void broker_up(void)
{
	th_kafka_ctl("up 1");
	th_kafka_ctl("clear 0");
}

static int64_t outbox_rows(void)
{
	static const struct db_stmt count = {"bus_test_outbox_count", "SELECT count(*) FROM outbox", 0};
	struct core_error err = {{0}};
	struct db_conn *c = db_acquire(pool, &err);
	ck_assert_msg(c != NULL, "%s", err.message);
	PGresult *res = NULL;
	ck_assert_msg(db_exec(c, &count, NULL, &res, &err) == 1, "%s", err.message);
	int64_t n = -1;
	ck_assert_int_eq(db_get_int64(res, 0, 0, &n, &err), CORE_OK);
	PQclear(res);
	db_release(c);
	return n;
}

/* Waits up to timeout_ms for the outbox to hold want rows; returns the last count. */
static int64_t wait_rows(int64_t want, int timeout_ms)
{
	int64_t end = core_now_ms() + timeout_ms, n;
	while ((n = outbox_rows()) != want && core_now_ms() < end)
		core_sleep_ms(50);
	return n;
}

struct write {
	const char *topic;
	const char *key;
	json_t *event;
	bool roll_back; /* fail the transaction after the write */
	struct core_error err;
};

static int write_tx(struct db_conn *c, void *cls)
{
	struct write *w = cls;
	int rc = bus_outbox_write(c, w->topic, w->key, w->event, &w->err);
	if (rc < 0)
		return rc;
	return w->roll_back ? DB_HARD_ERROR : rc;
}

/* Writes event (borrowed) through the outbox in its own transaction; returns
 * db_run_tx's result. */
static int write_event(const char *topic, const char *key, json_t *event, bool roll_back, struct core_error *err)
{
	struct write w = {.topic = topic, .key = key, .event = event, .roll_back = roll_back};
	int rc = db_run_tx(pool, "bus_test_write", DB_READ_COMMITTED, write_tx, &w, err);
	if (rc < 0 && err && w.err.message[0])
		*err = w.err; /* the outbox's own reason, rather than db_run_tx's summary */
	return rc;
}

static struct bus_producer *new_producer(int message_timeout_ms)
{
	struct bus_config cfg = bt_config();
	cfg.message_timeout_ms = message_timeout_ms;
	struct bus_producer *p = NULL;
	struct core_error err = {{0}};
	ck_assert_msg(bus_producer_new(&cfg, &p, &err) == CORE_OK, "%s", err.message);
	return p;
}

static struct bus_relay *new_relay(struct bus_producer *p, int batch, struct metrics_registry *reg)
{
	struct bus_relay_config rc = {.poll_ms = 50, .batch = batch, .metrics = reg};
	struct bus_relay *r = NULL;
	struct core_error err = {{0}};
	ck_assert_msg(bus_relay_start(pool, p, &rc, &r, &err) == CORE_OK, "%s", err.message);
	return r;
}

/* The value of an unlabelled series in a rendering, or -1. */
static double metric_value(struct metrics_registry *reg, const char *name)
{
	char *text = metrics_render(reg, NULL);
	ck_assert_ptr_nonnull(text);
	char needle[128];
	snprintf(needle, sizeof needle, "\n%s ", name);
	const char *at = strstr(text, needle);
	double v = -1;
	if (at)
		v = strtod(at + strlen(needle), NULL);
	free(text);
	return v;
}

static char *event_id(const json_t *ev)
{
	return core_xstrdup(json_string_value(json_object_get(ev, "id")));
}

START_TEST(test_event_written_while_broker_down_arrives_after_up)
{
	char topic[96];
	bt_unique(topic, sizeof topic, "bus.test.outage");
	th_kafka_ctl("down 1");
	struct metrics_registry *reg = metrics_registry_new();
	struct bus_producer *p = new_producer(3000); /* failures come quickly and are retried */
	struct bus_relay *r = new_relay(p, 0, reg);
	ck_assert(!bus_ping(p, 300));

	json_t *ev = bus_event_new("/bus-test", "lathe.test.outage", "e1", json_pack("{s:s}", "what", "outage"));
	char *id = event_id(ev);
	struct core_error err = {{0}};
	ck_assert_msg(write_event(topic, "e1", ev, false, &err) == 1, "%s", err.message);
	json_decref(ev);

	/* at least one round fails (3 s timeout + librdkafka's 1 s scan) */
	core_sleep_ms(4500);
	ck_assert_int_eq(outbox_rows(), 1);
	ck_assert(metric_value(reg, "lathe_outbox_backlog") == 1);
	ck_assert(metric_value(reg, "lathe_outbox_published_total") == 0);

	th_kafka_ctl("up 1");
	struct bt_collector col = {0};
	bt_consume(topic, 1, 30000, 0, &col);
	ck_assert_uint_ge(col.n, 1);
	json_t *got = NULL;
	ck_assert_msg(bus_event_parse(col.recs[0].payload, strlen(col.recs[0].payload), &got, &err) == CORE_OK, "%s",
		      err.message);
	ck_assert_str_eq(json_string_value(json_object_get(got, "id")), id);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(got, "data"), "what")), "outage");
	ck_assert_str_eq(col.recs[0].key, "e1");
	json_decref(got);
	bt_collector_free(&col);

	ck_assert_int_eq(wait_rows(0, 10000), 0);
	bus_relay_stop(r);
	ck_assert(metric_value(reg, "lathe_outbox_published_total") >= 1);
	bus_producer_free(p);
	metrics_registry_free(reg);
	free(id);
}
END_TEST

/* Keeps, for each seq, only its last copy, and checks the result is 0..n-1 in order:
 * the relay's ordering guarantee after failures (duplicates allowed). Returns how many
 * copies arrived in all. */
static size_t check_last_copies_in_order(const struct bt_collector *col, int n)
{
	int *last_at = core_xcalloc((size_t)n, sizeof *last_at);
	for (int s = 0; s < n; s++)
		last_at[s] = -1;
	for (size_t i = 0; i < col->n; i++) {
		json_t *ev = NULL;
		ck_assert_int_eq(bus_event_parse(col->recs[i].payload, strlen(col->recs[i].payload), &ev, NULL),
				 CORE_OK);
		int seq = (int)json_integer_value(json_object_get(json_object_get(ev, "data"), "seq"));
		ck_assert(seq >= 0 && seq < n);
		last_at[seq] = (int)i;
		json_decref(ev);
	}
	for (int s = 0; s < n; s++) {
		ck_assert_msg(last_at[s] >= 0, "event %d never arrived", s);
		if (s > 0)
			ck_assert_msg(last_at[s] > last_at[s - 1], "event %d's last copy came before %d's", s, s - 1);
	}
	free(last_at);
	return col->n;
}

START_TEST(test_refused_produce_is_retried_in_order)
{
	char topic[96];
	bt_unique(topic, sizeof topic, "bus.test.refused");
	struct bus_producer *p = new_producer(10000);
	/* warm up: the topic exists and the producer knows its leader */
	ck_assert_int_eq(bus_produce(p, topic, "warm", "{}", 2, NULL, NULL, NULL), CORE_OK);
	ck_assert_int_eq(bus_producer_flush(p, 10000), 0);
	th_kafka_ctl("err 0 1 29"); /* the next Produce request fails: TOPIC_AUTHORIZATION_FAILED */
	for (int i = 0; i < 10; i++) {
		json_t *ev = bus_event_new("/bus-test", "lathe.test.refused", "k", json_pack("{s:i}", "seq", i));
		struct core_error err = {{0}};
		ck_assert_msg(write_event(topic, "k", ev, false, &err) == 1, "%s", err.message);
		json_decref(ev);
	}
	struct bus_relay *r = new_relay(p, 0, NULL);
	ck_assert_int_eq(wait_rows(0, 20000), 0);
	bus_relay_stop(r);
	ck_assert(bus_ping(p, 2000)); /* the producer is still usable */
	bus_producer_free(p);

	struct bt_collector col = {0};
	bt_consume(topic, 11, 30000, 500, &col);
	ck_assert_uint_ge(col.n, 11);
	/* Drop the warm-up message. Its key may hash to another partition than "k", and
	 * partitions are read in no set order, so it need not come first. */
	size_t warm = col.n;
	for (size_t i = 0; i < col.n && warm == col.n; i++)
		if (strcmp(col.recs[i].key, "warm") == 0)
			warm = i;
	ck_assert_msg(warm < col.n, "the warm-up message never arrived");
	free(col.recs[warm].key);
	free(col.recs[warm].payload);
	memmove(col.recs + warm, col.recs + warm + 1, (col.n - warm - 1) * sizeof *col.recs);
	col.n--;
	check_last_copies_in_order(&col, 10);
	bt_collector_free(&col);
}
END_TEST

#define N_EVENTS 200
#define N_KEYS   5

START_TEST(test_per_key_order_with_two_relays)
{
	char topic[96];
	bt_unique(topic, sizeof topic, "bus.test.order");
	struct bus_producer *p1 = new_producer(10000), *p2 = new_producer(10000);
	struct bus_relay *r1 = new_relay(p1, 16, NULL), *r2 = new_relay(p2, 16, NULL);
	for (int i = 0; i < N_EVENTS; i++) {
		char key[16];
		snprintf(key, sizeof key, "key-%d", i % N_KEYS);
		json_t *ev = bus_event_new("/bus-test", "lathe.test.order", key, json_pack("{s:i}", "seq", i / N_KEYS));
		struct core_error err = {{0}};
		ck_assert_msg(write_event(topic, key, ev, false, &err) == 1, "%s", err.message);
		json_decref(ev);
	}
	struct bt_collector col = {0};
	bt_consume(topic, N_EVENTS, 30000, 500, &col);
	ck_assert_uint_eq(col.n, N_EVENTS);
	int next[N_KEYS] = {0};
	for (size_t i = 0; i < col.n; i++) {
		json_t *ev = NULL;
		ck_assert_int_eq(bus_event_parse(col.recs[i].payload, strlen(col.recs[i].payload), &ev, NULL), CORE_OK);
		int k = -1;
		ck_assert_int_eq(sscanf(col.recs[i].key, "key-%d", &k), 1);
		ck_assert_str_eq(json_string_value(json_object_get(ev, "subject")), col.recs[i].key);
		int seq = (int)json_integer_value(json_object_get(json_object_get(ev, "data"), "seq"));
		ck_assert_msg(seq == next[k], "%s: seq %d, expected %d", col.recs[i].key, seq, next[k]);
		next[k]++;
		json_decref(ev);
	}
	bt_collector_free(&col);
	ck_assert_int_eq(wait_rows(0, 10000), 0);
	bus_relay_stop(r1);
	bus_relay_stop(r2);
	bus_producer_free(p1);
	bus_producer_free(p2);
}
END_TEST

START_TEST(test_rolled_back_event_never_appears)
{
	char topic[96];
	bt_unique(topic, sizeof topic, "bus.test.rollback");
	struct bus_producer *p = new_producer(10000);
	struct bus_relay *r = new_relay(p, 0, NULL);

	json_t *a = bus_event_new("/bus-test", "lathe.test.rolled-back", "x", NULL);
	char *a_id = event_id(a);
	struct core_error err = {{0}};
	ck_assert_int_eq(write_event(topic, "x", a, true, &err), DB_HARD_ERROR);
	json_decref(a);
	ck_assert_int_eq(outbox_rows(), 0);

	/* B follows on the same key, so A would have come before it */
	json_t *b = bus_event_new("/bus-test", "lathe.test.committed", "x", NULL);
	char *b_id = event_id(b);
	ck_assert_msg(write_event(topic, "x", b, false, &err) == 1, "%s", err.message);
	json_decref(b);

	struct bt_collector col = {.stop_payload = b_id};
	bt_consume(topic, 1000, 30000, 300, &col);
	ck_assert_msg(col.stop_seen, "the committed event never arrived");
	for (size_t i = 0; i < col.n; i++)
		ck_assert_msg(!strstr(col.recs[i].payload, a_id), "the rolled-back event was published");
	bt_collector_free(&col);
	/* As a CloudEvents SDK reads it: structured mode, said by the record's header. */
	char *content_type = bt_content_type_of(topic, b_id, 10000);
	ck_assert_str_eq(content_type, "application/cloudevents+json");
	free(content_type);
	ck_assert_int_eq(wait_rows(0, 10000), 0);
	bus_relay_stop(r);
	bus_producer_free(p);
	free(a_id);
	free(b_id);
}
END_TEST

START_TEST(test_write_refuses_what_cannot_be_published)
{
	size_t n = 1000 * 1000;
	char *big = core_xmalloc(n + 1);
	memset(big, 'a', n);
	big[n] = '\0';
	json_t *ev = bus_event_new("/bus-test", "lathe.test.big", NULL, json_string(big));
	free(big);
	struct core_error err = {{0}};
	ck_assert_int_eq(write_event("bus.test.big", "k", ev, false, &err), DB_HARD_ERROR);
	ck_assert_msg(strstr(err.message, "more than") != NULL, "%s", err.message);
	json_decref(ev);

	ck_assert_int_eq(write_event("", "k", NULL, false, &err), DB_HARD_ERROR);
	ck_assert_int_eq(outbox_rows(), 0);
}
END_TEST

START_TEST(test_relay_survives_unreachable_database)
{
	struct db_pool_config pc = {.url = "postgresql://postgres@127.0.0.1:1/nowhere",
				    .schema = SCHEMA,
				    .size = 2,
				    .connect_timeout_s = 2};
	struct db_pool *dead = NULL;
	struct core_error err = {{0}};
	ck_assert_msg(db_pool_open(&pc, &dead, &err) == CORE_OK, "%s", err.message);
	struct bus_producer *p = new_producer(3000);
	struct bus_relay *r = NULL;
	struct bus_relay_config bad = {.batch = -1};
	ck_assert_int_eq(bus_relay_start(dead, p, &bad, &r, &err), CORE_EINVAL);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(bus_relay_start(dead, p, NULL, &r, &err), CORE_OK);
	core_sleep_ms(1500); /* several failed rounds, logged at warn */
	int64_t t0 = core_now_ms();
	bus_relay_stop(r);
	ck_assert_int_lt(core_now_ms() - t0, 3000);
	bus_producer_free(p);
	db_pool_close(dead);
	bus_relay_stop(NULL);
}
END_TEST

static Suite *outbox_suite(void)
{
	Suite *s = suite_create("bus_outbox");
	TCase *tc = tcase_create("outage");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_unchecked_fixture(tc, NULL, broker_up);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_event_written_while_broker_down_arrives_after_up);
	tcase_add_test(tc, test_refused_produce_is_retried_in_order);
	suite_add_tcase(s, tc);
	tc = tcase_create("order");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_per_key_order_with_two_relays);
	suite_add_tcase(s, tc);
	tc = tcase_create("rollback");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_rolled_back_event_never_appears);
	suite_add_tcase(s, tc);
	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_write_refuses_what_cannot_be_published);
	suite_add_tcase(s, tc);
	tc = tcase_create("database");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_relay_survives_unreachable_database);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(outbox_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

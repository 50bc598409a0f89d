/* Integration tests of the model registry's models.events: the real daemon against the
 * run's PostgreSQL and devkafka broker, read back with a plain librdkafka consumer
 * (th_kafka_*: every partition from the beginning, so no group join wait). They check
 * that each change that matters to serving gives exactly its CloudEvents (type,
 * subject = Kafka key = model name, data), in order per model, that changes which
 * change nothing give none, and that a change made while the broker is down is
 * answered 200 at once and its event arrives once the broker is back (the outbox).
 * Every test uses model names with a random prefix, since the topic is shared by the
 * whole run. The broker is always brought up again in an unchecked teardown. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include "harness.h"
#include "harness_kafka.h"

#define TOPIC "models.events"

static struct th_daemon *d;
static char prefix[24];

/* A fresh prefix for this test's model names (the topic outlives the test). */
static void new_prefix(void)
{
	unsigned char b[4];
	ck_assert_int_eq(getrandom(b, sizeof b, 0), (ssize_t)sizeof b);
	snprintf(prefix, sizeof prefix, "ev%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
}

static void start_registry(void)
{
	new_prefix();
	char tracker[64];
	snprintf(tracker, sizeof tracker, "TRACKER_URL=http://127.0.0.1:%u", th_free_port());
	/* The closed tracker port leaves the servability checks pending for the whole test
	 * (100 attempts, a minute apart at most): no servable_checked event joins the
	 * sequences counted below. */
	const char *env[] = {tracker, "TRACKER_TIMEOUT_MS=2000", "SERVABLE_CHECK_ATTEMPTS=100", NULL};
	d = th_daemon_start("model-registry", NULL, env);
}

static void call_ok(const char *method, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Sends a JSON body made from fmt (where each %s is the prefix) and expects 200. */
static void call_ok(const char *method, const char *path, const char *fmt, ...)
{
	char body[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(body, sizeof body, fmt, ap);
	va_end(ap);
	struct th_response r = th_call(d, method, path, body);
	ck_assert_msg(r.status == 200, "%s %s %s: %ld %s", method, path, body, r.status, r.body);
	th_response_free(&r);
}

static const char *data_str(json_t *ev, const char *key)
{
	json_t *v = json_object_get(json_object_get(ev, "data"), key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Checks one event: type, data.version and a third data field (key=value, may be NULL). */
static void expect_event(json_t *list, size_t i, const char *type, const char *version, const char *key,
			 const char *value)
{
	json_t *ev = json_array_get(list, i);
	ck_assert_msg(ev != NULL, "event %zu (%s) missing", i, type);
	char *dump = json_dumps(ev, JSON_COMPACT);
	ck_assert_msg(strcmp(json_string_value(json_object_get(ev, "type")), type) == 0, "event %zu: want %s, got %s",
		      i, type, dump);
	ck_assert_str_eq(json_string_value(json_object_get(ev, "specversion")), "1.0");
	ck_assert_str_eq(json_string_value(json_object_get(ev, "source")), "lathe/model-registry");
	ck_assert_str_eq(json_string_value(json_object_get(ev, "datacontenttype")), "application/json");
	ck_assert_ptr_nonnull(json_string_value(json_object_get(ev, "id")));
	ck_assert_ptr_nonnull(json_string_value(json_object_get(ev, "time")));
	if (version)
		ck_assert_msg(data_str(ev, "version") && strcmp(data_str(ev, "version"), version) == 0,
			      "event %zu: want version %s: %s", i, version, dump);
	if (key)
		ck_assert_msg(data_str(ev, key) && strcmp(data_str(ev, key), value) == 0, "event %zu: want %s=%s: %s",
			      i, key, value, dump);
	free(dump);
}

#define RM  "/api/2.0/mlflow/registered-models/"
#define MV  "/api/2.0/mlflow/model-versions/"
#define SRC "mlflow-artifacts:/1/0a1b2c3d4e5f60718293a4b5c6d7e8f9/artifacts/model"

START_TEST(each_change_gives_exactly_its_events_in_order)
{
	start_registry();
	call_ok("POST", RM "create", "{\"name\": \"%s-m\"}", prefix);
	call_ok("POST", MV "create", "{\"name\": \"%s-m\", \"source\": \"" SRC "\", \"run_id\": \"r1\"}", prefix);
	call_ok("POST", MV "create", "{\"name\": \"%s-m\", \"source\": \"" SRC "\"}", prefix);
	call_ok("POST", MV "transition-stage",
		"{\"name\": \"%s-m\", \"version\": \"1\", \"stage\": \"Production\", \"archive_existing_versions\": "
		"false}",
		prefix);
	call_ok("POST", MV "transition-stage",
		"{\"name\": \"%s-m\", \"version\": \"2\", \"stage\": \"production\", \"archive_existing_versions\": "
		"true}",
		prefix);
	/* no change, no event */
	call_ok("POST", MV "transition-stage",
		"{\"name\": \"%s-m\", \"version\": \"2\", \"stage\": \"Production\", \"archive_existing_versions\": "
		"false}",
		prefix);
	call_ok("POST", RM "alias", "{\"name\": \"%s-m\", \"alias\": \"champion\", \"version\": \"2\"}", prefix);
	call_ok("POST", RM "alias", "{\"name\": \"%s-m\", \"alias\": \"champion\", \"version\": \"2\"}", prefix);
	call_ok("POST", RM "alias", "{\"name\": \"%s-m\", \"alias\": \"champion\", \"version\": \"1\"}", prefix);
	call_ok("DELETE", RM "alias", "{\"name\": \"%s-m\", \"alias\": \"champion\"}", prefix);
	call_ok("DELETE", RM "alias", "{\"name\": \"%s-m\", \"alias\": \"champion\"}", prefix);
	/* tags and descriptions do not matter to serving */
	call_ok("POST", RM "set-tag", "{\"name\": \"%s-m\", \"key\": \"k\", \"value\": \"v\"}", prefix);
	call_ok("PATCH", MV "update", "{\"name\": \"%s-m\", \"version\": \"1\", \"description\": \"d\"}", prefix);
	/* a refused change writes nothing */
	struct th_response r = th_call(d, "POST", MV "transition-stage",
				       "{\"name\": \"x\", \"version\": \"1\", "
				       "\"stage\": \"Bogus\", \"archive_existing_versions\": false}");
	ck_assert_int_eq(r.status, 400);
	th_response_free(&r);
	call_ok("POST", RM "alias", "{\"name\": \"%s-m\", \"alias\": \"shadow\", \"version\": \"1\"}", prefix);
	call_ok("DELETE", MV "delete", "{\"name\": \"%s-m\", \"version\": \"1\"}", prefix);
	call_ok("POST", RM "rename", "{\"name\": \"%s-m\", \"new_name\": \"%s-n\"}", prefix, prefix);
	call_ok("POST", MV "create", "{\"name\": \"%s-n\", \"source\": \"s3://b/m\"}", prefix);
	call_ok("DELETE", RM "delete", "{\"name\": \"%s-n\"}", prefix);

	struct th_kafka s;
	th_kafka_open(&s, TOPIC, prefix);
	th_kafka_wait(&s, 13, 30000);
	char m[40], n[40];
	snprintf(m, sizeof m, "%s-m", prefix);
	snprintf(n, sizeof n, "%s-n", prefix);
	json_t *em = th_kafka_events_of(&s, m), *en = th_kafka_events_of(&s, n);
	ck_assert_int_eq(json_array_size(s.events), 13);
	ck_assert_int_eq(json_array_size(em), 11);
	expect_event(em, 0, "lathe.model.version.created", "1", "run_id", "r1");
	ck_assert_str_eq(data_str(json_array_get(em, 0), "stage"), "None");
	ck_assert_str_eq(data_str(json_array_get(em, 0), "source"), SRC);
	ck_assert(json_is_false(json_object_get(json_object_get(json_array_get(em, 0), "data"), "servable")));
	expect_event(em, 1, "lathe.model.version.created", "2", "name", m);
	expect_event(em, 2, "lathe.model.version.stage_changed", "1", "stage", "Production");
	ck_assert_str_eq(data_str(json_array_get(em, 2), "previous_stage"), "None");
	expect_event(em, 3, "lathe.model.version.stage_changed", "2", "stage", "Production");
	expect_event(em, 4, "lathe.model.version.stage_changed", "1", "stage", "Archived");
	ck_assert_str_eq(data_str(json_array_get(em, 4), "previous_stage"), "Production");
	expect_event(em, 5, "lathe.model.alias.set", "2", "alias", "champion");
	expect_event(em, 6, "lathe.model.alias.moved", "1", "previous_version", "2");
	expect_event(em, 7, "lathe.model.alias.deleted", "1", "alias", "champion");
	expect_event(em, 8, "lathe.model.alias.set", "1", "alias", "shadow");
	expect_event(em, 9, "lathe.model.version.deleted", "1", "stage", "Archived");
	json_t *dropped = json_object_get(json_object_get(json_array_get(em, 9), "data"), "aliases");
	ck_assert_int_eq(json_array_size(dropped), 1);
	ck_assert_str_eq(json_string_value(json_array_get(dropped, 0)), "shadow");
	expect_event(em, 10, "lathe.model.renamed", NULL, "new_name", n);
	ck_assert_str_eq(data_str(json_array_get(em, 10), "old_name"), m);
	ck_assert_int_eq(json_array_size(en), 2);
	expect_event(en, 0, "lathe.model.version.created", "3", "source", "s3://b/m");
	expect_event(en, 1, "lathe.model.deleted", NULL, "name", n);
	json_t *versions = json_object_get(json_object_get(json_array_get(en, 1), "data"), "versions");
	ck_assert_int_eq(json_array_size(versions), 2);
	ck_assert_str_eq(json_string_value(json_array_get(versions, 0)), "2");
	ck_assert_str_eq(json_string_value(json_array_get(versions, 1)), "3");
	json_decref(em);
	json_decref(en);
	th_kafka_close(&s);
	th_daemon_stop(d);
}
END_TEST

/* Unchecked teardown: runs in the test runner even when a test failed, so the shared
 * broker is never left down. */
static void broker_up(void)
{
	th_kafka_ctl("up 1");
}

START_TEST(a_change_made_while_the_broker_is_down_arrives_later)
{
	start_registry();
	call_ok("POST", RM "create", "{\"name\": \"%s-k\"}", prefix);
	call_ok("POST", MV "create", "{\"name\": \"%s-k\", \"source\": \"" SRC "\"}", prefix);
	struct th_kafka s;
	th_kafka_open(&s, TOPIC, prefix);
	th_kafka_wait(&s, 1, 30000);
	ck_assert_int_eq(json_array_size(s.events), 1);

	th_kafka_ctl("down 1");
	/* the API answers at once: the event waits in the outbox */
	call_ok("POST", RM "alias", "{\"name\": \"%s-k\", \"alias\": \"champion\", \"version\": \"1\"}", prefix);
	call_ok("POST", MV "transition-stage",
		"{\"name\": \"%s-k\", \"version\": \"1\", \"stage\": \"Staging\", \"archive_existing_versions\": "
		"false}",
		prefix);
	sleep(2);
	th_kafka_ctl("up 1");

	th_kafka_wait(&s, 3, 45000);
	ck_assert_int_eq(json_array_size(s.events), 3);
	expect_event(s.events, 0, "lathe.model.version.created", "1", "stage", "None");
	expect_event(s.events, 1, "lathe.model.alias.set", "1", "alias", "champion");
	expect_event(s.events, 2, "lathe.model.version.stage_changed", "1", "stage", "Staging");
	th_kafka_close(&s);
	th_daemon_stop(d);
}
END_TEST

/* A version the tracker must judge is created pending; the background check's answer
 * follows as its own event (here after one unanswered attempt: not servable). */
START_TEST(a_pending_servability_check_answers_with_its_own_event)
{
	char tracker[64];
	snprintf(tracker, sizeof tracker, "TRACKER_URL=http://127.0.0.1:%u", th_free_port());
	const char *env[] = {tracker, "SERVABLE_CHECK_ATTEMPTS=1", NULL};
	new_prefix();
	d = th_daemon_start("model-registry", NULL, env);
	call_ok("POST", RM "create", "{\"name\": \"%s-p\"}", prefix);
	call_ok("POST", MV "create", "{\"name\": \"%s-p\", \"source\": \"" SRC "\"}", prefix);
	struct th_kafka s;
	th_kafka_open(&s, TOPIC, prefix);
	th_kafka_wait(&s, 2, 30000);
	ck_assert_int_eq(json_array_size(s.events), 2);
	json_t *created = json_array_get(s.events, 0);
	expect_event(s.events, 0, "lathe.model.version.created", "1", "stage", "None");
	json_t *data = json_object_get(created, "data");
	ck_assert(json_is_false(json_object_get(data, "servable")));
	ck_assert(json_is_true(json_object_get(data, "servable_pending")));
	ck_assert_ptr_null(json_object_get(data, "servable_reason"));
	expect_event(s.events, 1, "lathe.model.version.servable_checked", "1", "servable_reason",
		     "the tracker could not be reached");
	ck_assert(json_is_false(json_object_get(json_object_get(json_array_get(s.events, 1), "data"), "servable")));
	th_kafka_close(&s);
	th_daemon_stop(d);
}
END_TEST

static Suite *events_suite(void)
{
	Suite *s = suite_create("registry-events");
	TCase *tc = tcase_create("models.events");
	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, NULL, broker_up);
	tcase_add_test(tc, each_change_gives_exactly_its_events_in_order);
	tcase_add_test(tc, a_change_made_while_the_broker_is_down_arrives_later);
	tcase_add_test(tc, a_pending_servability_check_answers_with_its_own_event);
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

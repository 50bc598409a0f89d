/* Integration tests of the trainer's schedules, on real processes (a data registry, one
 * or two lathe-trainer replicas on one database, the run's PostgreSQL and devkafka):
 *   - crud_and_bad_inputs: create (cron or trigger), get, list in pages, patch, pause,
 *     resume, delete; every bad member a 400 naming it with nothing written; a taken
 *     name RESOURCE_ALREADY_EXISTS; an unknown id 404;
 *   - missed_due_times_on_two_replicas: two trainers (WORKERS=0) on one database, with
 *     due times put in the past through SQL (a trainer that was down): each schedule
 *     fires its missed due time once and moves on past now, a paused one fires
 *     nothing, and a resumed one is due again from now, not from the past; and when
 *     their jobs all end FAILED at once, the replicas race to retry: one retry each;
 *   - event_triggers_fire_once: a dataset version becoming READY fires its schedule
 *     once with the spec pinned to that version, the same CloudEvent produced again
 *     fires nothing more (a sentinel event after it on the same partition proves it
 *     was read); a drift alert for a model fires its schedule the same way;
 *   - failed_jobs_are_retried_with_backoff: with a worker (tracker, registry, data
 *     registry and trainer: harness_train.h), a fired job that really fails (a loss
 *     that overflows) is submitted again after backoff_ms, then after 2 x backoff_ms,
 *     and not beyond max_retries: three FAILED jobs on one firing, attempts 1, 2, 3,
 *     with a second replica racing the first for each retry;
 *   - two_replicas_fire_once_a_minute (last): two more trainers (WORKERS=0) on a
 *     database of their own with a `* * * * *` schedule: the next minute boundary
 *     makes exactly one firing and one job, whichever replica won. The suite's fixture
 *     starts them and creates the schedule before the first test, so the real minute
 *     boundary (up to a minute away) is awaited while the other tests run rather than
 *     on its own; the test waits for whatever remains of it. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bus/bus.h"
#include "harness_kafka.h"
#include "harness_train.h"
#include "harness_trainer.h"
#include "harness.h"

static struct th_daemon *dr, *tr;
/* two_replicas_fire_once_a_minute's replicas and schedule, made by the suite's fixture */
static struct th_daemon *minute_a, *minute_b;
static json_t *minute_schedule;

static const char *const iris_csv = "sepal_length,sepal_width,colour,species\n"
				    "5.1,3.5,red,setosa\n4.9,3.0,blue,setosa\n4.7,3.2,red,setosa\n"
				    "7.0,3.2,blue,versicolor\n6.4,3.2,red,versicolor\n6.9,3.1,blue,versicolor\n"
				    "6.3,3.3,red,virginica\n5.8,2.7,blue,virginica\n7.1,3.0,red,virginica\n";

#define IRIS_SPEC                                                                                                      \
	"{\"dataset\": \"iris@1\", \"target\": \"species\", \"model\": {\"type\": \"mlp\", \"hidden\": [8]}, "         \
	"\"epochs\": 2}"

static void setup_data(void)
{
	static const char *const env[] = {"PROFILE_POLL_MS=50", NULL};
	dr = th_daemon_start("data-registry", NULL, env);
	ck_assert_int_eq(th_trainer_push_csv(dr, "iris", iris_csv, NULL), 1);
}

static void teardown_data(void)
{
	th_daemon_stop(dr);
}

static void setup(void)
{
	tr = th_trainer_start(dr, NULL);
}

/* --- helpers ---------------------------------------------------------------------------- */

static long sql_long(struct th_daemon *d, char *text)
{
	char *v = th_trainer_sql(d, text);
	long n = strtol(v, NULL, 10);
	free(v);
	free(text);
	return n;
}

static void sql_do(struct th_daemon *d, char *text)
{
	free(th_trainer_sql(d, text));
	free(text);
}

static json_t *create_ok(struct th_daemon *d, const char *body)
{
	struct th_response r = th_call(d, "POST", "/v1/schedules", body);
	ck_assert_msg(r.status == 201, "%s -> %ld %s", body, r.status, r.body);
	json_t *s = json_incref(json_object_get(r.json, "schedule"));
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(strlen(json_string_value(json_object_get(s, "id"))), 32);
	th_response_free(&r);
	return s;
}

static const char *sid(json_t *s)
{
	return json_string_value(json_object_get(s, "id"));
}

static void refused(const char *method, const char *path, const char *body, const char *needle)
{
	long before = sql_long(tr, th_fmt("SELECT count(*) FROM schedules"));
	char *updated = th_trainer_sql(tr, "SELECT coalesce(max(updated_at), 0) FROM schedules");
	struct th_response r = th_call(tr, method, path, body);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", needle);
	th_expect_no_internals(r.body, dr->port);
	th_response_free(&r);
	ck_assert_int_eq(sql_long(tr, th_fmt("SELECT count(*) FROM schedules")), before);
	char *after = th_trainer_sql(tr, "SELECT coalesce(max(updated_at), 0) FROM schedules");
	ck_assert_str_eq(after, updated);
	free(after);
	free(updated);
	ck_assert_int_eq(sql_long(tr, th_fmt("SELECT count(*) FROM jobs")), 0);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Polls the count sql gives on d until it reaches want (or fails after timeout_ms). */
static void wait_count(struct th_daemon *d, const char *sql, long want, int timeout_ms, const char *what)
{
	long n = -1;
	for (int waited = 0; waited <= timeout_ms; waited += 100) {
		char *v = th_trainer_sql(d, sql);
		n = strtol(v, NULL, 10);
		free(v);
		if (n >= want)
			return;
		sleep_ms(100);
	}
	ck_abort_msg("%s: %ld of %ld after %d ms", what, n, want, timeout_ms);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- CRUD --------------------------------------------------------------------------------- */

START_TEST(crud_and_bad_inputs)
{
	int64_t t0 = now_ms();
	json_t *a = create_ok(tr, "{\"name\": \"nightly\", \"spec\": " IRIS_SPEC ", \"cron\": \"0 3 * * *\"}");
	ck_assert_str_eq(json_string_value(json_object_get(a, "name")), "nightly");
	ck_assert_str_eq(json_string_value(json_object_get(a, "cron")), "0 3 * * *");
	ck_assert(json_is_null(json_object_get(a, "trigger")));
	ck_assert(json_is_false(json_object_get(a, "paused")));
	ck_assert_int_eq(json_integer_value(json_object_get(a, "max_retries")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(a, "backoff_ms")), 60000);
	int64_t due = json_integer_value(json_object_get(a, "next_due_at"));
	ck_assert_int_gt(due, t0);
	ck_assert_int_le(due, t0 + 86400000);
	ck_assert_int_eq(due % 86400000, 3 * 3600000);
	const char *iso = json_string_value(json_object_get(a, "next_due"));
	ck_assert_msg(iso && strstr(iso, "T03:00:00.000Z"), "%s", iso ? iso : "(null)");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "spec"), "dataset")), "iris@1");

	json_t *b = create_ok(tr, "{\"name\": \"on-iris\", \"spec\": " IRIS_SPEC ", \"trigger\": {\"event\": "
				  "\"dataset.version.ready\", \"dataset\": \"iris\"}, \"max_retries\": 0, "
				  "\"backoff_ms\": 10, \"paused\": true}");
	ck_assert(json_is_null(json_object_get(b, "cron")));
	ck_assert(json_is_null(json_object_get(b, "next_due_at")));
	ck_assert(json_is_true(json_object_get(b, "paused")));
	ck_assert_int_eq(json_integer_value(json_object_get(b, "max_retries")), 0);
	json_decref(create_ok(tr, "{\"name\": \"on-drift\", \"spec\": " IRIS_SPEC ", \"trigger\": {\"event\": "
				  "\"drift.alert\", \"model\": \"iris-model\"}}"));

	/* get, list in pages (newest first) */
	char *pa = th_fmt("/v1/schedules/%s", sid(a));
	json_t *got = th_ok(tr, "GET", pa, NULL);
	ck_assert(json_equal(json_object_get(got, "schedule"), a));
	json_decref(got);
	json_t *p1 = th_ok(tr, "GET", "/v1/schedules?max_results=2", NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(p1, "schedules")), 2);
	ck_assert_str_eq(
		json_string_value(json_object_get(json_array_get(json_object_get(p1, "schedules"), 0), "name")),
		"on-drift");
	char *p2path = th_fmt("/v1/schedules?max_results=2&page_token=%s",
			      json_string_value(json_object_get(p1, "next_page_token")));
	json_t *p2 = th_ok(tr, "GET", p2path, NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(p2, "schedules")), 1);
	ck_assert_str_eq(
		json_string_value(json_object_get(json_array_get(json_object_get(p2, "schedules"), 0), "name")),
		"nightly");
	ck_assert_ptr_null(json_object_get(p2, "next_page_token"));
	json_decref(p1);
	json_decref(p2);
	free(p2path);

	/* a taken name */
	struct th_response r = th_call(tr, "POST", "/v1/schedules",
				       "{\"name\": \"nightly\", \"spec\": " IRIS_SPEC ", \"cron\": \"@daily\"}");
	th_expect_error(&r, 400, "RESOURCE_ALREADY_EXISTS", "Schedule 'nightly' already exists");
	th_response_free(&r);

	/* bad members: 400 naming the field, nothing written */
	refused("POST", "/v1/schedules", "{\"spec\": " IRIS_SPEC ", \"cron\": \"@daily\"}", "name: required");
	refused("POST", "/v1/schedules", "{\"name\": \"x\", \"cron\": \"@daily\"}", "spec: required");
	refused("POST", "/v1/schedules", "{\"name\": \"x\", \"spec\": 3, \"cron\": \"@daily\"}", "spec: must be");
	refused("POST", "/v1/schedules", "{\"name\": \"x\", \"spec\": " IRIS_SPEC "}", "cron: required (or trigger)");
	refused("POST", "/v1/schedules", "{\"name\": \"x\", \"spec\": " IRIS_SPEC ", \"cron\": \"61 * * * *\"}",
		"cron: minute field '61'");
	refused("POST", "/v1/schedules", "{\"name\": \"x\", \"spec\": " IRIS_SPEC ", \"cron\": \"* * * *\"}",
		"cron: '* * * *': 5 fields expected");
	refused("POST", "/v1/schedules", "{\"name\": \"x\", \"spec\": " IRIS_SPEC ", \"cron\": \"0 0 31 2 *\"}",
		"never fires");
	refused("POST", "/v1/schedules",
		"{\"name\": \"x\", \"spec\": " IRIS_SPEC ", \"cron\": \"@daily\", \"trigger\": {\"event\": "
		"\"drift.alert\", \"model\": \"m\"}}",
		"cron: give either cron or trigger");
	refused("POST", "/v1/schedules",
		"{\"name\": \"x\", \"spec\": " IRIS_SPEC ", \"trigger\": {\"event\": \"model.registered\"}}",
		"trigger.event: unknown event 'model.registered'");
	refused("POST", "/v1/schedules",
		"{\"name\": \"x\", \"spec\": " IRIS_SPEC ", \"trigger\": {\"event\": \"dataset.version.ready\"}}",
		"trigger.dataset: required");
	refused("POST", "/v1/schedules",
		"{\"name\": \"x\", \"spec\": " IRIS_SPEC
		", \"trigger\": {\"event\": \"drift.alert\", \"model\": \"m\", "
		"\"dataset\": \"iris\"}}",
		"trigger.dataset: not a member of a drift.alert trigger");
	refused("POST", "/v1/schedules",
		"{\"name\": \"x\", \"spec\": " IRIS_SPEC ", \"trigger\": {\"event\": \"dataset.version.ready\", "
		"\"dataset\": \"other\"}}",
		"trigger.dataset: 'other' is not the spec's dataset 'iris'");
	refused("POST", "/v1/schedules",
		"{\"name\": \"x\", \"spec\": {\"dataset\": \"iris@1\", \"target\": \"species\", \"model\": {\"type\": "
		"\"svm\"}}, \"cron\": \"@daily\"}",
		"spec.model.type: unknown family 'svm'");
	refused("POST", "/v1/schedules",
		"{\"name\": \"x\", \"spec\": {\"dataset\": \"nope@1\", \"model\": {\"type\": \"mlp\"}}, \"cron\": "
		"\"@daily\"}",
		"spec.dataset: 'nope@1' does not exist");
	refused("POST", "/v1/schedules",
		"{\"name\": \"x\", \"spec\": {\"dataset\": \"iris@1\", \"target\": \"petal\", \"model\": {\"type\": "
		"\"mlp\"}}, \"cron\": \"@daily\"}",
		"spec.target: column 'petal' is not in dataset iris@1");
	refused("POST", "/v1/schedules",
		"{\"name\": \"x\", \"spec\": " IRIS_SPEC ", \"cron\": \"@daily\", \"max_retries\": 11}",
		"max_retries: must be an integer from 0 to 10");
	refused("POST", "/v1/schedules",
		"{\"name\": \"x\", \"spec\": " IRIS_SPEC ", \"cron\": \"@daily\", \"backoff_ms\": -1}",
		"backoff_ms: must be an integer");
	refused("POST", "/v1/schedules",
		"{\"name\": \"x\", \"spec\": " IRIS_SPEC ", \"cron\": \"@daily\", \"paused\": 1}",
		"paused: must be true or false");
	refused("POST", "/v1/schedules",
		"{\"name\": \"x\", \"spec\": " IRIS_SPEC ", \"cron\": \"@daily\", \"every\": 1}",
		"every: not a member of a schedule");
	refused("POST", "/v1/schedules", "{\"name\": ", "the body is not JSON");
	refused("POST", "/v1/schedules", "[1]", "the body must be a JSON object");
	refused("PATCH", pa, "{\"name\": \"renamed\"}", "name: a schedule's name cannot be changed");
	refused("PATCH", pa, "{\"cron\": \"* 24 * * *\"}", "cron: hour field '24'");
	refused("PATCH", pa, "{\"spec\": {\"dataset\": \"iris@1\", \"model\": {\"type\": \"mlp\"}}}",
		"spec.target: required for tabular data");
	char *pb = th_fmt("/v1/schedules/%s", sid(b));
	refused("PATCH", pa, "{\"spec\": {\"dataset\": \"fmnist@1\", \"model\": {\"type\": \"mlp\"}}}",
		"spec.dataset: 'fmnist@1' does not exist");
	refused("PATCH", pb, "{\"spec\": {\"dataset\": \"other@1\", \"model\": {\"type\": \"mlp\"}}}",
		"trigger.dataset: 'iris' is not the spec's dataset 'other'");

	/* patch: cron moves next_due_at; trigger replaces cron; retries and backoff */
	json_t *pr = th_ok(tr, "PATCH", pa, "{\"cron\": \"30 4 * * MON\", \"max_retries\": 5, \"backoff_ms\": 1000}");
	json_t *s = json_object_get(pr, "schedule");
	ck_assert_str_eq(json_string_value(json_object_get(s, "cron")), "30 4 * * MON");
	ck_assert_int_eq(json_integer_value(json_object_get(s, "max_retries")), 5);
	ck_assert_int_eq(json_integer_value(json_object_get(s, "backoff_ms")), 1000);
	int64_t due2 = json_integer_value(json_object_get(s, "next_due_at"));
	ck_assert_int_eq(due2 % 86400000, 4 * 3600000 + 30 * 60000);
	ck_assert_int_eq(((due2 / 86400000) + 4) % 7, 1); /* a Monday */
	ck_assert_int_gt(json_integer_value(json_object_get(s, "updated_at")),
			 json_integer_value(json_object_get(a, "updated_at")) - 1);
	json_decref(pr);

	/* pause / resume */
	char *pp = th_fmt("/v1/schedules/%s/pause", sid(a));
	pr = th_ok(tr, "POST", pp, NULL);
	ck_assert(json_is_true(json_object_get(json_object_get(pr, "schedule"), "paused")));
	ck_assert(json_is_null(json_object_get(json_object_get(pr, "schedule"), "next_due_at")));
	json_decref(pr);
	char *pre = th_fmt("/v1/schedules/%s/resume", sid(a));
	pr = th_ok(tr, "POST", pre, NULL);
	ck_assert(json_is_false(json_object_get(json_object_get(pr, "schedule"), "paused")));
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(pr, "schedule"), "next_due_at")), due2);
	json_decref(pr);

	/* a trigger replaces the cron */
	pr = th_ok(tr, "PATCH", pa, "{\"trigger\": {\"event\": \"drift.alert\", \"model\": \"iris-model\"}}");
	s = json_object_get(pr, "schedule");
	ck_assert(json_is_null(json_object_get(s, "cron")));
	ck_assert(json_is_null(json_object_get(s, "next_due_at")));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(s, "trigger"), "model")), "iris-model");
	json_decref(pr);

	/* firings: none yet */
	char *pf = th_fmt("/v1/schedules/%s/firings", sid(a));
	json_t *fl = th_ok(tr, "GET", pf, NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(fl, "firings")), 0);
	json_decref(fl);

	/* delete, then everything about it is 404 */
	json_decref(th_ok(tr, "DELETE", pa, NULL));
	const char *const methods[] = {"GET", "PATCH", "DELETE"};
	for (size_t i = 0; i < 3; i++) {
		r = th_call(tr, methods[i], pa, "{\"paused\": true}");
		th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", "not found");
		th_response_free(&r);
	}
	const char *const posts[] = {pp, pre};
	for (size_t i = 0; i < 2; i++) {
		r = th_call(tr, "POST", posts[i], NULL);
		th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", "not found");
		th_response_free(&r);
	}
	r = th_call(tr, "GET", pf, NULL);
	th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", "not found");
	th_response_free(&r);
	ck_assert_int_eq(sql_long(tr, th_fmt("SELECT count(*) FROM schedules")), 2);
	ck_assert_int_eq(sql_long(tr, th_fmt("SELECT count(*) FROM jobs")), 0);
	free(pa);
	free(pb);
	free(pp);
	free(pre);
	free(pf);
	json_decref(a);
	json_decref(b);
}
END_TEST

/* --- cron firing on two replicas --------------------------------------------------------- */

/* A second trainer on first's database. */
static struct th_daemon *second_replica(const struct th_daemon *first)
{
	char url[128];
	snprintf(url, sizeof url, "DATA_REGISTRY_URL=%s", dr->base_url);
	const char *env[] = {url, "WORKERS=0", "SCHEDULE_TICK_MS=20", NULL};
	return th_daemon_start("trainer", first->database_url, env);
}

/* The suite's fixture: the data registry, then two_replicas_fire_once_a_minute's two
 * replicas (a database of their own) and its `* * * * *` schedule, so its minute
 * boundary comes while the other tests run. */
static void setup_suite(void)
{
	setup_data();
	minute_a = th_trainer_start(dr, (const char *const[]){"SCHEDULE_TICK_MS=20", NULL});
	minute_b = second_replica(minute_a);
	minute_schedule =
		create_ok(minute_b, "{\"name\": \"every-minute\", \"spec\": " IRIS_SPEC ", \"cron\": \"* * * * *\"}");
}

static void teardown_suite(void)
{
	json_decref(minute_schedule);
	th_daemon_stop(minute_b);
	th_daemon_stop(minute_a);
	teardown_data();
}

/* Runs last: by then the minute boundary has usually passed; the schedule has fired at
 * least once (more when the suite took over a minute: each minute is checked alike). */
START_TEST(two_replicas_fire_once_a_minute)
{
	struct th_daemon *t = minute_a;
	json_t *m = minute_schedule;
	int64_t due = json_integer_value(json_object_get(m, "next_due_at"));
	ck_assert_int_eq(due % 60000, 0);
	/* the next minute boundary: one firing, one job, whichever replica won */
	wait_count(t, "SELECT count(*) FROM firings", 1, 75000, "the minute's firing");
	sleep_ms(1500);
	char *key = th_trainer_sql(t, "SELECT string_agg(fire_key, ',' ORDER BY fire_key) FROM firings");
	char *want = th_fmt("%lld", (long long)due);
	ck_assert_msg(strncmp(key, want, strlen(want)) == 0, "fired for %s, due %s", key, want);
	free(want);
	free(key);
	ck_assert_int_eq(sql_long(t, th_fmt("SELECT count(*) FROM firings WHERE fire_key = '%lld'", (long long)due)),
			 1);
	ck_assert_int_eq(sql_long(t, th_fmt("SELECT count(*) FROM jobs j JOIN firings f ON f.job_id = j.id "
					    "WHERE f.fire_key = '%lld'",
					    (long long)due)),
			 1);
	/* each later minute (if any) once too */
	ck_assert_int_eq(sql_long(t, th_fmt("SELECT count(DISTINCT fire_key) FROM firings")),
			 sql_long(t, th_fmt("SELECT count(*) FROM firings")));
	ck_assert_int_eq(sql_long(t, th_fmt("SELECT count(*) FROM jobs")),
			 sql_long(t, th_fmt("SELECT count(*) FROM firings")));
	/* the job is what a submit writes: QUEUED, the spec, its log line and request */
	ck_assert_int_eq(sql_long(t, th_fmt("SELECT count(*) FROM jobs j JOIN firings f ON f.job_id = j.id "
					    "WHERE j.status = 'QUEUED' AND j.spec = f.spec AND "
					    "j.spec->>'dataset' = 'iris@1'")),
			 sql_long(t, th_fmt("SELECT count(*) FROM firings")));
	ck_assert_int_ge(sql_long(t, th_fmt("SELECT count(*) FROM job_events WHERE line LIKE "
					    "'queued by schedule ''every-minute''%%'")),
			 1);
	char *path = th_fmt("/v1/schedules/%s/firings", sid(m));
	json_t *fl = th_ok(t, "GET", path, NULL);
	json_t *f0 =
		json_array_get(json_object_get(fl, "firings"), json_array_size(json_object_get(fl, "firings")) - 1);
	ck_assert_int_eq(json_integer_value(json_object_get(f0, "attempt")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(f0, "status")), "QUEUED");
	ck_assert_uint_eq(json_array_size(json_object_get(f0, "jobs")), 1);
	json_decref(fl);
	free(path);
}
END_TEST

#define MISSED 20 /* schedules fired and retried at once by both replicas (ticks of 20 ms) */

START_TEST(missed_due_times_on_two_replicas)
{
	th_daemon_stop(tr);
	tr = th_trainer_start(dr, (const char *const[]){"SCHEDULE_TICK_MS=20", NULL});
	struct th_daemon *tr2 = second_replica(tr);

	/* missed due times (a trainer that was down): MISSED schedules due in the past fire
	 * once each on the two replicas, and move past now (yearly schedules: nothing else
	 * comes due during the test) */
	for (int i = 0; i < MISSED; i++) {
		char *body = th_fmt("{\"name\": \"missed-%d\", \"spec\": " IRIS_SPEC ", \"cron\": \"0 0 1 1 *\"}", i);
		json_decref(create_ok(i % 2 ? tr : tr2, body));
		free(body);
	}
	json_t *paused = create_ok(tr, "{\"name\": \"paused\", \"spec\": " IRIS_SPEC ", \"cron\": \"0 0 1 1 *\", "
				       "\"paused\": true}");
	int64_t past = (now_ms() / 60000 - 30) * 60000; /* half an hour ago */
	sql_do(tr, th_fmt("UPDATE schedules SET next_due_at = %lld", (long long)past));
	wait_count(tr, "SELECT count(*) FROM firings", MISSED, 10000, "the missed firings");
	sleep_ms(1500);
	ck_assert_int_eq(sql_long(tr, th_fmt("SELECT count(*) FROM firings WHERE fire_key = '%lld'", (long long)past)),
			 MISSED);
	ck_assert_int_eq(sql_long(tr, th_fmt("SELECT count(*) FROM firings")), MISSED);
	ck_assert_int_eq(sql_long(tr, th_fmt("SELECT count(*) FROM jobs")), MISSED);
	ck_assert_int_eq(sql_long(tr, th_fmt("SELECT count(*) FROM schedules WHERE NOT paused AND next_due_at > %lld "
					     "AND next_due_at %% 60000 = 0",
					     (long long)now_ms() - 2000)),
			 MISSED);
	/* the paused one fired nothing; resumed, it is due from now on (not the past) */
	ck_assert_int_eq(sql_long(tr, th_fmt("SELECT count(*) FROM firings f JOIN schedules s ON s.id = "
					     "f.schedule_id WHERE s.name = 'paused'")),
			 0);
	char *path = th_fmt("/v1/schedules/%s/resume", sid(paused));
	int64_t t_resume = now_ms();
	json_t *res = th_ok(tr2, "POST", path, NULL);
	ck_assert_int_gt(json_integer_value(json_object_get(json_object_get(res, "schedule"), "next_due_at")),
			 t_resume);
	json_decref(res);
	free(path);
	sleep_ms(800);
	ck_assert_int_eq(sql_long(tr, th_fmt("SELECT count(*) FROM firings")), MISSED);
	/* and once due, it fires */
	sql_do(tr, th_fmt("UPDATE schedules SET next_due_at = %lld WHERE name = 'paused'", (long long)past));
	wait_count(tr, "SELECT count(*) FROM firings", MISSED + 1, 10000, "the resumed schedule's firing");
	sleep_ms(800);
	ck_assert_int_eq(sql_long(tr, th_fmt("SELECT count(*) FROM jobs")), MISSED + 1);

	/* retries raced by the two replicas: the jobs end FAILED at once (as a
	 * worker would end them) with no backoff: each firing is retried once, never twice;
	 * the retries failing too, max_retries 1 stops there */
	sql_do(tr, th_fmt("UPDATE schedules SET backoff_ms = 0, max_retries = 1"));
	sql_do(tr, th_fmt("UPDATE jobs SET status = 'FAILED', ended_at = %lld", (long long)now_ms()));
	wait_count(tr, "SELECT count(*) FROM firings WHERE attempt = 2", MISSED + 1, 10000, "the retries");
	sleep_ms(1000);
	ck_assert_int_eq(sql_long(tr, th_fmt("SELECT count(*) FROM jobs")), 2 * (MISSED + 1));
	ck_assert_int_eq(sql_long(tr, th_fmt("SELECT count(*) FROM firings WHERE cardinality(job_ids) = 2 AND "
					     "job_ids[2] = job_id")),
			 MISSED + 1);
	sql_do(tr, th_fmt("UPDATE jobs SET status = 'FAILED', ended_at = %lld WHERE status = 'QUEUED'",
			  (long long)now_ms()));
	sleep_ms(1500);
	ck_assert_int_eq(sql_long(tr, th_fmt("SELECT count(*) FROM jobs")), 2 * (MISSED + 1));
	ck_assert_int_eq(sql_long(tr, th_fmt("SELECT count(*) FROM firings WHERE status = 'FAILED' AND retry_at IS "
					     "NULL AND attempt = 2")),
			 MISSED + 1);
	json_decref(paused);
	th_daemon_stop(tr2);
}
END_TEST

/* --- event triggers ------------------------------------------------------------------------- */

static void produce(const char *topic, const char *key, json_t *event)
{
	struct bus_config cfg = {.brokers = th_env("LATHE_TEST_KAFKA"), .client_id = "test-trainer-schedules"};
	struct bus_producer *p = NULL;
	struct core_error err = {{0}};
	char *text = json_dumps(event, JSON_COMPACT);
	ck_assert_msg(bus_producer_new(&cfg, &p, &err) == CORE_OK, "%s", err.message);
	ck_assert_msg(bus_produce_event(p, topic, key, text, strlen(text), NULL, NULL, &err) == CORE_OK, "%s",
		      err.message);
	ck_assert_int_eq(bus_producer_flush(p, 20000), 0);
	bus_producer_free(p);
	free(text);
}

static long firings_of(const char *name)
{
	return sql_long(tr, th_fmt("SELECT count(*) FROM firings f JOIN schedules s ON s.id = f.schedule_id WHERE "
				   "s.name = '%s'",
				   name));
}

START_TEST(event_triggers_fire_once)
{
	char ds[64], group[64], model[64];
	snprintf(ds, sizeof ds, "sched-ev-%d", (int)getpid());
	snprintf(model, sizeof model, "sched-model-%d", (int)getpid());
	snprintf(group, sizeof group, "SCHEDULE_GROUP=test-schedules-%d", (int)getpid());
	th_daemon_stop(tr);
	tr = th_trainer_start(dr, (const char *const[]){group, NULL});
	ck_assert_int_eq(th_trainer_push_csv(dr, ds, iris_csv, NULL), 1);
	char *body = th_fmt("{\"name\": \"on-data\", \"spec\": {\"dataset\": \"%s@1\", \"target\": \"species\", "
			    "\"model\": {\"type\": \"logistic_regression\"}, \"epochs\": 1}, \"trigger\": {\"event\": "
			    "\"dataset.version.ready\", \"dataset\": \"%s\"}}",
			    ds, ds);
	json_decref(create_ok(tr, body));
	free(body);
	body = th_fmt("{\"name\": \"on-drift\", \"spec\": " IRIS_SPEC ", \"trigger\": {\"event\": \"drift.alert\", "
		      "\"model\": \"%s\"}}",
		      model);
	json_decref(create_ok(tr, body));
	free(body);

	/* version 2 becomes READY: one firing, the spec pinned to it */
	char *csv2 = th_fmt("%s5.0,3.4,red,setosa\n", iris_csv);
	ck_assert_int_eq(th_trainer_push_csv(dr, ds, csv2, NULL), 2);
	free(csv2);
	wait_count(tr, "SELECT count(*) FROM firings", 1, 30000, "the dataset trigger's firing");
	char *pinned = th_fmt("%s@2", ds);
	char *got = th_trainer_sql(tr, "SELECT j.spec->>'dataset' FROM jobs j JOIN firings f ON f.job_id = j.id");
	ck_assert_str_eq(got, pinned);
	free(got);
	free(pinned);

	/* the same CloudEvent again fires nothing; a sentinel after it (same key, so the same
	 * partition) shows it was read */
	struct th_kafka k;
	th_kafka_open(&k, "datasets.events", ds);
	th_kafka_wait(&k, 4, 20000);
	json_t *ready = NULL, *ev;
	size_t i;
	json_array_foreach(k.events, i, ev)
	{
		json_t *d = json_object_get(ev, "data");
		if (strcmp(json_string_value(json_object_get(ev, "type")), "lathe.dataset.version.ready") == 0 &&
		    json_integer_value(json_object_get(d, "number")) == 2)
			ready = json_incref(ev);
	}
	th_kafka_close(&k);
	ck_assert_ptr_nonnull(ready);
	char *fk = th_trainer_sql(tr, "SELECT fire_key FROM firings");
	ck_assert_str_eq(fk, json_string_value(json_object_get(ready, "id")));
	free(fk);
	produce("datasets.events", ds, ready);
	json_t *sentinel = json_deep_copy(ready);
	json_object_set_new(sentinel, "id", json_string("sentinel-dataset-event"));
	json_object_set_new(json_object_get(sentinel, "data"), "number", json_integer(3));
	produce("datasets.events", ds, sentinel);
	wait_count(tr, "SELECT count(*) FROM firings WHERE fire_key = 'sentinel-dataset-event'", 1, 30000,
		   "the sentinel's firing");
	sleep_ms(500);
	ck_assert_int_eq(firings_of("on-data"), 2);
	ck_assert_int_eq(sql_long(tr, th_fmt("SELECT count(*) FROM jobs")), 2);
	json_decref(sentinel);
	json_decref(ready);

	/* a drift alert for the model fires its schedule once, redelivered or not */
	json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:b, s:f, s:f, s:[s], s:s, s:b, s:I, s:I, s:{s:s, s:s, s:s}}",
				 "report_id", "0123456789abcdef0123456789abcdef", "monitor_id",
				 "fedcba9876543210fedcba9876543210", "model", model, "version", "1", "dataset_drift", 1,
				 "share_of_drifted_columns", 0.5, "drift_share", 0.5, "drifted_columns", "sepal_length",
				 "policy", "alert", "retrain_requested", 0, "window_start", (json_int_t)1, "window_end",
				 (json_int_t)2, "lineage", "model", model, "version", "1", "run_id", "r");
	json_t *alert = bus_event_new("lathe/drift-monitor", "lathe.drift.alert", model, data);
	produce("drift.alerts", model, alert);
	produce("drift.alerts", model, alert);
	json_t *sentinel2 = json_deep_copy(alert);
	json_object_set_new(sentinel2, "id", json_string("sentinel-drift-alert"));
	produce("drift.alerts", model, sentinel2);
	wait_count(tr, "SELECT count(*) FROM firings WHERE fire_key = 'sentinel-drift-alert'", 1, 30000,
		   "the drift sentinel's firing");
	sleep_ms(500);
	ck_assert_int_eq(firings_of("on-drift"), 2);
	char *akey = th_fmt("SELECT count(*) FROM firings WHERE fire_key = '%s'",
			    json_string_value(json_object_get(alert, "id")));
	ck_assert_int_eq(sql_long(tr, akey), 1);
	ck_assert_int_eq(sql_long(tr, th_fmt("SELECT count(*) FROM jobs")), 4);
	json_decref(alert);
	json_decref(sentinel2);
}
END_TEST

/* --- retries ------------------------------------------------------------------------------- */

/* The firing's jobs as the API shows them. */
static json_t *firing_jobs(struct th_train_stack *s, const char *schedule_id)
{
	char *path = th_fmt("/v1/schedules/%s/firings", schedule_id);
	json_t *fl = th_ok(s->trainer, "GET", path, NULL);
	free(path);
	json_t *firings = json_object_get(fl, "firings");
	ck_assert_uint_le(json_array_size(firings), 1);
	json_t *jobs = json_array_size(firings) ? json_incref(json_object_get(json_array_get(firings, 0), "jobs"))
						: json_array();
	json_decref(fl);
	return jobs;
}

START_TEST(failed_jobs_are_retried_with_backoff)
{
	th_daemon_stop(tr);
	tr = NULL;
	struct th_train_stack s;
	th_train_start(&s, (const char *const[]){"SCHEDULE_TICK_MS=100", NULL});
	char *csv = malloc(1 << 16);
	size_t n = (size_t)snprintf(csv, 1 << 16, "x1,x2,y\n");
	for (int r = 0; r < 300; r++)
		n += (size_t)snprintf(csv + n, (1 << 16) - n, "%.3f,%.3f,%.3f\n", (r % 17) * 0.5, (r % 11) * 0.3,
				      3 * (r % 17) * 0.5 - 2 * (r % 11) * 0.3 + 5);
	ck_assert_int_eq(th_trainer_push_csv(s.data, "lin", csv, NULL), 1);
	free(csv);
	/* a learning rate that makes the loss overflow: every attempt really FAILS */
	json_t *sc = create_ok(s.trainer,
			       "{\"name\": \"diverges\", \"cron\": \"0 0 1 1 *\", \"max_retries\": 2, \"backoff_ms\": "
			       "1000, \"spec\": {\"dataset\": \"lin@1\", \"target\": \"y\", \"model\": {\"type\": "
			       "\"linear_regression\"}, \"optimizer\": {\"type\": \"sgd\", \"lr\": 10, \"momentum\": "
			       "0.9}, \"epochs\": 5, \"batch_size\": 8, \"seed\": 1, \"experiment\": \"sched-nan\"}}");
	/* a second replica (API only) races the first for every retry */
	struct th_daemon *tr2 = th_daemon_start("trainer", s.trainer->database_url,
						(const char *const[]){"WORKERS=0", "SCHEDULE_TICK_MS=100", NULL});
	/* due now (instead of next new year) */
	free(th_trainer_sql(s.trainer, "UPDATE schedules SET next_due_at = 60000"));
	json_t *jobs = NULL;
	for (int t = 0;; t++) {
		json_decref(jobs);
		jobs = firing_jobs(&s, sid(sc));
		size_t k = json_array_size(jobs);
		const char *last = k ? json_string_value(json_object_get(json_array_get(jobs, k - 1), "status")) : NULL;
		if (k == 3 && last && strcmp(last, "FAILED") == 0)
			break;
		ck_assert_msg(t < 1200, "three failed attempts after 120 s: %s", json_dumps(jobs, 0));
		sleep_ms(100);
	}
	/* attempts 1, 2, 3, each FAILED for real, each after its backoff */
	int64_t prev_end = 0;
	for (size_t i = 0; i < 3; i++) {
		json_t *j = json_array_get(jobs, i);
		ck_assert_int_eq(json_integer_value(json_object_get(j, "attempt")), (json_int_t)i + 1);
		char *path = th_fmt("/v1/jobs/%s", json_string_value(json_object_get(j, "job_id")));
		json_t *body = th_ok(s.trainer, "GET", path, NULL);
		json_t *job = json_object_get(body, "job");
		ck_assert_str_eq(json_string_value(json_object_get(job, "status")), "FAILED");
		ck_assert_msg(strstr(json_string_value(json_object_get(job, "failure")), "not finite"), "%s",
			      json_string_value(json_object_get(job, "failure")));
		int64_t created = json_integer_value(json_object_get(job, "created_at"));
		if (i > 0)
			ck_assert_msg(created - prev_end >= 1000 * (1 << (i - 1)), "attempt %zu %lld ms after the last",
				      i + 1, (long long)(created - prev_end));
		prev_end = json_integer_value(json_object_get(job, "ended_at"));
		json_decref(body);
		free(path);
	}
	/* and no fourth: max_retries is 2 (the firing ends FAILED with no retry due, and
	 * no job comes in the ticks after that) */
	wait_count(s.trainer,
		   "SELECT count(*) FROM firings WHERE retry_at IS NULL AND status = 'FAILED' AND attempt = 3", 1,
		   30000, "the firing's end");
	sleep_ms(1500);
	json_decref(jobs);
	jobs = firing_jobs(&s, sid(sc));
	ck_assert_uint_eq(json_array_size(jobs), 3);
	ck_assert_int_eq(sql_long(s.trainer, th_fmt("SELECT count(*) FROM jobs")), 3);
	ck_assert_int_eq(sql_long(s.trainer, th_fmt("SELECT count(*) FROM firings WHERE retry_at IS NULL AND "
						    "status = 'FAILED' AND attempt = 3")),
			 1);
	json_decref(jobs);
	json_decref(sc);
	th_daemon_stop(tr2);
	th_train_stop(&s);
}
END_TEST

static void teardown_maybe(void)
{
	if (tr)
		th_daemon_stop(tr);
	tr = NULL;
}

static Suite *schedules_suite(void)
{
	Suite *s = suite_create("trainer-schedules");
	TCase *tc = tcase_create("schedules");
	tcase_add_unchecked_fixture(tc, setup_suite, teardown_suite);
	tcase_add_checked_fixture(tc, setup, teardown_maybe);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, crud_and_bad_inputs);
	tcase_add_test(tc, missed_due_times_on_two_replicas);
	tcase_add_test(tc, event_triggers_fire_once);
	tcase_add_test(tc, failed_jobs_are_retried_with_backoff);
	tcase_add_test(tc, two_replicas_fire_once_a_minute); /* last: see setup_suite */
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(schedules_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

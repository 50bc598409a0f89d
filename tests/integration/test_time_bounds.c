/* Integration tests of the time bounds every daemon inherits, on real daemons over
 * HTTP against a fresh database:
 *   - DB_STATEMENT_TIMEOUT_MS: a search whose query cannot finish in time (the test
 *     holds an ACCESS EXCLUSIVE lock on the table it reads, so PostgreSQL's own
 *     statement_timeout is what ends the wait) answers 503 TEMPORARILY_UNAVAILABLE in
 *     MLflow's error shape, promptly and naming nothing of the server's, and the daemon
 *     goes on serving on the same pooled connection;
 *   - the filter complexity bound: the probe's 80 `params.lr LIKE '%'` clauses (1.3 s
 *     of planning per query before) get 400 INVALID_PARAMETER_VALUE naming the limit on
 *     runs/search and registered-models/search, at once, and a filter at the limit is
 *     still served. */
#include <check.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"

#define API "/api/2.0/mlflow/"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static PGconn *connect_or_fail(const char *url)
{
	PGconn *pg = PQconnectdb(url);
	ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "connect: %s", PQerrorMessage(pg));
	return pg;
}

static void sql_ok(PGconn *pg, const char *sql)
{
	PGresult *r = PQexec(pg, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
		      PQerrorMessage(pg));
	PQclear(r);
}

static long scalar(PGconn *pg, const char *sql)
{
	PGresult *r = PQexec(pg, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql, PQerrorMessage(pg));
	long v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

START_TEST(a_query_past_the_statement_timeout_answers_503_and_the_daemon_goes_on)
{
	const char *env[] = {"DB_STATEMENT_TIMEOUT_MS=300", "HTTP_THREADS=1", NULL};
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, env);
	json_t *e = th_ok(d, "POST", API "experiments/create", "{\"name\": \"slow\"}");
	const char *exp_id = json_string_value(json_object_get(e, "experiment_id"));
	char *body = th_fmt("{\"experiment_id\": \"%s\"}", exp_id);
	json_t *run = th_ok(d, "POST", API "runs/create", body);
	char *search = th_fmt("{\"experiment_ids\": [\"%s\"]}", exp_id);

	PGconn *pg = connect_or_fail(d->database_url);
	long before = scalar(pg, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
				 "'experiment-tracker' AND datname = current_database()");

	/* A query that cannot finish: the table it reads is locked by this test. */
	sql_ok(pg, "BEGIN");
	sql_ok(pg, "LOCK TABLE tracker.runs IN ACCESS EXCLUSIVE MODE");
	double t0 = now_s();
	struct th_response r = th_call(d, "POST", API "runs/search", search);
	double took = now_s() - t0;
	th_expect_error(&r, 503, "TEMPORARILY_UNAVAILABLE", "took too long");
	th_expect_no_internals(r.body, 0);
	ck_assert_ptr_null(strstr(r.body, "SQLSTATE"));
	ck_assert_ptr_null(strstr(r.body, "statement timeout"));
	ck_assert_msg(took >= 0.25 && took < 3.0, "the timed-out search took %.2f s", took);
	th_response_free(&r);
	sql_ok(pg, "COMMIT");

	/* The daemon goes on serving, on the connection it had: no reconnect. */
	for (int i = 0; i < 3; i++) {
		json_t *found = th_ok(d, "POST", API "runs/search", search);
		ck_assert_int_eq(json_array_size(json_object_get(found, "runs")), 1);
		json_decref(found);
	}
	ck_assert_int_eq(scalar(pg, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
				    "'experiment-tracker' AND datname = current_database()"),
			 before);
	ck_assert(!th_daemon_log_has(d, "reconnecting", NULL));
	ck_assert(th_daemon_log_has(d, "57014", NULL)); /* the cause is in the log */
	PQfinish(pg);
	json_decref(run);
	json_decref(e);
	free(search);
	free(body);
	th_daemon_stop(d);
}
END_TEST

/* GET registered-models/search?filter=<filter> (the route is GET only) */
static struct th_response models_search(struct th_daemon *d, const char *filter)
{
	char *q = curl_easy_escape(NULL, filter, 0);
	ck_assert_ptr_nonnull(q);
	char *path = th_fmt(API "registered-models/search?filter=%s", q);
	struct th_response r = th_call(d, "GET", path, NULL);
	free(path);
	curl_free(q);
	return r;
}

/* "<clause> AND <clause> ..." n times (malloc'd) */
static char *clauses(const char *clause, int n)
{
	size_t cl = strlen(clause), len = 0;
	char *s = malloc((size_t)n * (cl + 5) + 1);
	ck_assert_ptr_nonnull(s);
	for (int i = 0; i < n; i++) {
		if (i) {
			memcpy(s + len, " AND ", 5);
			len += 5;
		}
		memcpy(s + len, clause, cl);
		len += cl;
	}
	s[len] = '\0';
	return s;
}

START_TEST(filters_past_the_complexity_bound_get_400_naming_the_limit)
{
	char tracker[64];
	snprintf(tracker, sizeof tracker, "TRACKER_URL=http://127.0.0.1:%u", th_free_port());
	const char *renv[] = {tracker, NULL};
	struct th_daemon *t = th_daemon_start("experiment-tracker", NULL, NULL);
	struct th_daemon *m = th_daemon_start("model-registry", NULL, renv);
	json_t *e = th_ok(t, "POST", API "experiments/create", "{\"name\": \"bound\"}");
	const char *exp_id = json_string_value(json_object_get(e, "experiment_id"));
	char *body = th_fmt("{\"experiment_id\": \"%s\"}", exp_id);
	json_t *run = th_ok(t, "POST", API "runs/create", body);
	const char *run_id =
		json_string_value(json_object_get(json_object_get(json_object_get(run, "run"), "info"), "run_id"));
	char *param = th_fmt("{\"run_id\": \"%s\", \"key\": \"lr\", \"value\": \"0.1\"}", run_id);
	json_decref(th_ok(t, "POST", API "runs/log-parameter", param));
	json_decref(th_ok(m, "POST", API "registered-models/create", "{\"name\": \"bounded\"}"));

	/* the probe's filter: refused at once, naming the limit */
	char *bomb = clauses("params.lr LIKE '%'", 80);
	json_t *req = json_pack("{s:[s], s:s}", "experiment_ids", exp_id, "filter", bomb);
	char *req_text = json_dumps(req, 0);
	double t0 = now_s();
	struct th_response r = th_call(t, "POST", API "runs/search", req_text);
	double took = now_s() - t0;
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "more than 20 clauses (the limit is 20)");
	ck_assert_msg(took < 0.5, "the refused search took %.2f s", took);
	th_response_free(&r);
	free(req_text);
	json_decref(req);

	char *mbomb = clauses("tags.k LIKE '%'", 80);
	r = models_search(m, mbomb);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "the limit is 20");
	th_response_free(&r);

	/* too long a filter, and too many order_by entries */
	char *long_value = malloc(70000);
	memset(long_value, 'x', 69999);
	long_value[69999] = '\0';
	char *long_filter = th_fmt("params.lr = '%s'", long_value);
	req = json_pack("{s:[s], s:s}", "experiment_ids", exp_id, "filter", long_filter);
	req_text = json_dumps(req, 0);
	r = th_call(t, "POST", API "runs/search", req_text);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "the limit is 65536 bytes");
	th_response_free(&r);
	free(req_text);
	json_decref(req);
	req = json_pack("{s:[s], s:[]}", "experiment_ids", exp_id, "order_by");
	for (int i = 0; i < 17; i++)
		json_array_append_new(json_object_get(req, "order_by"), json_sprintf("metrics.m%d", i));
	req_text = json_dumps(req, 0);
	r = th_call(t, "POST", API "runs/search", req_text);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "the limit is 16");
	th_response_free(&r);
	free(req_text);
	json_decref(req);

	/* at the limit: served */
	char *at_limit = clauses("params.lr LIKE '%'", 20);
	req = json_pack("{s:[s], s:s}", "experiment_ids", exp_id, "filter", at_limit);
	req_text = json_dumps(req, 0);
	json_t *found = th_ok(t, "POST", API "runs/search", req_text);
	ck_assert_int_eq(json_array_size(json_object_get(found, "runs")), 1);
	json_decref(found);
	free(req_text);
	json_decref(req);
	char *m_at_limit = clauses("name LIKE 'bound%'", 20);
	r = models_search(m, m_at_limit);
	ck_assert_msg(r.status == 200, "%ld: %s", r.status, r.body);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "registered_models")), 1);
	th_response_free(&r);

	free(m_at_limit);
	free(at_limit);
	free(long_filter);
	free(long_value);
	free(mbomb);
	free(bomb);
	free(param);
	json_decref(run);
	free(body);
	json_decref(e);
	th_daemon_stop(m);
	th_daemon_stop(t);
}
END_TEST

static Suite *time_bounds_suite(void)
{
	Suite *s = suite_create("time-bounds");
	TCase *tc = tcase_create("statement_timeout");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, a_query_past_the_statement_timeout_answers_503_and_the_daemon_goes_on);
	suite_add_tcase(s, tc);
	tc = tcase_create("filter_bounds");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, filters_past_the_complexity_bound_get_400_naming_the_limit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(time_bounds_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

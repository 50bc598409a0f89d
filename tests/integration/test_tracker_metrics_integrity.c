/* Integration tests of the guarantees the metric write path keeps without foreign keys
 * on tracker.metrics and tracker.latest_metrics (migration 0004): concurrent writers to
 * one run lose and duplicate nothing and leave MLflow's latest point (max step, then
 * timestamp, then value); a large batch repeating points (stored ones, its own) keeps
 * each once; a batch for a run that does not exist writes nothing; and a
 * run deleted from the database takes its points with it, as ON DELETE CASCADE did.
 * Batches are all or nothing both ways they are written (one statement without params,
 * a transaction with them): a changed param leaves none of the batch's points or tags,
 * and a deleted run takes no write of any kind.
 * The real daemon over HTTP, its database read directly with libpq to count rows. */
#include <check.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

#define API              "/api/2.0/mlflow/"
#define WRITERS          4
#define BATCHES          15
#define POINTS_PER_BATCH 100

static PGconn *db_open(const struct th_daemon *d)
{
	PGconn *c = PQconnectdb(d->database_url);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
	return c;
}

/* The one integer a query answers. */
static long long db_count(PGconn *c, const char *sql, const char *run_id)
{
	const char *params[1] = {run_id};
	PGresult *res = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
	long long n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

static char *start_run(struct th_daemon *d)
{
	struct th_response r = th_call(d, "POST", API "runs/create", "{\"experiment_id\":\"0\",\"start_time\":1}");
	ck_assert_msg(r.status == 200, "runs/create: %ld %s", r.status, r.body);
	char *id = strdup(
		json_string_value(json_object_get(json_object_get(json_object_get(r.json, "run"), "info"), "run_id")));
	th_response_free(&r);
	return id;
}

/* Writer w logs BATCHES batches to the run: steps w*1000 + i (its own), and in every
 * batch the same shared point, which all writers send (deduplicated to one row). The
 * batches of writer 3 also carry the point that must end up latest. Worker threads use
 * curl directly: check's assertions must stay on the test's thread. */
struct writer {
	pthread_t thread;
	const char *base, *run_id;
	int index, failures;
};

static size_t discard(char *p, size_t size, size_t n, void *cls)
{
	(void)p, (void)cls;
	return size * n;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	CURL *curl = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	char url[256];
	snprintf(url, sizeof url, "%s" API "runs/log-batch", w->base);
	size_t cap = 64u * POINTS_PER_BATCH + 512;
	char *body = malloc(cap);
	for (int b = 0; b < BATCHES; b++) {
		size_t len = (size_t)snprintf(body, cap, "{\"run_id\":\"%s\",\"metrics\":[", w->run_id);
		for (int i = 0; i < POINTS_PER_BATCH; i++) {
			long step = (long)w->index * 100000 + (long)b * POINTS_PER_BATCH + i;
			len += (size_t)snprintf(body + len, cap - len,
						"{\"key\":\"c\",\"value\":%d,\"timestamp\":5,\"step\":%ld},", i, step);
		}
		/* shared by every writer and batch; and the latest: step 10^9 at timestamp 7
		 * beats step 10^9 at timestamp 6, whatever arrives first */
		len += (size_t)snprintf(body + len, cap - len,
					"{\"key\":\"c\",\"value\":1.5,\"timestamp\":5,\"step\":-1},"
					"{\"key\":\"c\",\"value\":%d,\"timestamp\":%d,\"step\":1000000000}]}",
					w->index, w->index == 3 ? 7 : 6);
		curl_easy_setopt(curl, CURLOPT_URL, url);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
		long status = 0;
		if (curl_easy_perform(curl) == CURLE_OK)
			curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
		if (status != 200)
			w->failures++;
	}
	free(body);
	curl_slist_free_all(h);
	curl_easy_cleanup(curl);
	return NULL;
}

START_TEST(concurrent_writers_to_one_run)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	char *rid = start_run(d);
	struct writer w[WRITERS];
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){.base = d->base_url, .run_id = rid, .index = i};
		ck_assert_int_eq(pthread_create(&w[i].thread, NULL, writer_main, &w[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(w[i].thread, NULL);
		ck_assert_int_eq(w[i].failures, 0);
	}
	PGconn *c = db_open(d);
	/* each writer's own points once, the shared point once, one step-10^9 point each */
	ck_assert_int_eq(db_count(c, "SELECT count(*) FROM tracker.metrics WHERE run_id = $1", rid),
			 WRITERS * BATCHES * POINTS_PER_BATCH + 1 + WRITERS);
	ck_assert_int_eq(db_count(c,
				  "SELECT count(*) FROM (SELECT 1 FROM tracker.metrics WHERE run_id = $1 "
				  "GROUP BY key, timestamp, step, value HAVING count(*) > 1) dup",
				  rid),
			 0);
	ck_assert_int_eq(db_count(c, "SELECT count(DISTINCT seq) FROM tracker.metrics WHERE run_id = $1", rid),
			 WRITERS * BATCHES * POINTS_PER_BATCH + 1 + WRITERS);
	ck_assert_int_eq(db_count(c, "SELECT count(*) FROM tracker.latest_metrics WHERE run_id = $1", rid), 1);
	ck_assert_int_eq(db_count(c,
				  "SELECT count(*) FROM tracker.latest_metrics WHERE run_id = $1 AND key = 'c' "
				  "AND step = 1000000000 AND timestamp = 7 AND value = 3",
				  rid),
			 1);
	/* get-history sees every point once */
	char path[256];
	snprintf(path, sizeof path, API "metrics/get-history?run_id=%s&metric_key=c", rid);
	struct th_response r = th_call(d, "GET", path, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "metrics")),
			 WRITERS * BATCHES * POINTS_PER_BATCH + 1 + WRITERS);
	th_response_free(&r);
	PQfinish(c);
	free(rid);
	th_daemon_stop(d);
}
END_TEST

START_TEST(no_points_without_a_run_and_delete_cascades)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	PGconn *c = db_open(d);
	const char *ghost = "0123456789abcdef0123456789abcdef";
	struct th_response r = th_call(d, "POST", API "runs/log-batch",
				       "{\"run_id\":\"0123456789abcdef0123456789abcdef\",\"metrics\":[{\"key\":\"m\","
				       "\"value\":1,\"timestamp\":1}]}");
	th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", ghost);
	th_response_free(&r);
	ck_assert_int_eq(db_count(c, "SELECT count(*) FROM tracker.metrics WHERE run_id = $1", ghost), 0);
	ck_assert_int_eq(db_count(c, "SELECT count(*) FROM tracker.latest_metrics WHERE run_id = $1", ghost), 0);

	char *keep = start_run(d), *gone = start_run(d);
	const char *ids[2] = {keep, gone};
	for (int i = 0; i < 2; i++) {
		char body[256];
		snprintf(body, sizeof body,
			 "{\"run_id\":\"%s\",\"metrics\":[{\"key\":\"a\",\"value\":1,\"timestamp\":1,\"step\":1},"
			 "{\"key\":\"b\",\"value\":2,\"timestamp\":1,\"step\":1}]}",
			 ids[i]);
		r = th_call(d, "POST", API "runs/log-batch", body);
		ck_assert_int_eq(r.status, 200);
		th_response_free(&r);
	}
	/* a batch large enough for the plain insert first, repeating a point within itself
	 * and one stored before: both are kept once, and the batch's other points are kept */
	char body[4096];
	size_t len = (size_t)snprintf(body, sizeof body, "{\"run_id\":\"%s\",\"metrics\":[", keep);
	for (int i = 0; i < 40; i++)
		len += (size_t)snprintf(body + len, sizeof body - len,
					"{\"key\":\"d\",\"value\":%d,\"timestamp\":1,\"step\":%d},", i, i);
	snprintf(body + len, sizeof body - len,
		 "{\"key\":\"d\",\"value\":7,\"timestamp\":1,\"step\":7},"
		 "{\"key\":\"a\",\"value\":1,\"timestamp\":1,\"step\":1}]}");
	r = th_call(d, "POST", API "runs/log-batch", body);
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);
	ck_assert_int_eq(db_count(c, "SELECT count(*) FROM tracker.metrics WHERE run_id = $1 AND key = 'd'", keep), 40);
	ck_assert_int_eq(db_count(c,
				  "SELECT count(*) FROM tracker.latest_metrics WHERE run_id = $1 AND key = 'd' "
				  "AND step = 39 AND value = 39",
				  keep),
			 1);
	ck_assert_int_eq(db_count(c, "SELECT count(*) FROM tracker.metrics WHERE run_id = $1 AND key <> 'd'", keep), 2);

	const char *params[1] = {gone};
	PGresult *res = PQexecParams(c, "DELETE FROM tracker.runs WHERE run_id = $1", 1, NULL, params, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "delete: %s", PQerrorMessage(c));
	ck_assert_str_eq(PQcmdTuples(res), "1");
	PQclear(res);
	ck_assert_int_eq(db_count(c, "SELECT count(*) FROM tracker.metrics WHERE run_id = $1", gone), 0);
	ck_assert_int_eq(db_count(c, "SELECT count(*) FROM tracker.latest_metrics WHERE run_id = $1", gone), 0);
	ck_assert_int_eq(db_count(c, "SELECT count(*) FROM tracker.metrics WHERE run_id = $1", keep), 42);
	ck_assert_int_eq(db_count(c, "SELECT count(*) FROM tracker.latest_metrics WHERE run_id = $1", keep), 3);
	PQfinish(c);
	free(keep);
	free(gone);
	th_daemon_stop(d);
}
END_TEST

/* A log-batch body: params (may be ""), n points of key from step 0, then extra (may be
 * ""), and one tag tag_key=v. */
static char *batch_with(const char *run_id, const char *params, const char *key, int n, const char *extra,
			const char *tag_key)
{
	size_t cap = 96u * (size_t)n + 1024;
	char *body = malloc(cap);
	size_t len = (size_t)snprintf(body, cap,
				      "{\"run_id\":\"%s\",\"params\":[%s],\"tags\":[{\"key\":\"%s\","
				      "\"value\":\"v\"}],\"metrics\":[",
				      run_id, params, tag_key);
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(body + len, cap - len,
					"%s{\"key\":\"%s\",\"value\":%d,\"timestamp\":1,\"step\":%d}", i ? "," : "",
					key, i, i);
	snprintf(body + len, cap - len, "%s]}", extra);
	return body;
}

START_TEST(batches_all_or_nothing_both_ways)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	PGconn *c = db_open(d);
	char *rid = start_run(d);

	/* params with enough points for the plain insert first, one of them repeated: the
	 * transaction's savepoint takes the batch the deduplicating way */
	char *body = batch_with(rid, "{\"key\":\"p\",\"value\":\"1\"}", "e", 40,
				",{\"key\":\"e\",\"value\":3,\"timestamp\":1,\"step\":3}", "t1");
	struct th_response r = th_call(d, "POST", API "runs/log-batch", body);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	th_response_free(&r);
	free(body);
	ck_assert_int_eq(db_count(c, "SELECT count(*) FROM tracker.metrics WHERE run_id = $1 AND key = 'e'", rid), 40);
	ck_assert_int_eq(db_count(c, "SELECT count(*) FROM tracker.params WHERE run_id = $1 AND value = '1'", rid), 1);
	ck_assert_int_eq(db_count(c, "SELECT count(*) FROM tracker.tags WHERE run_id = $1 AND key = 't1'", rid), 1);

	/* a changed param refuses the whole batch: its points, latest values and tag too */
	body = batch_with(rid, "{\"key\":\"p\",\"value\":\"2\"}", "f", 40, "", "t2");
	r = th_call(d, "POST", API "runs/log-batch", body);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "Changing param values is not allowed");
	th_response_free(&r);
	free(body);
	ck_assert_int_eq(db_count(c, "SELECT count(*) FROM tracker.metrics WHERE run_id = $1 AND key = 'f'", rid), 0);
	ck_assert_int_eq(
		db_count(c, "SELECT count(*) FROM tracker.latest_metrics WHERE run_id = $1 AND key = 'f'", rid), 0);
	ck_assert_int_eq(db_count(c, "SELECT count(*) FROM tracker.tags WHERE run_id = $1 AND key = 't2'", rid), 0);

	/* the batch's own latest point, picked by the daemon, is PostgreSQL's: at one step
	 * and timestamp NaN is above every number, and the timestamp decides before the
	 * value; the stored latest point is replaced only by a greater one */
	const char *ties[2] = {"[{\"key\":\"n\",\"value\":5,\"timestamp\":10,\"step\":2},"
			       "{\"key\":\"n\",\"value\":\"NaN\",\"timestamp\":10,\"step\":2},"
			       "{\"key\":\"n\",\"value\":9,\"timestamp\":9,\"step\":2}]",
			       "[{\"key\":\"n\",\"value\":7,\"timestamp\":10,\"step\":2},"
			       "{\"key\":\"n\",\"value\":8,\"timestamp\":11,\"step\":1}]"};
	for (int i = 0; i < 2; i++) {
		char *tb = th_fmt("{\"run_id\":\"%s\",\"metrics\":%s}", rid, ties[i]);
		r = th_call(d, "POST", API "runs/log-batch", tb);
		ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
		th_response_free(&r);
		free(tb);
		ck_assert_int_eq(db_count(c,
					  "SELECT count(*) FROM tracker.latest_metrics WHERE run_id = $1 AND key = 'n' "
					  "AND step = 2 AND timestamp = 10 AND value = 'NaN'",
					  rid),
				 1);
	}

	/* a deleted run takes nothing, by either way, nor a single write */
	char one[256];
	snprintf(one, sizeof one, "{\"run_id\":\"%s\"}", rid);
	r = th_call(d, "POST", API "runs/delete", one);
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);
	const char *bodies[2] = {"", "{\"key\":\"q\",\"value\":\"1\"}"};
	for (int i = 0; i < 2; i++) {
		body = batch_with(rid, bodies[i], "g", 40, "", "t3");
		r = th_call(d, "POST", API "runs/log-batch", body);
		th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "must be in the 'active' state");
		th_response_free(&r);
		free(body);
	}
	char *params_only = th_fmt("{\"run_id\":\"%s\",\"params\":[{\"key\":\"q\",\"value\":\"1\"}]}", rid);
	r = th_call(d, "POST", API "runs/log-batch", params_only);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "must be in the 'active' state");
	th_response_free(&r);
	free(params_only);
	snprintf(one, sizeof one, "{\"run_id\":\"%s\",\"key\":\"g\",\"value\":1,\"timestamp\":1}", rid);
	r = th_call(d, "POST", API "runs/log-metric", one);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "must be in the 'active' state");
	th_response_free(&r);
	snprintf(one, sizeof one, "{\"run_id\":\"%s\",\"key\":\"t3\",\"value\":\"v\"}", rid);
	r = th_call(d, "POST", API "runs/set-tag", one);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "must be in the 'active' state");
	th_response_free(&r);
	ck_assert_int_eq(db_count(c, "SELECT count(*) FROM tracker.metrics WHERE run_id = $1 AND key = 'g'", rid), 0);
	ck_assert_int_eq(db_count(c, "SELECT count(*) FROM tracker.tags WHERE run_id = $1 AND key = 't3'", rid), 0);
	ck_assert_int_eq(db_count(c, "SELECT count(*) FROM tracker.params WHERE run_id = $1 AND key = 'q'", rid), 0);
	PQfinish(c);
	free(rid);
	th_daemon_stop(d);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *s = suite_create("tracker_metrics_integrity");
	TCase *tc = tcase_create("metrics_without_foreign_keys");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, concurrent_writers_to_one_run);
	tcase_add_test(tc, no_points_without_a_run_and_delete_cascades);
	tcase_add_test(tc, batches_all_or_nothing_both_ways);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? 1 : 0;
}

/* Integration tests of the tracker's hardening against two failures seen under hostile
 * or busy clients, the real daemon against a fresh database: names too long for
 * PostgreSQL's unique index (experiments/create, experiments/update, runs/create,
 * runs/update answered 500 "index row size ... experiments_name_key") are refused
 * with 400 INVALID_PARAMETER_VALUE naming MLflow's limit (256 characters for
 * experiment names, 250 for run names, counted in characters) before anything is
 * written, while names exactly at the limit are kept; and eight clients renaming, or
 * deleting and restoring, one experiment at once no longer deadlock (40P01, then 503
 * after the retries): every answer is MLflow's, the final state adds up, the daemon
 * logs no error, and PostgreSQL counted no deadlock in the database (the retries hid
 * some of them from the clients). */
#include <check.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"

#define API "/api/2.0/mlflow/"

/* unit repeated n times (malloc'd). */
static char *repeat(const char *unit, size_t n)
{
	size_t u = strlen(unit);
	char *s = malloc(u * n + 1);
	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * u, unit, u);
	s[u * n] = '\0';
	return s;
}

static void refused(struct th_daemon *d, const char *path, const char *body, const char *needle)
{
	struct th_response r = th_call(d, "POST", path, body);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", needle);
	th_response_free(&r);
}

static void refused2(struct th_daemon *d, const char *path, const char *k1, const char *v1, const char *k2,
		     const char *v2, const char *needle)
{
	struct th_response r = th_post_fields(d, path, k1, v1, k2, v2);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", needle);
	th_response_free(&r);
}

static json_t *ok2(struct th_daemon *d, const char *path, const char *k1, const char *v1, const char *k2,
		   const char *v2)
{
	struct th_response r = th_post_fields(d, path, k1, v1, k2, v2);
	ck_assert_msg(r.status == 200, "%s -> %ld: %s", path, r.status, r.body);
	json_t *j = json_incref(r.json);
	th_response_free(&r);
	return j;
}

static const char *str_at(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	ck_assert_msg(json_is_string(v), "field '%s' is not a string", key);
	return json_string_value(v);
}

static char *experiment_name(struct th_daemon *d, const char *id)
{
	char *path = th_fmt(API "experiments/get?experiment_id=%s", id);
	json_t *j = th_ok(d, "GET", path, NULL);
	char *name = strdup(str_at(json_object_get(j, "experiment"), "name"));
	json_decref(j);
	free(path);
	return name;
}

static size_t count_experiments(struct th_daemon *d, const char *view)
{
	char *path = th_fmt(API "experiments/search?max_results=1000&view_type=%s", view);
	json_t *j = th_ok(d, "GET", path, NULL);
	size_t n = json_array_size(json_object_get(j, "experiments"));
	json_decref(j);
	free(path);
	return n;
}

static char *run_name(struct th_daemon *d, const char *run_id)
{
	char *path = th_fmt(API "runs/get?run_id=%s", run_id);
	json_t *j = th_ok(d, "GET", path, NULL);
	char *name = strdup(str_at(json_object_get(json_object_get(j, "run"), "info"), "run_name"));
	json_decref(j);
	free(path);
	return name;
}

static size_t count_runs(struct th_daemon *d, const char *exp_id)
{
	char *body = th_fmt("{\"experiment_ids\":[\"%s\"],\"run_view_type\":\"ALL\",\"max_results\":1000}", exp_id);
	json_t *j = th_ok(d, "POST", API "runs/search", body);
	size_t n = json_array_size(json_object_get(j, "runs"));
	json_decref(j);
	free(body);
	return n;
}

/* --- names over MLflow's limits --------------------------------------------------------- */

START_TEST(experiment_names_over_256_characters_refused)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	char *a300 = repeat("a", 300), *e1500 = repeat("\xc3\xa9", 1500);      /* é: 3000 bytes */
	char *x256 = repeat("x", 256), *euro256 = repeat("\xe2\x82\xac", 256); /* €: 768 bytes */
	const char *limit = "which exceeded length limit of 256";

	refused2(d, API "experiments/create", "name", a300, NULL, NULL, limit);
	refused2(d, API "experiments/create", "name", e1500, NULL, NULL,
		 "had length 1500, which exceeded length limit of 256");
	ck_assert_int_eq(count_experiments(d, "ALL"), 1); /* Default only: nothing written */

	json_t *j = ok2(d, API "experiments/create", "name", x256, NULL, NULL);
	ck_assert_str_eq(str_at(j, "experiment_id"), "1");
	json_decref(j);
	j = ok2(d, API "experiments/create", "name", euro256, NULL, NULL);
	ck_assert_str_eq(str_at(j, "experiment_id"), "2");
	json_decref(j);
	char *name = experiment_name(d, "2");
	ck_assert_str_eq(name, euro256);
	free(name);

	/* experiments/update (rename) */
	refused2(d, API "experiments/update", "experiment_id", "1", "new_name", a300, limit);
	refused2(d, API "experiments/update", "experiment_id", "1", "new_name", e1500, limit);
	name = experiment_name(d, "1");
	ck_assert_str_eq(name, x256);
	free(name);
	char *y256 = repeat("\xc3\xbf", 256); /* ÿ */
	json_decref(ok2(d, API "experiments/update", "experiment_id", "1", "new_name", y256));
	name = experiment_name(d, "1");
	ck_assert_str_eq(name, y256);
	free(name);
	ck_assert_int_eq(count_experiments(d, "ALL"), 3);

	free(y256);
	free(a300);
	free(e1500);
	free(x256);
	free(euro256);
	th_daemon_stop(d);
}
END_TEST

START_TEST(run_names_over_250_characters_refused)
{
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, NULL);
	json_decref(th_ok(d, "POST", API "experiments/create", "{\"name\":\"runs\"}"));
	char *a300 = repeat("a", 300), *e1500 = repeat("\xc3\xa9", 1500);
	char *r251 = repeat("r", 251), *r250 = repeat("r", 250), *euro250 = repeat("\xe2\x82\xac", 250);
	const char *limit = "which exceeded length limit of 250";

	refused2(d, API "runs/create", "experiment_id", "1", "run_name", a300, limit);
	refused2(d, API "runs/create", "experiment_id", "1", "run_name", e1500,
		 "had length 1500, which exceeded length limit of 250");
	refused2(d, API "runs/create", "experiment_id", "1", "run_name", r251, "had length 251");
	/* the name given as the mlflow.runName tag is the run's name too */
	json_t *o = json_pack("{s:s, s:[{s:s, s:s}]}", "experiment_id", "1", "tags", "key", "mlflow.runName", "value",
			      a300);
	char *body = json_dumps(o, JSON_COMPACT);
	refused(d, API "runs/create", body, limit);
	free(body);
	json_decref(o);
	ck_assert_int_eq(count_runs(d, "1"), 0);

	json_t *j = ok2(d, API "runs/create", "experiment_id", "1", "run_name", r250);
	char *run = strdup(str_at(json_object_get(json_object_get(j, "run"), "info"), "run_id"));
	json_decref(j);
	j = ok2(d, API "runs/create", "experiment_id", "1", "run_name", euro250);
	ck_assert_str_eq(str_at(json_object_get(json_object_get(j, "run"), "info"), "run_name"), euro250);
	json_decref(j);
	ck_assert_int_eq(count_runs(d, "1"), 2);

	/* runs/update */
	refused2(d, API "runs/update", "run_id", run, "run_name", a300, limit);
	refused2(d, API "runs/update", "run_id", run, "run_name", e1500, limit);
	char *name = run_name(d, run);
	ck_assert_str_eq(name, r250);
	free(name);
	json_decref(ok2(d, API "runs/update", "run_id", run, "run_name", euro250));
	name = run_name(d, run);
	ck_assert_str_eq(name, euro250);
	free(name);

	free(run);
	free(a300);
	free(e1500);
	free(r251);
	free(r250);
	free(euro250);
	th_daemon_stop(d);
}
END_TEST

/* --- one experiment, eight writers ------------------------------------------------------ */

enum { WRITERS = 8, ROUNDS = 10 };

struct writer {
	struct th_daemon *d;
	int index;
	long bad_status;       /* the first answer that was neither 200 nor an expected 404 */
	int deletes, restores; /* successful ones */
};

/* PostgreSQL's count of deadlocks in the database at url. A backend reports its
 * statistics when it ends at the latest, so call this after th_daemon_stop; it waits a
 * little for the daemon's backends to finish exiting. */
static long deadlocks(const char *url)
{
	PGconn *c = PQconnectdb(url);
	ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
	long n = -1;
	for (int i = 0; i < 20; i++) {
		PGresult *res = PQexec(c, "SELECT count(*) FILTER (WHERE pid <> pg_backend_pid()), "
					  "(SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()) "
					  "FROM pg_stat_activity WHERE datname = current_database()");
		ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
		bool others = strtol(PQgetvalue(res, 0, 0), NULL, 10) > 0;
		n = strtol(PQgetvalue(res, 0, 1), NULL, 10);
		PQclear(res);
		if (!others)
			break;
		usleep(100 * 1000);
	}
	PQfinish(c);
	return n;
}

static void *renamer(void *arg)
{
	struct writer *w = arg;
	for (int k = 0; k < ROUNDS; k++) {
		char body[96];
		snprintf(body, sizeof body, "{\"experiment_id\":\"1\",\"new_name\":\"w%d-%d\"}", w->index, k);
		struct th_response r = th_call(w->d, "POST", API "experiments/update", body);
		if (r.status != 200 && !w->bad_status)
			w->bad_status = r.status;
		th_response_free(&r);
	}
	return NULL;
}

START_TEST(concurrent_renames_of_one_experiment_all_succeed)
{
	char *url = th_db_create();
	struct th_daemon *d = th_daemon_start("experiment-tracker", url, NULL);
	json_decref(th_ok(d, "POST", API "experiments/create", "{\"name\":\"contended\"}"));
	pthread_t th[WRITERS];
	struct writer w[WRITERS];
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){.d = d, .index = i};
		ck_assert_int_eq(pthread_create(&th[i], NULL, renamer, &w[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < WRITERS; i++)
		ck_assert_msg(w[i].bad_status == 0, "writer %d got %ld", i, w[i].bad_status);

	/* one of the names written, and only that name finds it */
	char *name = experiment_name(d, "1");
	int wi = -1, k = -1;
	ck_assert_int_eq(sscanf(name, "w%d-%d", &wi, &k), 2);
	ck_assert(wi >= 0 && wi < WRITERS && k >= 0 && k < ROUNDS);
	char *path = th_fmt(API "experiments/get-by-name?experiment_name=%s", name);
	json_t *j = th_ok(d, "GET", path, NULL);
	ck_assert_str_eq(str_at(json_object_get(j, "experiment"), "experiment_id"), "1");
	json_decref(j);
	free(path);
	struct th_response r = th_call(d, "GET", API "experiments/get-by-name?experiment_name=contended", NULL);
	th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	th_response_free(&r);
	ck_assert_int_eq(count_experiments(d, "ALL"), 2);
	free(name);
	th_daemon_stop(d);
	ck_assert_int_eq(deadlocks(url), 0); /* not even ones the retries hid */
	free(url);
}
END_TEST

/* Even writers delete, odd ones restore. Deleting a deleted experiment (or restoring
 * an active one) is MLflow's 404, so those are the only other answers allowed. */
static void *stager(void *arg)
{
	struct writer *w = arg;
	bool del = w->index % 2 == 0;
	for (int k = 0; k < ROUNDS; k++) {
		struct th_response r = th_call(w->d, "POST", del ? API "experiments/delete" : API "experiments/restore",
					       "{\"experiment_id\":\"1\"}");
		if (r.status == 200)
			del ? w->deletes++ : w->restores++;
		else if (!(r.status == 404 && r.body && strstr(r.body, "RESOURCE_DOES_NOT_EXIST")) && !w->bad_status)
			w->bad_status = r.status;
		th_response_free(&r);
	}
	return NULL;
}

START_TEST(concurrent_deletes_and_restores_of_one_experiment_add_up)
{
	char *url = th_db_create();
	struct th_daemon *d = th_daemon_start("experiment-tracker", url, NULL);
	json_decref(th_ok(d, "POST", API "experiments/create", "{\"name\":\"flipping\"}"));
	json_t *j = th_ok(d, "POST", API "runs/create", "{\"experiment_id\":\"1\",\"run_name\":\"rider\"}");
	char *run = strdup(str_at(json_object_get(json_object_get(j, "run"), "info"), "run_id"));
	json_decref(j);

	pthread_t th[WRITERS];
	struct writer w[WRITERS];
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){.d = d, .index = i};
		ck_assert_int_eq(pthread_create(&th[i], NULL, stager, &w[i]), 0);
	}
	for (int i = 0; i < WRITERS; i++)
		pthread_join(th[i], NULL);
	int deletes = 0, restores = 0;
	for (int i = 0; i < WRITERS; i++) {
		ck_assert_msg(w[i].bad_status == 0, "writer %d got %ld", i, w[i].bad_status);
		deletes += w[i].deletes;
		restores += w[i].restores;
	}
	/* the successes alternate, starting from active */
	ck_assert_int_ge(deletes, 1);
	ck_assert_msg(deletes == restores || deletes == restores + 1, "%d deletes, %d restores", deletes, restores);
	const char *want = deletes == restores ? "active" : "deleted";
	j = th_ok(d, "GET", API "experiments/get?experiment_id=1", NULL);
	ck_assert_str_eq(str_at(json_object_get(j, "experiment"), "lifecycle_stage"), want);
	json_decref(j);
	char *path = th_fmt(API "runs/get?run_id=%s", run); /* the run follows its experiment */
	j = th_ok(d, "GET", path, NULL);
	ck_assert_str_eq(str_at(json_object_get(json_object_get(j, "run"), "info"), "lifecycle_stage"), want);
	json_decref(j);
	free(path);
	free(run);
	th_daemon_stop(d);
	ck_assert_int_eq(deadlocks(url), 0); /* not even ones the retries hid */
	free(url);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	Suite *s = suite_create("tracker_limits");
	TCase *tc = tcase_create("limits_and_contention");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, experiment_names_over_256_characters_refused);
	tcase_add_test(tc, run_names_over_250_characters_refused);
	tcase_add_test(tc, concurrent_renames_of_one_experiment_all_succeed);
	tcase_add_test(tc, concurrent_deletes_and_restores_of_one_experiment_add_up);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? 1 : 0;
}

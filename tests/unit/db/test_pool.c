/* Unit tests for libs/db pool.c: one Suite "pool", a TCase per feature.
 *
 *   open         config checks; opening and failing fast with no server behind the url
 *   concurrency  N threads x M acquire/query/release cycles: no connection is ever held
 *                by two threads, no more backends than the pool size
 *   timeout      acquire gives up after acquire_timeout_ms; a waiter is woken by release
 *   settings     application_name and search_path (an awkward schema name) on every
 *                connection
 *   release      a transaction left open (or aborted) is rolled back at release; a
 *                connection left mid-COPY is closed; closing a pool with a borrowed
 *                connection, or releasing one twice, aborts
 *   stale        an idle connection the server closed is replaced at acquire, silently
 *   ping         db_ping with idle connections and with all of them borrowed
 * Each test gets its own database (th_db_create); needs LATHE_TEST_PG_URL (run through
 * tools/run-tests.sh). */
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "db_test.h"

static const struct db_stmt add_one = {
	.name = "test_add_one",
	.sql = "SELECT $1::int + 1, pg_backend_pid()",
	.n_params = 1,
};

/* A loopback port nothing listens on. */
static unsigned closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static int noop_tx(struct db_conn *c, void *cls)
{
	(void)c;
	(void)cls;
	return 0;
}

/* ---- open --------------------------------------------------------------------- */

START_TEST(test_open_rejects_bad_config)
{
	struct db_pool *pool = NULL;
	struct core_error err = {{0}};
	struct db_pool_config cfg = {.url = "postgresql://127.0.0.1/x", .size = 0};

	ck_assert_int_eq(db_pool_open(&cfg, &pool, &err), CORE_EINVAL);
	ck_assert_ptr_null(pool);
	ck_assert_ptr_nonnull(strstr(err.message, "size"));
	cfg.size = 1001;
	ck_assert_int_eq(db_pool_open(&cfg, &pool, &err), CORE_EINVAL);
	cfg.size = 2;
	cfg.url = NULL;
	ck_assert_int_eq(db_pool_open(&cfg, &pool, &err), CORE_EINVAL);
	cfg.url = "host=127.0.0.1 nonsense_option=1";
	ck_assert_int_eq(db_pool_open(&cfg, &pool, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "url"));
	ck_assert_int_eq(db_pool_open(NULL, &pool, &err), CORE_EINVAL);
	ck_assert_ptr_null(pool);
	db_pool_close(NULL);
}
END_TEST

START_TEST(test_open_without_server)
{
	char url[128];
	struct db_pool *pool;
	struct core_error err = {{0}};
	uint64_t start;

	snprintf(url, sizeof url, "postgresql://postgres@127.0.0.1:%u/postgres", closed_port());
	pool = dbt_pool(url, 2, "svc", "db-test");
	start = core_monotonic_ns();
	ck_assert_ptr_null(db_acquire(pool, &err));
	ck_assert_msg(strstr(err.message, "cannot connect"), "%s", err.message);
	ck_assert(!db_ping(pool));
	ck_assert_int_eq(db_run_tx(pool, "t", DB_READ_COMMITTED, noop_tx, NULL, &err), DB_UNAVAILABLE);
	ck_assert_msg(strstr(err.message, "tx t: db: cannot connect"), "%s", err.message);
	ck_assert_int_lt(dbt_ms_since(start), 2000);
	db_pool_close(pool);
}
END_TEST

/* ---- concurrency -------------------------------------------------------------- */

#define N_THREADS 8
#define N_CYCLES  150
#define POOL_SIZE 3

struct shared {
	struct db_pool *pool;
	pthread_mutex_t lock;
	struct db_conn *held[N_THREADS]; /* what each thread holds now */
	int ok[N_THREADS];
	char failure[600];
};

struct worker {
	struct shared *sh;
	int index;
};

static void note_failure(struct shared *sh, const char *what)
{
	pthread_mutex_lock(&sh->lock);
	if (!sh->failure[0])
		snprintf(sh->failure, sizeof sh->failure, "%s", what);
	pthread_mutex_unlock(&sh->lock);
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct shared *sh = w->sh;

	for (int i = 0; i < N_CYCLES; i++) {
		struct core_error err = {{0}};
		struct db_conn *c = db_acquire(sh->pool, &err);
		char in[16];
		const char *params[1] = {in};
		PGresult *res = NULL;
		int64_t v = 0;
		bool shared_conn = false;

		if (!c) {
			note_failure(sh, err.message);
			continue;
		}
		pthread_mutex_lock(&sh->lock);
		for (int t = 0; t < N_THREADS; t++)
			shared_conn |= sh->held[t] == c;
		sh->held[w->index] = c;
		pthread_mutex_unlock(&sh->lock);
		if (shared_conn)
			note_failure(sh, "a connection was handed to two threads at once");
		snprintf(in, sizeof in, "%d", w->index * 1000 + i);
		if (db_exec(c, &add_one, params, &res, &err) != 1 || db_get_int64(res, 0, 0, &v, &err) != CORE_OK ||
		    v != w->index * 1000 + i + 1)
			note_failure(sh, err.message[0] ? err.message : "wrong answer");
		else
			sh->ok[w->index]++;
		PQclear(res);
		pthread_mutex_lock(&sh->lock);
		sh->held[w->index] = NULL;
		pthread_mutex_unlock(&sh->lock);
		db_release(c);
	}
	return NULL;
}

START_TEST(test_threads)
{
	char *url = th_db_create();
	struct shared sh = {.pool = dbt_pool(url, POOL_SIZE, NULL, "db-test-threads")};
	pthread_t th[N_THREADS];
	struct worker w[N_THREADS];
	int total = 0;
	int64_t backends;

	pthread_mutex_init(&sh.lock, NULL);
	for (int t = 0; t < N_THREADS; t++) {
		w[t] = (struct worker){.sh = &sh, .index = t};
		ck_assert_int_eq(pthread_create(&th[t], NULL, worker_run, &w[t]), 0);
	}
	for (int t = 0; t < N_THREADS; t++)
		pthread_join(th[t], NULL);
	ck_assert_msg(!sh.failure[0], "%s", sh.failure);
	for (int t = 0; t < N_THREADS; t++)
		total += sh.ok[t];
	ck_assert_int_eq(total, N_THREADS * N_CYCLES);
	backends = dbt_admin_scalar(url,
				    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'db-test-threads' "
				    "AND datname = current_database()");
	ck_assert_int_ge(backends, 1);
	ck_assert_int_le(backends, POOL_SIZE);
	db_pool_close(sh.pool);
	pthread_mutex_destroy(&sh.lock);
	/* db_pool_close closed them all (backends exit a moment after the client leaves) */
	for (int i = 0; i < 200; i++) {
		backends = dbt_admin_scalar(url, "SELECT count(*) FROM pg_stat_activity "
						 "WHERE application_name = 'db-test-threads' "
						 "AND datname = current_database()");
		if (backends == 0)
			break;
		usleep(10 * 1000);
	}
	ck_assert_int_eq(backends, 0);
	free(url);
}
END_TEST

/* ---- timeout ------------------------------------------------------------------ */

START_TEST(test_acquire_timeout)
{
	char *url = th_db_create();
	struct db_pool_config cfg = {.url = url, .size = 2, .acquire_timeout_ms = 300};
	struct db_pool *pool = NULL;
	struct core_error err = {{0}};
	struct db_conn *a, *b;
	uint64_t start;
	int64_t waited;

	ck_assert_int_eq(db_pool_open(&cfg, &pool, &err), CORE_OK);
	a = dbt_acquire(pool);
	b = dbt_acquire(pool);
	ck_assert_ptr_ne(a, b);
	start = core_monotonic_ns();
	ck_assert_ptr_null(db_acquire(pool, &err));
	waited = dbt_ms_since(start);
	ck_assert_int_ge(waited, 250);
	ck_assert_int_lt(waited, 2000);
	ck_assert_msg(strstr(err.message, "no connection became free within 300 ms"), "%s", err.message);
	/* db_run_tx answers 503 the same way */
	ck_assert_int_eq(db_run_tx(pool, "t", DB_READ_COMMITTED, noop_tx, NULL, &err), DB_UNAVAILABLE);
	ck_assert_msg(strstr(err.message, "no connection became free"), "%s", err.message);
	db_release(b);
	b = dbt_acquire(pool);
	db_release(a);
	db_release(b);
	db_pool_close(pool);
	free(url);
}
END_TEST

struct waiter {
	struct db_pool *pool;
	struct db_conn *got;
	int64_t waited_ms;
};

static void *waiter_run(void *arg)
{
	struct waiter *w = arg;
	uint64_t start = core_monotonic_ns();

	w->got = db_acquire(w->pool, NULL);
	w->waited_ms = dbt_ms_since(start);
	return NULL;
}

START_TEST(test_release_wakes_waiter)
{
	char *url = th_db_create();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	struct db_conn *c = dbt_acquire(pool);
	struct waiter w = {.pool = pool};
	pthread_t th;

	ck_assert_int_eq(pthread_create(&th, NULL, waiter_run, &w), 0);
	usleep(150 * 1000);
	db_release(c);
	pthread_join(th, NULL);
	ck_assert_ptr_eq(w.got, c);
	ck_assert_int_lt(w.waited_ms, 3000); /* woken, not timed out (5 s) */
	db_release(w.got);
	db_pool_close(pool);
	free(url);
}
END_TEST

/* ---- settings ----------------------------------------------------------------- */

static int slow_tx(struct db_conn *c, void *cls)
{
	static const struct db_stmt slow = {"test_slow", "SELECT pg_sleep(2)", 0};
	(void)cls;
	return db_exec(c, &slow, NULL, NULL, NULL);
}

START_TEST(test_application_name_and_search_path)
{
	char *url = th_db_create();
	const char *schema = "odd \"name\"; DROP TABLE x";
	struct db_pool *pool;
	struct db_conn *c;
	PGresult *res = NULL;
	static const struct db_stmt read_t = {"test_read_t", "SELECT x FROM t", 0};
	static const struct db_stmt app = {"test_app", "SELECT current_setting('application_name')", 0};

	dbt_admin(url, "CREATE SCHEMA \"odd \"\"name\"\"; DROP TABLE x\";"
		       "CREATE TABLE \"odd \"\"name\"\"; DROP TABLE x\".t (x int); "
		       "INSERT INTO \"odd \"\"name\"\"; DROP TABLE x\".t VALUES (42);"
		       "CREATE TABLE public.t (x int); INSERT INTO public.t VALUES (7)");
	pool = dbt_pool(url, 2, schema, "lathe-db-test");
	c = dbt_acquire(pool);
	ck_assert_int_eq(db_exec(c, &read_t, NULL, &res, NULL), 1);
	ck_assert_str_eq(db_get_text(res, 0, 0), "42");
	PQclear(res);
	ck_assert_int_eq(db_exec(c, &app, NULL, &res, NULL), 1);
	ck_assert_str_eq(db_get_text(res, 0, 0), "lathe-db-test");
	PQclear(res);
	db_release(c);
	db_pool_close(pool);

	/* no schema: the default search_path finds public.t */
	pool = dbt_pool(url, 1, NULL, NULL);
	c = dbt_acquire(pool);
	ck_assert_int_eq(db_exec(c, &read_t, NULL, &res, NULL), 1);
	ck_assert_str_eq(db_get_text(res, 0, 0), "7");
	PQclear(res);
	db_release(c);
	db_pool_close(pool);
	free(url);
}
END_TEST

/* statement_timeout: a statement past it answers DB_TIMEOUT (57014), the connection
 * stays in the pool usable and keeps the timeout; db_migrate lifts it for its own
 * work and puts it back. */
START_TEST(test_statement_timeout)
{
	char *url = th_db_create();
	struct db_pool_config cfg = {.url = url, .size = 1, .acquire_timeout_ms = 5000, .statement_timeout_ms = 100};
	struct db_pool *pool = NULL;
	struct core_error err = {{0}};
	static const struct db_stmt slow = {"test_slow", "SELECT pg_sleep(2)", 0};
	static const struct core_embedded_file files[] = {
		{"0001-slow.sql", (const unsigned char *)"SELECT pg_sleep(0.3); CREATE TABLE m (x int);",
		 sizeof "SELECT pg_sleep(0.3); CREATE TABLE m (x int);" - 1},
		{NULL, NULL, 0},
	};

	ck_assert_int_eq(db_pool_open(&cfg, &pool, &err), CORE_OK);
	struct db_conn *c = dbt_acquire(pool);
	int64_t pid = dbt_scalar(c, "SELECT pg_backend_pid()");
	uint64_t t0 = core_monotonic_ns();
	ck_assert_int_eq(db_exec(c, &slow, NULL, NULL, &err), DB_TIMEOUT);
	ck_assert_int_lt(dbt_ms_since(t0), 1500);
	ck_assert_str_eq(db_conn_sqlstate(c), "57014");
	ck_assert_str_eq(db_strerror(DB_TIMEOUT), "DB_TIMEOUT");
	ck_assert_int_eq(dbt_scalar(c, "SELECT 1"), 1); /* still usable in the same borrow */
	db_release(c);

	/* the migration's 300 ms statement runs; the timeout is back afterwards */
	ck_assert_msg(db_migrate(pool, "st", "service", files, &err) == CORE_OK, "%s", err.message);
	c = dbt_acquire(pool);
	ck_assert_int_eq(dbt_scalar(c, "SELECT pg_backend_pid()"), pid); /* the same session */
	ck_assert_int_eq(dbt_scalar(c, "SELECT setting::int FROM pg_settings WHERE name = 'statement_timeout'"), 100);
	ck_assert_int_eq(db_exec(c, &slow, NULL, NULL, &err), DB_TIMEOUT);
	db_release(c);

	/* a transaction that times out is not retried: one attempt, DB_TIMEOUT */
	t0 = core_monotonic_ns();
	ck_assert_int_eq(db_run_tx(pool, "slow", DB_READ_COMMITTED, slow_tx, NULL, &err), DB_TIMEOUT);
	ck_assert_int_lt(dbt_ms_since(t0), 1500);
	db_pool_close(pool);
	free(url);
}
END_TEST

/* ---- release ------------------------------------------------------------------ */

START_TEST(test_release_rolls_back)
{
	char *url = th_db_create();
	struct db_pool *pool;
	struct db_conn *c;

	dbt_admin(url, "CREATE TABLE t (x int)");
	pool = dbt_pool(url, 1, NULL, NULL);
	c = dbt_acquire(pool);
	ck_assert_int_eq(db_exec_sql(c, "BEGIN; INSERT INTO t VALUES (1)", NULL), 1);
	ck_assert_int_eq(PQtransactionStatus(db_conn_pg(c)), PQTRANS_INTRANS);
	db_release(c);

	c = dbt_acquire(pool);
	ck_assert_int_eq(PQtransactionStatus(db_conn_pg(c)), PQTRANS_IDLE);
	ck_assert_int_eq(dbt_scalar(c, "SELECT count(*) FROM t"), 0);
	/* an aborted transaction too */
	ck_assert_int_eq(db_exec_sql(c, "BEGIN", NULL), 0);
	ck_assert_int_eq(db_exec_sql(c, "SELECT nonsense FROM t", NULL), DB_HARD_ERROR);
	ck_assert_int_eq(PQtransactionStatus(db_conn_pg(c)), PQTRANS_INERROR);
	db_release(c);
	c = dbt_acquire(pool);
	ck_assert_int_eq(PQtransactionStatus(db_conn_pg(c)), PQTRANS_IDLE);
	ck_assert_int_eq(dbt_scalar(c, "SELECT 5"), 5);
	db_release(c);
	db_pool_close(pool);
	free(url);
}
END_TEST

START_TEST(test_release_mid_copy_closes)
{
	char *url = th_db_create();
	struct db_pool *pool;
	struct db_conn *c;
	int64_t pid;

	dbt_admin(url, "CREATE TABLE t (x int)");
	pool = dbt_pool(url, 1, NULL, NULL);
	c = dbt_acquire(pool);
	pid = dbt_scalar(c, "SELECT pg_backend_pid()");
	ck_assert_int_eq(db_exec_sql(c, "COPY t FROM STDIN", NULL), 0);
	ck_assert_int_eq(PQputCopyData(db_conn_pg(c), "1\n", 2), 1);
	ck_assert_int_eq(PQtransactionStatus(db_conn_pg(c)), PQTRANS_ACTIVE);
	db_release(c); /* abandoned mid-COPY: closed, not handed out again */

	c = dbt_acquire(pool);
	ck_assert_int_ne(dbt_scalar(c, "SELECT pg_backend_pid()"), pid);
	ck_assert_int_eq(dbt_scalar(c, "SELECT count(*) FROM t"), 0);
	/* a COPY finished properly leaves the connection usable */
	ck_assert_int_eq(db_exec_sql(c, "COPY t FROM STDIN", NULL), 0);
	ck_assert_int_eq(PQputCopyData(db_conn_pg(c), "1\n2\n", 4), 1);
	ck_assert_int_eq(PQputCopyEnd(db_conn_pg(c), NULL), 1);
	{
		PGresult *r;

		while ((r = PQgetResult(db_conn_pg(c))) != NULL) {
			ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
			PQclear(r);
		}
	}
	pid = dbt_scalar(c, "SELECT pg_backend_pid()");
	db_release(c);
	c = dbt_acquire(pool);
	ck_assert_int_eq(dbt_scalar(c, "SELECT pg_backend_pid()"), pid);
	ck_assert_int_eq(dbt_scalar(c, "SELECT count(*) FROM t"), 2);
	db_release(c);
	db_pool_close(pool);
	free(url);
}
END_TEST

/* Misuse is a bug that must not pass quietly: these end the process with SIGABRT. */
START_TEST(test_close_with_borrowed_aborts)
{
	char *url = th_db_create();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);

	dbt_acquire(pool);
	db_pool_close(pool);
}
END_TEST

START_TEST(test_double_release_aborts)
{
	char *url = th_db_create();
	struct db_pool *pool = dbt_pool(url, 2, NULL, NULL);
	struct db_conn *c = dbt_acquire(pool);

	db_release(c);
	db_release(c);
}
END_TEST

/* ---- stale -------------------------------------------------------------------- */

START_TEST(test_stale_idle_connection_replaced)
{
	char *url = th_db_create();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	struct db_conn *c = dbt_acquire(pool);
	const char *params[1] = {"1"};
	struct core_error err = {{0}};
	int64_t pid = dbt_scalar(c, "SELECT pg_backend_pid()");

	ck_assert_int_eq(db_exec(c, &add_one, params, NULL, NULL), 1);
	db_release(c);
	dbt_kill_backend(url, pid);

	c = dbt_acquire(pool);
	ck_assert_int_ne(dbt_scalar(c, "SELECT pg_backend_pid()"), pid);
	/* prepared again on the new session, without a word to the caller */
	ck_assert_msg(db_exec(c, &add_one, params, NULL, &err) == 1, "%s", err.message);
	db_release(c);
	db_pool_close(pool);
	free(url);
}
END_TEST

/* ---- ping --------------------------------------------------------------------- */

START_TEST(test_ping)
{
	char *url = th_db_create();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	struct db_conn *c;

	ck_assert(db_ping(pool)); /* connects the idle slot */
	c = dbt_acquire(pool);
	ck_assert(db_ping(pool)); /* all borrowed: a short-lived extra connection */
	db_release(c);
	ck_assert(db_ping(pool));
	ck_assert(!db_ping(NULL));
	db_pool_close(pool);
	free(url);
}
END_TEST

static Suite *pool_suite(void)
{
	Suite *s = suite_create("pool");
	TCase *tc;

	tc = tcase_create("open");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_open_rejects_bad_config);
	tcase_add_test(tc, test_open_without_server);
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrency");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);

	tc = tcase_create("timeout");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_acquire_timeout);
	tcase_add_test(tc, test_release_wakes_waiter);
	suite_add_tcase(s, tc);

	tc = tcase_create("settings");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_application_name_and_search_path);
	tcase_add_test(tc, test_statement_timeout);
	suite_add_tcase(s, tc);

	tc = tcase_create("release");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_release_rolls_back);
	tcase_add_test(tc, test_release_mid_copy_closes);
	tcase_add_test_raise_signal(tc, test_close_with_borrowed_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, test_double_release_aborts, SIGABRT);
	suite_add_tcase(s, tc);

	tc = tcase_create("stale");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_stale_idle_connection_replaced);
	suite_add_tcase(s, tc);

	tc = tcase_create("ping");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_ping);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pool_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

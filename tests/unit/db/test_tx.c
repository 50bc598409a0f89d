/* Unit tests for libs/db tx.c (db_run_tx): one Suite "tx".
 *
 *   commit     the body's result comes back and its rows stay; each isolation level is
 *              the one asked for
 *   rollback   a negative return rolls back and comes back with err; a body that ignores
 *              a failed statement gets DB_HARD_ERROR, not a false success; constraint
 *              violations are not retried
 *   retry      a real serialization failure (forced with a second connection) is retried;
 *              two threads incrementing one counter under SERIALIZABLE all succeed and the
 *              count is exact; a body that stays soft is given up after DB_TX_RETRIES
 *   reconnect  a connection that dies before COMMIT is retried once on a fresh one, and
 *              only once
 *   autocommit no BEGIN: the write is visible to others before the body returns; soft
 *              errors are retried, constraint failures are not; a body that opens a
 *              transaction gets DB_HARD_ERROR and its write is rolled back; a connection
 *              lost in the body is not retried (its statement may have committed)
 * Each test gets its own database (th_db_create). */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_test.h"

static const struct db_stmt insert_item = {
	.name = "test_insert_item",
	.sql = "INSERT INTO items (name) VALUES ($1)",
	.n_params = 1,
};

static const struct db_stmt read_counter = {
	.name = "test_read_counter",
	.sql = "SELECT v FROM counter WHERE id = 1",
	.n_params = 0,
};

static const struct db_stmt write_counter = {
	.name = "test_write_counter",
	.sql = "UPDATE counter SET v = $1::bigint WHERE id = 1",
	.n_params = 1,
};

static char *setup_db(void)
{
	char *url = th_db_create();

	dbt_admin(url, "CREATE TABLE items (name text CONSTRAINT items_name_key PRIMARY KEY);"
		       "CREATE TABLE counter (id int PRIMARY KEY, v bigint NOT NULL);"
		       "INSERT INTO counter VALUES (1, 0)");
	return url;
}

/* What the bodies below share with their test. */
struct body {
	const char *name;     /* item to insert */
	atomic_int attempts;  /* times the body ran */
	struct db_pool *pool; /* for bodies that need a second connection */
	char seen[64];        /* what the body read */
};

/* ---- commit ------------------------------------------------------------------- */

static int insert_fn(struct db_conn *c, void *cls)
{
	struct body *b = cls;
	const char *params[1] = {b->name};

	atomic_fetch_add(&b->attempts, 1);
	return db_exec(c, &insert_item, params, NULL, NULL);
}

START_TEST(test_commit)
{
	char *url = setup_db();
	struct db_pool *pool = dbt_pool(url, 2, NULL, NULL);
	struct body b = {.name = "one"};
	struct core_error err = {{0}};

	ck_assert_int_eq(db_run_tx(pool, "insert", DB_READ_COMMITTED, insert_fn, &b, &err), 1);
	ck_assert_int_eq(atomic_load(&b.attempts), 1);
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM items WHERE name = 'one'"), 1);
	db_pool_close(pool);
	free(url);
}
END_TEST

static int isolation_fn(struct db_conn *c, void *cls)
{
	static const struct db_stmt st = {"test_isolation", "SELECT current_setting('transaction_isolation')", 0};
	struct body *b = cls;
	PGresult *res = NULL;
	int rc = db_exec(c, &st, NULL, &res, NULL);

	if (rc == 1)
		snprintf(b->seen, sizeof b->seen, "%s", db_get_text(res, 0, 0));
	PQclear(res);
	return rc;
}

START_TEST(test_isolation_levels)
{
	char *url = setup_db();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	static const struct {
		enum db_isolation iso;
		const char *name;
	} cases[] = {
		{DB_READ_COMMITTED, "read committed"},
		{DB_REPEATABLE_READ, "repeatable read"},
		{DB_SERIALIZABLE, "serializable"},
	};
	struct core_error err = {{0}};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct body b = {0};

		ck_assert_int_eq(db_run_tx(pool, "iso", cases[i].iso, isolation_fn, &b, &err), 1);
		ck_assert_str_eq(b.seen, cases[i].name);
	}
	ck_assert_int_eq(db_run_tx(pool, "iso", (enum db_isolation)7, isolation_fn, NULL, &err), DB_HARD_ERROR);
	ck_assert_int_eq(db_run_tx(NULL, "iso", DB_SERIALIZABLE, isolation_fn, NULL, &err), DB_HARD_ERROR);
	db_pool_close(pool);
	free(url);
}
END_TEST

/* ---- rollback ----------------------------------------------------------------- */

static int insert_then_fail_fn(struct db_conn *c, void *cls)
{
	int rc = insert_fn(c, cls);

	return rc < 0 ? rc : DB_HARD_ERROR;
}

START_TEST(test_rollback_on_negative)
{
	char *url = setup_db();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	struct body b = {.name = "doomed"};
	struct core_error err = {{0}};

	ck_assert_int_eq(db_run_tx(pool, "doomed_tx", DB_READ_COMMITTED, insert_then_fail_fn, &b, &err), DB_HARD_ERROR);
	ck_assert_int_eq(atomic_load(&b.attempts), 1);
	ck_assert_msg(strstr(err.message, "tx doomed_tx: the callback returned DB_HARD_ERROR"), "%s", err.message);
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM items"), 0);
	/* the connection went back clean */
	{
		struct db_conn *c = dbt_acquire(pool);

		ck_assert_int_eq(PQtransactionStatus(db_conn_pg(c)), PQTRANS_IDLE);
		db_release(c);
	}
	db_pool_close(pool);
	free(url);
}
END_TEST

static int ignore_error_fn(struct db_conn *c, void *cls)
{
	insert_fn(c, cls);
	db_exec_sql(c, "SELECT no_such_column FROM items", NULL); /* fails; ignored (a bug) */
	return 0;
}

static int commits_itself_fn(struct db_conn *c, void *cls)
{
	insert_fn(c, cls);
	db_exec_sql(c, "COMMIT", NULL);
	return 0;
}

START_TEST(test_ignored_failure_is_hard)
{
	char *url = setup_db();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	struct body b = {.name = "ignored"};
	struct core_error err = {{0}};

	ck_assert_int_eq(db_run_tx(pool, "sloppy", DB_READ_COMMITTED, ignore_error_fn, &b, &err), DB_HARD_ERROR);
	ck_assert_msg(strstr(err.message, "had failed"), "%s", err.message);
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM items"), 0);
	ck_assert_int_eq(db_run_tx(pool, "rogue", DB_READ_COMMITTED, commits_itself_fn, &b, &err), DB_HARD_ERROR);
	ck_assert_msg(strstr(err.message, "no longer open"), "%s", err.message);
	db_pool_close(pool);
	free(url);
}
END_TEST

START_TEST(test_constraint_not_retried)
{
	char *url = setup_db();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	struct body b = {.name = "dup"};
	struct core_error err = {{0}};

	ck_assert_int_eq(db_run_tx(pool, "first", DB_SERIALIZABLE, insert_fn, &b, &err), 1);
	ck_assert_int_eq(db_run_tx(pool, "second", DB_SERIALIZABLE, insert_fn, &b, &err), DB_CONSTRAINT);
	ck_assert_int_eq(atomic_load(&b.attempts), 2);
	ck_assert_msg(strstr(err.message, "tx second: stmt test_insert_item: SQLSTATE 23505") &&
			      strstr(err.message, "items_name_key"),
		      "%s", err.message);
	db_pool_close(pool);
	free(url);
}
END_TEST

/* ---- retry -------------------------------------------------------------------- */

/* Reads the counter and writes it back plus one: a lost update unless serialized. */
static int increment_fn(struct db_conn *c, void *cls)
{
	struct body *b = cls;
	PGresult *res = NULL;
	int64_t v = 0;
	char next[24];
	const char *params[1] = {next};
	int rc;

	atomic_fetch_add(&b->attempts, 1);
	rc = db_exec(c, &read_counter, NULL, &res, NULL);
	if (rc != 1 || db_get_int64(res, 0, 0, &v, NULL) != CORE_OK) {
		PQclear(res);
		return rc < 0 ? rc : DB_HARD_ERROR;
	}
	PQclear(res);
	snprintf(next, sizeof next, "%lld", (long long)v + 1);
	return db_exec(c, &write_counter, params, NULL, NULL);
}

/* The first attempt reads, lets another connection bump the counter, then writes:
 * PostgreSQL answers 40001 and the retry must see the bumped value. */
static int conflicted_fn(struct db_conn *c, void *cls)
{
	static const struct db_stmt bump = {"test_bump", "UPDATE counter SET v = v + 100 WHERE id = 1", 0};
	struct body *b = cls;
	PGresult *res = NULL;
	int64_t v = 0;
	char next[24];
	const char *params[1] = {next};
	int rc;

	rc = db_exec(c, &read_counter, NULL, &res, NULL);
	if (rc != 1 || db_get_int64(res, 0, 0, &v, NULL) != CORE_OK) {
		PQclear(res);
		return DB_HARD_ERROR;
	}
	PQclear(res);
	if (atomic_fetch_add(&b->attempts, 1) == 0) {
		struct db_conn *other = db_acquire(b->pool, NULL);

		if (!other || db_exec(other, &bump, NULL, NULL, NULL) != 1) {
			db_release(other);
			return DB_HARD_ERROR;
		}
		db_release(other);
	}
	snprintf(next, sizeof next, "%lld", (long long)v + 1);
	rc = db_exec(c, &write_counter, params, NULL, NULL);
	if (rc == DB_SOFT_ERROR)
		snprintf(b->seen, sizeof b->seen, "%s", db_conn_sqlstate(c));
	return rc;
}

START_TEST(test_retry_on_serialization_failure)
{
	char *url = setup_db();
	struct db_pool *pool = dbt_pool(url, 2, NULL, NULL);
	struct body b = {.pool = pool};
	struct core_error err = {{0}};

	ck_assert_msg(db_run_tx(pool, "conflicted", DB_SERIALIZABLE, conflicted_fn, &b, &err) == 1, "%s", err.message);
	ck_assert_int_eq(atomic_load(&b.attempts), 2);
	ck_assert_str_eq(b.seen, "40001");
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT v FROM counter"), 101);
	db_pool_close(pool);
	free(url);
}
END_TEST

#define INCREMENTS 50

struct incrementer {
	struct db_pool *pool;
	pthread_barrier_t *start;
	struct body body;
	int committed;
	char failure[600];
};

static void *incrementer_run(void *arg)
{
	struct incrementer *inc = arg;

	pthread_barrier_wait(inc->start);
	for (int i = 0; i < INCREMENTS; i++) {
		struct core_error err = {{0}};
		int rc = db_run_tx(inc->pool, "increment", DB_SERIALIZABLE, increment_fn, &inc->body, &err);

		if (rc == 1)
			inc->committed++;
		else if (!inc->failure[0])
			snprintf(inc->failure, sizeof inc->failure, "%s: %s", db_strerror(rc), err.message);
	}
	return NULL;
}

START_TEST(test_two_threads_serializable_counter)
{
	char *url = setup_db();
	struct db_pool *pool = dbt_pool(url, 2, NULL, NULL);
	pthread_barrier_t start;
	struct incrementer inc[2] = {{.pool = pool, .start = &start}, {.pool = pool, .start = &start}};
	pthread_t th[2];
	int attempts;

	pthread_barrier_init(&start, NULL, 2);
	for (int t = 0; t < 2; t++)
		ck_assert_int_eq(pthread_create(&th[t], NULL, incrementer_run, &inc[t]), 0);
	for (int t = 0; t < 2; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&start);
	for (int t = 0; t < 2; t++) {
		ck_assert_msg(!inc[t].failure[0], "thread %d: %s", t, inc[t].failure);
		ck_assert_int_eq(inc[t].committed, INCREMENTS);
	}
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT v FROM counter"), 2 * INCREMENTS);
	attempts = atomic_load(&inc[0].body.attempts) + atomic_load(&inc[1].body.attempts);
	ck_assert_int_ge(attempts, 2 * INCREMENTS);
	fprintf(stderr, "serializable counter: %d attempts for %d commits\n", attempts, 2 * INCREMENTS);
	db_pool_close(pool);
	free(url);
}
END_TEST

static int always_soft_fn(struct db_conn *c, void *cls)
{
	struct body *b = cls;

	(void)c;
	atomic_fetch_add(&b->attempts, 1);
	return DB_SOFT_ERROR;
}

START_TEST(test_gives_up_after_retries)
{
	char *url = setup_db();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	struct body b = {0};
	struct core_error err = {{0}};

	ck_assert_int_eq(db_run_tx(pool, "hopeless", DB_SERIALIZABLE, always_soft_fn, &b, &err), DB_SOFT_ERROR);
	ck_assert_int_eq(atomic_load(&b.attempts), 1 + DB_TX_RETRIES);
	ck_assert_msg(strstr(err.message, "tx hopeless: gave up after 5 retries"), "%s", err.message);
	db_pool_close(pool);
	free(url);
}
END_TEST

/* ---- autocommit --------------------------------------------------------------- */

/* Inserts with no BEGIN around it: another connection sees the row before the body
 * returns. b->seen says what the body found wrong, if anything. */
static int autocommit_insert_fn(struct db_conn *c, void *cls)
{
	static const struct db_stmt count = {"test_count_items", "SELECT count(*) FROM items WHERE name = $1", 1};
	struct body *b = cls;
	const char *params[1] = {b->name};
	struct db_conn *other;
	PGresult *res = NULL;
	int64_t n = -1;
	int rc;

	if (PQtransactionStatus(db_conn_pg(c)) != PQTRANS_IDLE)
		snprintf(b->seen, sizeof b->seen, "a transaction was open before the statement");
	rc = insert_fn(c, cls);
	if (rc < 0)
		return rc;
	other = db_acquire(b->pool, NULL);
	if (!other || db_exec(other, &count, params, &res, NULL) != 1 || db_get_int64(res, 0, 0, &n, NULL) != CORE_OK)
		n = -1;
	PQclear(res);
	db_release(other);
	if (n != 1)
		snprintf(b->seen, sizeof b->seen, "another connection saw %lld rows", (long long)n);
	return rc;
}

START_TEST(test_autocommit_commits_alone)
{
	char *url = setup_db();
	struct db_pool *pool = dbt_pool(url, 2, NULL, NULL);
	struct body b = {.name = "alone", .pool = pool};
	struct core_error err = {{0}};

	ck_assert_msg(db_run_tx(pool, "alone", DB_AUTOCOMMIT, autocommit_insert_fn, &b, &err) == 1, "%s", err.message);
	ck_assert_msg(!b.seen[0], "%s", b.seen);
	ck_assert_int_eq(atomic_load(&b.attempts), 1);
	/* a failed write is not retried and leaves nothing */
	ck_assert_int_eq(db_run_tx(pool, "again", DB_AUTOCOMMIT, insert_fn, &b, &err), DB_CONSTRAINT);
	ck_assert_int_eq(atomic_load(&b.attempts), 2);
	ck_assert_msg(strstr(err.message, "tx again: stmt test_insert_item: SQLSTATE 23505"), "%s", err.message);
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM items"), 1);
	db_pool_close(pool);
	free(url);
}
END_TEST

/* Soft on its first attempt (as a deadlock would be), then inserts. */
static int soft_once_fn(struct db_conn *c, void *cls)
{
	struct body *b = cls;

	if (atomic_load(&b->attempts) == 0) {
		atomic_fetch_add(&b->attempts, 1);
		return DB_SOFT_ERROR;
	}
	return insert_fn(c, cls);
}

/* Opens a transaction of its own and inserts in it: a bug under DB_AUTOCOMMIT. */
static int opens_tx_fn(struct db_conn *c, void *cls)
{
	int rc = db_exec_sql(c, "BEGIN", NULL);

	return rc < 0 ? rc : insert_fn(c, cls);
}

START_TEST(test_autocommit_retry_and_misuse)
{
	char *url = setup_db();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	struct body soft = {.name = "soft"}, rogue = {.name = "rogue"};
	struct core_error err = {{0}};

	ck_assert_msg(db_run_tx(pool, "soft", DB_AUTOCOMMIT, soft_once_fn, &soft, &err) == 1, "%s", err.message);
	ck_assert_int_eq(atomic_load(&soft.attempts), 2);
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM items WHERE name = 'soft'"), 1);

	ck_assert_int_eq(db_run_tx(pool, "rogue", DB_AUTOCOMMIT, opens_tx_fn, &rogue, &err), DB_HARD_ERROR);
	ck_assert_msg(strstr(err.message, "left a transaction open"), "%s", err.message);
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM items WHERE name = 'rogue'"), 0);
	{
		struct db_conn *c = dbt_acquire(pool);

		ck_assert_int_eq(PQtransactionStatus(db_conn_pg(c)), PQTRANS_IDLE);
		db_release(c);
	}
	db_pool_close(pool);
	free(url);
}
END_TEST

/* ---- reconnect ---------------------------------------------------------------- */

/* Kills its own backend on the first `kills` attempts, then inserts. */
struct killer {
	struct body body;
	int kills;
};

static int kill_self_fn(struct db_conn *c, void *cls)
{
	struct killer *k = cls;
	const char *params[1] = {k->body.name};

	if (atomic_fetch_add(&k->body.attempts, 1) < k->kills)
		return db_exec_sql(c, "SELECT pg_terminate_backend(pg_backend_pid())", NULL);
	return db_exec(c, &insert_item, params, NULL, NULL);
}

START_TEST(test_retry_once_on_broken_connection)
{
	char *url = setup_db();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	struct killer k = {.body = {.name = "survivor"}, .kills = 1};
	struct core_error err = {{0}};

	ck_assert_msg(db_run_tx(pool, "phoenix", DB_READ_COMMITTED, kill_self_fn, &k, &err) == 1, "%s", err.message);
	ck_assert_int_eq(atomic_load(&k.body.attempts), 2);
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM items WHERE name = 'survivor'"), 1);
	db_pool_close(pool);
	free(url);
}
END_TEST

START_TEST(test_broken_twice_gives_up)
{
	char *url = setup_db();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	struct killer k = {.body = {.name = "never"}, .kills = 5};
	struct core_error err = {{0}};

	ck_assert_int_eq(db_run_tx(pool, "doomed", DB_READ_COMMITTED, kill_self_fn, &k, &err), DB_UNAVAILABLE);
	ck_assert_int_eq(atomic_load(&k.body.attempts), 2);
	ck_assert_msg(strstr(err.message, "tx doomed: "), "%s", err.message);
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM items"), 0);
	/* and the pool recovers by itself */
	k = (struct killer){.body = {.name = "later"}, .kills = 0};
	ck_assert_int_eq(db_run_tx(pool, "later", DB_READ_COMMITTED, kill_self_fn, &k, &err), 1);
	db_pool_close(pool);
	free(url);
}
END_TEST

/* Under DB_AUTOCOMMIT the body's statement may have committed before the connection
 * died: no retry, and the error says the outcome is unknown. */
START_TEST(test_autocommit_lost_not_retried)
{
	char *url = setup_db();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	struct killer k = {.body = {.name = "maybe"}, .kills = 1};
	struct core_error err = {{0}};

	ck_assert_int_eq(db_run_tx(pool, "maybe", DB_AUTOCOMMIT, kill_self_fn, &k, &err), DB_UNAVAILABLE);
	ck_assert_int_eq(atomic_load(&k.body.attempts), 1);
	ck_assert_msg(strstr(err.message, "connection lost during a statement that commits by itself, outcome unknown"),
		      "%s", err.message);
	/* the pool recovers by itself */
	ck_assert_int_eq(db_run_tx(pool, "later", DB_AUTOCOMMIT, kill_self_fn, &k, &err), 1);
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM items WHERE name = 'maybe'"), 1);
	db_pool_close(pool);
	free(url);
}
END_TEST

static Suite *tx_suite(void)
{
	Suite *s = suite_create("tx");
	TCase *tc;

	tc = tcase_create("commit");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_commit);
	tcase_add_test(tc, test_isolation_levels);
	suite_add_tcase(s, tc);

	tc = tcase_create("rollback");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_rollback_on_negative);
	tcase_add_test(tc, test_ignored_failure_is_hard);
	tcase_add_test(tc, test_constraint_not_retried);
	suite_add_tcase(s, tc);

	tc = tcase_create("retry");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_retry_on_serialization_failure);
	tcase_add_test(tc, test_two_threads_serializable_counter);
	tcase_add_test(tc, test_gives_up_after_retries);
	suite_add_tcase(s, tc);

	tc = tcase_create("reconnect");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_retry_once_on_broken_connection);
	tcase_add_test(tc, test_broken_twice_gives_up);
	suite_add_tcase(s, tc);

	tc = tcase_create("autocommit");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_autocommit_commits_alone);
	tcase_add_test(tc, test_autocommit_retry_and_misuse);
	tcase_add_test(tc, test_autocommit_lost_not_retried);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tx_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

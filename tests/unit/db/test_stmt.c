/* Unit tests for libs/db stmt.c (with status.c's classification and results.c's
 * readers, which only make sense around a statement): one Suite "stmt".
 *
 *   prepare   prepared once per connection (pg_prepared_statements), on each connection,
 *             again after a reconnect; one name with two SQL texts refused
 *   params    text, NULL and binary (bytea) parameters; binary float8[] and bigint[]
 *             arrays (db_barr) read back by the server bit for bit, empty ones too
 *   counts    rows returned and rows affected
 *   errors    DB_CONSTRAINT naming the constraint, DB_HARD_ERROR for bad SQL and bad
 *             use, SQLSTATE in err, DB_UNAVAILABLE on a dead connection (and fast after)
 *   results   db_get_int64 / db_get_text, db_strerror
 * Each test gets its own database (th_db_create). */
#include <check.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_test.h"

static const struct db_stmt add_one = {
	.name = "test_add_one",
	.sql = "SELECT $1::int + 1",
	.n_params = 1,
};

static const struct db_stmt count_prepared = {
	.name = "test_count_prepared",
	.sql = "SELECT count(*), min(prepare_time)::text FROM pg_prepared_statements WHERE name = $1",
	.n_params = 1,
};

static const struct db_stmt insert_item = {
	.name = "test_insert_item",
	.sql = "INSERT INTO items (name, note) VALUES ($1, $2)",
	.n_params = 2,
};

/* How often name is prepared on c's session, and when (text, for comparing). */
static int64_t prepared_on(struct db_conn *c, const char *name, char *when, size_t when_size)
{
	const char *params[1] = {name};
	PGresult *res = NULL;
	int64_t n = -1;
	struct core_error err = {{0}};

	ck_assert_msg(db_exec(c, &count_prepared, params, &res, &err) == 1, "%s", err.message);
	ck_assert_int_eq(db_get_int64(res, 0, 0, &n, NULL), CORE_OK);
	if (when)
		snprintf(when, when_size, "%s", db_get_text(res, 0, 1) ? db_get_text(res, 0, 1) : "");
	PQclear(res);
	return n;
}

static void run_add_one(struct db_conn *c, int in)
{
	char text[16];
	const char *params[1] = {text};
	PGresult *res = NULL;
	int64_t v = 0;
	struct core_error err = {{0}};

	snprintf(text, sizeof text, "%d", in);
	ck_assert_msg(db_exec(c, &add_one, params, &res, &err) == 1, "%s", err.message);
	ck_assert_int_eq(db_get_int64(res, 0, 0, &v, NULL), CORE_OK);
	ck_assert_int_eq(v, in + 1);
	PQclear(res);
}

/* ---- prepare ------------------------------------------------------------------ */

START_TEST(test_prepared_once_per_connection)
{
	char *url = th_db_create();
	struct db_pool *pool = dbt_pool(url, 2, NULL, NULL);
	struct db_conn *a = dbt_acquire(pool);
	struct db_conn *b;
	char first[64], later[64];

	ck_assert_int_eq(prepared_on(a, add_one.name, NULL, 0), 0);
	run_add_one(a, 1);
	ck_assert_int_eq(prepared_on(a, add_one.name, first, sizeof first), 1);
	for (int i = 0; i < 5; i++)
		run_add_one(a, i);
	ck_assert_int_eq(prepared_on(a, add_one.name, later, sizeof later), 1);
	ck_assert_str_eq(first, later); /* not prepared again */
	db_release(a);

	/* two connections at once: each prepares on its own session */
	a = dbt_acquire(pool);
	b = dbt_acquire(pool);
	ck_assert_int_eq(prepared_on(b, add_one.name, NULL, 0), 0);
	run_add_one(b, 7);
	run_add_one(a, 8);
	ck_assert_int_eq(prepared_on(a, add_one.name, NULL, 0), 1);
	ck_assert_int_eq(prepared_on(b, add_one.name, NULL, 0), 1);
	db_release(b);
	db_release(a);
	db_pool_close(pool);
	free(url);
}
END_TEST

START_TEST(test_prepared_again_after_reconnect)
{
	char *url = th_db_create();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	struct db_conn *c = dbt_acquire(pool);
	struct core_error err = {{0}};
	const char *params[1] = {"1"};
	int64_t pid = dbt_scalar(c, "SELECT pg_backend_pid()");

	run_add_one(c, 1);
	/* the session dies while borrowed: the call says so and the connection stays dead */
	dbt_kill_backend(url, pid);
	ck_assert_int_eq(db_exec(c, &add_one, params, NULL, &err), DB_UNAVAILABLE);
	ck_assert_int_eq(db_exec(c, &add_one, params, NULL, &err), DB_UNAVAILABLE);
	ck_assert_msg(strstr(err.message, "broke earlier"), "%s", err.message);
	ck_assert_int_eq(db_exec_sql(c, "SELECT 1", &err), DB_UNAVAILABLE);
	db_release(c);

	c = dbt_acquire(pool);
	ck_assert_int_ne(dbt_scalar(c, "SELECT pg_backend_pid()"), pid);
	ck_assert_int_eq(prepared_on(c, add_one.name, NULL, 0), 0);
	run_add_one(c, 41);
	ck_assert_int_eq(prepared_on(c, add_one.name, NULL, 0), 1);
	db_release(c);
	db_pool_close(pool);
	free(url);
}
END_TEST

START_TEST(test_name_clash_refused)
{
	char *url = th_db_create();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	struct db_conn *c = dbt_acquire(pool);
	static const struct db_stmt impostor = {.name = "test_add_one", .sql = "SELECT $1::int - 1", .n_params = 1};
	const char *params[1] = {"5"};
	struct core_error err = {{0}};

	run_add_one(c, 5);
	ck_assert_int_eq(db_exec(c, &impostor, params, NULL, &err), DB_HARD_ERROR);
	ck_assert_msg(strstr(err.message, "different SQL"), "%s", err.message);
	run_add_one(c, 6); /* the connection is fine */
	db_release(c);
	db_pool_close(pool);
	free(url);
}
END_TEST

START_TEST(test_many_statements)
{
	char *url = th_db_create();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	struct db_conn *c = dbt_acquire(pool);
	enum { N = 100 };
	static char names[N][32], sqls[N][48];
	struct db_stmt st[N];

	/* enough to grow the per-connection set several times; each keeps its own SQL */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < N; i++) {
			PGresult *res = NULL;

			snprintf(names[i], sizeof names[i], "test_many_%d", i);
			snprintf(sqls[i], sizeof sqls[i], "SELECT %d", i * 3);
			st[i] = (struct db_stmt){.name = names[i], .sql = sqls[i], .n_params = 0};
			ck_assert_int_eq(db_exec(c, &st[i], NULL, &res, NULL), 1);
			ck_assert_int_eq(strtol(db_get_text(res, 0, 0), NULL, 10), i * 3);
			PQclear(res);
		}
	}
	ck_assert_int_eq(dbt_scalar(c, "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'test_many_%'"), N);
	db_release(c);
	db_pool_close(pool);
	free(url);
}
END_TEST

/* ---- params ------------------------------------------------------------------- */

START_TEST(test_params_and_nulls)
{
	char *url = th_db_create();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	struct db_conn *c = dbt_acquire(pool);
	static const struct db_stmt st = {
		.name = "test_nulls",
		.sql = "SELECT $1::text IS NULL, $2::text, length($2::text), $3::bigint * 2",
		.n_params = 3,
	};
	const char *with_null[3] = {NULL, "héllo 'quoted' ; DROP TABLE x", "4611686018427387903"};
	PGresult *res = NULL;
	int64_t v = 0;

	ck_assert_int_eq(db_exec(c, &st, with_null, &res, NULL), 1);
	ck_assert_str_eq(db_get_text(res, 0, 0), "t");
	ck_assert_str_eq(db_get_text(res, 0, 1), "héllo 'quoted' ; DROP TABLE x");
	ck_assert_str_eq(db_get_text(res, 0, 2), "29");
	ck_assert_int_eq(db_get_int64(res, 0, 3, &v, NULL), CORE_OK);
	ck_assert(v == INT64_C(9223372036854775806));
	PQclear(res);

	const char *empty[3] = {"", NULL, NULL};
	ck_assert_int_eq(db_exec(c, &st, empty, &res, NULL), 1);
	ck_assert_str_eq(db_get_text(res, 0, 0), "f"); /* "" is not NULL */
	ck_assert_ptr_null(db_get_text(res, 0, 1));
	ck_assert_int_eq(db_get_int64(res, 0, 3, &v, NULL), CORE_ENOENT);
	PQclear(res);
	db_release(c);
	db_pool_close(pool);
	free(url);
}
END_TEST

START_TEST(test_binary_params)
{
	char *url = th_db_create();
	struct db_pool *pool;
	struct db_conn *c;
	static const struct db_stmt put = {
		.name = "test_put_blob",
		.sql = "INSERT INTO blobs (k, v) VALUES ($1, $2) RETURNING octet_length(v)",
		.n_params = 2,
	};
	static const struct db_stmt get = {
		.name = "test_get_blob",
		.sql = "SELECT encode(v, 'hex') FROM blobs WHERE k = $1",
		.n_params = 1,
	};
	const char bytes[] = {'a', 0, 'b', (char)0xff, 0};
	const char *values[2] = {"k1", bytes};
	const int lengths[2] = {0, (int)sizeof bytes};
	const int formats[2] = {0, 1};
	PGresult *res = NULL;

	dbt_admin(url, "CREATE TABLE blobs (k text PRIMARY KEY, v bytea)");
	pool = dbt_pool(url, 1, NULL, NULL);
	c = dbt_acquire(pool);
	ck_assert_int_eq(db_exec_bin(c, &put, values, lengths, formats, &res, NULL), 1);
	ck_assert_str_eq(db_get_text(res, 0, 0), "5");
	PQclear(res);
	ck_assert_int_eq(db_exec(c, &get, values, &res, NULL), 1);
	ck_assert_str_eq(db_get_text(res, 0, 0), "610062ff00");
	PQclear(res);
	db_release(c);
	db_pool_close(pool);
	free(url);
}
END_TEST

START_TEST(test_binary_arrays)
{
	char *url = th_db_create();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	struct db_conn *c = dbt_acquire(pool);
	static const struct db_stmt show = {
		.name = "test_show_arrays",
		.sql = "SELECT array_to_string($1::float8[], ' '), array_to_string($2::bigint[], ' '), "
		       "cardinality($1::float8[]), cardinality($2::bigint[]), "
		       "(SELECT string_agg(float8send(x)::text, ' ') FROM unnest($1::float8[]) x)",
		.n_params = 2,
	};
	const double d[] = {1.5, 0.1, -0.0, NAN, INFINITY, -INFINITY, 1e300, DBL_MIN, 5e-324, -DBL_MAX};
	const int64_t i[] = {INT64_MIN, -1, 0, 1, INT64_MAX};
	struct db_barr f, n, wrong;
	const char *values[2];
	int lengths[2];
	const int formats[2] = {1, 1};
	PGresult *res = NULL;

	db_barr_init(&f, DB_BARR_F64);
	db_barr_init(&n, DB_BARR_I64);
	for (size_t k = 0; k < sizeof d / sizeof d[0]; k++)
		db_barr_add_f64(&f, d[k]);
	for (size_t k = 0; k < sizeof i / sizeof i[0]; k++)
		db_barr_add_i64(&n, i[k]);
	values[0] = db_barr_end(&f, &lengths[0]);
	values[1] = db_barr_end(&n, &lengths[1]);
	ck_assert_ptr_nonnull(values[0]);
	ck_assert_ptr_nonnull(values[1]);
	ck_assert_int_eq(db_exec_bin(c, &show, values, lengths, formats, &res, NULL), 1);
	ck_assert_str_eq(db_get_text(res, 0, 0),
			 "1.5 0.1 -0 NaN Infinity -Infinity 1e+300 2.2250738585072014e-308 5e-324 "
			 "-1.7976931348623157e+308");
	ck_assert_str_eq(db_get_text(res, 0, 1), "-9223372036854775808 -1 0 1 9223372036854775807");
	/* -0 keeps its sign bit */
	ck_assert_msg(strstr(db_get_text(res, 0, 4), "\\x3ff8000000000000 \\x3fb999999999999a \\x8000000000000000"),
		      "%s", db_get_text(res, 0, 4));
	PQclear(res);
	db_barr_free(&f);
	db_barr_free(&n);

	/* empty arrays, and a value of the wrong type fails the builder */
	db_barr_init(&f, DB_BARR_F64);
	db_barr_init(&n, DB_BARR_I64);
	values[0] = db_barr_end(&f, &lengths[0]);
	values[1] = db_barr_end(&n, &lengths[1]);
	ck_assert_int_eq(db_exec_bin(c, &show, values, lengths, formats, &res, NULL), 1);
	ck_assert_str_eq(db_get_text(res, 0, 2), "0");
	ck_assert_str_eq(db_get_text(res, 0, 3), "0");
	PQclear(res);
	db_barr_init(&wrong, DB_BARR_I64);
	db_barr_add_f64(&wrong, 1.0);
	ck_assert_ptr_null(db_barr_end(&wrong, &lengths[0]));
	db_barr_free(&wrong);
	db_barr_free(&f);
	db_barr_free(&n);
	db_release(c);
	db_pool_close(pool);
	free(url);
}
END_TEST

/* ---- counts ------------------------------------------------------------------- */

START_TEST(test_row_counts)
{
	char *url = th_db_create();
	struct db_pool *pool;
	struct db_conn *c;
	static const struct db_stmt rename_all = {"test_rename_all", "UPDATE items SET note = $1", 1};
	static const struct db_stmt select_all = {"test_select_all", "SELECT name FROM items ORDER BY name", 0};
	static const struct db_stmt delete_none = {"test_delete_none", "DELETE FROM items WHERE name = $1", 1};
	static const struct db_stmt delete_returning = {"test_delete_ret",
							"DELETE FROM items WHERE name <> $1 RETURNING name", 1};
	const char *a[2] = {"a", NULL}, *b[2] = {"b", "x"}, *cc[2] = {"c", "y"};
	const char *note[1] = {"n"}, *nobody[1] = {"nobody"}, *keep_a[1] = {"a"};
	PGresult *res = NULL;

	dbt_admin(url, "CREATE TABLE items (name text PRIMARY KEY, note text)");
	pool = dbt_pool(url, 1, NULL, NULL);
	c = dbt_acquire(pool);
	ck_assert_int_eq(db_exec(c, &insert_item, a, NULL, NULL), DB_ONE_RESULT);
	ck_assert_int_eq(db_exec(c, &insert_item, b, NULL, NULL), 1);
	ck_assert_int_eq(db_exec(c, &insert_item, cc, NULL, NULL), 1);
	ck_assert_int_eq(db_exec(c, &rename_all, note, NULL, NULL), 3);
	ck_assert_int_eq(db_exec(c, &select_all, NULL, &res, NULL), 3);
	ck_assert_str_eq(db_get_text(res, 2, 0), "c");
	PQclear(res);
	ck_assert_int_eq(db_exec(c, &delete_none, nobody, NULL, NULL), DB_NO_RESULTS);
	ck_assert_int_eq(db_exec(c, &delete_returning, keep_a, &res, NULL), 2);
	ck_assert_int_eq(PQntuples(res), 2);
	PQclear(res);
	ck_assert_int_eq(db_exec_sql(c, "CREATE TABLE other (x int)", NULL), 0);
	ck_assert_int_eq(db_exec_sql(c, "INSERT INTO other SELECT generate_series(1, 10)", NULL), 10);
	ck_assert_int_eq(db_exec_sql(c, "SELECT 1; SELECT * FROM other WHERE x < 4", NULL), 3);
	ck_assert_int_eq(db_exec_sql(c, "", NULL), 0);
	db_release(c);
	db_pool_close(pool);
	free(url);
}
END_TEST

/* ---- errors ------------------------------------------------------------------- */

START_TEST(test_constraint_violations)
{
	char *url = th_db_create();
	struct db_pool *pool;
	struct db_conn *c;
	static const struct db_stmt insert_child = {"test_insert_child", "INSERT INTO child (parent) VALUES ($1)", 1};
	const char *a[2] = {"a", NULL};
	const char *ghost[1] = {"ghost"};
	const char *no_name[2] = {NULL, "x"};
	struct core_error err = {{0}};

	dbt_admin(url, "CREATE TABLE items (name text CONSTRAINT items_name_key PRIMARY KEY, note text);"
		       "CREATE TABLE child (parent text CONSTRAINT child_parent_fk REFERENCES items (name))");
	pool = dbt_pool(url, 1, NULL, NULL);
	c = dbt_acquire(pool);
	ck_assert_int_eq(db_exec(c, &insert_item, a, NULL, &err), 1);
	ck_assert_str_eq(db_conn_sqlstate(c), "");
	ck_assert_int_eq(db_exec(c, &insert_item, a, NULL, &err), DB_CONSTRAINT);
	ck_assert_msg(strstr(err.message, "23505") && strstr(err.message, "items_name_key") &&
			      strstr(err.message, "stmt test_insert_item"),
		      "%s", err.message);
	ck_assert_str_eq(db_conn_sqlstate(c), "23505");
	ck_assert_str_eq(db_conn_constraint(c), "items_name_key");
	ck_assert_int_eq(db_exec(c, &insert_child, ghost, NULL, &err), DB_CONSTRAINT);
	ck_assert_str_eq(db_conn_sqlstate(c), "23503");
	ck_assert_str_eq(db_conn_constraint(c), "child_parent_fk");
	ck_assert_int_eq(db_exec(c, &insert_item, no_name, NULL, &err), DB_CONSTRAINT);
	ck_assert_str_eq(db_conn_sqlstate(c), "23502");
	/* a success clears the record */
	ck_assert_int_eq(db_exec_sql(c, "SELECT 1", NULL), 1);
	ck_assert_str_eq(db_conn_sqlstate(c), "");
	ck_assert_str_eq(db_conn_constraint(c), "");
	db_release(c);
	db_pool_close(pool);
	free(url);
}
END_TEST

START_TEST(test_hard_errors)
{
	char *url = th_db_create();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	struct db_conn *c = dbt_acquire(pool);
	static const struct db_stmt syntax = {"test_syntax", "SELEC 1", 0};
	static const struct db_stmt no_table = {"test_no_table", "SELECT * FROM nowhere", 0};
	static const struct db_stmt two_params = {"test_two_params", "SELECT $1::int + $2::int", 1};
	static const struct db_stmt bad = {.name = "", .sql = "SELECT 1", .n_params = 0};
	static const struct db_stmt bad_int = {"test_bad_int", "SELECT $1::int", 1};
	const char *params[2] = {"1", "2"};
	const char *not_int[1] = {"one"};
	PGresult *res = (PGresult *)&res; /* set to NULL by every failing call */
	struct core_error err = {{0}};

	ck_assert_int_eq(db_exec(c, &syntax, NULL, &res, &err), DB_HARD_ERROR);
	ck_assert_ptr_null(res);
	ck_assert_msg(strstr(err.message, "SQLSTATE 42601") && strstr(err.message, "test_syntax"), "%s", err.message);
	ck_assert_int_eq(db_exec(c, &no_table, NULL, NULL, &err), DB_HARD_ERROR);
	ck_assert_msg(strstr(err.message, "42P01"), "%s", err.message);
	ck_assert_int_eq(db_exec(c, &two_params, params, NULL, &err), DB_HARD_ERROR);
	ck_assert_int_eq(db_exec(c, &bad_int, not_int, NULL, &err), DB_HARD_ERROR);
	ck_assert_str_eq(db_conn_sqlstate(c), "22P02");
	ck_assert_int_eq(db_exec(c, &bad, NULL, NULL, &err), DB_HARD_ERROR);
	ck_assert_int_eq(db_exec(c, NULL, NULL, NULL, &err), DB_HARD_ERROR);
	ck_assert_int_eq(db_exec(NULL, &syntax, NULL, NULL, &err), DB_HARD_ERROR);
	ck_assert_int_eq(db_exec_sql(c, "SELECT 1/0", &err), DB_HARD_ERROR);
	ck_assert_msg(strstr(err.message, "22012") && strstr(err.message, "sql \"SELECT 1/0\""), "%s", err.message);
	ck_assert_int_eq(db_exec_sql(c, "SELECT 1/0", NULL), DB_HARD_ERROR); /* err may be NULL */
	/* none of that broke the connection */
	run_add_one(c, 2);
	ck_assert_int_eq(PQstatus(db_conn_pg(c)), CONNECTION_OK);
	db_release(c);
	db_pool_close(pool);
	free(url);
}
END_TEST

START_TEST(test_deadlock_is_soft)
{
	char *url = th_db_create();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	struct db_conn *c = dbt_acquire(pool);
	struct core_error err = {{0}};

	/* a raised 40001 / 40P01 classifies as soft whatever produced it */
	ck_assert_int_eq(db_exec_sql(c, "DO $$BEGIN RAISE EXCEPTION USING ERRCODE = '40P01'; END$$", &err),
			 DB_SOFT_ERROR);
	ck_assert_str_eq(db_conn_sqlstate(c), "40P01");
	ck_assert_int_eq(db_exec_sql(c, "DO $$BEGIN RAISE EXCEPTION USING ERRCODE = '40001'; END$$", &err),
			 DB_SOFT_ERROR);
	ck_assert_int_eq(db_exec_sql(c, "DO $$BEGIN RAISE EXCEPTION USING ERRCODE = '23514'; END$$", &err),
			 DB_CONSTRAINT);
	ck_assert_int_eq(db_exec_sql(c, "DO $$BEGIN RAISE EXCEPTION USING ERRCODE = '08P01'; END$$", &err),
			 DB_HARD_ERROR);
	db_release(c);
	db_pool_close(pool);
	free(url);
}
END_TEST

/* ---- results ------------------------------------------------------------------ */

START_TEST(test_result_readers)
{
	char *url = th_db_create();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	struct db_conn *c = dbt_acquire(pool);
	static const struct db_stmt st = {
		"test_values", "SELECT 9223372036854775807::bigint, -42, NULL::int, 'x12', '99999999999999999999', ''",
		0};
	PGresult *res = NULL;
	int64_t v = 7;
	struct core_error err = {{0}};

	ck_assert_int_eq(db_exec(c, &st, NULL, &res, NULL), 1);
	ck_assert_int_eq(db_get_int64(res, 0, 0, &v, &err), CORE_OK);
	ck_assert(v == INT64_MAX);
	ck_assert_int_eq(db_get_int64(res, 0, 1, &v, &err), CORE_OK);
	ck_assert_int_eq(v, -42);
	ck_assert_int_eq(db_get_int64(res, 0, 2, &v, &err), CORE_ENOENT);
	ck_assert_int_eq(db_get_int64(res, 0, 3, &v, &err), CORE_EINVAL);
	ck_assert_int_eq(db_get_int64(res, 0, 4, &v, &err), CORE_EINVAL);
	ck_assert_int_eq(db_get_int64(res, 0, 5, &v, &err), CORE_EINVAL);
	ck_assert_int_eq(db_get_int64(res, 1, 0, &v, &err), CORE_EINVAL);
	ck_assert_int_eq(db_get_int64(res, 0, 6, &v, &err), CORE_EINVAL);
	ck_assert_int_eq(db_get_int64(NULL, 0, 0, &v, &err), CORE_EINVAL);
	ck_assert_int_eq(v, -42); /* unchanged by the failures */
	ck_assert_str_eq(db_get_text(res, 0, 5), "");
	ck_assert_ptr_null(db_get_text(res, 0, 2));
	ck_assert_ptr_null(db_get_text(res, 0, 9));
	PQclear(res);
	db_release(c);
	db_pool_close(pool);
	free(url);
}
END_TEST

/* A cursor over a parameterised query hands its rows out in chunks, in order, and
 * only inside a transaction. */
struct cursor_ctx {
	int64_t seen[32];
	int n, fetches;
};

static int cursor_tx(struct db_conn *c, void *cls)
{
	struct cursor_ctx *x = cls;
	const char *params[] = {"3", "x"};
	x->n = x->fetches = 0;
	int rc = db_cursor_open(c, "SELECT g, $2::text FROM generate_series(1, 10) g WHERE g % $1::int <> 0 ORDER BY g",
				2, params, NULL);
	if (rc < 0)
		return rc;
	for (;;) {
		PGresult *res = NULL;
		rc = db_cursor_fetch(c, 3, &res, NULL);
		if (rc < 0)
			return rc;
		x->fetches++;
		for (int r = 0; r < PQntuples(res); r++) {
			ck_assert_str_eq(db_get_text(res, r, 1), "x");
			ck_assert_int_eq(db_get_int64(res, r, 0, &x->seen[x->n++], NULL), CORE_OK);
		}
		PQclear(res);
		if (rc < 3)
			break;
	}
	return db_cursor_close(c, NULL);
}

START_TEST(test_cursor_streams_in_chunks)
{
	char *url = th_db_create();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	struct cursor_ctx x = {0};
	struct core_error err = {{0}};
	static const int64_t want[] = {1, 2, 4, 5, 7, 8, 10};

	ck_assert_int_eq(db_run_tx(pool, "cursor", DB_READ_COMMITTED, cursor_tx, &x, &err), 0);
	ck_assert_int_eq(x.n, 7);
	ck_assert_int_eq(x.fetches, 3); /* 3 + 3 + 1 */
	for (int i = 0; i < 7; i++)
		ck_assert_int_eq(x.seen[i], want[i]);
	/* outside a transaction: refused by the server */
	struct db_conn *c = dbt_acquire(pool);
	ck_assert_int_eq(db_cursor_open(c, "SELECT 1", 0, NULL, NULL), DB_HARD_ERROR);
	db_release(c);
	db_pool_close(pool);
	free(url);
}
END_TEST

START_TEST(test_strerror)
{
	ck_assert_str_eq(db_strerror(DB_CONSTRAINT), "DB_CONSTRAINT");
	ck_assert_str_eq(db_strerror(DB_UNAVAILABLE), "DB_UNAVAILABLE");
	ck_assert_str_eq(db_strerror(DB_HARD_ERROR), "DB_HARD_ERROR");
	ck_assert_str_eq(db_strerror(DB_SOFT_ERROR), "DB_SOFT_ERROR");
	ck_assert_str_eq(db_strerror(DB_NO_RESULTS), "DB_NO_RESULTS");
	ck_assert_str_eq(db_strerror(DB_ONE_RESULT), "DB_ONE_RESULT");
	ck_assert_str_eq(db_strerror(17), "DB_ROWS");
	ck_assert_str_eq(db_strerror(-99), "DB_UNKNOWN");
}
END_TEST

static Suite *stmt_suite(void)
{
	Suite *s = suite_create("stmt");
	TCase *tc;

	tc = tcase_create("prepare");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_prepared_once_per_connection);
	tcase_add_test(tc, test_prepared_again_after_reconnect);
	tcase_add_test(tc, test_name_clash_refused);
	tcase_add_test(tc, test_many_statements);
	suite_add_tcase(s, tc);

	tc = tcase_create("params");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_params_and_nulls);
	tcase_add_test(tc, test_binary_params);
	tcase_add_test(tc, test_binary_arrays);
	suite_add_tcase(s, tc);

	tc = tcase_create("counts");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_row_counts);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_constraint_violations);
	tcase_add_test(tc, test_hard_errors);
	tcase_add_test(tc, test_deadlock_is_soft);
	suite_add_tcase(s, tc);

	tc = tcase_create("results");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_result_readers);
	tcase_add_test(tc, test_strerror);
	tcase_add_test(tc, test_cursor_streams_in_chunks);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(stmt_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Helpers shared by the libs/db test programs (each tests/unit/db/test_*.c is its own
 * program, so these are static inline). Setup talks to the server through plain libpq
 * on an "admin" connection of its own, so a bug in libs/db cannot hide itself in the
 * fixtures. Every helper fails the test (ck_abort_msg) when its ground is missing. */
#ifndef LATHE_DB_TEST_H
#define LATHE_DB_TEST_H
#include <check.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/time.h"
#include "db/db.h"
#include "harness.h"

/* Opens a pool of size on url (schema and application_name may be NULL). */
static inline struct db_pool *dbt_pool(const char *url, unsigned size, const char *schema, const char *app)
{
	struct db_pool_config cfg = {
		.url = url,
		.schema = schema,
		.size = size,
		.application_name = app,
		.acquire_timeout_ms = 5000,
	};
	struct db_pool *pool = NULL;
	struct core_error err = {{0}};

	if (db_pool_open(&cfg, &pool, &err) != CORE_OK)
		ck_abort_msg("db_pool_open: %s", err.message);
	return pool;
}

/* Acquires or fails the test. */
static inline struct db_conn *dbt_acquire(struct db_pool *pool)
{
	struct core_error err = {{0}};
	struct db_conn *c = db_acquire(pool, &err);

	if (!c)
		ck_abort_msg("db_acquire: %s", err.message);
	return c;
}

/* Runs plain SQL on a new libpq connection to url (fixtures), failing on error. */
static inline void dbt_admin(const char *url, const char *sql)
{
	PGconn *pg = PQconnectdb(url);
	PGresult *r;

	if (PQstatus(pg) != CONNECTION_OK)
		ck_abort_msg("connect %s: %s", url, PQerrorMessage(pg));
	r = PQexec(pg, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		ck_abort_msg("%s: %s", sql, PQerrorMessage(pg));
	PQclear(r);
	PQfinish(pg);
}

/* The first column of the first row of sql on pg as an integer (NULL gives -1). */
static inline int64_t dbt_scalar_pg(PGconn *pg, const char *sql)
{
	PGresult *r = PQexec(pg, sql);
	int64_t v = -1;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
		ck_abort_msg("%s: %s", sql, PQerrorMessage(pg));
	if (!PQgetisnull(r, 0, 0))
		v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

/* dbt_scalar_pg on a borrowed connection. */
static inline int64_t dbt_scalar(struct db_conn *c, const char *sql)
{
	return dbt_scalar_pg(db_conn_pg(c), sql);
}

/* dbt_scalar_pg on a fresh admin connection to url. */
static inline int64_t dbt_admin_scalar(const char *url, const char *sql)
{
	PGconn *pg = PQconnectdb(url);
	int64_t v;

	if (PQstatus(pg) != CONNECTION_OK)
		ck_abort_msg("connect %s: %s", url, PQerrorMessage(pg));
	v = dbt_scalar_pg(pg, sql);
	PQfinish(pg);
	return v;
}

/* Terminates backend pid from an admin connection and waits until it is gone. */
static inline void dbt_kill_backend(const char *url, int64_t pid)
{
	char sql[128];
	PGconn *pg = PQconnectdb(url);

	if (PQstatus(pg) != CONNECTION_OK)
		ck_abort_msg("connect %s: %s", url, PQerrorMessage(pg));
	snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld)::int", (long long)pid);
	ck_assert_int_eq(dbt_scalar_pg(pg, sql), 1);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity WHERE pid = %lld", (long long)pid);
	for (int i = 0; i < 500 && dbt_scalar_pg(pg, sql) != 0; i++)
		usleep(10 * 1000);
	ck_assert_int_eq(dbt_scalar_pg(pg, sql), 0);
	PQfinish(pg);
	usleep(20 * 1000); /* the goodbye reaches the client socket */
}

static inline int64_t dbt_ms_since(uint64_t start_ns)
{
	return (int64_t)((core_monotonic_ns() - start_ns) / 1000000u);
}
#endif

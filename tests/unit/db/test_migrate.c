/* Unit tests for libs/db migrate.c (db_migrate): one Suite "migrate".
 *
 *   apply       files run in order, unqualified names land in the schema, each recorded
 *               once; a rerun changes nothing; a new file later applies alone; tracks
 *               (components) in one schema stay apart; an awkward schema name is quoted
 *   validation  bad names, ordering and duplicates are refused before the server is
 *               touched
 *   failure     a failing file rolls back alone (earlier ones stay, later ones are not
 *               tried); a file that COMMITs itself is caught; no server is CORE_EIO
 *   concurrency two pools migrating one schema at the same moment from two threads both
 *               succeed and every file runs exactly once
 * Files are built in memory in the shape tools/embed generates. */
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "db_test.h"

#define FILE_OF(n, text)                                                                                               \
	{                                                                                                              \
		.name = (n), .data = (const unsigned char *)(text), .len = sizeof(text) - 1                            \
	}

/* Each file logs itself into a table, so order and repetition are visible; the tables
 * are created without IF NOT EXISTS, so a file run twice would fail. */
#define F0001                                                                                                          \
	FILE_OF("0001-init.sql", "CREATE TABLE runlog (seq serial PRIMARY KEY, file text NOT NULL);\n"                 \
				 "INSERT INTO runlog (file) VALUES ('0001');\n"                                        \
				 "CREATE TABLE widgets (id int PRIMARY KEY);\n")
#define F0002                                                                                                          \
	FILE_OF("0002-name.sql", "ALTER TABLE widgets ADD COLUMN name text;\n"                                         \
				 "INSERT INTO runlog (file) VALUES ('0002');\n")
#define F0010                                                                                                          \
	FILE_OF("0010-data.sql", "INSERT INTO widgets VALUES (1, 'one');\n"                                            \
				 "INSERT INTO runlog (file) VALUES ('0010');\n")
#define F0011                                                                                                          \
	FILE_OF("0011-more.sql", "INSERT INTO widgets VALUES (2, 'two');\n"                                            \
				 "INSERT INTO runlog (file) VALUES ('0011');\n")
#define END_OF_FILES                                                                                                   \
	{                                                                                                              \
		0, 0, 0                                                                                                \
	}

static const struct core_embedded_file three[] = {F0001, F0002, F0010, END_OF_FILES};
static const struct core_embedded_file four[] = {F0001, F0002, F0010, F0011, END_OF_FILES};

static enum core_status migrate(const char *url, const char *schema, const char *component,
				const struct core_embedded_file *files, struct core_error *err)
{
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	enum core_status rc = db_migrate(pool, schema, component, files, err);

	db_pool_close(pool);
	return rc;
}

/* The files runlog recorded, in order, as "0001,0002,...". */
static void runlog(const char *url, const char *schema_table, char *out, size_t size)
{
	char sql[256];
	PGconn *pg = PQconnectdb(url);
	PGresult *r;

	snprintf(sql, sizeof sql, "SELECT coalesce(string_agg(file, ',' ORDER BY seq), '') FROM %s", schema_table);
	r = PQexec(pg, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQerrorMessage(pg));
	snprintf(out, size, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(pg);
}

/* ---- apply -------------------------------------------------------------------- */

START_TEST(test_applies_in_order_once)
{
	char *url = th_db_create();
	struct core_error err = {{0}};
	char log[128];

	ck_assert_msg(migrate(url, "svc", "service", three, &err) == CORE_OK, "%s", err.message);
	runlog(url, "svc.runlog", log, sizeof log);
	ck_assert_str_eq(log, "0001,0002,0010");
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM svc.widgets WHERE name = 'one'"), 1);
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM svc.lathe_migrations WHERE component = 'service'"),
			 3);
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT sum(version) FROM svc.lathe_migrations"), 13);
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM svc.lathe_migrations WHERE version = 10 "
					       "AND name = '0010-data.sql' AND applied_at <= now()"),
			 1);
	/* nothing leaked into public */
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), 0);

	/* a rerun is a no-op */
	ck_assert_msg(migrate(url, "svc", "service", three, &err) == CORE_OK, "%s", err.message);
	runlog(url, "svc.runlog", log, sizeof log);
	ck_assert_str_eq(log, "0001,0002,0010");

	/* a new release adds a file: only it runs */
	ck_assert_msg(migrate(url, "svc", "service", four, &err) == CORE_OK, "%s", err.message);
	runlog(url, "svc.runlog", log, sizeof log);
	ck_assert_str_eq(log, "0001,0002,0010,0011");
	/* an older binary starting against the newer schema is fine (a warning) */
	ck_assert_msg(migrate(url, "svc", "service", three, &err) == CORE_OK, "%s", err.message);
	free(url);
}
END_TEST

START_TEST(test_components_are_separate_tracks)
{
	char *url = th_db_create();
	struct core_error err = {{0}};
	static const struct core_embedded_file lib[] = {
		FILE_OF("0001-outbox.sql", "CREATE TABLE outbox (id bigserial PRIMARY KEY, payload text)"),
		{0, 0, 0},
	};

	ck_assert_msg(migrate(url, "svc", "service", three, &err) == CORE_OK, "%s", err.message);
	ck_assert_msg(migrate(url, "svc", "bus.outbox", lib, &err) == CORE_OK, "%s", err.message);
	ck_assert_msg(migrate(url, "svc", "bus.outbox", lib, &err) == CORE_OK, "%s", err.message);
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM svc.lathe_migrations WHERE version = 1"), 2);
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM svc.lathe_migrations"), 4);
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM svc.outbox"), 0);
	/* the same files in another schema are another story */
	ck_assert_msg(migrate(url, "other", "service", three, &err) == CORE_OK, "%s", err.message);
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM other.widgets"), 1);
	free(url);
}
END_TEST

START_TEST(test_awkward_schema_name)
{
	char *url = th_db_create();
	struct core_error err = {{0}};
	char log[128];

	ck_assert_msg(migrate(url, "My \"Schema\"; DROP", "service", three, &err) == CORE_OK, "%s", err.message);
	runlog(url, "\"My \"\"Schema\"\"; DROP\".runlog", log, sizeof log);
	ck_assert_str_eq(log, "0001,0002,0010");
	free(url);
}
END_TEST

/* ---- validation --------------------------------------------------------------- */

START_TEST(test_bad_lists_rejected)
{
	char *url = th_db_create();
	struct db_pool *pool = dbt_pool(url, 1, NULL, NULL);
	struct core_error err = {{0}};
	static const struct core_embedded_file backwards[] = {F0002, F0001, END_OF_FILES};
	static const struct core_embedded_file twice[] = {F0001, FILE_OF("0001-again.sql", "SELECT 1"), END_OF_FILES};
	static const struct core_embedded_file unnumbered[] = {FILE_OF("init.sql", "SELECT 1"), {0, 0, 0}};
	static const struct core_embedded_file zero[] = {FILE_OF("0000-zero.sql", "SELECT 1"), {0, 0, 0}};
	static const struct core_embedded_file no_dash[] = {FILE_OF("0001_init.sql", "SELECT 1"), {0, 0, 0}};
	static const struct core_embedded_file huge[] = {FILE_OF("99999999999-x.sql", "SELECT 1"), {0, 0, 0}};
	static const struct core_embedded_file nul[] = {
		{.name = "0001-nul.sql", .data = (const unsigned char *)"SELECT 1\0; DROP", .len = 15}, {0, 0, 0}};
	static const struct core_embedded_file none[] = {{0, 0, 0}};

	ck_assert_int_eq(db_migrate(pool, "svc", "service", backwards, &err), CORE_EINVAL);
	ck_assert_msg(strstr(err.message, "strictly increasing"), "%s", err.message);
	ck_assert_int_eq(db_migrate(pool, "svc", "service", twice, &err), CORE_EINVAL);
	ck_assert_int_eq(db_migrate(pool, "svc", "service", unnumbered, &err), CORE_EINVAL);
	ck_assert_msg(strstr(err.message, "init.sql"), "%s", err.message);
	ck_assert_int_eq(db_migrate(pool, "svc", "service", zero, &err), CORE_EINVAL);
	ck_assert_int_eq(db_migrate(pool, "svc", "service", no_dash, &err), CORE_EINVAL);
	ck_assert_int_eq(db_migrate(pool, "svc", "service", huge, &err), CORE_EINVAL);
	ck_assert_int_eq(db_migrate(pool, "svc", "service", nul, &err), CORE_EINVAL);
	ck_assert_int_eq(db_migrate(pool, "", "service", three, &err), CORE_EINVAL);
	ck_assert_int_eq(db_migrate(pool, "svc", NULL, three, &err), CORE_EINVAL);
	ck_assert_int_eq(db_migrate(NULL, "svc", "service", three, &err), CORE_EINVAL);
	/* nothing was touched */
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM pg_namespace WHERE nspname = 'svc'"), 0);
	/* an empty list is fine: schema and bookkeeping exist afterwards */
	ck_assert_msg(db_migrate(pool, "svc", "service", none, &err) == CORE_OK, "%s", err.message);
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM svc.lathe_migrations"), 0);
	db_pool_close(pool);
	free(url);
}
END_TEST

/* ---- failure ------------------------------------------------------------------ */

START_TEST(test_failing_file_rolls_back_alone)
{
	char *url = th_db_create();
	struct core_error err = {{0}};
#define F0003 FILE_OF("0003-after.sql", "INSERT INTO runlog (file) VALUES ('0003');\n")
	static const struct core_embedded_file broken[] = {
		F0001,
		FILE_OF("0002-half.sql", "CREATE TABLE half (x int);\n"
					 "INSERT INTO runlog (file) VALUES ('0002');\n"
					 "SELECT no_such_function();\n"),
		F0003,
		END_OF_FILES,
	};
	static const struct core_embedded_file fixed[] = {
		F0001,
		FILE_OF("0002-half.sql", "CREATE TABLE half (x int);\n"
					 "INSERT INTO runlog (file) VALUES ('0002');\n"),
		F0003,
		END_OF_FILES,
	};
	char log[128];

	ck_assert_int_eq(migrate(url, "svc", "service", broken, &err), CORE_EIO);
	ck_assert_msg(strstr(err.message, "0002-half.sql") && strstr(err.message, "42883"), "%s", err.message);
	runlog(url, "svc.runlog", log, sizeof log);
	ck_assert_str_eq(log, "0001");
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM pg_tables WHERE tablename = 'half'"), 0);
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM svc.lathe_migrations"), 1);
	/* the lock was let go: fixing the file lets the next start finish the job */
	ck_assert_msg(migrate(url, "svc", "service", fixed, &err) == CORE_OK, "%s", err.message);
	runlog(url, "svc.runlog", log, sizeof log);
	ck_assert_str_eq(log, "0001,0002,0003");
	free(url);
}
END_TEST

START_TEST(test_file_that_commits_is_caught)
{
	char *url = th_db_create();
	struct core_error err = {{0}};
	static const struct core_embedded_file rogue[] = {
		FILE_OF("0001-rogue.sql", "CREATE TABLE r (x int); COMMIT;"),
		{0, 0, 0},
	};

	ck_assert_int_eq(migrate(url, "svc", "service", rogue, &err), CORE_EIO);
	ck_assert_msg(strstr(err.message, "0001-rogue.sql") && strstr(err.message, "BEGIN/COMMIT"), "%s", err.message);
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM svc.lathe_migrations"), 0);
	free(url);
}
END_TEST

START_TEST(test_no_server)
{
	char url[128];
	struct core_error err = {{0}};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;

	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	snprintf(url, sizeof url, "postgresql://postgres@127.0.0.1:%u/postgres", ntohs(a.sin_port));
	ck_assert_int_eq(migrate(url, "svc", "service", three, &err), CORE_EIO);
	ck_assert_msg(strstr(err.message, "connect"), "%s", err.message);
}
END_TEST

/* ---- concurrency -------------------------------------------------------------- */

struct migrator {
	const char *url;
	pthread_barrier_t *start;
	enum core_status rc;
	struct core_error err;
};

static void *migrator_run(void *arg)
{
	struct migrator *m = arg;
	struct db_pool_config cfg = {.url = m->url, .size = 2, .schema = "svc"};
	struct db_pool *pool = NULL;

	m->rc = db_pool_open(&cfg, &pool, &m->err);
	pthread_barrier_wait(m->start);
	if (m->rc == CORE_OK)
		m->rc = db_migrate(pool, "svc", "service", four, &m->err);
	db_pool_close(pool);
	return NULL;
}

START_TEST(test_two_pools_at_once)
{
	char *url = th_db_create();
	pthread_barrier_t start;
	struct migrator m[2] = {{.url = url, .start = &start}, {.url = url, .start = &start}};
	pthread_t th[2];
	char log[128];

	pthread_barrier_init(&start, NULL, 2);
	for (int t = 0; t < 2; t++)
		ck_assert_int_eq(pthread_create(&th[t], NULL, migrator_run, &m[t]), 0);
	for (int t = 0; t < 2; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&start);
	for (int t = 0; t < 2; t++)
		ck_assert_msg(m[t].rc == CORE_OK, "migrator %d: %s", t, m[t].err.message);
	runlog(url, "svc.runlog", log, sizeof log);
	ck_assert_str_eq(log, "0001,0002,0010,0011");
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM svc.lathe_migrations"), 4);
	ck_assert_int_eq(dbt_admin_scalar(url, "SELECT count(*) FROM svc.widgets"), 2);
	/* no advisory lock left behind */
	/* this database's locks only: other suites may be migrating in the same cluster */
	ck_assert_int_eq(dbt_admin_scalar(url,
					  "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
					  "WHERE l.locktype = 'advisory' AND d.datname = current_database()"),
			 0);
	free(url);
}
END_TEST

static Suite *migrate_suite(void)
{
	Suite *s = suite_create("migrate");
	TCase *tc;

	tc = tcase_create("apply");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_applies_in_order_once);
	tcase_add_test(tc, test_components_are_separate_tracks);
	tcase_add_test(tc, test_awkward_schema_name);
	suite_add_tcase(s, tc);

	tc = tcase_create("validation");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_bad_lists_rejected);
	suite_add_tcase(s, tc);

	tc = tcase_create("failure");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_failing_file_rolls_back_alone);
	tcase_add_test(tc, test_file_that_commits_is_caught);
	tcase_add_test(tc, test_no_server);
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrency");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_two_pools_at_once, 0, 5);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(migrate_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Unit tests for libs/db across a real server restart: one Suite "reconnect".
 *
 * The TCase starts a private PostgreSQL cluster of its own (tools/pg.sh, found through
 * LATHE_ROOT, in a directory under LATHE_TEST_TMP) in an unchecked fixture, i.e. in the
 * runner process, so the cluster is stopped even when a test fails; each test stops and
 * starts it as a user's server would go away and come back.
 *
 *   down     with the server stopped: db_exec on a borrowed connection, db_acquire,
 *            db_ping and db_run_tx all answer "unavailable" quickly (within the connect
 *            timeout); started again, the same pool serves the very next db_run_tx and
 *            db_ping is true
 *   restart  a quick restart nobody notices while it happens: the pooled connections are
 *            stale, and the very next db_run_tx still succeeds; under DB_AUTOCOMMIT,
 *            which does not retry, on its first attempt */
#include <check.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "db_test.h"

/* The private cluster; set by the fixture in the runner before any test forks. */
static char cluster_dir[512];
static char cluster_url[128];

static void pg_ctl(const char *verb)
{
	char cmd[1400];
	unsigned port = 0;

	sscanf(strrchr(cluster_url, ':') + 1, "%u", &port);
	if (strcmp(verb, "start") == 0)
		snprintf(cmd, sizeof cmd, "'%s/tools/pg.sh' start '%s' %u --ephemeral", th_env("LATHE_ROOT"),
			 cluster_dir, port);
	else
		snprintf(cmd, sizeof cmd, "'%s/tools/pg.sh' stop '%s'", th_env("LATHE_ROOT"), cluster_dir);
	if (system(cmd) != 0)
		ck_abort_msg("%s failed", cmd);
}

static void cluster_setup(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		ck_abort_msg("no free port");
	close(fd);
	snprintf(cluster_dir, sizeof cluster_dir, "%s/db-reconnect-%d", th_env("LATHE_TEST_TMP"), (int)getpid());
	snprintf(cluster_url, sizeof cluster_url, "postgresql://postgres@127.0.0.1:%u/postgres", ntohs(a.sin_port));
	pg_ctl("start");
	dbt_admin(cluster_url, "CREATE TABLE IF NOT EXISTS items (name text PRIMARY KEY)");
}

static void cluster_teardown(void)
{
	char cmd[600];

	pg_ctl("stop");
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", cluster_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", cluster_dir);
}

static const struct db_stmt insert_item = {
	.name = "test_insert_item",
	.sql = "INSERT INTO items (name) VALUES ($1) ON CONFLICT DO NOTHING",
	.n_params = 1,
};

struct body {
	const char *name;
	atomic_int attempts;
};

static int insert_fn(struct db_conn *c, void *cls)
{
	struct body *b = cls;
	const char *params[1] = {b->name};

	atomic_fetch_add(&b->attempts, 1);
	return db_exec(c, &insert_item, params, NULL, NULL);
}

static struct db_pool *open_pool(void)
{
	struct db_pool_config cfg = {
		.url = cluster_url,
		.size = 2,
		.connect_timeout_s = 2,
		.acquire_timeout_ms = 1000,
		.application_name = "db-test-reconnect",
	};
	struct db_pool *pool = NULL;
	struct core_error err = {{0}};

	if (db_pool_open(&cfg, &pool, &err) != CORE_OK)
		ck_abort_msg("%s", err.message);
	return pool;
}

/* Whether the item is in the table (asked on a connection of the test's own). */
static bool item_exists(const char *name)
{
	char sql[128];

	snprintf(sql, sizeof sql, "SELECT count(*) FROM items WHERE name = '%s'", name); /* our literal */
	return dbt_admin_scalar(cluster_url, sql) == 1;
}

START_TEST(test_server_down_then_back)
{
	struct db_pool *pool = open_pool();
	struct db_conn *held, *other;
	struct core_error err = {{0}};
	struct body before = {.name = "before"}, after = {.name = "after"}, down = {.name = "down"};
	const char *params[1] = {"while-down"};
	uint64_t start;

	/* both slots connected; one stays borrowed across the outage */
	held = dbt_acquire(pool);
	other = dbt_acquire(pool);
	ck_assert_int_eq(dbt_scalar(other, "SELECT 1"), 1);
	db_release(other);
	ck_assert_msg(db_run_tx(pool, "before", DB_READ_COMMITTED, insert_fn, &before, &err) == 1, "%s", err.message);
	ck_assert(db_ping(pool));

	pg_ctl("stop");

	start = core_monotonic_ns();
	ck_assert_int_eq(db_exec(held, &insert_item, params, NULL, &err), DB_UNAVAILABLE);
	ck_assert_int_lt(dbt_ms_since(start), 2000);
	db_release(held);

	start = core_monotonic_ns();
	ck_assert_ptr_null(db_acquire(pool, &err));
	ck_assert_msg(strstr(err.message, "cannot connect"), "%s", err.message);
	ck_assert_int_lt(dbt_ms_since(start), 2500);

	start = core_monotonic_ns();
	ck_assert(!db_ping(pool));
	ck_assert_int_lt(dbt_ms_since(start), 2500);

	start = core_monotonic_ns();
	ck_assert_int_eq(db_run_tx(pool, "down", DB_READ_COMMITTED, insert_fn, &down, &err), DB_UNAVAILABLE);
	ck_assert_int_lt(dbt_ms_since(start), 2500);
	ck_assert_int_eq(atomic_load(&down.attempts), 0);

	pg_ctl("start");

	/* the same pool, not reopened */
	ck_assert_msg(db_run_tx(pool, "after", DB_READ_COMMITTED, insert_fn, &after, &err) == 1, "%s", err.message);
	ck_assert(db_ping(pool));
	ck_assert(item_exists("before"));
	ck_assert(item_exists("after"));
	ck_assert(!item_exists("while-down"));
	db_pool_close(pool);
}
END_TEST

START_TEST(test_quick_restart_unnoticed)
{
	struct db_pool *pool = open_pool();
	struct db_conn *a, *b;
	struct core_error err = {{0}};
	struct body warm = {.name = "warm"}, next = {.name = "next"};

	/* two warm connections sit idle in the pool */
	a = dbt_acquire(pool);
	b = dbt_acquire(pool);
	ck_assert_int_eq(db_exec(a, &insert_item, (const char *const[]){"a"}, NULL, NULL), 1);
	ck_assert_int_eq(db_exec(b, &insert_item, (const char *const[]){"b"}, NULL, NULL), 1);
	db_release(a);
	db_release(b);
	ck_assert_msg(db_run_tx(pool, "warm", DB_SERIALIZABLE, insert_fn, &warm, &err) == 1, "%s", err.message);

	pg_ctl("stop");
	pg_ctl("start");

	/* the very next transaction succeeds though every pooled connection is stale */
	ck_assert_msg(db_run_tx(pool, "next", DB_SERIALIZABLE, insert_fn, &next, &err) == 1, "%s", err.message);
	ck_assert_int_le(atomic_load(&next.attempts), 2);
	ck_assert(item_exists("next"));
	ck_assert(db_ping(pool));
	/* and so does plain use of the other slot */
	a = dbt_acquire(pool);
	b = dbt_acquire(pool);
	ck_assert_int_eq(dbt_scalar(a, "SELECT 1") + dbt_scalar(b, "SELECT 1"), 2);
	db_release(a);
	db_release(b);
	db_pool_close(pool);
}
END_TEST

/* DB_AUTOCOMMIT does not retry a connection lost mid-statement (it may have committed),
 * so it relies on db_acquire noticing a stale connection before the statement is sent:
 * after a restart, the very next write without BEGIN succeeds on its first attempt. */
START_TEST(test_quick_restart_autocommit)
{
	struct db_pool *pool = open_pool();
	struct core_error err = {{0}};
	struct body warm = {.name = "ac-warm"}, next = {.name = "ac-next"};

	ck_assert_msg(db_run_tx(pool, "warm", DB_AUTOCOMMIT, insert_fn, &warm, &err) == 1, "%s", err.message);
	pg_ctl("stop");
	pg_ctl("start");
	ck_assert_msg(db_run_tx(pool, "next", DB_AUTOCOMMIT, insert_fn, &next, &err) == 1, "%s", err.message);
	ck_assert_int_eq(atomic_load(&next.attempts), 1);
	ck_assert(item_exists("ac-next"));
	db_pool_close(pool);
}
END_TEST

static Suite *reconnect_suite(void)
{
	Suite *s = suite_create("reconnect");
	TCase *tc;

	tc = tcase_create("restart");
	tcase_set_timeout(tc, 90);
	tcase_add_unchecked_fixture(tc, cluster_setup, cluster_teardown);
	tcase_add_test(tc, test_server_down_then_back);
	tcase_add_test(tc, test_quick_restart_unnoticed);
	tcase_add_test(tc, test_quick_restart_autocommit);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(reconnect_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

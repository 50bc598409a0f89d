/* Integration tests of libs/svc's lifecycle and readiness with real processes, the
 * run's PostgreSQL and its devkafka broker. A test daemon ("td", defined here) runs
 * svc_main in a forked child, like any Lathe daemon: it declares a Kafka consumer, a
 * background worker, a periodic task, a stop hook and a readiness hook, each of which
 * writes "marks" (rows of td.marks, in id order) to the daemon's own database, so the
 * test can read what ran and in which order.
 *
 * - tasks: consumers, workers and periodic tasks start only after migrations (the test
 *   holds the migration on an advisory lock and sees nothing start); SIGTERM stops them
 *   in order (worker and consumer wrap up, the message in hand is handed back) before
 *   the HTTP drain, the relay and the stop hook, with exit 0; an offset is committed only
 *   after the handler returned (kill -9 while a handler blocks: the message comes again;
 *   handled messages never do); a consumer with handle_batch gets batches of at most
 *   batch_max, each committed once handled.
 * - readiness: Kafka counts in /readyz only for a daemon that consumes: with the broker
 *   down the tracker and the registry stay ready (the registry's lathe_outbox_backlog
 *   grows, then drains once the broker is back) while td turns 503, and still stops
 *   with exit 0 while the broker is down; the service's own not_ready hook is asked.
 * The broker is always brought up again in the TCase's unchecked teardown. */
#include <check.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>
#include "harness.h"
#include "svc/svc.h"
#include "harness_util.h"

/* --- the test daemon ------------------------------------------------------------- */

#define TD_LOCK "7357, 1" /* advisory lock the migration waits for (the test may hold it) */

static const char td_migration_sql[] = "SELECT pg_advisory_xact_lock(" TD_LOCK ");\n"
				       "CREATE TABLE marks (id bigserial PRIMARY KEY, what text NOT NULL);\n"
				       "CREATE TABLE attempts (payload text PRIMARY KEY, n int NOT NULL);\n";
static const struct core_embedded_file td_migrations[] = {
	{"0001-td.sql", (const unsigned char *)td_migration_sql, sizeof td_migration_sql - 1},
	{0},
};

static const struct db_stmt td_q_migrated = {
	.name = "td_migrated",
	.sql = "SELECT to_regclass('marks') IS NOT NULL",
	.n_params = 0,
};
static const struct db_stmt td_q_mark = {
	.name = "td_mark",
	.sql = "INSERT INTO marks (what) VALUES ($1)",
	.n_params = 1,
};
static const struct db_stmt td_q_attempt = {
	.name = "td_attempt",
	.sql = "INSERT INTO attempts (payload, n) VALUES ($1, 1) "
	       "ON CONFLICT (payload) DO UPDATE SET n = attempts.n + 1 RETURNING n",
	.n_params = 1,
};

struct td_app {
	atomic_bool loaded;
	char group[64]; /* TD_GROUP_OF: the group group_id_of gives */
};

/* Records that `what` happened; logs an error (which fails the test) when the schema is
 * not migrated yet, i.e. when svc ran a task too early. */
static void td_mark(struct svc *svc, const char *what)
{
	struct core_error err = {{0}};
	PGresult *res = NULL;
	struct db_conn *c = db_acquire(svc_db(svc), &err);
	if (!c) {
		core_error("td: cannot mark %s: %s", what, err.message);
		return;
	}
	const char *params[] = {what};
	if (db_exec(c, &td_q_migrated, NULL, &res, &err) != 1)
		core_error("td: cannot mark %s: %s", what, err.message);
	else if (strcmp(db_get_text(res, 0, 0), "t") != 0)
		core_error("td: %s before the schema was migrated", what);
	else if (db_exec(c, &td_q_mark, params, NULL, &err) != 1)
		core_error("td: cannot mark %s: %s", what, err.message);
	PQclear(res);
	db_release(c);
}

/* Counts a delivery of payload; returns the count (1 the first time) or -1. */
static long td_attempt(struct svc *svc, const char *payload)
{
	struct core_error err = {{0}};
	PGresult *res = NULL;
	int64_t n = -1;
	struct db_conn *c = db_acquire(svc_db(svc), &err);
	const char *params[] = {payload};
	if (!c || db_exec(c, &td_q_attempt, params, &res, &err) != 1 || db_get_int64(res, 0, 0, &n, &err) != CORE_OK)
		core_error("td: cannot count an attempt of %s: %s", payload, err.message);
	PQclear(res);
	db_release(c);
	return (long)n;
}

/* A message whose payload starts with "block" blocks its first delivery until
 * shutdown and then hands it back; every other delivery is handled at once. */
static enum bus_handled td_handle(struct svc *svc, void *app, const struct bus_message *m)
{
	(void)app;
	char payload[128], what[200];
	snprintf(payload, sizeof payload, "%.*s", (int)(m->len < 100 ? m->len : 100), m->payload);
	long n = td_attempt(svc, payload);
	if (n < 0)
		return BUS_RETRY;
	if (strncmp(payload, "block", 5) == 0 && n == 1) {
		snprintf(what, sizeof what, "consumer blocked %s", payload);
		td_mark(svc, what);
		while (!svc_sleep(svc, 50))
			;
		snprintf(what, sizeof what, "consumer handed back %s", payload);
		td_mark(svc, what);
		return BUS_RETRY;
	}
	snprintf(what, sizeof what, "consumer handled %s", payload);
	td_mark(svc, what);
	return BUS_HANDLED;
}

/* TD_BATCH's handler: marks "batch of <n>", then each message as td_handle does. */
static enum bus_handled td_handle_batch(struct svc *svc, void *app, const struct bus_message *ms, size_t n)
{
	char what[64];
	snprintf(what, sizeof what, "batch of %zu", n);
	td_mark(svc, what);
	for (size_t i = 0; i < n; i++)
		if (td_handle(svc, app, &ms[i]) != BUS_HANDLED)
			return BUS_RETRY;
	return BUS_HANDLED;
}

static void td_worker(struct svc *svc, void *app)
{
	(void)app;
	td_mark(svc, "worker started");
	while (!svc_sleep(svc, 1000))
		;
	td_mark(svc, "worker stopped");
}

static void td_tick(struct svc *svc, void *app)
{
	(void)app;
	td_mark(svc, "tick");
}

static enum core_status td_start(struct svc *svc, void *settings, void **app_out, struct core_error *err)
{
	(void)svc;
	(void)settings;
	(void)err;
	struct td_app *a = core_xcalloc(1, sizeof *a);
	atomic_init(&a->loaded, getenv("TD_NOT_LOADED") == NULL);
	snprintf(a->group, sizeof a->group, "%s", getenv("TD_GROUP_OF") ? getenv("TD_GROUP_OF") : "");
	*app_out = a;
	return CORE_OK;
}

static void td_stop(struct svc *svc, void *app)
{
	td_mark(svc, "stop hook");
	core_info("td: stop hook");
	free(app);
}

/* The group from the daemon's state: one per replica, as the inference API reads
 * models.events. */
static const char *td_group_of(const void *app)
{
	return ((const struct td_app *)app)->group;
}

static const char *td_not_ready(struct svc *svc, void *app)
{
	(void)svc;
	struct td_app *a = app;
	return atomic_load(&a->loaded) ? NULL : "models not loaded yet";
}

static void td_h_load(struct http_request *req, void *app)
{
	struct td_app *a = svc_app(app);
	atomic_store(&a->loaded, true);
	http_reply_json(req, 200, json_pack("{s:b}", "loaded", 1));
}

static const struct http_route td_routes[] = {
	{.methods = HTTP_POST, .pattern = "/td/load", .handler = td_h_load},
	{0},
};
static struct svc_consumer_def td_consumers[2]; /* filled in the child */
static const struct svc_worker_def td_workers[] = {{.name = "td-worker", .run = td_worker}, {0}};
static const struct svc_periodic_def td_periodic[] = {{.name = "td-tick", .every_ms = 200, .run = td_tick}, {0}};
static const struct svc_def td_def = {
	.name = "svc-testd",
	.summary = "the lifecycle test daemon",
	.default_port = 1,
	.schema = "td",
	.migrations = td_migrations,
	.uses_outbox = true,
	.routes = {td_routes},
	.start = td_start,
	.stop = td_stop,
	.consumers = td_consumers,
	.workers = td_workers,
	.periodic = td_periodic,
	.not_ready = td_not_ready,
};

/* Runs td in a child process, as th_daemon_spawn runs a daemon binary: its own port,
 * the given database, the run's broker, its log in d->log_path. */
static struct th_daemon *td_spawn(const char *database_url, const char *topic, const char *group, bool not_loaded)
{
	struct th_daemon *d = calloc(1, sizeof *d);
	ck_assert_ptr_nonnull(d);
	d->database_url = strdup(database_url);
	d->port = th_free_port();
	snprintf(d->base_url, sizeof d->base_url, "http://127.0.0.1:%u", d->port);
	unsigned char tag[4];
	ck_assert_int_eq(getrandom(tag, sizeof tag, 0), (ssize_t)sizeof tag);
	snprintf(d->log_path, sizeof d->log_path, "%s/testd-%02x%02x%02x%02x.log", th_env("LATHE_TEST_TMP"), tag[0],
		 tag[1], tag[2], tag[3]);
	const char *brokers = th_env("LATHE_TEST_KAFKA");
	int log_fd = open(d->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ck_assert_int_ge(log_fd, 0);
	fflush(NULL);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(log_fd, STDERR_FILENO);
		dup2(log_fd, STDOUT_FILENO);
		char port[16];
		snprintf(port, sizeof port, "%u", d->port);
		setenv("PORT", port, 1);
		setenv("DATABASE_URL", database_url, 1);
		setenv("KAFKA_BROKERS", brokers, 1);
		setenv("LOG_LEVEL", "debug", 1);
		/* the smallest session devkafka forms groups with (docs/devkafka.md): each
		 * restart below waits out a rebalance of session - 1 s, a kill the session too */
		setenv("KAFKA_SESSION_TIMEOUT_MS", "4000", 1);
		if (not_loaded)
			setenv("TD_NOT_LOADED", "1", 1);
		else
			unsetenv("TD_NOT_LOADED");
		td_consumers[0] = (struct svc_consumer_def){.group_id = group, .topics = {topic}, .handle = td_handle};
		if (getenv("TD_GROUP_OF"))
			td_consumers[0].group_id_of = td_group_of;
		if (getenv("TD_BATCH")) /* batches of at most 5, waiting 300 ms for more */
			td_consumers[0] = (struct svc_consumer_def){.group_id = group,
								    .topics = {topic},
								    .handle_batch = td_handle_batch,
								    .batch_max = 5,
								    .batch_wait_ms = 300};
		char *argv[] = {"lathe-svc-testd", NULL};
		exit(svc_main(&td_def, 1, argv));
	}
	close(log_fd);
	d->pid = pid;
	return d;
}

static void td_kill9(struct th_daemon *d)
{
	ck_assert_int_eq(kill(d->pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(d->pid, NULL, 0), d->pid);
	free(d->database_url);
	free(d);
}

/* --- helpers ----------------------------------------------------------------------- */

static void unique(char *out, size_t size, const char *prefix)
{
	unsigned char b[4];
	ck_assert_int_eq(getrandom(b, sizeof b, 0), (ssize_t)sizeof b);
	snprintf(out, size, "%s%02x%02x%02x%02x", prefix, b[0], b[1], b[2], b[3]);
}

static void produce(const char *topic, const char *payload)
{
	struct bus_config cfg = {.brokers = th_env("LATHE_TEST_KAFKA"), .client_id = "test-svc-lifecycle"};
	struct bus_producer *p = NULL;
	struct core_error err = {{0}};
	ck_assert_msg(bus_producer_new(&cfg, &p, &err) == CORE_OK, "%s", err.message);
	ck_assert_msg(bus_produce(p, topic, payload, payload, strlen(payload), NULL, NULL, &err) == CORE_OK, "%s",
		      err.message);
	ck_assert_int_eq(bus_producer_flush(p, 20000), 0);
	bus_producer_free(p);
}

static PGconn *pg_open(const char *url)
{
	PGconn *c = PQconnectdb(url);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
	return c;
}

/* The one value of a one-row query with up to one text parameter (-1: SQL NULL). */
static long pg_long(PGconn *c, const char *sql, const char *param)
{
	const char *params[] = {param};
	PGresult *r = PQexecParams(c, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql, PQerrorMessage(c));
	long v = PQgetisnull(r, 0, 0) ? -1 : strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

static void pg_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql,
		      PQerrorMessage(c));
	PQclear(r);
}

static long marks(PGconn *c, const char *what)
{
	return pg_long(c, "SELECT count(*) FROM td.marks WHERE what = $1", what);
}

static long first_mark(PGconn *c, const char *what)
{
	return pg_long(c, "SELECT min(id) FROM td.marks WHERE what = $1", what);
}

static long last_mark(PGconn *c, const char *what)
{
	return pg_long(c, "SELECT max(id) FROM td.marks WHERE what = $1", what);
}

static long attempts(PGconn *c, const char *payload)
{
	return pg_long(c, "SELECT coalesce(max(n), 0) FROM td.attempts WHERE payload = $1", payload);
}

/* Waits up to timeout_ms for at least n marks `what`; fails the test otherwise. */
static void wait_mark(struct th_daemon *d, PGconn *c, const char *what, long n, int timeout_ms)
{
	for (int waited = 0; marks(c, what) < n; waited += 100) {
		ck_assert_msg(waited < timeout_ms, "no %ld marks '%s' within %d ms (log %s)", n, what, timeout_ms,
			      d ? d->log_path : "-");
		if (d)
			ck_assert_msg(th_daemon_alive(d), "td exited (log %s)", d->log_path);
		usleep(100 * 1000);
	}
}

static char *read_log(const char *path)
{
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	char *text = NULL;
	size_t len = 0;
	ssize_t n = getdelim(&text, &len, '\0', f);
	fclose(f);
	if (n < 0) {
		free(text);
		text = strdup("");
	}
	return text;
}

static bool log_contains(const char *path, const char *needle)
{
	char *text = read_log(path);
	bool found = strstr(text, needle) != NULL;
	free(text);
	return found;
}

/* Fails unless the log holds each needle, in this order. */
static void assert_log_order(const char *path, const char *const *needles)
{
	char *text = read_log(path);
	const char *at = text;
	for (size_t i = 0; needles[i]; i++) {
		const char *found = strstr(at, needles[i]);
		ck_assert_msg(found, "log %s lacks '%s' after '%s'", path, needles[i], i ? needles[i - 1] : "(start)");
		at = found + strlen(needles[i]);
	}
	free(text);
}

static long status_of(struct th_daemon *d, const char *path)
{
	struct th_response r = th_call(d, "GET", path, NULL);
	long s = r.status;
	th_response_free(&r);
	return s;
}

/* --- tasks --------------------------------------------------------------------------- */

START_TEST(tasks_start_after_migrations_and_stop_in_order)
{
	char topic[64], group[64];
	unique(topic, sizeof topic, "svc.test.");
	unique(group, sizeof group, "svc-test-");
	char *url = th_db_create();
	PGconn *pg = pg_open(url);
	pg_ok(pg, "SELECT pg_advisory_lock(" TD_LOCK ")"); /* holds td's migration */
	produce(topic, "p0");

	struct th_daemon *d = td_spawn(url, topic, group, false);
	/* Long enough for a consumer to join its group (3 s) and get p0, a worker and a
	 * periodic task to run, had svc started them before the migration. */
	ck_assert(th_daemon_wait_status(d, "/readyz", 503, 10000));
	sleep(5);
	struct th_response r = th_call(d, "GET", "/readyz", NULL);
	th_expect_error(&r, 503, "TEMPORARILY_UNAVAILABLE", "not migrated");
	th_response_free(&r);
	ck_assert(!log_contains(d->log_path, "periodic tasks started"));
	ck_assert_int_eq(
		pg_long(pg, "SELECT count(*) FROM pg_tables WHERE schemaname = 'td' AND tablename = 'marks'", NULL), 0);

	pg_ok(pg, "SELECT pg_advisory_unlock(" TD_LOCK ")");
	ck_assert(th_daemon_wait_status(d, "/readyz", 200, 30000));
	wait_mark(d, pg, "worker started", 1, 10000);
	wait_mark(d, pg, "tick", 2, 10000);
	wait_mark(d, pg, "consumer handled p0", 1, 30000);
	assert_log_order(d->log_path, (const char *const[]){"applied migration 0001-td.sql", "periodic tasks started",
							    "\"msg\":\"ready\"", NULL});

	/* SIGTERM while the consumer holds a message it has not finished */
	produce(topic, "block-term");
	wait_mark(d, pg, "consumer blocked block-term", 1, 30000);
	const char *log_path = strdup(d->log_path);
	th_daemon_stop(d); /* exit 0, no unexpected error line */
	long stop_hook = first_mark(pg, "stop hook");
	ck_assert_int_gt(stop_hook, 0);
	ck_assert_int_lt(last_mark(pg, "tick"), stop_hook);
	ck_assert_int_gt(first_mark(pg, "worker stopped"), 0);
	ck_assert_int_lt(first_mark(pg, "worker stopped"), stop_hook);
	ck_assert_int_gt(first_mark(pg, "consumer handed back block-term"), 0);
	ck_assert_int_lt(first_mark(pg, "consumer handed back block-term"), stop_hook);
	ck_assert_int_eq(marks(pg, "consumer handled block-term"), 0);
	ck_assert_int_eq(attempts(pg, "block-term"), 1);
	assert_log_order(log_path,
			 (const char *const[]){"shutting down", "stopping consumers, workers and periodic tasks",
					       "consumers, workers and periodic tasks stopped", "HTTP server drained",
					       "outbox relay stopped", "td: stop hook", "\"msg\":\"stopped\"", NULL});
	free((char *)log_path);

	/* the message handed back (not committed) comes again; p0 (committed) does not */
	d = td_spawn(url, topic, group, false);
	ck_assert(th_daemon_wait_status(d, "/readyz", 200, 30000));
	wait_mark(d, pg, "consumer handled block-term", 1, 45000);
	ck_assert_int_eq(attempts(pg, "block-term"), 2);
	ck_assert_int_eq(attempts(pg, "p0"), 1);
	th_daemon_stop(d);
	PQfinish(pg);
	free(url);
}
END_TEST

START_TEST(offset_is_committed_only_after_the_handler_returns)
{
	char topic[64], group[64];
	unique(topic, sizeof topic, "svc.test.");
	unique(group, sizeof group, "svc-test-");
	char *url = th_db_create();
	PGconn *pg = pg_open(url);
	produce(topic, "block-kill");
	struct th_daemon *d = td_spawn(url, topic, group, false);
	ck_assert(th_daemon_wait_status(d, "/readyz", 200, 30000));
	wait_mark(d, pg, "consumer blocked block-kill", 1, 30000);
	td_kill9(d); /* dies inside the handler: nothing committed */
	produce(topic, "after-kill");

	d = td_spawn(url, topic, group, false);
	ck_assert(th_daemon_wait_status(d, "/readyz", 200, 30000));
	/* the dead member's session (4 s) expires, then its partitions come to us */
	wait_mark(d, pg, "consumer handled block-kill", 1, 60000);
	wait_mark(d, pg, "consumer handled after-kill", 1, 30000);
	ck_assert_int_eq(attempts(pg, "block-kill"), 2);
	th_daemon_stop(d);

	/* both were committed once handled: a third member sees only what is new */
	d = td_spawn(url, topic, group, false);
	ck_assert(th_daemon_wait_status(d, "/readyz", 200, 30000));
	produce(topic, "last");
	wait_mark(d, pg, "consumer handled last", 1, 45000);
	ck_assert_int_eq(attempts(pg, "block-kill"), 2);
	ck_assert_int_eq(attempts(pg, "after-kill"), 1);
	ck_assert_int_eq(marks(pg, "consumer handled block-kill"), 1);
	th_daemon_stop(d);
	PQfinish(pg);
	free(url);
}
END_TEST

/* group_id_of: two replicas declaring the same group_id, each in a group of its own
 * (TD_GROUP_OF, given to the child), both get every message; a shared group would
 * hand each message to one of them. */
START_TEST(group_id_of_gives_each_replica_every_message)
{
	char topic[64], shared[64], ga[64], gb[64];
	unique(topic, sizeof topic, "svc.test.");
	unique(shared, sizeof shared, "svc-test-");
	unique(ga, sizeof ga, "svc-test-a-");
	unique(gb, sizeof gb, "svc-test-b-");
	char *url_a = th_db_create(), *url_b = th_db_create();
	PGconn *pa = pg_open(url_a), *pb = pg_open(url_b);
	setenv("TD_GROUP_OF", ga, 1);
	struct th_daemon *a = td_spawn(url_a, topic, shared, false);
	setenv("TD_GROUP_OF", gb, 1);
	struct th_daemon *b = td_spawn(url_b, topic, shared, false);
	unsetenv("TD_GROUP_OF");
	ck_assert(th_daemon_wait_status(a, "/readyz", 200, 30000));
	ck_assert(th_daemon_wait_status(b, "/readyz", 200, 30000));
	produce(topic, "to-both");
	wait_mark(a, pa, "consumer handled to-both", 1, 30000);
	wait_mark(b, pb, "consumer handled to-both", 1, 30000);
	th_daemon_stop(a);
	th_daemon_stop(b);
	PQfinish(pa);
	PQfinish(pb);
	free(url_a);
	free(url_b);
}
END_TEST

/* A consumer with handle_batch gets the messages waiting for it in batches of at most
 * batch_max, and each batch is committed once handled: the next member of the group
 * gets only what is new. */
START_TEST(a_batch_consumer_gets_batches_and_commits_them)
{
	char topic[64], group[64], payload[16], what[64];
	unique(topic, sizeof topic, "svc.test.");
	unique(group, sizeof group, "svc-test-");
	char *url = th_db_create();
	PGconn *pg = pg_open(url);
	enum { N = 12 };
	for (int i = 0; i < N; i++) {
		snprintf(payload, sizeof payload, "b%d", i);
		produce(topic, payload);
	}
	setenv("TD_BATCH", "1", 1);
	struct th_daemon *d = td_spawn(url, topic, group, false);
	ck_assert(th_daemon_wait_status(d, "/readyz", 200, 30000));
	for (int i = 0; i < N; i++) {
		snprintf(what, sizeof what, "consumer handled b%d", i);
		wait_mark(d, pg, what, 1, 30000);
	}
	long largest = pg_long(
		pg, "SELECT max(substring(what from 10)::int) FROM td.marks WHERE what LIKE 'batch of %'", NULL);
	long handed = pg_long(pg, "SELECT sum(substring(what from 10)::int) FROM td.marks WHERE what LIKE 'batch of %'",
			      NULL);
	ck_assert_int_le(largest, 5);
	ck_assert_int_gt(largest, 1); /* they were waiting: they came together */
	ck_assert_int_eq(handed, N);
	th_daemon_stop(d);

	d = td_spawn(url, topic, group, false);
	unsetenv("TD_BATCH");
	ck_assert(th_daemon_wait_status(d, "/readyz", 200, 30000));
	produce(topic, "b-last");
	wait_mark(d, pg, "consumer handled b-last", 1, 45000);
	for (int i = 0; i < N; i++) {
		snprintf(payload, sizeof payload, "b%d", i);
		ck_assert_int_eq(attempts(pg, payload), 1);
	}
	ck_assert_int_eq(pg_long(pg,
				 "SELECT sum(substring(what from 10)::int) FROM td.marks WHERE what LIKE 'batch of %'",
				 NULL),
			 N + 1);
	th_daemon_stop(d);
	PQfinish(pg);
	free(url);
}
END_TEST

/* A consumer svc cannot create (here: an empty group id) fails start-up: exit 1, the
 * reason logged, never READY. */
START_TEST(a_consumer_that_cannot_start_fails_start_up)
{
	char topic[64];
	unique(topic, sizeof topic, "svc.test.");
	char *url = th_db_create();
	struct th_daemon *d = td_spawn(url, topic, "", false);
	int status = 0;
	ck_assert_int_eq(waitpid(d->pid, &status, 0), d->pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 1);
	assert_log_order(d->log_path, (const char *const[]){"applied migration 0001-td.sql",
							    "starting consumers, workers and periodic tasks failed",
							    "group id, topics and handler are required", NULL});
	ck_assert(!log_contains(d->log_path, "\"msg\":\"ready\""));
	free(d->database_url);
	free(d);
	free(url);
}
END_TEST

/* --- readiness ----------------------------------------------------------------------- */

/* Unchecked teardown: runs even when a test failed, so the shared broker is never left
 * down for the tests after it. */
static void broker_up(void)
{
	th_kafka_ctl("up 1");
}

START_TEST(kafka_counts_only_for_consumers)
{
	char topic[64], group[64], name[64], body[256];
	unique(topic, sizeof topic, "svc.test.");
	unique(group, sizeof group, "svc-test-");
	unique(name, sizeof name, "ready-");
	char tracker_url[64];
	snprintf(tracker_url, sizeof tracker_url, "TRACKER_URL=http://127.0.0.1:%u", th_free_port());
	/* failed rounds come quickly: the backlog gauge is refreshed between rounds */
	const char *registry_env[] = {tracker_url, "TRACKER_TIMEOUT_MS=2000", "KAFKA_MESSAGE_TIMEOUT_MS=3000", NULL};
	struct th_daemon *tracker = th_daemon_start("experiment-tracker", NULL, NULL);
	struct th_daemon *registry = th_daemon_start("model-registry", NULL, registry_env);
	char *url = th_db_create();
	struct th_daemon *td = td_spawn(url, topic, group, false);
	ck_assert(th_daemon_wait_status(td, "/readyz", 200, 30000));
	ck_assert(th_metric(registry, "lathe_outbox_backlog") == 0);

	th_kafka_ctl("down 1");
	ck_assert_msg(th_daemon_wait_status(td, "/readyz", 503, 15000), "td's readyz did not turn 503");
	struct th_response r = th_call(td, "GET", "/readyz", NULL);
	th_expect_error(&r, 503, "TEMPORARILY_UNAVAILABLE", "Kafka unreachable");
	th_response_free(&r);

	/* the registry keeps working: its events wait in the outbox */
	snprintf(body, sizeof body, "{\"name\": \"%s\"}", name);
	r = th_call(registry, "POST", "/api/2.0/mlflow/registered-models/create", body);
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);
	snprintf(body, sizeof body, "{\"name\": \"%s\", \"source\": \"s3://b/m\"}", name);
	for (int i = 0; i < 2; i++) {
		r = th_call(registry, "POST", "/api/2.0/mlflow/model-versions/create", body);
		ck_assert_int_eq(r.status, 200);
		th_response_free(&r);
	}
	int waited = 0;
	for (; th_metric(registry, "lathe_outbox_backlog") < 2; waited += 200) {
		ck_assert_msg(waited < 20000, "the registry's outbox backlog did not reach 2");
		ck_assert_int_eq(status_of(registry, "/readyz"), 200);
		ck_assert_int_eq(status_of(tracker, "/readyz"), 200);
		usleep(200 * 1000);
	}
	for (waited = 0; !log_contains(registry->log_path,
				       "\"level\":\"warn\",\"service\":\"model-registry\",\"msg\":\"outbox relay: ");
	     waited += 200) {
		ck_assert_msg(waited < 20000, "the registry did not warn that its relay cannot deliver");
		usleep(200 * 1000);
	}
	ck_assert_int_eq(status_of(registry, "/readyz"), 200);
	ck_assert_int_eq(status_of(tracker, "/readyz"), 200);
	ck_assert_int_eq(status_of(td, "/readyz"), 503);
	ck_assert(th_metric(registry, "lathe_ready") == 1);

	th_kafka_ctl("up 1");
	ck_assert_msg(th_daemon_wait_status(td, "/readyz", 200, 20000), "td's readyz did not come back");
	for (waited = 0; th_metric(registry, "lathe_outbox_backlog") != 0; waited += 200) {
		ck_assert_msg(waited < 40000, "the registry's outbox backlog did not drain");
		usleep(200 * 1000);
	}
	th_daemon_stop(td);
	th_daemon_stop(registry);
	th_daemon_stop(tracker);
	free(url);
}
END_TEST

/* A consuming daemon told to stop while the broker is away still ends with exit 0 (its
 * consumer's close does not wait for the broker). */
START_TEST(a_consumer_stops_while_the_broker_is_down)
{
	char topic[64], group[64];
	unique(topic, sizeof topic, "svc.test.");
	unique(group, sizeof group, "svc-test-");
	char *url = th_db_create();
	PGconn *pg = pg_open(url);
	produce(topic, "p0");
	struct th_daemon *td = td_spawn(url, topic, group, false);
	ck_assert(th_daemon_wait_status(td, "/readyz", 200, 30000));
	wait_mark(td, pg, "consumer handled p0", 1, 30000);
	th_kafka_ctl("down 1");
	ck_assert(th_daemon_wait_status(td, "/readyz", 503, 15000));
	const char *log_path = strdup(td->log_path);
	th_daemon_stop(td); /* exit 0 within 30 s, no error line */
	th_kafka_ctl("up 1");
	assert_log_order(log_path, (const char *const[]){"not ready: Kafka unreachable", "shutting down",
							 "consumers, workers and periodic tasks stopped",
							 "\"msg\":\"stopped\"", NULL});
	free((char *)log_path);
	PQfinish(pg);
	free(url);
}
END_TEST

START_TEST(readyz_asks_the_service)
{
	char topic[64], group[64];
	unique(topic, sizeof topic, "svc.test.");
	unique(group, sizeof group, "svc-test-");
	char *url = th_db_create();
	struct th_daemon *td = td_spawn(url, topic, group, true);
	ck_assert(th_daemon_wait_status(td, "/readyz", 503, 10000));
	struct th_response r = {0};
	for (int waited = 0;; waited += 100) {
		r = th_call(td, "GET", "/readyz", NULL);
		if (r.status != 503 || strstr(r.body, "models not loaded yet"))
			break;
		ck_assert_msg(waited < 30000, "readyz never named the service's reason: %s", r.body);
		th_response_free(&r);
		usleep(100 * 1000);
	}
	th_expect_error(&r, 503, "TEMPORARILY_UNAVAILABLE", "not ready: models not loaded yet");
	th_response_free(&r);
	ck_assert(th_metric(td, "lathe_ready") == 0);
	r = th_call(td, "POST", "/td/load", "{}");
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);
	ck_assert_int_eq(status_of(td, "/readyz"), 200);
	ck_assert(th_metric(td, "lathe_ready") == 1);
	th_daemon_stop(td);
	free(url);
}
END_TEST

static Suite *lifecycle_suite(void)
{
	Suite *s = suite_create("svc-lifecycle");
	TCase *tc = tcase_create("tasks");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, tasks_start_after_migrations_and_stop_in_order);
	tcase_add_test(tc, offset_is_committed_only_after_the_handler_returns);
	tcase_add_test(tc, a_consumer_that_cannot_start_fails_start_up);
	tcase_add_test(tc, group_id_of_gives_each_replica_every_message);
	tcase_add_test(tc, a_batch_consumer_gets_batches_and_commits_them);
	suite_add_tcase(s, tc);
	tc = tcase_create("readiness");
	tcase_set_timeout(tc, 180);
	tcase_add_unchecked_fixture(tc, NULL, broker_up);
	tcase_add_test(tc, kafka_counts_only_for_consumers);
	tcase_add_test(tc, readyz_asks_the_service);
	tcase_add_test(tc, a_consumer_stops_while_the_broker_is_down);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(lifecycle_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

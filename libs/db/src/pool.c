/* The connection pool (face: db/db.h: db_pool_open/close, db_acquire/release, db_ping).
 *
 * A pool owns `size` connection slots, fixed at open, and a stack of the idle ones
 * guarded by one mutex; a borrower with nothing idle waits on a condition variable
 * (CLOCK_MONOTONIC) up to acquire_timeout_ms. Connecting is lazy and happens in the
 * borrower's thread, outside the lock, bounded by libpq's connect_timeout: opening a
 * pool never needs the server, and a dead server costs each acquire one refused connect.
 * The idle stack is LIFO, so the warm connections are reused and only as many are opened
 * as the daemon's concurrency needs.
 *
 * Invariants:
 *   - every slot is either on the idle stack or borrowed (in_use), never both;
 *     n_idle + borrowed == size
 *   - an idle slot is unconnected (pg NULL) or connected, outside any transaction, with
 *     no result or COPY pending, and not broken
 *   - db_acquire hands out a connected, unbroken slot with an empty error record; once a
 *     call marks it broken it stays so, every call on it fails fast, and db_release closes
 *     it (a session is never silently replaced mid-borrow: its transaction would be lost)
 *   - a slot's prepared-statement set describes its current PGconn only
 *   - a connected slot runs with the pool's statement_timeout (set at connect; a
 *     borrower that changes it, as db_migrate does, sets it back before release)
 *
 * A slot's life, and the functions that move it:
 *
 *   UNCONNECTED  on the stack, pg NULL (never connected, or closed)
 *   IDLE         on the stack, pg live as far as we know, no transaction open
 *   IN USE       borrowed, pg live
 *   BROKEN       borrowed, a call found pg dead: every call fails fast
 *
 *   UNCONNECTED --db_acquire: conn_open ok---------------------> IN USE
 *   UNCONNECTED --db_acquire: conn_open fails (NULL to caller)--> UNCONNECTED
 *   IDLE        --db_acquire: conn_alive-----------------------> IN USE
 *   IDLE        --db_acquire: stale: slot_close + conn_open----> IN USE / UNCONNECTED
 *   IN USE      --db_release (ROLLBACK if a transaction is open)> IDLE
 *   IN USE      --db_release: left mid-COPY, ROLLBACK failed-----> UNCONNECTED
 *   IN USE      --any call: DB_UNAVAILABLE (db_int_fail_result)> BROKEN
 *   BROKEN      --db_release: slot_close (PQfinish)------------> UNCONNECTED
 *
 * A stale idle connection (the server restarted, or terminated the backend) is noticed
 * at db_acquire without a round trip: its socket is readable (the server's goodbye or
 * EOF), so libpq reads it and reports CONNECTION_BAD. What slips past that check fails on
 * its first statement with DB_UNAVAILABLE, which db_run_tx retries once. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/alloc.h"
#include "core/log.h"
#include "core/time.h"
#include "db_int.h"

#define POOL_MAX_SIZE              1000
#define DEFAULT_ACQUIRE_TIMEOUT_MS 5000
#define DEFAULT_CONNECT_TIMEOUT_S  3

/* libpq hands server notices (and the FATAL a server sends before closing an idle
 * connection) to this instead of printing them on stderr. */
static void on_notice(void *arg, const PGresult *res)
{
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	bool loud = severity && (strcmp(severity, "WARNING") == 0 || strcmp(severity, "FATAL") == 0 ||
				 strcmp(severity, "PANIC") == 0);
	struct core_log_field f[] = {CORE_LF_STR("severity", severity)};

	(void)arg;
	core_log_with(loud ? CORE_LOG_WARN : CORE_LOG_DEBUG, f, 1, "db: server says: %s", msg ? msg : "?");
}

/* Opens one libpq connection with the pool's settings and search_path. Returns it, or
 * NULL with err filled (the server is unreachable or refused us). */
static PGconn *conn_open(const struct db_pool *pool, struct core_error *err)
{
	char timeout[16];
	const char *kw[8], *val[8];
	size_t n = 0;
	bool ok = false;
	PGconn *pg = NULL;
	PGresult *r = NULL;
	char *quoted = NULL, *sql = NULL;
	char msg[400];

	snprintf(timeout, sizeof timeout, "%u", pool->connect_timeout_s);
	/* Before dbname: defaults the URL may override. TCP keepalives notice a peer that
	 * vanished without a reset (a query waiting on it would otherwise hang for hours). */
	kw[n] = "keepalives_idle", val[n++] = "30";
	kw[n] = "keepalives_interval", val[n++] = "10";
	kw[n] = "keepalives_count", val[n++] = "3";
	kw[n] = "dbname", val[n++] = pool->url;
	/* After dbname: the pool's config wins over the URL. */
	kw[n] = "connect_timeout", val[n++] = timeout;
	if (pool->app_name)
		kw[n] = "application_name", val[n++] = pool->app_name;
	kw[n] = NULL, val[n] = NULL;

	pg = PQconnectdbParams(kw, val, 1);
	if (!pg || PQstatus(pg) != CONNECTION_OK) {
		db_int_trim_copy(msg, sizeof msg, pg ? PQerrorMessage(pg) : "out of memory");
		core_fail(err, CORE_EIO, "db: cannot connect to the server: %s", msg);
		goto out;
	}
	PQsetNoticeReceiver(pg, on_notice, NULL);
	if (pool->statement_timeout_ms) {
		/* A SET rather than libpq's options=-c...: a URL's own options stay intact. */
		sql = core_xasprintf("SET statement_timeout = %u", pool->statement_timeout_ms);
		r = PQexec(pg, sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			db_int_trim_copy(msg, sizeof msg, PQerrorMessage(pg));
			core_fail(err, CORE_EIO, "db: %s failed: %s", sql, msg);
			goto out;
		}
		PQclear(r);
		r = NULL;
		free(sql);
		sql = NULL;
	}
	if (pool->schema) {
		quoted = PQescapeIdentifier(pg, pool->schema, strlen(pool->schema));
		if (!quoted) {
			db_int_trim_copy(msg, sizeof msg, PQerrorMessage(pg));
			core_fail(err, CORE_EIO, "db: cannot quote schema name: %s", msg);
			goto out;
		}
		sql = core_xasprintf("SET search_path TO %s", quoted);
		r = PQexec(pg, sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			db_int_trim_copy(msg, sizeof msg, PQerrorMessage(pg));
			core_fail(err, CORE_EIO, "db: %s failed: %s", sql, msg);
			goto out;
		}
	}
	ok = true;
out:
	if (!ok) {
		PQfinish(pg);
		pg = NULL;
	}
	PQclear(r);
	free(sql);
	PQfreemem(quoted);
	return pg;
}

/* Whether an idle connection still stands, without a round trip: nothing should arrive
 * on an idle connection but notifications, so a readable socket is read (libpq notices
 * EOF or the server's FATAL goodbye and drops to CONNECTION_BAD). */
static bool conn_alive(PGconn *pg)
{
	if (PQstatus(pg) != CONNECTION_OK || PQtransactionStatus(pg) != PQTRANS_IDLE || PQsocket(pg) < 0)
		return false;
	for (int round = 0; round < 4; round++) {
		struct pollfd p = {.fd = PQsocket(pg), .events = POLLIN};
		int n = poll(&p, 1, 0);

		if (n == 0)
			return true;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || !PQconsumeInput(pg) || PQstatus(pg) != CONNECTION_OK)
			return false;
	}
	return false; /* still readable after reading four times: not to be trusted */
}

/* Closes a slot's connection (if any) and forgets what was prepared on it. */
static void slot_close(struct db_conn *c)
{
	PQfinish(c->pg);
	c->pg = NULL;
	c->broken = false;
	db_int_prepared_free(c);
}

/* Makes sure a slot just taken from the stack holds a live connection. */
static enum core_status slot_connect(struct db_conn *c, struct core_error *err)
{
	if (c->pg && !c->broken && conn_alive(c->pg))
		return CORE_OK;
	if (c->pg)
		core_log(CORE_LOG_INFO, "db: pooled connection went stale (generation %llu), reconnecting",
			 (unsigned long long)c->generation);
	slot_close(c);
	c->pg = conn_open(c->pool, err);
	if (!c->pg)
		return CORE_EIO;
	c->generation++;
	return CORE_OK;
}

static struct timespec deadline_after_ms(unsigned ms)
{
	return core_deadline_us((int64_t)ms * 1000);
}

/* Takes a slot off the idle stack, waiting up to wait_ms (0: not at all). Returns NULL
 * when none became free in time. */
static struct db_conn *pool_take(struct db_pool *pool, unsigned wait_ms)
{
	struct timespec deadline = deadline_after_ms(wait_ms);
	struct db_conn *c = NULL;

	pthread_mutex_lock(&pool->lock);
	while (pool->n_idle == 0 && wait_ms > 0) {
		if (pthread_cond_timedwait(&pool->freed, &pool->lock, &deadline) == ETIMEDOUT)
			break;
	}
	if (pool->n_idle > 0) {
		c = pool->idle[--pool->n_idle];
		c->in_use = true;
	}
	pthread_mutex_unlock(&pool->lock);
	return c;
}

static void pool_put(struct db_conn *c)
{
	struct db_pool *pool = c->pool;

	pthread_mutex_lock(&pool->lock);
	c->in_use = false;
	pool->idle[pool->n_idle++] = c;
	pthread_cond_signal(&pool->freed);
	pthread_mutex_unlock(&pool->lock);
}

enum core_status db_pool_open(const struct db_pool_config *cfg, struct db_pool **out, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	struct db_pool *pool = NULL;
	char *parse_err = NULL;
	PQconninfoOption *parsed = NULL;
	pthread_condattr_t attr;
	bool lock_made = false, cond_made = false;

	if (!cfg || !cfg->url || !out) {
		rc = core_fail(err, CORE_EINVAL, "db: pool config needs a url");
		goto out;
	}
	if (cfg->size == 0 || cfg->size > POOL_MAX_SIZE) {
		rc = core_fail(err, CORE_EINVAL, "db: pool size must be 1..%d, got %u", POOL_MAX_SIZE, cfg->size);
		goto out;
	}
	parsed = PQconninfoParse(cfg->url, &parse_err);
	if (!parsed) {
		char msg[300];

		db_int_trim_copy(msg, sizeof msg, parse_err ? parse_err : "out of memory");
		rc = core_fail(err, CORE_EINVAL, "db: bad connection url: %s", msg);
		goto out;
	}
	pool = core_xcalloc(1, sizeof *pool);
	pool->url = core_xstrdup(cfg->url);
	pool->schema = cfg->schema ? core_xstrdup(cfg->schema) : NULL;
	pool->app_name = cfg->application_name ? core_xstrdup(cfg->application_name) : NULL;
	pool->size = cfg->size;
	pool->acquire_timeout_ms = cfg->acquire_timeout_ms ? cfg->acquire_timeout_ms : DEFAULT_ACQUIRE_TIMEOUT_MS;
	pool->connect_timeout_s = cfg->connect_timeout_s ? cfg->connect_timeout_s : DEFAULT_CONNECT_TIMEOUT_S;
	pool->statement_timeout_ms = cfg->statement_timeout_ms;
	pool->conns = core_xcalloc(cfg->size, sizeof *pool->conns);
	pool->idle = core_xcalloc(cfg->size, sizeof *pool->idle);
	for (unsigned i = 0; i < cfg->size; i++) {
		pool->conns[i].pool = pool;
		pool->idle[i] = &pool->conns[cfg->size - 1 - i]; /* conns[0] goes out first */
	}
	pool->n_idle = cfg->size;
	if (pthread_mutex_init(&pool->lock, NULL) != 0) {
		rc = core_fail(err, CORE_EIO, "db: pthread_mutex_init failed");
		goto out;
	}
	lock_made = true;
	if (pthread_condattr_init(&attr) != 0) {
		rc = core_fail(err, CORE_EIO, "db: pthread_condattr_init failed");
		goto out;
	}
	cond_made =
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 && pthread_cond_init(&pool->freed, &attr) == 0;
	pthread_condattr_destroy(&attr);
	if (!cond_made) {
		rc = core_fail(err, CORE_EIO, "db: pthread_cond_init on CLOCK_MONOTONIC failed");
		goto out;
	}
	*out = pool;
	pool = NULL;
out:
	if (pool) {
		if (lock_made)
			pthread_mutex_destroy(&pool->lock);
		free(pool->idle);
		free(pool->conns);
		free(pool->app_name);
		free(pool->schema);
		free(pool->url);
		free(pool);
	}
	PQconninfoFree(parsed);
	PQfreemem(parse_err);
	return rc;
}

void db_pool_close(struct db_pool *pool)
{
	if (!pool)
		return;
	if (pool->n_idle != pool->size) {
		core_error("db: db_pool_close with %u connection(s) still borrowed", pool->size - pool->n_idle);
		abort();
	}
	for (unsigned i = 0; i < pool->size; i++)
		slot_close(&pool->conns[i]);
	pthread_cond_destroy(&pool->freed);
	pthread_mutex_destroy(&pool->lock);
	free(pool->idle);
	free(pool->conns);
	free(pool->app_name);
	free(pool->schema);
	free(pool->url);
	free(pool);
}

struct db_conn *db_acquire(struct db_pool *pool, struct core_error *err)
{
	struct db_conn *c;
	struct core_error e;

	if (!pool) {
		core_fail(err, CORE_EINVAL, "db: db_acquire without a pool");
		return NULL;
	}
	c = pool_take(pool, pool->acquire_timeout_ms);
	if (!c) {
		core_fail(&e, CORE_EIO, "db: no connection became free within %u ms (pool of %u)",
			  pool->acquire_timeout_ms, pool->size);
		goto fail;
	}
	if (slot_connect(c, &e) != CORE_OK) {
		pool_put(c);
		goto fail;
	}
	db_int_clear_error(c);
	return c;
fail:
	core_warn("%s", e.message);
	if (err)
		*err = e;
	return NULL;
}

void db_release(struct db_conn *c)
{
	if (!c)
		return;
	if (!c->in_use) {
		core_error("db: db_release of a connection that is not borrowed");
		abort();
	}
	if (c->pg && !c->broken) {
		PGTransactionStatusType ts = PQtransactionStatus(c->pg);

		if (PQstatus(c->pg) != CONNECTION_OK) {
			c->broken = true;
		} else if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
			PGresult *r = PQexec(c->pg, "ROLLBACK");

			core_debug("db: rolled back a transaction left open at release");
			if (PQresultStatus(r) != PGRES_COMMAND_OK || PQtransactionStatus(c->pg) != PQTRANS_IDLE)
				c->broken = true;
			PQclear(r);
		} else if (ts != PQTRANS_IDLE) {
			c->broken = true; /* mid-COPY or a result never read: start afresh */
		}
	}
	if (c->broken)
		slot_close(c);
	db_int_clear_error(c);
	pool_put(c);
}

/* Runs SELECT 1 on pg, giving up after timeout_ms. Returns whether it answered; on
 * false a query may still be in flight (the caller closes pg). */
static bool select1_within(PGconn *pg, unsigned timeout_ms)
{
	uint64_t deadline = core_monotonic_ns() + (uint64_t)timeout_ms * 1000000u;
	bool ok = false;
	PGresult *r;

	if (!PQsendQuery(pg, "SELECT 1"))
		return false;
	for (;;) {
		while (PQisBusy(pg)) {
			uint64_t now = core_monotonic_ns();
			struct pollfd p = {.fd = PQsocket(pg), .events = POLLIN};
			int n;

			if (now >= deadline)
				return false;
			n = poll(&p, 1, (int)((deadline - now) / 1000000u) + 1);
			if (n < 0 && errno != EINTR)
				return false;
			if (!PQconsumeInput(pg))
				return false;
		}
		r = PQgetResult(pg);
		if (!r)
			break;
		ok = PQresultStatus(r) == PGRES_TUPLES_OK;
		PQclear(r);
	}
	return ok && PQstatus(pg) == CONNECTION_OK;
}

bool db_ping(struct db_pool *pool)
{
	unsigned timeout_ms;
	struct db_conn *c;
	PGconn *pg = NULL;
	bool ok = false;

	if (!pool)
		goto out;
	timeout_ms = pool->connect_timeout_s * 1000u;
	c = pool_take(pool, 0);
	if (c) {
		ok = slot_connect(c, NULL) == CORE_OK && select1_within(c->pg, timeout_ms);
		if (!ok && c->pg)
			c->broken = true;
		db_release(c);
		goto out;
	}
	/* Every slot is borrowed: ask on a short-lived extra connection. */
	pg = conn_open(pool, NULL);
	ok = pg && select1_within(pg, timeout_ms);
out:
	PQfinish(pg);
	return ok;
}

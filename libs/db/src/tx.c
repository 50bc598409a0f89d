/* The transaction wrapper (face: db/db.h: db_run_tx), the one way Lathe runs a
 * transaction (docs/style.md §11, after Taler's TEH_DB_run_transaction).
 *
 * One attempt: borrow a connection, BEGIN at the requested isolation, call the body,
 * COMMIT, give the connection back. Around it, the retry policy:
 *   DB_SOFT_ERROR (40001 / 40P01, from the body or at COMMIT)
 *       -> again, up to DB_TX_RETRIES times, after a random pause of 0..2^n ms, so two
 *          transactions that collided do not collide again in lock step
 *   DB_UNAVAILABLE before COMMIT was sent (a stale pooled connection after a server
 *   restart fails on BEGIN)
 *       -> again ONCE, at once, on a fresh connection: the server rolled the attempt back
 *   DB_UNAVAILABLE at COMMIT -> no retry: whether it committed is unknown
 *   anything else -> returned as it is
 * DB_AUTOCOMMIT sends neither BEGIN nor COMMIT: the body's one writing statement commits
 * by itself, which saves two round trips (and two wake-ups of each side) per write.
 * Soft errors are retried the same way; a connection lost in the body is not (its
 * statement may have committed: the same "outcome unknown" as a COMMIT lost).
 * A body that returns >= 0 after one of its statements failed (the transaction is
 * aborted, and COMMIT would quietly roll back) gets DB_HARD_ERROR instead of a false
 * success. Uses stmt.c's db_exec_sql and pool.c's acquire/release only. */
#include <stdint.h>
#include "core/id.h"
#include "core/log.h"
#include "core/time.h"
#include "db_int.h"

static const char *const begin_sql[] = {
	[DB_READ_COMMITTED] = "BEGIN ISOLATION LEVEL READ COMMITTED",
	[DB_REPEATABLE_READ] = "BEGIN ISOLATION LEVEL REPEATABLE READ",
	[DB_SERIALIZABLE] = "BEGIN ISOLATION LEVEL SERIALIZABLE",
	[DB_AUTOCOMMIT] = NULL,
};

/* Sleeps a random 0..2^retry ms before retry number `retry` (1-based). */
static void backoff(unsigned retry)
{
	uint32_t r;
	uint32_t ceiling_ms = 1u << (retry < 10 ? retry : 10);

	core_id_random_bytes(&r, sizeof r);
	core_sleep_ms((int64_t)(r % (ceiling_ms + 1)));
}

/* err for a body that returned rc < 0: its own reason, else its last statement's. */
static void body_failed(struct db_conn *c, int rc, struct core_error *err)
{
	if (rc == DB_ROLLBACK)
		core_fail(err, CORE_EINVAL, "rolled back by its callback");
	else if (c->last_err.message[0])
		*err = c->last_err;
	else
		core_fail(err, CORE_EIO, "the callback returned %s", db_strerror(rc));
}

/* The end of a body that ran without BEGIN: nothing to commit or roll back, unless the
 * body opened a transaction of its own, which is a bug (what it wrote is rolled back). */
static int autocommit_end(struct db_conn *c, int rc, bool *lost_at_commit, struct core_error *err)
{
	PGTransactionStatusType ts;

	if (rc < 0) {
		*lost_at_commit = rc == DB_UNAVAILABLE;
		body_failed(c, rc, err);
	} else if (c->broken) {
		*lost_at_commit = true;
		rc = db_int_fail(c, DB_UNAVAILABLE, err, "the callback returned %d after its connection broke", rc);
	}
	if (c->broken)
		return rc;
	ts = PQtransactionStatus(c->pg);
	if (ts != PQTRANS_IDLE) {
		db_exec_sql(c, "ROLLBACK", NULL);
		if (rc >= 0)
			rc = db_int_fail(c, DB_HARD_ERROR, err,
					 "the callback returned %d but left a transaction open (it runs without BEGIN)",
					 rc);
	}
	return rc;
}

/* One attempt on c. Returns the body's result after COMMIT, or a negative status with
 * err filled; *lost_at_commit tells whether the connection died during COMMIT (or, with
 * no BEGIN, during the body, whose statements commit by themselves). */
static int attempt(struct db_conn *c, const char *begin, db_tx_fn fn, void *cls, bool *lost_at_commit,
		   struct core_error *err)
{
	int rc, commit_rc;
	PGTransactionStatusType ts;

	*lost_at_commit = false;
	if (begin && (rc = db_exec_sql(c, begin, err)) < 0)
		return rc;
	rc = fn(c, cls);
	if (!begin)
		return autocommit_end(c, rc, lost_at_commit, err);
	if (rc < 0) {
		body_failed(c, rc, err);
		if (!c->broken)
			db_exec_sql(c, "ROLLBACK", NULL);
		return rc;
	}
	if (c->broken)
		return db_int_fail(c, DB_UNAVAILABLE, err, "the callback returned %d after its connection broke", rc);
	ts = PQtransactionStatus(c->pg);
	if (ts != PQTRANS_INTRANS) {
		rc = db_int_fail(c, DB_HARD_ERROR, err, "the callback returned %d but %s", rc,
				 ts == PQTRANS_INERROR ? "one of its statements had failed (the transaction is aborted)"
						       : "the transaction was no longer open");
		if (ts == PQTRANS_INERROR)
			db_exec_sql(c, "ROLLBACK", NULL);
		return rc;
	}
	commit_rc = db_exec_sql(c, "COMMIT", err);
	if (commit_rc < 0) {
		*lost_at_commit = commit_rc == DB_UNAVAILABLE;
		return commit_rc;
	}
	return rc;
}

int db_run_tx(struct db_pool *pool, const char *name, enum db_isolation iso, db_tx_fn fn, void *cls,
	      struct core_error *err)
{
	struct core_error e = {{0}};
	unsigned soft_retries = 0;
	bool retried_unavailable = false, lost_at_commit = false;
	int rc;

	if (!name)
		name = "tx";
	if (!pool || !fn || (unsigned)iso > DB_AUTOCOMMIT) {
		rc = DB_HARD_ERROR;
		core_fail(&e, CORE_EINVAL, "bad arguments (pool, callback or isolation level)");
		goto out;
	}
	for (;;) {
		struct db_conn *c = db_acquire(pool, &e);

		if (!c) {
			rc = DB_UNAVAILABLE;
			break;
		}
		rc = attempt(c, begin_sql[iso], fn, cls, &lost_at_commit, &e);
		db_release(c);
		if (rc >= 0)
			break;
		if (rc == DB_SOFT_ERROR && soft_retries < DB_TX_RETRIES) {
			soft_retries++;
			core_debug("db: tx %s: retry %u after %s", name, soft_retries, e.message);
			backoff(soft_retries);
			continue;
		}
		if (rc == DB_UNAVAILABLE && !lost_at_commit && !retried_unavailable) {
			retried_unavailable = true;
			core_info("db: tx %s: connection lost before COMMIT, retrying on a fresh one", name);
			continue;
		}
		break;
	}
out:
	if (rc < 0) {
		struct core_error final;

		if (lost_at_commit)
			core_fail(&final, CORE_EIO, "tx %s: connection lost during %s, outcome unknown: %s", name,
				  iso == DB_AUTOCOMMIT ? "a statement that commits by itself" : "COMMIT", e.message);
		else if (rc == DB_SOFT_ERROR)
			core_fail(&final, CORE_EIO, "tx %s: gave up after %u retries: %s", name, soft_retries,
				  e.message);
		else
			core_fail(&final, CORE_EIO, "tx %s: %s", name, e.message);
		if (rc == DB_SOFT_ERROR || lost_at_commit)
			core_warn("db: %s", final.message);
		if (err)
			*err = final;
	}
	return rc;
}

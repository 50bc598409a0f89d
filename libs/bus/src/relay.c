/* The outbox relay: the publishing half of the transactional outbox (outbox.c writes).
 * One thread per service replica moves rows of the pool's schema's outbox table to
 * Kafka, oldest first, and deletes them once Kafka has acknowledged them.
 *
 * One round (relay_round, run by db_run_tx at READ COMMITTED):
 *   1. pg_try_advisory_xact_lock(RELAY_LOCK_CLASS, hashtext(current_schema())): one
 *      relay at a time per schema. A replica that does not get it does nothing this
 *      round. The lock is held until the round's COMMIT/ROLLBACK, so two replicas never
 *      have rows of one schema in flight at the same time.
 *   2. update the backlog gauge (so it counts rows while a round waits on Kafka);
 *      SELECT the oldest `batch` rows (ORDER BY id).
 *   3. bus_produce_event each one (with the CloudEvents content-type header), in id
 *      order, through the idempotent producer; stop producing at the first row the
 *      producer refuses.
 *   4. Wait for every delivery report (bounded by the producer's message.timeout.ms;
 *      a warn line after RELAY_SLOW_WARN_MS says Kafka is not acknowledging).
 *   5. DELETE the delivered rows, except those behind a failed row of the same key
 *      (below); update the backlog gauge; COMMIT.
 *   After a round with any failure the relay backs off (200 ms doubling to 5 s), and the
 *   next round starts again from the oldest row left. A full batch is followed at once by
 *   the next round; otherwise the relay sleeps poll_ms.
 *
 * Ordering. Within one round, one key's rows are produced in id order to one partition;
 * the idempotent producer keeps them in that order across retries and reconnects, and
 * never duplicates them. Its only way to leave a gap is message.timeout.ms: while the
 * broker is unreachable, some queued messages of a partition may time out while later
 * ones (same partition) are still delivered after the broker comes back. So a failed row
 * "blocks" its key for the rest of the round: later rows of that key are kept even when
 * delivered, and republished after the failed one in a later round. Guarantees:
 *   - no loss: a row is deleted only after Kafka acknowledged it (acks=all), in the same
 *     transaction that held the lock; a crash or a lost database connection before
 *     COMMIT leaves the rows, which are published again (duplicates, never loss);
 *   - per key, each event's LAST copy on Kafka is in outbox (id) order, and without
 *     delivery failures every event appears once per round that published it, in
 *     order (duplicates come only from failures: crash, lost database, timeout gaps);
 *   - in the rare timeout-gap case a consumer may see a later event of a key once
 *     before an earlier one (e.g. 1, 3, 2, 3): consumers must be idempotent and should
 *     treat events as "the entity changed", not as deltas that must apply in order.
 *   Rows without a key (random partition) have no order and block nothing.
 *   "Outbox order" is insertion order of the rows (bigserial); for one entity that is
 *   commit order as long as writers lock the entity's row before bus_outbox_write.
 *
 * Errors never end the thread: an unreachable database (db_run_tx < 0) is logged at warn
 * and retried with the same backoff; Kafka failures are logged at warn per round.
 *
 * Invariants: only the relay thread touches rows/slots/pending; delivery callbacks
 * (producer poll thread) touch only slot states, pending and first_error, under
 * round_mu; a round never returns before pending == 0, so slots outlive every callback.
 *
 *   bus_relay_start --> running: [round --(ok, full batch)--> round]
 *                                [round --(ok, partial)--> sleep poll_ms --> round]
 *                                [round --(failure)--> backoff --> round]
 *   running --bus_relay_stop--> (round in hand finishes) --> joined, freed
 *
 * Entry points: bus_relay_start, bus_relay_stop. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bus_int.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/time.h"
#include "db/db.h"
#include "metrics/metrics.h"

#define RELAY_BACKOFF_FIRST_MS 200
#define RELAY_BACKOFF_MAX_MS   5000
#define RELAY_BACKLOG_EVERY_MS 1000
#define RELAY_SLOW_WARN_MS     5000 /* a round waiting this long on Kafka says so */

/* The lock class: the relay's advisory locks are (0x6C617468 "lath", hashtext(schema)),
 * in the two-key space, apart from db_migrate's single-key locks. */
static const struct db_stmt relay_lock = {
	.name = "bus_relay_lock",
	.sql = "SELECT pg_try_advisory_xact_lock(1818326120, hashtext(current_schema()))",
	.n_params = 0,
};
static const struct db_stmt relay_select = {
	.name = "bus_relay_select",
	.sql = "SELECT id, topic, key, payload FROM outbox ORDER BY id LIMIT $1::int",
	.n_params = 1,
};
static const struct db_stmt relay_delete = {
	.name = "bus_relay_delete",
	.sql = "DELETE FROM outbox WHERE id = ANY($1::bigint[])",
	.n_params = 1,
};
static const struct db_stmt relay_backlog = {
	.name = "bus_relay_backlog",
	.sql = "SELECT count(*) FROM outbox",
	.n_params = 0,
};

enum slot_state { SLOT_NOT_SENT, SLOT_SENT, SLOT_DELIVERED, SLOT_FAILED };

struct bus_relay;

/* One row of the round in hand; its address is the delivery callback's opaque. */
struct slot {
	struct bus_relay *r;
	enum slot_state state;
};

struct bus_relay {
	struct db_pool *pool;
	struct bus_producer *producer;
	int poll_ms;
	int batch;
	struct metrics_family *backlog;   /* may be NULL */
	struct metrics_family *published; /* may be NULL */
	pthread_t thread;

	/* stop request: under mu, wake signalled */
	pthread_mutex_t mu;
	pthread_cond_t wake;
	bool stop;

	/* the round in hand: slots[0..batch) belong to the relay thread, except that the
	 * delivery callbacks write slot states, pending and first_error under round_mu */
	pthread_mutex_t round_mu;
	pthread_cond_t round_done; /* signalled when pending reaches 0 */
	struct slot *slots;
	int pending;
	char first_error[sizeof(struct core_error)];

	/* results of the last round (relay thread only; reset at the top of each try) */
	bool locked;
	int rows, delivered, failed, deleted;
	int64_t backlog_at_ms; /* monotonic time of the last backlog update */
};

static int64_t mono_ms(void)
{
	return (int64_t)(core_monotonic_ns() / 1000000u);
}

static struct timespec deadline_in(int64_t ms)
{
	return core_deadline_us(ms * 1000);
}

static void on_delivered(void *opaque, bool delivered, const char *error)
{
	struct slot *s = opaque;
	struct bus_relay *r = s->r;
	pthread_mutex_lock(&r->round_mu);
	s->state = delivered ? SLOT_DELIVERED : SLOT_FAILED;
	if (!delivered && !r->first_error[0])
		snprintf(r->first_error, sizeof r->first_error, "%s", error ? error : "unknown error");
	if (--r->pending == 0)
		pthread_cond_signal(&r->round_done);
	pthread_mutex_unlock(&r->round_mu);
}

/* Waits until every report of the round has arrived. librdkafka guarantees one within
 * message.timeout.ms (plus its one-second scan); past that something is wrong, and we
 * say so, but still wait: the slots must outlive the callbacks. */
static void wait_for_reports(struct bus_relay *r)
{
	int64_t slow_at = mono_ms() + RELAY_SLOW_WARN_MS;
	int64_t warn_at = mono_ms() + bus_int_producer_timeout_ms(r->producer) + 5000;
	pthread_mutex_lock(&r->round_mu);
	while (r->pending > 0) {
		struct timespec t = deadline_in(1000);
		pthread_cond_timedwait(&r->round_done, &r->round_mu, &t);
		if (r->pending > 0 && slow_at && mono_ms() > slow_at) {
			/* the operator hears of an unreachable broker now, not only after
			 * message.timeout.ms; the rows stay in the outbox meanwhile */
			core_warn("outbox relay: Kafka has not acknowledged %d events for %d s (broker unreachable?); "
				  "they stay in the outbox",
				  r->pending, RELAY_SLOW_WARN_MS / 1000);
			slow_at = 0;
		}
		if (r->pending > 0 && mono_ms() > warn_at) {
			core_warn("outbox relay: still waiting for %d delivery reports", r->pending);
			warn_at = mono_ms() + 10000;
		}
	}
	pthread_mutex_unlock(&r->round_mu);
}

/* Whether key appears among the n blocked keys. */
static bool is_blocked(const char *const *blocked, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(blocked[i], key) == 0)
			return true;
	return false;
}

/* Deletes the rows of res that may go: delivered, and no earlier row of the same key
 * failed or went unsent in this round. Returns the DELETE's status. */
static int delete_delivered(struct bus_relay *r, struct db_conn *c, const PGresult *res)
{
	int rc = DB_HARD_ERROR;
	struct core_error err = {{0}};
	struct core_buf ids;
	const char **blocked = core_xcalloc((size_t)r->rows + 1, sizeof *blocked);
	size_t n_blocked = 0;
	core_buf_init(&ids, (size_t)r->rows * 24 + 8);
	enum core_status brc = core_buf_append_str(&ids, "{");
	int n_ids = 0;
	for (int i = 0; i < r->rows && brc == CORE_OK; i++) {
		const char *key = db_get_text(res, i, 2);
		bool ok = r->slots[i].state == SLOT_DELIVERED;
		if (ok && (!key || !is_blocked(blocked, n_blocked, key))) {
			brc = core_buf_printf(&ids, "%s%s", n_ids ? "," : "", db_get_text(res, i, 0));
			n_ids++;
		} else if (key && !is_blocked(blocked, n_blocked, key)) {
			blocked[n_blocked++] = key;
		}
	}
	if (brc == CORE_OK)
		brc = core_buf_append_str(&ids, "}");
	if (brc != CORE_OK) {
		core_error("outbox relay: id list too long (bug)");
		goto cleanup;
	}
	if (n_ids == 0) {
		rc = DB_NO_RESULTS;
		goto cleanup;
	}
	const char *params[] = {ids.data};
	rc = db_exec(c, &relay_delete, params, NULL, &err);
	if (rc >= 0)
		r->deleted = rc;
	if (rc >= 0 && rc != n_ids)
		core_warn("outbox relay: deleted %d rows of %d published (another writer deletes outbox rows?)", rc,
			  n_ids);
	if (rc < 0)
		core_warn("outbox relay: deleting published rows failed, they will be published again: %s",
			  err.message);
cleanup:
	core_buf_free(&ids);
	free(blocked);
	return rc;
}

/* Sets the backlog gauge, at most once a second. Returns 0 or the query's negative
 * status (the transaction is then aborted). */
static int update_backlog(struct bus_relay *r, struct db_conn *c)
{
	if (!r->backlog || mono_ms() - r->backlog_at_ms < RELAY_BACKLOG_EVERY_MS)
		return 0;
	PGresult *res = NULL;
	int64_t n = 0;
	int rc = db_exec(c, &relay_backlog, NULL, &res, NULL);
	if (rc == 1 && db_get_int64(res, 0, 0, &n, NULL) == CORE_OK) {
		metrics_gauge_set(r->backlog, NULL, (double)n);
		r->backlog_at_ms = mono_ms();
	}
	PQclear(res);
	return rc < 0 ? rc : 0;
}

/* One round, as a db_run_tx body (may run more than once: resets its outputs first).
 * Returns the number of rows handled (>= 0: commit) or a negative db_status. */
static int relay_round(struct db_conn *c, void *cls)
{
	struct bus_relay *r = cls;
	int rc = DB_HARD_ERROR;
	PGresult *res = NULL;
	struct core_error err = {{0}};
	r->locked = false;
	r->rows = r->delivered = r->failed = r->deleted = 0;
	r->first_error[0] = '\0';

	rc = db_exec(c, &relay_lock, NULL, &res, &err);
	if (rc != 1)
		goto cleanup;
	const char *got = db_get_text(res, 0, 0);
	if (!got) {
		rc = DB_HARD_ERROR;
		core_error("outbox relay: no schema on the search_path (was the pool's schema migrated?)");
		goto cleanup;
	}
	r->locked = strcmp(got, "t") == 0;
	PQclear(res);
	res = NULL;
	if (!r->locked) {
		rc = update_backlog(r, c); /* another replica is relaying this schema */
		goto cleanup;
	}

	rc = update_backlog(r, c);
	if (rc < 0)
		goto cleanup;
	char limit[16];
	snprintf(limit, sizeof limit, "%d", r->batch);
	const char *params[] = {limit};
	rc = db_exec(c, &relay_select, params, &res, &err);
	if (rc < 0)
		goto cleanup;
	r->rows = rc;
	for (int i = 0; i < r->rows; i++)
		r->slots[i] = (struct slot){.r = r, .state = SLOT_NOT_SENT};

	for (int i = 0; i < r->rows; i++) {
		const char *topic = db_get_text(res, i, 1);
		const char *payload = db_get_text(res, i, 3);
		pthread_mutex_lock(&r->round_mu);
		r->pending++;
		r->slots[i].state = SLOT_SENT;
		pthread_mutex_unlock(&r->round_mu);
		struct core_error perr = {{0}};
		if (bus_produce_event(r->producer, topic, db_get_text(res, i, 2), payload, strlen(payload),
				      on_delivered, &r->slots[i], &perr) != CORE_OK) {
			pthread_mutex_lock(&r->round_mu);
			r->pending--;
			r->slots[i].state = SLOT_NOT_SENT;
			if (!r->first_error[0])
				snprintf(r->first_error, sizeof r->first_error, "%s", perr.message);
			pthread_mutex_unlock(&r->round_mu);
			break; /* the rest stays for a later round */
		}
	}
	wait_for_reports(r);
	for (int i = 0; i < r->rows; i++) {
		if (r->slots[i].state == SLOT_DELIVERED)
			r->delivered++;
		else
			r->failed++;
	}
	if (r->delivered > 0)
		metrics_counter_add(r->published, NULL, (double)r->delivered);
	int drc = delete_delivered(r, c, res);
	if (drc < 0) {
		rc = drc;
		goto cleanup;
	}
	rc = update_backlog(r, c);
	if (rc == 0)
		rc = r->rows;
cleanup:
	PQclear(res); /* failures are logged by relay_main, with db_run_tx's message */
	return rc;
}

/* Sleeps up to ms, or less when a stop is requested. Returns whether to stop. */
static bool sleep_or_stop(struct bus_relay *r, int64_t ms)
{
	struct timespec t = deadline_in(ms);
	pthread_mutex_lock(&r->mu);
	while (!r->stop && pthread_cond_timedwait(&r->wake, &r->mu, &t) == 0)
		;
	bool stop = r->stop;
	pthread_mutex_unlock(&r->mu);
	return stop;
}

static bool stop_requested(struct bus_relay *r)
{
	pthread_mutex_lock(&r->mu);
	bool stop = r->stop;
	pthread_mutex_unlock(&r->mu);
	return stop;
}

static int next_backoff(int backoff_ms)
{
	if (backoff_ms == 0)
		return RELAY_BACKOFF_FIRST_MS;
	return backoff_ms * 2 < RELAY_BACKOFF_MAX_MS ? backoff_ms * 2 : RELAY_BACKOFF_MAX_MS;
}

static void *relay_main(void *arg)
{
	struct bus_relay *r = arg;
	int backoff_ms = 0;
	while (!stop_requested(r)) {
		struct core_error err = {{0}};
		int rc = db_run_tx(r->pool, "bus_relay", DB_READ_COMMITTED, relay_round, r, &err);
		int64_t pause = r->poll_ms;
		if (rc < 0) {
			backoff_ms = next_backoff(backoff_ms);
			pause = backoff_ms;
			core_warn("outbox relay: database round failed (%s), retrying in %d ms: %s", db_strerror(rc),
				  backoff_ms, err.message);
		} else if (r->failed > 0) {
			backoff_ms = next_backoff(backoff_ms);
			pause = backoff_ms;
			struct core_log_field f[] = {CORE_LF_INT("failed", r->failed), CORE_LF_INT("rows", r->rows),
						     CORE_LF_INT("deleted", r->deleted)};
			core_log_with(CORE_LOG_WARN, f, 3,
				      "outbox relay: %d of %d events not published (%s), retrying in %d ms", r->failed,
				      r->rows, r->first_error, backoff_ms);
		} else {
			backoff_ms = 0;
			if (r->locked && r->rows == r->batch)
				pause = 0; /* more waiting: go on at once */
		}
		if (pause > 0 && sleep_or_stop(r, pause))
			break;
	}
	return NULL;
}

enum core_status bus_relay_start(struct db_pool *pool, struct bus_producer *producer,
				 const struct bus_relay_config *cfg, struct bus_relay **out, struct core_error *err)
{
	static const struct bus_relay_config defaults = {0};
	if (!cfg)
		cfg = &defaults;
	if (!pool || !producer || cfg->poll_ms < 0 || cfg->batch < 0)
		return core_fail(err, CORE_EINVAL,
				 "outbox relay: pool and producer are required; poll_ms and batch >= 0");
	struct bus_relay *r = core_xcalloc(1, sizeof *r);
	r->pool = pool;
	r->producer = producer;
	r->poll_ms = cfg->poll_ms > 0 ? cfg->poll_ms : 100;
	r->batch = cfg->batch > 0 ? cfg->batch : 100;
	r->slots = core_xcalloc((size_t)r->batch, sizeof *r->slots);
	r->backlog_at_ms = mono_ms() - RELAY_BACKLOG_EVERY_MS;
	if (cfg->metrics) {
		r->backlog = metrics_gauge_new(cfg->metrics, "lathe_outbox_backlog",
					       "Events in the outbox not yet published to Kafka", NULL);
		r->published =
			metrics_counter_new(cfg->metrics, "lathe_outbox_published_total",
					    "Outbox events Kafka acknowledged (republished ones count again)", NULL);
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->wake, &ca);
	pthread_mutex_init(&r->round_mu, NULL);
	pthread_cond_init(&r->round_done, &ca);
	pthread_condattr_destroy(&ca);
	int e = pthread_create(&r->thread, NULL, relay_main, r);
	if (e != 0) {
		pthread_cond_destroy(&r->round_done);
		pthread_mutex_destroy(&r->round_mu);
		pthread_cond_destroy(&r->wake);
		pthread_mutex_destroy(&r->mu);
		free(r->slots);
		free(r);
		return core_fail(err, CORE_EIO, "outbox relay: cannot start thread: %s", strerror(e));
	}
	*out = r;
	return CORE_OK;
}

void bus_relay_stop(struct bus_relay *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->round_done);
	pthread_mutex_destroy(&r->round_mu);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->mu);
	free(r->slots);
	free(r);
}

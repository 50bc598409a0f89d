/* Firing the schedules: the periodic task (SCHEDULE_TICK_MS) for cron schedules and
 * retries, and the consumer of datasets.events and drift.alerts for event triggers.
 * Every firing is one transaction: the firing row (ON CONFLICT DO NOTHING on
 * (schedule, fire_key)) and, only when that row is new, the job with its log line and
 * training.requests event (tr_job_enqueue, as a submit writes it). So two trainer
 * replicas that see the same due time, or an event delivered twice, make one job.
 *   cron   fire_key = the due time (Unix ms as text); next_due_at then moves to the
 *          first due time after both the fired one and now, so a trainer that was down
 *          fires a missed due time once, not once per missed minute;
 *   event  fire_key = the CloudEvent's id; only schedules created before the event
 *          fire (a new consumer group reads the topic from its start); a dataset
 *          trigger pins the spec's dataset to NAME@<the ready version's number>;
 *   retry  a firing whose last job ended FAILED gets retry_at (q_schedules.c's
 *          refresh); once due, a guarded UPDATE (attempt = the one seen) appends a new
 *          job with the same spec, so only one replica's retry counts. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tr.h"

#define BATCH 100 /* due schedules or retries handled per tick and query */

/* The fired job: written as a submit writes it, its first log line naming the firing. */
static int enqueue(struct db_conn *c, const char *job_id, const char *spec_json, const char *name, const char *fire_key,
		   int attempt, struct core_error *err)
{
	json_t *spec = json_loads(spec_json, 0, NULL);
	const char *model = json_string_value(json_object_get(json_object_get(spec, "register"), "model"));
	char *line = core_xasprintf("queued by schedule '%s' (firing %.80s, attempt %d%s)", name, fire_key, attempt,
				    attempt > 1 ? ": a retry" : "");
	int rc = tr_job_enqueue(c, job_id, spec_json, model, line, core_now_ms(), err);
	free(line);
	json_decref(spec);
	return rc;
}

int tr_sched_fire(struct db_conn *c, const char *schedule_id, const char *name, const char *fire_key,
		  const char *spec_json, bool *fired, struct core_error *err)
{
	char job_id[TR_JOB_ID_LEN + 1], firing_id[TR_JOB_ID_LEN + 1];
	core_id_uuid_hex(job_id);
	core_id_uuid_hex(firing_id);
	*fired = false;
	int rc = tr_q_firing_insert(c, firing_id, schedule_id, fire_key, spec_json, job_id, core_now_ms(), err);
	if (rc <= 0)
		return rc; /* fired already (another replica, or this event before) */
	rc = enqueue(c, job_id, spec_json, name, fire_key, 1, err);
	*fired = rc >= 0;
	return rc;
}

/* --- cron -------------------------------------------------------------------------- */

struct cron_ctx {
	const char *id, *name, *spec, *cron;
	int64_t due;
	bool fired;
	struct core_error err;
};

static int cron_tx(struct db_conn *c, void *cls)
{
	struct cron_ctx *x = cls;
	struct tr_cron cron;
	int64_t next = 0, now = core_now_ms();
	if (tr_cron_parse(x->cron, &cron, &x->err) != CORE_OK ||
	    tr_cron_next(&cron, x->due > now ? x->due : now, &next) != CORE_OK) {
		core_fail(&x->err, CORE_EINVAL, "schedule %s: cron '%s' unreadable", x->id, x->cron);
		return DB_HARD_ERROR;
	}
	char key[24];
	snprintf(key, sizeof key, "%" PRId64, x->due);
	int rc = tr_sched_fire(c, x->id, x->name, key, x->spec, &x->fired, &x->err);
	if (rc >= 0)
		rc = tr_q_sched_advance(c, x->id, x->due, next, &x->err);
	return rc;
}

struct rows_ctx {
	int64_t now;
	PGresult *res;
	struct core_error err;
};

static int due_tx(struct db_conn *c, void *cls)
{
	struct rows_ctx *x = cls;
	PQclear(x->res);
	x->res = NULL;
	return tr_q_sched_due(c, x->now, BATCH, &x->res, &x->err);
}

static void fire_due(struct svc *svc)
{
	struct rows_ctx q = {.now = core_now_ms()};
	int n = db_run_tx(svc_db(svc), "tr_sched_due", DB_READ_COMMITTED, due_tx, &q, &q.err);
	for (int i = 0; i < n && !svc_stopping(svc); i++) {
		struct cron_ctx x = {.id = db_get_text(q.res, i, 0),
				     .spec = db_get_text(q.res, i, 1),
				     .cron = db_get_text(q.res, i, 2),
				     .name = db_get_text(q.res, i, 4)};
		if (db_get_int64(q.res, i, 3, &x.due, NULL) != CORE_OK)
			continue;
		if (db_run_tx(svc_db(svc), "tr_sched_fire_cron", DB_READ_COMMITTED, cron_tx, &x, &x.err) < 0)
			core_warn("schedule %s: firing failed, tried again next tick: %s", x.name, x.err.message);
		else if (x.fired)
			core_info("schedule %s fired for %" PRId64, x.name, x.due);
	}
	if (n < 0)
		core_warn("schedules: due schedules not read: %s", q.err.message);
	PQclear(q.res);
}

/* --- retries ------------------------------------------------------------------------- */

static int retry_due_tx(struct db_conn *c, void *cls)
{
	struct rows_ctx *x = cls;
	PQclear(x->res);
	x->res = NULL;
	int rc = tr_q_firings_refresh(c, &x->err);
	if (rc >= 0)
		rc = tr_q_firings_retry_due(c, x->now, BATCH, &x->res, &x->err);
	return rc;
}

struct retry_ctx {
	const char *schedule_id, *fire_key, *name;
	int attempt;
	bool retried;
	struct core_error err;
};

static int retry_tx(struct db_conn *c, void *cls)
{
	struct retry_ctx *x = cls;
	char job_id[TR_JOB_ID_LEN + 1];
	core_id_uuid_hex(job_id);
	PGresult *res = NULL;
	x->retried = false;
	int rc = tr_q_firing_retry(c, x->schedule_id, x->fire_key, x->attempt, job_id, &res, &x->err);
	if (rc == 1) {
		rc = enqueue(c, job_id, db_get_text(res, 0, 0), x->name, x->fire_key, x->attempt + 1, &x->err);
		x->retried = rc >= 0;
	}
	PQclear(res);
	return rc;
}

static void retry_due(struct svc *svc)
{
	struct rows_ctx q = {.now = core_now_ms()};
	int n = db_run_tx(svc_db(svc), "tr_sched_retry_due", DB_READ_COMMITTED, retry_due_tx, &q, &q.err);
	for (int i = 0; i < n && !svc_stopping(svc); i++) {
		int64_t attempt = 0;
		struct retry_ctx x = {.schedule_id = db_get_text(q.res, i, 0),
				      .fire_key = db_get_text(q.res, i, 1),
				      .name = db_get_text(q.res, i, 3)};
		if (db_get_int64(q.res, i, 2, &attempt, NULL) != CORE_OK)
			continue;
		x.attempt = (int)attempt;
		if (db_run_tx(svc_db(svc), "tr_sched_retry", DB_READ_COMMITTED, retry_tx, &x, &x.err) < 0)
			core_warn("schedule %s: retry failed, tried again next tick: %s", x.name, x.err.message);
		else if (x.retried)
			core_info("schedule %s: firing %s retried (attempt %d)", x.name, x.fire_key, x.attempt + 1);
	}
	if (n < 0)
		core_warn("schedules: retries not read: %s", q.err.message);
	PQclear(q.res);
}

void tr_sched_tick(struct svc *svc, void *app)
{
	(void)app;
	fire_due(svc);
	if (!svc_stopping(svc))
		retry_due(svc);
}

long tr_sched_tick_every(const void *app)
{
	return ((const struct tr_app *)app)->settings->sched_tick_ms;
}

/* --- event triggers -------------------------------------------------------------------- */

struct event_ctx {
	const char *event, *key, *value, *ev_id;
	json_int_t number; /* a ready dataset version's number; 0 otherwise */
	int64_t event_ms;
	int fired;
	struct core_error err;
};

/* The spec a dataset trigger fires with: dataset = NAME@number (owned text). */
static char *pinned_spec(const char *spec_json, const char *name, json_int_t number)
{
	json_t *spec = json_loads(spec_json, 0, NULL);
	if (!spec)
		return NULL;
	char ds[200];
	snprintf(ds, sizeof ds, "%s@%" JSON_INTEGER_FORMAT, name, number);
	json_object_set_new(spec, "dataset", json_string(ds));
	char *text = json_dumps(spec, JSON_COMPACT);
	json_decref(spec);
	return text;
}

static int event_tx(struct db_conn *c, void *cls)
{
	struct event_ctx *x = cls;
	PGresult *res = NULL;
	x->fired = 0;
	int n = tr_q_sched_triggered(c, x->event, x->key, x->value, x->event_ms, &res, &x->err);
	int rc = n;
	for (int i = 0; rc >= 0 && i < n; i++) {
		const char *spec = db_get_text(res, i, 1);
		char *pinned = x->number > 0 ? pinned_spec(spec, x->value, x->number) : NULL;
		bool fired = false;
		if (x->number > 0 && !pinned) {
			core_fail(&x->err, CORE_EINVAL, "schedule %s: unreadable spec", db_get_text(res, i, 0));
			rc = DB_HARD_ERROR;
		} else {
			rc = tr_sched_fire(c, db_get_text(res, i, 0), db_get_text(res, i, 2), x->ev_id,
					   pinned ? pinned : spec, &fired, &x->err);
		}
		x->fired += fired;
		free(pinned);
	}
	PQclear(res);
	return rc < 0 ? rc : x->fired;
}

/* What an event may fire: its trigger name, the trigger's member and the value. */
static bool event_target(json_t *ev, struct event_ctx *x)
{
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *data = json_object_get(ev, "data");
	if (type && strcmp(type, "lathe.dataset.version.ready") == 0) {
		x->event = "dataset.version.ready";
		x->key = "dataset";
		x->value = json_string_value(json_object_get(data, "dataset"));
		x->number = json_integer_value(json_object_get(data, "number"));
		return x->value && x->number > 0;
	}
	if (type && strcmp(type, "lathe.drift.alert") == 0) {
		x->event = "drift.alert";
		x->key = "model";
		x->value = json_string_value(json_object_get(data, "model"));
		return x->value != NULL;
	}
	return false;
}

enum bus_handled tr_sched_on_event(struct svc *svc, void *app, const struct bus_message *m)
{
	(void)app;
	json_t *ev = NULL;
	struct event_ctx x = {0};
	enum bus_handled out = BUS_HANDLED;
	if (bus_event_parse(m->payload, m->len, &ev, &x.err) != CORE_OK) {
		core_warn("%s: an unreadable event at offset %lld skipped: %s", m->topic, (long long)m->offset,
			  x.err.message);
		return BUS_HANDLED;
	}
	if (!event_target(ev, &x))
		goto out;
	x.ev_id = json_string_value(json_object_get(ev, "id"));
	const char *time = json_string_value(json_object_get(ev, "time"));
	x.event_ms = time ? core_time_parse_iso8601(time) : -1;
	if (x.event_ms < 0)
		x.event_ms = core_now_ms();
	if (svc_stopping(svc)) {
		out = BUS_RETRY;
		goto out;
	}
	int rc = db_run_tx(svc_db(svc), "tr_sched_fire_event", DB_READ_COMMITTED, event_tx, &x, &x.err);
	if (rc < 0) {
		core_warn("%s: event %s not fired yet, it comes back: %s", m->topic, x.ev_id, x.err.message);
		out = BUS_RETRY;
	} else if (rc > 0) {
		core_info("%s: event %s (%s %s) fired %d schedule(s)", m->topic, x.ev_id, x.key, x.value, rc);
	}
out:
	json_decref(ev);
	return out;
}

const char *tr_sched_group(const void *app)
{
	return ((const struct tr_app *)app)->settings->sched_group;
}

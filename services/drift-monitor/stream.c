/* The stream (face: dm.h, stream.c section): inference.predictions, consumer group
 * drift, in batches (libs/bus's batch consumer), into each model's window.
 *
 * A batch, under the stream's lock:
 *   1. the events are read; predictions with role "serve" are kept (shadow predictions
 *      are the challenger's, never answered to anyone), grouped by model;
 *   2. each model of the batch gets its monitor (created with the defaults when it has
 *      none and its version has a reference: a served model is watched without anyone
 *      asking) and its settings, read anew every batch so a PATCH takes effect at the
 *      next one; its window is loaded from drift.windows when the stream holds none (a
 *      restart resumes it);
 *   3. the events are applied in order: one already applied (its partition and offset
 *      at or before the window's, a batch delivered again after a crash) or a repeat of
 *      a request id is not counted twice; one whose whole text says otherwise than the
 *      head it was grouped by (a member given twice) is skipped before it can do
 *      anything; an event of a newer version closes the window
 *      and switches to that version's reference (an older version's late events are
 *      skipped); a window that reaches its size closes: its report is built;
 *   4. one transaction writes the reports, the alerts (outbox) and retraining requests
 *      they set off, and every changed window; only then is the batch's offset
 *      committed (BUS_HANDLED). If anything fails, the models of the batch drop what
 *      they hold in memory, reload it from the database next time, and the batch comes
 *      again (BUS_RETRY): memory never runs ahead of what is durable.
 * Windows by time are closed by dm_stream_tick (a periodic task) under the same lock.
 * References are fetched over HTTP (peers.c) outside any transaction; a version whose
 * reference cannot be had is remembered for a minute, its events skipped and counted. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bus/bus.h"
#include "core/alloc.h"
#include "core/id.h"
#include "core/log.h"
#include "core/time.h"
#include "metrics/metrics.h"
#include "dm.h"

#define ALERTS_TOPIC   "drift.alerts"
#define ALERTS_SOURCE  "lathe/drift-monitor"
#define ALERTS_TYPE    "lathe.drift.alert"
#define BAD_VERSION_MS 60000 /* how long a version without a usable reference is not asked again */
#define STATE_MAX      ((size_t)1 << 30)

/* A model the stream has seen. */
struct live {
	char *model;
	char monitor_id[DM_ID_LEN + 1];
	/* the monitor's settings, read each batch */
	int64_t window_size, window_seconds, cooldown_s, last_alert_at; /* last_alert_at -1: never */
	double drift_share;
	char policy[16];
	json_t *features;
	/* the version whose reference is loaded, and its window */
	char *version;
	json_t *lineage;
	struct dm_ref ref;
	bool has_ref;
	struct dm_window w;
	bool has_window, dirty;
	/* a version whose reference could not be had, not asked again before bad_until */
	char *bad_version;
	int64_t bad_until;
};

struct dm_stream {
	pthread_mutex_t lock;
	struct live **live;
	size_t n;
	/* Kept from batch to batch (under the lock): a window's saved bytes and a batch's
	 * events. Allocating them anew each batch made the allocator consolidate the
	 * thousands of small blocks the events' JSON had freed, a fifth of the CPU. */
	struct core_buf save;
	struct item *items;
	size_t items_cap;
	struct dm_event event; /* the event being read */
	double tally[4];       /* events of the batch by outcome (outcomes[]), added to the counter once */
	struct metrics_family *score, *detected, *dataset, *rows, *events;
};

/* A report built from a closed window, waiting for the batch's transaction. */
struct pending {
	struct live *l;
	char id[DM_ID_LEN + 1];
	char *version;
	json_t *doc;
	int64_t start, end, rows;
	bool dataset_drift, alert, retrain;
	double share;
};

struct pendings {
	struct pending *v;
	size_t n;
};

/* --- the models ----------------------------------------------------------------------- */

static void drop_window(struct live *l)
{
	if (l->has_window)
		dm_window_clear(&l->w);
	l->has_window = false;
	l->dirty = false;
}

static void drop_ref(struct live *l)
{
	drop_window(l);
	if (l->has_ref)
		dm_ref_free(&l->ref);
	l->has_ref = false;
	free(l->version);
	l->version = NULL;
	json_decref(l->lineage);
	l->lineage = NULL;
}

static void live_free(struct live *l)
{
	drop_ref(l);
	json_decref(l->features);
	free(l->bad_version);
	free(l->model);
	free(l);
}

static struct live *live_of(struct dm_stream *st, struct dm_str model)
{
	for (size_t i = 0; i < st->n; i++)
		if (dm_str_is(model, st->live[i]->model))
			return st->live[i];
	st->live = core_xrealloc(st->live, (st->n + 1) * sizeof *st->live);
	struct live *l = core_xcalloc(1, sizeof *l);
	l->model = core_xstrndup(model.p, model.n);
	l->last_alert_at = -1;
	st->live[st->n++] = l;
	return l;
}

struct dm_stream *dm_stream_new(struct metrics_registry *reg)
{
	struct dm_stream *st = core_xcalloc(1, sizeof *st);
	pthread_mutex_init(&st->lock, NULL);
	core_buf_init(&st->save, STATE_MAX);
	dm_event_init(&st->event);
	static const char *const mfm[] = {"model", "feature", "method", NULL};
	static const char *const mf[] = {"model", "feature", NULL};
	static const char *const m[] = {"model", NULL};
	static const char *const o[] = {"outcome", NULL};
	st->score = metrics_gauge_new(reg, "drift_score",
				      "the feature's drift score in the model's last report: a p-value or a distance "
				      "(method)",
				      mfm);
	st->detected = metrics_gauge_new(reg, "drift_detected", "1 when the feature drifted in the last report", mf);
	st->dataset = metrics_gauge_new(reg, "drift_dataset_detected",
					"1 when the model's last report found dataset drift", m);
	st->rows = metrics_gauge_new(reg, "drift_window_rows", "predictions in the model's open window", m);
	st->events = metrics_counter_new(reg, "drift_events_total",
					 "prediction events read: added, duplicate (a request seen before), "
					 "redelivered (already applied), skipped (not a served prediction, a text "
					 "that disagrees with its head, an old version, or no reference)",
					 o);
	return st;
}

void dm_stream_free(struct dm_stream *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n; i++)
		live_free(st->live[i]);
	free(st->live);
	core_buf_free(&st->save);
	dm_event_free(&st->event);
	free(st->items);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

static const char *const outcomes[4] = {"added", "duplicate", "redelivered", "skipped"};

static void count(struct dm_stream *st, const char *outcome, double n)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(outcomes[i], outcome) == 0)
			st->tally[i] += n;
}

/* The batch's tally into drift_events_total: one locked update per outcome, not one
 * per event. */
static void count_flush(struct dm_stream *st)
{
	for (int i = 0; i < 4; i++) {
		const char *v[] = {outcomes[i]};
		if (st->tally[i] > 0)
			metrics_counter_add(st->events, v, st->tally[i]);
		st->tally[i] = 0;
	}
}

/* --- the monitor --------------------------------------------------------------------- */

struct monitor_tx {
	const char *model;
	bool create; /* make one with the defaults when the model has none */
	PGresult *res;
	struct core_error err;
};

static int monitor_tx(struct db_conn *c, void *cls)
{
	struct monitor_tx *x = cls;
	PQclear(x->res);
	x->res = NULL;
	int rc = dm_q_monitor_of_model(c, x->model, &x->res, &x->err);
	if (rc != 0 || !x->create)
		return rc;
	/* None yet: one with the defaults, so every served model is watched. */
	json_t *body = json_pack("{s:s}", "model", x->model);
	struct dm_spec spec;
	char id[DM_ID_LEN + 1];
	core_id_uuid_hex(id);
	rc = dm_spec_parse(body, &spec, &x->err) == CORE_OK ? 0 : DB_HARD_ERROR;
	if (rc == 0) {
		rc = dm_q_monitor_insert(c, id, &spec, core_now_ms(), &x->err);
		dm_spec_clear(&spec);
	}
	json_decref(body);
	if (rc >= 0) {
		PQclear(x->res);
		x->res = NULL;
		rc = dm_q_monitor_of_model(c, x->model, &x->res, &x->err);
	}
	return rc;
}

static int64_t int_or(const PGresult *res, int col, int64_t dflt)
{
	int64_t v;
	return db_get_int64(res, 0, col, &v, NULL) == CORE_OK ? v : dflt;
}

/* The model's monitor and its settings into l, created when create and the model has
 * none. *found: whether there is one now. */
static enum core_status sync_monitor(struct svc *svc, struct live *l, bool create, bool *found, struct core_error *err)
{
	struct monitor_tx x = {.model = l->model, .create = create};
	int rc = db_run_tx(svc_db(svc), "dm_stream_monitor", DB_READ_COMMITTED, monitor_tx, &x, &x.err);
	*found = rc == 1;
	if (rc < 0 || (rc == 0 && create)) {
		PQclear(x.res);
		return core_fail(err, CORE_EIO, "the monitor of model '%.100s': %s", l->model,
				 rc < 0 ? x.err.message : "not found after its create");
	}
	if (rc == 0) {
		PQclear(x.res);
		l->monitor_id[0] = '\0';
		drop_window(l);
		return CORE_OK;
	}
	const char *id = db_get_text(x.res, 0, 0);
	if (strcmp(id, l->monitor_id) != 0) {
		drop_window(l); /* another monitor than the window's (deleted and created again) */
		snprintf(l->monitor_id, sizeof l->monitor_id, "%s", id);
	}
	l->window_size = int_or(x.res, 2, 0);
	l->window_seconds = int_or(x.res, 3, 0);
	json_decref(l->features);
	l->features = json_loads(db_get_text(x.res, 0, 4), 0, NULL);
	l->drift_share = strtod(db_get_text(x.res, 0, 5), NULL);
	snprintf(l->policy, sizeof l->policy, "%s", db_get_text(x.res, 0, 6));
	l->cooldown_s = int_or(x.res, 7, 0);
	l->last_alert_at = int_or(x.res, 10, -1);
	PQclear(x.res);
	return CORE_OK;
}

/* --- the reference and the window ---------------------------------------------------- */

/* Loads version's reference into l (dropping the window and reference it had). CORE_EIO:
 * a peer did not answer (retry the batch); CORE_EINVAL: the version has no usable
 * reference (remembered for BAD_VERSION_MS). */
static enum core_status load_ref(struct svc *svc, struct live *l, const char *version, struct core_error *err)
{
	int64_t now = core_now_ms();
	if (l->bad_version && strcmp(l->bad_version, version) == 0 && now < l->bad_until)
		return core_fail(err, CORE_EINVAL, "model '%.100s' version %.40s has no usable reference", l->model,
				 version);
	drop_ref(l);
	const struct dm_settings *s = dm_app(svc)->settings;
	json_t *lineage = NULL, *doc = NULL;
	enum core_status rc = dm_peer_lineage(s, l->model, version, &lineage, err);
	if (rc == CORE_OK)
		rc = dm_peer_reference(s, lineage, &doc, err);
	if (rc == CORE_OK)
		rc = dm_ref_parse(doc, &l->ref, err);
	json_decref(doc);
	if (rc == CORE_OK) {
		l->has_ref = true;
		l->version = core_xstrdup(version);
		json_object_del(lineage, "artifact_uri");
		json_object_del(lineage, "params"); /* a report's lineage names, it does not list */
		l->lineage = lineage;
		free(l->bad_version);
		l->bad_version = NULL;
		return CORE_OK;
	}
	json_decref(lineage);
	if (rc == CORE_EINVAL) {
		core_warn("drift: model '%s' version %s is not watched: %s", l->model, version, err->message);
		free(l->bad_version);
		l->bad_version = core_xstrdup(version);
		l->bad_until = now + BAD_VERSION_MS;
	}
	return rc;
}

struct window_tx {
	const char *monitor_id;
	PGresult *res;
	struct core_error err;
};

static int window_tx(struct db_conn *c, void *cls)
{
	struct window_tx *x = cls;
	PQclear(x->res);
	x->res = NULL;
	return dm_q_window_get(c, x->monitor_id, &x->res, &x->err);
}

/* The window saved for l's monitor, when there is one and its reference can be had. */
static enum core_status load_window(struct svc *svc, struct live *l, struct core_error *err)
{
	struct window_tx x = {.monitor_id = l->monitor_id};
	int rc = db_run_tx(svc_db(svc), "dm_stream_window", DB_READ_COMMITTED, window_tx, &x, &x.err);
	enum core_status st_rc = CORE_OK;
	if (rc < 0) {
		st_rc = core_fail(err, CORE_EIO, "the window of model '%.100s': %s", l->model, x.err.message);
	} else if (rc == 1) {
		const char *version = db_get_text(x.res, 0, 0);
		if (!l->has_ref || strcmp(l->version, version) != 0)
			st_rc = load_ref(svc, l, version, err);
		size_t len = 0;
		unsigned char *state = st_rc == CORE_OK ? dm_q_window_state(x.res, 0, &len) : NULL;
		if (state) {
			struct core_error lerr = {{0}};
			if (dm_window_load(&l->w, &l->ref, state, len, &lerr) == CORE_OK)
				l->has_window = true;
			else
				core_warn("drift: model '%s': the saved window is not read back (%s); a new one starts",
					  l->model, lerr.message);
			PQfreemem(state);
		}
		if (st_rc == CORE_EINVAL)
			st_rc = CORE_OK; /* the saved version is not watchable: the next version will be */
	}
	PQclear(x.res);
	return st_rc;
}

static bool older_version(const char *a, const char *b)
{
	char *ea, *eb;
	long va = strtol(a, &ea, 10), vb = strtol(b, &eb, 10);
	return !*ea && !*eb && va < vb;
}

/* --- closing a window ---------------------------------------------------------------- */

/* The names of the drifted input columns of a report. */
static json_t *drifted_columns(json_t *doc)
{
	json_t *names = json_array(), *row;
	size_t i;
	json_array_foreach(json_object_get(doc, "columns"), i, row)
	{
		if (json_is_true(json_object_get(row, "drift_detected")))
			json_array_append(names, json_object_get(row, "column_name"));
	}
	return names;
}

/* l's window as a report into p (when it holds predictions), and a new window. */
static void close_window(struct live *l, struct pendings *p, int64_t now)
{
	if (!l->has_window || l->w.rows == 0)
		return;
	json_t *doc = NULL;
	struct core_error err = {{0}};
	if (dm_window_report(&l->w, l->features, l->drift_share, &doc, &err) != CORE_OK) {
		core_error("drift: model '%s' version %s: the window's report cannot be built: %s", l->model,
			   l->version, err.message);
		dm_window_restart(&l->w, now);
		l->dirty = true;
		return;
	}
	json_t *win = json_pack("{s:I, s:I, s:I}", "start", (json_int_t)l->w.start_ms, "end", (json_int_t)now, "rows",
				(json_int_t)l->w.rows);
	if (l->window_size > 0)
		json_object_set_new(win, "size", json_integer(l->window_size));
	else
		json_object_set_new(win, "seconds", json_integer(l->window_seconds));
	json_object_set_new(win, "duplicates", json_integer((json_int_t)l->w.duplicates));
	json_object_set_new(doc, "window", win);
	json_object_set_new(doc, "lineage", json_deep_copy(l->lineage));
	p->v = core_xrealloc(p->v, (p->n + 1) * sizeof *p->v);
	struct pending *r = &p->v[p->n++];
	*r = (struct pending){.l = l,
			      .version = core_xstrdup(l->version),
			      .doc = doc,
			      .start = l->w.start_ms,
			      .end = now,
			      .rows = (int64_t)l->w.rows,
			      .dataset_drift = json_is_true(json_object_get(doc, "dataset_drift")),
			      .share = json_real_value(json_object_get(doc, "share_of_drifted_columns"))};
	core_id_uuid_hex(r->id);
	/* The alert is decided here, once, not in the transaction (which may run twice). */
	bool cooled = l->last_alert_at < 0 || now - l->last_alert_at >= l->cooldown_s * 1000;
	if (r->dataset_drift && strcmp(l->policy, "none") != 0 && cooled) {
		r->alert = true;
		r->retrain = strcmp(l->policy, "retrain") == 0;
		l->last_alert_at = now;
	}
	dm_window_restart(&l->w, now);
	l->dirty = true;
}

static void pendings_free(struct pendings *p)
{
	for (size_t i = 0; i < p->n; i++) {
		json_decref(p->v[i].doc);
		free(p->v[i].version);
	}
	free(p->v);
	*p = (struct pendings){0};
}

/* --- the transaction ----------------------------------------------------------------- */

struct persist_tx {
	struct core_buf *save;
	struct pendings *p;
	struct live **touched;
	size_t n_touched;
	int64_t now;
	struct core_error err;
};

static json_t *alert_event(const struct pending *r)
{
	struct live *l = r->l;
	json_t *data = json_pack("{s:s, s:s, s:s, s:s, s:b, s:f, s:f, s:o, s:s, s:O, s:I, s:I}", "report_id", r->id,
				 "monitor_id", l->monitor_id, "model", l->model, "version", r->version, "dataset_drift",
				 r->dataset_drift, "share_of_drifted_columns", r->share, "drift_share", l->drift_share,
				 "drifted_columns", drifted_columns(r->doc), "policy", l->policy, "lineage",
				 json_object_get(r->doc, "lineage"), "window_start", (json_int_t)r->start, "window_end",
				 (json_int_t)r->end);
	if (data)
		json_object_set_new(data, "retrain_requested", json_boolean(r->retrain));
	return bus_event_new(ALERTS_SOURCE, ALERTS_TYPE, l->model, data);
}

static int write_report(struct db_conn *c, const struct pending *r, int64_t now, struct core_error *err)
{
	const struct dm_report_row row = {.id = r->id,
					  .monitor_id = r->l->monitor_id,
					  .model = r->l->model,
					  .version = r->version,
					  .window_start = r->start,
					  .window_end = r->end,
					  .rows = r->rows,
					  .created_at = now,
					  .dataset_drift = r->dataset_drift,
					  .share = r->share,
					  .doc = r->doc};
	int rc = dm_q_report_insert(c, &row, err);
	if (rc < 0 || !r->alert)
		return rc;
	json_t *ev = alert_event(r);
	rc = ev ? bus_outbox_write(c, ALERTS_TOPIC, r->l->model, ev, err) : DB_HARD_ERROR;
	json_decref(ev);
	if (rc >= 0)
		rc = dm_q_monitor_alerted(c, r->l->monitor_id, now, err);
	if (rc >= 0 && r->retrain) {
		char id[DM_ID_LEN + 1];
		core_id_uuid_hex(id);
		rc = dm_q_retrain_insert(c, id, r->l->monitor_id, r->id, r->l->model, r->version, now, err);
	}
	return rc;
}

static int persist_tx(struct db_conn *c, void *cls)
{
	struct persist_tx *x = cls;
	int rc = 0;
	for (size_t i = 0; rc >= 0 && i < x->p->n; i++)
		rc = write_report(c, &x->p->v[i], x->now, &x->err);
	struct core_buf *b = x->save;
	for (size_t i = 0; rc >= 0 && i < x->n_touched; i++) {
		struct live *l = x->touched[i];
		if (!l->has_window || !l->dirty)
			continue;
		core_buf_reset(b);
		if (dm_window_save(&l->w, b) != CORE_OK) {
			core_fail(&x->err, CORE_ENOMEM, "the window of model '%.100s' cannot be saved", l->model);
			rc = DB_HARD_ERROR;
			break;
		}
		rc = dm_q_window_put(c, l->monitor_id, l->version, (int64_t)l->w.rows, b->data, b->len, x->now,
				     &x->err);
	}
	return rc < 0 ? rc : 0;
}

/* Writes p and the touched windows; on failure every touched model forgets its window
 * (the database has the truth). Gauges follow what was written. */
static enum core_status persist(struct dm_stream *st, struct svc *svc, struct pendings *p, struct live **touched,
				size_t n_touched, struct core_error *err)
{
	struct persist_tx x = {
		.save = &st->save, .p = p, .touched = touched, .n_touched = n_touched, .now = core_now_ms()};
	int rc = db_run_tx(svc_db(svc), "dm_stream_persist", DB_READ_COMMITTED, persist_tx, &x, &x.err);
	if (rc < 0) {
		for (size_t i = 0; i < n_touched; i++)
			drop_window(touched[i]);
		for (size_t i = 0; i < p->n; i++)
			p->v[i].l->last_alert_at = -1; /* re-read from the monitor next time */
		return core_fail(err, CORE_EIO, "%s", x.err.message);
	}
	for (size_t i = 0; i < n_touched; i++) {
		const char *m[] = {touched[i]->model};
		touched[i]->dirty = false;
		metrics_gauge_set(st->rows, m, touched[i]->has_window ? (double)touched[i]->w.rows : 0);
	}
	for (size_t i = 0; i < p->n; i++) {
		const struct pending *r = &p->v[i];
		const char *m[] = {r->l->model};
		metrics_gauge_set(st->dataset, m, r->dataset_drift);
		size_t j;
		json_t *row;
		json_array_foreach(json_object_get(r->doc, "columns"), j, row)
		{
			const char *f = json_string_value(json_object_get(row, "column_name"));
			const char *mfm[] = {r->l->model, f, json_string_value(json_object_get(row, "stattest_name"))};
			const char *mf[] = {r->l->model, f};
			json_t *score = json_object_get(row, "drift_score");
			if (json_is_number(score))
				metrics_gauge_set(st->score, mfm, json_number_value(score));
			metrics_gauge_set(st->detected, mf, json_is_true(json_object_get(row, "drift_detected")));
		}
		core_info("drift: model '%s' version %s: report %s, %lld predictions, dataset drift %s (%.3f of the "
			  "columns)%s",
			  r->l->model, r->version, r->id, (long long)r->rows, r->dataset_drift ? "yes" : "no", r->share,
			  r->alert ? (r->retrain ? ", alert and retraining request" : ", alert") : "");
	}
	return CORE_OK;
}

/* --- a batch ---------------------------------------------------------------------------- */

/* An event of the batch: read once to group it (model, version, time), and again, into
 * the stream's one struct dm_event, when it is applied. */
struct item {
	struct live *l;
	const struct bus_message *m;
	json_t *ev; /* the jansson tree, only for an event dm_event_scan gave up on */
	char version[DM_VERSION_MAX + 1];
	struct dm_str ts; /* the head's timestamp (in m's payload or in ev) */
	int32_t partition;
	int64_t offset, at;
};

static void add_touched(struct live ***t, size_t *n, struct live *l)
{
	for (size_t i = 0; i < *n; i++)
		if ((*t)[i] == l)
			return;
	*t = core_xrealloc(*t, (*n + 1) * sizeof **t);
	(*t)[(*n)++] = l;
}

/* The event of it, read whole into st->event (the stream's one struct, which nothing
 * else uses until the event is added), and whether it says what its head said: the head
 * stops reading once it has what groups the event, so a text that says otherwise further
 * on (a member given twice) is neither grouped by one reading and applied by the other,
 * nor applied to the wrong window. false: skip it (also for a malformed text). */
static bool read_whole(struct dm_stream *st, struct item *it)
{
	if (it->ev) {
		dm_event_of_json(it->ev, &st->event);
	} else if (!dm_event_scan(it->m->payload, it->m->len, &st->event)) {
		/* the head was read, a value was not in the common form: read it with jansson */
		json_t *tree = NULL;
		struct core_error perr = {{0}};
		if (bus_event_parse(it->m->payload, it->m->len, &tree, &perr) != CORE_OK)
			return false;
		dm_event_of_json(tree, &st->event);
		it->ev = tree; /* freed with the batch's items */
	}
	return dm_event_agrees(&st->event, it->l->model, it->version, it->ts);
}

/* One event into its model's window. CORE_EIO when a peer must be asked again. */
static enum core_status apply(struct dm_stream *st, struct svc *svc, struct item *it, struct pendings *p,
			      struct core_error *err)
{
	struct live *l = it->l;
	if (!l->monitor_id[0]) { /* no monitor, and no reference to make one with */
		count(st, "skipped", 1);
		return CORE_OK;
	}
	if (l->has_window && it->partition == l->w.partition && it->offset <= l->w.offset) {
		count(st, "redelivered", 1);
		return CORE_OK;
	}
	/* Read whole before anything is done on the head's word: an event whose head names
	 * a newer version but whose text says otherwise further on must not close the
	 * window or switch its reference. */
	if (!read_whole(st, it)) {
		count(st, "skipped", 1);
		return CORE_OK;
	}
	if (!l->version || strcmp(it->version, l->version) != 0 || !l->has_window) {
		if (l->version && strcmp(it->version, l->version) != 0 && older_version(it->version, l->version)) {
			count(st, "skipped", 1);
			return CORE_OK;
		}
		close_window(l, p, core_now_ms());
		int32_t part = l->has_window ? l->w.partition : -1;
		int64_t off = l->has_window ? l->w.offset : -1;
		if (!l->version || strcmp(it->version, l->version) != 0) {
			enum core_status rc = load_ref(svc, l, it->version, err);
			if (rc == CORE_EIO)
				return rc;
			if (rc != CORE_OK) {
				count(st, "skipped", 1);
				return CORE_OK;
			}
		}
		if (!l->has_window) {
			dm_window_init(&l->w, &l->ref, it->at);
			l->w.partition = part;
			l->w.offset = off;
			l->has_window = true;
		}
	}
	if (dm_window_add_event(&l->w, &st->event, it->at) == DM_DUPLICATE) {
		l->w.duplicates++;
		count(st, "duplicate", 1);
	} else {
		count(st, "added", 1);
	}
	l->w.partition = it->partition;
	l->w.offset = it->offset;
	l->dirty = true;
	if (l->window_size > 0 && l->w.rows >= (uint64_t)l->window_size)
		close_window(l, p, it->at > l->w.end_ms ? it->at : l->w.end_ms);
	return CORE_OK;
}

/* The model's monitor (made when it has none and its first version of the batch has a
 * reference: a model whose predictions cannot be compared gets no monitor) and its
 * window (loaded when the stream holds none). */
static enum core_status prepare(struct dm_stream *st, struct svc *svc, struct live *l, struct item *items,
				size_t n_items, struct core_error *err)
{
	bool found = false;
	enum core_status rc = sync_monitor(svc, l, false, &found, err);
	if (rc == CORE_OK && !found) {
		/* the monitor is made for the version of the model's first event that says
		 * one thing: a head that its own text contradicts must not pick it */
		const char *version = NULL;
		for (size_t i = 0; i < n_items && !version; i++)
			if (items[i].l == l && read_whole(st, &items[i]))
				version = items[i].version;
		if (!version)
			return CORE_OK; /* its events are skipped, counted by apply */
		if (!l->has_ref || strcmp(l->version, version) != 0)
			rc = load_ref(svc, l, version, err);
		if (rc == CORE_EINVAL)
			return CORE_OK; /* said at warn; its events are skipped */
		if (rc == CORE_OK)
			rc = sync_monitor(svc, l, true, &found, err);
	}
	if (rc == CORE_OK && found && !l->has_window)
		rc = load_window(svc, l, err);
	return rc;
}

/* Reads m into st->event: from its text, or through jansson when the scan gives up (the
 * tree then goes to *tree). false for a message that is not a CloudEvent. */
static bool read_event(struct dm_stream *st, const struct bus_message *m, json_t **tree)
{
	struct core_error err = {{0}};
	*tree = NULL;
	if (dm_event_scan_head(m->payload, m->len, &st->event))
		return true;
	if (bus_event_parse(m->payload, m->len, tree, &err) != CORE_OK)
		return false;
	dm_event_of_json(*tree, &st->event);
	return true;
}

/* A served prediction's model, version and time into it, or false for anything else
 * (counted as skipped). */
static bool read_item(struct dm_stream *st, const struct bus_message *m, struct item *it)
{
	*it = (struct item){.m = m, .partition = m->partition, .offset = m->offset};
	if (!read_event(st, m, &it->ev))
		return false;
	const struct dm_event *ev = &st->event;
	if (!dm_str_is(ev->type, "lathe.prediction") || !dm_str_is(ev->role, "serve") || ev->model.n == 0 ||
	    ev->model.n > DM_NAME_MAX || ev->version.n == 0 || ev->version.n > DM_VERSION_MAX) {
		json_decref(it->ev);
		it->ev = NULL;
		return false;
	}
	memcpy(it->version, ev->version.p, ev->version.n);
	it->version[ev->version.n] = '\0';
	it->ts = ev->timestamp;
	char ts[40];
	size_t ts_len = ev->timestamp.p ? (ev->timestamp.n < sizeof ts ? ev->timestamp.n : sizeof ts - 1) : 0;
	memcpy(ts, ev->timestamp.p ? ev->timestamp.p : "", ts_len);
	ts[ts_len] = '\0';
	it->at = core_time_parse_iso8601(ts);
	if (it->at < 0)
		it->at = core_now_ms();
	it->l = live_of(st, ev->model);
	return true;
}

enum bus_handled dm_stream_batch(struct svc *svc, void *app, const struct bus_message *ms, size_t n)
{
	(void)app;
	struct dm_stream *st = dm_app(svc)->stream;
	struct item *items;
	struct live **touched = NULL;
	size_t n_items = 0, n_touched = 0;
	struct pendings p = {0};
	struct core_error err = {{0}};
	enum core_status rc = CORE_OK;
	pthread_mutex_lock(&st->lock);
	if (st->items_cap < n) {
		free(st->items);
		st->items_cap = n;
		st->items = core_xcalloc(n, sizeof *st->items);
	}
	items = st->items;
	for (size_t i = 0; i < n; i++) {
		if (read_item(st, &ms[i], &items[n_items])) {
			add_touched(&touched, &n_touched, items[n_items].l);
			n_items++;
		}
	}
	count(st, "skipped", (double)(n - n_items));
	for (size_t i = 0; rc == CORE_OK && i < n_touched; i++)
		rc = prepare(st, svc, touched[i], items, n_items, &err);
	for (size_t i = 0; rc == CORE_OK && i < n_items; i++)
		rc = apply(st, svc, &items[i], &p, &err);
	if (rc == CORE_OK)
		rc = persist(st, svc, &p, touched, n_touched, &err);
	else
		for (size_t i = 0; i < n_touched; i++)
			drop_window(touched[i]);
	if (rc == CORE_OK)
		count_flush(st);
	else
		memset(st->tally, 0, sizeof st->tally); /* the batch comes again */
	for (size_t i = 0; i < n_items; i++)
		json_decref(items[i].ev);
	pthread_mutex_unlock(&st->lock);
	if (rc != CORE_OK)
		core_warn("drift: a batch of %zu events is handed back, to be read again: %s", n, err.message);
	pendings_free(&p);
	free(touched);
	return rc == CORE_OK ? BUS_HANDLED : BUS_RETRY;
}

void dm_stream_tick(struct svc *svc, void *app)
{
	(void)app;
	struct dm_stream *st = dm_app(svc)->stream;
	struct pendings p = {0};
	struct live **touched = NULL;
	size_t n_touched = 0;
	struct core_error err = {{0}};
	int64_t now = core_now_ms();
	pthread_mutex_lock(&st->lock);
	for (size_t i = 0; i < st->n; i++) {
		struct live *l = st->live[i];
		if (!l->has_window || l->window_seconds <= 0 || l->w.rows == 0 ||
		    now - l->w.start_ms < l->window_seconds * 1000)
			continue;
		close_window(l, &p, now);
		add_touched(&touched, &n_touched, l);
	}
	if (n_touched && persist(st, svc, &p, touched, n_touched, &err) != CORE_OK)
		core_warn("drift: closing windows by time failed (they are reloaded and closed again): %s",
			  err.message);
	pthread_mutex_unlock(&st->lock);
	pendings_free(&p);
	free(touched);
}

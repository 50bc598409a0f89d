/* The schedules resource (/v1/schedules). What its operations promise:
 * - create and patch check everything before anything is written: the members (each
 *   bad one a 400 naming it), the cron expression (cron.c), the trigger, and the job
 *   spec exactly as POST /v1/jobs checks it (spec.c, then dataset.c against the data
 *   registry: blocking HTTP outside any transaction); a dataset trigger must name the
 *   spec's dataset (its firings pin that dataset's ready version);
 * - a patch reads the row, merges, checks the result, and writes it only while the row
 *   is unchanged (updated_at as read): a concurrent change is a 409 ABORTED;
 * - next_due_at is computed anew when the cron expression is set or changed and on
 *   resume, from now, so a resumed schedule does not fire for the time it was paused;
 * - list and firings are newest first in keyset pages, as /v1/jobs. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tr.h"

#define NAME_MAX_LEN    200
#define BACKOFF_MAX_MS  86400000L
#define RETRIES_MAX     10
#define RETRIES_DEFAULT 2
#define BACKOFF_DEFAULT 60000

/* A schedule as the handlers hold it (owned). */
struct sched {
	char id[TR_JOB_ID_LEN + 1];
	char *name, *cron;
	json_t *spec, *trigger;
	bool paused;
	int64_t next_due_at; /* -1: none */
	long max_retries;
	int64_t backoff_ms, created_at, updated_at;
};

static void sched_clear(struct sched *s)
{
	free(s->name);
	free(s->cron);
	json_decref(s->spec);
	json_decref(s->trigger);
	memset(s, 0, sizeof *s);
}

static char *dup_or_null(const char *t)
{
	return t ? core_xstrdup(t) : NULL;
}

static int64_t int_or(const PGresult *res, int row, int col, int64_t dflt)
{
	int64_t v = dflt;
	(void)db_get_int64(res, row, col, &v, NULL);
	return v;
}

/* Fills *s from row of res (TR_SCHED_COLS); false when the row is unreadable (*s must
 * still be cleared). */
static bool sched_from_row(const PGresult *res, int row, struct sched *s)
{
	memset(s, 0, sizeof *s);
	snprintf(s->id, sizeof s->id, "%s", db_get_text(res, row, TR_SC_ID));
	s->name = dup_or_null(db_get_text(res, row, TR_SC_NAME));
	s->cron = dup_or_null(db_get_text(res, row, TR_SC_CRON));
	s->spec = json_loads(db_get_text(res, row, TR_SC_SPEC), 0, NULL);
	const char *trig = db_get_text(res, row, TR_SC_TRIGGER);
	s->trigger = trig ? json_loads(trig, 0, NULL) : NULL;
	const char *p = db_get_text(res, row, TR_SC_PAUSED);
	s->paused = p && *p == 't';
	s->next_due_at = int_or(res, row, TR_SC_NEXT, -1);
	s->max_retries = (long)int_or(res, row, TR_SC_RETRIES, 0);
	s->backoff_ms = int_or(res, row, TR_SC_BACKOFF, 0);
	s->created_at = int_or(res, row, TR_SC_CREATED, 0);
	s->updated_at = int_or(res, row, TR_SC_UPDATED, 0);
	return s->name && s->spec && (s->cron || s->trigger);
}

static json_t *sched_json(const struct sched *s)
{
	json_t *o = json_pack("{s:s, s:s, s:O, s:b, s:I, s:I, s:I, s:I}", "id", s->id, "name", s->name, "spec", s->spec,
			      "paused", s->paused, "max_retries", (json_int_t)s->max_retries, "backoff_ms",
			      (json_int_t)s->backoff_ms, "created_at", (json_int_t)s->created_at, "updated_at",
			      (json_int_t)s->updated_at);
	json_object_set_new(o, "cron", s->cron ? json_string(s->cron) : json_null());
	json_object_set(o, "trigger", s->trigger ? s->trigger : json_null());
	if (s->next_due_at >= 0 && !s->paused) {
		char iso[32];
		core_time_iso8601(s->next_due_at, iso);
		json_object_set_new(o, "next_due_at", json_integer(s->next_due_at));
		json_object_set_new(o, "next_due", json_string(iso));
	} else {
		json_object_set_new(o, "next_due_at", json_null());
		json_object_set_new(o, "next_due", json_null());
	}
	return o;
}

/* --- the request's members ------------------------------------------------------------ */

static enum core_status bad(struct core_error *err, const char *field, const char *what)
{
	return core_fail(err, CORE_EINVAL, "%s: %s", field, what);
}

static enum core_status check_trigger(json_t *t, struct core_error *err)
{
	if (!json_is_object(t))
		return bad(err, "trigger", "must be an object {event, dataset} or {event, model}");
	const char *ev = json_string_value(json_object_get(t, "event"));
	const char *member;
	if (!ev)
		return bad(err, "trigger.event", "required: dataset.version.ready or drift.alert");
	if (strcmp(ev, "dataset.version.ready") == 0)
		member = "dataset";
	else if (strcmp(ev, "drift.alert") == 0)
		member = "model";
	else
		return core_fail(err, CORE_EINVAL,
				 "trigger.event: unknown event '%.60s' (dataset.version.ready or "
				 "drift.alert)",
				 ev);
	const char *v = json_string_value(json_object_get(t, member));
	if (!v || !*v || strlen(v) > NAME_MAX_LEN)
		return core_fail(err, CORE_EINVAL, "trigger.%s: required for %s, a name of 1 to %d characters", member,
				 ev, NAME_MAX_LEN);
	const char *key;
	json_t *val;
	json_object_foreach(t, key, val)
	{
		if (strcmp(key, "event") != 0 && strcmp(key, member) != 0)
			return core_fail(err, CORE_EINVAL, "trigger.%.60s: not a member of a %s trigger", key, ev);
	}
	return CORE_OK;
}

static enum core_status int_member(json_t *body, const char *field, long lo, long hi, int64_t *out,
				   struct core_error *err)
{
	json_t *v = json_object_get(body, field);
	if (!v)
		return CORE_OK;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return core_fail(err, CORE_EINVAL, "%s: must be an integer from %ld to %ld", field, lo, hi);
	*out = json_integer_value(v);
	return CORE_OK;
}

/* Applies body's members to s (create: name too). *spec_changed: spec was given. */
static enum core_status apply_body(json_t *body, bool create, struct sched *s, bool *spec_changed,
				   struct core_error *err)
{
	static const char *const allowed[] = {"name",        "spec",       "cron",   "trigger",
					      "max_retries", "backoff_ms", "paused", NULL};
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v)
	{
		bool ok = false;
		for (size_t i = create ? 0 : 1; !ok && allowed[i]; i++)
			ok = strcmp(key, allowed[i]) == 0;
		if (!ok)
			return core_fail(err, CORE_EINVAL, "%.60s: %s", key,
					 strcmp(key, "name") == 0 ? "a schedule's name cannot be changed"
								  : "not a member of a schedule");
	}
	if (create) {
		const char *name = json_string_value(json_object_get(body, "name"));
		if (!name || !*name || strlen(name) > NAME_MAX_LEN)
			return core_fail(err, CORE_EINVAL, "name: required, a string of 1 to %d characters",
					 NAME_MAX_LEN);
		s->name = core_xstrdup(name);
	}
	json_t *spec = json_object_get(body, "spec"), *cron = json_object_get(body, "cron"),
	       *trig = json_object_get(body, "trigger");
	if (spec && !json_is_object(spec))
		return bad(err, "spec", "must be a job spec (an object, as POST /v1/jobs takes)");
	if (create && !spec)
		return bad(err, "spec", "required: the job spec to submit");
	if (cron && trig)
		return bad(err, "cron", "give either cron or trigger, not both");
	if (create && !cron && !trig)
		return bad(err, "cron", "required (or trigger): when the schedule fires");
	if (cron) {
		struct tr_cron c;
		if (!json_is_string(cron))
			return bad(err, "cron", "must be a string such as \"0 3 * * *\"");
		if (tr_cron_parse(json_string_value(cron), &c, err) != CORE_OK)
			return CORE_EINVAL;
	}
	if (trig && check_trigger(trig, err) != CORE_OK)
		return CORE_EINVAL;
	int64_t retries = s->max_retries, backoff = s->backoff_ms;
	if (int_member(body, "max_retries", 0, RETRIES_MAX, &retries, err) != CORE_OK ||
	    int_member(body, "backoff_ms", 0, BACKOFF_MAX_MS, &backoff, err) != CORE_OK)
		return CORE_EINVAL;
	json_t *paused = json_object_get(body, "paused");
	if (paused && !json_is_boolean(paused))
		return bad(err, "paused", "must be true or false");
	/* every member is good: apply */
	bool was_paused = s->paused;
	s->max_retries = (long)retries;
	s->backoff_ms = backoff;
	if (paused)
		s->paused = json_is_true(paused);
	if (spec) {
		json_decref(s->spec);
		s->spec = json_deep_copy(spec);
	}
	*spec_changed = spec != NULL;
	if (cron) {
		free(s->cron);
		s->cron = core_xstrdup(json_string_value(cron));
		json_decref(s->trigger);
		s->trigger = NULL;
	}
	if (trig) {
		json_decref(s->trigger);
		s->trigger = json_deep_copy(trig);
		free(s->cron);
		s->cron = NULL;
	}
	if (cron || (was_paused && !s->paused))
		s->next_due_at = -1; /* computed anew (finish) */
	if (!s->cron)
		s->next_due_at = -1;
	return CORE_OK;
}

/* The spec checked as a submit checks it (when changed), the trigger against it, and
 * next_due_at computed when due. *status: 400 or 503 on failure. */
static enum core_status finish(struct http_request *req, void *app, struct sched *s, bool spec_changed, bool recompute,
			       int *status, struct core_error *err)
{
	struct tr_spec spec;
	struct tr_dataset_info info;
	*status = 400;
	if (tr_spec_parse(s->spec, &spec, err) != CORE_OK) {
		char msg[sizeof err->message];
		snprintf(msg, sizeof msg, "%s", err->message);
		return core_fail(err, CORE_EINVAL, "spec.%s", msg);
	}
	const char *tds = s->trigger ? json_string_value(json_object_get(s->trigger, "dataset")) : NULL;
	if (tds && strcmp(tds, spec.dataset_name) != 0)
		return core_fail(err, CORE_EINVAL, "trigger.dataset: '%.200s' is not the spec's dataset '%s'", tds,
				 spec.dataset_name);
	if (spec_changed &&
	    tr_dataset_check(tr_app(app)->settings, &spec, http_request_id(req), &info, status, err) != CORE_OK) {
		if (*status == 400) {
			char msg[sizeof err->message];
			snprintf(msg, sizeof msg, "%s", err->message);
			return core_fail(err, CORE_EINVAL, "spec.%s", msg);
		}
		*status = 503;
		return CORE_EIO;
	}
	if (s->cron && (recompute || s->next_due_at < 0)) {
		struct tr_cron c;
		if (tr_cron_parse(s->cron, &c, err) != CORE_OK ||
		    tr_cron_next(&c, core_now_ms(), &s->next_due_at) != CORE_OK)
			return CORE_EINVAL;
	}
	return CORE_OK;
}

static int reply_failed(struct http_request *req, int status, const struct core_error *err)
{
	if (status == 400)
		return http_reply_invalid(req, err);
	return http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE, "%s", err->message);
}

static json_t *load_body(struct http_request *req)
{
	size_t len = 0;
	json_error_t jerr;
	const char *text = http_request_body(req, &len);
	json_t *body = json_loadb(text ? text : "", len, JSON_REJECT_DUPLICATES, &jerr);
	if (!body) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "the body is not JSON: %s", jerr.text);
		return NULL;
	}
	if (!json_is_object(body)) {
		json_decref(body);
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "the body must be a JSON object");
		return NULL;
	}
	return body;
}

/* --- transactions ----------------------------------------------------------------------- */

struct sched_ctx {
	const char *id;
	struct sched *s; /* create / update: what to write; the row read back */
	int64_t old_updated;
	json_t *out;
	struct svc_fail fail;
	struct core_error err;
};

static void row_of(const struct sched *s, char **spec_text, char **trig_text, struct tr_sched_row *r)
{
	*spec_text = json_dumps(s->spec, JSON_COMPACT);
	*trig_text = s->trigger ? json_dumps(s->trigger, JSON_COMPACT) : NULL;
	*r = (struct tr_sched_row){.id = s->id,
				   .name = s->name,
				   .spec_json = *spec_text,
				   .cron = s->cron,
				   .trigger_json = *trig_text,
				   .paused = s->paused,
				   .next_due_at = s->next_due_at,
				   .max_retries = s->max_retries,
				   .backoff_ms = s->backoff_ms,
				   .created_at = s->created_at,
				   .updated_at = s->updated_at};
}

/* Reads the schedule into x->s (when set) and x->out. */
static int read_tx(struct db_conn *c, void *cls)
{
	struct sched_ctx *x = cls;
	PGresult *res = NULL;
	json_decref(x->out);
	x->out = NULL;
	int rc = tr_q_sched_get(c, x->id, &res, &x->err);
	if (rc == 0)
		rc = svc_fail(&x->fail, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Schedule '%s' not found", x->id);
	if (rc > 0) {
		struct sched tmp;
		if (!sched_from_row(res, 0, &tmp)) {
			sched_clear(&tmp);
			core_fail(&x->err, CORE_EINVAL, "schedule %s: unreadable row", x->id);
			rc = DB_HARD_ERROR;
		} else {
			x->out = sched_json(&tmp);
			if (x->s) {
				sched_clear(x->s);
				*x->s = tmp;
			} else {
				sched_clear(&tmp);
			}
		}
	}
	PQclear(res);
	return rc;
}

static int write_tx(struct db_conn *c, void *cls)
{
	struct sched_ctx *x = cls;
	json_decref(x->out); /* a retried transaction starts over */
	x->out = NULL;
	char *spec_text, *trig_text;
	struct tr_sched_row r;
	row_of(x->s, &spec_text, &trig_text, &r);
	int rc = x->old_updated < 0 ? tr_q_sched_insert(c, &r, &x->err)
				    : tr_q_sched_update(c, &r, x->old_updated, &x->err);
	free(spec_text);
	free(trig_text);
	if (rc == DB_CONSTRAINT)
		return svc_fail(&x->fail, HTTP_EC_RESOURCE_ALREADY_EXISTS, "Schedule '%s' already exists", x->s->name);
	if (rc == 0)
		return svc_fail(&x->fail, HTTP_EC_ABORTED, "Schedule '%s' was changed meanwhile: read it and try again",
				x->s->id);
	if (rc < 0)
		return rc;
	struct sched_ctx rd = {.id = x->s->id};
	rc = read_tx(c, &rd);
	x->out = rd.out;
	if (rc < 0)
		x->err = rd.err;
	return rc;
}

static void reply_tx(struct http_request *req, unsigned status, int rc, struct sched_ctx *x)
{
	if (rc >= 0 && x->out)
		http_reply_json(req, status, json_pack("{s:O}", "schedule", x->out));
	else if (rc >= 0)
		svc_reply_tx(req, DB_HARD_ERROR, &x->fail, &x->err);
	json_decref(x->out);
	x->out = NULL;
}

/* --- handlers --------------------------------------------------------------------------- */

void tr_h_sched_create(struct http_request *req, void *app)
{
	struct sched s = {.max_retries = RETRIES_DEFAULT, .backoff_ms = BACKOFF_DEFAULT, .next_due_at = -1};
	struct core_error err = {{0}};
	bool spec_changed = false;
	int status = 0;
	json_t *body = load_body(req);
	if (!body)
		return;
	if (apply_body(body, true, &s, &spec_changed, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		goto out;
	}
	if (finish(req, app, &s, true, true, &status, &err) != CORE_OK) {
		reply_failed(req, status, &err);
		goto out;
	}
	core_id_uuid_hex(s.id);
	s.created_at = s.updated_at = core_now_ms();
	struct sched_ctx x = {.s = &s, .old_updated = -1};
	int rc = svc_run_tx_or_reply(req, app, "tr_h_sched_create", DB_READ_COMMITTED, write_tx, &x, &x.fail);
	reply_tx(req, 201, rc, &x);
out:
	sched_clear(&s);
	json_decref(body);
}

void tr_h_sched_get(struct http_request *req, void *app)
{
	struct sched_ctx x = {.id = http_request_param(req, "id")};
	int rc = svc_run_tx_or_reply(req, app, "tr_h_sched_get", DB_READ_COMMITTED, read_tx, &x, &x.fail);
	reply_tx(req, 200, rc, &x);
}

/* Reads the schedule, applies body (pause and resume: {"paused": ...}) and writes it back. */
static void change(struct http_request *req, void *app, json_t *body, const char *name)
{
	struct sched s = {0};
	struct sched_ctx x = {.id = http_request_param(req, "id"), .s = &s};
	struct core_error err = {{0}};
	bool spec_changed = false;
	int status = 0;
	int rc = svc_run_tx_or_reply(req, app, name, DB_READ_COMMITTED, read_tx, &x, &x.fail);
	json_decref(x.out);
	x.out = NULL;
	if (rc < 0)
		goto out;
	bool was_paused = s.paused;
	char *old_cron = dup_or_null(s.cron);
	if (apply_body(body, false, &s, &spec_changed, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		free(old_cron);
		goto out;
	}
	bool recompute = (was_paused && !s.paused) || (s.cron && (!old_cron || strcmp(old_cron, s.cron) != 0));
	free(old_cron);
	if (finish(req, app, &s, spec_changed, recompute, &status, &err) != CORE_OK) {
		reply_failed(req, status, &err);
		goto out;
	}
	x.old_updated = s.updated_at;
	s.updated_at = core_now_ms();
	if (s.updated_at <= x.old_updated)
		s.updated_at = x.old_updated + 1;
	rc = svc_run_tx_or_reply(req, app, name, DB_READ_COMMITTED, write_tx, &x, &x.fail);
	reply_tx(req, 200, rc, &x);
out:
	sched_clear(&s);
}

void tr_h_sched_patch(struct http_request *req, void *app)
{
	json_t *body = load_body(req);
	if (!body)
		return;
	change(req, app, body, "tr_h_sched_patch");
	json_decref(body);
}

void tr_h_sched_pause(struct http_request *req, void *app)
{
	json_t *body = json_pack("{s:b}", "paused", 1);
	change(req, app, body, "tr_h_sched_pause");
	json_decref(body);
}

void tr_h_sched_resume(struct http_request *req, void *app)
{
	json_t *body = json_pack("{s:b}", "paused", 0);
	change(req, app, body, "tr_h_sched_resume");
	json_decref(body);
}

static int delete_tx(struct db_conn *c, void *cls)
{
	struct sched_ctx *x = cls;
	int rc = tr_q_sched_delete(c, x->id, &x->err);
	if (rc == 0)
		rc = svc_fail(&x->fail, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Schedule '%s' not found", x->id);
	return rc;
}

void tr_h_sched_delete(struct http_request *req, void *app)
{
	struct sched_ctx x = {.id = http_request_param(req, "id")};
	if (svc_run_tx_or_reply(req, app, "tr_h_sched_delete", DB_READ_COMMITTED, delete_tx, &x, &x.fail) >= 0)
		http_reply_json(req, 200, json_object());
}

/* --- listings ----------------------------------------------------------------------------- */

struct list_ctx {
	const char *id; /* firings: the schedule */
	struct svc_page page;
	json_t *items;
	char *next;
	struct svc_fail fail;
	struct core_error err;
};

/* Turns rc rows of res (limit + 1 asked) into x's items and next token; the row's
 * keyset is (created_col, id_col). Clears res. */
static int collect(struct list_ctx *x, int rc, PGresult *res, json_t *(*to_json)(const PGresult *, int),
		   int created_col, int id_col)
{
	for (int i = 0; rc > 0 && i < rc && i < x->page.limit; i++) {
		json_t *o = to_json(res, i);
		if (!o) {
			core_fail(&x->err, CORE_EINVAL, "an unreadable row");
			rc = DB_HARD_ERROR;
			break;
		}
		json_array_append_new(x->items, o);
	}
	if (rc > x->page.limit)
		x->next = svc_page_token(db_get_text(res, (int)x->page.limit - 1, created_col),
					 db_get_text(res, (int)x->page.limit - 1, id_col));
	PQclear(res);
	return rc;
}

static void list_reset(struct list_ctx *x)
{
	json_array_clear(x->items);
	free(x->next);
	x->next = NULL;
}

static json_t *sched_row_json(const PGresult *res, int i)
{
	struct sched s;
	json_t *o = sched_from_row(res, i, &s) ? sched_json(&s) : NULL;
	sched_clear(&s);
	return o;
}

static int list_tx(struct db_conn *c, void *cls)
{
	struct list_ctx *x = cls;
	PGresult *res = NULL;
	list_reset(x);
	int rc = tr_q_sched_list(c, x->page.after_created, x->page.after_id, x->page.limit + 1, &res, &x->err);
	return collect(x, rc, res, sched_row_json, TR_SC_CREATED, TR_SC_ID);
}

static json_t *firing_json(const PGresult *res, int i)
{
	int64_t fired = 0, attempt = 0, retry = -1;
	(void)db_get_int64(res, i, 2, &fired, NULL);
	(void)db_get_int64(res, i, 3, &attempt, NULL);
	(void)db_get_int64(res, i, 4, &retry, NULL);
	json_t *jobs = json_loads(db_get_text(res, i, 5) ? db_get_text(res, i, 5) : "[]", 0, NULL);
	json_t *last = json_array_get(jobs, json_array_size(jobs) - 1);
	json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:O, s:O, s:o}", "id", db_get_text(res, i, 0), "fire_key",
			      db_get_text(res, i, 1), "fired_at", (json_int_t)fired, "attempt", (json_int_t)attempt,
			      "job_id", last ? json_object_get(last, "job_id") : json_null(), "status",
			      last ? json_object_get(last, "status") : json_null(), "jobs", jobs ? jobs : json_array());
	json_object_set_new(o, "retry_at", retry >= 0 ? json_integer(retry) : json_null());
	return o;
}

static int firings_tx(struct db_conn *c, void *cls)
{
	struct list_ctx *x = cls;
	PGresult *res = NULL;
	list_reset(x);
	int rc = tr_q_sched_get(c, x->id, &res, &x->err);
	PQclear(res);
	res = NULL;
	if (rc == 0)
		return svc_fail(&x->fail, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Schedule '%s' not found", x->id);
	if (rc < 0)
		return rc;
	rc = tr_q_firing_list(c, x->id, x->page.after_created, x->page.after_id, x->page.limit + 1, &res, &x->err);
	return collect(x, rc, res, firing_json, 2, 0);
}

static void list(struct http_request *req, void *app, const char *name, db_tx_fn fn, const char *member)
{
	struct list_ctx x = {.id = http_request_param(req, "id")};
	struct core_error err = {{0}};
	if (svc_page_parse(http_request_query(req, "max_results"), http_request_query(req, "page_token"), &x.page,
			   &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return;
	}
	x.items = json_array();
	if (svc_run_tx_or_reply(req, app, name, DB_READ_COMMITTED, fn, &x, &x.fail) >= 0) {
		json_t *body = json_pack("{s:O}", member, x.items);
		if (x.next)
			json_object_set_new(body, "next_page_token", json_string(x.next));
		http_reply_json(req, 200, body);
	}
	json_decref(x.items);
	free(x.next);
}

void tr_h_sched_list(struct http_request *req, void *app)
{
	list(req, app, "tr_h_sched_list", list_tx, "schedules");
}

void tr_h_sched_firings(struct http_request *req, void *app)
{
	list(req, app, "tr_h_sched_firings", firings_tx, "firings");
}

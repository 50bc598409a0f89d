/* The jobs resource. What its operations promise:
 * - submit validates the whole spec (spec.c) and checks it against the data registry
 *   (dataset.c, blocking HTTP outside any transaction) before anything is written; then
 *   the job row, its first log line and its training.requests event are one
 *   transaction, so a job is queued with its event or not at all;
 * - cancel locks the job: a QUEUED job ends CANCELLED at once (with its
 *   job.cancelled event), a RUNNING one is flagged and its worker stops at the next
 *   mini-batch, an ended one is a 400;
 * - list is newest first in keyset pages (created_at, id), so a page never repeats or
 *   skips a job however many are submitted meanwhile;
 * - events streams the job's log lines as ndjson (or SSE with Accept:
 *   text/event-stream) from ?after=<seq>; ?follow=true keeps the response open and
 *   streams new lines until the job has ended and its last line is out. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tr.h"

static bool job_ended(const char *status)
{
	return status &&
	       (strcmp(status, "SUCCEEDED") == 0 || strcmp(status, "FAILED") == 0 || strcmp(status, "CANCELLED") == 0);
}

static int fail_no_job(struct svc_fail *f, const char *id)
{
	return svc_fail(f, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Job '%s' not found", id);
}

/* Loads the job's row (locked when lock) and its JSON into *out. */
static int load_job(struct db_conn *c, const char *id, bool lock, json_t **out, char status[16], struct svc_fail *f,
		    struct core_error *err)
{
	PGresult *res = NULL;
	int rc = lock ? tr_q_job_lock(c, id, &res, err) : tr_q_job_get(c, id, &res, err);
	if (rc == 0)
		rc = fail_no_job(f, id);
	if (rc > 0) {
		if (status)
			snprintf(status, 16, "%s", db_get_text(res, 0, 1));
		*out = tr_job_json(res, 0);
		if (!*out) {
			core_fail(err, CORE_EINVAL, "job %s: unreadable row", id);
			rc = DB_HARD_ERROR;
		}
	}
	PQclear(res);
	return rc;
}

static void reply_job(struct http_request *req, unsigned status, int rc, json_t *job, const struct svc_fail *f,
		      const struct core_error *err)
{
	if (rc < 0 || !job) {
		json_decref(job);
		svc_reply_tx(req, rc < 0 ? rc : DB_HARD_ERROR, f, err);
	} else {
		http_reply_json(req, status, json_pack("{s:o}", "job", job));
	}
}

/* --- submit ----------------------------------------------------------------------- */

struct submit_ctx {
	char id[TR_JOB_ID_LEN + 1];
	const char *spec_text, *model_name, *line;
	json_t *out;
	struct svc_fail fail;
	struct core_error err;
};

int tr_job_enqueue(struct db_conn *c, const char *id, const char *spec_text, const char *model_name, const char *line,
		   int64_t now, struct core_error *err)
{
	int rc = tr_q_job_insert(c, id, spec_text, model_name, now, err);
	if (rc >= 0)
		rc = tr_q_job_event_append(c, id, "info", line, now, err);
	if (rc >= 0)
		rc = tr_ev_requested(c, id, err);
	return rc;
}

static int submit_tx(struct db_conn *c, void *cls)
{
	struct submit_ctx *x = cls;
	json_decref(x->out);
	x->out = NULL;
	int rc = tr_job_enqueue(c, x->id, x->spec_text, x->model_name, x->line, core_now_ms(), &x->err);
	if (rc >= 0)
		rc = load_job(c, x->id, false, &x->out, NULL, &x->fail, &x->err);
	return rc;
}

void tr_h_job_submit(struct http_request *req, void *app)
{
	struct submit_ctx x = {0};
	struct core_error err = {{0}};
	struct tr_spec spec;
	struct tr_dataset_info info;
	json_error_t jerr;
	size_t len = 0;
	const char *body = http_request_body(req, &len);
	json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "the job spec is not JSON: %s", jerr.text);
		return;
	}
	int status = 0;
	if (tr_spec_parse(doc, &spec, &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		goto done;
	}
	if (tr_dataset_check(tr_app(app)->settings, &spec, http_request_id(req), &info, &status, &err) != CORE_OK) {
		if (status == 400)
			http_reply_invalid(req, &err);
		else
			http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE, "%s", err.message);
		goto done;
	}
	core_id_uuid_hex(x.id);
	char *text = json_dumps(doc, JSON_COMPACT);
	char *line = core_xasprintf("queued: %s on %s@%" PRId64 " (version %.12s), %d epochs", spec.model_type,
				    spec.dataset_name, info.number, info.version_id, spec.epochs);
	x.spec_text = text;
	x.model_name = spec.register_model;
	x.line = line;
	int rc = svc_run_tx_or_reply(req, app, "tr_h_job_submit", DB_READ_COMMITTED, submit_tx, &x, &x.fail);
	if (rc >= 0)
		reply_job(req, 201, rc, x.out, &x.fail, &x.err);
	else
		json_decref(x.out);
	free(text);
	free(line);
done:
	json_decref(doc);
}

/* --- get ------------------------------------------------------------------------- */

struct get_ctx {
	const char *id;
	json_t *out;
	struct svc_fail fail;
	struct core_error err;
};

static int get_tx(struct db_conn *c, void *cls)
{
	struct get_ctx *x = cls;
	json_decref(x->out);
	x->out = NULL;
	return load_job(c, x->id, false, &x->out, NULL, &x->fail, &x->err);
}

void tr_h_job_get(struct http_request *req, void *app)
{
	struct get_ctx x = {.id = http_request_param(req, "id")};
	int rc = svc_run_tx_or_reply(req, app, "tr_h_job_get", DB_READ_COMMITTED, get_tx, &x, &x.fail);
	if (rc >= 0)
		reply_job(req, 200, rc, x.out, &x.fail, &x.err);
	else
		json_decref(x.out);
}

/* --- list ------------------------------------------------------------------------ */

struct list_ctx {
	const char *status;
	struct svc_page page;
	json_t *items;
	char *next;
	struct svc_fail fail;
	struct core_error err;
};

static int list_tx(struct db_conn *c, void *cls)
{
	struct list_ctx *x = cls;
	json_array_clear(x->items);
	free(x->next);
	x->next = NULL;
	PGresult *res = NULL;
	int rc = tr_q_job_list(c, x->status, x->page.after_created, x->page.after_id, x->page.limit + 1, &res, &x->err);
	for (int i = 0; rc > 0 && i < rc && i < x->page.limit; i++) {
		json_t *j = tr_job_json(res, i);
		if (!j) {
			rc = DB_HARD_ERROR;
			break;
		}
		json_array_append_new(x->items, j);
	}
	if (rc > x->page.limit)
		x->next = svc_page_token(db_get_text(res, (int)x->page.limit - 1, 3),
					 db_get_text(res, (int)x->page.limit - 1, 0));
	PQclear(res);
	return rc;
}

static const char *const tr_statuses[] = {"QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", NULL};

void tr_h_job_list(struct http_request *req, void *app)
{
	struct list_ctx x = {.status = http_request_query(req, "status")};
	struct core_error err = {{0}};
	if (x.status && !*x.status)
		x.status = NULL;
	bool known = !x.status;
	for (size_t i = 0; !known && tr_statuses[i]; i++)
		known = strcmp(x.status, tr_statuses[i]) == 0;
	if (!known) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "Invalid value '%.40s' for parameter 'status': one of QUEUED, RUNNING, SUCCEEDED, "
				 "FAILED, CANCELLED",
				 x.status);
		return;
	}
	if (svc_page_parse(http_request_query(req, "max_results"), http_request_query(req, "page_token"), &x.page,
			   &err) != CORE_OK) {
		http_reply_invalid(req, &err);
		return;
	}
	x.items = json_array();
	if (svc_run_tx_or_reply(req, app, "tr_h_job_list", DB_READ_COMMITTED, list_tx, &x, &x.fail) >= 0) {
		json_t *body = json_pack("{s:O}", "jobs", x.items);
		if (x.next)
			json_object_set_new(body, "next_page_token", json_string(x.next));
		http_reply_json(req, 200, body);
	}
	json_decref(x.items);
	free(x.next);
}

/* --- cancel ---------------------------------------------------------------------- */

struct cancel_ctx {
	const char *id;
	json_t *out;
	struct svc_fail fail;
	struct core_error err;
};

static int cancel_tx(struct db_conn *c, void *cls)
{
	struct cancel_ctx *x = cls;
	json_decref(x->out);
	x->out = NULL;
	char status[16] = "";
	json_t *job = NULL;
	int rc = load_job(c, x->id, true, &job, status, &x->fail, &x->err);
	if (rc < 0)
		return rc;
	json_decref(job);
	int64_t now = core_now_ms();
	if (job_ended(status))
		return svc_fail(&x->fail, HTTP_EC_INVALID_PARAMETER_VALUE, "Job '%s' is %s and cannot be cancelled",
				x->id, status);
	if (strcmp(status, "QUEUED") == 0) {
		if ((rc = tr_q_job_cancel_queued(c, x->id, now, &x->err)) >= 0)
			rc = tr_q_job_event_append(c, x->id, "info", "cancelled before it started", now, &x->err);
		if (rc >= 0)
			rc = tr_ev_job(c, x->id, "cancelled", NULL, &x->err);
	} else {
		if ((rc = tr_q_job_request_cancel(c, x->id, &x->err)) >= 0)
			rc = tr_q_job_event_append(c, x->id, "info", "cancel requested: stopping at the next batch",
						   now, &x->err);
	}
	if (rc >= 0)
		rc = load_job(c, x->id, false, &x->out, NULL, &x->fail, &x->err);
	return rc;
}

void tr_h_job_cancel(struct http_request *req, void *app)
{
	struct cancel_ctx x = {.id = http_request_param(req, "id")};
	int rc = svc_run_tx_or_reply(req, app, "tr_h_job_cancel", DB_READ_COMMITTED, cancel_tx, &x, &x.fail);
	if (rc >= 0)
		reply_job(req, 200, rc, x.out, &x.fail, &x.err);
	else
		json_decref(x.out);
}

/* --- events ---------------------------------------------------------------------- */

#define EVENTS_CHUNK   500 /* lines per query */
#define EVENTS_POLL_MS 200 /* a followed job's new lines are looked for this often */

/* The stream's state, owned by the reply (freed by MHD through free_stream). */
struct events_stream {
	struct svc *svc;
	char id[TR_JOB_ID_LEN + 1];
	int64_t after; /* last seq sent */
	bool follow, sse, done;
	struct core_buf out; /* bytes not yet handed to MHD */
	size_t off;
};

struct events_ctx {
	struct events_stream *s;
	PGresult *res;
	bool ended, found;
	struct core_error err;
};

/* The job's status first, then its lines: a job seen ended has all its lines
 * committed, so an empty read after it means the stream is complete. */
static int events_tx(struct db_conn *c, void *cls)
{
	struct events_ctx *x = cls;
	PQclear(x->res);
	x->res = NULL;
	PGresult *job = NULL;
	int rc = tr_q_job_get(c, x->s->id, &job, &x->err);
	x->found = rc > 0;
	x->ended = rc <= 0 || job_ended(db_get_text(job, 0, 1));
	PQclear(job);
	if (rc >= 0)
		rc = tr_q_job_events(c, x->s->id, x->s->after, EVENTS_CHUNK, &x->res, &x->err);
	return rc;
}

/* Appends the lines of res to the stream's buffer; returns how many. */
static int append_lines(struct events_stream *s, PGresult *res)
{
	int n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		json_t *line = tr_event_json(res, i);
		char *text = http_json_text(line, JSON_COMPACT, NULL);
		json_decref(line);
		int64_t seq = 0;
		(void)db_get_int64(res, i, 0, &seq, NULL);
		if (s->sse)
			core_buf_printf(&s->out, "id: %" PRId64 "\ndata: %s\n\n", seq, text ? text : "{}");
		else
			core_buf_printf(&s->out, "%s\n", text ? text : "{}");
		free(text);
		s->after = seq;
	}
	return n;
}

/* Fills the buffer with the next lines; false on a database failure. */
static bool events_fill(struct events_stream *s)
{
	while (!s->done && s->off >= s->out.len) {
		core_buf_reset(&s->out);
		s->off = 0;
		struct events_ctx x = {.s = s};
		int rc = db_run_tx(svc_db(s->svc), "tr_job_events", DB_READ_COMMITTED, events_tx, &x, &x.err);
		if (rc < 0) {
			core_warn("job %s: events stream stopped: %s", s->id, x.err.message);
			PQclear(x.res);
			return false;
		}
		int n = append_lines(s, x.res);
		PQclear(x.res);
		if (n == EVENTS_CHUNK)
			continue;
		if (n == 0 && (!s->follow || x.ended))
			s->done = true;
		else if (n == 0 && svc_sleep(s->svc, EVENTS_POLL_MS))
			s->done = true;
	}
	return true;
}

static ssize_t events_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct events_stream *s = cls;
	if (!events_fill(s))
		return -1;
	if (s->off >= s->out.len)
		return 0;
	size_t n = s->out.len - s->off;
	if (n > max)
		n = max;
	memcpy(buf, s->out.data + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static void events_free(void *cls)
{
	struct events_stream *s = cls;
	core_buf_free(&s->out);
	free(s);
}

void tr_h_job_events(struct http_request *req, void *app)
{
	struct get_ctx x = {.id = http_request_param(req, "id")};
	const char *after = http_request_query(req, "after"), *follow = http_request_query(req, "follow");
	const char *accept = http_request_header(req, "Accept");
	int64_t after_seq = 0;
	if (after && *after) {
		char *end = NULL;
		long long v = strtoll(after, &end, 10);
		if (*end || end == after || v < 0) {
			http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
					 "Invalid value '%.40s' for parameter 'after': a line's seq (an integer >= 0)",
					 after);
			return;
		}
		after_seq = v;
	}
	bool follow_on = false;
	if (follow && *follow) {
		if (strcmp(follow, "true") != 0 && strcmp(follow, "false") != 0) {
			http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
					 "Invalid value '%.40s' for parameter 'follow': true or false", follow);
			return;
		}
		follow_on = strcmp(follow, "true") == 0;
	}
	/* 404 for an unknown job before the stream starts (a stream cannot change its
	 * status afterwards). */
	int rc = svc_run_tx_or_reply(req, app, "tr_h_job_events", DB_READ_COMMITTED, get_tx, &x, &x.fail);
	json_decref(x.out);
	if (rc < 0)
		return;
	struct events_stream *s = core_xcalloc(1, sizeof *s);
	s->svc = app;
	snprintf(s->id, sizeof s->id, "%s", x.id);
	s->after = after_seq;
	s->follow = follow_on;
	s->sse = accept && strstr(accept, "text/event-stream");
	core_buf_init(&s->out, (size_t)64 << 20);
	http_reply_header(req, "Cache-Control", "no-store");
	http_reply_stream(req, 200, s->sse ? "text/event-stream" : "application/x-ndjson", -1, events_read, s,
			  events_free);
}

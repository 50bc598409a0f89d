/* The trainer's entities from rows: the Job object the API answers with (TR_JOB_COLS
 * in tr.h), the struct tr_job the worker reads, and the event line of GET
 * /v1/jobs/{id}/events. The one place a job becomes JSON, so GET, list, submit and
 * cancel answer the same shape. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tr.h"

static json_t *col_str(const PGresult *res, int row, int col)
{
	const char *s = db_get_text(res, row, col);
	return s ? json_string(s) : json_null();
}

static json_t *col_int(const PGresult *res, int row, int col)
{
	int64_t v = 0;
	if (db_get_int64(res, row, col, &v, NULL) != CORE_OK)
		return json_null();
	return json_integer(v);
}

static json_t *col_json(const PGresult *res, int row, int col)
{
	const char *s = db_get_text(res, row, col);
	json_t *v = s ? json_loads(s, 0, NULL) : NULL;
	return v ? v : json_null();
}

/* Booleans come back as "t" / "f". */
static bool col_bool(const PGresult *res, int row, int col)
{
	const char *v = db_get_text(res, row, col);
	return v && v[0] == 't';
}

static char *col_dup(const PGresult *res, int row, int col)
{
	const char *v = db_get_text(res, row, col);
	return v ? core_xstrdup(v) : NULL;
}

static int64_t col_i64(const PGresult *res, int row, int col)
{
	int64_t v = 0;
	(void)db_get_int64(res, row, col, &v, NULL);
	return v;
}

enum core_status tr_job_from_row(const PGresult *res, int row, struct tr_job *out, struct core_error *err)
{
	memset(out, 0, sizeof *out);
	const char *id = db_get_text(res, row, 0), *status = db_get_text(res, row, 1);
	const char *spec = db_get_text(res, row, 2);
	if (!id || !status || !spec || strlen(id) > TR_JOB_ID_LEN)
		return core_fail(err, CORE_EINVAL, "job row without id, status or spec");
	snprintf(out->id, sizeof out->id, "%s", id);
	snprintf(out->status, sizeof out->status, "%s", status);
	out->spec = json_loads(spec, 0, NULL);
	out->created_at = col_i64(res, row, 3);
	out->started_at = col_i64(res, row, 4);
	out->ended_at = col_i64(res, row, 5);
	out->failure = col_dup(res, row, 6);
	out->epoch = (int)col_i64(res, row, 7);
	out->step = col_i64(res, row, 8);
	const char *loss = db_get_text(res, row, 9);
	out->loss = loss ? strtod(loss, NULL) : NAN;
	const char *metrics = db_get_text(res, row, 10);
	out->metrics = metrics ? json_loads(metrics, 0, NULL) : NULL;
	out->run_id = col_dup(res, row, 11);
	out->parent_run_id = col_dup(res, row, 12);
	out->model_name = col_dup(res, row, 13);
	out->model_version = col_dup(res, row, 14);
	out->worker = col_dup(res, row, 15);
	out->lease_until = col_i64(res, row, 16);
	out->attempt = (int)col_i64(res, row, 17);
	out->cancel_requested = col_bool(res, row, 18);
	out->checkpoint = col_dup(res, row, 19);
	out->registered = col_bool(res, row, 20);
	if (!out->spec) {
		tr_job_clear(out);
		return core_fail(err, CORE_EINVAL, "job %s: its spec is not JSON", id);
	}
	return CORE_OK;
}

void tr_job_clear(struct tr_job *j)
{
	if (!j)
		return;
	json_decref(j->spec);
	json_decref(j->metrics);
	free(j->failure);
	free(j->run_id);
	free(j->parent_run_id);
	free(j->model_name);
	free(j->model_version);
	free(j->worker);
	free(j->checkpoint);
	memset(j, 0, sizeof *j);
}

json_t *tr_job_json(const PGresult *res, int row)
{
	const char *id = db_get_text(res, row, 0);
	if (!id || !db_get_text(res, row, 1))
		return NULL;
	json_t *j = json_object();
	json_object_set_new(j, "id", json_string(id));
	json_object_set_new(j, "status", col_str(res, row, 1));
	json_object_set_new(j, "spec", col_json(res, row, 2));
	json_object_set_new(j, "created_at", col_int(res, row, 3));
	json_object_set_new(j, "started_at", col_int(res, row, 4));
	json_object_set_new(j, "ended_at", col_int(res, row, 5));
	json_object_set_new(j, "failure", col_str(res, row, 6));
	json_object_set_new(j, "epoch", col_int(res, row, 7));
	json_object_set_new(j, "step", col_int(res, row, 8));
	const char *loss = db_get_text(res, row, 9);
	double l = loss ? strtod(loss, NULL) : NAN;
	json_object_set_new(j, "loss", isfinite(l) ? json_real(l) : json_null());
	json_object_set_new(j, "metrics", col_json(res, row, 10));
	json_object_set_new(j, "run_id", col_str(res, row, 11));
	json_object_set_new(j, "parent_run_id", col_str(res, row, 12));
	json_object_set_new(j, "model_name", col_str(res, row, 13));
	json_object_set_new(j, "model_version", col_str(res, row, 14));
	json_object_set_new(j, "worker", col_str(res, row, 15));
	json_object_set_new(j, "attempt", col_int(res, row, 17));
	json_object_set_new(j, "cancel_requested", json_boolean(col_bool(res, row, 18)));
	json_object_set_new(j, "registered", json_boolean(col_bool(res, row, 20)));
	return j;
}

json_t *tr_event_json(const PGresult *res, int row)
{
	return json_pack("{s:o, s:o, s:o, s:o}", "seq", col_int(res, row, 0), "at", col_int(res, row, 1), "level",
			 col_str(res, row, 2), "line", col_str(res, row, 3));
}

/* --- promotion (tr-promotion) --- */

json_t *tr_eval_json(const PGresult *res, int row)
{
	const char *id = db_get_text(res, row, 0);
	if (!id)
		return NULL;
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", id, "model",
			 col_str(res, row, 1), "challenger_version", col_str(res, row, 2), "champion_version",
			 col_str(res, row, 3), "status", col_str(res, row, 4), "decision", col_str(res, row, 5),
			 "reason", col_str(res, row, 6), "metrics", col_json(res, row, 7), "run_id",
			 col_str(res, row, 8), "created_at", col_int(res, row, 9), "ended_at", col_int(res, row, 10),
			 "attempt", col_int(res, row, 11));
}

json_t *tr_policy_json(const char *model, const struct tr_policy *p, bool stored)
{
	return json_pack("{s:s, s:s, s:f, s:f, s:s, s:b}", "model", model, "metric", p->metric, "min_improvement",
			 p->min_improvement, "max_recall_drop", p->max_recall_drop, "mode", p->mode, "stored", stored);
}

/* The write path runs share (face: et.h): the run id of a request, the client errors of tracking transactions
 * in MLflow's words (et_fail_*), the "lock the run, require it active" step every run
 * write begins with, and the batch writer that log-metric, log-parameter, set-tag and
 * log-batch end in (a single write is a batch of one, so every write path is the same).
 *
 * A batch arrives validated whole (et_batch_validate) and is written in one
 * transaction: lock the run row (404/400 if missing or deleted), params (write-once
 * check, insert), metrics (one multi-row statement), tags (one statement). Each part is
 * one statement whatever its size, so a 1000-metric batch is one round trip for its
 * metrics. Any failure rolls the whole batch back. */
#include <float.h>
#include <math.h>
#include <string.h>
#include "et.h"

/* --- client errors ------------------------------------------------------------------ */

int et_fail_no_run(struct svc_fail *f, const char *run_id)
{
	return svc_fail(f, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Run with id=%s not found", run_id);
}

int et_fail_run_not_active(struct svc_fail *f, const char *run_id)
{
	return svc_fail(f, HTTP_EC_INVALID_PARAMETER_VALUE,
			"The run %s must be in the 'active' state. Current state is deleted.", run_id);
}

int et_fail_no_experiment(struct svc_fail *f, const char *exp_id)
{
	return svc_fail(f, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "No Experiment with id=%s exists", exp_id);
}

int et_fail_experiment_not_active(struct svc_fail *f, const char *exp_id)
{
	return svc_fail(f, HTTP_EC_INVALID_PARAMETER_VALUE,
			"The experiment %s must be in the 'active' state. Current state is deleted.", exp_id);
}

int et_fail_experiment_name_taken(struct svc_fail *f, const char *name)
{
	return svc_fail(f, HTTP_EC_RESOURCE_ALREADY_EXISTS, "Experiment(name=%s) already exists.", name);
}

/* --- the run of a request ------------------------------------------------------------- */

const char *et_run_id_or_reply(struct http_request *req, const char *run_id, const char *run_uuid)
{
	struct core_error err;
	const char *id = et_pick_run_id(run_id, run_uuid);
	if (!id) {
		http_jspec_missing(&err, NULL, "run_id");
		http_reply_invalid(req, &err);
	}
	return id;
}

/* --- lock a run for writing ------------------------------------------------------------ */

int et_run_lock_active(struct db_conn *c, const char *run_id, char exp_out[24], struct svc_fail *f,
		       struct core_error *err)
{
	char stage[16];
	int rc = et_q_runs_lock(c, run_id, stage, exp_out, err);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return et_fail_no_run(f, run_id);
	if (strcmp(stage, "active") != 0)
		return et_fail_run_not_active(f, run_id);
	return 1;
}

/* --- the batch writer -------------------------------------------------------------------- */

struct batch_tx {
	struct et_batch *b;
	const char *p_keys, *p_values, *m_keys, *m_values, *m_ts, *m_steps, *t_keys, *t_values;
	struct svc_fail f;
	struct core_error err;
};

/* The first param of the batch logged before with another value: MLflow's refusal. */
static int param_changed(struct batch_tx *t, const PGresult *res)
{
	return svc_fail(&t->f, HTTP_EC_INVALID_PARAMETER_VALUE,
			"Changing param values is not allowed. Param with key='%s' was already logged with "
			"value='%.300s' for run ID='%s'. Attempted logging new value '%.300s'.",
			db_get_text(res, 0, 0), db_get_text(res, 0, 1), t->b->run_id, db_get_text(res, 0, 2));
}

static int batch_tx_fn(struct db_conn *c, void *cls)
{
	struct batch_tx *t = cls;
	PGresult *res = NULL;
	int rc = et_run_lock_active(c, t->b->run_id, NULL, &t->f, &t->err);
	if (rc < 0)
		return rc;
	if (t->b->n_params) {
		rc = et_q_params_conflict(c, t->b->run_id, t->p_keys, t->p_values, &res, &t->err);
		if (rc > 0)
			rc = param_changed(t, res);
		PQclear(res);
		if (rc < 0)
			return rc;
		if ((rc = et_q_params_insert(c, t->b->run_id, t->p_keys, t->p_values, &t->err)) < 0)
			return rc;
	}
	if (t->b->n_metrics && (rc = et_q_metrics_insert(c, t->b->run_id, t->b->n_metrics, t->m_keys, t->m_values,
							 t->m_ts, t->m_steps, &t->err)) < 0)
		return rc;
	if (t->b->n_tags && (rc = et_q_tags_upsert(c, t->b->run_id, t->t_keys, t->t_values, &t->err)) < 0)
		return rc;
	return 0;
}

void et_batch_write_and_reply(struct http_request *req, void *app, struct et_batch *b)
{
	struct db_arr pk, pv, mk, mv, mt, ms, tk, tv;
	struct batch_tx t = {.b = b};
	db_arr_init(&pk), db_arr_init(&pv), db_arr_init(&mk), db_arr_init(&mv);
	db_arr_init(&mt), db_arr_init(&ms), db_arr_init(&tk), db_arr_init(&tv);
	for (size_t i = 0; i < b->n_params; i++) {
		db_arr_add_str(&pk, b->params[i].key, strlen(b->params[i].key));
		db_arr_add_str(&pv, b->params[i].value, b->params[i].value_len);
	}
	for (size_t i = 0; i < b->n_metrics; i++) {
		double v = b->metrics[i].value; /* MLflow stores +-Infinity as +-DBL_MAX */
		if (isinf(v))
			v = v > 0 ? DBL_MAX : -DBL_MAX;
		db_arr_add_str(&mk, b->metrics[i].key, strlen(b->metrics[i].key));
		db_arr_add_f64(&mv, v);
		db_arr_add_i64(&mt, b->metrics[i].timestamp);
		db_arr_add_i64(&ms, b->metrics[i].step);
	}
	for (size_t i = 0; i < b->n_tags; i++) {
		db_arr_add_str(&tk, b->tags[i].key, strlen(b->tags[i].key));
		db_arr_add_str(&tv, b->tags[i].value, b->tags[i].value_len);
	}
	t.p_keys = db_arr_end(&pk), t.p_values = db_arr_end(&pv);
	t.m_keys = db_arr_end(&mk), t.m_values = db_arr_end(&mv), t.m_ts = db_arr_end(&mt), t.m_steps = db_arr_end(&ms);
	t.t_keys = db_arr_end(&tk), t.t_values = db_arr_end(&tv);
	if (!t.p_keys || !t.p_values || !t.m_keys || !t.m_values || !t.m_ts || !t.m_steps || !t.t_keys || !t.t_values) {
		http_reply_error(req, HTTP_EC_REQUEST_TOO_LARGE, "batch too large to encode");
		goto out;
	}
	if (svc_run_tx_or_reply(req, app, "log_batch", DB_READ_COMMITTED, batch_tx_fn, &t, &t.f) >= 0)
		http_reply_json(req, 200, json_object());
out:
	db_arr_free(&pk), db_arr_free(&pv), db_arr_free(&mk), db_arr_free(&mv);
	db_arr_free(&mt), db_arr_free(&ms), db_arr_free(&tk), db_arr_free(&tv);
}

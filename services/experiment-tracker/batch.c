/* The write path runs share (face: et.h): the run id of a request, the client errors of tracking transactions
 * in MLflow's words (et_fail_*), the "lock the run, require it active" step every run
 * write begins with, and the batch writer that log-metric, log-parameter, set-tag and
 * log-batch end in (a single write is a batch of one, so every write path is the same).
 *
 * A batch arrives validated whole (et_batch_validate). Its points are one statement
 * whatever their number (et_q_metrics_log), and so are its tags (et_q_tags_log); each
 * locks the run row first (404 or 400 when missing or deleted) and writes nothing unless
 * the run is active. A batch of points alone or of tags alone is that one statement,
 * sent without BEGIN: one round trip and one commit, which is most of a single write's
 * time. Anything more is a transaction: the statements, then the params' write-once
 * check and insert, under the run's lock. Any failure leaves nothing written. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
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
	const char *p_keys, *p_values, *t_keys, *t_values;
	struct et_q_points points, latest;
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

/* The answer of a statement that locked the run and wrote only if it was active. */
static int run_written(struct batch_tx *t, int rc, const char *stage)
{
	if (rc < 0)
		return rc;
	if (rc == 0)
		return et_fail_no_run(&t->f, t->b->run_id);
	if (strcmp(stage, "active") != 0)
		return et_fail_run_not_active(&t->f, t->b->run_id);
	return 0;
}

static int batch_tx_fn(struct db_conn *c, void *cls)
{
	struct batch_tx *t = cls;
	struct et_batch *b = t->b;
	PGresult *res = NULL;
	char stage[16];
	int rc = 0;
	/* each statement locks the run first, so what follows it runs under that lock; a
	 * batch of params alone (or of nothing) just takes the lock */
	if (b->n_metrics)
		rc = run_written(
			t, et_q_metrics_log(c, b->run_id, b->n_metrics, &t->points, &t->latest, stage, &t->err), stage);
	if (rc >= 0 && b->n_tags)
		rc = run_written(t, et_q_tags_log(c, b->run_id, t->t_keys, t->t_values, stage, &t->err), stage);
	if (rc >= 0 && !b->n_metrics && !b->n_tags)
		rc = et_run_lock_active(c, b->run_id, NULL, &t->f, &t->err);
	if (rc < 0 || !b->n_params)
		return rc < 0 ? rc : 0;
	rc = et_q_params_conflict(c, b->run_id, t->p_keys, t->p_values, &res, &t->err);
	if (rc > 0)
		rc = param_changed(t, res);
	PQclear(res);
	if (rc < 0)
		return rc;
	rc = et_q_params_insert(c, b->run_id, t->p_keys, t->p_values, &t->err);
	return rc < 0 ? rc : 0;
}

/* The four arrays that carry points to et_q_metrics_log. */
struct points_arr {
	struct db_arr keys;
	struct db_barr values, timestamps, steps;
};

static void points_init(struct points_arr *a)
{
	db_arr_init(&a->keys);
	db_barr_init(&a->values, DB_BARR_F64);
	db_barr_init(&a->timestamps, DB_BARR_I64);
	db_barr_init(&a->steps, DB_BARR_I64);
}

static void points_free(struct points_arr *a)
{
	db_arr_free(&a->keys);
	db_barr_free(&a->values);
	db_barr_free(&a->timestamps);
	db_barr_free(&a->steps);
}

/* The points of a batch, or its latest ones (idx, n: which), as parameters, built in a;
 * false when they could not be (too large, no memory). */
static bool points_build(struct points_arr *a, const struct et_batch *b, const size_t *idx, size_t n,
			 struct et_q_points *out)
{
	for (size_t j = 0; j < n; j++) {
		const struct et_metric *m = &b->metrics[idx ? idx[j] : j];
		double v = m->value; /* MLflow stores +-Infinity as +-DBL_MAX */
		if (isinf(v))
			v = v > 0 ? DBL_MAX : -DBL_MAX;
		db_arr_add_str(&a->keys, m->key, strlen(m->key));
		db_barr_add_f64(&a->values, v);
		db_barr_add_i64(&a->timestamps, m->timestamp);
		db_barr_add_i64(&a->steps, m->step);
	}
	out->keys = db_arr_end(&a->keys);
	out->values = db_barr_end(&a->values, &out->values_len);
	out->timestamps = db_barr_end(&a->timestamps, &out->timestamps_len);
	out->steps = db_barr_end(&a->steps, &out->steps_len);
	return out->keys && out->values && out->timestamps && out->steps;
}

void et_batch_write_and_reply(struct http_request *req, void *app, struct et_batch *b)
{
	struct db_arr pk, pv, tk, tv;
	struct points_arr pts, lat;
	struct batch_tx t = {.b = b};
	size_t *latest = b->n_metrics ? malloc(b->n_metrics * sizeof *latest) : NULL, n_latest = 0;
	db_arr_init(&pk), db_arr_init(&pv), db_arr_init(&tk), db_arr_init(&tv);
	points_init(&pts), points_init(&lat);
	if ((b->n_metrics && !latest) || et_batch_latest(b, latest, &n_latest, &t.err) != CORE_OK) {
		http_reply_error(req, HTTP_EC_INTERNAL_ERROR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < b->n_params; i++) {
		db_arr_add_str(&pk, b->params[i].key, strlen(b->params[i].key));
		db_arr_add_str(&pv, b->params[i].value, b->params[i].value_len);
	}
	for (size_t i = 0; i < b->n_tags; i++) {
		db_arr_add_str(&tk, b->tags[i].key, strlen(b->tags[i].key));
		db_arr_add_str(&tv, b->tags[i].value, b->tags[i].value_len);
	}
	t.p_keys = db_arr_end(&pk), t.p_values = db_arr_end(&pv);
	t.t_keys = db_arr_end(&tk), t.t_values = db_arr_end(&tv);
	bool built = points_build(&pts, b, NULL, b->n_metrics, &t.points);
	built = points_build(&lat, b, latest, n_latest, &t.latest) && built;
	if (!built || !t.p_keys || !t.p_values || !t.t_keys || !t.t_values) {
		http_reply_error(req, HTTP_EC_REQUEST_TOO_LARGE, "batch too large to encode");
		goto out;
	}
	/* points alone, or tags alone, are one statement: sent without BEGIN, there is no
	 * BEGIN or COMMIT to wait for; anything more is a transaction */
	enum db_isolation iso = b->n_params || (b->n_metrics && b->n_tags) ? DB_READ_COMMITTED : DB_AUTOCOMMIT;
	if (svc_run_tx_or_reply(req, app, "log_batch", iso, batch_tx_fn, &t, &t.f) >= 0)
		http_reply_json(req, 200, json_object());
out:
	free(latest);
	db_arr_free(&pk), db_arr_free(&pv), db_arr_free(&tk), db_arr_free(&tv);
	points_free(&pts), points_free(&lat);
}

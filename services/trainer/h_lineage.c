/* GET /v1/lineage (face: the lineage section of tr.h): the walk from a model version
 * (or one prediction of it) back to the data it was trained on, or from a dataset
 * version forward to the model versions trained on it. The peers are asked by
 * lineage.c outside any transaction; this file checks the parameters, reads the jobs
 * table in short read-only transactions between those calls, and puts the tree
 * together. Only the client's own mistakes (400) and a version the registry does not
 * know (404) fail the request: a peer that does not answer leaves its node
 * "unavailable", so what the other services know is still shown. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "mlflow/run_tags.h"
#include "tr.h"

/* A parameter a client may send: 1..max bytes of printable ASCII or UTF-8, no spaces
 * or controls (names, versions, aliases, request ids, dataset refs). */
static bool param_ok(const char *v, size_t max)
{
	size_t n = v ? strlen(v) : 0;
	if (n == 0 || n > max)
		return false;
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p <= 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* --- the jobs table ---------------------------------------------------------------- */

struct job_ctx {
	const char *job_id;          /* by id, when known (the run's lathe.job_id) */
	const char *model, *version; /* else the job that registered this version */
	const char *dataset;         /* backwards: the jobs of this dataset name */
	json_t *out;                 /* a Job, or (dataset) an array of Jobs */
	struct svc_fail fail;
	struct core_error err;
};

static int job_tx(struct db_conn *c, void *cls)
{
	struct job_ctx *x = cls;
	PGresult *res = NULL;
	json_decref(x->out);
	x->out = NULL;
	int rc;
	if (x->dataset)
		rc = tr_q_lineage_jobs_of_dataset(c, x->dataset, TR_LINEAGE_MODELS, &res, &x->err);
	else if (x->job_id)
		rc = tr_q_job_get(c, x->job_id, &res, &x->err);
	else
		rc = tr_q_lineage_job_of_version(c, x->model, x->version, &res, &x->err);
	if (rc >= 0 && x->dataset)
		x->out = json_array();
	for (int i = 0; rc > 0 && i < rc; i++) {
		json_t *j = tr_job_json(res, i);
		if (!j) {
			core_fail(&x->err, CORE_EINVAL, "a job row is unreadable");
			rc = DB_HARD_ERROR;
			break;
		}
		if (x->dataset)
			json_array_append_new(x->out, j);
		else
			x->out = j;
	}
	PQclear(res);
	return rc;
}

/* Runs job_tx; false after having replied (the database failed). */
static bool read_jobs(struct http_request *req, void *app, struct job_ctx *x)
{
	int rc = svc_run_tx_or_reply(req, app, "tr_h_lineage", DB_READ_COMMITTED, job_tx, x, &x->fail);
	if (rc < 0)
		json_decref(x->out), x->out = NULL;
	return rc >= 0;
}

/* --- forward: a model version ------------------------------------------------------- */

/* The job a run belongs to (mlflow_run_job: a sweep trial's run, the sweep's job), when
 * it can be one of this trainer's (a job id's length); else NULL. */
static char *job_id_of(json_t *run)
{
	json_t *tags = json_object_get(run, "tags");
	char *job = mlflow_run_job(json_string_value(json_object_get(tags, MLFLOW_TAG_JOB_ID)),
				   json_string_value(json_object_get(tags, MLFLOW_TAG_SWEEP_JOB_ID)),
				   json_string_value(json_object_get(tags, MLFLOW_TAG_SWEEP_TRIAL)), NULL);
	if (job && strlen(job) != TR_JOB_ID_LEN) {
		free(job);
		job = NULL;
	}
	return job;
}

static json_t *job_node(json_t *job, const char *why)
{
	if (job)
		return json_incref(job);
	return json_pack("{s:s}", "unavailable", why);
}

static void forward(struct http_request *req, void *app, const char *model, const char *version, const char *pred)
{
	const struct tr_settings *s = tr_app(app)->settings;
	const char *rid = http_request_id(req);
	struct core_error err = {{0}};
	json_t *mv = NULL, *run = NULL, *files = NULL, *reports = NULL, *out = json_object();
	char *job_id = NULL, *why = NULL;
	struct job_ctx x = {0};
	if (tr_lineage_model_version(s, rid, model, version, &mv, &err) == CORE_ENOENT) {
		http_reply_error(req, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "%s", err.message);
		goto out;
	}
	const char *run_id = json_string_value(json_object_get(mv, "run_id"));
	const char *number = json_string_value(json_object_get(mv, "version"));
	if (run_id && *run_id) {
		run = tr_lineage_run(s, rid, run_id);
		job_id = job_id_of(run);
	}
	/* the job: by the run's tag, else the job that registered this version (which an
	 * alias names only when the registry answered) */
	const char *mv_down = json_string_value(json_object_get(mv, "unavailable"));
	bool known = job_id || !mv_down || strspn(version, "0123456789") == strlen(version);
	x.job_id = job_id;
	x.model = model;
	x.version = number;
	if (known && !read_jobs(req, app, &x))
		goto out;
	json_t *job = x.out;
	if (!run) {
		const char *jr = json_string_value(json_object_get(job, "run_id"));
		run = jr ? tr_lineage_run(s, rid, jr) : json_pack("{s:s}", "unavailable", "no run is known");
	}
	if (pred)
		json_object_set_new(out, "prediction", json_pack("{s:s}", "request_id", pred));
	json_object_set(out, "model_version", mv);
	json_object_set(out, "run", run);
	json_object_set_new(out, "job",
			    job_node(job, job_id  ? "the run's job is not in this trainer"
					  : known ? "no job of this trainer registered this version"
						  : mv_down));
	/* the dataset: the run's tag names the version trained on; the spec's ref may be
	 * "latest", which means another version now */
	const char *ref = json_string_value(json_object_get(json_object_get(run, "tags"), "lathe.dataset"));
	json_t *spec = json_object_get(job, "spec");
	const char *spec_ref = json_string_value(json_object_get(spec, "dataset"));
	json_int_t total = 0;
	if (ref || spec_ref) {
		json_t *ds = tr_lineage_dataset(s, rid, ref ? ref : spec_ref, spec, &files, &total, NULL);
		if (!ref)
			json_object_set_new(ds, "note",
					    json_string("the run names no dataset version (lathe.dataset): "
							"the job spec's reference, as it resolves now"));
		json_object_set_new(out, "dataset", ds);
	} else {
		json_object_set_new(out, "dataset",
				    json_pack("{s:s}", "unavailable", "neither the run nor a job names the dataset"));
	}
	if (files) {
		json_object_set(out, "files", files);
		json_object_set_new(out, "files_total", json_integer(total));
	} else {
		json_object_set_new(out, "files_unavailable",
				    json_string("the dataset version's manifest was not read"));
	}
	json_int_t n = 0, drifted = 0;
	reports = tr_lineage_reports(s, rid, model, number ? number : version, &n, &drifted, &why);
	if (reports) {
		json_object_set(out, "reports", reports);
		json_object_set_new(out, "reports_total", json_integer(n));
		json_object_set_new(out, "reports_with_drift", json_integer(drifted));
	} else {
		json_object_set_new(out, "reports_unavailable", json_string(why));
	}
	http_reply_json(req, 200, json_incref(out));
out:
	json_decref(out);
	json_decref(mv);
	json_decref(run);
	json_decref(files);
	json_decref(reports);
	json_decref(x.out);
	free(job_id);
	free(why);
}

/* --- backwards: a dataset version ---------------------------------------------------- */

/* The model version a job registered, when it was trained on version_id of name;
 * NULL when it was not. *down holds the first reason a peer gave for not answering
 * (malloc'd): once one is down the other candidates are listed unchecked with that
 * reason rather than waiting for its timeout again, up to a hundred times. */
static json_t *model_of_job(const struct tr_settings *s, const char *rid, json_t *job, const char *name,
			    const char *version_id, char **down)
{
	struct core_error err = {{0}};
	const char *model = json_string_value(json_object_get(job, "model_name"));
	const char *version = json_string_value(json_object_get(job, "model_version"));
	json_t *mv = NULL, *item = NULL;
	char *why = NULL;
	int on = -1;
	if (!model || !version)
		return NULL;
	if (!*down) {
		if (tr_lineage_model_version(s, rid, model, version, &mv, &err) == CORE_ENOENT)
			return NULL; /* deleted from the registry since */
		if (json_object_get(mv, "unavailable"))
			*down = core_xstrdup(err.message);
	}
	const char *run_id = json_string_value(json_object_get(mv, "run_id"));
	if (!run_id && !json_object_get(job, "parent_run_id"))
		run_id = json_string_value(json_object_get(job, "run_id"));
	if (run_id && !*down) {
		on = tr_lineage_run_on(s, rid, run_id, name, version_id, &why);
		if (on < 0)
			*down = why, why = NULL;
	}
	if (on != 0) {
		item = json_pack("{s:s, s:s, s:O*, s:s*, s:{s:O, s:O}, s:O*}", "name", model, "version", version,
				 "aliases", json_object_get(mv, "aliases"), "run_id", run_id, "job", "id",
				 json_object_get(job, "id"), "status", json_object_get(job, "status"), "url",
				 json_object_get(mv, "url"));
		if (on < 0)
			json_object_set_new(item, "unavailable",
					    json_string(*down ? *down : "the version's run is not known: not checked"));
	}
	json_decref(mv);
	free(why);
	return item;
}

static void backwards(struct http_request *req, void *app, const char *ref)
{
	const struct tr_settings *s = tr_app(app)->settings;
	const char *rid = http_request_id(req);
	json_t *files = NULL, *out = NULL;
	json_int_t total = 0;
	bool missing = false;
	struct job_ctx x = {0};
	json_t *ds = tr_lineage_dataset(s, rid, ref, NULL, &files, &total, &missing);
	if (missing) {
		http_reply_error(req, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Dataset version '%s' not found", ref);
		goto out;
	}
	out = json_pack("{s:O}", "dataset", ds);
	if (files) {
		json_object_set(out, "files", files);
		json_object_set_new(out, "files_total", json_integer(total));
	}
	const char *id = json_string_value(json_object_get(ds, "id"));
	const char *name = json_string_value(json_object_get(ds, "name"));
	if (!id) {
		json_object_set_new(out, "models_unavailable", json_string("the dataset version is not known"));
		http_reply_json(req, 200, json_incref(out));
		goto out;
	}
	x.dataset = name;
	if (!read_jobs(req, app, &x))
		goto out;
	json_t *models = json_array(), *job;
	char *down = NULL;
	size_t i;
	json_array_foreach(x.out, i, job)
	{
		json_t *m = model_of_job(s, rid, job, name, id, &down);
		if (m)
			json_array_append_new(models, m);
	}
	free(down);
	json_object_set_new(out, "models", models);
	http_reply_json(req, 200, json_incref(out));
out:
	json_decref(out);
	json_decref(ds);
	json_decref(files);
	json_decref(x.out);
}

void tr_h_lineage(struct http_request *req, void *app)
{
	const char *model = http_request_query(req, "model");
	const char *version = http_request_query(req, "version");
	const char *dataset = http_request_query(req, "dataset");
	const char *pred = http_request_query(req, "request_id");
	const char *at = dataset ? strchr(dataset, '@') : NULL;
	if (dataset) {
		if (model || version || pred)
			http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
					 "dataset= goes alone: not with model, version or request_id");
		else if (!param_ok(dataset, 256) || !at || at == dataset || !at[1])
			http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
					 "dataset must be NAME@REF (a version number, id or 'latest')");
		else
			backwards(req, app, dataset);
		return;
	}
	if (!model || !version)
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "give model and version (a number or an alias), or dataset=NAME@REF");
	else if (!param_ok(model, 256))
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "model: not a registered model name");
	else if (!param_ok(version, 255))
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "version: not a version number or alias");
	else if (pred && !param_ok(pred, 200))
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE,
				 "request_id: 1..200 printable characters without spaces");
	else
		forward(req, app, model, version, pred);
}

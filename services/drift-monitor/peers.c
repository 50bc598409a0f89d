/* What the drift monitor asks the other services (face: dm.h, peers.c section), by
 * blocking HTTP calls made outside any transaction:
 *   a version's lineage   the model registry's version (its run), then the tracker's run
 *                         (its artifact root, and the trainer's tags lathe.job_id,
 *                         with a trial's lathe.sweep_job_id / lathe.sweep_trial, and
 *                         lathe.dataset = "<name>@<version id>");
 *   a version's reference reference.json at the run's artifact root, through the
 *                         tracker's artifact API (where the trainer put it);
 *   a retraining job      the trainer's job of that run, its spec resubmitted on the
 *                         dataset's latest version and registered as the challenger.
 * Outcomes: CORE_EIO when a peer does not answer (ask again later), CORE_EINVAL when a
 * peer answered that it cannot be done (unknown version, no reference, a run the
 * trainer did not make), with a message that says which. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "http/client.h"
#include "http/jspec.h"
#include "mlflow/run_tags.h"
#include "mlflow/source.h"
#include "dm.h"

#define MLFLOW_API    "/api/2.0/mlflow/"
#define ARTIFACTS     "/api/2.0/mlflow-artifacts/artifacts/"
#define JSON_MAX      ((size_t)16 << 20)
#define REFERENCE_MAX ((size_t)256 << 20) /* reference.json: samples of up to 4096 columns */

static struct httpc_peer peer(const char *name, const char *url, const char *token, long timeout_ms, size_t max)
{
	return (struct httpc_peer){
		.name = name, .base_url = url, .token = token, .timeout_ms = timeout_ms, .max_response = max};
}

/* GET path on p into *out (an object) when it answers 200; any other answer is
 * CORE_EINVAL naming what, with its message when it sent one. */
static enum core_status get_ok(const struct httpc_peer *p, const char *path, const char *what, json_t **out,
			       struct core_error *err)
{
	long status = 0;
	enum core_status rc = httpc_peer_json(p, "GET", path, NULL, NULL, &status, out, err);
	if (rc == CORE_OK && status != 200) {
		const char *msg = json_string_value(json_object_get(*out, "message"));
		if (!msg)
			msg = json_string_value(json_object_get(*out, "error"));
		rc = core_fail(err, CORE_EINVAL, "%s: %s answered %ld%s%.300s", what, p->name, status, msg ? ": " : "",
			       msg ? msg : "");
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

static const char *run_tag(json_t *run, const char *key)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(json_object_get(run, "data"), "tags"), i, t)
	{
		const char *k = json_string_value(json_object_get(t, "key"));
		if (k && strcmp(k, key) == 0)
			return json_string_value(json_object_get(t, "value"));
	}
	return NULL;
}

/* The run's params as an object of strings (what the trainer logged: the trial's
 * hyper-parameters, flattened). Owned. */
static json_t *run_params(json_t *run)
{
	json_t *out = json_object(), *p;
	size_t i;
	json_array_foreach(json_object_get(json_object_get(run, "data"), "params"), i, p)
	{
		const char *k = json_string_value(json_object_get(p, "key"));
		const char *v = json_string_value(json_object_get(p, "value"));
		if (k && v)
			json_object_set_new(out, k, json_string(v));
	}
	return out;
}

enum core_status dm_peer_lineage(const struct dm_settings *s, const char *model, const char *version, json_t **out,
				 struct core_error *err)
{
	struct httpc_peer reg =
		peer("the model registry", s->registry_url, s->registry_token, s->registry_timeout_ms, JSON_MAX);
	struct httpc_peer trk =
		peer("the experiment tracker", s->tracker_url, s->tracker_token, s->tracker_timeout_ms, JSON_MAX);
	char *qn = mlflow_url_escape(model, false), *qv = mlflow_url_escape(version, false);
	char *path = core_xasprintf(MLFLOW_API "model-versions/get?name=%s&version=%s", qn, qv);
	char what[300];
	snprintf(what, sizeof what, "model '%.100s' version %.40s", model, version);
	json_t *mv = NULL, *run = NULL;
	*out = NULL;
	enum core_status rc = get_ok(&reg, path, what, &mv, err);
	const char *run_id = json_string_value(json_object_get(json_object_get(mv, "model_version"), "run_id"));
	if (rc == CORE_OK && (!run_id || !*run_id))
		rc = core_fail(err, CORE_EINVAL, "%s has no run: nothing records what it was trained on", what);
	if (rc == CORE_OK) {
		char *qr = mlflow_url_escape(run_id, false);
		free(path);
		path = core_xasprintf(MLFLOW_API "runs/get?run_id=%s", qr);
		free(qr);
		rc = get_ok(&trk, path, what, &run, err);
	}
	json_t *r = json_object_get(run, "run");
	const char *uri = json_string_value(json_object_get(json_object_get(r, "info"), "artifact_uri"));
	if (rc == CORE_OK && !uri)
		rc = core_fail(err, CORE_EINVAL, "%s: its run %.64s has no artifact_uri", what, run_id);
	if (rc == CORE_OK) {
		const char *ds = run_tag(r, "lathe.dataset"), *at = ds ? strrchr(ds, '@') : NULL;
		char *ds_name = at ? core_xstrndup(ds, (size_t)(at - ds)) : NULL;
		/* a sweep's trial run is of the sweep's job, whose spec a retraining reuses
		 * without its sweep (mlflow/run_tags.h) */
		char *job = mlflow_run_job(run_tag(r, MLFLOW_TAG_JOB_ID), run_tag(r, MLFLOW_TAG_SWEEP_JOB_ID),
					   run_tag(r, MLFLOW_TAG_SWEEP_TRIAL), NULL);
		*out = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:o}", "model", model, "version", version,
				 "run_id", run_id, "artifact_uri", uri, "job_id", job, "dataset", ds_name,
				 "dataset_version", at ? at + 1 : NULL, "params", run_params(r));
		free(job);
		free(ds_name);
		if (!*out)
			rc = core_fail(err, CORE_ENOMEM, "%s: the lineage cannot be built", what);
	}
	json_decref(mv);
	json_decref(run);
	free(path);
	free(qn);
	free(qv);
	return rc;
}

enum core_status dm_peer_reference(const struct dm_settings *s, json_t *lineage, json_t **doc, struct core_error *err)
{
	struct httpc_peer trk =
		peer("the experiment tracker", s->tracker_url, s->tracker_token, s->tracker_timeout_ms, REFERENCE_MAX);
	const char *uri = json_string_value(json_object_get(lineage, "artifact_uri"));
	char *at = uri ? mlflow_run_artifact_path(uri, "reference.json") : NULL;
	char what[300];
	snprintf(what, sizeof what, "model '%.100s' version %.40s: reference.json",
		 json_string_value(json_object_get(lineage, "model")),
		 json_string_value(json_object_get(lineage, "version")));
	*doc = NULL;
	if (!at)
		return core_fail(err, CORE_EINVAL, "%s: the run's artifacts (%.200s) are not served by the tracker",
				 what, uri ? uri : "none");
	char *q = mlflow_url_escape(at, true);
	char *path = core_xasprintf(ARTIFACTS "%s", q);
	enum core_status rc = get_ok(&trk, path, what, doc, err);
	free(path);
	free(q);
	free(at);
	return rc;
}

/* The trainer takes a run_name of at most this many bytes (services/trainer/spec.c). */
#define RUN_NAME_MAX 250

/* How the trainer logs a value as a param (run_job.c's flatten): a string as it is,
 * anything else as compact JSON. Whether param is value's rendering, or the same
 * number written another way. */
static bool param_is(const char *param, json_t *value)
{
	if (json_is_string(value))
		return strcmp(param, json_string_value(value)) == 0;
	char *t = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
	bool same = t && strcmp(t, param) == 0;
	free(t);
	if (!same && json_is_number(value)) {
		char *end = NULL;
		double x = strtod(param, &end);
		same = end != param && *end == '\0' && x == json_number_value(value);
	}
	return same;
}

/* A sweep's trial made the version: its point (one value of each key of the space) is
 * found among the space's values by the run's params and set on the spec, so the
 * retraining trains what serves rather than the sweep's base spec. */
static void apply_trial_point(json_t *s, json_t *params)
{
	const char *key;
	json_t *values;
	json_object_foreach(json_object_get(json_object_get(s, "sweep"), "space"), key, values)
	{
		const char *param = json_string_value(json_object_get(params, key));
		size_t i;
		json_t *v;
		if (!param)
			continue;
		json_array_foreach(values, i, v)
		{
			struct core_error e = {{0}};
			if (param_is(param, v)) {
				(void)http_json_set_path(s, key, v, &e); /* a bad path: the base value stays */
				break;
			}
		}
	}
}

json_t *dm_retrain_spec(json_t *spec, const char *model, json_t *params)
{
	json_t *s = json_deep_copy(spec);
	if (params)
		apply_trial_point(s, params);
	const char *ds = json_string_value(json_object_get(s, "dataset"));
	const char *at = ds ? strchr(ds, '@') : NULL;
	char *name = at ? core_xstrndup(ds, (size_t)(at - ds)) : core_xstrdup(ds ? ds : "");
	char *latest = core_xasprintf("%s@latest", name);
	json_object_set_new(s, "dataset", json_string(latest));
	json_object_set_new(s, "register", json_pack("{s:s, s:s}", "model", model, "alias", "challenger"));
	json_object_del(s, "sweep");
	/* A model name near its 256 bytes would make the run name longer than the trainer
	 * takes, and the request would be refused: the name is cut, at a character's start
	 * so the JSON stays UTF-8. */
	size_t n = strlen(model), room = RUN_NAME_MAX - strlen("retrain  (drift)");
	if (n > room) {
		n = room;
		while (n > 0 && ((unsigned char)model[n] & 0xC0) == 0x80)
			n--;
	}
	char *run_name = core_xasprintf("retrain %.*s (drift)", (int)n, model);
	json_object_set_new(s, "run_name", json_string(run_name));
	free(run_name);
	free(latest);
	free(name);
	return s;
}

enum core_status dm_peer_retrain(const struct dm_settings *s, const char *model, const char *version,
				 const char *request_id, char **job_id, struct core_error *err)
{
	struct httpc_peer trn = peer("the trainer", s->trainer_url, s->trainer_token, s->trainer_timeout_ms, JSON_MAX);
	json_t *lineage = NULL, *job = NULL, *spec = NULL, *made = NULL;
	char *path = NULL;
	*job_id = NULL;
	enum core_status rc = dm_peer_lineage(s, model, version, &lineage, err);
	const char *from = json_string_value(json_object_get(lineage, "job_id"));
	if (rc == CORE_OK && !from)
		rc = core_fail(err, CORE_EINVAL,
			       "model '%.100s' version %.40s was not trained by the trainer (its run has no "
			       "lathe.job_id): no job spec to retrain with",
			       model, version);
	if (rc == CORE_OK) {
		char *q = mlflow_url_escape(from, false);
		path = core_xasprintf("/v1/jobs/%s", q);
		free(q);
		rc = get_ok(&trn, path, "the serving version's job", &job, err);
	}
	json_t *old = json_object_get(json_object_get(job, "job"), "spec");
	if (rc == CORE_OK && !json_is_object(old))
		rc = core_fail(err, CORE_EINVAL, "the trainer's job %.64s has no spec", from);
	long status = 0;
	if (rc == CORE_OK) {
		spec = dm_retrain_spec(old, model, json_object_get(lineage, "params"));
		rc = httpc_peer_json(&trn, "POST", "/v1/jobs", spec, request_id, &status, &made, err);
	}
	const char *id = json_string_value(json_object_get(json_object_get(made, "job"), "id"));
	if (rc == CORE_OK && (status != 201 && status != 200)) {
		const char *msg = json_string_value(json_object_get(made, "message"));
		rc = core_fail(err, CORE_EINVAL, "the trainer refused the retraining job (%ld): %.300s", status,
			       msg ? msg : "no message");
	} else if (rc == CORE_OK && !id) {
		rc = core_fail(err, CORE_EIO, "the trainer answered the retraining job without an id");
	}
	if (rc == CORE_OK)
		*job_id = core_xstrdup(id);
	json_decref(lineage);
	json_decref(job);
	json_decref(spec);
	json_decref(made);
	free(path);
	return rc;
}

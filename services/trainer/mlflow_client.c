/* The trainer's MLflow client (face: the tr-mlflow section of tr.h): what a job leaves
 * in the experiment tracker and the model registry, sent over their MLflow REST APIs
 * (docs/mlflow-api.md) as the stock Python client would, with the job's X-Request-Id.
 *
 * Every call is safe to repeat after a lost answer, because the worker retries
 * CORE_EIO with backoff and a taken-over job starts again from its last checkpoint:
 *   - a job has one run, found by its tag lathe.job_id (runs/search) before one is
 *     created, and the tag is set by runs/create itself, so a created run is findable;
 *   - params are write-once (same value: no-op), tags upsert, dataset inputs are
 *     deduplicated by the tracker;
 *   - metrics are skipped when the first key already has a point at that step (a
 *     log-batch is one transaction: all of it landed or none);
 *   - a run has at most one model version: model-versions/search by run_id first.
 * Statuses: CORE_EIO when the peer did not answer (refused, timeout, 5xx, 408, 429),
 * CORE_EINVAL with the peer's message for any other non-200 answer. Messages name the
 * call, never the peer's address (they may reach a client as a job's failure); the
 * address and curl's words go to the log. Blocking (httpc_do): the worker's threads. */
#include <ctype.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/time.h"
#include "http/client.h"
#include "tr.h"

#define API         "/api/2.0/mlflow/"
#define ARTIFACTS   "/api/2.0/mlflow-artifacts/artifacts/"
#define MAX_ANSWER  ((size_t)16 << 20)
#define BATCH_PARAM 100  /* params per log-batch (mlflow-api.md §7) */
#define BATCH_METRC 1000 /* metrics per log-batch */

enum peer { TRACKER, REGISTRY };

/* One answer: the status, and for 200 the JSON body (owned), else the error_code. */
struct answer {
	long status;
	json_t *json;
	char code[64];
};

static void answer_free(struct answer *a)
{
	json_decref(a->json);
	memset(a, 0, sizeof *a);
}

/* Percent-encodes s into b, keeping unreserved characters (and '/' when keep_slash). */
static void escape_into(struct core_buf *b, const char *s, bool keep_slash)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~' || (keep_slash && *p == '/'))
			core_buf_append(b, p, 1);
		else
			core_buf_printf(b, "%%%02X", *p);
	}
}

static char *escaped(const char *s, bool keep_slash)
{
	struct core_buf b;
	core_buf_init(&b, (size_t)1 << 20);
	core_buf_append_str(&b, "");
	escape_into(&b, s, keep_slash);
	return core_buf_steal(&b, NULL);
}

/* Sends method path (path_and_query after the peer's base URL) with body (JSON,
 * borrowed, or raw bytes when raw is set) and fills *a. CORE_OK for 200 with a JSON
 * object; CORE_EIO when no answer came or the peer was in trouble; CORE_EINVAL for
 * the other answers, with a->status and a->code set for callers that tolerate some. */
static enum core_status call(const struct tr_settings *s, enum peer peer, const char *request_id, const char *method,
			     const char *path_and_query, json_t *body, const void *raw, size_t raw_len,
			     struct answer *a, struct core_error *err)
{
	const char *who = peer == TRACKER ? "the experiment tracker" : "the model registry";
	long timeout = peer == TRACKER ? s->tracker_timeout_ms : s->registry_timeout_ms;
	const struct httpc_peer p = {
		.name = who,
		.base_url = peer == TRACKER ? s->tracker_url : s->registry_url,
		.token = peer == TRACKER ? s->tracker_token : s->registry_token,
		.timeout_ms = timeout > 0 ? timeout : 10000,
		.retries = 2,
		.max_response = MAX_ANSWER,
	};
	enum core_status rc;
	struct httpc_response resp = {0};
	char *text = NULL;
	memset(a, 0, sizeof *a);
	if (body)
		text = json_dumps(body, JSON_COMPACT);
	const char *what = path_and_query;
	rc = httpc_peer_call(&p, method, path_and_query, raw ? "application/octet-stream" : "application/json",
			     raw ? raw : text, raw ? raw_len : (text ? strlen(text) : 0), request_id, &resp, err);
	if (rc != CORE_OK)
		goto out;
	a->status = resp.status;
	json_t *doc = json_loadb(resp.body, resp.body_len, 0, NULL);
	if (resp.status != 200) {
		const char *code = json_string_value(json_object_get(doc, "error_code"));
		const char *msg = json_string_value(json_object_get(doc, "message"));
		snprintf(a->code, sizeof a->code, "%s", code ? code : "");
		rc = core_fail(err, CORE_EINVAL, "%s answered %ld%s%s to %s %.*s: %s", who, resp.status,
			       code ? " " : "", code ? code : "", method, (int)strcspn(what, "?"), what,
			       msg ? msg : resp.body);
		json_decref(doc);
		goto out;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		rc = core_fail(err, CORE_EIO, "%s answered %s %.*s with something that is not a JSON object", who,
			       method, (int)strcspn(what, "?"), what);
		goto out;
	}
	a->json = doc;
out:
	httpc_response_free(&resp);
	free(text);
	return rc;
}

/* call() for a JSON answer nobody reads. */
static enum core_status post(const struct tr_settings *s, enum peer peer, const char *request_id, const char *path,
			     json_t *body, struct core_error *err)
{
	struct answer a;
	enum core_status rc = call(s, peer, request_id, "POST", path, body, NULL, 0, &a, err);
	answer_free(&a);
	return rc;
}

/* Whether s may stand inside a quoted filter value: MLflow's filter strings have no
 * escape for quotes, so ids and names with one are refused before they are sent. */
static bool filter_safe(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p == '\'' || *p == '"' || *p == '\\' || *p < 0x20)
			return false;
	return *s != '\0';
}

/* The id of experiment name, created when missing ("Default" / "0" for NULL or ""). */
static enum core_status experiment_id(const struct tr_settings *s, const char *request_id, const char *name,
				      char id[32], struct core_error *err)
{
	enum core_status rc = CORE_OK;
	struct answer a = {0};
	char *q = NULL;
	if (!name || !*name) {
		snprintf(id, 32, "0");
		return CORE_OK;
	}
	q = escaped(name, false);
	char *path = core_xasprintf(API "experiments/get-by-name?experiment_name=%s", q);
	for (int attempt = 0; attempt < 2; attempt++) {
		rc = call(s, TRACKER, request_id, "GET", path, NULL, NULL, 0, &a, err);
		if (rc == CORE_OK) {
			json_t *e = json_object_get(a.json, "experiment");
			const char *eid = json_string_value(json_object_get(e, "experiment_id"));
			const char *stage = json_string_value(json_object_get(e, "lifecycle_stage"));
			if (!eid || strlen(eid) >= 32)
				rc = core_fail(err, CORE_EIO,
					       "the experiment tracker answered experiment '%s' without an id", name);
			else if (stage && strcmp(stage, "deleted") == 0)
				rc = core_fail(err, CORE_EINVAL,
					       "experiment '%s' is deleted: restore it or name another", name);
			else
				snprintf(id, 32, "%s", eid);
			break;
		}
		if (rc != CORE_EINVAL || a.status != 404)
			break;
		answer_free(&a);
		json_t *body = json_pack("{s:s}", "name", name);
		rc = call(s, TRACKER, request_id, "POST", API "experiments/create", body, NULL, 0, &a, err);
		json_decref(body);
		if (rc == CORE_OK) {
			const char *eid = json_string_value(json_object_get(a.json, "experiment_id"));
			if (!eid || strlen(eid) >= 32)
				rc = core_fail(err, CORE_EIO, "the experiment tracker created '%s' without an id",
					       name);
			else
				snprintf(id, 32, "%s", eid);
			break;
		}
		/* created meanwhile by another job: look it up again */
		if (rc != CORE_EINVAL || strcmp(a.code, "RESOURCE_ALREADY_EXISTS") != 0)
			break;
		answer_free(&a);
	}
	answer_free(&a);
	free(path);
	free(q);
	return rc;
}

/* The run of job_id in experiment exp: *found says whether there is one. */
static enum core_status find_run(const struct tr_settings *s, const char *request_id, const char *exp,
				 const char *job_id, char run_id[64], bool *found, struct core_error *err)
{
	struct answer a;
	char *filter = core_xasprintf("tags.`lathe.job_id` = '%s'", job_id);
	json_t *body = json_pack("{s:[s],s:s,s:s,s:i}", "experiment_ids", exp, "filter", filter, "run_view_type",
				 "ACTIVE_ONLY", "max_results", 1);
	*found = false;
	enum core_status rc = call(s, TRACKER, request_id, "POST", API "runs/search", body, NULL, 0, &a, err);
	if (rc == CORE_OK) {
		json_t *run = json_array_get(json_object_get(a.json, "runs"), 0);
		const char *id = json_string_value(json_object_get(json_object_get(run, "info"), "run_id"));
		if (id && strlen(id) < 64) {
			snprintf(run_id, 64, "%s", id);
			*found = true;
		} else if (run) {
			rc = core_fail(err, CORE_EIO,
				       "the experiment tracker answered runs/search with a run without an id");
		}
	}
	answer_free(&a);
	json_decref(body);
	free(filter);
	return rc;
}

static void add_tag(json_t *tags, const char *key, const char *value)
{
	if (value && *value)
		json_array_append_new(tags, json_pack("{s:s,s:s}", "key", key, "value", value));
}

/* The operating system's name of the user the trainer runs as, as the Python client
 * sends it (getpass.getuser()). */
static void os_user(char out[64])
{
	struct passwd pw, *res = NULL;
	char buf[1024];
	if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &res) == 0 && res && res->pw_name)
		snprintf(out, 64, "%s", res->pw_name);
	else
		snprintf(out, 64, "lathe-trainer");
}

static enum core_status create_run(const struct tr_settings *s, const char *request_id, const char *exp,
				   const char *job_id, const char *run_name, const char *parent_run_id,
				   const char *dataset_tag, char run_id[64], struct core_error *err)
{
	char user[64];
	struct answer a;
	os_user(user);
	json_t *tags = json_array();
	add_tag(tags, "lathe.job_id", job_id);
	add_tag(tags, "lathe.dataset", dataset_tag);
	add_tag(tags, "mlflow.source.name", "lathe-trainer");
	add_tag(tags, "mlflow.source.type", "JOB");
	add_tag(tags, "mlflow.user", user);
	add_tag(tags, "mlflow.runName", run_name);
	add_tag(tags, "mlflow.parentRunId", parent_run_id);
	json_t *body = json_pack("{s:s,s:s,s:I,s:o}", "experiment_id", exp, "user_id", user, "start_time",
				 (json_int_t)core_now_ms(), "tags", tags);
	if (run_name && *run_name)
		json_object_set_new(body, "run_name", json_string(run_name));
	enum core_status rc = call(s, TRACKER, request_id, "POST", API "runs/create", body, NULL, 0, &a, err);
	if (rc == CORE_OK) {
		const char *id = json_string_value(
			json_object_get(json_object_get(json_object_get(a.json, "run"), "info"), "run_id"));
		if (id && strlen(id) < 64)
			snprintf(run_id, 64, "%s", id);
		else
			rc = core_fail(err, CORE_EIO, "the experiment tracker created a run without an id");
	}
	answer_free(&a);
	json_decref(body);
	return rc;
}

/* A param's value as MLflow's client writes it: strings as they are, other JSON values
 * compactly encoded ([256], 0.001, true). Owned. */
static char *param_text(json_t *v)
{
	if (json_is_string(v))
		return core_xstrdup(json_string_value(v));
	if (json_is_true(v) || json_is_false(v))
		return core_xstrdup(json_is_true(v) ? "True" : "False"); /* Python's str(bool) */
	char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	return t ? t : core_xstrdup("");
}

/* params in log-batch requests of at most BATCH_PARAM each. */
static enum core_status log_params(const struct tr_settings *s, const char *request_id, const char *run_id,
				   json_t *params, struct core_error *err)
{
	enum core_status rc = CORE_OK;
	const char *key;
	json_t *v;
	json_t *batch = json_array();
	if (params && !json_is_object(params)) {
		json_decref(batch);
		return core_fail(err, CORE_EINVAL, "params must be a JSON object");
	}
	void *it = params ? json_object_iter(params) : NULL;
	while (rc == CORE_OK && (it || json_array_size(batch) > 0)) {
		if (it) {
			key = json_object_iter_key(it);
			v = json_object_iter_value(it);
			char *t = param_text(v);
			json_array_append_new(batch, json_pack("{s:s,s:s}", "key", key, "value", t));
			free(t);
			it = json_object_iter_next(params, it);
		}
		if (json_array_size(batch) == BATCH_PARAM || (!it && json_array_size(batch) > 0)) {
			json_t *body = json_pack("{s:s,s:O}", "run_id", run_id, "params", batch);
			rc = post(s, TRACKER, request_id, API "runs/log-batch", body, err);
			json_decref(body);
			json_array_clear(batch);
		}
	}
	json_decref(batch);
	return rc;
}

static enum core_status log_dataset(const struct tr_settings *s, const char *request_id, const char *run_id,
				    const char *name, const char *version_id, struct core_error *err)
{
	/* MLflow caps a digest at 36 characters; a version id is a 64-digit sha256, whose
	 * first 36 digits still name it (the full id is in the source and in lathe.dataset) */
	char digest[37];
	snprintf(digest, sizeof digest, "%s", version_id);
	json_t *src = json_pack("{s:s,s:s,s:s}", "uri", "", "dataset", name, "version_id", version_id);
	char *uri = core_xasprintf("lathe-data:/%s@%s", name, version_id);
	json_object_set_new(src, "uri", json_string(uri));
	char *source = json_dumps(src, JSON_COMPACT);
	json_t *body = json_pack("{s:s,s:[{s:[{s:s,s:s}],s:{s:s,s:s,s:s,s:s}}]}", "run_id", run_id, "datasets", "tags",
				 "key", "mlflow.data.context", "value", "training", "dataset", "name", name, "digest",
				 digest, "source_type", "lathe-data-registry", "source", source);
	enum core_status rc = post(s, TRACKER, request_id, API "runs/log-inputs", body, err);
	json_decref(body);
	free(source);
	free(uri);
	json_decref(src);
	return rc;
}

enum core_status tr_mlflow_start_run(const struct tr_settings *s, const char *request_id, const char *job_id,
				     const char *experiment, const char *run_name, const char *parent_run_id,
				     json_t *params, const char *dataset_name, const char *dataset_version_id,
				     char run_id[64], struct core_error *err)
{
	char exp[32];
	bool found = false;
	char *dataset_tag = NULL;
	enum core_status rc;
	run_id[0] = '\0';
	if (!job_id || !filter_safe(job_id) || strlen(job_id) > 250)
		return core_fail(err, CORE_EINVAL, "job id '%s' cannot be a run tag", job_id ? job_id : "");
	if (dataset_name && dataset_version_id)
		dataset_tag = core_xasprintf("%s@%s", dataset_name, dataset_version_id);
	rc = experiment_id(s, request_id, experiment, exp, err);
	if (rc == CORE_OK)
		rc = find_run(s, request_id, exp, job_id, run_id, &found, err);
	if (rc == CORE_OK && !found)
		rc = create_run(s, request_id, exp, job_id, run_name, parent_run_id, dataset_tag, run_id, err);
	/* on a found run too: a run created by an attempt that died before these */
	if (rc == CORE_OK)
		rc = log_params(s, request_id, run_id, params, err);
	if (rc == CORE_OK && dataset_tag)
		rc = log_dataset(s, request_id, run_id, dataset_name, dataset_version_id, err);
	free(dataset_tag);
	if (rc != CORE_OK)
		run_id[0] = '\0';
	return rc;
}

/* Whether key already has a point at step in the run (a batch that landed before its
 * answer was lost). */
static enum core_status has_point(const struct tr_settings *s, const char *request_id, const char *run_id,
				  const char *key, long step, bool *has, struct core_error *err)
{
	struct answer a;
	char *qr = escaped(run_id, false), *qk = escaped(key, false);
	char *path = core_xasprintf(API "metrics/get-history?run_id=%s&metric_key=%s&max_results=25000", qr, qk);
	size_t i;
	json_t *m;
	*has = false;
	enum core_status rc = call(s, TRACKER, request_id, "GET", path, NULL, NULL, 0, &a, err);
	if (rc == CORE_OK)
		json_array_foreach(json_object_get(a.json, "metrics"), i,
				   m) if (json_integer_value(json_object_get(m, "step")) == step) *has = true;
	answer_free(&a);
	free(path);
	free(qk);
	free(qr);
	return rc;
}

enum core_status tr_mlflow_log_metrics(const struct tr_settings *s, const char *request_id, const char *run_id,
				       long step, json_t *metrics, struct core_error *err)
{
	const char *key;
	json_t *v;
	bool has = false;
	if (!json_is_object(metrics))
		return core_fail(err, CORE_EINVAL, "metrics must be a JSON object of numbers");
	json_object_foreach(metrics, key, v)
	{
		const char *t = json_string_value(v);
		if (!json_is_number(v) &&
		    !(t && (strcmp(t, "NaN") == 0 || strcmp(t, "Infinity") == 0 || strcmp(t, "-Infinity") == 0)))
			return core_fail(err, CORE_EINVAL, "metric '%s' is not a number", key);
	}
	void *it = json_object_iter(metrics);
	if (!it)
		return CORE_OK;
	enum core_status rc = has_point(s, request_id, run_id, json_object_iter_key(it), step, &has, err);
	if (rc != CORE_OK || has)
		return rc;
	json_int_t now = (json_int_t)core_now_ms();
	json_t *batch = json_array();
	while (rc == CORE_OK && it) {
		json_array_append_new(batch, json_pack("{s:s,s:O,s:I,s:I}", "key", json_object_iter_key(it), "value",
						       json_object_iter_value(it), "timestamp", now, "step",
						       (json_int_t)step));
		it = json_object_iter_next(metrics, it);
		if (json_array_size(batch) == BATCH_METRC || !it) {
			json_t *body = json_pack("{s:s,s:O}", "run_id", run_id, "metrics", batch);
			rc = post(s, TRACKER, request_id, API "runs/log-batch", body, err);
			json_decref(body);
			json_array_clear(batch);
		}
	}
	json_decref(batch);
	return rc;
}

enum core_status tr_mlflow_set_tag(const struct tr_settings *s, const char *request_id, const char *run_id,
				   const char *key, const char *value, struct core_error *err)
{
	json_t *body = json_pack("{s:s,s:s,s:s,s:s}", "run_id", run_id, "run_uuid", run_id, "key", key, "value",
				 value ? value : "");
	if (!body)
		return core_fail(err, CORE_EINVAL, "a tag needs a run id and a key");
	enum core_status rc = post(s, TRACKER, request_id, API "runs/set-tag", body, err);
	json_decref(body);
	return rc;
}

enum core_status tr_mlflow_end_run(const struct tr_settings *s, const char *request_id, const char *run_id,
				   const char *status, struct core_error *err)
{
	if (!status ||
	    (strcmp(status, "FINISHED") != 0 && strcmp(status, "FAILED") != 0 && strcmp(status, "KILLED") != 0))
		return core_fail(err, CORE_EINVAL, "a run ends FINISHED, FAILED or KILLED, not '%s'",
				 status ? status : "");
	json_t *body = json_pack("{s:s,s:s,s:s,s:I}", "run_id", run_id, "run_uuid", run_id, "status", status,
				 "end_time", (json_int_t)core_now_ms());
	enum core_status rc = post(s, TRACKER, request_id, API "runs/update", body, err);
	json_decref(body);
	return rc;
}

/* The version of model made from run_id, if any (the lowest, should there be more). */
static enum core_status find_version(const struct tr_settings *s, const char *request_id, const char *model,
				     const char *run_id, char version[32], struct core_error *err)
{
	struct answer a;
	char *filter = core_xasprintf("name = '%s' AND run_id = '%s'", model, run_id);
	char *q = escaped(filter, false);
	char *path = core_xasprintf(API "model-versions/search?filter=%s&max_results=1000", q);
	size_t i;
	json_t *mv;
	long best = -1;
	version[0] = '\0';
	enum core_status rc = call(s, REGISTRY, request_id, "GET", path, NULL, NULL, 0, &a, err);
	if (rc == CORE_OK)
		json_array_foreach(json_object_get(a.json, "model_versions"), i, mv)
		{
			const char *v = json_string_value(json_object_get(mv, "version"));
			char *end = NULL;
			long n = v ? strtol(v, &end, 10) : -1;
			if (v && end && *end == '\0' && n > 0 && (best < 0 || n < best))
				best = n;
		}
	if (best > 0)
		snprintf(version, 32, "%ld", best);
	answer_free(&a);
	free(path);
	free(q);
	free(filter);
	return rc;
}

enum core_status tr_mlflow_register(const struct tr_settings *s, const char *request_id, const char *run_id,
				    const char *model, const char *alias, char version[32], struct core_error *err)
{
	struct answer a = {0};
	enum core_status rc;
	version[0] = '\0';
	if (!model || !filter_safe(model))
		return core_fail(err, CORE_EINVAL, "model name '%s' cannot be searched for", model ? model : "");
	if (!run_id || !filter_safe(run_id))
		return core_fail(err, CORE_EINVAL, "run id '%s' is not one", run_id ? run_id : "");
	json_t *body = json_pack("{s:s}", "name", model);
	rc = call(s, REGISTRY, request_id, "POST", API "registered-models/create", body, NULL, 0, &a, err);
	json_decref(body);
	if (rc == CORE_EINVAL && strcmp(a.code, "RESOURCE_ALREADY_EXISTS") == 0)
		rc = CORE_OK;
	answer_free(&a);
	if (rc == CORE_OK)
		rc = find_version(s, request_id, model, run_id, version, err);
	if (rc == CORE_OK && !version[0]) {
		char *source = core_xasprintf("runs:/%s/model", run_id);
		body = json_pack("{s:s,s:s,s:s}", "name", model, "source", source, "run_id", run_id);
		rc = call(s, REGISTRY, request_id, "POST", API "model-versions/create", body, NULL, 0, &a, err);
		const char *v = json_string_value(json_object_get(json_object_get(a.json, "model_version"), "version"));
		if (rc == CORE_OK && v && strlen(v) < 32)
			snprintf(version, 32, "%s", v);
		else if (rc == CORE_OK)
			rc = core_fail(err, CORE_EIO, "the model registry created a version of '%s' without a number",
				       model);
		answer_free(&a);
		json_decref(body);
		free(source);
	}
	if (rc == CORE_OK && alias && *alias) {
		body = json_pack("{s:s,s:s,s:s}", "name", model, "alias", alias, "version", version);
		rc = post(s, REGISTRY, request_id, API "registered-models/alias", body, err);
		json_decref(body);
	}
	if (rc != CORE_OK)
		version[0] = '\0';
	return rc;
}

enum core_status tr_mlflow_artifact_root(const struct tr_settings *s, const char *request_id, const char *run_id,
					 char **root, struct core_error *err)
{
	static const char scheme[] = "mlflow-artifacts:";
	struct answer a;
	*root = NULL;
	char *q = escaped(run_id ? run_id : "", false);
	char *path = core_xasprintf(API "runs/get?run_id=%s", q);
	enum core_status rc = call(s, TRACKER, request_id, "GET", path, NULL, NULL, 0, &a, err);
	const char *uri = json_string_value(
		json_object_get(json_object_get(json_object_get(a.json, "run"), "info"), "artifact_uri"));
	if (rc == CORE_OK && !uri) {
		rc = core_fail(err, CORE_EIO, "the experiment tracker's run %s has no artifact_uri", run_id);
	} else if (rc == CORE_OK && strncmp(uri, scheme, strlen(scheme)) != 0) {
		rc = core_fail(err, CORE_EINVAL,
			       "run %s keeps its artifacts at %s, which the tracker's artifact API does not serve",
			       run_id, uri);
	} else if (rc == CORE_OK) {
		/* mlflow-artifacts:/X or mlflow-artifacts://host:port/X -> X (mlflow-api.md §6) */
		const char *p = uri + strlen(scheme);
		if (strncmp(p, "//", 2) == 0)
			p = strchr(p + 2, '/') ? strchr(p + 2, '/') : "";
		while (*p == '/')
			p++;
		size_t n = strlen(p);
		while (n > 0 && p[n - 1] == '/')
			n--;
		*root = core_xstrndup(p, n);
	}
	answer_free(&a);
	free(path);
	free(q);
	return rc;
}

enum core_status tr_mlflow_put_artifact(const struct tr_settings *s, const char *request_id, const char *root,
					const char *path, const void *data, size_t len, struct core_error *err)
{
	struct answer a;
	char *full = core_xasprintf("%s%s%s", root, *root ? "/" : "", path);
	char *q = escaped(full, true);
	char *pq = core_xasprintf(ARTIFACTS "%s", q);
	/* an empty body is still a PUT with a body: httpc sends none for NULL */
	enum core_status rc = call(s, TRACKER, request_id, "PUT", pq, NULL, len ? data : "", len, &a, err);
	answer_free(&a);
	free(pq);
	free(q);
	free(full);
	return rc;
}

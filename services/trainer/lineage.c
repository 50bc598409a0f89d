/* The nodes of a lineage answer (face: the lineage section of tr.h), each read from one
 * peer by blocking HTTP (httpc_peer_json), outside any transaction:
 *   model_version  the model registry (model-versions/get, or registered-models/alias)
 *   run            the experiment tracker (runs/get): params, latest metrics, lathe.* tags
 *   dataset, files the data registry: the version, its split (the job's), its manifest
 *   reports        the drift monitor: the model's monitor, then its reports of the version
 * A peer that does not answer, or answers something unusable, leaves "unavailable" with
 * the reason in its node instead of failing the whole answer: lineage is for reading
 * what is known, and a tracker restart must not hide the dataset a model came from. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "http/client.h"
#include "mlflow/source.h"
#include "tr.h"

#define MLFLOW_API   "/api/2.0/mlflow/"
#define JSON_MAX     ((size_t)16 << 20)
#define MANIFEST_MAX ((size_t)256 << 20) /* a version of a million files */
#define REPORT_PAGES 20                  /* pages of 1000 reports read at most */

enum peer { REGISTRY, TRACKER, DATA, DRIFT };

static struct httpc_peer peer_of(const struct tr_settings *s, enum peer p, size_t max)
{
	struct httpc_peer r = {.name = "the drift monitor",
			       .base_url = s->drift_url,
			       .token = s->drift_token,
			       .timeout_ms = s->drift_timeout_ms,
			       .max_response = max};
	if (p == REGISTRY)
		r.name = "the model registry", r.base_url = s->registry_url, r.token = s->registry_token,
		r.timeout_ms = s->registry_timeout_ms;
	else if (p == TRACKER)
		r.name = "the experiment tracker", r.base_url = s->tracker_url, r.token = s->tracker_token,
		r.timeout_ms = s->tracker_timeout_ms;
	else if (p == DATA)
		r.name = "the data registry", r.base_url = s->data_registry_url, r.token = s->data_registry_token,
		r.timeout_ms = s->data_registry_timeout_ms;
	return r;
}

/* GETs path on peer p into *out (an object, owned) and its status into *status.
 * CORE_OK only for a 200; CORE_ENOENT for a 404 (and, with missing_400, a 400: the
 * registry's unknown alias); otherwise err says why (the peer's message when any). */
static enum core_status get(const struct tr_settings *s, enum peer p, size_t max, const char *rid, const char *path,
			    bool missing_400, json_t **out, struct core_error *err)
{
	struct httpc_peer pr = peer_of(s, p, max);
	long status = 0;
	*out = NULL;
	enum core_status rc = httpc_peer_json(&pr, "GET", path, NULL, rid, &status, out, err);
	if (rc != CORE_OK || status == 200) {
		if (rc != CORE_OK)
			json_decref(*out), *out = NULL;
		return rc;
	}
	const char *msg = json_string_value(json_object_get(*out, "message"));
	rc = core_fail(err, status == 404 || (missing_400 && status == 400) ? CORE_ENOENT : CORE_EINVAL,
		       "%s answered %ld%s%.300s", pr.name, status, msg ? ": " : "", msg ? msg : "");
	json_decref(*out);
	*out = NULL;
	return rc;
}

static void set_unavailable(json_t *node, const char *why)
{
	json_object_set_new(node, "unavailable", json_string(why));
}

/* MLflow's [{key, value}] as an object; only keys starting with prefix when not NULL. */
static json_t *kv_object(json_t *list, const char *prefix, const char *value_key)
{
	json_t *o = json_object(), *e;
	size_t i;
	json_array_foreach(list, i, e)
	{
		const char *k = json_string_value(json_object_get(e, "key"));
		json_t *v = json_object_get(e, value_key);
		if (k && v && (!prefix || strncmp(k, prefix, strlen(prefix)) == 0))
			json_object_set(o, k, v);
	}
	return o;
}

static char *base_of(const char *url)
{
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	return core_xstrndup(url, n);
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

enum core_status tr_lineage_model_version(const struct tr_settings *s, const char *rid, const char *model,
					  const char *version, json_t **node, struct core_error *err)
{
	char *qn = mlflow_url_escape(model, false), *qv = mlflow_url_escape(version, false);
	bool number = all_digits(version);
	char *path = number ? core_xasprintf(MLFLOW_API "model-versions/get?name=%s&version=%s", qn, qv)
			    : core_xasprintf(MLFLOW_API "registered-models/alias?name=%s&alias=%s", qn, qv);
	json_t *doc = NULL;
	/* a 400 to a well-formed name and version (an unknown alias, a number past the
	 * registry's range) means there is no such version */
	enum core_status rc = get(s, REGISTRY, JSON_MAX, rid, path, true, &doc, err);
	json_t *mv = json_object_get(doc, "model_version");
	if (rc == CORE_OK && !json_is_object(mv))
		rc = core_fail(err, CORE_EIO, "the model registry answered without a model_version");
	if (rc == CORE_ENOENT) {
		core_fail(err, CORE_ENOENT, "%s '%s' of registered model '%s' not found", number ? "Version" : "Alias",
			  version, model);
		*node = NULL;
		goto out;
	}
	if (rc != CORE_OK) {
		*node = json_pack("{s:s, s:s}", "name", model, "version", version);
		set_unavailable(*node, err->message);
		goto out;
	}
	json_t *aliases = json_object_get(mv, "aliases");
	const char *v = json_string_value(json_object_get(mv, "version"));
	char *reg = base_of(s->registry_url);
	char *qv2 = mlflow_url_escape(v ? v : version, false);
	char *url = core_xasprintf("%s" MLFLOW_API "model-versions/get?name=%s&version=%s", reg, qn, qv2);
	*node = json_pack("{s:s, s:s, s:o, s:O*, s:O*, s:O*, s:o, s:O*, s:s}", "name", model, "version",
			  v ? v : version, "aliases", json_is_array(aliases) ? json_incref(aliases) : json_array(),
			  "run_id", json_object_get(mv, "run_id"), "source", json_object_get(mv, "source"), "status",
			  json_object_get(mv, "status"), "tags", kv_object(json_object_get(mv, "tags"), NULL, "value"),
			  "creation_timestamp", json_object_get(mv, "creation_timestamp"), "url", url);
	free(url);
	free(qv2);
	free(reg);
out:
	json_decref(doc);
	free(path);
	free(qn);
	free(qv);
	return rc == CORE_ENOENT ? CORE_ENOENT : rc == CORE_OK ? CORE_OK : CORE_EIO;
}

static json_t *get_run(const struct tr_settings *s, const char *rid, const char *run_id, struct core_error *err)
{
	char *q = mlflow_url_escape(run_id, false);
	char *path = core_xasprintf(MLFLOW_API "runs/get?run_id=%s", q);
	json_t *doc = NULL;
	enum core_status rc = get(s, TRACKER, JSON_MAX, rid, path, false, &doc, err);
	json_t *run = json_incref(json_object_get(doc, "run"));
	if (rc == CORE_OK && !json_is_object(run))
		core_fail(err, CORE_EIO, "the experiment tracker answered without a run");
	json_decref(doc);
	free(path);
	free(q);
	if (!json_is_object(run))
		json_decref(run), run = NULL;
	return run;
}

json_t *tr_lineage_run(const struct tr_settings *s, const char *rid, const char *run_id)
{
	struct core_error err = {{0}};
	json_t *run = get_run(s, rid, run_id, &err);
	json_t *node = json_pack("{s:s}", "run_id", run_id);
	if (!run) {
		set_unavailable(node, err.message);
		return node;
	}
	json_t *info = json_object_get(run, "info"), *data = json_object_get(run, "data");
	const char *exp = json_string_value(json_object_get(info, "experiment_id"));
	static const char *const keys[] = {"experiment_id", "run_name", "status", "start_time", "end_time"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (json_object_get(info, keys[i]))
			json_object_set(node, keys[i], json_object_get(info, keys[i]));
	json_object_set_new(node, "params", kv_object(json_object_get(data, "params"), NULL, "value"));
	json_object_set_new(node, "metrics", kv_object(json_object_get(data, "metrics"), NULL, "value"));
	json_object_set_new(node, "tags", kv_object(json_object_get(data, "tags"), "lathe.", "value"));
	char *trk = base_of(s->tracker_url);
	char *url = core_xasprintf("%s/#/experiments/%s/runs/%s", trk, exp ? exp : "0", run_id);
	json_object_set_new(node, "url", json_string(url));
	free(url);
	free(trk);
	json_decref(run);
	return node;
}

int tr_lineage_run_on(const struct tr_settings *s, const char *rid, const char *run_id, const char *name,
		      const char *version_id, char **why)
{
	struct core_error err = {{0}};
	json_t *run = get_run(s, rid, run_id, &err);
	*why = NULL;
	if (!run) {
		*why = core_xstrdup(err.message);
		return -1;
	}
	json_t *tags = kv_object(json_object_get(json_object_get(run, "data"), "tags"), "lathe.dataset", "value");
	const char *ds = json_string_value(json_object_get(tags, "lathe.dataset"));
	char *want = core_xasprintf("%s@%s", name, version_id);
	int on = ds && strcmp(ds, want) == 0;
	free(want);
	json_decref(tags);
	json_decref(run);
	return on;
}

/* The split node: how the job's spec split the data, and the split's counts when the
 * data registry has it. */
static json_t *split_node(const struct tr_settings *s, const char *rid, const char *vpath, json_t *spec_json)
{
	struct tr_spec spec;
	struct core_error err = {{0}};
	if (!spec_json)
		return NULL;
	if (tr_spec_parse(spec_json, &spec, &err) != CORE_OK)
		return json_pack("{s:s}", "unavailable", err.message);
	char name[64];
	json_t *node;
	if (spec.split_name) {
		snprintf(name, sizeof name, "%s", spec.split_name);
		node = json_pack("{s:s}", "name", name);
	} else {
		tr_split_name(&spec, name);
		node = json_pack("{s:s, s:{s:f, s:f, s:f}, s:I}", "name", name, "fractions", "train", spec.fractions[0],
				 "val", spec.fractions[1], "test", spec.fractions[2], "seed",
				 (json_int_t)spec.split_seed);
	}
	char *q = mlflow_url_escape(name, false);
	char *path = core_xasprintf("%s/splits/%s", vpath, q);
	json_t *doc = NULL;
	if (get(s, DATA, JSON_MAX, rid, path, false, &doc, &err) == CORE_OK) {
		json_t *sp = json_object_get(doc, "split");
		json_t *counts = json_object_get(sp, "counts");
		if (spec.split_name && json_object_get(sp, "fractions"))
			json_object_set(node, "fractions", json_object_get(sp, "fractions"));
		if (spec.split_name && json_object_get(sp, "seed"))
			json_object_set(node, "seed", json_object_get(sp, "seed"));
		if (json_is_object(counts)) {
			json_object_set(node, "counts", counts);
			if (json_is_integer(json_object_get(counts, "test")))
				json_object_set(node, "test_size", json_object_get(counts, "test"));
		}
	} else {
		set_unavailable(node, err.message);
	}
	json_decref(doc);
	free(path);
	free(q);
	return node;
}

json_t *tr_lineage_dataset(const struct tr_settings *s, const char *rid, const char *ref, json_t *spec, json_t **files,
			   json_int_t *files_total, bool *missing)
{
	struct core_error err = {{0}};
	enum core_status rc;
	const char *at = strrchr(ref, '@');
	json_t *node = json_pack("{s:s}", "ref", ref), *doc = NULL;
	*files = NULL;
	*files_total = 0;
	if (!at || at == ref || !at[1]) {
		set_unavailable(node, "the dataset reference is not name@version");
		return node;
	}
	char *name = core_xstrndup(ref, (size_t)(at - ref));
	char *qn = mlflow_url_escape(name, false), *qr = mlflow_url_escape(at + 1, false);
	char *vpath = core_xasprintf("/v1/datasets/%s/versions/%s", qn, qr);
	json_object_set_new(node, "name", json_string(name));
	if ((rc = get(s, DATA, JSON_MAX, rid, vpath, false, &doc, &err)) != CORE_OK) {
		if (missing)
			*missing = rc == CORE_ENOENT;
		set_unavailable(node, err.message);
		goto out;
	}
	json_t *v = json_object_get(doc, "version");
	json_int_t number = json_integer_value(json_object_get(v, "number"));
	char *canon = core_xasprintf("%s@%" JSON_INTEGER_FORMAT, name, number);
	json_object_set_new(node, "ref", json_string(canon));
	free(canon);
	json_object_set(node, "version", json_object_get(v, "number"));
	static const char *const keys[] = {"id", "status", "format", "bytes", "created_at"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (json_object_get(v, keys[i]))
			json_object_set(node, keys[i], json_object_get(v, keys[i]));
	json_object_set(node, "files", json_object_get(v, "file_count"));
	char *dr = base_of(s->data_registry_url);
	char *url = core_xasprintf("%s%s", dr, vpath);
	json_object_set_new(node, "url", json_string(url));
	free(url);
	free(dr);
	json_t *split = split_node(s, rid, vpath, spec);
	if (split)
		json_object_set_new(node, "split", split);
	/* the files: the manifest, the first few listed */
	json_decref(doc);
	doc = NULL;
	char *mpath = core_xasprintf("%s/manifest", vpath);
	if (get(s, DATA, MANIFEST_MAX, rid, mpath, false, &doc, &err) == CORE_OK) {
		json_t *all = json_object_get(doc, "files");
		*files = json_array();
		for (size_t i = 0; i < json_array_size(all) && i < TR_LINEAGE_FILES; i++)
			json_array_append(*files, json_array_get(all, i));
		*files_total = (json_int_t)json_array_size(all);
	}
	free(mpath);
out:
	json_decref(doc);
	free(vpath);
	free(qn);
	free(qr);
	free(name);
	return node;
}

/* The id of model's monitor into *id (owned; NULL when it has none). */
static enum core_status monitor_of(const struct tr_settings *s, const char *rid, const char *model, char **id,
				   struct core_error *err)
{
	char *q = mlflow_url_escape(model, false);
	char *path = core_xasprintf("/v1/monitors?model=%s", q);
	json_t *doc = NULL;
	enum core_status rc = get(s, DRIFT, JSON_MAX, rid, path, false, &doc, err);
	const char *m = json_string_value(json_object_get(json_array_get(json_object_get(doc, "monitors"), 0), "id"));
	*id = m ? core_xstrdup(m) : NULL;
	json_decref(doc);
	free(path);
	free(q);
	return rc;
}

json_t *tr_lineage_reports(const struct tr_settings *s, const char *rid, const char *model, const char *version,
			   json_int_t *total, json_int_t *drifted, char **why)
{
	struct core_error err = {{0}};
	char *monitor = NULL, *token = NULL;
	*total = *drifted = 0;
	*why = NULL;
	if (!s->drift_url || !*s->drift_url) {
		*why = core_xstrdup("DRIFT_URL not set");
		return NULL;
	}
	if (monitor_of(s, rid, model, &monitor, &err) != CORE_OK) {
		*why = core_xstrdup(err.message);
		return NULL;
	}
	json_t *out = json_array();
	char *drift = base_of(s->drift_url);
	for (int page = 0; monitor && page < REPORT_PAGES; page++) {
		char *path =
			token ? core_xasprintf("/v1/reports?monitor=%s&max_results=1000&page_token=%s", monitor, token)
			      : core_xasprintf("/v1/reports?monitor=%s&max_results=1000", monitor);
		json_t *doc = NULL, *r;
		enum core_status rc = get(s, DRIFT, JSON_MAX, rid, path, false, &doc, &err);
		free(path);
		free(token);
		token = NULL;
		if (rc != CORE_OK) {
			*why = core_xstrdup(err.message);
			json_decref(doc);
			break;
		}
		size_t i;
		json_array_foreach(json_object_get(doc, "reports"), i, r)
		{
			const char *v = json_string_value(json_object_get(r, "model_version"));
			const char *id = json_string_value(json_object_get(r, "id"));
			if (!v || !id || strcmp(v, version) != 0)
				continue;
			bool drift_found = json_is_true(json_object_get(r, "dataset_drift"));
			(*total)++;
			*drifted += drift_found;
			if (json_array_size(out) >= TR_LINEAGE_REPORTS)
				continue;
			char *url = core_xasprintf("%s/v1/reports/%s.html", drift, id);
			json_array_append_new(out,
					      json_pack("{s:s, s:O*, s:b, s:O*, s:s}", "id", id, "created_at",
							json_object_get(r, "created_at"), "dataset_drift", drift_found,
							"share_of_drifted_columns",
							json_object_get(r, "share_of_drifted_columns"), "url", url));
			free(url);
		}
		const char *next = json_string_value(json_object_get(doc, "next_page_token"));
		token = next ? mlflow_url_escape(next, false) : NULL;
		json_decref(doc);
		if (!token)
			break;
	}
	free(token);
	free(drift);
	free(monitor);
	if (*why) {
		json_decref(out);
		return NULL;
	}
	return out;
}

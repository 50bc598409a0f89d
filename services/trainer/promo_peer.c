/* What promotion asks of the model registry and the experiment tracker over their MLflow
 * REST APIs (tr.h, tr-promotion): a model's aliases, a version's run, a run's tag, and
 * the writes of a decision (alias set / delete, version tags). Each call is repeatable
 * (aliases and tags upsert, deleting a missing alias is a no-op here). Statuses: CORE_OK;
 * CORE_EIO when the peer did not answer or answered 5xx; CORE_ENOENT for a model or
 * version it does not know; CORE_EINVAL with its message for another refusal. Blocking
 * HTTP: never inside a transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "http/client.h"
#include "mlflow/source.h"
#include "tr.h"

#define API      "/api/2.0/mlflow/"
#define JSON_MAX ((size_t)16 << 20)

static struct httpc_peer peer_of(const struct tr_settings *s, bool registry)
{
	return (struct httpc_peer){.name = registry ? "the model registry" : "the experiment tracker",
				   .base_url = registry ? s->registry_url : s->tracker_url,
				   .token = registry ? s->registry_token : s->tracker_token,
				   .timeout_ms = registry ? s->registry_timeout_ms : s->tracker_timeout_ms,
				   .retries = 2,
				   .max_response = JSON_MAX};
}

/* One call; *out gets the 200 answer's object (may be NULL when not wanted). */
static enum core_status call(const struct tr_settings *s, bool registry, const char *rid, const char *method,
			     const char *path, json_t *body, json_t **out, struct core_error *err)
{
	struct httpc_peer p = peer_of(s, registry);
	long status = 0;
	json_t *doc = NULL;
	enum core_status rc = httpc_peer_json(&p, method, path, body, rid, &status, &doc, err);
	if (rc == CORE_OK && status != 200) {
		const char *code = json_string_value(json_object_get(doc, "error_code"));
		const char *msg = json_string_value(json_object_get(doc, "message"));
		enum core_status k = status == 404 || (code && strcmp(code, "RESOURCE_DOES_NOT_EXIST") == 0)
					     ? CORE_ENOENT
				     : status >= 500 || status == 408 || status == 429 ? CORE_EIO
										       : CORE_EINVAL;
		rc = core_fail(err, k, "%s answered %ld to %s %.*s: %s", p.name, status, method,
			       (int)strcspn(path, "?"), path, msg ? msg : "");
	}
	if (rc == CORE_OK && out)
		*out = json_incref(doc);
	json_decref(doc);
	return rc;
}

static void copy_version(char dst[32], json_t *v)
{
	const char *t = json_string_value(v);
	snprintf(dst, 32, "%s", t ? t : "");
}

enum core_status tr_peer_aliases(const struct tr_settings *s, const char *rid, const char *model,
				 struct tr_aliases *out, struct core_error *err)
{
	memset(out, 0, sizeof *out);
	char *q = mlflow_url_escape(model, false);
	char *path = core_xasprintf(API "registered-models/get?name=%s", q);
	json_t *doc = NULL;
	enum core_status rc = call(s, true, rid, "GET", path, NULL, &doc, err);
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(json_object_get(doc, "registered_model"), "aliases"), i, a)
	{
		const char *name = json_string_value(json_object_get(a, "alias"));
		if (!name)
			continue;
		if (strcmp(name, "champion") == 0)
			copy_version(out->champion, json_object_get(a, "version"));
		else if (strcmp(name, "previous") == 0)
			copy_version(out->previous, json_object_get(a, "version"));
		else if (strcmp(name, "challenger") == 0)
			copy_version(out->challenger, json_object_get(a, "version"));
	}
	json_decref(doc);
	free(path);
	free(q);
	return rc;
}

enum core_status tr_peer_version_run(const struct tr_settings *s, const char *rid, const char *model,
				     const char *version, char run_id[64], struct core_error *err)
{
	char *qn = mlflow_url_escape(model, false), *qv = mlflow_url_escape(version, false);
	char *path = core_xasprintf(API "model-versions/get?name=%s&version=%s", qn, qv);
	json_t *doc = NULL;
	enum core_status rc = call(s, true, rid, "GET", path, NULL, &doc, err);
	const char *run = json_string_value(json_object_get(json_object_get(doc, "model_version"), "run_id"));
	snprintf(run_id, 64, "%s", run ? run : "");
	json_decref(doc);
	free(path);
	free(qv);
	free(qn);
	return rc;
}

enum core_status tr_peer_run_tags(const struct tr_settings *s, const char *rid, const char *run_id, json_t **tags,
				  struct core_error *err)
{
	*tags = json_object();
	char *q = mlflow_url_escape(run_id, false);
	char *path = core_xasprintf(API "runs/get?run_id=%s", q);
	json_t *doc = NULL;
	enum core_status rc = call(s, false, rid, "GET", path, NULL, &doc, err);
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(json_object_get(json_object_get(doc, "run"), "data"), "tags"), i, t)
	{
		const char *k = json_string_value(json_object_get(t, "key"));
		const char *v = json_string_value(json_object_get(t, "value"));
		if (k && v)
			json_object_set_new(*tags, k, json_string(v));
	}
	json_decref(doc);
	free(path);
	free(q);
	return rc;
}

enum core_status tr_peer_set_alias(const struct tr_settings *s, const char *rid, const char *model, const char *alias,
				   const char *version, struct core_error *err)
{
	json_t *b = json_pack("{s:s, s:s, s:s}", "name", model, "alias", alias, "version", version);
	enum core_status rc = call(s, true, rid, "POST", API "registered-models/alias", b, NULL, err);
	json_decref(b);
	return rc;
}

enum core_status tr_peer_delete_alias(const struct tr_settings *s, const char *rid, const char *model,
				      const char *alias, struct core_error *err)
{
	json_t *b = json_pack("{s:s, s:s}", "name", model, "alias", alias);
	enum core_status rc = call(s, true, rid, "DELETE", API "registered-models/alias", b, NULL, err);
	json_decref(b);
	return rc;
}

enum core_status tr_peer_version_tag(const struct tr_settings *s, const char *rid, const char *model,
				     const char *version, const char *key, const char *value, struct core_error *err)
{
	json_t *b = json_pack("{s:s, s:s, s:s, s:s}", "name", model, "version", version, "key", key, "value", value);
	enum core_status rc = call(s, true, rid, "POST", API "model-versions/set-tag", b, NULL, err);
	json_decref(b);
	return rc;
}

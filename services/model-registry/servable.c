/* Servability: does a model version's source hold a Lathe model package (model.json +
 * weights.safetensors, docs/architecture.md, "The model package")? The registry asks the
 * experiment tracker's artifact API, as an MLflow client would:
 *   mlflow-artifacts:/<p>  (or mlflow-artifacts://host:port/<p>)
 *       GET {TRACKER_URL}/api/2.0/mlflow-artifacts/artifacts?path=<p>
 *   runs:/<run_id>/<p>
 *       GET {TRACKER_URL}/api/2.0/mlflow/runs/get?run_id=<run_id> for the run's
 *       artifact_uri, then as above with <artifact path>/<p>
 * and looks for both files in the listing. The answer is recorded by servable_queue.c
 * as the version tags lathe.servable / lathe.servable_reason. It never fails a
 * registration: any other source or an odd answer gives "false" with the reason; an
 * unreachable tracker (no answer within TRACKER_TIMEOUT_MS, or a 5xx) is flagged so the
 * check is retried later. The reason is for clients: it names no internal address
 * (the log line has the cause). Blocking HTTP (httpc_do): called by the periodic task,
 * never on the request path nor in a transaction; mr_servable_local is the part
 * model-versions/create may call (no I/O). What a source names is mlflow/source.h's
 * (the inference API's loader reads sources the same way). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/log.h"
#include "http/client.h"
#include "mlflow/source.h"
#include "mr.h"

static void set_reason(struct mr_servable *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_reason(struct mr_servable *out, const char *fmt, ...)
{
	va_list ap;
	out->servable = false;
	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof out->reason, fmt, ap);
	va_end(ap);
}

/* GETs {tracker}{path_and_query}; returns the parsed JSON (owned) of a 200 answer, or
 * NULL with the reason set. */
static json_t *tracker_get(const struct mr_settings *s, const char *request_id, const char *path_and_query,
			   struct mr_servable *out)
{
	struct httpc_response resp = {0};
	struct core_error err = {{0}};
	json_t *doc = NULL;
	/* the registry's own token when the tracker checks them (AUTH=on there) */
	const struct httpc_peer tracker = {.name = "the tracker",
					   .base_url = s->tracker_url,
					   .token = s->tracker_token,
					   .timeout_ms = s->tracker_timeout_ms,
					   .max_response = (size_t)4 << 20};
	if (httpc_peer_call(&tracker, "GET", path_and_query, NULL, NULL, 0, request_id, &resp, &err) != CORE_OK) {
		/* the tag is readable by every client: err names no address (the log line
		 * httpc_peer_call wrote does); any failure here is worth asking again */
		set_reason(out, "the tracker could not be reached");
		out->unreachable = true;
		goto out;
	}
	if (resp.status != 200) {
		set_reason(out, "tracker answered %ld for %s", resp.status, path_and_query);
		goto out;
	}
	doc = json_loadb(resp.body, resp.body_len, 0, NULL);
	if (!json_is_object(doc)) {
		json_decref(doc);
		doc = NULL;
		set_reason(out, "tracker answered something that is not a JSON object for %s", path_and_query);
	}
out:
	httpc_response_free(&resp);
	return doc;
}

/* Lists dir and checks for the package's two files. */
static void check_listing(const struct mr_settings *s, const char *request_id, const char *dir, struct mr_servable *out)
{
	char *q = mlflow_url_escape(dir, true);
	char *pq = core_xasprintf("/api/2.0/mlflow-artifacts/artifacts?path=%s", q);
	json_t *doc = tracker_get(s, request_id, pq, out);
	bool model_json = false, weights = false;
	size_t i;
	json_t *f;
	if (!doc)
		goto out;
	json_array_foreach(json_object_get(doc, "files"), i, f)
	{
		const char *name = json_string_value(json_object_get(f, "path"));
		if (!name || json_is_true(json_object_get(f, "is_dir")))
			continue;
		const char *base = strrchr(name, '/');
		base = base ? base + 1 : name;
		model_json = model_json || strcmp(base, "model.json") == 0;
		weights = weights || strcmp(base, "weights.safetensors") == 0;
	}
	if (model_json && weights) {
		out->servable = true;
		out->reason[0] = '\0';
	} else if (!model_json && !weights) {
		set_reason(out, "no Lathe model package at %s: model.json and weights.safetensors missing", dir);
	} else {
		set_reason(out, "no Lathe model package at %s: %s missing", dir,
			   model_json ? "weights.safetensors" : "model.json");
	}
out:
	json_decref(doc);
	free(pq);
	free(q);
}

/* runs:/<run_id>/<path>: the run's artifact location from the tracker. */
static void check_run_source(const struct mr_settings *s, const char *request_id, const char *source,
			     struct mr_servable *out)
{
	struct mlflow_source src;
	mlflow_source_parse(source, &src);
	char *q = mlflow_url_escape(src.run_id, false);
	char *pq = core_xasprintf("/api/2.0/mlflow/runs/get?run_id=%s", q);
	json_t *doc = tracker_get(s, request_id, pq, out);
	const char *uri = json_string_value(
		json_object_get(json_object_get(json_object_get(doc, "run"), "info"), "artifact_uri"));
	char *dir = uri ? mlflow_run_artifact_path(uri, src.path) : NULL;
	if (doc && !uri)
		set_reason(out, "the tracker's run %s has no artifact_uri", src.run_id);
	else if (uri && !dir)
		set_reason(out, "run artifacts at %s are not served by the tracker (%s)", uri, MLFLOW_ARTIFACTS_SCHEME);
	else if (dir)
		check_listing(s, request_id, dir, out);
	free(dir);
	json_decref(doc);
	free(pq);
	free(q);
	mlflow_source_free(&src);
}

bool mr_servable_local(const struct mr_settings *s, const char *source, struct mr_servable *out)
{
	out->servable = false;
	out->unreachable = false;
	out->reason[0] = '\0';
	if (!s->tracker_url || !*s->tracker_url) {
		set_reason(out, "TRACKER_URL is not set: the source was not inspected");
		return true;
	}
	struct mlflow_source src;
	enum mlflow_source_kind kind = mlflow_source_parse(source, &src);
	mlflow_source_free(&src);
	if (kind != MLFLOW_SOURCE_OTHER)
		return false;
	set_reason(out, "source %s is not an mlflow-artifacts: or runs:/ URI the tracker serves", source);
	return true;
}

void mr_servable_check(const struct mr_settings *s, const char *source, const char *request_id, struct mr_servable *out)
{
	if (mr_servable_local(s, source, out))
		return;
	const char *path = mlflow_artifacts_path(source);
	if (path)
		check_listing(s, request_id, path, out);
	else
		check_run_source(s, request_id, source, out);
}

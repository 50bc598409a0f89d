/* Step 6 of `lathe demo` (face: demo.h): the lineage of a prediction made after the
 * swap (or, without one, of a prediction made now), from the trainer's GET /v1/lineage
 * (model, version, request_id), one line per node; then the URLs of the version's run,
 * its registry entry and the drift report. A trainer without the route is said so and
 * the summary has available false. */
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "demo.h"

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "-";
}

/* One line per node of the trainer's lineage document (its README's Lineage table), the
 * figures a reader looks for first; a node a peer could not give says why. */
static void print_lineage(struct demo *d, json_t *t)
{
	json_t *n;
	char text[512];
	if ((n = json_object_get(t, "model_version")) && json_object_get(n, "unavailable"))
		cli_demo_say(d, "lineage", "model version: unavailable (%s)", jstr(n, "unavailable"));
	else if (n)
		cli_demo_say(d, "lineage", "model version: %s version %s, %s", jstr(n, "name"), jstr(n, "version"),
			     jstr(n, "url"));
	if ((n = json_object_get(t, "run")))
		cli_demo_say(d, "lineage", "run:           %s '%s', %s", jstr(n, "run_id"), jstr(n, "run_name"),
			     jstr(n, "url"));
	if ((n = json_object_get(t, "job")))
		cli_demo_say(d, "lineage", "job:           %s %s, on %s", jstr(n, "id"), jstr(n, "status"),
			     jstr(json_object_get(n, "spec"), "dataset"));
	if ((n = json_object_get(t, "dataset"))) {
		json_t *split = json_object_get(n, "split"), *counts = json_object_get(split, "counts");
		char *c = counts ? json_dumps(counts, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
		snprintf(text, sizeof text, "%s (id %.12s), %lld files, split %s %s", jstr(n, "ref"), jstr(n, "id"),
			 (long long)json_integer_value(json_object_get(n, "files")), jstr(split, "name"), c ? c : "");
		free(c);
		cli_demo_say(d, "lineage", "dataset:       %s", text);
	}
	json_t *files = json_object_get(t, "files");
	if (json_array_size(files))
		cli_demo_say(d, "lineage", "files:         %s, ... (%lld in all)",
			     jstr(json_array_get(files, 0), "path"),
			     (long long)json_integer_value(json_object_get(t, "files_total")));
	json_t *reports = json_object_get(t, "reports");
	if (reports)
		cli_demo_say(d, "lineage", "reports:       %lld, %lld with drift; newest %s",
			     (long long)json_integer_value(json_object_get(t, "reports_total")),
			     (long long)json_integer_value(json_object_get(t, "reports_with_drift")),
			     jstr(json_array_get(reports, 0), "url"));
	const char *k;
	json_t *v;
	json_object_foreach(t, k, v) if (strstr(k, "unavailable") && json_is_string(v))
		cli_demo_say(d, "lineage", "%s: %s", k, json_string_value(v));
}

enum core_status cli_demo_step_lineage(struct demo *d, struct core_error *err)
{
	json_t *s = cli_demo_step(d, "lineage");
	enum core_status rc = CORE_OK;
	if (!d->after_swap_request[0]) {
		/* no swap: a prediction now, from whatever serves */
		CURL *h = cli_http_handle();
		snprintf(d->after_swap_request, sizeof d->after_swap_request, "demo-lineage-%s", d->suffix);
		rc = cli_demo_oip(d, h, 0, 1, false, d->after_swap_request, NULL, d->after_swap_version, err);
		curl_easy_cleanup(h);
		if (rc != CORE_OK)
			return rc;
	}
	cli_demo_say(d, "lineage", "prediction %s, answered by %s version %s", d->after_swap_request, d->model,
		     d->after_swap_version);
	char *p = cli_demo_path("/v1/lineage?model=", d->model, "&version=");
	char *r = cli_http_escape(d->after_swap_request);
	char *q = core_xasprintf("%s%s&request_id=%s", p, d->after_swap_version, r);
	json_t *got = NULL;
	struct core_error e;
	enum core_status lr = cli_demo_call(&d->trainer, "GET", q, NULL, &got, &e);
	bool available = lr == CORE_OK;
	if (available)
		print_lineage(d, got);
	else if (lr == CORE_ENOENT)
		cli_demo_say(d, "lineage", "this trainer has no /v1/lineage yet (%s)", e.message);
	else
		rc = core_fail(err, lr, "GET /v1/lineage: %s", e.message);
	json_object_set_new(s, "available", json_boolean(available));
	json_object_set_new(s, "request_id", json_string(d->after_swap_request));
	json_object_set_new(s, "version", json_string(d->after_swap_version));
	if (available)
		json_object_set(s, "tree", got);
	json_decref(got);
	free(q);
	free(r);
	free(p);
	/* where to look: the run, the registry entry, the drift report */
	char *run = NULL;
	char *vp = cli_demo_path("/api/2.0/mlflow/model-versions/get?name=", d->model, "&version=");
	char *vq = core_xasprintf("%s%s", vp, d->after_swap_version);
	json_t *mv = NULL;
	if (cli_demo_call(&d->registry, "GET", vq, NULL, &mv, &e) == CORE_OK) {
		const char *rid = json_string_value(json_object_get(json_object_get(mv, "model_version"), "run_id"));
		run = rid ? core_xstrdup(rid) : NULL;
	}
	json_decref(mv);
	char *run_url = core_xasprintf("%s/api/2.0/mlflow/runs/get?run_id=%s", d->tracker.base, run ? run : "");
	char *reg_url = core_xasprintf("%s%s", d->registry.base, vq);
	char *rep_url = core_xasprintf("%s/v1/reports/%s.html", d->drift.base, d->report_id);
	cli_demo_say(d, "lineage", "see the run:      %s", run_url);
	cli_demo_say(d, "lineage", "see the version:  %s", reg_url);
	cli_demo_say(d, "lineage", "see the report:   %s", rep_url);
	json_object_set_new(s, "urls",
			    json_pack("{s:s, s:s, s:s}", "run", run_url, "registry", reg_url, "report", rep_url));
	free(run_url), free(reg_url), free(rep_url), free(run), free(vq), free(vp);
	return rc;
}

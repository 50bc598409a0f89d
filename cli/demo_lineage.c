/* Step 6 of `lathe demo` (face: demo.h): the lineage of a prediction made after the
 * swap (or, without one, of a prediction made now), from the trainer's GET /v1/lineage
 * (model, version, request_id), printed by `lathe lineage`'s own code (lineage.c); then
 * the URLs of the version's run, its registry entry and the drift report. A trainer
 * without the route is said so and the summary has available false. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "demo.h"

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
	if (available) {
		cli_demo_say(d, "lineage", "as `lathe lineage %s@%s --request-id %s` prints it:", d->model,
			     d->after_swap_version, d->after_swap_request);
		cli_lineage_print_forward(got);
		fflush(stdout);
	} else if (lr == CORE_ENOENT)
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

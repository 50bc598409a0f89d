/* Step 4 of `lathe demo` (face: demo.h): the drift monitor's monitor for the model made
 * (or, when the model's first predictions made one with the defaults, patched) with a
 * small window and policy `retrain`, after a new version of the PNG dataset that holds
 * inverted images too (so the retraining that follows learns them); then inverted test images,
 * a window's worth at a time, until a report of the monitor says dataset drift. Prints
 * the drifted columns with their stattest and score, and the report's page. A drifted
 * report under policy retrain is the alert (drift.alerts) and the retraining request
 * step 5 follows. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/alloc.h"
#include "demo.h"

/* The monitor's id into id (creating it, or patching the one the model has). */
static enum core_status monitor(struct demo *d, int window, char *id, size_t cap, struct core_error *err)
{
	/* ks at 0.01 for both image statistics: a window of test images from the training
	 * distribution stays below it, inverted ones are far beyond (Evidently's default for
	 * a large reference, wasserstein at 0.1, flags a fair share of windows this small) */
	json_t *body = json_pack("{s:s, s:{s:i}, s:{s:{s:s, s:f}, s:{s:s, s:f}}, s:{s:s, s:i}}", "model", d->model,
				 "window", "size", window, "features", "brightness", "method", "ks", "threshold", 0.01,
				 "contrast", "method", "ks", "threshold", 0.01, "alert", "policy", "retrain",
				 "cooldown_seconds", 3600),
	       *got = NULL;
	long status = 0;
	const char *how = "created";
	enum core_status rc = cli_http_json(NULL, &d->drift, "POST", "/v1/monitors", body, &status, &got, err);
	if (rc != CORE_OK && status == 409) {
		/* the first predictions made one with the defaults: patch it */
		char *q = cli_demo_path("/v1/monitors?model=", d->model, "");
		json_decref(got);
		got = NULL;
		rc = cli_demo_call(&d->drift, "GET", q, NULL, &got, err);
		free(q);
		const char *mid =
			json_string_value(json_object_get(json_array_get(json_object_get(got, "monitors"), 0), "id"));
		if (rc == CORE_OK && !mid)
			rc = core_fail(err, CORE_EINVAL, "the drift monitor has a monitor of %s but lists none",
				       d->model);
		if (rc == CORE_OK) {
			char *p = cli_demo_path("/v1/monitors/", mid, "");
			json_object_del(body, "model");
			json_decref(got);
			got = NULL;
			rc = cli_demo_call(&d->drift, "PATCH", p, body, &got, err);
			free(p);
			how = "patched";
		}
	}
	const char *mid = json_string_value(json_object_get(json_object_get(got, "monitor"), "id"));
	if (rc == CORE_OK && !mid)
		rc = core_fail(err, CORE_EINVAL, "the drift monitor answered no monitor id");
	if (rc == CORE_OK) {
		snprintf(id, cap, "%s", mid);
		cli_demo_say(d, "drift",
			     "monitor %s %s: window %d predictions, ks at 0.01 on brightness and contrast, "
			     "policy retrain, cooldown 1 h",
			     id, how, window);
	}
	json_decref(body);
	json_decref(got);
	return rc;
}

/* The newest report of monitor with dataset drift written at or after since_ms, into
 * *report (owned), or NULL. */
static enum core_status drifted_report(struct demo *d, const char *mon, long long since_ms, json_t **report,
				       struct core_error *err)
{
	char *p = cli_demo_path("/v1/reports?monitor=", mon, "");
	char *q = core_xasprintf("%s&since=%lld", p, since_ms);
	json_t *got = NULL, *r;
	size_t i;
	*report = NULL;
	enum core_status rc = cli_demo_call(&d->drift, "GET", q, NULL, &got, err);
	json_array_foreach(json_object_get(got, "reports"), i,
			   r) if (!*report && json_is_true(json_object_get(r, "dataset_drift"))) *report =
		json_incref(r);
	json_decref(got);
	free(q);
	free(p);
	return rc;
}

/* Prints the drifted columns of report id and returns them (owned) for the summary. */
static json_t *drifted_columns(struct demo *d, const char *id, struct core_error *err)
{
	char *p = cli_demo_path("/v1/reports/", id, "");
	json_t *got = NULL, *col, *out = NULL;
	size_t i;
	if (cli_demo_call(&d->drift, "GET", p, NULL, &got, err) == CORE_OK) {
		out = json_array();
		json_t *doc = json_object_get(json_object_get(got, "report"), "result");
		json_array_foreach(json_object_get(doc, "columns"), i, col)
		{
			if (!json_is_true(json_object_get(col, "drift_detected")))
				continue;
			const char *name = json_string_value(json_object_get(col, "column_name"));
			const char *method = json_string_value(json_object_get(col, "stattest_name"));
			double score = json_number_value(json_object_get(col, "drift_score"));
			cli_demo_say(d, "drift", "  drifted: %-12s %-12s score %.4g", name ? name : "?",
				     method ? method : "?", score);
			json_array_append_new(
				out, json_pack("{s:s?, s:s?, s:f}", "column", name, "method", method, "score", score));
		}
	}
	json_decref(got);
	free(p);
	return out;
}

enum core_status cli_demo_step_drift(struct demo *d, struct core_error *err)
{
	int window = d->o.quick ? 100 : 200;
	char mon[64];
	json_t *s = cli_demo_step(d, "drift"), *report = NULL;
	enum core_status rc;
	/* the new data first: whichever window asks for the retrain, latest has them */
	if ((rc = cli_demo_push_drifted(d, err)) != CORE_OK || (rc = cli_demo_policy(d, err)) != CORE_OK ||
	    (rc = monitor(d, window, mon, sizeof mon, err)) != CORE_OK)
		return rc;
	json_object_set_new(s, "monitor", json_string(mon));
	json_object_set_new(s, "window", json_integer(window));
	/* the drift monitor applies a patch at its next batch, and reports carry ms times */
	long long since = (long long)(time(NULL) - 1) * 1000;
	CURL *h = cli_http_handle();
	size_t sent = 0;
	char id[64];
	double until = cli_now() + d->o.wait_s;
	while (rc == CORE_OK && !report) {
		for (int i = 0; i < window && rc == CORE_OK; i += 20) {
			snprintf(id, sizeof id, "demo-drift-%s-%zu", d->suffix, sent);
			rc = cli_demo_oip(d, h, sent % d->fm.n_test, 20, true, id, NULL, NULL, err);
			sent += 20;
		}
		for (int k = 0; k < 20 && rc == CORE_OK && !report; k++) {
			rc = drifted_report(d, mon, since, &report, err);
			if (!report)
				usleep(250000);
		}
		if (rc == CORE_OK && !report && cli_now() > until)
			rc = core_fail(err, CORE_EIO, "no drifted report after %zu inverted images and %d s", sent,
				       d->o.wait_s);
	}
	curl_easy_cleanup(h);
	if (rc != CORE_OK)
		return rc;
	const char *rid = json_string_value(json_object_get(report, "id"));
	snprintf(d->report_id, sizeof d->report_id, "%s", rid ? rid : "");
	double share = json_number_value(json_object_get(report, "share_of_drifted_columns"));
	char *url = core_xasprintf("%s/v1/reports/%s.html", d->drift.base, d->report_id);
	cli_demo_say(d, "drift",
		     "%zu inverted images sent; report %s: dataset drift YES (share of drifted columns %.2f)", sent,
		     d->report_id, share);
	json_t *cols = drifted_columns(d, d->report_id, err);
	cli_demo_say(d, "drift", "report: %s", url);
	cli_demo_say(d, "drift", "policy retrain: the report raised an alert (drift.alerts) and a retraining request");
	json_object_set_new(s, "report_id", json_string(d->report_id));
	json_object_set_new(s, "report_url", json_string(url));
	json_object_set_new(s, "dataset_drift", json_true());
	json_object_set_new(s, "share", json_real(share));
	json_object_set_new(s, "sent", json_integer((json_int_t)sent));
	json_object_set_new(s, "drifted", cols ? cols : json_array());
	free(url);
	json_decref(report);
	return CORE_OK;
}

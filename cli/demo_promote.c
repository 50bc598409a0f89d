/* Step 5 of `lathe demo` (face: demo.h): the retraining job the drift monitor asked the
 * trainer for (the serving version's spec on the PNG dataset's latest version, registered
 * as `challenger`) followed to its end while one thread keeps sending predictions; then
 * the challenger's evaluation against the champion (the trainer's GET /v1/evaluations,
 * the version's lathe.eval.* tags, the registry's champion alias) and, when it is
 * promoted, the first answer from the new version. Failed requests over the whole
 * window must be none. A trainer without /v1/evaluations is said so (the summary's
 * evaluation has available false). The model's promotion policy (cli_demo_policy) is
 * set during step 4, before the challenger exists. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/alloc.h"
#include "demo.h"

/* The newest job of the model registering a challenger, into id. */
static enum core_status find_retrain(struct demo *d, char *id, size_t cap, json_t **spec, struct core_error *err)
{
	double until = cli_now() + d->o.wait_s;
	for (;;) {
		json_t *got = NULL, *j;
		size_t i;
		enum core_status rc = cli_demo_call(&d->trainer, "GET", "/v1/jobs?max_results=50", NULL, &got, err);
		if (rc != CORE_OK)
			return rc;
		json_array_foreach(json_object_get(got, "jobs"), i, j)
		{
			const char *m = json_string_value(json_object_get(j, "model_name"));
			json_t *reg = json_object_get(json_object_get(j, "spec"), "register");
			const char *alias = json_string_value(json_object_get(reg, "alias"));
			if (m && alias && strcmp(m, d->model) == 0 && strcmp(alias, "challenger") == 0) {
				snprintf(id, cap, "%s", json_string_value(json_object_get(j, "id")));
				*spec = json_incref(json_object_get(j, "spec"));
				break;
			}
		}
		json_decref(got);
		if (*id)
			return CORE_OK;
		if (cli_now() > until)
			return core_fail(err, CORE_EIO, "no retraining job of %s after %d s", d->model, d->o.wait_s);
		usleep(250000);
	}
}

/* The value of tag key of model version v (malloc'd), or NULL. */
static char *version_tag(struct demo *d, const char *v, const char *key)
{
	char *p = cli_demo_path("/api/2.0/mlflow/model-versions/get?name=", d->model, "&version=");
	char *q = core_xasprintf("%s%s", p, v);
	json_t *got = NULL, *t;
	struct core_error e;
	char *out = NULL;
	size_t i;
	if (cli_demo_call(&d->registry, "GET", q, NULL, &got, &e) == CORE_OK)
		json_array_foreach(json_object_get(json_object_get(got, "model_version"), "tags"), i,
				   t) if (!out && json_is_string(json_object_get(t, "key")) &&
					  strcmp(json_string_value(json_object_get(t, "key")), key) == 0 &&
					  json_is_string(json_object_get(t, "value"))) out =
			core_xstrdup(json_string_value(json_object_get(t, "value")));
	json_decref(got);
	free(q);
	free(p);
	return out;
}

/* The version the champion alias names ("" when none) into out. */
static void champion_now(struct demo *d, char *out, size_t cap)
{
	char *p = cli_demo_path("/api/2.0/mlflow/registered-models/alias?name=", d->model, "&alias=champion");
	json_t *got = NULL;
	struct core_error e;
	out[0] = '\0';
	if (cli_demo_call(&d->registry, "GET", p, NULL, &got, &e) == CORE_OK) {
		const char *v = json_string_value(json_object_get(json_object_get(got, "model_version"), "version"));
		snprintf(out, cap, "%s", v ? v : "");
	}
	json_decref(got);
	free(p);
}

/* Polls for the challenger's evaluation: the trainer's list, else the version's tags.
 * Fills decision and reason ("" when none came); *available: the trainer has
 * /v1/evaluations. */
static void wait_decision(struct demo *d, char *decision, size_t dcap, char *reason, size_t rcap, bool *available)
{
	char *p = cli_demo_path("/v1/evaluations?model=", d->model, "");
	double until = cli_now() + d->o.wait_s;
	decision[0] = reason[0] = '\0';
	*available = true;
	while (!decision[0]) {
		json_t *got = NULL, *ev;
		struct core_error e;
		size_t i;
		enum core_status rc = cli_demo_call(&d->trainer, "GET", p, NULL, &got, &e);
		if (rc == CORE_ENOENT)
			*available = false;
		json_array_foreach(json_object_get(got, "evaluations"), i, ev)
		{
			const char *cv = json_string_value(json_object_get(ev, "challenger_version"));
			const char *dec = json_string_value(json_object_get(ev, "decision"));
			const char *why = json_string_value(json_object_get(ev, "reason"));
			const char *st = json_string_value(json_object_get(ev, "status"));
			if (cv && !dec && st && strcmp(st, "FAILED") == 0 && strcmp(cv, d->challenger) == 0)
				dec = "failed";
			if (cv && dec && strcmp(cv, d->challenger) == 0) {
				snprintf(decision, dcap, "%s", dec);
				snprintf(reason, rcap, "%s", why ? why : "");
			}
		}
		json_decref(got);
		if (!decision[0]) {
			char *tag = version_tag(d, d->challenger, "lathe.eval.decision");
			if (tag) {
				char *why = version_tag(d, d->challenger, "lathe.eval.reason");
				snprintf(decision, dcap, "%s", tag);
				snprintf(reason, rcap, "%s", why ? why : "");
				free(why);
				free(tag);
			}
		}
		/* without the endpoint, the tags get a short while only */
		if (decision[0] || cli_now() > until || (!*available && cli_now() > until - d->o.wait_s + 15))
			break;
		usleep(500000);
	}
	free(p);
}

/* Waits for the champion alias to name the challenger and the sender to see it. */
static bool wait_swap(struct demo *d, struct cli_demo_sender *snd, double *at)
{
	double until = cli_now() + d->o.wait_s;
	char cur[32];
	while (cli_now() < until) {
		champion_now(d, cur, sizeof cur);
		if (strcmp(cur, d->challenger) == 0 &&
		    cli_demo_sender_seen(snd, d->challenger, d->after_swap_request, sizeof d->after_swap_request, at)) {
			snprintf(d->after_swap_version, sizeof d->after_swap_version, "%s", d->challenger);
			return true;
		}
		usleep(200000);
	}
	return false;
}

enum core_status cli_demo_policy(struct demo *d, struct core_error *err)
{
	/* The retrained model learns the inverted images at some cost to one class or
	 * another: the default policy (no class's recall worse by more than 0.02) rejects it
	 * in about half the runs, and the swap would go unshown. The demo's policy asks for
	 * 0.01 of accuracy and allows a class 0.10 of recall (--quick's weak MLP: any). */
	double drop = d->o.quick ? 1.0 : 0.10, gain = d->o.quick ? 0.0 : 0.01;
	char *p = cli_demo_path("/v1/policies/", d->model, "");
	json_t *body =
		json_pack("{s:s, s:f, s:f}", "metric", "accuracy", "min_improvement", gain, "max_recall_drop", drop);
	long status = 0;
	enum core_status rc = cli_http_json(NULL, &d->trainer, "PUT", p, body, &status, NULL, err);
	if (rc == CORE_OK)
		cli_demo_say(d, "drift",
			     "promotion policy of %s: accuracy up by %.2f or more, no class's recall down by more than "
			     "%.2f, auto",
			     d->model, gain, drop);
	else if (status == 404)
		rc = CORE_OK; /* a trainer without promotion policies */
	json_object_set_new(cli_demo_step(d, "retrain"), "policy", json_boolean(rc == CORE_OK && status == 200));
	json_decref(body);
	free(p);
	return rc;
}

enum core_status cli_demo_step_retrain(struct demo *d, struct core_error *err)
{
	json_t *s = cli_demo_step(d, "retrain"), *spec = NULL, *job = NULL;
	enum core_status rc = find_retrain(d, d->retrain_job, sizeof d->retrain_job, &spec, err);
	if (rc != CORE_OK)
		return rc;
	const char *ds = json_string_value(json_object_get(spec, "dataset"));
	cli_demo_say(d, "retrain",
		     "the drift monitor asked the trainer: job %s on %s (now version %lld), as challenger",
		     d->retrain_job, ds ? ds : "?", d->png_versions);
	json_object_set_new(s, "job", json_string(d->retrain_job));
	json_object_set_new(s, "dataset", json_string(ds ? ds : ""));
	json_decref(spec);
	struct cli_demo_sender *snd = cli_demo_sender_start(d);
	double started = cli_demo_elapsed(d);
	cli_demo_say(d, "retrain", "live traffic: one thread sends OIP requests of 4 images, about 100 a second");
	if ((rc = cli_demo_follow_job(d, "retrain", d->retrain_job, &job, err)) == CORE_OK) {
		const char *v = json_string_value(json_object_get(job, "model_version"));
		snprintf(d->challenger, sizeof d->challenger, "%s", v ? v : "");
		if (!v)
			rc = core_fail(err, CORE_EINVAL, "retraining job %s registered no version", d->retrain_job);
	}
	char decision[32] = "", reason[512] = "";
	bool available = false, swapped = false;
	double at = 0;
	if (rc == CORE_OK) {
		double acc = json_number_value(json_object_get(json_object_get(job, "metrics"), "test_accuracy"));
		cli_demo_say(d, "retrain", "SUCCEEDED: %s version %s registered as challenger (test accuracy %.3f)",
			     d->model, d->challenger, acc);
		json_object_set_new(s, "status", json_string("SUCCEEDED"));
		json_object_set_new(s, "version", json_string(d->challenger));
		wait_decision(d, decision, sizeof decision, reason, sizeof reason, &available);
		if (decision[0])
			cli_demo_say(d, "retrain", "evaluation: %s (%s)", decision,
				     reason[0] ? reason : "no reason given");
		else if (!available)
			cli_demo_say(d, "retrain",
				     "evaluation: this trainer has no /v1/evaluations (not built yet): no "
				     "decision, the champion stays");
		else
			cli_demo_say(d, "retrain", "evaluation: no decision on version %s after %d s", d->challenger,
				     d->o.wait_s);
		if (strcmp(decision, "promoted") == 0) {
			swapped = wait_swap(d, snd, &at);
			if (swapped)
				cli_demo_say(d, "retrain",
					     "champion -> version %s; the inference API answered from it at %.1fs",
					     d->challenger, at);
			else
				rc = core_fail(err, CORE_EIO, "version %s was promoted but not served after %d s",
					       d->challenger, d->o.wait_s);
		}
	}
	usleep(1000000); /* a moment more of traffic after the swap */
	long sent = 0, failed = 0;
	char last[32];
	cli_demo_sender_stop(snd, &sent, &failed, last, sizeof last);
	cli_demo_say(d, "retrain", "%ld requests over %.1f s, %ld failed; the last answered by version %s", sent,
		     cli_demo_elapsed(d) - started, failed, last[0] ? last : "-");
	json_object_set_new(
		s, "evaluation",
		json_pack("{s:b, s:s, s:s}", "available", available, "decision", decision, "reason", reason));
	json_object_set_new(s, "swap",
			    json_pack("{s:b, s:f, s:I, s:I, s:s}", "swapped", swapped, "at", at, "requests",
				      (json_int_t)sent, "failed", (json_int_t)failed, "last_version", last));
	if (rc == CORE_OK && failed)
		rc = core_fail(err, CORE_EIO, "%ld of %ld requests failed while the model was retrained and swapped",
			       failed, sent);
	json_decref(job);
	return rc;
}

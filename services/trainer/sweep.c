/* Sweeps: a job whose spec has `sweep` trains one model per point of the space, as
 * scikit-learn's GridSearchCV / RandomizedSearchCV and Hyperopt do, and keeps the best.
 *
 *   space    {"optimizer.lr": [0.001, 0.01], "model.hidden": [[64], [128]]}: a dotted
 *            path of the spec -> the list of values to try there
 *   grid     every combination, the first key varying slowest (the space's order), at
 *            most `trials` of them when trials is given
 *   random   `trials` points, each key's value drawn uniformly from its list by a
 *            generator seeded with the job's seed (same seed, same points)
 *
 * In the tracker: one parent run (tag lathe.job_id = the job) and each trial a nested
 * child run (mlflow.parentRunId = the parent; lathe.job_id = <job>-trial-<i>, so a
 * takeover continues the same runs). The parent gets the best trial's metrics
 * (best_<metric> and the best trial's final metrics) and the tags lathe.best_run_id
 * and lathe.best_trial; only the best trial's model is registered.
 *
 * Trials run one after another (parallelism is accepted but not used yet: one
 * runner trains one model at a time). Finished trials are kept in the job's metrics
 * ("trials": [{trial, run_id, score}]), so a takeover goes on with the next one; the
 * trial in progress starts again (trials keep no checkpoints). The points come from
 * sweep_points.c (pure, unit-tested). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tr.h"

/* A trial's spec: the job's with the point applied (the sweep removed). */
static json_t *trial_spec(json_t *spec, json_t *point, struct core_error *err)
{
	json_t *s = json_deep_copy(spec);
	json_object_del(s, "sweep");
	const char *k;
	json_t *v;
	json_object_foreach(point, k, v)
	{
		if (tr_spec_set_path(s, k, v, err) != CORE_OK) {
			json_decref(s);
			return NULL;
		}
	}
	return s;
}

static bool parent_on_run(struct tr_jctx *j, struct tr_trial *tr)
{
	(void)tr;
	return !j->lost;
}

void tr_run_sweep(struct tr_jctx *j, json_t *spec_json, const struct tr_spec *spec, const struct tr_data *data)
{
	struct core_error err = {{0}};
	json_t *points = NULL, *done = json_array(), *best_metrics = NULL, *params = NULL;
	char parent[64] = "", best_run[64] = "", version[32] = "";
	double best = NAN;
	int best_trial = -1;
	enum tr_outcome out = TR_FAILED;
	const char *metric = spec->sweep_metric ? spec->sweep_metric : "val_loss";
	bool maximize = spec->sweep_goal ? strcmp(spec->sweep_goal, "max") == 0 : false;
	if (tr_sweep_points(spec->sweep, spec->seed, &points, &err) != CORE_OK)
		goto end;

	/* the parent run */
	params = tr_job_params(spec_json, spec);
	json_object_set_new(params, "sweep.method", json_string(spec->sweep_method ? spec->sweep_method : "grid"));
	json_object_set_new(params, "sweep.metric", json_string(metric));
	json_object_set_new(params, "sweep.goal", json_string(maximize ? "max" : "min"));
	char *space = json_dumps(json_object_get(spec->sweep, "space"), JSON_COMPACT);
	json_object_set_new(params, "sweep.space", json_string(space ? space : "{}"));
	free(space);
	struct tr_call_start st = {.run_key = j->job->id,
				   .experiment = spec->experiment ? spec->experiment : "Default",
				   .run_name = spec->run_name ? spec->run_name : "sweep",
				   .params = params,
				   .dataset = data->dataset,
				   .version_id = data->version_id};
	enum core_status rc = tr_job_start_run(j, &st, parent, &err);
	if (rc != CORE_OK) {
		out = rc == CORE_EIO ? TR_LOST : TR_FAILED;
		goto end;
	}
	if (!tr_job_record_run(j, parent, parent)) {
		out = TR_LOST;
		goto end;
	}

	/* trials finished by an earlier holder of the job */
	json_t *prev = json_object_get(j->job->metrics, "trials");
	size_t i;
	json_t *t;
	json_array_foreach(prev, i, t)
	{
		json_array_append(done, t);
		double sc = json_number_value(json_object_get(t, "score"));
		if (json_is_number(json_object_get(t, "score")) && tr_sweep_better(sc, best, maximize)) {
			best = sc;
			best_trial = (int)json_integer_value(json_object_get(t, "trial"));
			snprintf(best_run, sizeof best_run, "%s", json_string_value(json_object_get(t, "run_id")));
			json_decref(best_metrics);
			best_metrics = json_incref(json_object_get(t, "metrics"));
		}
	}
	size_t n = json_array_size(points);
	tr_job_log(j, "info", "sweep: %zu trials (%s), %s %s; %zu already done", n,
		   spec->sweep_method ? spec->sweep_method : "grid", maximize ? "maximising" : "minimising", metric,
		   json_array_size(done));
	for (size_t p = json_array_size(done); p < n; p++) {
		json_t *ts = trial_spec(spec_json, json_array_get(points, p), &err);
		struct tr_spec tsp;
		if (!ts || tr_spec_parse(ts, &tsp, &err) != CORE_OK) {
			json_decref(ts);
			goto end;
		}
		char key[TR_JOB_ID_LEN + 32], name[64], prefix[32];
		snprintf(key, sizeof key, "%s-trial-%zu", j->job->id, p);
		snprintf(name, sizeof name, "%s-trial-%zu", spec->run_name ? spec->run_name : "sweep", p);
		snprintf(prefix, sizeof prefix, "trial %zu: ", p);
		char *pt = json_dumps(json_array_get(points, p), JSON_COMPACT);
		tr_job_log(j, "info", "trial %zu/%zu: %s", p + 1, n, pt ? pt : "");
		free(pt);
		json_t *extra = json_pack("{s:O}", "trials", done);
		struct tr_trial tr = {.spec = &tsp,
				      .spec_json = ts,
				      .data = data,
				      .run_key = key,
				      .run_name = name,
				      .parent_run_id = parent,
				      .checkpoints = false,
				      .trial = (int)p,
				      .log_prefix = prefix,
				      .score_metric = metric,
				      .extra = extra,
				      .on_run = parent_on_run};
		struct core_error terr = {{0}};
		enum tr_outcome to = tr_train_one(j, &tr, &terr);
		json_decref(extra);
		json_decref(ts);
		if (to == TR_LOST || to == TR_CANCELLED) {
			json_decref(tr.final_metrics);
			out = to;
			goto end;
		}
		json_t *rec = json_pack("{s:i, s:s}", "trial", (int)p, "run_id", tr.run_id);
		if (to == TR_DONE && isfinite(tr.score)) {
			json_object_set_new(rec, "score", json_real(tr.score));
			json_object_set(rec, "metrics", tr.final_metrics);
			tr_job_log(j, "info", "trial %zu: %s = %.4f", p, metric, tr.score);
			if (tr_sweep_better(tr.score, best, maximize)) {
				best = tr.score;
				best_trial = (int)p;
				snprintf(best_run, sizeof best_run, "%s", tr.run_id);
				json_decref(best_metrics);
				best_metrics = json_incref(tr.final_metrics);
			}
		} else {
			json_object_set_new(rec, "failure", json_string(terr.message));
			tr_job_log(j, "warn", "trial %zu failed: %s", p, terr.message);
		}
		json_decref(tr.final_metrics);
		json_array_append_new(done, rec);
	}
	if (best_trial < 0) {
		core_fail(&err, CORE_EINVAL, "sweep: no trial finished with a finite %s", metric);
		tr_job_end_run(j, parent, "FAILED");
		goto end;
	}

	/* the best on the parent, then the registration of the best alone */
	json_t *pm = json_object();
	char bk[96];
	snprintf(bk, sizeof bk, "best_%s", metric);
	json_object_set_new(pm, bk, json_real(best));
	const char *mk;
	json_t *mv;
	json_object_foreach(best_metrics, mk, mv)
	{
		if (json_is_number(mv))
			json_object_set(pm, mk, mv);
	}
	char trial_s[16];
	snprintf(trial_s, sizeof trial_s, "%d", best_trial);
	rc = tr_job_log_metrics(j, parent, 0, pm, &err);
	if (rc == CORE_OK)
		rc = tr_job_set_tag(j, parent, "lathe.best_run_id", best_run, &err);
	if (rc == CORE_OK)
		rc = tr_job_set_tag(j, parent, "lathe.best_trial", trial_s, &err);
	if (rc == CORE_OK)
		rc = tr_job_end_run(j, parent, "FINISHED");
	if (rc == CORE_OK)
		rc = tr_job_register(j, spec, best_run, version, &err);
	if (rc == CORE_OK && !tr_job_record_run(j, best_run, parent))
		rc = CORE_EIO;
	if (rc != CORE_OK) {
		json_decref(pm);
		out = rc == CORE_EIO ? TR_LOST : TR_FAILED;
		goto end;
	}
	tr_job_log(j, "info", "sweep: best trial %d (%s = %.4f), run %s", best_trial, metric, best, best_run);
	json_object_set(pm, "trials", done);
	json_object_set_new(pm, "best_trial", json_integer(best_trial));
	tr_job_end(j, TR_DONE, &err, pm, best_run, version);
	json_decref(pm);
	out = TR_DONE;
end:
	if (out != TR_DONE)
		tr_job_end(j, out, &err, NULL, parent, NULL);
	json_decref(points);
	json_decref(done);
	json_decref(best_metrics);
	json_decref(params);
}

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
 * takeover continues the same runs; lathe.sweep_job_id = <job> and lathe.sweep_trial =
 * <i>, what readers take the job and trial from: mlflow/run_tags.h). The parent gets
 * the best trial's metrics (best_<metric> and the best trial's final metrics) and the
 * tags lathe.best_run_id and lathe.best_trial; only the best trial's model is
 * registered. The best is the best finite score, the lowest trial index among equal
 * ones (tr_sweep_best), so the choice does not depend on the order parallel trials
 * ended in.
 *
 * Parallelism (`parallelism`, like Hyperopt's parallelism or GridSearchCV's n_jobs):
 * the worker holding the job runs up to that many trials at once, each on a thread of
 * its own with its own net and trainer (libs/ml's nets and trainers are independent per
 * thread; each training keeps TRAIN_THREADS BLAS threads, so a worker uses up to
 * parallelism x TRAIN_THREADS cores). Each thread takes the lowest trial not yet taken
 * until none is left. What the trials share, and how:
 *   - the job context (struct tr_jctx): lost / cancel / last_beat are atomics; the
 *     thread that moves last_beat on heartbeats for all, and a lost lease, a cancel or
 *     shutdown seen by any stops every trial at its next batch (a trial stopped so is
 *     not recorded: it runs again on a takeover); no new trial starts after that;
 *   - the job's log: one transaction per line on the pool (lines keep their order);
 *   - struct tr_sweep below, under its mutex: the finished trials and the steps. Every
 *     write of the job's progress (each trial's epochs, and each trial's end) builds
 *     metrics.trials and writes the row while holding the mutex, so the row's list is
 *     never older than one written before it: a takeover never loses a finished trial.
 * The job row's progress for a sweep: epoch = trials finished, step = mini-batches of
 * every trial so far (finished ones from their record, running ones as of their last
 * epoch), metrics = the latest epoch's or trial's metrics with `trial` (its index) and
 * `trials` ([{trial, run_id, score | failure, metrics, steps}] in the order they ended).
 * Shutdown (SIGTERM) waits for every trial to stop, then hands the job back once
 * (tr_job_end's TR_LOST case); a cancel ends the trials' runs and the parent KILLED.
 *
 * A takeover goes on with the trials not in the list (finished ones are never run
 * again, whatever order they ended in); a trial that was in progress starts again
 * (trials keep no checkpoints). The points come from sweep_points.c (pure,
 * unit-tested). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/log.h"
#include "core/time.h"
#include "mlflow/run_tags.h"
#include "tr.h"

/* What a sweep's trial threads share. */
struct tr_sweep {
	struct tr_jctx *j;
	json_t *spec_json;
	const struct tr_spec *spec;
	const struct tr_data *data;
	json_t *points; /* read only once made */
	size_t n;
	const char *metric, *parent, *run_name;
	pthread_mutex_t mu; /* guards what follows; held across each progress write */
	json_t *done;       /* the finished trials, in the order they ended */
	bool *taken;        /* per point: started here, or finished before the takeover */
	int64_t *steps;     /* per point: mini-batches done */
	size_t next;        /* below it every point is taken */
	bool lost, cancelled, failed;
	struct core_error err; /* why, when failed */
};

/* A trial's spec: the job's with the point applied (the sweep removed). */
static json_t *trial_spec(json_t *spec, json_t *point, struct core_error *err)
{
	json_t *s = json_deep_copy(spec);
	json_object_del(s, "sweep");
	const char *k;
	json_t *v;
	json_object_foreach(point, k, v)
	{
		if (http_json_set_path(s, k, v, err) != CORE_OK) {
			json_decref(s);
			return NULL;
		}
	}
	return s;
}

/* Once a trial's run exists: tags it with its sweep's job and its index, so readers
 * take them as they are instead of parsing lathe.job_id (mlflow/run_tags.h). Set on a
 * found run too (upserts), so a trial run made before these tags existed gets them
 * when a takeover continues it. A refusal is logged and the trial goes on: the
 * readers still find the job in lathe.job_id. false: stop (lease lost, shutdown). */
static bool trial_on_run(struct tr_jctx *j, struct tr_trial *tr)
{
	struct core_error err = {{0}};
	char trial[24];
	snprintf(trial, sizeof trial, "%d", tr->trial);
	enum core_status rc = tr_job_set_tag(j, tr->run_id, MLFLOW_TAG_SWEEP_JOB_ID, j->job->id, &err);
	if (rc == CORE_OK)
		rc = tr_job_set_tag(j, tr->run_id, MLFLOW_TAG_SWEEP_TRIAL, trial, &err);
	if (rc == CORE_EIO)
		return false;
	if (rc != CORE_OK)
		tr_job_log(j, "warn", "%strial tags not set: %s", tr->log_prefix, err.message);
	return !j->lost;
}

/* Under sw->mu: the row's epoch (trials finished), step (every trial's mini-batches)
 * and metrics.trials, as of now. */
static void fill_progress(struct tr_sweep *sw, json_t *metrics, int *epoch, int64_t *step)
{
	int64_t sum = 0;
	for (size_t i = 0; i < sw->n; i++)
		sum += sw->steps[i];
	*epoch = (int)json_array_size(sw->done);
	*step = sum;
	json_object_set_new(metrics, "trials", json_deep_copy(sw->done));
}

void tr_sweep_progress_begin(struct tr_sweep *sw, int trial, int64_t trial_step, json_t *metrics, int *epoch,
			     int64_t *step)
{
	pthread_mutex_lock(&sw->mu);
	if (trial >= 0 && (size_t)trial < sw->n)
		sw->steps[trial] = trial_step;
	fill_progress(sw, metrics, epoch, step);
}

void tr_sweep_progress_end(struct tr_sweep *sw)
{
	pthread_mutex_unlock(&sw->mu);
}

struct done_ctx {
	const struct tr_jctx *j;
	int epoch;
	int64_t step;
	json_t *metrics;
	struct core_error err;
};

static int done_tx(struct db_conn *c, void *cls)
{
	struct done_ctx *x = cls;
	return tr_q_job_progress(c, x->j->job->id, x->j->worker, x->epoch, x->step, NAN, x->metrics, NULL,
				 core_now_ms(), x->j->app->settings->lease_ms, &x->err);
}

/* Records a trial that ended (done or failed) in the list and, under the same lock, in
 * the job row, so a takeover does not run it again. */
static void record_trial(struct tr_sweep *sw, json_t *rec, json_t *metrics)
{
	struct tr_jctx *j = sw->j;
	json_t *m = json_is_object(metrics) ? json_deep_copy(metrics) : json_object();
	json_object_set(m, "trial", json_object_get(rec, "trial"));
	pthread_mutex_lock(&sw->mu);
	json_array_append(sw->done, rec);
	struct done_ctx x = {.j = j, .metrics = m};
	fill_progress(sw, m, &x.epoch, &x.step);
	int rc = db_run_tx(svc_db(j->svc), "tr_worker_trial_done", DB_READ_COMMITTED, done_tx, &x, &x.err);
	pthread_mutex_unlock(&sw->mu);
	if (rc == 0)
		j->lost = true;
	else if (rc < 0) /* the next progress write carries it */
		core_warn("job %s: trial %lld not recorded yet: %s", j->job->id,
			  (long long)json_integer_value(json_object_get(rec, "trial")), x.err.message);
	json_decref(m);
}

/* Trains point p as a child run and records its end; a trial stopped by a lost
 * lease, shutdown or cancel is not recorded (it runs again on a takeover). */
static void run_trial(struct tr_sweep *sw, size_t p, json_t *ts)
{
	struct tr_jctx *j = sw->j;
	struct core_error err = {{0}};
	struct tr_spec tsp;
	if (tr_spec_parse(ts, &tsp, &err) != CORE_OK) {
		pthread_mutex_lock(&sw->mu);
		if (!sw->failed)
			sw->err = err;
		sw->failed = true;
		pthread_mutex_unlock(&sw->mu);
		return;
	}
	char key[TR_JOB_ID_LEN + 32], name[160], prefix[32];
	snprintf(key, sizeof key, "%s" MLFLOW_TRIAL_INFIX "%zu", j->job->id, p);
	snprintf(name, sizeof name, "%.128s-trial-%zu", sw->run_name, p);
	snprintf(prefix, sizeof prefix, "trial %zu: ", p);
	char *pt = json_dumps(json_array_get(sw->points, p), JSON_COMPACT);
	tr_job_log(j, "info", "trial %zu started (%zu of %zu): %s", p, p + 1, sw->n, pt ? pt : "");
	free(pt);
	struct tr_trial tr = {.spec = &tsp,
			      .spec_json = ts,
			      .data = sw->data,
			      .run_key = key,
			      .run_name = name,
			      .parent_run_id = sw->parent,
			      .checkpoints = false,
			      .trial = (int)p,
			      .log_prefix = prefix,
			      .score_metric = sw->metric,
			      .sweep = sw,
			      .on_run = trial_on_run};
	enum tr_outcome to = tr_train_one(j, &tr, &err);
	if (to == TR_LOST || to == TR_CANCELLED) {
		tr_job_log(j, "info", "trial %zu stopped (%s)", p,
			   to == TR_LOST ? "lease lost or shutdown" : "cancelled");
		pthread_mutex_lock(&sw->mu);
		if (to == TR_LOST)
			sw->lost = true;
		else
			sw->cancelled = true;
		pthread_mutex_unlock(&sw->mu);
		json_decref(tr.final_metrics);
		return;
	}
	pthread_mutex_lock(&sw->mu);
	int64_t steps = sw->steps[p];
	pthread_mutex_unlock(&sw->mu);
	json_t *rec = json_pack("{s:i, s:s, s:I}", "trial", (int)p, "run_id", tr.run_id, "steps", (json_int_t)steps);
	if (to == TR_DONE && isfinite(tr.score)) {
		json_object_set_new(rec, "score", json_real(tr.score));
		json_object_set(rec, "metrics", tr.final_metrics);
		tr_job_log(j, "info", "trial %zu ended: %s = %.4f", p, sw->metric, tr.score);
	} else {
		const char *why = to == TR_DONE ? "no finite score" : err.message;
		json_object_set_new(rec, "failure", json_string(why));
		tr_job_log(j, "warn", "trial %zu failed: %s", p, why);
	}
	record_trial(sw, rec, tr.final_metrics);
	json_decref(rec);
	json_decref(tr.final_metrics);
}

/* A trial thread: takes the lowest point nobody took, until none is left or the
 * sweep must stop. */
static void *trial_thread(void *arg)
{
	struct tr_sweep *sw = arg;
	for (;;) {
		struct core_error err = {{0}};
		json_t *ts = NULL;
		size_t p = 0;
		bool stop = tr_job_should_stop(sw->j);
		pthread_mutex_lock(&sw->mu);
		while (sw->next < sw->n && sw->taken[sw->next])
			sw->next++;
		stop = stop || sw->lost || sw->cancelled || sw->failed || sw->next >= sw->n;
		if (!stop) {
			p = sw->next;
			sw->taken[p] = true;
			if (!(ts = trial_spec(sw->spec_json, json_array_get(sw->points, p), &err))) {
				sw->err = err;
				sw->failed = true;
				stop = true;
			}
		}
		pthread_mutex_unlock(&sw->mu);
		if (stop)
			return NULL;
		run_trial(sw, p, ts);
		json_decref(ts);
	}
}

static int by_trial(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "trial"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "trial"));
	return (x > y) - (x < y);
}

/* The finished trials in trial order (owned). */
static json_t *sorted_trials(json_t *done)
{
	size_t n = json_array_size(done);
	json_t **v = core_xcalloc(n + 1, sizeof *v);
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(done, i);
	qsort(v, n, sizeof *v, by_trial);
	json_t *out = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	return out;
}

/* Takes the trials an earlier holder of the job finished (metrics.trials). */
static void take_previous(struct tr_sweep *sw)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(sw->j->job->metrics, "trials"), i, t)
	{
		json_int_t p = json_integer_value(json_object_get(t, "trial"));
		if (!json_is_integer(json_object_get(t, "trial")) || p < 0 || (size_t)p >= sw->n || sw->taken[p])
			continue;
		sw->taken[p] = true;
		sw->steps[p] = json_integer_value(json_object_get(t, "steps"));
		json_array_append(sw->done, t);
	}
}

/* Runs the trials left, on up to parallelism threads (the caller's own when one). */
static void run_trials(struct tr_sweep *sw, int parallelism)
{
	size_t left = 0;
	for (size_t i = 0; i < sw->n; i++)
		left += !sw->taken[i];
	size_t nt = (size_t)(parallelism > 1 ? parallelism : 1);
	nt = nt < left ? nt : left;
	if (nt <= 1) {
		trial_thread(sw);
		return;
	}
	pthread_t *th = core_xcalloc(nt, sizeof *th);
	size_t started = 0;
	for (size_t i = 0; i < nt; i++) {
		if (pthread_create(&th[started], NULL, trial_thread, sw) != 0) {
			core_warn("job %s: %zu of %zu trial threads started", sw->j->job->id, started, nt);
			break;
		}
		started++;
	}
	if (started == 0)
		trial_thread(sw);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
}

void tr_run_sweep(struct tr_jctx *j, json_t *spec_json, const struct tr_spec *spec, const struct tr_data *data)
{
	struct core_error err = {{0}};
	json_t *points = NULL, *params = NULL, *trials = NULL;
	char parent[64] = "", version[32] = "";
	enum tr_outcome out = TR_FAILED;
	const char *metric = spec->sweep_metric ? spec->sweep_metric : "val_loss";
	bool maximize = spec->sweep_goal ? strcmp(spec->sweep_goal, "max") == 0 : false;
	struct tr_sweep sw = {.j = j,
			      .spec_json = spec_json,
			      .spec = spec,
			      .data = data,
			      .metric = metric,
			      .parent = parent,
			      .run_name = spec->run_name ? spec->run_name : "sweep",
			      .done = json_array()};
	pthread_mutex_init(&sw.mu, NULL);
	if (tr_sweep_points(spec->sweep, spec->seed, &points, &err) != CORE_OK)
		goto end;
	sw.points = points;
	sw.n = json_array_size(points);
	sw.taken = core_xcalloc(sw.n + 1, sizeof *sw.taken);
	sw.steps = core_xcalloc(sw.n + 1, sizeof *sw.steps);

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
				   .run_name = sw.run_name,
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

	/* the trials: those an earlier holder finished are kept, the rest run here */
	take_previous(&sw);
	int par = spec->sweep_parallelism > 0 ? spec->sweep_parallelism : 1;
	tr_job_log(j, "info", "sweep: %zu trials (%s), %s %s, %d at once; %zu already done", sw.n,
		   spec->sweep_method ? spec->sweep_method : "grid", maximize ? "maximising" : "minimising", metric,
		   par, json_array_size(sw.done));
	run_trials(&sw, par);
	if (sw.lost || j->lost || svc_stopping(j->svc)) {
		out = TR_LOST;
		goto end;
	}
	if (sw.cancelled || j->cancel) {
		out = TR_CANCELLED;
		tr_job_end_run(j, parent, "KILLED");
		goto end;
	}
	if (sw.failed) {
		err = sw.err;
		tr_job_end_run(j, parent, "FAILED");
		goto end;
	}
	trials = sorted_trials(sw.done);
	json_t *best = tr_sweep_best(trials, maximize);
	if (!best) {
		core_fail(&err, CORE_EINVAL, "sweep: no trial finished with a finite %s", metric);
		tr_job_end_run(j, parent, "FAILED");
		goto end;
	}
	double best_score = json_number_value(json_object_get(best, "score"));
	int best_trial = (int)json_integer_value(json_object_get(best, "trial"));
	const char *best_run = json_string_value(json_object_get(best, "run_id"));

	/* the best on the parent, then the registration of the best alone */
	json_t *pm = json_object();
	char bk[96];
	snprintf(bk, sizeof bk, "best_%s", metric);
	json_object_set_new(pm, bk, json_real(best_score));
	const char *mk;
	json_t *mv;
	json_object_foreach(json_object_get(best, "metrics"), mk, mv)
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
	tr_job_log(j, "info", "sweep: best trial %d (%s = %.4f), run %s", best_trial, metric, best_score, best_run);
	json_object_set(pm, "trials", trials);
	json_object_set_new(pm, "best_trial", json_integer(best_trial));
	tr_job_end(j, TR_DONE, &err, pm, best_run, version);
	json_decref(pm);
	out = TR_DONE;
end:
	if (out != TR_DONE)
		tr_job_end(j, out, &err, NULL, parent, NULL);
	pthread_mutex_destroy(&sw.mu);
	free(sw.taken);
	free(sw.steps);
	json_decref(sw.done);
	json_decref(trials);
	json_decref(points);
	json_decref(params);
}

/* Sweeps end to end (harness_train.h):
 *   - a 4-trial grid over the learning rate and the hidden layer, one trial at a time,
 *     gives one parent run with four children (mlflow.parentRunId = the parent), the
 *     parent names the best child (lathe.best_run_id, best_val_accuracy), a child with
 *     the highest val_accuracy, and only that child's model is registered (one
 *     version, its run); each child carries lathe.sweep_job_id (the job) and
 *     lathe.sweep_trial (its index) beside lathe.job_id = <job>-trial-<i>, and the
 *     version's lineage finds the sweep's job by them (even once lathe.job_id is
 *     re-tagged by hand);
 *   - the same with parallelism 2: the same end state, the job's log shows trials
 *     overlapping (trial 1 started before trial 0 ended), and the job row counts the
 *     trials finished (epoch 4) with every trial in metrics.trials, in trial order. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness_train.h"

#define OTHER_JOB "00000000000000000000000000000000" /* no job of the trainer */

static const char *tag(json_t *run, const char *key)
{
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(json_object_get(run, "data"), "tags"), i, p)
	{
		if (strcmp(json_string_value(json_object_get(p, "key")), key) == 0)
			return json_string_value(json_object_get(p, "value"));
	}
	return NULL;
}

static double metric(json_t *run, const char *key)
{
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(json_object_get(run, "data"), "metrics"), i, p)
	{
		if (strcmp(json_string_value(json_object_get(p, "key")), key) == 0)
			return json_number_value(json_object_get(p, "value"));
	}
	return NAN;
}

static const char *run_id(json_t *run)
{
	return json_string_value(json_object_get(json_object_get(run, "info"), "run_id"));
}

/* A 4-trial grid (parallelism: the extra sweep member, e.g. ", \"parallelism\": 2", or
 * "") into experiment exp, registered as model; returns the job id (malloc'd). */
static char *submit_sweep(struct th_train_stack *s, const char *exp, const char *model, const char *extra)
{
	char *spec = th_fmt(
		"{\"dataset\": \"fmnist@1\", \"split\": {\"fractions\": [0.8, 0.1, 0.1], \"seed\": 7},"
		" \"model\": {\"type\": \"mlp\", \"hidden\": [16]}, \"optimizer\": {\"type\": \"adam\", \"lr\": 0.001},"
		" \"epochs\": 2, \"batch_size\": 32, \"seed\": 1, \"experiment\": \"%s\","
		" \"register\": {\"model\": \"%s\"},"
		" \"sweep\": {\"method\": \"grid\", \"space\": {\"optimizer.lr\": [0.003, 0.00001],"
		" \"model.hidden\": [[8], [32]]}, \"trials\": 4, \"metric\": \"val_accuracy\", \"goal\": \"max\"%s}}",
		exp, model, extra);
	char *id = th_train_submit(s, spec);
	free(spec);
	return id;
}

/* The end state of a finished 4-trial sweep: one parent, 4 FINISHED children, the best
 * chosen on the parent and alone registered. Returns the job (owned). */
static json_t *check_sweep(struct th_train_stack *s, const char *id, const char *exp, const char *model)
{
	json_t *j = th_train_wait(s, id, 120000);
	char *jt = json_dumps(j, JSON_COMPACT);
	ck_assert_msg(strcmp(json_string_value(json_object_get(j, "status")), "SUCCEEDED") == 0, "%s", jt);

	json_t *runs = th_train_runs(s, exp);
	ck_assert_uint_eq(json_array_size(runs), 5);
	json_t *parent = NULL, *best = NULL;
	size_t i, n_children = 0;
	json_t *r;
	json_array_foreach(runs, i, r)
	{
		if (!tag(r, "mlflow.parentRunId"))
			parent = r;
	}
	ck_assert_ptr_nonnull(parent);
	ck_assert_str_eq(tag(parent, "lathe.job_id"), id);
	json_array_foreach(runs, i, r)
	{
		if (r == parent)
			continue;
		n_children++;
		ck_assert_str_eq(tag(r, "mlflow.parentRunId"), run_id(parent));
		ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "info"), "status")), "FINISHED");
		double v = metric(r, "val_accuracy");
		ck_assert(isfinite(v));
		if (!best || v > metric(best, "val_accuracy"))
			best = r;
	}
	ck_assert_uint_eq(n_children, 4);
	/* each child names its sweep and trial in tags of their own (mlflow/run_tags.h),
	 * the trials 0-3 once each, and keeps lathe.job_id = <job>-trial-<i> */
	unsigned seen = 0;
	json_array_foreach(runs, i, r)
	{
		if (r == parent)
			continue;
		ck_assert_str_eq(tag(r, "lathe.sweep_job_id"), id);
		const char *trial = tag(r, "lathe.sweep_trial");
		ck_assert_ptr_nonnull(trial);
		ck_assert_msg(strlen(trial) == 1 && trial[0] >= '0' && trial[0] <= '3', "trial <%s>", trial);
		ck_assert_msg(!(seen & (1u << (trial[0] - '0'))), "trial %s twice", trial);
		seen |= 1u << (trial[0] - '0');
		char *key = th_fmt("%s-trial-%s", id, trial);
		ck_assert_str_eq(tag(r, "lathe.job_id"), key);
		free(key);
	}
	ck_assert_uint_eq(seen, 0xf);
	ck_assert_ptr_null(tag(parent, "lathe.sweep_job_id"));
	ck_assert_ptr_null(tag(parent, "lathe.sweep_trial"));
	/* the parent's choice has the highest val_accuracy (ties: any of them) */
	const char *chosen = tag(parent, "lathe.best_run_id");
	ck_assert_ptr_nonnull(chosen);
	json_array_foreach(runs, i, r)
	{
		if (strcmp(run_id(r), chosen) == 0)
			best = r;
	}
	ck_assert_str_eq(run_id(best), chosen);
	json_array_foreach(runs, i, r)
	{
		if (r != parent)
			ck_assert(metric(r, "val_accuracy") <= metric(best, "val_accuracy"));
	}
	ck_assert(fabs(metric(parent, "best_val_accuracy") - metric(best, "val_accuracy")) < 1e-9);
	ck_assert_str_eq(json_string_value(json_object_get(j, "run_id")), run_id(best));
	ck_assert_str_eq(json_string_value(json_object_get(j, "parent_run_id")), run_id(parent));

	char *q = th_fmt("/api/2.0/mlflow/model-versions/search?filter=name%%3D%%27%s%%27", model);
	json_t *all = th_train_get(s->registry, q);
	free(q);
	json_t *mvs = json_object_get(all, "model_versions");
	ck_assert_uint_eq(json_array_size(mvs), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(mvs, 0), "run_id")), run_id(best));
	ck_assert_str_eq(json_string_value(json_object_get(j, "model_version")), "1");
	json_decref(all);
	json_decref(runs);
	free(jt);
	return j;
}

START_TEST(grid_of_four_registers_the_best)
{
	struct th_train_stack s;
	const char *env[] = {"WORKERS=1", NULL};
	th_train_start(&s, env);
	th_train_push_fmnist(&s, "fmnist", 600);
	char *id = submit_sweep(&s, "sweep", "sweep-best", "");
	json_t *j = check_sweep(&s, id, "sweep", "sweep-best");
	/* the version's lineage names the sweep's job, from the best trial's sweep tags:
	 * with its lathe.job_id re-tagged by hand as another (unknown) job, still the
	 * sweep's job, so the sweep tags are what is read */
	const char *best = json_string_value(json_object_get(j, "run_id"));
	json_t *doc = th_train_get(s.trainer, "/v1/lineage?model=sweep-best&version=1");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "job"), "id")), id);
	json_decref(doc);
	char *body = th_fmt("{\"run_id\": \"%s\", \"key\": \"lathe.job_id\", \"value\": \"%s\"}", best, OTHER_JOB);
	json_decref(th_train_post(s.tracker, "/api/2.0/mlflow/runs/set-tag", body));
	free(body);
	doc = th_train_get(s.trainer, "/v1/lineage?model=sweep-best&version=1");
	json_t *tags = json_object_get(json_object_get(doc, "run"), "tags");
	ck_assert_str_eq(json_string_value(json_object_get(tags, "lathe.job_id")), OTHER_JOB);
	ck_assert_str_eq(json_string_value(json_object_get(tags, "lathe.sweep_job_id")), id);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "job"), "id")), id);
	json_decref(doc);
	json_decref(j);
	free(id);
	th_train_stop(&s);
}
END_TEST

/* The offset of needle in the job's log, or -1. */
static long log_at(const char *log, const char *needle)
{
	const char *p = strstr(log, needle);
	return p ? (long)(p - log) : -1;
}

START_TEST(parallel_trials_overlap)
{
	struct th_train_stack s;
	const char *env[] = {"WORKERS=1", NULL};
	th_train_start(&s, env);
	th_train_push_fmnist(&s, "fmnist", 600);
	char *id = submit_sweep(&s, "psweep", "psweep-best", ", \"parallelism\": 2");
	json_t *j = check_sweep(&s, id, "psweep", "psweep-best");

	/* two trials ran at once: trial 1 started before trial 0 ended, and likewise 3 / 2 */
	char *p = th_fmt("/v1/jobs/%s/events", id);
	struct th_response ev = th_call(s.trainer, "GET", p, NULL);
	ck_assert_ptr_nonnull(ev.body);
	for (int t = 0; t < 4; t++) {
		char a[64], b[64];
		snprintf(a, sizeof a, "trial %d started", t);
		snprintf(b, sizeof b, "trial %d ended", t);
		ck_assert_msg(log_at(ev.body, a) >= 0 && log_at(ev.body, b) > log_at(ev.body, a), "%s", ev.body);
	}
	ck_assert_msg(log_at(ev.body, "trial 1 started") < log_at(ev.body, "trial 0 ended"), "%s", ev.body);
	ck_assert_msg(log_at(ev.body, "2 at once") >= 0, "%s", ev.body);
	th_response_free(&ev);
	free(p);

	/* the row's progress for a sweep: trials finished, each of them recorded */
	ck_assert_int_eq(json_integer_value(json_object_get(j, "epoch")), 4);
	ck_assert_int_gt(json_integer_value(json_object_get(j, "step")), 0);
	json_t *trials = json_object_get(json_object_get(j, "metrics"), "trials");
	ck_assert_uint_eq(json_array_size(trials), 4);
	for (size_t t = 0; t < 4; t++) {
		json_t *rec = json_array_get(trials, t);
		ck_assert_int_eq(json_integer_value(json_object_get(rec, "trial")), (json_int_t)t);
		ck_assert(json_is_number(json_object_get(rec, "score")));
		ck_assert_int_gt(json_integer_value(json_object_get(rec, "steps")), 0);
	}
	json_decref(j);
	free(id);
	th_train_stop(&s);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("trainer_sweep");
	TCase *tc = tcase_create("sweep");
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, grid_of_four_registers_the_best);
	tcase_add_test(tc, parallel_trials_overlap);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

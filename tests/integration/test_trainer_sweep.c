/* A sweep end to end (harness_train.h): a 4-trial grid over the learning rate and the
 * hidden layer gives one parent run with four children (mlflow.parentRunId = the
 * parent), the parent names the best child (lathe.best_run_id, best_val_accuracy),
 * a child with the highest val_accuracy, and only that child's model is
 * registered (one version, its run). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness_train.h"

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

START_TEST(grid_of_four_registers_the_best)
{
	struct th_train_stack s;
	const char *env[] = {"WORKERS=1", NULL};
	th_train_start(&s, env);
	th_train_push_fmnist(&s, "fmnist", 600);
	char *id = th_train_submit(
		&s,
		"{\"dataset\": \"fmnist@1\", \"split\": {\"fractions\": [0.8, 0.1, 0.1], \"seed\": 7},"
		" \"model\": {\"type\": \"mlp\", \"hidden\": [16]}, \"optimizer\": {\"type\": \"adam\", \"lr\": 0.001},"
		" \"epochs\": 2, \"batch_size\": 32, \"seed\": 1, \"experiment\": \"sweep\","
		" \"register\": {\"model\": \"sweep-best\"},"
		" \"sweep\": {\"method\": \"grid\", \"space\": {\"optimizer.lr\": [0.003, 0.00001],"
		" \"model.hidden\": [[8], [32]]}, \"trials\": 4, \"metric\": \"val_accuracy\", \"goal\": \"max\"}}");
	json_t *j = th_train_wait(&s, id, 120000);
	char *jt = json_dumps(j, JSON_COMPACT);
	ck_assert_msg(strcmp(json_string_value(json_object_get(j, "status")), "SUCCEEDED") == 0, "%s", jt);

	json_t *runs = th_train_runs(&s, "sweep");
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

	json_t *all = th_train_get(s.registry, "/api/2.0/mlflow/model-versions/search?filter=name%3D%27sweep-best%27");
	json_t *mvs = json_object_get(all, "model_versions");
	ck_assert_uint_eq(json_array_size(mvs), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(mvs, 0), "run_id")), run_id(best));
	ck_assert_str_eq(json_string_value(json_object_get(j, "model_version")), "1");
	json_decref(all);
	json_decref(runs);
	free(jt);
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
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

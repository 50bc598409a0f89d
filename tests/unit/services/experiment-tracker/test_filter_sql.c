/* Unit tests of the tracker's search SQL: filter_sql.c, the compiler from libs/mlflow's
 * filter tree to the one parameterised query each search runs (the language itself is
 * tested in tests/unit/mlflow), called through filter.h and linked from
 * libexperiment-tracker.a. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "filter.h"

/* --- helpers ------------------------------------------------------------------- */

static struct mlflow_filter parse_ok(enum mlflow_target t, const char *text)
{
	struct mlflow_filter f;
	struct core_error err = {{0}};
	enum core_status rc = mlflow_filter_parse(t, text, &f, &err);
	ck_assert_msg(rc == CORE_OK, "filter <%s> refused: %s", text, err.message);
	return f;
}

/* --- SQL ----------------------------------------------------------------------- */

static void sql_params_are(const struct et_sql *q, const char *const *want, size_t n)
{
	ck_assert_uint_eq(q->n_params, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(strcmp(q->params[i], want[i]) == 0, "param $%zu: got <%s> want <%s>", i + 1, q->params[i],
			      want[i]);
}

START_TEST(runs_sql_default_is_newest_first_over_the_experiments)
{
	const char *ids[] = {"1", "22", "x'); DROP TABLE runs; --"};
	struct et_runs_query rq = {.experiment_ids = ids,
				   .n_experiment_ids = 3,
				   .view = MLFLOW_VIEW_ACTIVE_ONLY,
				   .offset = 0,
				   .limit = 1000};
	struct et_sql q;
	et_sql_init(&q);
	struct core_error err;
	ck_assert_int_eq(et_sql_runs(&rq, &q, &err), CORE_OK);
	ck_assert_str_eq(q.text.data, "SELECT r.run_id FROM runs r WHERE r.experiment_id = ANY($1::bigint[]) AND "
				      "r.lifecycle_stage = 'active' ORDER BY r.start_time DESC, r.run_id ASC "
				      "LIMIT $2::bigint OFFSET $3::bigint");
	const char *want[] = {"{\"1\",\"22\"}", "1000", "0"};
	sql_params_are(&q, want, 3);
	et_sql_free(&q);

	rq.view = MLFLOW_VIEW_DELETED_ONLY;
	et_sql_init(&q);
	ck_assert_int_eq(et_sql_runs(&rq, &q, &err), CORE_OK);
	ck_assert_ptr_nonnull(strstr(q.text.data, "r.lifecycle_stage = 'deleted'"));
	et_sql_free(&q);
	rq.view = MLFLOW_VIEW_ALL;
	et_sql_init(&q);
	ck_assert_int_eq(et_sql_runs(&rq, &q, &err), CORE_OK);
	ck_assert_ptr_nonnull(strstr(q.text.data, "r.lifecycle_stage IN ('active', 'deleted')"));
	et_sql_free(&q);
}
END_TEST

START_TEST(runs_sql_binds_every_key_and_value)
{
	struct mlflow_filter f =
		parse_ok(MLFLOW_TARGET_RUNS, "metrics.`a'b` > 0.5 AND params.p = 'x''; DROP' AND tags.t LIKE '%q%' AND "
					     "status != 'FAILED' AND start_time >= 10 AND run_id IN ('r1', 'r\"2') AND "
					     "datasets.context = 'train' AND datasets.name NOT IN ('d')");
	const char *order_items[] = {"metrics.acc DESC", "params.p", "attributes.end_time"};
	struct mlflow_order o;
	struct core_error err;
	ck_assert_int_eq(mlflow_order_parse(MLFLOW_TARGET_RUNS, order_items, 3, &o, &err), CORE_OK);
	const char *ids[] = {"7"};
	struct et_runs_query rq = {.filter = &f,
				   .order = &o,
				   .experiment_ids = ids,
				   .n_experiment_ids = 1,
				   .view = MLFLOW_VIEW_ACTIVE_ONLY,
				   .offset = 20,
				   .limit = 10};
	struct et_sql q;
	et_sql_init(&q);
	ck_assert_int_eq(et_sql_runs(&rq, &q, &err), CORE_OK);
	ck_assert_str_eq(
		q.text.data,
		"SELECT r.run_id FROM runs r"
		" LEFT JOIN latest_metrics o0 ON o0.run_id = r.run_id AND o0.key = $1"
		" LEFT JOIN params o1 ON o1.run_id = r.run_id AND o1.key = $2"
		" WHERE r.experiment_id = $3::bigint AND r.lifecycle_stage = 'active'"
		" AND EXISTS (SELECT 1 FROM latest_metrics m WHERE m.run_id = r.run_id AND m.key = $4"
		" AND m.value > $5::float8 AND m.value <> 'NaN'::float8)"
		" AND EXISTS (SELECT 1 FROM params x WHERE x.run_id = r.run_id AND x.key = $6 AND x.value = $7)"
		" AND EXISTS (SELECT 1 FROM tags x WHERE x.run_id = r.run_id AND x.key = $8 AND x.value LIKE $9)"
		" AND r.status <> $10"
		" AND r.start_time >= $11::numeric"
		" AND r.run_id = ANY($12::text[])"
		" AND EXISTS (SELECT 1 FROM inputs i JOIN input_tags t ON t.input_id = i.input_id WHERE i.run_id = "
		"r.run_id AND t.key = 'mlflow.data.context' AND t.value = $13)"
		" AND EXISTS (SELECT 1 FROM inputs i JOIN datasets d ON d.dataset_id = i.dataset_id WHERE i.run_id = "
		"r.run_id AND NOT d.name = ANY($14::text[]))"
		" ORDER BY CASE WHEN o0.value IS NULL THEN 2 WHEN o0.value = 'NaN'::float8 THEN 1 ELSE 0 END,"
		" o0.value DESC, o1.value IS NULL, o1.value ASC, r.end_time IS NULL, r.end_time ASC,"
		" r.start_time DESC, r.run_id ASC LIMIT $15::bigint OFFSET $16::bigint");
	const char *want[] = {"acc",       "p",       "7",   "a'b",    "0.5", "p",
			      "x''; DROP", "t",       "%q%", "FAILED", "10",  "{\"r1\",\"r\\\"2\"}",
			      "train",     "{\"d\"}", "10",  "20"};
	sql_params_are(&q, want, 16);
	et_sql_free(&q);
	mlflow_order_free(&o);
	mlflow_filter_free(&f);
}
END_TEST

START_TEST(runs_sql_keeps_nan_out_of_greater_than_and_orders_by_start_time_once)
{
	struct mlflow_filter f = parse_ok(MLFLOW_TARGET_RUNS, "metrics.m >= 1 AND metrics.m < 5 AND metrics.m != 2");
	const char *order_items[] = {"attribute.start_time ASC", "run_id DESC"};
	struct mlflow_order o;
	struct core_error err;
	ck_assert_int_eq(mlflow_order_parse(MLFLOW_TARGET_RUNS, order_items, 2, &o, &err), CORE_OK);
	const char *ids[] = {"0"};
	struct et_runs_query rq = {.filter = &f,
				   .order = &o,
				   .experiment_ids = ids,
				   .n_experiment_ids = 1,
				   .view = MLFLOW_VIEW_ALL,
				   .offset = 0,
				   .limit = 5};
	struct et_sql q;
	et_sql_init(&q);
	ck_assert_int_eq(et_sql_runs(&rq, &q, &err), CORE_OK);
	ck_assert_ptr_nonnull(strstr(q.text.data, "m.value >= $3::float8 AND m.value <> 'NaN'::float8)"));
	ck_assert_ptr_nonnull(strstr(q.text.data, "m.value < $5::float8)"));
	ck_assert_ptr_nonnull(strstr(q.text.data, "m.value <> $7::float8)"));
	ck_assert_ptr_nonnull(strstr(q.text.data, " ORDER BY r.start_time IS NULL, r.start_time ASC, r.run_id IS "
						  "NULL, r.run_id DESC, r.run_id LIMIT"));
	et_sql_free(&q);
	mlflow_order_free(&o);
	mlflow_filter_free(&f);
}
END_TEST

START_TEST(experiments_sql_filters_orders_and_pages)
{
	struct mlflow_filter f =
		parse_ok(MLFLOW_TARGET_EXPERIMENTS, "name ILIKE 'e%' AND creation_time > 3 AND tags.k != 'v'");
	const char *order_items[] = {"name DESC"};
	struct mlflow_order o;
	struct core_error err;
	ck_assert_int_eq(mlflow_order_parse(MLFLOW_TARGET_EXPERIMENTS, order_items, 1, &o, &err), CORE_OK);
	struct et_experiments_query eq = {
		.filter = &f, .order = &o, .view = MLFLOW_VIEW_ACTIVE_ONLY, .offset = 4, .limit = 3};
	struct et_sql q;
	et_sql_init(&q);
	ck_assert_int_eq(et_sql_experiments(&eq, &q, &err), CORE_OK);
	ck_assert_ptr_nonnull(strstr(q.text.data,
				     " FROM experiments e WHERE e.lifecycle_stage = 'active' AND "
				     "e.name ILIKE $1 AND e.creation_time > $2::numeric AND EXISTS (SELECT 1 "
				     "FROM experiment_tags x WHERE x.experiment_id = e.experiment_id AND "
				     "x.key = $3 AND x.value <> $4) ORDER BY e.name DESC, "
				     "e.experiment_id DESC LIMIT $5::bigint OFFSET $6::bigint"));
	const char *want[] = {"e%", "3", "k", "v", "3", "4"};
	sql_params_are(&q, want, 6);
	et_sql_free(&q);
	mlflow_order_free(&o);
	mlflow_filter_free(&f);

	struct et_experiments_query dq = {.view = MLFLOW_VIEW_ALL, .limit = 1001};
	et_sql_init(&q);
	ck_assert_int_eq(et_sql_experiments(&dq, &q, &err), CORE_OK);
	ck_assert_ptr_nonnull(strstr(q.text.data, "WHERE e.lifecycle_stage IN ('active', 'deleted') ORDER BY "
						  "e.creation_time DESC, e.experiment_id ASC LIMIT"));
	et_sql_free(&q);
}
END_TEST

START_TEST(too_many_values_is_refused_not_truncated)
{
	/* libs/mlflow's parser stops at 20 clauses, within the compiler's ceiling; a tree
	 * built by hand still meets the ceiling */
	struct mlflow_filter f = {.clauses = calloc(200, sizeof(struct mlflow_clause)), .n = 200};
	ck_assert_ptr_nonnull(f.clauses);
	for (size_t i = 0; i < f.n; i++) {
		char key[32];
		snprintf(key, sizeof key, "p%zu", i);
		f.clauses[i] = (struct mlflow_clause){.entity = MLFLOW_ENT_PARAM,
						      .key = strdup(key),
						      .cmp = MLFLOW_CMP_EQ,
						      .kind = MLFLOW_VAL_STRING,
						      .value = strdup("v")};
	}
	const char *ids[] = {"0"};
	struct et_runs_query rq = {.filter = &f, .experiment_ids = ids, .n_experiment_ids = 1, .limit = 1};
	struct et_sql q;
	et_sql_init(&q);
	struct core_error err;
	ck_assert_int_eq(et_sql_runs(&rq, &q, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "too complex"));
	et_sql_free(&q);
	mlflow_filter_free(&f);
}
END_TEST

static Suite *filter_suite(void)
{
	Suite *s = suite_create("tracker_search");
	TCase *tc = tcase_create("sql");
	tcase_add_test(tc, runs_sql_default_is_newest_first_over_the_experiments);
	tcase_add_test(tc, runs_sql_binds_every_key_and_value);
	tcase_add_test(tc, runs_sql_keeps_nan_out_of_greater_than_and_orders_by_start_time_once);
	tcase_add_test(tc, experiments_sql_filters_orders_and_pages);
	tcase_add_test(tc, too_many_values_is_refused_not_truncated);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(filter_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

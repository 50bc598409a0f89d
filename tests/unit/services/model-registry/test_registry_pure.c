/* Unit tests of the model registry's pure parts: the search SQL (filter_sql.c: the one
 * parameterised query a filter and order_by compile to) and the input rules
 * (validate.c), called through the service's private header mr.h and linked from
 * libmodel-registry.a. The filter language and page tokens are libs/mlflow's
 * (tests/unit/mlflow). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "mr.h"

/* Compiles filter for kind with the default order, limit 11, offset 20, and checks the
 * SQL after the SELECT list and every parameter. */
static void compiles(enum mr_search_kind kind, const char *filter, const char *where, const char *const *params,
		     size_t n)
{
	struct mlflow_filter f;
	struct core_error err = {{0}};
	char order[256];
	ck_assert_msg(mlflow_filter_parse(kind == MR_SEARCH_MODELS ? MLFLOW_TARGET_MODELS : MLFLOW_TARGET_VERSIONS,
					  filter, &f, &err) == CORE_OK,
		      "%s: %s", filter, err.message);
	ck_assert_int_eq(mr_order_parse(NULL, 0, kind, order, sizeof order, &err), CORE_OK);
	struct mr_sql q;
	mr_sql_init(&q);
	ck_assert_int_eq(mr_sql_search(kind, &f, order, 11, 20, &q, &err), CORE_OK);
	const char *from = strstr(q.text.data, " FROM ");
	ck_assert_ptr_nonnull(from);
	ck_assert_msg(strcmp(from, where) == 0, "%s:\n got  <%s>\n want <%s>", filter, from, where);
	ck_assert_uint_eq(q.n_params, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(q.params[i], params[i]);
	mr_sql_free(&q);
	mlflow_filter_free(&f);
}

START_TEST(model_searches_compile_to_one_parameterised_query)
{
	compiles(MR_SEARCH_MODELS, NULL,
		 " FROM registered_model_view r ORDER BY r.name COLLATE \"C\" ASC LIMIT $1::bigint OFFSET $2::bigint",
		 (const char *const[]){"11", "20"}, 2);
	compiles(MR_SEARCH_MODELS, "name LIKE 'a%' AND tags.`team x` != 'x''; DROP'",
		 " FROM registered_model_view r WHERE r.name LIKE $1 AND EXISTS (SELECT 1 FROM registered_model_tags t "
		 "WHERE t.model_id = r.model_id AND t.key = $2 AND t.value <> $3) ORDER BY r.name COLLATE \"C\" ASC "
		 "LIMIT $4::bigint OFFSET $5::bigint",
		 (const char *const[]){"a%", "team x", "x''; DROP", "11", "20"}, 5);
}
END_TEST

START_TEST(version_searches_compile_to_one_parameterised_query)
{
	compiles(MR_SEARCH_VERSIONS,
		 "version_number >= 2 AND run_id IN ('a', 'b\"c') AND source_path NOT IN ('s') AND "
		 "version_number IN (1, 3) AND tags.k ILIKE '%v' AND name = 'm'",
		 " FROM model_version_view v WHERE v.version >= $1::bigint AND (v.run_id = ANY($2::text[])) AND "
		 "NOT (v.source = ANY($3::text[])) AND (v.version = ANY($4::bigint[])) AND EXISTS (SELECT 1 FROM "
		 "model_version_tags t WHERE t.model_id = v.model_id AND t.version = v.version AND t.key = $5 AND "
		 "t.value ILIKE $6) AND v.name = $7 ORDER BY v.name COLLATE \"C\" ASC, v.version DESC "
		 "LIMIT $8::bigint OFFSET $9::bigint",
		 (const char *const[]){"2", "{\"a\",\"b\\\"c\"}", "{\"s\"}", "{\"1\",\"3\"}", "k", "%v", "m", "11",
				       "20"},
		 9);
}
END_TEST

START_TEST(too_many_values_are_refused)
{
	/* libs/mlflow's parser stops at 20 clauses, well within the 256 parameters; a tree
	 * built by hand still meets the compiler's own ceiling */
	struct mlflow_filter f = {.clauses = calloc(300, sizeof(struct mlflow_clause)), .n = 300};
	ck_assert_ptr_nonnull(f.clauses);
	for (size_t i = 0; i < f.n; i++)
		f.clauses[i] = (struct mlflow_clause){.entity = MLFLOW_ENT_TAG,
						      .key = strdup("t"),
						      .cmp = MLFLOW_CMP_EQ,
						      .kind = MLFLOW_VAL_STRING,
						      .value = strdup("v")};
	struct core_error err = {{0}};
	struct mr_sql q;
	mr_sql_init(&q);
	ck_assert_int_eq(mr_sql_search(MR_SEARCH_VERSIONS, &f, "v.version DESC", 10, 0, &q, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "too large"));
	mr_sql_free(&q);
	mlflow_filter_free(&f);
}
END_TEST

START_TEST(order_by_is_built_from_fixed_pieces)
{
	char sql[512];
	struct core_error err = {{0}};
	ck_assert_int_eq(mr_order_parse(NULL, 0, MR_SEARCH_MODELS, sql, sizeof sql, &err), CORE_OK);
	ck_assert_str_eq(sql, "r.name COLLATE \"C\" ASC");
	const char *o1[] = {"last_updated_timestamp DESC"};
	ck_assert_int_eq(mr_order_parse(o1, 1, MR_SEARCH_MODELS, sql, sizeof sql, &err), CORE_OK);
	ck_assert_str_eq(sql, "r.last_updated_time DESC, r.name COLLATE \"C\" ASC");
	ck_assert_int_eq(mr_order_parse(NULL, 0, MR_SEARCH_VERSIONS, sql, sizeof sql, &err), CORE_OK);
	ck_assert_str_eq(sql, "v.name COLLATE \"C\" ASC, v.version DESC");
	const char *o2[] = {"version_number asc", "name DESC"};
	ck_assert_int_eq(mr_order_parse(o2, 2, MR_SEARCH_VERSIONS, sql, sizeof sql, &err), CORE_OK);
	ck_assert_str_eq(sql, "v.version ASC, v.name COLLATE \"C\" DESC");
	const char *bad[] = {"name; DROP TABLE x"};
	ck_assert_int_eq(mr_order_parse(bad, 1, MR_SEARCH_MODELS, sql, sizeof sql, &err), CORE_EINVAL);
	const char *dup[] = {"timestamp", "last_updated_timestamp DESC"};
	ck_assert_int_eq(mr_order_parse(dup, 2, MR_SEARCH_MODELS, sql, sizeof sql, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "duplicate"));
	const char *unknown[] = {"version_number"};
	ck_assert_int_eq(mr_order_parse(unknown, 1, MR_SEARCH_MODELS, sql, sizeof sql, &err), CORE_EINVAL);
}
END_TEST

START_TEST(input_rules)
{
	struct core_error err = {{0}};
	const char *stage = NULL;
	int64_t v = 0;
	ck_assert_int_eq(mr_check_stage("pRoDuCtIoN", &stage, &err), CORE_OK);
	ck_assert_str_eq(stage, "Production");
	ck_assert_int_eq(mr_check_stage("none", &stage, &err), CORE_OK);
	ck_assert_str_eq(stage, "None");
	ck_assert_int_eq(mr_check_stage("Deleted_Internal", &stage, &err), CORE_EINVAL);
	ck_assert_int_eq(mr_check_version("12", &v, &err), CORE_OK);
	ck_assert_int_eq(v, 12);
	ck_assert_int_eq(mr_check_version("1.5", &v, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "Model version must be an integer, got '1.5'");
	ck_assert_int_eq(mr_check_alias("champion-2_b", &err), CORE_OK);
	ck_assert_int_eq(mr_check_alias("Latest", &err), CORE_EINVAL);
	ck_assert_int_eq(mr_check_alias("v3", &err), CORE_EINVAL);
	ck_assert_int_eq(mr_check_alias("v", &err), CORE_OK);
	ck_assert_int_eq(mr_check_alias("v3a", &err), CORE_OK);
	ck_assert_int_eq(mr_check_alias("a.b", &err), CORE_EINVAL);
	char long_alias[300];
	memset(long_alias, 'a', 256);
	long_alias[256] = '\0';
	ck_assert_int_eq(mr_check_alias(long_alias, &err), CORE_EINVAL);
	ck_assert_int_eq(mr_check_tag("Registered model", "a/b.c d-e_f", "v", &err), CORE_OK);
	ck_assert_int_eq(mr_check_tag("Registered model", "a:b", "v", &err), CORE_EINVAL);
	ck_assert_int_eq(mr_check_tag("Registered model", "a/../b", "v", &err), CORE_EINVAL);
	ck_assert_str_eq(err.message,
			 "Invalid tag name: 'a/../b'. Names may be treated as files in certain cases, and "
			 "must not resolve to other names when treated as such. This name would resolve to 'b'");
	ck_assert_int_eq(mr_check_tag("Model version", "/a", "v", &err), CORE_EINVAL);
	char *big = calloc(1, 5002);
	memset(big, 'x', 5001);
	ck_assert_int_eq(mr_check_tag("Model version", "k", big, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "Model version value 'xxx"));
	ck_assert_ptr_nonnull(strstr(err.message, "' had length 5001, which exceeded length limit of 5000"));
	big[5000] = '\0';
	ck_assert_int_eq(mr_check_tag("Model version", "k", big, &err), CORE_OK);
	/* lengths in characters: 250 two-byte characters are a key at the limit */
	char key[600];
	for (int i = 0; i < 251; i++)
		memcpy(key + 2 * i, "\xc3\xa9", 2);
	key[500] = '\0';
	ck_assert_int_eq(mr_check_tag_key("Registered model", key, &err), CORE_OK);
	key[500] = '\xc3';
	key[502] = '\0';
	ck_assert_int_eq(mr_check_tag_key("Registered model", key, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "Registered model key '"));
	ck_assert_int_eq(mr_check_tag_key("Registered model", "", &err), CORE_EINVAL);
	ck_assert_str_eq(err.message,
			 "Missing value for required parameter 'key'. See the API docs for more information "
			 "about request parameters.");
	free(big);
	ck_assert_int_eq(mr_check_source("mlflow-artifacts:/1/r/artifacts/model", "", &err), CORE_OK);
	ck_assert_int_eq(mr_check_source("s3://b/k", "", &err), CORE_OK);
	ck_assert_int_eq(mr_check_source("runs:/r/model", "", &err), CORE_OK);
	ck_assert_int_eq(mr_check_source("/local/path", "r", &err), CORE_EINVAL);
	ck_assert_int_eq(mr_check_source("file:///local/path", "r", &err), CORE_EINVAL);
	ck_assert_int_eq(mr_check_source("s3://b/../k", "", &err), CORE_EINVAL);
	ck_assert_int_eq(mr_check_source("s3://b/%2e%2e/k", "", &err), CORE_EINVAL);
	ck_assert_int_eq(mr_check_source("s3://b/%252e%252e/k", "", &err), CORE_EINVAL);
	ck_assert_int_eq(mr_check_source("s3://b/a%00b", "", &err), CORE_EINVAL);
	ck_assert_int_eq(mr_check_source("s3://b/a..b/k", "", &err), CORE_OK);
}
END_TEST

static Suite *pure_suite(void)
{
	Suite *s = suite_create("registry-pure");
	TCase *tc = tcase_create("search_sql");
	tcase_add_test(tc, model_searches_compile_to_one_parameterised_query);
	tcase_add_test(tc, version_searches_compile_to_one_parameterised_query);
	tcase_add_test(tc, too_many_values_are_refused);
	tcase_add_test(tc, order_by_is_built_from_fixed_pieces);
	suite_add_tcase(s, tc);
	tc = tcase_create("rules");
	tcase_add_test(tc, input_rules);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pure_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Unit tests of the model registry's pure parts: MLflow's search filter and order_by
 * (filter.c), the input rules (validate.c) and page tokens (paging.c), called through
 * the service's private header mr.h and linked from libmodel-registry.a. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "mr.h"

static void parses(const char *filter, enum mr_search_kind kind, const char *kinds, const char *keys, const char *ops,
		   const char *values)
{
	struct mr_filter f;
	struct core_error err = {{0}};
	ck_assert_msg(mr_filter_parse(filter, kind, &f, &err) == CORE_OK, "%s: %s", filter, err.message);
	ck_assert_str_eq(f.arrays[0], kinds);
	ck_assert_str_eq(f.arrays[1], keys);
	ck_assert_str_eq(f.arrays[2], ops);
	ck_assert_str_eq(f.arrays[3], values);
	mr_filter_free(&f);
}

static void refused(const char *filter, enum mr_search_kind kind, const char *needle)
{
	struct mr_filter f;
	struct core_error err = {{0}};
	ck_assert_msg(mr_filter_parse(filter, kind, &f, &err) == CORE_EINVAL, "%s was accepted", filter);
	if (needle)
		ck_assert_msg(strstr(err.message, needle), "'%s' not in: %s", needle, err.message);
	mr_filter_free(&f);
}

START_TEST(filters_parse)
{
	parses("", MR_SEARCH_MODELS, "{}", "{}", "{}", "{}");
	parses(NULL, MR_SEARCH_MODELS, "{}", "{}", "{}", "{}");
	parses("name = 'm'", MR_SEARCH_MODELS, "{\"attr\"}", "{\"name\"}", "{\"=\"}", "{\"m\"}");
	parses("name LIKE \"a%\" and tags.team != 'x'", MR_SEARCH_MODELS, "{\"attr\",\"tag\"}", "{\"name\",\"team\"}",
	       "{\"LIKE\",\"!=\"}", "{\"a%\",\"x\"}");
	parses("tags.`my key` ilike 'it''s'", MR_SEARCH_MODELS, "{\"tag\"}", "{\"my key\"}", "{\"ILIKE\"}",
	       "{\"it's\"}");
	parses("tag.mlflow.source = 'a\"b'", MR_SEARCH_MODELS, "{\"tag\"}", "{\"mlflow.source\"}", "{\"=\"}",
	       "{\"a\\\"b\"}");
	parses("version_number >= 2 AND run_id IN ('a', 'b')", MR_SEARCH_VERSIONS, "{\"num\",\"attr\"}",
	       "{\"version_number\",\"run_id\"}", "{\">=\",\"IN\"}", "{\"2\",\"[\\\"a\\\",\\\"b\\\"]\"}");
	parses("attributes.source_path not in ('s')", MR_SEARCH_VERSIONS, "{\"attr\"}", "{\"source_path\"}",
	       "{\"NOT IN\"}", "{\"[\\\"s\\\"]\"}");
}
END_TEST

START_TEST(bad_filters_are_refused)
{
	refused("name =", MR_SEARCH_MODELS, "Invalid clause");
	refused("name = 'a' OR name = 'b'", MR_SEARCH_MODELS, "Invalid clause");
	refused("name = 'a' AND", MR_SEARCH_MODELS, "Invalid clause");
	refused("name = 'a", MR_SEARCH_MODELS, "unterminated");
	refused("name = a", MR_SEARCH_MODELS, "quoted");
	refused("run_id = 'a'", MR_SEARCH_MODELS, "Invalid attribute key");
	refused("name > 'a'", MR_SEARCH_MODELS, "comparator");
	refused("tags.k > 'a'", MR_SEARCH_VERSIONS, "comparator");
	refused("version_number = 'x'", MR_SEARCH_VERSIONS, "integer");
	refused("version_number LIKE '1'", MR_SEARCH_VERSIONS, "comparator");
	refused("metrics.acc > 1", MR_SEARCH_VERSIONS, "entity");
	refused("name IN 'a'", MR_SEARCH_VERSIONS, "IN");
	refused("= 'a'", MR_SEARCH_MODELS, "identifier");
}
END_TEST

START_TEST(order_by_is_built_from_fixed_pieces)
{
	char sql[512], shape[32];
	struct core_error err = {{0}};
	ck_assert_int_eq(mr_order_parse(NULL, 0, MR_SEARCH_MODELS, sql, sizeof sql, shape, sizeof shape, &err),
			 CORE_OK);
	ck_assert_str_eq(sql, "r.name COLLATE \"C\" ASC");
	ck_assert_str_eq(shape, "n+");
	const char *o1[] = {"last_updated_timestamp DESC"};
	ck_assert_int_eq(mr_order_parse(o1, 1, MR_SEARCH_MODELS, sql, sizeof sql, shape, sizeof shape, &err), CORE_OK);
	ck_assert_str_eq(sql, "r.last_updated_time DESC, r.name COLLATE \"C\" ASC");
	ck_assert_str_eq(shape, "u-n+");
	ck_assert_int_eq(mr_order_parse(NULL, 0, MR_SEARCH_VERSIONS, sql, sizeof sql, shape, sizeof shape, &err),
			 CORE_OK);
	ck_assert_str_eq(shape, "n+v-");
	const char *o2[] = {"version_number asc", "name DESC"};
	ck_assert_int_eq(mr_order_parse(o2, 2, MR_SEARCH_VERSIONS, sql, sizeof sql, shape, sizeof shape, &err),
			 CORE_OK);
	ck_assert_str_eq(shape, "v+n-");
	const char *bad[] = {"name; DROP TABLE x"};
	ck_assert_int_eq(mr_order_parse(bad, 1, MR_SEARCH_MODELS, sql, sizeof sql, shape, sizeof shape, &err),
			 CORE_EINVAL);
	const char *dup[] = {"timestamp", "last_updated_timestamp DESC"};
	ck_assert_int_eq(mr_order_parse(dup, 2, MR_SEARCH_MODELS, sql, sizeof sql, shape, sizeof shape, &err),
			 CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "duplicate"));
	const char *unknown[] = {"version_number"};
	ck_assert_int_eq(mr_order_parse(unknown, 1, MR_SEARCH_MODELS, sql, sizeof sql, shape, sizeof shape, &err),
			 CORE_EINVAL);
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
	ck_assert_int_eq(mr_check_tag("a/b.c d-e_f", "v", &err), CORE_OK);
	ck_assert_int_eq(mr_check_tag("a:b", "v", &err), CORE_EINVAL);
	ck_assert_int_eq(mr_check_tag("a/../b", "v", &err), CORE_EINVAL);
	ck_assert_int_eq(mr_check_tag("/a", "v", &err), CORE_EINVAL);
	char *big = calloc(1, 5002);
	memset(big, 'x', 5001);
	ck_assert_int_eq(mr_check_tag("k", big, &err), CORE_EINVAL);
	big[5000] = '\0';
	ck_assert_int_eq(mr_check_tag("k", big, &err), CORE_OK);
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

START_TEST(page_tokens_round_trip)
{
	struct core_error err = {{0}};
	int64_t off = -1;
	char *t = mr_page_token(100);
	ck_assert_str_eq(t, "eyJvZmZzZXQiOiAxMDB9"); /* base64 of {"offset": 100}, as MLflow writes it */
	ck_assert_int_eq(mr_page_token_parse(t, &off, &err), CORE_OK);
	ck_assert_int_eq(off, 100);
	free(t);
	t = mr_page_token(7);
	ck_assert_int_eq(mr_page_token_parse(t, &off, &err), CORE_OK);
	ck_assert_int_eq(off, 7);
	free(t);
	ck_assert_int_eq(mr_page_token_parse("", &off, &err), CORE_OK);
	ck_assert_int_eq(off, 0);
	ck_assert_int_eq(mr_page_token_parse("!!!!", &off, &err), CORE_EINVAL);
	ck_assert_int_eq(mr_page_token_parse("abc", &off, &err), CORE_EINVAL);
	ck_assert_int_eq(mr_page_token_parse("eyJhIjogMX0=", &off, &err), CORE_EINVAL); /* {"a": 1} */
}
END_TEST

static Suite *pure_suite(void)
{
	Suite *s = suite_create("registry-pure");
	TCase *tc = tcase_create("filter");
	tcase_add_test(tc, filters_parse);
	tcase_add_test(tc, bad_filters_are_refused);
	tcase_add_test(tc, order_by_is_built_from_fixed_pieces);
	suite_add_tcase(s, tc);
	tc = tcase_create("rules");
	tcase_add_test(tc, input_rules);
	tcase_add_test(tc, page_tokens_round_trip);
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

/* Unit tests of libs/mlflow's source parsing (mlflow/source.h), the one reading of a
 * model version's source that the registry's servability check and the inference API's
 * loader share: mlflow-artifacts: URIs with and without an authority, runs:/ URIs with
 * and without a path, run artifact roots joined with a path, other schemes refused, and
 * URL escaping. Links libmlflow.a. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "mlflow/source.h"

static void parses(const char *source, enum mlflow_source_kind kind, const char *run_id, const char *path)
{
	struct mlflow_source s;
	ck_assert_int_eq(mlflow_source_parse(source, &s), kind);
	ck_assert_int_eq(s.kind, kind);
	if (run_id)
		ck_assert_str_eq(s.run_id, run_id);
	else
		ck_assert_ptr_null(s.run_id);
	if (path)
		ck_assert_str_eq(s.path, path);
	else
		ck_assert_ptr_null(s.path);
	mlflow_source_free(&s);
	ck_assert_ptr_null(s.path);
}

START_TEST(sources_of_both_schemes_and_others)
{
	parses("mlflow-artifacts:/1/abc/artifacts/model", MLFLOW_SOURCE_ARTIFACTS, NULL, "1/abc/artifacts/model");
	parses("mlflow-artifacts://tracker:5000/1/abc/artifacts/model", MLFLOW_SOURCE_ARTIFACTS, NULL,
	       "1/abc/artifacts/model");
	parses("mlflow-artifacts://tracker:5000", MLFLOW_SOURCE_ARTIFACTS, NULL, "");
	parses("mlflow-artifacts:///x", MLFLOW_SOURCE_ARTIFACTS, NULL, "x");
	parses("runs:/0123abcd/model", MLFLOW_SOURCE_RUN, "0123abcd", "model");
	parses("runs:/0123abcd/model/sub", MLFLOW_SOURCE_RUN, "0123abcd", "model/sub");
	parses("runs://0123abcd", MLFLOW_SOURCE_RUN, "0123abcd", "");
	parses("s3://bucket/model", MLFLOW_SOURCE_OTHER, NULL, NULL);
	parses("models:/m/1", MLFLOW_SOURCE_OTHER, NULL, NULL);
	parses("", MLFLOW_SOURCE_OTHER, NULL, NULL);
	parses(NULL, MLFLOW_SOURCE_OTHER, NULL, NULL);
}
END_TEST

START_TEST(run_artifact_paths_and_escapes)
{
	char *p = mlflow_run_artifact_path("mlflow-artifacts:/1/abc/artifacts", "model");
	ck_assert_str_eq(p, "1/abc/artifacts/model");
	free(p);
	p = mlflow_run_artifact_path("mlflow-artifacts://h:1/1/abc/artifacts", "");
	ck_assert_str_eq(p, "1/abc/artifacts");
	free(p);
	p = mlflow_run_artifact_path("mlflow-artifacts://h:1", "model");
	ck_assert_str_eq(p, "model");
	free(p);
	ck_assert_ptr_null(mlflow_run_artifact_path("file:///tmp/artifacts", "model"));
	ck_assert_ptr_null(mlflow_artifacts_path("runs:/x/y"));
	char *e = mlflow_url_escape("a b/c&d=é", true);
	ck_assert_str_eq(e, "a%20b/c%26d%3D%C3%A9");
	free(e);
	e = mlflow_url_escape("a/b", false);
	ck_assert_str_eq(e, "a%2Fb");
	free(e);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mlflow_source");
	TCase *tc = tcase_create("source");
	tcase_add_test(tc, sources_of_both_schemes_and_others);
	tcase_add_test(tc, run_artifact_paths_and_escapes);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

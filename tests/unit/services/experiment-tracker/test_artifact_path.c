/* Unit tests of the experiment tracker's artifact path logic (artifact_path.c, called
 * through the artifact wing's header artifacts.h and linked from
 * libexperiment-tracker.a): path safety as MLflow's validate_path_is_safe sees it plus
 * our stricter rules, canonical spelling, the download's Content-Type and
 * Content-Disposition, and mlflow-artifacts: URIs. */
#include <check.h>
#include <string.h>
#include "artifacts.h"

static const char *norm(const char *in)
{
	static char out[ET_ARTIFACT_PATH_MAX + 1];
	return et_artifact_path_normalize(in, out, sizeof out) ? out : NULL;
}

START_TEST(accepts_and_canonicalises)
{
	ck_assert_str_eq(norm("0/abc/artifacts/hi.txt"), "0/abc/artifacts/hi.txt");
	ck_assert_str_eq(norm("a//b/./c/"), "a/b/c");
	ck_assert_str_eq(norm(""), "");
	ck_assert_str_eq(norm("."), "");
	ck_assert_str_eq(norm("a b/ü.txt"), "a b/ü.txt");
	ck_assert_str_eq(norm("...x/..."), "...x/...");
	ck_assert_str_eq(norm("a/..b/c.."), "a/..b/c..");
	ck_assert_str_eq(norm("100%/x"), "100%/x"); /* a '%' without hex digits stays */
	ck_assert_str_eq(norm("a%41"), "a%41");     /* stored as sent; only checked decoded */
}
END_TEST

START_TEST(rejects_escapes)
{
	static const char *const bad[] = {
		"..",
		"../x",
		"a/../../etc/passwd",
		"a/..",
		"/etc/passwd",
		"//host/share",
		"%2e%2e/x",
		"a/%2E%2E/b",
		"%252e%252e/x",
		"%25252e%25252e",
		"%2fetc/passwd",
		"a\\b",
		"..\\x",
		"a%5cb",
		"C:/Windows",
		"c:x",
		"file:///etc/passwd",
		"FILE:x",
		"a#b",
		"a%23b",
		"a%00b",
		"a\tb",
		"a\nb",
		"a%0ab",
		"a%7f",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(norm(bad[i]) == NULL, "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(limits)
{
	static char long_path[ET_ARTIFACT_PATH_MAX + 2];
	memset(long_path, 'a', ET_ARTIFACT_PATH_MAX);
	long_path[ET_ARTIFACT_PATH_MAX] = '\0';
	ck_assert_ptr_nonnull(norm(long_path));
	long_path[ET_ARTIFACT_PATH_MAX] = 'a';
	long_path[ET_ARTIFACT_PATH_MAX + 1] = '\0';
	ck_assert_ptr_null(norm(long_path));
	char small[4];
	ck_assert(!et_artifact_path_normalize("abcd", small, sizeof small));
	ck_assert(et_artifact_path_normalize("abc", small, sizeof small));
	/* eleven layers of encoding never settle within MLflow's ten rounds */
	ck_assert_ptr_null(norm("%2525252525252525252525252e")); /* 11 x "25": 12 rounds */
	ck_assert_str_eq(norm("%252525252e"), "%252525252e");    /* 5 rounds: "." */
}
END_TEST

START_TEST(raw_path)
{
	ck_assert(et_artifact_raw_path_ok("/api/2.0/mlflow-artifacts/artifacts/a/b%20c.txt"));
	ck_assert(!et_artifact_raw_path_ok("/api/2.0/mlflow-artifacts/artifacts/a%2Fb"));
	ck_assert(!et_artifact_raw_path_ok("/api/2.0/mlflow-artifacts/artifacts/a%2fb"));
	ck_assert(!et_artifact_raw_path_ok("/api/2.0/mlflow-artifacts/artifacts/a%5Cb"));
	ck_assert(!et_artifact_raw_path_ok("/api/2.0/mlflow-artifacts/artifacts/a\\b"));
}
END_TEST

START_TEST(split)
{
	char parent[64];
	ck_assert_str_eq(et_artifact_path_split("0/r/artifacts/d/hi.txt", parent), "hi.txt");
	ck_assert_str_eq(parent, "0/r/artifacts/d");
	ck_assert_str_eq(et_artifact_path_split("hi.txt", parent), "hi.txt");
	ck_assert_str_eq(parent, "");
}
END_TEST

START_TEST(mime_types)
{
	ck_assert_str_eq(et_artifact_mime_type("hi.txt"), "text/plain");
	ck_assert_str_eq(et_artifact_mime_type("conf.yaml"), "text/plain");
	ck_assert_str_eq(et_artifact_mime_type("data.json"), "text/plain");
	ck_assert_str_eq(et_artifact_mime_type("MLmodel"), "text/plain");
	ck_assert_str_eq(et_artifact_mime_type("MLproject"), "text/plain");
	ck_assert_str_eq(et_artifact_mime_type("mlmodel"), "application/octet-stream");
	ck_assert_str_eq(et_artifact_mime_type("a.TXT"), "application/octet-stream"); /* exact, as MLflow */
	ck_assert_str_eq(et_artifact_mime_type("plot.png"), "image/png");
	ck_assert_str_eq(et_artifact_mime_type("plot.PNG"), "image/png");
	ck_assert_str_eq(et_artifact_mime_type("page.html"), "text/html");
	ck_assert_str_eq(et_artifact_mime_type("model.pkl"), "application/octet-stream");
	ck_assert_str_eq(et_artifact_mime_type("model.tar.gz"), "application/x-tar");
	ck_assert_str_eq(et_artifact_mime_type(".txt"), "application/octet-stream"); /* splitext: no ext */
	ck_assert_str_eq(et_artifact_mime_type("noext"), "application/octet-stream");
}
END_TEST

START_TEST(content_disposition)
{
	char out[128];
	ck_assert(et_artifact_content_disposition("hi.txt", out, sizeof out));
	ck_assert_str_eq(out, "attachment; filename=hi.txt");
	ck_assert(et_artifact_content_disposition("a\"b;c.txt", out, sizeof out));
	ck_assert_str_eq(out, "attachment; filename*=UTF-8''a%22b%3Bc.txt");
	ck_assert(et_artifact_content_disposition("ü.txt", out, sizeof out));
	ck_assert_str_eq(out, "attachment; filename*=UTF-8''%C3%BC.txt");
	char tiny[20];
	ck_assert(!et_artifact_content_disposition("hi.txt", tiny, sizeof tiny));
	ck_assert(!et_artifact_content_disposition("ü", tiny, sizeof tiny));
}
END_TEST

START_TEST(uri_path)
{
	ck_assert_str_eq(et_artifact_uri_path("mlflow-artifacts:/0/abc/artifacts"), "0/abc/artifacts");
	ck_assert_str_eq(et_artifact_uri_path("mlflow-artifacts://host:5000/7/abc/artifacts"), "7/abc/artifacts");
	ck_assert_str_eq(et_artifact_uri_path("mlflow-artifacts:///7/r/artifacts"), "7/r/artifacts");
	ck_assert_str_eq(et_artifact_uri_path("mlflow-artifacts://host"), "");
	ck_assert_ptr_null(et_artifact_uri_path("s3://bucket/0/abc/artifacts"));
	ck_assert_ptr_null(et_artifact_uri_path("/local/mlruns"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tracker_artifact_path");
	TCase *paths = tcase_create("paths");
	tcase_add_test(paths, accepts_and_canonicalises);
	tcase_add_test(paths, rejects_escapes);
	tcase_add_test(paths, limits);
	tcase_add_test(paths, raw_path);
	tcase_add_test(paths, split);
	suite_add_tcase(s, paths);
	TCase *download = tcase_create("download");
	tcase_add_test(download, mime_types);
	tcase_add_test(download, content_disposition);
	tcase_add_test(download, uri_path);
	suite_add_tcase(s, download);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

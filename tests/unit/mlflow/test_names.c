/* Unit tests of libs/mlflow's name rules (mlflow/names.h): MLflow's characters, path
 * uniqueness (posixpath.normpath) and length limits, counted in characters so that a
 * multi-byte name at the limit passes and one character more fails. Links
 * libmlflow.a. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mlflow/names.h"

static void name_ok(const char *name)
{
	struct core_error err = {{0}};
	ck_assert_msg(mlflow_check_name("tag", name, &err) == CORE_OK, "<%s>: %s", name, err.message);
}

static void name_refused(const char *what, const char *name, const char *message)
{
	struct core_error err = {{0}};
	ck_assert_msg(mlflow_check_name(what, name, &err) == CORE_EINVAL, "<%s> accepted", name);
	ck_assert_msg(strcmp(err.message, message) == 0, "<%s>:\n got  <%s>\n want <%s>", name, err.message, message);
}

/* n copies of s, malloc'd. */
static char *repeat(const char *s, size_t n)
{
	size_t len = strlen(s);
	char *out = malloc(len * n + 1);
	for (size_t i = 0; i < n; i++)
		memcpy(out + i * len, s, len);
	out[len * n] = '\0';
	return out;
}

START_TEST(names_take_mlflow_characters)
{
	name_ok("a");
	name_ok("ok name-1.2/sub_dir");
	name_ok("x..y");
	name_ok("précision/é"); /* \w is Unicode-aware in Python */
	name_refused("tag", "a*b",
		     "Invalid tag name: 'a*b'. Names may only contain alphanumerics, underscores (_), dashes (-), "
		     "periods (.), spaces ( ), and slashes (/).");
	name_refused("metric", "a:b",
		     "Invalid metric name: 'a:b'. Names may only contain alphanumerics, underscores (_), dashes (-), "
		     "periods (.), spaces ( ), and slashes (/).");
}
END_TEST

START_TEST(names_must_be_unique_paths)
{
	static const struct {
		const char *name, *norm;
	} cases[] = {
		{"a//b", "a/b"}, {"./a", "a"}, {"a/.", "a"}, {"a/../b", "b"},
		{"..x", "..x"},  {"/a", "/a"}, {"a/", "a"},  {".", "."},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char want[300];
		snprintf(want, sizeof want,
			 "Invalid parameter name: '%s'. Names may be treated as files in certain cases, and must not "
			 "resolve to other names when treated as such. This name would resolve to '%s'",
			 cases[i].name, cases[i].norm);
		name_refused("parameter", cases[i].name, want);
	}
}
END_TEST

START_TEST(lengths_are_counted_in_characters)
{
	struct core_error err = {{0}};
	char *at = repeat("é", 250); /* 250 characters, 500 bytes */
	ck_assert_uint_eq(mlflow_utf8_chars(at), 250);
	ck_assert_int_eq(mlflow_check_length("Tag key", MLFLOW_MAX_ENTITY_KEY_LENGTH, at, &err), CORE_OK);
	name_ok(at);
	char *over = repeat("日", 251);
	ck_assert_int_eq(mlflow_check_length("Registered model key", 250, over, &err), CORE_EINVAL);
	/* the message keeps its end (clients match on it) even when 250 characters of
	 * the value would not fit */
	const char *tail = "' had length 251, which exceeded length limit of 250";
	ck_assert_msg(strlen(err.message) > strlen(tail) &&
			      strcmp(err.message + strlen(err.message) - strlen(tail), tail) == 0,
		      "%s", err.message);
	ck_assert_int_eq(strncmp(err.message, "Registered model key '日日", strlen("Registered model key '日日")), 0);
	free(over);
	over = repeat("x", 251);
	ck_assert_int_eq(mlflow_check_length("Tag key", 250, over, &err), CORE_EINVAL);
	char want[400];
	snprintf(want, sizeof want, "Tag key '%.250s' had length 251, which exceeded length limit of 250", over);
	ck_assert_str_eq(err.message, want);
	ck_assert_int_eq(mlflow_check_length("Tag value", 5000, NULL, &err), CORE_OK);
	ck_assert_uint_eq(mlflow_utf8_prefix(at, 2), 4);
	ck_assert_uint_eq(mlflow_utf8_prefix("ab", 5), 2);
	free(over);
	free(at);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mlflow_names");
	TCase *tc = tcase_create("names");
	tcase_add_test(tc, names_take_mlflow_characters);
	tcase_add_test(tc, names_must_be_unique_paths);
	tcase_add_test(tc, lengths_are_counted_in_characters);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

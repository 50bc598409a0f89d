/* Unit tests of http_json_text (libs/http/src/json_text.c): json_dumps's output, byte
 * for byte, except that reals are written in their shortest exact form. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "http/http.h"

START_TEST(reals_are_shortest_everything_else_as_jansson)
{
	json_t *v = json_pack("{s:f, s:f, s:f, s:f, s:I, s:s, s:b, s:n, s:[f, f], s:{}}", "a", 0.93, "b", 1e300, "c",
			      3.0, "d", -0.0, "e", (json_int_t)123456789012345678, "s", "q\"\\\n\x01\xc3\xa9/", "t", 1,
			      "z", "arr", 0.1, 5e-324, "o");
	char *text = http_json_text(v, JSON_COMPACT, NULL);
	ck_assert_str_eq(text, "{\"a\":0.93,\"b\":1e300,\"c\":3.0,\"d\":-0.0,\"e\":123456789012345678,"
			       "\"s\":\"q\\\"\\\\\\n\\u0001\xc3\xa9/\",\"t\":true,\"z\":null,"
			       "\"arr\":[0.1,5e-324],\"o\":{}}");
	free(text);
	/* without reals the text is json_dumps's, in both separators' styles */
	json_object_del(v, "a"), json_object_del(v, "b"), json_object_del(v, "c"), json_object_del(v, "d");
	json_object_set_new(v, "arr", json_pack("[i, s]", 1, "x"));
	json_object_set_new(v, "k\ty", json_string("tab key"));
	for (int compact = 0; compact < 2; compact++) {
		size_t flags = compact ? JSON_COMPACT : 0, len = 0;
		char *want = json_dumps(v, flags | JSON_ENCODE_ANY);
		text = http_json_text(v, flags, &len);
		ck_assert_str_eq(text, want);
		ck_assert_uint_eq(len, strlen(want));
		free(want);
		free(text);
	}
	json_decref(v);
}
END_TEST

START_TEST(scalars_and_null)
{
	json_t *r = json_real(0.1 + 0.2);
	char *text = http_json_text(r, JSON_COMPACT, NULL);
	ck_assert_str_eq(text, "0.30000000000000004");
	free(text);
	json_decref(r);
	ck_assert_ptr_null(http_json_text(NULL, JSON_COMPACT, NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http_json_text");
	TCase *tc = tcase_create("json_text");
	tcase_add_test(tc, reals_are_shortest_everything_else_as_jansson);
	tcase_add_test(tc, scalars_and_null);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Unit tests of the JSON spec engine (libs/http/src/jspec.c) over plain jansson
 * objects: every type and its coercions, presence rules, and the MLflow-worded messages
 * for missing and mistyped fields, which must name the field (nested paths included).
 * The request side (body/query → arguments, the 400 reply) is in test_server.c. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "http/jspec.h"

/* a spec row as a value (the row macros are brace initializers, for tables) */
#define ROW(...) ((struct http_jspec)__VA_ARGS__)
#define DOCS     "See the API docs for more information about request parameters."

static json_t *load(const char *text)
{
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);
	ck_assert_msg(j != NULL, "bad test JSON: %s", jerr.text);
	return j;
}

/* Parses text against a one-row spec and returns the status; err gets the message. */
static enum core_status parse1(const char *text, struct http_jspec row, struct core_error *err)
{
	json_t *obj = load(text);
	struct http_jspec spec[] = {row, HTTP_JS_END};
	enum core_status rc = http_jspec_parse(obj, spec, err);
	json_decref(obj);
	return rc;
}

/* --- types -------------------------------------------------------------------------- */

START_TEST(all_types_ok)
{
	const char *s = NULL;
	int64_t i = 0;
	double d = 0;
	bool b = false, s_present = false;
	json_t *o = NULL, *a = NULL, *any = NULL;
	struct core_error err;
	json_t *obj = load("{\"s\":\"x\",\"i\":-42,\"d\":2.5,\"b\":true,\"o\":{\"k\":1},\"a\":[1,2],\"any\":7}");
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_STRING("s", &s, &s_present),
		HTTP_JS_REQ_INT64("i", &i),
		HTTP_JS_REQ_DOUBLE("d", &d),
		HTTP_JS_REQ_BOOL("b", &b),
		HTTP_JS_REQ_OBJECT("o", &o),
		HTTP_JS_REQ_ARRAY("a", &a),
		HTTP_JS_REQ_ANY("any", &any),
		HTTP_JS_END,
	};
	ck_assert_int_eq(http_jspec_parse(obj, spec, &err), CORE_OK);
	ck_assert_str_eq(s, "x");
	ck_assert(s_present);
	ck_assert_int_eq(i, -42);
	ck_assert_double_eq(d, 2.5);
	ck_assert(b);
	ck_assert_ptr_eq(o, json_object_get(obj, "o"));
	ck_assert_ptr_eq(a, json_object_get(obj, "a"));
	ck_assert_int_eq(json_integer_value(any), 7);
	json_decref(obj);
}
END_TEST

START_TEST(int64_coercions)
{
	int64_t v = 0;
	struct core_error err;
	ck_assert_int_eq(parse1("{\"v\":\"1700000000123\"}", ROW(HTTP_JS_REQ_INT64("v", &v)), &err), CORE_OK);
	ck_assert_int_eq(v, 1700000000123LL);
	ck_assert_int_eq(parse1("{\"v\":\"-9223372036854775808\"}", ROW(HTTP_JS_REQ_INT64("v", &v)), &err), CORE_OK);
	ck_assert_int_eq(v, INT64_MIN);
	ck_assert_int_eq(parse1("{\"v\":\"+5\"}", ROW(HTTP_JS_REQ_INT64("v", &v)), &err), CORE_OK);
	ck_assert_int_eq(v, 5);
	ck_assert_int_eq(parse1("{\"v\":12.0}", ROW(HTTP_JS_REQ_INT64("v", &v)), &err), CORE_OK);
	ck_assert_int_eq(v, 12);
	ck_assert_int_eq(parse1("{\"v\":9223372036854775807}", ROW(HTTP_JS_REQ_INT64("v", &v)), &err), CORE_OK);
	ck_assert_int_eq(v, INT64_MAX);
	const char *bad[] = {"{\"v\":1.5}",       "{\"v\":\"9223372036854775808\"}",
			     "{\"v\":\"12abc\"}", "{\"v\":\" 12\"}",
			     "{\"v\":\"-\"}",     "{\"v\":true}",
			     "{\"v\":[1]}",       "{\"v\":1e300}",
			     "{\"v\":\"1e3\"}"};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
		ck_assert_msg(parse1(bad[k], ROW(HTTP_JS_REQ_INT64("v", &v)), &err) == CORE_EINVAL, "%s accepted",
			      bad[k]);
}
END_TEST

START_TEST(double_coercions)
{
	double v = 0;
	struct core_error err;
	ck_assert_int_eq(parse1("{\"v\":3}", ROW(HTTP_JS_REQ_DOUBLE("v", &v)), &err), CORE_OK);
	ck_assert_double_eq(v, 3.0);
	ck_assert_int_eq(parse1("{\"v\":\"-2.5e3\"}", ROW(HTTP_JS_REQ_DOUBLE("v", &v)), &err), CORE_OK);
	ck_assert_double_eq(v, -2500.0);
	ck_assert_int_eq(parse1("{\"v\":\"NaN\"}", ROW(HTTP_JS_REQ_DOUBLE("v", &v)), &err), CORE_OK);
	ck_assert(isnan(v));
	ck_assert_int_eq(parse1("{\"v\":\"Infinity\"}", ROW(HTTP_JS_REQ_DOUBLE("v", &v)), &err), CORE_OK);
	ck_assert(isinf(v) && v > 0);
	ck_assert_int_eq(parse1("{\"v\":\"-Infinity\"}", ROW(HTTP_JS_REQ_DOUBLE("v", &v)), &err), CORE_OK);
	ck_assert(isinf(v) && v < 0);
	ck_assert_int_eq(parse1("{\"v\":\"1e-400\"}", ROW(HTTP_JS_REQ_DOUBLE("v", &v)), &err), CORE_OK); /* underflow */
	const char *bad[] = {"{\"v\":\"notanumber\"}", "{\"v\":\"1e999\"}", "{\"v\":\"0x10\"}", "{\"v\":\"\"}",
			     "{\"v\":\"1.5 \"}",       "{\"v\":false}",     "{\"v\":{}}",       "{\"v\":\"inf\"}"};
	for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
		ck_assert_msg(parse1(bad[k], ROW(HTTP_JS_REQ_DOUBLE("v", &v)), &err) == CORE_EINVAL, "%s accepted",
			      bad[k]);
}
END_TEST

START_TEST(bool_coercions)
{
	bool v = false;
	struct core_error err;
	ck_assert_int_eq(parse1("{\"v\":\"true\"}", ROW(HTTP_JS_REQ_BOOL("v", &v)), &err), CORE_OK);
	ck_assert(v);
	ck_assert_int_eq(parse1("{\"v\":\"FALSE\"}", ROW(HTTP_JS_REQ_BOOL("v", &v)), &err), CORE_OK);
	ck_assert(!v);
	ck_assert_int_eq(parse1("{\"v\":false}", ROW(HTTP_JS_REQ_BOOL("v", &v)), &err), CORE_OK);
	ck_assert_int_eq(parse1("{\"v\":1}", ROW(HTTP_JS_REQ_BOOL("v", &v)), &err), CORE_EINVAL);
	ck_assert_int_eq(parse1("{\"v\":\"yes\"}", ROW(HTTP_JS_REQ_BOOL("v", &v)), &err), CORE_EINVAL);
}
END_TEST

START_TEST(containers_and_any)
{
	json_t *v = NULL;
	struct core_error err;
	ck_assert_int_eq(parse1("{\"v\":[]}", ROW(HTTP_JS_REQ_OBJECT("v", &v)), &err), CORE_EINVAL);
	ck_assert_int_eq(parse1("{\"v\":{}}", ROW(HTTP_JS_REQ_ARRAY("v", &v)), &err), CORE_EINVAL);
	ck_assert_int_eq(parse1("{\"v\":\"s\"}", ROW(HTTP_JS_REQ_ANY("v", &v)), &err), CORE_OK);
	ck_assert_int_eq(parse1("{\"v\":null}", ROW(HTTP_JS_REQ_ANY("v", &v)), &err), CORE_EINVAL); /* null = missing */
	/* out may be NULL: the row only checks */
	ck_assert_int_eq(parse1("{\"v\":1}", ROW(HTTP_JS_REQ_INT64("v", NULL)), &err), CORE_OK);
}
END_TEST

/* --- presence ----------------------------------------------------------------------- */

START_TEST(missing_required_message)
{
	const char *key = NULL;
	struct core_error err;
	ck_assert_int_eq(parse1("{\"other\":1}", ROW(HTTP_JS_REQ_STRING("key", &key)), &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "Missing value for required parameter 'key'. " DOCS);
	/* null and "" count as missing for a required string */
	ck_assert_int_eq(parse1("{\"key\":null}", ROW(HTTP_JS_REQ_STRING("key", &key)), &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "Missing value for required parameter 'key'. " DOCS);
	ck_assert_int_eq(parse1("{\"key\":\"\"}", ROW(HTTP_JS_REQ_STRING("key", &key)), &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "Missing value for required parameter 'key'. " DOCS);
	ck_assert_ptr_null(key);
}
END_TEST

START_TEST(optional_keeps_default)
{
	int64_t step = 7;
	const char *desc = "unchanged";
	bool step_present = true, desc_present = false;
	struct core_error err;
	json_t *obj = load("{\"description\":\"\",\"step\":null}");
	const struct http_jspec spec[] = {
		HTTP_JS_OPT_INT64("step", &step, &step_present),
		HTTP_JS_OPT_STRING("description", &desc, &desc_present),
		HTTP_JS_END,
	};
	ck_assert_int_eq(http_jspec_parse(obj, spec, &err), CORE_OK);
	ck_assert_int_eq(step, 7);
	ck_assert(!step_present);
	ck_assert_str_eq(desc, ""); /* an optional "" is a value */
	ck_assert(desc_present);
	json_decref(obj);
}
END_TEST

/* --- wrong types ---------------------------------------------------------------------- */

START_TEST(mistyped_messages_name_field)
{
	double value;
	const char *name;
	json_t *tags;
	int64_t i;
	struct core_error err;
	ck_assert_int_eq(parse1("{\"value\":\"notanumber\"}", ROW(HTTP_JS_REQ_DOUBLE("value", &value)), &err),
			 CORE_EINVAL);
	ck_assert_str_eq(err.message, "Invalid value notanumber for parameter 'value' supplied. Hint: Value was of "
				      "type 'str'. " DOCS);
	ck_assert_int_eq(parse1("{\"name\":5}", ROW(HTTP_JS_REQ_STRING("name", &name)), &err), CORE_EINVAL);
	ck_assert_str_eq(err.message,
			 "Invalid value 5 for parameter 'name' supplied. Hint: Value was of type 'int'. " DOCS);
	ck_assert_int_eq(parse1("{\"tags\":[1,\"a\"]}", ROW(HTTP_JS_REQ_OBJECT("tags", &tags)), &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "Invalid value [1,\"a\"] for parameter 'tags'"));
	ck_assert_ptr_nonnull(strstr(err.message, "'list'"));
	ck_assert_int_eq(parse1("{\"step\":1.5}", ROW(HTTP_JS_REQ_INT64("step", &i)), &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "Invalid value 1.5 for parameter 'step'"));
	ck_assert_ptr_nonnull(strstr(err.message, "'float'"));
	ck_assert_int_eq(parse1("{\"step\":2e0}", ROW(HTTP_JS_REQ_STRING("step", &name)), &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "Invalid value 2.0 for"));
	ck_assert_int_eq(parse1("{\"flag\":true}", ROW(HTTP_JS_REQ_INT64("flag", &i)), &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "Invalid value True for parameter 'flag'"));
	ck_assert_ptr_nonnull(strstr(err.message, "'bool'"));
	ck_assert_int_eq(parse1("{\"o\":{\"k\":null}}", ROW(HTTP_JS_REQ_ARRAY("o", &tags)), &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "'dict'"));
}
END_TEST

START_TEST(first_failing_row_wins)
{
	const char *a = NULL, *b = NULL;
	struct core_error err;
	json_t *obj = load("{\"a\":\"ok\",\"b\":3}");
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("a", &a), HTTP_JS_REQ_STRING("b", &b),
					  HTTP_JS_REQ_STRING("c", NULL), HTTP_JS_END};
	ck_assert_int_eq(http_jspec_parse(obj, spec, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "parameter 'b'"));
	ck_assert_str_eq(a, "ok");
	json_decref(obj);
}
END_TEST

/* --- nested objects ----------------------------------------------------------------- */

START_TEST(nested_path_named)
{
	const char *key;
	double value;
	int64_t ts;
	struct core_error err;
	json_t *batch = load("{\"metrics\":[{\"key\":\"a\",\"value\":1,\"timestamp\":1},"
			     "{\"key\":\"b\",\"value\":\"x\",\"timestamp\":2},{\"key\":\"c\"},7]}");
	const struct http_jspec spec[] = {HTTP_JS_REQ_STRING("key", &key), HTTP_JS_REQ_DOUBLE("value", &value),
					  HTTP_JS_REQ_INT64("timestamp", &ts), HTTP_JS_END};
	json_t *metrics = json_object_get(batch, "metrics");
	ck_assert_int_eq(http_jspec_parse_at(json_array_get(metrics, 0), spec, "metrics[0]", &err), CORE_OK);
	ck_assert_str_eq(key, "a");
	ck_assert_int_eq(http_jspec_parse_at(json_array_get(metrics, 1), spec, "metrics[1]", &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "Invalid value x for parameter 'metrics[1].value' supplied. Hint: Value was "
				      "of type 'str'. " DOCS);
	ck_assert_int_eq(http_jspec_parse_at(json_array_get(metrics, 2), spec, "metrics[2]", &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "Missing value for required parameter 'metrics[2].value'. " DOCS);
	ck_assert_int_eq(http_jspec_parse_at(json_array_get(metrics, 3), spec, "metrics[3]", &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "'metrics[3]'"));
	ck_assert_int_eq(http_jspec_parse(NULL, spec, &err), CORE_EINVAL);
	ck_assert_int_eq(http_jspec_parse(metrics, spec, NULL), CORE_EINVAL); /* err may be NULL */
	json_decref(batch);
}
END_TEST

static Suite *jspec_suite(void)
{
	Suite *s = suite_create("http_jspec");
	TCase *tc = tcase_create("types");
	tcase_add_test(tc, all_types_ok);
	tcase_add_test(tc, int64_coercions);
	tcase_add_test(tc, double_coercions);
	tcase_add_test(tc, bool_coercions);
	tcase_add_test(tc, containers_and_any);
	suite_add_tcase(s, tc);
	tc = tcase_create("presence");
	tcase_add_test(tc, missing_required_message);
	tcase_add_test(tc, optional_keeps_default);
	suite_add_tcase(s, tc);
	tc = tcase_create("errors");
	tcase_add_test(tc, mistyped_messages_name_field);
	tcase_add_test(tc, first_failing_row_wins);
	tcase_add_test(tc, nested_path_named);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(jspec_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Unit tests of the tabular encoder (libs/ml ml/tabular.h), the one path the data
 * registry's tensor export and the inference API encode table rows with: hand-computed
 * rows over metadata shaped as the export writes it (numeric mean/std/fill with and
 * without standardisation, categorical one-hot and index, missing and unknown values,
 * numbers given to categorical columns), strict refusals, and malformed metadata. */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ml/tabular.h"

/* As services/data-registry/tensors.c writes it (tabular_meta). */
static const char *const PREP = "{\"columns\": ["
				"{\"name\": \"age\", \"type\": \"numeric\", \"mean\": 40.0, \"std\": 10.0, "
				"\"fill\": 40.0},"
				"{\"name\": \"city\", \"type\": \"categorical\", \"vocabulary\": [\"Lyon\", \"Oslo\", "
				"\"Rome\"]},"
				"{\"name\": \"rooms\", \"type\": \"categorical\", \"vocabulary\": [\"1\", \"2.5\", "
				"\"3\"]}],"
				"\"one_hot\": %s, \"standardize\": %s, \"std_ddof\": 0}";

static void compile(struct ml_tabular *t, const char *one_hot, const char *standardize)
{
	char text[1024];
	snprintf(text, sizeof text, PREP, one_hot, standardize);
	json_error_t jerr;
	json_t *j = json_loads(text, 0, &jerr);
	ck_assert_msg(j != NULL, "%s", jerr.text);
	struct core_error err = {{0}};
	ck_assert_msg(ml_tabular_compile(j, t, &err) == CORE_OK, "%s", err.message);
	json_decref(j);
}

#define TXT(s) ((struct ml_tab_value){.kind = ML_TAB_TEXT, .text = (s)})
#define NUM(v) ((struct ml_tab_value){.kind = ML_TAB_NUMBER, .num = (v)})
#define MISS   ((struct ml_tab_value){.kind = ML_TAB_MISSING})

static void expect_row(const struct ml_tabular *t, const struct ml_tab_value *row, const float *want, size_t n)
{
	float out[16];
	struct core_error err = {{0}};
	ck_assert_uint_eq(t->width, n);
	ck_assert_msg(ml_tabular_encode(t, row, true, out, NULL, &err) == CORE_OK, "%s", err.message);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(out[i] == want[i], "feature %zu: %g, want %g", i, (double)out[i], (double)want[i]);
}

START_TEST(one_hot_standardized)
{
	struct ml_tabular t;
	compile(&t, "true", "true");
	ck_assert_uint_eq(t.n_cols, 3);
	ck_assert_str_eq(t.cols[1].name, "city");
	/* numbers and text alike; 2.5 matches the entry "2.5" */
	struct ml_tab_value r1[] = {NUM(55), TXT("Oslo"), NUM(2.5)};
	expect_row(&t, r1, (float[]){1.5f, 0, 1, 0, 0, 1, 0}, 7);
	struct ml_tab_value r2[] = {TXT("25"), TXT("Rome"), TXT("3")};
	expect_row(&t, r2, (float[]){-1.5f, 0, 0, 1, 0, 0, 1}, 7);
	/* missing: the fill (standardised: 0); categorical all zeros; unknown too */
	struct ml_tab_value r3[] = {MISS, TXT("NA"), TXT("Paris")};
	expect_row(&t, r3, (float[]){0, 0, 0, 0, 0, 0, 0}, 7);
	struct ml_tab_value r4[] = {TXT(""), MISS, NUM(3.0)};
	expect_row(&t, r4, (float[]){0, 0, 0, 0, 0, 0, 1}, 7);
	ml_tabular_free(&t);
	ml_tabular_free(&t); /* twice is fine */
}
END_TEST

START_TEST(index_raw)
{
	struct ml_tabular t;
	compile(&t, "false", "false");
	ck_assert_uint_eq(t.width, 3);
	struct ml_tab_value r1[] = {NUM(55), TXT("Lyon"), NUM(1)};
	expect_row(&t, r1, (float[]){55, 0, 0}, 3);
	struct ml_tab_value r2[] = {TXT("null"), TXT("Paris"), NUM(7)};
	expect_row(&t, r2, (float[]){40, -1, -1}, 3);
	ml_tabular_free(&t);
}
END_TEST

/* The export (not strict) fills a stray text; serving (strict) names the column. */
START_TEST(strict_and_lenient)
{
	struct ml_tabular t;
	compile(&t, "true", "false");
	struct ml_tab_value row[] = {TXT("old"), TXT("Oslo"), TXT("1")};
	float out[7];
	struct core_error err = {{0}};
	size_t bad = 99;
	ck_assert_int_eq(ml_tabular_encode(&t, row, true, out, &bad, &err), CORE_EINVAL);
	ck_assert_uint_eq(bad, 0);
	ck_assert_str_eq(err.message, "column 'age': 'old' is not a number");
	ck_assert_int_eq(ml_tabular_encode(&t, row, false, out, NULL, NULL), CORE_OK);
	ck_assert(out[0] == 40.0f && out[2] == 1.0f && out[4] == 1.0f);
	struct ml_tab_value inf[] = {NUM(INFINITY), TXT("Oslo"), TXT("1")};
	ck_assert_int_eq(ml_tabular_encode(&t, inf, true, out, &bad, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "column 'age': the value is not finite");
	ml_tabular_free(&t);
}
END_TEST

/* Defaults as the data registry's (one_hot true, standardize false; fill = mean; std
 * 0 divides by 1). */
START_TEST(defaults)
{
	json_t *j = json_loads("{\"columns\": [{\"name\": \"x\", \"type\": \"numeric\", \"mean\": 2, \"std\": 0},"
			       "{\"name\": \"c\", \"type\": \"categorical\", \"vocabulary\": [\"b\", \"a\"]}]}",
			       0, NULL);
	struct ml_tabular t;
	struct core_error err = {{0}};
	ck_assert_msg(ml_tabular_compile(j, &t, &err) == CORE_OK, "%s", err.message);
	ck_assert(t.one_hot && !t.standardize);
	/* vocabulary order is the index order, whatever its sorting */
	struct ml_tab_value row[] = {MISS, TXT("a")};
	expect_row(&t, row, (float[]){2, 0, 1}, 3);
	ml_tabular_free(&t);
	json_decref(j);
	j = json_loads("{\"columns\": [{\"name\": \"x\", \"type\": \"numeric\", \"mean\": 2, \"std\": 0}],"
		       "\"standardize\": true}",
		       0, NULL);
	ck_assert_int_eq(ml_tabular_compile(j, &t, &err), CORE_OK);
	struct ml_tab_value r2[] = {NUM(5)};
	expect_row(&t, r2, (float[]){3}, 1);
	ml_tabular_free(&t);
	json_decref(j);
}
END_TEST

START_TEST(malformed_refused)
{
	static const struct {
		const char *json, *msg;
	} cases[] = {
		{"{}", "preprocessing: columns must be a non-empty array"},
		{"{\"columns\": []}", "preprocessing: columns must be a non-empty array"},
		{"{\"columns\": [{\"type\": \"numeric\", \"mean\": 1}]}",
		 "columns[0]: an object with a non-empty name"},
		{"{\"columns\": [{\"name\": \"a\", \"type\": \"date\"}]}",
		 "columns[0]: type must be numeric or categorical, got 'date'"},
		{"{\"columns\": [{\"name\": \"a\", \"type\": \"numeric\"}]}",
		 "columns[0]: mean must be a finite number"},
		{"{\"columns\": [{\"name\": \"a\", \"type\": \"numeric\", \"mean\": 0, \"std\": -1}]}",
		 "columns[0]: std must be >= 0"},
		{"{\"columns\": [{\"name\": \"a\", \"type\": \"categorical\", \"vocabulary\": [\"x\", 1]}]}",
		 "columns[0]: vocabulary[1] must be a string"},
		{"{\"columns\": [{\"name\": \"a\", \"type\": \"categorical\", \"vocabulary\": [\"x\", \"x\"]}]}",
		 "columns[0]: vocabulary has 'x' twice"},
		{"{\"columns\": [{\"name\": \"a\", \"type\": \"categorical\", \"vocabulary\": []}]}",
		 "preprocessing: the columns encode to no feature"},
		{"{\"columns\": [{\"name\": \"a\", \"type\": \"numeric\", \"mean\": 0},"
		 "{\"name\": \"a\", \"type\": \"numeric\", \"mean\": 0}]}",
		 "columns[1]: 'a' is named twice"},
		{"{\"columns\": [{\"name\": \"a\", \"type\": \"numeric\", \"mean\": 0}], \"one_hot\": 1}",
		 "one_hot must be true or false"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		json_t *j = json_loads(cases[i].json, 0, NULL);
		ck_assert_ptr_nonnull(j);
		struct ml_tabular t;
		struct core_error err = {{0}};
		ck_assert_int_eq(ml_tabular_compile(j, &t, &err), CORE_EINVAL);
		ck_assert_str_eq(err.message, cases[i].msg);
		ck_assert_ptr_null(t.cols);
		json_decref(j);
	}
}
END_TEST

START_TEST(missing_and_number_texts)
{
	const char *miss[] = {"", "NA", "N/A", "NaN", "nan", "null"};
	for (size_t i = 0; i < sizeof miss / sizeof *miss; i++)
		ck_assert(ml_tabular_missing_text(miss[i]));
	ck_assert(!ml_tabular_missing_text("None"));
	double d;
	ck_assert(ml_tabular_number_text("-1.5e2", &d) && d == -150);
	ck_assert(!ml_tabular_number_text("1x", &d));
	ck_assert(!ml_tabular_number_text("inf", &d));
	ck_assert(!ml_tabular_number_text("1e999", &d));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ml_tabular");
	TCase *tc = tcase_create("tabular");
	tcase_add_test(tc, one_hot_standardized);
	tcase_add_test(tc, index_raw);
	tcase_add_test(tc, strict_and_lenient);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, malformed_refused);
	tcase_add_test(tc, missing_and_number_texts);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

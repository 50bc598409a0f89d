/* Unit tests of reference.json (services/trainer/reference.c, through tr.h): on small
 * hand-made validation splits, the input profile (per feature for tabular data; pixels,
 * per-image brightness and contrast for images) and the predictions' class shares,
 * true-label shares and confidence histogram are the values worked out by hand (the
 * statistics themselves are libs/stats', checked against numpy in its own tests). */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include "ml/nn.h"
#include "tr.h"

static double member(json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

START_TEST(tabular_classification)
{
	static const float x[] = {1, 10, 2, 20, 3, 30, 4, 40};
	static const int64_t y[] = {0, 1, 1, 2};
	static const float probs[] = {0.7f, 0.2f, 0.1f, 0.1f, 0.8f, 0.1f, 0.3f, 0.3f, 0.4f, 0.5f, 0.5f, 0.0f};
	static const char *const names[] = {"cat", "dog", "eel"};
	struct ml_data val = {.x = x, .y = y, .n = 4, .shape = {2, 1, 1}};
	json_t *ref = tr_reference_build(&val, probs, 3, names);
	ck_assert_ptr_nonnull(ref);
	ck_assert_int_eq(json_integer_value(json_object_get(ref, "format_version")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(ref, "rows")), 4);
	json_t *in = json_object_get(ref, "input");
	ck_assert_str_eq(json_string_value(json_object_get(in, "kind")), "tabular");
	json_t *f = json_object_get(in, "features");
	ck_assert_uint_eq(json_array_size(f), 2);
	json_t *f1 = json_array_get(f, 1);
	ck_assert_int_eq(json_integer_value(json_object_get(f1, "index")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(f1, "count")), 4);
	ck_assert_double_eq_tol(member(f1, "mean"), 25.0, 1e-12);
	ck_assert_double_eq_tol(member(f1, "std"), sqrt(500.0 / 3.0), 1e-9);
	ck_assert_double_eq(member(f1, "min"), 10.0);
	ck_assert_double_eq_tol(member(json_object_get(f1, "quantiles"), "p50"), 25.0, 1e-12);
	ck_assert_double_eq_tol(member(json_object_get(f1, "quantiles"), "p25"), 17.5, 1e-12);
	json_t *h = json_object_get(f1, "histogram");
	ck_assert_uint_eq(json_array_size(json_object_get(h, "edges")), 21);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(h, "counts"), 0)), 1);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(h, "counts"), 19)), 1);
	ck_assert(json_is_true(json_object_get(f1, "quantiles_exact")));

	json_t *p = json_object_get(ref, "predictions");
	ck_assert_str_eq(json_string_value(json_object_get(p, "task")), "classification");
	json_t *cl = json_object_get(p, "classes");
	ck_assert_uint_eq(json_array_size(cl), 3);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(cl, 0), "name")), "cat");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(cl, 0), "count")), 2); /* a tie: the first */
	ck_assert_double_eq_tol(member(json_array_get(cl, 0), "share"), 0.5, 1e-12);
	ck_assert_double_eq_tol(member(json_array_get(cl, 2), "share"), 0.25, 1e-12);
	json_t *lb = json_object_get(p, "labels");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(lb, 1), "count")), 2);
	json_t *conf = json_object_get(p, "confidence");
	ck_assert_double_eq_tol(member(conf, "mean"), 0.6, 1e-6);
	json_t *cc = json_object_get(json_object_get(conf, "histogram"), "counts");
	ck_assert_uint_eq(json_array_size(cc), 10);
	/* float32 0.7f is 0.69999998: bin 6, as numpy.histogram puts it */
	static const int want[10] = {0, 0, 0, 0, 1, 1, 1, 0, 1, 0};
	for (size_t i = 0; i < 10; i++)
		ck_assert_int_eq(json_integer_value(json_array_get(cc, i)), want[i]);
	json_decref(ref);
}
END_TEST

START_TEST(image_summaries_and_full_confidence)
{
	/* two 1x2x2 images: brightness 0.5 and 1, contrast 0.5 and 0 */
	static const float x[] = {0, 0, 1, 1, 1, 1, 1, 1};
	static const int64_t y[] = {0, 1};
	static const float probs[] = {1.0f, 0.0f, 0.0f, 1.0f};
	struct ml_data val = {.x = x, .y = y, .n = 2, .shape = {1, 2, 2}};
	json_t *ref = tr_reference_build(&val, probs, 2, NULL);
	json_t *in = json_object_get(ref, "input");
	ck_assert_str_eq(json_string_value(json_object_get(in, "kind")), "image");
	ck_assert_ptr_null(json_object_get(in, "features"));
	json_t *px = json_object_get(in, "pixels");
	ck_assert_int_eq(json_integer_value(json_object_get(px, "count")), 8);
	ck_assert_double_eq_tol(member(px, "mean"), 0.75, 1e-12);
	json_t *b = json_object_get(in, "brightness"), *c = json_object_get(in, "contrast");
	ck_assert_int_eq(json_integer_value(json_object_get(b, "count")), 2);
	ck_assert_double_eq_tol(member(b, "mean"), 0.75, 1e-12);
	ck_assert_double_eq_tol(member(c, "max"), 0.5, 1e-12);
	ck_assert_double_eq_tol(member(c, "min"), 0.0, 1e-12);
	json_t *p = json_object_get(ref, "predictions");
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(p, "classes"), 1), "name")),
			 "1");
	/* a confidence of exactly 1 lands in the last bin, closed as numpy's */
	json_t *cc = json_object_get(json_object_get(json_object_get(p, "confidence"), "histogram"), "counts");
	ck_assert_int_eq(json_integer_value(json_array_get(cc, 9)), 2);
	json_decref(ref);
}
END_TEST

START_TEST(regression_outputs_and_missing_values)
{
	static const float x[] = {1, 2, 3, NAN};
	static const float yr[] = {1, 2, 3, 4};
	static const float pred[] = {1.5f, 2.5f, 2.5f, 3.5f};
	struct ml_data val = {.x = x, .yr = yr, .n = 4, .shape = {1, 1, 1}};
	json_t *ref = tr_reference_build(&val, pred, 1, NULL);
	json_t *f0 = json_array_get(json_object_get(json_object_get(ref, "input"), "features"), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(f0, "count")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(f0, "missing")), 1);
	json_t *p = json_object_get(ref, "predictions");
	ck_assert_str_eq(json_string_value(json_object_get(p, "task")), "regression");
	json_t *o = json_array_get(json_object_get(p, "outputs"), 0);
	ck_assert_double_eq_tol(member(o, "mean"), 2.5, 1e-12);
	ck_assert_double_eq_tol(member(json_object_get(o, "quantiles"), "p50"), 2.5, 1e-12);
	json_decref(ref);
	/* one row: the std does not exist */
	val.n = 1;
	ref = tr_reference_build(&val, pred, 1, NULL);
	f0 = json_array_get(json_object_get(json_object_get(ref, "input"), "features"), 0);
	ck_assert(json_is_null(json_object_get(f0, "std")));
	json_decref(ref);
	ck_assert_ptr_null(tr_reference_build(&val, NULL, 1, NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("trainer-reference");
	TCase *tc = tcase_create("reference");
	tcase_add_test(tc, tabular_classification);
	tcase_add_test(tc, image_summaries_and_full_confidence);
	tcase_add_test(tc, regression_outputs_and_missing_values);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

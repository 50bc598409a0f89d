/* Unit tests of the inference API's prep.c: a package's preprocessing compiled into the
 * model's fields (images, tabular, none), pixels prepared exactly as libs/img prepares
 * the same image for the data registry's export (CHW in, compared bit for bit), pixels
 * that no 8-bit image holds refused, and table rows through ml/tabular with the row and
 * column named on a bad value. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include "prep.h"

static void model_new(struct ia_model *m, struct ml_shape in, const char *prep_json)
{
	memset(m, 0, sizeof *m);
	m->name = "m";
	struct ml_layer_spec l[] = {{.kind = ML_FLATTEN}, {.kind = ML_DENSE, .units = 2}};
	struct core_error err = {{0}};
	ck_assert_msg(ml_net_new(l, 2, in, &m->pkg.net, &err) == CORE_OK, "%s", err.message);
	if (prep_json) {
		json_error_t jerr;
		m->pkg.preprocessing = json_loads(prep_json, 0, &jerr);
		ck_assert_msg(m->pkg.preprocessing != NULL, "%s", jerr.text);
	}
}

static void model_free(struct ia_model *m)
{
	ia_prep_free(m);
	ml_package_free(&m->pkg);
}

START_TEST(image_pixels_match_libimg)
{
	struct ia_model m;
	model_new(&m, (struct ml_shape){3, 4, 5},
		  "{\"size\": [4, 5], \"channels\": 3, \"normalize\": \"meanstd\", \"mean\": [0.5, 0.4, 0.3],"
		  "\"std\": [0.2, 0.25, 0.3], \"layout\": \"NCHW\"}");
	struct core_error err = {{0}};
	ck_assert_msg(ia_prep_compile(&m, &err) == CORE_OK, "%s", err.message);
	ck_assert_int_eq(m.kind, IA_INPUT_IMAGE);
	ck_assert(m.c == 3 && m.h == 4 && m.w == 5 && m.n_raw == 60 && m.n_in == 60);
	ck_assert_int_eq(m.prep.norm, IMG_NORM_MEANSTD);
	/* two images, HWC bytes as a decoder gives them, and the same as CHW floats */
	uint8_t hwc[2][60];
	float chw[120], x[120], want[120];
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < 60; k++)
			hwc[i][k] = (uint8_t)((k * 37 + i * 101) % 256);
	for (int i = 0; i < 2; i++)
		for (int c = 0; c < 3; c++)
			for (int p = 0; p < 20; p++)
				chw[i * 60 + c * 20 + p] = hwc[i][p * 3 + c];
	for (int i = 0; i < 2; i++) {
		struct img_image im = {.width = 5, .height = 4, .channels = 3, .pixels = hwc[i]};
		ck_assert_int_eq(img_preprocess_pixels(&im, &m.prep, want + i * 60, &err), CORE_OK);
	}
	ck_assert_msg(ia_prep_pixels(&m, chw, 2, x, &err) == CORE_OK, "%s", err.message);
	ck_assert(memcmp(x, want, sizeof x) == 0);
	/* not an 8-bit value: refused, naming where */
	chw[60 + 7] = 255.5f;
	ck_assert_int_eq(ia_prep_pixels(&m, chw, 2, x, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "row 1: value 7 is 255.5: pixel values are integers 0..255");
	chw[60 + 7] = -1;
	ck_assert_int_eq(ia_prep_pixels(&m, chw, 2, x, &err), CORE_EINVAL);
	chw[60 + 7] = 256;
	ck_assert_int_eq(ia_prep_pixels(&m, chw, 2, x, &err), CORE_EINVAL);
	/* rows into an image model: refused */
	struct ia_cell cell = {.num = 1};
	ck_assert_int_eq(ia_prep_rows(&m, &cell, 1, x, &err), CORE_EINVAL);
	model_free(&m);
}
END_TEST

START_TEST(tabular_rows)
{
	struct ia_model m;
	model_new(&m, (struct ml_shape){3, 1, 1},
		  "{\"columns\": [{\"name\": \"a\", \"type\": \"numeric\", \"mean\": 1, \"std\": 2, \"fill\": 1},"
		  "{\"name\": \"b\", \"type\": \"categorical\", \"vocabulary\": [\"x\", \"y\"]}],"
		  "\"one_hot\": true, \"standardize\": true}");
	struct core_error err = {{0}};
	ck_assert_msg(ia_prep_compile(&m, &err) == CORE_OK, "%s", err.message);
	ck_assert_int_eq(m.kind, IA_INPUT_TABULAR);
	ck_assert_uint_eq(m.n_columns, 2);
	ck_assert_str_eq(m.columns[0].name, "a");
	ck_assert(m.columns[0].numeric && !m.columns[1].numeric);
	ck_assert(m.n_raw == 2 && m.n_in == 3);
	struct ia_cell cells[] = {
		{.num = 5}, {.is_str = true, .str = "y"}, {.is_null = true}, {.is_str = true, .str = "x"}};
	float x[6];
	ck_assert_msg(ia_prep_rows(&m, cells, 2, x, &err) == CORE_OK, "%s", err.message);
	float want[] = {2, 0, 1, 0, 1, 0};
	ck_assert(memcmp(x, want, sizeof x) == 0);
	cells[2] = (struct ia_cell){.is_str = true, .str = "many"};
	ck_assert_int_eq(ia_prep_rows(&m, cells, 2, x, &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "row 1: column 'a': 'many' is not a number");
	float px[3] = {0};
	ck_assert_int_eq(ia_prep_pixels(&m, px, 1, x, &err), CORE_EINVAL);
	model_free(&m);
}
END_TEST

START_TEST(no_preprocessing_is_plain_columns)
{
	struct ia_model m;
	model_new(&m, (struct ml_shape){4, 1, 1}, NULL);
	struct core_error err = {{0}};
	ck_assert_msg(ia_prep_compile(&m, &err) == CORE_OK, "%s", err.message);
	ck_assert_int_eq(m.kind, IA_INPUT_TABULAR);
	ck_assert_uint_eq(m.n_columns, 4);
	ck_assert_str_eq(m.columns[3].name, "3");
	struct ia_cell cells[] = {{.num = 1.5}, {.num = -2}, {.is_str = true, .str = "7"}, {.num = 0}};
	float x[4];
	ck_assert_int_eq(ia_prep_rows(&m, cells, 1, x, &err), CORE_OK);
	ck_assert(x[0] == 1.5f && x[1] == -2 && x[2] == 7 && x[3] == 0);
	model_free(&m);
}
END_TEST

START_TEST(mismatch_refused)
{
	static const struct {
		const char *json, *msg;
	} cases[] = {
		{"{\"size\": [4, 4], \"channels\": 1, \"normalize\": \"unit\"}",
		 "preprocessing gives 16 values per input, the net takes 20 (1x4x5)"},
		{"{\"size\": [4], \"channels\": 1}", "preprocessing: size must be [height, width]"},
		{"{\"size\": [4, 5], \"channels\": 2}", "preprocessing: channels must be 1 or 3"},
		{"{\"size\": [4, 5], \"channels\": 1, \"normalize\": \"zscore\"}",
		 "preprocessing: normalize must be none, unit or meanstd"},
		{"{\"size\": [4, 5], \"channels\": 1, \"normalize\": \"meanstd\", \"mean\": [0.5], \"std\": [0]}",
		 "preprocessing: mean must be numbers and std numbers > 0"},
		{"{\"columns\": [{\"name\": \"a\", \"type\": \"numeric\", \"mean\": 0}]}",
		 "preprocessing gives 1 values per input, the net takes 20 (1x4x5)"},
		{"[1]", "preprocessing must be an object or null"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct ia_model m;
		model_new(&m, (struct ml_shape){1, 4, 5}, cases[i].json);
		struct core_error err = {{0}};
		ck_assert_int_eq(ia_prep_compile(&m, &err), CORE_EINVAL);
		ck_assert_str_eq(err.message, cases[i].msg);
		ck_assert_ptr_null(m.tab);
		ck_assert_ptr_null(m.columns);
		model_free(&m);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ia_prep");
	TCase *tc = tcase_create("prep");
	tcase_add_test(tc, image_pixels_match_libimg);
	tcase_add_test(tc, tabular_rows);
	tcase_add_test(tc, no_preprocessing_is_plain_columns);
	tcase_add_test(tc, mismatch_refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

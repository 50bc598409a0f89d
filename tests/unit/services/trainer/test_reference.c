/* Unit tests of reference.json (services/trainer/reference.c, through tr.h): on small
 * hand-made validation splits, the input profile (per feature for tabular data; pixels,
 * per-image brightness and contrast for images) and the predictions' class shares,
 * true-label shares and confidence histogram are the values worked out by hand (the
 * statistics themselves are libs/stats', checked against numpy in its own tests).
 * The client's space ("columns"): tensors made by the real encoders (ml_tabular_encode,
 * img_preprocess_pixels) from raw values give those raw values back: standardised
 * numbers to 1e-6 relative, one-hot and index categories as value counts with the
 * missing ones, an image's brightness and contrast as numpy's mean() and std() of its
 * raw pixels; and the sample rule (every row up to 5000, else rows floor(j * n / S),
 * S capped by the document's budget). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness_util.h"
#include "img/img.h"
#include "ml/nn.h"
#include "ml/tabular.h"
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
	json_t *ref = tr_reference_build(&val, probs, 3, names, NULL);
	ck_assert_ptr_nonnull(ref);
	ck_assert_int_eq(json_integer_value(json_object_get(ref, "format_version")), 2);
	ck_assert_ptr_null(json_object_get(ref, "columns")); /* no preprocessing: nothing to undo */
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
	/* the top probability of every row (4 rows: all of them) */
	static const float top[4] = {0.7f, 0.8f, 0.4f, 0.5f};
	json_t *cs = json_object_get(conf, "sample");
	ck_assert_uint_eq(json_array_size(cs), 4);
	for (size_t i = 0; i < 4; i++)
		ck_assert_double_eq(json_real_value(json_array_get(cs, i)), (double)top[i]);
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
	json_t *ref = tr_reference_build(&val, probs, 2, NULL, NULL);
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
	json_t *ref = tr_reference_build(&val, pred, 1, NULL, NULL);
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
	ref = tr_reference_build(&val, pred, 1, NULL, NULL);
	f0 = json_array_get(json_object_get(json_object_get(ref, "input"), "features"), 0);
	ck_assert(json_is_null(json_object_get(f0, "std")));
	json_decref(ref);
	ck_assert_ptr_null(tr_reference_build(&val, NULL, 1, NULL, NULL));
}
END_TEST

/* --- the client's space ------------------------------------------------------------ */

static json_t *column(json_t *ref, const char *name)
{
	return th_json_find(json_object_get(ref, "columns"), "name", name);
}

static int64_t count_of(json_t *col, const char *value)
{
	return json_integer_value(json_object_get(json_object_get(col, "value_counts"), value));
}

/* 7 rows of (age, city, score): city has a missing and an unknown value. (A float32
 * holds the standardised value to about 6e-8 relative, so a raw value very much
 * closer to 0 than the column's std comes back only to that many of std's digits: the
 * values here are of the columns' own scale.) */
#define TAB_ROWS 7
static const double ages[TAB_ROWS] = {23.7, 41.25, 19.003, 67.125, 38.0, 1234.5678, 55.5};
static const double scores[TAB_ROWS] = {-3.5, 0.25, 17.0, 2.125, -0.75, 9.125, 4.0};
static const char *const cities[TAB_ROWS] = {"oslo", "paris", NULL, "rome", "oslo", "lima", "oslo"};

/* The preprocessing the data registry records (tensors.c tabular_meta), with the
 * standardisation of a fit split. */
static json_t *tab_prep(bool one_hot)
{
	return json_pack("{s:[{s:s,s:s,s:f,s:f,s:f},{s:s,s:s,s:[s,s,s]},{s:s,s:s,s:f,s:f,s:f}],"
			 "s:b,s:b,s:i,s:s}",
			 "columns", "name", "age", "type", "numeric", "mean", 40.5, "std", 12.25, "fill", 40.5, "name",
			 "city", "type", "categorical", "vocabulary", "paris", "oslo", "rome", "name", "score", "type",
			 "numeric", "mean", 1.5, "std", 4.75, "fill", 1.5, "one_hot", one_hot, "standardize", 1,
			 "std_ddof", 0, "fit_split", "train");
}

/* Encodes the rows with the encoder the export uses; x malloc'd [TAB_ROWS, width]. */
static float *tab_encode(const json_t *prep, size_t *width)
{
	struct ml_tabular t;
	struct core_error err = {{0}};
	ck_assert_msg(ml_tabular_compile(prep, &t, &err) == CORE_OK, "%s", err.message);
	float *x = calloc(TAB_ROWS * t.width, sizeof *x);
	for (size_t i = 0; i < TAB_ROWS; i++) {
		struct ml_tab_value row[3] = {
			{.kind = ML_TAB_NUMBER, .num = ages[i]},
			{.kind = cities[i] ? ML_TAB_TEXT : ML_TAB_MISSING, .text = cities[i]},
			{.kind = ML_TAB_NUMBER, .num = scores[i]},
		};
		ck_assert_int_eq(ml_tabular_encode(&t, row, false, x + i * t.width, NULL, &err), CORE_OK);
	}
	*width = t.width;
	ml_tabular_free(&t);
	return x;
}

static void assert_raw_back(json_t *col, const double *raw)
{
	ck_assert_str_eq(json_string_value(json_object_get(col, "type")), "numeric");
	json_t *sample = json_object_get(col, "sample");
	ck_assert_uint_eq(json_array_size(sample), TAB_ROWS);
	double sum = 0;
	for (size_t i = 0; i < TAB_ROWS; i++) {
		double got = json_real_value(json_array_get(sample, i));
		ck_assert_msg(fabs(got - raw[i]) <= 1e-6 * fabs(raw[i]), "row %zu: %.17g, raw %.17g", i, got, raw[i]);
		sum += raw[i];
	}
	ck_assert_int_eq(json_integer_value(json_object_get(col, "count")), TAB_ROWS);
	ck_assert_int_eq(json_integer_value(json_object_get(col, "missing")), 0);
	ck_assert_double_eq_tol(member(col, "mean"), sum / TAB_ROWS, 1e-6 * fabs(sum / TAB_ROWS));
	ck_assert_ptr_nonnull(json_object_get(col, "histogram"));
}

START_TEST(columns_tabular_in_the_clients_space)
{
	for (int one_hot = 1; one_hot >= 0; one_hot--) {
		json_t *prep = tab_prep(one_hot);
		size_t width = 0;
		float *x = tab_encode(prep, &width);
		ck_assert_uint_eq(width, one_hot ? 5 : 3);
		static const float probs[TAB_ROWS * 2] = {0.9f, 0.1f, 0.2f, 0.8f, 0.5f, 0.5f,  0.3f,
							  0.7f, 0.6f, 0.4f, 0.1f, 0.9f, 0.45f, 0.55f};
		static const int64_t y[TAB_ROWS] = {0, 1, 0, 1, 0, 1, 1};
		struct ml_data val = {.x = x, .y = y, .n = TAB_ROWS, .shape = {(int)width, 1, 1}};
		json_t *ref = tr_reference_build(&val, probs, 2, NULL, prep);
		ck_assert_ptr_nonnull(ref);
		json_t *cols = json_object_get(ref, "columns");
		ck_assert_uint_eq(json_array_size(cols), 3);
		ck_assert_str_eq(json_string_value(json_object_get(json_array_get(cols, 0), "name")), "age");
		/* standardised float32 numbers come back to the raw values */
		assert_raw_back(column(ref, "age"), ages);
		assert_raw_back(column(ref, "score"), scores);
		/* the category: one-hot block or index, decoded; the missing and the unknown
		 * ("lima", outside the vocabulary) are both missing */
		json_t *city = column(ref, "city");
		ck_assert_str_eq(json_string_value(json_object_get(city, "type")), "categorical");
		ck_assert_int_eq(json_integer_value(json_object_get(city, "count")), 5);
		ck_assert_int_eq(json_integer_value(json_object_get(city, "missing")), 2);
		ck_assert_uint_eq(json_object_size(json_object_get(city, "value_counts")), 3);
		ck_assert_int_eq(count_of(city, "oslo"), 3);
		ck_assert_int_eq(count_of(city, "paris"), 1);
		ck_assert_int_eq(count_of(city, "rome"), 1);
		ck_assert_ptr_null(json_object_get(city, "sample"));
		/* the net's space is still there, per input index */
		ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(ref, "input"), "features")), width);
		json_decref(ref);

		/* a preprocessing whose encoding is not the tensors' width: no columns */
		val.shape.c = (int)width - 1;
		ref = tr_reference_build(&val, probs, 2, NULL, prep);
		ck_assert_ptr_nonnull(ref);
		ck_assert_ptr_null(json_object_get(ref, "columns"));
		json_decref(ref);
		free(x);
		json_decref(prep);
	}
}
END_TEST

/* 5 RGB images of 4x6 pixels, raw values from a fixed stream. */
#define IMG_N 5
#define IMG_W 6
#define IMG_H 4

static void image_case(enum img_norm norm, const char *norm_name)
{
	struct th_rng rng = {.state = 0x5eed0001u + (uint64_t)norm};
	uint8_t px[IMG_N][IMG_H * IMG_W * 3];
	for (size_t i = 0; i < IMG_N; i++)
		for (size_t k = 0; k < sizeof px[i]; k++)
			px[i][k] = (uint8_t)(th_urand(&rng) * 256);
	struct img_prep p = {.width = IMG_W,
			     .height = IMG_H,
			     .channels = 3,
			     .norm = norm,
			     .mean = {0.485f, 0.456f, 0.406f},
			     .std = {0.229f, 0.224f, 0.225f}};
	size_t per = 3 * IMG_H * IMG_W;
	float *x = calloc(IMG_N * per, sizeof *x);
	struct core_error err = {{0}};
	for (size_t i = 0; i < IMG_N; i++) {
		struct img_image im = {.width = IMG_W, .height = IMG_H, .channels = 3, .pixels = px[i]};
		ck_assert_msg(img_preprocess_pixels(&im, &p, x + i * per, &err) == CORE_OK, "%s", err.message);
	}
	/* as the data registry records it (tensors.c: the floats as JSON reals) */
	json_t *prep = json_pack("{s:[i,i],s:i,s:s,s:s,s:s}", "size", IMG_H, IMG_W, "channels", 3, "normalize",
				 norm_name, "resize", "bilinear", "layout", "NCHW");
	if (norm == IMG_NORM_MEANSTD) {
		json_object_set_new(prep, "mean",
				    json_pack("[f,f,f]", (double)p.mean[0], (double)p.mean[1], (double)p.mean[2]));
		json_object_set_new(prep, "std",
				    json_pack("[f,f,f]", (double)p.std[0], (double)p.std[1], (double)p.std[2]));
	}
	static const float probs[IMG_N * 2] = {1, 0, 0, 1, 0.5f, 0.5f, 0.25f, 0.75f, 0.875f, 0.125f};
	static const int64_t y[IMG_N] = {0, 1, 0, 1, 0};
	struct ml_data val = {.x = x, .y = y, .n = IMG_N, .shape = {3, IMG_H, IMG_W}};
	json_t *ref = tr_reference_build(&val, probs, 2, NULL, prep);
	ck_assert_ptr_nonnull(ref);
	ck_assert_uint_eq(json_array_size(json_object_get(ref, "columns")), 2);

	/* numpy on the raw pixels, as the inference API summarises a client's pixels */
	char path[512];
	snprintf(path, sizeof path, "%s/reference-img-%d.txt",
		 getenv("LATHE_TEST_TMP") ? getenv("LATHE_TEST_TMP") : "/tmp", (int)getpid());
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < IMG_N; i++) {
		for (size_t k = 0; k < per; k++)
			fprintf(f, "%u ", px[i][k]);
		fprintf(f, "\n");
	}
	ck_assert_int_eq(fclose(f), 0);
	double want[2 * IMG_N];
	size_t got = th_python_numbers(
		path, NULL,
		"imgs = [np.array(l.split(), dtype=np.uint8) for l in open(sys.argv[1]) if l.strip()]\n"
		"out(*[float(a.mean()) for a in imgs])\n"
		"out(*[float(a.std()) for a in imgs])\n",
		want, 2 * IMG_N);
	unlink(path);
	ck_assert_uint_eq(got, 2 * IMG_N);
	json_t *b = json_object_get(column(ref, "brightness"), "sample");
	json_t *c = json_object_get(column(ref, "contrast"), "sample");
	ck_assert_uint_eq(json_array_size(b), IMG_N);
	for (size_t i = 0; i < IMG_N; i++) {
		ck_assert_double_eq_tol(json_real_value(json_array_get(b, i)), want[i], 1e-12 * want[i]);
		ck_assert_double_eq_tol(json_real_value(json_array_get(c, i)), want[IMG_N + i],
					1e-12 * want[IMG_N + i]);
	}
	double mean = 0;
	for (size_t i = 0; i < IMG_N; i++)
		mean += want[i] / IMG_N;
	ck_assert_double_eq_tol(member(column(ref, "brightness"), "mean"), mean, 1e-9 * mean);
	ck_assert_int_eq(json_integer_value(json_object_get(column(ref, "contrast"), "count")), IMG_N);
	json_decref(ref);
	json_decref(prep);
	free(x);
}

START_TEST(columns_image_brightness_contrast_in_raw_pixels)
{
	image_case(IMG_NORM_UNIT, "unit");
	image_case(IMG_NORM_MEANSTD, "meanstd");
	image_case(IMG_NORM_NONE, "none");
	/* a normalisation this file cannot undo, or none recorded: no columns */
	static const float x[4] = {0, 0.5f, 1, 1};
	static const float probs[2] = {0.5f, 0.5f};
	struct ml_data val = {.x = x, .n = 1, .shape = {1, 2, 2}};
	json_t *prep = json_pack("{s:s}", "normalize", "zscore");
	json_t *ref = tr_reference_build(&val, probs, 2, NULL, prep);
	ck_assert_ptr_nonnull(ref);
	ck_assert_ptr_null(json_object_get(ref, "columns"));
	json_decref(ref);
	json_decref(prep);
	ref = tr_reference_build(&val, probs, 2, NULL, NULL);
	ck_assert_ptr_null(json_object_get(ref, "columns"));
	json_decref(ref);
}
END_TEST

/* n rows of one numeric column (not standardised) whose value is the row's index, and
 * a regression predicting the index too: a sample's values name its rows. */
static json_t *indexed_reference(size_t n, size_t n_cols)
{
	float *x = calloc(n * n_cols, sizeof *x), *pred = calloc(n, sizeof *pred);
	json_t *cols = json_array();
	for (size_t c = 0; c < n_cols; c++) {
		char name[32];
		snprintf(name, sizeof name, "c%zu", c);
		json_array_append_new(cols, json_pack("{s:s,s:s,s:f,s:f,s:f}", "name", name, "type", "numeric", "mean",
						      0.0, "std", 1.0, "fill", 0.0));
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t c = 0; c < n_cols; c++)
			x[i * n_cols + c] = (float)i;
		pred[i] = (float)i;
	}
	json_t *prep = json_pack("{s:o,s:b,s:b}", "columns", cols, "one_hot", 1, "standardize", 0);
	struct ml_data val = {.x = x, .yr = pred, .n = n, .shape = {(int)n_cols, 1, 1}};
	json_t *ref = tr_reference_build(&val, pred, 1, NULL, prep);
	ck_assert_ptr_nonnull(ref);
	json_decref(prep);
	free(x);
	free(pred);
	return ref;
}

static void assert_rows(json_t *sample, size_t n, size_t s)
{
	ck_assert_uint_eq(json_array_size(sample), s);
	for (size_t j = 0; j < s; j++)
		ck_assert_double_eq(json_real_value(json_array_get(sample, j)), (double)(j * n / s));
}

START_TEST(sample_rule)
{
	/* up to 5000 rows: every row, in order */
	json_t *ref = indexed_reference(3000, 1);
	assert_rows(json_object_get(column(ref, "c0"), "sample"), 3000, 3000);
	json_t *out0 = json_array_get(json_object_get(json_object_get(ref, "predictions"), "outputs"), 0);
	assert_rows(json_object_get(out0, "sample"), 3000, 3000);
	ck_assert_int_eq(json_integer_value(json_object_get(column(ref, "c0"), "count")), 3000);
	json_decref(ref);
	/* more: 5000 evenly spaced rows, floor(j * n / 5000), the same for the predictions;
	 * the statistics still count every row */
	ref = indexed_reference(12001, 1);
	json_t *s = json_object_get(column(ref, "c0"), "sample");
	assert_rows(s, 12001, 5000);
	ck_assert_double_eq(json_real_value(json_array_get(s, 0)), 0);
	ck_assert_double_eq(json_real_value(json_array_get(s, 1)), 2);
	ck_assert_double_eq(json_real_value(json_array_get(s, 4999)), 11998);
	out0 = json_array_get(json_object_get(json_object_get(ref, "predictions"), "outputs"), 0);
	assert_rows(json_object_get(out0, "sample"), 12001, 5000);
	ck_assert_int_eq(json_integer_value(json_object_get(column(ref, "c0"), "count")), 12001);
	ck_assert_double_eq(member(column(ref, "c0"), "max"), 12000);
	json_decref(ref);
	/* a wide table: 500000 sampled values per document, 199 columns + 1 output */
	ref = indexed_reference(6000, 199);
	assert_rows(json_object_get(column(ref, "c198"), "sample"), 6000, 2500);
	json_decref(ref);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("trainer-reference");
	TCase *tc = tcase_create("reference");
	tcase_add_test(tc, tabular_classification);
	tcase_add_test(tc, image_summaries_and_full_confidence);
	tcase_add_test(tc, regression_outputs_and_missing_values);
	tcase_add_test(tc, columns_tabular_in_the_clients_space);
	tcase_add_test(tc, columns_image_brightness_contrast_in_raw_pixels);
	tcase_add_test(tc, sample_rule);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Unit tests of ia_prep_image (prep_image.c): an upload becomes exactly the floats the
 * data registry's tensor export makes of the same bytes (img_preprocess_r through a
 * resizer, tensors.c's call), bit for bit, for PNG and JPEG, gray and RGB, each
 * normalisation; its statistics are img_stats_image's (the data registry's profile);
 * and bad uploads (not an image, truncated, over the pixel limit, a size the model
 * cannot take, a tabular model) fail with the status the handler maps to a 4xx. The
 * data registry's own path is checked against PIL by test_data_tensors. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "harness_img.h"
#include "ia.h"

static uint8_t *noise(unsigned n, unsigned seed)
{
	uint8_t *p = malloc(n);
	ck_assert_ptr_nonnull(p);
	unsigned s = seed * 2654435761u + 1;
	for (unsigned i = 0; i < n; i++) {
		s = s * 1103515245u + 12345u;
		p[i] = (uint8_t)(s >> 16);
	}
	return p;
}

static struct ia_model model(unsigned c, unsigned h, unsigned w, enum img_norm norm)
{
	struct ia_model m = {.name = "pics", .kind = IA_INPUT_IMAGE, .c = c, .h = h, .w = w};
	m.prep = (struct img_prep){.width = w, .height = h, .channels = c, .norm = norm};
	for (int i = 0; i < 3; i++) {
		m.prep.mean[i] = 0.25f + 0.125f * (float)i;
		m.prep.std[i] = 0.5f - 0.0625f * (float)i;
	}
	m.n_raw = m.n_in = (size_t)c * h * w;
	return m;
}

/* ia_prep_image's floats against the data registry's call on the same bytes. */
static void same_as_registry(const struct ia_model *m, const void *data, size_t len)
{
	size_t n = m->n_in;
	float *a = calloc(n, sizeof *a), *b = calloc(n, sizeof *b);
	ck_assert(a && b);
	struct core_error err = {0};
	struct ia_img_stats st;
	ck_assert_msg(ia_prep_image(m, data, len, NULL, a, &st, &err) == CORE_OK, "%s", err.message);
	struct img_resizer *rz = img_resizer_new();
	ck_assert_ptr_nonnull(rz);
	/* tensors.c: a copy of the job's prep, one resizer for the loop */
	struct img_prep p = m->prep;
	ck_assert_msg(img_preprocess_r(rz, data, len, NULL, &p, b, &err) == CORE_OK, "%s", err.message);
	ck_assert_msg(memcmp(a, b, n * sizeof *a) == 0, "ia_prep_image differs from the data registry's floats");
	img_resizer_free(rz);

	/* the statistics are the profile's */
	struct img_image im;
	ck_assert_int_eq(img_decode(data, len, NULL, &im, &err), CORE_OK);
	struct img_stats want;
	img_stats_image(&im, NULL, &want);
	ck_assert_uint_eq(st.width, im.width);
	ck_assert_uint_eq(st.height, im.height);
	ck_assert_uint_eq(st.channels, im.channels);
	ck_assert(st.brightness == want.brightness);
	ck_assert(st.contrast == want.contrast);
	img_image_free(&im);
	free(a);
	free(b);
}

START_TEST(equals_the_registry_tensor)
{
	const unsigned W = 23, H = 17;
	for (unsigned c = 1; c <= 3; c += 2) {
		uint8_t *px = noise(W * H * c, c);
		size_t plen, jlen;
		void *png = th_img_png(W, H, c, px, &plen);
		void *jpg = th_img_jpeg(W, H, c, px, 90, &jlen);
		for (int norm = IMG_NORM_NONE; norm <= IMG_NORM_MEANSTD; norm++)
			for (unsigned oc = 1; oc <= 3; oc += 2) {
				struct ia_model m = model(oc, 10, 12, (enum img_norm)norm);
				same_as_registry(&m, png, plen);
				same_as_registry(&m, jpg, jlen);
				/* upscaling too */
				m = model(oc, 31, 29, (enum img_norm)norm);
				same_as_registry(&m, png, plen);
			}
		free(png);
		free(jpg);
		free(px);
	}
}
END_TEST

/* A 4x4 gray image of one value v with /255: every float is v/255, brightness v,
 * contrast 0. */
START_TEST(flat_image_known_values)
{
	size_t len;
	void *png = th_img_png_flat(4, 4, 200, &len);
	struct ia_model m = model(1, 4, 4, IMG_NORM_UNIT);
	float x[16];
	struct ia_img_stats st;
	struct core_error err = {0};
	ck_assert_int_eq(ia_prep_image(&m, png, len, NULL, x, &st, &err), CORE_OK);
	for (int i = 0; i < 16; i++)
		ck_assert(x[i] == 200.0f / 255.0f);
	ck_assert_uint_eq(st.width, 4);
	ck_assert_uint_eq(st.height, 4);
	ck_assert_uint_eq(st.channels, 1);
	ck_assert_double_eq(st.brightness, 200.0);
	ck_assert_double_eq(st.contrast, 0.0);
	/* stats may be NULL */
	ck_assert_int_eq(ia_prep_image(&m, png, len, NULL, x, NULL, &err), CORE_OK);
	free(png);
}
END_TEST

START_TEST(bad_uploads)
{
	struct ia_model m = model(1, 4, 4, IMG_NORM_UNIT);
	float x[16];
	struct core_error err = {0};
	const char text[] = "hello, not an image";
	ck_assert_int_eq(ia_prep_image(&m, text, sizeof text - 1, NULL, x, NULL, &err), CORE_EINVAL);

	size_t len;
	uint8_t *px = noise(64 * 64, 9);
	void *png = th_img_png(64, 64, 1, px, &len);
	ck_assert_int_eq(ia_prep_image(&m, png, len / 2, NULL, x, NULL, &err), CORE_EINVAL);
	/* over the pixel limit: refused from the header */
	struct img_limits lim = {.max_pixels = 64 * 64 - 1};
	ck_assert_int_eq(ia_prep_image(&m, png, len, &lim, x, NULL, &err), CORE_ELIMIT);
	lim.max_pixels = 64 * 64;
	ck_assert_int_eq(ia_prep_image(&m, png, len, &lim, x, NULL, &err), CORE_OK);

	/* a package that keeps the image's size takes only its own size */
	struct ia_model keep = model(1, 4, 4, IMG_NORM_UNIT);
	keep.prep.width = keep.prep.height = 0;
	ck_assert_int_eq(ia_prep_image(&keep, png, len, NULL, x, NULL, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "64x64"));

	/* a tabular model takes no image */
	struct ia_model tab = {.name = "rows", .kind = IA_INPUT_TABULAR};
	ck_assert_int_eq(ia_prep_image(&tab, png, len, NULL, x, NULL, &err), CORE_EINVAL);
	free(png);
	free(px);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ia_prep_image");
	TCase *tc = tcase_create("prep_image");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, equals_the_registry_tensor);
	tcase_add_test(tc, flat_image_known_values);
	tcase_add_test(tc, bad_uploads);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

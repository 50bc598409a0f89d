/* Unit tests of img_stats_pixels, the one summary of an image (size, brightness =
 * mean of its values, contrast = their population std) shared by the data registry's
 * profile and the inference API's prediction events: exact on small cases worked by
 * hand, equal to numpy's arr.mean()/arr.std() (values computed once with numpy and
 * written here) on larger ones, alpha skipped, the histogram counted, and an empty
 * image giving NaN rather than a division by zero. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "img/img.h"

START_TEST(hand_worked_cases)
{
	struct img_stats st;
	const uint8_t half[4] = {0, 255, 0, 255};
	img_stats_pixels(2, 2, 1, half, NULL, &st);
	ck_assert_uint_eq(st.width, 2);
	ck_assert_uint_eq(st.height, 2);
	ck_assert_uint_eq(st.channels, 1);
	ck_assert_uint_eq(st.used, 1);
	ck_assert_uint_eq(st.n, 4);
	ck_assert_uint_eq(st.sum[0], 510);
	ck_assert(st.sumsq[0] == (unsigned __int128)2 * 255 * 255);
	ck_assert_double_eq(st.brightness, 127.5);
	ck_assert_double_eq(st.contrast, 127.5);

	const uint8_t flat[6] = {9, 9, 9, 9, 9, 9};
	img_stats_pixels(3, 2, 1, flat, NULL, &st);
	ck_assert_double_eq(st.brightness, 9.0);
	ck_assert_double_eq(st.contrast, 0.0);

	/* one RGB pixel: values 10, 20, 30 -> mean 20, std sqrt(200/3) */
	const uint8_t rgb[3] = {10, 20, 30};
	img_stats_pixels(1, 1, 3, rgb, NULL, &st);
	ck_assert_uint_eq(st.used, 3);
	ck_assert_uint_eq(st.n, 3);
	ck_assert_uint_eq(st.sum[0], 10);
	ck_assert_uint_eq(st.sum[1], 20);
	ck_assert_uint_eq(st.sum[2], 30);
	ck_assert_double_eq(st.brightness, 20.0);
	ck_assert_double_eq_tol(st.contrast, sqrt(200.0 / 3.0), 1e-15);
}
END_TEST

/* numpy: a = ((i*37+11) % 256 for i in range(60)) as uint8, shape (3, 5, 4); a[:,:,:3]
 * gives mean 128.26666666666668, std 73.50446698444026; the first 21 values as gray:
 * 125.0 and 74.04052944165107. */
START_TEST(equals_numpy)
{
	uint8_t px[60];
	for (unsigned i = 0; i < 60; i++)
		px[i] = (uint8_t)((i * 37 + 11) % 256);
	struct img_stats st;
	uint64_t hist[256] = {0};
	img_stats_pixels(5, 3, 4, px, hist, &st);
	ck_assert_uint_eq(st.used, 3); /* alpha skipped */
	ck_assert_uint_eq(st.n, 45);
	ck_assert_double_eq_tol(st.brightness, 128.26666666666668, 1e-12);
	ck_assert_double_eq_tol(st.contrast, 73.50446698444026, 1e-12);
	uint64_t total = 0;
	for (unsigned v = 0; v < 256; v++)
		total += hist[v];
	ck_assert_uint_eq(total, 45);
	for (unsigned i = 0; i < 60; i++)
		if (i % 4 != 3)
			ck_assert_uint_ge(hist[px[i]], 1);
	ck_assert_uint_eq(hist[px[3]], 0); /* 122: only ever an alpha value */

	img_stats_pixels(7, 3, 1, px, NULL, &st);
	ck_assert_double_eq(st.brightness, 125.0);
	ck_assert_double_eq_tol(st.contrast, 74.04052944165107, 1e-12);

	/* gray + alpha counts the gray only */
	uint8_t ga[4] = {100, 7, 200, 9};
	img_stats_pixels(2, 1, 2, ga, NULL, &st);
	ck_assert_uint_eq(st.used, 1);
	ck_assert_double_eq(st.brightness, 150.0);
	ck_assert_double_eq(st.contrast, 50.0);
}
END_TEST

/* A decoded image gives the same as its pixels; a big one stays exact (the 128-bit sums:
 * 4096 x 4096 RGB of 255 would overflow nothing, and its std is exactly 0). */
START_TEST(image_and_large)
{
	struct img_image im = {.width = 4096, .height = 4096, .channels = 3};
	size_t len = (size_t)im.width * im.height * im.channels;
	im.pixels = malloc(len);
	ck_assert_ptr_nonnull(im.pixels);
	memset(im.pixels, 255, len);
	struct img_stats st;
	img_stats_image(&im, NULL, &st);
	ck_assert_uint_eq(st.n, (uint64_t)len);
	ck_assert_double_eq(st.brightness, 255.0);
	ck_assert_double_eq(st.contrast, 0.0);
	img_image_free(&im);
}
END_TEST

START_TEST(empty_is_nan)
{
	struct img_stats st;
	img_stats_pixels(0, 0, 1, NULL, NULL, &st);
	ck_assert_uint_eq(st.n, 0);
	ck_assert(isnan(st.brightness));
	ck_assert(isnan(st.contrast));
	double m, s;
	img_mean_std(0, 0, 0, &m, &s);
	ck_assert(isnan(m) && isnan(s));
	img_mean_std(2, 4, 10, &m, &s); /* values 1 and 3 */
	ck_assert_double_eq(m, 2.0);
	ck_assert_double_eq(s, 1.0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("img_stats");
	TCase *tc = tcase_create("stats");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, hand_worked_cases);
	tcase_add_test(tc, equals_numpy);
	tcase_add_test(tc, image_and_large);
	tcase_add_test(tc, empty_is_nan);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

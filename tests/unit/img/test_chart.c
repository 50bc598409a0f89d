/* Unit tests of the cairo charts (libs/img img/chart.h): each chart is decoded back
 * with img_decode (libpng) and checked as a picture: the expected size, drawn pixels in
 * the series' colours, and in the confusion matrix the darkest cell where the largest
 * count is, empty cells white. With LATHE_CHART_DIR set, the PNGs are also written
 * there, to look at. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "img/chart.h"
#include "img/img.h"

/* Each test runs in its own process: leave it without cairo's and fontconfig's
 * caches, which LeakSanitizer would otherwise report. */
static void teardown(void)
{
	img_chart_shutdown();
}

/* Keeps the PNG for a human when LATHE_CHART_DIR is set. */
static void keep(const char *name, const struct core_buf *png)
{
	const char *d = getenv("LATHE_CHART_DIR");
	if (!d)
		return;
	char path[512];
	snprintf(path, sizeof path, "%s/%s", d, name);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(png->data, 1, png->len, f), png->len);
	fclose(f);
}

static void decode(const struct core_buf *png, struct img_image *im)
{
	ck_assert_uint_gt(png->len, 8);
	ck_assert_int_eq(memcmp(png->data, "\x89PNG\r\n\x1a\n", 8), 0);
	struct core_error err;
	ck_assert_msg(img_decode(png->data, png->len, NULL, im, &err) == CORE_OK, "%s", err.message);
	ck_assert_uint_eq(im->channels, 3);
}

static const unsigned char *pixel(const struct img_image *im, unsigned x, unsigned y)
{
	return im->pixels + ((size_t)y * im->width + x) * 3;
}

/* Pixels within tol (per channel) of rgb. */
static size_t count_colour(const struct img_image *im, int r, int g, int b, int tol)
{
	size_t n = 0;
	for (size_t i = 0; i < (size_t)im->width * im->height; i++) {
		const unsigned char *p = im->pixels + i * 3;
		n += abs(p[0] - r) <= tol && abs(p[1] - g) <= tol && abs(p[2] - b) <= tol;
	}
	return n;
}

START_TEST(line_chart_draws_series)
{
	double loss[12], val[12], acc[12];
	for (int i = 0; i < 12; i++) {
		loss[i] = 2.3 * exp(-0.3 * i) + 0.1;
		val[i] = 2.3 * exp(-0.25 * i) + 0.2 + 0.02 * i;
		acc[i] = 0.1 + 0.8 * (1 - exp(-0.4 * i));
	}
	struct img_series s[2] = {{"loss", loss, 12}, {"val_loss", val, 12}};
	struct core_buf png;
	core_buf_init(&png, 1 << 20);
	struct core_error err;
	ck_assert_msg(img_chart_lines("Loss", "epoch", s, 2, &png, &err) == CORE_OK, "%s", err.message);
	keep("loss.png", &png);
	struct img_image im;
	decode(&png, &im);
	ck_assert_uint_eq(im.width, IMG_CHART_WIDTH);
	ck_assert_uint_eq(im.height, IMG_CHART_HEIGHT);
	/* not all background, and both tab10 colours drawn (blue, orange) */
	ck_assert_uint_gt(im.width * im.height - count_colour(&im, 255, 255, 255, 0), 2000);
	ck_assert_uint_gt(count_colour(&im, 0x1f, 0x77, 0xb4, 10), 300);
	ck_assert_uint_gt(count_colour(&im, 0xff, 0x7f, 0x0e, 10), 300);
	ck_assert_uint_lt(count_colour(&im, 0x2c, 0xa0, 0x2c, 10), 5); /* no third series */
	/* the falling curve: the blue pixels' mean height in the first tenth of the plot is
	 * above (smaller y) that in the last tenth */
	double y_first = 0, y_last = 0;
	int n_first = 0, n_last = 0;
	for (unsigned y = 0; y < im.height; y++)
		for (unsigned x = 0; x < im.width; x++) {
			const unsigned char *p = pixel(&im, x, y);
			if (abs(p[0] - 0x1f) > 10 || abs(p[1] - 0x77) > 10 || abs(p[2] - 0xb4) > 10)
				continue;
			if (x < 150) {
				y_first += y;
				n_first++;
			} else if (x > 700 && x < 770) {
				y_last += y;
				n_last++;
			}
		}
	ck_assert_int_gt(n_first, 0);
	ck_assert_int_gt(n_last, 0);
	ck_assert_double_lt(y_first / n_first, y_last / n_last);
	img_image_free(&im);

	core_buf_reset(&png);
	struct img_series a[2] = {{"accuracy", acc, 12}, {"val_accuracy", val, 0}};
	ck_assert_int_eq(img_chart_lines("Accuracy", "epoch", a, 2, &png, &err), CORE_OK);
	keep("accuracy.png", &png);
	decode(&png, &im);
	ck_assert_uint_gt(count_colour(&im, 0x1f, 0x77, 0xb4, 10), 300);
	img_image_free(&im);
	core_buf_free(&png);
}
END_TEST

/* One point, a constant series, gaps (NaN, inf), many points, no title: all draw. */
START_TEST(line_chart_edge_cases)
{
	double one = 0.5, flat[5] = {3, 3, 3, 3, 3}, gaps[6] = {1, NAN, 0.5, INFINITY, 0.25, 0.2}, many[500];
	for (int i = 0; i < 500; i++)
		many[i] = sin(i / 40.0) * 1e-4;
	struct img_series cases[4][1] = {
		{{"one", &one, 1}}, {{"flat", flat, 5}}, {{"gaps", gaps, 6}}, {{"many", many, 500}}};
	for (int c = 0; c < 4; c++) {
		struct core_buf png;
		core_buf_init(&png, 1 << 20);
		struct core_error err;
		ck_assert_msg(img_chart_lines(c ? "t" : NULL, NULL, cases[c], 1, &png, &err) == CORE_OK, "%s",
			      err.message);
		char name[32];
		snprintf(name, sizeof name, "edge%d.png", c);
		keep(name, &png);
		struct img_image im;
		decode(&png, &im);
		ck_assert_uint_gt(count_colour(&im, 0x1f, 0x77, 0xb4, 10), 15);
		img_image_free(&im);
		core_buf_free(&png);
	}
}
END_TEST

START_TEST(confusion_darkest_cell_is_largest_count)
{
	/* the largest count off the diagonal, at row 2 (true), column 1 (predicted) */
	int64_t m[16] = {50, 3, 0, 1, 2, 40, 5, 0, 1, 77, 30, 0, 0, 0, 4, 12};
	const char *names[4] = {"T-shirt/top", "Trouser", "Pullover", "an extremely long class name, shortened"};
	struct core_buf png;
	core_buf_init(&png, 1 << 20);
	struct core_error err;
	ck_assert_msg(img_chart_confusion(m, 4, names, &png, &err) == CORE_OK, "%s", err.message);
	keep("confusion.png", &png);
	struct img_image im;
	decode(&png, &im);
	int w, h, left, top, cell;
	img_chart_confusion_layout(4, names, &w, &h, &left, &top, &cell);
	ck_assert_uint_eq(im.width, (unsigned)w);
	ck_assert_uint_eq(im.height, (unsigned)h);
	/* a cell's colour, sampled near its top-left corner (the count sits in the middle) */
	int dark_r = -1, dark_c = -1, dark = 1000;
	for (int r = 0; r < 4; r++)
		for (int c = 0; c < 4; c++) {
			const unsigned char *p =
				pixel(&im, (unsigned)(left + c * cell + 3), (unsigned)(top + r * cell + 3));
			int lum = (p[0] * 299 + p[1] * 587 + p[2] * 114) / 1000;
			if (lum < dark) {
				dark = lum;
				dark_r = r;
				dark_c = c;
			}
			if (m[r * 4 + c] == 0) /* Blues at 0: (247, 251, 255) */
				ck_assert_msg(p[0] >= 240 && p[2] >= 250, "empty cell %d,%d is %d,%d,%d", r, c, p[0],
					      p[1], p[2]);
			else
				ck_assert_int_lt(p[0], 247); /* any count shows */
		}
	ck_assert_int_eq(dark_r, 2);
	ck_assert_int_eq(dark_c, 1);
	ck_assert_int_lt(dark, 80);
	/* text drawn: the darkest cell's count in white, others' in near-black */
	ck_assert_uint_gt(count_colour(&im, 255, 255, 255, 0), 1000);
	ck_assert_uint_gt(count_colour(&im, 26, 26, 26, 30), 200);
	img_image_free(&im);
	core_buf_free(&png);
}
END_TEST

/* Ten classes without names, one class, all zeros, 120 classes (cells too small for
 * numbers): sizes follow the layout. */
START_TEST(confusion_sizes)
{
	static int64_t m[120 * 120];
	size_t ks[4] = {10, 1, 3, 120};
	for (int c = 0; c < 4; c++) {
		size_t k = ks[c];
		memset(m, 0, sizeof m);
		if (c != 2)
			for (size_t i = 0; i < k; i++)
				m[i * k + i] = (int64_t)(100 + i);
		struct core_buf png;
		core_buf_init(&png, 4 << 20);
		struct core_error err;
		ck_assert_msg(img_chart_confusion(m, k, NULL, &png, &err) == CORE_OK, "%s", err.message);
		char name[32];
		snprintf(name, sizeof name, "confusion%zu.png", k);
		keep(name, &png);
		struct img_image im;
		decode(&png, &im);
		int w, h, left, top, cell;
		img_chart_confusion_layout(k, NULL, &w, &h, &left, &top, &cell);
		ck_assert_uint_eq(im.width, (unsigned)w);
		ck_assert_uint_eq(im.height, (unsigned)h);
		ck_assert_int_ge(cell, 4);
		/* the last diagonal cell holds the largest count (or all are zero) */
		int at = left + (int)(k - 1) * cell + 2;
		const unsigned char *p = pixel(&im, (unsigned)at, (unsigned)(top + (int)(k - 1) * cell + 2));
		if (c == 2)
			ck_assert_int_ge(p[0], 240); /* all zero: white */
		else
			ck_assert_int_lt(p[0], 20); /* the darkest blue, (8, 48, 107) */
		img_image_free(&im);
		core_buf_free(&png);
	}
}
END_TEST

START_TEST(bad_arguments)
{
	struct core_buf png;
	core_buf_init(&png, 1 << 20);
	struct core_error err;
	double y[2] = {1, 2};
	struct img_series s[11];
	for (int i = 0; i < 11; i++)
		s[i] = (struct img_series){"s", y, 2};
	ck_assert_int_eq(img_chart_lines("t", "x", s, 0, &png, &err), CORE_EINVAL);
	ck_assert_int_eq(img_chart_lines("t", "x", s, 11, &png, &err), CORE_EINVAL);
	s[1].name = NULL;
	ck_assert_int_eq(img_chart_lines("t", "x", s, 2, &png, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "series 1"));
	s[1] = (struct img_series){"b", NULL, 3};
	ck_assert_int_eq(img_chart_lines("t", "x", s, 2, &png, &err), CORE_EINVAL);
	int64_t m[4] = {1, 2, -3, 4};
	ck_assert_int_eq(img_chart_confusion(m, 0, NULL, &png, &err), CORE_EINVAL);
	ck_assert_int_eq(img_chart_confusion(m, 2, NULL, &png, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "[1][0]"));
	ck_assert_int_eq(img_chart_confusion(m, IMG_CHART_MAX_CLASSES + 1, NULL, &png, &err), CORE_EINVAL);
	ck_assert_uint_eq(png.len, 0);
	core_buf_free(&png);
	/* a buffer too small for the PNG */
	core_buf_init(&png, 100);
	m[2] = 3;
	ck_assert_int_eq(img_chart_confusion(m, 2, NULL, &png, &err), CORE_ELIMIT);
	core_buf_free(&png);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("img_chart");
	TCase *tc = tcase_create("chart");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, line_chart_draws_series);
	tcase_add_test(tc, line_chart_edge_cases);
	tcase_add_test(tc, confusion_darkest_cell_is_largest_count);
	tcase_add_test(tc, confusion_sizes);
	tcase_add_test(tc, bad_arguments);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

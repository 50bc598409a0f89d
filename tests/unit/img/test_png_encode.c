/* Unit tests of img_encode_png: gray and RGB images of odd sizes come back pixel for
 * pixel through img_decode (its fast path) and through libpng alone, and PIL (Debian's
 * python3) reads the file as the same mode, size and pixels (sha256 of tobytes());
 * a buffer ceiling too small gives CORE_ELIMIT and leaves the buffer as it was; bad
 * images are refused. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/sha256.h"
#include "harness.h"
#include "harness_util.h"
#include "img/img.h"
#include "../../../libs/img/src/img_int.h"

static void fill(struct img_image *im, unsigned w, unsigned h, unsigned c, uint64_t seed)
{
	struct th_rng g = {seed};
	im->width = w, im->height = h, im->channels = c;
	im->pixels = malloc((size_t)w * h * c);
	ck_assert_ptr_nonnull(im->pixels);
	for (size_t i = 0; i < (size_t)w * h * c; i++)
		im->pixels[i] = (uint8_t)(th_urand(&g) * 256);
}

static void round_trip(unsigned w, unsigned h, unsigned c, uint64_t seed)
{
	struct img_image im, back, back2;
	struct core_buf png;
	struct core_error err;
	fill(&im, w, h, c, seed);
	core_buf_init(&png, 1 << 24);
	ck_assert_int_eq(core_buf_append_str(&png, "head"), CORE_OK); /* appends after what is there */
	ck_assert_msg(img_encode_png(&im, &png, &err) == CORE_OK, "%s", err.message);
	const uint8_t *file = (const uint8_t *)png.data + 4;
	size_t len = png.len - 4;
	ck_assert_msg(img_decode(file, len, NULL, &back, &err) == CORE_OK, "%s", err.message);
	ck_assert_uint_eq(back.width, w);
	ck_assert_uint_eq(back.height, h);
	ck_assert_uint_eq(back.channels, c);
	ck_assert_int_eq(memcmp(back.pixels, im.pixels, (size_t)w * h * c), 0);
	ck_assert_int_eq(img_png_decode_libpng(file, len, IMG_MAX_PIXELS_DEFAULT, &back2, &err), CORE_OK);
	ck_assert_int_eq(memcmp(back2.pixels, im.pixels, (size_t)w * h * c), 0);

	/* PIL reads the same pixels */
	char *path = th_fmt("%s/enc-%u-%u-%u.png", th_env("LATHE_TEST_TMP"), w, h, c);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(file, 1, len, f), len);
	fclose(f);
	char *cmd =
		th_fmt("/usr/bin/python3 -c 'import sys, hashlib; from PIL import Image; i = Image.open(sys.argv[1]); "
		       "print(i.mode, i.size[0], i.size[1], hashlib.sha256(i.tobytes()).hexdigest())' %s",
		       path);
	int st = 0;
	char *got = th_run_output(cmd, &st);
	ck_assert_int_eq(st, 0);
	char hex[65];
	core_sha256_hex(im.pixels, (size_t)w * h * c, hex);
	char *want = th_fmt("%s %u %u %s\n", c == 1 ? "L" : "RGB", w, h, hex);
	ck_assert_str_eq(got, want);
	remove(path);
	free(want), free(got), free(cmd), free(path);
	img_image_free(&back);
	img_image_free(&back2);
	img_image_free(&im);
	core_buf_free(&png);
}

START_TEST(gray_and_rgb_round_trip_and_pil_agrees)
{
	round_trip(28, 28, 1, 11);
	round_trip(1, 1, 1, 12);
	round_trip(37, 5, 3, 13);
	round_trip(300, 201, 3, 14);
}
END_TEST

START_TEST(ceiling_and_bad_images)
{
	struct img_image im;
	struct core_buf png;
	struct core_error err;
	fill(&im, 64, 64, 3, 21);
	core_buf_init(&png, 100);
	ck_assert_int_eq(core_buf_append_str(&png, "keep"), CORE_OK);
	ck_assert_int_eq(img_encode_png(&im, &png, &err), CORE_ELIMIT);
	ck_assert_uint_eq(png.len, 4);
	ck_assert_str_eq(png.data, "keep");
	ck_assert_ptr_nonnull(strstr(err.message, "png: encode"));
	im.channels = 2;
	ck_assert_int_eq(img_encode_png(&im, &png, &err), CORE_EINVAL);
	im.channels = 3;
	im.width = 0;
	ck_assert_int_eq(img_encode_png(&im, &png, &err), CORE_EINVAL);
	ck_assert_int_eq(img_encode_png(NULL, &png, &err), CORE_EINVAL);
	img_image_free(&im);
	core_buf_free(&png);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("img-png-encode");
	TCase *tc = tcase_create("encode");
	tcase_add_test(tc, gray_and_rgb_round_trip_and_pil_agrees);
	tcase_add_test(tc, ceiling_and_bad_images);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Unit tests of lathe demo's Fashion-MNIST file work (cli/demo_fmnist.c): the Debian
 * package's gzip'd IDX files read whole (counts, 6,000 images per class in the training
 * set, the first labels as the dataset publishes them); the first records written back
 * as IDX files equal, byte for byte, to those of the originals (Python's gzip reads the
 * reference); the image folder <class>/<prefix><i>.png decoded back to the same pixels,
 * inverted ones to 255 - pixel; the scratch tree removed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/file.h"
#include "demo.h"
#include "harness.h"
#include "harness_util.h"
#include "img/img.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

START_TEST(reads_the_four_files)
{
	struct cli_demo_fmnist fm;
	struct core_error err;
	ck_assert_msg(cli_demo_fmnist_read(FMNIST, &fm, &err) == CORE_OK, "%s", err.message);
	ck_assert_uint_eq(fm.n_train, 60000);
	ck_assert_uint_eq(fm.n_test, 10000);
	size_t per[DEMO_CLASSES] = {0};
	for (size_t i = 0; i < fm.n_train; i++)
		per[fm.train_y[i]]++;
	for (int c = 0; c < DEMO_CLASSES; c++)
		ck_assert_uint_eq(per[c], 6000);
	const uint8_t first[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
	ck_assert_int_eq(memcmp(fm.train_y, first, 10), 0);
	cli_demo_fmnist_free(&fm);
	ck_assert_int_eq(cli_demo_fmnist_read("/nonexistent", &fm, &err), CORE_EIO);
	ck_assert_ptr_nonnull(strstr(err.message, "dataset-fashion-mnist"));
}
END_TEST

START_TEST(writes_idx_and_png_folders)
{
	struct cli_demo_fmnist fm;
	struct core_error err;
	ck_assert_int_eq(cli_demo_fmnist_read(FMNIST, &fm, &err), CORE_OK);
	char *dir = th_fmt("%s/demo-fmnist-%d", th_env("LATHE_TEST_TMP"), (int)getpid());
	char *idx = th_fmt("%s/idx", dir), *png = th_fmt("%s/png", dir);
	ck_assert_msg(cli_demo_write_idx(&fm, 100, 20, idx, &err) == CORE_OK, "%s", err.message);
	/* each written file is the original's header (with the count) and first records */
	char *cmd =
		th_fmt("/usr/bin/python3 -c '\nimport gzip, struct, sys\nsrc, out = sys.argv[1], sys.argv[2]\n"
		       "for name, n, rec in [(\"train-images-idx3-ubyte\", 100, 784), (\"train-labels-idx1-ubyte\", "
		       "100, 1), (\"t10k-images-idx3-ubyte\", 20, 784), (\"t10k-labels-idx1-ubyte\", 20, 1)]:\n"
		       "    g = gzip.open(src + \"/\" + name + \".gz\").read()\n"
		       "    h = 16 if rec > 1 else 8\n"
		       "    want = g[:4] + struct.pack(\">I\", n) + g[8:h] + g[h:h + n * rec]\n"
		       "    print(name, open(out + \"/\" + name, \"rb\").read() == want)\n' %s %s",
		       FMNIST, idx);
	int st = 1;
	char *got = th_run_output(cmd, &st);
	ck_assert_int_eq(st, 0);
	ck_assert_str_eq(got, "train-images-idx3-ubyte True\ntrain-labels-idx1-ubyte True\n"
			      "t10k-images-idx3-ubyte True\nt10k-labels-idx1-ubyte True\n");
	free(got), free(cmd);

	ck_assert_int_eq(cli_demo_write_pngs(fm.train_x, fm.train_y, 30, false, "", png, &err), CORE_OK);
	ck_assert_int_eq(cli_demo_write_pngs(fm.train_x, fm.train_y, 30, true, "inv-", png, &err), CORE_OK);
	for (size_t i = 0; i < 30; i++) {
		for (int inv = 0; inv < 2; inv++) {
			char *path = th_fmt("%s/%s/%s%zu.png", png, cli_demo_class_names[fm.train_y[i]],
					    inv ? "inv-" : "", i);
			char *data = NULL;
			size_t len = 0;
			ck_assert_msg(core_read_file(path, 1 << 20, &data, &len, &err) == CORE_OK, "%s", err.message);
			struct img_image im;
			ck_assert_int_eq(img_decode(data, len, NULL, &im, &err), CORE_OK);
			ck_assert_uint_eq(im.width, 28);
			ck_assert_uint_eq(im.channels, 1);
			uint8_t want[DEMO_PIXELS];
			cli_demo_image(fm.train_x, i, inv, want);
			for (size_t k = 0; k < DEMO_PIXELS; k++)
				ck_assert_uint_eq(want[k], inv ? 255 - fm.train_x[i * DEMO_PIXELS + k]
							       : fm.train_x[i * DEMO_PIXELS + k]);
			ck_assert_int_eq(memcmp(im.pixels, want, DEMO_PIXELS), 0);
			img_image_free(&im);
			free(data), free(path);
		}
	}
	cli_demo_rm_tree(dir);
	struct stat sb;
	ck_assert_int_ne(stat(dir, &sb), 0);
	free(png), free(idx), free(dir);
	cli_demo_fmnist_free(&fm);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli-demo-fmnist");
	TCase *tc = tcase_create("fmnist");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, reads_the_four_files);
	tcase_add_test(tc, writes_idx_and_png_folders);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

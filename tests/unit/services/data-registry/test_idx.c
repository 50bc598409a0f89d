/* Unit tests of the IDX reader (idx.c, through data.h and libdata-registry.a): the real
 * Fashion-MNIST files of Debian's dataset-fashion-mnist must parse (60000 + 10000
 * images of 28x28, labels 0..9), with records and label histograms equal to what
 * /usr/bin/python3 and numpy read from the same files; broken files (short, long, a
 * bad dtype, a corrupt gzip) must be refused naming the file. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/sha256.h"
#include "data.h"

#define FM "/usr/share/datasets/fashion-mnist/"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/lathe-idx-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* numpy's view of a Fashion-MNIST set: the label histogram and the sha256 of records
 * 0, 1 and the last, one line each. */
static void numpy_view(const char *set, unsigned hist[10], char sha[3][65], unsigned labels[3])
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 -c \"import gzip, hashlib, numpy as np\n"
		 "im = np.frombuffer(gzip.open('" FM "%s-images-idx3-ubyte.gz').read(), np.uint8, offset=16)"
		 ".reshape(-1, 28, 28)\n"
		 "lb = np.frombuffer(gzip.open('" FM "%s-labels-idx1-ubyte.gz').read(), np.uint8, offset=8)\n"
		 "print(' '.join(str(c) for c in np.bincount(lb, minlength=10)))\n"
		 "for i in (0, 1, len(im) - 1): print(hashlib.sha256(im[i].tobytes()).hexdigest(), lb[i])\n\"",
		 set, set);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(fscanf(p, "%u", &hist[i]), 1);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(fscanf(p, "%64s %u", sha[i], &labels[i]), 2);
	ck_assert_int_eq(pclose(p), 0);
}

static void reads_like_numpy(const char *set, uint64_t count)
{
	unsigned want_hist[10], want_labels[3];
	char want_sha[3][65];
	numpy_view(set, want_hist, want_sha, want_labels);

	char ip[256], lp[256];
	snprintf(ip, sizeof ip, FM "%s-images-idx3-ubyte.gz", set);
	snprintf(lp, sizeof lp, FM "%s-labels-idx1-ubyte.gz", set);
	int ifd = open(ip, O_RDONLY), lfd = open(lp, O_RDONLY);
	ck_assert_int_ge(ifd, 0);
	ck_assert_int_ge(lfd, 0);
	struct dr_idx *im, *lb;
	struct core_error err = {{0}};
	ck_assert_msg(dr_idx_open(ifd, ip, &im, &err) == CORE_OK, "%s", err.message);
	ck_assert_msg(dr_idx_open(lfd, lp, &lb, &err) == CORE_OK, "%s", err.message);
	const struct dr_idx_header *h = dr_idx_header(im), *l = dr_idx_header(lb);
	ck_assert_uint_eq(h->ndims, 3);
	ck_assert_uint_eq(h->count, count);
	ck_assert_uint_eq(h->dims[1], 28);
	ck_assert_uint_eq(h->dims[2], 28);
	ck_assert_uint_eq(h->record_size, 784);
	ck_assert_uint_eq(l->ndims, 1);
	ck_assert_uint_eq(l->count, count);
	ck_assert_uint_eq(l->record_size, 1);
	unsigned hist[10] = {0};
	uint64_t n = 0;
	const uint8_t *rec, *lab;
	enum core_status st;
	while ((st = dr_idx_next(im, &rec, &err)) == CORE_OK) {
		ck_assert_int_eq(dr_idx_next(lb, &lab, &err), CORE_OK);
		ck_assert_uint_lt(lab[0], 10);
		hist[lab[0]]++;
		int k = n == 0 ? 0 : n == 1 ? 1 : n == count - 1 ? 2 : -1;
		if (k >= 0) {
			char sha[65];
			ck_assert_int_eq(core_sha256_hex(rec, 784, sha), CORE_OK);
			ck_assert_str_eq(sha, want_sha[k]);
			ck_assert_uint_eq(lab[0], want_labels[k]);
		}
		n++;
	}
	ck_assert_msg(st == CORE_ENOENT, "%s", err.message);
	ck_assert_int_eq(dr_idx_next(lb, &lab, &err), CORE_ENOENT);
	ck_assert_uint_eq(n, count);
	for (int i = 0; i < 10; i++)
		ck_assert_uint_eq(hist[i], want_hist[i]);
	dr_idx_close(im);
	dr_idx_close(lb);
	close(ifd);
	close(lfd);
}

START_TEST(fashion_mnist_train_reads_as_numpy_reads_it)
{
	reads_like_numpy("train", 60000);
}
END_TEST

START_TEST(fashion_mnist_t10k_reads_as_numpy_reads_it)
{
	reads_like_numpy("t10k", 10000);
}
END_TEST

/* Writes bytes to dir/name and opens it. */
static int fixture(const char *name, const void *data, size_t n)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	fclose(f);
	int fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	return fd;
}

/* Reads the whole file; returns the status that ends it and the message in err. */
static enum core_status read_through(int fd, const char *name, struct core_error *err)
{
	struct dr_idx *r;
	enum core_status st = dr_idx_open(fd, name, &r, err);
	if (st == CORE_OK) {
		const uint8_t *rec;
		while ((st = dr_idx_next(r, &rec, err)) == CORE_OK)
			;
		dr_idx_close(r);
	}
	close(fd);
	return st;
}

START_TEST(broken_files_are_refused)
{
	/* 2 records of 2x2 */
	const uint8_t good[] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8};
	struct core_error err = {{0}};
	ck_assert_int_eq(read_through(fixture("good-idx3-ubyte", good, sizeof good), "good", &err), CORE_ENOENT);
	ck_assert_int_eq(read_through(fixture("short", good, sizeof good - 1), "short", &err), CORE_EINVAL);
	ck_assert_str_eq(err.message, "short: has 7 bytes of data, the header promises 8 (2 records of 4 bytes)");
	uint8_t longer[sizeof good + 1];
	memcpy(longer, good, sizeof good);
	longer[sizeof good] = 9;
	ck_assert_int_eq(read_through(fixture("long", longer, sizeof longer), "long", &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "long: more data than the header's 2 records of 4 bytes"));
	uint8_t f32[sizeof good];
	memcpy(f32, good, sizeof good);
	f32[2] = 0x0d;
	ck_assert_int_eq(read_through(fixture("float", f32, sizeof f32), "float", &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "data type 0x0d is not supported"));
	ck_assert_int_eq(read_through(fixture("text", "hello world", 11), "text", &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "not an IDX file"));
	ck_assert_int_eq(read_through(fixture("hdr", good, 9), "hdr", &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "header is truncated"));
	uint8_t zero_dims[] = {0, 0, 8, 0};
	ck_assert_int_eq(read_through(fixture("zero", zero_dims, 4), "zero", &err), CORE_EINVAL);

	/* gzipped: fine, then corrupted in the middle, then cut short */
	char cmd[512];
	snprintf(cmd, sizeof cmd,
		 "cd %s && gzip -kn good-idx3-ubyte && /usr/bin/python3 -c \"import gzip\n"
		 "d = bytes(range(256)) * 40; z = bytearray(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 40, 0]) + d))\n"
		 "open('cut.gz', 'wb').write(z[:len(z) - 9])\n"
		 "z[len(z) // 2] ^= 0xff; open('bad.gz', 'wb').write(z)\"",
		 dir);
	ck_assert_int_eq(system(cmd), 0);
	char path[128];
	snprintf(path, sizeof path, "%s/good-idx3-ubyte.gz", dir);
	ck_assert_int_eq(read_through(open(path, O_RDONLY), "good.gz", &err), CORE_ENOENT);
	snprintf(path, sizeof path, "%s/bad.gz", dir);
	ck_assert_int_eq(read_through(open(path, O_RDONLY), "bad.gz", &err), CORE_EINVAL);
	ck_assert_msg(strstr(err.message, "bad.gz: "), "%s", err.message);
	snprintf(path, sizeof path, "%s/cut.gz", dir);
	ck_assert_int_eq(read_through(open(path, O_RDONLY), "cut.gz", &err), CORE_EINVAL);
	ck_assert_msg(strstr(err.message, "cut.gz: "), "%s", err.message);
}
END_TEST

START_TEST(labels_names_pair_with_images)
{
	char *n = dr_idx_labels_name("fm/train-images-idx3-ubyte.gz");
	ck_assert_str_eq(n, "fm/train-labels-idx1-ubyte.gz");
	free(n);
	n = dr_idx_labels_name("t10k-images-idx3-ubyte");
	ck_assert_str_eq(n, "t10k-labels-idx1-ubyte");
	free(n);
	ck_assert_ptr_null(dr_idx_labels_name("images-idx3/train-labels-idx1-ubyte"));
	ck_assert(dr_idx_name("a/train-images-idx3-ubyte.gz"));
	ck_assert(dr_idx_name("t10k-labels-idx1-ubyte"));
	ck_assert(!dr_idx_name("train-images-idx3-ubyte.zip"));
	ck_assert(!dr_idx_name("-idx3-ubyte"));
	ck_assert(!dr_idx_name("x-idxA-ubyte"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("data-registry idx");
	TCase *tc = tcase_create("idx");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, fashion_mnist_train_reads_as_numpy_reads_it);
	tcase_add_test(tc, fashion_mnist_t10k_reads_as_numpy_reads_it);
	tcase_add_test(tc, broken_files_are_refused);
	tcase_add_test(tc, labels_names_pair_with_images);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

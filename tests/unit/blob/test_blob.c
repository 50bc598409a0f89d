/* Unit tests of the blob store: content addressing, streaming, dedup, bad keys. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "blob/blob.h"

static char dir[64];
static struct blob_store *store;

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/lathe-blob-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	struct core_error err;
	ck_assert_int_eq(blob_store_open(dir, &store, &err), CORE_OK);
}

static void teardown(void)
{
	blob_store_close(store);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static char *read_all(int fd, uint64_t size)
{
	char *buf = malloc(size + 1);
	ck_assert_ptr_nonnull(buf);
	uint64_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		ck_assert_int_gt(n, 0);
		got += (uint64_t)n;
	}
	buf[size] = '\0';
	close(fd);
	return buf;
}

START_TEST(put_is_keyed_by_sha256)
{
	char key[BLOB_KEY_LEN + 1];
	struct core_error err;
	ck_assert_int_eq(blob_put(store, "abc", 3, key, &err), CORE_OK);
	ck_assert_str_eq(key, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert(blob_exists(store, key));
	int fd;
	uint64_t size;
	ck_assert_int_eq(blob_open(store, key, &fd, &size, &err), CORE_OK);
	ck_assert_uint_eq(size, 3);
	char *back = read_all(fd, size);
	ck_assert_str_eq(back, "abc");
	free(back);
	/* the same content again: same key, still one object */
	char again[BLOB_KEY_LEN + 1];
	ck_assert_int_eq(blob_put(store, "abc", 3, again, &err), CORE_OK);
	ck_assert_str_eq(again, key);
}
END_TEST

START_TEST(streamed_write_of_many_chunks)
{
	struct blob_writer *w;
	struct core_error err;
	ck_assert_int_eq(blob_writer_new(store, &w, &err), CORE_OK);
	char chunk[65536];
	for (size_t i = 0; i < sizeof chunk; i++)
		chunk[i] = (char)(i * 7);
	for (int i = 0; i < 48; i++) /* 3 MiB */
		ck_assert_int_eq(blob_writer_write(w, chunk, sizeof chunk, &err), CORE_OK);
	ck_assert_uint_eq(blob_writer_size(w), 48u * sizeof chunk);
	char key[BLOB_KEY_LEN + 1];
	ck_assert_int_eq(blob_writer_commit(w, key, &err), CORE_OK);
	int fd;
	uint64_t size;
	ck_assert_int_eq(blob_open(store, key, &fd, &size, &err), CORE_OK);
	ck_assert_uint_eq(size, 48u * sizeof chunk);
	char *back = read_all(fd, size);
	for (int i = 0; i < 48; i++)
		ck_assert_int_eq(memcmp(back + (size_t)i * sizeof chunk, chunk, sizeof chunk), 0);
	free(back);
}
END_TEST

START_TEST(aborted_write_leaves_nothing)
{
	struct blob_writer *w;
	struct core_error err;
	ck_assert_int_eq(blob_writer_new(store, &w, &err), CORE_OK);
	ck_assert_int_eq(blob_writer_write(w, "partial", 7, &err), CORE_OK);
	blob_writer_abort(w);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s/tmp)\" && test -z \"$(ls -A %s/objects)\"", dir, dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(bad_and_missing_keys)
{
	struct core_error err;
	int fd;
	ck_assert(!blob_key_valid("../../etc/passwd"));
	ck_assert(!blob_key_valid("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
	ck_assert(!blob_key_valid("ba7816bf"));
	ck_assert(!blob_key_valid(NULL));
	ck_assert_int_eq(blob_open(store, "../x", &fd, NULL, &err), CORE_EINVAL);
	ck_assert_int_eq(
		blob_open(store, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", &fd, NULL, &err),
		CORE_ENOENT);
	ck_assert(!blob_exists(store, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("blob");
	TCase *tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, put_is_keyed_by_sha256);
	tcase_add_test(tc, streamed_write_of_many_chunks);
	tcase_add_test(tc, aborted_write_leaves_nothing);
	tcase_add_test(tc, bad_and_missing_keys);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

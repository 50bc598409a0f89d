/* Unit tests of the blob store's garbage collection (libs/blob/src/gc.c): a dry run
 * counts, a run removes exactly the unreferenced blobs older than the grace period,
 * young and referenced blobs stay, batches stay within their size, stale partial
 * writes in tmp/ go and live ones stay, and a commit of the same content during a
 * collection (from inside the references callback, between the scan and the removal)
 * keeps its blob. Ages are made by setting mtimes in the past, so nothing sleeps. */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "blob/blob.h"

static char dir[64];
static struct blob_store *store;

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/lathe-blobgc-XXXXXX");
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

static void object_path(const char *key, char *out, size_t size)
{
	snprintf(out, size, "%s/objects/%.2s/%s", dir, key, key);
}

/* Sets path's mtime to age_s seconds ago. */
static void age_path(const char *path, long age_s)
{
	struct timespec t[2];
	clock_gettime(CLOCK_REALTIME, &t[0]);
	t[0].tv_sec -= age_s;
	t[1] = t[0];
	ck_assert_msg(utimensat(AT_FDCWD, path, t, 0) == 0, "utimensat %s", path);
}

static void put_aged(const char *text, long age_s, char key[BLOB_KEY_LEN + 1])
{
	struct core_error err;
	ck_assert_int_eq(blob_put(store, text, strlen(text), key, &err), CORE_OK);
	if (age_s > 0) {
		char path[256];
		object_path(key, path, sizeof path);
		age_path(path, age_s);
	}
}

static time_t mtime_of(const char *key)
{
	char path[256];
	struct stat sb;
	object_path(key, path, sizeof path);
	ck_assert_int_eq(stat(path, &sb), 0);
	return sb.st_mtim.tv_sec;
}

/* The references callback: a fixed set of keys, and counters. */
struct refs {
	const char *keep[64];
	size_t n_keep;
	size_t calls, max_n, total;
	/* optional: content committed again from inside the first call (a writer racing
	 * the collection between its scan and its removals) */
	const char *recommit;
	bool fail;
};

static enum core_status refs_fn(void *cls, const char *const *keys, size_t n, bool *referenced, struct core_error *err)
{
	struct refs *r = cls;
	r->calls++;
	r->total += n;
	if (n > r->max_n)
		r->max_n = n;
	if (r->fail)
		return core_fail(err, CORE_EIO, "database unavailable");
	for (size_t i = 0; i < n; i++) {
		ck_assert(!referenced[i]);
		for (size_t k = 0; k < r->n_keep; k++)
			if (strcmp(keys[i], r->keep[k]) == 0)
				referenced[i] = true;
	}
	if (r->recommit && r->calls == 1) {
		char key[BLOB_KEY_LEN + 1];
		ck_assert_int_eq(blob_put(store, r->recommit, strlen(r->recommit), key, err), CORE_OK);
	}
	return CORE_OK;
}

static struct blob_gc_options options(struct refs *r, bool dry_run)
{
	return (struct blob_gc_options){
		.refs = refs_fn, .refs_cls = r, .grace_s = 60, .tmp_age_s = 60, .dry_run = dry_run};
}

START_TEST(dry_run_counts_and_run_removes_exactly_the_garbage)
{
	char kept[BLOB_KEY_LEN + 1], gone1[BLOB_KEY_LEN + 1], gone2[BLOB_KEY_LEN + 1], young[BLOB_KEY_LEN + 1];
	put_aged("referenced and old", 7200, kept);
	put_aged("garbage one", 7200, gone1);       /* 11 bytes */
	put_aged("garbage number two", 120, gone2); /* 18 bytes */
	put_aged("young garbage", 0, young);
	struct refs r = {.keep = {kept}, .n_keep = 1};
	struct blob_gc_options o = options(&r, true);
	struct blob_gc_stats st;
	struct core_error err;

	ck_assert_int_eq(blob_gc(store, &o, &st, &err), CORE_OK);
	ck_assert_uint_eq(st.scanned, 4);
	ck_assert_uint_eq(st.removed, 2);
	ck_assert_uint_eq(st.removed_bytes, 11 + 18);
	ck_assert_uint_eq(st.kept_referenced, 1);
	ck_assert_uint_eq(st.kept_young, 1);
	ck_assert(!st.cancelled);
	ck_assert_uint_eq(r.total, 3); /* the young one is not even asked about */
	/* a dry run removes nothing */
	ck_assert(blob_exists(store, kept) && blob_exists(store, gone1) && blob_exists(store, gone2) &&
		  blob_exists(store, young));

	o.dry_run = false;
	ck_assert_int_eq(blob_gc(store, &o, &st, &err), CORE_OK);
	ck_assert_uint_eq(st.removed, 2);
	ck_assert_uint_eq(st.removed_bytes, 29);
	ck_assert(blob_exists(store, kept));
	ck_assert(blob_exists(store, young));
	ck_assert(!blob_exists(store, gone1));
	ck_assert(!blob_exists(store, gone2));
	/* the survivors read back whole */
	int fd;
	uint64_t size;
	ck_assert_int_eq(blob_open(store, kept, &fd, &size, &err), CORE_OK);
	ck_assert_uint_eq(size, strlen("referenced and old"));
	close(fd);

	/* a second run finds nothing left to do */
	ck_assert_int_eq(blob_gc(store, &o, &st, &err), CORE_OK);
	ck_assert_uint_eq(st.scanned, 2);
	ck_assert_uint_eq(st.removed, 0);
	ck_assert_uint_eq(st.removed_bytes, 0);
}
END_TEST

START_TEST(batches_stay_within_their_size)
{
	char keys[25][BLOB_KEY_LEN + 1];
	struct refs r = {0};
	for (int i = 0; i < 25; i++) {
		char text[32];
		snprintf(text, sizeof text, "blob %d", i);
		put_aged(text, 3600, keys[i]);
		if (i % 2 == 0)
			r.keep[r.n_keep++] = keys[i];
	}
	struct blob_gc_options o = options(&r, false);
	o.batch = 4;
	struct blob_gc_stats st;
	struct core_error err;
	ck_assert_int_eq(blob_gc(store, &o, &st, &err), CORE_OK);
	ck_assert_uint_le(r.max_n, 4);
	ck_assert_uint_eq(r.total, 25);
	ck_assert_uint_ge(r.calls, 7);
	ck_assert_uint_eq(st.removed, 12);
	ck_assert_uint_eq(st.kept_referenced, 13);
	for (int i = 0; i < 25; i++)
		ck_assert_msg(blob_exists(store, keys[i]) == (i % 2 == 0), "blob %d", i);
}
END_TEST

/* A writer commits content the collector has just decided is garbage (between the
 * scan and the removal: from inside the callback, which the collector calls without
 * any lock held). The commit refreshes the blob's mtime, so the re-check under the
 * exclusive lock keeps it. */
START_TEST(commit_of_same_content_during_collection_keeps_the_blob)
{
	char raced[BLOB_KEY_LEN + 1], other[BLOB_KEY_LEN + 1];
	put_aged("uploaded again while collecting", 7200, raced);
	put_aged("plain garbage", 7200, other);
	time_t before = mtime_of(raced);
	struct refs r = {.recommit = "uploaded again while collecting"};
	struct blob_gc_options o = options(&r, false);
	struct blob_gc_stats st;
	struct core_error err;
	ck_assert_int_eq(blob_gc(store, &o, &st, &err), CORE_OK);
	ck_assert_uint_eq(r.calls, 1);
	ck_assert_uint_eq(r.total, 2); /* both were candidates, neither claimed */
	ck_assert(blob_exists(store, raced));
	ck_assert(!blob_exists(store, other));
	ck_assert_uint_eq(st.removed, 1);
	ck_assert_uint_eq(st.removed_bytes, strlen("plain garbage"));
	ck_assert_uint_eq(st.kept_young, 1);
	ck_assert_int_gt(mtime_of(raced), before);
	int fd;
	uint64_t size;
	ck_assert_int_eq(blob_open(store, raced, &fd, &size, &err), CORE_OK);
	char buf[64] = {0};
	ck_assert_int_eq(read(fd, buf, sizeof buf), (ssize_t)size);
	ck_assert_str_eq(buf, "uploaded again while collecting");
	close(fd);
}
END_TEST

/* blob_touch does for a reference to existing content what a commit does. */
START_TEST(touch_refreshes_and_reports_missing)
{
	char key[BLOB_KEY_LEN + 1];
	put_aged("deduplicated by key", 7200, key);
	time_t before = mtime_of(key);
	struct core_error err;
	ck_assert_int_eq(blob_touch(store, key, &err), CORE_OK);
	ck_assert_int_gt(mtime_of(key), before + 7000);
	struct refs r = {0};
	struct blob_gc_options o = options(&r, false);
	struct blob_gc_stats st;
	ck_assert_int_eq(blob_gc(store, &o, &st, &err), CORE_OK);
	ck_assert_uint_eq(st.kept_young, 1);
	ck_assert(blob_exists(store, key));
	ck_assert_int_eq(blob_touch(store, "0000000000000000000000000000000000000000000000000000000000000000", &err),
			 CORE_ENOENT);
	ck_assert_int_eq(blob_touch(store, "../etc", &err), CORE_EINVAL);
}
END_TEST

/* A commit of content already stored refreshes its mtime (the rename replaces it). */
START_TEST(commit_of_existing_content_refreshes_mtime)
{
	char key[BLOB_KEY_LEN + 1], again[BLOB_KEY_LEN + 1];
	put_aged("same bytes", 7200, key);
	time_t before = mtime_of(key);
	struct core_error err;
	ck_assert_int_eq(blob_put(store, "same bytes", 10, again, &err), CORE_OK);
	ck_assert_str_eq(key, again);
	ck_assert_int_gt(mtime_of(key), before + 7000);
}
END_TEST

static void write_tmp(const char *name, const char *text, long age_s)
{
	char path[256];
	snprintf(path, sizeof path, "%s/tmp/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	if (age_s > 0)
		age_path(path, age_s);
}

static bool tmp_exists(const char *name)
{
	char path[256];
	snprintf(path, sizeof path, "%s/tmp/%s", dir, name);
	return access(path, F_OK) == 0;
}

START_TEST(stale_partials_in_tmp_are_swept)
{
	write_tmp("crashed-upload-1", "half a model", 7200); /* 12 bytes */
	write_tmp("crashed-upload-2", "123", 100);
	write_tmp("fresh", "being written", 0);
	/* a write in progress, through the store: survives and commits afterwards */
	struct blob_writer *w;
	struct core_error err;
	ck_assert_int_eq(blob_writer_new(store, &w, &err), CORE_OK);
	ck_assert_int_eq(blob_writer_write(w, "live", 4, &err), CORE_OK);

	uint64_t n = 99, bytes = 99;
	ck_assert_int_eq(blob_sweep_tmp(store, 60, true, &n, &bytes, &err), CORE_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(bytes, 15);
	ck_assert(tmp_exists("crashed-upload-1") && tmp_exists("crashed-upload-2"));

	/* blob_gc sweeps too; its dry run counts only */
	struct refs r = {0};
	struct blob_gc_options o = options(&r, true);
	struct blob_gc_stats st;
	ck_assert_int_eq(blob_gc(store, &o, &st, &err), CORE_OK);
	ck_assert_uint_eq(st.tmp_removed, 2);
	ck_assert_uint_eq(st.tmp_bytes, 15);
	ck_assert(tmp_exists("crashed-upload-1"));
	o.dry_run = false;
	ck_assert_int_eq(blob_gc(store, &o, &st, &err), CORE_OK);
	ck_assert_uint_eq(st.tmp_removed, 2);
	ck_assert(!tmp_exists("crashed-upload-1"));
	ck_assert(!tmp_exists("crashed-upload-2"));
	ck_assert(tmp_exists("fresh"));

	char key[BLOB_KEY_LEN + 1];
	ck_assert_int_eq(blob_writer_commit(w, key, &err), CORE_OK);
	ck_assert(blob_exists(store, key));

	/* the explicit call, as at start-up */
	write_tmp("crashed-upload-3", "x", 7200);
	ck_assert_int_eq(blob_sweep_tmp(store, 60, false, &n, NULL, &err), CORE_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert(!tmp_exists("crashed-upload-3"));
	ck_assert(tmp_exists("fresh"));
	/* tmp_age_s < 0: blob_gc leaves tmp alone */
	write_tmp("crashed-upload-4", "x", 7200);
	o.tmp_age_s = -1;
	ck_assert_int_eq(blob_gc(store, &o, &st, &err), CORE_OK);
	ck_assert_uint_eq(st.tmp_removed, 0);
	ck_assert(tmp_exists("crashed-upload-4"));
}
END_TEST

static bool always(void *cls)
{
	(void)cls;
	return true;
}

START_TEST(failure_cancel_and_bad_options_remove_nothing)
{
	char key[BLOB_KEY_LEN + 1];
	put_aged("garbage", 7200, key);
	struct refs r = {.fail = true};
	struct blob_gc_options o = options(&r, false);
	struct blob_gc_stats st;
	struct core_error err = {{0}};
	ck_assert_int_eq(blob_gc(store, &o, &st, &err), CORE_EIO);
	ck_assert_str_eq(err.message, "database unavailable");
	ck_assert_uint_eq(st.removed, 0);
	ck_assert(blob_exists(store, key));

	r.fail = false;
	o.cancelled = always;
	ck_assert_int_eq(blob_gc(store, &o, &st, &err), CORE_OK);
	ck_assert(st.cancelled);
	ck_assert_uint_eq(st.removed, 0);
	ck_assert(blob_exists(store, key));

	o.cancelled = NULL;
	o.refs = NULL;
	ck_assert_int_eq(blob_gc(store, &o, &st, &err), CORE_EINVAL);
	o.refs = refs_fn;
	o.grace_s = -1;
	ck_assert_int_eq(blob_gc(store, &o, &st, &err), CORE_EINVAL);
	ck_assert(blob_exists(store, key));
}
END_TEST

/* Files in objects/ that are not blobs (a stray name, a key in the wrong fan-out
 * directory) are left alone and not counted. */
START_TEST(strays_are_ignored)
{
	char stray_dir[128], path[256];
	snprintf(stray_dir, sizeof stray_dir, "%s/objects/zz", dir);
	ck_assert_int_eq(mkdir(stray_dir, 0755), 0);
	snprintf(path, sizeof path, "%s/README", stray_dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	char key[BLOB_KEY_LEN + 1];
	put_aged("real garbage", 7200, key);
	snprintf(path, sizeof path, "%s/objects/%.2s/%s", dir, key[0] == 'a' ? "b0" : "a0", key);
	char fanout[128];
	snprintf(fanout, sizeof fanout, "%s/objects/%.2s", dir, key[0] == 'a' ? "b0" : "a0");
	mkdir(fanout, 0755);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	age_path(path, 7200);
	struct refs r = {0};
	struct blob_gc_options o = options(&r, false);
	struct blob_gc_stats st;
	struct core_error err;
	ck_assert_int_eq(blob_gc(store, &o, &st, &err), CORE_OK);
	ck_assert_uint_eq(st.scanned, 1);
	ck_assert_uint_eq(st.removed, 1);
	ck_assert(!blob_exists(store, key));
	ck_assert_int_eq(access(path, F_OK), 0);
}
END_TEST

/* Threads: a writer commits the same content over and over and checks after each
 * commit that the blob is there, while collections run back to back, claiming
 * nothing. The blob starts old, so the first collection may remove it before the
 * writer's first commit; from then on every commit is younger than the grace period,
 * and no collection may take a blob between a commit returning and the writer's
 * check. */
struct racer {
	atomic_bool stop;
	int commits, missing;
};

static void *racer_main(void *cls)
{
	struct racer *r = cls;
	struct core_error err;
	while (!atomic_load(&r->stop)) {
		char key[BLOB_KEY_LEN + 1];
		if (blob_put(store, "hot content", 11, key, &err) != CORE_OK || !blob_exists(store, key))
			r->missing++;
		r->commits++;
	}
	return NULL;
}

START_TEST(collections_racing_a_writer_never_lose_a_fresh_commit)
{
	char key[BLOB_KEY_LEN + 1];
	put_aged("hot content", 7200, key);
	struct racer rc = {0};
	atomic_init(&rc.stop, false);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, racer_main, &rc), 0);
	struct refs r = {0};
	struct blob_gc_options o = options(&r, false);
	o.grace_s = 5;
	struct blob_gc_stats st;
	struct core_error err;
	uint64_t removed = 0;
	for (int i = 0; i < 200; i++) {
		ck_assert_int_eq(blob_gc(store, &o, &st, &err), CORE_OK);
		removed += st.removed;
	}
	atomic_store(&rc.stop, true);
	pthread_join(t, NULL);
	ck_assert_int_gt(rc.commits, 0);
	ck_assert_int_eq(rc.missing, 0);
	ck_assert_uint_le(removed, 1);
	ck_assert(blob_exists(store, key));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("blob_gc");
	TCase *tc = tcase_create("gc");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, dry_run_counts_and_run_removes_exactly_the_garbage);
	tcase_add_test(tc, batches_stay_within_their_size);
	tcase_add_test(tc, commit_of_same_content_during_collection_keeps_the_blob);
	tcase_add_test(tc, touch_refreshes_and_reports_missing);
	tcase_add_test(tc, commit_of_existing_content_refreshes_mtime);
	tcase_add_test(tc, stale_partials_in_tmp_are_swept);
	tcase_add_test(tc, failure_cancel_and_bad_options_remove_nothing);
	tcase_add_test(tc, strays_are_ignored);
	tcase_add_test(tc, collections_racing_a_writer_never_lose_a_fresh_commit);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

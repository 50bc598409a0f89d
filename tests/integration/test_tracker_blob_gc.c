/* Integration tests of the tracker's blob garbage collection (services/experiment-tracker/
 * h_admin.c over libs/blob's blob_gc) on a real daemon and its blob store on disk:
 *   five_overwrites_then_delete  one artifact path uploaded five times with different
 *       bytes, then deleted, leaves five unreferenced blobs (what main left forever);
 *       POST /api/2.0/lathe/admin/gc with dry_run counts them and removes nothing, the
 *       real run removes exactly those five (checked file by file in BLOB_DIR) and a
 *       stale partial upload in tmp/, and a still-referenced artifact downloads byte
 *       for byte afterwards; a third run finds nothing;
 *   periodic_collection  BLOB_GC_INTERVAL_S=1 collects an overwritten blob unasked and
 *       logs what it removed;
 *   partials_swept_at_start  a crash's leftovers in tmp/ older than BLOB_TMP_AGE_S are
 *       gone once the daemon is ready; a fresh one stays.
 * Blob keys are computed here (SHA-256 of the bytes sent), so the test knows which
 * files must go and which must stay. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "core/sha256.h"
#include "harness.h"

#define ART "/api/2.0/mlflow-artifacts/artifacts"
#define GC  "/api/2.0/lathe/admin/gc"

/* The daemon's blob store: BLOB_DIR=<tmp>/blobs-<tag>, the tag of its log file. */
static void blob_dir_of(struct th_daemon *d, char *out, size_t size)
{
	const char *tag = strrchr(d->log_path, '-') + 1;
	snprintf(out, size, "%s/blobs-%.16s", th_env("LATHE_TEST_TMP"), tag);
}

static bool blob_on_disk(const char *dir, const void *data, size_t len)
{
	char key[CORE_SHA256_HEX_LEN + 1], path[1024];
	ck_assert_int_eq(core_sha256_hex(data, len, key), CORE_OK);
	snprintf(path, sizeof path, "%s/objects/%.2s/%s", dir, key, key);
	return access(path, F_OK) == 0;
}

static void write_file(const char *path, const char *text, long age_s)
{
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot create %s", path);
	fputs(text, f);
	fclose(f);
	if (age_s > 0) {
		struct timespec t[2];
		clock_gettime(CLOCK_REALTIME, &t[0]);
		t[0].tv_sec -= age_s;
		t[1] = t[0];
		ck_assert_int_eq(utimensat(AT_FDCWD, path, t, 0), 0);
	}
}

/* runs/create in experiment 0; returns the run's artifact root "0/<id>/artifacts". */
static void start_run(struct th_daemon *d, char *root, size_t size)
{
	struct th_response r =
		th_call(d, "POST", "/api/2.0/mlflow/runs/create", "{\"experiment_id\": \"0\", \"start_time\": 1}");
	ck_assert_msg(r.status == 200, "runs/create: %ld %s", r.status, r.body);
	json_t *info = json_object_get(json_object_get(r.json, "run"), "info");
	const char *id = json_string_value(json_object_get(info, "run_id"));
	ck_assert_ptr_nonnull(id);
	snprintf(root, size, "0/%s/artifacts", id);
	th_response_free(&r);
}

static void put(struct th_daemon *d, const char *root, const char *rel, const void *data, size_t len)
{
	char url[1024];
	snprintf(url, sizeof url, "%s" ART "/%s/%s", d->base_url, root, rel);
	struct th_response r = th_http("PUT", url, "application/octet-stream", data, len);
	ck_assert_msg(r.status == 200, "PUT %s: %ld %s", rel, r.status, r.body);
	th_response_free(&r);
}

/* POST admin/gc; checks the counts it answers. */
static void expect_gc(struct th_daemon *d, const char *body, bool dry_run, long long removed, long long bytes,
		      long long tmp_removed)
{
	struct th_response r = th_call(d, "POST", GC, body);
	ck_assert_msg(r.status == 200, "admin/gc: %ld %s", r.status, r.body);
	ck_assert_msg(json_is_object(r.json), "not JSON: %s", r.body);
	ck_assert_int_eq(json_is_true(json_object_get(r.json, "dry_run")), dry_run);
	ck_assert_msg(json_integer_value(json_object_get(r.json, "removed")) == removed, "removed: %s", r.body);
	ck_assert_msg(json_integer_value(json_object_get(r.json, "bytes")) == bytes, "bytes: %s", r.body);
	ck_assert_msg(json_integer_value(json_object_get(r.json, "tmp_removed")) == tmp_removed, "tmp: %s", r.body);
	th_response_free(&r);
}

START_TEST(five_overwrites_then_delete)
{
	const char *env[] = {"BLOB_GC_GRACE_S=1", "BLOB_TMP_AGE_S=60", "BLOB_GC_INTERVAL_S=0", NULL};
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, env);
	char root[128], dir[700];
	start_run(d, root, sizeof root);
	blob_dir_of(d, dir, sizeof dir);

	/* a referenced artifact, 256 KiB of varied bytes, which must survive */
	size_t keep_len = 256 * 1024;
	unsigned char *keep = malloc(keep_len);
	ck_assert_ptr_nonnull(keep);
	unsigned x = 777;
	for (size_t i = 0; i < keep_len; i++) {
		x = x * 1103515245u + 12345u;
		keep[i] = (unsigned char)(x >> 16);
	}
	put(d, root, "keep/weights.bin", keep, keep_len);

	/* one path, five versions: 1000, 2000, ... 5000 bytes, each different */
	char *versions[5];
	long long total = 0;
	for (int v = 0; v < 5; v++) {
		size_t len = 1000 * (size_t)(v + 1);
		versions[v] = malloc(len);
		ck_assert_ptr_nonnull(versions[v]);
		memset(versions[v], 'a' + v, len);
		put(d, root, "model/model.pkl", versions[v], len);
		total += (long long)len;
	}
	char url[1024];
	snprintf(url, sizeof url, "%s" ART "/%s/model", d->base_url, root);
	struct th_response r = th_http("DELETE", url, NULL, NULL, 0);
	ck_assert_int_eq(r.status, 200);
	th_response_free(&r);
	/* what main left behind for good: the five versions, named by no artifact */
	for (int v = 0; v < 5; v++)
		ck_assert_msg(blob_on_disk(dir, versions[v], 1000 * (size_t)(v + 1)), "version %d not stored", v);
	ck_assert(blob_on_disk(dir, keep, keep_len));

	/* a crash's partial upload in tmp/, two hours old */
	char partial[800];
	snprintf(partial, sizeof partial, "%s/tmp/crashed-upload", dir);
	write_file(partial, "half of a model", 7200);

	sleep(2); /* past the 1 s grace period */
	expect_gc(d, "{\"dry_run\": true}", true, 5, total, 1);
	for (int v = 0; v < 5; v++)
		ck_assert_msg(blob_on_disk(dir, versions[v], 1000 * (size_t)(v + 1)), "dry run removed version %d", v);
	ck_assert_int_eq(access(partial, F_OK), 0);

	expect_gc(d, "{\"dry_run\": false}", false, 5, total, 1);
	for (int v = 0; v < 5; v++)
		ck_assert_msg(!blob_on_disk(dir, versions[v], 1000 * (size_t)(v + 1)), "version %d left", v);
	ck_assert(blob_on_disk(dir, keep, keep_len));
	ck_assert_int_ne(access(partial, F_OK), 0);
	ck_assert_msg(th_daemon_log_has(d, "blob gc (requested)", "5 blobs, 15000 bytes removed"),
		      "the collection was not logged");

	/* the referenced artifact downloads whole */
	snprintf(url, sizeof url, "%s" ART "/%s/keep/weights.bin", d->base_url, root);
	r = th_http("GET", url, NULL, NULL, 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, keep_len);
	ck_assert(memcmp(r.body, keep, keep_len) == 0);
	th_response_free(&r);

	/* nothing left to collect; no body means a real run */
	expect_gc(d, NULL, false, 0, 0, 0);
	/* a path uploaded again after its blob went is stored afresh */
	put(d, root, "model/model.pkl", versions[0], 1000);
	ck_assert(blob_on_disk(dir, versions[0], 1000));

	for (int v = 0; v < 5; v++)
		free(versions[v]);
	free(keep);
	th_daemon_stop(d);
}
END_TEST

START_TEST(periodic_collection)
{
	const char *env[] = {"BLOB_GC_GRACE_S=1", "BLOB_GC_INTERVAL_S=1", NULL};
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, env);
	char root[128], dir[700];
	start_run(d, root, sizeof root);
	blob_dir_of(d, dir, sizeof dir);
	put(d, root, "metrics.json", "{\"old\": 1}", 10);
	put(d, root, "metrics.json", "{\"new\": 2}", 10);
	bool gone = false;
	for (int waited = 0; waited < 15000 && !gone; waited += 100) {
		gone = !blob_on_disk(dir, "{\"old\": 1}", 10);
		usleep(100 * 1000);
	}
	ck_assert_msg(gone, "the periodic collection did not remove the overwritten blob");
	ck_assert(blob_on_disk(dir, "{\"new\": 2}", 10));
	ck_assert(th_daemon_log_has(d, "blob gc (periodic)", "1 blobs, 10 bytes removed"));
	th_daemon_stop(d);
}
END_TEST

START_TEST(partials_swept_at_start)
{
	char dir[700], tmp[800], old_partial[900], fresh_partial[900], blob_env[800];
	snprintf(dir, sizeof dir, "%s/blobs-sweep-%d", th_env("LATHE_TEST_TMP"), (int)getpid());
	snprintf(tmp, sizeof tmp, "%s/tmp", dir);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(mkdir(tmp, 0755), 0);
	snprintf(old_partial, sizeof old_partial, "%s/0123-crashed", tmp);
	snprintf(fresh_partial, sizeof fresh_partial, "%s/4567-in-progress", tmp);
	write_file(old_partial, "left by a crash", 7200);
	write_file(fresh_partial, "another process's upload", 0);
	snprintf(blob_env, sizeof blob_env, "BLOB_DIR=%s", dir);
	const char *env[] = {blob_env, "BLOB_TMP_AGE_S=600", NULL};
	struct th_daemon *d = th_daemon_start("experiment-tracker", NULL, env);
	ck_assert_int_ne(access(old_partial, F_OK), 0);
	ck_assert_int_eq(access(fresh_partial, F_OK), 0);
	ck_assert(th_daemon_log_has(d, "removed 1 partial uploads", "15 bytes"));
	th_daemon_stop(d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tracker_blob_gc");
	TCase *tc = tcase_create("gc");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, five_overwrites_then_delete);
	tcase_add_test(tc, periodic_collection);
	tcase_add_test(tc, partials_swept_at_start);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

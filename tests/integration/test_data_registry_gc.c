/* Integration tests of the data registry's blob collection and crash safety: the real
 * daemon with BLOB_GC_GRACE_S=0, its store on disk and its database read with libpq.
 *   - GET /v1/admin/gc (dry run) reports the one orphan blob (PUT, never committed) and
 *     removes nothing; POST removes exactly it; blobs named by a manifest or by a
 *     profile (versions.profile_sha, set here as the profiler will) stay and still read.
 *     The same test marks a version READY in SQL to check latest, the profile read,
 *     and an ambiguous id prefix (two ids sharing 8 hex digits cannot be made through
 *     the API in reasonable time).
 *   - SIGKILL during a large streamed PUT: after a restart no blob of that key exists
 *     and the partial upload is swept at start or reported by the next dry run.
 *   - SIGKILL while a 200,000-file manifest is being inserted: after a restart there is
 *     no dataset, no version and no manifest row, and the dry run reports the commit's
 *     blobs as orphans. */
#include <check.h>
#include <curl/curl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "core/sha256.h"
#include "harness_data.h"
#include "harness.h"
#include "harness_util.h"

static json_t *ok(struct th_daemon *d, const char *method, const char *path, const char *body, long want)
{
	struct th_response r = th_call(d, method, path, body);
	ck_assert_msg(r.status == want, "%s %s: %ld %s", method, path, r.status, r.body);
	json_t *j = json_incref(r.json);
	ck_assert_ptr_nonnull(j);
	th_response_free(&r);
	return j;
}

static json_int_t num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	ck_assert_msg(json_is_integer(v), "no integer '%s'", k);
	return json_integer_value(v);
}

static bool on_disk(const char *dir, const char *key)
{
	char path[1400];
	snprintf(path, sizeof path, "%s/objects/%.2s/%s", dir, key, key);
	return access(path, F_OK) == 0;
}

START_TEST(gc_removes_only_unreferenced_blobs)
{
	const char *env[] = {"BLOB_GC_GRACE_S=0", "PROFILE_POLL_MS=0", NULL};
	struct th_daemon *d = th_daemon_start("data-registry", NULL, env);
	char dir[1024];
	th_data_blob_dir(d, dir, sizeof dir);
	const struct th_data_file files[] = {{"a.csv", "x\n1\n"}, {"b.csv", "x\n2\n"}};
	json_t *m = th_data_manifest(d, files, 2, true);
	struct th_response r = th_data_commit(d, "kept", m);
	ck_assert_int_eq(r.status, 201);
	th_response_free(&r);
	json_decref(m);
	char orphan[65], profile[65];
	th_data_put_blob(d, "never committed", 15, orphan);
	const char *profile_json = "{\"items\":2}";
	th_data_put_blob(d, profile_json, strlen(profile_json), profile);
	ck_assert_uint_eq(th_data_blob_count(dir), 4);

	/* the profiler's work, done in SQL: READY with a profile */
	char *q = th_fmt("UPDATE versions SET status = 'READY', profile_sha = '%s', ready_at = 1 WHERE number = 1",
			 profile);
	free(th_data_sql(d, q));
	free(q);
	json_t *j = ok(d, "GET", "/v1/datasets/kept/versions/latest", NULL, 200);
	ck_assert_int_eq(num(json_object_get(j, "version"), "number"), 1);
	json_decref(j);
	j = ok(d, "GET", "/v1/datasets/kept", NULL, 200);
	ck_assert_int_eq(num(json_object_get(j, "dataset"), "latest_version"), 1);
	json_decref(j);
	r = th_call(d, "GET", "/v1/datasets/kept/versions/latest/profile", NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, profile_json);
	th_response_free(&r);

	/* dry run: the orphan would go; nothing goes */
	j = ok(d, "GET", "/v1/admin/gc?dry_run=true", NULL, 200);
	ck_assert(json_is_true(json_object_get(j, "dry_run")));
	ck_assert_int_eq(num(j, "scanned"), 4);
	ck_assert_int_eq(num(j, "removed"), 1);
	ck_assert_int_eq(num(j, "removed_bytes"), 15);
	ck_assert_int_eq(num(j, "kept_referenced"), 3);
	json_decref(j);
	ck_assert(on_disk(dir, orphan));
	r = th_call(d, "GET", "/v1/admin/gc?dry_run=false", NULL);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "POST");
	th_response_free(&r);

	/* the real run removes exactly the orphan */
	j = ok(d, "POST", "/v1/admin/gc", NULL, 200);
	ck_assert(json_is_false(json_object_get(j, "dry_run")));
	ck_assert_int_eq(num(j, "removed"), 1);
	json_decref(j);
	ck_assert(!on_disk(dir, orphan));
	ck_assert(on_disk(dir, profile));
	ck_assert_uint_eq(th_data_blob_count(dir), 3);
	r = th_call(d, "GET", "/v1/datasets/kept/versions/1/files/b.csv", NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "x\n2\n");
	th_response_free(&r);
	j = ok(d, "POST", "/v1/admin/gc", "{\"dry_run\":true}", 200);
	ck_assert_int_eq(num(j, "removed"), 0);
	json_decref(j);

	/* a FAILED version's profile read names the failure */
	free(th_data_sql(d, "UPDATE versions SET status = 'FAILED', failure = 'a.csv: ragged row 3' WHERE number = 1"));
	r = th_call(d, "GET", "/v1/datasets/kept/versions/1/profile", NULL);
	th_expect_error(&r, 409, "RESOURCE_CONFLICT", "ragged row 3");
	th_response_free(&r);

	/* an ambiguous prefix */
	free(th_data_sql(d, "INSERT INTO versions (dataset_id, number, id, format, file_count, bytes, created_at) "
			    "SELECT id, 2, 'abcdef01' || repeat('0', 56), 'csv', 0, 0, 1 FROM datasets"));
	free(th_data_sql(d, "INSERT INTO versions (dataset_id, number, id, format, file_count, bytes, created_at) "
			    "SELECT id, 3, 'abcdef01' || repeat('1', 56), 'csv', 0, 0, 1 FROM datasets"));
	r = th_call(d, "GET", "/v1/datasets/kept/versions/abcdef01", NULL);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "ambiguous");
	th_response_free(&r);
	j = ok(d, "GET", "/v1/datasets/kept/versions/ABCDEF011", NULL, 200);
	ck_assert_int_eq(num(json_object_get(j, "version"), "number"), 3);
	json_decref(j);
	th_daemon_stop(d);
}
END_TEST

/* --- SIGKILL during a streamed PUT ----------------------------------------------------- */

struct slow_put {
	const char *url;
	size_t sent, total;
	volatile bool started_big;
	CURLcode rc;
};

static size_t slow_read(char *buf, size_t size, size_t n, void *cls)
{
	struct slow_put *p = cls;
	size_t want = size * n;
	if (want > 65536)
		want = 65536;
	if (p->sent >= p->total)
		return 0;
	if (want > p->total - p->sent)
		want = p->total - p->sent;
	memset(buf, 'z', want);
	p->sent += want;
	if (p->sent > (8u << 20)) {
		p->started_big = true;
		usleep(2000); /* keep the upload in flight until the kill */
	}
	return want;
}

static void *put_thread(void *arg)
{
	struct slow_put *p = arg;
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, p->url);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)p->total);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, slow_read);
	curl_easy_setopt(c, CURLOPT_READDATA, p);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	p->rc = curl_easy_perform(c);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return NULL;
}

START_TEST(sigkill_during_a_streamed_put_keeps_no_blob)
{
	char *db = th_db_create();
	char blob_env[1200];
	snprintf(blob_env, sizeof blob_env, "BLOB_DIR=%s/blobs-kill-put", th_env("LATHE_TEST_TMP"));
	const char *env[] = {blob_env, "BLOB_GC_GRACE_S=0", "BLOB_TMP_AGE_S=2", "PROFILE_POLL_MS=0", NULL};
	struct th_daemon *d = th_daemon_start("data-registry", db, env);
	const char *dir = blob_env + strlen("BLOB_DIR=");
	char key[65];
	memset(key, 'a', 64);
	key[64] = '\0'; /* the key of bytes never finished */
	char *url = th_fmt("%s/v1/blobs/%s", d->base_url, key);
	struct slow_put p = {.url = url, .total = (size_t)256 << 20};
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, put_thread, &p), 0);
	for (int i = 0; i < 3000 && !p.started_big; i++)
		usleep(10 * 1000);
	ck_assert(p.started_big);
	th_daemon_kill9(d);
	pthread_join(t, NULL);
	ck_assert_int_ne(p.rc, CURLE_OK);
	free(url);

	d = th_daemon_start("data-registry", db, env);
	ck_assert(!on_disk(dir, key));
	ck_assert_uint_eq(th_data_blob_count(dir), 0);
	sleep(2);
	json_t *j = ok(d, "GET", "/v1/admin/gc?dry_run=true", NULL, 200);
	/* the partial upload: swept at start, or reported now */
	ck_assert_msg(num(j, "tmp_removed") == 1 || th_daemon_log_has(d, "partial uploads", NULL),
		      "the partial upload was neither swept nor reported");
	ck_assert_int_eq(num(j, "removed"), 0);
	json_decref(j);
	th_daemon_stop(d);
	free(db);
}
END_TEST

/* --- SIGKILL during a large commit ----------------------------------------------------- */

struct bg_commit {
	struct th_daemon *d;
	char *body;
	long status;
};

static void *commit_thread(void *arg)
{
	struct bg_commit *b = arg;
	CURL *c = curl_easy_init();
	char *url = th_fmt("%s/v1/datasets/huge/versions", b->d->base_url);
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, b->body);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fwrite);
	FILE *null = fopen("/dev/null", "w");
	curl_easy_setopt(c, CURLOPT_WRITEDATA, null);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &b->status);
	fclose(null);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	free(url);
	return NULL;
}

START_TEST(sigkill_during_a_large_commit_leaves_no_half_version)
{
	char *db = th_db_create();
	char blob_env[1200];
	snprintf(blob_env, sizeof blob_env, "BLOB_DIR=%s/blobs-kill-commit", th_env("LATHE_TEST_TMP"));
	const char *env[] = {blob_env, "BLOB_GC_GRACE_S=0", "PROFILE_POLL_MS=0", NULL};
	struct th_daemon *d = th_daemon_start("data-registry", db, env);
	char k1[65], k2[65];
	th_data_put_blob(d, "x\n1\n", 4, k1);
	th_data_put_blob(d, "x\n2\n", 4, k2);
	json_t *list = json_array();
	for (int i = 0; i < 200000; i++) {
		char path[64];
		snprintf(path, sizeof path, "shard-%03d/part-%06d.csv", i % 997, i);
		json_array_append_new(list,
				      json_pack("{s:s, s:s, s:i}", "path", path, "sha256", i % 2 ? k1 : k2, "size", 4));
	}
	json_t *m = json_pack("{s:o}", "files", list);
	struct bg_commit b = {.d = d, .body = json_dumps(m, JSON_COMPACT)};
	json_decref(m);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, commit_thread, &b), 0);
	/* wait until the manifest rows are going in, then kill */
	bool inserting = false;
	for (int i = 0; i < 3000 && !inserting; i++) {
		char *n = th_data_sql(d, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
					 "AND state = 'active' AND query LIKE 'INSERT INTO version_files%'");
		inserting = strcmp(n, "0") != 0;
		free(n);
		if (!inserting)
			usleep(5 * 1000);
	}
	ck_assert_msg(inserting, "never saw the manifest insert");
	th_daemon_kill9(d);
	pthread_join(t, NULL);
	ck_assert_int_eq(b.status, 0); /* no answer came */
	free(b.body);

	d = th_daemon_start("data-registry", db, env);
	struct th_response r = th_call(d, "GET", "/v1/datasets/huge", NULL);
	th_expect_error(&r, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	th_response_free(&r);
	/* the killed transaction is rolled back (its backend may take a moment to notice) */
	char *n = NULL;
	for (int i = 0; i < 500; i++) {
		free(n);
		n = th_data_sql(d, "SELECT (SELECT count(*) FROM versions) + (SELECT count(*) FROM version_files)");
		if (strcmp(n, "0") == 0)
			break;
		usleep(10 * 1000);
	}
	ck_assert_str_eq(n, "0");
	free(n);
	json_t *j = ok(d, "GET", "/v1/admin/gc?dry_run=true", NULL, 200);
	ck_assert_int_eq(num(j, "removed"), 2); /* the commit's blobs are orphans */
	json_decref(j);
	th_daemon_stop(d);
	free(db);
}
END_TEST

static Suite *gc_suite(void)
{
	Suite *s = suite_create("data-registry-gc");
	TCase *tc = tcase_create("gc");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, gc_removes_only_unreferenced_blobs);
	suite_add_tcase(s, tc);
	tc = tcase_create("crash");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, sigkill_during_a_streamed_put_keeps_no_blob);
	tcase_add_test(tc, sigkill_during_a_large_commit_leaves_no_half_version);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	SRunner *sr = srunner_create(gc_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

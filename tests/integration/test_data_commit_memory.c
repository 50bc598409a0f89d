/* Integration test of the data registry's memory on a manifest commit (issue 9's
 * "memory of the daemon bounded whatever the dataset size"): POST
 * /v1/datasets/{name}/versions with 20,000 and then 200,000 files, on a real daemon,
 * and the daemon's peak RSS (VmHWM in /proc/<pid>/status) over its RSS before each
 * commit. The body itself is held while it arrives (up to DR_JSON_MANIFEST_MAX); what
 * must not grow with the number of files is everything beyond it: jansson's parse tree
 * cost some 500 bytes a file (about 100 MB at 200,000), the one-pass reader 4 bytes
 * (manifest_scan.c) and the rows go in DR_FILES_CHUNK at a time. The test asserts that
 * the peak beyond the body grows by less than GROWTH_BOUND_MB from 20,000 to 200,000
 * files, and that both versions are whole: file count, bytes, the version id computed
 * here, and the manifest read back. */
#include <check.h>
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/sha256.h"
#include "harness.h"
#include "harness_util.h"
#include "harness_data.h"

#define GROWTH_BOUND_MB 6

/* Resets VmHWM to the current RSS (writing 5 to clear_refs), so each commit's peak is
 * its own. */
static void reset_hwm(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/clear_refs", (int)pid);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("5", f);
	fclose(f);
}

/* The body of a commit of n files "shard-SSS/part-NNNNNN.csv" (all one blob, key, of 4
 * bytes: the blob checks stay one, the rows are what is measured), and the version id
 * the server must give them (sorted by path: the order written, since the shard is
 * i / 1000 and the part i). */
static char *body_of(size_t n, const char *key, size_t *len, char id[65])
{
	size_t cap = n * 128 + 64, at = 0;
	char *b = malloc(cap);
	ck_assert_ptr_nonnull(b);
	struct core_sha256 *h = core_sha256_new();
	at += (size_t)snprintf(b + at, cap - at, "{\"message\":\"%zu files\",\"files\":[", n);
	for (size_t i = 0; i < n; i++) {
		char path[64], line[160];
		snprintf(path, sizeof path, "shard-%03zu/part-%06zu.csv", i / 1000, i);
		at += (size_t)snprintf(b + at, cap - at, "%s{\"path\":\"%s\",\"sha256\":\"%s\",\"size\":4}",
				       i ? "," : "", path, key);
		int l = snprintf(line, sizeof line, "%s 4 %s\n", key, path);
		core_sha256_update(h, line, (size_t)l);
	}
	at += (size_t)snprintf(b + at, cap - at, "]}");
	core_sha256_finish_hex(h, id);
	*len = at;
	return b;
}

/* Commits n files to dataset and returns the peak RSS beyond the RSS before and the
 * body, in kB. */
static long commit_extra_kb(struct th_daemon *d, const char *dataset, size_t n, const char *key)
{
	size_t len;
	char id[65];
	char *body = body_of(n, key, &len, id);
	reset_hwm(d->pid);
	long rss0 = th_proc_status_kb(d->pid, "VmRSS");
	char *path = th_fmt("/v1/datasets/%s/versions", dataset);
	struct th_response r = th_call(d, "POST", path, body);
	ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
	long hwm = th_proc_status_kb(d->pid, "VmHWM");
	json_t *j = json_loads(r.body, 0, NULL);
	json_t *v = json_object_get(j, "version");
	ck_assert_str_eq(json_string_value(json_object_get(v, "id")), id);
	ck_assert_int_eq(json_integer_value(json_object_get(v, "file_count")), (json_int_t)n);
	ck_assert_int_eq(json_integer_value(json_object_get(v, "bytes")), (json_int_t)(4 * n));
	json_decref(j);
	th_response_free(&r);
	/* the rows are there, in order: the manifest's first page */
	char *mpath = th_fmt("/v1/datasets/%s/versions/%s/manifest", dataset, id);
	r = th_call(d, "GET", mpath, NULL);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "shard-000/part-000000.csv"));
	th_response_free(&r);
	long extra = hwm - rss0 - (long)(len / 1024);
	printf("bench: data-registry commit of %zu files: body %zu kB, RSS before %ld kB, peak %ld kB, beyond the "
	       "body %ld kB\n",
	       n, len / 1024, rss0, hwm, extra);
	fflush(stdout);
	free(mpath);
	free(path);
	free(body);
	return extra;
}

START_TEST(commit_memory_does_not_grow_with_the_file_count)
{
	char *db = th_db_create();
	const char *env[] = {"PROFILE_POLL_MS=0", NULL};
	struct th_daemon *d = th_daemon_start("data-registry", db, env);
	char key[65];
	th_data_put_blob(d, "x\n1\n", 4, key);
	commit_extra_kb(d, "warm", 2000, key); /* pools, prepared statements, first allocations */
	long small = commit_extra_kb(d, "m20k", 20000, key);
	long large = commit_extra_kb(d, "m200k", 200000, key);
	printf("bench: data-registry commit memory beyond the body: 20k files %ld kB, 200k files %ld kB (bound: "
	       "growth < %d MB)\n",
	       small, large, GROWTH_BOUND_MB);
	fflush(stdout);
#ifndef __SANITIZE_ADDRESS__ /* ASan's quarantine keeps freed memory resident: no bound to hold */
	ck_assert_msg(large - small < GROWTH_BOUND_MB * 1024, "beyond the body: %ld kB at 20k files, %ld kB at 200k",
		      small, large);
#endif
	th_daemon_stop(d);
	free(db);
}
END_TEST

static Suite *memory_suite(void)
{
	Suite *s = suite_create("data_commit_memory");
	TCase *tc = tcase_create("memory");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, commit_memory_does_not_grow_with_the_file_count);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	SRunner *sr = srunner_create(memory_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

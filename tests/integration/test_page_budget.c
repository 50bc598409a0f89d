/* Integration tests of the search pages' byte budget (SEARCH_PAGE_MAX_BYTES), real
 * daemons against fresh databases:
 *   - paging over big rows: registered-models/search, model-versions/search,
 *     runs/search and experiments/search stop a page early when its bytes reach the
 *     budget and hand out a next_page_token from which the client goes on exactly
 *     where the page stopped: across the pages every row comes once, in order;
 *   - memory: 4 concurrent registered-models/search?max_results=50 over 50 models with
 *     900 kB descriptions each raised the registry's RSS by 926 MB before; the
 *     registry's peak RSS (VmHWM in /proc/<pid>/status) over its RSS before the
 *     searches now stays under RSS_BOUND_MB. */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "harness_util.h"

#define API "/api/2.0/mlflow/"
/* 4 searches at once, each holding at most: one fetched chunk of rows (<= 4 of 900 kB
 * at first), the page's JSON (the 4 MiB budget plus one row), its text and the copy
 * libmicrohttpd sends; about 16 MB each */
#define RSS_BOUND_MB 100

/* n bytes of filler text, distinct per seed (malloc'd). */
static char *filler(size_t n, int seed)
{
	char *s = malloc(n + 1);
	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < n; i++)
		s[i] = (char)('a' + (i * 7 + (size_t)seed) % 26);
	s[n] = '\0';
	return s;
}

static void post_json(struct th_daemon *d, const char *path, json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(th_ok(d, "POST", path, text));
	free(text);
	json_decref(body);
}

/* Pages through a GET search (query already holds its arguments), appending each item's
 * key (or key/version) to names, comma-separated; returns the page count. Each page
 * must stay near the budget (one row past it at most). */
static int page_through_get(struct th_daemon *d, const char *path, const char *query, const char *items_key,
			    bool with_version, size_t budget, char **names)
{
	char *token = NULL;
	int pages = 0;
	size_t len = 0;
	*names = calloc(1, 1);
	do {
		char *esc = token ? curl_easy_escape(NULL, token, 0) : NULL;
		char *url = th_fmt("%s?%s%s%s", path, query, esc ? "&page_token=" : "", esc ? esc : "");
		struct th_response r = th_call(d, "GET", url, NULL);
		ck_assert_msg(r.status == 200, "%s -> %ld: %.300s", url, r.status, r.body);
		ck_assert_msg(r.body_len < budget + 1100000, "page of %zu bytes, budget %zu", r.body_len, budget);
		json_t *items = json_object_get(r.json, items_key);
		size_t i;
		json_t *it;
		json_array_foreach(items, i, it)
		{
			const char *name = json_string_value(json_object_get(it, "name"));
			const char *v = json_string_value(json_object_get(it, "version"));
			char *add = with_version ? th_fmt("%s%s/%s", len ? "," : "", name, v)
						 : th_fmt("%s%s", len ? "," : "", name);
			*names = realloc(*names, len + strlen(add) + 1);
			memcpy(*names + len, add, strlen(add) + 1);
			len += strlen(add);
			free(add);
		}
		free(token);
		const char *next = json_string_value(json_object_get(r.json, "next_page_token"));
		token = next ? strdup(next) : NULL;
		pages++;
		th_response_free(&r);
		free(url);
		curl_free(esc);
		ck_assert_int_lt(pages, 100);
	} while (token);
	return pages;
}

START_TEST(registry_pages_stop_at_the_budget_and_lose_no_row)
{
	char tracker[64];
	snprintf(tracker, sizeof tracker, "TRACKER_URL=http://127.0.0.1:%u", th_free_port());
	const char *env[] = {tracker, "SEARCH_PAGE_MAX_BYTES=1000000", NULL};
	struct th_daemon *m = th_daemon_start("model-registry", NULL, env);
	char want[512] = "";
	for (int i = 0; i < 12; i++) {
		char name[32];
		snprintf(name, sizeof name, "big-%02d", i);
		char *desc = filler(300000, i);
		post_json(m, API "registered-models/create",
			  json_pack("{s:s, s:s}", "name", name, "description", desc));
		free(desc);
		snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", i ? "," : "", name);
	}
	post_json(m, API "registered-models/create", json_pack("{s:s}", "name", "small"));

	char *got = NULL;
	int pages =
		page_through_get(m, API "registered-models/search", "filter=name%20LIKE%20%27big-%25%27&max_results=50",
				 "registered_models", false, 1000000, &got);
	ck_assert_str_eq(got, want);
	ck_assert_int_ge(pages, 4); /* 12 rows of 300 kB in pages of 1 MB: 3 or 4 rows each */
	free(got);
	/* with a small max_results the count still rules */
	pages = page_through_get(m, API "registered-models/search", "filter=name%20LIKE%20%27big-%25%27&max_results=2",
				 "registered_models", false, 1000000, &got);
	ck_assert_str_eq(got, want);
	ck_assert_int_eq(pages, 6);
	free(got);

	/* model versions with big descriptions, newest first */
	char vwant[512] = "";
	for (int v = 1; v <= 8; v++) {
		char *desc = filler(250000, v);
		post_json(m, API "model-versions/create",
			  json_pack("{s:s, s:s, s:s}", "name", "small", "source", "s3://b/m", "description", desc));
		free(desc);
	}
	for (int v = 8; v >= 1; v--)
		snprintf(vwant + strlen(vwant), sizeof vwant - strlen(vwant), "%ssmall/%d", v < 8 ? "," : "", v);
	pages = page_through_get(m, API "model-versions/search", "filter=name%3D%27small%27&max_results=100",
				 "model_versions", true, 1000000, &got);
	ck_assert_str_eq(got, vwant);
	ck_assert_int_ge(pages, 3);
	free(got);
	th_daemon_stop(m);
}
END_TEST

/* POSTs runs/search or experiments/search page after page, collecting the ids (runs:
 * info.run_id) or names (experiments). */
static int page_through_post(struct th_daemon *d, const char *path, json_t *req, const char *items_key, size_t budget,
			     json_t *seen)
{
	int pages = 0;
	for (;;) {
		char *text = json_dumps(req, JSON_COMPACT);
		struct th_response r = th_call(d, "POST", path, text);
		free(text);
		ck_assert_msg(r.status == 200, "%s -> %ld: %.300s", path, r.status, r.body);
		ck_assert_msg(r.body_len < budget + 200000, "page of %zu bytes, budget %zu", r.body_len, budget);
		size_t i;
		json_t *it;
		json_array_foreach(json_object_get(r.json, items_key), i, it)
		{
			json_t *id = json_object_get(json_object_get(it, "info"), "run_id");
			json_array_append(seen, id ? id : json_object_get(it, "name"));
		}
		pages++;
		json_t *next = json_object_get(r.json, "next_page_token");
		if (next)
			json_object_set(req, "page_token", next);
		th_response_free(&r);
		ck_assert_int_lt(pages, 100);
		if (!next)
			break;
	}
	json_decref(req);
	return pages;
}

START_TEST(tracker_pages_stop_at_the_budget_and_lose_no_row)
{
	const char *env[] = {"SEARCH_PAGE_MAX_BYTES=65536", NULL};
	struct th_daemon *t = th_daemon_start("experiment-tracker", NULL, env);
	json_t *e = th_ok(t, "POST", API "experiments/create", "{\"name\": \"pages\"}");
	const char *exp_id = json_string_value(json_object_get(e, "experiment_id"));

	/* 10 runs of ~50 kB of tags each: about one run per 64 kB page */
	json_t *want = json_array();
	for (int i = 0; i < 10; i++) {
		char *body = th_fmt("{\"experiment_id\": \"%s\", \"start_time\": %d}", exp_id, 1000 - i);
		json_t *run = th_ok(t, "POST", API "runs/create", body);
		const char *run_id = json_string_value(
			json_object_get(json_object_get(json_object_get(run, "run"), "info"), "run_id"));
		json_array_append_new(want, json_string(run_id));
		json_t *tags = json_array();
		for (int k = 0; k < 10; k++) {
			char key[32];
			snprintf(key, sizeof key, "t%d", k);
			char *v = filler(5000, i * 10 + k);
			json_array_append_new(tags, json_pack("{s:s, s:s}", "key", key, "value", v));
			free(v);
		}
		post_json(t, API "runs/log-batch", json_pack("{s:s, s:o}", "run_id", run_id, "tags", tags));
		json_decref(run);
		free(body);
	}
	json_t *seen = json_array();
	int pages = page_through_post(t, API "runs/search",
				      json_pack("{s:[s], s:i}", "experiment_ids", exp_id, "max_results", 50), "runs",
				      65536, seen);
	ck_assert_msg(json_equal(seen, want), "runs across pages differ from the runs made");
	ck_assert_int_ge(pages, 5);
	json_decref(seen);

	/* experiments with ~40 kB of tags each */
	json_t *ewant = json_array();
	for (int i = 0; i < 6; i++) {
		char name[32];
		snprintf(name, sizeof name, "tagged-%d", i);
		json_t *tags = json_array();
		for (int k = 0; k < 8; k++) {
			char key[32];
			snprintf(key, sizeof key, "t%d", k);
			char *v = filler(5000, i * 8 + k);
			json_array_append_new(tags, json_pack("{s:s, s:s}", "key", key, "value", v));
			free(v);
		}
		post_json(t, API "experiments/create", json_pack("{s:s, s:o}", "name", name, "tags", tags));
		json_array_append_new(ewant, json_string(name));
	}
	seen = json_array();
	pages = page_through_post(
		t, API "experiments/search",
		json_pack("{s:s, s:[s], s:i}", "filter", "name LIKE 'tagged-%'", "order_by", "name", "max_results", 50),
		"experiments", 65536, seen);
	ck_assert_msg(json_equal(seen, ewant), "experiments across pages differ from the ones made");
	ck_assert_int_ge(pages, 3);
	json_decref(seen);
	json_decref(ewant);
	json_decref(want);
	json_decref(e);
	th_daemon_stop(t);
}
END_TEST

/* --- memory ----------------------------------------------------------------------- */

static void *search_page(void *arg)
{
	struct th_daemon *m = arg;
	struct th_response r = th_call(m, "GET", API "registered-models/search?max_results=50", NULL);
	long status = r.status;
	th_response_free(&r);
	return (void *)(intptr_t)status;
}

START_TEST(big_pages_keep_the_registry_within_its_memory_bound)
{
	char tracker[64];
	snprintf(tracker, sizeof tracker, "TRACKER_URL=http://127.0.0.1:%u", th_free_port());
	const char *env[] = {tracker, NULL}; /* the default budget, 4 MiB */
	struct th_daemon *m = th_daemon_start("model-registry", NULL, env);
	for (int i = 0; i < 50; i++) {
		char name[32];
		snprintf(name, sizeof name, "m%02d", i);
		char *desc = filler(900000, i);
		post_json(m, API "registered-models/create",
			  json_pack("{s:s, s:s}", "name", name, "description", desc));
		free(desc);
	}
	long rss0 = th_proc_status_kb(m->pid, "VmRSS");
	for (int round = 0; round < 2; round++) {
		pthread_t th[4];
		for (int i = 0; i < 4; i++)
			ck_assert_int_eq(pthread_create(&th[i], NULL, search_page, m), 0);
		for (int i = 0; i < 4; i++) {
			void *status;
			pthread_join(th[i], &status);
			ck_assert_int_eq((int)(intptr_t)status, 200);
		}
	}
	long hwm = th_proc_status_kb(m->pid, "VmHWM"), rss = th_proc_status_kb(m->pid, "VmRSS");
	printf("bench: registry RSS before %ld kB, peak after 2x4 concurrent 50-row searches of 900 kB rows %ld kB "
	       "(growth %ld MB, bound %d MB), RSS after %ld kB\n",
	       rss0, hwm, (hwm - rss0) / 1024, RSS_BOUND_MB, rss);
	fflush(stdout);
#ifndef __SANITIZE_ADDRESS__ /* ASan's quarantine keeps freed memory resident: no bound to hold */
	ck_assert_msg((hwm - rss0) / 1024 < RSS_BOUND_MB, "peak RSS grew by %ld MB", (hwm - rss0) / 1024);
#endif
	th_daemon_stop(m);
}
END_TEST

static Suite *page_budget_suite(void)
{
	Suite *s = suite_create("page-budget");
	TCase *tc = tcase_create("paging");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, registry_pages_stop_at_the_budget_and_lose_no_row);
	tcase_add_test(tc, tracker_pages_stop_at_the_budget_and_lose_no_row);
	suite_add_tcase(s, tc);
	tc = tcase_create("memory");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, big_pages_keep_the_registry_within_its_memory_bound);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(page_budget_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

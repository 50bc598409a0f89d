/* Integration tests of the model registry's name limit, the real lathe-model-registry
 * against a fresh database: registered-models/create, registered-models/rename and
 * model-versions/create with a model name over MLflow's 256 characters (300 ASCII
 * characters, or 1500 two-byte ones: 3000 bytes, past PostgreSQL's index row limit,
 * which answered 500 "index row size ... registered_models_name_key") are refused with
 * 400 INVALID_PARAMETER_VALUE naming the limit, before anything is written; names of
 * exactly 256 characters, multi-byte ones included, are kept. TRACKER_URL points at a
 * closed port, so versions are registered "not servable". */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "harness.h"

#define API "/api/2.0/mlflow/"

static struct th_daemon *start_registry(void)
{
	char tracker[64];
	snprintf(tracker, sizeof tracker, "TRACKER_URL=http://127.0.0.1:%u", th_free_port());
	const char *env[] = {tracker, "TRACKER_TIMEOUT_MS=2000", NULL};
	return th_daemon_start("model-registry", NULL, env);
}

static char *repeat(const char *unit, size_t n)
{
	size_t u = strlen(unit);
	char *s = malloc(u * n + 1);
	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * u, unit, u);
	s[u * n] = '\0';
	return s;
}

static void refused(struct th_daemon *d, const char *path, const char *k1, const char *v1, const char *k2,
		    const char *v2, const char *needle)
{
	struct th_response r = th_post_fields(d, path, k1, v1, k2, v2);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", needle);
	th_response_free(&r);
}

static json_t *ok(struct th_daemon *d, const char *path, const char *k1, const char *v1, const char *k2, const char *v2)
{
	struct th_response r = th_post_fields(d, path, k1, v1, k2, v2);
	ck_assert_msg(r.status == 200, "%s -> %ld: %s", path, r.status, r.body);
	json_t *j = json_incref(r.json);
	th_response_free(&r);
	return j;
}

static const char *str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	ck_assert_msg(json_is_string(v), "field %s is not a string", key);
	return json_string_value(v);
}

/* The names of all registered models, in one JSON array (owned). */
static json_t *model_names(struct th_daemon *d)
{
	struct th_response r = th_call(d, "GET", API "registered-models/search?max_results=1000", NULL);
	ck_assert_int_eq(r.status, 200);
	json_t *names = json_array(), *m;
	size_t i;
	json_array_foreach(json_object_get(r.json, "registered_models"), i, m)
		json_array_append_new(names, json_string(str(m, "name")));
	th_response_free(&r);
	return names;
}

START_TEST(model_names_over_256_characters_refused)
{
	struct th_daemon *d = start_registry();
	char *a300 = repeat("a", 300), *e1500 = repeat("\xc3\xa9", 1500);      /* é: 3000 bytes */
	char *x256 = repeat("x", 256), *euro256 = repeat("\xe2\x82\xac", 256); /* €: 768 bytes */
	const char *limit = "which exceeded length limit of 256";

	/* registered-models/create */
	refused(d, API "registered-models/create", "name", a300, NULL, NULL, limit);
	refused(d, API "registered-models/create", "name", e1500, NULL, NULL,
		"had length 1500, which exceeded length limit of 256");
	json_t *names = model_names(d);
	ck_assert_int_eq(json_array_size(names), 0);
	json_decref(names);
	json_t *j = ok(d, API "registered-models/create", "name", x256, NULL, NULL);
	ck_assert_str_eq(str(json_object_get(j, "registered_model"), "name"), x256);
	json_decref(j);
	j = ok(d, API "registered-models/create", "name", euro256, NULL, NULL);
	ck_assert_str_eq(str(json_object_get(j, "registered_model"), "name"), euro256);
	json_decref(j);

	/* model-versions/create: the version's model name */
	refused(d, API "model-versions/create", "name", a300, "source", "s3://bucket/model", limit);
	refused(d, API "model-versions/create", "name", e1500, "source", "s3://bucket/model", limit);
	j = ok(d, API "model-versions/create", "name", euro256, "source", "s3://bucket/model");
	ck_assert_str_eq(str(json_object_get(j, "model_version"), "version"), "1");
	ck_assert_str_eq(str(json_object_get(j, "model_version"), "name"), euro256);
	json_decref(j);

	/* and read back by a GET whose query carries all 768 bytes percent-encoded */
	char *esc = curl_easy_escape(NULL, euro256, 0);
	char *path = core_xasprintf(API "registered-models/get?name=%s", esc);
	struct th_response got = th_call(d, "GET", path, NULL);
	ck_assert_int_eq(got.status, 200);
	ck_assert_str_eq(str(json_object_get(got.json, "registered_model"), "name"), euro256);
	th_response_free(&got);
	free(path);
	curl_free(esc);

	/* registered-models/rename */
	refused(d, API "registered-models/rename", "name", x256, "new_name", a300, limit);
	refused(d, API "registered-models/rename", "name", x256, "new_name", e1500, limit);
	names = model_names(d);
	ck_assert_int_eq(json_array_size(names), 2);
	ck_assert(strcmp(json_string_value(json_array_get(names, 0)), x256) == 0 ||
		  strcmp(json_string_value(json_array_get(names, 1)), x256) == 0);
	json_decref(names);
	char *y256 = repeat("\xc3\xbf", 256); /* ÿ */
	j = ok(d, API "registered-models/rename", "name", x256, "new_name", y256);
	ck_assert_str_eq(str(json_object_get(j, "registered_model"), "name"), y256);
	json_decref(j);
	names = model_names(d);
	ck_assert_int_eq(json_array_size(names), 2);
	json_decref(names);

	free(y256);
	free(a300);
	free(e1500);
	free(x256);
	free(euro256);
	th_daemon_stop(d);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	Suite *s = suite_create("registry_limits");
	TCase *tc = tcase_create("names");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, model_names_over_256_characters_refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

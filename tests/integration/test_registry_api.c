/* Integration tests of the model registry's MLflow REST API: the real lathe-model-registry
 * against a fresh PostgreSQL database, driven over HTTP with the requests the MLflow
 * 2.12.2 Python client sends (docs/mlflow-api.md §9): register from a
 * run, versions, stage transitions with and without archiving, aliases, searches with
 * filters and paging, tags, rename, delete; MLflow's error codes for bad input; and
 * dense version numbers under concurrent creation. Bodies are checked field by field.
 * TRACKER_URL points at a closed port here, so versions are registered "not servable"
 * (test_registry_servable.c covers the tracker side). */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"

static struct th_daemon *d;

static unsigned tracker_port; /* closed: nothing listens there */

static void start_registry(void)
{
	char tracker[64];
	tracker_port = th_free_port();
	snprintf(tracker, sizeof tracker, "TRACKER_URL=http://127.0.0.1:%u", tracker_port);
	/* two quick attempts: an unreachable tracker's answer settles within a second */
	const char *env[] = {tracker, "TRACKER_TIMEOUT_MS=2000", "SERVABLE_CHECK_ATTEMPTS=2", "SERVABLE_RETRY_MS=50",
			     NULL};
	d = th_daemon_start("model-registry", NULL, env);
}

static void stop_registry(void)
{
	th_daemon_stop(d);
	d = NULL;
}

/* Calls and expects 200; returns the JSON body (owned). */
static json_t *ok(const char *method, const char *path, const char *body)
{
	struct th_response r = th_call(d, method, path, body);
	ck_assert_msg(r.status == 200, "%s %s %s: expected 200, got %ld: %s", method, path, body ? body : "", r.status,
		      r.body);
	ck_assert_msg(r.json != NULL, "%s %s: not JSON: %s", method, path, r.body);
	json_t *j = json_incref(r.json);
	th_response_free(&r);
	return j;
}

static void fails(const char *method, const char *path, const char *body, long status, const char *code,
		  const char *needle)
{
	struct th_response r = th_call(d, method, path, body);
	th_expect_error(&r, status, code, needle);
	th_response_free(&r);
}

/* A path with one query parameter percent-encoded. */
static char *with_query(const char *path, const char *key, const char *value, const char *rest)
{
	char *esc = curl_easy_escape(NULL, value, 0);
	char *out = NULL;
	ck_assert_int_gt(asprintf(&out, "%s?%s=%s%s", path, key, esc, rest ? rest : ""), 0);
	curl_free(esc);
	return out;
}

static const char *str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	ck_assert_msg(json_is_string(v), "field %s is not a string", key);
	return json_string_value(v);
}

static void create_model(const char *name)
{
	char body[256];
	snprintf(body, sizeof body, "{\"name\": \"%s\"}", name);
	json_decref(ok("POST", "/api/2.0/mlflow/registered-models/create", body));
}

/* Creates a version and returns its number (as the server says). */
static long create_version(const char *name, const char *source, const char *run_id)
{
	char body[512];
	snprintf(body, sizeof body, "{\"name\": \"%s\", \"source\": \"%s\", \"run_id\": \"%s\"}", name, source, run_id);
	json_t *j = ok("POST", "/api/2.0/mlflow/model-versions/create", body);
	long v = strtol(str(json_object_get(j, "model_version"), "version"), NULL, 10);
	json_decref(j);
	return v;
}

static json_t *get_version(const char *name, const char *version)
{
	char path[256];
	snprintf(path, sizeof path, "/api/2.0/mlflow/model-versions/get?name=%s&version=%s", name, version);
	json_t *j = ok("GET", path, NULL);
	json_t *mv = json_incref(json_object_get(j, "model_version"));
	json_decref(j);
	return mv;
}

static const char *tag_value(json_t *entity, const char *key)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(entity, "tags"), i,
			   t) if (strcmp(str(t, "key"), key) == 0) return str(t, "value");
	return NULL;
}

/* The version once its servability check has an answer (lathe.servable no longer
 * "pending"), within 10 s; owned. */
static json_t *settled_version(const char *name, const char *version)
{
	for (int i = 0; i < 200; i++) {
		json_t *mv = get_version(name, version);
		const char *v = tag_value(mv, "lathe.servable");
		if (v && strcmp(v, "pending") != 0)
			return mv;
		json_decref(mv);
		usleep(50 * 1000);
	}
	ck_abort_msg("version %s of %s: lathe.servable still pending after 10 s", version, name);
	return NULL;
}

#define RUN "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
#define SRC "mlflow-artifacts:/1/" RUN "/artifacts/model"

START_TEST(register_from_a_run)
{
	start_registry();
	/* mlflow.register_model("runs:/R/model", "m") */
	json_t *j = ok("POST", "/api/2.0/mlflow/registered-models/create", "{\"name\": \"m\"}");
	json_t *rm = json_object_get(j, "registered_model");
	ck_assert_str_eq(str(rm, "name"), "m");
	ck_assert_str_eq(str(rm, "description"), "");
	ck_assert(json_is_integer(json_object_get(rm, "creation_timestamp")));
	ck_assert_int_eq(json_integer_value(json_object_get(rm, "creation_timestamp")),
			 json_integer_value(json_object_get(rm, "last_updated_timestamp")));
	ck_assert_ptr_null(json_object_get(rm, "latest_versions"));
	ck_assert_ptr_null(json_object_get(rm, "tags"));
	ck_assert_ptr_null(json_object_get(rm, "aliases"));
	json_decref(j);
	fails("POST", "/api/2.0/mlflow/registered-models/create", "{\"name\": \"m\"}", 400, "RESOURCE_ALREADY_EXISTS",
	      "name=m");

	j = ok("POST", "/api/2.0/mlflow/model-versions/create",
	       "{\"name\": \"m\", \"source\": \"" SRC "\", \"run_id\": \"" RUN "\"}");
	json_t *mv = json_object_get(j, "model_version");
	ck_assert_str_eq(str(mv, "name"), "m");
	ck_assert_str_eq(str(mv, "version"), "1");
	ck_assert_str_eq(str(mv, "current_stage"), "None");
	ck_assert_str_eq(str(mv, "status"), "READY");
	ck_assert_str_eq(str(mv, "description"), "");
	ck_assert_str_eq(str(mv, "source"), SRC);
	ck_assert_str_eq(str(mv, "run_id"), RUN);
	ck_assert_str_eq(str(mv, "run_link"), "");
	ck_assert(json_is_integer(json_object_get(mv, "creation_timestamp")));
	ck_assert(json_is_integer(json_object_get(mv, "last_updated_timestamp")));
	ck_assert_ptr_null(json_object_get(mv, "aliases"));
	ck_assert_ptr_null(json_object_get(mv, "user_id"));
	/* the tracker is asked in the background: the answer comes later */
	ck_assert_str_eq(tag_value(mv, "lathe.servable"), "pending");
	ck_assert_ptr_null(tag_value(mv, "lathe.servable_reason"));
	json_decref(j);
	mv = settled_version("m", "1");
	ck_assert_str_eq(tag_value(mv, "lathe.servable"), "false");
	/* every client reads the tag: it says what happened, not where the tracker is */
	ck_assert_str_eq(tag_value(mv, "lathe.servable_reason"), "the tracker could not be reached");
	th_expect_no_internals(tag_value(mv, "lathe.servable_reason"), tracker_port);
	ck_assert(th_daemon_log_has(d, "tracker unreachable", "\"request_id\":"));
	json_decref(mv);

	mv = get_version("m", "1");
	ck_assert_str_eq(str(mv, "source"), SRC);
	ck_assert_str_eq(str(mv, "status"), "READY");
	json_decref(mv);

	j = ok("GET", "/api/2.0/mlflow/model-versions/get-download-uri?name=m&version=1", NULL);
	ck_assert_str_eq(str(j, "artifact_uri"), SRC);
	json_decref(j);

	/* the model now lists version 1 as its latest "None" version */
	j = ok("GET", "/api/2.0/mlflow/registered-models/get?name=m", NULL);
	json_t *latest = json_object_get(json_object_get(j, "registered_model"), "latest_versions");
	ck_assert_int_eq(json_array_size(latest), 1);
	ck_assert_str_eq(str(json_array_get(latest, 0), "version"), "1");
	json_decref(j);

	/* the web UI's twin path answers the same */
	j = ok("GET", "/ajax-api/2.0/mlflow/registered-models/get?name=m", NULL);
	ck_assert_str_eq(str(json_object_get(j, "registered_model"), "name"), "m");
	json_decref(j);

	/* create with tags and description, and a version with all its fields */
	j = ok("POST", "/api/2.0/mlflow/registered-models/create",
	       "{\"name\": \"full\", \"description\": \"d\", \"tags\": [{\"key\": \"team\", \"value\": \"vision\"}]}");
	rm = json_object_get(j, "registered_model");
	ck_assert_str_eq(str(rm, "description"), "d");
	ck_assert_str_eq(tag_value(rm, "team"), "vision");
	json_decref(j);
	j = ok("POST", "/api/2.0/mlflow/model-versions/create",
	       "{\"name\": \"full\", \"source\": \"s3://bucket/model\", \"run_link\": \"http://x/r\", "
	       "\"description\": \"first\", \"tags\": [{\"key\": \"k\", \"value\": \"v\"}]}");
	mv = json_object_get(j, "model_version");
	ck_assert_str_eq(str(mv, "run_link"), "http://x/r");
	ck_assert_str_eq(str(mv, "description"), "first");
	ck_assert_str_eq(str(mv, "run_id"), "");
	ck_assert_str_eq(tag_value(mv, "k"), "v");
	ck_assert_str_eq(tag_value(mv, "lathe.servable"), "false");
	ck_assert_ptr_nonnull(strstr(tag_value(mv, "lathe.servable_reason"), "not an mlflow-artifacts"));
	json_decref(j);
	stop_registry();
}
END_TEST

START_TEST(stages_with_and_without_archiving)
{
	start_registry();
	create_model("s");
	for (int i = 1; i <= 3; i++)
		ck_assert_int_eq(create_version("s", SRC, RUN), i);

	json_t *j = ok("POST", "/api/2.0/mlflow/model-versions/transition-stage",
		       "{\"name\": \"s\", \"version\": \"1\", \"stage\": \"Production\", "
		       "\"archive_existing_versions\": false}");
	ck_assert_str_eq(str(json_object_get(j, "model_version"), "current_stage"), "Production");
	json_decref(j);
	j = ok("POST", "/api/2.0/mlflow/model-versions/transition-stage",
	       "{\"name\": \"s\", \"version\": \"2\", \"stage\": \"staging\", \"archive_existing_versions\": false}");
	ck_assert_str_eq(str(json_object_get(j, "model_version"), "current_stage"), "Staging");
	json_decref(j);

	/* without archiving, two versions can be in Production */
	json_decref(ok("POST", "/api/2.0/mlflow/model-versions/transition-stage",
		       "{\"name\": \"s\", \"version\": \"3\", \"stage\": \"PRODUCTION\", "
		       "\"archive_existing_versions\": false}"));
	json_t *mv = get_version("s", "1");
	ck_assert_str_eq(str(mv, "current_stage"), "Production");
	json_decref(mv);

	/* get-latest-versions: newest per stage */
	j = ok("POST", "/api/2.0/mlflow/registered-models/get-latest-versions",
	       "{\"name\": \"s\", \"stages\": [\"Production\"]}");
	json_t *list = json_object_get(j, "model_versions");
	ck_assert_int_eq(json_array_size(list), 1);
	ck_assert_str_eq(str(json_array_get(list, 0), "version"), "3");
	json_decref(j);
	j = ok("GET", "/api/2.0/mlflow/registered-models/get-latest-versions?name=s", NULL);
	list = json_object_get(j, "model_versions");
	ck_assert_int_eq(json_array_size(list), 2); /* Production (first seen at v1) then Staging */
	ck_assert_str_eq(str(json_array_get(list, 0), "current_stage"), "Production");
	ck_assert_str_eq(str(json_array_get(list, 0), "version"), "3");
	ck_assert_str_eq(str(json_array_get(list, 1), "current_stage"), "Staging");
	json_decref(j);
	j = ok("GET", "/api/2.0/mlflow/registered-models/get-latest-versions?name=s&stages=None", NULL);
	ck_assert_ptr_null(json_object_get(j, "model_versions"));
	json_decref(j);

	/* with archiving: version 2 to Production archives 1 and 3 */
	j = ok("POST", "/api/2.0/mlflow/model-versions/transition-stage",
	       "{\"name\": \"s\", \"version\": \"2\", \"stage\": \"Production\", \"archive_existing_versions\": true}");
	ck_assert_str_eq(str(json_object_get(j, "model_version"), "current_stage"), "Production");
	json_decref(j);
	const char *expect[] = {"Archived", "Production", "Archived"};
	for (int i = 1; i <= 3; i++) {
		char v[16];
		snprintf(v, sizeof v, "%d", i);
		mv = get_version("s", v);
		ck_assert_str_eq(str(mv, "current_stage"), expect[i - 1]);
		json_decref(mv);
	}
	j = ok("GET", "/api/2.0/mlflow/registered-models/get?name=s", NULL);
	list = json_object_get(json_object_get(j, "registered_model"), "latest_versions");
	ck_assert_int_eq(json_array_size(list), 2);
	ck_assert_str_eq(str(json_array_get(list, 0), "current_stage"), "Archived");
	ck_assert_str_eq(str(json_array_get(list, 0), "version"), "3");
	ck_assert_str_eq(str(json_array_get(list, 1), "current_stage"), "Production");
	json_decref(j);

	/* bad stages */
	fails("POST", "/api/2.0/mlflow/model-versions/transition-stage",
	      "{\"name\": \"s\", \"version\": \"1\", \"stage\": \"Prod\", \"archive_existing_versions\": false}", 400,
	      "INVALID_PARAMETER_VALUE", "Invalid Model Version stage: Prod");
	fails("POST", "/api/2.0/mlflow/model-versions/transition-stage",
	      "{\"name\": \"s\", \"version\": \"1\", \"stage\": \"Archived\", \"archive_existing_versions\": true}",
	      400, "INVALID_PARAMETER_VALUE", "Active stage");
	fails("POST", "/api/2.0/mlflow/model-versions/transition-stage",
	      "{\"name\": \"s\", \"version\": \"1\", \"stage\": \"Staging\"}", 400, "INVALID_PARAMETER_VALUE",
	      "archive_existing_versions");
	fails("POST", "/api/2.0/mlflow/registered-models/get-latest-versions", "{\"name\": \"s\", \"stages\": [\"x\"]}",
	      400, "INVALID_PARAMETER_VALUE", "Invalid Model Version stage");
	fails("POST", "/api/2.0/mlflow/model-versions/transition-stage",
	      "{\"name\": \"s\", \"version\": \"9\", \"stage\": \"Staging\", \"archive_existing_versions\": false}",
	      404, "RESOURCE_DOES_NOT_EXIST", "Model Version (name=s, version=9) not found");
	stop_registry();
}
END_TEST

START_TEST(aliases_set_moved_deleted)
{
	start_registry();
	create_model("a");
	create_version("a", SRC, RUN);
	create_version("a", SRC, RUN);

	json_t *j = ok("POST", "/api/2.0/mlflow/registered-models/alias",
		       "{\"name\": \"a\", \"alias\": \"champion\", \"version\": \"1\"}");
	ck_assert_int_eq(json_object_size(j), 0);
	json_decref(j);
	j = ok("GET", "/api/2.0/mlflow/registered-models/alias?name=a&alias=champion", NULL);
	json_t *mv = json_object_get(j, "model_version");
	ck_assert_str_eq(str(mv, "version"), "1");
	ck_assert_int_eq(json_array_size(json_object_get(mv, "aliases")), 1);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(mv, "aliases"), 0)), "champion");
	json_decref(j);

	/* moving it: one version per alias */
	json_decref(ok("POST", "/api/2.0/mlflow/registered-models/alias",
		       "{\"name\": \"a\", \"alias\": \"champion\", \"version\": \"2\"}"));
	json_decref(ok("POST", "/api/2.0/mlflow/registered-models/alias",
		       "{\"name\": \"a\", \"alias\": \"shadow\", \"version\": 1}"));
	j = ok("GET", "/api/2.0/mlflow/registered-models/get?name=a", NULL);
	json_t *aliases = json_object_get(json_object_get(j, "registered_model"), "aliases");
	ck_assert_int_eq(json_array_size(aliases), 2);
	ck_assert_str_eq(str(json_array_get(aliases, 0), "alias"), "champion");
	ck_assert_str_eq(str(json_array_get(aliases, 0), "version"), "2");
	ck_assert_str_eq(str(json_array_get(aliases, 1), "alias"), "shadow");
	ck_assert_str_eq(str(json_array_get(aliases, 1), "version"), "1");
	json_decref(j);
	mv = get_version("a", "1");
	ck_assert_int_eq(json_array_size(json_object_get(mv, "aliases")), 1);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(mv, "aliases"), 0)), "shadow");
	json_decref(mv);

	/* deleted */
	json_decref(
		ok("DELETE", "/api/2.0/mlflow/registered-models/alias", "{\"name\": \"a\", \"alias\": \"champion\"}"));
	fails("GET", "/api/2.0/mlflow/registered-models/alias?name=a&alias=champion", NULL, 400,
	      "INVALID_PARAMETER_VALUE", "Registered model alias champion not found");
	/* deleting a version drops its aliases */
	json_decref(ok("DELETE", "/api/2.0/mlflow/model-versions/delete", "{\"name\": \"a\", \"version\": \"1\"}"));
	fails("GET", "/api/2.0/mlflow/registered-models/alias?name=a&alias=shadow", NULL, 400,
	      "INVALID_PARAMETER_VALUE", "not found");

	/* bad names and targets */
	fails("POST", "/api/2.0/mlflow/registered-models/alias",
	      "{\"name\": \"a\", \"alias\": \"latest\", \"version\": \"2\"}", 400, "INVALID_PARAMETER_VALUE",
	      "reserved");
	fails("POST", "/api/2.0/mlflow/registered-models/alias",
	      "{\"name\": \"a\", \"alias\": \"V12\", \"version\": \"2\"}", 400, "INVALID_PARAMETER_VALUE", "reserved");
	fails("POST", "/api/2.0/mlflow/registered-models/alias",
	      "{\"name\": \"a\", \"alias\": \"a b\", \"version\": \"2\"}", 400, "INVALID_PARAMETER_VALUE",
	      "Invalid alias name");
	fails("POST", "/api/2.0/mlflow/registered-models/alias",
	      "{\"name\": \"a\", \"alias\": \"c\", \"version\": \"x\"}", 400, "INVALID_PARAMETER_VALUE",
	      "Model version must be an integer, got 'x'");
	fails("POST", "/api/2.0/mlflow/registered-models/alias",
	      "{\"name\": \"a\", \"alias\": \"c\", \"version\": \"7\"}", 404, "RESOURCE_DOES_NOT_EXIST", "version=7");
	fails("POST", "/api/2.0/mlflow/registered-models/alias",
	      "{\"name\": \"zz\", \"alias\": \"c\", \"version\": \"1\"}", 404, "RESOURCE_DOES_NOT_EXIST", "name=zz");
	stop_registry();
}
END_TEST

/* Follows next_page_token through a search and returns every item's name (or
 * name/version) joined with commas. */
static char *collect_pages(const char *path, const char *filter, const char *list_key, int max_results, int *pages)
{
	char *out = strdup("");
	char *token = NULL;
	*pages = 0;
	for (;;) {
		char rest[600];
		if (token) {
			char *esc = curl_easy_escape(NULL, token, 0);
			snprintf(rest, sizeof rest, "&max_results=%d&page_token=%s", max_results, esc);
			curl_free(esc);
		} else {
			snprintf(rest, sizeof rest, "&max_results=%d", max_results);
		}
		char *p = with_query(path, "filter", filter, rest);
		json_t *j = ok("GET", p, NULL);
		free(p);
		(*pages)++;
		size_t i;
		json_t *e;
		json_array_foreach(json_object_get(j, list_key), i, e)
		{
			char *grown = NULL;
			json_t *v = json_object_get(e, "version");
			ck_assert_int_gt(asprintf(&grown, "%s%s%s%s%s", out, *out ? "," : "", str(e, "name"),
						  v ? "/" : "", v ? json_string_value(v) : ""),
					 0);
			free(out);
			out = grown;
		}
		free(token);
		token = json_object_get(j, "next_page_token") ? strdup(str(j, "next_page_token")) : NULL;
		json_decref(j);
		if (!token)
			break;
		ck_assert_int_lt(*pages, 20);
	}
	return out;
}

START_TEST(search_filters_and_paging)
{
	start_registry();
	const char *names[] = {"alpha-3", "alpha-1", "beta", "Alpha-2", "alpha-4", "alpha-5"};
	for (size_t i = 0; i < 6; i++)
		create_model(names[i]);
	json_decref(ok("POST", "/api/2.0/mlflow/registered-models/set-tag",
		       "{\"name\": \"alpha-1\", \"key\": \"team\", \"value\": \"vision\"}"));
	json_decref(ok("POST", "/api/2.0/mlflow/registered-models/set-tag",
		       "{\"name\": \"beta\", \"key\": \"team\", \"value\": \"vision\"}"));
	json_decref(ok("POST", "/api/2.0/mlflow/registered-models/set-tag",
		       "{\"name\": \"beta\", \"key\": \"tier\", \"value\": \"gold\"}"));

	int pages = 0;
	char *got = collect_pages("/api/2.0/mlflow/registered-models/search", "name LIKE 'alpha-%'",
				  "registered_models", 2, &pages);
	ck_assert_str_eq(got, "alpha-1,alpha-3,alpha-4,alpha-5");
	ck_assert_int_eq(pages, 2); /* max_results+1 fetched: no empty last page */
	free(got);
	got = collect_pages("/api/2.0/mlflow/registered-models/search", "name ILIKE 'ALPHA-%'", "registered_models", 10,
			    &pages);
	ck_assert_str_eq(got, "Alpha-2,alpha-1,alpha-3,alpha-4,alpha-5");
	free(got);
	got = collect_pages("/api/2.0/mlflow/registered-models/search",
			    "tags.team = 'vision' and tags.tier != 'silver'", "registered_models", 10, &pages);
	ck_assert_str_eq(got, "beta");
	free(got);
	got = collect_pages("/api/2.0/mlflow/registered-models/search", "name = \"beta\"", "registered_models", 10,
			    &pages);
	ck_assert_str_eq(got, "beta");
	free(got);
	got = collect_pages("/api/2.0/mlflow/registered-models/search", "", "registered_models", 4, &pages);
	ck_assert_str_eq(got, "Alpha-2,alpha-1,alpha-3,alpha-4,alpha-5,beta");
	ck_assert_int_eq(pages, 2);
	free(got);

	/* order_by */
	json_t *j = ok("GET", "/api/2.0/mlflow/registered-models/search?order_by=name%20DESC&max_results=2", NULL);
	json_t *list = json_object_get(j, "registered_models");
	ck_assert_str_eq(str(json_array_get(list, 0), "name"), "beta");
	ck_assert_str_eq(str(json_array_get(list, 1), "name"), "alpha-5");
	ck_assert_ptr_nonnull(json_object_get(j, "next_page_token"));
	json_decref(j);
	j = ok("GET", "/api/2.0/mlflow/registered-models/search?filter=name%20%3D%20'none'", NULL);
	ck_assert_int_eq(json_object_size(j), 0); /* empty answer is {} */
	json_decref(j);

	/* model versions */
	for (int i = 0; i < 3; i++)
		create_version("alpha-1", SRC, RUN);
	create_version("beta", "s3://b/other", "ffff0000ffff0000ffff0000ffff0000");
	got = collect_pages("/api/2.0/mlflow/model-versions/search", "name = 'alpha-1'", "model_versions", 2, &pages);
	ck_assert_str_eq(got, "alpha-1/3,alpha-1/2,alpha-1/1");
	free(got);
	got = collect_pages("/api/2.0/mlflow/model-versions/search", "run_id = '" RUN "' AND version_number >= 2",
			    "model_versions", 10, &pages);
	ck_assert_str_eq(got, "alpha-1/3,alpha-1/2");
	free(got);
	got = collect_pages("/api/2.0/mlflow/model-versions/search", "source_path LIKE 's3://%'", "model_versions", 10,
			    &pages);
	ck_assert_str_eq(got, "beta/1");
	free(got);
	got = collect_pages("/api/2.0/mlflow/model-versions/search",
			    "run_id IN ('ffff0000ffff0000ffff0000ffff0000', 'x')", "model_versions", 10, &pages);
	ck_assert_str_eq(got, "beta/1");
	free(got);
	for (int i = 1; i <= 3; i++) {
		char v[16];
		snprintf(v, sizeof v, "%d", i);
		json_decref(settled_version("alpha-1", v));
	}
	got = collect_pages("/api/2.0/mlflow/model-versions/search",
			    "tags.`lathe.servable` = 'false' AND name != 'beta'", "model_versions", 10, &pages);
	ck_assert_str_eq(got, "alpha-1/3,alpha-1/2,alpha-1/1");
	free(got);
	j = ok("GET", "/api/2.0/mlflow/model-versions/search?order_by=version_number%20ASC&order_by=name%20DESC", NULL);
	list = json_object_get(j, "model_versions");
	ck_assert_int_eq(json_array_size(list), 4);
	ck_assert_str_eq(str(json_array_get(list, 0), "name"), "beta");
	ck_assert_str_eq(str(json_array_get(list, 1), "name"), "alpha-1");
	ck_assert_str_eq(str(json_array_get(list, 1), "version"), "1");
	json_decref(j);

	/* malformed filters and limits */
	char *p = with_query("/api/2.0/mlflow/registered-models/search", "filter", "name = ", NULL);
	fails("GET", p, NULL, 400, "INVALID_PARAMETER_VALUE", NULL);
	free(p);
	p = with_query("/api/2.0/mlflow/registered-models/search", "filter", "name = 'a' OR name = 'b'", NULL);
	fails("GET", p, NULL, 400, "INVALID_PARAMETER_VALUE", NULL);
	free(p);
	p = with_query("/api/2.0/mlflow/registered-models/search", "filter", "run_id = 'a'", NULL);
	fails("GET", p, NULL, 400, "INVALID_PARAMETER_VALUE", "Invalid attribute key");
	free(p);
	p = with_query("/api/2.0/mlflow/model-versions/search", "filter", "name = unquoted", NULL);
	fails("GET", p, NULL, 400, "INVALID_PARAMETER_VALUE", NULL);
	free(p);
	p = with_query("/api/2.0/mlflow/model-versions/search", "filter", "version_number LIKE '1'", NULL);
	fails("GET", p, NULL, 400, "INVALID_PARAMETER_VALUE", NULL);
	free(p);
	fails("GET", "/api/2.0/mlflow/registered-models/search?max_results=1001", NULL, 400, "INVALID_PARAMETER_VALUE",
	      "at most 1000");
	fails("GET", "/api/2.0/mlflow/model-versions/search?max_results=200001", NULL, 400, "INVALID_PARAMETER_VALUE",
	      "at most 200000");
	fails("GET", "/api/2.0/mlflow/registered-models/search?order_by=bogus", NULL, 400, "INVALID_PARAMETER_VALUE",
	      "Invalid order by key");
	fails("GET", "/api/2.0/mlflow/registered-models/search?page_token=!!!!", NULL, 400, "INVALID_PARAMETER_VALUE",
	      "Invalid page token");
	/* page tokens read as MLflow reads them: {"offset": 0} is refused (0 is falsy),
	 * {"offset": "1"} is int()ed */
	fails("GET", "/api/2.0/mlflow/registered-models/search?page_token=eyJvZmZzZXQiOiAwfQ%3D%3D", NULL, 400,
	      "INVALID_PARAMETER_VALUE", "Invalid page token, parsed value={'offset': 0}");
	j = ok("GET", "/api/2.0/mlflow/registered-models/search?max_results=1&page_token=eyJvZmZzZXQiOiAiMSJ9", NULL);
	ck_assert_str_eq(str(json_array_get(json_object_get(j, "registered_models"), 0), "name"), "alpha-1");
	json_decref(j);
	stop_registry();
}
END_TEST

START_TEST(tags_on_models_and_versions)
{
	start_registry();
	create_model("t");
	create_version("t", SRC, RUN);
	json_decref(ok("POST", "/api/2.0/mlflow/registered-models/set-tag",
		       "{\"name\": \"t\", \"key\": \"k\", \"value\": \"1\"}"));
	json_decref(ok("POST", "/api/2.0/mlflow/registered-models/set-tag",
		       "{\"name\": \"t\", \"key\": \"k\", \"value\": \"2\"}"));
	json_decref(ok("POST", "/api/2.0/mlflow/registered-models/set-tag", "{\"name\": \"t\", \"key\": \"e\"}"));
	json_t *j = ok("GET", "/api/2.0/mlflow/registered-models/get?name=t", NULL);
	json_t *tags = json_object_get(json_object_get(j, "registered_model"), "tags");
	ck_assert_int_eq(json_array_size(tags), 2);
	ck_assert_str_eq(str(json_array_get(tags, 0), "key"), "e");
	ck_assert_str_eq(str(json_array_get(tags, 0), "value"), "");
	ck_assert_str_eq(str(json_array_get(tags, 1), "key"), "k");
	ck_assert_str_eq(str(json_array_get(tags, 1), "value"), "2");
	json_decref(j);
	json_decref(ok("DELETE", "/api/2.0/mlflow/registered-models/delete-tag", "{\"name\": \"t\", \"key\": \"k\"}"));
	json_decref(
		ok("DELETE", "/api/2.0/mlflow/registered-models/delete-tag", "{\"name\": \"t\", \"key\": \"nope\"}"));
	j = ok("GET", "/api/2.0/mlflow/registered-models/get?name=t", NULL);
	ck_assert_int_eq(json_array_size(json_object_get(json_object_get(j, "registered_model"), "tags")), 1);
	json_decref(j);

	json_decref(ok("POST", "/api/2.0/mlflow/model-versions/set-tag",
		       "{\"name\": \"t\", \"version\": \"1\", \"key\": \"owner\", \"value\": \"me\"}"));
	json_t *mv = get_version("t", "1");
	ck_assert_str_eq(tag_value(mv, "owner"), "me");
	json_decref(mv);
	json_decref(ok("DELETE", "/api/2.0/mlflow/model-versions/delete-tag",
		       "{\"name\": \"t\", \"version\": \"1\", \"key\": \"owner\"}"));
	mv = get_version("t", "1");
	ck_assert_ptr_null(tag_value(mv, "owner"));
	json_decref(mv);

	/* updates */
	j = ok("PATCH", "/api/2.0/mlflow/registered-models/update", "{\"name\": \"t\", \"description\": \"about t\"}");
	ck_assert_str_eq(str(json_object_get(j, "registered_model"), "description"), "about t");
	json_decref(j);
	j = ok("PATCH", "/api/2.0/mlflow/model-versions/update",
	       "{\"name\": \"t\", \"version\": \"1\", \"description\": \"v1\"}");
	ck_assert_str_eq(str(json_object_get(j, "model_version"), "description"), "v1");
	json_decref(j);

	fails("POST", "/api/2.0/mlflow/registered-models/set-tag",
	      "{\"name\": \"t\", \"key\": \"a$b\", \"value\": \"1\"}", 400, "INVALID_PARAMETER_VALUE",
	      "Invalid tag name");
	fails("POST", "/api/2.0/mlflow/registered-models/set-tag",
	      "{\"name\": \"t\", \"key\": \"../x\", \"value\": \"1\"}", 400, "INVALID_PARAMETER_VALUE",
	      "Invalid tag name");
	fails("POST", "/api/2.0/mlflow/registered-models/set-tag", "{\"name\": \"t\", \"value\": \"1\"}", 400,
	      "INVALID_PARAMETER_VALUE", "'key'");
	fails("POST", "/api/2.0/mlflow/registered-models/set-tag",
	      "{\"name\": \"u\", \"key\": \"k\", \"value\": \"1\"}", 404, "RESOURCE_DOES_NOT_EXIST", "name=u");
	fails("POST", "/api/2.0/mlflow/model-versions/set-tag",
	      "{\"name\": \"t\", \"version\": \"5\", \"key\": \"k\", \"value\": \"1\"}", 404, "RESOURCE_DOES_NOT_EXIST",
	      "version=5");
	stop_registry();
}
END_TEST

START_TEST(rename_and_delete)
{
	start_registry();
	create_model("old");
	create_model("taken");
	create_version("old", SRC, RUN);
	create_version("old", SRC, RUN);
	json_t *j =
		ok("POST", "/api/2.0/mlflow/registered-models/rename", "{\"name\": \"old\", \"new_name\": \"new\"}");
	json_t *rm = json_object_get(j, "registered_model");
	ck_assert_str_eq(str(rm, "name"), "new");
	ck_assert_str_eq(str(json_array_get(json_object_get(rm, "latest_versions"), 0), "name"), "new");
	json_decref(j);
	fails("GET", "/api/2.0/mlflow/registered-models/get?name=old", NULL, 404, "RESOURCE_DOES_NOT_EXIST",
	      "Registered Model with name=old not found");
	json_t *mv = get_version("new", "2");
	ck_assert_str_eq(str(mv, "name"), "new");
	json_decref(mv);
	fails("POST", "/api/2.0/mlflow/registered-models/rename", "{\"name\": \"new\", \"new_name\": \"taken\"}", 400,
	      "RESOURCE_ALREADY_EXISTS", "taken");

	/* a deleted version's number is never reused */
	json_decref(ok("DELETE", "/api/2.0/mlflow/model-versions/delete", "{\"name\": \"new\", \"version\": \"2\"}"));
	fails("GET", "/api/2.0/mlflow/model-versions/get?name=new&version=2", NULL, 404, "RESOURCE_DOES_NOT_EXIST",
	      "Model Version (name=new, version=2) not found");
	fails("DELETE", "/api/2.0/mlflow/model-versions/delete", "{\"name\": \"new\", \"version\": \"2\"}", 404,
	      "RESOURCE_DOES_NOT_EXIST", NULL);
	ck_assert_int_eq(create_version("new", SRC, RUN), 3);

	json_decref(ok("DELETE", "/api/2.0/mlflow/registered-models/delete", "{\"name\": \"new\"}"));
	fails("GET", "/api/2.0/mlflow/registered-models/get?name=new", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("GET", "/api/2.0/mlflow/model-versions/get?name=new&version=1", NULL, 404, "RESOURCE_DOES_NOT_EXIST",
	      NULL);
	fails("DELETE", "/api/2.0/mlflow/registered-models/delete", "{\"name\": \"new\"}", 404,
	      "RESOURCE_DOES_NOT_EXIST", NULL);
	/* the name is free again and numbering starts over for the new model */
	create_model("new");
	ck_assert_int_eq(create_version("new", SRC, RUN), 1);
	stop_registry();
}
END_TEST

START_TEST(bad_input_gets_mlflow_codes)
{
	start_registry();
	create_model("e");
	fails("GET", "/api/2.0/mlflow/registered-models/get?name=nope", NULL, 404, "RESOURCE_DOES_NOT_EXIST",
	      "Registered Model with name=nope not found");
	fails("GET", "/api/2.0/mlflow/registered-models/get", NULL, 400, "INVALID_PARAMETER_VALUE",
	      "Missing value for required parameter 'name'");
	fails("GET", "/api/2.0/mlflow/model-versions/get?name=e&version=1", NULL, 404, "RESOURCE_DOES_NOT_EXIST",
	      "Model Version (name=e, version=1) not found");
	fails("GET", "/api/2.0/mlflow/model-versions/get?name=e&version=one", NULL, 400, "INVALID_PARAMETER_VALUE",
	      "Model version must be an integer, got 'one'");
	fails("POST", "/api/2.0/mlflow/model-versions/create", "{\"name\": \"nope\", \"source\": \"" SRC "\"}", 404,
	      "RESOURCE_DOES_NOT_EXIST", "name=nope");
	fails("POST", "/api/2.0/mlflow/model-versions/create", "{\"name\": \"e\"}", 400, "INVALID_PARAMETER_VALUE",
	      "'source'");
	fails("POST", "/api/2.0/mlflow/model-versions/create", "{\"name\": \"e\", \"source\": \"/tmp/local/model\"}",
	      400, "INVALID_PARAMETER_VALUE", "Invalid model version source");
	fails("POST", "/api/2.0/mlflow/model-versions/create",
	      "{\"name\": \"e\", \"source\": \"mlflow-artifacts:/1/%2E%2E/x\"}", 400, "INVALID_PARAMETER_VALUE",
	      "Invalid model version source");
	fails("POST", "/api/2.0/mlflow/registered-models/create", "{\"name\": \"\"}", 400, "INVALID_PARAMETER_VALUE",
	      "'name'");
	fails("POST", "/api/2.0/mlflow/registered-models/create", "{\"name\": 5}", 400, "INVALID_PARAMETER_VALUE",
	      "name");
	fails("POST", "/api/2.0/mlflow/registered-models/create", "{\"name\": ", 400, "INVALID_PARAMETER_VALUE", NULL);
	fails("POST", "/api/2.0/mlflow/registered-models/create", "{\"name\": \"x\", \"tags\": [{\"value\": \"v\"}]}",
	      400, "INVALID_PARAMETER_VALUE", "key");
	char url[128];
	snprintf(url, sizeof url, "%s/api/2.0/mlflow/registered-models/create", d->base_url);
	struct th_response r = th_http("POST", url, "text/plain", "{\"name\": \"x\"}", 13);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "Content-Type");
	th_response_free(&r);
	fails("PUT", "/api/2.0/mlflow/registered-models/create", "{}", 405, "METHOD_NOT_ALLOWED", NULL);
	stop_registry();
}
END_TEST

/* --- concurrency ------------------------------------------------------------------- */

struct creator {
	int made;
	int failed;
};

static void *create_ten(void *arg)
{
	struct creator *cr = arg;
	char url[128];
	snprintf(url, sizeof url, "%s/api/2.0/mlflow/model-versions/create", d->base_url);
	const char *body = "{\"name\": \"c\", \"source\": \"" SRC "\", \"run_id\": \"" RUN "\"}";
	for (int i = 0; i < 10; i++) {
		CURL *curl = curl_easy_init();
		struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
		long status = 0;
		FILE *sink = fopen("/dev/null", "w");
		curl_easy_setopt(curl, CURLOPT_URL, url);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(curl, CURLOPT_WRITEDATA, sink);
		curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
		if (curl_easy_perform(curl) == CURLE_OK)
			curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
		if (status == 200)
			cr->made++;
		else
			cr->failed++;
		fclose(sink);
		curl_slist_free_all(h);
		curl_easy_cleanup(curl);
	}
	return NULL;
}

START_TEST(version_numbers_stay_dense_under_concurrent_creation)
{
	start_registry();
	create_model("c");
	pthread_t t[4];
	struct creator cr[4] = {{0}};
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, create_ten, &cr[i]), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(cr[i].failed, 0);
		ck_assert_int_eq(cr[i].made, 10);
	}
	json_t *j = ok("GET", "/api/2.0/mlflow/model-versions/search?filter=name%3D'c'&order_by=version_number%20ASC",
		       NULL);
	json_t *list = json_object_get(j, "model_versions");
	ck_assert_int_eq(json_array_size(list), 40);
	for (size_t i = 0; i < 40; i++) {
		char want[24];
		snprintf(want, sizeof want, "%zu", i + 1);
		ck_assert_str_eq(str(json_array_get(list, i), "version"), want);
	}
	json_decref(j);
	stop_registry();
}
END_TEST

static Suite *registry_suite(void)
{
	Suite *s = suite_create("registry-api");
	TCase *tc = tcase_create("mlflow-client-sequences");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, register_from_a_run);
	tcase_add_test(tc, stages_with_and_without_archiving);
	tcase_add_test(tc, aliases_set_moved_deleted);
	tcase_add_test(tc, search_filters_and_paging);
	tcase_add_test(tc, tags_on_models_and_versions);
	tcase_add_test(tc, rename_and_delete);
	suite_add_tcase(s, tc);
	tc = tcase_create("errors");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, bad_input_gets_mlflow_codes);
	suite_add_tcase(s, tc);
	tc = tcase_create("concurrency");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, version_numbers_stay_dense_under_concurrent_creation);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	SRunner *sr = srunner_create(registry_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Contract test of the model registry: keeps proto/openapi/model-registry.yaml true.
 * (1) The daemon's route table (lathe-model-registry --routes) and the document's
 * operations match both ways. (2) A realistic MLflow-client session against the real
 * daemon touches every documented operation (models, versions, stages, tags, aliases,
 * searches with paging, the /ajax-api/2.0/ twin, health routes) and the error kinds the
 * document promises (404 unknown model/version, 400 duplicate name, invalid stage,
 * unknown alias, bad filter, bad version, bad Content-Type, malformed JSON, 413); every
 * response is checked against the document's schema for its status
 * (th_contract_check). Finally every documented operation must have answered 200 at
 * least once, so a new operation cannot enter the document unexercised.
 * TRACKER_URL points at a closed port, so versions are registered "not servable". */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "contract.h"
#include "harness.h"

#define RM  "/api/2.0/mlflow/registered-models/"
#define MV  "/api/2.0/mlflow/model-versions/"
#define RUN "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
#define SRC "mlflow-artifacts:/1/" RUN "/artifacts/model"

static json_t *doc;
static struct th_daemon *d;

/* --- which operations answered 200 ------------------------------------------------ */

#define SEEN_MAX 64
static char seen[SEEN_MAX][192]; /* "METHOD /api/2.0/path" (query stripped, twin mapped) */
static size_t n_seen;

static void record_ok(const char *method, const char *path)
{
	char p[160];
	const char *ajax = "/ajax-api/2.0/";
	if (strncmp(path, ajax, strlen(ajax)) == 0)
		snprintf(p, sizeof p, "/api/2.0/%s", path + strlen(ajax));
	else
		snprintf(p, sizeof p, "%s", path);
	p[strcspn(p, "?")] = '\0';
	char key[192];
	snprintf(key, sizeof key, "%s %s", method, p);
	for (size_t i = 0; i < n_seen; i++)
		if (strcmp(seen[i], key) == 0)
			return;
	ck_assert_uint_lt(n_seen, SEEN_MAX);
	snprintf(seen[n_seen++], sizeof seen[0], "%s", key);
}

/* Fails unless every operation of the document answered 200 during the session. */
static void expect_every_operation_seen(void)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH"};
	const char *tmpl;
	json_t *item;
	size_t n_ops = 0;
	json_object_foreach(json_object_get(doc, "paths"), tmpl, item)
	{
		for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
			char lower[8];
			size_t k = 0;
			for (; methods[m][k]; k++)
				lower[k] = (char)(methods[m][k] + 32);
			lower[k] = '\0';
			if (!json_object_get(item, lower))
				continue;
			n_ops++;
			char key[192];
			snprintf(key, sizeof key, "%s %.160s", methods[m], tmpl);
			bool found = false;
			for (size_t i = 0; i < n_seen && !found; i++)
				found = strcmp(seen[i], key) == 0;
			ck_assert_msg(found, "the session never got a 200 from %s", key);
		}
	}
	/* 22 registry operations (13 on registered-models/, 9 on model-versions/) + healthz, readyz, metrics,
	 * openapi.json */
	ck_assert_uint_eq(n_ops, 26);
}

/* --- calls ---------------------------------------------------------------------- */

/* Checks r against the document (and records a 200). */
static void check(const char *method, const char *path, const struct th_response *r)
{
	th_contract_check(doc, method, path, r);
	if (r->status == 200)
		record_ok(method, path);
}

/* Calls, checks against the document, expects 200; returns the JSON body (owned). */
static json_t *ok(const char *method, const char *path, const char *body)
{
	struct th_response r = th_call(d, method, path, body);
	ck_assert_msg(r.status == 200, "%s %s %s: expected 200, got %ld: %s", method, path, body ? body : "", r.status,
		      r.body);
	check(method, path, &r);
	json_t *j = json_incref(r.json);
	th_response_free(&r);
	return j;
}

static void ok_(const char *method, const char *path, const char *body)
{
	json_decref(ok(method, path, body));
}

/* Calls, checks against the document, expects MLflow's error. */
static void fails(const char *method, const char *path, const char *body, long status, const char *code,
		  const char *needle)
{
	struct th_response r = th_call(d, method, path, body);
	th_expect_error(&r, status, code, needle);
	check(method, path, &r);
	th_response_free(&r);
}

/* path?key=value with value percent-encoded; rest ("&k=v...", already encoded) may be NULL. */
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
	ck_assert_msg(json_is_string(v), "member %s is not a string", key);
	return json_string_value(v);
}

/* --- set-up ---------------------------------------------------------------------- */

static void start(void)
{
	doc = th_contract_load("model-registry");
	char tracker[64];
	snprintf(tracker, sizeof tracker, "TRACKER_URL=http://127.0.0.1:%u", th_free_port());
	const char *env[] = {tracker, "TRACKER_TIMEOUT_MS=2000", NULL};
	d = th_daemon_start("model-registry", NULL, env);
	n_seen = 0;
}

static void stop(void)
{
	th_daemon_stop(d);
	d = NULL;
	json_decref(doc);
	doc = NULL;
}

/* --- tests ----------------------------------------------------------------------- */

START_TEST(routes_and_document_match)
{
	json_t *j = th_contract_load("model-registry");
	ck_assert_str_eq(json_string_value(json_object_get(j, "openapi")), "3.0.3");
	ck_assert(json_is_true(json_object_get(j, "x-lathe-ajax-twins")));
	th_contract_routes(j, "model-registry");
	json_decref(j);
}
END_TEST

START_TEST(a_client_session_keeps_to_the_contract)
{
	start();
	/* the routes every daemon serves (copies of common.yaml's) */
	ok_("GET", "/healthz", NULL);
	ok_("GET", "/readyz", NULL);
	json_t *served = ok("GET", "/openapi.json", NULL); /* the document this test checks against */
	ck_assert(json_equal(served, doc));
	json_decref(served);
	struct th_response r = th_call(d, "GET", "/metrics", NULL);
	ck_assert_int_eq(r.status, 200);
	check("GET", "/metrics", &r);
	th_response_free(&r);

	/* models: a bare one and one with tags and a description */
	json_t *j = ok("POST", RM "create", "{\"name\": \"cm\"}");
	ck_assert_ptr_null(json_object_get(json_object_get(j, "registered_model"), "tags"));
	json_decref(j);
	ok_("POST", RM "create",
	    "{\"name\": \"other\", \"description\": \"second\", \"tags\": [{\"key\": \"team\", \"value\": \"ml\"},"
	    " {\"key\": \"empty\"}]}");
	ok_("GET", RM "get?name=other", NULL);
	ok_("PATCH", RM "update", "{\"name\": \"cm\", \"description\": \"the contract model\"}");
	ok_("POST", RM "set-tag", "{\"name\": \"cm\", \"key\": \"owner\", \"value\": \"lathe\"}");
	ok_("POST", RM "set-tag", "{\"name\": \"cm\", \"key\": \"gone\", \"value\": \"soon\"}");
	ok_("DELETE", RM "delete-tag", "{\"name\": \"cm\", \"key\": \"gone\"}");
	ok_("DELETE", RM "delete-tag", "{\"name\": \"cm\", \"key\": \"never-set\"}");

	/* versions: as mlflow.register_model sends them, with tags, with a run link */
	j = ok("POST", MV "create",
	       "{\"name\": \"cm\", \"source\": \"" SRC "\", \"run_id\": \"" RUN "\", \"tags\": [{\"key\": \"k\", "
	       "\"value\": \"v\"}], \"description\": \"first\"}");
	ck_assert_str_eq(str(json_object_get(j, "model_version"), "version"), "1");
	json_decref(j);
	ok_("POST", MV "create",
	    "{\"name\": \"cm\", \"source\": \"" SRC "\", \"run_uuid\": \"" RUN "\", \"run_link\": \"http://x/r\"}");
	ok_("POST", MV "create", "{\"name\": \"cm\", \"source\": \"s3://bucket/models/cm\"}");
	ok_("POST", MV "create", "{\"name\": \"other\", \"source\": \"" SRC "\"}");
	ok_("GET", MV "get?name=cm&version=1", NULL);
	ok_("PATCH", MV "update", "{\"name\": \"cm\", \"version\": \"1\", \"description\": \"updated\"}");
	ok_("PATCH", MV "update", "{\"name\": \"cm\", \"version\": 3}");
	ok_("POST", MV "set-tag", "{\"name\": \"cm\", \"version\": \"2\", \"key\": \"qa\", \"value\": \"passed\"}");
	ok_("POST", MV "set-tag", "{\"name\": \"cm\", \"version\": 2, \"key\": \"tmp\"}");
	ok_("DELETE", MV "delete-tag", "{\"name\": \"cm\", \"version\": \"2\", \"key\": \"tmp\"}");
	j = ok("GET", MV "get-download-uri?name=cm&version=1", NULL);
	ck_assert_str_eq(str(j, "artifact_uri"), SRC);
	json_decref(j);

	/* stages, with and without archiving */
	ok_("POST", MV "transition-stage",
	    "{\"name\": \"cm\", \"version\": \"1\", \"stage\": \"Production\", \"archive_existing_versions\": false}");
	j = ok("POST", MV "transition-stage",
	       "{\"name\": \"cm\", \"version\": \"2\", \"stage\": \"production\", \"archive_existing_versions\": "
	       "true}");
	ck_assert_str_eq(str(json_object_get(j, "model_version"), "current_stage"), "Production");
	json_decref(j);
	ok_("POST", MV "transition-stage",
	    "{\"name\": \"cm\", \"version\": 3, \"stage\": \"Staging\", \"archive_existing_versions\": false}");
	ok_("GET", RM "get-latest-versions?name=cm&stages=Production&stages=staging", NULL);
	ok_("GET", RM "get-latest-versions?name=cm", NULL);
	ok_("POST", RM "get-latest-versions", "{\"name\": \"cm\", \"stages\": [\"Archived\"]}");
	j = ok("POST", RM "get-latest-versions", "{\"name\": \"cm\", \"stages\": [\"None\"]}");
	ck_assert_ptr_null(json_object_get(j, "model_versions")); /* none left in None: {} */
	json_decref(j);

	/* aliases: set, move, read, delete */
	ok_("POST", RM "alias", "{\"name\": \"cm\", \"alias\": \"champion\", \"version\": \"1\"}");
	ok_("POST", RM "alias", "{\"name\": \"cm\", \"alias\": \"champion\", \"version\": \"2\"}");
	ok_("POST", RM "alias", "{\"name\": \"cm\", \"alias\": \"challenger\", \"version\": 3}");
	ok_("POST", RM "alias", "{\"name\": \"cm\", \"alias\": \"old\", \"version\": 1}");
	j = ok("GET", RM "alias?name=cm&alias=champion", NULL);
	ck_assert_str_eq(str(json_object_get(j, "model_version"), "version"), "2");
	json_decref(j);
	ok_("DELETE", RM "alias", "{\"name\": \"cm\", \"alias\": \"old\"}");
	ok_("DELETE", RM "alias", "{\"name\": \"cm\", \"alias\": \"never-set\"}");

	/* the full entities now: tags, aliases, latest versions; the ajax twin too */
	j = ok("GET", RM "get?name=cm", NULL);
	json_t *rm = json_object_get(j, "registered_model");
	ck_assert_uint_eq(json_array_size(json_object_get(rm, "latest_versions")), 3);
	ck_assert_uint_eq(json_array_size(json_object_get(rm, "aliases")), 2);
	ck_assert_uint_eq(json_array_size(json_object_get(rm, "tags")), 1);
	json_decref(j);
	ok_("GET", "/ajax-api/2.0/mlflow/registered-models/get?name=cm", NULL);
	ok_("GET", "/ajax-api/2.0/mlflow/model-versions/get?name=cm&version=2", NULL);

	/* searches: hits, paging, no hits */
	char *p = with_query(RM "search", "filter", "name LIKE '%'", "&max_results=1&order_by=name%20DESC");
	j = ok("GET", p, NULL);
	free(p);
	const char *token = str(j, "next_page_token");
	p = with_query(RM "search", "page_token", token, "&max_results=1&order_by=name%20DESC");
	json_decref(j);
	j = ok("GET", p, NULL);
	ck_assert_ptr_null(json_object_get(j, "next_page_token"));
	json_decref(j);
	free(p);
	p = with_query(RM "search", "filter", "tags.team = 'ml'", NULL);
	ok_("GET", p, NULL);
	free(p);
	p = with_query(RM "search", "filter", "name = 'nothing'", NULL);
	j = ok("GET", p, NULL);
	ck_assert_ptr_null(json_object_get(j, "registered_models"));
	json_decref(j);
	free(p);
	p = with_query(MV "search", "filter", "name = 'cm'", "&max_results=2&order_by=version_number%20ASC");
	j = ok("GET", p, NULL);
	free(p);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "model_versions")), 2);
	p = with_query(MV "search", "page_token", str(j, "next_page_token"),
		       "&max_results=2&order_by=version_number%20ASC");
	json_decref(j);
	ok_("GET", p, NULL);
	free(p);
	ok_("GET", MV "search", NULL);
	p = with_query(MV "search", "filter", "run_id = 'none-such'", NULL);
	ok_("GET", p, NULL);
	free(p);

	/* rename, then delete a version and a model */
	j = ok("POST", RM "rename", "{\"name\": \"other\", \"new_name\": \"renamed\"}");
	ck_assert_str_eq(str(json_object_get(j, "registered_model"), "name"), "renamed");
	json_decref(j);
	ok_("DELETE", MV "delete", "{\"name\": \"cm\", \"version\": \"3\"}");
	ok_("DELETE", RM "delete", "{\"name\": \"renamed\"}");

	expect_every_operation_seen();
	stop();
}
END_TEST

START_TEST(errors_keep_to_the_contract)
{
	start();
	ok_("POST", RM "create", "{\"name\": \"e\"}");
	ok_("POST", RM "create", "{\"name\": \"f\"}");
	ok_("POST", MV "create", "{\"name\": \"e\", \"source\": \"" SRC "\"}");

	/* 404: unknown model and unknown version, on every kind of operation that looks up */
	fails("GET", RM "get?name=nope", NULL, 404, "RESOURCE_DOES_NOT_EXIST",
	      "Registered Model with name=nope not found");
	fails("POST", RM "rename", "{\"name\": \"nope\", \"new_name\": \"x\"}", 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("PATCH", RM "update", "{\"name\": \"nope\"}", 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("DELETE", RM "delete", "{\"name\": \"nope\"}", 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("GET", RM "get-latest-versions?name=nope", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("POST", RM "get-latest-versions", "{\"name\": \"nope\"}", 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("POST", RM "set-tag", "{\"name\": \"nope\", \"key\": \"k\"}", 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("DELETE", RM "delete-tag", "{\"name\": \"nope\", \"key\": \"k\"}", 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("POST", RM "alias", "{\"name\": \"nope\", \"alias\": \"a\", \"version\": 1}", 404,
	      "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("POST", RM "alias", "{\"name\": \"e\", \"alias\": \"a\", \"version\": 9}", 404, "RESOURCE_DOES_NOT_EXIST",
	      "version=9");
	fails("DELETE", RM "alias", "{\"name\": \"nope\", \"alias\": \"a\"}", 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("GET", RM "alias?name=nope&alias=a", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("POST", MV "create", "{\"name\": \"nope\", \"source\": \"" SRC "\"}", 404, "RESOURCE_DOES_NOT_EXIST",
	      NULL);
	fails("GET", MV "get?name=e&version=9", NULL, 404, "RESOURCE_DOES_NOT_EXIST",
	      "Model Version (name=e, version=9)");
	fails("PATCH", MV "update", "{\"name\": \"e\", \"version\": \"9\"}", 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("DELETE", MV "delete", "{\"name\": \"e\", \"version\": \"9\"}", 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("POST", MV "transition-stage",
	      "{\"name\": \"e\", \"version\": \"9\", \"stage\": \"Staging\", \"archive_existing_versions\": false}",
	      404, "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("GET", MV "get-download-uri?name=e&version=9", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("POST", MV "set-tag", "{\"name\": \"e\", \"version\": \"9\", \"key\": \"k\"}", 404,
	      "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("DELETE", MV "delete-tag", "{\"name\": \"e\", \"version\": \"9\", \"key\": \"k\"}", 404,
	      "RESOURCE_DOES_NOT_EXIST", NULL);

	/* 400 RESOURCE_ALREADY_EXISTS: duplicate name on create and on rename */
	fails("POST", RM "create", "{\"name\": \"e\"}", 400, "RESOURCE_ALREADY_EXISTS", "(name=e) already exists");
	fails("POST", RM "rename", "{\"name\": \"f\", \"new_name\": \"e\"}", 400, "RESOURCE_ALREADY_EXISTS", NULL);

	/* 400 INVALID_PARAMETER_VALUE: stage, alias, filter, version, arguments */
	fails("POST", MV "transition-stage",
	      "{\"name\": \"e\", \"version\": \"1\", \"stage\": \"Shipping\", \"archive_existing_versions\": false}",
	      400, "INVALID_PARAMETER_VALUE", "Invalid Model Version stage: Shipping");
	fails("POST", MV "transition-stage",
	      "{\"name\": \"e\", \"version\": \"1\", \"stage\": \"Archived\", \"archive_existing_versions\": true}",
	      400, "INVALID_PARAMETER_VALUE", "not an Active stage");
	fails("GET", RM "get-latest-versions?name=e&stages=Shipping", NULL, 400, "INVALID_PARAMETER_VALUE",
	      "Invalid Model Version stage");
	fails("POST", RM "get-latest-versions", "{\"name\": \"e\", \"stages\": [\"Shipping\"]}", 400,
	      "INVALID_PARAMETER_VALUE", "Invalid Model Version stage");
	fails("GET", RM "alias?name=e&alias=unknown", NULL, 400, "INVALID_PARAMETER_VALUE",
	      "Registered model alias unknown not found.");
	fails("POST", RM "alias", "{\"name\": \"e\", \"alias\": \"latest\", \"version\": 1}", 400,
	      "INVALID_PARAMETER_VALUE", "reserved");
	fails("DELETE", RM "alias", "{\"name\": \"e\", \"alias\": \"v1\"}", 400, "INVALID_PARAMETER_VALUE", "reserved");
	char *p = with_query(RM "search", "filter", "name LIKE", NULL);
	fails("GET", p, NULL, 400, "INVALID_PARAMETER_VALUE", NULL);
	free(p);
	p = with_query(MV "search", "filter", "flavor = 'x'", NULL);
	fails("GET", p, NULL, 400, "INVALID_PARAMETER_VALUE", NULL);
	free(p);
	fails("GET", RM "search?max_results=0", NULL, 400, "INVALID_PARAMETER_VALUE", "max_results");
	fails("GET", MV "search?page_token=not-a-token", NULL, 400, "INVALID_PARAMETER_VALUE", NULL);
	fails("GET", MV "get?name=e&version=one", NULL, 400, "INVALID_PARAMETER_VALUE",
	      "must be an integer, got 'one'");
	fails("GET", MV "get-download-uri?name=e", NULL, 400, "INVALID_PARAMETER_VALUE", "'version'");
	fails("PATCH", MV "update", "{\"name\": \"e\", \"version\": true}", 400, "INVALID_PARAMETER_VALUE", NULL);
	fails("DELETE", MV "delete", "{\"name\": \"e\", \"version\": \"x\"}", 400, "INVALID_PARAMETER_VALUE", NULL);
	fails("POST", MV "set-tag", "{\"name\": \"e\", \"version\": \"1\"}", 400, "INVALID_PARAMETER_VALUE", "'key'");
	fails("DELETE", MV "delete-tag", "{\"name\": \"e\", \"version\": \"1\", \"key\": \"\"}", 400,
	      "INVALID_PARAMETER_VALUE", NULL);
	fails("POST", MV "create", "{\"name\": \"e\", \"source\": \"/tmp/local/model\"}", 400,
	      "INVALID_PARAMETER_VALUE", "Invalid model version source");
	fails("GET", RM "get", NULL, 400, "INVALID_PARAMETER_VALUE", "'name'");
	fails("POST", RM "create", "{\"name\": \"\"}", 400, "INVALID_PARAMETER_VALUE", NULL);
	fails("POST", RM "create", "{\"name\": \"x\", \"tags\": [{\"value\": \"v\"}]}", 400, "INVALID_PARAMETER_VALUE",
	      "key");
	fails("POST", RM "set-tag", "{\"name\": \"e\"}", 400, "INVALID_PARAMETER_VALUE", "'key'");
	fails("DELETE", RM "delete-tag", "{\"name\": \"e\"}", 400, "INVALID_PARAMETER_VALUE", "'key'");
	fails("POST", RM "rename", "{\"name\": \"e\"}", 400, "INVALID_PARAMETER_VALUE", "'new_name'");
	fails("PATCH", RM "update", "{}", 400, "INVALID_PARAMETER_VALUE", "'name'");
	fails("DELETE", RM "delete", "[1]", 400, "INVALID_PARAMETER_VALUE", "JSON object");
	fails("POST", RM "create", "{\"name\": ", 400, "INVALID_PARAMETER_VALUE", "Malformed JSON");

	/* the wrong Content-Type: MLflow's 400, not 415 */
	char url[256];
	snprintf(url, sizeof url, "%s%s", d->base_url, RM "create");
	struct th_response r = th_http("POST", url, "text/plain", "{\"name\": \"x\"}", 13);
	th_expect_error(&r, 400, "INVALID_PARAMETER_VALUE", "Content-Type");
	check("POST", RM "create", &r);
	th_response_free(&r);

	/* a body over MAX_BODY_BYTES (1 MiB by default) */
	size_t big = 1100 * 1024;
	char *body = malloc(big + 64);
	ck_assert_ptr_nonnull(body);
	int n = snprintf(body, 64, "{\"name\": \"e\", \"description\": \"");
	memset(body + n, 'x', big);
	snprintf(body + n + big, 64 - (size_t)n, "\"}");
	snprintf(url, sizeof url, "%s%s", d->base_url, RM "update");
	r = th_http("PATCH", url, NULL, body, strlen(body));
	th_expect_error(&r, 413, "REQUEST_TOO_LARGE", NULL);
	check("PATCH", RM "update", &r);
	th_response_free(&r);
	free(body);
	stop();
}
END_TEST

static Suite *contract_suite(void)
{
	Suite *s = suite_create("contract-registry");
	TCase *tc = tcase_create("contract");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, routes_and_document_match);
	tcase_add_test(tc, a_client_session_keeps_to_the_contract);
	tcase_add_test(tc, errors_keep_to_the_contract);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_ALL);
	SRunner *sr = srunner_create(contract_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

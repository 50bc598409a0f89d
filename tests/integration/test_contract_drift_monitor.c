/* Contract test of the drift monitor: keeps proto/openapi/drift-monitor.yaml true.
 * (1) The daemon's route table (lathe-drift-monitor --routes) and the document's
 * operations match both ways. (2) A client session against the real daemon touches
 * every documented operation and the error kinds the document promises (400 bad spec,
 * bad patch, bad query; 404 unknown monitor and report; 409 a second monitor of a
 * model; 415; for batch drift 400, and for its dataset form, against a real data
 * registry, 200, 404, 400 and 503 from a daemon whose registry does not answer), each
 * response checked against the document's schema for its status (th_contract_check). A report is written in SQL, as the
 * window slice will write it; its page for people (by .html and by Accept) must answer a media type the document
 * lists. (3) The document's stattest names are the ones the daemon accepts: each is taken, and the
 * daemon's list of them (in its 400 for an unknown one) equals the document's enum. Finally every documented operation
 * must have answered 2xx at least once, so an operation cannot enter the document unexercised. */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "contract.h"
#include "harness_data.h"
#include "harness_db.h"
#include "harness_trainer.h"
#include "harness.h"

static json_t *doc;
static struct th_daemon *d, *dr;
static struct th_contract_cover cover;

static void check(const char *method, const char *path, const struct th_response *r)
{
	th_contract_note(&cover, method, path, r);
}

static json_t *call(const char *method, const char *path, const char *body, long want)
{
	struct th_response r = th_call(d, method, path, body);
	ck_assert_msg(r.status == want, "%s %s: expected %ld, got %ld: %s", method, path, want, r.status, r.body);
	check(method, path, &r);
	json_t *j = json_incref(r.json);
	th_response_free(&r);
	return j;
}

static void fails(const char *method, const char *path, const char *body, long status, const char *code,
		  const char *needle)
{
	struct th_response r = th_call(d, method, path, body);
	th_expect_error(&r, status, code, needle);
	check(method, path, &r);
	th_response_free(&r);
}

static void not_json(const char *method, const char *path)
{
	char *url = th_fmt("%s%s", d->base_url, path);
	struct th_response r = th_http(method, url, "text/plain", "x", 1);
	th_expect_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE", NULL);
	check(method, path, &r);
	th_response_free(&r);
	free(url);
}

/* GET path (with Accept when not NULL) answers the report's page, in a media type the
 * document lists for it. */
static void html_page(const char *path, const char *accept)
{
	char *url = th_fmt("%s%s", d->base_url, path), *header = accept ? th_fmt("Accept: %s", accept) : NULL;
	char type[128];
	struct th_response r = th_data_http("GET", url, NULL, NULL, 0, header, "Content-Type", type, sizeof type);
	ck_assert_msg(r.status == 200, "GET %s: %ld %s", path, r.status, r.body);
	ck_assert_str_eq(type, "text/html; charset=utf-8");
	th_contract_media_type(doc, "GET", path, r.status, type);
	ck_assert_msg(strncmp(r.body, "<!DOCTYPE html>", 15) == 0, "%s", r.body);
	th_response_free(&r);
	free(header);
	free(url);
}

START_TEST(routes_and_document_match)
{
	json_t *j = th_contract_load("drift-monitor");
	ck_assert_str_eq(json_string_value(json_object_get(j, "openapi")), "3.0.3");
	th_contract_routes(j, "drift-monitor");
	json_decref(j);
}
END_TEST

/* The document's stattest names against the daemon's: every one is accepted, and the
 * daemon's list (its 400 for an unknown name) is the same list. */
static void stattests_match(void)
{
	json_t *names = json_object_get(
		json_object_get(json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
						"FeatureOverride"),
				"properties"),
		"method");
	names = json_object_get(names, "enum");
	ck_assert_int_gt(json_array_size(names), 0);
	char expect[400] = "";
	size_t i;
	json_t *name;
	json_array_foreach(names, i, name)
	{
		char *spec = th_fmt("{\"model\": \"m-%s\", \"features\": {\"f\": {\"method\": \"%s\"}}}",
				    json_string_value(name), json_string_value(name));
		json_t *m = call("POST", "/v1/monitors", spec, 201);
		const char *id = json_string_value(json_object_get(json_object_get(m, "monitor"), "id"));
		char *path = th_fmt("/v1/monitors/%s", id);
		json_decref(call("DELETE", path, NULL, 200));
		free(path);
		json_decref(m);
		free(spec);
		size_t n = strlen(expect);
		snprintf(expect + n, sizeof expect - n, "%s%s", i ? ", " : "", json_string_value(name));
	}
	char *needle = th_fmt("(one of %s)", expect);
	fails("POST", "/v1/monitors", "{\"model\": \"m\", \"features\": {\"f\": {\"method\": \"nope\"}}}", 400,
	      "INVALID_PARAMETER_VALUE", needle);
	free(needle);
}

START_TEST(a_client_session_keeps_to_the_contract)
{
	doc = th_contract_load("drift-monitor");
	static const char *const dr_env[] = {"PROFILE_POLL_MS=50", NULL};
	dr = th_daemon_start("data-registry", NULL, dr_env);
	th_trainer_push_csv(dr, "iris", "x,c\n1,a\n2,b\n,a\n3,b\n", NULL);
	char *registry = th_fmt("DATA_REGISTRY_URL=%s", dr->base_url);
	const char *env[] = {registry, NULL};
	d = th_daemon_start("drift-monitor", NULL, env);
	cover = (struct th_contract_cover){.doc = doc};

	json_decref(call("GET", "/healthz", NULL, 200));
	json_decref(call("GET", "/readyz", NULL, 200));
	json_t *served = call("GET", "/openapi.json", NULL, 200);
	ck_assert(json_equal(served, doc));
	json_decref(served);
	struct th_response r = th_call(d, "GET", "/metrics", NULL);
	ck_assert_int_eq(r.status, 200);
	check("GET", "/metrics", &r);
	th_response_free(&r);

	/* monitors */
	const char *spec = "{\"model\": \"iris\", \"window\": {\"size\": 500}, \"features\": {\"petal_length\": "
			   "{\"method\": \"psi\", \"threshold\": 0.2}, \"sepal_width\": {\"threshold\": 0.01}}, "
			   "\"drift_share\": 0.3, \"alert\": {\"policy\": \"retrain\", \"cooldown_seconds\": 86400}}";
	json_t *body = call("POST", "/v1/monitors", spec, 201);
	char *id = strdup(json_string_value(json_object_get(json_object_get(body, "monitor"), "id")));
	json_decref(body);
	json_decref(call("POST", "/v1/monitors", "{\"model\": \"wine\", \"window\": {\"seconds\": 3600}}", 201));
	fails("POST", "/v1/monitors", "{\"model\": \"iris\"}", 409, "RESOURCE_CONFLICT", id);
	fails("POST", "/v1/monitors", "{\"model\": \"x\", \"window\": {\"size\": 5}}", 400, "INVALID_PARAMETER_VALUE",
	      "window.size");
	fails("POST", "/v1/monitors", "{\"window\": {\"size\": 50}}", 400, "INVALID_PARAMETER_VALUE", "model");
	not_json("POST", "/v1/monitors");
	stattests_match();

	char *path = th_fmt("/v1/monitors/%s", id);
	json_decref(call("GET", path, NULL, 200));
	fails("GET", "/v1/monitors/ffffffffffffffffffffffffffffffff", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	json_decref(call("GET", "/v1/monitors?max_results=1", NULL, 200));
	json_decref(call("GET", "/v1/monitors?model=iris", NULL, 200));
	fails("GET", "/v1/monitors?max_results=0", NULL, 400, "INVALID_PARAMETER_VALUE", "max_results");
	json_decref(call("PATCH", path, "{\"window\": {\"seconds\": 60}, \"alert\": {\"policy\": \"none\"}}", 200));
	fails("PATCH", path, "{\"drift_share\": 0}", 400, "INVALID_PARAMETER_VALUE", "drift_share");
	fails("PATCH", "/v1/monitors/ffffffffffffffffffffffffffffffff", "{}", 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	not_json("PATCH", path);

	/* reports: none yet, then one as the window slice will write it */
	json_decref(call("GET", "/v1/reports", NULL, 200));
	char *insert = th_fmt("INSERT INTO reports (id, monitor_id, model, model_version, window_start, window_end, "
			      "rows, dataset_drift, share_of_drifted_columns, report, created_at) VALUES "
			      "('0123456789abcdef0123456789abcdef', '%s', 'iris', '3', 1000, 2000, 500, true, 0.5, "
			      "'{\"number_of_columns\": 2, \"number_of_drifted_columns\": 1}', 3000)",
			      id);
	free(th_sql(d, "drift", insert));
	free(insert);
	char *by_monitor = th_fmt("/v1/reports?monitor=%s&since=0&max_results=1", id);
	json_decref(call("GET", by_monitor, NULL, 200));
	fails("GET", "/v1/reports?monitor=ffffffffffffffffffffffffffffffff", NULL, 404, "RESOURCE_DOES_NOT_EXIST",
	      NULL);
	fails("GET", "/v1/reports?since=yesterday", NULL, 400, "INVALID_PARAMETER_VALUE", "since");
	json_decref(call("GET", "/v1/reports/0123456789abcdef0123456789abcdef", NULL, 200));
	fails("GET", "/v1/reports/ffffffffffffffffffffffffffffffff", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	html_page("/v1/reports/0123456789abcdef0123456789abcdef.html", NULL);
	html_page("/v1/reports/0123456789abcdef0123456789abcdef", "text/html,application/xhtml+xml,*/*;q=0.8");
	fails("GET", "/v1/reports/ffffffffffffffffffffffffffffffff.html", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);

	/* batch drift: a table, the bad-input kinds, the dataset form */
	json_decref(call("POST", "/v1/drift",
			 "{\"reference\": {\"csv\": \"x,c\\n1,a\\n2,b\\n,a\\n3,b\\n\"}, \"current\": {\"csv\": "
			 "\"c,x\\nb,5\\nb,6\\na,7\\n\"}, \"columns\": {\"c\": {\"method\": \"TVD\"}}}",
			 200));
	fails("POST", "/v1/drift", "{\"reference\": {\"csv\": \"a\\n1\\n\"}, \"current\": {\"csv\": \"b\\n1\\n\"}}",
	      400, "INVALID_PARAMETER_VALUE", "missing 'a'");
	json_decref(call("POST", "/v1/drift",
			 "{\"reference\": {\"dataset\": \"iris@1\"}, \"current\": {\"csv\": "
			 "\"c,x\\nb,5\\nb,6\\na,7\\n\"}}",
			 200));
	fails("POST", "/v1/drift", "{\"reference\": {\"dataset\": \"iris@7\"}, \"current\": {\"dataset\": \"iris\"}}",
	      404, "RESOURCE_DOES_NOT_EXIST", "reference.dataset: 'iris@7'");
	fails("POST", "/v1/drift", "{\"reference\": {\"dataset\": \"iris@v-7\"}, \"current\": {\"dataset\": \"iris\"}}",
	      400, "INVALID_PARAMETER_VALUE", "reference.dataset");
	char *nowhere = th_fmt("DATA_REGISTRY_URL=http://127.0.0.1:%u", th_free_port());
	const char *lost_env[] = {nowhere, NULL};
	struct th_daemon *lost = th_daemon_start("drift-monitor", NULL, lost_env);
	r = th_call(lost, "POST", "/v1/drift",
		    "{\"reference\": {\"dataset\": \"iris\"}, \"current\": {\"dataset\": \"iris\"}}");
	th_expect_error(&r, 503, "TEMPORARILY_UNAVAILABLE", "the data registry could not be reached");
	check("POST", "/v1/drift", &r);
	th_response_free(&r);
	th_daemon_stop(lost);
	free(nowhere);
	not_json("POST", "/v1/drift");

	json_decref(call("DELETE", path, NULL, 200));
	fails("DELETE", path, NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	fails("GET", "/v1/reports/0123456789abcdef0123456789abcdef", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);

	/* 7 monitor and report operations, batch drift + healthz, readyz, metrics,
	 * openapi.json */
	th_contract_expect_all(&cover, 12);
	th_daemon_stop(d);
	d = NULL;
	th_daemon_stop(dr);
	dr = NULL;
	free(registry);
	json_decref(doc);
	doc = NULL;
	free(by_monitor);
	free(path);
	free(id);
}
END_TEST

static Suite *contract_suite(void)
{
	Suite *s = suite_create("contract-drift-monitor");
	TCase *tc = tcase_create("contract");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, routes_and_document_match);
	tcase_add_test(tc, a_client_session_keeps_to_the_contract);
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

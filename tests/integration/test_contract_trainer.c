/* Contract test of the trainer: keeps proto/openapi/trainer.yaml true. (1) The daemon's
 * route table (lathe-trainer --routes) and the document's operations match both ways.
 * (2) A client session against the real daemon (WORKERS=0, a real data registry with a
 * tiny CSV) touches every documented operation and the error kinds the document
 * promises (400 bad spec, bad query, ended job; 404 unknown job or dataset version; 503
 * without a data registry; schedules and their firings; and promotion's policies, evaluations and rollback on a second
 * trainer wired to a real tracker and registry), each response checked against the document's schema for its status
 * (th_contract_check). Finally every documented operation must have answered 2xx at
 * least once, so an operation cannot enter the document unexercised. */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "contract.h"
#include "harness_trainer.h"
#include "harness.h"

static json_t *doc;
static struct th_daemon *d;

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

START_TEST(routes_and_document_match)
{
	json_t *j = th_contract_load("trainer");
	ck_assert_str_eq(json_string_value(json_object_get(j, "openapi")), "3.0.3");
	th_contract_routes(j, "trainer");
	json_decref(j);
}
END_TEST

START_TEST(a_client_session_keeps_to_the_contract)
{
	doc = th_contract_load("trainer");
	static const char *const dr_env[] = {"PROFILE_POLL_MS=50", NULL};
	struct th_daemon *dr = th_daemon_start("data-registry", NULL, dr_env);
	th_trainer_push_csv(dr, "iris", "a,b,species\n1,2,x\n2,1,y\n3,3,x\n1,1,y\n", "species");
	d = th_trainer_start(dr, NULL);
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

	const char *spec =
		"{\"dataset\": \"iris@1\", \"target\": \"species\", \"model\": {\"type\": \"mlp\", "
		"\"hidden\": [4]}, \"epochs\": 2, \"register\": {\"model\": \"iris\", \"alias\": \"champion\"}}";
	json_t *body = call("POST", "/v1/jobs", spec, 201);
	char *id = strdup(json_string_value(json_object_get(json_object_get(body, "job"), "id")));
	json_decref(body);
	json_decref(call("POST", "/v1/jobs", spec, 201));
	fails("POST", "/v1/jobs", "{\"dataset\": \"iris@1\", \"model\": {\"type\": \"svm\"}}", 400,
	      "INVALID_PARAMETER_VALUE", "model.type");
	fails("POST", "/v1/jobs", "{\"dataset\": \"nope@1\", \"model\": {\"type\": \"mlp\"}}", 400,
	      "INVALID_PARAMETER_VALUE", "dataset");

	char *path = th_fmt("/v1/jobs/%s", id);
	json_decref(call("GET", path, NULL, 200));
	fails("GET", "/v1/jobs/ffffffffffffffffffffffffffffffff", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	json_decref(call("GET", "/v1/jobs?max_results=1", NULL, 200));
	json_decref(call("GET", "/v1/jobs?status=QUEUED", NULL, 200));
	fails("GET", "/v1/jobs?status=nope", NULL, 400, "INVALID_PARAMETER_VALUE", NULL);

	char *events = th_fmt("/v1/jobs/%s/events", id);
	r = th_call(d, "GET", events, NULL);
	ck_assert_int_eq(r.status, 200);
	check("GET", events, &r);
	th_response_free(&r);
	fails("GET", "/v1/jobs/ffffffffffffffffffffffffffffffff/events", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	char *bad = th_fmt("%s?follow=maybe", events);
	fails("GET", bad, NULL, 400, "INVALID_PARAMETER_VALUE", "follow");
	free(bad);

	char *cancel = th_fmt("/v1/jobs/%s/cancel", id);
	json_decref(call("POST", cancel, NULL, 200));
	fails("POST", cancel, NULL, 400, "INVALID_PARAMETER_VALUE", "cannot be cancelled");
	fails("POST", "/v1/jobs/ffffffffffffffffffffffffffffffff/cancel", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);

	/* schedules (h_schedules.c) */
	char *sbody = th_fmt("{\"name\": \"nightly\", \"spec\": %s, \"cron\": \"0 3 * * *\"}", spec);
	json_t *sch = call("POST", "/v1/schedules", sbody, 201);
	char *sid = strdup(json_string_value(json_object_get(json_object_get(sch, "schedule"), "id")));
	json_decref(sch);
	fails("POST", "/v1/schedules", sbody, 400, "RESOURCE_ALREADY_EXISTS", "nightly");
	free(sbody);
	sbody = th_fmt("{\"name\": \"on-iris\", \"spec\": %s, \"trigger\": {\"event\": \"dataset.version.ready\", "
		       "\"dataset\": \"iris\"}}",
		       spec);
	json_decref(call("POST", "/v1/schedules", sbody, 201));
	free(sbody);
	fails("POST", "/v1/schedules", "{\"name\": \"x\", \"spec\": {}, \"cron\": \"61 * * * *\"}", 400,
	      "INVALID_PARAMETER_VALUE", "cron: minute field");
	json_decref(call("GET", "/v1/schedules?max_results=1", NULL, 200));
	char *spath = th_fmt("/v1/schedules/%s", sid);
	json_decref(call("GET", spath, NULL, 200));
	json_decref(call("PATCH", spath, "{\"cron\": \"@hourly\", \"max_retries\": 3}", 200));
	fails("PATCH", spath, "{\"backoff_ms\": -1}", 400, "INVALID_PARAMETER_VALUE", "backoff_ms");
	fails("GET", "/v1/schedules/ffffffffffffffffffffffffffffffff", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	char *spause = th_fmt("%s/pause", spath), *sresume = th_fmt("%s/resume", spath),
	     *sfire = th_fmt("%s/firings", spath);
	json_decref(call("POST", spause, NULL, 200));
	json_decref(call("POST", sresume, NULL, 200));
	json_decref(call("GET", sfire, NULL, 200));
	fails("GET", "/v1/schedules/ffffffffffffffffffffffffffffffff/firings", NULL, 404, "RESOURCE_DOES_NOT_EXIST",
	      NULL);
	json_decref(call("DELETE", spath, NULL, 200));
	fails("DELETE", spath, NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	free(spause);
	free(sresume);
	free(sfire);
	free(spath);
	free(sid);
	/* lineage backwards from the dataset version (the queued jobs registered nothing);
	 * the forward tree's schema is checked in test_lineage, against a whole stack */
	json_t *lin = call("GET", "/v1/lineage?dataset=iris@1", NULL, 200);
	ck_assert_int_eq(json_array_size(json_object_get(lin, "models")), 0);
	json_decref(lin);
	fails("GET", "/v1/lineage?model=iris", NULL, 400, "INVALID_PARAMETER_VALUE", "version");
	fails("GET", "/v1/lineage?dataset=nope@1", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
	/* promotion (policies, evaluations, rollback): a second trainer (WORKERS=0: nothing
	 * is evaluated) wired to a tracker and a registry holding versions 1 and 2 */
	{
		struct th_daemon *jobs_trainer = d, *trk = th_daemon_start("experiment-tracker", NULL, NULL);
		char turl[160], rurl[160], group[64];
		snprintf(turl, sizeof turl, "TRACKER_URL=%s", trk->base_url);
		struct th_daemon *reg = th_daemon_start("model-registry", NULL, (const char *const[]){turl, NULL});
		snprintf(rurl, sizeof rurl, "REGISTRY_URL=%s", reg->base_url);
		snprintf(group, sizeof group, "PROMOTION_GROUP=contract-%d", (int)getpid());
		d = th_trainer_start(dr, (const char *const[]){turl, rurl, group, NULL});
		json_decref(th_ok(reg, "POST", "/api/2.0/mlflow/registered-models/create", "{\"name\": \"cm\"}"));
		for (int v = 0; v < 2; v++)
			json_decref(th_ok(reg, "POST", "/api/2.0/mlflow/model-versions/create",
					  "{\"name\": \"cm\", \"source\": \"mlflow-artifacts:/none/model\"}"));
		json_decref(th_ok(reg, "POST", "/api/2.0/mlflow/registered-models/alias",
				  "{\"name\": \"cm\", \"alias\": \"champion\", \"version\": \"1\"}"));
		json_decref(call("GET", "/v1/policies/cm", NULL, 200));
		json_decref(call("PUT", "/v1/policies/cm", "{\"metric\": \"log_loss\", \"mode\": \"manual\"}", 200));
		fails("PUT", "/v1/policies/cm", "{\"min_improvement\": -1}", 400, "INVALID_PARAMETER_VALUE",
		      "min_improvement");
		json_decref(call("DELETE", "/v1/policies/cm", NULL, 200));
		fails("DELETE", "/v1/policies/cm", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
		fails("POST", "/v1/models/cm/rollback", NULL, 400, "INVALID_PARAMETER_VALUE", "previous");
		json_t *e = call("POST", "/v1/evaluations", "{\"model\": \"cm\", \"version\": \"2\"}", 201);
		char *epath = th_fmt("/v1/evaluations/%s",
				     json_string_value(json_object_get(json_object_get(e, "evaluation"), "id")));
		json_decref(e);
		json_decref(call("POST", "/v1/evaluations", "{\"model\": \"cm\", \"version\": \"2\"}", 200));
		fails("POST", "/v1/evaluations", "{\"model\": \"cm\", \"version\": \"9\"}", 404,
		      "RESOURCE_DOES_NOT_EXIST", NULL);
		fails("POST", "/v1/evaluations", "{\"model\": \"cm\"}", 400, "INVALID_PARAMETER_VALUE", "version");
		json_decref(call("GET", epath, NULL, 200));
		fails("GET", "/v1/evaluations/ffffffffffffffffffffffffffffffff", NULL, 404, "RESOURCE_DOES_NOT_EXIST",
		      NULL);
		json_decref(call("GET", "/v1/evaluations?model=cm&max_results=1", NULL, 200));
		fails("GET", "/v1/evaluations?max_results=0", NULL, 400, "INVALID_PARAMETER_VALUE", NULL);
		json_decref(th_ok(reg, "POST", "/api/2.0/mlflow/registered-models/alias",
				  "{\"name\": \"cm\", \"alias\": \"previous\", \"version\": \"2\"}"));
		json_decref(call("POST", "/v1/models/cm/rollback", NULL, 200));
		fails("POST", "/v1/models/nope/rollback", NULL, 404, "RESOURCE_DOES_NOT_EXIST", NULL);
		th_daemon_stop(d);
		th_daemon_stop(reg);
		th_daemon_stop(trk);
		free(epath);
		d = jobs_trainer;
	}

	/* the data registry gone: 503 */
	th_daemon_stop(dr);
	fails("POST", "/v1/jobs", spec, 503, "TEMPORARILY_UNAVAILABLE", "data registry");

	/* 5 job operations, 8 of schedules, lineage, 7 of promotion + healthz, readyz,
	 * metrics, openapi.json */
	th_contract_expect_all(&cover, 25);
	th_daemon_stop(d);
	d = NULL;
	json_decref(doc);
	doc = NULL;
	free(cancel);
	free(events);
	free(path);
	free(id);
}
END_TEST

static Suite *contract_suite(void)
{
	Suite *s = suite_create("contract-trainer");
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

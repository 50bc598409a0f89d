/* Tests of the per-route error shapes (struct http_route.errors and
 * http_server_config.error_prefixes in libs/http), of the one log line per 4xx
 * (reply.c, access_log.c), and of X-Request-Id forwarding by the httpc client
 * (httpc_request.request_id), against real servers on ephemeral 127.0.0.1 ports: the
 * server under test, and a second one that records the X-Request-Id it was sent. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/log.h"
#include "core/time.h"
#include "http/client.h"
#include "http/http.h"
#include "http/jspec.h"

#define INFER_LIMIT 64

static struct http_server *server;   /* the server under test */
static struct http_server *recorder; /* the callee of /call-out */

/* --- the app under test ------------------------------------------------------------- */

/* An OIP-style inference route: "unknown" is a model we do not have, "broken" a
 * model that refuses its input; the body must have "inputs". */
static void h_infer(struct http_request *req, void *a)
{
	const char *name = http_request_param(req, "name");
	json_t *inputs = NULL;
	const struct http_jspec spec[] = {HTTP_JS_REQ_ARRAY("inputs", &inputs), HTTP_JS_END};
	(void)a;
	if (strcmp(name, "unknown") == 0) {
		http_reply_error(req, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Model '%s' is not loaded", name);
		return;
	}
	if (http_parse_args_or_reply(req, spec, NULL) != HTTP_PARSE_OK)
		return;
	if (strcmp(name, "broken") == 0) {
		http_reply_error(req, HTTP_EC_INVALID_PARAMETER_VALUE, "input 0 has the wrong shape");
		return;
	}
	if (strcmp(name, "crash") == 0) {
		http_reply_error(req, HTTP_EC_INTERNAL_ERROR, "model crashed");
		return;
	}
	http_reply_json(req, 200, json_pack("{s:s}", "model_name", name));
}

static void h_ok(struct http_request *req, void *a)
{
	(void)a;
	http_reply_json(req, 200, json_pack("{s:b}", "ok", 1));
}

static void h_mlflow_error(struct http_request *req, void *a)
{
	(void)a;
	http_reply_error(req, HTTP_EC_RESOURCE_DOES_NOT_EXIST, "Run 'r1' not found");
}

/* Calls the recorder on behalf of this request and answers what it saw. */
static void h_call_out(struct http_request *req, void *a)
{
	char url[128];
	struct httpc_response resp;
	struct core_error err;
	(void)a;
	snprintf(url, sizeof url, "http://127.0.0.1:%u/record", http_server_port(recorder));
	struct httpc_request rq = {.method = "GET", .url = url, .request_id = http_request_id(req)};
	if (httpc_do(&rq, &resp, &err) != CORE_OK) {
		http_reply_error(req, HTTP_EC_TEMPORARILY_UNAVAILABLE, "recorder: %s", err.message);
		return;
	}
	json_t *seen = json_loadb(resp.body, resp.body_len, 0, NULL);
	httpc_response_free(&resp);
	http_reply_json(req, 200, json_pack("{s:o?}", "seen", seen));
}

/* The recorder: answers the X-Request-Id header it was sent, and the id it used. */
static void h_record(struct http_request *req, void *a)
{
	(void)a;
	http_reply_json(req, 200,
			json_pack("{s:s?, s:s}", "header", http_request_header(req, "X-Request-Id"), "id",
				  http_request_id(req)));
}

static const struct http_route routes[] = {
	{.methods = HTTP_POST,
	 .pattern = "/v2/models/{name}/infer",
	 .handler = h_infer,
	 .content_type = "application/json",
	 .body_limit = INFER_LIMIT,
	 .name = "infer"},
	{.methods = HTTP_GET, .pattern = "/v2/health/live", .handler = h_ok},
	/* under the OIP prefix, but declared MLflow-shaped */
	{.methods = HTTP_GET, .pattern = "/v2/mlflow-compat", .handler = h_mlflow_error, .errors = HTTP_ERRORS_MLFLOW},
	/* outside the prefix, declared OIP-shaped */
	{.methods = HTTP_POST, .pattern = "/predict", .handler = h_ok, .errors = HTTP_ERRORS_OIP},
	{.methods = HTTP_GET, .pattern = "/api/2.0/mlflow/runs/get", .handler = h_mlflow_error, .name = "runs-get"},
	{.methods = HTTP_POST,
	 .pattern = "/api/2.0/mlflow/runs/create",
	 .handler = h_ok,
	 .content_type = "application/json",
	 .body_limit = INFER_LIMIT},
	{.methods = HTTP_GET, .pattern = "/call-out", .handler = h_call_out},
	{0},
};

static const struct http_error_prefix prefixes[] = {
	{.prefix = "/v2/", .shape = HTTP_ERRORS_OIP},
	{0},
};

static const struct http_route recorder_routes[] = {
	{.methods = HTTP_GET, .pattern = "/record", .handler = h_record},
	{0},
};

static void setup(void)
{
	struct core_error err;
	struct http_server_config cfg = {.routes = routes, .threads = 2, .error_prefixes = prefixes};
	ck_assert_msg(http_server_start(&cfg, &server, &err) == CORE_OK, "start: %s", err.message);
	struct http_server_config rcfg = {.routes = recorder_routes, .threads = 1};
	ck_assert_msg(http_server_start(&rcfg, &recorder, &err) == CORE_OK, "start: %s", err.message);
}

static void teardown(void)
{
	http_server_stop(server);
	http_server_stop(recorder);
	server = recorder = NULL;
}

/* --- helpers ------------------------------------------------------------------------ */

/* One request with httpc; asserts a response arrived and fills *resp. */
static void call(const char *method, const char *path, const char *body, const char *ct, const char *const *headers,
		 struct httpc_response *resp)
{
	char url[512];
	struct core_error err;
	snprintf(url, sizeof url, "http://127.0.0.1:%u%s", http_server_port(server), path);
	struct httpc_request rq = {.method = method,
				   .url = url,
				   .body = body,
				   .body_len = body ? strlen(body) : 0,
				   .content_type = ct,
				   .headers = headers,
				   .timeout_ms = 10000};
	ck_assert_msg(httpc_do(&rq, resp, &err) == CORE_OK, "%s %s: %s", method, path, err.message);
}

/* Asserts status and the exact body bytes. */
static void expect(const char *method, const char *path, const char *body, const char *ct, const char *const *headers,
		   long status, const char *want)
{
	struct httpc_response r;
	call(method, path, body, ct, headers, &r);
	ck_assert_msg(r.status == status, "%s %s: status %ld, want %ld (%s)", method, path, r.status, status, r.body);
	ck_assert_msg(strcmp(r.body, want) == 0, "%s %s:\n got  %s\n want %s", method, path, r.body, want);
	ck_assert_str_eq(r.content_type, "application/json");
	httpc_response_free(&r);
}

static int saved_stderr = -1;

/* Redirects stderr into a temporary file until release_stderr. */
static FILE *capture_stderr(void)
{
	FILE *f = tmpfile();
	ck_assert_ptr_nonnull(f);
	saved_stderr = dup(STDERR_FILENO);
	ck_assert_int_ge(saved_stderr, 0);
	ck_assert_int_ge(dup2(fileno(f), STDERR_FILENO), 0);
	return f;
}

static void release_stderr(FILE *f)
{
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	fclose(f);
}

/* Waits (up to 3 s) for the access-log line of request id; then counts the lines
 * that name the id, and copies the access line into line. Audit lines (written for
 * requests to write routes by libs/http/src/auth.c) are not about errors: not counted. */
static int lines_for(FILE *f, const char *id, char *line, size_t size)
{
	char buf[8192], needle[128];
	snprintf(needle, sizeof needle, "\"request_id\":\"%s\"", id);
	for (int tries = 0; tries < 300; tries++) {
		int n = 0;
		bool access = false;
		rewind(f);
		while (fgets(buf, sizeof buf, f)) {
			if (!strstr(buf, needle) || strstr(buf, "\"msg\":\"audit\""))
				continue;
			n++;
			if (strstr(buf, "\"msg\":\"http request\"")) {
				access = true;
				snprintf(line, size, "%s", buf);
			}
		}
		if (access)
			return n;
		core_sleep_ms(10);
	}
	return 0;
}

/* --- shapes ------------------------------------------------------------------------- */

START_TEST(oip_not_found)
{
	/* no route at all under the OIP prefix */
	expect("POST", "/v2/nothing/here", "{}", "application/json", NULL, 404,
	       "{\"error\":\"No route matches POST /v2/nothing/here\"}");
	expect("GET", "/v2/models/unknown/infer/extra", NULL, NULL, NULL, 404,
	       "{\"error\":\"No route matches GET /v2/models/unknown/infer/extra\"}");
	/* the handler's own 404 for a model it does not have */
	expect("POST", "/v2/models/unknown/infer", "{\"inputs\":[]}", "application/json", NULL, 404,
	       "{\"error\":\"Model 'unknown' is not loaded\"}");
	/* a prefix is byte-exact: /v2x is not under /v2/ */
	expect("GET", "/v2x", NULL, NULL, NULL, 404,
	       "{\"error_code\":\"ENDPOINT_NOT_FOUND\",\"message\":\"No route matches GET /v2x\"}");
}
END_TEST

START_TEST(oip_method_not_allowed)
{
	expect("GET", "/v2/models/m/infer", NULL, NULL, NULL, 405,
	       "{\"error\":\"Method GET is not allowed on /v2/models/m/infer (allowed: POST)\"}");
	/* a route that declares OIP outside the prefix: its 405 is OIP-shaped too */
	expect("DELETE", "/predict", NULL, NULL, NULL, 405,
	       "{\"error\":\"Method DELETE is not allowed on /predict (allowed: POST)\"}");
	/* and a route under the prefix that declares MLflow keeps MLflow's */
	expect("POST", "/v2/mlflow-compat", "{}", "application/json", NULL, 405,
	       "{\"error_code\":\"METHOD_NOT_ALLOWED\",\"message\":\"Method POST is not allowed on "
	       "/v2/mlflow-compat (allowed: GET, HEAD)\"}");
}
END_TEST

START_TEST(oip_too_large)
{
	char big[INFER_LIMIT * 3];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	char want[256];
	snprintf(want, sizeof want, "{\"error\":\"Request body of %zu bytes is over the limit of %d bytes\"}",
		 sizeof big - 1, INFER_LIMIT);
	expect("POST", "/v2/models/m/infer", big, "application/json", NULL, 413, want);
	/* chunked: found out while reading */
	const char *const chunked[] = {"Transfer-Encoding: chunked", NULL};
	snprintf(want, sizeof want, "{\"error\":\"Request body is over the limit of %d bytes\"}", INFER_LIMIT);
	expect("POST", "/v2/models/m/infer", big, "application/json", chunked, 413, want);
	/* the same on an MLflow route stays MLflow-shaped */
	snprintf(want, sizeof want,
		 "{\"error_code\":\"REQUEST_TOO_LARGE\",\"message\":\"Request body of %zu bytes is over the limit of "
		 "%d bytes\"}",
		 sizeof big - 1, INFER_LIMIT);
	expect("POST", "/api/2.0/mlflow/runs/create", big, "application/json", NULL, 413, want);
}
END_TEST

START_TEST(oip_unsupported_media_type)
{
	expect("POST", "/v2/models/m/infer", "inputs", "text/plain", NULL, 415,
	       "{\"error\":\"Content-Type must be one of ['application/json'] (got 'text/plain')\"}");
	expect("POST", "/api/2.0/mlflow/runs/create", "x", "text/plain", NULL, 415,
	       "{\"error_code\":\"UNSUPPORTED_MEDIA_TYPE\",\"message\":\"Content-Type must be one of "
	       "['application/json'] (got 'text/plain')\"}");
}
END_TEST

START_TEST(oip_handler_errors)
{
	expect("POST", "/v2/models/broken/infer", "{\"inputs\":[1]}", "application/json", NULL, 400,
	       "{\"error\":\"input 0 has the wrong shape\"}");
	/* the argument parser answers in the route's shape as well */
	expect("POST", "/v2/models/m/infer", "{}", "application/json", NULL, 400,
	       "{\"error\":\"Missing value for required parameter 'inputs'. See the API docs for more information "
	       "about request parameters.\"}");
	expect("POST", "/v2/models/m/infer", "{\"inputs\":[1]}", "application/json", NULL, 200,
	       "{\"model_name\":\"m\"}");
}
END_TEST

START_TEST(mlflow_shape_unchanged)
{
	/* the bytes main answered before error shapes existed */
	expect("GET", "/nope", NULL, NULL, NULL, 404,
	       "{\"error_code\":\"ENDPOINT_NOT_FOUND\",\"message\":\"No route matches GET /nope\"}");
	expect("GET", "/api/2.0/mlflow/runs/get", NULL, NULL, NULL, 404,
	       "{\"error_code\":\"RESOURCE_DOES_NOT_EXIST\",\"message\":\"Run 'r1' not found\"}");
	expect("GET", "/v2/mlflow-compat", NULL, NULL, NULL, 404,
	       "{\"error_code\":\"RESOURCE_DOES_NOT_EXIST\",\"message\":\"Run 'r1' not found\"}");
	expect("PUT", "/api/2.0/mlflow/runs/get", "x", "text/plain", NULL, 405,
	       "{\"error_code\":\"METHOD_NOT_ALLOWED\",\"message\":\"Method PUT is not allowed on "
	       "/api/2.0/mlflow/runs/get (allowed: GET, HEAD)\"}");
}
END_TEST

START_TEST(bad_error_shape_refused)
{
	struct core_error err;
	struct http_server *s2 = NULL;
	const struct http_route bad[] = {
		{.methods = HTTP_GET, .pattern = "/x", .handler = h_ok, .errors = (enum http_error_shape)7}, {0}};
	struct http_server_config cfg = {.routes = bad};
	ck_assert_int_eq(http_server_start(&cfg, &s2, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "error shape"));
	ck_assert_ptr_null(s2);
}
END_TEST

/* --- one log line per 4xx ----------------------------------------------------------- */

START_TEST(client_error_logged_once)
{
	char line[8192];
	struct httpc_response r;
	FILE *log = capture_stderr();

	const char *const h404[] = {"X-Request-Id: once-404", NULL};
	call("GET", "/v2/nothing", NULL, NULL, h404, &r);
	ck_assert_int_eq(r.status, 404);
	httpc_response_free(&r);
	ck_assert_int_eq(lines_for(log, "once-404", line, sizeof line), 1);
	ck_assert_ptr_nonnull(strstr(line, "\"level\":\"warn\""));
	ck_assert_ptr_nonnull(strstr(line, "\"status\":404,"));
	ck_assert_ptr_nonnull(
		strstr(line, "\"error_code\":\"ENDPOINT_NOT_FOUND\",\"error\":\"No route matches GET /v2/nothing\","));

	/* a handler's 4xx, MLflow-shaped */
	const char *const hh[] = {"X-Request-Id: once-handler", NULL};
	call("GET", "/api/2.0/mlflow/runs/get", NULL, NULL, hh, &r);
	ck_assert_int_eq(r.status, 404);
	httpc_response_free(&r);
	ck_assert_int_eq(lines_for(log, "once-handler", line, sizeof line), 1);
	ck_assert_ptr_nonnull(strstr(line, "\"level\":\"warn\""));
	ck_assert_ptr_nonnull(
		strstr(line, "\"error_code\":\"RESOURCE_DOES_NOT_EXIST\",\"error\":\"Run 'r1' not found\""));

	/* a 415 decided from the headers alone */
	const char *const h415[] = {"X-Request-Id: once-415", NULL};
	call("POST", "/v2/models/m/infer", "x", "text/plain", h415, &r);
	ck_assert_int_eq(r.status, 415);
	httpc_response_free(&r);
	ck_assert_int_eq(lines_for(log, "once-415", line, sizeof line), 1);

	/* a success stays one info line without error fields */
	const char *const h200[] = {"X-Request-Id: once-200", NULL};
	call("GET", "/v2/health/live", NULL, NULL, h200, &r);
	ck_assert_int_eq(r.status, 200);
	httpc_response_free(&r);
	ck_assert_int_eq(lines_for(log, "once-200", line, sizeof line), 1);
	ck_assert_ptr_nonnull(strstr(line, "\"level\":\"info\""));
	ck_assert_ptr_null(strstr(line, "\"error_code\""));

	/* a 500 keeps its error line, written when the reply is made, besides the
	 * access line (info) */
	const char *const h500[] = {"X-Request-Id: twice-500", NULL};
	call("POST", "/v2/models/crash/infer", "{\"inputs\":[]}", "application/json", h500, &r);
	ck_assert_int_eq(r.status, 500);
	ck_assert_str_eq(r.body, "{\"error\":\"model crashed\"}");
	httpc_response_free(&r);
	ck_assert_int_eq(lines_for(log, "twice-500", line, sizeof line), 2);
	ck_assert_ptr_nonnull(strstr(line, "\"level\":\"info\""));
	ck_assert_ptr_nonnull(strstr(line, "\"error_code\":\"INTERNAL_ERROR\",\"error\":\"model crashed\""));
	release_stderr(log);
}
END_TEST

/* --- X-Request-Id forwarding -------------------------------------------------------- */

START_TEST(request_id_forwarded)
{
	struct httpc_response r;
	const char *const mine[] = {"X-Request-Id: fwd-123.a_b", NULL};
	call("GET", "/call-out", NULL, NULL, mine, &r);
	ck_assert_int_eq(r.status, 200);
	json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
	json_t *seen = json_object_get(j, "seen");
	ck_assert_str_eq(json_string_value(json_object_get(seen, "header")), "fwd-123.a_b");
	ck_assert_str_eq(json_string_value(json_object_get(seen, "id")), "fwd-123.a_b");
	json_decref(j);
	httpc_response_free(&r);

	/* without a client id the server's generated one travels */
	call("GET", "/call-out", NULL, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	j = json_loadb(r.body, r.body_len, 0, NULL);
	const char *header = json_string_value(json_object_get(json_object_get(j, "seen"), "header"));
	ck_assert_ptr_nonnull(header);
	ck_assert_uint_eq(strlen(header), 32);
	ck_assert_uint_eq(strspn(header, "0123456789abcdef"), 32);
	json_decref(j);
	httpc_response_free(&r);
}
END_TEST

START_TEST(request_id_checked_by_client)
{
	char url[128];
	struct httpc_response r;
	struct core_error err;
	snprintf(url, sizeof url, "http://127.0.0.1:%u/record", http_server_port(recorder));
	/* no id: no header */
	struct httpc_request rq = {.method = "GET", .url = url};
	ck_assert_int_eq(httpc_do(&rq, &r, &err), CORE_OK);
	ck_assert_ptr_nonnull(strstr(r.body, "\"header\":null"));
	httpc_response_free(&r);
	/* an id that would smuggle a header in is refused before anything is sent */
	rq.request_id = "abc\r\nX-Evil: 1";
	ck_assert_int_eq(httpc_do(&rq, &r, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "request id"));
	rq.request_id = "0123456789012345678901234567890123456789012345678901234567890123456789"; /* 70 */
	ck_assert_int_eq(httpc_do(&rq, &r, &err), CORE_EINVAL);
}
END_TEST

static Suite *shape_suite(void)
{
	Suite *s = suite_create("http_error_shape");
	TCase *tc = tcase_create("shapes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, oip_not_found);
	tcase_add_test(tc, oip_method_not_allowed);
	tcase_add_test(tc, oip_too_large);
	tcase_add_test(tc, oip_unsupported_media_type);
	tcase_add_test(tc, oip_handler_errors);
	tcase_add_test(tc, mlflow_shape_unchanged);
	tcase_add_test(tc, bad_error_shape_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("logging");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, client_error_logged_once);
	suite_add_tcase(s, tc);

	tc = tcase_create("request_id");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, request_id_forwarded);
	tcase_add_test(tc, request_id_checked_by_client);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	struct core_error err;
	if (httpc_global_init(&err) != CORE_OK) {
		fprintf(stderr, "%s\n", err.message);
		return EXIT_FAILURE;
	}
	SRunner *sr = srunner_create(shape_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	httpc_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

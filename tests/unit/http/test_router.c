/* Unit tests of the router (libs/http/src/router.c): pattern checks, matching with
 * {params} and {path*}, URL-decoding of params, 404 vs 405 with the allowed set, and
 * method sets (GET implies HEAD). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "http/http.h"

static void h_dummy(struct http_request *req, void *app)
{
	(void)req;
	(void)app;
}

static const struct http_route routes[] = {
	{.methods = HTTP_GET, .pattern = "/", .handler = h_dummy, .name = "root"},
	{.methods = HTTP_GET | HTTP_POST, .pattern = "/v1/datasets", .handler = h_dummy, .name = "datasets"},
	{.methods = HTTP_GET, .pattern = "/v1/datasets/{name}", .handler = h_dummy, .name = "dataset"},
	{.methods = HTTP_DELETE, .pattern = "/v1/datasets/{name}", .handler = h_dummy, .name = "dataset_delete"},
	{.methods = HTTP_GET,
	 .pattern = "/v1/datasets/{name}/versions/{version}",
	 .handler = h_dummy,
	 .name = "version"},
	{.methods = HTTP_PUT,
	 .pattern = "/v1/datasets/latest/versions/{version}",
	 .handler = h_dummy,
	 .name = "shadowed_for_get"},
	{.methods = HTTP_GET | HTTP_PUT,
	 .pattern = "/api/2.0/mlflow-artifacts/artifacts/{path*}",
	 .handler = h_dummy,
	 .name = "artifact"},
	{.methods = HTTP_PATCH, .pattern = "/api/2.0/mlflow/registered-models/update", .handler = h_dummy},
	{0},
};

static enum http_match match(enum http_method m, const char *path, struct http_route_result *r)
{
	return http_route_match(routes, m, path, r);
}

/* --- checks ------------------------------------------------------------------------- */

START_TEST(check_accepts_good_table)
{
	struct core_error err;
	ck_assert_int_eq(http_routes_check(routes, &err), CORE_OK);
}
END_TEST

static enum core_status check_one(const char *pattern, unsigned methods)
{
	struct core_error err;
	const struct http_route t[] = {{.methods = methods, .pattern = pattern, .handler = h_dummy}, {0}};
	return http_routes_check(t, &err);
}

START_TEST(check_rejects_bad_patterns)
{
	ck_assert_int_eq(check_one("v1/x", HTTP_GET), CORE_EINVAL);        /* no leading / */
	ck_assert_int_eq(check_one("/v1//x", HTTP_GET), CORE_EINVAL);      /* empty segment */
	ck_assert_int_eq(check_one("/v1/x/", HTTP_GET), CORE_EINVAL);      /* trailing / */
	ck_assert_int_eq(check_one("/v1/x{id}", HTTP_GET), CORE_EINVAL);   /* partial segment */
	ck_assert_int_eq(check_one("/v1/{}", HTTP_GET), CORE_EINVAL);      /* no name */
	ck_assert_int_eq(check_one("/v1/{1a}", HTTP_GET), CORE_EINVAL);    /* bad name */
	ck_assert_int_eq(check_one("/v1/{a}/{a}", HTTP_GET), CORE_EINVAL); /* repeated */
	ck_assert_int_eq(check_one("/v1/{p*}/x", HTTP_GET), CORE_EINVAL);  /* rest not last */
	ck_assert_int_eq(check_one("/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", HTTP_GET), CORE_EINVAL);
	ck_assert_int_eq(check_one("/v1/x", 0), CORE_EINVAL);  /* no method */
	ck_assert_int_eq(check_one("/v1/x", 64), CORE_EINVAL); /* unknown bit */
	ck_assert_int_eq(check_one("/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h*}", HTTP_GET), CORE_OK);
	const struct http_route no_handler[] = {{.methods = HTTP_GET, .pattern = "/x"}, {0}};
	struct core_error err;
	ck_assert_int_eq(http_routes_check(no_handler, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "/x"));
	ck_assert_int_eq(http_routes_check(NULL, &err), CORE_EINVAL);
}
END_TEST

/* --- matching ----------------------------------------------------------------------- */

START_TEST(match_literal_and_root)
{
	struct http_route_result r;
	ck_assert_int_eq(match(HTTP_GET, "/", &r), HTTP_MATCH_FOUND);
	ck_assert_str_eq(r.route->name, "root");
	ck_assert_uint_eq(r.n_params, 0);
	http_route_result_clear(&r);
	ck_assert_int_eq(match(HTTP_POST, "/v1/datasets", &r), HTTP_MATCH_FOUND);
	ck_assert_str_eq(r.route->name, "datasets");
	http_route_result_clear(&r);
	ck_assert_int_eq(match(HTTP_GET, "/v1/dataset", &r), HTTP_MATCH_NOT_FOUND);
	ck_assert_ptr_null(r.route);
	ck_assert_int_eq(match(HTTP_GET, "/v1/datasets/", &r), HTTP_MATCH_NOT_FOUND); /* empty {name} */
	ck_assert_int_eq(match(HTTP_GET, "/v1/DATASETS", &r), HTTP_MATCH_NOT_FOUND);  /* case-sensitive */
	ck_assert_int_eq(match(HTTP_GET, "//v1/datasets", &r), HTTP_MATCH_NOT_FOUND);
	ck_assert_int_eq(match(HTTP_GET, "", &r), HTTP_MATCH_NOT_FOUND);
	ck_assert_int_eq(match(HTTP_GET, "*", &r), HTTP_MATCH_NOT_FOUND);
	ck_assert_int_eq(http_route_match(routes, HTTP_GET, NULL, &r), HTTP_MATCH_NOT_FOUND);
}
END_TEST

START_TEST(match_params)
{
	struct http_route_result r;
	ck_assert_int_eq(match(HTTP_GET, "/v1/datasets/mnist/versions/3", &r), HTTP_MATCH_FOUND);
	ck_assert_str_eq(r.route->name, "version");
	ck_assert_uint_eq(r.n_params, 2);
	ck_assert_str_eq(http_route_result_param(&r, "name"), "mnist");
	ck_assert_str_eq(http_route_result_param(&r, "version"), "3");
	ck_assert_ptr_null(http_route_result_param(&r, "nam"));
	ck_assert_ptr_null(http_route_result_param(&r, "names"));
	http_route_result_clear(&r);
	ck_assert_uint_eq(r.n_params, 0);
	/* the first route in table order wins: "latest" is a {name} for GET */
	ck_assert_int_eq(match(HTTP_GET, "/v1/datasets/latest/versions/1", &r), HTTP_MATCH_FOUND);
	ck_assert_str_eq(r.route->name, "version");
	http_route_result_clear(&r);
	ck_assert_int_eq(match(HTTP_PUT, "/v1/datasets/latest/versions/1", &r), HTTP_MATCH_FOUND);
	ck_assert_str_eq(r.route->name, "shadowed_for_get");
	http_route_result_clear(&r);
	ck_assert_int_eq(match(HTTP_GET, "/v1/datasets/a/versions", &r), HTTP_MATCH_NOT_FOUND);
	ck_assert_int_eq(match(HTTP_GET, "/v1/datasets/a/versions/1/x", &r), HTTP_MATCH_NOT_FOUND);
}
END_TEST

START_TEST(match_decodes_params)
{
	struct http_route_result r;
	ck_assert_int_eq(match(HTTP_GET, "/v1/datasets/a%2Fb%20c+d/versions/%E2%9C%93", &r), HTTP_MATCH_FOUND);
	ck_assert_str_eq(http_route_result_param(&r, "name"), "a/b c+d"); /* '+' is not a space in paths */
	ck_assert_str_eq(http_route_result_param(&r, "version"), "\xE2\x9C\x93");
	http_route_result_clear(&r);
	/* bad escapes and %00 stay as they are */
	ck_assert_int_eq(match(HTTP_GET, "/v1/datasets/%zz%4%00%41", &r), HTTP_MATCH_FOUND);
	ck_assert_str_eq(http_route_result_param(&r, "name"), "%zz%4%00A");
	http_route_result_clear(&r);
}
END_TEST

START_TEST(match_rest_param)
{
	struct http_route_result r;
	ck_assert_int_eq(match(HTTP_GET, "/api/2.0/mlflow-artifacts/artifacts/0/abc/artifacts/model/w.bin", &r),
			 HTTP_MATCH_FOUND);
	ck_assert_str_eq(r.route->name, "artifact");
	ck_assert_str_eq(http_route_result_param(&r, "path"), "0/abc/artifacts/model/w.bin");
	http_route_result_clear(&r);
	ck_assert_int_eq(match(HTTP_PUT, "/api/2.0/mlflow-artifacts/artifacts/d%20x/a%2Fb/", &r), HTTP_MATCH_FOUND);
	ck_assert_str_eq(http_route_result_param(&r, "path"), "d x/a/b/");
	http_route_result_clear(&r);
	ck_assert_int_eq(match(HTTP_GET, "/api/2.0/mlflow-artifacts/artifacts/", &r), HTTP_MATCH_NOT_FOUND);
	ck_assert_int_eq(match(HTTP_GET, "/api/2.0/mlflow-artifacts/artifacts", &r), HTTP_MATCH_NOT_FOUND);
}
END_TEST

/* --- 404 vs 405 and method sets --------------------------------------------------- */

START_TEST(method_not_allowed_collects_allowed)
{
	struct http_route_result r;
	char allow[64];
	ck_assert_int_eq(match(HTTP_PUT, "/v1/datasets/x", &r), HTTP_MATCH_METHOD_NOT_ALLOWED);
	ck_assert_ptr_null(r.route);
	ck_assert_uint_eq(r.allowed, HTTP_GET | HTTP_HEAD | HTTP_DELETE);
	http_methods_format(r.allowed, allow, sizeof allow);
	ck_assert_str_eq(allow, "GET, HEAD, DELETE");
	ck_assert_int_eq(match(HTTP_DELETE, "/v1/datasets/x", &r), HTTP_MATCH_FOUND);
	ck_assert_str_eq(r.route->name, "dataset_delete");
	ck_assert_uint_eq(r.allowed, 0);
	http_route_result_clear(&r);
	/* an unknown method (0) on a known path is a 405 too */
	ck_assert_int_eq(match(0, "/v1/datasets", &r), HTTP_MATCH_METHOD_NOT_ALLOWED);
	ck_assert_uint_eq(r.allowed, HTTP_GET | HTTP_HEAD | HTTP_POST);
	ck_assert_int_eq(match(0, "/nope", &r), HTTP_MATCH_NOT_FOUND);
	ck_assert_uint_eq(r.allowed, 0);
}
END_TEST

START_TEST(get_implies_head)
{
	struct http_route_result r;
	ck_assert_int_eq(match(HTTP_HEAD, "/v1/datasets/x/versions/1", &r), HTTP_MATCH_FOUND);
	http_route_result_clear(&r);
	ck_assert_int_eq(match(HTTP_HEAD, "/api/2.0/mlflow/registered-models/update", &r),
			 HTTP_MATCH_METHOD_NOT_ALLOWED);
	ck_assert_uint_eq(r.allowed, HTTP_PATCH);
	ck_assert_int_eq(match(HTTP_PATCH, "/api/2.0/mlflow/registered-models/update", &r), HTTP_MATCH_FOUND);
	ck_assert_ptr_null(r.route->name);
	http_route_result_clear(&r);
}
END_TEST

START_TEST(method_names_and_format)
{
	char buf[64];
	ck_assert_str_eq(http_method_name(HTTP_PATCH), "PATCH");
	ck_assert_ptr_null(http_method_name(0));
	ck_assert_ptr_null(http_method_name(HTTP_GET | HTTP_POST));
	http_methods_format(HTTP_GET | HTTP_HEAD | HTTP_POST | HTTP_PUT | HTTP_DELETE | HTTP_PATCH, buf, sizeof buf);
	ck_assert_str_eq(buf, "GET, HEAD, POST, PUT, DELETE, PATCH");
	http_methods_format(0, buf, sizeof buf);
	ck_assert_str_eq(buf, "");
	http_methods_format(HTTP_GET | HTTP_POST, buf, 6); /* truncated, terminated */
	ck_assert_uint_lt(strlen(buf), 6);
}
END_TEST

static Suite *router_suite(void)
{
	Suite *s = suite_create("http_router");
	TCase *tc = tcase_create("check");
	tcase_add_test(tc, check_accepts_good_table);
	tcase_add_test(tc, check_rejects_bad_patterns);
	suite_add_tcase(s, tc);
	tc = tcase_create("match");
	tcase_add_test(tc, match_literal_and_root);
	tcase_add_test(tc, match_params);
	tcase_add_test(tc, match_decodes_params);
	tcase_add_test(tc, match_rest_param);
	suite_add_tcase(s, tc);
	tc = tcase_create("methods");
	tcase_add_test(tc, method_not_allowed_collects_allowed);
	tcase_add_test(tc, get_implies_head);
	tcase_add_test(tc, method_names_and_format);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(router_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

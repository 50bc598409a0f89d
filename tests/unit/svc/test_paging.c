/* Unit tests of the keyset paging every /v1/ listing shares (libs/svc/src/paging.c):
 * max_results bounds, page tokens made and read back, the tokens refused, and the since=
 * parameter. The HTTP side is in each service's API tests (the trainer's jobs, the drift
 * monitor's monitors and reports). */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "svc/svc.h"

START_TEST(paging_parameters)
{
	struct svc_page p;
	struct core_error err = {{0}};
	ck_assert_int_eq(svc_page_parse(NULL, NULL, &p, &err), CORE_OK);
	ck_assert_int_eq(p.limit, 100);
	ck_assert_ptr_null(p.after_id);
	ck_assert_int_eq(svc_page_parse("1000", "", &p, &err), CORE_OK);
	ck_assert_int_eq(p.limit, 1000);
	const char *bad_max[] = {"0", "1001", "-1", "+5", " 5", "5x", "99999999999999999999"};
	for (size_t i = 0; i < sizeof bad_max / sizeof bad_max[0]; i++)
		ck_assert_msg(svc_page_parse(bad_max[i], NULL, &p, &err) == CORE_EINVAL, "%s", bad_max[i]);

	char *t = svc_page_token("1712345678901", "0123456789abcdef0123456789abcdef");
	ck_assert_str_eq(t, "1712345678901.0123456789abcdef0123456789abcdef");
	ck_assert_int_eq(svc_page_parse("2", t, &p, &err), CORE_OK);
	ck_assert_int_eq(p.after_created, 1712345678901LL);
	ck_assert_str_eq(p.after_id, "0123456789abcdef0123456789abcdef");
	free(t);
	const char *bad_tokens[] = {"x",
				    ".0123456789abcdef0123456789abcdef",
				    "12.0123456789abcdef0123456789abcde",
				    "12.0123456789ABCDEF0123456789abcdef",
				    "-1.0123456789abcdef0123456789abcdef",
				    "12.0123456789abcdef0123456789abcdef0"};
	for (size_t i = 0; i < sizeof bad_tokens / sizeof bad_tokens[0]; i++)
		ck_assert_msg(svc_page_parse(NULL, bad_tokens[i], &p, &err) == CORE_EINVAL, "%s", bad_tokens[i]);

	int64_t ms = -1;
	ck_assert_int_eq(svc_ms_param("since", "0", &ms, &err), CORE_OK);
	ck_assert_int_eq(ms, 0);
	ck_assert_int_eq(svc_ms_param("since", "1712345678901", &ms, &err), CORE_OK);
	ck_assert_int_eq(ms, 1712345678901LL);
	ck_assert_int_eq(svc_ms_param("since", "-5", &ms, &err), CORE_EINVAL);
	ck_assert_ptr_nonnull(strstr(err.message, "'since'"));
	ck_assert_int_eq(svc_ms_param("since", "", &ms, &err), CORE_EINVAL);
	ck_assert_int_eq(svc_ms_param("since", "1e3", &ms, &err), CORE_EINVAL);
}
END_TEST

static Suite *paging_suite(void)
{
	Suite *s = suite_create("svc-paging");
	TCase *tc = tcase_create("paging");
	tcase_add_test(tc, paging_parameters);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(paging_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

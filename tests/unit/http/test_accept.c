/* Unit tests of content negotiation (libs/http/src/accept.c, http_accept_quality): the
 * weight of the most specific matching range, a browser's Accept, no Accept, * / *,
 * case, blanks, parameters, and the malformed weights that make a range count for
 * nothing. */
#include <check.h>
#include <stdlib.h>
#include "http/http.h"

#define HTML "text/html"
#define JSON "application/json"

/* A browser's navigation Accept (Chromium's and Firefox's read the same here). */
#define BROWSER                                                                                                        \
	"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,"            \
	"application/signed-exchange;v=b3;q=0.7"

START_TEST(no_preference_takes_anything)
{
	ck_assert(http_accept_quality(NULL, HTML) == 1);
	ck_assert(http_accept_quality("", JSON) == 1);
	ck_assert(http_accept_quality(" , ", JSON) == 1);
	ck_assert(http_accept_quality("*/*", HTML) == 1);
	ck_assert(http_accept_quality("*/*", JSON) == 1);
}
END_TEST

START_TEST(most_specific_range_wins)
{
	ck_assert(http_accept_quality(BROWSER, HTML) == 1);
	ck_assert(http_accept_quality(BROWSER, JSON) == 0.8);
	ck_assert(http_accept_quality(JSON, HTML) == 0);
	ck_assert(http_accept_quality(JSON, JSON) == 1);
	ck_assert(http_accept_quality("text/*;q=0.3, text/html;q=0.7, */*;q=0.5", HTML) == 0.7);
	ck_assert(http_accept_quality("text/*;q=0.3, text/html;q=0.7, */*;q=0.5", "text/plain") == 0.3);
	ck_assert(http_accept_quality("text/*;q=0.3, text/html;q=0.7, */*;q=0.5", JSON) == 0.5);
	/* a more specific range set to 0 refuses the type whatever the wildcards say */
	ck_assert(http_accept_quality("text/html;q=0, */*", HTML) == 0);
	/* equally specific ranges: the best weight */
	ck_assert(http_accept_quality("text/html;q=0.2, text/html;level=1;q=0.6", HTML) == 0.6);
	/* a prefix or a longer type is not the type */
	ck_assert(http_accept_quality("text/htmlx, text/htm, application/json-seq", HTML) == 0);
	ck_assert(http_accept_quality("text/htmlx, text/htm, application/json-seq", JSON) == 0);
	ck_assert(http_accept_quality("application/*", HTML) == 0);
	ck_assert(http_accept_quality("application/*;q=0.4", JSON) == 0.4);
}
END_TEST

START_TEST(case_blanks_and_parameters)
{
	ck_assert(http_accept_quality("  Text/HTML ;charset=utf-8 ; Q=0.5 ,application/json;q=0.25", HTML) == 0.5);
	ck_assert(http_accept_quality("  Text/HTML ;charset=utf-8 ; Q=0.5 ,application/json;q=0.25", JSON) == 0.25);
	ck_assert(http_accept_quality("text/html\t;\tq=0.9\t", HTML) == 0.9);
	ck_assert(http_accept_quality("text/html;q=1.000", HTML) == 1);
}
END_TEST

START_TEST(malformed_weights_count_for_nothing)
{
	const char *bad[] = {"text/html;q=",     "text/html;q=x",    "text/html;q=1.5", "text/html;q=-0.1",
			     "text/html;q= 0.5", "text/html;q=0.5x", "text/html;q=nan", "text/html;q=inf"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(http_accept_quality(bad[i], HTML) == 0, "%s", bad[i]);
		/* the other ranges still count */
		char *with = NULL;
		ck_assert_int_gt(asprintf(&with, "%s, */*;q=0.1", bad[i]), 0);
		ck_assert_msg(http_accept_quality(with, HTML) == 0.1, "%s", with);
		free(with);
	}
}
END_TEST

static Suite *accept_suite(void)
{
	Suite *s = suite_create("http_accept");
	TCase *tc = tcase_create("accept");
	tcase_add_test(tc, no_preference_takes_anything);
	tcase_add_test(tc, most_specific_range_wins);
	tcase_add_test(tc, case_blanks_and_parameters);
	tcase_add_test(tc, malformed_weights_count_for_nothing);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(accept_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

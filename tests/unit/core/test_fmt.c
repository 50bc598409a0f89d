/* Unit tests of core_fmt_double (libs/core/src/fmt.c): the shortest text that reads
 * back as the same double, in printf's spelling and in JSON's (jansson's) spelling. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"

static const char *fmt(double v, unsigned flags)
{
	static char out[CORE_FMT_DOUBLE_MAX];
	size_t n = core_fmt_double(v, flags, out);
	ck_assert_uint_eq(n, strlen(out));
	return out;
}

START_TEST(shortest_text_of_known_values)
{
	static const struct {
		double v;
		const char *plain, *json;
	} cases[] = {
		{0.93, "0.93", "0.93"},
		{0.1, "0.1", "0.1"},
		{0.1 + 0.2, "0.30000000000000004", "0.30000000000000004"},
		{1e300, "1e+300", "1e300"},
		{5e-324, "5e-324", "5e-324"},
		{2.2250738585072014e-308, "2.2250738585072014e-308", "2.2250738585072014e-308"},
		{DBL_MAX, "1.7976931348623157e+308", "1.7976931348623157e308"},
		{123456789012345678.0, "1.2345678901234568e+17", "1.2345678901234568e17"},
		{1e-7, "1e-07", "1e-7"},
		{3.0, "3", "3.0"},
		{-2.5, "-2.5", "-2.5"},
		{0.0, "0", "0.0"},
		{-0.0, "-0", "-0.0"},
		{0.161353, "0.161353", "0.161353"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ck_assert_str_eq(fmt(cases[i].v, 0), cases[i].plain);
		ck_assert_str_eq(fmt(cases[i].v, CORE_FMT_JSON_REAL), cases[i].json);
	}
	ck_assert(signbit(strtod(fmt(-0.0, CORE_FMT_JSON_REAL), NULL)));
}
END_TEST

START_TEST(non_finite_values_as_printf_writes_them)
{
	ck_assert_str_eq(fmt(NAN, CORE_FMT_JSON_REAL), "nan");
	ck_assert_str_eq(fmt(INFINITY, 0), "inf");
	ck_assert_str_eq(fmt(-INFINITY, CORE_FMT_JSON_REAL), "-inf");
}
END_TEST

/* Every text reads back as its double, and no shorter %g text would. */
START_TEST(random_doubles_round_trip_at_their_shortest)
{
	uint64_t x = 0x9E3779B97F4A7C15u;
	for (int i = 0; i < 50000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
		double v;
		memcpy(&v, &x, sizeof v);
		if (!isfinite(v))
			continue;
		char s[CORE_FMT_DOUBLE_MAX];
		core_fmt_double(v, CORE_FMT_JSON_REAL, s);
		if (strtod(s, NULL) != v) /* plain ifs: check's asserts are slow in a hot loop */
			ck_abort_msg("%s does not read back", s);
		char shorter[400], mant[CORE_FMT_DOUBLE_MAX];
		int digits = 0, n = 0;
		for (const char *p = s; *p && *p != 'e'; p++) /* the mantissa's digits */
			if (*p >= '0' && *p <= '9' && (n > 0 || *p != '0'))
				mant[n++] = *p;
		while (n > 0 && mant[n - 1] == '0') /* significant: no leading or trailing zeros */
			n--;
		digits = n;
		if (digits > 1) {
			snprintf(shorter, sizeof shorter, "%.*g", digits - 1, v);
			if (strtod(shorter, NULL) == v)
				ck_abort_msg("%s is shorter than %s", shorter, s);
		}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("core_fmt");
	TCase *tc = tcase_create("fmt");
	tcase_add_test(tc, shortest_text_of_known_values);
	tcase_add_test(tc, non_finite_values_as_printf_writes_them);
	tcase_add_test(tc, random_doubles_round_trip_at_their_shortest);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

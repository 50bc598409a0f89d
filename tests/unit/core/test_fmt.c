/* Unit tests of core_fmt_double (libs/core/src/fmt.c): the shortest text that reads
 * back as the same double, in printf's spelling and in JSON's (jansson's) spelling; and
 * of core_strtod (parse_double.c): strtod's result and end, bit for bit. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
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

/* The fast path (digits in long double and 128-bit integers) against the definition it
 * replaces, printf's %.15g, %.16g, %.17g until strtod reads one back: the same text for
 * doubles of every magnitude it takes (1e-20..1e20), means of pixel values (k / 784),
 * values a hair either side of powers of ten and of two (where log10 is one off and the
 * rounding interval is lopsided), and exact ties at the 15th and 16th digit (which both
 * must round to even). */
static uint64_t xs64(uint64_t *x)
{
	*x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
	return *x;
}

static void same_as_printf(double v)
{
	char want[CORE_FMT_DOUBLE_MAX], got[CORE_FMT_DOUBLE_MAX];
	for (int digits = 15;; digits++) {
		snprintf(want, sizeof want, "%.*g", digits, v);
		if (digits >= 17 || strtod(want, NULL) == v)
			break;
	}
	core_fmt_double(v, 0, got);
	if (strcmp(want, got) != 0) /* plain if: check's asserts are slow in a hot loop */
		ck_abort_msg("%.17g: printf's search gives %s, core_fmt_double %s", v, want, got);
}

START_TEST(fast_digits_equal_printf)
{
	uint64_t x = 0x2545F4914F6CDD1Du;
	for (int i = 0; i < 100000; i++) {
		double m = 1.0 + (double)(xs64(&x) >> 12) / 4503599627370496.0; /* [1, 2), 52 random bits */
		same_as_printf(ldexp(m, (int)(xs64(&x) % 140) - 70));
		double mean = (double)(xs64(&x) % 200000) / 784.0;
		same_as_printf(mean);
		same_as_printf(-mean);
		double big = (double)(1000000000000000u + xs64(&x) % 8000000000000000u); /* 16 digits */
		same_as_printf(big + 0.5);                                               /* a tie at the 16th digit */
		same_as_printf(big * 10 + 5);                                            /* and at the 15th */
		same_as_printf((big + 0.5) / 1e6);
	}
	for (int e = -20; e <= 20; e++)
		for (int side = 0; side < 2; side++) {
			double t = pow(10, e), b = ldexp(1.0, e * 3);
			for (int k = 0; k < 4; k++) {
				same_as_printf(t);
				same_as_printf(b);
				t = nextafter(t, side ? INFINITY : 0);
				b = nextafter(b, side ? INFINITY : 0);
			}
		}
	for (long i = 1; i < 20000; i++) {
		same_as_printf((double)i * 0.1);
		same_as_printf(1.0 / (double)i);
		same_as_printf((double)i * 1e-5);
	}
}
END_TEST

/* core_strtod against strtod: the same bits and the same end. */
static void same_as_strtod(const char *text)
{
	char *e1 = NULL, *e2 = NULL;
	double a = core_strtod(text, &e1), b = strtod(text, &e2);
	ck_assert_msg(memcmp(&a, &b, sizeof a) == 0 && e1 == e2,
		      "'%s': core_strtod %.17g (end %td), strtod %.17g (end %td)", text, a, e1 - text, b, e2 - text);
}

START_TEST(strtod_on_known_texts)
{
	static const char *const texts[] = {
		"0",
		"-0",
		"+0",
		"0.0",
		"-0.0",
		"1",
		"-1",
		"42",
		"0.5",
		".5",
		"5.",
		"-.5",
		"+.5",
		"0.1",
		"0.2",
		"0.3",
		"3.14159",
		"1e10",
		"1E10",
		"1e-7",
		"1.5e+3",
		"-2.5E-3",
		"123456789012345",
		"1234567890123456789",
		"12345678901234567890",
		"9007199254740992",
		"9007199254740993",
		"0.000001",
		"1e22",
		"1e23",
		"1e-22",
		"1e-23",
		"4.9e-324",
		"1.7976931348623157e308",
		"1e309",
		"1e-400",
		"0x10",
		"0X1p3",
		"-0x1",
		"inf",
		"-inf",
		"nan",
		"infinity",
		" 1",
		"\t2",
		"",
		"-",
		"+",
		".",
		"e5",
		"1e",
		"1e+",
		"1e-",
		"1.2.3",
		"1..2",
		"00012",
		"0.000e5",
		"1,5",
		"7abc",
		"0.12345678901234567890",
		"255",
		"0.2980392156862745",
		"100000000000000000000000",
		"0.1e1000",
		"1e0000000000000000000000005",
	};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
		same_as_strtod(texts[i]);
}
END_TEST

START_TEST(strtod_on_random_texts)
{
	/* numbers as printf writes them (the events' and CSV files' numbers), and
	 * random digit strings with points, signs and exponents of every size */
	uint64_t x = 88172645463325252ull;
	char text[96];
	for (int i = 0; i < 400000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		double v;
		memcpy(&v, &x, sizeof v);
		switch (i % 4) {
		case 0:
			snprintf(text, sizeof text, "%.*f", (int)(x >> 60) % 10, (double)(int64_t)(x >> 20) / 1e6);
			break;
		case 1:
			snprintf(text, sizeof text, "%.*g", 1 + (int)(x >> 59) % 17, isfinite(v) ? v : 1.0);
			break;
		case 2: {
			size_t n = 0;
			uint64_t y = x;
			if (y & 1)
				text[n++] = (y & 2) ? '-' : '+';
			int nd = 1 + (int)((y >> 2) % 24), pt = (int)((y >> 7) % 26);
			for (int d = 0; d < nd; d++) {
				if (d == pt)
					text[n++] = '.';
				y = y * 6364136223846793005ull + 1442695040888963407ull;
				text[n++] = (char)('0' + (y >> 60) % 10);
			}
			if ((y >> 40) & 1)
				n += (size_t)snprintf(text + n, sizeof text - n, "e%d", (int)((y >> 41) % 64) - 32);
			text[n] = '\0';
			break;
		}
		default:
			snprintf(text, sizeof text, "%.17g", isfinite(v) ? v : 0.0);
			break;
		}
		same_as_strtod(text);
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
	tcase_add_test(tc, fast_digits_equal_printf);
	tcase_add_test(tc, strtod_on_known_texts);
	tcase_add_test(tc, strtod_on_random_texts);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
